#!/bin/sh
# run.sh - the benchmark: the bridge against do-nothing libmilter filters and a plain forwarder (tests/bench/README)
#
#   tests/bench/run.sh [--quick] [--memory] [--rounds N] [--msgs N] [--conns N]
#                      [--only LIST] [--keep]
#
# Run by `make bench` (top_srcdir and top_builddir in the environment) or by hand from a
# build directory. It builds nothing but what `make` builds, and only when a program is
# missing. Everything runs on loopback and unix sockets under one temporary directory,
# every process it starts is stopped by its pid, and the directory is removed at the end
# (--keep leaves it, with every log and raw result).
#
# Pieces:
#   nginx               (Debian nginx-light) the hook: POST /hook answers {"action":"accept"}
#   mtahooks-milter     the bridge, configured with one data hook (bridge-data) or one hook
#                       on all five stages (bridge-all5)
#   floor-same-events   a libmilter filter doing nothing, negotiating as bridge-data does
#   floor-answer-all    a libmilter filter doing nothing, answering every event
#   floor-forward       negotiates as floor-same-events and POSTs each message as it is
#                       (no JSON) to the same nginx: what forwarding alone costs here
#   mtabench            the MTA side: N connections, M messages, replies read and counted
#
# Scenarios (--only takes a comma list of these names):
#   data4k   4 KB messages, 16 headers, 16 connections: bridge-data, floor-forward,
#            floor-same-events, floor-answer-all
#   all4k    the same messages: bridge-all5, floor-answer-all
#   data1m   1 MB messages: bridge-data, floor-forward, floor-same-events
#   conns    20 000 messages through bridge-data: TCP connections nginx accepted
#   memory   one 50 MB message through bridge-data: growth of its peak RSS (VmHWM)
# Targets run alternately (A B C A B C ...) for --rounds rounds; each figure printed is the
# median of the rounds. Each scenario starts its processes afresh, so peak RSS is its own.

set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}

rounds=5
msgs4k=10000
msgs1m=500
msgs_conns=20000
memory_size=52428800
conns=16
only=data4k,all4k,data1m,conns,memory
keep=0

usage() {
	sed -n '2,5p' "$0" | sed 's/^# *//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick)
		rounds=1 msgs4k=400 msgs1m=16 msgs_conns=1000
		;;
	--memory) only=memory ;;
	--rounds)
		[ $# -ge 2 ] || usage
		rounds=$2
		shift
		;;
	--msgs)
		[ $# -ge 2 ] || usage
		msgs4k=$2
		shift
		;;
	--conns)
		[ $# -ge 2 ] || usage
		conns=$2
		shift
		;;
	--only)
		[ $# -ge 2 ] || usage
		only=$2
		shift
		;;
	--keep) keep=1 ;;
	*) usage ;;
	esac
	shift
done
case "$rounds$msgs4k$conns" in
*[!0-9]*) usage ;;
esac
if [ "$rounds" -lt 1 ] || [ "$msgs4k" -lt 1 ] || [ "$conns" -lt 1 ]; then
	usage
fi

daemon=$top_builddir/src/mtahooks-milter
bench=$top_builddir/tests/bench/mtabench
floor_all=$top_builddir/tests/bench/floor-answer-all
floor_same=$top_builddir/tests/bench/floor-same-events
floor_fwd=$top_builddir/tests/bench/floor-forward
for prog in "$daemon" "$bench" "$floor_all" "$floor_same" "$floor_fwd"; do
	if [ ! -x "$prog" ]; then
		echo "run.sh: $prog missing: running make in $top_builddir" >&2
		make -s -C "$top_builddir" || exit 1
		break
	fi
done
nginx=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
if [ ! -x "$nginx" ]; then
	echo "run.sh: nginx not found (Debian package nginx-light; contrib/install-deps.sh --test)" >&2
	exit 1
fi

# A unix socket path must fit in sun_path (108 bytes): keep the directory short.
tmp=$(mktemp -d /tmp/mtabench.XXXXXX) || exit 1
pids=''
nginx_pid=''
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
results=$tmp/results

# stop - TERM processes we started, wait a bounded time (10 s), KILL whatever lingers
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
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 0
}

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	# shellcheck disable=SC2086
	stop $pids $nginx_pid
	pids='' nginx_pid=''
	if [ "$keep" = 1 ]; then
		echo "run.sh: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# wait_for - run "$@" every 50 ms until it succeeds, at most 10 s
wait_for() {
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -ge 200 ] && return 1
		sleep 0.05
	done
}

# cpu_ticks - user+system clock ticks of a process (all its threads, living and gone)
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# nginx_ticks - CPU ticks of nginx's worker processes
nginx_ticks() {
	nt=0
	for w in $(ps -o pid= --ppid "$nginx_pid" 2>/dev/null); do
		nt=$((nt + $(cpu_ticks "$w")))
	done
	echo "$nt"
}

# vm_kb - a Vm* line of /proc/PID/status, in kB
vm_kb() {
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ---- the hook: a private nginx ---------------------------------------------------------
start_nginx() {
	mkdir -p "$tmp/nginx/logs" "$tmp/nginx/tmp"
	attempt=0
	while [ $attempt -lt 10 ]; do
		attempt=$((attempt + 1))
		hook_port=$((20000 + ($$ + attempt * 7919) % 40000))
		cat >"$tmp/nginx/nginx.conf" <<EOF
# written by tests/bench/run.sh
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
	log_format bench '\$connection \$connection_requests \$status \$request_length';
	access_log $tmp/nginx/logs/access.log bench buffer=256k flush=1s;
	client_body_temp_path $tmp/nginx/tmp/body;
	proxy_temp_path $tmp/nginx/tmp/proxy;
	fastcgi_temp_path $tmp/nginx/tmp/fastcgi;
	uwsgi_temp_path $tmp/nginx/tmp/uwsgi;
	scgi_temp_path $tmp/nginx/tmp/scgi;
	keepalive_requests 10000000;
	keepalive_timeout 600s;
	client_max_body_size 0;
	server {
		listen 127.0.0.1:$hook_port;
		location = /hook {
			default_type application/json;
			return 200 '{"action":"accept"}';
		}
	}
}
EOF
		"$nginx" -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" \
			</dev/null >>"$tmp/nginx/stdout.log" 2>&1 &
		nginx_pid=$!
		if wait_for nginx_answers; then
			return 0
		fi
		stop "$nginx_pid"
		nginx_pid=''
	done
	echo "run.sh: nginx did not start:" >&2
	tail -5 "$tmp/nginx/logs/error.log" >&2
	return 1
}

# nginx_answers - nginx runs and answers the hook
# shellcheck disable=SC2317 # called through wait_for
nginx_answers() {
	kill -0 "$nginx_pid" 2>/dev/null &&
		curl -s -m 2 -d '{}' "http://127.0.0.1:$hook_port/hook" 2>/dev/null |
		grep -q accept
}

# ---- the targets ---------------------------------------------------------------------------
# bridge_config - a configuration with one hook on the stages $2 (TOML list), in file $1
bridge_config() {
	cat >"$1" <<EOF
# written by tests/bench/run.sh
[milter]
listen = "unix:$tmp/unused.sock"

[session.hook."bench"]
url = "http://127.0.0.1:$hook_port/hook"
stages = $2
timeout = "30s"

[session.hook."bench".options]
tempfail-on-error = true
max-response-size = "64kb"
EOF
}

# start_target - start target $1 listening on $tmp/$1.sock; its pid goes to $tmp/$1.pid
start_target() {
	sock=unix:$tmp/$1.sock
	rm -f "$tmp/$1.sock"
	case $1 in
	bridge-data)
		bridge_config "$tmp/$1.toml" '["data"]'
		"$daemon" -f -c "$tmp/$1.toml" -p "$sock" </dev/null 2>>"$tmp/$1.log" &
		;;
	bridge-all5)
		bridge_config "$tmp/$1.toml" '["connect", "ehlo", "mail", "rcpt", "data"]'
		"$daemon" -f -c "$tmp/$1.toml" -p "$sock" </dev/null 2>>"$tmp/$1.log" &
		;;
	floor-same-events) "$floor_same" -p "$sock" </dev/null 2>>"$tmp/$1.log" & ;;
	floor-answer-all) "$floor_all" -p "$sock" </dev/null 2>>"$tmp/$1.log" & ;;
	floor-forward)
		"$floor_fwd" -p "$sock" -u "http://127.0.0.1:$hook_port/hook" </dev/null \
			2>>"$tmp/$1.log" &
		;;
	esac
	echo $! >"$tmp/$1.pid"
	pids="$pids $!"
	if ! wait_for test -S "$tmp/$1.sock"; then
		echo "run.sh: $1 did not start:" >&2
		tail -5 "$tmp/$1.log" >&2
		return 1
	fi
}

# stop_targets - stop the targets named, all at once (libmilter takes a moment to stop)
stop_targets() {
	list=''
	for t in "$@"; do
		list="$list $(cat "$tmp/$t.pid")"
	done
	# shellcheck disable=SC2086
	stop $list
	for p in $list; do
		pids=$(echo "$pids" | tr ' ' '\n' | grep -vx "$p" | tr '\n' ' ')
	done
}

# measure - one run of mtabench against target $2 for scenario $1 (round $3), options after;
# appends one line to $results and prints it
measure() {
	scen=$1 target=$2 round=$3
	shift 3
	pid=$(cat "$tmp/$target.pid")
	c0=$(cpu_ticks "$pid") n0=$(nginx_ticks)
	line=$("$bench" -s "unix:$tmp/$target.sock" -t 120 "$@" 2>>"$tmp/mtabench.err")
	rc=$?
	c1=$(cpu_ticks "$pid") n1=$(nginx_ticks)
	if [ -z "$line" ]; then
		echo "run.sh: mtabench against $target gave nothing (exit $rc):" >&2
		tail -5 "$tmp/mtabench.err" >&2
		return 1
	fi
	line="scenario=$scen target=$target round=$round $line rc=$rc cpu_ticks=$((c1 - c0))"
	line="$line nginx_ticks=$((n1 - n0)) hwm_kb=$(vm_kb "$pid" VmHWM) rss_kb=$(vm_kb "$pid" VmRSS)"
	echo "$line" >>"$results"
	[ "$rc" = 0 ] || echo "run.sh: $target round $round: errors (see the line in $results)" >&2
}

# median - the median of key $3 over the rounds of target $2 in scenario $1
median() {
	grep " target=$2 " "$results" | grep "^scenario=$1 " | tr ' ' '\n' |
		awk -F= -v k="$3" '$1 == k { print $2 }' | sort -g |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "nan"; exit }
			if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# total - the sum of key $3 over the rounds of target $2 in scenario $1
total() {
	grep " target=$2 " "$results" | grep "^scenario=$1 " | tr ' ' '\n' |
		awk -F= -v k="$3" '$1 == k { s += $2 } END { print s + 0 }'
}

# cpu_per_1000 - median CPU seconds per 1000 messages of target $2 in scenario $1
cpu_per_1000() {
	grep " target=$2 " "$results" | grep "^scenario=$1 " |
		awk -v hz="$hz" '{
			for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			if (f["msgs"] > 0) print f["cpu_ticks"] / hz / f["msgs"] * 1000 }' | sort -g |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "nan"; exit }
			if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# nginx_per_1000 - median CPU seconds of nginx per 1000 messages during target $2's runs
nginx_per_1000() {
	grep " target=$2 " "$results" | grep "^scenario=$1 " |
		awk -v hz="$hz" '{
			for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			if (f["msgs"] > 0) print f["nginx_ticks"] / hz / f["msgs"] * 1000 }' | sort -g |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "nan"; exit }
			if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio - $1 / $2 with two decimals
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "nan"; else printf "%.2f\n", a / b }'
}

# table - the per-target table of scenario $1 for the targets after it
table() {
	scen=$1
	shift
	printf '%-18s %9s %8s %8s %8s %11s %11s %9s  %s\n' target msgs/s p50_us p90_us p99_us \
		cpu_s/1000 peak_rss_kb waits/msg "outcomes (all rounds)"
	for t in "$@"; do
		printf '%-18s %9.1f %8.0f %8.0f %8.0f %11.4f %11.0f %9.2f  %s\n' "$t" \
			"$(median "$scen" "$t" msgs_per_s)" "$(median "$scen" "$t" p50_us)" \
			"$(median "$scen" "$t" p90_us)" "$(median "$scen" "$t" p99_us)" \
			"$(cpu_per_1000 "$scen" "$t")" "$(median "$scen" "$t" hwm_kb)" \
			"$(median "$scen" "$t" replies_per_msg)" \
			"accepted=$(total "$scen" "$t" accepted) tempfailed=$(total "$scen" "$t" tempfailed) rejected=$(total "$scen" "$t" rejected) discarded=$(total "$scen" "$t" discarded) errors=$(total "$scen" "$t" errors)"
	done
}

# scenario - start targets, warm them up, run them alternately for the rounds, stop them;
# $1 the scenario, $2 the targets (comma list), the rest mtabench's options for each run
scenario() {
	scen=$1 targets=$(echo "$2" | tr ',' ' ')
	shift 2
	for t in $targets; do
		start_target "$t" || return 1
	done
	# A short warm-up: libraries paged in, the bridge's HTTP connections open.
	for t in $targets; do
		"$bench" -s "unix:$tmp/$t.sock" -c "$conns" -m $((conns * 20)) -z 4096 -H 16 \
			>/dev/null 2>>"$tmp/mtabench.err"
	done
	r=1
	while [ $r -le "$rounds" ]; do
		for t in $targets; do
			measure "$scen" "$t" "$r" "$@" || return 1
		done
		r=$((r + 1))
	done
	# shellcheck disable=SC2086
	stop_targets $targets
}

# summary - one line of the final table
summary() {
	printf '%-58s %10s %-22s %s\n' "$1" "$2" "$3" "$4"
}

# forwarding - floor-forward's ratios in scenario $1 ($2 its message size): printed, and a
# row without a target in the final table
forwarding() {
	fw=$(median "$1" floor-forward msgs_per_s)
	rf=$(ratio "$fw" "$(median "$1" floor-same-events msgs_per_s)")
	echo "floor-forward / floor-same-events: msgs/s $rf (forwarding alone; bridge-data / floor-forward: $(ratio "$(median "$1" bridge-data msgs_per_s)" "$fw"))"
	summary "  (no target) $2, forwarding alone / same-events floor" "$rf" "-" "-" >>"$sums"
}

# not_accepted - messages of scenario $1 (all targets, all rounds) not accepted, or errors
not_accepted() {
	grep "^scenario=$1 " "$results" | tr ' ' '\n' |
		awk -F= '$1 ~ /^(tempfailed|rejected|discarded|errors)$/ { s += $2 } END { print s + 0 }'
}

# met - "yes" when $1 $2 $3 holds (numbers), "NO" when not; "invalid" when messages of
# scenario $4 were not all accepted (a tempfailed message is fast, not good)
met() {
	if [ -n "${4:-}" ] && [ "$(not_accepted "$4")" != 0 ]; then
		echo "invalid: $(not_accepted "$4") messages not accepted"
		return
	fi
	awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
		if (a == "nan" || a == "") { print "?"; exit }
		ok = op == ">=" ? a + 0 >= b + 0 : a + 0 <= b + 0
		print ok ? "yes" : "NO" }'
}

# ---- run ----------------------------------------------------------------------------------
: >"$results"
start_nginx || exit 1
echo "mtabench: $(uname -m), $(nproc 2>/dev/null || echo '?') CPUs, load before: $(uptime | sed 's/.*load average: //')"
echo "rounds=$rounds (median), connections=$conns, one message per milter connection (as Postfix: one per SMTP session)"
echo "hook: nginx $("$nginx" -v 2>&1 | sed 's/.*nginx\///') on 127.0.0.1:$hook_port, POST /hook answering {\"action\":\"accept\"}"
status=0
sums=$tmp/summary
: >"$sums"

for scen in $(echo "$only" | tr ',' ' '); do
	case $scen in
	data4k)
		echo
		echo "== data4k: 4 KB messages, 16 headers, $conns connections, $msgs4k messages a run =="
		scenario data4k bridge-data,floor-forward,floor-same-events,floor-answer-all \
			-c "$conns" -m "$msgs4k" -z 4096 -H 16 || { status=1; continue; }
		table data4k bridge-data floor-forward floor-same-events floor-answer-all
		echo "nginx cpu_s/1000 during bridge-data runs: $(nginx_per_1000 data4k bridge-data), floor-forward runs: $(nginx_per_1000 data4k floor-forward)"
		b=$(median data4k bridge-data msgs_per_s)
		rs=$(ratio "$b" "$(median data4k floor-same-events msgs_per_s)")
		ra=$(ratio "$b" "$(median data4k floor-answer-all msgs_per_s)")
		rcpu=$(ratio "$(cpu_per_1000 data4k bridge-data)" "$(cpu_per_1000 data4k floor-same-events)")
		echo "bridge-data / floor-same-events: msgs/s $rs, cpu $rcpu x"
		echo "bridge-data / floor-answer-all:  msgs/s $ra, cpu $(ratio "$(cpu_per_1000 data4k bridge-data)" "$(cpu_per_1000 data4k floor-answer-all)") x"
		summary "msgs/s 4 KB, $conns conns, data hook / same-events floor" "$rs" ">= 0.7" "$(met "$rs" '>=' 0.7 data4k)" >>"$sums"
		summary "msgs/s 4 KB, $conns conns, data hook / answer-all floor" "$ra" ">= 1.5" "$(met "$ra" '>=' 1.5 data4k)" >>"$sums"
		summary "CPU per 1000 msgs, data hook / same-events floor" "${rcpu}x" "<= 2x" "$(met "$rcpu" '<=' 2 data4k)" >>"$sums"
		forwarding data4k "4 KB"
		;;
	all4k)
		echo
		echo "== all4k: 4 KB messages, 16 headers, $conns connections, $msgs4k messages a run, hook on all five stages =="
		scenario all4k bridge-all5,floor-answer-all \
			-c "$conns" -m "$msgs4k" -z 4096 -H 16 || { status=1; continue; }
		table all4k bridge-all5 floor-answer-all
		echo "nginx cpu_s/1000 during bridge-all5 runs: $(nginx_per_1000 all4k bridge-all5)"
		r5=$(ratio "$(median all4k bridge-all5 msgs_per_s)" "$(median all4k floor-answer-all msgs_per_s)")
		echo "bridge-all5 / floor-answer-all: msgs/s $r5, cpu $(ratio "$(cpu_per_1000 all4k bridge-all5)" "$(cpu_per_1000 all4k floor-answer-all)") x"
		summary "msgs/s 4 KB, $conns conns, all five stages / answer-all floor" "$r5" ">= 0.5" "$(met "$r5" '>=' 0.5 all4k)" >>"$sums"
		;;
	data1m)
		echo
		echo "== data1m: 1 MB messages, 16 headers, $conns connections, $msgs1m messages a run =="
		scenario data1m bridge-data,floor-forward,floor-same-events \
			-c "$conns" -m "$msgs1m" -z 1048576 -H 16 || { status=1; continue; }
		table data1m bridge-data floor-forward floor-same-events
		echo "nginx cpu_s/1000 during bridge-data runs: $(nginx_per_1000 data1m bridge-data), floor-forward runs: $(nginx_per_1000 data1m floor-forward)"
		r1=$(ratio "$(median data1m bridge-data msgs_per_s)" "$(median data1m floor-same-events msgs_per_s)")
		echo "bridge-data / floor-same-events: msgs/s $r1, cpu $(ratio "$(cpu_per_1000 data1m bridge-data)" "$(cpu_per_1000 data1m floor-same-events)") x"
		summary "msgs/s 1 MB, $conns conns, data hook / same-events floor" "$r1" ">= 0.6" "$(met "$r1" '>=' 0.6 data1m)" >>"$sums"
		forwarding data1m "1 MB"
		;;
	conns)
		echo
		echo "== conns: $msgs_conns messages of 4 KB through bridge-data, $conns connections =="
		start_target bridge-data || { status=1; continue; }
		# Only this run's requests: the access log from here on (flushed every second).
		sleep 1.2
		offset=$(wc -c <"$tmp/nginx/logs/access.log")
		measure conns bridge-data 1 -c "$conns" -m "$msgs_conns" -z 4096 -H 16 || status=1
		sleep 1.5
		tail -c +$((offset + 1)) "$tmp/nginx/logs/access.log" >"$tmp/conns.log"
		http_conns=$(awk '{ print $1 }' "$tmp/conns.log" | sort -u | wc -l)
		requests=$(wc -l <"$tmp/conns.log")
		milter_conns=$(median conns bridge-data conns)
		table conns bridge-data
		echo "HTTP requests: $requests, TCP connections nginx served them on: $http_conns, milter connections: $milter_conns"
		stop_targets bridge-data
		summary "HTTP connections to the hook for $msgs_conns msgs" "$http_conns" "<= $milter_conns (MTA conns)" "$(met "$http_conns" '<=' "$milter_conns" conns)" >>"$sums"
		;;
	memory)
		echo
		echo "== memory: one message of $memory_size bytes through bridge-data =="
		start_target bridge-data || { status=1; continue; }
		pid=$(cat "$tmp/bridge-data.pid")
		# First a few small messages, so what is measured is the big one.
		"$bench" -s "unix:$tmp/bridge-data.sock" -c 2 -m 20 -z 4096 -H 16 >/dev/null 2>>"$tmp/mtabench.err"
		h0=$(vm_kb "$pid" VmHWM)
		measure memory bridge-data 1 -c 1 -m 1 -z "$memory_size" -H 16 || status=1
		h1=$(vm_kb "$pid" VmHWM)
		grow=$(awk -v a="$h0" -v b="$h1" 'BEGIN { printf "%.1f\n", (b - a) / 1024 }')
		grep '^scenario=memory' "$results" | tr ' ' '\n' | grep -E '^(msgs|accepted|errors|p50_us)=' | tr '\n' ' '
		echo
		echo "bridge VmHWM before: $h0 kB, after: $h1 kB, growth: $grow MB (message: $((memory_size / 1048576)) MB)"
		stop_targets bridge-data
		summary "peak RSS growth for one $((memory_size / 1048576)) MB message (MB)" "$grow" "<= 65" "$(met "$grow" '<=' 65 memory)" >>"$sums"
		;;
	*)
		echo "run.sh: unknown scenario $scen" >&2
		status=1
		;;
	esac
done

echo
echo "== targets (issue 6) ==  load after: $(uptime | sed 's/.*load average: //')"
summary measure value target met
cat "$sums"
if grep -q 'errors=[1-9]' "$results"; then
	echo "run.sh: some runs had errors: see $results (--keep)" >&2
	status=1
fi
[ "$keep" = 1 ] && echo "raw results: $results"
exit $status
