# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test bed command line (run from tests/): python -m testbed {prepare|report|demo|serve}.

    prepare [all|mirror|goproxy|distpack|binaries|programs|images]  build what is missing from the cache
                                          (images: the Debian hosts and their SSH variants)
    report                                print the hosts and the mirror, as seen from inside
    demo                                  the main job on the built-in default (see README)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

from . import config, distpack, goproxy, hosts, images, mirror, programs


def prepare(what: str):
    t0 = time.time()
    if what in ("all", "mirror"):
        print("mirror:   %s" % mirror.build_mirror(), flush=True)
        for version, arch in ((config.NEWEST, "amd64"), (config.OLDSTABLE, "amd64"), (config.NEWEST, "arm64")):
            print("goroot:   %s" % mirror.host_goroot(version, arch), flush=True)
    if what in ("all", "goproxy"):
        t1 = time.time()
        print("goproxy:  %s (%.0f s)" % (goproxy.build_goproxy(), time.time() - t1), flush=True)
    if what in ("all", "distpack"):  # one make.bash -distpack (linux/arm GOARM=6): about 6 min cold
        t1 = time.time()
        built = distpack.build()
        print("distpack: %s (%.0f s)" % (built["dir"],
                                         time.time() - t1), flush=True)
    if what in ("all", "binaries"):
        print("binaries: %s" % mirror.build_binaries(), flush=True)
    if what in ("all", "programs"):
        print("programs: %s" % programs.build_programs(), flush=True)
    if what in ("all", "images"):
        for name, ref in images.build_all(sorted(images.IMAGES) + images.SSH_IMAGES).items():
            print("image:    %-18s %s" % (name, ref), flush=True)
    print("prepared %s in %.0f s" % (what, time.time() - t0))


def _start_server(tree: str):
    port_file = os.path.join(config.CACHE, "demo-mirror.port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    proc = subprocess.Popen([sys.executable, "-m", "testbed.server", "--root", tree, "--port-file", port_file],
                            cwd=os.path.dirname(config.HERE))
    deadline = time.time() + 30
    while not os.path.exists(port_file) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    with open(port_file) as f:
        return proc, "http://127.0.0.1:" + f.read().strip()


def report():
    """What the test bed offers, checked live: each host's arch and Python, the mirror's files."""
    tree = mirror.build_mirror()
    proc, url = _start_server(tree)
    try:
        print("local go.dev mirror: %s  (tree %s)" % (url, tree))
        with urllib.request.urlopen(url + "/dl/?mode=json&include=all", timeout=10) as r:
            index = json.load(r)
        for rel in index:
            print("  %-9s %s" % (rel["version"], ", ".join("%s-%s" % (f["os"], f["arch"]) for f in rel["files"])))
        print("hosts (podman, --network host):")
        for name in sorted(images.IMAGES):
            done = images.run(name, "sh", "-c",
                              "echo $(uname -m) $(python3 -c 'import platform; print(platform.python_version())') "
                              "$(. /etc/os-release; echo $PRETTY_NAME)")
            print("  %-16s %s" % (name, done.stdout.strip() or done.stderr.strip()))
    finally:
        proc.terminate()


def demo():
    """Provision Go from the local mirror onto an amd64 and an arm64 Debian host reached over SSH as a
    fleet is (user fleet, sudo, pipelining, ControlPersist); print the result. Prepares only what it
    uses: the mirror and the two SSH images."""
    tree = mirror.build_mirror()
    names = [images.ssh_name("bookworm-amd64"), images.ssh_name("bookworm-arm64")]
    images.build_all(names)
    images.ensure_binfmt_credentials()  # sudo (set-uid) in the emulated arm64 host
    proc, url = _start_server(tree)
    try:
        with hosts.running_ssh(names, prefix="gofleet-demo") as running:
            inv = hosts.ssh_inventory(running, os.path.join(config.CACHE, "demo-inventory.json"))
            rc, out, result = hosts.playbook(os.path.join(config.REPO, "playbooks", "provision.yml"), inv,
                                             {"gofleet_go_base_url": url})
            if rc != 0:
                print(out[-4000:])
                raise SystemExit("the provision playbook failed (rc %d)" % rc)
            print("\nper-host summary (from the playbook):")
            for host, res in sorted(hosts.task_results(result, "Summary").items()):
                print("  %-34s %s" % (host, res.get("msg")))
            print("\nchecked from outside each host (ssh as %s, a login shell):" % images.SSH_USER)
            for host in sorted(running):
                seen = hosts.ssh(running[host], "bash", "-lc", "echo $(uname -m): $(go version)")
                print("  %-34s %s" % (host, (seen.stdout or seen.stderr).strip()))
    finally:
        proc.terminate()


def main():
    p = argparse.ArgumentParser(prog="python -m testbed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare")
    pp.add_argument("what", nargs="?", default="all",
                    choices=["all", "mirror", "goproxy", "distpack", "binaries", "programs", "images"])
    sub.add_parser("report")
    sub.add_parser("demo")
    a = p.parse_args()
    if a.cmd == "prepare":
        prepare(a.what)
    elif a.cmd == "demo":
        demo()
    else:
        report()


if __name__ == "__main__":
    main()
