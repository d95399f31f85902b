#!/bin/sh
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Build a stand-in for Debian's golang-1.19-go (Architecture: all, a /usr/bin/go that shadows
# nothing and prints a distro version) so the distros scenario removes a real dpkg package
# without downloading Debian's. Usage: make_fake_distro_go.sh OUT.deb
set -eu
out=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/DEBIAN" "$tmp/usr/lib/go-1.19/bin" "$tmp/usr/bin"
cat > "$tmp/DEBIAN/control" <<CONTROL
Package: golang-1.19-go
Version: 1.19.8-2+gofleet.test
Architecture: all
Maintainer: gofleet tests <tests@example.invalid>
Description: stand-in for the distribution's Go 1.19 (gofleet tests)
CONTROL
printf '#!/bin/sh\necho "go version go1.19.8 linux/amd64"\n' > "$tmp/usr/lib/go-1.19/bin/go"
chmod 0755 "$tmp/usr/lib/go-1.19/bin/go"
ln -s ../lib/go-1.19/bin/go "$tmp/usr/bin/go"
dpkg-deb --root-owner-group -Zgzip --build "$tmp" "$out" >/dev/null
echo "$out"
