# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Downloads on the managed node, and the one HTTP policy the controller shares. Standard library only.

Policy, written once and used by the node (Fetcher, over ansible-core's urls.Request) and by the
controller (plugins/plugin_utils/_http.py, over requests):

- redirects are followed by hand, at most MAX_REDIRECTS, never from https to http nor to another
  scheme, never to a URL carrying credentials (redirect_target);
- credentials (url_username/url_password, user:pass@ in the URL, force_basic_auth, netrc, GSSAPI) go
  to the origin only: the scheme, host and port of the URL asked for (sends_credentials);
- every URL that reaches a message, a warning or a return value goes through redact_url;
- identity encoding is asked for; a document sent gzip-encoded anyway is decoded with a cap on its
  decoded size, an archive is kept as sent (its SHA-256 decides) and a mismatch says the server
  encoded it;
- a body is read up to its expected size + 1 byte (the published size, else Content-Length, else a
  hard cap) and refused beyond; a Content-Length that is not a byte count is an error;
- every call has an overall deadline (retries and backoff included) besides the per-read timeout;
- a failed write on the node (disk full, read-only) is permanent: never retried, the file removed.

Every download is streamed into a temporary file in a directory the caller chooses (the install
root, so the archive and its extraction stay on one filesystem), hashed while it streams, and
checked against the expected size and SHA-256 before anyone may use it. A failed download leaves no
file behind. An HTTP failure keeps its status: DownloadError.status (None when it was not HTTP).
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import re
import socket
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib

from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import MissingModuleError
from ansible.module_utils.urls import Request, url_argument_spec

from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError

RETRYABLE_STATUS = frozenset([408, 425, 429, 500, 502, 503, 504])
READ = 64 << 10  # network read: one read returns what one receive gave, at most this much
MAX_REDIRECTS = 10
DOCUMENT_MAX_BYTES = 32 << 20  # an index or a sidecar
ARCHIVE_MAX_BYTES = 1 << 30  # an archive whose size nobody published (Go's are < 100 MiB)
ARCHIVE_DEADLINE = 3600  # seconds for one archive download, retries included (download_deadline)
DOCUMENT_DEADLINE = 300  # seconds for one index or sidecar, retries included
DEFAULT_PORTS = {"http": 80, "https": 443}
USER_AGENT = "gofleet.golang (ansible-httpget)"
# query parameters whose values are secrets (presigned object-store URLs, tokens)
SECRET_PARAM = re.compile(r"sig|signature|token|secret|passw|pwd|credential|auth|key", re.I)
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


class DownloadError(GofleetError):
    """A download that failed or did not verify; the message says what and what to do.

    status: the HTTP status that ended it (404, 500 after retries, a refused 3xx), None when the
    failure was not an HTTP answer (connection, timeout, deadline, size, digest, disk)."""

    def __init__(self, msg, status=None, **result):
        super().__init__(msg, **result)
        self.status = status


# ---- options -----------------------------------------------------------------------------------
def url_options():
    """The options a downloading module exposes (the url itself is computed).

    ansible-core's url_argument_spec() minus url/force/http_agent, plus timeout, retries,
    download_deadline and ca_path. Documented once in plugins/doc_fragments/download.py."""
    spec = url_argument_spec()
    for name in ("url", "force", "http_agent"):
        spec.pop(name, None)
    spec.update(
        timeout=dict(type="int", default=60),
        retries=dict(type="int", default=3),
        download_deadline=dict(type="int", default=ARCHIVE_DEADLINE),
        ca_path=dict(type="path"),
    )
    return spec


# ---- policy: plain functions, shared with the controller ---------------------------------------
def origin(url):
    """(scheme, host, port) of `url`, lowercased, the port defaulted by scheme: who gets credentials."""
    p = urlsplit(url)
    scheme = p.scheme.lower()
    try:
        port = p.port
    except ValueError:
        port = None
    return scheme, (p.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


def sends_credentials(first_url, url):
    """Whether a request for `url`, reached from `first_url` (the URL asked for, maybe through
    redirects), may carry the credentials configured for `first_url`: only to the same origin."""
    return origin(first_url) == origin(url)


def strip_credentials(url):
    """`url` without its user:password@ part."""
    p = urlsplit(url)
    if "@" not in p.netloc:
        return url
    return urlunsplit((p.scheme, p.netloc.rsplit("@", 1)[1], p.path, p.query, p.fragment))


def url_credentials(url):
    """(user, password) from user:password@ in `url` (percent-decoded), or (None, None)."""
    p = urlsplit(url)
    if p.username is None:
        return None, None
    return unquote(p.username), unquote(p.password or "")


def redact_url(url):
    """`url` fit for a message, a warning, a return value or a record: user:password@ becomes
    ***@, the values of secret-looking query parameters (signatures, tokens, keys) become ***."""
    if not url:
        return url
    try:
        p = urlsplit(str(url))
    except ValueError:
        return "<unparseable URL>"
    netloc = p.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = p.query
    if query:
        parts = []
        for part in query.split("&"):
            name, sep, value = part.partition("=")
            if sep and value and SECRET_PARAM.search(unquote(name)):
                part = name + "=***"
            parts.append(part)
        query = "&".join(parts)
    return urlunsplit((p.scheme, netloc, p.path, query, p.fragment))


def redact_text(text):
    """`text` with every URL in it redacted (exception texts of libraries that quote URLs)."""
    return URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), str(text))


def redirect_target(current, location, status=None):
    """The absolute URL a redirect from `current` to `location` leads to, when the policy allows
    following it; else DownloadError (permanent; status is the redirect's)."""
    where = redact_url(current)
    if not location or not location.strip():
        raise DownloadError("%s: HTTP %s redirect without a Location" % (where, status), status=status)
    try:
        # a relative Location is resolved against the URL without its user:password@ (credentials go
        # to the origin through the transport, never inside a URL a redirect made)
        new = urljoin(strip_credentials(current), location.strip())
        p = urlsplit(new)
        dummy = p.port  # raises ValueError on a port that is not a number
    except ValueError:
        raise DownloadError("%s: HTTP %s redirect to an invalid URL %r" % (where, status, redact_text(location)[:200]),
                            status=status)
    scheme = p.scheme.lower()
    if scheme not in ("http", "https") or not p.hostname:
        raise DownloadError("%s: refused a redirect to %s: only http(s) URLs are followed"
                            % (where, redact_url(new)), status=status)
    if urlsplit(current).scheme.lower() == "https" and scheme == "http":
        raise DownloadError("%s: refused a redirect from https to plain http (%s): that would drop TLS on "
                            "the way. Fix the mirror's redirect, or use its http:// URL with a pinned "
                            "checksum" % (where, redact_url(new)), status=status)
    if p.username is not None or p.password is not None:
        raise DownloadError("%s: refused a redirect to a URL with credentials in it (%s)"
                            % (where, redact_url(new)), status=status)
    return new


def insecure_transport_warning(url, pinned, validate_certs=True):
    """The warning to give when `url` is fetched without a transport that authenticates the server
    and no checksum was pinned by the user (`pinned`: the checksum given, or a bool); else None."""
    if pinned:
        return None
    scheme = urlsplit(url or "").scheme.lower()
    if scheme == "http":
        return ("%s is plain http:// and no checksum is pinned: anyone on the network path can serve another "
                "archive together with a digest that matches it. Use https://, or pin the SHA-256 from a "
                "source you trust (checksum=sha256:<hex>)" % redact_url(url))
    if scheme == "https" and not validate_certs:
        return ("%s is fetched with validate_certs=false and no checksum is pinned: anyone on the network path "
                "can pose as the mirror. Give ca_path= for a private CA instead, or pin the SHA-256 "
                "(checksum=sha256:<hex>)" % redact_url(url))
    return None


def parse_content_length(value, url=None):
    """The Content-Length header as an int; None when absent; DownloadError when it is not one
    byte count (a number, or a comma-separated repetition of one number as RFC 9110 allows)."""
    if value is None:
        return None
    values = {v.strip() for v in str(value).split(",")}
    if len(values) == 1:
        text = values.pop()
        if text.isdigit() and text.isascii() and len(text) <= 18:
            return int(text)
    raise DownloadError("%s: the server sent Content-Length %r, which is not a byte count: the mirror or a "
                        "proxy in between is broken" % (redact_url(url), str(value)[:60]))


class Deadline:
    """An overall deadline: seconds from now, on the monotonic clock."""

    def __init__(self, seconds, hint="raise download_deadline for a slow link"):
        self.seconds = seconds
        self.hint = hint
        self.end = time.monotonic() + seconds

    def remaining(self):
        return self.end - time.monotonic()

    def message(self, url, last=None):
        msg = ("%s: not finished within the deadline of %s seconds: the server is too slow or stalls on purpose; %s"
               % (redact_url(url), self.seconds, self.hint))
        if last:
            msg += " (last failure: %s)" % last
        return msg


def call_with_deadline(fn, seconds):
    """fn(cancelled) in a helper thread; its result, or its exception re-raised here. When it has not
    finished within `seconds`, raises DeadlineExceeded at once and sets the event `cancelled`, which
    fn checks between reads (a read waits at most its own timeout). This bounds what a per-read
    timeout cannot: a server that sends one byte just before each timeout, headers included."""
    cancelled = threading.Event()
    box = {}
    done = threading.Event()

    def run():
        try:
            box["result"] = fn(cancelled)
        except BaseException as e:  # pylint: disable=broad-except
            box["error"] = e
        done.set()

    worker = threading.Thread(target=run, name="gofleet-download", daemon=True)
    worker.start()
    if not done.wait(max(0.0, seconds)):
        cancelled.set()
        raise DeadlineExceeded()
    if "error" in box:
        raise box["error"]
    return box["result"]


class DeadlineExceeded(Exception):
    pass


class _Retryable(Exception):
    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status


class _Permanent(Exception):
    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status


class _Cancelled(Exception):
    pass


class _Gunzip:
    """Decodes a gzip body, refusing more than `limit` decoded bytes (a gzip bomb stops here)."""

    def __init__(self, url, limit):
        self.url = url
        self.limit = limit
        self.size = 0
        self.z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data):
        try:
            out = self.z.decompress(data, self.limit + 1 - self.size)
        except zlib.error as e:
            raise _Permanent("%s: the body is labelled Content-Encoding: gzip but is not gzip data (%s)"
                             % (redact_url(self.url), e))
        self.size += len(out)
        if self.size > self.limit or self.z.unconsumed_tail:
            raise _Permanent("%s: the gzip-encoded body decodes to more than %d bytes" % (redact_url(self.url), self.limit))
        return out

    def finish(self):
        if not self.z.eof:
            raise _Retryable("%s: the gzip-encoded body ended before its end marker" % redact_url(self.url))
        return b""


def describe_network_error(exc, timeout):
    """A short text for a network exception (timeouts say which setting to raise)."""
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "no data for %s seconds (timeout); raise timeout= for slow links" % timeout
    return redact_text("%s: %s" % (type(exc).__name__, exc))


def tls_hint(exc):
    """The message for a TLS certificate failure, or None when `exc` is not one."""
    text = str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
        return ("TLS certificate not trusted (%s): give ca_path= with the PEM bundle of the mirror's certificate "
                "authority, or fix its certificate" % redact_text(text))
    return None


# ---- the engine: redirects, retries, deadline, limits; the transport is pluggable ---------------
class HttpClient:
    """GETs with the policy above over a `transport`: an object with open(url, credentials, timeout)
    returning a response (status, reason, header(name), read1(n), close()) for any status, without
    following redirects; it raises _Retryable/_Permanent for failures that are not HTTP answers.

    The node's transport is ansible-core's urls.Request (Fetcher below); the controller's is
    requests (plugins/plugin_utils/_http.py)."""

    error_class = DownloadError

    def __init__(self, transport, timeout=60, retries=3, backoff=1.0, sleep=time.sleep, deadline=ARCHIVE_DEADLINE,
                 document_deadline=None):
        self.transport = transport
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.sleep = sleep
        self.deadline = deadline
        self.document_deadline = (document_deadline if document_deadline is not None
                                  else min(DOCUMENT_DEADLINE, deadline))
        self.bytes_downloaded = 0

    def _error(self, msg, status=None):
        return self.error_class(msg, status=status)

    def content_length(self, url, deadline=None):
        """The Content-Length `url` answers with (a GET under the same policy and retries, its body
        not read), or None when the server sends none: to check a file's size without fetching it."""
        def attempt(cancelled):
            resp, dummy = self._open(url, cancelled)
            try:
                return resp.header("Content-Length")
            finally:
                resp.close()
        seconds = deadline if deadline is not None else self.document_deadline
        return self._retrying(url, Deadline(seconds), attempt)

    # one request, redirects followed by hand
    def _open(self, url, cancelled):
        current = url
        for dummy in range(MAX_REDIRECTS + 1):
            if cancelled.is_set():
                raise _Cancelled()
            resp = self.transport.open(current, sends_credentials(url, current), self.timeout)
            status = resp.status
            if status in (301, 302, 303, 307, 308):
                location = resp.header("Location")
                resp.close()
                try:
                    current = redirect_target(current, location, status)
                except DownloadError as e:
                    raise _Permanent(str(e), status)
                continue
            if status == 200:
                return resp, current
            resp.close()
            err = "%s: HTTP %s %s" % (redact_url(current), status, resp.reason or "")
            if status in RETRYABLE_STATUS:
                raise _Retryable(err.rstrip(), status)
            raise _Permanent(err.rstrip(), status)
        raise _Permanent("%s: redirect loop or more than %d redirects" % (redact_url(url), MAX_REDIRECTS), status)

    def _retrying(self, url, deadline, attempt):
        """attempt(cancelled) with retries, backoff and the overall deadline; its result."""
        last = None
        last_status = None
        tries = 0
        for n in range(self.retries + 1):
            if n:
                wait = self.backoff * 2 ** (n - 1)
                if wait >= deadline.remaining():
                    raise self._error(deadline.message(url, last), last_status)
                self.sleep(wait)
            remaining = deadline.remaining()
            if remaining <= 0:
                raise self._error(deadline.message(url, last), last_status)
            tries += 1
            try:
                return call_with_deadline(attempt, remaining)
            except DeadlineExceeded:
                raise self._error(deadline.message(url, last))
            except _Permanent as e:
                raise self._error(str(e), e.status)
            except _Retryable as e:
                last, last_status = str(e), e.status
        raise self._error("%s (gave up after %d attempts)" % (last, tries), last_status)

    def _read(self, resp, url, cancelled):
        """One read of at most READ bytes; network failures become _Retryable."""
        if cancelled.is_set():
            raise _Cancelled()
        try:
            return resp.read1(READ)
        except (_Retryable, _Permanent):
            raise
        except (socket.timeout, TimeoutError, http.client.HTTPException, OSError) as e:
            raise _Retryable("%s: %s" % (redact_url(url), describe_network_error(e, self.timeout)))

    def get_text(self, url, max_bytes=DOCUMENT_MAX_BYTES, deadline=None):
        """Body of a small document (an index, a sidecar) as text, with retries; at most max_bytes
        (decoded), within `deadline` seconds (default: the document deadline)."""
        return self.get_bytes(url, max_bytes, deadline).decode("utf-8", "replace")

    def get_bytes(self, url, max_bytes=DOCUMENT_MAX_BYTES, deadline=None):
        """Body of a small document as bytes (a checksum database tile is binary), as get_text."""
        seconds = deadline if deadline is not None else self.document_deadline
        hint = "an index or a sidecar is small: check the mirror" if deadline is None else "raise the deadline"
        return self._retrying(url, Deadline(seconds, hint),
                              lambda cancelled: self._get_bytes_once(url, max_bytes, cancelled))

    def _get_bytes_once(self, url, max_bytes, cancelled):
        resp, final = self._open(url, cancelled)
        try:
            where = redact_url(final)
            announced = _length(resp, final)
            if announced is not None and announced > max_bytes:
                raise _Permanent("%s: announces %d bytes, larger than %d: not an index or a sidecar"
                                 % (where, announced, max_bytes))
            encoding = _encoding(resp)
            if encoding == "identity":
                decoder = None
            elif encoding in ("gzip", "x-gzip"):
                decoder = _Gunzip(final, max_bytes)
            else:
                raise _Permanent("%s: the server sent Content-Encoding %r although identity was asked for; only gzip "
                                 "is decoded" % (where, encoding))
            raw = 0
            chunks = []
            while True:
                block = self._read(resp, final, cancelled)
                if not block:
                    break
                raw += len(block)
                self.bytes_downloaded += len(block)
                if raw > max_bytes:
                    raise _Permanent("%s: larger than %d bytes, not an index or a sidecar" % (where, max_bytes))
                chunks.append(decoder.feed(block) if decoder else block)
            if announced is not None and raw != announced:
                raise _Retryable("%s: connection closed after %d of %d bytes" % (where, raw, announced))
            if decoder:
                chunks.append(decoder.finish())
            return b"".join(chunks)
        finally:
            resp.close()

    def download(self, url, directory, sha256, size=None, name=None, max_bytes=ARCHIVE_MAX_BYTES, deadline=None):
        """Stream `url` into a new file in `directory`, verify size and SHA-256; return its path.

        Reads at most the expected size + 1 byte (size, else Content-Length, else max_bytes), within
        `deadline` seconds (default download_deadline) for all attempts together. Retries transient
        failures (5xx, timeouts, truncated bodies, connection errors) with backoff. Nothing is retried
        after a digest mismatch, an oversized body, a bad Content-Length, a refused redirect, or a
        failed write here (disk full). No file is left behind on failure. sha256 None: the caller
        verifies the file another way before using it (a toolchain module zip's h1: dirhash)."""
        seconds = deadline if deadline is not None else self.deadline
        label = name or redact_url(url)
        box = {}

        def attempt(cancelled):
            fd, tmp = tempfile.mkstemp(prefix=".download-", suffix="-" + (name or "archive"), dir=directory)
            box["tmp"] = tmp
            try:
                with os.fdopen(fd, "wb", buffering=0) as out:
                    digest, encoding = self._stream(url, out, size, max_bytes, directory, label, cancelled)
            except BaseException:
                _discard(tmp)
                raise
            return tmp, digest, encoding

        try:
            tmp, digest, encoding = self._retrying(url, Deadline(seconds), attempt)
        except BaseException:
            if box.get("tmp"):
                _discard(box["tmp"])  # an attempt cut off by the deadline still owns its descriptor
            raise
        if sha256 is not None and digest != sha256:
            _discard(tmp)
            note = ""
            if encoding != "identity":
                note = (" The server sent it with Content-Encoding: %s although identity was asked for: serve the "
                        "archive as it is (object stores: remove the Content-Encoding metadata)." % encoding)
            raise self._error(
                "%s: sha256 %s does not match the published %s; nothing was installed. The mirror "
                "serves other bytes than its index or sidecar describes: fix the mirror, or give "
                "the right digest with checksum=.%s" % (label, digest, sha256, note))
        return tmp

    def _stream(self, url, out, size, max_bytes, directory, label, cancelled):
        """Copy the body of `url` into the open file `out`; return (its SHA-256, its encoding)."""
        resp, final = self._open(url, cancelled)
        try:
            where = redact_url(final)
            announced = _length(resp, final)
            encoding = _encoding(resp)
            note = ""
            if encoding != "identity":
                note = (" (sent with Content-Encoding: %s although identity was asked for: the server compresses "
                        "the archive on the way; serve it as it is)" % encoding)
            if size is not None and announced is not None and announced != size:
                raise _Permanent("%s: the server announces %d bytes, the index says %d%s" % (where, announced, size, note))
            limit = size if size is not None else announced if announced is not None else max_bytes
            if limit > max_bytes:
                raise _Permanent("%s: announces %d bytes, more than the %d accepted for an archive" % (where, limit, max_bytes))
            h = hashlib.sha256()
            got = 0
            while True:
                block = self._read(resp, final, cancelled)
                if not block:
                    break
                got += len(block)
                self.bytes_downloaded += len(block)
                if got > limit:
                    raise _Permanent("%s: the server sent more than the %d bytes %s; stopped reading there%s"
                                     % (where, limit, "published" if size is not None else
                                        "it announced" if announced is not None else "accepted", note))
                _write(out, block, directory, label, got, limit)
                h.update(block)
            if got != limit and (size is not None or announced is not None):
                if note:  # not a cut connection: the encoding changed the length, and will again
                    raise _Permanent("%s: %d bytes instead of the %d published%s" % (where, got, limit, note))
                raise _Retryable("%s: connection closed after %d of %d bytes" % (where, got, limit))
            return h.hexdigest(), encoding
        finally:
            resp.close()


def _length(resp, url):
    try:
        return parse_content_length(resp.header("Content-Length"), url)
    except DownloadError as e:
        raise _Permanent(str(e))


def _encoding(resp):
    return (resp.header("Content-Encoding") or "identity").strip().lower() or "identity"


def _write(out, block, directory, label, got, limit):
    """Write all of `block`; a failure here is the node's, never retried."""
    view = memoryview(block)
    try:
        while view:
            n = out.write(view)
            view = view[n:]
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _Permanent("%s: no space left in %s after %d bytes (the archive is %s bytes); nothing was installed "
                             "and the partial file was removed: free space there, or choose another install_root"
                             % (label, directory, got - len(view), limit))
        raise _Permanent("%s: cannot write into %s: %s; the partial file was removed" % (label, directory, e))


def _discard(path):
    try:
        os.unlink(path)
    except OSError:
        pass


# ---- the node's transport: ansible-core's urls.Request -------------------------------------------
class _UrllibResponse:
    def __init__(self, resp, status, reason):
        self._resp = resp
        self.status = status
        self.reason = reason

    def header(self, name):
        headers = getattr(self._resp, "headers", None)
        return headers.get(name) if headers is not None else None

    def read1(self, n):
        read1 = getattr(self._resp, "read1", None)
        return read1(n) if read1 is not None else self._resp.read(n)

    def close(self):
        try:
            self._resp.close()
        except Exception:  # pylint: disable=broad-except
            pass


class AnsibleTransport:
    """GET through ansible-core's urls.Request with the module's url options, redirects not followed
    (HttpClient follows them by policy), identity encoding, no decompression. Credentials only when
    HttpClient says the URL is the origin's."""

    def __init__(self, params):
        self.p = params

    def open(self, url, credentials, timeout):
        p = self.p
        kw = dict(use_proxy=p.get("use_proxy", True), validate_certs=p.get("validate_certs", True),
                  client_cert=p.get("client_cert"), client_key=p.get("client_key"), ca_path=p.get("ca_path"),
                  http_agent=p.get("http_agent") or USER_AGENT, timeout=timeout, follow_redirects="none",
                  decompress=False, headers={"Accept-Encoding": "identity"})
        if credentials:
            kw.update(url_username=p.get("url_username") or None, url_password=p.get("url_password") or None,
                      force_basic_auth=bool(p.get("force_basic_auth")), use_gssapi=bool(p.get("use_gssapi")),
                      use_netrc=True)
        else:
            url = strip_credentials(url)
            kw.update(url_username=None, url_password=None, force_basic_auth=False, use_gssapi=False, use_netrc=False)
        where = redact_url(url)
        try:
            try:
                r = Request().open("GET", url, **kw)
            finally:
                # Request.open installs its opener (redirects off) process-wide: put urllib's default back
                urllib.request.install_opener(None)
            return _UrllibResponse(r, getattr(r, "status", None) or r.getcode(), getattr(r, "reason", ""))
        except urllib.error.HTTPError as e:
            return _UrllibResponse(e, e.code, getattr(e, "reason", "") or e.msg)
        except urllib.error.URLError as e:
            reason = getattr(e, "reason", e)
            hint = tls_hint(reason)
            if hint:
                raise _Permanent("%s: %s" % (where, hint))
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise _Retryable("%s: %s" % (where, describe_network_error(reason, timeout)))
            raise _Retryable("%s: %s" % (where, redact_text(reason)))
        except (socket.timeout, TimeoutError) as e:
            raise _Retryable("%s: %s" % (where, describe_network_error(e, timeout)))
        except (UrlsConnectionError, MissingModuleError) as e:  # proxy or TLS setup; gssapi missing
            raise _Permanent("%s: %s" % (where, redact_text(e)))
        except (OSError, http.client.HTTPException) as e:
            hint = tls_hint(e)
            if hint:
                raise _Permanent("%s: %s" % (where, hint))
            raise _Retryable("%s: %s" % (where, describe_network_error(e, timeout)))
        except ValueError as e:
            raise _Permanent("%s: %s" % (where, redact_text(e)))


class Fetcher(HttpClient):
    """HTTP(S) GETs for one module run, with the module's url options (url_options()).

    Keyword arguments beyond 0.1.0's (module, timeout, retries, backoff, sleep): deadline (seconds
    for one download, default the module's download_deadline, else 3600) and document_deadline
    (seconds for one index or sidecar, default min(300, deadline)). get_text(url, max_bytes,
    deadline) and download(url, directory, sha256, size, name, max_bytes, deadline) as before."""

    def __init__(self, module, timeout=None, retries=None, backoff=1.0, sleep=time.sleep, deadline=None,
                 document_deadline=None):
        self.module = module
        params = module.params
        super().__init__(
            AnsibleTransport(params),
            timeout=timeout if timeout is not None else params.get("timeout", 60),
            retries=retries if retries is not None else params.get("retries", 3),
            backoff=backoff, sleep=sleep,
            deadline=deadline if deadline is not None else params.get("download_deadline") or ARCHIVE_DEADLINE,
            document_deadline=document_deadline)
