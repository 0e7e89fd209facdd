#!/usr/bin/env python3
"""policy.py - an MTA Hooks handler with a small, real policy (Python standard library only).

    python3 contrib/hooks/policy.py PORT [--reject-domain DOMAIN]... [--quarantine-word WORD]...

Policy, one decision per request:
  rcpt   the recipient being decided (the last of envelope.to) is in a refused domain:
         reject it with 550 5.7.1. Other recipients are accepted.
  data   the Subject contains a quarantine word (any case): quarantine the message, with
         the word in the reason. Otherwise accept it and add the header "X-Policy: checked".
  other  accept.
Refused domains default to blocked.example, quarantine words to "[quarantine]"; giving
either option replaces its default. A domain matches itself and its subdomains, in any case.

It listens on 127.0.0.1:PORT (0 picks a free port) and prints one line,
"policy.py: listening on http://127.0.0.1:PORT/", once it accepts requests. It answers POST
on any path, keeps connections alive (the bridge reuses them), and answers 400 to a request
it cannot read, which the bridge treats as a hook error. It speaks the same protocol as
Stalwart's MTA Hooks, so it works unchanged behind Stalwart and behind mtahooks-milter.
contrib/hooks/policy.js is the same policy in Node.js; tests/contrib/run.sh tests both.
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_REQUEST = 64 * 1024 * 1024  # a bound on what one request may make us read


class Policy:
    """The decisions; nothing here knows about HTTP."""

    def __init__(self, domains, words):
        self.domains = [d.lower().strip(".") for d in domains]
        self.words = [w.lower() for w in words]

    def refused(self, address):
        """Whether an address is in a refused domain (or a subdomain of one)."""
        domain = address.rpartition("@")[2].lower().strip(".")
        return any(domain == d or domain.endswith("." + d) for d in self.domains)

    def decide(self, req):
        """The answer object for one request."""
        stage = str(req.get("context", {}).get("stage", "")).lower()
        if stage == "rcpt":
            to = req.get("envelope", {}).get("to") or []
            rcpt = to[-1].get("address", "") if to else ""
            if self.refused(rcpt):
                return {"action": "reject",
                        "response": {"status": 550, "enhancedStatus": "5.7.1",
                                     "message": "Recipient domain not accepted here"}}
        elif stage == "data":
            headers = req.get("message", {}).get("headers", [])
            subject = " ".join(v for n, v in headers if n.lower() == "subject").lower()
            for word in self.words:
                if word in subject:
                    return {"action": "quarantine",
                            "response": {"message": "subject contains \"%s\"" % word}}
            return {"action": "accept",
                    "modifications": [{"type": "addHeader", "name": "X-Policy",
                                       "value": "checked"}]}
        return {"action": "accept"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the bridge reuses its connections
    policy = None  # set by main()

    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_REQUEST:
            self.close_connection = True
            self.answer(400, {"error": "a Content-Length up to %d is required" % MAX_REQUEST})
            return
        try:
            req = json.loads(self.rfile.read(length))
            if not isinstance(req, dict):
                raise ValueError("the request is not a JSON object")
            obj = self.policy.decide(req)
        except (ValueError, AttributeError, TypeError) as e:
            self.answer(400, {"error": "cannot read the request: %s" % e})
            return
        self.answer(200, obj)

    def log_message(self, fmt, *args):
        sys.stderr.write("policy.py: %s\n" % (fmt % args))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port", type=int, help="TCP port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--reject-domain", action="append", metavar="DOMAIN",
                    help="refuse recipients in DOMAIN at rcpt (repeatable)")
    ap.add_argument("--quarantine-word", action="append", metavar="WORD",
                    help="quarantine a message whose Subject contains WORD (repeatable)")
    args = ap.parse_args()
    if not 0 <= args.port <= 65535:
        ap.error("port must be 0-65535")
    Handler.policy = Policy(args.reject_domain or ["blocked.example"],
                            args.quarantine_word or ["[quarantine]"])
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("policy.py: listening on http://127.0.0.1:%d/" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()


if __name__ == "__main__":
    main()
