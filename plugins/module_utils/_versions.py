# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Go versions, version specs, version files and release resolution. Standard library only.

Runs on the managed node (Python 3.8+) and on the controller (the go_release lookup). No network
code and no release files: module_utils/_release.py turns a spec into a complete Release, using
choose_version() here to pick the version in an index.

Versions are handled without the ``go`` prefix, in go.dev's spelling: ``1.27.3``, ``1.20`` (up to
Go 1.20 the first release of a minor line has no ``.0``), ``1.21.0`` (from Go 1.21 it has),
``1.27rc1``, ``1.22beta2``. Ordering: ``1.27beta1 < 1.27rc1 < 1.27.0 < 1.27.1``.

Specs (parse_spec()):
  ``1.27.3``, ``go1.27.3``, ``1.20.0`` (= go1.20), ``go1.20``, ``1.27rc1``   exact release
  ``1.27``, ``1.27.x``                                                 newest stable patch of 1.27
  ``stable``, ``latest``                                               newest stable release
  ``oldstable``                                                        newest patch of the minor line before
  ``>=1.26,<1.27.3``                                                   newest stable release matching
The index is go.dev's ``/dl/?mode=json&include=all`` (every release: the plain ``?mode=json`` lists
only the newest patch of the two supported minor lines). Entries with ``stable: false`` (rc, beta)
are skipped unless a spec names one exactly.
"""

from __future__ import annotations

import errno
import os
import re
import stat

from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError
from ansible_collections.gofleet.golang.plugins.module_utils._platform import archive_arch

DEFAULT_BASE_URL = "https://go.dev"
_PRE_RANK = {"beta": 0, "rc": 1, None: 2}
_VERSION_RE = re.compile(r"^(?:go)?(\d+)\.(\d+)(?:\.(\d+))?(?:(beta|rc)(\d+))?$")
_LINE_RE = re.compile(r"^(?:go)?(\d+)\.(\d+)(?:\.[xX*])?$")
_CLAUSE_RE = re.compile(r"^(>=|<=|==|!=|>|<|=|~)?\s*(\S+)$")


class VersionError(GofleetError, ValueError):
    """A version, spec or version file that cannot be resolved; the message says what to do."""


# ---- versions ---------------------------------------------------------------------------------
class GoVersion:
    """One Go release version. str() is go.dev's spelling without ``go``; .tag adds it."""

    __slots__ = ("major", "minor", "patch", "pre", "pre_n")

    def __init__(self, major, minor, patch=None, pre=None, pre_n=None):
        self.major, self.minor, self.patch, self.pre, self.pre_n = major, minor, patch, pre, pre_n

    @property
    def key(self):
        """Sort key: (major, minor, patch, 0 beta / 1 rc / 2 release, pre number)."""
        return (self.major, self.minor, self.patch or 0, _PRE_RANK[self.pre], self.pre_n or 0)

    @property
    def line(self):
        """The minor line, e.g. '1.27'."""
        return "%d.%d" % (self.major, self.minor)

    @property
    def stable(self):
        return self.pre is None

    @property
    def tag(self):
        return "go" + str(self)

    def __str__(self):
        if self.pre:
            return "%d.%d%s%d" % (self.major, self.minor, self.pre, self.pre_n)
        if (self.major, self.minor) >= (1, 21):
            return "%d.%d.%d" % (self.major, self.minor, self.patch or 0)
        if not self.patch:
            return "%d.%d" % (self.major, self.minor)  # go1.20, never go1.20.0
        return "%d.%d.%d" % (self.major, self.minor, self.patch)

    def __repr__(self):
        return "GoVersion(%r)" % str(self)

    def __eq__(self, other):
        return isinstance(other, GoVersion) and self.key == other.key

    def __hash__(self):
        return hash(self.key)

    def __lt__(self, other):
        return self.key < other.key

    def __le__(self, other):
        return self.key <= other.key

    def __gt__(self, other):
        return self.key > other.key

    def __ge__(self, other):
        return self.key >= other.key


def parse_version(text):
    """'go1.27.3', '1.27.3', '1.20', '1.27rc1', 'go1.22beta2' -> GoVersion. Raises VersionError.

    A version without a patch is the first release of its line: go1.20, and from Go 1.21 on
    (where that release is named 1.21.0) 1.21.0. A patch together with rc/beta is refused.
    """
    if isinstance(text, GoVersion):
        return text
    m = _VERSION_RE.match(str(text or "").strip())
    if not m or (m.group(3) is not None and m.group(4)):
        raise VersionError("%r is not a Go version: expected e.g. 1.27.3, go1.27.3, 1.20 or 1.27rc1" % (text,))
    major, minor, patch, pre, pre_n = m.groups()
    return GoVersion(int(major), int(minor), int(patch) if patch is not None else None,
                     pre, int(pre_n) if pre_n is not None else None)


def canonical(text):
    """go.dev's spelling of a version, without 'go': '1.20.0' -> '1.20', 'go1.21' -> '1.21.0'."""
    return str(parse_version(text))


def version_key(text):
    """Sort key of a version string (raises VersionError for a non-version)."""
    return parse_version(text).key


def compare(a, b):
    """-1, 0 or 1 as version a is older than, the same as or newer than b."""
    ka, kb = version_key(a), version_key(b)
    return (ka > kb) - (ka < kb)


# ---- specs ------------------------------------------------------------------------------------
class Spec:
    """A parsed version spec. kind: exact, line, stable, oldstable or constraint."""

    def __init__(self, kind, text, version=None, line=None, constraint=None):
        self.kind = kind
        self.text = text
        self.version = version  # GoVersion (exact)
        self.line = line  # (major, minor) (line)
        self.constraint = constraint  # Constraint

    def __repr__(self):
        return "Spec(%s, %r)" % (self.kind, self.text)


def parse_spec(text):
    """Parse a version spec (see the module docstring). Raises VersionError.

    ``1.27`` is a minor line (newest stable patch); ``go1.27`` and ``1.27.0`` are exact releases.
    """
    raw = str(text if text is not None else "").strip()
    low = raw.lower()
    if low in ("stable", "latest"):
        return Spec("stable", raw)
    if low == "oldstable":
        return Spec("oldstable", raw)
    m = _LINE_RE.match(low)
    if m and not (low.startswith("go") and not re.search(r"\.[x*]$", low)):
        return Spec("line", raw, line=(int(m.group(1)), int(m.group(2))))
    if _VERSION_RE.match(low):
        return Spec("exact", raw, version=parse_version(low))
    if any(c in low for c in "<>=!~,"):
        return Spec("constraint", raw, constraint=parse_constraint(low))
    raise VersionError(
        "%r is not a Go version spec: use an exact version (1.27.3, go1.20, 1.27rc1), a minor line "
        "(1.27 or 1.27.x: its newest patch), stable/latest, oldstable, or a constraint like >=1.26,<1.27"
        % (raw,))


def exact_version(text):
    """The canonical version an exact spec names ('go1.27.3' -> '1.27.3', '1.20.0' -> '1.20').

    Raises VersionError (a ValueError) for anything else (1.27.x, stable, a constraint), saying so.
    """
    spec = parse_spec(text)
    if spec.kind != "exact":
        raise VersionError("%r is not an exact version (it is a %s spec): give one like 1.27.3, go1.20 or "
                           "1.27rc1" % (spec.text, spec.kind))
    return str(spec.version)


# ---- constraints ------------------------------------------------------------------------------
class Constraint:
    """Comma-separated clauses, all of which must hold: '>=1.26', '<1.27.3', '1.27.x', '!=1.26.2'.

    A bare minor line in a clause means the whole line: '>=1.26' includes 1.26rc1, '<1.27' excludes
    1.27rc1, '<=1.26' includes 1.26.9 and '>1.26' starts at 1.27. 'go' prefixes are allowed.
    """

    def __init__(self, text, clauses):
        self.text = text
        self.clauses = clauses  # list of (op, low_key, high_key): a line spans [low, high)

    def __call__(self, version):
        return self.matches(version)

    def matches(self, version):
        key = parse_version(version).key
        for op, low, high in self.clauses:
            ok = {
                ">=": key >= low, ">": key >= high, "<": key < low, "<=": key < high,
                "==": low <= key < high, "!=": not low <= key < high,
            }[op]
            if not ok:
                return False
        return True

    def __repr__(self):
        return "Constraint(%r)" % self.text


def parse_constraint(text):
    """'>=1.26, <1.27.3' -> Constraint (callable: version -> bool). Raises VersionError."""
    clauses = []
    for part in str(text or "").split(","):
        part = part.strip()
        if not part:
            continue
        m = _CLAUSE_RE.match(part)
        if not m:
            raise VersionError("%r in constraint %r: expected an operator (>=, >, <, <=, ==, !=) and a "
                               "version like 1.26 or 1.27.3" % (part, text))
        op, operand = m.group(1) or "==", m.group(2).lower()
        op = {"=": "==", "~": "=="}.get(op, op)
        lm = _LINE_RE.match(operand)
        if lm and not (operand.startswith("go") and operand[-1] not in "x*"):
            major, minor = int(lm.group(1)), int(lm.group(2))
            low, high = (major, minor, 0, -1, 0), (major, minor + 1, 0, -1, 0)
        else:
            try:
                v = parse_version(operand)
            except VersionError:
                raise VersionError("%r in constraint %r is not a Go version: expected e.g. 1.26, 1.27.x or "
                                   "1.27.3" % (operand, text)) from None
            low = v.key
            high = low[:4] + (low[4] + 1,) if v.pre else low[:2] + (low[2] + 1, -1, 0)
        clauses.append((op, low, high))
    if not clauses:
        raise VersionError("empty version constraint %r: expected e.g. >=1.26,<1.27.3" % (text,))
    return Constraint(str(text), clauses)


def version_matches(version, constraint):
    """True when version (e.g. 'go1.27.3') satisfies constraint (text or Constraint)."""
    if not isinstance(constraint, Constraint):
        constraint = parse_constraint(constraint)
    return constraint.matches(version)


# ---- version files ----------------------------------------------------------------------------
def _toolchain_version(name):
    """Version of a go.mod toolchain name (go1.21.3, go1.21.3-custom, corp-go1.21.3), Go's rules."""
    if name.startswith("go"):
        v = name[2:]
    elif "-go" in name:
        v = name[name.index("-go") + 3:]
    else:
        return None
    v = v.split("-", 1)[0].split("+", 1)[0]
    try:
        return parse_version(v)
    except VersionError:
        return None


def parse_gomod(text, newest_patch=False, name="go.mod"):
    """Spec for the Go a go.mod/go.work needs: 'go1.21.3' (exact) or '1.21.x' with newest_patch.

    The `toolchain` line wins over the `go` line (unless it names an older Go, which Go ignores,
    or `default`). `go 1.21` means at least go1.21.0, so it resolves to go1.21.0; `go 1.20` to
    go1.20; `go 1.23rc1` to exactly that release candidate.
    """
    go_v = tool_v = None
    for line in text.splitlines():
        line = line.split("//", 1)[0].strip()
        fields = line.split()
        if len(fields) != 2:
            continue
        word, value = fields[0], fields[1].strip('"`')
        if word == "go":
            try:
                go_v = parse_version(value)
            except VersionError:
                raise VersionError("%s: 'go %s' is not a Go version; fix the go line (e.g. go 1.22.3)" % (name, value)) from None
        elif word == "toolchain" and value != "default":
            tool_v = _toolchain_version(value)
            if tool_v is None:
                raise VersionError("%s: 'toolchain %s' names no Go release; expected e.g. toolchain go1.22.3"
                                   % (name, value))
    chosen = tool_v if tool_v is not None and (go_v is None or tool_v >= go_v) else go_v
    if chosen is None:
        raise VersionError("%s has neither a go nor a toolchain line: add one (e.g. go 1.22.3) or give an "
                           "explicit version" % name)
    return _file_spec(chosen, newest_patch)


def _file_spec(v, newest_patch):
    if newest_patch and v.stable:
        return "%s.x" % v.line
    return v.tag


def parse_go_version_file(text, newest_patch=False, name=".go-version"):
    """Spec from a .go-version: its first non-comment line, as given (1.22 stays a minor line)."""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            return _spec_from_text(line, newest_patch, name)
    raise VersionError("%s is empty: write a version in it (e.g. 1.22.3)" % name)


def parse_tool_versions(text, newest_patch=False, name=".tool-versions"):
    """Spec from an asdf .tool-versions: the first version of its golang (or go) entry."""
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[0] in ("golang", "go"):
            for value in fields[1:]:
                if value != "system" and not value.startswith(("ref:", "path:")):
                    return _spec_from_text(value, newest_patch, name)
            raise VersionError("%s: the %s entry names no Go release (%s); write a version such as 1.22.3"
                               % (name, fields[0], " ".join(fields[1:])))
    raise VersionError("%s has no golang (or go) entry: add a line like 'golang 1.22.3'" % name)


def _spec_from_text(value, newest_patch, name):
    try:
        spec = parse_spec(value)
    except VersionError as e:
        raise VersionError("%s: %s" % (name, e)) from None
    if spec.kind == "exact":
        return _file_spec(spec.version, newest_patch)
    return spec.text


MAX_VERSION_FILE = 1 << 20


def read_version_file(path, newest_patch=False):
    """Spec named by a version file on this host, by its name (go.mod, go.work, .go-version,
    .tool-versions; a name ending in .mod or .work is read as go.mod). Raises OSError or VersionError.

    Exact versions come back with the 'go' prefix (go1.21.0, go1.20) so that parse_spec() takes
    them as exact; with newest_patch=True a stable one comes back as its line ('1.21.x').
    The file may belong to anyone (a project checkout) while this runs as root: a symbolic link is
    refused (a link to a root-only file must not have its first line quoted in an error), it is
    opened without blocking (a FIFO does not hang the run), must be a regular file, and is read up
    to 1 MiB.
    """
    base = os.path.basename(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise VersionError("%s is a symbolic link: give the path of the file itself (%s); links are not "
                               "followed" % (path, os.path.realpath(path))) from None
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise VersionError("%s is not a regular file: give the path of a go.mod, go.work, .go-version or "
                               ".tool-versions file" % path)
        data = f.read(MAX_VERSION_FILE + 1)
    if len(data) > MAX_VERSION_FILE:
        raise VersionError("%s is larger than 1 MiB: not a version file" % path)
    text = data.decode("utf-8", "replace")
    if base in ("go.mod", "go.work") or base.endswith((".mod", ".work")):
        return parse_gomod(text, newest_patch, name=path)
    if base == ".tool-versions" or base.endswith(".tool-versions"):
        return parse_tool_versions(text, newest_patch, name=path)
    return parse_go_version_file(text, newest_patch, name=path)


# ---- URLs -------------------------------------------------------------------------------------
def index_url(base=DEFAULT_BASE_URL):
    """JSON index of every release (go.dev's ?mode=json lists only the two supported lines)."""
    return "%s/dl/?mode=json&include=all" % base.rstrip("/")


def file_url(base, filename):
    """<base>/dl/<filename> (go.dev redirects it to its storage host)."""
    return "%s/dl/%s" % (base.rstrip("/"), filename)


def sidecar_url(base, filename):
    """The .sha256 sidecar of a release file."""
    return file_url(base, filename) + ".sha256"


def archive_filename(version, goos, goarch):
    """go<ver>.<os>-<archive arch>.tar.gz (.zip on Windows): go1.27.3.linux-armv6l.tar.gz."""
    ext = "zip" if goos == "windows" else "tar.gz"
    return "go%s.%s-%s.%s" % (parse_version(version), goos, archive_arch(goarch), ext)


# ---- resolution -------------------------------------------------------------------------------
def _releases(index):
    """(GoVersion, release dict) for each parseable entry of a go.dev JSON index, newest first."""
    if not isinstance(index, list):
        raise VersionError("the release index is not go.dev's JSON list of releases (got %s): check the "
                           "base URL" % type(index).__name__)
    out = []
    for rel in index:
        try:
            v = parse_version(rel.get("version"))
        except (VersionError, AttributeError):
            continue
        out.append((v, rel))
    out.sort(key=lambda p: p[0].key, reverse=True)
    return out


def is_stable_release(v, rel):
    """A release is stable when its version is and the index does not say otherwise."""
    return rel.get("stable", v.stable) is not False and v.stable


def _nearest(releases, wanted_key, count=4):
    """Tags of the `count` published stable versions nearest to wanted_key (2 newer, 2 older if they exist)."""
    stable = [v for v, rel in releases if is_stable_release(v, rel)] or [v for v, rel in releases]
    older = [v for v in stable if v.key < wanted_key]
    newer = sorted((v for v in stable if v.key >= wanted_key), key=lambda v: v.key)[:max(2, count - len(older))]
    older = older[:count - len(newer)]
    picked = sorted(newer + older, key=lambda v: v.key, reverse=True)
    return ", ".join(v.tag for v in picked) or "none"


def choose_version(spec, index, include_unstable=False):
    """The release entry of a JSON index that a spec selects: (GoVersion, release dict).

    Raises VersionError naming the nearest published versions when nothing matches.
    """
    if not isinstance(spec, Spec):
        spec = parse_spec(spec)
    releases = _releases(index)
    if not releases:
        raise VersionError("the release index lists no releases: check the base URL")
    candidates = [(v, rel) for v, rel in releases if include_unstable or is_stable_release(v, rel)]
    if spec.kind == "exact":
        for v, rel in releases:
            if v == spec.version:
                return v, rel
        line = ["%s.x" % spec.version.line] if any(v.line == spec.version.line for v, r in candidates) else []
        raise VersionError("go%s is not published; nearest published versions: %s%s"
                           % (spec.version, _nearest(releases, spec.version.key),
                              (" (or ask for %s: the newest patch of that line)" % line[0]) if line else ""))
    if not candidates:
        raise VersionError("the release index lists no stable release: check the base URL")
    if spec.kind == "stable":
        return candidates[0]
    if spec.kind == "oldstable":
        newest_line = candidates[0][0].line
        for v, rel in candidates:
            if v.line != newest_line:
                return v, rel
        raise VersionError("oldstable: the index publishes only the %s line; nothing older to choose"
                           % newest_line)
    if spec.kind == "line":
        for v, rel in candidates:
            if (v.major, v.minor) == spec.line:
                return v, rel
        raise VersionError("no %srelease of Go %d.%d is published; nearest published versions: %s"
                           % ("" if include_unstable else "stable ", spec.line[0], spec.line[1],
                              _nearest(releases, spec.line + (0, -1, 0))))
    for v, rel in candidates:
        if spec.constraint.matches(v):
            return v, rel
    raise VersionError("no %srelease matches %r; published: %s"
                       % ("" if include_unstable else "stable ", spec.text,
                          _nearest(releases, candidates[0][0].key, count=6)))
