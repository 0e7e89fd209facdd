#!/usr/bin/env python3
"""query.py - read what the end-to-end tests need from records, envelopes and messages.

    query.py rec RECORD OFFSET SELECTOR PATH   value in one recorded hook request
    query.py stages RECORD OFFSET              stages of the requests, in order
    query.py count RECORD OFFSET               number of requests
    query.py paths RECORD OFFSET               request paths, in order
    query.py file JSONFILE PATH                value in a JSON file (capture envelope)
    query.py mail EMLFILE PATH                 value in a parsed delivered message
    query.py named EMLFILE NAME                the header lines of that name, in order
    query.py body EMLFILE                      the body bytes (after the empty line)
    query.py wire EMLFILE DATAFILE             DATA payload for `swaks -ndf --data @FILE`

RECORD is the hook server's --record file (one JSON object a line); only the
lines starting at byte OFFSET count, so each scenario sees its own requests.
SELECTOR picks a request: "STAGE" (the first at that stage), "STAGE:K" (the
K-th, 1-based) or "#N" (the N-th request overall, 1-based). PATH walks the
request's "json" member ("." = the whole value), or the record itself when it
starts with "@" (e.g. "@headers.content-type"); keys are separated by dots,
array indexes may be negative; a final "#" gives a length. The answer is
printed as compact JSON with sorted keys and ASCII escapes, or ABSENT.

A parsed message is {"headers": ["Name: value" lines as received, folding kept,
without the final CRLF], "names": [...], "body": "..."} (bytes as Latin-1).
Standard library only.
"""

import json
import sys

ABSENT = "ABSENT"


def load_records(path, offset):
    try:
        with open(path, "rb") as f:
            f.seek(int(offset))
            data = f.read()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def walk(value, path):
    """Follow a dotted path; raise KeyError when something is missing."""
    if path in ("", "."):
        return value
    for part in path.split("."):
        if part == "#":
            if not isinstance(value, (list, dict, str)):
                raise KeyError(part)
            value = len(value)
        elif isinstance(value, list):
            try:
                value = value[int(part)]
            except (ValueError, IndexError):
                raise KeyError(part)
        elif isinstance(value, dict):
            value = value[part]
        else:
            raise KeyError(part)
    return value


def select(records, selector):
    if selector.startswith("#"):
        return records[int(selector[1:]) - 1]
    stage, _, k = selector.partition(":")
    matches = [r for r in records
               if isinstance(r.get("json"), dict)
               and isinstance(r["json"].get("context"), dict)
               and r["json"]["context"].get("stage") == stage]
    return matches[int(k or "1") - 1]


def show(value):
    print(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True))


def parse_message(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, body = raw, b""
    headers = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and headers:
            headers[-1] += b"\r\n" + line
        else:
            headers.append(line)
    text = [h.decode("latin-1") for h in headers]
    return {"headers": text, "names": [h.split(":", 1)[0] for h in text],
            "body": body.decode("latin-1")}


def wire(eml, out):
    """Dot-stuff and end with the lone dot; swaks -ndf adds the final CRLF."""
    with open(eml, "rb") as f:
        raw = f.read()
    if not raw.endswith(b"\r\n"):
        raise SystemExit("query.py: %s does not end with CRLF" % eml)
    lines = raw.split(b"\r\n")[:-1]
    stuffed = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
    with open(out, "wb") as f:
        f.write(stuffed + b".")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    try:
        if cmd == "rec" and len(argv) == 6:
            record = select(load_records(argv[2], argv[3]), argv[4])
            path = argv[5]
            show(walk(record, path[1:]) if path.startswith("@") else walk(record["json"], path))
        elif cmd == "stages" and len(argv) == 4:
            stages = []
            for r in load_records(argv[2], argv[3]):
                try:
                    stages.append(str(r["json"]["context"]["stage"]))
                except (KeyError, TypeError):
                    stages.append("?")
            print(" ".join(stages))
        elif cmd == "paths" and len(argv) == 4:
            print(" ".join(r.get("path", "?") for r in load_records(argv[2], argv[3])))
        elif cmd == "count" and len(argv) == 4:
            print(len(load_records(argv[2], argv[3])))
        elif cmd == "file" and len(argv) == 4:
            with open(argv[2]) as f:
                show(walk(json.load(f), argv[3]))
        elif cmd == "mail" and len(argv) == 4:
            with open(argv[2], "rb") as f:
                show(walk(parse_message(f.read()), argv[3]))
        elif cmd == "named" and len(argv) == 4:
            with open(argv[2], "rb") as f:
                msg = parse_message(f.read())
            show([h for h, n in zip(msg["headers"], msg["names"])
                  if n.lower() == argv[3].lower()])
        elif cmd == "body" and len(argv) == 3:
            with open(argv[2], "rb") as f:
                sys.stdout.buffer.write(parse_message(f.read())["body"].encode("latin-1"))
        elif cmd == "wire" and len(argv) == 4:
            wire(argv[2], argv[3])
        else:
            sys.stderr.write(__doc__)
            return 2
    except (KeyError, IndexError, TypeError, ValueError):
        print(ABSENT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
