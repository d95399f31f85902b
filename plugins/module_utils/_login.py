# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What login shells and cmd/go read from the system about the installed Go, written by go_install
in the same call that installs (a converged host costs no extra round trip):

  $GOROOT/go.env          Go's system-wide defaults for that toolchain (GOPROXY, GOSUMDB, ...)
  the login-shell script  (/etc/profile.d/go.sh) the active toolchain first on PATH, GOPATH/bin
  /etc/zsh/zprofile       a marked block that makes zsh login shells read the same script (only
                          where /etc/zsh exists, as zsh packages make it)

Each file is compared with what is there and replaced only when it differs: atomically (a temporary
file in the same folder, fsync, rename), owned by root, mode 0644, never written through a symbolic
link (the rename replaces a link instead of following it), and only in folders no other user can
change (_layout.check_chain). Check mode compares only. Every input that ends up in shell code or in
go.env is checked first, and each problem named (the same rules as the role's tasks/validate.yml).

Standard library only: this runs on managed nodes with Python 3.8 to 3.13.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import tempfile

from ansible_collections.gofleet.golang.plugins.module_utils import _layout
from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError

MARKER = "# Managed by Ansible (gofleet.golang.go): edits are overwritten."
ZSH_DIR = "/etc/zsh"
ZPROFILE = "/etc/zsh/zprofile"
ZSH_BEGIN = "# BEGIN gofleet.golang.go"
ZSH_END = "# END gofleet.golang.go"
FILE_MODE = 0o644
MAX_READ = 1 << 20  # a login file larger than this is not one we wrote: refused

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
LINE_RE = re.compile(r"[^\x00-\x1f\x7f]*\Z")
# written into zprofile unquoted inside double quotes: letters, digits and . _ + @ % , : / - only
PLAIN_PATH_RE = re.compile(r"/[A-Za-z0-9._+@%,:/-]+\Z")
# its bin goes on PATH, where ":" separates entries
LINK_RE = re.compile(r"/[^:\x00-\x1f\x7f]*\Z")
# expanded at login: plain characters and $NAME or ${NAME} references only
GOPATH_RE = re.compile(r'(?:[^$`"\\\x00-\x1f\x7f]|\$[A-Za-z_][A-Za-z0-9_]*|\$\{[A-Za-z_][A-Za-z0-9_]*\})+\Z')


class LoginError(GofleetError):
    pass


# ---- contents -----------------------------------------------------------------------------------
def go_env_text(version, settings):
    """$GOROOT/go.env for go<version>: a NAME=value line per setting with a value, in the given order."""
    problems = ["go_env: %r=%r: the name must be a variable name (letters, digits, _; not starting with a digit) "
                "and the value one line without control characters" % (name, value)
                for name, value in settings.items()
                if not (isinstance(name, str) and NAME_RE.match(name) and LINE_RE.match(_text(value)))]
    if problems:
        raise LoginError("; ".join(problems))
    lines = [MARKER,
             "# Go's system-wide defaults for this toolchain (go%s). Values set with" % version,
             "# `go env -w` (the user's go/env file) override these; the environment overrides everything."]
    lines += ["%s=%s" % (name, _text(value)) for name, value in settings.items() if _text(value)]
    return "\n".join(lines) + "\n"


def profile_text(active_link, gopath, export_goroot=False):
    """The login-shell script: the active toolchain's bin first on PATH, then each user's GOPATH/bin."""
    problems = []
    if not LINK_RE.match(active_link or ""):
        problems.append("active_link=%r must be an absolute path without \":\" (its bin goes on PATH, where \":\" "
                        "separates entries) or control characters" % active_link)
    if not GOPATH_RE.match(gopath or ""):
        problems.append("profile.gopath=%r is written into the login script and expanded at login: it may hold plain "
                        "characters and $NAME or ${NAME} references only (no $(...), backquote, quote, backslash, "
                        "${NAME...} operator or control character)" % gopath)
    if problems:
        raise LoginError("; ".join(problems))
    bin_dir = shlex.quote(active_link + "/bin")
    lines = [MARKER,
             "# Go for login shells: the active toolchain first on PATH, then each user's GOPATH/bin.",
             "# Paths are single-quoted (nothing in them expands); GOPATH is double-quoted so that its",
             "# $NAME references (checked by the role: nothing else) expand for each user.",
             'case ":${PATH}:" in',
             "  *:%s:*) ;;" % bin_dir,
             '  *) PATH=%s":${PATH}" ;;' % bin_dir,
             "esac"]
    if export_goroot:
        lines += ["GOROOT=%s" % shlex.quote(active_link), "export GOROOT"]
    lines += ['if [ -z "${GOPATH:-}" ]; then',
              '  GOPATH="%s"' % gopath,
              "fi",
              "export GOPATH",
              'case ":${PATH}:" in',
              '  *:"${GOPATH%%:*}/bin":*) ;;',
              '  *) PATH="${PATH}:${GOPATH%%:*}/bin" ;;',
              "esac",
              "export PATH"]
    return "\n".join(lines) + "\n"


def zsh_block(profile_path):
    """The zprofile block that makes zsh login shells read the script (in sh emulation)."""
    return "\n".join([ZSH_BEGIN, '[ -r "%s" ] && emulate sh -c ". %s"' % (profile_path, profile_path), ZSH_END]) + "\n"


def _block_span(lines):
    """(first, last) line index of our marked block in lines, or None."""
    begin = next((i for i, line in enumerate(lines) if line.rstrip("\n") == ZSH_BEGIN), None)
    if begin is None:
        return None
    end = next((i for i in range(begin + 1, len(lines)) if lines[i].rstrip("\n") == ZSH_END), None)
    return None if end is None else (begin, end)


def with_block(text, block):
    """text with our marked block replaced by block (or appended when it has none)."""
    lines = text.splitlines(True)
    span = _block_span(lines)
    if span:
        return "".join(lines[:span[0]]) + block + "".join(lines[span[1] + 1:])
    if text and not text.endswith("\n"):
        text += "\n"
    return text + block


def without_block(text):
    """text with our marked block removed (unchanged when it has none)."""
    lines = text.splitlines(True)
    span = _block_span(lines)
    return text if not span else "".join(lines[:span[0]] + lines[span[1] + 1:])


# ---- the files ----------------------------------------------------------------------------------
def check(go_env=None, profile=None, active_link=None):
    """Refuse bad inputs before anything is installed (LoginError naming each one)."""
    if go_env is not None:
        go_env_text("", go_env)
    if profile is not None:
        _check_profile_path(profile["path"])
        profile_text(active_link, profile.get("gopath") or "$HOME/go")


def _check_profile_path(path):
    if not PLAIN_PATH_RE.match(path or ""):
        raise LoginError("profile.path=%r must be an absolute path of letters, digits and . _ + @ %% , : / - only "
                         "(it is written into zsh's zprofile as is)" % path)


def wanted(goroot, version, go_env=None, profile=None, active_link=None):
    """[(path, text)] of every file that should hold text, in a fixed order. profile: dict(path, gopath,
    goroot, zsh). A zprofile block is wanted only where /etc/zsh is a folder."""
    files = []
    if go_env is not None and goroot:
        files.append((os.path.join(goroot, "go.env"), go_env_text(version, go_env)))
    if profile is not None:
        path = profile["path"]
        _check_profile_path(path)
        files.append((path, profile_text(active_link, profile.get("gopath") or "$HOME/go", bool(profile.get("goroot")))))
        if profile.get("zsh", True) and os.path.isdir(ZSH_DIR) and not os.path.islink(ZSH_DIR):
            current = read(ZPROFILE)
            files.append((ZPROFILE, with_block(current or "", zsh_block(path))))
    return files


def read(path):
    """The file's text, None when it does not exist. A link, a non-regular or an oversized file is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as e:
        if os.path.islink(path):
            raise LoginError("%s is a symbolic link: root writes this file, and a link could point it anywhere; remove "
                             "the link (rm %s) and run again" % (path, path))
        raise LoginError("cannot read %s: %s" % (path, e.strerror or e))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not (st.st_mode & 0o170000 == 0o100000):
            raise LoginError("%s is not a regular file; remove it and run again" % path)
        data = f.read(MAX_READ + 1)
    if len(data) > MAX_READ:
        raise LoginError("%s is larger than %d bytes: not a login file this collection writes; refused" % (path, MAX_READ))
    return data.decode("utf-8", "surrogateescape")


def compare(files):
    """[dict(path, changed, before, after)] for wanted files (nothing written)."""
    out = []
    for path, text in files:
        before = read(path) if os.path.isdir(os.path.dirname(path)) else None
        changed = before != text or (before is not None and not _owned_as_wanted(path))
        out.append(dict(path=path, changed=changed, before=before, after=text))
    return out


def apply(changes):
    """Write every changed file (atomically, root-owned 0644); folders above must be trusted."""
    for change in changes:
        if change["changed"]:
            write(change["path"], change["after"])


def write(path, text):
    folder = os.path.dirname(path)
    _layout.check_chain(folder, "the folder of %s" % path)
    if not os.path.isdir(folder):
        raise LoginError("%s: its folder %s does not exist; create it (root-owned, 0755) or choose another path"
                         % (path, folder))
    fd, tmp = tempfile.mkstemp(prefix=".gofleet-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8", "surrogateescape"))
            os.fchmod(f.fileno(), FILE_MODE)
            if os.geteuid() == 0:
                os.fchown(f.fileno(), 0, 0)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _layout.fsync_dir(folder)


def _owned_as_wanted(path):
    st = os.lstat(path)
    owner_ok = os.geteuid() != 0 or (st.st_uid == 0 and st.st_gid == 0)
    return owner_ok and st.st_mode & 0o7777 == FILE_MODE


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
