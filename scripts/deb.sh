#!/usr/bin/env bash
# deb.sh BIN_DIR [OUT_DIR]: package the binaries in BIN_DIR as regiond_VERSION_ARCH.deb
# in OUT_DIR (default: the current folder) with debhelper (debian/rules), and print its
# path. It runs in a staging copy of the tree, so the checkout stays clean and two runs
# do not meet. REGIOND_DEB_VERSION overrides the version (the upgrade test bumps it);
# REGIOND_DEB_COMPRESS passes dpkg-deb options, e.g. "-Zgzip -z1" for a quick test build.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$1" && pwd)
out=$(mkdir -p "${2:-.}" && cd "${2:-.}" && pwd)
for f in regiond regionctl demo-fleet; do
    [ -x "$bin/$f" ] || { echo "deb.sh: $bin/$f is missing (swift build -c release first)" >&2; exit 1; }
done
stage=$(mktemp -d /tmp/regiond-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
cd "$src"
cp -r Makefile README.md debian docs systemd man etc contrib scripts "$stage/"
cd "$stage"
version=${REGIOND_DEB_VERSION:-$(dpkg-parsechangelog -S Version)}
arch=$(dpkg --print-architecture)
REGIOND_BIN="$bin" REGIOND_DEB_OUT="$out" debian/rules binary >"$stage/build.log" 2>&1 || {
    tail -40 "$stage/build.log" >&2
    exit 1
}
deb="$out/regiond_${version}_${arch}.deb"
[ -f "$deb" ] || { echo "deb.sh: $deb was not built" >&2; tail -20 "$stage/build.log" >&2; exit 1; }
echo "$deb"
