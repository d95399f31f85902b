# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The options of plugins/module_utils/_download.url_options(), written once.
    DOCUMENTATION = r"""
options:
  timeout:
    description:
      - Seconds without data before a request is abandoned (and retried).
    type: int
    default: 60
  retries:
    description:
      - How many times a failed download (5xx, timeout, truncated body, connection error) is retried,
        with exponential backoff.
      - Never retried - a digest mismatch, a body larger than published, a Content-Length that is not a
        number, a refused redirect, an untrusted TLS certificate, a full disk on the node.
    type: int
    default: 3
  download_deadline:
    description:
      - Seconds one archive download may take in all, retries and backoff included, however steadily the
        server trickles data. An index or a sidecar gets the smaller of this and 300 seconds.
    type: int
    default: 3600
  validate_certs:
    description: Validate TLS certificates.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the certificate authorities to verify the mirror with (an internal mirror's CA).
    type: path
  use_proxy:
    description: Use the proxy from the environment (C(https_proxy), C(no_proxy)).
    type: bool
    default: true
  url_username:
    description:
      - User name for HTTP basic authentication to the mirror.
      - Credentials (these, C(user:password@) in the URL, C(~/.netrc)) are sent only to the origin asked for
        (scheme, host and port), never to another host a redirect leads to, and are redacted from every
        message and return value.
    type: str
  url_password:
    description: Password for HTTP basic authentication to the mirror.
    type: str
  force_basic_auth:
    description: Send basic authentication credentials with the first request to the origin.
    type: bool
    default: false
  client_cert:
    description: PEM client certificate for TLS client authentication.
    type: path
  client_key:
    description: PEM private key for O(client_cert).
    type: path
  use_gssapi:
    description: Use GSSAPI (Kerberos) authentication (to the origin only).
    type: bool
    default: false
notes:
  - Redirects are followed (at most 10) but never from C(https://) to C(http://); plain C(http://) without a
    pinned checksum is warned about.
"""
