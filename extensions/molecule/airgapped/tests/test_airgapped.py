"""Checked from outside: the host has no network at all, yet runs the official Go, installed
from the archive the controller pushed (its record names the pushed file, no URL), verified
against the digest the controller read from the mirror; the pushed copy and its folder are gone."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "resources"))
import checks  # noqa: E402  pylint: disable=wrong-import-position


def test_host_has_no_network(host):
    links = host.run("ls /sys/class/net").stdout.split()
    assert links == ["lo"]
    probe = host.run("python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 80), 2)'")
    assert probe.rc != 0


def test_installed_from_the_pushed_archive(host):
    record = json.loads(host.file("/opt/go/.gofleet/go%s.json" % checks.NEWEST).content_string)
    assert record["url"] is None
    # pushed into a fresh private folder (ansible.builtin.tempfile), not a predictable /var/tmp name
    folder, name = os.path.split(record["src"])
    assert folder.startswith("/var/tmp/gofleet-archive.") and name == "go%s.linux-amd64.tar.gz" % checks.NEWEST
    assert len(record["sha256"]) == 64
    assert not host.file(folder).exists
    cache = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "go-archives", "go%s.linux-amd64.tar.gz" % checks.NEWEST)
    assert os.path.exists(cache)


def test_login_shell_go(host):
    assert checks.login(host, "go version") == "go version go%s linux/amd64" % checks.NEWEST
    checks.assert_platform(host, "/opt/go/go%s/bin/go" % checks.NEWEST, "linux", "amd64")
