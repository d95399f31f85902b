# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each fault switch of the mirror server produces the failure it names, and only while on."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import urllib.error
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
