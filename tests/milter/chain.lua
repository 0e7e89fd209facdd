-- chain.lua - two hooks on the same stages, called in configuration-file order
-- (PROTOCOL.md section 4); the order of calls is checked in check.py from the record.
dofile(MTDIR .. "/lib.lua")

t.run({
	order = function()
		local conn = t.session({ ip = "192.0.2.60" })
		t.expect(t.message(conn, { qid = "4CHAIN1" }), t.ACCEPTED, "eom")
		t.eom_has(conn, "header from h1 at MAIL", MT_HDRADD, "X-H1-Mail", "1")
		t.eom_has(conn, "header from h1 at DATA", MT_HDRADD, "X-H1", "1")
		t.eom_has(conn, "header from h2 at DATA", MT_HDRADD, "X-H2", "2")
		t.close(conn)
	end,

	reject_stops = function()
		local conn = t.session({ ip = "192.0.2.61" })
		t.expect(t.message(conn, { qid = "4CHAIN2" }), SMFIR_REPLYCODE, "eom")
		t.eom_has(conn, "h1's rejection", MT_SMTPREPLY, "550", "5.7.1", "Rejected by h1")
		t.eom_lacks(conn, "h2's header", MT_HDRADD, "X-H2")
		t.close(conn)
	end,

	quarantine_stops_stage = function()
		local conn = t.session({ ip = "192.0.2.62" })
		t.expect(t.message(conn, { qid = "4CHAIN3" }), t.ACCEPTED, "eom")
		t.eom_has(conn, "h1's quarantine", MT_QUARANTINE, "Held by h1")
		t.eom_has(conn, "h2's header at DATA", MT_HDRADD, "X-H2", "2")
		t.close(conn)
	end,
})
