# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The unit suite under `ansible-test units` as well as under `python -m pytest tests/unit`.

ansible-test runs pytest from the tree at .../ansible_collections/gofleet/golang/ on each target
Python (3.8 and 3.13 in CI: tests/testbed/run units), with its own collection loader, which finds
test files only under the ANSIBLE_COLLECTIONS_PATH it set. tests/conftest.py (loaded too: it is
inside the tree) points that variable at the test bed's symlinked copy, which the loader then
does not recognise; here, under ansible-test only, the variable goes back to the tree's own root,
so that the xdist workers ansible-test starts inherit the right one.

The unit tests use the test bed's real artefacts through tests/conftest.py's fixtures (the local
go.dev mirror and its server on 127.0.0.1, official Go binaries of every platform, a real Go for
this machine, real Go programs): they build on demand under GOFLEET_CACHE, and
`tests/testbed/run units` prepares them before ansible-test starts. No container, no second host.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(REPO)))  # holds ansible_collections/gofleet/golang


def under_ansible_test() -> bool:
    """True in a pytest that ansible-test started (its collections plugin is loaded)."""
    return "ansible_pytest_collections" in sys.modules


if under_ansible_test() and REPO == os.path.join(ROOT, "ansible_collections", "gofleet", "golang"):
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = ROOT


def pytest_configure(config):
    """Under ansible-test: each test in the same process, as under plain pytest.

    ansible-test runs every test in a fork of its own (its ansible_forked plugin). A fork sets up
    session and module fixtures again and never tears them down: each test that uses the mirror
    would start a server of its own and leave it running, and the module fixtures that build real
    Go programs would build them again for every test. The unit tests here keep no state between
    tests that a fork would have to contain (modules run through testbed.ansible_module, which
    turns exit_json/fail_json into exceptions), so they run in-process, and pytest-xdist still
    spreads them over the cores."""
    if under_ansible_test() and config.pluginmanager.has_plugin("ansible_forked"):
        config.pluginmanager.unregister(name="ansible_forked")
