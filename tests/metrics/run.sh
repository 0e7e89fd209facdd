#!/bin/sh
# run.sh - the /metrics endpoint, scraped with curl while the real daemon serves milter
# sessions (miltertest) to hooks served by tests/lib/hookserver.py
#
# Run by `make check` (automake's TAP driver) with MILTERTEST, PYTHON3, top_srcdir and
# top_builddir in the environment; runs by hand too. Prints TAP. Everything listens on
# loopback (127.0.0.1, ::1) or a unix socket in a private temporary directory; every wait
# is bounded (tests/lib/proc.sh). KEEP_TMP=1 keeps the directory.
#
# What it pins (mtahooks-milter(8), METRICS): sessions_active while a session is held
# open; request counters by hook, stage and action equal to the calls the hook server
# recorded; error kinds; histogram _count equal to the calls; keep-alive connections
# counted; 404, 405, HEAD; an IPv6 listener; a bad or busy [metrics] listen failing at
# start with exit 1; -n never binding; a reload that changes [metrics] listen warning and
# leaving the listener, and hiding a hook it removed; SIGTERM stopping the listener.

set -u

MILTERTEST=${MILTERTEST:-$(command -v miltertest 2>/dev/null || true)}
PYTHON3=${PYTHON3:-$(command -v python3 2>/dev/null || true)}
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
daemon=$top_builddir/src/mtahooks-milter
. "$top_srcdir/tests/lib/proc.sh"

if [ -z "$MILTERTEST" ] || [ ! -x "$MILTERTEST" ]; then
	echo "1..0 # SKIP miltertest not found (Debian package miltertest)"
	exit 0
fi
if [ -z "$PYTHON3" ] || ! command -v curl >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 or curl not found"
	exit 0
fi
if [ ! -x "$daemon" ]; then
	echo "Bail out! $daemon not built"
	exit 1
fi
limit=
command -v timeout >/dev/null 2>&1 && limit="timeout 60"

base=${TMPDIR:-/tmp}
[ ${#base} -gt 60 ] && base=/tmp
tmp=$(mktemp -d "$base/mtmetrics.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }
pids=''

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	# shellcheck disable=SC2086 # one pid per word
	stop $pids
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "# kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
failed=0
# ok COND-STATUS DESCRIPTION - one TAP line from the status of the command just run
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

# diag - a file's last lines as TAP diagnostics
diag() {
	[ -s "$1" ] && tail -n "${2:-20}" "$1" | sed 's/^/#   /'
	return 0
}

# free_port FAMILY-ADDRESS - a port the kernel just gave out on that address, now free
free_port() {
	"$PYTHON3" -c 'import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.bind((sys.argv[1], 0))
print(s.getsockname()[1])' "$1"
}

# scrape URL - the body of GET URL into $tmp/scrape (5 s at most)
scrape() {
	curl -fsS --max-time 5 -o "$tmp/scrape" "$1"
}

# value SERIES - its value in the last scrape ("" when absent); SERIES is matched exactly
value() {
	awk -v s="$1" 'index($0, s " ") == 1 { print substr($0, length(s) + 2); exit }' \
		"$tmp/scrape"
}

# is VALUE WANT DESCRIPTION - a scraped value equals WANT
is() {
	[ "$1" = "$2" ]
	st=$?
	ok $st "$3"
	[ $st -eq 0 ] || echo "#   got '$1', want '$2'"
}

# held_seen URL - a scrape shows at least one active session
held_seen() {
	scrape "$1" && [ "$(value mtahooks_sessions_active)" -ge 1 ] 2>/dev/null
}

# ---- hook server ----------------------------------------------------------------------------
record=$tmp/record.jsonl
cat >"$tmp/script.json" <<'EOF'
{"rules": [
  {"when": {"path": "/bad", "subject": "json"}, "body": "not json"},
  {"when": {"path": "/bad"}, "status": 500, "json": {"action": "accept"}},
  {"when": {"path": "/ok", "stage": "rcpt", "rcpt": "reject@example.com"},
   "json": {"action": "reject"}}
], "default": {"json": {"action": "accept"}}}
EOF
"$PYTHON3" "$top_srcdir/tests/lib/hookserver.py" --port-file "$tmp/port" \
	--script "$tmp/script.json" --record "$record" </dev/null 2>"$tmp/hookserver.log" &
pids="$pids $!"
if ! wait_for test -s "$tmp/port"; then
	echo "Bail out! hook server did not start"
	diag "$tmp/hookserver.log"
	exit 1
fi
hport=$(cat "$tmp/port")

# write_config FILE METRICS-LISTEN MILTER-SOCKET [with-bad] - a configuration
write_config() {
	{
		printf '[milter]\nlisten = "unix:%s"\n\n' "$3"
		[ -n "$2" ] && printf '[metrics]\nlisten = "%s"\n\n' "$2"
		printf '[session.hook."ok"]\nurl = "http://127.0.0.1:%s/ok"\n' "$hport"
		printf 'stages = ["mail", "rcpt"]\n\n'
		if [ "${4:-}" = with-bad ]; then
			printf '[session.hook."bad"]\nurl = "http://127.0.0.1:%s/bad"\n' "$hport"
			printf 'stages = ["data"]\n\n'
			printf '[session.hook."bad".options]\ntempfail-on-error = false\n'
		fi
	} >"$1"
}

echo "1..38"

# ---- the daemon, with metrics on 127.0.0.1 --------------------------------------------------
mport=$(free_port 127.0.0.1)
murl=http://127.0.0.1:$mport/metrics
conf=$tmp/main.toml
write_config "$conf" "127.0.0.1:$mport" "$tmp/m.sock" with-bad
"$daemon" -f -c "$conf" </dev/null 2>"$tmp/daemon.log" &
dpid=$!
pids="$pids $dpid"
wait_for test -S "$tmp/m.sock" && wait_for scrape "$murl"
ok $? "the daemon serves /metrics on 127.0.0.1:$mport"
[ $n -eq 1 ] && [ $failed -eq 0 ] || { diag "$tmp/daemon.log"; echo "Bail out! no daemon"; exit 1; }

curl -fsS --max-time 5 -D "$tmp/headers" -o /dev/null "$murl" &&
	grep -qi '^content-type: text/plain; version=0.0.4' "$tmp/headers"
ok $? "Content-Type is text/plain; version=0.0.4"

is "$(value 'mtahooks_sessions_active')" 0 "no session active before any MTA connects"
grep -q '^# TYPE mtahooks_hook_request_duration_seconds histogram$' "$tmp/scrape" &&
	grep -q '^# HELP mtahooks_hook_requests_total ' "$tmp/scrape"
ok $? "families carry # HELP and # TYPE lines"

# ---- a session held open: sessions_active > 0 while it is -----------------------------------
mt() {
	$limit "$MILTERTEST" -D "SOCK=unix:$tmp/m.sock" -D "MTDIR=$top_srcdir/tests/milter" \
		-D "CASE=$1" -D "HOLD=${2:-3}" -s "$here/metrics.lua" >"$tmp/mt-$1.log" 2>&1
}
mt held 4 &
mtpid=$!
pids="$pids $mtpid"
wait_for held_seen "$murl"
ok $? "sessions_active is 1 or more while a session is held open"
wait "$mtpid"
st=$?
forget "$mtpid"
ok $st "the held session ends cleanly"
[ $st -eq 0 ] || diag "$tmp/mt-held.log"
# on_close runs just after the MTA's side closes: wait for it, bounded
zero_active() { scrape "$murl" && [ "$(value mtahooks_sessions_active)" = 0 ]; }
wait_for zero_active
ok $? "sessions_active is back to 0 once the session closed"

# ---- the counted session --------------------------------------------------------------------
mt mail
st=$?
ok $st "miltertest: two sessions, four messages, one recipient refused"
[ $st -eq 0 ] || diag "$tmp/mt-mail.log"
scrape "$murl"
ok $? "scrape after the sessions"

# What the hook server recorded, by path and stage: the calls the daemon made.
calls() {
	"$PYTHON3" -c 'import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    j = r.get("json") or {}
    if r.get("path") == sys.argv[2] and (j.get("context") or {}).get("stage") == sys.argv[3]:
        n += 1
print(n)' "$record" "$1" "$2"
}
R='mtahooks_hook_requests_total'
is "$(value "$R{hook=\"ok\",stage=\"mail\",action=\"accept\"}")" "$(calls /ok mail)" \
	"ok/mail/accept equals the mail calls the hook server saw"
is "$(calls /ok mail)" 4 "the hook server saw 4 mail calls"
is "$(value "$R{hook=\"ok\",stage=\"rcpt\",action=\"accept\"}")" 3 "ok/rcpt/accept is 3"
is "$(value "$R{hook=\"ok\",stage=\"rcpt\",action=\"reject\"}")" 1 "ok/rcpt/reject is 1"
is "$(calls /ok rcpt)" 4 "the hook server saw 4 rcpt calls (3 accepted + 1 rejected)"
is "$(value "$R{hook=\"bad\",stage=\"data\",action=\"error\"}")" "$(calls /bad data)" \
	"bad/data/error equals the data calls the hook server saw"
is "$(calls /bad data)" 3 "the hook server saw 3 data calls"
is "$(value "$R{hook=\"bad\",stage=\"data\",action=\"accept\"}")" 0 \
	"a failed call is no accept, though the policy let the message through"
E='mtahooks_hook_errors_total'
is "$(value "$E{hook=\"bad\",kind=\"http-status\"}")" 2 "HTTP 500 counted as http-status, twice"
is "$(value "$E{hook=\"bad\",kind=\"not-json\"}")" 1 "a body that is not JSON counted as not-json"
is "$(value "$E{hook=\"ok\",kind=\"http-status\"}")" 0 "the good hook has no error"
H='mtahooks_hook_request_duration_seconds'
is "$(value "${H}_count{hook=\"ok\"}")" 8 "histogram _count equals the ok hook's 8 calls"
is "$(value "${H}_bucket{hook=\"ok\",le=\"+Inf\"}")" 8 "the +Inf bucket equals _count"
is "$(value "${H}_count{hook=\"bad\"}")" 3 "histogram _count equals the bad hook's 3 calls"
is "$(value 'mtahooks_messages_total{result="accept"}')" 3 \
	"three messages reached end of data and were accepted"
is "$(value 'mtahooks_sessions_total')" 3 "three sessions in all"
open_now=$(value 'mtahooks_http_connections_open{hook="ok"}')
opened=$(value 'mtahooks_http_connections_opened_total{hook="ok"}')
[ "${open_now:-0}" -ge 1 ] 2>/dev/null
ok $? "a kept-alive connection to the ok hook is open after the calls (open=$open_now)"
[ "${opened:-0}" -ge 1 ] && [ "${opened:-0}" -le 2 ] 2>/dev/null
ok $? "connections opened to the ok hook ($opened) are at most the 2 sessions: kept alive"

# ---- other paths and methods ----------------------------------------------------------------
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/nope")
is "$code" 404 "/nope is 404"
code=$(curl -s --max-time 5 -o /dev/null -D "$tmp/h405" -w '%{http_code}' -X POST -d x "$murl")
is "$code" 405 "POST /metrics is 405"
grep -qi '^allow: GET, HEAD' "$tmp/h405"
ok $? "the 405 says Allow: GET, HEAD"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -I "$murl")
is "$code" 200 "HEAD /metrics is 200"

# ---- start-time errors ----------------------------------------------------------------------
write_config "$tmp/busy.toml" "127.0.0.1:$mport" "$tmp/busy.sock"
$limit "$daemon" -f -c "$tmp/busy.toml" </dev/null >"$tmp/busy.log" 2>&1
st=$?
[ $st -eq 1 ] && grep -q "\[metrics\] listen 127.0.0.1:$mport: cannot listen" "$tmp/busy.log"
ok $? "a [metrics] listen port in use: a clear error and exit 1 (got $st)"
[ $st -eq 1 ] || diag "$tmp/busy.log"
"$daemon" -n -c "$tmp/busy.toml" >"$tmp/n.log" 2>&1
ok $? "-n never binds: the same busy port checks OK"
write_config "$tmp/badaddr.toml" "localhost:9464" "$tmp/badaddr.sock"
"$daemon" -f -c "$tmp/badaddr.toml" </dev/null >"$tmp/badaddr.log" 2>&1
st=$?
[ $st -eq 1 ] && grep -q "^$tmp/badaddr.toml:5: metrics.listen: invalid address \"localhost:9464\"" \
	"$tmp/badaddr.log"
ok $? "an invalid [metrics] listen: FILE:LINE: KEY: message and exit 1 (got $st)"
[ $st -eq 1 ] || diag "$tmp/badaddr.log"

# ---- IPv6 loopback --------------------------------------------------------------------------
if v6port=$(free_port ::1 2>/dev/null); then
	write_config "$tmp/v6.toml" "[::1]:$v6port" "$tmp/v6.sock"
	"$daemon" -f -c "$tmp/v6.toml" </dev/null 2>"$tmp/v6.log" &
	v6pid=$!
	pids="$pids $v6pid"
	wait_for scrape "http://[::1]:$v6port/metrics" &&
		[ "$(value 'mtahooks_sessions_active')" = 0 ]
	ok $? "a [::1] listener serves /metrics"
	stop "$v6pid"
else
	n=$((n + 1))
	echo "ok $n # SKIP no IPv6 loopback here"
fi

# ---- reload: [metrics] listen cannot move; a removed hook leaves the scrape -----------------
other=$(free_port 127.0.0.1)
write_config "$conf" "127.0.0.1:$other" "$tmp/m.sock"
kill -HUP "$dpid"
reloaded() { scrape "$murl" && [ "$(value 'mtahooks_config_reloads_total{result="success"}')" = 1 ]; }
wait_for reloaded &&
	grep -q "\[metrics\] listen changed to \"127.0.0.1:$other\": a restart is needed" \
		"$tmp/daemon.log"
ok $? "a reload that changes [metrics] listen warns and keeps the old listener"
! grep -q 'hook="bad"' "$tmp/scrape" &&
	[ "$(value "$R{hook=\"ok\",stage=\"mail\",action=\"accept\"}")" = 4 ]
ok $? "after the reload the removed hook is gone and the kept one keeps its counts"

# ---- SIGTERM --------------------------------------------------------------------------------
kill -TERM "$dpid"
wait_long gone "$dpid"
wait "$dpid"
st=$?
forget "$dpid"
! curl -s --max-time 2 -o /dev/null "$murl"
[ $? -eq 0 ] && [ $st -eq 0 ]
ok $? "SIGTERM: the daemon exits 0 and /metrics is closed (exit $st)"
if grep -q 'ERROR: AddressSanitizer\|runtime error:' "$tmp/daemon.log"; then
	diag "$tmp/daemon.log"
	failed=$((failed + 1))
fi
[ $failed -eq 0 ] || diag "$tmp/daemon.log"
exit 0
