# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_login: go.env, the login-shell script and zsh's block - contents, inputs refused, compare and
write for real in temporary folders (zsh's folder pointed there), and the attacks of another local
user (a real second Unix user): a link planted where root writes, a folder they can write."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _layout, _login


@pytest.fixture
def zsh(tmp_path, monkeypatch):
    folder = tmp_path / "etc-zsh"
    folder.mkdir()
    monkeypatch.setattr(_login, "ZSH_DIR", str(folder))
    monkeypatch.setattr(_login, "ZPROFILE", str(folder / "zprofile"))
    return folder


def test_go_env_text_lists_settings_with_a_value_in_order():
    text = _login.go_env_text("1.27.3", {"GOPROXY": "https://proxy.golang.org,direct", "GOPRIVATE": "",
                                         "GOTOOLCHAIN": "local", "CGO_ENABLED": 0})
    lines = text.splitlines()
    assert lines[0] == _login.MARKER and "go1.27.3" in lines[1]
    assert lines[3:] == ["GOPROXY=https://proxy.golang.org,direct", "GOTOOLCHAIN=local", "CGO_ENABLED=0"]


@pytest.mark.parametrize("settings", [{"GOFLAGS": "-trimpath\nGOTOOLCHAIN=auto"}, {"GO FLAGS": "x"},
                                      {"1GO": "x"}, {"GOPROXY": "a\rb"}])
def test_go_env_refuses_a_second_line_or_a_bad_name(settings):
    with pytest.raises(_login.LoginError, match="the name must be a variable name"):
        _login.go_env_text("1.27.3", settings)


def test_profile_script_runs_in_sh_and_puts_go_first(tmp_path):
    script = tmp_path / "go.sh"
    script.write_text(_login.profile_text("/usr/local/go", "$HOME/go"))
    env = {"PATH": "/usr/bin:/bin", "HOME": "/home/someone"}
    out = subprocess.run(["sh", "-c", ". %s; . %s; echo $PATH; echo $GOPATH" % (script, script)], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    # sourced twice: each entry once
    assert out == ["/usr/local/go/bin:/usr/bin:/bin:/home/someone/go/bin", "/home/someone/go"]


def test_profile_script_quotes_the_link_and_exports_goroot_on_request(tmp_path):
    script = tmp_path / "go.sh"
    script.write_text(_login.profile_text("/opt/my go", "${HOME}/go", export_goroot=True))
    out = subprocess.run(["sh", "-c", ". %s; echo \"$PATH|$GOROOT\"" % script], env={"PATH": "/bin", "HOME": "/h"},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "/opt/my go/bin:/bin:/h/go/bin|/opt/my go"


@pytest.mark.parametrize("gopath", ["$(touch /tmp/x)", "`id`", "$HOME\"/go", "${HOME:-/x}", "a\\b", "x\ny"])
def test_profile_refuses_a_gopath_that_would_run_code(gopath):
    with pytest.raises(_login.LoginError, match="profile.gopath="):
        _login.profile_text("/usr/local/go", gopath)


def test_profile_refuses_a_link_with_a_colon():
    with pytest.raises(_login.LoginError, match="active_link="):
        _login.profile_text("/usr/local/go:/tmp/evil", "$HOME/go")


def test_check_refuses_a_profile_path_zsh_would_read_as_code():
    with pytest.raises(_login.LoginError, match="profile.path="):
        _login.check(profile={"path": "/etc/profile.d/go $(id).sh"}, active_link="/usr/local/go")


def test_zsh_block_replaced_in_place_and_removed():
    block = _login.zsh_block("/etc/profile.d/go.sh")
    first = _login.with_block("# the admin line", block)
    assert first == "# the admin line\n" + block
    again = _login.with_block(first + "# after\n", _login.zsh_block("/etc/profile.d/other.sh"))
    assert again.count(_login.ZSH_BEGIN) == 1 and "other.sh" in again and again.endswith("# after\n")
    assert _login.without_block(again) == "# the admin line\n# after\n"


def test_compare_write_and_idempotence(tmp_path, zsh):
    goroot = tmp_path / "go1.27.3"
    goroot.mkdir()
    (goroot / "go.env").write_text("GOPROXY=https://proxy.golang.org,direct\n")  # as Go ships it
    (zsh / "zprofile").write_text("# the admin line\n")
    profile = {"path": str(tmp_path / "go.sh"), "gopath": "$HOME/go"}
    files = _login.wanted(str(goroot), "1.27.3", go_env={"GOTOOLCHAIN": "local"}, profile=profile,
                          active_link="/usr/local/go")
    assert [p for p, dummy in files] == [str(goroot / "go.env"), profile["path"], str(zsh / "zprofile")]
    changes = _login.compare(files)
    assert [c["changed"] for c in changes] == [True, True, True]
    assert changes[1]["before"] is None
    _login.apply(changes)
    for path, text in files:
        with open(path) as f:
            assert f.read() == text
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o644 and (st.st_uid, st.st_gid) == (0, 0)
    assert (zsh / "zprofile").read_text().startswith("# the admin line\n" + _login.ZSH_BEGIN)
    assert not [n for n in os.listdir(str(tmp_path)) if n.startswith(".gofleet-")]  # no temporary left
    again = _login.compare(_login.wanted(str(goroot), "1.27.3", go_env={"GOTOOLCHAIN": "local"}, profile=profile,
                                         active_link="/usr/local/go"))
    assert [c["changed"] for c in again] == [False, False, False]
    # a mode changed by hand is put back
    os.chmod(profile["path"], 0o666)
    assert [c["changed"] for c in _login.compare(files)] == [False, True, False]


def test_no_zsh_folder_no_block(tmp_path, monkeypatch):
    monkeypatch.setattr(_login, "ZSH_DIR", str(tmp_path / "absent"))
    files = _login.wanted(None, "1.27.3", profile={"path": str(tmp_path / "go.sh")}, active_link="/usr/local/go")
    assert [p for p, dummy in files] == [str(tmp_path / "go.sh")]


@pytest.fixture
def shared(second_user):
    """A root-owned 0755 folder under /tmp the second user can reach, with a folder of theirs in it."""
    base = tempfile.mkdtemp(prefix="gofleet-login-")
    os.chmod(base, 0o755)
    theirs = os.path.join(base, "profile.d")
    os.mkdir(theirs)
    os.chown(theirs, second_user.uid, second_user.gid)
    yield base, theirs
    shutil.rmtree(base)


def test_a_folder_another_user_owns_is_refused_and_their_link_not_followed(shared, second_user):
    """The other user owns the folder root would write into: they plant go.sh as a link to a file
    root owns. Writing is refused (the folder is theirs) and the target is untouched."""
    base, theirs = shared
    target = os.path.join(base, "shadow")
    with open(target, "w") as f:
        f.write("root's file\n")
    second_user.run("ln -s %s %s/go.sh" % (target, theirs))
    path = os.path.join(theirs, "go.sh")
    with pytest.raises(_login.LoginError, match="symbolic link"):
        _login.compare([(path, "x\n")])
    with pytest.raises(_layout.LayoutError, match="owned by user %s" % second_user.name):
        _login.write(path, "x\n")
    with open(target) as f:
        assert f.read() == "root's file\n"


def test_a_link_in_a_trusted_folder_is_replaced_not_followed(shared):
    """Root's own folder with a link at the path (left by anything): the rename replaces the link."""
    base, dummy = shared
    target = os.path.join(base, "shadow")
    with open(target, "w") as f:
        f.write("root's file\n")
    path = os.path.join(base, "go.sh")
    os.symlink(target, path)
    _login.write(path, "new\n")
    assert not os.path.islink(path) and open(path).read() == "new\n"
    assert open(target).read() == "root's file\n"
