#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: build our KVM, boot Debian's stock kernel under QEMU with it
# loaded and run a small VM (demo/kvm-prefault-demo.c) that shows what
# KVM_PRE_FAULT_MEMORY and KVM_EXIT_MEMORY_FAULT do for a VMM.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
echo "demo: installing dependencies and building (first run: a few minutes)"
harness/deps.sh >/dev/null
# The kernel line (make demo KLINE=6.12), and its newest installed headers
# (a machine may have both lines' headers).
kline=${KLINE:-6.1}
[ -f "harness/targets/x86_64-$kline" ] ||
	{ echo "demo: no x86_64 target for kernel line '$kline' (6.1, 6.12)" >&2; exit 1; }
kver=$(ls -d /usr/src/linux-headers-"$kline".*-amd64 2>/dev/null |
	sed 's,.*/linux-headers-,,' | sort -V | tail -n 1)
[ -n "$kver" ] || { echo "demo: no linux-headers-$kline.*-amd64 after harness/deps.sh" >&2; exit 1; }
mkdir -p build/demo
make -s KVER="$kver" -j"$(nproc)" modules >build/demo/build.log 2>&1 || {
	cat build/demo/build.log >&2
	exit 1
}
gcc -static -O2 -Wall -Wextra -Werror -Iinclude/uapi \
	-o build/demo/kvm-prefault-demo demo/kvm-prefault-demo.c

echo "demo: booting Debian's $kver under QEMU with our KVM modules"
rc=0
harness/run.sh --quiet --target "x86_64-$kline" --kver "$kver" --ours "build/$kver/arch/x86/kvm" \
	--tests build/demo --phases ours --results build/demo/out \
	>build/demo/run.tap || rc=$?
# The demo's own lines, without the frame and the kernel's messages.
grep -v -e '^=== ' -e '^\[ *[0-9]*\.[0-9]*\]' -e '^runner:' \
	build/demo/out/ours/tests/kvm-prefault-demo.log || true
if [ "$rc" -ne 0 ]; then
	echo "demo: the run failed; the harness said:" >&2
	grep -E '^not ok|^#' build/demo/run.tap >&2
	exit 1
fi
