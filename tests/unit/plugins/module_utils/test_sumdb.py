# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checksum database client (module_utils/_sumdb): keys, signed notes, the tlog, lookup.

Go's own test vectors first (x/mod/sumdb/note/note_test.go's keys and signed notes,
tlog/note_test.go's tree head, tlog/tlog_test.go's tile paths), then a real transparency log
built here with a real Ed25519 key (`cryptography`), written as a file:// tree in the layout a
database serves (lookup/, tile/8/<L>/..., tile/8/data/...), and read back by `lookup` through
`open_fetch`. Each lie a database can tell is told for real by rewriting that tree: a bad
signature, another key, an answer without the module's line, an altered record, a tampered tile
(including a lower tile that only its parent tile can convict), a data tile that disagrees, a
forked head. The tree hashes are also checked against RFC 6962's recursive definition, written
independently here. hypothesis feeds every parser arbitrary text: SumdbError or a value, never a
traceback. Nothing is mocked.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings, strategies as st

from ansible_collections.gofleet.golang.plugins.module_utils import _sumdb as S
from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError

# x/mod/sumdb/note/note_test.go
PETER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_KEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
NOTE_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6"
             "RyyBwJnAM=\n")
ENOCH_SIG = ("\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1Rv"
             "Mc+QQ=\n")
# x/mod/sumdb/tlog/note_test.go
TREE_TEXT = "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n"

MODULE = "golang.org/toolchain"
VERSION = "v0.0.1-go1.27.3.linux-amd64"
H1 = "h1:" + base64.b64encode(hashlib.sha256(b"zip").digest()).decode()
MOD_H1 = "h1:" + base64.b64encode(hashlib.sha256(b"mod").digest()).decode()


# ---------------------------------------------------------------------------------------------
# keys and notes (Go's vectors)


def test_go_verifier_key_parses():
    v = S.Verifier(PETER_KEY)
    assert (v.name, v.hash.hex(), len(v.key)) == ("PeterNeumann", "c74f20a3", 32)
    d = S.Verifier(S.DEFAULT)
    assert (d.name, d.hash.hex()) == ("sum.golang.org", "033de0ae")


def test_go_verifier_manglings_refused():
    """note_test.go's TestNewVerifier: every proper substring and every one-byte change is refused,
    and so are its wrong-length and unknown-algorithm keys (with adjusted hashes)."""
    b = PETER_KEY
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                with pytest.raises(S.SumdbError):
                    S.Verifier(b[i:j])
    for i in range(len(b)):
        with pytest.raises(S.SumdbError):
            S.Verifier(b[:i] + chr(ord(b[i]) + 1) + b[i + 1:])
    with pytest.raises(S.SumdbError, match="length"):
        S.Verifier("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    with pytest.raises(S.SumdbError, match="algorithm"):
        S.Verifier("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_go_note_opens_with_either_key():
    """note_test.go's TestOpen: one note signed by two keys verifies with either; the other key's line
    is ignored."""
    msg = NOTE_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert S.verify_note(msg, S.Verifier(PETER_KEY)) == NOTE_TEXT
    assert S.verify_note(msg.encode("utf-8"), S.Verifier(ENOCH_KEY)) == NOTE_TEXT


def test_go_note_altered_text_is_a_bad_signature():
    msg = NOTE_TEXT.replace("problem,", "problem;") + "\n" + PETER_SIG
    with pytest.raises(S.SumdbError, match="PeterNeumann\\+c74f20a3 does not verify"):
        S.verify_note(msg, S.Verifier(PETER_KEY))


def test_go_note_signed_by_another_key_only_is_refused():
    with pytest.raises(S.SumdbError, match="not signed by the configured key PeterNeumann.*EnochRoot\\+af0cfe78"):
        S.verify_note(NOTE_TEXT + "\n" + ENOCH_SIG, S.Verifier(PETER_KEY))


def test_go_note_too_many_signatures():
    with pytest.raises(S.SumdbError, match="more than 100"):
        S.verify_note(NOTE_TEXT + "\n" + PETER_SIG * 101, S.Verifier(PETER_KEY))
    assert S.verify_note(NOTE_TEXT + "\n" + PETER_SIG * 100, S.Verifier(PETER_KEY)) == NOTE_TEXT


@pytest.mark.parametrize("msg", [
    NOTE_TEXT + PETER_SIG,                              # no blank line
    NOTE_TEXT + "\n" + PETER_SIG[:-1],                  # not newline-terminated
    NOTE_TEXT + "\n" + "- PeterNeumann x08go/ZJk=\n",   # not an em dash
    NOTE_TEXT + "\n" + "\u2014 PeterNeumann AAAA\n",     # signature too short
    NOTE_TEXT + "\x01\n" + PETER_SIG,                   # control character
    NOTE_TEXT + "\n",                                   # no signature at all
])
def test_malformed_notes(msg):
    with pytest.raises(S.SumdbError):
        S.verify_note(msg, S.Verifier(PETER_KEY))


def test_go_tree_head():
    tree = S.parse_tree(TREE_TEXT)
    assert tree == S.Tree(123456789012, S.record_hash(b"hello world"))
    for bad in ("not-" + TREE_TEXT, TREE_TEXT.replace("123456789012", "0xabcdef"),
                TREE_TEXT.replace("Bb0=", "BTOOBIG="), TREE_TEXT.replace("123456789012", "0123"),
                TREE_TEXT.replace("123456789012", "-1")):
        with pytest.raises(S.SumdbError):
            S.parse_tree(bad)
    for junk in ("JOE", "JOE\n", "JOE\n" * 1000):
        assert S.parse_tree(TREE_TEXT + junk) == tree


# ---------------------------------------------------------------------------------------------
# GOSUMDB


def test_gosumdb_forms():
    assert S.parse_gosumdb("sum.golang.org") == S.Database("sum.golang.org", S.DEFAULT, None)
    assert S.parse_gosumdb(S.DEFAULT) == S.Database("sum.golang.org", S.DEFAULT, None)
    assert S.parse_gosumdb("sum.golang.google.cn") == S.Database("sum.golang.org", S.DEFAULT,
                                                                 "https://sum.golang.google.cn")
    assert S.parse_gosumdb("sum.golang.org https://mirror.example/sumdb/sum.golang.org/") == \
        S.Database("sum.golang.org", S.DEFAULT, "https://mirror.example/sumdb/sum.golang.org")
    assert S.parse_gosumdb(" %s file:///srv/db " % PETER_KEY) == S.Database("PeterNeumann", PETER_KEY,
                                                                            "file:///srv/db")


@pytest.mark.parametrize("text,match", [
    ("off", "cannot be turned off.*checksum: h1:"),
    ("", "empty"),
    ("sum.example.com", "without its key"),
    ("sum.golang.google.cn https://x.example", "without its key"),
    (PETER_KEY + " https://a.example https://b.example", "too many fields"),
    (PETER_KEY + " ftp://a.example", "not an http"),
    (PETER_KEY + " https://a.example/?q=1", "not an http"),
    (PETER_KEY + " file://host/x", "not an http"),
    ("sum.golang.org+033de0af+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8", "does not match"),
])
def test_gosumdb_refused(text, match):
    with pytest.raises(S.SumdbError, match=match):
        S.parse_gosumdb(text)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="sum.golang+/=Ac4z0123 :file://htps"), st.integers(), st.none()))
def test_gosumdb_fuzz(text):
    try:
        db = S.parse_gosumdb(text)
    except S.SumdbError:
        return
    assert db.name and "+" in db.vkey


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=PETER_KEY + "+\u2014 \n"), st.binary()))
def test_note_fuzz(text):
    try:
        body = S.verify_note(text, S.Verifier(PETER_KEY))
    except S.SumdbError:
        return
    assert body == NOTE_TEXT


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.builds(lambda a, b: "go.sum database tree\n%s\n%s\n" % (a, b), st.text(), st.text()),
                 st.binary()))
def test_tree_fuzz(text):
    try:
        tree = S.parse_tree(text)
    except S.SumdbError:
        return
    assert 0 <= tree.size and len(tree.hash) == 32


# ---------------------------------------------------------------------------------------------
# tlog


GO_TILE_PATHS = [  # tlog_test.go's tilePaths
    ("tile/4/0/001", S.Tile(4, 0, 1, 16)),
    ("tile/4/0/001.p/5", S.Tile(4, 0, 1, 5)),
    ("tile/3/5/x123/x456/078", S.Tile(3, 5, 123456078, 8)),
    ("tile/3/5/x123/x456/078.p/2", S.Tile(3, 5, 123456078, 2)),
    ("tile/1/0/x003/x057/500", S.Tile(1, 0, 3057500, 2)),
    ("tile/1/data/x003/x057/500", S.Tile(1, -1, 3057500, 2)),
]


@pytest.mark.parametrize("path,tile", GO_TILE_PATHS)
def test_go_tile_paths(path, tile):
    assert S.tile_path(tile) == path
    assert S.parse_tile_path(path) == tile


def test_tile_path_of_the_issue():
    assert S.tile_path(S.Tile(8, 0, 1234067, 256)) == "tile/8/0/x001/x234/067"
    assert S.tile_path(S.Tile(8, -1, 5, 17)) == "tile/8/data/005.p/17"


@pytest.mark.parametrize("path", ["tile/3/5/123/456/078", "tile/3/-1/123/456/078", "tile/8/0/001.p/256",
                                  "tile/8/0/001.p/0", "tile/0/0/001", "tile/8/0/x000/001", "tile/8/0/1"])
def test_bad_tile_paths(path):
    with pytest.raises(S.SumdbError):
        S.parse_tile_path(path)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(alphabet="tile/0123456789xdap.", max_size=40), st.text()))
def test_tile_path_fuzz(path):
    try:
        tile = S.parse_tile_path(path)
    except S.SumdbError:
        return
    assert S.tile_path(tile) == path


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), st.integers(-1, 63), st.integers(0, 1 << 62), st.data())
def test_tile_path_round_trip(h, level, n, data):
    tile = S.Tile(h, level, n, data.draw(st.integers(1, 1 << h)))
    assert S.parse_tile_path(S.tile_path(tile)) == tile


def test_stored_hash_index_round_trip():
    for level in range(0, 12):
        for n in range(0, 300):
            assert S.split_stored_hash_index(S.stored_hash_index(level, n)) == (level, n)
    for i in range(5000):
        level, n = S.split_stored_hash_index(i)
        assert S.stored_hash_index(level, n) == i


def _mth(leaves):
    """RFC 6962 section 2.1, as written there (the oracle for tree_hash)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


class Log:
    """A transparency log built here: records, stored hashes, tiles of height 8, signed heads."""

    def __init__(self, name="sum.gofleet.test"):
        self.name = name
        self.key = Ed25519PrivateKey.generate()
        pub = b"\x01" + self.key.public_key().public_bytes_raw() if hasattr(
            self.key.public_key(), "public_bytes_raw") else b"\x01" + _raw(self.key.public_key())
        self.keyhash = hashlib.sha256(name.encode() + b"\n" + pub).digest()[:4]
        self.vkey = "%s+%s+%s" % (name, self.keyhash.hex(), base64.b64encode(pub).decode())
        self.records, self.hashes = [], []

    def add(self, text):
        data = text.encode()
        self.hashes.extend(S.stored_hashes(len(self.records), data, self.read))
        self.records.append(data)
        return len(self.records) - 1

    def read(self, indexes):
        return [self.hashes[i] for i in indexes]

    def tree(self, size=None):
        size = len(self.records) if size is None else size
        return S.Tree(size, S.tree_hash(size, self.read))

    def sign(self, text, key=None, name=None, keyhash=None):
        key = key or self.key
        sig = key.sign(text.encode())
        signature = base64.b64encode((keyhash or self.keyhash) + sig).decode()
        return text + "\n\u2014 %s %s\n" % (name or self.name, signature)

    def head(self, size=None):
        tree = self.tree(size)
        return self.sign("go.sum database tree\n%d\n%s\n" % (tree.size, base64.b64encode(tree.hash).decode()))

    def tile_data(self, tile):
        if tile.l == -1:
            first = tile.n << tile.h
            return b"".join(r + b"\n" for r in self.records[first:first + tile.w])
        first = tile.n << tile.h
        return b"".join(self.hashes[S.stored_hash_index(tile.l * tile.h, first + i)] for i in range(tile.w))

    def write(self, root, size=None, module=MODULE, version=VERSION, record=None):
        """The database as static files under root (as a file:// proxy's /sumdb/<name> holds it),
        for the tree of `size` records; lookup/<module>@<version> answers `record`."""
        size = len(self.records) if size is None else size
        os.makedirs(root, exist_ok=True)
        for level in range(0, 8):
            width_all = size >> (8 * level)
            if width_all == 0:
                break
            for n in range((width_all + 255) // 256):
                w = min(256, width_all - n * 256)
                self._put(root, S.Tile(8, level, n, w))
                if level == 0:
                    self._put(root, S.Tile(8, -1, n, w))
        head = self.head(size)
        if record is not None:
            path = os.path.join(root, "lookup", "%s@%s" % (module, version))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write("%d\n%s\n%s" % (record, self.records[record].decode(), head))
        with open(os.path.join(root, "latest"), "w") as f:
            f.write(head)
        return head

    def _put(self, root, tile):
        path = os.path.join(root, S.tile_path(tile))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(self.tile_data(tile))


def _raw(pub):
    from cryptography.hazmat.primitives import serialization
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _line(module, version, h1=H1, mod_h1=MOD_H1):
    return "%s %s %s\n%s %s/go.mod %s\n" % (module, version, h1, module, version, mod_h1)


def test_tree_hash_matches_rfc6962_and_proofs_check():
    log = Log()
    for i in range(70):
        log.add(_line("example.com/m%d" % i, "v1.0.0"))
        assert log.tree().hash == _mth(log.records)
    for t in range(1, 71):
        th = log.tree(t).hash
        for n in range(t):
            proof = S.prove_record(t, n, log.read)
            assert S.check_record(proof, t, th, n, S.record_hash(log.records[n]))
            assert not S.check_record(proof, t, th, n, S.record_hash(b"another record\n"))
            if proof:
                assert not S.check_record(proof[:-1], t, th, n, S.record_hash(log.records[n]))
        for n in range(1, t + 1):
            proof = S.prove_tree(t, n, log.read)
            assert S.check_tree(proof, t, th, n, log.tree(n).hash)
            if n < t:
                assert not S.check_tree(proof, t, th, n, S.record_hash(b"x"))


def _tiles_reader(log, tamper=None):
    def read_tile(tile):
        data = log.tile_data(tile)
        if tamper is not None and tile == tamper:
            data = bytes([data[0] ^ 1]) + data[1:]
        return data
    return read_tile


@pytest.mark.parametrize("size,record", [(1, 0), (5, 3), (256, 255), (300, 10), (300, 299), (70000, 12345)])
def test_tile_hash_reader_reads_authenticated_hashes(size, record, big_log):
    log = big_log
    tree = log.tree(size)
    reader = S.TileHashReader(tree, _tiles_reader(log))
    proof = S.prove_record(size, record, reader)
    assert S.check_record(proof, size, tree.hash, record, S.record_hash(log.records[record]))
    assert reader([S.stored_hash_index(0, record)]) == [S.record_hash(log.records[record])]


@pytest.mark.parametrize("size,record,tamper", [
    (300, 10, S.Tile(8, 0, 0, 256)),       # a lower tile only its parent tile (L1) can convict
    (300, 299, S.Tile(8, 0, 1, 44)),       # a top (partial) tile: convicted by the tree hash
    (70000, 12345, S.Tile(8, 0, 48, 256)),
    (70000, 12345, S.Tile(8, 1, 0, 256)),
])
def test_tile_hash_reader_refuses_a_tampered_tile(size, record, tamper, big_log):
    """Each tampered tile is refused before any hash from it is used. The first case is a full
    level-0 tile under a partial level-1 tile: its check is the parent-hash loop alone (the tiles
    for the tree hash do not include it)."""
    reader = S.TileHashReader(big_log.tree(size), _tiles_reader(big_log, tamper))
    with pytest.raises(S.SumdbError, match="inconsistent tile"):
        reader([S.stored_hash_index(0, record)])


@pytest.fixture(scope="module")
def big_log():
    log = Log()
    for i in range(70000):
        log.add("example.com/m%d v1.0.0 %s\n" % (i, H1))
    return log


# ---------------------------------------------------------------------------------------------
# lookup against a database served as files


@pytest.fixture
def db_tree(tmp_path):
    """A database of 600 records whose record 300 is the toolchain's, as a file:// tree."""
    log = Log()
    for i in range(300):
        log.add(_line("example.com/m%d" % i, "v1.0.%d" % i))
    rec = log.add(_line(MODULE, VERSION))
    for i in range(299):
        log.add(_line("example.com/n%d" % i, "v2.0.0"))
    root = str(tmp_path / "db")
    log.write(root, record=rec)
    return log, root, rec


def _fetch(url, max_bytes):
    raise GofleetError("no HTTP in this test: %s" % url)


def _lookup(log, root, state_dir, module=MODULE, version=VERSION):
    db = S.Database(log.name, log.vkey, "file://" + root)
    return S.lookup(db, db.url, module, version, _fetch, S.State(state_dir) if state_dir else None)


def test_lookup_proves_the_record(db_tree, tmp_path):
    log, root, rec = db_tree
    state = str(tmp_path / "state")
    v = _lookup(log, root, state)
    assert v.as_dict() == {"db": log.name, "record": rec, "tree_size": 600,
                           "tree_hash": base64.b64encode(log.tree().hash).decode(),
                           "lines": _line(MODULE, VERSION).splitlines(), "h1": H1, "gomod_h1": MOD_H1}
    st_dir, st_file = os.stat(state), os.stat(os.path.join(state, "latest-" + log.name))
    assert stat.S_IMODE(st_dir.st_mode) == 0o700 and stat.S_IMODE(st_file.st_mode) == 0o600
    with open(os.path.join(state, "latest-" + log.name)) as f:
        assert f.read() == log.head()
    assert _lookup(log, root, state).h1 == H1  # again, with the head remembered: consistent with itself


def _rewrite(path, fn):
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(fn(text))


def _lookup_path(root):
    return os.path.join(root, "lookup", "%s@%s" % (MODULE, VERSION))


def test_lookup_bad_signature(db_tree):
    log, root, dummy = db_tree
    _rewrite(_lookup_path(root), lambda t: t.replace("go.sum database tree\n600\n", "go.sum database tree\n601\n"))
    with pytest.raises(S.SumdbError, match="does not verify"):
        _lookup(log, root, None)


def test_lookup_signed_by_another_key(db_tree):
    log, root, rec = db_tree
    other = Log(log.name)
    text = "go.sum database tree\n600\n%s\n" % base64.b64encode(log.tree().hash).decode()
    with open(_lookup_path(root), "w") as f:
        f.write("%d\n%s\n%s" % (rec, log.records[rec].decode(), other.sign(text)))
    with pytest.raises(S.SumdbError, match="not signed by the configured key"):
        _lookup(log, root, None)


def test_lookup_without_the_module_line(db_tree):
    """CVE-2026-42501: a genuine, proven record of another module is not an answer for this one."""
    log, root, dummy = db_tree
    with open(_lookup_path(root), "w") as f:
        f.write("%d\n%s\n%s" % (7, log.records[7].decode(), log.head()))
    with pytest.raises(S.SumdbError, match="holds no line for golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64.*"
                                           "CVE-2026-42501"):
        _lookup(log, root, None)


def test_lookup_altered_record(db_tree):
    """The proxy swaps the hash in the answer: the record is no longer the one in the tree."""
    log, root, dummy = db_tree
    evil = "h1:" + base64.b64encode(hashlib.sha256(b"evil").digest()).decode()
    _rewrite(_lookup_path(root), lambda t: t.replace(H1, evil))
    with pytest.raises(S.SumdbError, match="is not the record the signed tree"):
        _lookup(log, root, None)


@pytest.mark.parametrize("tile", [
    S.Tile(8, 0, 1, 256),   # under the partial level-1 tile: convicted by its parent's hash
    S.Tile(8, 0, 2, 88),    # a top tile: convicted by the signed tree hash
    S.Tile(8, 1, 0, 2),
])
def test_lookup_tampered_tile(db_tree, tile):
    log, root, dummy = db_tree
    path = os.path.join(root, S.tile_path(tile))
    with open(path, "r+b") as f:
        data = f.read()
        f.seek(40)
        f.write(bytes([data[40] ^ 0xFF]))
    with pytest.raises(S.SumdbError, match="inconsistent tile"):
        _lookup(log, root, None)


def test_lookup_missing_tile(db_tree):
    log, root, dummy = db_tree
    os.unlink(os.path.join(root, S.tile_path(S.Tile(8, 1, 0, 2))))
    with pytest.raises(S.SumdbError, match="tile/8/1/000.p/2"):
        _lookup(log, root, None)


def test_lookup_data_tile_disagrees(db_tree):
    log, root, rec = db_tree
    path = os.path.join(root, S.tile_path(S.Tile(8, -1, 1, 256)))
    _rewrite(path, lambda t: t.replace(H1, "h1:" + base64.b64encode(bytes(32)).decode()))
    with pytest.raises(S.SumdbError, match="data tile tile/8/data/001 holds another text for record %d" % rec):
        _lookup(log, root, None)


def test_lookup_record_beyond_the_tree(db_tree):
    log, root, dummy = db_tree
    _rewrite(_lookup_path(root), lambda t: "700" + t[t.index("\n"):])
    with pytest.raises(S.SumdbError, match="not in the signed tree of 600"):
        _lookup(log, root, None)


def test_lookup_not_published(db_tree):
    log, root, dummy = db_tree
    with pytest.raises(S.SumdbError, match="does not know this version") as e:
        _lookup(log, root, None, version="v0.0.1-go1.27.4.linux-amd64")
    assert e.value.status == 404


def _grow(log, root, count):
    for i in range(count):
        log.add(_line("example.com/later%d" % (len(log.records) + i), "v3.0.0"))
    rec = next(i for i, r in enumerate(log.records) if r.startswith(MODULE.encode()))
    return log.write(root, record=rec)


def test_old_head_then_new_head_is_proven_consistent(db_tree, tmp_path):
    log, root, dummy = db_tree
    state = str(tmp_path / "state")
    _lookup(log, root, state)
    new_head = _grow(log, root, 1000)
    v = _lookup(log, root, state)
    assert v.tree_size == 1600
    with open(os.path.join(state, "latest-" + log.name)) as f:
        assert f.read() == new_head


def test_newer_remembered_head_proves_the_older_answer(db_tree, tmp_path):
    """A lagging mirror answers with an older head than the one remembered: the older tree must be
    a prefix of the remembered one (proven from the newer tree's tiles), and the newer head stays."""
    log, root, rec = db_tree
    state = str(tmp_path / "state")
    head_600 = log.head()
    new_head = _grow(log, root, 700)           # the tiles of both trees are in root now
    _lookup(log, root, state)                  # remembers 1300
    _rewrite(_lookup_path(root), lambda t: t[:t.index("go.sum database tree")] + head_600)
    v = _lookup(log, root, state)
    assert v.tree_size == 600
    with open(os.path.join(state, "latest-" + log.name)) as f:
        assert f.read() == new_head


def _forked(log, size, rec):
    """Another history signed by the same key: the same first `rec` records and the toolchain's,
    then others."""
    fork = Log(log.name)
    fork.key, fork.keyhash, fork.vkey = log.key, log.keyhash, log.vkey
    for r in log.records[:rec + 1]:
        fork.add(r.decode())
    while len(fork.records) < size:
        fork.add(_line("evil.example/m%d" % len(fork.records), "v6.6.6"))
    return fork


@pytest.mark.parametrize("fork_size", [900, 600, 400])
def test_forked_log_is_refused(db_tree, tmp_path, fork_size):
    """The remembered head (600 records) and a head of another history signed by the same key
    (larger, equal or smaller): whichever is older is not a prefix of the other."""
    log, root, rec = db_tree
    state = str(tmp_path / "state")
    _lookup(log, root, state)
    remembered = open(os.path.join(state, "latest-" + log.name)).read()
    fork_root = str(tmp_path / "fork")
    fork = _forked(log, fork_size, rec)
    fork.write(fork_root, record=rec)
    if fork_size < 600:
        log.write(fork_root, size=600)  # the remembered tree's tiles, for the proof that way round
        fork.write(fork_root, record=rec)
    with pytest.raises(S.SumdbError, match="forked log"):
        _lookup(fork, fork_root, state)
    with open(os.path.join(state, "latest-" + log.name)) as f:
        assert f.read() == remembered  # the fork's head was not remembered


def test_remembered_head_of_another_key_is_an_error(db_tree, tmp_path):
    log, root, dummy = db_tree
    state = str(tmp_path / "state")
    S.State(state).save(log.name, Log(log.name).head())
    with pytest.raises(S.SumdbError, match="remembered tree head.*does not verify with the configured key"):
        _lookup(log, root, state)


def test_partial_tile_missing_falls_back_to_the_full_tile(tmp_path):
    """client.go's readTile: a partial tile that is gone (the tile has filled since) is read as the
    full tile, cut to the width asked."""
    log = Log()
    for i in range(300):
        log.add(_line("example.com/m%d" % i, "v1.0.0"))
    rec = log.add(_line(MODULE, VERSION))
    while len(log.records) < 768:
        log.add(_line("example.com/n%d" % len(log.records), "v1.0.0"))
    root = str(tmp_path / "db")
    log.write(root)
    log.write(root, size=600, record=rec)
    os.unlink(os.path.join(root, "tile/8/0/002.p/88"))
    os.unlink(os.path.join(root, "tile/8/data/002.p/88"))
    assert _lookup(log, root, None).tree_size == 600


def test_state_refuses_a_folder_of_another_user_or_a_symlink(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(S.SumdbError, match="not a folder"):
        S.State(str(link)).save("sum.golang.org", "x")
    other = tmp_path / "other"
    other.mkdir()
    os.chown(str(other), 12345, 12345)
    with pytest.raises(S.SumdbError, match="belongs to uid 12345"):
        S.State(str(other)).load("sum.golang.org")
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    os.chmod(str(loose), 0o777)
    S.State(str(loose)).save("a/b..", "text")
    assert stat.S_IMODE(os.stat(str(loose)).st_mode) == 0o700
    assert os.listdir(str(loose)) == ["latest-a%2Fb..", "latest-a%2Fb...lock"] or \
        sorted(os.listdir(str(loose))) == ["latest-a%2Fb.."]
    assert S.State(str(loose)).load("a/b..") == "text"
    assert S.State(str(loose)).load("other") is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_lookup_answer_fuzz(tmp_path_factory, answer):
    """Whatever the lookup answer is, lookup gives a Verification or a SumdbError."""
    log = _FUZZ_LOG
    root = str(tmp_path_factory.mktemp("fz"))
    log.write(root, record=0)
    with open(_lookup_path(root), "wb") as f:
        f.write(answer)
    try:
        _lookup(log, root, None)
    except S.SumdbError:
        pass


_FUZZ_LOG = Log()
_FUZZ_LOG.add(_line(MODULE, VERSION))


def test_node_without_cryptography(tmp_path):
    """A Python where `cryptography` cannot be imported (as on a bare node): the import guard holds,
    parsing works, and a lookup says what to do instead of failing obscurely."""
    code = """
import sys
sys.modules["cryptography"] = None
sys.path.insert(0, %r)
from ansible_collections.gofleet.golang.plugins.module_utils import _sumdb as S
assert not S.HAS_CRYPTOGRAPHY
db = S.parse_gosumdb("sum.golang.org")
try:
    S.lookup(db, "https://sum.golang.org", "golang.org/toolchain", "v0.0.1-go1.27.3.linux-amd64",
             lambda u, n: b"", None)
except S.SumdbError as e:
    print(e)
""" % (_collections_root(),)
    out = subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    assert "lacks the `cryptography` package" in out and "checksum: h1:" in out


def _collections_root():
    here = os.path.dirname(os.path.abspath(S.__file__))
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(here)))))


# ---------------------------------------------------------------------------------------------
# the test bed's checksum database (testbed/goproxy.py: its own log, key and lying variants)


def _bed_lookup(keys, base, state=None, modver=VERSION, fetch=_fetch):
    db = S.parse_gosumdb(keys["vkey"])
    return S.lookup(db, base, MODULE, modver, fetch, state)


def _bed_db(tree, keys, variant=None):
    root = tree if variant is None else os.path.join(tree, "_testbed", variant)
    return "file://%s/sumdb/%s" % (root, keys["name"])


def test_bed_every_toolchain_record_verifies(goproxy_tree, goproxy_keys):
    for modver, rec in sorted(goproxy_keys["records"].items()):
        v = _bed_lookup(goproxy_keys, _bed_db(goproxy_tree, goproxy_keys), modver=modver)
        assert (v.record, v.h1, v.gomod_h1, v.tree_size) == (rec["id"], rec["zip"], rec["mod"], goproxy_keys["size"])
        assert v.tree_hash == goproxy_keys["root"] and v.lines == rec["text"].splitlines()


def test_bed_old_head_then_latest(goproxy_tree, goproxy_keys, tmp_path):
    """The remembered head is the test bed's older head (a prefix of the log): proven consistent,
    and the latest one replaces it."""
    state = S.State(str(tmp_path / "state"))
    state.save(goproxy_keys["name"], goproxy_keys["old_note"])
    v = _bed_lookup(goproxy_keys, _bed_db(goproxy_tree, goproxy_keys), state)
    assert v.tree_size == goproxy_keys["size"] and goproxy_keys["old_size"] < v.tree_size
    assert state.load(goproxy_keys["name"]) == goproxy_keys["latest_note"]


@pytest.mark.parametrize("variant,match", [("other-key", "not signed by the configured key"),
                                           ("no-line", "holds no line for golang.org/toolchain@.*CVE-2026-42501")])
def test_bed_lying_variants(goproxy_tree, goproxy_keys, variant, match):
    with pytest.raises(S.SumdbError, match=match):
        _bed_lookup(goproxy_keys, _bed_db(goproxy_tree, goproxy_keys, variant))


def test_bed_fork_refused(goproxy_tree, goproxy_keys, tmp_path):
    state = S.State(str(tmp_path / "state"))
    _bed_lookup(goproxy_keys, _bed_db(goproxy_tree, goproxy_keys), state)
    with pytest.raises(S.SumdbError, match="forked log"):
        _bed_lookup(goproxy_keys, _bed_db(goproxy_tree, goproxy_keys, "fork"), state)
    assert state.load(goproxy_keys["name"]) == goproxy_keys["latest_note"]
    # the other way round (the fork's larger head remembered): the real log has no tiles of the
    # fork's tree to prove itself against it, and that is a refusal too, never a skip
    other = S.State(str(tmp_path / "other"))
    other.save(goproxy_keys["name"], goproxy_keys["fork_note"])
    with pytest.raises(S.SumdbError, match="tile/8/0/001.p/52"):
        _bed_lookup(goproxy_keys, _bed_db(goproxy_tree, goproxy_keys), other)
    assert other.load(goproxy_keys["name"]) == goproxy_keys["fork_note"]


@pytest.fixture
def http_fetch():
    from testbed import ansible_module  # pylint: disable=import-outside-toplevel
    return ansible_module.fetcher(retries=1).get_bytes


def test_bed_over_http_with_the_servers_faults(bed, goproxy_keys, http_fetch, tmp_path):
    """The test bed server proxies the database at /goproxy/sumdb/<name>; each lying fault is
    refused, and a healthy answer afterwards still verifies against the remembered head."""
    base = "%s/goproxy/sumdb/%s" % (bed.url, goproxy_keys["name"])
    state = S.State(str(tmp_path / "state"))
    for fault, match in (("sumdb_bad_signature", "does not verify"),
                         ("sumdb_other_key", "not signed by the configured key"),
                         ("sumdb_no_line", "CVE-2026-42501"),
                         ("sumdb_bad_tile", "inconsistent tile"),
                         ("sumdb_500", "500")):
        bed.reset()
        bed.fault(fault)
        with pytest.raises(S.SumdbError, match=match):
            _bed_lookup(goproxy_keys, base, state, fetch=http_fetch)
    bed.reset()
    assert _bed_lookup(goproxy_keys, base, state, fetch=http_fetch).h1 == goproxy_keys["records"][VERSION]["zip"]
    bed.fault("sumdb_fork")
    with pytest.raises(S.SumdbError, match="forked log"):
        _bed_lookup(goproxy_keys, base, state, fetch=http_fetch)
    assert state.load(goproxy_keys["name"]) == goproxy_keys["latest_note"]


def test_bed_tampered_zip_does_not_match_the_record(bed, goproxy_keys, http_fetch):
    """A compromised proxy serves a valid zip with go.env changed: its h1 is not the database's."""
    from ansible_collections.gofleet.golang.plugins.module_utils import _goproxy as G  # pylint: disable=C0415
    import io  # pylint: disable=import-outside-toplevel
    v = _bed_lookup(goproxy_keys, "%s/goproxy/sumdb/%s" % (bed.url, goproxy_keys["name"]), fetch=http_fetch)
    bed.fault("zip_tampered")
    data = http_fetch("%s/goproxy/golang.org/toolchain/@v/%s.zip" % (bed.url, VERSION), 200 << 20)
    got = G.hash1_zip(io.BytesIO(data))
    assert got != v.h1 and v.h1 == goproxy_keys["records"][VERSION]["zip"]
