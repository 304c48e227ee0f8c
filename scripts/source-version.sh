# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by prepare-source.sh and arm64-kernel.sh, which provide die().

# makefile_version < Makefile: the VERSION.PATCHLEVEL.SUBLEVEL it sets.
makefile_version() {
	awk -F' = ' '$1 == "VERSION" { v = $2 } $1 == "PATCHLEVEL" { p = $2 }
		$1 == "SUBLEVEL" { s = $2 } END { print v "." p "." s }'
}

# source_version TARBALL PACKAGE: set topdir (the tarball's top directory)
# and sver (the exact upstream version its top Makefile carries), or die
# naming PACKAGE to reinstall.
source_version() {
	local mk
	# (tar is cut off by head on purpose: only the first entry is needed.)
	topdir=$( (tar -tf "$1" 2>/dev/null || true) | head -n 1 | cut -d/ -f1)
	[ -n "$topdir" ] ||
		die "$1 is not a readable tarball: reinstall $2"
	mk=$(tar -xOf "$1" --occurrence=1 "$topdir/Makefile" 2>/dev/null) ||
		die "$1 has no top Makefile: reinstall $2"
	# shellcheck disable=SC2034 # for the caller
	sver=$(printf '%s\n' "$mk" | makefile_version)
}
