-- lib.lua - helpers shared by the miltertest scenarios of tests/milter
--
-- Loaded by each scenario with dofile(MTDIR .. "/lib.lua"). Globals set by run.sh
-- with miltertest -D: SOCK ("unix:/path", the socket to talk to), MTDIR (this folder),
-- CASE (which scenario of the file to play).
--
-- The helpers play the MTA the way Postfix does: a step the filter negotiated away
-- (SMFIP_NO*) is not sent at all, since miltertest raises an error on such a step where an
-- MTA would simply skip it. Each step returns the filter's reply (SMFIR_* number);
-- for a step negotiated as "no reply" (SMFIP_NR_*) miltertest reports SMFIR_CONTINUE,
-- and for a skipped step the helpers return t.SKIPPED.
-- Everything fails through error(); t.run prints the message and makes miltertest exit 1.

t = {}

t.SKIPPED = -1
t.EOH = string.byte("N") -- macro stages miltertest has no constant for
t.EOM = string.byte("E")
t.DATA = string.byte("T")
t.ACCEPTED = { SMFIR_ACCEPT, SMFIR_CONTINUE } -- at end of message both mean "accepted"

local reply_names = {}
for _, name in ipairs({ "CONTINUE", "ACCEPT", "REJECT", "TEMPFAIL", "DISCARD",
	"REPLYCODE", "SKIP" }) do
	local code = _G["SMFIR_" .. name]
	if code ~= nil then
		reply_names[code] = "SMFIR_" .. name
	end
end

-- t.fail - stop the scenario with a message
function t.fail(fmt, ...)
	error(string.format(fmt, ...), 0)
end

-- t.name - a reply code as a readable name
function t.name(code)
	if code == t.SKIPPED then
		return "(step skipped by negotiation)"
	end
	if reply_names[code] ~= nil then
		return reply_names[code]
	end
	local n = math.tointeger(code)
	if n ~= nil and n > 32 and n < 127 then
		return string.format("'%s'", string.char(n))
	end
	return tostring(code)
end

-- t.ok - a miltertest call must return nil
function t.ok(err, what)
	if err ~= nil then
		t.fail("%s: %s", what, tostring(err))
	end
end

-- t.expect - the reply must be want (a code or a list of acceptable codes)
function t.expect(got, want, what)
	if type(want) ~= "table" then
		want = { want }
	end
	local names = {}
	for _, w in ipairs(want) do
		if got == w then
			return
		end
		names[#names + 1] = t.name(w)
	end
	t.fail("%s: reply %s, expected %s", what, t.name(got), table.concat(names, " or "))
end

-- t.open - connect to the filter and negotiate with miltertest's defaults (everything offered)
function t.open()
	local conn = mt.connect(SOCK)
	if conn == nil then
		t.fail("mt.connect(%s) failed", tostring(SOCK))
	end
	t.ok(mt.negotiate(conn, nil, nil, nil), "negotiate")
	return conn
end

-- t.skipped - true when the filter asked not to get this step
function t.skipped(conn, option)
	return mt.test_option(conn, option)
end

-- t.macro - send macros for a stage (replacing the previous ones of that stage)
function t.macro(conn, stage, ...)
	t.ok(mt.macro(conn, stage, ...), "macro")
end

-- t.conninfo - the connect event
function t.conninfo(conn, host, ip)
	if t.skipped(conn, SMFIP_NOCONNECT) then
		return t.SKIPPED
	end
	t.ok(mt.conninfo(conn, host, ip), "conninfo")
	return mt.getreply(conn)
end

-- t.helo - a HELO/EHLO
function t.helo(conn, name)
	if t.skipped(conn, SMFIP_NOHELO) then
		return t.SKIPPED
	end
	t.ok(mt.helo(conn, name), "helo")
	return mt.getreply(conn)
end

-- t.mail - MAIL FROM with optional ESMTP parameters
function t.mail(conn, from, ...)
	if t.skipped(conn, SMFIP_NOMAIL) then
		return t.SKIPPED
	end
	t.ok(mt.mailfrom(conn, from, ...), "mailfrom")
	return mt.getreply(conn)
end

-- t.rcpt - RCPT TO with optional ESMTP parameters
function t.rcpt(conn, to, ...)
	if t.skipped(conn, SMFIP_NORCPT) then
		return t.SKIPPED
	end
	t.ok(mt.rcptto(conn, to, ...), "rcptto")
	return mt.getreply(conn)
end

-- t.header - one header field
function t.header(conn, name, value)
	if t.skipped(conn, SMFIP_NOHDRS) then
		return t.SKIPPED
	end
	t.ok(mt.header(conn, name, value), "header " .. name)
	return mt.getreply(conn)
end

-- t.eoh - end of headers
function t.eoh(conn)
	if t.skipped(conn, SMFIP_NOEOH) then
		return t.SKIPPED
	end
	t.ok(mt.eoh(conn), "eoh")
	return mt.getreply(conn)
end

-- t.body - one body chunk: a string, or { bytes = STRING } for bytes that may hold NUL
-- (mt.bodystring stops at a NUL; they go through a file and mt.bodyfile instead)
function t.body(conn, chunk)
	if t.skipped(conn, SMFIP_NOBODY) then
		return t.SKIPPED
	end
	if type(chunk) == "table" then
		local name = "body-chunk.bin"
		local f = io.open(name, "wb")
		if f == nil then
			t.fail("cannot write %s", name)
		end
		f:write(chunk.bytes)
		f:close()
		t.ok(mt.bodyfile(conn, name), "bodyfile")
		os.remove(name)
	else
		t.ok(mt.bodystring(conn, chunk), "bodystring")
	end
	return mt.getreply(conn)
end

-- t.eom - end of message; the filter's final reply
function t.eom(conn)
	t.ok(mt.eom(conn), "eom")
	return mt.getreply(conn)
end

-- t.abort - abandon the current message
function t.abort(conn)
	t.ok(mt.abort(conn), "abort")
end

-- t.close - QUIT and close
function t.close(conn)
	t.ok(mt.disconnect(conn), "disconnect")
end

-- t.session - open a connection, send connect macros, connect and HELO, each accepted
-- s = { host=, ip=, helo=, macros = { name, value, ... }, helo_macros = {...} }
function t.session(s)
	local conn = t.open()
	t.macro(conn, SMFIC_CONNECT, table.unpack(s.macros or
		{ "j", "mx.example.org", "{daemon_name}", "smtpd", "{daemon_addr}", "127.0.0.1",
			"{daemon_port}", "25" }))
	t.expect(t.conninfo(conn, s.host or "client.example.net", s.ip or "192.0.2.1"),
		{ SMFIR_CONTINUE, t.SKIPPED }, "connect")
	if s.helo_macros ~= nil then
		t.macro(conn, SMFIC_HELO, table.unpack(s.helo_macros))
	end
	t.expect(t.helo(conn, s.helo or "client.example.net"), { SMFIR_CONTINUE, t.SKIPPED }, "helo")
	return conn
end

t.HEADERS = {
	{ "From", "Alice <alice@example.com>" },
	{ "To", "bob@example.com" },
	{ "Subject", "Hello" },
	{ "Message-ID", "<1@example.com>" },
}
t.BODY = { "Hello Bob,\r\n", "bye.\r\n" }

-- t.data - headers, end of headers and body, each accepted; the caller sends eom
-- m = { qid=, headers = {{name, value}, ...}, body = {chunk, ...} }
function t.data(conn, m)
	local ok = { SMFIR_CONTINUE, t.SKIPPED }
	if m.qid ~= nil then
		-- Postfix sends i with DATA, end of headers and end of message
		t.macro(conn, t.DATA, "i", m.qid)
		t.macro(conn, t.EOH, "i", m.qid)
	end
	for _, h in ipairs(m.headers or t.HEADERS) do
		t.expect(t.header(conn, h[1], h[2]), ok, "header " .. h[1])
	end
	t.expect(t.eoh(conn), ok, "eoh")
	for _, chunk in ipairs(m.body or t.BODY) do
		t.expect(t.body(conn, chunk), ok, "body")
	end
	if m.qid ~= nil then
		t.macro(conn, t.EOM, "i", m.qid)
	end
end

-- t.message - a whole message whose every step before end of message is accepted;
-- returns the end-of-message reply
-- m = { from=, from_params = {...}, rcpts = { "<a@b>" or {"<a@b>", param, ...}, ... },
--       mail_macros = {...}, qid=, headers=, body= }
function t.message(conn, m)
	local ok = { SMFIR_CONTINUE, t.SKIPPED }
	t.macro(conn, SMFIC_MAIL, table.unpack(m.mail_macros or { "{mail_addr}", "sender@example.com" }))
	t.expect(t.mail(conn, m.from or "<sender@example.com>", table.unpack(m.from_params or {})),
		ok, "mail")
	for _, r in ipairs(m.rcpts or { "<bob@example.com>" }) do
		if type(r) == "string" then
			r = { r }
		end
		t.expect(t.rcpt(conn, table.unpack(r)), ok, "rcpt " .. r[1])
	end
	t.data(conn, m)
	return t.eom(conn)
end

-- t.eom_has / t.eom_lacks - what the filter did at end of message (mt.eom_check)
function t.eom_has(conn, what, ...)
	if not mt.eom_check(conn, ...) then
		t.fail("end of message: expected %s", what)
	end
end

function t.eom_lacks(conn, what, ...)
	if mt.eom_check(conn, ...) then
		t.fail("end of message: unexpected %s", what)
	end
end

-- t.no_modifications - nothing changed at end of message
function t.no_modifications(conn)
	t.eom_lacks(conn, "added header", MT_HDRADD)
	t.eom_lacks(conn, "inserted header", MT_HDRINSERT)
	t.eom_lacks(conn, "changed header", MT_HDRCHANGE)
	t.eom_lacks(conn, "replaced body", MT_BODYCHANGE)
	t.eom_lacks(conn, "quarantine", MT_QUARANTINE)
end

-- t.run - run a scenario: a function, or the function for CASE in a table of cases.
-- miltertest does not print a script's error: print it here, with where it happened.
function t.run(cases)
	local f = cases
	if type(cases) == "table" then
		f = cases[CASE]
		if f == nil then
			io.stderr:write(string.format("unknown CASE %s\n", tostring(CASE)))
			os.exit(1)
		end
	end
	local ok, err = xpcall(f, function(e)
		return debug.traceback(tostring(e), 2)
	end)
	if not ok then
		io.stderr:write("FAILED: " .. err .. "\n")
		os.exit(1)
	end
end
