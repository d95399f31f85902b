# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Is this GOROOT a healthy Go for goos/goarch? One judgement, one read of the tree.

``judge(goroot, goos, goarch, record=None, manifest=None, full=False)`` reads the tree once -
``VERSION`` (checked to be a Go version before anything uses it), ``bin/go``'s headers through
``_binary.inspect`` (exactly once: callers take ``TreeState.info`` instead of parsing bin/go
again), ``pkg/tool/<goos>_<goarch>``, the install record and the manifest - and answers with a
``TreeState``: ``problem`` is None when the tree is healthy, else the first thing wrong, in words.

The manifest (``build_manifest``, written by the layout when it commits a tree) lists every folder,
file (size, executable bit, sha256) and link of the tree as installed. Every judgement checks the
names, types, sizes, executable bits and owners (one lstat per entry, cheap: about 14,000 entries
for a Go distribution); ``full=True`` also hashes every file against its recorded digest. That
finds what a power cut or a disk leaves behind (a zero-length or truncated
``pkg/tool/linux_amd64/compile``) where ``bin/go`` alone looks fine.

``go.env`` is left out of every manifest: the role rewrites ``$GOROOT/go.env`` after the install
(roles/go/tasks/environment.yml owns that file), so its content says nothing about damage.

Standard library only (it runs on managed nodes, Python 3.8+).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat

from ansible_collections.gofleet.golang.plugins.module_utils import _binary

VERSION_PATTERN = r"\d+\.\d+(\.\d+)?((rc|beta)\d+)?"
_VERSION_LINE = re.compile(r"^go(?P<version>%s)$" % VERSION_PATTERN)
MANIFEST_FORMAT = 1
# Files of a GOROOT that others own after the install: never part of the manifest.
NOT_MANIFESTED = ("go.env",)
_VERSION_MAX = 4096  # a VERSION file is two or three short lines
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class TreeState:
    """What `judge` found. `problem`: None when healthy, else why not. `version`: the Go version
    VERSION names (checked), or None. `info`: bin/go as `_binary.inspect` read it, or None when the
    judgement stopped before reading it. `warnings`: texts for the module to show."""

    __slots__ = ("goroot", "goos", "goarch", "version", "info", "problem", "warnings")

    def __init__(self, goroot, goos, goarch, version=None, info=None, problem=None):
        self.goroot = goroot
        self.goos = goos
        self.goarch = goarch
        self.version = version
        self.info = info
        self.problem = problem
        self.warnings = []

    @property
    def healthy(self):
        return self.problem is None

    def __repr__(self):
        return "TreeState(%r, version=%r, problem=%r)" % (self.goroot, self.version, self.problem)


def read_version(goroot):
    """(version, problem): the Go version the first line of goroot/VERSION names, e.g. "1.27.3".

    The file is opened without following a link and without blocking, must be a regular file of a
    few bytes, and its first line must be go<version>: anything else is a problem, never a path or
    a name used as is."""
    path = os.path.join(goroot, "VERSION")
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None, "VERSION file missing"
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, "VERSION is not a regular file"
        data = f.read(_VERSION_MAX + 1)
    if len(data) > _VERSION_MAX:
        return None, "VERSION is larger than %d bytes: not a Go distribution's" % _VERSION_MAX
    first = data.split(b"\n", 1)[0].strip().decode("ascii", "replace")
    m = _VERSION_LINE.match(first)
    if not m:
        return None, "VERSION holds no Go version (%r)" % first[:80]
    return m.group("version"), None


def judge(goroot, goos, goarch, record=None, manifest=None, full=False, version=None):
    """Judge the GOROOT `goroot` for goos/goarch; return a TreeState.

    record: the layout's install record of the tree (its "version", "os" and "arch" must agree),
    or None for a tree nobody recorded. manifest: what `build_manifest` listed at install, or None
    (no content check beyond VERSION, bin/go and pkg/tool). full: hash every file of the manifest.
    version: the Go version the tree must be (else VERSION's is taken)."""
    state = TreeState(goroot, goos, goarch)
    try:
        st = os.lstat(goroot)
    except OSError:
        st = None
    if st is None or not stat.S_ISDIR(st.st_mode):
        state.problem = "not installed"
        return state
    found, problem = read_version(goroot)
    state.version = found
    if problem:
        state.problem = problem
        return state
    if version and found != version:
        state.problem = "VERSION says go%s" % found
        return state
    if record is not None:
        if record.get("version") and record["version"] != found:
            state.problem = "VERSION says go%s, its install record go%s" % (found, record["version"])
            return state
        if record.get("os") and record.get("arch") and (record["os"], record["arch"]) != (goos, goarch):
            state.problem = "installed for %s/%s, not %s/%s" % (record["os"], record["arch"], goos, goarch)
            return state
    exe = os.path.join(goroot, "bin", "go")
    try:
        exe_st = os.lstat(exe)
    except OSError:
        exe_st = None
    if exe_st is None:
        state.problem = "bin/go missing"
        return state
    if not stat.S_ISREG(exe_st.st_mode):
        state.problem = "bin/go is not a regular file"
        return state
    try:
        state.info = _binary.inspect(exe)
    except _binary.BinaryError as e:
        state.problem = "bin/go unreadable: %s" % e
        return state
    if (state.info.get("goos"), state.info.get("goarch")) != (goos, goarch):
        state.problem = "bin/go is %s/%s, not %s/%s" % (state.info.get("goos"), state.info.get("goarch"), goos, goarch)
        return state
    tools = os.path.join("pkg", "tool", "%s_%s" % (goos, goarch))
    try:
        tools_ok = stat.S_ISDIR(os.lstat(os.path.join(goroot, tools)).st_mode)
    except OSError:
        tools_ok = False
    if not tools_ok:
        state.problem = "%s missing" % tools
        return state
    if manifest is not None:
        state.problem = check_manifest(goroot, manifest, full=full)
    return state


# ---- the manifest --------------------------------------------------------------------------
def new_manifest():
    return {"format": MANIFEST_FORMAT, "dirs": [], "files": {}, "links": {}}


def add_file(manifest, rel, size, executable, sha256):
    manifest["files"][rel] = [size, 1 if executable else 0, sha256]


def hash_stream(src, out=None, block=1 << 20):
    """(sha256 hex, size) of what `src` (a binary file) holds from where it stands, each block
    also written to `out` when given: the bytes hashed are the bytes copied."""
    h = hashlib.sha256()
    size = 0
    while True:
        chunk = src.read(block)
        if not chunk:
            return h.hexdigest(), size
        h.update(chunk)
        if out is not None:
            out.write(chunk)
        size += len(chunk)


def file_digest(path):
    """sha256 hex of a file, read without following a link."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        return hash_stream(f)[0]


def build_manifest(goroot, digests=True):
    """List the tree as it is now: folders, files (size, executable bit, sha256 when `digests`) and
    links, relative to goroot with "/" separators, go.env left out. Never follows a link."""
    manifest = new_manifest()
    for folder, dirs, files in os.walk(goroot):
        rel_folder = os.path.relpath(folder, goroot)
        prefix = "" if rel_folder == "." else rel_folder.replace(os.sep, "/") + "/"
        for name in list(dirs):
            path = os.path.join(folder, name)
            if os.path.islink(path):  # os.walk lists links to folders as folders
                dirs.remove(name)
                files.append(name)
            else:
                manifest["dirs"].append(prefix + name)
        for name in files:
            rel = prefix + name
            if rel in NOT_MANIFESTED:
                continue
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                manifest["links"][rel] = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                add_file(manifest, rel, st.st_size, st.st_mode & 0o111, file_digest(path) if digests else None)
    manifest["dirs"].sort()
    return manifest


def check_manifest(goroot, manifest, full=False):
    """None when every entry of the manifest is on disk as recorded, else the first difference."""
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return "its manifest is unreadable (format %r)" % (manifest.get("format") if isinstance(manifest, dict) else None)
    me = os.geteuid()
    for rel in manifest.get("dirs", ()):
        try:
            st = os.lstat(os.path.join(goroot, rel))
        except OSError:
            return "%s/ missing" % rel
        if not stat.S_ISDIR(st.st_mode):
            return "%s is no longer a folder" % rel
        problem = _owner_problem(rel + "/", st, me)
        if problem:
            return problem
    for rel, target in manifest.get("links", {}).items():
        try:
            now = os.readlink(os.path.join(goroot, rel))
        except OSError:
            return "%s missing (a link to %s)" % (rel, target)
        if now != target:
            return "%s points at %s, not %s" % (rel, now, target)
    for rel, entry in manifest.get("files", {}).items():
        size, executable, digest = entry
        path = os.path.join(goroot, rel)
        try:
            st = os.lstat(path)
        except OSError:
            return "%s missing" % rel
        if not stat.S_ISREG(st.st_mode):
            return "%s is no longer a regular file" % rel
        if st.st_size != size:
            return "%s is %d bytes, %d when installed (truncated or damaged)" % (rel, st.st_size, size)
        if bool(st.st_mode & 0o111) != bool(executable):
            return "%s %s its executable bit" % (rel, "lost" if executable else "gained")
        problem = _owner_problem(rel, st, me)
        if problem:
            return problem
        if full and digest:
            now = file_digest(path)
            if now != digest:
                return "%s differs from what was installed (sha256 %s, installed %s)" % (rel, now, digest)
    return None


def _owner_problem(rel, st, me):
    if st.st_uid not in (0, me):
        return "%s is owned by uid %d, not root: that user can change the toolchain" % (rel, st.st_uid)
    if st.st_mode & 0o022:
        return "%s is writable by group or others (mode %04o)" % (rel, stat.S_IMODE(st.st_mode))
    return None
