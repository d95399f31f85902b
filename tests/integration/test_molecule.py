# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every Molecule scenario (extensions/molecule/<name>/) runs its full test sequence for real on
the test bed's podman images: create, converge, idempotence, verify (testinfra), destroy."""

from __future__ import annotations

import glob
import os
import subprocess

import pytest

from testbed import config

pytestmark = pytest.mark.containers
SCENARIOS = sorted(os.path.basename(os.path.dirname(p))
                   for p in glob.glob(os.path.join(config.REPO, "extensions", "molecule", "*", "molecule.yml")))


def test_scenarios_exist():
    assert "default" in SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, distro_images, go_mirror):
    env = dict(os.environ, NO_COLOR="1", ANSIBLE_NOCOLOR="1", PY_COLORS="0", ANSIBLE_FORCE_COLOR="0",
               GOFLEET_MIRROR_URL=go_mirror.url)
    env.pop("ANSIBLE_COLLECTIONS_PATH")  # Molecule links this collection in itself (collection mode)
    done = subprocess.run(["molecule", "test", "-s", scenario], cwd=config.REPO, env=env,
                          capture_output=True, text=True, timeout=1800, check=False)
    tail = (done.stdout + done.stderr)[-6000:]
    assert done.returncode == 0, tail
    assert "WARNING" not in done.stdout + done.stderr, tail
