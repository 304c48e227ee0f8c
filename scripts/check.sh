#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: everything CI runs, from a fresh Debian 12 machine.
#
#  1. install the build and harness dependencies (harness/deps.sh),
#  x86_64:
#  2. build our KVM for the harness kernel (Debian's linux-headers-amd64)
#     and install it with "make install INSTALL_MOD_PATH=build/staging",
#  3. build our selftests and the 6.1 kernel's own KVM selftests,
#  4. run the host-side tests (tests-host/run.sh),
#  5. boot the stock kernel under QEMU and run everything inside, on stock
#     and on our modules (harness/run.sh), then once more on a CPU with a
#     52-bit MAXPHYADDR for the one test that needs memslots above the NPT
#     root's reach (pre_fault_safety_test gpa_beyond_root),
#  arm64:
#  6. cross-build the 6.1 kernel without and with our series
#     (scripts/arm64-kernel.sh), our selftests and the 6.1 arm64 KVM
#     selftests,
#  7. boot both under qemu-system-aarch64: stock in VHE and nVHE mode for
#     the kselftest baseline of each mode, ours in VHE, nVHE and protected
#     mode (harness/arm64/run.sh),
#
# and print one TAP stream ending with "N passed, N failed, N skipped".
# build/check/ holds that stream (check.tap), each producer's, and every
# test's verdict and output: build/check/<target>/<phase>/<suite>/<test>
# .status and .log, <target> being x86_64-6.1, x86_64-6.1-phys52 or
# arm64-6.1 (harness/run.sh --results).
#
# CHECK_ARCH="x86_64 arm64" limits the architectures (default: both).
# CHECK_PHASES="stock ours" limits the x86 guest phases (default: all).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
log=$top/build/check
mkdir -p "$log"

step() { echo "# ---- $*" >&2; }

step "dependencies"
harness/deps.sh >&2

arches=${CHECK_ARCH:-x86_64 arm64}
for a in $arches; do
	case $a in
	x86_64|arm64) ;;
	*) echo "check: unknown CHECK_ARCH '$a' (x86_64, arm64)" >&2; exit 2 ;;
	esac
done
want() { case " $arches " in *" $1 "*) return 0 ;; esac; return 1; }
want_phase() { case " ${CHECK_PHASES:-} " in *" $1 "*) return 0 ;; esac; return 1; }
line=6.1
ksrc=/usr/src/linux-source-$line.tar.xz
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

if want x86_64; then
	kver=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null |
		sed 's,.*/linux-headers-,,' | sort -V | tail -n 1)
	[ -n "$kver" ] || { echo "check: no linux-headers-*-amd64 after deps" >&2; exit 1; }
	line=$(make -s -C "/lib/modules/$kver/build" kernelversion | cut -d. -f1-2)
	ksrc=/usr/src/linux-source-$line.tar.xz

	step "x86_64: build for $kver"
	make -s KVER="$kver" -j"$(nproc)" modules >&2
	rm -rf build/staging
	make -s KVER="$kver" install INSTALL_MOD_PATH="$top/build/staging" >&2
	make -s selftests >&2
	harness/kselftests.sh "$ksrc" "$top/build/kselftests" >&2

	step "x86_64: host tests"
	run_tap host tests-host/run.sh "$kver"

	step "x86_64: guest tests (QEMU, TCG)"
	run_tap guest harness/run.sh --kver "$kver" \
		--ours "$top/build/staging/lib/modules/$kver/updates" \
		--tests "$top/build/selftests" \
		--kselftests "$top/build/kselftests/bin" \
		--results "$log/x86_64-$line" \
		${CHECK_PHASES:+--phases "$CHECK_PHASES"}

	# A 4-level NPT root reaches 2^48, EPYC's MAXPHYADDR is 40: only a
	# wider host can hold a memslot the root cannot map.  One test, our
	# modules only (stock 6.1 has no KVM_PRE_FAULT_MEMORY to test).
	if [ -z "${CHECK_PHASES:-}" ] || want_phase ours; then
		step "x86_64: guest tests on a 52-bit MAXPHYADDR host"
		rm -rf build/selftests-phys52
		mkdir -p build/selftests-phys52
		cp build/selftests/pre_fault_safety_test build/selftests-phys52/
		run_tap guest-phys52 harness/run.sh --kver "$kver" \
			--ours "$top/build/staging/lib/modules/$kver/updates" \
			--tests "$top/build/selftests-phys52" --phases ours \
			--cpu EPYC,+svm,+npt,phys-bits=52 --label phys52 \
			--results "$log/x86_64-$line-phys52" --max-time 600
	fi
fi

if want arm64; then
	step "arm64: kernels (stock and ours)"
	stock_image=$(scripts/arm64-kernel.sh --stock | tail -n 1)
	ours_image=$(scripts/arm64-kernel.sh --ours | tail -n 1)
	make -s -C selftests ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
		OUT="$top/build/selftests-arm64" >&2
	ks_arm64=$(harness/kselftests.sh --arch arm64 "$ksrc" \
		"$top/build/kselftests-arm64" | tail -n 1)

	step "arm64: guest tests (QEMU, TCG)"
	run_tap arm64 harness/arm64/run.sh --stock "$stock_image" \
		--ours "$ours_image" --tests "$top/build/selftests-arm64" \
		--kselftests "$ks_arm64" --stock-modes "vhe nvhe" \
		--results "$log/arm64-$line"
fi

# One TAP stream: every producer's points in order, renumbered.
awk '
	/^(not )?ok [0-9]+/ {
		n++
		sub(/ok [0-9]+/, "ok " n)
		if ($0 ~ /^not ok/) fail++
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
		printf "%d passed, %d failed, %d skipped\n", pass, fail, skip
		exit fail != 0
	}' "${taps[@]}" | tee "$log/check.tap"
