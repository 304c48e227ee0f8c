#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/run.sh: benchmark kvm-prefault's pre-fault against upstream KVM.
#
# Builds our KVM modules for Debian's 6.1 kernel and bench/kvm-prefault-bench
# (static), then runs the bench inside the QEMU harness (harness/run.sh) on
#   ours      Debian 6.1 with our modules            (harness phase "ours")
#   upstream  Debian bookworm's 6.12 with its own KVM (harness phase "stock")
#   upstream7 optional: the newest 7.x from trixie-backports, stock KVM
# each twice: with wall-clock guest time at every size, and deterministic
# (QEMU -icount, harness/run.sh --icount) at 256 MiB, where the targets that
# compare near-equal work are judged.  It prints a table of our figures with
# ratios to upstream's, the issue 5 targets as PASS/FAIL lines, and writes
# results.csv, results.txt and results.png to the output directory.  See
# bench/README.
#
# usage: bench/run.sh [--sizes MIB,MIB,...] [--out DIR] [--only NAME,...]
#                     [--full] [--no-icount | --icount-only] [--dry-run]
#   --sizes  guest RAM sizes to measure, MiB (default 256,1024,2048; above
#            1024 needs harness/run.sh --mem)
#   --out    output directory (default build/bench)
#   --dry-run  print the plan (kernels, sizes, guest memory) and stop
#   --only   runs to do, of ours,upstream,upstream7 (default: all; the first
#            one is what the report calls ours)
#   --full   also measure read pre-fault + write pass above 256 MiB (slow:
#            two emulated stage-2 faults per page; about 6 more minutes)
#   --no-icount    no deterministic runs (the targets are then judged on the
#                  noisy wall-clock figures)
#   --icount-only  only the deterministic 256 MiB runs (about 8 minutes)
# environment:
#   BENCH_SIZES=256,1024,2048    sizes in MiB (as --sizes)
#   BENCH_UPSTREAM_KVER=ABI      upstream kernel ABI (default: what
#                                linux-image-6.12-amd64 depends on)
#   BENCH_TRIXIE_BACKPORTS=1     also bench the newest 7.x kernel from
#                                trixie-backports (adds an apt source for it)
#   BENCH_ACCEL=tcg              QEMU -accel for the harness (its default is
#                                tcg,thread=single: one host thread runs both
#                                vCPUs, so 2-vCPU pre-fault cannot be faster;
#                                multi-threaded "tcg" can, but the harness
#                                README says it wedges nested SVM now and then;
#                                wall-clock runs only)
#   BENCH_ICOUNT_SHIFT=1         -icount shift of the deterministic runs (one
#                                guest instruction = 2^SHIFT ns)
# Exit status: 0 when every target judged passed, 1 when one failed, 2 on
# errors.
set -euo pipefail

# One compound command, parsed whole before it runs: editing this file
# during a run cannot break the run.
{
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prog=bench/run.sh
cd "$top"

die() { echo "$prog: error: $*" >&2; exit 2; }
note() { echo "$prog: $*" >&2; }

sizes=${BENCH_SIZES:-256,1024,2048}
out=$top/build/bench
only=
full=0
dry_run=0
do_wall=1
do_det=1
icount_shift=${BENCH_ICOUNT_SHIFT:-1}
# The deterministic runs measure the size the targets are set for.
det_sizes=256
while [ $# -gt 0 ]; do
	case $1 in
	--sizes) sizes=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	--only) only=${2:?}; shift 2 ;;
	--full) full=1; shift ;;
	--no-icount) do_det=0; shift ;;
	--icount-only) do_wall=0; shift ;;
	--dry-run) dry_run=1; shift ;;
	-h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[[ $sizes =~ ^[0-9]+(,[0-9]+)*$ ]] || die "bad size list '$sizes'"
[ "$do_wall" = 1 ] || [ "$do_det" = 1 ] || die "--no-icount and --icount-only: nothing to run"
[[ $icount_shift =~ ^[0-9]$|^10$ ]] || die "BENCH_ICOUNT_SHIFT must be 0..10"
t_start=$(date +%s)

# ---- dependencies -------------------------------------------------------
harness/deps.sh >/dev/null
installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
need=()
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v python3 >/dev/null || need+=(python3)
if [ "${#need[@]}" -gt 0 ]; then
	note "installing ${need[*]}"
	installed apt || die "no apt: install ${need[*]} by hand"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
fi

# ---- kernels ------------------------------------------------------------
# Ours: Debian's 6.1 (the line our patch series targets), from its headers.
ours_kver=$(ls -d /usr/src/linux-headers-6.1.*-amd64 2>/dev/null |
	sed 's,.*/linux-headers-,,' | sort -V | tail -n 1)
[ -n "$ours_kver" ] || die "no linux-headers-6.1.*-amd64: run harness/deps.sh"

abi_of() {	# abi_of PKG [VERSION]: the kernel ABI a linux-image metapackage depends on
	apt-cache show "$1${2:+=$2}" 2>/dev/null |
		sed -n 's/^Depends:.*linux-image-\([0-9][^ ,]*-amd64\).*/\1/p' | head -n 1
}
upstream_kver=${BENCH_UPSTREAM_KVER:-}
if [ -z "$upstream_kver" ]; then
	upstream_kver=$(abi_of linux-image-6.12-amd64)
	if [ -z "$upstream_kver" ]; then
		apt-get update -qq || die "apt-get update failed"
		upstream_kver=$(abi_of linux-image-6.12-amd64)
	fi
	[ -n "$upstream_kver" ] || die "cannot find the ABI of linux-image-6.12-amd64 (set BENCH_UPSTREAM_KVER)"
fi

upstream7_kver=
if [ "${BENCH_TRIXIE_BACKPORTS:-0}" = 1 ]; then
	# The mirror the machine already uses for Debian, with the suite
	# trixie-backports: only when asked, and said.
	src=/etc/apt/sources.list.d/kvm-prefault-bench-trixie-backports.sources
	if [ ! -f "$src" ]; then
		uri=$(grep -h -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
			awk '{ print $2 }' | grep -v security | head -n 1 || true)
		[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ { print $2; exit }' \
			/etc/apt/sources.list 2>/dev/null || true)
		[ -n "$uri" ] || die "cannot find the Debian mirror in the apt sources"
		note "BENCH_TRIXIE_BACKPORTS=1: adding apt source $src (suite trixie-backports at $uri)"
		cat >"$src" <<EOF
# Added by kvm-prefault's bench/run.sh (BENCH_TRIXIE_BACKPORTS=1), only to
# download a newer upstream kernel image for the benchmark.  Remove at will.
Types: deb
URIs: $uri
Suites: trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
		apt-get update -qq || die "apt-get update failed"
	else
		note "using apt source $src (trixie-backports)"
	fi
	v=$(apt-cache madison linux-image-amd64 | awk -F'|' '$3 ~ /trixie-backports/ { gsub(/ /, "", $2); print $2 }' |
		sort -V | tail -n 1)
	[ -n "$v" ] || die "no linux-image-amd64 in trixie-backports"
	upstream7_kver=$(abi_of linux-image-amd64 "$v")
	[ -n "$upstream7_kver" ] || die "cannot find the ABI of linux-image-amd64 $v"
fi

# ---- guest memory -------------------------------------------------------
max_mib=$(tr ',' '\n' <<<"$sizes" | sort -n | tail -n 1)
harness_args=()
[ -z "${BENCH_ACCEL:-}" ] || harness_args+=(--accel "$BENCH_ACCEL")
# The largest range, populated, plus the guest kernel and the bench.
mem_mib=$(( max_mib + 1536 ))
[ "$mem_mib" -ge 2048 ] || mem_mib=2048
harness_args+=(--mem "${mem_mib}M")

# The deterministic runs: one guest CPU and one TCG thread (icount needs
# them), guest memory for 256 MiB.
det_args=(--icount "$icount_shift" --mem 2048M)

if [ "$dry_run" = 1 ]; then
	echo "ours:      $ours_kver (our modules, phase ours)"
	echo "upstream:  $upstream_kver (stock modules, phase stock)"
	[ -z "$upstream7_kver" ] || echo "upstream7: $upstream7_kver (stock modules, phase stock)"
	if [ "$do_wall" = 1 ]; then
		echo "wall-clock runs: sizes $sizes MiB, harness ${harness_args[*]:-(defaults)}"
	fi
	if [ "$do_det" = 1 ]; then
		echo "deterministic runs: sizes $det_sizes MiB, harness ${det_args[*]}"
	fi
	exit 0
fi

# Download and unpack the kernels now (harness/image.sh, which run.sh
# calls too): a missing package stops the run before anything is built.
for k in "$ours_kver" "$upstream_kver" $upstream7_kver; do
	harness/image.sh "$k" "$top/.cache" >/dev/null || die "cannot get the kernel image $k"
done

# ---- build --------------------------------------------------------------
mkdir -p "$out/bin"
out=$(cd "$out" && pwd)
note "building our modules for $ours_kver"
make -s KVER="$ours_kver" -j"$(nproc)" modules >"$out/modules.log" 2>&1 ||
	{ tail -n 20 "$out/modules.log" >&2; die "make modules failed"; }
ours_dir=$top/build/$ours_kver/arch/x86/kvm
# One binary; each run passes its sizes in the harness's run list.
rm -rf "$out/bin" "$out/bin-icount"
mkdir -p "$out/bin"
# Its VMs and guest programs are selftests/lib's (kvm_lite): built with the
# library's sources and flags, as selftests/Makefile builds the tests.
gcc -static -O2 -Wall -Wextra -Werror -pthread -D_GNU_SOURCE \
	-Iinclude/uapi -Iselftests/lib -Iselftests/lib/x86_64 \
	-o "$out/bin/kvm-prefault-bench" bench/kvm-prefault-bench.c \
	selftests/lib/*.c selftests/lib/x86_64/*.c ||
	die "building the bench failed"
bench_full=
[ "$full" = 1 ] && bench_full=" -f"

# ---- runs ---------------------------------------------------------------
# A harness cache of our own (run outputs go to CACHE/harness/last), sharing
# the downloaded and unpacked kernel images with the repository's .cache.
cache=$out/cache
mkdir -p "$cache" "$top/.cache/image" "$top/.cache/debs"
for d in image debs; do
	[ -e "$cache/$d" ] || ln -s "$top/.cache/$d" "$cache/$d"
done

notes=()
if [ "$do_wall" = 0 ]; then
	:
elif [ -n "${BENCH_ACCEL:-}" ]; then
	notes+=("wall-clock runs: QEMU -accel $BENCH_ACCEL")
else
	notes+=("wall-clock runs: QEMU -accel tcg,thread=single, the harness default (one TCG thread for both vCPUs: 2-vCPU pre-fault runs its halves interleaved, not at once)")
fi
# load_note NAME: what else ran on this machine (it skews emulated times).
load_note() {
	local others load
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	others=$(pgrep -c '^qemu-system-' || true)
	if [ "${others:-0}" -gt 0 ]; then
		notes+=("$1: started with load average $load and $others other QEMU process(es) running: its times are disturbed")
		note "warning: $others other QEMU process(es) running (load $load): times will be disturbed"
	else
		notes+=("$1: started with load average $load, no other QEMU running")
	fi
}

# run_one NAME KVER PHASE [icount]: boot KVER in the harness, keep the
# bench's lines in NAME.out.
run_one() {
	local name=$1 kver=$2 phase=$3 rc=0 console log t0 what
	local args=("${harness_args[@]}") bsizes=$sizes
	what="sizes $sizes MiB"
	if [ "${4:-}" = icount ]; then
		bsizes=$det_sizes
		args=("${det_args[@]}")
		what="sizes $det_sizes MiB, deterministic: -icount shift=$icount_shift, 1 CPU"
	fi
	t0=$(date +%s)
	note "$name: booting $kver under QEMU (phase $phase, $what)"
	[ "${4:-}" = icount ] || load_note "$name ($kver)"
	harness/run.sh --quiet --kver "$kver" --ours "$ours_dir" \
		--tests "$out/bin" --phases "$phase" --cache "$cache" \
		--test-args "kvm-prefault-bench -s $bsizes$bench_full" \
		--timeout 3000 --max-time 3600 --results "$out/$name.results" \
		"${args[@]}" >"$out/$name.tap" 2>"$out/$name.err" || rc=$?
	console=$(sed -n 's/^# console log: //p' "$out/$name.tap")
	log=$out/$name.results/$phase/tests/kvm-prefault-bench.log
	if [ ! -f "$log" ]; then
		cat "$out/$name.err" >&2
		die "$name: the harness gave no result for the bench"
	fi
	tr -d '\r' <"$console" >"$out/$name.console.log"
	# The bench's own lines, without the frame and the kernel's messages.
	grep -v -e '^=== ' -e '^\[ *[0-9]*\.[0-9]*\]' "$log" >"$out/$name.out" || true
	if [ "$rc" -ne 0 ]; then
		grep -E '^not ok|^#' "$out/$name.tap" >&2 || true
		die "$name: the harness run failed (log: $out/$name.console.log)"
	fi
	grep -q '^BENCHDONE,' "$out/$name.out" ||
		die "$name: the bench did not finish (log: $out/$name.console.log)"
	note "$name: done in $(( $(date +%s) - t0 )) s"
}

wanted() { [ -z "$only" ] || [[ ,$only, == *,$1,* ]]; }
plan=()
wanted ours && plan+=("ours $ours_kver ours")
wanted upstream && plan+=("upstream $upstream_kver stock")
[ -z "$upstream7_kver" ] || ! wanted upstream7 || plan+=("upstream7 $upstream7_kver stock")
[ "${#plan[@]}" -gt 0 ] || die "--only $only: nothing to run"
runs=()
det_runs=()
if [ "$do_wall" = 1 ]; then
	for p in "${plan[@]}"; do
		read -r n k ph <<<"$p"
		run_one "$n" "$k" "$ph"
		runs+=("$n")
	done
fi
if [ "$do_det" = 1 ]; then
	notes+=("deterministic runs: QEMU -icount shift=$icount_shift,sleep=off -seed 1, -smp 1 (harness/run.sh --icount $icount_shift), $det_sizes MiB; with one guest CPU, 2-vCPU pre-fault runs its halves interleaved")
	for p in "${plan[@]}"; do
		read -r n k ph <<<"$p"
		run_one "$n-icount" "$k" "$ph" icount
		det_runs+=("$n")
	done
fi

# ---- report -------------------------------------------------------------
wall=$(( $(date +%s) - t_start ))
args=()
for n in "${notes[@]}"; do
	args+=(--note "$n")
done
for r in "${det_runs[@]}"; do
	args+=(--det "$r=$out/$r-icount.out")
done
for r in "${runs[@]}"; do
	args+=("$r=$out/$r.out")
done
rc=0
python3 bench/report.py --out "$out" --wall "$wall" --icount-shift "$icount_shift" "${args[@]}" || rc=$?
[ "$rc" -le 1 ] || die "bench/report.py failed"
exit "$rc"
}
