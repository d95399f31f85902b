# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Go toolchains through a Go module proxy, as cmd/go fetches them for GOTOOLCHAIN. Standard library only.

A toolchain is the module ``golang.org/toolchain`` at version ``v0.0.1-go<version>.<goos>-<goarch>``
(Go's own GOOS/GOARCH names: ``linux-arm``, never ``armv6l``), served by any GOPROXY as
``<proxy>/golang.org/toolchain/@v/{list,<ver>.info,<ver>.mod,<ver>.zip}``. What lives here, each
mirroring cmd/go (src/cmd/go/internal/modfetch/proxy.go, toolchain/select.go, cmd/distpack):

- parse_goproxy: the GOPROXY list. Entries separated by ``,`` fall through to the next only on a
  404/410, entries followed by ``|`` on any error; ``off`` and ``direct`` end the list (``direct``
  for golang.org/toolchain is go.dev's module endpoint, DIRECT); a scheme-less ``host/path`` gets
  ``https://`` as cmd/go gives it; anything else is refused with what was wrong.
- Proxy: one GET walked over that list as cmd/go's TryProxies walks it, the version list, the zip's
  URL, and where the checksum database is reached (``<proxy>/sumdb/<name>/supported``).
- open_fetch: file:// proxy trees read locally (regular files only, never through a final
  symlink, size-capped; a missing file is a 404, so ``,`` falls through as it does over HTTP).
- hash1_zip: the zip's ``h1:`` exactly as golang.org/x/mod/sumdb/dirhash.HashZip + Hash1 compute
  it (entry names as stored, sorted by bytes, one ``<hex sha256>  <name>`` line each, base64 of
  the SHA-256 of those lines), over the downloaded file before anything is extracted.
- zip_members: the zip's entries as the layout's extractor consumes them (the tuples of
  _layout._tar_members), renamed from ``golang.org/toolchain@<ver>/`` to ``go/``, with the modes
  cmd/distpack gives (the zip's own modes are ignored), and each ``_go.mod`` also copied to
  ``go.mod`` beside it as cmd/go does after unzipping (``src/go.mod`` last). Symlinks, devices,
  encrypted entries, names outside the prefix or not plain, duplicates, entries over the size cap
  and data longer than declared are refused: Go's toolchain zips hold only regular files.
Every error is a GoproxyError (a GofleetError) saying what disagreed and what to do; no input,
however malformed, gives a traceback.
"""

from __future__ import annotations

import base64
import calendar
import collections
import errno
import fnmatch
import hashlib
import os
import re
import stat
import struct
import zipfile
import zlib
from urllib.parse import unquote, urlsplit

from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError
from ansible_collections.gofleet.golang.plugins.module_utils._versions import VersionError, canonical

TOOLCHAIN = "golang.org/toolchain"
TOOLCHAIN_VERSION_PREFIX = "v0.0.1-"
DIRECT = "https://go.dev/dl/mod"

MAX_ZIP_BYTES = 500 << 20      # x/mod/zip MaxZipFile: the zip, and the sum of its entries' sizes
MAX_LIST_BYTES = 4 << 20       # @v/list
MAX_SUPPORTED_BYTES = 1 << 16  # /sumdb/<name>/supported: its body is not used
MAX_GOPROXY_CHARS = 1 << 16
NOT_FOUND = (404, 410)
_CHUNK = 1 << 20

_PLATFORM_RE = re.compile(r"^([a-z0-9]+)-([a-z0-9]+)$")
_WORD_RE = re.compile(r"^[a-z0-9]+$")

Entry = collections.namedtuple("Entry", "url any_error")
Entry.__doc__ = """One GOPROXY entry: url (a URL, 'off' or 'direct'); any_error: the separator after it
was '|' (fall through to the next entry on any error) rather than ',' (only on 404/410)."""


class GoproxyError(GofleetError):
    """A module proxy could not give what was asked: `status` is the HTTP status that ended it
    (404/410: not there), None when it was not HTTP."""

    def __init__(self, msg, status=None, **result):
        super().__init__(msg, **result)
        self.status = status


def _status(exc):
    return getattr(exc, "status", None)


# ---------------------------------------------------------------------------------------------
# GOPROXY


def parse_goproxy(text):
    """GOPROXY text -> [Entry]: cmd/go's proxyList. Raises GoproxyError for a value it would refuse
    (and for an empty one: cmd/go would fall back on its built-in default, we ask for a value)."""
    if not isinstance(text, str):
        raise GoproxyError("goproxy must be a string such as 'https://proxy.golang.org,direct', not %s"
                           % type(text).__name__)
    if len(text) > MAX_GOPROXY_CHARS:
        raise GoproxyError("goproxy is %d characters long; refused (at most %d)" % (len(text), MAX_GOPROXY_CHARS))
    entries = []
    rest = text
    while rest:
        cut = min([i for i in (rest.find(","), rest.find("|")) if i >= 0] or [-1])
        if cut >= 0:
            url, any_error, rest = rest[:cut], rest[cut] == "|", rest[cut + 1:]
        else:
            url, any_error, rest = rest, False, ""
        url = url.strip(" \t\r\n\f\v")
        if not url:
            continue
        if url in ("off", "direct"):
            entries.append(Entry(url, False))
            break  # cmd/go: both end the list (later entries are ignored)
        entries.append(Entry(_check_proxy_url(url, text), any_error))
    if not entries:
        raise GoproxyError("goproxy %r names no proxy: give a list such as 'https://proxy.golang.org,direct', "
                           "a file:// tree, or 'off'" % (text[:200],))
    return entries


def _check_proxy_url(url, text):
    where = "goproxy entry %r" % (url[:200],)
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise GoproxyError("%s has spaces or control characters inside it; entries are separated by ',' or '|'"
                           % where)
    # cmd/go: a word with '.', ':' or '/' that is not a URL nor an absolute path is https://<it>
    if any(c in url for c in ".:/") and ":/" not in url and not url.startswith("/"):
        url = "https://" + url
    try:
        parts = urlsplit(url)
        if parts.port == 0:
            raise ValueError("port 0")
    except ValueError as e:
        raise GoproxyError("%s is not a valid URL (%s)" % (where, e))
    scheme = parts.scheme.lower()
    if not scheme:
        raise GoproxyError("%s has no scheme: expected https://, http:// or file:// URLs, 'direct' or 'off'"
                           % where)
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise GoproxyError("%s has a query or fragment; a module proxy is a plain URL" % where)
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise GoproxyError("%s has no host" % where)
        return url.rstrip("/") if parts.path.strip("/") else "%s://%s" % (parts.scheme, parts.netloc)
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise GoproxyError("%s: a file:// proxy is file:///absolute/path (no host, no user, no port)" % where)
        return "file://" + parts.path.rstrip("/") if parts.path.strip("/") else "file:///"
    raise GoproxyError("%s has the scheme %r: a module proxy must be https://, http:// or file:// (or 'direct', "
                       "'off')" % (where, parts.scheme))


# ---------------------------------------------------------------------------------------------
# module versions


def module_version(version, goos, goarch):
    """'1.27.3' or 'go1.27.3', 'linux', 'amd64' -> 'v0.0.1-go1.27.3.linux-amd64'. Go's arch names:
    'armv6l' (go.dev's archive name for arm) is taken as 'arm'. Raises GoproxyError."""
    try:
        name = "go" + canonical(version)
    except VersionError as e:
        raise GoproxyError(str(e))
    goarch = "arm" if goarch == "armv6l" else goarch
    for what, value in (("GOOS", goos), ("GOARCH", goarch)):
        if not isinstance(value, str) or not _WORD_RE.match(value):
            raise GoproxyError("%s %r is not a Go %s name (lower-case letters and digits)" % (what, value, what))
    return "%s%s.%s-%s" % (TOOLCHAIN_VERSION_PREFIX, name, goos, goarch)


def split_module_version(text):
    """'v0.0.1-go1.27.3.linux-amd64' -> ('go1.27.3', 'linux', 'amd64'), or GoproxyError when it is not
    exactly a toolchain module version in its canonical spelling."""
    bad = GoproxyError("%r is not a golang.org/toolchain version: expected e.g. v0.0.1-go1.27.3.linux-amd64"
                       % (text if not isinstance(text, str) else text[:200],))
    if not isinstance(text, str) or not text.startswith(TOOLCHAIN_VERSION_PREFIX + "go"):
        raise bad
    name, dot, platform = text[len(TOOLCHAIN_VERSION_PREFIX):].rpartition(".")
    m = _PLATFORM_RE.match(platform)
    if not dot or not m:
        raise bad
    try:
        if "go" + canonical(name) != name:
            raise bad
    except VersionError:
        raise bad
    return name, m.group(1), m.group(2)


# ---------------------------------------------------------------------------------------------
# fetching: HTTP through the caller's fetch, file:// read here


def open_fetch(fetch):
    """fetch(url, max_bytes) -> bytes for http(s) (raising GofleetError with .status) -> the same
    callable that also reads file:// URLs locally: a regular file only, opened O_NOFOLLOW|O_NONBLOCK
    (never through a final symlink, never blocking on a FIFO), at most max_bytes; a missing file is a
    GoproxyError with status 404, as a proxy's 404."""
    if getattr(fetch, "_gofleet_file_aware", False):
        return fetch

    def fetch2(url, max_bytes):
        if isinstance(url, str) and url[:7].lower() == "file://":
            return read_file_url(url, max_bytes)
        return fetch(url, max_bytes)

    fetch2._gofleet_file_aware = True
    return fetch2


def file_url_path(url):
    """The local path of a file:// URL, None for any other URL; GoproxyError for a file:// URL that
    is not file:///absolute/path."""
    if not isinstance(url, str) or url[:7].lower() != "file://":
        return None
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise GoproxyError("%s: only file:///absolute/path URLs are read" % url[:300])
    path = unquote(parts.path)
    if not path.startswith("/") or "\0" in path:
        raise GoproxyError("%s: not an absolute path" % url[:300])
    return path


def read_file_url(url, max_bytes):
    """The bytes of a file:// URL (see open_fetch)."""
    path = file_url_path(url)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            raise GoproxyError("%s: no such file (as a 404 from a proxy)" % url[:300], status=404)
        if e.errno == errno.ELOOP:
            raise GoproxyError("%s is a symbolic link; refused: a file:// proxy tree is read through regular files "
                               "only" % url[:300])
        raise GoproxyError("%s: cannot read it: %s" % (url[:300], e.strerror or e))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise GoproxyError("%s is not a regular file; refused" % url[:300])
        if st.st_size > max_bytes:
            raise GoproxyError("%s is %d bytes, more than the %d allowed; refused" % (url[:300], st.st_size, max_bytes))
        chunks, got = [], 0
        while got <= max_bytes:
            block = os.read(fd, min(_CHUNK, max_bytes + 1 - got))
            if not block:
                break
            chunks.append(block)
            got += len(block)
        if got > max_bytes:
            raise GoproxyError("%s grew beyond the %d bytes allowed while it was read; refused"
                               % (url[:300], max_bytes))
        return b"".join(chunks)
    except OSError as e:
        raise GoproxyError("%s: cannot read it: %s" % (url[:300], e.strerror or e))
    finally:
        os.close(fd)


class Proxy:
    """A GOPROXY list and the fetch that reaches it (file:// handled by open_fetch)."""

    def __init__(self, entries, fetch):
        if isinstance(entries, str):
            entries = parse_goproxy(entries)
        self.entries = list(entries)
        if not self.entries:
            raise GoproxyError("an empty GOPROXY list: nothing to fetch from")
        self.fetch = open_fetch(fetch)

    @staticmethod
    def base(entry_url):
        """The URL a list entry stands for (DIRECT for 'direct')."""
        return DIRECT if entry_url == "direct" else entry_url

    def get(self, rel_path, max_bytes):
        """GET <entry>/<rel_path> over the list as cmd/go's TryProxies: the next entry after a
        404/410, or after any error when the entry is followed by '|'; 'off' ends it with an error.
        Returns (entry_url, bytes) (entry_url DIRECT for 'direct'); else GoproxyError naming every
        URL tried, with the status of the error cmd/go would report (a direct or non-404 error over
        a 404)."""
        return self.walk(rel_path, lambda url: self.fetch(url, max_bytes))

    def walk(self, rel_path, attempt):
        """attempt(<entry>/<rel_path>) over the list with get()'s rules (a zip download is one such
        attempt); returns (entry_url, what attempt returned)."""
        tried = []
        best, best_rank = None, -1
        for entry in self.entries:
            if entry.url == "off":
                msg = "%s: GOPROXY=off: module downloads are disabled by the goproxy list" % rel_path
                if tried:
                    msg += " (after %s)" % "; ".join(tried)
                raise GoproxyError(msg + "; give a proxy URL, a file:// tree or 'direct'",
                                   status=_status(best) if best is not None else None)
            base = self.base(entry.url)
            url = base + "/" + rel_path
            try:
                return base, attempt(url)
            except GofleetError as e:
                status = _status(e)
                tried.append("%s: %s" % (url, e))
                not_found = status in NOT_FOUND
                rank = 2 if entry.url == "direct" else (0 if not_found else 1)
                if rank >= best_rank or (rank == 0 and best_rank == 0):
                    best, best_rank = e, rank
                if not entry.any_error and not not_found:
                    break
        raise GoproxyError("%s could not be fetched from the goproxy list: %s" % (rel_path, "; ".join(tried)),
                           status=_status(best))

    def versions(self, goos, goarch):
        """The Go versions ('go1.27.3', as in the module version) that golang.org/toolchain/@v/list
        lists for this platform, oldest first as listed; lines that are not toolchain module versions
        for it are ignored (the list is the proxy's word only: every zip is checked on its own)."""
        goarch = "arm" if goarch == "armv6l" else goarch
        _url, data = self.get(TOOLCHAIN + "/@v/list", MAX_LIST_BYTES)
        out, seen = [], set()
        for line in data.decode("utf-8", "replace").split("\n"):
            fields = line.split()
            if not fields:
                continue
            try:
                name, os_, arch = split_module_version(fields[0])
            except GoproxyError:
                continue
            if (os_, arch) == (goos, goarch) and name not in seen:
                seen.add(name)
                out.append(name)
        return out

    def zip_url(self, entry_url, version, goos, goarch):
        """<entry>/golang.org/toolchain/@v/<module version>.zip"""
        return "%s/%s/@v/%s.zip" % (self.base(entry_url), TOOLCHAIN, module_version(version, goos, goarch))

    def sumdb_url(self, db):
        """Where the checksum database `db` (a _sumdb.Database) is reached, as cmd/go's dbClient
        finds it: db.url when GOSUMDB named one; else the first entry whose
        <proxy>/sumdb/<name>/supported answers 200 (<proxy>/sumdb/<name>); a 404/410 (or, for an
        entry followed by '|', any error) moves on; another error means the database is
        unavailable (GoproxyError); at 'direct', 'off' or the list's end: https://<name>."""
        if getattr(db, "url", None):
            return db.url.rstrip("/")
        tried, failure = [], None
        for entry in self.entries:
            if entry.url in ("off", "direct"):
                break
            url = "%s/sumdb/%s/supported" % (entry.url, db.name)
            try:
                self.fetch(url, MAX_SUPPORTED_BYTES)
                return "%s/sumdb/%s" % (entry.url, db.name)
            except GofleetError as e:
                tried.append("%s: %s" % (url, e))
                if _status(e) in NOT_FOUND:
                    continue
                failure = failure or e
                if not entry.any_error:
                    break
        if failure is not None:
            raise GoproxyError("checksum database %s unavailable: %s. A proxy that answers neither 200 nor 404/410 "
                               "for /sumdb/%s/supported is treated as cmd/go treats it; fix the proxy, or name the "
                               "database's URL in sumdb ('name+key url')" % (db.name, "; ".join(tried), db.name),
                               status=_status(failure))
        return "https://" + db.name


# ---------------------------------------------------------------------------------------------
# the zip: its h1 hash and its members


def _size_of(fileobj, label, max_bytes):
    try:
        fileobj.seek(0, os.SEEK_END)
        size = fileobj.tell()
        fileobj.seek(0)
    except (OSError, ValueError, AttributeError) as e:
        raise GoproxyError("%s: cannot read it (%s): a seekable binary file is needed" % (label, e))
    if size > max_bytes:
        raise GoproxyError("%s is %d bytes, more than the %d a module zip may have; refused" % (label, size, max_bytes))
    return size


def _entries(fileobj, label, max_bytes):
    """[(raw name as text, ZipInfo)] of a zip, with the checks every use shares: size caps (the file,
    each entry, their sum), names that are UTF-8 without NUL or newline, no duplicate, no
    encryption. Raises GoproxyError."""
    _size_of(fileobj, label, max_bytes)
    try:
        zf = zipfile.ZipFile(fileobj)
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError,
            RuntimeError, KeyError, IndexError, OverflowError, struct.error) as e:
        raise GoproxyError("%s is not a readable zip file: %s" % (label, e))
    seen, out, total = set(), [], 0
    for info in infos:
        raw = info.orig_filename
        try:
            data = raw.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
            name = data.decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            raise GoproxyError("%s: entry %r has a name that is not UTF-8; refused" % (label, raw[:200]))
        if "\0" in name or "\n" in name:
            raise GoproxyError("%s: entry %r has a NUL or newline in its name; refused (dirhash cannot hash it)"
                               % (label, name[:200]))
        if name in seen:
            raise GoproxyError("%s: entry %r appears twice; refused" % (label, name[:200]))
        seen.add(name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise GoproxyError("%s: entry %r uses compression method %s; refused: module zips are stored or "
                               "deflated" % (label, name[:200], info.compress_type))
        if info.flag_bits & 0x1:
            raise GoproxyError("%s: entry %r is encrypted; refused: module zips are never encrypted"
                               % (label, name[:200]))
        if info.file_size > max_bytes or total + info.file_size > max_bytes:
            raise GoproxyError("%s: entry %r declares %d bytes, beyond the %d bytes a module zip may hold in all "
                               "(a zip bomb?); refused" % (label, name[:200], info.file_size, max_bytes))
        total += info.file_size
        out.append((name, info))
    return zf, out


_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError,
                RuntimeError, KeyError, OverflowError, struct.error, zlib.error)


class _Bounded:
    """A zip entry's reader that refuses more bytes than the entry declares, and turns zipfile's
    errors (bad CRC, truncated or undecodable data) into GoproxyError."""

    def __init__(self, zf, info, label, name):
        self.label, self.name, self.left = label, name, info.file_size
        try:
            self.f = zf.open(info)
        except _READ_ERRORS as e:
            raise GoproxyError("%s: entry %r cannot be read: %s" % (label, name[:200], e))

    def read(self, n=-1):
        want = self.left + 1 if n is None or n < 0 else min(n, self.left + 1)
        try:
            data = self.f.read(want)
        except _READ_ERRORS as e:
            raise GoproxyError("%s: entry %r is damaged: %s" % (self.label, self.name[:200], e))
        self.left -= len(data)
        if self.left < 0:
            raise GoproxyError("%s: entry %r holds more data than the size it declares (a zip bomb?); refused"
                               % (self.label, self.name[:200]))
        return data

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def hash1_zip(fileobj, label="module zip", max_bytes=MAX_ZIP_BYTES):
    """'h1:<base64>' of a zip, exactly as x/mod/sumdb/dirhash.HashZip(zip, Hash1): every entry by
    its stored name (directories included, as empty files), names sorted bytewise, one line
    '<hex sha256 of the data>  <name>\\n' each, the base64 of the SHA-256 of those lines. Refuses
    names with a newline (as Hash1 does), duplicates, and zips beyond max_bytes (file or data)."""
    zf, entries = _entries(fileobj, label, max_bytes)
    with zf:
        summary = hashlib.sha256()
        for name, info in sorted(entries, key=lambda e: e[0].encode("utf-8")):
            digest = hashlib.sha256()
            with _Bounded(zf, info, label, name) as f:
                while True:
                    block = f.read(_CHUNK)
                    if not block:
                        break
                    digest.update(block)
            summary.update(("%s  %s\n" % (digest.hexdigest(), name)).encode("utf-8"))
    return "h1:" + base64.b64encode(summary.digest()).decode("ascii")


def distpack_mode(rest):
    """The mode cmd/distpack gives a file, by its name inside GOROOT (bin/go, src/make.bash)."""
    base = rest.rsplit("/", 1)[-1]
    if rest.startswith(("bin/", "pkg/tool/")) or rest.endswith((".bash", ".sh", ".pl", ".rc")):
        return 0o755
    if fnmatch.fnmatchcase(base, "go_?*_?*_exec"):
        return 0o755
    return 0o644


def _mtime(info):
    try:
        return calendar.timegm(tuple(info.date_time) + (0, 0, 0))
    except (TypeError, ValueError, OverflowError):
        return 315532800  # 1980-01-01, the zip format's epoch


def _modver_of(name, label):
    if not name.startswith(TOOLCHAIN + "@") or "/" not in name[len(TOOLCHAIN) + 1:]:
        raise GoproxyError("%s: entry %r is not under %s@<version>/; refused: not a toolchain module zip"
                           % (label, name[:200], TOOLCHAIN))
    modver = name[len(TOOLCHAIN) + 1:].split("/", 1)[0]
    split_module_version(modver)
    return modver


def zip_modver(fileobj, label="module zip", max_bytes=MAX_ZIP_BYTES):
    """The toolchain module version every entry of the zip carries ('v0.0.1-go1.27.3.linux-amd64'),
    or GoproxyError (no entries, an entry outside golang.org/toolchain@<ver>/, or two versions)."""
    zf, entries = _entries(fileobj, label, max_bytes)
    with zf:
        if not entries:
            raise GoproxyError("%s has no entries: not a toolchain module zip" % label)
        modver = _modver_of(entries[0][0], label)
        for name, _info in entries:
            if _modver_of(name, label) != modver:
                raise GoproxyError("%s: entry %r is not under %s@%s/ like the first entry; refused"
                                   % (label, name[:200], TOOLCHAIN, modver))
        return modver


def _check_rest(rest, name, label):
    parts = rest.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\\" in rest or any(ord(c) < 32 or ord(c) == 127 for c in rest):
        raise GoproxyError("%s: entry %r is not a plain path inside the module (empty, '.', '..' or '\\' parts, "
                           "control characters); refused" % (label, name[:200]))
    return parts


def zip_members(fileobj, label="module zip", modver=None, max_bytes=MAX_ZIP_BYTES):
    """(name, is_dir, mode, size, mtime, open_data) per entry of a toolchain module zip, renamed
    from golang.org/toolchain@<modver>/<rest> to go/<rest> (modver None: the first entry's), the
    shape of _layout._tar_members. Modes are cmd/distpack's (distpack_mode), whatever the zip says.
    Each <dir>/_go.mod is yielded as itself and, after every entry, again as <dir>/go.mod, with
    src/go.mod the very last (cmd/go's order after unzipping). Raises GoproxyError (see module doc);
    open_data() gives a reader that refuses data beyond the declared size."""
    zf, entries = _entries(fileobj, label, max_bytes)
    with zf:
        if modver is None:
            if not entries:
                raise GoproxyError("%s has no entries: not a toolchain module zip" % label)
            modver = _modver_of(entries[0][0], label)
        prefix = "%s@%s/" % (TOOLCHAIN, modver)
        copies = []
        for name, info in entries:
            if not name.startswith(prefix):
                raise GoproxyError("%s: entry %r is outside %s; refused: every entry of the toolchain zip must be "
                                   "under it" % (label, name[:200], prefix))
            rest = name[len(prefix):]
            mode = (info.external_attr >> 16) & 0xFFFF
            kind = stat.S_IFMT(mode)
            is_dir = name.endswith("/")
            if kind and not (kind == stat.S_IFDIR if is_dir else kind == stat.S_IFREG):
                what = {stat.S_IFLNK: "a symbolic link", stat.S_IFDIR: "a folder stored as a file",
                        stat.S_IFREG: "a file named like a folder", stat.S_IFCHR: "a device node",
                        stat.S_IFBLK: "a device node", stat.S_IFIFO: "a FIFO",
                        stat.S_IFSOCK: "a socket"}.get(kind, "a special entry")
                raise GoproxyError("%s: entry %r is %s; refused: toolchain zips hold only files and folders"
                                   % (label, name[:200], what))
            if is_dir:
                if info.file_size:
                    raise GoproxyError("%s: folder entry %r holds data; refused" % (label, name[:200]))
                if rest == "":
                    continue  # the prefix folder itself
                _check_rest(rest[:-1], name, label)
                yield "go/" + rest[:-1], True, 0o755, 0, _mtime(info), None
                continue
            parts = _check_rest(rest, name, label)
            if parts[-1].lower() == "go.mod":
                raise GoproxyError("%s: entry %r is a go.mod; refused: toolchain zips store each go.mod as _go.mod "
                                   "(cmd/distpack)" % (label, name[:200]))
            opener = _opener(zf, info, label, name)
            item = ("go/" + rest, False, distpack_mode(rest), info.file_size, _mtime(info), opener)
            yield item
            if parts[-1] == "_go.mod":
                copies.append(("go/" + rest[:-len("_go.mod")] + "go.mod",) + item[1:])
        copies.sort(key=lambda c: c[0] == "go/src/go.mod")
        yield from copies


def _opener(zf, info, label, name):
    return lambda: _Bounded(zf, info, label, name)
