# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gofleet.golang.go_release lookup, for real: real HTTP (requests) against the local go.dev
mirror (tests/testbed/server.py, real Go archives and their real digests) and its fault switches.

The lookup runs in a child Python that loads it through ansible-core's plugin loader, as a play
would, so that this test process's imports stay untouched; the EXAMPLES run through
ansible-playbook on localhost. Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from testbed import config, goproxy

RUNNER = r"""
import json, sys
from ansible.plugins.loader import init_plugin_loader, lookup_loader
from ansible.parsing.dataloader import DataLoader
init_plugin_loader([sys.argv[1]])
args = json.loads(sys.argv[2])
lookup = lookup_loader.get("gofleet.golang.go_release", loader=DataLoader(), templar=None)
try:
    print(json.dumps({"ok": lookup.run(args["terms"], variables={}, **args["options"])}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "msg": str(e)}))
"""


def lookup(terms, **options):
    """Run the lookup in a child process: its result list, or raise LookupFailed(message)."""
    done = subprocess.run([sys.executable, "-c", RUNNER, config.collections_root(),
                           json.dumps({"terms": terms, "options": options})],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if "error" in out:
        raise LookupFailed(out["msg"])
    return out["ok"]


class LookupFailed(Exception):
    pass


def published(go_mirror, filename):
    return next(f for r in go_mirror.index() for f in r["files"] if f["filename"] == filename)


# ---- resolution -------------------------------------------------------------------------------
def test_resolves_lines_stable_oldstable(go_mirror):
    got = lookup(["1.27.x", "stable", "oldstable", "1.27.2"], base_url=go_mirror.url, os="linux", arch="amd64")
    assert [r["version"] for r in got] == ["1.27.3", "1.27.3", "1.26.6", "1.27.2"]
    first = got[0]
    real = published(go_mirror, "go1.27.3.linux-amd64.tar.gz")
    assert first["filename"] == "go1.27.3.linux-amd64.tar.gz"
    assert first["url"] == go_mirror.url + "/dl/go1.27.3.linux-amd64.tar.gz"
    assert (first["sha256"], first["size"], first["source"]) == (real["sha256"], real["size"], "index")
    # one index fetch for all four terms, and the one that lists every release
    paths = [e["path"] for e in go_mirror.log()]
    assert paths == ["/dl/?mode=json&include=all"]


def test_arm64_oldstable_and_platform_missing(go_mirror):
    assert lookup(["oldstable"], base_url=go_mirror.url, os="linux", arch="arm64")[0]["filename"] == \
        "go1.26.6.linux-arm64.tar.gz"
    with pytest.raises(LookupFailed) as e:
        lookup(["1.27.2"], base_url=go_mirror.url, os="linux", arch="arm64")
    assert "go1.27.2 is not published for linux-arm64; it is published for: linux-amd64" in str(e.value)


def test_unknown_version_names_nearest(go_mirror):
    with pytest.raises(LookupFailed) as e:
        lookup(["1.27.9"], base_url=go_mirror.url, os="linux", arch="amd64")
    assert "go1.27.9 is not published; nearest published versions: go1.27.3, go1.27.2, go1.26.6" in str(e.value)


def test_defaults_to_the_controllers_platform(go_mirror):
    machine = os.uname().machine
    rel = lookup(["stable"], base_url=go_mirror.url)[0]
    assert (rel["os"], rel["arch"]) == ("linux", {"x86_64": "amd64", "aarch64": "arm64"}[machine])


def test_version_file_on_the_controller(go_mirror, tmp_path):
    gomod = tmp_path / "go.mod"
    gomod.write_text("module example.com/x\n\ngo 1.26.0\n\ntoolchain go1.27.2\n")
    assert lookup([], version_file=str(gomod), base_url=go_mirror.url, os="linux", arch="amd64")[0]["version"] == "1.27.2"
    assert lookup([], version_file=str(gomod), newest_patch=True, base_url=go_mirror.url, os="linux",
                  arch="amd64")[0]["version"] == "1.27.3"


# ---- faults -----------------------------------------------------------------------------------
def test_http500_once_is_retried(go_mirror):
    go_mirror.fault("http500", count=1)
    rel = lookup(["1.27.3"], base_url=go_mirror.url, os="linux", arch="arm64", check_file=True)[0]
    assert rel["size"] == published(go_mirror, "go1.27.3.linux-arm64.tar.gz")["size"]
    statuses = [(e["method"], e["status"]) for e in go_mirror.log() if "/dl/go1" in e["path"]]
    assert statuses == [("GET", 500), ("GET", 302)]  # the size check reads headers only, retried like the rest


def test_http500_for_good_fails_clearly(go_mirror):
    go_mirror.fault("http500")
    with pytest.raises(LookupFailed) as e:
        lookup(["1.27.3"], base_url=go_mirror.url, os="linux", arch="amd64", use_index=False, retries=1)
    assert "go1.27.3.linux-amd64.tar.gz.sha256: HTTP 500" in str(e.value) and "gave up after 2 attempts" in str(e.value)
    assert len([e for e in go_mirror.log() if e["status"] == 500]) == 2


def test_bad_digest_is_passed_through_visibly(go_mirror):
    """The lookup reports what the mirror publishes; go_install is what refuses a mismatch."""
    go_mirror.fault("bad_digest", count=1)
    rel = lookup(["1.27.x"], base_url=go_mirror.url, os="linux", arch="amd64")[0]
    assert rel["sha256"] == "0" * 64 != published(go_mirror, rel["filename"])["sha256"]


@pytest.mark.parametrize("options", [dict(use_index=False), dict(check_file=True)])
def test_redirect_loop_is_a_clear_error(go_mirror, options):
    go_mirror.fault("redirect_loop")
    with pytest.raises(LookupFailed) as e:
        lookup(["1.27.3"], base_url=go_mirror.url, os="linux", arch="amd64", **options)
    assert re.search(r"/dl/go1\.27\.3\.linux-amd64\.tar\.gz(\.sha256)?: redirect loop or more than 10 redirects",
                     str(e.value)), str(e.value)


def test_unreachable_base_url(tmp_path):
    with pytest.raises(LookupFailed) as e:
        lookup(["stable"], base_url="http://127.0.0.1:9", os="linux", arch="amd64", retries=0, timeout=5)
    assert "http://127.0.0.1:9/dl/?mode=json&include=all: " in str(e.value) and "Connection refused" in str(e.value)
    assert "gave up after 1 attempts" in str(e.value)


# ---- sidecar-only mirrors ---------------------------------------------------------------------
def test_sidecar_mode_exact_only(go_mirror):
    rel = lookup(["go1.26.6"], base_url=go_mirror.url, os="linux", arch="arm64", use_index=False)[0]
    assert rel["source"] == "sidecar" and rel["size"] is None
    assert rel["sha256"] == published(go_mirror, "go1.26.6.linux-arm64.tar.gz")["sha256"]
    with pytest.raises(LookupFailed) as e:
        lookup(["1.27.x"], base_url=go_mirror.url, os="linux", arch="amd64", use_index=False)
    assert "only exact versions resolve through .sha256 sidecars" in str(e.value)
    with pytest.raises(LookupFailed) as e:
        lookup(["1.27.2"], base_url=go_mirror.url, os="linux", arch="arm64", use_index=False)
    assert "go1.27.2.linux-arm64.tar.gz is not published at" in str(e.value)


def test_mirror_without_index_falls_back_to_sidecars(go_mirror, sidecar_only_mirror):
    rel = lookup(["1.27.3"], base_url=sidecar_only_mirror, os="linux", arch="amd64")[0]
    assert rel["sha256"] == published(go_mirror, "go1.27.3.linux-amd64.tar.gz")["sha256"]
    assert rel["url"] == sidecar_only_mirror + "/dl/go1.27.3.linux-amd64.tar.gz"
    with pytest.raises(LookupFailed) as e:
        lookup(["stable"], base_url=sidecar_only_mirror, os="linux", arch="amd64")
    assert "%s has no JSON index" % sidecar_only_mirror in str(e.value)
    assert "only exact versions resolve" in str(e.value)


# ---- documentation ----------------------------------------------------------------------------
def _plugin_doc(name):
    path = os.path.join(config.REPO, "plugins", "lookup", "go_release.py")
    with open(path) as f:
        src = f.read()
    return re.search(r'^%s = r"""\n(.*?)^"""' % name, src, re.S | re.M).group(1)


def test_examples_run_for_real(go_mirror, tmp_path):
    """Every EXAMPLES task runs through ansible-playbook against the mirror (its URL put in place of
    go.dev's and of the example mirror's, /var/tmp/ replaced by a temporary folder)."""
    text = _plugin_doc("EXAMPLES")
    for url in ("https://go.dev", "https://go-mirror.example.com"):
        text = text.replace(url, go_mirror.url)
    text = text.replace("/var/tmp/", str(tmp_path) + "/")
    # the module proxy and its checksum database: the test bed's (same server, its own database key)
    text = text.replace("https://proxy.golang.org", go_mirror.url + "/goproxy")
    text = text.replace("sumdb='sum.golang.org'", "sumdb='%s'" % goproxy.sumdb_vkey())
    tasks = yaml.safe_load(text)
    for task in tasks:
        task.pop("delegate_to", None)  # the play already runs on localhost (the example's ca_path is unused: plain HTTP)
        if "gofleet.golang.go_install" in task:  # installs into the temporary folder, not this machine's /usr/local
            task["gofleet.golang.go_install"].update(install_root=str(tmp_path / "go-root"),
                                                     active_link=str(tmp_path / "go"))
    (tmp_path / "go.mod").write_text("module example.com/x\n\ngo 1.26\n\ntoolchain go1.26.6\n")
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(os.environ, GOFLEET_GO_BASE_URL=go_mirror.url, ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               GOFLEET_SUMDB_STATE_DIR=str(tmp_path / "sumdb"))
    done = subprocess.run(["ansible-playbook", "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
                           str(tmp_path / "play.yml")], cwd=str(tmp_path),
                          env=env, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    # the module example verified the h1 on the controller and installed the zip pinned to it
    zip_name = goproxy.toolchain_version("1.27.3", "linux", "amd64") + ".zip"
    assert any(e["path"].endswith("/golang.org/toolchain/@v/" + zip_name) for e in go_mirror.log())
    assert (tmp_path / "go" / "bin" / "go").is_file() and os.listdir(str(tmp_path / "sumdb"))
    assert "failed=0" in done.stdout and "ignored=0" in done.stdout
    assert "skipping" not in done.stdout, done.stdout
    assert "go1.27.3.linux-arm64.tar.gz" in done.stdout and "go1.26.6.linux-amd64.tar.gz" in done.stdout
    assert (tmp_path / "go1.27.3.linux-amd64.tar.gz").stat().st_size == \
        published(go_mirror, "go1.27.3.linux-amd64.tar.gz")["size"]


def test_ansible_doc_renders():
    done = subprocess.run(["ansible-doc", "-t", "lookup", "gofleet.golang.go_release"], capture_output=True,
                          text=True, check=False, timeout=120, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert done.returncode == 0, done.stderr
    assert "include_unstable" in done.stdout and "EXAMPLES" in done.stdout and "RETURN VALUES" in done.stdout
    assert "[WARNING]" not in done.stderr, done.stderr


# ---- the module proxy, verified on the controller -----------------------------------------------
def test_goproxy_resolves_and_verifies_on_the_controller(go_mirror, tmp_path):
    from testbed import goproxy  # pylint: disable=import-outside-toplevel
    state = tmp_path / "sumdb"
    got = lookup(["1.26.x", "stable"], goproxy=go_mirror.url + "/goproxy", sumdb=goproxy.sumdb_vkey(),
                 sumdb_state_dir=str(state), os="linux", arch="arm64")
    assert [r["version"] for r in got] == [config.OLDSTABLE, config.NEWEST]
    for r in got:
        modver = goproxy.toolchain_version(r["version"], "linux", "arm64")
        assert r["kind"] == "module" and r["module_version"] == modver and r["source"] == "sumdb"
        assert r["url"] == go_mirror.url + "/goproxy/golang.org/toolchain/@v/%s.zip" % modver
        assert r["verification"]["verified_by"] == "controller" and r["h1"].startswith("h1:")
        assert "golang.org/toolchain %s %s" % (modver, r["h1"]) in r["verification"]["lines"]
    assert oct(state.stat().st_mode & 0o777) == "0o700" and "latest-" + goproxy.keys()["name"] in os.listdir(state)


def test_goproxy_lookup_refuses_a_fork_it_can_see(go_mirror, tmp_path):
    from testbed import goproxy  # pylint: disable=import-outside-toplevel
    opts = dict(goproxy=go_mirror.url + "/goproxy", sumdb=goproxy.sumdb_vkey(), sumdb_state_dir=str(tmp_path),
                os="linux", arch="amd64")
    lookup([config.OLDSTABLE], **opts)
    go_mirror.fault("sumdb_fork")
    with pytest.raises(LookupFailed, match="fork"):
        lookup([config.OLDSTABLE], **opts)


def test_goproxy_lookup_refuses_sumdb_off(go_mirror, tmp_path):
    with pytest.raises(LookupFailed, match="checksum"):
        lookup(["stable"], goproxy=go_mirror.url + "/goproxy", sumdb="off", sumdb_state_dir=str(tmp_path),
               os="linux", arch="amd64")
