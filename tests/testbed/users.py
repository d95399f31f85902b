# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real second Unix users for the attack tests: another local user on a shared host.

Each user gets a name unique to the run (`gfa<pid>x<n>`, with the prefix GFA_PREFIX so stale ones of
a killed run are recognised and purged), a home of its own and /bin/bash. useradd/userdel take
/etc/passwd's lock: parallel pytest processes retry while it is held. Tests run as root (these
machines and CI). Use the `second_user` fixture (tests/conftest.py), or `created()` directly.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import subprocess
import time

GFA_PREFIX = "gfa"  # short: user names are at most 32 characters, some tools show 8
_counter = itertools.count()
_NAME = re.compile(r"^%s(\d+)x\d+$" % GFA_PREFIX)


class User:
    def __init__(self, name):
        entry = pwd.getpwnam(name)
        self.name = name
        self.uid = entry.pw_uid
        self.gid = entry.pw_gid
        self.home = entry.pw_dir

    def run(self, command, check=True, **kw):
        """Run a shell command as this user (runuser: no password, no PAM session noise)."""
        return subprocess.run(["runuser", "-u", self.name, "--", "/bin/sh", "-c", command],
                              check=check, capture_output=True, text=True, **kw)

    def write(self, path, text, mode=0o644):
        """A file at `path` owned by this user (folders above it must exist)."""
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, self.uid, self.gid)
        os.chmod(path, mode)
        return path

    def __repr__(self):
        return "User(%s, uid=%d)" % (self.name, self.uid)


def _locked_retry(argv, attempts=60):
    """useradd/userdel exit 10 (or 1 with 'lock' in the message) while /etc/passwd is locked."""
    for attempt in range(attempts):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return proc
        if proc.returncode == 10 or "lock" in (proc.stderr or "").lower():
            time.sleep(0.2 + 0.05 * attempt)
            continue
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), proc.returncode, proc.stderr.strip()))
    raise RuntimeError("%s: /etc/passwd stayed locked" % " ".join(argv))


def create():
    name = "%s%dx%d" % (GFA_PREFIX, os.getpid(), next(_counter))
    _locked_retry(["useradd", "--create-home", "--shell", "/bin/bash", "--user-group", name])
    return User(name)


def remove(user):
    subprocess.run(["pkill", "-KILL", "-u", user.name], capture_output=True, check=False)
    _locked_retry(["userdel", "--remove", "--force", user.name])


def purge_stale():
    """Remove test users whose creating process is gone (a killed run left them)."""
    for entry in pwd.getpwall():
        m = _NAME.match(entry.pw_name)
        if m and not os.path.exists("/proc/%s" % m.group(1)):
            with contextlib.suppress(RuntimeError, KeyError):
                remove(User(entry.pw_name))


@contextlib.contextmanager
def created():
    """A fresh second user for the duration of the block, removed after it."""
    user = create()
    try:
        yield user
    finally:
        remove(user)
