# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks shared by the scenarios' testinfra tests, made from outside the hosts: files are
copied out with `podman cp` and their real machine type read by `file` (binutils' oracle) and
by the collection's own reader, on the controller."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, "tests"))
from testbed import config  # noqa: E402  pylint: disable=wrong-import-position

NEWEST = config.NEWEST
OLDSTABLE = config.OLDSTABLE
GOARCH = {"x86_64": "amd64", "aarch64": "arm64"}
# what `file` says about each GOOS/GOARCH's executables
FILE_SAYS = {
    ("linux", "amd64"): ("ELF 64-bit LSB", "x86-64"),
    ("linux", "arm64"): ("ELF 64-bit LSB", "ARM aarch64"),
    ("linux", "arm"): ("ELF 32-bit LSB", "ARM, EABI5"),
    ("darwin", "arm64"): ("Mach-O 64-bit", "arm64"),
    ("darwin", "amd64"): ("Mach-O 64-bit", "x86_64"),
    ("windows", "amd64"): ("PE32+ executable", "x86-64"),
}


def host_goarch(host):
    return GOARCH[host.run("uname -m").stdout.strip()]


def login(host, cmd, shell="bash"):
    """Run `cmd` in a login shell of root, as a user's terminal would."""
    done = host.run("%s -lc %s" % (shell, _quote(cmd)))
    assert done.rc == 0, "%s -lc %r: rc %d, %s%s" % (shell, cmd, done.rc, done.stdout, done.stderr)
    return done.stdout.strip()


def _quote(s):
    return "'" + s.replace("'", "'\"'\"'") + "'"


def copy_out(host, path):
    """Copy a file out of the container; return its local path (a temporary file)."""
    name = host.backend.get_hostname()
    fd, local = tempfile.mkstemp(prefix="gofleet-check-")
    os.close(fd)
    subprocess.run(["podman", "cp", "%s:%s" % (name, path), local], check=True, capture_output=True)
    return local


def machine(host, path):
    """(what `file` says, what the collection's reader says) about a file on the host."""
    local = copy_out(host, path)
    try:
        said = subprocess.run(["file", "-b", local], check=True, capture_output=True, text=True).stdout.strip()
        sys.path.insert(0, config.collections_root())
        from ansible_collections.gofleet.golang.plugins.module_utils import _binary  # pylint: disable=import-outside-toplevel
        info = _binary.inspect(local)
        return said, info
    finally:
        os.unlink(local)


def assert_platform(host, path, goos, goarch):
    said, info = machine(host, path)
    for part in FILE_SAYS[(goos, goarch)]:
        assert part in said, "%s: file says %r, expected %s/%s" % (path, said, goos, goarch)
    assert (info["goos"], info["goarch"]) == (goos, goarch), "%s: reader says %s/%s" % (path, info["goos"], info["goarch"])
    return info
