# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Platform detection. This machine is really probed (x86_64 Linux); the arm64 container is
really probed in the integration tests. A Mac cannot run here: its `sysctl` answers are MOCKED
below (the only mock), with the values Apple documents for Rosetta 2 (sysctl.proc_translated=1
under translation, hw.optional.arm64=1 on Apple Silicon, both absent on Intel Macs).
"""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _platform


def _real_run(argv):
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


def test_this_machine_for_real():
    info = _platform.detect(run=_real_run)
    machine = subprocess.run(["uname", "-m"], capture_output=True, text=True, check=True).stdout.strip()
    assert info["kernel_machine"] == machine
    assert info["goos"] == "linux" and info["translated"] is False
    assert info["goarch"] == {"x86_64": "amd64", "aarch64": "arm64"}[machine]


@pytest.mark.parametrize("machine,bits,goarch", [
    ("x86_64", 64, "amd64"), ("aarch64", 64, "arm64"), ("armv7l", 32, "arm"), ("armv6l", 32, "arm"),
    ("i686", 32, "386"), ("ppc64le", 64, "ppc64le"), ("s390x", 64, "s390x"), ("riscv64", 64, "riscv64"),
    ("loongarch64", 64, "loong64"),
    # a 32-bit userland on a 64-bit kernel runs the 32-bit toolchain (gantsign #302)
    ("aarch64", 32, "arm"), ("x86_64", 32, "386"),
])
def test_linux_machines(machine, bits, goarch):
    info = _platform.detect(system="Linux", machine=machine, pointer_bits=bits)
    assert info["goarch"] == goarch
    assert _platform.archive_arch(goarch) == ("armv6l" if goarch == "arm" else goarch)


def _mac(answers):
    """MOCK of macOS sysctl (cannot run on Linux): name -> value, missing names fail like sysctl."""
    def run(argv):
        assert argv[:2] == ["sysctl", "-n"]
        if argv[2] in answers:
            return 0, answers[argv[2]] + "\n", ""
        return 1, "", "sysctl: unknown oid '%s'" % argv[2]
    return run


@pytest.mark.parametrize("uname,answers,goarch,translated", [
    ("arm64", {"hw.optional.arm64": "1", "sysctl.proc_translated": "0"}, "arm64", False),
    # Rosetta: the process sees x86_64, the hardware is Apple Silicon -> arm64 Go
    ("x86_64", {"hw.optional.arm64": "1", "sysctl.proc_translated": "1"}, "arm64", True),
    # Intel Mac: neither sysctl exists
    ("x86_64", {}, "amd64", False),
])
def test_macos_true_arch_even_under_rosetta(uname, answers, goarch, translated):
    info = _platform.detect(run=_mac(answers), system="Darwin", machine=uname, pointer_bits=64)
    assert (info["goos"], info["goarch"], info["translated"]) == ("darwin", goarch, translated)


def test_archive_arch_round_trip():
    assert _platform.goarch_of_archive_arch("armv6l") == "arm"
    assert _platform.goarch_of_archive_arch("arm64") == "arm64"
    assert _platform.goarch_of_machine("AARCH64") == "arm64" and _platform.goarch_of_machine("vax") is None
