# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module proxy source against the archive source (not part of the test run):

    python tests/benchmarks/bench_goproxy.py

1. Fresh install of one version through go_install from the go.dev-shaped mirror (archive,
   SHA-256) and from the module proxy (zip, h1: verified by the checksum database), same server,
   same run: wall time and bytes downloaded, and the ratio.
2. The verification's own cost: the checksum database lookup (signature, inclusion proof from
   tiles, consistency with a remembered head) with no head remembered and with one, and the h1:
   dirhash of the zip against the SHA-256 of the archive.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)

from testbed import ansible_module, config, goproxy, mirror, server  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, config.collections_root())
from ansible_collections.gofleet.golang.plugins.module_utils import _goproxy, _sumdb  # noqa: E402  pylint: disable=wrong-import-position

ROUNDS = 3
VERSION = config.OLDSTABLE


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    tree = mirror.build_mirror()
    proxy_tree = goproxy.build_goproxy()
    work = tempfile.mkdtemp(prefix="bench-goproxy-")
    vkey = goproxy.sumdb_vkey()
    try:
        with server.start(tree, work, tls=False, other=False, goproxy=proxy_tree) as running:
            url = running.url
            rows = {}
            for kind, args in (("archive (base_url, sha256)", dict(base_url=url)),
                               ("module (goproxy, sumdb h1)", dict(goproxy=url + "/goproxy", sumdb=vkey))):
                times, sizes = [], []
                for i in range(ROUNDS):
                    where = dict(install_root=os.path.join(work, "root-%d-%d" % (len(rows), i)),
                                 active_link=os.path.join(work, "link-%d-%d" % (len(rows), i)))
                    result = {}
                    times.append(timed(lambda: result.update(
                        ansible_module.run("go_install", dict(version=VERSION, **dict(args, **where))))))
                    assert result["changed"] and result["rc"] == 0, result
                    sizes.append(result["bytes_downloaded"])
                    shutil.rmtree(where["install_root"])
                rows[kind] = (statistics.median(times), statistics.median(sizes))
            (a_t, a_b), (m_t, m_b) = list(rows.values())
            print("fresh install go%s linux-amd64, go_install as Ansible runs it (median of %d):" % (VERSION, ROUNDS))
            for kind, (t, b) in rows.items():
                print("  %-28s %6.2f s  %6.1f MB downloaded" % (kind, t, b / 1e6))
            print("  ratio module/archive        %6.2fx time, %.2fx bytes" % (m_t / a_t, m_b / a_b))

            # the verification alone
            modver = goproxy.toolchain_version(VERSION, "linux", "amd64")
            db = _sumdb.parse_gosumdb(vkey)
            fetch = _goproxy.open_fetch(None)
            base = "file://%s/sumdb/%s" % (proxy_tree, config.SUMDB_NAME)
            cold = []
            warm = []
            for i in range(5):
                state = _sumdb.State(os.path.join(work, "state%d" % i))
                cold.append(timed(lambda: _sumdb.lookup(db, base, _goproxy.TOOLCHAIN, modver, fetch, state)))
                warm.append(timed(lambda: _sumdb.lookup(db, base, _goproxy.TOOLCHAIN, modver, fetch, state)))
            zip_path = os.path.join(proxy_tree, "golang.org", "toolchain", "@v", modver + ".zip")
            archive = os.path.join(tree, "go%s.linux-amd64.tar.gz" % VERSION)

            def h1():
                with open(zip_path, "rb") as f:
                    _goproxy.hash1_zip(f)

            def sha():
                with open(archive, "rb") as f:
                    h = hashlib.sha256()
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)

            print("verification's own cost (median of 5, file:// database):")
            print("  sumdb lookup, no head remembered   %7.1f ms" % (statistics.median(cold) * 1e3))
            print("  sumdb lookup, head remembered      %7.1f ms" % (statistics.median(warm) * 1e3))
            h, s = statistics.median(timed(h1) for dummy in range(5)), statistics.median(timed(sha) for dummy in range(5))
            print("  h1: dirhash of the zip (%.0f MB)    %7.1f ms" % (os.path.getsize(zip_path) / 1e6, h * 1e3))
            size = os.path.getsize(archive) / 1e6
            print("  sha256 of the archive (%.0f MB)     %7.1f ms   ratio %.2fx" % (size, s * 1e3, h / s))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
