# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""go_install with `goproxy`: the toolchain as the module golang.org/toolchain through a real Go
module proxy on 127.0.0.1 (and a file:// tree), verified by a real checksum database of our own
(tests/testbed/goproxy.py: signed tree heads, lookups, tiles; real cmd/go accepts it,
tests/integration/testbed/test_goproxy_bed.py) - and against every lie the proxy or the database can
tell (the test bed server's faults): each is refused with what disagreed named, nothing changed.
"""

from __future__ import annotations

import os
import stat
import subprocess
import zipfile

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _goproxy
from ansible_collections.gofleet.golang.plugins.modules import go_install
from testbed import ansible_module, config, goproxy

OLD = config.OLDSTABLE
MODVER = goproxy.toolchain_version(OLD, "linux", "amd64")


@pytest.fixture
def where(tmp_path):
    return dict(install_root=str(tmp_path / "root"), active_link=str(tmp_path / "bin" / "go"))


@pytest.fixture
def db(bed):
    """GOSUMDB with the test bed's key (no URL: reached through the proxy's /sumdb/<name>/supported)."""
    return goproxy.sumdb_vkey()


def _install(bed, where, db, check_mode=False, **args):
    params = dict(where, version=OLD, goproxy=bed.url + "/goproxy", sumdb=db)
    params.update(args)
    return ansible_module.call(go_install.main, params, check_mode=check_mode)


def _h1(tree, modver=MODVER):
    with open(os.path.join(tree, "golang.org", "toolchain", "@v", modver + ".zip"), "rb") as f:
        return _goproxy.hash1_zip(f)


def test_installs_verified_by_the_checksum_database_and_is_idempotent(goproxy_tree, bed, where, db, host_go):
    r = _install(bed, where, db)
    assert r["changed"] and not r.get("failed"), r.get("msg")
    rel = r["release"]
    assert rel["kind"] == "module" and rel["filename"] == MODVER + ".zip" and rel["sources"]["h1"] == "sumdb"
    v = rel["verification"]
    assert v["db"] == config.SUMDB_NAME and v["verified_by"] == "node" and v["tree_size"] > v["record"] >= 0
    assert rel["h1"] == _h1(goproxy_tree) and any(MODVER + " " + rel["h1"] in line for line in v["lines"])
    goroot = r["goroot"]
    out = subprocess.run([os.path.join(goroot, "bin", "go"), "version"], capture_output=True, text=True,
                         env=dict(os.environ, GOROOT=goroot), check=True).stdout
    assert out.startswith("go version go%s linux/amd64" % OLD)
    # the GOROOT is laid out as cmd/go lays out a toolchain it downloaded: go.mod beside each _go.mod,
    # scripts executable (go_toolchain_rebuild runs src/make.bash)
    assert os.path.isfile(os.path.join(goroot, "src", "go.mod")) and os.path.isfile(os.path.join(goroot, "src", "_go.mod"))
    assert os.stat(os.path.join(goroot, "src", "make.bash")).st_mode & 0o777 == 0o755
    assert os.stat(os.path.join(goroot, "src", "go", "types", "api.go")).st_mode & 0o777 == 0o644
    # the newest signed head is remembered, root-only, under the install root's private area
    state = os.path.join(where["install_root"], ".gofleet", "sumdb")
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700 and os.listdir(state)
    # the next run answers from the install record: no request at all
    log_before = len(bed.log())
    again = _install(bed, where, db)
    assert not again["changed"] and again["release"]["sources"]["h1"] == "record" and again["bytes_downloaded"] == 0
    assert len(bed.log()) == log_before


def test_file_proxy_tree_with_the_database_beside_it(goproxy_tree, bed, where, db):
    tree = goproxy_tree
    r = _install(bed, where, "%s file://%s/sumdb/%s" % (db, tree, config.SUMDB_NAME), goproxy="file://" + tree)
    assert r["changed"] and r["release"]["sources"]["h1"] == "sumdb", r


@pytest.mark.parametrize("fault,words", [
    ("zip_tampered", "does not match"),
    ("sumdb_bad_signature", "signature"),
    ("sumdb_other_key", "signed by"),
    ("sumdb_no_line", MODVER),
    ("sumdb_bad_tile", "tile"),
])
def test_each_lie_is_refused_and_nothing_changes(bed, where, db, fault, words):
    bed.fault(fault)
    r = _install(bed, where, db)
    assert r.get("failed") and words in r["msg"], r
    assert "Traceback" not in r["msg"] and not os.path.exists(where["active_link"])
    root = where["install_root"]
    assert not os.path.isdir(root) or not [n for n in os.listdir(root) if n.startswith("go")]


def test_tampered_zip_names_both_hashes(goproxy_tree, bed, where, db):
    bed.fault("zip_tampered")
    r = _install(bed, where, db)
    assert r.get("failed") and _h1(goproxy_tree) in r["msg"] and "checksum database" in r["msg"], r


def test_a_forked_log_is_refused_after_the_real_head_was_seen(bed, where, db):
    assert not _install(bed, where, db).get("failed")  # remembers the real head
    bed.fault("sumdb_fork")
    # a version not installed yet: the database is asked again, and answers from a forked log
    r = _install(bed, where, db, version=config.NEWEST, check_mode=True)
    assert r.get("failed") and "fork" in r["msg"], r.get("msg")


def test_proxy_list_falls_through_as_cmd_go_does(bed, where, db):
    for goproxy_value, ok in (("%s/goproxy404,%s/goproxy", True), ("%s/goproxy410,%s/goproxy", True),
                              ("%s/goproxy500|%s/goproxy", True), ("%s/goproxy500,%s/goproxy", False)):
        r = _install(bed, where, db, goproxy=goproxy_value % (bed.url, bed.url), check_mode=True)
        assert bool(r.get("failed")) != ok, (goproxy_value, r)
        if not ok:
            assert "500" in r["msg"], r


def test_goproxy_off_and_sumdb_off_are_refused(bed, where, db):
    r = _install(bed, where, db, goproxy="off")
    assert r.get("failed") and "off" in r["msg"], r
    r = _install(bed, where, "off")
    assert r.get("failed") and "checksum: h1:" in r["msg"], r


def test_a_pinned_h1_of_another_platform_zip_is_refused_by_the_tree_check(goproxy_tree, bed, where):
    arm = goproxy.toolchain_version(OLD, "linux", "arm64")
    r = _install(bed, where, "off", checksum=_h1(goproxy_tree, arm),
                 src=os.path.join(goproxy_tree, "golang.org", "toolchain", "@v", arm + ".zip"))
    assert r.get("failed") and "linux-arm64" in r["msg"] and arm + ".zip" in r["msg"], r["msg"]


def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as z:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            z.writestr(info, data)
    with open(path, "rb") as f:
        return _goproxy.hash1_zip(f)


@pytest.mark.parametrize("name,mode,words", [
    ("golang.org/toolchain@%s/../../escape" % MODVER, 0o100644, ".."),
    ("golang.org/toolchain@%s/bin/go" % MODVER, 0o120777, "link"),
    ("example.com/other@v1.0.0/VERSION", 0o100644, "golang.org/toolchain@"),
])
def test_hostile_zip_members_land_nowhere_even_with_a_matching_pin(where, tmp_path, name, mode, words):
    prefix = "golang.org/toolchain@%s/" % MODVER
    path = str(tmp_path / (MODVER + ".zip"))
    h1 = _zip(path, [(prefix + "VERSION", b"go%s\n" % OLD.encode(), 0o100644), (name, b"x", mode)])
    r = ansible_module.call(go_install.main, dict(where, src=path, checksum=h1, version=OLD))
    assert r.get("failed") and words in r["msg"], r
    assert not os.path.exists(str(tmp_path / "escape")) and not os.path.exists(where["active_link"])
