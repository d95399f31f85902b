"""Checked from outside: the distribution's Go is gone, the official one wins in sh, bash and
(through /etc/zsh/zprofile) zsh login shells, Go's settings are the role's."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "resources"))
import checks  # noqa: E402  pylint: disable=wrong-import-position

GOROOT = "/opt/go/go" + checks.NEWEST


def test_distribution_go_removed(host):
    assert not host.package("golang-1.19-go").is_installed
    assert not host.file("/usr/bin/go").exists


def test_login_shell_go(host):
    for shell in ("sh", "bash"):
        assert checks.login(host, "go version", shell) == "go version go%s linux/amd64" % checks.NEWEST
    zprofile = host.file("/etc/zsh/zprofile").content_string
    assert 'emulate sh -c ". /etc/profile.d/go.sh"' in zprofile


def test_go_env_from_the_toolchain_go_env(host):
    values = checks.login(host, "go env GOTOOLCHAIN GOPRIVATE GOFLAGS GOPROXY GOSUMDB").splitlines()
    assert values == ["local", "git.example.com/*", "-trimpath", "https://proxy.golang.org,direct", "sum.golang.org"]


def test_installed_go_is_native(host):
    checks.assert_platform(host, GOROOT + "/bin/go", "linux", "amd64")


def test_matrix_outputs(host):
    out = "/var/tmp/gofleet-verify/out/"
    for goos, goarch in (("linux", "amd64"), ("linux", "arm64"), ("windows", "amd64")):
        checks.assert_platform(host, out + "hello-%s-%s%s" % (goos, goarch, ".exe" if goos == "windows" else ""),
                               goos, goarch)
