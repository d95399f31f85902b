# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What users get: `ansible-galaxy collection build` of the committed tree, installed from the
tarball into an empty collections path, where every module's documentation renders."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
MODULES = ("go_install", "go_env_facts", "go_binary_arch", "go_toolchain_rebuild")


def _run(argv, **kw):
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300, **kw)
    assert done.returncode == 0, " ".join(argv) + "\n" + done.stdout + done.stderr
    return done


def test_build_install_and_document_from_the_tarball(tmp_path):
    # the tracked and new files only (what a commit holds), like a fresh clone
    src = tmp_path / "src"
    files = _run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO).stdout.split("\0")
    for rel in filter(None, files):
        if os.path.lexists(os.path.join(REPO, rel)):
            os.makedirs(os.path.dirname(str(src / rel)), exist_ok=True)
            _run(["cp", "-P", os.path.join(REPO, rel), str(src / rel)])
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(src)])
    tarballs = [n for n in os.listdir(str(tmp_path)) if n.endswith(".tar.gz")]
    assert len(tarballs) == 1, tarballs
    with tarfile.open(str(tmp_path / tarballs[0])) as tar:
        names = set(tar.getnames())
    for module in MODULES:
        assert "plugins/modules/%s.py" % module in names
    assert "plugins/module_utils/_binary.py" in names and "meta/runtime.yml" in names
    assert not [n for n in names if n.startswith((".ci", "requirements/")) or "__pycache__" in n]

    # an empty collections path only: the test run's own (the source tree) must not count as installed
    dest = tmp_path / "collections"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(dest))
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-p", str(dest),
          str(tmp_path / tarballs[0])], env=env)
    assert (dest / "ansible_collections" / "gofleet" / "golang" / "MANIFEST.json").is_file()
    listed = _run([os.path.join(BIN, "ansible-doc"), "-l", "gofleet.golang"], env=env).stdout
    for module in MODULES:
        assert "gofleet.golang.%s" % module in listed, listed
        doc = _run([os.path.join(BIN, "ansible-doc"), "gofleet.golang.%s" % module], env=env)
        assert "EXAMPLES" in doc.stdout and "WARNING" not in doc.stderr, doc.stderr
