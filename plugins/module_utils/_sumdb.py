# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A client of Go's checksum database (sum.golang.org and its kind). Standard library, and `cryptography`
for Ed25519 behind a guarded import.

It answers one question: which ``h1:`` hash does the database's signed, append-only log hold for a
module version (here golang.org/toolchain@v0.0.1-go<version>.<goos>-<goarch>), proven, not just
said. It mirrors golang.org/x/mod/sumdb (note, tlog, client.go) and cmd/go's modfetch/sumdb.go:

- parse_gosumdb: GOSUMDB's ``name``, ``name+hash+key`` and ``name+hash+key url``; the bare names
  sum.golang.org (and its alias sum.golang.google.cn, reachable from mainland China) get the
  published key; ``off`` is refused: verification has no off switch here, a pinned checksum is the
  only way around it.
- Verifier / verify_note: a signed note (text, blank line, ``— <name> base64(keyhash || sig)``
  lines) must carry a good Ed25519 signature by the configured key; a line of that key with a bad
  signature is an error, lines of other keys are ignored (note.Open).
- tlog: RFC 6962 record and node hashes, stored hash indexes, tiles of height 8 and their paths
  (``tile/8/0/x001/x234/067``, ``.p/<w>`` for partial tiles, ``data`` for record tiles), record
  (inclusion) and tree (consistency) proofs, and TileHashReader: every hash read from a tile is
  authenticated first, the tiles against the signed tree hash and each lower tile against its
  parent, so no tile the server sends is believed on its word.
- State: the newest signed tree head seen per database, one root-only file each, written
  atomically; a later head must be consistent with it (a fork is an attack), an earlier one must
  be contained in it.
- lookup: GET <db>/lookup/<module>@<version>, then all of the above; a record without the
  module version's zip line is refused (Go's CVE-2026-42501). Returns a Verification.
Errors are SumdbError (a GofleetError) saying what disagreed and what to do; no answer from a
server, however malformed, gives a traceback.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import hashlib
import os
import re
import stat
import tempfile
from urllib.parse import quote, urlsplit

from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError
from ansible_collections.gofleet.golang.plugins.module_utils._goproxy import open_fetch

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False

try:
    import fcntl
except ImportError:  # not on a POSIX node: State works without a lock
    fcntl = None

DEFAULT = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
KNOWN = {"sum.golang.org": DEFAULT}
ALIASES = {"sum.golang.google.cn": ("sum.golang.org", "https://sum.golang.google.cn")}

HASH_SIZE = 32
TILE_HEIGHT = 8
ALG_ED25519 = 1
MAX_LOOKUP_BYTES = 1 << 20
MAX_NOTE_BYTES = 1 << 20
MAX_DATA_TILE_BYTES = 8 << 20
MAX_SIGNATURES = 100
MAX_TREE_SIZE = (1 << 63) - 1
EMPTY_HASH = hashlib.sha256(b"").digest()
TREE_PREFIX = "go.sum database tree\n"

_HEX8 = re.compile(r"^[0-9a-fA-F]{8}$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,18})$")
_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_HOST_PATH = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~-]+)*$")
_MODULE = re.compile(r"^[A-Za-z0-9._~+-]+(?:/[A-Za-z0-9._~+-]+)*$")
_VERSION = re.compile(r"^v[0-9A-Za-z.+-]+$")


class SumdbError(GofleetError):
    """The checksum database did not prove what was asked: a bad key or signature, a record
    without the module's line, tiles that do not prove it, a forked log, or no way to check.
    `status`: the HTTP status that ended it, None when it was not HTTP."""

    def __init__(self, msg, status=None, **result):
        super().__init__(msg, **result)
        self.status = status


def _b64decode(text):
    """Strict standard base64 (padding required, no other characters), or None."""
    if not isinstance(text, str) or len(text) % 4 or not _B64.match(text):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64(data):
    return base64.b64encode(data).decode("ascii")


# ---------------------------------------------------------------------------------------------
# keys, notes, GOSUMDB


def _valid_name(name):
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _key_hash(name, key):
    return hashlib.sha256(name.encode("utf-8") + b"\n" + key).digest()[:4]


class Verifier:
    """A verifier key 'name+<8 hex>+<base64(alg || key)>' (note.NewVerifier): the hash must be the
    first 4 bytes of SHA-256(name, '\\n', alg || key), alg 1 = Ed25519 (32-byte key). Parsing needs
    no cryptography; verify() does (SumdbError without it)."""

    def __init__(self, vkey):
        if not isinstance(vkey, str):
            raise SumdbError("checksum database key must be text 'name+hash+key', not %s" % type(vkey).__name__)
        shown = vkey[:200]
        name, dummy, rest = vkey.partition("+")
        hash16, dummy, key64 = rest.partition("+")
        key = _b64decode(key64)
        if not _HEX8.match(hash16) or not key or not _valid_name(name):
            raise SumdbError("checksum database key %r is malformed: expected <name>+<8 hex digits>+<base64 key>, "
                             "as GOSUMDB gives it (e.g. %s)" % (shown, DEFAULT))
        if bytes.fromhex(hash16) != _key_hash(name, key):
            raise SumdbError("checksum database key %r: its hash %s does not match the key (expected %s); the key "
                             "was mistyped or altered" % (shown, hash16, _key_hash(name, key).hex()))
        if key[0] != ALG_ED25519 or len(key) != 33:
            raise SumdbError("checksum database key %r: unknown algorithm %d or key length %d (only Ed25519, "
                             "algorithm 1, 32 bytes)" % (shown, key[0], len(key) - 1))
        self.name, self.hash, self.key, self.vkey = name, bytes.fromhex(hash16), key[1:], vkey

    def verify(self, msg, sig):
        """True when sig is a good Ed25519 signature of msg (bytes) by this key."""
        if not HAS_CRYPTOGRAPHY:
            raise SumdbError(
                "this node's Python lacks the `cryptography` package, needed to check the checksum database's "
                "Ed25519 signatures: install it on the node, or let the role verify on the controller and hand the "
                "node the verified pin (checksum: h1:...), which the node checks with the standard library")
        try:
            Ed25519PublicKey.from_public_bytes(self.key).verify(sig, msg)
            return True
        except (InvalidSignature, ValueError):
            return False


def verify_note(text, verifier):
    """The text of a signed note (up to and including its last newline before the signatures) once
    a good signature by `verifier` is found in it (note.Open's rules: UTF-8, no control characters
    but newlines, a blank line then '— <name> <base64>' lines, at most 100; lines of unknown keys
    ignored; a line of this key with a bad signature is an error). Raises SumdbError."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise SumdbError("signed note from %s is not UTF-8; refused" % verifier.name)
    if not isinstance(text, str) or len(text) > MAX_NOTE_BYTES:
        raise SumdbError("signed note from %s is missing or too large; refused" % verifier.name)
    if any(ord(c) < 32 and c != "\n" for c in text) or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise SumdbError("signed note from %s has control characters; refused: malformed note" % verifier.name)
    split = text.rfind("\n\n")
    if split < 0:
        raise SumdbError("signed note from %s has no signature block (a blank line, then signatures); refused"
                         % verifier.name)
    body, sigs = text[:split + 1], text[split + 2:]
    if not sigs or not sigs.endswith("\n"):
        raise SumdbError("signed note from %s: its signature block is empty or not newline-terminated; refused"
                         % verifier.name)
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise SumdbError("signed note from %s has more than %d signatures; refused" % (verifier.name, MAX_SIGNATURES))
    good, others = False, []
    for line in lines:
        if not line.startswith("\u2014 "):
            raise SumdbError("signed note from %s: line %r is not a signature ('\u2014 <name> <base64>'); refused"
                             % (verifier.name, line[:120]))
        name, dummy, b64 = line[2:].partition(" ")
        sig = _b64decode(b64)
        if not _valid_name(name) or not b64 or sig is None or len(sig) < 5:
            raise SumdbError("signed note from %s: malformed signature line %r; refused" % (verifier.name, line[:120]))
        if name != verifier.name or sig[:4] != verifier.hash:
            others.append("%s+%s" % (name, sig[:4].hex()))
            continue
        if good:
            continue  # a repeated signature by the same key
        if not verifier.verify(body.encode("utf-8"), sig[4:]):
            raise SumdbError("signed note: the signature by %s+%s does not verify: the text was altered or the "
                             "server is lying; refused" % (verifier.name, verifier.hash.hex()))
        good = True
    if not good:
        raise SumdbError("signed note is not signed by the configured key %s+%s (it is signed by %s): the server "
                         "answers for another key, or sumdb names the wrong key; refused"
                         % (verifier.name, verifier.hash.hex(), ", ".join(others) or "nobody"))
    return body


Database = collections.namedtuple("Database", "name vkey url")
Database.__doc__ = """A checksum database: name (host[/path]), vkey (its verifier key), url (where GOSUMDB
said to reach it, bypassing proxies; None: found through GOPROXY, else https://<name>)."""


def parse_gosumdb(text):
    """GOSUMDB text -> Database, as cmd/go's dbDial reads it. Raises SumdbError."""
    if not isinstance(text, str):
        raise SumdbError("sumdb must be text such as %r, not %s" % (DEFAULT, type(text).__name__))
    value = text.strip()
    if value == "off":
        raise SumdbError("sumdb: off: checking toolchains against the checksum database cannot be turned off; pin "
                         "the zip's hash instead (checksum: h1:...), taken from a go.sum or a database you trust")
    if value in ALIASES:
        name, url = ALIASES[value]
        return Database(name, KNOWN[name], url)
    fields = value.split()
    if not fields:
        raise SumdbError("sumdb is empty: give 'name+hash+key [url]' or sum.golang.org")
    if len(fields) > 2:
        raise SumdbError("sumdb %r has too many fields: expected 'name+hash+key' and an optional URL" % text[:200])
    key = KNOWN.get(fields[0], fields[0])
    if "+" not in key:
        raise SumdbError("sumdb %r names a database without its key: only sum.golang.org (and its alias "
                         "sum.golang.google.cn) are known by name; give 'name+hash+key [url]'" % fields[0][:200])
    verifier = Verifier(key)
    if not _HOST_PATH.match(verifier.name):
        raise SumdbError("sumdb name %r is not host[/path]; refused" % verifier.name[:200])
    url = None
    if len(fields) == 2:
        url = fields[1]
        try:
            parts = urlsplit(url)
        except ValueError:
            parts = None
        if parts is None or parts.scheme.lower() not in ("http", "https", "file") or parts.query or parts.fragment \
                or (parts.scheme.lower() != "file" and not parts.netloc) \
                or (parts.scheme.lower() == "file" and (parts.netloc not in ("", "localhost")
                                                        or not parts.path.startswith("/"))):
            raise SumdbError("sumdb URL %r is not an http(s):// or file:/// URL without query" % url[:200])
        url = url.rstrip("/")
    return Database(verifier.name, key, url)


Tree = collections.namedtuple("Tree", "size hash")
Tree.__doc__ = "A signed tree head: size (records) and hash (32 bytes)."


def parse_tree(body):
    """'go.sum database tree\\n<N>\\n<base64 hash>\\n[...]' -> Tree (tlog.ParseTree). SumdbError."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.startswith(TREE_PREFIX) or body.count("\n") < 3 or len(body) > 1000000:
        raise SumdbError("signed note is not a go.sum database tree head; refused")
    lines = body.split("\n", 3)
    digest = _b64decode(lines[2])
    if not _DECIMAL.match(lines[1]) or int(lines[1]) > MAX_TREE_SIZE or digest is None or len(digest) != HASH_SIZE:
        raise SumdbError("malformed tree head (size %r, hash %r); refused" % (lines[1][:40], lines[2][:60]))
    return Tree(int(lines[1]), digest)


# ---------------------------------------------------------------------------------------------
# tlog: hashes, stored hash indexes, proofs


def record_hash(data):
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _maxpow2(n):
    """(k, l): k = 2**l, the largest power of 2 smaller than n (1 for n <= 2)."""
    level = 0
    while (1 << (level + 1)) < n:
        level += 1
    return 1 << level, level


def _trailing_zeros(v):
    return (v & -v).bit_length() - 1


def stored_hash_index(level, n):
    """Where the n'th hash of a level is stored (tlog.StoredHashIndex)."""
    for dummy in range(level):
        n = 2 * n + 1
    i = 0
    while n > 0:
        i += n
        n >>= 1
    return i + level


def split_stored_hash_index(index):
    """(level, n) of a stored hash index (tlog.SplitStoredHashIndex)."""
    n = index // 2
    index_n = stored_hash_index(0, n)
    while True:
        x = index_n + 1 + _trailing_zeros(n + 1)
        if x > index:
            break
        n += 1
        index_n = x
    level = index - index_n
    return level, n >> level


def stored_hash_count(n):
    """How many hashes a tree of n records stores (tlog.StoredHashCount)."""
    if n == 0:
        return 0
    count = stored_hash_index(0, n - 1) + 1
    i = n - 1
    while i & 1:
        count += 1
        i >>= 1
    return count


def stored_hashes(n, data, read_hashes):
    """The hashes to store when record n (bytes) is appended (tlog.StoredHashes); read_hashes(indexes)
    gives earlier hashes. For building test logs; a client never writes."""
    h = record_hash(data)
    hashes = [h]
    m = _trailing_zeros(n + 1)
    indexes = [stored_hash_index(i, (n >> i) - 1) for i in range(m)][::-1]
    old = read_hashes(indexes) if indexes else []
    for i in range(m):
        h = node_hash(old[m - 1 - i], h)
        hashes.append(h)
    return hashes


def _sub_tree_index(lo, hi, need):
    while lo < hi:
        k, level = _maxpow2(hi - lo + 1)
        need.append(stored_hash_index(level, lo >> level))
        lo += k
    return need


def _sub_tree_hash(lo, hi, hashes):
    count = 0
    while lo < hi:
        k, dummy = _maxpow2(hi - lo + 1)
        count += 1
        lo += k
    h = hashes[count - 1]
    for i in range(count - 2, -1, -1):
        h = node_hash(hashes[i], h)
    return h, hashes[count:]


def _read(read_hashes, indexes):
    hashes = list(read_hashes(indexes)) if indexes else []
    if len(hashes) != len(indexes):
        raise SumdbError("the hash reader gave %d hashes for %d indexes" % (len(hashes), len(indexes)))
    return hashes


def tree_hash(n, read_hashes):
    """The root hash of the tree of the first n records (tlog.TreeHash)."""
    if n == 0:
        return EMPTY_HASH
    indexes = _sub_tree_index(0, n, [])
    return _sub_tree_hash(0, n, _read(read_hashes, indexes))[0]


def _leaf_proof_index(lo, hi, n, need):
    if lo + 1 == hi:
        return need
    k, dummy = _maxpow2(hi - lo)
    if n < lo + k:
        _leaf_proof_index(lo, lo + k, n, need)
        _sub_tree_index(lo + k, hi, need)
    else:
        _sub_tree_index(lo, lo + k, need)
        _leaf_proof_index(lo + k, hi, n, need)
    return need


def _leaf_proof(lo, hi, n, hashes):
    if lo + 1 == hi:
        return [], hashes
    k, dummy = _maxpow2(hi - lo)
    if n < lo + k:
        p, hashes = _leaf_proof(lo, lo + k, n, hashes)
        th, hashes = _sub_tree_hash(lo + k, hi, hashes)
    else:
        th, hashes = _sub_tree_hash(lo, lo + k, hashes)
        p, hashes = _leaf_proof(lo + k, hi, n, hashes)
    return p + [th], hashes


def prove_record(t, n, read_hashes):
    """The proof (list of hashes) that the tree of size t holds record n (tlog.ProveRecord)."""
    if t < 0 or n < 0 or n >= t:
        raise SumdbError("record %d is not in a tree of %d records" % (n, t))
    indexes = _leaf_proof_index(0, t, n, [])
    return _leaf_proof(0, t, n, _read(read_hashes, indexes))[0]


def _run_record_proof(p, lo, hi, n, leaf):
    if lo + 1 == hi:
        return None if p else leaf
    if not p:
        return None
    k, dummy = _maxpow2(hi - lo)
    if n < lo + k:
        th = _run_record_proof(p[:-1], lo, lo + k, n, leaf)
        return None if th is None else node_hash(th, p[-1])
    th = _run_record_proof(p[:-1], lo + k, hi, n, leaf)
    return None if th is None else node_hash(p[-1], th)


def check_record(proof, t, th, n, h):
    """True when proof shows that the tree of size t and hash th has record n of hash h
    (tlog.CheckRecord)."""
    if t < 0 or n < 0 or n >= t:
        return False
    return _run_record_proof(list(proof), 0, t, n, h) == th


def _tree_proof_index(lo, hi, n, need):
    if n == hi:
        return need if lo == 0 else _sub_tree_index(lo, hi, need)
    k, dummy = _maxpow2(hi - lo)
    if n <= lo + k:
        _tree_proof_index(lo, lo + k, n, need)
        _sub_tree_index(lo + k, hi, need)
    else:
        _sub_tree_index(lo, lo + k, need)
        _tree_proof_index(lo + k, hi, n, need)
    return need


def _tree_proof(lo, hi, n, hashes):
    if n == hi:
        if lo == 0:
            return [], hashes
        th, hashes = _sub_tree_hash(lo, hi, hashes)
        return [th], hashes
    k, dummy = _maxpow2(hi - lo)
    if n <= lo + k:
        p, hashes = _tree_proof(lo, lo + k, n, hashes)
        th, hashes = _sub_tree_hash(lo + k, hi, hashes)
    else:
        th, hashes = _sub_tree_hash(lo, lo + k, hashes)
        p, hashes = _tree_proof(lo + k, hi, n, hashes)
    return p + [th], hashes


def prove_tree(t, n, read_hashes):
    """The proof that the tree of size t holds the tree of size n as a prefix (tlog.ProveTree)."""
    if t < 1 or n < 1 or n > t:
        raise SumdbError("no consistency proof between trees of %d and %d records" % (n, t))
    indexes = _tree_proof_index(0, t, n, [])
    return _tree_proof(0, t, n, _read(read_hashes, indexes))[0]


def _run_tree_proof(p, lo, hi, n, old):
    if n == hi:
        if lo == 0:
            return (None, None) if p else (old, old)
        return (p[0], p[0]) if len(p) == 1 else (None, None)
    if not p:
        return None, None
    k, dummy = _maxpow2(hi - lo)
    if n <= lo + k:
        oh, th = _run_tree_proof(p[:-1], lo, lo + k, n, old)
        return (None, None) if th is None else (oh, node_hash(th, p[-1]))
    oh, th = _run_tree_proof(p[:-1], lo + k, hi, n, old)
    return (None, None) if th is None else (node_hash(p[-1], oh), node_hash(p[-1], th))


def check_tree(proof, t, th, n, h):
    """True when proof shows that the tree of size t and hash th holds the tree of size n and hash h
    as a prefix (tlog.CheckTree)."""
    if t < 1 or n < 1 or n > t:
        return False
    oh, th2 = _run_tree_proof(list(proof), 0, t, n, h)
    return th2 == th and oh == h


# ---------------------------------------------------------------------------------------------
# tiles


Tile = collections.namedtuple("Tile", "h l n w")
Tile.__doc__ = """A tile: height h, level l (-1: record data), number n within the level, width w (1..2**h)."""


def tile_path(tile):
    """'tile/<h>/<l or data>/<n in groups of 3 digits, all but the last prefixed x>[.p/<w>]'."""
    n = tile.n
    text = "%03d" % (n % 1000)
    while n >= 1000:
        n //= 1000
        text = "x%03d/%s" % (n % 1000, text)
    partial = ".p/%d" % tile.w if tile.w != 1 << tile.h else ""
    return "tile/%d/%s/%s%s" % (tile.h, "data" if tile.l == -1 else tile.l, text, partial)


def parse_tile_path(path):
    """The Tile a path names (tlog.ParseTilePath), or SumdbError."""
    bad = SumdbError("malformed tile path %r" % (path[:200] if isinstance(path, str) else path,))
    if not isinstance(path, str):
        raise bad
    f = path.split("/")
    if len(f) < 4 or f[0] != "tile" or not re.match(r"^[0-9]{1,2}$", f[1]):
        raise bad
    h = int(f[1])
    is_data = f[2] == "data"
    if not (is_data or re.match(r"^[0-9]{1,2}$", f[2])) or not 1 <= h <= 30:
        raise bad
    level = -1 if is_data else int(f[2])
    w = 1 << h
    if f[-2].endswith(".p"):
        if not re.match(r"^[0-9]{1,10}$", f[-1]) or not 0 < int(f[-1]) < w:
            raise bad
        w = int(f[-1])
        f = f[:-2] + [f[-2][:-2]]
    n = 0
    for part in f[3:]:
        digits = part[1:] if part.startswith("x") else part
        if not re.match(r"^[0-9]{1,3}$", digits):
            raise bad
        n = n * 1000 + int(digits)
    tile = Tile(h, level, n, w)
    if level > 63 or tile_path(tile) != path:
        raise bad
    return tile


def tile_for_index(h, index):
    """(tile, start, end): the least-width tile of height h holding stored hash `index`, and the
    byte range of the tile data that hashes to it (tlog.tileForIndex)."""
    level, n = split_stored_hash_index(index)
    tl = level // h
    level -= tl * h
    tn = (n << level) >> h
    n -= (tn << h) >> level
    return Tile(h, tl, tn, (n + 1) << level), (n << level) * HASH_SIZE, ((n + 1) << level) * HASH_SIZE


def tile_hash(data):
    """The subtree hash of a power-of-two run of hashes."""
    if len(data) == HASH_SIZE:
        return data
    half = len(data) // 2
    return node_hash(tile_hash(data[:half]), tile_hash(data[half:]))


def hash_from_tile(tile, data, index):
    """The hash of stored index `index` from tile data (tlog.HashFromTile), or SumdbError."""
    if not (1 <= tile.h <= 30 and 0 <= tile.l < 64 and 1 <= tile.w <= 1 << tile.h):
        raise SumdbError("invalid tile %s" % tile_path(tile))
    if len(data) < tile.w * HASH_SIZE:
        raise SumdbError("tile %s: %d bytes, too short" % (tile_path(tile), len(data)))
    t1, start, end = tile_for_index(tile.h, index)
    if tile.l != t1.l or tile.n != t1.n or tile.w < t1.w:
        raise SumdbError("stored hash %d is in %s, not %s" % (index, tile_path(t1), tile_path(tile)))
    return tile_hash(data[start:end])


def tile_parent(tile, k, n):
    """tile's k'th parent among the tiles of a tree of n records, or None (tlog.tileParent)."""
    level = tile.l + k
    tn = tile.n >> (k * tile.h)
    w = 1 << tile.h
    top = n >> (level * tile.h)
    if (tn << tile.h) + w >= top:
        if (tn << tile.h) >= top:
            return None
        w = top - (tn << tile.h)
    return Tile(tile.h, level, tn, w)


class TileHashReader:
    """read_hashes(indexes) for the tree `tree` (a Tree), from tiles read by read_tile(Tile) -> bytes
    (exactly w * 32 bytes). As tlog.TileHashReader: the tiles that make up the tree hash are
    checked against tree.hash, and every other tile against the hash its parent tile holds for it,
    before any hash is returned; a tile that fails is SumdbError ('inconsistent tile')."""

    def __init__(self, tree, read_tile, height=TILE_HEIGHT):
        self.tree, self.read_tile, self.height = tree, read_tile, height

    def __call__(self, indexes):
        return self.read_hashes(indexes)

    def read_hashes(self, indexes):
        h, size = self.height, self.tree.size
        order, tiles = {}, []
        stx = _sub_tree_index(0, size, [])
        stx_order = []
        for x in stx:
            tile = tile_parent(tile_for_index(h, x)[0], 0, size)
            if tile not in order:
                order[tile] = len(tiles)
                tiles.append(tile)
            stx_order.append(order[tile])
        top = len(tiles)
        index_order = []
        limit = stored_hash_index(0, size)
        for x in indexes:
            if x >= limit:
                raise SumdbError("stored hash %d is not in the tree of %d records" % (x, size))
            tile = tile_for_index(h, x)[0]
            k = 0
            while True:
                p = tile_parent(tile, k, size)
                if p is None or k > 64:
                    raise SumdbError("no tile of the tree of %d records holds stored hash %d" % (size, x))
                if p in order:
                    break
                k += 1
            found = order[p] if k == 0 else None
            for j in range(k - 1, -1, -1):
                p = tile_parent(tile, j, size)
                if p.w != 1 << p.h:
                    raise SumdbError("tile %s has a parent but is partial" % tile_path(p))
                order[p] = len(tiles)
                tiles.append(p)
                if j == 0:
                    found = order[p]
            index_order.append(found)
        data = []
        for tile in tiles:
            blob = self.read_tile(tile)
            if not isinstance(blob, bytes) or len(blob) != tile.w * HASH_SIZE:
                raise SumdbError("tile %s: %s bytes, expected %d" % (tile_path(tile), len(blob) if isinstance(
                    blob, bytes) else "no", tile.w * HASH_SIZE))
            data.append(blob)
        th = hash_from_tile(tiles[stx_order[-1]], data[stx_order[-1]], stx[-1])
        for i in range(len(stx) - 2, -1, -1):
            th = node_hash(hash_from_tile(tiles[stx_order[i]], data[stx_order[i]], stx[i]), th)
        if th != self.tree.hash:
            raise SumdbError("the log's tiles do not hash to the signed tree head (size %d, hash %s): downloaded "
                             "inconsistent tile; refused" % (size, _b64(self.tree.hash)))
        # every tile below the top ones is checked against its parent (which was checked first)
        for i in range(top, len(tiles)):
            tile = tiles[i]
            p = tile_parent(tile, 1, size)
            if p not in order:
                raise SumdbError("tile %s lost its parent" % tile_path(tile))
            want = hash_from_tile(p, data[order[p]], stored_hash_index(p.l * p.h, tile.n))
            if want != tile_hash(data[i]):
                raise SumdbError("tile %s does not match the hash its parent tile %s holds for it: downloaded "
                                 "inconsistent tile; refused" % (tile_path(tile), tile_path(p)))
        return [hash_from_tile(tiles[j], data[j], x) for j, x in zip(index_order, indexes)]


# ---------------------------------------------------------------------------------------------
# the remembered tree head


class State:
    """The newest signed tree head seen, per database: <path>/latest-<quoted name>, root-only (the
    folder 0700, the files 0600), replaced atomically. load(name) -> the note text or None;
    save(name, text); lock(name): a context holding an exclusive lock for a read-check-write."""

    def __init__(self, path, read_only=False):
        if not isinstance(path, str) or not os.path.isabs(path):
            raise SumdbError("the checksum database state folder must be an absolute path, not %r" % (path,))
        self.path = path
        self.read_only = read_only  # check mode: the remembered head is checked against, never written

    def _file(self, name):
        if not isinstance(name, str) or not name or len(name) > 200:
            raise SumdbError("checksum database name %r cannot name a state file" % (name,))
        return os.path.join(self.path, "latest-" + quote(name, safe="-._~"))

    def _check_dir(self, create):
        try:
            if create:
                os.makedirs(self.path, 0o700, exist_ok=True)
            st = os.lstat(self.path)
        except FileNotFoundError:
            return False
        except OSError as e:
            raise SumdbError("checksum database state folder %s: %s" % (self.path, e.strerror or e))
        if not stat.S_ISDIR(st.st_mode):
            raise SumdbError("checksum database state folder %s is not a folder (a symlink?); refused" % self.path)
        if st.st_uid != os.geteuid():
            raise SumdbError("checksum database state folder %s belongs to uid %d, not to this user (%d); refused: "
                             "another user could rewrite the remembered tree heads"
                             % (self.path, st.st_uid, os.geteuid()))
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(self.path, 0o700)
        return True

    def load(self, name):
        path = self._file(name)
        if not self._check_dir(False):
            return None
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            return None
        except OSError as e:
            raise SumdbError("remembered tree head %s cannot be read: %s; remove it to start afresh"
                             % (path, e.strerror or e))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
                raise SumdbError("remembered tree head %s is not a regular file of this user, writable by it "
                                 "only; refused" % path)
            data = f.read(MAX_NOTE_BYTES + 1)
        if len(data) > MAX_NOTE_BYTES:
            raise SumdbError("remembered tree head %s is too large; remove it to start afresh" % path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise SumdbError("remembered tree head %s is not UTF-8; remove it to start afresh" % path)

    def save(self, name, text):
        path = self._file(name)
        if self.read_only:
            return
        self._check_dir(True)
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".latest-")
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write(text.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise SumdbError("cannot remember the tree head in %s: %s" % (path, e.strerror or e))
        with contextlib.suppress(OSError):
            dfd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    @contextlib.contextmanager
    def lock(self, name):
        path = self._file(name) + ".lock"
        if self.read_only or not self._check_dir(True) or fcntl is None:
            yield
            return
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as e:
            raise SumdbError("cannot lock %s: %s" % (path, e.strerror or e))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------------------------
# lookup


class Verification:
    """What the database proved: db (its name), record (the record's number), tree_size and
    tree_hash (base64) of the signed head it is in, lines (the go.sum lines for the version), h1
    (the zip's hash), gomod_h1 (the .mod's, None when the record has none)."""

    __slots__ = ("db", "record", "tree_size", "tree_hash", "lines", "h1", "gomod_h1")

    def __init__(self, db, record, tree_size, tree_hash, lines, h1, gomod_h1):
        self.db, self.record, self.tree_size, self.tree_hash = db, record, tree_size, tree_hash
        self.lines, self.h1, self.gomod_h1 = lines, h1, gomod_h1

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __repr__(self):
        return "Verification(%r)" % (self.as_dict(),)


def escape_path(text):
    """module.EscapePath / EscapeVersion: each upper-case letter as '!' + its lower case."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), text)


def _is_valid_record_text(text):
    return text.endswith("\n") and "\n\n" not in text and not any(
        ord(c) < 32 and c != "\n" for c in text)


def _parse_lookup(data, label):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SumdbError("%s: the answer is not UTF-8; refused" % label)
    first, nl, rest = text.partition("\n")
    if not nl or not _DECIMAL.match(first):
        raise SumdbError("%s: the answer does not start with a record number; refused" % label)
    end = rest.find("\n\n")
    if end < 0:
        raise SumdbError("%s: the answer has no blank line after the record; refused" % label)
    record, note = rest[:end + 1], rest[end + 2:]
    if not _is_valid_record_text(record):
        raise SumdbError("%s: malformed record text; refused" % label)
    return int(first), record, note


def _h1_of(line, label):
    fields = line.split(" ")
    digest = _b64decode(fields[2][3:]) if len(fields) == 3 and fields[2].startswith("h1:") else None
    if digest is None or len(digest) != HASH_SIZE:
        raise SumdbError("%s: malformed go.sum line %r; refused" % (label, line[:200]))
    return fields[2]


class _Tiles:
    """Tiles of one database, fetched once per lookup (partial first, then the full tile as
    client.go's readTile does); every hash taken from them is authenticated by TileHashReader."""

    def __init__(self, base, fetch):
        self.base, self.fetch, self.cache = base, fetch, {}

    def _get(self, tile, max_bytes):
        if tile in self.cache:
            return self.cache[tile]
        url = "%s/%s" % (self.base, tile_path(tile))
        try:
            data = self.fetch(url, max_bytes)
            full = False
        except GofleetError as e:
            if tile.w == 1 << tile.h:
                raise SumdbError("checksum database tile %s: %s" % (url, e), status=getattr(e, "status", None))
            full_url = "%s/%s" % (self.base, tile_path(tile._replace(w=1 << tile.h)))
            try:
                data = self.fetch(full_url, max_bytes if tile.l == -1 else (1 << tile.h) * HASH_SIZE)
                full = True
            except GofleetError:
                raise SumdbError("checksum database tile %s: %s" % (url, e), status=getattr(e, "status", None))
        self.cache[tile] = (data, full)
        return data, full

    def hashes(self, tile):
        data, full = self._get(tile, tile.w * HASH_SIZE)
        return data[:tile.w * HASH_SIZE] if full else data

    def records(self, tile):
        """The first tile.w record texts of a data tile."""
        data, _full = self._get(tile, MAX_DATA_TILE_BYTES)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SumdbError("checksum database data tile %s is not UTF-8; refused" % tile_path(tile))
        out, pos = [], 0
        while len(out) < tile.w:
            end = text.find("\n\n", pos)
            if end < 0:
                raise SumdbError("checksum database data tile %s holds %d records, not %d; refused"
                                 % (tile_path(tile), len(out), tile.w))
            out.append(text[pos:end + 1])
            pos = end + 2
        return out


def _open_head(text, verifier):
    return parse_tree(verify_note(text, verifier))


def lookup(db, base_url, module, version, fetch, state):
    """Ask the checksum database `db` (a Database) at base_url for module@version and prove the answer:
    the signed tree head verifies with db.vkey; the record holds the module version's zip line; the
    record is in that tree (an inclusion proof from tiles authenticated against the head, and the
    data tile holds exactly the record text); the head is consistent with the one `state` (a State,
    or None to remember nothing) remembers, in whichever order they come; then the newest head is
    remembered. fetch(url, max_bytes) -> bytes (file:// read locally). Returns a Verification;
    raises SumdbError."""
    if not HAS_CRYPTOGRAPHY:
        Verifier(db.vkey).verify(b"", b"")  # raises the SumdbError that says what to do
    verifier = Verifier(db.vkey)
    if verifier.name != db.name:
        raise SumdbError("checksum database %s: its key is for %s" % (db.name, verifier.name))
    if not isinstance(module, str) or not _MODULE.match(module) or ".." in module.split("/"):
        raise SumdbError("%r is not a module path" % (module,))
    if not isinstance(version, str) or not _VERSION.match(version):
        raise SumdbError("%r is not a module version" % (version,))
    fetch = open_fetch(fetch)
    base = base_url.rstrip("/")
    target = "%s@%s" % (module, version)
    url = "%s/lookup/%s@%s" % (base, escape_path(module), escape_path(version))
    label = "checksum database %s, lookup of %s" % (db.name, target)
    try:
        data = fetch(url, MAX_LOOKUP_BYTES)
    except GofleetError as e:
        status = getattr(e, "status", None)
        hint = " (the database does not know this version: is it published?)" if status in (404, 410) else ""
        raise SumdbError("%s failed: %s%s" % (label, e, hint), status=status)
    record_id, record, note = _parse_lookup(data, label)
    try:
        tree = _open_head(note, verifier)
    except SumdbError as e:
        raise SumdbError("%s: %s" % (label, e))
    if record_id >= tree.size:
        raise SumdbError("%s: record %d is not in the signed tree of %d records; refused"
                         % (label, record_id, tree.size))

    zip_prefix, mod_prefix = "%s %s " % (module, version), "%s %s/go.mod " % (module, version)
    lines = [ln for ln in record.split("\n") if ln.startswith((zip_prefix, mod_prefix))]
    zip_h1s = sorted(set(_h1_of(ln, label) for ln in lines if ln.startswith(zip_prefix)))
    mod_h1s = sorted(set(_h1_of(ln, label) for ln in lines if ln.startswith(mod_prefix)))
    if not zip_h1s:
        raise SumdbError("%s: the answer (record %d) holds no line for %s, so it proves nothing about this zip "
                         "(Go's CVE-2026-42501); refused: the database or a proxy in front of it is lying"
                         % (label, record_id, target))
    if len(zip_h1s) > 1 or len(mod_h1s) > 1:
        raise SumdbError("%s: the record holds two different hashes for %s; refused" % (label, target))

    tiles = _Tiles(base, fetch)
    reader = TileHashReader(tree, tiles.hashes)
    proof = prove_record(tree.size, record_id, reader)
    if not check_record(proof, tree.size, tree.hash, record_id, record_hash(record.encode("utf-8"))):
        raise SumdbError("%s: record %d as answered is not the record the signed tree (size %d) holds: the answer "
                         "was altered; refused" % (label, record_id, tree.size))
    first = (record_id >> TILE_HEIGHT) << TILE_HEIGHT
    data_tile = Tile(TILE_HEIGHT, -1, record_id >> TILE_HEIGHT, min(1 << TILE_HEIGHT, tree.size - first))
    if tiles.records(data_tile)[record_id - first] != record:
        raise SumdbError("%s: the log's data tile %s holds another text for record %d than the lookup answered; "
                         "refused" % (label, tile_path(data_tile), record_id))

    if state is not None:
        with state.lock(db.name):
            _merge_head(db, state, verifier, base, fetch, tree, note, label)
    return Verification(db.name, record_id, tree.size, _b64(tree.hash), lines, zip_h1s[0],
                        mod_h1s[0] if mod_h1s else None)


def _consistent(older, newer, base, fetch):
    """True when the tree `newer` holds `older` as its prefix, proven from newer's tiles."""
    if older.size == 0:
        return True
    if older.size == newer.size:
        return older.hash == newer.hash
    reader = TileHashReader(newer, _Tiles(base, fetch).hashes)
    proof = prove_tree(newer.size, older.size, reader)
    return check_tree(proof, newer.size, newer.hash, older.size, older.hash)


def _merge_head(db, state, verifier, base, fetch, tree, note, label):
    old_text = state.load(db.name)
    if old_text is None:
        state.save(db.name, note)
        return
    try:
        old = _open_head(old_text, verifier)
    except SumdbError as e:
        raise SumdbError("the remembered tree head of %s (%s) does not verify with the configured key: %s. If the "
                         "database's key really changed, remove that file; else the configured key is wrong"
                         % (db.name, state._file(db.name), e))
    older, newer = (old, tree) if old.size <= tree.size else (tree, old)
    if not _consistent(older, newer, base, fetch):
        raise SumdbError(
            "%s: SECURITY ERROR: forked log: the signed tree head of %d records (%s) is not a prefix of the one of %d "
            "records (%s) - the database has shown two different histories; refused. The remembered head is in %s; "
            "report this to the database's operators" % (label, older.size, _b64(older.hash), newer.size,
                                                         _b64(newer.hash), state._file(db.name)))
    if tree.size > old.size:
        state.save(db.name, note)
