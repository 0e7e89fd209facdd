#!/bin/bash
# shellcheck disable=SC2034 # variables read by the sourced tests/mta/lib.sh
# tests/soak/run.sh - many messages through a private Postfix and the bridge: memory stays flat
#
#   [SOAK_COUNT=100000] [SOAK_EVERY=10000] [SOAK_PARALLEL=8] [SOAK_PER_SESSION=50]
#   top_srcdir=... top_builddir=... [PYTHON3=python3] tests/soak/run.sh
#
# Not part of make check or CI: it runs for a long time (about 15 minutes for
# 100 000 messages on two cores). Starts what tests/mta/run.sh starts (the
# hook server, the bridge, the capture server and a private Postfix, with
# tests/mta/lib.sh and postfix.sh), with the bridge asking its hook at every
# stage and the data hook adding a header; then tests/mta/smtpc.py sends
# SOAK_COUNT messages over SOAK_PARALLEL SMTP connections at a time,
# SOAK_PER_SESSION messages per connection, and prints the bridge's VmRSS every
# SOAK_EVERY accepted messages.
#
# Pass (exit 0) when:
#   - every message was accepted, delivered exactly once (Message-IDs at the
#     capture server) and the queue drained;
#   - the bridge logged no error and is still running;
#   - its RSS stayed flat: the last reading is at most the first one after
#     warm-up (the first SOAK_EVERY messages) plus 10 %;
#   - its threads, counted once all sessions are closed, are no more than
#     before the first message plus the hook's connection-pool thread (http.c
#     starts it with the first call), nor its descriptors (plus 2), besides
#     what the pool keeps: at most options.max-connections (8 here)
#     connections to the hook and libcurl's wake-up socket pairs.
# Needs root (Postfix runs as root). The hook server records nothing (its
# record is /dev/null) and the capture server keeps only Message-IDs.

SOAK_DIR=$(cd "$(dirname "$0")" && pwd)
MT_DIR=$(cd "$SOAK_DIR/../mta" && pwd)
: "${top_srcdir:=$(cd "$SOAK_DIR/../.." && pwd)}"
: "${top_builddir:=$top_srcdir/build}"
: "${PYTHON3:=python3}"
: "${SOAK_COUNT:=100000}" "${SOAK_EVERY:=10000}" "${SOAK_PARALLEL:=8}" "${SOAK_PER_SESSION:=50}"
export top_srcdir top_builddir PYTHON3 LC_ALL=C
MT_QUERY=$MT_DIR/query.py
BRIDGE=$top_builddir/src/mtahooks-milter
MT_HOOK_RECORD=/dev/null
MT_BRIDGE_FLAGS=()

# shellcheck source=../mta/lib.sh
. "$MT_DIR/lib.sh"
# shellcheck source=../mta/postfix.sh
. "$MT_DIR/postfix.sh"

[ "$(id -u)" = 0 ] || { echo "soak: needs root to start a private Postfix"; exit 77; }
why=$(mta_check) || { echo "soak: $why"; exit 77; }
[ -x "$BRIDGE" ] || { echo "soak: $BRIDGE is not built"; exit 1; }

trap mt_cleanup EXIT
trap 'exit 130' INT TERM
mt_setup
MT_CAPTURE_ARGS=(--ids "$MT_TMP/delivered.ids")
BRIDGE_KIND=unix
failed=0

# soak_fail - say what went wrong; the run fails at the end
soak_fail() {
	echo "soak: FAIL: $*"
	failed=1
}

POOL_MAX=8 # the hook's options.max-connections (the default): its keep-alive connections

# soak_counts - "threads other hook pairs rss_kb" of the bridge (tests/lib/proccount.py)
soak_counts() {
	"$PYTHON3" "$top_srcdir/tests/lib/proccount.py" "$BRIDGE_PID" "$HOOK_PORT"
}

# soak_settled THREADS OTHER - the bridge is back to at most these threads and
#   other descriptors, and holds no more than the pool's bound of the rest
soak_settled() {
	local c
	read -r -a c <<<"$(soak_counts)"
	[ "${c[0]}" -le "$1" ] && [ "${c[1]}" -le "$2" ] && [ "${c[2]}" -le "$POOL_MAX" ] &&
		[ "${c[3]}" -le $((2 * POOL_MAX)) ]
}

hooks_start || { echo "soak: the hook server did not start"; exit 1; }
hook_script '{"rules": [{"when": {"stage": "data"}, "json": {"action": "accept",
	"modifications": [{"type": "addHeader", "name": "X-Soak", "value": "seen"}]}}],
	"default": {"json": {"action": "accept"}}}'
capture_start || { echo "soak: the capture server did not start"; exit 1; }
bridge_start "$(bridge_config soak "$HOOK_URL" '["connect", "ehlo", "mail", "rcpt", "data"]' true)" ||
	{ echo "soak: the bridge did not start"; exit 1; }
mta_start || { echo "soak: Postfix did not start"; exit 1; }

read -r -a c0 <<<"$(soak_counts)"
echo "soak: $SOAK_COUNT messages, $SOAK_PARALLEL connections at a time, $SOAK_PER_SESSION per connection"
echo "soak: bridge pid $BRIDGE_PID before: threads ${c0[0]}, descriptors ${c0[1]} + ${c0[2]} to the hook + ${c0[3]} in socket pairs, rss_kb=${c0[4]}"

"$PYTHON3" "$MT_DIR/smtpc.py" flood --port "$MTA_PORT" --count "$SOAK_COUNT" \
	--parallel "$SOAK_PARALLEL" --per-session "$SOAK_PER_SESSION" --every "$SOAK_EVERY" \
	--pid "$BRIDGE_PID" --ids "$MT_TMP/accepted.ids" --tag "soak$$" | tee "$MT_TMP/flood.out" ||
	soak_fail "not every message was accepted"

# The queue drains (bounded: ten minutes), then every accepted message arrived once.
for _ in $(seq 40); do
	mta_wait_idle && break
done
pf_idle || soak_fail "the queue did not drain: $(pf_busy_count) messages left"
accepted=$(wc -l <"$MT_TMP/accepted.ids")
delivered=$(wc -l <"$MT_TMP/delivered.ids")
twice=$(sort "$MT_TMP/delivered.ids" | uniq -d | wc -l)
lost=$(sort -u "$MT_TMP/delivered.ids" | comm -23 <(sort -u "$MT_TMP/accepted.ids") - | wc -l)
unknown=$(sort -u "$MT_TMP/delivered.ids" | comm -13 <(sort -u "$MT_TMP/accepted.ids") - | wc -l)
echo "soak: accepted=$accepted delivered=$delivered twice=$twice lost=$lost unknown=$unknown"
[ "$accepted" -eq "$SOAK_COUNT" ] || soak_fail "accepted $accepted of $SOAK_COUNT"
if [ "$delivered" -ne "$accepted" ] || [ "$twice" -ne 0 ] || [ "$lost" -ne 0 ] || [ "$unknown" -ne 0 ]; then
	soak_fail "delivery does not match acceptance"
fi

kill -0 "$BRIDGE_PID" 2>/dev/null || soak_fail "the bridge is not running"
errors=$(grep -c ': error: ' "$BRIDGE_LOG")
[ "$errors" -eq 0 ] || soak_fail "$errors error lines in the bridge's log, e.g. $(grep -m1 ': error: ' "$BRIDGE_LOG")"

# Descriptors and threads back where they were once every session has closed
# (besides the pool thread and what the pool may keep: at most POOL_MAX
# connections; libmilter's surplus idle workers quit within about 10 s,
# tests/load/run.sh).
wait_for 25 soak_settled $((c0[0] + 1)) $((c0[1] + 2)) ||
	soak_fail "threads ${c0[0]} -> $(soak_counts | cut -d' ' -f1), other descriptors ${c0[1]} -> $(soak_counts | cut -d' ' -f2)"
read -r -a c1 <<<"$(soak_counts)"
echo "soak: bridge after: threads ${c1[0]}, descriptors ${c1[1]} + ${c1[2]} to the hook + ${c1[3]} in socket pairs, rss_kb=${c1[4]}"

# RSS: the last reading against the first after warm-up.
rss=$(sed -n 's/^messages=[0-9]* rss_kb=\([0-9]*\).*/\1/p' "$MT_TMP/flood.out")
first=$(echo "$rss" | head -1)
last=$(echo "$rss" | tail -1)
if [ -z "$first" ] || [ "$(echo "$rss" | wc -l)" -lt 2 ]; then
	soak_fail "fewer than two RSS readings (send more than $SOAK_EVERY messages)"
elif [ "$last" -gt $((first + first / 10)) ]; then
	soak_fail "RSS grew: $first kB after warm-up, $last kB at the end (limit $((first + first / 10)))"
else
	echo "soak: RSS flat: $first kB after warm-up, $last kB at the end (limit $((first + first / 10)) kB)"
fi

[ "$failed" -eq 0 ] && echo "soak: PASS"
exit "$failed"
