#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: go_install
short_description: Install the official Go toolchain for the host's real architecture, verified and atomic
version_added: 0.1.0
description:
  - Resolves a Go version spec (exact, V(1.27), V(1.27.x), V(stable), V(oldstable), or the version a
    C(go.mod), C(go.work), C(.go-version) or C(.tool-versions) file names) against go.dev's JSON index
    or a mirror of it, for the node's real OS and architecture.
  - Downloads the official archive, checks its size and SHA-256 before anything is extracted (there is
    no switch to turn verification off), extracts it into a staging folder on the same filesystem,
    refusing members that escape it, checks that C(bin/go) is of the target architecture (read from
    its headers) and runs C(go version) when the node can run it, then renames it into place and
    switches the active link atomically.
  - Versions live side by side under O(install_root); the active link (default C(/usr/local/go))
    points at one of them, so existing C(PATH) conventions keep working. A tree that
    M(gofleet.golang.go_toolchain_rebuild) rebuilt from a version (C(go1.27.3-rebuilt.<time>)) counts
    as that version; while it is active and healthy, installing the same version keeps it active.
  - A run that fails or is killed at any point leaves the previously active Go working; the next run
    removes its leftovers. Runs on one O(install_root) are serialized by a lock.
author:
  - gofleet developers (@gofleet)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - gofleet.golang.layout
  - gofleet.golang.layout.base_url
  - gofleet.golang.download
requirements:
  - Python 3.8 or newer on the managed node (standard library only).
attributes:
  check_mode:
    support: full
    details: Resolves the version (reads the index) and reports what would change; downloads no archive.
  diff_mode:
    support: full
    details: Shows the active version and installed versions before and after.
  platform:
    platforms: posix
options:
  version:
    description:
      - Version spec. An exact version (V(1.27.3), V(go1.27.3), V(go1.20) or V(1.20.0) for the first 1.20
        release, V(1.27rc1)), a minor line meaning its newest stable patch (V(1.27) or V(1.27.x)),
        V(stable) (alias V(latest)), V(oldstable), or a constraint (V(>=1.26,<1.27.3)) meaning the newest
        stable release matching it.
      - Default V(stable). With O(state=absent), required and exact.
      - With O(src), optional and exact; when given it must match the archive's C(VERSION). Without it the
        version is the one recorded for these very bytes, else the archive's C(VERSION).
      - An exact version with O(checksum) needs no request at all (the digest is yours), which is how fleet
        mode and air-gapped hosts use it. An exact version already installed from verified bytes answers from its
        record, also without a request.
    type: str
  version_file:
    description:
      - Path on the node of a C(go.mod), C(go.work), C(.go-version) or C(.tool-versions) file to take the
        version from. For C(go.mod)/C(go.work) the C(toolchain) line wins over the C(go) line.
    type: path
  version_file_newest_patch:
    description:
      - With O(version_file), install the newest patch of the named minor line instead of exactly the
        version the file names.
    type: bool
    default: false
  state:
    description:
      - V(present) installs (and by default activates) the version; V(absent) removes it, with the trees
        M(gofleet.golang.go_toolchain_rebuild) rebuilt from it.
    type: str
    choices: [present, absent]
    default: present
  checksum:
    description:
      - SHA-256 of the archive (V(sha256:<hex>) or V(<hex>)). Always wins over the published digest.
      - With O(goproxy), the toolchain module zip's C(h1:) hash instead, as C(go.sum) and the checksum database
        write it (V(h1:<base64>)); it replaces the database's answer (air-gapped sites, a hash the controller
        verified). With O(src), V(h1:...) means O(src) is a toolchain module zip.
      - Required with O(src). Without it, over plain C(http://), a warning says that the network path could
        serve another archive with a matching digest.
    type: str
  checksum_index:
    description:
      - For the archive source (O(base_url)), the base URL of another index in go.dev's URL shapes (for example
        V(https://go.dev)) whose published SHA-256 the archive must match, so that a mirror serving its own index
        cannot vouch for itself. The mirror's and this index's digests must agree; the archive is still
        downloaded from O(base_url).
    type: str
  goproxy:
    description:
      - Take the toolchain from a Go module proxy instead of O(base_url), as the go command's own toolchain switch
        (C(GOTOOLCHAIN)) does - the module C(golang.org/toolchain), version C(v0.0.1-go<version>.<goos>-<goarch>)
        (Go's architecture names, C(linux-arm) and not C(armv6l)) - so any proxy a company already runs serves it
        (Artifactory, Nexus, Athens, goproxy.cn, a C(file://) tree).
      - GOPROXY's list syntax. URLs separated by V(,) are tried in turn when one answers 404 or 410, by V(|) after
        any error; V(direct) is go.dev's module endpoint (C(https://go.dev/dl/mod)), V(off) refuses to download.
        Versions come from the proxy's C(@v/list); version specs are the same as with O(base_url).
      - The zip's C(h1:) hash, computed from the downloaded bytes before anything is extracted, must equal the
        checksum database's signed record (O(sumdb)), or O(checksum) when given. The proxy is never trusted
        for it. The unpacked tree is a GOROOT like the archive's (C(_go.mod) files copied to C(go.mod), modes
        as Go's release tooling sets them), through the same checks and atomic switch.
    type: str
  sumdb:
    description:
      - The checksum database that vouches for toolchain module zips (O(goproxy)), in GOSUMDB's syntax
        V(<name>+<key>) or V(<name>+<key> <url>); a bare V(sum.golang.org) (or its alias for goproxy.cn users,
        V(sum.golang.google.cn)) takes Go's published key.
      - Without a URL it is reached as the go command reaches it - through the first GOPROXY entry that serves
        C(<proxy>/sumdb/<name>/supported), else directly; a URL is used as it is.
      - Its signed tree head is checked with the key, the record's inclusion in that tree with the log's tiles,
        and the tree against the newest head this host saw before (kept root-only under
        C(<install_root>/.gofleet/sumdb/)), so a forked log is refused.
      - There is no way to turn it off (V(off) is refused); pin the hash with O(checksum) instead. Checking the
        signature needs the C(cryptography) Python package on the node. Without it, give O(checksum)
        (the role C(gofleet.golang.go) verifies on the controller and hands the node that pin).
    type: str
    default: sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8
  src:
    description:
      - Path on the node of an official C(.tar.gz) archive to install instead of downloading (air-gapped
        hosts, fleet mode). Verified against O(checksum).
      - Opened once, without following a symbolic link. Unless it is a regular file owned by the running
        user, not writable by group or others and with one link, its bytes are first copied into a root-only
        folder of O(install_root) and that copy is verified and unpacked, so nobody can change them between
        the check and the extraction.
    type: path
  os:
    description:
      - Force the GOOS of the archive. Default is the node's own; a value that disagrees is warned about.
    type: str
  arch:
    description:
      - Force the GOARCH of the archive (V(amd64), V(arm64), V(arm), V(386), ...). Default is the node's
        real architecture (on a Mac, the hardware's even under Rosetta; on a 32-bit userland, the 32-bit
        one). A value that disagrees is warned about.
    type: str
  activate:
    description:
      - Point O(active_link) at the installed version.
    type: bool
    default: true
  keep:
    description:
      - After installing, keep at most this many versions; older ones are removed, with their rebuilt trees.
        V(0) keeps all.
      - The version this run asks for and the active one always stay (so V(1) with O(activate=false) keeps
        two). Refused on a network file system, where other hosts may use the versions.
    type: int
    default: 0
  force:
    description:
      - With O(state=absent), also remove the active version (and its link).
    type: bool
    default: false
  lock_timeout:
    description:
      - Seconds to wait for another run holding the O(install_root) lock.
    type: int
    default: 900
  go_env:
    description:
      - Go's system-wide settings for the installed toolchain, written into its C($GOROOT/go.env) (a
        C(NAME=value) line for each one with a value, in the given order; settings with an empty value
        are left out). Values set with C(go env -w) override these, the environment overrides everything.
      - The file is compared on every run and rewritten only when it differs, in the same call that
        installs, so a converged host costs no extra task.
      - Omitted, C(go.env) is left as the toolchain ships it.
    type: dict
  profile:
    description:
      - The login-shell script that puts the active toolchain (O(active_link)C(/bin)) first on C(PATH), then
        each user's C(GOPATH/bin), written in the same call (compared, rewritten only when it differs).
      - Where C(/etc/zsh) is a folder, a marked block in C(/etc/zsh/zprofile) makes zsh login shells read it too.
      - Omitted, no login file is touched.
    type: dict
    suboptions:
      path:
        description:
          - The script's path, for example C(/etc/profile.d/go.sh). Letters, digits and C(. _ + @ % , - / :) only (it
            is written into zsh's zprofile as is).
        type: path
        required: true
      gopath:
        description:
          - C(GOPATH) for users who have none; C($NAME) and C(${NAME}) references expand at login. Nothing
            else may expand (no C($(...)), backquote, quote or backslash).
        type: str
        default: "$HOME/go"
      goroot:
        description: Also export C(GOROOT) (the active link). Go finds its root without it.
        type: bool
        default: false
      zsh:
        description: Add the zprofile block where C(/etc/zsh) is a folder.
        type: bool
        default: true
notes:
  - The node needs no Go and no Python library beyond the standard library.
  - Files written for O(go_env) and O(profile) are replaced atomically, owned by root with mode 0644, never
    through a symbolic link and only in folders no other user can change.
  - Fleet mode (download once on the controller, push to nodes) is built on O(src) and O(checksum).
seealso:
  - module: gofleet.golang.go_binary_arch
  - plugin: gofleet.golang.go_release
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Install the newest stable Go for this host's real architecture and make it active
  gofleet.golang.go_install:
    version: stable

- name: Install the newest 1.26 patch side by side, without switching to it
  gofleet.golang.go_install:
    version: "1.26.x"
    activate: false

- name: Install what the project's go.mod asks for (toolchain line first, then go line)
  gofleet.golang.go_install:
    version_file: /srv/app/go.mod

- name: Install from an internal mirror and keep only the two newest versions
  gofleet.golang.go_install:
    version: "1.27.3"
    base_url: https://mirror.example.com/golang
    keep: 2

- name: Air-gapped host, archive already copied to the node
  gofleet.golang.go_install:
    src: /var/tmp/go1.27.3.linux-amd64.tar.gz
    checksum: "sha256:4a8b0c..."

- name: Install through the company's Go module proxy, verified by Go's checksum database
  gofleet.golang.go_install:
    version: "1.27.x"
    goproxy: https://artifactory.example.com/api/go/golang-remote,direct

- name: A private proxy and a private (or proxied) checksum database with its own key and URL
  gofleet.golang.go_install:
    version: "1.27.3"
    goproxy: https://athens.example.com
    sumdb: "sum.example.com+4f1e3c2a+AbCd... https://sum.example.com"

- name: Cross-check a mirror's archive against go.dev's published digest
  gofleet.golang.go_install:
    version: "1.27.3"
    base_url: https://mirror.example.com/golang
    checksum_index: https://go.dev

- name: Install and write Go's settings and the login-shell script in the same call
  gofleet.golang.go_install:
    version: stable
    go_env:
      GOPROXY: https://proxy.golang.org,direct
      GOTOOLCHAIN: local
    profile:
      path: /etc/profile.d/go.sh

- name: Remove an old version
  gofleet.golang.go_install:
    version: "1.26.6"
    state: absent
"""

RETURN = r"""
version:
  description: The Go version installed, kept or removed (without the C(go) prefix).
  returned: always
  type: str
  sample: 1.27.3
goroot:
  description:
    - Its folder (the GOROOT).
    - When the active link points at a tree rebuilt from this version by
      M(gofleet.golang.go_toolchain_rebuild) (C(go<version>-rebuilt.<time>)), that tree. A healthy
      rebuild of the requested version stays active; it is that version.
  returned: always
  type: str
  sample: /opt/go/go1.27.3
active_goroot:
  description: The folder the active link points at after the run, if it is one of O(install_root)'s trees, else null.
  returned: always
  type: str
  sample: /opt/go/go1.27.3
active_link:
  description: The active link's path.
  returned: always
  type: str
  sample: /usr/local/go
active_version:
  description: The version the active link points at after the run, or null.
  returned: always
  type: str
  sample: 1.27.3
previous_version:
  description: The version the active link pointed at before the run, or null.
  returned: always
  type: str
  sample: 1.26.6
os:
  description: GOOS of the archive.
  returned: always
  type: str
  sample: linux
arch:
  description: GOARCH of the archive.
  returned: always
  type: str
  sample: arm64
host:
  description: What the node was detected to be (kernel machine, userland bits, Rosetta).
  returned: always
  type: dict
  sample: {"goos": "linux", "goarch": "arm64", "kernel_machine": "aarch64", "userland_bits": 64, "translated": false}
url:
  description: Where the archive was (or would be) downloaded from, credentials redacted; null with O(src).
  returned: state=present
  type: str
  sample: https://go.dev/dl/go1.27.3.linux-arm64.tar.gz
sha256:
  description: The verified SHA-256 of the archive.
  returned: state=present
  type: str
plan:
  description:
    - What the run does (or in check mode would do) on this host. Fleet mode asks for it in check mode with an
      exact O(version) and O(checksum), which touches no network, and pushes the archive only when RV(plan.install).
  returned: always
  type: dict
  contains:
    install:
      description: The version is not installed healthy and its archive is installed.
      type: bool
    switch:
      description: The active link is switched to the version.
      type: bool
    prune:
      description: Versions O(keep) removes (with O(state=absent), the version removed).
      type: list
      elements: str
  sample: {"install": false, "switch": true, "prune": ["1.26.6"]}
release:
  description:
    - The release the run decided, with where each field came from (V(index), V(sidecar), V(checksum), V(record),
      V(checksum_index), V(list), V(sumdb)). The same value the P(gofleet.golang.go_release#lookup) lookup returns.
    - With O(goproxy), C(kind) is V(module), C(h1) the verified hash of the module zip and C(verification) what
      the checksum database proved (database, record number, tree size and hash, the go.sum lines,
      C(verified_by=node)); null with a pinned O(checksum) (C(sources.h1) is then V(checksum)) or a hash from this
      host's install record (V(record)).
  returned: state=present
  type: dict
  sample: {"version": "1.27.3", "filename": "go1.27.3.linux-amd64.tar.gz", "sha256": "59522b...", "size": 68268484,
           "kind": "archive", "sources": {"version": "index", "sha256": "index", "size": "index"}}
installed_versions:
  description: Versions under O(install_root) after the run, oldest first.
  returned: always
  type: list
  elements: str
removed_versions:
  description: Versions removed by this run (O(state=absent) or O(keep)); in check mode, the ones it would remove.
  returned: always
  type: list
  elements: str
files:
  description:
    - The files written for O(go_env) and O(profile) (C(go.env), the login script, zsh's zprofile), each with
      C(changed) (in check mode, whether it would be rewritten).
  returned: state=present
  type: list
  elements: dict
  sample: [{"path": "/opt/go/go1.27.3/go.env", "changed": false}, {"path": "/etc/profile.d/go.sh", "changed": true}]
bytes_downloaded:
  description: Bytes fetched over the network by this run (index, sidecar, archive).
  returned: always
  type: int
seconds:
  description: Wall time of the run.
  returned: always
  type: float
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gofleet.golang.plugins.module_utils import _download, _install, _layout, _platform, _release
from ansible_collections.gofleet.golang.plugins.module_utils import _goproxy, _login, _sumdb, _versions
from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError


class GoInstall:
    """go_install's states over the install path (module_utils/_install): one method per state."""

    def __init__(self, module):
        self.module = module
        self.p = module.params
        secret = _download.url_credentials(self.p["base_url"] or "")[1]
        if secret:  # user:password@ in base_url: masked wherever Ansible shows values (invocation too)
            module.no_log_values.add(secret)
        self.layout = _layout.Layout(self.p["install_root"], self.p["active_link"])
        self.fetcher = _download.Fetcher(module)
        self.host = _platform.detect(run=self._run)
        self.engine = _install.Engine(self.layout, self.host, self._run_env, module.warn)
        self.result = dict(changed=False, active_link=self.layout.active_link, removed_versions=[], url=None,
                           sha256=None, host=self.host)
        self._proxy = None

    def _run(self, argv):
        return self.module.run_command(argv, environ_update=dict(LANG="C", LC_ALL="C"))

    def _run_env(self, argv, env):
        return self.module.run_command(argv, environ_update=dict(env, LANG="C", LC_ALL="C"))

    def _fetch(self, url, max_bytes):
        return self.fetcher.get_text(url, max_bytes)

    # ---- inputs -----------------------------------------------------------------------------
    def target_platform(self):
        goos, goarch = self.host["goos"], self.host["goarch"]
        if self.p["os"] and self.p["os"] != goos:
            self.module.warn("os=%s was forced, but this node is %s" % (self.p["os"], goos))
            goos = self.p["os"]
        if self.p["arch"]:
            arch = _platform.goarch_of_archive_arch(self.p["arch"])
            if arch != goarch:
                self.module.warn("arch=%s was forced, but this node is %s (%s): the installed go will not "
                                 "run natively here" % (arch, goarch, self.host["how"]))
            goarch = arch
        if not goarch:
            raise GofleetError("cannot tell the Go architecture of this node (uname -m says %r); set arch="
                               % self.host["kernel_machine"])
        return goos, goarch

    def spec(self):
        if self.p["version_file"]:
            try:
                return _versions.read_version_file(self.p["version_file"],
                                                   newest_patch=self.p["version_file_newest_patch"])
            except (OSError, _versions.VersionError) as e:
                raise GofleetError("version_file %s: %s" % (self.p["version_file"], e)) from None
        return self.p["version"] or "stable"

    def release(self, goos, goarch):
        """spec -> Release: the resolver (records first, then a pinned checksum, the index, a sidecar);
        with src, the archive on the node (its version: the one given, else the record of these bytes);
        with goproxy, the toolchain module (module_release)."""
        checksum = self.p["checksum"]
        if self.p["goproxy"] or (self.p["src"] and str(checksum).strip().startswith("h1:")):
            return self.module_release(goos, goarch)
        if self.p["src"]:
            version = _versions.exact_version(self.p["version"]) if self.p["version"] else None
            digest = _release.parse_checksum(checksum)
            recorded = version is None and self.layout.version_with_digest(digest)
            return _release.local(self.p["src"], digest, version or recorded or None, goos, goarch, bool(recorded))
        release = _release.resolve(self.spec(), goos, goarch, self._fetch, self.p["base_url"].rstrip("/"),
                                   checksum=checksum, installed=self.engine.recorded(goos, goarch))
        if self.p["checksum_index"] and release.sources["sha256"] not in ("checksum", "record"):
            self.cross_check(release, goos, goarch)
        return release

    def cross_check(self, release, goos, goarch):
        """The archive's digest as another index (checksum_index) publishes it must be the mirror's."""
        base = self.p["checksum_index"].rstrip("/")
        other = _release.resolve(release.version, goos, goarch, self._fetch, base)
        if other.sha256 != release.sha256:
            raise GofleetError("%s: %s publishes sha256 %s, but checksum_index %s publishes %s: the mirror's index "
                               "does not agree with the one it is checked against; nothing was installed"
                               % (release.filename, _download.redact_url(self.p["base_url"]), release.sha256,
                                  _download.redact_url(base), other.sha256))
        release.sources["sha256"] = "checksum_index"

    @property
    def proxy(self):
        if self._proxy is None:
            self._proxy = _goproxy.Proxy(_goproxy.parse_goproxy(self.p["goproxy"] or "off"),
                                         _goproxy.open_fetch(self.fetcher.get_bytes))
        return self._proxy

    def module_release(self, goos, goarch):
        """The toolchain module through the GOPROXY list, its h1: from the checksum database (or the pin);
        with src, a node-local module zip and its pinned h1:."""
        checksum = self.p["checksum"]
        if checksum and not str(checksum).strip().startswith("h1:"):
            raise GofleetError("checksum=%s: with goproxy, checksum is the toolchain module zip's h1: hash (as go.sum "
                               "and the checksum database write it, h1:<base64>), not an archive's SHA-256"
                               % checksum)
        if self.p["src"]:
            version = _versions.exact_version(self.p["version"]) if self.p["version"] else None
            return _release.local_module(self.p["src"], checksum, version, goos, goarch)
        release = _release.resolve_module(self.spec(), goos, goarch, self.proxy, checksum=checksum,
                                          installed=self.engine.recorded(goos, goarch, kind="module"),
                                          verify=self.verify)
        if release.verification:
            release.verification["verified_by"] = "node"
        return release

    def verify(self, modver):
        """The checksum database's verified record of golang.org/toolchain@modver, checked on this node."""
        db = _sumdb.parse_gosumdb(self.p["sumdb"])
        state = _sumdb.State(self.layout.sumdb_dir(), read_only=self.module.check_mode)
        return _sumdb.lookup(db, self.proxy.sumdb_url(db), _goproxy.TOOLCHAIN, modver,
                             _goproxy.open_fetch(self.fetcher.get_bytes), state)

    # ---- states -----------------------------------------------------------------------------
    def state_present(self):
        _login.check(self.p["go_env"], self.p["profile"], self.layout.active_link)
        goos, goarch = self.target_platform()
        self.result.update(os=goos, arch=goarch)
        release = self.release(goos, goarch)
        if not self.module.check_mode:
            self.layout.lock(self.p["lock_timeout"])
        self.result.update(url=_download.redact_url(release.url), sha256=release.sha256,
                           release=dict(release.as_dict(), url=self.result["url"]))
        self._warn_transport(release)
        before = self.snapshot()
        plan = self.engine.plan(release.version, goos, goarch, self.p["activate"], self.p["keep"])
        self.result["plan"] = plan.as_dict()
        if self.module.check_mode:
            return self._finish(plan, before)
        if plan.install:
            self.layout.free_space_check(release.size or 100 << 20)
            private = self.engine.private_dir()
            if release.src:
                archive = _install.open_src(release.src, private)
            elif release.kind == "module":
                archive = _install.obtain_module(self.fetcher, self.proxy, release, private)
            else:
                archive = _install.obtain(self.fetcher, release, private)
            self.engine.keep_open(archive)
            version = self.engine.install(release, archive, goos, goarch)
            self.result["changed"] = True
            if plan.version is None:  # an src archive: now its tree tells the version
                plan = self.engine.plan(version, goos, goarch, self.p["activate"], self.p["keep"])
                plan.install = True
                self.result["plan"] = plan.as_dict()
        removed = self.engine.apply(plan)
        self.result["removed_versions"] = removed
        self.result["changed"] = self.result["changed"] or plan.changes
        return self._finish(plan, before)

    def state_absent(self):
        version = _versions.exact_version(self.p["version"])
        if not self.module.check_mode:
            self.layout.lock(self.p["lock_timeout"])
        before = self.snapshot()
        present = version in self.layout.installed() or bool(self.layout.rebuilds(version))
        is_active = self.layout.active() == version
        if present and is_active and not self.p["force"]:
            raise GofleetError("go%s is the active version (%s points at it): activate another one first, or set "
                               "force=true to remove it and the link" % (version, self.layout.active_link))
        if present and not self.module.check_mode:
            if is_active:
                self.layout.deactivate()
            self.layout.remove(version, with_rebuilds=True)
        plan = _install.Plan(version, False, False, [version] if present else [])
        self.result["removed_versions"] = list(plan.prune)
        self.result["changed"] = present
        self.result["plan"] = dict(plan.as_dict(), deactivate=present and is_active)
        return self._finish(plan, before, removing=True)

    def _warn_transport(self, release):
        """Plain http with nothing but the mirror's word for the digest: warned. A module zip's hash is
        the checksum database's (signed) or a pin, never the proxy's: no warning."""
        trusted = ("record", "checksum_index")
        if release.url and release.kind == "archive" and release.sources.get("sha256") not in trusted:
            text = _download.insecure_transport_warning(release.url, pinned=bool(self.p["checksum"]),
                                                        validate_certs=self.p["validate_certs"])
            if text:
                self.module.warn(text)

    # ---- result -----------------------------------------------------------------------------
    def snapshot(self):
        return dict(active=self.layout.active(), active_tree=self.layout.active_tree(),
                    installed=self.layout.installed())

    def _finish(self, plan, before, removing=False):
        if self.module.check_mode:
            installed = set(before["installed"])
            if plan.install and plan.version:
                installed.add(plan.version)
            installed -= set(plan.prune)
            after = dict(installed=sorted(installed, key=_versions.version_key),
                         active=plan.version if plan.switch else before["active"],
                         active_tree=("go" + plan.version) if plan.switch else before["active_tree"])
            if removing and before["active"] == plan.version and plan.prune:
                after.update(active=None, active_tree=None)
            self.result["changed"] = plan.changes
            if not removing:
                self.result["removed_versions"] = list(plan.prune)
        else:
            after = self.snapshot()
        version = plan.version
        self.result.update(
            version=version,
            goroot=self._goroot(version, after),
            active_version=after["active"],
            active_goroot=os.path.join(self.layout.root, after["active_tree"]) if after["active_tree"] else None,
            previous_version=before["active"],
            installed_versions=after["installed"],
        )
        diffs = [dict(before=_diff_text(before), after=_diff_text(after))]
        if not removing:
            diffs += self._login_files(version)
        if self.module._diff:  # one diff (the layout) or a list with the rewritten files after it
            self.result["diff"] = diffs[0] if len(diffs) == 1 else diffs

    def _login_files(self, version):
        """go.env and the login-shell files: compared, written when they differ (check mode: compared only)."""
        if self.p["go_env"] is None and self.p["profile"] is None:
            return []
        changes = _login.compare(_login.wanted(self.result["goroot"], version, go_env=self.p["go_env"],
                                               profile=self.p["profile"], active_link=self.layout.active_link))
        if not self.module.check_mode:
            _login.apply(changes)
        self.result["files"] = [dict(path=c["path"], changed=c["changed"]) for c in changes]
        if any(c["changed"] for c in changes):
            self.result["changed"] = True
        return [dict(before_header=c["path"], after_header=c["path"], before=c["before"] or "", after=c["after"])
                for c in changes if c["changed"]]

    def _goroot(self, version, after):
        """The version's GOROOT: its active rebuilt tree when that is what the link points at."""
        if not version:
            return None
        if after["active"] == version and after["active_tree"]:
            return os.path.join(self.layout.root, after["active_tree"])
        return self.layout.version_dir(version)


def _diff_text(snap):
    return "active: %s\ninstalled: %s\n" % (
        snap["active_tree"] or "none",
        ", ".join("go" + v for v in snap["installed"]) or "none")


def main():
    argument_spec = dict(
        version=dict(type="str"),
        version_file=dict(type="path"),
        version_file_newest_patch=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        base_url=dict(type="str", default=_versions.DEFAULT_BASE_URL),
        checksum=dict(type="str"),
        checksum_index=dict(type="str"),
        goproxy=dict(type="str"),
        sumdb=dict(type="str", default=_sumdb.DEFAULT),
        src=dict(type="path"),
        os=dict(type="str"),
        arch=dict(type="str"),
        install_root=dict(type="path", default=_layout.DEFAULT_INSTALL_ROOT),
        active_link=dict(type="path", default=_layout.DEFAULT_ACTIVE_LINK),
        activate=dict(type="bool", default=True),
        keep=dict(type="int", default=0),
        force=dict(type="bool", default=False),
        lock_timeout=dict(type="int", default=900),
        go_env=dict(type="dict"),
        profile=dict(type="dict", options=dict(
            path=dict(type="path", required=True),
            gopath=dict(type="str", default="$HOME/go"),
            goroot=dict(type="bool", default=False),
            zsh=dict(type="bool", default=True),
        )),
    )
    argument_spec.update(_download.url_options())
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("version_file", "src"), ("goproxy", "checksum_index")],
        required_by={"src": "checksum"},
        required_if=[("state", "absent", ("version",))],
        supports_check_mode=True,
    )
    started = time.time()
    if module.params["keep"] < 0:
        module.fail_json(msg="keep=%d: expected 0 (keep all) or a positive count" % module.params["keep"])
    error = None
    installer = None
    try:
        installer = GoInstall(module)
        if module.params["state"] == "absent":
            installer.state_absent()
        else:
            installer.state_present()
    except GofleetError as e:
        error = e
    finally:
        if installer is not None:
            installer.engine.close()
    result = installer.result if installer is not None else {}
    result["seconds"] = round(time.time() - started, 3)
    result["bytes_downloaded"] = installer.fetcher.bytes_downloaded if installer is not None else 0
    if error is not None:
        result.update(error.result)
        module.fail_json(msg=str(error), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
