# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running distro hosts for Ansible: podman containers of the test bed's images, an inventory
that reaches them with the containers.podman connection, and ansible-playbook against them.

running_ssh() and ssh_inventory() give the same hosts as a fleet has them: each container runs
its own sshd on its own port of 127.0.0.1 (host networking), Ansible logs in as `fleet` with the
test bed's key and becomes root through sudo, with pipelining and ControlPersist on."""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import fcntl
import json
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

from . import config, images


@contextlib.contextmanager
def running(names, network="host", prefix="gofleet-test"):
    """Start one container per image name (a name given twice: two hosts of that image); yield
    {inventory_hostname: image name}; remove them."""
    tag = uuid.uuid4().hex[:6]
    hosts = {}
    try:
        for i, name in enumerate(names):
            host = "%s-%s-%s" % (prefix, name, tag) if names.count(name) == 1 else "%s-%s-%d-%s" % (prefix, name, i, tag)
            images.podman("run", "-d", "--name", host, "--network", network, images.image_ref(name),
                          "sleep", "infinity")
            hosts[host] = name
        yield hosts
    finally:
        for host in hosts:
            images.podman("rm", "-f", "-t", "0", host, check=False)


def inventory(hosts, path, **group_vars):
    """Write a YAML-compatible (JSON) inventory of the running hosts; return its path."""
    data = {"all": {"hosts": {h: {"ansible_connection": "containers.podman.podman",
                                  "ansible_python_interpreter": "/usr/bin/python3",
                                  "gofleet_image": name} for h, name in hosts.items()},
                    "vars": group_vars}}
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
    return path


def playbook(playbook_path, inventory_path, extra_vars=None, check=False, timeout=1800, env=None):
    """Run ansible-playbook; return (rc, output, per-host stats from the json callback)."""
    cmd = ["ansible-playbook", "-i", inventory_path, playbook_path]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    full_env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1",
                    ANSIBLE_COLLECTIONS_PATH=config.collections_root(), ANSIBLE_HOST_KEY_CHECKING="0",
                    ANSIBLE_RETRY_FILES_ENABLED="0", **(env or {}))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, check=False)
    try:
        result = json.loads(done.stdout)
    except ValueError:
        result = {"stats": {}, "plays": [], "raw": done.stdout}
    return done.returncode, done.stdout + done.stderr, result


def task_results(result, task_name):
    """{host: result} of the task named `task_name` in a json-callback run."""
    out = {}
    for play in result.get("plays", []):
        for task in play.get("tasks", []):
            if task["task"]["name"] == task_name:
                out.update(task["hosts"])
    return out


# --- hosts over SSH -------------------------------------------------------------------------

SSHHost = collections.namedtuple("SSHHost", "image port")  # image: the -ssh image name
SSH_OPTIONS = ["-o", "ControlMaster=auto", "-o", "ControlPersist=60s",
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
START_WORKERS = 8  # concurrent `podman run -d`: 10 hosts 2.4 s against 3.3 s one by one (2 cores)


def ssh_key() -> str:
    """The test bed's SSH key pair (ed25519, made once under <cache>/ssh/); return the private
    key's path (mode 0600; the public key is beside it, <path>.pub)."""
    folder = os.path.join(config.CACHE, "ssh")
    path = os.path.join(folder, "id_ed25519")
    if os.path.exists(path) and os.path.exists(path + ".pub"):
        return path
    os.makedirs(folder, mode=0o700, exist_ok=True)
    with open(os.path.join(folder, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two first runs at once make one pair, not a mixed one
        if os.path.exists(path) and os.path.exists(path + ".pub"):
            return path
        tmp = tempfile.mkdtemp(dir=folder)
        try:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gofleet-testbed",
                            "-f", os.path.join(tmp, "id_ed25519")], check=True, capture_output=True)
            os.chmod(os.path.join(tmp, "id_ed25519"), 0o600)
            os.replace(os.path.join(tmp, "id_ed25519.pub"), path + ".pub")
            os.replace(os.path.join(tmp, "id_ed25519"), path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _free_ports(count: int) -> list:
    """`count` distinct ports of 127.0.0.1 free right now (all held open while choosing)."""
    socks = []
    try:
        for dummy in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _sshd_banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            return s.recv(64).startswith(b"SSH-2.0-")
    except OSError:
        return False


def _start_sshd(host: str, image: str, port: int, public_key: str):
    script = ("mkdir -p -m 0755 /run/sshd && printf '%s\\n' \"$GOFLEET_SSH_KEY\" > {home}/.ssh/authorized_keys"
              " && chown {u}:{u} {home}/.ssh/authorized_keys && chmod 0600 {home}/.ssh/authorized_keys"
              " && exec /usr/sbin/sshd -D -e -p {port} -o ListenAddress=127.0.0.1").format(
                  u=images.SSH_USER, home="/home/" + images.SSH_USER, port=port)
    images.podman("run", "-d", "--name", host, "--network", "host", "-e", "GOFLEET_SSH_KEY=" + public_key,
                  images.image_ref(image), "sh", "-c", script, timeout=300)


def _running_containers(hosts) -> set:
    done = images.podman("ps", "--format", "{{.Names}}", *[a for h in hosts for a in ("--filter", "name=^%s$" % h)])
    return set(done.stdout.split())


@contextlib.contextmanager
def running_ssh(names, prefix="gofleet-ssh", timeout=120, workers=START_WORKERS):
    """Start one SSH host per image name (a base name such as bookworm-amd64 means its -ssh
    variant; a name given N times: N hosts), all in one call, concurrently. Each is a container
    with host networking whose sshd listens on its own free port of 127.0.0.1 and lets `fleet` in
    with the test bed's key (ssh_key()). Yield {inventory_hostname: SSHHost(image, port)} once every
    sshd answers (the inventory hostname is also the container's name); remove them all at the end."""
    names = [images.ssh_name(n) for n in names]
    for image in sorted(set(names)):
        images.ensure_image(image)
    with open(ssh_key() + ".pub") as f:
        public_key = f.read().strip()
    tag = uuid.uuid4().hex[:6]
    wanted = {}
    for i, name in enumerate(names):
        host = "%s-%s-%s" % (prefix, name, tag) if names.count(name) == 1 else "%s-%s-%d-%s" % (prefix, name, i, tag)
        wanted[host] = name
    hosts = {}
    started = []
    try:
        pending = dict(wanted)
        for attempt in range(3):  # a port another process took between choosing and binding: choose again
            ports = dict(zip(pending, _free_ports(len(pending))))
            with concurrent.futures.ThreadPoolExecutor(max(1, min(workers, len(pending)))) as pool:
                jobs = []
                for host, image in pending.items():
                    if attempt:
                        images.podman("rm", "-f", "-t", "0", host, check=False)
                    started.append(host)
                    jobs.append(pool.submit(_start_sshd, host, image, ports[host], public_key))
                for job in jobs:
                    job.result()
            deadline = time.time() + timeout
            waiting, exited = set(pending), set()
            looked = time.time()
            while True:
                waiting = {h for h in waiting if not _sshd_banner(ports[h])}
                if waiting and time.time() - looked > 1:  # an sshd that could not bind its port has exited
                    exited |= waiting - _running_containers(waiting)
                    waiting -= exited
                    looked = time.time()
                if not waiting or time.time() > deadline:
                    break
                time.sleep(0.1)
            exited |= set(pending) - waiting - _running_containers(pending)  # answered, but not ours
            for host in list(pending):
                if host not in waiting and host not in exited:
                    hosts[host] = SSHHost(pending.pop(host), ports[host])
            if not pending or waiting:  # all up, or one running yet silent: no port clash, no retry
                break
        if pending:
            host = sorted(pending)[0]
            logs = images.podman("logs", host, check=False)
            raise RuntimeError("the sshd of %d test host(s) did not answer (%s, port %d): %s"
                               % (len(pending), host, ports[host], (logs.stdout + logs.stderr).strip()[-2000:]))
        yield {h: hosts[h] for h in wanted}
    finally:
        if started:
            images.podman("rm", "-f", "-t", "0", *sorted(set(started)), check=False, timeout=600)


def ssh_vars(become=True) -> dict:
    """The connection variables every SSH host shares (ssh_inventory puts them in group `all`).
    become=True sets ansible_become, which outranks a task's `become: false` keyword (a task
    then drops it with `vars: {ansible_become: false}`); become=False leaves it to the play."""
    become_vars = {"ansible_become": True} if become else {}
    return {
        "ansible_connection": "ssh",
        "ansible_host": "127.0.0.1",
        "ansible_user": images.SSH_USER,
        **become_vars,
        "ansible_become_method": "sudo",
        "ansible_ssh_private_key_file": ssh_key(),
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_pipelining": True,
        # as fleets run it: one master connection per host, kept 60 s (ControlPath: ansible's own,
        # a short hash under control_path_dir, default ~/.ansible/cp)
        "ansible_ssh_common_args": " ".join(SSH_OPTIONS),
    }


def ssh_inventory(hosts, path, become=True, **group_vars):
    """Write a YAML-compatible (JSON) inventory of running_ssh() hosts; return its path. Per host:
    ansible_port, gofleet_image, gofleet_container; group vars: ssh_vars(become) updated by
    `group_vars`. (The implicit localhost of delegated tasks keeps its local connection.)"""
    data = {"all": {"hosts": {h: {"ansible_port": host.port, "gofleet_image": host.image,
                                  "gofleet_container": h} for h, host in hosts.items()},
                    "vars": dict(ssh_vars(become), **group_vars)}}
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
    return path


def ssh(host, *command, user=images.SSH_USER, options=(), timeout=60) -> subprocess.CompletedProcess:
    """Run `command` (a remote shell line, its words quoted) on an SSHHost over a fresh ssh (no
    master, BatchMode) as `user` with the test bed's key; return the completed process."""
    cmd = ["ssh", "-i", ssh_key(), "-p", str(host.port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
           "-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "ConnectTimeout=10",
           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
           *options, "%s@127.0.0.1" % user, " ".join(shlex.quote(c) for c in command)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
