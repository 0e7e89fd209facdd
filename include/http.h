/*
 * http - POST a request to a hook with libcurl: one connection pool per hook for the daemon
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
 *	size_t http_endpoint_order(size_t n, const long long *failed_until, long long now,
 *	                           size_t first, size_t *order);
 *	int  http_signature(const char *secret, long long timestamp, struct request *req,
 *	                    char *out, size_t outlen);
 *
 * DESCRIPTION
 *	http_global_init runs once at start, before threads: it initialises
 *	libcurl and the daemon-wide curl share (DNS cache and TLS sessions,
 *	guarded by mutexes).
 *
 *	Connections: each hook (by id) gets, at its first post, one pool for the
 *	whole daemon: a thread of its own driving a curl multi handle, whose
 *	connection cache every worker thread's posts to that hook go through.
 *	libcurl does not support one connection cache shared by easy handles in
 *	concurrent threads (CURL_LOCK_DATA_CONNECT is documented as unsupported
 *	there and crashes), nor HTTP/2 streams of one connection in different
 *	threads; handing the transfers to one thread per hook gives both, safely.
 *	The multi holds at most options.max-connections connections open
 *	(CURLMOPT_MAX_TOTAL_CONNECTIONS and CURLMOPT_MAXCONNECTS): a post beyond
 *	that waits, within the hook's timeout, for a connection to come free
 *	instead of opening another. HTTP/2 is offered by ALPN on https:// and
 *	spoken with prior knowledge on http:// when options.http2-prior-knowledge
 *	is set; posts in flight together share one HTTP/2 connection
 *	(CURLOPT_PIPEWAIT, multiplexing). libcurl before 8.0.0 breaks an h2c
 *	connection that a prior-knowledge transfer reuses (curl issue 10634):
 *	there the pool asks for prior knowledge only to open a connection, and
 *	reuses it with plain HTTP/2 (http.c says how). The calling thread waits
 *	for its transfer on a condition variable and calls the progress function
 *	itself.
 *	A pool lives until http_global_cleanup; a reload that changes a hook's
 *	max-connections applies to its pool from the next post.
 *
 *	A client holds one session's per-post state (each milter session, one
 *	libmilter thread, has its own); easy handles are kept by the pools.
 *	http_post sends "POST <url>" with Content-Type: application/json, an
 *	exact Content-Length, the body from req (a request of up to 16 KB
 *	written out whole first, so that it leaves in one write with the
 *	headers; a larger one streamed, 512 KB a write), the hook's extra
 *	headers, HTTP basic auth when auth.username is set, TLS verification
 *	unless allow-invalid-certs, the [tls] CA, client certificate and lowest
 *	version, no proxy unless options.use-proxy, and the hook's timeout for the
 *	whole post. The answer's body is collected up to options.max-response-size
 *	and the transfer is aborted the moment it would pass it (never buffered
 *	beyond the limit).
 *
 *	Endpoints (url or urls): tried in the order http_endpoint_order gives.
 *	An endpoint has failed when it cannot be reached, its TLS handshake
 *	fails, the connection breaks, it does not answer in time, or it answers
 *	with an HTTP 5xx status; the next one is then tried, and the failed one
 *	is skipped for options.retry-after (tried after the others, not never).
 *	Any other answer is the hook's own and final: 2xx, 3xx and 4xx statuses,
 *	an answer over max-response-size, and whatever hooks.c then finds wrong
 *	in the body. The timeout bounds the whole post across endpoints: each
 *	attempt may connect (TCP and TLS) for an equal share of the time left
 *	among the endpoints not yet tried, and may use all the time left once
 *	connected. An endpoint's failure is logged (LOG_WARNING) when another is
 *	tried after it; the result is the last attempt's.
 *
 *	Signing: with signature.secret each post carries X-MTA-Hooks-Timestamp
 *	(Unix seconds) and X-MTA-Hooks-Signature: sha256=<lowercase hex
 *	HMAC-SHA256(secret, "<timestamp>.<body>")>, body the exact bytes POSTed.
 *	http_signature computes it; it costs one more pass of request_read over
 *	the request (the JSON, body escaping included, is produced twice: once
 *	into the HMAC, once onto the wire) and a 16 KB buffer on the stack,
 *	never a copy of the request. The same signature serves every endpoint
 *	of one post.
 *
 *	The result tells what happened: error HTTP_OK with the HTTP status and body
 *	(any status: the caller decides what a non-2xx means), or an error kind with
 *	a reason for the log that never holds a secret.
 *
 *	http_set_progress makes the client's later posts call fn(arg) every
 *	interval_ms while they wait for the hook (fn NULL: never), so the caller
 *	can keep the MTA waiting politely (smfi_progress) during a slow hook.
 *
 *	http_endpoint_order (pure) writes into order the indexes of n endpoints
 *	in the order to try them: first those whose failed_until[i] <= now, from
 *	index first on and wrapping around; then the others, the soonest to
 *	recover first (ties in index order). It returns n. http_post passes
 *	first 0 for failover, and a counter that grows by one per post for
 *	round-robin.
 *
 *	http_signature (pure but for rewinding req) writes "sha256=<64 hex>"
 *	into out (HTTP_SIGNATURE_MAX bytes are enough) and leaves req rewound.
 *
 * DIAGNOSTICS
 *	http_global_init returns -1 when libcurl cannot start; http_client_new
 *	returns NULL on out-of-memory. http_post itself always fills res.
 *	http_signature returns -1 (out empty) when OpenSSL fails or outlen is
 *	too small.
 */
#ifndef MTAHOOKS_HTTP_H
#define MTAHOOKS_HTTP_H

#include <stddef.h>

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

/* "sha256=" and 64 hex digits, with room to spare. */
#define HTTP_SIGNATURE_MAX 80

/* http_global_init - libcurl and the shared DNS and TLS session caches, once */
int http_global_init(void);
/* http_global_cleanup - stop the pools and undo http_global_init, after every client is freed */
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
/* http_endpoint_order - the order to try n endpoints in, healthy ones first; returns n */
size_t http_endpoint_order(size_t n, const long long *failed_until, long long now, size_t first,
                           size_t *order);
/* http_signature - "sha256=<hex HMAC-SHA256(secret, "<timestamp>.<request>")>"; 0 or -1 */
int http_signature(const char *secret, long long timestamp, struct request *req, char *out,
                   size_t outlen);

#endif
