# tests/mta/scenarios.sh - the end-to-end scenarios, the same for every MTA (sourced by run.sh)
# shellcheck shell=bash disable=SC2034,SC2153
#
# Each scenario sends mail through the MTA with swaks, with the hook server
# scripted to answer in one way, and checks three things: the SMTP replies the
# client saw, the hook requests the bridge made (PROTOCOL.md section 2), and
# what the MTA delivered to the capture server or held.
#
# SCENARIOS lists "function|name" in run order; run.sh plans one TAP line each.
# Scenarios call only lib.sh and the driver's mta_* functions.

SC_FROM=sender@client.mtahooks.test
SC_DOM=dest.mtahooks.test
SC_EHLO=client.mtahooks.test

# swaks writes "MAIL FROM:<%s>" and "RCPT TO:<%s>" and has no option for ESMTP
# parameters, so they ride inside the address: the closing ">" swaks appends
# ends up after the last parameter, which is therefore one whose value may end
# in "<>" (ENVID and ORCPT are xtext, where "<" and ">" are plain characters).
SC_FROM_8BIT="$SC_FROM> BODY=8BITMIME ENVID=e<"

# The scenarios that prove a socket kind (run.sh MTA_SET=socket): the path to the
# bridge and back, a modification, the held queue, the error policy, a dead bridge.
SOCKET_SCENARIOS="sc_config sc_accept sc_fields_connect sc_fields_data sc_reject_rcpt
	sc_mod_addheader sc_quarantine sc_error_tempfail sc_bridge_down"

SCENARIOS=(
	"sc_config|the MTA accepts the configuration with contrib's milter lines"
	"sc_accept|accept at every stage: delivered, body byte-identical, stages in order"
	"sc_fields_connect|request at connect: client, server, protocol; nothing else yet"
	"sc_fields_ehlo|request at ehlo: client.ehlo and client.helo"
	"sc_fields_mail|request at mail: envelope.from with SIZE number, BODY and ENVID"
	"sc_fields_rcpt|request at rcpt: envelope.to with NOTIFY and ORCPT"
	"sc_fields_data|request at data: queue.id, headers as pairs, contents in CRLF, size"
	"sc_sasl|AUTH PLAIN: sasl.login and sasl.method from mail on, absent before"
	"sc_xclient|XCLIENT LOGIN shows as sasl.login from mail on (Postfix)"
	"sc_tls|STARTTLS with a client certificate: context.tls from the second EHLO on"
	"sc_reject_rcpt|reject 5xx at rcpt: custom code, enhanced code and text"
	"sc_reject_data|reject 5xx at data (enhanced_status spelling): nothing delivered"
	"sc_tempfail_mail|reject 4xx at mail: 4xx reply, nothing delivered"
	"sc_reject_one_rcpt|reject one recipient of two: only the other delivered"
	"sc_reject_default|reject without a response: the MTA's own 5xx"
	"sc_reject_plain|reject with a status but no enhanced code"
	"sc_reply_multiline|reject with a text of several lines: a multi-line reply"
	"sc_reply_percent|reject with a % in the text: shown as it was written"
	"sc_discard_data|discard at data: client sees 250, nothing delivered"
	"sc_discard_mail|discard at mail: client sees 250, nothing delivered"
	"sc_discard_connect|discard at connect: client sees 250, nothing delivered"
	"sc_quarantine|quarantine: message held, with the hook's header"
	"sc_disconnect|disconnect: 421 with the text, connection closed"
	"sc_mod_changefrom|changeFrom: new envelope sender at the next hop, ENVID kept"
	"sc_mod_addrcpt|addRecipient and addRcpt: extra recipients delivered"
	"sc_mod_delrcpt|deleteRecipient: that recipient not delivered"
	"sc_mod_replace|replaceContents: new body delivered"
	"sc_mod_addheader|addHeader: appended, folding as CRLF + tab"
	"sc_mod_insert0|insertHeader index 0: above the MTA's Received line"
	"sc_mod_insert1|insertHeader index 1: just below the MTA's Received line"
	"sc_mod_changeheader|changeHeader: by name and occurrence"
	"sc_mod_deleteheader|deleteHeader: by name and occurrence (0 means 1)"
	"sc_mod_early|modifications returned at connect, ehlo, mail and rcpt: applied at the end"
	"sc_chain|two hooks chained: both asked in order, both applied; a refusal stops the chain"
	"sc_non_utf8|non-UTF-8 body: delivered byte-identical, U+FFFD in the request"
	"sc_big|a 10 MB message: whole in the request, delivered byte-identical"
	"sc_ipv6|IPv6 client: client.ip ::1"
	"sc_error_tempfail|unreachable hook, tempfail-on-error true: 451 4.3.5"
	"sc_error_accept|unreachable hook, tempfail-on-error false: delivered"
	"sc_err_http500_tempfail|HTTP 500, tempfail-on-error true: 451 4.3.5, nothing delivered"
	"sc_err_http500_accept|HTTP 500, tempfail-on-error false: logged, next hook asked, delivered"
	"sc_err_http404_tempfail|HTTP 404, tempfail-on-error true: 451 4.3.5, nothing delivered"
	"sc_err_http404_accept|HTTP 404, tempfail-on-error false: logged, next hook asked, delivered"
	"sc_err_timeout_tempfail|no answer within timeout, tempfail-on-error true: 451 4.3.5, nothing delivered"
	"sc_err_timeout_accept|no answer within timeout, tempfail-on-error false: logged, next hook asked, delivered"
	"sc_err_notjson_tempfail|an answer that is not JSON, tempfail-on-error true: 451 4.3.5, nothing delivered"
	"sc_err_notjson_accept|an answer that is not JSON, tempfail-on-error false: logged, next hook asked, delivered"
	"sc_err_truncated_tempfail|a truncated answer, tempfail-on-error true: 451 4.3.5, nothing delivered"
	"sc_err_truncated_accept|a truncated answer, tempfail-on-error false: logged, next hook asked, delivered"
	"sc_err_closed_tempfail|connection closed without an answer, tempfail-on-error true: 451 4.3.5, nothing delivered"
	"sc_err_closed_accept|connection closed without an answer, tempfail-on-error false: logged, next hook asked, delivered"
	"sc_err_oversized_tempfail|an answer over max-response-size, tempfail-on-error true: 451 4.3.5, nothing delivered"
	"sc_err_oversized_accept|an answer over max-response-size, tempfail-on-error false: logged, next hook asked, delivered"
	"sc_err_badaction_tempfail|an unknown action, tempfail-on-error true: 451 4.3.5, nothing delivered"
	"sc_err_badaction_accept|an unknown action, tempfail-on-error false: logged, next hook asked, delivered"
	"sc_err_badmod_tempfail|an invalid modification, tempfail-on-error true: 451 4.3.5, nothing delivered"
	"sc_err_badmod_accept|an invalid modification, tempfail-on-error false: logged, next hook asked, delivered"
	"sc_error_tls_tempfail|hook certificate not trusted, tempfail-on-error true: 451 4.3.5"
	"sc_error_tls_accept|hook certificate not trusted, tempfail-on-error false: delivered"
	"sc_bridge_down|bridge not running: the MTA defers (milter_default_action)"
)

# sc_accept_all - the hook script that accepts everything
sc_accept_all() {
	hook_script '{"default": {"json": {"action": "accept"}}}'
}

# sc_at_data - a script answering JSON at the data stage, accepting elsewhere
sc_at_data() {
	hook_script "{\"rules\": [{\"when\": {\"stage\": \"data\"}, \"json\": $1}],
		\"default\": {\"json\": {\"action\": \"accept\"}}}"
}

# sc_queued - the last transaction ended with the MTA's "queued" reply; sets SC_QID
sc_queued() {
	SC_QID=$(mta_qid_from_transcript)
	[ -n "$SC_QID" ] || fail "no queue id in the final reply; swaks saw: $(replies | tr '\n' '|')"
}

# sc_one_delivered - exactly one message delivered; sets SC_EML to its .eml path
sc_one_delivered() {
	SC_EML=
	delivered 1 || return 1
	SC_EML=$(capture_files | head -1)
}

# sc_expect_queue - context.queue at STAGE: an id where the MTA has one, else absent
sc_expect_queue() {
	if mta_qid_at "$1"; then
		expect_match "context.queue at $1" "$2" '^\{"id":"[0-9A-Za-z]+"\}$'
	else
		expect "context.queue at $1 (the MTA has no id yet)" "$2" ABSENT
	fi
}

# sc_same_body - the delivered body equals the body of message NAME, byte for byte
sc_same_body() {
	local name=$1 eml=$2
	msg_body "$name" "$MT_TMP/msg/$name.want-body"
	"$PYTHON3" "$MT_QUERY" body "$eml" >"$MT_TMP/msg/$name.got-body"
	expect_cmp "delivered body" "$MT_TMP/msg/$name.got-body" "$MT_TMP/msg/$name.want-body"
}

# ---- the configuration ---------------------------------------------------------

sc_config() {
	local out
	out=$(mta_config_check)
	[ -z "$out" ] || fail "the MTA complains about its configuration: $out"
}

# ---- accept and the request fields ------------------------------------------------

sc_accept() {
	local eml
	fresh
	sc_accept_all
	make_message accept "$SC_FROM" "accept@$SC_DOM" "accept" \
		'Hello,\r\nthis is line two.\r\n.a line with a leading dot\r\n\r\n  indented last line\r\n'
	send accept --from "$SC_FROM" --to "accept@$SC_DOM"
	expect "swaks exit status" "$SWAKS_RC" 0
	sc_queued
	expect "hook stages" "$(rec_stages)" "connect ehlo mail rcpt data"
	expect "request path" "$(rec connect @path)" '"/hook"'
	expect_match "request content type" "$(rec data @headers.content-type)" '^"application/json'
	expect "configured extra header" "$(rec mail @headers.x-test-run)" '"mta"'
	expect "envelope.from.parameters without any" "$(rec mail envelope.from.parameters)" ABSENT
	expect "envelope.to.0.parameters without any" "$(rec rcpt envelope.to.0.parameters)" ABSENT
	sc_one_delivered || return
	eml=$SC_EML
	sc_same_body accept "$eml"
	expect "next hop MAIL FROM" "$(capture_env "$eml" from)" "\"$SC_FROM\""
	expect "next hop RCPT TO" "$(capture_env "$eml" rcpts)" "[\"accept@$SC_DOM\"]"
	bridge_alive
}

# One transaction feeds the five field scenarios; each reads its own stage.
SC_FIELDS_OFF=
SC_FIELDS_LPORT=
SC_FIELDS_QID=

# sc_fields_send - send the message whose requests the field scenarios inspect
sc_fields_send() {
	fresh
	sc_accept_all
	SC_FIELDS_OFF=$MT_REC_OFF
	SC_FIELDS_LPORT=$(free_port 127.0.0.1)
	make_message fields "$SC_FROM" "fields@$SC_DOM" "fields" \
		'Body line one\r\nline two, UTF-8: caf\xc3\xa9\r\n' \
		'X-Folded: first part\r\n\tsecond part'
	send fields --from "$SC_FROM> SIZE=1234 BODY=8BITMIME ENVID=e<" \
		--to "fields@$SC_DOM> NOTIFY=SUCCESS ORCPT=rfc822;x<" \
		--local-interface 127.0.0.1 --local-port "$SC_FIELDS_LPORT"
	sc_queued
	SC_FIELDS_QID=$SC_QID
	delivered 1
}

sc_fields_connect() {
	local name want_ptr
	sc_fields_send
	expect "stages" "$(rec_stages)" "connect ehlo mail rcpt data"
	expect "context.stage" "$(rec connect context.stage)" '"connect"'
	expect "client.ip" "$(rec connect context.client.ip)" '"127.0.0.1"'
	expect "client.port (swaks' local port)" "$(rec connect context.client.port)" "$SC_FIELDS_LPORT"
	name=$(mta_client_name)
	want_ptr="\"$name\""
	[ "$name" = unknown ] && want_ptr=null
	expect "client.ptr (the MTA's client name '$name')" "$(rec connect context.client.ptr)" "$want_ptr"
	expect "client.ehlo before EHLO" "$(rec connect context.client.ehlo)" null
	expect_match "client.activeConnections" "$(rec connect context.client.activeConnections)" '^[1-9][0-9]*$'
	expect "server.name" "$(rec connect context.server.name)" "\"$MTA_HOSTNAME\""
	expect "server.port" "$(rec connect context.server.port)" "$MTA_PORT"
	expect "server.ip" "$(rec connect context.server.ip)" '"127.0.0.1"'
	expect "protocol.version" "$(rec connect context.protocol.version)" 1
	expect "sasl without authentication" "$(rec connect context.sasl)" ABSENT
	expect "tls without STARTTLS" "$(rec connect context.tls)" ABSENT
	sc_expect_queue connect "$(rec connect context.queue)"
	expect "envelope at connect" "$(rec connect envelope)" ABSENT
	expect "message at connect" "$(rec connect message)" ABSENT
}

# sc_fields_use - look at the requests of the fields transaction (send it if needed)
sc_fields_use() {
	[ -n "$SC_FIELDS_OFF" ] || sc_fields_send
	MT_REC_OFF=$SC_FIELDS_OFF
}

sc_fields_ehlo() {
	sc_fields_use
	expect "context.stage" "$(rec ehlo context.stage)" '"ehlo"'
	expect "client.ehlo" "$(rec ehlo context.client.ehlo)" "\"$SC_EHLO\""
	expect "client.helo" "$(rec ehlo context.client.helo)" "\"$SC_EHLO\""
	expect "client.ip" "$(rec ehlo context.client.ip)" '"127.0.0.1"'
	expect "client.port" "$(rec ehlo context.client.port)" "$SC_FIELDS_LPORT"
	expect "server.port" "$(rec ehlo context.server.port)" "$MTA_PORT"
	expect "envelope at ehlo" "$(rec ehlo envelope)" ABSENT
	expect "message at ehlo" "$(rec ehlo message)" ABSENT
}

sc_fields_mail() {
	sc_fields_use
	expect "envelope.from.address" "$(rec mail envelope.from.address)" "\"$SC_FROM\""
	expect "envelope.from.parameters" "$(rec mail envelope.from.parameters)" \
		'{"body":"8BITMIME","envid":"e<>","size":1234}'
	expect "envelope.to before any RCPT" "$(rec mail envelope.to)" '[]'
	expect "client.ehlo still known" "$(rec mail context.client.ehlo)" "\"$SC_EHLO\""
	sc_expect_queue mail "$(rec mail context.queue)"
	expect "message at mail" "$(rec mail message)" ABSENT
}

sc_fields_rcpt() {
	sc_fields_use
	expect "envelope.to" "$(rec rcpt envelope.to)" \
		"[{\"address\":\"fields@$SC_DOM\",\"parameters\":{\"notify\":\"SUCCESS\",\"orcpt\":\"rfc822;x<>\"}}]"
	expect "envelope.from.address" "$(rec rcpt envelope.from.address)" "\"$SC_FROM\""
	expect "message at rcpt" "$(rec rcpt message)" ABSENT
}

sc_fields_data() {
	local size
	sc_fields_use
	size=$(stat -c %s "$MT_TMP/msg/fields.eml")
	expect "queue.id (the id in the MTA's reply)" "$(rec data context.queue.id)" "\"$SC_FIELDS_QID\""
	expect "envelope.to" "$(rec data envelope.to.#)" 1
	expect "message.headers" "$(rec data message.headers)" \
		"[[\"Date\",\"Fri, 21 Nov 2025 10:00:00 +0000\"],[\"From\",\"$SC_FROM\"],[\"To\",\"fields@$SC_DOM\"],[\"Subject\",\"fields\"],[\"Message-ID\",\"<fields.$$@mtahooks.test>\"],[\"X-Folded\",\"first part\\r\\n\\tsecond part\"]]"
	expect "message.contents" "$(rec data message.contents)" \
		'"Body line one\r\nline two, UTF-8: caf\u00e9\r\n"'
	expect "message.size (bytes of the message sent)" "$(rec data message.size)" "$size"
	expect "message.serverHeaders (the MTA hides its Received)" "$(rec data message.serverHeaders)" ABSENT
	expect "sasl without authentication" "$(rec data context.sasl)" ABSENT
}

sc_sasl() {
	if [ ! -s "$MT_TLS/ca.pem" ] || ! command -v saslpasswd2 >/dev/null 2>&1; then
		MT_SKIP="no saslpasswd2 (Debian sasl2-bin) to make the test's sasldb"
		return
	fi
	fresh
	sc_accept_all
	make_message sasl "$SC_FROM" "sasl@$SC_DOM" "sasl" 'authenticated\r\n'
	send sasl --from "$SC_FROM" --to "sasl@$SC_DOM" \
		--auth PLAIN --auth-user "$SASL_USER" --auth-password "$SASL_PASS"
	expect_reply "AUTH accepted" '235 .*'
	sc_queued
	expect "sasl at connect (before AUTH)" "$(rec connect context.sasl)" ABSENT
	expect "sasl at ehlo (before AUTH)" "$(rec ehlo context.sasl)" ABSENT
	expect "sasl.login at mail" "$(rec mail context.sasl.login)" "\"$SASL_USER\""
	expect "sasl.method at mail" "$(rec mail context.sasl.method)" '"PLAIN"'
	expect "sasl.login at rcpt" "$(rec rcpt context.sasl.login)" "\"$SASL_USER\""
	expect "sasl.login at data" "$(rec data context.sasl.login)" "\"$SASL_USER\""
	expect "sasl.method at data" "$(rec data context.sasl.method)" '"PLAIN"'
	delivered 1
}

sc_tls() {
	local subject="/O=mtahooks test/CN=client.mtahooks.test" issuer="/O=mtahooks test/CN=mtahooks test CA"
	fresh
	sc_accept_all
	make_message tls "$SC_FROM" "tls@$SC_DOM" "tls" 'over STARTTLS\r\n'
	send tls --from "$SC_FROM" --to "tls@$SC_DOM" --tls \
		--tls-cert "$MT_TLS/client.pem" --tls-key "$MT_TLS/client.key"
	expect_reply "STARTTLS accepted" '220 .*'
	sc_queued
	expect "tls at connect (before STARTTLS)" "$(rec connect context.tls)" ABSENT
	expect "hook stages (EHLO twice: before and after STARTTLS)" "$(rec_stages)" \
		"connect ehlo ehlo mail rcpt data"
	expect "tls at the first ehlo" "$(rec ehlo:1 context.tls)" ABSENT
	expect_match "tls.version at the second ehlo" "$(rec ehlo:2 context.tls.version)" '^"TLSv1\.[23]"$'
	expect_match "tls.version at mail" "$(rec mail context.tls.version)" '^"TLSv1\.[23]"$'
	expect_match "tls.cipher at mail" "$(rec mail context.tls.cipher)" '^"[A-Z0-9_-]+"$'
	expect_match "tls.cipherBits at mail (a number)" "$(rec mail context.tls.cipherBits)" '^(128|256)$'
	expect "tls.certSubject at mail" "$(rec mail context.tls.certSubject)" "\"$(mta_tls_name "$subject")\""
	expect "tls.certIssuer at mail" "$(rec mail context.tls.certIssuer)" "\"$(mta_tls_name "$issuer")\""
	expect_match "tls.version at data" "$(rec data context.tls.version)" '^"TLSv1\.[23]"$'
	expect "queue.id at data (the id in the MTA's reply)" "$(rec data context.queue.id)" "\"$SC_QID\""
	delivered 1
}

sc_xclient() {
	if ! mta_has_xclient; then
		MT_SKIP="the MTA has no XCLIENT"
		return
	fi
	fresh
	sc_accept_all
	make_message xclient "$SC_FROM" "xclient@$SC_DOM" "xclient" 'authenticated\r\n'
	send xclient --from "$SC_FROM" --to "xclient@$SC_DOM" --xclient-login xuser@mtahooks.test
	sc_queued
	expect "sasl before XCLIENT" "$(rec connect:1 context.sasl)" ABSENT
	expect "sasl.login at mail" "$(rec mail context.sasl.login)" '"xuser@mtahooks.test"'
	expect_match "sasl.method at mail" "$(rec mail context.sasl.method)" '^".+"$'
	expect "sasl.login at rcpt" "$(rec rcpt context.sasl.login)" '"xuser@mtahooks.test"'
	expect "sasl.login at data" "$(rec data context.sasl.login)" '"xuser@mtahooks.test"'
	delivered 1
}

# ---- actions ---------------------------------------------------------------------

sc_reject_rcpt() {
	fresh
	hook_script "{\"rules\": [{\"when\": {\"stage\": \"rcpt\", \"rcpt\": \"reject5@$SC_DOM\"},
		\"json\": {\"action\": \"reject\", \"response\": {\"status\": 550,
		\"enhancedStatus\": \"5.7.1\", \"message\": \"Recipient refused by hook\"}}}]}"
	make_message reject_rcpt "$SC_FROM" "reject5@$SC_DOM" "reject rcpt" 'never\r\n'
	send reject_rcpt --from "$SC_FROM" --to "reject5@$SC_DOM"
	expect_reply "reply to RCPT" "550 5\\.7\\.1 $(mta_rcpt_echo "reject5@$SC_DOM")Recipient refused by hook"
	expect "hook stages" "$(rec_stages)" "connect ehlo mail rcpt"
	nothing_delivered
}

sc_reject_data() {
	fresh
	sc_at_data '{"action": "reject", "response": {"status": 554,
		"enhanced_status": "5.7.0", "message": "Content refused by hook"}}'
	make_message reject_data "$SC_FROM" "reject-data@$SC_DOM" "reject data" 'bad content\r\n'
	send reject_data --from "$SC_FROM" --to "reject-data@$SC_DOM"
	expect_reply "reply to the end of data" '554 5\.7\.0 Content refused by hook'
	expect_no_reply "no queued reply" '250 .*queued.*'
	nothing_delivered
}

sc_tempfail_mail() {
	fresh
	hook_script '{"rules": [{"when": {"stage": "mail"}, "json": {"action": "reject",
		"response": {"status": 451, "enhancedStatus": "4.7.1", "message": "Sender deferred by hook"}}}]}'
	make_message tempfail_mail "$SC_FROM" "tempfail@$SC_DOM" "tempfail" 'later\r\n'
	send tempfail_mail --from "$SC_FROM" --to "tempfail@$SC_DOM"
	expect_reply "reply to MAIL" "451 4\\.7\\.1 Sender deferred by hook"
	expect "hook stages" "$(rec_stages)" "connect ehlo mail"
	nothing_delivered
}

sc_reject_one_rcpt() {
	local eml
	fresh
	hook_script "{\"rules\": [{\"when\": {\"stage\": \"rcpt\", \"rcpt\": \"no@$SC_DOM\"},
		\"json\": {\"action\": \"reject\", \"response\": {\"status\": 550,
		\"enhancedStatus\": \"5.1.1\", \"message\": \"No such user here\"}}}]}"
	make_message one_rcpt "$SC_FROM" "yes@$SC_DOM, no@$SC_DOM" "one of two" 'for yes only\r\n'
	send one_rcpt --from "$SC_FROM" --to "yes@$SC_DOM,no@$SC_DOM"
	expect_reply "reply to the refused RCPT" "550 5\\.1\\.1 $(mta_rcpt_echo "no@$SC_DOM")No such user here"
	sc_queued
	expect "envelope.to at the first rcpt" "$(rec rcpt:1 envelope.to.#)" 1
	sc_expect_queue rcpt "$(rec rcpt:1 context.queue)"
	expect "envelope.to at the second rcpt" "$(rec rcpt:2 envelope.to.#)" 2
	expect "the recipient being decided is last" "$(rec rcpt:2 envelope.to.-1.address)" "\"no@$SC_DOM\""
	expect "queue.id at the second rcpt" "$(rec rcpt:2 context.queue.id)" "\"$SC_QID\""
	expect "envelope.to at data" "$(rec data envelope.to.#)" 1
	expect "envelope.to.0 at data" "$(rec data envelope.to.0.address)" "\"yes@$SC_DOM\""
	sc_one_delivered || return
	eml=$SC_EML
	expect "next hop RCPT TO" "$(capture_env "$eml" rcpts)" "[\"yes@$SC_DOM\"]"
}

sc_reject_default() {
	fresh
	hook_script '{"rules": [{"when": {"stage": "rcpt"}, "json": {"action": "reject"}}]}'
	make_message reject_default "$SC_FROM" "default@$SC_DOM" "reject default" 'never\r\n'
	send reject_default --from "$SC_FROM" --to "default@$SC_DOM"
	expect_reply "reply to RCPT" '5[0-9][0-9] .*'
	expect_no_reply "no 250 for RCPT" '250 2\.1\.5 .*'
	nothing_delivered
}

sc_reject_plain() {
	fresh
	hook_script "{\"rules\": [{\"when\": {\"stage\": \"rcpt\"}, \"json\": {\"action\": \"reject\",
		\"response\": {\"status\": 553, \"message\": \"No enhanced code in this one\"}}}]}"
	make_message reject_plain "$SC_FROM" "plain@$SC_DOM" "plain" 'never\r\n'
	send reject_plain --from "$SC_FROM" --to "plain@$SC_DOM"
	expect_reply "reply to RCPT" "553 $(mta_plain_enhanced 553)$(mta_rcpt_echo "plain@$SC_DOM")No enhanced code in this one"
	nothing_delivered
}

sc_reply_multiline() {
	fresh
	hook_script '{"rules": [{"when": {"stage": "rcpt"}, "json": {"action": "reject",
		"response": {"status": 550, "enhancedStatus": "5.7.1",
		"message": "First line of the reason\nSecond line of the reason"}}}]}'
	make_message multiline "$SC_FROM" "multiline@$SC_DOM" "multiline" 'never\r\n'
	send multiline --from "$SC_FROM" --to "multiline@$SC_DOM"
	expect_reply "first line" "550-5\\.7\\.1 $(mta_rcpt_echo "multiline@$SC_DOM")First line of the reason"
	expect_reply "last line" '550 5\.7\.1 Second line of the reason'
	nothing_delivered
}

sc_reply_percent() {
	fresh
	hook_script '{"rules": [{"when": {"stage": "rcpt"}, "json": {"action": "reject",
		"response": {"status": 550, "enhancedStatus": "5.7.1", "message": "Spam score 100% (50%% said the other)"}}}]}'
	make_message percent "$SC_FROM" "percent@$SC_DOM" "percent" 'never\r\n'
	send percent --from "$SC_FROM" --to "percent@$SC_DOM"
	expect_reply "reply to RCPT" "550 5\\.7\\.1 $(mta_rcpt_echo "percent@$SC_DOM")Spam score 100% \\(50%% said the other\\)"
	nothing_delivered
}

sc_discard_data() {
	fresh
	sc_at_data '{"action": "discard"}'
	make_message discard_data "$SC_FROM" "discard@$SC_DOM" "discard" 'into the void\r\n'
	send discard_data --from "$SC_FROM" --to "discard@$SC_DOM"
	expect "swaks exit status" "$SWAKS_RC" 0
	expect_reply "reply to the end of data" '250 .*'
	nothing_delivered
	expect "held messages" "$(mta_held_ids | wc -l)" 0
}

sc_discard_mail() {
	fresh
	hook_script '{"rules": [{"when": {"stage": "mail"}, "json": {"action": "discard"}}]}'
	make_message discard_mail "$SC_FROM" "discard-mail@$SC_DOM" "discard at mail" 'into the void\r\n'
	send discard_mail --from "$SC_FROM" --to "discard-mail@$SC_DOM"
	expect "swaks exit status" "$SWAKS_RC" 0
	expect_no_reply "no error reply" '[45][0-9][0-9][ -].*'
	nothing_delivered
	expect "held messages" "$(mta_held_ids | wc -l)" 0
}

sc_discard_connect() {
	fresh
	hook_script '{"rules": [{"when": {"stage": "connect"}, "json": {"action": "discard"}}]}'
	make_message discard_connect "$SC_FROM" "discard-connect@$SC_DOM" "discard at connect" 'into the void\r\n'
	send discard_connect --from "$SC_FROM" --to "discard-connect@$SC_DOM"
	expect "swaks exit status" "$SWAKS_RC" 0
	expect_no_reply "no error reply" '[45][0-9][0-9][ -].*'
	nothing_delivered
	expect "held messages" "$(mta_held_ids | wc -l)" 0
}

sc_quarantine() {
	local qid held
	fresh
	sc_at_data '{"action": "quarantine", "response": {"message": "held by the mta test"},
		"modifications": [{"type": "addHeader", "name": "X-Quarantine-Test", "value": "applied"}]}'
	make_message quarantine "$SC_FROM" "quarantine@$SC_DOM" "quarantine" 'suspicious\r\n'
	send quarantine --from "$SC_FROM" --to "quarantine@$SC_DOM"
	sc_queued
	qid=$SC_QID
	nothing_delivered
	held=$(mta_held_ids | tr '\n' ' ')
	expect "held queue ids" "$held" "$qid "
	[ -n "$qid" ] || return
	mta_held_headers "$qid" | grep -q '^X-Quarantine-Test: applied' ||
		fail "the held message lacks the hook's header: $(mta_held_headers "$qid" | tr '\n' '|')"
	# Sendmail keeps the reason with the held message; Postfix drops it.
	if mta_keeps_quarantine_reason; then
		expect "quarantine reason kept by the MTA" "$(mta_held_reason "$qid")" "held by the mta test"
	fi
	mta_held_delete "$qid"
}

sc_disconnect() {
	fresh
	hook_script '{"rules": [{"when": {"stage": "mail"}, "json": {"action": "reject",
		"response": {"status": 550, "enhancedStatus": "5.7.1", "message": "Go away now",
		"disconnect": true}}}]}'
	make_message disconnect "$SC_FROM" "disconnect@$SC_DOM" "disconnect" 'bye\r\n'
	send disconnect --from "$SC_FROM" --to "disconnect@$SC_DOM"
	expect_reply "reply to MAIL" '421 4\.7\.0 Go away now'
	# Closed: the 421 is the last thing the server said (no answer to QUIT).
	expect_match "last reply" "$(replies | tail -1)" '^421 '
	expect "hook stages" "$(rec_stages)" "connect ehlo mail"
	nothing_delivered
}

# ---- modifications ---------------------------------------------------------------

sc_mod_changefrom() {
	local eml
	fresh
	sc_at_data '{"action": "accept", "modifications": [{"type": "changeFrom",
		"value": "changed@client.mtahooks.test", "parameters": {"ENVID": "mta-envid-1"}}]}'
	make_message changefrom "$SC_FROM" "changefrom@$SC_DOM" "changeFrom" 'new sender\r\n'
	send changefrom --from "$SC_FROM" --to "changefrom@$SC_DOM"
	sc_queued
	sc_one_delivered || return
	eml=$SC_EML
	expect "next hop MAIL FROM" "$(capture_env "$eml" from)" '"changed@client.mtahooks.test"'
	expect_match "next hop MAIL FROM parameters" "$(capture_env "$eml" mail_params)" 'ENVID=mta-envid-1'
	expect "next hop RCPT TO" "$(capture_env "$eml" rcpts)" "[\"changefrom@$SC_DOM\"]"
}

sc_mod_addrcpt() {
	local eml got r
	fresh
	sc_at_data "{\"action\": \"accept\", \"modifications\": [
		{\"type\": \"addRecipient\", \"value\": \"added1@$SC_DOM\"},
		{\"type\": \"addRcpt\", \"value\": \"added2@$SC_DOM\", \"parameters\": {\"NOTIFY\": \"NEVER\"}}]}"
	make_message addrcpt "$SC_FROM" "orig@$SC_DOM" "addRecipient" 'to more people\r\n'
	send addrcpt --from "$SC_FROM" --to "orig@$SC_DOM"
	sc_queued
	sc_one_delivered || return
	eml=$SC_EML
	got=$(capture_env "$eml" rcpts)
	for r in orig added1 added2; do
		case $got in
		*"\"$r@$SC_DOM\""*) ;;
		*) fail "$r@$SC_DOM not among the next hop's recipients $got" ;;
		esac
	done
	expect "number of next hop recipients" "$(capture_env "$eml" rcpts.#)" 3
	expect_match "NOTIFY of addRcpt" "$(capture_env "$eml" rcpt_params)" 'NOTIFY=NEVER'
}

sc_mod_delrcpt() {
	local eml
	fresh
	sc_at_data "{\"action\": \"accept\", \"modifications\": [
		{\"type\": \"deleteRecipient\", \"value\": \"drop@$SC_DOM\"}]}"
	make_message delrcpt "$SC_FROM" "keep@$SC_DOM, drop@$SC_DOM" "deleteRecipient" 'for keep\r\n'
	send delrcpt --from "$SC_FROM" --to "keep@$SC_DOM,drop@$SC_DOM"
	sc_queued
	sc_one_delivered || return
	eml=$SC_EML
	expect "next hop RCPT TO" "$(capture_env "$eml" rcpts)" "[\"keep@$SC_DOM\"]"
}

sc_mod_replace() {
	local eml
	fresh
	sc_at_data '{"action": "accept", "modifications": [{"type": "replaceContents",
		"value": "Replaced by the hook.\r\n.Second line, leading dot.\r\n"}]}'
	make_message replace "$SC_FROM" "replace@$SC_DOM" "replaceContents" 'original body\r\n'
	send replace --from "$SC_FROM" --to "replace@$SC_DOM"
	sc_queued
	sc_one_delivered || return
	eml=$SC_EML
	printf 'Replaced by the hook.\r\n.Second line, leading dot.\r\n' >"$MT_TMP/msg/replace.want"
	"$PYTHON3" "$MT_QUERY" body "$eml" >"$MT_TMP/msg/replace.got"
	expect_cmp "delivered body" "$MT_TMP/msg/replace.got" "$MT_TMP/msg/replace.want"
}

sc_mod_addheader() {
	local eml
	fresh
	sc_at_data '{"action": "accept", "modifications": [
		{"type": "addHeader", "name": "X-Hook-Added", "value": "yes"},
		{"type": "addHeader", "name": "X-Hook-Folded", "value": "first\r\n\tsecond"}]}'
	make_message addheader "$SC_FROM" "addheader@$SC_DOM" "addHeader" 'headers added\r\n'
	send addheader --from "$SC_FROM" --to "addheader@$SC_DOM"
	sc_queued
	sc_one_delivered || return
	eml=$SC_EML
	expect "second last header" "$(mail "$eml" headers.-2)" '"X-Hook-Added: yes"'
	expect "last header" "$(mail "$eml" headers.-1)" '"X-Hook-Folded: first\r\n\tsecond"'
	grep -q $'\r\r' "$eml" && fail "the delivered message contains CR CR (folding passed as CRLF?)"
	sc_same_body addheader "$eml"
}

sc_mod_insert0() {
	local eml
	fresh
	sc_at_data '{"action": "accept", "modifications": [
		{"type": "insertHeader", "index": 0, "name": "X-Hook-Top", "value": "zero"}]}'
	make_message insert0 "$SC_FROM" "insert0@$SC_DOM" "insertHeader 0" 'on top\r\n'
	send insert0 --from "$SC_FROM" --to "insert0@$SC_DOM"
	sc_queued
	sc_one_delivered || return
	eml=$SC_EML
	expect "first header" "$(mail "$eml" headers.0)" '"X-Hook-Top: zero"'
	expect "second header (the MTA's)" "$(mail "$eml" names.1)" '"Received"'
}

sc_mod_insert1() {
	local eml
	fresh
	sc_at_data '{"action": "accept", "modifications": [
		{"type": "insertHeader", "index": 1, "name": "X-Hook-One", "value": "one"}]}'
	make_message insert1 "$SC_FROM" "insert1@$SC_DOM" "insertHeader 1" 'below received\r\n'
	send insert1 --from "$SC_FROM" --to "insert1@$SC_DOM"
	sc_queued
	sc_one_delivered || return
	eml=$SC_EML
	expect "first header (the MTA's)" "$(mail "$eml" names.0)" '"Received"'
	expect "second header" "$(mail "$eml" headers.1)" '"X-Hook-One: one"'
	expect "third header (the message's first)" "$(mail "$eml" names.2)" '"Date"'
}

sc_mod_changeheader() {
	local eml
	fresh
	sc_at_data '{"action": "accept", "modifications": [
		{"type": "changeHeader", "index": 1, "name": "Subject", "value": "changed by hook"},
		{"type": "changeHeader", "index": 2, "name": "X-Dup", "value": "second changed"}]}'
	make_message changeheader "$SC_FROM" "changeheader@$SC_DOM" "original subject" 'headers changed\r\n' \
		'X-Dup: first' 'X-Dup: second'
	send changeheader --from "$SC_FROM" --to "changeheader@$SC_DOM"
	sc_queued
	sc_one_delivered || return
	eml=$SC_EML
	expect "Subject" "$(mail_named "$eml" Subject)" '["Subject: changed by hook"]'
	expect "X-Dup, second occurrence changed" "$(mail_named "$eml" X-Dup)" \
		'["X-Dup: first","X-Dup: second changed"]'
	sc_same_body changeheader "$eml"
}

sc_mod_deleteheader() {
	local eml
	fresh
	sc_at_data '{"action": "accept", "modifications": [
		{"type": "deleteHeader", "index": 1, "name": "X-Remove-Me"},
		{"type": "deleteHeader", "index": 0, "name": "X-Remove-Too"}]}'
	make_message deleteheader "$SC_FROM" "deleteheader@$SC_DOM" "deleteHeader" 'headers removed\r\n' \
		'X-Remove-Me: please' 'X-Keep-Me: thanks' 'X-Remove-Too: also'
	send deleteheader --from "$SC_FROM" --to "deleteheader@$SC_DOM"
	sc_queued
	sc_one_delivered || return
	eml=$SC_EML
	expect "X-Remove-Me" "$(mail_named "$eml" X-Remove-Me)" '[]'
	expect "X-Remove-Too (index 0 means 1)" "$(mail_named "$eml" X-Remove-Too)" '[]'
	expect "X-Keep-Me" "$(mail_named "$eml" X-Keep-Me)" '["X-Keep-Me: thanks"]'
}

sc_mod_early() {
	local eml
	fresh
	hook_script "{\"rules\": [
		{\"when\": {\"stage\": \"connect\"}, \"json\": {\"action\": \"accept\", \"modifications\": [
			{\"type\": \"addHeader\", \"name\": \"X-At-Connect\", \"value\": \"c\"}]}},
		{\"when\": {\"stage\": \"ehlo\"}, \"json\": {\"action\": \"accept\", \"modifications\": [
			{\"type\": \"addHeader\", \"name\": \"X-At-Ehlo\", \"value\": \"e\"}]}},
		{\"when\": {\"stage\": \"mail\"}, \"json\": {\"action\": \"accept\", \"modifications\": [
			{\"type\": \"addHeader\", \"name\": \"X-At-Mail\", \"value\": \"m\"},
			{\"type\": \"changeFrom\", \"value\": \"early@client.mtahooks.test\"}]}},
		{\"when\": {\"stage\": \"rcpt\"}, \"json\": {\"action\": \"accept\", \"modifications\": [
			{\"type\": \"addHeader\", \"name\": \"X-At-Rcpt\", \"value\": \"r\"},
			{\"type\": \"addRecipient\", \"value\": \"early-added@$SC_DOM\"}]}}],
		\"default\": {\"json\": {\"action\": \"accept\"}}}"
	make_message mod_early "$SC_FROM" "early@$SC_DOM" "early modifications" 'decided early\r\n'
	send mod_early --from "$SC_FROM" --to "early@$SC_DOM"
	sc_queued
	sc_one_delivered || return
	eml=$SC_EML
	expect "the last four headers, in stage order" \
		"$(mail "$eml" headers.-4),$(mail "$eml" headers.-3),$(mail "$eml" headers.-2),$(mail "$eml" headers.-1)" \
		'"X-At-Connect: c","X-At-Ehlo: e","X-At-Mail: m","X-At-Rcpt: r"'
	expect "next hop MAIL FROM" "$(capture_env "$eml" from)" '"early@client.mtahooks.test"'
	expect "next hop recipients (in any order)" \
		"$(capture_env "$eml" rcpts | tr -d '[]' | tr ',' '\n' | sort | tr '\n' ' ')" \
		"\"early-added@$SC_DOM\" \"early@$SC_DOM\" "
	expect "the data request still shows the message as received" "$(rec data message.headers.#)" 5
	sc_same_body mod_early "$eml"
}

SC_CHAIN_CONFIG=
# sc_chain_config - hooks "first" (/first) and "second" (/second), both at rcpt and data
sc_chain_config() {
	[ -n "$SC_CHAIN_CONFIG" ] && return 0
	SC_CHAIN_CONFIG=$(bridge_config_hooks chain "[session.hook.\"first\"]
url = \"http://127.0.0.1:$HOOK_PORT/first\"
stages = [\"rcpt\", \"data\"]
timeout = \"10s\"

[session.hook.\"second\"]
url = \"http://127.0.0.1:$HOOK_PORT/second\"
stages = [\"rcpt\", \"data\"]
timeout = \"10s\"")
}

sc_chain() {
	local eml
	sc_chain_config
	fresh "$SC_CHAIN_CONFIG"
	hook_script "{\"rules\": [
		{\"when\": {\"path\": \"/first\", \"stage\": \"data\", \"subject\": \"chain refused\"},
		 \"json\": {\"action\": \"reject\", \"response\": {\"status\": 550, \"enhancedStatus\": \"5.7.1\",
		 \"message\": \"Refused by the first hook\"}}},
		{\"when\": {\"path\": \"/first\", \"stage\": \"data\"}, \"json\": {\"action\": \"accept\",
		 \"modifications\": [{\"type\": \"addHeader\", \"name\": \"X-First\", \"value\": \"1\"}]}},
		{\"when\": {\"path\": \"/second\", \"stage\": \"data\"}, \"json\": {\"action\": \"accept\",
		 \"modifications\": [{\"type\": \"addHeader\", \"name\": \"X-Second\", \"value\": \"2\"}]}}],
		\"default\": {\"json\": {\"action\": \"accept\"}}}"
	make_message chain "$SC_FROM" "chain@$SC_DOM" "chain" 'two hooks\r\n'
	send chain --from "$SC_FROM" --to "chain@$SC_DOM"
	sc_queued
	expect "hook calls in order" "$(sc_paths)" "/first /second /first /second"
	sc_one_delivered || return
	eml=$SC_EML
	expect "headers of both hooks, in hook order" "$(mail "$eml" headers.-2),$(mail "$eml" headers.-1)" \
		'"X-First: 1","X-Second: 2"'
	# The first hook refuses: the second is not asked.
	fresh "$SC_CHAIN_CONFIG"
	hook_mark
	make_message chain_refused "$SC_FROM" "chain@$SC_DOM" "chain refused" 'two hooks\r\n'
	send chain_refused --from "$SC_FROM" --to "chain@$SC_DOM"
	expect_reply "reply to the end of data" '550 5\.7\.1 Refused by the first hook'
	expect "hook calls in order" "$(sc_paths)" "/first /second /first"
	nothing_delivered
}

# sc_paths - the request paths since hook_mark, space separated
sc_paths() {
	"$PYTHON3" "$MT_QUERY" paths "$HOOK_RECORD" "$MT_REC_OFF"
}

sc_big() {
	local eml size
	fresh
	sc_accept_all
	make_message big "$SC_FROM" "big@$SC_DOM" "ten megabytes" ''
	# 10 MiB of body: 131072 lines of 78 characters and CRLF, all different.
	"$PYTHON3" -c '
import sys
with open(sys.argv[1], "ab") as f:
    for i in range(131072):
        f.write(b"%08d " % i + b"abcdefghijklmnopqrstuvwxyz0123456789" * 2 + b"\r\n")
' "$MT_TMP/msg/big.eml"
	"$PYTHON3" "$MT_QUERY" wire "$MT_TMP/msg/big.eml" "$MT_TMP/msg/big.data"
	size=$(stat -c %s "$MT_TMP/msg/big.eml")
	send big --from "$SC_FROM" --to "big@$SC_DOM"
	sc_queued
	expect "message.size" "$(rec data message.size)" "$size"
	expect "message.contents length" "$(rec data message.contents.#)" $((131072 * 83))
	sc_one_delivered || return
	eml=$SC_EML
	sc_same_body big "$eml"
}

# ---- bytes and addresses ---------------------------------------------------------

sc_non_utf8() {
	local eml
	fresh
	sc_accept_all
	make_message non_utf8 "$SC_FROM" "latin1@$SC_DOM" "non-UTF-8 body" \
		'caf\xe9 \xff\xfe\x80 bytes\r\nbroken pair \xc3\x28 here\r\n\xe9\r\n'
	send non_utf8 --from "$SC_FROM_8BIT" --to "latin1@$SC_DOM"
	sc_queued
	expect_match "the data request was JSON" "$(rec data @json)" '^\{'
	expect "message.contents (invalid bytes become U+FFFD)" "$(rec data message.contents)" \
		'"caf\ufffd \ufffd\ufffd\ufffd bytes\r\nbroken pair \ufffd( here\r\n\ufffd\r\n"'
	sc_one_delivered || return
	eml=$SC_EML
	sc_same_body non_utf8 "$eml"
}

sc_ipv6() {
	if [ -z "$MTA_PORT6" ]; then
		MT_SKIP="no IPv6 loopback"
		return
	fi
	fresh
	sc_accept_all
	make_message ipv6 "$SC_FROM" "ipv6@$SC_DOM" "ipv6" 'over ::1\r\n'
	SEND_SERVER=::1 SEND_PORT=$MTA_PORT6 send ipv6 --from "$SC_FROM" --to "ipv6@$SC_DOM"
	sc_queued
	expect "client.ip" "$(rec connect context.client.ip)" '"::1"'
	expect_match "client.port" "$(rec connect context.client.port)" '^[1-9][0-9]*$'
	expect "server.ip" "$(rec connect context.server.ip)" '"::1"'
	expect "server.port" "$(rec connect context.server.port)" "$MTA_PORT6"
	delivered 1
}

# ---- errors ----------------------------------------------------------------------

# sc_error_logged - the bridge logged the error of hook HOOK at STAGE once (since
#   byte OFF), with the queue id QID ("-" when unknown; any id when not given)
sc_error_logged() {
	local off=$1 stage=$2 qid=${3:-[0-9A-Za-z]+} hook=${4:-t} n
	n=$(tail -c "+$((off + 1))" "$BRIDGE_LOG" |
		grep -Ec -- ": (error|err|warning): hook=$hook stage=$stage qid=$qid ")
	[ "$n" = 1 ] ||
		fail "expected one error line with hook=$hook stage=$stage qid=$qid, found $n; the log ends with: $(tail -c "+$((off + 1))" "$BRIDGE_LOG" | grep -v ': debug: ' | tail -6 | tr '\n' '|')"
}

# sc_log_offset - the bridge log's size now (sc_error_logged looks after it)
sc_log_offset() {
	stat -c %s "$BRIDGE_LOG"
}

# sc_expect_tempfailed NAME - the message was refused with the error policy's 451
sc_expect_tempfailed() {
	expect_reply "reply to the end of data" '451 4\.3\.5 Unable to accept message at this time\.'
	expect_no_reply "no queued reply" '250 .*(queued|accepted).*'
	nothing_delivered
}

# sc_config_errors - two data hooks with a short timeout and a small answer limit:
#   "acc" (tempfail-on-error false, path /err-accept) then "tf" (true, /err-tempfail);
#   the hook server's script makes one of them fail in the way a scenario wants
sc_config_errors() {
	local base="http://127.0.0.1:$HOOK_PORT"
	bridge_config_hooks errors "[session.hook.\"acc\"]
url = \"$base/err-accept\"
stages = [\"data\"]
timeout = \"2s\"
[session.hook.\"acc\".options]
tempfail-on-error = false
max-response-size = \"4kb\"

[session.hook.\"tf\"]
url = \"$base/err-tempfail\"
stages = [\"data\"]
timeout = \"2s\"
[session.hook.\"tf\".options]
tempfail-on-error = true
max-response-size = \"4kb\""
}

# sc_error_answer KIND - the hook server's answer that makes a hook fail with KIND
sc_error_answer() {
	case $1 in
	http500) echo '{"status": 500, "json": {"error": "internal"}}' ;;
	http404) echo '{"status": 404, "body": "no such hook"}' ;;
	timeout) echo '{"delay": 3.5, "json": {"action": "reject"}}' ;;
	notjson) echo '{"body": "this is not JSON"}' ;;
	truncated) echo '{"mode": "truncate"}' ;;
	closed) echo '{"mode": "close"}' ;;
	oversized) echo '{"json": {"action": "reject"}, "pad": 8192}' ;;
	badaction) echo '{"json": {"action": "bounce-it"}}' ;;
	badmod) echo '{"json": {"action": "accept", "modifications": [{"type": "addHeader", "name": "Bad Name", "value": "x"}]}}' ;;
	esac
}

# sc_error_kind KIND POLICY - hook "acc" or "tf" fails with KIND; the other accepts
sc_error_kind() {
	local kind=$1 policy=$2 failing ok off
	if [ "$policy" = tempfail ]; then
		failing=/err-tempfail ok=/err-accept
	else
		failing=/err-accept ok=/err-tempfail
	fi
	fresh "$SC_ERRORS_CONFIG"
	hook_script "{\"rules\": [{\"when\": {\"path\": \"$failing\"},
		$(sc_error_answer "$kind" | sed 's/^{//; s/}$//')},
		{\"when\": {\"path\": \"$ok\"}, \"json\": {\"action\": \"accept\"}}]}"
	off=$(sc_log_offset)
	make_message "err_$kind" "$SC_FROM" "err-$kind@$SC_DOM" "error $kind $policy" 'error policy\r\n'
	send "err_$kind" --from "$SC_FROM" --to "err-$kind@$SC_DOM"
	if [ "$policy" = tempfail ]; then
		sc_expect_tempfailed
		sc_error_logged "$off" data "" tf
	else
		sc_queued
		delivered 1
		sc_error_logged "$off" data "$SC_QID" acc
		# The last request is the second hook's. (libcurl may send the failing
		# one twice: see "Known limits" in the README.)
		expect_match "the second hook was still called" "$(sc_paths)" ' /err-tempfail$'
	fi
	bridge_alive
}

SC_ERRORS_CONFIG=
# sc_errors_ready - write the error configuration once
sc_errors_ready() {
	[ -n "$SC_ERRORS_CONFIG" ] || SC_ERRORS_CONFIG=$(sc_config_errors)
}

# One scenario per error kind and policy (PROTOCOL.md section 5).
for sc_kind in http500 http404 timeout notjson truncated closed oversized badaction badmod; do
	eval "sc_err_${sc_kind}_tempfail() { sc_errors_ready; sc_error_kind $sc_kind tempfail; }"
	eval "sc_err_${sc_kind}_accept() { sc_errors_ready; sc_error_kind $sc_kind accept; }"
done
unset sc_kind

# sc_config_single - hook "t" at URL on the data stage with TEMPFAIL; prints the path
sc_config_single() {
	bridge_config "$1" "$2" '["data"]' "$3"
}

sc_error_tempfail() {
	local off
	fresh "$(sc_config_single unreachable-tempfail "http://127.0.0.1:$(free_port 127.0.0.1)/hook" true)"
	off=$(sc_log_offset)
	make_message error_tempfail "$SC_FROM" "error-tempfail@$SC_DOM" "error tempfail" 'retry me\r\n'
	send error_tempfail --from "$SC_FROM" --to "error-tempfail@$SC_DOM"
	sc_expect_tempfailed
	sc_error_logged "$off" data
	bridge_alive
}

sc_error_accept() {
	local dead off stage
	dead=$(free_port 127.0.0.1)
	fresh "$(bridge_config unreachable-accept "http://127.0.0.1:$dead/hook" \
		'["connect", "ehlo", "mail", "rcpt", "data"]' false)"
	off=$(sc_log_offset)
	make_message error_accept "$SC_FROM" "error-accept@$SC_DOM" "error accept" 'let me through\r\n'
	send error_accept --from "$SC_FROM" --to "error-accept@$SC_DOM"
	expect "swaks exit status" "$SWAKS_RC" 0
	sc_queued
	delivered 1
	for stage in connect ehlo mail rcpt; do
		if mta_qid_at "$stage"; then
			sc_error_logged "$off" "$stage"
		else
			sc_error_logged "$off" "$stage" -
		fi
	done
	sc_error_logged "$off" data "$SC_QID"
	bridge_alive
}

# sc_error_tls POLICY - hook "t" at the HTTPS hook server whose certificate the
#   bridge does not trust, with tempfail-on-error true (POLICY tempfail) or false
sc_error_tls() {
	local policy=$1 off tempfail=false
	[ "$policy" = tempfail ] && tempfail=true
	hooks_start_tls || { fail "the TLS hook server did not start"; return; }
	fresh "$(sc_config_single "tls-$policy" "$HOOK_TLS_URL" "$tempfail")"
	off=$(sc_log_offset)
	make_message "tls_$policy" "$SC_FROM" "tls-$policy@$SC_DOM" "untrusted hook" 'policy\r\n'
	send "tls_$policy" --from "$SC_FROM" --to "tls-$policy@$SC_DOM"
	if [ "$policy" = tempfail ]; then
		sc_expect_tempfailed
		sc_error_logged "$off" data
	else
		sc_queued
		delivered 1
		sc_error_logged "$off" data "$SC_QID"
	fi
	tail -c "+$((off + 1))" "$BRIDGE_LOG" | grep -q 'hook=t stage=data .*error=tls' ||
		fail "the error line does not say it is about TLS: $(tail -c "+$((off + 1))" "$BRIDGE_LOG" | grep 'hook=t' | tail -2)"
	bridge_alive
}

sc_error_tls_tempfail() {
	sc_error_tls tempfail
}

sc_error_tls_accept() {
	sc_error_tls accept
}

sc_bridge_down() {
	fresh
	bridge_stop
	[ "$BRIDGE_KIND" = unix ] && rm -f "$BRIDGE_SOCK"
	make_message bridge_down "$SC_FROM" "bridge-down@$SC_DOM" "bridge down" 'no filter\r\n'
	send bridge_down --from "$SC_FROM" --to "bridge-down@$SC_DOM"
	expect_reply "a temporary failure" '4[0-9][0-9][ -].*'
	expect_no_reply "no queued reply" '250 .*(queued|accepted).*'
	nothing_delivered
	bridge_use "$BRIDGE_MAIN_CONFIG"
}
