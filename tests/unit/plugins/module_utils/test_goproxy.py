# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Toolchains through a Go module proxy (module_utils/_goproxy).

Against the test bed's real module proxy (testbed/goproxy.py: toolchain zips made from the official
archives in cmd/distpack's layout), read as a file:// tree and served over HTTP by the test bed's
server (its /goproxy404, /goproxy410, /goproxy500 prefixes and sumdb faults), fetched with the
collection's own Fetcher. Oracles: Go's dirhash test vector, real cmd/go (`go mod download` prints
the h1 of a zip it fetched from a file:// proxy), the test bed's own independent h1. Hostile zips
are built here byte by byte (a symlink, names outside the prefix or with `..`, duplicates, a zip
bomb whose data exceeds its declared size, an encrypted entry, wrong modes), and hypothesis feeds
the parsers (GOPROXY, module versions, zips) arbitrary input: GoproxyError or a value, never a
traceback. Nothing is mocked.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import struct
import subprocess
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.gofleet.golang.plugins.module_utils import _goproxy as G, _sumdb as S
from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError

MODVER = "v0.0.1-go1.27.3.linux-amd64"
PREFIX = "golang.org/toolchain@%s/" % MODVER


def _no_http(url, max_bytes):
    raise GofleetError("this test reaches no HTTP server (%s)" % url)


@pytest.fixture
def http_fetch():
    from testbed import ansible_module  # pylint: disable=import-outside-toplevel
    return ansible_module.fetcher(retries=1).get_bytes


# ---------------------------------------------------------------------------------------------
# GOPROXY


def test_goproxy_list_as_cmd_go_reads_it():
    assert G.parse_goproxy("https://a.example,https://b.example/p/|file:///srv/goproxy,direct,https://ignored") == [
        G.Entry("https://a.example", False), G.Entry("https://b.example/p", True),
        G.Entry("file:///srv/goproxy", False), G.Entry("direct", False)]
    assert G.parse_goproxy("off") == [G.Entry("off", False)]
    assert G.parse_goproxy(" https://a.example , ,|http://127.0.0.1:8080/goproxy,off,https://x.example ") == [
        G.Entry("https://a.example", False), G.Entry("http://127.0.0.1:8080/goproxy", False), G.Entry("off", False)]
    # cmd/go: a scheme-less word with '.', ':' or '/' is https://<it>
    assert G.parse_goproxy("proxy.golang.org,direct") == [G.Entry("https://proxy.golang.org", False),
                                                          G.Entry("direct", False)]
    assert G.parse_goproxy("goproxy.cn|direct")[0] == G.Entry("https://goproxy.cn", True)


@pytest.mark.parametrize("text,match", [
    ("", "names no proxy"),
    (" , | ", "names no proxy"),
    ("ftp://proxy.example", "scheme 'ftp'"),
    ("https://a.example/x y", "spaces"),
    ("https://a.example/\tx", "spaces"),
    ("/srv/goproxy", "no scheme"),
    ("noproxy", "no scheme"),
    ("file://host/srv/goproxy", "file:///absolute/path"),
    ("file:relative", "not a valid URL"),  # cmd/go too: https://file:relative, a bad port
    ("https://a.example/?x=1", "query"),
    ("https://a.example/#f", "query"),
    ("http://", "no host"),
    ("https://a.example:99999", "not a valid URL"),
    (None, "must be a string"),
])
def test_goproxy_refused(text, match):
    with pytest.raises(G.GoproxyError, match=match):
        G.parse_goproxy(text)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="htps:/file.,|direcofx0 "), st.lists(st.sampled_from(
    ["https://a.example", "file:///t", "direct", "off", "", " ", "x", "ftp://y"])).map(",".join)))
def test_goproxy_fuzz(text):
    try:
        entries = G.parse_goproxy(text)
    except G.GoproxyError:
        return
    assert entries
    for e in entries[:-1]:
        assert e.url not in ("off", "direct")
    for e in entries:
        assert e.url in ("off", "direct") or e.url.split("://")[0] in ("http", "https", "file")


# ---------------------------------------------------------------------------------------------
# module versions


def test_module_versions():
    assert G.module_version("1.27.3", "linux", "amd64") == MODVER
    assert G.module_version("go1.27.3", "linux", "amd64") == MODVER
    assert G.module_version("1.21", "linux", "armv6l") == "v0.0.1-go1.21.0.linux-arm"
    assert G.module_version("1.27rc1", "darwin", "arm64") == "v0.0.1-go1.27rc1.darwin-arm64"
    assert G.split_module_version(MODVER) == ("go1.27.3", "linux", "amd64")
    assert G.split_module_version("v0.0.1-go1.21.0.linux-arm") == ("go1.21.0", "linux", "arm")


@pytest.mark.parametrize("text", ["v0.0.1-go1.27.3.linux", "v0.0.2-go1.27.3.linux-amd64", "v0.0.1-1.27.3.linux-amd64",
                                  "v0.0.1-go1.27.03.linux-amd64", "v0.0.1-go1.21.linux-amd64",
                                  "v0.0.1-go1.27.3.linux-amd64-x", "v0.0.1-go1.27.3.Linux-amd64", "v0.0.1-go1.27.3.",
                                  "v0.0.1-go1.27.3.linux-arm/../x", "", None, 7])
def test_not_module_versions(text):
    with pytest.raises(G.GoproxyError):
        G.split_module_version(text)


@pytest.mark.parametrize("args", [("1.27.3", "linux", "AMD64"), ("1.27.3", "linux/x", "amd64"), ("1.27", "", "amd64"),
                                  ("x", "linux", "amd64"), (None, "linux", "amd64")])
def test_module_version_refused(args):
    with pytest.raises(G.GoproxyError):
        G.module_version(*args)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.builds("v0.0.1-go{}.{}-{}".format, st.text(max_size=8), st.text(max_size=6),
                                      st.text(max_size=6))))
def test_module_version_fuzz(text):
    try:
        version, goos, goarch = G.split_module_version(text)
    except G.GoproxyError:
        return
    assert G.module_version(version, goos, goarch) == text


# ---------------------------------------------------------------------------------------------
# file:// reads


def test_file_urls_read_locally(tmp_path):
    (tmp_path / "f").write_bytes(b"data")
    fetch = G.open_fetch(_no_http)
    assert fetch("file://%s/f" % tmp_path, 10) == b"data"
    assert G.open_fetch(fetch) is fetch
    with pytest.raises(G.GoproxyError, match="no such file") as e:
        fetch("file://%s/missing" % tmp_path, 10)
    assert e.value.status == 404
    with pytest.raises(G.GoproxyError, match="more than the 3 allowed"):
        fetch("file://%s/f" % tmp_path, 3)
    with pytest.raises(GofleetError, match="reaches no HTTP"):
        fetch("https://proxy.example/x", 10)


def test_file_url_symlink_fifo_folder_refused(tmp_path):
    (tmp_path / "target").write_bytes(b"secret")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    os.mkfifo(str(tmp_path / "fifo"))
    fetch = G.open_fetch(_no_http)
    with pytest.raises(G.GoproxyError, match="symbolic link"):
        fetch("file://%s/link" % tmp_path, 100)
    with pytest.raises(G.GoproxyError, match="not a regular file"):
        fetch("file://%s/fifo" % tmp_path, 100)  # O_NONBLOCK: no writer, no hang
    with pytest.raises(G.GoproxyError, match="not a regular file"):
        fetch("file://%s" % tmp_path, 100)
    with pytest.raises(G.GoproxyError, match="only file:///absolute"):
        fetch("file://host%s/target" % tmp_path, 100)


# ---------------------------------------------------------------------------------------------
# the proxy list walked


def test_versions_from_the_test_bed_tree(goproxy_tree):
    proxy = G.Proxy("file://" + goproxy_tree, _no_http)
    assert proxy.versions("linux", "amd64") == ["go1.27.3", "go1.27.2", "go1.26.6"]
    assert proxy.versions("darwin", "arm64") == ["go1.27.3"]
    assert proxy.versions("linux", "riscv64") == []
    url, data = proxy.get("golang.org/toolchain/@v/%s.mod" % MODVER, 100)
    assert (url, data) == ("file://" + goproxy_tree, b"module golang.org/toolchain\n")
    assert proxy.zip_url(url, "1.27.3", "linux", "amd64") == \
        "file://%s/golang.org/toolchain/@v/%s.zip" % (goproxy_tree, MODVER)
    assert proxy.zip_url("direct", "go1.26.6", "linux", "armv6l") == \
        "https://go.dev/dl/mod/golang.org/toolchain/@v/v0.0.1-go1.26.6.linux-arm.zip"


def test_version_list_keeps_only_toolchain_versions(tmp_path):
    vdir = tmp_path / "golang.org" / "toolchain" / "@v"
    vdir.mkdir(parents=True)
    vdir.joinpath("list").write_bytes(b"v0.0.1-go1.27.3.linux-amd64 2026-01-01T00:00:00Z\n\xff\xfe junk\n"
                                      b"v0.0.1-go1.27.3.linux-amd64\n  v0.0.1-go1.26.0.linux-amd64  \n"
                                      b"v0.0.1-go1.27.3.linux-arm64\nv1.2.3\n../../etc\nv0.0.1-go1.2x.linux-amd64\n")
    assert G.Proxy("file://%s" % tmp_path, _no_http).versions("linux", "amd64") == ["go1.27.3", "go1.26.0"]


def test_comma_falls_through_only_on_404_410(tmp_path, goproxy_tree):
    (tmp_path / "golang.org" / "toolchain" / "@v" / "list").mkdir(parents=True)  # a folder: not a 404
    missing = "file://%s/nothing" % tmp_path
    good = "file://" + goproxy_tree
    assert G.Proxy("%s,%s" % (missing, good), _no_http).versions("linux", "arm64") == ["go1.27.3", "go1.26.6"]
    with pytest.raises(G.GoproxyError, match="not a regular file") as e:
        G.Proxy("file://%s,%s" % (tmp_path, good), _no_http).versions("linux", "arm64")
    assert "nothing" not in str(e.value) and goproxy_tree not in str(e.value)
    proxy = G.Proxy("file://%s|%s" % (tmp_path, good), _no_http)
    assert proxy.versions("linux", "arm64") == ["go1.27.3", "go1.26.6"]


def test_off_and_every_url_tried(tmp_path):
    with pytest.raises(G.GoproxyError, match="GOPROXY=off") as e:
        G.Proxy("off", _no_http).get("golang.org/toolchain/@v/list", 100)
    assert e.value.status is None
    with pytest.raises(G.GoproxyError, match="GOPROXY=off.*after .*a/golang.org/toolchain/@v/list.*no such file"):
        G.Proxy("file://%s/a,off" % tmp_path, _no_http).get("golang.org/toolchain/@v/list", 100)
    with pytest.raises(G.GoproxyError) as e:
        G.Proxy("file://%s/a,file://%s/b" % (tmp_path, tmp_path), _no_http).get("x", 100)
    assert "%s/a/x" % tmp_path in str(e.value) and "%s/b/x" % tmp_path in str(e.value) and e.value.status == 404


def test_http_fall_through_as_cmd_go(bed, http_fetch):
    """The test bed server's /goproxy404, /goproxy410 and /goproxy500 prefixes over real HTTP."""
    good = bed.url + "/goproxy"
    rel = "golang.org/toolchain/@v/list"
    for bad in ("/goproxy404", "/goproxy410"):
        url, data = G.Proxy("%s%s,%s" % (bed.url, bad, good), http_fetch).get(rel, 1 << 16)
        assert url == good and MODVER.encode() in data
    with pytest.raises(G.GoproxyError, match="goproxy500/golang.org/toolchain/@v/list.*500") as e:
        G.Proxy("%s/goproxy500,%s" % (bed.url, good), http_fetch).get(rel, 1 << 16)
    assert e.value.status == 500
    assert G.Proxy("%s/goproxy500|%s" % (bed.url, good), http_fetch).get(rel, 1 << 16)[0] == good
    # cmd/go reports the 500 rather than a later 404
    with pytest.raises(G.GoproxyError) as e:
        G.Proxy("%s/goproxy500|%s/goproxy404" % (bed.url, bed.url), http_fetch).get(rel, 1 << 16)
    assert e.value.status == 500 and "goproxy404" in str(e.value)


# ---------------------------------------------------------------------------------------------
# where the checksum database is


def test_sumdb_url_found_as_cmd_go_finds_it(tmp_path, goproxy_tree, goproxy_keys):
    db = S.parse_gosumdb(goproxy_keys["vkey"])
    tree = "file://" + goproxy_tree
    assert G.Proxy(tree, _no_http).sumdb_url(db) == "%s/sumdb/%s" % (tree, db.name)
    assert G.Proxy("file://%s,%s" % (tmp_path, tree), _no_http).sumdb_url(db) == "%s/sumdb/%s" % (tree, db.name)
    assert G.Proxy("file://%s,direct,%s" % (tmp_path, tree), _no_http).sumdb_url(db) == "https://" + db.name
    assert G.Proxy("off", _no_http).sumdb_url(db) == "https://" + db.name
    assert G.Proxy(tree, _no_http).sumdb_url(db._replace(url="http://db.example/x/")) == "http://db.example/x"
    gcn = S.parse_gosumdb("sum.golang.google.cn")
    assert G.Proxy("file://%s" % tmp_path, _no_http).sumdb_url(gcn) == "https://sum.golang.google.cn"


def test_sumdb_url_over_http(bed, http_fetch, goproxy_keys):
    db = S.parse_gosumdb(goproxy_keys["vkey"])
    good = bed.url + "/goproxy"
    assert G.Proxy(good, http_fetch).sumdb_url(db) == "%s/sumdb/%s" % (good, db.name)
    bed.fault("sumdb_unsupported")
    assert G.Proxy("%s,%s/goproxy404" % (good, bed.url), http_fetch).sumdb_url(db) == "https://" + db.name
    bed.reset()
    bed.fault("sumdb_500")
    with pytest.raises(G.GoproxyError, match="checksum database sum.gofleet.test unavailable.*500") as e:
        G.Proxy(good + ",direct", http_fetch).sumdb_url(db)
    assert e.value.status == 500
    bed.reset()
    # `|`: on to the next entry after the 500, which serves it
    bed.fault("sumdb_500", count=1)
    assert G.Proxy("%s|%s" % (good, good), http_fetch).sumdb_url(db) == "%s/sumdb/%s" % (good, db.name)
    # `|` after a 500, then only 404s: the 500 is the answer, as in cmd/go (not a silent direct)
    with pytest.raises(G.GoproxyError, match="unavailable"):
        G.Proxy("%s/goproxy500|%s/goproxy404" % (bed.url, bed.url), http_fetch).sumdb_url(db)


# ---------------------------------------------------------------------------------------------
# h1


def _zip(entries, compression=zipfile.ZIP_DEFLATED):
    """A zip from (name, data, unix mode or None, ...) tuples, written with zipfile."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, (2026, 1, 2, 3, 4, 6))
            info.compress_type = compression
            if mode is not None:
                info.external_attr = mode << 16
            z.writestr(info, data)
    buf.seek(0)
    return buf


def _htop(text):
    return "h1:" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _h(data):
    return hashlib.sha256(data.encode()).hexdigest()


def test_hash1_go_vector():
    """dirhash_test.go's TestHashZip."""
    z = _zip([("prefix/xyz", b"data for xyz", None), ("prefix/abc", b"data for abc", None)])
    want = _htop("%s  %s\n%s  %s\n" % (_h("data for abc"), "prefix/abc", _h("data for xyz"), "prefix/xyz"))
    assert G.hash1_zip(z) == want


def test_hash1_of_the_test_bed_zip(goproxy_tree, goproxy_keys):
    """The test bed's own h1 (testbed/goproxy.py, written apart) and the database record agree."""
    path = os.path.join(goproxy_tree, "golang.org", "toolchain", "@v", "v0.0.1-go1.26.6.linux-arm64.zip")
    with open(path, "rb") as f:
        assert G.hash1_zip(f) == goproxy_keys["records"]["v0.0.1-go1.26.6.linux-arm64"]["zip"]


def test_hash1_matches_cmd_go(tmp_path, host_go):
    """Real cmd/go downloads a module zip from a file:// proxy and prints its h1 (`go mod download
    -json`): a folder entry (hashed as an empty file by HashZip), UTF-8 names, stored and
    deflated entries, bytewise order (upper case before lower case)."""
    mod, ver = "example.com/hashme", "v1.0.0"
    prefix = "%s@%s/" % (mod, ver)
    z = _zip([(prefix + "go.mod", b"module example.com/hashme\n", 0o644), (prefix + "b/", b"", 0o40755),
              (prefix + "b/\u00e9t\u00e9.go", b"package b\n", 0o644), (prefix + "B.txt", b"upper\n", 0o644),
              (prefix + "a.txt", b"x" * 5000, 0o644)])
    vdir = tmp_path / "proxy" / "example.com" / "hashme" / "@v"
    vdir.mkdir(parents=True)
    vdir.joinpath(ver + ".zip").write_bytes(z.getvalue())
    vdir.joinpath(ver + ".mod").write_bytes(b"module example.com/hashme\n")
    vdir.joinpath(ver + ".info").write_text('{"Version":"%s","Time":"2026-01-01T00:00:00Z"}' % ver)
    vdir.joinpath("list").write_text(ver + "\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GOPATH": str(tmp_path / "gopath"),
           "GOMODCACHE": str(tmp_path / "modcache"), "GOPROXY": "file://%s" % (tmp_path / "proxy"),
           "GOSUMDB": "off", "GOTOOLCHAIN": "local", "GOFLAGS": "-modcacherw", "GOCACHE": str(tmp_path / "cache"),
           "GOENV": "off"}
    out = subprocess.run([host_go, "mod", "download", "-json", "%s@%s" % (mod, ver)], env=env, cwd=str(tmp_path),
                         stdout=subprocess.PIPE, check=True).stdout
    assert G.hash1_zip(z) == json.loads(out)["Sum"]


def test_hash1_refuses_newline_duplicate_and_size():
    with pytest.raises(G.GoproxyError, match="newline"):
        G.hash1_zip(_zip([("a\nb", b"", None)]))
    dup = io.BytesIO()
    with zipfile.ZipFile(dup, "w") as z:
        z.writestr("a", b"1")
        with pytest.warns(UserWarning):
            z.writestr("a", b"2")
    with pytest.raises(G.GoproxyError, match="appears twice"):
        G.hash1_zip(dup)
    with pytest.raises(G.GoproxyError, match=r"is \d+ bytes, more than the 100 a module zip"):
        G.hash1_zip(_zip([("a", b"x" * 1000, None)], zipfile.ZIP_STORED), max_bytes=100)
    with pytest.raises(G.GoproxyError, match="declares 1000 bytes"):
        G.hash1_zip(_zip([("a", b"x" * 1000, None)]), max_bytes=200)
    with pytest.raises(G.GoproxyError, match="not a readable zip"):
        G.hash1_zip(io.BytesIO(b"PK\x03\x04 not a zip"))


# ---------------------------------------------------------------------------------------------
# members


@pytest.fixture(scope="module")
def bed_members(goproxy_tree):
    path = os.path.join(goproxy_tree, "golang.org", "toolchain", "@v", MODVER + ".zip")
    with open(path, "rb") as f:
        members = []
        for name, is_dir, mode, size, mtime, open_data in G.zip_members(f, "bed zip"):
            digest = None
            if open_data is not None and name in ("go/bin/go", "go/src/go.mod", "go/src/_go.mod"):
                with open_data() as d:
                    digest = hashlib.sha256(d.read()).hexdigest()
            members.append((name, is_dir, mode, size, mtime, digest))
        with zipfile.ZipFile(f) as z:
            names = z.namelist()
    return members, names


def test_members_of_a_real_toolchain_zip(bed_members):
    members, names = bed_members
    by_name = {m[0]: m for m in members}
    assert all(n.startswith(PREFIX) for n in names)
    assert len(members) == len(names) + sum(n.endswith("/_go.mod") for n in names)
    assert all(m[0].startswith("go/") for m in members)
    assert by_name["go/bin/go"][2] == 0o755 and by_name["go/pkg/tool/linux_amd64/compile"][2] == 0o755
    assert by_name["go/src/make.bash"][2] == 0o755 and by_name["go/src/run.bash"][2] == 0o755
    assert by_name["go/lib/wasm/go_js_wasm_exec"][2] == 0o755
    assert by_name["go/src/cmd/go/main.go"][2] == 0o644 and by_name["go/VERSION"][2] == 0o644
    assert members[-1][0] == "go/src/go.mod"
    assert by_name["go/src/_go.mod"][5] is not None
    assert by_name["go/src/go.mod"][5] == by_name["go/src/_go.mod"][5]
    copies = [m[0] for m in members[len(names):]]
    assert copies and all(c.endswith("/go.mod") for c in copies)
    assert "go/src/cmd/go.mod" in copies
    assert not any(n.startswith(PREFIX + d) for n in names for d in ("api/", "doc/", "misc/", "test/"))


def _members(z, modver=None, max_bytes=G.MAX_ZIP_BYTES):
    out = []
    for name, is_dir, mode, size, _mtime, open_data in G.zip_members(z, "hostile zip", modver, max_bytes=max_bytes):
        data = None
        if open_data is not None:
            with open_data() as d:
                data = d.read()
        out.append((name, is_dir, mode, size, data))
    return out


def test_modes_are_distpacks_whatever_the_zip_says():
    z = _zip([(PREFIX + "bin/go", b"\x7fELF", 0o100644), (PREFIX + "go.env", b"GOPROXY=x\n", 0o100777),
              (PREFIX + "src/all.rc", b"", 0o100600), (PREFIX + "misc/x/go_ios_arm64_exec", b"", None),
              (PREFIX + "src/", b"", 0o40700)])
    assert [(m[0], m[2]) for m in _members(z)] == [("go/bin/go", 0o755), ("go/go.env", 0o644),
                                                   ("go/src/all.rc", 0o755), ("go/misc/x/go_ios_arm64_exec", 0o755),
                                                   ("go/src", 0o755)]


def test_go_mod_copies_come_last_src_last():
    z = _zip([(PREFIX + "src/_go.mod", b"module std\n", None), (PREFIX + "src/cmd/_go.mod", b"module cmd\n", None),
              (PREFIX + "VERSION", b"go1.27.3\n", None)])
    assert [(m[0], m[4]) for m in _members(z)] == [
        ("go/src/_go.mod", b"module std\n"), ("go/src/cmd/_go.mod", b"module cmd\n"), ("go/VERSION", b"go1.27.3\n"),
        ("go/src/cmd/go.mod", b"module cmd\n"), ("go/src/go.mod", b"module std\n")]


@pytest.mark.parametrize("entries,match", [
    ([(PREFIX + "bin/go", b"/etc/passwd", 0o120777)], "symbolic link"),
    ([(PREFIX + "dev", b"", 0o20644)], "device node"),
    ([(PREFIX + "fifo", b"", 0o10644)], "FIFO"),
    ([("golang.org/toolchain@v0.0.1-go1.27.3.linux-arm64/bin/go", b"", None)], "outside"),
    ([(PREFIX + "VERSION", b"", None), ("evil/x", b"", None)], "outside"),
    ([(PREFIX + "../../etc/cron.d/x", b"", None)], "not a plain path"),
    ([(PREFIX + "bin/./go", b"", None)], "not a plain path"),
    ([(PREFIX + "bin//go", b"", None)], "not a plain path"),
    ([(PREFIX + "bin\\go", b"", None)], "not a plain path"),
    ([(PREFIX + "bin/\x01go", b"", None)], "not a plain path"),
    ([(PREFIX + "src/go.mod", b"module std\n", None)], "is a go.mod"),
    ([(PREFIX + "src/x/", b"data", 0o40755)], "folder entry"),
    ([(PREFIX + "bin", b"", 0o40755)], "folder stored as a file"),
])
def test_hostile_members_refused(entries, match):
    with pytest.raises(G.GoproxyError, match=match):
        _members(_zip(entries), MODVER)


def test_duplicate_member_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(PREFIX + "bin/go", b"one")
        with pytest.warns(UserWarning):
            z.writestr(PREFIX + "bin/go", b"two")
    with pytest.raises(G.GoproxyError, match="appears twice"):
        _members(buf)


def test_zip_for_another_platform_than_asked():
    z = _zip([("golang.org/toolchain@v0.0.1-go1.27.3.linux-arm64/VERSION", b"go1.27.3\n", None)])
    with pytest.raises(G.GoproxyError, match="outside golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64/"):
        _members(z, MODVER)
    assert G.zip_modver(z) == "v0.0.1-go1.27.3.linux-arm64"


def test_zip_modver_refuses_mixed_and_empty():
    assert G.zip_modver(_zip([(PREFIX + "VERSION", b"", None), (PREFIX + "bin/", b"", None)])) == MODVER
    with pytest.raises(G.GoproxyError, match="like the first entry"):
        G.zip_modver(_zip([(PREFIX + "VERSION", b"", None),
                           ("golang.org/toolchain@v0.0.1-go1.27.2.linux-amd64/x", b"", None)]))
    with pytest.raises(G.GoproxyError, match="no entries"):
        G.zip_modver(_zip([]))
    with pytest.raises(G.GoproxyError, match="not under golang.org/toolchain"):
        G.zip_modver(_zip([("example.com/m@v1.0.0/x", b"", None)]))
    with pytest.raises(G.GoproxyError, match="not a golang.org/toolchain version"):
        G.zip_modver(_zip([("golang.org/toolchain@v9/x", b"", None)]))


def _patch_sizes(z, name, new_size):
    """Rewrite an entry's declared uncompressed size in its local header and central directory."""
    data = bytearray(z.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(name)
    struct.pack_into("<I", data, info.header_offset + 22, new_size)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46:pos + 46 + name_len] == name.encode():
            struct.pack_into("<I", data, pos + 24, new_size)
        pos = data.find(b"PK\x01\x02", pos + 4)
    return io.BytesIO(bytes(data))


def test_zip_bomb_data_beyond_declared_size():
    """An entry that declares 10 bytes but inflates to 10 MB: refused, and never read beyond 10 bytes."""
    z = _patch_sizes(_zip([(PREFIX + "go.env", b"\0" * (10 << 20), None)]), PREFIX + "go.env", 10)
    with pytest.raises(G.GoproxyError, match="go.env.*(damaged|more data than)"):
        _members(z)
    with pytest.raises(G.GoproxyError, match="go.env.*(damaged|more data than)"):
        G.hash1_zip(z)


def test_zip_bomb_with_a_matching_crc_yields_only_the_declared_bytes():
    """The same bomb with the CRC of its first 10 bytes: the entry is those 10 bytes, nothing more is
    ever read or written (the layout writes `size` bytes and checks the count)."""
    import zlib  # pylint: disable=import-outside-toplevel
    z = _patch_sizes(_zip([(PREFIX + "go.env", b"\0" * (10 << 20), None)]), PREFIX + "go.env", 10)
    data = bytearray(z.getvalue())
    crc = struct.pack("<I", zlib.crc32(b"\0" * 10))
    data[14:18] = crc
    pos = data.find(b"PK\x01\x02")
    data[pos + 16:pos + 20] = crc
    assert _members(io.BytesIO(bytes(data))) == [("go/go.env", False, 0o644, 10, b"\0" * 10)]


def test_entry_declared_over_the_cap():
    z = _zip([(PREFIX + "go.env", b"\0" * 5000, None)])
    with pytest.raises(G.GoproxyError, match="declares 5000 bytes.*zip bomb"):
        _members(z, max_bytes=4096)


def test_encrypted_entry_refused():
    z = _zip([(PREFIX + "go.env", b"x", None)], zipfile.ZIP_STORED)
    data = bytearray(z.getvalue())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(sig)
        flags = struct.unpack_from("<H", data, pos + off)[0]
        struct.pack_into("<H", data, pos + off, flags | 1)
    with pytest.raises(G.GoproxyError, match="encrypted; refused: module zips are never encrypted"):
        _members(io.BytesIO(bytes(data)))


def test_other_compression_refused():
    z = _zip([(PREFIX + "go.env", b"x" * 100, None)], zipfile.ZIP_BZIP2)
    with pytest.raises(G.GoproxyError, match="compression method 12"):
        _members(z)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_zip_bytes_fuzz(data):
    for fn in (G.hash1_zip, _members, G.zip_modver):
        try:
            fn(io.BytesIO(data))
        except G.GoproxyError:
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.one_of(st.text(max_size=20).map(lambda s: PREFIX + s), st.text(max_size=30)),
                          st.binary(max_size=20), st.one_of(st.none(), st.integers(0, 0xFFFF))), max_size=6),
       st.integers(0, 1000))
def test_zip_entries_fuzz(entries, flip):
    """Zips with arbitrary names and modes, some with a byte changed: members are under go/, plain,
    of regular mode, or GoproxyError."""
    import warnings  # pylint: disable=import-outside-toplevel
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z = _zip(entries)
    except (ValueError, UnicodeEncodeError):
        return
    raw = bytearray(z.getvalue())
    if raw and flip % 3 == 0:
        raw[flip % len(raw)] ^= 0x55
    try:
        members = _members(io.BytesIO(bytes(raw)), MODVER)
    except G.GoproxyError:
        return
    for name, is_dir, mode, size, data in members:
        assert name.startswith("go/") and ".." not in name.split("/") and mode in (0o755, 0o644)
        assert is_dir or len(data) == size
