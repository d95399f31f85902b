# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: go_release
author:
  - gofleet developers (@gofleet)
version_added: 0.1.0
short_description: Resolve a Go version spec to an official release file, its URL and SHA-256
description:
  - Reads the JSON release index from O(base_url) (go.dev or a mirror of it, C(<base_url>/dl/?mode=json&include=all))
    on the controller and returns, for each term, the official archive that the spec selects for one OS and
    architecture - version, file name, absolute URL, SHA-256 and size - as go.dev publishes them.
  - Specs are the ones M(gofleet.golang.go_install) takes. An exact version (V(1.27.3), V(go1.27.3), V(go1.20),
    V(1.20.0), V(1.27rc1)); a minor line meaning its newest stable patch (V(1.27) or V(1.27.x)); V(stable) (alias
    V(latest)); V(oldstable) (the newest patch of the minor line before the newest); or a constraint such as
    V(>=1.26,<1.27.3) (the newest stable release matching every clause).
  - Releases marked C(stable=false) in the index (release candidates, betas) are chosen only when a term names one
    exactly, or with O(include_unstable=true).
  - When the base URL serves no JSON index (HTTP 404), or with O(use_index=false), only exact versions resolve, and
    the digest comes from the C(.sha256) sidecar next to the archive.
  - This lookup only resolves; it verifies nothing it does not download. M(gofleet.golang.go_install) checks the
    archive's size and SHA-256 before it extracts anything.
requirements:
  - requests (Python library, on the controller)
options:
  _terms:
    description:
      - Version specs to resolve. One result per term, in order.
      - May be empty when O(version_file) is given.
    type: list
    elements: str
  version_file:
    description:
      - Path on the controller of a C(go.mod), C(go.work), C(.go-version) or C(.tool-versions) file whose version is
        resolved as an extra term (after the given terms).
      - In C(go.mod)/C(go.work) the C(toolchain) line wins over the C(go) line; C(go 1.21) means exactly C(go1.21.0)
        and C(go 1.20) means C(go1.20) (Go's naming up to 1.20).
    type: path
  newest_patch:
    description:
      - With O(version_file), resolve the newest stable patch of the minor line the file names instead of exactly
        the version it names.
    type: bool
    default: false
  os:
    description:
      - GOOS of the release file (V(linux), V(darwin), V(windows), V(freebsd), ...).
      - Defaults to the controller's own. Set it when resolving for managed nodes.
    type: str
  arch:
    description:
      - GOARCH of the release file (V(amd64), V(arm64), V(arm) (the C(armv6l) archive; V(armv6l) is accepted too),
        V(386), V(ppc64le), V(s390x), V(riscv64), V(loong64)).
      - Defaults to the controller's own (its hardware on a Mac under Rosetta; the 32-bit one on a 32-bit userland).
        Set it when resolving for managed nodes.
    type: str
  base_url:
    description:
      - Where the releases are published, in go.dev's URL shapes (C(<base_url>/dl/?mode=json&include=all),
        C(<base_url>/dl/<file>), C(<base_url>/dl/<file>.sha256)).
    type: str
    default: https://go.dev
    env:
      - name: GOFLEET_GO_BASE_URL
    vars:
      - name: gofleet_go_base_url
  include_unstable:
    description:
      - Let V(stable), minor lines and constraints choose release candidates and betas too.
    type: bool
    default: false
  use_index:
    description:
      - Read the JSON index. With V(false), or when the base URL answers 404 for it, only exact versions resolve
        and the SHA-256 is read from the C(.sha256) sidecar (size unknown).
    type: bool
    default: true
  goproxy:
    description:
      - Resolve the toolchain module C(golang.org/toolchain) through a Go module proxy instead of O(base_url), in
        GOPROXY's list syntax (see M(gofleet.golang.go_install)'s O(gofleet.golang.go_install#module:goproxy)).
        The result's C(h1) is then the zip's hash as the checksum database O(sumdb) vouches for it, verified here
        on the controller (signature, inclusion proof, consistency with the newest tree head seen before), and
        C(url) the zip's URL at the first GOPROXY entry.
      - The role C(gofleet.golang.go) hands that verified hash to the nodes as a pin, so nodes need no
        C(cryptography) package.
    type: str
    env:
      - name: GOFLEET_GO_GOPROXY
    vars:
      - name: gofleet_go_goproxy
  sumdb:
    description:
      - With O(goproxy), the checksum database in GOSUMDB's syntax (V(<name>+<key> [<url>]), or V(sum.golang.org)).
        Verification cannot be turned off.
    type: str
    default: sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8
  sumdb_state_dir:
    description:
      - Folder on the controller where the newest signed tree head of each checksum database is kept between
        runs (one file per database, the folder 0700), so that a forked log is refused on a later run.
      - An AWX execution environment forgets its files between jobs - there each job starts with no remembered
        head, and a fork is noticed only within a job. Point it at a persistent volume to keep it.
    type: path
    default: ~/.cache/gofleet/sumdb
    env:
      - name: GOFLEET_SUMDB_STATE_DIR
  check_file:
    description:
      - Also send a C(HEAD) request for each resolved archive URL (following redirects) and fail unless it answers
        200 with the published size.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for a connection or for data before a try is abandoned.
    type: float
    default: 30
  retries:
    description:
      - How many times a request is retried after a connection error, a timeout or an HTTP 429/500/502/503/504,
        with exponential backoff (0.5 s, 1 s, 2 s, ...).
    type: int
    default: 3
  validate_certs:
    description: Verify the server's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: PEM file of CA certificates to verify the server with (an internal mirror's CA).
    type: path
  use_proxy:
    description:
      - Use the proxy given by O(proxy), else the C(https_proxy)/C(http_proxy)/C(no_proxy) environment variables.
      - With V(false), connect directly.
    type: bool
    default: true
  proxy:
    description: Proxy URL for every request (for example V(http://proxy.example:3128)); overrides the environment.
    type: str
notes:
  - Runs on the controller; it needs no access from the managed nodes to O(base_url).
  - go.dev's plain C(?mode=json) lists only the newest patch of the two supported minor lines, so this lookup reads
    C(&include=all), which lists every release.
seealso:
  - module: gofleet.golang.go_install
"""

EXAMPLES = r"""
- name: Newest patch of Go 1.27 for linux/arm64 hosts
  ansible.builtin.debug:
    msg: "{{ lookup('gofleet.golang.go_release', '1.27.x', os='linux', arch='arm64') }}"

- name: URL and digest of the current stable release for linux/amd64
  ansible.builtin.set_fact:
    go_stable: "{{ lookup('gofleet.golang.go_release', 'stable', os='linux', arch='amd64') }}"

- name: Show them
  ansible.builtin.debug:
    msg: "{{ go_stable.filename }} {{ go_stable.url }} sha256:{{ go_stable.sha256 }}"

- name: Stable and oldstable at once (query returns a list)
  ansible.builtin.debug:
    msg: "{{ query('gofleet.golang.go_release', 'stable', 'oldstable', os='linux', arch='amd64') | map(attribute='version') }}"

- name: Newest release before 1.27.3, from an internal mirror with its own CA
  ansible.builtin.debug:
    msg: "{{ lookup('gofleet.golang.go_release', '>=1.26,<1.27.3', os='linux', arch='amd64',
             base_url='https://go-mirror.example.com', ca_path='/etc/ssl/certs/ca-certificates.crt',
             timeout=10, retries=5) }}"

- name: The Go a project's go.mod names, exactly (toolchain line first, then go line)
  ansible.builtin.debug:
    msg: "{{ lookup('gofleet.golang.go_release', version_file=playbook_dir ~ '/go.mod', os='linux', arch='amd64') }}"
  when: (playbook_dir ~ '/go.mod') is file

- name: The toolchain module through a Go module proxy, its h1 verified by Go's checksum database
  ansible.builtin.set_fact:
    go_module_release: "{{ lookup('gofleet.golang.go_release', '1.27.x', os='linux', arch='amd64',
                           goproxy='https://proxy.golang.org', sumdb='sum.golang.org') }}"

- name: Install it on a node that has no cryptography, pinned to the verified h1
  gofleet.golang.go_install:
    version: "{{ go_module_release.version }}"
    goproxy: https://proxy.golang.org
    checksum: "{{ go_module_release.h1 }}"

- name: Download the resolved archive once on the controller, verified
  vars:
    rel: "{{ lookup('gofleet.golang.go_release', '1.27.x', os='linux', arch='amd64') }}"
  ansible.builtin.get_url:
    url: "{{ rel.url }}"
    dest: "/var/tmp/{{ rel.filename }}"
    checksum: "sha256:{{ rel.sha256 }}"
    mode: "0644"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
_raw:
  description: One release file per term.
  type: list
  elements: dict
  contains:
    version:
      description: The Go version, without C(go), in go.dev's spelling (V(1.27.3), V(1.20), V(1.21.0), V(1.27rc1)).
      type: str
      sample: 1.27.3
    tag:
      description: The version with C(go), as C(go version) prints it.
      type: str
      sample: go1.27.3
    filename:
      description: The archive's file name.
      type: str
      sample: go1.27.3.linux-amd64.tar.gz
    url:
      description: Absolute download URL (C(<base_url>/dl/<filename>); go.dev redirects it to its storage host).
      type: str
      sample: https://go.dev/dl/go1.27.3.linux-amd64.tar.gz
    sha256:
      description: SHA-256 of the archive as published (in the index, or the C(.sha256) sidecar without one).
      type: str
      sample: 59522b34be1bc0f47db95fefd2a099cbb925bce4cdd18a0ec2d72a24471ce2c9
    size:
      description: Size in bytes as published in the index; null when resolved through a sidecar.
      type: int
      sample: 68268484
    os:
      description: GOOS of the archive.
      type: str
      sample: linux
    arch:
      description: GOARCH of the archive (V(arm) for an C(armv6l) archive).
      type: str
      sample: amd64
    stable:
      description: Whether the index marks the release stable (false for release candidates and betas).
      type: bool
      sample: true
    source:
      description: Where the digest came from, V(index) or V(sidecar); with O(goproxy), V(sumdb).
      type: str
      sample: index
    kind:
      description: V(archive) (go.dev's archive, verified by C(sha256)) or V(module) (with O(goproxy), the
        toolchain module zip, verified by C(h1)).
      type: str
      sample: archive
    h1:
      description: With O(goproxy), the module zip's C(h1:) hash as the checksum database's verified record gives it.
      type: str
      sample: h1:2G8yQn8rYRhWVLiG5tD3FzNk1b7y4iVqg5cH2U3Nq1k=
    module_version:
      description: With O(goproxy), the toolchain module version (C(v0.0.1-go1.27.3.linux-amd64)).
      type: str
    verification:
      description:
        - With O(goproxy), what the checksum database proved - C(db), C(record) (its number in the log),
          C(tree_size), C(tree_hash), C(lines) (the go.sum lines) and C(verified_by) (V(controller)).
      type: dict
"""

import os
import subprocess

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.gofleet.golang.plugins.module_utils import _goproxy, _platform, _release, _sumdb, _versions
from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError
from ansible_collections.gofleet.golang.plugins.plugin_utils import _http

display = Display()


def _run(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.SubprocessError) as e:
        return 1, "", str(e)
    return done.returncode, done.stdout, done.stderr


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        if _http.REQUESTS_IMPORT_ERROR is not None:
            raise AnsibleLookupError("the gofleet.golang.go_release lookup needs the Python library requests on the "
                                     "controller (pip install requests): %s" % _http.REQUESTS_IMPORT_ERROR)
        self.set_options(var_options=variables, direct=kwargs)
        specs = [to_native(t).strip() for t in terms or []]
        if self.get_option("version_file"):
            path = self.get_option("version_file")
            try:
                specs.append(_versions.read_version_file(path, newest_patch=self.get_option("newest_patch")))
            except (OSError, _versions.VersionError) as e:
                raise AnsibleLookupError("go_release: version_file %s: %s" % (path, e)) from None
        if not specs:
            raise AnsibleLookupError("go_release: give a version spec (e.g. '1.27.x', 'stable') or version_file=")
        goos, goarch = self._platform()
        base = self.get_option("base_url").rstrip("/")
        try:
            client = self._client()
        except GofleetError as e:
            raise AnsibleLookupError("go_release: %s" % e) from None
        fetch = self._fetcher(client)
        goproxy = self.get_option("goproxy")
        where = ("GOPROXY " + _http.redact_url(goproxy)) if goproxy else base
        try:
            results = []
            for spec in specs:
                try:
                    if goproxy:
                        rel = self._resolve_module(spec, goos, goarch, client)
                    else:
                        rel = _release.resolve(spec, goos, goarch, fetch, base,
                                               include_unstable=self.get_option("include_unstable"),
                                               use_index=self.get_option("use_index"))
                except GofleetError as e:
                    raise AnsibleLookupError("go_release %r (%s-%s) at %s: %s" % (spec, goos, goarch, where, e)) from None
                if self.get_option("check_file"):
                    self._check_file(client, spec, rel)
                results.append(rel.as_dict())
            return results
        finally:
            client.close()

    # ---- pieces -----------------------------------------------------------------------------
    def _resolve_module(self, spec, goos, goarch, client):
        """The toolchain module through the GOPROXY list, verified here against the checksum database."""
        fetch = _goproxy.open_fetch(client.get_bytes)
        proxy = _goproxy.Proxy(_goproxy.parse_goproxy(self.get_option("goproxy")), fetch)
        db = _sumdb.parse_gosumdb(self.get_option("sumdb"))
        state = _sumdb.State(os.path.expanduser(self.get_option("sumdb_state_dir")))

        def verify(modver):
            return _sumdb.lookup(db, proxy.sumdb_url(db), _goproxy.TOOLCHAIN, modver, fetch, state)

        release = _release.resolve_module(spec, goos, goarch, proxy, include_unstable=self.get_option("include_unstable"),
                                          verify=verify)
        if release.verification:
            release.verification["verified_by"] = "controller"
        return release

    def _platform(self):
        goos, arch = self.get_option("os"), self.get_option("arch")
        if not goos or not arch:
            host = _platform.detect(run=_run)
            goos = goos or host["goos"]
            arch = arch or host["goarch"]
            if not arch:
                raise AnsibleLookupError("go_release: cannot tell this controller's Go architecture (uname -m %s): "
                                         "give arch=" % host["kernel_machine"])
        return goos, _platform.goarch_of_archive_arch(arch)

    def _client(self):
        """The controller's HTTP client: module_utils/_download's policy over requests (plugin_utils/_http)."""
        return _http.Client(timeout=self.get_option("timeout"), retries=max(0, self.get_option("retries")),
                            validate_certs=self.get_option("validate_certs"), ca_path=self.get_option("ca_path"),
                            use_proxy=self.get_option("use_proxy"), proxy=self.get_option("proxy"),
                            user_agent="gofleet.golang go_release lookup")

    def _fetcher(self, client):
        """fetch(url, max_bytes) -> text for the resolver; each URL is requested once per lookup run."""
        seen = {}

        def fetch(url, max_bytes):
            if url not in seen:
                try:
                    seen[url] = (client.get_text(url, max_bytes=max_bytes), None)
                except GofleetError as e:
                    seen[url] = (None, e)
                    if getattr(e, "status", None) == 404 and url.endswith("mode=json&include=all"):
                        display.warning("go_release: %s has no JSON index (404): only exact versions resolve, through "
                                        ".sha256 sidecars" % url.split("/dl/")[0])
            text, err = seen[url]
            if err is not None:
                raise err
            return text
        return fetch

    def _check_file(self, client, spec, rel):
        """The archive answers 200 with the published size (a GET whose body is not read)."""
        try:
            length = client.content_length(rel.url)
        except GofleetError as e:
            raise AnsibleLookupError("go_release %r: %s" % (spec, e)) from None
        if rel.size is not None and length is not None and length.strip() != str(rel.size):
            raise AnsibleLookupError("go_release %r: %s is %s bytes, but the index publishes %d"
                                     % (spec, rel.url, length, rel.size))
