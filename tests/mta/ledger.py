#!/usr/bin/env python3
"""ledger.py - account for every message the fault tests sent (tests/mta/faults.sh).

    ledger.py check RESULTS CAPTURE_DIR      the transactions in RESULTS
    ledger.py account LEDGER CAPTURE_DIR [RECORD]   the whole ledger, the capture dir
                                             and the hook requests
    ledger.py matrix RESULTS CAPTURE_DIR RECORD REC_OFFSET LOG LOG_OFFSET POLICY
    ledger.py ids CAPTURE_DIR                Message-ID of every captured message

RESULTS and LEDGER hold the JSON lines smtpc.py writes, one per transaction:
what the test expected ("expect") and what the client saw ("seen"). A
transaction is accounted for when the two agree and the capture server (the
next hop) got it the right number of times, found by its Message-ID:

    expect      seen        delivered
    delivered   queued      exactly once
    discarded   queued      never (a hook discarded it on purpose)
    tempfailed  tempfail    never (the client keeps it and retries)
    rejected    reject      never (the client was told it failed)
    aborted     aborted     never (the client sent RSET)
    abandoned   vanished    never (the client went away mid-DATA)

The next hop must see the envelope the transaction had ("from", "to").
account also fails on a captured message nobody sent (no ledger line), on one
captured twice, and, given the hook server's RECORD, on a data-stage request
whose envelope is not that of the message it carries (state from another
transaction or session). matrix judges the fault matrix sessions of one policy
(faults.sh says how they are built) and prints one line per session:
"SESSION ok" or "SESSION not ok: reasons". check and account print one line
per problem, then a summary; all exit 1 when something is wrong.

Standard library only.
"""

import json
import os
import re
import sys

SEEN_FOR = {"delivered": "queued", "discarded": "queued", "tempfailed": "tempfail",
            "rejected": "reject", "aborted": "aborted", "abandoned": "vanished"}
ERROR_REPLY = "451 4.3.5 Unable to accept message at this time."
STAGES = ["connect", "ehlo", "mail", "rcpt", "data"]
# The error word each fault kind must log (PROTOCOL.md section 5; http.c's names).
ERROR_WORD = {"unreachable": "connect", "close": "connect", "timeout": "timeout",
              "slow": "timeout", "http4xx": "http-status", "http5xx": "http-status",
              "notjson": "not-json", "truncated": "connect", "badaction": "invalid",
              "oversized": "too-large", "badmod": "invalid", "tls": "tls"}
# Kinds whose requests reach the recording hook server (the others fail before).
RECORDED = {"close", "slow", "http4xx", "http5xx", "notjson", "truncated", "badaction",
            "oversized", "badmod"}


def load_lines(path, offset=0):
    try:
        with open(path, "rb") as f:
            f.seek(int(offset))
            data = f.read()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def message_id(path):
    """The Message-ID header of a captured message (None when it has none)."""
    with open(path, "rb") as f:
        head = f.read().split(b"\r\n\r\n", 1)[0].decode("latin-1")
    m = re.search(r"(?im)^message-id:[ \t]*(\S+)", head)
    return m.group(1) if m else None


def captured(directory):
    """Message-ID -> list of captured files; only complete ones (with their .json)."""
    index = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".eml") and name[0].isdigit() and \
                os.path.exists(os.path.join(directory, name[:-4] + ".json")):
            path = os.path.join(directory, name)
            index.setdefault(message_id(path), []).append(path)
    return index


def headers_of(path):
    """[(name, value)] of a captured message, unfolded."""
    with open(path, "rb") as f:
        head = f.read().split(b"\r\n\r\n", 1)[0].decode("latin-1")
    out = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + line)
        elif ":" in line:
            name, _, value = line.partition(":")
            out.append((name, value.strip()))
    return out


def judge(r, index):
    """Problems with one transaction (empty list when it is accounted for)."""
    problems = []
    want_seen = SEEN_FOR.get(r.get("expect"))
    n = len(index.get(r["msgid"], []))
    if want_seen is None:
        problems.append("unknown expectation %r" % r.get("expect"))
    elif r.get("seen") != want_seen:
        problems.append("expected %s, so the client should see %s; it saw %s (replies %s)" % (
            r.get("expect"), want_seen, r.get("seen"), json.dumps(r.get("replies"))))
    want_n = 1 if r.get("expect") == "delivered" else 0
    if n != want_n:
        problems.append("delivered %d times, want %d" % (n, want_n))
    if n == 1 and want_n == 1 and "from" in r:
        with open(index[r["msgid"]][0][:-4] + ".json") as f:
            env = json.load(f)
        if env.get("from") != r["from"] or sorted(env.get("rcpts", [])) != sorted(r["to"]):
            problems.append("next hop envelope %s -> %s, want %s -> %s" % (
                env.get("from"), env.get("rcpts"), r["from"], r["to"]))
    if r.get("seen") == "queued" and r.get("expect") == "delivered" and n == 0:
        problems.append("LOST: the MTA said queued (%s) and nothing arrived" % r.get("qid"))
    return problems


def cmd_check(results, capture_dir):
    index = captured(capture_dir)
    bad = 0
    rows = load_lines(results)
    for r in rows:
        for p in judge(r, index):
            bad += 1
            print("%s %s: %s" % (r.get("scenario"), r["msgid"], p))
    print("# %d transactions, %d problems" % (len(rows), bad))
    return 1 if bad else 0


def header_value(pairs, name):
    for pair in pairs or []:
        if isinstance(pair, list) and len(pair) == 2 and str(pair[0]).lower() == name:
            return str(pair[1]).strip()
    return None


def request_problems(record, sent):
    """Data-stage requests whose envelope is not that of the message they carry."""
    problems = []
    for q in load_lines(record):
        j = q.get("json") or {}
        if (j.get("context") or {}).get("stage") != "data":
            continue
        msgid = header_value((j.get("message") or {}).get("headers"), "message-id")
        r = sent.get(msgid)
        if r is None:
            problems.append("request %s: a data request for %s, which no test sent" % (
                q.get("n"), msgid))
            continue
        env = j.get("envelope") or {}
        got_from = (env.get("from") or {}).get("address")
        got_to = [t.get("address") for t in env.get("to") or []]
        if got_from != r.get("from") or got_to != r.get("to"):
            problems.append("request %s (%s %s): envelope %s -> %s, want %s -> %s" % (
                q.get("n"), q.get("path"), msgid, got_from, got_to, r.get("from"), r.get("to")))
    return problems


def cmd_account(ledger, capture_dir, record=None):
    index = captured(capture_dir)
    rows = load_lines(ledger)
    bad = 0
    counts = {}
    sent = {}
    for r in rows:
        counts[r.get("expect")] = counts.get(r.get("expect"), 0) + 1
        if r["msgid"] in sent:
            bad += 1
            print("%s: the ledger has this Message-ID twice (scenarios %s and %s)" % (
                r["msgid"], sent[r["msgid"]].get("scenario"), r.get("scenario")))
        sent[r["msgid"]] = r
        for p in judge(r, index):
            bad += 1
            print("%s %s: %s" % (r.get("scenario"), r["msgid"], p))
    for msgid, files in sorted(index.items(), key=lambda kv: str(kv[0])):
        if msgid not in sent:
            bad += 1
            print("%s: delivered (%s) but no test sent it" % (msgid, ", ".join(files)))
    if record:
        for p in request_problems(record, sent):
            bad += 1
            print(p)
    print("# ledger: %d messages (%s); captured: %d distinct, %d files; %d problems" % (
        len(rows), ", ".join("%s %d" % kv for kv in sorted(counts.items())),
        len(index), sum(len(v) for v in index.values()), bad))
    return 1 if bad else 0


def error_lines(log, offset):
    with open(log, "rb") as f:
        f.seek(int(offset))
        text = f.read().decode("utf-8", errors="replace")
    return [l for l in text.splitlines() if re.search(r": error: hook=", l)]


def cmd_matrix(results, capture_dir, record, rec_off, log, log_off, policy):
    """One line per fault-matrix session of POLICY (tempfail or accept)."""
    index = captured(capture_dir)
    rows = load_lines(results)
    requests = load_lines(record, rec_off)
    errors = error_lines(log, log_off)
    by_ip = {}
    for q in requests:
        ip = (((q.get("json") or {}).get("context") or {}).get("client") or {}).get("ip")
        by_ip.setdefault(ip, []).append(q)
    status = 0
    for r in rows:
        kind, stage, ip = r["session"].split("/")
        hook = "%s-%s" % (kind, stage)
        problems = judge(r, index)
        rep = r.get("replies", {})
        if not rep.get("greeting", "").startswith("220 "):
            problems.append("greeting %r" % rep.get("greeting"))
        if not rep.get("ehlo", "").startswith("250"):
            problems.append("EHLO reply %r" % rep.get("ehlo"))
        if policy == "tempfail":
            # Postfix answers a tempfail at connect or HELO at the next MAIL (MTA-NOTES.md).
            where = {"connect": "mail", "ehlo": "mail", "mail": "mail", "rcpt": "rcpt",
                     "data": "eom"}[stage]
            got = rep.get(where)
            if isinstance(got, list):
                got = got[-1] if got else None
            if got != ERROR_REPLY:
                problems.append("reply to %s: got %r, want %r" % (where.upper(), got, ERROR_REPLY))
        mine = [l for l in errors if " hook=%s " % hook in l]
        if len(mine) != 1:
            problems.append("%d error lines for hook %s, want 1: %s" % (len(mine), hook,
                                                                       " | ".join(mine[:3])))
        else:
            want = "stage=%s qid=" % stage
            if want not in mine[0] or " error=%s " % ERROR_WORD[kind] not in mine[0] or \
                    not mine[0].endswith(" policy=%s" % policy):
                problems.append("the error line should say %s, error=%s, policy=%s: %s" % (
                    want, ERROR_WORD[kind], policy, mine[0]))
        mine_req = by_ip.get(ip, [])
        asked = [(q["path"], q["json"]["context"]["stage"]) for q in mine_req]
        if kind in RECORDED:
            n = asked.count(("/" + kind, stage))
            # libcurl sends a request again, once, when a reused keep-alive connection
            # closes before any answer (it cannot tell a stale connection from a hook
            # that took the request and hung up): "close" may be asked twice.
            most = 2 if kind == "close" else 1
            if not 1 <= n <= most or len([a for a in asked if a[0] == "/" + kind]) != n:
                problems.append("hook %s asked %s, want %s at %s" % (
                    hook, [a[1] for a in asked if a[0] == "/" + kind],
                    "once or twice" if most == 2 else "once", stage))
        observed = [a[1] for a in asked if a[0] == "/z"]
        before = STAGES[:STAGES.index(stage)]
        if policy == "accept":
            want_z = STAGES
        else:
            want_z = before
        if observed != want_z:
            problems.append("the hook after it (z) was asked at %s, want %s" % (observed, want_z))
        if policy == "accept" and len(index.get(r["msgid"], [])) == 1:
            hdrs = headers_of(index[r["msgid"]][0])
            zs = [v for n, v in hdrs if n.lower() == "x-z-stage"]
            if zs != STAGES:
                problems.append("X-Z-Stage headers %s, want %s (z's answers applied)" % (zs, STAGES))
            bad = [n for n, v in hdrs if n.lower() in ("x-half-applied", "x-late")]
            if bad:
                problems.append("the failed hook's modifications were applied: %s" % bad)
        if problems:
            status = 1
            print("%s not ok: %s" % (r["session"], "; ".join(problems)))
        else:
            print("%s ok" % r["session"])
    return status


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "check" and len(argv) == 4:
        return cmd_check(argv[2], argv[3])
    if cmd == "account" and len(argv) in (4, 5):
        return cmd_account(*argv[2:])
    if cmd == "matrix" and len(argv) == 9:
        return cmd_matrix(*argv[2:])
    if cmd == "ids" and len(argv) == 3:
        for msgid, files in sorted(captured(argv[2]).items(), key=lambda kv: str(kv[0])):
            print(msgid, len(files))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
