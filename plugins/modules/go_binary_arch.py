#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: go_binary_arch
short_description: The truth about executables - architecture, OS, linkage and Go build info from the file itself
version_added: 0.1.0
description:
  - Reads each executable's headers (ELF, Mach-O thin and universal, PE) and, for Go programs, the
    embedded build info, without running it. Reports the Go architecture (C(GOARCH) name), OS with
    the evidence it was decided from, bits, byte order, linkage, interpreter, stripped, and the Go
    version, main module, dependencies and build settings that C(go version -m) would print.
  - A finding is reported when the build settings (what the toolchain meant to build) and the
    headers (what the file is) disagree, e.g. C(GOARCH=amd64) in the build info of an arm64 file.
  - Asserts expectations - O(goarch), O(goos), O(linkage), O(cgo), O(go_version), O(native) - and
    fails, listing every mismatch of every file, when one does not hold.
  - Reads only the headers and the build-info region of each file (a few KiB), never the whole file.
  - A file that is no executable, is truncated or cannot be read gets a clear error of its own;
    the task then fails after every other file has been reported.
  - Changes nothing.
author:
  - gofleet developers (@gofleet)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
requirements:
  - Python 3.8 or newer on the managed node (standard library only).
  - Optional, for O(detail=true) on ELF files - pyelftools on the managed node.
attributes:
  check_mode:
    support: full
    details: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  paths:
    description:
      - Executables to inspect, or directories holding them (e.g. C(GOPATH/bin), C(GOROOT/bin)).
      - In a directory, the regular files with an execute bit or an C(.exe) suffix are inspected, not
        recursively; other files are listed in RV(skipped). A file named directly is always inspected.
    type: list
    elements: path
    required: true
    aliases: [path]
  goarch:
    description:
      - Expected Go architecture (V(amd64), V(arm64), V(386), V(arm), V(riscv64), V(ppc64le), ...).
      - A universal Mach-O meets it when one of its slices has this architecture.
    type: str
  goos:
    description: Expected Go operating system (V(linux), V(darwin), V(windows), V(freebsd), ...).
    type: str
  linkage:
    description: Expected linkage, as C(file) reports it.
    type: str
    choices: [static, dynamic, static-pie]
  cgo:
    description:
      - Expected C(CGO_ENABLED) build setting of Go programs (V(true) for C(CGO_ENABLED=1)).
      - A program without build settings (not Go, or built by Go older than 1.18) does not meet it.
    type: bool
  go_version:
    description:
      - A Go version constraint the embedded Go version must meet, e.g. V(>=1.26), V(1.27.x),
        V(>=1.26,<1.27.3). A file without Go build info does not meet it.
    type: str
  native:
    description:
      - V(true) - the file's architecture is this node's own, so the kernel runs it without
        emulation (not under Rosetta nor qemu-user). V(false) - it must not be.
      - The node is described as in C(gofleet.golang.go_env_facts) (C(uname -m); on macOS the
        hardware, even when Python runs under Rosetta). A 32-bit program of the kernel's family
        (386 on amd64, arm on arm64) counts as native; a program for another OS does not.
    type: bool
  fail_on_findings:
    description: Also fail when the build settings and the headers of a file disagree (findings).
    type: bool
    default: false
  detail:
    description:
      - Add C(detail) to each ELF report with what pyelftools reads (Go build-ID note, ARM float ABI
        attribute, DWARF presence) when it is installed on the node.
    type: bool
    default: false
notes:
  - C(go version -m) reads only the first slice of a universal Mach-O; this module reports every
    slice in C(slices) and C(goarches), and the top-level fields are those of the first slice.
  - The arm64 C(go) of an amd64 node with qemu-user binfmt runs, but emulated - C(native) is false.
seealso:
  - module: gofleet.golang.go_env_facts
  - module: gofleet.golang.go_install
"""

EXAMPLES = r"""
- name: Assert that the Go toolchain is a native amd64 Linux build of Go 1.26 or newer
  gofleet.golang.go_binary_arch:
    paths: /usr/local/go/bin/go
    goos: linux
    goarch: amd64
    native: true
    go_version: ">=1.26"

- name: Every tool in GOPATH/bin is a static, cgo-free program for this node
  gofleet.golang.go_binary_arch:
    paths: /home/deploy/go/bin
    native: true
    linkage: static
    cgo: false
  register: tools

- name: Show what each tool is and which Go built it
  ansible.builtin.debug:
    msg: "{{ item.path }}: {{ item.goos }}/{{ item.goarch }} {{ item.linkage }} {{ item.go_version }}"
  loop: "{{ tools.binaries }}"

- name: Report a mislabeled build (build settings disagree with the headers) without failing
  gofleet.golang.go_binary_arch:
    paths: /srv/dist/app-linux-arm64
  register: app

- name: Fail when the build info and the headers disagree
  ansible.builtin.assert:
    that: app.binaries[0].findings | length == 0
    fail_msg: "{{ app.binaries[0].findings | map(attribute='message') | join('; ') }}"
"""

RETURN = r"""
binaries:
  description:
    - One report per inspected file, in the order of O(paths) (directory entries sorted by name).
    - Keys as in C(module_utils/_binary.inspect) - C(path), C(size), C(bytes_read), C(format)
      (V(elf), V(macho), V(pe)), C(goos), C(goos_source) (the evidence - V(build info),
      C(ELF OSABI 9), an interpreter path, C(Mach-O platform 1), V(PE format), V(assumed)),
      C(goarch), C(machine) (the header's number), C(bits), C(endianness), C(linkage)
      (V(static), V(dynamic), V(static-pie)), C(interpreter), C(stripped), C(is_go), C(go_version)
      (raw, as C(go version -m) prints it), C(build_info) (C(path), C(main), C(deps) with
      C(replace), C(settings)), C(build_id), C(declared) (C(goos)/C(goarch) from the build settings),
      C(findings) (declared vs actual, each C(code) and C(message)), C(universal), C(slices), C(goarches).
    - Added by the module - C(native), C(cgo) (from C(CGO_ENABLED), null without build settings),
      C(mismatches) (each C(expectation), C(expected), C(actual), C(message)), C(ok).
    - A file that cannot be inspected has only C(path), C(error), C(mismatches) and C(ok=false).
  returned: always
  type: list
  elements: dict
  sample:
    - path: /usr/local/go/bin/go
      format: elf
      goos: linux
      goos_source: build info
      goarch: amd64
      bits: 64
      endianness: little
      linkage: static
      interpreter: null
      stripped: false
      is_go: true
      go_version: go1.27.3
      declared: {goos: linux, goarch: amd64}
      findings: []
      native: true
      cgo: false
      mismatches: []
      ok: true
host:
  description: This node as the O(native) rule sees it (C(goos), C(goarch), C(kernel_goarch), C(how), ...).
  returned: always
  type: dict
  sample: {system: Linux, kernel_machine: x86_64, goos: linux, goarch: amd64, kernel_goarch: amd64}
mismatches:
  description: Every expectation that does not hold, with C(path), over all files; empty when all hold.
  returned: always
  type: list
  elements: dict
  sample:
    - path: /usr/local/go/bin/go
      expectation: goarch
      expected: amd64
      actual: arm64
      message: "goarch is arm64 (ELF header), expected amd64"
errors:
  description: Files that could not be inspected - C(path) and C(error).
  returned: always
  type: list
  elements: dict
skipped:
  description: Files in the given directories that were not inspected (no execute bit, no C(.exe)).
  returned: always
  type: list
  elements: str
"""

import os
import stat

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gofleet.golang.plugins.module_utils import _binary, _platform, _versions

FORMAT_NAMES = {"elf": "ELF", "macho": "Mach-O", "pe": "PE"}


def expand(paths):
    """(files to inspect in order, skipped files) from files and directories."""
    files, skipped = [], []
    for path in paths:
        if not os.path.isdir(path):
            files.append(path)
            continue
        try:
            names = sorted(os.listdir(path))
        except OSError:
            files.append(path)  # inspect() reports why it cannot be read
            continue
        for name in names:
            full = os.path.join(path, name)
            try:
                st = os.stat(full)
            except OSError:
                files.append(full)
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if st.st_mode & 0o111 or name.lower().endswith(".exe"):
                files.append(full)
            else:
                skipped.append(full)
    return files, skipped


def cgo_of(info):
    value = ((info.get("build_info") or {}).get("settings") or {}).get("CGO_ENABLED")
    return None if value is None else value == "1"


def check(info, p, constraint, host):
    """Every expectation of p that info does not meet: [{expectation, expected, actual, message}]."""
    out = []

    def miss(name, actual, message):
        out.append({"expectation": name, "expected": p[name], "actual": actual, "message": message})

    header = "%s header" % FORMAT_NAMES.get(info["format"], info["format"])
    if p["goarch"] is not None:
        arches = info.get("goarches") or [info.get("goarch")]
        if p["goarch"] not in arches:
            if info.get("universal"):
                miss("goarch", arches, "universal file has slices %s, none is %s" % (", ".join(map(str, arches)), p["goarch"]))
            else:
                miss("goarch", info["goarch"], "goarch is %s (%s, machine %s), expected %s"
                     % (info["goarch"], header, info["machine"], p["goarch"]))
    if p["goos"] is not None and info["goos"] != p["goos"]:
        miss("goos", info["goos"], "goos is %s (%s), expected %s" % (info["goos"], info["goos_source"], p["goos"]))
    if p["linkage"] is not None and info["linkage"] != p["linkage"]:
        how = " (interpreter %s)" % info["interpreter"] if info.get("interpreter") else ""
        miss("linkage", info["linkage"], "linkage is %s%s, expected %s" % (info["linkage"], how, p["linkage"]))
    if p["cgo"] is not None and info["cgo"] != p["cgo"]:
        if info["cgo"] is None:
            why = "not a Go program" if not info["is_go"] else "no CGO_ENABLED build setting (built by %s)" % (
                info["go_version"] or "an unknown Go")
            miss("cgo", None, "cannot tell whether cgo was enabled: %s; expected cgo=%s" % (why, str(p["cgo"]).lower()))
        else:
            miss("cgo", info["cgo"], "built with CGO_ENABLED=%d, expected CGO_ENABLED=%d" % (info["cgo"], p["cgo"]))
    if constraint is not None:
        version = info["go_version"]
        if not version:
            miss("go_version", None, "no Go version in the file (%s), expected %s"
                 % ("not a Go program" if not info["is_go"] else "no build info", p["go_version"]))
        else:
            try:
                ok = constraint.matches(version)
            except _versions.VersionError:
                miss("go_version", version, "Go version %s is not a release version, expected %s" % (version, p["go_version"]))
            else:
                if not ok:
                    miss("go_version", version, "built by %s, expected %s" % (version, p["go_version"]))
    if p["native"] is not None and info["native"] != p["native"]:
        miss("native", info["native"], "%s, expected %s" % (
            _platform.native_words(info, host), "native" if p["native"] else "not native"))
    if p["fail_on_findings"]:
        for f in info.get("findings") or []:
            out.append({"expectation": "fail_on_findings", "expected": "no findings", "actual": f["code"],
                        "message": "%s: %s" % (f["code"], f["message"])})
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path", required=True, aliases=["path"]),
            goarch=dict(type="str"),
            goos=dict(type="str"),
            linkage=dict(type="str", choices=["static", "dynamic", "static-pie"]),
            cgo=dict(type="bool"),
            go_version=dict(type="str"),
            native=dict(type="bool"),
            fail_on_findings=dict(type="bool", default=False),
            detail=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    module.run_command_environ_update = dict(LANG="C", LC_ALL="C")
    if not p["paths"]:
        module.fail_json(msg="paths is empty: give at least one executable or directory")
    constraint = None
    if p["go_version"] is not None:
        try:
            constraint = _versions.parse_constraint(p["go_version"])
        except _versions.VersionError as exc:
            module.fail_json(msg="go_version=%s: %s" % (p["go_version"], exc))

    def run(argv):
        try:
            return module.run_command(argv, handle_exceptions=False)
        except OSError as exc:
            return 127, "", "%s: %s" % (argv[0], exc)

    host = _platform.detect(run=run)
    files, skipped = expand(p["paths"])
    binaries, mismatches, errors = [], [], []
    for path in files:
        try:
            info = _binary.inspect(path, detail=p["detail"])
        except _binary.BinaryError as exc:
            error = str(exc)
            if path not in error:
                error = "%s: %s" % (path, error)
            report = {"path": path, "error": error, "mismatches": [], "ok": False}
            binaries.append(report)
            errors.append({"path": path, "error": error})
            continue
        info["cgo"] = cgo_of(info)
        info["native"] = _platform.native_of(info, host)
        info["mismatches"] = check(info, p, constraint, host)
        info["ok"] = not info["mismatches"]
        binaries.append(info)
        mismatches.extend(dict(m, path=path) for m in info["mismatches"])

    result = dict(changed=False, binaries=binaries, host=host, mismatches=mismatches, errors=errors, skipped=skipped)
    if not files:
        module.fail_json(msg="no executable found in %s (skipped: %s)" % (
            ", ".join(p["paths"]), ", ".join(skipped) or "nothing"), **result)
    if mismatches or errors:
        lines = []
        for report in binaries:
            if report.get("error"):
                lines.append(report["error"])
            elif report["mismatches"]:
                lines.append("%s: %s" % (report["path"], "; ".join(m["message"] for m in report["mismatches"])))
        module.fail_json(msg="%d of %d file(s) failed: %s" % (len(lines), len(files), " | ".join(lines)), **result)
    module.exit_json(msg="%d file(s) inspected, every expectation holds" % len(files), **result)


if __name__ == "__main__":
    main()
