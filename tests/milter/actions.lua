-- actions.lua - what the filter answers the MTA for each hook action (PROTOCOL.md sections
-- 3 and 4). The hook script of each case is in check.py; the SMTP text of replies
-- before end of message, which miltertest does not show, is checked there from the trace.
dofile(MTDIR .. "/lib.lua")

local C = SMFIR_CONTINUE
local Y = SMFIR_REPLYCODE

-- a session up to an accepted HELO
local function session(ip)
	return t.session({ ip = ip or "192.0.2.40" })
end

-- MAIL FROM and one RCPT TO, both accepted
local function envelope(conn, from, rcpt)
	t.macro(conn, SMFIC_MAIL, "{mail_addr}", from or "alice@example.com")
	t.expect(t.mail(conn, "<" .. (from or "alice@example.com") .. ">"), C, "mail")
	t.expect(t.rcpt(conn, "<" .. (rcpt or "bob@example.com") .. ">"), C, "rcpt")
end

-- a message that the filter must discard at some point: returns when it did
local function discarded(conn, from, what)
	local r = t.mail(conn, "<" .. from .. ">")
	if r == SMFIR_DISCARD then
		return
	end
	t.expect(r, C, what .. ": mail")
	r = t.rcpt(conn, "<bob@example.com>")
	if r == SMFIR_DISCARD then
		return
	end
	t.expect(r, C, what .. ": rcpt")
	t.data(conn, { qid = "4DISC" .. from:sub(1, 1) })
	t.expect(t.eom(conn), SMFIR_DISCARD, what .. ": eom")
end

t.run({
	accept = function()
		local conn = session()
		t.expect(t.message(conn, { qid = "4ACCEPT1" }), t.ACCEPTED, "eom")
		t.no_modifications(conn)
		t.eom_lacks(conn, "SMTP reply", MT_SMTPREPLY, "550", "5.7.1", "x")
		t.close(conn)
	end,

	reject_connect = function()
		local conn = t.open()
		t.macro(conn, SMFIC_CONNECT, "j", "mx.example.org")
		t.expect(t.conninfo(conn, "client.example.net", "192.0.2.41"), Y, "connect")
		t.close(conn)
	end,

	reject_ehlo = function()
		local conn = t.open()
		t.macro(conn, SMFIC_CONNECT, "j", "mx.example.org")
		t.expect(t.conninfo(conn, "client.example.net", "192.0.2.42"), C, "connect")
		t.expect(t.helo(conn, "bad.example.net"), Y, "helo")
		t.close(conn)
	end,

	reject_mail = function()
		local conn = session()
		t.expect(t.mail(conn, "<spammer@example.net>"), Y, "mail")
		t.close(conn)
	end,

	reject_rcpt = function()
		local conn = session()
		t.expect(t.mail(conn, "<alice@example.com>"), C, "mail")
		t.expect(t.rcpt(conn, "<nobody@example.com>"), Y, "rcpt")
		t.close(conn)
	end,

	reject_data = function()
		local conn = session()
		envelope(conn)
		t.data(conn, { qid = "4REJDATA" })
		t.expect(t.eom(conn), Y, "eom")
		t.eom_has(conn, "554 5.7.1 reply", MT_SMTPREPLY, "554", "5.7.1", "Message rejected by hook")
		t.no_modifications(conn)
		t.close(conn)
	end,

	tempfail_mail = function()
		local conn = session()
		t.expect(t.mail(conn, "<greylist@example.net>"), Y, "mail")
		t.close(conn)
	end,

	tempfail_data = function()
		local conn = session()
		envelope(conn)
		t.data(conn, { qid = "4TEMPDATA" })
		t.expect(t.eom(conn), Y, "eom")
		t.eom_has(conn, "450 4.7.1 reply", MT_SMTPREPLY, "450", "4.7.1", "Try again later")
		t.close(conn)
	end,

	reject_nostatus_rcpt = function()
		local conn = session()
		t.expect(t.mail(conn, "<alice@example.com>"), C, "mail")
		t.expect(t.rcpt(conn, "<nobody@example.com>"), SMFIR_REJECT, "rcpt")
		t.close(conn)
	end,

	reject_nostatus_data = function()
		local conn = session()
		envelope(conn)
		t.data(conn, { qid = "4REJNOST" })
		t.expect(t.eom(conn), SMFIR_REJECT, "eom")
		t.close(conn)
	end,

	reject_multiline = function()
		local conn = session()
		envelope(conn)
		t.data(conn, { qid = "4MULTI" })
		t.expect(t.eom(conn), Y, "eom")
		-- miltertest joins its three arguments with spaces: this spells
		-- "550-5.7.1 first line\r\n550 5.7.1 second line"
		t.eom_has(conn, "two-line 550 reply", MT_SMTPREPLY, "550-5.7.1", "first line\r\n550",
			"5.7.1 second line")
		t.close(conn)
	end,

	reject_status_string = function()
		local conn = session()
		t.expect(t.mail(conn, "<alice@bad-domain.example>"), Y, "mail")
		t.close(conn)
	end,

	enhanced_dropped = function()
		local conn = session()
		t.expect(t.mail(conn, "<mismatch@example.net>"), Y, "mail (550 with 4.7.1)")
		t.abort(conn)
		t.expect(t.mail(conn, "<alice@example.com>"), C, "second mail")
		t.expect(t.rcpt(conn, "<malformed@example.com>"), Y, "rcpt (550 with 5.7)")
		t.close(conn)
	end,

	reject_one_rcpt = function()
		local conn = session()
		t.expect(t.mail(conn, "<alice@example.com>"), C, "mail")
		t.expect(t.rcpt(conn, "<bob@example.com>"), C, "first rcpt")
		t.expect(t.rcpt(conn, "<nobody@example.com>"), Y, "rejected rcpt")
		t.expect(t.rcpt(conn, "<carol@example.com>"), C, "third rcpt")
		t.data(conn, { qid = "4ONERCPT" })
		t.expect(t.eom(conn), t.ACCEPTED, "eom")
		t.close(conn)
	end,

	discard_data = function()
		local conn = session()
		envelope(conn)
		t.data(conn, { qid = "4DISDATA" })
		t.expect(t.eom(conn), SMFIR_DISCARD, "eom")
		t.close(conn)
	end,

	discard_rcpt = function()
		local conn = session()
		t.expect(t.mail(conn, "<alice@example.com>"), C, "mail")
		local r = t.rcpt(conn, "<trap@example.com>")
		if r ~= SMFIR_DISCARD then
			-- the discard may also be deferred to end of message
			t.expect(r, C, "rcpt")
			t.data(conn, { qid = "4DISRCPT" })
			t.expect(t.eom(conn), SMFIR_DISCARD, "eom")
		end
		t.close(conn)
	end,

	quarantine_data = function()
		local conn = session()
		envelope(conn)
		t.data(conn, { qid = "4QUAR1" })
		t.expect(t.eom(conn), t.ACCEPTED, "eom")
		t.eom_has(conn, "quarantine with the hook's reason", MT_QUARANTINE, "Held for review")
		t.close(conn)
	end,

	quarantine_default = function()
		local conn = session()
		envelope(conn)
		t.data(conn, { qid = "4QUAR2" })
		t.expect(t.eom(conn), t.ACCEPTED, "eom")
		t.eom_has(conn, "quarantine with the default reason", MT_QUARANTINE,
			"quarantined by hook h1")
		t.close(conn)
	end,

	quarantine_mail = function()
		local conn = session()
		envelope(conn, "suspicious@example.net")
		t.data(conn, { qid = "4QUAR3" })
		t.expect(t.eom(conn), t.ACCEPTED, "eom")
		t.eom_has(conn, "quarantine decided at MAIL", MT_QUARANTINE, "Suspicious sender")
		t.close(conn)
	end,

	quarantine_then_reject = function()
		local conn = session()
		envelope(conn, "suspicious@example.net")
		t.data(conn, { qid = "4QUAR4" })
		t.expect(t.eom(conn), Y, "eom")
		t.eom_has(conn, "the later reject", MT_SMTPREPLY, "550", "5.7.1", "Rejected after all")
		t.close(conn)
	end,

	disconnect_ehlo = function()
		local conn = t.open()
		t.macro(conn, SMFIC_CONNECT, "j", "mx.example.org")
		t.expect(t.conninfo(conn, "client.example.net", "192.0.2.43"), C, "connect")
		t.expect(t.helo(conn, "bye.example.net"), Y, "helo")
		t.close(conn)
	end,

	disconnect_data = function()
		local conn = session()
		envelope(conn)
		t.data(conn, { qid = "4DISCONN" })
		t.expect(t.eom(conn), Y, "eom")
		t.eom_has(conn, "421 with the hook's class-4 code", MT_SMTPREPLY, "421", "4.7.2",
			"Closing connection")
		t.close(conn)
	end,

	accept_ignores_response = function()
		local conn = session()
		envelope(conn)
		t.data(conn, { qid = "4ACCRESP" })
		t.expect(t.eom(conn), t.ACCEPTED, "eom")
		t.eom_lacks(conn, "SMTP reply", MT_SMTPREPLY, "550", "5.7.1", "Ignored text")
		t.eom_lacks(conn, "SMTP reply", MT_SMTPREPLY, "421", "4.7.0", "Ignored text")
		t.close(conn)
	end,

	empty_204 = function()
		local conn = session()
		t.expect(t.message(conn, { qid = "4EMPTY" }), t.ACCEPTED, "eom")
		t.no_modifications(conn)
		t.close(conn)
	end,

	discard_session = function()
		local conn = session()
		discarded(conn, "first@example.com", "first message")
		t.abort(conn)
		discarded(conn, "second@example.com", "second message")
		t.close(conn)
	end,

	quarantine_session = function()
		local conn = session()
		t.expect(t.message(conn, { from = "<first@example.com>", qid = "4QSESS1" }), t.ACCEPTED,
			"first eom")
		t.eom_has(conn, "quarantine of the first message", MT_QUARANTINE, "Session held")
		t.expect(t.message(conn, { from = "<second@example.com>", qid = "4QSESS2" }), t.ACCEPTED,
			"second eom")
		t.eom_has(conn, "quarantine of the second message", MT_QUARANTINE, "Session held")
		t.close(conn)
	end,
})
