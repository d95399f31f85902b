# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The distribution Go's own release tooling built (testbed.distpack: `make.bash -distpack`,
Go 1.27.3 for linux/arm, GOARM=6), and the test bed's cheap converter checked against it.

The build happens once, in `testbed prepare` or at the first use of the fixture (about 6 minutes
on 2 cores); these tests only read the cached files.

Oracles: the ELF header of go/bin/go (the collection's own reader, _binary.inspect, which is
tested against `readelf` and pyelftools in tests/unit), the archive's VERSION, and for the module
zip cmd/distpack itself: goproxy.zip_from_archive, the test bed's converter of an official
.tar.gz into the golang.org/toolchain module zip, must give from distpack's own linux-arm archive
the same entry names and the same h1 dirhash as the zip distpack wrote from the same tree.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import tarfile
import zipfile

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _binary

from testbed import config, distpack

VERSION = config.NEWEST
MOD_VERSION = "v0.0.1-go%s.linux-arm" % VERSION
PREFIX = "golang.org/toolchain@%s/" % MOD_VERSION


@pytest.fixture(scope="module")
def dist() -> dict:
    return distpack.build(VERSION, "linux", "arm", "6")


@pytest.fixture(scope="module")
def dist_digests(dist) -> dict:
    """zip_digests() of distpack's module zip (read once: it is 74 MB of deflate)."""
    return zip_digests(dist["zip"])


@pytest.fixture(scope="module")
def converted(dist, tmp_path_factory) -> tuple:
    """(path, returned h1) of goproxy.zip_from_archive run once on distpack's own linux-arm archive."""
    from testbed import goproxy  # pylint: disable=import-outside-toplevel

    ours = str(tmp_path_factory.mktemp("converted") / (MOD_VERSION + ".zip"))
    return ours, goproxy.zip_from_archive(dist["distpack_archive"], VERSION, "linux", "arm", ours)


def h1(digests: dict) -> str:
    """x/mod/sumdb/dirhash.Hash1 over a zip's entries (HashZip, as cmd/go computes a module's h1), from
    zip_digests(): one line "<sha256 hex>  <name>\n" per entry, names sorted; "h1:" + base64 of the
    text's SHA-256. (goproxy.hash1 is checked against Go's own in test_goproxy; this one is written
    apart so the oracle does not grade the converter with the converter's code.)"""
    assert not [n for n in digests if "\n" in n]
    text = "".join("%s  %s\n" % (digests[n][0], n) for n in sorted(digests))
    return "h1:" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def zip_digests(zip_path: str) -> dict:
    """name -> (sha256 hex, permission bits) of every entry."""
    with zipfile.ZipFile(zip_path) as z:
        return {i.filename: (hashlib.sha256(z.read(i)).hexdigest(), (i.external_attr >> 16) & 0o777)
                for i in z.infolist()}


def distpack_mode(name: str) -> int:
    """cmd/distpack's mode() (src/cmd/distpack/pack.go), for a name without the prefix."""
    if (name.startswith(("bin/", "pkg/tool/")) or name.endswith((".bash", ".sh", ".pl", ".rc"))
            or re.match(r"^go_[^/]+_[^/]+_exec$", name.rsplit("/", 1)[-1])):  # **/go_?*_?*_exec
        return 0o755
    return 0o644


def test_archive_holds_go_for_linux_arm_version_1_27_3(dist, tmp_path):
    assert os.path.basename(dist["archive"]) == "go%s.linux-armv6l.tar.gz" % VERSION
    assert os.path.basename(dist["distpack_archive"]) == "go%s.linux-arm.tar.gz" % VERSION
    assert os.path.samefile(dist["archive"], dist["distpack_archive"])
    with tarfile.open(dist["archive"]) as tar:
        members = tar.getmembers()
        assert all(m.name == "go" or m.name.startswith("go/") for m in members)
        # Go's archives since 1.21 hold only regular files and folders
        assert all(m.isfile() or m.isdir() for m in members), [m.name for m in members if not (m.isfile() or m.isdir())]
        version = tar.extractfile("go/VERSION").read().decode()
        go = tar.getmember("go/bin/go")
        assert go.mode & 0o777 == 0o755
        with open(tmp_path / "go", "wb") as out:
            out.write(tar.extractfile(go).read())
        names = {m.name for m in members}
    assert version.split("\n")[0] == "go" + VERSION
    assert "go/bin/gofmt" in names and "go/pkg/tool/linux_arm/compile" in names
    assert not any(n.startswith("go/pkg/tool/linux_amd64/") for n in names)  # the host's tools stay out
    info = _binary.inspect(str(tmp_path / "go"))
    assert (info["format"], info["goos"], info["goarch"], info["bits"], info["endianness"]) == (
        "elf", "linux", "arm", 32, "little")
    assert info["is_go"] and info["go_version"] == "go" + VERSION
    settings = info["build_info"]["settings"]
    assert (settings.get("GOOS"), settings.get("GOARCH"), settings.get("GOARM")) == ("linux", "arm", "6")
    assert info["build_info"]["path"] == "cmd/go" and info["linkage"] == "static"


def test_module_zip_is_the_toolchain_module_layout(dist, dist_digests):
    entries = dist_digests
    names = sorted(entries)
    assert names and all(n.startswith(PREFIX) for n in names), [n for n in names if not n.startswith(PREFIX)][:5]
    rel = [n[len(PREFIX):] for n in names]
    assert not [n for n in rel if n.split("/")[0] in ("api", "doc", "misc", "test")]
    assert not [n for n in rel if n.endswith("/")]  # files only, no folder entries
    assert not [n for n in rel if n == "go.mod" or n.endswith("/go.mod")]
    assert "src/_go.mod" in rel and "src/cmd/_go.mod" in rel
    assert {"VERSION", "go.env", "bin/go", "bin/gofmt", "pkg/tool/linux_arm/compile"} <= set(rel)
    wrong = {n: oct(entries[PREFIX + n][1]) for n in rel if entries[PREFIX + n][1] != distpack_mode(n)}
    assert not wrong, wrong
    # the module's bin/go is the archive's bin/go, byte for byte
    with tarfile.open(dist["archive"]) as tar:
        go = hashlib.sha256(tar.extractfile("go/bin/go").read()).hexdigest()
        version_time = tar.extractfile("go/VERSION").read().decode().split("\n")[1].split()[1]
    assert entries[PREFIX + "bin/go"][0] == go
    with open(dist["mod"]) as f:
        assert f.read() == "module golang.org/toolchain\n"
    with open(dist["info"]) as f:
        info = json.load(f)
    assert info == {"Version": MOD_VERSION, "Time": version_time}


def test_cached_build_is_complete_and_read_only(dist):
    with open(os.path.join(dist["dir"], "build.json")) as f:
        record = json.load(f)
    assert (record["version"], record["goos"], record["goarch"], record["goarm"]) == (VERSION, "linux", "arm", "6")
    for role in ("archive", "distpack_archive", "zip", "mod", "info", "src"):
        name = os.path.basename(dist[role])
        assert record["files"][name] == distpack.mirror.sha256_file(dist[role]), name
        assert not os.stat(dist[role]).st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    # what distpack printed (the first 8 bytes of each file's SHA-256) matches what was kept
    printed = dict(reversed(line.split()[1:3]) for line in record["distpack_output"])
    assert printed[os.path.basename(dist["zip"])] == record["files"][os.path.basename(dist["zip"])][:16]


def test_oracle_goproxy_converter_matches_distpack(dist_digests, converted):
    """THE ORACLE: the test bed's converter, given distpack's own archive, writes the zip distpack
    wrote (same names, same h1); any difference is listed name by name."""
    ours, returned = converted
    want, got = dist_digests, zip_digests(ours)
    only_distpack = sorted(set(want) - set(got))
    only_ours = sorted(set(got) - set(want))
    differ = sorted(n for n in set(want) & set(got) if want[n][0] != got[n][0])
    assert not (only_distpack or only_ours or differ), {
        "only in distpack's zip": only_distpack[:20], "only in zip_from_archive's": only_ours[:20],
        "different bytes": differ[:20]}
    assert sorted(got) == sorted(want)
    assert h1(got) == returned == h1(want)
    modes = sorted(n for n in want if want[n][1] != got[n][1])
    assert not modes, ["%s distpack %o, ours %o" % (n, want[n][1], got[n][1]) for n in modes[:20]]


def zip_layout(zip_path: str) -> list:
    """Every entry's header fields in order: all a zip says about an entry but its compressed bytes."""
    with zipfile.ZipFile(zip_path) as z:
        return [(i.filename, i.date_time, i.external_attr, i.create_system, i.create_version, i.extract_version,
                 i.flag_bits, i.compress_type, i.extra, i.CRC, i.file_size, i.comment) for i in z.infolist()]


def test_oracle_converter_writes_distpack_zip_layout(dist, converted):
    """zip_from_archive claims distpack's order, modes, times and Go's zip headers (only the deflate
    bytes differ): every central-directory field but the compressed size, entry by entry."""
    want, got = zip_layout(dist["zip"]), zip_layout(converted[0])
    assert [e[0] for e in got] == [e[0] for e in want]  # distpack's order, not only its set
    differ = [(w, g) for w, g in zip(want, got) if w != g]
    assert not differ, differ[:5]
