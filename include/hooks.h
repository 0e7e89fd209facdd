/*
 * hooks - run the hook chain for one stage and merge the answers into one outcome
 *
 * SYNOPSIS
 *	int  hooks_run_stage(struct session *s, enum stage stage,
 *	                     const struct transport *t, struct outcome *out);
 *	void outcome_free(struct outcome *out);
 *
 * DESCRIPTION
 *	For each hook of s->config, in file order, that is enabled and lists the
 *	stage (an enable expression is evaluated with what the session knows at
 *	the stage; a hook it disables is skipped, logged at debug level): build
 *	the request (request.c), send it through the transport, check
 *	the HTTP status, parse the answer (response.c), and act on it as
 *	PROTOCOL.md sections 4 and 5 say:
 *	  accept     keep its modifications, go on with the next hook;
 *	  reject     stop; 4xx -> OUTCOME_TEMPFAIL, 5xx or none -> OUTCOME_REJECT;
 *	  discard    stop; OUTCOME_DISCARD, or at connect/ehlo s->discard_session
 *	             and OUTCOME_CONTINUE (milter.c applies it to each message);
 *	  quarantine keep its modifications, record the reason (response.message
 *	             or "quarantined by hook <id>") for the message, or the session
 *	             at connect/ehlo; stop this stage's chain; OUTCOME_CONTINUE;
 *	  response.disconnect with anything but accept: OUTCOME_TEMPFAIL with 421,
 *	             the enhanced code when of class 4 (else 4.7.0) and the text.
 *	Modifications are appended to s->session_mods at connect/ehlo and to
 *	s->message_mods otherwise, only from hooks whose verdict does not end in
 *	reject/discard/disconnect. At the rcpt stage a recipient that ends rejected
 *	(REJECT or TEMPFAIL) is dropped from s->rcpts.
 *
 *	An error (transport error, HTTP status outside 2xx, body not JSON, invalid
 *	response) is logged once with hook id, stage, queue id and reason; then
 *	with options.tempfail-on-error the chain stops with OUTCOME_TEMPFAIL
 *	451 4.3.5 "Unable to accept message at this time.", otherwise the hook
 *	counts as accept.
 *
 *	Knows nothing of libmilter or libcurl: the transport is handed in, so unit
 *	tests use a fake one and milter.c passes http.c's.
 *
 * DIAGNOSTICS
 *	Returns 0; out-of-memory is handled as an error of the hook that hit it.
 *	The caller frees out with outcome_free.
 */
#ifndef MTAHOOKS_HOOKS_H
#define MTAHOOKS_HOOKS_H

#include "config.h"
#include "http.h"

struct session;
struct request;

/*
 * How a hook is reached: http.c in the daemon, a fake in unit tests. post reads req from its
 * start (one request serves every hook of a stage) and always fills res. seen, when set,
 * hears what hooks.c made of each answer post returned: the verdict's action name and
 * warning, or the error's kind and reason (the dry run reports it; NULL in the daemon).
 */
struct transport {
	void (*post)(void *ctx, const struct hook *h, struct request *req, struct http_result *res);
	void *ctx;
	void (*seen)(void *ctx, const struct hook *h, const char *action, const char *warning,
	             const char *error_kind, const char *error_reason);
};

enum outcome_kind {
	OUTCOME_CONTINUE, /* SMFIS_CONTINUE */
	OUTCOME_REJECT,   /* SMFIS_REJECT, with the reply below when status != 0 */
	OUTCOME_TEMPFAIL, /* SMFIS_TEMPFAIL, with the reply below when status != 0 */
	OUTCOME_DISCARD   /* SMFIS_DISCARD */
};

struct outcome {
	enum outcome_kind kind;
	int status;        /* SMTP reply code for smfi_setreply, 0 = the MTA's default */
	char enhanced[16]; /* "5.7.1", "" = none */
	char *text;        /* reply text, lines separated by LF or CRLF; NULL = none */
	int disconnect;    /* the reply is a 421 that closes the connection */
};

/* hooks_run_stage - call every enabled hook of a stage and merge the answers */
int hooks_run_stage(struct session *s, enum stage stage, const struct transport *t,
                    struct outcome *out);
/* outcome_free - free the reply text and zero the outcome */
void outcome_free(struct outcome *out);

#endif
