# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""go_install benchmarks (not part of the test run): python tests/benchmarks/bench_go_install.py

1. Fresh install through the module vs `curl -sfL <url> | tar -xz -C DIR && sync -f DIR` of the same
   archive from the same local mirror (the baseline with the durability of the install: the module
   syncs the file system before it makes a tree active), measured in the same run, round by round
   in turn; plain `curl | tar -xz` (no sync) is printed too. Goal: <= 1.0x of curl|tar+sync.
   Nothing is removed before the last round: on ext4 without a journal, creating a file skips every
   inode freed in the last minutes (ext4's recently_deleted), so whoever ran after a removal of
   13,000 files paid for it (seconds). Leave some minutes between two runs of this benchmark.
   `--fresh` runs this part alone; GOFLEET_BENCH_ROUNDS sets the rounds (default 3), GOFLEET_BENCH_DIR
   the folder to work in (default: the temp folder), e.g. a journaled ext4 mounted for the purpose.
2. No-op re-run of a go_install task vs an ansible.builtin.stat task (the floor of any task), each
   as a one-task ansible-playbook on localhost, same number of runs. Goal: close to the floor.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)

from testbed import ansible_module, config, mirror  # noqa: E402  pylint: disable=wrong-import-position

ROUNDS = int(os.environ.get("GOFLEET_BENCH_ROUNDS", "3"))


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


def children_cpu():
    """CPU seconds (user + system) of every child process reaped so far, theirs included."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    tree = mirror.build_mirror()
    proc, url = start_server(tree)
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = config.collections_root()
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    work = tempfile.mkdtemp(prefix="bench-go-install-", dir=os.environ.get("GOFLEET_BENCH_DIR"))
    name = "go%s.linux-amd64.tar.gz" % config.NEWEST
    try:
        times = dict(curl=[], sync=[], module=[])
        cpu = dict(curl=[], sync=[], module=[])  # less at the mercy of a loaded machine than the wall clock

        def contender(kind, i):
            if kind == "module":
                where = dict(install_root=os.path.join(work, "root%d" % i), active_link=os.path.join(work, "link%d" % i))
                result = ansible_module.run("go_install", dict(base_url=url, version=config.NEWEST, **where))
                assert result["changed"] and result["rc"] == 0, result
                return
            dest = os.path.join(work, "%s%d" % (kind, i))
            os.makedirs(dest)
            cmd = "curl -sfL %s/dl/%s | tar -xz -C %s" % (url, name, dest)
            if kind == "sync":
                cmd += " && sync -f %s" % dest
            subprocess.run(cmd, shell=True, check=True)

        order = ["curl", "sync", "module"]
        for i in range(ROUNDS):
            for kind in order[i % 3:] + order[:i % 3]:  # each takes each place in turn
                subprocess.run("sync", check=True)  # each starts with nothing dirty (not timed)
                before = children_cpu()
                times[kind].append(timed(functools.partial(contender, kind, i)))
                cpu[kind].append(children_cpu() - before)
            print("  round %d: curl|tar %.2f s, curl|tar+sync %.2f s, go_install %.2f s (%.2fx of curl|tar+sync); "
                  "CPU %.2f / %.2f / %.2f s"
                  % (i + 1, times["curl"][-1], times["sync"][-1], times["module"][-1],
                     times["module"][-1] / times["sync"][-1], cpu["curl"][-1], cpu["sync"][-1], cpu["module"][-1]))
        module_times, curl_times, sync_times = times["module"], times["curl"], times["sync"]
        m, c, s = (statistics.median(t) for t in (module_times, curl_times, sync_times))
        per_round = statistics.median(a / b for a, b in zip(module_times, sync_times))
        print("fresh install go%s linux-amd64 (median of %d, same run; median of the rounds' ratios %.2fx):"
              % (config.NEWEST, ROUNDS, per_round))
        print("  curl | tar -xz               %6.2f s" % c)
        print("  curl | tar -xz && sync -f    %6.2f s   (the baseline: as durable as the install)" % s)
        print("  go_install (module)          %6.2f s   ratio %.2fx of curl|tar+sync (goal <= 1.0x), %.2fx of "
              "curl|tar; the module also verifies SHA-256, checks every member, writes a manifest with each "
              "file's sha256, checks bin/go's architecture and runs go version" % (m, m / s, m / c))
        cm, cs = statistics.median(cpu["module"]), statistics.median(cpu["sync"])
        print("  CPU (user+system, median): curl|tar+sync %.2f s, go_install %.2f s (%.2fx)" % (cs, cm, cm / cs))
        if "--fresh" in sys.argv[1:]:
            return

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
