# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The install layout: Go versions side by side under one root, and one active link.

    <root>/go1.27.3/            a GOROOT (the archive's go/ folder), one per version
    <root>/go1.26.6/
    <root>/go1.27.3-rebuilt.20261125T120102Z/   the same version rebuilt from source on the node
                                (go_toolchain_rebuild); it counts as that version
    <root>/.gofleet/            root's alone (0700): nobody else reads, locks or plants anything here
        go1.27.3.json           what was installed there: digest, url, os, arch, time
        go1.27.3.manifest.json  every folder and file of the tree as committed (size, mode, sha256)
        lock                    serializes runs on this root (flock; 0600)
        private-*/              root-only scratch folders (private_dir), same file system as the trees
    <root>/.stage-*/            extractions in progress (same file system as the versions)
    /usr/local/go -> <root>/go1.27.3   the active link (configurable)

Nothing is ever half-installed where anyone looks: an archive is verified, extracted into a
staging folder, checked (the go binary's architecture, `go version`), synced to disk, renamed into
place, and only then the active link is switched, by renaming a new link over the old one; the
folders around each rename are fsync'ed. A run that is killed (or a host that loses power) at any
point leaves the previous active Go working; the next run removes the leftovers.
This module is the only place that writes a GOROOT into the layout or switches the link:
go_install, go_toolchain_rebuild and the roles all go through it. Whether a tree is healthy is
judged in module_utils/_tree (one place); the layout adds its records and naming rules.

Who may write here: the install root, every folder above it, the active link's folder and every
folder above that, and each version folder must belong to root (or the user running gofleet) and
be writable by nobody else - a folder another user can write lets that user swap the toolchain
root runs next. The layout refuses such a folder with a message saying how to fix it. Modes never
depend on the umask: folders 0755, files 0755 or 0644 from the archive's executable bit, the
.gofleet folder 0700, the records and the lock 0600.

Extraction accepts regular files and folders only: Go's archives since 1.21 (and its toolchain
module zips) hold nothing else, so no link of an archive can ever lead a later member out of the
staging folder. Absolute names, `..`, duplicates, names that differ only in case or Unicode
normalisation (one file on macOS), over-long names and control characters are refused too.

Install roots must be host-local. On a network file system (NFS, SMB/CIFS, sshfs, Ceph, GlusterFS,
9p, ...) several hosts share the root: removing a version (keep, state=absent) would pull it from
under the other hosts' links, and "repairing" a version could put one host's architecture under
all of them. There the layout installs new versions but refuses to remove or replace one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import grp
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import unicodedata
import zipfile
import zlib

from ansible_collections.gofleet.golang.plugins.module_utils import _tree
from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError
from ansible_collections.gofleet.golang.plugins.module_utils._versions import version_key

_VERSION = _tree.VERSION_PATTERN
VERSION_DIR = re.compile(r"^go%s$" % _VERSION)
# A tree rebuilt from source by go_toolchain_rebuild: go<version>-rebuilt.<UTC time>[-<n>]
REBUILT_SUFFIX = "-rebuilt."
REBUILT_DIR = re.compile(r"^go(?P<version>%s)-rebuilt\.\d{8}T\d{6}Z(-\d+)?$" % _VERSION)
# The defaults every module and role uses (documented once in plugins/doc_fragments/layout.py).
DEFAULT_INSTALL_ROOT = "/opt/go"
DEFAULT_ACTIVE_LINK = "/usr/local/go"
META = ".gofleet"
LOCK = "lock"
OLD_LOCK = ".lock"  # gofleet 0.1.0's lock, <root>/.lock (0644: any user could hold it)
# go.dev archives unpack to about 3.4 times their size; leave room for that plus the download.
UNPACK_FACTOR = 4.5
DIR_MODE = 0o755
# File systems several hosts share (type from /proc/self/mountinfo, or mount(8) on macOS).
NETWORK_FS = frozenset((
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "coda", "ceph", "fuse.ceph", "fuse.ceph-fuse",
    "glusterfs", "fuse.glusterfs", "9p", "virtiofs", "fuse.sshfs", "sshfs", "fuse.s3fs", "fuse.rclone",
    "fuse.davfs2", "davfs", "lustre", "gpfs", "beegfs", "ocfs2", "gfs2", "orangefs", "pvfs2", "vboxsf",
    "webdav", "afpfs", "fuse.juicefs", "fuse.gcsfuse", "fuse.mfs", "moosefs",
))
MAX_NAME = 1024       # bytes of a member name (PATH_MAX on macOS)
MAX_COMPONENT = 255   # bytes of one path component (NAME_MAX)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC


class LayoutError(GofleetError):
    """Something in the layout prevents the operation; the message says what to do."""


def _pause(point):
    """Test hook: sleep at a named point when _GOFLEET_PAUSE_AT names it (kill -9 tests)."""
    if os.environ.get("_GOFLEET_PAUSE_AT") == point:
        marker = os.environ.get("_GOFLEET_PAUSE_MARKER")
        if marker:
            with open(marker, "w") as f:
                f.write(point)
        time.sleep(float(os.environ.get("_GOFLEET_PAUSE_SECONDS", "60")))


pause_point = _pause  # the hook's public name for the other steps of the install path (_install)


class Layout:
    def __init__(self, root, active_link):
        for what, path in (("install_root", root), ("active_link", active_link)):
            if path and any(ord(c) < 32 or ord(c) == 127 for c in path):
                raise LayoutError("%s %r holds a control character: give a plain absolute path (it ends up in login "
                                  "shells' PATH and in records)" % (what, path))
        self.root = os.path.abspath(root)
        self.active_link = os.path.abspath(active_link) if active_link else None
        self._lock_fd = None
        self.warnings = []  # texts for the module to show (a manifest made for a 0.1.0 tree, ...)

    # ---- reading -------------------------------------------------------------------------
    def version_dir(self, version):
        return os.path.join(self.root, "go" + version)

    def meta_path(self, version):
        return os.path.join(self.root, META, "go%s.json" % version)

    def manifest_path(self, version):
        return os.path.join(self.root, META, "go%s.manifest.json" % version)

    def installed(self):
        """Versions with a folder under the root (healthy or not), newest last."""
        if not os.path.isdir(self.root):
            return []
        names = [n[2:] for n in os.listdir(self.root)
                 if VERSION_DIR.match(n) and os.path.isdir(os.path.join(self.root, n))]
        return sorted(names, key=version_key)

    def rebuilds(self, version):
        """Folder names of the trees rebuilt from go<version> (go_toolchain_rebuild), oldest first."""
        if not os.path.isdir(self.root):
            return []
        return sorted(n for n in os.listdir(self.root)
                      if _rebuild_of(n) == version and os.path.isdir(os.path.join(self.root, n)))

    def new_rebuild_name(self, version):
        """A free folder name (without the leading "go") for a tree rebuilt from go<version>."""
        base = "%s%s%s" % (version, REBUILT_SUFFIX, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
        name, n = base, 1
        while os.path.lexists(self.version_dir(name)):
            n += 1
            name = "%s-%d" % (base, n)
        return name

    def active_tree(self):
        """The folder name the active link points at, if it is one of ours (a version or a rebuild)."""
        if not self.active_link or not os.path.islink(self.active_link):
            return None
        target = os.path.realpath(self.active_link)
        if os.path.dirname(target) != os.path.realpath(self.root) or not os.path.isdir(target):
            return None
        name = os.path.basename(target)
        return name if VERSION_DIR.match(name) or REBUILT_DIR.match(name) else None

    def active(self):
        """The active version if the link points at one of our trees, else None. A tree rebuilt
        from a version counts as that version."""
        name = self.active_tree()
        if name is None:
            return None
        return name[2:] if VERSION_DIR.match(name) else _rebuild_of(name)

    def describe_link(self):
        """Human words for what the active link path holds now."""
        p = self.active_link
        if not p or not os.path.lexists(p):
            return "absent"
        if os.path.islink(p):
            return "a link to %s" % os.readlink(p)
        return "a %s not managed by gofleet" % ("directory" if os.path.isdir(p) else "file")

    def metadata(self, version):
        return _read_json(self.meta_path(version))

    def version_with_digest(self, sha256):
        """The installed version whose recorded archive digest is `sha256`, else None."""
        for version in self.installed():
            meta = self.metadata(version)
            if meta and meta.get("sha256") == sha256:
                return version
        return None

    def health(self, version, goos, goarch, *_unused):
        """None when <root>/go<version> is complete, verified and of goos/goarch, else the problem.
        (A fourth argument, the `inspect` function of gofleet 0.1.0, is accepted and ignored until
        every caller has moved to tree_state.)"""
        return self.tree_state(version, goos, goarch).problem

    def tree_state(self, version, goos, goarch, full=False):
        """The _tree.TreeState of <root>/go<version> for goos/goarch: `.problem` None when healthy,
        `.info` bin/go as read (callers never parse it again), `.warnings` to show.

        `version` may also name a rebuilt tree ("1.27.3-rebuilt.<time>"): its record must say what
        it was rebuilt from instead of an archive digest, and its VERSION the version it rebuilt.
        A tree from gofleet 0.1.0 has no manifest: when this run holds the lock, one is made from
        the tree as it is (with a warning), never a new download.
        Raises LayoutError when the root, a folder above it or the version folder can be written
        by another user."""
        d = self.version_dir(version)
        self.check_trust()
        if not os.path.isdir(d) or os.path.islink(d):
            return _tree.TreeState(d, goos, goarch, problem="not installed")
        _check_folder(d, "the version folder", ancestor=False)
        meta = self.metadata(version)
        rebuilt_from = _rebuild_of("go" + version)
        want = version
        if rebuilt_from:
            if not meta or not meta.get("rebuilt_from"):
                return _tree.TreeState(d, goos, goarch, problem="no record of its rebuild (%s)" % self.meta_path(version))
            want = rebuilt_from
        elif not meta or not (meta.get("sha256") or meta.get("h1")):
            return _tree.TreeState(d, goos, goarch,
                                   problem="no record of a verified archive (%s)" % self.meta_path(version))
        manifest = _read_json(self.manifest_path(version))
        state = _tree.judge(d, goos, goarch, record=meta, manifest=manifest, full=full, version=want)
        if manifest is None and state.healthy:
            if self._lock_fd is not None:
                _write_json(self.manifest_path(version), _tree.build_manifest(d))
                text = ("go%s in %s has no manifest (installed by gofleet 0.1.0): one was made from the tree as it "
                        "is now; later runs check the tree against it" % (version, self.root))
            else:
                text = ("go%s in %s has no manifest (installed by gofleet 0.1.0): the next run that is not in check "
                        "mode makes one" % (version, self.root))
            state.warnings.append(text)
            self.warnings.append(text)
        return state

    # ---- trust ----------------------------------------------------------------------------
    def check_trust(self):
        """Raise LayoutError when the install root, a folder above it, the active link's folder or
        a folder above that is owned by or writable by another user (folders that do not exist
        yet are skipped: they will be created root's, 0755)."""
        _check_chain(self.root, "install_root")
        if self.active_link:
            _check_chain(os.path.dirname(self.active_link), "the folder of active_link")

    def filesystem(self):
        """The type of the file system holding the install root (e.g. ext4, nfs4, fuse.sshfs)."""
        return filesystem_type(self.root)

    def _refuse_on_network(self, doing):
        fstype = self.filesystem()
        if fstype in NETWORK_FS:
            raise LayoutError(
                "%s is on a network file system (%s), which other hosts may share: gofleet does not %s there, "
                "it could pull a toolchain from under another host's link or give it this host's architecture. "
                "Use a host-local install_root, or remove it by hand from one host when no host uses it"
                % (self.root, fstype, doing))

    # ---- locking and leftovers -------------------------------------------------------------
    def lock(self, timeout=900):
        """Take the root's lock (blocking up to `timeout` seconds); clean leftovers of dead runs."""
        self.check_trust()
        _make_dirs(self.root)
        meta = self._meta_dir()
        deadline = time.time() + timeout
        fd = os.open(os.path.join(meta, LOCK), os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o600)
        try:
            st = os.fstat(fd)
            if st.st_uid != os.geteuid() or not stat.S_ISREG(st.st_mode):
                raise LayoutError("%s is not a lock file of this user: remove it" % os.path.join(meta, LOCK))
            os.fchmod(fd, 0o600)
            _flock(fd, deadline, self.root, timeout)
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd
        try:
            self._retire_old_lock(deadline, timeout)
            self._clean_leftovers()
        except BaseException:
            self.unlock()
            raise

    def unlock(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _meta_dir(self):
        """<root>/.gofleet, root's alone (0700; 0.1.0 made it 0755: tightened quietly)."""
        meta = os.path.join(self.root, META)
        try:
            os.mkdir(meta, 0o700)
        except FileExistsError:
            pass
        st = os.lstat(meta)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            raise LayoutError("%s is not a folder of this user (%s): remove it; gofleet keeps its records and lock "
                              "there" % (meta, _who(st.st_uid)))
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.chmod(meta, 0o700)
        return meta

    def _retire_old_lock(self, deadline, timeout):
        """gofleet 0.1.0 locked <root>/.lock: wait for a run of it still holding that, then remove it."""
        old = os.path.join(self.root, OLD_LOCK)
        try:
            st = os.lstat(old)
        except FileNotFoundError:
            return
        if stat.S_ISREG(st.st_mode):
            try:
                fd = os.open(old, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0))
            except OSError:
                fd = None
            if fd is not None:
                try:
                    _flock(fd, deadline, self.root, timeout)
                finally:
                    os.close(fd)
        if not stat.S_ISDIR(st.st_mode):
            with contextlib.suppress(OSError):
                os.unlink(old)

    def _clean_leftovers(self):
        """Only called under the lock: anything staged by an earlier run is from a dead run."""
        for name in os.listdir(self.root):
            if name.startswith((".stage-", ".trash-", ".download-")):
                _remove_any(os.path.join(self.root, name))
        meta = os.path.join(self.root, META)
        for name in os.listdir(meta):
            if name.startswith(("private-", ".tmp-", ".download-meta-")):
                _remove_any(os.path.join(meta, name))
        if self.active_link:
            parent = os.path.dirname(self.active_link)
            base = os.path.basename(self.active_link)
            if os.path.isdir(parent):
                for name in os.listdir(parent):
                    if name.startswith("." + base + ".gofleet-"):
                        _remove_any(os.path.join(parent, name))

    def sumdb_dir(self):
        """<root>/.gofleet/sumdb: the checksum databases' newest signed tree heads this host has seen
        (root-only, like the rest of the private area), so a forked log is noticed on the next run.
        Made by _sumdb.State when it first saves a head (never in check mode)."""
        return os.path.join(self.root, META, "sumdb")

    def private_dir(self):
        """A fresh root-only (0700) folder inside the install root, on the trees' file system, for
        files nobody else may touch (go_install copies an untrusted `src` archive there). Remove it
        with shutil.rmtree when done; a dead run's is removed by the next lock()."""
        _make_dirs(self.root)
        return tempfile.mkdtemp(prefix="private-", dir=self._meta_dir())

    def free_space_check(self, archive_size):
        st = os.statvfs(self.root)
        free = st.f_bavail * st.f_frsize
        need = int(archive_size * UNPACK_FACTOR)
        if free < need:
            raise LayoutError(
                "not enough free space in %s: about %d MB needed (archive %d MB and its unpacked "
                "tree), %d MB free; free some space or choose another install_root"
                % (self.root, need >> 20, archive_size >> 20, free >> 20))

    # ---- writing ----------------------------------------------------------------------------
    def stage(self, archive, members=None, label=None):
        """Extract a Go .tar.gz archive into a staging folder; return the staged GOROOT (its go/).

        members(f, label): another reader of the archive's members, yielding what _tar_members
        yields with names under go/ (_goproxy.zip_members for a toolchain module zip); the same
        checks of every name, type and size apply.

        `archive` is a path or an open, seekable binary file (read from its start: go_install passes
        the descriptor it opened once, with O_NOFOLLOW, and hashed). Only regular files and folders
        under go/ are accepted (see the module docs for every refusal); folders become 0755, files
        0755 or 0644 from the archive's executable bit, owned by the running user, whatever the
        umask. The manifest of the tree is made while unpacking and written by commit()."""
        if isinstance(archive, (str, bytes, os.PathLike)):
            label = os.path.basename(os.fspath(archive))
            try:
                f = open(archive, "rb")
            except OSError as e:
                raise LayoutError("%s cannot be read: %s" % (archive, e.strerror or e))
        else:
            f = archive
            label = label or os.path.basename(str(getattr(archive, "name", "the archive")))
            f.seek(0)
        staging = tempfile.mkdtemp(prefix=".stage-", dir=self.root)
        try:
            try:
                manifest = _extract_tar(f, staging, label, reader=members)
            finally:
                if f is not archive:
                    f.close()
            goroot = os.path.join(staging, "go")
            if not os.path.isdir(goroot):
                raise LayoutError("%s has no go/ folder at its top: not a Go distribution archive" % label)
            _write_json(os.path.join(staging, "manifest.json"), manifest)
            return goroot
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def discard(self, staged_goroot):
        shutil.rmtree(os.path.dirname(staged_goroot), ignore_errors=True)

    def commit(self, staged_goroot, version, record):
        """Move a checked staged GOROOT to <root>/go<version>, replacing a damaged one (never on a
        network file system); write its record and manifest. A tree not made by stage() (a rebuild)
        gets its modes set as stage() sets them and a manifest made from it.
        Durable before it returns: one sync of the file system, then fsync of the folders around
        the rename."""
        _pause("before_commit")
        target = self.version_dir(version)
        replacing = os.path.lexists(target)
        if replacing:
            self._refuse_on_network("replace a damaged version")
        staging = os.path.dirname(staged_goroot)
        manifest = _read_json(os.path.join(staging, "manifest.json"))
        if manifest is None:
            _normalize_modes(staged_goroot)
            manifest = _tree.build_manifest(staged_goroot)
        meta = self._meta_dir()
        _write_json(self.manifest_path(version), manifest, sync=False)
        _write_json(self.meta_path(version), record, sync=False)
        os.chmod(staged_goroot, DIR_MODE)
        sync_filesystem(staging)  # every unpacked byte, the record and the manifest are on disk
        _fsync_dir(meta)
        trash = None
        if replacing:
            trash = tempfile.mkdtemp(prefix=".trash-", dir=self.root)
            os.rename(target, os.path.join(trash, "old"))
        os.rename(staged_goroot, target)
        _fsync_dir(self.root)
        _fsync_dir(staging)
        shutil.rmtree(staging, ignore_errors=True)
        if trash:
            shutil.rmtree(trash, ignore_errors=True)
        return target

    def activate(self, version):
        """Point the active link at <root>/go<version>, atomically; return the previous target."""
        _pause("before_switch")
        link = self.active_link
        if os.path.lexists(link) and not os.path.islink(link):
            raise LayoutError(
                "%s is %s: move it away (it may be an older manual install) or choose another "
                "active_link; gofleet replaces only links" % (link, self.describe_link()))
        previous = os.readlink(link) if os.path.islink(link) else None
        parent = os.path.dirname(link)
        _check_chain(parent, "the folder of active_link")
        _make_dirs(parent)
        tmp = os.path.join(parent, ".%s.gofleet-%d" % (os.path.basename(link), os.getpid()))
        _remove_any(tmp)
        os.symlink(self.version_dir(version), tmp)
        _fsync_dir(self.root)
        os.replace(tmp, link)
        _fsync_dir(parent)
        return previous

    def deactivate(self):
        if self.active_link and os.path.islink(self.active_link):
            os.unlink(self.active_link)
            _fsync_dir(os.path.dirname(self.active_link))

    def remove(self, version, with_rebuilds=False):
        """Remove a version folder and its record (rename first, so no half-removed GOROOT is seen);
        with_rebuilds: its rebuilt trees too. Returns the folder names removed. Refused on a network
        file system (other hosts may use the version)."""
        names = ["go" + version] + (self.rebuilds(version) if with_rebuilds else [])
        if any(os.path.lexists(os.path.join(self.root, n)) for n in names):
            self._refuse_on_network("remove versions")
        removed = []
        for name in names:
            target = os.path.join(self.root, name)
            if os.path.lexists(target):
                trash = tempfile.mkdtemp(prefix=".trash-", dir=self.root)
                os.rename(target, os.path.join(trash, "old"))
                _fsync_dir(self.root)
                shutil.rmtree(trash, ignore_errors=True)
                removed.append(name)
            for suffix in (".json", ".manifest.json", ".make.log"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.root, META, name + suffix))
        return removed


def _rebuild_of(name):
    """The version a rebuilt tree's folder name was rebuilt from, else None."""
    m = REBUILT_DIR.match(name)
    return m.group("version") if m else None


# ---- files ------------------------------------------------------------------------------------
def _read_json(path):
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "r") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_json(path, data, sync=True):
    """Replace path by the JSON of data, atomically (0600). sync: fsync the file and its folder
    (commit syncs the whole file system once instead)."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=None, separators=(",", ":"), sort_keys=True)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync:
        _fsync_dir(os.path.dirname(path))


def _remove_any(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


def folders_up(path):
    """path, then each folder above it, up to / (names only: nothing on disk is looked at)."""
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def _make_dirs(path):
    """Create path and its missing parents 0755 whatever the umask (existing ones are left)."""
    missing = list(itertools.takewhile(lambda p: not os.path.isdir(p), folders_up(path)))
    for p in reversed(missing):
        try:
            os.mkdir(p, DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(p, DIR_MODE)


def _normalize_modes(goroot):
    """Folders 0755, files 0755/0644 from their executable bit, links untouched (a rebuilt tree)."""
    os.chmod(goroot, DIR_MODE)
    for folder, dirs, files in os.walk(goroot):
        for name in dirs + files:
            p = os.path.join(folder, name)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                mode = DIR_MODE
            elif stat.S_ISREG(st.st_mode):
                mode = 0o755 if st.st_mode & 0o111 else 0o644
            else:
                continue
            if stat.S_IMODE(st.st_mode) != mode:
                os.chmod(p, mode)


def _flock(fd, deadline, root, timeout):
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES) or time.time() > deadline:
                raise LayoutError("%s is locked by another run for more than %d s; if no other "
                                  "run is active, its process died holding it: retry" % (root, timeout))
            time.sleep(0.2)


# ---- durability -------------------------------------------------------------------------------
def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:  # some file systems cannot fsync a folder
        if e.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP, errno.EROFS):
            raise
    finally:
        os.close(fd)


def sync_filesystem(path):
    """Flush the one file system holding path (syncfs(2)): a per-file fsync of 14,000 files costs
    more than unpacking them, os.sync() flushes every disk of the host. Falls back to `sync -f`,
    then to os.sync() (macOS has neither)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes  # pylint: disable=import-outside-toplevel
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(path, os.O_RDONLY | _CLOEXEC)
            try:
                if libc.syncfs(fd) == 0:
                    return "syncfs"
            finally:
                os.close(fd)
        except (OSError, AttributeError, ImportError):
            pass
        try:
            if subprocess.run(["sync", "-f", path], capture_output=True, timeout=600, check=False).returncode == 0:
                return "sync -f"
        except (OSError, subprocess.SubprocessError):
            pass
    os.sync()
    return "sync"


# ---- trust ------------------------------------------------------------------------------------
def _who(uid):
    try:
        return "user %s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except KeyError:
        return "uid %d" % uid


def _group_writers(gid):
    """Users other than root and this one who are in group gid, by name."""
    trusted = (0, os.geteuid())
    names = set()
    try:
        for name in grp.getgrgid(gid).gr_mem:
            try:
                if pwd.getpwnam(name).pw_uid not in trusted:
                    names.add(name)
            except KeyError:
                names.add(name)
    except KeyError:
        return ["members of the unknown group %d" % gid]
    for entry in pwd.getpwall():
        if entry.pw_gid == gid and entry.pw_uid not in trusted:
            names.add(entry.pw_name)
    return sorted(names)


def _untrusted(st, ancestor):
    """Why another user could change what lies below this folder (lstat result), else None."""
    if st.st_uid not in (0, os.geteuid()):
        return "owned by %s" % _who(st.st_uid)
    if stat.S_ISLNK(st.st_mode):
        return None
    mode = stat.S_IMODE(st.st_mode)
    if ancestor and mode & stat.S_ISVTX:
        return None  # sticky (/tmp): others cannot rename or remove what they do not own
    if mode & stat.S_IWOTH:
        return "writable by every user (mode %04o)" % mode
    if mode & stat.S_IWGRP:
        writers = _group_writers(st.st_gid)
        if writers:
            try:
                group = grp.getgrgid(st.st_gid).gr_name
            except KeyError:
                group = str(st.st_gid)
            return "writable by group %s (mode %04o), which has %s" % (group, mode, ", ".join(writers[:5]))
    return None


def _check_folder(path, what, ancestor):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    why = _untrusted(st, ancestor)
    if why:
        raise LayoutError(
            "%s %s is %s: that user could swap the Go toolchain that root runs. Make it root's and writable by root "
            "alone (chown root:root %s && chmod go-w %s), or choose another place"
            % (what, path, why, path, path))


def _check_chain(path, what):
    """path and every folder above it (as written and as resolved): each existing one trusted."""
    path = os.path.abspath(path)
    seen = set()
    for candidate in (path, os.path.realpath(path)):
        for i, p in enumerate(folders_up(candidate)):
            if p not in seen:
                seen.add(p)
                _check_folder(p, what if not i else "%s's parent folder" % what, ancestor=bool(i))


def fsync_dir(path):
    """fsync a folder (what a rename in it needs to be durable); shared with module_utils/_login."""
    _fsync_dir(path)


def check_chain(path, what):
    """Refuse (LayoutError) when another user could change path or a folder above it; what names it
    in the message. Shared with the other files root writes (module_utils/_login)."""
    _check_chain(path, what)


# ---- file systems ------------------------------------------------------------------------------
def _unescape_mount(text):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def filesystem_type(path):
    """The file system type holding path (its nearest existing folder): from /proc/self/mountinfo
    on Linux, mount(8) elsewhere; None when unknown."""
    p = os.path.realpath(path)
    while not os.path.exists(p) and os.path.dirname(p) != p:
        p = os.path.dirname(p)
    mounts = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, sep, right = line.partition(" - ")
                fields = left.split()
                if sep and len(fields) >= 5 and right.split():
                    mounts.append((_unescape_mount(fields[4]), right.split()[0]))
    except OSError:
        try:
            out = subprocess.run(["mount"], capture_output=True, text=True, timeout=30, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        for line in out.splitlines():
            m = re.match(r"^.* on (/.*?) \(([^,)]+)", line)
            if m:
                mounts.append((m.group(1), m.group(2).strip()))
    best, fstype = -1, None
    for point, kind in mounts:  # later mounts hide earlier ones on the same point
        if (p == point or p.startswith(point.rstrip("/") + "/")) and len(point) >= best:
            best, fstype = len(point), kind
    return fstype


# ---- extraction -------------------------------------------------------------------------------
def _tar_members(f, label):
    """(name, is_dir, mode, size, mtime, open_data) of each member of a tar archive, or LayoutError.
    A zip reader (toolchain module zips) can yield the same tuples."""
    try:
        tar = tarfile.open(fileobj=f, mode="r:*")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise LayoutError("%s is not a readable tar archive: %s" % (label, e))
    with tar:
        while True:
            try:
                member = tar.next()
            except (tarfile.TarError, OSError, EOFError) as e:
                raise LayoutError("%s is damaged: %s" % (label, e))
            if member is None:
                return
            if member.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
                yield member.name, False, member.mode, member.size, member.mtime, lambda m=member: tar.extractfile(m)
            elif member.type == tarfile.DIRTYPE:
                yield member.name, True, member.mode, 0, member.mtime, None
            else:
                kind = {tarfile.SYMTYPE: "a symlink", tarfile.LNKTYPE: "a hard link", tarfile.CHRTYPE: "a device node",
                        tarfile.BLKTYPE: "a device node", tarfile.FIFOTYPE: "a FIFO"}.get(member.type, "a special member")
                raise LayoutError("%s: member %r is %s; refused: Go's archives hold only files and folders"
                                  % (label, member.name, kind))


def _check_name(name, label):
    """The member name's parts, or LayoutError: inside go/, relative, no `..`, no control
    characters, not over-long."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise LayoutError("%s: member %r is an absolute path, it would land outside the install folder; refused"
                          % (label, name))
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        raise LayoutError("%s: member %r would land outside the install folder (..); refused" % (label, name))
    if any(p in ("", ".") for p in parts) or "\\" in name:
        raise LayoutError("%s: member %r is not a plain path (empty, '.' or '\\' parts); refused" % (label, name))
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise LayoutError("%s: member %r has control characters in its name; refused" % (label, name))
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > MAX_NAME or any(len(p.encode("utf-8", "surrogateescape")) > MAX_COMPONENT for p in parts):
        raise LayoutError("%s: member %r... has an over-long name (more than %d bytes, or a part of more than %d); "
                          "refused" % (label, name[:60], MAX_NAME, MAX_COMPONENT))
    if parts[0] != "go":
        raise LayoutError("%s: member %r is outside the archive's go/ folder; refused" % (label, name))
    return parts


def _fold(path):
    """The name case-insensitive, normalisation-insensitive file systems (macOS) see."""
    return unicodedata.normalize("NFC", path).casefold()


def _extract_tar(f, dest, label, reader=None):
    """Extract the checked members into dest; return the tree's manifest (relative to dest/go).
    reader(f, label): what yields the members (default: the tar reader)."""
    manifest = _tree.new_manifest()
    members = set()   # exact names of members written
    folded = {}       # folded path -> the spelling first seen (members and the folders above them)
    made = {dest}     # folders that exist
    for name, is_dir, mode, size, mtime, open_data in (reader or _tar_members)(f, label):
        parts = _check_name(name, label)
        rel = "/".join(parts)
        if rel in members:
            raise LayoutError("%s: member %r appears twice; refused" % (label, name))
        members.add(rel)
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            seen = folded.setdefault(_fold(prefix), prefix)
            if seen != prefix:
                raise LayoutError("%s: members %r and %r differ only in case (or Unicode normalisation): one file on "
                                  "macOS; refused" % (label, seen, prefix))
        target = os.path.join(dest, *parts)
        try:
            _make_parents(dest, parts[:-1] if not is_dir else parts, made)
            if is_dir:
                continue
            executable = bool(mode & 0o111)
            digest = _write_file(target, open_data(), 0o755 if executable else 0o644, size, mtime)
        except FileExistsError:
            raise LayoutError("%s: member %r appears twice (as a file and a folder); refused" % (label, name))
        except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
            if isinstance(e, OSError) and e.errno == errno.ENOSPC:
                raise LayoutError("no space left while unpacking %s into %s; nothing was activated" % (label, dest))
            raise LayoutError("%s is damaged or truncated at %r: %s" % (label, name, e))
        if len(parts) > 1 and "/".join(parts[1:]) not in _tree.NOT_MANIFESTED:
            _tree.add_file(manifest, "/".join(parts[1:]), size, executable, digest)
    goroot = os.path.join(dest, "go")
    manifest["dirs"] = sorted(os.path.relpath(d, goroot).replace(os.sep, "/") for d in made
                              if d.startswith(goroot + os.sep))
    return manifest


def _make_parents(dest, parts, made):
    path = dest
    for part in parts:
        path = os.path.join(path, part)
        if path in made:
            continue
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise
        os.chmod(path, DIR_MODE)
        made.add(path)


def _write_file(target, data, mode, size, mtime):
    """Write one member's bytes: a new file (O_EXCL|O_NOFOLLOW: never through anything already
    there), `mode` whatever the umask, mtime kept; return its sha256."""
    fd = os.open(target, _CREATE, 0o600)
    with os.fdopen(fd, "wb") as out:
        digest, written = _tree.hash_stream(data, out)
        if written != size:
            raise ValueError("%d bytes instead of %d" % (written, size))
        os.fchmod(out.fileno(), mode)
        out.flush()
        if os.utime in os.supports_fd:
            os.utime(out.fileno(), (mtime, mtime))
        else:
            os.utime(target, (mtime, mtime))
    return digest
