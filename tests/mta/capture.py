#!/usr/bin/env python3
"""capture.py - an SMTP sink on loopback that keeps every message byte for byte.

The MTA under test relays everything here. Each message is stored as two
files in --dir, written under a temporary name and renamed, so a reader that
waits for NNNN.json always finds a complete NNNN.eml beside it:

    NNNN.eml   the DATA payload after dot-unstuffing, without the final dot
               line, exactly as the bytes arrived (CRLF kept, 8-bit kept)
    NNNN.json  {"from": "<reverse path without <>>", "rcpts": [...],
                "mail_params": "SIZE=12 ...", "rcpt_params": ["NOTIFY=...", ...],
                "helo": "..."}

With --ids FILE nothing is stored but each message's Message-ID, appended to
FILE (the soak test's accounting). smtp-sink is not used because it rewrites
line endings. Standard library only.
"""

import argparse
import json
import os
import re
import signal
import socketserver
import sys
import threading

MAX_LINE = 1100            # RFC 5321 allows 1000; a little slack for broken clients
MAX_MESSAGE = 64 << 20     # refuse anything larger than the tests could ever send
GREETING_NAME = "capture.test"   # must differ from the MTA's myhostname (loop check)


class Store:
    """Numbered, atomically written message files in one directory; or, with an ids
    file, only each message's Message-ID appended to it, one a line (a soak sends
    too many messages to keep them all)."""

    def __init__(self, directory, ids=None):
        self.directory = directory
        self.lock = threading.Lock()
        self.serial = 0
        self.ids = open(ids, "a", encoding="latin-1") if ids else None

    def save(self, data, envelope):
        with self.lock:
            self.serial += 1
            name = "%04d" % self.serial
            if self.ids:
                head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
                found = re.search(r"(?im)^message-id:[ \t]*(\S+)", head)
                self.ids.write("%s\n" % (found.group(1) if found else "-"))
                self.ids.flush()
                return name
        for suffix, payload in ((".eml", data),
                                (".json", json.dumps(envelope).encode() + b"\n")):
            final = os.path.join(self.directory, name + suffix)
            tmp = os.path.join(self.directory, "." + name + suffix + ".tmp")
            with open(tmp, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, final)
        return name


def split_path(arg):
    """'<a@b> K=V K2' -> ('a@b', 'K=V K2'); None when there is no <path>."""
    arg = arg.strip()
    if not arg.startswith("<"):
        return None
    end = arg.find(">")
    if end < 0:
        return None
    return arg[1:end], arg[end + 1:].strip()


class Handler(socketserver.StreamRequestHandler):
    """One SMTP session: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    def reply(self, text):
        self.wfile.write(text.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def reset(self):
        self.sender = None
        self.mail_params = ""
        self.rcpts = []
        self.rcpt_params = []

    def handle(self):
        self.helo = None
        self.reset()
        self.reply("220 %s ESMTP capture" % GREETING_NAME)
        for _ in range(100000):          # bounded: no session is that long
            line = self.rfile.readline(MAX_LINE)
            if not line:
                return
            text = line.decode("latin-1").rstrip("\r\n")
            verb, _, arg = text.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.helo = arg
                self.reset()
                self.wfile.write(("250-%s\r\n250-8BITMIME\r\n250-DSN\r\n"
                                  "250 SIZE %d\r\n" % (GREETING_NAME, MAX_MESSAGE)).encode())
                self.wfile.flush()
            elif verb == "HELO":
                self.helo = arg
                self.reset()
                self.reply("250 %s" % GREETING_NAME)
            elif verb == "MAIL" and arg.upper().startswith("FROM:"):
                parsed = split_path(arg[5:])
                if parsed is None:
                    self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
                    continue
                self.reset()
                self.sender, self.mail_params = parsed
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT" and arg.upper().startswith("TO:"):
                parsed = split_path(arg[3:])
                if parsed is None or self.sender is None:
                    self.reply("503 5.5.1 Error: need MAIL first" if self.sender is None
                               else "501 5.5.4 Syntax: RCPT TO:<address>")
                    continue
                self.rcpts.append(parsed[0])
                self.rcpt_params.append(parsed[1])
                self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if not self.rcpts:
                    self.reply("503 5.5.1 Error: need RCPT first")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = self.read_data()
                if data is None:
                    return
                name = self.server.store.save(data, {
                    "from": self.sender, "rcpts": self.rcpts,
                    "mail_params": self.mail_params, "rcpt_params": self.rcpt_params,
                    "helo": self.helo})
                self.reset()
                self.reply("250 2.0.0 Ok: stored %s" % name)
            elif verb == "RSET":
                self.reset()
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Error: command not recognized")

    def read_data(self):
        """Read up to the lone dot; undo dot-stuffing; None if the client went away."""
        chunks = []
        total = 0
        while total <= MAX_MESSAGE:
            line = self.rfile.readline(MAX_MESSAGE)
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                return b"".join(chunks)
            if line.startswith(b"."):
                line = line[1:]
            chunks.append(line)
            total += len(line)
        return None


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--listen", default="127.0.0.1", choices=("127.0.0.1",))
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ids", help="keep only Message-IDs, appended to this file")
    args = ap.parse_args()

    server = Server((args.listen, args.port), Handler)
    server.store = Store(args.dir, args.ids)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
