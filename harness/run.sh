#!/bin/bash
# run.sh: the one test runner of every target.  Boots a target's kernel in
# its emulator (harness/emu/), with the stock and our KVM, and runs our
# tests and the kernel's KVM selftests there.  A target is a row in
# harness/targets/; its phases are rows in harness/phases.conf.
# Prints TAP on stdout (each test's own TAP nested), progress on stderr,
# and writes every test's verdict and output to a results directory;
# exit 0 iff nothing failed.  See harness/README.
set -euo pipefail

# The whole script is one compound command, so bash parses all of it before
# running any: editing run.sh while a run is in progress cannot break it.
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=harness/lib.sh
. "$here/lib.sh"
prog=run.sh

die() { echo "$prog: error: $*" >&2; exit 2; }
note() { [ "$quiet" = 1 ] || echo "# $*" >&2; }

usage() {
	cat >&2 <<EOF
usage: harness/run.sh [--target NAME] [--kver KVER] [--stock IMAGE]
                      [--ours DIR|IMAGE] --tests DIR [--kselftests DIR]
                      [--kselftests-only FILE] [--phases "stock ours ..."] [--cache DIR]
                      [--timeout SECONDS] [--max-time SECONDS]
                      [--append "KERNEL ARGS"] [--smp N] [--mem SIZE]
                      [--accel ACCEL] [--icount SHIFT] [--cpu MODEL]
                      [--label NAME] [--results DIR]
                      [--test-args "NAME ARGS..."]... [--quiet]
  --target NAME      a row of harness/targets/ (or a path to one): the
                     architecture, emulator, KVM backend, how the kernel
                     and KVM arrive, the phases and default options
                     (default x86_64-6.1; its options come before these)
  --kver KVER        kernel=debian targets: Debian's kernel ABI to boot,
                     e.g. 6.1.0-57-amd64
  --stock IMAGE      kernel=built targets: the unpatched kernel Image
  --ours DIR|IMAGE   our KVM: the directory with kvm.ko and kvm-<vendor>.ko
                     (kvm=modules), or the kernel Image with our series
                     (kvm=builtin)
  --tests DIR        our static test binaries (every executable file; may be empty)
  --kselftests DIR   kselftest binaries from harness/kselftests.sh (OUTDIR/bin)
  --kselftests-only FILE
                     of those, only the ones FILE lists (a file in harness/
                     or a path; an emulator's measured subset)
  --phases "..."     the target backend's phases from harness/phases.conf
                     to run, in that order (default: the target's)
  --cache DIR        downloads and run outputs (default: <repo>/.cache)
  --timeout SECONDS  default per-test timeout (default 120)
  --max-time SECONDS hard limit for all boots together (default 3600)
  --append "ARGS"    extra guest kernel command line
  --smp N            guest CPUs (default 2)
  --mem SIZE         guest RAM, QEMU -m syntax (default: the emulator's)
  --accel ACCEL      QEMU -accel value (default: the emulator's)
  --icount SHIFT     qemu-x86_64: deterministic guest time: QEMU -icount
                     shift=SHIFT,sleep=off and -seed 1; needs one guest CPU
                     and one TCG thread, so --smp defaults to 1 (see README)
  --cpu MODEL        QEMU -cpu value (qemu-x86_64: default EPYC,+svm,+npt,
                     must keep SVM and NPT; qemu-aarch64: max)
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

# ---- target ----------------------------------------------------------------
target=x86_64-6.1
for ((i = 1; i < $#; i++)); do
	if [ "${!i}" = --target ]; then
		j=$((i + 1))
		target=${!j}
	fi
done
case $target in
*/*) tfile=$target ;;
*) tfile=$here/targets/$target ;;
esac
[ -f "$tfile" ] || die "--target: no $tfile (harness/targets has: $(cd "$here/targets" && echo *))"
arch='' line='' emulator='' backend='' kernel='' kvm='' phases=all run_args=()
# shellcheck source=/dev/null
. "$tfile"
[ -f "$here/emu/$emulator.sh" ] || die "$tfile: no emulator file harness/emu/$emulator.sh"
case $kernel/$kvm in
debian/modules|built/builtin) ;;
*) die "$tfile: kernel=$kernel with kvm=$kvm (debian/modules or built/builtin)" ;;
esac
# The row's options first: the command line's override them.
set -- "${run_args[@]}" "$@"

kver=
stock=
ours=
tests=
kselftests=
ks_only=
cache=$here/../.cache
timeout=120
max_time=3600
append_extra=
smp=
mem=
accel=
icount=
cpu=
tap_label=
results_dir=
declare -A test_args=()
quiet=0

while [ $# -gt 0 ]; do
	case $1 in
	--target) shift 2 ;;
	--kver) kver=${2:?}; shift 2 ;;
	--stock) stock=${2:?}; shift 2 ;;
	--ours) ours=${2:?}; shift 2 ;;
	--tests) tests=${2:?}; shift 2 ;;
	--kselftests) kselftests=${2:?}; shift 2 ;;
	--kselftests-only) ks_only=${2:?}; shift 2 ;;
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

# shellcheck source=harness/emu/qemu-x86_64.sh
. "$here/emu/$emulator.sh"
[ "$emu_arch" = "$arch" ] || die "$tfile: emulator $emulator runs $emu_arch, not $arch"
emu_defaults
emu_check

# What differs per architecture: the test binaries' ELF machine and
# toolchain, the guest's busybox, the kselftests' exclusions and timeouts.
case $arch in
x86_64)
	test_machine=X86-64
	test_strip="strip"
	cc=gcc ;;
arm64)
	test_machine=AArch64
	test_strip=aarch64-linux-gnu-strip
	cc=aarch64-linux-gnu-gcc ;;
*) die "$tfile: unknown arch '$arch'" ;;
esac
# The kselftests' exclusions and timeouts, per architecture and line.
ks_list=$here/kselftests/$arch-$line
ks_timeout_file=$ks_list.timeout

[ -n "$tests" ] || die "--tests DIR is required (may be an empty directory)"
[ -d "$tests" ] || die "--tests: $tests is not a directory"
[ -z "$kselftests" ] || [ -d "$kselftests" ] || die "--kselftests: $kselftests is not a directory"
case $ks_only in
""|/*) ;;
*) [ -f "$ks_only" ] || ks_only=$here/$ks_only ;;	# e.g. kselftests/NAME
esac
[ -z "$ks_only" ] || [ -f "$ks_only" ] || die "--kselftests-only: no file $ks_only"
if ! [[ $timeout =~ ^[0-9]+$ ]] || [ "$timeout" -eq 0 ]; then
	die "--timeout must be a positive integer"
fi
[[ $max_time =~ ^[1-9][0-9]*$ ]] || die "--max-time must be a positive integer"
[[ $smp =~ ^[1-9][0-9]*$ ]] || die "--smp must be a positive integer"
[[ $mem =~ ^[1-9][0-9]*[MG]$ ]] || die "--mem must be a size like 4G or 3584M"
for t in $emu_tools "$cc" "$test_strip" cpio gzip timeout readelf; do
	command -v "$t" >/dev/null || die "$t not found: run harness/deps.sh"
done

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
work=$cache/harness
new_run_dir "$work"
init_results "${results_dir:-$out/results}"

# ---- plan: phases and boots --------------------------------------------------
# phase name -> "kvm kvm-params vendor-params suites", this backend's only
declare -A phase_line=()
all_phases=()
while read -r name be k kp vp suites rest; do
	case $name in ""|"#"*) continue ;; esac
	if [ -z "$suites" ] || [ -n "$rest" ]; then
		die "phases.conf: bad line for '$name'"
	fi
	case $k in stock|ours) ;; *) die "phases.conf: phase $name: kvm '$k' (stock, ours)" ;; esac
	[ "$be" = "$backend" ] || continue
	phase_line[$name]="$k $kp $vp $suites"
	all_phases+=("$name")
done <"$here/phases.conf"
[ "${#all_phases[@]}" -gt 0 ] || die "phases.conf has no phase for backend '$backend'"
[ "$phases" != all ] || phases="${all_phases[*]}"
run_phases=()
need_stock=0 need_ours=0
for p in $phases; do
	[ -n "${phase_line[$p]:-}" ] ||
		die "unknown phase '$p' (phases.conf has for $backend: ${all_phases[*]})"
	read -r k _ _ suites <<<"${phase_line[$p]}"
	# A phase with nothing to run is left out (a kselftest baseline
	# without --kselftests).
	s=
	[[ ,$suites, != *,tests,* ]] || s=tests
	[ -z "$kselftests" ] || [[ ,$suites, != *,kselftests,* ]] || s=${s:+$s,}kselftests
	if [ -z "$s" ]; then
		note "phase $p: nothing to run (suites $suites)"
		continue
	fi
	phase_line[$p]="${phase_line[$p]% *} $s"
	run_phases+=("$p")
	if [ "$k" = stock ]; then need_stock=1; else need_ours=1; fi
done
[ "${#run_phases[@]}" -gt 0 ] || die "nothing to run"

# The kernel(s), and KVM for each phase.
case $kernel in
debian)
	if [ -z "$kver" ]; then
		guess=$(find /usr/src -maxdepth 1 -name "linux-headers-$line.*-amd64" -printf '%f\n' 2>/dev/null |
			sed 's/^linux-headers-//' | sort -V | tail -n1)
		die "--kver is required (e.g. ${guess:-6.1.0-57-amd64})"
	fi
	img=$("$here/image.sh" "$kver" "$cache") || die "image.sh $kver failed"
	stock_image=$img/boot/vmlinuz-$kver
	ours_image=$stock_image
	moddir=$img/lib/modules/$kver/kernel ;;
built)
	[ "$need_stock" = 0 ] || [ -f "$stock" ] || die "--stock IMAGE is required by the stock phases${stock:+ ($stock not found)}"
	[ "$need_ours" = 0 ] || [ -f "$ours" ] || die "--ours IMAGE is required by our phases${ours:+ ($ours not found)}"
	stock_image=$stock
	ours_image=$ours ;;
esac
if [ "$kvm" = modules ] && [ "$need_ours" = 1 ]; then
	[ -d "$ours" ] || die "--ours DIR (our kvm.ko and kvm-$backend.ko) is required by our phases"
fi

# Boots: KVM as modules loads each phase's in one boot; built-in KVM
# needs a boot per phase (its kernel and command line).
boots=()
declare -A boot_phases=() boot_image=() boot_args=()
for p in "${run_phases[@]}"; do
	read -r k kp _ _ <<<"${phase_line[$p]}"
	if [ "$kvm" = modules ]; then
		b=guest
		boot_image[$b]=$stock_image
		boot_args[$b]=
	else
		b=$p
		[ "$k" = stock ] && boot_image[$b]=$stock_image || boot_image[$b]=$ours_image
		[ "$kp" = - ] && boot_args[$b]= || boot_args[$b]=${kp//,/ }
	fi
	[ -n "${boot_phases[$b]:-}" ] || boots+=("$b")
	boot_phases[$b]="${boot_phases[$b]:-} $p"
done

# The kselftest baseline of phase P: stock-<P's suffix> if it runs, else
# stock, else the first stock phase; none for a stock phase.
base_of() {
	local p=$1 x
	[[ ${phase_line[$p]} == ours* ]] || return 0
	for x in "stock-${p#ours-}" stock; do
		if [[ " ${run_phases[*]} " == *" $x "* ]]; then echo "$x"; return; fi
	done
	for x in "${run_phases[@]}"; do
		if [[ ${phase_line[$x]} == stock* ]]; then echo "$x"; return; fi
	done
}

# ---- userspace -------------------------------------------------------------
case $arch in
x86_64)
	busybox=/bin/busybox
	[ -x "$busybox" ] || die "/bin/busybox not found: run harness/deps.sh (busybox-static)" ;;
arm64)
	busybox=$("$here/arm64/busybox.sh" "$cache") || die "arm64/busybox.sh failed" ;;
esac
grep -q INTERP <<<"$(readelf -l "$busybox")" && die "$busybox is not static: install busybox-static"
runner=$work/runner-$arch
if [ ! -x "$runner" ] || [ "$here/runner.c" -nt "$runner" ]; then
	"$cc" -static -O2 -Wall -Wextra -Werror -o "$runner.$$" "$here/runner.c" ||
		die "building runner failed"
	mv "$runner.$$" "$runner"
fi

# ---- base initramfs (shared by all boots) ----------------------------------
root=$out/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,harness,modules/stock,modules/ours,tests/tests,tests/kselftests}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"	# guest-init installs the other applets
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
find_ko() {	# find_ko DIR DEPTH NAME: first NAME.ko* under DIR
	find "$1" -maxdepth "$2" \( -name "$3.ko" -o -name "$3.ko.*" \) -print -quit
}
if [ "$kvm" = modules ]; then
	# What kvm-<vendor>.ko needs that is not ours: always the stock one.
	case $backend in
	amd) deps="irqbypass ccp" ;;
	*) deps="irqbypass" ;;
	esac
	echo "$deps" >"$root/modules/deps"
	for m in $deps kvm "kvm-$backend"; do
		f=$(find_ko "$moddir" 10 "$m")
		[ -n "$f" ] || die "stock $m.ko not found under $moddir"
		copy_ko "$f" "$root/modules/stock" "$m"
	done
	if [ "$need_ours" = 1 ]; then
		for m in kvm "kvm-$backend"; do
			f=$(find_ko "$ours" 1 "$m")
			[ -n "$f" ] || die "--ours: no $m.ko in $ours"
			copy_ko "$f" "$root/modules/ours" "$m"
		done
	fi
fi

# (not in a subshell, so that die stops run.sh)
add_tests "$tests" tests >"$out/tests.list"
mapfile -t our_tests <"$out/tests.list"
ks_tests=()
if [ -n "$kselftests" ]; then
	add_tests "$kselftests" kselftests "$ks_list.exclude" "$ks_only" >"$out/kselftests.list"
	mapfile -t ks_tests <"$out/kselftests.list"
	[ "${#ks_tests[@]}" -gt 0 ] || die "--kselftests: no executable files in $kselftests${ks_only:+ that $ks_only lists}"
	# A name the list keeps that was not built is a stale list.
	if [ -n "$ks_only" ]; then
		while read -r n _; do
			case $n in ""|"#"*) continue ;; esac
			[ -x "$kselftests/$n" ] || die "$ks_only: $n was not built (in $kselftests)"
		done <"$ks_only"
	fi
fi

base=$out/base.cpio.gz
pack_cpio "$root" "$base" || die "building the initramfs failed"
rm -rf "$root"
note "initramfs $base ($(du -h "$base" | cut -f1)): ${#our_tests[@]} tests, ${#ks_tests[@]} kselftests; phases: ${run_phases[*]}; boots: ${boots[*]}"

# Per boot: run.list (appended to the base initramfs as a second cpio
# archive, which the kernel unpacks over the first), the expected results
# and the longest per-test timeout.
declare -A boot_maxt=()
for b in "${boots[@]}"; do
	d=$out/$b
	mkdir -p "$d/root/harness"
	rl=$d/root/harness/run.list
	echo "CHANNEL $emu_channel" >"$rl"
	: >"$d/expected"
	max_t=$timeout
	for p in ${boot_phases[$b]}; do
		read -r k kp vp suites <<<"${phase_line[$p]}"
		if [ "$kvm" = modules ]; then
			echo "PHASE $p modules $k $backend $kp $vp" >>"$rl"
		else
			# arm64: the mode kvm-arm.mode= asks for, VHE without it.
			m=vhe
			if [[ " ${boot_args[$b]} " =~ \ kvm-arm\.mode=([a-z]+)\  ]]; then
				m=${BASH_REMATCH[1]}
			fi
			echo "PHASE $p builtin $m" >>"$rl"
		fi
		echo "$p PHASE" >>"$d/expected"
		list_tests "$suites" "$rl" "$d/expected" "$p "
	done
	boot_maxt[$b]=$max_t
	pack_cpio "$d/root" "$d/list.cpio.gz" ||
		die "building the run list archive failed"
	cat "$base" "$d/list.cpio.gz" >"$d/initrd.gz"
	rm -rf "$d/root" "$d/list.cpio.gz"
done
rm -f "$base"

# ---- TAP -------------------------------------------------------------------
npass=0 nfail=0 nskip=0 nxfail=0 idx=0
total=0
for b in "${boots[@]}"; do
	# each phase's "kvm ready", the tests, "kernel log clean", "guest finished"
	total=$((total + $(wc -l <"$out/$b/expected") + 2))
done
echo "TAP version 13"
echo "1..$total"

# ---- boots -----------------------------------------------------------------
# TCG runs the guest 10-100x slower than hardware while its clocks follow
# the host's: stretch the RCU stall detector (max 300 s) so that it catches
# real lockups, not emulation speed.  panic_on_warn: any WARN ends the boot
# and fails the run.
cmdline_base="$emu_cmdline panic=-1 panic_on_warn=1 rcupdate.rcu_cpu_stall_timeout=300"
run_start=$(date +%s)
for b in "${boots[@]}"; do
	d=$out/$b
	console=$d/console.log
	: >"$console"
	: >"$d/results.log"
	cmdline="$cmdline_base${boot_args[$b]:+ ${boot_args[$b]}}${append_extra:+ $append_extra}"
	# A guest whose result channel is silent this long is hung: the
	# longest test timeout, in the guest's seconds, in wall seconds.
	idle_limit=$((boot_maxt[$b] * emu_time_scale + 180))
	left=$((max_time - ($(date +%s) - run_start)))
	hung=
	elapsed=0
	if [ "$left" -le 0 ]; then
		hung="not started: --max-time ${max_time}s used up"
	else
		note "boot $b: ${boot_image[$b]}, $cmdline"
		start=$(date +%s)
		emu_start "$d" "${boot_image[$b]}" "$d/initrd.gz" "$cmdline" "$left"
		# Do not leave an emulator behind when run.sh is stopped.
		trap 'kill "$qpid" 2>/dev/null || true' EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
		watch_guest "$qpid" "$d/results.log" "$idle_limit"
		trap - EXIT
		elapsed=$(($(date +%s) - start))
		note "boot $b ran ${elapsed}s, exit $qrc${hung:+, killed: $hung}"
	fi
	res=$d/results.txt
	tr -d '\r' <"$d/results.log" >"$res"

	# -- report this boot --
	while read -r p id; do
		if [ "$id" = PHASE ]; then
			pl=$(grep -m1 "^PHASE $p " "$res" || true)
			case $pl in
			"PHASE $p ok"*)
				pl=${pl#PHASE "$p" ok}
				tap ok "$p/kvm ready" "${pl# }" ;;
			"") tap notok "$p/kvm ready" "${hung:-phase never started}" ;;
			*) tap notok "$p/kvm ready" "${pl#PHASE "$p" fail }" ;;
			esac
			continue
		fi
		judge "$p" "$id" "$(base_of "$p")" "$console" "$res"
	done <"$d/expected"
	judge_guest "$b/" "$console" "$res" "$hung" "$elapsed"
done
echo "# per test:    $results_dir"
note "all boots: $(($(date +%s) - run_start))s"
echo "$npass passed, $nfail failed, $nskip skipped, $nxfail known stock failures"
[ "$nfail" -eq 0 ]
exit
}
