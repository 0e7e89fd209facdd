# tests/mta/faults.sh - the fault matrix and the accounting (sourced by run.sh; MTA_SET=faults)
# shellcheck shell=bash disable=SC2034,SC2153
#
# The fault matrix: every error kind of PROTOCOL.md section 5 at every stage,
# with tempfail-on-error true and false. One configuration per policy holds a
# hook for each (kind, stage) pair, enabled only for the client address
# 127.0.K.S of that pair (K the kind's number, S the stage's), with the stage
# as its only stage and a 1 s timeout, and after them all a hook "z" at every
# stage that accepts and adds "X-Z-Stage: STAGE". One SMTP session per pair,
# sent from its own address, 20 at a time, by tests/mta/smtpc.py; then
# tests/mta/ledger.py judges each session:
#   tempfail-on-error true:  the stage's 451 4.3.5 (Postfix gives a tempfail at
#     connect or HELO at the next MAIL), nothing delivered, z not asked from
#     that stage on (the chain stopped);
#   false: delivered once, z asked at every stage and its five headers there
#     (the chain went on), nothing of the failed hook's answer applied;
#   both: one error line for the hook, at its stage, with the error's kind and
#     the policy; a hook that got the request got it once (the "close" kind
#     once or twice: libcurl sends a request again when a reused keep-alive
#     connection closes before any answer).
# The kinds: unreachable (nothing listens on the port), close (the hook
# server reads the request and closes), timeout (a listener that never
# accepts: the request is taken in, no answer comes), slow (the answer, a
# reject, comes 0.6 s after the timeout), http4xx (403 with an accept body),
# http5xx (503), notjson, truncated (a Content-Length of 1000, 10 bytes, then
# close), badaction ("bounce"), oversized (8 kB past a 4 kB
# max-response-size), badmod (a good addHeader then one with a space in the
# name: neither is applied), tls (a certificate the bridge does not trust).
# The MTA side: a client that vanishes mid-DATA, RSET after RCPT, a rejected
# recipient then a new transaction, 50 messages in one session (pipelined and
# not). Every message any of them sends goes into a ledger; the last scenario
# accounts for each: delivered once, or tempfailed, rejected, discarded or
# abandoned as intended, nothing lost, nothing twice, nothing unknown.
#
# The scenarios never clear the capture directory: the ledger is checked
# against everything the run delivered, by Message-ID.

FM_KINDS="unreachable close timeout slow http4xx http5xx notjson truncated badaction oversized badmod tls"
FM_STAGES="connect ehlo mail rcpt data"
FM_TIMEOUT=${FM_TIMEOUT:-1s}
FM_PARALLEL=20
FA_FROM=sender@client.mtahooks.test
FA_DOM=dest.mtahooks.test

FAULT_SCENARIOS=()
for fm_policy in tempfail accept; do
	FAULT_SCENARIOS+=("fm_send_$fm_policy|fault matrix, tempfail-on-error $([ $fm_policy = tempfail ] && echo true || echo false): one session per kind and stage sent, the bridge alive")
	for fm_kind in $FM_KINDS; do
		for fm_stage in $FM_STAGES; do
			if [ $fm_policy = tempfail ]; then
				fm_what="451 4.3.5, nothing delivered, chain stopped, logged once"
			else
				fm_what="delivered, next hook applied, logged once"
			fi
			FAULT_SCENARIOS+=("fm_${fm_policy}_${fm_kind}_${fm_stage}|fault $fm_kind at $fm_stage, tempfail-on-error $([ $fm_policy = tempfail ] && echo true || echo false): $fm_what")
			eval "fm_${fm_policy}_${fm_kind}_${fm_stage}() { fm_verdict $fm_policy $fm_kind $fm_stage; }"
		done
	done
done
unset fm_policy fm_kind fm_stage fm_what
FAULT_SCENARIOS+=(
	"fa_vanish|client vanishes mid-DATA: nothing delivered, no data request, the bridge's session ends"
	"fa_rset|RSET after RCPT: nothing of the aborted transaction in the next one"
	"fa_rcpt_rejected|recipients refused by a hook, then RSET and a new MAIL: envelopes kept apart"
	"fa_many|50 messages in one SMTP session, every outcome mixed: each accounted for"
	"fa_many_pipelined|50 messages pipelined in one SMTP session: each accounted for"
	"fa_account|the ledger: every message of the run accounted for, none lost, none twice; every bridge session closed"
)

FA_LEDGER=

# fa_ledger - the run's ledger file (smtpc.py appends one line per transaction)
fa_ledger() {
	[ -n "$FA_LEDGER" ] || FA_LEDGER=$MT_TMP/ledger.jsonl
	echo "$FA_LEDGER"
}

# fa_send NAME SPEC_JSON - run smtpc.py on a spec; results in $MT_TMP/fa/NAME.jsonl
fa_send() {
	local name=$1 dir=$MT_TMP/fa
	mkdir -p "$dir"
	printf '%s\n' "$2" >"$dir/$name.spec.json"
	: >"$dir/$name.jsonl"
	FA_RESULTS=$dir/$name.jsonl
	"$PYTHON3" "$MT_DIR/smtpc.py" send "$dir/$name.spec.json" "$FA_RESULTS" "$(fa_ledger)" \
		>"$dir/$name.out" 2>&1 || fail "smtpc.py failed: $(tail -3 "$dir/$name.out" | tr '\n' '|')"
}

# fa_check - each transaction of the last fa_send is accounted for (MTA idle first)
fa_check() {
	local out
	mta_wait_idle || fail "the MTA queue did not drain: $(mta_queue_summary)"
	out=$("$PYTHON3" "$MT_DIR/ledger.py" check "$FA_RESULTS" "$CAPTURE_DIR") ||
		fail "not accounted for: $(printf '%s\n' "$out" | head -5 | tr '\n' '|')"
}

# fa_result NAME PATH - a value in the last fa_send's result for message NAME (as
#   fa_txn named it); PATH is dotted ("seen", "replies.rcpt.0"); strings bare
fa_result() {
	"$PYTHON3" - "$FA_RESULTS" "<$1.$$@mtahooks.test>" "$2" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["msgid"] == sys.argv[2]:
        try:
            for part in sys.argv[3].split("."):
                r = r[int(part)] if isinstance(r, list) else r[part]
        except (KeyError, IndexError, ValueError):
            break
        print(r if isinstance(r, str) else json.dumps(r, sort_keys=True))
        sys.exit(0)
print("ABSENT")
EOF
}

# fa_eml NAME - the captured file of message NAME, as fa_txn named it (empty when none)
fa_eml() {
	"$PYTHON3" - "$CAPTURE_DIR" "<$1.$$@mtahooks.test>" <<'EOF'
import os, re, sys
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    if name.endswith(".eml") and name[0].isdigit():
        head = open(os.path.join(d, name), "rb").read().split(b"\r\n\r\n", 1)[0].decode("latin-1")
        m = re.search(r"(?im)^message-id:[ \t]*(\S+)", head)
        if m and m.group(1) == sys.argv[2]:
            print(os.path.join(d, name))
            break
EOF
}

# fa_log_errors - error lines the bridge logged after byte OFF
fa_log_errors() {
	tail -c "+$(($1 + 1))" "$BRIDGE_LOG" | grep -E ': error: ' || true
}

# fa_open_sessions OFF - the bridge's sessions that negotiated after byte OFF of
#   its log and have not closed yet (its debug lines "session=N negotiated" and
#   "session=N closed"), space separated
fa_open_sessions() {
	tail -c "+$(($1 + 1))" "$BRIDGE_LOG" | sed -n 's/.*: debug: session=\([0-9]*\) \(negotiated\|closed\).*/\1 \2/p' |
		awk '$2 == "negotiated" { open[$1] = 1 } $2 == "closed" { delete open[$1] }
			END { for (s in open) printf "%s ", s }'
}

# fa_all_closed OFF - every session since byte OFF of the log has closed
fa_all_closed() {
	[ -z "$(fa_open_sessions "$1")" ]
}

# ---- the fault matrix ------------------------------------------------------------

FM_READY=
FM_DEAD_PORT=
FM_HOLE_URL=

# fm_blackhole_start - a TCP listener that never accepts: a connection completes
#   in the kernel's backlog, the request is taken in, no answer ever comes
fm_blackhole_start() {
	local dir=$MT_TMP/blackhole
	mkdir -p "$dir"
	"$PYTHON3" - "$dir/port" <<'EOF' >"$dir/log" 2>&1 &
import os, signal, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(128)
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(tmp, sys.argv[1])
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
for _ in range(36000):     # bounded: an hour at most
    time.sleep(0.1)
EOF
	mt_track $!
	wait_for 10 test -s "$dir/port" || return 1
	FM_HOLE_URL="http://127.0.0.1:$(cat "$dir/port")/timeout"
}

# fm_ready - the servers the matrix needs: the HTTPS hook server, the black hole,
#   a port nobody listens on
fm_ready() {
	[ -n "$FM_READY" ] && return 0
	hooks_start_tls || { fail "the TLS hook server did not start"; return 1; }
	fm_blackhole_start || { fail "the black hole did not start"; return 1; }
	FM_DEAD_PORT=$(free_port 127.0.0.1)
	FM_READY=1
}

# fm_url KIND - where the hook of an error kind is
fm_url() {
	case $1 in
	unreachable) echo "http://127.0.0.1:$FM_DEAD_PORT/unreachable" ;;
	timeout) echo "$FM_HOLE_URL" ;;
	tls) echo "${HOOK_TLS_URL%/hook}/tls" ;;
	*) echo "http://127.0.0.1:$HOOK_PORT/$1" ;;
	esac
}

# fm_index WORD LIST - the 1-based position of WORD in LIST
fm_index() {
	local w i=0
	for w in $2; do
		i=$((i + 1))
		[ "$w" = "$1" ] && { echo "$i"; return 0; }
	done
	return 1
}

# fm_ip KIND STAGE - the client address of a (kind, stage) session
fm_ip() {
	echo "127.0.$(fm_index "$1" "$FM_KINDS").$(fm_index "$2" "$FM_STAGES")"
}

# fm_config POLICY - the matrix configuration (tempfail-on-error true for tempfail)
fm_config() {
	local policy=$1 tf=false kind stage hooks=
	[ "$policy" = tempfail ] && tf=true
	for kind in $FM_KINDS; do
		for stage in $FM_STAGES; do
			hooks+="[session.hook.\"$kind-$stage\"]
url = \"$(fm_url "$kind")\"
stages = [\"$stage\"]
timeout = \"$FM_TIMEOUT\"
enable = \"remote_ip == '$(fm_ip "$kind" "$stage")'\"
[session.hook.\"$kind-$stage\".options]
tempfail-on-error = $tf
max-response-size = \"4kb\"

"
		done
	done
	hooks+="[session.hook.\"z\"]
url = \"http://127.0.0.1:$HOOK_PORT/z\"
stages = [\"connect\", \"ehlo\", \"mail\", \"rcpt\", \"data\"]
timeout = \"10s\""
	bridge_config_hooks "faults-$policy" "$hooks"
}

# fm_script - the hook server's answers: each kind's failure by path, z's accept
fm_script() {
	local stage z=
	for stage in $FM_STAGES; do
		z+="{\"when\": {\"path\": \"/z\", \"stage\": \"$stage\"}, \"json\": {\"action\": \"accept\",
			\"modifications\": [{\"type\": \"addHeader\", \"name\": \"X-Z-Stage\", \"value\": \"$stage\"}]}},"
	done
	hook_script "{\"rules\": [$z
		{\"when\": {\"path\": \"/close\"}, \"mode\": \"close\"},
		{\"when\": {\"path\": \"/slow\"}, \"delay\": 1.6, \"json\": {\"action\": \"reject\",
			\"response\": {\"status\": 550, \"message\": \"a late answer\"},
			\"modifications\": [{\"type\": \"addHeader\", \"name\": \"X-Late\", \"value\": \"1\"}]}},
		{\"when\": {\"path\": \"/http4xx\"}, \"status\": 403, \"json\": {\"action\": \"accept\"}},
		{\"when\": {\"path\": \"/http5xx\"}, \"status\": 503, \"body\": \"Service Unavailable\"},
		{\"when\": {\"path\": \"/notjson\"}, \"body\": \"<html>accept</html>\"},
		{\"when\": {\"path\": \"/truncated\"}, \"mode\": \"truncate\", \"json\": {\"action\": \"accept\"}},
		{\"when\": {\"path\": \"/badaction\"}, \"json\": {\"action\": \"bounce\"}},
		{\"when\": {\"path\": \"/oversized\"}, \"json\": {\"action\": \"accept\"}, \"pad\": 8192},
		{\"when\": {\"path\": \"/badmod\"}, \"json\": {\"action\": \"accept\", \"modifications\": [
			{\"type\": \"addHeader\", \"name\": \"X-Half-Applied\", \"value\": \"yes\"},
			{\"type\": \"addHeader\", \"name\": \"Bad Name\", \"value\": \"x\"}]}}],
		\"default\": {\"status\": 500, \"body\": \"no rule for this path\"}}"
}

# fm_spec POLICY - the smtpc.py spec: one session per (kind, stage)
fm_spec() {
	local policy=$1 kind stage expect=delivered sessions='' sep=''
	[ "$policy" = tempfail ] && expect=tempfailed
	for kind in $FM_KINDS; do
		for stage in $FM_STAGES; do
			sessions+="$sep{\"id\": \"$kind/$stage/$(fm_ip "$kind" "$stage")\",
			\"source\": \"$(fm_ip "$kind" "$stage")\", \"ehlo\": \"fm-$kind-$stage.client.mtahooks.test\",
			\"transactions\": [{\"msgid\": \"fm-$policy-$kind-$stage.$$\", \"scenario\": \"fm_send_$policy\",
			\"from\": \"fm-$kind-$stage@client.mtahooks.test\", \"to\": [\"fm-$kind-$stage@$FA_DOM\"],
			\"subject\": \"fault $kind at $stage, $policy\", \"expect\": \"$expect\"}]}"
			sep=,
		done
	done
	echo "{\"port\": $MTA_PORT, \"parallel\": $FM_PARALLEL, \"timeout\": 60, \"sessions\": [$sessions]}"
}

# fm_send POLICY - send the matrix for a policy once; judge it into $MT_TMP/fa/fm-POLICY.verdicts
fm_send() {
	local policy=$1 rec_off log_off start n
	# Once per run, even when it went wrong: the verdicts say what happened.
	[ -e "$MT_TMP/fa/fm-$policy.sent" ] && return 0
	mkdir -p "$MT_TMP/fa" && : >"$MT_TMP/fa/fm-$policy.sent"
	fm_ready || return 1
	bridge_use "$(fm_config "$policy")"
	fm_script
	mta_wait_idle || fail "the MTA queue was not idle before the matrix: $(mta_queue_summary)"
	rec_off=$(stat -c %s "$HOOK_RECORD" 2>/dev/null || echo 0)
	log_off=$(stat -c %s "$BRIDGE_LOG")
	start=$(date +%s%N)
	fa_send "fm-$policy" "$(fm_spec "$policy")"
	mta_wait_idle || fail "the MTA queue did not drain: $(mta_queue_summary)"
	diag "fault matrix, $policy: $(wc -l <"$FA_RESULTS") sessions in $((($(date +%s%N) - start) / 1000000)) ms"
	"$PYTHON3" "$MT_DIR/ledger.py" matrix "$FA_RESULTS" "$CAPTURE_DIR" "$HOOK_RECORD" "$rec_off" \
		"$BRIDGE_LOG" "$log_off" "$policy" >"$MT_TMP/fa/fm-$policy.verdicts" 2>&1
	n=$(($(echo "$FM_KINDS" | wc -w) * $(echo "$FM_STAGES" | wc -w)))
	[ "$(wc -l <"$FA_RESULTS")" -eq "$n" ] || fail "$(wc -l <"$FA_RESULTS") results for $n sessions"
	bridge_alive
}

# fm_postfix - the matrix's expected replies are Postfix's: skip with another MTA
fm_postfix() {
	[ "$(mta_name)" = postfix ] && return 0
	MT_SKIP="the fault matrix expects Postfix's replies (MTA-NOTES.md)"
	return 1
}

fm_send_tempfail() {
	fm_postfix && fm_send tempfail
}

fm_send_accept() {
	fm_postfix && fm_send accept
}

# fm_verdict POLICY KIND STAGE - the judgement of one session of the matrix
fm_verdict() {
	local policy=$1 kind=$2 stage=$3 line
	fm_postfix || return
	fm_send "$policy"
	line=$(grep -F "$kind/$stage/" "$MT_TMP/fa/fm-$policy.verdicts" 2>/dev/null)
	case $line in
	*" ok") ;;
	"") fail "no verdict for $kind at $stage: $(head -3 "$MT_TMP/fa/fm-$policy.verdicts" 2>/dev/null | tr '\n' '|')" ;;
	*) fail "${line#* not ok: }" ;;
	esac
}

# ---- the MTA side --------------------------------------------------------------

FA_OBS_CONFIG=

# fa_obs_config - one hook "obs" at every stage (the hook server scripts it)
fa_obs_config() {
	[ -n "$FA_OBS_CONFIG" ] || FA_OBS_CONFIG=$(bridge_config_hooks observe "[session.hook.\"obs\"]
url = \"http://127.0.0.1:$HOOK_PORT/obs\"
stages = [\"connect\", \"ehlo\", \"mail\", \"rcpt\", \"data\"]
timeout = \"$FM_TIMEOUT\"
[session.hook.\"obs\".options]
tempfail-on-error = true")
	echo "$FA_OBS_CONFIG"
}

# fa_fresh - the observing configuration, the MTA idle, the record marked
fa_fresh() {
	bridge_use "$(fa_obs_config)"
	mta_wait_idle || fail "the MTA queue was not idle before the scenario: $(mta_queue_summary)"
	hook_mark
	FA_LOG_OFF=$(stat -c %s "$BRIDGE_LOG")
}

# fa_txn MSGID FROM TO EXPECT [EXTRA_JSON] - one transaction of a spec
fa_txn() {
	echo "{\"msgid\": \"$1.$$\", \"scenario\": \"$FA_SCENARIO\", \"from\": \"$2\", \"to\": [$3],
		\"subject\": \"$1\", \"expect\": \"$4\"${5:+, $5}}"
}

# fa_session ID TXNS [PIPELINE] - a one-session spec
fa_session() {
	echo "{\"port\": $MTA_PORT, \"parallel\": 1, \"timeout\": 60, \"sessions\": [
		{\"id\": \"$1\", \"pipeline\": ${3:-false}, \"transactions\": [$2]}]}"
}

fa_vanish() {
	FA_SCENARIO=fa_vanish
	fa_fresh
	hook_script '{"default": {"json": {"action": "accept"}}}'
	fa_send vanish "$(fa_session vanish \
		"$(fa_txn vanish "vanish@client.mtahooks.test" "\"vanish@$FA_DOM\"" abandoned \
			'"abort": "vanish-in-data", "body": "'"$(printf 'line of the body %04d\\r\\n' $(seq 200) | tr -d '\n')"'"')")"
	expect "what the client saw" "$(fa_result vanish seen)" vanished
	# The MTA ends the milter session, and the bridge frees it (bounded wait).
	wait_for 10 fa_all_closed "$FA_LOG_OFF" ||
		fail "bridge sessions still open after the client went: $(fa_open_sessions "$FA_LOG_OFF")"
	# A following message on a new connection is not disturbed.
	fa_send vanish-next "$(fa_session vanish-next \
		"$(fa_txn vanish-next "$FA_FROM" "\"vanish-next@$FA_DOM\"" delivered)")"
	fa_check
	expect "hook stages of the two sessions" "$(rec_stages)" \
		"connect ehlo mail rcpt connect ehlo mail rcpt data"
	expect "the data request is the second message's" "$(rec data envelope.from.address)" "\"$FA_FROM\""
	expect "errors logged" "$(fa_log_errors "$FA_LOG_OFF")" ""
	if [ "$(mta_name)" = postfix ]; then
		mta_log_tail 200 | grep -q 'lost connection after DATA' ||
			fail "Postfix did not log 'lost connection after DATA'"
	fi
	bridge_alive
}

fa_rset() {
	local eml
	FA_SCENARIO=fa_rset
	fa_fresh
	# Whatever the hook says about the first transaction must die with it.
	hook_script "{\"rules\": [
		{\"when\": {\"stage\": \"mail\", \"from\": \"aborted@client.mtahooks.test\"}, \"json\": {\"action\": \"accept\",
			\"modifications\": [{\"type\": \"addHeader\", \"name\": \"X-Aborted-Mail\", \"value\": \"1\"},
			{\"type\": \"changeFrom\", \"value\": \"changed@client.mtahooks.test\"}]}},
		{\"when\": {\"stage\": \"rcpt\", \"rcpt\": \"aborted@$FA_DOM\"}, \"json\": {\"action\": \"accept\",
			\"modifications\": [{\"type\": \"addHeader\", \"name\": \"X-Aborted-Rcpt\", \"value\": \"1\"},
			{\"type\": \"addRecipient\", \"value\": \"added@$FA_DOM\"}]}}],
		\"default\": {\"json\": {\"action\": \"accept\"}}}"
	fa_send rset "$(fa_session rset "$(fa_txn rset-aborted "aborted@client.mtahooks.test" \
		"\"aborted@$FA_DOM\"" aborted '"abort": "rset-after-rcpt"'),
		$(fa_txn rset-next "$FA_FROM" "\"next@$FA_DOM\"" delivered)")"
	fa_check
	expect "the RSET reply" "$(fa_result rset-aborted replies.rset)" "250 2.0.0 Ok"
	expect "hook stages" "$(rec_stages)" "connect ehlo mail rcpt mail rcpt data"
	expect "envelope.to at the second rcpt" "$(rec rcpt:2 envelope.to)" \
		"[{\"address\":\"next@$FA_DOM\"}]"
	expect "envelope.from at data" "$(rec data envelope.from.address)" "\"$FA_FROM\""
	eml=$(fa_eml rset-next)
	[ -n "$eml" ] || return
	expect "headers from the aborted transaction" \
		"$(mail_named "$eml" X-Aborted-Mail)$(mail_named "$eml" X-Aborted-Rcpt)" '[][]'
	expect "errors logged" "$(fa_log_errors "$FA_LOG_OFF")" ""
	bridge_alive
}

fa_rcpt_rejected() {
	local eml
	FA_SCENARIO=fa_rcpt_rejected
	fa_fresh
	hook_script "{\"rules\": [
		{\"when\": {\"stage\": \"rcpt\", \"rcpt\": \"refuse@$FA_DOM\"}, \"json\": {\"action\": \"reject\",
			\"response\": {\"status\": 550, \"enhancedStatus\": \"5.1.1\", \"message\": \"No such user\"}}},
		{\"when\": {\"stage\": \"mail\", \"from\": \"refused@client.mtahooks.test\"}, \"json\": {\"action\": \"accept\",
			\"modifications\": [{\"type\": \"addHeader\", \"name\": \"X-Refused-Txn\", \"value\": \"1\"}]}}],
		\"default\": {\"json\": {\"action\": \"accept\"}}}"
	# One recipient of two refused: the other gets it. Then the only recipient
	# refused (the client sends RSET). Then a plain transaction.
	fa_send rcpt-rejected "$(fa_session rcpt-rejected "$(fa_txn rr-partial "$FA_FROM" \
		"\"refuse@$FA_DOM\", \"keep@$FA_DOM\"" delivered "\"deliver_to\": [\"keep@$FA_DOM\"]"),
		$(fa_txn rr-refused "refused@client.mtahooks.test" "\"refuse@$FA_DOM\"" rejected),
		$(fa_txn rr-next "$FA_FROM" "\"next@$FA_DOM\"" delivered)")"
	fa_check
	expect "the refusal the client saw" "$(fa_result rr-refused replies.rcpt.0)" "550 5.1.1 No such user"
	expect "the partial refusal" "$(fa_result rr-partial replies.rcpt)" '["550 5.1.1 No such user", "250 2.1.5 Ok"]'
	expect "envelope.to at the first data" "$(rec data:1 envelope.to)" "[{\"address\":\"keep@$FA_DOM\"}]"
	expect "envelope.to at the second data" "$(rec data:2 envelope.to)" "[{\"address\":\"next@$FA_DOM\"}]"
	expect "envelope.from at the second data" "$(rec data:2 envelope.from.address)" "\"$FA_FROM\""
	eml=$(fa_eml rr-next)
	[ -n "$eml" ] && expect "header from the refused transaction" "$(mail_named "$eml" X-Refused-Txn)" '[]'
	expect "errors logged" "$(fa_log_errors "$FA_LOG_OFF")" ""
	bridge_alive
}

# fa_many_spec PIPELINE TAG - 50 transactions in one session; the sender says what
#   the hook does: accept, reject at data, tempfail at rcpt, discard at data, or a
#   hook error at data (tempfail-on-error true)
fa_many_spec() {
	local i kind expect txns='' sep=''
	for i in $(seq 0 49); do
		case $((i % 5)) in
		0) kind=accept expect=delivered ;;
		1) kind=reject expect=rejected ;;
		2) kind=tempfail expect=tempfailed ;;
		3) kind=discard expect=discarded ;;
		4) kind=error expect=tempfailed ;;
		esac
		txns+="$sep$(fa_txn "$2-$i" "many-$kind@client.mtahooks.test" "\"many-$i@$FA_DOM\"" $expect)"
		sep=,
	done
	fa_session "$2" "$txns" "$1"
}

# fa_many_script - the hook answers fa_many_spec relies on
fa_many_script() {
	hook_script '{"rules": [
		{"when": {"stage": "data", "from": "many-reject@client.mtahooks.test"}, "json": {"action": "reject",
			"response": {"status": 554, "enhancedStatus": "5.7.1", "message": "Refused by the hook"}}},
		{"when": {"stage": "rcpt", "from": "many-tempfail@client.mtahooks.test"}, "json": {"action": "reject",
			"response": {"status": 450, "enhancedStatus": "4.2.1", "message": "Try later"}}},
		{"when": {"stage": "data", "from": "many-discard@client.mtahooks.test"}, "json": {"action": "discard"}},
		{"when": {"stage": "data", "from": "many-error@client.mtahooks.test"}, "body": "not JSON"}],
		"default": {"json": {"action": "accept", "modifications": [
			{"type": "addHeader", "name": "X-Hook-Seen", "value": "yes"}]}}}'
}

# fa_many_run PIPELINE TAG
fa_many_run() {
	local errors
	fa_fresh
	fa_many_script
	fa_send "$2" "$(fa_many_spec "$1" "$2")"
	fa_check
	expect "messages the client saw queued" \
		"$(grep -c '"seen": "queued"' "$FA_RESULTS")" 20
	expect "data requests (rejected at rcpt: none)" \
		"$("$PYTHON3" "$MT_QUERY" stages "$HOOK_RECORD" "$MT_REC_OFF" | tr ' ' '\n' | grep -c '^data$')" 40
	# The hook error is logged once per message, and nothing else is.
	errors=$(fa_log_errors "$FA_LOG_OFF")
	expect "error lines" "$(printf '%s\n' "$errors" | grep -c 'hook=obs stage=data .* error=not-json ')" 10
	expect "other error lines" "$(printf '%s\n' "$errors" | grep -vc 'error=not-json ')" 0
	bridge_alive
}

fa_many() {
	FA_SCENARIO=fa_many
	fa_many_run false many
}

fa_many_pipelined() {
	FA_SCENARIO=fa_many_pipelined
	fa_many_run true many-pipe
}

fa_account() {
	local out
	if [ ! -s "$(fa_ledger)" ]; then
		fail "the ledger is empty: no scenario sent anything"
		return
	fi
	mta_wait_idle || fail "the MTA queue did not drain: $(mta_queue_summary)"
	[ -z "$(mta_held_ids)" ] || fail "held messages: $(mta_held_ids | tr '\n' ' ')"
	# Every milter session of the run ended and was freed.
	grep -q ': debug: session=[0-9]* negotiated' "$BRIDGE_LOG" ||
		fail "no session lines in the bridge's log (is it at -v -v?)"
	wait_for 10 fa_all_closed 0 || fail "bridge sessions never closed: $(fa_open_sessions 0)"
	out=$("$PYTHON3" "$MT_DIR/ledger.py" account "$(fa_ledger)" "$CAPTURE_DIR" "$HOOK_RECORD") ||
		fail "not accounted for: $(printf '%s\n' "$out" | head -8 | tr '\n' '|')"
	diag "$(printf '%s\n' "$out" | tail -1 | sed 's/^# //')"
}
