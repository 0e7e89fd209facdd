/*
 * metrics - counters of what the daemon does, rendered in Prometheus text format
 *
 * SYNOPSIS
 *	struct metrics_hook *metrics_hook_get(const char *id);
 *	int  metrics_bind(struct config *cfg);
 *	void metrics_show(const struct config *cfg);
 *	void metrics_hook_request(struct metrics_hook *m, enum stage stage,
 *	                          enum metrics_action action, long long usec);
 *	void metrics_hook_error(struct metrics_hook *m, const char *kind);
 *	void metrics_connection_opened(struct metrics_hook *m);
 *	void metrics_connection_closed(struct metrics_hook *m);
 *	void metrics_session_begin(void);
 *	void metrics_session_end(void);
 *	void metrics_message(enum metrics_result result);
 *	void metrics_reload(int ok);
 *	int  metrics_render(struct buf *out);
 *	const char *metrics_error_name(enum metrics_error e);
 *
 *	int  metrics_open(const char *listen);
 *	int  metrics_start(void);
 *	void metrics_stop(void);
 *
 * DESCRIPTION
 *	The message path takes no lock here: every counter is a C11 atomic,
 *	added to with relaxed order (a scrape may see one counter a step ahead of
 *	another; each is exact on its own).
 *
 *	Each hook id has one block of counters (struct metrics_hook) in a
 *	registry. metrics_hook_get finds or makes it under the registry's mutex;
 *	it is called only when a configuration is loaded: metrics_bind gives each
 *	hook of a fresh cfg (not yet shared) its block in hook->metrics. A reload
 *	that keeps a hook id so keeps its counts. metrics_show, called when cfg
 *	is swapped in, says which blocks a scrape shows: those of cfg's hooks. A
 *	block whose hook a reload removed is not shown but kept, so its counts go
 *	on from where they were if the hook comes back, and a connection to it
 *	that libcurl closes later is still counted down. Blocks live until the
 *	process exits (libcurl may close a pool's connection at any time until
 *	then).
 *
 *	Every recording function takes NULL for m and then does nothing: hooks
 *	of a configuration never bound (unit tests, fuzzing) are simply not
 *	counted.
 *
 *	metrics_hook_request counts one call of hook m at stage with its action
 *	(METRICS_ERROR when the call failed; the error policy's reply is no
 *	action of the hook's) and observes usec, the call's duration, in the
 *	hook's latency histogram. metrics_hook_error counts one error by its kind
 *	as hooks.c logs it ("connect", "tls", "timeout", "too-large", "other",
 *	"http-status", "not-json", "invalid", "out-of-memory"; anything else
 *	counts as "other"). metrics_connection_opened/closed count the TCP
 *	sockets libcurl opens to a hook and closes (http.c's socket callbacks).
 *	metrics_session_begin/end count milter sessions (milter.c),
 *	metrics_message a message's result at end of data, metrics_reload a
 *	SIGHUP reload, ok or refused.
 *
 *	metrics_render appends every metric, with # HELP and # TYPE lines, in the
 *	Prometheus text exposition format 0.0.4 to out. Label values are escaped
 *	as the format says (backslash, double quote, line feed); the names and
 *	labels are the contract documented in mtahooks-milter(8).
 *
 *	metrics_open binds and listens on [metrics] listen ("A.B.C.D:PORT" or
 *	"[IPv6]:PORT", config_metrics_address) before the daemon detaches, so a
 *	port in use is an error the admin sees at start. metrics_start, after
 *	detaching (a fork keeps no thread), serves that socket from
 *	libmicrohttpd's thread: GET or HEAD /metrics gets the rendering with
 *	Content-Type text/plain; version=0.0.4; other paths 404, other methods
 *	405 with Allow. metrics_stop stops the thread and closes the socket; it
 *	may be called when nothing was opened.
 *
 * DIAGNOSTICS
 *	metrics_hook_get returns NULL and metrics_bind -1 on out-of-memory.
 *	metrics_render returns -1 when out cannot grow (out's limit or memory).
 *	metrics_open and metrics_start return -1 after logging why.
 */
#ifndef MTAHOOKS_METRICS_H
#define MTAHOOKS_METRICS_H

#include "buf.h"
#include "config.h"

struct metrics_hook;

/* What a hook call came to, as mtahooks_hook_requests_total's action label says. */
enum metrics_action {
	METRICS_ACCEPT,
	METRICS_REJECT,
	METRICS_DISCARD,
	METRICS_QUARANTINE,
	METRICS_ERROR
};
#define METRICS_ACTIONS 5

/* The kinds of mtahooks_hook_errors_total: hooks.c's error= words. */
enum metrics_error {
	METRICS_ERR_CONNECT,
	METRICS_ERR_TLS,
	METRICS_ERR_TIMEOUT,
	METRICS_ERR_TOO_LARGE,
	METRICS_ERR_OTHER,
	METRICS_ERR_HTTP_STATUS,
	METRICS_ERR_NOT_JSON,
	METRICS_ERR_INVALID,
	METRICS_ERR_NO_MEMORY
};
#define METRICS_ERRORS 9

/* A message's result at end of data, for mtahooks_messages_total. */
enum metrics_result {
	METRICS_MSG_ACCEPT,
	METRICS_MSG_REJECT,
	METRICS_MSG_TEMPFAIL,
	METRICS_MSG_DISCARD,
	METRICS_MSG_QUARANTINE
};
#define METRICS_RESULTS 5

/* metrics_hook_get - the counters of hook id, made at first; NULL on out-of-memory */
struct metrics_hook *metrics_hook_get(const char *id);
/* metrics_bind - give each hook of a fresh cfg its counters; 0, or -1 on out-of-memory */
int metrics_bind(struct config *cfg);
/* metrics_show - scrapes show the hooks of cfg (the configuration now in force) */
void metrics_show(const struct config *cfg);
/* metrics_hook_request - count one call and its duration; m NULL: nothing */
void metrics_hook_request(struct metrics_hook *m, enum stage stage, enum metrics_action action,
                          long long usec);
/* metrics_hook_error - count one error of hook m by hooks.c's kind; m NULL: nothing */
void metrics_hook_error(struct metrics_hook *m, const char *kind);
/* metrics_connection_opened - libcurl opened a socket to hook m */
void metrics_connection_opened(struct metrics_hook *m);
/* metrics_connection_closed - libcurl closed a socket to hook m */
void metrics_connection_closed(struct metrics_hook *m);
/* metrics_session_begin - a milter session started */
void metrics_session_begin(void);
/* metrics_session_end - a milter session ended */
void metrics_session_end(void);
/* metrics_message - a message ended with result */
void metrics_message(enum metrics_result result);
/* metrics_reload - a reload was done (ok 1) or refused (ok 0) */
void metrics_reload(int ok);
/* metrics_render - append every metric in Prometheus text format; 0 or -1 */
int metrics_render(struct buf *out);
/* metrics_error_name - the kind label of an error */
const char *metrics_error_name(enum metrics_error e);

/* metrics_open - bind and listen on [metrics] listen, before detaching; 0 or -1 logged */
int metrics_open(const char *listen);
/* metrics_start - serve /metrics from a thread, after detaching; 0 or -1 logged */
int metrics_start(void);
/* metrics_stop - stop serving and close the socket; nothing opened: nothing done */
void metrics_stop(void);

#endif
