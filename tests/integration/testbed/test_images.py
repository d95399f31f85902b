# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each distro host runs, with the architecture and Python it claims, on the network it claims."""

from __future__ import annotations

import pytest

from testbed import images

pytestmark = pytest.mark.containers

MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}
PROBE = ("import json, os, platform, sys; print(json.dumps({'machine': os.uname().machine, "
         "'python': platform.python_version(), 'os': open('/etc/os-release').read()}))")


@pytest.mark.parametrize("name", sorted(images.IMAGES))
def test_host_reports_its_arch_and_runs_python(distro_images, name):
    import json  # pylint: disable=import-outside-toplevel
    suite, arch = images.IMAGES[name]
    done = images.run(name, "python3", "-c", PROBE)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["machine"] == MACHINE[arch]
    assert "VERSION_CODENAME=" + suite in seen["os"]
    assert tuple(int(p) for p in seen["python"].split(".")[:2]) >= (3, 8)
    done = images.run(name, "uname", "-m")
    assert done.stdout.strip() == MACHINE[arch]


def test_host_network_reaches_the_mirror(distro_images, go_mirror):
    done = images.run("bookworm-amd64", "python3", "-c",
                      "import urllib.request as u; print(len(u.urlopen('%s/dl/?mode=json').read()))" % go_mirror.url)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 100
    assert any(e["path"] == "/dl/?mode=json" for e in go_mirror.log())


def test_network_none_is_air_gapped(distro_images, go_mirror):
    done = images.run("bookworm-amd64", "python3", "-c",
                      "import urllib.request as u; u.urlopen('%s/dl/?mode=json', timeout=5)" % go_mirror.url,
                      network="none")
    assert done.returncode != 0
    assert "Connection refused" in done.stderr or "Network is unreachable" in done.stderr
    done = images.run("bookworm-amd64", "cat", "/proc/net/dev", network="none")
    interfaces = [line.split(":")[0].strip() for line in done.stdout.splitlines()[2:]]
    assert interfaces == ["lo"]
    assert go_mirror.log() == []


def test_no_gcc_on_the_hosts(distro_images):
    """The images are also real 'CGO_ENABLED=1 without a C compiler' hosts."""
    done = images.run("bookworm-amd64", "sh", "-c", "command -v gcc cc || echo none")
    assert done.stdout.strip() == "none"


def test_two_hosts_of_one_image_run_side_by_side(distro_images):
    """hosts.running() with an image named twice: two live containers, each its own host, removed after."""
    from testbed import hosts  # pylint: disable=import-outside-toplevel
    with hosts.running(["bookworm-amd64", "bookworm-amd64"]) as running:
        assert len(running) == 2 and set(running.values()) == {"bookworm-amd64"}
        for h in running:
            assert images.podman("container", "inspect", "--format", "{{.State.Running}}", h).stdout.strip() == "true"
            assert images.podman("exec", h, "uname", "-m").stdout.strip() == "x86_64"
    left = images.podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert not set(running) & set(left)
