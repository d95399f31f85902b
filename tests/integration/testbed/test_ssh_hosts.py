# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH hosts as a fleet has them (testbed.hosts.running_ssh): real sshd per container, Ansible in
as `fleet` over ssh, root through sudo, pipelining and a ControlPersist master; keys only."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile

import pytest

from testbed import hosts, images

pytestmark = pytest.mark.containers

PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    # ansible_become in the inventory outranks the `become: false` keyword: a task drops it by var
    - name: Login user
      ansible.builtin.command: whoami
      vars:
        ansible_become: false
      changed_when: false
    - name: Become user
      ansible.builtin.command: whoami
      changed_when: false
    # as the role's controller tasks: the SSH hosts' vars do not reach the implicit localhost
    - name: Controller task
      ansible.builtin.command: whoami
      delegate_to: localhost
      become: false
      run_once: true
      changed_when: false
"""


@pytest.fixture(scope="module")
def ssh_hosts():
    """Three SSH hosts of bookworm-amd64, started in one call."""
    images.build_all([images.ssh_name("bookworm-amd64")])
    with hosts.running_ssh(["bookworm-amd64"] * 3) as running:
        yield running


@pytest.fixture
def control_dir():
    """A short ControlPath folder of this test's own (sockets have a 108-byte path limit); masters
    left in it are stopped after the test."""
    folder = tempfile.mkdtemp(prefix="gfcp", dir="/tmp")
    yield folder
    for name in os.listdir(folder):
        subprocess.run(["ssh", "-o", "ControlPath=" + os.path.join(folder, name), "-O", "exit", "x"],
                       capture_output=True, timeout=30, check=False)
    shutil.rmtree(folder, ignore_errors=True)


def _play(tmp_path, ssh_hosts, control_dir, extra_vars=None, **group_vars):
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    inv = hosts.ssh_inventory(ssh_hosts, str(tmp_path / "inventory.json"), **group_vars)
    return hosts.playbook(str(play), inv, extra_vars, env={"ANSIBLE_SSH_CONTROL_PATH_DIR": control_dir})


def test_three_hosts_each_with_its_own_sshd(ssh_hosts):
    assert len(ssh_hosts) == 3
    assert len({h.port for h in ssh_hosts.values()}) == 3
    for name, host in ssh_hosts.items():
        assert host.image == "bookworm-amd64-ssh"
        # the sshd on that port is the one of this container (sshd -e logs to the container's log)
        logs = images.podman("logs", name)
        assert "Server listening on 127.0.0.1 port %d." % host.port in logs.stdout + logs.stderr
        done = hosts.ssh(host, "sh", "-c", 'echo "$(whoami) $HOME $SHELL"')
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["fleet", "/home/fleet", "/bin/bash"]


def test_ansible_logs_in_as_fleet_and_becomes_root_through_sudo(ssh_hosts, tmp_path, control_dir):
    rc, out, result = _play(tmp_path, ssh_hosts, control_dir)
    assert rc == 0, out[-4000:]
    login = hosts.task_results(result, "Login user")
    become = hosts.task_results(result, "Become user")
    assert set(login) == set(become) == set(ssh_hosts)
    for name in ssh_hosts:
        assert login[name]["stdout"] == "fleet"
        assert become[name]["stdout"] == "root"
    controller = list(hosts.task_results(result, "Controller task").values())[0]
    assert controller["rc"] == 0 and controller["stdout"] == pwd.getpwuid(os.geteuid()).pw_name


def test_control_persist_master_lives_after_the_play(ssh_hosts, tmp_path, control_dir):
    """ControlPersist=60s: after the play each host has a master socket under the control path
    folder, and ssh -O check finds its master process running."""
    rc, out, dummy = _play(tmp_path, ssh_hosts, control_dir)
    assert rc == 0, out[-4000:]
    sockets = [os.path.join(control_dir, n) for n in os.listdir(control_dir)]
    assert len(sockets) == len(ssh_hosts), sockets
    for sock in sockets:
        assert stat.S_ISSOCK(os.stat(sock).st_mode)
        check = subprocess.run(["ssh", "-o", "ControlPath=" + sock, "-O", "check", "x"],
                               capture_output=True, text=True, timeout=30, check=False)
        assert check.returncode == 0 and "Master running" in check.stderr, check.stderr


def test_pipelining_is_in_use(ssh_hosts, tmp_path, control_dir):
    """With pipelining a module travels on ssh's stdin: no remote temporary folder is made. So a
    remote_tmp that cannot exist (under /proc) is harmless with it, and fatal without it."""
    rc, out, result = _play(tmp_path, ssh_hosts, control_dir, ansible_remote_tmp="/proc/gofleet-no-tmp")
    assert rc == 0, out[-4000:]
    assert {r["stdout"] for r in hosts.task_results(result, "Become user").values()} == {"root"}

    # the control: the same play without pipelining needs the folder and fails on it
    rc, out, result = _play(tmp_path, ssh_hosts, control_dir, {"ansible_pipelining": False},
                            ansible_remote_tmp="/proc/gofleet-no-tmp")
    assert rc != 0
    login = hosts.task_results(result, "Login user")
    assert set(login) == set(ssh_hosts)
    for res in login.values():
        assert res.get("unreachable") or res.get("failed"), res
        assert "temporary directory" in res["msg"].lower() and "/proc/gofleet-no-tmp" in res["msg"], res["msg"]


def test_keys_only_no_password_no_root(ssh_hosts):
    name, host = sorted(ssh_hosts.items())[0]
    # sshd's effective configuration
    seen = images.podman("exec", name, "/usr/sbin/sshd", "-T", "-p", str(host.port)).stdout.lower().splitlines()
    for line in ("permitrootlogin no", "passwordauthentication no", "kbdinteractiveauthentication no",
                 "pubkeyauthentication yes", "authenticationmethods publickey"):
        assert line in seen
    # fleet has no password and passwordless sudo
    assert images.podman("exec", name, "getent", "shadow", "fleet").stdout.split(":")[1] == "*"
    assert hosts.ssh(host, "sudo", "-n", "true").returncode == 0

    # a password: the server offers none, even to a user who has one
    images.podman("exec", name, "sh", "-c", "echo fleet:gofleet-pw | chpasswd")
    try:
        done = hosts.ssh(host, "true", options=["-o", "PubkeyAuthentication=no",
                                                "-o", "PreferredAuthentications=password,keyboard-interactive"])
        assert done.returncode == 255
        assert "Permission denied (publickey)." in done.stderr, done.stderr
    finally:
        images.podman("exec", name, "usermod", "-p", "*", "fleet")

    # root, even with the test bed's key authorized, is refused by sshd itself
    images.podman("exec", name, "sh", "-c", "install -d -m 0700 /root/.ssh"
                  " && cp /home/fleet/.ssh/authorized_keys /root/.ssh/authorized_keys")
    try:
        done = hosts.ssh(host, "true", user="root")
        assert done.returncode == 255
        assert "Permission denied (publickey)." in done.stderr, done.stderr
        logs = images.podman("logs", name)
        assert "ROOT LOGIN REFUSED" in logs.stdout + logs.stderr
    finally:
        images.podman("exec", name, "rm", "-rf", "/root/.ssh")
    assert hosts.ssh(host, "true").returncode == 0  # fleet, with the key, still gets in


def test_running_ssh_removes_its_hosts(ssh_hosts):
    """One more call beside the module's hosts: other ports, and gone after the with block."""
    with hosts.running_ssh(["bookworm-amd64-ssh"], prefix="gofleet-ssh-rm") as running:
        (name, host), = running.items()
        assert host.port not in {h.port for h in ssh_hosts.values()}
        assert hosts.ssh(host, "true").returncode == 0
    left = images.podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert name not in left
