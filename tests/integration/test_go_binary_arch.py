# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""go_binary_arch run for real on real executables (tests/testbed fixtures, cached).

The module runs as Ansible runs it (its own process with an args file) or in-process; its reports
are compared with module_utils/_binary (itself checked against go version -m, file, readelf in
tests/unit/plugins/module_utils/test_binary.py) and with what the files do when run: the official
linux-arm64 `go` really runs on this amd64 machine, through qemu-user binfmt, and is reported not
native - what an amd64 toolchain under Rosetta is on an Apple Silicon Mac.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.gofleet.golang.plugins.module_utils import _binary, _platform
from ansible_collections.gofleet.golang.plugins.modules import go_binary_arch

from testbed import ansible_module, config

HOST = _platform.detect()
pytestmark = pytest.mark.skipif(HOST["goarch"] != "amd64" or HOST["goos"] != "linux",
                                reason="the fixtures' native/foreign split assumes a linux/amd64 machine")


def call(check_mode=False, **args):
    result = ansible_module.call(go_binary_arch.main, args, check_mode=check_mode)
    assert result.get("changed") is not True
    return result


@pytest.fixture(scope="module")
def bins(go_binaries):
    return go_binaries


@pytest.fixture(scope="module")
def progs(go_programs):
    return {name: entry["path"] for name, entry in go_programs.items()}


def strip(report):
    """A module report without what the module adds, for comparison with _binary.inspect."""
    return {k: v for k, v in report.items() if k not in ("cgo", "native", "mismatches", "ok")}


# ---- reports --------------------------------------------------------------------------------------
def test_a_directory_like_gopath_bin_as_ansible_runs_it(bins, tmp_path):
    """A GOROOT/bin-like directory, run as its own process: every executable reported as _binary
    reads it, native amd64 Go >= 1.27, static, cgo off; a README without the x bit is skipped."""
    gobin = tmp_path / "bin"
    shutil.copytree(os.path.join(bins, "linux-amd64"), gobin)
    (gobin / "README").write_text("not a program\n")
    result = ansible_module.run("go_binary_arch", {
        "paths": [str(gobin)], "goos": "linux", "goarch": "amd64", "native": True, "linkage": "static",
        "cgo": False, "go_version": ">=1.27"})
    assert result["rc"] == 0 and not result.get("failed"), result.get("msg")
    names = sorted(n for n in os.listdir(gobin) if n != "README")
    assert [os.path.basename(b["path"]) for b in result["binaries"]] == names
    assert result["skipped"] == [str(gobin / "README")]
    assert result["mismatches"] == [] and result["errors"] == []
    for report in result["binaries"]:
        assert strip(report) == _binary.inspect(report["path"])
        assert report["native"] is True and report["cgo"] is False and report["ok"] is True
    assert result["host"]["kernel_goarch"] == "amd64"


def test_arm64_go_runs_here_but_is_not_native(bins, host_goroot):
    """The official linux-arm64 go runs on this amd64 machine (qemu-user binfmt), yet it is emulated."""
    from testbed import images  # pylint: disable=import-outside-toplevel
    images.ensure_binfmt()
    go = os.path.join(bins, "linux-arm64", "go")
    done = subprocess.run([go, "version"], capture_output=True, text=True, check=False, timeout=120,
                          env=dict(os.environ, GOTOOLCHAIN="local", GOROOT=host_goroot))
    assert done.returncode == 0 and done.stdout.strip().endswith("linux/arm64"), done.stdout + done.stderr
    assert os.uname().machine == "x86_64"

    failed = call(paths=[go], native=True)
    assert failed["failed"] is True
    report = failed["binaries"][0]
    assert (report["goarch"], report["native"]) == ("arm64", False)
    assert [m["expectation"] for m in failed["mismatches"]] == ["native"]
    assert "not native" in failed["msg"] and "emulated" in failed["msg"] and go in failed["msg"]

    ok = call(paths=[go], native=False, goarch="arm64", goos="linux")
    assert not ok.get("failed"), ok.get("msg")


def test_every_mismatch_is_listed(progs):
    """Each expectation that does not hold is a mismatch of its own, all in the message."""
    path = progs["linux-amd64-cgo"]
    info = _binary.inspect(path)
    result = call(paths=[path], goarch="arm64", goos="darwin", linkage="static", cgo=False,
                  go_version="<1.20", native=False)
    assert result["failed"] is True
    got = {m["expectation"]: m for m in result["mismatches"]}
    assert sorted(got) == ["cgo", "go_version", "goarch", "goos", "linkage", "native"]
    assert got["goarch"]["actual"] == info["goarch"] and got["goos"]["actual"] == info["goos"]
    assert got["linkage"]["actual"] == info["linkage"] == "dynamic"
    assert info["interpreter"] in got["linkage"]["message"]
    assert got["cgo"]["actual"] is True and info["build_info"]["settings"]["CGO_ENABLED"] == "1"
    assert got["go_version"]["actual"] == info["go_version"]
    for m in result["mismatches"]:
        assert m["path"] == path and m["message"] in result["msg"]
    # and the same expectations the file meets
    ok = call(paths=[path], goarch=info["goarch"], goos=info["goos"], linkage="dynamic", cgo=True,
              go_version=">=1.27", native=True)
    assert not ok.get("failed"), ok.get("msg")


@pytest.mark.parametrize("name, linkage", [("linux-amd64-static", "static"), ("linux-amd64-static-pie", "static-pie"),
                                           ("linux-amd64-pie", "dynamic"), ("non-go-elf", "dynamic")])
def test_linkage(progs, name, linkage):
    assert not call(paths=[progs[name]], linkage=linkage).get("failed")


def test_foreign_architectures_and_oses(progs, bins):
    """Cross-compiled programs: each reports its own arch; none is native here; Windows and macOS
    programs are not native either (another OS), even for amd64."""
    paths = [progs[n] for n in ("linux-riscv64", "linux-loong64", "linux-mips64le", "linux-arm-6", "freebsd-amd64")]
    paths += [os.path.join(bins, "windows-amd64", "go.exe"), os.path.join(bins, "darwin-amd64", "go")]
    result = call(paths=paths, native=False)
    assert not result.get("failed"), result.get("msg")
    assert [b["goarch"] for b in result["binaries"]] == [_binary.inspect(p)["goarch"] for p in paths]
    assert [b["goos"] for b in result["binaries"]][-3:] == ["freebsd", "windows", "darwin"]


def test_universal_macho_meets_goarch_of_any_slice(progs):
    path = progs["darwin-universal"]
    for goarch in ("amd64", "arm64"):
        result = call(paths=[path], goarch=goarch, goos="darwin")
        assert not result.get("failed"), result.get("msg")
        assert result["binaries"][0]["goarches"] == ["amd64", "arm64"]
    failed = call(paths=[path], goarch="386")
    assert "universal file has slices amd64, arm64, none is 386" in failed["msg"]


def test_go115_binary_has_no_build_settings(progs):
    """Go 1.15 wrote no build settings: cgo cannot be told, and says so; its version is read."""
    path = progs["go115-linux-amd64"]
    result = call(paths=[path], go_version="1.15.x", cgo=False)
    assert result["failed"] is True
    assert [m["expectation"] for m in result["mismatches"]] == ["cgo"]
    assert "no CGO_ENABLED build setting (built by go1.15.15)" in result["msg"]
    assert result["binaries"][0]["go_version"] == "go1.15.15"


def test_findings_are_reported_and_fail_only_when_asked(progs):
    """A file whose build settings say amd64 while its header says arm64."""
    path = progs["mislabeled"]
    result = call(paths=[path])
    assert not result.get("failed"), result.get("msg")
    assert [f["code"] for f in result["binaries"][0]["findings"]] == ["DECLARED_ARCH_MISMATCH"]
    assert result["binaries"][0]["declared"] == {"goos": "linux", "goarch": "amd64"}
    failed = call(paths=[path], fail_on_findings=True)
    assert failed["failed"] is True and "DECLARED_ARCH_MISMATCH" in failed["msg"]


def test_per_file_errors_never_a_traceback(progs, tmp_path):
    """No executable, truncated, empty, missing, a directory entry that is a named pipe: each file
    gets its own clear error, the good one is still reported, the task fails once, as a process."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("truncated", "truncated-header", "empty", "text", "java-class"):
        target = folder / os.path.basename(progs[name])
        shutil.copyfile(progs[name], target)
        target.chmod(0o755)
    shutil.copyfile(progs["linux-amd64-static"], folder / "hello")
    (folder / "hello").chmod(0o755)
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    result = ansible_module.run("go_binary_arch", {"paths": [str(folder), str(tmp_path / "missing"), fifo]})
    assert result["rc"] == 1 and result["failed"] is True
    assert "Traceback" not in result.get("msg", "") and "exception" not in result
    by_name = {os.path.basename(b["path"]): b for b in result["binaries"]}
    assert by_name["hello"]["ok"] is True and by_name["hello"]["goarch"] == "amd64"
    expect = {"truncated": "truncated", "truncated-header": "truncated", "empty": "empty",
              "notes.txt": "not an executable", "Hello.class": "Java class", "missing": "No such file",
              "fifo": "not a regular file"}
    for name, words in expect.items():
        assert words in by_name[name]["error"], by_name[name]
        assert by_name[name]["path"] in by_name[name]["error"]
        assert by_name[name]["error"] in result["msg"]
    assert len(result["errors"]) == len(expect)
    assert result["msg"].startswith("%d of %d file(s) failed" % (len(expect), len(expect) + 1))


def test_check_mode_gives_the_same_answer(progs):
    args = dict(paths=[progs["linux-arm-7"], progs["linux-amd64-stripped"]], goos="linux")
    assert call(check_mode=True, **args) == call(**args)


def test_detail_with_pyelftools(progs, go_binaries):
    result = call(paths=[progs["linux-amd64-cgo"]], detail=True)
    detail = result["binaries"][0]["detail"]
    assert detail["go_build_id_note"] == result["binaries"][0]["build_id"]
    assert detail["debug_info"] is True


def test_bad_options_fail_cleanly(progs, tmp_path):
    bad = call(paths=[progs["linux-amd64-static"]], go_version=">=banana")
    assert bad["failed"] is True and bad["msg"].startswith("go_version=>=banana:")
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    (empty / "notes").write_text("x")
    none = call(paths=[str(empty)])
    assert none["failed"] is True and "no executable found" in none["msg"] and none["skipped"]


PY38 = os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python")


@pytest.mark.skipif(not os.path.exists(PY38), reason="pyenv's Python 3.8.18 is not installed")
def test_module_runs_on_python38_with_the_standard_library_only(bins, tmp_path):
    """A node with Python 3.8 and nothing else: -S (no site-packages); ansible's module_utils come
    along as AnsiballZ would bring them. Same reports as here."""
    import ansible  # pylint: disable=import-outside-toplevel
    shim = tmp_path / "payload"
    shim.mkdir()
    os.symlink(os.path.dirname(ansible.__file__), shim / "ansible")
    args = {"paths": [os.path.join(bins, "linux-amd64"), os.path.join(bins, "darwin-arm64")], "goos": "linux",
            "go_version": ">=1.27"}
    (tmp_path / "args.json").write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    done = subprocess.run([PY38, "-S", os.path.join(config.REPO, "plugins", "modules", "go_binary_arch.py"),
                           str(tmp_path / "args.json")], capture_output=True, text=True, check=False, timeout=120,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join([config.collections_root(), str(shim)])))
    result = json.loads(done.stdout)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    here = call(**args)
    assert result["binaries"] == here["binaries"] and result["msg"] == here["msg"]
    assert [m["expectation"] for m in result["mismatches"]] == ["goos", "goos"]  # the two darwin files


# ---- documentation ----------------------------------------------------------------------------
def test_ansible_doc_renders():
    done = subprocess.run(["ansible-doc", "gofleet.golang.go_binary_arch"], capture_output=True, text=True,
                          check=False, timeout=120, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert done.returncode == 0, done.stderr
    for word in ("paths", "goarch", "native", "go_version", "RETURN VALUES", "mismatches", "EXAMPLES"):
        assert word in done.stdout
    assert "WARNING" not in done.stderr, done.stderr


def test_examples_run_with_ansible_playbook(bins, progs, tmp_path):
    """The EXAMPLES as written, on localhost; only paths that cannot exist here become real ones:
    an official go as /usr/local/go/bin/go, a GOPATH/bin of real static programs, a real
    (mislabeled) arm64 artefact."""
    gopath_bin = tmp_path / "gopath-bin"
    gopath_bin.mkdir()
    for name in ("linux-amd64-static", "linux-amd64-stripped"):
        shutil.copyfile(progs[name], gopath_bin / name)
        (gopath_bin / name).chmod(0o755)
    text = go_binary_arch.EXAMPLES.replace("/usr/local/go/bin/go", os.path.join(bins, "linux-amd64", "go")).replace(
        "/home/deploy/go/bin", str(gopath_bin)).replace("/srv/dist/app-linux-arm64", progs["linux-arm-7"])
    tasks = yaml.safe_load(text)
    assert len(tasks) == 5
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=config.collections_root())
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           str(tmp_path / "play.yml")], env=env, capture_output=True, text=True, check=False,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed=0" in done.stdout and "ok=5" in done.stdout
    # and the assert of the last example really fails on a mislabeled file
    text = text.replace(progs["linux-arm-7"], progs["mislabeled"])
    play[0]["tasks"] = yaml.safe_load(text)[3:]
    (tmp_path / "play2.yml").write_text(yaml.safe_dump(play))
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           str(tmp_path / "play2.yml")], env=env, capture_output=True, text=True, check=False,
                          timeout=300)
    assert done.returncode == 2, done.stdout
    assert "the build settings say GOARCH=amd64 but the ELF header says arm64" in done.stdout
