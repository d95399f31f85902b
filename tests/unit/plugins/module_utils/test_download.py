# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Downloads through ansible-core's fetch_url against the real mirror server and its faults."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _download, _tree
from testbed import ansible_module, config

NAME = "go%s.linux-arm64.tar.gz" % config.OLDSTABLE


@pytest.fixture
def fetcher():
    return ansible_module.fetcher()


def _published(go_mirror, name=NAME):
    for rel in go_mirror.index():
        for fl in rel["files"]:
            if fl["filename"] == name:
                return fl
    raise KeyError(name)


def test_download_verifies_and_counts_bytes(fetcher, go_mirror, tmp_path):
    fl = _published(go_mirror)
    path = fetcher.download(go_mirror.url + "/dl/" + NAME, str(tmp_path), fl["sha256"], fl["size"], name=NAME)
    assert _tree.file_digest(path) == fl["sha256"] and os.path.getsize(path) == fl["size"]
    assert fetcher.bytes_downloaded == fl["size"]
    assert [e["status"] for e in go_mirror.log()] == [302, 200]  # followed go.dev's redirect


def test_digest_mismatch_names_both_digests_and_leaves_nothing(fetcher, go_mirror, tmp_path):
    fl = _published(go_mirror)
    wrong = "1" * 64
    with pytest.raises(_download.DownloadError) as err:
        fetcher.download(go_mirror.url + "/dl/" + NAME, str(tmp_path), wrong, fl["size"], name=NAME)
    assert fl["sha256"] in str(err.value) and wrong in str(err.value)
    assert os.listdir(tmp_path) == []
    assert fetcher.waits == []  # a digest mismatch is not retried


@pytest.mark.parametrize("fault", ["http500", "truncate"])
def test_transient_fault_is_retried_with_backoff(fetcher, go_mirror, tmp_path, fault):
    fl = _published(go_mirror)
    go_mirror.fault(fault, count=2)
    path = fetcher.download(go_mirror.url + "/dl/" + NAME, str(tmp_path), fl["sha256"], fl["size"], name=NAME)
    assert _tree.file_digest(path) == fl["sha256"]
    assert fetcher.waits == [1.0, 2.0]
    assert os.listdir(tmp_path) == [os.path.basename(path)]


@pytest.mark.parametrize("fault,words", [
    ("http500", "HTTP 500"),
    ("truncate", "connection closed after"),
    ("stall", "timeout"),
])
def test_persistent_fault_gives_up_cleanly(fetcher, go_mirror, tmp_path, fault, words):
    fl = _published(go_mirror)
    go_mirror.fault(fault, seconds=4)
    with pytest.raises(_download.DownloadError) as err:
        fetcher.download(go_mirror.url + "/dl/" + NAME, str(tmp_path), fl["sha256"], fl["size"], name=NAME)
    assert words in str(err.value) and "gave up after 3 attempts" in str(err.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fault,words", [("http404", "HTTP 404"), ("redirect_loop", "redirect")])
def test_permanent_fault_is_not_retried(fetcher, go_mirror, tmp_path, fault, words):
    go_mirror.fault(fault)
    with pytest.raises(_download.DownloadError) as err:
        fetcher.download(go_mirror.url + "/dl/" + NAME, str(tmp_path), "0" * 64, None, name=NAME)
    assert words in str(err.value)
    assert fetcher.waits == [] and os.listdir(tmp_path) == []


def test_get_text_reads_sidecar(fetcher, go_mirror):
    assert fetcher.get_text(go_mirror.url + "/dl/" + NAME + ".sha256") == _published(go_mirror)["sha256"]


def test_http_error_keeps_its_status(fetcher, go_mirror):
    go_mirror.fault("http404")
    with pytest.raises(_download.DownloadError) as err:
        fetcher.get_text(go_mirror.url + "/dl/" + NAME + ".sha256")
    assert err.value.status == 404 and fetcher.waits == []
    go_mirror.reset()
    with pytest.raises(_download.DownloadError) as err:
        fetcher.get_text("http://127.0.0.1:9/nothing-listens-here")
    assert err.value.status is None


def test_url_options_bring_ca_path_and_the_deadline():
    spec = _download.url_options()
    assert spec["ca_path"] == dict(type="path")
    assert spec["download_deadline"] == dict(type="int", default=3600)
    assert "url" not in spec and "follow_redirects" not in spec


def test_get_status_is_gone():
    """go_install reads DownloadError.status instead of asking the server a second time."""
    assert not hasattr(_download.Fetcher, "get_status")


# ---- the policy: plain functions the controller shares -------------------------------------------
@pytest.mark.parametrize("url,expected", [
    ("https://user:pa%40ss@mirror.example/dl/x", "https://***@mirror.example/dl/x"),
    ("https://token@mirror.example:8443/dl/", "https://***@mirror.example:8443/dl/"),
    ("https://mirror.example/go/x.tar.gz?X-Amz-Signature=abc&X-Amz-Credential=k%2F1&v=2",
     "https://mirror.example/go/x.tar.gz?X-Amz-Signature=***&X-Amz-Credential=***&v=2"),
    ("https://mirror.example/dl/?mode=json&include=all", "https://mirror.example/dl/?mode=json&include=all"),
    ("http://127.0.0.1:8080/a@b", "http://127.0.0.1:8080/a@b"),
    (None, None),
])
def test_redact_url(url, expected):
    assert _download.redact_url(url) == expected


def test_redact_text_redacts_every_url_in_a_message():
    text = "<urlopen error for https://u:secret@h/x and http://k@h2/?token=t1>"
    out = _download.redact_text(text)
    assert "secret" not in out and "t1" not in out and "k@" not in out and "https://***@h/x" in out


@pytest.mark.parametrize("a,b,same", [
    ("https://h/dl/x", "https://H:443/go/x", True),
    ("http://h/dl/x", "http://h:80/go/x", True),
    ("https://h/dl/x", "http://h/go/x", False),       # scheme
    ("https://h/dl/x", "https://h:8443/go/x", False),  # port
    ("https://h/dl/x", "https://h.evil/go/x", False),  # host
    ("https://u:p@h/dl/x", "https://h/go/x", True),    # credentials are not part of the origin
])
def test_credentials_only_to_the_origin(a, b, same):
    assert _download.sends_credentials(a, b) is same


@pytest.mark.parametrize("current,location,expected", [
    ("https://go.dev/dl/x", "https://dl.google.com/go/x", "https://dl.google.com/go/x"),
    ("https://go.dev/dl/x", "/go/x", "https://go.dev/go/x"),
    ("http://m/dl/x", "https://m/go/x", "https://m/go/x"),  # an upgrade is fine
    ("http://m/dl/x", "http://other:81/go/x", "http://other:81/go/x"),
])
def test_redirect_target_follows(current, location, expected):
    assert _download.redirect_target(current, location, 302) == expected


@pytest.mark.parametrize("current,location,words", [
    ("https://go.dev/dl/x", "http://go.dev/go/x", "from https to plain http"),
    ("https://go.dev/dl/x", "HTTP://evil/go/x", "from https to plain http"),
    ("https://go.dev/dl/x", "file:///etc/shadow", "only http(s) URLs"),
    ("https://go.dev/dl/x", "ftp://h/x", "only http(s) URLs"),
    ("https://go.dev/dl/x", "https://u:p@evil/x", "with credentials"),
    ("https://go.dev/dl/x", "", "without a Location"),
    ("https://go.dev/dl/x", None, "without a Location"),
    ("https://go.dev/dl/x", "https://h:notaport/x", "invalid URL"),
])
def test_redirect_target_refuses(current, location, words):
    with pytest.raises(_download.DownloadError) as err:
        _download.redirect_target(current, location, 301)
    assert words in str(err.value) and err.value.status == 301 and "u:p" not in str(err.value)


def test_insecure_transport_warning():
    warn = _download.insecure_transport_warning
    assert "plain http://" in warn("http://u:pw@m/dl/", None) and "pw" not in warn("http://u:pw@m/dl/", None)
    assert warn("http://m/dl/", "ab" * 32) is None  # a pinned checksum needs no trusted transport
    assert warn("https://m/dl/", None) is None
    assert "validate_certs=false" in warn("https://m/dl/", None, validate_certs=False)
    assert warn("https://m/dl/", True, validate_certs=False) is None


@pytest.mark.parametrize("value,expected", [(None, None), ("0", 0), (" 64 ", 64), ("64, 64", 64)])
def test_parse_content_length(value, expected):
    assert _download.parse_content_length(value) == expected


@pytest.mark.parametrize("value", ["abc", "-1", "1e3", "64, 65", "", "٣", "9" * 30])
def test_parse_content_length_refuses(value):
    with pytest.raises(_download.DownloadError) as err:
        _download.parse_content_length(value, "https://u:p@m/x")
    assert "not a byte count" in str(err.value) and "u:p" not in str(err.value)


def test_call_with_deadline_returns_raises_and_cuts_off():
    assert _download.call_with_deadline(lambda cancelled: 42, 5) == 42
    with pytest.raises(KeyError):
        _download.call_with_deadline(lambda cancelled: {}["x"], 5)
    seen = []

    def slow(cancelled):
        cancelled.wait(10)
        seen.append(cancelled.is_set())

    t0 = time.monotonic()
    with pytest.raises(_download.DeadlineExceeded):
        _download.call_with_deadline(slow, 0.3)
    assert time.monotonic() - t0 < 8  # the callee alone would take 10 s
    time.sleep(0.2)
    assert seen == [True]  # the helper thread was told to stop


# ---- the oldest and the newest Python of managed nodes ------------------------------------------------------------------
NODE_PYTHONS = {"3.8": os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python"),
                "3.13": os.path.expanduser("~/.pyenv/versions/3.13.0/bin/python")}


@pytest.mark.parametrize("version", sorted(NODE_PYTHONS))
def test_policy_and_download_run_on_node_pythons(go_mirror, tmp_path, version):
    """Standard library only (-S), ansible's module_utils as AnsiballZ brings them."""
    python = NODE_PYTHONS[version]
    if not os.path.exists(python):
        pytest.skip("pyenv's Python %s is not installed" % version)
    import ansible  # pylint: disable=import-outside-toplevel
    shim = tmp_path / "payload"
    shim.mkdir()
    os.symlink(os.path.dirname(ansible.__file__), shim / "ansible")
    fl = _published(go_mirror)
    code = (
        "import sys, threading\n"
        "from ansible_collections.gofleet.golang.plugins.module_utils import _download as D, _tree as T\n"
        "print(D.redact_url('https://u:p@h/x?token=1'))\n"
        "print(D.sends_credentials('https://h/a', 'https://h:443/b'))\n"
        "c = D.HttpClient(D.AnsibleTransport({}), timeout=5, retries=0)\n"
        "p = c.download(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))\n"
        "print(T.file_digest(p) == sys.argv[3])\n"
        "print(sys.version_info[:2])\n"
    )
    done = subprocess.run([python, "-S", "-c", code, go_mirror.url + "/dl/" + NAME, str(tmp_path), fl["sha256"],
                           str(fl["size"])], capture_output=True, text=True, check=False, timeout=120,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join([config.collections_root(), str(shim)])))
    assert done.returncode == 0, done.stderr
    expected = str(tuple(int(n) for n in version.split(".")))
    assert done.stdout.split("\n")[:4] == ["https://***@h/x?token=***", "True", "True", expected]
