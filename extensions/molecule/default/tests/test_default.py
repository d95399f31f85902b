"""Checked from outside the host."""


def test_machine(host):
    assert host.run("uname -m").stdout.strip() in ("x86_64", "aarch64")
