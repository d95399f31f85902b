# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Native toolchains and tools again after an architecture or Go version change.

Three steps, each idempotent, each read-only in check mode:

  clean    pkg/tool/<os>_<arch> folders of a GOROOT that are not its own host platform (the one
           its bin/go is built for) and not listed to keep are removed. No build cache is
           cleaned: Go keys the cache by GOOS/GOARCH and toolchain ID (decisions.md).
  goroot   when bin/go, bin/gofmt or pkg/tool/<host> is not native (or the requested build
           environment differs from the one the tree was built with), the tree is copied into a
           staging folder next to it (make.bash builds in the tree holding src/), built there with
           src/make.bash and a bootstrap Go, verified (every binary native, `go version`, a small
           build), committed next to the old tree as <root>/go<version>-rebuilt.<time> and
           activated through module_utils/_layout (its lock, commit and atomic link switch: this
           module writes no second swap). The old tree stays, for rollback. A failure at any
           point leaves the old tree active and removes the staging folder.
  tools    each Go program in GOBIN / GOPATH/bin (or given paths) built by another Go than the
           toolchain's, or for a foreign architecture, is reinstalled with
           `go install <path>@<version>` from its build info, with its recorded flags
           (-ldflags, -tags, -trimpath, -gcflags, -asmflags, -buildmode, CGO_ENABLED, GOAMD64 and
           the other architecture levels, GOEXPERIMENT), GOTOOLCHAIN=local, into a temporary GOBIN
           beside it; the result is verified (built by the toolchain, native, same module and
           version) and renamed over the old file.

Standard library only: this runs on managed nodes with Python 3.8 to 3.13.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError
from ansible_collections.gofleet.golang.plugins.module_utils import _binary, _goenv, _layout, _platform, _tree, _versions

# what make.bash needs as GOROOT_BOOTSTRAP when its `bootgo=` line cannot be read (go.dev/doc/install/source)
BOOTSTRAP_MINIMUM = ((26, "1.24.6"), (24, "1.22.6"), (22, "1.20.6"), (20, "1.17.13"))
# build_env names the module decides itself or that no longer mean anything
REFUSED_ENV = {
    "GOOS": "the toolchain is built for this host's own OS; cross toolchains are not this module's job",
    "GOARCH": "the toolchain is built for this host's real architecture (that is the point of the rebuild)",
    "GOHOSTOS": "set from the host", "GOHOSTARCH": "set from the host (its real architecture, even under Rosetta)",
    "GOROOT": "the tree being built decides it", "GOROOT_BOOTSTRAP": "use the bootstrap_goroot option",
    "GOROOT_FINAL": "GOROOT_FINAL has no effect since Go 1.23 (the go command finds its GOROOT from its own path)",
}
# build settings that select an architecture level: kept only when the architecture stays the same
ARCH_LEVELS = ("GOAMD64", "GOARM", "GOARM64", "GO386", "GOMIPS", "GOMIPS64", "GOPPC64", "GORISCV64", "GOWASM")
# ---- what of a program's recorded build settings is replayed in root's `go install` ---------------
# A program's build info is written by whoever built it (and can be forged: its owner can write any
# bytes into the file), so every recorded setting is untrusted input. Only the settings below are
# passed on, and only when every token of their value is on the safe list: `-toolexec`, `-extld`,
# `-extldflags`, `-linkmode` paths, compiler profile or output files, `-pgo` files, CGO_CFLAGS like
# `-fplugin=x.so` or `-wrapper`, `@file` option files... run code or write files as root. The rest
# is not used and is reported in the tool's `refused_settings`.
KEPT_FLAGS = ("-ldflags", "-tags", "-gcflags", "-asmflags")  # in this order on the command line
# (ldflags is recorded only without -trimpath: go.dev/issue/52372)
KEPT_BOOL_FLAGS = ("-trimpath", "-race", "-msan", "-asan", "-cover")
KEPT_BUILDMODES = ("pie", "default")  # "exe" is the default and needs no flag
CGO_SETTINGS = ("CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_LDFLAGS")
# recorded but not build options to replay: the platform (set from the host), version control
# stamps, the GODEBUG default (from go.mod), the compiler when it is the default one
INFORMATIONAL = ("GOOS", "GOARCH", "DefaultGODEBUG")
SAFE_TOKENS = {
    "-ldflags": re.compile(r"^--?([sw](=(true|false|1|0))?|linkmode=(internal|external|auto))$"),
    "-gcflags": re.compile(r"^--?([NlBmC]|m=[0-9]|l=[0-9]|dwarf(=(true|false))?|spectre=[a-z,]+)$"),
    "-asmflags": re.compile(r"^--?(D[A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_.]*)?|spectre=[a-z,]+)$"),
    # C compiler and linker flags: a subset of what cmd/go/internal/work/security.go allows in #cgo
    # lines (no -W?,... pass-through, no -f other than code generation switches, no @file)
    "CGO_CFLAGS": re.compile(r"^(-D[A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_.]*)?|-U[A-Za-z_][A-Za-z0-9_]*|-O[0-3sgz]?|"
                             r"-g[0-3]?|-W[A-Za-z0-9=-]+|-std=[A-Za-z0-9+]+|-pthread|-m(32|64)|"
                             r"-m(arch|tune|cpu)=[A-Za-z0-9_.+-]+|-I/[A-Za-z0-9_./+-]*|"
                             r"-f(no-)?(PIC|pic|PIE|pie|omit-frame-pointer|stack-protector(-strong|-all)?|"
                             r"strict-aliasing|common|exceptions|signed-char|unsigned-char))$"),
    "CGO_LDFLAGS": re.compile(r"^(-l[A-Za-z0-9_.+-]+|-L/[A-Za-z0-9_./+-]*|-pthread)$"),
}
SAFE_TOKENS["CGO_CPPFLAGS"] = SAFE_TOKENS["CGO_CXXFLAGS"] = SAFE_TOKENS["CGO_CFLAGS"]
SAFE_VALUES = {
    "-tags": re.compile(r"^[A-Za-z0-9_.,]*$"),
    "GOEXPERIMENT": re.compile(r"^[A-Za-z0-9_,]*$"),
    "CGO_ENABLED": re.compile(r"^[01]$"),
    "arch_level": re.compile(r"^[A-Za-z0-9_.,]+$"),
}
# -X importpath.name=value of -ldflags: sets a string variable, whatever the value
X_DEFINITION = re.compile(r"^(?!-)[A-Za-z0-9_~+./-]*[A-Za-z0-9_]\.[A-Za-z0-9_]+=", re.S)
# asm -D as two tokens: -D NAME[=value]
D_DEFINITION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_.]*)?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NEEDS_NEWER = re.compile(r"requires go >= ?(\S+?)[\s;)]")
HELLO = 'package main\n\nfunc main() { println("gofleet-rebuild-ok") }\n'


class RebuildError(GofleetError):
    """A step cannot be done; the message says what was wrong and what to do."""


# ---- small pure helpers (unit-tested) ------------------------------------------------------------
def minimum_bootstrap(goroot, version=None):
    """The oldest Go that can bootstrap the tree: make.bash's `bootgo=` line, else the documented table."""
    try:
        with open(os.path.join(goroot, "src", "make.bash")) as f:
            for line in f:
                m = re.match(r"^bootgo=(\d+\.\d+(\.\d+)?)\s*$", line)
                if m:
                    return m.group(1)
    except OSError:
        pass
    try:
        minor = _versions.parse_version(version).minor if version else None
    except _versions.VersionError:
        minor = None
    for at_least, needed in BOOTSTRAP_MINIMUM:
        if minor is not None and minor >= at_least:
            return needed
    return "1.4"


def version_of_go_output(text):
    """'go version go1.27.3 X:foo linux/amd64' -> ('1.27.3', 'linux', 'amd64'); None if not that shape."""
    m = re.match(r"^go version go(\S+)(?: .*)? (\w+)/(\w+)\s*$", (text or "").strip().splitlines()[0] if text else "")
    if not m:
        return None
    return m.group(1), m.group(2), m.group(3)


def needs_newer_go(stderr):
    """The Go version a module requires, from `go install`'s GOTOOLCHAIN=local refusal, else None."""
    m = NEEDS_NEWER.search(stderr or "")
    return m.group(1) if m else None


def build_summary(info):
    """The part of _binary.inspect() that says who built a program and how (returned to the user)."""
    if info is None:
        return None
    bi = info.get("build_info") or {}
    main = bi.get("main") or {}
    settings = bi.get("settings") or {}
    return {
        "go_version": info.get("go_version"),
        "goos": info.get("goos"),
        "goarch": info.get("goarch"),
        "path": bi.get("path"),
        "module": main.get("path"),
        "version": main.get("version"),
        "settings": dict(settings),
    }


def split_quoted(value):
    """A flag value split as the go command splits -ldflags, -gcflags and CGO_*FLAGS (cmd/internal/quoted):
    on spaces, with '...' or "..." around a field and no escapes. ValueError on an unterminated quote."""
    fields = []
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] in " \t\n\r":
            i += 1
        if i >= n:
            break
        if value[i] in "'\"":
            end = value.find(value[i], i + 1)
            if end < 0:
                raise ValueError("unterminated %s string" % value[i])
            fields.append(value[i + 1:end])
            i = end + 1
            continue
        start = i
        while i < n and value[i] not in " \t\n\r":
            i += 1
        fields.append(value[start:i])
    return fields


def unsafe_token(setting, value):
    """The first token of a recorded flag value that is not on the safe list (None: all are safe)."""
    if "\x00" in value:
        return value
    if setting in ("-gcflags", "-asmflags") and value and not value.startswith("-"):
        pattern, eq, value = value.partition("=")  # [pattern=]flags, as cmd/go's per-package flags
        if not eq or not pattern or any(c.isspace() for c in pattern):
            return pattern
    try:
        tokens = split_quoted(value)
    except ValueError as e:
        return str(e)
    safe = SAFE_TOKENS[setting]
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if setting == "-ldflags" and token in ("-X", "--X"):
            if i + 1 >= len(tokens) or not X_DEFINITION.match(tokens[i + 1]):
                return " ".join(tokens[i:i + 2])
            i += 2
            continue
        if setting == "-ldflags" and token.startswith(("-X=", "--X=")):
            if not X_DEFINITION.match(token.split("=", 1)[1]):
                return token
            i += 1
            continue
        if setting == "-asmflags" and token in ("-D", "--D"):
            if i + 1 >= len(tokens) or not D_DEFINITION.match(tokens[i + 1]):
                return " ".join(tokens[i:i + 2])
            i += 2
            continue
        if not safe.match(token):
            return token
        i += 1
    return None


def replayable(settings, same_arch):
    """(flags, env, refused) of a program's recorded build settings: what is passed again to `go install`
    and what is not (each refused one as {setting, value, reason}). See SAFE_TOKENS."""
    flags, env, refused = [], {}, []

    def refuse(key, why):
        refused.append({"setting": key, "value": str(settings[key])[:300], "reason": why})

    def not_safe(key, token):
        refuse(key, "%r is not on the list of flags replayed as root (a flag that can run a program or write a file "
                    "would run with root's rights)" % token[:100])

    for flag in KEPT_FLAGS:
        value = settings.get(flag)
        if not value:
            continue
        if flag == "-tags":
            bad = None if SAFE_VALUES["-tags"].match(value) else value
        else:
            bad = unsafe_token(flag, value)
        if bad is None:
            flags.append("%s=%s" % (flag, value))
        else:
            not_safe(flag, bad)
    for flag in KEPT_BOOL_FLAGS:
        value = settings.get(flag)
        if value == "true":
            flags.append(flag)
        elif value not in (None, "", "false"):
            refuse(flag, "a boolean flag recorded as %r" % value[:50])
    mode = settings.get("-buildmode")
    if mode in KEPT_BUILDMODES:
        flags.append("-buildmode=%s" % mode)
    elif mode not in (None, "", "exe"):
        refuse("-buildmode", "only -buildmode=exe, pie and default are replayed (a program, not a library)")
    cgo = settings.get("CGO_ENABLED")
    if cgo is not None:
        if SAFE_VALUES["CGO_ENABLED"].match(cgo):
            env["CGO_ENABLED"] = cgo
        else:
            refuse("CGO_ENABLED", "not 0 or 1")
    for key in CGO_SETTINGS:
        value = settings.get(key)
        if not value or cgo != "1":
            continue
        bad = unsafe_token(key, value)
        if bad is None:
            env[key] = value
        else:
            not_safe(key, bad)
    if "GOEXPERIMENT" in settings:
        if SAFE_VALUES["GOEXPERIMENT"].match(settings["GOEXPERIMENT"]):
            env["GOEXPERIMENT"] = settings["GOEXPERIMENT"]
        else:
            refuse("GOEXPERIMENT", "not a comma-separated list of experiment names")
    for key in ARCH_LEVELS:
        if key in settings and same_arch:  # an architecture level means nothing for another architecture
            if SAFE_VALUES["arch_level"].match(settings[key]):
                env[key] = settings[key]
            else:
                refuse(key, "not an architecture level")
    handled = set(KEPT_FLAGS + KEPT_BOOL_FLAGS + CGO_SETTINGS + ARCH_LEVELS + INFORMATIONAL) | {
        "-buildmode", "CGO_ENABLED", "GOEXPERIMENT"}
    for key in sorted(settings):
        if key in handled or key == "vcs" or key.startswith("vcs.") or (key == "-compiler" and settings[key] == "gc"):
            continue
        refuse(key, "not replayed: only a list of known-safe build settings is passed to `go install` as root")
    return flags, env, refused


def install_command(go, info, goos, goarch, ldflags=None):
    """(argv, env, notes, refused) of the `go install path@version` that rebuilds a program like `info`.

    Replays the recorded -ldflags, -tags, -gcflags, -asmflags, -trimpath (and -race & co),
    -buildmode, CGO_ENABLED with its CGO_* flags, GOEXPERIMENT, and the architecture level
    (GOAMD64...) when the architecture stays - each only when its whole value is on the safe list
    (replayable()); `refused` lists the settings left out. `ldflags` (given by the user of the
    module, trusted) wins over the recorded value (a program built with -trimpath has none
    recorded). Raises RebuildError when there is nothing to install from.
    """
    bi = info.get("build_info") or {}
    main = bi.get("main") or {}
    if not bi.get("path") or not main.get("version"):
        raise RebuildError("no module information in its build info (built in GOPATH mode, or not with "
                           "`go install`/`go build` of a module): not rebuildable")
    if main["version"] == "(devel)":
        raise RebuildError("built from a local checkout (version (devel)): not rebuildable from a module "
                           "proxy; rebuild it from its source")
    if main.get("replace"):
        raise RebuildError("its main module was replaced (%s): `go install path@version` cannot reproduce it"
                           % main["replace"].get("path"))
    target = "%s@%s" % (bi["path"], main["version"])
    if target.startswith("-") or any(c.isspace() or c == "\x00" for c in target):
        raise RebuildError("its recorded package path and version %r are not a module path: not rebuildable" % target[:200])
    s = dict(bi.get("settings") or {})
    if ldflags is not None:
        s.pop("-ldflags", None)
    flags, env, refused = replayable(s, info.get("goarch") == goarch)
    argv = [go, "install"]
    if ldflags is not None and ldflags != "":
        argv.append("-ldflags=%s" % ldflags)
    argv.extend(flags)
    notes = []
    if s.get("-trimpath") == "true" and ldflags is None:
        notes.append("built with -trimpath, so any -ldflags it had are not recorded (go.dev/issue/52372); "
                     "give them in tool_ldflags to keep them")
    if refused:
        notes.append("not replayed (not on the safe list; see refused_settings): %s"
                     % ", ".join(r["setting"] for r in refused))
    argv.append(target)
    env.update(GOTOOLCHAIN="local", GOOS=goos, GOARCH=goarch)
    return argv, env, notes, refused


# ---- trees that may run as root ------------------------------------------------------------------
def trusted_uids():
    """The owners whose files this process may run: root and the user the module runs as."""
    return {0, os.geteuid()}


def _owner_name(uid):
    try:
        return "%d (%s)" % (uid, pwd.getpwuid(uid).pw_name)
    except KeyError:
        return str(uid)


def _entry_problem(path, st, above):
    """Why one file or folder lets someone else change what runs; `above`: a folder above the tree,
    where a sticky world-writable folder owned by root (/tmp) is fine: nobody else can rename or
    remove the root-owned entry in it that leads to the tree."""
    if st.st_uid not in trusted_uids():
        return "%s is owned by uid %s" % (path, _owner_name(st.st_uid))
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o022:
        return None
    if above and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX:
        return None
    who = "others" if st.st_mode & 0o002 else "its group"
    return "%s is writable by %s (mode %04o)" % (path, who, st.st_mode & 0o7777)


def _ancestors_problem(real):
    """The first folder from / down to the parent of `real` (a resolved path) that another user can change."""
    for folder in reversed(list(_layout.folders_up(os.path.dirname(real)))):
        problem = _entry_problem(folder, os.lstat(folder), above=True)
        if problem:
            return problem
    return None


def _link_problem(link, inside, todo):
    """Why the target of a link in a tree is not trusted; a folder outside the trees walked so far is
    appended to `todo` (walked the same way)."""
    target = os.path.realpath(link)
    if any(target == w or target.startswith(w + os.sep) for w in inside):
        return None
    problem = _ancestors_problem(target)
    if not problem and os.path.isdir(target):
        todo.append(target)
    elif not problem and os.path.lexists(target):
        problem = _entry_problem(target, os.lstat(target), above=False)
    return "%s (through the link %s)" % (problem, link) if problem else None


def untrusted(goroot, deep=True):
    """Why the Go tree at `goroot` must not run as this process's user (root), else None.

    Trusted: the tree and every folder above it owned by root (or the module's user) and writable by
    nobody else (a sticky /tmp above it is fine). `deep=False` looks at what `go version` runs (the
    tree's top, bin/ and bin/go); `deep=True` at every file of the tree (make.bash and `go install`
    run its compiler, linker and standard library sources), and through every symbolic link at its
    target and the folders above that. Nothing of the tree is run to find out.
    """
    try:
        real = os.path.realpath(goroot)
        problem = _ancestors_problem(real)
        if problem:
            return problem
        if not deep:
            for rel in ("", "bin"):
                path = os.path.join(real, rel) if rel else real
                problem = _entry_problem(path, os.lstat(path), above=False)
                if problem:
                    return problem
            go = os.path.join(real, "bin", "go")
            target = os.path.realpath(go)
            if target != go:
                problem = _ancestors_problem(target)
                if problem:
                    return problem
            return _entry_problem(target, os.lstat(target), above=False)
        todo, walked = [real], []
        while todo:
            top = todo.pop()
            walked.append(top)
            problem = _entry_problem(top, os.lstat(top), above=False)
            folders = [top]
            while folders and not problem:
                with os.scandir(folders.pop()) as entries:
                    for entry in entries:
                        st = entry.stat(follow_symlinks=False)
                        problem = _entry_problem(entry.path, st, above=False)
                        if problem:
                            break
                        if stat.S_ISDIR(st.st_mode):
                            folders.append(entry.path)
                        elif stat.S_ISLNK(st.st_mode):
                            problem = _link_problem(entry.path, walked + todo, todo)
                            if problem:
                                break
            if problem:
                return problem
        return None
    except OSError as e:
        return "cannot check %s: %s" % (goroot, e.strerror or e)


def copy_ignore(goroot, keep_dirs):
    """shutil.copytree ignore function for the build copy: no bin/, no pkg/tool/* but kept ones, no pkg/obj."""
    goroot = os.path.abspath(goroot)

    def ignore(folder, names):
        rel = os.path.relpath(folder, goroot)
        if rel == ".":
            return [n for n in names if n == "bin"]
        if rel == "pkg":
            return [n for n in names if n == "obj"]
        if rel == os.path.join("pkg", "tool"):
            return [n for n in names if n not in keep_dirs]
        return []
    return ignore


# ---- the work ---------------------------------------------------------------------------------------
class Rebuilder:
    """One run of go_toolchain_rebuild. `module` is the AnsibleModule; params as in the module docs."""

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.check = module.check_mode
        self.host = _platform.detect(run=self._run)
        if not self.host.get("goarch"):
            raise RebuildError("cannot tell the Go architecture of this node (uname -m says %r)"
                               % self.host.get("kernel_machine"))
        self.own = "%s_%s" % (self.host["goos"], self.host["goarch"])
        self.actions = []
        self.result = dict(changed=False, host=self.host, actions=self.actions, removed_tool_dirs=[], tools=[],
                           goroot=None)
        self.layout = None

    def _run(self, argv, env=None):
        update = dict(LANG="C", LC_ALL="C")
        update.update(env or {})
        return self.module.run_command(argv, environ_update=update, handle_exceptions=False)

    def _changed(self, action):
        self.actions.append(action)
        self.result["changed"] = True

    # ---- the GOROOT -----------------------------------------------------------------------
    def goroot_state(self, path):
        """What the tree at `path` (link followed) is: version, its bin/go's platform, problems."""
        real = os.path.realpath(path)
        if not os.path.isfile(os.path.join(real, "bin", "go")):
            raise RebuildError("goroot %s has no bin/go: expected a Go installation (GOROOT)" % path)
        state = {"path": path, "realpath": real, "version": _goenv.read_version(real), "goos": None,
                 "goarch": None, "go_version": None, "problems": [], "build_settings": {}}
        try:
            info = _binary.inspect(os.path.join(real, "bin", "go"))
            state.update(goos=info["goos"], goarch=info["goarch"], go_version=info.get("go_version"),
                         build_settings=dict(((info.get("build_info") or {}).get("settings") or {})))
        except _binary.BinaryError as e:
            state["problems"].append("bin/go is unreadable: %s" % e)
            return state
        host = (self.host["goos"], self.host["goarch"])
        for rel in ("bin/go", "bin/gofmt"):
            exe = os.path.join(real, rel)
            if not os.path.exists(exe):
                state["problems"].append("%s is missing" % rel)
                continue
            plat = _platform_of(exe)
            if plat != host:
                state["problems"].append("%s is built for %s, this host is %s/%s" % (rel, _fmt(plat), host[0], host[1]))
        tools = os.path.join(real, "pkg", "tool", self.own)
        if not os.path.isdir(tools):
            state["problems"].append("pkg/tool/%s is missing" % self.own)
        else:
            for name in sorted(os.listdir(tools)):
                exe = os.path.join(tools, name)
                if os.path.isfile(exe) and _platform_of(exe) not in (host, None):
                    state["problems"].append("pkg/tool/%s/%s is built for %s" % (self.own, name, _fmt(_platform_of(exe))))
        return state

    def env_mismatch(self, state, layout):
        """Why the tree was not built with build_env (None when it was, or no build_env is asked)."""
        want = self.p["build_env"] or {}
        name = os.path.basename(state["realpath"])
        record = layout.metadata(name[2:]) if name.startswith("go") else None
        if record and "build_env" in record:
            if record["build_env"] != want:
                return "built with %s, build_env asks %s" % (_env_text(record["build_env"]), _env_text(want))
            return None
        recorded = state["build_settings"]
        for key, value in sorted(want.items()):
            if recorded.get(key) != value:
                return "bin/go records %s=%s, build_env asks %s=%s" % (key, recorded.get(key, "(unset)"), key, value)
        return None

    def clean(self, state):
        """Remove foreign pkg/tool dirs of the tree (its own platform = its bin/go's)."""
        if not self.p["clean_tool_dirs"] or not state["goos"]:
            return
        keep = set(self.p["keep_tool_dirs"] or [])
        tool_root = os.path.join(state["realpath"], "pkg", "tool")
        if os.path.isdir(tool_root) and not self.check:
            for name in os.listdir(tool_root):  # leftovers of a run killed while removing
                if name.startswith(".gofleet-trash-"):
                    shutil.rmtree(os.path.join(tool_root, name), ignore_errors=True)
        for name in _goenv.foreign_tool_dirs(state["realpath"], state["goos"], state["goarch"]):
            if name in keep:
                continue
            path = os.path.join(tool_root, name)
            if not self.check:
                _move_away_and_remove(tool_root, name)
            self.result["removed_tool_dirs"].append(path)
            self._changed({"action": "remove_tool_dir", "path": path,
                           "before": {"exists": True, "goos_goarch": name}, "after": {"exists": False}})

    def link_of(self, goroot):
        """The symbolic link whose switch activates a rebuilt tree."""
        link = self.p["active_link"] or goroot
        if not os.path.islink(link):
            raise RebuildError(
                "%s is a directory, not a symbolic link: a rebuilt GOROOT is swapped in by switching a link "
                "atomically, and the old tree is kept for rollback. Install Go with gofleet.golang.go_install "
                "(a link into its install_root), or move the directory (e.g. to %s-%s) and make %s a link to "
                "it, or give active_link=" % (link, link, self._version_guess(goroot) or "old", link))
        if os.path.realpath(link) != os.path.realpath(goroot):
            raise RebuildError("active_link %s points at %s, not at goroot %s" % (
                link, os.path.realpath(link), os.path.realpath(goroot)))
        return link

    @staticmethod
    def _version_guess(goroot):
        return _goenv.read_version(os.path.realpath(goroot))

    def goroot(self):
        """Clean, and rebuild when needed. Returns the GOROOT the tools are rebuilt with."""
        goroot = self.p["goroot"]
        if not os.path.exists(goroot):
            raise RebuildError("goroot %s does not exist: give the GOROOT (or the link to it) to rebuild" % goroot)
        state = self.goroot_state(goroot)
        root = os.path.dirname(state["realpath"])
        self.layout = _layout.Layout(root, self.p["active_link"] or goroot)
        mode = self.p["rebuild_goroot"]
        reason = None
        if mode == "always":
            reason = "rebuild_goroot=always"
        elif mode == "auto":
            reason = "; ".join(state["problems"]) or self.env_mismatch(state, self.layout)
        summary = {k: state[k] for k in ("path", "realpath", "version", "go_version", "goos", "goarch")}
        self.result["goroot"] = dict(summary, problems=state["problems"], rebuilt=False, reason=reason,
                                     previous=None, bootstrap=None, bootstrap_skipped=[], active=state["realpath"])
        if not reason:
            self.clean(state)
            return state["realpath"]
        link = self.link_of(goroot)
        problem = untrusted(state["realpath"])
        if problem:
            raise RebuildError("goroot %s cannot be rebuilt: %s. make.bash would run code of that tree with this "
                               "module's rights (%s); give a tree owned by root and writable only by root (as "
                               "gofleet.golang.go_install installs them)" % (goroot, problem, _owner_name(os.geteuid())))
        bootstrap = self.find_bootstrap(state)
        self.result["goroot"]["bootstrap"] = bootstrap
        action = {"action": "rebuild_goroot", "path": link, "reason": reason, "bootstrap": bootstrap["goroot"],
                  "before": summary, "after": None}
        if self.check:
            action["after"] = dict(summary, goos=self.host["goos"], goarch=self.host["goarch"], realpath=None)
            self._changed(action)
            return state["realpath"]
        new = self.rebuild(state, link, bootstrap)
        after = self.goroot_state(link)
        action["after"] = {k: after[k] for k in ("path", "realpath", "version", "go_version", "goos", "goarch")}
        action["seconds"] = new["seconds"]
        self.result["goroot"].update(rebuilt=True, previous=state["realpath"], active=after["realpath"],
                                     realpath=after["realpath"],
                                     go_version=after["go_version"], goos=after["goos"], goarch=after["goarch"],
                                     seconds=new["seconds"], log=new["log"], log_tail=new["log_tail"])
        self._changed(action)
        return after["realpath"]

    # ---- bootstrap --------------------------------------------------------------------------
    def probe_go(self, goroot):
        """(version, goos, goarch) that `goroot`/bin/go reports, or None when it does not run."""
        exe = os.path.join(goroot, "bin", "go")
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            return None
        env = dict(GOROOT=goroot, GOTOOLCHAIN="local", GOENV="off", GOFLAGS="", GOOS="", GOARCH="")
        try:
            rc, out, dummy = self._run([exe, "version"], env)
        except OSError:  # an exec format error (a foreign go without emulation) is "does not run"
            return None
        return version_of_go_output(out) if rc == 0 else None

    def find_bootstrap(self, state):
        """The Go that builds the new toolchain: bootstrap_goroot, else the best trusted installed one.

        make.bash runs the bootstrap's go and tools with this module's rights, so only a tree that
        untrusted() accepts is ever run - not even its `go version`: trees owned by or writable by
        another user (Homebrew, ~/sdk, a folder on PATH) are skipped and listed in
        goroot.bootstrap_skipped."""
        need = minimum_bootstrap(state["realpath"], state["version"])
        given = self.p["bootstrap_goroot"]
        skipped = self.result["goroot"]["bootstrap_skipped"] = []
        if given:
            real = os.path.realpath(given)
            problem = untrusted(real, deep=False)
            if problem:
                raise RebuildError("bootstrap_goroot %s cannot be used: %s. make.bash runs the bootstrap's go and "
                                   "tools with this module's rights; give a Go tree owned by root and writable only "
                                   "by root" % (given, problem))
            found = self.probe_go(real)
            if not found:
                raise RebuildError("bootstrap_goroot %s: %s/bin/go does not run here; give a working Go >= %s"
                                   % (given, given, need))
            if _goenv.version_key(found[0]) is None or _versions.compare(_bare(found[0]), need) < 0:
                raise RebuildError("bootstrap_goroot %s is Go %s; building Go %s needs Go >= %s as bootstrap"
                                   % (given, found[0], state["version"], need))
            problem = untrusted(real)
            if problem:
                raise RebuildError("bootstrap_goroot %s cannot be used: %s. make.bash runs the bootstrap's go and "
                                   "tools with this module's rights; give a Go tree owned by root and writable only "
                                   "by root" % (given, problem))
            return self._bootstrap_entry(real, found, need)
        home = os.path.expanduser("~")
        candidates = [goroot for dummy, goroot in _goenv.usual_places(home, self.layout.root, None, None)]
        candidates.extend(os.path.join(self.layout.root, name) for name in sorted(os.listdir(self.layout.root)))
        for pattern in ("/usr/local/go", "~/go" + need, "~/sdk/go" + need):
            candidates.append(os.path.expanduser(pattern))
        go = self.module.get_bin_path("go")
        if go:
            candidates.append(_goenv.goroot_of(go)[1])
        candidates.append(state["realpath"])
        seen, usable = set(), []
        for c in candidates:
            if not c or not os.path.isfile(os.path.join(c, "bin", "go")):
                continue
            real = os.path.realpath(c)
            if real in seen or os.path.basename(real).startswith("."):
                continue
            seen.add(real)
            problem = untrusted(real, deep=False)
            if problem:
                skipped.append({"goroot": real, "reason": problem})
                continue
            found = self.probe_go(real)
            if found and _goenv.version_key(found[0]) is not None and _versions.compare(_bare(found[0]), need) >= 0:
                native = (found[1], found[2]) == (self.host["goos"], self.host["goarch"])
                beside = os.path.dirname(real) == os.path.realpath(self.layout.root)
                usable.append((native, beside, _versions.version_key(_bare(found[0])), real, found))
        usable.sort(key=lambda u: u[:3])  # native first, then the trees beside the old one, then the newest
        for candidate in reversed(usable):
            real, found = candidate[3:]
            problem = untrusted(real)  # all of it, now that it would run
            if problem:
                skipped.append({"goroot": real, "reason": problem})
                continue
            return self._bootstrap_entry(real, found, need)
        raise RebuildError("no installed Go >= %s to bootstrap Go %s with (looked in %s, the usual places, PATH%s); "
                           "install one (gofleet.golang.go_install with activate=false) and give bootstrap_goroot="
                           % (need, state["version"], self.layout.root,
                              "; not used, as another user can change them: %s" % "; ".join(
                                  "%s (%s)" % (x["goroot"], x["reason"]) for x in skipped) if skipped else ""))

    def _bootstrap_entry(self, goroot, found, need):
        return {"goroot": goroot, "version": found[0], "goos": found[1], "goarch": found[2],
                "native": (found[1], found[2]) == (self.host["goos"], self.host["goarch"]), "minimum": need}

    # ---- make.bash --------------------------------------------------------------------------
    def make_env(self, staged, bootstrap):
        env = {k: v for k, v in os.environ.items() if k not in ("GOROOT", "GOBIN", "GOFLAGS", "GOPATH")}
        env.update(LANG="C", LC_ALL="C", GOROOT_BOOTSTRAP=bootstrap["goroot"], GOTOOLCHAIN="local",
                   GOHOSTOS=self.host["goos"], GOHOSTARCH=self.host["goarch"], GOOS=self.host["goos"],
                   GOARCH=self.host["goarch"])
        env.update(self.p["build_env"] or {})
        # make.bash's and the go command's temporary folders (go-tool-dist-*, go-build*) inside the
        # staging folder: removed with it even when the build is stopped or killed midway
        env["TMPDIR"] = os.path.join(os.path.dirname(staged), "tmp")
        os.makedirs(env["TMPDIR"], exist_ok=True)
        return env

    def rebuild(self, state, link, bootstrap):
        layout = self.layout
        started = time.time()
        version = state["version"] or "devel"
        try:
            layout.lock(self.p["lock_timeout"])
        except (_layout.LayoutError, OSError) as e:
            raise RebuildError(str(e))
        staging = None
        # what make.bash writes is readable by all and writable by root only, whatever root's umask: a
        # tree others could write would be refused (untrusted) the moment it is used
        umask = os.umask(0o022)
        try:
            staging = tempfile.mkdtemp(prefix=".stage-", dir=layout.root)
            staged = os.path.join(staging, "go")
            keep = set(self.p["keep_tool_dirs"] or [])
            t0 = time.time()
            try:
                shutil.copytree(state["realpath"], staged, symlinks=True, ignore=copy_ignore(state["realpath"], keep))
            except (OSError, shutil.Error) as e:
                raise RebuildError("copying %s to %s failed (%s); the active GOROOT was not touched"
                                   % (state["realpath"], staged, e))
            copy_seconds = time.time() - t0
            log = os.path.join(staging, "make.log")
            t0 = time.time()
            rc, timed_out = run_limited(["bash", "make.bash"], os.path.join(staged, "src"),
                                        self.make_env(staged, bootstrap), self.p["build_timeout"], log,
                                        pass_fds=(getattr(layout, "_lock_fd", None),))
            make_seconds = time.time() - t0
            tail = _tail(log)
            if timed_out:
                raise RebuildError("make.bash did not finish within build_timeout=%d s and was stopped; the "
                                   "active GOROOT (%s) was not touched. Last output:\n%s"
                                   % (self.p["build_timeout"], state["realpath"], tail))
            if rc != 0:
                raise RebuildError("make.bash failed (rc %d) with GOROOT_BOOTSTRAP=%s; the active GOROOT (%s) was "
                                   "not touched. Last output:\n%s" % (rc, bootstrap["goroot"], state["realpath"], tail))
            t0 = time.time()
            self.verify(staged, state)
            verify_seconds = time.time() - t0
            name = layout.new_rebuild_name(version)
            kept_log = os.path.join(layout.root, _layout.META, "go%s.make.log" % name)
            shutil.copyfile(log, kept_log)
            os.unlink(log)
            record = dict(version=version, os=self.host["goos"], arch=self.host["goarch"], rebuilt_from=state["realpath"],
                          bootstrap=bootstrap, build_env=dict(self.p["build_env"] or {}),
                          built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), make_log=kept_log,
                          seconds=dict(copy=round(copy_seconds, 3), make=round(make_seconds, 3),
                                       verify=round(verify_seconds, 3)))
            target = layout.commit(staged, name, record)
            staging = None
            if self.probe_go(target) is None:  # the renamed tree must still run before anyone is pointed at it
                layout.remove(name)
                raise RebuildError("the rebuilt tree does not run after moving it to %s; removed, the active GOROOT "
                                   "(%s) was not touched" % (target, state["realpath"]))
            try:
                layout.activate(name)
            except (_layout.LayoutError, OSError) as e:
                raise RebuildError("%s; the rebuilt tree stays in %s" % (e, target))
            self._prune_rebuilds(version, keep_names=("go" + name, os.path.basename(state["realpath"])))
            record["seconds"]["total"] = round(time.time() - started, 3)
            return {"goroot": target, "seconds": record["seconds"], "log": kept_log, "log_tail": _tail(kept_log)}
        finally:
            os.umask(umask)
            if staging:
                shutil.rmtree(staging, ignore_errors=True)
            layout.unlock()

    def _prune_rebuilds(self, version, keep_names):
        """Keep the new tree and the previous one (rollback); older rebuilds of this module go."""
        for name in self.layout.rebuilds(version):
            if name not in keep_names:
                self.layout.remove(name[2:])
                self.actions.append({"action": "remove_old_rebuild", "path": os.path.join(self.layout.root, name),
                                     "before": {"exists": True}, "after": {"exists": False}})

    def verify(self, goroot, state):
        """The new tree judged as every tree is (_tree.judge), then every binary of it native, `go
        version` as expected, a small program builds and runs."""
        host = (self.host["goos"], self.host["goarch"])
        judged = _tree.judge(goroot, host[0], host[1], version=state["version"])
        if judged.problem:
            raise RebuildError("make.bash finished but the new tree is not a healthy Go (%s); the active GOROOT was "
                               "not touched" % judged.problem)
        exes = [os.path.join(goroot, "bin", n) for n in ("go", "gofmt")]
        tool_dir = os.path.join(goroot, "pkg", "tool", self.own)
        exes += [os.path.join(tool_dir, n) for n in sorted(os.listdir(tool_dir))]
        for exe in exes:
            plat = _platform_of(exe)
            if plat != host:
                raise RebuildError("the rebuilt %s is built for %s, not this host's %s/%s; the active GOROOT was "
                                   "not touched" % (os.path.relpath(exe, goroot), _fmt(plat), host[0], host[1]))
        found = self.probe_go(goroot)
        if not found or (found[1], found[2]) != host or (state["version"] and _bare(found[0]) != state["version"]):
            raise RebuildError("the rebuilt go reports %r, expected go%s %s/%s; the active GOROOT was not touched"
                               % (found, state["version"], host[0], host[1]))
        scratch = tempfile.mkdtemp(prefix="gofleet-verify-", dir=self.module.tmpdir)
        try:
            with open(os.path.join(scratch, "go.mod"), "w") as f:
                f.write("module gofleet.local/verify\n")
            with open(os.path.join(scratch, "main.go"), "w") as f:
                f.write(HELLO)
            env = dict(GOROOT=goroot, GOTOOLCHAIN="local", GOENV="off", GOFLAGS="", GOPROXY="off", GOWORK="off",
                       GOCACHE=os.path.join(scratch, "cache"), GOPATH=os.path.join(scratch, "gopath"),
                       GOOS=host[0], GOARCH=host[1], CGO_ENABLED="0")
            env.update({k: v for k, v in (self.p["build_env"] or {}).items() if k in ARCH_LEVELS + ("GOEXPERIMENT",)})
            out = os.path.join(scratch, "hello")
            rc, so, se = self.module.run_command([os.path.join(goroot, "bin", "go"), "build", "-o", out, "."],
                                                 cwd=scratch, environ_update=env)
            if rc != 0:
                raise RebuildError("the rebuilt go cannot build a small program: %s; the active GOROOT was not "
                                   "touched" % (se or so).strip()[-2000:])
            rc, so, se = self.module.run_command([out])
            if rc != 0 or "gofleet-rebuild-ok" not in (so + se):
                raise RebuildError("a small program built by the rebuilt go does not run (rc %s: %s); the active "
                                   "GOROOT was not touched" % (rc, (se or so).strip()[-500:]))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    # ---- tools ------------------------------------------------------------------------------
    def tool_files(self, go):
        """[(file, origin)] of the programs to look at: tool_paths, else GOBIN or each GOPATH's bin."""
        paths = self.p["tool_paths"]
        origin = "tool_paths"
        if not paths:
            values = self.go_env(go)
            if values.get("GOBIN"):
                paths, origin = [values["GOBIN"]], "GOBIN"
            else:
                paths = [os.path.join(p, "bin") for p in (values.get("GOPATH") or "").split(os.pathsep) if p]
                origin = "GOPATH/bin"
        files = []
        for p in paths:
            if os.path.isdir(p):
                for name in sorted(os.listdir(p)):
                    f = os.path.join(p, name)
                    if name.startswith(".gofleet-rebuild-"):
                        if not self.check:
                            _remove_leftover(p, name)  # left by a run that was killed
                        continue
                    if not name.startswith(".") and _regular(f):
                        files.append((f, origin))
            elif _regular(p) or os.path.islink(p):
                files.append((p, "tool_paths"))
            elif origin == "tool_paths":
                raise RebuildError("tool_paths: %s does not exist (or is not a regular file or folder)" % p)
        return files

    def go_env(self, go):
        """GOBIN and GOPATH as `go env` reports them to this user (env file honoured), changing nothing."""
        env = dict(os.environ)
        scratch = tempfile.mkdtemp(prefix="gofleet-env-", dir=self.module.tmpdir)
        try:
            values, dummy = _goenv.probe_go_env(
                self._run, go, env, scratch, env_file=_goenv.env_file_path(env, self.host["system"]),
                system=self.host["system"])
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if values:
            return values
        # the toolchain does not run (yet): what the environment and the env file say, else ~/go
        file_values = _goenv.read_env_file(_goenv.env_file_path(env, self.host["system"]))
        gopath = env.get("GOPATH") or file_values.get("GOPATH") or os.path.join(os.path.expanduser("~"), "go")
        return {"GOBIN": env.get("GOBIN") or file_values.get("GOBIN"), "GOPATH": gopath}

    def tools(self, goroot):
        if not self.p["rebuild_tools"]:
            return
        go = os.path.join(goroot, "bin", "go")
        problem = untrusted(goroot)
        if problem:
            raise RebuildError("the tools cannot be rebuilt with %s: %s. `go install` would run that tree's go, "
                               "compiler and linker with this module's rights (%s); use a tree owned by root and "
                               "writable only by root, or rebuild_tools=false" % (goroot, problem, _owner_name(os.geteuid())))
        try:
            current = _binary.inspect(go).get("go_version")
        except _binary.BinaryError as e:
            raise RebuildError("cannot read %s: %s" % (go, e))
        host = self.host
        failed = []
        for path, origin in self.tool_files(go):
            entry = {"path": path, "origin": origin, "status": None, "reason": None, "before": None, "after": None}
            self.result["tools"].append(entry)
            like = info = None
            try:
                like = os.lstat(path)  # the file that is replaced, and only if it is still this one
                if stat.S_ISREG(like.st_mode):
                    info = _binary.inspect(path)
            except (_binary.BinaryError, OSError):
                pass
            if like is not None and stat.S_ISLNK(like.st_mode):
                entry.update(status="skipped", reason="a symbolic link: give the file it points at in tool_paths")
                continue
            if not info or not info.get("is_go") or not info.get("go_version"):
                entry.update(status="skipped", reason="not a Go program")
                continue
            entry["before"] = build_summary(info)
            if info.get("goos") != host["goos"]:
                entry.update(status="skipped", reason="built for %s, not for this host's OS" % info.get("goos"))
                continue
            why = []
            if info["go_version"] != current:
                why.append("built by %s, the toolchain is %s" % (info["go_version"], current))
            if not _goenv.is_native(info.get("goarch"), host, info.get("goos")):
                why.append("built for %s, this host is %s" % (info.get("goarch"), host["goarch"]))
            if not why:
                entry["status"] = "current"
                continue
            entry["reason"] = "; ".join(why)
            ldflags = (self.p["tool_ldflags"] or {}).get((info.get("build_info") or {}).get("path") or "")
            try:
                argv, env, notes, refused = install_command(go, info, host["goos"], host["goarch"], ldflags)
            except RebuildError as e:
                entry.update(status="not_rebuildable", reason="%s; %s" % (entry["reason"], e))
                continue
            entry["command"] = argv[1:]
            entry["environment"] = env
            entry["refused_settings"] = refused
            if notes:
                entry["notes"] = notes
            action = {"action": "rebuild_tool", "path": path, "reason": entry["reason"], "before": entry["before"],
                      "after": None}
            if self.check:
                entry["status"] = "would_rebuild"
                self._changed(action)
                continue
            self.install_tool(entry, argv, env, goroot, current, like)
            if entry["status"] == "rebuilt":
                action["after"] = entry["after"]
                self._changed(action)
            elif entry["status"] == "failed":
                failed.append(entry)
        return failed

    def install_tool(self, entry, argv, env, goroot, current, like):
        """`go install` into a root-only folder, verify the result there, then put it in place of the file
        `like` (an lstat) describes, with its mode and owner - through descriptors, never by a path in a
        folder another user may write (replace_file)."""
        path = entry["path"]
        scratch = tempfile.mkdtemp(prefix="gofleet-tool-", dir=self.module.tmpdir)
        try:
            gobin = os.path.join(scratch, "bin")
            os.mkdir(gobin, 0o700)
            full = {k: v for k, v in os.environ.items() if k != "GOROOT"}
            full.update(env, GOBIN=gobin, GOROOT=goroot, LANG="C", LC_ALL="C")
            log = os.path.join(scratch, "go-install.log")
            rc, timed_out = run_limited(argv, scratch, full, self.p["tool_timeout"], log)
            with open(log, errors="replace") as f:
                output = f.read()
            if timed_out:
                entry.update(status="failed", msg="go install did not finish within tool_timeout=%d s" % self.p["tool_timeout"])
                return
            if rc != 0:
                newer = needs_newer_go(output)
                if newer:
                    entry.update(status="needs_newer_go", required_go=newer,
                                 reason="%s; its module requires go >= %s and the toolchain is %s (GOTOOLCHAIN=local: "
                                        "no other toolchain is fetched): install a newer Go, or pin an older version "
                                        "of the tool" % (entry["reason"], newer, current))
                else:
                    entry.update(status="failed", msg="go install failed (rc %d): %s" % (rc, output.strip()[-2000:]))
                return
            made = [os.path.join(gobin, n) for n in os.listdir(gobin)]
            if len(made) != 1 or not _regular(made[0]):
                entry.update(status="failed", msg="go install left %d files in its GOBIN, expected one program" % len(made))
                return
            try:
                info = _binary.inspect(made[0])
            except _binary.BinaryError as e:
                entry.update(status="failed", msg="the rebuilt program cannot be read: %s" % e)
                return
            after = build_summary(info)
            before = entry["before"]
            problems = []
            if info.get("go_version") != current:
                problems.append("built by %s, not %s" % (info.get("go_version"), current))
            if (info.get("goos"), info.get("goarch")) != (self.host["goos"], self.host["goarch"]):
                problems.append("built for %s/%s" % (info.get("goos"), info.get("goarch")))
            if (after["path"], after["module"], after["version"]) != (before["path"], before["module"], before["version"]):
                problems.append("it is %s@%s, not %s@%s" % (after["path"], after["version"], before["path"], before["version"]))
            if problems:
                entry.update(status="failed", after=after, msg="the rebuilt program is wrong (%s); %s was left as it was"
                             % (", ".join(problems), path))
                return
            try:
                replace_file(made[0], path, like)
            except RebuildError as e:
                entry.update(status="failed", after=after, msg=str(e))
                return
            entry.update(status="rebuilt", after=after)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    # ---- all of it ----------------------------------------------------------------------------
    def check_params(self):
        """Refuse what would otherwise end in a traceback or mean something else than asked."""
        p = self.p
        for key, value in sorted((p["build_env"] or {}).items(), key=lambda kv: str(kv[0])):
            if not isinstance(key, str) or not ENV_NAME.match(key):
                raise RebuildError("build_env: %r is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)" % (key,))
            if key in REFUSED_ENV:
                raise RebuildError("build_env %s is refused: %s" % (key, REFUSED_ENV[key]))
            if "\x00" in value:
                raise RebuildError("build_env %s: the value holds a NUL character" % key)
        for key, value in sorted((p["tool_ldflags"] or {}).items(), key=lambda kv: str(kv[0])):
            if value is not None and "\x00" in value:
                raise RebuildError("tool_ldflags %s: the value holds a NUL character" % key)
        paths = [("goroot", p["goroot"]), ("active_link", p["active_link"]), ("bootstrap_goroot", p["bootstrap_goroot"])]
        paths += [("tool_paths", t) for t in p["tool_paths"] or []] + [("keep_tool_dirs", k) for k in p["keep_tool_dirs"] or []]
        for option, value in paths:
            if value is not None and ("\x00" in value or value == ""):
                raise RebuildError("%s: %r is not a path" % (option, value))
        for option in ("build_timeout", "lock_timeout", "tool_timeout"):
            if p[option] <= 0:
                raise RebuildError("%s must be a number of seconds above 0, not %d" % (option, p[option]))

    def run(self):
        """All three steps; the tools that failed (the module fails with them after reporting the rest)."""
        self.check_params()
        try:
            goroot = self.goroot()
            failed = self.tools(goroot) or []
        except OSError as e:  # what no step foresaw (a folder removed under the run, a full disk...)
            raise RebuildError("%s%s; the active GOROOT stays as it was" % (
                "%s: " % e.filename if getattr(e, "filename", None) else "", e.strerror or e))
        if self.module._diff:
            self.result["diff"] = self.diff()
        return failed

    def diff(self):
        before, after = [], []
        for a in self.actions:
            if a["action"] == "rebuild_goroot":
                b, x = a["before"], a["after"] or {}
                before.append("goroot %s: %s %s/%s\n" % (a["path"], b["realpath"], b["goos"], b["goarch"]))
                after.append("goroot %s: %s %s/%s\n" % (
                    a["path"], x.get("realpath") or "(rebuilt)", x.get("goos"), x.get("goarch")))
            elif a["action"] in ("remove_tool_dir", "remove_old_rebuild"):
                before.append("%s\n" % a["path"])
            elif a["action"] == "rebuild_tool":
                b = a["before"]
                before.append("%s: %s %s/%s\n" % (a["path"], b["go_version"], b["goos"], b["goarch"]))
                x = a["after"] or {}
                after.append("%s: %s %s/%s\n" % (a["path"], x.get("go_version", "(rebuilt)"),
                                                 x.get("goos", self.host["goos"]), x.get("goarch", self.host["goarch"])))
        return {"before": "".join(before), "after": "".join(after)}


# ---- processes and files -------------------------------------------------------------------------
class Terminated(BaseException):
    """The module got SIGTERM while a build ran (the build was stopped)."""


def _terminated(signum, frame):
    raise Terminated()


def run_limited(argv, cwd, env, timeout, log, pass_fds=()):
    """Run argv in its own process group, output to `log`; (rc, timed_out).

    The group is stopped on timeout and when this process gets SIGTERM (then Terminated is raised).
    `pass_fds` (the layout lock) stay open in the build, so a build orphaned by a SIGKILLed module
    keeps the lock until its last process ends and no other run removes its folder under it.
    """
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, pass_fds=tuple(fd for fd in pass_fds if fd is not None))
        previous = signal.signal(signal.SIGTERM, _terminated)
        try:
            return proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return proc.returncode, True
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)


def _kill_group(proc):
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
        except OSError:
            pass
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def _regular(path):
    """A regular file itself (a symbolic link to one is not)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def replace_file(src, path, like):
    """Put a copy of `src` in place of `path`, which must still be the regular file `like` (its lstat)
    describes, with that file's owner and mode.

    `path`'s folder may be writable by another user (a GOBIN in a home): everything goes through a
    descriptor of that folder and of a new file created there with O_EXCL|O_NOFOLLOW, owner and mode
    are set with fchown/fchmod on that descriptor (never by a name that could be swapped for a link
    to a file of root's), and the new file is renamed over the old name, which replaces a link
    rather than following it. Raises RebuildError (the old file left as it was) when `path` is no
    longer that file.
    """
    folder, name = os.path.split(os.path.abspath(path))
    try:
        dfd = os.open(folder, _DIR_FLAGS)
    except OSError as e:
        raise RebuildError("cannot open %s: %s; %s was left as it was" % (folder, e.strerror or e, path))
    try:
        try:
            now = os.lstat(name, dir_fd=dfd)
        except OSError:
            now = None
        if now is None or not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (like.st_dev, like.st_ino):
            raise RebuildError("%s was replaced, moved or made a link while it was rebuilt; it was left as it is" % path)
        fd = tmp = None
        for dummy in range(100):
            tmp = ".gofleet-rebuild-%s" % os.urandom(6).hex()
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                             0o600, dir_fd=dfd)
                break
            except FileExistsError:
                continue
        if fd is None:
            raise RebuildError("cannot create a temporary file in %s; %s was left as it was" % (folder, path))
        try:
            with open(src, "rb") as f:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
            if (like.st_uid, like.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fd, like.st_uid, like.st_gid)  # before fchmod: chown clears set-id bits
                except PermissionError:
                    pass  # not root: the new file stays this user's
            os.fchmod(fd, stat.S_IMODE(like.st_mode))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            fd = None
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
            raise
        finally:
            if fd is not None:
                os.close(fd)
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except OSError as e:
        raise RebuildError("cannot replace %s: %s; it was left as it was" % (path, e.strerror or e))
    finally:
        os.close(dfd)


def _remove_leftover(folder, name):
    """Remove folder/name, a temporary file or folder a killed run of this module left (only when this
    process's user owns it; a link is removed, never followed; rmtree does not follow links)."""
    path = os.path.join(folder, name)
    try:
        st = os.lstat(path)
        if st.st_uid != os.geteuid():
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def _move_away_and_remove(folder, name):
    """Rename folder/name into a new .gofleet-trash-* folder beside it, then remove that (a run killed
    midway leaves a trash folder, removed by the next run, never half a tool folder). The rename goes
    through descriptors: a link planted in place of the trash folder is not followed."""
    trash = tempfile.mkdtemp(prefix=".gofleet-trash-", dir=folder)
    try:
        dfd = os.open(folder, _DIR_FLAGS)
        try:
            tfd = os.open(os.path.basename(trash), _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=dfd)
            try:
                os.rename(name, name, src_dir_fd=dfd, dst_dir_fd=tfd)
            finally:
                os.close(tfd)
        finally:
            os.close(dfd)
    except OSError as e:
        shutil.rmtree(trash, ignore_errors=True)
        raise RebuildError("cannot remove %s: %s" % (os.path.join(folder, name), e.strerror or e))
    shutil.rmtree(trash, ignore_errors=True)


def _tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def _platform_of(path):
    try:
        info = _binary.inspect(path)
    except _binary.BinaryError:
        return None
    return info.get("goos"), info.get("goarch")


def _fmt(plat):
    return "%s/%s" % plat if plat else "an unreadable file"


def _bare(version):
    return _goenv.bare_version(version) or version


def _env_text(env):
    return " ".join("%s=%s" % kv for kv in sorted(env.items())) or "no build_env"


def to_json(value):
    return json.loads(json.dumps(value, default=str))
