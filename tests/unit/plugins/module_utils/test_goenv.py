# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_goenv without Go: version order, the go env file, settings precedence, go.mod, login shells
and discovery in temporary folders (real files, real shells), and the findings engine fed with
facts. No mocks: where a host cannot be made here, evaluate() is given the facts dict it would get.
Real Go toolchains are run in tests/integration/test_go_env_facts.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _goenv

from testbed.config import collections_root

HOST = {"system": "Linux", "goos": "linux", "goarch": "amd64", "kernel_goarch": "amd64", "kernel_machine": "x86_64"}


def _run(argv):
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


# ---- versions (module_utils/_versions does the parsing) ---------------------------------------
def test_versions_in_go_dev_spelling():
    assert _goenv.bare_version("go1.27.3") == "1.27.3" and _goenv.bare_version("go1.20") == "1.20"
    assert _goenv.version_key("1.27rc1") < _goenv.version_key("1.27.0") < _goenv.version_key("go1.27.3")
    assert _goenv.version_key("devel +abc") is None and _goenv.bare_version("") is None


# ---- env file and settings -----------------------------------------------------------------
def test_env_file_path_follows_goenv_xdg_and_home():
    assert _goenv.env_file_path({"HOME": "/h"}) == "/h/.config/go/env"
    assert _goenv.env_file_path({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == "/x/go/env"
    assert _goenv.env_file_path({"HOME": "/h", "XDG_CONFIG_HOME": "rel"}) == "/h/.config/go/env"
    assert _goenv.env_file_path({"HOME": "/h", "GOENV": "/e"}) == "/e"
    assert _goenv.env_file_path({"HOME": "/h", "GOENV": "off"}) is None
    assert _goenv.env_file_path({"HOME": "/Users/u"}, "Darwin") == "/Users/u/Library/Application Support/go/env"


def test_read_env_file_as_cmd_go_does(tmp_path):
    f = tmp_path / "env"
    f.write_text("# comment\nGOARCH=arm64\n\nGOPRIVATE=corp.example/*,x.example\nnot a line\nCGO_ENABLED=1\n")
    assert _goenv.read_env_file(str(f)) == {"GOARCH": "arm64", "GOPRIVATE": "corp.example/*,x.example",
                                            "CGO_ENABLED": "1"}
    assert _goenv.read_env_file(str(tmp_path / "absent")) == {}


def test_settings_precedence_environment_then_env_file_then_goroot_go_env():
    got = _goenv.configured_settings(
        {"GOPROXY": "off", "GOARCH": ""},
        {"GOPROXY": "https://corp", "GOARCH": "arm64", "GOTOOLCHAIN": "local"},
        {"GOPROXY": "https://proxy.golang.org,direct", "GOTOOLCHAIN": "auto", "GOSUMDB": "sum.golang.org"})
    assert got["GOPROXY"] == {"value": "off", "source": "environment"}
    assert got["GOARCH"] == {"value": "arm64", "source": "env_file"}
    assert got["GOTOOLCHAIN"] == {"value": "local", "source": "env_file"}
    assert got["GOSUMDB"] == {"value": "sum.golang.org", "source": "goroot_go_env"}
    assert "GOOS" not in got


@pytest.mark.parametrize("value,mode", [(None, "auto"), ("auto", "auto"), ("local", "local"), ("path", "path"),
                                        ("go1.27.3+auto", "auto"), ("go1.27.3+path", "path"), ("go1.27.3", "fixed")])
def test_toolchain_mode(value, mode):
    assert _goenv.toolchain_mode(value) == mode


def test_go_mod_toolchain_line_wins_when_newer(tmp_path):
    (tmp_path / "go.mod").write_text("module x\n\ngo 1.27 // lang\n\ntoolchain go1.28.1\n")
    info = _goenv.read_go_mod(str(tmp_path))
    assert info["go"] == "1.27" and info["toolchain"] == "go1.28.1" and info["needs"] == "1.28.1"
    (tmp_path / "go.mod").write_text("module x\ngo 1.28\n")  # at least go1.28.0 (decisions.md)
    assert _goenv.read_go_mod(str(tmp_path / "go.mod"))["needs"] == "1.28.0"
    (tmp_path / "go.mod").write_text("module x\ngo banana\n")
    assert "banana" in _goenv.read_go_mod(str(tmp_path))["error"]
    assert _goenv.read_go_mod(str(tmp_path / "none"))["exists"] is False


# ---- environments and discovery, for real in temporary folders ----------------------------
def test_login_environment_of_this_user_reads_the_profile(tmp_path, monkeypatch):
    (tmp_path / ".profile").write_text('export PATH="$HOME/bin:$PATH"\nexport GOFLAGS="-mod=mod"\n'
                                       'export WEIRD="two\nlines"\n')
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SHELL", "/bin/sh")
    env, why, dropped = _goenv.login_environment(sys.executable)
    assert why is None and dropped == []
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path / "bin")
    assert env["GOFLAGS"] == "-mod=mod" and env["WEIRD"] == "two\nlines"


def test_login_environment_that_fails_says_why(monkeypatch):
    monkeypatch.setenv("SHELL", "/nonexistent/shell")
    env, why, dummy = _goenv.login_environment(sys.executable)
    assert env is None and "/nonexistent/shell" in why


def _fake_goroot(root, version="go1.27.3", tool="linux_amd64"):
    """A GOROOT's layout (VERSION, bin/go, pkg/tool/<os_arch>) with a shell script as bin/go."""
    os.makedirs(os.path.join(root, "bin"))
    os.makedirs(os.path.join(root, "pkg", "tool", tool))
    with open(os.path.join(root, "VERSION"), "w") as f:
        f.write(version + "\ntime 2026-01-01T00:00:00Z\n")
    go = os.path.join(root, "bin", "go")
    with open(go, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(go, 0o755)
    return go


def test_path_order_links_and_usual_places(tmp_path):
    home = tmp_path / "home"
    a = _fake_goroot(str(tmp_path / "opt" / "go1.27.3"))
    b = _fake_goroot(str(home / "sdk" / "go1.26.6"), "go1.26.6")
    c = _fake_goroot(str(home / "go" / "pkg" / "mod" / "golang.org" / "toolchain@v0.0.1-go1.28.0.linux-amd64"),
                     "go1.28.0")
    links = tmp_path / "bin"
    links.mkdir()
    os.symlink(a, str(links / "go"))  # /usr/bin/go -> alternatives -> GOROOT/bin/go, in short
    active = tmp_path / "active"
    os.symlink(str(tmp_path / "opt" / "go1.27.3"), str(active))
    path = os.pathsep.join([str(links), os.path.dirname(b), "/usr/bin"])
    found, winner = _goenv.installations(HOST, path, str(home), str(tmp_path / "opt"), str(active),
                                         str(home / "go" / "pkg" / "mod"), places=_goenv.USUAL_PLACES[1:2])
    roots = [e["goroot"] for e in found]
    assert roots == [os.path.dirname(os.path.dirname(p)) for p in (a, b, c)]
    assert winner is found[0] and winner["wins"] and winner["go"] == str(links / "go")
    assert set(winner["sources"]) == {"PATH", "install_root", "active_link"}
    assert found[1]["sources"] == ["PATH", "sdk"] and found[1]["path_index"] == 1
    assert found[2]["sources"] == ["toolchain_cache"] and found[2]["path_index"] is None
    assert [e["version"] for e in found] == ["1.27.3", "1.26.6", "1.28.0"]


def test_foreign_tool_dirs(tmp_path):
    _fake_goroot(str(tmp_path / "go"))
    os.makedirs(str(tmp_path / "go" / "pkg" / "tool" / "linux_arm64"))
    assert _goenv.foreign_tool_dirs(str(tmp_path / "go"), "linux", "amd64") == ["linux_arm64"]
    assert _goenv.foreign_tool_dirs(str(tmp_path / "go"), None, None) == []


def test_native_follows_the_kernel():
    assert _goenv.is_native("amd64", HOST) is True
    assert _goenv.is_native("386", HOST) is True  # a 32-bit binary on a 64-bit kernel is no emulation
    assert _goenv.is_native("arm64", HOST) is False
    assert _goenv.is_native("arm64", dict(HOST, goos="darwin", kernel_goarch="arm64", goarch="arm64")) is True
    assert _goenv.is_native("amd64", HOST, goos="darwin") is False
    assert _goenv.is_native(None, HOST) is None


def test_process_emulation_from_cpuinfo(tmp_path):
    """What Linux shows in a qemu-user container (uname -m aarch64, an Intel CPU), and on real hosts."""
    intel = tmp_path / "intel"
    intel.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n")
    arm_host = dict(HOST, kernel_goarch="arm64", goarch="arm64", kernel_machine="aarch64")
    assert _goenv.process_emulation(arm_host, str(intel)) == "qemu-user"
    assert _goenv.process_emulation(arm_host, str(arm)) is None
    assert _goenv.process_emulation(HOST, str(intel)) is None
    assert _goenv.process_emulation(HOST, str(arm)) == "qemu-user"
    assert _goenv.process_emulation(dict(HOST, translated=True)) == "rosetta"
    assert _goenv.process_emulation(HOST) is None  # this machine, for real


# ---- the findings engine -------------------------------------------------------------------
def _inst(root, version, index=None, goarch="amd64", goos="linux", wins=False, tools=()):
    return {"go": root + "/bin/go", "real_go": root + "/bin/go", "goroot": root, "version": version,
            "goos": goos, "goarch": goarch, "native": _goenv.is_native(goarch, HOST, goos=goos),
            "path_index": index, "wins": wins, "foreign_tool_dirs": list(tools), "sources": []}


def _facts(**kw):
    win = _inst("/usr/local/go", "1.27.3", 0, wins=True)
    facts = {"host": HOST, "path": ["/usr/local/go/bin", "/root/go/bin", "/usr/bin"], "installations": [win],
             "go": win, "settings": {}, "env_file": {"path": "/root/.config/go/env"}, "project": None,
             "go_env": {"GOROOT": "/usr/local/go", "GOPATH": "/root/go", "GOBIN": "", "CGO_ENABLED": "0",
                        "CC": "gcc"}, "go_env_error": None}
    facts.update(kw)
    return facts


def _codes(facts):
    return [f["code"] for f in _goenv.evaluate(facts)]


def test_a_clean_picture_has_no_findings():
    assert _codes(_facts()) == []


def test_every_finding_has_code_severity_message_fix():
    win = _inst("/usr/local/go", "1.27.3", 0, goarch="arm64", wins=True, tools=["linux_amd64"])
    facts = _facts(installations=[win, _inst("/usr/lib/go-1.19", "1.19.8", 1)], go=win,
                   settings={"GOARCH": {"value": "arm64", "source": "env_file"},
                             "GOPROXY": {"value": "off", "source": "environment"},
                             "GONOSUMDB": {"value": "corp.example", "source": "env_file"},
                             "GOROOT": {"value": "/opt/other", "source": "environment"}},
                   go_env={"GOROOT": "/opt/other", "GOPATH": "/nowhere", "CGO_ENABLED": "1", "CC": "no-such-cc"},
                   project={"path": "/p/go.mod", "go": "1.28.0", "toolchain": None, "needs": "1.28.0"})
    findings = _goenv.evaluate(facts)
    assert sorted(f["code"] for f in findings) == sorted([
        "MULTIPLE_GO_ON_PATH", "GOROOT_MISMATCH", "EMULATED_TOOLCHAIN", "FOREIGN_PKG_TOOL",
        "GOOS_GOARCH_PERSISTED", "GOBIN_NOT_ON_PATH", "CGO_WITHOUT_CC", "TOOLCHAIN_AUTO_DOWNLOAD",
        "GOPROXY_OFF", "GOPRIVATE_UNSET"])
    for f in findings:
        assert f["severity"] in _goenv.SEVERITIES and f["message"] and f["fix"] and f["code"] in _goenv.CODES
    assert _goenv.summarize(findings)["highest_severity"] == "error"
    shadow = [f for f in findings if f["code"] == "MULTIPLE_GO_ON_PATH"][0]
    assert shadow["shadowed"] == ["/usr/lib/go-1.19/bin/go"] and "go1.19.8" in shadow["message"]


def test_no_go_and_go_not_on_path():
    assert _codes(_facts(installations=[], go=None, go_env=None)) == ["NO_GO"]
    off = _inst("/opt/go/go1.27.3", "1.27.3")
    assert _codes(_facts(installations=[off], go=None, go_env=None)) == ["GO_NOT_ON_PATH"]


def test_same_version_twice_on_path_is_not_a_conflict():
    win = _inst("/usr/local/go", "1.27.3", 0, wins=True)
    assert _codes(_facts(installations=[win, _inst("/opt/go/go1.27.3", "1.27.3", 2)], go=win)) == []


def test_toolchain_local_with_newer_go_mod_is_an_error():
    project = {"path": "/p/go.mod", "go": "1.27", "toolchain": "go1.28.1", "needs": "1.28.1"}
    facts = _facts(project=project, settings={"GOTOOLCHAIN": {"value": "local", "source": "env_file"}})
    f = _goenv.evaluate(facts)
    assert [x["code"] for x in f] == ["GO_MOD_NEEDS_NEWER_GO"] and "toolchain go1.28.1" in f[0]["message"]
    assert _codes(_facts(project=dict(project, needs="1.27.3"))) == []
    assert _codes(_facts(project={"path": "/p/go.mod", "needs": None, "error": "/p/go.mod: No such file"})) == \
        ["GO_MOD_UNREADABLE"]


def test_gobin_severity_depends_on_installed_programs(tmp_path):
    (tmp_path / "bin").mkdir()
    facts = _facts(go_env={"GOROOT": "/usr/local/go", "GOPATH": str(tmp_path), "GOBIN": ""}, path=["/usr/bin"])
    assert [(f["code"], f["severity"]) for f in _goenv.evaluate(facts)] == [("GOBIN_NOT_ON_PATH", "info")]
    (tmp_path / "bin" / "tool").write_text("")
    assert [(f["code"], f["severity"]) for f in _goenv.evaluate(facts)] == [("GOBIN_NOT_ON_PATH", "warning")]


def test_fail_on_thresholds():
    findings = [{"severity": "info"}, {"severity": "warning"}]
    assert _goenv.exceeds(findings, "never") == []
    assert _goenv.exceeds(findings, "error") == []
    assert len(_goenv.exceeds(findings, "warning")) == 1 and len(_goenv.exceeds(findings, "info")) == 2


# ---- Python 3.8 on a managed node ------------------------------------------------------------
PY38 = os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python")


@pytest.mark.skipif(not os.path.exists(PY38), reason="pyenv's Python 3.8.18 is not installed")
def test_discovery_runs_on_python_3_8(tmp_path):
    go = _fake_goroot(str(tmp_path / "go"))
    code = ("import json, sys\n"
            "from ansible_collections.gofleet.golang.plugins.module_utils import _goenv\n"
            "import subprocess\n"
            "def run(argv):\n"
            "    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)\n"
            "    return p.returncode, p.stdout, p.stderr\n"
            "f = _goenv.discover(run, sys.executable, login=False, install_root='/nonexistent', active_link=None)\n"
            "print(json.dumps([f['go']['goroot'], f['go']['version'], sys.version_info[:2]]))\n")
    env = {"PATH": os.path.dirname(go) + ":/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": collections_root()}
    done = subprocess.run([PY38, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == '["%s", "1.27.3", [3, 8]]' % str(tmp_path / "go")


def test_module_utils_is_standard_library_only():
    src = open(_goenv.__file__).read()
    assert shutil.which("python3") and "import requests" not in src and "yaml" not in src


# ---- what another user's environment names, read without trusting it --------------------------
def test_variable_names_that_are_options_are_dropped():
    env, dropped = _goenv.clean_environment({"PATH": "/bin", "-i": "x", "--split-string": "sh -c id",
                                             "GOFLAGS": "-mod=mod", "NUL": "a\x00b", "A=B": "1"})
    assert env == {"PATH": "/bin", "GOFLAGS": "-mod=mod"}
    assert dropped == ["--split-string", "-i", "A=B", "NUL"]
    assert _goenv.clean_environment(["not", "a", "dict"]) == (None, [])


def test_pipes_and_devices_are_never_read(tmp_path):
    """A named pipe as the env file, VERSION, go.mod or `go` would block open() for ever; /dev/zero
    would never end. Each is reported at once."""
    pipe = str(tmp_path / "pipe")
    os.mkfifo(pipe)
    root = tmp_path / "goroot"
    (root / "bin").mkdir(parents=True)
    os.mkfifo(str(root / "VERSION"))
    (tmp_path / "proj").mkdir()
    os.mkfifo(str(tmp_path / "proj" / "go.mod"))
    start = time.monotonic()
    assert _goenv.read_env_file(pipe) == {} and _goenv.read_env_file("/dev/zero") == {}
    assert _goenv.read_version(str(root)) is None
    info = _goenv.read_go_mod(str(tmp_path / "proj"))
    assert info["exists"] is False and "a named pipe, not a regular file" in info["error"]
    (tmp_path / "zero").mkdir()
    os.symlink("/dev/zero", str(tmp_path / "zero" / "go.mod"))
    assert "a character device" in _goenv.read_go_mod(str(tmp_path / "zero"))["error"]
    assert "not a regular file" in _goenv.binary_facts(pipe)["error"]
    assert "not a regular file" in _goenv.binary_facts("/dev/zero")["error"]
    assert time.monotonic() - start < 5


def test_an_unusable_env_file_is_a_finding():
    facts = _facts(env_file={"path": "/home/u/pipe", "error": "/home/u/pipe: a named pipe, not a regular file"})
    f = [x for x in _goenv.evaluate(facts) if x["code"] == "ENV_FILE_UNUSABLE"]
    assert len(f) == 1 and f[0]["severity"] == "warning" and "block" in f[0]["message"]
    assert f[0]["env_file"] == "/home/u/pipe" and f[0]["fix"]
    denied = _facts(env_file={"path": "/x", "error": "/x: Permission denied (read as u)"})
    assert "ignore it" in [x for x in _goenv.evaluate(denied) if x["code"] == "ENV_FILE_UNUSABLE"][0]["message"]


_AS_USER = r"""
import json, subprocess, sys
from ansible_collections.gofleet.golang.plugins.module_utils import _goenv
def run(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    return p.returncode, p.stdout, p.stderr
f = _goenv.discover(run, sys.executable, user=%(user)r, install_root="/nonexistent", active_link=None, timeout=20)
print(json.dumps({"py": list(sys.version_info[:2]), "user": f["user"], "go": f["go"] and f["go"]["go"],
                  "go_env": f["go_env"], "err": f["go_env_error"], "env_file": f["env_file"]}))
"""


@pytest.mark.parametrize("python", [sys.executable, PY38], ids=["this-python", "python-3.8"])
def test_another_users_login_shell_and_go_run_as_them(second_user, python):
    """discover() for another user, end to end: their profile puts a `go` on PATH that reports who
    runs it; their env file is read as them. On this Python and on Python 3.8 (preexec_fn)."""
    if not os.path.exists(python):
        pytest.skip("pyenv's Python 3.8.18 is not installed")
    top = tempfile.mkdtemp(prefix="gofleet-goenv-unit-")
    try:
        os.chmod(top, 0o755)
        go = _fake_goroot(os.path.join(top, "go"))
        with open(go, "w") as f:
            f.write('#!/bin/sh\nprintf \'{"GOVERSION": "go1.27.3", "UID": "%s", "GOENV": "x"}\' "$(id -u)"\n')
        os.makedirs(os.path.join(second_user.home, ".config", "go"))
        second_user.write(os.path.join(second_user.home, ".config", "go", "env"), "GOARCH=arm64\n")
        for d in (".config", os.path.join(".config", "go")):
            os.chown(os.path.join(second_user.home, d), second_user.uid, second_user.gid)
        second_user.write(os.path.join(second_user.home, ".profile"),
                          'export PATH="%s:$PATH"\n' % os.path.dirname(go))
        done = subprocess.run([python, "-c", _AS_USER % {"user": second_user.name}],
                              env={"PYTHONPATH": collections_root(), "PATH": "/usr/bin:/bin", "HOME": "/root"},
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        res = json.loads(done.stdout.strip().splitlines()[-1])
        assert res["user"]["environment"] == "login shell" and res["err"] is None, res
        assert res["go"] == go and res["go_env"]["UID"] == str(second_user.uid)
        assert res["env_file"]["values"] == {"GOARCH": "arm64"} and res["env_file"]["exists"] is True
        assert res["go_env"]["GOENV"] == os.path.join(second_user.home, ".config", "go", "env")
        if python == PY38:
            assert res["py"] == [3, 8]
    finally:
        shutil.rmtree(top, ignore_errors=True)
