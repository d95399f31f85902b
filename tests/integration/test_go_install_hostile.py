# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""go_install against what it must not trust, for real: another local user who can reach the `src`
archive, inputs that used to end in a traceback, and the one-direction install path (a no-op reads
bin/go once, check mode reports pruning, `keep` never removes what the run was asked for).

The `src` attack is the fleet-mode one: the archive reaches the node at a path another user can
write (or owns: `copy` keeps the owner of a file already there). That user waits until go_install
has hashed the archive, then puts a hostile archive in its place: a tree whose bin/go is a real Go
program (linux/amd64, so every header check passes) that writes a marker and prints the expected
`go version` line. gofleet runs `bin/go version` as root on a staged tree, so a marker owned by
root is code execution as root."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import time

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.gofleet.golang.plugins.module_utils import _binary
from ansible_collections.gofleet.golang.plugins.modules import go_install
from testbed import ansible_module, config

OLD = config.OLDSTABLE
EVIL_GO = r"""package main

import (
    "fmt"
    "os"
)

func main() {
    os.WriteFile(os.Getenv("GOFLEET_TEST_MARKER_DIR")+"/ran-as-"+fmt.Sprint(os.Geteuid()), nil, 0o644)
    fmt.Println("go version go%s linux/amd64")
}
"""


@pytest.fixture
def where(tmp_path):
    return dict(install_root=str(tmp_path / "root"), active_link=str(tmp_path / "bin" / "go"))


def _published(go_mirror, name):
    return {f["filename"]: f for rel in go_mirror.index() for f in rel["files"]}[name]


@pytest.fixture(scope="module")
def hostile_archive(host_go, tmp_path_factory):
    """go<OLD>.linux-amd64.tar.gz's shape, but bin/go is a program of the attacker's."""
    work = tmp_path_factory.mktemp("evil")
    (work / "main.go").write_text(EVIL_GO % OLD)
    env = dict(os.environ, GOCACHE=config.GOCACHE, GOOS="linux", GOARCH="amd64", CGO_ENABLED="0", GO111MODULE="off")
    subprocess.run([host_go, "build", "-o", str(work / "go"), str(work / "main.go")], check=True, env=env)
    path = str(work / "hostile.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for name, data, mode in (("go/VERSION", ("go%s\ntime 2026-01-01T00:00:00Z\n" % OLD).encode(), 0o644),
                                 ("go/bin/go", (work / "go").read_bytes(), 0o755)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        for folder in ("go/pkg", "go/pkg/tool", "go/pkg/tool/linux_amd64"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
    return path


@pytest.mark.parametrize("how", ["the owner rewrites it in place", "a writer of its folder renames another over it"])
def test_src_swapped_after_hashing_neither_runs_nor_lands(go_mirror, where, second_user, hostile_archive, tmp_path, how):
    name = "go%s.linux-amd64.tar.gz" % OLD
    good = os.path.join(go_mirror.tree, name)
    drop = os.path.join(second_user.home, "drop")  # a folder the other user owns (fleet mode's /var/tmp)
    os.mkdir(drop)
    os.chown(drop, second_user.uid, second_user.gid)
    src = os.path.join(drop, name)
    shutil.copy(good, src)
    evil = os.path.join(drop, ".next")  # the user's own copy of the hostile archive
    shutil.copy(hostile_archive, evil)
    os.chown(evil, second_user.uid, second_user.gid)
    if how.startswith("the owner"):
        os.chown(src, second_user.uid, second_user.gid)  # pre-planted: `copy` kept the owner
        swap = "cat %s > %s" % (evil, src)
    else:
        os.chmod(src, 0o600)  # root's own file, but in a folder the user can write
        swap = "mv -f %s %s" % (evil, src)
    markers = tmp_path / "markers"
    markers.mkdir(mode=0o777)
    os.chmod(markers, 0o777)
    paused = str(tmp_path / "paused")
    proc = ansible_module.start("go_install", dict(src=src, checksum=_published(go_mirror, name)["sha256"], **where),
                                env=dict(_GOFLEET_PAUSE_AT="after_hash", _GOFLEET_PAUSE_MARKER=paused,
                                         _GOFLEET_PAUSE_SECONDS="3", GOFLEET_TEST_MARKER_DIR=str(markers)))
    deadline = time.time() + 120
    while not os.path.exists(paused) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.exists(paused), "go_install never reached the point after hashing"
    second_user.run(swap)  # the attack, as that user
    r = ansible_module.finish(proc)
    assert os.listdir(markers) == [], "the hostile bin/go ran: %s" % os.listdir(markers)
    assert r["rc"] == 0 and r["changed"] and r["version"] == OLD, r
    goroot = os.path.join(where["install_root"], "go" + OLD)
    info = _binary.inspect(os.path.join(goroot, "bin", "go"))
    assert info["go_version"] == "go" + OLD and os.path.isdir(os.path.join(goroot, "src", "runtime"))
    assert r["sha256"] == _published(go_mirror, name)["sha256"]


def test_src_with_a_version_spec_that_is_not_exact_is_a_clear_error(go_mirror, where):
    """Tried as a new user would: src and version 1.27.x ended in a traceback."""
    src = os.path.join(go_mirror.tree, "go%s.linux-amd64.tar.gz" % OLD)
    r = ansible_module.run("go_install", dict(src=src, checksum="a" * 64, version="1.27.x", **where))
    assert r["rc"] == 1 and r.get("failed") and "is not an exact version" in r["msg"], r
    assert "Traceback" not in r.get("module_stderr", "") and not os.path.exists(where["install_root"])


def test_a_noop_run_parses_bin_go_once(go_mirror, where, monkeypatch):
    assert ansible_module.call(go_install.main, dict(base_url=go_mirror.url, version=OLD, **where))["changed"]
    calls = []
    real = _binary.inspect

    def counting(path, *args, **kw):  # the real reader, counted
        calls.append(path)
        return real(path, *args, **kw)
    monkeypatch.setattr(_binary, "inspect", counting)
    r = ansible_module.call(go_install.main, dict(base_url=go_mirror.url, version=OLD, keep=2, **where))
    assert not r["changed"] and r["plan"] == dict(install=False, switch=False, prune=[]), r
    assert calls == [os.path.join(where["install_root"], "go" + OLD, "bin", "go")]


def test_keep_never_removes_what_the_run_installed_and_check_mode_reports_pruning(go_mirror, where):
    args = dict(base_url=go_mirror.url, **where)
    assert ansible_module.call(go_install.main, dict(args, version=config.NEWEST))["changed"]
    # keep: 1 with activate: false used to delete the version this same run had just installed
    r = ansible_module.call(go_install.main, dict(args, version=OLD, activate=False, keep=1))
    assert r["changed"] and r["installed_versions"] == [OLD, config.NEWEST] and r["removed_versions"] == [], r
    # check mode says what keep would remove, and removes nothing
    r = ansible_module.call(go_install.main, dict(args, version=config.NEWEST, keep=1), check_mode=True)
    assert r["changed"] and r["plan"]["prune"] == [OLD] and r["removed_versions"] == [OLD], r
    assert r["installed_versions"] == [config.NEWEST]
    assert sorted(os.listdir(where["install_root"])) == [".gofleet", "go" + OLD, "go" + config.NEWEST]
    r = ansible_module.call(go_install.main, dict(args, version=config.NEWEST, keep=1))
    assert r["changed"] and r["removed_versions"] == [OLD] and r["installed_versions"] == [config.NEWEST]


def test_credentials_in_base_url_are_never_returned_or_recorded(go_mirror, where):
    host = go_mirror.url.split("//", 1)[1]
    r = ansible_module.call(go_install.main, dict(base_url="http://gofer:s3cret@%s" % host, version=OLD, **where))
    assert r["changed"] and not r.get("failed"), r.get("msg")
    record = os.path.join(where["install_root"], ".gofleet", "go%s.json" % OLD)
    with open(record) as f:
        text = f.read()
    assert "s3cret" not in text and "s3cret" not in str(r), (text, r)
    assert any("plain http://" in w for w in r.get("warnings", [])), r.get("warnings")


def test_a_pinned_checksum_needs_no_index_and_gives_no_transport_warning(go_mirror, where):
    digest = _published(go_mirror, "go%s.linux-amd64.tar.gz" % OLD)["sha256"]
    r = ansible_module.call(go_install.main, dict(base_url=go_mirror.url, version=OLD, checksum=digest, **where),
                            check_mode=True)
    assert r["changed"] and r["plan"]["install"] and not r.get("warnings"), r
    assert go_mirror.log() == []  # not even the index was asked for


@settings(max_examples=40, deadline=None)
@given(version=st.text(max_size=30), keep=st.integers(min_value=-2, max_value=3),
       state=st.sampled_from(["present", "absent"]))
def test_no_version_spec_ever_gives_a_traceback(tmp_path_factory, version, keep, state):
    where = tmp_path_factory.mktemp("fuzz")
    r = ansible_module.call(go_install.main, dict(version=version, keep=keep, state=state, retries=0, timeout=2,
                                                  base_url="http://127.0.0.1:9", install_root=str(where / "root"),
                                                  active_link=str(where / "go")), check_mode=True)
    assert r.get("failed") or "version" in r, r
    if r.get("failed"):
        assert r["msg"] and "Traceback" not in r["msg"]


def test_a_version_file_linked_to_a_secret_shows_nothing_of_it(go_mirror, where, second_user, tmp_path):
    """Another user's project checkout: its .go-version is a link to a root-only file, or a FIFO."""
    secret = tmp_path / "secret"
    secret.write_text("root-only-secret-line\n")
    os.chmod(secret, 0o600)
    project = os.path.join(second_user.home, "project")
    second_user.run("mkdir %s && ln -s %s %s/.go-version && mkfifo %s/go.mod" % (project, secret, project, project))
    r = ansible_module.call(go_install.main, dict(base_url=go_mirror.url, version_file=project + "/.go-version", **where))
    assert r.get("failed") and "symbolic link" in r["msg"] and "root-only-secret-line" not in str(r), r
    started = time.time()
    r = ansible_module.call(go_install.main, dict(base_url=go_mirror.url, version_file=project + "/go.mod", **where))
    assert r.get("failed") and "not a regular file" in r["msg"] and time.time() - started < 30, r
    assert not os.path.exists(where["install_root"])


@pytest.mark.parametrize("option", ["install_root", "active_link"])
def test_paths_with_control_characters_are_refused(go_mirror, where, option):
    bad = dict(where, **{option: where[option] + "\nexport GOFLAGS=-toolexec=/tmp/x"})
    r = ansible_module.call(go_install.main, dict(base_url=go_mirror.url, version=OLD, **bad))
    assert r.get("failed") and "control character" in r["msg"] and option in r["msg"], r
    assert not os.path.exists(where["install_root"]) and not os.path.exists(bad["install_root"])
