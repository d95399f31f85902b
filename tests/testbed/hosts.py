# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running distro hosts for Ansible: podman containers of the test bed's images, an inventory
that reaches them with the containers.podman connection, and ansible-playbook against them."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
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
