#!/usr/bin/env python3
"""milter-send.py - play an MTA for one message: send it to a milter and print each answer.

    python3 contrib/milter-send.py [-s SOCKET] [--from ADDR] [--to ADDR]... [--subject TEXT]

A way to see mtahooks-milter and its hooks decide without installing Postfix or Sendmail
(Python standard library only). It connects to SOCKET (default inet:11332@127.0.0.1, where
contrib/quickstart.sh runs the daemon), speaks milter protocol 6 the way Postfix does, and
plays one SMTP session from 192.0.2.10 (HELO mail.example.net): MAIL FROM, one RCPT TO per
--to, then a small message with the given Subject. For each step it prints one line, the
command and what the milter answered, in SMTP terms where the milter set a reply:

    RCPT TO:<eve@blocked.example> -> 550 5.7.1 Recipient domain not accepted here

and after end of message the changes the milter asked for (headers, recipients, sender,
body, quarantine). A step the milter asked the MTA to skip, or not to wait for, says so.

SOCKET takes the daemon's forms: unix:/path, local:/path, inet:PORT@HOST, inet6:PORT@HOST.
Exit status: 0 when the session ran to its end (whatever the milter decided), 1 when the
milter could not be reached or broke the protocol, 2 for a usage error. Every wait is
bounded (--timeout, default 60 s, per answer).
"""
import argparse
import socket
import struct
import sys

# Milter protocol constants (libmilter's mfapi.h / mfdef.h).
VERSION = 6
ALL_ACTIONS = 0x1FF  # add/change headers, body, recipients, sender, quarantine, symlist
NO_CONNECT, NO_HELO, NO_MAIL, NO_RCPT = 0x1, 0x2, 0x4, 0x8
NO_BODY, NO_HDRS, NO_EOH, NO_DATA = 0x10, 0x20, 0x40, 0x200
NR_HDR, NR_CONN, NR_HELO, NR_MAIL, NR_RCPT = 0x80, 0x1000, 0x2000, 0x4000, 0x8000
NR_DATA, NR_EOH, NR_BODY, HDR_LEADSPC = 0x10000, 0x40000, 0x80000, 0x100000
# Everything Postfix 3.7 offers but SMFIP_SKIP (0x400), which this client does not honour.
OFFERED = 0x1FFFFF & ~0x400
MAX_PACKET = 64 * 1024 * 1024  # a bound on what one answer may make us read

FINAL = {b"c": "continue", b"a": "accept", b"r": "reject (the MTA's own text)",
         b"t": "tempfail (the MTA's own text)", b"d": "discard"}


class MilterError(Exception):
    """The milter could not be reached, or broke the protocol."""


def open_socket(spec, timeout):
    """A connected socket for a milter address in the daemon's notation."""
    kind, _, rest = spec.partition(":")
    if kind in ("unix", "local") and rest:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr = rest
    elif kind in ("inet", "inet6") and "@" in rest:
        port, _, host = rest.partition("@")
        if not port.isdigit() or not 0 < int(port) < 65536 or not host:
            raise MilterError("bad socket %r" % spec)
        family = socket.AF_INET6 if kind == "inet6" else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        addr = (host, int(port))
    else:
        raise MilterError("bad socket %r (unix:/path, inet:PORT@HOST or inet6:PORT@HOST)" % spec)
    s.settimeout(timeout)
    try:
        s.connect(addr)
    except OSError as e:
        s.close()
        raise MilterError("cannot connect to %s: %s" % (spec, e.strerror or e)) from None
    return s


class Milter:
    """One milter connection: packets out, answers in."""

    def __init__(self, sock):
        self.sock = sock
        self.protocol = 0

    def send(self, cmd, data=b""):
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except socket.timeout:
                raise MilterError("no answer from the milter in time") from None
            if not chunk:
                raise MilterError("the milter closed the connection")
            buf += chunk
        return buf

    def recv(self):
        (size,) = struct.unpack(">I", self.recv_exact(4))
        if size < 1 or size > MAX_PACKET:
            raise MilterError("bad packet length %d" % size)
        data = self.recv_exact(size)
        return data[:1], data[1:]

    def answer(self):
        """The next answer that is not a progress notice."""
        for _ in range(100000):  # progress notices come every 2 s: bounded by --timeout too
            cmd, data = self.recv()
            if cmd != b"p":
                return cmd, data
        raise MilterError("too many progress notices")

    def negotiate(self):
        self.send(b"O", struct.pack(">III", VERSION, ALL_ACTIONS, OFFERED))
        cmd, data = self.answer()
        if cmd != b"O" or len(data) < 12:
            raise MilterError("unexpected answer to option negotiation")
        version, actions, self.protocol = struct.unpack(">III", data[:12])
        return version, actions

    def step(self, label, cmd, data, skip_flag, noreply_flag, macros=b""):
        """Send one SMTP step (after its macros); print and return its outcome."""
        if self.protocol & skip_flag:
            print("%s -> (skipped: no hook needs it)" % label)
            return "skip"
        if macros:
            self.send(b"D", cmd + macros)
        self.send(cmd, data)
        if self.protocol & noreply_flag:
            print("%s -> (sent; no reply needed)" % label)
            return "noreply"
        rcmd, rdata = self.answer()
        print("%s -> %s" % (label, describe(rcmd, rdata)))
        return rcmd, rdata


def cstr(*parts):
    """NUL-terminated strings, encoded as the MTA would send them."""
    return b"".join(p.encode("utf-8", "replace") + b"\0" for p in parts)


def strings(data):
    """The NUL-terminated strings in a packet."""
    return [p.decode("utf-8", "replace") for p in data.split(b"\0")[:-1]]


def describe(cmd, data):
    """An answer in words: an SMTP reply where the milter set one."""
    if cmd == b"y":
        text = data.rstrip(b"\0").decode("utf-8", "replace")
        return text.replace("\r\n", "\n    ")
    if cmd in FINAL:
        return FINAL[cmd]
    return "unexpected answer %r" % cmd


def refused(outcome):
    """Whether a step's outcome refuses the command (reject, tempfail, a 4xx/5xx reply)."""
    if not isinstance(outcome, tuple):
        return False
    return outcome[0] in (b"r", b"t", b"y", b"d")


def print_change(cmd, data):
    """One end-of-message change, in words."""
    s = strings(data[4:] if cmd in (b"i", b"m") else data)
    if cmd == b"h" and len(s) >= 2:
        print("  add header: %s: %s" % (s[0], s[1]))
    elif cmd == b"i" and len(s) >= 2:
        print("  insert header at %d: %s: %s" % (struct.unpack(">I", data[:4])[0], s[0], s[1]))
    elif cmd == b"m" and len(s) >= 1:
        index = struct.unpack(">I", data[:4])[0]
        if len(s) < 2 or s[1] == "":
            print("  delete header: %s #%d" % (s[0], index))
        else:
            print("  change header: %s #%d: %s" % (s[0], index, s[1]))
    elif cmd in (b"+", b"2") and s:
        print("  add recipient: %s" % " ".join(s))
    elif cmd == b"-" and s:
        print("  delete recipient: %s" % s[0])
    elif cmd == b"e" and s:
        print("  change sender: %s" % " ".join(s))
    elif cmd == b"b":
        print("  replace body (%d bytes)" % len(data))
    elif cmd == b"q":
        print("  quarantine: %s" % (s[0] if s else ""))
    else:
        print("  unexpected answer %r" % cmd)


def session(m, args):
    """Play one SMTP session; False when it stops early (a refusal)."""
    version, actions = m.negotiate()
    print("negotiated milter protocol %d (actions 0x%x, protocol 0x%x)"
          % (version, actions, m.protocol))
    qid = "4QTEST0001"
    out = m.step("CONNECT from mail.example.net[192.0.2.10]:52344", b"C",
                 cstr("mail.example.net") + b"4" + struct.pack(">H", 52344)
                 + cstr("192.0.2.10"), NO_CONNECT, NR_CONN,
                 cstr("j", "mx.example.com", "{daemon_addr}", "127.0.0.1",
                      "{daemon_port}", "25", "{daemon_name}", "smtpd"))
    if refused(out):
        return False
    out = m.step("HELO mail.example.net", b"H", cstr("mail.example.net"), NO_HELO, NR_HELO)
    if refused(out):
        return False
    out = m.step("MAIL FROM:<%s>" % args.sender, b"M", cstr("<%s>" % args.sender),
                 NO_MAIL, NR_MAIL)
    if refused(out):
        m.send(b"A")
        return False
    accepted = 0
    for rcpt in args.to:
        if not refused(m.step("RCPT TO:<%s>" % rcpt, b"R", cstr("<%s>" % rcpt),
                              NO_RCPT, NR_RCPT)):
            accepted += 1
    if accepted == 0:
        print("no recipient accepted: the MTA would not take the message")
        m.send(b"A")
        return False
    out = m.step("DATA", b"T", b"", NO_DATA, NR_DATA, cstr("i", qid))
    if refused(out):
        m.send(b"A")
        return False
    headers = [("From", "Alice <%s>" % args.sender), ("To", ", ".join(args.to)),
               ("Subject", args.subject), ("Message-ID", "<milter-send@example.net>")]
    lead = " " if m.protocol & HDR_LEADSPC else ""
    if not m.protocol & NO_HDRS:
        for name, value in headers:
            m.send(b"L", cstr(name, lead + value))
            if not m.protocol & NR_HDR:
                m.answer()
    if not m.protocol & NO_EOH:
        m.send(b"D", b"N" + cstr("i", qid))
        m.send(b"N")
        if not m.protocol & NR_EOH:
            m.answer()
    if not m.protocol & NO_BODY:
        m.send(b"B", b"Hi Bob,\r\n\r\nThis is a test message.\r\n")
        if not m.protocol & NR_BODY:
            m.answer()
    m.send(b"D", b"E" + cstr("i", qid))
    m.send(b"E")
    changes = []
    for _ in range(100000):
        cmd, data = m.answer()
        if cmd in FINAL or cmd == b"y":
            # At end of message "continue" means the message is accepted.
            said = "accept" if cmd == b"c" else describe(cmd, data)
            print("end of message (queue id %s) -> %s" % (qid, said))
            break
        changes.append((cmd, data))
    else:
        raise MilterError("no final answer at end of message")
    for cmd, data in changes:
        print_change(cmd, data)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-s", "--socket", default="inet:11332@127.0.0.1",
                    help="the milter's socket (default inet:11332@127.0.0.1)")
    ap.add_argument("--from", dest="sender", default="alice@example.net", metavar="ADDR",
                    help="the envelope sender (default alice@example.net)")
    ap.add_argument("--to", action="append", metavar="ADDR",
                    help="an envelope recipient, repeatable (default bob@example.com)")
    ap.add_argument("--subject", default="Hello", help="the Subject header (default Hello)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds to wait for each answer (default 60)")
    args = ap.parse_args()
    args.to = args.to or ["bob@example.com"]
    for a in [args.sender, args.subject] + args.to:
        if "\0" in a or "\r" in a or "\n" in a:
            ap.error("addresses and the subject may not hold NUL, CR or LF")
    if not 0 < args.timeout <= 3600:
        ap.error("--timeout must be more than 0 and at most 3600")
    try:
        sock = open_socket(args.socket, args.timeout)
    except MilterError as e:
        print("milter-send.py: %s" % e, file=sys.stderr)
        return 1
    m = Milter(sock)
    try:
        session(m, args)
        m.send(b"Q")
    except (MilterError, OSError) as e:
        print("milter-send.py: %s" % e, file=sys.stderr)
        return 1
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
