#!/bin/bash
# arm64/run.sh: boot arm64 kernels (KVM built in) under QEMU/TCG with EL2
# emulated (virt,virtualization=on) and run our tests and the kernel's KVM
# selftests in them: the unpatched kernel once as the kselftest baseline,
# ours once per KVM mode (VHE, nVHE, protected).
# Prints TAP on stdout, progress on stderr; exit 0 iff nothing failed.
# See harness/README.
set -euo pipefail

# The whole script is one compound command, so bash parses all of it before
# running any: editing run.sh while a run is in progress cannot break it.
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Shared with harness/run.sh: add_tests, ks_tune, list_tests, pack_cpio,
# tap, test_log.
# shellcheck source=harness/lib.sh
. "$here/../lib.sh"
ks_timeout_file=$here/kselftests.timeout
test_machine=AArch64
test_strip=aarch64-linux-gnu-strip
top=$(cd "$here/.." && pwd)	# harness/
prog=arm64/run.sh

die() { echo "$prog: error: $*" >&2; exit 2; }
note() { [ "$quiet" = 1 ] || echo "# $*" >&2; }

usage() {
	cat >&2 <<EOF
usage: harness/arm64/run.sh [--stock IMAGE] [--ours IMAGE] [--tests DIR]
                            [--kselftests DIR] [--modes "vhe nvhe protected"]
                            [--stock-modes "vhe"] [--cache DIR]
                            [--timeout SECONDS] [--max-time SECONDS]
                            [--append "KERNEL ARGS"] [--smp N] [--mem SIZE]
                            [--accel ACCEL] [--results DIR] [--quiet]
  --stock IMAGE      unpatched arm64 kernel Image: the kselftest baseline
  --ours IMAGE       arm64 kernel Image with our series
  --tests DIR        our static aarch64 test binaries (every executable file)
  --kselftests DIR   kselftest binaries from kselftests.sh --arch arm64 (OUTDIR/bin)
  --modes "..."      KVM modes to boot ours in (default "vhe nvhe protected");
                     protected runs only --tests
  --stock-modes "..." KVM modes to boot stock in for the baseline (default "vhe")
  --cache DIR        downloads and run outputs (default: <repo>/.cache)
  --timeout SECONDS  default per-test timeout (default 120)
  --max-time SECONDS hard limit for all boots together (default 2400)
  --append "ARGS"    extra guest kernel command line
  --smp N            guest CPUs (default 2)
  --mem SIZE         guest RAM, QEMU -m syntax (default 1G)
  --accel ACCEL      QEMU -accel value (default tcg)
  --results DIR      each test's verdict and output as files:
                     DIR/<boot>/<suite>/<test>.{status,log} (default:
                     results/ in the run's directory; emptied first)
  --quiet            no progress on stderr
At least one of --stock (with --kselftests) and --ours (with --tests or
--kselftests) is needed.
EOF
	exit 2
}

stock=
ours=
tests=
kselftests=
modes="vhe nvhe protected"
stock_modes=vhe
cache=$top/../.cache
timeout=120
max_time=2400
append_extra=
smp=2
mem=1G
accel=tcg
results_dir=
declare -A test_args=()	# lib.sh list_tests; x86's run.sh sets them
quiet=0

while [ $# -gt 0 ]; do
	case $1 in
	--stock) stock=${2:?}; shift 2 ;;
	--ours) ours=${2:?}; shift 2 ;;
	--tests) tests=${2:?}; shift 2 ;;
	--kselftests) kselftests=${2:?}; shift 2 ;;
	--modes) modes=${2?}; shift 2 ;;
	--stock-modes) stock_modes=${2?}; shift 2 ;;
	--cache) cache=${2:?}; shift 2 ;;
	--timeout) timeout=${2:?}; shift 2 ;;
	--max-time) max_time=${2:?}; shift 2 ;;
	--append) append_extra=${2:?}; shift 2 ;;
	--smp) smp=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--accel) accel=${2:?}; shift 2 ;;
	--results) results_dir=${2:?}; shift 2 ;;
	--quiet) quiet=1; shift ;;
	-h|--help) usage ;;
	*) echo "$prog: error: unknown argument '$1'" >&2; usage ;;
	esac
done

for f in "$stock" "$ours"; do
	[ -z "$f" ] || [ -f "$f" ] || die "kernel image $f not found"
done
[ -z "$tests" ] || [ -d "$tests" ] || die "--tests: $tests is not a directory"
[ -z "$kselftests" ] || [ -d "$kselftests" ] || die "--kselftests: $kselftests is not a directory"
for m in $modes $stock_modes; do
	case $m in vhe|nvhe|protected) ;; *) die "unknown KVM mode '$m' (vhe, nvhe, protected)" ;; esac
done
if ! [[ $timeout =~ ^[0-9]+$ ]] || [ "$timeout" -eq 0 ]; then
	die "--timeout must be a positive integer"
fi
[[ $max_time =~ ^[1-9][0-9]*$ ]] || die "--max-time must be a positive integer"
[[ $smp =~ ^[1-9][0-9]*$ ]] || die "--smp must be a positive integer"
[[ $mem =~ ^[1-9][0-9]*[MG]$ ]] || die "--mem must be a size like 1G or 1536M"
for t in qemu-system-aarch64 aarch64-linux-gnu-gcc aarch64-linux-gnu-strip cpio gzip timeout readelf; do
	command -v "$t" >/dev/null || die "$t not found (apt-get install qemu-system-arm gcc-aarch64-linux-gnu)"
done

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
work=$cache/harness-arm64
new_run_dir "$work"
init_results "${results_dir:-$out/results}"

# ---- plan: boots ----------------------------------------------------------
# boot name -> "image suites mode"
declare -A boot_line=()
boots=()
if [ -n "$stock" ] && [ -n "$kselftests" ]; then
	for m in $stock_modes; do
		# Protected mode runs only our tests, which stock cannot pass.
		[ "$m" != protected ] || die "--stock-modes: protected has no kselftests to run"
		boots+=("stock-$m")
		boot_line[stock-$m]="$stock kselftests $m"
	done
fi
if [ -n "$ours" ]; then
	for m in $modes; do
		s=
		[ -z "$tests" ] || s=tests
		# pKVM in 6.1 is a host-protection mode: the kselftests' view of
		# KVM does not change with it, our tests check what it must refuse.
		if [ "$m" != protected ] && [ -n "$kselftests" ]; then
			s=${s:+$s,}kselftests
		fi
		[ -n "$s" ] || continue
		boots+=("ours-$m")
		boot_line[ours-$m]="$ours $s $m"
	done
fi
[ "${#boots[@]}" -gt 0 ] || die "nothing to run: give --stock with --kselftests and/or --ours with --tests/--kselftests"

# ---- userspace ------------------------------------------------------------
busybox=$("$here/busybox.sh" "$cache") || die "busybox.sh failed"
runner=$work/runner
if [ ! -x "$runner" ] || [ "$top/runner.c" -nt "$runner" ]; then
	aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror -o "$runner.$$" "$top/runner.c" ||
		die "building runner failed"
	mv "$runner.$$" "$runner"
fi

# ---- base initramfs (shared by all boots) --------------------------------
root=$out/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,harness,tests/tests,tests/kselftests}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"	# guest-init installs the other applets
cp "$runner" "$root/bin/runner"
install -m 0755 "$here/guest-init" "$root/init"

our_tests=()
ks_tests=()
# (not in a subshell, so that die stops run.sh)
if [ -n "$tests" ]; then
	add_tests "$tests" tests >"$out/tests.list"
	mapfile -t our_tests <"$out/tests.list"
fi
if [ -n "$kselftests" ]; then
	add_tests "$kselftests" kselftests "$here/kselftests.exclude" >"$out/kselftests.list"
	mapfile -t ks_tests <"$out/kselftests.list"
	[ "${#ks_tests[@]}" -gt 0 ] || die "--kselftests: no executable files in $kselftests"
fi

base=$out/base.cpio.gz
pack_cpio "$root" "$base" || die "building the initramfs failed"
rm -rf "$root"
note "initramfs $base ($(du -h "$base" | cut -f1)): ${#our_tests[@]} tests, ${#ks_tests[@]} kselftests; boots: ${boots[*]}"


# Per boot: run.list (appended to the base initramfs as a second cpio
# archive, which the kernel unpacks over the first), the expected results
# and the longest per-test timeout.
token=KH$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
# marker_results: this boot's result lines, which guest-init writes to the
# console as "<token> LINE" marker lines, into $results.
marker_results() {
	grep -ao "$token .*" "$console" | tr -d '\r' | cut -d' ' -f2- >"$results" || true
}
declare -A boot_maxt=()
for b in "${boots[@]}"; do
	read -r _ suites mode <<<"${boot_line[$b]}"
	d=$out/$b
	mkdir -p "$d/root/harness"
	rl=$d/root/harness/run.list
	{ echo "TOKEN $token"; echo "BOOT $b $mode"; } >"$rl"
	: >"$d/expected"
	max_t=$timeout
	list_tests "$suites" "$rl" "$d/expected"
	boot_maxt[$b]=$max_t
	pack_cpio "$d/root" "$d/list.cpio.gz" ||
		die "building the run list archive failed"
	cat "$base" "$d/list.cpio.gz" >"$d/initrd.gz"
	rm -rf "$d/root" "$d/list.cpio.gz"
done
rm -f "$base"

# ---- TAP --------------------------------------------------------------------
npass=0 nfail=0 nskip=0 idx=0
total=0
for b in "${boots[@]}"; do
	# boot ok, the tests, kernel log clean, guest finished
	total=$((total + $(wc -l <"$out/$b/expected") + 3))
done
echo "TAP version 13"
echo "1..$total"

# ---- boots ------------------------------------------------------------------
# TCG runs the guest 10-100x slower than hardware while its clocks follow
# the host's: stretch the RCU stall detector (max 300 s) so that it catches
# real lockups, not emulation speed.  (x86's watchdog_thresh=60 is left
# out: configs/arm64-kvm.config has no lockup detector, and the kernel
# would pass the unknown parameter on to init.)
# panic_on_warn: any WARN ends the boot and fails the run.
# printk.devkmsg=on: the result lines go through /dev/kmsg (see
# guest-init), whose default rate limit would drop some.
cmdline_base="console=ttyAMA0 panic=-1 panic_on_warn=1 rcupdate.rcu_cpu_stall_timeout=300 printk.devkmsg=on"
run_start=$(date +%s)
for b in "${boots[@]}"; do
	read -r image suites mode <<<"${boot_line[$b]}"
	d=$out/$b
	console=$d/console.log
	results=$d/results.txt
	: >"$console"
	# VHE is what the kernel picks on a CPU with EL2 and VHE; nVHE and
	# protected are chosen on the command line (6.1 knows no "vhe" value).
	case $mode in
	vhe) kvm_arg= ;;
	*) kvm_arg="kvm-arm.mode=$mode" ;;
	esac
	cmdline="$cmdline_base${kvm_arg:+ $kvm_arg}${append_extra:+ $append_extra}"
	idle_limit=$((boot_maxt[$b] + 120))
	left=$((max_time - ($(date +%s) - run_start)))
	hung=
	elapsed=0
	if [ "$left" -le 0 ]; then
		hung="not started: --max-time ${max_time}s used up"
	else
		note "boot $b: $(basename "$image") ($image), $cmdline"
		monitor=none
		[ ${#d} -ge 90 ] || monitor="unix:$d/monitor.sock,server=on,wait=off"
		start=$(date +%s)
		timeout --kill-after=10 "$left" \
			qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 \
			-accel "$accel" -cpu max -m "$mem" -smp "$smp" \
			-display none -net none -no-reboot -monitor "$monitor" \
			-serial "file:$console" \
			-kernel "$image" -initrd "$d/initrd.gz" -append "$cmdline" \
			</dev/null >"$d/qemu.log" 2>&1 &
		qpid=$!
		# Do not leave a QEMU behind when run.sh is stopped.
		trap 'kill "$qpid" 2>/dev/null || true' EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
		watch_guest "$qpid" "$results" "$idle_limit" marker_results
		trap - EXIT
		elapsed=$(($(date +%s) - start))
		note "boot $b ran ${elapsed}s, qemu exit $qrc${hung:+, killed: $hung}"
	fi
	marker_results

	# -- report this boot --
	line=$(grep -m1 "^BOOT $b " "$results" || true)
	case $line in
	"BOOT $b ok"*) tap ok "$b/boot ok" "KVM ${line#BOOT "$b" ok }" ;;
	"") tap notok "$b/boot ok" "${hung:-the guest never reported}" ;;
	*) tap notok "$b/boot ok" "${line#BOOT "$b" fail }" ;;
	esac
	# The baseline for ours-<mode> is stock-<mode> if that ran, else the
	# first stock boot.
	base_b=
	if [[ $b == ours-* ]]; then
		base_b=stock-${b#ours-}
		[ -n "${boot_line[$base_b]:-}" ] || base_b=
		[ -n "$base_b" ] || for x in "${boots[@]}"; do
			if [[ $x == stock-* ]]; then base_b=$x; break; fi
		done
	fi
	while read -r id; do
		judge "$b" "$id" "$base_b" "$console" "$results"
	done <"$d/expected"
	judge_guest "$b/" "$console" "$results" "$hung" "$elapsed"
done
echo "# per test:    $results_dir"

note "all boots: $(($(date +%s) - run_start))s"
echo "$npass passed, $nfail failed, $nskip skipped"
[ "$nfail" -eq 0 ]
exit
}
