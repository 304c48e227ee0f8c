#!/bin/bash
# scan-log.sh CONSOLE_LOG: print the kernel splats found in a guest console
# log (at most 20 lines) and exit 1 if there is any, 0 if the log is clean.
# Only kernel lines (with a printk timestamp) count, so test output cannot
# trigger it, and the boot line "Speculative Return Stack Overflow:
# WARNING: See ..." that QEMU's EPYC model makes Debian's kernel print is
# not a splat.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: scan-log.sh CONSOLE_LOG" >&2; exit 2; }
[ -r "$1" ] || { echo "scan-log.sh: error: cannot read $1" >&2; exit 2; }

re='\[ *[0-9]+\.[0-9]+\].*(WARNING: CPU:|WARNING: possible|BUG:|Oops|Call Trace:|Kernel panic|general protection fault|UBSAN:|self-detected stall|rcu_.*detected stalls)'
splats=$(tr -d '\r' <"$1" | grep -aE "$re" | grep -avF 'Speculative Return Stack Overflow' | head -n 20 | cut -c1-300 || true)
[ -z "$splats" ] && exit 0
printf '%s\n' "$splats"
exit 1
