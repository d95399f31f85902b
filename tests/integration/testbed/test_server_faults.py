# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each fault switch of the mirror server produces the failure it names, and only while on."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import urllib.error
import urllib.parse
import urllib.request

import pytest

from testbed import config

NAME = "go%s.linux-arm64.tar.gz" % config.OLDSTABLE


def _get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


@pytest.mark.parametrize("fault,code", [("http500", 500), ("http404", 404)])
def test_http_error_faults_then_healthy_after_count(go_mirror, fault, code):
    go_mirror.fault(fault, count=2)
    for attempt in range(2):
        with pytest.raises(urllib.error.HTTPError) as err:
            _get(go_mirror.url + "/dl/" + NAME + ".sha256")
        assert err.value.code == code, attempt
    assert len(_get(go_mirror.url + "/dl/" + NAME + ".sha256")) == 64


def test_truncate_sends_half_the_announced_body(go_mirror):
    go_mirror.fault("truncate", count=1)
    with urllib.request.urlopen(go_mirror.url + "/dl/" + NAME, timeout=30) as r:
        announced = int(r.headers["Content-Length"])
        with pytest.raises(http.client.IncompleteRead) as err:
            r.read()
    assert len(err.value.partial) == announced // 2
    assert go_mirror.log()[-1]["bytes"] == announced // 2


def test_stall_outlasts_a_client_timeout(go_mirror):
    go_mirror.fault("stall", count=1, seconds=3)
    with pytest.raises((socket.timeout, TimeoutError, urllib.error.URLError)):
        _get(go_mirror.url + "/go/" + NAME + ".sha256", timeout=1)
    # once the stall is used up, the same request answers at once
    assert len(_get(go_mirror.url + "/go/" + NAME + ".sha256", timeout=5)) == 64


def test_bad_digest_lies_in_index_and_sidecar(go_mirror):
    true_digest = hashlib.sha256(open(go_mirror.tree + "/" + NAME, "rb").read()).hexdigest()
    go_mirror.fault("bad_digest")
    index = json.loads(_get(go_mirror.url + "/dl/?mode=json&include=all"))
    listed = {f["filename"]: f["sha256"] for rel in index for f in rel["files"]}
    assert listed[NAME] != true_digest
    assert _get(go_mirror.url + "/dl/" + NAME + ".sha256").decode() != true_digest
    go_mirror.reset()
    assert _get(go_mirror.url + "/dl/" + NAME + ".sha256").decode() == true_digest


def test_redirect_loop_never_reaches_the_file(go_mirror):
    go_mirror.fault("redirect_loop")
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(go_mirror.url + "/dl/" + NAME + ".sha256")
    assert err.value.code == 302 and "infinite loop" in str(err.value)


def test_unknown_fault_is_refused(go_mirror):
    with pytest.raises(urllib.error.HTTPError) as err:
        go_mirror.fault("no_such_fault")
    assert err.value.code == 400


# ---- the hostile faults, on a server process with the TLS and the other listener ----------------
def _raw(base, path, timeout=10, context=None, headers=None):
    """(status, headers, body) of a GET, no redirect followed, body read to the end."""
    import ssl  # pylint: disable=import-outside-toplevel
    u = urllib.parse.urlsplit(base)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout,
                                           context=context or ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, r.headers, body


SIDECAR = "/go/" + NAME + ".sha256"


def test_oversize_sends_more_than_the_file_without_a_length(bed):
    bed.fault("oversize", bytes=1000)
    status, headers, body = _raw(bed.url, SIDECAR)
    assert status == 200 and headers["Content-Length"] is None and len(body) == 64 + 1000


def test_drip_sends_the_body_one_byte_at_a_time(bed):
    import time  # pylint: disable=import-outside-toplevel
    bed.fault("drip", seconds=0.02)
    t0 = time.monotonic()
    body = _raw(bed.url, SIDECAR)[2]
    # 64 bytes, one pause after each: the client has the body after the 63rd pause (the 64th
    # comes after the last byte), so 63 pauses is all a reader is sure to wait
    assert len(body) == 64 and time.monotonic() - t0 >= 63 * 0.02


def test_drip_headers_slows_the_status_line_and_headers(bed):
    import time  # pylint: disable=import-outside-toplevel
    bed.fault("drip_headers", seconds=0.01, count=1)
    t0 = time.monotonic()
    status, dummy, body = _raw(bed.url, SIDECAR)
    assert status == 200 and len(body) == 64 and time.monotonic() - t0 > 0.5


def test_bad_length_announces_no_number(bed):
    bed.fault("bad_length")
    status, headers, body = _raw(bed.url, SIDECAR)
    assert headers["Content-Length"] == "not-a-number" and len(body) == 64


def test_gzip_encodes_index_and_files_and_gzip_label_only_labels(bed):
    import gzip  # pylint: disable=import-outside-toplevel
    with open(bed.tree + "/" + NAME + ".sha256", "rb") as f:
        plain = f.read()
    bed.fault("gzip")
    status, headers, body = _raw(bed.url, SIDECAR)
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == plain
    status, headers, body = _raw(bed.url, "/dl/?mode=json&include=all")
    assert headers["Content-Encoding"] == "gzip" and json.loads(gzip.decompress(body)) == bed_index(bed)
    bed.reset()
    bed.fault("gzip_label")
    status, headers, body = _raw(bed.url, SIDECAR)
    assert headers["Content-Encoding"] == "gzip" and body == plain


def bed_index(bed):
    with open(bed.tree + "/index-all.json") as f:
        return json.load(f)


def test_tls_listener_is_trusted_with_the_test_ca_only(bed):
    import ssl  # pylint: disable=import-outside-toplevel
    assert _raw(bed.tls_url, SIDECAR, context=ssl.create_default_context(cafile=bed.ca))[0] == 200
    with pytest.raises(ssl.SSLCertVerificationError):
        _raw(bed.tls_url, SIDECAR, context=ssl.create_default_context())


def test_https_to_http_and_redirect_other(bed):
    import ssl  # pylint: disable=import-outside-toplevel
    bed.fault("https_to_http")
    status, headers, dummy = _raw(bed.tls_url, "/dl/" + NAME, context=ssl.create_default_context(cafile=bed.ca))
    assert status == 302 and headers["Location"] == bed.url + "/go/" + NAME
    bed.fault("redirect_other")
    status, headers, dummy = _raw(bed.url, "/dl/" + NAME)
    assert status == 302 and headers["Location"] == bed.other_url + "/go/" + NAME
    assert _raw(bed.other_url, "/go/" + NAME + ".sha256")[0] == 200
    assert [e["listener"] for e in bed.log()] == ["tls", "plain", "other"]


def test_auth_required_challenges_the_origin_and_the_log_records_authorization(bed):
    bed.fault("auth_required")
    status, headers, dummy = _raw(bed.url, SIDECAR)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    assert _raw(bed.url, SIDECAR, headers={"Authorization": "Basic eDp5"})[0] == 200
    assert _raw(bed.other_url, SIDECAR)[0] == 200  # the other origin asks for nothing
    assert [(e["status"], e["authorization"]) for e in bed.log()] == [(401, None), (200, "Basic eDp5"), (200, None)]
