# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/_runas for real: a real second Unix user (the `second_user` fixture), real
processes, real named pipes and devices. The privilege drop is checked from inside the child
(`id`), with root holding supplementary groups the child must not keep, on this Python (>= 3.9:
user=, group=, extra_groups=), with the Python 3.8 path forced, and on pyenv's real Python 3.8.
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

from ansible_collections.gofleet.golang.plugins.module_utils import _runas

from testbed.config import collections_root


def _pyenv(prefix):
    """The newest of pyenv's Pythons whose version starts with `prefix` ('3.8.'), else None."""
    top = os.path.expanduser("~/.pyenv/versions")
    found = sorted(v for v in (os.listdir(top) if os.path.isdir(top) else []) if v.startswith(prefix)
                   and os.path.exists(os.path.join(top, v, "bin", "python")))
    return os.path.join(top, found[-1], "bin", "python") if found else None


PY38, PY313 = _pyenv("3.8."), _pyenv("3.13.")
ENV = {"PATH": "/usr/bin:/bin"}
ROOT_GROUPS = [0, 4, 27]  # root's supplementary groups in the drop tests (adm, sudo on Debian)


def _gone(pid, within=5.0):
    """True once process `pid` no longer exists (killed and reaped by init)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(") ", 1)[1].startswith("Z"):
                    return True
        except (OSError, IndexError):
            return True
        time.sleep(0.05)
    return False


# ---- the environment -----------------------------------------------------------------------------
def test_the_program_gets_exactly_the_environment():
    rc, out, err = _runas.run(["env"], env={"A": "1", "PATH": "/usr/bin:/bin"})
    assert (rc, err) == (0, "") and sorted(out.split()) == ["A=1", "PATH=/usr/bin:/bin"]


@pytest.mark.parametrize("env", [{"-i": "x"}, {"--split-string": "sh -c 'touch %(m)s'"}, {"A=B": "1"},
                                 {"1A": "1"}, {"": "1"}, {"A B": "1"}, {"A": "x\x00y"}, {"\u00e9": "1"}],
                         ids=["dash-i", "split-string", "equals", "digit-first", "empty", "space", "nul", "non-ascii"])
def test_names_that_are_not_variable_names_are_refused(tmp_path, env):
    mark = str(tmp_path / "ran")
    env = dict((k, v % {"m": mark}) for k, v in env.items())
    with pytest.raises(_runas.RunAsError, match="refused"):
        _runas.run(["sh", "-c", "touch %s" % mark], env=dict(ENV, **env))
    assert not os.path.exists(mark)
    kept, refused = _runas.clean_env(dict(ENV, **env))
    assert kept == ENV and len(refused) == 1


def test_an_environment_must_be_given():
    with pytest.raises(_runas.RunAsError, match="no environment"):
        _runas.run(["true"])


# ---- the privilege drop ---------------------------------------------------------------------------
_DROP = r"""
import json, os, sys
from ansible_collections.gofleet.golang.plugins.module_utils import _runas
os.setgroups(%(root_groups)r)  # root holds groups the child must not keep
if %(force)r:
    _runas.USE_PREEXEC = True
acct = _runas.account(%(name)r)
rc, out, err = _runas.run(["sh", "-c", "id -u; id -g; id -G; id -ru; id -rg; touch %(mark)s"], acct,
                          env={"PATH": "/usr/bin:/bin"}, cwd="/")
print(json.dumps({"rc": rc, "out": out, "err": err, "py": list(sys.version_info[:2]),
                  "preexec": _runas.USE_PREEXEC, "groups": list(acct.groups)}))
"""


def _drop_in(python, user, tmp_path, force=False):
    marks = tempfile.mkdtemp(prefix="gofleet-runas-")
    os.chmod(marks, 0o1777)
    mark = os.path.join(marks, "made")
    try:
        code = _DROP % {"root_groups": ROOT_GROUPS, "force": force, "name": user.name, "mark": mark}
        done = subprocess.run([python, "-c", code], env={"PYTHONPATH": collections_root(), "PATH": "/usr/bin:/bin"},
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        res = json.loads(done.stdout.strip().splitlines()[-1])
        st = os.stat(mark)
        res["made"] = (st.st_uid, st.st_gid)
    finally:
        shutil.rmtree(marks, ignore_errors=True)
    return res


def _assert_dropped(res, user):
    assert res["rc"] == 0, res
    uid, gid, groups, ruid, rgid = res["out"].split("\n")[:5]
    assert int(uid) == int(ruid) == user.uid and int(gid) == int(rgid) == user.gid
    want = sorted(os.getgrouplist(user.name, user.gid))
    assert sorted(int(g) for g in groups.split()) == want == sorted(res["groups"])
    assert not set(ROOT_GROUPS) & set(int(g) for g in groups.split())  # root's groups did not follow
    assert res["made"] == (user.uid, user.gid)  # what the child writes is the user's


def test_another_user_gets_uid_gid_and_only_their_groups(second_user, tmp_path):
    res = _drop_in(sys.executable, second_user, tmp_path)
    assert res["preexec"] is (sys.version_info < (3, 9))
    _assert_dropped(res, second_user)


def test_the_python_3_8_path_setgroups_setgid_setuid(second_user, tmp_path):
    """The preexec_fn path (what Python 3.8 uses), forced on this interpreter."""
    res = _drop_in(sys.executable, second_user, tmp_path, force=True)
    assert res["preexec"] is True
    _assert_dropped(res, second_user)


@pytest.mark.parametrize("python,version", [(PY38, [3, 8]), (PY313, [3, 13])], ids=["python-3.8", "python-3.13"])
def test_on_the_oldest_and_newest_python(second_user, tmp_path, python, version):
    """Module code runs on 3.8 to 3.13 (decisions.md): 3.8 drops through preexec_fn, 3.13 through
    user=/group=/extra_groups=."""
    if not python:
        pytest.skip("pyenv's Python %d.%d is not installed" % tuple(version))
    res = _drop_in(python, second_user, tmp_path)
    assert res["py"] == version and res["preexec"] is (version < [3, 9])
    _assert_dropped(res, second_user)


@pytest.mark.skipif(not PY38, reason="pyenv's Python 3.8 is not installed")
def test_reading_as_another_user_on_a_real_python_3_8(second_user, tmp_path):
    secret = tmp_path / "root-only"
    secret.write_text("GOPRIVATE=x\n")
    os.chmod(str(secret), 0o600)
    open_file = second_user.write(os.path.join(second_user.home, "env"), "GOARCH=arm64\n")
    code = ("import json, sys\n"
            "from ansible_collections.gofleet.golang.plugins.module_utils import _runas\n"
            "a = _runas.account(%r)\n"
            "out = [_runas.read_file(%r, a).decode()]\n"
            "for p in (%r, '/dev/zero'):\n"
            "    try:\n"
            "        _runas.read_file(p, a)\n"
            "    except _runas.ReadError as e:\n"
            "        out.append(e.reason)\n"
            "print(json.dumps([sys.version_info[:2], out]))\n" % (second_user.name, open_file, str(secret)))
    done = subprocess.run([PY38, "-c", code], env={"PYTHONPATH": collections_root(), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [[3, 8], ["GOARCH=arm64\n", "unreadable", "not_regular"]]


def test_the_running_user_runs_normally():
    me = _runas.account()
    assert _runas.is_self(me) and _runas.is_self(None)
    rc, out, dummy = _runas.run(["id", "-u"], me, env=ENV)
    assert rc == 0 and int(out) == os.geteuid()


def test_another_user_without_root_is_refused(second_user, tmp_path):
    """The runner never pretends: as a plain user, running as root (or anyone) is an error."""
    copy = tempfile.mkdtemp(prefix="gofleet-runas-copy-")
    try:
        dst = os.path.join(copy, "ansible_collections", "gofleet", "golang", "plugins", "module_utils")
        os.makedirs(dst)
        src = os.path.dirname(_runas.__file__)
        for name in ("_runas.py", "_errors.py"):
            shutil.copy(os.path.join(src, name), dst)
        for top, dirs, files in os.walk(copy):
            os.chmod(top, 0o755)
            for f in files:
                os.chmod(os.path.join(top, f), 0o644)
        code = ("from ansible_collections.gofleet.golang.plugins.module_utils import _runas\n"
                "try:\n"
                "    _runas.run(['id'], _runas.account('root'), env={'PATH': '/usr/bin:/bin'})\n"
                "except _runas.RunAsError as e:\n"
                "    print('refused:', e)\n")
        done = subprocess.run([shutil.which("runuser") or "/usr/sbin/runuser", "-u", second_user.name, "--", "/usr/bin/python3", "-c", code],
                              env={"PYTHONPATH": copy, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert "refused: running a program as root needs root" in done.stdout
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def test_unknown_users_are_a_clear_error():
    for name in ("gofleet-no-such-user", "a\x00b", ""):
        with pytest.raises(_runas.RunAsError, match="no such user"):
            _runas.account(name)


# ---- deadline, caps, leftovers ----------------------------------------------------------------------
def test_a_program_past_its_deadline_is_killed_with_its_jobs(tmp_path, second_user):
    pidfile = os.path.join(tempfile.gettempdir(), "gofleet-runas-%d" % os.getpid())
    start = time.monotonic()
    with pytest.raises(_runas.Timeout, match="timeout"):
        _runas.run(["sh", "-c", "sleep 60 & echo $! > %s; sleep 60" % pidfile], _runas.account(second_user.name),
                   env=ENV, cwd="/", timeout=1)
    assert time.monotonic() - start < 5
    with open(pidfile) as f:
        job = int(f.read())
    os.unlink(pidfile)
    assert _gone(job), "the background job outlived the deadline"


def test_a_job_holding_the_pipes_does_not_hold_the_caller():
    """A login profile that starts a background job (which keeps stdout open) is done when its
    shell is; the job is killed with the rest of the session."""
    start = time.monotonic()
    rc, out, dummy = _runas.run(["sh", "-c", "sleep 60 & echo $!"], env=ENV, timeout=30)
    assert rc == 0 and time.monotonic() - start < 5
    assert _gone(int(out))


def test_a_program_that_closes_its_pipes_is_still_waited_for():
    rc, out, dummy = _runas.run(["sh", "-c", "exec >&- 2>&-; sleep 1; exit 3"], env=ENV, timeout=30)
    assert rc == 3 and out == ""


@pytest.mark.parametrize("cmd", ["yes", "yes >&2"], ids=["stdout", "stderr"])
def test_output_is_capped(cmd):
    start = time.monotonic()
    with pytest.raises(_runas.OutputTooLarge, match="more than 100000 bytes"):
        _runas.run(["sh", "-c", cmd], env=ENV, limit=100000)
    assert time.monotonic() - start < 5


def test_programs_that_cannot_start(tmp_path):
    with pytest.raises(_runas.StartError, match="gofleet-no-such-program"):
        _runas.run(["gofleet-no-such-program"], env=ENV)
    with pytest.raises(_runas.StartError, match="cannot start"):
        _runas.run(["true"], env=ENV, cwd=str(tmp_path / "absent"))
    with pytest.raises(_runas.StartError):
        _runas.run(["tr\x00ue"], env=ENV)


def test_text_and_bytes():
    rc, out, dummy = _runas.run(["printf", "\\377ok"], env=ENV, text=False)
    assert out == b"\xffok"
    assert _runas.run(["printf", "\\377ok"], env=ENV)[1] == "\ufffdok"


# ---- files the user names -----------------------------------------------------------------------------
@pytest.fixture
def files(second_user):
    """A user's file, a root-only file, a named pipe, a big file, a link to the root-only file, in a
    folder the user can reach (pytest's tmp_path is under a root-only folder)."""
    import pathlib  # pylint: disable=import-outside-toplevel
    top = tempfile.mkdtemp(prefix="gofleet-runas-files-")
    os.chmod(top, 0o755)
    tmp_path = pathlib.Path(top)
    f = {"theirs": second_user.write(str(tmp_path / "theirs"), "GOARCH=arm64\n"),
         "root_only": str(tmp_path / "root-only"), "pipe": str(tmp_path / "pipe"), "big": str(tmp_path / "big"),
         "link": str(tmp_path / "link"), "binary": str(tmp_path / "binary")}
    with open(f["root_only"], "w") as out:
        out.write("SECRET=1\n")
    os.chmod(f["root_only"], 0o600)
    os.mkfifo(f["pipe"])
    os.chmod(f["pipe"], 0o666)
    with open(f["big"], "wb") as out:
        out.write(b"x" * 5000)
    os.chmod(f["big"], 0o644)
    os.symlink(f["root_only"], f["link"])
    with open(f["binary"], "wb") as out:
        out.write(bytes(range(256)))
    os.chmod(f["binary"], 0o644)
    yield f
    shutil.rmtree(top, ignore_errors=True)


@pytest.mark.parametrize("as_user", [False, True], ids=["here", "as-user"])
def test_read_file(files, second_user, as_user):
    acct = _runas.account(second_user.name) if as_user else None
    assert _runas.read_file(files["theirs"], acct) == b"GOARCH=arm64\n"
    assert _runas.read_file(files["binary"], acct) == bytes(range(256))  # exact bytes
    cases = {"pipe": "not_regular", "/dev/zero": "not_regular", "big": "too_large", "/nonexistent/env": "absent",
             "/etc/passwd/x": "absent", "dir": "not_regular", "nul": "unreadable"}
    if as_user:
        cases.update(root_only="unreadable", link="unreadable")
    for name, reason in cases.items():
        path = {"dir": os.path.dirname(files["theirs"]), "nul": "/etc/pass\x00wd"}.get(name, files.get(name, name))
        start = time.monotonic()
        with pytest.raises(_runas.ReadError) as got:
            _runas.read_file(path, acct, limit=4096)
        assert got.value.reason == reason, (name, got.value)
        assert time.monotonic() - start < 5  # a pipe never blocks
    if as_user:
        with pytest.raises(_runas.ReadError, match="Permission denied"):
            _runas.read_file(files["root_only"], acct)
    else:
        assert _runas.read_file(files["root_only"]) == b"SECRET=1\n"
        assert _runas.read_file(files["link"]) == b"SECRET=1\n"


def test_a_python_the_user_can_run(second_user):
    """This interpreter may live where the user cannot reach it (a venv under /root here): the
    runner finds one they can run."""
    acct = _runas.account(second_user.name)
    py = _runas.python_for(acct, sys.executable)
    rc, out, dummy = _runas.run([py, "-c", "import os; print(os.getuid())"], acct, env=ENV, cwd="/")
    assert rc == 0 and int(out) == second_user.uid
    assert _runas.python_for(None, sys.executable) == sys.executable
    with pytest.raises(_runas.RunAsError, match="no Python 3"):
        saved = _runas.PYTHONS
        try:
            _runas.PYTHONS = ()
            _runas._PYTHON_FOR.clear()
            _runas.python_for(acct, "/nonexistent/python3")
        finally:
            _runas.PYTHONS = saved
