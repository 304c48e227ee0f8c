#!/bin/bash
# busybox.sh CACHEDIR
# Fetch Debian's static arm64 busybox (busybox-static:arm64, apt-get
# download, never installed), unpack it with dpkg-deb -x into
# CACHEDIR/arm64/busybox/ and print the path of the binary.
# Adds arm64 as a foreign dpkg architecture if it is not one yet (apt only
# knows arm64 packages then); that needs root.  Idempotent: an already
# unpacked binary is reused.
set -euo pipefail

die() { echo "busybox.sh: error: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: busybox.sh CACHEDIR (e.g. .cache)"
cache=$1

mkdir -p "$cache/debs" "$cache/arm64"
cache=$(cd "$cache" && pwd)
dest=$cache/arm64/busybox
bin=$dest/bin/busybox

if [ -f "$dest/.complete" ] && [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

deb=$(find "$cache/debs" -maxdepth 1 -name 'busybox-static_*_arm64.deb' -print -quit)
if [ -z "$deb" ]; then
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		[ "$(id -u)" = 0 ] || die "need root for dpkg --add-architecture arm64"
		dpkg --add-architecture arm64 || die "dpkg --add-architecture arm64 failed"
		apt-get update -qq >&2 || die "apt-get update failed"
	fi
	if ! apt-cache show busybox-static:arm64 >/dev/null 2>&1; then
		apt-get update -qq >&2 || die "apt-get update failed"
	fi
	apt-cache show busybox-static:arm64 >/dev/null 2>&1 ||
		die "busybox-static:arm64 not known to apt (apt-get update?)"
	(cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root busybox-static:arm64 >&2) ||
		die "apt-get download busybox-static:arm64 failed"
	deb=$(find "$cache/debs" -maxdepth 1 -name 'busybox-static_*_arm64.deb' -print -quit)
	[ -n "$deb" ] || die "apt-get download produced no busybox-static_*_arm64.deb"
fi

rm -rf "$dest.tmp.$$"
mkdir -p "$dest.tmp.$$"
dpkg-deb -x "$deb" "$dest.tmp.$$" || die "dpkg-deb -x $deb failed"
[ -x "$dest.tmp.$$/bin/busybox" ] || die "$deb has no bin/busybox"
# The initramfs has no dynamic loader: the binary must be static arm64.
file_info=$(readelf -h -l "$dest.tmp.$$/bin/busybox" 2>/dev/null) ||
	die "readelf failed on $deb's bin/busybox"
grep -q 'AArch64' <<<"$file_info" || die "$deb's busybox is not an AArch64 binary"
! grep -q INTERP <<<"$file_info" || die "$deb's busybox is not static"
if [ -f "$dest/.complete" ]; then	# a concurrent run was faster
	rm -rf "$dest.tmp.$$"
else
	rm -rf "$dest"
	mv "$dest.tmp.$$" "$dest"
fi
touch "$dest/.complete"
echo "$bin"
