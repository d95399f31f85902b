# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The resolver: a version spec and a platform in, one complete Release out. Standard library only.

This is the one place where a release is decided, for go_install on the node (fetching through
ansible-core's fetch_url), for the go_release lookup on the controller (through requests) and so
for the role's fleet mode (which uses the lookup). Callers pass `fetch(url) -> text`; an error it
raises keeps its HTTP status in `.status` (404 means "no JSON index here": use the sidecar).

Order of the answers, first that applies:
  1. an exact version whose healthy install the layout already recorded (`installed(version)`
     returns that record's sha256), matching `checksum` when one is given: no request at all;
  2. an exact version with a pinned `checksum`: no request at all (the digest is the caller's);
  3. the JSON index (go.dev's ``/dl/?mode=json&include=all``), every field used checked;
  4. without an index (404), an exact version and its ``.sha256`` sidecar.
A pinned checksum always wins over a published digest. Every index field that reaches a path, a
URL or a comparison is checked here once: the filename must be exactly the official name for the
version and platform (so no index can name a path), sha256 64 hex digits, size a positive integer.
Any index, however malformed, gives a ReleaseError naming the field: never a traceback.

The second source kind is a Go module proxy (`resolve_module`): the toolchain as the module
golang.org/toolchain, versions from the proxy's ``@v/list``, the zip's expected ``h1:`` hash from
the checksum database (a `verify(modver)` callable: module_utils/_sumdb's verified lookup) or from
the caller's pin - never from the proxy itself. Same order: record, pin, then the proxy.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError
from ansible_collections.gofleet.golang.plugins.module_utils._platform import archive_arch
from ansible_collections.gofleet.golang.plugins.module_utils._versions import (
    VersionError, archive_filename, choose_version, file_url, index_url, is_stable_release, parse_spec, parse_version,
    sidecar_url,
)

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_H1 = re.compile(r"^h1:[A-Za-z0-9+/]{43}=$")  # base64 of a SHA-256
MAX_ARCHIVE_SIZE = 4 << 30  # no Go archive comes near it; a larger "size" is a hostile index
MAX_INDEX_BYTES = 32 << 20
MAX_SIDECAR_BYTES = 4096


class ReleaseError(VersionError):
    """No release could be decided: bad spec, not published, a malformed index or sidecar."""


class Release:
    """One official release file, complete: every field known, and where each came from.

    `kind`: "archive" (go.dev's .tar.gz/.zip, verified by `sha256`) or "module" (the toolchain
    module zip from a Go module proxy, verified by its `h1` dirhash; `filename` is the module
    version's .zip, `verification` what the checksum database proved, or None with a pin).
    `sources` maps version, sha256 (h1 for a module) and size to index, sidecar, checksum (the
    caller's pin), record (the layout's record of an install from verified bytes), list (the
    proxy's version list) or sumdb. `src`: the node-local file it comes from instead of a URL (url
    is then None; version None until its tree is read)."""

    __slots__ = ("version", "filename", "url", "sha256", "size", "os", "arch", "stable", "sources", "src", "kind",
                 "h1", "verification")

    def __init__(self, version, filename, url, sha256, size, goos, goarch, stable, sources, src=None, kind="archive",
                 h1=None, verification=None):
        self.version, self.filename, self.url = version, filename, url
        self.sha256, self.size, self.os, self.arch = sha256, size, goos, goarch
        self.stable, self.sources, self.src = stable, sources, src
        self.kind, self.h1, self.verification = kind, h1, verification

    @property
    def tag(self):
        return "go" + self.version if self.version else None

    @property
    def digest_key(self):
        """The field that verifies the bytes: sha256 for an archive, h1 for a module zip."""
        return "h1" if self.kind == "module" else "sha256"

    @property
    def digest(self):
        return self.h1 if self.kind == "module" else self.sha256

    @property
    def offline(self):
        """True when deciding it took no request."""
        return not set(self.sources.values()) & {"index", "sidecar", "list", "sumdb"}

    def as_dict(self):
        out = dict(version=self.version, tag=self.tag, filename=self.filename, url=self.url, sha256=self.sha256,
                   size=self.size, os=self.os, arch=self.arch, stable=self.stable, kind=self.kind,
                   source=self.sources[self.digest_key], sources=dict(self.sources))
        if self.kind == "module":
            out.update(h1=self.h1, module_version=self.filename[:-len(".zip")], verification=self.verification)
        return out

    def __repr__(self):
        return "Release(%s %s)" % (self.filename, self.sources)


def parse_checksum(value, what="checksum"):
    """'sha256:<hex>' or '<hex>' -> lowercase hex; None stays None. Raises ReleaseError otherwise."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:"):]
    elif ":" in text:
        raise ReleaseError("%s %s: only sha256 is supported (Go publishes SHA-256 digests)" % (what, _show(value)))
    if not _HEX64.match(text):
        raise ReleaseError("%s %s is not a SHA-256 digest: expected 64 hex digits, optionally prefixed with "
                           "'sha256:'" % (what, _show(value)))
    return text


def parse_h1(value, what="checksum"):
    """'h1:<base64>' (a Go module hash, as in go.sum) -> the same text; None stays None."""
    if value is None:
        return None
    text = str(value).strip()
    if not _H1.match(text):
        raise ReleaseError("%s %s is not a Go module hash: expected h1: and the base64 of a SHA-256 (44 characters), "
                           "as go.sum writes it" % (what, _show(value)))
    return text


def _show(value, limit=80):
    """A value for an error message: repr, cut short (an index may hold anything)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


# ---- the index ----------------------------------------------------------------------------------
def parse_index(text, where="the release index"):
    """Decode go.dev's JSON index and check its shape: a list of objects, each with a str `version`
    and a list `files` of objects whose os/arch/kind/filename are strings. Returns the list."""
    try:
        index = json.loads(text)
    except (ValueError, TypeError, RecursionError) as e:
        raise ReleaseError("%s is not JSON (%s): check the base URL" % (where, str(e)[:120])) from None
    if not isinstance(index, list):
        raise ReleaseError("%s is not go.dev's JSON list of releases (got a JSON %s): check the base URL"
                           % (where, type(index).__name__))
    for i, rel in enumerate(index):
        if not isinstance(rel, dict):
            raise ReleaseError("%s: entry %d is not an object" % (where, i))
        if not isinstance(rel.get("version"), str):
            raise ReleaseError("%s: entry %d has no string field 'version'" % (where, i))
        if "stable" in rel and not isinstance(rel["stable"], bool):
            raise ReleaseError("%s: %s: field 'stable' is not true or false" % (where, _show(rel["version"])))
        files = rel.get("files", [])
        if not isinstance(files, list):
            raise ReleaseError("%s: %s: field 'files' is not a list" % (where, _show(rel["version"])))
        for j, f in enumerate(files):
            if not isinstance(f, dict):
                raise ReleaseError("%s: %s: file %d is not an object" % (where, _show(rel["version"]), j))
            for field in ("os", "arch", "kind", "filename"):
                if field in f and not isinstance(f[field], str):
                    raise ReleaseError("%s: %s: file %d: field %r is not a string"
                                       % (where, _show(rel["version"]), j, field))
    return index


def _file_entry(rel, goos, goarch):
    """The archive entry of one release for (goos, goarch), or ReleaseError listing what is published."""
    want_arch = archive_arch(goarch)
    files = rel.get("files", [])
    for f in files:
        if f.get("os") == goos and f.get("arch") in (want_arch, goarch) and f.get("kind", "archive") == "archive":
            return f
    published = sorted({"%s-%s" % (f.get("os"), f.get("arch")) for f in files if f.get("kind", "archive") == "archive"})
    raise ReleaseError("%s is not published for %s-%s; it is published for: %s"
                       % (rel["version"], goos, want_arch, ", ".join(published) or "nothing"))


def _checked_entry(entry, version, goos, goarch):
    """(filename, sha256, size) of an index entry, each field checked; ReleaseError names the bad one."""
    expected = archive_filename(version, goos, goarch)
    name = entry.get("filename")
    if name != expected:
        raise ReleaseError("the go%s %s-%s entry names the file %s, not the official %s: refused (a file name "
                           "from an index is never used as a path)" % (version, goos, archive_arch(goarch),
                                                                       _show(name), expected))
    sha = entry.get("sha256")
    if not isinstance(sha, str) or not _HEX64.match(sha):
        raise ReleaseError("%s: field 'sha256' is %s, not 64 hex digits" % (expected, _show(sha)))
    size = entry.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_ARCHIVE_SIZE):
        raise ReleaseError("%s: field 'size' is %s, not a byte count" % (expected, _show(size)))
    return expected, sha.lower(), size


def select(spec, index, goos, goarch, base_url, include_unstable=False):
    """The Release a spec selects in a decoded, parse_index()-checked index, for one platform.
    Raises ReleaseError (a VersionError) naming the nearest published versions or platforms."""
    spec = parse_spec(spec) if not hasattr(spec, "kind") else spec
    try:
        v, rel = choose_version(spec, index, include_unstable)
    except ReleaseError:
        raise
    except VersionError as e:
        raise ReleaseError(str(e)) from None
    try:
        entry = _file_entry(rel, goos, goarch)
    except ReleaseError as e:
        msg = str(e)
        if spec.kind != "exact":
            older = _newest_older_with(index, v, goos, goarch, include_unstable)
            if older:
                msg += "; the newest older release published for %s-%s is %s" % (goos, archive_arch(goarch), older)
        raise ReleaseError(msg) from None
    filename, sha, size = _checked_entry(entry, v, goos, goarch)
    return Release(str(v), filename, file_url(base_url, filename), sha, size, goos, goarch, is_stable_release(v, rel),
                   dict(version="index", sha256="index", size="index" if size is not None else None))


def _newest_older_with(index, v, goos, goarch, include_unstable):
    """Tag of the newest release older than v that is published for goos/goarch, else None."""
    candidates = []
    for rel in index:
        try:
            ov = parse_version(rel["version"])
        except VersionError:
            continue
        if ov < v and (include_unstable or is_stable_release(ov, rel)):
            try:
                _file_entry(rel, goos, goarch)
            except ReleaseError:
                continue
            candidates.append(ov)
    return max(candidates).tag if candidates else None


# ---- the resolver -------------------------------------------------------------------------------
def resolve(spec, goos, goarch, fetch, base_url, checksum=None, include_unstable=False, use_index=True,
            installed=None):
    """Decide the Release for `spec` on goos/goarch (see the module docstring for the order).

    fetch(url, max_bytes) -> text, raising an exception with `.status` (HTTP status or None);
    installed(version) -> sha256 of a healthy recorded install of that exact version on this
    platform, or None. Raises ReleaseError (or the fetch's own error for a failed request)."""
    spec = parse_spec(spec) if not hasattr(spec, "kind") else spec
    checksum = parse_checksum(checksum)
    known = _no_request_digest(spec, checksum, installed)
    if known:
        return _offline(str(spec.version), goos, goarch, base_url, known[0], known[1], spec.version.stable)
    if use_index:
        url = index_url(base_url)
        try:
            text = fetch(url, MAX_INDEX_BYTES)
        except GofleetError as e:
            if getattr(e, "status", None) != 404:
                raise
            text = None
        if text is not None:
            try:
                rel = select(spec, parse_index(text, url), goos, goarch, base_url, include_unstable)
            except ReleaseError as e:
                msg = str(e)
                raise ReleaseError(msg if msg.startswith(url) else "%s: %s" % (url, msg)) from None
            if checksum:
                rel.sha256, rel.sources["sha256"] = checksum, "checksum"
            return rel
    return _from_sidecar(spec, goos, goarch, fetch, base_url, use_index)


def _no_request_digest(spec, pin, installed):
    """(digest, source) of an exact spec that needs no request: the install record's digest (when it
    agrees with the pin, if any), else the pin; None otherwise."""
    if spec.kind != "exact":
        return None
    recorded = installed(str(spec.version)) if installed else None
    if recorded and (pin is None or pin == recorded):
        return recorded, "record"
    return (pin, "checksum") if pin else None


def local(src, sha256, version, goos, goarch, recorded=False):
    """The Release of a node-local archive `src` with a pinned digest; version: an exact version,
    or None when only the archive's VERSION will tell (recorded: a layout record names it)."""
    origin = "record" if recorded else ("checksum" if version else None)
    return Release(version, os.path.basename(src), None, parse_checksum(sha256), None, goos, goarch,
                   True, dict(version=origin, sha256="checksum", size=None), src=src)


def _offline(version, goos, goarch, base_url, sha256, source, stable):
    filename = archive_filename(version, goos, goarch)
    return Release(version, filename, file_url(base_url, filename), sha256, None, goos, goarch, stable,
                   dict(version=source, sha256=source, size=None))


def _from_sidecar(spec, goos, goarch, fetch, base_url, use_index):
    """Without a JSON index: an exact version's archive, its digest from the .sha256 sidecar."""
    if spec.kind != "exact":
        why = "use_index is off" if not use_index else "%s has no JSON index (%s answered 404)" % (
            base_url, index_url(base_url))
        raise ReleaseError("%s: only exact versions resolve through .sha256 sidecars, and %r is a %s spec; give an "
                           "exact version such as 1.27.3 (or serve the index)" % (why, spec.text, spec.kind))
    version = str(spec.version)
    filename = archive_filename(version, goos, goarch)
    url = sidecar_url(base_url, filename)
    try:
        text = fetch(url, MAX_SIDECAR_BYTES)
    except GofleetError as e:
        if getattr(e, "status", None) == 404:
            raise ReleaseError("%s is not published at %s (404 for %s): check the version and os/arch, or serve the "
                               "JSON index so that the nearest versions can be named" % (filename, base_url, url)) from None
        raise
    words = text.split()
    digest = words[0] if words else ""
    if not _HEX64.match(digest) or (len(words) > 1 and words[1].lstrip("*") != filename):
        raise ReleaseError("%s holds no SHA-256 digest of %s (got %s): fix the mirror, or give checksum="
                           % (url, filename, _show(text[:80])))
    return Release(version, filename, file_url(base_url, filename), digest.lower(), None, goos, goarch,
                   spec.version.stable, dict(version="sidecar", sha256="sidecar", size=None))


# ---- the module proxy ---------------------------------------------------------------------------
def resolve_module(spec, goos, goarch, proxy, checksum=None, include_unstable=False, installed=None, verify=None):
    """Decide the toolchain module Release for `spec` on goos/goarch through a Go module proxy.

    proxy: an _goproxy.Proxy (the GOPROXY list and a fetch); checksum: an h1: pin, or None;
    installed(version) -> the recorded h1 of a healthy install of that version, or None;
    verify(modver) -> the checksum database's Verification of that module version (its `h1`),
    called only when there is no pin. Order: record, pin (both exact versions, no request), then
    the proxy's version list and the database. Raises ReleaseError, or the proxy's or the
    database's own error."""
    from ansible_collections.gofleet.golang.plugins.module_utils import _goproxy  # pylint: disable=import-outside-toplevel

    spec = parse_spec(spec) if not hasattr(spec, "kind") else spec
    pin = parse_h1(checksum)
    known = _no_request_digest(spec, pin, installed)
    if known:
        return _module_release(proxy, str(spec.version), goos, goarch, spec.version.stable, known[0], known[1])
    published = proxy.versions(goos, goarch)
    where = "the module proxy's version list of %s for %s-%s" % (_goproxy.TOOLCHAIN, goos, goarch)
    index = [dict(version=v, stable=parse_version(v).stable) for v in published]
    if not index:
        raise ReleaseError("%s is empty (GOPROXY %s): no Go toolchain for this platform there"
                           % (where, ",".join(e.url for e in proxy.entries)))
    try:
        v, rel = choose_version(spec, index, include_unstable)
    except VersionError as e:
        raise ReleaseError("%s: %s" % (where, e)) from None
    version = str(v)
    if spec.kind != "exact" and installed:
        recorded = installed(version)
        if recorded and (pin is None or pin == recorded):
            release = _module_release(proxy, version, goos, goarch, is_stable_release(v, rel), recorded, "record")
            release.sources["version"] = "list"
            return release
    if pin:
        release = _module_release(proxy, version, goos, goarch, is_stable_release(v, rel), pin, "checksum")
    else:
        modver = _goproxy.module_version(version, goos, goarch)
        verification = verify(modver)
        release = _module_release(proxy, version, goos, goarch, is_stable_release(v, rel), verification.h1, "sumdb")
        release.verification = verification.as_dict()
    release.sources["version"] = "list"
    return release


def _module_release(proxy, version, goos, goarch, stable, h1, source):
    from ansible_collections.gofleet.golang.plugins.module_utils import _goproxy  # pylint: disable=import-outside-toplevel

    modver = _goproxy.module_version(version, goos, goarch)
    first = proxy.entries[0].url  # where the zip is asked for first (obtain_module walks the list)
    url = proxy.zip_url(first, version, goos, goarch) if first != "off" else None
    return Release(version, modver + ".zip", url, None, None, goos, goarch, stable,
                   dict(version=source, h1=source, size=None), kind="module", h1=h1)


def local_module(src, h1, version, goos, goarch, recorded=False):
    """The Release of a node-local toolchain module zip `src` with a pinned h1: hash."""
    origin = "record" if recorded else ("checksum" if version else None)
    return Release(version, os.path.basename(src), None, None, None, goos, goarch, True,
                   dict(version=origin, h1="checksum", size=None), src=src, kind="module", h1=parse_h1(h1))
