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
    argv, env, notes = _rebuild.install_command("/go/bin/go", _as_installed(built["stamped"]), "linux", "amd64")
    assert argv[:2] == ["/go/bin/go", "install"]
    assert "-ldflags=-s -w -X main.version=1.0.0" in argv
    assert "-tags=netgo,osusergo" in argv and "-gcflags=all=-N -l" in argv
    assert argv[-1] == "example.com/flags@v1.2.3"
    assert env == {"GOTOOLCHAIN": "local", "GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "0", "GOAMD64": "v2"}
    assert notes == []


def test_install_command_for_a_foreign_arch_drops_the_arch_level(built):
    info = _as_installed(built["stamped"])
    argv, env, dummy = _rebuild.install_command("go", info, "linux", "arm64")
    assert env["GOARCH"] == "arm64" and "GOAMD64" not in env


def test_trimpath_hides_ldflags_and_tool_ldflags_gives_them_back(built):
    info = _as_installed(built["trimmed"])
    assert "-ldflags" not in info["build_info"]["settings"]  # go.dev/issue/52372: not recorded with -trimpath
    argv, dummy, notes = _rebuild.install_command("go", info, "linux", "amd64")
    assert "-trimpath" in argv and not any(a.startswith("-ldflags") for a in argv)
    assert notes and "tool_ldflags" in notes[0]
    argv, dummy, notes = _rebuild.install_command("go", info, "linux", "amd64", ldflags="-X main.version=1.0.0")
    assert "-ldflags=-X main.version=1.0.0" in argv and notes == []


def test_buildmode_other_than_exe_is_kept(built):
    argv, dummy, dummy2 = _rebuild.install_command("go", _as_installed(built["pie"]), "linux", "amd64")
    assert "-buildmode=pie" in argv
    argv, dummy, dummy2 = _rebuild.install_command("go", _as_installed(built["plain"]), "linux", "amd64")
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
