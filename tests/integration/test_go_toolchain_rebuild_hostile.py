# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""go_toolchain_rebuild against another local user (issue 14, item 10), for real: a real second Unix
user (the `second_user` fixture), real Go toolchains, real programs built by Go 1.26 and rebuilt by
1.27, real scripts and a real GCC plugin that write a marker when they run. The module runs as root,
as on a fleet. None of these tests runs make.bash: the bootstrap is chosen in check mode.

- A Go tree another user owns, or in a folder another user can write, where the bootstrap search
  looks (beside the tree, ~/sdk, PATH), is never run - not even its `go version` - and never used.
- A program's recorded build settings are replayed in root's `go install` only when they are on the
  safe list: -extld, CGO_CFLAGS=-fplugin=..., -toolexec (forged into the build info, which the
  program's owner can write) do not run, and are reported.
- A link planted in the user's GOBIN in place of the module's temporary files, pointing at a file
  of root's: that file's mode and owner stay as they were.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from test_go_toolchain_rebuild import (  # noqa: F401  pylint: disable=unused-import
    MAIN, NEW, OLD, Home, add_module, by_name, gocache, go_version_m, layout_with, official, run)

CGO_MAIN = ('package main\n\n// int answer(void) { return 42; }\nimport "C"\n\nimport "fmt"\n\n'
            'func main() { fmt.Println("gfcgo", C.answer()) }\n')


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """A file:// module proxy: a plain tool and one that uses cgo."""
    p = str(tmp_path_factory.mktemp("goproxy-hostile"))
    add_module(p, "example.com/gftool", "v1.0.0", {"cmd/gfhello/main.go": MAIN % "gfhello"}, "1.26")
    add_module(p, "example.com/gfcgo", "v1.0.0", {"main.go": CGO_MAIN}, "1.26")
    return p


@pytest.fixture
def home(tmp_path, monkeypatch, proxy, gocache):  # noqa: F811  pylint: disable=redefined-outer-name
    return Home(tmp_path, monkeypatch, proxy, gocache)


def chown_tree(path, user):
    for folder, dirs, files in os.walk(path):
        for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
            os.lchown(name, user.uid, user.gid)


def markers(folder):
    """The lines the planted programs wrote ("<uid> <what>"), one per run."""
    path = os.path.join(folder, "ran")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().split("\n")[:-1]


def marker_folder(tmp_path):
    folder = tmp_path / "markers"
    folder.mkdir()
    os.chmod(str(folder), 0o1777)  # every user's planted program can write there
    return str(folder)


# ---- the bootstrap search ------------------------------------------------------------------------------
def fake_tree(path, version, marker_dir, owner=None):
    """A Go tree whose bin/go is a shell script that notes who ran it and says it is go<version>."""
    os.makedirs(os.path.join(path, "bin"))
    os.makedirs(os.path.join(path, "src", "runtime"))
    with open(os.path.join(path, "VERSION"), "w") as f:
        f.write("go%s\n" % version)
    go = os.path.join(path, "bin", "go")
    with open(go, "w") as f:
        f.write('#!/bin/sh\necho "$(id -u) %s" >> %s/ran\necho "go version go%s linux/amd64"\n'
                % (path, marker_dir, version))
    os.chmod(go, 0o755)
    if owner:
        chown_tree(path, owner)
    return path


def test_a_go_tree_another_user_can_change_is_never_run_nor_used_as_bootstrap(
        home, tmp_path, second_user, monkeypatch):
    root, link = layout_with(home, (NEW, official(NEW)))
    marks = marker_folder(tmp_path)
    user = second_user
    planted = [
        # beside the tree, in the (root-owned) install root: newer than it, native - the old first choice
        fake_tree(os.path.join(root, "go1.27.9"), "1.27.9", marks, owner=user),
        # ~/sdk of the module's user (root's home here is the test's)
        fake_tree(str(home.home / "sdk" / "go1.27.8"), "1.27.8", marks, owner=user),
        # first on PATH: a tree in the other user's home
        fake_tree(os.path.join(user.home, "gotree"), "1.27.7", marks, owner=user),
    ]
    # a tree owned by root, in a folder the other user owns (they can swap it), reached through ~/sdk
    shared = os.path.join(user.home, "shared")
    os.mkdir(shared)
    os.chown(shared, user.uid, user.gid)
    planted.append(fake_tree(os.path.join(shared, "go"), "1.27.6", marks))
    os.symlink(os.path.join(shared, "go"), str(home.home / "sdk" / "go1.27.6"))
    monkeypatch.setenv("PATH", os.path.join(user.home, "gotree", "bin") + os.pathsep + os.environ["PATH"])

    r = run({"goroot": link, "rebuild_goroot": "always", "rebuild_tools": False}, check_mode=True)
    assert not r.get("failed"), r.get("msg")
    assert markers(marks) == []  # not one of them ran, as root or at all
    g = r["goroot"]
    assert g["bootstrap"]["goroot"] == os.path.join(root, "go" + NEW)  # the tree itself: root's, native, new enough
    skipped = {s["goroot"]: s["reason"] for s in g["bootstrap_skipped"]}
    assert sorted(skipped) == sorted(planted), skipped
    for path in planted[:3]:
        assert "is owned by uid %d (%s)" % (user.uid, user.name) in skipped[path]
    assert skipped[planted[3]] == "%s is owned by uid %d (%s)" % (user.home, user.uid, user.name)  # above the tree

    # named as bootstrap_goroot: refused with the reason, still not run
    r = run({"goroot": link, "rebuild_goroot": "always", "rebuild_tools": False, "bootstrap_goroot": planted[0]},
            check_mode=True)
    assert r.get("failed") and "bootstrap_goroot %s cannot be used" % planted[0] in r["msg"], r.get("msg")
    assert "owned by uid %d" % user.uid in r["msg"] and markers(marks) == []

    # the tree to rebuild itself in a folder the other user can write: make.bash would run its code
    theirs = os.path.join(user.home, "opt-go")
    shutil.copytree(os.path.join(root, "go1.27.9"), os.path.join(theirs, "go1.27.9"), symlinks=True)
    os.chown(theirs, user.uid, user.gid)
    os.symlink(os.path.join(theirs, "go1.27.9"), str(tmp_path / "their-link"))
    r = run({"goroot": str(tmp_path / "their-link"), "rebuild_goroot": "always", "rebuild_tools": False,
             "bootstrap_goroot": os.path.join(root, "go" + NEW)}, check_mode=True)
    assert r.get("failed") and "cannot be rebuilt: %s is owned by uid %d" % (user.home, user.uid) in r["msg"], r.get("msg")
    assert markers(marks) == []


# ---- recorded build settings ------------------------------------------------------------------------
PLUGIN_C = r'''
#include <stdio.h>
#include <unistd.h>
int plugin_is_GPL_compatible;
__attribute__((constructor)) static void mark(void) {
    FILE *f = fopen("%s/ran", "a");
    if (f) { fprintf(f, "%%d fplugin\n", (int)geteuid()); fclose(f); }
}
int plugin_init(void *info, void *version) { return 0; }
'''


def forge_setting(exe, old, new):
    """Rewrite one `build` line of a program's build info in place (same length): what the program's
    owner can do to any file of theirs. go version -m then shows the forged setting."""
    assert len(old) == len(new)
    with open(exe, "rb") as f:
        data = f.read()
    assert data.count(old) >= 1  # the build info blob and runtime.modinfo
    with open(exe, "wb") as f:
        f.write(data.replace(old, new))


def test_recorded_flags_that_run_programs_are_not_replayed_and_are_reported(home, tmp_path, second_user):
    go126, go127 = official(OLD), official(NEW)
    marks = marker_folder(tmp_path)
    user = second_user
    gobin = os.path.join(user.home, "go", "bin")
    os.makedirs(gobin)
    evil = os.path.join(user.home, "evil")
    os.mkdir(evil)
    with open(os.path.join(evil, "plugin.c"), "w") as f:
        f.write(PLUGIN_C % marks)
    plugin = os.path.join(evil, "plugin.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", plugin, os.path.join(evil, "plugin.c")], check=True)
    scripts = {}
    for name, body in (("ld", 'exec gcc "$@"'), ("toolexec", 'exec "$@"')):
        scripts[name] = os.path.join(evil, name)
        with open(scripts[name], "w") as f:
            f.write('#!/bin/sh\necho "$(id -u) %s" >> %s/ran\n%s\n' % (name, marks, body))
        os.chmod(scripts[name], 0o755)
    chown_tree(evil, user)

    def build(name, target, *flags, **env):
        home.install(go126, target, *flags, env=dict(env, GOBIN=gobin))
        os.rename(os.path.join(gobin, os.path.basename(target.split("@")[0])), os.path.join(gobin, name))

    # the user's tools, built by Go 1.26 the way they were (each payload ran once then, as the builder)
    build("gfplug", "example.com/gfcgo@v1.0.0", CGO_ENABLED="1", CGO_CFLAGS="-O2 -fplugin=" + plugin)
    build("gfld", "example.com/gfcgo@v1.0.0", "-ldflags=-linkmode=external -extld=" + scripts["ld"], CGO_ENABLED="1")
    pad = "a" * (len(scripts["toolexec"]) + 4)
    build("gfte", "example.com/gftool/cmd/gfhello@v1.0.0", "-tags=" + pad, CGO_ENABLED="0")
    forge_setting(os.path.join(gobin, "gfte"), b"build\t-tags=" + pad.encode(),
                  b"build\t-toolexec=" + scripts["toolexec"].encode())
    shown = go_version_m(os.path.join(go127, "bin", "go"), os.path.join(gobin, "gfte"))
    assert "-toolexec=%s" % scripts["toolexec"] in shown
    assert sorted(set(m.split()[1] for m in markers(marks))) == ["fplugin", "ld"]  # they do run when used
    os.unlink(os.path.join(marks, "ran"))
    chown_tree(os.path.join(user.home, "go"), user)

    r = run({"goroot": home.link(go127), "rebuild_goroot": "never", "tool_paths": [gobin]})
    assert not r.get("failed"), r.get("msg")
    assert markers(marks) == []  # neither the plugin, nor the linker, nor the toolexec script ran
    tools = by_name(r)
    assert {n: t["status"] for n, t in tools.items()} == {"gfplug": "rebuilt", "gfld": "rebuilt", "gfte": "rebuilt"}
    refused = {n: {s["setting"]: s["value"] for s in t["refused_settings"]} for n, t in tools.items()}
    assert refused == {"gfplug": {"CGO_CFLAGS": "-O2 -fplugin=" + plugin},
                       "gfld": {"-ldflags": "-linkmode=external -extld=" + scripts["ld"]},
                       "gfte": {"-toolexec": scripts["toolexec"]}}
    for name, t in tools.items():
        assert "refused_settings" in t["notes"][-1]
        assert not any(scripts["ld"] in a or plugin in a for a in t["command"]) and plugin not in str(t["environment"])
        shown = go_version_m(os.path.join(go127, "bin", "go"), os.path.join(gobin, name))
        assert shown.split("\n")[0].endswith(": go1.27.3") and evil not in shown
        assert os.stat(os.path.join(gobin, name)).st_uid == user.uid  # the user's tool stays the user's
    assert subprocess.run([os.path.join(gobin, "gfplug")], capture_output=True, text=True, check=True).stdout == "gfcgo 42\n"


# ---- links planted in the user's GOBIN ------------------------------------------------------------------
WATCHER = r'''
import os, stat, sys, time
folder, target, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
me, fakes, seen, end = os.getuid(), [], {}, time.time() + seconds


def link_over(path):
    try:
        os.symlink(target, path + ".lnk")
        os.rename(path + ".lnk", path)
    except OSError:
        pass


while time.time() < end:
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if not name.startswith(".gofleet-rebuild-") or name.endswith(".lnk"):
            continue
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if st.st_uid == me:
            continue
        if stat.S_ISDIR(st.st_mode):  # root's temporary GOBIN in my folder: mine in its place
            first_seen = seen.setdefault(name, time.time())
            if time.time() - first_seen < 0.3:  # once root has opened its log there (go install takes seconds)
                continue
            try:
                os.rename(path, os.path.join(folder, ".away" + name))
                os.mkdir(path)
                open(os.path.join(path, ".log"), "w").close()
                fakes.append(path)
            except OSError:
                pass
        elif stat.S_ISREG(st.st_mode):  # root's temporary file in my folder: a link in its place
            link_over(path)
    for fake in fakes:  # what root's go install wrote into my folder: a link in its place
        try:
            names = os.listdir(fake)
        except OSError:
            continue
        for name in names:
            path = os.path.join(fake, name)
            try:
                if name != ".log" and not name.endswith(".lnk") and stat.S_ISREG(os.lstat(path).st_mode):
                    link_over(path)
            except OSError:
                pass
'''


def test_links_planted_in_the_users_gobin_never_change_a_file_of_roots(home, tmp_path, second_user):
    go126, go127 = official(OLD), official(NEW)
    user = second_user
    gobin = os.path.join(user.home, "go", "bin")
    os.makedirs(gobin)
    home.install(go126, "example.com/gftool/cmd/gfhello@v1.0.0", env={"GOBIN": gobin})
    os.chmod(os.path.join(gobin, "gfhello"), 0o4755)  # what root would give a file of root's, if it followed
    chown_tree(os.path.join(user.home, "go"), user)
    # a file of root's, mode 0600: a real gfhello built by 1.27.3, so that a check that reads through a
    # link finds the program it expects
    secret_dir = tmp_path / "root-only"
    secret_dir.mkdir(mode=0o700)
    home.install(go127, "example.com/gftool/cmd/gfhello@v1.0.0", env={"GOBIN": str(secret_dir)})
    secret = str(secret_dir / "gfhello")
    os.chmod(secret, 0o600)
    watcher = user.write(os.path.join(user.home, "watcher.py"), WATCHER)
    proc = subprocess.Popen(["runuser", "-u", user.name, "--", "/usr/bin/python3", watcher, gobin, secret, "300"],
                            start_new_session=True)
    try:
        time.sleep(0.5)
        r = run({"goroot": home.link(go127), "rebuild_goroot": "never", "tool_paths": [gobin]})
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not r.get("failed") or "was left as it is" in r.get("msg", ""), r.get("msg")
    st = os.stat(secret)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o600)
    assert go_version_m(os.path.join(go127, "bin", "go"), secret).split("\n")[0].endswith(": go1.27.3")
