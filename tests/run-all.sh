#!/bin/sh
# run-all.sh - the README's test command: install what is needed (Debian 12, as root), build
# out of tree with warnings as errors, run every test layer, and end with one line
# "N passed, N failed" summed over all layers. Exits non-zero when anything failed.
#
# Layers: unit (cmocka) and milter protocol (miltertest) through `make check`; end to end
# through a real Postfix and a real Sendmail, over unix, inet and inet6 milter sockets
# (tests/mta/run.sh), and the fault matrix through Postfix (MTA_SET=faults); `make distcheck` (the tarball builds and passes its own checks). Every layer speaks TAP, so each case counts on its own.
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

# count_trs - add up the per-case results automake's TAP driver wrote
count_trs() {
	for f in $(find "$build/tests" -name '*.trs' 2>/dev/null); do
		p=$(grep -c '^:test-result: \(PASS\|XFAIL\)' "$f")
		x=$(grep -c '^:test-result: \(FAIL\|XPASS\|ERROR\)' "$f")
		s=$(grep -c '^:test-result: SKIP' "$f")
		passed=$((passed + p))
		failed=$((failed + x))
		skipped=$((skipped + s))
		[ "$x" -gt 0 ] && grep -h '^\(FAIL\|ERROR\|XPASS\)' "${f%.trs}.log" | sed 's/^/# /'
	done
	return 0
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

built=1
step autoreconf sh -c "cd '$top' && autoreconf -fi" &&
	step configure sh -c "cd '$build' && '$top/configure' --enable-werror" &&
	step make sh -c "cd '$build' && make -j2" || built=0
[ $built = 1 ] && step format-check sh -c "cd '$build' && make format-check"

if [ $built = 1 ]; then
	# make check fails when a test fails; the per-case counts below say which.
	(cd "$build" && make -j2 check >"$logs/check.log" 2>&1)
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
			"$top/tests/mta/run.sh" >"$tap" 2>&1
		count_tap "$tap"
	done
	step distcheck sh -c "cd '$build' && make -j2 distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror"

	# contrib/ (issue 8): the Debian package, built from the release tarball, installed,
	# run as its systemd unit runs it, and purged again (tests/contrib/deb.sh, TAP).
	# The unit, example configurations and handlers are tested by make check above.
	deb_began=$(date +%s)
	top_srcdir=$top top_builddir=$build "$top/tests/contrib/deb.sh" >"$logs/deb.tap" 2>&1
	count_tap "$logs/deb.tap"
	echo "# deb: $(($(date +%s) - deb_began)) s, $(grep -c '^ok ' "$logs/deb.tap") ok (log: $logs/deb.tap)"
fi

echo "# logs in $logs; skipped: $skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
