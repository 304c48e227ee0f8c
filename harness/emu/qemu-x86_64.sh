# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154,SC2034 # harness/run.sh's globals
#
# qemu-x86_64.sh: harness/run.sh's emulator file for QEMU TCG x86_64 with
# an emulated AMD CPU (TCG emulates SVM with nested paging, not VMX).
# Sourced; defines what run.sh asks of every emulator:
#   emu_arch, emu_tools            the guest's architecture, host tools
#   emu_time_scale                 wall seconds per guest second, at most
#   emu_defaults                   default --cpu, --accel, --mem, --smp
#   emu_check                      refuse options this emulator cannot do
#   emu_cmdline                    its part of the kernel command line
#   emu_channel                    the guest's result device
#   emu_start DIR KERNEL INITRD CMDLINE SECONDS
#       start the emulator in the background (qpid) writing the kernel
#       console to DIR/console.log and the result channel to
#       DIR/results.log, killed after SECONDS.
emu_arch=x86_64
emu_tools="qemu-system-x86_64"
# The guest clock follows the host's.
emu_time_scale=1
emu_channel=/dev/ttyS1

emu_defaults() {
	cpu=${cpu:-EPYC,+svm,+npt}
	mem=${mem:-2G}
	if [ -n "$icount" ]; then
		# QEMU 7.2: icount needs single-threaded TCG, and with -smp 2
		# the guest hangs at SMP bring-up.
		[[ $icount =~ ^[0-9]$|^10$ ]] || die "--icount SHIFT must be 0..10"
		[ "${smp:-1}" = 1 ] || die "--icount needs --smp 1 (QEMU hangs the guest at SMP bring-up)"
		case ${accel:-tcg} in
		tcg|tcg,thread=single) ;;
		*) die "--icount needs one TCG thread (--accel tcg,thread=single, the default)" ;;
		esac
		smp=1
		accel=tcg,thread=single
	fi
	smp=${smp:-2}
	# Multi-threaded TCG (QEMU 7.2) with nested SVM wedges the guest
	# now and then (both vCPUs spinning in the L1 kernel with
	# interrupts off); one TCG thread for both vCPUs does not.
	accel=${accel:-tcg,thread=single}
}

emu_check() {
	case ,$cpu, in
	*,+svm,*+npt,*) ;;
	*) die "--cpu $cpu: the guest needs SVM and NPT (add +svm,+npt)" ;;
	esac
}

# TCG runs the guest 10-100x slower than hardware while its clocks follow
# the host's: stretch the soft lockup detector (2 x 60 s) as the RCU stall
# one (run.sh) so that they catch real lockups, not emulation speed.
emu_cmdline="console=ttyS0 watchdog_thresh=60"

emu_start() {
	local d=$1 monitor=none det=()
	# HMP monitor socket, to look at a hung guest ("info registers -a").
	[ ${#d} -ge 90 ] || monitor="unix:$d/monitor.sock,server=on,wait=off"
	# --icount: the guest's clocks follow its instruction count, not the
	# host: times measured inside are reproducible whatever else runs on
	# the host.  sleep=off skips idle time instead of waiting for it;
	# -seed makes the guest's RDRAND repeatable too.
	[ -z "$icount" ] || det=(-icount "shift=$icount,sleep=off" -seed 1)
	timeout --kill-after=10 "$5" \
		qemu-system-x86_64 -M q35 -accel "$accel" "${det[@]}" \
		-cpu "$cpu" -m "$mem" -smp "$smp" \
		-display none -net none -no-reboot -monitor "$monitor" \
		-serial "file:$d/console.log" -serial "file:$d/results.log" \
		-kernel "$2" -initrd "$3" -append "$4" \
		</dev/null >"$d/emulator.log" 2>&1 &
	qpid=$!
}
