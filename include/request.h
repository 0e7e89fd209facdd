/*
 * request - the MTA Hooks JSON request for one stage, produced as a stream
 *
 * SYNOPSIS
 *	struct request *request_new(const struct session *s, enum stage stage);
 *	size_t request_length(const struct request *r);
 *	size_t request_read(struct request *r, char *dst, size_t len);
 *	void   request_rewind(struct request *r);
 *	char  *request_to_string(struct request *r, size_t *len);
 *	void   request_free(struct request *r);
 *	size_t request_json_length(const void *p, size_t len);
 *
 * DESCRIPTION
 *	request_new writes everything but the message body at once (context,
 *	envelope from the mail stage on, message headers at data; PROTOCOL.md
 *	section 2) and keeps a pointer to the session's body, which is escaped
 *	as it is read out: the body is never copied into a second whole-message
 *	buffer. Bytes of the body that are not valid UTF-8 become U+FFFD.
 *	The session must stay unchanged while the request exists.
 *
 *	request_length is the exact byte length of the JSON (for Content-Length);
 *	request_read copies the next bytes into dst and returns how many (0 at
 *	the end), as a libcurl read callback wants; request_rewind starts again
 *	(a retried or redirected POST). request_to_string returns the whole JSON
 *	as one malloc'd NUL-terminated string (tests, dry run); the caller frees it.
 *
 *	request_json_length is what len bytes take escaped as the body is (the
 *	Content-Length's share of the body). It adds up over pieces of a text
 *	cut right after ASCII bytes; session.c counts the body so, as it
 *	arrives, and request_new counts only what is left.
 *
 *	Pure: no I/O, no logging.
 *
 * DIAGNOSTICS
 *	request_new and request_to_string return NULL on out-of-memory.
 */
#ifndef MTAHOOKS_REQUEST_H
#define MTAHOOKS_REQUEST_H

#include <stddef.h>

#include "config.h"

struct session;
struct request;

/* request_new - prepare the request for a stage; NULL on ENOMEM */
struct request *request_new(const struct session *s, enum stage stage);
/* request_length - the total length in bytes of the JSON */
size_t request_length(const struct request *r);
/* request_read - copy out up to len further bytes; 0 at the end */
size_t request_read(struct request *r, char *dst, size_t len);
/* request_rewind - read from the beginning again */
void request_rewind(struct request *r);
/* request_to_string - the whole JSON as a new string; *len gets its length if not NULL */
char *request_to_string(struct request *r, size_t *len);
/* request_free - free the request; NULL is ignored */
void request_free(struct request *r);
/* request_json_length - bytes p takes escaped inside a JSON string; SIZE_MAX past size_t */
size_t request_json_length(const void *p, size_t len);

#endif
