#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the arm64 test kernels of one kernel line.  arm64 KVM is built into
# the kernel (a bool option), so unlike x86 there is no module to build: the
# arm64 deliverable is Debian's linux-source-$KLINE with our series applied
# and kvm_prefault/ compiled in.
#
#   $dir/stock  Debian's tree as shipped, built in tree: the unpatched
#               kernel of the regression runs
#   $dir/ours   a copy of the built stock tree (cp -a keeps the timestamps,
#               so only what the series touches rebuilds), with
#               patches/$KLINE/series and our files
#
# $dir is build/arm64 for the 6.1 line (where it always was) and
# build/arm64-$KLINE for any other line.
#
# Both use allnoconfig plus configs/arm64-kvm.config.  Builds are incremental:
# an unchanged config, series or source rebuilds nothing.
#
# usage: arm64-kernel.sh [--stock|--ours] [-j N]     (default: --ours)
#        KLINE  the kernel line: 6.1 (default) or 6.12
#        KSRC   Debian's source tarball
#               (default /usr/src/linux-source-$KLINE.tar.xz)
#
# The last line on stdout is the absolute path of the kernel Image; progress
# goes to stderr and the build output to $dir/{stock,ours}-build.log
# (and stock-config.log).
# Every refusal is one line on stderr naming what to install.
set -euo pipefail

die() { echo "kvm-prefault: $*" >&2; exit 1; }
say() { echo "kvm-prefault: $*" >&2; }

usage="usage: $0 [--stock|--ours] [-j N]"
which=ours
jobs=$(nproc)
while [ $# -gt 0 ]; do
	case "$1" in
	--stock|--ours) which=${1#--} ;;
	-j) [ $# -ge 2 ] || die "$usage"; jobs=$2; shift ;;
	-j*) jobs=${1#-j} ;;
	-h|--help) echo "$usage"; exit 0 ;;
	*) die "$usage" ;;
	esac
	shift
done
case "$jobs" in ''|*[!0-9]*|0) die "-j needs a positive number: $usage" ;; esac

top=$(cd "$(dirname "$0")/.." && pwd)
kline=${KLINE:-6.1}
case "$kline" in
6.1) dir=$top/build/arm64 ;;
6.12) dir=$top/build/arm64-$kline ;;
*) die "KLINE=$kline: the arm64 kernel lines are 6.1 and 6.12" ;;
esac
ksrc=${KSRC:-/usr/src/linux-source-$kline.tar.xz}
frag=$top/configs/arm64-kvm.config
patches=$top/patches/$kline
series=$patches/series
stock=$dir/stock
ours=$dir/ours
cross=aarch64-linux-gnu-
# Part of every stamp: bump it when the config or tree recipe below changes,
# to redo the trees.  (Not a hash of this file: a comment fix must not cost
# a copy of the tree and a rebuild.)
recipe=1

# --- refusals, before anything is touched -----------------------------------

[ -f "$ksrc" ] || die "no kernel source at $ksrc: install linux-source-$kline"
command -v "${cross}gcc" >/dev/null ||
	die "no ${cross}gcc: install gcc-aarch64-linux-gnu"
for t in make:make gcc:gcc flex:flex bison:bison bc:bc xz:xz-utils patch:patch; do
	command -v "${t%%:*}" >/dev/null ||
		die "no ${t%%:*} to build the kernel: install ${t#*:}"
done
[ -f "$frag" ] || die "no $frag: the checkout is incomplete"
[ -f "$series" ] || die "no $series: the checkout is incomplete"

# Same reading as prepare-source.sh (scripts/source-version.sh, which also
# gives makefile_version for an extracted tree).
# shellcheck source=scripts/source-version.sh
. "$top/scripts/source-version.sh"
source_version "$ksrc" "linux-source-$kline"
case "$sver" in
"$kline".[0-9]*) ;;
*) die "$ksrc is kernel $sver, not $kline.x: install Debian 12's linux-source-$kline" ;;
esac

# --- build helpers -------------------------------------------------------------

# The kernel build must not inherit a calling make's flags or jobserver
# (make arm64-kernel runs this script), nor a stray kbuild setting; and
# messages stay in English for the warning check below.
unset MAKEFLAGS MFLAGS MAKELEVEL KCONFIG_CONFIG KBUILD_OUTPUT O
kmake() { LC_ALL=C make ARCH=arm64 CROSS_COMPILE="$cross" "$@"; }

# One build at a time: two runs in one tree would corrupt it.
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock -n 9 || { say "waiting for another arm64 kernel build"; flock 9; }

# build TREE NAME: make the Image in TREE, build output in NAME-build.log.
build() {
	local tree=$1 log=$dir/$2-build.log start
	say "building the $2 arm64 kernel (log: $log)"
	start=$SECONDS
	if ! kmake -C "$tree" -j "$jobs" Image > "$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "the $2 arm64 kernel build failed: see $log"
	fi
	say "$2 Image ready (make took $((SECONDS - start)) s)"
}

# configure TREE LOG: allnoconfig plus our fragment.  The config is made in a
# side file and replaces .config only when it differs, so that an unchanged
# config does not even resync (kconfig leaves auto.conf alone outside
# syncconfig); a changed one rebuilds what it must.
configure() {
	local tree=$1 log=$2 new=.config.kvm-prefault l sym cstamp want
	# Skip it (some seconds) when neither the fragment nor .config changed.
	cstamp=$tree/.kvm-prefault-config
	want="$recipe $(sha1sum < "$frag" | cut -d' ' -f1)"
	if [ -f "$tree/.config" ] && [ -f "$cstamp" ] &&
	   [ "$(cat "$cstamp")" = "$want $(sha1sum < "$tree/.config")" ]; then
		return 0
	fi
	say "configuring $tree (log: $log)"
	(
		cd "$tree"
		rm -f "$new" "$new.old"
		kmake -s KCONFIG_CONFIG="$new" allnoconfig
		KCONFIG_CONFIG="$new" scripts/kconfig/merge_config.sh -m "$new" "$frag"
		kmake -s KCONFIG_CONFIG="$new" olddefconfig
	) > "$log" 2>&1 ||
		die "configuring $tree failed: see $log"
	# merge_config.sh -m does not check the result: a fragment option whose
	# dependencies are missing would silently vanish from the test kernel.
	while read -r l; do
		case "$l" in
		CONFIG_*)
			grep -qxF -- "$l" "$tree/$new" ||
				die "$frag: $l is lost by olddefconfig (a dependency is missing)" ;;
		'# CONFIG_'*' is not set')
			sym=${l#\# }; sym=${sym%% *}
			! grep -q "^$sym=" "$tree/$new" ||
				die "$frag: '$l' is overridden by olddefconfig" ;;
		esac
	done < "$frag"
	if cmp -s "$tree/$new" "$tree/.config"; then
		rm -f "$tree/$new"
	else
		say "arm64 kernel config changed: this rebuilds most of the tree"
		mv "$tree/$new" "$tree/.config"
	fi
	rm -f "$tree/$new.old"
	echo "$want $(sha1sum < "$tree/.config")" > "$cstamp"
}

# --- stock --------------------------------------------------------------------

# The stock tree is extracted once per source package (the stamp holds the
# version, size and time of the tarball, so a Debian update re-extracts).
want_src="$sver $(stat -c '%s %Y' "$ksrc")"
stamp=$stock/.kvm-prefault-source
if [ ! -f "$stamp" ] && [ -f "$stock/Makefile" ] &&
   [ "$(makefile_version < "$stock/Makefile")" = "$sver" ]; then
	# A tree extracted by hand with the same recipe: adopt it and its build.
	echo "$want_src" > "$stamp"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_src" ]; then
	say "extracting $ksrc ($sver) to $stock"
	rm -rf "$stock" "$ours"
	mkdir -p "$stock"
	tar -xf "$ksrc" -C "$stock" --strip-components=1 ||
		die "extracting $ksrc failed: reinstall linux-source-$kline"
	echo "$want_src" > "$stamp"
fi
configure "$stock" "$dir/stock-config.log"
# Nothing edits the stock tree, so once built for this source and config it
# stays built: --ours skips its make (seconds per run).  --stock always runs it.
built=$stock/.kvm-prefault-built
want_built="$(cat "$stamp" "$stock/.kvm-prefault-config")"
if [ "$which" = stock ] || [ ! -f "$built" ] ||
   [ "$(cat "$built")" != "$want_built" ]; then
	rm -f "$built"
	build "$stock" stock
	echo "$want_built" > "$built"
fi
if [ "$which" = stock ]; then
	echo "$stock/arch/arm64/boot/Image"
	exit 0
fi

# --- ours ---------------------------------------------------------------------

# Redo the ours tree from stock whenever the source, the config, the series
# or the recipe changes; otherwise only our files are refreshed.
want="$recipe $(cat "$stamp" "$stock/.config" "$series" \
	"$patches"/*.patch | sha1sum | cut -d' ' -f1)"
ostamp=$ours/.kvm-prefault-series
if [ ! -f "$ostamp" ] || [ "$(cat "$ostamp")" != "$want" ]; then
	say "copying the stock tree to $ours and applying the series"
	start=$SECONDS
	rm -rf "$ours" "$ours.new"
	# (--reflink: a near free copy where the file system can share blocks)
	cp -a --reflink=auto "$stock" "$ours.new"
	rm -f "$ours.new"/.kvm-prefault-*
	# kbuild records a few dependencies by absolute path (the vDSO's):
	# point them at the copy so they follow its files.
	grep -rlZ --include='*.cmd' -F "$stock/" "$ours.new" |
		xargs -0 -r sed -i "s|$stock/|$ours/|g"
	while read -r p; do
		case "$p" in ''|'#'*) continue ;; esac
		patch -s -p1 -N --no-backup-if-mismatch -d "$ours.new" \
			< "$patches/$p" ||
			{ rm -rf "$ours.new";
			  die "patch $p does not apply to $sver: the series needs a refresh"; }
	done < "$series"
	mv "$ours.new" "$ours"
	echo "$want" > "$ostamp"
	say "ours tree ready ($((SECONDS - start)) s)"
fi

# Our own files on every build; cp -p keeps make incremental.  Files that
# left kvm_prefault/ leave the tree too.
mkdir -p "$ours/virt/kvm/kvm_prefault"
for f in "$ours"/virt/kvm/kvm_prefault/*.[ch]; do
	[ -e "$f" ] || continue
	[ -e "$top/kvm_prefault/${f##*/}" ] || rm -f "$f" "${f%.[ch]}.o"
done
cp -p "$top"/kvm_prefault/*.[ch] "$ours/virt/kvm/kvm_prefault/"
cp -p "$top/include/uapi/linux/kvm_prefault.h" "$ours/include/uapi/linux/"

build "$ours" ours

# The x86 module build has CONFIG_KVM_WERROR; changing the arm64 compiler
# flags would rebuild the whole tree, so fail on KVM warnings in the log
# instead.  A failed run deletes KVM's objects so that the next run compiles
# them again and still sees the warnings.
log=$dir/ours-build.log
kvm_paths='^(\./)?(arch/arm64/kvm/|virt/kvm/|arch/arm64/include/asm/kvm|include/(uapi/)?linux/kvm)'
if grep -E "${kvm_paths}[^:]*:[0-9]+(:[0-9]+)?: warning:" "$log" >&2; then
	find "$ours/arch/arm64/kvm" "$ours/virt/kvm" -name '*.o' -delete
	die "warnings in KVM (above; full log $log): fix them"
fi

# Check that what the series adds is in the kernel: every kvm_prefault
# object the arm64 and generic KVM Makefiles list must be in KVM's archive.
objs=$(grep -ho 'kvm_prefault/[A-Za-z0-9_.-]*\.o' \
	"$ours/virt/kvm/Makefile.kvm" "$ours/arch/arm64/kvm/Makefile" |
	sort -u) || true
# (ar prints a thin archive's members relative to the current directory.)
members=$(cd "$ours" && ar t arch/arm64/kvm/built-in.a) ||
	die "no arm64 KVM archive in $ours (see $log)"

for o in $objs; do
	[ -f "$ours/virt/kvm/$o" ] ||
		die "virt/kvm/$o was not built (see $log)"
	grep -qxF "arch/arm64/kvm/../../../virt/kvm/$o" <<< "$members" ||
		die "virt/kvm/$o is not linked into arm64 KVM (see $log)"
done
[ -n "$objs" ] ||
	say "warning: the series builds no kvm_prefault object on arm64 yet"

echo "$ours/arch/arm64/boot/Image"
