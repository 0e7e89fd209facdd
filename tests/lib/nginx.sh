#!/bin/sh
# nginx.sh - a private nginx on loopback that speaks HTTP/2 in front of the hook server
#
#   tests/lib/nginx.sh start DIR HOOKPORT CERT KEY
#   tests/lib/nginx.sh stop DIR
#
# start writes DIR/nginx.conf and starts nginx (Debian nginx-light) in the background with
# `-p DIR/ -c DIR/nginx.conf -g 'daemon off;'`: every path it uses (pid, lock, logs, temp
# dirs) is under DIR, which must exist, be empty and belong to the caller. It listens on
# two free loopback ports, written to DIR/https.port and DIR/h2c.port once nginx runs:
#   https  TLS with CERT/KEY (PEM), HTTP/2 by ALPN (HTTP/1.1 for clients without it)
#   h2c    cleartext HTTP/2 with prior knowledge only (no HTTP/1.1, no Upgrade)
# On both, POST /static answers {"action":"accept"} from nginx itself, and every other
# path is passed as it is to the hook server at http://127.0.0.1:HOOKPORT (HTTP/1.1).
# DIR/logs/access.log gets one line per request, fields separated by single spaces:
#   <port> <connection serial> <requests on that connection> <protocol> <method> <path>
#   <status>        e.g. "40123 7 3 HTTP/2.0 POST /h2 200"
# With a single worker, the connection serial ($connection) names one client TCP
# connection, so a test can count connections and see "HTTP/2.0".
# The master's pid is written to DIR/master.pid; stop sends it SIGTERM (only when it is an
# nginx started with this DIR), waits up to 10 s, then SIGKILL.
# start tries three sets of ports (a port picked free may be taken before nginx binds it)
# and waits at most 5 s for each; it exits 1 saying why, with nginx's error log on stderr.
# Run as root, workers run as root too (DIR may be mode 0700); needs python3 ($PYTHON3)
# to pick the free ports.

set -u

NGINX=${NGINX:-$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)}
PYTHON3=${PYTHON3:-python3}

usage() {
	echo "usage: $0 start DIR HOOKPORT CERT KEY | stop DIR" >&2
	exit 2
}

# free_port - a loopback TCP port nobody listens on right now (the kernel picks it)
free_port() {
	"$PYTHON3" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# alive PID - the process runs and is not a zombie
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	if [ -r "/proc/$1/status" ] && grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; then
		return 1
	fi
	return 0
}

# ours PID DIR - the process is an nginx master started with prefix DIR
ours() {
	alive "$1" || return 1
	[ -r "/proc/$1/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "nginx -p $2/ "
}

# write_conf DIR HOOKPORT CERT KEY HTTPS H2C - the configuration
write_conf() {
	user=
	[ "$(id -u)" = 0 ] && user="user root;"
	cat >"$1/nginx.conf" <<EOF
# written by tests/lib/nginx.sh
$user
worker_processes 1;
pid $1/nginx.pid;
lock_file $1/nginx.lock;
error_log $1/logs/error.log info;

events {
    worker_connections 256;
}

http {
    log_format hooks '\$server_port \$connection \$connection_requests \$server_protocol '
                     '\$request_method \$uri \$status';
    access_log $1/logs/access.log hooks;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
    client_max_body_size 64m;
    client_body_buffer_size 1m;
    keepalive_timeout 120s;
    keepalive_requests 100000;
    default_type application/json;

    server {
        listen 127.0.0.1:$5 ssl http2;
        ssl_certificate $3;
        ssl_certificate_key $4;
        include $1/locations.conf;
    }

    server {
        listen 127.0.0.1:$6 http2;
        include $1/locations.conf;
    }
}
EOF
	cat >"$1/locations.conf" <<EOF
location = /static {
    return 200 '{"action":"accept"}';
}

location / {
    proxy_pass http://127.0.0.1:$2;
    proxy_http_version 1.1;
    proxy_set_header Host 127.0.0.1:$2;
    proxy_set_header Connection "";
    proxy_read_timeout 120s;
}
EOF
}

# start DIR HOOKPORT CERT KEY
start() {
	[ $# = 4 ] || usage
	dir=$1
	case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
	[ -d "$dir" ] || { echo "nginx.sh: $dir is not a directory" >&2; exit 1; }
	if [ ! -x "$NGINX" ]; then
		echo "nginx.sh: nginx not found (Debian package nginx-light)" >&2
		exit 1
	fi
	mkdir -p "$dir/logs" "$dir/tmp" || exit 1
	try=0
	while [ $try -lt 3 ]; do
		try=$((try + 1))
		if ! https=$(free_port) || ! h2c=$(free_port); then
			echo "nginx.sh: no free port" >&2
			exit 1
		fi
		[ "$https" != "$h2c" ] || continue
		write_conf "$dir" "$2" "$3" "$4" "$https" "$h2c"
		rm -f "$dir/nginx.pid"
		"$NGINX" -p "$dir/" -c "$dir/nginx.conf" -g 'daemon off;' \
			</dev/null >>"$dir/logs/stderr.log" 2>&1 &
		pid=$!
		echo "$pid" >"$dir/master.pid"
		# nginx writes its pid file once its listening sockets are bound
		i=0
		while [ $i -lt 100 ] && alive "$pid" && [ ! -s "$dir/nginx.pid" ]; do
			sleep 0.05
			i=$((i + 1))
		done
		if alive "$pid" && [ -s "$dir/nginx.pid" ]; then
			echo "$https" >"$dir/https.port"
			echo "$h2c" >"$dir/h2c.port"
			return 0
		fi
		if alive "$pid"; then
			kill -KILL "$pid" 2>/dev/null
			echo "nginx.sh: nginx did not start within 5 s" >&2
			break
		fi
		wait "$pid" 2>/dev/null
		grep -qs 'Address already in use' "$dir/logs/error.log" "$dir/logs/stderr.log" ||
			break
	done
	echo "nginx.sh: nginx did not start:" >&2
	tail -n 20 "$dir/logs/error.log" "$dir/logs/stderr.log" >&2 2>/dev/null
	rm -f "$dir/master.pid"
	exit 1
}

# stop DIR
stop() {
	[ $# = 1 ] || usage
	dir=$1
	case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
	[ -s "$dir/master.pid" ] || return 0
	pid=$(cat "$dir/master.pid")
	case $pid in '' | *[!0-9]*) echo "nginx.sh: bad pid file $dir/master.pid" >&2; exit 1 ;; esac
	if ! ours "$pid" "$dir"; then
		rm -f "$dir/master.pid"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	i=0
	while [ $i -lt 200 ] && alive "$pid"; do
		sleep 0.05
		i=$((i + 1))
	done
	if alive "$pid"; then
		echo "nginx.sh: nginx $pid ignored SIGTERM for 10 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$dir/master.pid"
	return 0
}

case ${1:-} in
start)
	shift
	start "$@"
	;;
stop)
	shift
	stop "$@"
	;;
*)
	usage
	;;
esac
