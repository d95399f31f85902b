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

Every image also has an SSH variant, <name>-ssh (ssh_name()): the same root filesystem plus
openssh-server and sudo, a user `fleet` (home /home/fleet, /bin/bash, no password, passwordless
sudo from /etc/sudoers.d/fleet), host keys made at build time and an sshd that takes keys only
(no passwords, no root). testbed.hosts.running_ssh() starts them as fleets are reached: over SSH.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess

from . import config

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

# What makes a tarball besides suite, architecture, packages and mirror (the other key parts): the
# mmdebstrap options and hooks, and what the import adds. The cache key follows this recipe, not
# this file's bytes, so a new variant or a comment does not rebuild the others; whatever shapes a
# root filesystem or its image must therefore live in BASE_OPTIONS, SSH_HOOKS or IMPORT_CHANGES.
BASE_OPTIONS = [
    "--variant=minbase", "--format=tar",
    # a container image needs no docs, man pages or apt lists
    "--dpkgopt=path-exclude=/usr/share/{doc,man,info,locale}/*",
    "--customize-hook=rm -rf \"$1\"/var/lib/apt/lists/*_*",
]
IMPORT_CHANGES = ['CMD ["sleep", "infinity"]']

SSH_SUFFIX = "-ssh"
SSH_IMAGES = ["bookworm-amd64" + SSH_SUFFIX]  # the SSH variants `python -m testbed prepare` builds
SSH_USER = "fleet"
SSH_PACKAGES = ["openssh-server", "sudo"]
SSHD_CONFIG = """\
# gofleet test bed: keys only, no root (first value wins: this file is included before the rest)
PubkeyAuthentication yes
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin no
# no PAM: pam_loginuid cannot write /proc/self/loginuid in a container; the account's password
# field is '*' (no password, not locked), which sshd without PAM accepts for a key login
UsePAM no
UseDNS no
"""
SSH_HOOKS = [
    # the user: no password ('*': nothing matches it, yet the account is not locked)
    "--customize-hook=chroot \"$1\" useradd --create-home --home-dir /home/{u} --shell /bin/bash"
    " --user-group --password '*' {u}".format(u=SSH_USER),
    "--customize-hook=chroot \"$1\" install -d -m 0700 -o {u} -g {u} /home/{u}/.ssh".format(u=SSH_USER),
    "--customize-hook=printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\\n' {u} > \"$1\"/etc/sudoers.d/{u}"
    " && chmod 0440 \"$1\"/etc/sudoers.d/{u} && chroot \"$1\" visudo -cq".format(u=SSH_USER),
    # host keys of this build (the package's postinst made them already; -A fills any gap)
    "--customize-hook=chroot \"$1\" ssh-keygen -A",
    "--customize-hook=printf '%s' " + shlex.quote(SSHD_CONFIG) + " > \"$1\"/etc/ssh/sshd_config.d/gofleet.conf",
    "--customize-hook=mkdir -p -m 0755 \"$1\"/run/sshd && chroot \"$1\" /usr/sbin/sshd -t",
]
# The base images' key carried this file's digest until the recipe above replaced it: the recipe
# as it was then keeps that old name, so existing caches stay valid (any change of it gets a new key).
_RECIPE_ALIASES = {
    "b9bb35c4744c73c4d73cc2708fe16ea6fef3345506cdd51079b420b3e904093c":
        "202746c9a0da3ceca35d7a222ea3e3f17313257460be1696b793c1d85f26bcc2",
}


def ssh_name(name: str) -> str:
    """The SSH variant of image `name` (`name` itself if it is one already)."""
    return name if name.endswith(SSH_SUFFIX) else name + SSH_SUFFIX


def _split(name: str):
    """(base image name, is the SSH variant); a clear error for an unknown name."""
    base = name[:-len(SSH_SUFFIX)] if name.endswith(SSH_SUFFIX) else name
    if base not in IMAGES:
        raise ValueError("unknown test bed image %r (known: %s, each also with %s)"
                         % (name, ", ".join(sorted(IMAGES)), SSH_SUFFIX))
    return base, base != name


def _recipe(name: str):
    """(suite, arch, packages, mmdebstrap options) of image `name`."""
    base, ssh = _split(name)
    suite, arch = IMAGES[base]
    if ssh:
        return suite, arch, PACKAGES + SSH_PACKAGES, BASE_OPTIONS + SSH_HOOKS
    return suite, arch, PACKAGES, BASE_OPTIONS


def recipe_digest(name: str) -> str:
    options = _recipe(name)[3]
    digest = hashlib.sha256(json.dumps([options, IMPORT_CHANGES]).encode()).hexdigest()
    return _RECIPE_ALIASES.get(digest, digest)


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


def ensure_binfmt_credentials():
    """qemu-aarch64 with binfmt's C flag (credentials from the binary, so set-uid programs such as
    sudo work in an emulated container: an emulated SSH host's `become`). Debian registers it with
    PF; this registers it again with PFC, same interpreter, magic and mask. Only the demo's emulated
    SSH host asks for it (a test machine's setting; the tests' emulated hosts need no sudo)."""
    ensure_binfmt()
    entry = "/proc/sys/fs/binfmt_misc/qemu-aarch64"
    with open(entry) as f:
        fields = dict(line.strip().split(" ", 1) for line in f if " " in line.strip())
    if "C" in fields.get("flags:", ""):
        return
    with open(entry, "w") as f:
        f.write("-1")
    with open("/proc/sys/fs/binfmt_misc/register", "w") as f:
        f.write(":qemu-aarch64:M:%s:%s:%s:%s:PFC" % (
            fields["offset"], _hexesc(fields["magic"]), _hexesc(fields["mask"]), fields["interpreter"]))


def _hexesc(hexstr):
    return "".join("\\x" + hexstr[i:i + 2] for i in range(0, len(hexstr), 2))


def rootfs(name: str) -> str:
    """Build (once, cached) the root filesystem tarball of one image; return its path."""
    suite, arch, packages, options = _recipe(name)
    folder = os.path.join(config.CACHE, "images", config.key(suite, arch, packages, DEBIAN_MIRROR,
                                                             recipe_digest(name)))
    tar = os.path.join(folder, name + ".tar")
    if os.path.exists(tar):
        return tar
    os.makedirs(folder, exist_ok=True)
    part = tar + ".part.%d" % os.getpid()  # two builders at once (CI and a developer) never share one
    if arch != "amd64":
        ensure_binfmt()
    cmd = ["mmdebstrap", "--quiet", "--architectures=" + arch, "--include=" + ",".join(packages),
           *options, suite, part, DEBIAN_MIRROR]
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
    arch = _recipe(name)[1]
    changes = [a for change in IMPORT_CHANGES for a in ("--change", change)]
    podman("import", "--arch", arch, "--message", "gofleet.key=" + stamp, *changes, tar, ref)
    return ref


def build_all(names=None) -> dict:
    """name -> podman image ref of `names` (default: every base image; SSH variants by name)."""
    if shutil.which("podman") is None:
        raise RuntimeError("podman is not installed: run `bash tests/testbed/run setup` first")
    ensure_binfmt()
    return {n: ensure_image(n) for n in (names or sorted(IMAGES))}


def run(name: str, *cmd, network: str = "host", timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a command in a throw-away container of image `name` (network: host or none)."""
    return podman("run", "--rm", "--network", network, image_ref(name), *cmd, check=False, timeout=timeout)
