-- negotiate.lua - what the filter asks of the MTA at option negotiation, from the stages
-- its hooks use (PROTOCOL.md section 1, DESIGN.md "How it must behave under load").
dofile(MTDIR .. "/lib.lua")

-- t.want - the negotiated protocol option must be set (true) or clear (false)
local function want(conn, option, name, set)
	if mt.test_option(conn, option) ~= set then
		t.fail("option %s is %s, expected %s", name, set and "clear" or "set", set and "set" or "clear")
	end
end

-- one whole session with one message, following what was negotiated
local function session_and_message(conn, qid)
	t.macro(conn, SMFIC_CONNECT, "j", "mx.example.org", "{daemon_addr}", "127.0.0.1")
	t.expect(t.conninfo(conn, "client.example.net", "192.0.2.80"), SMFIR_CONTINUE, "connect")
	t.expect(t.helo(conn, "client.example.net"), { SMFIR_CONTINUE, t.SKIPPED }, "helo")
	t.expect(t.message(conn, { qid = qid }), t.ACCEPTED, "eom")
	t.close(conn)
end

t.run({
	-- only a data hook: everything is sent, nothing before end of message is waited for
	data_only = function()
		local conn = t.open()
		want(conn, SMFIP_NOHDRS, "SMFIP_NOHDRS", false)
		want(conn, SMFIP_NOBODY, "SMFIP_NOBODY", false)
		want(conn, SMFIP_NOCONNECT, "SMFIP_NOCONNECT", false)
		want(conn, SMFIP_NOMAIL, "SMFIP_NOMAIL", false)
		want(conn, SMFIP_NORCPT, "SMFIP_NORCPT", false)
		for _, o in ipairs({ "CONN", "HELO", "MAIL", "RCPT", "HDR", "BODY" }) do
			want(conn, _G["SMFIP_NR_" .. o], "SMFIP_NR_" .. o, true)
		end
		if not (mt.test_option(conn, SMFIP_NOEOH) or mt.test_option(conn, SMFIP_NR_EOH)) then
			t.fail("end of headers is neither skipped nor without reply")
		end
		for _, a in ipairs({ "ADDHDRS", "CHGHDRS", "CHGBODY", "ADDRCPT", "ADDRCPT_PAR", "DELRCPT",
			"QUARANTINE", "CHGFROM", "SETSYMLIST" }) do
			if not mt.test_action(conn, _G["SMFIF_" .. a]) then
				t.fail("action SMFIF_%s not requested", a)
			end
		end
		session_and_message(conn, "4NEGDATA")
	end,

	-- only a connect hook: headers and body are not wanted, connect needs a reply
	connect_only = function()
		local conn = t.open()
		want(conn, SMFIP_NOCONNECT, "SMFIP_NOCONNECT", false)
		want(conn, SMFIP_NR_CONN, "SMFIP_NR_CONN", false)
		want(conn, SMFIP_NOHDRS, "SMFIP_NOHDRS", true)
		want(conn, SMFIP_NOBODY, "SMFIP_NOBODY", true)
		for _, o in ipairs({ "HELO", "MAIL", "RCPT" }) do
			if not (mt.test_option(conn, _G["SMFIP_NO" .. o]) or
				mt.test_option(conn, _G["SMFIP_NR_" .. o])) then
				t.fail("%s is neither skipped nor without reply", o)
			end
		end
		session_and_message(conn, "4NEGCONN")
	end,

	-- "auth" in stages is accepted and never fires; the mail stage still does
	auth_stage = function()
		local conn = t.open()
		session_and_message(conn, "4NEGAUTH")
	end,
})
