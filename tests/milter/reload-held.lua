-- reload-held.lua - a session opened before a reload and used after it, for
-- tests/milter/cli.sh. -D SOCK=..., -D MTDIR=..., -D QID=... as for cli-session.lua;
-- -D READY=FILE: written once the session is open (negotiated, connected, HELO done);
-- -D GO=FILE: the session waits (at most 15 s) for this file before sending its message.
-- The daemon's configuration when the session opened has one hook, at the data stage
-- only, so MAIL needs no reply; the message must get that hook's header at the end.
dofile(MTDIR .. "/lib.lua")

t.run(function()
	local conn = t.session({ ip = "192.0.2.91" })
	if not mt.test_option(conn, SMFIP_NR_MAIL) then
		t.fail("MAIL was negotiated with a reply: not the configuration before the reload")
	end
	local ready = io.open(READY, "w")
	if ready == nil then
		t.fail("cannot write %s", READY)
	end
	ready:write("open\n")
	ready:close()
	local tries = 0
	while true do
		local go = io.open(GO, "r")
		if go ~= nil then
			go:close()
			break
		end
		tries = tries + 1
		if tries > 300 then
			t.fail("%s did not appear within 15 s", GO)
		end
		os.execute("sleep 0.05")
	end
	local reply = t.message(conn, { qid = QID })
	t.expect(reply, t.ACCEPTED, "eom")
	t.eom_has(conn, "the hook's header X-Cli-Hook: ok", MT_HDRADD, "X-Cli-Hook", "ok")
	t.close(conn)
end)
