/* test_http.c - the pure parts of http.c: endpoint order and request signatures */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "config.h"
#include "http.h"
#include "request.h"
#include "session.h"

#define NOW 1000000LL /* any instant: only comparisons with it count */

/*
 * The connect-stage request of session_plain(), and its signature with secret
 * "test-secret" at timestamp 1700000000, computed outside this program:
 *   printf '%s' "1700000000.$(cat req.json)" | openssl dgst -sha256 -hmac test-secret
 */
#define PLAIN_JSON                                                                                 \
	"{\"context\":{\"stage\":\"connect\",\"client\":{\"ip\":\"192.0.2.10\",\"port\":50123,"    \
	"\"ptr\":null,\"ehlo\":\"helo.example.org\",\"helo\":\"helo.example.org\","                \
	"\"activeConnections\":1},\"server\":{\"name\":\"mx.example.net\",\"port\":25,"            \
	"\"ip\":\"198.51.100.25\"},\"protocol\":{\"version\":1}}}"
#define PLAIN_SIGNATURE "sha256=5d900bd1b79f4c59b5548fdadaf1e3ca05631b9382d2be9b23c99a15d1b5528c"

static void session_plain(struct session *s);
static void expect_order(size_t n, const long long *failed, size_t first, const size_t *want);
static void hmac_hex(const char *key, const char *data, size_t len, char *out);

/* session_plain - a connection from a client with HELO, nothing more */
static void session_plain(struct session *s)
{
	memset(s, 0, sizeof(*s));
	s->client_ip = "192.0.2.10";
	s->client_port = 50123;
	s->helo = "helo.example.org";
	s->active_connections = 1;
	s->server_name = "mx.example.net";
	s->server_ip = "198.51.100.25";
	s->server_port = 25;
	s->tls_cipher_bits = -1;
	s->body = (struct buf)BUF_INIT(0);
}

/* expect_order - http_endpoint_order gives want */
static void expect_order(size_t n, const long long *failed, size_t first, const size_t *want)
{
	size_t order[8];

	assert_true(n <= 8);
	memset(order, 0xff, sizeof(order));
	assert_int_equal(http_endpoint_order(n, failed, NOW, first, order), n);
	for (size_t i = 0; i < n; i++) {
		if (order[i] != want[i])
			print_error("position %zu: got %zu, wanted %zu\n", i, order[i], want[i]);
		assert_int_equal(order[i], want[i]);
	}
}

/* hmac_hex - "sha256=<hex>" of data with key, by OpenSSL's one-shot HMAC */
static void hmac_hex(const char *key, const char *data, size_t len, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)data, len,
	                     mac, &mac_len));
	assert_int_equal(mac_len, 32);
	strcpy(out, "sha256=");
	for (unsigned i = 0; i < mac_len; i++)
		sprintf(out + 7 + 2 * i, "%02x", mac[i]);
}

/* ---- endpoint order ------------------------------------------------------------------------ */

static void test_failover_tries_healthy_endpoints_in_written_order(void **state)
{
	static const long long healthy[3] = {0, 0, 0};
	static const size_t want[3] = {0, 1, 2};

	(void)state;
	expect_order(3, healthy, 0, want);
}

static void test_round_robin_starts_one_further_each_turn_and_wraps(void **state)
{
	static const long long healthy[3] = {0, 0, 0};
	static const size_t from1[3] = {1, 2, 0}, from2[3] = {2, 0, 1}, from0[3] = {0, 1, 2};

	(void)state;
	expect_order(3, healthy, 1, from1);
	expect_order(3, healthy, 2, from2);
	/* The turn counter only grows: it is taken modulo the number of endpoints. */
	expect_order(3, healthy, 3, from0);
	expect_order(3, healthy, 3000000001u, from1);
}

static void test_failed_endpoint_is_skipped_until_retry_after_then_tried_last(void **state)
{
	const long long first_failed[3] = {NOW + 5000, 0, 0};
	static const size_t want[3] = {1, 2, 0};

	(void)state;
	expect_order(3, first_failed, 0, want);
}

static void test_endpoint_is_healthy_again_once_retry_after_has_passed(void **state)
{
	const long long recovered[3] = {NOW - 1, NOW, 0};
	static const size_t want[3] = {0, 1, 2};

	(void)state;
	/* failed_until == now counts as recovered: the skip lasts exactly retry-after. */
	expect_order(3, recovered, 0, want);
}

static void test_all_failed_endpoints_are_tried_soonest_to_recover_first(void **state)
{
	const long long all_failed[4] = {NOW + 300, NOW + 100, NOW + 300, NOW + 200};
	static const size_t want[4] = {1, 3, 0, 2};

	(void)state;
	/* Ties (0 and 2) keep the written order. */
	expect_order(4, all_failed, 0, want);
	expect_order(4, all_failed, 2, want);
}

static void test_round_robin_skips_failed_endpoint_and_keeps_rotation(void **state)
{
	const long long second_failed[3] = {0, NOW + 10, 0};
	static const size_t from1[3] = {2, 0, 1}, from0[3] = {0, 2, 1};

	(void)state;
	expect_order(3, second_failed, 1, from1);
	expect_order(3, second_failed, 0, from0);
}

static void test_one_endpoint_is_always_tried_even_when_failed(void **state)
{
	const long long failed[1] = {NOW + 10000};
	static const size_t want[1] = {0};

	(void)state;
	expect_order(1, failed, 7, want);
	assert_int_equal(http_endpoint_order(0, failed, NOW, 0, NULL), 0);
}

/* ---- signatures ------------------------------------------------------------------------------ */

static void test_signature_matches_a_vector_computed_by_openssl_dgst(void **state)
{
	struct session s;
	struct request *req;
	char sig[HTTP_SIGNATURE_MAX];
	char *json;
	size_t len;

	(void)state;
	session_plain(&s);
	req = request_new(&s, STAGE_CONNECT);
	assert_non_null(req);
	json = request_to_string(req, &len);
	assert_non_null(json);
	/* If request.c's output changes, the vector below must be computed again. */
	assert_string_equal(json, PLAIN_JSON);
	assert_int_equal(http_signature("test-secret", 1700000000LL, req, sig, sizeof(sig)), 0);
	assert_string_equal(sig, PLAIN_SIGNATURE);
	/* Another key or another second is another signature. */
	assert_int_equal(http_signature("test-secreT", 1700000000LL, req, sig, sizeof(sig)), 0);
	assert_string_not_equal(sig, PLAIN_SIGNATURE);
	assert_int_equal(http_signature("test-secret", 1700000001LL, req, sig, sizeof(sig)), 0);
	assert_string_not_equal(sig, PLAIN_SIGNATURE);
	free(json);
	request_free(req);
}

static void test_signature_covers_exactly_the_streamed_bytes_of_a_large_escaped_body(void **state)
{
	enum { BODY = 200000 };
	struct session s;
	struct request *req;
	char sig[HTTP_SIGNATURE_MAX], want[HTTP_SIGNATURE_MAX];
	char *json, *signed_text, *body, *streamed;
	size_t len, got = 0, n;

	(void)state;
	session_plain(&s);
	/* Quotes, controls, invalid UTF-8: the escaped body is longer than the raw one and
	 * several HMAC chunks long, with escapes straddling the chunks' ends. */
	body = malloc(BODY);
	assert_non_null(body);
	for (size_t i = 0; i < BODY; i++)
		body[i] = "ab\"\\\n\x01\xff\xc3\xa9x"[i % 10];
	assert_int_equal(buf_append(&s.body, body, BODY), 0);
	s.has_from = 1;
	req = request_new(&s, STAGE_DATA);
	assert_non_null(req);
	json = request_to_string(req, &len);
	assert_non_null(json);
	assert_true(len > BODY);

	/* Half read already: signing starts from the beginning all the same. */
	streamed = malloc(len + 1);
	assert_non_null(streamed);
	assert_int_equal(request_read(req, streamed, len / 2), len / 2);
	assert_int_equal(http_signature("k", 1712345678LL, req, sig, sizeof(sig)), 0);

	signed_text = malloc(len + 32);
	assert_non_null(signed_text);
	n = (size_t)sprintf(signed_text, "%lld.", 1712345678LL);
	memcpy(signed_text + n, json, len);
	hmac_hex("k", signed_text, n + len, want);
	assert_string_equal(sig, want);

	/* The request is left rewound: what goes on the wire next is all of it. */
	while ((n = request_read(req, streamed + got, 1000)) > 0)
		got += n;
	assert_int_equal(got, len);
	assert_memory_equal(streamed, json, len);

	free(streamed);
	free(signed_text);
	free(json);
	free(body);
	buf_free(&s.body);
	request_free(req);
}

static void test_signature_refuses_a_short_buffer_and_missing_arguments(void **state)
{
	struct session s;
	struct request *req;
	char sig[HTTP_SIGNATURE_MAX];

	(void)state;
	session_plain(&s);
	req = request_new(&s, STAGE_CONNECT);
	assert_non_null(req);
	/* 7 + 64 characters and the NUL: one byte less is refused, and out left empty. */
	memset(sig, 'x', sizeof(sig));
	assert_int_equal(http_signature("k", 1, req, sig, 71), -1);
	assert_string_equal(sig, "");
	assert_int_equal(http_signature("k", 1, req, sig, 72), 0);
	assert_int_equal(strlen(sig), 71);
	assert_int_equal(http_signature(NULL, 1, req, sig, sizeof(sig)), -1);
	assert_int_equal(http_signature("k", 1, NULL, sig, sizeof(sig)), -1);
	request_free(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failover_tries_healthy_endpoints_in_written_order),
	    cmocka_unit_test(test_round_robin_starts_one_further_each_turn_and_wraps),
	    cmocka_unit_test(test_failed_endpoint_is_skipped_until_retry_after_then_tried_last),
	    cmocka_unit_test(test_endpoint_is_healthy_again_once_retry_after_has_passed),
	    cmocka_unit_test(test_all_failed_endpoints_are_tried_soonest_to_recover_first),
	    cmocka_unit_test(test_round_robin_skips_failed_endpoint_and_keeps_rotation),
	    cmocka_unit_test(test_one_endpoint_is_always_tried_even_when_failed),
	    cmocka_unit_test(test_signature_matches_a_vector_computed_by_openssl_dgst),
	    cmocka_unit_test(
	        test_signature_covers_exactly_the_streamed_bytes_of_a_large_escaped_body),
	    cmocka_unit_test(test_signature_refuses_a_short_buffer_and_missing_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
