# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not part of the test run): the `go` role on the test bed's bookworm amd64 hosts.

1. No-op re-run: on one container where the role has already converged, the median wall time
   of ansible-playbook running the role again (nothing changes) against a play of a single
   ansible.builtin.stat task on the same container (the floor: start-up, connection, one module).
2. Upstream bytes: a 3-host converge in per-host mode (each host downloads from the mirror)
   against fleet mode (the controller downloads each archive once into its cache and pushes it),
   counted from the mirror server's request log (GET /_testbed/log, bytes sent).

    bash tests/testbed/run bench        # all benchmarks
    cd tests && python benchmarks/bench_roles.py [runs]   # this one (the test bed's venv python)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)

from testbed import hosts, images, mirror  # noqa: E402  pylint: disable=wrong-import-position

NAME = "bookworm-amd64"


def start_mirror(tree, workdir):
    port_file = os.path.join(workdir, "port")
    proc = subprocess.Popen([sys.executable, "-m", "testbed.server", "--root", tree, "--port-file", port_file],
                            cwd=TESTS)
    deadline = time.time() + 30
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise SystemExit("the mirror server did not start")
        time.sleep(0.05)
    with open(port_file) as f:
        return proc, "http://127.0.0.1:" + f.read().strip()


def mirror_log(url, reset=False):
    if reset:
        urllib.request.urlopen(urllib.request.Request(url + "/_testbed/reset", data=b"", method="POST"), timeout=10).read()
        return []
    with urllib.request.urlopen(url + "/_testbed/log", timeout=10) as r:
        return json.loads(r.read())


def write_play(path, body):
    with open(path, "w") as f:
        f.write(body)
    return path


def run(play, inv, extra=None):
    start = time.perf_counter()
    rc, out, result = hosts.playbook(play, inv, extra)
    took = time.perf_counter() - start
    if rc != 0:
        raise SystemExit("%s failed (rc %d):\n%s" % (play, rc, out[-4000:]))
    changed = sum(s.get("changed", 0) for s in result.get("stats", {}).values())
    return took, changed


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    tree = mirror.build_mirror()
    images.build_all([NAME])
    work = tempfile.mkdtemp(prefix="bench-roles-")
    proc, url = start_mirror(tree, work)
    role_play = write_play(os.path.join(work, "role.yml"), """---
- name: Role go
  hosts: all
  gather_facts: false
  roles:
    - role: gofleet.golang.go
""")
    stat_play = write_play(os.path.join(work, "stat.yml"), """---
- name: Floor
  hosts: all
  gather_facts: false
  tasks:
    - name: Stat
      ansible.builtin.stat:
        path: /usr/local/go
""")
    try:
        # 1. no-op re-run vs a stat play, same container
        with hosts.running([NAME], prefix="gofleet-bench-noop") as running:
            inv = hosts.inventory(running, os.path.join(work, "noop.json"), gofleet_go_base_url=url)
            first, changed = run(role_play, inv)
            print("role go, first converge: %.1f s (%d changed)" % (first, changed), flush=True)
            role_times, stat_times = [], []
            for dummy in range(runs):
                took, changed = run(role_play, inv)
                assert changed == 0, "the re-run changed %d things" % changed
                role_times.append(took)
                stat_times.append(run(stat_play, inv)[0])
            role_t, stat_t = statistics.median(role_times), statistics.median(stat_times)
            print("no-op re-run of role go: median %.2f s over %d runs (0 changed)" % (role_t, runs))
            print("plain ansible.builtin.stat play:   median %.2f s over %d runs" % (stat_t, runs))
            print("role overhead above the floor: %.2f s (%.1fx)" % (role_t - stat_t, role_t / stat_t), flush=True)

        # 2. upstream bytes, 3 hosts: per-host mode vs fleet mode
        figures = {}
        for mode in ("per-host", "fleet"):
            cache = os.path.join(work, "cache-" + mode)
            with hosts.running([NAME] * 3, prefix="gofleet-bench-" + mode) as running:  # three hosts of one image
                inv = hosts.inventory(running, os.path.join(work, mode + ".json"), gofleet_go_base_url=url,
                                      go_fleet_mode=(mode == "fleet"), go_fleet_cache_dir=cache)
                mirror_log(url, reset=True)
                took, changed = run(role_play, inv)
                log = mirror_log(url)
            total = sum(e["bytes"] for e in log if e["method"] == "GET")
            archives = sum(e["bytes"] for e in log if e["method"] == "GET" and e["path"].endswith(".tar.gz"))
            gets = sum(1 for e in log if e["method"] == "GET")
            figures[mode] = total
            print("3-host converge, %-8s mode: %6.1f MB from the mirror (%5.1f MB archives, %d GETs), %.1f s"
                  % (mode, total / 1e6, archives / 1e6, gets, took), flush=True)
        print("fleet mode fetches %.2fx the bytes of per-host mode (%.1f MB saved)"
              % (figures["fleet"] / figures["per-host"], (figures["per-host"] - figures["fleet"]) / 1e6))
    finally:
        proc.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
