# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154 # the globals below are the caller's
#
# lib.sh: harness/run.sh's test lists, verdicts, TAP and results
# directory.  Sourced; the caller provides die() and sets:
#   root            the initramfs tree being built
#   timeout         the default per-test timeout, in seconds
#   ks_timeout_file kselftests/<arch>-<line>.timeout
#   test_machine    what readelf -h prints as Machine for its tests
#   test_strip      the strip of its toolchain
#   idx npass nfail nskip nxfail   TAP counters (start at 0)
#   line            the target's kernel line (stock-failures' first column)
#   our_tests ks_tests      the names add_tests copied, per suite
#   max_t           raised by list_tests to the longest kselftest timeout
#   test_args       (associative) arguments per test of --tests, from
#                   run.sh --test-args

# listed NAME FILE: FILE has a line for NAME ("name  # comment").
listed() {
	grep -qE "^[[:space:]]*${1}([[:space:]]|#|$)" "$2"
}

# add_tests SRCDIR SUITE [EXCLUDE_FILE [ONLY_FILE]]: copy every executable
# of SRCDIR that EXCLUDE_FILE does not list (and, given an ONLY_FILE, that
# it lists) into the initramfs; print the names.
add_tests() {
	local src=$1 suite=$2 excl=${3:-} only=${4:-} f name hdr
	for f in "$src"/*; do
		if [ ! -f "$f" ] || [ ! -x "$f" ]; then
			continue
		fi
		name=${f##*/}
		if [ -n "$excl" ] && listed "$name" "$excl"; then
			continue
		fi
		if [ -n "$only" ] && ! listed "$name" "$only"; then
			continue
		fi
		hdr=$(readelf -h -l "$f" 2>/dev/null) || die "$f is not an ELF binary"
		grep -q "Machine:.*$test_machine" <<<"$hdr" ||
			die "$f is not a $test_machine binary"
		! grep -q INTERP <<<"$hdr" ||
			die "$f is dynamically linked: tests must be static"
		# Strip debug info: the initramfs stays small, the log is enough.
		"$test_strip" --strip-debug -o "$root/tests/$suite/$name" "$f" 2>/dev/null ||
			cp "$f" "$root/tests/$suite/$name"
		chmod 0755 "$root/tests/$suite/$name"
		echo "$name"
	done
}

# ks_tune NAME: "TIMEOUT [ARGS...]" for a kselftest, from ks_timeout_file.
ks_tune() {
	local n t args a
	while read -r n t args; do
		[ "$n" = "$1" ] || continue
		read -r -a a <<<"${args%%#*}"
		[ "${a[0]:-}" != "--" ] || a=("${a[@]:1}")
		echo "$t ${a[*]}"
		return
	done < <(grep -v '^[[:space:]]*#' "$ks_timeout_file")
	echo "$timeout"
}

# tap ok|notok|skip|xfail NAME [COMMENT]: one TAP point, named $tap_label
# NAME (run.sh --label; empty by default).  xfail: a known stock failure
# (harness/stock-failures), a TAP TODO point.
tap() {
	idx=$((idx + 1))
	tap_points+=("$1"$'\t'"$2"$'\t'"${3:-}")
	case $1 in
	ok) npass=$((npass + 1)); echo "ok $idx - ${tap_label:-}$2${3:+ # $3}" ;;
	skip) nskip=$((nskip + 1)); echo "ok $idx - ${tap_label:-}$2 # SKIP${3:+ $3}" ;;
	xfail) nxfail=$((nxfail + 1)); echo "not ok $idx - ${tap_label:-}$2 # TODO known stock failure${3:+: $3}" ;;
	*) nfail=$((nfail + 1)); echo "not ok $idx - ${tap_label:-}$2${3:+ # $3}" ;;
	esac
}

# is_stock RUN: RUN (a phase) runs the stock KVM: stock or stock-<mode>.
is_stock() {
	[[ $1 == stock || $1 == stock-* ]]
}

# stock_failure ID: harness/stock-failures' entry for our test ID
# (tests/NAME) on this line: sets sf_how (fails, warns), sf_subs (the
# sub-tests, blank separated) and sf_why; 1 without an entry.
stock_failures=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stock-failures
stock_failure() {
	local l i h s
	sf_how='' sf_subs='' sf_why=''
	while read -r l i h s sf_why; do
		if [ "$l" != "$line" ] || [ "$i" != "$1" ]; then
			continue
		fi
		case $h in fails|warns) ;; *) die "stock-failures: '$h' for $i (fails, warns)" ;; esac
		sf_how=$h
		sf_subs=${s//,/ }
		sf_why=${sf_why#\# }
		return 0
	done < <(grep -v '^[[:space:]]*\(#\|$\)' "$stock_failures")
	return 1
}

# list_tests SUITES RUNLIST EXPECTED [PREFIX]: for each suite of SUITES
# (comma separated: tests, kselftests) append a TEST line per test to the
# guest's RUNLIST and PREFIX<suite>/<name> to the host's EXPECTED.  PREFIX
# is "<phase> ": a stock phase leaves out our tests that WARN stock.
list_tests() {
	local rl=$2 exp=$3 prefix=${4:-} s n t args
	for s in ${1//,/ }; do
		case $s in
		tests)
			for n in "${our_tests[@]}"; do
				echo "${prefix}tests/$n" >>"$exp"
				if is_stock "${prefix% }" && stock_failure "tests/$n" &&
				   [ "$sf_how" = warns ]; then
					continue
				fi
				echo "TEST tests $n $timeout${test_args[$n]:+ ${test_args[$n]}}" >>"$rl"
			done ;;
		kselftests)
			for n in "${ks_tests[@]}"; do
				read -r t args <<<"$(ks_tune "$n")"
				[[ $t =~ ^[0-9]+$ ]] || die "$ks_timeout_file: bad timeout for $n"
				[ "$t" -le "$max_t" ] || max_t=$t
				echo "TEST kselftests $n $t${args:+ $args}" >>"$rl"
				echo "${prefix}kselftests/$n" >>"$exp"
			done ;;
		*) die "unknown suite '$s' (tests, kselftests)" ;;
		esac
	done
}

# pack_cpio DIR OUT: DIR as a gzipped newc archive owned by root, in a
# stable order.
pack_cpio() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner=0:0 --quiet | gzip -1 >"$2")
}

# frame CONSOLE NAME: the framed output of test NAME (RUN/SUITE/TEST) in
# CONSOLE, from its "=== BEGIN" line to its "=== END" line.
frame() {
	# (awk reads to the end: no SIGPIPE upstream to trip pipefail)
	tr -d '\r' <"$1" |
		awk -v b="=== BEGIN $2 " -v e="=== END $2:" \
			'index($0, b) == 1 { on = 1 } on { print } on && index($0, e) == 1 { on = 0 }'
}

# child_tap CONSOLE RUN ID: the TAP that test ID printed in RUN (its plan,
# points and diagnostics; not kernel lines), indented as the test point's
# nested subtests, at most 200 lines: the whole output is in its .log.
child_tap() {
	frame "$1" "$2/$3" | grep -E '^(TAP version|1\.\.|(not )?ok |# )' |
		awk 'NR <= 200 { print "    " $0 } END { if (NR > 200) print "    # (" NR - 200 " more lines in the results directory)" }' || true
}

# test_log CONSOLE RUN ID: the framed output of test ID in boot or phase
# RUN, from CONSOLE, as TAP comments (the last 40 lines).
test_log() {
	frame "$1" "$2/$3" | tail -n 40 | cut -c1-400 | sed 's/^/#   /' || true
}

# save_results CONSOLE: the results directory, run.sh --results DIR: for
# every TAP point since the last call that names a test (RUN/SUITE/TEST),
# DIR/RUN/SUITE/TEST.status ("pass", "fail" or "skip", a tab, the TAP
# comment) and DIR/RUN/SUITE/TEST.log (the test's framed output in
# CONSOLE, kernel lines included).  make demo and make bench read their
# program's output there instead of scraping the console.
tap_points=()

# init_results DIR: empty DIR for this run's results and set results_dir;
# refuses a non-empty DIR that no earlier run made.
init_results() {
	if [ -n "$(ls -A "$1" 2>/dev/null)" ] && [ ! -f "$1/.harness-results" ]; then
		die "--results $1: not empty and not a results directory"
	fi
	rm -rf "$1"
	mkdir -p "$1"
	touch "$1/.harness-results"
	results_dir=$(cd "$1" && pwd)
}

save_results() {
	local pt kind name comment f
	for pt in "${tap_points[@]}"; do
		IFS=$'\t' read -r kind name comment <<<"$pt"
		case $name in */tests/*|*/kselftests/*) ;; *) continue ;; esac
		case $kind in ok) kind=pass ;; notok) kind=fail ;; esac
		f=$results_dir/$name
		mkdir -p "${f%/*}"
		printf '%s\t%s\n' "$kind" "$comment" >"$f.status"
		frame "$1" "$name" >"$f.log"
	done
	tap_points=()
}

# judge RUN ID BASE CONSOLE RESULTS: the TAP point of test ID (SUITE/NAME)
# in RUN (a phase or a boot) from its RESULT line in RESULTS; the one
# verdict rule of every target.  BASE is the stock run whose verdicts are
# RUN's kselftest baseline, or empty.  A kselftest is only ours to answer
# for where it passed on BASE: anything else there makes it a skip ("no
# baseline"); on a stock run (stock or stock-*) without a BASE, a
# kselftest that does not pass is the baseline itself, a skip with its
# output shown, since an exclude (kselftests/<arch>-<line>.exclude) needs it.  A test
# that skips where BASE passed fails.  A test with no RESULT line failed:
# the guest died during it, or it never started.
declare -A verdict=()
judge() {
	local b=$1 id=$2 base=$3 console=$4 res=$5 rl v secs
	[[ $id == kselftests/* ]] || base=	# our tests have no baseline
	rl=$(grep -m1 "^RESULT $b $id " "$res" || true)
	read -r _ _ _ v secs <<<"$rl"
	v=${v:-none}
	verdict[$b/$id]=$v
	child_tap "$console" "$b" "$id"
	if [[ $id == tests/* ]] && is_stock "$b" && stock_failure "$id"; then
		judge_stock_failure "$b" "$id" "$v" "$console"
		return 0
	fi
	if [[ $id == kselftests/* ]]; then
		if [ -n "$base" ] && [ "${verdict[$base/$id]:-none}" != pass ]; then
			tap skip "$b/$id" "no baseline: ${verdict[$base/$id]:-none} on $base (here: $v)"
			return 0
		fi
		if [ -z "$base" ] && [[ $b == stock || $b == stock-* ]] && [ "$v" != pass ]; then
			tap skip "$b/$id" "baseline ${v}${secs:+ after ${secs}s}"
			[ "$v" = skip ] || test_log "$console" "$b" "$id"
			return 0
		fi
	fi
	case $v in
	pass) tap ok "$b/$id" "${secs}s" ;;
	skip)
		if [ -n "$base" ]; then
			tap notok "$b/$id" "skipped here but passed on $base"
		else
			tap skip "$b/$id" "${secs}s"
		fi ;;
	timeout) tap notok "$b/$id" "TIMEOUT after ${secs}s"; test_log "$console" "$b" "$id" ;;
	fail) tap notok "$b/$id" "failed after ${secs}s"; test_log "$console" "$b" "$id" ;;
	*)
		if grep -q "^START $b $id\$" "$res"; then
			tap notok "$b/$id" "no result: the guest died during this test"
			test_log "$console" "$b" "$id"
		else
			tap notok "$b/$id" "no result: never started"
		fi ;;
	esac
}

# judge_stock_failure RUN ID VERDICT CONSOLE: judge's rule for our test
# ID on a stock RUN where stock_failure has set sf_*: skipped when it
# WARNs stock (list_tests left it out); else a TODO point when it failed
# in the listed sub-tests only; a failure of the run when it passed or
# failed elsewhere.
judge_stock_failure() {
	local b=$1 id=$2 v=$3 console=$4 failed n extra=
	if [ "$sf_how" = warns ]; then
		tap skip "$b/$id" "not run on stock: known to WARN in ${sf_subs// /, } ($sf_why)"
		return
	fi
	failed=$(frame "$console" "$b/$id" | sed -n 's/^not ok [0-9]* \([^ ]*\).*/\1/p' | tr '\n' ' ')
	for n in $failed; do
		case " $sf_subs " in *" $n "*) ;; *) extra="$extra $n" ;; esac
	done
	if [ "$v" = fail ] && [ -n "$failed" ] && [ -z "$extra" ]; then
		tap xfail "$b/$id" "${failed% } ($sf_why)"
	elif [ "$v" = pass ] || [ "$v" = skip ]; then
		tap notok "$b/$id" "known stock failure did not happen ($v): harness/stock-failures lists ${sf_subs// /, }"
	else
		tap notok "$b/$id" "$v${failed:+ in ${failed% }}: harness/stock-failures expects failures in ${sf_subs// /, } only"
		test_log "$console" "$b" "$id"
	fi
}

# judge_guest PREFIX CONSOLE RESULTS HUNG ELAPSED: the points every boot
# ends with, PREFIX"kernel log clean" (scan-log.sh finds no splat in
# CONSOLE) and PREFIX"guest finished" (DONE in RESULTS, not killed: HUNG
# says why it was), then the boot's entries in the results directory.
lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
judge_guest() {
	local pre=$1 console=$2 res=$3 hung=$4 elapsed=$5 splats
	splats=$("$lib_dir/scan-log.sh" "$console" || true)
	if [ -z "$splats" ]; then
		tap ok "${pre}kernel log clean"
	else
		tap notok "${pre}kernel log clean" "splat in $console"
		printf '%s\n' "$splats" | sed 's/^/#   /'
	fi
	if grep -q '^DONE$' "$res" && [ -z "$hung" ]; then
		tap ok "${pre}guest finished" "${elapsed}s"
	else
		tap notok "${pre}guest finished" "${hung:-no DONE on the result channel (guest crashed?)}"
		tr -d '\r' <"$console" | tail -n 30 | cut -c1-400 | sed 's/^/#   /' || true
	fi
	save_results "$console"
	echo "# console log: $console"
}

# new_run_dir WORK: a fresh WORK/runs/<date>-<pid> for this run, in $out
# (several runs may share a cache); WORK/last points at the newest, and
# runs older than the 10 newest are removed.
new_run_dir() {
	mkdir -p "$1/runs"
	out=$1/runs/$(date +%Y%m%d-%H%M%S)-$$
	mkdir -p "$out"
	[ -L "$1/last" ] || rm -rf "$1/last"
	ln -sfn "runs/${out##*/}" "$1/last"
	find "$1/runs" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' |
		sort -rn | tail -n +11 | cut -d' ' -f2- | xargs -r rm -rf
}

# watch_guest QPID RESULTS IDLE_LIMIT: wait for the emulator QPID
# (started under timeout --kill-after), reading RESULTS every second, its
# new lines shown as progress on stderr.  A guest whose RESULTS stay the
# same for IDLE_LIMIT seconds is killed.  Sets qrc (the emulator's exit
# status) and hung (why it was killed, or empty).
watch_guest() {
	local qpid=$1 res=$2 idle=$3 seen=0 n last
	hung=
	last=$(date +%s)
	while kill -0 "$qpid" 2>/dev/null; do
		sleep 1
		n=$(wc -l <"$res")
		if [ "$n" -ne "$seen" ]; then
			if [ "$quiet" != 1 ]; then
				tail -n +"$((seen + 1))" "$res" | head -n "$((n - seen))" |
					tr -d '\r' | sed -n 's/^RESULT /# /p; s/^PHASE /# phase /p' >&2 || true
			fi
			seen=$n
			last=$(date +%s)
		elif [ $(($(date +%s) - last)) -gt "$idle" ]; then
			hung="no result for ${idle}s"
			kill "$qpid" 2>/dev/null || true
			break
		fi
	done
	wait "$qpid" && qrc=0 || qrc=$?
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		hung=${hung:-"hit --max-time ${max_time}s"}
	fi
}
