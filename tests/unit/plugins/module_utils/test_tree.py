# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_tree.judge on real official GOROOTs of the test bed (linux-amd64, linux-arm64) and on small
trees made from them: one read of bin/go, VERSION checked before use, the manifest's checks."""

from __future__ import annotations

import os
import shutil
import threading

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _binary, _tree
from testbed import config, mirror

NEW = config.NEWEST


@pytest.fixture
def counted_inspect(monkeypatch):
    """_binary.inspect still runs for real; the test counts how often judge calls it."""
    calls = []
    real = _binary.inspect

    def counting(path, detail=False):
        calls.append(path)
        return real(path, detail)
    monkeypatch.setattr(_binary, "inspect", counting)
    return calls


def test_a_real_goroot_is_judged_healthy_reading_bin_go_once(host_goroot, counted_inspect):
    record = dict(version=NEW, os="linux", arch="amd64", sha256="x" * 64)
    state = _tree.judge(host_goroot, "linux", "amd64", record=record)
    assert state.healthy and state.version == NEW and state.problem is None
    assert state.info["goos"] == "linux" and state.info["goarch"] == "amd64"
    assert counted_inspect == [os.path.join(host_goroot, "bin", "go")]


def test_an_arm64_goroot_is_not_an_amd64_one():
    arm = mirror.host_goroot(NEW, "arm64")
    assert _tree.judge(arm, "linux", "arm64").healthy
    state = _tree.judge(arm, "linux", "amd64")
    assert state.problem == "bin/go is linux/arm64, not linux/amd64"  # the headers say what the tree is
    # an arm64 bin/go in a tree that says amd64 everywhere else (a mislabeled archive)
    state = _tree.judge(arm, "linux", "arm64", record=dict(os="linux", arch="amd64"))
    assert state.problem == "installed for linux/amd64, not linux/arm64"


def _small(tmp_path, host_goroot, version_text="go%s\ntime x\n" % NEW):
    d = tmp_path / "go"
    (d / "bin").mkdir(parents=True)
    (d / "pkg" / "tool" / "linux_amd64").mkdir(parents=True)
    os.link(os.path.join(host_goroot, "bin", "go"), str(d / "bin" / "go"))
    (d / "pkg" / "tool" / "linux_amd64" / "compile").write_bytes(b"\x7fELF" + b"\0" * 60)
    (d / "VERSION").write_text(version_text)
    (d / "go.env").write_text("GOTOOLCHAIN=auto\n")
    return str(d)


def test_bin_go_of_another_platform(tmp_path, host_goroot, go_binaries):
    d = _small(tmp_path, host_goroot)
    os.unlink(os.path.join(d, "bin", "go"))
    shutil.copy(os.path.join(go_binaries, "linux-arm64", "go"), os.path.join(d, "bin", "go"))
    state = _tree.judge(d, "linux", "amd64")
    assert state.problem == "bin/go is linux/arm64, not linux/amd64" and state.info["goarch"] == "arm64"


@pytest.mark.parametrize("text,problem", [
    ("../../../etc/shadow\n", "VERSION holds no Go version ('../../../etc/shadow')"),
    ("go1.27.3/../../x\n", "VERSION holds no Go version ('go1.27.3/../../x')"),
    ("", "VERSION holds no Go version ('')"),
    ("devel +abc\n", "VERSION holds no Go version ('devel +abc')"),
    ("go1.26.6\n", "VERSION says go1.26.6"),
])
def test_version_is_checked_before_anything_uses_it(tmp_path, host_goroot, text, problem):
    d = _small(tmp_path, host_goroot, text)
    assert _tree.judge(d, "linux", "amd64", version=NEW).problem == problem


def test_version_that_is_a_link_a_fifo_or_huge_is_refused_without_hanging(tmp_path, host_goroot):
    d = _small(tmp_path, host_goroot)
    version = os.path.join(d, "VERSION")
    os.unlink(version)
    os.symlink(os.path.join(host_goroot, "VERSION"), version)
    assert _tree.judge(d, "linux", "amd64").problem == "VERSION file missing"  # never followed
    os.unlink(version)
    os.mkfifo(version)
    result = []
    t = threading.Thread(target=lambda: result.append(_tree.judge(d, "linux", "amd64").problem), daemon=True)
    t.start()
    t.join(10)
    assert result == ["VERSION is not a regular file"]
    os.unlink(version)
    with open(version, "w") as f:
        f.write("go%s\n" % NEW + "x" * 10000)
    assert _tree.judge(d, "linux", "amd64").problem.startswith("VERSION is larger than")


def test_the_manifest_finds_what_bin_go_does_not(tmp_path, host_goroot, second_user):
    d = _small(tmp_path, host_goroot)
    manifest = _tree.build_manifest(d)
    assert "go.env" not in manifest["files"] and manifest["dirs"] == ["bin", "pkg", "pkg/tool", "pkg/tool/linux_amd64"]
    assert _tree.judge(d, "linux", "amd64", manifest=manifest, full=True).healthy
    compile_ = os.path.join(d, "pkg", "tool", "linux_amd64", "compile")

    os.chmod(compile_, 0o755)
    assert _tree.check_manifest(d, manifest) == "pkg/tool/linux_amd64/compile gained its executable bit"
    os.chmod(compile_, 0o666)
    assert _tree.check_manifest(d, manifest) == "pkg/tool/linux_amd64/compile is writable by group or others (mode 0666)"
    os.chmod(compile_, 0o644)
    os.chown(compile_, second_user.uid, second_user.gid)
    assert _tree.check_manifest(d, manifest).startswith(
        "pkg/tool/linux_amd64/compile is owned by uid %d, not root" % second_user.uid)
    os.chown(compile_, 0, 0)
    with open(compile_, "r+b") as f:
        f.write(b"\x7fELG")
    assert _tree.check_manifest(d, manifest) is None
    assert "differs from what was installed" in _tree.check_manifest(d, manifest, full=True)
    os.truncate(compile_, 0)
    assert _tree.judge(d, "linux", "amd64", manifest=manifest).problem == \
        "pkg/tool/linux_amd64/compile is 0 bytes, 64 when installed (truncated or damaged)"
    os.unlink(compile_)
    assert _tree.check_manifest(d, manifest) == "pkg/tool/linux_amd64/compile missing"
    os.rmdir(os.path.dirname(compile_))
    assert _tree.judge(d, "linux", "amd64", manifest=manifest).problem == "pkg/tool/linux_amd64 missing"
    with open(os.path.join(d, "go.env"), "w") as f:
        f.write("GOPROXY=off\n")  # the role's file: never judged
    assert _tree.check_manifest(d, manifest).startswith("pkg/tool/linux_amd64/ missing")
    assert _tree.check_manifest(d, {"format": 99}) == "its manifest is unreadable (format 99)"


def test_not_a_tree(tmp_path, host_goroot):
    assert _tree.judge(str(tmp_path / "nothing"), "linux", "amd64").problem == "not installed"
    os.symlink(host_goroot, str(tmp_path / "link"))
    assert _tree.judge(str(tmp_path / "link"), "linux", "amd64").problem == "not installed"  # a link is not a tree
    d = _small(tmp_path, host_goroot)
    os.unlink(os.path.join(d, "bin", "go"))
    assert _tree.judge(d, "linux", "amd64").problem == "bin/go missing"
    os.mkdir(os.path.join(d, "bin", "go"))
    assert _tree.judge(d, "linux", "amd64").problem == "bin/go is not a regular file"
    os.rmdir(os.path.join(d, "bin", "go"))
    with open(os.path.join(d, "bin", "go"), "w") as f:
        f.write("#!/bin/sh\n")
    assert _tree.judge(d, "linux", "amd64").problem.startswith("bin/go unreadable: not an executable")
