/*
 * http - POST a request to a hook with libcurl, keeping connections alive
 *
 * SYNOPSIS
 *	int  http_global_init(void);
 *	void http_global_cleanup(void);
 *	struct http_client *http_client_new(void);
 *	void http_client_free(struct http_client *c);
 *	void http_post(struct http_client *c, const struct hook *h, struct request *req,
 *	               struct http_result *res);
 *	void http_set_progress(struct http_client *c, void (*fn)(void *), void *arg,
 *	                       long interval_ms);
 *	void http_result_free(struct http_result *res);
 *	const char *http_error_name(enum http_error e);
 *
 * DESCRIPTION
 *	http_global_init runs once at start, before threads: it initialises
 *	libcurl, creates the daemon-wide curl share (DNS cache and TLS sessions,
 *	guarded by mutexes) and a mutex-guarded pool of idle easy handles, each
 *	keeping its connections alive. libcurl does not support sharing one
 *	connection cache between concurrent threads, so connections are reused by
 *	reusing handles: a post borrows the most recently returned handle and
 *	gives it back, so connections to a hook never outnumber the posts in
 *	flight, and none is opened per request.
 *
 *	A client holds one session's per-post state (each milter session, one
 *	libmilter thread, has its own); the easy handle comes from the pool.
 *	http_post sends
 *	"POST <url>" with Content-Type: application/json, an exact Content-Length,
 *	the body streamed from req, the hook's extra headers, HTTP basic auth when
 *	auth.username is set, TLS verification unless allow-invalid-certs, and
 *	the hook's timeout for the whole exchange. The answer's body is collected
 *	up to options.max-response-size and the transfer is aborted the moment it
 *	would pass it (never buffered beyond the limit).
 *
 *	The result tells what happened: error HTTP_OK with the HTTP status and body
 *	(any status: the caller decides what a non-2xx means), or an error kind with
 *	a reason for the log that never holds a secret.
 *
 *	http_set_progress makes the client's later posts call fn(arg) every
 *	interval_ms while they wait for the hook (fn NULL: never), so the caller
 *	can keep the MTA waiting politely (smfi_progress) during a slow hook.
 *
 * DIAGNOSTICS
 *	http_global_init returns -1 when libcurl cannot start; http_client_new
 *	returns NULL on out-of-memory. http_post itself always fills res.
 */
#ifndef MTAHOOKS_HTTP_H
#define MTAHOOKS_HTTP_H

#include "buf.h"

struct hook;
struct request;
struct http_client;

enum http_error {
	HTTP_OK = 0,
	HTTP_ERR_CONNECT,   /* cannot resolve, connect, or the connection broke */
	HTTP_ERR_TLS,       /* handshake or certificate verification failed */
	HTTP_ERR_TIMEOUT,   /* no complete answer within the hook's timeout */
	HTTP_ERR_TOO_LARGE, /* the answer passed options.max-response-size */
	HTTP_ERR_OTHER      /* anything else libcurl reports */
};

struct http_result {
	enum http_error error;
	long status;      /* HTTP status when error == HTTP_OK */
	struct buf body;  /* the answer's body, owned */
	char reason[256]; /* why, when error != HTTP_OK */
};

#define HTTP_RESULT_INIT                                                                           \
	{                                                                                          \
		HTTP_OK, 0, BUF_INIT(0), ""                                                        \
	}

/* http_global_init - libcurl and the shared connection cache, once */
int http_global_init(void);
/* http_global_cleanup - undo http_global_init, after every client is freed */
void http_global_cleanup(void);
/* http_client_new - a client for one session or thread */
struct http_client *http_client_new(void);
/* http_client_free - free a client; NULL is ignored */
void http_client_free(struct http_client *c);
/* http_post - send req to hook h and collect the answer into res */
void http_post(struct http_client *c, const struct hook *h, struct request *req,
               struct http_result *res);
/* http_set_progress - call fn(arg) every interval_ms while a post waits; fn NULL: never */
void http_set_progress(struct http_client *c, void (*fn)(void *arg), void *arg, long interval_ms);
/* http_result_free - free the body and reset res for reuse */
void http_result_free(struct http_result *res);
/* http_error_name - "connect", "tls", "timeout", "too-large", "other" */
const char *http_error_name(enum http_error e);

#endif
