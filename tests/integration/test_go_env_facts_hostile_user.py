# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""go_env_facts `user:` against a hostile second user (issue 14, item 1), for real.

A real second Unix user (the `second_user` fixture) controls their ~/.profile, their PATH (a `go`
first on it), CC, LD_PRELOAD (a real shared object built with gcc, whose constructor writes a
marker), GOENV (a named pipe, /dev/zero, a root-only file), a project's go.mod, and the names of
their environment's variables (`--split-string`, `-i`, a NUL in a value). Root runs the module for
that user, as Ansible does (its own process, python module.py args.json). Every payload writes
`id -u` into a marker file in a world-writable folder: a marker written as the user is fine (the
attack code is theirs to run as themselves), a root-owned one is the bug. The module must finish in
bounded time (the process has a deadline and a 4 GiB address-space limit, so a module that reads
/dev/zero or blocks on a pipe fails the test instead of the machine) and the facts must still be
right: the user's env file and GOARCH, the real toolchain's `go env`.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import ansible
import pytest

from testbed import config

DEADLINE = 60  # seconds the whole module run may take, whatever the user does
MEMORY = 4 << 30  # address space of the module process (and of what it starts)
PROBE_TIMEOUT = 4  # the module's `timeout` option in the tests that make a probe hang
SECRET = "secret.gofleet.example"
# The node's interpreter, as Ansible picks it on Debian: the test bed's venv lives under /root, where
# the second user cannot run it (the module then finds /usr/bin/python3 for the user's side by
# itself; the unit tests of _runas cover that). Running the module with the system Python makes the
# old code's attacks work as they would on a real node, where the user can run the module's Python.
NODE_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


@pytest.fixture
def marks():
    """A world-writable folder for the payloads' markers (sticky, like /tmp)."""
    path = tempfile.mkdtemp(prefix="gofleet-marks-")
    os.chmod(path, 0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Victim:
    """The second user as an attacker sets them up: files in their home, owned by them."""

    def __init__(self, user, goroot, marks, tmp_path):
        self.user, self.goroot, self.marks, self.tmp = user, goroot, marks, tmp_path
        self.home = user.home
        self.bin = self.mkdir("bin")

    def mkdir(self, *parts):
        path = self.home
        for part in parts:
            path = os.path.join(path, part)
            if not os.path.isdir(path):
                os.mkdir(path)
                os.chown(path, self.user.uid, self.user.gid)
        return path

    def profile(self, text):
        """~/.profile, read by the login shell (bash -l: no ~/.bash_profile in a fresh home)."""
        for name in (".bash_profile", ".bash_login"):
            if os.path.exists(os.path.join(self.home, name)):
                os.unlink(os.path.join(self.home, name))
        return self.user.write(os.path.join(self.home, ".profile"), text)

    def script(self, name, body):
        return self.user.write(os.path.join(self.bin, name), "#!/bin/sh\n" + body, mode=0o755)

    def payload(self, tag):
        """Shell code that leaves a marker: who ran it."""
        return 'id -u > "%s/%s.$$"\n' % (self.marks, tag)

    def env_file(self, text="GOARCH=arm64\n"):
        """The user's go env file in the default place, as `go env -w GOARCH=arm64` writes it."""
        self.mkdir(".config", "go")
        return self.user.write(os.path.join(self.home, ".config", "go", "env"), text)

    def path_line(self, *first):
        return 'export PATH="%s:$PATH"\n' % ":".join(list(first) + [os.path.join(self.goroot, "bin")])


@pytest.fixture
def victim(second_user, host_goroot, marks, tmp_path):
    return Victim(second_user, host_goroot, marks, tmp_path)


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_module(tmp_path, args, deadline=DEADLINE):
    """go_env_facts as its own root process (as Ansible runs it); (result, seconds). A module that
    has not finished by `deadline` is killed and the test fails."""
    args_file = tmp_path / ("args-%d.json" % time.monotonic_ns())
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=False)}))
    module = os.path.join(config.REPO, "plugins", "modules", "go_env_facts.py")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([config.collections_root(),
                                                       os.path.dirname(os.path.dirname(ansible.__file__))]))
    start = time.monotonic()
    proc = subprocess.Popen([NODE_PYTHON, module, str(args_file)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_limits,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        pytest.fail("go_env_facts did not finish in %d s (it blocks on what the user controls)" % deadline)
    took = time.monotonic() - start
    assert "Traceback" not in out + err, out + err
    try:
        result = json.loads(out[out.index("{"):])
    except ValueError:
        pytest.fail("go_env_facts printed no JSON (rc %s): %s %s" % (proc.returncode, out[-2000:], err[-2000:]))
    return result, took


def facts_for(victim, **args):
    args.setdefault("install_root", str(victim.tmp / "opt-go"))
    args.setdefault("active_link", str(victim.tmp / "usr-local-go"))
    result, took = run_module(victim.tmp, dict(args, user=victim.user.name))
    assert not result.get("failed"), result.get("msg")
    return result["ansible_facts"]["gofleet_go"], result, took


def markers(victim, tag=None):
    """[(name, owner uid, content)] of the markers the payloads left."""
    out = []
    for name in sorted(os.listdir(victim.marks)):
        if tag and not name.startswith(tag + "."):
            continue
        path = os.path.join(victim.marks, name)
        st = os.lstat(path)
        with open(path) as f:
            out.append((name, st.st_uid, f.read().strip()))
    return out


def assert_ran_only_as_the_user(victim, tag):
    """No root-owned marker at all; the payload `tag` ran (at least once), only ever as the user."""
    root_owned = [m for m in markers(victim) if m[1] == 0 or m[2] == "0"]
    assert not root_owned, "ran as root: %s" % root_owned
    found = markers(victim, tag)
    assert found, "the %s payload never ran (the test did not attack anything)" % tag
    assert all(m[1] == victim.user.uid and m[2] == str(victim.user.uid) for m in found), found


def assert_right_facts(victim, facts, go=None):
    """What the user really has: the real toolchain's go env as they get it, their env file's GOARCH."""
    assert facts["user"]["name"] == victim.user.name and facts["user"]["environment"] == "login shell"
    assert facts["user"]["login_error"] is None
    assert facts["go_env_error"] is None, facts["go_env_error"]
    assert facts["go"]["go"] == (go or os.path.join(victim.goroot, "bin", "go"))
    assert facts["go_env"]["GOVERSION"] == "go" + config.NEWEST
    assert facts["go_env"]["GOROOT"] == victim.goroot
    assert facts["go_env"]["GOARCH"] == "arm64" and facts["go_env"]["GOHOSTARCH"] == "amd64"
    assert facts["go_env"]["GOPATH"] == os.path.join(victim.home, "go")
    assert facts["go_env"]["GOENV"] == os.path.join(victim.home, ".config", "go", "env")
    assert [(f["variable"], f["source"]) for f in facts["findings"] if f["code"] == "GOOS_GOARCH_PERSISTED"] == \
        [("GOARCH", "env_file")]
    assert facts["env_file"] == {"path": os.path.join(victim.home, ".config", "go", "env"), "exists": True,
                                 "values": {"GOARCH": "arm64"}, "error": None}


def assert_nothing_left(victim):
    """The probe's scratch folders are gone; nothing of root's was left in the user's home."""
    left = [p for p in os.listdir(tempfile.gettempdir()) if p.startswith("gofleet-goenv-")
            and os.lstat(os.path.join(tempfile.gettempdir(), p)).st_uid == victim.user.uid]
    assert left == []
    for top, dirs, files in os.walk(victim.home):
        for name in dirs + files:
            assert os.lstat(os.path.join(top, name)).st_uid == victim.user.uid, os.path.join(top, name)


# ---- code the user's environment names -----------------------------------------------------------
def test_a_go_first_on_the_users_path_runs_as_the_user(victim):
    """Old code: `go env -json` of the user's PATH `go` ran as root (root-owned marker)."""
    real = os.path.join(victim.goroot, "bin", "go")
    go = victim.script("go", victim.payload("path-go") + 'exec "%s" "$@"\n' % real)
    victim.env_file()
    victim.profile(victim.path_line(victim.bin))
    facts, dummy, took = facts_for(victim)
    assert_ran_only_as_the_user(victim, "path-go")
    assert_right_facts(victim, facts, go=go)
    assert took < 30
    assert_nothing_left(victim)


def test_the_users_cc_runs_as_the_user(victim):
    """`go env -json` runs $CC to probe its flags. Old code: as root."""
    cc = victim.script("evilcc", victim.payload("cc") + 'exec gcc "$@"\n')
    victim.env_file()
    victim.profile(victim.path_line() + "export CGO_ENABLED=1 CC=%s\n" % cc)
    facts, dummy, dummy = facts_for(victim)
    assert_ran_only_as_the_user(victim, "cc")
    assert_right_facts(victim, facts)
    assert facts["go_env"]["CC"] == cc and facts["go_env"]["CGO_ENABLED"] == "1"
    assert "CGO_WITHOUT_CC" not in [f["code"] for f in facts["findings"]]


def test_the_users_ld_preload_loads_only_into_the_users_processes(victim):
    """A real shared object whose constructor writes a marker. Old code: root's env(1) and the C
    compiler `go env` starts loaded it."""
    src = victim.tmp / "mark.c"
    src.write_text('#include <stdio.h>\n#include <unistd.h>\n'
                   '__attribute__((constructor)) static void gofleet_mark(void) {\n'
                   '    char path[4096];\n'
                   '    snprintf(path, sizeof path, "%s/preload.%%d", (int)getpid());\n'
                   '    FILE *f = fopen(path, "w");\n'
                   '    if (f) { fprintf(f, "%%d\\n", (int)geteuid()); fclose(f); }\n'
                   '}\n' % victim.marks)
    lib = os.path.join(victim.home, "mark.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", lib, str(src)], check=True, capture_output=True)
    os.chown(lib, victim.user.uid, victim.user.gid)
    victim.env_file()
    victim.profile(victim.path_line() + "export LD_PRELOAD=%s\n" % lib)
    facts, dummy, dummy = facts_for(victim)
    assert_ran_only_as_the_user(victim, "preload")
    assert_right_facts(victim, facts)


FORGED = {
    # env(1)'s -S: the value is split into a command, which root's /usr/bin/env ran
    "split-string": ("--split-string", "sh -c 'id -u > {marks}/split.0'"),
    # an option that makes root's env(1) fail: go env "did not run", a false GO_NOT_RUNNABLE
    "dash-i": ("-i", "x"),
    # a NUL in a value: root's Popen raised, the module died with a traceback
    "nul": ("GOFLEET_NUL", "a\x00b"),
}


@pytest.mark.parametrize("forged", sorted(FORGED))
def test_the_users_profile_runs_as_the_user_and_cannot_name_variables_that_are_options(victim, forged):
    """The login shell prints what it likes: here the user's real environment plus one variable no
    program can be given. Old code: those names went to root's /usr/bin/env as arguments."""
    name, value = FORGED[forged]
    victim.env_file()
    forge = ("import json, os\n"
             "e = dict(os.environ)\n"
             "e[%r] = %r\n"
             "print('@@gofleet-env@@' + json.dumps(e))\n" % (name, value.format(marks=victim.marks)))
    victim.user.write(os.path.join(victim.home, "forge.py"), forge)
    victim.profile(victim.payload("profile") + victim.path_line()
                   + "exec /usr/bin/python3 -I -S %s/forge.py\n" % victim.home)
    facts, dummy, dummy = facts_for(victim)
    assert_ran_only_as_the_user(victim, "profile")
    assert markers(victim, "split") == []  # the value was never run at all
    assert_right_facts(victim, facts)
    assert facts["ignored_variables"] == [name]


@pytest.mark.parametrize("profile,why", [("sleep 600\n", "timeout"), ("cat /dev/zero\n", "printed more than")],
                         ids=["never-ends", "floods-stdout"])
def test_a_profile_that_never_ends_or_floods_is_stopped(victim, profile, why):
    """Old code: the login shell ran without deadline or cap (the module hung, or filled memory)."""
    victim.env_file()
    victim.profile(victim.payload("profile") + profile)
    facts, dummy, took = facts_for(victim, timeout=PROBE_TIMEOUT)
    assert took < PROBE_TIMEOUT + 15
    assert facts["user"]["environment"] == "fallback" and why in facts["user"]["login_error"]
    assert_ran_only_as_the_user(victim, "profile")
    # the fallback still finds the user's env file
    assert facts["env_file"]["values"] == {"GOARCH": "arm64"}


# ---- files the user's environment names ---------------------------------------------------------------
def _goenv_target(victim, kind):
    if kind == "fifo":
        path = os.path.join(victim.home, "envpipe")
        victim.user.run("mkfifo %s" % path)
        return path, "a named pipe, not a regular file"
    if kind == "dev-zero":
        return "/dev/zero", "a character device, not a regular file"
    secret_dir = tempfile.mkdtemp(prefix="gofleet-rootonly-", dir=str(victim.tmp.parent))
    os.chmod(secret_dir, 0o755)
    path = os.path.join(secret_dir, "env")
    with open(path, "w") as f:
        f.write("GOPRIVATE=%s\nGONOSUMDB=%s\n" % (SECRET, SECRET))
    os.chmod(path, 0o600)
    os.chmod(str(victim.tmp.parent), 0o755)  # the folder above is reachable; the file is root's only
    return path, "Permission denied"


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "root-only"])
def test_goenv_naming_a_pipe_a_device_or_a_root_only_file(victim, kind):
    """Old code: root read $GOENV itself - a named pipe blocked the module for ever, /dev/zero filled
    its memory, a root-only file's settings came back in the facts (and root's `go env` read it)."""
    path, why = _goenv_target(victim, kind)
    victim.profile(victim.path_line() + "export GOENV=%s GOARCH=arm64\n" % path)
    facts, result, took = facts_for(victim)
    assert took < 30
    assert SECRET not in json.dumps(result)
    env_file = facts["env_file"]
    assert env_file["path"] == path and env_file["exists"] is False and env_file["values"] == {}
    assert why in env_file["error"] and "read as %s" % victim.user.name in env_file["error"]
    finding = [f for f in facts["findings"] if f["code"] == "ENV_FILE_UNUSABLE"]
    assert len(finding) == 1 and finding[0]["env_file"] == path
    # the rest is right: the real go, as the user, with their GOARCH, GOENV reported as they set it
    assert facts["go_env"]["GOVERSION"] == "go" + config.NEWEST and facts["go_env"]["GOARCH"] == "arm64"
    assert facts["go_env"]["GOENV"] == path and facts["go_env"]["GOPATH"] == os.path.join(victim.home, "go")
    assert facts["settings"]["GOARCH"] == {"value": "arm64", "source": "environment"}
    if kind == "fifo":
        assert stat.S_ISFIFO(os.stat(path).st_mode)  # still there, never opened for writing


def test_a_project_go_mod_that_is_a_pipe(victim):
    """Old code: root opened <project>/go.mod, a named pipe in the user's project: blocked for ever."""
    proj = victim.mkdir("proj")
    victim.user.run("mkfifo %s/go.mod" % proj)
    victim.env_file()
    victim.profile(victim.path_line())
    facts, dummy, took = facts_for(victim, project=proj)
    assert took < 30
    assert "a named pipe" in facts["project"]["error"] and facts["project"]["exists"] is False
    assert "GO_MOD_UNREADABLE" in [f["code"] for f in facts["findings"]]
    assert_right_facts(victim, facts)


# ---- no input ends in a traceback ------------------------------------------------------------------
@pytest.mark.parametrize("args,msg", [
    ({"user": "gofleet\x00root"}, "no such user"),
    ({"user": "gofleet-no-such-user"}, "no such user"),
    ({"project": "{zero}"}, None),
    ({"project": "/tmp/x\x00y"}, None),
    ({"go": "/usr/bin/go\x00x"}, "no such file"),
    ({"timeout": 0}, "timeout=0"),
], ids=["nul-in-user", "unknown-user", "project-dev-zero", "nul-in-project", "nul-in-go", "timeout-0"])
def test_no_input_ends_in_a_traceback(tmp_path, args, msg):
    """Every input fails once with a message, or reports: never a traceback (run_module asserts)."""
    if args.get("project") == "{zero}":  # a go.mod that is /dev/zero: old code read it to the end of memory
        (tmp_path / "zero").mkdir()
        os.symlink("/dev/zero", str(tmp_path / "zero" / "go.mod"))
        args = dict(args, project=str(tmp_path / "zero"))
    result, took = run_module(tmp_path, dict(args, login_environment=False, install_root=str(tmp_path / "o"),
                                             active_link=str(tmp_path / "l")))
    assert took < 30
    if msg:
        assert result.get("failed") and msg in result["msg"], result
    else:
        assert not result.get("failed"), result
        project = result["ansible_facts"]["gofleet_go"]["project"]
        assert project["error"] and project["exists"] is False
