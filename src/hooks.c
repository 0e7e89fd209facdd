/* hooks.c - run the hook chain for one stage and merge the answers (see include/hooks.h) */
#ifdef HAVE_CONFIG_H
#include "build-config.h" /* _GNU_SOURCE, before any system header */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expr.h"
#include "hooks.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "response.h"
#include "session.h"

/* What one hook's answer means for the rest of the chain. */
enum step { STEP_NEXT, STEP_STOP };

/* Why a hook failed, for the one log line and the error policy. */
struct hook_error {
	const char
	    *kind; /* http_error_name(), "http-status", "not-json", "invalid", "out-of-memory" */
	char reason[512]; /* the detail, without repeating the kind */
};

/* The session as enable expressions see it, gathered once per stage when a hook needs it. */
struct enable_state {
	struct expr_vars vars;
	const char **rcpts; /* the recipients' addresses, borrowed from the session */
	int ready;
};

/* The reply of the error policy (PROTOCOL.md section 5). */
#define ERROR_STATUS   451
#define ERROR_ENHANCED "4.3.5"
#define ERROR_TEXT     "Unable to accept message at this time."

/*
 * The reply of a disconnect whose hook gave no text: RFC 5321's wording for
 * 421, so the client's log says why the connection went away.
 */
#define DISCONNECT_STATUS   421
#define DISCONNECT_ENHANCED "4.7.0"
#define DISCONNECT_TEXT     "Service not available, closing transmission channel"

static enum step run_hook(struct session *s, enum stage stage, const struct hook *h,
                          const struct transport *t, struct request **req, struct outcome *out);
static int call_hook(struct session *s, enum stage stage, const struct hook *h,
                     const struct transport *t, struct request **req, struct verdict *v,
                     struct hook_error *e, long long *usec);
static long long mono_us(void);
static enum metrics_action metrics_action_of(enum action a);
static int apply_verdict(struct session *s, enum stage stage, const struct hook *h,
                         struct verdict *v, struct outcome *out, enum step *step);
static int set_reply(struct outcome *out, enum outcome_kind kind, int status, const char *enhanced,
                     const char *text, int disconnect);
static int take_mods(struct modlist *l, struct verdict *v);
static enum step fail_hook(struct session *s, enum stage stage, const struct hook *h,
                           const struct hook_error *e, struct outcome *out);
static int enabled_here(const struct session *s, enum stage stage, const struct hook *h,
                        struct enable_state *es);
static void enable_vars(const struct session *s, enum stage stage, const char **rcpts,
                        struct expr_vars *v);
static int is_session_stage(enum stage stage);
static struct modlist *mods_of(struct session *s, enum stage stage);

/* hooks_run_stage - call every enabled hook of a stage and merge the answers */
int hooks_run_stage(struct session *s, enum stage stage, const struct transport *t,
                    struct outcome *out)
{
	const struct config *cfg = s->config;
	struct modlist *mods = mods_of(s, stage);
	struct request *req = NULL; /* the same for every hook of the stage: built once */
	struct enable_state es = {0};
	size_t mark;

	/* A new HELO/EHLO (after STARTTLS, say) replaces what the last one decided. */
	if (stage == STAGE_EHLO)
		modlist_clear(mods);
	mark = mods->count;

	/* out is the caller's to free; whatever it held before is overwritten. */
	memset(out, 0, sizeof(*out));
	out->kind = OUTCOME_CONTINUE;
	if (cfg == NULL)
		return 0;
	for (size_t i = 0; i < cfg->nhooks; i++) {
		const struct hook *h = &cfg->hooks[i];

		int on;

		if (!h->enable || !(h->stages & STAGE_BIT(stage)))
			continue;
		on = enabled_here(s, stage, h, &es);
		if (on < 0) {
			struct hook_error e = {"out-of-memory", "out of memory"};

			if (fail_hook(s, stage, h, &e, out) == STEP_STOP)
				break;
			continue;
		}
		if (!on) {
			log_msg(LOG_DEBUG, "hook=%s stage=%s qid=%s disabled by enable", h->id,
			        stage_name(stage), session_qid(s));
			continue;
		}
		if (run_hook(s, stage, h, t, &req, out) == STEP_STOP)
			break;
	}
	free(es.rcpts);
	request_free(req);
	if (out->kind == OUTCOME_REJECT || out->kind == OUTCOME_TEMPFAIL) {
		/*
		 * The command is refused, so what earlier hooks asked for on it goes
		 * too: a refused RCPT leaves no trace in the message, and a HELO the
		 * client repeats does not collect the same modifications twice.
		 */
		for (size_t i = mark; i < mods->count; i++)
			modification_free(&mods->items[i]);
		mods->count = mark;
		if (stage == STAGE_RCPT)
			session_drop_last_rcpt(s);
	}
	return 0;
}

/* outcome_free - free the reply text and zero the outcome */
void outcome_free(struct outcome *out)
{
	free(out->text);
	memset(out, 0, sizeof(*out));
}

/*
 * enabled_here - 1 when h's enable is true at this stage, 0 when not, -1 out of memory.
 * The session does not change while a stage's chain runs, so its variables are gathered
 * once, at the first hook with an expression.
 */
static int enabled_here(const struct session *s, enum stage stage, const struct hook *h,
                        struct enable_state *es)
{
	if (h->enable_expr == NULL)
		return h->enable != 0;
	if (!es->ready) {
		if (s->nrcpts > 0) {
			es->rcpts = calloc(s->nrcpts, sizeof(*es->rcpts));
			if (es->rcpts == NULL)
				return -1;
		}
		enable_vars(s, stage, es->rcpts, &es->vars);
		es->ready = 1;
	}
	return expr_eval(h->enable_expr, &es->vars);
}

/*
 * enable_vars - what the session knows at a stage, as expressions name it (PROTOCOL.md
 * section 6). What is not known yet is NULL, or -1 for a port. At rcpt, rcpt is the
 * recipient being decided (milter.c adds it before the chain runs) and recipients holds
 * it; at data, rcpt is the last recipient. rcpts has room for s->nrcpts addresses; v
 * borrows from s and rcpts. Here rather than in session.c because what is known depends
 * on the stage, which only the chain knows.
 */
static void enable_vars(const struct session *s, enum stage stage, const char **rcpts,
                        struct expr_vars *v)
{
	memset(v, 0, sizeof(*v));
	v->remote_ip = s->client_ip;
	v->remote_port = s->client_port > 0 ? (long)s->client_port : -1;
	v->local_ip = s->server_ip;
	v->local_port = s->server_port > 0 ? (long)s->server_port : -1;
	v->listener = s->listener;
	v->is_tls = s->tls;
	v->authenticated_as = s->sasl_login;
	v->helo_domain = s->helo;
	v->queue_id = s->queue_id;
	if (stage < STAGE_MAIL || !s->has_from)
		return;
	v->sender = s->from.address != NULL ? s->from.address : "";
	if (stage < STAGE_RCPT || s->nrcpts == 0 || rcpts == NULL)
		return;
	for (size_t i = 0; i < s->nrcpts; i++)
		rcpts[i] = s->rcpts[i].address != NULL ? s->rcpts[i].address : "";
	v->recipients = rcpts;
	v->nrecipients = s->nrcpts;
	v->rcpt = rcpts[s->nrcpts - 1];
}

/* run_hook - call one hook and fold its answer into out */
static enum step run_hook(struct session *s, enum stage stage, const struct hook *h,
                          const struct transport *t, struct request **req, struct outcome *out)
{
	struct hook_error e = {NULL, ""};
	struct verdict v;
	enum step step = STEP_NEXT;
	long long usec = -1; /* how long the post took; -1: none was made */

	memset(&v, 0, sizeof(v));
	if (call_hook(s, stage, h, t, req, &v, &e, &usec) < 0) {
		verdict_free(&v); /* empty after a failure; freed all the same */
		if (usec >= 0)
			metrics_hook_request(h->metrics, stage, METRICS_ERROR, usec);
		if (t->seen != NULL)
			t->seen(t->ctx, h, NULL, NULL, e.kind, e.reason);
		return fail_hook(s, stage, h, &e, out);
	}
	if (v.warning != NULL)
		log_msg(LOG_WARNING, "hook=%s stage=%s qid=%s warning=%s", h->id, stage_name(stage),
		        session_qid(s), v.warning);
	if (apply_verdict(s, stage, h, &v, out, &step) < 0) {
		verdict_free(&v);
		e.kind = "out-of-memory";
		snprintf(e.reason, sizeof(e.reason), "out of memory");
		metrics_hook_request(h->metrics, stage, METRICS_ERROR, usec);
		if (t->seen != NULL)
			t->seen(t->ctx, h, NULL, NULL, e.kind, e.reason);
		return fail_hook(s, stage, h, &e, out);
	}
	metrics_hook_request(h->metrics, stage, metrics_action_of(v.action), usec);
	if (t->seen != NULL)
		t->seen(t->ctx, h, action_name(v.action), v.warning, NULL, NULL);
	log_msg(LOG_INFO, "hook=%s stage=%s qid=%s action=%s%s", h->id, stage_name(stage),
	        session_qid(s), action_name(v.action), out->disconnect ? " disconnect=yes" : "");
	verdict_free(&v);
	return step;
}

/*
 * call_hook - send the stage's request to h and parse the answer into v; -1 with e set.
 * The request is built at the first hook and reused for the next (the transport reads it
 * from the start each time). *usec gets how long the post took, when one was made.
 */
static int call_hook(struct session *s, enum stage stage, const struct hook *h,
                     const struct transport *t, struct request **req, struct verdict *v,
                     struct hook_error *e, long long *usec)
{
	long long start;
	struct http_result res = HTTP_RESULT_INIT;
	char err[256] = "";
	int rc;

	if (*req == NULL && (*req = request_new(s, stage)) == NULL) {
		e->kind = "out-of-memory";
		snprintf(e->reason, sizeof(e->reason), "out of memory");
		return -1;
	}
	start = mono_us();
	t->post(t->ctx, h, *req, &res);
	*usec = mono_us() - start;
	if (res.error != HTTP_OK) {
		e->kind = http_error_name(res.error);
		snprintf(e->reason, sizeof(e->reason), "%.*s", (int)sizeof(res.reason),
		         res.reason[0] ? res.reason : "no reason given");
		http_result_free(&res);
		return -1;
	}
	if (res.status == 204 && res.body.len == 0) {
		/* No content at all is an accept without modifications (an extension). */
		http_result_free(&res);
		v->action = ACTION_ACCEPT;
		return 0;
	}
	if (res.status < 200 || res.status > 299) {
		e->kind = "http-status";
		snprintf(e->reason, sizeof(e->reason), "HTTP status %ld", res.status);
		http_result_free(&res);
		return -1;
	}
	rc = response_parse(res.status, res.body.data ? res.body.data : "", res.body.len, v, err,
	                    sizeof(err));
	http_result_free(&res);
	if (rc == 0)
		return 0;
	/* The kind says which check failed; the reason is response.c's own words. */
	e->kind = rc == RESPONSE_ERR_NOT_JSON ? "not-json" : "invalid";
	snprintf(e->reason, sizeof(e->reason), "%s", err[0] ? err : "no reason given");
	return -1;
}

/* apply_verdict - act on one hook's verdict (PROTOCOL.md section 4); -1 on ENOMEM */
static int apply_verdict(struct session *s, enum stage stage, const struct hook *h,
                         struct verdict *v, struct outcome *out, enum step *step)
{
	int whole_session = is_session_stage(stage);
	struct modlist *mods = mods_of(s, stage);
	const struct reply *r = &v->reply;
	char **qfield;
	char *reason;

	*step = STEP_STOP;
	/* A disconnect overrides the action (but accept); its modifications are dropped. */
	if (v->action != ACTION_ACCEPT && r->disconnect)
		return set_reply(out, OUTCOME_TEMPFAIL, DISCONNECT_STATUS,
		                 r->enhanced[0] == '4' ? r->enhanced : DISCONNECT_ENHANCED,
		                 r->text ? r->text : DISCONNECT_TEXT, 1);
	switch (v->action) {
	case ACTION_ACCEPT:
		*step = STEP_NEXT;
		return take_mods(mods, v);
	case ACTION_REJECT:
		/* Without a status the MTA answers with its own default text. */
		return set_reply(
		    out, r->status >= 400 && r->status <= 499 ? OUTCOME_TEMPFAIL : OUTCOME_REJECT,
		    r->status, r->enhanced, r->text, 0);
	case ACTION_DISCARD:
		/* At connect/ehlo milter.c discards each message of the session. */
		if (whole_session)
			s->discard_session = 1;
		else
			out->kind = OUTCOME_DISCARD;
		return 0;
	case ACTION_QUARANTINE:
		qfield = whole_session ? &s->quarantine_session : &s->quarantine_message;
		if (r->text != NULL) {
			reason = strdup(r->text);
		} else {
			size_t len = strlen("quarantined by hook ") + strlen(h->id) + 1;

			if ((reason = malloc(len)) != NULL)
				snprintf(reason, len, "quarantined by hook %s", h->id);
		}
		if (reason == NULL)
			return -1;
		if (take_mods(mods, v) < 0) {
			free(reason);
			return -1;
		}
		free(*qfield);
		*qfield = reason;
		return 0;
	}
	return 0;
}

/* set_reply - make out a refusal with an SMTP reply; -1 on ENOMEM */
static int set_reply(struct outcome *out, enum outcome_kind kind, int status, const char *enhanced,
                     const char *text, int disconnect)
{
	char *copy = NULL;

	if (text != NULL && (copy = strdup(text)) == NULL)
		return -1;
	outcome_free(out);
	out->kind = kind;
	out->status = status;
	snprintf(out->enhanced, sizeof(out->enhanced), "%s", enhanced ? enhanced : "");
	out->text = copy;
	out->disconnect = disconnect;
	return 0;
}

/* take_mods - move every modification of v into l, all or none; -1 on ENOMEM */
static int take_mods(struct modlist *l, struct verdict *v)
{
	size_t mark = l->count;

	for (size_t i = 0; i < v->nmods; i++) {
		if (modlist_append(l, &v->mods[i]) == 0)
			continue;
		/* Never half-applied: give back what was taken (verdict_free frees the rest). */
		for (size_t j = mark; j < l->count; j++)
			modification_free(&l->items[j]);
		l->count = mark;
		return -1;
	}
	return 0;
}

/* fail_hook - log a hook's error once and apply options.tempfail-on-error */
static enum step fail_hook(struct session *s, enum stage stage, const struct hook *h,
                           const struct hook_error *e, struct outcome *out)
{
	log_msg(LOG_ERR, "hook=%s stage=%s qid=%s error=%s reason=%s policy=%s", h->id,
	        stage_name(stage), session_qid(s), e->kind, e->reason,
	        h->tempfail_on_error ? "tempfail" : "accept");
	metrics_hook_error(h->metrics, e->kind);
	if (!h->tempfail_on_error)
		return STEP_NEXT;
	if (set_reply(out, OUTCOME_TEMPFAIL, ERROR_STATUS, ERROR_ENHANCED, ERROR_TEXT, 0) < 0) {
		/* No memory even for the text: a bare tempfail, the MTA's own reply. */
		outcome_free(out);
		out->kind = OUTCOME_TEMPFAIL;
	}
	return STEP_STOP;
}

/* mono_us - CLOCK_MONOTONIC in microseconds: a clock step must not skew the latencies */
static long long mono_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* metrics_action_of - a verdict's action as the requests counter's action label */
static enum metrics_action metrics_action_of(enum action a)
{
	switch (a) {
	case ACTION_ACCEPT:
		return METRICS_ACCEPT;
	case ACTION_REJECT:
		return METRICS_REJECT;
	case ACTION_DISCARD:
		return METRICS_DISCARD;
	case ACTION_QUARANTINE:
		return METRICS_QUARANTINE;
	}
	return METRICS_ERROR;
}

/* is_session_stage - whether decisions at this stage hold for the whole session */
static int is_session_stage(enum stage stage)
{
	return stage == STAGE_CONNECT || stage == STAGE_EHLO;
}

/* mods_of - where a stage's modifications are kept until end of message */
static struct modlist *mods_of(struct session *s, enum stage stage)
{
	switch (stage) {
	case STAGE_CONNECT:
		return &s->session_mods;
	case STAGE_EHLO:
		return &s->ehlo_mods;
	default:
		return &s->message_mods;
	}
}
