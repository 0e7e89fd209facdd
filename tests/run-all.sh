#!/bin/sh
# run-all.sh - the README's test command: install what is needed (Debian 12, as root), build
# out of tree with warnings as errors, run every test layer, and end with one line
# "N passed, N failed" summed over all layers. Exits non-zero when anything failed.
#
# Layers: unit (cmocka) and milter protocol (miltertest) through `make check`; end to end
# through a real Postfix and a real Sendmail, over unix, inet and inet6 milter sockets
# (tests/mta/run.sh), and the fault matrix through Postfix (MTA_SET=faults); `make distcheck`
# (the tarball builds and passes its own checks); the Debian package built, installed, run and
# purged (tests/contrib/deb.sh); `make check` again in a second build with AddressSanitizer
# and UndefinedBehaviorSanitizer (its cases counted under "asan:"); the milter-protocol tests
# once more with the daemon under valgrind memcheck; and each libFuzzer target for
# FUZZ_SECONDS (default 60) from a third build with clang (tests/fuzz/run.sh). Every layer
# speaks TAP, so each case counts on its own. Each layer's time goes to the log directory's
# times.txt.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/_build}
logs=$build/test-logs
passed=0
failed=0
skipped=0

# step NAME CMD... - run a build step; it counts as one test
step() {
	name=$1
	shift
	if "$@" >"$logs/$name.log" 2>&1; then
		passed=$((passed + 1))
		echo "ok - $name"
	else
		failed=$((failed + 1))
		echo "not ok - $name (log: $logs/$name.log)"
		tail -n 30 "$logs/$name.log" | sed 's/^/#   /'
		return 1
	fi
}

# count_trs [DIR [LABEL]] - add up the per-case results automake's TAP driver wrote under
# DIR/tests (default: the first build); failures are listed with LABEL before them
count_trs() {
	ct_dir=${1:-$build}
	ct_label=${2:-}
	ct_p=0 ct_x=0
	for f in $(find "$ct_dir/tests" -name '*.trs' 2>/dev/null); do
		p=$(grep -c '^:test-result: \(PASS\|XFAIL\)' "$f")
		x=$(grep -c '^:test-result: \(FAIL\|XPASS\|ERROR\)' "$f")
		s=$(grep -c '^:test-result: SKIP' "$f")
		passed=$((passed + p))
		failed=$((failed + x))
		skipped=$((skipped + s))
		ct_p=$((ct_p + p))
		ct_x=$((ct_x + x))
		[ "$x" -gt 0 ] && grep -h '^\(FAIL\|ERROR\|XPASS\)' "${f%.trs}.log" |
			sed "s/^/# ${ct_label:+$ct_label: }/"
	done
	[ -n "$ct_label" ] && echo "# $ct_label: $ct_p passed, $ct_x failed"
	return 0
}

# timed NAME CMD... - run CMD, adding "NAME SECONDS" to times.txt; CMD's status
timed() {
	tm_name=$1
	shift
	tm_start=$(date +%s)
	"$@"
	tm_rc=$?
	echo "$tm_name $(($(date +%s) - tm_start))" >>"$logs/times.txt"
	return $tm_rc
}

# count_tap FILE - add up a TAP stream's results
count_tap() {
	p=$(grep -c '^ok ' "$1")
	x=$(grep -c '^not ok ' "$1")
	s=$(grep -c '^ok .*# *SKIP' "$1")
	passed=$((passed + p - s))
	failed=$((failed + x))
	skipped=$((skipped + s))
	grep '^not ok ' "$1" | sed 's/^/# /'
	# A stream that gave up or stopped short of its plan failed too.
	b=$(grep -c '^Bail out!' "$1")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$1" | head -1)
	done_=$(grep -c '^\(not \)\{0,1\}ok ' "$1")
	if [ "$b" -gt 0 ] || [ -z "$plan" ] || [ "$done_" -lt "${plan:-0}" ]; then
		failed=$((failed + 1))
		echo "# $1: $(grep '^Bail out!' "$1" | head -1) ran $done_ of ${plan:-no plan}" | sed 's/^/# /'
	fi
	if grep -q '^1\.\.0 *# *SKIP' "$1"; then
		skipped=$((skipped + 1))
		grep '^1\.\.0' "$1" | sed 's/^/# layer skipped: /'
	fi
	return 0
}

if [ "${SKIP_INSTALL:-}" = "" ]; then
	"$top/contrib/install-deps.sh" --test || { echo "0 passed, 1 failed"; exit 1; }
fi
mkdir -p "$build" "$logs"
: >"$logs/times.txt"
asan_build=${ASAN_BUILD_DIR:-$build-asan}
fuzz_build=${FUZZ_BUILD_DIR:-$build-fuzz}

built=1
step autoreconf sh -c "cd '$top' && autoreconf -fi" &&
	step configure sh -c "cd '$build' && '$top/configure' --enable-werror" &&
	step make sh -c "cd '$build' && make -j2" || built=0
[ $built = 1 ] && step format-check sh -c "cd '$build' && make format-check"

if [ $built = 1 ]; then
	# make check fails when a test fails; the per-case counts below say which.
	(cd "$build" && timed check make -j2 check >"$logs/check.log" 2>&1)
	count_trs
	# End to end: every scenario through each MTA over a unix socket, then the
	# scenarios that prove a socket kind over inet and inet6, then the fault
	# matrix and the accounting of every message (tests/mta/faults.sh) through
	# Postfix.
	for run in postfix:unix:all sendmail:unix:all postfix:inet:socket sendmail:inet:socket \
		postfix:inet6:socket sendmail:inet6:socket postfix:unix:faults; do
		mta=${run%%:*}
		kind=${run#*:}
		kind=${kind%%:*}
		set=${run##*:}
		tap=$logs/mta-$mta-$kind.tap
		[ "$set" = faults ] && tap=$logs/mta-$mta-$kind-faults.tap
		top_srcdir=$top top_builddir=$build MTA=$mta MILTER_SOCKET=$kind MTA_SET=$set \
			timed "mta-$mta-$kind-$set" "$top/tests/mta/run.sh" >"$tap" 2>&1
		count_tap "$tap"
	done
	timed distcheck step distcheck sh -c "cd '$build' && make -j2 distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror"

	# contrib/ (issue 8): the Debian package, built from the release tarball, installed,
	# run as its systemd unit runs it, and purged again (tests/contrib/deb.sh, TAP).
	# The unit, example configurations and handlers are tested by make check above.
	top_srcdir=$top top_builddir=$build timed deb "$top/tests/contrib/deb.sh" >"$logs/deb.tap" 2>&1
	count_tap "$logs/deb.tap"

	# The milter-protocol tests once under valgrind memcheck: zero errors, no definite leak.
	top_srcdir=$top top_builddir=$build MILTER_VALGRIND=1 \
		timed valgrind "$top/tests/milter/run.sh" >"$logs/milter-valgrind.tap" 2>&1
	count_tap "$logs/milter-valgrind.tap"
fi

# make check again, built with AddressSanitizer + UndefinedBehaviorSanitizer (gcc).
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
mkdir -p "$asan_build"
if timed asan-build step asan-configure sh -c "cd '$asan_build' && '$top/configure' --enable-werror CFLAGS='-g -O1 $san' LDFLAGS='$san'" &&
	timed asan-build step asan-make sh -c "cd '$asan_build' && make -j2"; then
	# The sanitizers stop at the first report, and LeakSanitizer checks every exit: a report
	# anywhere makes a test fail (tests/milter/run.sh also looks for them in the daemon's log).
	(cd "$asan_build" &&
		ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		timed asan-check make -j2 check >"$logs/asan-check.log" 2>&1)
	count_trs "$asan_build" asan
fi

# The fuzz targets, FUZZ_SECONDS each, from a third build with clang and libFuzzer.
mkdir -p "$fuzz_build"
if timed fuzz-build step fuzz-configure sh -c "cd '$fuzz_build' && '$top/configure' --enable-werror --enable-fuzzing CC=clang" &&
	timed fuzz-build step fuzz-make sh -c "cd '$fuzz_build' && make -j2 fuzz"; then
	top_srcdir=$top top_builddir=$fuzz_build \
		timed fuzz "$top/tests/fuzz/run.sh" "${FUZZ_SECONDS:-60}" >"$logs/fuzz.tap" 2>&1
	count_tap "$logs/fuzz.tap"
	grep '^ok ' "$logs/fuzz.tap" | sed 's/^/# /'
fi

echo "# seconds per layer: $(tr '\n' ' ' <"$logs/times.txt")"
echo "# logs in $logs; skipped: $skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
