# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Download and verification on the managed node, through ansible-core's fetch_url.

Proxies, TLS validation, client certificates and credentials are the module's own url options
(see url_options()); timeouts and retries with backoff are applied here. Every download is
streamed into a temporary file in a directory the caller chooses (the install root, so the
archive and its extraction stay on one filesystem), hashed while it streams, and checked against
the expected size and SHA-256 before anyone may use it. A failed download leaves no file behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import tempfile
import time

from ansible.module_utils.urls import fetch_url, url_argument_spec

from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError

HEX64 = re.compile(r"^[0-9a-f]{64}$")
RETRYABLE_STATUS = {-1, 408, 425, 429, 500, 502, 503, 504}
BLOCK = 1 << 20


class DownloadError(GofleetError):
    """A download that failed or did not verify; the message says what and what to do."""


def url_options():
    """The url_argument_spec() options a downloading module exposes (the url itself is computed)."""
    spec = url_argument_spec()
    for name in ("url", "force", "http_agent"):
        spec.pop(name, None)
    spec.update(
        timeout=dict(type="int", default=60),
        retries=dict(type="int", default=3),
    )
    return spec


def parse_checksum(value):
    """'sha256:<hex>' or '<hex>' -> lowercase hex; None stays None. Raises ValueError otherwise."""
    if value is None:
        return None
    text = value.strip().lower()
    if ":" in text:
        algo, text = text.split(":", 1)
        if algo != "sha256":
            raise ValueError("checksum %r: only sha256 is supported (Go publishes SHA-256 digests)" % value)
    if not HEX64.match(text):
        raise ValueError("checksum %r is not a SHA-256 digest: expected 64 hex digits, optionally "
                         "prefixed with 'sha256:'" % value)
    return text


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            h.update(block)
    return h.hexdigest()


class Fetcher:
    """HTTP(S) GETs with retries and backoff for one module run."""

    def __init__(self, module, timeout=None, retries=None, backoff=1.0, sleep=time.sleep):
        self.module = module
        self.timeout = timeout if timeout is not None else module.params.get("timeout", 60)
        self.retries = retries if retries is not None else module.params.get("retries", 3)
        self.backoff = backoff
        self.sleep = sleep
        self.bytes_downloaded = 0

    def _attempts(self, url, what):
        """Yield attempt numbers; between failed attempts wait backoff * 2**n seconds."""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            yield attempt

    def _open(self, url):
        resp, info = fetch_url(self.module, url, timeout=self.timeout)
        status = info.get("status", -1)
        if status != 200 or resp is None:
            msg = info.get("msg", "")
            if status == 302 or "redirect" in msg.lower():
                # urllib gives up on a redirect loop: retrying cannot help
                raise _Permanent("%s: redirect loop or too many redirects (%s)" % (url, msg))
            err = "%s: HTTP %s %s" % (url, status, msg) if status > 0 else "%s: %s" % (url, msg)
            if status in RETRYABLE_STATUS:
                raise _Retryable(err)
            raise _Permanent(err, status)
        return resp

    def get_text(self, url, max_bytes=32 << 20):
        """Body of a small document (an index, a sidecar) as text, with retries."""
        last = None
        for dummy in self._attempts(url, "document"):
            try:
                resp = self._open(url)
                data = resp.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise _Permanent("%s: larger than %d bytes, not an index or a sidecar" % (url, max_bytes))
                expected = resp.headers.get("Content-Length")
                if expected is not None and int(expected) != len(data):
                    raise _Retryable("%s: received %d of %s bytes" % (url, len(data), expected))
                self.bytes_downloaded += len(data)
                return data.decode("utf-8", "replace")
            except _Permanent as e:
                raise DownloadError(str(e))
            except _Retryable as e:
                last = str(e)
            except (socket.timeout, TimeoutError, http.client.HTTPException, OSError) as e:
                last = "%s: %s" % (url, _describe(e, self.timeout))
        raise DownloadError("%s (gave up after %d attempts)" % (last, self.retries + 1))

    def get_status(self, url):
        """Status code of a GET of `url` without reading it (for 'does the mirror have an index')."""
        resp, info = fetch_url(self.module, url, timeout=self.timeout)
        if resp is not None:
            resp.close()
        return info.get("status", -1)

    def download(self, url, directory, sha256, size=None, name=None):
        """Stream `url` into a new file in `directory`, verify size and SHA-256; return its path.

        Retries transient failures (5xx, timeouts, truncated bodies, connection errors) with
        backoff. On a digest mismatch nothing is retried: the published digest and the bytes
        disagree, which only the mirror's owner can fix. No file is left behind on failure.
        """
        last = None
        for dummy in self._attempts(url, "archive"):
            fd, tmp = tempfile.mkstemp(prefix=".download-", suffix="-" + (name or "archive"), dir=directory)
            try:
                with os.fdopen(fd, "wb") as out:
                    digest = self._stream(url, out, size)
            except _Permanent as e:
                _discard(tmp)
                raise DownloadError(str(e))
            except _Retryable as e:
                _discard(tmp)
                last = str(e)
                continue
            except (socket.timeout, TimeoutError, http.client.HTTPException, OSError) as e:
                _discard(tmp)
                last = "%s: %s" % (url, _describe(e, self.timeout))
                continue
            except BaseException:
                _discard(tmp)
                raise
            if digest != sha256:
                _discard(tmp)
                raise DownloadError(
                    "%s: sha256 %s does not match the published %s; nothing was installed. The mirror "
                    "serves other bytes than its index or sidecar describes: fix the mirror, or give "
                    "the right digest with checksum=" % (name or url, digest, sha256))
            return tmp
        raise DownloadError("%s (gave up after %d attempts; nothing was installed)" % (last, self.retries + 1))

    def _stream(self, url, out, size):
        """Copy the body of `url` into the open file `out`; return its SHA-256."""
        resp = self._open(url)
        announced = resp.headers.get("Content-Length")
        announced = int(announced) if announced is not None else None
        if size is not None and announced is not None and announced != size:
            raise _Permanent("%s: the server announces %d bytes, the index says %d" % (url, announced, size))
        h = hashlib.sha256()
        got = 0
        while True:
            try:
                block = resp.read(BLOCK)
            except http.client.IncompleteRead as e:
                raise _Retryable("%s: connection closed after %d of %s bytes"
                                 % (url, got + len(e.partial), announced))
            if not block:
                break
            out.write(block)
            h.update(block)
            got += len(block)
            self.bytes_downloaded += len(block)
        expected = size if size is not None else announced
        if expected is not None and got != expected:
            raise _Retryable("%s: connection closed after %d of %d bytes" % (url, got, expected))
        return h.hexdigest()


class _Retryable(Exception):
    pass


class _Permanent(Exception):
    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status


def _discard(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _describe(exc, timeout):
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "no data for %s seconds (timeout); raise timeout= for slow links" % timeout
    return "%s: %s" % (type(exc).__name__, exc)
