# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the collection's modules for real, in-process or as the separate process Ansible starts.

In-process: `call(main, args)` drives a module's main() with ansible-core's patch_module_args and
returns the JSON it printed (exit_json or fail_json), as Ansible would read it.
As a process: `start(name, args)` runs plugins/modules/<name>.py with an args file, exactly as
AnsiballZ does in the end (python module.py args.json), so tests can kill it with SIGKILL.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

from ansible.module_utils.common import warnings as _warnings
from ansible.module_utils.testing import patch_module_args

from . import config


def call(main, args, check_mode=False, diff=False) -> dict:
    """Run a module's main() in this process; return its result dict (failed=True on fail_json)."""
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    # a module's warnings live in a process-wide list until it exits: each call starts with none, as
    # the separate process Ansible starts for every task does
    _warnings._global_warnings.clear()  # pylint: disable=protected-access
    _warnings._global_deprecations.clear()  # pylint: disable=protected-access
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            main()
        except SystemExit:
            pass
    text = out.getvalue()
    try:
        return plain_warnings(json.loads(text[text.index("{"):]))
    except ValueError as exc:
        raise AssertionError("module printed no JSON result: %r" % text) from exc


def fetcher(**params):
    """A module_utils/_download Fetcher of a real AnsibleModule with these url options (timeout 2 and
    retries 2 unless given); the waits between retries are recorded in .waits instead of slept."""
    from ansible.module_utils.basic import AnsibleModule  # pylint: disable=import-outside-toplevel
    from ansible_collections.gofleet.golang.plugins.module_utils import _download  # pylint: disable=import-outside-toplevel
    with patch_module_args(dict(dict(timeout=2, retries=2), **params)):
        module = AnsibleModule(argument_spec=_download.url_options())
    waits = []
    f = _download.Fetcher(module, sleep=waits.append)
    f.waits = waits
    return f


def plain_warnings(result: dict) -> dict:
    """ansible-core 2.19 prints warnings as structured WarningSummary objects; tests read the text
    the controller would show, so turn each back into its message."""
    if result.get("warnings"):
        result["warnings"] = [w.get("event", {}).get("msg", str(w)) if isinstance(w, dict) else w
                              for w in result["warnings"]]
    return result


_ARGS_DIR = []


def _args_dir():
    """One folder per test process for the modules' argument files, removed when it exits (killed
    modules never read theirs to the end, so nothing else would)."""
    if not _ARGS_DIR:
        _ARGS_DIR.append(tempfile.mkdtemp(prefix="gofleet-module-args-"))
        atexit.register(shutil.rmtree, _ARGS_DIR[0], True)
    return _ARGS_DIR[0]


def start(name, args, check_mode=False, env=None, tmpdir=None) -> subprocess.Popen:
    """Start plugins/modules/<name>.py as its own process (stdout/stderr piped)."""
    fd, path = tempfile.mkstemp(prefix="args-", suffix=".json", dir=tmpdir or _args_dir())
    with os.fdopen(fd, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check_mode)}, f)
    module = os.path.join(config.REPO, "plugins", "modules", name + ".py")
    full_env = dict(os.environ, PYTHONPATH=config.collections_root(), **(env or {}))
    return subprocess.Popen([sys.executable, module, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=full_env)


def finish(proc: subprocess.Popen, timeout=600) -> dict:
    out, err = proc.communicate(timeout=timeout)
    try:
        result = json.loads(out[out.index("{"):])
    except ValueError as exc:
        raise AssertionError("module printed no JSON (rc %s): %s %s" % (proc.returncode, out, err)) from exc
    result["rc"] = proc.returncode
    return plain_warnings(result)


def run(name, args, check_mode=False, env=None, timeout=600) -> dict:
    return finish(start(name, args, check_mode=check_mode, env=env), timeout)
