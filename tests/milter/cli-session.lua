-- cli-session.lua - whole messages through the daemon, for tests/milter/cli.sh and
-- tests/http/run.sh.
-- -D SOCK=...: the daemon's socket as miltertest writes it (unix:/path, inet:PORT@HOST,
-- inet6:PORT@HOST); -D MTDIR=...: this folder; -D QID=...: the message's queue id;
-- -D EXPECT=header: the data hook accepts and its added header "X-Cli-Hook: ok" arrives;
-- -D EXPECT=tempfail: the data stage fails with 451 4.3.5 and nothing is changed.
-- -D COUNT=n (optional, default 1): n messages in the one session, each expected to end
-- the same way, with queue ids QID1 .. QIDn (just QID when n is 1).
dofile(MTDIR .. "/lib.lua")

-- one_message - play one message with queue id qid and check its end
local function one_message(conn, qid)
	local reply = t.message(conn, { qid = qid })
	if EXPECT == "header" then
		t.expect(reply, t.ACCEPTED, "eom of " .. qid)
		t.eom_has(conn, "the hook's header X-Cli-Hook: ok", MT_HDRADD, "X-Cli-Hook", "ok")
		t.eom_lacks(conn, "451 4.3.5 reply", MT_SMTPREPLY, "451", "4.3.5",
			"Unable to accept message at this time.")
	elseif EXPECT == "tempfail" then
		t.expect(reply, SMFIR_REPLYCODE, "eom of " .. qid)
		t.eom_has(conn, "451 4.3.5 reply", MT_SMTPREPLY, "451", "4.3.5",
			"Unable to accept message at this time.")
		t.no_modifications(conn)
	else
		t.fail("EXPECT must be header or tempfail, not %s", tostring(EXPECT))
	end
end

t.run(function()
	local count = math.tointeger(tonumber(COUNT or "1"))
	if count == nil or count < 1 or count > 1000 then
		t.fail("COUNT must be a whole number from 1 to 1000, not %s", tostring(COUNT))
	end
	local conn = t.session({ ip = "192.0.2.90" })
	for i = 1, count do
		if count == 1 then
			one_message(conn, QID)
		else
			one_message(conn, QID .. i)
			if i < count then
				t.abort(conn) -- the MTA resets between messages of a session
			end
		end
	end
	t.close(conn)
end)
