# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local go.dev mirror is what it claims: real archives, right digests, right architectures.

The architecture oracle here is `file`, not the collection's own reader (that one is tested
against these archives separately).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
import urllib.request
import zipfile

import pytest

from testbed import config

# What `file` says about the go binary of each platform.
FILE_SAYS = {
    ("linux", "amd64"): ("ELF 64-bit LSB", "x86-64"),
    ("linux", "arm64"): ("ELF 64-bit LSB", "ARM aarch64"),
    ("darwin", "amd64"): ("Mach-O 64-bit", "x86_64"),
    ("darwin", "arm64"): ("Mach-O 64-bit", "arm64"),
    ("windows", "amd64"): ("PE32+ executable", "x86-64"),
}


def _files(tree):
    with open(os.path.join(tree, "index-all.json")) as f:
        return [fl for rel in json.load(f) for fl in rel["files"]]


def test_index_lists_every_configured_archive_once(mirror_tree):
    listed = sorted((f["version"], f["os"], f["arch"]) for f in _files(mirror_tree))
    assert listed == sorted(("go" + v, o, a) for v, o, a in config.MIRROR_FILES)


def test_every_archive_matches_index_sidecar_and_bytes(mirror_tree):
    for f in _files(mirror_tree):
        path = os.path.join(mirror_tree, f["filename"])
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        with open(path + ".sha256") as fh:
            sidecar = fh.read().strip()
        assert digest == f["sha256"] == sidecar, f["filename"]
        assert os.path.getsize(path) == f["size"], f["filename"]
        assert f["kind"] == "archive"
        ext = "zip" if f["os"] == "windows" else "tar.gz"
        assert f["filename"] == "%s.%s-%s.%s" % (f["version"], f["os"], f["arch"], ext)


def _extract_go(path, goos, dest):
    """Pull go/bin/go(.exe) and go/VERSION out of an archive; return (binary path, VERSION)."""
    exe = "go/bin/go.exe" if goos == "windows" else "go/bin/go"
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            assert "go/__init__.py" not in names and "go/LICENSE" in names
            mode = (z.getinfo(exe).external_attr >> 16) & 0o777
            data, version = z.read(exe), z.read("go/VERSION").decode()
    else:
        with tarfile.open(path) as t:
            names = set(t.getnames())
            assert "go/__init__.py" not in names and "go/LICENSE" in names
            assert all(n == "go" or n.startswith("go/") for n in names)
            mode = t.getmember(exe).mode
            data = t.extractfile(exe).read()
            version = t.extractfile("go/VERSION").read().decode()
    if goos != "windows":  # Windows has no executable bit (the wheels carry 0644 there)
        assert mode & 0o111, "%s in %s is not executable" % (exe, path)
    target = os.path.join(dest, os.path.basename(path) + "-go")
    with open(target, "wb") as out:
        out.write(data)
    return target, version


@pytest.mark.parametrize("version,goos,goarch", config.MIRROR_FILES)
def test_archive_holds_go_of_claimed_arch_and_version(mirror_tree, tmp_path, version, goos, goarch):
    ext = "zip" if goos == "windows" else "tar.gz"
    path = os.path.join(mirror_tree, "go%s.%s-%s.%s" % (version, goos, goarch, ext))
    binary, version_file = _extract_go(path, goos, str(tmp_path))
    said = subprocess.run(["file", "-b", binary], check=True, capture_output=True, text=True).stdout
    for word in FILE_SAYS[(goos, goarch)]:
        assert word in said, "%s: file says %r" % (path, said)
    assert version_file.splitlines()[0] == "go" + version


def test_server_serves_go_dev_url_shapes(go_mirror):
    with urllib.request.urlopen(go_mirror.url + "/dl/?mode=json&include=all") as r:
        assert json.load(r) == go_mirror.index(include_all=True)
    with urllib.request.urlopen(go_mirror.url + "/dl/?mode=json") as r:
        supported = json.load(r)
    # only the newest patch of the two newest minor lines
    assert [rel["version"] for rel in supported] == ["go" + config.NEWEST, "go" + config.OLDSTABLE]

    name = "go%s.linux-amd64.tar.gz" % config.NEWEST
    with urllib.request.urlopen(go_mirror.url + "/dl/" + name + ".sha256") as r:
        assert r.url.endswith("/go/" + name + ".sha256")  # followed go.dev's redirect
        published = r.read().decode()
    with open(os.path.join(go_mirror.tree, name + ".sha256")) as f:
        assert published == f.read()
    shapes = [(e["path"], e["status"]) for e in go_mirror.log()]
    assert ("/dl/" + name + ".sha256", 302) in shapes and ("/go/" + name + ".sha256", 200) in shapes
