#!/bin/bash
# run.sh: boot Debian's stock kernel under QEMU/TCG (AMD SVM + NPT) and run
# our tests and the kernel's KVM selftests against stock and our KVM modules.
# Prints TAP on stdout, progress on stderr; exit 0 iff nothing failed.
# See harness/README.
set -euo pipefail

# The whole script is one compound command, so bash parses all of it before
# running any: editing run.sh while a run is in progress cannot break it.
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Shared with harness/arm64/run.sh: add_tests, ks_tune, list_tests,
# pack_cpio, tap, test_log.
# shellcheck source=harness/lib.sh
. "$here/lib.sh"
ks_timeout_file=$here/kselftests.timeout
test_machine=X86-64
test_strip="strip"
prog=run.sh

die() { echo "$prog: error: $*" >&2; exit 2; }
note() { [ "$quiet" = 1 ] || echo "# $*" >&2; }

usage() {
	cat >&2 <<EOF
usage: harness/run.sh --kver KVER --ours DIR --tests DIR [--kselftests DIR]
                      [--cache DIR] [--phases "stock ours ..."]
                      [--timeout SECONDS] [--max-time SECONDS]
                      [--append "KERNEL ARGS"] [--smp N] [--mem SIZE]
                      [--accel ACCEL] [--icount SHIFT] [--cpu MODEL]
                      [--label NAME] [--results DIR]
                      [--test-args "NAME ARGS..."]... [--quiet]
  --kver KVER        Debian kernel ABI, e.g. 6.1.0-56-amd64
  --ours DIR         directory with our kvm.ko and kvm-amd.ko (.ko or .ko.xz)
  --tests DIR        our static test binaries (every executable file; may be empty)
  --kselftests DIR   kselftest binaries from harness/kselftests.sh (OUTDIR/bin)
  --cache DIR        downloads and run outputs (default: <repo>/.cache)
  --phases "..."     phases from harness/phases.conf to run, in that order
                     (default: all of them)
  --timeout SECONDS  default per-test timeout (default 120)
  --max-time SECONDS hard limit for the whole guest run (default 3600)
  --append "ARGS"    extra guest kernel command line
  --smp N            guest CPUs (default 2)
  --mem SIZE         guest RAM, QEMU -m syntax, e.g. 4G or 3584M (default 2G)
  --accel ACCEL      QEMU -accel value (default tcg,thread=single; see README)
  --icount SHIFT     deterministic guest time: QEMU -icount shift=SHIFT,sleep=off
                     and -seed 1 (guest clocks count executed instructions,
                     2^SHIFT ns each); needs one guest CPU and one TCG thread,
                     so --smp defaults to 1 and must be 1 (see README)
  --cpu MODEL        QEMU -cpu value (default EPYC,+svm,+npt); it must keep
                     SVM and NPT, e.g. EPYC,+svm,+npt,phys-bits=52 for a
                     host MAXPHYADDR above the 4-level NPT root's 48 bits
  --label NAME       prefix every TAP point's name with NAME/ (tells two
                     runs apart in one combined stream)
  --results DIR      each test's verdict and output as files:
                     DIR/<phase>/<suite>/<test>.{status,log} (default:
                     results/ in the run's directory; emptied first)
  --test-args "NAME ARGS..."
                     run our test NAME (of --tests) with ARGS (split at
                     blanks); may be given once per test
  --quiet            no progress on stderr
EOF
	exit 2
}

kver=
ours=
tests=
kselftests=
cache=$here/../.cache
phases=
timeout=120
max_time=3600
append_extra=
smp=		# default 2, or 1 with --icount
mem=2G
accel=		# default tcg,thread=single (below)
icount=
cpu=EPYC,+svm,+npt
tap_label=
results_dir=
declare -A test_args=()
quiet=0

while [ $# -gt 0 ]; do
	case $1 in
	--kver) kver=${2:?}; shift 2 ;;
	--ours) ours=${2:?}; shift 2 ;;
	--tests) tests=${2:?}; shift 2 ;;
	--kselftests) kselftests=${2:?}; shift 2 ;;
	--cache) cache=${2:?}; shift 2 ;;
	--phases) phases=${2:?}; shift 2 ;;
	--timeout) timeout=${2:?}; shift 2 ;;
	--max-time) max_time=${2:?}; shift 2 ;;
	--append) append_extra=${2:?}; shift 2 ;;
	--smp) smp=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--accel) accel=${2:?}; shift 2 ;;
	--icount) icount=${2:?}; shift 2 ;;
	--cpu) cpu=${2:?}; shift 2 ;;
	--label) tap_label=${2:?}/; shift 2 ;;
	--results) results_dir=${2:?}; shift 2 ;;
	--test-args)
		read -r n a <<<"${2:?}"
		test_args[$n]=$a
		shift 2 ;;
	--quiet) quiet=1; shift ;;
	-h|--help) usage ;;
	*) echo "$prog: error: unknown argument '$1'" >&2; usage ;;
	esac
done

if [ -z "$kver" ]; then
	guess=$(find /usr/src -maxdepth 1 -name 'linux-headers-*-amd64' -printf '%f\n' 2>/dev/null | sed 's/^linux-headers-//' | sort -V | tail -n1)
	die "--kver is required (e.g. ${guess:-6.1.0-56-amd64})"
fi
[ -n "$tests" ] || die "--tests DIR is required (may be an empty directory)"
[ -d "$tests" ] || die "--tests: $tests is not a directory"
[ -z "$kselftests" ] || [ -d "$kselftests" ] || die "--kselftests: $kselftests is not a directory"
if ! [[ $timeout =~ ^[0-9]+$ ]] || [ "$timeout" -eq 0 ]; then
	die "--timeout must be a positive integer"
fi
[[ $max_time =~ ^[0-9]+$ ]] || die "--max-time must be an integer"
if [ -n "$icount" ]; then
	# QEMU 7.2: icount needs single-threaded TCG, and with -smp 2 the
	# guest hangs at SMP bring-up.
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
# Multi-threaded TCG (QEMU 7.2) with nested SVM wedges the guest now and
# then (both vCPUs spinning in the L1 kernel with interrupts off); one TCG
# thread for both vCPUs does not.  See README.
accel=${accel:-tcg,thread=single}
[[ $smp =~ ^[1-9][0-9]*$ ]] || die "--smp must be a positive integer"
[[ $mem =~ ^[1-9][0-9]*[MG]$ ]] || die "--mem must be a size like 4G or 3584M"
case ,$cpu, in
*,+svm,*+npt,*) ;;
*) die "--cpu $cpu: the guest needs SVM and NPT (add +svm,+npt)" ;;
esac
for t in qemu-system-x86_64 cpio gzip gcc timeout; do
	command -v "$t" >/dev/null || die "$t not found: run harness/deps.sh"
done
[ -x /bin/busybox ] || die "/bin/busybox not found: run harness/deps.sh (busybox-static)"
grep -q INTERP <<<"$(readelf -l /bin/busybox)" && die "/bin/busybox is not static: install busybox-static"

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
work=$cache/harness
new_run_dir "$work"
init_results "${results_dir:-$out/results}"

# ---- plan ---------------------------------------------------------------
declare -A phase_line=()
all_phases=()
while read -r name modset kp ap suites rest; do
	case $name in ""|"#"*) continue ;; esac
	if [ -z "$suites" ] || [ -n "$rest" ]; then
		die "phases.conf: bad line for '$name'"
	fi
	phase_line[$name]="$modset $kp $ap $suites"
	all_phases+=("$name")
done <"$here/phases.conf"
if [ -z "$phases" ]; then
	phases="${all_phases[*]}"
fi
need_ours=0
for p in $phases; do
	[ -n "${phase_line[$p]:-}" ] || die "unknown phase '$p' (phases.conf has: ${all_phases[*]})"
	read -r modset _ <<<"${phase_line[$p]}"
	case $modset in
	stock) ;;
	ours) need_ours=1 ;;
	*) die "phases.conf: phase $p: unknown modset '$modset'" ;;
	esac
done
if [ "$need_ours" = 1 ]; then
	[ -n "$ours" ] || die "--ours DIR is required by phases using our modules"
	[ -d "$ours" ] || die "--ours: $ours is not a directory"
fi

# ---- kernel image -------------------------------------------------------
img=$("$here/image.sh" "$kver" "$cache") || die "image.sh $kver failed"
vmlinuz=$img/boot/vmlinuz-$kver
moddir=$img/lib/modules/$kver/kernel

# ---- runner -------------------------------------------------------------
runner=$work/runner
if [ ! -x "$runner" ] || [ "$here/runner.c" -nt "$runner" ]; then
	gcc -static -O2 -Wall -Wextra -Werror -o "$runner.$$" "$here/runner.c" ||
		die "building runner failed"
	mv "$runner.$$" "$runner"
fi

# ---- initramfs ----------------------------------------------------------
root=$out/initramfs
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,harness,modules/stock,modules/ours,tests/tests,tests/kselftests}
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
done
cp "$runner" "$root/bin/runner"
install -m 0755 "$here/guest-init" "$root/init"

copy_ko() {	# copy_ko SRC DESTDIR NAME: .ko, .ko.xz, .ko.zst, .ko.gz
	case $1 in
	*.ko) cp "$1" "$2/$3.ko" ;;
	*.ko.xz) xz -dc "$1" >"$2/$3.ko" ;;
	*.ko.zst) zstd -qdc "$1" >"$2/$3.ko" ;;
	*.ko.gz) gzip -dc "$1" >"$2/$3.ko" ;;
	*) die "unknown module format: $1" ;;
	esac || die "cannot copy module $1"
}
find_ko() {	# find_ko DIR NAME: first NAME.ko* under DIR
	find "$1" \( -name "$2.ko" -o -name "$2.ko.*" \) -print -quit
}
for m in irqbypass ccp kvm kvm-amd; do
	f=$(find_ko "$moddir" "$m")
	[ -n "$f" ] || die "stock $m.ko not found under $moddir"
	copy_ko "$f" "$root/modules/stock" "$m"
done
if [ "$need_ours" = 1 ]; then
	for m in kvm kvm-amd; do
		f=$(find "$ours" -maxdepth 1 \( -name "$m.ko" -o -name "$m.ko.*" \) -print -quit)
		[ -n "$f" ] || die "--ours: no $m.ko in $ours"
		copy_ko "$f" "$root/modules/ours" "$m"
	done
fi

# (not in a subshell, so that die stops run.sh)
add_tests "$tests" tests >"$out/tests.list"
mapfile -t our_tests <"$out/tests.list"
ks_tests=()
if [ -n "$kselftests" ]; then
	add_tests "$kselftests" kselftests "$here/kselftests.exclude" >"$out/kselftests.list"
	mapfile -t ks_tests <"$out/kselftests.list"
	[ "${#ks_tests[@]}" -gt 0 ] || die "--kselftests: no executable files in $kselftests"
fi


# run.list for the guest, and the list of expected results for the host.
runlist=$root/harness/run.list
expected=$out/expected
: >"$runlist"
: >"$expected"
max_t=$timeout
for p in $phases; do
	read -r modset kp ap suites <<<"${phase_line[$p]}"
	echo "PHASE $p $modset $kp $ap" >>"$runlist"
	echo "$p PHASE" >>"$expected"
	list_tests "$suites" "$runlist" "$expected" "$p "
done

initrd=$out/initrd.gz
pack_cpio "$root" "$initrd" || die "building the initramfs failed"
rm -rf "$root"
note "initramfs $initrd ($(du -h "$initrd" | cut -f1)): ${#our_tests[@]} tests, ${#ks_tests[@]} kselftests, phases: $phases"

# ---- boot ---------------------------------------------------------------
console=$out/console.log
results=$out/results.log
: >"$console"
: >"$results"
# TCG runs the guest 10-100x slower than hardware while its clocks follow
# the host's: stretch the RCU stall (max 300 s) and soft lockup (2 x 60 s)
# detectors so that they catch real lockups, not emulation speed.
cmdline="console=ttyS0 panic=-1 panic_on_warn=1 rcupdate.rcu_cpu_stall_timeout=300 watchdog_thresh=60 $append_extra"
# A guest whose result channel is silent this long is hung.
idle_limit=$((max_t + 180))

# HMP monitor socket, to look at a hung guest ("info registers -a").
monitor=none
if [ ${#out} -lt 90 ]; then
	monitor="unix:$out/monitor.sock,server=on,wait=off"
fi

# --icount: the guest's clocks follow its instruction count, not the host:
# times measured inside are reproducible whatever else runs on the host.
# sleep=off skips idle time instead of waiting for it; -seed makes the
# guest's RDRAND (and so its random layout choices) repeatable too.
det=()
[ -z "$icount" ] || det=(-icount "shift=$icount,sleep=off" -seed 1)

start=$(date +%s)
timeout --kill-after=10 "$max_time" \
	qemu-system-x86_64 -M q35 -accel "$accel" "${det[@]}" -cpu "$cpu" -m "$mem" -smp "$smp" \
	-display none -net none -no-reboot \
	-monitor "$monitor" \
	-serial "file:$console" -serial "file:$results" \
	-kernel "$vmlinuz" -initrd "$initrd" -append "$cmdline" \
	</dev/null >"$out/qemu.log" 2>&1 &
qpid=$!
# Do not leave a QEMU behind when run.sh is stopped.
trap 'kill "$qpid" 2>/dev/null || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
watch_guest "$qpid" "$results" "$idle_limit"
elapsed=$(($(date +%s) - start))
note "guest ran ${elapsed}s, qemu exit $qrc${hung:+, killed: $hung}"

# ---- report -------------------------------------------------------------
tr -d '\r' <"$results" >"$out/results.txt"
res=$out/results.txt

npass=0 nfail=0 nskip=0 idx=0

total=$(($(wc -l <"$expected") + 2))
echo "TAP version 13"
echo "1..$total"
while read -r p id; do
	if [ "$id" = PHASE ]; then
		# The stock phase, when it runs, is the others' baseline.
		base=
		if [ "$p" != stock ] && [[ " $phases " == *" stock "* ]]; then
			base=stock
		fi
		line=$(grep -m1 "^PHASE $p " "$res" || true)
		case $line in
		"PHASE $p ok"*) tap ok "$p/load modules" ;;
		"") tap notok "$p/load modules" "phase never started" ;;
		*) tap notok "$p/load modules" "${line#PHASE "$p" fail }" ;;
		esac
		continue
	fi
	judge "$p" "$id" "$base" "$console" "$res"
done <"$expected"

judge_guest "" "$console" "$res" "$hung" "$elapsed"
echo "# results:     $results"
echo "# per test:    $results_dir"
echo "$npass passed, $nfail failed, $nskip skipped"
[ "$nfail" -eq 0 ]
exit
}
