#!/bin/sh
# deb.sh - the Debian package end to end: build it from the release tarball, install it,
# run the daemon with the packaged configuration the way the unit does, purge it again.
#
# Run by tests/run-all.sh (not by `make check`: it needs root, and it installs and removes
# a package), with top_srcdir and top_builddir (a configured build tree) in the
# environment. Prints TAP, one line per case, and how long each part took.
#
#   build      `make dist` in the build tree, unpacked in a temporary directory, then
#              `dpkg-buildpackage -us -uc -b` there: the tarball is the clean copy, so a
#              file missing from it fails here. DEB_BUILD_OPTIONS=nocheck, because
#              run-all.sh has run `make check` on the same tree already (DEB_CHECK=1 runs
#              it inside the package build too).
#   package    version, contents, Depends from ${shlibs:Depends}, the conffile.
#   install    `dpkg -i`; the user mtahooks; the configuration's owner and mode; the unit
#              enabled, and `systemd-analyze verify` clean on the installed unit, with the
#              real program and manuals in place.
#   run        no systemd runs in a CI container, so the unit's own lines are read from
#              the installed unit and run by hand: RuntimeDirectory= and its mode, then
#              ExecStartPre= and ExecStart= as User=/Group= with UMask=, no capabilities
#              and no new privileges (setpriv). The daemon must detach, write PIDFile=,
#              negotiate with miltertest on the packaged listen address, survive
#              ExecReload=, and stop on SIGTERM to its pid. The sandbox lines
#              (ProtectSystem=, SystemCallFilter=, ...) are not applied here:
#              systemd-analyze checks them. Then the unix socket set-up of README.Debian
#              (Group=postfix): the socket is mode 0770, mtahooks:postfix, and the user
#              postfix with only its own group may connect where nobody may not.
#   purge      `dpkg --purge`: the package, its files and the enable link are gone. The
#              postinst's user stays, as Debian keeps system users; this script removes
#              it when it made it, so the machine is as it was.
# Refuses to start (Bail out!) on a machine where the package or its files already are,
# or where something listens on the packaged port: it would remove what it did not add.
# Environment: KEEP_TMP=1 keeps the temporary directory; DEB_CHECK=1 (see build).

set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
MILTERTEST=${MILTERTEST:-$(command -v miltertest 2>/dev/null || true)}
PYTHON3=${PYTHON3:-$(command -v python3 2>/dev/null || true)}
pkg=mtahooks-milter
unit=/lib/systemd/system/$pkg.service
conf=/etc/$pkg.toml
began=$(date +%s)

# give_up REASON - not runnable here: skipped, but failed under CI=true
give_up() {
	if [ "${CI:-}" = true ]; then
		printf '1..1\nnot ok 1 - the Debian package # %s, and CI=true needs it\n' "$1"
		exit 1
	fi
	echo "1..0 # SKIP $1"
	exit 0
}

[ "$(id -u)" = 0 ] || give_up "needs root (installs and removes a package)"
for tool in dpkg-buildpackage dh setpriv "$PYTHON3" "$MILTERTEST"; do
	command -v "$tool" >/dev/null 2>&1 ||
		give_up "$tool not found (contrib/install-deps.sh --test)"
done
[ -f "$top_builddir/Makefile" ] || give_up "$top_builddir is not a configured build tree"

if dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'installed\|config-files'; then
	echo "Bail out! the package $pkg is already on this machine; this test would purge it"
	exit 1
fi
for f in /usr/sbin/$pkg $conf $unit; do
	if [ -e "$f" ]; then
		echo "Bail out! $f exists already; this test would remove it"
		exit 1
	fi
done
if ss -Hltn 'sport = :11332' 2>/dev/null | grep -q .; then
	echo "Bail out! something listens on port 11332, the packaged configuration's"
	exit 1
fi
had_user=0
getent passwd mtahooks >/dev/null && had_user=1
had_run=0
[ -e /run/$pkg ] && had_run=1

tmp=$(mktemp -d /tmp/mtdeb.XXXXXX) || { echo "Bail out! mktemp failed"; exit 1; }
pids=''      # daemons started and not yet seen to stop
installed=0  # dpkg -i ran and no purge yet

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	for pid in $pids; do
		kill -KILL "$pid" 2>/dev/null
	done
	if [ "$installed" = 1 ]; then
		echo "# cleanup: purging $pkg"
		dpkg --purge "$pkg" >/dev/null 2>&1
	fi
	if [ "$had_user" = 0 ] && getent passwd mtahooks >/dev/null; then
		deluser --system --quiet mtahooks >/dev/null 2>&1
		getent group mtahooks >/dev/null && delgroup --system --quiet mtahooks >/dev/null 2>&1
	fi
	[ "$had_run" = 0 ] && rm -rf "/run/$pkg"
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "# kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
# result OK DESC [FILE] - one TAP line; FILE is shown when the case failed
result() {
	n=$((n + 1))
	if [ "$1" = 1 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		[ -n "${3:-}" ] && [ -s "$3" ] && tail -n 30 "$3" | sed 's/^/#   /'
	fi
}

# check DESC CMD... - a case that passes when CMD succeeds; its output shown if not
check() {
	desc=$1
	shift
	if "$@" >"$tmp/check.out" 2>&1; then
		result 1 "$desc"
	else
		result 0 "$desc" "$tmp/check.out"
	fi
}

# wait_for TRIES CMD... - up to TRIES x 0.1 s for a test command to succeed
wait_for() {
	tries=$1
	shift
	i=0
	while [ $i -lt "$tries" ]; do
		"$@" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# alive PID - the process runs (a zombie does not count)
alive() {
	kill -0 "$1" 2>/dev/null && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"
}

# gone PID - the process has ended
# shellcheck disable=SC2317 # called through wait_for
gone() {
	! alive "$1"
}

# unit_value KEY - the last KEY= line of the installed unit (systemd's rule for one value)
unit_value() {
	sed -n "s/^$1=//p" "$unit" | tail -n 1
}

# as_unit GROUP SUPP CMD - run the shell command CMD as the unit runs its commands: as
# User=, with group GROUP (Group=), the groups the user is a member of and SUPP
# (SupplementaryGroups=, may be empty), under UMask=, without any capability and with no
# new privileges
as_unit() {
	groups=$(id -G "$user" | tr ' ' ',')
	[ -n "$2" ] && groups="$groups,$(getent group "$2" | cut -d: -f3)"
	setpriv --reuid="$user" --regid="$1" --groups="$groups" --no-new-privs --inh-caps=-all \
		--bounding-set=-all -- sh -c "umask $umask; exec $3"
}

# negotiate SOCKET - a milter negotiation with the daemon (miltertest plays the MTA)
negotiate() {
	cat >"$tmp/negotiate.lua" <<EOF
local conn = mt.connect("$1")
if conn == nil then error("cannot connect to $1") end
local err = mt.negotiate(conn, nil, nil, nil)
if err ~= nil then error("negotiation: " .. tostring(err)) end
mt.disconnect(conn)
EOF
	timeout 30 "$MILTERTEST" -s "$tmp/negotiate.lua"
}

# cannot_connect_as USER SOCKET - connect_as fails, for want of permission on the socket
# shellcheck disable=SC2317 # called through check
cannot_connect_as() {
	connect_as "$@"
	rc=$?
	[ "$rc" = 3 ] && return 0
	echo "exit status $rc: not refused for want of permission"
	return 1
}

# connect_as USER SOCKET - USER, with only its own group, connects to a unix socket; exit
# status 3 when refused for want of permission. Debian's python3: the one on PATH may be
# a user's own (pyenv under /root), which the other user cannot run.
# shellcheck disable=SC2317 # called through check
connect_as() {
	py=/usr/bin/python3
	[ -x "$py" ] || py=$PYTHON3
	setpriv --reuid="$1" --regid="$(id -g "$1")" --clear-groups -- "$py" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except PermissionError as e:
    print(e)
    sys.exit(3)
s.close()' "$2"
}

echo "1..24"

# ---- build ------------------------------------------------------------------------------
t0=$(date +%s)
build_ok=0
if make -C "$top_builddir" dist-gzip >"$tmp/dist.log" 2>&1; then
	tarball=$(find "$top_builddir" -maxdepth 1 -name "$pkg-*.tar.gz" | head -n 1)
	mkdir "$tmp/src" && tar -xzf "$tarball" -C "$tmp/src" &&
		src=$(ls -d "$tmp/src"/$pkg-*) || src=''
	opts=nocheck
	[ "${DEB_CHECK:-0}" = 1 ] && opts=
	if [ -n "$src" ] && (cd "$src" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -us -uc -b) \
		>"$tmp/build.log" 2>&1; then
		deb=$(find "$tmp/src" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
		[ -n "$deb" ] && build_ok=1
	fi
else
	cp "$tmp/dist.log" "$tmp/build.log"
fi
t_build=$(($(date +%s) - t0))
result $build_ok "dpkg-buildpackage -us -uc -b builds $pkg from the release tarball" \
	"$tmp/build.log"
echo "# build: ${t_build} s (make dist and dpkg-buildpackage)"
if [ $build_ok = 0 ]; then
	echo "Bail out! no package to test"
	exit 1
fi

# ---- the package ------------------------------------------------------------------------
version=$("$top_builddir/src/$pkg" -V | sed -n 's/^mtahooks-milter //p')
check "its version is the daemon's, $version (debian/changelog and configure.ac agree)" \
	test "$(dpkg-deb -f "$deb" Version)" = "$version"
dpkg-deb -c "$deb" | awk '{ sub(/^\./, "", $6); print $6 }' >"$tmp/contents"
: >"$tmp/absent"
for f in /usr/sbin/$pkg $conf $unit /usr/share/man/man8/$pkg.8.gz \
	/usr/share/man/man5/$pkg.toml.5.gz /usr/share/doc/$pkg/README.Debian.gz \
	/usr/share/doc/$pkg/examples/policy.py /usr/share/doc/$pkg/examples/policy.js; do
	grep -qx "$f" "$tmp/contents" || echo "missing: $f" >>"$tmp/absent"
done
result "$([ -s "$tmp/absent" ] || echo 1)" \
	"it holds the program, the configuration, the unit, both manuals, README.Debian and the example handlers" \
	"$tmp/absent"
depends=$(dpkg-deb -f "$deb" Depends)
echo "$depends" >"$tmp/depends"
# shellcheck disable=SC2016 # expanded by sh -c
check "Depends names the shared libraries (\${shlibs:Depends}) and adduser" \
	sh -c 'for lib in libmilter libcurl libjson-c libpcre2 adduser; do
		grep -q "$lib" "$1" || { echo "no $lib in: $(cat "$1")"; exit 1; }; done' sh \
	"$tmp/depends"
dpkg-deb -e "$deb" "$tmp/control"
check "$conf is its one conffile" test "$(cat "$tmp/control/conffiles")" = "$conf"

# ---- install ----------------------------------------------------------------------------
t0=$(date +%s)
if dpkg -i "$deb" >"$tmp/install.log" 2>&1; then
	installed=1
	result 1 "dpkg -i installs it"
else
	installed=1 # half-installed counts: purge it at the end
	result 0 "dpkg -i installs it" "$tmp/install.log"
fi
t_install=$(($(date +%s) - t0))
# shellcheck disable=SC2016 # expanded by sh -c
check "the postinst made the system user mtahooks, group mtahooks, no login" sh -c '
	set -- $(getent passwd mtahooks | awk -F: "{ print \$3, \$4, \$7 }")
	[ $# = 3 ] && [ "$1" -lt 1000 ] && [ "$2" = "$(getent group mtahooks | cut -d: -f3)" ] &&
		[ "$3" = /usr/sbin/nologin ] || { getent passwd mtahooks; exit 1; }'
check "$conf is mode 640, owner root, group mtahooks" \
	test "$(stat -c '%a %U:%G' "$conf" 2>&1)" = "640 root:mtahooks"
check "the unit is enabled (multi-user.target.wants link)" \
	test -L /etc/systemd/system/multi-user.target.wants/$pkg.service
systemd-analyze verify "$unit" >"$tmp/verify.out" 2>&1
rc=$?
result "$([ $rc = 0 ] && [ ! -s "$tmp/verify.out" ] && echo 1)" \
	"systemd-analyze verify finds nothing in the installed unit (exit $rc)" "$tmp/verify.out"
"$pkg" -n >"$tmp/n.out" 2>&1
check "mtahooks-milter -n, with the compiled-in default $conf, says configuration OK" \
	grep -qx 'configuration OK' "$tmp/n.out"

# ---- run it as the unit does ------------------------------------------------------------
user=$(unit_value User)
group=$(unit_value Group)
umask=$(unit_value UMask)
rundir=/run/$(unit_value RuntimeDirectory)
rundir_mode=$(unit_value RuntimeDirectoryMode)
pidfile=$(unit_value PIDFile)
start_pre=$(unit_value ExecStartPre)
start=$(unit_value ExecStart)
listen=$(sed -n 's/^listen *= *"\(.*\)".*/\1/p' "$conf" | head -n 1)
echo "# unit: User=$user Group=$group UMask=$umask RuntimeDirectory=$rundir ($rundir_mode)"
echo "# ExecStart=$start; listen = $listen"

# start_unit GROUP SUPP [ARGS] - what systemd does at start: the runtime directory, then
# ExecStartPre= and ExecStart= (with ARGS added) as the unit's user (see as_unit); 0 once
# the pid file names a running daemon, whose pid is then in $pid
start_unit() {
	pid=''
	rm -rf "$rundir"
	install -d -o "$user" -g "$1" -m "$rundir_mode" "$rundir" || return 1
	as_unit "$1" "$2" "$start_pre" >"$tmp/start.log" 2>&1 || return 1
	as_unit "$1" "$2" "$start ${3:-}" >>"$tmp/start.log" 2>&1 || return 1
	wait_for 50 test -s "$pidfile" || return 1
	pid=$(cat "$pidfile")
	pids="$pids $pid"
	alive "$pid"
}

# stop_unit - SIGTERM to the daemon's pid (KillMode's first signal); 0 once it has ended
# (the daemon waits up to 30 s for open sessions: none here) and removed its pid file
stop_unit() {
	kill -TERM "$pid" 2>/dev/null
	wait_for 450 gone "$pid" || return 1
	pids=$(echo " $pids " | sed "s/ $pid / /")
	test ! -e "$pidfile"
}

t0=$(date +%s)
start_unit "$group" "$(unit_value SupplementaryGroups)"
rc=$?
result "$([ $rc = 0 ] && echo 1)" \
	"ExecStartPre= (-n) and ExecStart= as $user: the daemon detaches and writes $pidfile" \
	"$tmp/start.log"
if [ -n "$pid" ] && alive "$pid"; then
	# shellcheck disable=SC2016 # expanded by sh -c
	check "it runs as $user:$group with umask $umask and no capability" sh -c '
		s=/proc/$1/status
		grep -q "^Uid:[[:space:]]*$2[[:space:]]" $s && grep -q "^Gid:[[:space:]]*$3[[:space:]]" $s &&
			grep -q "^Umask:[[:space:]]*$4" $s && grep -q "^CapEff:[[:space:]]*0*$" $s ||
			{ grep "^\(Uid\|Gid\|Umask\|Cap\)" $s; exit 1; }' sh \
		"$pid" "$(id -u "$user")" "$(getent group "$group" | cut -d: -f3)" "$umask"
	check "it listens on $listen, and miltertest negotiates with it" negotiate "$listen"
	ok=1
	: >"$tmp/reload.log"
	sed -n 's/^ExecReload=//p' "$unit" >"$tmp/reload"
	while read -r cmd; do
		MAINPID=$pid
		export MAINPID
		as_unit "$group" "" "$cmd" >>"$tmp/reload.log" 2>&1 || ok=0
	done <"$tmp/reload"
	sleep 1
	alive "$pid" && negotiate "$listen" >>"$tmp/reload.log" 2>&1 || ok=0
	result $ok "ExecReload= (-n, then SIGHUP): the same daemon goes on and still negotiates" \
		"$tmp/reload.log"
	check "SIGTERM to its pid stops it, and it removes $pidfile" stop_unit
else
	for c in "it runs as $user:$group" "it listens on $listen" "ExecReload=" "SIGTERM"; do
		result 0 "$c (the daemon did not start)"
	done
fi

# README.Debian's unix socket for Postfix: a drop-in with Group=postfix (the socket's
# group) and SupplementaryGroups=mtahooks (the configuration's group).
sock=$rundir/$pkg.sock
if getent group postfix >/dev/null && getent passwd postfix >/dev/null; then
	start_unit postfix mtahooks "-p unix:$sock"
	rc=$?
	result "$([ $rc = 0 ] && echo 1)" \
		"with Group=postfix, SupplementaryGroups=mtahooks and -p unix:$sock it starts as well" \
		"$tmp/start.log"
	check "the socket is mode 770, owner $user, group postfix" \
		test "$(stat -c '%a %U:%G' "$sock" 2>&1)" = "770 $user:postfix"
	check "the user postfix, with only its own group (as Postfix runs), may connect" \
		connect_as postfix "$sock"
	check "the user nobody may not" cannot_connect_as nobody "$sock"
	[ -n "$pid" ] && alive "$pid" && stop_unit >/dev/null 2>&1
else
	for c in "with Group=postfix" "the socket is mode 770" "postfix may connect" \
		"nobody may not"; do
		if [ "${CI:-}" = true ]; then
			result 0 "$c # the user postfix is missing (contrib/install-deps.sh --test)"
		else
			n=$((n + 1))
			echo "ok $n - $c # SKIP no user postfix"
		fi
	done
fi
rm -rf "$rundir"
t_run=$(($(date +%s) - t0))

# ---- purge ------------------------------------------------------------------------------
t0=$(date +%s)
if dpkg --purge "$pkg" >"$tmp/purge.log" 2>&1; then
	installed=0
	result 1 "dpkg --purge removes it"
else
	result 0 "dpkg --purge removes it" "$tmp/purge.log"
fi
: >"$tmp/left"
for f in /usr/sbin/$pkg $conf $unit /etc/systemd/system/multi-user.target.wants/$pkg.service \
	/usr/share/doc/$pkg; do
	{ [ -e "$f" ] || [ -L "$f" ]; } && echo "left: $f" >>"$tmp/left"
done
dpkg-query -W -f '${Status}\n' "$pkg" 2>/dev/null | grep -q 'installed\|config-files' &&
	echo "dpkg still knows $pkg" >>"$tmp/left"
result "$([ -s "$tmp/left" ] || echo 1)" "nothing of it is left, not even its configuration" \
	"$tmp/left"
check "the user mtahooks stays after purge, as Debian keeps system users" \
	getent passwd mtahooks
if [ $had_user = 0 ]; then
	deluser --system --quiet mtahooks >/dev/null 2>&1
	getent group mtahooks >/dev/null && delgroup --system --quiet mtahooks >/dev/null 2>&1
fi
# shellcheck disable=SC2016 # expanded by sh -c
check "the machine is as before: user mtahooks $([ $had_user = 1 ] && echo present || echo absent) again" \
	sh -c '[ "$(getent passwd mtahooks >/dev/null && echo 1 || echo 0)" = "$1" ] &&
		[ "$(getent group mtahooks >/dev/null && echo 1 || echo 0)" = "$1" ]' sh "$had_user"
t_purge=$(($(date +%s) - t0))

echo "# time: build ${t_build} s, install ${t_install} s, run ${t_run} s, purge ${t_purge} s;" \
	"all $(($(date +%s) - began)) s"
exit 0
