# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one runner for programs and file reads on behalf of another user. Standard library only.

gofleet runs as root; what another user's environment names (their shell, their `go`, their `CC`,
their `LD_PRELOAD`, the files their `GOENV` points at) must never run or be read as root. So:

- `run()` starts a program with exactly the environment given (no name that is not
  `[A-Za-z_][A-Za-z0-9_]*`, no NUL), stdin from /dev/null, in a session of its own, with a deadline
  (the whole process group is killed when it passes) and a cap on what it may print. For another
  user than the running one it drops the child's privileges before exec: on Python >= 3.9
  `user=`, `group=` and `extra_groups=` together (`user=` alone would keep root's supplementary
  groups), on 3.8 a preexec_fn calling setgroups, setgid, then setuid. For the running user it
  runs the program normally. Running as another user needs root; anything else is refused.
- `read_file()` reads a file the user names: as that user (in a child Python that runs as them),
  or in this process for the running user; either way opened non-blocking, regular files only,
  at most `limit` bytes. A named pipe never blocks, /dev/zero is never read, a root-only file
  stays unread.

`module.run_command` cannot switch users, which is why this exists (decisions.md).
"""

from __future__ import annotations

import collections
import errno
import os
import pwd
import re
import selectors
import signal
import stat
import subprocess
import sys
import time

from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError

NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
DEFAULT_TIMEOUT = 60
DEFAULT_LIMIT = 4 << 20  # bytes a program may print on stdout (and on stderr)
FILE_LIMIT = 1 << 20
# After the program ended, how long its pipes may stay open (a background job the user's profile
# started holds them) before the output is taken as complete.
GRACE = 0.5
# Python < 3.9 has no user=/group=/extra_groups= in subprocess.
USE_PREEXEC = sys.version_info < (3, 9)
# Interpreters tried, after the module's own, for child programs run as another user (the module's
# interpreter may live where that user cannot reach it, e.g. a virtualenv under /root).
PYTHONS = ("/usr/bin/python3", "/usr/libexec/platform-python", "/usr/local/bin/python3",
           "/opt/homebrew/bin/python3", "/usr/bin/python")
SAFE_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"

_KINDS = {stat.S_IFIFO: "a named pipe", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory", stat.S_IFLNK: "a symbolic link"}


class RunAsError(GofleetError):
    """A program could not be run (or read) on behalf of a user."""


class StartError(RunAsError):
    """The program could not be started (missing, not executable, bad working directory)."""


class Timeout(RunAsError):
    """The program ran past its deadline; its process group was killed."""


class OutputTooLarge(RunAsError):
    """The program printed more than its limit; its process group was killed."""


class ReadError(RunAsError):
    """A file could not be read. `reason`: absent, not_regular, too_large or unreadable."""

    def __init__(self, path, reason, detail):
        super().__init__("%s: %s" % (path, detail), path=path, reason=reason)
        self.path = path
        self.reason = reason
        self.detail = detail


Account = collections.namedtuple("Account", "name uid gid home shell groups")


def _show(value, n=80):
    text = repr(value)
    return text if len(text) <= n else text[:n] + "..."


def account(user=None):
    """The Account of login name `user` (default: the running user), with its groups as
    os.getgrouplist gives them. An unknown name is a RunAsError saying so."""
    try:
        ent = pwd.getpwnam(user) if user is not None else pwd.getpwuid(os.geteuid())
    except (KeyError, ValueError, TypeError):  # ValueError: a NUL in the name
        raise RunAsError("user=%s: no such user on this host; give the login name of an existing user"
                         % _show(user))
    try:
        groups = os.getgrouplist(ent.pw_name, ent.pw_gid)
    except OSError:
        groups = [ent.pw_gid]
    try:
        most = os.sysconf("SC_NGROUPS_MAX")
    except (ValueError, OSError):
        most = 0
    if most > 0:
        groups = groups[:most]  # fewer groups is fewer rights, never more
    return Account(ent.pw_name, ent.pw_uid, ent.pw_gid, ent.pw_dir, ent.pw_shell, tuple(groups))


def is_self(acct):
    """True when `acct` (None: the running user) is the user this process runs as."""
    return acct is None or acct.uid == os.geteuid()


def minimal_env(acct=None):
    """The environment of helper programs run as `acct`: a fixed PATH and the account's HOME."""
    home = acct.home if acct is not None else os.environ.get("HOME", "/")
    return {"PATH": SAFE_PATH, "HOME": home or "/"}


def clean_env(env):
    """(the variables of `env` a program may get, the names refused): names must match
    [A-Za-z_][A-Za-z0-9_]*, names and values must be text without NUL."""
    kept, refused = {}, []
    for name, value in env.items():
        if isinstance(name, str) and NAME.match(name) and isinstance(value, str) and "\0" not in value:
            kept[name] = value
        else:
            refused.append(name if isinstance(name, str) else repr(name))
    return kept, sorted(refused)


def _drop(acct):
    """Popen arguments that make the child `acct`: groups first, then gid, then uid."""
    groups = list(acct.groups)
    if USE_PREEXEC:
        def demote():
            os.setgroups(groups)
            os.setgid(acct.gid)
            os.setuid(acct.uid)
        return {"preexec_fn": demote}
    return {"user": acct.uid, "group": acct.gid, "extra_groups": groups}


def run(argv, acct=None, env=None, cwd=None, timeout=DEFAULT_TIMEOUT, limit=DEFAULT_LIMIT, executable=None,
        text=True):
    """(rc, stdout, stderr) of `argv` run as `acct` (None: the running user) with exactly `env`;
    stdout is bytes when `text` is false.

    Raises StartError, Timeout, OutputTooLarge (all RunAsError) instead of hanging or filling
    memory; RunAsError when another user is asked for without root, or `env` has a bad name.
    """
    if env is None:
        raise RunAsError("run %s: no environment given; every program gets an explicit one" % _show(argv[0]))
    dummy, refused = clean_env(env)
    if refused:
        raise RunAsError("run %s: environment variable names must match [A-Za-z_][A-Za-z0-9_]* and values "
                         "hold no NUL; refused: %s" % (_show(argv[0]), ", ".join(_show(n, 40) for n in refused[:10])))
    kw = dict(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(env), cwd=cwd,
              close_fds=True, start_new_session=True, executable=executable)
    if not is_self(acct):
        if os.geteuid() != 0:
            raise RunAsError("running a program as %s needs root (become: true); this process runs as uid %d"
                             % (acct.name, os.geteuid()))
        kw.update(_drop(acct))
    what = str(argv[0]) if is_self(acct) else "%s (as %s)" % (argv[0], acct.name)
    try:
        proc = subprocess.Popen(list(argv), **kw)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise StartError("%s: cannot start: %s" % (what, exc))
    rc, out, err = _collect(proc, what, timeout, limit)
    err = err.decode("utf-8", "replace")
    return rc, (out.decode("utf-8", "replace") if text else out), err


def _exited(proc):
    """True once the child has ended. Where os.waitid exists (Linux; macOS from Python 3.13) the
    child is left unreaped, so its pid - the id of its process group - stays reserved."""
    if proc.returncode is not None:
        return True
    if hasattr(os, "waitid"):
        try:
            return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            pass
    return proc.poll() is not None


def _kill(proc):
    """SIGKILL the child's process group (jobs it left in its session too), then reap the child.
    The group is signalled only while the child is unreaped: its id cannot have been reused."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            proc.kill()
        except OSError:
            pass
    return proc.wait()


def _collect(proc, what, timeout, limit):
    """(rc, stdout bytes, stderr bytes), read until both pipes end or GRACE after the program
    ended; Timeout at the deadline, OutputTooLarge past `limit` on either pipe. Whatever the
    program left running in its session is killed when it is done."""
    deadline = time.monotonic() + timeout
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    bufs = {out_fd: bytearray(), err_fd: bytearray()}
    sel = selectors.DefaultSelector()
    for f in (proc.stdout, proc.stderr):
        sel.register(f, selectors.EVENT_READ)
    ended = None
    try:
        while True:
            now = time.monotonic()
            if ended is None and _exited(proc):
                ended = now
            if ended is not None and (not sel.get_map() or now - ended > GRACE):
                break  # done; past GRACE a background job it started holds the pipes
            if now >= deadline:
                _kill(proc)
                raise Timeout("%s: stopped after %s s (timeout)" % (what, timeout))
            if not sel.get_map():
                time.sleep(0.01)  # both pipes closed, the program still running
                continue
            for key, dummy in sel.select(min(deadline - now, 0.05)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                bufs[key.fd].extend(chunk)
                if len(bufs[key.fd]) > limit:
                    _kill(proc)
                    raise OutputTooLarge("%s: printed more than %d bytes; stopped" % (what, limit))
        rc = _kill(proc)
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    return rc, bytes(bufs[out_fd]), bytes(bufs[err_fd])


# ---- reading files the user names ---------------------------------------------------------------
# The same checks in this process (read_here) and, as another user, in a child Python (_READER):
# stat first (a FIFO or device is never opened), open non-blocking, fstat again (a swap after the
# stat is caught), read at most limit + 1 bytes. Exit codes of the child: 3 absent, 4 not a
# regular file, 5 too large, 6 unreadable (stderr says why).
_READER = r"""
import errno, os, stat, sys
path, limit = sys.argv[1], int(sys.argv[2])
KINDS = {stat.S_IFIFO: "a named pipe", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}
def done(code, msg):
    sys.stderr.write(msg)
    sys.exit(code)
try:
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        done(4, KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file"))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        done(4, KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file"))
    data = b""
    while len(data) <= limit:
        chunk = os.read(fd, limit + 1 - len(data))
        if not chunk:
            break
        data += chunk
    if len(data) > limit:
        done(5, "larger than %d bytes" % limit)
except OSError as e:
    done(3 if e.errno in (errno.ENOENT, errno.ENOTDIR) else 6, e.strerror or str(e))
except ValueError as e:
    done(6, str(e))
sys.stdout.buffer.write(data)
"""
_READER_CODES = {3: "absent", 4: "not_regular", 5: "too_large", 6: "unreadable"}
_PYTHON_FOR = {}


def _not_regular(path, mode):
    return ReadError(path, "not_regular", "%s, not a regular file" % _KINDS.get(stat.S_IFMT(mode), "a special file"))


def read_here(path, limit=FILE_LIMIT):
    """The bytes of the regular file `path`, read by this process (the running user)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        reason = "absent" if exc.errno in (errno.ENOENT, errno.ENOTDIR) else "unreadable"
        raise ReadError(path, reason, exc.strerror or str(exc))
    except (ValueError, TypeError) as exc:  # a NUL in the path
        raise ReadError(path, "unreadable", str(exc))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode)
        data = bytearray()
        while len(data) <= limit:
            chunk = os.read(fd, limit + 1 - len(data))
            if not chunk:
                break
            data.extend(chunk)
    except OSError as exc:
        raise ReadError(path, "unreadable", exc.strerror or str(exc))
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ReadError(path, "too_large", "larger than %d bytes" % limit)
    return bytes(data)


def python_for(acct, preferred=None, timeout=DEFAULT_TIMEOUT):
    """A Python 3 that `acct` can run: `preferred` (default: this interpreter), else the first of
    PYTHONS that starts as that user. Raises RunAsError when there is none."""
    preferred = preferred or sys.executable
    if is_self(acct):
        return preferred
    key = (acct.uid, acct.gid, acct.groups, preferred)
    if key in _PYTHON_FOR:
        return _PYTHON_FOR[key]
    tried = []
    for cand in [preferred] + [c for c in PYTHONS if c != preferred]:
        if not cand or not os.path.isabs(cand) or not os.path.isfile(cand):
            continue
        try:
            rc, out, err = run([cand, "-I", "-S", "-c", "import json, sys; print(sys.version_info[0])"], acct,
                               env=minimal_env(acct), cwd="/", timeout=timeout, limit=4096)
        except RunAsError as exc:
            tried.append(str(exc))
            continue
        if rc == 0 and out.strip() == "3":
            _PYTHON_FOR[key] = cand
            return cand
        tried.append("%s (as %s): rc %s %s" % (cand, acct.name, rc, err.strip()[:200]))
    raise RunAsError("no Python 3 that %s can run: %s" % (acct.name, "; ".join(tried) or "none found"))


def read_file(path, acct=None, limit=FILE_LIMIT, timeout=DEFAULT_TIMEOUT, python=None):
    """The bytes of the regular file `path` as `acct` (None: the running user) can read them.

    Raises ReadError (reason absent, not_regular, too_large, unreadable); never blocks on a pipe,
    never reads past `limit`."""
    if is_self(acct):
        return read_here(path, limit)
    try:
        py = python_for(acct, python, timeout)
        rc, out, err = run([py, "-I", "-S", "-c", _READER, path, str(limit)], acct, env=minimal_env(acct),
                           cwd="/", timeout=timeout, limit=limit + 1, text=False)
    except RunAsError as exc:
        raise ReadError(path, "unreadable", "cannot read it as %s: %s" % (acct.name, exc))
    if rc == 0:
        return out
    reason = _READER_CODES.get(rc, "unreadable")
    detail = err.strip()[:300] or "rc %s" % rc
    if reason == "not_regular":
        detail += ", not a regular file"
    raise ReadError(path, reason, "%s (read as %s)" % (detail, acct.name))
