#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepare the KVM build tree: check that the kernel source matches the target
# kernel's headers exactly, extract only the KVM part of Debian's
# linux-source tarball, apply our patch series and add our own code.
#
# usage: prepare-source.sh KVER KDIR KSRC BUILD
#        prepare-source.sh --check KVER KDIR KSRC   (only the checks)
#
# Every failure is one line on stderr naming what to install, so that a wrong
# source or missing headers never produce a mismatched KVM.
set -euo pipefail

die() { echo "kvm-prefault: $*" >&2; exit 1; }

check_only=0
if [ "${1:-}" = --check ]; then
	check_only=1
	shift
	set -- "$@" ""
fi
[ $# -eq 4 ] || die "usage: $0 [--check] KVER KDIR KSRC BUILD"
kver=$1 kdir=$2 ksrc=$3 build=$4
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/source-version.sh
. "$top/scripts/source-version.sh"

[ -f "$kdir/Makefile" ] ||
	die "no kernel headers for $kver at $kdir: install linux-headers-$kver"
hver=$(make -s -C "$kdir" kernelversion 2>/dev/null) ||
	die "cannot read the kernel version of $kdir: reinstall linux-headers-$kver"
line=${hver%.*}

# An unsupported line first: its source would not help.
series="$top/patches/$line/series"
[ -f "$series" ] ||
	die "kernel $hver is not supported (no patches/$line): see README.md"

[ -f "$ksrc" ] ||
	die "no kernel source at $ksrc: install linux-source-$line (kernel $hver)"

# The top Makefile of the tarball carries the exact upstream version.
source_version "$ksrc" "linux-source-$line"
[ "$sver" = "$hver" ] ||
	die "source $ksrc is $sver but headers for $kver are $hver: install linux-source-$line matching linux-headers-$kver ($hver)"

[ "$check_only" = 0 ] || exit 0

stamp="$build/.prepared"
# Redo the tree whenever the source, the series or this script changes.
want="$sver $(cat "$series" "$top"/patches/"$line"/*.patch "$0" |
	sha1sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	rm -rf "$build"
	mkdir -p "$build"
	# Only what KVM is built from (the rest comes from the headers), and
	# whatever else the series touches: it also carries the arm64 hooks,
	# which must apply here too even though this build does not use them.
	# (tar fails on a name given twice, so drop what the list has.)
	kvm="arch/x86/kvm/ virt/kvm/ include/linux/kvm_host.h
		include/uapi/linux/kvm.h arch/x86/include/asm/kvm_host.h"
	touched=$(sed -n 's,^+++ b/,,p' "$top"/patches/"$line"/*.patch |
		grep -v -e '^arch/x86/kvm/' -e '^virt/kvm/')
	# shellcheck disable=SC2086 # one word per path
	paths=$(printf '%s\n' $kvm $touched | sort -u)
	# shellcheck disable=SC2046,SC2086 # one word per path
	tar -xf "$ksrc" -C "$build" --strip-components=1 \
		$(printf "$topdir/%s " $paths) ||
		die "extracting KVM from $ksrc failed: reinstall linux-source-$line"
	while read -r p; do
		case "$p" in ''|'#'*) continue ;; esac
		patch -s -p1 -N -d "$build" < "$top/patches/$line/$p" ||
			die "patch $p does not apply to $sver: the series needs a refresh"
	done < "$series"
	# Out of tree only: $(srctree) is the headers package, which has no
	# virt/kvm; take Makefile.kvm from the prepared copy instead.
	sed -i 's,^include $(srctree)/virt/kvm/Makefile.kvm$,include $(src)/../../../virt/kvm/Makefile.kvm,' \
		"$build/arch/x86/kvm/Makefile"
	grep -q '^include $(src)/../../../virt/kvm/Makefile.kvm$' \
		"$build/arch/x86/kvm/Makefile" ||
		die "unexpected arch/x86/kvm/Makefile in $ksrc: the build needs a refresh"
	echo "$want" > "$stamp"
fi

# Our own files are copied on every build (cp -p keeps make incremental).
mkdir -p "$build/virt/kvm/kvm_prefault" "$build/include/uapi/linux" \
	"$build/arch/x86/include"
cp -p "$top"/kvm_prefault/*.[ch] "$build/virt/kvm/kvm_prefault/"
cp -p "$top/include/uapi/linux/kvm_prefault.h" "$build/include/uapi/linux/"
cp -p "$top/Kbuild" "$build/Kbuild"
