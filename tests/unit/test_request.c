/* test_request.c - request JSON: members per stage, types, absent values, escaping, reads */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "request.h"
#include "session.h"

/* Everything a test session owns that the test must release. */
struct fixture {
	struct session s;
	struct envaddr rcpts[4];
	struct header headers[8];
	struct json_object *objs[8];
	size_t nobjs;
};

static struct fixture *fixture_new(void);
static void fixture_free(struct fixture *f);
static struct json_object *keep(struct fixture *f, struct json_object *o);
static char *render(struct session *s, enum stage stage, size_t *len);
static struct json_object *parse_strict(const char *text, size_t len);
static struct json_object *request_json(struct session *s, enum stage stage);
static struct json_object *path(struct json_object *o, const char *dotted);
static void assert_keys(struct json_object *o, const char *keys);

/* fixture_new - a plausible connection: IP client with PTR and HELO, known server, no TLS/SASL */
static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	f->s.client_ip = "192.0.2.10";
	f->s.client_port = 50123;
	f->s.client_ptr = "client.example.org";
	f->s.helo = "helo.example.org";
	f->s.active_connections = 1;
	f->s.server_name = "mx.example.net";
	f->s.server_ip = "198.51.100.25";
	f->s.server_port = 25;
	f->s.tls_cipher_bits = -1;
	f->s.body = (struct buf)BUF_INIT(0);
	f->s.rcpts = f->rcpts;
	f->s.headers = f->headers;
	return f;
}

/* fixture_free - release the body and every json-c object the test built */
static void fixture_free(struct fixture *f)
{
	size_t i;

	for (i = 0; i < f->nobjs; i++)
		json_object_put(f->objs[i]);
	buf_free(&f->s.body);
	free(f);
}

/* keep - remember a json-c object so fixture_free releases it */
static struct json_object *keep(struct fixture *f, struct json_object *o)
{
	assert_true(f->nobjs < sizeof f->objs / sizeof f->objs[0]);
	f->objs[f->nobjs++] = o;
	return o;
}

/* params_object - ESMTP parameters as session.c builds them: lowercase keys, size a number */
static struct json_object *params_object(struct fixture *f, const char *body, long long size,
                                         int bare_smtputf8)
{
	struct json_object *o = keep(f, json_object_new_object());

	if (body)
		json_object_object_add(o, "body", json_object_new_string(body));
	if (size >= 0)
		json_object_object_add(o, "size", json_object_new_int64(size));
	if (bare_smtputf8)
		json_object_object_add(o, "smtputf8", NULL);
	return o;
}

/* render - request_to_string, with its length checked against request_length */
static char *render(struct session *s, enum stage stage, size_t *len)
{
	struct request *r = request_new(s, stage);
	char *text;

	assert_non_null(r);
	text = request_to_string(r, len);
	assert_non_null(text);
	assert_int_equal(*len, request_length(r));
	assert_int_equal(strlen(text), *len); /* NUL bytes are always escaped */
	request_free(r);
	return text;
}

/* parse_strict - parse as one strict, valid-UTF-8 JSON value, consuming every byte */
static struct json_object *parse_strict(const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(64);
	struct json_object *o;

	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (o == NULL)
		fail_msg("not strict JSON (%s): %.200s",
		         json_tokener_error_desc(json_tokener_get_error(tok)), text);
	assert_int_equal(json_tokener_get_parse_end(tok), len);
	json_tokener_free(tok);
	return o;
}

/* request_json - the request for a stage, parsed back */
static struct json_object *request_json(struct session *s, enum stage stage)
{
	size_t len;
	char *text = render(s, stage, &len);
	struct json_object *o = parse_strict(text, len);

	free(text);
	return o;
}

/* path - follow "a.b.c" through objects; NULL when a member is absent or null */
static struct json_object *path(struct json_object *o, const char *dotted)
{
	char key[64];
	const char *p = dotted, *dot;
	size_t n;

	while (o && *p) {
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		assert_true(n < sizeof key);
		memcpy(key, p, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		p = dot ? dot + 1 : p + n;
	}
	return o;
}

/* has - whether a member exists (even as null) at the end of a dotted path */
static int has(struct json_object *o, const char *parent, const char *key)
{
	struct json_object *p = *parent ? path(o, parent) : o;

	return p && json_object_object_get_ex(p, key, NULL);
}

/* assert_keys - the object's members, in order, are exactly the comma-separated list */
static void assert_keys(struct json_object *o, const char *keys)
{
	char got[512] = "";
	size_t n = 0;

	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	json_object_object_foreach(o, k, v)
	{
		(void)v;
		n += (size_t)snprintf(got + n, sizeof got - n, "%s%s", n ? "," : "", k);
		assert_true(n < sizeof got);
	}
	assert_string_equal(got, keys);
}

/* assert_str - the member at path is a string equal to want */
static void assert_str(struct json_object *root, const char *p, const char *want)
{
	struct json_object *o = path(root, p);

	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_string));
	assert_string_equal(json_object_get_string(o), want);
}

/* assert_int_member - the member at path is a JSON integer equal to want */
static void assert_int_member(struct json_object *root, const char *p, int64_t want)
{
	struct json_object *o = path(root, p);

	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_int));
	assert_int_equal(json_object_get_int64(o), want);
}

/* assert_null_member - the member exists and is JSON null */
static void assert_null_member(struct json_object *root, const char *parent, const char *key)
{
	assert_true(has(root, parent, key));
	assert_null(path(path(root, parent), key));
}

static void test_connect_has_only_context(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j = request_json(&f->s, STAGE_CONNECT);

	assert_keys(j, "context");
	assert_keys(path(j, "context"), "stage,client,server,protocol");
	assert_str(j, "context.stage", "connect");
	json_object_put(j);
	fixture_free(f);
}

static void test_ehlo_has_only_context_with_lowercase_stage(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j = request_json(&f->s, STAGE_EHLO);

	assert_keys(j, "context");
	assert_str(j, "context.stage", "ehlo");
	json_object_put(j);
	fixture_free(f);
}

static void test_mail_has_envelope_with_empty_to(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.has_from = 1;
	f->s.from.address = "sender@example.org";
	j = request_json(&f->s, STAGE_MAIL);
	assert_keys(j, "context,envelope");
	assert_str(j, "context.stage", "mail");
	assert_keys(path(j, "envelope"), "from,to");
	assert_keys(path(j, "envelope.from"), "address");
	assert_str(j, "envelope.from.address", "sender@example.org");
	assert_true(json_object_is_type(path(j, "envelope.to"), json_type_array));
	assert_int_equal(json_object_array_length(path(j, "envelope.to")), 0);
	json_object_put(j);
	fixture_free(f);
}

static void test_rcpt_lists_recipients_in_order_last_is_current(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j, *to;

	f->s.has_from = 1;
	f->s.from.address = "";
	f->rcpts[0].address = "first@example.net";
	f->rcpts[1].address = "second@example.net";
	f->s.nrcpts = 2;
	j = request_json(&f->s, STAGE_RCPT);
	assert_keys(j, "context,envelope");
	assert_str(j, "context.stage", "rcpt");
	assert_str(j, "envelope.from.address", ""); /* the null sender */
	to = path(j, "envelope.to");
	assert_int_equal(json_object_array_length(to), 2);
	assert_keys(json_object_array_get_idx(to, 0), "address");
	assert_string_equal(
	    json_object_get_string(path(json_object_array_get_idx(to, 0), "address")),
	    "first@example.net");
	assert_string_equal(
	    json_object_get_string(path(json_object_array_get_idx(to, 1), "address")),
	    "second@example.net");
	json_object_put(j);
	fixture_free(f);
}

static void test_data_has_context_envelope_message_in_that_order(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;
	size_t len;
	char *text;

	f->s.from.address = "a@example.org";
	assert_int_equal(buf_append_str(&f->s.body, "Hi.\r\n"), 0);
	text = render(&f->s, STAGE_DATA, &len);
	assert_true(strncmp(text, "{\"context\":{", 12) == 0);
	j = parse_strict(text, len);
	assert_keys(j, "context,envelope,message");
	assert_str(j, "context.stage", "data");
	assert_keys(path(j, "message"), "headers,contents,size");
	assert_null(strstr(text, "serverHeaders"));
	json_object_put(j);
	free(text);
	fixture_free(f);
}

/* serverHeaders: only a leading Received carrying the queue id, which MTAs hide from milters */
static void test_server_headers_only_for_a_leading_received_with_the_queue_id(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j, *sh;

	f->s.from.address = "a@example.org";
	f->s.queue_id = "4QID77";
	f->headers[0] = (struct header){"Received", "from x by mx (Postfix) with ESMTP id 4QID77"};
	f->headers[1] = (struct header){"Subject", "s"};
	f->s.nheaders = 2;
	j = request_json(&f->s, STAGE_DATA);
	assert_keys(path(j, "message"), "headers,serverHeaders,contents,size");
	sh = path(j, "message.serverHeaders");
	assert_int_equal(json_object_array_length(sh), 1);
	assert_string_equal(
	    json_object_get_string(json_object_array_get_idx(json_object_array_get_idx(sh, 0), 0)),
	    "Received");
	assert_int_equal(json_object_array_length(path(j, "message.headers")), 2);
	json_object_put(j);

	f->s.queue_id = "OTHER";
	j = request_json(&f->s, STAGE_DATA);
	assert_keys(path(j, "message"), "headers,contents,size");
	json_object_put(j);
	fixture_free(f);
}

static void test_client_members_and_types(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j = request_json(&f->s, STAGE_CONNECT);

	assert_keys(path(j, "context.client"), "ip,port,ptr,ehlo,helo,activeConnections");
	assert_str(j, "context.client.ip", "192.0.2.10");
	assert_int_member(j, "context.client.port", 50123);
	assert_str(j, "context.client.ptr", "client.example.org");
	assert_str(j, "context.client.ehlo", "helo.example.org");
	assert_str(j, "context.client.helo", "helo.example.org");
	assert_int_member(j, "context.client.activeConnections", 1);
	json_object_put(j);
	fixture_free(f);
}

static void test_non_ip_client_has_empty_ip_and_port_zero(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.client_ip = "";
	f->s.client_port = 0;
	j = request_json(&f->s, STAGE_CONNECT);
	assert_str(j, "context.client.ip", "");
	assert_int_member(j, "context.client.port", 0);
	json_object_put(j);
	fixture_free(f);
}

static void test_unknown_ptr_and_helo_are_null(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.client_ptr = NULL;
	f->s.helo = NULL;
	j = request_json(&f->s, STAGE_CONNECT);
	assert_null_member(j, "context.client", "ptr");
	assert_null_member(j, "context.client", "ehlo");
	assert_null_member(j, "context.client", "helo");
	json_object_put(j);
	fixture_free(f);
}

static void test_active_connections_is_at_least_one(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.active_connections = 0;
	j = request_json(&f->s, STAGE_CONNECT);
	assert_int_member(j, "context.client.activeConnections", 1);
	json_object_put(j);
	f->s.active_connections = 7;
	j = request_json(&f->s, STAGE_CONNECT);
	assert_int_member(j, "context.client.activeConnections", 7);
	json_object_put(j);
	fixture_free(f);
}

static void test_sasl_omitted_when_not_authenticated(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.sasl_method = "PLAIN"; /* a method alone does not make a login */
	j = request_json(&f->s, STAGE_MAIL);
	assert_false(has(j, "context", "sasl"));
	json_object_put(j);
	fixture_free(f);
}

static void test_sasl_login_with_method_or_null_method(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.sasl_login = "alice";
	f->s.sasl_method = "PLAIN";
	j = request_json(&f->s, STAGE_MAIL);
	assert_keys(path(j, "context"), "stage,client,sasl,server,protocol");
	assert_keys(path(j, "context.sasl"), "login,method");
	assert_str(j, "context.sasl.login", "alice");
	assert_str(j, "context.sasl.method", "PLAIN");
	json_object_put(j);
	f->s.sasl_method = NULL;
	j = request_json(&f->s, STAGE_MAIL);
	assert_null_member(j, "context.sasl", "method");
	json_object_put(j);
	fixture_free(f);
}

static void test_tls_omitted_without_tls(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.tls_version = "TLSv1.3"; /* stale values without the flag are not sent */
	j = request_json(&f->s, STAGE_EHLO);
	assert_false(has(j, "context", "tls"));
	json_object_put(j);
	fixture_free(f);
}

static void test_tls_all_members_cipher_bits_a_number(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.tls = 1;
	f->s.tls_version = "TLSv1.3";
	f->s.tls_cipher = "TLS_AES_256_GCM_SHA384";
	f->s.tls_cipher_bits = 256;
	f->s.tls_cert_issuer = "/C=XX/O=Test CA";
	f->s.tls_cert_subject = "/CN=client.example.org";
	j = request_json(&f->s, STAGE_EHLO);
	assert_keys(path(j, "context"), "stage,client,tls,server,protocol");
	assert_keys(path(j, "context.tls"), "version,cipher,cipherBits,certIssuer,certSubject");
	assert_str(j, "context.tls.version", "TLSv1.3");
	assert_str(j, "context.tls.cipher", "TLS_AES_256_GCM_SHA384");
	assert_int_member(j, "context.tls.cipherBits", 256);
	assert_str(j, "context.tls.certIssuer", "/C=XX/O=Test CA");
	assert_str(j, "context.tls.certSubject", "/CN=client.example.org");
	json_object_put(j);
	fixture_free(f);
}

static void test_tls_unknown_members_omitted(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.tls = 1;
	f->s.tls_version = "TLSv1.2";
	j = request_json(&f->s, STAGE_EHLO);
	assert_keys(path(j, "context.tls"), "version");
	json_object_put(j);
	f->s.tls_version = NULL;
	f->s.tls_cipher_bits = 128;
	j = request_json(&f->s, STAGE_EHLO);
	assert_keys(path(j, "context.tls"), "cipherBits");
	json_object_put(j);
	fixture_free(f);
}

static void test_server_members_and_defaults(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j = request_json(&f->s, STAGE_CONNECT);

	assert_keys(path(j, "context.server"), "name,port,ip");
	assert_str(j, "context.server.name", "mx.example.net");
	assert_int_member(j, "context.server.port", 25);
	assert_str(j, "context.server.ip", "198.51.100.25");
	json_object_put(j);
	f->s.server_name = NULL;
	f->s.server_ip = NULL;
	f->s.server_port = 0;
	j = request_json(&f->s, STAGE_CONNECT);
	assert_str(j, "context.server.name", "localhost");
	assert_int_member(j, "context.server.port", 0);
	assert_null_member(j, "context.server", "ip");
	json_object_put(j);
	fixture_free(f);
}

static void test_queue_omitted_until_assigned(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j = request_json(&f->s, STAGE_CONNECT);

	assert_false(has(j, "context", "queue"));
	json_object_put(j);
	f->s.queue_id = "4XyZ1b2C3dz9";
	j = request_json(&f->s, STAGE_MAIL);
	assert_keys(path(j, "context"), "stage,client,server,queue,protocol");
	assert_keys(path(j, "context.queue"), "id");
	assert_str(j, "context.queue.id", "4XyZ1b2C3dz9");
	json_object_put(j);
	fixture_free(f);
}

static void test_protocol_version_is_number_one(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j = request_json(&f->s, STAGE_CONNECT);

	assert_keys(path(j, "context.protocol"), "version");
	assert_int_member(j, "context.protocol.version", 1);
	json_object_put(j);
	fixture_free(f);
}

static void test_full_context_member_order(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.sasl_login = "u";
	f->s.tls = 1;
	f->s.queue_id = "Q1";
	j = request_json(&f->s, STAGE_DATA);
	assert_keys(path(j, "context"), "stage,client,sasl,tls,server,queue,protocol");
	assert_keys(path(j, "context.tls"), ""); /* TLS seen, nothing else known */
	json_object_put(j);
	fixture_free(f);
}

static void test_from_parameters_types_and_bare_keyword(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j, *p;

	f->s.from.address = "s@example.org";
	f->s.from.params = params_object(f, "8BITMIME", 12345, 1);
	j = request_json(&f->s, STAGE_MAIL);
	assert_keys(path(j, "envelope.from"), "address,parameters");
	p = path(j, "envelope.from.parameters");
	assert_keys(p, "body,size,smtputf8");
	assert_str(p, "body", "8BITMIME");
	assert_int_member(p, "size", 12345);
	assert_null_member(p, "", "smtputf8");
	json_object_put(j);
	fixture_free(f);
}

static void test_parameters_omitted_when_none(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.from.address = "s@example.org";
	f->s.from.params = keep(f, json_object_new_object()); /* empty: none */
	f->rcpts[0].address = "r@example.net";
	f->s.nrcpts = 1;
	j = request_json(&f->s, STAGE_RCPT);
	assert_keys(path(j, "envelope.from"), "address");
	assert_keys(json_object_array_get_idx(path(j, "envelope.to"), 0), "address");
	json_object_put(j);
	fixture_free(f);
}

static void test_recipient_parameters_kept_per_recipient(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j, *to, *p;

	f->s.from.address = "s@example.org";
	f->rcpts[0].address = "r1@example.net";
	f->rcpts[1].address = "r2@example.net";
	f->rcpts[1].params = keep(f, json_object_new_object());
	json_object_object_add(f->rcpts[1].params, "notify",
	                       json_object_new_string("SUCCESS,FAILURE"));
	json_object_object_add(f->rcpts[1].params, "orcpt",
	                       json_object_new_string("rfc822;r2+2Bx@example.net"));
	f->s.nrcpts = 2;
	j = request_json(&f->s, STAGE_RCPT);
	to = path(j, "envelope.to");
	assert_keys(json_object_array_get_idx(to, 0), "address");
	p = path(json_object_array_get_idx(to, 1), "parameters");
	assert_keys(p, "notify,orcpt");
	assert_str(p, "notify", "SUCCESS,FAILURE");
	assert_str(p, "orcpt", "rfc822;r2+2Bx@example.net");
	json_object_put(j);
	fixture_free(f);
}

static void test_invalid_utf8_in_parameter_value_is_replaced(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.from.address = "s@example.org";
	f->s.from.params = keep(f, json_object_new_object());
	json_object_object_add(f->s.from.params, "envid",
	                       json_object_new_string("a\xff"
	                                              "b"));
	j = request_json(&f->s, STAGE_MAIL);
	assert_str(j, "envelope.from.parameters.envid",
	           "a\xEF\xBF\xBD"
	           "b");
	json_object_put(j);
	fixture_free(f);
}

static void test_headers_are_name_value_pairs_in_order(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j, *h, *pair;

	f->headers[0] = (struct header){"From", "A <a@example.org>"};
	f->headers[1] = (struct header){"Subject", "folded\r\n\tline"};
	f->headers[2] = (struct header){"X-Empty", ""};
	f->s.nheaders = 3;
	j = request_json(&f->s, STAGE_DATA);
	h = path(j, "message.headers");
	assert_true(json_object_is_type(h, json_type_array));
	assert_int_equal(json_object_array_length(h), 3);
	pair = json_object_array_get_idx(h, 1);
	assert_true(json_object_is_type(pair, json_type_array));
	assert_int_equal(json_object_array_length(pair), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(pair, 0)), "Subject");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(pair, 1)),
	                    "folded\r\n\tline");
	assert_string_equal(
	    json_object_get_string(json_object_array_get_idx(json_object_array_get_idx(h, 0), 0)),
	    "From");
	assert_string_equal(
	    json_object_get_string(json_object_array_get_idx(json_object_array_get_idx(h, 2), 1)),
	    "");
	json_object_put(j);
	fixture_free(f);
}

static void test_header_invalid_utf8_replaced_and_controls_escaped(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j, *pair;
	size_t len;
	char *text;

	f->headers[0] = (struct header){"X-B\xe9", "caf\xe9 \x01 \"q\" \\ \x7f"};
	f->s.nheaders = 1;
	text = render(&f->s, STAGE_DATA, &len);
	assert_non_null(strstr(text, "\\u0001"));
	assert_non_null(strstr(text, "\\\"q\\\" \\\\"));
	j = parse_strict(text, len);
	pair = json_object_array_get_idx(path(j, "message.headers"), 0);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(pair, 0)),
	                    "X-B\xEF\xBF\xBD");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(pair, 1)),
	                    "caf\xEF\xBF\xBD \x01 \"q\" \\ \x7f");
	json_object_put(j);
	free(text);
	fixture_free(f);
}

static void test_strings_from_the_mta_are_repaired_everywhere(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->s.client_ptr = "p\xc0\xaf";
	f->s.helo = "h\"\n";
	f->s.server_name = "\xf0\x9f\x93\xa7mx";
	f->s.queue_id = "q\x80";
	j = request_json(&f->s, STAGE_CONNECT);
	assert_str(j, "context.client.ptr", "p\xEF\xBF\xBD\xEF\xBF\xBD");
	assert_str(j, "context.client.helo", "h\"\n");
	assert_str(j, "context.server.name", "\xf0\x9f\x93\xa7mx");
	assert_str(j, "context.queue.id", "q\xEF\xBF\xBD");
	json_object_put(j);
	fixture_free(f);
}

static void test_message_size_counts_headers_separator_and_body(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	f->headers[0] = (struct header){"Subject", "x"};
	f->s.nheaders = 1;
	f->s.header_bytes = strlen("Subject: x\r\n");
	assert_int_equal(buf_append(&f->s.body, "a\0b\r\n", 5), 0);
	j = request_json(&f->s, STAGE_DATA);
	assert_int_member(j, "message.size", 12 + 2 + 5);
	json_object_put(j);
	fixture_free(f);
}

static void test_empty_body_gives_empty_contents(void **state)
{
	struct fixture *f = fixture_new();
	struct json_object *j;

	j = request_json(&f->s, STAGE_DATA); /* body.data is NULL: nothing was received */
	assert_str(j, "message.contents", "");
	assert_int_member(j, "message.size", 2);
	assert_int_equal(json_object_array_length(path(j, "message.headers")), 0);
	json_object_put(j);
	fixture_free(f);
}

/* One row: raw body bytes and the contents a JSON parser must read back. */
struct utf8_case {
	const char *raw;
	size_t rawlen;
	const char *want;
};

#define RAW(s) s, sizeof(s) - 1
#define FFFD   "\xEF\xBF\xBD"

static void test_body_invalid_utf8_becomes_replacement_character(void **state)
{
	static const struct utf8_case cases[] = {
	    {RAW("plain ascii\r\n"), "plain ascii\r\n"},
	    {RAW("\xff"), FFFD},
	    {RAW("a\xc3"), "a" FFFD},                        /* truncated at the end */
	    {RAW("\xe2\x82x"), FFFD "x"},                    /* truncated, one U+FFFD */
	    {RAW("\xc0\xaf"), FFFD FFFD},                    /* overlong lead */
	    {RAW("\xed\xa0\x80"), FFFD FFFD FFFD},           /* surrogate */
	    {RAW("\xe0\x80\xaf"), FFFD FFFD FFFD},           /* overlong 3-byte */
	    {RAW("\xf0\x80\x80\x80"), FFFD FFFD FFFD FFFD},  /* overlong 4-byte */
	    {RAW("\xf5\x80"), FFFD FFFD},                    /* no such lead byte */
	    {RAW("\xf4\x90\x80\x80"), FFFD FFFD FFFD FFFD},  /* past U+10FFFF */
	    {RAW("\xf0\x9f\x98\x80!"), "\xf0\x9f\x98\x80!"}, /* valid 4-byte */
	    {RAW("\xc3\xa9\xe2\x82\xac"), "\xc3\xa9\xe2\x82\xac"},
	    {RAW("\x80\x80"), FFFD FFFD},
	    {RAW("\xf0\x9f\x98"), FFFD},
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fixture *f = fixture_new();
		struct json_object *j;

		assert_int_equal(buf_append(&f->s.body, cases[i].raw, cases[i].rawlen), 0);
		j = request_json(&f->s, STAGE_DATA);
		assert_str(j, "message.contents", cases[i].want);
		json_object_put(j);
		fixture_free(f);
	}
}

static void test_body_nul_and_control_bytes_are_escaped(void **state)
{
	static const char raw[] = "a\0b\x01\b\f\t\r\n\"\\\x1f\x7f/";
	struct fixture *f = fixture_new();
	struct json_object *j, *c;
	size_t len;
	char *text;

	assert_int_equal(buf_append(&f->s.body, raw, sizeof raw - 1), 0);
	text = render(&f->s, STAGE_DATA, &len);
	assert_non_null(
	    strstr(text, "\"contents\":\"a\\u0000b\\u0001\\b\\f\\t\\r\\n\\\"\\\\\\u001f"));
	j = parse_strict(text, len);
	c = path(j, "message.contents");
	assert_int_equal(json_object_get_string_len(c), sizeof raw - 1);
	assert_memory_equal(json_object_get_string(c), raw, sizeof raw - 1);
	json_object_put(j);
	free(text);
	fixture_free(f);
}

/*
 * Plain text is checked eight bytes at a time: a byte that needs escaping must be found
 * at every position of a word, whatever the bytes around it.
 */
static void test_special_byte_at_every_offset_is_escaped(void **state)
{
	static const struct {
		const char *raw;
		size_t rawlen;
		const char *want; /* what a JSON parser reads back */
		size_t wantlen;
	} specials[] = {
	    {RAW("\0"), RAW("\0")},     {RAW("\x1f"), RAW("\x1f")},
	    {RAW(" "), RAW(" ")},       {RAW("\""), RAW("\"")},
	    {RAW("\\"), RAW("\\")},     {RAW("\x7f"), RAW("\x7f")},
	    {RAW("\x80"), RAW(FFFD)},   {RAW("\xc3\xa9"), RAW("\xc3\xa9")},
	    {RAW("!"), RAW("!")},       {RAW("#"), RAW("#")},
	    {RAW("["), RAW("[")},       {RAW("]"), RAW("]")},
	    {RAW("\r\n"), RAW("\r\n")},
	};
	char raw[40], want[48];

	for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) {
		for (size_t at = 0; at < 20; at++) {
			struct fixture *f = fixture_new();
			struct json_object *j, *c;
			size_t rawlen, wantlen, len;
			char *text;

			memset(raw, 'a', at);
			memcpy(raw + at, specials[k].raw, specials[k].rawlen);
			memcpy(raw + at + specials[k].rawlen, "bcdefghijk", 10);
			rawlen = at + specials[k].rawlen + 10;
			memset(want, 'a', at);
			memcpy(want + at, specials[k].want, specials[k].wantlen);
			memcpy(want + at + specials[k].wantlen, "bcdefghijk", 10);
			wantlen = at + specials[k].wantlen + 10;

			assert_int_equal(buf_append(&f->s.body, raw, rawlen), 0);
			text = render(&f->s, STAGE_DATA, &len);
			j = parse_strict(text, len);
			c = path(j, "message.contents");
			assert_int_equal(json_object_get_string_len(c), wantlen);
			assert_memory_equal(json_object_get_string(c), want, wantlen);
			json_object_put(j);
			free(text);
			fixture_free(f);
		}
	}
}

/*
 * The body is escaped sixteen bytes at a time where it can: random bodies of every length,
 * cut into random chunks, with every kind of byte at every offset. A JSON parser must read
 * back what each piece stands for, request_length must be exact, and reads through buffers
 * of every size up to 70 must give what request_to_string gives.
 */
static void test_random_bodies_escape_as_their_pieces_say(void **state)
{
	static const struct {
		const char *raw;
		size_t rawlen;
		const char *want;
		size_t wantlen;
	} pieces[] = {
	    {RAW("\r\n"), RAW("\r\n")},
	    {RAW("\""), RAW("\"")},
	    {RAW("\\"), RAW("\\")},
	    {RAW("\t"), RAW("\t")},
	    {RAW("\b\f"), RAW("\b\f")},
	    {RAW("\0"), RAW("\0")},
	    {RAW("\x01\x1f"), RAW("\x01\x1f")},
	    {RAW("\x7f"), RAW("\x7f")},
	    {RAW("\xc3\xa9"), RAW("\xc3\xa9")},
	    {RAW("\xe2\x82\xac"), RAW("\xe2\x82\xac")},
	    {RAW("\xf0\x9f\x98\x80"), RAW("\xf0\x9f\x98\x80")},
	    /* No piece starts with a continuation byte: each stands for the same whatever
	     * comes before it. */
	    {RAW("\xff"), RAW(FFFD)},
	    {RAW("\xc3"), RAW(FFFD)},
	    {RAW("\xe2\x82"), RAW(FFFD)},
	};
	unsigned long seed = 12345;
	char raw[600], want[1800], dst[70];

	for (int round = 0; round < 400; round++) {
		struct fixture *f = fixture_new();
		struct json_object *j, *c;
		struct request *r;
		size_t rawlen = 0, wantlen = 0, len, at, got, n;
		size_t target = (size_t)round % 200 + (size_t)round / 200 * 150;
		char *text, *again;

		while (rawlen < target) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			if ((seed >> 33) % 3 != 0) {
				/* A plain run of 0 to 40 printable bytes. */
				n = (seed >> 40) % 41;
				for (size_t k = 0; k < n; k++)
					raw[rawlen + k] = want[wantlen + k] =
					    (char)(' ' + 3 + (k * 7 + round) % 80);
				rawlen += n;
				wantlen += n;
			} else {
				size_t p = (seed >> 40) % (sizeof pieces / sizeof pieces[0]);

				memcpy(raw + rawlen, pieces[p].raw, pieces[p].rawlen);
				memcpy(want + wantlen, pieces[p].want, pieces[p].wantlen);
				rawlen += pieces[p].rawlen;
				wantlen += pieces[p].wantlen;
			}
		}
		/* Chunks as the MTA might cut them. */
		for (at = 0; at < rawlen; at += n) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			n = (seed >> 33) % 64 + 1;
			if (n > rawlen - at)
				n = rawlen - at;
			assert_int_equal(session_append_body(&f->s, raw + at, n), 0);
		}
		text = render(&f->s, STAGE_DATA, &len);
		j = parse_strict(text, len);
		c = path(j, "message.contents");
		assert_int_equal(json_object_get_string_len(c), wantlen);
		assert_memory_equal(json_object_get_string(c), want, wantlen);
		json_object_put(j);

		r = request_new(&f->s, STAGE_DATA);
		assert_non_null(r);
		again = malloc(len);
		assert_non_null(again);
		for (size_t size = 1; size <= sizeof dst; size += (size < 20 ? 1 : 7)) {
			request_rewind(r);
			for (got = 0; got <= len; got += n) {
				n = request_read(r, dst, size);
				assert_true(n <= size && got + n <= len);
				if (n == 0)
					break;
				memcpy(again + got, dst, n);
			}
			assert_int_equal(got, len);
			assert_memory_equal(again, text, len);
		}
		free(again);
		request_free(r);
		free(text);
		fixture_free(f);
	}
}

/* tricky_fixture - a data request whose body puts escapes and multi-byte sequences everywhere */
static struct fixture *tricky_fixture(void)
{
	static const char chunk[] = "x\xc3\xa9\"\0\xf0\x9f\x98\x80\xff\r\n\\\xe2\x82";
	struct fixture *f = fixture_new();
	size_t i;

	f->headers[0] = (struct header){"Subject", "\xe2\x82\xac \"quoted\""};
	f->s.nheaders = 1;
	f->s.header_bytes = 24;
	for (i = 0; i < 23; i++) {
		assert_int_equal(buf_append(&f->s.body, chunk, sizeof chunk - 1 - i % 5), 0);
		assert_int_equal(buf_append(&f->s.body, "ab", i % 3), 0);
	}
	return f;
}

static void test_read_with_every_buffer_size_matches_to_string(void **state)
{
	struct fixture *f = tricky_fixture();
	struct request *r = request_new(&f->s, STAGE_DATA);
	size_t want_len, got, n, size, rounds;
	char *want, *got_text, dst[17];

	assert_non_null(r);
	want = request_to_string(r, &want_len);
	assert_non_null(want);
	assert_int_equal(want_len, request_length(r));
	got_text = malloc(want_len + 1);
	assert_non_null(got_text);
	for (size = 1; size <= sizeof dst; size++) {
		request_rewind(r);
		got = 0;
		/* bounded: every call but the last returns at least one byte */
		for (rounds = 0; rounds <= want_len + 1; rounds++) {
			memset(dst, 'Z', sizeof dst);
			n = request_read(r, dst, size);
			assert_true(n <= size);
			if (n == 0)
				break;
			assert_true(got + n <= want_len);
			memcpy(got_text + got, dst, n);
			got += n;
		}
		assert_int_equal(got, want_len);
		assert_memory_equal(got_text, want, want_len);
	}
	free(got_text);
	free(want);
	request_free(r);
	fixture_free(f);
}

static void test_read_returns_zero_at_end_and_again(void **state)
{
	struct fixture *f = fixture_new();
	struct request *r = request_new(&f->s, STAGE_CONNECT);
	char *buf;
	size_t total = request_length(r);

	buf = malloc(total + 10);
	assert_non_null(buf);
	assert_int_equal(request_read(r, buf, total + 10), total);
	assert_int_equal(request_read(r, buf, 10), 0);
	assert_int_equal(request_read(r, buf, 10), 0);
	free(buf);
	request_free(r);
	fixture_free(f);
}

static void test_rewind_restarts_from_first_byte(void **state)
{
	struct fixture *f = tricky_fixture();
	struct request *r = request_new(&f->s, STAGE_DATA);
	size_t len, n, got = 0, rounds;
	char *want = request_to_string(r, &len);
	char *again = malloc(len);
	char part[7];

	assert_non_null(want);
	assert_non_null(again);
	/* Stop in the middle of the body (inside pending escapes), then start over. */
	for (rounds = 0; rounds < 40; rounds++)
		assert_true(request_read(r, part, sizeof part) > 0);
	request_rewind(r);
	for (rounds = 0; rounds <= len; rounds++) {
		if ((n = request_read(r, again + got, len - got < 7 ? len - got : 7)) == 0)
			break;
		got += n;
	}
	assert_int_equal(got, len);
	assert_memory_equal(again, want, len);
	free(again);
	free(want);
	request_free(r);
	fixture_free(f);
}

static void test_to_string_leaves_a_read_in_progress_alone(void **state)
{
	struct fixture *f = fixture_new();
	struct request *r = request_new(&f->s, STAGE_CONNECT);
	size_t len;
	char first[5], next[5], *all;

	assert_int_equal(request_read(r, first, sizeof first), 5);
	all = request_to_string(r, &len);
	assert_non_null(all);
	assert_int_equal(request_read(r, next, sizeof next), 5);
	assert_memory_equal(next, all + 5, 5);
	free(all);
	request_free(r);
	fixture_free(f);
}

/*
 * The body's JSON length is counted as the body arrives (session_append_body), in chunks the
 * MTA cuts anywhere, also inside a UTF-8 sequence or between CR and LF: at every cut, the
 * request must be byte for byte what one whole chunk gives, and its length exact.
 */
static void test_body_counted_in_chunks_cut_anywhere_gives_the_same_request(void **state)
{
	static const char text[] = "caf\xc3\xa9 \"q\"\r\n\xf0\x9f\x98\x80\t\x01\xff\xe2\x82"
	                           "x\\\r\n\xc3\xa9\xe2\x82\xac end\xc3";
	const size_t len = sizeof text - 1;
	struct fixture *whole = fixture_new();
	char *want, *got;
	size_t want_len, got_len;
	struct request *r;

	assert_int_equal(session_append_body(&whole->s, text, len), 0);
	r = request_new(&whole->s, STAGE_DATA);
	assert_non_null(r);
	want = request_to_string(r, &want_len);
	assert_non_null(want);
	assert_int_equal(want_len, request_length(r));
	request_free(r);
	for (size_t a = 0; a <= len; a++)
		for (size_t b = a; b <= len; b++) {
			struct fixture *f = fixture_new();

			assert_int_equal(session_append_body(&f->s, text, a), 0);
			assert_int_equal(session_append_body(&f->s, text + a, b - a), 0);
			assert_int_equal(session_append_body(&f->s, text + b, len - b), 0);
			r = request_new(&f->s, STAGE_DATA);
			assert_non_null(r);
			assert_int_equal(request_length(r), want_len);
			got = request_to_string(r, &got_len);
			assert_non_null(got);
			assert_int_equal(got_len, want_len);
			assert_memory_equal(got, want, want_len);
			free(got);
			request_free(r);
			fixture_free(f);
		}
	free(want);
	fixture_free(whole);
}

static void test_ten_megabyte_body_round_trips(void **state)
{
	const size_t size = 10u * 1024 * 1024;
	struct fixture *f = fixture_new();
	struct json_object *j, *c;
	struct request *r;
	char *body, *text;
	size_t i, len;

	body = malloc(size);
	assert_non_null(body);
	for (i = 0; i < size; i++)
		body[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : (char)('a' + i % 26);
	memcpy(body + 1000, "\"\\\xc3\xa9", 4);
	assert_int_equal(buf_append(&f->s.body, body, size), 0);
	f->s.header_bytes = 100;
	r = request_new(&f->s, STAGE_DATA);
	assert_non_null(r);
	text = request_to_string(r, &len);
	assert_non_null(text);
	assert_int_equal(len, request_length(r));
	assert_true(len > size);
	j = parse_strict(text, len);
	c = path(j, "message.contents");
	assert_int_equal(json_object_get_string_len(c), size);
	assert_memory_equal(json_object_get_string(c), body, size);
	assert_int_member(j, "message.size", (int64_t)(100 + 2 + size));
	json_object_put(j);
	free(text);
	request_free(r);
	free(body);
	fixture_free(f);
}

static void test_free_accepts_null(void **state)
{
	request_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connect_has_only_context),
	    cmocka_unit_test(test_ehlo_has_only_context_with_lowercase_stage),
	    cmocka_unit_test(test_mail_has_envelope_with_empty_to),
	    cmocka_unit_test(test_rcpt_lists_recipients_in_order_last_is_current),
	    cmocka_unit_test(test_data_has_context_envelope_message_in_that_order),
	    cmocka_unit_test(test_server_headers_only_for_a_leading_received_with_the_queue_id),
	    cmocka_unit_test(test_client_members_and_types),
	    cmocka_unit_test(test_non_ip_client_has_empty_ip_and_port_zero),
	    cmocka_unit_test(test_unknown_ptr_and_helo_are_null),
	    cmocka_unit_test(test_active_connections_is_at_least_one),
	    cmocka_unit_test(test_sasl_omitted_when_not_authenticated),
	    cmocka_unit_test(test_sasl_login_with_method_or_null_method),
	    cmocka_unit_test(test_tls_omitted_without_tls),
	    cmocka_unit_test(test_tls_all_members_cipher_bits_a_number),
	    cmocka_unit_test(test_tls_unknown_members_omitted),
	    cmocka_unit_test(test_server_members_and_defaults),
	    cmocka_unit_test(test_queue_omitted_until_assigned),
	    cmocka_unit_test(test_protocol_version_is_number_one),
	    cmocka_unit_test(test_full_context_member_order),
	    cmocka_unit_test(test_from_parameters_types_and_bare_keyword),
	    cmocka_unit_test(test_parameters_omitted_when_none),
	    cmocka_unit_test(test_recipient_parameters_kept_per_recipient),
	    cmocka_unit_test(test_invalid_utf8_in_parameter_value_is_replaced),
	    cmocka_unit_test(test_headers_are_name_value_pairs_in_order),
	    cmocka_unit_test(test_header_invalid_utf8_replaced_and_controls_escaped),
	    cmocka_unit_test(test_strings_from_the_mta_are_repaired_everywhere),
	    cmocka_unit_test(test_message_size_counts_headers_separator_and_body),
	    cmocka_unit_test(test_empty_body_gives_empty_contents),
	    cmocka_unit_test(test_body_invalid_utf8_becomes_replacement_character),
	    cmocka_unit_test(test_body_nul_and_control_bytes_are_escaped),
	    cmocka_unit_test(test_special_byte_at_every_offset_is_escaped),
	    cmocka_unit_test(test_random_bodies_escape_as_their_pieces_say),
	    cmocka_unit_test(test_read_with_every_buffer_size_matches_to_string),
	    cmocka_unit_test(test_read_returns_zero_at_end_and_again),
	    cmocka_unit_test(test_rewind_restarts_from_first_byte),
	    cmocka_unit_test(test_to_string_leaves_a_read_in_progress_alone),
	    cmocka_unit_test(test_body_counted_in_chunks_cut_anywhere_gives_the_same_request),
	    cmocka_unit_test(test_ten_megabyte_body_round_trips),
	    cmocka_unit_test(test_free_accepts_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
