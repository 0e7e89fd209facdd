/* test_dryrun.c - unit tests for dryrun.c: the message file parser and the envelope defaults */
#ifdef HAVE_CONFIG_H
#include "build-config.h"
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dryrun.h"

static void parse_ok(const char *text, struct dryrun_message *m);
static void parse_fails(const char *text, const char *want_err);

/* parse_ok - text must parse */
static void parse_ok(const char *text, struct dryrun_message *m)
{
	char err[256] = "";

	if (dryrun_parse_message(text, strlen(text), "msg.eml", m, err, sizeof(err)) != 0)
		fail_msg("unexpected parse error: %s", err);
}

/* parse_fails - text must be refused with exactly want_err */
static void parse_fails(const char *text, const char *want_err)
{
	struct dryrun_message m;
	char err[256] = "";

	assert_int_equal(dryrun_parse_message(text, strlen(text), "msg.eml", &m, err, sizeof(err)),
	                 -1);
	assert_string_equal(err, want_err);
	assert_null(m.headers);
	assert_int_equal(m.nheaders, 0);
}

/* test_lf_message_gives_headers_and_crlf_body - the plain case */
static void test_lf_message_gives_headers_and_crlf_body(void **state)
{
	struct dryrun_message m;

	(void)state;
	parse_ok("From: a@x\nSubject:  Hi there\n\nline 1\nline 2\n", &m);
	assert_int_equal(m.nheaders, 2);
	assert_string_equal(m.headers[0].name, "From");
	assert_string_equal(m.headers[0].value, "a@x");
	/* the blanks after the colon are not in the value, as Postfix delivers it */
	assert_string_equal(m.headers[1].value, "Hi there");
	assert_int_equal(m.body_len, strlen("line 1\r\nline 2\r\n"));
	assert_memory_equal(m.body, "line 1\r\nline 2\r\n", m.body_len);
	dryrun_message_free(&m);
}

/* test_crlf_message_is_kept_as_is - CRLF line ends are not doubled */
static void test_crlf_message_is_kept_as_is(void **state)
{
	struct dryrun_message m;

	(void)state;
	parse_ok("To: b@y\r\nSubject: x\r\n\r\nbody\r\nlast", &m);
	assert_int_equal(m.nheaders, 2);
	assert_string_equal(m.headers[0].value, "b@y");
	assert_string_equal(m.headers[1].value, "x");
	/* the last line had no line end: it gets none */
	assert_string_equal(m.body, "body\r\nlast");
	dryrun_message_free(&m);
}

/* test_mbox_from_line_is_skipped - the envelope line of an mbox file is no header */
static void test_mbox_from_line_is_skipped(void **state)
{
	struct dryrun_message m;

	(void)state;
	parse_ok("From sender@x Mon Jan  1 00:00:00 2024\nSubject: s\n\nb\n", &m);
	assert_int_equal(m.nheaders, 1);
	assert_string_equal(m.headers[0].name, "Subject");
	dryrun_message_free(&m);
}

/* test_continuation_lines_stay_in_their_header - folding kept, joined with LF */
static void test_continuation_lines_stay_in_their_header(void **state)
{
	struct dryrun_message m;

	(void)state;
	parse_ok("Subject: one\r\n two\r\n\tthree\r\nX-A: b\r\n\r\n", &m);
	assert_int_equal(m.nheaders, 2);
	assert_string_equal(m.headers[0].value, "one\n two\n\tthree");
	assert_string_equal(m.headers[1].name, "X-A");
	assert_int_equal(m.body_len, 0);
	dryrun_message_free(&m);
}

/* test_headers_only_file_has_an_empty_body - no empty line at all */
static void test_headers_only_file_has_an_empty_body(void **state)
{
	struct dryrun_message m;

	(void)state;
	parse_ok("Subject: s\nFrom: a@x", &m);
	assert_int_equal(m.nheaders, 2);
	assert_string_equal(m.headers[1].value, "a@x");
	assert_int_equal(m.body_len, 0);
	assert_string_equal(m.body, "");
	dryrun_message_free(&m);
}

/* test_line_without_colon_is_an_error_with_its_line - file name and line number */
static void test_line_without_colon_is_an_error_with_its_line(void **state)
{
	(void)state;
	parse_fails("Subject: s\nFrom: a@x\nthis is body text\n\nb\n",
	            "msg.eml:3: not a header line (no colon); the headers end at the first "
	            "empty line");
	/* the mbox line counts as line 1 */
	parse_fails("From x@y Mon\nbad line\n",
	            "msg.eml:2: not a header line (no colon); the headers end at the first "
	            "empty line");
}

/* test_bad_header_names_are_errors - a blank before the colon, an empty name, a leading fold */
static void test_bad_header_names_are_errors(void **state)
{
	(void)state;
	parse_fails("Subject : s\n\n", "msg.eml:1: invalid header name (a blank or a control "
	                               "character before the colon)");
	parse_fails("X: a\n: s\n\n", "msg.eml:2: empty header name");
	parse_fails(" folded: s\n\n",
	            "msg.eml:1: a continuation line (it starts with a blank) before any header");
}

/* test_body_may_hold_any_byte - a NUL in the body is kept, its length counted */
static void test_body_may_hold_any_byte(void **state)
{
	static const char text[] = "Subject: s\n\na\0b\n";
	struct dryrun_message m;
	char err[64];

	(void)state;
	assert_int_equal(
	    dryrun_parse_message(text, sizeof(text) - 1, "msg.eml", &m, err, sizeof(err)), 0);
	assert_int_equal(m.body_len, 5);
	assert_memory_equal(m.body, "a\0b\r\n", 5);
	dryrun_message_free(&m);
}

/* test_addresses_from_an_address_list - angle, bare, comments, quotes, groups */
static void test_addresses_from_an_address_list(void **state)
{
	const char *want[] = {"a@x", "b@y", "c@z", "d@w", "\"e, f\"@v"};
	char **a;
	size_t n;

	(void)state;
	assert_int_equal(dryrun_addresses("Alice <a@x>, b@y (Bob, the \"builder\"),\r\n "
	                                  "friends: \"Carol, C.\" <c@z>, d@w;, \"e, f\"@v",
	                                  &a, &n),
	                 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(a[i], want[i]);
	dryrun_strings_free(a, n);
	assert_int_equal(dryrun_addresses("undisclosed-recipients:;", &a, &n), 0);
	assert_int_equal(n, 0);
	dryrun_strings_free(a, n);
}

/* test_default_from_prefers_return_path - then From; "<>" is the null sender */
static void test_default_from_prefers_return_path(void **state)
{
	struct dryrun_message m;
	char *from;

	(void)state;
	parse_ok("From: Alice <a@x>\nReturn-Path: <bounce@x>\n\n", &m);
	assert_int_equal(dryrun_default_from(&m, &from), 0);
	assert_string_equal(from, "bounce@x");
	free(from);
	dryrun_message_free(&m);

	parse_ok("From: Alice <a@x>\nReturn-Path: <>\n\n", &m);
	assert_int_equal(dryrun_default_from(&m, &from), 0);
	assert_string_equal(from, "");
	free(from);
	dryrun_message_free(&m);

	parse_ok("from: Alice <a@x>\n\n", &m);
	assert_int_equal(dryrun_default_from(&m, &from), 0);
	assert_string_equal(from, "a@x");
	free(from);
	dryrun_message_free(&m);

	parse_ok("Subject: none\n\n", &m);
	assert_int_equal(dryrun_default_from(&m, &from), 1);
	assert_null(from);
	dryrun_message_free(&m);
}

/* test_default_rcpts_are_to_and_cc_in_order - Bcc and others are not recipients here */
static void test_default_rcpts_are_to_and_cc_in_order(void **state)
{
	struct dryrun_message m;
	char **a;
	size_t n;

	(void)state;
	parse_ok("To: a@x, B <b@y>\nBcc: hidden@z\nCC: c@z\nReply-To: r@z\n\n", &m);
	assert_int_equal(dryrun_default_rcpts(&m, &a, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(a[0], "a@x");
	assert_string_equal(a[1], "b@y");
	assert_string_equal(a[2], "c@z");
	dryrun_strings_free(a, n);
	dryrun_message_free(&m);

	parse_ok("Subject: none\n\n", &m);
	assert_int_equal(dryrun_default_rcpts(&m, &a, &n), 0);
	assert_int_equal(n, 0);
	dryrun_strings_free(a, n);
	dryrun_message_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lf_message_gives_headers_and_crlf_body),
	    cmocka_unit_test(test_crlf_message_is_kept_as_is),
	    cmocka_unit_test(test_mbox_from_line_is_skipped),
	    cmocka_unit_test(test_continuation_lines_stay_in_their_header),
	    cmocka_unit_test(test_headers_only_file_has_an_empty_body),
	    cmocka_unit_test(test_line_without_colon_is_an_error_with_its_line),
	    cmocka_unit_test(test_bad_header_names_are_errors),
	    cmocka_unit_test(test_body_may_hold_any_byte),
	    cmocka_unit_test(test_addresses_from_an_address_list),
	    cmocka_unit_test(test_default_from_prefers_return_path),
	    cmocka_unit_test(test_default_rcpts_are_to_and_cc_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
