# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-lint, production profile (.ansible-lint), passes on the roles and playbooks; the
AWX / ansible-builder files are at least valid YAML of the expected shape."""

from __future__ import annotations

import os
import subprocess

import yaml

from testbed import config


def test_ansible_lint_production_profile(tmp_path):
    # ansible-lint puts ~/.ansible/collections first on the collections path: a private HOME, so a
    # copy of this collection installed there by anything else (an older tarball) is not linted
    env = dict(os.environ, NO_COLOR="1", ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=config.collections_root(),
               HOME=str(tmp_path))
    done = subprocess.run(["ansible-lint", "--profile", "production", "--offline", "roles", "playbooks"],
                          cwd=config.REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    assert "Passed" in out, out[-3000:]


def test_execution_environment_file():
    with open(os.path.join(config.REPO, "execution-environment.yml")) as f:
        ee = yaml.safe_load(f)
    assert ee["version"] == 3
    deps = ee["dependencies"]
    assert deps["galaxy"]["collections"][0]["type"] == "file"
    assert any(d.startswith("requests") for d in deps["python"])
    with open(os.path.join(config.REPO, "galaxy.yml")) as f:
        version = yaml.safe_load(f)["version"]
    tarball = "gofleet-golang-%s.tar.gz" % version  # what `ansible-galaxy collection build` writes
    assert ee["additional_build_files"][0]["src"] == tarball
    assert deps["galaxy"]["collections"][0]["name"] == "collections/" + tarball


def test_inventory_example_parses():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=config.collections_root())
    done = subprocess.run(["ansible-inventory", "-i", "playbooks/inventory/example.yml", "--list"],
                          cwd=config.REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "[WARNING]" not in done.stderr, done.stderr
