#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make load / make unload: swap the running kernel's KVM modules.
#
#   swap-modules.sh load DIR   replace the loaded KVM by ours, from DIR
#   swap-modules.sh unload     put the distribution's KVM back
#
# Refuses, changing nothing, while a VM holds the modules.  If loading ours
# fails, the distribution's modules are loaded again.
set -euo pipefail

die() { echo "kvm-prefault: $*" >&2; exit 1; }

action=${1:-}
dir=${2:-}
kver=$(uname -r)
[ "$(id -u)" = 0 ] || die "make $action needs root"

if grep -qw svm /proc/cpuinfo; then vendor=kvm_amd vendor_ko=kvm-amd
elif grep -qw vmx /proc/cpuinfo; then vendor=kvm_intel vendor_ko=kvm-intel
else die "this CPU has neither SVM nor VMX enabled"; fi

# refcnt counts VM file descriptors (and kvm's holders): refuse while any.
busy() {
	local m r
	for m in kvm_amd kvm_intel kvm; do
		[ -d /sys/module/$m ] || continue
		r=$(cat /sys/module/$m/refcnt)
		if [ "$m" = kvm ]; then
			# kvm is held once by the vendor module itself.
			[ -d /sys/module/$vendor ] && r=$((r - 1))
		fi
		[ "$r" -le 0 ] || { echo "$m"; return 0; }
	done
	return 1
}

# insmod skips /etc/modprobe.d: pass its "options" lines on ourselves.
options() {
	modprobe -c 2>/dev/null | awk -v m="$1" \
		'$1 == "options" && $2 == m { for (i = 3; i <= NF; i++) print $i }'
}

unload_all() {
	local m
	for m in kvm_amd kvm_intel kvm; do
		[ ! -d /sys/module/$m ] || rmmod "$m"
	done
}

load_stock() {
	# The distribution's own files, even if ours are installed in updates/.
	local k=/lib/modules/$kver/kernel/arch/x86/kvm f
	modprobe irqbypass
	[ "$vendor" = kvm_intel ] || modprobe ccp 2>/dev/null || true
	for f in kvm "$vendor_ko"; do
		# shellcheck disable=SC2046 # one word per option
		insmod "$(ls "$k/$f".ko* | head -n 1)" $(options "${f//-/_}")
	done
}

if m=$(busy); then
	die "$m is in use (VMs running?): stop them before make $action"
fi

case $action in
load)
	for f in kvm "$vendor_ko"; do
		[ -f "$dir/$f.ko" ] || die "$dir/$f.ko not built: run make first"
	done
	unload_all
	modprobe irqbypass
	[ "$vendor" = kvm_intel ] || modprobe ccp 2>/dev/null || true
	# shellcheck disable=SC2046 # one word per option
	if ! insmod "$dir/kvm.ko" $(options kvm) ||
	   ! insmod "$dir/$vendor_ko.ko" $(options "$vendor"); then
		unload_all 2>/dev/null || true
		load_stock
		die "loading our modules failed (see dmesg); the distribution's KVM is back"
	fi
	echo "kvm-prefault: loaded $(cat /sys/module/kvm/version) from $dir"
	;;
unload)
	unload_all
	load_stock
	echo "kvm-prefault: the distribution's KVM is loaded again"
	;;
*)
	die "usage: $0 load DIR | unload"
	;;
esac
