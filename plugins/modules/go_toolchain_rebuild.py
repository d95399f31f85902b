#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: go_toolchain_rebuild
short_description: Make a Go toolchain and the tools built with it native and current again
version_added: 0.1.0
description:
  - After an architecture change (a Mac moved to Apple Silicon, a tree copied from another host) or a
    Go upgrade, makes the toolchain and the Go programs in C(GOBIN) / C(GOPATH/bin) native and built by
    the current Go again. Three steps, each idempotent.
  - B(Clean.) Removes C(pkg/tool/<os>_<arch>) folders of O(goroot) that are not its own host platform
    (the one its C(bin/go) is built for) and not listed in O(keep_tool_dirs). The build cache is not
    cleaned - Go keys it by C(GOOS)/C(GOARCH) and toolchain ID, so an architecture change needs no
    cleaning.
  - B(Rebuild the GOROOT) from its own source with C(src/make.bash) when C(bin/go), C(bin/gofmt) or a
    tool of C(pkg/tool/<host>) is not native, C(pkg/tool/<host>) is missing, or the tree was not built
    with O(build_env) (O(rebuild_goroot=auto)). C(make.bash) builds in the tree holding C(src/), so the
    tree is copied into a staging folder next to it and built there with a bootstrap Go
    (O(bootstrap_goroot), else the newest installed Go that is new enough, native ones first). The result
    is verified - every binary native (read from its headers), C(go version), a small program built
    and run - then moved next to the old tree as C(go<version>-rebuilt.<UTC time>) and activated by
    switching the link O(goroot) (or O(active_link)) atomically, with the install layout code of
    M(gofleet.golang.go_install) (its lock, commit and link switch).
  - The old tree is kept for rollback (older rebuilds of the same version made by this module are removed).
    A failure or time-out at any point leaves the old tree active and removes the staging folder.
  - B(Rebuild tools.) Every Go program in O(tool_paths) (default C(GOBIN), else each C(GOPATH)'s C(bin))
    built by another Go than the toolchain's, or for an architecture the host does not run natively, is
    reinstalled with C(go install <path>@<version>) from its build info, keeping its recorded
    C(-ldflags), C(-tags), C(-trimpath), C(-gcflags), C(-asmflags), C(-buildmode), C(CGO_ENABLED) (with its
    C(CGO_*FLAGS)), C(GOEXPERIMENT) and architecture level (C(GOAMD64)...), with C(GOTOOLCHAIN=local) - each
    only when its whole value is on a safe list. A program's build info is written by whoever built it, so
    settings that could run a program or write a file as root (C(-extld), C(-toolexec), C(CGO_CFLAGS=-fplugin=...),
    profile output files...) are not used and are reported in the tool's C(refused_settings).
    C(GOPROXY), C(GOPRIVATE), C(GONOSUMDB), C(GOFLAGS) and the rest come from the environment and the
    user's go env file, as for any C(go install), which writes into a temporary folder of the module's own. The
    new binary is verified (built by the toolchain, native, same module and version) before it replaces the old
    file, keeping its name, mode and owner, set through file descriptors (never through a name in a folder
    another user may write, so a planted link is never followed).
  - Only Go trees owned by root (or the user the module runs as) and writable by nobody else, in folders
    likewise, are ever run - the bootstrap, the tree to rebuild, the toolchain that rebuilds tools. Trees
    another user can change (in Homebrew, C(~/sdk), a home on C(PATH)) are not run, not even their
    C(go version); they are listed in C(bootstrap_skipped) of RV(goroot).
  - Programs built from a local checkout (version "(devel)") or without module information are reported
    as C(not_rebuildable); a program whose module needs a newer Go than the toolchain is reported as
    C(needs_newer_go) - neither fails the task, and no other toolchain is fetched.
  - See C(docs/go_toolchain_rebuild.md) in the collection for the whole procedure.
author:
  - gofleet developers (@gofleet)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
requirements:
  - Python 3.8 or newer on the managed node (standard library only).
  - C(bash) and a bootstrap Go new enough for the tree (Go 1.26 and 1.27 need Go 1.24.6 or newer) to rebuild a
    GOROOT; a C(go) that runs on the node to rebuild tools.
attributes:
  check_mode:
    support: full
    details: Reads binaries' headers and build info, runs C(go version) and C(go env), and lists what would be
      removed or rebuilt; builds nothing.
  diff_mode:
    support: full
    details: The GOROOT, removed folders and each tool's Go version and platform, before and after.
  platform:
    platforms: posix
options:
  goroot:
    description:
      - The GOROOT to clean and rebuild, whose C(go) rebuilds the tools. Usually the active link of
        M(gofleet.golang.go_install).
      - To rebuild it, it must be a symbolic link (or O(active_link) must be one pointing at it), because a
        rebuilt tree is swapped in by switching a link, never by replacing a directory in place.
    type: path
    default: /usr/local/go
  active_link:
    description:
      - The symbolic link switched to the rebuilt tree, when O(goroot) is the tree itself. Must point at
        O(goroot).
    type: path
  clean_tool_dirs:
    description:
      - Remove foreign C(pkg/tool/<os>_<arch>) folders of O(goroot).
    type: bool
    default: true
  keep_tool_dirs:
    description:
      - C(pkg/tool) folders to keep although they are not the toolchain's own (e.g. V(linux_arm64) tools
        you built on purpose). They are copied into a rebuilt tree as they are.
    type: list
    elements: str
    default: []
  rebuild_goroot:
    description:
      - V(auto) rebuilds when the tree is not native or not built with O(build_env); V(always) rebuilds on
        every run (never idempotent, for a one-off task); V(never) only cleans.
    type: str
    choices: [auto, always, never]
    default: auto
  bootstrap_goroot:
    description:
      - GOROOT of the Go that builds the new toolchain (C(GOROOT_BOOTSTRAP)). Default is the newest installed
        Go that is new enough (the minimum is read from the tree's C(src/make.bash)) - native ones first, then
        those next to O(goroot)'s tree, then the newest - looked for next to the tree, in the usual places
        (C(/usr/local/go), C(/usr/lib/go-*), C(~/sdk/go*)...) and on C(PATH); the tree itself qualifies when it runs.
      - Only a tree owned by root and writable only by root (the tree, every file in it and every folder above it)
        is used; one another user could change is refused (given) or skipped (searched).
    type: path
  build_env:
    description:
      - Extra environment for C(make.bash), e.g. C(GOAMD64), C(GOEXPERIMENT), C(CGO_ENABLED), C(GO_GCFLAGS).
        It is recorded with the rebuilt tree; with O(rebuild_goroot=auto) a tree not built with exactly this
        environment is rebuilt.
      - C(GOOS), C(GOARCH), C(GOHOSTOS), C(GOHOSTARCH), C(GOROOT), C(GOROOT_BOOTSTRAP) and C(GOROOT_FINAL) are
        refused (C(GOROOT_FINAL) has had no effect since Go 1.23).
    type: dict
    default: {}
  build_timeout:
    description:
      - Seconds C(make.bash) may run; it is stopped after that and the old tree stays active.
    type: int
    default: 3600
  lock_timeout:
    description:
      - Seconds to wait for another run holding the lock of the folder that holds O(goroot)'s tree.
    type: int
    default: 900
  rebuild_tools:
    description:
      - Rebuild the Go programs of O(tool_paths).
    type: bool
    default: true
  tool_paths:
    description:
      - Programs, or folders of programs (not searched recursively), to check. Default is C(GOBIN), else the
        C(bin) folder of each C(GOPATH) entry, as C(go env) reports them for the user the module runs as.
    type: list
    elements: path
  tool_ldflags:
    description:
      - C(-ldflags) to use for a program, by its package path (the C(path) line of C(go version -m)). Go does
        not record C(-ldflags) of programs built with C(-trimpath); without this they are rebuilt without them.
    type: dict
    default: {}
  tool_timeout:
    description:
      - Seconds each C(go install) may run.
    type: int
    default: 900
notes:
  - Roll back to the previous tree by pointing the link at the C(previous) entry of RV(goroot) (for a tree installed by
    M(gofleet.golang.go_install), run it again with that version).
  - A rebuild takes as long as C(make.bash) (about 6 minutes on 2 cores for Go 1.27); give the task an
    C(async) time above O(build_timeout) when the connection may not stay open that long.
seealso:
  - module: gofleet.golang.go_install
  - module: gofleet.golang.go_env_facts
"""

EXAMPLES = r"""
- name: After moving to a new architecture, rebuild the toolchain and the tools in GOBIN
  gofleet.golang.go_toolchain_rebuild:
    goroot: /usr/local/go
    bootstrap_goroot: /opt/go/go1.26.6

- name: What would be cleaned or rebuilt (read-only)
  gofleet.golang.go_toolchain_rebuild:
    goroot: /usr/local/go
  check_mode: true
  register: plan

- name: Show it
  ansible.builtin.debug:
    msg: "{{ plan.actions | map(attribute='action') | list }} / tools: {{ plan.tools | map(attribute='status') | list }}"

- name: After a Go upgrade, rebuild only the tools of one folder, keeping a version stamp
  gofleet.golang.go_toolchain_rebuild:
    goroot: /usr/local/go
    rebuild_goroot: never
    tool_paths:
      - /home/deploy/go/bin
    tool_ldflags:
      example.com/gftool/cmd/gfhello: "-s -w -X main.version=1.0.0"
  environment:
    GOPROXY: https://proxy.golang.org,direct
    GOPRIVATE: example.com/private

- name: Keep cross tools, rebuild for x86-64-v3, and give make.bash 40 minutes at most
  gofleet.golang.go_toolchain_rebuild:
    goroot: /usr/local/go
    keep_tool_dirs: [linux_arm64]
    build_env:
      GOAMD64: v3
    build_timeout: 2400
    rebuild_tools: false
"""

RETURN = r"""
actions:
  description:
    - What was done (or, in check mode, would be done), in order. C(action) is V(remove_tool_dir),
      V(rebuild_goroot), V(remove_old_rebuild) or V(rebuild_tool); C(before) and C(after) describe the
      object (for tools and the GOROOT - the Go version, OS and architecture and, for tools, the build info).
  returned: always
  type: list
  elements: dict
  sample:
    - action: rebuild_tool
      path: /root/go/bin/gfhello
      reason: built by go1.26.6, the toolchain is go1.27.3
      before: {go_version: go1.26.6, goos: linux, goarch: amd64, path: example.com/gftool/cmd/gfhello,
               module: example.com/gftool, version: v1.0.0, settings: {"-tags": "netgo", CGO_ENABLED: "0"}}
      after: {go_version: go1.27.3, goos: linux, goarch: amd64, path: example.com/gftool/cmd/gfhello,
              module: example.com/gftool, version: v1.0.0, settings: {"-tags": "netgo", CGO_ENABLED: "0"}}
goroot:
  description:
    - The toolchain - C(path) as given, C(realpath) and C(active) (the tree in use after the run), C(version),
      C(go_version), C(goos), C(goarch) of its C(bin/go), C(problems) found, whether it was C(rebuilt) and
      C(reason); after a rebuild C(previous) (the old tree, kept for rollback), C(bootstrap) (C(goroot),
      C(version), C(native), C(minimum)), C(seconds) (copy, make, verify, total), C(log) (the kept
      C(make.bash) output) and C(log_tail).
    - C(bootstrap_skipped) lists the Go trees the bootstrap search found but did not run or use because another
      user can change them (C(goroot), C(reason)).
  returned: always
  type: dict
  sample:
    path: /usr/local/go
    realpath: /opt/go/go1.27.3
    active: /opt/go/go1.27.3-rebuilt.20261125T120102Z
    previous: /opt/go/go1.27.3
    version: 1.27.3
    go_version: go1.27.3
    goos: darwin
    goarch: arm64
    rebuilt: true
    reason: bin/go is built for darwin/amd64, this host is darwin/arm64
    problems: ["bin/go is built for darwin/amd64, this host is darwin/arm64"]
    bootstrap: {goroot: /opt/go/go1.26.6, version: 1.26.6, goos: darwin, goarch: arm64, native: true, minimum: 1.24.6}
    seconds: {copy: 2.1, make: 341.7, verify: 9.8, total: 354.2}
removed_tool_dirs:
  description: C(pkg/tool) folders removed (or that would be removed).
  returned: always
  type: list
  elements: str
  sample: [/opt/go/go1.27.3/pkg/tool/darwin_amd64]
tools:
  description:
    - Every file looked at in O(tool_paths), with C(status) - V(current), V(rebuilt), V(would_rebuild) (check
      mode), V(not_rebuildable), V(needs_newer_go) (with C(required_go)), V(failed) (with C(msg)) or
      V(skipped) (not a Go program, or built for another OS) - and C(reason), C(origin), C(before), C(after),
      C(command) and C(environment) of the C(go install), and C(notes).
    - C(refused_settings) lists the recorded build settings not replayed (not on the safe list), each with
      C(setting), C(value) and C(reason).
  returned: always
  type: list
  elements: dict
host:
  description: What the node was detected to be (its real OS and architecture).
  returned: always
  type: dict
  sample: {"goos": "linux", "goarch": "amd64", "kernel_machine": "x86_64", "userland_bits": 64, "translated": false}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gofleet.golang.plugins.module_utils import _layout, _rebuild
from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            goroot=dict(type="path", default=_layout.DEFAULT_ACTIVE_LINK),
            active_link=dict(type="path"),
            clean_tool_dirs=dict(type="bool", default=True),
            keep_tool_dirs=dict(type="list", elements="str", default=[]),
            rebuild_goroot=dict(type="str", choices=["auto", "always", "never"], default="auto"),
            bootstrap_goroot=dict(type="path"),
            build_env=dict(type="dict", default={}),
            build_timeout=dict(type="int", default=3600),
            lock_timeout=dict(type="int", default=900),
            rebuild_tools=dict(type="bool", default=True),
            tool_paths=dict(type="list", elements="path"),
            tool_ldflags=dict(type="dict", default={}),
            tool_timeout=dict(type="int", default=900),
        ),
        supports_check_mode=True,
    )
    module.params["build_env"] = {k: str(v) for k, v in (module.params["build_env"] or {}).items()}
    module.params["tool_ldflags"] = {k: None if v is None else str(v)
                                     for k, v in (module.params["tool_ldflags"] or {}).items()}
    result = {"changed": False}
    try:
        rebuilder = _rebuild.Rebuilder(module)
        result = rebuilder.result
        failed = rebuilder.run()
    except GofleetError as e:
        result.update(e.result)
        module.fail_json(msg=str(e), **_rebuild.to_json(result))
    except _rebuild.Terminated:
        module.fail_json(msg="stopped by SIGTERM while building; the build was stopped, its staging folder removed "
                             "and the previous GOROOT left active", **_rebuild.to_json(result))
    if failed:
        module.fail_json(msg="%d program(s) could not be rebuilt: %s" % (len(failed), "; ".join(
            "%s: %s" % (t["path"], t.get("msg")) for t in failed)), **_rebuild.to_json(result))
    module.exit_json(**_rebuild.to_json(result))


if __name__ == "__main__":
    main()
