# tests/mta/lib.sh - what every MTA driver and scenario shares (sourced by run.sh)
# shellcheck shell=bash disable=SC2034,SC2154
#
# TAP output, bounded waits, free ports, and the three helpers around the MTA:
# the scripted hook server (tests/lib/hookserver.py), the bridge under test
# (mtahooks-milter) and the capture server (tests/mta/capture.py) that stands
# in for the next hop. A driver (postfix.sh or sendmail.sh) starts the MTA
# itself; scenarios.sh only calls the functions below and the driver's mta_*.
#
# Variables set here and used by scenarios:
#   MT_TMP       private work directory (mktemp -d), removed at exit
#   HOOK_PORT    the hook server's port;  HOOK_URL its URL
#   CAPTURE_DIR  where capture.py stores NNNN.eml + NNNN.json
#   BRIDGE_KIND  the socket kind the MTA reaches the bridge by: unix, inet or inet6
#   BRIDGE_SOCK  the bridge's unix socket (kind unix)
#   BRIDGE_PORT  the bridge's TCP port on 127.0.0.1 or ::1 (kinds inet, inet6)
#   SWAKS_OUT    transcript of the last `send`; SWAKS_RC its exit status
#
# Scenario results: a scenario calls expect*/fail, which collect failure
# messages; tap_result then prints "ok"/"not ok" and the messages as "# ".

# Settings a caller may give before sourcing (tests/soak does):
#   MT_HOOK_RECORD    the hook server's record file (default $MT_TMP/hook/record.jsonl)
#   MT_CAPTURE_ARGS   extra arguments for capture.py (an array)
#   MT_BRIDGE_FLAGS   the bridge's verbosity flags (an array; default -v -v)
[ -n "${MT_BRIDGE_FLAGS+set}" ] || MT_BRIDGE_FLAGS=(-v -v)
[ -n "${MT_CAPTURE_ARGS+set}" ] || MT_CAPTURE_ARGS=()

MT_TAP_N=0
MT_TAP_FAILED=0
MT_FAILS=()
MT_PIDS=()
MT_REC_OFF=0

# ---- TAP -------------------------------------------------------------------

# tap_plan - print the plan line
tap_plan() {
	echo "1..$1"
}

# diag - print a TAP comment, one per line of its arguments
diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# fail - record a failure of the running scenario
fail() {
	MT_FAILS+=("$*")
}

# tap_begin - start a scenario: forget earlier failures, mark the hook record
tap_begin() {
	MT_FAILS=()
	hook_mark
}

# tap_result - print the result line of the scenario that just ran
tap_result() {
	local name=$1 msg
	MT_TAP_N=$((MT_TAP_N + 1))
	if [ ${#MT_FAILS[@]} -eq 0 ]; then
		echo "ok $MT_TAP_N - $name"
		return 0
	fi
	MT_TAP_FAILED=$((MT_TAP_FAILED + 1))
	echo "not ok $MT_TAP_N - $name"
	for msg in "${MT_FAILS[@]}"; do
		diag "$msg"
	done
	return 1
}

# tap_skip - print a skipped result line
tap_skip() {
	MT_TAP_N=$((MT_TAP_N + 1))
	echo "ok $MT_TAP_N - $1 # SKIP $2"
}

# run_scenario - run one scenario function and print its TAP line
#   A scenario that cannot run here sets MT_SKIP to the reason. A bridge that
#   died during the scenario fails it and is started again for the next one.
run_scenario() {
	local name=$1 fn=$2
	MT_SKIP=
	tap_begin
	"$fn"
	if [ -n "$MT_SKIP" ]; then
		tap_skip "$name" "$MT_SKIP"
		return 0
	fi
	if [ -n "$BRIDGE_PID" ] && ! kill -0 "$BRIDGE_PID" 2>/dev/null; then
		fail "the bridge died; its log ends with: $(tail -5 "$BRIDGE_LOG" | tr '\n' '|')"
		bridge_start "$BRIDGE_MAIN_CONFIG" >/dev/null
	fi
	tap_result "$name"
}

# bail_out - give up the whole run (setup failed)
bail_out() {
	echo "Bail out! $*"
	exit 1
}

# ---- assertions (they never exit; they record) -------------------------------

# expect - actual equals expected
expect() {
	local what=$1 got=$2 want=$3
	[ "$got" = "$want" ] || fail "$what: got '$got', want '$want'"
}

# expect_match - actual matches an extended regular expression
expect_match() {
	local what=$1 got=$2 re=$3
	printf '%s' "$got" | grep -Eq -- "$re" || fail "$what: got '$got', want /$re/"
}

# expect_cmp - two files are byte-identical (diagnostic shows both, escaped)
expect_cmp() {
	local what=$1 got=$2 want=$3
	cmp -s "$got" "$want" && return 0
	fail "$what: bytes differ; got $(mt_escape "$got"), want $(mt_escape "$want")"
}

# mt_escape - a file's bytes as one printable line (first 300 bytes)
mt_escape() {
	head -c 300 "$1" 2>/dev/null | od -An -c | tr -s ' \n' ' '
}

# ---- processes, ports, waits ---------------------------------------------------

# mt_track - remember a PID so cleanup kills it (only what we started)
mt_track() {
	MT_PIDS+=("$1")
}

# mt_kill - stop one PID we started: TERM, bounded wait, then KILL
mt_kill() {
	local pid=$1 _
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# wait_for - poll a command every 0.1 s until it succeeds or SECONDS pass
wait_for() {
	local seconds=$1 _
	shift
	for _ in $(seq $((seconds * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# free_port - a TCP port nobody listens on at the moment, on ADDR
free_port() {
	"$PYTHON3" - "${1:-127.0.0.1}" <<'EOF'
import socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.bind((addr, 0))
print(s.getsockname()[1])
s.close()
EOF
}

# tcp_listening - something listens on TCP PORT (4 or 6: which table), read from
#   the kernel's table, not by connecting: a connection to an MTA would run the
#   milter's connect stage, and one to the bridge would start a milter session
tcp_listening() {
	local table=/proc/net/tcp
	[ "$2" = 6 ] && table=/proc/net/tcp6
	"$PYTHON3" - "$1" "$table" <<'EOF'
import sys
port = "%04X" % int(sys.argv[1])
with open(sys.argv[2]) as f:
    rows = [line.split() for line in f.readlines()[1:]]
sys.exit(0 if any(r[1].endswith(":" + port) and r[3] == "0A" for r in rows) else 1)
EOF
}

# have_ipv6 - the ::1 loopback can be bound
have_ipv6() {
	"$PYTHON3" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null
}

# mt_setup - the private work directory, reachable by the MTA's unprivileged user
mt_setup() {
	MT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mtahooks-mta.XXXXXX") || bail_out "mktemp failed"
	chmod 755 "$MT_TMP"
	mkdir -p "$MT_TMP/msg" "$MT_TMP/swaks" "$MT_TMP/hook" "$MT_TMP/capture" "$MT_TMP/bridge"
	chmod 755 "$MT_TMP/bridge"
	# The bridge's unix socket and the TLS files live where no directory on
	# their path is writable by all: Sendmail refuses them under /tmp as unsafe.
	MT_SAFE=$(mktemp -d /run/mtahooks-mta.XXXXXX 2>/dev/null) || MT_SAFE=$MT_TMP/bridge
	chmod 755 "$MT_SAFE"
	BRIDGE_SOCK=$MT_SAFE/milter.sock
	MT_TLS=$MT_SAFE/tls
}

# mt_cleanup - stop everything we started (trap on EXIT); keep files on request
mt_cleanup() {
	local pid
	type mta_stop >/dev/null 2>&1 && mta_stop
	for pid in "${MT_PIDS[@]}"; do
		mt_kill "$pid"
	done
	if [ -n "$MT_TMP" ] && [ -d "$MT_TMP" ]; then
		[ -n "$MT_SAFE" ] && [ "$MT_SAFE" != "$MT_TMP/bridge" ] && rm -rf "$MT_SAFE"
		if [ -n "$MTA_TEST_KEEP" ]; then
			echo "# kept $MT_TMP"
		else
			rm -rf "$MT_TMP"
		fi
	fi
}

# ---- the hook server -----------------------------------------------------------

# hooks_start - start tests/lib/hookserver.py; sets HOOK_PORT, HOOK_URL
hooks_start() {
	local dir=$MT_TMP/hook
	HOOK_SCRIPT=$dir/script.json
	HOOK_RECORD=${MT_HOOK_RECORD:-$dir/record.jsonl}
	hook_script '{"default": {"json": {"action": "accept"}}}'
	"$PYTHON3" "$top_srcdir/tests/lib/hookserver.py" --port-file "$dir/port" \
		--script "$HOOK_SCRIPT" --record "$HOOK_RECORD" --listen 127.0.0.1 \
		>"$dir/server.log" 2>&1 &
	HOOK_PID=$!
	mt_track "$HOOK_PID"
	wait_for 10 test -s "$dir/port" || return 1
	HOOK_PORT=$(cat "$dir/port")
	HOOK_URL="http://127.0.0.1:$HOOK_PORT/hook"
}

# hooks_start_tls - a second hook server speaking HTTPS with a certificate from
#   the run's test CA, which the bridge does not trust; sets HOOK_TLS_URL
hooks_start_tls() {
	local dir=$MT_TMP/hook-tls
	[ -n "$HOOK_TLS_URL" ] && return 0
	tls_make || return 1
	mkdir -p "$dir"
	"$PYTHON3" "$top_srcdir/tests/lib/hookserver.py" --port-file "$dir/port" \
		--script "$HOOK_SCRIPT" --record "$dir/record.jsonl" --listen 127.0.0.1 \
		--tls-cert "$MT_TLS/server.pem" --tls-key "$MT_TLS/server.key" \
		>"$dir/server.log" 2>&1 &
	mt_track $!
	wait_for 10 test -s "$dir/port" || return 1
	HOOK_TLS_URL="https://127.0.0.1:$(cat "$dir/port")/hook"
}

# hook_script - replace the hook server's script (it re-reads it per request)
hook_script() {
	printf '%s\n' "$1" >"$HOOK_SCRIPT.tmp" && mv "$HOOK_SCRIPT.tmp" "$HOOK_SCRIPT"
}

# hook_mark - from now on, rec/stages see only requests made after this point
hook_mark() {
	MT_REC_OFF=$(stat -c %s "$HOOK_RECORD" 2>/dev/null || echo 0)
}

# rec - a value of a request recorded since hook_mark (see query.py)
rec() {
	"$PYTHON3" "$MT_QUERY" rec "$HOOK_RECORD" "$MT_REC_OFF" "$1" "$2"
}

# rec_stages - the stages of the requests since hook_mark, space separated
rec_stages() {
	"$PYTHON3" "$MT_QUERY" stages "$HOOK_RECORD" "$MT_REC_OFF"
}

# ---- the capture server --------------------------------------------------------

# capture_start - start the next-hop SMTP sink; sets CAPTURE_PORT, CAPTURE_DIR
capture_start() {
	CAPTURE_DIR=$MT_TMP/capture
	"$PYTHON3" "$MT_DIR/capture.py" --dir "$CAPTURE_DIR" --port-file "$MT_TMP/capture.port" \
		"${MT_CAPTURE_ARGS[@]}" >"$MT_TMP/capture.log" 2>&1 &
	CAPTURE_PID=$!
	mt_track "$CAPTURE_PID"
	wait_for 10 test -s "$MT_TMP/capture.port" || return 1
	CAPTURE_PORT=$(cat "$MT_TMP/capture.port")
}

# capture_count - number of complete messages captured
capture_count() {
	find "$CAPTURE_DIR" -maxdepth 1 -name '[0-9]*.json' | wc -l
}

# capture_files - the .eml files, oldest first
capture_files() {
	find "$CAPTURE_DIR" -maxdepth 1 -name '[0-9]*.eml' | sort
}

# capture_clear - forget captured messages (call only when the MTA is idle)
capture_clear() {
	find "$CAPTURE_DIR" -maxdepth 1 -name '[0-9]*.*' -delete
}

# capture_env - a value of the envelope of captured message FILE.eml
capture_env() {
	"$PYTHON3" "$MT_QUERY" file "${1%.eml}.json" "$2"
}

# mail - a value of the parsed delivered message (see query.py)
mail() {
	"$PYTHON3" "$MT_QUERY" mail "$1" "$2"
}

# mail_named - the header lines named NAME of a delivered message, as JSON
mail_named() {
	"$PYTHON3" "$MT_QUERY" named "$1" "$2"
}

# ---- TLS and SASL for the MTA -------------------------------------------------

SASL_USER=xuser@mtahooks.test
SASL_PASS=xuser-test-password

# tls_make - a test CA and, signed by it, a server and a client certificate, made
#   once per run in $MT_TLS (ca.pem, server.pem/.key, client.pem/.key)
tls_make() {
	local dir=$MT_TLS who
	[ -f "$dir/client.pem" ] && return 0
	mkdir -p "$dir" || return 1
	{
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/O=mtahooks test/CN=mtahooks test CA" \
			-keyout "$dir/ca.key" -out "$dir/ca.pem" &&
			for who in server client; do
				openssl req -newkey rsa:2048 -nodes -subj "/O=mtahooks test/CN=$who.mtahooks.test" \
					-keyout "$dir/$who.key" -out "$dir/$who.csr" &&
					openssl x509 -req -in "$dir/$who.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
						-CAcreateserial -days 2 -out "$dir/$who.pem" || return 1
			done
	} >"$dir/make.log" 2>&1 || { diag "making test certificates failed: $(tail -3 "$dir/make.log")"; return 1; }
	chmod 600 "$dir"/*.key
	# The CA directory as OpenSSL looks certificates up in it (by subject hash).
	ln -sf ca.pem "$dir/$(openssl x509 -noout -hash -in "$dir/ca.pem").0"
}

# sasl_conf_dir - Cyrus SASL's first configuration directory that exists here.
#   Debian's libsasl2 looks an application's NAME.conf up in /etc/sasl2,
#   /etc/sasl, its plugin directory, then /usr/lib/sasl2, and Sendmail
#   cannot be pointed elsewhere, so sendmail.sh binds its own directory over
#   this one inside its private mount namespace. (Debian's Postfix reads
#   \$config_directory/sasl instead, which a private instance has anyway.)
sasl_conf_dir() {
	local d
	# (never the plugin directory /usr/lib/x86_64-linux-gnu/sasl2: covering it
	# would hide the PLAIN and LOGIN mechanisms)
	for d in /etc/sasl2 /etc/sasl /usr/lib/sasl2; do
		[ -d "$d" ] && { echo "$d"; return 0; }
	done
	return 1
}

# sasl_make DIR - a Cyrus sasldb in DIR/sasldb2 holding $SASL_USER; 1 when
#   saslpasswd2 (Debian sasl2-bin) is missing
sasl_make() {
	command -v saslpasswd2 >/dev/null 2>&1 || return 1
	printf '%s' "$SASL_PASS" |
		saslpasswd2 -f "$1/sasldb2" -p -c -u "${SASL_USER#*@}" "${SASL_USER%@*}" || return 1
	chmod 644 "$1/sasldb2"
}

# sasl_conf DB - the Cyrus SASL application configuration for AUTH PLAIN/LOGIN
#   against the sasldb DB (Postfix: smtpd.conf, Sendmail: Sendmail.conf)
sasl_conf() {
	printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\nmech_list: PLAIN LOGIN\n' "$1"
}

# ---- the bridge ----------------------------------------------------------------

# bridge_config - write a configuration with one hook "t"; prints its path
#   bridge_config NAME URL STAGES TEMPFAIL   (STAGES: TOML array text)
bridge_config() {
	local file=$MT_TMP/bridge/$1.toml
	cat >"$file" <<EOF
# written by tests/mta/lib.sh
[milter]
listen = "$(bridge_listen)"

[session.hook."t"]
enable = true
url = "$2"
stages = $3
timeout = "10s"
headers = ["X-Test-Run: mta"]

[session.hook."t".options]
tempfail-on-error = $4
EOF
	echo "$file"
}

# bridge_config_hooks - write a configuration whose hook blocks are HOOKS (TOML
#   text); prints its path.   bridge_config_hooks NAME HOOKS
bridge_config_hooks() {
	local file=$MT_TMP/bridge/$1.toml
	printf '# written by tests/mta/lib.sh\n[milter]\nlisten = "%s"\n\n%s\n' \
		"$(bridge_listen)" "$2" >"$file"
	echo "$file"
}

# bridge_use - make sure the bridge runs with CONFIG: nothing to do when it
#   already does; a running bridge reloads (SIGHUP, as an admin would do it);
#   one that is not running is started
bridge_use() {
	if [ -n "$BRIDGE_PID" ] && kill -0 "$BRIDGE_PID" 2>/dev/null; then
		[ "$BRIDGE_CONFIG" = "$1" ] && return 0
		bridge_reload "$1" && return 0
		fail "the bridge did not reload $1; restarting it"
	fi
	bridge_stop
	bridge_start "$1" || fail "the bridge did not start with $1"
}

# bridge_reload - put CONFIG in place of the running file and send SIGHUP; wait
#   (bounded) for the bridge to say the new configuration is in force
bridge_reload() {
	local config=$1
	cp "$config" "$BRIDGE_RUNNING.new" && mv "$BRIDGE_RUNNING.new" "$BRIDGE_RUNNING" || return 1
	BRIDGE_LOG_OFF=$(stat -c %s "$BRIDGE_LOG")
	kill -HUP "$BRIDGE_PID" || return 1
	wait_for 10 bridge_log_has "configuration reloaded from $BRIDGE_RUNNING" || return 1
	BRIDGE_CONFIG=$config
}

# bridge_log_has - TEXT appears in the bridge's log after BRIDGE_LOG_OFF
bridge_log_has() {
	tail -c "+$((BRIDGE_LOG_OFF + 1))" "$BRIDGE_LOG" | grep -qF -- "$1"
}

# bridge_listen - the bridge's socket, written as its listen setting
bridge_listen() {
	case $BRIDGE_KIND in
	inet) echo "inet:$BRIDGE_PORT@127.0.0.1" ;;
	inet6) echo "inet6:$BRIDGE_PORT@::1" ;;
	*) echo "unix:$BRIDGE_SOCK" ;;
	esac
}

# bridge_start - run mtahooks-milter in the foreground with CONFIG; wait until ready
bridge_start() {
	local config=$1
	BRIDGE_CONFIG=$config
	BRIDGE_LOG=$MT_TMP/bridge/bridge.log
	# The bridge reads one file, which bridge_reload replaces.
	BRIDGE_RUNNING=$MT_TMP/bridge/running.toml
	cp "$config" "$BRIDGE_RUNNING" || return 1
	echo "=== bridge_start $config" >>"$BRIDGE_LOG"
	BRIDGE_LOG_OFF=$(stat -c %s "$BRIDGE_LOG")
	"$BRIDGE" -f -c "$BRIDGE_RUNNING" -p "$(bridge_listen)" "${MT_BRIDGE_FLAGS[@]}" 2>>"$BRIDGE_LOG" &
	BRIDGE_PID=$!
	mt_track "$BRIDGE_PID"
	if ! wait_for 10 bridge_ready; then
		diag "bridge did not come up; its log:"
		diag "$(tail -20 "$BRIDGE_LOG")"
		return 1
	fi
	# The MTA's unprivileged user must be able to connect: the directory is
	# 0755 and private to this run, so the socket may be writable by all.
	[ "$BRIDGE_KIND" = unix ] && chmod 0666 "$BRIDGE_SOCK"
	return 0
}

# bridge_ready - the bridge is alive, has said it listens, and the socket exists
bridge_ready() {
	kill -0 "$BRIDGE_PID" 2>/dev/null || return 1
	case $BRIDGE_KIND in
	inet) tcp_listening "$BRIDGE_PORT" 4 || return 1 ;;
	inet6) tcp_listening "$BRIDGE_PORT" 6 || return 1 ;;
	*) [ -S "$BRIDGE_SOCK" ] || return 1 ;;
	esac
	tail -c "+$((BRIDGE_LOG_OFF + 1))" "$BRIDGE_LOG" | grep -q "listening on"
}

# bridge_stop - stop the bridge we started (SIGTERM lets sessions finish)
bridge_stop() {
	mt_kill "$BRIDGE_PID"
	BRIDGE_PID=
}

# bridge_alive - fail the scenario if the bridge died
bridge_alive() {
	kill -0 "$BRIDGE_PID" 2>/dev/null && return 0
	fail "the bridge is not running any more; its log ends with: $(tail -5 "$BRIDGE_LOG")"
	return 1
}

# ---- messages and SMTP --------------------------------------------------------

# make_message - write $MT_TMP/msg/NAME.eml (exact bytes) and NAME.data (for swaks)
#   make_message NAME FROM TO SUBJECT BODY [HEADER...]
# BODY and each extra HEADER line go through printf %b (\r \n \t \xHH escapes);
# lines end in CRLF. Every header a submission needs is present, so the MTA
# adds none of its own and the message it passes on stays comparable.
make_message() {
	local name=$1 from=$2 to=$3 subject=$4 body=$5 h eml=$MT_TMP/msg/$1.eml
	shift 5
	{
		printf 'Date: Fri, 21 Nov 2025 10:00:00 +0000\r\n'
		printf 'From: %s\r\n' "$from"
		printf 'To: %s\r\n' "$to"
		printf 'Subject: %s\r\n' "$subject"
		printf 'Message-ID: <%s.%s@mtahooks.test>\r\n' "$name" "$$"
		for h in "$@"; do
			printf '%b\r\n' "$h"
		done
		printf '\r\n'
		printf '%b' "$body"
	} >"$eml"
	"$PYTHON3" "$MT_QUERY" wire "$eml" "$MT_TMP/msg/$name.data"
}

# msg_body - write the body part of message NAME to FILE
msg_body() {
	"$PYTHON3" "$MT_QUERY" body "$MT_TMP/msg/$1.eml" >"$2"
}

# send - deliver message NAME through the MTA with swaks; extra args go to swaks
#   Sets SWAKS_OUT (the transcript file) and SWAKS_RC.
send() {
	local name=$1
	shift
	SWAKS_OUT=$MT_TMP/swaks/$name.out
	swaks --server "${SEND_SERVER:-127.0.0.1}" --port "${SEND_PORT:-$MTA_PORT}" \
		--timeout 60 --ehlo client.mtahooks.test \
		--data "@$MT_TMP/msg/$name.data" --no-data-fixup "$@" >"$SWAKS_OUT" 2>&1
	SWAKS_RC=$?
}

# replies - the server replies in the last swaks transcript, one per line
replies() {
	sed -n 's/^<[-*~][-*~ ]* //p' "$SWAKS_OUT"
}

# expect_reply - some server reply in the transcript matches the regex exactly
expect_reply() {
	local what=$1 re=$2
	replies | grep -Eq -- "^($re)\$" && return 0
	fail "$what: no reply matches /^$re\$/; swaks saw: $(replies | tr '\n' '|')"
}

# expect_no_reply - no server reply matches the regex
expect_no_reply() {
	local what=$1 re=$2
	replies | grep -Eq -- "^($re)\$" || return 0
	fail "$what: unexpected reply /^$re\$/; swaks saw: $(replies | tr '\n' '|')"
}

# ---- delivery ------------------------------------------------------------------

# delivered - wait until N messages were captured and the MTA is idle
delivered() {
	local n=$1
	if ! wait_for 20 capture_has "$n"; then
		fail "expected $n delivered message(s), captured $(capture_count); queue: $(mta_queue_summary)"
		return 1
	fi
	mta_wait_idle || fail "the MTA queue did not drain: $(mta_queue_summary)"
	[ "$(capture_count)" -eq "$n" ] || fail "expected $n delivered message(s), captured $(capture_count)"
}

# capture_has - at least N messages were captured
capture_has() {
	[ "$(capture_count)" -ge "$1" ]
}

# nothing_delivered - once the MTA is idle, nothing was captured
nothing_delivered() {
	mta_wait_idle || fail "the MTA queue did not drain: $(mta_queue_summary)"
	[ "$(capture_count)" -eq 0 ] || fail "expected no delivery, captured $(capture_count)"
}

# fresh - the start of every sending scenario: the bridge with CONFIG (default:
#   the main one), MTA idle, capture empty
fresh() {
	bridge_use "${1:-$BRIDGE_MAIN_CONFIG}"
	mta_wait_idle || fail "the MTA queue was not idle before the scenario: $(mta_queue_summary)"
	capture_clear
}
