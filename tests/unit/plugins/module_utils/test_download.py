# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Downloads through ansible-core's fetch_url against the real mirror server and its faults."""

from __future__ import annotations

import os

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gofleet.golang.plugins.module_utils import _download
from testbed import config

NAME = "go%s.linux-arm64.tar.gz" % config.OLDSTABLE


@pytest.fixture
def fetcher():
    with patch_module_args({"timeout": 2, "retries": 2}):
        module = AnsibleModule(argument_spec=_download.url_options())
    waits = []
    f = _download.Fetcher(module, sleep=waits.append)
    f.waits = waits
    return f


def _published(go_mirror, name=NAME):
    for rel in go_mirror.index():
        for fl in rel["files"]:
            if fl["filename"] == name:
                return fl
    raise KeyError(name)


def test_download_verifies_and_counts_bytes(fetcher, go_mirror, tmp_path):
    fl = _published(go_mirror)
    path = fetcher.download(go_mirror.url + "/dl/" + NAME, str(tmp_path), fl["sha256"], fl["size"], name=NAME)
    assert _download.sha256_of(path) == fl["sha256"] and os.path.getsize(path) == fl["size"]
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
    assert _download.sha256_of(path) == fl["sha256"]
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


@pytest.mark.parametrize("value,expected", [
    ("sha256:" + "AB" * 32, "ab" * 32), ("ab" * 32, "ab" * 32), (None, None)])
def test_parse_checksum(value, expected):
    assert _download.parse_checksum(value) == expected


@pytest.mark.parametrize("value", ["md5:abc", "sha256:123", "xyz"])
def test_parse_checksum_refuses(value):
    with pytest.raises(ValueError):
        _download.parse_checksum(value)
