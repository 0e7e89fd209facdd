/* test_hooks.c - unit tests for hooks.c: the chain, the verdicts and the error policy */
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
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "config.h"
#include "hooks.h"
#include "http.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "session.h"

#define MAX_CALLS   8
#define MAX_ANSWERS 8

/* One scripted answer of the fake transport: an HTTP status and body, or an error. */
struct answer {
	enum http_error error;
	long status;
	const char *body;
	const char *reason;
};

/* A transport that answers from a script and records what it was sent. */
struct fake {
	struct answer answers[MAX_ANSWERS];
	size_t nanswers, next;
	char *ids[MAX_CALLS];      /* the hook id of each call */
	char *requests[MAX_CALLS]; /* the request JSON of each call */
	size_t ncalls;
};

/* What each test works on. */
struct fixture {
	struct session *s;
	struct fake fake;
	struct transport t;
	struct outcome out;
};

/* Hook blocks: an id and its stages, optionally with tempfail-on-error = false. */
#define ALL_STAGES "\"connect\", \"ehlo\", \"mail\", \"rcpt\", \"data\""
#define HOOK(id, stages)                                                                           \
	"[session.hook.\"" id "\"]\n"                                                              \
	"url = \"http://127.0.0.1:9/" id "\"\n"                                                    \
	"stages = [" stages "]\n"
#define HOOK_ACCEPT_ON_ERROR(id, stages)                                                           \
	HOOK(id, stages)                                                                           \
	"[session.hook.\"" id "\".options]\n"                                                      \
	"tempfail-on-error = false\n"

/* A hook with an enable expression (written without double quotes of its own). */
#define HOOK_IF(id, stages, expr) HOOK(id, stages) "enable = \"" expr "\"\n"

/* Answers used again and again. */
#define ACCEPT             "{\"action\":\"accept\"}"
#define ADD_HEADER(n)      "{\"type\":\"addHeader\",\"name\":\"" n "\",\"value\":\"v\"}"
#define ACCEPT_WITH(n)     "{\"action\":\"accept\",\"modifications\":[" ADD_HEADER(n) "]}"
#define REJECT_WITH(n)     "{\"action\":\"reject\",\"modifications\":[" ADD_HEADER(n) "]}"
#define QUARANTINE_WITH(n) "{\"action\":\"quarantine\",\"modifications\":[" ADD_HEADER(n) "]}"

static int setup(void **state);
static int teardown(void **state);
static void fake_post(void *ctx, const struct hook *h, struct request *req,
                      struct http_result *res);
static void start(struct fixture *fx, const char *toml);
static void script(struct fixture *fx, long status, const char *body);
static void script_error(struct fixture *fx, enum http_error e, const char *reason);
static void run(struct fixture *fx, enum stage stage);
static void assert_calls(struct fixture *fx, size_t n, const char *const *ids);
static void assert_mods(const struct modlist *l, size_t n, const char *const *names);
static void assert_error_tempfail(struct fixture *fx);
static void error_tempfails(void **state, const struct answer *a);
static void error_counts_as_accept(void **state, const struct answer *a);
static struct json_object *request_json(struct fixture *fx, size_t call);
static void capture_start(FILE **tmp, int *saved);
static char *capture_end(FILE *tmp, int saved);
static size_t count_lines(const char *text, const char *needle);

/* setup - an empty fixture */
static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	fx->t.post = fake_post;
	fx->t.ctx = &fx->fake;
	*state = fx;
	return 0;
}

/* teardown - free the session, the records and the outcome */
static int teardown(void **state)
{
	struct fixture *fx = *state;

	for (size_t i = 0; i < fx->fake.ncalls; i++) {
		free(fx->fake.ids[i]);
		free(fx->fake.requests[i]);
	}
	outcome_free(&fx->out);
	session_free(fx->s);
	free(fx);
	return 0;
}

/* fake_post - record the call, then answer from the script (204 once it runs out) */
static void fake_post(void *ctx, const struct hook *h, struct request *req, struct http_result *res)
{
	struct fake *f = ctx;
	struct answer a = {HTTP_OK, 204, NULL, NULL};

	if (f->ncalls < MAX_CALLS) {
		f->ids[f->ncalls] = strdup(h->id);
		f->requests[f->ncalls] = request_to_string(req, NULL);
		f->ncalls++;
	}
	if (f->next < f->nanswers)
		a = f->answers[f->next++];
	res->error = a.error;
	res->status = a.status;
	if (a.body != NULL && buf_append_str(&res->body, a.body) < 0)
		res->error = HTTP_ERR_OTHER;
	snprintf(res->reason, sizeof(res->reason), "%s", a.reason ? a.reason : "");
}

/* start - a session on a configuration parsed from toml, with a little connection data */
static void start(struct fixture *fx, const char *toml)
{
	struct config_errors errs = {NULL, 0};
	struct config *cfg = config_parse(toml, strlen(toml), "test.toml", &errs);

	for (size_t i = 0; i < errs.count; i++)
		print_error("config: %s\n", errs.msgs[i]);
	config_errors_free(&errs);
	assert_non_null(cfg);
	fx->s = session_new(cfg);
	config_unref(cfg); /* the session holds the only reference now */
	assert_non_null(fx->s);
	assert_int_equal(session_set(&fx->s->client_ip, "192.0.2.10"), 0);
	fx->s->client_port = 40000;
	assert_int_equal(session_set(&fx->s->server_name, "mx.example.test"), 0);
	assert_int_equal(session_set(&fx->s->queue_id, "4TESTQID"), 0);
	fx->s->active_connections = 1;
}

/* script - queue an HTTP answer */
static void script(struct fixture *fx, long status, const char *body)
{
	assert_true(fx->fake.nanswers < MAX_ANSWERS);
	fx->fake.answers[fx->fake.nanswers++] = (struct answer){HTTP_OK, status, body, NULL};
}

/* script_error - queue a transport error */
static void script_error(struct fixture *fx, enum http_error e, const char *reason)
{
	assert_true(fx->fake.nanswers < MAX_ANSWERS);
	fx->fake.answers[fx->fake.nanswers++] = (struct answer){e, 0, NULL, reason};
}

/* run - run a stage, with the envelope the stage implies already in the session */
static void run(struct fixture *fx, enum stage stage)
{
	outcome_free(&fx->out);
	assert_int_equal(hooks_run_stage(fx->s, stage, &fx->t, &fx->out), 0);
}

/* assert_calls - exactly these hooks were called, in this order */
static void assert_calls(struct fixture *fx, size_t n, const char *const *ids)
{
	assert_int_equal(fx->fake.ncalls, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(fx->fake.ids[i], ids[i]);
}

/* assert_mods - the list holds addHeader modifications with these names, in order */
static void assert_mods(const struct modlist *l, size_t n, const char *const *names)
{
	assert_int_equal(l->count, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(l->items[i].type, MOD_ADD_HEADER);
		assert_string_equal(l->items[i].name, names[i]);
	}
}

/* assert_error_tempfail - the error policy's reply */
static void assert_error_tempfail(struct fixture *fx)
{
	assert_int_equal(fx->out.kind, OUTCOME_TEMPFAIL);
	assert_int_equal(fx->out.status, 451);
	assert_string_equal(fx->out.enhanced, "4.3.5");
	assert_non_null(fx->out.text);
	assert_string_equal(fx->out.text, "Unable to accept message at this time.");
	assert_false(fx->out.disconnect);
}

/* request_json - the request of one call, parsed; the caller puts it */
static struct json_object *request_json(struct fixture *fx, size_t call)
{
	struct json_object *j;

	assert_true(call < fx->fake.ncalls);
	assert_non_null(fx->fake.requests[call]);
	j = json_tokener_parse(fx->fake.requests[call]);
	assert_non_null(j);
	return j;
}

/* capture_start - send stderr (where log.c writes with -f) to a temporary file */
static void capture_start(FILE **tmp, int *saved)
{
	fflush(stderr);
	assert_non_null(*tmp = tmpfile());
	assert_true((*saved = dup(STDERR_FILENO)) >= 0);
	assert_true(dup2(fileno(*tmp), STDERR_FILENO) >= 0);
}

/* capture_end - restore stderr and return what was logged (the caller frees it) */
static char *capture_end(FILE *tmp, int saved)
{
	char *text = calloc(1, 65536);
	size_t n;

	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	assert_non_null(text);
	rewind(tmp);
	n = fread(text, 1, 65535, tmp);
	text[n] = '\0';
	fclose(tmp);
	return text;
}

/* count_lines - how many lines of text contain needle */
static size_t count_lines(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *hit = strstr(line, needle);

		if (hit != NULL && hit < line + len)
			n++;
		line += len + (end ? 1 : 0);
	}
	return n;
}

/* error_tempfails - with the default policy an error answers 451 and stops the chain */
static void error_tempfails(void **state, const struct answer *a)
{
	struct fixture *fx = *state;
	static const char *const ids[] = {"failing"};

	start(fx, HOOK("failing", ALL_STAGES) HOOK("later", ALL_STAGES));
	assert_true(fx->s->config->hooks[0].tempfail_on_error);
	fx->fake.answers[fx->fake.nanswers++] = *a;
	run(fx, STAGE_DATA);
	assert_error_tempfail(fx);
	assert_calls(fx, 1, ids);
	assert_int_equal(fx->s->message_mods.count, 0);
}

/* error_counts_as_accept - with tempfail-on-error = false the chain goes on */
static void error_counts_as_accept(void **state, const struct answer *a)
{
	struct fixture *fx = *state;
	static const char *const ids[] = {"failing", "later"};
	static const char *const names[] = {"X-Later"};

	start(fx, HOOK_ACCEPT_ON_ERROR("failing", ALL_STAGES) HOOK("later", ALL_STAGES));
	fx->fake.answers[fx->fake.nanswers++] = *a;
	script(fx, 200, ACCEPT_WITH("X-Later"));
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_int_equal(fx->out.status, 0);
	assert_null(fx->out.text);
	assert_calls(fx, 2, ids);
	assert_mods(&fx->s->message_mods, 1, names);
}

/* ---- which hooks are called ---------------------------------------------- */

/* test_stage_without_hooks_continues_and_calls_nothing */
static void test_stage_without_hooks_continues_and_calls_nothing(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("data-only", "\"data\""));
	run(fx, STAGE_CONNECT);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_int_equal(fx->fake.ncalls, 0);
	run(fx, STAGE_RCPT);
	assert_int_equal(fx->fake.ncalls, 0);
}

/* test_session_without_configuration_continues */
static void test_session_without_configuration_continues(void **state)
{
	struct fixture *fx = *state;

	fx->s = session_new(NULL);
	assert_non_null(fx->s);
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_int_equal(fx->fake.ncalls, 0);
}

/* test_hooks_called_in_file_order - not sorted by id */
static void test_hooks_called_in_file_order(void **state)
{
	struct fixture *fx = *state;
	static const char *const ids[] = {"zulu", "alpha", "mike"};

	start(fx, HOOK("zulu", ALL_STAGES) HOOK("alpha", ALL_STAGES) HOOK("mike", ALL_STAGES));
	run(fx, STAGE_CONNECT);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_calls(fx, 3, ids);
}

/* test_disabled_hook_not_called */
static void test_disabled_hook_not_called(void **state)
{
	struct fixture *fx = *state;
	static const char *const ids[] = {"on"};

	start(fx, HOOK("off", ALL_STAGES) "enable = false\n" HOOK("on", ALL_STAGES));
	run(fx, STAGE_EHLO);
	assert_calls(fx, 1, ids);
}

/* test_enable_on_remote_ip_skips_the_hook - and says so at debug level */
static void test_enable_on_remote_ip_skips_the_hook(void **state)
{
	static const char toml[] = HOOK_IF("elsewhere", ALL_STAGES, "remote_ip == '192.0.2.99'")
	    HOOK_IF("here", ALL_STAGES,
	            "starts_with(remote_ip, '192.0.2.') && remote_port == 40000");
	struct fixture *fx = *state;
	static const char *const ids[] = {"here"};
	FILE *tmp;
	int saved;
	char *log;

	start(fx, toml);
	log_init(1, 2);
	capture_start(&tmp, &saved);
	run(fx, STAGE_CONNECT);
	log = capture_end(tmp, saved);
	log_init(1, 0);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_calls(fx, 1, ids);
	assert_int_equal(
	    count_lines(log, "hook=elsewhere stage=connect qid=4TESTQID disabled by enable"), 1);
	assert_int_equal(count_lines(log, "hook=here stage=connect qid=4TESTQID disabled"), 0);
	free(log);
}

/* test_enable_on_rcpt_decides_each_recipient - rcpt is the one being decided, recipients all */
static void test_enable_on_rcpt_decides_each_recipient(void **state)
{
	static const char toml[] = HOOK_IF("not-skip", "\"rcpt\"", "rcpt_domain != 'skip.test'")
	    HOOK_IF("second", "\"rcpt\"",
	            "count(recipients) == 2 && recipients[0] == 'someone@skip.test'")
	        HOOK_IF("last-is-ok", "\"data\"",
	                "rcpt == 'other@ok.test' && sender_domain == 'example.org'");
	struct fixture *fx = *state;
	static const char *const ids[] = {"not-skip", "second", "last-is-ok"};
	char *from[] = {"<Sender@Example.ORG>", NULL};
	char *r1[] = {"<someone@Skip.Test>", NULL};
	char *r2[] = {"<other@ok.test>", NULL};

	start(fx, toml);
	assert_int_equal(session_set_from(fx->s, from), 0);
	assert_int_equal(session_add_rcpt(fx->s, r1), 0);
	run(fx, STAGE_RCPT);
	assert_int_equal(fx->fake.ncalls, 0);
	assert_int_equal(fx->s->nrcpts, 1); /* not called is not rejected */
	assert_int_equal(session_add_rcpt(fx->s, r2), 0);
	run(fx, STAGE_RCPT);
	assert_int_equal(fx->fake.ncalls, 2);
	run(fx, STAGE_DATA);
	assert_calls(fx, 3, ids);
}

/* test_enable_sees_queue_id_empty_before_it_is_known */
static void test_enable_sees_queue_id_empty_before_it_is_known(void **state)
{
	static const char toml[] = HOOK_IF("after", ALL_STAGES, "queue_id != ''")
	    HOOK_IF("before", ALL_STAGES, "is_empty(queue_id) && sender == ''");
	struct fixture *fx = *state;
	static const char *const ids[] = {"before", "after"};
	char *from[] = {"<>", NULL};

	start(fx, toml);
	assert_int_equal(session_set(&fx->s->queue_id, NULL), 0);
	run(fx, STAGE_CONNECT);
	assert_int_equal(session_set(&fx->s->queue_id, "4QUEUED"), 0);
	assert_int_equal(session_set_from(fx->s, from), 0);
	run(fx, STAGE_MAIL);
	assert_calls(fx, 2, ids);
}

/* test_hook_without_the_stage_not_called */
static void test_hook_without_the_stage_not_called(void **state)
{
	struct fixture *fx = *state;
	static const char *const ids[] = {"mail-hook"};

	start(fx, HOOK("rcpt-hook", "\"rcpt\"") HOOK("mail-hook", "\"mail\", \"data\""));
	run(fx, STAGE_MAIL);
	assert_calls(fx, 1, ids);
}

/* test_request_names_the_stage - what was sent is the request of this stage */
static void test_request_names_the_stage(void **state)
{
	struct fixture *fx = *state;
	char *from[] = {"<sender@example.org>", NULL};
	struct json_object *j, *v;

	start(fx, HOOK("h", ALL_STAGES));
	assert_int_equal(session_set_from(fx->s, from), 0);
	run(fx, STAGE_MAIL);
	j = request_json(fx, 0);
	assert_true(json_object_object_get_ex(j, "context", &v));
	assert_true(json_object_object_get_ex(v, "stage", &v));
	assert_string_equal(json_object_get_string(v), "mail");
	assert_true(json_object_object_get_ex(j, "envelope", &v));
	assert_true(json_object_object_get_ex(v, "from", &v));
	assert_true(json_object_object_get_ex(v, "address", &v));
	assert_string_equal(json_object_get_string(v), "sender@example.org");
	json_object_put(j);
}

/* ---- accept ---------------------------------------------------------------- */

/* test_accept_continues_and_keeps_mods_for_the_message */
static void test_accept_continues_and_keeps_mods_for_the_message(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = {"X-Scanned"};

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200, ACCEPT_WITH("X-Scanned"));
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_int_equal(fx->out.status, 0);
	assert_null(fx->out.text);
	assert_mods(&fx->s->message_mods, 1, names);
	assert_int_equal(fx->s->session_mods.count, 0);
}

/* test_accept_at_connect_keeps_mods_for_the_session */
static void test_accept_at_connect_keeps_mods_for_the_session(void **state)
{
	struct fixture *fx = *state;
	static const char *const connect_names[] = {"X-Connect"};
	static const char *const ehlo_names[] = {"X-Ehlo"};

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200, ACCEPT_WITH("X-Connect"));
	script(fx, 200, ACCEPT_WITH("X-Ehlo"));
	run(fx, STAGE_CONNECT);
	run(fx, STAGE_EHLO);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_mods(&fx->s->session_mods, 1, connect_names);
	assert_mods(&fx->s->ehlo_mods, 1, ehlo_names);
	assert_int_equal(fx->s->message_mods.count, 0);
	session_end_message(fx->s);
	assert_int_equal(fx->s->session_mods.count, 1);
	assert_int_equal(fx->s->ehlo_mods.count, 1);
}

/* test_second_ehlo_replaces_the_first_ehlo_mods - EHLO again after STARTTLS */
static void test_second_ehlo_replaces_the_first_ehlo_mods(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = {"X-Second"};

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200, ACCEPT_WITH("X-First"));
	script(fx, 200, ACCEPT_WITH("X-Second"));
	run(fx, STAGE_EHLO);
	run(fx, STAGE_EHLO);
	assert_mods(&fx->s->ehlo_mods, 1, names);
	assert_int_equal(fx->s->session_mods.count, 0);
}

/* test_two_accepting_hooks_contribute_mods_in_order - across hooks and stages */
static void test_two_accepting_hooks_contribute_mods_in_order(void **state)
{
	struct fixture *fx = *state;
	static const char *const ids[] = {"first", "second", "first", "second"};
	static const char *const names[] = {"X-First-Mail", "X-Second-Mail", "X-First-Data",
	                                    "X-Second-Data"};
	char *from[] = {"<a@example.org>", NULL};

	start(fx, HOOK("first", ALL_STAGES) HOOK("second", ALL_STAGES));
	assert_int_equal(session_set_from(fx->s, from), 0);
	script(fx, 200, ACCEPT_WITH("X-First-Mail"));
	script(fx, 200, ACCEPT_WITH("X-Second-Mail"));
	script(fx, 200, ACCEPT_WITH("X-First-Data"));
	script(fx, 200, ACCEPT_WITH("X-Second-Data"));
	run(fx, STAGE_MAIL);
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_calls(fx, 4, ids);
	assert_mods(&fx->s->message_mods, 4, names);
}

/* test_status_204_without_body_is_accept */
static void test_status_204_without_body_is_accept(void **state)
{
	struct fixture *fx = *state;
	static const char *const ids[] = {"a", "b"};

	start(fx, HOOK("a", ALL_STAGES) HOOK("b", ALL_STAGES));
	script(fx, 204, NULL);
	script(fx, 204, "");
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_calls(fx, 2, ids);
}

/* test_accept_ignores_response_object - even a reject-like reply is not used */
static void test_accept_ignores_response_object(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200,
	       "{\"action\":\"ACCEPT\",\"response\":{\"status\":550,\"message\":\"no\","
	       "\"disconnect\":true}}");
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_int_equal(fx->out.status, 0);
	assert_false(fx->out.disconnect);
}

/* ---- reject ---------------------------------------------------------------- */

/* test_reject_5xx_status_becomes_reject_with_reply */
static void test_reject_5xx_status_becomes_reject_with_reply(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200,
	       "{\"action\":\"reject\",\"response\":{\"status\":550,\"enhancedStatus\":\"5.7.1\","
	       "\"message\":\"Spam not wanted\"}}");
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_REJECT);
	assert_int_equal(fx->out.status, 550);
	assert_string_equal(fx->out.enhanced, "5.7.1");
	assert_string_equal(fx->out.text, "Spam not wanted");
	assert_false(fx->out.disconnect);
}

/* test_reject_4xx_status_becomes_tempfail */
static void test_reject_4xx_status_becomes_tempfail(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200,
	       "{\"action\":\"reject\",\"response\":{\"status\":\"452\",\"enhanced_status\":"
	       "\"4.2.2\",\"message\":\"Mailbox full\"}}");
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_TEMPFAIL);
	assert_int_equal(fx->out.status, 452);
	assert_string_equal(fx->out.enhanced, "4.2.2");
	assert_string_equal(fx->out.text, "Mailbox full");
}

/* test_reject_without_status_uses_mta_default_reply */
static void test_reject_without_status_uses_mta_default_reply(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200, "{\"action\":\"reject\"}");
	run(fx, STAGE_MAIL);
	assert_int_equal(fx->out.kind, OUTCOME_REJECT);
	assert_int_equal(fx->out.status, 0);
	assert_string_equal(fx->out.enhanced, "");
	assert_null(fx->out.text);
}

/* test_reject_multiline_text_copied_whole */
static void test_reject_multiline_text_copied_whole(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200,
	       "{\"action\":\"reject\",\"response\":{\"status\":554,\"enhancedStatus\":\"5.7.0\","
	       "\"message\":\"first line\\r\\nsecond line\\nthird line\"}}");
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_REJECT);
	assert_int_equal(fx->out.status, 554);
	assert_string_equal(fx->out.enhanced, "5.7.0");
	assert_string_equal(fx->out.text, "first line\r\nsecond line\nthird line");
}

/* test_reject_with_mismatched_enhanced_keeps_status_and_text - the code is dropped */
static void test_reject_with_mismatched_enhanced_keeps_status_and_text(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200,
	       "{\"action\":\"reject\",\"response\":{\"status\":550,\"enhancedStatus\":\"4.7.1\","
	       "\"message\":\"go away\"}}");
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_REJECT);
	assert_int_equal(fx->out.status, 550);
	assert_string_equal(fx->out.enhanced, "");
	assert_string_equal(fx->out.text, "go away");
}

/* test_reject_stops_chain_and_drops_its_mods */
static void test_reject_stops_chain_and_drops_its_mods(void **state)
{
	struct fixture *fx = *state;
	static const char *const ids[] = {"rejecter"};

	start(fx, HOOK("rejecter", ALL_STAGES) HOOK("never", ALL_STAGES));
	script(fx, 200, REJECT_WITH("X-Rejecter"));
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_REJECT);
	assert_calls(fx, 1, ids);
	assert_int_equal(fx->s->message_mods.count, 0);
}

/* test_refused_stage_drops_mods_of_earlier_hooks - nothing is left of a refused command */
static void test_refused_stage_drops_mods_of_earlier_hooks(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = {"X-Mail"};

	start(fx, HOOK("accepter", ALL_STAGES) HOOK("rejecter", ALL_STAGES));
	script(fx, 200, ACCEPT_WITH("X-Mail"));
	script(fx, 204, NULL);
	script(fx, 200, ACCEPT_WITH("X-Data"));
	script(fx, 200, "{\"action\":\"reject\",\"response\":{\"status\":550}}");
	run(fx, STAGE_MAIL);
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_REJECT);
	/* the mail stage's modification stays, the refused data stage's is gone */
	assert_mods(&fx->s->message_mods, 1, names);
}

/* ---- discard ----------------------------------------------------------------- */

/* test_discard_at_data_discards_the_message */
static void test_discard_at_data_discards_the_message(void **state)
{
	struct fixture *fx = *state;
	static const char *const ids[] = {"discarder"};

	start(fx, HOOK("discarder", ALL_STAGES) HOOK("never", ALL_STAGES));
	script(fx, 200,
	       "{\"action\":\"discard\",\"modifications\":[" ADD_HEADER("X-Discarder") "]}");
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_DISCARD);
	assert_calls(fx, 1, ids);
	assert_false(fx->s->discard_session);
	assert_int_equal(fx->s->message_mods.count, 0);
}

/* test_discard_at_connect_is_session_wide_and_continues */
static void test_discard_at_connect_is_session_wide_and_continues(void **state)
{
	struct fixture *fx = *state;
	static const char *const ids[] = {"discarder"};

	start(fx, HOOK("discarder", ALL_STAGES) HOOK("never", "\"connect\""));
	script(fx, 200, "{\"action\":\"Discard\"}");
	run(fx, STAGE_CONNECT);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_true(fx->s->discard_session);
	assert_calls(fx, 1, ids);
	session_end_message(fx->s);
	assert_true(fx->s->discard_session);
}

/* ---- quarantine ------------------------------------------------------------ */

/* test_quarantine_at_data_holds_message_and_stops_chain */
static void test_quarantine_at_data_holds_message_and_stops_chain(void **state)
{
	struct fixture *fx = *state;
	static const char *const ids[] = {"accepter", "quarantiner"};
	static const char *const names[] = {"X-Accepter", "X-Quarantiner"};

	start(fx, HOOK("accepter", ALL_STAGES) HOOK("quarantiner", ALL_STAGES)
	              HOOK("never", ALL_STAGES));
	script(fx, 200, ACCEPT_WITH("X-Accepter"));
	script(fx, 200,
	       "{\"action\":\"quarantine\",\"response\":{\"message\":\"looks odd\"},"
	       "\"modifications\":[" ADD_HEADER("X-Quarantiner") "]}");
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_calls(fx, 2, ids);
	assert_string_equal(fx->s->quarantine_message, "looks odd");
	assert_null(fx->s->quarantine_session);
	assert_mods(&fx->s->message_mods, 2, names);
	session_end_message(fx->s);
	assert_null(fx->s->quarantine_message);
}

/* test_quarantine_at_ehlo_holds_every_message_of_session */
static void test_quarantine_at_ehlo_holds_every_message_of_session(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = {"X-Ehlo"};

	start(fx, HOOK("q", ALL_STAGES) HOOK("never", "\"ehlo\""));
	script(fx, 200,
	       "{\"action\":\"quarantine\",\"response\":{\"message\":\"bad helo\"},"
	       "\"modifications\":[" ADD_HEADER("X-Ehlo") "]}");
	run(fx, STAGE_EHLO);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_int_equal(fx->fake.ncalls, 1);
	assert_string_equal(fx->s->quarantine_session, "bad helo");
	assert_null(fx->s->quarantine_message);
	assert_mods(&fx->s->ehlo_mods, 1, names);
	session_end_message(fx->s);
	assert_string_equal(fx->s->quarantine_session, "bad helo");
}

/* test_quarantine_without_message_names_the_hook */
static void test_quarantine_without_message_names_the_hook(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("spam-check", ALL_STAGES));
	script(fx, 200, "{\"action\":\"quarantine\"}");
	run(fx, STAGE_DATA);
	assert_string_equal(fx->s->quarantine_message, "quarantined by hook spam-check");
}

/* test_quarantine_replaces_earlier_reason - the last one recorded is the reason */
static void test_quarantine_replaces_earlier_reason(void **state)
{
	struct fixture *fx = *state;
	char *rcpt[] = {"<r@example.org>", NULL};

	start(fx, HOOK("q", ALL_STAGES));
	assert_int_equal(session_add_rcpt(fx->s, rcpt), 0);
	script(fx, 200, "{\"action\":\"quarantine\",\"response\":{\"message\":\"first\"}}");
	script(fx, 200, "{\"action\":\"quarantine\",\"response\":{\"message\":\"second\"}}");
	run(fx, STAGE_RCPT);
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_string_equal(fx->s->quarantine_message, "second");
}

/* test_later_reject_wins_over_earlier_quarantine - its own mods are dropped */
static void test_later_reject_wins_over_earlier_quarantine(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = {"X-Quarantiner"};
	char *rcpt[] = {"<r@example.org>", NULL};

	start(fx, HOOK("quarantiner", "\"rcpt\"") HOOK("rejecter", "\"data\""));
	assert_int_equal(session_add_rcpt(fx->s, rcpt), 0);
	script(fx, 200, QUARANTINE_WITH("X-Quarantiner"));
	script(
	    fx, 200,
	    "{\"action\":\"reject\",\"response\":{\"status\":550},\"modifications\":[" ADD_HEADER(
	        "X-Rejecter") "]}");
	run(fx, STAGE_RCPT);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_int_equal(fx->s->nrcpts, 1);
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_REJECT);
	assert_int_equal(fx->out.status, 550);
	assert_int_equal(fx->fake.ncalls, 2);
	assert_mods(&fx->s->message_mods, 1, names);
}

/* ---- disconnect ------------------------------------------------------------ */

/* test_disconnect_gives_421_keeping_class_4_enhanced */
static void test_disconnect_gives_421_keeping_class_4_enhanced(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("h", ALL_STAGES) HOOK("never", ALL_STAGES));
	script(fx, 200,
	       "{\"action\":\"reject\",\"response\":{\"status\":450,\"enhancedStatus\":\"4.7.1\","
	       "\"message\":\"slow down\",\"disconnect\":true},\"modifications\":[" ADD_HEADER(
	           "X-Gone") "]}");
	run(fx, STAGE_CONNECT);
	assert_int_equal(fx->out.kind, OUTCOME_TEMPFAIL);
	assert_int_equal(fx->out.status, 421);
	assert_string_equal(fx->out.enhanced, "4.7.1");
	assert_string_equal(fx->out.text, "slow down");
	assert_true(fx->out.disconnect);
	assert_int_equal(fx->fake.ncalls, 1);
	assert_int_equal(fx->s->session_mods.count, 0);
}

/* test_disconnect_substitutes_4_7_0_for_class_5 */
static void test_disconnect_substitutes_4_7_0_for_class_5(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200,
	       "{\"action\":\"reject\",\"response\":{\"status\":550,\"enhancedStatus\":\"5.7.1\","
	       "\"message\":\"go away\",\"disconnect\":true}}");
	run(fx, STAGE_MAIL);
	assert_int_equal(fx->out.kind, OUTCOME_TEMPFAIL);
	assert_int_equal(fx->out.status, 421);
	assert_string_equal(fx->out.enhanced, "4.7.0");
	assert_string_equal(fx->out.text, "go away");
	assert_true(fx->out.disconnect);
}

/* test_disconnect_without_text_has_default_text */
static void test_disconnect_without_text_has_default_text(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200, "{\"action\":\"reject\",\"response\":{\"disconnect\":true}}");
	run(fx, STAGE_EHLO);
	assert_int_equal(fx->out.kind, OUTCOME_TEMPFAIL);
	assert_int_equal(fx->out.status, 421);
	assert_string_equal(fx->out.enhanced, "4.7.0");
	assert_non_null(fx->out.text);
	assert_string_equal(fx->out.text, "Service not available, closing transmission channel");
	assert_true(fx->out.disconnect);
}

/* test_disconnect_with_discard_at_connect_closes_instead */
static void test_disconnect_with_discard_at_connect_closes_instead(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200, "{\"action\":\"discard\",\"response\":{\"disconnect\":true}}");
	run(fx, STAGE_CONNECT);
	assert_int_equal(fx->out.kind, OUTCOME_TEMPFAIL);
	assert_int_equal(fx->out.status, 421);
	assert_true(fx->out.disconnect);
	assert_false(fx->s->discard_session);
}

/* test_disconnect_with_quarantine_closes_without_quarantine */
static void test_disconnect_with_quarantine_closes_without_quarantine(void **state)
{
	struct fixture *fx = *state;

	start(fx, HOOK("h", ALL_STAGES));
	script(fx, 200,
	       "{\"action\":\"quarantine\",\"response\":{\"message\":\"held\",\"disconnect\":true},"
	       "\"modifications\":[" ADD_HEADER("X-Held") "]}");
	run(fx, STAGE_DATA);
	assert_int_equal(fx->out.kind, OUTCOME_TEMPFAIL);
	assert_int_equal(fx->out.status, 421);
	assert_string_equal(fx->out.text, "held");
	assert_null(fx->s->quarantine_message);
	assert_int_equal(fx->s->message_mods.count, 0);
}

/* ---- errors ------------------------------------------------------------------ */

static const struct answer err_connect = {HTTP_ERR_CONNECT, 0, NULL, "Connection refused"};
static const struct answer err_tls = {HTTP_ERR_TLS, 0, NULL, "certificate verify failed"};
static const struct answer err_timeout = {HTTP_ERR_TIMEOUT, 0, NULL, "timed out after 30000 ms"};
static const struct answer err_too_large = {HTTP_ERR_TOO_LARGE, 0, NULL, "larger than 1024"};
static const struct answer err_other = {HTTP_ERR_OTHER, 0, NULL, "something else"};
static const struct answer err_status_500 = {HTTP_OK, 500, "{\"action\":\"accept\"}", NULL};
static const struct answer err_status_302 = {HTTP_OK, 302, "", NULL};
static const struct answer err_not_json = {HTTP_OK, 200, "<html>oops</html>", NULL};
static const struct answer err_invalid = {HTTP_OK, 200, "{\"action\":\"explode\"}", NULL};
static const struct answer err_bad_mod = {
    HTTP_OK, 200, "{\"action\":\"accept\",\"modifications\":[{\"type\":\"teleport\"}]}", NULL};

/* One pair of tests per kind of error: the default policy, and accept-on-error. */
#define ERROR_TESTS(kind)                                                                          \
	static void test_error_##kind##_tempfails_and_stops_chain(void **state)                    \
	{                                                                                          \
		error_tempfails(state, &err_##kind);                                               \
	}                                                                                          \
	static void test_error_##kind##_counts_as_accept_when_allowed(void **state)                \
	{                                                                                          \
		error_counts_as_accept(state, &err_##kind);                                        \
	}

ERROR_TESTS(connect)
ERROR_TESTS(tls)
ERROR_TESTS(timeout)
ERROR_TESTS(too_large)
ERROR_TESTS(other)
ERROR_TESTS(status_500)
ERROR_TESTS(status_302)
ERROR_TESTS(not_json)
ERROR_TESTS(invalid)
ERROR_TESTS(bad_mod)

/* test_error_after_accept_keeps_nothing_of_the_stage - the 451 refuses the command */
static void test_error_after_accept_keeps_nothing_of_the_stage(void **state)
{
	struct fixture *fx = *state;
	static const char *const ids[] = {"ok", "broken"};

	start(fx, HOOK("ok", ALL_STAGES) HOOK("broken", ALL_STAGES) HOOK("never", ALL_STAGES));
	script(fx, 200, ACCEPT_WITH("X-Ok"));
	script_error(fx, HTTP_ERR_TIMEOUT, "timed out");
	run(fx, STAGE_DATA);
	assert_error_tempfail(fx);
	assert_calls(fx, 2, ids);
	assert_int_equal(fx->s->message_mods.count, 0);
}

/* test_error_logged_once_with_hook_stage_qid_and_no_secret */
static void test_error_logged_once_with_hook_stage_qid_and_no_secret(void **state)
{
	struct fixture *fx = *state;
	FILE *tmp;
	int saved;
	char *log;

	start(fx, HOOK("secretive", ALL_STAGES) "[session.hook.\"secretive\".auth]\n"
	                                        "username = \"user\"\n"
	                                        "secret = \"hunter2-very-secret\"\n");
	script_error(fx, HTTP_ERR_TIMEOUT, "no answer within 30000 ms");
	capture_start(&tmp, &saved);
	run(fx, STAGE_DATA);
	log = capture_end(tmp, saved);
	assert_error_tempfail(fx);
	assert_int_equal(count_lines(log, "hook=secretive"), 1);
	assert_int_equal(count_lines(log, "hook=secretive stage=data qid=4TESTQID error=timeout "
	                                  "reason=no answer within 30000 ms policy=tempfail"),
	                 1);
	assert_null(strstr(log, "hunter2"));
	free(log);
}

/* test_decision_logged_at_info_with_unknown_qid_as_dash */
static void test_decision_logged_at_info_with_unknown_qid_as_dash(void **state)
{
	struct fixture *fx = *state;
	FILE *tmp;
	int saved;
	char *log;

	start(fx, HOOK("a", ALL_STAGES) HOOK("b", ALL_STAGES));
	assert_int_equal(session_set(&fx->s->queue_id, NULL), 0);
	script(fx, 200, ACCEPT);
	script(fx, 200, "{\"action\":\"reject\",\"response\":{\"status\":550}}");
	log_init(1, 1);
	capture_start(&tmp, &saved);
	run(fx, STAGE_CONNECT);
	log = capture_end(tmp, saved);
	log_init(1, 0);
	assert_int_equal(count_lines(log, "hook=a stage=connect qid=- action=accept"), 1);
	assert_int_equal(count_lines(log, "hook=b stage=connect qid=- action=reject"), 1);
	free(log);
}

/* ---- rcpt -------------------------------------------------------------------- */

/* test_rejected_rcpt_dropped_and_was_last_in_request */
static void test_rejected_rcpt_dropped_and_was_last_in_request(void **state)
{
	struct fixture *fx = *state;
	char *r1[] = {"<good@example.org>", NULL};
	char *r2[] = {"<bad@example.org>", NULL};
	struct json_object *j, *v, *to;

	start(fx, HOOK("h", "\"rcpt\""));
	script(fx, 200, ACCEPT);
	script(fx, 200,
	       "{\"action\":\"reject\",\"response\":{\"status\":550,\"enhancedStatus\":\"5.1.1\","
	       "\"message\":\"no such user\"}}");
	assert_int_equal(session_add_rcpt(fx->s, r1), 0);
	run(fx, STAGE_RCPT);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_int_equal(session_add_rcpt(fx->s, r2), 0);
	run(fx, STAGE_RCPT);
	assert_int_equal(fx->out.kind, OUTCOME_REJECT);
	assert_int_equal(fx->s->nrcpts, 1);
	assert_string_equal(fx->s->rcpts[0].address, "good@example.org");

	j = request_json(fx, 1);
	assert_true(json_object_object_get_ex(j, "envelope", &v));
	assert_true(json_object_object_get_ex(v, "to", &to));
	assert_int_equal(json_object_array_length(to), 2);
	v = json_object_array_get_idx(to, 1);
	assert_true(json_object_object_get_ex(v, "address", &v));
	assert_string_equal(json_object_get_string(v), "bad@example.org");
	json_object_put(j);
}

/* test_rcpt_tempfailed_by_error_is_dropped */
static void test_rcpt_tempfailed_by_error_is_dropped(void **state)
{
	struct fixture *fx = *state;
	char *r1[] = {"<r1@example.org>", NULL};

	start(fx, HOOK("h", "\"rcpt\""));
	script_error(fx, HTTP_ERR_CONNECT, "refused");
	assert_int_equal(session_add_rcpt(fx->s, r1), 0);
	run(fx, STAGE_RCPT);
	assert_error_tempfail(fx);
	assert_int_equal(fx->s->nrcpts, 0);
}

/* test_rcpt_4xx_reject_is_dropped_and_accepted_kept */
static void test_rcpt_4xx_reject_is_dropped_and_accepted_kept(void **state)
{
	struct fixture *fx = *state;
	char *r1[] = {"<r1@example.org>", NULL};
	char *r2[] = {"<r2@example.org>", NULL};

	start(fx, HOOK("h", "\"rcpt\""));
	script(fx, 200, "{\"action\":\"reject\",\"response\":{\"status\":450}}");
	script(fx, 204, NULL);
	assert_int_equal(session_add_rcpt(fx->s, r1), 0);
	run(fx, STAGE_RCPT);
	assert_int_equal(fx->out.kind, OUTCOME_TEMPFAIL);
	assert_int_equal(fx->s->nrcpts, 0);
	assert_int_equal(session_add_rcpt(fx->s, r2), 0);
	run(fx, STAGE_RCPT);
	assert_int_equal(fx->out.kind, OUTCOME_CONTINUE);
	assert_int_equal(fx->s->nrcpts, 1);
	assert_string_equal(fx->s->rcpts[0].address, "r2@example.org");
}

/* test_rcpt_discard_keeps_recipient - the message is dropped, the recipient was accepted */
static void test_rcpt_discard_keeps_recipient(void **state)
{
	struct fixture *fx = *state;
	char *r1[] = {"<r1@example.org>", NULL};

	start(fx, HOOK("h", "\"rcpt\""));
	script(fx, 200, "{\"action\":\"discard\"}");
	assert_int_equal(session_add_rcpt(fx->s, r1), 0);
	run(fx, STAGE_RCPT);
	assert_int_equal(fx->out.kind, OUTCOME_DISCARD);
	assert_int_equal(fx->s->nrcpts, 1);
}

/* test_outcome_free_zeroes */
static void test_outcome_free_zeroes(void **state)
{
	struct outcome o = {OUTCOME_REJECT, 550, "5.7.1", NULL, 1};

	(void)state;
	o.text = strdup("text");
	assert_non_null(o.text);
	outcome_free(&o);
	assert_int_equal(o.kind, OUTCOME_CONTINUE);
	assert_int_equal(o.status, 0);
	assert_null(o.text);
	assert_string_equal(o.enhanced, "");
	assert_false(o.disconnect);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define ERROR_T(kind)                                                                              \
	T(test_error_##kind##_tempfails_and_stops_chain),                                          \
	    T(test_error_##kind##_counts_as_accept_when_allowed)

/* main - one group, so TAP has one plan */
int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_stage_without_hooks_continues_and_calls_nothing),
	    T(test_session_without_configuration_continues),
	    T(test_hooks_called_in_file_order),
	    T(test_disabled_hook_not_called),
	    T(test_hook_without_the_stage_not_called),
	    T(test_enable_on_remote_ip_skips_the_hook),
	    T(test_enable_on_rcpt_decides_each_recipient),
	    T(test_enable_sees_queue_id_empty_before_it_is_known),
	    T(test_request_names_the_stage),
	    T(test_accept_continues_and_keeps_mods_for_the_message),
	    T(test_accept_at_connect_keeps_mods_for_the_session),
	    T(test_second_ehlo_replaces_the_first_ehlo_mods),
	    T(test_two_accepting_hooks_contribute_mods_in_order),
	    T(test_status_204_without_body_is_accept),
	    T(test_accept_ignores_response_object),
	    T(test_reject_5xx_status_becomes_reject_with_reply),
	    T(test_reject_4xx_status_becomes_tempfail),
	    T(test_reject_without_status_uses_mta_default_reply),
	    T(test_reject_multiline_text_copied_whole),
	    T(test_reject_with_mismatched_enhanced_keeps_status_and_text),
	    T(test_reject_stops_chain_and_drops_its_mods),
	    T(test_refused_stage_drops_mods_of_earlier_hooks),
	    T(test_discard_at_data_discards_the_message),
	    T(test_discard_at_connect_is_session_wide_and_continues),
	    T(test_quarantine_at_data_holds_message_and_stops_chain),
	    T(test_quarantine_at_ehlo_holds_every_message_of_session),
	    T(test_quarantine_without_message_names_the_hook),
	    T(test_quarantine_replaces_earlier_reason),
	    T(test_later_reject_wins_over_earlier_quarantine),
	    T(test_disconnect_gives_421_keeping_class_4_enhanced),
	    T(test_disconnect_substitutes_4_7_0_for_class_5),
	    T(test_disconnect_without_text_has_default_text),
	    T(test_disconnect_with_discard_at_connect_closes_instead),
	    T(test_disconnect_with_quarantine_closes_without_quarantine),
	    ERROR_T(connect),
	    ERROR_T(tls),
	    ERROR_T(timeout),
	    ERROR_T(too_large),
	    ERROR_T(other),
	    ERROR_T(status_500),
	    ERROR_T(status_302),
	    ERROR_T(not_json),
	    ERROR_T(invalid),
	    ERROR_T(bad_mod),
	    T(test_error_after_accept_keeps_nothing_of_the_stage),
	    T(test_error_logged_once_with_hook_stage_qid_and_no_secret),
	    T(test_decision_logged_at_info_with_unknown_qid_as_dash),
	    T(test_rejected_rcpt_dropped_and_was_last_in_request),
	    T(test_rcpt_tempfailed_by_error_is_dropped),
	    T(test_rcpt_4xx_reject_is_dropped_and_accepted_kept),
	    T(test_rcpt_discard_keeps_recipient),
	    cmocka_unit_test(test_outcome_free_zeroes),
	};

	log_init(1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
