#!/bin/bash
# tests/mta/run.sh - end-to-end tests of mtahooks-milter through a real MTA, as TAP
#
#   [MTA=postfix|sendmail] [MILTER_SOCKET=unix|inet|inet6] [MTA_SET=all|socket|faults]
#   top_srcdir=... top_builddir=... PYTHON3=python3 tests/mta/run.sh
#
# Starts, all on loopback and under one temporary directory: the scripted hook
# server, the bridge (top_builddir/src/mtahooks-milter), a capture server for
# delivered mail and a private MTA (driver tests/mta/$MTA.sh, default postfix)
# with the bridge as its milter, reached over a socket of kind MILTER_SOCKET
# (default unix); runs tests/mta/scenarios.sh (all of them, or with
# MTA_SET=socket the short list that proves a socket kind), or with
# MTA_SET=faults the fault matrix and accounting of tests/mta/faults.sh;
# stops it all.
# Needs root (the MTA runs as root) and swaks; without them the run is
# skipped. MTA_TEST_KEEP=1 keeps the temporary directory for inspection;
# MTA_TESTS="sc_accept sc_quarantine ..." runs only those scenarios.
# Exit status 0 iff every test passed.

MT_DIR=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$MT_DIR/../.." && pwd)}"
: "${top_builddir:=$top_srcdir/build}"
: "${PYTHON3:=python3}"
: "${MTA:=postfix}"
export top_srcdir top_builddir PYTHON3
MT_QUERY=$MT_DIR/query.py
BRIDGE=$top_builddir/src/mtahooks-milter
export LC_ALL=C

# shellcheck source=lib.sh
. "$MT_DIR/lib.sh"
# shellcheck source=postfix.sh
. "$MT_DIR/$MTA.sh"
# shellcheck source=scenarios.sh
. "$MT_DIR/scenarios.sh"
# shellcheck source=faults.sh
. "$MT_DIR/faults.sh"

# Reasons to skip: this machine cannot run the MTA at all.
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root to start a private $MTA"
	exit 0
fi
command -v swaks >/dev/null 2>&1 || { echo "1..0 # SKIP swaks is not installed"; exit 0; }
command -v "$PYTHON3" >/dev/null 2>&1 || { echo "1..0 # SKIP $PYTHON3 not found"; exit 0; }
why=$(mta_check)
case $? in
0) ;;
2) bail_out "$why" ;;
*)
	echo "1..0 # SKIP $why"
	exit 0
	;;
esac

case ${MILTER_SOCKET:=unix} in
unix | inet | inet6) ;;
*) bail_out "MILTER_SOCKET must be unix, inet or inet6, not '$MILTER_SOCKET'" ;;
esac
if [ "$MILTER_SOCKET" = inet6 ] && ! have_ipv6; then
	echo "1..0 # SKIP no IPv6 loopback for an inet6 milter socket"
	exit 0
fi

# Reasons to fail: what this source tree should have provided.
[ -x "$BRIDGE" ] || bail_out "$BRIDGE is not built"
[ -f "$top_srcdir/tests/lib/hookserver.py" ] || bail_out "tests/lib/hookserver.py is missing"

case ${MTA_SET:=all} in
all) ;;
socket) MTA_TESTS=${MTA_TESTS:-$SOCKET_SCENARIOS} ;;
faults) SCENARIOS=("${FAULT_SCENARIOS[@]}") ;;
*) bail_out "MTA_SET must be all, socket or faults, not '$MTA_SET'" ;;
esac
MTA_TESTS=$(echo $MTA_TESTS) # one space between names, whatever separated them
if [ -n "$MTA_TESTS" ]; then
	selected=()
	for entry in "${SCENARIOS[@]}"; do
		case " $MTA_TESTS " in *" ${entry%%|*} "*) selected+=("$entry") ;; esac
	done
	SCENARIOS=("${selected[@]}")
fi
tap_plan ${#SCENARIOS[@]}
trap mt_cleanup EXIT
trap 'exit 130' INT TERM

mt_setup
BRIDGE_KIND=$MILTER_SOCKET
case $BRIDGE_KIND in
inet) BRIDGE_PORT=$(free_port 127.0.0.1) ;;
inet6) BRIDGE_PORT=$(free_port ::1) ;;
esac
hooks_start || bail_out "the hook server did not start: $(cat "$MT_TMP/hook/server.log")"
capture_start || bail_out "the capture server did not start: $(cat "$MT_TMP/capture.log")"
BRIDGE_MAIN_CONFIG=$(bridge_config main "$HOOK_URL" '["connect", "ehlo", "mail", "rcpt", "data"]' true)
bridge_start "$BRIDGE_MAIN_CONFIG" || bail_out "the bridge did not start"
mta_start || bail_out "$(mta_name) did not start"

for entry in "${SCENARIOS[@]}"; do
	run_scenario "$(mta_name)/$BRIDGE_KIND: ${entry#*|}" "${entry%%|*}"
done

[ "$MT_TAP_N" -eq "${#SCENARIOS[@]}" ] && [ "$MT_TAP_FAILED" -eq 0 ]
