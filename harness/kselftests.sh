#!/bin/bash
# kselftests.sh [--arch x86_64|arm64] SRC_TARBALL OUTDIR
# Build the kernel's own KVM selftests (tools/testing/selftests/kvm)
# statically from a Debian linux-source tarball, for x86_64 (the default)
# or, cross-compiled with aarch64-linux-gnu-gcc, for arm64.  Only what the
# build needs is unpacked, into OUTDIR/src (scratch).  Every test is built
# on its own (make -k), so one that does not compile does not stop the
# others.
# Output: OUTDIR/bin/<name>, flat names (x86_64/xapic_state_test ->
# xapic_state_test, aarch64/vgic_irq -> vgic_irq), OUTDIR/build.log,
# OUTDIR/build-failures.txt.
# Fails if a test that the exclude list of its architecture and kernel
# line (harness/kselftests/<arch>-<line>.exclude, the line from the
# tarball's name, linux-source-<line>.tar.xz) does not list fails to build.  Idempotent: a finished build of the same
# tarball and arch is reused.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "kselftests.sh: error: $*" >&2; exit 1; }
usage="usage: kselftests.sh [--arch x86_64|arm64] SRC_TARBALL OUTDIR (e.g. /usr/src/linux-source-6.1.tar.xz .cache/kselftests)"

arch=x86_64
if [ "${1:-}" = --arch ]; then
	arch=${2:-}
	shift 2 || die "$usage"
fi
# karch: the kernel's name (ARCH=, arch/<karch>); the selftests' own
# per-arch directories use the uname -m name (x86_64, aarch64).
case $arch in
x86_64)
	karch=x86
	make_arch=(ARCH=x86_64)
	;;
arm64)
	karch=arm64
	command -v aarch64-linux-gnu-gcc >/dev/null ||
		die "aarch64-linux-gnu-gcc not found (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)"
	make_arch=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
	;;
*) die "unknown --arch '$arch' (x86_64 or arm64)" ;;
esac

[ $# -eq 2 ] || die "$usage"
tarball=$1
outdir=$2
kline=$(basename "$tarball")
kline=${kline#linux-source-}
kline=${kline%.tar.xz}
[[ $kline =~ ^[0-9]+\.[0-9]+$ ]] || die "$tarball: not a linux-source-<line>.tar.xz"
[ -f "$tarball" ] || die "$tarball not found (apt-get install linux-source-$kline)"
exclude=$here/kselftests/$arch-$kline.exclude
[ -f "$exclude" ] || die "no ${exclude#"$here"/} for $arch on the $kline line"
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")

stamp="$arch $tarball $(stat -c '%s %Y' "$tarball") $(md5sum <"$here/kselftests.sh" | cut -d' ' -f1)"
if [ -f "$outdir/bin/.stamp" ] && [ "$(cat "$outdir/bin/.stamp")" = "$stamp" ]; then
	echo "$outdir/bin"
	exit 0
fi

src=$outdir/src
build=$outdir/build
rm -rf "${src:?}" "${build:?}" "${outdir:?}/bin"
mkdir -p "$src" "$build" "$outdir/bin"

top=$( (tar -tJf "$tarball" 2>/dev/null || true) | head -n1 | cut -d/ -f1)
[ -n "$top" ] || die "cannot read $tarball"
echo "kselftests.sh: unpacking the parts of $tarball the build needs" >&2
tar -xJf "$tarball" -C "$src" --strip-components=1 \
	"$top/Makefile" "$top/Kbuild" "$top/Kconfig" "$top/scripts" \
	"$top/include" "$top/arch/$karch" "$top/tools" "$top/usr" ||
	die "unpacking $tarball failed"

echo "kselftests.sh: make headers" >&2
make -s -C "$src" "${make_arch[@]}" headers >"$outdir/build.log" 2>&1 ||
	die "make headers failed, see $outdir/build.log"

kdir=$src/tools/testing/selftests/kvm
# The list of tests, from the Makefile itself.
progs=$(make -s -C "$kdir" "${make_arch[@]}" OUTPUT="$build" \
	-f Makefile -f /dev/stdin print-progs <<'EOF'
print-progs:
	@echo $(TEST_GEN_PROGS)
EOF
) || die "cannot list the tests from $kdir/Makefile"
[ -n "$progs" ] || die "no tests listed by $kdir/Makefile"

echo "kselftests.sh: building $(echo "$progs" | wc -w) $arch tests (make -k -j2, static)" >&2
# LDFLAGS from the environment: the Makefile appends its own (-pthread ...).
LDFLAGS=-static make -k -j2 -C "$kdir" "${make_arch[@]}" OUTPUT="$build" \
	>>"$outdir/build.log" 2>&1 || true

excluded() {	# excluded NAME: listed in the arch's exclude list
	grep -qE "^[[:space:]]*$1([[:space:]]|#|$)" "$exclude"
}
: >"$outdir/build-failures.txt"
bad=
for p in $progs; do
	rel=${p#"$build"/}
	name=${rel##*/}
	if [ -e "$outdir/bin/$name" ]; then
		die "two tests flatten to the same name '$name'"
	fi
	if [ -x "$p" ]; then
		cp "$p" "$outdir/bin/$name"
	else
		echo "$name  # $rel did not build" >>"$outdir/build-failures.txt"
		excluded "$name" || bad="$bad $name"
	fi
done
n=$(find "$outdir/bin" -type f | wc -l)
echo "kselftests.sh: $n built, $(wc -l <"$outdir/build-failures.txt") did not build (see $outdir/build.log)" >&2
[ -z "$bad" ] || die "not building and not in ${exclude#"$here"/}:$bad (see $outdir/build.log)"
echo "$stamp" >"$outdir/bin/.stamp"
echo "$outdir/bin"
