#!/usr/bin/env python3
"""hookserver - the scripted hook server (shared by tests/milter and tests/mta)

Python 3 standard library only. Started by test scripts:

    $PYTHON3 tests/lib/hookserver.py --port-file FILE --script FILE --record FILE \\
        [--listen 127.0.0.1|::1] [--port N (0 = ephemeral, default)] \\
        [--tls-cert PEM --tls-key PEM [--tls-max-version 1.2|1.3]
         [--tls-ca PEM [--tls-require-client-cert]]]
        [--signature-secret S [--signature-required]]

- Listens on loopback only (refuses a non-loopback --listen); writes the bound port to
  --port-file once listening (write a temp file, then rename, so readers never see half).
- HTTP/1.1 with keep-alive (protocol_version "HTTP/1.1"), one thread per connection.
- Each POST: reads the body by Content-Length; appends ONE JSON line to --record (flushed
  before answering):
    {"n": <request serial>, "conn": <TCP connection serial>, "path": "/x",
     "headers": {<lowercased name>: value}, "json": <parsed body or null>,
     "raw": <body text when it is not JSON, else null>,
     "http": "1.1" (the request line's HTTP version, without "HTTP/"),
     "tls": "TLSv1.3" | "TLSv1.2" | ... | null (plain HTTP),
     "client_cert": <commonName of the verified client certificate> | null,
     "signature": "ok" | "missing" | "bad" | "stale" | null (no --signature-secret),
     "t": <when it arrived: seconds since the epoch, to the millisecond>}
  "conn" lets a test count TCP connections (keep-alive proof).
- TLS (--tls-cert/--tls-key): the handshake runs in the connection's thread.
  --tls-max-version caps the protocol (a server "limited to TLS 1.2").
  --tls-ca PEM: client certificates are asked for and verified against that CA; with
  --tls-require-client-cert a handshake without one (or with one the CA did not sign) is
  refused, so no request is recorded for it. A refused handshake is not a connection;
  it ends with a lingering close (half-close, the client's bytes read and dropped for at
  most 2 s), so the client gets the TLS alert rather than a TCP reset.
- Signatures (--signature-secret S): each request is checked against the bridge's scheme
  (mtahooks-milter.toml(5), [signature]): headers X-MTA-Hooks-Timestamp: <unix seconds>
  and X-MTA-Hooks-Signature: sha256=<lowercase hex HMAC-SHA256(S, "<timestamp>.<body>")>,
  the body being the bytes received. "missing": either header absent; "bad": malformed,
  or the HMAC differs; "stale": a right HMAC but a timestamp more than 300 s from now.
  With --signature-required anything but "ok" is answered 401 (after being recorded),
  whatever the script says.
- Re-reads --script (a JSON file) on every request, so a test changes behaviour by rewriting
  it, without restarting. Script:
    {"rules": [ {"when": {...}, <answer>}, ... ], "default": <answer>}
  A rule matches when every key of "when" matches (an empty/missing when matches all):
    "path": exact request path;   "stage": json.context.stage;
    "rcpt": address of the LAST element of json.envelope.to;   "from": json.envelope.from.address;
    "helo": json.context.client.helo;   "contents_contains": substring of json.message.contents;
    "subject": substring of the value of a Subject header in json.message.headers.
  First matching rule wins; else "default"; else 200 {"action":"accept"}.
  An <answer> has:
    "status": HTTP status (default 200);  "json": object/value sent as the JSON body;
    "body": raw text sent as is instead of json (e.g. "not json", "{\\"action\\":");
    "headers": {name: value} extra response headers;
    "delay": seconds to sleep before answering (float);
    "pad": N - send the json followed by N spaces (an oversized but valid answer);
    "mode": "normal" (default) | "close" (close the socket without answering) |
            "truncate" (send a Content-Length 1000 header, 10 bytes of body, then close).
  With "status": 204 and no json/body, an empty 204 is sent.
- Exits cleanly on SIGTERM/SIGINT.

Details this implementation adds to the specification above:
- A request body sent with "Transfer-Encoding: chunked" is read too (a client that streams
  its body without a Content-Length is still recorded).
- An answer with neither "json" nor "body" (and a status other than 204) has an empty body
  with "Content-Length: 0". Answers carry "Content-Type: application/json" unless their
  "headers" say otherwise.
- A script file that cannot be read or parsed counts as an empty script (the built-in
  accept answer), and a line saying why goes to stderr.
- --verbose logs one line per request to stderr.
"""

import argparse
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time

# Bounds on what a client may send us: a test never needs more, and a runaway client must
# not eat the machine.
MAX_BODY = 256 * 1024 * 1024
MAX_CHUNK_LINE = 1024
# How far a signed request's timestamp may be from our clock, in seconds.
SIGNATURE_WINDOW = 300


class Counters:
    """Serial numbers for requests and TCP connections, shared by all threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.connections = 0

    def next_request(self):
        with self.lock:
            self.requests += 1
            return self.requests

    def next_connection(self):
        with self.lock:
            self.connections += 1
            return self.connections


def check_signature(secret, timestamp, signature, body, now):
    """"ok", "missing", "bad" or "stale" for one request's signature headers."""
    if timestamp is None or signature is None:
        return "missing"
    timestamp = timestamp.strip()
    signature = signature.strip()
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 20:
        return "bad"
    if not signature.startswith("sha256="):
        return "bad"
    digest = signature[len("sha256="):]
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return "bad"  # the scheme says lowercase hex: anything else is a bad signature
    want = hmac.new(secret, timestamp.encode("ascii") + b"." + body,
                    hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, digest):
        return "bad"
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW:
        return "stale"
    return "ok"


def load_script(path):
    """Read the script file; an unreadable or broken one counts as empty."""
    try:
        with open(path, encoding="utf-8") as f:
            script = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        sys.stderr.write("hookserver: script %s: %s\n" % (path, e))
        return {}
    if not isinstance(script, dict):
        sys.stderr.write("hookserver: script %s: not a JSON object\n" % path)
        return {}
    return script


def dig(obj, *keys):
    """Follow keys/indexes into nested JSON; None when any step is missing."""
    for key in keys:
        if isinstance(key, int):
            if not isinstance(obj, list) or not -len(obj) <= key < len(obj):
                return None
            obj = obj[key]
        else:
            if not isinstance(obj, dict) or key not in obj:
                return None
            obj = obj[key]
    return obj


def subject_values(req):
    """Values of the Subject headers of the request's message."""
    values = []
    headers = dig(req, "message", "headers")
    if isinstance(headers, list):
        for pair in headers:
            if (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
                    and pair[0].lower() == "subject" and isinstance(pair[1], str)):
                values.append(pair[1])
    return values


def rule_matches(when, path, req):
    """True when every condition of a rule's "when" holds for this request."""
    if not when:
        return True
    if not isinstance(when, dict):
        return False
    for key, want in when.items():
        if key == "path":
            ok = path == want
        elif key == "stage":
            ok = dig(req, "context", "stage") == want
        elif key == "rcpt":
            ok = dig(req, "envelope", "to", -1, "address") == want
        elif key == "from":
            ok = dig(req, "envelope", "from", "address") == want
        elif key == "helo":
            ok = dig(req, "context", "client", "helo") == want
        elif key == "contents_contains":
            contents = dig(req, "message", "contents")
            ok = isinstance(contents, str) and isinstance(want, str) and want in contents
        elif key == "subject":
            ok = isinstance(want, str) and any(want in v for v in subject_values(req))
        else:
            ok = False  # an unknown condition never matches, so a typo shows up
        if not ok:
            return False
    return True


def choose_answer(script, path, req):
    """The first matching rule, else the default, else a plain accept."""
    rules = script.get("rules")
    if isinstance(rules, list):
        for rule in rules:
            if isinstance(rule, dict) and rule_matches(rule.get("when"), path, req):
                return rule
    default = script.get("default")
    if isinstance(default, dict):
        return default
    return {"status": 200, "json": {"action": "accept"}}


class HookHandler(http.server.BaseHTTPRequestHandler):
    """One TCP connection; serves as many requests as the client sends on it."""

    protocol_version = "HTTP/1.1"
    server_version = "hookserver/1"

    def setup(self):
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
        # algorithm meets the client's delayed ACK and each answer stalls ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.request, ssl.SSLSocket):
            # The handshake runs here, in the connection's own thread, so a slow or
            # failing client never blocks the accept loop.
            self.request.settimeout(10)
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                self.lingering_close()
                raise
            self.request.settimeout(None)
        super().setup()
        self.conn_serial = self.server.counters.next_connection()
        self.tls_version = None
        self.client_cert = None
        if isinstance(self.request, ssl.SSLSocket):
            self.tls_version = self.request.version()
            cert = self.request.getpeercert()  # {} or None without a verified one
            for rdn in (cert or {}).get("subject", ()):
                for name, value in rdn:
                    if name == "commonName":
                        self.client_cert = value

    def lingering_close(self):
        """After a refused handshake: let the client read our alert, as nginx does.

        With TLS 1.3 the client may already have sent its request when the refusal
        (e.g. "certificate required") comes. Closing with that request unread would
        send a TCP reset, which can destroy the alert before the client reads it, so the
        client could not say why it failed. Half-close instead, and read and drop what
        the client sends until it closes, for at most 2 s.
        """
        sock = self.request
        try:
            sock.shutdown(socket.SHUT_WR)  # on an SSLSocket: the TCP half-close only
            deadline = time.monotonic() + 2
            for _ in range(64):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                if not sock.recv(65536):
                    break
        except OSError:
            pass

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if self.server.verbose:
            sys.stderr.write("hookserver: conn %d: %s\n" % (self.conn_serial, format % args))

    def read_body(self):
        """The request body, by Content-Length or chunked; None when malformed."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while True:
                line = self.rfile.readline(MAX_CHUNK_LINE)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    # trailer section, ended by an empty line
                    while self.rfile.readline(MAX_CHUNK_LINE) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(body)
                if len(body) + size > MAX_BODY:
                    return None
                body += self.rfile.read(size)
                self.rfile.readline(MAX_CHUNK_LINE)  # the CRLF after the chunk
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY:
            return None
        return self.rfile.read(length)

    def record(self, body, signature):
        """Append one line describing this request to the record file."""
        try:
            text = body.decode("utf-8")
            parsed = json.loads(text)
            raw = None
        except ValueError:
            parsed = None
            raw = body.decode("utf-8", errors="replace")
        line = {
            "n": self.server.counters.next_request(),
            "conn": self.conn_serial,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "json": parsed,
            "raw": raw,
            "http": self.request_version.replace("HTTP/", "", 1),
            "tls": self.tls_version,
            "client_cert": self.client_cert,
            "signature": signature,
            "t": round(time.time(), 3),
        }
        data = json.dumps(line, ensure_ascii=True) + "\n"
        with self.server.record_lock:
            # Opened per line, in append mode: a test may truncate the file between
            # scenarios and the next line still lands at the start.
            with open(self.server.record_path, "a", encoding="utf-8") as f:
                f.write(data)
                f.flush()
        return parsed

    def do_POST(self):  # noqa: N802 - name fixed by http.server
        body = self.read_body()
        if body is None:
            self.send_error(400, "bad request body")
            self.close_connection = True
            return
        signature = None
        if self.server.signature_secret is not None:
            signature = check_signature(self.server.signature_secret,
                                        self.headers.get("X-MTA-Hooks-Timestamp"),
                                        self.headers.get("X-MTA-Hooks-Signature"),
                                        body, time.time())
        req = self.record(body, signature)
        if self.server.signature_required and signature != "ok":
            answer = {"status": 401, "json": {"error": "signature " + signature}}
        else:
            answer = choose_answer(load_script(self.server.script_path), self.path, req)
        delay = answer.get("delay")
        if isinstance(delay, (int, float)) and delay > 0:
            time.sleep(delay)
        try:
            self.answer(answer)
        except (BrokenPipeError, ConnectionResetError):
            # the client gave up (its timeout); nothing left to say
            self.close_connection = True

    def answer(self, answer):
        """Send one scripted answer."""
        mode = answer.get("mode", "normal")
        if mode == "close":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        status = answer.get("status", 200)
        if "body" in answer:
            payload = str(answer["body"]).encode("utf-8")
        elif "json" in answer:
            payload = json.dumps(answer["json"]).encode("utf-8")
        else:
            payload = b""
        pad = answer.get("pad")
        if isinstance(pad, int) and pad > 0:
            payload += b" " * pad
        headers = {"Content-Type": "application/json"}
        extra = answer.get("headers")
        if isinstance(extra, dict):
            headers.update({str(k): str(v) for k, v in extra.items()})

        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if mode == "truncate":
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(payload[:10].ljust(10, b" "))
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if status == 204 and not payload:
            self.end_headers()  # no Content-Length on a 204 (RFC 9110)
        else:
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        self.wfile.flush()


class HookServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The load test opens a thousand connections at once; with socketserver's
    # default backlog of 5 most would wait for SYN retransmissions.
    request_queue_size = 1024

    def server_bind(self):
        # HTTPServer.server_bind looks up the host's FQDN, which can stall for seconds
        # on a machine without DNS; a test server on loopback has no use for it.
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.server_address[0]
        self.server_port = self.server_address[1]

    def handle_error(self, request, client_address):
        # A client that hangs up mid-request, or fails the TLS handshake, is part of
        # the tests; a traceback per case would only bury real problems.
        if self.verbose:
            sys.stderr.write("hookserver: %s: %s\n" % (client_address, sys.exc_info()[1]))


class HookServer6(HookServer):
    address_family = socket.AF_INET6


def write_port_file(path, port):
    """Publish the port atomically: readers see the whole number or nothing."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description="scripted MTA Hooks endpoint for tests")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--script", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--tls-max-version", choices=["1.2", "1.3"])
    parser.add_argument("--tls-ca")
    parser.add_argument("--tls-require-client-cert", action="store_true")
    parser.add_argument("--signature-secret")
    parser.add_argument("--signature-required", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    try:
        address = ipaddress.ip_address(args.listen)
    except ValueError:
        parser.error("--listen must be 127.0.0.1 or ::1, not %r" % args.listen)
    if not address.is_loopback:
        parser.error("--listen %s is not a loopback address" % args.listen)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if (args.tls_max_version or args.tls_ca) and not args.tls_cert:
        parser.error("--tls-max-version and --tls-ca need --tls-cert")
    if args.tls_require_client_cert and not args.tls_ca:
        parser.error("--tls-require-client-cert needs --tls-ca")
    if args.signature_required and args.signature_secret is None:
        parser.error("--signature-required needs --signature-secret")

    cls = HookServer6 if address.version == 6 else HookServer
    server = cls((args.listen, args.port), HookHandler)
    server.counters = Counters()
    server.record_lock = threading.Lock()
    server.record_path = args.record
    server.script_path = args.script
    server.verbose = args.verbose
    server.signature_secret = None
    if args.signature_secret is not None:
        server.signature_secret = args.signature_secret.encode("utf-8")
    server.signature_required = args.signature_required
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_max_version:
            ctx.maximum_version = {"1.2": ssl.TLSVersion.TLSv1_2,
                                   "1.3": ssl.TLSVersion.TLSv1_3}[args.tls_max_version]
        if args.tls_ca:
            ctx.load_verify_locations(cafile=args.tls_ca)
            ctx.verify_mode = (ssl.CERT_REQUIRED if args.tls_require_client_cert
                               else ssl.CERT_OPTIONAL)
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return, so it must run elsewhere
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    write_port_file(args.port_file, server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
