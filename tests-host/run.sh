#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side tests of the build and install: what a user of "make" and
# "make install" sees on the build machine.  TAP on stdout.
#
# usage: tests-host/run.sh KVER   (after "make KVER=KVER modules")
set -uo pipefail

kver=${1:?usage: $0 KVER}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

kdir=/lib/modules/$kver/build
hver=$(make -s -C "$kdir" kernelversion)
line=${hver%.*}
ksrc=/usr/src/linux-source-$line.tar.xz
mods=build/$kver/arch/x86/kvm
version=$(sed -n 's/^#define KVM_PREFAULT_VERSION "\(.*\)"/\1/p' \
	kvm_prefault/version.h)

n=0 pass=0 fail=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
notok() {
	n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/#   /'
}

# expect_refusal NAME PATTERN MAKE-ARGS...: make fails, says one line
# matching PATTERN, and builds nothing.
expect_refusal() {
	local name=$1 pattern=$2 out rc
	shift 2
	out=$(make -C "$top" BUILD="$tmp/build" "$@" modules 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
	   printf '%s\n' "$out" | grep -qE "$pattern" && [ ! -e "$tmp/build" ]; then
		ok "$name"
		echo "#   $out"
	else
		notok "$name" "exit $rc: $out"
	fi
}

echo "TAP version 13"

# A source tarball of another 6.1 release: same layout, other SUBLEVEL.
mkdir -p "$tmp/fake/linux-source-$line"
printf 'VERSION = %s\nPATCHLEVEL = %s\nSUBLEVEL = 0\nEXTRAVERSION =\n' \
	"${line%.*}" "${line#*.}" >"$tmp/fake/linux-source-$line/Makefile"
tar -C "$tmp/fake" -cJf "$tmp/wrong.tar.xz" "linux-source-$line"

# (the pattern is an ERE: Debian's 6.12 ABIs have a "+", as in 6.12.118+deb12)
re() { printf '%s' "$1" | sed 's/[].[^$*+?(){}|\\]/\\&/g'; }
expect_refusal "build refuses a source of another version" \
	"is $(re "$line").0 but headers for $(re "$kver") are $(re "$hver"): install linux-source-$(re "$line")" \
	KVER="$kver" KSRC="$tmp/wrong.tar.xz"
expect_refusal "build refuses a missing source" \
	"no kernel source .*: install linux-source-$line" \
	KVER="$kver" KSRC="$tmp/none.tar.xz"
expect_refusal "build refuses missing headers" \
	"no kernel headers .*: install linux-headers-0.0.0-none" \
	KVER=0.0.0-none

# The arm64 kernel build refuses the same way, before touching build/arm64.
# (A 6.12 tarball: arm64 has a series only for 6.1.)
mkdir -p "$tmp/fake612/linux-source-6.12"
printf 'VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 57\nEXTRAVERSION =\n' \
	>"$tmp/fake612/linux-source-6.12/Makefile"
tar -C "$tmp/fake612" -cJf "$tmp/612.tar.xz" linux-source-6.12
for c in "missing source|$tmp/none.tar.xz|no kernel source .*: install linux-source-6.1" \
	 "source of another line|$tmp/612.tar.xz|6\.12\.57.*linux-source-6.1"; do
	IFS='|' read -r what src pattern <<<"$c"
	before=$(ls -ld --time-style=full-iso build/arm64 2>/dev/null)
	out=$(KSRC=$src scripts/arm64-kernel.sh --ours 2>&1 >/dev/null)
	rc=$?
	after=$(ls -ld --time-style=full-iso build/arm64 2>/dev/null)
	if [ "$rc" -ne 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
	   printf '%s\n' "$out" | grep -qE "$pattern" && [ "$before" = "$after" ]; then
		ok "make arm64-kernel refuses a $what"
		echo "#   $out"
	else
		notok "make arm64-kernel refuses a $what" "exit $rc: $out"
	fi
done

# Modules: built, versioned, for the right kernel.
bad=
for m in kvm kvm-amd kvm-intel; do
	f=$mods/$m.ko
	[ -f "$f" ] || { bad="$bad $m.ko missing;"; continue; }
	v=$(/sbin/modinfo -F version "$f")
	vm=$(/sbin/modinfo -F vermagic "$f")
	[ "$v" = "$version" ] || bad="$bad $m version '$v';"
	case $vm in "$kver "*) ;; *) bad="$bad $m vermagic '$vm';" ;; esac
done
if [ -z "$bad" ]; then ok "modules carry MODULE_VERSION $version and vermagic $kver"
else notok "modules carry MODULE_VERSION and vermagic" "$bad"; fi

dv=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
if [ "$dv" = "$version" ]; then ok "dkms.conf PACKAGE_VERSION matches ($dv)"
else notok "dkms.conf PACKAGE_VERSION matches" "dkms.conf '$dv', modules '$version'"; fi

# make install honours INSTALL_MOD_PATH and runs depmod there.
inst=$tmp/inst
if make -s -C "$top" KVER="$kver" install INSTALL_MOD_PATH="$inst" >/dev/null 2>&1 &&
   [ -f "$inst/lib/modules/$kver/updates/kvm.ko" ] &&
   [ -f "$inst/lib/modules/$kver/updates/kvm-amd.ko" ] &&
   [ -f "$inst/lib/modules/$kver/updates/kvm-intel.ko" ] &&
   grep -q '^updates/kvm-amd.ko: updates/kvm.ko' "$inst/lib/modules/$kver/modules.dep"; then
	ok "make install puts the modules in updates/ and runs depmod"
else
	notok "make install puts the modules in updates/ and runs depmod" \
		"$(ls -R "$inst" 2>&1 | head -20)"
fi

# The userspace header works after an old <linux/kvm.h> and after one that
# already has the upstream definitions.
cat >"$tmp/old.c" <<'C'
#include <linux/kvm.h>
#include <linux/kvm_prefault.h>
_Static_assert(KVM_PRE_FAULT_MEMORY == 0xC040AED5, "ioctl number");
_Static_assert(sizeof(struct kvm_pre_fault_memory) == 64, "struct size");
_Static_assert(sizeof(struct kvm_userspace_memory_region2) == 160, "size");
_Static_assert(KVM_SET_USER_MEMORY_REGION2 == 0x40A0AE49, "ioctl number");
_Static_assert(KVM_CAP_USER_MEMORY2 == 231 && KVM_CAP_MEMORY_FAULT_INFO == 232 &&
	       KVM_CAP_PRE_FAULT_MEMORY == 236 && KVM_EXIT_MEMORY_FAULT == 39,
	       "numbers");
/* Read through the accessor at -O2: must not trip -Wstrict-aliasing. */
unsigned long long gpa_of(struct kvm_run *run);
unsigned long long gpa_of(struct kvm_run *run)
{
	return kvm_run_memory_fault(run)->gpa + kvm_run_memory_fault(run)->size;
}
int main(void) { return 0; }
C
mkdir -p "$tmp/new/linux"
cat >"$tmp/new/linux/kvm.h" <<'C'
/* Stand-in for a newer <linux/kvm.h> that has the upstream definitions. */
#include_next <linux/kvm.h>
#define KVM_CAP_USER_MEMORY2 231
#define KVM_CAP_MEMORY_FAULT_INFO 232
#define KVM_CAP_PRE_FAULT_MEMORY 236
#define KVM_EXIT_MEMORY_FAULT 39
#define KVM_MEMORY_EXIT_FLAG_PRIVATE (1ULL << 3)
#define KVM_MEM_GUEST_MEMFD (1UL << 2)
struct kvm_userspace_memory_region2 {
	__u32 slot, flags;
	__u64 guest_phys_addr, memory_size, userspace_addr, guest_memfd_offset;
	__u32 guest_memfd, pad1;
	__u64 pad2[14];
};
#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
struct kvm_pre_fault_memory { __u64 gpa, size, flags, padding[5]; };
#define KVM_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
C
if gcc -O2 -Wall -Wextra -Werror -Iinclude/uapi -o "$tmp/old" "$tmp/old.c" 2>"$tmp/err" &&
   gcc -O2 -Wall -Wextra -Werror -I"$tmp/new" -Iinclude/uapi -o "$tmp/new.o" \
	-c "$tmp/old.c" 2>>"$tmp/err"; then
	ok "uapi header builds after an old and a new <linux/kvm.h>, upstream numbers"
else
	notok "uapi header builds after an old and a new <linux/kvm.h>" "$(cat "$tmp/err")"
fi

# Kernel style, with the checkpatch of the very source we build from.
tar -xf "$ksrc" -C "$tmp" --strip-components=1 --wildcards \
	"*/scripts/checkpatch.pl" "*/scripts/spelling.txt" \
	"*/scripts/const_structs.checkpatch" 2>/dev/null
cp=$tmp/scripts/checkpatch.pl
# (Run outside our git tree: there checkpatch reads a patch's context
# lines as the repository's own.)
out=
for f in kvm_prefault/*.[ch] include/uapi/linux/kvm_prefault.h; do
	out+=$(cd "$tmp" && perl "$cp" --no-tree -q -f "$top/$f" 2>&1)
done
for f in patches/"$line"/*.patch; do
	out+=$(cd "$tmp" && perl "$cp" --no-tree -q "$top/$f" 2>&1)
done
if [ -z "$out" ]; then ok "checkpatch clean: kvm_prefault/, uapi header, patches/$line"
else notok "checkpatch clean" "$out"; fi

# "make patches" emits one patch set for people who build their own
# kernels; it must apply to the pristine source with patch -p1 and git am.
# (Only the files it touches are extracted: that is all either needs.)
set_dir=$(scripts/export-patches.sh "$line" "$tmp/patchset" 2>/dev/null | tail -n 1)
files=$(sed -n 's,^+++ b/,,p' "$set_dir"/*.patch | sort -u |
	while read -r f; do
		tar -tf "$ksrc" "linux-source-$line/$f" >/dev/null 2>&1 &&
			echo "linux-source-$line/$f"
	done)
for how in patch git-am; do
	rm -rf "$tmp/tree"
	mkdir -p "$tmp/tree"
	# shellcheck disable=SC2086 # one word per path
	tar -xf "$ksrc" -C "$tmp/tree" --strip-components=1 $files 2>/dev/null
	out=
	if [ -z "$set_dir" ] || [ ! -f "$set_dir/series" ]; then
		out="scripts/export-patches.sh failed"
	elif [ "$how" = patch ]; then
		while read -r p; do
			case $p in ''|'#'*) continue ;; esac
			out+=$(patch -p1 -N -s -d "$tmp/tree" <"$set_dir/$p" 2>&1)
		done <"$set_dir/series"
	else
		g="git -C $tmp/tree -c user.name=t -c user.email=t@t"
		out=$($g init -q 2>&1 && $g add -A 2>&1 && $g commit -qm base 2>&1 &&
			$g am -q "$set_dir"/0*.patch 2>&1) ||
			out+=" (git am failed)"
	fi
	# Both must leave the same tree: every new file of ours is there.
	[ -n "$out" ] || [ -f "$tmp/tree/virt/kvm/kvm_prefault/prefault.c" ] ||
		out="virt/kvm/kvm_prefault/prefault.c missing after $how"
	if [ -z "$out" ]; then ok "make patches: the set applies to linux-source-$line with $how"
	else notok "make patches: the set applies to linux-source-$line with $how" "$out"; fi
done

echo "1..$n"
echo "$pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
