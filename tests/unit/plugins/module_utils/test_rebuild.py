# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_rebuild without building anything: the bootstrap minimum read from a real make.bash, `go
install` command lines made from real build info (programs really built by Go 1.26 with the
flags in question), the copy filter, and the module's refusals. Real toolchains, real make.bash
runs and real tool rebuilds are in tests/integration/test_go_toolchain_rebuild.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.gofleet.golang.plugins.module_utils import _binary, _rebuild
from ansible_collections.gofleet.golang.plugins.modules import go_toolchain_rebuild

from testbed import ansible_module, config, mirror

PY38 = os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python")


# ---- bootstrap minimum -------------------------------------------------------------------------
def test_minimum_bootstrap_is_read_from_the_real_make_bash(host_goroot):
    assert _rebuild.minimum_bootstrap(host_goroot, "1.27.3") == "1.24.6"


def test_minimum_bootstrap_falls_back_to_the_documented_table(tmp_path):
    assert _rebuild.minimum_bootstrap(str(tmp_path), "1.27.3") == "1.24.6"
    assert _rebuild.minimum_bootstrap(str(tmp_path), "1.25.1") == "1.22.6"
    assert _rebuild.minimum_bootstrap(str(tmp_path), "1.22.0") == "1.20.6"
    assert _rebuild.minimum_bootstrap(str(tmp_path), "1.21.13") == "1.17.13"
    assert _rebuild.minimum_bootstrap(str(tmp_path), None) == "1.4"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "make.bash").write_text("#!/bin/bash\nbootgo=1.26.6\nset -e\n")
    assert _rebuild.minimum_bootstrap(str(tmp_path), "1.28.0") == "1.26.6"


# ---- output parsing ----------------------------------------------------------------------------
def test_go_version_output():
    assert _rebuild.version_of_go_output("go version go1.27.3 linux/amd64\n") == ("1.27.3", "linux", "amd64")
    assert _rebuild.version_of_go_output("go version go1.27.3 X:jsonv2 darwin/arm64") == ("1.27.3", "darwin", "arm64")
    assert _rebuild.version_of_go_output("") is None
    assert _rebuild.version_of_go_output("bash: go: not found") is None


def test_needs_newer_go_from_the_real_message():
    # what go1.26.6 printed in tests/integration (GOTOOLCHAIN=local)
    msg = ("go: downloading example.com/gfnew v1.0.0\ngo: example.com/gfnew@v1.0.0: example.com/gfnew@v1.0.0 "
           "requires go >= 1.27.3 (running go 1.26.6; GOTOOLCHAIN=local)\n")
    assert _rebuild.needs_newer_go(msg) == "1.27.3"
    assert _rebuild.needs_newer_go("go: example.com/x@v1: reading ...: 404 Not Found") is None


# ---- go install command lines from real build info ------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Programs built by the real Go 1.26.6 from a local module with the flags the rebuild must keep."""
    go = os.path.join(mirror.host_goroot(config.OLDSTABLE), "bin", "go")
    work = tmp_path_factory.mktemp("built")
    src = work / "src"
    src.mkdir()
    (src / "go.mod").write_text("module example.com/flags\n\ngo 1.26\n")
    (src / "main.go").write_text('package main\n\nvar version = "dev"\n\nfunc main() { println(version) }\n')
    env = dict(os.environ, GOCACHE=config.GOCACHE, GOPATH=str(work / "gopath"), GOFLAGS="", GOTOOLCHAIN="local")
    out = {}
    for name, flags, extra in (
            ("plain", [], {"CGO_ENABLED": "0"}),
            ("stamped", ["-ldflags=-s -w -X main.version=1.0.0", "-tags=netgo,osusergo", "-gcflags=all=-N -l"],
             {"CGO_ENABLED": "0", "GOAMD64": "v2"}),
            ("trimmed", ["-trimpath", "-ldflags=-X main.version=1.0.0"], {"CGO_ENABLED": "0"}),
            ("pie", ["-buildmode=pie"], {"CGO_ENABLED": "0"})):
        exe = str(work / name)
        subprocess.run([go, "build", "-o", exe] + flags + ["."], cwd=str(src), env=dict(env, **extra), check=True)
        out[name] = _binary.inspect(exe)
    return out


def _as_installed(info, version="v1.2.3"):
    """A locally built program's build info as `go install example.com/flags@v1.2.3` records it."""
    info = dict(info)
    info["build_info"] = dict(info["build_info"], main={"path": "example.com/flags", "version": version,
                                                        "sum": "h1:x", "replace": None})
    return info


def test_install_command_keeps_recorded_flags(built):
    argv, env, notes, refused = _rebuild.install_command("/go/bin/go", _as_installed(built["stamped"]), "linux", "amd64")
    assert argv[:2] == ["/go/bin/go", "install"]
    assert "-ldflags=-s -w -X main.version=1.0.0" in argv
    assert "-tags=netgo,osusergo" in argv and "-gcflags=all=-N -l" in argv
    assert argv[-1] == "example.com/flags@v1.2.3"
    assert env == {"GOTOOLCHAIN": "local", "GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "0", "GOAMD64": "v2"}
    assert notes == [] and refused == []


def test_install_command_for_a_foreign_arch_drops_the_arch_level(built):
    info = _as_installed(built["stamped"])
    argv, env, dummy, dummy2 = _rebuild.install_command("go", info, "linux", "arm64")
    assert env["GOARCH"] == "arm64" and "GOAMD64" not in env


def test_trimpath_hides_ldflags_and_tool_ldflags_gives_them_back(built):
    info = _as_installed(built["trimmed"])
    assert "-ldflags" not in info["build_info"]["settings"]  # go.dev/issue/52372: not recorded with -trimpath
    argv, dummy, notes, dummy2 = _rebuild.install_command("go", info, "linux", "amd64")
    assert "-trimpath" in argv and not any(a.startswith("-ldflags") for a in argv)
    assert notes and "tool_ldflags" in notes[0]
    argv, dummy, notes, dummy2 = _rebuild.install_command("go", info, "linux", "amd64", ldflags="-X main.version=1.0.0")
    assert "-ldflags=-X main.version=1.0.0" in argv and notes == []


def test_buildmode_other_than_exe_is_kept(built):
    argv, dummy, dummy2, dummy3 = _rebuild.install_command("go", _as_installed(built["pie"]), "linux", "amd64")
    assert "-buildmode=pie" in argv
    argv, dummy, dummy2, dummy3 = _rebuild.install_command("go", _as_installed(built["plain"]), "linux", "amd64")
    assert not any(a.startswith("-buildmode") for a in argv)


def test_devel_and_replaced_and_gopath_programs_are_not_rebuildable(built):
    with pytest.raises(_rebuild.RebuildError, match=r"\(devel\)"):
        _rebuild.install_command("go", built["plain"], "linux", "amd64")  # built in its checkout: (devel)
    info = _as_installed(built["plain"])
    info["build_info"]["main"] = dict(info["build_info"]["main"], replace={"path": "../fork", "version": "", "sum": ""})
    with pytest.raises(_rebuild.RebuildError, match="replaced"):
        _rebuild.install_command("go", info, "linux", "amd64")
    info["build_info"] = dict(info["build_info"], main=None)
    with pytest.raises(_rebuild.RebuildError, match="no module information"):
        _rebuild.install_command("go", info, "linux", "amd64")


def test_build_summary(built):
    s = _rebuild.build_summary(built["stamped"])
    assert s["go_version"] == "go1.26.6" and (s["goos"], s["goarch"]) == ("linux", "amd64")
    assert s["path"] == "example.com/flags" and s["version"] == "(devel)"
    assert s["settings"]["-tags"] == "netgo,osusergo"


# ---- what of the recorded settings is replayed as root ------------------------------------------------
def test_split_quoted_is_the_go_commands_split():
    assert _rebuild.split_quoted("-s -w  -X 'main.msg=hello world' \"-X\"\tmain.v=1") == [
        "-s", "-w", "-X", "main.msg=hello world", "-X", "main.v=1"]
    with pytest.raises(ValueError):
        _rebuild.split_quoted("-X 'main.v=1")


@pytest.mark.parametrize("setting,value", [
    ("-ldflags", "-s -w -X main.version=v1.2.0 -X=example.com/x/y.name=a-b"),
    ("-ldflags", "-linkmode=external"),
    ("-gcflags", "all=-N -l"), ("-gcflags", "-m=2"), ("-asmflags", "-D GOFLEET=1"),
    ("CGO_CFLAGS", "-O2 -g -Wall -DNDEBUG -I/usr/include/x"), ("CGO_LDFLAGS", "-lm -L/usr/lib/x -pthread")])
def test_safe_flag_values(setting, value):
    assert _rebuild.unsafe_token(setting, value) is None


@pytest.mark.parametrize("setting,value,token", [
    ("-ldflags", "-linkmode=external -extld=/tmp/evil", "-extld=/tmp/evil"),
    ("-ldflags", "-s -extldflags '-B /tmp/x'", "-extldflags"),
    ("-ldflags", "-X", "-X"), ("-ldflags", "-X -extld=/x", "-X -extld=/x"),
    ("-ldflags", "-o /etc/cron.d/x", "-o"), ("-ldflags", "-tmpdir=/root", "-tmpdir=/root"),
    ("-gcflags", "all=-cpuprofile=/etc/passwd", "-cpuprofile=/etc/passwd"), ("-gcflags", "all", "all"),
    ("-asmflags", "-o /etc/x", "-o"), ("-asmflags", "-I /root", "-I"),
    ("CGO_CFLAGS", "-O2 -fplugin=/tmp/evil.so", "-fplugin=/tmp/evil.so"),
    ("CGO_CFLAGS", "-wrapper /tmp/evil", "-wrapper"), ("CGO_CFLAGS", "@/tmp/opts", "@/tmp/opts"),
    ("CGO_CFLAGS", "-Wp,-x", "-Wp,-x"), ("CGO_CPPFLAGS", "-B/tmp/evil", "-B/tmp/evil"),
    ("CGO_LDFLAGS", "-Wl,-plugin,/tmp/evil.so", "-Wl,-plugin,/tmp/evil.so"),
    ("-ldflags", "-X 'main.v=1", "unterminated ' string")])
def test_unsafe_flag_values(setting, value, token):
    assert _rebuild.unsafe_token(setting, value) == token


def test_replayable_keeps_the_safe_settings_and_reports_the_rest():
    settings = {"-buildmode": "exe", "-compiler": "gc", "-ldflags": "-linkmode=external -extld=/tmp/evil",
                "-tags": "netgo", "-toolexec": "/tmp/evil", "CGO_ENABLED": "1", "CGO_CFLAGS": "-fplugin=/tmp/e.so",
                "CGO_LDFLAGS": "-lm", "GOARCH": "amd64", "GOOS": "linux", "GOAMD64": "v3", "vcs": "git",
                "vcs.revision": "abc", "DefaultGODEBUG": "x=1", "-pgo": "/root/default.pgo", "-trimpath": "true"}
    flags, env, refused = _rebuild.replayable(settings, same_arch=True)
    assert flags == ["-tags=netgo", "-trimpath"]
    assert env == {"CGO_ENABLED": "1", "CGO_LDFLAGS": "-lm", "GOAMD64": "v3"}
    assert {r["setting"]: r["value"] for r in refused} == {
        "-ldflags": "-linkmode=external -extld=/tmp/evil", "CGO_CFLAGS": "-fplugin=/tmp/e.so",
        "-toolexec": "/tmp/evil", "-pgo": "/root/default.pgo"}
    flags, env, refused = _rebuild.replayable({"-buildmode": "plugin", "-compiler": "gccgo", "-tags": "a b"}, True)
    assert flags == [] and sorted(r["setting"] for r in refused) == ["-buildmode", "-compiler", "-tags"]


def test_install_command_reports_what_it_does_not_replay(built):
    info = _as_installed(built["stamped"])
    info["build_info"] = dict(info["build_info"], settings=dict(info["build_info"]["settings"],
                                                                **{"-ldflags": "-s -extld=/tmp/evil"}))
    argv, env, notes, refused = _rebuild.install_command("go", info, "linux", "amd64")
    assert not any(a.startswith("-ldflags") for a in argv) and [r["setting"] for r in refused] == ["-ldflags"]
    assert "refused_settings" in notes[-1]
    argv, env, notes, refused = _rebuild.install_command("go", info, "linux", "amd64", ldflags="-s -w")
    assert "-ldflags=-s -w" in argv and refused == []  # tool_ldflags is the module user's own: used as given
    info["build_info"]["main"] = dict(info["build_info"]["main"], version="-v1 x")
    with pytest.raises(_rebuild.RebuildError, match="not a module path"):
        _rebuild.install_command("go", info, "linux", "amd64")


# ---- trees that may run as root, files replaced without following links ------------------------------
def test_untrusted_trees(tmp_path, second_user):
    tree = tmp_path / "go"
    (tree / "bin").mkdir(parents=True)
    (tree / "src").mkdir()
    (tree / "bin" / "go").write_text("#!/bin/sh\n")
    (tree / "src" / "x.go").write_text("package x\n")
    assert _rebuild.untrusted(str(tree)) is None  # under /tmp (sticky, root's): trusted
    os.chmod(str(tree / "src" / "x.go"), 0o666)
    assert _rebuild.untrusted(str(tree), deep=False) is None  # `go version` does not read src/
    assert "x.go is writable by others (mode 0666)" in _rebuild.untrusted(str(tree))
    os.chmod(str(tree / "src" / "x.go"), 0o644)
    os.chown(str(tree / "bin" / "go"), second_user.uid, second_user.gid)
    assert "bin/go is owned by uid %d (%s)" % (second_user.uid, second_user.name) in _rebuild.untrusted(str(tree), deep=False)
    os.chown(str(tree / "bin" / "go"), 0, 0)
    outside = tmp_path / "theirs"
    outside.mkdir()
    (outside / "lib.go").write_text("package x\n")
    os.chown(str(outside / "lib.go"), second_user.uid, second_user.gid)
    os.symlink(str(outside), str(tree / "src" / "lib"))
    assert "theirs/lib.go is owned by uid %d" % second_user.uid in _rebuild.untrusted(str(tree))  # walked through the link
    os.unlink(str(tree / "src" / "lib"))
    os.symlink(str(outside / "lib.go"), str(tree / "src" / "lib.go"))
    assert "through the link" in _rebuild.untrusted(str(tree))
    os.unlink(str(tree / "src" / "lib.go"))
    os.chmod(str(tmp_path), 0o777)  # an ancestor writable by others, not sticky
    assert "is writable by others (mode 0777)" in _rebuild.untrusted(str(tree), deep=False)
    os.chmod(str(tmp_path), 0o1777)
    assert _rebuild.untrusted(str(tree)) is None
    os.chmod(str(tmp_path), 0o700)


def test_replace_file_sets_mode_and_owner_on_its_own_file_only(tmp_path, second_user):
    folder = tmp_path / "bin"
    folder.mkdir()
    os.chown(str(folder), second_user.uid, second_user.gid)
    tool = second_user.write(str(folder / "tool"), "old", mode=0o751)
    new = tmp_path / "new"
    new.write_text("new")
    like = os.lstat(tool)
    _rebuild.replace_file(str(new), tool, like)
    st = os.lstat(tool)
    assert open(tool).read() == "new" and stat_of(st) == (second_user.uid, second_user.gid, 0o751)
    assert sorted(os.listdir(str(folder))) == ["tool"]
    # the tool swapped for a link to a root-only file: refused, the target untouched
    secret = tmp_path / "secret"
    secret.write_text("root's")
    os.chmod(str(secret), 0o600)
    os.unlink(tool)
    os.symlink(str(secret), tool)
    with pytest.raises(_rebuild.RebuildError, match="made a link"):
        _rebuild.replace_file(str(new), tool, st)
    assert stat_of(os.stat(str(secret))) == (0, 0, 0o600) and open(str(secret)).read() == "root's"


def stat_of(st):
    return st.st_uid, st.st_gid, st.st_mode & 0o7777


# ---- the build copy --------------------------------------------------------------------------------
def test_copy_leaves_out_binaries_foreign_tools_and_objects(tmp_path):
    src = tmp_path / "go"
    for d in ("bin", "pkg/tool/linux_amd64", "pkg/tool/linux_arm64", "pkg/tool/darwin_amd64", "pkg/obj/go-build",
              "pkg/include", "src/cmd/go"):
        (src / d).mkdir(parents=True)
    for f in ("bin/go", "pkg/tool/linux_amd64/compile", "pkg/tool/linux_arm64/compile", "pkg/include/textflag.h",
              "src/cmd/go/main.go", "VERSION"):
        (src / f).write_text("x")
    shutil.copytree(str(src), str(tmp_path / "copy"), symlinks=True,
                    ignore=_rebuild.copy_ignore(str(src), {"linux_arm64"}))
    got = sorted(os.path.relpath(os.path.join(d, f), str(tmp_path / "copy"))
                 for d, dirs, files in os.walk(str(tmp_path / "copy")) for f in files)
    assert got == ["VERSION", "pkg/include/textflag.h", "pkg/tool/linux_arm64/compile", "src/cmd/go/main.go"]


# ---- the module's refusals ---------------------------------------------------------------------
def _call(args, check_mode=False):
    return ansible_module.call(go_toolchain_rebuild.main, args, check_mode=check_mode)


@pytest.mark.parametrize("key,words", [("GOROOT_FINAL", "no effect since Go 1.23"), ("GOARCH", "real architecture"),
                                       ("GOROOT_BOOTSTRAP", "bootstrap_goroot")])
def test_build_env_refusals(tmp_path, host_goroot, key, words):
    r = _call({"goroot": host_goroot, "build_env": {key: "x"}, "rebuild_tools": False})
    assert r.get("failed") and words in r["msg"] and key in r["msg"]


@pytest.mark.parametrize("args,words", [
    ({"build_env": {"A=B": "x"}}, "not an environment variable name"),
    ({"build_env": {"-u": "x"}}, "not an environment variable name"),
    ({"build_env": {"GOAMD64": "v3\x00"}}, "NUL"),
    ({"tool_ldflags": {"example.com/x": "-s\x00"}}, "NUL"),
    ({"tool_paths": ["/tmp/a\x00b"]}, "is not a path"),
    ({"build_timeout": 0}, "above 0"), ({"tool_timeout": -1}, "above 0")])
def test_inputs_that_would_end_in_a_traceback_fail_clearly(host_goroot, args, words):
    r = _call(dict({"goroot": host_goroot, "rebuild_tools": False}, **args))
    assert r.get("failed") and words in r["msg"], r


def test_missing_goroot_fails_clearly(tmp_path):
    r = _call({"goroot": str(tmp_path / "nope")})
    assert r.get("failed") and "does not exist" in r["msg"]


def test_a_directory_goroot_cannot_be_swapped(tmp_path, go_binaries):
    """A foreign tree reached as a plain directory: the rebuild is refused before anything is built."""
    tree = tmp_path / "go"
    (tree / "bin").mkdir(parents=True)
    shutil.copy(os.path.join(go_binaries, "linux-arm64", "go"), str(tree / "bin" / "go"))
    (tree / "VERSION").write_text("go1.27.3\n")
    r = _call({"goroot": str(tree), "rebuild_tools": False})
    assert r.get("failed") and "not a symbolic link" in r["msg"] and "go_install" in r["msg"]
    assert r["goroot"]["problems"][0] == "bin/go is built for linux/arm64, this host is linux/amd64"
    assert sorted(os.listdir(str(tmp_path))) == ["go"]  # no lock, no staging folder


# ---- Python 3.8 on a managed node ----------------------------------------------------------------
@pytest.mark.skipif(not os.path.exists(PY38), reason="pyenv's Python 3.8.18 is not installed")
def test_module_utils_import_and_helpers_on_python_3_8(built):
    code = ("import json, sys\n"
            "from ansible_collections.gofleet.golang.plugins.module_utils import _rebuild, _binary\n"
            "info = _binary.inspect(sys.argv[1])\n"
            "print(json.dumps([_rebuild.build_summary(info)['go_version'], sys.version_info[:2]]))\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": config.collections_root()}
    done = subprocess.run([PY38, "-c", code, built["plain"]["path"]], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == '["go1.26.6", [3, 8]]'
