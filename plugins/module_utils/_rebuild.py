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
import re
import shutil
import signal
import subprocess
import tempfile
import time

from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError
from ansible_collections.gofleet.golang.plugins.module_utils import _binary, _goenv, _layout, _platform, _versions

TOOL_DIR = re.compile(r"^[a-z0-9]+_[a-z0-9]+$")
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
# recorded flags passed again to `go install` (ldflags is recorded only without -trimpath: go.dev/issue/52372)
KEPT_FLAGS = ("-ldflags", "-tags", "-gcflags", "-asmflags")
KEPT_BOOL_FLAGS = ("-trimpath", "-race", "-msan", "-asan", "-cover")
CGO_SETTINGS = ("CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_LDFLAGS")
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


def install_command(go, info, goos, goarch, ldflags=None):
    """(argv, env, notes) of the `go install path@version` that rebuilds a program like `info`.

    Keeps the recorded -ldflags, -tags, -gcflags, -asmflags, -trimpath (and -race & co),
    -buildmode, CGO_ENABLED with its CGO_* flags, GOEXPERIMENT, and the architecture level
    (GOAMD64...) when the architecture stays. `ldflags` wins over the recorded value (a program
    built with -trimpath has none recorded). Raises RebuildError when there is nothing to install from.
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
    s = bi.get("settings") or {}
    argv = [go, "install"]
    notes = []
    for flag in KEPT_FLAGS:
        value = ldflags if (flag == "-ldflags" and ldflags is not None) else s.get(flag)
        if value:
            argv.append("%s=%s" % (flag, value))
    for flag in KEPT_BOOL_FLAGS:
        if s.get(flag) == "true":
            argv.append(flag)
    if s.get("-buildmode") and s["-buildmode"] != "exe":
        argv.append("-buildmode=%s" % s["-buildmode"])
    if s.get("-trimpath") == "true" and ldflags is None:
        notes.append("built with -trimpath, so any -ldflags it had are not recorded (go.dev/issue/52372); "
                     "give them in tool_ldflags to keep them")
    argv.append("%s@%s" % (bi["path"], main["version"]))
    env = {"GOTOOLCHAIN": "local", "GOOS": goos, "GOARCH": goarch}
    if "CGO_ENABLED" in s:
        env["CGO_ENABLED"] = s["CGO_ENABLED"]
        if s["CGO_ENABLED"] == "1":
            env.update((k, s[k]) for k in CGO_SETTINGS if k in s)
    if "GOEXPERIMENT" in s:
        env["GOEXPERIMENT"] = s["GOEXPERIMENT"]
    if info.get("goarch") == goarch:
        env.update((k, s[k]) for k in ARCH_LEVELS if k in s)
    return argv, env, notes


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
                trash = tempfile.mkdtemp(prefix=".gofleet-trash-", dir=tool_root)
                try:
                    os.rename(path, os.path.join(trash, name))
                except OSError as e:
                    shutil.rmtree(trash, ignore_errors=True)
                    raise RebuildError("cannot remove %s: %s" % (path, e.strerror or e))
                shutil.rmtree(trash, ignore_errors=True)
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
                                     previous=None, bootstrap=None, active=state["realpath"])
        if not reason:
            self.clean(state)
            return state["realpath"]
        link = self.link_of(goroot)
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
        if not _goenv._is_exe(exe):
            return None
        env = dict(GOROOT=goroot, GOTOOLCHAIN="local", GOENV="off", GOFLAGS="", GOOS="", GOARCH="")
        try:
            rc, out, dummy = self._run([exe, "version"], env)
        except OSError:  # an exec format error (a foreign go without emulation) is "does not run"
            return None
        return version_of_go_output(out) if rc == 0 else None

    def find_bootstrap(self, state):
        need = minimum_bootstrap(state["realpath"], state["version"])
        given = self.p["bootstrap_goroot"]
        if given:
            found = self.probe_go(given)
            if not found:
                raise RebuildError("bootstrap_goroot %s: %s/bin/go does not run here; give a working Go >= %s"
                                   % (given, given, need))
            if _goenv.version_key(found[0]) is None or _versions.compare(_bare(found[0]), need) < 0:
                raise RebuildError("bootstrap_goroot %s is Go %s; building Go %s needs Go >= %s as bootstrap"
                                   % (given, found[0], state["version"], need))
            return self._bootstrap_entry(given, found, need)
        home = os.path.expanduser("~")
        candidates = []
        for dummy, goroot in _goenv.usual_places(home, self.layout.root, None, None):
            candidates.append(goroot)
        for name in sorted(os.listdir(self.layout.root)):
            candidates.append(os.path.join(self.layout.root, name))
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
            found = self.probe_go(real)
            if found and _goenv.version_key(found[0]) is not None and _versions.compare(_bare(found[0]), need) >= 0:
                native = (found[1], found[2]) == (self.host["goos"], self.host["goarch"])
                beside = os.path.dirname(real) == os.path.realpath(self.layout.root)
                usable.append((native, beside, _versions.version_key(_bare(found[0])), real, found))
        if not usable:
            raise RebuildError("no installed Go >= %s to bootstrap Go %s with (looked in %s, the usual places, "
                               "PATH); install one (gofleet.golang.go_install with activate=false) and give "
                               "bootstrap_goroot=" % (need, state["version"], self.layout.root))
        usable.sort(key=lambda u: u[:3])  # native first, then the trees beside the old one, then the newest
        real, found = usable[-1][3:]
        return self._bootstrap_entry(real, found, need)

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
        """Every binary of the new tree native, `go version` as expected, a small program builds and runs."""
        host = (self.host["goos"], self.host["goarch"])
        exes = [os.path.join(goroot, "bin", n) for n in ("go", "gofmt")]
        tool_dir = os.path.join(goroot, "pkg", "tool", self.own)
        if not os.path.isdir(tool_dir):
            raise RebuildError("make.bash finished but pkg/tool/%s is missing; the active GOROOT was not touched" % self.own)
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
                    if name.startswith(".gofleet-rebuild-") and os.path.isdir(f) and not self.check:
                        shutil.rmtree(f, ignore_errors=True)  # left by a run that was killed
                        continue
                    if not name.startswith(".") and os.path.isfile(f) and not os.path.islink(f):
                        files.append((f, origin))
            elif os.path.isfile(p):
                files.append((p, "tool_paths"))
            elif origin == "tool_paths":
                raise RebuildError("tool_paths: %s does not exist" % p)
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
        try:
            current = _binary.inspect(go).get("go_version")
        except _binary.BinaryError as e:
            raise RebuildError("cannot read %s: %s" % (go, e))
        host = self.host
        failed = []
        for path, origin in self.tool_files(go):
            entry = {"path": path, "origin": origin, "status": None, "reason": None, "before": None, "after": None}
            self.result["tools"].append(entry)
            try:
                info = _binary.inspect(path)
            except _binary.BinaryError:
                info = None
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
                argv, env, notes = install_command(go, info, host["goos"], host["goarch"], ldflags)
            except RebuildError as e:
                entry.update(status="not_rebuildable", reason="%s; %s" % (entry["reason"], e))
                continue
            entry["command"] = argv[1:]
            entry["environment"] = env
            if notes:
                entry["notes"] = notes
            action = {"action": "rebuild_tool", "path": path, "reason": entry["reason"], "before": entry["before"],
                      "after": None}
            if self.check:
                entry["status"] = "would_rebuild"
                self._changed(action)
                continue
            self.install_tool(entry, argv, env, goroot, current)
            if entry["status"] == "rebuilt":
                action["after"] = entry["after"]
                self._changed(action)
            elif entry["status"] == "failed":
                failed.append(entry)
        return failed

    def install_tool(self, entry, argv, env, goroot, current):
        path = entry["path"]
        folder = os.path.dirname(path)
        try:
            scratch = tempfile.mkdtemp(prefix=".gofleet-rebuild-", dir=folder)
        except OSError as e:
            entry.update(status="failed", msg="cannot write in %s: %s" % (folder, e.strerror or e))
            return
        try:
            full = {k: v for k, v in os.environ.items() if k != "GOROOT"}
            full.update(env, GOBIN=scratch, GOROOT=goroot, LANG="C", LC_ALL="C")
            log = os.path.join(scratch, ".log")
            rc, timed_out = run_limited(argv, scratch, full, self.p["tool_timeout"], log)
            with open(log, errors="replace") as f:
                output = f.read()
            os.unlink(log)
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
            made = [os.path.join(scratch, n) for n in os.listdir(scratch)]
            if len(made) != 1:
                entry.update(status="failed", msg="go install left %d files in its GOBIN, expected one" % len(made))
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
            st = os.stat(path)
            try:
                os.chmod(made[0], st.st_mode & 0o7777)
                if hasattr(os, "chown") and (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                    os.chown(made[0], st.st_uid, st.st_gid)
            except OSError:
                pass
            os.replace(made[0], path)
            entry.update(status="rebuilt", after=after)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    # ---- all of it ----------------------------------------------------------------------------
    def run(self):
        for key in self.p["build_env"] or {}:
            if key in REFUSED_ENV:
                raise RebuildError("build_env %s is refused: %s" % (key, REFUSED_ENV[key]))
        goroot = self.goroot()
        failed = self.tools(goroot) or []
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
