# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The install layout: safe extraction, atomic switch, lock, leftovers, on real archives."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import textwrap

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _layout
from testbed import config


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
EVIL = {
    "absolute": ({"name": "/tmp/gofleet-evil", "mode": 0o644}, b"x"),
    "dotdot": ({"name": "go/../../gofleet-evil", "mode": 0o644}, b"x"),
    "symlink_out": ({"name": "go/evil", "type": tarfile.SYMTYPE, "linkname": "../../../etc/passwd"}, None),
    "symlink_abs": ({"name": "go/evil", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, None),
    "hardlink_out": ({"name": "go/evil", "type": tarfile.LNKTYPE, "linkname": "../etc/passwd"}, None),
    "device": ({"name": "go/evil", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, None),
    "fifo": ({"name": "go/evil", "type": tarfile.FIFOTYPE}, None),
}


@pytest.mark.parametrize("kind", sorted(EVIL))
def test_stage_refuses_members_escaping_or_special(tmp_path, kind):
    root = tmp_path / "root"
    root.mkdir()
    archive = _tar(tmp_path / "evil.tar.gz", [(dict(kw), d) for kw, d in GOOD] + [(dict(EVIL[kind][0]), EVIL[kind][1])])
    layout = _layout.Layout(str(root), str(tmp_path / "active"))
    with pytest.raises(_layout.LayoutError, match="refused"):
        layout.stage(archive)
    assert os.listdir(root) == []  # the staging folder is gone
    assert not os.path.exists("/tmp/gofleet-evil") and not (tmp_path / "gofleet-evil").exists()


CHAINS = {
    # each link points inside on its own; together they lead out (dest/go/x = dest/go, so x/y -> ..
    # is dest, and x/y/y2 -> .. is dest's parent): only a rule about writing through links stops it
    "link_chain": [({"name": "go/x", "type": tarfile.SYMTYPE, "linkname": "."}, None),
                   ({"name": "go/x/y", "type": tarfile.SYMTYPE, "linkname": ".."}, None),
                   ({"name": "go/x/y/y2", "type": tarfile.SYMTYPE, "linkname": ".."}, None),
                   ({"name": "go/x/y/y2/gofleet-evil", "mode": 0o644}, b"x")],
    # a file member written onto an earlier symlink would be written where the link points
    "file_over_link": [({"name": "go/VERSION.link", "type": tarfile.SYMTYPE, "linkname": "VERSION"}, None),
                       ({"name": "go/VERSION.link", "mode": 0o644}, b"go1.0\n")],
}


@pytest.mark.parametrize("kind", sorted(CHAINS))
def test_stage_refuses_writing_through_links(tmp_path, kind):
    root = tmp_path / "deep" / "root"
    root.mkdir(parents=True)
    archive = _tar(tmp_path / "evil.tar.gz", [(dict(kw), d) for kw, d in GOOD + CHAINS[kind]])
    with pytest.raises(_layout.LayoutError, match="goes through a symlink"):
        _layout.Layout(str(root), None).stage(archive)
    assert os.listdir(str(root)) == []
    assert not list(tmp_path.rglob("gofleet-evil"))


def test_stage_accepts_links_inside(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    archive = _tar(tmp_path / "ok.tar.gz", [(dict(kw), d) for kw, d in GOOD] + [
        ({"name": "go/bin", "type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ({"name": "go/bin/VERSION.link", "type": tarfile.SYMTYPE, "linkname": "../VERSION"}, None),
        ({"name": "go/VERSION.hard", "type": tarfile.LNKTYPE, "linkname": "go/VERSION"}, None),
    ])
    goroot = _layout.Layout(str(root), None).stage(archive)
    assert open(os.path.join(goroot, "bin", "VERSION.link")).read() == "go1.27.3\n"
    assert os.stat(os.path.join(goroot, "VERSION.hard")).st_ino == os.stat(os.path.join(goroot, "VERSION")).st_ino


def test_truncated_archive_is_a_clear_error(tmp_path, mirror_tree):
    src = os.path.join(mirror_tree, "go%s.linux-amd64.tar.gz" % config.NEWEST)
    cut = tmp_path / "cut.tar.gz"
    with open(src, "rb") as f:
        cut.write_bytes(f.read(os.path.getsize(src) // 3))
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(_layout.LayoutError, match="damaged or truncated|damaged"):
        _layout.Layout(str(root), None).stage(str(cut))
    assert os.listdir(root) == []


def test_real_archive_stages_commits_and_activates(tmp_path, mirror_tree):
    archive = os.path.join(mirror_tree, "go%s.linux-amd64.tar.gz" % config.NEWEST)
    with tarfile.open(archive) as t:
        members = {m.name for m in t.getmembers()}
    layout = _layout.Layout(str(tmp_path / "root"), str(tmp_path / "bin" / "go-active"))
    layout.lock()
    goroot = layout.stage(archive)
    on_disk = set()
    for d, dirs, files in os.walk(os.path.dirname(goroot)):
        for n in dirs + files:
            on_disk.add(os.path.relpath(os.path.join(d, n), os.path.dirname(goroot)))
    assert on_disk == members
    assert oct(os.stat(os.path.join(goroot, "bin", "go")).st_mode & 0o777) == "0o755"
    target = layout.commit(goroot, config.NEWEST, {"sha256": "x" * 64})
    assert layout.installed() == [config.NEWEST]
    assert layout.health(config.NEWEST, "linux", "amd64") is None
    assert layout.health(config.NEWEST, "linux", "arm64") == "pkg/tool/linux_arm64 missing"
    assert layout.activate(config.NEWEST) is None
    assert os.readlink(layout.active_link) == target and layout.active() == config.NEWEST
    out = subprocess.run([os.path.join(layout.active_link, "bin", "go"), "version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("go version go%s linux/amd64" % config.NEWEST)
    # damaged: VERSION edited -> health says so
    with open(os.path.join(target, "VERSION"), "w") as f:
        f.write("go0.0\n")
    assert layout.health(config.NEWEST, "linux", "amd64") == "VERSION says go0.0"
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
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import fcntl, os, sys, time
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("locked", flush=True)
        time.sleep(2)
        """), str(root / ".lock")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    layout = _layout.Layout(str(root), None)
    with pytest.raises(_layout.LayoutError, match="locked by another run"):
        layout.lock(timeout=0.5)
    assert (root / ".stage-dead").exists()  # nothing touched without the lock
    layout.lock(timeout=30)  # waits for the holder to exit
    holder.wait()
    assert not (root / ".stage-dead").exists() and not (root / ".download-dead-go.tar.gz").exists()
    layout.unlock()


def _tree(root, name, version, goarch="amd64"):
    """A minimal GOROOT shape (VERSION, bin/go, pkg/tool/linux_<arch>): enough for the layout's naming
    and health rules, which read no binary unless given `inspect`."""
    d = root / name
    (d / "bin").mkdir(parents=True)
    (d / "bin" / "go").write_text("")
    (d / "pkg" / "tool" / ("linux_" + goarch)).mkdir(parents=True)
    (d / "VERSION").write_text("go%s\ntime 2026-11-01T00:00:00Z\n" % version)
    return str(d)


def test_a_rebuilt_tree_counts_as_its_version(tmp_path):
    """go_toolchain_rebuild's trees (go<v>-rebuilt.<time>) are named, found, checked and removed by
    the layout, so go_install knows them as that version."""
    root = tmp_path / "root"
    layout = _layout.Layout(str(root), str(tmp_path / "active"))
    layout.lock()
    _tree(root, "go1.27.3", "1.27.3")
    _layout._write_json(layout.meta_path("1.27.3"), {"sha256": "x" * 64})
    name = layout.new_rebuild_name("1.27.3")
    assert _layout.REBUILT_DIR.match("go" + name) and _layout._rebuild_of("go" + name) == "1.27.3"
    _tree(root, "go" + name, "1.27.3")
    assert layout.health(name, "linux", "amd64") == "no record of its rebuild (%s)" % layout.meta_path(name)
    _layout._write_json(layout.meta_path(name), {"rebuilt_from": str(root / "go1.27.3")})
    assert layout.health(name, "linux", "amd64") is None
    second = layout.new_rebuild_name("1.27.3")  # same second: a distinct name
    assert second != name and _layout._rebuild_of("go" + second) == "1.27.3"
    assert layout.installed() == ["1.27.3"] and layout.rebuilds("1.27.3") == ["go" + name]
    assert layout.rebuilds("1.27") == [] and layout.rebuilds("1.26.6") == []
    layout.activate(name)
    assert layout.active_tree() == "go" + name and layout.active() == "1.27.3"
    with open(os.path.join(str(root), "go" + name, "VERSION"), "w") as f:
        f.write("go1.27.2\n")
    assert layout.health(name, "linux", "amd64") == "VERSION says go1.27.2"
    # look-alikes are not ours
    for other in ("go1.27.3-rebuilt", "go1.27.3-rebuilt.today", "go1.27.3-custom.20261125T120102Z"):
        assert not _layout.REBUILT_DIR.match(other) and _layout._rebuild_of(other) is None
    layout.deactivate()
    assert layout.remove("1.27.3", with_rebuilds=True) == ["go1.27.3", "go" + name]
    assert sorted(os.listdir(root)) == [".gofleet", ".lock"] and os.listdir(root / ".gofleet") == []
    layout.unlock()
