"""Checked from outside after the upgrade: only 1.27.3 is left, active, its go.env written; the
tool built by 1.26.6 was rebuilt by 1.27.3 with the same module version."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "resources"))
import checks  # noqa: E402  pylint: disable=wrong-import-position


def test_switched_and_pruned(host):
    assert [n for n in host.file("/opt/go").listdir() if not n.startswith(".")] == ["go" + checks.NEWEST]
    assert host.file("/opt/go/.gofleet/go%s.json" % checks.NEWEST).exists
    assert not host.file("/opt/go/.gofleet/go%s.json" % checks.OLDSTABLE).exists
    assert host.file("/usr/local/go").linked_to == "/opt/go/go" + checks.NEWEST
    assert checks.login(host, "go version") == "go version go%s linux/amd64" % checks.NEWEST
    assert "GOTOOLCHAIN=local" in host.file("/opt/go/go%s/go.env" % checks.NEWEST).content_string


def test_tool_rebuilt_by_the_new_toolchain(host):
    info = checks.assert_platform(host, "/usr/local/bin/hello", "linux", "amd64")
    assert info["go_version"] == "go" + checks.NEWEST
    assert info["build_info"]["main"]["version"] == "v1.0.0"
    assert checks.login(host, "hello") == "hello v1.0.0 linux/amd64"
