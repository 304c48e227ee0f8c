#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: everything CI runs, from a fresh Debian 12 machine.
#
#  1. install the build and harness dependencies (harness/deps.sh),
#  2. build our KVM for the harness kernel (Debian's linux-headers-amd64)
#     and install it with "make install INSTALL_MOD_PATH=build/staging",
#  3. build our selftests and the 6.1 kernel's own KVM selftests,
#  4. run the host-side tests (tests-host/run.sh),
#  5. boot the stock kernel under QEMU and run everything inside, on stock
#     and on our modules (harness/run.sh),
#
# and print one TAP stream ending with "N passed, N failed, N skipped".
#
# CHECK_PHASES="stock ours" limits the guest phases (default: all).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
log=$top/build/check
mkdir -p "$log"

step() { echo "# ---- $*" >&2; }

step "dependencies"
harness/deps.sh >&2

kver=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null |
	sed 's,.*/linux-headers-,,' | sort -V | tail -n 1)
[ -n "$kver" ] || { echo "check: no linux-headers-*-amd64 after deps" >&2; exit 1; }
line=$(make -s -C "/lib/modules/$kver/build" kernelversion | cut -d. -f1-2)
ksrc=/usr/src/linux-source-$line.tar.xz

step "build for $kver"
make -s KVER="$kver" -j"$(nproc)" modules >&2
rm -rf build/staging
make -s KVER="$kver" install INSTALL_MOD_PATH="$top/build/staging" >&2
make -s selftests >&2
harness/kselftests.sh "$ksrc" "$top/build/kselftests" >&2

step "host tests"
rc=0
tests-host/run.sh "$kver" >"$log/host.tap" || rc=$?
grep -q '^[0-9]* passed, ' "$log/host.tap" ||
	echo "not ok 1 - host tests did not finish (exit $rc)" >>"$log/host.tap"

step "guest tests (QEMU, TCG)"
rc=0
harness/run.sh --kver "$kver" \
	--ours "$top/build/staging/lib/modules/$kver/updates" \
	--tests "$top/build/selftests" \
	--kselftests "$top/build/kselftests/bin" \
	${CHECK_PHASES:+--phases "$CHECK_PHASES"} >"$log/guest.tap" || rc=$?
grep -q '^[0-9]* passed, ' "$log/guest.tap" ||
	echo "not ok 1 - harness did not finish (exit $rc)" >>"$log/guest.tap"

# One TAP stream: the host points, then the guest's, renumbered.
awk '
	FNR == 1 { file++ }
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
	}' "$log/host.tap" "$log/guest.tap" | tee "$log/check.tap"
