#!/usr/bin/env bash
# bundle-swift-runtime.sh ROOT LIBDIR BINARY...: copy every shared library the binaries
# load from the Swift toolchain (and the ones those load) into ROOT/LIBDIR, and point
# the binaries' RUNPATH there, so they run on a machine without the toolchain.
# Libraries from the system (libc, libsqlite3, libsystemd, ...) stay with the system;
# dh_shlibdeps turns them into Depends.
set -euo pipefail
root=$1 libdir=$2
shift 2
toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")
install -d "$root$libdir"
# ldd resolves the whole tree at once, through each library's own RUNPATH ($ORIGIN).
ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u | while read -r lib; do
    case $(readlink -f "$lib") in
        "$toolchain"/*) install -m 0644 "$(readlink -f "$lib")" "$root$libdir/$(basename "$lib")" ;;
    esac
done
for binary in "$@"; do
    patchelf --set-rpath "$libdir" "$binary"
done
# Every library found its dependencies through $ORIGIN in the toolchain; they sit
# together here, so $ORIGIN still holds.
for lib in "$root$libdir"/*.so; do
    if ldd "$lib" | grep -q "not found"; then
        echo "bundle-swift-runtime: $lib: a dependency is missing" >&2
        exit 1
    fi
done
