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
      - Required with O(src). Without it, over plain C(http://), a warning says that the network path could
        serve another archive with a matching digest.
    type: str
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
notes:
  - The node needs no Go and no Python library beyond the standard library.
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
    - The release the run decided, with where each field came from (V(index), V(sidecar), V(checksum), V(record)).
      The same value the P(gofleet.golang.go_release#lookup) lookup returns.
  returned: state=present
  type: dict
  sample: {"version": "1.27.3", "filename": "go1.27.3.linux-amd64.tar.gz", "sha256": "59522b...", "size": 68268484,
           "sources": {"version": "index", "sha256": "index", "size": "index"}}
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
from ansible_collections.gofleet.golang.plugins.module_utils import _versions
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
        with src, the archive on the node (its version: the one given, else the record of these bytes)."""
        checksum = self.p["checksum"]
        if self.p["src"]:
            version = _versions.exact_version(self.p["version"]) if self.p["version"] else None
            digest = _release.parse_checksum(checksum)
            recorded = version is None and self.layout.version_with_digest(digest)
            return _release.local(self.p["src"], digest, version or recorded or None, goos, goarch, bool(recorded))
        return _release.resolve(self.spec(), goos, goarch, self._fetch, self.p["base_url"].rstrip("/"),
                                checksum=checksum, installed=self.engine.recorded(goos, goarch))

    # ---- states -----------------------------------------------------------------------------
    def state_present(self):
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
            archive = self.engine.keep_open(
                _install.open_src(release.src, self.engine.private_dir()) if release.src
                else _install.obtain(self.fetcher, release, self.engine.private_dir()))
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
        if release.url and release.sources.get("sha256") != "record":
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
        if self.module._diff:
            self.result["diff"] = dict(before=_diff_text(before), after=_diff_text(after))

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
        src=dict(type="path"),
        os=dict(type="str"),
        arch=dict(type="str"),
        install_root=dict(type="path", default=_layout.DEFAULT_INSTALL_ROOT),
        active_link=dict(type="path", default=_layout.DEFAULT_ACTIVE_LINK),
        activate=dict(type="bool", default=True),
        keep=dict(type="int", default=0),
        force=dict(type="bool", default=False),
        lock_timeout=dict(type="int", default=900),
    )
    argument_spec.update(_download.url_options())
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("version_file", "src")],
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
