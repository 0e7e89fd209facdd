#!/usr/bin/env python3
"""check.py - the cases of tests/dryrun/run.sh: mtahooks-milter --dry-run (TAP on stdout)

Environment: top_srcdir, top_builddir (set by run.sh), MILTERTEST (may be empty: the case
that needs it is skipped), KEEP_TMP=1 keeps the temporary directory.

Everything listens on loopback or a unix socket in a private temporary directory. Every
process started here is stopped by its own pid (TERM, then KILL after 15 s); every run of
the program is bounded (30 s).

Fields that legitimately differ between a real milter session and a dry run of the same
message (mtahooks-milter(8), DRY RUN): context.client.port (the MTA gives the client's
port, a dry run 0), and whatever the MTA's macros add and this test does not send
(queue.id, server.ip/port, client.ptr, tls, sasl). The comparison case sends none of those
macros, so only context.client.port is left out of it.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP_SRC = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILD = os.environ.get("top_builddir") or TOP_SRC
PROGRAM = os.path.join(TOP_BUILD, "src", "mtahooks-milter")
MILTERTEST = os.environ.get("MILTERTEST") or ""
RUN_LIMIT = 30

# The message of the cases; tests/dryrun/session.lua plays the same one through milter.
MESSAGE = (
    "From: Alice <alice@example.com>\n"
    "To: Bob <bob@example.org>, carol@example.net\n"
    "Subject: Dry run check\n"
    "X-Folded: one\n"
    " two\n"
    "Message-ID: <dry-1@example.com>\n"
    "\n"
    "Hello Bob,\n"
    "bye.\n"
)
ALL_STAGES = ["connect", "ehlo", "mail", "rcpt", "data"]

started = []  # processes started here and not yet stopped


def stop(proc):
    """TERM a process we started, wait a bounded time, KILL it if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc in started:
        started.remove(proc)
    return proc.returncode


def wait_until(test, tries=200):
    """Up to tries x 0.05 s for test() to be true."""
    for _ in range(tries):
        if test():
            return True
        time.sleep(0.05)
    return False


class Env:
    """The temporary directory, the hook server and helpers around them."""

    def __init__(self):
        base = os.environ.get("TMPDIR", "/tmp")
        if len(base) > 60 or not base.startswith("/"):
            base = "/tmp"
        self.tmp = tempfile.mkdtemp(prefix="mtdry.", dir=base)
        self.record = os.path.join(self.tmp, "record.jsonl")
        self.script_path = os.path.join(self.tmp, "script.json")
        self.script({})
        portfile = os.path.join(self.tmp, "port")
        self.hooklog = open(os.path.join(self.tmp, "hookserver.log"), "w")
        self.hook = subprocess.Popen(
            [sys.executable, os.path.join(TOP_SRC, "tests", "lib", "hookserver.py"),
             "--port-file", portfile, "--script", self.script_path, "--record", self.record],
            stdin=subprocess.DEVNULL, stdout=self.hooklog, stderr=self.hooklog)
        started.append(self.hook)
        if not wait_until(lambda: os.path.exists(portfile) and os.path.getsize(portfile) > 0):
            raise RuntimeError("the hook server did not start")
        with open(portfile) as f:
            self.port = int(f.read().strip())
        self.message = self.write("message.eml", MESSAGE)

    def write(self, name, text):
        """A file in the temporary directory; its path."""
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return path

    def script(self, obj):
        """Replace the hook server's script whole (it reads it at each request)."""
        with open(self.script_path + ".new", "w") as f:
            json.dump(obj, f)
        os.replace(self.script_path + ".new", self.script_path)

    def clear(self):
        """Forget what the hook server recorded."""
        open(self.record, "w").close()

    def records(self):
        """The requests recorded since the last clear, parsed."""
        try:
            with open(self.record, encoding="utf-8") as f:
                return [json.loads(line)["json"] for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def config(self, name, stages=None, tempfail_on_error=True, milter_extra=""):
        """A configuration with one hook "h" at the hook server; its path."""
        stages = stages or ALL_STAGES
        text = (
            "[milter]\n"
            "server-name = \"mx.example.org\"\n"
            f"{milter_extra}"
            "[session.hook.\"h\"]\n"
            f"url = \"http://127.0.0.1:{self.port}/h\"\n"
            f"stages = {json.dumps(stages)}\n"
            "timeout = \"5s\"\n"
            "[session.hook.\"h\".options]\n"
            f"tempfail-on-error = {'true' if tempfail_on_error else 'false'}\n")
        return self.write(name + ".toml", text)

    def dry(self, config, *args, message=None, stdin=None):
        """Run the program with --dry-run; (status, stdout, stderr)."""
        argv = [PROGRAM, "-c", config, "--dry-run", message or self.message] + list(args)
        p = subprocess.run(argv, input=stdin, capture_output=True, timeout=RUN_LIMIT)
        return p.returncode, p.stdout.decode("utf-8", "replace"), \
            p.stderr.decode("utf-8", "replace")

    def dry_json(self, config, *args, **kw):
        """A --json dry run that must succeed; the document."""
        rc, out, err = self.dry(config, "--json", *args, **kw)
        if rc != 0:
            raise AssertionError(f"exit status {rc}, stderr: {err.strip()}")
        try:
            return json.loads(out)
        except ValueError as e:
            raise AssertionError(f"--json output is no JSON document ({e}): {out[:300]}")

    def close(self):
        for p in list(started):
            stop(p)
        self.hooklog.close()
        if os.environ.get("KEEP_TMP") == "1":
            print(f"# kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def requests_of(doc):
    """The requests a --json document says were sent, in order."""
    return [c["request"] for st in doc["stages"] for c in st["hooks"]]


def stage_list(reqs):
    return [r["context"]["stage"] for r in reqs]


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


def text_requests(out):
    """The request blocks of the text output ("  request:" then lines indented by 4)."""
    reqs, block = [], None
    for line in out.splitlines():
        if line == "  request:":
            block = []
        elif block is not None and line.startswith("    "):
            block.append(line[4:])
        elif block is not None:
            reqs.append(json.loads("\n".join(block)))
            block = None
    return reqs


CASES = []


def case(desc):
    def register(f):
        CASES.append((desc, f))
        return f
    return register


@case("text output: per stage the requests the hook server received, then the verdict")
def text_output(env):
    cfg = env.config("all")
    env.clear()
    rc, out, err = env.dry(cfg, "--client-ip", "192.0.2.1", "--helo", "client.example.net")
    expect(rc == 0, f"exit status {rc}: {err}")
    recorded = env.records()
    printed = text_requests(out)
    expect(stage_list(recorded) == ["connect", "ehlo", "mail", "rcpt", "rcpt", "data"],
           f"recorded stages {stage_list(recorded)}")
    expect(printed == recorded, "the printed requests differ from what the hook received")
    for heading in ("== connect ==", "== ehlo client.example.net ==", "== mail ==",
                    "== rcpt <bob@example.org> ==", "== rcpt <carol@example.net> ==",
                    "== data ==", "== result ==", "the MTA would accept the message"):
        expect(heading in out, f"no line {heading!r} in the output")
    expect("mtahooks-milter[" not in out, "a log line went to stdout")


@case("--json: the requests in the document are exactly those the hook server received")
def json_requests(env):
    cfg = env.config("all")
    env.clear()
    doc = env.dry_json(cfg)
    recorded = env.records()
    expect(len(recorded) == 6, f"{len(recorded)} requests recorded, expected 6")
    expect(requests_of(doc) == recorded, "the document's requests differ from the record")
    data = recorded[-1]
    expect(data["message"]["headers"][3] == ["X-Folded", "one\r\n two"],
           f"folded header {data['message']['headers'][3]}")
    expect(data["message"]["contents"] == "Hello Bob,\r\nbye.\r\n", "body not CRLF")
    expect("queue" not in data["context"], "a queue id was invented")
    expect(data["context"]["client"]["ip"] == "127.0.0.1", "default client IP")
    expect(data["context"]["client"]["helo"] == "localhost", "default HELO")
    expect(data["envelope"]["from"]["address"] == "alice@example.com", "default sender")


@case("the same message through a real milter session and through --dry-run: same requests")
def same_as_milter(env):
    if not MILTERTEST or not os.access(MILTERTEST, os.X_OK):
        return "SKIP miltertest not found"
    cfg = env.config("all")
    sock = os.path.join(env.tmp, "m.sock")
    log = open(os.path.join(env.tmp, "daemon.log"), "w")
    daemon = subprocess.Popen([PROGRAM, "-f", "-c", cfg, "-p", "unix:" + sock, "-v"],
                              stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    started.append(daemon)
    try:
        expect(wait_until(lambda: os.path.exists(sock), 300), "the daemon did not listen")
        env.clear()
        p = subprocess.run([MILTERTEST, "-D", "SOCK=unix:" + sock, "-D",
                            "MTDIR=" + os.path.join(TOP_SRC, "tests", "milter"), "-s",
                            os.path.join(TOP_SRC, "tests", "dryrun", "session.lua")],
                           cwd=env.tmp, capture_output=True, timeout=RUN_LIMIT)
        expect(p.returncode == 0, "miltertest failed: " + p.stdout.decode() + p.stderr.decode())
        # the daemon may still be closing the session: the record is complete at eom
        milter = env.records()
    finally:
        stop(daemon)
        log.close()
    env.clear()
    dry = env.dry_json(cfg, "--client-ip", "192.0.2.1", "--helo", "client.example.net")
    dryreq = env.records()
    expect(requests_of(dry) == dryreq, "the dry run's document differs from its record")
    expect(stage_list(milter) == stage_list(dryreq),
           f"stages: milter {stage_list(milter)}, dry run {stage_list(dryreq)}")
    for m, d in zip(milter, dryreq):
        # the one field that legitimately differs here (see the top of this file)
        m["context"]["client"].pop("port", None)
        d["context"]["client"].pop("port", None)
        for part in ("context", "envelope", "message"):
            expect(m.get(part) == d.get(part),
                   f"stage {m['context']['stage']}: {part} differs:\n  milter  "
                   f"{json.dumps(m.get(part))}\n  dry run {json.dumps(d.get(part))}")


@case("reject at rcpt drops that recipient; the other goes on to DATA")
def reject_rcpt(env):
    cfg = env.config("all")
    env.script({"rules": [{"when": {"stage": "rcpt", "rcpt": "carol@example.net"},
                           "json": {"action": "reject", "response": {
                               "status": 550, "enhancedStatus": "5.1.1",
                               "message": "no such user"}}}]})
    env.clear()
    doc = env.dry_json(cfg)
    rc_stages = [s for s in doc["stages"] if s["stage"] == "rcpt"]
    expect([s["rcpt"] for s in rc_stages] == ["bob@example.org", "carol@example.net"],
           "rcpt stages")
    expect(rc_stages[1]["outcome"]["result"] == "reject", "carol not rejected")
    expect(rc_stages[1]["outcome"]["reply"] == {"code": 550, "enhanced": "5.1.1",
                                                "text": "no such user"},
           f"reply {rc_stages[1]['outcome']['reply']}")
    data = env.records()[-1]
    expect(data["context"]["stage"] == "data", "no data request")
    expect([t["address"] for t in data["envelope"]["to"]] == ["bob@example.org"],
           f"data envelope.to {data['envelope']['to']}")
    expect(doc["final"]["result"] == "accept", f"final {doc['final']}")


@case("reject at connect: the session stops there, with the hook's reply")
def reject_connect(env):
    cfg = env.config("all")
    env.script({"rules": [{"when": {"stage": "connect"}, "json": {
        "action": "reject", "response": {"status": 554, "message": "go away"}}}]})
    env.clear()
    rc, out, err = env.dry(cfg, "--json")
    expect(rc == 0, f"exit status {rc}")
    doc = json.loads(out)
    expect(stage_list(env.records()) == ["connect"], f"requests {stage_list(env.records())}")
    fin = doc["final"]
    expect(fin["result"] == "reject" and fin["stage"] == "connect", f"final {fin}")
    expect(fin["reply"]["code"] == 554 and fin["reply"]["text"] == "go away", f"reply {fin}")
    expect(fin["actions"] == [], "actions after a reject")
    rc, out, err = env.dry(cfg)
    expect("the MTA would reject the message at the connect stage: 554 go away" in out,
           "text verdict: " + out[-300:])


@case("modifications come in apply order (connect, then message), only the last body")
def mods_order(env):
    cfg = env.config("all")
    env.script({"rules": [
        {"when": {"stage": "connect"}, "json": {"action": "accept", "modifications": [
            {"type": "addHeader", "name": "X-Conn", "value": "1"}]}},
        {"when": {"stage": "mail"}, "json": {"action": "accept", "modifications": [
            {"type": "replaceContents", "value": "first body\n"},
            {"type": "addHeader", "name": "X-Mail", "value": "a\r\n b"}]}},
        {"when": {"stage": "data"}, "json": {"action": "accept", "modifications": [
            {"type": "changeHeader", "index": 0, "name": "Subject", "value": "new"},
            {"type": "replaceContents", "value": "second\n"},
            {"type": "deleteHeader", "index": 2, "name": "X-Folded"},
            {"type": "addRecipient", "value": "new@example.org"},
            {"type": "changeFrom", "value": "bounce@example.com",
             "parameters": {"BODY": "8BITMIME"}}]}}]})
    doc = env.dry_json(cfg)
    got = [a["text"] for a in doc["final"]["actions"]]
    want = ['smfi_addheader("X-Conn", "1")',
            'smfi_addheader("X-Mail", "a\\n b")',
            'smfi_chgheader("Subject", 1, "new")',
            "smfi_replacebody(<8 bytes>)",
            'smfi_chgheader("X-Folded", 2, NULL)',
            'smfi_addrcpt("<new@example.org>")',
            'smfi_chgfrom("<bounce@example.com>", "BODY=8BITMIME")']
    expect(got == want, "actions:\n  got  " + "\n       ".join(got) + "\n  want " +
           "\n       ".join(want))
    body = [a for a in doc["final"]["actions"] if a["call"] == "smfi_replacebody"]
    expect(body[0]["body"] == "second\n" and body[0]["args"] == [8], f"body action {body}")
    rc, out, err = env.dry(cfg)
    expect("  smfi_replacebody(<8 bytes>)\n" in out, "text actions")


@case("quarantine: the reason, and smfi_quarantine after the modifications")
def quarantine(env):
    cfg = env.config("all")
    env.script({"rules": [{"when": {"stage": "data"}, "json": {
        "action": "quarantine", "response": {"message": "held for review"},
        "modifications": [{"type": "addHeader", "name": "X-Q", "value": "1"}]}}]})
    doc = env.dry_json(cfg)
    fin = doc["final"]
    expect(fin["result"] == "accept" and fin["quarantine"] == "held for review", f"final {fin}")
    expect([a["text"] for a in fin["actions"]] ==
           ['smfi_addheader("X-Q", "1")', 'smfi_quarantine("held for review")'],
           f"actions {fin['actions']}")


@case("hook error with tempfail-on-error true: 451 4.3.5 at that stage")
def error_tempfail(env):
    cfg = env.config("err-true", stages=["data"])
    env.script({"default": {"status": 500, "body": "oops"}})
    rc, out, err = env.dry(cfg, "--json")
    expect(rc == 0, f"exit status {rc}")
    doc = json.loads(out)
    fin = doc["final"]
    expect(fin["result"] == "tempfail" and fin["stage"] == "data", f"final {fin}")
    expect(fin["reply"] == {"code": 451, "enhanced": "4.3.5",
                            "text": "Unable to accept message at this time."}, f"reply {fin}")
    call = doc["stages"][-1]["hooks"][0]
    expect(call["status"] == 500 and call["answer"] == "oops", f"call {call}")
    expect(call["error"].startswith("http-status"), f"error {call['error']}")
    expect("error=http-status" in err, "no log line on stderr: " + err)


@case("hook error with tempfail-on-error false: counted as accept, the error still shown")
def error_accept(env):
    cfg = env.config("err-false", stages=["data"], tempfail_on_error=False)
    env.script({"default": {"body": "not json"}})
    doc = env.dry_json(cfg)
    expect(doc["final"]["result"] == "accept", f"final {doc['final']}")
    call = doc["stages"][-1]["hooks"][0]
    expect(call["error"].startswith("not-json"), f"error {call['error']}")


@case("--json has the documented shape")
def json_shape(env):
    cfg = env.config("all")
    env.script({})
    doc = env.dry_json(cfg)
    expect(set(doc) == {"session", "stages", "final"}, f"top {sorted(doc)}")
    expect(set(doc["session"]) == {"config", "message", "client_ip", "helo", "server_name",
                                   "from", "rcpts", "last_stage"}, f"session {doc['session']}")
    for st in doc["stages"]:
        expect({"stage", "hooks", "not_called", "outcome", "called"} <= set(st), f"stage {st}")
        expect(set(st["outcome"]) == {"result", "reply", "modifications_kept", "quarantine",
                                      "note"}, f"outcome {st['outcome']}")
        for c in st["hooks"]:
            expect({"id", "url", "request", "status", "answer", "verdict", "warning", "error",
                    "time_ms"} <= set(c), f"call {sorted(c)}")
            expect(isinstance(c["request"], dict), "request not an object")
    expect(set(doc["final"]) == {"result", "stage", "reply", "actions", "quarantine",
                                 "stopped", "note"}, f"final {doc['final']}")
    expect(doc["session"]["server_name"] == "mx.example.org", "server-name not used")


@case("--stage mail: no rcpt or data request; the message file may come on stdin")
def stage_mail(env):
    cfg = env.config("all")
    env.clear()
    doc = env.dry_json(cfg, "--stage", "mail", message="-", stdin=MESSAGE.encode())
    expect(stage_list(env.records()) == ["connect", "ehlo", "mail"],
           f"requests {stage_list(env.records())}")
    expect(doc["final"]["stopped"] is True and doc["final"]["stage"] == "mail",
           f"final {doc['final']}")


@case("a message past max-message-size: 552 5.3.4 and no data request")
def too_big(env):
    cfg = env.config("small", milter_extra="max-message-size = 100\n")
    env.clear()
    doc = env.dry_json(cfg)
    expect("data" not in stage_list(env.records()), "a data request was sent")
    fin = doc["final"]
    expect(fin["result"] == "reject" and fin["reply"]["code"] == 552 and
           fin["reply"]["enhanced"] == "5.3.4", f"final {fin}")


@case("discard at connect: the message is discarded at MAIL, no mail hook is called")
def discard_connect(env):
    cfg = env.config("all")
    env.script({"rules": [{"when": {"stage": "connect"}, "json": {"action": "discard"}}]})
    env.clear()
    doc = env.dry_json(cfg)
    expect(stage_list(env.records()) == ["connect", "ehlo"],
           f"requests {stage_list(env.records())}")
    expect(doc["final"]["result"] == "discard", f"final {doc['final']}")
    env.script({})


@case("a malformed message file: exit 1, FILE:LINE on stderr, nothing on stdout")
def bad_message(env):
    cfg = env.config("all")
    bad = env.write("bad.eml", "Subject: x\nnot a header\n\nbody\n")
    rc, out, err = env.dry(cfg, message=bad)
    expect(rc == 1, f"exit status {rc}")
    expect(out == "", "stdout: " + out)
    expect(f"{bad}:2: not a header line" in err, "stderr: " + err)
    rc, out, err = env.dry(cfg, message=os.path.join(env.tmp, "missing.eml"))
    expect(rc == 1 and "missing.eml: No such file or directory" in err, "stderr: " + err)
    norcpt = env.write("norcpt.eml", "From: a@example.com\nSubject: x\n\nb\n")
    rc, out, err = env.dry(cfg, message=norcpt)
    expect(rc == 1 and "no recipient: give --rcpt" in err, "stderr: " + err)


@case("bad option values: exit 1 with a message saying which")
def bad_options(env):
    cfg = env.config("all")
    for args, want in (
            (["--client-ip", "300.1.2.3"], "--client-ip \"300.1.2.3\": not an IPv4 or IPv6"),
            (["--stage", "auth"], "--stage: unknown stage \"auth\""),
            (["--stage", "quit"], "--stage: unknown stage \"quit\"")):
        rc, out, err = env.dry(cfg, *args)
        expect(rc == 1 and want in err, f"{args}: status {rc}, stderr {err.strip()}")
        expect(out == "", f"{args}: stdout {out}")
    for argv, want in (
            ([PROGRAM, "-c", cfg, "--from", "a@b"], "--from is an option of --dry-run"),
            ([PROGRAM, "-c", cfg, "--dry-run"], "--dry-run needs one message file"),
            ([PROGRAM, "-c", cfg, "-n", "--dry-run", env.message], "--dry-run takes only")):
        p = subprocess.run(argv, capture_output=True, timeout=RUN_LIMIT)
        expect(p.returncode == 1 and want in p.stderr.decode(),
               f"{argv[3:]}: status {p.returncode}, stderr {p.stderr.decode().strip()}")


def main():
    print(f"1..{len(CASES)}")
    try:
        env = Env()
    except Exception as e:  # noqa: BLE001 - any failure to start is a bail out
        print(f"Bail out! {e}")
        for p in list(started):
            stop(p)
        return 1
    failed = 0
    try:
        for n, (desc, f) in enumerate(CASES, 1):
            env.script({})
            try:
                result = f(env)
            except Exception as e:  # noqa: BLE001 - reported as the case's failure
                failed += 1
                print(f"not ok {n} - {desc}")
                for line in str(e).splitlines() or [type(e).__name__]:
                    print(f"#   {line}")
                continue
            if isinstance(result, str) and result.startswith("SKIP"):
                print(f"ok {n} - {desc} # {result}")
            else:
                print(f"ok {n} - {desc}")
    finally:
        env.close()
    if failed:
        print(f"# {failed} of {len(CASES)} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
