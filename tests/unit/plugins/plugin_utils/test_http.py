# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's HTTP (plugins/plugin_utils/_http.py, requests) against the hostile test-bed
server: the same policy as the node's, from the same code in module_utils/_download.py."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
import requests

from ansible_collections.gofleet.golang.plugins.module_utils import _download, _errors, _tree
from ansible_collections.gofleet.golang.plugins.plugin_utils import _http
from testbed import config

NAME = "go%s.linux-arm64.tar.gz" % config.OLDSTABLE
SIDECAR = NAME + ".sha256"


def sidecar(tree):
    with open(os.path.join(tree, SIDECAR), "rb") as fh:
        data = fh.read()
    return data, hashlib.sha256(data).hexdigest()


def test_the_policy_is_imported_not_copied():
    assert issubclass(_http.HttpError, _download.DownloadError)
    assert issubclass(_http.HttpError, _errors.GofleetError)
    assert issubclass(_http.Client, _download.HttpClient)
    assert _http.redact_url is _download.redact_url


def test_fetch_text_reads_the_index_with_identity_encoding(bed):
    with open(os.path.join(bed.tree, "index-all.json")) as fh:
        expected = fh.read()
    assert _http.fetch_text(bed.url + "/dl/?mode=json&include=all", timeout=5) == expected
    assert bed.log()[-1]["accept_encoding"] == "identity"


def test_gzip_encoded_index_is_decoded_and_capped(bed):
    with open(os.path.join(bed.tree, "index-all.json")) as fh:
        expected = fh.read()
    bed.fault("gzip")
    assert _http.fetch_text(bed.url + "/dl/?mode=json&include=all", timeout=5) == expected
    with pytest.raises(_http.HttpError) as err:
        _http.fetch_text(bed.url + "/dl/?mode=json&include=all", timeout=5, max_bytes=1500)
    assert "decodes to more than 1500 bytes" in str(err.value)


def test_index_larger_than_the_cap_is_refused(bed):
    bed.fault("oversize", bytes=64 << 20)
    t0 = time.monotonic()
    with pytest.raises(_http.HttpError) as err:
        _http.fetch_text(bed.url + "/dl/" + SIDECAR, timeout=5, max_bytes=1 << 20)
    assert "larger than 1048576 bytes" in str(err.value) and time.monotonic() - t0 < 30


@pytest.mark.parametrize("fault", ["drip", "drip_headers"])
def test_a_dripping_server_meets_the_deadline(bed, fault):
    bed.fault(fault, seconds=1)
    t0 = time.monotonic()
    with pytest.raises(_http.HttpError) as err:
        _http.fetch_text(bed.url + "/dl/" + SIDECAR, timeout=2, deadline=2)
    assert "deadline of 2 seconds" in str(err.value) and time.monotonic() - t0 < 20  # 60 s without it
    assert err.value.status is None


def test_non_numeric_content_length_is_a_clear_error(bed):
    bed.fault("bad_length")
    with pytest.raises(_http.HttpError) as err:
        _http.fetch_text(bed.url + "/dl/" + SIDECAR, timeout=5, sleep=lambda s: None)
    assert "not a byte count" in str(err.value)


def test_http_error_keeps_its_status(bed):
    bed.fault("http404")
    with pytest.raises(_http.HttpError) as err:
        _http.fetch_text(bed.url + "/dl/" + SIDECAR, timeout=5)
    assert err.value.status == 404
    bed.reset()
    bed.fault("http500")
    waits = []
    with pytest.raises(_http.HttpError) as err:
        _http.fetch_text(bed.url + "/dl/" + SIDECAR, timeout=5, retries=2, sleep=waits.append)
    assert err.value.status == 500 and waits == [0.5, 1.0]


def test_tls_with_ca_path_and_without(bed):
    data, dummy = sidecar(bed.tree)
    assert _http.fetch_text(bed.tls_url + "/dl/" + SIDECAR, timeout=5, ca_path=bed.ca) == data.decode()
    waits = []
    with pytest.raises(_http.HttpError) as err:
        _http.fetch_text(bed.tls_url + "/dl/" + SIDECAR, timeout=5, sleep=waits.append)
    assert "TLS certificate not trusted" in str(err.value) and "ca_path=" in str(err.value) and waits == []


def test_https_redirect_to_http_is_refused(bed):
    bed.fault("https_to_http")
    with pytest.raises(_http.HttpError) as err:
        _http.fetch_text(bed.tls_url + "/dl/" + SIDECAR, timeout=5, ca_path=bed.ca)
    assert "refused a redirect from https to plain http" in str(err.value) and err.value.status == 302
    assert [e["listener"] for e in bed.log()] == ["tls"]


def test_requests_alone_would_follow_https_to_http(bed):
    """Why the policy is needed on the controller too: requests' own redirects take the downgrade."""
    bed.fault("https_to_http")
    r = requests.get(bed.tls_url + "/dl/" + SIDECAR, verify=bed.ca, timeout=5)
    assert r.status_code == 200 and r.url.startswith("http://")


@pytest.mark.parametrize("how", ["force_basic_auth", "challenge", "userinfo", "netrc"])
def test_credentials_go_to_the_origin_only(bed, tmp_path, monkeypatch, how):
    data, digest = sidecar(bed.tree)
    url = bed.url + "/dl/" + SIDECAR
    kw = dict(username="fleet", password="s3cret", force_basic_auth=True)
    if how == "userinfo":
        url, kw = url.replace("://", "://fleet:s3cret@"), dict(force_basic_auth=True)
    elif how == "netrc":
        netrc = tmp_path / "netrc"
        netrc.write_text("machine 127.0.0.1 login fleet password s3cret\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        kw = {}
    bed.fault("redirect_other")
    if how == "challenge":  # not preemptive: sent when the origin asks (401), to the origin only
        kw["force_basic_auth"] = False
        bed.fault("auth_required")
    path = _http.download(url, str(tmp_path), digest, len(data), name=SIDECAR, timeout=5, **kw)
    assert _tree.file_digest(path) == digest
    full = bed.log()
    log = [e for e in full if e["status"] != 401]
    assert [(e["listener"], e["status"]) for e in log] == [("plain", 302), ("other", 200)]
    assert log[0]["authorization"].startswith("Basic ") and log[1]["authorization"] is None
    assert len(full) == (3 if how == "challenge" else 2)


def test_no_credentials_without_a_challenge_unless_forced(bed, tmp_path):
    data, digest = sidecar(bed.tree)
    bed.fault("redirect_other")
    _http.download(bed.url + "/dl/" + SIDECAR, str(tmp_path), digest, len(data), timeout=5, username="fleet",
                   password="s3cret")
    assert [e["authorization"] for e in bed.log()] == [None, None]


def test_errors_redact_credentials(bed):
    bed.fault("http404")
    with pytest.raises(_http.HttpError) as err:
        _http.fetch_text(bed.url.replace("://", "://fleet:s3cret@") + "/dl/" + SIDECAR, timeout=5)
    assert "s3cret" not in str(err.value) and "***@127.0.0.1" in str(err.value)


def test_download_caps_an_oversize_body(bed, tmp_path):
    data, digest = sidecar(bed.tree)
    bed.fault("oversize", bytes=64 << 20)
    with pytest.raises(_http.HttpError) as err:
        _http.download(bed.url + "/dl/" + SIDECAR, str(tmp_path), digest, len(data), timeout=5)
    assert "more than the 64 bytes published" in str(err.value) and os.listdir(tmp_path) == []
