-- enable.lua - a hook whose enable expression decides per recipient (PROTOCOL.md section 6):
-- with enable = "rcpt_domain != 'skip.test'" the hook is not called for a skip.test
-- recipient and is for the others; check.py checks the record and the debug log.
dofile(MTDIR .. "/lib.lua")

t.run({
	rcpt_domain = function()
		local ok = { SMFIR_CONTINUE, t.SKIPPED }
		local conn = t.session({ ip = "192.0.2.70" })
		t.macro(conn, SMFIC_MAIL, "{mail_addr}", "sender@example.com")
		t.expect(t.mail(conn, "<sender@example.com>"), ok, "mail")
		-- the hook rejects every recipient it sees: one it is not called for passes
		t.expect(t.rcpt(conn, "<one@Skip.Test>"), SMFIR_CONTINUE, "rcpt one@Skip.Test")
		t.expect(t.rcpt(conn, "<two@ok.test>"), SMFIR_REPLYCODE, "rcpt two@ok.test")
		t.expect(t.rcpt(conn, "<three@skip.test>"), SMFIR_CONTINUE, "rcpt three@skip.test")
		t.data(conn, { qid = "4ENABLE1" })
		t.expect(t.eom(conn), t.ACCEPTED, "eom")
		t.close(conn)
	end,
})
