# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The install layout on real archives: stage, commit, activate, the lock, leftovers, the manifest
every health check reads, trees of gofleet 0.1.0. Hostile archives, umasks, other users and network
file systems: tests/integration/test_layout_hostile.py."""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _layout
from testbed import config
from testbed.trees import linked_copy, replace_file, tree_digest

NEW = config.NEWEST
RECORD = dict(sha256="x" * 64, version=NEW, os="linux", arch="amd64")


def _tar(path, members):
    """Write a .tar.gz of (TarInfo kwargs, data) pairs."""
    with tarfile.open(path, "w:gz") as t:
        for kw, data in members:
            ti = tarfile.TarInfo(kw.pop("name"))
            for k, v in kw.items():
                setattr(ti, k, v)
            if data is not None:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    return str(path)


GOOD = [({"name": "go", "type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ({"name": "go/VERSION", "mode": 0o644}, b"go1.27.3\n")]


def test_truncated_archive_is_a_clear_error(tmp_path, mirror_tree):
    src = os.path.join(mirror_tree, "go%s.linux-amd64.tar.gz" % NEW)
    cut = tmp_path / "cut.tar.gz"
    with open(src, "rb") as f:
        cut.write_bytes(f.read(os.path.getsize(src) // 20))
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(_layout.LayoutError, match="damaged or truncated|damaged"):
        _layout.Layout(str(root), None).stage(str(cut))
    assert os.listdir(root) == []


def test_stage_reads_an_open_file_from_its_start(tmp_path):
    """go_install hands over the descriptor it opened once (O_NOFOLLOW) and hashed: read from 0."""
    archive = _tar(tmp_path / "ok.tar.gz", [(dict(kw), d) for kw, d in GOOD] + [
        ({"name": "go/bin/go", "mode": 0o755}, b"#!"), ({"name": "go/go.env", "mode": 0o644}, b"GOTOOLCHAIN=auto\n")])
    root = tmp_path / "root"
    root.mkdir()
    fd = os.open(archive, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        f.read(100)  # hashed already: the position is anywhere
        goroot = _layout.Layout(str(root), None).stage(f)
        assert not f.closed  # the caller's to close
    assert open(os.path.join(goroot, "VERSION")).read() == "go1.27.3\n"
    assert oct(os.stat(os.path.join(goroot, "bin", "go")).st_mode & 0o777) == "0o755"
    manifest = _layout._read_json(os.path.join(os.path.dirname(goroot), "manifest.json"))
    assert sorted(manifest["files"]) == ["VERSION", "bin/go"] and manifest["dirs"] == ["bin"]  # go.env left out
    assert manifest["files"]["bin/go"][:2] == [2, 1]


@pytest.fixture(scope="module")
def committed(mirror_tree, tmp_path_factory):
    """An install root where the layout staged, committed and activated the real go1.27.3 once;
    tests work on hard-linked copies (`installed`) and replace files, never rewrite them."""
    base = tmp_path_factory.mktemp("layout")
    layout = _layout.Layout(str(base / "root"), str(base / "bin" / "go"))
    archive = os.path.join(mirror_tree, "go%s.linux-amd64.tar.gz" % NEW)
    with tarfile.open(archive) as t:
        members = {m.name for m in t.getmembers()}
    layout.lock()
    goroot = layout.stage(archive)
    on_disk = set()
    for d, dirs, files in os.walk(os.path.dirname(goroot)):
        for n in dirs + files:
            on_disk.add(os.path.relpath(os.path.join(d, n), os.path.dirname(goroot)))
    assert on_disk == members | {"manifest.json"}
    target = layout.commit(goroot, NEW, RECORD)
    assert layout.activate(NEW) is None
    layout.unlock()
    digest = tree_digest(str(base / "root"))
    yield layout
    assert tree_digest(str(base / "root")) == digest  # no test wrote through a hard link
    assert target


@pytest.fixture
def installed(committed, tmp_path):
    layout = _layout.Layout(str(tmp_path / "root"), str(tmp_path / "bin" / "go"))
    linked_copy(committed.root, layout.root)
    replace_file(os.path.join(layout.root, ".gofleet", "lock"), "")  # a lock of its own (flock is per file)
    os.chmod(os.path.join(layout.root, ".gofleet", "lock"), 0o600)
    layout.lock()
    layout.activate(NEW)
    yield layout
    layout.unlock()


def test_real_archive_committed_activated_and_healthy(installed):
    layout = installed
    target = layout.version_dir(NEW)
    assert layout.installed() == [NEW] and layout.active() == NEW
    assert os.readlink(layout.active_link) == target
    out = subprocess.run([os.path.join(layout.active_link, "bin", "go"), "version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("go version go%s linux/amd64" % NEW)
    state = layout.tree_state(NEW, "linux", "amd64")
    assert state.problem is None and state.version == NEW and state.info["goarch"] == "amd64"
    assert layout.health(NEW, "linux", "amd64") is None
    assert layout.health(NEW, "linux", "arm64") == "installed for linux/amd64, not linux/arm64"
    assert sorted(os.listdir(layout.root)) == [".gofleet", "go" + NEW]
    meta = os.path.join(layout.root, ".gofleet")
    assert sorted(os.listdir(meta)) == ["go%s.json" % NEW, "go%s.manifest.json" % NEW, "lock"]
    assert oct(os.stat(meta).st_mode & 0o777) == "0o700"
    assert {oct(os.stat(os.path.join(meta, n)).st_mode & 0o777) for n in os.listdir(meta)} == {"0o600"}
    replace_file(os.path.join(target, "VERSION"), "go0.0\n")
    assert layout.health(NEW, "linux", "amd64") == "VERSION says go0.0"


@pytest.mark.parametrize("damage", ["zero-length", "truncated"])
def test_a_damaged_compiler_in_the_active_tree_is_found(installed, damage):
    """A power cut leaves zero-length or short files; bin/go alone looks fine."""
    compile_ = os.path.join(installed.version_dir(NEW), "pkg", "tool", "linux_amd64", "compile")
    size = os.path.getsize(compile_)
    with open(compile_, "rb") as f:
        data = b"" if damage == "zero-length" else f.read(size // 2)
    os.unlink(compile_)
    with open(compile_, "wb") as f:
        f.write(data)
    os.chmod(compile_, 0o755)
    problem = installed.health(NEW, "linux", "amd64")
    assert problem == "pkg/tool/linux_amd64/compile is %d bytes, %d when installed (truncated or damaged)" % (
        len(data), size)


def test_full_check_finds_same_size_changes_and_go_env_is_not_judged(installed):
    goroot = installed.version_dir(NEW)
    replace_file(os.path.join(goroot, "go.env"), "GOPROXY=https://proxy.example.com\nGOTOOLCHAIN=local\n")
    assert installed.tree_state(NEW, "linux", "amd64", full=True).problem is None  # the role's go.env
    path = os.path.join(goroot, "src", "fmt", "print.go")
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[100] ^= 0x20
    os.unlink(path)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)
    assert installed.health(NEW, "linux", "amd64") is None  # names and sizes: unchanged
    problem = installed.tree_state(NEW, "linux", "amd64", full=True).problem
    assert problem.startswith("src/fmt/print.go differs from what was installed"), problem


def test_a_tree_of_gofleet_0_1_0_gets_a_manifest_once_and_its_lock_moves(installed, tmp_path):
    """0.1.0 left <root>/.lock (0644), .gofleet 0755 and no manifest: the next run moves the lock,
    tightens the folder and makes the manifest from the tree as it is, with one warning; nothing is
    downloaded or replaced (the tree's files are the same inodes)."""
    layout = installed
    layout.unlock()
    meta = os.path.join(layout.root, ".gofleet")
    os.unlink(layout.manifest_path(NEW))
    os.unlink(os.path.join(meta, "lock"))
    os.chmod(meta, 0o755)
    with open(os.path.join(layout.root, ".lock"), "w"):
        pass
    inode = os.stat(os.path.join(layout.version_dir(NEW), "bin", "go")).st_ino

    check_mode = _layout.Layout(layout.root, layout.active_link)  # no lock: check mode writes nothing
    assert check_mode.health(NEW, "linux", "amd64") is None
    assert "no manifest" in check_mode.warnings[0] and not os.path.exists(layout.manifest_path(NEW))

    fresh = _layout.Layout(layout.root, layout.active_link)
    fresh.lock()
    state = fresh.tree_state(NEW, "linux", "amd64")
    assert state.problem is None and "made from the tree as it is now" in state.warnings[0]
    assert os.path.isfile(fresh.manifest_path(NEW))
    assert fresh.tree_state(NEW, "linux", "amd64").warnings == []  # once
    assert sorted(os.listdir(layout.root)) == [".gofleet", "go" + NEW]  # old lock gone
    assert oct(os.stat(meta).st_mode & 0o777) == "0o700"
    assert os.stat(os.path.join(layout.version_dir(NEW), "bin", "go")).st_ino == inode
    fresh.unlock()
    layout.lock()


def _hold_lock(path, mode, seconds):
    """Another process that holds flock on `path` (created with `mode`) for `seconds`, once it holds it."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import fcntl, os, sys, time
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, int(sys.argv[2], 8))
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("locked", flush=True)
        time.sleep(float(sys.argv[3]))
        """), str(path), oct(mode), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_run_of_0_1_0_holding_the_old_lock_is_waited_for(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    holder = _hold_lock(root / ".lock", 0o644, 1.5)  # a run of 0.1.0 and its lock
    layout = _layout.Layout(str(root), None)
    with pytest.raises(_layout.LayoutError, match="locked by another run"):
        layout.lock(timeout=0.5)
    layout.lock(timeout=30)
    assert holder.poll() is not None and not (root / ".lock").exists()
    layout.unlock()


def test_activate_refuses_a_real_directory(tmp_path):
    (tmp_path / "root" / "go1.2.3").mkdir(parents=True)
    (tmp_path / "usr-local-go").mkdir()
    layout = _layout.Layout(str(tmp_path / "root"), str(tmp_path / "usr-local-go"))
    with pytest.raises(_layout.LayoutError, match="not managed by gofleet"):
        layout.activate("1.2.3")
    assert (tmp_path / "usr-local-go").is_dir() and not (tmp_path / "usr-local-go").is_symlink()


def test_lock_serializes_and_cleans_leftovers_of_dead_runs(tmp_path):
    root = tmp_path / "root"
    (root / ".stage-dead").mkdir(parents=True)
    (root / ".download-dead-go.tar.gz").write_bytes(b"partial")
    (root / ".gofleet" / "private-dead").mkdir(parents=True)
    (root / ".gofleet" / ".tmp-dead").write_text("{")
    os.chmod(root / ".gofleet", 0o700)
    holder = _hold_lock(root / ".gofleet" / "lock", 0o600, 2)
    layout = _layout.Layout(str(root), None)
    with pytest.raises(_layout.LayoutError, match="locked by another run"):
        layout.lock(timeout=0.5)
    assert (root / ".stage-dead").exists()  # nothing touched without the lock
    layout.lock(timeout=30)  # waits for the holder to exit
    holder.wait()
    assert not (root / ".stage-dead").exists() and not (root / ".download-dead-go.tar.gz").exists()
    assert os.listdir(root / ".gofleet") == ["lock"]
    layout.unlock()


def test_private_dir_is_root_only_on_the_trees_file_system(tmp_path):
    layout = _layout.Layout(str(tmp_path / "root"), None)
    layout.lock()
    private = layout.private_dir()
    assert os.path.dirname(os.path.dirname(private)) == layout.root
    st = os.stat(private)
    assert oct(st.st_mode & 0o777) == "0o700" and st.st_uid == os.geteuid()
    assert st.st_dev == os.stat(layout.root).st_dev
    layout.unlock()
    layout.lock()  # a dead run's private folder goes with the other leftovers
    assert not os.path.exists(private)
    layout.unlock()


def test_commit_syncs_the_file_system_before_the_rename_and_fsyncs_the_folders(tmp_path, host_goroot):
    """The order of the real system calls (strace): syncfs of the staging file system, then the
    rename into place, then fsync of the root folder; the link switch, then fsync of its folder."""
    script = tmp_path / "commit.py"
    script.write_text(textwrap.dedent("""
        import os, shutil, sys
        sys.path.insert(0, %r)
        from ansible_collections.gofleet.golang.plugins.module_utils import _layout
        layout = _layout.Layout(sys.argv[1], sys.argv[2])
        layout.lock()
        staged = os.path.join(layout.root, ".stage-x", "go")
        os.makedirs(os.path.join(staged, "bin"))
        shutil.copy(os.path.join(sys.argv[3], "VERSION"), staged)
        os.link(os.path.join(sys.argv[3], "bin", "go"), os.path.join(staged, "bin", "go"))
        print("COMMIT", flush=True)
        layout.commit(staged, "1.27.3", {"sha256": "x" * 64})
        layout.activate("1.27.3")
        """ % config.collections_root()))
    root, link = str(tmp_path / "root"), str(tmp_path / "bin" / "go")
    done = subprocess.run(["strace", "-f", "-e", "trace=syncfs,fsync,rename,renameat,renameat2,write",
                           "-e", "signal=none", sys.executable, str(script), root, link, host_goroot],
                          capture_output=True, text=True, check=True)
    calls = done.stderr[done.stderr.index("COMMIT"):].splitlines()

    def first(pred):
        return next(i for i, line in enumerate(calls) if pred(line))
    sync = first(lambda line: line.split("(")[0].endswith("syncfs") and "= 0" in line)
    into_place = first(lambda line: "rename" in line and ".stage-x/go\"" in line and root + "/go1.27.3\"" in line)
    root_fsync = first(lambda line: "fsync(" in line and line.rstrip().endswith("= 0"))
    switch = first(lambda line: "rename" in line and '"%s"' % link in line)
    assert sync < into_place < switch
    assert [line for line in calls[into_place:switch] if line.lstrip("[pid 0123456789]").startswith("fsync(")]
    assert [line for line in calls[switch:] if line.lstrip("[pid 0123456789]").startswith("fsync(")]
    assert root_fsync < into_place  # the record and manifest folder first
    assert _layout.sync_filesystem(str(tmp_path)) == "syncfs"


def _tree(root, name, version, go_binary, goarch="amd64"):
    """A small GOROOT (VERSION, a real bin/go, pkg/tool/linux_<arch>): enough for the naming and
    health rules."""
    d = root / name
    (d / "bin").mkdir(parents=True)
    shutil.copy(go_binary, str(d / "bin" / "go"))
    (d / "pkg" / "tool" / ("linux_" + goarch)).mkdir(parents=True)
    (d / "VERSION").write_text("go%s\ntime 2026-11-01T00:00:00Z\n" % version)
    return str(d)


def test_a_rebuilt_tree_counts_as_its_version(tmp_path, host_go):
    """go_toolchain_rebuild's trees (go<v>-rebuilt.<time>) are named, found, checked and removed by
    the layout, so go_install knows them as that version."""
    root = tmp_path / "root"
    layout = _layout.Layout(str(root), str(tmp_path / "active"))
    layout.lock()
    _tree(root, "go1.27.3", "1.27.3", host_go)
    _layout._write_json(layout.meta_path("1.27.3"), {"sha256": "x" * 64})
    name = layout.new_rebuild_name("1.27.3")
    assert _layout.REBUILT_DIR.match("go" + name) and _layout._rebuild_of("go" + name) == "1.27.3"
    _tree(root, "go" + name, "1.27.3", host_go)
    assert layout.health(name, "linux", "amd64") == "no record of its rebuild (%s)" % layout.meta_path(name)
    staged = _tree(root / ".stage-r", "go", "1.27.3", host_go)
    os.chmod(os.path.join(staged, "VERSION"), 0o600)  # as make.bash under a umask of 077 leaves it
    shutil.rmtree(str(root / ("go" + name)))
    layout.commit(staged, name, {"rebuilt_from": str(root / "go1.27.3")})
    assert oct(os.stat(os.path.join(layout.version_dir(name), "VERSION")).st_mode & 0o777) == "0o644"
    state = layout.tree_state(name, "linux", "amd64")
    assert state.problem is None and state.warnings == [] and state.info["goarch"] == "amd64"
    second = layout.new_rebuild_name("1.27.3")  # same second: a distinct name
    assert second != name and _layout._rebuild_of("go" + second) == "1.27.3"
    assert layout.installed() == ["1.27.3"] and layout.rebuilds("1.27.3") == ["go" + name]
    assert layout.rebuilds("1.27") == [] and layout.rebuilds("1.26.6") == []
    layout.activate(name)
    assert layout.active_tree() == "go" + name and layout.active() == "1.27.3"
    replace_file(os.path.join(str(root), "go" + name, "VERSION"), "go1.27.2\n")
    assert layout.health(name, "linux", "amd64") == "VERSION says go1.27.2"
    # look-alikes are not ours
    for other in ("go1.27.3-rebuilt", "go1.27.3-rebuilt.today", "go1.27.3-custom.20261125T120102Z"):
        assert not _layout.REBUILT_DIR.match(other) and _layout._rebuild_of(other) is None
    layout.deactivate()
    assert layout.remove("1.27.3", with_rebuilds=True) == ["go1.27.3", "go" + name]
    assert sorted(os.listdir(root)) == [".gofleet"] and os.listdir(root / ".gofleet") == ["lock"]
    layout.unlock()


def test_the_lock_is_a_real_flock(tmp_path):
    layout = _layout.Layout(str(tmp_path / "root"), None)
    layout.lock()
    fd = os.open(os.path.join(layout.root, ".gofleet", "lock"), os.O_RDONLY)
    with pytest.raises(BlockingIOError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)
    layout.unlock()
