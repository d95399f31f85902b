# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not part of the test run): a make.bash rebuild through go_toolchain_rebuild against
the same make.bash run by hand, in the same run.

The tree: the official go1.27.3 linux-amd64 distribution (from the test bed's mirror), bootstrap
the official go1.26.6. By hand: `cd <copy>/src && GOROOT_BOOTSTRAP=<1.26.6> bash make.bash` in a
fresh copy of the tree (the copy is made before the clock starts: make.bash builds in the tree
holding src/, so a careful person copies first, too). Through the module: the module as a
separate process (python module.py args.json, as Ansible runs it in the end) with
rebuild_goroot=always - its clock includes the copy into the staging folder, make.bash, the
verification (every binary's headers, `go version`, a small program built and run), the commit
and the atomic link switch. Pairs alternate their order (hand first, then module first, ...).
Prints each run, the module's own breakdown, the load average, the ratio module/hand of the
totals and the module's total over its own make.bash (its overhead, measured within one run and
so immune to load that changes between runs). Goal (issue 6): <= 1.05.

On a machine shared with other work, sequential runs see different loads; `--concurrent` runs
the pair at the same time instead, so both see the same background load (each then gets about
half of the CPUs, and both take about twice as long).

Each make.bash takes about 6 minutes on an idle 2-core machine; the default is one pair.

    cd <repo> && <venv>/bin/python tests/benchmarks/bench_go_toolchain_rebuild.py [pairs] [--concurrent]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)

from testbed import ansible_module, config, mirror  # noqa: E402  pylint: disable=wrong-import-position


def by_hand(tree, bootstrap, work):
    copy = os.path.join(work, "hand-%d" % time.time_ns(), "go")
    shutil.copytree(tree, copy, symlinks=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(GOROOT_BOOTSTRAP=bootstrap, GOTOOLCHAIN="local")
    start = time.perf_counter()
    done = subprocess.run(["bash", "make.bash"], cwd=os.path.join(copy, "src"), env=env, capture_output=True,
                          text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit("make.bash by hand failed: %s" % (done.stdout + done.stderr)[-3000:])
    shutil.rmtree(os.path.dirname(copy))
    return seconds


def through_module(tree, bootstrap, work):
    root = os.path.join(work, "module-%d" % time.time_ns())
    os.makedirs(root)
    subprocess.run(["cp", "-al", tree, os.path.join(root, "go" + config.NEWEST)], check=True)
    link = os.path.join(root, "usr-local-go")
    os.symlink(os.path.join(root, "go" + config.NEWEST), link)
    env = {k: "" for k in os.environ if k.startswith("GO")}
    start = time.perf_counter()
    result = ansible_module.run("go_toolchain_rebuild", {
        "goroot": link, "rebuild_goroot": "always", "bootstrap_goroot": bootstrap, "rebuild_tools": False},
        env=env, timeout=7200)
    seconds = time.perf_counter() - start
    if result.get("failed"):
        raise SystemExit("the module failed: %s" % result.get("msg"))
    shutil.rmtree(root)
    return seconds, result["goroot"]["seconds"]


def concurrent(tree, bootstrap, work, hand, module, overheads):
    out = {}
    threads = [threading.Thread(target=lambda: out.__setitem__("hand", by_hand(tree, bootstrap, work))),
               threading.Thread(target=lambda: out.__setitem__("module", through_module(tree, bootstrap, work)))]
    load = os.getloadavg()[0]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s, parts = out["module"]
    hand.append(out["hand"])
    module.append(s)
    overheads.append(s / parts["make"])
    print("  by hand      %7.1f s   | module %7.1f s (copy %.1f, make.bash %.1f, verify %.1f)  at the same time, "
          "load average before: %.1f" % (out["hand"], s, parts["copy"], parts["make"], parts["verify"], load), flush=True)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    pairs = int(args[0]) if args else 1
    tree, bootstrap = mirror.host_goroot(config.NEWEST), mirror.host_goroot(config.OLDSTABLE)
    work = tempfile.mkdtemp(prefix="bench-rebuild-")
    hand, module, overheads = [], [], []
    print("make.bash of go%s (official linux-amd64 source), bootstrap go%s, %d pair(s)%s, %d CPUs"
          % (config.NEWEST, config.OLDSTABLE, pairs, " run concurrently" if "--concurrent" in sys.argv else "",
             os.cpu_count()), flush=True)
    try:
        for i in range(pairs):
            if "--concurrent" in sys.argv:
                concurrent(tree, bootstrap, work, hand, module, overheads)
                continue
            order = ("hand", "module") if i % 2 == 0 else ("module", "hand")
            for which in order:
                load = os.getloadavg()[0]
                if which == "hand":
                    s = by_hand(tree, bootstrap, work)
                    hand.append(s)
                    print("  by hand      %7.1f s   (load average before: %.1f)" % (s, load), flush=True)
                else:
                    s, parts = through_module(tree, bootstrap, work)
                    module.append(s)
                    overheads.append(s / parts["make"])
                    print("  module       %7.1f s   (load average before: %.1f; copy %.1f, make.bash %.1f, verify %.1f)"
                          % (s, load, parts["copy"], parts["make"], parts["verify"]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = sum(module) / sum(hand)
    print("module / by hand: %.3f  (goal <= 1.05; totals %.1f s / %.1f s)" % (ratio, sum(module), sum(hand)))
    print("module total / its own make.bash: %s" % ", ".join("%.3f" % o for o in overheads))
    print("load average at the end: %.1f %.1f %.1f (other work on the machine shows up in both columns)"
          % os.getloadavg())


if __name__ == "__main__":
    main()
