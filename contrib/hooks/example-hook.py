#!/usr/bin/env python3
"""example-hook.py - a small but real MTA Hooks handler (Python standard library only).

Policy:
  - rcpt stage: refuse recipients in the domains listed in BLOCKED_DOMAINS (550 5.7.1);
  - data stage: quarantine a message whose Subject contains "[quarantine]"; otherwise
    accept it and add a header "X-Hook-Checked: yes" (and say how big it was).
Any other stage: accept.

    python3 contrib/hooks/example-hook.py [--listen 127.0.0.1] [--port 8080]

It answers POST on any path. It speaks the same protocol as Stalwart's MTA Hooks, so it
works unchanged behind Stalwart and behind mtahooks-milter.
"""
import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCKED_DOMAINS = {"blocked.example"}


def decide(req):
    """Return the answer object for one request."""
    stage = req.get("context", {}).get("stage", "").lower()
    if stage == "rcpt":
        to = req.get("envelope", {}).get("to") or []
        rcpt = to[-1]["address"] if to else ""
        if rcpt.rpartition("@")[2].lower() in BLOCKED_DOMAINS:
            return {"action": "reject",
                    "response": {"status": 550, "enhancedStatus": "5.7.1",
                                 "message": "Recipient domain not accepted here"}}
    if stage == "data":
        message = req.get("message", {})
        subject = next((v for n, v in message.get("headers", [])
                        if n.lower() == "subject"), "")
        if "[quarantine]" in subject.lower():
            return {"action": "quarantine",
                    "response": {"message": "subject asked for quarantine"}}
        return {"action": "accept",
                "modifications": [
                    {"type": "addHeader", "name": "X-Hook-Checked",
                     "value": "yes; size=%d" % message.get("size", 0)}]}
    return {"action": "accept"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the bridge reuses its connections

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        try:
            req = json.loads(self.rfile.read(length))
            answer = decide(req)
            code = 200
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            answer, code = {"error": str(e)}, 400
        body = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("example-hook: " + fmt % args, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()
    server = ThreadingHTTPServer((args.listen, args.port), Handler)
    print("example-hook: listening on http://%s:%d/" % (args.listen, args.port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
