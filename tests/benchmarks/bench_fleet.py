# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not part of the test run): the `go` role on a fleet of SSH hosts (issue 16).

Hosts: N containers of bookworm-amd64-ssh (testbed.hosts.running_ssh), reached as fleets are:
ssh as `fleet`, sudo, pipelining, ControlPersist. N = 1, 10, 25 (--quick: 1, 10); forks =
min(N, 25), and forks 10 as well for N = 25. One play, all hosts in one batch (no serial).

What runs on the same hosts, each measured the same way:
  go          gofleet.golang.go, per-host mode (each host downloads from the local mirror)
  go fleet    gofleet.golang.go with go_fleet_mode (the controller downloads once and pushes)
  gantsign    gantsign.golang's role (--gantsign PATH, a role folder outside this repository),
              gather_facts on, as its README runs it; version, mirror and sha256 as extra vars
  floor       three module tasks (stat, stat, command true): start-up, connection, modules

For each role: a fresh converge (new containers: a clean host per role) and the no-op re-run
(--runs runs, median). Sizes without a fresh converge (25 unless --fresh says so) start their
hosts from an image of a converged host (podman commit after the 1-host converge); each no-op
run asserts that nothing changed, so the hosts are converged however they got there.

Figures per run: wall time; controller CPU seconds = user+sys of the ansible-playbook process
tree (getrusage RUSAGE_CHILDREN around the run) + those of the SSH ControlPersist masters (they
detach from the tree: each run gets its own ControlPath folder, the masters are found in /proc by
that folder on their command line, read, then closed with `ssh -O exit`); the hosts' CPU (the
containers' cpuacct cgroups: sshd, sudo, python, tar on the managed side); bytes the mirror
served (GET /_testbed/log).

    cd tests && python benchmarks/bench_fleet.py --gantsign /tmp/gantsign [--quick] [--runs 3] [--fresh 1,10]
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from testbed import config, hosts, images, mirror, server  # noqa: E402  pylint: disable=wrong-import-position
from bench_roles import write_play  # noqa: E402  pylint: disable=wrong-import-position

IMAGE = "bookworm-amd64-ssh"
VERSION = config.NEWEST  # 1.27.3
ARCHIVE = "go%s.linux-amd64.tar.gz" % VERSION
CLK_TCK = os.sysconf("SC_CLK_TCK")
BENCH_REPO = "localhost/gofleet-bench"

GO_PLAY = """---
- name: Role go
  hosts: all
  gather_facts: false
  roles:
    - role: gofleet.golang.go
"""
GANTSIGN_PLAY = """---
- name: Role gantsign.golang
  hosts: all
  roles:
    - role: {path}
"""
FLOOR_PLAY = """---
- name: Floor
  hosts: all
  gather_facts: false
  tasks:
    - name: Stat the install root
      ansible.builtin.stat:
        path: /opt/go
    - name: Stat the active link
      ansible.builtin.stat:
        path: /usr/local/go
    - name: Run true
      ansible.builtin.command: "true"
      changed_when: false
"""


# --- measuring one ansible-playbook run ---------------------------------------------------------

def _ssh_masters(cpdir):
    """{pid: CPU seconds} of the ssh processes whose command line names `cpdir` (the masters)."""
    found = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        pid = int(stat.split("/")[2])
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
            # a master renames itself "ssh: <ControlPath> [mux]"; a client's argv[0] is ssh
            if not argv[0].startswith((b"ssh", b"/usr/bin/ssh")) or not any(cpdir.encode() in a for a in argv):
                continue
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    return found


def _close_masters(cpdir):
    for sock in glob.glob(os.path.join(cpdir, "*")):
        subprocess.run(["ssh", "-o", "ControlPath=" + sock, "-O", "exit", "fleet@127.0.0.1"],
                       capture_output=True, check=False, timeout=30)
    deadline = time.time() + 10
    while _ssh_masters(cpdir) and time.time() < deadline:
        time.sleep(0.1)


def _cgroups(running):
    """The cpuacct.usage files of the running containers."""
    out = []
    for host in running:
        path = images.podman("inspect", "--format", "{{.State.CgroupPath}}", host).stdout.strip()
        out.append("/sys/fs/cgroup/cpuacct%s/cpuacct.usage" % path)
    return out


def _hosts_cpu(files):
    total = 0
    for path in files:
        try:
            with open(path) as f:
                total += int(f.read())
        except OSError:
            return float("nan")  # not cgroup v1 cpuacct: the column says nan
    return total / 1e9


class Bench:
    def __init__(self, work, mirror_server):
        self.work = work
        self.server = mirror_server
        self.count = 0

    def run(self, play, inv, extra, forks, cgroup_files):
        """Run one playbook; return its figures (a failed run stops the benchmark with its output)."""
        self.count += 1
        cpdir = os.path.join(self.work, "cp%d" % self.count)  # short: a socket path has 108 bytes
        os.makedirs(cpdir)
        self.server.reset()
        host0 = _hosts_cpu(cgroup_files)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        rc, out, result = hosts.playbook(play, inv, extra, env={
            "ANSIBLE_FORKS": str(forks), "ANSIBLE_SSH_CONTROL_PATH_DIR": cpdir})
        wall = time.perf_counter() - start
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        masters = _ssh_masters(cpdir)
        _close_masters(cpdir)
        host1 = _hosts_cpu(cgroup_files)
        log = self.server.log()
        if rc != 0:
            raise SystemExit("%s failed (rc %d):\n%s" % (play, rc, out[-6000:]))
        stats = result.get("stats", {})
        changed_tasks = sorted({t["task"]["name"] for p in result.get("plays", []) for t in p.get("tasks", [])
                                if any(h.get("changed") for h in t.get("hosts", {}).values())})
        gets = [e for e in log if e["method"] == "GET"]
        return {
            "wall": wall,
            "wall_min": wall,
            "tree": (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime),
            "ssh": sum(masters.values()),
            "masters": len(masters),
            "hosts": host1 - host0,
            "bytes": sum(e["bytes"] for e in gets),
            "archives": sum(1 for e in gets if e["path"].endswith(".tar.gz") and e["bytes"]),
            "changed": sum(s.get("changed", 0) for s in stats.values()),
            "changed_hosts": sum(1 for s in stats.values() if s.get("changed", 0)),
            "ok": statistics.mean([s.get("ok", 0) for s in stats.values()]) if stats else 0,
            "nhosts": len(stats),
            "changed_tasks": changed_tasks,
        }


def median_of(runs):
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "changed_tasks"}
    out["wall_min"] = min(r["wall"] for r in runs)
    return out


# --- hosts ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def fleet(n, prefix, image_ref=None):
    """n SSH hosts of IMAGE, or of `image_ref` (a converged host committed by converged_image)."""
    saved = images.image_ref, images.ensure_image
    with contextlib.ExitStack() as stack:
        if image_ref:  # running_ssh starts containers of images.image_ref(name): point it at ours
            images.image_ref = images.ensure_image = lambda name: image_ref
        try:
            running = stack.enter_context(hosts.running_ssh([IMAGE] * n, prefix=prefix))
        finally:
            images.image_ref, images.ensure_image = saved
        yield running


def converged_image(host, label):
    ref = "%s:%s-%d" % (BENCH_REPO, label, os.getpid())
    images.podman("commit", "-q", host, ref, timeout=600)
    return ref


# --- the benchmark -------------------------------------------------------------------------------

def fmt_row(n, forks, what, kind, r):
    ctrl = r["tree"] + r["ssh"]
    return ("%3d %5d  %-9s %-5s %7.1f %6.1f %6.1f %5.2f/%-3d %6.1f %7.1f %8.1f %4d %5d/%-3d %5.1f"
            % (n, forks, what, kind, r["wall"], r["wall_min"], r["tree"], r["ssh"], r["masters"], ctrl, r["hosts"],
               r["bytes"] / 1e6, r["archives"], r["changed"], r["changed_hosts"], r["ok"]))


HEADER = ("  N forks  role      run    wall s   min s tree s  ssh s/mst ctrl s hosts s mirror MB  arc changed/hosts ok/host\n"
          "  (no-op: median of the runs, min s their fastest; tree s: ansible-playbook's process tree; ssh s/mst: the\n"
          "   ControlPersist masters' CPU and how many; ctrl s = tree + ssh (controller CPU); hosts s: the containers' CPU)")


def main():  # pylint: disable=too-many-locals,too-many-branches,too-many-statements
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gantsign", help="gantsign.golang's role folder (outside this repository)")
    ap.add_argument("--quick", action="store_true", help="N = 1 and 10 only")
    ap.add_argument("--runs", type=int, default=3, help="no-op runs per case (median)")
    ap.add_argument("--sizes", default=None, help="comma-separated N (default 1,10,25; --quick 1,10)")
    ap.add_argument("--fresh", default="1,10", help="sizes with a measured fresh converge (default 1,10)")
    args = ap.parse_args()
    sizes = [int(x) for x in (args.sizes or ("1,10" if args.quick else "1,10,25")).split(",")]
    fresh_sizes = {int(x) for x in args.fresh.split(",")} | {1}  # the 1-host converge makes the images
    if sizes[0] != 1:
        sizes = [1] + [n for n in sizes if n != 1]
    gantsign = os.path.abspath(args.gantsign) if args.gantsign else None
    if gantsign and not os.path.isfile(os.path.join(gantsign, "tasks", "main.yml")):
        raise SystemExit("--gantsign %s: not a role folder (no tasks/main.yml)" % gantsign)
    if gantsign and os.path.realpath(gantsign).startswith(config.REPO + os.sep):
        raise SystemExit("--gantsign: keep the role outside this repository")

    # stopped (SIGTERM, SIGHUP): the finally blocks still remove the containers, images and files
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit("bench_fleet: stopped by signal %d" % signum))
    tree = mirror.build_mirror()
    images.build_all([IMAGE])
    with open(os.path.join(tree, "index-all.json")) as f:
        sha256 = [fl["sha256"] for rel in json.load(f) for fl in rel["files"] if fl["filename"] == ARCHIVE][0]
    work = tempfile.mkdtemp(prefix="bf-")
    made_images = []
    table = []  # (n, forks, what, kind, figures)
    began = time.time()
    try:
        with server.start(tree, work, tls=False, other=False) as mirror_server:
            url = mirror_server.url
            bench = Bench(work, mirror_server)
            plays = {"go": write_play(os.path.join(work, "go.yml"), GO_PLAY),
                     "floor": write_play(os.path.join(work, "floor.yml"), FLOOR_PLAY)}
            cases = [("go", plays["go"], {"go_version": VERSION, "gofleet_go_base_url": url}),
                     ("go fleet", plays["go"], {"go_version": VERSION, "gofleet_go_base_url": url,
                                                "go_fleet_mode": True}),
                     ]
            if gantsign:
                plays["gantsign"] = write_play(os.path.join(work, "gantsign.yml"), GANTSIGN_PLAY.format(path=gantsign))
                cases.append(("gantsign", plays["gantsign"],
                              {"golang_version": VERSION, "golang_mirror": url + "/go",
                               "golang_redis_sha256sum": sha256}))
            else:
                print("no --gantsign PATH: the gantsign rows and ratios are left out", flush=True)
            print(HEADER, flush=True)
            base_images = {}
            for n in sizes:
                forks_list = [min(n, 25)] + ([10] if n == 25 else [])
                fresh = n in fresh_sizes
                with contextlib.ExitStack() as stack:
                    sets = {}  # every case's hosts are up together: its no-op runs take turns below
                    for what, play, extra in cases:
                        extra = dict(extra)
                        if what == "go fleet":  # the controller's cache: the role makes it on a fresh converge
                            extra["go_fleet_cache_dir"] = os.path.join(work, "cache-%d" % n)
                            if not fresh:  # hosts converged already: as the role leaves it (0755, empty is fine)
                                os.makedirs(extra["go_fleet_cache_dir"])
                                os.chmod(extra["go_fleet_cache_dir"], 0o755)
                        prefix = "gofleet-bench-%s" % what.replace(" ", "-")
                        running = stack.enter_context(fleet(n, prefix, None if fresh else base_images[what]))
                        inv = hosts.ssh_inventory(running, os.path.join(work, "inv-%s-%d.json" % (prefix, n)))
                        sets[what] = (play, inv, extra, _cgroups(running), running)
                    if fresh:
                        for what, (play, inv, extra, cg, running) in sets.items():
                            r = bench.run(play, inv, extra, forks_list[0], cg)
                            if r["changed_hosts"] != n:
                                raise SystemExit("%s fresh converge of %d hosts changed only %d of them"
                                                 % (what, n, r["changed_hosts"]))
                            table.append((n, forks_list[0], what, "fresh", r))
                            print(fmt_row(n, forks_list[0], what, "fresh", r), flush=True)
                            if n == 1 and any(s not in fresh_sizes for s in sizes):
                                base_images[what] = converged_image(next(iter(running)), what.replace(" ", "-"))
                                made_images.append(base_images[what])
                    # the floor on role go's hosts (converged: the stats find something)
                    sets["floor"] = (plays["floor"], sets["go"][1], None, sets["go"][3], None)
                    for forks in forks_list:
                        runs = {what: [] for what in sets}
                        for dummy in range(args.runs):  # round robin: a load swing hits every case
                            for what, (play, inv, extra, cg, running) in sets.items():
                                r = bench.run(play, inv, extra, forks, cg)
                                if r["changed"]:
                                    raise SystemExit("%s no-op re-run on %d hosts changed %d things: %s"
                                                     % (what, n, r["changed"], r["changed_tasks"]))
                                runs[what].append(r)
                        for what in sets:
                            m = median_of(runs[what])
                            table.append((n, forks, what, "no-op", m))
                            print(fmt_row(n, forks, what, "no-op", m), flush=True)
                print("  -- %d hosts done, %.0f s so far" % (n, time.time() - began), flush=True)
                ratios(table, n)
    finally:
        for ref in made_images:
            images.podman("rmi", "-f", ref, check=False)
        shutil.rmtree(work, ignore_errors=True)
        if table:  # also after a failure or a stop: what was measured
            report(table, [n for n in sizes if any(row[0] == n for row in table)], fresh_sizes, time.time() - began)


def report(table, sizes, fresh_sizes, took):
    def get(n, forks, what, kind):
        return _get(table, n, forks, what, kind)

    def ctrl(r):
        return r["tree"] + r["ssh"]

    print("\nFull table (%.0f s in all; fresh converge measured for N in %s, other sizes from a committed converged host)"
          % (took, sorted(n for n in sizes if n in fresh_sizes)))
    print(HEADER)
    for row in table:
        print(fmt_row(*row))

    print("\nGrowth with N (main forks = min(N, 25)): value at each N, then seconds per added host")
    for what, kind in [("floor", "no-op"), ("go", "no-op"), ("go fleet", "no-op"), ("gantsign", "no-op"),
                       ("go", "fresh"), ("go fleet", "fresh"), ("gantsign", "fresh")]:
        pts = [(n, get(n, min(n, 25), what, kind)) for n in sizes]
        pts = [(n, r) for n, r in pts if r]
        if not pts:
            continue
        for label, fn in (("wall", lambda r: r["wall"]), ("ctrl CPU", ctrl), ("hosts CPU", lambda r: r["hosts"]),
                          ("mirror MB", lambda r: r["bytes"] / 1e6)):
            vals = "  ".join("N=%d %7.1f" % (n, fn(r)) for n, r in pts)
            slope = ""
            if len(pts) > 1:
                (n0, r0), (n1, r1) = pts[0], pts[-1]
                slope = "  %+.2f per host" % ((fn(r1) - fn(r0)) / (n1 - n0))
            print("  %-8s %-5s %-9s %s%s" % (what, kind, label, vals, slope))

    print("\nRatios (wall / controller CPU), target in brackets")
    for n in sizes:
        ratios(table, n)


def _get(table, n, forks, what, kind):
    for row in table:
        if row[:4] == (n, forks, what, kind):
            return row[4]
    return None


def ratios(table, n):
    """The issue's ratios at N = n (those whose rows exist)."""
    def ctrl(r):
        return r["tree"] + r["ssh"]

    def line(label, a, b, target):
        if not (a and b):
            return
        w, c = a["wall"] / b["wall"], ctrl(a) / ctrl(b)
        verdict = "ok" if w <= target and c <= target else "MISSED"
        print("  %-46s wall %5.2f  cpu %5.2f   [<= %.2f] %s" % (label, w, c, target, verdict), flush=True)

    for forks in sorted({min(n, 25), 10 if n == 25 else min(n, 25)}, reverse=True):
        for what in ("go", "go fleet"):
            line("N=%-2d forks=%-2d no-op %s / gantsign" % (n, forks, what),
                 _get(table, n, forks, what, "no-op"), _get(table, n, forks, "gantsign", "no-op"), 0.35)
        for what in ("go", "go fleet"):
            line("N=%-2d forks=%-2d no-op %s / floor" % (n, forks, what),
                 _get(table, n, forks, what, "no-op"), _get(table, n, forks, "floor", "no-op"), 1.3)
    for what in ("go", "go fleet"):
        line("N=%-2d fresh %s / gantsign fresh" % (n, what),
             _get(table, n, min(n, 25), what, "fresh"), _get(table, n, min(n, 25), "gantsign", "fresh"), 0.5)
    a, b = _get(table, n, min(n, 25), "go", "fresh"), _get(table, n, min(n, 25), "go fleet", "fresh")
    if a and b:
        print("  N=%-2d fresh mirror bytes fleet / per-host: %.1f MB / %.1f MB = %.3f (%d archive(s) against %d)"
              % (n, b["bytes"] / 1e6, a["bytes"] / 1e6, b["bytes"] / a["bytes"], b["archives"], a["archives"]), flush=True)


if __name__ == "__main__":
    main()
