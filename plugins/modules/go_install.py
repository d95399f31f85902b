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
      - With O(state=absent), an exact version.
      - With O(src), optional; when given it must match the archive's C(VERSION).
    type: str
    default: stable
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
  base_url:
    description:
      - Where the releases are published, in go.dev's URL shapes (C(<base_url>/dl/?mode=json&include=all)
        and C(<base_url>/dl/<file>)). A mirror without the JSON index is used through C(.sha256) sidecars,
        which resolves exact versions only.
    type: str
    default: https://go.dev
  checksum:
    description:
      - SHA-256 of the archive (V(sha256:<hex>) or V(<hex>)). Always wins over the published digest.
      - Required with O(src).
    type: str
  src:
    description:
      - Path on the node of an official C(.tar.gz) archive to install instead of downloading (air-gapped
        hosts, fleet mode). Verified against O(checksum).
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
  install_root:
    description:
      - Folder holding one folder per version (C(<install_root>/go1.27.3)).
    type: path
    default: /opt/go
  active_link:
    description:
      - Symbolic link pointed at the active version. An existing directory at this path is refused,
        never replaced.
    type: path
    default: /usr/local/go
  activate:
    description:
      - Point O(active_link) at the installed version.
    type: bool
    default: true
  keep:
    description:
      - After installing, keep at most this many versions (the active one always counts and stays);
        older ones are removed, with their rebuilt trees. V(0) keeps all.
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
  timeout:
    description:
      - Seconds without data before a request is abandoned (and retried).
    type: int
    default: 60
  retries:
    description:
      - How many times a failed download (5xx, timeout, truncated body, connection error) is retried,
        with exponential backoff.
    type: int
    default: 3
  validate_certs:
    description: Validate TLS certificates.
    type: bool
    default: true
  use_proxy:
    description: Use the proxy from the environment (C(https_proxy), C(no_proxy)).
    type: bool
    default: true
  url_username:
    description: User name for HTTP basic authentication to the mirror.
    type: str
  url_password:
    description: Password for HTTP basic authentication to the mirror.
    type: str
  force_basic_auth:
    description: Send basic authentication credentials with the first request.
    type: bool
    default: false
  client_cert:
    description: PEM client certificate for TLS client authentication.
    type: path
  client_key:
    description: PEM private key for O(client_cert).
    type: path
  use_gssapi:
    description: Use GSSAPI (Kerberos) authentication.
    type: bool
    default: false
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
  description: Where the archive was (or would be) downloaded from; null with O(src) or when nothing was needed.
  returned: state=present
  type: str
  sample: https://go.dev/dl/go1.27.3.linux-arm64.tar.gz
sha256:
  description: The verified SHA-256 of the archive.
  returned: state=present
  type: str
installed_versions:
  description: Versions under O(install_root) after the run, oldest first.
  returned: always
  type: list
  elements: str
removed_versions:
  description: Versions removed by this run (O(state=absent) or O(keep)).
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

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gofleet.golang.plugins.module_utils import _download, _layout, _platform, _versions


class Installer:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.fetcher = _download.Fetcher(module)
        self.layout = _layout.Layout(self.p["install_root"], self.p["active_link"])
        self.result = dict(changed=False, active_link=self.layout.active_link, removed_versions=[],
                           url=None, sha256=None)
        self.host = _platform.detect(run=self._run)
        self.result["host"] = self.host

    def _run(self, argv):
        return self.module.run_command(argv, environ_update=dict(LANG="C", LC_ALL="C"))

    def fail(self, msg, **kw):
        self.layout.unlock()
        self.result.update(kw)
        self.module.fail_json(msg=msg, **self.result)

    # ---- what to install --------------------------------------------------------------------
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
            self.fail("cannot tell the Go architecture of this node (uname -m says %r); set arch="
                      % self.host["kernel_machine"])
        return goos, goarch

    def spec(self):
        if self.p["version_file"]:
            try:
                return _versions.read_version_file(self.p["version_file"],
                                                   newest_patch=self.p["version_file_newest_patch"])
            except (OSError, _versions.VersionError) as e:
                self.fail("version_file %s: %s" % (self.p["version_file"], e))
        return self.p["version"]

    def release(self, spec, goos, goarch, checksum):
        """Resolve spec -> dict(version, filename, url, sha256, size) from the index or a sidecar."""
        base = self.p["base_url"].rstrip("/")
        index_url = _versions.index_url(base)
        try:
            text = self.fetcher.get_text(index_url)
        except _download.DownloadError as e:
            if self.fetcher.get_status(index_url) != 404:
                self.fail("cannot read the release index: %s" % e)
            text = None
        try:
            if text is not None:
                rel = _versions.resolve(spec, json.loads(text), goos, goarch)
            else:
                rel = _versions.sidecar_release(spec, goos, goarch, base=base)
        except (_versions.VersionError, ValueError) as e:
            self.fail("%s: %s" % (index_url, e) if text is not None else str(e))
        rel = dict(rel)
        rel["url"] = _versions.file_url(base, rel["filename"])
        if checksum:
            rel["sha256"] = checksum
        elif not rel.get("sha256"):
            try:
                sidecar = self.fetcher.get_text(rel["url"] + ".sha256").split()[0].lower()
                rel["sha256"] = _download.parse_checksum(sidecar)
            except (_download.DownloadError, ValueError, IndexError) as e:
                self.fail("%s has no JSON index and its sidecar gave no digest (%s): give checksum=, "
                          "nothing is installed unverified" % (base, e))
        return rel

    # ---- present ----------------------------------------------------------------------------
    def present(self):
        p = self.p
        try:
            checksum = _download.parse_checksum(p["checksum"])
        except ValueError as e:
            self.fail(str(e))
        goos, goarch = self.target_platform()
        self.result.update(os=goos, arch=goarch)
        if p["src"]:
            rel = self._src_release(checksum)
        else:
            spec = self.spec()
            rel = self._installed_release(spec, goos, goarch, checksum) or self.release(spec, goos, goarch, checksum)
        version = rel.get("version")
        self.result.update(url=rel.get("url"), sha256=rel["sha256"])

        if not self.module.check_mode:
            self.layout.lock(p["lock_timeout"])
        if version is None:  # src without a version: the one installed from these very bytes, if any
            version = self.layout.version_with_digest(rel["sha256"])
        before = self.snapshot()
        problem = self.layout.health(version, goos, goarch, _inspect()) if version else "not installed"
        if problem and problem != "not installed":
            self.module.warn("go%s in %s is damaged (%s): reinstalling it" % (version, self.layout.root, problem))
        need_install = problem is not None
        need_switch = p["activate"] and (need_install or self.layout.active_tree() != "go%s" % version)
        if need_switch and self._keeps_rebuild(version, goos, goarch):
            need_switch = False
        if self.module.check_mode:
            self._finish(version, before, would=dict(install=need_install, switch=need_switch, keep=True))
            return
        if need_install:
            version = self.install(rel, goos, goarch)
        if need_switch:
            try:
                self.layout.activate(version)
            except _layout.LayoutError as e:
                self.fail(str(e), version=version)
        if p["keep"]:
            self.prune(p["keep"])
        self._finish(version, before, would=dict(install=need_install, switch=need_switch))

    def _keeps_rebuild(self, version, goos, goarch):
        """A healthy tree rebuilt from this very version by go_toolchain_rebuild is active: it is this
        version, rebuilt on purpose (build_env, a clean toolchain), so it stays active."""
        tree = self.layout.active_tree()
        if not tree or tree == "go" + version or self.layout.active() != version:
            return False
        problem = self.layout.health(tree[2:], goos, goarch, _inspect())
        if problem:
            self.module.warn("the active %s (rebuilt from go%s) is damaged (%s): switching to go%s"
                             % (tree, version, problem, version))
            return False
        return True

    def _installed_release(self, spec, goos, goarch, checksum):
        """An exact version already installed from a verified archive, healthy and of this platform,
        needs no index: its record answers, so a no-op run reads nothing from the network and works
        offline. Anything else (a line, stable, a differing checksum, damage) resolves as usual."""
        try:
            version = _versions.exact_version(spec)
        except (ValueError, TypeError):
            return None
        meta = self.layout.metadata(version) or {}
        if not meta.get("sha256") or (meta.get("os"), meta.get("arch")) != (goos, goarch):
            return None
        if checksum and checksum != meta["sha256"]:
            return None
        if self.layout.health(version, goos, goarch, _inspect()) is not None:
            return None
        return dict(version=version, filename=meta.get("filename"), url=meta.get("url"), sha256=meta["sha256"])

    def _src_release(self, checksum):
        src = self.p["src"]
        if not checksum:
            self.fail("src=%s needs checksum=: an archive on the node is installed only when its SHA-256 is "
                      "known" % src)
        if not os.path.isfile(src):
            self.fail("src=%s does not exist on the node" % src)
        version = None
        if self.p["version"] not in (None, "stable", "latest"):
            version = _versions.exact_version(self.p["version"])
        return dict(version=version, filename=os.path.basename(src), url=None, sha256=checksum,
                    size=os.path.getsize(src), src=src)

    def install(self, rel, goos, goarch):
        """Download (or take src), verify, stage, check and commit; return the version installed."""
        layout = self.layout
        archive = None
        staged = None
        try:
            try:
                layout.free_space_check(rel.get("size") or 100 << 20)
                if rel.get("src"):
                    digest = _download.sha256_of(rel["src"])
                    if digest != rel["sha256"]:
                        self.fail("%s: sha256 %s does not match checksum %s; nothing was installed"
                                  % (rel["src"], digest, rel["sha256"]))
                    archive = rel["src"]
                else:
                    archive = self.fetcher.download(rel["url"], layout.root, rel["sha256"], rel.get("size"),
                                                    name=rel["filename"])
                staged = layout.stage(archive)
            except (_download.DownloadError, _layout.LayoutError) as e:
                self.fail(str(e))
            version = self._check_staged(staged, rel, goos, goarch)
            record = dict(version=version, os=goos, arch=goarch, sha256=rel["sha256"], url=rel.get("url"),
                          src=rel.get("src"), installed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            layout.commit(staged, version, record)
            staged = None
            self.result["changed"] = True
            return version
        finally:
            if staged:
                layout.discard(staged)
            if archive and archive != rel.get("src"):
                try:
                    os.unlink(archive)
                except OSError:
                    pass

    def _check_staged(self, goroot, rel, goos, goarch):
        """The staged tree is the Go it claims to be, for the target platform; return its version."""
        try:
            with open(os.path.join(goroot, "VERSION")) as f:
                found = f.readline().strip()
        except OSError:
            self.fail("%s has no go/VERSION: not a Go distribution; nothing was installed" % rel["filename"])
        found = found[2:] if found.startswith("go") else found
        if rel.get("version") and found != rel["version"]:
            self.fail("%s holds Go %s, not %s; nothing was installed" % (rel["filename"], found, rel["version"]))
        exe = os.path.join(goroot, "bin", "go")
        inspect = _inspect()
        try:
            info = inspect(exe)
        except Exception as e:  # pylint: disable=broad-exception-caught
            self.fail("%s: bin/go cannot be read as an executable (%s); nothing was installed" % (rel["filename"], e))
        if (info.get("goos"), info.get("goarch")) != (goos, goarch):
            self.fail("%s: bin/go is built for %s/%s, not %s/%s (a mislabeled archive); nothing was installed"
                      % (rel["filename"], info.get("goos"), info.get("goarch"), goos, goarch))
        if (goos, goarch) == (self.host["goos"], self.host["goarch"]):
            rc, out, err = self.module.run_command([exe, "version"], environ_update=dict(
                GOROOT=goroot, GOTOOLCHAIN="local", LANG="C", LC_ALL="C"))
            want = "go version go%s %s/%s" % (found, goos, goarch)
            if rc != 0 or not out.startswith(want):
                self.fail("%s: the unpacked go does not run here (`go version` said %r, expected %r); nothing "
                          "was installed" % (rel["filename"], (out or err).strip(), want))
        return found

    def prune(self, keep):
        active = self.layout.active()
        versions = self.layout.installed()
        keep_set = set(versions[-keep:])
        if active:
            keep_set.add(active)
            if len(keep_set) > keep:
                # the active one counts: drop the oldest non-active from the kept set
                for v in versions:
                    if v in keep_set and v != active and len(keep_set) > keep:
                        keep_set.discard(v)
        for v in versions:
            if v not in keep_set:
                self.layout.remove(v, with_rebuilds=True)
                self.result["removed_versions"].append(v)
                self.result["changed"] = True

    # ---- absent -----------------------------------------------------------------------------
    def absent(self):
        try:
            version = _versions.exact_version(self.p["version"])
        except ValueError as e:
            self.fail("state=absent needs an exact version: %s" % e)
        if not self.module.check_mode:
            self.layout.lock(self.p["lock_timeout"])
        before = self.snapshot()
        present = version in self.layout.installed() or bool(self.layout.rebuilds(version))
        is_active = self.layout.active() == version
        if present and is_active and not self.p["force"]:
            self.fail("go%s is the active version (%s points at it): activate another one first, or set "
                      "force=true to remove it and the link" % (version, self.layout.active_link))
        if present and not self.module.check_mode:
            if is_active:
                self.layout.deactivate()
            self.layout.remove(version, with_rebuilds=True)
        if present:
            self.result["removed_versions"].append(version)
            self.result["changed"] = True
        self._finish(version, before, would=dict(remove=present))

    # ---- result -----------------------------------------------------------------------------
    def snapshot(self):
        return dict(active=self.layout.active(), active_tree=self.layout.active_tree(),
                    installed=self.layout.installed())

    def _finish(self, version, before, would):
        after = self.snapshot()
        if self.module.check_mode:
            installed = list(before["installed"])
            if would.get("install") and version and version not in installed:
                installed = sorted(installed + [version], key=_versions.version_key)
            if would.get("remove"):
                installed = [v for v in installed if v != version]
            after = dict(active=version if would.get("switch") else before["active"], installed=installed,
                         active_tree=("go" + version) if would.get("switch") else before["active_tree"])
            if would.get("remove") and before["active"] == version:
                after.update(active=None, active_tree=None)
            self.result["changed"] = bool(would.get("install") or would.get("switch") or would.get("remove"))
        elif would.get("switch"):
            self.result["changed"] = True
        self.layout.unlock()
        self.result.update(
            version=version,
            goroot=self._goroot(version, after),
            active_version=after["active"],
            active_goroot=os.path.join(self.layout.root, after["active_tree"]) if after["active_tree"] else None,
            previous_version=before["active"],
            installed_versions=after["installed"],
            bytes_downloaded=self.fetcher.bytes_downloaded,
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


def _inspect():
    from ansible_collections.gofleet.golang.plugins.module_utils._binary import inspect
    return inspect


def main():
    argument_spec = dict(
        version=dict(type="str", default="stable"),
        version_file=dict(type="path"),
        version_file_newest_patch=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        base_url=dict(type="str", default="https://go.dev"),
        checksum=dict(type="str"),
        src=dict(type="path"),
        os=dict(type="str"),
        arch=dict(type="str"),
        install_root=dict(type="path", default="/opt/go"),
        active_link=dict(type="path", default="/usr/local/go"),
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
        supports_check_mode=True,
    )
    started = time.time()
    if module.params["keep"] < 0:
        module.fail_json(msg="keep=%d: expected 0 (keep all) or a positive count" % module.params["keep"])
    installer = Installer(module)
    if module.params["state"] == "absent":
        installer.absent()
    else:
        installer.present()
    installer.result["seconds"] = round(time.time() - started, 3)
    module.exit_json(**installer.result)


if __name__ == "__main__":
    main()
