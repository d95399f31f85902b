# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""go_install benchmarks (not part of the test run): python tests/benchmarks/bench_go_install.py

1. Fresh install through the module vs `curl -sfL <url> | tar -xz` of the same archive from the same
   local mirror (the baseline, measured in the same run). Goal: <= 1.2x.
2. No-op re-run of a go_install task vs an ansible.builtin.stat task (the floor of any task), each
   as a one-task ansible-playbook on localhost, same number of runs. Goal: close to the floor.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)

from testbed import ansible_module, config, mirror  # noqa: E402  pylint: disable=wrong-import-position

ROUNDS = 3


def start_server(tree):
    port_file = os.path.join(tempfile.mkdtemp(), "port")
    proc = subprocess.Popen([sys.executable, "-m", "testbed.server", "--root", tree, "--port-file", port_file],
                            cwd=TESTS)
    while not os.path.exists(port_file):
        time.sleep(0.05)
    with open(port_file) as f:
        return proc, "http://127.0.0.1:" + f.read().strip()


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    tree = mirror.build_mirror()
    proc, url = start_server(tree)
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = config.collections_root()
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    work = tempfile.mkdtemp(prefix="bench-go-install-")
    name = "go%s.linux-amd64.tar.gz" % config.NEWEST
    try:
        module_times, curl_times = [], []
        for i in range(ROUNDS):
            dest = os.path.join(work, "curl%d" % i)
            os.makedirs(dest)
            curl_times.append(timed(lambda: subprocess.run(
                "curl -sfL %s/dl/%s | tar -xz -C %s" % (url, name, dest), shell=True, check=True)))
            where = dict(install_root=os.path.join(work, "root%d" % i), active_link=os.path.join(work, "link%d" % i))
            result = {}
            module_times.append(timed(lambda: result.update(
                ansible_module.run("go_install", dict(base_url=url, version=config.NEWEST, **where)))))
            assert result["changed"] and result["rc"] == 0, result
            shutil.rmtree(dest)
        m, c = statistics.median(module_times), statistics.median(curl_times)
        print("fresh install go%s linux-amd64 (median of %d):" % (config.NEWEST, ROUNDS))
        print("  curl | tar -xz          %6.2f s" % c)
        print("  go_install (module)     %6.2f s   ratio %.2fx  (goal <= 1.2x; the module also verifies"
              " SHA-256, checks bin/go's architecture and runs go version)" % (m, m / c))

        # no-op re-run vs the floor of a task
        where = dict(install_root=os.path.join(work, "root0"), active_link=os.path.join(work, "link0"))
        play = os.path.join(work, "play.yml")
        stat_play = os.path.join(work, "stat.yml")
        with open(play, "w") as f:
            f.write("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                    "    - gofleet.golang.go_install: {base_url: '%s', version: '%s', install_root: '%s', "
                    "active_link: '%s'}\n" % (url, config.NEWEST, where["install_root"], where["active_link"]))
        with open(stat_play, "w") as f:
            f.write("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                    "    - ansible.builtin.stat: {path: '%s'}\n" % where["active_link"])
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=config.collections_root(),
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable)

        def playbook(p, first=False):
            done = subprocess.run(["ansible-playbook", "-c", "local", "-i", "localhost,", p], env=env,
                                  capture_output=True, text=True, check=False)
            assert done.returncode == 0 and (first or "changed=0" in done.stdout), done.stdout + done.stderr

        playbook(play, first=True)  # installs; the timed runs below are no-ops
        runs = 5
        noop = statistics.median(timed(lambda: playbook(play)) for _round in range(runs))
        floor = statistics.median(timed(lambda: playbook(stat_play)) for _round in range(runs))
        print("no-op re-run, one-task playbook on localhost (median of %d):" % runs)
        print("  ansible.builtin.stat    %6.2f s" % floor)
        print("  go_install (no change)  %6.2f s   ratio %.2fx, +%.2f s over the floor of a task"
              % (noop, noop / floor, noop - floor))
    finally:
        proc.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
