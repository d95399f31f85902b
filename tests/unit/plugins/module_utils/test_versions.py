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


import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _versions as V
from ansible_collections.gofleet.golang.plugins.module_utils._versions import VersionError


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
