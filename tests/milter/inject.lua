-- inject.lua - header injection from a hook is refused (PROTOCOL.md sections 3 and 5).
-- One session of -D COUNT messages, Subject "inject-01" ... "inject-COUNT"; the hook answers
-- each with a valid modification followed by an invalid one (check.py's INJECTIONS). Each
-- message must get the error policy's 451 4.3.5 and none of the modifications.
dofile(MTDIR .. "/lib.lua")

t.run(function()
	local conn = t.session({ ip = "192.0.2.80" })
	for i = 1, tonumber(COUNT) do
		local reply = t.message(conn, {
			qid = string.format("4INJ%02d", i),
			headers = { { "From", "alice@example.com" },
				{ "Subject", string.format("inject-%02d", i) } },
			body = { "Body.\r\n" },
		})
		t.expect(reply, SMFIR_REPLYCODE, "eom of message " .. i)
		t.eom_has(conn, "451 4.3.5 reply", MT_SMTPREPLY, "451", "4.3.5",
			"Unable to accept message at this time.")
		-- (recipient changes need an address to look for: check.py reads the trace)
		t.no_modifications(conn)
	end
	t.close(conn)
end)
