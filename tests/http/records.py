#!/usr/bin/env python3
"""records.py - read the hook server's record file for tests/http/run.sh.

    records.py values RECORD PATH FIELD

prints, one line per request recorded at PATH, in the order the hook server numbered
them ("n"), the value of FIELD: a key of the record line ("conn", "http", "tls",
"client_cert", "signature", "path", "n", ...) or "stage" (the request's
json.context.stage). Strings are printed as they are, null as "null", anything else
as compact JSON. PATH "*" takes every request; otherwise a request matches when its path
is PATH, or is an absolute URL (as a client sends to a proxy) whose path is PATH.
A missing record file counts as empty. Standard library only (tests/lib/hookserver.py
documents the record line).
"""

import json
import sys
import urllib.parse


def matches(want, path):
    """The request path, or the path part of an absolute-form target, is want."""
    if want == "*" or path == want:
        return True
    if isinstance(path, str) and "://" in path:
        return urllib.parse.urlsplit(path).path == want
    return False


def show(value):
    """A value as one line of text."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def main(argv):
    if len(argv) != 5 or argv[1] != "values":
        sys.stderr.write("usage: records.py values RECORD PATH FIELD\n")
        return 2
    _, _, record, want, field = argv
    try:
        with open(record, encoding="utf-8") as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        lines = []
    lines.sort(key=lambda r: r.get("n", 0))
    for r in lines:
        if not matches(want, r.get("path")):
            continue
        if field == "stage":
            value = ((r.get("json") or {}).get("context") or {}).get("stage")
        else:
            value = r.get(field)
        print(show(value))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
