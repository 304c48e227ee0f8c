#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: everything CI runs, from a fresh Debian 12 machine.
#
#  1. install the build and harness dependencies (harness/deps.sh);
#  2. pick the targets: one file per target in harness/targets/ (an
#     architecture, a kernel line, an emulator, what runs there; see
#     Documentation/design.rst, "Adding a target");
#  3. build what they need, once per architecture and kernel line:
#     x86_64: our KVM for Debian's newest linux-headers-<line>*-amd64,
#     installed with "make install INSTALL_MOD_PATH=build/staging", our
#     selftests and the line's own KVM selftests, then the host-side
#     tests (tests-host/run.sh);
#     arm64: the line's kernel without and with our series
#     (scripts/arm64-kernel.sh), our selftests and the line's arm64 KVM
#     selftests;
#  4. run each target with the one runner, harness/run.sh --target
#
# and print one TAP stream ending with "N passed, N failed, N skipped, N
# known stock failures" (harness/stock-failures: TAP TODO points).
# build/check/ holds that stream (check.tap), each producer's
# (<target>.tap, host.tap), and every test's verdict and output:
# build/check/<target>/<phase>/<suite>/<test>.status and .log.
#
# CHECK_TARGETS="x86_64-6.1 ..." runs those targets (default: all).
# CHECK_ARCH="x86_64 arm64" keeps the targets of those architectures.
# KLINE="6.1" (make check KLINE=6.1) keeps the targets of those kernel
# lines (default: every line).
# CHECK_SKIP="arm64-6.12 ..." leaves those targets out, each reported as
# one skipped TAP point that says so (.ci/run: CI's time budget).
# CHECK_PHASES="stock ours" limits the phases (default: each target's
# own; a target left with none is skipped).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
log=$top/build/check
mkdir -p "$log"

step() { echo "# ---- $*" >&2; }
die() { echo "check: $*" >&2; exit 2; }

step "dependencies"
harness/deps.sh >&2

arches=${CHECK_ARCH:-x86_64 arm64}
for a in $arches; do
	case $a in
	x86_64|arm64) ;;
	*) die "unknown CHECK_ARCH '$a' (x86_64, arm64)" ;;
	esac
done
want() { case " $arches " in *" $1 "*) return 0 ;; esac; return 1; }
klines=${KLINE:-}
want_line() {
	[ -n "$klines" ] || return 0
	case " $klines " in *" $1 "*) return 0 ;; esac
	return 1
}
taps=()

# run_tap NAME CMD...: run a TAP producer into $log/NAME.tap; a producer
# that dies before its summary line still counts as a failure.
run_tap() {
	local name=$1 rc=0
	shift
	"$@" >"$log/$name.tap" || rc=$?
	grep -q '^[0-9]* passed, ' "$log/$name.tap" ||
		echo "not ok 1 - $name did not finish (exit $rc)" >>"$log/$name.tap"
	taps+=("$log/$name.tap")
}

# row TARGET: the fields of harness/targets/TARGET that make check needs
# (harness/run.sh reads the rest), checked.
row() {
	arch= line= emulator= backend= kernel= phases=all tests=all kselftests=no
	# shellcheck source=/dev/null
	. "harness/targets/$1"
	case $arch/$kernel in
	x86_64/debian|arm64/built) ;;
	*) die "harness/targets/$1: arch '$arch' with kernel '$kernel'" ;;
	esac
	[[ $line =~ ^[0-9]+\.[0-9]+$ ]] || die "harness/targets/$1: bad line '$line'"
	case $kselftests in yes|no) ;; *) die "harness/targets/$1: kselftests=yes|no" ;; esac
}

all_targets=$(cd harness/targets && ls)
targets=()
for t in ${CHECK_TARGETS:-$all_targets} ${CHECK_SKIP:-}; do
	[ -f "harness/targets/$t" ] ||
		die "unknown target '$t' (harness/targets has: $(echo $all_targets))"
done
for t in ${CHECK_TARGETS:-$all_targets}; do
	row "$t"
	want "$arch" && want_line "$line" || continue
	case " ${CHECK_SKIP:-} " in
	*" $t "*)
		printf 'TAP version 13\n1..1\nok 1 - %s # SKIP not run: CHECK_SKIP%s\n0 passed, 0 failed, 1 skipped\n' \
			"$t" "${CHECK_SKIP_WHY:+ ($CHECK_SKIP_WHY)}" >"$log/$t.tap"
		taps+=("$log/$t.tap")
		continue ;;
	esac
	targets+=("$t")
done
[ "${#targets[@]}" -gt 0 ] || die "no target left (CHECK_TARGETS, CHECK_ARCH, KLINE)"

# ---- builds, once per architecture and line ----------------------------
declare -A kver_of=() stock_image_of=() ours_image_of=() ks_of=()
build() {	# build ARCH LINE
	local ksrc=/usr/src/linux-source-$2.tar.xz kver v
	case $1 in
	x86_64)
		kver=$(ls -d /usr/src/linux-headers-"$2".*-amd64 2>/dev/null |
			sed 's,.*/linux-headers-,,' | sort -V | tail -n 1)
		[ -n "$kver" ] || die "no linux-headers-$2*-amd64 after deps"
		v=$(make -s -C "/lib/modules/$kver/build" kernelversion | cut -d. -f1-2)
		[ "$v" = "$2" ] || die "linux-headers-$kver is $v, not $2"
		step "x86_64: $2: build for $kver"
		make -s KVER="$kver" -j"$(nproc)" modules >&2
		rm -rf "build/staging/lib/modules/$kver"
		make -s KVER="$kver" install INSTALL_MOD_PATH="$top/build/staging" >&2
		make -s selftests >&2
		ks_of[x86_64/$2]=$(harness/kselftests.sh "$ksrc" \
			"$top/build/kselftests-$2" | tail -n 1)
		kver_of[$2]=$kver
		step "x86_64: host tests"
		run_tap "host-$2" tests-host/run.sh "$kver" ;;
	arm64)
		step "arm64: $2 kernels (stock and ours)"
		stock_image_of[$2]=$(KLINE=$2 scripts/arm64-kernel.sh --stock | tail -n 1)
		ours_image_of[$2]=$(KLINE=$2 scripts/arm64-kernel.sh --ours | tail -n 1)
		make -s -C selftests ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
			OUT="$top/build/selftests-arm64" >&2
		ks_of[arm64/$2]=$(harness/kselftests.sh --arch arm64 "$ksrc" \
			"$top/build/kselftests-arm64-$2" | tail -n 1) ;;
	esac
}
declare -A built=()
for t in "${targets[@]}"; do
	row "$t"
	[ -n "${built[$arch/$line]:-}" ] || build "$arch" "$line"
	built[$arch/$line]=1
done

# ---- targets -------------------------------------------------------------
# test_dir TARGET ALL_DIR: ALL_DIR, or a copy of the row's tests subset.
test_dir() {
	local d n
	if [ "$tests" = all ]; then
		echo "$2"
		return
	fi
	d=$top/build/tests-$1
	rm -rf "$d"
	mkdir -p "$d"
	for n in $tests; do
		cp "$2/$n" "$d/" || die "target $1: no test $n in $2"
	done
	echo "$d"
}

# phases_of: the row's phases (all: its backend's in harness/phases.conf),
# less those CHECK_PHASES leaves out.
phases_of() {
	local p
	[ "$phases" != all ] ||
		phases=$(awk -v be="$backend" '$1 !~ /^#/ && $2 == be { print $1 }' harness/phases.conf)
	for p in $phases; do
		case " ${CHECK_PHASES:-$p} " in *" $p "*) echo "$p" ;; esac
	done
}

for t in "${targets[@]}"; do
	row "$t"
	step "$t: guest tests ($emulator)"
	ph=$(phases_of)
	[ -n "$ph" ] || { step "$t: none of its phases in CHECK_PHASES"; continue; }
	args=(--target "$t" --results "$log/$t" --phases "$(echo $ph)")
	[ "$kselftests" = no ] || args+=(--kselftests "${ks_of[$arch/$line]}")
	case $kernel in
	debian)
		kver=${kver_of[$line]}
		args+=(--kver "$kver" --ours "$top/build/staging/lib/modules/$kver/updates"
			--tests "$(test_dir "$t" "$top/build/selftests")") ;;
	built)
		args+=(--stock "${stock_image_of[$line]}" --ours "${ours_image_of[$line]}"
			--tests "$(test_dir "$t" "$top/build/selftests-arm64")") ;;
	esac
	run_tap "$t" harness/run.sh "${args[@]}"
done

# One TAP stream: every producer's points in order, renumbered.
awk '
	/^(not )?ok [0-9]+/ {
		n++
		sub(/ok [0-9]+/, "ok " n)
		if ($0 ~ /^not ok.*# TODO known stock failure/) xfail++
		else if ($0 ~ /^not ok/) fail++
		else if ($0 ~ /# SKIP/) skip++
		else pass++
		lines[n] = $0
		next
	}
	/^TAP version|^1\.\.|^[0-9]+ passed, / { next }
	{ extra[n] = extra[n] $0 "\n" }
	END {
		print "TAP version 13"
		print "1.." n
		printf "%s", extra[0]
		for (i = 1; i <= n; i++) { print lines[i]; printf "%s", extra[i] }
		if (n == 0) fail = 1
		printf "%d passed, %d failed, %d skipped, %d known stock failures\n", pass, fail, skip, xfail
		exit fail != 0
	}' "${taps[@]}" | tee "$log/check.tap"
