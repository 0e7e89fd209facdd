/* test_session.c - unit tests for session.c: envelope parsing, sizes, clearing, IP counter */
#ifdef HAVE_CONFIG_H
#include "build-config.h"
#endif
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "session.h"

#define IP_THREADS 8
#define IP_ROUNDS  2000

static int setup(void **state);
static int teardown(void **state);
static struct json_object *param(struct json_object *params, const char *key, int *found);
static void add_mod(struct modlist *l, const char *name);
static void add_body(struct modlist *l, const char *body);
static void *ip_worker(void *arg);

/* setup - a bare session without configuration */
static int setup(void **state)
{
	struct session *s = session_new(NULL);

	if (s == NULL)
		return -1;
	*state = s;
	return 0;
}

/* teardown - free the session */
static int teardown(void **state)
{
	session_free(*state);
	return 0;
}

/* param - one member of a parameters object; *found tells a null from an absent one */
static struct json_object *param(struct json_object *params, const char *key, int *found)
{
	struct json_object *v = NULL;

	*found = json_object_object_get_ex(params, key, &v);
	return v;
}

/* add_mod - append an addHeader modification with the given name */
static void add_mod(struct modlist *l, const char *name)
{
	struct modification m;

	memset(&m, 0, sizeof(m));
	m.type = MOD_ADD_HEADER;
	m.name = strdup(name);
	m.value = strdup("v");
	assert_non_null(m.name);
	assert_non_null(m.value);
	m.value_len = 1;
	assert_int_equal(modlist_append(l, &m), 0);
}

/* test_new_session_has_defaults - unknown cipher bits, no limit, rising ids */
static void test_new_session_has_defaults(void **state)
{
	struct session *s = *state, *t = session_new(NULL);

	assert_non_null(t);
	assert_int_equal(s->tls_cipher_bits, -1);
	assert_int_equal(s->body.limit, 0);
	assert_int_equal(s->has_from, 0);
	assert_null(s->config);
	assert_true(t->id > s->id);
	session_free(t);
	session_free(NULL);
}

/* test_session_holds_config_and_takes_its_size_limit - outlives the caller's reference */
static void test_session_holds_config_and_takes_its_size_limit(void **state)
{
	static const char toml[] = "[milter]\nmax-message-size = \"1kb\"\n";
	struct config_errors errs = {NULL, 0};
	struct config *cfg = config_parse(toml, strlen(toml), "test.toml", &errs);
	struct session *s;
	char big[1100];

	(void)state;
	config_errors_free(&errs);
	assert_non_null(cfg);
	s = session_new(cfg);
	assert_non_null(s);
	config_unref(cfg); /* the session's reference keeps it alive */
	assert_ptr_equal(s->config, cfg);
	assert_int_equal(s->config->max_message_size, 1024);
	assert_int_equal(s->body.limit, 1024);
	memset(big, 'x', sizeof(big));
	assert_int_equal(session_append_body(s, big, 1022), 0);
	errno = 0;
	assert_int_equal(session_append_body(s, big, 1), -1);
	assert_int_equal(errno, EFBIG);
	session_free(s);
}

/* test_set_copies_and_clears - session_set stores a copy, NULL clears */
static void test_set_copies_and_clears(void **state)
{
	struct session *s = *state;
	char value[] = "mx.example.org";

	assert_int_equal(session_set(&s->helo, value), 0);
	value[0] = 'X';
	assert_string_equal(s->helo, "mx.example.org");
	assert_int_equal(session_set(&s->helo, NULL), 0);
	assert_null(s->helo);
}

/* test_from_strips_one_pair_of_angle_brackets - <a@b> gives a@b, no params */
static void test_from_strips_one_pair_of_angle_brackets(void **state)
{
	struct session *s = *state;
	char *argv[] = {"<user@example.org>", NULL};
	char *argv2[] = {"<<odd>>", NULL};

	assert_int_equal(session_set_from(s, argv), 0);
	assert_true(s->has_from);
	assert_string_equal(s->from.address, "user@example.org");
	assert_null(s->from.params);
	assert_int_equal(session_set_from(s, argv2), 0);
	assert_string_equal(s->from.address, "<odd>");
}

/* test_null_sender_is_empty_address - <> gives "" */
static void test_null_sender_is_empty_address(void **state)
{
	struct session *s = *state;
	char *argv[] = {"<>", NULL};

	assert_int_equal(session_set_from(s, argv), 0);
	assert_non_null(s->from.address);
	assert_string_equal(s->from.address, "");
	assert_null(s->from.params);
}

/* test_address_without_brackets_is_kept - a bare address is taken as it is */
static void test_address_without_brackets_is_kept(void **state)
{
	struct session *s = *state;
	char *argv[] = {"user@example.org", NULL};

	assert_int_equal(session_set_from(s, argv), 0);
	assert_string_equal(s->from.address, "user@example.org");
}

/* test_params_keyword_lowercased_value_string - BODY=8BITMIME gives "body": "8BITMIME" */
static void test_params_keyword_lowercased_value_string(void **state)
{
	struct session *s = *state;
	char *argv[] = {"<a@b>", "BODY=8BITMIME", "ENVID=QQ+2B1", "RET=HDRS", NULL};
	struct json_object *v;
	int found;

	assert_int_equal(session_set_from(s, argv), 0);
	assert_non_null(s->from.params);
	assert_int_equal(json_object_object_length(s->from.params), 3);
	v = param(s->from.params, "body", &found);
	assert_true(found);
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), "8BITMIME");
	/* xtext stays as the client wrote it */
	v = param(s->from.params, "envid", &found);
	assert_true(found);
	assert_string_equal(json_object_get_string(v), "QQ+2B1");
	param(s->from.params, "BODY", &found);
	assert_false(found);
}

/* test_size_param_becomes_number - SIZE=12345 is an int64, junk stays a string */
static void test_size_param_becomes_number(void **state)
{
	struct session *s = *state;
	char *argv[] = {"<a@b>", "Size=12345", NULL};
	char *junk[] = {"<a@b>", "SIZE=12k", NULL};
	char *huge[] = {"<a@b>", "SIZE=99999999999999999999999", NULL};
	struct json_object *v;
	int found;

	assert_int_equal(session_set_from(s, argv), 0);
	v = param(s->from.params, "size", &found);
	assert_true(found);
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int64(v), 12345);

	assert_int_equal(session_set_from(s, junk), 0);
	v = param(s->from.params, "size", &found);
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), "12k");

	assert_int_equal(session_set_from(s, huge), 0);
	v = param(s->from.params, "size", &found);
	assert_true(json_object_is_type(v, json_type_string));
}

/* test_bare_keyword_is_null - SMTPUTF8 without a value maps to JSON null */
static void test_bare_keyword_is_null(void **state)
{
	struct session *s = *state;
	char *argv[] = {"<a@b>", "SMTPUTF8", "NOTIFY=", NULL};
	struct json_object *v;
	int found;
	const char *json;

	assert_int_equal(session_set_from(s, argv), 0);
	v = param(s->from.params, "smtputf8", &found);
	assert_true(found);
	assert_null(v);
	/* "KEY=" has a value: the empty string, not null */
	v = param(s->from.params, "notify", &found);
	assert_true(found);
	assert_non_null(v);
	assert_string_equal(json_object_get_string(v), "");
	json = json_object_to_json_string_ext(s->from.params, JSON_C_TO_STRING_PLAIN);
	assert_string_equal(json, "{\"smtputf8\":null,\"notify\":\"\"}");
}

/* test_repeated_from_replaces_previous - a second MAIL FROM is a new transaction */
static void test_repeated_from_replaces_previous(void **state)
{
	struct session *s = *state;
	char *first[] = {"<one@example.org>", "BODY=7BIT", NULL};
	char *second[] = {"<two@example.org>", NULL};

	assert_int_equal(session_set_from(s, first), 0);
	assert_int_equal(session_set_from(s, second), 0);
	assert_string_equal(s->from.address, "two@example.org");
	assert_null(s->from.params);
}

/* test_rcpts_kept_in_order_with_params - each recipient with its own parameters */
static void test_rcpts_kept_in_order_with_params(void **state)
{
	struct session *s = *state;
	char *r1[] = {"<r1@example.org>", "NOTIFY=SUCCESS,FAILURE", NULL};
	char *r2[] = {"r2@example.org", NULL};
	char addr[32];
	int found;

	assert_int_equal(session_add_rcpt(s, r1), 0);
	assert_int_equal(session_add_rcpt(s, r2), 0);
	assert_int_equal(s->nrcpts, 2);
	assert_string_equal(s->rcpts[0].address, "r1@example.org");
	assert_string_equal(json_object_get_string(param(s->rcpts[0].params, "notify", &found)),
	                    "SUCCESS,FAILURE");
	assert_string_equal(s->rcpts[1].address, "r2@example.org");
	assert_null(s->rcpts[1].params);
	/* enough recipients to grow the array several times */
	for (int i = 0; i < 100; i++) {
		char *r[] = {addr, NULL};

		snprintf(addr, sizeof(addr), "<n%d@example.org>", i);
		assert_int_equal(session_add_rcpt(s, r), 0);
	}
	assert_int_equal(s->nrcpts, 102);
	assert_string_equal(s->rcpts[101].address, "n99@example.org");
}

/* test_drop_last_rcpt_forgets_only_the_last - and is harmless when none is left */
static void test_drop_last_rcpt_forgets_only_the_last(void **state)
{
	struct session *s = *state;
	char *r1[] = {"<r1@example.org>", NULL};
	char *r2[] = {"<r2@example.org>", "ORCPT=rfc822;r2@example.org", NULL};

	assert_int_equal(session_add_rcpt(s, r1), 0);
	assert_int_equal(session_add_rcpt(s, r2), 0);
	session_drop_last_rcpt(s);
	assert_int_equal(s->nrcpts, 1);
	assert_string_equal(s->rcpts[0].address, "r1@example.org");
	session_drop_last_rcpt(s);
	assert_int_equal(s->nrcpts, 0);
	session_drop_last_rcpt(s);
	assert_int_equal(s->nrcpts, 0);
	assert_int_equal(session_add_rcpt(s, r2), 0);
	assert_string_equal(s->rcpts[0].address, "r2@example.org");
}

/* test_header_bytes_and_message_size - "Name: value\r\n" per header, CRLF, then the body */
static void test_header_bytes_and_message_size(void **state)
{
	struct session *s = *state;

	assert_int_equal(session_message_size(s), 2);
	assert_int_equal(session_add_header(s, "Subject", "hello"), 0);
	assert_int_equal(s->header_bytes, strlen("Subject: hello\r\n"));
	assert_int_equal(session_add_header(s, "X-Folded", "a\r\n\tb"), 0);
	assert_int_equal(s->header_bytes,
	                 strlen("Subject: hello\r\n") + strlen("X-Folded: a\r\n\tb\r\n"));
	assert_int_equal(s->nheaders, 2);
	assert_string_equal(s->headers[1].name, "X-Folded");
	assert_string_equal(s->headers[1].value, "a\r\n\tb");
	assert_int_equal(session_append_body(s, "body\r\n", 6), 0);
	assert_int_equal(session_message_size(s), s->header_bytes + 2 + 6);
}

/* test_body_over_limit_is_efbig_and_unchanged - max-message-size caps the whole message */
static void test_body_over_limit_is_efbig_and_unchanged(void **state)
{
	struct session *s = *state;

	s->body.limit = 20; /* what session_new sets from max-message-size */
	assert_int_equal(session_append_body(s, "0123456789", 10), 0);
	assert_int_equal(session_append_body(s, "01234567", 8), 0); /* 2 + 18 = 20: fits */
	errno = 0;
	assert_int_equal(session_append_body(s, "x", 1), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(s->body.len, 18);
	assert_memory_equal(s->body.data, "012345678901234567", 19);
}

/* test_headers_count_against_the_limit - a body that fits alone can pass with headers */
static void test_headers_count_against_the_limit(void **state)
{
	struct session *s = *state;

	s->body.limit = 30;
	assert_int_equal(session_add_header(s, "Subject", "0123456789"), 0); /* 21 bytes */
	assert_int_equal(session_append_body(s, "1234567", 7), 0);           /* 21+2+7 = 30 */
	errno = 0;
	assert_int_equal(session_append_body(s, "8", 1), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(s->body.len, 7);
}

/* test_lf_folding_is_kept_as_crlf - Postfix folds with LF; requests carry CRLF */
static void test_lf_folding_is_kept_as_crlf(void **state)
{
	struct session *s = *state;

	assert_int_equal(session_add_header(s, "X-Folded", "a\n\tb\r\n c"), 0);
	assert_string_equal(s->headers[0].value, "a\r\n\tb\r\n c");
	assert_int_equal(s->header_bytes, strlen("X-Folded: a\r\n\tb\r\n c\r\n"));
}

/* test_header_over_the_limit_is_efbig_and_not_kept */
static void test_header_over_the_limit_is_efbig_and_not_kept(void **state)
{
	struct session *s = *state;

	s->body.limit = 30;
	assert_int_equal(session_add_header(s, "Subject", "0123456789"), 0); /* 21 + 2 */
	errno = 0;
	assert_int_equal(session_add_header(s, "X", "1234"), -1); /* 23 + 9 > 30 */
	assert_int_equal(errno, EFBIG);
	assert_int_equal(s->nheaders, 1);
	assert_int_equal(s->header_bytes, 21);
}

/* test_end_message_clears_message_keeps_session - the transaction goes, the session stays */
static void test_end_message_clears_message_keeps_session(void **state)
{
	struct session *s = *state;
	char *from[] = {"<a@b>", "SIZE=10", NULL};
	char *rcpt[] = {"<c@d>", NULL};
	size_t headers_cap;

	assert_int_equal(session_set(&s->queue_id, "4XyZ1"), 0);
	assert_int_equal(session_set(&s->helo, "client.example"), 0);
	assert_int_equal(session_set_from(s, from), 0);
	assert_int_equal(session_add_rcpt(s, rcpt), 0);
	assert_int_equal(session_add_header(s, "Subject", "x"), 0);
	assert_int_equal(session_append_body(s, "body\r\n", 6), 0);
	add_mod(&s->session_mods, "X-Session");
	add_mod(&s->message_mods, "X-Message");
	s->discard_session = 1;
	assert_int_equal(session_set(&s->quarantine_session, "session reason"), 0);
	assert_int_equal(session_set(&s->quarantine_message, "message reason"), 0);
	headers_cap = s->headers_cap;

	session_end_message(s);

	assert_false(s->has_from);
	assert_null(s->from.address);
	assert_null(s->from.params);
	assert_int_equal(s->nrcpts, 0);
	assert_int_equal(s->nheaders, 0);
	assert_int_equal(s->header_bytes, 0);
	assert_int_equal(s->body.len, 0);
	assert_int_equal(session_message_size(s), 2);
	assert_int_equal(s->message_mods.count, 0);
	assert_null(s->quarantine_message);
	/* kept: allocations, the MTA's queue id, the connection, the session's decisions */
	assert_int_equal(s->headers_cap, headers_cap);
	assert_non_null(s->body.data);
	assert_string_equal(s->queue_id, "4XyZ1");
	assert_string_equal(s->helo, "client.example");
	assert_int_equal(s->session_mods.count, 1);
	assert_string_equal(s->session_mods.items[0].name, "X-Session");
	assert_true(s->discard_session);
	assert_string_equal(s->quarantine_session, "session reason");
	/* and the next message starts cleanly */
	assert_int_equal(session_set_from(s, rcpt), 0);
	assert_string_equal(s->from.address, "c@d");
}

/* test_modlist_append_moves_and_zeroes - the list owns the item, the source is emptied */
static void test_modlist_append_moves_and_zeroes(void **state)
{
	struct session *s = *state;
	struct modification m;
	char *name = strdup("X-Moved");

	assert_non_null(name);
	memset(&m, 0, sizeof(m));
	m.type = MOD_DELETE_HEADER;
	m.name = name;
	m.index = 2;
	assert_int_equal(modlist_append(&s->message_mods, &m), 0);
	assert_null(m.name);
	assert_int_equal(m.index, 0);
	assert_ptr_equal(s->message_mods.items[0].name, name);
	assert_int_equal(s->message_mods.items[0].index, 2);
	for (int i = 0; i < 40; i++)
		add_mod(&s->message_mods, "X-More");
	assert_int_equal(s->message_mods.count, 41);
	modlist_clear(&s->message_mods);
	assert_int_equal(s->message_mods.count, 0);
	assert_non_null(s->message_mods.items);
}

/* add_body - append a replaceContents modification with the given body */
static void add_body(struct modlist *l, const char *body)
{
	struct modification m;

	memset(&m, 0, sizeof(m));
	m.type = MOD_REPLACE_CONTENTS;
	m.value = strdup(body);
	assert_non_null(m.value);
	m.value_len = strlen(body);
	assert_int_equal(modlist_append(l, &m), 0);
}

/* test_next_mod_goes_session_ehlo_message_in_order - the three lists in apply order */
static void test_next_mod_goes_session_ehlo_message_in_order(void **state)
{
	struct session *s = *state;
	const char *want[] = {"X-Connect", "X-Helo-1", "X-Helo-2", "X-Mail", "X-Data"};
	const struct modification *m;
	size_t pos = 0, n = 0;

	add_mod(&s->message_mods, "X-Mail");
	add_mod(&s->session_mods, "X-Connect");
	add_mod(&s->ehlo_mods, "X-Helo-1");
	add_mod(&s->ehlo_mods, "X-Helo-2");
	add_mod(&s->message_mods, "X-Data");
	while ((m = session_next_mod(s, &pos)) != NULL) {
		assert_true(n < 5);
		assert_string_equal(m->name, want[n]);
		n++;
	}
	assert_int_equal(n, 5);
	/* at the end it stays at the end */
	assert_null(session_next_mod(s, &pos));
}

/* test_next_mod_keeps_only_the_last_replace_contents - earlier bodies are skipped */
static void test_next_mod_keeps_only_the_last_replace_contents(void **state)
{
	struct session *s = *state;
	const struct modification *m;
	size_t pos = 0, bodies = 0, headers = 0;

	add_body(&s->session_mods, "first");
	add_mod(&s->session_mods, "X-A");
	add_body(&s->message_mods, "second");
	add_mod(&s->message_mods, "X-B");
	add_body(&s->message_mods, "third");
	add_mod(&s->message_mods, "X-C");
	while ((m = session_next_mod(s, &pos)) != NULL) {
		if (m->type == MOD_REPLACE_CONTENTS) {
			bodies++;
			assert_string_equal(m->value, "third");
			/* the body comes where it was received: after X-B, before X-C */
			assert_int_equal(headers, 2);
		} else {
			headers++;
		}
	}
	assert_int_equal(bodies, 1);
	assert_int_equal(headers, 3);
}

/* test_next_mod_on_empty_lists_is_null - nothing to apply */
static void test_next_mod_on_empty_lists_is_null(void **state)
{
	struct session *s = *state;
	size_t pos = 0;

	assert_null(session_next_mod(s, &pos));
	assert_int_equal(pos, 0);
}

/* test_quarantine_reason_message_wins_over_session - message, then session, then none */
static void test_quarantine_reason_message_wins_over_session(void **state)
{
	struct session *s = *state;

	assert_null(session_quarantine_reason(s));
	assert_int_equal(session_set(&s->quarantine_session, "session reason"), 0);
	assert_string_equal(session_quarantine_reason(s), "session reason");
	assert_int_equal(session_set(&s->quarantine_message, "message reason"), 0);
	assert_string_equal(session_quarantine_reason(s), "message reason");
	/* the next message falls back to the session's */
	session_end_message(s);
	assert_string_equal(session_quarantine_reason(s), "session reason");
}

/* test_ip_counter_counts_enter_and_leave - per address, removed at zero, "" counted */
static void test_ip_counter_counts_enter_and_leave(void **state)
{
	(void)state;
	assert_int_equal(session_ip_enter("192.0.2.1"), 1);
	assert_int_equal(session_ip_enter("192.0.2.1"), 2);
	assert_int_equal(session_ip_enter("2001:db8::1"), 1);
	assert_int_equal(session_ip_enter(""), 1);
	assert_int_equal(session_ip_enter(""), 2);
	session_ip_leave("192.0.2.1");
	assert_int_equal(session_ip_enter("192.0.2.1"), 2);
	session_ip_leave("192.0.2.1");
	session_ip_leave("192.0.2.1");
	assert_int_equal(session_ip_enter("192.0.2.1"), 1);
	session_ip_leave("192.0.2.1");
	session_ip_leave("192.0.2.1");    /* one too many: ignored */
	session_ip_leave("198.51.100.9"); /* never entered: ignored */
	assert_int_equal(session_ip_enter("192.0.2.1"), 1);
	session_ip_leave("192.0.2.1");
	session_ip_leave("2001:db8::1");
	session_ip_leave("");
	session_ip_leave("");
	assert_int_equal(session_ip_enter(""), 1);
	session_ip_leave("");
}

/* ip_worker - enter and leave the same address many times, checking each count */
static void *ip_worker(void *arg)
{
	int *bad = arg;

	for (int i = 0; i < IP_ROUNDS; i++) {
		unsigned n = session_ip_enter("203.0.113.7");

		/* the main thread holds one; at most every worker holds one more */
		if (n < 2 || n > IP_THREADS + 1)
			(*bad)++;
		session_ip_leave("203.0.113.7");
	}
	return NULL;
}

/* test_ip_counter_is_consistent_across_threads - no lost update under contention */
static void test_ip_counter_is_consistent_across_threads(void **state)
{
	pthread_t th[IP_THREADS];
	int bad[IP_THREADS] = {0};

	(void)state;
	assert_int_equal(session_ip_enter("203.0.113.7"), 1);
	for (int i = 0; i < IP_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, ip_worker, &bad[i]), 0);
	for (int i = 0; i < IP_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(bad[i], 0);
	}
	assert_int_equal(session_ip_enter("203.0.113.7"), 2);
	session_ip_leave("203.0.113.7");
	session_ip_leave("203.0.113.7");
	assert_int_equal(session_ip_enter("203.0.113.7"), 1);
	session_ip_leave("203.0.113.7");
}

/* main - one group, so TAP has one plan */
int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_new_session_has_defaults, setup, teardown),
	    cmocka_unit_test(test_session_holds_config_and_takes_its_size_limit),
	    cmocka_unit_test_setup_teardown(test_set_copies_and_clears, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_from_strips_one_pair_of_angle_brackets, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_null_sender_is_empty_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_address_without_brackets_is_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_params_keyword_lowercased_value_string, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_size_param_becomes_number, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bare_keyword_is_null, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_repeated_from_replaces_previous, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rcpts_kept_in_order_with_params, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drop_last_rcpt_forgets_only_the_last, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_header_bytes_and_message_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_over_limit_is_efbig_and_unchanged, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_headers_count_against_the_limit, setup, teardown),

	    cmocka_unit_test_setup_teardown(test_lf_folding_is_kept_as_crlf, setup, teardown),

	    cmocka_unit_test_setup_teardown(test_header_over_the_limit_is_efbig_and_not_kept, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_end_message_clears_message_keeps_session, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_modlist_append_moves_and_zeroes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_next_mod_goes_session_ehlo_message_in_order, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_next_mod_keeps_only_the_last_replace_contents,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_next_mod_on_empty_lists_is_null, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quarantine_reason_message_wins_over_session, setup,
	                                    teardown),
	    cmocka_unit_test(test_ip_counter_counts_enter_and_leave),
	    cmocka_unit_test(test_ip_counter_is_consistent_across_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
