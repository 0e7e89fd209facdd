/* fuzz_response.c - libFuzzer target: a hook's answer (response.c), alone and through the
 * hook chain of every stage (hooks.c, with a fake transport as in tests/unit/test_hooks.c)
 *
 * The first byte chooses the HTTP status (200, 201, 204 or 299), the rest is the body.
 * response_parse is held to response.h: a result code it documents, a reason with every
 * error and an empty verdict then, reply codes 400-599, nothing kept from the response
 * object with accept. Then a session plays connect, ehlo, mail, rcpt and data, where two
 * hooks (one tempfailing on error, one not) get that answer at every stage; each outcome
 * must be one the milter can send, and every modification the session keeps must pass
 * PROTOCOL.md section 3's rules: nothing invalid is ever half-applied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "hooks.h"
#include "http.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "session.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config_text[] = "[session.hook.\"tf\"]\n"
                                  "url = \"http://127.0.0.1:9/tf\"\n"
                                  "stages = [\"connect\", \"ehlo\", \"mail\", \"rcpt\", \"data\"]\n"
                                  "[session.hook.\"ac\"]\n"
                                  "url = \"http://127.0.0.1:9/ac\"\n"
                                  "stages = [\"connect\", \"ehlo\", \"mail\", \"rcpt\", \"data\"]\n"
                                  "[session.hook.\"ac\".options]\n"
                                  "tempfail-on-error = false\n";

static const long statuses[] = {200, 201, 204, 299};

static struct config *cfg;

/* The answer every post gets. */
struct answer {
	long status;
	const uint8_t *body;
	size_t len;
};

/* fake_post - answer with the fuzz input */
static void fake_post(void *ctx, const struct hook *h, struct request *req, struct http_result *res)
{
	const struct answer *a = ctx;

	(void)h;
	(void)req;
	res->error = HTTP_OK;
	res->status = a->status;
	if (buf_append(&res->body, a->body, a->len) < 0)
		res->error = HTTP_ERR_OTHER;
}

/* header_name_ok - 1-997 bytes of printable ASCII without ':' */
static int header_name_ok(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (len == 0 || len > HEADER_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 || s[i] == ':')
			return 0;
	return 1;
}

/* header_value_ok - at most 64 KiB, no NUL, a line break only before space or tab */
static int header_value_ok(const char *s, size_t len)
{
	if (s == NULL || len > HEADER_VALUE_MAX || strlen(s) != len)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' && (i + 1 >= len || s[i + 1] != '\n'))
			return 0;
		if (s[i] == '\n' && (i + 1 >= len || (s[i + 1] != ' ' && s[i + 1] != '\t')))
			return 0;
	}
	return 1;
}

/* mod_ok - one modification as response.c promises to hand it over */
static int mod_ok(const struct modification *m)
{
	switch (m->type) {
	case MOD_CHANGE_FROM:
	case MOD_ADD_RCPT:
	case MOD_DELETE_RCPT:
		return m->value != NULL && strlen(m->value) == m->value_len &&
		       strpbrk(m->value, "\r\n") == NULL && m->name == NULL;
	case MOD_REPLACE_CONTENTS:
		return m->value != NULL && m->value[m->value_len] == '\0';
	case MOD_ADD_HEADER:
	case MOD_INSERT_HEADER:
	case MOD_CHANGE_HEADER:
		return header_name_ok(m->name) && header_value_ok(m->value, m->value_len);
	case MOD_DELETE_HEADER:
		return header_name_ok(m->name);
	}
	return 0;
}

/* check_verdict - response_parse's result against response.h */
static void check_verdict(int rc, const struct verdict *v, const char *err)
{
	static const struct verdict zero;

	if (rc != 0) {
		if ((rc != RESPONSE_ERR_NOT_JSON && rc != RESPONSE_ERR_INVALID) || err[0] == '\0' ||
		    memcmp(v, &zero, sizeof zero) != 0)
			abort();
		return;
	}
	if ((unsigned)v->action > ACTION_QUARANTINE || (v->nmods > 0) != (v->mods != NULL))
		abort();
	if (v->reply.status != 0 && (v->reply.status < 400 || v->reply.status > 599))
		abort();
	if (memchr(v->reply.enhanced, '\0', sizeof v->reply.enhanced) == NULL)
		abort();
	if (v->action == ACTION_ACCEPT &&
	    (v->reply.status != 0 || v->reply.text != NULL || v->reply.enhanced[0] != '\0'))
		abort();
	if (v->action != ACTION_REJECT && v->reply.status != 0)
		abort();
	for (size_t i = 0; i < v->nmods; i++)
		if (!mod_ok(&v->mods[i]))
			abort();
}

/* check_outcome - something the milter can send */
static void check_outcome(const struct outcome *o)
{
	if ((unsigned)o->kind > OUTCOME_DISCARD)
		abort();
	if (o->status != 0 && (o->status < 400 || o->status > 599))
		abort();
	if (o->disconnect && (o->status != 421 || o->kind != OUTCOME_TEMPFAIL))
		abort();
	if (memchr(o->enhanced, '\0', sizeof o->enhanced) == NULL)
		abort();
	if (o->enhanced[0] != '\0' && o->status != 0 && o->enhanced[0] != '0' + o->status / 100)
		abort();
}

/* check_mods - every modification a session keeps is valid */
static void check_mods(const struct modlist *l)
{
	for (size_t i = 0; i < l->count; i++)
		if (!mod_ok(&l->items[i]))
			abort();
}

/* stage - run one stage's chain and check what came out */
static void stage(struct session *s, enum stage st, const struct transport *t)
{
	struct outcome out;

	memset(&out, 0, sizeof out);
	if (hooks_run_stage(s, st, t, &out) != 0)
		abort();
	check_outcome(&out);
	outcome_free(&out);
	check_mods(&s->session_mods);
	check_mods(&s->ehlo_mods);
	check_mods(&s->message_mods);
}

/* LLVMFuzzerInitialize - the configuration every run shares */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct config_errors errs = {NULL, 0};

	(void)argc;
	(void)argv;
	log_init(0, 2);
	cfg = config_parse(config_text, sizeof config_text - 1, "fuzz.toml", &errs);
	config_errors_free(&errs);
	if (cfg == NULL)
		abort();
	return 0;
}

/* LLVMFuzzerTestOneInput - one answer, parsed alone and then at every stage */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct answer a;
	struct transport t = {fake_post, &a, NULL};
	struct verdict v;
	struct session *s;
	char err[256];
	char from_addr[] = "<alice@example.com>", from_size[] = "SIZE=100";
	char rcpt_addr[] = "<bob@example.org>";
	char *from_argv[] = {from_addr, from_size, NULL};
	char *rcpt_argv[] = {rcpt_addr, NULL};
	int rc;

	if (size < 1)
		return 0;
	a.status = statuses[data[0] % (sizeof statuses / sizeof statuses[0])];
	a.body = data + 1;
	a.len = size - 1;

	memset(err, 0, sizeof err);
	rc = response_parse(a.status, (const char *)a.body, a.len, &v, err, sizeof err);
	check_verdict(rc, &v, err);
	verdict_free(&v);

	if ((s = session_new(cfg)) == NULL)
		return 0;
	if (session_set(&s->client_ip, "192.0.2.10") < 0 ||
	    session_set(&s->server_name, "mx.example.test") < 0)
		goto out;
	s->client_port = 40000;
	s->active_connections = 1;
	stage(s, STAGE_CONNECT, &t);
	if (session_set(&s->helo, "client.example.net") < 0)
		goto out;
	stage(s, STAGE_EHLO, &t);
	if (session_set(&s->queue_id, "4FUZZQ") < 0 || session_set_from(s, from_argv) < 0)
		goto out;
	s->has_from = 1;
	stage(s, STAGE_MAIL, &t);
	if (session_add_rcpt(s, rcpt_argv) < 0)
		goto out;
	stage(s, STAGE_RCPT, &t);
	if (session_add_header(s, "Subject", "fuzz") < 0 ||
	    session_append_body(s, "body\r\n", 6) < 0)
		goto out;
	stage(s, STAGE_DATA, &t);
	session_end_message(s);
out:
	session_free(s);
	return 0;
}
