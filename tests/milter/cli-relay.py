#!/usr/bin/env python3
"""cli-relay - carry miltertest's connections to a filter on IPv6 (tests/milter/cli.sh)

    $PYTHON3 tests/milter/cli-relay.py --listen PATH --to-port PORT [--to-host ::1]

miltertest connects only to unix and IPv4 sockets; to test the daemon's inet6 listener,
this relay listens on the unix socket PATH and joins each client to [HOST]:PORT over
TCP, copying bytes both ways unchanged until either side closes. Loopback only.
Exits on SIGTERM/SIGINT, removing its socket.
"""

import argparse
import ipaddress
import os
import selectors
import signal
import socket
import sys
import threading


def relay(client, host, port):
    """Join one client to the filter until either side closes."""
    try:
        upstream = socket.create_connection((host, port), timeout=10)
    except OSError as e:
        sys.stderr.write("cli-relay: connect [%s]:%d: %s\n" % (host, port, e))
        client.close()
        return
    upstream.settimeout(None)
    # milter is one small packet after another: no Nagle delay on our side
    upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    peer = {client: upstream, upstream: client}
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ)
    sel.register(upstream, selectors.EVENT_READ)
    try:
        while True:
            for key, _ in sel.select():
                data = key.fileobj.recv(65536)
                if not data:
                    return
                peer[key.fileobj].sendall(data)
    except OSError:
        return
    finally:
        sel.close()
        client.close()
        upstream.close()


def main():
    parser = argparse.ArgumentParser(description="unix-to-IPv6 relay for miltertest")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--to-host", default="::1")
    parser.add_argument("--to-port", type=int, required=True)
    args = parser.parse_args()
    if not ipaddress.ip_address(args.to_host).is_loopback:
        parser.error("--to-host %s is not a loopback address" % args.to_host)

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(args.listen)
    server.listen(8)
    server.settimeout(0.2)  # so that a signal is noticed promptly
    stopping = threading.Event()

    def stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping.is_set():
            try:
                client, _ = server.accept()
            except socket.timeout:
                continue
            except InterruptedError:
                continue
            client.settimeout(None)
            threading.Thread(target=relay, args=(client, args.to_host, args.to_port),
                             daemon=True).start()
    finally:
        server.close()
        try:
            os.unlink(args.listen)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
