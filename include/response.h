/*
 * response - a hook's answer, parsed and validated into a verdict
 *
 * SYNOPSIS
 *	int  response_parse(long http_status, const char *body, size_t len,
 *	                    struct verdict *v, char *err, size_t errlen);
 *	void verdict_free(struct verdict *v);
 *	void modification_free(struct modification *m);
 *
 * DESCRIPTION
 *	response_parse turns the body of a 2xx answer into a verdict, following
 *	PROTOCOL.md section 3: action (case-insensitive), response (status as
 *	number or numeric string, enhancedStatus or enhanced_status, message,
 *	disconnect), modifications (every type and spelling of the table).
 *	Status 204 with an empty body means accept. Unknown members are ignored;
 *	an unknown modification type is an error. Every modification is validated
 *	before the verdict is returned, so a verdict is either whole or absent:
 *	nothing is ever half-applied.
 *
 *	With action accept the response object is ignored; with discard and
 *	quarantine only response.message is kept (reply.text). A reject needs a
 *	status of 400-599 when it has one. A malformed enhanced code, or one whose
 *	class differs from the status's, is dropped and v->warning says why.
 *
 *	Pure: no I/O, no logging, no global state; fuzzed directly.
 *	The caller owns *v after success and frees it with verdict_free.
 *
 * DIAGNOSTICS
 *	Returns 0, or RESPONSE_ERR_NOT_JSON / RESPONSE_ERR_INVALID with a reason
 *	in err ("modifications[2]: header name contains ':'"); *v is then empty.
 */
#ifndef MTAHOOKS_RESPONSE_H
#define MTAHOOKS_RESPONSE_H

#include <stddef.h>

#define RESPONSE_ERR_NOT_JSON (-1)
#define RESPONSE_ERR_INVALID  (-2)

#define HEADER_NAME_MAX  997
#define HEADER_VALUE_MAX 65536

enum action { ACTION_ACCEPT, ACTION_DISCARD, ACTION_REJECT, ACTION_QUARANTINE };

enum mod_type {
	MOD_CHANGE_FROM,      /* value, params */
	MOD_ADD_RCPT,         /* value, params */
	MOD_DELETE_RCPT,      /* value */
	MOD_REPLACE_CONTENTS, /* value, value_len (may hold any byte) */
	MOD_ADD_HEADER,       /* name, value */
	MOD_INSERT_HEADER,    /* index, name, value */
	MOD_CHANGE_HEADER,    /* index, name, value */
	MOD_DELETE_HEADER     /* index, name */
};

struct modification {
	enum mod_type type;
	char *name;  /* header name, or NULL */
	char *value; /* address, header value (CRLF folding as received) or body; NUL-terminated */
	size_t value_len; /* strlen(value) except for a body, which may hold NUL bytes */
	char *params;     /* ESMTP parameters "K=V K2" in the order given, NULL when none */
	unsigned index;   /* as received: insertHeader 0 = top; change/deleteHeader 0 means 1 */
};

struct reply {
	int status;        /* 0 = none given */
	char enhanced[16]; /* "5.7.1", or "" when none or dropped */
	char *text;        /* response.message, may hold line breaks; NULL = none */
	int disconnect;    /* response.disconnect */
};

struct verdict {
	enum action action;
	struct reply reply;
	struct modification *mods;
	size_t nmods;
	const char *warning; /* static text when something was dropped, else NULL */
};

/* response_parse - parse and validate a hook's answer */
int response_parse(long http_status, const char *body, size_t len, struct verdict *v, char *err,
                   size_t errlen);
/* verdict_free - free what a verdict owns and zero it */
void verdict_free(struct verdict *v);
/* modification_free - free what one modification owns */
void modification_free(struct modification *m);
/* action_name - "accept", "discard", "reject" or "quarantine" */
const char *action_name(enum action a);

#endif
