# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layout's archive reader (a helper thread inflates gzip while the main thread parses tar
headers and unpacks) against GNU tar and Python's own gzip and tarfile modules as oracles: the real
Go archive unpacks to exactly what GNU tar unpacks; concatenated members and zero padding are read as
gzip reads them; every damage gzip refuses is refused, nothing is left behind and no helper thread
outlives stage(); generated archives of every tar format read as tarfile reads them."""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import stat
import subprocess
import tarfile
import threading
import zlib

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gofleet.golang.plugins.module_utils import _layout
from testbed import config

NEW = config.NEWEST
BIG = os.urandom(5 << 20)  # more than one of the reader's 4 MiB pieces


def _tar_bytes(files):
    """An uncompressed tar of go/ with `files` ({name under go/: bytes}), as bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        top = tarfile.TarInfo("go")
        top.type, top.mode = tarfile.DIRTYPE, 0o755
        t.addfile(top)
        for name, data in files.items():
            ti = tarfile.TarInfo("go/" + name)
            ti.size, ti.mode, ti.mtime = len(data), 0o755 if name.startswith("bin/") else 0o644, 1700000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


FILES = {"VERSION": b"go1.27.3\n", "bin/go": BIG, "src/even.go": b"x" * 4096, "src/odd.go": b"y" * 4097,
         "src/empty.go": b""}
TAR = _tar_bytes(FILES)


def _threads():
    return [t for t in threading.enumerate() if t.name == "gofleet-inflate"]


def _stage(tmp_path, blob, name="a.tar.gz"):
    path = tmp_path / name
    path.write_bytes(blob)
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return root, _layout.Layout(str(root), None).stage(str(path))


def _assert_files(goroot, files=FILES):
    for name, data in files.items():
        with open(os.path.join(goroot, name), "rb") as f:
            assert f.read() == data, name
    manifest = _layout._read_json(os.path.join(os.path.dirname(goroot), "manifest.json"))
    assert {n: e[2] for n, e in manifest["files"].items()} == {n: hashlib.sha256(d).hexdigest()
                                                               for n, d in files.items()}


def _tree(top):
    """{relative path: (is a folder, size, executable bit, mtime, sha256)} of what lies under top
    (a folder's time is the time it was made: the layout keeps files' times only, as before)."""
    out = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            assert stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode), p
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, top)] = (stat.S_ISDIR(st.st_mode), st.st_size if digest else 0,
                                            bool(st.st_mode & 0o111), int(st.st_mtime) if digest else 0, digest)
    return out


def test_the_real_archive_unpacks_to_what_gnu_tar_unpacks(tmp_path, mirror_tree):
    """GNU tar, another implementation, is the oracle: the same folders and files, the same bytes,
    executable bits and times; the manifest holds each file's sha256."""
    archive = os.path.join(mirror_tree, "go%s.linux-amd64.tar.gz" % NEW)
    (tmp_path / "tar").mkdir()
    subprocess.run(["tar", "-xzf", archive, "-C", str(tmp_path / "tar")], check=True)
    root = tmp_path / "root"
    root.mkdir()
    goroot = _layout.Layout(str(root), None).stage(archive)
    staging = os.path.dirname(goroot)
    manifest = _layout._read_json(os.path.join(staging, "manifest.json"))
    os.unlink(os.path.join(staging, "manifest.json"))
    ours, theirs = _tree(staging), _tree(str(tmp_path / "tar"))
    assert ours == theirs and len(ours) > 13000
    files = {rel[3:]: [size, 1 if exe else 0, digest] for rel, (is_dir, size, exe, _t, digest) in ours.items()
             if not is_dir and rel != "go/go.env"}
    assert manifest["files"] == files
    assert sorted(manifest["dirs"]) == sorted(rel[3:] for rel, entry in ours.items() if entry[0] and rel != "go")
    assert {oct(os.lstat(os.path.join(staging, rel)).st_mode & 0o7777) for rel in ours} == {"0o755", "0o644"}
    assert _threads() == []


def test_concatenated_members_and_zero_padding_are_read_as_gzip_reads_them(tmp_path):
    cut = len(TAR) // 3 + 7  # inside bin/go's data
    blob = gzip.compress(TAR[:cut]) + b"\0" * 100 + gzip.compress(TAR[cut:]) + b"\0" * 3
    assert gzip.decompress(blob) == TAR  # the oracle reads it so
    _root, goroot = _stage(tmp_path, blob)
    _assert_files(goroot)
    assert _threads() == []


def _damaged():
    good = gzip.compress(TAR, compresslevel=1)
    mid = len(good) // 2
    flipped = bytearray(good)
    flipped[mid] ^= 0xFF
    crc = bytearray(good)
    crc[-8] ^= 0x01  # the trailer's CRC-32
    length = bytearray(good)
    length[-1] ^= 0x01  # the trailer's length
    return {
        "flipped byte": bytes(flipped),
        "wrong crc": bytes(crc),
        "wrong length": bytes(length),
        "cut in the data": good[:mid],
        "cut in the trailer": good[:-3],
        "cut after the tar end": good[:len(good) - 30],
        "garbage after the gzip data": good + b"junk",
        "a second member cut short": good + gzip.compress(b"more")[:12],
    }


@pytest.mark.parametrize("damage", sorted(_damaged()))
def test_damage_gzip_refuses_is_refused_and_leaves_nothing(tmp_path, damage):
    blob = _damaged()[damage]
    with pytest.raises((OSError, EOFError, zlib.error)):  # the oracle refuses it too
        gzip.decompress(blob)
    with pytest.raises(_layout.LayoutError, match="damaged|not a readable"):
        _stage(tmp_path, blob)
    assert os.listdir(str(tmp_path / "root")) == []
    assert _threads() == []


def test_a_refused_member_stops_the_reader_early(tmp_path):
    """The refusal comes while the helper thread still has most of the archive to inflate."""
    blob = gzip.compress(_tar_bytes({"VERSION": b"go1.27.3\n", "../evil": b"x", "bin/go": BIG}), compresslevel=1)
    with pytest.raises(_layout.LayoutError, match="outside the install folder"):
        _stage(tmp_path, blob)
    assert _threads() == []


@pytest.mark.parametrize("kind", ["tar", "tar.xz"])
def test_plain_and_xz_archives_are_read_too(tmp_path, kind):
    files = dict(FILES, **{"bin/go": BIG[:70000]})
    tar = _tar_bytes(files)
    blob = tar if kind == "tar" else lzma.compress(tar)
    _root, goroot = _stage(tmp_path, blob, "a." + kind)
    _assert_files(goroot, files)


# ---- the tar reader against tarfile ------------------------------------------------------------
_PART = st.sampled_from(["go", "bin", "src", "x" * 120, "\u00e9", "a b", "d/"])
_KIND = st.sampled_from([tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.CONTTYPE])
_TIME = st.one_of(st.integers(min_value=0, max_value=1 << 40), st.floats(min_value=0, max_value=4e9))
_ENTRY = st.tuples(st.lists(_PART, min_size=1, max_size=4).map("/".join), _KIND,
                   st.integers(min_value=0, max_value=0o7777), _TIME, st.binary(max_size=1100))


def _read_as_tarfile(blob):
    """What Python's tarfile reads: (name, is_dir, mode, size, mtime, data) up to the first member
    that is neither a file nor a folder, and why it stopped there: None (the end), "refused" (such
    a member) or "damaged" (tarfile could not read on)."""
    out = []
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as t:
            for m in t:
                if m.type not in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE):
                    return out, "refused"
                if m.type == tarfile.DIRTYPE and m.size:
                    return out, "refused"  # tarfile would read the folder's data as the next header
                data = t.extractfile(m).read() if m.type != tarfile.DIRTYPE else b""
                # a folder's name without its slash: 3.13.0 keeps the one of a GNU long name, 3.8-3.12 do not
                name = m.name.rstrip("/") if m.type == tarfile.DIRTYPE else m.name
                out.append((name, m.type == tarfile.DIRTYPE, m.mode, m.size if data else 0, m.mtime, data))
    except tarfile.ReadError:
        return out, "damaged"
    return out, None


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(_ENTRY, max_size=6),
       fmt=st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT]),
       glob=st.booleans())
def test_the_tar_reader_reads_what_tarfile_reads(entries, fmt, glob):
    buf = io.BytesIO()
    extra = dict(pax_headers={"comment": "made by a test"}) if glob and fmt == tarfile.PAX_FORMAT else {}
    with tarfile.open(fileobj=buf, mode="w:gz", format=fmt, **extra) as t:
        for name, kind, mode, mtime, data in entries:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = kind, mode, mtime
            if kind == tarfile.SYMTYPE:
                info.linkname = "target"
            info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE) else 0
            try:
                t.addfile(info, io.BytesIO(data) if info.size else None)
            except ValueError:
                continue  # a name or number this format cannot hold: tarfile writes nothing
    blob = buf.getvalue()
    expected, refused = _read_as_tarfile(blob)
    got = []
    try:
        for name, is_dir, mode, size, mtime, open_data in _layout._tar_members(io.BytesIO(blob), "t.tar.gz"):
            data = b"" if is_dir else b"".join(bytes(p) for p in open_data().pieces())
            got.append((name, is_dir, mode, size if data else 0, mtime, data))
    except _layout.LayoutError as e:
        assert refused and refused in str(e), (e, expected)
    else:
        assert not refused
    assert got == expected
