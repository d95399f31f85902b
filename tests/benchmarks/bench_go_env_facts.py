# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not part of the test run): go_env_facts on a host with three Go installations
against one `go env -json` call.

The host: a temporary home whose PATH has the official go1.26.6 and go1.27.3 linux-amd64 (the
second shadowed) and whose ~/sdk holds the official go1.27.3 linux-arm64 (foreign, not in use).
Prints the median of N runs of: one `go env -json`; the module in-process (what the module's
own work costs); the module as a separate process (python module.py args.json, as Ansible runs
it in the end, interpreter start and imports included); and the `go env` calls per installation.
Goal (issue 5): <= 1 s in total and <= 1 `go env` per installation.

    cd <repo> && /tmp/venvtest/bin/python tests/benchmarks/bench_go_env_facts.py [runs]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)
sys.path.insert(0, os.path.join(TESTS, "integration"))

from testbed import ansible_module, config, images, mirror, timing  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, config.collections_root())

from ansible_collections.gofleet.golang.plugins.module_utils import _goenv  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.gofleet.golang.plugins.modules import go_env_facts  # noqa: E402  pylint: disable=wrong-import-position
from test_go_env_facts import goroot  # noqa: E402  pylint: disable=wrong-import-position


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    images.ensure_binfmt()
    new, old, arm = mirror.host_goroot(), goroot(config.OLDSTABLE, "amd64"), goroot(config.NEWEST, "arm64")
    home = tempfile.mkdtemp(prefix="bench-goenv-")
    os.makedirs(os.path.join(home, "sdk"))
    os.symlink(arm, os.path.join(home, "sdk", "go" + config.NEWEST))
    for k in list(os.environ):
        if k.startswith(("GO", "CGO_")):
            del os.environ[k]
    os.environ.update(HOME=home, PATH=os.pathsep.join([os.path.join(old, "bin"), os.path.join(new, "bin"),
                                                       os.path.join(home, "go", "bin"), "/usr/bin", "/bin"]))
    args = {"login_environment": False, "install_root": os.path.join(home, "opt-go"),
            "active_link": os.path.join(home, "usr-local-go")}

    go = os.path.join(old, "bin", "go")
    one_env = timing.median_time(lambda: subprocess.run([go, "env", "-json"], capture_output=True, check=True), runs)

    calls = []
    real_probe = _goenv.probe_go_env

    def counting(run, go_path, *rest):
        calls.append(go_path)
        return real_probe(run, go_path, *rest)
    _goenv.probe_go_env = counting
    result = {}

    def in_process():
        result.update(ansible_module.call(go_env_facts.main, args))
    module_in = timing.median_time(in_process, runs)
    _goenv.probe_go_env = real_probe
    facts = result["ansible_facts"]["gofleet_go"]

    def as_process():
        out = ansible_module.run("go_env_facts", args)
        assert out["rc"] == 0, out
    module_proc = timing.median_time(as_process, runs)

    found = facts["installations"]
    per_install = {}
    for e in found:
        per_install[e["goroot"]] = sum(1 for c in calls if os.path.dirname(os.path.dirname(os.path.realpath(c))) ==
                                       e["goroot"]) / float(runs)
    print("go_env_facts benchmark (median of %d runs), %s" % (runs, time.strftime("%Y-%m-%d %H:%M:%S")))
    print("  installations found: %d (%s)" % (len(found), ", ".join(
        "%s %s/%s%s" % (e["version"], e["goos"], e["goarch"], " wins" if e["wins"] else "") for e in found)))
    print("  findings: %s" % ", ".join(facts["summary"]["codes"]))
    print("  one `go env -json`:            %7.3f s" % one_env)
    print("  module in-process:             %7.3f s   ratio %.1fx" % (module_in, module_in / one_env))
    print("  module as a process (Ansible): %7.3f s   ratio %.1fx" % (module_proc, module_proc / one_env))
    print("  `go env` calls per run: %.1f; per installation: %s" % (
        len(calls) / float(runs), ", ".join("%s=%.1f" % (os.path.basename(os.path.dirname(r)) + "/" +
                                                         os.path.basename(r), n) for r, n in per_install.items())))
    ok = module_proc <= 1.0 and all(n <= 1 for n in per_install.values())
    print("  goal (<= 1 s, <= 1 go env per installation): %s" % ("met" if ok else "NOT met"))


if __name__ == "__main__":
    main()
