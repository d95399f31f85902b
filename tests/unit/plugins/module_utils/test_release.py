# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resolver (module_utils/_release): spec + platform + fetch -> one complete Release.

Resolution runs against two kinds of index:
- the real JSON index of the local go.dev mirror (go_mirror.index(): built from real Go
  archives by tests/testbed/mirror.py, served by tests/testbed/server.py), fetched for real over
  HTTP by `real_fetch` (urllib, the standard library) where a test is about fetching;
- small hand-written indexes in the exact shape go.dev serves for ?mode=json&include=all, for
  what the mirror does not hold: the go1.20 / go1.21.0 naming quirk, rc/beta entries with
  stable: false, armv6l archive names, installer and source files. go.dev itself is unreachable
  from this machine, so these are written from go.dev's documented shape, not downloaded.
Hostile indexes are written here too, one per field, and hypothesis feeds the parser arbitrary
text and JSON: the only outcome ever allowed is a Release or a ReleaseError. Nothing is mocked.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gofleet.golang.plugins.module_utils import _release as R, _versions as V
from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError
from ansible_collections.gofleet.golang.plugins.module_utils._versions import VersionError

BASE = "http://mirror.example"


def _file(version, goos, arch, kind="archive", size=100):
    ext = {"archive": "zip" if goos == "windows" else "tar.gz", "installer": "msi" if goos == "windows" else "pkg",
           "source": "tar.gz"}[kind]
    name = "%s.src.tar.gz" % version if kind == "source" else "%s.%s-%s.%s" % (version, goos, arch, ext)
    return {"filename": name, "os": goos if kind != "source" else "", "arch": arch if kind != "source" else "",
            "version": version, "sha256": hashlib.sha256(name.encode()).hexdigest(), "size": size, "kind": kind}


def _rel(version, stable=True, platforms=(("linux", "amd64"), ("linux", "arm64"), ("linux", "armv6l"),
                                          ("darwin", "arm64"), ("windows", "amd64"))):
    files = [_file(version, "", "", "source")]
    for goos, arch in platforms:
        files.append(_file(version, goos, arch))
        if goos in ("darwin", "windows"):
            files.append(_file(version, goos, arch, "installer"))
    return {"version": version, "stable": stable, "files": files}


# go.dev's include=all: stable releases newest first, then the unstable ones (rc/beta).
GODEV_LIKE = [
    _rel("go1.22.1"), _rel("go1.22.0"), _rel("go1.21.8"), _rel("go1.21.0"),
    _rel("go1.20.14"), _rel("go1.20.1"), _rel("go1.20"), _rel("go1.19.13"),
    _rel("go1.23rc2", stable=False), _rel("go1.23rc1", stable=False), _rel("go1.23beta1", stable=False),
    _rel("go1.21rc4", stable=False),
]


def _select(spec, index, goos, goarch, include_unstable=False):
    """select() over an index that went through parse_index(), as resolve() does, as a dict."""
    return R.select(spec, R.parse_index(json.dumps(index)), goos, goarch, BASE, include_unstable).as_dict()


class FetchError(GofleetError):
    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status


class real_fetch:  # pylint: disable=invalid-name
    """fetch(url, max_bytes) over real HTTP (urllib); records the URLs it was asked for."""

    def __init__(self):
        self.urls = []

    def __call__(self, url, max_bytes):
        self.urls.append(url)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.read(max_bytes).decode()
        except urllib.error.HTTPError as e:
            raise FetchError("%s: HTTP %d" % (url, e.code), e.code) from None


# ---- resolution against the real mirror index -------------------------------------------------
def test_resolve_real_mirror_index(go_mirror):
    idx = go_mirror.index()
    rel = _select("1.27.x", idx, "linux", "arm64")
    published = {f["filename"]: f for r in idx for f in r["files"]}
    assert rel["filename"] == "go1.27.3.linux-arm64.tar.gz" and rel["version"] == "1.27.3"
    assert rel["sha256"] == published[rel["filename"]]["sha256"] and rel["size"] == published[rel["filename"]]["size"]
    assert rel["url"] == BASE + "/dl/go1.27.3.linux-arm64.tar.gz" and (rel["os"], rel["arch"]) == ("linux", "arm64")
    assert _select("stable", idx, "linux", "amd64")["version"] == "1.27.3"
    assert _select("latest", idx, "darwin", "arm64")["filename"] == "go1.27.3.darwin-arm64.tar.gz"
    assert _select("oldstable", idx, "linux", "arm64")["version"] == "1.26.6"
    assert _select("go1.27.2", idx, "linux", "amd64")["version"] == "1.27.2"
    assert _select(">=1.26,<1.27.3", idx, "linux", "amd64")["version"] == "1.27.2"
    assert _select("1.27.3", idx, "windows", "amd64")["filename"] == "go1.27.3.windows-amd64.zip"
    # the supported-only index (?mode=json) still serves stable and oldstable
    assert _select("oldstable", go_mirror.index(include_all=False), "linux", "amd64")["version"] == "1.26.6"


def test_errors_on_real_mirror_index(go_mirror):
    idx = go_mirror.index()
    with pytest.raises(VersionError) as e:
        _select("1.27.2", idx, "linux", "arm64")
    assert str(e.value) == "go1.27.2 is not published for linux-arm64; it is published for: linux-amd64"
    with pytest.raises(VersionError) as e:
        _select("1.27.9", idx, "linux", "amd64")
    assert "go1.27.9 is not published; nearest published versions: go1.27.3, go1.27.2, go1.26.6" in str(e.value)
    assert "1.27.x" in str(e.value)
    with pytest.raises(VersionError, match=r"no stable release of Go 1\.30 is published; nearest published versions: "
                                           r"go1\.27\.3"):
        _select("1.30.x", idx, "linux", "amd64")
    with pytest.raises(VersionError, match="go1.27.3 is not published for linux-386; it is published for: darwin-amd64"):
        _select("stable", idx, "linux", "386")
    with pytest.raises(VersionError, match="no stable release matches '<1.20'"):
        _select("<1.20", idx, "linux", "amd64")


# ---- resolution against go.dev-shaped indexes -------------------------------------------------
def test_go120_vs_go1210_naming():
    assert _select("1.20.0", GODEV_LIKE, "linux", "amd64")["filename"] == "go1.20.linux-amd64.tar.gz"
    assert _select("go1.20", GODEV_LIKE, "linux", "amd64")["version"] == "1.20"
    assert _select("1.20.x", GODEV_LIKE, "linux", "amd64")["version"] == "1.20.14"
    assert _select("1.20", GODEV_LIKE, "linux", "amd64")["version"] == "1.20.14"  # a line: newest patch
    assert _select("go1.21", GODEV_LIKE, "linux", "amd64")["filename"] == "go1.21.0.linux-amd64.tar.gz"
    assert _select("1.21.0", GODEV_LIKE, "linux", "amd64")["tag"] == "go1.21.0"
    with pytest.raises(VersionError, match="go1.19 is not published; nearest published versions: go1.20.14, go1.20.1, go1.20, go1.19.13"):
        _select("go1.19", GODEV_LIKE, "linux", "amd64")


def test_unstable_only_when_named():
    assert _select("stable", GODEV_LIKE, "linux", "amd64")["version"] == "1.22.1"
    assert _select("oldstable", GODEV_LIKE, "linux", "amd64")["version"] == "1.21.8"
    with pytest.raises(VersionError, match="no stable release of Go 1.23"):
        _select("1.23.x", GODEV_LIKE, "linux", "amd64")
    rel = _select("1.23rc2", GODEV_LIKE, "linux", "amd64")
    assert rel["filename"] == "go1.23rc2.linux-amd64.tar.gz" and rel["stable"] is False
    assert _select("go1.23beta1", GODEV_LIKE, "darwin", "arm64")["version"] == "1.23beta1"
    assert _select("1.23.x", GODEV_LIKE, "linux", "amd64", include_unstable=True)["version"] == "1.23rc2"
    assert _select("stable", GODEV_LIKE, "linux", "amd64", include_unstable=True)["version"] == "1.23rc2"
    with pytest.raises(VersionError, match="go1.23rc3 is not published; nearest published versions: go1.22.1"):
        _select("1.23rc3", GODEV_LIKE, "linux", "amd64")


def test_armv6l_archives_and_kinds():
    rel = _select("1.22.x", GODEV_LIKE, "linux", "arm")
    assert rel["filename"] == "go1.22.1.linux-armv6l.tar.gz" and rel["arch"] == "arm"
    # an archive, never the .pkg/.msi installer or the source tarball
    assert _select("1.22.1", GODEV_LIKE, "darwin", "arm64")["filename"] == "go1.22.1.darwin-arm64.tar.gz"
    assert _select("1.22.1", GODEV_LIKE, "windows", "amd64")["filename"] == "go1.22.1.windows-amd64.zip"


def test_platform_missing_for_a_line_names_an_older_release():
    idx = [_rel("go1.27.3", platforms=(("linux", "amd64"),)), _rel("go1.27.2")]
    with pytest.raises(VersionError) as e:
        _select("1.27.x", idx, "linux", "arm64")
    assert str(e.value) == ("go1.27.3 is not published for linux-arm64; it is published for: linux-amd64; "
                            "the newest older release published for linux-arm64 is go1.27.2")


def test_index_not_a_list():
    with pytest.raises(VersionError, match="not go.dev's JSON list"):
        _select("stable", {"error": "nope"}, "linux", "amd64")
    with pytest.raises(VersionError, match="lists no releases"):
        _select("stable", [], "linux", "amd64")


# ---- sidecar-only mirrors ----------------------------------------------------------------------
def test_without_an_index_only_exact_versions_resolve_through_the_sidecar(go_mirror):
    fetch = real_fetch()
    rel = R.resolve("1.27.3", "linux", "arm64", fetch, go_mirror.url, use_index=False)
    published = {f["filename"]: f for r in go_mirror.index() for f in r["files"]}
    assert rel.filename == "go1.27.3.linux-arm64.tar.gz" and rel.sha256 == published[rel.filename]["sha256"]
    assert rel.sources == dict(version="sidecar", sha256="sidecar", size=None) and rel.size is None
    assert fetch.urls == [go_mirror.url + "/dl/go1.27.3.linux-arm64.tar.gz.sha256"]
    assert rel.url == go_mirror.url + "/dl/go1.27.3.linux-arm64.tar.gz"
    with pytest.raises(VersionError) as e:
        R.resolve("1.27.x", "linux", "amd64", fetch, "http://mirror.example", use_index=False)
    assert "only exact versions resolve" in str(e.value) and "1.27.3" in str(e.value)
    with pytest.raises(R.ReleaseError, match="go1.27.2.linux-arm64.tar.gz is not published at"):
        R.resolve("1.27.2", "linux", "arm64", fetch, go_mirror.url, use_index=False)


def test_sidecar_filenames_are_what_the_mirror_serves(go_mirror):
    names = {f["filename"] for r in go_mirror.index() for f in r["files"]}
    for version, goos, goarch in [("1.27.3", "linux", "arm64"), ("1.26.6", "linux", "amd64"), ("1.27.3", "windows", "amd64")]:
        assert V.archive_filename(version, goos, goarch) in names
    assert V.archive_filename("1.20", "linux", "arm") == "go1.20.linux-armv6l.tar.gz"


def test_a_404_index_falls_back_to_the_sidecar_with_one_request_each(go_mirror, sidecar_only_mirror):
    """An HTTP error keeps its status: a 404 for the index is learnt from that one request."""
    fetch = real_fetch()
    rel = R.resolve("1.26.6", "linux", "amd64", fetch, sidecar_only_mirror)
    assert rel.sources["sha256"] == "sidecar"
    assert fetch.urls == [V.index_url(sidecar_only_mirror), sidecar_only_mirror + "/dl/go1.26.6.linux-amd64.tar.gz.sha256"]


def test_a_hostile_sidecar_is_refused(go_mirror, tmp_path):
    for text in ("", "not-a-digest", "%s  ../../etc/passwd" % ("a" * 64)):
        with pytest.raises(R.ReleaseError, match="holds no SHA-256 digest"):
            R.resolve("1.27.3", "linux", "amd64", lambda url, n, t=text: t, BASE, use_index=False)


# ---- answers that need no request -----------------------------------------------------------
def _no_fetch(url, max_bytes):
    raise AssertionError("no request expected, got %s" % url)


def test_a_recorded_healthy_install_answers_offline():
    digest = "ab" * 32
    rel = R.resolve("1.27.3", "linux", "amd64", _no_fetch, BASE, installed={"1.27.3": digest}.get)
    assert (rel.version, rel.sha256, rel.sources["sha256"], rel.offline) == ("1.27.3", digest, "record", True)
    # a pinned checksum that differs from the record is not answered by the record
    other = "cd" * 32
    rel = R.resolve("go1.27.3", "linux", "amd64", _no_fetch, BASE, checksum="sha256:" + other.upper(),
                    installed={"1.27.3": digest}.get)
    assert (rel.sha256, rel.sources["sha256"], rel.filename) == (other, "checksum", "go1.27.3.linux-amd64.tar.gz")


def test_a_line_or_stable_always_reads_the_index(go_mirror):
    fetch = real_fetch()
    rel = R.resolve("1.27.x", "linux", "amd64", fetch, go_mirror.url, checksum="ef" * 32,
                    installed={"1.27.3": "ab" * 32}.get)
    assert fetch.urls == [V.index_url(go_mirror.url)] and rel.version == "1.27.3"
    assert rel.sources == dict(version="index", sha256="checksum", size="index")


def test_other_http_errors_are_not_a_missing_index(go_mirror):
    def fetch(url, max_bytes):  # the error a fetch raises for an HTTP 503 (the node's Fetcher, the lookup's)
        raise FetchError("%s: HTTP 503" % url, 503)
    with pytest.raises(FetchError) as e:
        R.resolve("1.26.6", "linux", "amd64", fetch, go_mirror.url)
    assert e.value.status == 503
    with pytest.raises(R.ReleaseError, match="is not JSON"):  # a 200 that is not the index is not a 404
        R.resolve("1.26.6", "linux", "amd64", lambda u, n: "<html>login</html>", go_mirror.url)


@pytest.mark.parametrize("value,expected", [
    ("sha256:" + "AB" * 32, "ab" * 32), ("ab" * 32, "ab" * 32), (None, None)])
def test_parse_checksum(value, expected):
    assert R.parse_checksum(value) == expected


@pytest.mark.parametrize("value", ["md5:abc", "sha256:123", "xyz"])
def test_parse_checksum_refuses(value):
    with pytest.raises(ValueError):
        R.parse_checksum(value)


# ---- hostile indexes: every field checked, one clear error each ------------------------------
def _index_with(**fields):
    entry = dict(_file("go1.27.3", "linux", "amd64"), **fields)
    return [{"version": "go1.27.3", "stable": True, "files": [entry]}]


@pytest.mark.parametrize("fields,message", [
    (dict(filename="../../.ssh/authorized_keys"), "names the file '../../.ssh/authorized_keys', not the official "
                                                  "go1.27.3.linux-amd64.tar.gz"),
    (dict(filename="go1.27.3.linux-amd64.tar.gz/x"), "not the official"),
    (dict(filename="go1.26.6.linux-amd64.tar.gz"), "not the official"),
    (dict(filename=7), "field 'filename' is not a string"),
    (dict(sha256="abc"), "field 'sha256' is 'abc', not 64 hex digits"),
    (dict(sha256=None), "field 'sha256' is None"),
    (dict(sha256="g" * 64), "not 64 hex digits"),
    (dict(size="100"), "field 'size' is '100', not a byte count"),
    (dict(size=-1), "not a byte count"),
    (dict(size=True), "not a byte count"),
    (dict(size=1 << 40), "not a byte count"),
    (dict(os=["linux"]), "field 'os' is not a string"),
])
def test_hostile_index_fields(fields, message):
    with pytest.raises(R.ReleaseError) as e:
        R.resolve("1.27.3", "linux", "amd64", lambda u, n: json.dumps(_index_with(**fields)), BASE)
    assert message in str(e.value) and str(e.value).startswith(V.index_url(BASE))


@pytest.mark.parametrize("text,message", [
    ("<html>", "is not JSON"), ("{}", "not go.dev's JSON list"), ("[1]", "entry 0 is not an object"),
    ('[{"files": []}]', "no string field 'version'"), ('[{"version": "go1.27.3", "files": {}}]', "'files' is not a list"),
    ('[{"version": "go1.27.3", "files": ["x"]}]', "file 0 is not an object"),
    ('[{"version": "go1.27.3", "stable": "yes"}]', "'stable' is not true or false"),
    ("[" * 100000 + "]" * 100000, "is not JSON"),
])
def test_malformed_indexes(text, message):
    with pytest.raises(R.ReleaseError, match=message):
        R.parse_index(text)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
                     max_leaves=20)
_field = st.sampled_from(["version", "stable", "files", "filename", "os", "arch", "kind", "sha256", "size"])
_entry = st.dictionaries(_field, _json | st.sampled_from(["go1.27.3", "linux", "amd64", "archive", "a" * 64]), max_size=9)
_index = st.lists(st.fixed_dictionaries({"version": st.sampled_from(["go1.27.3", "go1.26.6", "x", "go1.27rc1"]),
                                         "files": st.lists(_entry, max_size=3)},
                                        optional={"stable": _json}), max_size=4)


@settings(max_examples=120, deadline=None)
@given(index=_index | _json, spec=st.sampled_from(["stable", "1.27.x", "oldstable", ">=1.26", "1.27.3"]))
def test_no_index_ever_gives_a_traceback(index, spec):
    try:
        rel = R.resolve(spec, "linux", "amd64", lambda u, n: json.dumps(index), BASE)
    except R.ReleaseError:
        return
    # whatever was chosen is complete and checked
    assert rel.filename == V.archive_filename(rel.version, "linux", "amd64")
    assert len(rel.sha256) == 64 and (rel.size is None or rel.size > 0)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_no_text_ever_gives_a_traceback(text):
    for spec in ("stable", "1.27.3"):
        try:
            R.resolve(spec, "linux", "amd64", lambda u, n: text, BASE)
        except R.ReleaseError:
            pass
    try:
        V.parse_spec(text)
    except VersionError:
        pass
    for parse in (V.parse_gomod, V.parse_go_version_file, V.parse_tool_versions):
        try:
            parse(text)
        except VersionError:
            pass


def test_gomod_resolves_against_godev_naming(tmp_path):
    p = tmp_path / "go.mod"
    p.write_text("module x\ngo 1.20\n")
    assert _select(V.read_version_file(str(p)), GODEV_LIKE, "linux", "amd64")["filename"] == "go1.20.linux-amd64.tar.gz"
    p.write_text("module x\ngo 1.21\n")
    assert _select(V.read_version_file(str(p)), GODEV_LIKE, "linux", "amd64")["filename"] == "go1.21.0.linux-amd64.tar.gz"
    assert _select(V.read_version_file(str(p), True), GODEV_LIKE, "linux", "amd64")["version"] == "1.21.8"


# ---- Python 3.8 on managed nodes --------------------------------------------------------------
PY38 = os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python")


@pytest.mark.skipif(not os.path.exists(PY38), reason="pyenv's Python 3.8.18 is not installed")
def test_runs_on_python38(go_mirror, tmp_path):
    from testbed import config
    gomod = tmp_path / "go.mod"
    gomod.write_text("module x\ngo 1.26.6\n")
    code = (
        "import sys\n"
        "from ansible_collections.gofleet.golang.plugins.module_utils import _release as R, _versions as V\n"
        "idx = R.parse_index(open(sys.argv[1]).read())\n"
        "print(R.select('1.27.x', idx, 'linux', 'arm64', 'http://m').filename)\n"
        "print(R.select(V.read_version_file(sys.argv[2]), idx, 'linux', 'amd64', 'http://m').filename)\n"
        "print(V.parse_constraint('>=1.26,<1.27.3')('go1.27.2'))\n"
        "print(sys.version_info[:2])\n"
    )
    done = subprocess.run([PY38, "-c", code, os.path.join(go_mirror.tree, "index-all.json"), str(gomod)],
                          env=dict(os.environ, PYTHONPATH=config.collections_root()),
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:4] == ["go1.27.3.linux-arm64.tar.gz", "go1.26.6.linux-amd64.tar.gz", "True", "(3, 8)"]
