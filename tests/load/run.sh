#!/bin/bash
# tests/load/run.sh - a thousand concurrent milter sessions against a slow hook, as TAP
#
#   [LOAD_SESSIONS=1000] top_srcdir=... top_builddir=... [PYTHON3=python3] tests/load/run.sh
#
# Run by make check. Starts the scripted hook server (tests/lib/hookserver.py)
# answering every request after 100 ms, and the bridge on a unix socket with
# one hook at every stage; tests/load/milterc.py then opens LOAD_SESSIONS milter
# sessions at once (all negotiated before any goes on) and plays one message in
# each, whose recipient decides the reply it must get (see milterc.py). Twice,
# to tell a leak (grows every round) from a cache (stays at its bound).
#
# The bridge's threads (/proc/PID/task) and descriptors (/proc/PID/fd) are
# counted at start, after a warm-up of 8 sessions and after each round, once
# every session has closed (a bounded settle of at most SETTLE seconds):
#   threads:     back to the count after the warm-up (which has started the
#                hook's connection-pool thread, http.c). Debian's libmilter is built with
#                its pool of workers (_FFR_WORKERS_POOL): one controller thread
#                polls the idle sessions, and a worker thread serves a session
#                only while it handles a command, started when none is idle;
#                so while a thousand sessions wait for a slow hook there are a
#                thousand workers, and afterwards each surplus one quits, the
#                last ones when their 10 s wait for work runs out;
#   descriptors: back to the warm-up count + 2, not counting what the hook's
#                connection pool holds: at most options.max-connections
#                (POOL_MAX) keep-alive TCP connections to the hook, and
#                libcurl's wake-up socket pairs (counted with a generous
#                bound of two per connection);
#   round two ends with no more of either than round one.
# RSS is printed, not judged (tests/soak judges memory): a burst of a thousand
# concurrent sessions leaves glibc's malloc holding about 110 MB of freed
# arena memory, of which each round touches a little more, while the bytes in
# use stay at about 1.3 MB round after round (malloc_stats, observed).
# Each session needs a descriptor in the bridge, in the client and in the hook
# server (two in the bridge while its hook call runs): the soft limit of open
# files is raised to 4 x LOAD_SESSIONS + 256 when lower (the hard limit allows
# it, or the test is skipped), and the plan says so.

LOAD_DIR=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$LOAD_DIR/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PYTHON3:=python3}"
: "${LOAD_SESSIONS:=1000}"
BRIDGE=$top_builddir/src/mtahooks-milter
POOL_MAX=256 # the hook's options.max-connections below
SETTLE=25 # seconds: libmilter's idle workers wait 10 s for work before they quit
N=0
FAILED=0

# ok COND NAME [DIAG] - one TAP line
ok() {
	N=$((N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $N - $2"
	else
		FAILED=$((FAILED + 1))
		echo "not ok $N - $2"
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
	fi
}

command -v "$PYTHON3" >/dev/null 2>&1 || { echo "1..0 # SKIP $PYTHON3 not found"; exit 0; }
[ -x "$BRIDGE" ] || { echo "Bail out! $BRIDGE is not built"; exit 1; }

need=$((4 * LOAD_SESSIONS + 256))
soft=$(ulimit -Sn)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
	hard=$(ulimit -Hn)
	if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
		echo "1..0 # SKIP the hard limit of open files ($hard) is below the $need this needs"
		exit 0
	fi
	ulimit -Sn "$need" || { echo "1..0 # SKIP cannot raise the open-file limit to $need"; exit 0; }
	limit_note="raised the soft open-file limit from $soft to $need"
else
	limit_note="open-file limit $soft (no need to raise it)"
fi

echo "1..8"
echo "# $limit_note"

base=${TMPDIR:-/tmp}
[ ${#base} -gt 60 ] && base=/tmp
TMP=$(mktemp -d "$base/mtload.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }
PIDS=()

# cleanup - stop what we started (by PID), remove the directory unless KEEP_TMP
cleanup() {
	local pid _
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS CMD... - poll every 0.1 s
wait_for() {
	local s=$1 _
	shift
	for _ in $(seq $((s * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# The hook: 100 ms for every answer; by recipient, a reject at data, a tempfail
# at rcpt, or an accept adding a header (milterc.py knows which to expect).
cat >"$TMP/script.json" <<'EOF'
{"rules": [
 {"when": {"stage": "data", "rcpt": "load-0@dest.mtahooks.test"}, "delay": 0.1,
  "json": {"action": "reject", "response": {"status": 550, "enhancedStatus": "5.7.1", "message": "load refused"}}},
 {"when": {"stage": "rcpt", "rcpt": "load-1@dest.mtahooks.test"}, "delay": 0.1,
  "json": {"action": "reject", "response": {"status": 451, "enhancedStatus": "4.7.1", "message": "load later"}}},
 {"when": {"stage": "data"}, "delay": 0.1,
  "json": {"action": "accept", "modifications": [{"type": "addHeader", "name": "X-Load", "value": "seen"}]}}],
 "default": {"delay": 0.1, "json": {"action": "accept"}}}
EOF
"$PYTHON3" "$top_srcdir/tests/lib/hookserver.py" --port-file "$TMP/port" --script "$TMP/script.json" \
	--record "$TMP/record.jsonl" --listen 127.0.0.1 >"$TMP/hookserver.log" 2>&1 &
PIDS+=($!)
wait_for 10 test -s "$TMP/port" || { echo "Bail out! the hook server did not start"; exit 1; }
HOOK_PORT=$(cat "$TMP/port")

cat >"$TMP/load.toml" <<EOF
[milter]
listen = "unix:$TMP/milter.sock"

[session.hook."load"]
url = "http://127.0.0.1:$HOOK_PORT/load"
stages = ["connect", "ehlo", "mail", "rcpt", "data"]
timeout = "30s"

# A thousand sessions wait on a 100 ms hook at once: the pool must let that
# many calls run together, or they queue for a free connection and time out
# (max-connections caps calls in flight; the default 8 serves 80 a second).
[session.hook."load".options]
max-connections = $POOL_MAX
EOF
"$BRIDGE" -f -c "$TMP/load.toml" 2>"$TMP/bridge.log" &
BRIDGE_PID=$!
PIDS+=("$BRIDGE_PID")
wait_for 10 test -S "$TMP/milter.sock" || { echo "Bail out! the bridge did not start: $(tail -3 "$TMP/bridge.log")"; exit 1; }

# counts - "threads other hook pairs rss_kb" of the bridge (tests/lib/proccount.py)
counts() {
	"$PYTHON3" "$top_srcdir/tests/lib/proccount.py" "$BRIDGE_PID" "$HOOK_PORT"
}

# settled THREADS OTHER - the bridge is back to at most these threads and other
#   descriptors, and holds no more than the pool's bound of the rest
settled() {
	local c
	read -r -a c <<<"$(counts)"
	[ "${c[0]}" -le "$1" ] && [ "${c[1]}" -le "$2" ] && [ "${c[2]}" -le "$POOL_MAX" ] &&
		[ "${c[3]}" -le $((2 * POOL_MAX)) ]
}

# round NAME SESSIONS - run milterc.py; sets RESULT (its JSON summary)
round() {
	"$PYTHON3" "$LOAD_DIR/milterc.py" --socket "unix:$TMP/milter.sock" --sessions "$2" \
		--timeout 60 --pid "$BRIDGE_PID" --result "$TMP/$1.json" >"$TMP/$1.out" 2>&1
	RESULT=$(cat "$TMP/$1.json" 2>/dev/null || tail -5 "$TMP/$1.out")
}

# field KEY - a value of RESULT
field() {
	printf '%s' "$RESULT" | "$PYTHON3" -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print(json.dumps(v, sort_keys=True) if not isinstance(v, (int, float, str)) else v)' "$1" 2>/dev/null
}

read -r -a start <<<"$(counts)"
round warmup 8
[ "$(field ok)" = 8 ] || echo "# the warm-up went wrong: $RESULT"
# (the warm-up starts one more thread for good: the hook's connection pool)
wait_for "$SETTLE" settled $((start[0] + 1)) 1000000 >/dev/null
read -r -a base <<<"$(counts)"
echo "# bridge at start: threads ${start[0]}; after warm-up: threads ${base[0]}, descriptors ${base[1]} + ${base[2]} to the hook + ${base[3]} in socket pairs, rss ${base[4]} kB"

lines0=$(wc -l <"$TMP/record.jsonl")
round round1 "$LOAD_SESSIONS"
echo "# round 1: $(field elapsed_s) s, peak $(field peak_threads) bridge threads, outcomes $(field outcomes)"
ok "$([ "$(field all_open_together)" = True ] && [ "$(field negotiated)" = "$LOAD_SESSIONS" ]; echo $?)" \
	"$LOAD_SESSIONS milter sessions open at once, every one negotiated" "$RESULT"
ok "$([ "$(field ok)" = "$LOAD_SESSIONS" ] && [ "$(field wrong_count)" = 0 ]; echo $?)" \
	"every session got the reply its recipient calls for: $(field want)" "$(field wrong)"
# connect, ehlo, mail, rcpt for every session; data for those not tempfailed at rcpt
want_req=$((LOAD_SESSIONS * 4 + LOAD_SESSIONS - (LOAD_SESSIONS + 2) / 4))
got_req=$(($(wc -l <"$TMP/record.jsonl") - lines0))
ok "$([ "$got_req" = "$want_req" ]; echo $?)" "the hook was asked once per stage of each session ($want_req requests)" \
	"the hook server recorded $got_req requests"

wait_for "$SETTLE" settled "${base[0]}" $((base[1] + 2))
read -r -a after1 <<<"$(counts)"
echo "# bridge after round 1: threads ${after1[0]}, descriptors ${after1[1]} + ${after1[2]} to the hook + ${after1[3]} in socket pairs, rss ${after1[4]} kB"
ok "$([ "${after1[0]}" -le "${base[0]}" ]; echo $?)" \
	"threads back to ${base[0]} (the count after the warm-up) once the sessions closed" "threads: ${after1[0]}"
ok "$([ "${after1[1]}" -le $((base[1] + 2)) ] && [ "${after1[2]}" -le "$POOL_MAX" ] &&
	[ "${after1[3]}" -le $((2 * POOL_MAX)) ]; echo $?)" \
	"descriptors back to ${base[1]} (+2), besides at most $POOL_MAX pooled connections and their pairs" \
	"other descriptors ${after1[1]}, hook connections ${after1[2]}, socket pair ends ${after1[3]}"

round round2 "$LOAD_SESSIONS"
echo "# round 2: $(field elapsed_s) s, peak $(field peak_threads) bridge threads"
ok "$([ "$(field ok)" = "$LOAD_SESSIONS" ] && [ "$(field wrong_count)" = 0 ] && [ "$(field all_open_together)" = True ]; echo $?)" \
	"a second round of $LOAD_SESSIONS: every session got its reply" "$(field wrong)"
wait_for "$SETTLE" settled "${after1[0]}" "${after1[1]}"
read -r -a after2 <<<"$(counts)"
echo "# bridge after round 2: threads ${after2[0]}, descriptors ${after2[1]} + ${after2[2]} to the hook + ${after2[3]} in socket pairs, rss ${after2[4]} kB"
ok "$([ "${after2[0]}" -le "${after1[0]}" ] && [ "${after2[1]}" -le "${after1[1]}" ] &&
	[ "${after2[2]}" -le "${after1[2]}" ] && [ "${after2[3]}" -le "${after1[3]}" ]; echo $?)" \
	"nothing grew in the second round (threads, descriptors, hook connections)" \
	"round 1: ${after1[*]}; round 2: ${after2[*]}"

errors=$(grep -c ': error: ' "$TMP/bridge.log")
ok "$(kill -0 "$BRIDGE_PID" 2>/dev/null && [ "$errors" = 0 ]; echo $?)" \
	"the bridge still runs and logged no error" "$(grep -m3 ': error: ' "$TMP/bridge.log"; tail -3 "$TMP/bridge.log")"

[ "$FAILED" -eq 0 ]
