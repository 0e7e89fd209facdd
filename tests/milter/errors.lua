-- errors.lua - one message whose data-stage hook fails (PROTOCOL.md section 5).
-- -D EXPECT=tempfail: the filter answers 451 4.3.5 at end of message;
-- -D EXPECT=accept: the error counts as accept. -D QID names the message in the log.
dofile(MTDIR .. "/lib.lua")

t.run(function()
	local conn = t.session({ ip = "192.0.2.70" })
	local reply = t.message(conn, { qid = QID })
	if EXPECT == "tempfail" then
		t.expect(reply, SMFIR_REPLYCODE, "eom")
		t.eom_has(conn, "451 4.3.5 reply", MT_SMTPREPLY, "451", "4.3.5",
			"Unable to accept message at this time.")
	elseif EXPECT == "accept" then
		t.expect(reply, t.ACCEPTED, "eom")
		t.eom_lacks(conn, "451 4.3.5 reply", MT_SMTPREPLY, "451", "4.3.5",
			"Unable to accept message at this time.")
	else
		t.fail("EXPECT must be tempfail or accept, not %s", tostring(EXPECT))
	end
	t.no_modifications(conn)
	t.close(conn)
end)
