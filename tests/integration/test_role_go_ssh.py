# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role `go` over SSH as fleets reach their hosts (testbed/hosts.running_ssh: sshd per bookworm
container on 127.0.0.1, user fleet, sudo, pipelining, ControlPersist): a fresh converge of two hosts,
then the everyday no-op - nothing changes, and on the role's path only the two module calls the
proof needs run (go_install, which also compares go.env and the login files, and go_env_facts);
the proof looked at the connecting user's login shell, not root's, and that user's shell finds the
installed go."""

from __future__ import annotations

import pytest

from testbed import config, hosts, images

pytestmark = pytest.mark.containers

PLAY = """---
- name: The role over SSH
  hosts: all
  gather_facts: false
  roles:
    - role: gofleet.golang.go
"""
NEW = config.NEWEST


# actions that run on the controller alone (no round trip to the host)
CONTROLLER_ONLY = {"ansible.builtin.assert", "ansible.builtin.set_fact", "ansible.builtin.debug",
                   "ansible.builtin.validate_argument_spec", "assert", "set_fact", "debug", "validate_argument_spec"}


def _host_calls(result, prefix="gofleet.golang.go : "):
    """Names of the role's tasks that ran (not skipped) on some host and are not controller-only."""
    return [t["task"]["name"] for play in result["plays"] for t in play["tasks"]
            if t["task"]["name"].startswith(prefix)
            and any(not h.get("skipped") and h.get("action") not in CONTROLLER_ONLY for h in t["hosts"].values())]


@pytest.fixture(scope="module")
def fleet(mirror_server, tmp_path_factory):
    name = images.ssh_name("bookworm-amd64")
    images.ensure_image(name)
    with hosts.running_ssh([name, name], prefix="gofleet-rolessh") as running:
        work = tmp_path_factory.mktemp("role-ssh")
        inv = hosts.ssh_inventory(running, str(work / "inventory.json"), gofleet_go_base_url=mirror_server.url)
        (work / "play.yml").write_text(PLAY)
        yield running, inv, str(work / "play.yml")


def test_converge_over_ssh_then_a_no_op_with_two_module_calls(fleet):
    running, inv, play = fleet
    rc, out, result = hosts.playbook(play, inv, {"go_version": NEW})
    assert rc == 0, out[-6000:]
    assert all(s["changed"] > 0 and s["failures"] == 0 for s in result["stats"].values()), result["stats"]

    rc, out, result = hosts.playbook(play, inv, {"go_version": NEW})
    assert rc == 0, out[-6000:]
    assert all(s["changed"] == 0 for s in result["stats"].values()), result["stats"]
    ran = _host_calls(result)
    assert ran == ["gofleet.golang.go : Install the Go toolchain",
                   "gofleet.golang.go : Look at Go as a user's login shell meets it; the toolchain's and the tools' "
                   "binaries are native"], ran

    facts = hosts.task_results(result, "gofleet.golang.go : Look at Go as a user's login shell meets it; the toolchain's "
                                       "and the tools' binaries are native")
    for host, res in facts.items():
        seen = res["ansible_facts"]["gofleet_go"]
        assert seen["user"]["name"] == images.SSH_USER, (host, seen["user"])
        assert seen["go"]["real_go"] == "/opt/go/go%s/bin/go" % NEW
        assert [b["native"] for b in res["binaries"]] == [True, True]

    for host in running.values():
        done = hosts.ssh(host, "bash", "-lc", "command -v go; go version")
        assert done.stdout.split("\n")[:2] == ["/usr/local/go/bin/go", "go version go%s linux/amd64" % NEW], done
