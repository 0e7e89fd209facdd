-- keepalive.lua - two milter sessions one after the other, two messages each: the
-- hook's HTTP connection is reused (DESIGN.md: "never opened per request"); check.py
-- counts the TCP connections the hook server saw.
dofile(MTDIR .. "/lib.lua")

t.run(function()
	for s = 1, 2 do
		local conn = t.session({ ip = "192.0.2.9" .. s })
		for m = 1, 2 do
			t.expect(t.message(conn, { qid = "4KEEP" .. s .. m }), t.ACCEPTED,
				"session " .. s .. " message " .. m)
			t.abort(conn)
		end
		t.close(conn)
	end
end)
