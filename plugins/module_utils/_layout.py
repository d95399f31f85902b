# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The install layout: Go versions side by side under one root, and one active link.

    <root>/go1.27.3/            a GOROOT (the archive's go/ folder), one per version
    <root>/go1.26.6/
    <root>/go1.27.3-rebuilt.20261125T120102Z/   the same version rebuilt from source on the node
                                (go_toolchain_rebuild); it counts as that version
    <root>/.gofleet/go1.27.3.json  what was installed there: digest, url, os, arch, time
    <root>/.lock                serializes runs on this root (flock)
    <root>/.stage-*/            extractions in progress (same filesystem as the versions)
    /usr/local/go -> <root>/go1.27.3   the active link (configurable)

Nothing is ever half-installed where anyone looks: an archive is verified, extracted into a
staging folder, checked (the go binary's architecture, `go version`), renamed into place, and
only then the active link is switched, by renaming a new link over the old one. A run that is
killed at any point leaves the previous active Go working; the next run removes the leftovers.
This module is the only place that writes a GOROOT into the layout or switches the link:
go_install, go_toolchain_rebuild and the roles all go through it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time

from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError
from ansible_collections.gofleet.golang.plugins.module_utils._versions import version_key

_VERSION = r"\d+\.\d+(\.\d+)?((rc|beta)\d+)?"
VERSION_DIR = re.compile(r"^go%s$" % _VERSION)
# A tree rebuilt from source by go_toolchain_rebuild: go<version>-rebuilt.<UTC time>[-<n>]
REBUILT_SUFFIX = "-rebuilt."
REBUILT_DIR = re.compile(r"^go(?P<version>%s)-rebuilt\.\d{8}T\d{6}Z(-\d+)?$" % _VERSION)
META = ".gofleet"
# go.dev archives unpack to about 3.4 times their size; leave room for that plus the download.
UNPACK_FACTOR = 4.5


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


class Layout:
    def __init__(self, root, active_link):
        self.root = os.path.abspath(root)
        self.active_link = os.path.abspath(active_link) if active_link else None
        self._lock_fd = None

    # ---- reading -------------------------------------------------------------------------
    def version_dir(self, version):
        return os.path.join(self.root, "go" + version)

    def meta_path(self, version):
        return os.path.join(self.root, META, "go%s.json" % version)

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
        try:
            with open(self.meta_path(version)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def version_with_digest(self, sha256):
        """The installed version whose recorded archive digest is `sha256`, else None."""
        for version in self.installed():
            meta = self.metadata(version)
            if meta and meta.get("sha256") == sha256:
                return version
        return None

    def health(self, version, goos, goarch, inspect=None):
        """None when <root>/go<version> is complete, verified and of goos/goarch, else the problem.

        `version` may also name a rebuilt tree ("1.27.3-rebuilt.<time>"): its record must say what
        it was rebuilt from instead of an archive digest, and its VERSION the version it rebuilt."""
        d = self.version_dir(version)
        if not os.path.isdir(d):
            return "not installed"
        meta = self.metadata(version)
        rebuilt_from = _rebuild_of("go" + version)
        if rebuilt_from:
            if not meta or not meta.get("rebuilt_from"):
                return "no record of its rebuild (%s)" % self.meta_path(version)
            version = rebuilt_from
        elif not meta or not meta.get("sha256"):
            return "no record of a verified archive (%s)" % self.meta_path(version)
        try:
            with open(os.path.join(d, "VERSION")) as f:
                first = f.readline().strip()
        except OSError:
            return "VERSION file missing"
        if first != "go" + version:
            return "VERSION says %s" % first
        exe = os.path.join(d, "bin", "go")
        if not os.path.isfile(exe):
            return "bin/go missing"
        if not os.path.isdir(os.path.join(d, "pkg", "tool", "%s_%s" % (goos, goarch))):
            return "pkg/tool/%s_%s missing" % (goos, goarch)
        if inspect is not None:
            try:
                info = inspect(exe)
            except Exception as e:  # pylint: disable=broad-exception-caught
                return "bin/go unreadable: %s" % e
            if (info.get("goos"), info.get("goarch")) != (goos, goarch):
                return "bin/go is %s/%s, not %s/%s" % (info.get("goos"), info.get("goarch"), goos, goarch)
        return None

    # ---- locking and leftovers -------------------------------------------------------------
    def lock(self, timeout=900):
        """Take the root's lock (blocking up to `timeout` seconds); clean leftovers of dead runs."""
        os.makedirs(os.path.join(self.root, META), exist_ok=True)
        fd = os.open(os.path.join(self.root, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.time() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES) or time.time() > deadline:
                    os.close(fd)
                    raise LayoutError("%s is locked by another run for more than %d s; if no other "
                                      "run is active, its process died holding it: retry" % (self.root, timeout))
                time.sleep(0.2)
        self._lock_fd = fd
        self._clean_leftovers()

    def unlock(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _clean_leftovers(self):
        """Only called under the lock: anything staged by an earlier run is from a dead run."""
        for name in os.listdir(self.root):
            p = os.path.join(self.root, name)
            if name.startswith((".stage-", ".trash-", ".download-")):
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    _unlink(p)
        if self.active_link:
            parent = os.path.dirname(self.active_link)
            base = os.path.basename(self.active_link)
            if os.path.isdir(parent):
                for name in os.listdir(parent):
                    if name.startswith("." + base + ".gofleet-"):
                        _unlink(os.path.join(parent, name))

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
    def stage(self, archive):
        """Extract a .tar.gz archive into a staging folder; return the staged GOROOT (its go/).

        Refuses members that would land outside the staging folder (absolute paths, `..`),
        links pointing out of it, and anything but files, folders and links (device nodes,
        FIFOs). Owners become the running user; group and other lose write permission.
        """
        staging = tempfile.mkdtemp(prefix=".stage-", dir=self.root)
        try:
            _safe_extract(archive, staging)
            goroot = os.path.join(staging, "go")
            if not os.path.isdir(goroot):
                raise LayoutError("%s has no go/ folder at its top: not a Go distribution archive" % archive)
            return goroot
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def discard(self, staged_goroot):
        shutil.rmtree(os.path.dirname(staged_goroot), ignore_errors=True)

    def commit(self, staged_goroot, version, record):
        """Move a checked staged GOROOT to <root>/go<version>, replacing a damaged one."""
        _pause("before_commit")
        meta_dir = os.path.join(self.root, META)
        os.makedirs(meta_dir, exist_ok=True)
        _write_json(self.meta_path(version), record)
        target = self.version_dir(version)
        trash = None
        if os.path.lexists(target):
            trash = tempfile.mkdtemp(prefix=".trash-", dir=self.root)
            os.rename(target, os.path.join(trash, "old"))
        os.rename(staged_goroot, target)
        shutil.rmtree(os.path.dirname(staged_goroot), ignore_errors=True)
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
        os.makedirs(parent, exist_ok=True)
        tmp = os.path.join(parent, ".%s.gofleet-%d" % (os.path.basename(link), os.getpid()))
        _unlink(tmp)
        os.symlink(self.version_dir(version), tmp)
        os.replace(tmp, link)
        return previous

    def deactivate(self):
        if self.active_link and os.path.islink(self.active_link):
            os.unlink(self.active_link)

    def remove(self, version, with_rebuilds=False):
        """Remove a version folder and its record (rename first, so no half-removed GOROOT is seen);
        with_rebuilds: its rebuilt trees too. Returns the folder names removed."""
        names = ["go" + version] + (self.rebuilds(version) if with_rebuilds else [])
        removed = []
        for name in names:
            target = os.path.join(self.root, name)
            if os.path.lexists(target):
                trash = tempfile.mkdtemp(prefix=".trash-", dir=self.root)
                os.rename(target, os.path.join(trash, "old"))
                shutil.rmtree(trash, ignore_errors=True)
                removed.append(name)
            _unlink(os.path.join(self.root, META, name + ".json"))
            _unlink(os.path.join(self.root, META, name + ".make.log"))
        return removed


def _rebuild_of(name):
    """The version a rebuilt tree's folder name was rebuilt from, else None."""
    m = REBUILT_DIR.match(name)
    return m.group("version") if m else None


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_json(path, data):
    fd, tmp = tempfile.mkstemp(prefix=".download-meta-", dir=os.path.dirname(path))
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _inside(base, path):
    base = os.path.normpath(base)
    path = os.path.normpath(path)
    return path == base or path.startswith(base + os.sep)


def _safe_extract(archive, dest):
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as e:
        raise LayoutError("%s is not a readable tar archive: %s" % (archive, e))
    links = set()  # symlinks extracted so far: nothing may be written through one
    with tar:
        while True:
            try:
                member = tar.next()
            except tarfile.TarError as e:
                raise LayoutError("%s is damaged: %s" % (archive, e))
            if member is None:
                break
            name = member.name
            target = os.path.join(dest, name)
            if name.startswith("/") or ".." in name.split("/") or not _inside(dest, target):
                raise LayoutError("%s: member %r would land outside the install folder; refused"
                                  % (archive, name))
            parts = os.path.normpath(name).split(os.sep)
            if any(os.sep.join(parts[:i]) in links for i in range(1, len(parts) + 1)):
                # with no member written through a link, the lexical checks here are the real paths
                raise LayoutError("%s: member %r goes through a symlink of the archive; refused" % (archive, name))
            if member.issym():
                if os.path.isabs(member.linkname) or not _inside(
                        dest, os.path.join(os.path.dirname(target), member.linkname)):
                    raise LayoutError("%s: symlink %r -> %r points outside the install folder; refused"
                                      % (archive, name, member.linkname))
                links.add(os.sep.join(parts))
            elif member.islnk():
                if not _inside(dest, os.path.join(dest, member.linkname)) or ".." in member.linkname.split("/"):
                    raise LayoutError("%s: hard link %r -> %r points outside the install folder; refused"
                                      % (archive, name, member.linkname))
            elif not (member.isfile() or member.isdir()):
                raise LayoutError("%s: member %r is a device node or FIFO; refused" % (archive, name))
            try:
                _write_member(tar, member, dest, target)
            except (tarfile.TarError, EOFError, OSError, ValueError) as e:
                if isinstance(e, OSError) and e.errno == errno.ENOSPC:
                    raise LayoutError("no space left while unpacking %s into %s; nothing was activated"
                                      % (os.path.basename(archive), dest))
                if isinstance(e, FileExistsError):
                    raise LayoutError("%s: member %r appears twice; refused" % (archive, name))
                raise LayoutError("%s is damaged or truncated at %r: %s" % (archive, name, e))


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _write_member(tar, member, dest, target):
    """Write one checked member: owned by the running user, group and other without write, mtime
    kept. O_EXCL|O_NOFOLLOW: never write through anything already there. Fewer system calls than
    tarfile.extract (no chown, no realpath), which matters for 12,000 files."""
    if member.isdir():
        os.makedirs(target, exist_ok=True)
        os.chmod(target, (member.mode & 0o755) | 0o700)
        return
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    if member.issym():
        os.symlink(member.linkname, target)
    elif member.islnk():
        os.link(os.path.join(dest, member.linkname), target, follow_symlinks=False)
    else:
        fd = os.open(target, _CREATE, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(tar.extractfile(member), out, 1 << 20)
            os.fchmod(out.fileno(), member.mode & 0o755)
        os.utime(target, (member.mtime, member.mtime))


def is_executable(path):
    try:
        return stat.S_ISREG(os.stat(path).st_mode) and os.access(path, os.X_OK)
    except OSError:
        return False
