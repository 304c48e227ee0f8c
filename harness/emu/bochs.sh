# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154,SC2034 # harness/run.sh's globals
#
# bochs.sh: harness/run.sh's emulator file for Bochs (Debian's bochs 2.7),
# whose CPU models emulate Intel VMX with EPT, VPID and unrestricted guest:
# the only emulator here that runs kvm-intel (QEMU TCG has no VMX).  The
# functions are those of every emulator file (see qemu-x86_64.sh).
#
# Bochs cannot load a bzImage: the kernel and initramfs boot from an
# isolinux El Torito ISO made per boot.  Debian builds bochs with its
# debugger, so it starts with -rc holding "c" (continue), stdin from
# /dev/null; "display_library: rfb" because the package has no nogui
# (timeout=0: do not wait for a viewer).  Without the dummy sound driver
# and the speaker off, Bochs aborts on an ALSA buffer overflow.  Its
# error and info messages are off: the Debian kernel's probes of MSRs the
# model lacks and the guests' EPT violations made 2 MB a minute.
emu_arch=x86_64
emu_tools="bochs xorriso"
emu_channel=/dev/ttyS1
# Bochs' clock (clock: sync=none, ips=100000000) counts instructions: a
# guest second took 6 wall seconds on a busy 2-core host (75 s of guest
# uptime in 435 s), so a test's timeout in guest seconds is up to 8 times
# that in wall time.
emu_time_scale=8

emu_defaults() {
	cpu=${cpu:-corei7_haswell_4770}
	mem=${mem:-2G}
	smp=${smp:-1}
	[ -z "$accel" ] || die "--accel: Bochs has no accelerator"
	[ -z "$icount" ] || die "--icount: only the qemu-x86_64 emulator has it"
	[ "$smp" = 1 ] || die "--smp: one CPU under Bochs (its SMP is slower still)"
	# Bochs wants megabytes.
	case $mem in
	*G) mem_mb=$((${mem%G} * 1024)) ;;
	*M) mem_mb=${mem%M} ;;
	esac
}

emu_check() {
	local f
	for f in /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 \
		/usr/share/bochs/BIOS-bochs-latest /usr/share/vgabios/vgabios.bin; do
		[ -f "$f" ] || die "$f not found: run harness/deps.sh (bochs, isolinux)"
	done
}

# The guest's clock runs slower than the host's: the same stretched
# detectors as under TCG are enough.
emu_cmdline="console=ttyS0 watchdog_thresh=60"

emu_start() {
	local d=$1 iso=$1/iso
	mkdir -p "$iso/isolinux"
	cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$iso/isolinux/"
	cp "$2" "$iso/vmlinuz"
	cp "$3" "$iso/initrd.gz"
	printf 'DEFAULT harness\nLABEL harness\n  KERNEL /vmlinuz\n  INITRD /initrd.gz\n  APPEND %s\n' \
		"$4" >"$iso/isolinux/isolinux.cfg"
	xorriso -as mkisofs -quiet -o "$d/boot.iso" -b isolinux/isolinux.bin \
		-c isolinux/boot.cat -no-emul-boot -boot-load-size 4 \
		-boot-info-table "$iso" 2>"$d/xorriso.log" ||
		die "xorriso failed: see $d/xorriso.log"
	rm -rf "$iso"
	cat >"$d/bochsrc" <<EOB
cpu: model=$cpu, count=1, ips=100000000, ignore_bad_msrs=1
memory: guest=$mem_mb, host=$mem_mb
clock: sync=none
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$d/boot.iso, status=inserted
boot: cdrom
display_library: rfb, options="timeout=0"
com1: enabled=1, mode=file, dev=$d/console.log
com2: enabled=1, mode=file, dev=$d/results.log
sound: driver=dummy
speaker: enabled=0
panic: action=fatal
error: action=ignore
info: action=ignore
log: $d/bochs.log
EOB
	echo c >"$d/bochs.rc"
	timeout --kill-after=10 "$5" \
		bochs -q -f "$d/bochsrc" -rc "$d/bochs.rc" \
		</dev/null >"$d/emulator.log" 2>&1 &
	qpid=$!
}
