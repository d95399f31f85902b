# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The install path of go_install, one step per function, each taking the previous step's value:

    spec --_release.resolve()--> Release --Engine.plan()--> Plan
         --obtain()/open_src()--> Archive (an open file and the SHA-256 of exactly its bytes)
         --Engine.install()--> a verified tree committed to the layout (_layout, _tree)
         --Engine.apply()--> the active link switched, versions pruned

Nothing here calls fail_json: errors are GofleetError subclasses, raised; go_install's main()
catches them once, after Engine.close() has discarded what this run staged and released the lock.
The bytes verified are the bytes extracted: an archive is hashed from the one descriptor that is
then unpacked (a downloaded file in the install root's private area, or `src` opened once without
following links; a `src` that another user could rewrite is first copied into the private area).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import stat
import tempfile
import time

from ansible_collections.gofleet.golang.plugins.module_utils import _download, _layout, _tree
from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError
from ansible_collections.gofleet.golang.plugins.module_utils._versions import version_key


class InstallError(GofleetError):
    """The archive or the tree it holds is not what was asked for; nothing was installed."""


class Plan:
    """What a run must do on this host: install the version, switch the link to it, prune versions."""

    __slots__ = ("version", "install", "switch", "prune", "problem")

    def __init__(self, version, install, switch, prune, problem=None):
        self.version, self.install, self.switch, self.prune, self.problem = version, install, switch, prune, problem

    @property
    def changes(self):
        return bool(self.install or self.switch or self.prune)

    def as_dict(self):
        return dict(install=self.install, switch=self.switch, prune=list(self.prune))


class Archive:
    """An open archive file and the SHA-256 of the bytes in it (the ones that will be unpacked)."""

    __slots__ = ("file", "sha256", "size", "label", "h1")

    def __init__(self, file, sha256, size, label, h1=None):
        self.file, self.sha256, self.size, self.label, self.h1 = file, sha256, size, label, h1


# ---- the archive ----------------------------------------------------------------------------
def open_src(path, private_dir):
    """Open a node-local archive once and return an Archive over bytes nobody else can change.

    The path is opened once, without following a link and without blocking. That descriptor is
    used as is only when it is a regular file owned by this user, not writable by group or others,
    with one link; in every other case its bytes are copied (and hashed while copied) into a new
    0600 file in `private_dir`, and the copy is what gets verified and unpacked."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise InstallError("src=%s cannot be opened on the node (%s)%s" % (
            path, e.strerror or e, ": it is a symbolic link; give the archive's own path" if e.errno == 40 else ""))
    f = os.fdopen(fd, "rb")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InstallError("src=%s is not a regular file" % path)
        label = os.path.basename(path)
        trusted = st.st_uid == os.geteuid() and not st.st_mode & 0o022 and st.st_nlink == 1
        if trusted:
            digest = _tree.hash_stream(f)[0]
            f.seek(0)
            return Archive(f, digest, st.st_size, label)
        tmp_fd, tmp = tempfile.mkstemp(prefix="src-", dir=private_dir)
        copy = os.fdopen(tmp_fd, "w+b")
        try:
            os.unlink(tmp)  # only this descriptor reaches the copy now
            digest, size = _tree.hash_stream(f, copy)
            copy.flush()
            copy.seek(0)
        except BaseException:
            copy.close()
            raise
        f.close()
        return Archive(copy, digest, size, label)
    except BaseException:
        if not f.closed:
            f.close()
        raise


def obtain_module(fetcher, proxy, release, directory):
    """Download a toolchain module zip through the GOPROXY list (the next entry on 404/410, or on
    any error after `|`, as cmd/go) into `directory`, hash it (its h1: dirhash, before anything is
    extracted) and return it as an open Archive with `.h1` set."""
    from ansible_collections.gofleet.golang.plugins.module_utils import _goproxy  # pylint: disable=import-outside-toplevel

    def download(url):
        path = _goproxy.file_url_path(url)
        if path:  # a file:// proxy: copied into the private area, like a node-local src
            return open_src(path, directory)
        got = fetcher.download(url, directory, None, None, name=release.filename, max_bytes=_goproxy.MAX_ZIP_BYTES)
        try:
            f = open(got, "rb")
        finally:
            with contextlib.suppress(OSError):
                os.unlink(got)
        return Archive(f, None, os.fstat(f.fileno()).st_size, release.filename)

    rel_path = "%s/@v/%s" % (_goproxy.TOOLCHAIN, release.filename)
    archive = proxy.walk(rel_path, download)[1]
    try:
        archive.h1 = module_hash(archive)
        archive.label = release.filename
    except BaseException:
        archive.file.close()
        raise
    return archive


def module_hash(archive):
    """The h1: dirhash of a module zip Archive (from its one descriptor), rewound afterwards."""
    from ansible_collections.gofleet.golang.plugins.module_utils import _goproxy  # pylint: disable=import-outside-toplevel

    archive.file.seek(0)
    try:
        return _goproxy.hash1_zip(archive.file)
    finally:
        archive.file.seek(0)


def obtain(fetcher, release, directory):
    """Download the release into `directory` (verified against its size and SHA-256 while it
    streams) and return it as an open Archive; the file itself is unlinked at once."""
    path = fetcher.download(release.url, directory, release.sha256, release.size, name=release.filename)
    try:
        f = open(path, "rb")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return Archive(f, release.sha256, os.fstat(f.fileno()).st_size, release.filename)


# ---- the engine -----------------------------------------------------------------------------
class Engine:
    """One run's view of the layout: judges each tree once, plans, installs, applies, cleans up.

    `run(argv, env)` runs a command (the module's run_command) and returns (rc, out, err);
    `warn(text)` shows a warning."""

    def __init__(self, layout, host, run, warn):
        self.layout = layout
        self.host = host
        self.run = run
        self.warn = warn
        self._states = {}
        self._private = None
        self._staged = None
        self._archives = []

    # ---- judging ----------------------------------------------------------------------------
    def state(self, tree, goos, goarch):
        """The layout's TreeState of <root>/go<tree> for goos/goarch, judged once per run (bin/go is
        read once however many steps ask)."""
        key = (tree, goos, goarch)
        if key not in self._states:
            state = self.layout.tree_state(tree, goos, goarch)
            for text in state.warnings:
                self.warn(text)
            self._states[key] = state
        return self._states[key]

    def recorded(self, goos, goarch, kind="archive"):
        """installed(version) -> the recorded digest (sha256 of an archive, h1 of a module zip: `kind`)
        of an install of that version from verified bytes on this platform, or None: what the resolver
        consults before asking any server. The tree itself is judged once, by plan(): a damaged one is
        reinstalled from these same bytes."""
        field = "h1" if kind == "module" else "sha256"

        def installed(version):
            meta = self.layout.metadata(version) or {}
            if not meta.get(field) or (meta.get("os"), meta.get("arch")) != (goos, goarch):
                return None
            return meta[field] if os.path.isdir(self.layout.version_dir(version)) else None
        return installed

    # ---- planning ---------------------------------------------------------------------------
    def plan(self, version, goos, goarch, activate=True, keep=0):
        """The Plan for `version` (None: an src archive none of whose records matches: install)."""
        if version is None:
            return Plan(None, True, activate, [])
        state = self.state(version, goos, goarch)
        install = not state.healthy
        if install and state.problem != "not installed":
            self.warn("go%s in %s is damaged (%s): reinstalling it" % (version, self.layout.root, state.problem))
        switch = bool(activate) and (install or self.layout.active_tree() != "go" + version)
        if switch and self._keeps_rebuild(version, goos, goarch):
            switch = False
        return Plan(version, install, switch, self.prune_list(version, keep, switch), state.problem)

    def _keeps_rebuild(self, version, goos, goarch):
        """A healthy tree rebuilt from this very version by go_toolchain_rebuild is active: it is this
        version, rebuilt on purpose (build_env, a clean toolchain), so it stays active."""
        tree = self.layout.active_tree()
        if not tree or tree == "go" + version or self.layout.active() != version:
            return False
        state = self.state(tree[2:], goos, goarch)
        if not state.healthy:
            self.warn("the active %s (rebuilt from go%s) is damaged (%s): switching to go%s"
                      % (tree, version, state.problem, version))
            return False
        return True

    def prune_list(self, version, keep, switch):
        """Versions `keep` removes after this run: never the version this run asked for nor the
        active one, then the newest others up to `keep` in all."""
        if not keep:
            return []
        installed = sorted(set(self.layout.installed()) | {version}, key=version_key)
        active = version if switch else self.layout.active()
        kept = {version} | ({active} if active else set())
        for v in reversed(installed):
            if len(kept) >= keep:
                break
            kept.add(v)
        return [v for v in installed if v not in kept]

    # ---- doing ------------------------------------------------------------------------------
    def private_dir(self):
        if self._private is None:
            self._private = self.layout.private_dir()
        return self._private

    def keep_open(self, archive):
        self._archives.append(archive)
        return archive

    def install(self, release, archive, goos, goarch):
        """Verify the archive's bytes, stage them, check the tree, commit it; return its version.
        A module zip is verified by its h1: dirhash (computed here from the one descriptor unless the
        download already did) and unpacked as cmd/go lays it out (module_utils/_goproxy)."""
        members = None
        if release.kind == "module":
            from ansible_collections.gofleet.golang.plugins.module_utils import _goproxy  # pylint: disable=import-outside-toplevel

            if archive.h1 is None:
                archive.h1 = module_hash(archive)
            if archive.h1 != release.h1:
                raise InstallError("%s: its hash %s does not match the expected %s (%s); nothing was installed"
                                   % (archive.label, archive.h1, release.h1, _h1_origin(release)))
            modver = _goproxy.module_version(release.version, release.os, release.arch) if release.version else None
            members = functools.partial(_goproxy.zip_members, modver=modver)
        elif archive.sha256 != release.sha256:
            raise InstallError("%s: sha256 %s does not match the expected %s; nothing was installed"
                               % (archive.label, archive.sha256, release.sha256))
        _layout.pause_point("after_hash")  # tests: the moment a swap of the archive would pay off
        self._staged = self.layout.stage(archive.file, members=members, label=archive.label)
        state = _tree.judge(self._staged, goos, goarch, version=release.version)
        if state.problem:
            raise InstallError("%s: %s; nothing was installed" % (archive.label, _staged_problem(state, release)))
        version = state.version
        if (goos, goarch) == (self.host["goos"], self.host["goarch"]):
            exe = os.path.join(self._staged, "bin", "go")
            rc, out, err = self.run([exe, "version"], dict(GOROOT=self._staged, GOTOOLCHAIN="local"))
            want = "go version go%s %s/%s" % (version, goos, goarch)
            if rc != 0 or not out.startswith(want):
                raise InstallError("%s: the unpacked go does not run here (`go version` said %r, expected %r); nothing "
                                   "was installed" % (archive.label, (out or err).strip()[:200], want))
        record = dict(version=version, os=goos, arch=goarch, sha256=release.sha256, filename=release.filename,
                      url=_download.redact_url(release.url), src=release.src,
                      installed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if release.kind == "module":
            record.update(kind="module", h1=release.h1, h1_source=release.sources.get("h1"),
                          verification=release.verification)
        self.layout.commit(self._staged, version, record)
        self._staged = None
        self._states.pop((version, goos, goarch), None)
        return version

    def apply(self, plan):
        """Switch the link and prune, as planned (after install when the plan installs)."""
        if plan.switch:
            self.layout.activate(plan.version)
        removed = []
        for v in plan.prune:
            self.layout.remove(v, with_rebuilds=True)
            removed.append(v)
        return removed

    def close(self):
        """Always, success or not: discard what this run staged, close archives, unlock."""
        if self._staged:
            self.layout.discard(self._staged)
            self._staged = None
        for archive in self._archives:
            with contextlib.suppress(OSError):
                archive.file.close()
        if self._private:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None
        self.layout.unlock()


def _staged_problem(state, release):
    """The words for a staged tree that is not the Go it was said to be."""
    problem = state.problem
    if problem.startswith("VERSION says go") and release.version:
        return "it holds Go %s, not %s" % (state.version, release.version)
    if problem == "VERSION file missing":
        return "it has no go/VERSION: not a Go distribution"
    if problem.startswith("bin/go is ") and "/" in problem:
        return "%s (a mislabeled archive)" % problem.replace("bin/go is ", "bin/go is built for ", 1)
    if problem.startswith("bin/go unreadable"):
        return "bin/go cannot be read as an executable (%s)" % problem.split(": ", 1)[-1]
    return problem


def _h1_origin(release):
    source = release.sources.get("h1")
    if source == "sumdb" and release.verification:
        return "the checksum database %s's record %s" % (release.verification.get("db"),
                                                         release.verification.get("record"))
    return {"checksum": "the checksum= pin", "record": "this host's install record"}.get(source, source)
