# tests/lib/tap.sh - one TAP line per test case, with the case's complaints as diagnostics
# shellcheck shell=sh
#
# Sourced by tests/milter/cli.sh and tests/http/run.sh after they have made $tmp. A case
# calls begin, then fail and diag for what is wrong, then result with its description;
# $n counts the cases and $failed the failed ones.

n=0
failed=0
why=$tmp/why

# begin - start a test case: no complaint yet
begin() {
	: >"$why"
}

# fail - a complaint about the current case
fail() {
	echo "$*" >>"$why"
}

# diag - a file, indented, as part of the complaint (at most its last N lines)
diag() {
	if [ -s "$1" ]; then
		echo "  $(basename "$1"):" >>"$why"
		tail -n "${2:-20}" "$1" | sed 's/^/    /' >>"$why"
	else
		echo "  $(basename "$1"): (empty)" >>"$why"
	fi
}

# result - ok or not ok for the current case, with the complaints as diagnostics
result() {
	n=$((n + 1))
	if [ -s "$why" ]; then
		failed=$((failed + 1))
		echo "not ok $n - $1"
		sed 's/^/# /' "$why"
	else
		echo "ok $n - $1"
	fi
}
