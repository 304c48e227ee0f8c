#!/bin/bash
# image.sh KVER CACHEDIR
# Fetch Debian's stock kernel image package linux-image-KVER (apt-get
# download, never installed as this machine's kernel), unpack it with
# dpkg-deb -x into CACHEDIR/image/KVER/ and print that directory.
# Idempotent: an already unpacked image is reused.
set -euo pipefail

die() { echo "image.sh: error: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: image.sh KVER CACHEDIR (e.g. 6.1.0-56-amd64 .cache)"
kver=$1
cache=$2
case $kver in
	*/*|"") die "bad KVER '$kver'" ;;
esac

mkdir -p "$cache/image" "$cache/debs"
cache=$(cd "$cache" && pwd)
dest=$cache/image/$kver

if [ -f "$dest/.complete" ] && [ -f "$dest/boot/vmlinuz-$kver" ]; then
	echo "$dest"
	exit 0
fi

pkg=linux-image-$kver
deb=$(find "$cache/debs" -maxdepth 1 -name "${pkg}_*.deb" -print -quit)
if [ -z "$deb" ]; then
	if ! apt-cache show "$pkg" >/dev/null 2>&1; then
		apt-get update -qq >&2 || die "apt-get update failed"
	fi
	apt-cache show "$pkg" >/dev/null 2>&1 ||
		die "package $pkg not known to apt (check KVER, run apt-get update)"
	# apt-get download writes into the current directory; _apt needs
	# write access or it falls back to root with a warning, which is fine.
	(cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
		die "apt-get download $pkg failed"
	deb=$(find "$cache/debs" -maxdepth 1 -name "${pkg}_*.deb" -print -quit)
	[ -n "$deb" ] || die "apt-get download produced no ${pkg}_*.deb"
fi

rm -rf "$dest.tmp.$$"
mkdir -p "$dest.tmp.$$"
dpkg-deb -x "$deb" "$dest.tmp.$$" || die "dpkg-deb -x $deb failed"
[ -f "$dest.tmp.$$/boot/vmlinuz-$kver" ] || die "$deb has no boot/vmlinuz-$kver"
[ -d "$dest.tmp.$$/lib/modules/$kver" ] || die "$deb has no lib/modules/$kver"
if [ -f "$dest/.complete" ]; then	# a concurrent run was faster
	rm -rf "$dest.tmp.$$"
else
	rm -rf "$dest"
	mv "$dest.tmp.$$" "$dest"
fi
touch "$dest/.complete"
echo "$dest"
