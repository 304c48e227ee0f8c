#!/bin/bash
# image.sh KVER CACHEDIR
# Fetch Debian's stock kernel KVER (apt-get download, never installed as
# this machine's kernel), unpack it with dpkg-deb -x into CACHEDIR/image/KVER/
# and print that directory, which then holds boot/vmlinuz-KVER and
# lib/modules/KVER/.
#
# Up to Debian 12 (6.1, 6.12) one package holds both: linux-image-KVER.
# From Debian 13 (trixie-backports' 7.x) linux-image-KVER only depends on
# linux-binary-KVER (usr/lib/modules/KVER/vmlinuz) and linux-modules-KVER
# (usr/lib/modules/KVER/): whatever linux-image-KVER lacks is taken from
# those two, and the result is laid out as for the older kernels.
# Packages already in CACHEDIR/debs are used without asking apt.
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

cached() {	# cached PKG: the downloaded PKG_*.deb, or nothing
	find "$cache/debs" -maxdepth 1 -name "${1}_*.deb" -print -quit
}
updated=0
known() {	# known PKG: does apt know PKG (after one apt-get update if not)?
	apt-cache show "$1" >/dev/null 2>&1 && return 0
	[ "$updated" = 0 ] || return 1
	updated=1
	apt-get update -qq >&2 || die "apt-get update failed"
	apt-cache show "$1" >/dev/null 2>&1
}
fetch() {	# fetch PKG: set deb to PKG's .deb, downloading it; 1 if apt does not know PKG
	deb=$(cached "$1")
	[ -z "$deb" ] || return 0
	known "$1" || return 1
	# apt-get download writes into the current directory; _apt needs
	# write access or it falls back to root with a warning, which is fine.
	(cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "$1" >&2) ||
		die "apt-get download $1 failed"
	deb=$(cached "$1")
	[ -n "$deb" ] || die "apt-get download produced no ${1}_*.deb"
}

tmp=$dest.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
unpack() {	# unpack DEB
	dpkg-deb -x "$1" "$tmp" || die "dpkg-deb -x $1 failed"
}
have_vmlinuz() {
	[ -f "$tmp/boot/vmlinuz-$kver" ] || [ -f "$tmp/usr/lib/modules/$kver/vmlinuz" ]
}
have_modules() {
	[ -d "$tmp/lib/modules/$kver/kernel" ] || [ -d "$tmp/usr/lib/modules/$kver/kernel" ]
}

# Debian 13 split packages, when they are here already: linux-image-KVER
# would add nothing.
split_cached=0
[ -n "$(cached "linux-binary-$kver")" ] && [ -n "$(cached "linux-modules-$kver")" ] &&
	split_cached=1
if [ "$split_cached" = 0 ]; then
	if fetch "linux-image-$kver"; then
		unpack "$deb"
	elif ! known "linux-binary-$kver"; then
		die "package linux-image-$kver not known to apt (check KVER, the apt sources; run apt-get update)"
	fi
fi
if ! have_vmlinuz; then
	fetch "linux-binary-$kver" ||
		die "linux-image-$kver has no vmlinuz and apt does not know linux-binary-$kver"
	unpack "$deb"
fi
if ! have_modules; then
	fetch "linux-modules-$kver" ||
		die "linux-image-$kver has no modules and apt does not know linux-modules-$kver"
	unpack "$deb"
fi

# The split packages' layout (usr/lib/modules/KVER, vmlinuz in it) to the
# one run.sh reads (boot/vmlinuz-KVER, lib/modules/KVER).
if [ -f "$tmp/usr/lib/modules/$kver/vmlinuz" ]; then
	mkdir -p "$tmp/boot"
	mv "$tmp/usr/lib/modules/$kver/vmlinuz" "$tmp/boot/vmlinuz-$kver"
fi
if [ -d "$tmp/usr/lib/modules/$kver" ]; then
	mkdir -p "$tmp/lib/modules/$kver"
	cp -a "$tmp/usr/lib/modules/$kver/." "$tmp/lib/modules/$kver/"
	rm -rf "$tmp/usr/lib/modules/$kver"
fi
[ -f "$tmp/boot/vmlinuz-$kver" ] || die "no vmlinuz for $kver in the packages"
[ -d "$tmp/lib/modules/$kver/kernel" ] || die "no lib/modules/$kver/kernel in the packages"

if [ -f "$dest/.complete" ]; then	# a concurrent run was faster
	rm -rf "$tmp"
else
	rm -rf "$dest"
	mv "$tmp" "$dest"
fi
trap - EXIT
touch "$dest/.complete"
echo "$dest"
