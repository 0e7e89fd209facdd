-- session.lua - the message of tests/dryrun/check.py played through the real daemon by
-- miltertest, so that its hook requests can be compared with those of --dry-run.
-- -D SOCK=...: the daemon's socket; -D MTDIR=...: tests/milter (for lib.lua).
-- No connect macro is sent (no j, no {daemon_addr}, no queue id): the daemon then takes
-- [milter] server-name, as the dry run does. Keep the message in step with MESSAGE in
-- check.py: the same headers (the folded one with LF, as Postfix passes it) and body.
dofile(MTDIR .. "/lib.lua")

local ok = { SMFIR_CONTINUE, t.SKIPPED }

t.run(function()
	local conn = t.open()
	-- "[IP]" is the MTA's way of saying "no PTR name", as the dry run has none
	t.expect(t.conninfo(conn, "[192.0.2.1]", "192.0.2.1"), ok, "connect")
	t.expect(t.helo(conn, "client.example.net"), ok, "helo")
	t.expect(t.mail(conn, "<alice@example.com>"), ok, "mail")
	t.expect(t.rcpt(conn, "<bob@example.org>"), ok, "rcpt bob")
	t.expect(t.rcpt(conn, "<carol@example.net>"), ok, "rcpt carol")
	for _, h in ipairs({
		{ "From", "Alice <alice@example.com>" },
		{ "To", "Bob <bob@example.org>, carol@example.net" },
		{ "Subject", "Dry run check" },
		{ "X-Folded", "one\n two" },
		{ "Message-ID", "<dry-1@example.com>" },
	}) do
		t.expect(t.header(conn, h[1], h[2]), ok, "header " .. h[1])
	end
	t.expect(t.eoh(conn), ok, "eoh")
	t.expect(t.body(conn, "Hello Bob,\r\nbye.\r\n"), ok, "body")
	t.expect(t.eom(conn), t.ACCEPTED, "eom")
	t.close(conn)
end)
