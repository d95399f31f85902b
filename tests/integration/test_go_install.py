# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""go_install for real: the local go.dev mirror, real archives, temporary install roots on this
machine. Every changing call is run twice and the second asserted unchanged."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _layout
from ansible_collections.gofleet.golang.plugins.modules import go_install
from testbed import ansible_module, config
from testbed.trees import linked_copy, replace_file, tree_digest

NEW, OLD, OLDER_PATCH = config.NEWEST, config.OLDSTABLE, "1.27.2"


@pytest.fixture
def where(tmp_path):
    return dict(install_root=str(tmp_path / "root"), active_link=str(tmp_path / "bin" / "go"))


def install(go_mirror, where, check_mode=False, diff=False, **args):
    return ansible_module.call(go_install.main, dict(base_url=go_mirror.url, retries=1, timeout=5, **where, **args),
                               check_mode=check_mode, diff=diff)


def go_version(link):
    return subprocess.run([os.path.join(link, "bin", "go"), "version"], capture_output=True, text=True,
                          check=True, env=dict(os.environ, GOROOT="")).stdout.strip()


def archive_gets(go_mirror):
    return [e for e in go_mirror.log() if e["path"].startswith("/go/") and e["path"].endswith(".tar.gz")]


def leftovers(where):
    root = where["install_root"]
    meta = os.path.join(root, _layout.META)
    return ([n for n in os.listdir(root) if n.startswith((".stage-", ".download-", ".trash-"))] if os.path.isdir(root)
            else []) + ([n for n in os.listdir(meta) if n.startswith("private-")] if os.path.isdir(meta) else [])


def test_install_upgrade_switch_prune_remove(go_mirror, where):
    r = install(go_mirror, where, version="1.27.x", diff=True)
    assert r["changed"] and not r.get("failed"), r
    assert (r["version"], r["os"], r["arch"], r["active_version"]) == (NEW, "linux", "amd64", NEW)
    assert r["diff"]["before"].startswith("active: none") and r["diff"]["after"].startswith("active: go" + NEW)
    assert go_version(where["active_link"]) == "go version go%s linux/amd64" % NEW
    assert r["bytes_downloaded"] > 50 << 20 and len(archive_gets(go_mirror)) == 1
    published = {f["filename"]: f["sha256"] for rel in go_mirror.index() for f in rel["files"]}
    assert r["sha256"] == published["go%s.linux-amd64.tar.gz" % NEW]

    again = install(go_mirror, where, version="1.27.x")
    assert not again["changed"] and len(archive_gets(go_mirror)) == 1  # no second download

    # a second version side by side, not activated
    r = install(go_mirror, where, version="oldstable", activate=False)
    assert r["changed"] and r["version"] == OLD and r["active_version"] == NEW
    assert r["installed_versions"] == [OLD, NEW]
    assert not install(go_mirror, where, version="oldstable", activate=False)["changed"]

    # switch to it (no download), then back
    gets = len(archive_gets(go_mirror))
    r = install(go_mirror, where, version=OLD)
    assert r["changed"] and r["previous_version"] == NEW and r["active_version"] == OLD
    assert go_version(where["active_link"]).startswith("go version go%s " % OLD)
    assert not install(go_mirror, where, version=OLD)["changed"]
    r = install(go_mirror, where, version="stable")
    assert r["changed"] and r["active_version"] == NEW and len(archive_gets(go_mirror)) == gets

    # prune: keep one (the active one)
    r = install(go_mirror, where, version="stable", keep=1)
    assert r["changed"] and r["removed_versions"] == [OLD] and r["installed_versions"] == [NEW]
    assert not install(go_mirror, where, version="stable", keep=1)["changed"]

    # removing the active version needs force
    r = install(go_mirror, where, version=NEW, state="absent")
    assert r.get("failed") and "active version" in r["msg"]
    assert go_version(where["active_link"]) == "go version go%s linux/amd64" % NEW
    r = install(go_mirror, where, version=NEW, state="absent", force=True)
    assert r["changed"] and r["installed_versions"] == [] and not os.path.lexists(where["active_link"])
    assert not install(go_mirror, where, version=NEW, state="absent", force=True)["changed"]
    assert leftovers(where) == []


def test_installed_exact_version_needs_no_network(go_mirror, where):
    """An exact version installed from a verified archive answers from its record: a no-op run works
    with no server at all (offline), and so does pruning another version; a line spec (1.27.x)
    still needs the index, and says it could not get it."""
    assert install(go_mirror, where, version=NEW)["changed"]
    assert install(go_mirror, where, version=OLD, activate=False)["changed"]
    offline = dict(where, base_url="http://127.0.0.1:9", retries=0, timeout=3)  # nothing listens on port 9
    r = ansible_module.call(go_install.main, dict(offline, version=NEW))
    assert not r.get("failed") and not r["changed"] and r["version"] == NEW and r["bytes_downloaded"] == 0, r
    assert r["sha256"] and r["url"].endswith("go%s.linux-amd64.tar.gz" % NEW)
    r = ansible_module.call(go_install.main, dict(offline, version="go" + NEW, checksum="sha256:" + r["sha256"],
                                                  keep=1))
    assert not r.get("failed") and r["changed"] and r["removed_versions"] == [OLD], r
    r = ansible_module.call(go_install.main, dict(offline, version="1.27.x"))
    assert r.get("failed") and "127.0.0.1:9" in r["msg"], r


def test_check_mode_downloads_nothing_and_tells_what_would_happen(go_mirror, where):
    r = install(go_mirror, where, version="1.26", check_mode=True, diff=True)
    assert r["changed"] and r["version"] == OLD
    assert r["url"] == go_mirror.url + "/dl/go%s.linux-amd64.tar.gz" % OLD and len(r["sha256"]) == 64
    assert r["diff"]["after"].startswith("active: go" + OLD)
    assert archive_gets(go_mirror) == [] and not os.path.exists(where["install_root"])
    assert not os.path.lexists(where["active_link"])


def test_unknown_version_names_nearest(go_mirror, where):
    r = install(go_mirror, where, version="1.27.9")
    assert r.get("failed") and "1.27.3" in r["msg"], r["msg"]
    assert not os.path.exists(where["install_root"])


def test_arch_not_published_lists_what_is(go_mirror, where):
    r = install(go_mirror, where, version=OLDER_PATCH, arch="arm64")
    assert r.get("failed") and "linux-amd64" in r["msg"].replace("linux/amd64", "linux-amd64"), r["msg"]


@pytest.fixture(scope="module")
def installed_old(mirror_server, tmp_path_factory):
    """An install root where go_install installed 1.26.6, once for the module (an extraction of 70 MB
    per test was most of these tests' time); `active_old` gives each test a hard-linked copy."""
    base = tmp_path_factory.mktemp("installed-old")
    origin = dict(install_root=str(base / "root"), active_link=str(base / "bin" / "go"))
    r = install(mirror_server, origin, version=OLD)
    assert r["changed"] and not r.get("failed"), r
    mirror_server.reset()
    assert os.readlink(origin["active_link"]) == os.path.join(origin["install_root"], "go" + OLD)  # copied as such
    digest = tree_digest(origin["install_root"])
    yield origin
    assert tree_digest(origin["install_root"]) == digest  # no test wrote through a hard link


@pytest.fixture
def active_old(installed_old, where):
    """A working previously active Go (1.26.6) that every failure must leave intact: a copy of
    `installed_old` made of hard links (go_install renames and removes, it never rewrites a file of
    an installed tree), its active link pointing into the copy."""
    linked_copy(installed_old["install_root"], where["install_root"])
    lock = os.path.join(where["install_root"], _layout.META, _layout.LOCK)
    replace_file(lock, "")  # a lock of its own (flock is per file)
    os.chmod(lock, 0o600)
    os.makedirs(os.path.dirname(where["active_link"]))
    os.symlink(os.path.join(where["install_root"], "go" + OLD), where["active_link"])
    return go_version(where["active_link"])


def _intact(where, before):
    assert go_version(where["active_link"]) == before
    assert leftovers(where) == []
    assert sorted(os.listdir(where["install_root"])) == [".gofleet", "go" + OLD]


def test_digest_mismatch_names_both_and_changes_nothing(go_mirror, where, active_old):
    go_mirror.fault("bad_digest")
    r = install(go_mirror, where, version=NEW)
    assert r.get("failed")
    published = {f["filename"]: f["sha256"] for rel in go_mirror.index() for f in rel["files"]}
    assert published["go%s.linux-amd64.tar.gz" % NEW] in r["msg"] and "0" * 64 in r["msg"]
    _intact(where, active_old)


@pytest.mark.parametrize("fault,words", [
    ("http500", "HTTP 500"), ("http404", "HTTP 404"), ("truncate", "connection closed after"),
    ("stall", "timeout"), ("redirect_loop", "redirect")])
def test_download_faults_fail_cleanly(go_mirror, where, active_old, fault, words):
    # the index is fetched first: the fault is switched on for the archive only
    rel = install(go_mirror, where, version=NEW, check_mode=True)
    assert rel["changed"]
    go_mirror.fault(fault, seconds=8)
    r = ansible_module.call(go_install.main, dict(base_url=go_mirror.url, retries=1, timeout=2, version=NEW,
                                                  checksum=rel["sha256"], **where))
    assert r.get("failed") and words in r["msg"], r["msg"]
    _intact(where, active_old)


def test_mislabeled_archive_is_refused_after_arch_check(go_mirror, where, active_old, tmp_path):
    """An arm64 distribution under an amd64 name (a mislabeled mirror), with a matching digest."""
    fake = tmp_path / ("go%s.linux-amd64.tar.gz" % NEW)
    shutil.copy(os.path.join(go_mirror.tree, "go%s.linux-arm64.tar.gz" % NEW), fake)
    digest = {f["filename"]: f["sha256"] for rel in go_mirror.index() for f in rel["files"]}[
        "go%s.linux-arm64.tar.gz" % NEW]
    r = install(go_mirror, where, src=str(fake), checksum=digest, version=NEW)
    assert r.get("failed") and "linux/arm64, not linux/amd64" in r["msg"], r["msg"]
    _intact(where, active_old)


def test_src_install_is_verified_and_idempotent(go_mirror, where, tmp_path):
    src = os.path.join(go_mirror.tree, "go%s.linux-amd64.tar.gz" % OLD)
    digest = open(src + ".sha256").read().strip()
    r = install(go_mirror, where, src=src, checksum="sha256:" + "f" * 64)
    assert r.get("failed") and digest in r["msg"] and "f" * 64 in r["msg"]
    r = install(go_mirror, where, src=src, checksum=digest)
    assert r["changed"] and r["version"] == OLD and r["url"] is None
    assert not install(go_mirror, where, src=src, checksum=digest)["changed"]
    assert go_mirror.log() == []  # air-gapped: the mirror was never asked
    r = install(go_mirror, where, src=src)
    assert r.get("failed") and "checksum" in r["msg"]


def test_version_file_go_mod(go_mirror, where, tmp_path):
    gomod = tmp_path / "go.mod"
    gomod.write_text("module example.com/app\n\ngo 1.26.0\n\ntoolchain go%s\n" % OLD)
    r = install(go_mirror, where, version_file=str(gomod))
    assert r["changed"] and r["version"] == OLD
    assert not install(go_mirror, where, version_file=str(gomod))["changed"]


def test_damaged_version_is_reinstalled_with_a_warning(go_mirror, where):
    assert install(go_mirror, where, version=OLD)["changed"]
    goroot = os.path.join(where["install_root"], "go" + OLD)
    os.unlink(os.path.join(goroot, "bin", "go"))
    r = install(go_mirror, where, version=OLD)
    assert r["changed"] and any("damaged" in w for w in r.get("warnings", [])), r
    assert go_version(where["active_link"]).startswith("go version go" + OLD)


def test_disk_full_fails_cleanly(go_mirror, tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mnt)], check=True)
    try:
        where = dict(install_root=str(mnt / "root"), active_link=str(tmp_path / "go"))
        r = install(go_mirror, where, version=NEW)
        assert r.get("failed") and "not enough free space" in r["msg"], r["msg"]
        assert leftovers(where) == [] and not os.path.lexists(where["active_link"])
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_two_runs_at_once_both_succeed_one_installs(go_mirror, where):
    procs = [ansible_module.start("go_install", dict(base_url=go_mirror.url, version=OLD, **where))
             for _run in range(2)]
    results = [ansible_module.finish(p) for p in procs]
    assert all(r["rc"] == 0 for r in results), results
    assert sorted(r["changed"] for r in results) == [False, True]
    assert len(archive_gets(go_mirror)) == 1


def _wait_for(predicate, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("moment", ["download", "extraction", "before_switch"])
def test_kill_9_leaves_previous_go_working_and_rerun_completes(go_mirror, where, active_old, moment, tmp_path):
    args = dict(base_url=go_mirror.url, version=NEW, **where)
    env = {}
    root = where["install_root"]
    marker = str(tmp_path / "paused")

    def ready():
        if moment == "download":  # downloads go to a root-only folder of the layout's (.gofleet/private-*)
            meta = os.path.join(root, _layout.META)
            return os.path.isdir(meta) and any(n.startswith(".download-") for d in os.listdir(meta)
                                               if d.startswith("private-") for n in os.listdir(os.path.join(meta, d)))
        if moment == "extraction":
            return any(n.startswith(".stage-") and os.path.isdir(os.path.join(root, n, "go", "src"))
                       for n in os.listdir(root))
        return os.path.exists(marker)

    if moment == "download":
        go_mirror.fault("stall", count=1, seconds=30)
    elif moment == "before_switch":
        env = dict(_GOFLEET_PAUSE_AT="before_switch", _GOFLEET_PAUSE_MARKER=marker)
    proc = ansible_module.start("go_install", args, env=env)
    assert _wait_for(ready), "the module never reached %s" % moment
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert go_version(where["active_link"]) == active_old  # the previous Go still works
    go_mirror.reset()
    r = ansible_module.run("go_install", args)
    assert r["rc"] == 0 and r["changed"] and r["active_version"] == NEW, r
    assert go_version(where["active_link"]).startswith("go version go" + NEW)
    assert leftovers(where) == []


# ---- real hosts: the test bed's Debian containers, amd64 and arm64 (qemu-user) -------------------
def _podman_exec(host, *cmd):
    return subprocess.run(["podman", "exec", host] + list(cmd), capture_output=True, text=True, check=False,
                          timeout=600)


def _container_play(tmp_path, hosts, tasks, name="play", **play):
    import yaml  # pylint: disable=import-outside-toplevel
    from testbed import hosts as bed_hosts  # pylint: disable=import-outside-toplevel
    path = tmp_path / ("%s.yml" % name)
    path.write_text(yaml.safe_dump([dict(dict(hosts="all", gather_facts=False, tasks=tasks), **play)],
                                   sort_keys=False))
    inv = bed_hosts.inventory(hosts, str(tmp_path / "inventory.json"))
    return bed_hosts.playbook(str(path), inv)


@pytest.mark.containers
@pytest.mark.arm64
def test_each_container_gets_its_own_architecture_twice_run_unchanged(go_mirror, distro_images, tmp_path):
    """Nothing forced: the amd64 host gets linux-amd64, the arm64 host (qemu-user container, uname -m
    aarch64: an arm64 host per decisions.md) gets linux-arm64, each `go` runs and says so; the
    second run downloads nothing and reports no change."""
    from testbed import hosts as bed_hosts  # pylint: disable=import-outside-toplevel
    task = {"name": "go", "gofleet.golang.go_install": {"version": NEW, "base_url": go_mirror.url}}
    with bed_hosts.running(["bookworm-amd64", "bookworm-arm64"]) as hosts:
        rc, out, result = _container_play(tmp_path, hosts, [task])
        assert rc == 0, out
        first = bed_hosts.task_results(result, "go")
        gets = archive_gets(go_mirror)
        rc, out, result = _container_play(tmp_path, hosts, [task])
        assert rc == 0, out
        second = bed_hosts.task_results(result, "go")
        assert archive_gets(go_mirror) == gets, "the second run downloaded again"
        for host, image in hosts.items():
            arch = image.rsplit("-", 1)[1]
            assert first[host]["changed"] and first[host]["arch"] == arch, first[host]
            assert first[host]["url"].endswith("go%s.linux-%s.tar.gz" % (NEW, arch))
            assert not second[host]["changed"], second[host]
            done = _podman_exec(host, "/usr/local/go/bin/go", "version")
            assert done.stdout.strip() == "go version go%s linux/%s" % (NEW, arch), done.stdout + done.stderr
            machine = _podman_exec(host, "uname", "-m").stdout.strip()
            assert machine == {"amd64": "x86_64", "arm64": "aarch64"}[arch]
        assert sorted(os.path.basename(g["path"]) for g in gets) == sorted(
            "go%s.linux-%s.tar.gz" % (NEW, a) for a in ("amd64", "arm64"))


@pytest.mark.containers
def test_examples_run_in_a_container(go_mirror, distro_images, tmp_path):
    """The module's EXAMPLES as written, on a bookworm host: only what cannot exist here is replaced
    (the mirror URL, a real go.mod, the real archive and digest for the air-gapped example)."""
    import yaml  # pylint: disable=import-outside-toplevel
    from testbed import hosts as bed_hosts  # pylint: disable=import-outside-toplevel
    archive = "go%s.linux-amd64.tar.gz" % NEW
    with open(os.path.join(go_mirror.tree, archive + ".sha256")) as f:
        digest = f.read().split()[0]
    text = go_install.EXAMPLES.replace("https://mirror.example.com/golang", go_mirror.url).replace(
        "/var/tmp/go1.27.3.linux-amd64.tar.gz", "/var/tmp/" + archive).replace("sha256:4a8b0c...", "sha256:" + digest)
    text = text.replace("checksum_index: https://go.dev", "checksum_index: " + go_mirror.url)
    examples = yaml.safe_load(text)
    assert len(examples) == 10
    # the goproxy examples verify signatures on the node, which needs the cryptography package the bookworm
    # image lacks: they run on localhost against the test bed's proxy (test_go_install_goproxy.py)
    examples = [e for e in examples if "goproxy" not in e["gofleet.golang.go_install"]]
    setup = [
        {"name": "a project folder", "ansible.builtin.file": {"path": "/srv/app", "state": "directory"}},
        {"name": "a project", "ansible.builtin.copy": {"dest": "/srv/app/go.mod",
                                                       "content": "module example.com/app\n\ngo 1.26\n\ntoolchain go%s\n" % OLD}},
        {"name": "the archive on the node", "ansible.builtin.copy": {"src": os.path.join(go_mirror.tree, archive),
                                                                     "dest": "/var/tmp/" + archive}},
    ]
    with bed_hosts.running(["bookworm-amd64"]) as hosts:
        rc, out, result = _container_play(
            tmp_path, hosts, setup + examples,
            module_defaults={"gofleet.golang.go_install": {"base_url": go_mirror.url}})
        assert rc == 0, out
        host = next(iter(hosts))
        done = [bed_hosts.task_results(result, t["name"])[host] for t in examples]
        assert [d["version"] for d in done] == [NEW, OLD, OLD, NEW, NEW, NEW, NEW, OLD]
        # go.mod names 1.26.6 (installed, inactive): switching to it is a change; 1.27.3 switches back; the
        # go_env/profile example changes only the files it writes
        assert [d["changed"] for d in done] == [True, True, True, True, False, False, True, True]
        assert [f["changed"] for f in done[6]["files"]] == [True, True]
        assert _podman_exec(host, "sh", "-lc", "command -v go").stdout.strip() == "/usr/local/go/bin/go"
        assert "GOTOOLCHAIN=local" in _podman_exec(host, "cat", "/opt/go/go%s/go.env" % NEW).stdout
        assert done[5]["release"]["sources"]["sha256"] in ("checksum_index", "record")
        listing = _podman_exec(host, "ls", "/opt/go").stdout.split()
        assert [n for n in listing if n.startswith("go1")] == ["go" + NEW]
        assert _podman_exec(host, "/usr/local/go/bin/go", "version").stdout.startswith("go version go" + NEW)


def test_ansible_doc_renders():
    done = subprocess.run(["ansible-doc", "gofleet.golang.go_install"], capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == 0 and "checksum" in done.stdout and "RETURN VALUES" in done.stdout, \
        done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr


def test_a_tree_rebuilt_from_the_version_stays_active(go_mirror, where):
    """go_toolchain_rebuild commits go<v>-rebuilt.<time> beside go<v> and switches the link to it.
    go_install of that same version keeps it (it is that version, rebuilt on purpose), a damaged
    one is switched away from, and pruning or removing the version takes its rebuilds too.
    The rebuilt tree here is a copy of the installed one committed through the layout's own calls,
    as _rebuild does after make.bash; the real make.bash product is checked the same way at the end
    of test_go_toolchain_rebuild's SLOW test."""
    assert install(go_mirror, where, version=NEW)["changed"]
    assert install(go_mirror, where, version=OLD, activate=False)["changed"]
    layout = _layout.Layout(where["install_root"], where["active_link"])
    layout.lock()
    staged = os.path.join(where["install_root"], ".stage-rebuild", "go")
    os.makedirs(os.path.dirname(staged))
    subprocess.run(["cp", "-a", layout.version_dir(NEW), staged], check=True)
    name = layout.new_rebuild_name(NEW)
    rebuilt = layout.commit(staged, name, dict(version=NEW, os="linux", arch="amd64",
                                               rebuilt_from=layout.version_dir(NEW)))
    layout.activate(name)
    layout.unlock()

    gets = len(archive_gets(go_mirror))
    for spec in (NEW, "1.27.x", "stable"):
        r = install(go_mirror, where, version=spec, diff=True)
        assert not r.get("failed") and not r["changed"], r
        assert r["goroot"] == r["active_goroot"] == rebuilt and r["active_version"] == NEW
        assert r["diff"]["before"] == r["diff"]["after"] and ("active: go" + name) in r["diff"]["after"]
    assert os.path.realpath(where["active_link"]) == rebuilt and len(archive_gets(go_mirror)) == gets

    # switching to another version and back lands on the official tree
    assert install(go_mirror, where, version=OLD)["active_version"] == OLD
    r = install(go_mirror, where, version=NEW)
    assert r["changed"] and r["active_goroot"] == layout.version_dir(NEW)
    assert os.path.isdir(rebuilt)  # kept: go_toolchain_rebuild's rollback is not go_install's to drop

    # a damaged active rebuild is left for the official tree, with a warning
    layout.lock()
    layout.activate(name)
    layout.unlock()
    os.unlink(os.path.join(rebuilt, "bin", "go"))
    r = install(go_mirror, where, version=NEW)
    assert r["changed"] and r["active_goroot"] == layout.version_dir(NEW)
    assert any("rebuilt from go%s) is damaged (bin/go missing)" % NEW in w for w in r.get("warnings", [])), r

    # pruning or removing a version takes its rebuilds with it
    r = install(go_mirror, where, version=OLD, keep=1)
    assert r["changed"] and r["removed_versions"] == [NEW] and not os.path.exists(rebuilt)
    assert sorted(n for n in os.listdir(where["install_root"]) if not n.startswith(".")) == ["go" + OLD]
    assert sorted(os.listdir(os.path.join(where["install_root"], ".gofleet"))) == [
        "go%s.json" % OLD, "go%s.manifest.json" % OLD, _layout.LOCK]
    assert leftovers(where) == []


# ---- go.env and the login-shell script, in the same call ------------------------------------------
def test_go_env_and_profile_written_in_the_same_call(go_mirror, where, tmp_path):
    """go_env and profile (module_utils/_login): check mode says what it would write and writes nothing;
    the run installs and writes both, and the installed go reads its go.env; the next run changes
    nothing and downloads nothing; a changed setting rewrites go.env alone, with a diff of it; a bad
    setting is refused before anything is installed."""
    script = str(tmp_path / "profile.d" / "go.sh")
    os.makedirs(os.path.dirname(script))
    login = dict(go_env={"GOPROXY": "off", "GOSUMDB": "off", "GOPRIVATE": "", "GOTOOLCHAIN": "local"},
                 profile={"path": script, "zsh": False})
    r = install(go_mirror, where, version=NEW, check_mode=True, **login)
    assert r["changed"] and [f["changed"] for f in r["files"]] == [True, True], r
    assert not os.path.exists(where["install_root"]) and not os.path.exists(script)

    r = install(go_mirror, where, version=NEW, **login)
    assert r["changed"] and [f["path"] for f in r["files"]] == [os.path.join(r["goroot"], "go.env"), script]
    goenv = subprocess.run([os.path.join(where["active_link"], "bin", "go"), "env", "GOPROXY", "GOSUMDB", "GOTOOLCHAIN"],
                           capture_output=True, text=True, check=True,
                           env=dict(os.environ, GOPROXY="", GOSUMDB="", GOTOOLCHAIN="", GOENV="off")).stdout.split()
    assert goenv == ["off", "off", "local"]
    seen = subprocess.run(["sh", "-c", ". %s; command -v go" % script], env={"PATH": "/usr/bin:/bin", "HOME": "/h"},
                          capture_output=True, text=True, check=True).stdout.strip()
    assert seen == os.path.join(where["active_link"], "bin", "go")

    log_before = len(go_mirror.log())
    again = install(go_mirror, where, version=NEW, **login)
    assert not again["changed"] and [f["changed"] for f in again["files"]] == [False, False], again
    assert not [e for e in go_mirror.log()[log_before:] if e["path"].endswith(".tar.gz")]  # no archive again

    login["go_env"]["GOPROXY"] = "https://proxy.example.com"
    r = install(go_mirror, where, version=NEW, diff=True, **login)
    assert r["changed"] and [f["changed"] for f in r["files"]] == [True, False]
    assert isinstance(r["diff"], list) and "GOPROXY=https://proxy.example.com" in r["diff"][1]["after"]
    assert "GOPROXY=off" in r["diff"][1]["before"]

    fresh = dict(install_root=str(tmp_path / "fresh"), active_link=str(tmp_path / "fresh-bin" / "go"))
    bad = install(go_mirror, fresh, version=NEW, go_env={"GOFLAGS": "-x\nGOTOOLCHAIN=auto"})
    assert bad.get("failed") and "go_env" in bad["msg"] and "one line" in bad["msg"], bad
    assert "Traceback" not in bad["msg"] and not os.path.exists(fresh["install_root"])
