# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Archive member lists from hypothesis through Layout.stage(), for real (a tar written in memory,
unpacked into a real staging folder): the only outcomes ever allowed are a staged tree made of
regular files and folders inside the staging folder, or a LayoutError. Never a traceback, never
a path outside, never a link, device or FIFO on disk."""

from __future__ import annotations

import io
import os
import stat
import tarfile

from hypothesis import HealthCheck, example, given, settings, strategies as st

from ansible_collections.gofleet.golang.plugins.module_utils import _layout

_PART = st.sampled_from(["go", "bin", "T", "t", "..", ".", "", "x" * 300, "a\\b", "\u00e9", "e\u0301", "VERSION", "s"])
_NAME = st.lists(_PART, min_size=1, max_size=5).map("/".join) | st.text(max_size=40)
_TYPE = st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE,
                         tarfile.CHRTYPE, tarfile.CONTTYPE, b"K", b"x"])
_MEMBER = st.tuples(_NAME, _TYPE, _NAME, st.integers(min_value=0, max_value=0o7777), st.binary(max_size=64))


def _archive(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, linkname, mode, data in members:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.linkname = kind, mode, linkname
            info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.CONTTYPE) else 0
            try:
                tar.addfile(info, io.BytesIO(data) if info.size else None)
            except (ValueError, UnicodeError):
                continue  # a name tarfile itself cannot write is no archive anyone could serve
    buf.seek(0)
    return buf


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=st.lists(_MEMBER, max_size=8))
@example(members=[("go", tarfile.DIRTYPE, "", 0o777, b""), ("go/VERSION", tarfile.REGTYPE, "", 0o666, b"go1.27.3\n"),
                  ("go/bin/go", tarfile.REGTYPE, "", 0o777, b"\x7fELF")])
def test_no_member_list_escapes_or_gives_a_traceback(tmp_path, members):
    root = tmp_path / ("root%d" % len(os.listdir(tmp_path)))
    root.mkdir()
    layout = _layout.Layout(str(root), str(tmp_path / "link"))
    try:
        goroot = layout.stage(_archive(members))
    except _layout.LayoutError:
        assert [n for n in os.listdir(root) if n.startswith(".stage-")] == []  # nothing left behind
        return
    staging = os.path.dirname(goroot)
    for d, dirs, files in os.walk(staging):
        for n in dirs + files:
            p = os.path.join(d, n)
            st_ = os.lstat(p)
            assert stat.S_ISREG(st_.st_mode) or stat.S_ISDIR(st_.st_mode), p
            assert os.path.realpath(p).startswith(os.path.realpath(staging) + os.sep), p
            assert not st_.st_mode & 0o022, p  # never writable by group or others
    layout.discard(goroot)


def test_the_property_is_not_vacuous(tmp_path):
    """A member list of files and folders under go/ is staged, not refused."""
    layout = _layout.Layout(str(tmp_path), str(tmp_path / "link"))
    goroot = layout.stage(_archive([("go", tarfile.DIRTYPE, "", 0o777, b""),
                                    ("go/VERSION", tarfile.REGTYPE, "", 0o666, b"go1.27.3\n")]))
    with open(os.path.join(goroot, "VERSION"), "rb") as f:
        assert f.read() == b"go1.27.3\n"
    assert oct(os.stat(os.path.join(goroot, "VERSION")).st_mode & 0o777) == "0o644"
