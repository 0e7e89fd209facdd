#!/usr/bin/env python3
"""smtpc.py - an SMTP client for the fault and soak tests: many sessions, every reply kept.

    smtpc.py send SPEC RESULTS [LEDGER]
    smtpc.py flood --port N --count N [--parallel N] [--per-session N] [--every N]
                   [--pid PID] [--ids FILE] [--source ADDR] [--tag TEXT]

send: SPEC is a JSON file
    {"server": "127.0.0.1", "port": N, "parallel": 20, "timeout": 30,
     "sessions": [{"id": "s1", "source": "127.0.0.5", "ehlo": "client.test",
                   "pipeline": false, "transactions": [T, ...]}, ...]}
and each transaction T is
    {"msgid": "unique-part", "from": "a@b", "to": ["c@d", ...], "subject": "...",
     "body": "text (lines end in CRLF)", "expect": "delivered|discarded|tempfailed|
     rejected|aborted|abandoned", "scenario": "name",
     "abort": "rset-after-rcpt" | "vanish-in-data" (optional),
     "deliver_to": [...] (the recipients it should reach, when not all of "to")}
Sessions run in parallel, at most "parallel" at a time, each from its "source"
address (any 127.0.0.0/8 address works on loopback). One JSON line per
transaction goes to RESULTS, and to LEDGER (appended) when given:
    {"scenario", "session", "msgid" (the whole Message-ID), "expect", "seen",
     "from", "to" (deliver_to, else to),
     "replies": {"greeting", "ehlo", "mail", "rcpt": [...], "data", "eom", "rset"},
     "qid"}
where "seen" is what the client saw become of the transaction: "queued" (250
at end of data), "tempfail" (a 4xx ended it), "reject" (a 5xx ended it),
"aborted" (the client sent RSET), "vanished" (the client closed mid-DATA) or
"error: ..." (the connection broke or timed out). With "pipeline" the
session sends MAIL, every RCPT and DATA in one write (RFC 2920).

flood: sends COUNT plain messages through PARALLEL connections, PER-SESSION
messages per connection, and prints "sent=N accepted=N rss_kb=K" every EVERY
accepted messages (RSS of process PID from /proc, when given). The Message-IDs
of accepted messages are appended to FILE (--ids) for accounting.

Standard library only; every socket operation has a timeout.
"""

import argparse
import json
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

MAX_REPLY_LINES = 100
MSGID_DOMAIN = "mtahooks.test"


class SMTPError(Exception):
    """The connection broke, timed out, or the server spoke nonsense."""


class Conn:
    """One SMTP connection: commands out, (possibly multi-line) replies in."""

    def __init__(self, server, port, source, timeout):
        self.sock = socket.create_connection((server, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            try:
                data = self.sock.recv(65536)
            except OSError as e:
                raise SMTPError("recv: %s" % e)
            if not data:
                raise SMTPError("the server closed the connection")
            self.buf += data
            if len(self.buf) > 1 << 20:
                raise SMTPError("a reply line longer than 1 MiB")
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("latin-1")

    def reply(self):
        """One reply, its lines joined by "|"; the code is its first three characters."""
        lines = []
        for _ in range(MAX_REPLY_LINES):
            text = self.line()
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                return "|".join(lines)
        raise SMTPError("a reply of more than %d lines" % MAX_REPLY_LINES)

    def send(self, data):
        try:
            self.sock.sendall(data if isinstance(data, bytes) else data.encode("latin-1"))
        except OSError as e:
            raise SMTPError("send: %s" % e)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def message_bytes(t, msgid):
    """The message of transaction t, as DATA sends it (dot-stuffed, with the final dot)."""
    head = ("Date: Fri, 21 Nov 2025 10:00:00 +0000\r\nFrom: %s\r\nTo: %s\r\n"
            "Subject: %s\r\nMessage-ID: %s\r\n" % (t["from"], ", ".join(t["to"]),
                                                   t.get("subject", msgid), msgid))
    for h in t.get("headers", []):
        head += h + "\r\n"
    body = t.get("body", "A test message.\r\n")
    raw = (head + "\r\n" + body).encode("utf-8")
    lines = raw.split(b"\r\n")
    if lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)


def code(reply):
    return reply[:3] if reply else ""


def outcome_of(reply):
    """What a reply that ends a transaction means."""
    c = code(reply)
    if c.startswith("4"):
        return "tempfail"
    if c.startswith("5"):
        return "reject"
    return "error: unexpected reply %r" % reply


def run_transaction(conn, t, pipeline, replies):
    """Run one transaction on an open session; returns what the client saw."""
    data = message_bytes(t, replies["msgid"])
    rcpts = ["RCPT TO:<%s>" % r for r in t["to"]]
    abort = t.get("abort")
    if pipeline and not abort:
        conn.send("".join(c + "\r\n" for c in ["MAIL FROM:<%s>" % t["from"]] + rcpts + ["DATA"]))
        replies["mail"] = conn.reply()
        replies["rcpt"] = [conn.reply() for _ in rcpts]
        replies["data"] = conn.reply()
    else:
        replies["mail"] = conn.cmd("MAIL FROM:<%s>" % t["from"])
        if code(replies["mail"]) != "250":
            return outcome_of(replies["mail"])
        replies["rcpt"] = [conn.cmd(c) for c in rcpts]
        if abort == "rset-after-rcpt":
            replies["rset"] = conn.cmd("RSET")
            return "aborted"
        if not any(code(r) == "250" for r in replies["rcpt"]):
            seen = outcome_of(replies["rcpt"][-1])
            replies["rset"] = conn.cmd("RSET")
            return seen
        replies["data"] = conn.cmd("DATA")
    if code(replies["mail"]) != "250":
        return outcome_of(replies["mail"])
    if not any(code(r) == "250" for r in replies["rcpt"]):
        seen = outcome_of(replies["rcpt"][-1])
        replies["rset"] = conn.cmd("RSET")
        return seen
    if code(replies["data"]) != "354":
        return outcome_of(replies["data"])
    if abort == "vanish-in-data":
        conn.send(data[:len(data) // 2])
        time.sleep(0.2)   # let the MTA take in the half it got before the connection goes
        conn.close()
        return "vanished"
    conn.send(data + b".\r\n")
    replies["eom"] = conn.reply()
    if code(replies["eom"]) == "250":
        return "queued"
    return outcome_of(replies["eom"])


def qid_of(reply):
    """The queue id in Postfix's "250 2.0.0 Ok: queued as ID"."""
    marker = "queued as "
    i = (reply or "").find(marker)
    return reply[i + len(marker):].split()[0] if i >= 0 else None


def run_session(spec, s, emit):
    """One SMTP session: greeting, EHLO, its transactions, QUIT. emit() gets each result."""
    results = []
    for t in s["transactions"]:
        msgid = "<%s@%s>" % (t["msgid"], MSGID_DOMAIN)
        results.append({"scenario": t.get("scenario", ""), "session": s["id"], "msgid": msgid,
                        "expect": t.get("expect", ""), "seen": None, "from": t["from"],
                        "to": t.get("deliver_to", t["to"]), "replies": {"msgid": msgid},
                        "qid": None})
    conn = None
    failure = None
    session_replies = {}
    try:
        conn = Conn(spec.get("server", "127.0.0.1"), spec["port"], s.get("source"),
                    spec.get("timeout", 30))
        session_replies["greeting"] = conn.reply()
        if code(session_replies["greeting"]) != "220":
            failure = outcome_of(session_replies["greeting"])
        else:
            session_replies["ehlo"] = conn.cmd("EHLO %s" % s.get("ehlo", "client.mtahooks.test"))
            if code(session_replies["ehlo"]) != "250":
                failure = outcome_of(session_replies["ehlo"])
        for t, r in zip(s["transactions"], results):
            if failure is not None:
                break
            r["seen"] = run_transaction(conn, t, s.get("pipeline", False), r["replies"])
            r["qid"] = qid_of(r["replies"].get("eom"))
            if r["seen"] == "vanished":
                conn = None
                failure = "error: the client had gone"
        if conn is not None and failure is None:
            session_replies["quit"] = conn.cmd("QUIT")
    except (SMTPError, OSError) as e:
        failure = "error: %s" % e
    finally:
        if conn is not None:
            conn.close()
    for r in results:
        r["replies"].update(session_replies)
        del r["replies"]["msgid"]
        if r["seen"] is None:
            r["seen"] = failure or "error: not attempted"
        emit(r)


def cmd_send(argv):
    spec_path, results_path = argv[0], argv[1]
    ledger_path = argv[2] if len(argv) > 2 else None
    with open(spec_path) as f:
        spec = json.load(f)
    lock = threading.Lock()
    out = open(results_path, "a")
    ledger = open(ledger_path, "a") if ledger_path else None

    def emit(r):
        line = json.dumps(r, sort_keys=True) + "\n"
        with lock:
            out.write(line)
            out.flush()
            if ledger:
                ledger.write(line)
                ledger.flush()

    with ThreadPoolExecutor(max_workers=max(1, min(int(spec.get("parallel", 10)), 200))) as ex:
        futures = [ex.submit(run_session, spec, s, emit) for s in spec["sessions"]]
        for fut in futures:
            fut.result()
    out.close()
    if ledger:
        ledger.close()
    return 0


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return -1


def cmd_flood(argv):
    ap = argparse.ArgumentParser(prog="smtpc.py flood")
    ap.add_argument("--server", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--per-session", type=int, default=50)
    ap.add_argument("--every", type=int, default=10000)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--ids")
    ap.add_argument("--tag", default="flood")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args(argv)

    lock = threading.Lock()
    state = {"next": 0, "accepted": 0, "refused": 0, "errors": 0, "reported": 0}
    ids = open(args.ids, "a") if args.ids else None
    start = time.time()

    def take(n):
        with lock:
            first = state["next"]
            n = max(0, min(n, args.count - first))
            state["next"] += n
            return first, n

    def report_due():
        # Called with the lock held: one line per EVERY accepted messages.
        while state["accepted"] >= state["reported"] + args.every:
            state["reported"] += args.every
            print("messages=%d rss_kb=%d elapsed_s=%.0f refused=%d errors=%d" % (
                state["reported"], rss_kb(args.pid) if args.pid else -1,
                time.time() - start, state["refused"], state["errors"]), flush=True)

    def worker(w):
        for _ in range(args.count):          # bounded: at most one message per round
            first, n = take(args.per_session)
            if n == 0:
                return
            s = {"id": "%s-%d" % (args.tag, first), "transactions": [
                {"msgid": "%s-%d" % (args.tag, i), "from": "soak@client.mtahooks.test",
                 "to": ["soak%d@dest.mtahooks.test" % (i % 7)],
                 "subject": "soak %d" % i,
                 "body": "Message %d of the soak.\r\n%s\r\n" % (i, "x" * (i % 200))}
                for i in range(first, first + n)]}
            got = []
            run_session({"server": args.server, "port": args.port, "timeout": args.timeout},
                        s, got.append)
            with lock:
                for r in got:
                    if r["seen"] == "queued":
                        state["accepted"] += 1
                        if ids:
                            ids.write(r["msgid"] + "\n")
                    elif r["seen"].startswith("error"):
                        state["errors"] += 1
                    else:
                        state["refused"] += 1
                report_due()

    with ThreadPoolExecutor(max_workers=max(1, min(args.parallel, 64))) as ex:
        for fut in [ex.submit(worker, w) for w in range(args.parallel)]:
            fut.result()
    if ids:
        ids.close()
    print("total sent=%d accepted=%d refused=%d errors=%d elapsed_s=%.0f" % (
        state["next"], state["accepted"], state["refused"], state["errors"],
        time.time() - start), flush=True)
    return 0 if state["accepted"] == args.count else 1


def main(argv):
    if len(argv) >= 3 and argv[1] == "send":
        return cmd_send(argv[2:])
    if len(argv) >= 2 and argv[1] == "flood":
        return cmd_flood(argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
