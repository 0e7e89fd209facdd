#!/bin/sh
# run.sh - the HTTP side against real servers: shared connections, mTLS, HTTP/2, failover,
# signatures and proxies (issue 5; mtahooks-milter.toml(5) says what each key promises)
#
# Run by `make check` (automake's TAP driver) with MILTERTEST, PYTHON3, top_srcdir and
# top_builddir in the environment; runs by hand too (they default to what PATH and the
# script's location give). Prints TAP, one line per scenario.
#
# Pieces, all on loopback or unix sockets, all in a private temporary directory:
#   openssl           a test CA, a second CA nobody trusts, a server certificate for
#                     127.0.0.1 and a client certificate, made here for this run
#   hookserver.py     (tests/lib) hook endpoints, all with the same script and their own
#                     record: H plain HTTP, checking signatures; S the same, refusing
#                     unsigned or badly signed requests (401); M HTTPS requiring a client
#                     certificate from the test CA; T HTTPS capped at TLS 1.2; R a plain
#                     one standing in for an HTTP proxy, recording what reaches it
#   nginx.sh          (tests/lib) a private nginx: h2 over TLS and cleartext h2c, passing
#                     requests to H; its access log tells the protocol and the connection
#   mtahooks-milter   one daemon per scenario (hook id = its name, URL path /name), all
#                     started at once and stopped at once, since libmilter takes seconds
#                     to notice a signal
#   cli-session.lua   (tests/milter) miltertest plays COUNT messages in a session and
#                     checks each gets the hook's header, or 451 4.3.5
#   records.py        reads the hook servers' records
# Scenarios: connection counting (max-connections = 4 and the default 8, for 16
# concurrent sessions x 3 messages; max-connections = 1 with two sessions waiting); mTLS
# and TLS versions (a client certificate, none, a CA that did not sign the server,
# ca-path, min-version 1.2 / 1.3 against a server capped at 1.2); HTTP/2 (h2 by ALPN shared by concurrent sessions, h2c by prior knowledge and
# its reuse); failover (down then up, 500 then up, round-robin, retry-after within and
# past its window, all down, one timeout for the whole hook); signatures (verified, a
# wrong secret, a handler requiring them); proxies (http_proxy ignored unless
# use-proxy); no signing secret in any log.
# A scenario passes when every message ended as expected and the records and logs say
# what the scenario promises. The one bound on time: the whole-hook timeout scenario
# (timeout 3s) must end within 6 s, where a bridge timing out per endpoint takes 9 s. Connections are counted by the hook server's "conn" serial
# (HTTP/1.1) and by nginx's $connection (HTTP/2).
# Without openssl or nginx the scenarios needing them are skipped, saying why; with
# CI=true a missing tool fails them instead. Every wait is bounded; miltertest runs under
# `timeout 60`. Environment: KEEP_TMP=1 keeps the temporary directory.

set -u

MILTERTEST=${MILTERTEST:-$(command -v miltertest 2>/dev/null || true)}
PYTHON3=${PYTHON3:-$(command -v python3 2>/dev/null || true)}
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
mtdir=$top_srcdir/tests/milter
httpdir=$top_srcdir/tests/http
daemon=$top_builddir/src/mtahooks-milter
hookserver=$top_srcdir/tests/lib/hookserver.py
nginxsh=$top_srcdir/tests/lib/nginx.sh
ci=0
[ "${CI:-}" = true ] && ci=1

if [ -z "$MILTERTEST" ] || [ ! -x "$MILTERTEST" ]; then
	[ $ci = 1 ] && { echo "Bail out! miltertest not found (Debian package miltertest)"; exit 1; }
	echo "1..0 # SKIP miltertest not found (Debian package miltertest)"
	exit 0
fi
if [ -z "$PYTHON3" ] || [ ! -x "$PYTHON3" ]; then
	[ $ci = 1 ] && { echo "Bail out! python3 not found"; exit 1; }
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
if [ ! -x "$daemon" ]; then
	echo "Bail out! $daemon not built"
	exit 1
fi
# miltertest waits at most 10 s per read; bound a whole script too, where we can
limit=
command -v timeout >/dev/null 2>&1 && limit="timeout 60"

# A unix socket path must fit in sun_path (108 bytes): keep the directory short.
base=${TMPDIR:-/tmp}
case $base in /*) ;; *) base=/tmp ;; esac
[ ${#base} -gt 60 ] && base=/tmp
tmp=$(mktemp -d "$base/mthttp.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }

pids=''     # every process started and not yet reaped
daemons=''  # the names of the daemons started
nginx_up=0  # nginx.sh started nginx under $tmp/nginx

# alive gone forget wait_tries wait_for wait_long stop (they use $pids)
# shellcheck source=SCRIPTDIR/../lib/proc.sh
. "$top_srcdir/tests/lib/proc.sh"

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ "$nginx_up" = 1 ] && "$nginxsh" stop "$tmp/nginx"
	nginx_up=0
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

# unavailable DESCRIPTION REASON - a case whose tools are missing: skipped, or under
# CI=true failed (CI installs every tool, so a missing one is a broken set-up)
unavailable() {
	n=$((n + 1))
	if [ $ci = 1 ]; then
		failed=$((failed + 1))
		echo "not ok $n - $1"
		echo "# CI=true, and $2"
	else
		echo "ok $n - $1 # SKIP $2"
	fi
}

# ---- helpers ---------------------------------------------------------------------------

# free_port - a loopback TCP port nobody listens on right now (the kernel picks it)
free_port() {
	"$PYTHON3" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# values RECORD PATH FIELD - FIELD of each request at PATH, in order (see records.py)
values() {
	"$PYTHON3" "$httpdir/records.py" values "$@"
}

# count RECORD PATH - how many requests the hook server recorded at PATH
count() {
	values "$1" "$2" n | wc -l | tr -d ' '
}

# distinct RECORD PATH FIELD - how many different values FIELD takes at PATH
distinct() {
	values "$1" "$2" "$3" | sort -u | wc -l | tr -d ' '
}

# all_are RECORD PATH FIELD VALUE - every request at PATH has FIELD = VALUE (and there is
# at least one)
all_are() {
	[ "$(count "$1" "$2")" -gt 0 ] || return 1
	! values "$1" "$2" "$3" | grep -qvxF -- "$4"
}

# hook_config NAME LINE... - the configuration of daemon NAME: it listens on
# unix:$tmp/NAME.sock and has one data hook "NAME"; the LINEs go into the hook's table
# as they are (url/urls first, then any sub-tables)
hook_config() {
	hc_name=$1
	shift
	{
		echo "# written by tests/http/run.sh"
		echo "[milter]"
		echo "listen = \"unix:$tmp/$hc_name.sock\""
		echo ""
		echo "[session.hook.\"$hc_name\"]"
		echo 'stages = ["data"]'
		for hc_line in "$@"; do
			echo "$hc_line"
		done
	} >"$tmp/$hc_name.toml"
	chmod 600 "$tmp/$hc_name.toml"
}

# start NAME [VAR=VALUE...] - start daemon NAME (-f -v -v) with its configuration, in an
# environment without any proxy setting but the VAR=VALUEs given; log: $tmp/NAME.log
start() {
	st_name=$1
	shift
	env -u http_proxy -u https_proxy -u all_proxy -u no_proxy -u HTTP_PROXY \
		-u HTTPS_PROXY -u ALL_PROXY -u NO_PROXY "$@" \
		"$daemon" -f -v -v -c "$tmp/$st_name.toml" </dev/null >"$tmp/$st_name.out" \
		2>"$tmp/$st_name.log" &
	eval "pid_$st_name=$!"
	pids="$pids $!"
	daemons="$daemons $st_name"
}

# pid_of NAME - the pid of daemon NAME
pid_of() {
	eval "echo \"\${pid_$1:-}\""
}

# listening NAME - daemon NAME runs and said it listens
listening() {
	alive "$(pid_of "$1")" && grep -q "listening on" "$tmp/$1.log" && test -S "$tmp/$1.sock"
}

# settled NAME - daemon NAME listens, or has ended (a configuration it refused)
# shellcheck disable=SC2317 # called through wait_for
settled() {
	listening "$1" || gone "$(pid_of "$1")"
}

# ready NAME - the daemon listens; else a complaint with its log (true when it listens)
ready() {
	listening "$1" && return 0
	fail "the daemon $1 does not run or does not listen:"
	diag "$tmp/$1.log"
	diag "$tmp/$1.toml" 40
	return 1
}

# session NAME QID EXPECT [COUNT] - miltertest plays COUNT messages (default 1) in one
# session on daemon NAME, expecting the hook's header or tempfail (cli-session.lua);
# complains when that fails. Its output: $tmp/mt-QID.out
session() {
	# shellcheck disable=SC2086 # $limit is a command and its argument, or nothing
	if ! (cd "$tmp" && $limit "$MILTERTEST" -D "SOCK=unix:$tmp/$1.sock" -D "MTDIR=$mtdir" \
		-D "QID=$2" -D "EXPECT=$3" -D "COUNT=${4:-1}" -s "$mtdir/cli-session.lua") \
		</dev/null >"$tmp/mt-$2.out" 2>&1; then
		fail "miltertest on daemon $1 (queue id $2, expecting $3) failed:"
		diag "$tmp/mt-$2.out"
		return 1
	fi
	return 0
}

# burst NAME QID SESSIONS COUNT [EXPECT] - SESSIONS miltertest sessions at once on daemon
# NAME, COUNT messages each, every one expecting EXPECT (cli-session.lua's: header, the
# default, or tempfail); complains about each that failed. Queue ids: QID<session>-<message>.
burst() {
	bu_expect=${5:-header}
	bu_pids=''
	bu_i=0
	while [ $bu_i -lt "$3" ]; do
		bu_i=$((bu_i + 1))
		# shellcheck disable=SC2086 # $limit is a command and its argument, or nothing
		(cd "$tmp" && exec $limit "$MILTERTEST" -D "SOCK=unix:$tmp/$1.sock" \
			-D "MTDIR=$mtdir" -D "QID=$2$bu_i-" -D "EXPECT=$bu_expect" -D "COUNT=$4" \
			-s "$mtdir/cli-session.lua") </dev/null >"$tmp/mt-$2$bu_i.out" 2>&1 &
		bu_pids="$bu_pids $!"
		pids="$pids $!"
	done
	bu_i=0
	for bu_pid in $bu_pids; do
		bu_i=$((bu_i + 1))
		wait "$bu_pid"
		bu_rc=$?
		forget "$bu_pid"
		if [ $bu_rc != 0 ]; then
			fail "session $bu_i of $3 failed (exit $bu_rc):"
			diag "$tmp/mt-$2$bu_i.out" 8
		fi
	done
}

# error_lines NAME - the lines of daemon NAME's log that report an error of its hook
error_lines() {
	grep -E "hook=$1 .*error=" "$tmp/$1.log"
}

# final_errors NAME QID - how many lines report the error the hook's policy was applied to
final_errors() {
	grep -cE "hook=$1 stage=data qid=$2 error=.* policy=" "$tmp/$1.log"
}

# tls_error NAME QID - the message got the error policy for a TLS problem: one final error
# line, and an error line of the hook names TLS, SSL, a certificate or the handshake
tls_error() {
	got=$(final_errors "$1" "$2")
	[ "$got" = 1 ] || fail "expected one error line \"hook=$1 stage=data qid=$2 error=... policy=...\", got $got"
	error_lines "$1" | grep -qiE 'error=tls|tls|ssl|certificate|handshake' ||
		fail "no error line of hook $1 names the TLS problem"
}

# now_ms - the time in milliseconds
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# ---- the plan --------------------------------------------------------------------------

plan=25
echo "1..$plan"

have_openssl=0
command -v openssl >/dev/null 2>&1 && have_openssl=1
NGINX=${NGINX:-$(command -v nginx 2>/dev/null || true)}
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
export NGINX PYTHON3

sigsecret='hook-signing-S3cret'  # what H and S check against
badsecret='not-the-S3cret'       # a bridge configured with the wrong one

# ---- certificates ----------------------------------------------------------------------

pki=$tmp/pki
tls_ok=0
tls_why=
if [ $have_openssl = 0 ]; then
	tls_why="openssl not found (Debian package openssl)"
else
	mkdir "$pki" "$pki/capath"
	cat >"$pki/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
EOF
	# mkcert NAME CN EXT [CA] - a P-256 key and certificate: self-signed with EXT "ca",
	# else signed by CA
	mkcert() {
		if [ "$3" = ca ]; then
			openssl req -x509 -config "$pki/openssl.cnf" -extensions ca -newkey ec \
				-pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$2" -days 2 \
				-keyout "$pki/$1.key" -out "$pki/$1.pem"
		else
			openssl req -new -config "$pki/openssl.cnf" -newkey ec \
				-pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$2" \
				-keyout "$pki/$1.key" -out "$pki/$1.csr" &&
				openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$4.pem" -CAkey "$pki/$4.key" \
					-set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
					-days 2 -extfile "$pki/openssl.cnf" -extensions "$3" -out "$pki/$1.pem"
		fi
	}
	if mkcert ca "mtahooks test CA" ca && mkcert other "mtahooks other CA" ca &&
		mkcert server 127.0.0.1 server ca && mkcert client mtahooks-bridge client ca &&
		hash=$(openssl x509 -hash -noout -in "$pki/ca.pem") &&
		cp "$pki/ca.pem" "$pki/capath/$hash.0"; then
		tls_ok=1
	else
		tls_why="could not make the test certificates"
	fi >"$pki/openssl.log" 2>&1
	[ $tls_ok = 1 ] || sed 's/^/# openssl: /' "$pki/openssl.log" | tail -n 20
fi

# ---- hook servers ----------------------------------------------------------------------

script=$tmp/script.json
cat >"$script" <<'EOF'
{"rules": [
  {"when": {"path": "/fo500-1"}, "status": 500, "json": {"error": "scripted 500"}},
  {"when": {"path": "/ra-1"}, "status": 500, "json": {"error": "scripted 500"}},
  {"when": {"path": "/rb-1"}, "status": 500, "json": {"error": "scripted 500"}},
  {"when": {"path": "/ccbusy"}, "delay": 4, "json": {"action": "accept"}},
  {"when": {"path": "/fotime-1"}, "delay": 8, "json": {"action": "accept"}},
  {"when": {"path": "/fotime-2"}, "delay": 8, "json": {"action": "accept"}},
  {"when": {"path": "/fotime-3"}, "delay": 8, "json": {"action": "accept"}},
  {"when": {"path": "/cc4"}, "delay": 0.2,
   "json": {"action": "accept", "modifications":
            [{"type": "addHeader", "name": "X-Cli-Hook", "value": "ok"}]}},
  {"when": {"path": "/ccd"}, "delay": 0.2,
   "json": {"action": "accept", "modifications":
            [{"type": "addHeader", "name": "X-Cli-Hook", "value": "ok"}]}},
  {"when": {"path": "/h2"}, "delay": 0.3,
   "json": {"action": "accept", "modifications":
            [{"type": "addHeader", "name": "X-Cli-Hook", "value": "ok"}]}}],
 "default": {"json": {"action": "accept", "modifications":
                      [{"type": "addHeader", "name": "X-Cli-Hook", "value": "ok"}]}}}
EOF

# hook NAME ARG... - start a hook server NAME with its own record $tmp/NAME.jsonl; its
# port in $tmp/NAME.port (empty when it did not start)
hook() {
	hk_name=$1
	shift
	"$PYTHON3" "$hookserver" --port-file "$tmp/$hk_name.port" --script "$script" \
		--record "$tmp/$hk_name.jsonl" "$@" </dev/null >/dev/null 2>"$tmp/hook-$hk_name.log" &
	pids="$pids $!"
}

hook H --signature-secret "$sigsecret"
hook S --signature-secret "$sigsecret" --signature-required
hook R
if [ $tls_ok = 1 ]; then
	hook M --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" --tls-ca "$pki/ca.pem" \
		--tls-require-client-cert
	hook T --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" --tls-max-version 1.2
fi
for name in H S R; do
	if ! wait_for test -s "$tmp/$name.port"; then
		echo "Bail out! hook server $name did not start"
		sed 's/^/# /' "$tmp/hook-$name.log"
		exit 1
	fi
done
H=$(cat "$tmp/H.port")
S=$(cat "$tmp/S.port")
R=$(cat "$tmp/R.port")
M='' T=''
if [ $tls_ok = 1 ]; then
	if wait_for test -s "$tmp/M.port" && wait_for test -s "$tmp/T.port"; then
		M=$(cat "$tmp/M.port")
		T=$(cat "$tmp/T.port")
	else
		tls_ok=0
		tls_why="the HTTPS hook servers did not start"
		sed 's/^/# /' "$tmp/hook-M.log" "$tmp/hook-T.log"
	fi
fi
hrec=$tmp/H.jsonl

# ---- nginx -----------------------------------------------------------------------------

h2_ok=0
h2_why=
if [ -z "$NGINX" ]; then
	h2_why="nginx not found (Debian package nginx-light)"
elif [ $tls_ok = 0 ]; then
	h2_why="no test certificate for nginx: $tls_why"
else
	mkdir "$tmp/nginx"
	if "$nginxsh" start "$tmp/nginx" "$H" "$pki/server.pem" "$pki/server.key" \
		>"$tmp/nginx-start.log" 2>&1; then
		nginx_up=1
		h2_ok=1
		NGS=$(cat "$tmp/nginx/https.port")
		NGC=$(cat "$tmp/nginx/h2c.port")
	else
		h2_why="nginx did not start"
		sed 's/^/# /' "$tmp/nginx-start.log"
	fi
fi
ngxlog=$tmp/nginx/logs/access.log

# nginx_lines PATH - the access log lines for requests at PATH
nginx_lines() {
	awk -v p="$1" '$6 == p' "$ngxlog" 2>/dev/null
}

# nginx_has PATH N - the access log has N lines (at least) for requests at PATH
# shellcheck disable=SC2317 # called through wait_for
nginx_has() {
	[ "$(nginx_lines "$1" | wc -l)" -ge "$2" ]
}

# ---- daemons ---------------------------------------------------------------------------
# All start now, and all are stopped at the end.

dead1=$(free_port)
dead2=$(free_port)
while [ "$dead2" = "$dead1" ]; do dead2=$(free_port); done

# connection counting
hook_config cc4 "url = \"http://127.0.0.1:$H/cc4\"" 'timeout = "20s"' \
	'[session.hook."cc4".options]' 'max-connections = 4'
hook_config ccd "url = \"http://127.0.0.1:$H/ccd\"" 'timeout = "20s"'
hook_config ccbusy "url = \"http://127.0.0.1:$H/ccbusy\"" 'timeout = "2s"' \
	'[session.hook."ccbusy".options]' 'max-connections = 1'
start cc4
start ccd
start ccbusy

# signatures
hook_config sigok "url = \"http://127.0.0.1:$H/sigok\"" 'timeout = "10s"' \
	'[session.hook."sigok".signature]' "secret = \"$sigsecret\""
hook_config sigbad "url = \"http://127.0.0.1:$H/sigbad\"" 'timeout = "10s"' \
	'[session.hook."sigbad".signature]' "secret = \"$badsecret\""
hook_config sigreq "url = \"http://127.0.0.1:$S/sigreq\"" 'timeout = "10s"' \
	'[session.hook."sigreq".signature]' "secret = \"$badsecret\""
start sigok
start sigbad
start sigreq

# failover
hook_config fodead "urls = [\"http://127.0.0.1:$dead1/fodead-1\", \"http://127.0.0.1:$H/fodead-2\"]" \
	'timeout = "10s"'
hook_config fo500 "urls = [\"http://127.0.0.1:$H/fo500-1\", \"http://127.0.0.1:$H/fo500-2\"]" \
	'timeout = "10s"'
hook_config rr "urls = [\"http://127.0.0.1:$H/rr-a\", \"http://127.0.0.1:$H/rr-b\"]" \
	'timeout = "10s"' '[session.hook."rr".options]' 'balance = "round-robin"'
hook_config ra "urls = [\"http://127.0.0.1:$H/ra-1\", \"http://127.0.0.1:$H/ra-2\"]" \
	'timeout = "10s"' '[session.hook."ra".options]' 'retry-after = "60s"'
hook_config rb "urls = [\"http://127.0.0.1:$H/rb-1\", \"http://127.0.0.1:$H/rb-2\"]" \
	'timeout = "10s"' '[session.hook."rb".options]' 'retry-after = "2s"'
hook_config foall "urls = [\"http://127.0.0.1:$dead1/foall-1\", \"http://127.0.0.1:$dead2/foall-2\"]" \
	'timeout = "10s"'
hook_config fotime "urls = [\"http://127.0.0.1:$H/fotime-1\", \"http://127.0.0.1:$H/fotime-2\", \"http://127.0.0.1:$H/fotime-3\"]" \
	'timeout = "3s"'
for name in fodead fo500 rr ra rb foall fotime; do
	start $name
done

# proxy: R stands in for the proxy the environment names
proxy=http://127.0.0.1:$R
hook_config proxyoff "url = \"http://127.0.0.1:$H/proxyoff\"" 'timeout = "10s"'
hook_config proxyon "url = \"http://127.0.0.1:$H/proxyon\"" 'timeout = "10s"' \
	'[session.hook."proxyon".options]' 'use-proxy = true'
for name in proxyoff proxyon; do
	start $name "http_proxy=$proxy" "https_proxy=$proxy" "all_proxy=$proxy" \
		"HTTPS_PROXY=$proxy" "ALL_PROXY=$proxy"
done

# TLS: mTLS against M, TLS versions against T
if [ $tls_ok = 1 ]; then
	hook_config mok "url = \"https://127.0.0.1:$M/mok\"" 'timeout = "10s"' \
		'[session.hook."mok".tls]' "ca-file = \"$pki/ca.pem\"" \
		"cert-file = \"$pki/client.pem\"" "key-file = \"$pki/client.key\""
	hook_config mnocert "url = \"https://127.0.0.1:$M/mnocert\"" 'timeout = "10s"' \
		'[session.hook."mnocert".tls]' "ca-file = \"$pki/ca.pem\""
	hook_config mwrongca "url = \"https://127.0.0.1:$M/mwrongca\"" 'timeout = "10s"' \
		'[session.hook."mwrongca".tls]' "ca-file = \"$pki/other.pem\"" \
		"cert-file = \"$pki/client.pem\"" "key-file = \"$pki/client.key\""
	hook_config mcapath "url = \"https://127.0.0.1:$M/mcapath\"" 'timeout = "10s"' \
		'[session.hook."mcapath".tls]' "ca-path = \"$pki/capath\"" \
		"cert-file = \"$pki/client.pem\"" "key-file = \"$pki/client.key\""
	hook_config t12 "url = \"https://127.0.0.1:$T/t12\"" 'timeout = "10s"' \
		'[session.hook."t12".tls]' "ca-file = \"$pki/ca.pem\"" 'min-version = "1.2"'
	hook_config t13 "url = \"https://127.0.0.1:$T/t13\"" 'timeout = "10s"' \
		'[session.hook."t13".tls]' "ca-file = \"$pki/ca.pem\"" 'min-version = "1.3"'
	for name in mok mnocert mwrongca mcapath t12 t13; do
		start $name
	done
fi

# HTTP/2 through nginx
if [ $h2_ok = 1 ]; then
	hook_config h2 "url = \"https://127.0.0.1:$NGS/h2\"" 'timeout = "20s"' \
		'[session.hook."h2".tls]' "ca-file = \"$pki/ca.pem\""
	hook_config h2c "url = \"http://127.0.0.1:$NGC/h2c\"" 'timeout = "10s"' \
		'[session.hook."h2c".options]' 'http2-prior-knowledge = true'
	start h2
	start h2c
fi

for name in $daemons; do
	wait_for settled "$name"
done

# ---- connection counting ---------------------------------------------------------------
# 16 sessions at once, 3 messages each; the hook answers after 0.2 s, so many requests
# are in flight together. Each TCP connection gets a serial in the hook server.

begin
if ready cc4; then
	burst cc4 QCC4 16 3
	got=$(count "$hrec" /cc4)
	[ "$got" = 48 ] || fail "the hook got $got requests, expected 48 (16 sessions x 3)"
	all_are "$hrec" /cc4 stage data || fail "not every request was for the data stage"
	conns=$(distinct "$hrec" /cc4 conn)
	[ "$conns" -le 4 ] || fail "$conns TCP connections for max-connections = 4"
	[ "$conns" -ge 1 ] || fail "no connection was counted"
fi
[ -s "$why" ] && diag "$tmp/cc4.log"
result "max-connections = 4: 16 concurrent sessions x 3 messages reach the hook over at most 4 connections"
echo "# max-connections = 4: $(count "$hrec" /cc4) requests over $(distinct "$hrec" /cc4 conn) connections"

begin
if ready ccd; then
	burst ccd QCCD 16 3
	got=$(count "$hrec" /ccd)
	[ "$got" = 48 ] || fail "the hook got $got requests, expected 48 (16 sessions x 3)"
	all_are "$hrec" /ccd http 1.1 ||
		fail "not every request was HTTP/1.1: $(values "$hrec" /ccd http | sort | uniq -c | tr '\n' ' ')"
	conns=$(distinct "$hrec" /ccd conn)
	# the default max-connections is 8 (mtahooks-milter.toml(5)); 48 / 4 = 12 would
	# already be "far fewer" than one connection per message
	[ "$conns" -le 8 ] || fail "$conns TCP connections for 48 messages with the default max-connections (8)"
fi
[ -s "$why" ] && diag "$tmp/ccd.log"
result "default max-connections: 48 messages from 16 concurrent sessions over at most 8 HTTP/1.1 connections"
echo "# default max-connections: $(count "$hrec" /ccd) requests over $(distinct "$hrec" /ccd conn) connections"

# max-connections = 1 and a hook answering after 4 s, timeout = "2s", two sessions at once:
# the first holds the only connection and times out in its transfer. The second waits for
# that connection: it times out waiting, or (it came a moment later) takes the connection
# as the first lets go and times out there. Either way both get 451, and the hook never
# has two requests at once: a second request arrives only once the first has timed out.
begin
if ready ccbusy; then
	burst ccbusy QCB 2 1 tempfail
	got=$(count "$hrec" /ccbusy)
	if [ "$got" -lt 1 ] || [ "$got" -gt 2 ]; then fail "the hook got $got requests, expected 1 or 2"; fi
	if [ "$got" = 2 ]; then
		apart=$(values "$hrec" /ccbusy t | sort -n | awk 'NR == 1 { a = $1 } NR == 2 { printf "%d", ($1 - a) * 1000 }')
		[ "$apart" -ge 1500 ] ||
			fail "the second request came $apart ms after the first: a second connection was opened"
	fi
	got=$(grep -cE "hook=ccbusy stage=data qid=QCB[12]- error=timeout reason=.* policy=tempfail" "$tmp/ccbusy.log")
	[ "$got" = 2 ] || fail "expected two timeout lines with the policy, got $got"
	if [ "$(count "$hrec" /ccbusy)" = 1 ]; then
		grep -q "error=timeout reason=no connection within the hook's timeout (2000 ms): all max-connections (1) busy" "$tmp/ccbusy.log" ||
			fail "one request reached the hook, but no line says the other found max-connections (1) busy"
	fi
fi
[ -s "$why" ] && diag "$tmp/ccbusy.log"
result "max-connections = 1, two sessions at once: one connection at a time, both 451 at the timeout"
echo "# max-connections = 1: $(count "$hrec" /ccbusy) requests reached the hook; $(grep -c 'max-connections (1) busy' "$tmp/ccbusy.log") session(s) timed out waiting for the connection"

# ---- mTLS and TLS versions -------------------------------------------------------------

if [ $tls_ok = 0 ]; then
	for d in "mTLS: client certificate and ca-file: accepted, the hook saw the certificate" \
		"mTLS: no client certificate: 451 4.3.5 and an error line naming the TLS problem" \
		"mTLS: a ca-file that did not sign the server's certificate: 451 4.3.5, TLS error" \
		"mTLS: ca-path (a hashed directory) and a client certificate: accepted" \
		"min-version = \"1.2\" against a server capped at TLS 1.2: accepted over TLS 1.2" \
		"min-version = \"1.3\" against a server capped at TLS 1.2: 451 4.3.5, TLS error"; do
		unavailable "$d" "$tls_why"
	done
else
	begin
	if ready mok; then
		session mok QMOK header
		got=$(count "$tmp/M.jsonl" /mok)
		[ "$got" = 1 ] || fail "the hook got $got requests, expected 1"
		all_are "$tmp/M.jsonl" /mok client_cert mtahooks-bridge ||
			fail "the hook did not see the client certificate mtahooks-bridge: $(values "$tmp/M.jsonl" /mok client_cert | tr '\n' ' ')"
		error_lines mok >/dev/null && fail "an error was logged"
	fi
	[ -s "$why" ] && diag "$tmp/mok.log"
	result "mTLS: client certificate and ca-file: accepted, the hook saw the certificate"

	begin
	if ready mnocert; then
		session mnocert QMNC tempfail
		got=$(count "$tmp/M.jsonl" /mnocert)
		[ "$got" = 0 ] || fail "the hook got $got requests without a client certificate"
		tls_error mnocert QMNC
	fi
	[ -s "$why" ] && diag "$tmp/mnocert.log"
	result "mTLS: no client certificate: 451 4.3.5 and an error line naming the TLS problem"

	begin
	if ready mwrongca; then
		session mwrongca QMWC tempfail
		got=$(count "$tmp/M.jsonl" /mwrongca)
		[ "$got" = 0 ] || fail "the hook got $got requests over an unverified server certificate"
		tls_error mwrongca QMWC
	fi
	[ -s "$why" ] && diag "$tmp/mwrongca.log"
	result "mTLS: a ca-file that did not sign the server's certificate: 451 4.3.5, TLS error"

	begin
	if ready mcapath; then
		session mcapath QMCP header
		all_are "$tmp/M.jsonl" /mcapath client_cert mtahooks-bridge ||
			fail "the hook did not get one request with the client certificate"
	fi
	[ -s "$why" ] && diag "$tmp/mcapath.log"
	result "mTLS: ca-path (a hashed directory) and a client certificate: accepted"

	begin
	if ready t12; then
		session t12 QT12 header
		all_are "$tmp/T.jsonl" /t12 tls TLSv1.2 ||
			fail "the hook did not get a request over TLSv1.2: $(values "$tmp/T.jsonl" /t12 tls | tr '\n' ' ')"
	fi
	[ -s "$why" ] && diag "$tmp/t12.log"
	result "min-version = \"1.2\" against a server capped at TLS 1.2: accepted over TLS 1.2"

	begin
	if ready t13; then
		session t13 QT13 tempfail
		got=$(count "$tmp/T.jsonl" /t13)
		[ "$got" = 0 ] || fail "the hook got $got requests below min-version"
		tls_error t13 QT13
	fi
	[ -s "$why" ] && diag "$tmp/t13.log"
	result "min-version = \"1.3\" against a server capped at TLS 1.2: 451 4.3.5, TLS error"
fi

# ---- HTTP/2 ----------------------------------------------------------------------------

if [ $h2_ok = 0 ]; then
	unavailable "h2 by ALPN through nginx: 8 concurrent sessions share one HTTP/2.0 connection" \
		"$h2_why"
	unavailable "h2c with http2-prior-knowledge = true: nginx logs HTTP/2.0" "$h2_why"
	unavailable "h2c: the next message goes on the same HTTP/2.0 connection" "$h2_why"
else
	# 8 sessions at once, 2 messages each; the hook answers after 0.3 s, so the
	# requests overlap: over HTTP/1.1 they would need up to 8 connections.
	begin
	if ready h2; then
		burst h2 QH2 8 2
		# nginx logs a request as it closes its stream, which can come just after the
		# client read the whole answer: give it up to 5 s
		wait_for nginx_has /h2 16
		nginx_lines /h2 >"$tmp/h2.lines"
		got=$(wc -l <"$tmp/h2.lines" | tr -d ' ')
		[ "$got" = 16 ] || fail "nginx logged $got requests at /h2, expected 16"
		other=$(awk '$4 != "HTTP/2.0"' "$tmp/h2.lines" | wc -l | tr -d ' ')
		[ "$other" = 0 ] || fail "$other requests were not HTTP/2.0"
		conns=$(awk '{ print $2 }' "$tmp/h2.lines" | sort -u | wc -l | tr -d ' ')
		# one connection, or two should a second be opened while the first handshakes
		[ "$conns" -le 2 ] || fail "$conns connections for 8 concurrent sessions"
		[ -s "$why" ] && diag "$tmp/h2.lines" 16
	fi
	[ -s "$why" ] && diag "$tmp/h2.log"
	result "h2 by ALPN through nginx: 8 concurrent sessions share one HTTP/2.0 connection"

	# Two messages, one after the other: the first opens the h2c connection, the
	# second must be sent on it. (libcurl before 8.0.0 fails to reuse a prior-knowledge
	# connection, "Error in the HTTP2 framing layer": curl issue 10634.)
	begin
	if ready h2c; then
		session h2c QH2C1 header
		wait_for nginx_has /h2c 1
		nginx_lines /h2c >"$tmp/h2c.lines"
		got=$(sed -n 1p "$tmp/h2c.lines" | awk '{ print $4 }')
		[ "$got" = HTTP/2.0 ] || fail "the first message went as \"$got\", not HTTP/2.0"
		[ -s "$why" ] && diag "$tmp/h2c.lines"
	fi
	[ -s "$why" ] && diag "$tmp/h2c.log"
	result "h2c with http2-prior-knowledge = true: nginx logs HTTP/2.0"

	begin
	if ready h2c; then
		session h2c QH2C2 header
		wait_for nginx_has /h2c 2
		nginx_lines /h2c >"$tmp/h2c.lines"
		got=$(wc -l <"$tmp/h2c.lines" | tr -d ' ')
		[ "$got" = 2 ] || fail "nginx logged $got requests at /h2c, expected 2"
		other=$(awk '$4 != "HTTP/2.0"' "$tmp/h2c.lines" | wc -l | tr -d ' ')
		[ "$other" = 0 ] || fail "$other requests were not HTTP/2.0"
		conns=$(awk '{ print $2 }' "$tmp/h2c.lines" | sort -u | wc -l | tr -d ' ')
		[ "$conns" = 1 ] || fail "the two messages used $conns connections"
		error_lines h2c >"$tmp/h2c.errors" && { fail "errors were logged:"; diag "$tmp/h2c.errors"; }
		[ -s "$why" ] && diag "$tmp/h2c.lines"
	fi
	[ -s "$why" ] && diag "$tmp/h2c.log"
	result "h2c: the next message goes on the same HTTP/2.0 connection"
fi

# ---- failover --------------------------------------------------------------------------

begin
if ready fodead; then
	session fodead QFD header
	got=$(count "$hrec" /fodead-2)
	[ "$got" = 1 ] || fail "the second endpoint got $got requests, expected 1"
	grep -q "127.0.0.1:$dead1" "$tmp/fodead.log" ||
		fail "no log line names the first endpoint (127.0.0.1:$dead1), which is down"
	[ "$(final_errors fodead QFD)" = 0 ] || fail "the error policy was applied"
fi
[ -s "$why" ] && diag "$tmp/fodead.log"
result "urls = [down, up]: the second endpoint answers; the first's failure is logged"

begin
if ready fo500; then
	session fo500 QF5 header
	values "$hrec" '*' path | grep -E '^/fo500-[12]$' | tr '\n' ' ' >"$tmp/order"
	[ "$(cat "$tmp/order")" = "/fo500-1 /fo500-2 " ] ||
		fail "expected /fo500-1 (500) then /fo500-2, got: $(cat "$tmp/order")"
	[ "$(final_errors fo500 QF5)" = 0 ] || fail "the error policy was applied"
fi
[ -s "$why" ] && diag "$tmp/fo500.log"
result "urls = [answers 500, up]: the second endpoint is asked next and answers"

begin
if ready rr; then
	session rr QRR header 4
	values "$hrec" '*' path | grep -E '^/rr-[ab]$' | tr '\n' ' ' >"$tmp/order"
	case $(cat "$tmp/order") in
	"/rr-a /rr-b /rr-a /rr-b " | "/rr-b /rr-a /rr-b /rr-a ") ;;
	*) fail "4 messages in turn did not alternate between the endpoints: $(cat "$tmp/order")" ;;
	esac
fi
[ -s "$why" ] && diag "$tmp/rr.log"
result "balance = \"round-robin\": messages alternate between two live endpoints"

begin
if ready ra; then
	session ra QRA header 4
	got=$(count "$hrec" /ra-1)
	[ "$got" = 1 ] || fail "the failing endpoint was asked $got times within retry-after = 60s, expected once"
	got=$(count "$hrec" /ra-2)
	[ "$got" = 4 ] || fail "the second endpoint got $got requests, expected 4"
fi
[ -s "$why" ] && diag "$tmp/ra.log"
result "retry-after = 60s: an endpoint that answered 500 is skipped for the next messages"

begin
if ready rb; then
	session rb QRB1 header
	sleep 3 # past retry-after = 2s
	session rb QRB2 header
	got=$(count "$hrec" /rb-1)
	[ "$got" = 2 ] || fail "the failing endpoint was asked $got times, expected 2 (once per message, 3 s apart)"
	got=$(count "$hrec" /rb-2)
	[ "$got" = 2 ] || fail "the second endpoint got $got requests, expected 2"
fi
[ -s "$why" ] && diag "$tmp/rb.log"
result "retry-after = 2s: once the window has passed the failed endpoint is tried again"

begin
if ready foall; then
	session foall QFA tempfail
	got=$(final_errors foall QFA)
	[ "$got" = 1 ] || fail "expected one line \"hook=foall stage=data qid=QFA error=... policy=...\", got $got"
fi
[ -s "$why" ] && diag "$tmp/foall.log"
result "urls all down: the error policy applies (451 4.3.5), logged once"

# Three endpoints that answer after 8 s, timeout = "3s": a bridge spending the timeout
# on each would take 9 s or more; the hook's timeout bounds the whole. The bound checked
# is twice the timeout, so a slow machine does not make it fail.
begin
if ready fotime; then
	t0=$(now_ms)
	session fotime QFT tempfail
	t1=$(now_ms)
	took=$((t1 - t0))
	[ $took -le 6000 ] || fail "the message took $took ms with timeout = 3s"
	[ "$(final_errors fotime QFT)" = 1 ] || fail "no single error line with the policy"
fi
[ -s "$why" ] && diag "$tmp/fotime.log"
result "timeout bounds the hook as a whole: 3 endpoints that hang, timeout 3s, 451 in under 6 s"
[ -n "${took:-}" ] && echo "# the session with timeout = 3s took $took ms"

# ---- signatures ------------------------------------------------------------------------

begin
if ready sigok; then
	session sigok QSIG header 3
	got=$(count "$hrec" /sigok)
	[ "$got" = 3 ] || fail "the hook got $got requests, expected 3"
	all_are "$hrec" /sigok signature ok ||
		fail "not every signature verified: $(values "$hrec" /sigok signature | tr '\n' ' ')"
fi
[ -s "$why" ] && diag "$tmp/sigok.log"
result "signature: every request verifies (HMAC-SHA256 of timestamp.body, fresh timestamp)"

begin
if ready sigbad; then
	session sigbad QSB header
	all_are "$hrec" /sigbad signature bad ||
		fail "the hook server did not find the signature bad: $(values "$hrec" /sigbad signature | tr '\n' ' ')"
fi
[ -s "$why" ] && diag "$tmp/sigbad.log"
result "signature with the wrong secret: the hook server finds it bad"

begin
if ready sigreq; then
	session sigreq QSR tempfail
	all_are "$tmp/S.jsonl" /sigreq signature bad ||
		fail "the hook server did not get one badly signed request: $(values "$tmp/S.jsonl" /sigreq signature | tr '\n' ' ')"
	[ "$(final_errors sigreq QSR)" = 1 ] || fail "no single error line with the policy"
fi
[ -s "$why" ] && diag "$tmp/sigreq.log"
result "signature refused by the handler (401): the error policy applies, 451 4.3.5"

# ---- proxy -----------------------------------------------------------------------------

begin
if ready proxyoff; then
	session proxyoff QPOFF header
	got=$(count "$hrec" /proxyoff)
	[ "$got" = 1 ] || fail "the hook got $got direct requests, expected 1"
	got=$(count "$tmp/R.jsonl" '*')
	[ "$got" = 0 ] || fail "the proxy named by http_proxy got $got requests"
fi
[ -s "$why" ] && diag "$tmp/proxyoff.log"
result "http_proxy set, use-proxy not: the hook is reached directly, the proxy sees nothing"

begin
if ready proxyon; then
	session proxyon QPON header
	got=$(count "$tmp/R.jsonl" /proxyon)
	[ "$got" = 1 ] || fail "the proxy got $got requests for /proxyon, expected 1"
	got=$(count "$hrec" /proxyon)
	[ "$got" = 0 ] || fail "the hook got $got direct requests"
fi
[ -s "$why" ] && diag "$tmp/proxyon.log"
result "use-proxy = true: the request goes through the proxy http_proxy names"

# ---- secrets ---------------------------------------------------------------------------

begin
for name in $daemons; do
	if grep -n -e "$sigsecret" -e "$badsecret" "$tmp/$name.log" >"$tmp/leak.txt"; then
		fail "a signing secret is in the log of $name:"
		diag "$tmp/leak.txt"
	fi
done
[ -s "$tmp/sigok.log" ] || fail "the log of sigok is empty: nothing was checked"
result "the signing secrets never reach a log line (every daemon, -v -v)"

if [ $n != $plan ]; then
	echo "# the plan says $plan tests but $n ran"
fi
[ $failed -eq 0 ] || echo "# $failed of $n tests failed"
exit 0
