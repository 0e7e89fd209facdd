#!/usr/bin/env python3
"""milterc.py - the MTA side of the milter protocol, for many concurrent sessions.

    milterc.py --socket unix:PATH|inet:PORT@HOST --sessions N [--timeout S] [--pid PID]
               [--result FILE]

Opens N milter sessions at once (asyncio, one event loop), negotiates protocol
version 6 in each, and only when all N have negotiated does any go on, so that
all N are open together. Each session then plays one message as Postfix would:
connect, helo, mail, rcpt, three headers, end of headers, body, end of message,
quit, each preceded by the macros Postfix sends. It honours what the filter
negotiated: a step the filter asked the MTA to skip (SMFIP_NO*) is not sent,
and a step it asked not to answer (SMFIP_NR_*) is not waited for.

Session i sends to the recipient "load-K@dest.mtahooks.test", K = i mod 4: the
hook script of tests/load/run.sh decides by it, and so the reply each session
must get is known in advance:
    K = 0: the data hook rejects:  end of message answered 'y' "550 5.7.1 ..."
    K = 1: the rcpt hook tempfails: RCPT answered 'y' "451 4.7.1 ..."; the
           session then aborts the message (SMFIC_ABORT) as an MTA does
    K = 2, 3: accepted; the data hook adds a header: 'h' X-Load, then 'a' or 'c'
Every read has a timeout (--timeout, default 60 s). With --pid, the peak
thread count of that process seen while the sessions were open is reported
(sampled every 50 ms, so it may miss the very top).

Prints a JSON summary (also written to --result): sessions, negotiated,
all_open_together, outcomes {expected: n}, wrong [first few mismatches],
peak_threads, elapsed_s. Exit 0 when every session got its expected reply.
Standard library only.
"""

import argparse
import asyncio
import json
import struct
import sys
import time

# Commands (MTA to filter).
C_OPTNEG, C_MACRO, C_CONNECT, C_HELO, C_MAIL, C_RCPT = b"O", b"D", b"C", b"H", b"M", b"R"
C_HEADER, C_EOH, C_BODY, C_EOM, C_ABORT, C_QUIT = b"L", b"N", b"B", b"E", b"A", b"Q"
# Protocol flags.
P_NOCONNECT, P_NOHELO, P_NOMAIL, P_NORCPT = 0x1, 0x2, 0x4, 0x8
P_NOBODY, P_NOHDRS, P_NOEOH, P_NR_HDR = 0x10, 0x20, 0x40, 0x80
P_NR_CONN, P_NR_HELO, P_NR_MAIL, P_NR_RCPT = 0x1000, 0x2000, 0x4000, 0x8000
P_NR_EOH, P_NR_BODY = 0x40000, 0x80000
# What Postfix offers: every action, every protocol step flag but SMFIP_HDR_LEADSPC.
OFFER_ACTIONS = 0x1FF
OFFER_PROTOCOL = 0x0FFFFF
MAX_PACKET = 1 << 20
FINAL = {b"a": "accept", b"c": "continue", b"r": "reject", b"t": "tempfail", b"d": "discard",
         b"y": "reply"}


class Wrong(Exception):
    """The filter answered something this session did not expect."""


def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def z(*parts):
    return b"".join(p.encode() + b"\0" for p in parts)


async def read_packet(reader, timeout):
    head = await asyncio.wait_for(reader.readexactly(4), timeout)
    (n,) = struct.unpack(">I", head)
    if not 1 <= n <= MAX_PACKET:
        raise Wrong("packet length %d" % n)
    data = await asyncio.wait_for(reader.readexactly(n), timeout)
    return data[:1], data[1:]


async def final_reply(reader, timeout):
    """Read packets up to a final one; returns (final name, text, [modification cmds])."""
    mods = []
    for _ in range(1000):
        cmd, data = await read_packet(reader, timeout)
        if cmd in FINAL:
            return FINAL[cmd], data.rstrip(b"\0").decode("latin-1"), mods
        if cmd == b"p":       # progress: keep waiting
            continue
        mods.append((cmd.decode("latin-1"), data))
    raise Wrong("more than 1000 packets before a final reply")


def expected(i):
    return ["reject-data", "tempfail-rcpt", "accept", "accept"][i % 4]


class Session:
    def __init__(self, i, args):
        self.i = i
        self.args = args
        self.reader = self.writer = None
        self.protocol = 0

    async def open(self):
        kind, _, where = self.args.socket.partition(":")
        if kind in ("unix", "local"):
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_unix_connection(where), self.args.timeout)
        else:
            port, _, host = where.partition("@")
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(host or "127.0.0.1", int(port)), self.args.timeout)

    async def send(self, *packets):
        for p in packets:
            self.writer.write(p)
        await asyncio.wait_for(self.writer.drain(), self.args.timeout)

    async def negotiate(self):
        await self.send(packet(C_OPTNEG, struct.pack(">III", 6, OFFER_ACTIONS, OFFER_PROTOCOL)))
        cmd, data = await read_packet(self.reader, self.args.timeout)
        if cmd != C_OPTNEG or len(data) < 12:
            raise Wrong("negotiation answered %r" % cmd)
        version, _actions, self.protocol = struct.unpack(">III", data[:12])
        if version > 6 or self.protocol & ~OFFER_PROTOCOL:
            raise Wrong("negotiated version %d protocol 0x%x" % (version, self.protocol))

    async def step(self, skip, nr, macros, cmd, data):
        """Send one step unless skipped; return the reply (None when not waited for)."""
        if self.protocol & skip:
            return None
        if macros:
            await self.send(packet(C_MACRO, cmd + z(*macros)), packet(cmd, data))
        else:
            await self.send(packet(cmd, data))
        if self.protocol & nr:
            return None
        name, text, mods = await final_reply(self.reader, self.args.timeout)
        if mods:
            raise Wrong("modifications before end of message: %r" % mods)
        return name, text

    async def play(self):
        """One message; returns what it ended with, as expected() names it."""
        i, qid = self.i, "LOAD%05d" % self.i
        rcpt = "load-%d@dest.mtahooks.test" % (i % 4)
        steps = [
            (P_NOCONNECT, P_NR_CONN, ["j", "mta.load.test", "{daemon_name}", "load",
                                      "{daemon_addr}", "127.0.0.1", "{daemon_port}", "25",
                                      "{client_addr}", "127.0.0.1",
                                      "{client_port}", str(20000 + i)],
             C_CONNECT, z("localhost") + b"4" + struct.pack(">H", 20000 + i) + z("127.0.0.1")),
            (P_NOHELO, P_NR_HELO, [], C_HELO, z("client%d.load.test" % i)),
            (P_NOMAIL, P_NR_MAIL, ["{mail_addr}", "load@client.load.test"],
             C_MAIL, z("<load@client.load.test>", "SIZE=100")),
            (P_NORCPT, P_NR_RCPT, ["i", qid, "{rcpt_addr}", rcpt], C_RCPT, z("<%s>" % rcpt)),
        ]
        for skip, nr, macros, cmd, data in steps:
            got = await self.step(skip, nr, macros, cmd, data)
            if got is None or got[0] == "continue":
                continue
            if cmd == C_RCPT and got[0] == "reply" and got[1].startswith("451 4.7.1"):
                await self.send(packet(C_ABORT))
                return "tempfail-rcpt"
            raise Wrong("step %r answered %r" % (cmd, got))
        for name, value in (("From", "load@client.load.test"), ("To", rcpt),
                            ("Subject", "load %d" % i)):
            got = await self.step(P_NOHDRS, P_NR_HDR, ["i", qid], C_HEADER, z(name, value))
            if got is not None and got[0] != "continue":
                raise Wrong("header answered %r" % (got,))
        got = await self.step(P_NOEOH, P_NR_EOH, ["i", qid], C_EOH, b"")
        if got is not None and got[0] != "continue":
            raise Wrong("end of headers answered %r" % (got,))
        got = await self.step(P_NOBODY, P_NR_BODY, [], C_BODY, b"Load test body %d.\r\n" % i)
        if got is not None and got[0] != "continue":
            raise Wrong("body answered %r" % (got,))
        await self.send(packet(C_MACRO, C_EOM + z("i", qid)), packet(C_EOM))
        name, text, mods = await final_reply(self.reader, self.args.timeout)
        if name == "reply" and text.startswith("550 5.7.1") and not mods:
            return "reject-data"
        if name in ("accept", "continue") and [m[0] for m in mods] == ["h"] and \
                mods[0][1].startswith(b"X-Load\0"):
            return "accept"
        raise Wrong("end of message answered %s %r with %r" % (name, text, mods))

    async def quit(self):
        try:
            self.writer.write(packet(C_QUIT))
            await asyncio.wait_for(self.writer.drain(), self.args.timeout)
        except (OSError, asyncio.TimeoutError):
            pass
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), self.args.timeout)
        except (OSError, asyncio.TimeoutError):
            pass


def threads_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


async def main_async(args):
    n = args.sessions
    sessions = [Session(i, args) for i in range(n)]
    negotiated = asyncio.Event()
    count = {"negotiated": 0, "peak": 0}
    outcomes, wrong = {}, []

    async def one(s):
        try:
            await s.open()
            await s.negotiate()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, Wrong) as e:
            wrong.append("session %d: before negotiation: %r" % (s.i, e))
            negotiated_one()
            return
        negotiated_one()
        await asyncio.wait_for(negotiated.wait(), args.timeout)
        try:
            got = await s.play()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, Wrong) as e:
            got = "error"
            wrong.append("session %d: %r" % (s.i, e))
        outcomes[got] = outcomes.get(got, 0) + 1
        if got != expected(s.i) and got != "error":
            wrong.append("session %d: got %s, want %s" % (s.i, got, expected(s.i)))
        await s.quit()

    def negotiated_one():
        count["negotiated"] += 1
        if count["negotiated"] == n:
            if args.pid:
                count["peak"] = max(count["peak"], threads_of(args.pid))
            negotiated.set()

    async def sample():
        while not negotiated.is_set() or len(wrong) + sum(outcomes.values()) < n:
            if args.pid:
                count["peak"] = max(count["peak"], threads_of(args.pid))
            await asyncio.sleep(0.05)

    start = time.time()
    sampler = asyncio.ensure_future(sample())
    await asyncio.wait_for(asyncio.gather(*(one(s) for s in sessions)), args.timeout * 4)
    sampler.cancel()
    want = {}
    for i in range(n):
        want[expected(i)] = want.get(expected(i), 0) + 1
    ok_sessions = sum(v for k, v in outcomes.items() if k != "error") - \
        len([w for w in wrong if ": got " in w])
    return {"sessions": n, "negotiated": count["negotiated"] - len(
        [w for w in wrong if "before negotiation" in w]),
        "all_open_together": negotiated.is_set() and not any(
            "before negotiation" in w for w in wrong),
        "outcomes": outcomes, "want": want, "ok": ok_sessions, "wrong": wrong[:10],
        "wrong_count": len(wrong), "peak_threads": count["peak"],
        "elapsed_s": round(time.time() - start, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--result")
    args = ap.parse_args()
    summary = asyncio.run(main_async(args))
    text = json.dumps(summary, sort_keys=True)
    print(text)
    if args.result:
        with open(args.result, "w") as f:
            f.write(text + "\n")
    return 0 if summary["ok"] == args.sessions and not summary["wrong_count"] else 1


if __name__ == "__main__":
    sys.exit(main())
