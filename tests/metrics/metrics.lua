-- metrics.lua - the milter sessions tests/metrics/run.sh scrapes the daemon during
-- (with -D CASE=...). Uses tests/milter/lib.lua, so MTDIR is tests/milter.
--   held: one session, opened and held for HOLD seconds, then closed (sessions_active)
--   mail: two sessions, four messages, one recipient refused (request counters)
dofile(MTDIR .. "/lib.lua")

t.run({
	held = function()
		local conn = t.session({ ip = "192.0.2.50" })
		mt.sleep(tonumber(HOLD or "3"))
		t.close(conn)
	end,
	mail = function()
		local subject = function(s)
			return { { "From", "a@example.com" }, { "To", "bob@example.com" },
				{ "Subject", s } }
		end
		local conn = t.session({ ip = "192.0.2.51" })
		-- 1: the data hook answers 500 (error, policy accept)
		t.expect(t.message(conn, { qid = "4MET1", headers = subject("one") }), t.ACCEPTED,
			"message 1")
		-- 2: the data hook answers something that is not JSON (error, policy accept)
		t.expect(t.message(conn, { qid = "4MET2", headers = subject("json") }), t.ACCEPTED,
			"message 2")
		-- 3: the rcpt hook refuses the recipient; the MTA gives the message up
		t.macro(conn, SMFIC_MAIL, "{mail_addr}", "sender@example.com")
		t.expect(t.mail(conn, "<sender@example.com>"), SMFIR_CONTINUE, "mail 3")
		t.expect(t.rcpt(conn, "<reject@example.com>"), SMFIR_REJECT, "rcpt 3")
		t.abort(conn)
		t.close(conn)
		-- 4: a second session, the same hooks: their connections are kept alive
		conn = t.session({ ip = "192.0.2.52" })
		t.expect(t.message(conn, { qid = "4MET4", headers = subject("four") }), t.ACCEPTED,
			"message 4")
		t.close(conn)
	end,
})
