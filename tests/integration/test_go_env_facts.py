# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""go_env_facts on real hosts: every finding reproduced with real official Go toolchains.

localhost: temporary homes with real GOROOTs (1.27.3 and 1.26.6 linux-amd64 from the mirror's
archives), the official linux-arm64 `go` run through qemu-user binfmt (a real emulated toolchain,
what Rosetta is on a Mac), a real darwin `go` (a real wrong-OS binary), real `go env -w` files.
Where a finding predicts what the go command does, the test runs the go command too.
Containers: bookworm-amd64 without gcc is a real "CGO_ENABLED=1 without a C compiler" host and,
with nothing mounted, a real host without Go; bookworm-arm64 runs entirely under qemu-user, so
(decisions.md) it is an arm64 host and its arm64 `go` counts as native there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.gofleet.golang.plugins.module_utils import _goenv
from ansible_collections.gofleet.golang.plugins.modules import go_env_facts

from testbed import ansible_module, config, mirror

HERE = os.path.dirname(os.path.abspath(__file__))
# The binary reader (module_utils/_binary) gives each installation's OS and architecture.
assert _goenv._binary is not None, "module_utils/_binary did not import"


@pytest.fixture(scope="module")
def roots(host_goroot):
    from testbed import images  # pylint: disable=import-outside-toplevel
    images.ensure_binfmt()  # the arm64 go runs through qemu-user, as an amd64 go does under Rosetta
    return {"new": host_goroot, "old": mirror.host_goroot(config.OLDSTABLE), "arm": mirror.host_goroot(config.NEWEST, "arm64")}


class Host:
    """This machine as one user sees it: a temporary HOME, a chosen PATH, no GO* variables."""

    def __init__(self, tmp_path, monkeypatch):
        self.tmp = tmp_path
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.mp = monkeypatch
        for k in list(os.environ):
            if k.startswith(("GO", "CGO_", "XDG_CONFIG")) or k in ("CC", "GOFLAGS"):
                monkeypatch.delenv(k)
        monkeypatch.setenv("HOME", str(self.home))
        self.gobin = str(self.home / "go" / "bin")
        self.path()

    def path(self, *dirs, gobin=True):
        value = list(dirs) + ([self.gobin] if gobin else []) + ["/usr/bin", "/bin"]
        self.mp.setenv("PATH", os.pathsep.join(value))
        return os.environ["PATH"]

    def env(self, **kw):
        for k, v in kw.items():
            self.mp.setenv(k, v)

    def go(self, go, *args, cwd=None):
        """Run a real go command in this user's environment."""
        return subprocess.run([go] + list(args), capture_output=True, text=True, cwd=cwd, check=False)

    def facts(self, check_mode=False, **args):
        args.setdefault("login_environment", False)
        args.setdefault("install_root", str(self.tmp / "opt-go"))
        args.setdefault("active_link", str(self.tmp / "usr-local-go"))
        result = ansible_module.call(go_env_facts.main, args, check_mode=check_mode)
        assert result.get("changed") is not True
        if not result.get("failed"):
            assert result["findings"] == result["ansible_facts"]["gofleet_go"]["findings"]
        return result

    def gofacts(self, **args):
        result = self.facts(**args)
        assert not result.get("failed"), result.get("msg")
        return result["ansible_facts"]["gofleet_go"]


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


@pytest.fixture
def probes(monkeypatch):
    """Every `go env` the module runs, by go binary."""
    calls = []
    real = _goenv.probe_go_env

    def counting(run, go, *args):
        calls.append(go)
        return real(run, go, *args)
    monkeypatch.setattr(_goenv, "probe_go_env", counting)
    return calls


def codes(facts):
    return [f["code"] for f in facts["findings"]]


def finding(facts, code):
    found = [f for f in facts["findings"] if f["code"] == code]
    assert len(found) == 1, facts["findings"]
    f = found[0]
    assert f["severity"] in _goenv.SEVERITIES and f["message"] and f["fix"]
    return f


# ---- a clean host ------------------------------------------------------------------------------
def test_clean_host_has_no_findings_and_probes_once(host, roots, probes):
    host.path(os.path.join(roots["new"], "bin"))
    facts = host.gofacts()
    assert facts["findings"] == [] and facts["summary"]["highest_severity"] is None
    go = facts["go"]
    assert go["goroot"] == roots["new"] and go["version"] == config.NEWEST and go["wins"]
    assert (go["goos"], go["goarch"], go["native"]) == ("linux", "amd64", True)
    assert facts["host"]["goarch"] == "amd64" and facts["host"]["translated"] is False
    assert facts["host"]["emulated_by"] is None
    # go env of the winner, probed with GOTOOLCHAIN=local; the setting as configured is go.env's auto
    assert facts["go_env"]["GOVERSION"] == "go" + config.NEWEST and facts["go_env"]["GOTOOLCHAIN"] == "local"
    assert facts["settings"]["GOTOOLCHAIN"] == {"value": "auto", "source": "goroot_go_env"}
    assert facts["env_file"]["path"] == str(host.home / ".config" / "go" / "env")
    assert probes == [os.path.join(roots["new"], "bin", "go")]
    # read-only: `go env` would create the build cache and telemetry counters in the home; the
    # probe sends them to a throw-away folder and reports the user's own paths
    assert list(host.home.rglob("*")) == []
    assert facts["go_env"]["GOCACHE"] == str(host.home / ".cache" / "go-build")
    assert facts["go_env"]["GOTELEMETRYDIR"] == str(host.home / ".config" / "go" / "telemetry")
    # check mode: the same picture, nothing changed
    again = host.facts(check_mode=True)
    assert again["ansible_facts"]["gofleet_go"]["findings"] == [] and again["changed"] is False


def test_module_as_a_separate_process(host, roots):
    host.path(os.path.join(roots["new"], "bin"))
    result = ansible_module.run("go_env_facts", {"login_environment": False, "install_root": str(host.tmp / "x"),
                                                 "active_link": str(host.tmp / "y")})
    assert result["rc"] == 0 and result["changed"] is False
    assert result["ansible_facts"]["gofleet_go"]["go"]["version"] == config.NEWEST


# ---- one test per finding -------------------------------------------------------------------------
def test_several_go_on_path_names_the_shadowed_one(host, roots, probes):
    old_bin, new_bin = os.path.join(roots["old"], "bin"), os.path.join(roots["new"], "bin")
    host.path(old_bin, new_bin)
    facts = host.gofacts()
    f = finding(facts, "MULTIPLE_GO_ON_PATH")
    assert f["winner"] == os.path.join(old_bin, "go") and f["shadowed"] == [os.path.join(new_bin, "go")]
    assert "go%s" % config.NEWEST in f["message"]
    # what a user typing `go` really gets
    assert host.go("go", "version").stdout.split()[2] == "go" + config.OLDSTABLE
    assert [e["path_index"] for e in facts["installations"][:2]] == [0, 1]
    assert probes == [os.path.join(old_bin, "go")]  # the shadowed one is read, not run


def test_goroot_mismatch(host, roots, tmp_path):
    host.path(os.path.join(roots["new"], "bin"))
    host.env(GOROOT=roots["old"])
    facts = host.gofacts()
    f = finding(facts, "GOROOT_MISMATCH")
    assert f["goroot"] == roots["old"] and f["go_root"] == roots["new"]
    assert facts["go_env"]["GOTOOLDIR"].startswith(roots["old"])
    # and the go command really mixes installations: the 1.27 go drives 1.26's compiler
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "go.mod").write_text("module m\n\ngo 1.26\n")
    (tmp_path / "m" / "main.go").write_text("package main\n\nfunc main() {}\n")
    done = host.go("go", "build", "-o", os.devnull, ".", cwd=str(tmp_path / "m"))
    assert done.returncode != 0 and "version" in done.stderr, done.stderr


def test_emulated_toolchain_arm64_go_under_qemu(host, roots):
    host.path(os.path.join(roots["arm"], "bin"))
    facts = host.gofacts()
    f = finding(facts, "EMULATED_TOOLCHAIN")
    assert f["goarch"] == "arm64" and f["severity"] == "warning"
    assert (facts["go"]["goarch"], facts["go"]["native"]) == ("arm64", False)
    # it really ran (through qemu) and builds arm64 by default
    assert facts["go_env"]["GOHOSTARCH"] == "arm64" and facts["go_env"]["GOARCH"] == "arm64"
    assert host.go("go", "version").stdout.strip().endswith("linux/arm64")


def test_foreign_arch_installation_not_in_use(host, roots):
    host.path(os.path.join(roots["new"], "bin"))
    (host.home / "sdk").mkdir()
    os.symlink(roots["arm"], str(host.home / "sdk" / "go1.27.3"))
    facts = host.gofacts()
    f = finding(facts, "FOREIGN_ARCH_INSTALLATION")
    assert f["severity"] == "info" and f["goroot"] == roots["arm"]
    sdk = [e for e in facts["installations"] if "sdk" in e["sources"]][0]
    assert sdk["goarch"] == "arm64" and sdk["native"] is False and sdk["path_index"] is None


def test_goos_goarch_persisted_in_env_file_and_environment(host, roots):
    host.path(os.path.join(roots["new"], "bin"))
    assert host.go("go", "env", "-w", "GOARCH=arm64").returncode == 0  # what users do
    host.env(GOOS="linux")
    facts = host.gofacts()
    got = sorted((f["variable"], f["source"]) for f in facts["findings"] if f["code"] == "GOOS_GOARCH_PERSISTED")
    assert got == [("GOARCH", "env_file"), ("GOOS", "environment")]
    assert facts["env_file"]["exists"] and facts["env_file"]["values"] == {"GOARCH": "arm64"}
    assert facts["go_env"]["GOARCH"] == "arm64"  # every build cross-compiles
    fix = [f["fix"] for f in facts["findings"] if f.get("variable") == "GOARCH"][0]
    assert "go env -u GOARCH" in fix


def test_gobin_not_on_path(host, roots):
    host.path(os.path.join(roots["new"], "bin"), gobin=False)
    facts = host.gofacts()
    assert (finding(facts, "GOBIN_NOT_ON_PATH")["severity"]) == "info"  # nothing installed there yet
    os.makedirs(host.gobin)
    shutil.copy(os.path.join(roots["new"], "bin", "gofmt"), os.path.join(host.gobin, "mytool"))
    f = finding(host.gofacts(), "GOBIN_NOT_ON_PATH")
    assert f["severity"] == "warning" and f["gobin"] == host.gobin
    assert shutil.which("mytool") is None  # really not found by name
    host.env(GOBIN=str(host.tmp / "tools"))
    assert finding(host.gofacts(), "GOBIN_NOT_ON_PATH")["gobin"] == str(host.tmp / "tools")


def test_cgo_enabled_with_a_missing_cc_on_localhost(host, roots):
    host.path(os.path.join(roots["new"], "bin"))
    assert host.go("go", "env", "-w", "CGO_ENABLED=1", "CC=gofleet-no-such-cc").returncode == 0
    f = finding(host.gofacts(), "CGO_WITHOUT_CC")
    assert f["cc"] == "gofleet-no-such-cc" and "go env file" in f["message"]


def test_foreign_pkg_tool_inside_a_goroot(host, roots, tmp_path):
    mixed = str(tmp_path / "go")
    subprocess.run(["cp", "-al", roots["new"], mixed], check=True)  # hard links: same files, no copy
    # what unpacking the arm64 archive over an amd64 GOROOT leaves behind
    subprocess.run(["cp", "-al", os.path.join(roots["arm"], "pkg", "tool", "linux_arm64"),
                    os.path.join(mixed, "pkg", "tool")], check=True)
    host.path(os.path.join(mixed, "bin"))
    f = finding(host.gofacts(), "FOREIGN_PKG_TOOL")
    assert f["goroot"] == mixed and f["tool_dirs"] == ["linux_arm64"]


def test_toolchain_auto_with_a_newer_go_mod(host, roots, tmp_path):
    host.path(os.path.join(roots["new"], "bin"))
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "go.mod").write_text("module example.com/p\n\ngo 1.28.0\n")
    facts = host.gofacts(project=str(proj))
    f = finding(facts, "TOOLCHAIN_AUTO_DOWNLOAD")
    assert f["needs"] == "1.28.0" and f["have"] == config.NEWEST
    assert facts["project"]["go"] == "1.28.0"
    # the go command really tries to download go1.28.0 there (it cannot: GOPROXY=off)
    host.env(GOPROXY="off")
    done = host.go("go", "list", cwd=str(proj))
    assert done.returncode != 0 and "go1.28.0" in done.stderr and "download" in done.stderr
    # with GOTOOLCHAIN=local set by the user, the same go.mod is a hard failure instead
    assert host.go("go", "env", "-w", "GOTOOLCHAIN=local").returncode == 0
    facts = host.gofacts(project=str(proj))
    assert "TOOLCHAIN_AUTO_DOWNLOAD" not in codes(facts)
    assert finding(facts, "GO_MOD_NEEDS_NEWER_GO")["needs"] == "1.28.0"
    assert "requires go >= 1.28.0" in host.go("go", "list", cwd=str(proj)).stderr
    # a go.mod the toolchain satisfies: nothing
    (proj / "go.mod").write_text("module example.com/p\n\ngo 1.27\n")
    assert not {"TOOLCHAIN_AUTO_DOWNLOAD", "GO_MOD_NEEDS_NEWER_GO"} & set(codes(host.gofacts(project=str(proj))))


def test_goproxy_off_and_goprivate_unset(host, roots):
    host.path(os.path.join(roots["new"], "bin"))
    host.env(GOPROXY="off")
    assert host.go("go", "env", "-w", "GONOSUMDB=corp.example.com").returncode == 0
    facts = host.gofacts()
    assert finding(facts, "GOPROXY_OFF")["source"] == "environment"
    assert finding(facts, "GOPRIVATE_UNSET")["variables"] == ["GONOSUMDB"]
    assert host.go("go", "env", "-w", "GOPRIVATE=corp.example.com").returncode == 0
    assert "GOPRIVATE_UNSET" not in codes(host.gofacts())


def test_go_installed_but_not_on_path(host, roots):
    os.makedirs(str(host.tmp / "opt-go"))
    os.symlink(roots["old"], str(host.tmp / "opt-go" / ("go" + config.OLDSTABLE)))
    host.path()
    facts = host.gofacts()
    f = finding(facts, "GO_NOT_ON_PATH")
    assert facts["go"] is None and facts["go_env"] is None
    assert roots["old"] in f["installations"]
    assert "install_root" in [e for e in facts["installations"] if e["goroot"] == roots["old"]][0]["sources"]


def test_a_go_for_another_os_does_not_run(host, go_binaries, tmp_path):
    root = tmp_path / "darwin-go"
    (root / "bin").mkdir(parents=True)
    shutil.copy(os.path.join(go_binaries, "darwin-amd64", "go"), str(root / "bin" / "go"))
    (root / "VERSION").write_text("go%s\n" % config.NEWEST)
    host.path()
    facts = host.gofacts(go=str(root / "bin" / "go"))
    assert facts["go"]["goos"] == "darwin" and facts["go"]["native"] is False
    assert finding(facts, "WRONG_OS_TOOLCHAIN")["severity"] == "error"
    assert "GO_NOT_RUNNABLE" in codes(facts) and "EMULATED_TOOLCHAIN" not in codes(facts)


def test_fail_on(host, roots):
    host.path(os.path.join(roots["arm"], "bin"))
    failed = host.facts(fail_on="warning")
    assert failed["failed"] and "EMULATED_TOOLCHAIN" in failed["msg"]
    assert failed["ansible_facts"]["gofleet_go"]["go"]["goarch"] == "arm64"  # facts still reported
    assert not host.facts(fail_on="error").get("failed")


def test_missing_go_option_path_fails_clearly(host):
    result = host.facts(go=str(host.tmp / "nope" / "go"))
    assert result["failed"] and "no such file" in result["msg"]


# ---- environments ---------------------------------------------------------------------------------
def test_login_shell_environment_decides(host, roots):
    """The module's own PATH has 1.27.3; the user's login profile puts 1.26.6 first and exports
    GOARCH: the login environment is what the user gets, so it is what is evaluated."""
    host.path(os.path.join(roots["new"], "bin"))
    (host.home / ".profile").write_text('export PATH="%s/bin:$HOME/go/bin:$PATH"\nexport GOARCH=amd64\n' % roots["old"])
    host.env(SHELL="/bin/bash")
    facts = host.gofacts(login_environment=True)
    assert facts["user"]["environment"] == "login shell"
    assert facts["go"]["goroot"] == roots["old"] and facts["go_env"]["GOVERSION"] == "go" + config.OLDSTABLE
    assert [(f["variable"], f["source"]) for f in facts["findings"] if f["code"] == "GOOS_GOARCH_PERSISTED"] == \
        [("GOARCH", "environment")]
    assert facts["path"][0] == os.path.join(roots["old"], "bin")


def test_another_user_without_a_login_shell_gets_the_fallback(host):
    facts = host.gofacts(user="nobody", login_environment=True)
    assert facts["user"]["name"] == "nobody" and facts["user"]["environment"] == "fallback"
    assert facts["user"]["login_error"]
    assert facts["env_file"]["path"].startswith(facts["user"]["home"])


def test_unknown_user_fails_clearly(host):
    result = host.facts(user="gofleet-no-such-user")
    assert result["failed"] and "no such user" in result["msg"]


# ---- containers -------------------------------------------------------------------------------------
def _container_module(image, tmp_path, runs, mounts=(), setup=(), timeout=600):
    """Run the module (as Ansible does in the end: python3 module.py args.json) in a container of
    `image`, once per args dict in `runs`; return the results. The collection and ansible-core's
    module_utils are mounted read-only; the container has no Ansible of its own."""
    from testbed import images  # pylint: disable=import-outside-toplevel
    import ansible  # pylint: disable=import-outside-toplevel
    work = tmp_path / "work"
    work.mkdir()
    script = ["set -e"] + list(setup)
    for i, args in enumerate(runs):
        (work / ("args%d.json" % i)).write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        script.append("echo @@%d; PYTHONPATH=/coll python3 /coll/ansible_collections/gofleet/golang/plugins/modules/"
                      "go_env_facts.py /work/args%d.json || true" % (i, i))
    vols = ["-v", "%s:/coll/ansible_collections/gofleet/golang:ro" % config.REPO,
            "-v", "%s:/coll/ansible:ro" % os.path.dirname(ansible.__file__), "-v", "%s:/work:ro" % work]
    for src, dst in mounts:
        vols += ["-v", "%s:%s:ro" % (src, dst)]
    done = images.podman("run", "--rm", "--network", "none", *vols, images.image_ref(image),
                         "sh", "-c", "\n".join(script), check=False, timeout=timeout)
    assert done.returncode == 0, done.stderr
    out = []
    for i, part in enumerate(done.stdout.split("@@")[1:]):
        text = part.split("\n", 1)[1]
        out.append(json.loads(text[text.index("{"):]))
        assert int(part.split("\n", 1)[0]) == i
    return out


@pytest.mark.containers
def test_container_without_gcc_and_without_go(distro_images, roots, tmp_path):
    profile = tmp_path / "go.sh"
    profile.write_text('export PATH="/usr/local/go/bin:$PATH"\nexport CGO_ENABLED=1\n')
    with_go = _container_module("bookworm-amd64", tmp_path, [
        {},  # login environment: /etc/profile.d/go.sh puts Go on PATH and asks for cgo
        {"login_environment": False},  # the bare process environment: no Go on PATH, cgo not asked
        {"user": "gopher"},  # another user's login environment, through su -
    ], mounts=[(roots["new"], "/usr/local/go"), (str(profile), "/etc/profile.d/go.sh")],
        setup=["useradd -m -s /bin/bash gopher", "echo 'export GOARCH=arm64' >> /home/gopher/.profile"])
    login = with_go[0]["ansible_facts"]["gofleet_go"]
    assert login["go"]["go"] == "/usr/local/go/bin/go" and login["go"]["native"] is True
    assert login["settings"]["CGO_ENABLED"] == {"value": "1", "source": "environment"}
    f = finding(login, "CGO_WITHOUT_CC")
    assert f["cc"] == "gcc" and "environment" in f["message"]
    bare = with_go[1]["ansible_facts"]["gofleet_go"]
    assert "GO_NOT_ON_PATH" in codes(bare) and "CGO_WITHOUT_CC" not in codes(bare)
    assert ["usr_local_go" in e["sources"] or "active_link" in e["sources"] for e in bare["installations"]] == [True]

    gopher = with_go[2]["ansible_facts"]["gofleet_go"]
    assert gopher["user"] == {"name": "gopher", "home": "/home/gopher", "environment": "login shell", "login_error": None}
    assert gopher["go"]["go"] == "/usr/local/go/bin/go" and gopher["go_env"]["GOPATH"] == "/home/gopher/go"
    assert [(f["variable"], f["source"]) for f in gopher["findings"] if f["code"] == "GOOS_GOARCH_PERSISTED"] == \
        [("GOARCH", "environment")]
    assert gopher["go_env"]["GOARCH"] == "arm64"

    (tmp_path / "work").rename(tmp_path / "work1")
    no_go = _container_module("bookworm-amd64", tmp_path, [{}, {"fail_on": "error"}])
    assert codes(no_go[0]["ansible_facts"]["gofleet_go"]) == ["NO_GO"] and not no_go[0].get("failed")
    assert no_go[1]["failed"] and "NO_GO" in no_go[1]["msg"]


@pytest.mark.containers
@pytest.mark.arm64
def test_arm64_container_is_an_arm64_host(distro_images, roots, tmp_path):
    """A whole qemu-user container (uname -m aarch64) is an arm64 host: its arm64 go is native."""
    res = _container_module("bookworm-arm64", tmp_path, [{"go": "/usr/local/go/bin/go", "login_environment": False}],
                            mounts=[(roots["arm"], "/usr/local/go")])[0]
    facts = res["ansible_facts"]["gofleet_go"]
    assert facts["host"]["kernel_machine"] == "aarch64" and facts["host"]["goarch"] == "arm64"
    assert facts["host"]["emulated_by"] == "qemu-user"  # said as a fact about the host, not a finding
    assert facts["go"]["goarch"] == "arm64" and facts["go"]["native"] is True
    assert facts["go_env"]["GOARCH"] == "arm64"
    assert "EMULATED_TOOLCHAIN" not in codes(facts)


# ---- EXAMPLES run for real ----------------------------------------------------------------------------
def test_examples_run_with_ansible_playbook(host, roots, tmp_path):
    """The module's EXAMPLES, as written, in a playbook on localhost; only the paths and user name
    that cannot exist here are replaced by real ones (a real project, a real go, this user)."""
    proj = tmp_path / "app"
    proj.mkdir()
    (proj / "go.mod").write_text("module example.com/app\n\ngo 1.27\n")
    text = go_env_facts.EXAMPLES.replace("/srv/app", str(proj)).replace(
        "/opt/go/go1.27.3/bin/go", os.path.join(roots["new"], "bin", "go")).replace(
        "user: deploy", "user: %s" % _goenv.user_info()[0]).replace(
        "/usr/local/go/bin/", os.path.join(roots["new"], "bin") + "/")
    tasks = yaml.safe_load(text)
    assert len(tasks) == 6
    (host.home / ".profile").write_text('export PATH="%s/bin:$HOME/go/bin:$PATH"\n' % roots["new"])
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, SHELL="/bin/bash", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR="1")
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", str(tmp_path / "play.yml")], env=env,
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed=0" in done.stdout
    # six tasks, each run; the findings loop is skipped when this clean host has none
    stats = re.search(r"ok=(\d+)\s.*skipped=(\d+)", done.stdout)
    assert stats and int(stats.group(1)) + int(stats.group(2)) == 6 and int(stats.group(2)) <= 1, done.stdout


# ---- native_binaries: the proof's binary check in the same call --------------------------------------
def test_native_binaries_proves_official_binaries_and_names_each_that_is_not(host, roots, tmp_path):
    """The official linux-amd64 go and gofmt are native here; the official linux-arm64 go runs on this
    amd64 machine only through qemu-user (binfmt on): the call fails naming it and why, with the facts
    still returned; a missing path and a script are named too, never a traceback."""
    new, arm = roots["new"], roots["arm"]
    ok = host.facts(native_binaries=[new + "/bin/go", new + "/bin/gofmt"])
    assert not ok.get("failed"), ok.get("msg")
    assert [(b["path"], b["native"], b["goarch"]) for b in ok["binaries"]] == [
        (new + "/bin/go", True, "amd64"), (new + "/bin/gofmt", True, "amd64")]
    script = tmp_path / "not-a-binary"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    bad = host.facts(native_binaries=[new + "/bin/go", arm + "/bin/go", str(tmp_path / "missing"), str(script)])
    assert bad.get("failed") and bad["msg"].startswith("3 of 4 binaries not native to this host"), bad["msg"]
    assert "%s/bin/go: linux/arm64 on a linux/amd64 node is not native (it runs only emulated" % arm in bad["msg"]
    assert str(tmp_path / "missing") in bad["msg"] and str(script) in bad["msg"]
    assert "Traceback" not in bad["msg"] and bad["ansible_facts"]["gofleet_go"]["host"]["goarch"] == "amd64"
