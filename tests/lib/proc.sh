# tests/lib/proc.sh - processes a POSIX sh test script started: wait for them, stop them
# shellcheck shell=sh
#
# Sourced by tests/milter/cli.sh and tests/http/run.sh (with tests/lib/tap.sh). The script keeps the pids it
# started, space separated, in $pids; stop removes each from it once reaped, so a trap
# that stops "$pids" never signals a pid the kernel may have given to someone else.
# Every wait is bounded: wait_for 5 s, wait_long 15 s (libmilter notices a signal only
# every few seconds).

# alive - the process runs (a zombie does not count)
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	if grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"; then
		return 1
	fi
	return 0
}

# gone - the process has ended
# shellcheck disable=SC2317 # called through wait_for and wait_long
gone() {
	! alive "$1"
}

# forget - a process that was reaped is no longer ours to kill
forget() {
	pids=$(echo " $pids " | sed "s/ $1 / /g")
}

# wait_tries N CMD... - up to N x 0.05 s for a test command to succeed
wait_tries() {
	wt_max=$1
	shift
	wt_i=0
	while [ $wt_i -lt "$wt_max" ]; do
		"$@" && return 0
		sleep 0.05
		wt_i=$((wt_i + 1))
	done
	return 1
}

# wait_for - up to 5 s; wait_long - up to 15 s
wait_for() { wait_tries 100 "$@"; }
# shellcheck disable=SC2317 # called through stop, from the trap
wait_long() { wait_tries 300 "$@"; }

# stop PID... - TERM processes we started, wait a bounded time, KILL whatever lingers
# shellcheck disable=SC2317 # called by the trap
stop() {
	for pid in "$@"; do
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		if ! wait_long gone "$pid"; then
			echo "# process $pid ignored SIGTERM for 15 s; killing it"
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
		forget "$pid"
	done
	return 0
}
