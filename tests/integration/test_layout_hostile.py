# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The install layout against the attacks of issue 14, each performed for real on this machine:
crafted archives (made with tarfile), umasks 000 and 077, a real second Unix user who owns or can
write a folder the layout relies on, and a real network file system (sshfs against a private
sshd on 127.0.0.1; NFS itself cannot be mounted here).

Each test fails without its defence in plugins/module_utils/_layout.py."""

from __future__ import annotations

import io
import os
import pathlib
import shutil
import socket
import stat
import subprocess
import tarfile
import tempfile
import time

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _layout, _tree
from testbed import config

NEW = config.NEWEST
RECORD = dict(sha256="x" * 64, version=NEW, os="linux", arch="amd64")


def _tar(path, members):
    """A .tar.gz of (name, kind, data or link target) members; kind: file, dir, sym, hard, chr, fifo."""
    types = dict(file=tarfile.REGTYPE, dir=tarfile.DIRTYPE, sym=tarfile.SYMTYPE, hard=tarfile.LNKTYPE,
                 chr=tarfile.CHRTYPE, fifo=tarfile.FIFOTYPE)
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data in members:
            ti = tarfile.TarInfo(name)
            ti.type = types[kind]
            ti.mode = 0o755 if kind == "dir" else 0o644
            if kind in ("sym", "hard"):
                ti.linkname = data
                t.addfile(ti)
            elif kind == "file":
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    return str(path)


BASE = [("go", "dir", None), ("go/VERSION", "file", b"go1.27.3\n")]
ATTACKS = {
    # issue 14's chain: each link looks inside on its own, together they lead out, and a hard link
    # through them would link an outside file into the GOROOT
    "link_chain": ([("go/a/b/c/d/s", "sym", "../../../../.."), ("go/a/b/c/d/t", "sym", "s/../.."),
                    ("go/evil", "hard", "go/a/b/c/d/t/etc/passwd")], "is a symlink; refused"),
    "symlink_inside": ([("go/bin/VERSION.link", "sym", "../VERSION")], "is a symlink; refused"),
    "hardlink_inside": ([("go/VERSION.hard", "hard", "go/VERSION")], "is a hard link; refused"),
    "device": ([("go/evil", "chr", None)], "is a device node; refused"),
    "fifo": ([("go/evil", "fifo", None)], "is a FIFO; refused"),
    # macOS: one folder; T/x would be written through whatever t is
    "case_collision": ([("go/t", "file", b"x"), ("go/T/x", "file", b"x")], "differ only in case"),
    "case_collision_dirs": ([("go/Src", "dir", None), ("go/src/x", "file", b"x")], "differ only in case"),
    "normalisation": ([("go/caf\u00e9", "file", b"x"), ("go/cafe\u0301", "file", b"x")], "differ only in case"),
    "long_component": ([("go/" + "x" * 256, "file", b"x")], "over-long name"),
    "long_path": ([("go/" + "/".join(["d" * 200] * 6), "file", b"x")], "over-long name"),
    "duplicate": ([("go/VERSION", "file", b"go1.0\n")], "appears twice"),
    "file_then_dir": ([("go/x", "file", b"x"), ("go/x", "dir", None)], "appears twice"),
    "absolute": ([("/tmp/gofleet-evil", "file", b"x")], "absolute path"),
    "dotdot": ([("go/../../gofleet-evil", "file", b"x")], "outside the install folder"),
    "outside_go": ([("gofleet-evil", "file", b"x")], "outside the archive's go/ folder"),
    "control_chars": ([("go/evil\nname", "file", b"x")], "control characters"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_crafted_archives_are_refused_and_leave_nothing(tmp_path, attack):
    members, words = ATTACKS[attack]
    root = tmp_path / "deep" / "er" / "root"
    root.mkdir(parents=True)
    archive = _tar(tmp_path / "evil.tar.gz", BASE + members)
    with pytest.raises(_layout.LayoutError, match=words):
        _layout.Layout(str(root), None).stage(archive)
    assert os.listdir(str(root)) == []  # the staging folder is gone
    assert not list(tmp_path.rglob("gofleet-evil")) and not os.path.exists("/tmp/gofleet-evil")


def test_a_plain_archive_of_files_and_folders_is_accepted(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    archive = _tar(tmp_path / "ok.tar.gz", BASE + [
        ("go/bin/go", "file", b"#!"), ("go/src/fmt/print.go", "file", b""), ("go/src", "dir", None),
        ("go/src/Makefile", "file", b"")])
    goroot = _layout.Layout(str(root), None).stage(archive)
    assert sorted(os.listdir(os.path.join(goroot, "src"))) == ["Makefile", "fmt"]
    assert open(os.path.join(goroot, "VERSION")).read() == "go1.27.3\n"


# ---- umask -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_go(host_goroot, tmp_path_factory):
    """A Go archive of the few files `go version` needs (bin/go of the real go1.27.3): seconds to
    unpack, where the full 70 MB archive takes 15."""
    path = str(tmp_path_factory.mktemp("small-go") / ("go%s.linux-amd64.tar.gz" % NEW))
    with tarfile.open(path, "w:gz", compresslevel=1) as t:
        for rel in ("", "VERSION", "go.env", "bin", "bin/go", "pkg", "pkg/tool", "pkg/tool/linux_amd64"):
            t.add(os.path.join(host_goroot, rel), arcname=("go/" + rel).rstrip("/"), recursive=False)
    return path


def _install(layout, archive, version=NEW):
    layout.lock()
    try:
        goroot = layout.stage(archive)
        layout.commit(goroot, version, dict(RECORD, version=version))
        layout.activate(version)
    finally:
        layout.unlock()


def _umask(mask):
    class Umask:
        def __enter__(self):
            self.old = os.umask(mask)

        def __exit__(self, *exc):
            os.umask(self.old)
    return Umask()


def _modes(top):
    out = {}
    for d, dirs, files in os.walk(top):
        for n in [""] + dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            if not stat.S_ISLNK(st.st_mode):  # a link's own mode is always 0777 and means nothing
                out[os.path.relpath(p, top)] = stat.S_IMODE(st.st_mode)
    return out


def test_umask_000_makes_nothing_writable_by_others(tmp_path, small_go):
    layout = _layout.Layout(str(tmp_path / "opt" / "go"), str(tmp_path / "usr" / "local" / "go"))
    with _umask(0o000):
        _install(layout, small_go)
        layout.lock()
        private = layout.private_dir()
        layout.unlock()
    modes = _modes(str(tmp_path))
    writable = {p: oct(m) for p, m in modes.items() if m & 0o022}
    assert writable == {}, writable
    assert modes["opt"] == modes["opt/go"] == modes["usr/local"] == 0o755
    assert modes["opt/go/.gofleet"] == 0o700 and modes["opt/go/.gofleet/lock"] == 0o600
    assert modes["opt/go/go%s/bin/go" % NEW] == 0o755 and modes["opt/go/go%s/VERSION" % NEW] == 0o644
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o700


def test_umask_077_leaves_go_usable_by_other_users(small_go, second_user):
    base = tempfile.mkdtemp(prefix="gofleet-umask-")  # under /tmp: a place the other user can reach
    try:
        os.chmod(base, 0o755)
        layout = _layout.Layout(os.path.join(base, "opt", "go"), os.path.join(base, "bin", "go"))
        with _umask(0o077):
            _install(layout, small_go)
        done = second_user.run("%s/bin/go version" % layout.active_link, check=False)
        assert done.returncode == 0 and done.stdout.startswith("go version go%s linux/amd64" % NEW), done
        assert layout.health(NEW, "linux", "amd64") is None
    finally:
        shutil.rmtree(base)


@pytest.fixture
def reachable():
    """A root-owned 0755 folder under /tmp (sticky, as on any host): unlike pytest's tmp_path
    (0700), the second user can reach what lies in it."""
    base = tempfile.mkdtemp(prefix="gofleet-hostile-")
    os.chmod(base, 0o755)
    yield pathlib.Path(base)
    shutil.rmtree(base)


# ---- another user ------------------------------------------------------------------------------
def test_a_root_owned_by_another_user_is_refused_even_with_a_perfect_tree(tmp_path, small_go, second_user):
    """The user owns the install root: they can swap go1.27.3 (record, manifest and all) at will.
    The tree below is flawless, made by the layout itself: only ownership tells."""
    layout = _layout.Layout(str(tmp_path / "root"), str(tmp_path / "bin" / "go"))
    _install(layout, small_go)
    os.chown(layout.root, second_user.uid, second_user.gid)
    with pytest.raises(_layout.LayoutError, match=r"install_root .* is owned by user %s" % second_user.name):
        layout.health(NEW, "linux", "amd64")
    with pytest.raises(_layout.LayoutError, match="chown root:root"):
        layout.lock()


@pytest.mark.parametrize("how", ["other-writable", "group-writable"])
def test_a_root_writable_by_another_user_is_refused(reachable, small_go, second_user, how):
    layout = _layout.Layout(str(reachable / "root"), str(reachable / "bin" / "go"))
    _install(layout, small_go)
    if how == "other-writable":
        os.chmod(layout.root, 0o777)
    else:
        os.chown(layout.root, 0, second_user.gid)
        os.chmod(layout.root, 0o775)
    # the attack: the user moves the real tree away and puts their own in its place
    real = layout.version_dir(NEW)
    done = second_user.run("mv {0} {0}.moved && mkdir {0}".format(real), check=False)
    assert done.returncode == 0, done
    with pytest.raises(_layout.LayoutError, match="writable by"):
        layout.health(NEW, "linux", "amd64")
    with pytest.raises(_layout.LayoutError, match="writable by"):
        layout.lock()


def test_group_writable_by_a_group_of_root_alone_is_fine(tmp_path, small_go):
    """Debian's /usr/local used to be 2775 root:staff: a writable group with nobody else in it."""
    layout = _layout.Layout(str(tmp_path / "root"), str(tmp_path / "bin" / "go"))
    os.makedirs(layout.root)
    os.chown(layout.root, 0, 0)
    os.chmod(layout.root, 0o2775)
    _install(layout, small_go)
    assert layout.health(NEW, "linux", "amd64") is None


def test_an_ancestor_writable_by_another_user_is_refused(tmp_path, small_go, second_user):
    """/srv/tools writable by a user: they rename /srv/tools/go away and plant their own root."""
    parent = tmp_path / "shared"
    parent.mkdir()
    layout = _layout.Layout(str(parent / "go"), str(tmp_path / "bin" / "go"))
    _install(layout, small_go)
    os.chown(str(parent), second_user.uid, second_user.gid)
    with pytest.raises(_layout.LayoutError, match=r"install_root's parent folder .*shared is owned by user"):
        layout.lock()
    os.chown(str(parent), 0, 0)
    os.chmod(str(parent), 0o777)
    with pytest.raises(_layout.LayoutError, match=r"install_root's parent folder .*shared is writable by every user"):
        layout.health(NEW, "linux", "amd64")
    os.chmod(str(parent), 0o1777)  # sticky, as /tmp: nobody can rename what they do not own
    assert layout.health(NEW, "linux", "amd64") is None


def test_the_active_links_folder_writable_by_another_user_is_refused(tmp_path, small_go, second_user):
    """The user could replace /usr/local/go, the link root's PATH runs."""
    layout = _layout.Layout(str(tmp_path / "root"), str(tmp_path / "bin" / "go"))
    _install(layout, small_go)
    os.chown(str(tmp_path / "bin"), second_user.uid, second_user.gid)
    with pytest.raises(_layout.LayoutError, match=r"the folder of active_link .*bin is owned by user"):
        layout.lock()
    with pytest.raises(_layout.LayoutError, match="the folder of active_link"):
        layout.activate(NEW)


@pytest.mark.parametrize("how", ["owned", "writable"])
def test_a_version_folder_another_user_can_change_is_refused(reachable, small_go, second_user, how):
    layout = _layout.Layout(str(reachable / "root"), str(reachable / "bin" / "go"))
    _install(layout, small_go)
    d = layout.version_dir(NEW)
    if how == "owned":
        os.chown(d, second_user.uid, second_user.gid)
    else:
        os.chmod(d, 0o777)
    # the attack: a go of their own beside the real one, swapped in when root is not looking
    assert second_user.run("cp -p %s/bin/go %s/go.mine" % (d, d), check=False).returncode == 0
    with pytest.raises(_layout.LayoutError, match=r"the version folder .*go%s is (owned|writable)" % NEW):
        layout.tree_state(NEW, "linux", "amd64")


def test_another_user_cannot_hold_the_lock(second_user):
    """gofleet 0.1.0's <root>/.lock was 0644: flock needs no write access, so any user could hold
    it and block every install for lock_timeout. The user here locks every file of the root they
    can open (the lock of 0.1.0 and of today included) and keeps them locked."""
    base = tempfile.mkdtemp(prefix="gofleet-lock-")
    try:
        os.chmod(base, 0o755)
        layout = _layout.Layout(os.path.join(base, "root"), None)
        layout.lock()
        layout.unlock()
        script = os.path.join(base, "hold.py")
        with open(script, "w") as f:
            f.write(HOLD)
        holder = subprocess.Popen(["runuser", "-u", second_user.name, "--", "/usr/bin/python3", script, layout.root],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().startswith("holding")
            t0 = time.time()
            layout.lock(timeout=3)
            assert time.time() - t0 < 2
            layout.unlock()
        finally:
            holder.kill()
            holder.wait()
    finally:
        shutil.rmtree(base)


HOLD = """
import fcntl, os, sys, time
held = []
for folder, dirs, files in os.walk(sys.argv[1]):
    for name in files + [".lock", "lock"]:
        try:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(name)
        except OSError:
            pass
print("holding", held, flush=True)
time.sleep(30)
"""


# ---- a network file system: sshfs against a private sshd ---------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sshfs_root(tmp_path):
    """A folder of this machine mounted again through sshfs (FUSE, type fuse.sshfs), as a shared
    install root would be over NFS. sshd runs on 127.0.0.1 with its own host key and config."""
    for tool in ("sshfs", "/usr/sbin/sshd", "ssh-keygen"):
        assert shutil.which(tool), "%s missing: tests/testbed/run installs sshfs and openssh-server" % tool
    d = tmp_path / "ssh"
    d.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client")], check=True)
    shutil.copy(str(d / "client.pub"), str(d / "authorized_keys"))
    port = _free_port()
    (d / "sshd_config").write_text("\n".join([
        "ListenAddress 127.0.0.1", "Port %d" % port, "HostKey %s" % (d / "host"), "PidFile %s" % (d / "sshd.pid"),
        "AuthorizedKeysFile %s" % (d / "authorized_keys"), "PermitRootLogin prohibit-password",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
        "Subsystem sftp internal-sftp", "LogLevel ERROR", ""]))
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")], stderr=subprocess.PIPE)
    remote, mnt = tmp_path / "remote", tmp_path / "mnt"
    remote.mkdir()
    mnt.mkdir()
    os.chmod(str(remote), 0o755)
    mounted = False
    try:
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert sshd.poll() is None and time.time() < deadline, sshd.stderr.read()
                time.sleep(0.1)
        subprocess.run(["sshfs", "-p", str(port), "-o", "IdentityFile=%s" % (d / "client"),
                        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                        "root@127.0.0.1:%s" % remote, str(mnt)], check=True, timeout=30, capture_output=True)
        mounted = True
        yield str(mnt), str(remote)
    finally:
        if mounted:
            subprocess.run(["fusermount", "-u", str(mnt)], check=False)
        sshd.terminate()
        sshd.wait(10)


def test_a_network_root_installs_but_never_prunes_or_repairs(tmp_path, small_go, sshfs_root):
    mnt, remote = sshfs_root
    layout = _layout.Layout(os.path.join(mnt, "go"), str(tmp_path / "bin" / "go"))
    assert layout.filesystem() == "fuse.sshfs" and _layout.filesystem_type(str(tmp_path)) not in _layout.NETWORK_FS
    _install(layout, small_go)  # installing a new version is fine: nobody's tree changes
    _install(layout, small_go, version="1.27.2")  # a second version folder to prune
    assert os.path.isdir(os.path.join(remote, "go", "go" + NEW))
    assert layout.health(NEW, "linux", "amd64") is None
    layout.lock()
    try:
        with pytest.raises(_layout.LayoutError, match=r"network file system \(fuse.sshfs\).*does not remove"):
            layout.remove("1.27.2")
        assert os.path.isdir(layout.version_dir("1.27.2"))
        staged = layout.stage(small_go)  # "repair" the version other hosts may run
        with pytest.raises(_layout.LayoutError, match=r"does not replace a damaged version there"):
            layout.commit(staged, NEW, RECORD)
        layout.discard(staged)
    finally:
        layout.unlock()
    assert _tree.judge(layout.version_dir(NEW), "linux", "amd64").healthy
