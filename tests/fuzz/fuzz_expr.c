/* fuzz_expr.c - libFuzzer target: enable expressions (expr.c), compiled and evaluated
 *
 * The first byte chooses the form, the rest is the value: even, an expression string
 * for expr_compile; odd, JSON for expr_compile_json (a boolean, a number, a string or an
 * if/then/else list, as config.c hands them over). What compiles is evaluated against a
 * session that knows everything and one that knows nothing yet. Besides the sanitizers
 * it checks expr.h's promises: a failed compile says why, with a column inside the text;
 * expr_eval gives 0 or 1; a value expr_is_constant calls constant is what both sessions
 * get. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "expr.h"

#define JSON_DEPTH 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const rcpt_list[] = {"bob@example.org", "Carol@Example.ORG",
                                        "dave@sub.example.net"};

/* A session at the data stage, every variable known. */
static const struct expr_vars full = {
    .remote_ip = "192.0.2.10",
    .remote_port = 40000,
    .local_ip = "2001:db8::25",
    .local_port = 25,
    .listener = "smtpd-in",
    .is_tls = 1,
    .authenticated_as = "alice",
    .helo_domain = "mail.example.net",
    .sender = "Alice@Example.COM",
    .rcpt = "dave@sub.example.net",
    .recipients = rcpt_list,
    .nrecipients = 3,
    .queue_id = "4ABCDEF",
};

/* A session at connect from a local socket: nothing known yet. */
static const struct expr_vars empty = {
    .remote_ip = NULL,
    .remote_port = -1,
    .local_ip = NULL,
    .local_port = -1,
    .listener = NULL,
    .is_tls = 0,
    .authenticated_as = NULL,
    .helo_domain = NULL,
    .sender = NULL,
    .rcpt = NULL,
    .recipients = NULL,
    .nrecipients = 0,
    .queue_id = NULL,
};

/* check_error - a failed compile says what is wrong, and where within the text */
static void check_error(const struct expr_error *err, size_t textlen)
{
	if (memchr(err->msg, '\0', sizeof err->msg) == NULL || err->msg[0] == '\0')
		abort();
	if (memchr(err->where, '\0', sizeof err->where) == NULL)
		abort();
	if (textlen != SIZE_MAX && err->column > textlen + 1)
		abort();
}

/* run - evaluate what compiled, twice each, and hold expr_is_constant to its word */
static void run(struct expr *e)
{
	int a = expr_eval(e, &full), b = expr_eval(e, &empty), value = -1;

	if ((a != 0 && a != 1) || (b != 0 && b != 1))
		abort();
	if (expr_eval(e, &full) != a || expr_eval(e, &empty) != b)
		abort(); /* no state kept between calls */
	if (expr_is_constant(e, &value) && (value != a || value != b))
		abort();
}

/* LLVMFuzzerTestOneInput - one expression string or one JSON enable value */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct expr_error err;
	struct expr *e;
	struct json_tokener *tok;
	struct json_object *v;
	char *text;

	if (size < 1)
		return 0;
	memset(&err, 'x', sizeof err);
	if ((data[0] & 1) == 0) {
		if ((text = malloc(size)) == NULL)
			return 0;
		memcpy(text, data + 1, size - 1);
		text[size - 1] = '\0';
		e = expr_compile(text, &err);
		if (e == NULL)
			check_error(&err, strlen(text));
		free(text);
	} else {
		if (size - 1 > INT32_MAX || (tok = json_tokener_new_ex(JSON_DEPTH)) == NULL)
			return 0;
		v = json_tokener_parse_ex(tok, (const char *)data + 1, (int)(size - 1));
		json_tokener_free(tok);
		if (v == NULL)
			return 0; /* not JSON (or JSON null, which toml.c never gives) */
		e = expr_compile_json(v, &err);
		if (e == NULL)
			check_error(&err, SIZE_MAX);
		json_object_put(v);
	}
	if (e != NULL) {
		run(e);
		expr_free(e);
	}
	return 0;
}
