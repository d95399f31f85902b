# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""go_toolchain_rebuild for real: official Go 1.26.6 and 1.27.3 toolchains (linux-amd64 and
linux-arm64, unpacked from the test bed's mirror archives), tools installed by Go 1.26 from a
file:// GOPROXY of small modules each test writes, real make.bash runs.

Only one test runs a complete make.bash (about 6 minutes on 2 cores, more on a busy machine):
test_SLOW_examples_rebuild_an_official_arm64_distribution_from_its_own_source. It runs once per
CI run and caches nothing: the rebuilt tree lives in the test's temporary folder. Set
GOFLEET_SKIP_MAKE_BASH=1 to leave it out of a local run. The failure tests stop make.bash early
(a time limit, a broken source copy), so they are quick.

GOROOTs under test are `cp -al` copies of the cached official trees (hard links, made in a
second): the module only renames and removes folders in a tree it did not build and writes its
builds into new files, so the cache is never modified through a link (asserted at the end).
The amd64 host runs the arm64 `go` through qemu-user binfmt only where a test says so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pytest
import yaml

from ansible_collections.gofleet.golang.plugins.module_utils import _binary
from ansible_collections.gofleet.golang.plugins.modules import go_install, go_toolchain_rebuild

from testbed import ansible_module, config, mirror
from testbed.trees import linked_copy, replace_file, tree_digest

OLD, NEW = config.OLDSTABLE, config.NEWEST  # 1.26.6, 1.27.3
SLOW = pytest.mark.skipif(os.environ.get("GOFLEET_SKIP_MAKE_BASH") == "1", reason="GOFLEET_SKIP_MAKE_BASH=1")


# ---- real trees -------------------------------------------------------------------------------------
def official(version, arch="amd64"):
    """A real official GOROOT of version/arch, unpacked once from the mirror's archive (cached)."""
    return mirror.host_goroot(version, arch)


def go_version_m(go, exe):
    return subprocess.run([go, "version", "-m", exe], capture_output=True, text=True, check=True).stdout


# ---- a file:// module proxy ----------------------------------------------------------------------
MAIN = 'package main\n\nimport "fmt"\n\nvar version = "dev"\n\nfunc main() { fmt.Println("%s", version) }\n'


def add_module(proxy, path, version, files, go_line):
    gomod = "module %s\n\ngo %s\n" % (path, go_line)
    d = os.path.join(proxy, path, "@v")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, version + ".mod"), "w") as f:
        f.write(gomod)
    with open(os.path.join(d, version + ".info"), "w") as f:
        json.dump({"Version": version, "Time": "2026-11-01T00:00:00Z"}, f)
    with zipfile.ZipFile(os.path.join(d, version + ".zip"), "w") as z:
        z.writestr("%s@%s/go.mod" % (path, version), gomod)
        for name, text in files.items():
            z.writestr("%s@%s/%s" % (path, version, name), text)
    with open(os.path.join(d, "list"), "a") as f:
        f.write(version + "\n")


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    p = str(tmp_path_factory.mktemp("goproxy"))
    add_module(p, "example.com/gftool", "v1.0.0", {"cmd/gfhello/main.go": MAIN % "gfhello"}, "1.26")
    add_module(p, "example.com/gfstamp", "v1.2.0", {"main.go": MAIN % "gfstamp"}, "1.26")
    add_module(p, "example.com/gfnew", "v1.0.0", {"main.go": MAIN % "gfnew"}, NEW)  # needs Go >= 1.27.3
    return p


@pytest.fixture(scope="module")
def gocache():
    """The test bed's build cache (config.GOCACHE), kept between runs."""
    os.makedirs(config.GOCACHE, exist_ok=True)
    return config.GOCACHE


class Home:
    """A user of this machine: temporary HOME and GOPATH, Go settings only from the environment."""

    def __init__(self, tmp_path, monkeypatch, proxy, gocache):
        self.tmp = tmp_path
        self.home = tmp_path / "home"
        self.home.mkdir()
        for k in list(os.environ):
            if k.startswith(("GO", "CGO_")):
                monkeypatch.delenv(k)
        self.gopath = str(self.home / "go")
        self.bin = os.path.join(self.gopath, "bin")
        monkeypatch.setenv("HOME", str(self.home))
        monkeypatch.setenv("GOPATH", self.gopath)
        monkeypatch.setenv("GOCACHE", gocache)
        monkeypatch.setenv("GOMODCACHE", str(tmp_path / "modcache"))
        # offline: the file:// proxy, no checksum database, no toolchain downloads (decisions.md)
        monkeypatch.setenv("GOPROXY", "file://" + proxy)
        monkeypatch.setenv("GOSUMDB", "off")
        monkeypatch.setenv("GOTOOLCHAIN", "local")
        monkeypatch.setenv("GOFLAGS", "-mod=mod")

    def install(self, goroot, target, *flags, env=None):
        """`go install` with a real toolchain, as a user did before the upgrade."""
        done = subprocess.run([os.path.join(goroot, "bin", "go"), "install"] + list(flags) + [target],
                              env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                              check=False, cwd=str(self.tmp))
        assert done.returncode == 0, done.stderr
        return done

    def link(self, goroot, name="usr-local-go"):
        link = str(self.tmp / name)
        os.symlink(goroot, link)
        return link


@pytest.fixture
def home(tmp_path, monkeypatch, proxy, gocache):
    return Home(tmp_path, monkeypatch, proxy, gocache)


def run(args, check_mode=False, diff=False):
    return ansible_module.call(go_toolchain_rebuild.main, args, check_mode=check_mode, diff=diff)


def by_name(result):
    return {os.path.basename(t["path"]): t for t in result["tools"]}


# ---- tools ----------------------------------------------------------------------------------------------
def test_tools_built_by_go_1_26_are_rebuilt_by_1_27_and_a_second_run_changes_nothing(home, tmp_path):
    go126, go127 = official(OLD), official(NEW)
    home.install(go126, "example.com/gftool/cmd/gfhello@v1.0.0", "-trimpath", "-tags=netgo,osusergo",
                 env={"CGO_ENABLED": "0"})
    home.install(go126, "example.com/gfstamp@v1.2.0", "-tags=gofleet", "-ldflags=-s -w -X main.version=v1.2.0")
    # a foreign-architecture build of the same tool, renamed by its user
    home.install(go126, "example.com/gftool/cmd/gfhello@v1.0.0", env={"GOARCH": "arm64"})
    shutil.move(os.path.join(home.bin, "linux_arm64", "gfhello"), os.path.join(home.bin, "gfhello-arm"))
    os.rmdir(os.path.join(home.bin, "linux_arm64"))
    # built from a local checkout: (devel)
    src = tmp_path / "checkout"
    src.mkdir()
    (src / "go.mod").write_text("module example.com/gflocal\n\ngo 1.26\n")
    (src / "main.go").write_text(MAIN % "gflocal")
    subprocess.run([os.path.join(go126, "bin", "go"), "build", "-o", os.path.join(home.bin, "gflocal"), "."],
                   cwd=str(src), check=True)
    with open(os.path.join(home.bin, "notgo.sh"), "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    os.chmod(os.path.join(home.bin, "notgo.sh"), 0o755)
    os.chmod(os.path.join(home.bin, "gfstamp"), 0o750)
    before = {n: os.stat(os.path.join(home.bin, n)).st_mtime_ns for n in os.listdir(home.bin)}
    link = home.link(go127)  # "Go upgraded to 1.27": the link now points at 1.27.3

    plan = run({"goroot": link}, check_mode=True, diff=True)
    assert not plan.get("failed"), plan.get("msg")
    tools = by_name(plan)
    assert {n: t["status"] for n, t in tools.items()} == {
        "gfhello": "would_rebuild", "gfstamp": "would_rebuild", "gfhello-arm": "would_rebuild",
        "gflocal": "not_rebuildable", "notgo.sh": "skipped"}
    # found through `go env` (Go 1.27 reports the effective GOBIN, GOPATH/bin, where 1.26 printed "")
    assert {t["origin"] for t in tools.values()} == {"GOBIN"}
    assert plan["changed"] is True and [a["action"] for a in plan["actions"]] == ["rebuild_tool"] * 3
    assert "(devel)" in tools["gflocal"]["reason"]
    assert tools["gfhello-arm"]["reason"] == "built by go1.26.6, the toolchain is go1.27.3; built for arm64, this host is amd64"
    assert tools["gfstamp"]["command"] == ["install", "-ldflags=-s -w -X main.version=v1.2.0", "-tags=gofleet",
                                           "example.com/gfstamp@v1.2.0"]
    assert "gfhello: go1.26.6 linux/amd64" in plan["diff"]["before"]
    assert before == {n: os.stat(os.path.join(home.bin, n)).st_mtime_ns for n in os.listdir(home.bin)}
    assert plan["goroot"]["rebuilt"] is False and plan["goroot"]["problems"] == []

    done = run({"goroot": link})
    assert not done.get("failed"), done.get("msg")
    tools = by_name(done)
    assert {n: t["status"] for n, t in tools.items()} == {
        "gfhello": "rebuilt", "gfstamp": "rebuilt", "gfhello-arm": "rebuilt",
        "gflocal": "not_rebuildable", "notgo.sh": "skipped"}
    assert sorted(os.listdir(home.bin)) == ["gfhello", "gfhello-arm", "gflocal", "gfstamp", "notgo.sh"]
    go = os.path.join(go127, "bin", "go")
    for name in ("gfhello", "gfstamp", "gfhello-arm"):
        shown = go_version_m(go, os.path.join(home.bin, name))  # the real go, not our reader
        assert shown.split("\n")[0].endswith(": go1.27.3"), shown
        assert "GOARCH=amd64" in shown
        assert tools[name]["after"]["go_version"] == "go1.27.3" and tools[name]["before"]["go_version"] == "go1.26.6"
    stamp = go_version_m(go, os.path.join(home.bin, "gfstamp"))
    assert "-ldflags=\"-s -w -X main.version=v1.2.0\"" in stamp and "-tags=gofleet" in stamp
    hello = go_version_m(go, os.path.join(home.bin, "gfhello"))
    assert "-trimpath=true" in hello and "-tags=netgo,osusergo" in hello and "CGO_ENABLED=0" in hello
    assert tools["gfhello"]["notes"]  # -trimpath hid any -ldflags
    assert subprocess.run([os.path.join(home.bin, "gfstamp")], capture_output=True, text=True,
                          check=True).stdout == "gfstamp v1.2.0\n"
    assert subprocess.run([os.path.join(home.bin, "gfhello-arm")], capture_output=True, text=True,
                          check=True).stdout == "gfhello dev\n"
    assert _binary.inspect(os.path.join(home.bin, "gfhello-arm"))["goarch"] == "amd64"
    assert os.stat(os.path.join(home.bin, "gfstamp")).st_mode & 0o777 == 0o750  # mode kept
    assert os.stat(os.path.join(home.bin, "gflocal")).st_mtime_ns == before["gflocal"]
    actions = {os.path.basename(a["path"]): a for a in done["actions"]}
    assert actions["gfstamp"]["before"]["go_version"] == "go1.26.6" and actions["gfstamp"]["after"]["go_version"] == "go1.27.3"

    again = run({"goroot": link})
    assert again["changed"] is False and again["actions"] == []
    assert {n: t["status"] for n, t in by_name(again).items()} == {
        "gfhello": "current", "gfstamp": "current", "gfhello-arm": "current",
        "gflocal": "not_rebuildable", "notgo.sh": "skipped"}


def test_a_tool_needing_a_newer_go_is_reported_not_failed_and_not_looped(home):
    go126, go127 = official(OLD), official(NEW)
    home.install(go127, "example.com/gfnew@v1.0.0")
    home.install(go127, "example.com/gftool/cmd/gfhello@v1.0.0")
    exe = os.path.join(home.bin, "gfnew")
    mtime = os.stat(exe).st_mtime_ns
    link = home.link(go126)  # back to 1.26 (a rollback): gfnew's go.mod says go 1.27.3
    for attempt in range(2):
        r = run({"goroot": link, "tool_paths": [home.bin]})
        assert not r.get("failed"), r.get("msg")
        tools = by_name(r)
        assert tools["gfnew"]["status"] == "needs_newer_go" and tools["gfnew"]["required_go"] == NEW
        assert "GOTOOLCHAIN=local" in tools["gfnew"]["reason"]
        assert tools["gfhello"]["status"] == ("rebuilt" if attempt == 0 else "current")
        assert [os.path.basename(a["path"]) for a in r["actions"]] == (["gfhello"] if attempt == 0 else [])
    assert os.stat(exe).st_mtime_ns == mtime
    assert "go1.27.3" in go_version_m(os.path.join(go126, "bin", "go"), exe).split("\n")[0]
    assert not [n for n in os.listdir(home.bin) if n.startswith(".")]  # no temporary GOBIN left


# ---- clean --------------------------------------------------------------------------------------------
def test_foreign_pkg_tool_dirs_are_cleaned_and_kept_ones_stay(home, go_binaries):
    cached = official(NEW)
    digest = tree_digest(cached)
    tree = linked_copy(cached, str(home.tmp / "go1.27.3"))
    for plat in ("linux_arm64", "darwin_amd64"):  # real foreign tools, as Rosetta or a copied tree leaves them
        os.makedirs(os.path.join(tree, "pkg", "tool", plat))
        goos, goarch = plat.split("_")
        shutil.copy(os.path.join(go_binaries, "%s-%s" % (goos, goarch), "go"), os.path.join(tree, "pkg", "tool", plat, "compile"))
    link = home.link(tree)
    args = {"goroot": link, "keep_tool_dirs": ["linux_arm64"], "rebuild_tools": False}
    plan = run(args, check_mode=True)
    assert plan["changed"] is True and plan["removed_tool_dirs"] == [os.path.join(tree, "pkg", "tool", "darwin_amd64")]
    assert sorted(os.listdir(os.path.join(tree, "pkg", "tool"))) == ["darwin_amd64", "linux_amd64", "linux_arm64"]
    done = run(args)
    assert done["changed"] is True and done["actions"][0]["action"] == "remove_tool_dir"
    assert sorted(os.listdir(os.path.join(tree, "pkg", "tool"))) == ["linux_amd64", "linux_arm64"]
    assert done["goroot"]["rebuilt"] is False and not done["goroot"]["problems"]
    again = run(args)
    assert again["changed"] is False and again["removed_tool_dirs"] == []
    without_keep = run({"goroot": link, "rebuild_tools": False})
    assert without_keep["removed_tool_dirs"] == [os.path.join(tree, "pkg", "tool", "linux_arm64")]
    # the cleaned toolchain still builds
    (home.tmp / "p").mkdir()
    (home.tmp / "p" / "go.mod").write_text("module p\n")
    (home.tmp / "p" / "main.go").write_text("package main\n\nfunc main() {}\n")
    subprocess.run([os.path.join(link, "bin", "go"), "build", "-o", os.devnull, "."], cwd=str(home.tmp / "p"), check=True)
    assert tree_digest(cached) == digest


# ---- rebuild: planning and failures (fast) --------------------------------------------------------
def layout_with(home, active, others=()):
    """<tmp>/opt-go/go<version> trees (hard-linked copies) and a link to the active one."""
    root = home.tmp / "opt-go"
    root.mkdir()
    for version, src in [active] + list(others):
        linked_copy(src, str(root / ("go" + version)))
    return str(root), home.link(str(root / ("go" + active[0])))


def test_a_foreign_goroot_is_planned_in_check_mode_with_an_installed_bootstrap(home):
    from testbed import images  # pylint: disable=import-outside-toplevel
    images.ensure_binfmt()  # the arm64 tree's go runs under qemu-user here: it is probed as a candidate too
    root, link = layout_with(home, (NEW, official(NEW, "arm64")), [(OLD, official(OLD))])
    r = run({"goroot": link, "rebuild_tools": False}, check_mode=True)
    assert not r.get("failed"), r.get("msg")
    g = r["goroot"]
    assert g["goarch"] == "arm64" and g["rebuilt"] is False
    assert g["reason"].startswith("bin/go is built for linux/arm64, this host is linux/amd64; bin/gofmt is built for linux/arm64")
    assert "pkg/tool/linux_amd64 is missing" in g["problems"]
    # the bootstrap: a native installed Go new enough (the arm64 1.27.3 runs, but only emulated)
    assert g["bootstrap"]["goroot"] == os.path.join(root, "go" + OLD)
    assert g["bootstrap"]["native"] is True and g["bootstrap"]["minimum"] == "1.24.6"
    assert [a["action"] for a in r["actions"]] == ["rebuild_goroot"] and r["changed"] is True
    assert r["actions"][0]["after"]["goarch"] == "amd64"
    assert sorted(os.listdir(root)) == ["go" + OLD, "go" + NEW]  # check mode: no lock, no staging
    assert os.readlink(link) == os.path.join(root, "go" + NEW)


def test_a_bootstrap_older_than_make_bash_asks_for_is_refused(home):
    root, link = layout_with(home, (NEW, official(NEW)))
    make = os.path.join(root, "go" + NEW, "src", "make.bash")
    with open(make) as f:
        text = f.read()
    replace_file(make, text.replace("bootgo=1.24.6", "bootgo=1.27.0"))
    r = run({"goroot": link, "rebuild_goroot": "always", "bootstrap_goroot": official(OLD), "rebuild_tools": False})
    assert r.get("failed") and "is Go 1.26.6; building Go 1.27.3 needs Go >= 1.27.0" in r["msg"]
    assert sorted(os.listdir(root)) == ["go" + NEW]


def _assert_old_still_active(root, link, msg_words, r):
    assert r.get("failed") and msg_words in r["msg"], r.get("msg")
    assert "the active GOROOT (%s) was not touched" % os.path.join(root, "go" + NEW) in r["msg"]
    assert os.readlink(link) == os.path.join(root, "go" + NEW)
    assert [n for n in os.listdir(root) if not n.startswith(".")] == ["go" + NEW]
    assert not [n for n in os.listdir(root) if n.startswith(".stage-")]  # the staging copy is gone
    done = subprocess.run([os.path.join(link, "bin", "go"), "version"], capture_output=True, text=True, check=True)
    assert done.stdout == "go version go1.27.3 linux/amd64\n"


def test_make_bash_past_its_time_limit_leaves_the_old_goroot_active(home, tmp_path, monkeypatch):
    root, link = layout_with(home, (NEW, official(NEW)))
    system_tmp = tmp_path / "system-tmp"  # the node's TMPDIR: the stopped build leaves nothing there
    system_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    started = time.time()
    r = run({"goroot": link, "rebuild_goroot": "always", "bootstrap_goroot": official(OLD), "build_timeout": 8,
             "rebuild_tools": False})
    _assert_old_still_active(root, link, "did not finish within build_timeout=8 s", r)
    assert time.time() - started < 120
    assert "Building Go cmd/dist using" in r["msg"]  # it was really building when stopped
    assert not subprocess.run(["pgrep", "-f", os.path.join(root, ".stage-")], capture_output=True, check=False).stdout  # nothing left running
    assert os.listdir(system_tmp) == []  # dist's go-tool-dist-* went to the staging folder, removed with it


def test_a_broken_source_copy_fails_midway_and_leaves_the_old_goroot_active(home):
    root, link = layout_with(home, (NEW, official(NEW)))
    replace_file(os.path.join(root, "go" + NEW, "src", "cmd", "dist", "build.go"), "package main\n\nthis is not Go\n")
    r = run({"goroot": link, "rebuild_goroot": "always", "bootstrap_goroot": official(OLD), "rebuild_tools": False})
    _assert_old_still_active(root, link, "make.bash failed (rc 1)", r)
    assert "build.go" in r["msg"]


def test_sigterm_during_make_bash_stops_the_build_and_leaves_the_old_goroot_active(home):
    root, link = layout_with(home, (NEW, official(NEW)))
    proc = ansible_module.start("go_toolchain_rebuild", {"goroot": link, "rebuild_goroot": "always",
                                                         "bootstrap_goroot": official(OLD), "rebuild_tools": False})
    deadline = time.time() + 120
    while time.time() < deadline:
        logs = [os.path.join(root, n, "make.log") for n in os.listdir(root) if n.startswith(".stage-")]
        if logs and os.path.exists(logs[0]) and os.path.getsize(logs[0]) > 0:
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("make.bash did not start")
    proc.send_signal(signal.SIGTERM)
    r = ansible_module.finish(proc, timeout=120)
    assert r.get("failed") and "stopped by SIGTERM" in r["msg"]
    assert os.readlink(link) == os.path.join(root, "go" + NEW)
    assert not [n for n in os.listdir(root) if n.startswith(".stage-")]
    assert not subprocess.run(["pgrep", "-f", os.path.join(root, ".stage-")], capture_output=True, check=False).stdout


def processes_in(folder):
    """Pids of the processes whose working directory is inside `folder` (the build's)."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cwd = os.readlink("/proc/%s/cwd" % name)
            except OSError:
                continue
            if cwd == folder or cwd.startswith(folder + os.sep):
                pids.append(int(name))
    return pids


def test_sigkill_of_the_module_leaves_the_build_holding_the_lock_until_it_ends(home):
    """A module killed with SIGKILL cannot stop its build: the orphaned make.bash keeps the layout lock
    (it inherited the lock file), so another run waits instead of deleting the folder it builds in;
    once the build is gone, the next run takes the lock and removes the leftovers."""
    root, link = layout_with(home, (NEW, official(NEW)))
    args = {"goroot": link, "rebuild_goroot": "always", "bootstrap_goroot": official(OLD), "rebuild_tools": False}
    proc = ansible_module.start("go_toolchain_rebuild", args)
    deadline = time.time() + 120
    stage = None
    while time.time() < deadline and not stage:
        stages = [n for n in os.listdir(root) if n.startswith(".stage-")]
        log = os.path.join(root, stages[0], "make.log") if stages else None
        stage = stages[0] if log and os.path.exists(log) and os.path.getsize(log) > 0 else None
        time.sleep(0.5)
    assert stage, "make.bash did not start"
    proc.kill()
    proc.communicate(timeout=30)
    orphans = processes_in(os.path.join(root, stage))
    assert orphans, "the build died with the module"
    try:
        blocked = run(dict(args, lock_timeout=2))
        assert blocked.get("failed") and "is locked by another run" in blocked["msg"]
        assert stage in os.listdir(root) and os.readlink(link) == os.path.join(root, "go" + NEW)
    finally:
        for pid in orphans:  # end the orphaned build (its process group)
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except OSError:
                pass
    time.sleep(1)
    again = run(dict(args, build_timeout=5))
    assert again.get("failed") and "did not finish within build_timeout=5 s" in again["msg"]
    assert not [n for n in os.listdir(root) if n.startswith(".stage-")]  # the dead run's folder and its own
    assert os.readlink(link) == os.path.join(root, "go" + NEW)


# ---- the one real make.bash: EXAMPLES through ansible-playbook (SLOW) --------------------------------
def _playbook(tmp_path, tasks, name):
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    path = tmp_path / (name + ".yml")
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", str(path)],
                          env=env, capture_output=True, text=True, check=False, timeout=3600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    results = json.loads(done.stdout)
    return [t["hosts"]["localhost"] for t in results["plays"][0]["tasks"]]


@SLOW
def test_SLOW_examples_rebuild_an_official_arm64_distribution_from_its_own_source(home, tmp_path, go_mirror, timing):
    """The issue's case, for real: the active Go is the official linux-arm64 1.27.3 distribution (as
    a Mac moved between architectures, or a tree copied from another host, has it) on this amd64 host.
    EXAMPLES[0] rebuilds it from its own src/ with make.bash and the official 1.26.6 as bootstrap
    (about 6 minutes), verified native, swapped in; the tools are rebuilt by the result. The other
    examples then run as written; EXAMPLES[4] (build_env GOAMD64=v3) would be a second make.bash and
    runs in check mode only (it must plan that rebuild). A second pass of the playbook changes nothing.
    """
    cached_arm, cached_old = official(NEW, "arm64"), official(OLD)
    digests = (tree_digest(cached_arm), tree_digest(cached_old))
    root, link = layout_with(home, (NEW, cached_arm), [(OLD, cached_old)])
    os.makedirs(os.path.join(root, "go" + NEW, "pkg", "tool", "darwin_amd64"))  # a leftover of another host too
    home.install(cached_old, "example.com/gftool/cmd/gfhello@v1.0.0", "-trimpath")
    home.install(cached_old, "example.com/gfstamp@v1.2.0", "-ldflags=-X main.version=v1.2.0")
    tasks = yaml.safe_load(go_toolchain_rebuild.EXAMPLES.replace("/usr/local/go", link).replace(
        "/opt/go/go1.26.6", os.path.join(root, "go" + OLD)).replace("/home/deploy/go/bin", home.bin))
    assert len(tasks) == 5
    # environment of EXAMPLES[3]: this test bed's offline proxy instead of proxy.golang.org
    tasks[3]["environment"] = {"GOPROXY": os.environ["GOPROXY"], "GOPRIVATE": "example.com/private"}
    tasks[4]["check_mode"] = True  # a second make.bash: planned, not run (see the docstring)
    tasks[4]["register"] = "v3"

    started = time.time()
    first = _playbook(tmp_path, tasks, "examples")
    seconds = time.time() - started
    rebuilt = first[0]
    assert rebuilt["changed"] is True and rebuilt["goroot"]["rebuilt"] is True, rebuilt
    new_tree = os.readlink(link)
    assert os.path.dirname(new_tree) == root and os.path.basename(new_tree).startswith("go1.27.3-rebuilt.")
    assert rebuilt["goroot"]["previous"] == os.path.join(root, "go" + NEW)  # kept for rollback, untouched
    assert _binary.inspect(os.path.join(root, "go" + NEW, "bin", "go"))["goarch"] == "arm64"
    assert rebuilt["goroot"]["bootstrap"]["goroot"] == os.path.join(root, "go" + OLD)
    assert rebuilt["goroot"]["bootstrap"]["version"] == OLD
    # verified native from outside: headers of every binary, the real go version, a real build
    for exe in [os.path.join(new_tree, "bin", n) for n in ("go", "gofmt")] + [
            os.path.join(new_tree, "pkg", "tool", "linux_amd64", n) for n in os.listdir(os.path.join(new_tree, "pkg", "tool", "linux_amd64"))]:
        info = _binary.inspect(exe)
        assert (info["goos"], info["goarch"]) == ("linux", "amd64"), exe
    assert sorted(os.listdir(os.path.join(new_tree, "pkg", "tool"))) == ["linux_amd64"]
    go = os.path.join(link, "bin", "go")
    assert subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout == \
        "go version go1.27.3 linux/amd64\n"
    assert subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, check=True).stdout.strip() == new_tree
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "go.mod").write_text("module p\n")
    (tmp_path / "p" / "main.go").write_text(MAIN % "p")
    subprocess.run([go, "build", "-o", str(tmp_path / "p" / "p"), "."], cwd=str(tmp_path / "p"), check=True)
    assert subprocess.run([str(tmp_path / "p" / "p")], capture_output=True, text=True, check=True).stdout == "p dev\n"
    # tools rebuilt by the rebuilt toolchain, in the same task
    tools = by_name(rebuilt)
    assert tools["gfhello"]["status"] == "rebuilt" and tools["gfstamp"]["status"] == "rebuilt"
    assert "main.version=v1.2.0" in go_version_m(go, os.path.join(home.bin, "gfstamp"))
    assert go_version_m(go, os.path.join(home.bin, "gfhello")).split("\n")[0].endswith(": go1.27.3")
    # EXAMPLES[1] and [2] see nothing left to do; [3] finds the tools current; [4] plans a GOAMD64=v3 rebuild
    assert first[1]["changed"] is False and first[1]["actions"] == []
    assert first[3]["changed"] is False and {t["status"] for t in first[3]["tools"]} == {"current"}
    assert first[4]["changed"] is True and first[4]["goroot"]["reason"] == "built with no build_env, build_env asks GOAMD64=v3"
    assert rebuilt["goroot"]["seconds"]["make"] > 60
    timing("make.bash through go_toolchain_rebuild (playbook)", seconds)
    timing("  of which make.bash itself", rebuilt["goroot"]["seconds"]["make"])

    second = _playbook(tmp_path, tasks, "examples-again")
    assert [t["changed"] for t in second] == [False, False, False, False, True]
    assert os.readlink(link) == new_tree
    assert (tree_digest(cached_arm), tree_digest(cached_old)) == digests

    # go_install of the same version afterwards keeps the rebuilt tree active: it is go1.27.3. Its
    # official tree (the arm64 one, with no go_install record) is reinstalled from the mirror beside it.
    r = ansible_module.call(go_install.main, dict(version=NEW, base_url=go_mirror.url, install_root=root,
                                                  active_link=link))
    assert not r.get("failed") and r["goroot"] == r["active_goroot"] == new_tree and os.readlink(link) == new_tree, r
    assert _binary.inspect(os.path.join(root, "go" + NEW, "bin", "go"))["goarch"] == "amd64"
    assert (tree_digest(cached_arm), tree_digest(cached_old)) == digests


# ---- Python 3.8 on the managed node --------------------------------------------------------------------
PY38 = os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python")


@pytest.mark.skipif(not os.path.exists(PY38), reason="pyenv's Python 3.8.18 is not installed")
def test_the_module_runs_on_python_3_8(home):
    """The module as Ansible runs it in the end (python module.py args.json), with Python 3.8 and
    ansible-core's module_utils only: a real tool rebuild."""
    import ansible  # pylint: disable=import-outside-toplevel
    go126, go127 = official(OLD), official(NEW)
    home.install(go126, "example.com/gftool/cmd/gfhello@v1.0.0")
    libs = home.tmp / "py38-path"
    libs.mkdir()
    os.symlink(os.path.dirname(ansible.__file__), str(libs / "ansible"))  # ansible-core only, not the 3.11 venv
    args = home.tmp / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"goroot": home.link(go127), "rebuild_goroot": "never"}}))
    done = subprocess.run([PY38, os.path.join(config.REPO, "plugins", "modules", "go_toolchain_rebuild.py"), str(args)],
                          env=dict(os.environ, PYTHONPATH=config.collections_root() + os.pathsep + str(libs)),
                          capture_output=True, text=True, check=False, timeout=600)
    result = json.loads(done.stdout[done.stdout.index("{"):])
    assert not result.get("failed"), result.get("msg")
    assert by_name(result)["gfhello"]["status"] == "rebuilt"
    assert go_version_m(os.path.join(go127, "bin", "go"), os.path.join(home.bin, "gfhello")).split("\n")[0].endswith(": go1.27.3")
