#!/usr/bin/env python3
"""milterproxy - relay milter connections and record every packet (tests/milter)

    $PYTHON3 tests/milter/milterproxy.py --listen SOCK --upstream-file FILE --trace FILE

Listens on the unix socket --listen; for each client (miltertest, playing the MTA) it
reads the filter's socket from --upstream-file (so a test switches filters by rewriting
that file): a unix socket path, or inet6:PORT@HOST (miltertest itself cannot connect over
IPv6, so this is how the daemon's inet6 listener gets a real IPv6 session); connects to it, and relays bytes both ways
unchanged and at once. Alongside, it cuts each direction into milter packets (4-byte
big-endian length, 1-byte command, data) and appends one JSON line per packet to --trace:

    {"c": <connection serial>, "from": "mta" | "filter", "cmd": "<command char>",
     "data": "<packet data, each byte as the code point of the same value>"}

(decode "data" with .encode("latin-1")). A line {"c": N, "event": "open" | "upstream-failed"
| "close"} marks the life of a connection. The trace file is opened per line in append mode,
so a test may truncate it between scenarios.

Why: miltertest shows a script only the kind of each reply (SMFIR_*), never the SMTP text
of a reply before end of message, nor SMFIR_CHGFROM / SMFIR_ADDRCPT_PAR / SMFIR_SETSYMLIST
data; the trace lets the checker see all of them, and whether replies were sent for events
negotiated as "no reply".

Exits on SIGTERM/SIGINT, removing its socket.
"""

import argparse
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading

MAX_PACKET = 64 * 1024 * 1024  # a bound for the parser only; bytes are relayed regardless


class Trace:
    """The trace file, shared by all relay threads."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, obj):
        line = json.dumps(obj, ensure_ascii=True) + "\n"
        with self.lock:
            with open(self.path, "a", encoding="ascii") as f:
                f.write(line)
                f.flush()


class PacketCutter:
    """Cuts one direction of a milter stream into packets for the trace."""

    def __init__(self, trace, conn, side):
        self.trace = trace
        self.conn = conn
        self.side = side
        self.buf = bytearray()
        self.broken = False

    def feed(self, data):
        if self.broken:
            return
        self.buf += data
        while len(self.buf) >= 4:
            (length,) = struct.unpack(">I", self.buf[:4])
            if length < 1 or length > MAX_PACKET:
                self.trace.write({"c": self.conn, "from": self.side, "event": "garbage",
                                  "length": length})
                self.broken = True
                return
            if len(self.buf) < 4 + length:
                return
            cmd = chr(self.buf[4])
            payload = bytes(self.buf[5:4 + length])
            del self.buf[:4 + length]
            self.trace.write({"c": self.conn, "from": self.side, "cmd": cmd,
                              "data": payload.decode("latin-1")})


def relay(client, upstream_file, trace, conn):
    """Serve one client connection until either side closes."""
    trace.write({"c": conn, "event": "open"})
    upstream = None
    try:
        with open(upstream_file, encoding="utf-8") as f:
            where = f.read().strip()
        if where.startswith("inet6:"):
            port, _, host = where[len("inet6:"):].partition("@")
            upstream = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            upstream.connect((host, int(port)))
        else:
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(where)
    except (OSError, ValueError) as e:
        trace.write({"c": conn, "event": "upstream-failed", "error": str(e)})
        client.close()
        if upstream is not None:
            upstream.close()
        return
    cutters = {client: PacketCutter(trace, conn, "mta"),
               upstream: PacketCutter(trace, conn, "filter")}
    peer = {client: upstream, upstream: client}
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ)
    sel.register(upstream, selectors.EVENT_READ)
    open_sides = 2
    try:
        while open_sides > 0:
            for key, _ in sel.select():
                sock = key.fileobj
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    # pass the end of stream on, keep reading the other way
                    sel.unregister(sock)
                    open_sides -= 1
                    try:
                        peer[sock].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                # traced before it is passed on: once a side has seen a packet, so
                # has the trace
                cutters[sock].feed(data)
                try:
                    peer[sock].sendall(data)
                except OSError:
                    open_sides = 0
                    break
    finally:
        sel.close()
        client.close()
        upstream.close()
        trace.write({"c": conn, "event": "close"})


def main():
    parser = argparse.ArgumentParser(description="recording milter relay for tests")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--upstream-file", required=True)
    parser.add_argument("--trace", required=True)
    args = parser.parse_args()

    trace = Trace(args.trace)
    # Bound under another name and renamed once listening: tests wait for the socket file
    # to appear, and a connect between bind() and listen() would be refused.
    building = args.listen + ".new"
    for path in (args.listen, building):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(building)
    server.listen(64)
    os.rename(building, args.listen)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    conn = 0
    try:
        while True:
            client, _ = server.accept()
            conn += 1
            threading.Thread(target=relay, args=(client, args.upstream_file, trace, conn),
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
