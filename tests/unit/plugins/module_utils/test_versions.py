# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Version parsing, specs, constraints, version files and resolution (module_utils/_versions).

Resolution runs against two kinds of index:
- the real JSON index of the local go.dev mirror (go_mirror.index(): built from real Go
  archives by tests/testbed/mirror.py, served by tests/testbed/server.py);
- small hand-written indexes in the exact shape go.dev serves for ?mode=json&include=all, for
  what the mirror does not hold: the go1.20 / go1.21.0 naming quirk, rc/beta entries with
  stable: false, armv6l archive names, installer and source files. go.dev itself is unreachable
  from this machine, so these are written from go.dev's documented shape, not downloaded.
Nothing is mocked.
"""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _versions as V
from ansible_collections.gofleet.golang.plugins.module_utils._versions import VersionError


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


# ---- versions ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text,canonical", [
    ("go1.27.3", "1.27.3"), ("1.27.3", "1.27.3"), ("go1.20", "1.20"), ("1.20.0", "1.20"),
    ("1.20.14", "1.20.14"), ("go1.21", "1.21.0"), ("1.21.0", "1.21.0"), ("go1.27rc1", "1.27rc1"),
    ("1.22beta2", "1.22beta2"), (" go1.9.2 ", "1.9.2"),
])
def test_parse_and_canonical(text, canonical):
    assert V.canonical(text) == canonical
    assert V.parse_version(text).tag == "go" + canonical


@pytest.mark.parametrize("bad", ["", "1", "go", "1.27.x", "1.27.3rc1", "v1.27.3", "1.27.3.1", "stable", None])
def test_parse_refuses(bad):
    with pytest.raises(VersionError, match="is not a Go version"):
        V.parse_version(bad)


def test_ordering_beta_rc_release_patch():
    order = ["1.19.13", "1.20beta1", "1.20rc1", "1.20rc2", "go1.20", "1.20.1", "1.20.14", "1.21rc4", "1.21.0",
             "1.21.8", "1.27beta1", "1.27rc1", "1.27.0", "1.27.3", "1.100.0"]
    assert sorted(reversed(order), key=V.version_key) == order
    assert V.compare("go1.20", "1.20.0") == 0 and V.parse_version("go1.20") == V.parse_version("1.20.0")
    assert V.compare("1.27rc1", "1.27beta2") == 1 and V.compare("1.9", "1.10") == -1


def test_version_key_agrees_with_layout():
    # _layout sorts installed version folders; both must put versions in the same order
    from ansible_collections.gofleet.golang.plugins.module_utils import _layout
    names = ["1.27.3", "1.21rc2", "1.20", "1.27rc1", "1.22beta2", "1.26.6", "1.21.0"]
    assert sorted(names, key=V.version_key) == sorted(names, key=_layout.version_key)


# ---- specs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,kind,value", [
    ("1.27.3", "exact", "1.27.3"), ("go1.27.3", "exact", "1.27.3"), ("1.20.0", "exact", "1.20"),
    ("go1.20", "exact", "1.20"), ("go1.27", "exact", "1.27.0"), ("1.27rc1", "exact", "1.27rc1"),
    ("go1.22beta2", "exact", "1.22beta2"),
    ("1.27", "line", (1, 27)), ("1.27.x", "line", (1, 27)), ("go1.27.x", "line", (1, 27)), ("1.20", "line", (1, 20)),
    ("latest", "stable", None), ("stable", "stable", None), ("STABLE", "stable", None), ("oldstable", "oldstable", None),
    (">=1.26,<1.27.3", "constraint", None),
])
def test_parse_spec(text, kind, value):
    spec = V.parse_spec(text)
    assert spec.kind == kind
    if kind == "exact":
        assert str(spec.version) == value
    elif kind == "line":
        assert spec.line == value


@pytest.mark.parametrize("bad", ["", "newest", "1", "1.27.3.4", "v1.27", "1.27.y"])
def test_parse_spec_refuses_with_help(bad):
    with pytest.raises(VersionError, match="not a Go version spec: use an exact version"):
        V.parse_spec(bad)


def test_exact_version():
    assert V.exact_version("go1.27.3") == "1.27.3"
    assert V.exact_version("1.20.0") == "1.20"
    for spec in ("1.27.x", "1.27", "stable", ">=1.26"):
        with pytest.raises(ValueError, match="not an exact version"):
            V.exact_version(spec)


# ---- constraints ------------------------------------------------------------------------------
@pytest.mark.parametrize("constraint,yes,no", [
    (">=1.26", ["1.26rc1", "1.26.0", "1.26.6", "go1.27.3"], ["1.25.9", "1.25rc1"]),
    ("<1.27.3", ["1.27.2", "1.27rc1", "1.26.6"], ["1.27.3", "1.28.0"]),
    ("<1.27", ["1.26.9"], ["1.27rc1", "1.27.0"]),
    ("<=1.26", ["1.26.0", "1.26.9"], ["1.27rc1", "1.27.0"]),
    (">1.26", ["1.27rc1", "1.27.0"], ["1.26.9"]),
    ("1.27.x", ["1.27.0", "1.27.3", "1.27rc2"], ["1.26.6", "1.28.0"]),
    ("==1.27.3", ["go1.27.3"], ["1.27.2", "1.27.4"]),
    ("<=1.27.3", ["1.27.3", "1.27.2"], ["1.27.4"]),
    (">1.27.3", ["1.27.4", "1.28rc1"], ["1.27.3"]),
    (">=1.26, <1.27.3, !=1.26.2", ["1.26.1", "1.27.2"], ["1.26.2", "1.27.3", "1.25.0"]),
    (">=go1.20", ["go1.20", "1.20.1"], ["1.20rc1", "1.19.13"]),
    ("1.20", ["go1.20", "1.20.14", "1.20rc1"], ["1.21.0"]),
])
def test_constraints(constraint, yes, no):
    c = V.parse_constraint(constraint)
    assert [v for v in yes if c(v)] == yes
    assert [v for v in no if V.version_matches(v, constraint)] == []


@pytest.mark.parametrize("bad", ["", ">=", ">=banana", "=>1.26", ">=1.26,,<<1.27"])
def test_constraint_refuses(bad):
    with pytest.raises(VersionError, match="constraint"):
        V.parse_constraint(bad)


# ---- resolution against the real mirror index -------------------------------------------------
def test_resolve_real_mirror_index(go_mirror):
    idx = go_mirror.index()
    rel = V.resolve("1.27.x", idx, "linux", "arm64")
    published = {f["filename"]: f for r in idx for f in r["files"]}
    assert rel["filename"] == "go1.27.3.linux-arm64.tar.gz" and rel["version"] == "1.27.3"
    assert rel["sha256"] == published[rel["filename"]]["sha256"] and rel["size"] == published[rel["filename"]]["size"]
    assert rel["url"] == "/dl/go1.27.3.linux-arm64.tar.gz" and (rel["os"], rel["arch"]) == ("linux", "arm64")
    assert V.resolve("stable", idx, "linux", "amd64")["version"] == "1.27.3"
    assert V.resolve("latest", idx, "darwin", "arm64")["filename"] == "go1.27.3.darwin-arm64.tar.gz"
    assert V.resolve("oldstable", idx, "linux", "arm64")["version"] == "1.26.6"
    assert V.resolve("go1.27.2", idx, "linux", "amd64")["version"] == "1.27.2"
    assert V.resolve(">=1.26,<1.27.3", idx, "linux", "amd64")["version"] == "1.27.2"
    assert V.resolve("1.27.3", idx, "windows", "amd64")["filename"] == "go1.27.3.windows-amd64.zip"
    # the supported-only index (?mode=json) still serves stable and oldstable
    assert V.resolve("oldstable", go_mirror.index(include_all=False), "linux", "amd64")["version"] == "1.26.6"


def test_errors_on_real_mirror_index(go_mirror):
    idx = go_mirror.index()
    with pytest.raises(VersionError) as e:
        V.resolve("1.27.2", idx, "linux", "arm64")
    assert str(e.value) == "go1.27.2 is not published for linux-arm64; it is published for: linux-amd64"
    with pytest.raises(VersionError) as e:
        V.resolve("1.27.9", idx, "linux", "amd64")
    assert "go1.27.9 is not published; nearest published versions: go1.27.3, go1.27.2, go1.26.6" in str(e.value)
    assert "1.27.x" in str(e.value)
    with pytest.raises(VersionError, match=r"no stable release of Go 1\.30 is published; nearest published versions: "
                                           r"go1\.27\.3"):
        V.resolve("1.30.x", idx, "linux", "amd64")
    with pytest.raises(VersionError, match="go1.27.3 is not published for linux-386; it is published for: darwin-amd64"):
        V.resolve("stable", idx, "linux", "386")
    with pytest.raises(VersionError, match="no stable release matches '<1.20'"):
        V.resolve("<1.20", idx, "linux", "amd64")


# ---- resolution against go.dev-shaped indexes -------------------------------------------------
def test_go120_vs_go1210_naming():
    assert V.resolve("1.20.0", GODEV_LIKE, "linux", "amd64")["filename"] == "go1.20.linux-amd64.tar.gz"
    assert V.resolve("go1.20", GODEV_LIKE, "linux", "amd64")["version"] == "1.20"
    assert V.resolve("1.20.x", GODEV_LIKE, "linux", "amd64")["version"] == "1.20.14"
    assert V.resolve("1.20", GODEV_LIKE, "linux", "amd64")["version"] == "1.20.14"  # a line: newest patch
    assert V.resolve("go1.21", GODEV_LIKE, "linux", "amd64")["filename"] == "go1.21.0.linux-amd64.tar.gz"
    assert V.resolve("1.21.0", GODEV_LIKE, "linux", "amd64")["tag"] == "go1.21.0"
    with pytest.raises(VersionError, match="go1.19 is not published; nearest published versions: go1.20.14, go1.20.1, go1.20, go1.19.13"):
        V.resolve("go1.19", GODEV_LIKE, "linux", "amd64")


def test_unstable_only_when_named():
    assert V.resolve("stable", GODEV_LIKE, "linux", "amd64")["version"] == "1.22.1"
    assert V.resolve("oldstable", GODEV_LIKE, "linux", "amd64")["version"] == "1.21.8"
    with pytest.raises(VersionError, match="no stable release of Go 1.23"):
        V.resolve("1.23.x", GODEV_LIKE, "linux", "amd64")
    rel = V.resolve("1.23rc2", GODEV_LIKE, "linux", "amd64")
    assert rel["filename"] == "go1.23rc2.linux-amd64.tar.gz" and rel["stable"] is False
    assert V.resolve("go1.23beta1", GODEV_LIKE, "darwin", "arm64")["version"] == "1.23beta1"
    assert V.resolve("1.23.x", GODEV_LIKE, "linux", "amd64", include_unstable=True)["version"] == "1.23rc2"
    assert V.resolve("stable", GODEV_LIKE, "linux", "amd64", include_unstable=True)["version"] == "1.23rc2"
    with pytest.raises(VersionError, match="go1.23rc3 is not published; nearest published versions: go1.22.1"):
        V.resolve("1.23rc3", GODEV_LIKE, "linux", "amd64")


def test_armv6l_archives_and_kinds():
    rel = V.resolve("1.22.x", GODEV_LIKE, "linux", "arm")
    assert rel["filename"] == "go1.22.1.linux-armv6l.tar.gz" and rel["arch"] == "arm"
    # an archive, never the .pkg/.msi installer or the source tarball
    assert V.resolve("1.22.1", GODEV_LIKE, "darwin", "arm64")["filename"] == "go1.22.1.darwin-arm64.tar.gz"
    assert V.resolve("1.22.1", GODEV_LIKE, "windows", "amd64")["filename"] == "go1.22.1.windows-amd64.zip"


def test_platform_missing_for_a_line_names_an_older_release():
    idx = [_rel("go1.27.3", platforms=(("linux", "amd64"),)), _rel("go1.27.2")]
    with pytest.raises(VersionError) as e:
        V.resolve("1.27.x", idx, "linux", "arm64")
    assert str(e.value) == ("go1.27.3 is not published for linux-arm64; it is published for: linux-amd64; "
                            "the newest older release published for linux-arm64 is go1.27.2")


def test_index_not_a_list():
    with pytest.raises(VersionError, match="not go.dev's JSON list"):
        V.resolve("stable", {"error": "nope"}, "linux", "amd64")
    with pytest.raises(VersionError, match="lists no releases"):
        V.resolve("stable", [], "linux", "amd64")


# ---- sidecar-only mirrors and URLs ------------------------------------------------------------
def test_sidecar_release_exact_only():
    rel = V.sidecar_release("1.20.0", "linux", "arm")
    assert rel["filename"] == "go1.20.linux-armv6l.tar.gz" and rel["sha256"] is None and rel["version"] == "1.20"
    assert V.sidecar_release("go1.27.3", "windows", "amd64")["filename"] == "go1.27.3.windows-amd64.zip"
    with pytest.raises(VersionError) as e:
        V.sidecar_release("1.27.x", "linux", "amd64", base="http://mirror.example")
    assert "http://mirror.example has no JSON index" in str(e.value)
    assert "only exact versions resolve" in str(e.value) and "1.27.3" in str(e.value)


def test_sidecar_release_filename_is_what_the_mirror_serves(go_mirror):
    names = {f["filename"] for r in go_mirror.index() for f in r["files"]}
    for version, goos, goarch in [("1.27.3", "linux", "arm64"), ("1.26.6", "linux", "amd64"), ("1.27.3", "windows", "amd64")]:
        assert V.sidecar_release(version, goos, goarch)["filename"] in names


def test_urls():
    assert V.index_url("https://go.dev/") == "https://go.dev/dl/?mode=json&include=all"
    assert V.index_url() == "https://go.dev/dl/?mode=json&include=all"
    assert V.file_url("http://m:8080/base", "go1.27.3.linux-amd64.tar.gz") == "http://m:8080/base/dl/go1.27.3.linux-amd64.tar.gz"
    assert V.sidecar_url("https://go.dev", "go1.20.linux-amd64.tar.gz") == "https://go.dev/dl/go1.20.linux-amd64.tar.gz.sha256"


# ---- version files ----------------------------------------------------------------------------
@pytest.mark.parametrize("content,spec,newest", [
    ("module x\n\ngo 1.21\n", "go1.21.0", "1.21.x"),
    ("module x\ngo 1.20\n", "go1.20", "1.20.x"),
    ("module x\ngo 1.22.3\n", "go1.22.3", "1.22.x"),
    ("module x\ngo 1.22.3 // comment\ntoolchain go1.23.4\n", "go1.23.4", "1.23.x"),
    ("module x\ngo 1.23rc1\n", "go1.23rc1", "go1.23rc1"),
    ("module x\ngo 1.22\ntoolchain default\n", "go1.22.0", "1.22.x"),
    ("module x\ngo 1.22.0\ntoolchain go1.22.5-bigcorp\n", "go1.22.5", "1.22.x"),
    ("module x\ngo 1.22.0\ntoolchain mycorp-go1.22.6\n", "go1.22.6", "1.22.x"),
    # a toolchain older than the go line is ignored, as Go does
    ("module x\ngo 1.23.2\ntoolchain go1.22.5\n", "go1.23.2", "1.23.x"),
    ("toolchain go1.24.1\nmodule x\n", "go1.24.1", "1.24.x"),
    ("module x\nrequire (\n\tgo.example/go v1.2.3\n)\ngo 1.21.4\n", "go1.21.4", "1.21.x"),
])
def test_gomod(tmp_path, content, spec, newest):
    for name in ("go.mod", "go.work"):
        p = tmp_path / name
        p.write_text(content)
        assert V.read_version_file(str(p)) == spec
        assert V.read_version_file(str(p), newest_patch=True) == newest


def test_gomod_resolves_against_godev_naming(tmp_path):
    p = tmp_path / "go.mod"
    p.write_text("module x\ngo 1.20\n")
    assert V.resolve(V.read_version_file(str(p)), GODEV_LIKE, "linux", "amd64")["filename"] == "go1.20.linux-amd64.tar.gz"
    p.write_text("module x\ngo 1.21\n")
    assert V.resolve(V.read_version_file(str(p)), GODEV_LIKE, "linux", "amd64")["filename"] == "go1.21.0.linux-amd64.tar.gz"
    assert V.resolve(V.read_version_file(str(p), True), GODEV_LIKE, "linux", "amd64")["version"] == "1.21.8"


@pytest.mark.parametrize("content,message", [
    ("module x\n", "has neither a go nor a toolchain line"),
    ("module x\ngo banana\n", "'go banana' is not a Go version"),
    ("module x\ngo 1.22.0\ntoolchain gcc\n", "'toolchain gcc' names no Go release"),
])
def test_gomod_errors(tmp_path, content, message):
    p = tmp_path / "go.mod"
    p.write_text(content)
    with pytest.raises(VersionError, match=message):
        V.read_version_file(str(p))


@pytest.mark.parametrize("name,content,spec,newest", [
    (".go-version", "1.22.3\n", "go1.22.3", "1.22.x"),
    (".go-version", "# pinned\n\ngo1.20\n", "go1.20", "1.20.x"),
    (".go-version", "1.22\n", "1.22", "1.22"),
    (".go-version", "1.22.x\n", "1.22.x", "1.22.x"),
    (".tool-versions", "nodejs 20.1.0\ngolang 1.22.3 1.21.0\n", "go1.22.3", "1.22.x"),
    (".tool-versions", "go 1.21.0 # comment\n", "go1.21.0", "1.21.x"),
    (".tool-versions", "golang system 1.20.0\n", "go1.20", "1.20.x"),
])
def test_go_version_and_tool_versions(tmp_path, name, content, spec, newest):
    p = tmp_path / name
    p.write_text(content)
    assert V.read_version_file(str(p)) == spec
    assert V.read_version_file(str(p), newest_patch=True) == newest


@pytest.mark.parametrize("name,content,message", [
    (".go-version", "\n# nothing\n", "is empty"),
    (".go-version", "banana\n", "not a Go version spec"),
    (".tool-versions", "nodejs 20.1.0\n", "has no golang \\(or go\\) entry"),
    (".tool-versions", "golang system\n", "names no Go release"),
])
def test_version_file_errors(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(VersionError, match=message) as e:
        V.read_version_file(str(p))
    assert str(p) in str(e.value)


def test_missing_file_is_oserror(tmp_path):
    with pytest.raises(OSError):
        V.read_version_file(str(tmp_path / "go.mod"))


# ---- Python 3.8 on managed nodes --------------------------------------------------------------
PY38 = os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python")


@pytest.mark.skipif(not os.path.exists(PY38), reason="pyenv's Python 3.8.18 is not installed")
def test_runs_on_python38(go_mirror, tmp_path):
    from testbed import config
    gomod = tmp_path / "go.mod"
    gomod.write_text("module x\ngo 1.26.6\n")
    code = (
        "import json, sys\n"
        "from ansible_collections.gofleet.golang.plugins.module_utils import _versions as V\n"
        "idx = json.load(open(sys.argv[1]))\n"
        "print(V.resolve('1.27.x', idx, 'linux', 'arm64')['filename'])\n"
        "print(V.resolve(V.read_version_file(sys.argv[2]), idx, 'linux', 'amd64')['filename'])\n"
        "print(V.parse_constraint('>=1.26,<1.27.3')('go1.27.2'))\n"
        "print(sys.version_info[:2])\n"
    )
    done = subprocess.run([PY38, "-c", code, os.path.join(go_mirror.tree, "index-all.json"), str(gomod)],
                          env=dict(os.environ, PYTHONPATH=config.collections_root()),
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:4] == ["go1.27.3.linux-arm64.tar.gz", "go1.26.6.linux-amd64.tar.gz", "True", "(3, 8)"]
