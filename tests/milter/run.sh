#!/bin/sh
# run.sh - the milter protocol tests: miltertest against the real daemon and a scripted hook
#
# Run by `make check` (automake's TAP driver) with MILTERTEST, PYTHON3, top_srcdir and
# top_builddir in the environment; runs by hand too (they default to what PATH and the
# script's location give). Prints TAP: one line per scenario of tests/milter/check.py.
#
# Pieces, all on loopback / unix sockets, all in a private temporary directory:
#   hookserver.py   (tests/lib) the hook endpoint, scripted per scenario, recording requests
#   mtahooks-milter the daemon under test, one per configuration (all started at once,
#                   since libmilter takes seconds to stop), restarted if one dies
#   milterproxy.py  between miltertest and the daemon, tracing every milter packet
#   miltertest      runs tests/milter/<file>.lua with -D CASE=...: plays the MTA, checks replies
#   check.py        writes scripts and configurations, then checks record, trace and log
# A scenario passes when miltertest exits 0, the daemon still runs, and check.py finds
# nothing wrong.
# A last test stops every daemon: each must exit 0, and no daemon log may hold a sanitizer
# report (a build with -fsanitize=address,undefined writes them to stderr, which is the
# log); each scenario is also failed by a report that appears while it runs.
# Environment: MILTER_TESTS=name,name runs only those scenarios; KEEP_TMP=1 keeps the
# temporary directory; MILTER_VALGRIND=1 runs each daemon under valgrind memcheck, and the
# last test then also wants zero errors and no definite leak in each valgrind log.

set -u

MILTERTEST=${MILTERTEST:-$(command -v miltertest 2>/dev/null || true)}
PYTHON3=${PYTHON3:-$(command -v python3 2>/dev/null || true)}
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
mtdir=$top_srcdir/tests/milter
daemon=$top_builddir/src/mtahooks-milter

if [ -z "$MILTERTEST" ] || [ ! -x "$MILTERTEST" ]; then
	echo "1..0 # SKIP miltertest not found (Debian package miltertest)"
	exit 0
fi
if [ -z "$PYTHON3" ] || [ ! -x "$PYTHON3" ]; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
# miltertest waits at most 10 s per read; bound a whole script too, where we can
limit=
command -v timeout >/dev/null 2>&1 && limit="timeout 60"
if [ ! -x "$daemon" ]; then
	echo "Bail out! $daemon not built"
	exit 1
fi
# MILTER_VALGRIND=1: every daemon runs under memcheck, its report in $tmp/valgrind-CONFIG.log
valgrind=
ready_tries=100
if [ "${MILTER_VALGRIND:-0}" = 1 ]; then
	if ! command -v valgrind >/dev/null 2>&1; then
		echo "Bail out! MILTER_VALGRIND=1 but valgrind is not installed (Debian package valgrind)"
		exit 1
	fi
	valgrind="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full"
	valgrind="$valgrind --errors-for-leak-kinds=definite --show-leak-kinds=definite"
	valgrind="$valgrind --num-callers=30"
	ready_tries=600 # memcheck starts a program many times slower
fi

# A unix socket path must fit in sun_path (108 bytes): keep the directory short.
base=${TMPDIR:-/tmp}
[ ${#base} -gt 60 ] && base=/tmp
tmp=$(mktemp -d "$base/mtmilter.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }

hook_pid='' proxy_pid=''
daemon_pids='' # "config:pid ..." of every daemon started

# stop - TERM processes we started, wait a bounded time, KILL whatever lingers
stop() {
	for pid in "$@"; do
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do
			sleep 0.05
			i=$((i + 1))
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "# process $pid ignored SIGTERM for 10 s; killing it"
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
	done
	return 0
}

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	# libmilter notices SIGTERM only every few seconds: stop all daemons at once
	# shellcheck disable=SC2046
	stop $(for cp in $daemon_pids; do echo "${cp#*:}"; done) "$proxy_pid" "$hook_pid"
	daemon_pids='' proxy_pid='' hook_pid=''
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "# kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# wait_for - up to 100 x 0.05 s for a test command to succeed (600 under valgrind)
wait_for() {
	i=0
	while [ $i -lt $ready_tries ]; do
		"$@" && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# diag - a file, as TAP diagnostics (at most the last N lines)
diag() {
	[ -s "$1" ] || return 0
	tail -n "${2:-40}" "$1" | sed 's/^/#   /'
}

check=$mtdir/check.py
record=$tmp/record.jsonl
trace=$tmp/trace.jsonl
hookscript=$tmp/script.json
echo '{}' >"$hookscript"

"$PYTHON3" "$top_srcdir/tests/lib/hookserver.py" --port-file "$tmp/port" \
	--script "$hookscript" --record "$record" </dev/null 2>"$tmp/hookserver.log" &
hook_pid=$!
if ! wait_for test -s "$tmp/port"; then
	echo "Bail out! hook server did not start"
	diag "$tmp/hookserver.log"
	exit 1
fi
port=$(cat "$tmp/port")

echo "$tmp/none.sock" >"$tmp/upstream"
"$PYTHON3" "$mtdir/milterproxy.py" --listen "$tmp/proxy.sock" --upstream-file "$tmp/upstream" \
	--trace "$trace" </dev/null 2>"$tmp/proxy.log" &
proxy_pid=$!
if ! wait_for test -S "$tmp/proxy.sock"; then
	echo "Bail out! milter proxy did not start"
	diag "$tmp/proxy.log"
	exit 1
fi

if ! { mkdir "$tmp/scripts" && "$PYTHON3" "$check" list >"$tmp/list" &&
	"$PYTHON3" "$check" scripts "$tmp/scripts"; }; then
	echo "Bail out! check.py failed"
	exit 1
fi
if [ -n "${MILTER_TESTS:-}" ]; then
	: >"$tmp/list.sel"
	for name in $(echo "$MILTER_TESTS" | tr ',' ' '); do
		awk -F '\t' -v n="$name" '$1 == n' "$tmp/list" >>"$tmp/list.sel"
	done
	mv "$tmp/list.sel" "$tmp/list"
fi
echo "1..$(($(wc -l <"$tmp/list" | tr -d ' ') + 1))"

# A sanitizer's report (AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer) as the
# daemon writes it to stderr.
sanitizer_re='ERROR: [A-Za-z]*Sanitizer|runtime error: |WARNING: [A-Za-z]*Sanitizer|SUMMARY: [A-Za-z]*Sanitizer'

# start_daemon - start the daemon for configuration $1 (its log: $tmp/daemon-$1.log)
start_daemon() {
	"$PYTHON3" "$check" config "$1" "$tmp/$1.toml" --port "$port" \
		--socket "unix:$tmp/filter-$1.sock" || return 1
	# shellcheck disable=SC2086 # $valgrind is a command and its options, or nothing
	${valgrind:+$valgrind --log-file=$tmp/valgrind-$1.%p.log} \
		"$daemon" -f -c "$tmp/$1.toml" -p "unix:$tmp/filter-$1.sock" -v -v \
		</dev/null 2>>"$tmp/daemon-$1.log" &
	daemon_pids="$daemon_pids $1:$!"
}

# daemon_pid - the pid of the daemon for configuration $1 (empty when none)
daemon_pid() {
	for cp in $daemon_pids; do
		[ "${cp%%:*}" = "$1" ] && pid=${cp#*:}
	done
	echo "${pid:-}"
	pid=
}

# daemon_ready - the daemon for configuration $1 runs and listens
daemon_ready() {
	kill -0 "$(daemon_pid "$1")" 2>/dev/null &&
		grep -qs "listening on" "$tmp/daemon-$1.log" && test -S "$tmp/filter-$1.sock"
}

# Every configuration gets its own daemon, all started at once: a restart costs seconds.
configs=$(cut -f 2 "$tmp/list" | awk '!seen[$0]++')
for cfg in $configs; do
	start_daemon "$cfg"
done
for cfg in $configs; do
	wait_for daemon_ready "$cfg"
done

n=0 failed=0
tab=$(printf '\t')
while IFS="$tab" read -r name cfg lua defines desc; do
	n=$((n + 1))
	out=$tmp/out.txt
	: >"$out"
	ok=1
	log=$tmp/daemon-$cfg.log
	if ! daemon_ready "$cfg"; then
		# not started, or died in an earlier scenario (which then failed): once more
		stop "$(daemon_pid "$cfg")"
		start_daemon "$cfg"
		if ! wait_for daemon_ready "$cfg"; then
			echo "not ok $n - $name: $desc"
			echo "# the daemon does not run with configuration $cfg:"
			diag "$tmp/$cfg.toml" 60
			diag "$log"
			failed=$((failed + 1))
			continue
		fi
	fi
	echo "$tmp/filter-$cfg.sock" >"$tmp/upstream"
	# the hook server reads its script at each request: replace it whole
	cp "$tmp/scripts/$name.json" "$hookscript.new" && mv "$hookscript.new" "$hookscript"
	: >"$record"
	: >"$trace"
	log_from=$(wc -c <"$log" | tr -d ' ')

	set -- -D "SOCK=unix:$tmp/proxy.sock" -D "MTDIR=$mtdir"
	for d in $defines; do
		set -- "$@" -D "$d"
	done
	# shellcheck disable=SC2086 # $limit is a command and its argument, or nothing
	if ! (cd "$tmp" && $limit "$MILTERTEST" "$@" -s "$mtdir/$lua") </dev/null >"$out" 2>&1; then
		ok=0
		echo "# miltertest $lua ($defines) failed:" >"$tmp/why"
		sed 's/^/#   /' "$out" >>"$tmp/why"
	else
		: >"$tmp/why"
	fi
	# let the daemon finish the session it was closing before the trace is read
	sleep 0.05
	if ! kill -0 "$(daemon_pid "$cfg")" 2>/dev/null; then
		ok=0
		echo "# the daemon died" >>"$tmp/why"
	fi
	if ! "$PYTHON3" "$check" check "$name" --record "$record" --trace "$trace" --log "$log" \
		--log-from "$log_from" >>"$tmp/why" 2>&1; then
		ok=0
	fi
	if tail -c +"$((log_from + 1))" "$log" | grep -Eq "$sanitizer_re"; then
		ok=0
		echo "# a sanitizer report in the daemon's log:" >>"$tmp/why"
		tail -c +"$((log_from + 1))" "$log" | grep -E -A 12 "$sanitizer_re" | head -n 40 |
			sed 's/^/#   /' >>"$tmp/why"
	fi
	if [ $ok = 1 ]; then
		echo "ok $n - $name: $desc"
	else
		failed=$((failed + 1))
		echo "not ok $n - $name: $desc"
		cat "$tmp/why"
		echo "# daemon log of this scenario:"
		tail -c +"$((log_from + 1))" "$log" | tail -n 30 | sed 's/^/#   /'
	fi
	[ -s "$tmp/why" ] && [ $ok = 1 ] && cat "$tmp/why"
done <"$tmp/list"

# The last test: every daemon stops on SIGTERM with status 0 (LeakSanitizer and valgrind
# report at exit), and no log holds a sanitizer or memcheck complaint.
n=$((n + 1))
: >"$tmp/why"
for cp in $daemon_pids; do
	pid=${cp#*:}
	kill -TERM "$pid" 2>/dev/null
done
for cp in $daemon_pids; do
	cfg=${cp%%:*} pid=${cp#*:}
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt $((ready_tries * 4)) ]; do
		sleep 0.05
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "# daemon $cfg (pid $pid) still runs after SIGTERM; killing it" >>"$tmp/why"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid"
	rc=$?
	# a daemon that died during a scenario was restarted: that scenario failed already
	[ $rc = 0 ] || echo "# daemon $cfg (pid $pid) exited with status $rc" >>"$tmp/why"
done
daemon_pids=''
for log in "$tmp"/daemon-*.log; do
	[ -e "$log" ] || continue
	if grep -Eq "$sanitizer_re" "$log"; then
		echo "# a sanitizer report in $(basename "$log"):" >>"$tmp/why"
		grep -E -A 12 "$sanitizer_re" "$log" | head -n 40 | sed 's/^/#   /' >>"$tmp/why"
	fi
done
if [ -n "$valgrind" ]; then
	for vlog in "$tmp"/valgrind-*.log; do
		[ -e "$vlog" ] || { echo "# no valgrind log was written" >>"$tmp/why"; break; }
		if ! grep -q 'ERROR SUMMARY: 0 errors' "$vlog" || grep -q 'definitely lost: [1-9]' "$vlog"; then
			echo "# memcheck complains in $(basename "$vlog"):" >>"$tmp/why"
			grep -E 'ERROR SUMMARY|definitely lost|Invalid|uninitialised|==[0-9]+==    (at|by) ' \
				"$vlog" | head -n 40 | sed 's/^/#   /' >>"$tmp/why"
		fi
	done
fi
desc="every daemon exits 0 on SIGTERM, no sanitizer report in its log"
[ -n "$valgrind" ] && desc="$desc, memcheck: 0 errors and no definite leak"
if [ -s "$tmp/why" ]; then
	failed=$((failed + 1))
	echo "not ok $n - $desc"
	cat "$tmp/why"
else
	echo "ok $n - $desc"
fi

[ $failed -eq 0 ] || echo "# $failed of $n scenarios failed"
exit 0
