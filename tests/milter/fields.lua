-- fields.lua - sessions whose hook requests check.py inspects field by field
-- (PROTOCOL.md section 2). The hook accepts everything; this side checks the replies.
dofile(MTDIR .. "/lib.lua")

local C = SMFIR_CONTINUE

-- one connection that only connects, with the given connect macros
local function connect_only(host, ip, macros)
	local conn = t.open()
	if macros ~= nil then
		t.macro(conn, SMFIC_CONNECT, table.unpack(macros))
	end
	t.expect(t.conninfo(conn, host, ip), C, "connect from " .. tostring(ip))
	t.close(conn)
end

t.run({
	-- client and server facts from conninfo and connect macros
	connect = function()
		connect_only("mail.example.net", "192.0.2.10", {
			"j", "mx.example.org", "{daemon_name}", "smtpd-in", "{daemon_addr}", "198.51.100.25",
			"{daemon_port}", "2525", "{client_ptr}", "mail.example.net",
			"{client_connections}", "5" })
	end,

	-- "no PTR" in its three spellings, and {client_ptr} when the host is bracketed
	ptr = function()
		connect_only("[192.0.2.11]", "192.0.2.11", { "j", "mx.example.org" })
		connect_only("[192.0.2.12]", "192.0.2.12", { "j", "mx.example.org", "{client_ptr}", "unknown" })
		connect_only("unknown", "192.0.2.13", { "j", "mx.example.org", "{client_ptr}", "unknown" })
		connect_only("[192.0.2.14]", "192.0.2.14", { "j", "mx.example.org",
			"{client_ptr}", "relay.example.net" })
	end,

	-- a local (non-IP) connection, an IPv6 client, and no daemon macros at all;
	-- then a Sendmail-style IPv6 {daemon_addr}
	nonip = function()
		connect_only("localhost", "unspec", { "j", "mx.example.org" })
		connect_only("v6.example.net", "2001:db8::25", nil)
		-- Sendmail writes its own IPv6 address as "IPv6:" and eight groups
		connect_only("v6.example.net", "2001:db8::26", { "j", "mx.example.org",
			"{daemon_addr}", "IPv6:2001:DB8:0:0:0:0:0:25" })
	end,

	-- two sessions open at once from one address
	active = function()
		local a = t.open()
		t.macro(a, SMFIC_CONNECT, "j", "mx.example.org")
		t.expect(t.conninfo(a, "busy.example.net", "192.0.2.77"), C, "first connect")
		local b = t.open()
		t.macro(b, SMFIC_CONNECT, "j", "mx.example.org")
		t.expect(t.conninfo(b, "busy.example.net", "192.0.2.77"), C, "second connect")
		t.close(b)
		t.close(a)
	end,

	-- HELO twice (as after STARTTLS); the later name is the one that counts
	ehlo = function()
		local conn = t.open()
		t.macro(conn, SMFIC_CONNECT, "j", "mx.example.org")
		t.expect(t.conninfo(conn, "client.example.net", "192.0.2.20"), C, "connect")
		t.expect(t.helo(conn, "first.example.net"), C, "first helo")
		t.expect(t.helo(conn, "second.example.net"), C, "second helo")
		t.expect(t.mail(conn, "<sender@example.com>"), C, "mail")
		t.close(conn)
	end,

	-- MAIL FROM: address, parameters, SASL and TLS macros; then a null sender without
	-- parameters or authentication in the same session; then a session without TLS
	mail = function()
		local conn = t.session({ ip = "192.0.2.21", helo_macros = {
			"{tls_version}", "TLSv1.3", "{cipher}", "TLS_AES_256_GCM_SHA384",
			"{cipher_bits}", "256", "{cert_subject}", "/C=DE/O=Example+20Org/CN=client+20one",
			"{cert_issuer}", "/CN=Example+20CA" } })
		t.macro(conn, SMFIC_MAIL, "{mail_addr}", "alice@example.com",
			"{auth_authen}", "alice", "{auth_type}", "PLAIN")
		t.expect(t.mail(conn, "<alice@example.com>", "SIZE=12345", "BODY=8BITMIME", "SMTPUTF8"),
			C, "mail with parameters")
		t.expect(t.rcpt(conn, "<bob@example.com>"), C, "rcpt")
		t.abort(conn)
		t.macro(conn, SMFIC_MAIL, "{mail_addr}", "")
		t.expect(t.mail(conn, "<>"), C, "null sender")
		t.close(conn)

		local plain = t.session({ ip = "192.0.2.22" })
		t.macro(plain, SMFIC_MAIL, "{mail_addr}", "carol@example.com")
		t.expect(t.mail(plain, "<carol@example.com>"), C, "mail without TLS")
		t.close(plain)
	end,

	-- RCPT TO: the recipient being decided is the last of "to"; parameters; queue id
	-- arrives with the second recipient (as Postfix sends it)
	rcpt = function()
		local conn = t.session({ ip = "192.0.2.23" })
		t.macro(conn, SMFIC_MAIL, "{mail_addr}", "alice@example.com")
		t.expect(t.mail(conn, "<alice@example.com>"), C, "mail")
		t.macro(conn, SMFIC_RCPT, "{rcpt_addr}", "bob@example.com")
		t.expect(t.rcpt(conn, "<bob@example.com>", "NOTIFY=SUCCESS,FAILURE",
			"ORCPT=rfc822;bob@example.com"), C, "first rcpt")
		t.macro(conn, SMFIC_RCPT, "{rcpt_addr}", "carol@example.com", "i", "4RCPTQ1")
		t.expect(t.rcpt(conn, "<carol@example.com>"), C, "second rcpt")
		t.close(conn)
	end,

	-- the message: headers in order (one folded with a bare LF, as Postfix passes it),
	-- body in two chunks, queue id from macro i
	data = function()
		local conn = t.session({ ip = "192.0.2.24" })
		local reply = t.message(conn, {
			from = "<alice@example.com>",
			rcpts = { "<bob@example.com>", "<carol@example.com>" },
			qid = "4DATAQ1",
			headers = {
				{ "From", "Alice <alice@example.com>" },
				{ "To", "bob@example.com, carol@example.com" },
				{ "Subject", "Fields test" },
				{ "X-Folded", "first part\n\tsecond part" },
			},
			body = { "Line one\r\n", "Line two\r\n\r\nLast line\r\n" },
		})
		t.expect(reply, t.ACCEPTED, "eom")
		t.no_modifications(conn)
		t.close(conn)
	end,

	-- a body that is not UTF-8
	utf8 = function()
		local conn = t.session({ ip = "192.0.2.25" })
		local reply = t.message(conn, {
			qid = "4UTF8Q1",
			headers = { { "Subject", "Latin-1 body" } },
			body = { "caf\xe9 \xff end\r\n" },
		})
		t.expect(reply, t.ACCEPTED, "eom")
		t.eom_lacks(conn, "replaced body", MT_BODYCHANGE)
		t.close(conn)
	end,

	-- NUL bytes and bytes that are not UTF-8: in the body (a chunk has a length, so NUL
	-- can be sent; miltertest sends it from a file), and not UTF-8 in header values
	-- (milter ends those at a NUL)
	binary = function()
		local conn = t.session({ ip = "192.0.2.27" })
		local reply = t.message(conn, {
			qid = "4BINQ1",
			headers = {
				{ "Subject", "caf\xe9 \xff\xfe end" },
				{ "X-Cut-Sequence", "a\xc3(b \xe2\x82 c" },
			},
			body = { { bytes = "nul\0byte\0\0 caf\xe9\r\n" },
				"\xc3\xa9 ok, then \xf0\x9f\x98 cut\r\n" },
		})
		t.expect(reply, t.ACCEPTED, "eom")
		t.no_modifications(conn)
		t.close(conn)
	end,

	-- a leading Received: that carries the queue id is the MTA's own header
	received = function()
		local conn = t.session({ ip = "192.0.2.26" })
		local reply = t.message(conn, {
			qid = "4RCVDQ1",
			headers = {
				{ "Received", "from client.example.net (client.example.net [192.0.2.26])\n" ..
					"\tby mx.example.org (Postfix) with ESMTP id 4RCVDQ1\n" ..
					"\tfor <bob@example.com>; Tue,  1 Oct 2024 10:00:00 +0000 (UTC)" },
				{ "Received", "from elsewhere.example by relay.example with SMTP id OTHER1" },
				{ "Subject", "With trace headers" },
			},
		})
		t.expect(reply, t.ACCEPTED, "eom")
		t.close(conn)
	end,
})
