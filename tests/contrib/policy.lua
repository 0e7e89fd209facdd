-- policy.lua - one SMTP transaction through the daemon to an example policy handler
-- (contrib/hooks/policy.py or policy.js, started by tests/contrib/run.sh with
-- --reject-domain blocked.example --reject-domain spam.test --quarantine-word "[hold]").
-- The SMTP text of the RCPT reply, which miltertest does not show, is checked by run.sh
-- from the milter proxy's trace.
dofile(MTDIR .. "/lib.lua")

local C = SMFIR_CONTINUE
local Y = SMFIR_REPLYCODE

-- headers with the given Subject
local function headers(subject)
	return {
		{ "From", "Alice <alice@example.com>" },
		{ "To", "bob@example.com" },
		{ "Subject", subject },
		{ "Message-ID", "<policy@example.com>" },
	}
end

t.run({
	-- a recipient in each refused domain (one of them a subdomain, in capitals) is
	-- refused; the recipient around them is not
	rcpt = function()
		local conn = t.session({ ip = "192.0.2.80" })
		t.macro(conn, SMFIC_MAIL, "{mail_addr}", "alice@example.com")
		t.expect(t.mail(conn, "<alice@example.com>"), C, "mail")
		t.expect(t.rcpt(conn, "<bob@example.com>"), C, "rcpt bob@example.com")
		t.expect(t.rcpt(conn, "<eve@spam.test>"), Y, "rcpt eve@spam.test")
		t.expect(t.rcpt(conn, "<carol@MX.Blocked.Example>"), Y, "rcpt carol@MX.Blocked.Example")
		t.expect(t.rcpt(conn, "<dave@example.org>"), C, "rcpt dave@example.org")
		t.close(conn)
	end,

	-- a Subject with a quarantine word, in other case: held with the word as reason,
	-- and no X-Policy header
	quarantine = function()
		local conn = t.session({ ip = "192.0.2.81" })
		local r = t.message(conn, { qid = "4POLICYQ", headers = headers("Please [HOLD] this one") })
		t.expect(r, t.ACCEPTED, "eom")
		t.eom_has(conn, "quarantine for the word", MT_QUARANTINE, "subject contains \"[hold]\"")
		t.eom_lacks(conn, "X-Policy header", MT_HDRADD, "X-Policy")
		t.close(conn)
	end,

	-- an ordinary message: accepted with X-Policy: checked, not held
	header = function()
		local conn = t.session({ ip = "192.0.2.82" })
		local r = t.message(conn, { qid = "4POLICYH", headers = headers("Lunch on Friday") })
		t.expect(r, t.ACCEPTED, "eom")
		t.eom_has(conn, "X-Policy: checked", MT_HDRADD, "X-Policy", "checked")
		t.eom_lacks(conn, "quarantine", MT_QUARANTINE)
		t.close(conn)
	end,
})
