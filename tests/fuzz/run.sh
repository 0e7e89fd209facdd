#!/bin/sh
# run.sh [SECONDS] - run each libFuzzer target of tests/fuzz for SECONDS (default 60)
#
# Needs the targets built: configure --enable-fuzzing CC=clang, then `make fuzz`; they are
# looked for in $top_builddir/tests/fuzz (top_builddir defaults to the source tree). Each
# target starts from a copy of its seed corpus (corpus/<target>) in a temporary directory,
# so the committed seeds never change, and uses its dictionary (<target>.dict).
# Prints TAP, one line per target, with the number of executions. A target fails when
# libFuzzer reports anything (a crash, a sanitizer report, a leak, an input slower than
# 10 s, more than 2 GiB of memory) or ran nothing; the input that did it is kept and named.
# Environment: FUZZ_TARGETS="toml expr" runs only those; KEEP_TMP=1 keeps the directory.

set -u

seconds=${1:-60}
case $seconds in
'' | *[!0-9]*)
	echo "usage: run.sh [SECONDS]" >&2
	exit 2
	;;
esac
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
fuzzdir=$top_srcdir/tests/fuzz
targets=${FUZZ_TARGETS:-toml response expr}

# shellcheck disable=SC2086 # a list of names
set -- $targets
echo "1..$#"
for t in $targets; do
	if [ ! -x "$top_builddir/tests/fuzz/fuzz_$t" ]; then
		echo "Bail out! $top_builddir/tests/fuzz/fuzz_$t not built (configure --enable-fuzzing CC=clang; make fuzz)"
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mtfuzz.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }
keep=${KEEP_TMP:-0}
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ "$keep" = 1 ]; then
		echo "# kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# libFuzzer stops itself after -max_total_time; timeout(1) is there in case it does not.
limit=
command -v timeout >/dev/null 2>&1 && limit="timeout -s KILL $((seconds + 120))"

n=0
failed=0
for t in $targets; do
	n=$((n + 1))
	mkdir "$tmp/$t" || { echo "Bail out! mkdir failed"; exit 1; }
	cp "$fuzzdir/corpus/$t/"* "$tmp/$t/"
	seeds=$(find "$tmp/$t" -type f | wc -l | tr -d ' ')
	log=$tmp/$t.log
	# shellcheck disable=SC2086 # $limit is a command and its arguments, or nothing
	$limit "$top_builddir/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -dict="$fuzzdir/$t.dict" \
		-artifact_prefix="$tmp/$t-" "$tmp/$t" </dev/null >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	corpus=$(find "$tmp/$t" -type f | wc -l | tr -d ' ')
	if [ $rc = 0 ] && [ -n "$execs" ] && [ "$execs" -gt 0 ] && ! grep -q '^==[0-9]*==ERROR' "$log"; then
		echo "ok $n - fuzz_$t: $execs executions in ${seconds} s, corpus $seeds -> $corpus inputs"
	else
		failed=$((failed + 1))
		keep=1
		echo "not ok $n - fuzz_$t: exit status $rc after ${execs:-no} executions"
		for a in "$tmp/$t"-*; do
			[ -e "$a" ] && echo "# the input that failed: $a"
		done
		grep -E 'ERROR|SUMMARY|Deadly|timeout|leak|==[0-9]+==' "$log" | head -n 20 | sed 's/^/#   /'
		tail -n 40 "$log" | sed 's/^/#   /'
	fi
done
[ $failed -eq 0 ] || echo "# $failed of $n fuzz targets failed; logs and inputs in $tmp"
exit 0
