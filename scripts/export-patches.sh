#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make patches: emit our work as one patch set for people who build their
# own kernels, x86 and arm64 alike.  It applies to the matching kernel
# source (Debian's linux-source-X.Y) with "git am" or "patch -p1":
#
#   0001  adds our own code: virt/kvm/kvm_prefault/ and the uapi header,
#   0002- the thin hooks of patches/X.Y/series, in order.
#
# usage: export-patches.sh [LINE [OUTDIR]]   (default 6.1, build/patches/LINE)
# The last line printed is OUTDIR.
set -euo pipefail

die() { echo "kvm-prefault: $*" >&2; exit 1; }

top=$(cd "$(dirname "$0")/.." && pwd)
line=${1:-6.1}
out=${2:-$top/build/patches/$line}
series=$top/patches/$line/series
[ -f "$series" ] || die "no patch series for $line (patches/$line/series)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The new files as a git commit of their own, so that format-patch writes
# a patch both git am and patch -p1 take (new files against /dev/null).
git -C "$tmp" init -q
mkdir -p "$tmp/virt/kvm/kvm_prefault" "$tmp/include/uapi/linux"
cp "$top"/kvm_prefault/*.[ch] "$tmp/virt/kvm/kvm_prefault/"
cp "$top/include/uapi/linux/kvm_prefault.h" "$tmp/include/uapi/linux/"
git -C "$tmp" add -A
version=$(sed -n 's/^#define KVM_PREFAULT_VERSION[[:space:]]*"\(.*\)"/\1/p' \
	"$top/kvm_prefault/version.h")
GIT_AUTHOR_NAME="kvm-prefault developers" \
GIT_AUTHOR_EMAIL="kvm-prefault@localhost" \
GIT_AUTHOR_DATE="Sun, 22 Nov 2026 00:00:00 +0000" \
GIT_COMMITTER_NAME="kvm-prefault developers" \
GIT_COMMITTER_EMAIL="kvm-prefault@localhost" \
GIT_COMMITTER_DATE="Sun, 22 Nov 2026 00:00:00 +0000" \
git -C "$tmp" commit -q -F - <<MSG
KVM: add kvm_prefault $version

Add the code of kvm-prefault (KVM_PRE_FAULT_MEMORY with its opt-in
write intent, KVM_EXIT_MEMORY_FAULT reporting, KVM_SET_USER_MEMORY_REGION2)
as virt/kvm/kvm_prefault/, with its userspace header
include/uapi/linux/kvm_prefault.h.  Nothing is built until the following
patches hook it into KVM.

Signed-off-by: kvm-prefault developers <kvm-prefault@localhost>
MSG

rm -rf "$out"
mkdir -p "$out"
git -C "$tmp" format-patch -q --root --zero-commit --no-signature -N \
	-o "$out" HEAD
n=1
{
	echo "# kvm-prefault $version for Linux $line: apply in order (git am or patch -p1)"
	basename "$out"/0001-*.patch
} >"$out/series"
while read -r p; do
	case "$p" in ''|'#'*) continue ;; esac
	n=$((n + 1))
	name=$(printf '%04d-%s' "$n" "${p#[0-9][0-9][0-9][0-9]-}")
	cp "$top/patches/$line/$p" "$out/$name"
	echo "$name" >>"$out/series"
done <"$series"
echo "kvm-prefault: $n patches for $line" >&2
echo "$out"
