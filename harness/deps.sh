#!/bin/bash
# deps.sh: install what the module build and the harness need on a
# Debian 12 machine.  Idempotent: does nothing when all are installed, runs
# apt-get update only when something is missing.  Needs root.
set -euo pipefail

die() { echo "deps.sh: error: $*" >&2; exit 1; }

pkgs=(
	# module build (kbuild against Debian's headers)
	make gcc libc6-dev bc flex bison libelf-dev libssl-dev kmod patch
	linux-source-6.1 linux-headers-amd64
	# the 6.12 line (Debian 12's bookworm-security, Debian 13): source and
	# headers of the same upload (the headers pull in the image package)
	linux-source-6.12 linux-headers-6.12-amd64
	# static selftests and kselftests (libc.a is in libc6-dev), readelf/strip
	binutils
	# harness: unpack the kernel image and source, build the initramfs, boot
	xz-utils cpio gzip busybox-static qemu-system-x86 coreutils apt dpkg
	# arm64: cross-build the test kernel (make arm64-kernel) and boot it
	gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross
	qemu-system-arm
	# Intel: Bochs' VMX emulation boots an isolinux ISO (harness/emu/bochs.sh)
	bochs bochsbios vgabios syslinux syslinux-common isolinux xorriso
)

installed() {	# installed PKG: is PKG installed?
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
for p in "${pkgs[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
	echo "deps.sh: all ${#pkgs[@]} packages installed"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "deps.sh: installing ${missing[*]}"
apt-get update -qq || die "apt-get update failed"
apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
	die "apt-get install ${missing[*]} failed"
for p in "${missing[@]}"; do
	installed "$p" || die "$p still not installed"
done
echo "deps.sh: done"
