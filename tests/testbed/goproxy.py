# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Go module proxy for golang.org/toolchain and a checksum database of our own, built from the mirror.

The tree (cached under GOFLEET_CACHE, keyed by the mirror's files and this file's digest) is a
GOPROXY tree, usable as file://<tree> or served by testbed.server at /goproxy:

    <tree>/golang.org/toolchain/@v/list                       one module version a line
    <tree>/golang.org/toolchain/@v/<modver>.info              {"Version":..., "Time":...} (distpack's form)
    <tree>/golang.org/toolchain/@v/<modver>.mod               module golang.org/toolchain
    <tree>/golang.org/toolchain/@v/<modver>.zip               the toolchain module zip (zip_from_archive)
    <tree>/sumdb/<name>/supported                             empty: this proxy serves the database
    <tree>/sumdb/<name>/latest                                signed tree head
    <tree>/sumdb/<name>/lookup/golang.org/toolchain@<modver>  record number, go.sum lines, blank, head
    <tree>/sumdb/<name>/tile/8/<L>/<NNN>[.p/<W>]              hash tiles (x/mod/sumdb/tlog)
    <tree>/sumdb/<name>/tile/8/data/<NNN>[.p/<W>]             data tiles (the records' text)
    <tree>/sumdb-keys.json                                    keys, heads and records (see build_goproxy)
    <tree>/_testbed/...                                       what the server's lying faults serve:
        tampered/golang.org/toolchain/@v/<modver>.zip         a valid zip, go.env changed (zip_tampered)
        other-key/sumdb/<name>/{latest,lookup/...}            signed by another key of the same name
        no-line/sumdb/<name>/lookup/...                       a proven record without the module's lines
        fork/sumdb/<name>/...                                 a forked log: record PADDING-1 differs, one more

<modver> is toolchain_version(): v0.0.1-go<version>.<goos>-<goarch>, Go's platform names. The log
holds config.SUMDB_PADDING records `example.com/pad<N> v1.0.0 ...` first, then one record per
toolchain (so the toolchain records lie in the second level-0 tile, and a level-1 tile exists);
partial tiles are also written for the older head of size config.SUMDB_OLD_SIZE.
The database key is an Ed25519 key made with `cryptography` from a fixed seed (a test key: anyone
can sign with it; nothing but the tests trusts it).
"""

from __future__ import annotations

import base64
import calendar
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import struct
import tarfile
import time
import zipfile
import zlib

from . import config, mirror

HERE_FILE = os.path.abspath(__file__)
MODULE = "golang.org/toolchain"
MOD_FILE = b"module golang.org/toolchain\n"
TILE_HEIGHT = 8
# go.dev's archive arch names -> Go's (the module's versions use Go's names)
GOARCH = {"armv6l": "arm", "x86": "386"}
TAMPERED_MEMBER = "go.env"


def toolchain_version(version: str, goos: str, goarch: str) -> str:
    """('1.27.3' or 'go1.27.3', 'linux', 'amd64') -> 'v0.0.1-go1.27.3.linux-amd64'."""
    if version.startswith("go"):
        version = version[2:]
    return "v0.0.1-go%s.%s-%s" % (version, goos, GOARCH.get(goarch, goarch))


# ---------------------------------------------------------------------------------------------
# cmd/distpack's file set (src/cmd/distpack/pack.go, archive.go of go1.27)

_BASE_REMOVE = (".git/**", ".gitattributes", ".github/**", ".gitignore", ".jj/**", "VERSION.cache",
                "misc/cgo/*/_obj/**", "**/.DS_Store", "**/*.exe~", "src/cmd/dist/dist", "src/cmd/dist/dist.exe")
_MOD_REMOVE = ("api/**", "doc/**", "misc/**", "test/**")
_BUILD_TOOLS = ("asm", "cgo", "compile", "cover", "fix", "link", "preprofile", "vet")


def _path_match(pattern: str, name: str) -> bool:
    """Go's path.Match for the patterns distpack uses (*, ?, literals; * never matches /)."""
    rx = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, name) is not None


def _first_n(name: str, n: int) -> str:
    for i, c in enumerate(name):
        if c == "/":
            n -= 1
            if n == 0:
                return name[:i]
    return name


def _last_n(name: str, n: int) -> str:
    for i in range(len(name) - 1, -1, -1):
        if name[i] == "/":
            n -= 1
            if n == 0:
                return name[i + 1:]
    return name


def amatch(pattern: str, name: str) -> bool:
    """distpack's amatch: path.Match with a leading **/ or a trailing /** for any number of elements."""
    if pattern.startswith("**/"):
        p = pattern[3:]
        return _path_match(p, _last_n(name, 1 + p.count("/")))
    if pattern.endswith("/**"):
        p = pattern[:-3]
        return _path_match(p, _first_n(name, 1 + p.count("/")))
    return _path_match(pattern, name)


def distpack_mode(name: str) -> int:
    """distpack's mode(): 0755 for bin/, pkg/tool/, *.bash, *.sh, *.pl, *.rc, go_*_*_exec; else 0644."""
    if name.startswith(("bin/", "pkg/tool/")) or name.endswith((".bash", ".sh", ".pl", ".rc")):
        return 0o755
    if amatch("**/go_?*_?*_exec", name):
        return 0o755
    return 0o644


def _keep_binary(name: str, goos: str, goarch: str) -> bool:
    """The binary distribution's filter: bin/go and bin/gofmt, pkg/include, the build tools."""
    exe = ".exe" if goos == "windows" else ""
    if name.startswith("bin/"):
        return name in ("bin/go" + exe, "bin/gofmt" + exe)
    if name.startswith("pkg/"):
        if name.startswith("pkg/include/"):
            return True
        prefix = "pkg/tool/%s_%s/" % (goos, goarch)
        if not name.startswith(prefix):
            return False
        base = name.rsplit("/", 1)[1]
        if base.endswith(".exe"):
            base = base[:-4]
        return base in _BUILD_TOOLS
    return True


def _name_key(name: str):
    """distpack's nameLess as a sort key: '/' sorts before every other byte (foo/bar/baz < foo/bar.go)."""
    return [0 if b == 0x2F else b + 1 for b in name.encode()]


def module_files(names, goos: str, goarch: str, modver: str):
    """[(zip name, archive-relative name, mode)] in distpack's order for the module zip, from the
    names (relative to go/) of the regular files of a binary distribution."""
    out = []
    for name in names:
        if any(amatch(p, name) for p in _BASE_REMOVE) or not _keep_binary(name, goos, goarch):
            continue
        if any(amatch(p, name) for p in _MOD_REMOVE):
            continue
        zname = "%s@%s/%s" % (MODULE, modver, name)
        if zname.endswith("/go.mod"):
            zname = zname[:-len("go.mod")] + "_go.mod"
        out.append((zname, name, distpack_mode(name)))
    out.sort(key=lambda e: _name_key(e[0]))
    return out


def _read_archive(archive_path: str) -> dict:
    """name relative to go/ -> bytes, for every regular file of an official archive (.tar.gz or .zip)."""
    files = {}
    if archive_path.endswith(".zip"):
        with zipfile.ZipFile(archive_path) as z:
            for info in z.infolist():
                if info.is_dir():
                    continue
                if not info.filename.startswith("go/"):
                    raise ValueError("%s: member %s is outside go/" % (archive_path, info.filename))
                files[info.filename[3:]] = z.read(info)
        return files
    with tarfile.open(archive_path) as tar:
        for member in tar:
            if member.isdir():
                continue
            if not member.isfile():
                raise ValueError("%s: member %s is not a regular file" % (archive_path, member.name))
            if not member.name.startswith("go/"):
                raise ValueError("%s: member %s is outside go/" % (archive_path, member.name))
            files[member.name[3:]] = tar.extractfile(member).read()
    return files


def version_time(version_file: bytes) -> int:
    """The `time` line of go/VERSION as Unix seconds (distpack stamps every file with it)."""
    for line in version_file.decode().split("\n")[1:]:
        f = line.split()
        if len(f) == 2 and f[0] == "time":
            return calendar.timegm(time.strptime(f[1], "%Y-%m-%dT%H:%M:%SZ"))
    raise ValueError("VERSION has no time line: %r" % version_file[:200])


def rfc3339(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class ZipWriter:
    """A zip in the layout of Go's archive/zip Writer as distpack drives it: local header with the
    data-descriptor flag (0x08) and zero sizes, the Info-ZIP extended timestamp extra field
    (0x5455, modification time), deflate data, a signed data descriptor; creator Unix/2.0, reader
    2.0, external attributes = Unix mode << 16. The deflate bytes are zlib's (level 6), not Go's
    compress/flate BestCompression, which zlib cannot reproduce at any level: names, contents,
    order, modes and times are distpack's, the compressed bytes are not (so the zip's sha256
    differs from distpack's, its h1 does not). Level 9 took 3.6 times as long for a 0.6% smaller zip."""

    def __init__(self, f):
        self.f = f
        self.offset = 0
        self.central = []

    def _write(self, b: bytes):
        self.f.write(b)
        self.offset += len(b)

    def add(self, name: str, mode: int, mtime: int, data: bytes):
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        comp = c.compress(data) + c.flush()
        self.add_raw(name, mode, mtime, zlib.crc32(data), len(data), comp)

    def add_raw(self, name: str, mode: int, mtime: int, crc: int, size: int, comp: bytes):
        if size >= 0xFFFFFFFF or len(comp) >= 0xFFFFFFFF or self.offset >= 0xFFFFFFFF:
            raise ValueError("zip64 is not needed for toolchain zips and not written here")
        tm = time.gmtime(mtime)
        dos_date = tm.tm_mday + (tm.tm_mon << 5) + ((tm.tm_year - 1980) << 9)
        dos_time = tm.tm_sec // 2 + (tm.tm_min << 5) + (tm.tm_hour << 11)
        extra = struct.pack("<HHBI", 0x5455, 5, 1, mtime & 0xFFFFFFFF)
        bname = name.encode()
        flags = 0x8 | (0x800 if any(b >= 0x80 for b in bname) else 0)
        header_offset = self.offset
        self._write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 8, dos_time, dos_date, 0, 0, 0,
                                len(bname), len(extra)) + bname + extra)
        self._write(comp)
        self._write(struct.pack("<IIII", 0x08074B50, crc, len(comp), size))
        attrs = (0o100000 | mode) << 16
        if not mode & 0o200:
            attrs |= 0x01  # msdos read-only, as Go's SetMode
        self.central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, 20, flags, 8, dos_time, dos_date,
                                        crc, len(comp), size, len(bname), len(extra), 0, 0, 0, attrs,
                                        header_offset) + bname + extra)

    def close(self):
        start = self.offset
        for rec in self.central:
            self._write(rec)
        count = len(self.central)
        if count > 0xFFFF:
            raise ValueError("too many entries for a zip without zip64")
        self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, self.offset - start, start, 0))


def hash1(files) -> str:
    """x/mod/sumdb/dirhash.Hash1 over [(name, bytes)]: sha256 of '<hex sha256>  <name>\\n' lines, sorted."""
    h = hashlib.sha256()
    for name, data in sorted(files, key=lambda e: e[0].encode()):
        if "\n" in name:
            raise ValueError("dirhash: filenames with newlines are not supported")
        h.update(("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name)).encode())
    return "h1:" + base64.b64encode(h.digest()).decode()


def hash_zip(path: str) -> str:
    """dirhash.HashZip: Hash1 over every entry name of the zip and its uncompressed bytes."""
    with zipfile.ZipFile(path) as z:
        return hash1((info.filename, z.read(info)) for info in z.infolist())


def hash_mod(data: bytes = MOD_FILE) -> str:
    """The /go.mod line's hash: Hash1 over one file named go.mod."""
    return hash1([("go.mod", data)])


def zip_from_archive(archive_path: str, version: str, goos: str, goarch: str, out_path: str) -> str:
    """Write the golang.org/toolchain module zip of an official archive (members go/...) as
    cmd/distpack makes it; return its h1 (dirhash of the zip written)."""
    goarch = GOARCH.get(goarch, goarch)
    modver = toolchain_version(version, goos, goarch)
    files = _read_archive(archive_path)
    mtime = version_time(files["VERSION"])
    tmp = "%s.part.%d" % (out_path, os.getpid())
    hashed = []
    with open(tmp, "wb") as f:
        zw = ZipWriter(f)
        for zname, name, mode in module_files(files, goos, goarch, modver):
            zw.add(zname, mode, mtime, files[name])
            hashed.append((zname, files[name]))
        zw.close()
    os.replace(tmp, out_path)
    return hash1(hashed)


def tamper_zip(src: str, dst: str, member: str = TAMPERED_MEMBER) -> str:
    """A valid copy of a module zip whose `member` (name after the module prefix) has other bytes;
    every other entry is copied raw. Returns the member's full name."""
    changed = None
    with zipfile.ZipFile(src) as z, open(src, "rb") as raw, open(dst + ".part", "wb") as out:
        zw = ZipWriter(out)
        for info in z.infolist():
            mode = (info.external_attr >> 16) & 0o777
            mtime = struct.unpack("<I", info.extra[5:9])[0]
            if info.filename.split("/", 2)[-1] == member and info.filename.count("/") == 2:
                zw.add(info.filename, mode, mtime, z.read(info) + b"# changed by a compromised proxy\n")
                changed = info.filename
                continue
            raw.seek(info.header_offset)
            head = raw.read(30)
            name_len, extra_len = struct.unpack("<HH", head[26:30])
            raw.seek(info.header_offset + 30 + name_len + extra_len)
            zw.add_raw(info.filename, mode, mtime, info.CRC, info.file_size, raw.read(info.compress_size))
        zw.close()
    if changed is None:
        raise ValueError("%s has no %s" % (src, member))
    os.replace(dst + ".part", dst)
    return changed


# ---------------------------------------------------------------------------------------------
# the checksum database: note keys and signatures (golang.org/x/mod/sumdb/note), the log (tlog)

def _ed25519():
    from cryptography.hazmat.primitives.asymmetric import ed25519  # pylint: disable=import-outside-toplevel
    return ed25519


def _raw_pub(priv) -> bytes:
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
    return priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, pubkey: bytes) -> bytes:
    """note's key hash: the first 4 bytes of SHA-256(name, '\\n', 0x01 || public key)."""
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + pubkey).digest()[:4]


class NoteKey:
    """An Ed25519 note signer made with `cryptography` from a 32-byte seed."""

    def __init__(self, name: str, seed: bytes):
        self.name = name
        self.seed = seed
        self.priv = _ed25519().Ed25519PrivateKey.from_private_bytes(seed)
        self.pub = _raw_pub(self.priv)
        self.hash = key_hash(name, self.pub)

    @property
    def vkey(self) -> str:
        return "%s+%s+%s" % (self.name, self.hash.hex(), base64.b64encode(b"\x01" + self.pub).decode())

    @property
    def skey(self) -> str:
        return "PRIVATE+KEY+%s+%s+%s" % (self.name, self.hash.hex(), base64.b64encode(b"\x01" + self.seed).decode())

    def sign(self, text: bytes) -> bytes:
        """A signed note: text, blank line, '— <name> base64(keyhash || signature)'."""
        if not text.endswith(b"\n"):
            raise ValueError("note text must end in a newline")
        sig = base64.b64encode(self.hash + self.priv.sign(text)).decode()
        return text + b"\n" + ("\u2014 %s %s\n" % (self.name, sig)).encode()


def leaf_hash(record: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + record).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Log:
    """An RFC 6962 log of records (each the text of go.sum lines, newline-terminated)."""

    def __init__(self, records):
        self.records = list(records)
        self.leaves = [leaf_hash(r) for r in self.records]
        self._memo = {}

    def subtree(self, lo: int, hi: int) -> bytes:
        """The hash of leaves [lo, hi): RFC 6962 splits at the largest power of two below hi-lo."""
        key = (lo, hi)
        if key not in self._memo:
            if hi - lo == 1:
                self._memo[key] = self.leaves[lo]
            else:
                k = 1
                while k * 2 < hi - lo:
                    k *= 2
                self._memo[key] = node_hash(self.subtree(lo, lo + k), self.subtree(lo + k, hi))
        return self._memo[key]

    def root(self, size: int) -> bytes:
        return self.subtree(0, size)

    def head(self, size: int) -> bytes:
        """The tree head text tlog.FormatTree writes."""
        return b"go.sum database tree\n%d\n%s\n" % (size, base64.b64encode(self.root(size)))

    def tiles(self, size: int) -> dict:
        """tile path -> bytes for a tree of `size` records: hash tiles of every level, data tiles."""
        out = {}
        span = 1 << TILE_HEIGHT
        level = 0
        while size >> (TILE_HEIGHT * level) > 0:
            count = size >> (TILE_HEIGHT * level)  # complete subtrees of 256**level leaves
            width = 1 << (TILE_HEIGHT * level)
            for n in range((count + span - 1) // span):
                w = min(span, count - n * span)
                hashes = [self.subtree(i * width, (i + 1) * width) for i in range(n * span, n * span + w)]
                out[tile_path(level, n, w)] = b"".join(hashes)
                if level == 0:
                    out[tile_path(-1, n, w)] = b"".join(r + b"\n" for r in self.records[n * span:n * span + w])
            level += 1
        return out


def tile_path(level: int, n: int, width: int) -> str:
    """tlog.Tile.Path for height 8: tile/8/<L|data>/x001/x234/067[.p/<W>]."""
    s = "%03d" % (n % 1000)
    while n >= 1000:
        n //= 1000
        s = "x%03d/%s" % (n % 1000, s)
    p = ".p/%d" % width if width != 1 << TILE_HEIGHT else ""
    return "tile/%d/%s/%s%s" % (TILE_HEIGHT, "data" if level == -1 else level, s, p)


def record_text(modver: str, zip_h1: str, mod_h1: str) -> bytes:
    return ("%s %s %s\n%s %s/go.mod %s\n" % (MODULE, modver, zip_h1, MODULE, modver, mod_h1)).encode()


def _padding(i: int, tag: str = "") -> bytes:
    h = base64.b64encode(hashlib.sha256(("pad%d%s" % (i, tag)).encode()).digest()).decode()
    g = base64.b64encode(hashlib.sha256(("pad%d%s/go.mod" % (i, tag)).encode()).digest()).decode()
    return ("example.com/pad%d v1.0.0 h1:%s\nexample.com/pad%d v1.0.0/go.mod h1:%s\n" % (i, h, i, g)).encode()


def _write(path: str, data: bytes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def _write_db(root: str, log: Log, size: int, key: NoteKey, ids: dict, extra_sizes=()):
    """A static database under root (…/sumdb/<name>): supported, latest, lookups, tiles."""
    signed = key.sign(log.head(size))
    _write(os.path.join(root, "supported"), b"")
    _write(os.path.join(root, "latest"), signed)
    for modver, rid in ids.items():
        _write(os.path.join(root, "lookup", "%s@%s" % (MODULE, modver)),
               b"%d\n" % rid + log.records[rid] + b"\n" + signed)
    for s in (size,) + tuple(extra_sizes):
        for path, data in log.tiles(s).items():
            _write(os.path.join(root, path), data)
    return signed


# ---------------------------------------------------------------------------------------------

def goproxy_dir() -> str:
    files = sorted(config.MIRROR_FILES)
    key = config.key(files, os.path.basename(mirror.mirror_dir()), config.SUMDB_NAME, config.SUMDB_PADDING,
                     config.SUMDB_OLD_SIZE, config.file_digest(HERE_FILE))
    return os.path.join(config.CACHE, "goproxy", key)


def _toolchain_files():
    return [(v, o, a) for v, o, a in config.MIRROR_FILES if o in ("linux", "darwin")]


def _build_zip(mirror_tree, version, goos, goarch, vdir, tampered_vdir):
    """One toolchain's zip, tampered twin, .mod and .info (in a worker process); (modver, h1)."""
    modver = toolchain_version(version, goos, goarch)
    archive = os.path.join(mirror_tree, "go%s.%s-%s.tar.gz" % (version, goos, goarch))
    out = os.path.join(vdir, modver + ".zip")
    h1 = zip_from_archive(archive, version, goos, goarch, out)
    if hash_zip(out) != h1:
        raise RuntimeError("%s: the zip read back does not hash to what was written" % out)
    tamper_zip(out, os.path.join(tampered_vdir, modver + ".zip"))
    with tarfile.open(archive) as tar:
        mtime = version_time(tar.extractfile("go/VERSION").read())
    _write(os.path.join(vdir, modver + ".mod"), MOD_FILE)
    _write(os.path.join(vdir, modver + ".info"),
           ('{"Version":"%s", "Time":"%s"}\n' % (modver, rfc3339(mtime))).encode())
    return modver, h1


def build_goproxy(jobs: int = 2) -> str:
    """Build the proxy tree and its checksum database if not cached; return the tree's path."""
    tree = goproxy_dir()
    if os.path.exists(os.path.join(tree, "sumdb-keys.json")):
        return tree
    mirror_tree = mirror.build_mirror()
    work = "%s.building.%d" % (tree, os.getpid())
    shutil.rmtree(work, ignore_errors=True)
    vdir = os.path.join(work, MODULE, "@v")
    tampered_vdir = os.path.join(work, "_testbed", "tampered", MODULE, "@v")
    os.makedirs(vdir)
    os.makedirs(tampered_vdir)
    files = _toolchain_files()
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        built = list(pool.map(_build_zip, *zip(*[(mirror_tree, v, o, a, vdir, tampered_vdir) for v, o, a in files])))
    _write(os.path.join(vdir, "list"), "".join(m + "\n" for m, dummy in built).encode())

    name = config.SUMDB_NAME
    key = NoteKey(name, hashlib.sha256(b"gofleet test bed sumdb key " + name.encode()).digest())
    other = NoteKey(name, hashlib.sha256(b"gofleet test bed other sumdb key " + name.encode()).digest())
    mod_h1 = hash_mod()
    pad = config.SUMDB_PADDING
    records = [_padding(i) for i in range(pad)] + [record_text(m, h1, mod_h1) for m, h1 in built]
    ids = {m: pad + i for i, (m, dummy) in enumerate(built)}
    log = Log(records)
    size = len(records)
    old = config.SUMDB_OLD_SIZE
    db = os.path.join(work, "sumdb", name)
    latest = _write_db(db, log, size, key, ids, extra_sizes=(old,))
    old_note = key.sign(log.head(old))

    hostile = os.path.join(work, "_testbed")
    other_db = os.path.join(hostile, "other-key", "sumdb", name)
    other_note = other.sign(log.head(size))
    _write(os.path.join(other_db, "latest"), other_note)
    for modver, rid in ids.items():
        body = b"%d\n" % rid + records[rid] + b"\n"
        _write(os.path.join(other_db, "lookup", "%s@%s" % (MODULE, modver)), body + other_note)
        # a record that is in the log (its proof checks out) but is not this module's
        _write(os.path.join(hostile, "no-line", "sumdb", name, "lookup", "%s@%s" % (MODULE, modver)),
               b"%d\n" % (pad - 1) + records[pad - 1] + b"\n" + latest)
    # the record that differs lies in the second level-0 tile: the level-1 tile (leaves 0-255) is then
    # the same in both logs, so a client holding the real tiles gets a self-consistent fork whose
    # tree at the real size has another hash (cmd/go: "go.sum database server misbehavior detected")
    forked = list(records)
    forked[pad - 1] = _padding(pad - 1, "-forked")
    forked.append(_padding(pad, "-forked"))
    fork_log = Log(forked)
    # with the partial tiles of the real head's size too: what a client asks for to prove the fork
    fork_note = _write_db(os.path.join(hostile, "fork", "sumdb", name), fork_log, len(forked), key, ids,
                          extra_sizes=(size,))

    meta = {
        "name": name, "vkey": key.vkey, "skey": key.skey, "other_vkey": other.vkey, "other_skey": other.skey,
        "size": size, "root": base64.b64encode(log.root(size)).decode(), "latest_note": latest.decode(),
        "old_size": old, "old_note": old_note.decode(), "other_note": other_note.decode(),
        "fork_size": len(forked), "fork_note": fork_note.decode(), "fork_changed_record": pad - 1,
        "padding": pad, "tampered_member": TAMPERED_MEMBER,
        "records": {m: {"id": ids[m], "zip": h1, "mod": mod_h1, "text": records[ids[m]].decode()}
                    for m, h1 in built},
    }
    with open(os.path.join(work, "sumdb-keys.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    shutil.rmtree(tree, ignore_errors=True)
    try:
        os.replace(work, tree)
    except OSError:  # another process finished first
        shutil.rmtree(work, ignore_errors=True)
    return tree


def keys(tree: str = None) -> dict:
    """sumdb-keys.json of the tree (built if needed)."""
    with open(os.path.join(tree or build_goproxy(), "sumdb-keys.json")) as f:
        return json.load(f)


def sumdb_vkey(tree: str = None) -> str:
    """The test database's verifier key, GOSUMDB's `name+hash+key` form."""
    return keys(tree)["vkey"]


def notes(tree: str = None) -> dict:
    """The signed tree heads: latest (the real head), old (a prefix of it), fork, other (other key)."""
    k = keys(tree)
    return {"latest": k["latest_note"], "old": k["old_note"], "fork": k["fork_note"], "other": k["other_note"]}


def gosum_lines(modver: str, tree: str = None) -> list:
    """The two go.sum lines of a toolchain module version as the database records them."""
    return keys(tree)["records"][modver]["text"].splitlines()


if __name__ == "__main__":
    t0 = time.time()
    print(build_goproxy(), "%.1f s" % (time.time() - t0))
