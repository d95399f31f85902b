# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's HTTP: `requests` under the node's policy (module_utils/_download.py).

Only the transport lives here. Which redirects are followed, which origin gets credentials, the
size caps, the overall deadline, identity encoding and gzip handling, retries and redaction are
module_utils/_download's HttpClient and plain functions, the same code go_install runs on nodes.

    text = fetch_text(url, timeout=30, deadline=300, ca_path=..., username=..., password=...)
    path = download(url, dest_dir, sha256, size, ...)
    client = Client(...); client.get_text(...); client.download(...); client.close()

Failures raise HttpError (a GofleetError, via _download.DownloadError) with `.status`: the HTTP
status that ended it (404, ...), None when it was not an HTTP answer.
"""

from __future__ import annotations

import time

from ansible_collections.gofleet.golang.plugins.module_utils import _download

try:
    import requests
    import urllib3
except ImportError as imp_exc:
    REQUESTS_IMPORT_ERROR = imp_exc
else:
    REQUESTS_IMPORT_ERROR = None

USER_AGENT = "gofleet.golang (controller)"
redact_url = _download.redact_url


class HttpError(_download.DownloadError):
    """A controller-side fetch that failed; `.status` as in DownloadError."""


class _Response:
    def __init__(self, r):
        self._r = r
        self.status = r.status_code
        self.reason = r.reason

    def header(self, name):
        return self._r.headers.get(name)

    def read1(self, n):
        try:
            return self._r.raw.read1(n, decode_content=False)
        except urllib3.exceptions.HTTPError as e:
            raise _download._Retryable(  # pylint: disable=protected-access
                "%s: %s" % (redact_url(self._r.url), _download.redact_text("%s: %s" % (type(e).__name__, e))))

    def close(self):
        self._r.close()


class _NoAuth:
    """An explicit 'no credentials': keeps requests from taking them from the URL or ~/.netrc."""

    def __call__(self, r):
        return r


class RequestsTransport:
    """GET with requests: no redirect followed (HttpClient follows by policy), identity encoding,
    body not decoded, credentials only when HttpClient says the URL is the origin's."""

    def __init__(self, validate_certs=True, ca_path=None, username=None, password=None, force_basic_auth=False,
                 use_netrc=True, use_proxy=True, proxy=None, user_agent=USER_AGENT):
        if REQUESTS_IMPORT_ERROR is not None:
            raise HttpError("the Python library requests is needed on the controller (pip install requests): %s"
                            % REQUESTS_IMPORT_ERROR)
        self.username = username
        self.password = password
        self.force_basic_auth = force_basic_auth
        self.use_netrc = use_netrc
        s = requests.Session()
        s.headers["User-Agent"] = user_agent
        s.headers["Accept-Encoding"] = "identity"
        # given with each request: a session's verify loses to REQUESTS_CA_BUNDLE (requests issue 3829)
        self.verify = ca_path or validate_certs
        if not use_proxy:
            s.trust_env = False
            s.proxies = {"http": None, "https": None}
        elif proxy:
            s.proxies = {"http": proxy, "https": proxy}
        self.session = s

    def close(self):
        self.session.close()

    def _credentials(self, url):
        user, password = self.username, self.password
        preemptive = self.force_basic_auth
        if not user:
            user, password = _download.url_credentials(url)
        if not user and self.use_netrc:
            found = requests.utils.get_netrc_auth(url)
            if found:
                user, password = found
                preemptive = True  # as ansible-core's urls: a netrc entry is sent with the first request
        return user, password or "", preemptive

    def open(self, url, credentials, timeout):
        user, password, preemptive = self._credentials(url) if credentials else (None, None, False)
        url = _download.strip_credentials(url)
        where = redact_url(url)
        P, R = _download._Permanent, _download._Retryable  # pylint: disable=protected-access,invalid-name
        try:
            auth = requests.auth.HTTPBasicAuth(user, password) if user and preemptive else _NoAuth()
            r = self.session.get(url, stream=True, allow_redirects=False, timeout=timeout, auth=auth, verify=self.verify)
            if r.status_code == 401 and user and not preemptive and \
                    "basic" in r.headers.get("WWW-Authenticate", "").lower():
                r.close()
                r = self.session.get(url, stream=True, allow_redirects=False, timeout=timeout,
                                     auth=requests.auth.HTTPBasicAuth(user, password), verify=self.verify)
            return _Response(r)
        except requests.exceptions.SSLError as e:
            raise P("%s: %s" % (where, _download.tls_hint(e) or "TLS error: %s" % _download.redact_text(e)))
        except requests.exceptions.Timeout:
            raise R("%s: no data for %s seconds (timeout); raise timeout= for slow links" % (where, timeout))
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader, ValueError) as e:
            raise P("%s: %s" % (where, _download.redact_text(e)))
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
            raise R("%s: %s" % (where, _download.redact_text("%s: %s" % (type(e).__name__, e))))


class Client(_download.HttpClient):
    """HttpClient over requests; raises HttpError. Close it (or use it as a context manager)."""

    error_class = HttpError

    def __init__(self, timeout=30, retries=3, deadline=_download.DOCUMENT_DEADLINE, validate_certs=True, ca_path=None,
                 username=None, password=None, force_basic_auth=False, use_netrc=True, use_proxy=True, proxy=None,
                 backoff=0.5, sleep=time.sleep, user_agent=USER_AGENT):
        transport = RequestsTransport(validate_certs=validate_certs, ca_path=ca_path, username=username,
                                      password=password, force_basic_auth=force_basic_auth, use_netrc=use_netrc,
                                      use_proxy=use_proxy, proxy=proxy, user_agent=user_agent)
        super().__init__(transport, timeout=timeout, retries=retries, backoff=backoff, sleep=sleep,
                         deadline=deadline, document_deadline=deadline)

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def fetch_text(url, timeout=30, max_bytes=_download.DOCUMENT_MAX_BYTES, deadline=_download.DOCUMENT_DEADLINE,
               validate_certs=True, ca_path=None, username=None, password=None, force_basic_auth=False, **kw):
    """The body of a small document at `url` as text (at most max_bytes decoded), within `deadline`
    seconds for all attempts. kw: retries, use_netrc, use_proxy, proxy, backoff, sleep, user_agent."""
    with Client(timeout=timeout, deadline=deadline, validate_certs=validate_certs, ca_path=ca_path, username=username,
                password=password, force_basic_auth=force_basic_auth, **kw) as client:
        return client.get_text(url, max_bytes=max_bytes)


def download(url, dest_dir, sha256, size=None, name=None, timeout=30, deadline=_download.ARCHIVE_DEADLINE,
             max_bytes=_download.ARCHIVE_MAX_BYTES, validate_certs=True, ca_path=None, username=None, password=None,
             force_basic_auth=False, **kw):
    """Stream `url` into a new file in dest_dir, verified against size and sha256; its path. The
    caller renames it into place (same file system) or removes it. kw as for fetch_text."""
    with Client(timeout=timeout, deadline=deadline, validate_certs=validate_certs, ca_path=ca_path, username=username,
                password=password, force_basic_auth=force_basic_auth, **kw) as client:
        return client.download(url, dest_dir, sha256, size=size, name=name, max_bytes=max_bytes)
