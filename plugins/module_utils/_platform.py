# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host platform in Go's words: which GOOS/GOARCH this node really is.

One home for `uname -m` -> Go names, 32-bit userlands on 64-bit kernels, and the true hardware
of a Mac even when this process runs under Rosetta. Standard library only (runs on the node).
"""

from __future__ import annotations

import os
import platform
import struct

# `uname -m` (Linux, BSD, macOS) -> GOARCH
GOARCH_BY_MACHINE = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "i386": "386",
    "i486": "386",
    "i586": "386",
    "i686": "386",
    "aarch64": "arm64",
    "aarch64_be": "arm64",
    "arm64": "arm64",
    "armv5l": "arm",
    "armv6l": "arm",
    "armv7l": "arm",
    "armv8l": "arm",  # 32-bit userland reported by a 64-bit ARM kernel
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "loongarch64": "loong64",
    "mips": "mips",
    "mipsel": "mipsle",
    "mips64": "mips64",
    "mips64el": "mips64le",
}

# 64-bit GOARCH -> the GOARCH of its 32-bit userland
GOARCH_32BIT = {"amd64": "386", "arm64": "arm"}
# GOARCH -> the arch part of go.dev's archive names (go1.27.3.linux-armv6l.tar.gz)
ARCHIVE_ARCH = {"arm": "armv6l"}
GOOS_BY_SYSTEM = {"Linux": "linux", "Darwin": "darwin", "FreeBSD": "freebsd", "OpenBSD": "openbsd",
                  "NetBSD": "netbsd", "Windows": "windows", "SunOS": "solaris", "AIX": "aix"}


def goarch_of_machine(machine):
    """GOARCH for a `uname -m` value, or None when Go has no name for it."""
    return GOARCH_BY_MACHINE.get((machine or "").strip().lower())


def archive_arch(goarch):
    """The arch part of go.dev archive names for a GOARCH (arm -> armv6l, others unchanged)."""
    return ARCHIVE_ARCH.get(goarch, goarch)


def goarch_of_archive_arch(name):
    """GOARCH for the arch part of a go.dev archive name (armv6l -> arm)."""
    for goarch, arch in ARCHIVE_ARCH.items():
        if arch == name:
            return goarch
    return name


def _sysctl(run, name):
    """Value of a macOS sysctl, or None when it does not exist (run: argv -> (rc, out, err))."""
    rc, out, dummy = run(["sysctl", "-n", name])
    return out.strip() if rc == 0 else None


def detect(run=None, system=None, machine=None, pointer_bits=None):
    """Describe this host: what it runs and what Go archive fits it.

    `run(argv) -> (rc, stdout, stderr)` runs a command (a module passes module.run_command);
    `system`, `machine` and `pointer_bits` default to this process's own view and exist so that
    tests can describe hosts that cannot run here (a Mac).

    Returns a dict: system, kernel_machine, goos, goarch (what the host should run), kernel_goarch,
    userland_bits, translated (this process runs under Rosetta), how (why goarch was chosen).
    """
    system = system or platform.system()
    machine = machine or os.uname().machine
    bits = pointer_bits or struct.calcsize("P") * 8
    goos = GOOS_BY_SYSTEM.get(system, system.lower())
    kernel_goarch = goarch_of_machine(machine)
    info = {
        "system": system,
        "kernel_machine": machine,
        "goos": goos,
        "kernel_goarch": kernel_goarch,
        "goarch": kernel_goarch,
        "userland_bits": bits,
        "translated": False,
        "how": "uname -m %s" % machine,
    }
    if goos == "darwin" and run is not None:
        # Under Rosetta, uname -m says x86_64 on Apple Silicon: ask the hardware instead.
        translated = _sysctl(run, "sysctl.proc_translated") == "1"
        arm64_hw = _sysctl(run, "hw.optional.arm64") == "1"
        info["translated"] = translated
        if arm64_hw:
            info["goarch"] = info["kernel_goarch"] = "arm64"
            info["how"] = "sysctl hw.optional.arm64=1" + (" (this process runs under Rosetta)" if translated else "")
        return info
    if kernel_goarch in GOARCH_32BIT and bits == 32:
        info["goarch"] = GOARCH_32BIT[kernel_goarch]
        info["how"] = "uname -m %s with a 32-bit userland" % machine
    return info


def is_native(goarch, host, goos=None):
    """A binary is native when the host's kernel runs its architecture itself (decisions.md):
    the kernel's arch, the arch the host should run, or the 32-bit arch of a 64-bit kernel
    (a 386 program on an amd64 kernel is no emulation). A binary for another OS is not native
    either (it does not run at all). `host` is detect()'s dict; None when goarch is unknown."""
    if not goarch:
        return None
    if goos and host.get("goos") and goos != host["goos"]:
        return False
    kernel = host.get("kernel_goarch")
    return goarch in (kernel, host.get("goarch"), GOARCH_32BIT.get(kernel))


def native_of(info, host):
    """Whether the file _binary.inspect() described is native to host: True when one of its
    architectures (every slice of a universal file) is native, None when unknown."""
    answers = [is_native(goarch, host, info.get("goos")) for goarch in (info.get("goarches") or [info.get("goarch")])]
    if True in answers:
        return True
    return False if False in answers else None


def native_words(info, host):
    """'<goos>/<arches> on a <goos>/<kernel arch> node is native|not native (why)' for a file with
    info["native"] set."""
    if info["native"] is None:
        state = "of unknown architecture (machine %s)" % info.get("machine")
    elif info["native"]:
        state = "native"
    elif info.get("goos") != host.get("goos"):
        state = "not native (a program for another OS)"
    else:
        state = "not native (it runs only emulated, e.g. by qemu-user or Rosetta)"
    arches = "/".join(map(str, info.get("goarches") or [info.get("goarch")]))
    return "%s/%s on a %s/%s node is %s" % (info.get("goos"), arches, host.get("goos"), host.get("kernel_goarch"), state)
