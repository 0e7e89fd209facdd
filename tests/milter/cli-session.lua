-- cli-session.lua - one whole message through the daemon, for tests/milter/cli.sh.
-- -D SOCK=...: the daemon's socket as miltertest writes it (unix:/path, inet:PORT@HOST,
-- inet6:PORT@HOST); -D MTDIR=...: this folder; -D QID=...: the message's queue id;
-- -D EXPECT=header: the data hook accepts and its added header "X-Cli-Hook: ok" arrives;
-- -D EXPECT=tempfail: the data stage fails with 451 4.3.5 and nothing is changed.
dofile(MTDIR .. "/lib.lua")

t.run(function()
	local conn = t.session({ ip = "192.0.2.90" })
	local reply = t.message(conn, { qid = QID })
	if EXPECT == "header" then
		t.expect(reply, t.ACCEPTED, "eom")
		t.eom_has(conn, "the hook's header X-Cli-Hook: ok", MT_HDRADD, "X-Cli-Hook", "ok")
		t.eom_lacks(conn, "451 4.3.5 reply", MT_SMTPREPLY, "451", "4.3.5",
			"Unable to accept message at this time.")
	elseif EXPECT == "tempfail" then
		t.expect(reply, SMFIR_REPLYCODE, "eom")
		t.eom_has(conn, "451 4.3.5 reply", MT_SMTPREPLY, "451", "4.3.5",
			"Unable to accept message at this time.")
		t.no_modifications(conn)
	else
		t.fail("EXPECT must be header or tempfail, not %s", tostring(EXPECT))
	end
	t.close(conn)
end)
