# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node's downloads (module_utils/_download.Fetcher over ansible-core's urls) against a hostile
mirror for real: a server of the test bed (testbed/server.py) with a TLS listener (testbed/tls.py)
and a second origin on 127.0.0.2, small tmpfs mounts for a full disk. Issue 14, items 5 and 6.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import subprocess
import time

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _download, _tree
from testbed import config
from testbed.ansible_module import fetcher

NAME = "go%s.linux-arm64.tar.gz" % config.OLDSTABLE
SIDECAR = NAME + ".sha256"


def published(tree, name=NAME):
    with open(os.path.join(tree, name), "rb") as fh:
        data = fh.read()
    return hashlib.sha256(data).hexdigest(), len(data)


def sidecar(tree):
    with open(os.path.join(tree, SIDECAR), "rb") as fh:
        data = fh.read()
    return data, hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def tmpfs(path, size="20m"):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", path], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", path], check=True)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


# ---- item 5: downloads with limits -------------------------------------------------------------
def test_oversize_body_stops_at_published_size_plus_one(bed, tmp_path):
    """A server that streams 64 MiB past the 64 published bytes into a 20 MiB disk: the client stops
    reading after 65 bytes, says so, retries nothing and leaves the disk as it was."""
    data, digest = sidecar(bed.tree)
    bed.fault("oversize", bytes=64 << 20)
    f = fetcher()
    with tmpfs(str(tmp_path / "small")) as disk:
        before = free_bytes(disk)
        with pytest.raises(_download.DownloadError) as err:
            f.download(bed.url + "/dl/" + SIDECAR, disk, digest, len(data), name=SIDECAR)
        assert "more than the 64 bytes published" in str(err.value), err.value
        assert os.listdir(disk) == [] and free_bytes(disk) == before
    assert f.waits == [] and err.value.status is None
    time.sleep(0.5)
    sent = [e["bytes"] for e in bed.log() if e["path"] == "/go/" + SIDECAR]
    assert len(sent) == 1 and sent[0] < 32 << 20  # the server could not push the 64 MiB through


def test_oversize_without_published_size_stops_at_the_cap(bed, tmp_path):
    data, digest = sidecar(bed.tree)
    bed.fault("oversize", bytes=8 << 20)
    f = fetcher()
    with pytest.raises(_download.DownloadError) as err:
        f.download(bed.url + "/dl/" + SIDECAR, str(tmp_path), digest, None, name=SIDECAR, max_bytes=1 << 20)
    assert "more than the 1048576 bytes accepted" in str(err.value), err.value
    assert os.listdir(tmp_path) == []


def test_document_larger_than_its_cap_is_refused(bed):
    bed.fault("oversize", bytes=1 << 20)
    with pytest.raises(_download.DownloadError) as err:
        fetcher().get_text(bed.url + "/dl/" + SIDECAR, max_bytes=4096)
    assert "larger than 4096 bytes" in str(err.value), err.value


def test_disk_full_is_permanent_and_removes_the_file(bed, tmp_path):
    """The 61 MB archive into a 20 MiB tmpfs: ENOSPC is not retried, the message says what to do,
    the partial file is gone."""
    digest, size = published(bed.tree)
    f = fetcher()
    with tmpfs(str(tmp_path / "small")) as disk:
        with pytest.raises(_download.DownloadError) as err:
            f.download(bed.url + "/dl/" + NAME, disk, digest, size, name=NAME)
        assert os.listdir(disk) == []
    msg = str(err.value)
    assert "no space left in " + disk in msg and "free space there" in msg and str(size) in msg, msg
    assert f.waits == []  # not retried: a second try cannot find more room
    assert len([e for e in bed.log() if e["path"] == "/go/" + NAME]) == 1


@pytest.mark.parametrize("fault", ["drip", "drip_headers"])
def test_a_dripping_server_meets_the_deadline(bed, tmp_path, fault):
    """One byte a second, each well inside timeout=2: only the overall deadline ends it, on time."""
    data, digest = sidecar(bed.tree)
    bed.fault(fault, seconds=1)
    f = fetcher(download_deadline=3)
    t0 = time.monotonic()
    with pytest.raises(_download.DownloadError) as err:
        f.download(bed.url + "/dl/" + SIDECAR, str(tmp_path), digest, len(data), name=SIDECAR)
    took = time.monotonic() - t0
    assert "not finished within the deadline of 3 seconds" in str(err.value), err.value
    # without the deadline the drip takes over 60 s; the margin is for a loaded CI machine
    assert 2.5 < took < 20, took
    assert os.listdir(tmp_path) == [] and err.value.status is None


def test_documents_have_their_own_small_deadline(bed):
    bed.fault("drip", seconds=1)
    module_fetcher = fetcher()
    assert module_fetcher.deadline == 3600 and module_fetcher.document_deadline == 300
    f = _download.Fetcher(module_fetcher.module, document_deadline=2)
    t0 = time.monotonic()
    with pytest.raises(_download.DownloadError) as err:
        f.get_text(bed.url + "/dl/" + SIDECAR)
    assert "deadline of 2 seconds" in str(err.value) and time.monotonic() - t0 < 20  # 60 s without it


@pytest.mark.parametrize("how", ["get_text", "download"])
def test_non_numeric_content_length_is_a_clear_error(bed, tmp_path, how):
    data, digest = sidecar(bed.tree)
    bed.fault("bad_length")
    f = fetcher()
    with pytest.raises(_download.DownloadError) as err:
        if how == "get_text":
            f.get_text(bed.url + "/dl/" + SIDECAR)
        else:
            f.download(bed.url + "/dl/" + SIDECAR, str(tmp_path), digest, len(data), name=SIDECAR)
    assert "Content-Length 'not-a-number', which is not a byte count" in str(err.value), err.value
    assert f.waits == [] and os.listdir(tmp_path) == []


def test_gzip_encoded_index_is_decoded(bed):
    with open(os.path.join(bed.tree, "index-all.json")) as fh:
        expected = fh.read()
    bed.fault("gzip")
    f = fetcher()
    assert f.get_text(bed.url + "/dl/?mode=json&include=all") == expected
    entry = bed.log()[-1]
    assert entry["accept_encoding"] == "identity" and entry["bytes"] < len(expected)


def test_gzip_bomb_document_is_capped_on_its_decoded_size(bed):
    with open(os.path.join(bed.tree, "index-all.json"), "rb") as fh:
        raw = fh.read()
    cap = (len(gzip.compress(raw)) + len(raw)) // 2  # the encoded body fits, the decoded one does not
    bed.fault("gzip")
    with pytest.raises(_download.DownloadError) as err:
        fetcher().get_text(bed.url + "/dl/?mode=json&include=all", max_bytes=cap)
    assert "decodes to more than %d bytes" % cap in str(err.value), err.value


def test_archive_labelled_gzip_is_kept_as_sent(bed, tmp_path):
    """An object store's Content-Encoding: gzip metadata on a .tar.gz: the bytes are the archive."""
    digest, size = published(bed.tree)
    bed.fault("gzip_label")
    path = fetcher().download(bed.url + "/dl/" + NAME, str(tmp_path), digest, size, name=NAME)
    assert _tree.file_digest(path) == digest


def test_archive_compressed_on_the_way_is_refused_clearly(bed, tmp_path):
    digest, size = published(bed.tree)
    bed.fault("gzip")
    f = fetcher()
    with pytest.raises(_download.DownloadError) as err:
        f.download(bed.url + "/dl/" + NAME, str(tmp_path), digest, size, name=NAME)
    assert "Content-Encoding: gzip although identity was asked for" in str(err.value), err.value
    assert f.waits == [] and os.listdir(tmp_path) == []


# ---- item 6: transport ----------------------------------------------------------------------------
def test_tls_mirror_with_its_ca_in_ca_path(bed, tmp_path):
    digest, size = published(bed.tree)
    path = fetcher(ca_path=bed.ca).download(bed.tls_url + "/dl/" + NAME, str(tmp_path), digest, size, name=NAME)
    assert _tree.file_digest(path) == digest
    assert {e["listener"] for e in bed.log()} == {"tls"}


def test_untrusted_tls_is_permanent_and_names_ca_path(bed, tmp_path):
    f = fetcher()
    with pytest.raises(_download.DownloadError) as err:
        f.get_text(bed.tls_url + "/dl/" + SIDECAR)
    assert "TLS certificate not trusted" in str(err.value) and "ca_path=" in str(err.value), err.value
    assert f.waits == []


def test_https_redirect_to_http_is_refused(bed, tmp_path):
    digest, size = published(bed.tree)
    bed.fault("https_to_http")
    f = fetcher(ca_path=bed.ca)
    with pytest.raises(_download.DownloadError) as err:
        f.download(bed.tls_url + "/dl/" + NAME, str(tmp_path), digest, size, name=NAME)
    assert "refused a redirect from https to plain http" in str(err.value), err.value
    assert err.value.status == 302 and f.waits == [] and os.listdir(tmp_path) == []
    assert [e["listener"] for e in bed.log()] == ["tls"]  # nothing was asked over plain http


@pytest.mark.parametrize("how", ["force_basic_auth", "netrc", "userinfo", "challenge"])
def test_credentials_go_to_the_origin_only(bed, tmp_path, monkeypatch, how):
    """The mirror redirects to another host:port (as go.dev does to its storage host): that host
    gets the file request without the Authorization the origin got. `challenge`: the origin asks
    for credentials (401) and gets them; a guard - urllib never carried those across a redirect."""
    data, digest = sidecar(bed.tree)
    url = bed.url + "/dl/" + SIDECAR
    params = {}
    if how == "challenge":
        params = dict(url_username="fleet", url_password="s3cret")
        bed.fault("auth_required")
    elif how == "force_basic_auth":
        params = dict(url_username="fleet", url_password="s3cret", force_basic_auth=True)
    elif how == "netrc":
        netrc = tmp_path / "netrc"
        netrc.write_text("machine 127.0.0.1 login fleet password s3cret\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
    else:
        url = url.replace("://", "://fleet:s3cret@")
        params = dict(force_basic_auth=True)
    bed.fault("redirect_other")
    path = fetcher(**params).download(url, str(tmp_path), digest, len(data), name=SIDECAR)
    assert _tree.file_digest(path) == digest
    log = [e for e in bed.log() if e["status"] != 401]
    assert [(e["listener"], e["status"]) for e in log] == [("plain", 302), ("other", 200)]
    assert log[0]["authorization"] and log[0]["authorization"].startswith("Basic ")
    assert log[1]["authorization"] is None
    assert len(bed.log()) == (3 if how == "challenge" else 2)


def test_credentials_in_the_url_are_redacted_from_errors(bed):
    url = bed.url.replace("://", "://fleet:s3cret@") + "/dl/" + SIDECAR
    bed.fault("http404")
    f = fetcher(url_password="hunter2")
    with pytest.raises(_download.DownloadError) as err:
        f.get_text(url)
    assert err.value.status == 404 and "HTTP 404" in str(err.value)
    assert "s3cret" not in str(err.value) and "fleet" not in str(err.value) and "***@127.0.0.1" in str(err.value)


def test_http_error_status_survives_retries(bed):
    bed.fault("http500")
    f = fetcher()
    with pytest.raises(_download.DownloadError) as err:
        f.get_text(bed.url + "/dl/" + SIDECAR)
    assert err.value.status == 500 and "gave up after 3 attempts" in str(err.value)
    assert f.waits == [1.0, 2.0]
