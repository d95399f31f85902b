# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real cmd/go is the outside oracle of the test bed's module proxy and checksum database
(testbed/goproxy.py, served by testbed/server.py at /goproxy/): the 1.27.3 `go` with
GOTOOLCHAIN=go1.26.6 downloads golang.org/toolchain@v0.0.1-go1.26.6.linux-amd64 from it, verifies it
against our database and runs it; and it refuses each lying-server fault the module's tests use."""

from __future__ import annotations

import os
import subprocess

import pytest

from testbed import config, goproxy

VERSION = config.OLDSTABLE
MODVER = goproxy.toolchain_version(VERSION, "linux", "amd64")
WANT = "go version go%s linux/amd64" % VERSION


@pytest.fixture
def proxy(go_mirror, goproxy_tree):
    """(server, tree, keys): the mirror server's /goproxy/ with every fault off, reset after the test."""
    return go_mirror, goproxy_tree, goproxy.keys(goproxy_tree)


SUMDB_CACHE = ("cache", "download", "sumdb", config.SUMDB_NAME)  # under GOMODCACHE: verified tiles, lookups
SEEN_TILES = ("tile/8/0/001.p/51", "tile/8/1/000.p/1")  # what cmd/go keeps after verifying our lookup


def _start(host_go, tmp_path, goproxy_list, gosumdb, seen_head=None, seen_tiles_from=None):
    """Start `go version` with GOTOOLCHAIN=go1.26.6 through the given GOPROXY/GOSUMDB, in a fresh
    module cache and GOPATH. seen_head: the tree head cmd/go remembers from an earlier run (the file
    it writes, $GOPATH/pkg/sumdb/<name>/latest); seen_tiles_from: a database folder whose tiles it
    verified then (the files it keeps under $GOMODCACHE/cache/download/sumdb/<name>/)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    gopath, modcache = tmp_path / "gopath", tmp_path / "modcache"
    if seen_head is not None:
        latest = gopath / "pkg" / "sumdb" / config.SUMDB_NAME / "latest"
        latest.parent.mkdir(parents=True)
        latest.write_text(seen_head)
    for tile in SEEN_TILES if seen_tiles_from else ():
        cached = modcache.joinpath(*SUMDB_CACHE, tile)
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(open(os.path.join(seen_tiles_from, tile), "rb").read())
    env = dict(os.environ, GOTOOLCHAIN="go" + VERSION, GOPROXY=goproxy_list, GOSUMDB=gosumdb, GOFLAGS="",
               GOPATH=str(gopath), GOMODCACHE=str(modcache), GOCACHE=str(tmp_path / "gocache"),
               GOENV="off", GONOSUMDB="", GONOSUMCHECK="", GOPRIVATE="", GOINSECURE="", GOTELEMETRY="off")
    return subprocess.Popen([host_go, "version"], env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc):
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _go(*args, **kwargs):
    return _finish(_start(*args, **kwargs))


def _db_url(server):
    return "%s/goproxy/sumdb/%s" % (server.url, config.SUMDB_NAME)


def _ok(what, done):
    assert done.returncode == 0, (what, done.stderr)
    assert done.stdout.strip() == WANT, (what, done.stdout, done.stderr)


def test_go_downloads_verifies_and_runs_the_toolchain(proxy, host_go, tmp_path):
    """Three ways at once (they are independent; run together they cost one): through the server
    with the database's URL; through the server with GOSUMDB=name+key alone, after a GOPROXY entry
    that 404s, from an older remembered head; and from the tree as a file:// GOPROXY."""
    server, tree, keys = proxy
    db = os.path.join(tree, "sumdb", config.SUMDB_NAME)
    runs = {
        "direct db": _start(host_go, tmp_path / "direct", server.url + "/goproxy",
                            "%s %s" % (keys["vkey"], _db_url(server))),
        # cmd/go asks each GOPROXY entry for /sumdb/<name>/supported: 404 at the first, 200 at ours;
        # it proves the old head (size SUMDB_OLD_SIZE) consistent with the new one from the tiles
        "proxied db": _start(host_go, tmp_path / "proxied", "%s/goproxy404,%s/goproxy" % (server.url, server.url),
                             keys["vkey"], seen_head=keys["old_note"]),
        "file tree": _start(host_go, tmp_path / "file", "file://" + tree, keys["vkey"]),
    }
    done = {what: _finish(proc) for what, proc in runs.items()}
    for what, result in done.items():
        _ok(what, result)
    paths = [e["path"] for e in server.log()]
    assert "/goproxy/golang.org/toolchain/@v/%s.zip" % MODVER in paths
    assert "/goproxy/sumdb/%s/lookup/golang.org/toolchain@%s" % (config.SUMDB_NAME, MODVER) in paths
    assert "/goproxy/sumdb/%s/tile/8/0/000" % config.SUMDB_NAME in paths  # the full tile: old -> new proof
    assert "/goproxy404/sumdb/%s/supported" % config.SUMDB_NAME in paths
    assert "/goproxy/sumdb/%s/supported" % config.SUMDB_NAME in paths
    assert "/goproxy404/golang.org/toolchain/@v/%s.zip" % MODVER in paths
    for what in ("direct", "proxied", "file"):
        # cmd/go remembers the head it verified and keeps the tiles it verified: what the fork test seeds
        assert (tmp_path / what / "gopath" / "pkg" / "sumdb" / config.SUMDB_NAME / "latest").read_text() \
            == keys["latest_note"], what
        for tile in SEEN_TILES:
            assert (tmp_path / what / "modcache").joinpath(*SUMDB_CACHE, tile).read_bytes() \
                == open(os.path.join(db, tile), "rb").read(), (what, tile)
        # cmd/go's own h1 of our zip is the one our database records
        assert (tmp_path / what / "modcache" / "cache" / "download" / "golang.org" / "toolchain" / "@v"
                / (MODVER + ".ziphash")).read_text().strip() == keys["records"][MODVER]["zip"], what


@pytest.mark.parametrize("fault,seen_head,message", [
    ("zip_tampered", None, "checksum mismatch"),
    ("sumdb_bad_signature", None, "invalid signature for key " + config.SUMDB_NAME),
    ("sumdb_other_key", None, "no verifiable signatures"),
    ("sumdb_no_line", None, "checksum missing from sumdb response"),
    # a client that already verified the real head (and its tiles) is handed a longer, forked log
    # (record 299 differs, in the second level-0 tile, so the fork's tiles agree with its own head):
    # cmd/go proves its remembered tree against the new one and reports the fork
    ("sumdb_fork", "latest_note", "go.sum database server misbehavior detected"),
    ("sumdb_bad_tile", None, "downloaded inconsistent tile"),
])
def test_go_refuses_each_lying_server(proxy, host_go, tmp_path, fault, seen_head, message):
    server, tree, keys = proxy
    server.fault(fault)
    done = _go(host_go, tmp_path, server.url + "/goproxy", "%s %s" % (keys["vkey"], _db_url(server)),
               seen_head=keys[seen_head] if seen_head else None,
               seen_tiles_from=os.path.join(tree, "sumdb", config.SUMDB_NAME) if seen_head else None)
    assert done.returncode != 0, done.stdout
    assert message in done.stderr, done.stderr
    assert WANT not in done.stdout
    assert not (tmp_path / "modcache" / "golang.org" / ("toolchain@" + MODVER) / "bin" / "go").exists()


def test_a_500_entry_stops_a_comma_list(proxy, host_go, tmp_path):
    server, dummy, keys = proxy
    done = _go(host_go, tmp_path, "%s/goproxy500,%s/goproxy" % (server.url, server.url),
               "%s %s" % (keys["vkey"], _db_url(server)))
    assert done.returncode != 0, done.stdout
    assert "500 Internal Server Error" in done.stderr, done.stderr
    paths = [e["path"] for e in server.log()]
    assert not any(p.startswith("/goproxy/golang.org/") for p in paths), paths
