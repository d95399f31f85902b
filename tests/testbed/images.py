# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Distro hosts for the tests without a registry: Debian root filesystems built with mmdebstrap,
imported into podman, plus qemu-user binfmt so that arm64 images run on this x86_64 machine.

Root filesystem tarballs are cached under <cache>/images/<key>/ (keyed by suite, architecture,
packages and this file); an image missing from podman's store is imported again from its
tarball, so a wiped podman store costs seconds, not a rebuild.

Images are named localhost/gofleet-debian:<suite>-<arch>. Containers run with host networking
(the local mirror on 127.0.0.1 is reachable, nothing else is) or with --network none (a real
air-gapped host).
"""

from __future__ import annotations

import os
import shutil
import subprocess

from . import config

HERE_FILE = os.path.abspath(__file__)
# python3-apt so the apt module never tries to install it (offline); no gcc, so a container is
# also a real "CGO_ENABLED=1 without a C compiler" host.
PACKAGES = ["python3", "python3-apt", "ca-certificates"]
IMAGES = {
    "bookworm-amd64": ("bookworm", "amd64"),
    "bookworm-arm64": ("bookworm", "arm64"),
    "bullseye-amd64": ("bullseye", "amd64"),
    "trixie-amd64": ("trixie", "amd64"),
}
DEBIAN_MIRROR = os.environ.get("GOFLEET_DEBIAN_MIRROR", "http://deb.debian.org/debian")
REPO_NAME = "localhost/gofleet-debian"


def image_ref(name: str) -> str:
    return "%s:%s" % (REPO_NAME, name)


def podman(*args, check=True, timeout=None):
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", os.path.join(config.HERE, "containers.conf"))
    done = subprocess.run(["podman", *args], check=False, env=env, text=True, capture_output=True,
                          timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError("podman %s failed (%d): %s" % (" ".join(args), done.returncode, done.stderr.strip()))
    return done


def ensure_binfmt():
    """Make foreign arm64 ELF files run through qemu-user (what Rosetta is on a Mac)."""
    entry = "/proc/sys/fs/binfmt_misc/qemu-aarch64"
    if os.path.exists(entry):
        with open(entry) as f:
            if f.readline().strip() == "enabled":
                return
    if not os.path.exists("/proc/sys/fs/binfmt_misc/register"):
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"], check=True)
    subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], check=True)


def rootfs(name: str) -> str:
    """Build (once, cached) the root filesystem tarball of one image; return its path."""
    suite, arch = IMAGES[name]
    folder = os.path.join(config.CACHE, "images", config.key(suite, arch, PACKAGES, DEBIAN_MIRROR,
                                                             config.file_digest(HERE_FILE)))
    tar = os.path.join(folder, name + ".tar")
    if os.path.exists(tar):
        return tar
    os.makedirs(folder, exist_ok=True)
    part = tar + ".part"
    if arch != "amd64":
        ensure_binfmt()
    cmd = ["mmdebstrap", "--quiet", "--variant=minbase", "--architectures=" + arch,
           "--include=" + ",".join(PACKAGES), "--format=tar",
           # a container image needs no docs, man pages or apt lists
           "--dpkgopt=path-exclude=/usr/share/{doc,man,info,locale}/*",
           "--customize-hook=rm -rf \"$1\"/var/lib/apt/lists/*_*",
           suite, part, DEBIAN_MIRROR]
    subprocess.run(cmd, check=True)
    os.replace(part, tar)
    return tar


def ensure_image(name: str) -> str:
    """The podman image for `name`, imported from its cached tarball when missing."""
    ref = image_ref(name)
    tar = rootfs(name)
    stamp = os.path.basename(os.path.dirname(tar))
    found = podman("image", "inspect", "--format", "{{index .Annotations \"gofleet.key\"}}|{{.Comment}}",
                   ref, check=False)
    if found.returncode == 0 and stamp in found.stdout:
        return ref
    arch = IMAGES[name][1]
    podman("import", "--arch", arch, "--message", "gofleet.key=" + stamp,
           "--change", 'CMD ["sleep", "infinity"]', tar, ref)
    return ref


def build_all(names=None) -> dict:
    if shutil.which("podman") is None:
        raise RuntimeError("podman is not installed: run `bash tests/testbed/run setup` first")
    ensure_binfmt()
    return {n: ensure_image(n) for n in (names or sorted(IMAGES))}


def run(name: str, *cmd, network: str = "host", timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a command in a throw-away container of image `name` (network: host or none)."""
    return podman("run", "--rm", "--network", network, image_ref(name), *cmd, check=False, timeout=timeout)
