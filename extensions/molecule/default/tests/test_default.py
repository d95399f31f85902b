"""Checked from outside each host: what a login shell gets, Go's settings, the real machine type
of the installed files and of the cross-compiled outputs (copied out, read by `file` and by the
collection's reader)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "resources"))
import checks  # noqa: E402  pylint: disable=wrong-import-position

GOROOT = "/opt/go/go" + checks.NEWEST


def test_login_shell_go_names_host_arch(host):
    arch = checks.host_goarch(host)
    for shell in ("sh", "bash"):
        assert checks.login(host, "go version", shell) == "go version go%s linux/%s" % (checks.NEWEST, arch)
    assert checks.login(host, "command -v go") == "/usr/local/go/bin/go"
    assert host.file("/usr/local/go").linked_to == GOROOT


def test_go_env_values(host):
    values = checks.login(host, "go env GOARCH GOOS GOTOOLCHAIN GOROOT GOPATH").splitlines()
    assert values == [checks.host_goarch(host), "linux", "local", GOROOT, "/root/go"]
    env_file = host.file(GOROOT + "/go.env").content_string
    assert "GOTOOLCHAIN=local" in env_file.splitlines()
    if checks.host_goarch(host) == "amd64":
        assert checks.login(host, "go env GOPROXY GOSUMDB").splitlines() == ["file:///srv/goproxy", "off"]
    else:
        assert checks.login(host, "go env GOPROXY").startswith("https://proxy.golang.org")


def test_installed_files_are_native(host):
    arch = checks.host_goarch(host)
    for name in ("go", "gofmt"):
        info = checks.assert_platform(host, GOROOT + "/bin/" + name, "linux", arch)
        assert info["go_version"] == "go" + checks.NEWEST
    tool_dir = GOROOT + "/pkg/tool/linux_" + arch
    checks.assert_platform(host, tool_dir + "/compile", "linux", arch)


def test_cross_compiled_outputs(host):
    arch = checks.host_goarch(host)
    out = "/var/tmp/gofleet-verify/out/"
    if arch == "arm64":  # emulated host: native target only (decisions.md)
        expected = [("linux", "arm64")]
    else:
        expected = [("linux", "amd64"), ("linux", "arm64"), ("linux", "arm"), ("darwin", "arm64"), ("windows", "amd64")]
    names = sorted(host.file(out).listdir())
    assert names == sorted("hello-%s-%s%s" % (o, a, ".exe" if o == "windows" else "") for o, a in expected)
    for goos, goarch in expected:
        info = checks.assert_platform(host, out + "hello-%s-%s%s" % (goos, goarch, ".exe" if goos == "windows" else ""),
                                      goos, goarch)
        assert info["go_version"] == "go" + checks.NEWEST
        assert info["build_info"]["settings"]["CGO_ENABLED"] == "0"
    native = host.run(out + "hello-linux-" + arch)
    assert native.stderr.strip() == "gofleet-verify linux/%s go%s" % (arch, checks.NEWEST)


def test_tool_installed_by_the_toolchain(host):
    if checks.host_goarch(host) != "amd64":
        assert not host.file("/usr/local/bin/hello").exists
        return
    assert checks.login(host, "hello") == "hello v1.0.0 linux/amd64"
    info = checks.assert_platform(host, "/usr/local/bin/hello", "linux", "amd64")
    assert info["go_version"] == "go" + checks.NEWEST
    assert info["build_info"]["main"]["version"] == "v1.0.0"
