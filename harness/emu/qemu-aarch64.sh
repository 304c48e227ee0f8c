# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154,SC2034 # harness/run.sh's globals
#
# qemu-aarch64.sh: harness/run.sh's emulator file for QEMU TCG aarch64
# with EL2 emulated (virt,virtualization=on), so that the guest kernel's
# built-in KVM runs in VHE, nVHE or protected mode.  The functions are
# those of every emulator file (see qemu-x86_64.sh).
emu_arch=arm64
emu_tools="qemu-system-aarch64"
# virt has one non-secure PL011, the kernel's console: the results go to
# a virtio console (configs/arm64-kvm.config has CONFIG_VIRTIO_CONSOLE).
emu_channel=/dev/hvc0
# The guest clock follows the host's.
emu_time_scale=1

emu_defaults() {
	cpu=${cpu:-max}
	mem=${mem:-1G}
	smp=${smp:-2}
	# Multi-threaded TCG: the x86 wedge was nested SVM's and has not been
	# seen here.
	accel=${accel:-tcg}
	[ -z "$icount" ] || die "--icount: only the x86_64 emulator has it"
}

emu_check() { :; }

# No watchdog_thresh: configs/arm64-kvm.config has no lockup detector, and
# the kernel would pass the unknown parameter on to init.
emu_cmdline="console=ttyAMA0"

emu_start() {
	local d=$1 monitor=none
	[ ${#d} -ge 90 ] || monitor="unix:$d/monitor.sock,server=on,wait=off"
	timeout --kill-after=10 "$5" \
		qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 \
		-accel "$accel" -cpu "$cpu" -m "$mem" -smp "$smp" \
		-display none -net none -no-reboot -monitor "$monitor" \
		-serial "file:$d/console.log" \
		-chardev "file,id=results,path=$d/results.log" \
		-device virtio-serial-device -device virtconsole,chardev=results \
		-kernel "$2" -initrd "$3" -append "$4" \
		</dev/null >"$d/emulator.log" 2>&1 &
	qpid=$!
}
