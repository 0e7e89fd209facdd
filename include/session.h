/*
 * session - what is known about one milter connection and its current message
 *
 * SYNOPSIS
 *	struct session *session_new(struct config *cfg);
 *	void session_free(struct session *s);
 *	int  session_set(char **field, const char *value);
 *	int  session_set_from(struct session *s, char **argv);
 *	int  session_add_rcpt(struct session *s, char **argv);
 *	void session_drop_last_rcpt(struct session *s);
 *	int  session_add_header(struct session *s, const char *name, const char *value);
 *	int  session_append_body(struct session *s, const void *data, size_t len);
 *	void session_end_message(struct session *s);
 *	int  session_set_server_name(struct session *s, const char *from_mta);
 *	const char *session_qid(const struct session *s);
 *	int  modlist_append(struct modlist *l, struct modification *m);
 *	const struct modification *session_next_mod(const struct session *s, size_t *pos);
 *	const char *session_quarantine_reason(const struct session *s);
 *	unsigned session_ip_enter(const char *ip);
 *	void session_ip_leave(const char *ip);
 *
 * DESCRIPTION
 *	A session is created at milter connect with a reference to the configuration
 *	snapshot of that moment (released by session_free), and lives until the MTA
 *	closes the connection. It owns every string in it.
 *
 *	Connection facts (client, server, TLS, SASL, HELO) are filled by milter.c
 *	from callbacks and macros. The transaction (envelope, headers, body) is
 *	filled as the MTA passes it and cleared by session_end_message at end of
 *	message or abort; allocations are kept for the next message.
 *
 *	session_append_body also counts, while the chunk is fresh in the cache,
        what the body will take escaped in the data request (request.c), so that
        building the request does not read the whole body an extra time.

        session_add_header keeps the value as milter delivers it (no leading space)
 *	but with line breaks made CRLF, as PROTOCOL.md wants them (Postfix folds
 *	with LF); headers count against max-message-size like the body.
 *
 *	session_set_from and session_add_rcpt take the argv of xxfi_envfrom /
 *	xxfi_envrcpt: argv[0] is the address (with or without <>), the rest
 *	"KEYWORD[=VALUE]" ESMTP parameters, turned into a json-c object with the
 *	keyword lowercased, the value a string (xtext kept as given), SIZE a number,
 *	a bare keyword null (PROTOCOL.md section 2).
 *
 *	What hooks decide for later is kept here too: modifications returned at
 *	connect (session_mods) and at the last HELO/EHLO (ehlo_mods, replaced when
 *	the client says HELO/EHLO again, e.g. after STARTTLS), both for every
 *	message, and during the message
 *	(message_mods), quarantine reasons and session-wide discard.
 *	session_end_message clears the message's, never the session's.
 *
 *	session_next_mod says what is applied at end of message, in which order
 *	(PROTOCOL.md section 4): session_mods, then ehlo_mods, then message_mods,
 *	each in the order received, with only the last replaceContents of all
 *	three (the earlier ones are skipped). Start with *pos = 0; each call
 *	returns the next modification (borrowed from s) and advances *pos, NULL
 *	at the end. session_quarantine_reason is the reason that applies: this
 *	message's, else the session's, else NULL. milter.c applies what these
 *	say; the dry run (dryrun.c) prints it.
 *
 *	session_ip_enter / session_ip_leave count open sessions per client IP across
 *	threads (the one global, mutex-protected table on the message path, as
 *	DESIGN.md allows); enter returns the count including this session.
 *
 * DIAGNOSTICS
 *	Functions returning int give 0, or -1 on out-of-memory, or (append_body)
 *	when the message passes max-message-size (errno EFBIG).
 */
#ifndef MTAHOOKS_SESSION_H
#define MTAHOOKS_SESSION_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "response.h"

struct json_object;

struct envaddr {
	char *address;              /* without <>; "" for the null sender */
	struct json_object *params; /* ESMTP parameters object, NULL when none */
};

struct header {
	char *name;
	char *value; /* as milter delivers it: no leading space, folding kept */
};

struct modlist {
	struct modification *items; /* owned; in the order received */
	size_t count, cap;
};

struct session {
	struct config *config; /* reference held for the session's life */
	unsigned long id;      /* serial number, for log lines */

	/* the connection */
	char *client_ip;             /* "" for a non-IP (local) connection */
	unsigned client_port;        /* 0 when not IP */
	char *client_ptr;            /* NULL = no PTR name */
	char *helo;                  /* last HELO/EHLO argument, NULL before */
	unsigned active_connections; /* from session_ip_enter and {client_connections} */
	char *server_name;           /* macro j, [milter] server-name or host name */
	char *server_ip;             /* {daemon_addr} / {if_addr}, NULL unknown */
	unsigned server_port;        /* {daemon_port} or from the address, 0 unknown */
	char *listener;              /* {daemon_name}, NULL unknown */
	char *queue_id;              /* macro i as last seen, NULL before */
	char *sasl_login;            /* {auth_authen}, NULL when not authenticated */
	char *sasl_method;           /* {auth_type} */
	int tls;                     /* some TLS macro was seen */
	char *tls_version, *tls_cipher, *tls_cert_issuer, *tls_cert_subject;
	long tls_cipher_bits; /* -1 unknown */

	/* the current transaction */
	int has_from; /* MAIL FROM seen */
	struct envaddr from;
	struct envaddr *rcpts; /* accepted so far, in order */
	size_t nrcpts, rcpts_cap;
	struct header *headers; /* in the MTA's order */
	size_t nheaders, headers_cap;
	size_t header_bytes;   /* "Name: value\r\n" bytes, for message.size */
	struct buf body;       /* body as received, CRLF line ends; limit max-message-size */
	size_t body_json_len;  /* bytes body[0..body_json_done) takes escaped in JSON */
	size_t body_json_done; /* how much of the body body_json_len covers */

	/* decided by hooks, applied at end of message */
	struct modlist session_mods; /* from connect: every message */
	struct modlist
	    ehlo_mods; /* from the last HELO/EHLO (replaced by the next): every message */
	struct modlist message_mods; /* from mail/rcpt/data of this message */
	int discard_session;         /* discard at connect/ehlo: every message */
	char *quarantine_session;    /* reason, NULL = none; every message */
	char *quarantine_message;    /* reason, NULL = none; this message */
};

/* session_new - a session holding a new reference to cfg; NULL on ENOMEM */
struct session *session_new(struct config *cfg);
/* session_free - free everything, release the configuration; NULL is ignored */
void session_free(struct session *s);
/* session_set - replace *field by a copy of value (NULL clears it) */
int session_set(char **field, const char *value);
/* session_set_from - record MAIL FROM from xxfi_envfrom's argv */
int session_set_from(struct session *s, char **argv);
/* session_add_rcpt - append a recipient from xxfi_envrcpt's argv */
int session_add_rcpt(struct session *s, char **argv);
/* session_drop_last_rcpt - forget the last recipient (a hook rejected it) */
void session_drop_last_rcpt(struct session *s);
/* session_add_header - append one header as milter passed it */
int session_add_header(struct session *s, const char *name, const char *value);
/* session_append_body - append a body chunk, bounded by max-message-size */
int session_append_body(struct session *s, const void *data, size_t len);
/* session_message_size - headers + separator + body, as message.size */
size_t session_message_size(const struct session *s);
/* session_set_server_name - from_mta (macro j), else [milter] server-name, else host name */
int session_set_server_name(struct session *s, const char *from_mta);
/* session_qid - the queue id for log lines, "-" before the MTA assigned one */
const char *session_qid(const struct session *s);
/* session_end_message - clear the transaction and this message's decisions */
void session_end_message(struct session *s);
/* modlist_append - move *m into the list (m is zeroed on success) */
int modlist_append(struct modlist *l, struct modification *m);
/* session_next_mod - the next modification to apply at end of message, NULL at the end */
const struct modification *session_next_mod(const struct session *s, size_t *pos);
/* session_quarantine_reason - the quarantine reason for this message, NULL = none */
const char *session_quarantine_reason(const struct session *s);
/* modlist_clear - free the items, keep the array */
void modlist_clear(struct modlist *l);
/* session_ip_enter - count one more session from ip; returns the new count */
unsigned session_ip_enter(const char *ip);
/* session_ip_leave - count one session from ip less */
void session_ip_leave(const char *ip);

#endif
