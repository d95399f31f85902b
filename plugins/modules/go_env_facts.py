#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: go_env_facts
short_description: A doctor for Go on a host - every installation, every conflict, with fixes
version_added: 0.1.0
description:
  - Gathers, as facts under C(ansible_facts.gofleet_go), how Go looks to a user on the node - the
    host's architecture, every Go installation found, the settings as configured, C(go env -json)
    of the C(go) that wins - and findings, each with a stable code, a severity, a message and a fix.
  - The environment is the user's login environment (their login shell's C(PATH) and C(GO*)
    variables), so the C(go) that wins is the one the user gets in a terminal.
  - For another O(user) than the one the module runs as, everything that user's environment can
    decide runs B(as that user), never as root - their login shell, C(go env -json) (and the
    C(CC) or C(LD_PRELOAD) it may use), and every read of a file their environment names (the go
    env file, C(GOROOT/VERSION), C($GOROOT/go.env), the C(go.mod)). The module drops the child's
    uid, gid and supplementary groups. Files are opened non-blocking, regular files only, with a
    size cap, so a named pipe or C(/dev/zero) as C(GOENV) is reported, not read.
  - Variable names that a program cannot be given (not C([A-Za-z_][A-Za-z0-9_]*), or a NUL in the
    value) are dropped from the environment and listed in C(ignored_variables).
  - Installations are looked for on that C(PATH), in order, and in the usual places - O(install_root)
    (C(gofleet.golang.go_install)'s versions), O(active_link) and C(/usr/local/go), C(/usr/lib/go-*),
    C(~/sdk/go*), Go's toolchain module cache (C(GOMODCACHE/golang.org/toolchain@*)), Homebrew and
    snap. Each one's architecture is read from the C(go) binary's headers, never by running it; its
    version from C(GOROOT/VERSION).
  - The user's go env file (C($XDG_CONFIG_HOME/go/env), C(~/.config/go/env), or C($GOENV)) and
    C($GOROOT/go.env) are read as configured before any probe. Then only the winning C(go) is
    run, once, as C(go env -json) with C(GOTOOLCHAIN=local), so probing never downloads a toolchain.
  - Changes nothing. A host without Go is reported (finding C(NO_GO)), not failed, unless O(fail_on)
    says so.
  - See C(docs/go_env_facts.md) in the collection for the table of finding codes.
author:
  - gofleet developers (@gofleet)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
  - gofleet.golang.layout
requirements:
  - Python 3.8 or newer on the managed node (standard library only).
  - To evaluate another O(user) than the one the module runs as, root (C(become)) - the module
    switches to that user for each probe.
  - For another O(user), a Python 3 that user can run (the module's interpreter, else
    C(/usr/bin/python3) or another usual place).
attributes:
  check_mode:
    support: full
    details: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: posix
options:
  go:
    description:
      - Path of the C(go) to evaluate instead of the first one on C(PATH).
    type: path
  user:
    description:
      - The user whose login environment, home, go env file and C(PATH) are evaluated.
      - Default is the user the module runs as (mind C(become)).
      - Another user needs root (C(become)); the module runs that user's login shell, C(go env) and
        file reads as that user.
    type: str
  project:
    description:
      - A project directory (or its C(go.mod)) whose C(go)/C(toolchain) lines are compared with the
        C(go) in use, for the C(TOOLCHAIN_AUTO_DOWNLOAD) and C(GO_MOD_NEEDS_NEWER_GO) findings.
    type: path
  login_environment:
    description:
      - Evaluate the environment of a login shell of O(user) (what a terminal gets).
      - V(false) evaluates the module's own environment, e.g. the one the task sets with C(environment:).
      - When the login shell cannot run, the module falls back to its own environment (the same user)
        or to a minimal one (another user), and says so in C(user.environment).
    type: bool
    default: true
  timeout:
    description:
      - Seconds each probe may take - the login shell, C(go env -json), each file read as the user.
        A probe that takes longer is stopped (its processes killed) and reported, e.g. a login
        profile that never ends falls back to a minimal environment.
    type: int
    default: 60
  fail_on:
    description:
      - Fail the task when a finding has this severity or a higher one (V(info) < V(warning) < V(error)).
      - V(never) only reports.
    type: str
    choices: [never, info, warning, error]
    default: never
  native_binaries:
    description:
      - Executables that must be native to this host (read from their headers, never run), as
        M(gofleet.golang.go_binary_arch) judges them with O(gofleet.golang.go_binary_arch#module:native=true).
        The task fails naming each one that is not, is missing or is not an executable.
      - Lets one call gather the facts and prove a toolchain's and its tools' binaries (the role's proof).
    type: list
    elements: path
    default: []
notes:
  - Findings about the project need O(project).
  - The official linux-arm64 C(go) on an amd64 host with qemu-user binfmt (or an amd64 C(go) under
    Rosetta) is a real emulated toolchain - finding C(EMULATED_TOOLCHAIN).
seealso:
  - module: gofleet.golang.go_install
"""

EXAMPLES = r"""
- name: Gather Go facts for the user who logs in
  gofleet.golang.go_env_facts:

- name: Show what is wrong, with fixes
  ansible.builtin.debug:
    msg: "{{ item.code }} ({{ item.severity }}): {{ item.message }} - fix: {{ item.fix }}"
  loop: "{{ ansible_facts.gofleet_go.findings }}"

- name: Verify play - fail the host on any warning or error, for a project's go.mod
  gofleet.golang.go_env_facts:
    project: /srv/app
    fail_on: warning

- name: Evaluate a given go for another user, in the module's own environment
  gofleet.golang.go_env_facts:
    go: /opt/go/go1.27.3/bin/go
    user: deploy
    login_environment: false

- name: Gather the facts and prove that the toolchain's binaries are native, in one call
  gofleet.golang.go_env_facts:
    native_binaries:
      - /usr/local/go/bin/go
      - /usr/local/go/bin/gofmt

- name: Assert the go in use is native and of the expected version
  ansible.builtin.assert:
    that:
      - ansible_facts.gofleet_go.go is not none
      - ansible_facts.gofleet_go.go.native is true
      - ansible_facts.gofleet_go.go.version is version('1.26', '>=')
"""

RETURN = r"""
ansible_facts:
  description: Facts, under one key.
  returned: always
  type: dict
  contains:
    gofleet_go:
      description: Go on this host as O(user) meets it.
      returned: always
      type: dict
      contains:
        host:
          description:
            - The host - C(system), C(kernel_machine) (C(uname -m)), C(goos), C(goarch) (what it should
              run), C(kernel_goarch), C(userland_bits), C(translated) (this process runs under Rosetta),
              C(how), C(emulated_by) (V(rosetta), V(qemu-user) when the CPU is of another family than
              C(uname -m) says, as in a whole qemu-user container, else null).
          type: dict
          sample: {system: Linux, kernel_machine: x86_64, goos: linux, goarch: amd64, kernel_goarch: amd64,
                   userland_bits: 64, translated: false, how: uname -m x86_64,
                   emulated_by: null}
        user:
          description: C(name), C(home), C(environment) (V(login shell), V(process), V(fallback)), C(login_error).
          type: dict
        path:
          description: The evaluated C(PATH), in order.
          type: list
          elements: str
        installations:
          description:
            - Every installation, one per GOROOT, C(PATH) order first.
            - Each has C(go) (path found), C(real_go) (links followed), C(goroot), C(version), C(goos) and
              C(goarch) (from the binary's headers), C(native), C(sources) (V(option), V(PATH), V(GOROOT),
              V(install_root), V(active_link), V(usr_local_go), V(distribution), V(sdk), V(toolchain_cache),
              V(homebrew), V(snap)), C(path_index) (position on C(PATH), or null), C(found_as), C(wins),
              C(foreign_tool_dirs).
          type: list
          elements: dict
        go:
          description: The installation that wins (O(go), else the first on C(PATH)), or null.
          type: dict
        go_env:
          description:
            - C(go env -json) of the winning C(go), probed with C(GOTOOLCHAIN=local); null if none.
            - C(go env) writes (the build cache, telemetry counters), so the probe points C(GOCACHE) and
              C(XDG_CONFIG_HOME) into a throw-away folder, reads the user's env file through C(GOENV), and
              reports C(GOCACHE) and C(GOTELEMETRYDIR) with the user's own values. Nothing in the user's
              home is created or changed.
          type: dict
        go_env_error:
          description: Why C(go env -json) failed, or null.
          type: str
        env_file:
          description:
            - The user's go env file - C(path), C(exists) (read as a regular file), C(values), and
              C(error) - why it could not be used (a named pipe, a device, unreadable by the user, too
              large), null when it was read or is absent.
          type: dict
        ignored_variables:
          description:
            - Names of the login environment dropped because no program can be given them (not
              C([A-Za-z_][A-Za-z0-9_]*), or a NUL in the value); at most 20, each cut at 60 characters.
          type: list
          elements: str
        settings:
          description:
            - Settings as configured, before probing - C({NAME{{":"}} {value, source}}) with source
              V(environment), V(env_file) or V(goroot_go_env). Unset names are absent.
          type: dict
          sample: {GOTOOLCHAIN: {value: auto, source: goroot_go_env}}
        project:
          description: The project's C(go.mod) - C(path), C(exists), C(go), C(toolchain), C(needs); null without O(project).
          type: dict
        findings:
          description: What is wrong - C(code), C(severity) (V(info), V(warning), V(error)), C(message), C(fix), details.
          type: list
          elements: dict
          sample:
            - code: MULTIPLE_GO_ON_PATH
              severity: warning
              message: "2 Go installations on PATH: /usr/local/go/bin/go (go1.27.3) wins; shadowed: /usr/bin/go (go1.19.8)"
              fix: remove the shadowed ones from PATH (or uninstall them) so that only /usr/local/go is found
        summary:
          description: C(highest_severity), C(counts) per severity, C(codes).
          type: dict
findings:
  description: The same findings, at the top level of the result.
  returned: always
  type: list
  elements: dict
binaries:
  description:
    - One entry per O(native_binaries) path - C(path), C(goos), C(goarch), C(native), C(go_version) and, when
      it is not native or cannot be read, C(error).
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/usr/local/go/bin/go", "goos": "linux", "goarch": "amd64", "native": true, "go_version": "go1.27.3"}]
"""

import os
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gofleet.golang.plugins.module_utils import _binary, _goenv, _platform
from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError


def native_binary(path, host):
    """The native check of one executable (as go_binary_arch native=true): its report, "error" when it fails."""
    try:
        info = _binary.inspect(path)
    except _binary.BinaryError as exc:
        error = str(exc)
        return dict(path=path, native=None, error=error if path in error else "%s: %s" % (path, error))
    info["native"] = _platform.native_of(info, host)
    report = dict(path=path, goos=info.get("goos"), goarch=info.get("goarch"), native=info["native"],
                  go_version=info.get("go_version"))
    if info["native"] is not True:
        report["error"] = "%s: %s, expected native" % (path, _platform.native_words(info, host))
    return report


def main():
    module = AnsibleModule(
        argument_spec=dict(
            go=dict(type="path"),
            user=dict(type="str"),
            project=dict(type="path"),
            login_environment=dict(type="bool", default=True),
            install_root=dict(type="path", default=_goenv.DEFAULT_INSTALL_ROOT),
            active_link=dict(type="path", default=_goenv.DEFAULT_ACTIVE_LINK),
            fail_on=dict(type="str", default="never", choices=["never", "info", "warning", "error"]),
            timeout=dict(type="int", default=_goenv.DEFAULT_TIMEOUT),
            native_binaries=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    module.run_command_environ_update = dict(LANG="C", LC_ALL="C")

    def run(argv):
        try:
            return module.run_command(argv, handle_exceptions=False)
        except OSError as exc:  # a shell or program that cannot be started is a fact, not a crash
            return 127, "", "%s: %s" % (argv[0], exc)

    try:
        if p["timeout"] < 1:
            raise GofleetError("timeout=%d: give a number of seconds, 1 or more" % p["timeout"])
        if p["go"] and not os.path.isfile(p["go"]):
            raise GofleetError("go=%s: no such file; give the path of a go binary (e.g. /usr/local/go/bin/go)"
                               % p["go"])
        facts = _goenv.discover(run, sys.executable, user=p["user"] or None, login=p["login_environment"], go=p["go"],
                                project=p["project"], install_root=p["install_root"],
                                active_link=p["active_link"], scratch_parent=module.tmpdir, timeout=p["timeout"])
    except GofleetError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    binaries = [native_binary(path, facts["host"]) for path in p["native_binaries"]]
    result = dict(changed=False, ansible_facts=dict(gofleet_go=facts), findings=facts["findings"], binaries=binaries)
    wrong = [b["error"] for b in binaries if b.get("error")]
    if wrong:
        module.fail_json(msg="%d of %d binaries not native to this host: %s" % (len(wrong), len(binaries), " | ".join(wrong)),
                         **result)
    bad = _goenv.exceeds(facts["findings"], p["fail_on"])
    if bad:
        module.fail_json(msg="%d finding(s) at or above %s: %s" % (
            len(bad), p["fail_on"], "; ".join("%s: %s" % (f["code"], f["message"]) for f in bad)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
