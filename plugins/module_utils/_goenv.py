# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Go on a host as a user meets it: every installation, the settings, and what is wrong.

`discover()` gathers, without changing anything:
  - the user's login environment (PATH in order, GO* variables), or this process's environment;
    variable names that are not [A-Za-z_][A-Za-z0-9_]* (or values with a NUL) are dropped;
  - every Go installation on that PATH and in the usual places (the collection's install root and
    active link, /usr/local/go, /usr/lib/go-*, ~/sdk/go*, Go's toolchain module cache, Homebrew,
    snap), each with version (GOROOT/VERSION), GOROOT, binary architecture (read from the file by
    _binary.inspect, never by running it) and native/emulated;
  - the user's go env file and $GOROOT/go.env: the settings as configured, read before any probe;
  - `go env -json` of the winning go only (one `go env` call), run with GOTOOLCHAIN=local so that
    probing never downloads a toolchain;
  - the project's go.mod (`go` and `toolchain` lines) when a project directory is given.
`evaluate()` turns that into findings, each with a stable code, a severity, a message and a fix.

Another user than the one this runs as (root): nothing from that user's environment runs as root.
Their login shell, `go env -json` and every read of a file their environment names (the go env
file, GOROOT/VERSION and go.env of their installations, go.mod) run *as that user*, through
module_utils/_runas (uid, gid and groups dropped, explicit environment, deadline, output cap; files
non-blocking, regular only, size-capped). The go env file goes to `go env` as a private copy of the
bytes read, so what is reported is what was read. Only the `go` binaries' headers are read here, by
_binary, from a descriptor opened non-blocking on a regular file.

Standard library only: this runs on managed nodes with Python 3.8 to 3.13.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
import stat
import tempfile

from ansible_collections.gofleet.golang.plugins.module_utils import _platform, _runas, _versions
from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError
from ansible_collections.gofleet.golang.plugins.module_utils._layout import (
    DEFAULT_ACTIVE_LINK, DEFAULT_INSTALL_ROOT, VERSION_DIR,
)

try:
    from ansible_collections.gofleet.golang.plugins.module_utils import _binary
except ImportError:  # pragma: no cover - the reader ships with this collection
    _binary = None

# go_install's defaults (plugins/modules/go_install.py): versions under /opt/go, active link.

SEVERITIES = ("info", "warning", "error")
SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3}

# (source name, glob patterns of GOROOTs; ~ is the evaluated user's home)
USUAL_PLACES = (
    ("distribution", ("/usr/lib/go", "/usr/lib/go-*", "/usr/lib/golang")),
    ("sdk", ("~/sdk/go*",)),
    ("homebrew", ("/opt/homebrew/opt/go/libexec", "/usr/local/opt/go/libexec",
                  "/home/linuxbrew/.linuxbrew/opt/go/libexec")),
    ("snap", ("/snap/go/current",)),
)

# the settings this module reads as configured (environment > env file > $GOROOT/go.env)
SETTINGS = ("GOROOT", "GOPATH", "GOBIN", "GOOS", "GOARCH", "GOTOOLCHAIN", "GOPROXY", "GOPRIVATE",
            "GONOPROXY", "GONOSUMDB", "GOINSECURE", "GOSUMDB", "GOFLAGS", "GOMODCACHE", "CGO_ENABLED",
            "CC", "GOENV", "GO111MODULE", "GOCACHE")

_MARK = "@@gofleet-env@@"
# no quote inside: the command line is one shlex-quoted word in any shell (sh, bash, zsh, fish, csh)
_DUMP = 'import json,os;print("%s"+json.dumps(dict(os.environ)))' % _MARK

DEFAULT_TIMEOUT = _runas.DEFAULT_TIMEOUT  # seconds per probe: login shell, go env, each file read
ENV_FILE_LIMIT = 1 << 20  # bytes: a go env file, $GOROOT/go.env
VERSION_LIMIT = 64 << 10  # GOROOT/VERSION
GO_MOD_LIMIT = 16 << 20
DUMP_LIMIT = 8 << 20  # what a login shell may print (profile output and the environment)
GO_ENV_LIMIT = 4 << 20  # what go env -json may print


# ---- versions: module_utils/_versions is the one parser ----------------------------------------
def version_key(version):
    """Sort key of a Go version ('1.27.3', 'go1.20', '1.27rc1'); None when it is not one."""
    try:
        return _versions.version_key(version)
    except _versions.VersionError:
        return None


def bare_version(version):
    """go.dev's spelling without 'go' ('go1.27.3' -> '1.27.3', 'go1.20' -> '1.20'), else None."""
    try:
        return _versions.canonical(version)
    except _versions.VersionError:
        return None


# ---- the user and their environment -----------------------------------------------------
def user_info(user=None):
    """(name, uid, home, shell) of `user` (default: whoever runs this process); KeyError if unknown."""
    try:
        acct = _runas.account(user)
    except _runas.RunAsError:
        raise KeyError(user)
    return acct.name, acct.uid, acct.home, acct.shell


def clean_environment(env):
    """(the environment `env` with only variables a program can be given, the names dropped):
    names must match [A-Za-z_][A-Za-z0-9_]* (a name like `-i` or `--split-string` would be an
    option to env(1)), names and values text without NUL."""
    if not isinstance(env, dict):
        return None, []
    return _runas.clean_env(env)


def login_environment(python, user=None, timeout=DEFAULT_TIMEOUT, environ=None):
    """(environment, why it failed, names dropped) of a login shell of `user`; the environment is
    None when there is none.

    The running user: their login shell ($SHELL, else the passwd shell) started from this process's
    environment (`environ`). Another user: their passwd shell as a login shell, *as that user*
    (module_utils/_runas: uid, gid and groups dropped), in their home, from the environment login(1)
    gives (HOME, USER, LOGNAME, SHELL, PATH). Either way the shell runs `python` to print its
    environment as JSON, so no value with a newline is misread; the run has a deadline and an
    output cap, and what it prints is only parsed, never run.
    """
    try:
        acct = _runas.account(user)
    except _runas.RunAsError as exc:
        return None, str(exc), []
    if _runas.is_self(acct):
        base = dict(os.environ if environ is None else environ)
        shell = base.get("SHELL") or acct.shell or "/bin/sh"
        base, dummy = _runas.clean_env(base)
        cwd = None
    else:
        base = fallback_environment(user)
        shell = acct.shell or "/bin/sh"
        cwd = acct.home if acct.home and os.path.isdir(acct.home) else "/"
    try:
        python = _runas.python_for(acct, python, timeout)
    except _runas.RunAsError as exc:
        return None, str(exc), []
    # argv[0] "-sh": a login shell, as login(1) and su - start it (tcsh takes no -l beside -c)
    argv = ["-" + os.path.basename(shell), "-c", "%s -I -S -c %s" % (shlex.quote(python), shlex.quote(_DUMP))]
    try:
        rc, out, err = _runas.run(argv, acct, env=base, cwd=cwd, timeout=timeout, limit=DUMP_LIMIT,
                                  executable=shell)
    except _runas.RunAsError as exc:
        return None, "login shell %s: %s" % (shell, exc), []
    if rc == 0 and _MARK in out:
        try:
            env = json.loads(out.split(_MARK, 1)[1].splitlines()[0])
        except (ValueError, IndexError):
            env = None
        env, dropped = clean_environment(env)
        if env is not None:
            return env, None, dropped
    return None, "%s -l (as %s) -> rc %s: %s" % (shell, acct.name, rc, (err or out).strip()[:300]), []


def fallback_environment(user=None):
    """What a user with no usable login shell gets: HOME, USER, LOGNAME, SHELL and a default PATH."""
    name, dummy, home, shell = user_info(user)
    return {"HOME": home, "USER": name, "LOGNAME": name, "SHELL": shell or "/bin/sh",
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def env_file_path(env, system="Linux"):
    """Where `go env -w` writes for this environment ($GOENV, else os.UserConfigDir()/go/env)."""
    if env.get("GOENV"):
        return None if env["GOENV"] == "off" else env["GOENV"]
    home = env.get("HOME")
    if system == "Darwin":
        return os.path.join(home, "Library", "Application Support", "go", "env") if home else None
    base = env.get("XDG_CONFIG_HOME")
    if not base or not os.path.isabs(base):
        base = os.path.join(home, ".config") if home else None
    return os.path.join(base, "go", "env") if base else None


def local_reader(path, limit):
    """Read `path` in this process: non-blocking, regular files only, at most `limit` bytes."""
    return _runas.read_file(path, None, limit)


def read_text(path, limit, reader=None):
    """(text, None) of the file at `path`, or (None, _runas.ReadError); `reader(path, limit)`
    returns its bytes (default: this process reads it)."""
    try:
        data = (reader or local_reader)(path, limit)
        return data.decode("utf-8"), None
    except _runas.ReadError as exc:
        return None, exc
    except UnicodeDecodeError:
        return None, _runas.ReadError(path, "unreadable", "not UTF-8 text")


def parse_env_file(text):
    """KEY=VALUE lines of a go env file's text (as cmd/go reads them)."""
    values = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip()
        if re.match(r"^[A-Za-z0-9_]+$", key):
            values[key] = value.strip()
    return values


def read_env_file(path, reader=None):
    """KEY=VALUE lines of a go env file (as cmd/go reads them); {} when absent or unusable."""
    if not path:
        return {}
    text, dummy = read_text(path, ENV_FILE_LIMIT, reader)
    return parse_env_file(text)


def configured_settings(env, env_file, goroot_env):
    """{NAME: {value, source}} for SETTINGS as configured: environment, env file, $GOROOT/go.env.

    Empty environment values count as set only for names cmd/go treats that way; like cmd/go, a
    variable set (even empty) in the environment wins over the files.
    """
    out = {}
    for name in SETTINGS:
        if name in env and env[name] != "":
            out[name] = {"value": env[name], "source": "environment"}
        elif name in env_file:
            out[name] = {"value": env_file[name], "source": "env_file"}
        elif name in goroot_env:
            out[name] = {"value": goroot_env[name], "source": "goroot_go_env"}
    return out


def process_emulation(host, cpuinfo="/proc/cpuinfo"):
    """'rosetta' when this process is translated, 'qemu-user' when the CPU Linux reports is of
    another family than `uname -m` (a whole qemu-user container: uname says aarch64, the CPU is
    an Intel), else None."""
    if host.get("translated"):
        return "rosetta"
    if host.get("system") != "Linux":
        return None
    try:
        with open(cpuinfo) as f:
            text = f.read(1 << 16)
    except OSError:
        return None
    kernel = host.get("kernel_goarch")
    if re.search(r"^vendor_id\s*:\s*(GenuineIntel|AuthenticAMD|HygonGenuine)", text, re.M) and kernel not in ("amd64", "386"):
        return "qemu-user"
    if re.search(r"^CPU implementer\s*:", text, re.M) and kernel not in ("arm64", "arm"):
        return "qemu-user"
    return None


# ---- installations -------------------------------------------------------------------------
def _is_exe(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def goroot_of(go_path):
    """(real go binary, GOROOT) for a `go` found somewhere (links followed; snap's wrapper too)."""
    real = os.path.realpath(go_path)
    if os.path.basename(real) == "snap" and go_path.startswith("/snap/bin/"):
        real = "/snap/go/current/bin/go"
    root = os.path.dirname(os.path.dirname(real))
    for marker in ("VERSION", os.path.join("pkg", "tool"), os.path.join("src", "runtime")):
        if os.path.exists(os.path.join(root, marker)):
            return real, root
    return real, None


def read_version(goroot, reader=None):
    """'1.27.3' from GOROOT/VERSION (first line), else None."""
    if not goroot:
        return None
    text, dummy = read_text(os.path.join(goroot, "VERSION"), VERSION_LIMIT, reader)
    lines = (text or "").splitlines()
    return bare_version(lines[0].strip()) if lines else None


def binary_facts(path):
    """goos/goarch/go version of a binary from its headers and build info, without running it."""
    if _binary is None:
        return {"error": "the binary reader (module_utils/_binary) is missing"}
    # A `go` on a user's PATH is theirs: swapped for a named pipe after a check, open() would
    # block. Open it non-blocking, make sure it is a regular file, and let _binary read that very
    # file through /dev/fd (a reopen of the descriptor, not of the name).
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a device is not even opened
            return {"error": "%s: not a regular file" % path}
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except (OSError, ValueError) as exc:
        return {"error": "%s: %s" % (path, getattr(exc, "strerror", None) or exc)}
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return {"error": "%s: not a regular file" % path}
        by_fd = "/dev/fd/%d" % fd
        try:
            info = _binary.inspect(by_fd if os.path.exists(by_fd) else path)
        except Exception as exc:  # pylint: disable=broad-except  # any unreadable file is a fact
            return {"error": "%s: %s" % (path, str(exc).replace(by_fd, path))}
    finally:
        os.close(fd)
    if not isinstance(info, dict):
        info = getattr(info, "__dict__", {}) or {}
    build = info.get("build_info") or info.get("buildinfo") or {}
    version = info.get("go_version") or (build.get("go_version") if isinstance(build, dict) else None)
    out = {"goos": info.get("goos"), "goarch": info.get("goarch"), "go_version": version}
    if info.get("error"):
        out["error"] = info["error"]
    return out


# the native rule has one home, _platform (go_binary_arch and go_toolchain_rebuild use it too)
is_native = _platform.is_native


def foreign_tool_dirs(goroot, goos, goarch):
    """pkg/tool/<os>_<arch> folders of a GOROOT that are not its own os_arch."""
    if not goroot or not goos or not goarch:
        return []
    try:
        names = os.listdir(os.path.join(goroot, "pkg", "tool"))
    except OSError:
        return []
    own = "%s_%s" % (goos, goarch)
    return sorted(n for n in names if re.match(r"^[a-z0-9]+_[a-z0-9]+$", n) and n != own)


def usual_places(home, install_root, active_link, gomodcache, places=USUAL_PLACES):
    """[(source, goroot)] of every GOROOT candidate outside PATH that exists."""
    found = []
    if install_root and os.path.isdir(install_root):
        for name in sorted(os.listdir(install_root)):
            if VERSION_DIR.match(name):
                found.append(("install_root", os.path.join(install_root, name)))
    if active_link:
        found.append(("active_link", active_link))
    if DEFAULT_ACTIVE_LINK != active_link:
        found.append(("usr_local_go", DEFAULT_ACTIVE_LINK))
    for source, patterns in places:
        for pattern in patterns:
            if pattern.startswith("~"):
                if not home:
                    continue
                pattern = home + pattern[1:]
            found.extend((source, p) for p in sorted(glob.glob(pattern)))
    if gomodcache:
        found.extend(("toolchain_cache", p)
                     for p in sorted(glob.glob(os.path.join(gomodcache, "golang.org", "toolchain@*"))))
    return [(s, p) for s, p in found if _is_exe(os.path.join(p, "bin", "go"))]


def path_gos(path_value):
    """[(index, dir, go path)] of each PATH entry holding an executable `go`, in PATH order."""
    out = []
    for i, d in enumerate((path_value or "").split(os.pathsep)):
        if d and _is_exe(os.path.join(d, "go")):
            out.append((i, d, os.path.join(d, "go")))
    return out


def installations(host, path_value, home, install_root, active_link, gomodcache, go=None,
                  configured_goroot=None, places=USUAL_PLACES, reader=None):
    """Every Go installation, one entry per real GOROOT, PATH order first; and the winner's index.
    `reader` reads each GOROOT/VERSION (default: this process; discover() reads as the user)."""
    by_key = {}
    ordered = []

    def add(go_path, source, path_index=None):
        real, root = goroot_of(go_path)
        key = root or real
        if key not in by_key:
            entry = {"go": go_path, "real_go": real, "goroot": root, "sources": [], "path_index": None,
                     "found_as": [], "wins": False}
            by_key[key] = entry
            ordered.append(entry)
        entry = by_key[key]
        if source not in entry["sources"]:
            entry["sources"].append(source)
        if go_path not in entry["found_as"]:
            entry["found_as"].append(go_path)
        if path_index is not None and entry["path_index"] is None:
            entry["path_index"] = path_index
        return entry

    winner = None
    if go:
        winner = add(go, "option")
    for index, dummy, go_path in path_gos(path_value):
        entry = add(go_path, "PATH", index)
        if winner is None:
            winner = entry
    if configured_goroot and _is_exe(os.path.join(configured_goroot, "bin", "go")):
        add(os.path.join(configured_goroot, "bin", "go"), "GOROOT")
    for source, root in usual_places(home, install_root, active_link, gomodcache, places):
        add(os.path.join(root, "bin", "go"), source)
    for entry in ordered:
        entry["version"] = read_version(entry["goroot"], reader)
        facts = binary_facts(entry["real_go"]) if os.path.exists(entry["real_go"]) else {
            "error": "%s does not exist" % entry["real_go"]}
        entry["goos"] = facts.get("goos")
        entry["goarch"] = facts.get("goarch")
        if facts.get("error"):
            entry["binary_error"] = facts["error"]
        if not entry["version"] and bare_version(facts.get("go_version")):
            entry["version"] = bare_version(facts["go_version"])
        entry["native"] = is_native(entry["goarch"], host, entry["goos"])
        entry["foreign_tool_dirs"] = foreign_tool_dirs(entry["goroot"], entry["goos"], entry["goarch"])
    if winner is not None:
        winner["wins"] = True
    return ordered, winner


# ---- probing and go.mod --------------------------------------------------------------------
def user_dirs(env, system="Linux"):
    """(config dir, cache dir) as Go's os.UserConfigDir/os.UserCacheDir see them for `env`."""
    home = env.get("HOME") or "/"
    if system == "Darwin":
        return os.path.join(home, "Library", "Application Support"), os.path.join(home, "Library", "Caches")
    config = env.get("XDG_CONFIG_HOME")
    cache = env.get("XDG_CACHE_HOME")
    return (config if config and os.path.isabs(config) else os.path.join(home, ".config"),
            cache if cache and os.path.isabs(cache) else os.path.join(home, ".cache"))


def probe_go_env(run, go, env, scratch, env_file=None, system="Linux", file_values=None, goenv=None):
    """(go env -json as a dict, error) of `go` as the user of `env` sees it, changing nothing.

    `run(argv, env)` -> (rc, out, err) runs argv with exactly the environment `env` (discover()
    runs it as the evaluated user, through _runas). `go env` itself writes: it creates the build
    cache (GOCACHE) and telemetry counters under the user's config folder. The probe points both
    into `scratch` (GOCACHE, XDG_CONFIG_HOME), gives go the env file through GOENV (`goenv`: the
    path go reads, default `env_file`; discover() passes a private copy of the bytes it read, or
    "off"), sets GOTOOLCHAIN=local (never downloads), and reports GOCACHE, GOTELEMETRYDIR and
    GOENV with the user's own values. `file_values`: the env file's settings, when already read.
    """
    config, cache = user_dirs(env, system)
    if file_values is None:
        file_values = read_env_file(env_file) if env_file else {}
    gocache = env.get("GOCACHE") or file_values.get("GOCACHE") or os.path.join(cache, "go-build")
    probe = dict(env, GOTOOLCHAIN="local", GOCACHE=os.path.join(scratch, "cache"),
                 XDG_CONFIG_HOME=os.path.join(scratch, "config"), GOENV=goenv or env_file or "off")
    try:
        rc, out, err = run([go, "env", "-json"], probe)
    except _runas.RunAsError as exc:
        return None, str(exc)
    if rc != 0:
        return None, "%s env -json -> rc %s: %s" % (go, rc, (err or out).strip()[:500])
    try:
        values = json.loads(out)
    except ValueError:
        return None, "%s env -json printed no JSON: %s" % (go, out.strip()[:300])
    if not isinstance(values, dict):
        return None, "%s env -json printed no JSON object: %s" % (go, out.strip()[:300])
    values["GOCACHE"] = gocache
    if "GOTELEMETRYDIR" in values:
        values["GOTELEMETRYDIR"] = os.path.join(config, "go", "telemetry")
    if "GOENV" in values:
        values["GOENV"] = env_file or env.get("GOENV", "off")
    return values, None


def read_go_mod(project, reader=None):
    """{'path', 'exists', 'go', 'toolchain', 'needs', 'error'} of <project>/go.mod (or of project
    itself if it names a go.mod); `needs` is the Go it asks for (_versions.parse_gomod: the
    toolchain line when newer than the go line; `go 1.21` means at least go1.21.0)."""
    path = project if os.path.basename(project) == "go.mod" else os.path.join(project, "go.mod")
    info = {"path": path, "exists": False, "go": None, "toolchain": None, "needs": None, "error": None}
    text, exc = read_text(path, GO_MOD_LIMIT, reader)
    if text is None:
        info["error"] = str(exc)
        return info
    info["exists"] = True
    for line in text.splitlines():
        words = line.split("//", 1)[0].split()
        if len(words) == 2 and words[0] in ("go", "toolchain"):
            info[words[0]] = words[1]
    try:
        info["needs"] = bare_version(_versions.parse_gomod(text, name=path))
    except _versions.VersionError as exc:
        info["error"] = str(exc)
    return info


def toolchain_mode(value):
    """'auto', 'path', 'local' or 'fixed' for a GOTOOLCHAIN value (unset means auto)."""
    value = (value or "auto").strip()
    if value in ("auto", "path", "local"):
        return value
    if value.endswith("+auto"):
        return "auto"
    if value.endswith("+path"):
        return "path"
    return "fixed"


def which(name, path_value):
    """Full path of `name` on `path_value` (or `name` itself when it is a path), else None."""
    if not name:
        return None
    if os.sep in name:
        return name if _is_exe(name) else None
    for d in (path_value or "").split(os.pathsep):
        if d and _is_exe(os.path.join(d, name)):
            return os.path.join(d, name)
    return None


def _on_path(folder, path_value):
    want = os.path.realpath(folder)
    return any(d and os.path.realpath(d) == want for d in (path_value or "").split(os.pathsep))


# ---- the whole picture -----------------------------------------------------------------------
def discover(run, python, user=None, login=True, go=None, project=None, install_root=DEFAULT_INSTALL_ROOT,
             active_link=DEFAULT_ACTIVE_LINK, environ=None, host=None, places=USUAL_PLACES, scratch_parent=None,
             timeout=DEFAULT_TIMEOUT):
    """Gather everything go_env_facts reports. `run(argv) -> (rc, out, err)` runs this process's own
    probes (platform detection); `python` runs the environment dump inside a login shell (for
    another user, the first Python that user can run). `environ` replaces this process's
    environment (tests); `host` replaces platform detection (tests of other machines);
    `scratch_parent` is where the probe's throw-away folder goes for the running user (a module
    passes module.tmpdir; another user's goes in the system temp folder, owned by them);
    `timeout`: seconds each probe may take (the login shell, go env, each file read).

    Raises GofleetError for an unknown user, or another user without root."""
    acct = _runas.account(user)
    other = not _runas.is_self(acct)
    if other and os.geteuid() != 0:
        raise GofleetError("user=%s: evaluating another user than the one the module runs as needs root "
                           "(become: true): every probe runs as %s, and only root can switch to them"
                           % (acct.name, acct.name))
    host = dict(host or _platform.detect(run=run))
    host.setdefault("emulated_by", process_emulation(host))
    name, uid, home = acct.name, acct.uid, acct.home
    py = python

    def reader(path, limit):
        return _runas.read_file(path, acct, limit, timeout=timeout, python=py)

    env, how, why, dropped = None, "process", None, []
    if login:
        env, why, dropped = login_environment(python, user, timeout=timeout, environ=environ)
        how = "login shell"
    if env is None and not other:
        env, dropped = clean_environment(dict(os.environ if environ is None else environ))
        how = "process (login shell failed)" if login else "process"
    elif env is None:
        env, how = fallback_environment(user), "fallback"
    if other or not env.get("HOME"):
        env.setdefault("HOME", home)
    home = env.get("HOME") or home
    file_path = env_file_path(env, host.get("system", "Linux"))
    file_data, file_error = None, None
    if file_path:
        try:
            file_data = reader(file_path, ENV_FILE_LIMIT)
        except _runas.ReadError as exc:
            file_error = exc
    try:
        file_values = parse_env_file(file_data.decode("utf-8")) if file_data is not None else {}
    except UnicodeDecodeError:
        file_data, file_values = None, {}
        file_error = _runas.ReadError(file_path, "unreadable", "not UTF-8 text")

    path_value = env.get("PATH", "")
    pre = configured_settings(env, file_values, {})
    gopath = (pre.get("GOPATH", {}).get("value") or os.path.join(home, "go")).split(os.pathsep)[0]
    gomodcache = pre.get("GOMODCACHE", {}).get("value") or os.path.join(gopath, "pkg", "mod")
    configured_goroot = pre.get("GOROOT", {}).get("value")
    found, winner = installations(host, path_value, home, install_root, active_link, gomodcache, go=go,
                                  configured_goroot=configured_goroot, places=places, reader=reader)
    goroot_env = {}
    if winner and winner.get("goroot"):
        goroot_env = read_env_file(os.path.join(winner["goroot"], "go.env"), reader)
    settings = configured_settings(env, file_values, goroot_env)

    go_env, probe_error = None, None
    if winner is not None:
        scratch = _make_scratch(acct, scratch_parent)
        try:
            goenv = _private_copy(scratch, "env", file_data, acct) if file_data is not None else "off"
            if other:
                os.lchown(scratch, acct.uid, acct.gid)  # theirs only now: nothing of root's is left inside

            def probe_run(argv, probe_env):
                return _runas.run(argv, acct, env=probe_env, cwd=scratch, timeout=timeout, limit=GO_ENV_LIMIT)
            go_env, probe_error = probe_go_env(probe_run, winner["go"], env, scratch, file_path,
                                               host.get("system", "Linux"), file_values, goenv)
        finally:
            _remove_scratch(scratch, acct, timeout)
    facts = {
        "host": host,
        "user": {"name": name, "home": home, "environment": how, "login_error": why},
        "ignored_variables": [n if len(n) <= 60 else n[:60] + "..." for n in dropped[:20]],
        "path": [d for d in path_value.split(os.pathsep) if d],
        "env_file": {"path": file_path, "exists": file_data is not None, "values": file_values,
                     "error": str(file_error) if file_error is not None and file_error.reason != "absent" else None},
        "settings": settings,
        "installations": found,
        "go": winner,
        "go_env": go_env,
        "go_env_error": probe_error,
        "project": read_go_mod(project, reader) if project else None,
    }
    facts["findings"] = evaluate(facts)
    facts["summary"] = summarize(facts["findings"])
    return facts


def _make_scratch(acct, parent):
    """A fresh folder for the probe's writes. Another user's is made by root (0700) in the system
    temp folder, so that it can be handed to them once root has written what it needs."""
    if _runas.is_self(acct):
        return tempfile.mkdtemp(prefix="gofleet-goenv-", dir=parent)
    for base in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        try:
            mode = os.stat(base).st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode) and mode & stat.S_IXOTH:  # the user must be able to reach it
            return tempfile.mkdtemp(prefix="gofleet-goenv-", dir=base)
    return tempfile.mkdtemp(prefix="gofleet-goenv-")


def _private_copy(scratch, name, data, acct):
    """Write `data` to scratch/name (created, never followed or reused), the user's, 0600."""
    path = os.path.join(scratch, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.write(fd, data)
        if not _runas.is_self(acct):
            os.fchown(fd, acct.uid, acct.gid)
    finally:
        os.close(fd)
    return path


def _remove_scratch(path, acct, timeout):
    """Remove the probe's folder: another user's as that user (it is theirs), then, if anything is
    left, by root only where rmtree cannot be led through a link the user planted."""
    if not _runas.is_self(acct):
        try:
            _runas.run(["rm", "-rf", "--", path], acct, env=_runas.minimal_env(acct), cwd="/", timeout=timeout)
        except _runas.RunAsError:
            pass
        if not os.path.lexists(path) or not getattr(shutil.rmtree, "avoids_symlink_attacks", False):
            return
    shutil.rmtree(path, ignore_errors=True)


def summarize(findings):
    worst = max((f["severity"] for f in findings), key=SEVERITY_RANK.get, default=None)
    counts = dict((s, sum(1 for f in findings if f["severity"] == s)) for s in SEVERITIES)
    return {"highest_severity": worst, "counts": counts, "codes": sorted(set(f["code"] for f in findings))}


def exceeds(findings, fail_on):
    """The findings at or above `fail_on` ('never' -> none)."""
    if fail_on not in SEVERITY_RANK:
        return []
    return [f for f in findings if SEVERITY_RANK[f["severity"]] >= SEVERITY_RANK[fail_on]]


# ---- findings --------------------------------------------------------------------------------
# code -> (severity, meaning); docs/go_env_facts.md shows the same table with the fixes.
CODES = {
    "NO_GO": ("error", "no Go installation was found, on PATH or in the usual places"),
    "GO_NOT_ON_PATH": ("warning", "Go is installed but no `go` is on the user's PATH"),
    "GO_NOT_RUNNABLE": ("error", "the winning `go` cannot run (`go env` failed)"),
    "MULTIPLE_GO_ON_PATH": ("warning", "several `go` of different versions on PATH; later ones are shadowed"),
    "GOROOT_MISMATCH": ("error", "GOROOT points elsewhere than the installation of the `go` in use"),
    "EMULATED_TOOLCHAIN": ("warning", "the `go` in use is of a foreign architecture and runs emulated"),
    "WRONG_OS_TOOLCHAIN": ("error", "the `go` in use is built for another operating system"),
    "FOREIGN_ARCH_INSTALLATION": ("info", "an installation not in use is of a foreign architecture"),
    "GOOS_GOARCH_PERSISTED": ("warning", "GOOS/GOARCH set in the go env file or the login environment"),
    "GOBIN_NOT_ON_PATH": ("warning", "where `go install` puts programs is not on PATH"),
    "CGO_WITHOUT_CC": ("warning", "CGO_ENABLED=1 but the C compiler (CC) is not found"),
    "FOREIGN_PKG_TOOL": ("warning", "a GOROOT holds pkg/tool/<os>_<arch> of another platform"),
    "TOOLCHAIN_AUTO_DOWNLOAD": ("warning", "GOTOOLCHAIN=auto and go.mod needs a newer Go: the go command downloads one"),
    "GO_MOD_NEEDS_NEWER_GO": ("error", "go.mod needs a newer Go than the `go` in use and GOTOOLCHAIN forbids switching"),
    "GO_MOD_UNREADABLE": ("warning", "the project's go.mod is missing or names no valid Go version"),
    "GOPROXY_OFF": ("warning", "GOPROXY=off: no module can be downloaded"),
    "GOPRIVATE_UNSET": ("warning", "GONOSUMDB/GOINSECURE set without GOPRIVATE: private modules still go to the proxy"),
    "ENV_FILE_UNUSABLE": ("warning", "the go env file is not a regular file the user can read (a pipe, a device, "
                                     "unreadable, too large)"),
}


def _finding(code, message, fix, **details):
    severity = details.pop("severity", None) or CODES[code][0]
    return dict({"code": code, "severity": severity, "message": message, "fix": fix}, **details)


def _where(setting):
    return {"environment": "the login environment", "env_file": "the go env file",
            "goroot_go_env": "$GOROOT/go.env"}.get(setting.get("source"), setting.get("source"))


def evaluate(facts):
    """Findings for the facts discover() gathered (pure: unit tests feed it dicts)."""
    out = []
    found = facts.get("installations") or []
    go = facts.get("go")
    go_env = facts.get("go_env") or {}
    settings = facts.get("settings") or {}
    path_value = os.pathsep.join(facts.get("path") or [])
    host = facts.get("host") or {}
    env_file = (facts.get("env_file") or {}).get("path") or "~/.config/go/env"

    if not found:
        out.append(_finding("NO_GO", "no Go installation: no `go` on PATH (%s) nor in the usual places"
                            % (path_value or "empty"),
                            "install Go (gofleet.golang.go_install) and put its bin/ on PATH"))
        return out
    if go is None:
        roots = ", ".join(e["goroot"] or e["go"] for e in found)
        out.append(_finding("GO_NOT_ON_PATH", "Go is installed (%s) but no `go` is on PATH" % roots,
                            "add <GOROOT>/bin of the Go to use to PATH (e.g. in /etc/profile.d), or link it "
                            "as /usr/local/go", installations=[e["goroot"] for e in found]))
    on_path = sorted((e for e in found if e["path_index"] is not None), key=lambda e: e["path_index"])
    if go is not None and facts.get("go_env_error"):
        out.append(_finding("GO_NOT_RUNNABLE", "the go in use (%s) does not run: %s" % (go["go"], facts["go_env_error"]),
                            "replace it with the official Go for this host (%s/%s)" % (host.get("goos"), host.get("goarch")),
                            go=go["go"]))

    # several go on PATH
    if len(set(e.get("version") for e in on_path)) > 1 and go is not None:
        shadowed = [e for e in on_path if e is not go]
        out.append(_finding(
            "MULTIPLE_GO_ON_PATH",
            "%d Go installations on PATH: %s wins; shadowed: %s" % (
                len(on_path), _label(go), ", ".join(_label(e) for e in shadowed)),
            "remove the shadowed ones from PATH (or uninstall them) so that only %s is found"
            % (go.get("goroot") or go["go"]),
            winner=go["go"], shadowed=[e["go"] for e in shadowed]))

    if go is not None:
        own = go.get("goroot")
        configured = settings.get("GOROOT")
        used = go_env.get("GOROOT") or (configured or {}).get("value")
        if own and used and os.path.realpath(used) != os.path.realpath(own):
            src = _where(configured) if configured else "the go command"
            out.append(_finding(
                "GOROOT_MISMATCH",
                "GOROOT is %s (set in %s) but the go in use, %s (go%s), lives in %s: its tools and standard "
                "library come from another installation" % (used, src, go["go"], go.get("version"), own),
                "unset GOROOT (go finds its own root) in %s, or point PATH at %s/bin" % (src, used),
                goroot=used, go_root=own))
        if go.get("native") is False and go.get("goos") != host.get("goos"):
            out.append(_finding(
                "WRONG_OS_TOOLCHAIN",
                "the go in use (%s) is a %s/%s binary: it cannot run on this %s host" % (
                    go["go"], go.get("goos"), go.get("goarch"), host.get("goos")),
                "install the official Go for %s/%s (gofleet.golang.go_install)" % (host.get("goos"), host.get("goarch")),
                go=go["go"], goos=go.get("goos")))
        elif go.get("native") is False:
            out.append(_finding(
                "EMULATED_TOOLCHAIN",
                "the go in use (%s) is %s/%s but this host runs %s: it runs emulated (qemu/Rosetta), slowly, "
                "and builds %s binaries by default" % (
                    go["go"], go.get("goos"), go.get("goarch"), host.get("kernel_goarch"), go.get("goarch")),
                "install the official Go for %s/%s (gofleet.golang.go_install) and rebuild tools "
                "(gofleet.golang.go_toolchain_rebuild)" % (host.get("goos"), host.get("goarch")),
                go=go["go"], goarch=go.get("goarch")))
    for e in found:
        if e is not go and e.get("native") is False:
            out.append(_finding(
                "FOREIGN_ARCH_INSTALLATION", "%s is a %s/%s Go on a %s host (not in use)" % (
                    e.get("goroot") or e["go"], e.get("goos"), e.get("goarch"), host.get("kernel_goarch")),
                "remove it, or replace it with the %s build" % host.get("goarch"), goroot=e.get("goroot")))
        if e.get("foreign_tool_dirs"):
            out.append(_finding(
                "FOREIGN_PKG_TOOL",
                "%s (a %s/%s Go) holds pkg/tool/%s: another platform's archive was unpacked over it" % (
                    e.get("goroot"), e.get("goos"), e.get("goarch"), ", pkg/tool/".join(e["foreign_tool_dirs"])),
                "reinstall that Go into an empty folder (gofleet.golang.go_install)", goroot=e.get("goroot"),
                tool_dirs=e["foreign_tool_dirs"]))

    for name in ("GOOS", "GOARCH"):
        s = settings.get(name)
        if s and s["source"] in ("environment", "env_file"):
            fix = ("go env -u %s (removes it from %s)" % (name, env_file) if s["source"] == "env_file"
                   else "remove the export of %s from the shell profile; set it per build instead" % name)
            out.append(_finding(
                "GOOS_GOARCH_PERSISTED",
                "%s=%s is set in %s: every build on this host cross-compiles" % (name, s["value"], _where(s)),
                fix, variable=name, value=s["value"], source=s["source"]))

    if go_env:
        gobin = go_env.get("GOBIN") or ""
        gopath = (go_env.get("GOPATH") or "").split(os.pathsep)[0]
        target = gobin or (os.path.join(gopath, "bin") if gopath else "")
        if target and not _on_path(target, path_value):
            programs = _count_entries(target)
            has_tools = bool(programs)
            out.append(_finding(
                "GOBIN_NOT_ON_PATH",
                "`go install` puts programs in %s, which is not on PATH%s" % (
                    target, " (it holds %d programs that are not found by name)" % programs
                    if has_tools else ""),
                "add %s to PATH in the login profile" % target,
                severity="warning" if has_tools else "info", gobin=target))
        if go_env.get("CGO_ENABLED") == "1":
            cc = (go_env.get("CC") or "gcc").split()[0]
            if not which(cc, path_value):
                s = settings.get("CGO_ENABLED")
                out.append(_finding(
                    "CGO_WITHOUT_CC",
                    "CGO_ENABLED=1%s but the C compiler %r is not found: every cgo build fails" % (
                        " (set in %s)" % _where(s) if s else "", cc),
                    "install a C compiler (gcc) or set CGO_ENABLED=0 (go env -w CGO_ENABLED=0)", cc=cc))

    project = facts.get("project")
    if project and project.get("error"):
        out.append(_finding("GO_MOD_UNREADABLE", "project go.mod: %s" % project["error"],
                            "give the directory that holds the project's go.mod, or fix its go/toolchain line",
                            go_mod=project["path"]))
    if go is not None and project and project.get("needs") and go.get("version"):
        needs, have = project["needs"], go["version"]
        if version_key(needs) and version_key(have) and version_key(needs) > version_key(have):
            s = settings.get("GOTOOLCHAIN") or {"value": "auto", "source": "default"}
            mode = toolchain_mode(s["value"])
            line = "go %s" % project["go"] if project.get("go") and bare_version(project["go"]) == needs \
                else "toolchain %s" % project.get("toolchain")
            if mode in ("auto", "path"):
                out.append(_finding(
                    "TOOLCHAIN_AUTO_DOWNLOAD",
                    "%s says `%s` but the go in use is go%s and GOTOOLCHAIN=%s (%s): every go command there "
                    "%s another Go" % (project["path"], line, have, s["value"], _where(s),
                                       "downloads" if mode == "auto" else "looks on PATH for"),
                    "install go%s on the host (gofleet.golang.go_install) or lower the go.mod line; set "
                    "GOTOOLCHAIN=local to forbid downloads" % needs,
                    go_mod=project["path"], needs=needs, have=have))
            else:
                out.append(_finding(
                    "GO_MOD_NEEDS_NEWER_GO",
                    "%s says `%s` but the go in use is go%s and GOTOOLCHAIN=%s: go commands there fail" % (
                        project["path"], line, have, s["value"]),
                    "install go%s (gofleet.golang.go_install)" % needs, go_mod=project["path"], needs=needs,
                    have=have))

    env_file_facts = facts.get("env_file") or {}
    if env_file_facts.get("error"):
        out.append(_finding(
            "ENV_FILE_UNUSABLE",
            "the go env file cannot be used: %s. %s" % (env_file_facts["error"], _env_file_effect(env_file_facts["error"])),
            "make GOENV (or the default place, ~/.config/go/env) a regular file this user can read, or unset "
            "GOENV in the login profile", env_file=env_file_facts.get("path")))

    proxy = settings.get("GOPROXY")
    if proxy and proxy["value"].strip() == "off":
        out.append(_finding("GOPROXY_OFF", "GOPROXY=off (set in %s): module downloads fail" % _where(proxy),
                            "set GOPROXY to a module proxy (e.g. an internal mirror, or the default "
                            "https://proxy.golang.org,direct)", source=proxy["source"]))
    private = settings.get("GOPRIVATE")
    loose = [n for n in ("GONOSUMDB", "GOINSECURE") if settings.get(n) and settings[n]["value"]]
    if loose and not (private and private["value"]):
        out.append(_finding(
            "GOPRIVATE_UNSET",
            "%s set without GOPRIVATE: those modules skip the checksum database but are still fetched "
            "through the public GOPROXY, which leaks their paths" % " and ".join(loose),
            "set GOPRIVATE to the same patterns (it implies GONOPROXY and GONOSUMDB)", variables=loose))
    return out


def _env_file_effect(error):
    if "not a regular file" in error:
        return "This user's go commands block on it or fail"
    if "larger than" in error:
        return "Its settings are not shown here (go itself reads it)"
    return "This user's go commands ignore it: its settings are not in effect"


def _count_entries(folder):
    """Entries in `folder`, 0 when it is not a folder this process can list."""
    try:
        return len(os.listdir(folder)) if os.path.isdir(folder) else 0
    except (OSError, ValueError):
        return 0


def _label(entry):
    return "%s (go%s)" % (entry["go"], entry.get("version") or "?")
