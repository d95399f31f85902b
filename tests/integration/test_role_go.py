# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The go role (and provision.yml) for real, on one bookworm amd64 container (podman connection,
the local mirror through host networking): hostile inputs, distribution packages with dependants,
check mode on a fresh, an upgraded and a converged host (per-host and fleet mode), uninstall, and
fleet mode after go_toolchain_rebuild with keep. One container for the module; each test resets
what the role writes (install root, link, profile files) before it starts."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest

from testbed import config, goproxy, hosts, images

pytestmark = pytest.mark.containers

IMAGE = "bookworm-amd64"
NEW, OLD = config.NEWEST, config.OLDSTABLE
ROOT, LINK, PROFILE = "/opt/go", "/usr/local/go", "/etc/profile.d/go.sh"
PROVISION = os.path.join(config.REPO, "playbooks", "provision.yml")
# a command smuggled into a value writes this file (relative: a path in $(...) would be cut at its
# "/" into folders); login shells here start in /root
MARKER = "/root/gofleet-pwned"
PWN = "$(touch gofleet-pwned)"
# what the role may write, listed (with modes, sizes, link targets and times) before and after a
# check-mode run: equal listings = host unchanged
WATCHED = [ROOT, LINK, PROFILE, "/etc/zsh", "/var/tmp/gofleet-verify/out"]


class Host:
    def __init__(self, name, workdir, mirror_url):
        self.name = name
        self.workdir = workdir
        self.cache = os.path.join(workdir, "go-archives")
        self.inventory = hosts.inventory({name: IMAGE}, os.path.join(workdir, "inventory.json"),
                                         gofleet_go_base_url=mirror_url, go_fleet_cache_dir=self.cache,
                                         gofleet_serial="100%")
        self.plays = 0

    def sh(self, script, check=True):
        done = images.podman("exec", self.name, "sh", "-c", script, check=False)
        if check and done.returncode != 0:
            raise AssertionError("%s: rc %d\n%s%s" % (script, done.returncode, done.stdout, done.stderr))
        return done

    def login(self, script, shell="sh"):
        """`script` in a login shell of root, from /root (where a $(...) that ran would write)."""
        return self.sh("cd /root && %s -lc %s" % (shell, _q(script)), check=False)

    def listing(self):
        return self.sh("find %s -printf '%%p %%y %%m %%s %%l %%T@\\n' 2>/dev/null | sort; true"
                       % " ".join(WATCHED)).stdout

    def reset(self):
        self.sh("rm -rf %s %s* %s /etc/zsh /var/tmp/gofleet-verify/out %s /var/tmp/gofleet-archive.*"
                % (ROOT, LINK, PROFILE, MARKER))

    def rebuild(self, version):
        """Commit a copy of go<version> as the tree go_toolchain_rebuild would make from it
        (go<version>-rebuilt.<time>) through the layout's own calls, and make it active - what
        _rebuild does after make.bash, without the 6 minutes of make.bash; return its folder's name."""
        lib = "/tmp/gofleet-lib/ansible_collections/gofleet/golang/plugins"
        self.sh("rm -rf /tmp/gofleet-lib && mkdir -p %s" % lib)
        images.podman("cp", os.path.join(config.REPO, "plugins", "module_utils"), "%s:%s/" % (self.name, lib))
        return "go" + self.sh("python3 -c %s %s" % (_q(REBUILD), version)).stdout.strip().splitlines()[-1]

    def play(self, body=None, playbook=None, check=False, diff=False, **extra):
        """Run `body` (tasks of one play, YAML) or a playbook; return (rc, output, json result)."""
        if playbook is None:
            self.plays += 1
            playbook = os.path.join(self.workdir, "play%d.yml" % self.plays)
            with open(playbook, "w") as f:
                f.write("---\n- name: Test\n  hosts: all\n  gather_facts: false\n  tasks:\n"
                        + textwrap.indent(textwrap.dedent(body or ROLE), "    "))
        env = {"ANSIBLE_DIFF_ALWAYS": "1"} if diff else {}
        return hosts.playbook(playbook, self.inventory, extra_vars=extra or None, check=check, env=env)

    def converge(self, **extra):
        rc, out, result = self.play(**extra)
        assert rc == 0, out[-6000:]
        return result


ROLE = """\
- name: The role
  ansible.builtin.include_role:
    name: gofleet.golang.go
"""


REBUILD = """
import os, subprocess, sys
sys.path.insert(0, "/tmp/gofleet-lib")
from ansible_collections.gofleet.golang.plugins.module_utils import _layout
version = sys.argv[1]
layout = _layout.Layout("%s", "%s")
layout.lock()
staged = os.path.join(layout.root, ".stage-rebuild", "go")
os.makedirs(os.path.dirname(staged))
subprocess.run(["cp", "-a", layout.version_dir(version), staged], check=True)
name = layout.new_rebuild_name(version)
layout.commit(staged, name, dict(version=version, os="linux", arch="amd64", rebuilt_from=layout.version_dir(version)))
layout.activate(name)
layout.unlock()
print(name)
""" % (ROOT, LINK)


def _q(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def stats(result):
    return next(iter(result["stats"].values()))


def task(result, name):
    """The one host's result of the last task named `name` (a role's tasks: "<role> : name"), else None."""
    found = None
    for play in result.get("plays", []):
        for t in play.get("tasks", []):
            if t["task"]["name"] == name or t["task"]["name"].endswith(" : " + name):
                found = next(iter(t["hosts"].values()), found)
    return found


def messages(result):
    return [r.get("msg") for play in result.get("plays", []) for t in play["tasks"] for r in t["hosts"].values()
            if isinstance(r.get("msg"), str)]


@pytest.fixture(scope="module")
def host(mirror_server, tmp_path_factory):
    images.ensure_image(IMAGE)
    with hosts.running([IMAGE], prefix="gofleet-role") as running:
        name = list(running)[0]  # the one host
        yield Host(name, str(tmp_path_factory.mktemp("role-go")), mirror_server.url)


# ---- item 11: inputs that end up in shell code and go.env -------------------------------------
HOSTILE = {
    "go_proxy newline": dict(go_proxy="https://proxy.golang.org\nGOFLAGS=-toolexec=/tmp/evil"),
    "go_flags newline": dict(go_flags="-trimpath\rGOTOOLCHAIN=auto"),
    "go_env_extra value newline": dict(go_env_extra={"CGO_ENABLED": "0\nGOFLAGS=-toolexec=/tmp/evil"}),
    "go_env_extra name": dict(go_env_extra={"GOFLAGS=-toolexec=/tmp/evil\nX": "1"}),
    "go_gopath command": dict(go_gopath="$HOME/go" + PWN),
    "go_gopath backquote": dict(go_gopath="$HOME/`:>gofleet-pwned`"),
    "go_gopath operator": dict(go_gopath="${HOME:=/tmp}/go"),
    "go_active_link newline": dict(go_active_link="/usr/local/go\ntouch gofleet-pwned\n"),
    "go_active_link colon": dict(go_active_link="/usr/local/go:/tmp/evil"),
    "go_install_root relative": dict(go_install_root="opt/go"),
    "go_profile_path quote": dict(go_profile_path='/etc/profile.d/go".sh'),
    "go_tools option": dict(go_tools=[{"package": "-toolexec=/tmp/evil", "version": "v1.0.0"}]),
    "go_tools name": dict(go_tools=[{"package": "example.com/x", "name": "../../etc/cron.d/x"}]),
}


def test_hostile_inputs_fail_early_and_clearly(host):
    """Each hostile value fails the play at the role's first task, before anything reaches the
    host, with a message naming the input; nothing is written. (Before the checks: the newline
    in go_proxy became a GOFLAGS=-toolexec line of go.env and $(...) in go_gopath ran at login.)"""
    host.reset()
    blocks = []
    for i, (case, values) in enumerate(HOSTILE.items()):
        blocks.append(textwrap.dedent("""\
            - name: Case %(i)d
              block:
                - name: Role %(i)d
                  ansible.builtin.include_role:
                    name: gofleet.golang.go
                  vars: %(vars)s
                - name: Passed %(i)d
                  ansible.builtin.set_fact:
                    outcome: "{{ outcome | default({}) | combine({'%(case)s': 'passed'}) }}"
              rescue:
                - name: Failed %(i)d
                  ansible.builtin.set_fact:
                    outcome: "{{ outcome | default({}) | combine({'%(case)s': ansible_failed_task.name ~ ': ' ~ ansible_failed_result.msg}) }}"
            """) % dict(i=i, case=case, vars=json.dumps(values)))
    blocks.append("- name: Outcome\n  ansible.builtin.debug:\n    var: outcome\n")
    rc, out, result = host.play("".join(blocks))
    assert rc == 0, out[-6000:]
    outcome = task(result, "Outcome")["outcome"]
    for case, values in HOSTILE.items():
        got = outcome[case]
        assert got.startswith("Check "), (case, got)  # one of validate.yml's checks, the role's first tasks
        name = next(iter(values))
        assert name in got, (case, got)
    # nothing reached the host
    assert host.listing() == "" and host.sh("test ! -e %s" % MARKER, check=False).returncode == 0


def test_paths_and_gopath_with_shell_characters_are_quoted(host):
    """A space and $(...) in go_active_link, a space in go_gopath: the profile quotes them, so a
    login shell finds go through the link as named, GOPATH expands $HOME (what must expand at
    login) and no command runs (before: the space broke go.sh, $(...) ran in every login shell)."""
    host.reset()
    link = "/usr/local/go " + PWN
    host.sh("mkdir -p /etc/zsh")
    host.converge(go_version=OLD, go_active_link=link, go_gopath="$HOME/my go",
                  go_env_extra={"CGO_CFLAGS": "-O2 -g"})
    seen = host.login('command -v go; go version; echo "GOPATH=$GOPATH"; echo "PATH=$PATH"; '
                      'go env GOPATH CGO_CFLAGS')
    assert seen.returncode == 0, seen.stdout + seen.stderr
    lines = seen.stdout.splitlines()
    assert lines[0] == link + "/bin/go", lines
    assert lines[1] == "go version go%s linux/amd64" % OLD
    assert lines[2] == "GOPATH=/root/my go"
    assert lines[3].startswith("PATH=%s/bin:" % link) and lines[3].endswith(":/root/my go/bin")
    assert lines[4:] == ["/root/my go", "-O2 -g"]
    assert host.sh("test ! -e %s" % MARKER, check=False).returncode == 0, "a command in go_active_link ran"
    # bash reads it the same; zsh's block names the profile as is (a plain path)
    assert host.login("command -v go", shell="bash").stdout.strip() == link + "/bin/go"
    assert '[ -r "%s" ] && emulate sh -c ". %s"' % (PROFILE, PROFILE) in host.sh("cat /etc/zsh/zprofile").stdout
    assert host.sh("test ! -e %s" % MARKER, check=False).returncode == 0
    # and it is idempotent
    again = host.converge(go_version=OLD, go_active_link=link, go_gopath="$HOME/my go",
                          go_env_extra={"CGO_CFLAGS": "-O2 -g"})
    assert stats(again)["changed"] == 0
    host.sh("rm -f %s" % _q(link))


# ---- item 12: distribution packages with dependants ----------------------------------------------
def _deb(workdir, name, depends=None):
    tree = os.path.join(workdir, name)
    os.makedirs(os.path.join(tree, "DEBIAN"), exist_ok=True)
    with open(os.path.join(tree, "DEBIAN", "control"), "w") as f:
        f.write("Package: %s\nVersion: 1.0\nArchitecture: all\nMaintainer: gofleet tests <t@example.invalid>\n"
                "Description: gofleet test package\n%s" % (name, "Depends: %s\n" % depends if depends else ""))
    out = tree + ".deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, out], check=True,
                   capture_output=True)
    return out


def test_distro_packages_with_dependants_are_not_removed_silently(host):
    """golang-1.19-go with a package that depends on it: removing it would take that package along
    (apt-get remove does), so the role refuses, naming it, and removes nothing; with
    go_remove_distro_dependants=true it removes both and says so."""
    host.reset()
    for deb in (_deb(host.workdir, "golang-1.19-go"), _deb(host.workdir, "gofleet-needs-go", "golang-1.19-go")):
        images.podman("cp", deb, "%s:/var/tmp/%s" % (host.name, os.path.basename(deb)))
    host.sh("dpkg -i /var/tmp/golang-1.19-go.deb /var/tmp/gofleet-needs-go.deb >/dev/null")
    installed = "dpkg-query -W -f '${Package} ${Status}\\n' golang-1.19-go gofleet-needs-go 2>/dev/null | grep -c ' installed$'"

    rc, out, result = host.play(go_version=OLD, go_remove_distro_packages=True)
    assert rc != 0
    refused = task(result, "Refuse to remove packages that depend on the distribution's Go")
    assert refused and refused.get("failed"), out[-4000:]
    assert "gofleet-needs-go" in refused["msg"] and "golang-1.19-go" in refused["msg"]
    assert "Nothing was removed" in refused["msg"] and "go_remove_distro_dependants" in refused["msg"]
    assert host.sh(installed, check=False).stdout.strip() == "2"
    assert host.listing() == ""  # failed before installing anything

    result = host.converge(go_version=OLD, go_remove_distro_packages=True, go_remove_distro_dependants=True)
    said = task(result, "Say which dependants are removed along")
    assert "gofleet-needs-go" in said["msg"], said
    assert host.sh(installed, check=False).stdout.strip() == "0"
    again = host.converge(go_version=OLD, go_remove_distro_packages=True)
    assert stats(again)["changed"] == 0


# ---- check mode ----------------------------------------------------------------------------------
def provision_check(host, **extra):
    """provision.yml --check --diff: the play succeeds and the host is unchanged; return the result."""
    before = host.listing()
    rc, out, result = host.play(playbook=PROVISION, check=True, diff=True, **extra)
    assert rc == 0, out[-6000:]
    assert host.listing() == before, "check mode changed the host"
    return result


@pytest.mark.parametrize("fleet", [False, True], ids=["per-host", "fleet"])
def test_check_mode_fresh_upgrade_converged(host, fleet):
    """provision.yml --check --diff on a fresh host, on an upgrade and on a converged host: the play
    succeeds, the host is unchanged, `changed` says whether the real run would change something, and
    the proof says what the run would make true instead of failing (NO_GO on a fresh host, the old go
    compared with the version not installed yet on an upgrade). go_verify judges no stale output."""
    host.reset()
    mode = dict(go_fleet_mode=fleet)
    # fresh
    result = provision_check(host, go_version=OLD, **mode)
    assert stats(result)["changed"] > 0 and stats(result)["failures"] == 0
    said = " ".join(messages(result))
    assert "check mode: this run would leave go%s (linux/amd64) in %s/go%s" % (OLD, ROOT, OLD) in said, said
    assert "check mode: go_verify skipped" in said

    # converged (with a stale, foreign output where go_verify builds: check mode must not judge it)
    host.converge(go_version=OLD, **mode)
    host.sh("mkdir -p /var/tmp/gofleet-verify/out && echo stale > /var/tmp/gofleet-verify/out/hello-linux-amd64")
    result = provision_check(host, go_version=OLD, **mode)
    assert stats(result)["changed"] == 0, [t["task"]["name"] for p in result["plays"] for t in p["tasks"]
                                           if any(h.get("changed") for h in t["hosts"].values())]
    said = " ".join(messages(result))
    assert "go%s" % OLD in said and "check mode: built no target" in said, said

    # upgrade
    result = provision_check(host, go_version=NEW, **mode)
    assert stats(result)["changed"] > 0 and stats(result)["failures"] == 0
    said = " ".join(messages(result))
    assert "check mode: this run would leave go%s (linux/amd64) in %s/go%s" % (NEW, ROOT, NEW) in said, said
    assert host.login("go version").stdout.strip() == "go version go%s linux/amd64" % OLD


# ---- uninstall -----------------------------------------------------------------------------------
def test_uninstall_removes_what_the_role_put_there(host):
    """Converge two versions (zsh's block too), then go_state=absent: check mode changes nothing and
    says it would; the real run removes the versions, the link, go.sh, the zsh block and the root;
    a second run changes nothing."""
    host.reset()
    host.sh("mkdir -p /etc/zsh && echo '# the admin line' > /etc/zsh/zprofile")
    host.converge(go_version=OLD)
    host.converge(go_version=NEW)
    assert host.sh("ls %s" % ROOT).stdout.split() == ["go" + OLD, "go" + NEW]

    before = host.listing()
    rc, out, result = host.play(check=True, go_state="absent")
    assert rc == 0 and stats(result)["changed"] > 0, out[-4000:]
    assert host.listing() == before

    result = host.converge(go_state="absent")
    assert stats(result)["changed"] > 0
    assert host.sh("ls -d %s %s %s 2>&1; true" % (ROOT, LINK, PROFILE)).stdout.count("No such file") == 3
    assert host.sh("cat /etc/zsh/zprofile").stdout == "# the admin line\n"
    assert host.login("command -v go").returncode != 0

    assert stats(host.converge(go_state="absent"))["changed"] == 0
    rc, out, result = host.play(check=True, go_state="absent")
    assert rc == 0 and stats(result)["changed"] == 0


# ---- fleet mode asks go_install ------------------------------------------------------------------
def test_fleet_mode_after_a_rebuild_with_keep(host):
    """Fleet mode learns what a host needs from go_install's plan, not from the layout's records:
    after go_toolchain_rebuild made go<NEW>-rebuilt.<time> active, with keep=2, a run pushes no
    archive, prunes nothing (the rebuilt tree is NEW, not a third version), changes nothing and its
    proof passes on the rebuilt tree; twice, and in check mode. (Before: the role read
    .gofleet/go<v>.json and the link itself, pushed the archive on every run, counted the rebuilt
    tree as a version to prune and its final assert failed.)"""
    host.reset()
    fleet = dict(go_fleet_mode=True, go_keep=2)
    host.converge(go_version=OLD, **fleet)
    result = host.converge(go_version=NEW, **fleet)
    assert task(result, "Install the Go toolchain from the pushed archive")["changed"]
    assert host.sh("ls -d /var/tmp/gofleet-archive.* 2>/dev/null; true").stdout == ""  # push folder removed
    rebuilt = host.rebuild(NEW)
    for dummy in range(2):
        result = host.converge(go_version=NEW, **fleet)
        assert stats(result)["changed"] == 0
        plan = task(result, "Ask go_install what this host needs (check mode, offline)")["plan"]
        assert (plan["install"], plan["switch"], list(plan["prune"])) == (False, False, []), plan
        assert task(result, "Copy the verified archive to the host").get("skipped")
        assert task(result, "Switch, prune or rewrite go.env and the login files without the archive (the version is installed)").get("skipped")
    listed = host.sh("ls %s" % ROOT).stdout.split()
    assert listed == ["go" + OLD, "go" + NEW, rebuilt], (listed, rebuilt)
    assert host.sh("readlink %s" % LINK).stdout.strip() == "%s/%s" % (ROOT, rebuilt)
    assert host.login("command -v go; go version").stdout.split("\n")[:2] == [
        LINK + "/bin/go", "go version go%s linux/amd64" % NEW]
    result = provision_check(host, go_version=NEW, **fleet)
    assert stats(result)["changed"] == 0


# ---- toolchains through a Go module proxy (issue 15) ---------------------------------------------
@pytest.mark.parametrize("fleet", [False, True], ids=["per-host", "fleet"])
def test_toolchain_through_the_module_proxy(host, bed, fleet, tmp_path):
    """go_toolchain_goproxy: the controller (the go_release lookup, with the controller's
    `cryptography`) verifies the toolchain module's h1: against the test bed's checksum database and
    pins it; the host (bookworm's python3 without `cryptography`) only compares the zip's bytes with
    that pin - per host from the proxy, in fleet mode from the archive the controller fetched and
    pushed. A re-run and check mode change nothing; a proxy that serves a tampered zip is refused
    before anything lands, in both modes."""
    host.reset()
    proxied = dict(go_version=OLD, go_fleet_mode=fleet, go_toolchain_goproxy=bed.url + "/goproxy",
                   go_toolchain_sumdb=goproxy.sumdb_vkey(),
                   go_toolchain_sumdb_state_dir=str(tmp_path / "sumdb"))
    result = host.converge(**proxied)
    assert stats(result)["changed"] > 0
    record = json.loads(host.sh("cat %s/.gofleet/go%s.json" % (ROOT, OLD)).stdout)
    assert record["kind"] == "module" and record["h1"].startswith("h1:"), record
    # the zip came from the proxy once (per host: the host asked; fleet mode: the controller did)
    zip_path = "/goproxy/golang.org/toolchain/@v/%s.zip" % goproxy.toolchain_version(OLD, "linux", "amd64")
    assert [e["path"] for e in bed.log()].count(zip_path) == 1
    assert host.login("command -v go; go version").stdout.split("\n")[:2] == [
        LINK + "/bin/go", "go version go%s linux/amd64" % OLD]
    # the controller remembered the database's signed head
    assert os.listdir(str(tmp_path / "sumdb"))
    assert stats(host.converge(**proxied))["changed"] == 0
    assert stats(provision_check(host, **proxied))["changed"] == 0

    # a hostile proxy: the zip's bytes differ from the verified pin
    host.reset()
    bed.fault("zip_tampered")
    rc, out, result = host.play(**proxied)
    assert rc != 0 and "does not match" in out, out[-4000:]
    # nothing landed: no tree, no link, no login file (go_install's own lock folder may be there)
    assert host.sh("ls -A %s 2>/dev/null; ls -d %s %s 2>/dev/null; true" % (ROOT, LINK, PROFILE)).stdout.split() in (
        [], [".gofleet"])
    assert host.login("command -v go").returncode != 0
