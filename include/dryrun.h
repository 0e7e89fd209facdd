/*
 * dryrun - play a message file through the configured hooks without an MTA (--dry-run)
 *
 * SYNOPSIS
 *	int  dryrun_run(struct config *cfg, const struct dryrun_options *o, FILE *out);
 *	int  dryrun_parse_message(const char *text, size_t len, const char *name,
 *	                          struct dryrun_message *m, char *err, size_t errlen);
 *	void dryrun_message_free(struct dryrun_message *m);
 *	int  dryrun_addresses(const char *value, char ***addrs, size_t *n);
 *	int  dryrun_default_from(const struct dryrun_message *m, char **from);
 *	int  dryrun_default_rcpts(const struct dryrun_message *m, char ***addrs, size_t *n);
 *	void dryrun_strings_free(char **v, size_t n);
 *
 * DESCRIPTION
 *	dryrun_run builds a real session (session.c) and drives it through the
 *	stages as milter.c does with an MTA: connect, ehlo, mail, each rcpt, data,
 *	each only when cfg->stages has it, through hooks_run_stage with a
 *	transport that wraps http.c's client and records, per hook call, the
 *	request, the HTTP status and answer, or the error. It stops where an MTA
 *	would: a refusal at connect, ehlo or mail, a discard, a disconnect, no
 *	recipient left, or after o->last_stage. At the end it says what the MTA
 *	would do (accept, reject, tempfail, discard, with the reply) and the
 *	milter calls milter.c would make, in its order (session_next_mod).
 *	Output goes to out: readable text, or with o->json one JSON document
 *	(mtahooks-milter(8) DRY RUN describes both). Log lines go through log.c
 *	(the caller sets it to stderr). It calls http_global_init and
 *	http_global_cleanup itself.
 *
 *	What the dry run cannot know is absent from the requests: client port
 *	(0) and PTR name (null), TLS, SASL, server address and port, queue id
 *	(the request then has no "queue", as before an MTA assigns one).
 *
 *	dryrun_parse_message reads a message file: LF or CRLF line ends; a
 *	leading mbox "From " line skipped; headers up to the first empty line,
 *	continuation lines kept in their header (joined with LF, which
 *	session_add_header makes CRLF), the value without the blanks after the
 *	colon (as Postfix delivers it); the body with CRLF line ends. name is the
 *	file's name for messages.
 *
 *	dryrun_addresses takes the addresses of an address-list header value
 *	("A <a@x>, b@y (Bob), group: c@z;"), in order, empty ones left out.
 *	dryrun_default_from is the address of Return-Path (an empty "<>" is the
 *	null sender ""), else of From; dryrun_default_rcpts those of every To and
 *	Cc header, in header order.
 *
 * OWNERSHIP
 *	The caller keeps cfg and o. dryrun_parse_message fills *m, freed with
 *	dryrun_message_free; the address functions return malloc'd strings in a
 *	malloc'd array, freed with dryrun_strings_free.
 *
 * DIAGNOSTICS
 *	dryrun_run returns the exit status: 0 when the run completed, whatever the
 *	verdict; 1 for an unreadable or malformed message, a bad option value or
 *	no recipient, each said on stderr. dryrun_parse_message returns 0, or -1
 *	with "NAME:LINE: what is wrong" in err (ENOMEM: "out of memory").
 *	dryrun_addresses returns 0 or -1 (ENOMEM); dryrun_default_from returns 0,
 *	1 when neither header gives an address, -1 on ENOMEM; dryrun_default_rcpts
 *	returns 0 (with *n perhaps 0) or -1.
 */
#ifndef MTAHOOKS_DRYRUN_H
#define MTAHOOKS_DRYRUN_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

/* The largest message file the dry run reads (the daemon's limit is max-message-size). */
#define DRYRUN_MESSAGE_MAX ((size_t)1024 * 1024 * 1024)

struct dryrun_options {
	const char *message;     /* the message file, "-" for standard input */
	const char *from;        /* "ADDR [PARAM...]", NULL: from the headers */
	const char *const *rcpt; /* each "ADDR [PARAM...]", NULL when nrcpt is 0 */
	size_t nrcpt;            /* 0: from the headers */
	const char *client_ip;   /* NULL: 127.0.0.1 */
	const char *helo;        /* NULL: localhost */
	enum stage last_stage;   /* stop after this stage (STAGE_DATA: the whole message) */
	int json;                /* one JSON document instead of text */
};

struct dryrun_header {
	char *name;  /* owned; the value lives in the same allocation */
	char *value; /* continuation lines joined with LF, no leading blanks */
};

struct dryrun_message {
	struct dryrun_header *headers;
	size_t nheaders;
	char *body; /* CRLF line ends, NUL-terminated (may hold NUL bytes of its own) */
	size_t body_len;
};

/* dryrun_run - play the message through the hooks and print what happens; the exit status */
int dryrun_run(struct config *cfg, const struct dryrun_options *o, FILE *out);
/* dryrun_parse_message - headers and body of a message file; 0, or -1 with err set */
int dryrun_parse_message(const char *text, size_t len, const char *name, struct dryrun_message *m,
                         char *err, size_t errlen);
/* dryrun_message_free - free what dryrun_parse_message filled; zeroes m */
void dryrun_message_free(struct dryrun_message *m);
/* dryrun_addresses - the addresses of an address-list header value */
int dryrun_addresses(const char *value, char ***addrs, size_t *n);
/* dryrun_default_from - Return-Path's address, else From's; 1 when neither has one */
int dryrun_default_from(const struct dryrun_message *m, char **from);
/* dryrun_default_rcpts - the addresses of every To and Cc header */
int dryrun_default_rcpts(const struct dryrun_message *m, char ***addrs, size_t *n);
/* dryrun_strings_free - free n strings and their array; NULL is ignored */
void dryrun_strings_free(char **v, size_t n);

#endif
