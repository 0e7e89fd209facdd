#!/bin/sh
# run.sh - what contrib/ ships, tested: the example configurations pass -n, the systemd unit
# passes systemd-analyze, and the example policy handlers do what they say behind the real
# daemon.
#
# Run by `make check` (automake's TAP driver) with MILTERTEST, PYTHON3, top_srcdir and
# top_builddir in the environment; runs by hand too (they default to what PATH and the
# script's location give). Prints TAP, one line per case:
#   - every contrib/**/*.toml: `mtahooks-milter -n -c FILE` says "configuration OK" and warns
#     about nothing;
#   - contrib/systemd/mtahooks-milter.service, with the daemon's path rewritten to the build
#     and the manuals found in the source tree: `systemd-analyze verify` prints nothing and
#     exits 0 (it exits 0 on an unknown key, so its output counts), and
#     `systemd-analyze security --offline` rates its exposure at most 2.0;
#   - contrib/hooks/policy.py and policy.js, each started on a free port with
#     --reject-domain blocked.example --reject-domain spam.test --quarantine-word "[hold]",
#     each behind its own daemon: miltertest (policy.lua) plays one transaction per case
#     through tests/milter/milterproxy.py, whose trace shows the RCPT reply's text;
#   - contrib/milter-send.py, the README's quick-start client, against the daemon in front of
#     policy.py: the refused recipient's SMTP reply, the quarantine and the added header
#     are printed as the README quotes them.
# Node.js or systemd-analyze missing skips their cases, with the reason; under CI=true it
# fails them instead, since CI installs both (contrib/install-deps.sh --test).
# Environment: KEEP_TMP=1 keeps the temporary directory.

set -u

MILTERTEST=${MILTERTEST:-$(command -v miltertest 2>/dev/null || true)}
PYTHON3=${PYTHON3:-$(command -v python3 2>/dev/null || true)}
NODE=${NODE:-$(command -v node 2>/dev/null || command -v nodejs 2>/dev/null || true)}
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
mtdir=$top_srcdir/tests/milter
daemon=$top_builddir/src/mtahooks-milter
unit=$top_srcdir/contrib/systemd/mtahooks-milter.service
[ -n "$NODE" ] && [ ! -x "$NODE" ] && NODE=

if [ ! -x "$daemon" ]; then
	echo "Bail out! $daemon not built"
	exit 1
fi
limit=
command -v timeout >/dev/null 2>&1 && limit="timeout 30"

# A unix socket path must fit in sun_path (108 bytes): keep the directory short.
base=${TMPDIR:-/tmp}
case $base in /*) ;; *) base=/tmp ;; esac
[ ${#base} -gt 60 ] && base=/tmp
tmp=$(mktemp -d "$base/mtcontrib.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }

pids='' # every process started and not yet stopped

# stop - TERM processes we started, wait a bounded time, KILL whatever lingers
# shellcheck disable=SC2317 # called by cleanup, from the trap
stop() {
	for pid in "$@"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "$@"; do
		i=0
		while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 200 ]; do
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
	# shellcheck disable=SC2086 # a list of pids
	stop $pids
	pids=''
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "# kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# wait_for - up to 200 x 0.05 s for a test command to succeed
wait_for() {
	i=0
	while [ "$i" -lt 200 ]; do
		"$@" && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# diag - a file, as TAP diagnostics (at most the last N lines)
diag() {
	[ -s "$1" ] || return 0
	tail -n "${2:-30}" "$1" | sed 's/^/#   /'
}

n=0
# result OK DESC [FILE] - one TAP line; FILE is shown when the case failed
result() {
	n=$((n + 1))
	if [ "$1" = 1 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		[ -n "${3:-}" ] && diag "$3"
	fi
}

# missing DESC REASON - a case whose tool is not installed: skipped, but failed under CI
missing() {
	n=$((n + 1))
	if [ "${CI:-}" = true ]; then
		echo "not ok $n - $1 # $2, and CI=true needs it (contrib/install-deps.sh --test)"
	else
		echo "ok $n - $1 # SKIP $2"
	fi
}

configs=$(cd "$top_srcdir" && find contrib -name '*.toml' | LC_ALL=C sort)
handlers="policy.py policy.js"
ncases=3 # per handler: rcpt, quarantine, header
nsend=2  # contrib/milter-send.py: a refusal and a quarantine, an accepted message
echo "1..$(($(echo "$configs" | grep -c .) + 2 + 2 * ncases + nsend))"

# ---- the example configurations --------------------------------------------------------
for cfg in $configs; do
	"$daemon" -n -c "$top_srcdir/$cfg" >"$tmp/n.out" 2>"$tmp/n.err"
	rc=$?
	ok=0
	[ $rc = 0 ] && grep -qx 'configuration OK' "$tmp/n.out" && [ ! -s "$tmp/n.err" ] && ok=1
	[ $ok = 1 ] || echo "exit status $rc" >>"$tmp/n.err"
	result $ok "$cfg: mtahooks-milter -n says configuration OK, without a warning" "$tmp/n.err"
done

# ---- the systemd unit ------------------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify wants ExecStart's program to exist and runs man(1) on Documentation=.
	sed "s|/usr/sbin/mtahooks-milter|$daemon|g" "$unit" >"$tmp/mtahooks-milter.service"
	mkdir -p "$tmp/man/man8" "$tmp/man/man5"
	cp "$top_srcdir/man/mtahooks-milter.8" "$tmp/man/man8/"
	cp "$top_srcdir/man/mtahooks-milter.toml.5" "$tmp/man/man5/"
	man=--man=yes
	command -v man >/dev/null 2>&1 || {
		man=--man=no
		echo "# man(1) is not installed: Documentation= is not checked"
	}
	(cd "$tmp" && MANPATH=$tmp/man systemd-analyze verify "$man" ./mtahooks-milter.service) \
		>"$tmp/verify.out" 2>&1
	rc=$?
	ok=0
	[ $rc = 0 ] && [ ! -s "$tmp/verify.out" ] && ok=1
	[ $ok = 1 ] || echo "exit status $rc" >>"$tmp/verify.out"
	result $ok "contrib/systemd/mtahooks-milter.service: systemd-analyze verify finds nothing" \
		"$tmp/verify.out"
	# --threshold is in tenths: 20 is an exposure level of 2.0.
	(cd "$tmp" && systemd-analyze security --offline=true --threshold=20 \
		./mtahooks-milter.service) >"$tmp/security.out" 2>&1
	rc=$?
	level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/security.out")
	result "$([ $rc = 0 ] && echo 1)" \
		"contrib/systemd/mtahooks-milter.service: exposure level ${level:-?} is at most 2.0" \
		"$tmp/security.out"
else
	missing "contrib/systemd/mtahooks-milter.service: systemd-analyze verify finds nothing" \
		"systemd-analyze not found (Debian package systemd)"
	missing "contrib/systemd/mtahooks-milter.service: exposure level is at most 2.0" \
		"systemd-analyze not found (Debian package systemd)"
fi

# ---- the example policy handlers behind the daemon --------------------------------------
# skip_handler H REASON - every case of handler H skipped (or failed under CI) for REASON
skip_handler() {
	for c in rcpt quarantine header; do
		missing "$1: $c" "$2"
	done
}

# start_handler H - start handler H on a free port; its port in $tmp/H.port
start_handler() {
	case $1 in
	*.py) set -- "$1" "$PYTHON3" ;;
	*.js) set -- "$1" "$NODE" ;;
	esac
	"$2" "$top_srcdir/contrib/hooks/$1" 0 --reject-domain blocked.example \
		--reject-domain spam.test --quarantine-word "[hold]" \
		</dev/null >"$tmp/$1.out" 2>"$tmp/$1.log" &
	pids="$pids $!"
	wait_for grep -q 'listening on http://127.0.0.1:[0-9]*/' "$tmp/$1.out" || return 1
	sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$tmp/$1.out" >"$tmp/$1.port"
}

# start_daemon H - the daemon with handler H as its one hook, on $tmp/H.sock
start_daemon() {
	cat >"$tmp/$1.toml" <<EOF
[milter]
listen = "unix:$tmp/$1.sock"

[session.hook."policy"]
url = "http://127.0.0.1:$(cat "$tmp/$1.port")/mta-hook"
stages = ["rcpt", "data"]
timeout = "5s"
EOF
	"$daemon" -f -v -c "$tmp/$1.toml" </dev/null 2>"$tmp/daemon-$1.log" &
	pids="$pids $!"
	# logged once the socket listens (the file appears at bind(), before listen())
	wait_for grep -q 'listening on' "$tmp/daemon-$1.log"
}

if [ -z "$MILTERTEST" ] || [ ! -x "$MILTERTEST" ] || [ -z "$PYTHON3" ]; then
	# miltertest and python3 are the milter test layer's own needs: skipped as it does.
	for h in $handlers; do
		for c in rcpt quarantine header; do
			n=$((n + 1))
			echo "ok $n - $h: $c # SKIP miltertest or python3 not found"
		done
	done
	for c in refusal accepted; do
		n=$((n + 1))
		echo "ok $n - contrib/milter-send.py: $c # SKIP miltertest or python3 not found"
	done
	exit 0
fi

"$PYTHON3" "$mtdir/milterproxy.py" --listen "$tmp/proxy.sock" --upstream-file "$tmp/upstream" \
	--trace "$tmp/trace.jsonl" </dev/null 2>"$tmp/proxy.log" &
pids="$pids $!"
if ! wait_for test -S "$tmp/proxy.sock"; then
	echo "Bail out! milter proxy did not start"
	diag "$tmp/proxy.log"
	exit 1
fi

# Start everything first: the handlers and the daemons start in parallel.
ready=''
for h in $handlers; do
	if [ "$h" = policy.js ] && [ -z "$NODE" ]; then
		continue
	fi
	if start_handler "$h" && start_daemon "$h"; then
		ready="$ready $h"
	fi
done

# rcpt_replies - the text of every RCPT reply with a code in the trace, one a line
rcpt_replies() {
	"$PYTHON3" - "$tmp/trace.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="ascii"):
    p = json.loads(line)
    if p.get("from") == "filter" and p.get("cmd") == "y":
        print(p["data"].encode("latin-1").rstrip(b"\0").decode("latin-1"))
EOF
}

for h in $handlers; do
	if [ "$h" = policy.js ] && [ -z "$NODE" ]; then
		skip_handler "$h" "node not found (Debian package nodejs)"
		continue
	fi
	case " $ready " in
	*" $h "*) ;;
	*)
		for c in rcpt quarantine header; do
			result 0 "$h: $c (the handler or its daemon did not start)" "$tmp/$h.log"
		done
		diag "$tmp/daemon-$h.log"
		continue
		;;
	esac
	echo "$tmp/$h.sock" >"$tmp/upstream"
	for c in rcpt quarantine header; do
		case $c in
		rcpt) desc="RCPT to spam.test and to a subdomain of blocked.example refused with 550 5.7.1, others accepted" ;;
		quarantine) desc="a Subject with \"[HOLD]\" is quarantined, with the word as the reason" ;;
		header) desc="any other message is accepted with X-Policy: checked" ;;
		esac
		: >"$tmp/trace.jsonl"
		# shellcheck disable=SC2086 # $limit is a command and its argument, or nothing
		(cd "$tmp" && $limit "$MILTERTEST" -D "SOCK=unix:$tmp/proxy.sock" -D "MTDIR=$mtdir" \
			-D "CASE=$c" -s "$top_srcdir/tests/contrib/policy.lua") </dev/null >"$tmp/out" 2>&1
		ok=$?
		if [ $ok = 0 ] && [ $c = rcpt ]; then
			rcpt_replies >"$tmp/replies" 2>>"$tmp/out"
			printf '%s\n' "550 5.7.1 Recipient domain not accepted here" \
				"550 5.7.1 Recipient domain not accepted here" >"$tmp/want"
			if ! cmp -s "$tmp/want" "$tmp/replies"; then
				ok=1
				{ echo "RCPT replies in the trace:"; cat "$tmp/replies"; } >>"$tmp/out"
			fi
		fi
		if [ $ok = 0 ]; then
			result 1 "$h: $desc"
		else
			result 0 "$h: $desc" "$tmp/out"
			diag "$tmp/daemon-$h.log" 10
			diag "$tmp/$h.log" 10
		fi
	done
done

# ---- contrib/milter-send.py, the quick start's client, against policy.py's daemon ------
# send_case DESC WANTFILE ARGS... - run milter-send.py; every line of WANTFILE must be printed
send_case() {
	desc=$1 want=$2
	shift 2
	# shellcheck disable=SC2086 # $limit is a command and its argument, or nothing
	$limit "$PYTHON3" "$top_srcdir/contrib/milter-send.py" -s "unix:$tmp/policy.py.sock" \
		--timeout 10 "$@" </dev/null >"$tmp/send.out" 2>&1
	rc=$?
	ok=1
	[ $rc = 0 ] || { ok=0; echo "exit status $rc" >>"$tmp/send.out"; }
	while IFS= read -r line; do
		grep -qxF -- "$line" "$tmp/send.out" && continue
		ok=0
		echo "missing line: $line" >>"$tmp/send.out"
	done <"$want"
	result $ok "contrib/milter-send.py: $desc" "$tmp/send.out"
}

case " $ready " in
*" policy.py "*)
	printf '%s\n' 'RCPT TO:<bob@example.com> -> continue' \
		'RCPT TO:<eve@spam.test> -> 550 5.7.1 Recipient domain not accepted here' \
		'end of message (queue id 4QTEST0001) -> accept' \
		'  quarantine: subject contains "[hold]"' >"$tmp/want1"
	send_case "a refused recipient's SMTP reply and the quarantine are printed" "$tmp/want1" \
		--to bob@example.com --to eve@spam.test --subject "please [hold] this"
	printf '%s\n' 'end of message (queue id 4QTEST0001) -> accept' \
		'  add header: X-Policy: checked' >"$tmp/want2"
	send_case "an accepted message and its added header are printed" "$tmp/want2"
	;;
*)
	result 0 "contrib/milter-send.py: refusal (policy.py's daemon did not start)"
	result 0 "contrib/milter-send.py: accepted (policy.py's daemon did not start)"
	;;
esac
exit 0
