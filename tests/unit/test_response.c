/* test_response.c - parsing and validating hook answers (PROTOCOL.md section 3) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "response.h"

/* A failing case: the JSON (' stands for "), the return code, a word of the reason. */
struct bad_case {
	const char *json;
	int rc;
	const char *reason;
};

static char *dq(const char *sq);
static int parse_sq(const char *sq, struct verdict *v, char *err, size_t errlen);
static void assert_verdict_empty(const struct verdict *v);
static void run_bad_cases(const struct bad_case *cases, size_t n);
static void parse_ok(const char *sq, struct verdict *v);
static char *with_fill(const char *text, char c, size_t n);

/* dq - a copy of sq with every ' turned into " (JSON in C strings stays readable) */
static char *dq(const char *sq)
{
	size_t len = strlen(sq);
	char *s = malloc(len + 1), *p;

	assert_non_null(s);
	memcpy(s, sq, len + 1);
	for (p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

/* parse_sq - response_parse of a single-quoted JSON text with HTTP status 200 */
static int parse_sq(const char *sq, struct verdict *v, char *err, size_t errlen)
{
	char *json = dq(sq);
	int rc = response_parse(200, json, strlen(json), v, err, errlen);

	free(json);
	return rc;
}

/* assert_verdict_empty - every byte of the verdict is zero, as after a failure */
static void assert_verdict_empty(const struct verdict *v)
{
	static const struct verdict zero;

	assert_memory_equal(v, &zero, sizeof zero);
}

/* run_bad_cases - each case fails with its code and reason, and leaves the verdict empty */
static void run_bad_cases(const struct bad_case *cases, size_t n)
{
	struct verdict v;
	char err[256];
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		memset(&v, 0x5a, sizeof v); /* garbage in: response_parse must clear it */
		rc = parse_sq(cases[i].json, &v, err, sizeof err);
		if (rc != cases[i].rc)
			fail_msg("case %zu %s: rc %d, want %d (%s)", i, cases[i].json, rc,
			         cases[i].rc, err);
		assert_verdict_empty(&v);
		if (strstr(err, cases[i].reason) == NULL)
			fail_msg("case %zu %s: reason \"%s\" lacks \"%s\"", i, cases[i].json, err,
			         cases[i].reason);
	}
}

/* parse_ok - the text parses; the caller checks and frees the verdict */
static void parse_ok(const char *sq, struct verdict *v)
{
	char err[256] = "";
	int rc = parse_sq(sq, v, err, sizeof err);

	if (rc != 0)
		fail_msg("%s: rc %d (%s)", sq, rc, err);
}

/* with_fill - a new string: text with its one "%s" replaced by n times c */
static char *with_fill(const char *text, char c, size_t n)
{
	const char *at = strstr(text, "%s");
	size_t pre, post;
	char *s;

	assert_non_null(at);
	pre = (size_t)(at - text);
	post = strlen(at + 2);
	s = malloc(pre + n + post + 1);
	assert_non_null(s);
	memcpy(s, text, pre);
	memset(s + pre, c, n);
	memcpy(s + pre + n, at + 2, post + 1);
	return s;
}

/* ---- action and framing ---------------------------------------------------- */

static void test_each_action_is_recognised_case_insensitively(void **state)
{
	static const struct {
		const char *json;
		enum action want;
	} cases[] = {
	    {"{'action':'accept'}", ACTION_ACCEPT},
	    {"{'action':'ACCEPT'}", ACTION_ACCEPT},
	    {"{'action':'discard'}", ACTION_DISCARD},
	    {"{'action':'Discard'}", ACTION_DISCARD},
	    {"{'action':'reject'}", ACTION_REJECT},
	    {"{'action':'rEjEcT'}", ACTION_REJECT},
	    {"{'action':'quarantine'}", ACTION_QUARANTINE},
	    {"{'action':'QUARANTINE'}", ACTION_QUARANTINE},
	};
	struct verdict v;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		parse_ok(cases[i].json, &v);
		assert_int_equal(v.action, cases[i].want);
		assert_int_equal(v.nmods, 0);
		assert_null(v.mods);
		assert_int_equal(v.reply.status, 0);
		assert_null(v.reply.text);
		assert_null(v.warning);
		verdict_free(&v);
	}
}

static void test_missing_or_unknown_action_is_invalid(void **state)
{
	static const struct bad_case cases[] = {
	    {"{}", RESPONSE_ERR_INVALID, "action"},
	    {"{'response':{'status':550}}", RESPONSE_ERR_INVALID, "action"},
	    {"{'action':1}", RESPONSE_ERR_INVALID, "action"},
	    {"{'action':null}", RESPONSE_ERR_INVALID, "action"},
	    {"{'action':'allow'}", RESPONSE_ERR_INVALID, "action"},
	    {"{'action':'accept '}", RESPONSE_ERR_INVALID, "action"},
	    {"{'action':'accept\\u0000'}", RESPONSE_ERR_INVALID, "action"},
	    {"{'action':'tempfail'}", RESPONSE_ERR_INVALID, "action"},
	};

	run_bad_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_status_204_with_empty_body_is_accept(void **state)
{
	struct verdict v;
	char err[64];

	memset(&v, 0x5a, sizeof v);
	assert_int_equal(response_parse(204, "", 0, &v, err, sizeof err), 0);
	assert_int_equal(v.action, ACTION_ACCEPT);
	assert_int_equal(v.nmods, 0);
	verdict_free(&v);
	assert_int_equal(response_parse(204, " \r\n\t", 4, &v, err, sizeof err), 0);
	assert_int_equal(v.action, ACTION_ACCEPT);
	verdict_free(&v);
	assert_int_equal(response_parse(204, NULL, 0, &v, err, sizeof err), 0);
	assert_int_equal(v.action, ACTION_ACCEPT);
	verdict_free(&v);
}

static void test_other_2xx_with_empty_body_is_not_json(void **state)
{
	struct verdict v;
	char err[64];

	assert_int_equal(response_parse(200, "", 0, &v, err, sizeof err), RESPONSE_ERR_NOT_JSON);
	assert_verdict_empty(&v);
	assert_true(err[0] != '\0');
	assert_int_equal(response_parse(202, "  \n", 3, &v, err, sizeof err),
	                 RESPONSE_ERR_NOT_JSON);
	assert_int_equal(response_parse(200, NULL, 0, &v, err, sizeof err), RESPONSE_ERR_NOT_JSON);
}

static void test_204_with_a_json_body_is_parsed(void **state)
{
	static const char body[] = "{\"action\":\"reject\"}";
	struct verdict v;
	char err[64];

	assert_int_equal(response_parse(204, body, sizeof body - 1, &v, err, sizeof err), 0);
	assert_int_equal(v.action, ACTION_REJECT);
	verdict_free(&v);
}

static void test_body_must_be_exactly_one_json_value(void **state)
{
	static const struct bad_case cases[] = {
	    {"{'action':'accept'} x", RESPONSE_ERR_NOT_JSON, "not JSON"},
	    {"{'action':'accept'}{}", RESPONSE_ERR_NOT_JSON, "not JSON"},
	    {"{'action':'accept'},", RESPONSE_ERR_NOT_JSON, "not JSON"},
	    {"{'action':'accept'", RESPONSE_ERR_NOT_JSON, "not JSON"},
	    {"{'action':'accept',}", RESPONSE_ERR_NOT_JSON, "not JSON"},
	    {"{action:'accept'}", RESPONSE_ERR_NOT_JSON, "not JSON"},
	    {"/* c */ {'action':'accept'}", RESPONSE_ERR_NOT_JSON, "not JSON"},
	    {"accept", RESPONSE_ERR_NOT_JSON, "not JSON"},
	    {"<html>502</html>", RESPONSE_ERR_NOT_JSON, "not JSON"},
	};
	static const char nul_after[] = "{\"action\":\"accept\"}\0";
	struct verdict v;
	char err[128];

	run_bad_cases(cases, sizeof cases / sizeof cases[0]);
	assert_int_equal(response_parse(200, nul_after, sizeof nul_after - 1, &v, err, sizeof err),
	                 RESPONSE_ERR_NOT_JSON);
	assert_verdict_empty(&v);
	/* Only whitespace may follow. */
	parse_ok(" \n{'action':'accept'}\r\n\t ", &v);
	verdict_free(&v);
}

static void test_top_level_must_be_an_object(void **state)
{
	static const struct bad_case cases[] = {
	    {"[{'action':'accept'}]", RESPONSE_ERR_INVALID, "object"},
	    {"'accept'", RESPONSE_ERR_INVALID, "object"},
	    {"1", RESPONSE_ERR_INVALID, "object"},
	    {"null", RESPONSE_ERR_INVALID, "object"},
	    {"true", RESPONSE_ERR_INVALID, "object"},
	};

	run_bad_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_invalid_utf8_is_not_json(void **state)
{
	static const char body[] = "{\"action\":\"accept\",\"x\":\"\xff\"}";
	struct verdict v;
	char err[128];

	assert_int_equal(response_parse(200, body, sizeof body - 1, &v, err, sizeof err),
	                 RESPONSE_ERR_NOT_JSON);
	assert_verdict_empty(&v);
}

static void test_unknown_members_are_ignored(void **state)
{
	struct verdict v;

	parse_ok("{'action':'reject','extra':{'deep':[1,2,{'x':null}]},'response':{'status':550,"
	         "'unknown':true,'message':'no'},'modifications':[{'type':'addHeader','name':'X-A',"
	         "'value':'1','comment':'ignored','index':'not used by addHeader'}]}",
	         &v);
	assert_int_equal(v.action, ACTION_REJECT);
	assert_int_equal(v.reply.status, 550);
	assert_string_equal(v.reply.text, "no");
	assert_int_equal(v.nmods, 1);
	assert_int_equal(v.mods[0].type, MOD_ADD_HEADER);
	verdict_free(&v);
}

static void test_deep_nesting_is_refused_without_crashing(void **state)
{
	const size_t depth = 100000;
	char *body = malloc(depth * 2 + 64);
	struct verdict v;
	char err[128];
	size_t n = 0, i;

	assert_non_null(body);
	n += (size_t)sprintf(body, "{\"action\":\"accept\",\"x\":");
	for (i = 0; i < depth; i++)
		body[n++] = '[';
	for (i = 0; i < depth; i++)
		body[n++] = ']';
	body[n++] = '}';
	assert_int_equal(response_parse(200, body, n, &v, err, sizeof err), RESPONSE_ERR_NOT_JSON);
	assert_verdict_empty(&v);
	free(body);
}

static void test_huge_input_is_handled(void **state)
{
	const size_t size = 8u * 1024 * 1024;
	char *body = with_fill("{\"action\":\"accept\",\"junk\":\"%s\",\"modifications\":"
	                       "[{\"type\":\"replaceContents\",\"value\":\"small\"}]}",
	                       'j', size);
	struct verdict v;
	char err[64];

	assert_int_equal(response_parse(200, body, strlen(body), &v, err, sizeof err), 0);
	assert_int_equal(v.nmods, 1);
	assert_string_equal(v.mods[0].value, "small");
	verdict_free(&v);
	free(body);
	body = with_fill("{\"action\":\"accept\",\"modifications\":"
	                 "[{\"type\":\"replaceContents\",\"value\":\"%s\"}]}",
	                 'b', size);
	assert_int_equal(response_parse(200, body, strlen(body), &v, err, sizeof err), 0);
	assert_int_equal(v.mods[0].value_len, size);
	verdict_free(&v);
	free(body);
}

static void test_err_may_be_null(void **state)
{
	struct verdict v;

	assert_int_equal(response_parse(200, "{", 1, &v, NULL, 0), RESPONSE_ERR_NOT_JSON);
	assert_int_equal(response_parse(200, "[]", 2, &v, NULL, 0), RESPONSE_ERR_INVALID);
}

/* ---- the response object --------------------------------------------------- */

static void test_reject_keeps_status_enhanced_code_and_message(void **state)
{
	struct verdict v;

	parse_ok("{'action':'reject','response':{'status':550,'enhancedStatus':'5.7.1',"
	         "'message':'Spam detected','disconnect':false}}",
	         &v);
	assert_int_equal(v.action, ACTION_REJECT);
	assert_int_equal(v.reply.status, 550);
	assert_string_equal(v.reply.enhanced, "5.7.1");
	assert_string_equal(v.reply.text, "Spam detected");
	assert_int_equal(v.reply.disconnect, 0);
	assert_null(v.warning);
	verdict_free(&v);
}

static void test_status_may_be_a_numeric_string(void **state)
{
	struct verdict v;

	parse_ok("{'action':'reject','response':{'status':'451','enhancedStatus':'4.7.1'}}", &v);
	assert_int_equal(v.reply.status, 451);
	assert_string_equal(v.reply.enhanced, "4.7.1");
	verdict_free(&v);
}

static void test_enhanced_status_snake_case_is_accepted(void **state)
{
	struct verdict v;

	parse_ok("{'action':'reject','response':{'status':554,'enhanced_status':'5.7.0'}}", &v);
	assert_string_equal(v.reply.enhanced, "5.7.0");
	assert_null(v.warning);
	verdict_free(&v);
}

static void test_enhanced_status_camel_case_wins_over_snake_case(void **state)
{
	struct verdict v;

	parse_ok("{'action':'reject','response':{'status':550,'enhanced_status':'5.1.1',"
	         "'enhancedStatus':'5.7.1'}}",
	         &v);
	assert_string_equal(v.reply.enhanced, "5.7.1");
	verdict_free(&v);
	parse_ok("{'action':'reject','response':{'status':550,'enhancedStatus':null,"
	         "'enhanced_status':'5.1.1'}}",
	         &v);
	assert_string_equal(v.reply.enhanced, "5.1.1"); /* null counts as absent */
	verdict_free(&v);
}

static void test_reject_status_outside_4xx_5xx_is_invalid(void **state)
{
	static const struct bad_case cases[] = {
	    {"{'action':'reject','response':{'status':200}}", RESPONSE_ERR_INVALID, "status"},
	    {"{'action':'reject','response':{'status':399}}", RESPONSE_ERR_INVALID, "status"},
	    {"{'action':'reject','response':{'status':600}}", RESPONSE_ERR_INVALID, "status"},
	    {"{'action':'reject','response':{'status':-550}}", RESPONSE_ERR_INVALID, "status"},
	    {"{'action':'reject','response':{'status':'250'}}", RESPONSE_ERR_INVALID, "status"},
	    {"{'action':'reject','response':{'status':'55O'}}", RESPONSE_ERR_INVALID, "status"},
	    {"{'action':'reject','response':{'status':''}}", RESPONSE_ERR_INVALID, "status"},
	    {"{'action':'reject','response':{'status':' 550'}}", RESPONSE_ERR_INVALID, "status"},
	    {"{'action':'reject','response':{'status':550.5}}", RESPONSE_ERR_INVALID, "status"},
	    {"{'action':'reject','response':{'status':true}}", RESPONSE_ERR_INVALID, "status"},
	    {"{'action':'reject','response':{'status':[550]}}", RESPONSE_ERR_INVALID, "status"},
	    {"{'action':'reject','response':{'status':99999999999999999999}}", RESPONSE_ERR_INVALID,
	     "status"},
	};
	struct verdict v;

	run_bad_cases(cases, sizeof cases / sizeof cases[0]);
	parse_ok("{'action':'reject','response':{'status':400}}", &v);
	assert_int_equal(v.reply.status, 400);
	verdict_free(&v);
	parse_ok("{'action':'reject','response':{'status':'599'}}", &v);
	assert_int_equal(v.reply.status, 599);
	verdict_free(&v);
}

static void test_reject_without_status_is_fine(void **state)
{
	struct verdict v;

	parse_ok("{'action':'reject','response':{'message':'go away'}}", &v);
	assert_int_equal(v.reply.status, 0);
	assert_string_equal(v.reply.text, "go away");
	verdict_free(&v);
	parse_ok("{'action':'reject','response':null}", &v);
	assert_int_equal(v.action, ACTION_REJECT);
	assert_int_equal(v.reply.status, 0);
	verdict_free(&v);
	parse_ok("{'action':'reject','response':{'status':null}}", &v);
	assert_int_equal(v.reply.status, 0);
	verdict_free(&v);
}

static void test_malformed_enhanced_code_is_dropped_with_warning(void **state)
{
	static const char *const codes[] = {
	    "'5.7'",   "'5.7.1.'", "'3.1.1'",  "'5.1234.1'", "'5.1.1234'", "'x'",
	    "571",     "'5..1'",   "'.5.7.1'", "'5.7.1 '",   "''",         "'55.1.1'",
	    "'5.a.1'", "true",     "'5.7.1x'", "{}",
	};
	struct verdict v;
	char sq[160];
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		snprintf(sq, sizeof sq,
		         "{'action':'reject','response':{'status':550,'enhancedStatus':%s,"
		         "'message':'kept'}}",
		         codes[i]);
		parse_ok(sq, &v);
		if (v.reply.enhanced[0] != '\0')
			fail_msg("%s kept as \"%s\"", codes[i], v.reply.enhanced);
		assert_non_null(v.warning);
		assert_int_equal(v.reply.status, 550);
		assert_string_equal(v.reply.text, "kept");
		verdict_free(&v);
	}
}

static void test_enhanced_code_of_another_class_is_dropped_with_warning(void **state)
{
	struct verdict v;

	parse_ok("{'action':'reject','response':{'status':550,'enhancedStatus':'4.7.1',"
	         "'message':'still sent'}}",
	         &v);
	assert_int_equal(v.reply.status, 550);
	assert_string_equal(v.reply.enhanced, "");
	assert_string_equal(v.reply.text, "still sent");
	assert_non_null(v.warning);
	verdict_free(&v);
	parse_ok("{'action':'reject','response':{'status':450,'enhanced_status':'5.7.1'}}", &v);
	assert_string_equal(v.reply.enhanced, "");
	assert_non_null(v.warning);
	verdict_free(&v);
}

static void test_enhanced_code_shapes_accepted(void **state)
{
	static const char *const codes[] = {"5.0.0", "5.123.456", "5.1.22", "5.99.9"};
	struct verdict v;
	char sq[160];
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		snprintf(sq, sizeof sq,
		         "{'action':'reject','response':{'status':554,'enhancedStatus':'%s'}}",
		         codes[i]);
		parse_ok(sq, &v);
		assert_string_equal(v.reply.enhanced, codes[i]);
		assert_null(v.warning);
		verdict_free(&v);
	}
}

static void test_accept_ignores_the_response_object_even_malformed(void **state)
{
	static const char *const bodies[] = {
	    "{'action':'accept','response':{'status':550,'enhancedStatus':'5.7.1','message':'x',"
	    "'disconnect':true}}",
	    "{'action':'accept','response':{'status':200,'message':'a\\u0000b','disconnect':'yes'}"
	    "}",
	    "{'action':'accept','response':'not an object'}",
	    "{'action':'accept','response':[1,2]}",
	};
	struct verdict v;
	size_t i;

	for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		parse_ok(bodies[i], &v);
		assert_int_equal(v.action, ACTION_ACCEPT);
		assert_int_equal(v.reply.status, 0);
		assert_string_equal(v.reply.enhanced, "");
		assert_null(v.reply.text);
		assert_int_equal(v.reply.disconnect, 0);
		assert_null(v.warning);
		verdict_free(&v);
	}
}

static void test_discard_and_quarantine_keep_only_the_message(void **state)
{
	static const char *const bodies[] = {
	    "{'action':'discard','response':{'status':550,'enhancedStatus':'5.7.1','message':"
	    "'why'}}",
	    "{'action':'quarantine','response':{'status':200,'enhancedStatus':'junk','message':"
	    "'why'}}",
	};
	struct verdict v;
	size_t i;

	for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		parse_ok(bodies[i], &v);
		assert_int_equal(v.reply.status, 0);
		assert_string_equal(v.reply.enhanced, "");
		assert_string_equal(v.reply.text, "why");
		assert_int_equal(v.reply.disconnect, 0);
		assert_null(v.warning);
		verdict_free(&v);
	}
}

static void test_quarantine_without_message_has_no_text(void **state)
{
	struct verdict v;

	parse_ok("{'action':'quarantine'}", &v);
	assert_int_equal(v.action, ACTION_QUARANTINE);
	assert_null(v.reply.text);
	verdict_free(&v);
}

static void test_disconnect_without_status_is_fine(void **state)
{
	struct verdict v;

	parse_ok("{'action':'reject','response':{'disconnect':true}}", &v);
	assert_int_equal(v.reply.disconnect, 1);
	assert_int_equal(v.reply.status, 0);
	verdict_free(&v);
}

/* A disconnect goes out as 421, so a class-4 code survives a 5xx status, a class-5 one not. */
static void test_disconnect_keeps_class_4_code_whatever_the_status(void **state)
{
	struct verdict v;

	parse_ok("{'action':'reject','response':{'status':550,'enhancedStatus':'4.7.1',"
	         "'disconnect':true}}",
	         &v);
	assert_string_equal(v.reply.enhanced, "4.7.1");
	assert_null(v.warning);
	verdict_free(&v);
	parse_ok("{'action':'reject','response':{'status':550,'enhancedStatus':'5.7.1',"
	         "'disconnect':true}}",
	         &v);
	assert_string_equal(v.reply.enhanced, "");
	assert_non_null(v.warning);
	verdict_free(&v);
}

static void test_disconnect_kept_with_discard_and_its_enhanced_code(void **state)
{
	struct verdict v;

	parse_ok("{'action':'discard','response':{'disconnect':true,'enhancedStatus':'4.7.2',"
	         "'message':'bye'}}",
	         &v);
	assert_int_equal(v.action, ACTION_DISCARD);
	assert_int_equal(v.reply.disconnect, 1);
	assert_string_equal(v.reply.enhanced, "4.7.2"); /* the 421 carries it */
	assert_string_equal(v.reply.text, "bye");
	verdict_free(&v);
}

static void test_bad_response_members_make_non_accept_invalid(void **state)
{
	static const struct bad_case cases[] = {
	    {"{'action':'reject','response':'no'}", RESPONSE_ERR_INVALID, "response"},
	    {"{'action':'discard','response':[]}", RESPONSE_ERR_INVALID, "response"},
	    {"{'action':'reject','response':{'disconnect':'true'}}", RESPONSE_ERR_INVALID,
	     "disconnect"},
	    {"{'action':'reject','response':{'disconnect':1}}", RESPONSE_ERR_INVALID, "disconnect"},
	    {"{'action':'reject','response':{'message':550}}", RESPONSE_ERR_INVALID, "message"},
	    {"{'action':'quarantine','response':{'message':['a']}}", RESPONSE_ERR_INVALID,
	     "message"},
	};

	run_bad_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_message_may_have_lf_or_crlf_line_breaks(void **state)
{
	struct verdict v;

	parse_ok("{'action':'reject','response':{'status':550,'message':'one\\ntwo\\r\\nthree'}}",
	         &v);
	assert_string_equal(v.reply.text, "one\ntwo\r\nthree");
	verdict_free(&v);
	/* A final line break is not an empty last line. */
	parse_ok("{'action':'reject','response':{'status':550,'message':'one\\r\\n'}}", &v);
	assert_string_equal(v.reply.text, "one");
	verdict_free(&v);
	parse_ok("{'action':'reject','response':{'status':550,'message':''}}", &v);
	assert_null(v.reply.text);
	verdict_free(&v);
}

static void test_message_rules(void **state)
{
	static const struct bad_case cases[] = {
	    {"{'action':'reject','response':{'message':'a\\rb'}}", RESPONSE_ERR_INVALID, "message"},
	    {"{'action':'reject','response':{'message':'a\\r'}}", RESPONSE_ERR_INVALID, "message"},
	    {"{'action':'reject','response':{'message':'a\\u0000b'}}", RESPONSE_ERR_INVALID,
	     "message"},
	    {"{'action':'quarantine','response':{'message':'a\\u0000b'}}", RESPONSE_ERR_INVALID,
	     "message"},
	};
	struct verdict v;
	char line[1100], lines[40 * 4 + 1], *sq;
	size_t i;

	run_bad_cases(cases, sizeof cases / sizeof cases[0]);
	/* 32 lines pass, 33 do not */
	for (i = 0; i < 33; i++)
		memcpy(lines + i * 4,
		       "l\\n"
		       "x",
		       4);
	lines[31 * 4 + 1] = '\0'; /* "l\nx" * 31 + "l" = 32 lines */
	snprintf(line, sizeof line, "{'action':'reject','response':{'message':'%s'}}", lines);
	parse_ok(line, &v);
	verdict_free(&v);
	lines[31 * 4 + 1] = '\\';
	lines[32 * 4 + 1] = '\0'; /* 33 lines */
	snprintf(line, sizeof line, "{'action':'reject','response':{'message':'%s'}}", lines);
	assert_int_equal(parse_sq(line, &v, NULL, 0), RESPONSE_ERR_INVALID);
	/* a line of 998 bytes passes, 999 does not */
	sq = with_fill("{'action':'reject','response':{'message':'first\\r\\n%s'}}", 'm', 998);
	parse_ok(sq, &v);
	assert_int_equal(strlen(v.reply.text), 998 + 7);
	verdict_free(&v);
	free(sq);
	sq = with_fill("{'action':'reject','response':{'message':'first\\r\\n%s'}}", 'm', 999);
	assert_int_equal(parse_sq(sq, &v, NULL, 0), RESPONSE_ERR_INVALID);
	free(sq);
}

/* ---- modifications ----------------------------------------------------------- */

static void test_change_from_with_parameters(void **state)
{
	struct verdict v;
	struct modification *m;

	parse_ok("{'action':'accept','modifications':[{'type':'changeFrom','value':"
	         "'bounce@example.org','parameters':{'ret':'HDRS','envid':'QQ+2B1'}}]}",
	         &v);
	assert_int_equal(v.nmods, 1);
	m = &v.mods[0];
	assert_int_equal(m->type, MOD_CHANGE_FROM);
	assert_null(m->name);
	assert_string_equal(m->value, "bounce@example.org");
	assert_int_equal(m->value_len, strlen("bounce@example.org"));
	assert_string_equal(m->params, "RET=HDRS ENVID=QQ+2B1");
	assert_int_equal(m->index, 0);
	verdict_free(&v);
}

static void test_change_from_allows_the_null_sender_and_angle_brackets(void **state)
{
	struct verdict v;

	parse_ok("{'action':'accept','modifications':[{'type':'changeFrom','value':''},"
	         "{'type':'changeFrom','value':'<a@example.org>'}]}",
	         &v);
	assert_int_equal(v.nmods, 2);
	assert_string_equal(v.mods[0].value, "");
	assert_null(v.mods[0].params);
	assert_string_equal(v.mods[1].value, "<a@example.org>"); /* kept as given */
	verdict_free(&v);
}

static void test_add_recipient_both_spellings(void **state)
{
	static const char *const spellings[] = {"addRecipient", "addRcpt"};
	struct verdict v;
	char sq[200];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(
		    sq, sizeof sq,
		    "{'action':'accept','modifications':[{'type':'%s','value':'new@example.net',"
		    "'parameters':{'notify':'NEVER'}}]}",
		    spellings[i]);
		parse_ok(sq, &v);
		assert_int_equal(v.nmods, 1);
		assert_int_equal(v.mods[0].type, MOD_ADD_RCPT);
		assert_string_equal(v.mods[0].value, "new@example.net");
		assert_string_equal(v.mods[0].params, "NOTIFY=NEVER");
		verdict_free(&v);
	}
}

static void test_delete_recipient_both_spellings(void **state)
{
	static const char *const spellings[] = {"deleteRecipient", "deleteRcpt"};
	struct verdict v;
	char sq[200];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(
		    sq, sizeof sq,
		    "{'action':'accept','modifications':[{'type':'%s','value':'<old@example.net>',"
		    "'parameters':{'notify':'NEVER'}}]}",
		    spellings[i]);
		parse_ok(sq, &v);
		assert_int_equal(v.mods[0].type, MOD_DELETE_RCPT);
		assert_string_equal(v.mods[0].value, "<old@example.net>");
		assert_null(v.mods[0].params); /* deleteRecipient has no parameters */
		assert_null(v.mods[0].name);
		verdict_free(&v);
	}
}

static void test_replace_contents_keeps_every_byte(void **state)
{
	struct verdict v;

	parse_ok("{'action':'accept','modifications':[{'type':'replaceContents','value':"
	         "'new\\r\\nbody\\u0000\\r\\n\\u00e9\\n'}]}",
	         &v);
	assert_int_equal(v.mods[0].type, MOD_REPLACE_CONTENTS);
	assert_int_equal(v.mods[0].value_len, 15);
	assert_memory_equal(v.mods[0].value, "new\r\nbody\0\r\n\xc3\xa9\n", 16);
	assert_null(v.mods[0].name);
	assert_null(v.mods[0].params);
	verdict_free(&v);
	parse_ok("{'action':'accept','modifications':[{'type':'replaceContents','value':''}]}", &v);
	assert_int_equal(v.mods[0].value_len, 0);
	assert_string_equal(v.mods[0].value, "");
	verdict_free(&v);
}

static void test_header_modifications_exact_contents(void **state)
{
	struct verdict v;
	struct modification *m;

	parse_ok("{'action':'accept','modifications':["
	         "{'type':'addHeader','name':'X-Spam-Score','value':'3.5'},"
	         "{'type':'insertHeader','index':0,'name':'X-Top','value':'first'},"
	         "{'type':'changeHeader','index':2,'name':'Subject','value':'[SPAM] hi'},"
	         "{'type':'deleteHeader','index':1,'name':'X-Mailer'}]}",
	         &v);
	assert_int_equal(v.nmods, 4);
	m = v.mods;
	assert_int_equal(m[0].type, MOD_ADD_HEADER);
	assert_string_equal(m[0].name, "X-Spam-Score");
	assert_string_equal(m[0].value, "3.5");
	assert_int_equal(m[0].value_len, 3);
	assert_int_equal(m[0].index, 0);
	assert_int_equal(m[1].type, MOD_INSERT_HEADER);
	assert_int_equal(m[1].index, 0);
	assert_string_equal(m[1].name, "X-Top");
	assert_string_equal(m[1].value, "first");
	assert_int_equal(m[2].type, MOD_CHANGE_HEADER);
	assert_int_equal(m[2].index, 2);
	assert_string_equal(m[2].name, "Subject");
	assert_string_equal(m[2].value, "[SPAM] hi");
	assert_int_equal(m[3].type, MOD_DELETE_HEADER);
	assert_int_equal(m[3].index, 1);
	assert_string_equal(m[3].name, "X-Mailer");
	assert_null(m[3].value);
	assert_null(m[3].params);
	verdict_free(&v);
}

static void test_modifications_keep_their_order(void **state)
{
	static const enum mod_type want[] = {MOD_DELETE_RCPT, MOD_ADD_HEADER, MOD_ADD_RCPT,
	                                     MOD_REPLACE_CONTENTS, MOD_CHANGE_FROM};
	struct verdict v;
	size_t i;

	parse_ok("{'action':'quarantine','modifications':["
	         "{'type':'deleteRcpt','value':'a@x'},{'type':'addHeader','name':'A','value':''},"
	         "{'type':'addRcpt','value':'b@x'},{'type':'replaceContents','value':'x'},"
	         "{'type':'changeFrom','value':'c@x'}]}",
	         &v);
	assert_int_equal(v.nmods, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(v.mods[i].type, want[i]);
	verdict_free(&v);
}

static void test_modifications_null_or_empty_means_none(void **state)
{
	struct verdict v;

	parse_ok("{'action':'accept','modifications':null}", &v);
	assert_int_equal(v.nmods, 0);
	assert_null(v.mods);
	verdict_free(&v);
	parse_ok("{'action':'accept','modifications':[]}", &v);
	assert_int_equal(v.nmods, 0);
	verdict_free(&v);
}

static void test_parameters_render_in_order_uppercase_with_bare_keywords(void **state)
{
	static const struct {
		const char *params;
		const char *want; /* NULL: none */
	} cases[] = {
	    {"{'ret':'FULL','envid':'abc','smtputf8':null}", "RET=FULL ENVID=abc SMTPUTF8"},
	    {"{'SIZE':12345,'body':'8BITMIME'}", "SIZE=12345 BODY=8BITMIME"},
	    {"{'x-Custom-1':'a=b'}", "X-CUSTOM-1=a=b"},
	    {"{'orcpt':'rfc822;u+2Bx@example.org'}", "ORCPT=rfc822;u+2Bx@example.org"},
	    {"{'n':-1}", "N=-1"},
	    {"{}", NULL},
	    {"null", NULL},
	};
	struct verdict v;
	char sq[256];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(sq, sizeof sq,
		         "{'action':'accept','modifications':[{'type':'addRecipient','value':'r@x',"
		         "'parameters':%s}]}",
		         cases[i].params);
		parse_ok(sq, &v);
		if (cases[i].want)
			assert_string_equal(v.mods[0].params, cases[i].want);
		else
			assert_null(v.mods[0].params);
		verdict_free(&v);
	}
}

static void test_bad_parameters_are_invalid(void **state)
{
	static const char *const params[] = {
	    "{'ret':'has space'}",
	    "{'ret':'tab\\there'}",
	    "{'ret':'nl\\n'}",
	    "{'ret':'nul\\u0000'}",
	    "{'a b':null}",
	    "{'a_b':null}",
	    "{'':null}",
	    "{'-x':null}",
	    "{'a:':'1'}",
	    "{'ret':true}",
	    "{'ret':{}}",
	    "{'ret':['FULL']}",
	    "{'ret':1.5}",
	    "{'ret':''}",
	    "'RET=FULL'",
	    "['RET']",
	    "{'ret':'del\\u007f'}",
	    "{'k\\u00e9':null}",
	};
	struct bad_case c;
	char sq[256];
	size_t i;

	for (i = 0; i < sizeof params / sizeof params[0]; i++) {
		snprintf(sq, sizeof sq,
		         "{'action':'accept','modifications':[{'type':'changeFrom','value':'a@x'},"
		         "{'type':'changeFrom','value':'a@x','parameters':%s}]}",
		         params[i]);
		c = (struct bad_case){sq, RESPONSE_ERR_INVALID, "modifications[1]: parameter"};
		run_bad_cases(&c, 1);
	}
}

static void test_header_name_rules(void **state)
{
	static const char *const names[] = {
	    "X-Colon:",
	    "X Space",
	    "",
	    "X-Tab\\t",
	    "X-\\u00e9",
	    "X-Del\\u007f",
	    "X-Nul\\u0000",
	    /* header injection: a line break in the name starts a header of its own */
	    "X-A\\r\\nBcc",
	    "X-Lf\\n",
	    "X-Cr\\rBcc",
	};
	struct verdict v;
	struct bad_case c;
	char sq[256], *long_name;
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(sq, sizeof sq,
		         "{'action':'accept','modifications':[{'type':'addHeader','name':'%s',"
		         "'value':'v'}]}",
		         names[i]);
		c = (struct bad_case){sq, RESPONSE_ERR_INVALID, "modifications[0]: header name"};
		run_bad_cases(&c, 1);
	}
	long_name = with_fill("{'action':'accept','modifications':[{'type':'deleteHeader','index':"
	                      "1,'name':'%s'}]}",
	                      'N', 998);
	c = (struct bad_case){long_name, RESPONSE_ERR_INVALID, "header name"};
	run_bad_cases(&c, 1);
	free(long_name);
	long_name = with_fill("{'action':'accept','modifications':[{'type':'deleteHeader','index':"
	                      "1,'name':'%s'}]}",
	                      'N', 997);
	parse_ok(long_name, &v);
	assert_int_equal(strlen(v.mods[0].name), 997);
	verdict_free(&v);
	free(long_name);
	parse_ok(
	    "{'action':'accept','modifications':[{'type':'addHeader','name':'!#$%&*+-.^_`|~09',"
	    "'value':''}]}",
	    &v);
	assert_string_equal(v.mods[0].name, "!#$%&*+-.^_`|~09");
	verdict_free(&v);
}

static void test_header_value_rules(void **state)
{
	static const char *const bad[] = {
	    "bare\\nLF", "bare\\rCR",      "crlf\\r\\nnot folded", "ends\\r\\n",
	    "ends\\n",   "nul\\u0000byte", "cr\\r\\r\\n x",        "lf-then-cr\\n\\r",
	};
	static const struct {
		const char *json;
		const char *want;
	} good[] = {
	    {"crlf\\r\\n folded", "crlf\r\n folded"},
	    {"lf\\n\\tfolded", "lf\n\tfolded"},
	    {"two\\r\\n a\\r\\n\\tb", "two\r\n a\r\n\tb"},
	    {"utf8 \\u00e9", "utf8 \xc3\xa9"},
	    {"", ""},
	};
	struct verdict v;
	struct bad_case c;
	char sq[256], *big;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(sq, sizeof sq,
		         "{'action':'accept','modifications':[{'type':'changeHeader','index':1,"
		         "'name':'Subject','value':'%s'}]}",
		         bad[i]);
		c = (struct bad_case){sq, RESPONSE_ERR_INVALID, "modifications[0]: header value"};
		run_bad_cases(&c, 1);
	}
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(sq, sizeof sq,
		         "{'action':'accept','modifications':[{'type':'insertHeader','index':3,"
		         "'name':'X-H','value':'%s'}]}",
		         good[i].json);
		parse_ok(sq, &v);
		assert_string_equal(v.mods[0].value, good[i].want);
		assert_int_equal(v.mods[0].value_len, strlen(good[i].want));
		verdict_free(&v);
	}
	big = with_fill("{'action':'accept','modifications':[{'type':'addHeader','name':'X-Big',"
	                "'value':'%s'}]}",
	                'v', HEADER_VALUE_MAX);
	parse_ok(big, &v);
	assert_int_equal(v.mods[0].value_len, HEADER_VALUE_MAX);
	verdict_free(&v);
	free(big);
	big = with_fill("{'action':'accept','modifications':[{'type':'addHeader','name':'X-Big',"
	                "'value':'%s'}]}",
	                'v', HEADER_VALUE_MAX + 1);
	c = (struct bad_case){big, RESPONSE_ERR_INVALID, "64 KiB"};
	run_bad_cases(&c, 1);
	free(big);
}

static void test_index_rules(void **state)
{
	static const struct bad_case cases[] = {
	    {"{'action':'accept','modifications':[{'type':'addHeader','name':'A','value':'1'},"
	     "{'type':'addHeader','name':'B','value':'2'},"
	     "{'type':'insertHeader','name':'X','value':'v'}]}",
	     RESPONSE_ERR_INVALID, "modifications[2]: insertHeader needs an integer index"},
	    {"{'action':'accept','modifications':[{'type':'insertHeader','index':-1,'name':'X',"
	     "'value':'v'}]}",
	     RESPONSE_ERR_INVALID, "index"},
	    {"{'action':'accept','modifications':[{'type':'changeHeader','index':1.5,'name':'X',"
	     "'value':'v'}]}",
	     RESPONSE_ERR_INVALID, "integer index"},
	    {"{'action':'accept','modifications':[{'type':'changeHeader','index':1.0,'name':'X',"
	     "'value':'v'}]}",
	     RESPONSE_ERR_INVALID, "integer index"},
	    {"{'action':'accept','modifications':[{'type':'deleteHeader','index':'1','name':'X'}]}",
	     RESPONSE_ERR_INVALID, "integer index"},
	    {"{'action':'accept','modifications':[{'type':'deleteHeader','index':null,'name':'X'}]"
	     "}",
	     RESPONSE_ERR_INVALID, "integer index"},
	    {"{'action':'accept','modifications':[{'type':'deleteHeader','name':'X'}]}",
	     RESPONSE_ERR_INVALID, "deleteHeader needs an integer index"},
	    {"{'action':'accept','modifications':[{'type':'changeHeader','name':'X','value':'v'}]}",
	     RESPONSE_ERR_INVALID, "changeHeader needs an integer index"},
	    {"{'action':'accept','modifications':[{'type':'deleteHeader','index':1000001,"
	     "'name':'X'}]}",
	     RESPONSE_ERR_INVALID, "index"},
	    {"{'action':'accept','modifications':[{'type':'deleteHeader','index':"
	     "18446744073709551616,'name':'X'}]}",
	     RESPONSE_ERR_INVALID, "index"},
	};
	struct verdict v;

	run_bad_cases(cases, sizeof cases / sizeof cases[0]);
	parse_ok("{'action':'accept','modifications':[{'type':'deleteHeader','index':1000000,"
	         "'name':'X'},{'type':'changeHeader','index':0,'name':'X','value':''}]}",
	         &v);
	assert_int_equal(v.mods[0].index, 1000000);
	assert_int_equal(v.mods[1].index, 0); /* passed on unchanged; milter.c maps 0 to 1 */
	verdict_free(&v);
}

static void test_unknown_or_missing_type_is_invalid(void **state)
{
	static const struct bad_case cases[] = {
	    {"{'action':'accept','modifications':[{'type':'removeHeader','name':'X','index':1}]}",
	     RESPONSE_ERR_INVALID, "modifications[0]: unknown type"},
	    {"{'action':'accept','modifications':[{'type':'addheader','name':'X','value':'v'}]}",
	     RESPONSE_ERR_INVALID, "unknown type"},
	    {"{'action':'accept','modifications':[{'type':'AddRcpt','value':'a@x'}]}",
	     RESPONSE_ERR_INVALID, "unknown type"},
	    {"{'action':'accept','modifications':[{'name':'X','value':'v'}]}", RESPONSE_ERR_INVALID,
	     "type"},
	    {"{'action':'accept','modifications':[{'type':3}]}", RESPONSE_ERR_INVALID, "type"},
	    {"{'action':'accept','modifications':[{'type':'addHeader','name':'X','value':'v'},"
	     "{'type':'quarantine'}]}",
	     RESPONSE_ERR_INVALID, "modifications[1]: unknown type"},
	};

	run_bad_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_missing_or_mistyped_fields_are_invalid(void **state)
{
	static const struct bad_case cases[] = {
	    {"{'action':'accept','modifications':[{'type':'addHeader','name':'X'}]}",
	     RESPONSE_ERR_INVALID, "addHeader needs a string value"},
	    {"{'action':'accept','modifications':[{'type':'addHeader','value':'v'}]}",
	     RESPONSE_ERR_INVALID, "addHeader needs a string name"},
	    {"{'action':'accept','modifications':[{'type':'addHeader','name':1,'value':'v'}]}",
	     RESPONSE_ERR_INVALID, "name"},
	    {"{'action':'accept','modifications':[{'type':'addHeader','name':'X','value':5}]}",
	     RESPONSE_ERR_INVALID, "value"},
	    {"{'action':'accept','modifications':[{'type':'changeFrom'}]}", RESPONSE_ERR_INVALID,
	     "changeFrom needs a string value"},
	    {"{'action':'accept','modifications':[{'type':'changeFrom','value':null}]}",
	     RESPONSE_ERR_INVALID, "value"},
	    {"{'action':'accept','modifications':[{'type':'replaceContents'}]}",
	     RESPONSE_ERR_INVALID, "replaceContents needs a string value"},
	    {"{'action':'accept','modifications':[{'type':'deleteHeader','index':1}]}",
	     RESPONSE_ERR_INVALID, "deleteHeader needs a string name"},
	    {"{'action':'accept','modifications':[{'type':'addRcpt'}]}", RESPONSE_ERR_INVALID,
	     "addRcpt needs a string value"},
	    {"{'action':'accept','modifications':{'type':'addRcpt','value':'a@x'}}",
	     RESPONSE_ERR_INVALID, "modifications"},
	    {"{'action':'accept','modifications':[null]}", RESPONSE_ERR_INVALID,
	     "modifications[0]: not an object"},
	    {"{'action':'accept','modifications':['addHeader']}", RESPONSE_ERR_INVALID,
	     "not an object"},
	};

	run_bad_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_address_rules(void **state)
{
	static const struct bad_case cases[] = {
	    {"{'action':'accept','modifications':[{'type':'addRecipient','value':''}]}",
	     RESPONSE_ERR_INVALID, "address is empty"},
	    {"{'action':'accept','modifications':[{'type':'deleteRcpt','value':''}]}",
	     RESPONSE_ERR_INVALID, "address is empty"},
	    {"{'action':'accept','modifications':[{'type':'addRcpt','value':'a@x\\r\\nRCPT "
	     "TO:<b>'}]}",
	     RESPONSE_ERR_INVALID, "address"},
	    {"{'action':'accept','modifications':[{'type':'changeFrom','value':'a@x\\n'}]}",
	     RESPONSE_ERR_INVALID, "address"},
	    {"{'action':'accept','modifications':[{'type':'changeFrom','value':'a\\u0000@x'}]}",
	     RESPONSE_ERR_INVALID, "address"},
	    {"{'action':'accept','modifications':[{'type':'deleteRecipient','value':'a@x\\r'}]}",
	     RESPONSE_ERR_INVALID, "address"},
	};
	struct verdict v;
	struct bad_case c;
	char *sq;

	run_bad_cases(cases, sizeof cases / sizeof cases[0]);
	sq = with_fill("{'action':'accept','modifications':[{'type':'addRcpt','value':'%s'}]}", 'a',
	               998);
	parse_ok(sq, &v);
	assert_int_equal(v.mods[0].value_len, 998);
	verdict_free(&v);
	free(sq);
	sq = with_fill("{'action':'accept','modifications':[{'type':'addRcpt','value':'%s'}]}", 'a',
	               999);
	c = (struct bad_case){sq, RESPONSE_ERR_INVALID, "998"};
	run_bad_cases(&c, 1);
	free(sq);
}

static void test_one_bad_item_voids_the_whole_verdict(void **state)
{
	static const struct bad_case cases[] = {
	    /* good items with every owned field before the bad one: freed, not leaked */
	    {"{'action':'reject','response':{'status':550,'message':'m'},'modifications':["
	     "{'type':'changeFrom','value':'a@x','parameters':{'ret':'FULL'}},"
	     "{'type':'addHeader','name':'X','value':'v'},"
	     "{'type':'replaceContents','value':'body'},"
	     "{'type':'addHeader','name':'Bad:','value':'v'}]}",
	     RESPONSE_ERR_INVALID, "modifications[3]: header name contains ':'"},
	    {"{'action':'accept','modifications':["
	     "{'type':'addHeader','name':'X','value':'v'},"
	     "{'type':'addRcpt','value':'a@x','parameters':{'bad key':null}}]}",
	     RESPONSE_ERR_INVALID, "modifications[1]"},
	    {"{'action':'quarantine','response':{'message':'q'},'modifications':["
	     "{'type':'insertHeader','index':1,'name':'X','value':'v\\n'}]}",
	     RESPONSE_ERR_INVALID, "modifications[0]"},
	};

	run_bad_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_verdict_free_zeroes_and_accepts_null(void **state)
{
	struct verdict v;
	struct modification m = {0};

	parse_ok("{'action':'reject','response':{'status':550,'message':'x'},'modifications':"
	         "[{'type':'addHeader','name':'A','value':'b'}]}",
	         &v);
	verdict_free(&v);
	assert_verdict_empty(&v);
	verdict_free(&v); /* twice is harmless */
	verdict_free(NULL);
	modification_free(NULL);
	modification_free(&m);
}

static void test_action_names(void **state)
{
	assert_string_equal(action_name(ACTION_ACCEPT), "accept");
	assert_string_equal(action_name(ACTION_DISCARD), "discard");
	assert_string_equal(action_name(ACTION_REJECT), "reject");
	assert_string_equal(action_name(ACTION_QUARANTINE), "quarantine");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_action_is_recognised_case_insensitively),
	    cmocka_unit_test(test_missing_or_unknown_action_is_invalid),
	    cmocka_unit_test(test_status_204_with_empty_body_is_accept),
	    cmocka_unit_test(test_other_2xx_with_empty_body_is_not_json),
	    cmocka_unit_test(test_204_with_a_json_body_is_parsed),
	    cmocka_unit_test(test_body_must_be_exactly_one_json_value),
	    cmocka_unit_test(test_top_level_must_be_an_object),
	    cmocka_unit_test(test_invalid_utf8_is_not_json),
	    cmocka_unit_test(test_unknown_members_are_ignored),
	    cmocka_unit_test(test_deep_nesting_is_refused_without_crashing),
	    cmocka_unit_test(test_huge_input_is_handled),
	    cmocka_unit_test(test_err_may_be_null),
	    cmocka_unit_test(test_reject_keeps_status_enhanced_code_and_message),
	    cmocka_unit_test(test_status_may_be_a_numeric_string),
	    cmocka_unit_test(test_enhanced_status_snake_case_is_accepted),
	    cmocka_unit_test(test_enhanced_status_camel_case_wins_over_snake_case),
	    cmocka_unit_test(test_reject_status_outside_4xx_5xx_is_invalid),
	    cmocka_unit_test(test_reject_without_status_is_fine),
	    cmocka_unit_test(test_malformed_enhanced_code_is_dropped_with_warning),
	    cmocka_unit_test(test_enhanced_code_of_another_class_is_dropped_with_warning),
	    cmocka_unit_test(test_enhanced_code_shapes_accepted),
	    cmocka_unit_test(test_accept_ignores_the_response_object_even_malformed),
	    cmocka_unit_test(test_discard_and_quarantine_keep_only_the_message),
	    cmocka_unit_test(test_quarantine_without_message_has_no_text),
	    cmocka_unit_test(test_disconnect_without_status_is_fine),
	    cmocka_unit_test(test_disconnect_keeps_class_4_code_whatever_the_status),
	    cmocka_unit_test(test_disconnect_kept_with_discard_and_its_enhanced_code),
	    cmocka_unit_test(test_bad_response_members_make_non_accept_invalid),
	    cmocka_unit_test(test_message_may_have_lf_or_crlf_line_breaks),
	    cmocka_unit_test(test_message_rules),
	    cmocka_unit_test(test_change_from_with_parameters),
	    cmocka_unit_test(test_change_from_allows_the_null_sender_and_angle_brackets),
	    cmocka_unit_test(test_add_recipient_both_spellings),
	    cmocka_unit_test(test_delete_recipient_both_spellings),
	    cmocka_unit_test(test_replace_contents_keeps_every_byte),
	    cmocka_unit_test(test_header_modifications_exact_contents),
	    cmocka_unit_test(test_modifications_keep_their_order),
	    cmocka_unit_test(test_modifications_null_or_empty_means_none),
	    cmocka_unit_test(test_parameters_render_in_order_uppercase_with_bare_keywords),
	    cmocka_unit_test(test_bad_parameters_are_invalid),
	    cmocka_unit_test(test_header_name_rules),
	    cmocka_unit_test(test_header_value_rules),
	    cmocka_unit_test(test_index_rules),
	    cmocka_unit_test(test_unknown_or_missing_type_is_invalid),
	    cmocka_unit_test(test_missing_or_mistyped_fields_are_invalid),
	    cmocka_unit_test(test_address_rules),
	    cmocka_unit_test(test_one_bad_item_voids_the_whole_verdict),
	    cmocka_unit_test(test_verdict_free_zeroes_and_accepts_null),
	    cmocka_unit_test(test_action_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
