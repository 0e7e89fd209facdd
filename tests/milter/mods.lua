-- mods.lua - modifications returned by hooks, applied at end of message (PROTOCOL.md
-- sections 3 and 4). What miltertest cannot show (SMFIR_CHGFROM, SMFIR_ADDRCPT_PAR,
-- header indexes of changes, order) check.py reads from the trace.
dofile(MTDIR .. "/lib.lua")

local C = SMFIR_CONTINUE

local HEADERS = {
	{ "From", "Alice <alice@example.com>" },
	{ "To", "bob@example.com, carol@example.com" },
	{ "Subject", "Hello" },
	{ "X-Spam", "first" },
	{ "X-Spam", "second" },
}

-- the standard message of these cases; returns the end-of-message reply
local function message(conn, m)
	m = m or {}
	return t.message(conn, {
		from = m.from or "<alice@example.com>",
		rcpts = { "<bob@example.com>", "<carol@example.com>" },
		qid = m.qid or "4MODS",
		headers = HEADERS,
		body = { "Original body.\r\n" },
	})
end

-- an address the filter may give with or without angle brackets
local function either(conn, what, op, address)
	if not (mt.eom_check(conn, op, address) or mt.eom_check(conn, op, "<" .. address .. ">")) then
		t.fail("end of message: expected %s %s", what, address)
	end
end

-- one session, one accepted message, then the case's own checks
local function one(check)
	local conn = t.session({ ip = "192.0.2.50" })
	t.expect(message(conn), t.ACCEPTED, "eom")
	check(conn)
	t.close(conn)
end

t.run({
	change_from = function()
		one(function(conn)
			-- miltertest records SMFIR_CHGFROM but has no check for it: see check.py
			t.eom_lacks(conn, "added header", MT_HDRADD)
		end)
	end,

	add_rcpt = function()
		one(function(conn)
			either(conn, "added recipient", MT_RCPTADD, "dave@example.com")
			either(conn, "added recipient (addRcpt)", MT_RCPTADD, "erin@example.com")
			-- frank@ has parameters: SMFIR_ADDRCPT_PAR, checked in check.py
		end)
	end,

	delete_rcpt = function()
		one(function(conn)
			either(conn, "deleted recipient", MT_RCPTDELETE, "bob@example.com")
			either(conn, "deleted recipient (deleteRcpt)", MT_RCPTDELETE, "carol@example.com")
		end)
	end,

	replace_contents = function()
		one(function(conn)
			t.eom_has(conn, "the last replaceContents", MT_BODYCHANGE, "New body.\r\nSecond line.\r\n")
			t.eom_lacks(conn, "an earlier replaceContents", MT_BODYCHANGE, "Overridden.\r\n")
		end)
	end,

	add_header = function()
		one(function(conn)
			t.eom_has(conn, "X-Hook: checked", MT_HDRADD, "X-Hook", "checked")
			t.eom_has(conn, "folded X-Report", MT_HDRADD, "X-Report")
		end)
	end,

	insert_header = function()
		one(function(conn)
			t.eom_has(conn, "X-First at index 0", MT_HDRINSERT, "X-First", "top", 0)
			t.eom_has(conn, "X-Third at index 2", MT_HDRINSERT, "X-Third", "third", 2)
		end)
	end,

	change_header = function()
		one(function(conn)
			t.eom_has(conn, "changed Subject", MT_HDRCHANGE, "Subject", "[tagged] Hello")
			t.eom_has(conn, "changed X-Spam", MT_HDRCHANGE, "X-Spam", "changed")
		end)
	end,

	delete_header = function()
		one(function(conn)
			t.eom_has(conn, "deleted X-Spam #1 (index 0)", MT_HDRDELETE, "X-Spam", 1)
			t.eom_has(conn, "deleted X-Spam #2", MT_HDRDELETE, "X-Spam", 2)
		end)
	end,

	earlier_stages = function()
		one(function(conn)
			t.eom_has(conn, "header from MAIL", MT_HDRADD, "X-Mail-Stage", "alice@example.com")
			t.eom_has(conn, "header from first RCPT", MT_HDRADD, "X-Rcpt-Stage", "bob@example.com")
			t.eom_has(conn, "header from second RCPT", MT_HDRADD, "X-Rcpt-Stage", "carol@example.com")
			t.eom_has(conn, "header from DATA", MT_HDRADD, "X-Data-Stage", "yes")
		end)
	end,

	session_wide = function()
		local conn = t.session({ ip = "192.0.2.51" })
		for i = 1, 2 do
			t.expect(message(conn, { qid = "4SESSMOD" .. i }), t.ACCEPTED, "eom " .. i)
			t.eom_has(conn, "header from CONNECT in message " .. i, MT_HDRADD, "X-Session", "from-connect")
			t.eom_has(conn, "header from EHLO in message " .. i, MT_HDRADD, "X-Helo", "from-ehlo")
			t.abort(conn)
		end
		t.close(conn)
	end,

	none_when_rejected = function()
		local conn = t.session({ ip = "192.0.2.52" })
		t.expect(message(conn), SMFIR_REPLYCODE, "eom")
		t.no_modifications(conn)
		t.close(conn)
	end,

	none_after_abort = function()
		local conn = t.session({ ip = "192.0.2.53" })
		t.expect(t.mail(conn, "<aborted@example.com>"), C, "mail of the aborted message")
		t.expect(t.rcpt(conn, "<bob@example.com>"), C, "rcpt of the aborted message")
		t.abort(conn)
		t.expect(message(conn, { qid = "4AFTERAB" }), t.ACCEPTED, "eom")
		t.eom_lacks(conn, "header from the aborted message", MT_HDRADD, "X-Aborted")
		t.eom_has(conn, "header of this message", MT_HDRADD, "X-Kept", "yes")
		t.close(conn)
	end,
})
