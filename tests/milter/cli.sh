#!/bin/sh
# cli.sh - the daemon's command line and life: options, -n, socket kinds, pid file,
# signals, detaching, -u, -v, TLS towards the hook, and secrets kept out of the log
#
# Run by `make check` (automake's TAP driver) with MILTERTEST, PYTHON3, top_srcdir and
# top_builddir in the environment; runs by hand too (they default to what PATH and the
# script's location give). Prints TAP. What is checked is what mtahooks-milter(8) and
# DESIGN.md "Command line" promise.
#
# Pieces, all on loopback or unix sockets, all in a private temporary directory:
#   hookserver.py     (tests/lib) the hook endpoint, plain HTTP and HTTPS, recording requests
#   mtahooks-milter   one daemon per case, all started at once and stopped at once, since
#                     libmilter takes seconds to notice a signal
#   cli-session.lua   miltertest plays one message; checks the hook's header or a 451
#   reload-held.lua   miltertest opens a session, waits for a file, then plays a message
#   milterproxy.py    miltertest cannot connect over IPv6: relays unix to inet6:PORT@::1
# Environment: KEEP_TMP=1 keeps the temporary directory.

set -u

MILTERTEST=${MILTERTEST:-$(command -v miltertest 2>/dev/null || true)}
PYTHON3=${PYTHON3:-$(command -v python3 2>/dev/null || true)}
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
mtdir=$top_srcdir/tests/milter
daemon=$top_builddir/src/mtahooks-milter
hookserver=$top_srcdir/tests/lib/hookserver.py

if [ -z "$MILTERTEST" ] || [ ! -x "$MILTERTEST" ]; then
	echo "1..0 # SKIP miltertest not found (Debian package miltertest)"
	exit 0
fi
if [ -z "$PYTHON3" ] || [ ! -x "$PYTHON3" ]; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
if [ ! -x "$daemon" ]; then
	echo "Bail out! $daemon not built"
	exit 1
fi
# miltertest waits at most 10 s per read; bound a whole script too, where we can
limit=
command -v timeout >/dev/null 2>&1 && limit="timeout 30"

# A unix socket path must fit in sun_path (108 bytes): keep the directory short.
base=${TMPDIR:-/tmp}
case $base in /*) ;; *) base=/tmp ;; esac
[ ${#base} -gt 60 ] && base=/tmp
tmp=$(mktemp -d "$base/mtcli.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }

pids=''     # every process started and not yet reaped
detached='' # the daemon that detached itself (not our child; found by its pid file)
# the daemons' pids, set by start (pid_g: the command that detaches)
# shellcheck disable=SC2034 # read through pid_of
pid_a='' pid_b='' pid_c='' pid_d='' pid_e='' pid_f='' pid_g='' pid_h='' pid_t1='' pid_t2='' pid_k=''
# shellcheck disable=SC2034 # read through pid_of
pid_r='' pid_s=''

# alive gone forget wait_tries wait_for wait_long stop (they use $pids)
# shellcheck source=SCRIPTDIR/../lib/proc.sh
. "$top_srcdir/tests/lib/proc.sh"

# is_our_daemon - the process runs our daemon's program (checked before signalling a pid
# read from a file)
is_our_daemon() {
	alive "$1" || return 1
	[ -r "/proc/$1/cmdline" ] || return 0
	tr '\0' ' ' <"/proc/$1/cmdline" | grep -q mtahooks-milter
}

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "$detached" ] && is_our_daemon "$detached"; then
		kill -TERM "$detached" 2>/dev/null
		wait_long gone "$detached" || kill -KILL "$detached" 2>/dev/null
	fi
	# shellcheck disable=SC2086 # a list of pids
	stop $pids
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "# kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- TAP -------------------------------------------------------------------------------

# shellcheck source=SCRIPTDIR/../lib/tap.sh
. "$top_srcdir/tests/lib/tap.sh"

# skip - a case that cannot run here
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# ---- helpers ---------------------------------------------------------------------------

# run_bounded OUT ERR CMD... - run CMD with stdout/stderr to files; its status, or 124
# when it has not ended after 5 s (it is killed then)
run_bounded() {
	rb_out=$1 rb_err=$2
	shift 2
	"$@" </dev/null >"$rb_out" 2>"$rb_err" &
	rb_pid=$!
	pids="$pids $rb_pid"
	if ! wait_for gone "$rb_pid"; then
		kill -KILL "$rb_pid" 2>/dev/null
		wait "$rb_pid" 2>/dev/null
		forget "$rb_pid"
		return 124
	fi
	wait "$rb_pid"
	rb_rc=$?
	forget "$rb_pid"
	return $rb_rc
}

# free_port HOST - a TCP port nobody listens on right now (the kernel picks it); fails
# when HOST cannot be bound (no ::1 on this machine)
free_port() {
	"$PYTHON3" -c '
import socket, sys
host = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.bind((host, 0))
print(s.getsockname()[1])
s.close()' "$1" 2>/dev/null
}

# requests RECORD PATH - "TOTAL DATA": requests the hook server recorded at PATH, and
# how many of them were for the data stage
requests() {
	"$PYTHON3" -c '
import json, sys
total = data = 0
try:
    lines = open(sys.argv[1], encoding="utf-8").readlines()
except FileNotFoundError:
    lines = []
for line in lines:
    r = json.loads(line)
    if r.get("path") != sys.argv[2]:
        continue
    total += 1
    ctx = (r.get("json") or {}).get("context") or {}
    if ctx.get("stage") == "data":
        data += 1
print(total, data)' "$1" "$2"
}

# auth_of RECORD PATH - the Authorization header of the last request at PATH
auth_of() {
	"$PYTHON3" -c '
import json, sys
auth = "(none)"
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if r.get("path") == sys.argv[2]:
        auth = r.get("headers", {}).get("authorization", "(none)")
print(auth)' "$1" "$2"
}

# write_config FILE LISTEN ID URL TIMEOUT [LINE...] - one data hook ID at URL; each LINE
# goes into the hook's table
write_config() {
	wc_file=$1 wc_listen=$2 wc_id=$3 wc_url=$4 wc_timeout=$5
	shift 5
	{
		echo "# written by tests/milter/cli.sh"
		echo "[milter]"
		echo "listen = \"$wc_listen\""
		echo ""
		echo "[session.hook.\"$wc_id\"]"
		echo "url = \"$wc_url\""
		echo 'stages = ["data"]'
		echo "timeout = \"$wc_timeout\""
		for wc_line in "$@"; do
			echo "$wc_line"
		done
	} >"$wc_file"
}

# start NAME ARG... - start the daemon in the background with ARGs; its stderr is
# $tmp/NAME.log, its pid $pid_NAME
start() {
	st_name=$1
	shift
	"$daemon" "$@" </dev/null >"$tmp/$st_name.out" 2>"$tmp/$st_name.log" &
	eval "pid_$st_name=$!"
	pids="$pids $!"
}

# pid_of NAME - the pid of the daemon started as NAME
pid_of() {
	eval "echo \"\${pid_$1:-}\""
}

# listening NAME - the daemon NAME runs and said it listens
listening() {
	alive "$(pid_of "$1")" && grep -q "listening on" "$tmp/$1.log"
}

# session NAME SOCK QID EXPECT - miltertest plays one message on SOCK (see
# cli-session.lua); its output goes to $tmp/mt-NAME.out
session() {
	# shellcheck disable=SC2086 # $limit is a command and its argument, or nothing
	(cd "$tmp" && $limit "$MILTERTEST" -D "SOCK=$2" -D "MTDIR=$mtdir" -D "QID=$3" \
		-D "EXPECT=$4" -s "$mtdir/cli-session.lua") </dev/null >"$tmp/mt-$1.out" 2>&1
}

# check_message NAME SOCK QID PATH [RECORD] - a message through daemon NAME on SOCK gets
# the hook's header, and the hook at PATH saw exactly one request, for the data stage
check_message() {
	if ! session "$1" "$2" "$3" header; then
		fail "miltertest on $2 failed:"
		diag "$tmp/mt-$1.out"
	fi
	got=$(requests "${5:-$record}" "$4")
	[ "$got" = "1 1" ] ||
		fail "hook $4: expected 1 request, for the data stage; got (total data) $got"
	alive "$(pid_of "$1")" || fail "the daemon died"
	[ -s "$why" ] && diag "$tmp/$1.log"
}

# has_line FILE REGEX - some line of FILE matches the extended regex
has_line() {
	grep -Eq -- "$2" "$1"
}

# has_text FILE TEXT - some line of FILE holds TEXT as it is
has_text() {
	grep -Fq -- "$2" "$1"
}

# count_text FILE TEXT - how many lines of FILE hold TEXT as it is
count_text() {
	grep -Fc -- "$2" "$1"
}

# exit_status NAME - wait (bounded) for daemon NAME to end; its status in $es_rc (124 when
# it still runs after 15 s)
exit_status() {
	es_pid=$(pid_of "$1")
	es_rc=124
	wait_long gone "$es_pid" || return 0
	wait "$es_pid"
	es_rc=$?
	forget "$es_pid"
}

# ---- the plan --------------------------------------------------------------------------

echo "1..40"

root=0
[ "$(id -u)" = 0 ] && root=1
nobody_uid=$(id -u nobody 2>/dev/null || true)
nobody_gid=$(id -g nobody 2>/dev/null || true)
have_openssl=0
command -v openssl >/dev/null 2>&1 && have_openssl=1
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/build-config.h" \
	2>/dev/null)

# ---- command line, no daemon -----------------------------------------------------------

out=$tmp/out.txt
err=$tmp/err.txt

begin
run_bounded "$out" "$err" "$daemon" -V
rc=$?
[ $rc = 0 ] || fail "exit status $rc, expected 0"
[ -n "$version" ] || fail "no PACKAGE_VERSION in $top_builddir/build-config.h"
[ "$(cat "$out")" = "mtahooks-milter $version" ] ||
	{ fail "stdout is not exactly \"mtahooks-milter $version\":"; diag "$out"; }
[ -s "$err" ] && { fail "stderr is not empty:"; diag "$err"; }
result "-V prints \"mtahooks-milter <version>\" and exits 0"

begin
run_bounded "$out" "$err" "$daemon" -h
rc=$?
[ $rc = 0 ] || fail "exit status $rc, expected 0"
has_line "$out" '^usage: mtahooks-milter ' || fail "no \"usage: mtahooks-milter\" line"
for opt in c p f u P v n V h; do
	has_line "$out" "^ +-$opt( |\$)" || fail "option -$opt is not described"
	grep -q -- "\[-${opt}[] ]" "$out" || fail "option -$opt is not in the synopsis"
done
grep -q "mtahooks-milter.toml" "$out" || fail "the default configuration path is not shown"
[ -s "$err" ] && { fail "stderr is not empty:"; diag "$err"; }
[ -s "$why" ] && diag "$out" 30
result "-h prints the usage with every option on stdout and exits 0"

begin
run_bounded "$out" "$err" "$daemon" -Z
rc=$?
[ $rc = 1 ] || fail "exit status $rc, expected 1"
has_line "$err" '^usage: mtahooks-milter ' || { fail "no usage on stderr:"; diag "$err"; }
[ -s "$out" ] && { fail "stdout is not empty:"; diag "$out"; }
result "an unknown option exits 1 with the usage on stderr"

begin
run_bounded "$out" "$err" "$daemon" -n extra
rc=$?
[ $rc = 1 ] || fail "exit status $rc, expected 1"
has_line "$err" '^usage: mtahooks-milter ' || { fail "no usage on stderr:"; diag "$err"; }
grep -q '"extra"' "$err" || fail "the extra argument is not named on stderr"
[ -s "$out" ] && { fail "stdout is not empty:"; diag "$out"; }
result "an extra argument exits 1 with the usage on stderr"

# The hook server's port is needed by every configuration below; start it now.
record=$tmp/record.jsonl
script=$tmp/script.json
cat >"$script" <<'EOF'
{"rules": [{"when": {"path": "/slow"}, "delay": 6,
            "json": {"action": "accept", "modifications":
                     [{"type": "addHeader", "name": "X-Cli-Hook", "value": "ok"}]}}],
 "default": {"json": {"action": "accept", "modifications":
                      [{"type": "addHeader", "name": "X-Cli-Hook", "value": "ok"}]}}}
EOF
"$PYTHON3" "$hookserver" --port-file "$tmp/hook.port" --script "$script" --record "$record" \
	</dev/null >/dev/null 2>"$tmp/hookserver.log" &
pids="$pids $!"
if ! wait_for test -s "$tmp/hook.port"; then
	echo "Bail out! hook server did not start"
	sed 's/^/# /' "$tmp/hookserver.log"
	exit 1
fi
port=$(cat "$tmp/hook.port")
closed=$(free_port 127.0.0.1)

good=$tmp/good.toml
write_config "$good" "unix:$tmp/good.sock" h "http://127.0.0.1:$port/good" 5s

begin
run_bounded "$out" "$err" "$daemon" -n -c "$good"
rc=$?
[ $rc = 0 ] || fail "exit status $rc, expected 0"
[ "$(cat "$out")" = "configuration OK" ] ||
	{ fail "stdout is not exactly \"configuration OK\":"; diag "$out"; }
[ -s "$err" ] && { fail "stderr is not empty:"; diag "$err"; }
[ -e "$tmp/good.sock" ] && fail "-n created the socket $tmp/good.sock"
result "-n on a valid configuration prints \"configuration OK\" and exits 0"

# Two different errors: a value in a hook (line 8), a type in its options table (line 11).
bad=$tmp/bad.toml
write_config "$bad" "unix:$tmp/bad.sock" h "http://127.0.0.1:$port/bad" "ten seconds" \
	'' '[session.hook."h".options]' 'tempfail-on-error = "yes"'

begin
run_bounded "$out" "$err" "$daemon" -n -c "$bad"
rc=$?
[ $rc = 1 ] || fail "exit status $rc, expected 1"
[ -s "$out" ] && { fail "stdout is not empty:"; diag "$out"; }
grep -qF "$bad:8: session.hook.\"h\".timeout: " "$err" ||
	fail "no line \"$bad:8: session.hook.\\\"h\\\".timeout: ...\""
grep -qF "$bad:11: session.hook.\"h\".options.tempfail-on-error: " "$err" ||
	fail "no line \"$bad:11: session.hook.\\\"h\\\".options.tempfail-on-error: ...\""
lines=$(wc -l <"$err" | tr -d ' ')
[ "$lines" = 2 ] || fail "expected 2 lines on stderr, got $lines"
[ -s "$why" ] && { diag "$err"; diag "$bad"; }
result "-n on a configuration with errors prints each as FILE:LINE: KEY: ... and exits 1"

begin
run_bounded "$out" "$err" "$daemon" -n -c "$tmp/missing.toml"
rc=$?
[ $rc = 1 ] || fail "exit status $rc, expected 1"
grep -qF "$tmp/missing.toml" "$err" || { fail "stderr does not name the file:"; diag "$err"; }
[ -s "$out" ] && { fail "stdout is not empty:"; diag "$out"; }
result "-n with a missing configuration file exits 1 naming the file"

begin
run_bounded "$out" "$err" "$daemon" -n -c "$good" -p bogus
rc=$?
[ $rc = 1 ] || fail "exit status $rc, expected 1"
grep -q "configuration OK" "$out" && fail "stdout says configuration OK"
grep -q "bogus" "$err" || { fail "stderr does not name the socket:"; diag "$err"; }
result "-n -p bogus exits 1"

begin
run_bounded "$out" "$err" "$daemon" -f -c "$bad"
rc=$?
[ $rc = 1 ] || fail "exit status $rc, expected 1"
grep -qF "$bad:8: session.hook.\"h\".timeout: " "$err" ||
	{ fail "the error is not on stderr:"; diag "$err"; }
[ -e "$tmp/bad.sock" ] && fail "the socket $tmp/bad.sock was created"
result "starting with a broken configuration exits 1, says why, opens no socket"

# Misspelt keys in the hook (line 9), in its options table (line 12), and a table name.
typo=$tmp/typo.toml
write_config "$typo" "unix:$tmp/typo.sock" h "http://127.0.0.1:$port/typo" 5s \
	'timout = "5s"' '' '[session.hook."h".options]' 'tempfail_on_error = false' \
	'[session.hook."h".auht]' 'username = "u"'

begin
run_bounded "$out" "$err" "$daemon" -n -c "$typo"
rc=$?
[ $rc = 1 ] || fail "exit status $rc, expected 1"
[ -s "$out" ] && { fail "stdout is not empty:"; diag "$out"; }
for want in "$typo:9: session.hook.\"h\".timout: unknown key; did you mean \"timeout\"?" \
	"$typo:12: session.hook.\"h\".options.tempfail_on_error: unknown key; did you mean \"tempfail-on-error\"?" \
	"$typo:13: session.hook.\"h\".auht: unknown key; did you mean \"auth\"?"; do
	[ "$(count_text "$err" "$want")" = 1 ] || fail "no line \"$want\""
done
lines=$(wc -l <"$err" | tr -d ' ')
[ "$lines" = 3 ] || fail "expected 3 lines on stderr, got $lines"
[ -s "$why" ] && { diag "$err"; diag "$typo"; }
result "-n: a misspelt key is an error with \"did you mean\" the key it is close to"

# A secret written in clear: a warning when group or others can read the file, not else.
clear=$tmp/clear.toml
write_config "$clear" "unix:$tmp/clear.sock" h "http://127.0.0.1:$port/clear" 5s \
	'auth.username = "u"' 'auth.secret = "Cl3ar-Pa55"'

begin
chmod 644 "$clear"
run_bounded "$out" "$err" "$daemon" -n -c "$clear"
rc=$?
[ $rc = 0 ] || fail "mode 644: exit status $rc, expected 0"
[ "$(cat "$out")" = "configuration OK" ] ||
	{ fail "mode 644: stdout is not exactly \"configuration OK\":"; diag "$out"; }
want="warning: $clear:10: session.hook.\"h\".auth.secret: secret written in clear in a file that group or others can read (mode 0644)"
has_text "$err" "$want" || { fail "mode 644: no warning \"$want ...\":"; diag "$err"; }
has_text "$err" "Cl3ar" && { fail "mode 644: the secret is on stderr:"; diag "$err"; }
chmod 600 "$clear"
run_bounded "$out" "$err" "$daemon" -n -c "$clear"
rc=$?
[ $rc = 0 ] || fail "mode 600: exit status $rc, expected 0"
[ "$(cat "$out")" = "configuration OK" ] ||
	{ fail "mode 600: stdout is not exactly \"configuration OK\":"; diag "$out"; }
[ -s "$err" ] && { fail "mode 600: stderr is not empty:"; diag "$err"; }
result "-n: a secret in clear in a file others can read is a warning, and the file is OK"

# Secrets taken from the environment and from a file, and one in clear: none of them may
# appear in what -n prints, for a valid file or one with errors next to them, nor when the
# error is in the secret's own line, nor when the daemon refuses to start.
env_secret=Env-S3cr3t-Value
file_secret=File-S3cr3t-Value
printf '%s\n' "$file_secret" >"$tmp/secret.txt"
chmod 600 "$tmp/secret.txt"
MTH_CLI_SECRET=$env_secret
export MTH_CLI_SECRET
# secret_hooks FILE LINE... - three hooks with a secret each (clear, env, file), then LINEs
secret_hooks() {
	sh_file=$1
	shift
	{
		echo "# written by tests/milter/cli.sh"
		echo "[milter]"
		echo "listen = \"unix:$tmp/sec.sock\""
		for sh_how in clear env file; do
			echo ""
			echo "[session.hook.\"$sh_how\"]"
			echo "url = \"http://127.0.0.1:$port/s-$sh_how\""
			echo 'stages = ["data"]'
			echo 'auth.username = "cli-user"'
			case $sh_how in
			clear) echo 'auth.secret = "Cl3ar-S3cr3t-Value"' ;;
			env) echo 'auth.secret = "%{env:MTH_CLI_SECRET}%"' ;;
			file) echo "auth.secret = \"%{file:$tmp/secret.txt}%\"" ;;
			esac
		done
		for sh_line in "$@"; do
			echo "$sh_line"
		done
	} >"$sh_file"
	chmod 644 "$sh_file"
}
# no_secret FILE... - none of the secrets, nor a credential pair in base64, in the files
no_secret() {
	for ns_f in "$@"; do
		for ns_s in Cl3ar-S3cr3t "$env_secret" "$file_secret" Typo-S3cr3t Dup-S3cr3t \
			Unterm-S3cr3t "$(printf 'cli-user:%s' "$env_secret" | base64)" \
			"$(printf 'cli-user:%s' "$file_secret" | base64)"; do
			if grep -n -- "$ns_s" "$ns_f" >"$tmp/leak.txt"; then
				fail "$(basename "$ns_f") holds the secret \"$ns_s\":"
				diag "$tmp/leak.txt"
			fi
		done
	done
}

begin
secret_hooks "$tmp/sec-ok.toml"
run_bounded "$out" "$err" "$daemon" -n -c "$tmp/sec-ok.toml"
rc=$?
[ $rc = 0 ] || { fail "valid file: exit status $rc, expected 0"; diag "$err"; }
has_text "$err" 'session.hook."clear".auth.secret: secret written in clear' ||
	{ fail "valid file: no warning about the secret in clear"; diag "$err"; }
no_secret "$out" "$err"
for bad in 'timeout = "ten seconds"' 'allow-invalid-certs = "no"' \
	'[session.hook."file".auth]' 'auth.secrte = "Typo-S3cr3t"' 'auth.secret = "Dup-S3cr3t"'; do
	# each breaks the last hook ("file") next to its secret: a bad value, a table or the
	# secret defined twice, a misspelt key
	secret_hooks "$tmp/sec-bad.toml" "$bad"
	run_bounded "$out" "$err" "$daemon" -n -c "$tmp/sec-bad.toml"
	rc=$?
	[ $rc = 1 ] || { fail "with \"$bad\": exit status $rc, expected 1"; diag "$err"; }
	no_secret "$out" "$err"
done
# errors in the secret's own line: an unterminated string, a wrong type
for bad in 'auth.secret = "Unterm-S3cr3t' 'auth.secret = ["Dup-S3cr3t"]'; do
	secret_hooks "$tmp/sec-bad.toml"
	sed -i "s|^auth.secret = \"Cl3ar-S3cr3t-Value\"\$|$bad|" "$tmp/sec-bad.toml"
	grep -qF -- "$bad" "$tmp/sec-bad.toml" || fail "could not write \"$bad\" into the file"
	run_bounded "$out" "$err" "$daemon" -n -c "$tmp/sec-bad.toml"
	rc=$?
	[ $rc = 1 ] || { fail "with \"$bad\": exit status $rc, expected 1"; diag "$err"; }
	no_secret "$out" "$err"
done
secret_hooks "$tmp/sec-bad.toml" 'timeout = "ten seconds"'
run_bounded "$out" "$err" "$daemon" -f -v -v -v -c "$tmp/sec-bad.toml"
rc=$?
[ $rc = 1 ] || { fail "start with errors: exit status $rc, expected 1"; diag "$err"; }
no_secret "$out" "$err"
result "no secret (in clear, %{env}%, %{file}%) in -n output or in errors, for good and bad files"

# ---- daemons ---------------------------------------------------------------------------
# All are started at once and stopped at once: libmilter notices a signal only every few
# seconds. Each has its own data hook path on the hook server (/a, /b, ...).

# TLS: a self-signed certificate for 127.0.0.1, and a second hook server speaking HTTPS
tlsport=
tlsrecord=$tmp/tls-record.jsonl
if [ $have_openssl = 1 ] &&
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -days 1 \
		-keyout "$tmp/key.pem" -out "$tmp/cert.pem" >"$tmp/openssl.log" 2>&1; then
	"$PYTHON3" "$hookserver" --port-file "$tmp/tls.port" --script "$script" \
		--record "$tlsrecord" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" \
		</dev/null >/dev/null 2>"$tmp/tls-hookserver.log" &
	pids="$pids $!"
	wait_for test -s "$tmp/tls.port" && tlsport=$(cat "$tmp/tls.port")
fi

# a: unix: from [milter] listen, -P, -v
write_config "$tmp/a.toml" "unix:$tmp/a.sock" a "http://127.0.0.1:$port/a" 5s
start a -f -v -c "$tmp/a.toml" -P "$tmp/a.pid"

# b: local: from -p, overriding listen; -v -v; stopped with SIGINT
write_config "$tmp/b.toml" "unix:$tmp/b-unused.sock" b "http://127.0.0.1:$port/b" 5s
start b -f -v -v -c "$tmp/b.toml" -p "local:$tmp/b.sock"

# c: inet: from -p, overriding listen; no -v
cport=$(free_port 127.0.0.1)
write_config "$tmp/c.toml" "unix:$tmp/c-unused.sock" c "http://127.0.0.1:$port/c" 5s
start c -f -c "$tmp/c.toml" -p "inet:$cport@127.0.0.1"

# d: inet6: from [milter] listen, when this machine has ::1
dport=$(free_port ::1 || true)
if [ -n "$dport" ]; then
	write_config "$tmp/d.toml" "inet6:$dport@::1" d "http://127.0.0.1:$port/d" 5s
	start d -f -c "$tmp/d.toml"
fi

# e: a stale socket file left at the path, given with -p unix:
"$PYTHON3" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.close()' "$tmp/e.sock"
stale_ok=0
test -S "$tmp/e.sock" && stale_ok=1
write_config "$tmp/e.toml" "unix:$tmp/e-unused.sock" e "http://127.0.0.1:$port/e" 5s
start e -f -c "$tmp/e.toml" -p "unix:$tmp/e.sock"

# f: a slow data hook, for SIGTERM during a session
write_config "$tmp/f.toml" "unix:$tmp/f.sock" slow "http://127.0.0.1:$port/slow" 10s
start f -f -v -c "$tmp/f.toml"

# g: detaches (no -f); its pid comes from the pid file
write_config "$tmp/g.toml" "unix:$tmp/g.sock" g "http://127.0.0.1:$port/g" 5s
"$daemon" -c "$tmp/g.toml" -P "$tmp/g.pid" </dev/null >"$tmp/g.out" 2>"$tmp/g.log" &
pid_g=$!
pids="$pids $pid_g"

# h: -u nobody (root only)
if [ $root = 1 ] && [ -n "$nobody_uid" ]; then
	write_config "$tmp/h.toml" "unix:$tmp/h.sock" h "http://127.0.0.1:$port/h" 5s
	start h -f -v -c "$tmp/h.toml" -u nobody
fi

# t1, t2: https hooks, certificate checked / not checked
if [ -n "$tlsport" ]; then
	write_config "$tmp/t1.toml" "unix:$tmp/t1.sock" t1 "https://127.0.0.1:$tlsport/t1" 5s \
		'allow-invalid-certs = false'
	start t1 -f -v -c "$tmp/t1.toml"
	write_config "$tmp/t2.toml" "unix:$tmp/t2.sock" t2 "https://127.0.0.1:$tlsport/t2" 5s \
		'allow-invalid-certs = true'
	start t2 -f -v -c "$tmp/t2.toml"
fi

# k: a secret, -v -v, one hook that cannot be reached and one that answers
cat >"$tmp/k.toml" <<EOF
# written by tests/milter/cli.sh
[milter]
listen = "unix:$tmp/k.sock"

[session.hook."down"]
url = "http://127.0.0.1:$closed/k-down"
stages = ["data"]
timeout = "5s"

[session.hook."down".options]
tempfail-on-error = false

[session.hook."down".auth]
username = "cli-user"
secret = "S3cr3t-Value"

[session.hook."up"]
url = "http://127.0.0.1:$port/k-up"
stages = ["data"]
timeout = "5s"

[session.hook."up".auth]
username = "cli-user"
secret = "S3cr3t-Value"
EOF
chmod 644 "$tmp/k.toml"
start k -f -v -v -c "$tmp/k.toml"

# s: the three secret hooks, -v -v -v; "clear" cannot be reached and counts as accept
secret_hooks "$tmp/s.toml"
sed -i "s|^url = \"http://127.0.0.1:$port/s-clear\"\$|url = \"http://127.0.0.1:$closed/s-clear\"|" \
	"$tmp/s.toml"
sed -i "s|^listen = .*|listen = \"unix:$tmp/s.sock\"|" "$tmp/s.toml"
printf '\n[session.hook."clear".options]\ntempfail-on-error = false\n' >>"$tmp/s.toml"
start s -f -v -v -v -c "$tmp/s.toml"

# r: reloaded on SIGHUP (see "SIGHUP: reload" below); at first the hook "old" only
# write_reload FILE LISTEN [LINE...] - the hook "old" at the data stage, then each LINE
write_reload() {
	wr_file=$1 wr_listen=$2
	shift 2
	{
		echo "# written by tests/milter/cli.sh"
		echo "[milter]"
		echo "listen = \"$wr_listen\""
		echo ""
		echo '[session.hook."old"]'
		echo "url = \"http://127.0.0.1:$port/r-old\""
		echo 'stages = ["data"]'
		echo 'timeout = "5s"'
		for wr_line in "$@"; do
			echo "$wr_line"
		done
	} >"$wr_file"
}
write_reload "$tmp/r.toml" "unix:$tmp/r.sock"
start r -f -v -c "$tmp/r.toml"

for name in a b c d e f h t1 t2 k r s; do
	[ -n "$(pid_of $name)" ] && wait_for listening $name
done

# ---- socket kinds ----------------------------------------------------------------------

begin
if listening a && test -S "$tmp/a.sock"; then
	check_message a "unix:$tmp/a.sock" QA /a
else
	fail "the daemon does not listen on unix:$tmp/a.sock"
	diag "$tmp/a.log"
fi
result "unix:PATH from [milter] listen: a message gets the data hook's header"

begin
if listening b && test -S "$tmp/b.sock"; then
	check_message b "unix:$tmp/b.sock" QB /b
else
	fail "the daemon does not listen on local:$tmp/b.sock"
	diag "$tmp/b.log"
fi
[ -e "$tmp/b-unused.sock" ] && fail "the socket of [milter] listen was created too"
result "local:PATH from -p, overriding [milter] listen: a message gets the header"

begin
if listening c; then
	check_message c "inet:$cport@127.0.0.1" QC /c
else
	fail "the daemon does not listen on inet:$cport@127.0.0.1"
	diag "$tmp/c.log"
fi
[ -e "$tmp/c-unused.sock" ] && fail "the socket of [milter] listen was created too"
result "inet:PORT@127.0.0.1 from -p: a message gets the header"

if [ -z "$dport" ]; then
	skip "inet6:PORT@::1 from [milter] listen: a message gets the header" "no ::1 here"
else
	begin
	if listening d; then
		echo "inet6:$dport@::1" >"$tmp/relay.upstream"
		"$PYTHON3" "$mtdir/milterproxy.py" --listen "$tmp/relay.sock" \
			--upstream-file "$tmp/relay.upstream" --trace "$tmp/relay.trace" \
			</dev/null >/dev/null 2>"$tmp/relay.log" &
		relay_pid=$!
		pids="$pids $relay_pid"
		if wait_for test -S "$tmp/relay.sock"; then
			check_message d "unix:$tmp/relay.sock" QD /d
		else
			fail "the unix-to-IPv6 relay did not start"
			diag "$tmp/relay.log"
		fi
		stop "$relay_pid"
	else
		fail "the daemon does not listen on inet6:$dport@::1"
		diag "$tmp/d.log"
	fi
	result "inet6:PORT@::1 from [milter] listen: a message gets the header"
fi

begin
[ $stale_ok = 1 ] || fail "could not leave a stale socket at $tmp/e.sock"
if listening e && test -S "$tmp/e.sock"; then
	check_message e "unix:$tmp/e.sock" QE /e
else
	fail "the daemon did not start over a stale socket file"
	diag "$tmp/e.log"
fi
result "a stale unix socket file at the path is replaced"

# ---- -P, -v ----------------------------------------------------------------------------

begin
if [ -s "$tmp/a.pid" ]; then
	[ "$(cat "$tmp/a.pid")" = "$pid_a" ] ||
		{ fail "the pid file does not hold $pid_a, the pid started:"; diag "$tmp/a.pid"; }
else
	fail "no pid file $tmp/a.pid"
fi
result "-P writes the daemon's pid"

begin
has_line "$tmp/a.log" "^mtahooks-milter\\[$pid_a\\]: info: hook=a stage=data qid=QA action=accept\$" ||
	fail "-v: no line \"mtahooks-milter[$pid_a]: info: hook=a stage=data qid=QA action=accept\""
has_line "$tmp/a.log" ': debug: ' && fail "-v: debug lines are logged"
has_line "$tmp/c.log" ': info: ' && fail "without -v: info lines are logged"
has_line "$tmp/c.log" ' hook=c ' && fail "without -v: the hook line is logged"
has_line "$tmp/c.log" "listening on inet:$cport@127.0.0.1" ||
	fail "without -v: the notice \"listening on\" is missing"
[ -s "$why" ] && { diag "$tmp/a.log"; diag "$tmp/c.log"; }
result "-v logs the per-hook line (info), without -v it is not logged"

begin
has_line "$tmp/b.log" "^mtahooks-milter\\[$pid_b\\]: debug: session=[0-9]+ negotiated " ||
	fail "-v -v: no negotiation debug line"
has_line "$tmp/b.log" ": info: hook=b stage=data qid=QB action=accept\$" ||
	fail "-v -v: no per-hook info line"
has_line "$tmp/a.log" ' negotiated ' && fail "-v alone logs the negotiation"
[ -s "$why" ] && diag "$tmp/b.log"
result "-v -v logs the negotiation debug line, -v alone does not"

# ---- TLS towards the hook ----------------------------------------------------------------

if [ -z "$tlsport" ]; then
	skip "https hook, certificate checked: a self-signed one tempfails the data stage" \
		"openssl or the https hook server is not available"
	skip "https hook with allow-invalid-certs = true: accepted" \
		"openssl or the https hook server is not available"
else
	begin
	if listening t1; then
		session t1 "unix:$tmp/t1.sock" QT1 tempfail ||
			{ fail "miltertest (expecting 451 4.3.5) failed:"; diag "$tmp/mt-t1.out"; }
		tls_lines=$(grep -c 'error=tls' "$tmp/t1.log")
		[ "$tls_lines" = 1 ] || fail "expected one line with error=tls, got $tls_lines"
		has_line "$tmp/t1.log" ': error: hook=t1 stage=data qid=QT1 error=tls ' ||
			fail "no error line \"hook=t1 stage=data qid=QT1 error=tls ...\""
		got=$(requests "$tlsrecord" /t1)
		[ "$got" = "0 0" ] || fail "the hook got a request over an unverified TLS: $got"
	else
		fail "the daemon does not run"
	fi
	[ -s "$why" ] && diag "$tmp/t1.log"
	result "https hook, certificate checked: a self-signed one tempfails the data stage"

	begin
	if listening t2; then
		check_message t2 "unix:$tmp/t2.sock" QT2 /t2 "$tlsrecord"
		has_line "$tmp/t2.log" 'error=' && { fail "an error was logged"; diag "$tmp/t2.log"; }
	else
		fail "the daemon does not run"
		diag "$tmp/t2.log"
	fi
	result "https hook with allow-invalid-certs = true: accepted, header added"
fi

# ---- secrets -----------------------------------------------------------------------------

begin
if listening k; then
	session k "unix:$tmp/k.sock" QK header ||
		{ fail "miltertest failed:"; diag "$tmp/mt-k.out"; }
	has_line "$tmp/k.log" ': error: hook=down stage=data qid=QK error=connect .*policy=accept' ||
		fail "no error line for the unreachable hook"
	has_line "$tmp/k.log" ': info: hook=up stage=data qid=QK action=accept$' ||
		fail "no accept line for the hook that answered"
	has_text "$tmp/k.log" "warning: $tmp/k.toml:15: session.hook.\"down\".auth.secret: secret written in clear in a file that group or others can read (mode 0644)" ||
		fail "no warning at start about the secret in clear in $tmp/k.toml (mode 0644)"
	want="Basic $(printf 'cli-user:S3cr3t-Value' | base64)"
	got=$(auth_of "$record" /k-up)
	[ "$got" = "$want" ] || fail "the hook got Authorization \"$got\", expected \"$want\""
else
	fail "the daemon does not run"
fi
[ -s "$why" ] && diag "$tmp/k.log"
secret_case=$((n + 1))
result "auth.secret is sent to the hook (one error, one success, -v -v); its clear text warned about"

begin
if listening s; then
	session s "unix:$tmp/s.sock" QS header || { fail "miltertest failed:"; diag "$tmp/mt-s.out"; }
	has_line "$tmp/s.log" ': error: hook=clear stage=data qid=QS error=connect .*policy=accept' ||
		fail "no error line for the unreachable hook"
	for how in env file; do
		case $how in
		env) want_secret=$env_secret ;;
		file) want_secret=$file_secret ;;
		esac
		want="Basic $(printf 'cli-user:%s' "$want_secret" | base64)"
		got=$(auth_of "$record" "/s-$how")
		[ "$got" = "$want" ] ||
			fail "hook $how got Authorization \"$got\", expected \"$want\""
	done
else
	fail "the daemon does not run"
	diag "$tmp/s.log"
fi
[ -s "$why" ] && diag "$tmp/s.log"
secrets_case=$((n + 1))
result "secrets from %{env}% and %{file}% are sent to the hook (-v -v -v)"

# ---- -u ----------------------------------------------------------------------------------

if [ $root = 0 ]; then
	skip "-u nobody: runs as nobody (uids, gids, groups, no capabilities), owns the socket, serves a message" "not root"
elif [ -z "$nobody_uid" ]; then
	skip "-u nobody: runs as nobody (uids, gids, groups, no capabilities), owns the socket, serves a message" "no user nobody"
else
	begin
	if listening h && test -S "$tmp/h.sock"; then
		uids=$(sed -n 's/^Uid:[[:space:]]*//p' "/proc/$pid_h/status" | tr -s ' \t' '  ')
		euid=$(echo "$uids" | cut -d ' ' -f 2)
		[ "$euid" = "$nobody_uid" ] ||
			fail "effective uid $euid, expected $nobody_uid (Uid: $uids)"
		[ "$uids" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ] ||
			fail "real, effective, saved and file uids are not all nobody's: $uids"
		gids=$(sed -n 's/^Gid:[[:space:]]*//p' "/proc/$pid_h/status" | tr -s ' \t' '  ')
		[ "$gids" = "$nobody_gid $nobody_gid $nobody_gid $nobody_gid" ] ||
			fail "real, effective, saved and file gids are not all nobody's ($nobody_gid): $gids"
		groups=" $(sed -n 's/^Groups:[[:space:]]*//p' "/proc/$pid_h/status" | tr -s ' \t' '  ') "
		case $groups in
		*" 0 "*) fail "root's group 0 is still among the supplementary groups:$groups" ;;
		esac
		capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$pid_h/status")
		[ "$capeff" = 0000000000000000 ] || fail "capabilities left after the drop: CapEff $capeff"
		owner=$("$PYTHON3" -c 'import os, sys; print(os.stat(sys.argv[1]).st_uid)' \
			"$tmp/h.sock")
		[ "$owner" = "$nobody_uid" ] || fail "the socket is owned by uid $owner"
		check_message h "unix:$tmp/h.sock" QH /h
	else
		fail "the daemon does not listen on unix:$tmp/h.sock"
		diag "$tmp/h.log"
	fi
	result "-u nobody: runs as nobody (uids, gids, groups, no capabilities), owns the socket, serves a message"
fi

# ---- detaching ---------------------------------------------------------------------------

begin
if wait_for gone "$pid_g"; then
	wait "$pid_g"
	rc=$?
	forget "$pid_g"
	[ $rc = 0 ] || fail "the command exited $rc, expected 0"
else
	fail "the command did not return within 5 s"
fi
if wait_for test -s "$tmp/g.pid"; then
	detached=$(cat "$tmp/g.pid")
	case $detached in
	'' | *[!0-9]*)
		fail "the pid file holds no pid:"
		diag "$tmp/g.pid"
		detached=
		;;
	esac
else
	fail "no pid file $tmp/g.pid"
fi
if [ -n "$detached" ]; then
	[ "$detached" = "$pid_g" ] && fail "the pid file names the process started ($pid_g)"
	if is_our_daemon "$detached"; then
		pid_g=$detached # from now on, the daemon itself
		if wait_for test -S "$tmp/g.sock"; then
			check_message g "unix:$tmp/g.sock" QG /g
		else
			fail "no socket $tmp/g.sock"
		fi
	else
		fail "the pid file names $detached, which is not a running mtahooks-milter"
		detached=
	fi
fi
result "without -f the daemon detaches: status 0 at once, pid file names the daemon"

# ---- SIGHUP: reload -----------------------------------------------------------------------
# Daemon r starts with the hook "old" at the data stage only. A session is opened and held
# while the file gains the hook "new" (stages mail and data) and another listen, and SIGHUP
# is sent: the held session keeps the old configuration, a new session gets the new one.
# Then a broken file is refused and changes nothing.

reloaded="configuration reloaded from $tmp/r.toml: 2 hooks"
moved="$tmp/r.toml: [milter] listen changed to \"unix:$tmp/r-moved.sock\": a restart is needed for that; still listening on unix:$tmp/r.sock"
refused="error: configuration reload from $tmp/r.toml refused: 2 problems; the configuration in force stays"

begin
if listening r; then
	# shellcheck disable=SC2086 # $limit is a command and its argument, or nothing
	(cd "$tmp" && exec $limit "$MILTERTEST" -D "SOCK=unix:$tmp/r.sock" -D "MTDIR=$mtdir" \
		-D "QID=QR1" -D "READY=$tmp/r.ready" -D "GO=$tmp/r.go" \
		-s "$mtdir/reload-held.lua") </dev/null >"$tmp/mt-r1.out" 2>&1 &
	held_pid=$!
	pids="$pids $held_pid"
	wait_long test -e "$tmp/r.ready" || fail "the held session did not open"
	write_reload "$tmp/r.toml" "unix:$tmp/r-moved.sock" '' \
		'[session.hook."new"]' "url = \"http://127.0.0.1:$port/r-new\"" \
		'stages = ["mail", "data"]' 'timeout = "5s"'
	kill -HUP "$pid_r"
	wait_for has_text "$tmp/r.log" "$reloaded" || fail "no line \"$reloaded\""
	touch "$tmp/r.go"
	if wait_long gone "$held_pid"; then
		wait "$held_pid"
		held_rc=$?
		forget "$held_pid"
		[ "$held_rc" = 0 ] ||
			{ fail "the held session failed (exit $held_rc):"; diag "$tmp/mt-r1.out"; }
	else
		fail "the held session did not end"
	fi
	got=$(requests "$record" /r-old)
	[ "$got" = "1 1" ] || fail "hook old: expected 1 request, for data; got (total data) $got"
	got=$(requests "$record" /r-new)
	[ "$got" = "0 0" ] || fail "hook new was called for the session held over the reload: $got"
	alive "$pid_r" || fail "the daemon died"
else
	fail "the daemon does not run"
fi
[ -s "$why" ] && diag "$tmp/r.log"
result "SIGHUP: a session opened before the reload keeps the configuration it started with"

begin
if listening r; then
	session r2 "unix:$tmp/r.sock" QR2 header ||
		{ fail "miltertest on unix:$tmp/r.sock failed:"; diag "$tmp/mt-r2.out"; }
	got=$(requests "$record" /r-new)
	[ "$got" = "2 1" ] || fail "hook new: expected 2 requests (mail, data); got (total data) $got"
	got=$(requests "$record" /r-old)
	[ "$got" = "2 2" ] || fail "hook old: expected 2 data requests in all; got (total data) $got"
	[ "$(count_text "$tmp/r.log" "$reloaded")" = 1 ] || fail "expected one line \"$reloaded\""
	has_text "$tmp/r.log" "warning: $moved" || fail "no warning \"$moved\""
	[ -e "$tmp/r-moved.sock" ] && fail "a socket was opened at the new listen"
	has_text "$tmp/r.log" "notice: stopped" && fail "the daemon stopped"
else
	fail "the daemon does not run after SIGHUP"
fi
[ -s "$why" ] && diag "$tmp/r.log"
result "SIGHUP: a new session negotiates with the new file and calls the added hook"

# A broken file: a misspelt key in "new" (line 13), an unknown stage in a third hook (17).
begin
if listening r; then
	write_reload "$tmp/r.toml" "unix:$tmp/r.sock" '' \
		'[session.hook."new"]' "url = \"http://127.0.0.1:$port/r-new\"" \
		'stages = ["mail", "data"]' 'timout = "5s"' '' \
		'[session.hook."third"]' "url = \"http://127.0.0.1:$port/r-third\"" \
		'stages = ["data", "helo"]'
	kill -HUP "$pid_r"
	wait_for has_text "$tmp/r.log" "$refused" || fail "no line \"$refused\""
	for want in "error: $tmp/r.toml:13: session.hook.\"new\".timout: unknown key; did you mean \"timeout\"?" \
		"error: $tmp/r.toml:17: session.hook.\"third\".stages: unknown stage \"helo\" (use connect, ehlo, mail, rcpt or data)"; do
		has_text "$tmp/r.log" "$want" || fail "no line \"$want\""
	done
	session r3 "unix:$tmp/r.sock" QR3 header ||
		{ fail "miltertest after the refused reload failed:"; diag "$tmp/mt-r3.out"; }
	got=$(requests "$record" /r-new)
	[ "$got" = "4 2" ] || fail "hook new: expected 4 requests (2 mail, 2 data); got (total data) $got"
	got=$(requests "$record" /r-old)
	[ "$got" = "3 3" ] || fail "hook old: expected 3 data requests in all; got (total data) $got"
	got=$(requests "$record" /r-third)
	[ "$got" = "0 0" ] || fail "hook third, of the refused file, was called: $got"
	[ "$(count_text "$tmp/r.log" "configuration reloaded")" = 1 ] ||
		fail "the broken file was reported as reloaded"
	alive "$pid_r" || fail "the daemon died"
else
	fail "the daemon does not run"
fi
[ -s "$why" ] && diag "$tmp/r.log"
result "SIGHUP with a broken file: each problem and a refusal logged, the hooks in force still called"

# ---- signals -----------------------------------------------------------------------------
# A session is open while the daemon gets SIGTERM: its data hook answers after 6 s, which
# is longer than libmilter takes to notice the signal (at most ~5 s), so that smfi_main
# has returned while the session still waits: the daemon itself must wait for it.

begin
slow_rc=
if listening f; then
	# shellcheck disable=SC2086 # $limit is a command and its argument, or nothing
	(cd "$tmp" && exec $limit "$MILTERTEST" -D "SOCK=unix:$tmp/f.sock" -D "MTDIR=$mtdir" \
		-D "QID=QF" -D "EXPECT=header" -s "$mtdir/cli-session.lua") \
		</dev/null >"$tmp/mt-f.out" 2>&1 &
	mt_pid=$!
	pids="$pids $mt_pid"
	if wait_for grep -q '"path": "/slow"' "$record"; then
		kill -TERM "$pid_f"
	else
		fail "the slow hook never got the request"
	fi
fi
# Everyone else stops now too: b by SIGINT, the rest by SIGTERM.
for name in a c d e h t1 t2 k r s; do
	p=$(pid_of $name)
	[ -n "$p" ] && kill -TERM "$p" 2>/dev/null
done
[ -n "$pid_b" ] && kill -INT "$pid_b" 2>/dev/null
if [ -n "$detached" ] && is_our_daemon "$detached"; then
	kill -TERM "$detached"
fi

if [ -n "${mt_pid:-}" ]; then
	if wait_long gone "$mt_pid"; then
		wait "$mt_pid"
		slow_rc=$?
		forget "$mt_pid"
		[ "$slow_rc" = 0 ] ||
			{ fail "the open session did not end with the hook's header:"; diag "$tmp/mt-f.out"; }
	else
		fail "miltertest did not finish"
	fi
	exit_status f
	[ "$es_rc" = 0 ] || fail "after SIGTERM the daemon exited with $es_rc, expected 0"
	has_line "$tmp/f.log" ': notice: stopped$' || fail "no \"stopped\" in the log"
	got=$(requests "$record" /slow)
	[ "$got" = "1 1" ] || fail "the slow hook got (total data) $got requests, expected 1 1"
	if [ ! -s "$why" ] && ! grep -q 'stopping: waiting for 1 open session' "$tmp/f.log"; then
		echo "# note: the session ended before libmilter noticed SIGTERM, so the daemon's"
		echo "# own wait for open sessions was not exercised this time"
	fi
else
	fail "the daemon with the slow hook does not run"
fi
[ -s "$why" ] && diag "$tmp/f.log"
result "SIGTERM lets an open session finish with the hook's answer, then exits 0"

begin
exit_status a
[ "$es_rc" = 0 ] || fail "exit status $es_rc, expected 0 (124: still running after 15 s)"
has_line "$tmp/a.log" "^mtahooks-milter\\[$pid_a\\]: notice: stopped\$" ||
	fail "no \"notice: stopped\" line"
[ -s "$why" ] && diag "$tmp/a.log"
result "SIGTERM: the daemon logs \"stopped\" and exits 0"

begin
[ -e "$tmp/a.pid" ] && fail "the pid file $tmp/a.pid is still there"
result "-P: the pid file is removed after SIGTERM"

begin
exit_status r
[ "$es_rc" = 0 ] || fail "exit status $es_rc, expected 0 (124: still running after 15 s)"
has_line "$tmp/r.log" "^mtahooks-milter\\[$pid_r\\]: notice: stopped\$" ||
	fail "no \"notice: stopped\" line"
[ -s "$why" ] && diag "$tmp/r.log"
result "SIGTERM still stops a daemon that was reloaded: \"stopped\", exit 0"

begin
exit_status b
[ "$es_rc" = 0 ] || fail "exit status $es_rc, expected 0 (124: still running after 15 s)"
has_line "$tmp/b.log" ': notice: stopped$' || fail "no \"notice: stopped\" line"
[ -s "$why" ] && diag "$tmp/b.log"
result "SIGINT: the daemon logs \"stopped\" and exits 0"

begin
if [ -n "$detached" ]; then
	if wait_long gone "$detached"; then
		detached=
		[ -e "$tmp/g.pid" ] && fail "the pid file $tmp/g.pid is still there"
	else
		fail "the detached daemon $detached still runs 15 s after SIGTERM"
	fi
else
	fail "no detached daemon to stop"
fi
result "the detached daemon stops on SIGTERM to the pid in its pid file"

begin
for name in c d e h t1 t2 k s; do
	[ -n "$(pid_of $name)" ] || continue
	exit_status $name
	if [ "$es_rc" != 0 ]; then
		fail "daemon $name: exit status $es_rc, expected 0"
		diag "$tmp/$name.log" 5
	fi
done
result "every other daemon exits 0 on SIGTERM"

begin
if grep -n 'S3cr3t-Value' "$tmp/k.log" >"$tmp/leak.txt"; then
	fail "the secret is in the log:"
	diag "$tmp/leak.txt"
fi
b64=$(printf 'cli-user:S3cr3t-Value' | base64)
grep -n "$b64" "$tmp/k.log" >"$tmp/leak.txt" &&
	{ fail "the encoded credentials are in the log:"; diag "$tmp/leak.txt"; }
[ -s "$tmp/k.log" ] || fail "the log is empty: nothing was checked"
has_line "$tmp/k.log" ': notice: stopped$' || fail "the log does not reach the stop"
result "the secret never reaches the log (test $secret_case's whole stderr, -v -v)"

begin
no_secret "$tmp/s.log"
[ -s "$tmp/s.log" ] || fail "the log is empty: nothing was checked"
has_line "$tmp/s.log" ': notice: stopped$' || fail "the log does not reach the stop"
has_line "$tmp/s.log" ': debug: ' || fail "no debug line: the log is not that of -v -v -v"
result "no secret (in clear, %{env}%, %{file}%) in the log (test $secrets_case's whole stderr, -v -v -v)"

# ---- -p on start -------------------------------------------------------------------------

begin
run_bounded "$out" "$err" "$daemon" -f -c "$good" -p bogus
rc=$?
[ $rc = 1 ] || fail "exit status $rc, expected 1"
grep -q "bogus" "$err" || { fail "stderr does not name the socket:"; diag "$err"; }
[ -e "$tmp/good.sock" ] && fail "the socket of [milter] listen was created"
result "starting with -p bogus exits 1, saying why"

# A build with -fsanitize=address,undefined writes its reports to stderr, which is each
# daemon's log: none may hold one (LeakSanitizer reports at exit, so this comes last).
begin
for f in "$tmp"/*.log; do
	[ -e "$f" ] || continue
	if grep -Eq 'ERROR: [A-Za-z]*Sanitizer|runtime error: |SUMMARY: [A-Za-z]*Sanitizer' "$f"; then
		fail "a sanitizer report in $(basename "$f"):"
		grep -E -A 12 'ERROR: [A-Za-z]*Sanitizer|runtime error: ' "$f" | head -n 30 >"$tmp/san.txt"
		diag "$tmp/san.txt" 30
	fi
done
result "no sanitizer report in any daemon's log"

if [ $n != 40 ]; then
	echo "# the plan says 40 tests but $n ran"
fi
[ $failed -eq 0 ] || echo "# $failed of $n tests failed"
exit 0
