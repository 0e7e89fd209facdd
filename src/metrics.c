/* metrics.c - counters and their Prometheus rendering (see include/metrics.h) */
#ifdef HAVE_CONFIG_H
#include "build-config.h"
#endif

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

/* The latency buckets' upper bounds in microseconds; +Inf comes after them. */
static const long long bucket_us[] = {5000,   10000,   25000,   50000,   100000,  250000,
                                      500000, 1000000, 2500000, 5000000, 10000000};
/* The same bounds as Prometheus's le label shows them. */
static const char *const bucket_le[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                        "0.5",   "1",    "2.5",   "5",    "10"};
#define METRICS_BUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

/*
 * One hook id's counters. Buckets are counted one by one (a call goes into the first bucket
 * it fits): a call adds to one atomic rather than to every bucket above it, and the
 * rendering adds them up into Prometheus's cumulative buckets.
 */
struct metrics_hook {
	char *id;
	atomic_ullong requests[STAGE_COUNT][METRICS_ACTIONS];
	atomic_ullong errors[METRICS_ERRORS];
	atomic_ullong buckets[METRICS_BUCKETS + 1]; /* the last: above every bound */
	atomic_ullong sum_us;
	atomic_llong conn_open;
	atomic_ullong conn_opened;
	unsigned stages;           /* registry lock: the configured hook's stages, shown always */
	int shown;                 /* registry lock: a hook of the configuration in force */
	struct metrics_hook *next; /* registry lock: in order of first appearance */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_hook *registry;
static struct metrics_hook **registry_end = &registry;

static atomic_llong sessions_active;
static atomic_ullong sessions_total;
static atomic_ullong messages[METRICS_RESULTS];
static atomic_ullong reloads[2]; /* [0] refused, [1] done */

static const char *const action_names[METRICS_ACTIONS] = {"accept", "reject", "discard",
                                                          "quarantine", "error"};
static const char *const error_names[METRICS_ERRORS] = {"connect",   "tls",     "timeout",
                                                        "too-large", "other",   "http-status",
                                                        "not-json",  "invalid", "out-of-memory"};
static const char *const result_names[METRICS_RESULTS] = {"accept", "reject", "tempfail", "discard",
                                                          "quarantine"};

static int put(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put_label(struct buf *out, const char *value);
static int put_head(struct buf *out, const char *name, const char *type, const char *help);
static int put_hook(struct buf *out, const char *name, const struct metrics_hook *m);
static int render_hooks(struct buf *out);
static void lock_registry(void);
static void unlock_registry(void);

/* metrics_hook_get - the counters of hook id, made at first; NULL on out-of-memory */
struct metrics_hook *metrics_hook_get(const char *id)
{
	struct metrics_hook *m;

	if (id == NULL)
		return NULL;
	lock_registry();
	for (m = registry; m != NULL; m = m->next)
		if (strcmp(m->id, id) == 0)
			break;
	/* calloc's zero bytes are valid atomics of value 0 on every platform we build for. */
	if (m == NULL && (m = calloc(1, sizeof(*m))) != NULL) {
		if ((m->id = strdup(id)) == NULL) {
			free(m);
			m = NULL;
		} else {
			*registry_end = m;
			registry_end = &m->next;
		}
	}
	unlock_registry();
	return m;
}

/* metrics_bind - give each hook of a fresh cfg its counters; 0, or -1 on out-of-memory */
int metrics_bind(struct config *cfg)
{
	if (cfg == NULL)
		return 0;
	for (size_t i = 0; i < cfg->nhooks; i++)
		if ((cfg->hooks[i].metrics = metrics_hook_get(cfg->hooks[i].id)) == NULL)
			return -1;
	return 0;
}

/* metrics_show - scrapes show the hooks of cfg (the configuration now in force) */
void metrics_show(const struct config *cfg)
{
	lock_registry();
	for (struct metrics_hook *m = registry; m != NULL; m = m->next)
		m->shown = 0;
	for (size_t i = 0; cfg != NULL && i < cfg->nhooks; i++) {
		struct metrics_hook *m = cfg->hooks[i].metrics;

		if (m != NULL) {
			m->shown = 1;
			m->stages = cfg->hooks[i].enable ? cfg->hooks[i].stages : 0;
		}
	}
	unlock_registry();
}

/* metrics_hook_request - count one call and its duration; m NULL: nothing */
void metrics_hook_request(struct metrics_hook *m, enum stage stage, enum metrics_action action,
                          long long usec)
{
	size_t b = 0;

	if (m == NULL || (unsigned)stage >= STAGE_COUNT || (unsigned)action >= METRICS_ACTIONS)
		return;
	if (usec < 0)
		usec = 0;
	while (b < METRICS_BUCKETS && usec > bucket_us[b])
		b++;
	atomic_fetch_add_explicit(&m->requests[stage][action], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->sum_us, (unsigned long long)usec, memory_order_relaxed);
}

/* metrics_hook_error - count one error of hook m by hooks.c's kind; m NULL: nothing */
void metrics_hook_error(struct metrics_hook *m, const char *kind)
{
	size_t e = METRICS_ERR_OTHER;

	if (m == NULL)
		return;
	for (size_t i = 0; kind != NULL && i < METRICS_ERRORS; i++)
		if (strcmp(kind, error_names[i]) == 0)
			e = i;
	atomic_fetch_add_explicit(&m->errors[e], 1, memory_order_relaxed);
}

/* metrics_connection_opened - libcurl opened a socket to hook m */
void metrics_connection_opened(struct metrics_hook *m)
{
	if (m == NULL)
		return;
	atomic_fetch_add_explicit(&m->conn_open, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->conn_opened, 1, memory_order_relaxed);
}

/* metrics_connection_closed - libcurl closed a socket to hook m */
void metrics_connection_closed(struct metrics_hook *m)
{
	if (m != NULL)
		atomic_fetch_sub_explicit(&m->conn_open, 1, memory_order_relaxed);
}

/* metrics_session_begin - a milter session started */
void metrics_session_begin(void)
{
	atomic_fetch_add_explicit(&sessions_active, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&sessions_total, 1, memory_order_relaxed);
}

/* metrics_session_end - a milter session ended */
void metrics_session_end(void)
{
	atomic_fetch_sub_explicit(&sessions_active, 1, memory_order_relaxed);
}

/* metrics_message - a message ended with result */
void metrics_message(enum metrics_result result)
{
	if ((unsigned)result < METRICS_RESULTS)
		atomic_fetch_add_explicit(&messages[result], 1, memory_order_relaxed);
}

/* metrics_reload - a reload was done (ok 1) or refused (ok 0) */
void metrics_reload(int ok)
{
	atomic_fetch_add_explicit(&reloads[ok ? 1 : 0], 1, memory_order_relaxed);
}

/* metrics_error_name - the kind label of an error */
const char *metrics_error_name(enum metrics_error e)
{
	return (unsigned)e < METRICS_ERRORS ? error_names[e] : "other";
}

/* metrics_render - append every metric in Prometheus text format; 0 or -1 */
int metrics_render(struct buf *out)
{
	long long active = atomic_load_explicit(&sessions_active, memory_order_relaxed);

	if (render_hooks(out) < 0)
		return -1;
	if (put_head(out, "mtahooks_sessions_active", "gauge", "Milter sessions open now.") < 0 ||
	    put(out, "mtahooks_sessions_active %lld\n", active < 0 ? 0 : active) < 0)
		return -1;
	if (put_head(out, "mtahooks_sessions_total", "counter",
	             "Milter sessions started (MTA connections negotiated).") < 0 ||
	    put(out, "mtahooks_sessions_total %llu\n",
	        atomic_load_explicit(&sessions_total, memory_order_relaxed)) < 0)
		return -1;
	if (put_head(out, "mtahooks_messages_total", "counter",
	             "Messages that reached end of data, by the milter's final answer.") < 0)
		return -1;
	for (size_t r = 0; r < METRICS_RESULTS; r++)
		if (put(out, "mtahooks_messages_total{result=\"%s\"} %llu\n", result_names[r],
		        atomic_load_explicit(&messages[r], memory_order_relaxed)) < 0)
			return -1;
	if (put_head(out, "mtahooks_config_reloads_total", "counter",
	             "Configuration reloads (SIGHUP), by whether the new file was taken.") < 0 ||
	    put(out, "mtahooks_config_reloads_total{result=\"success\"} %llu\n",
	        atomic_load_explicit(&reloads[1], memory_order_relaxed)) < 0 ||
	    put(out, "mtahooks_config_reloads_total{result=\"failure\"} %llu\n",
	        atomic_load_explicit(&reloads[0], memory_order_relaxed)) < 0)
		return -1;
	if (put_head(out, "mtahooks_build_info", "gauge",
	             "Always 1; the version label says which mtahooks-milter runs.") < 0 ||
	    put(out, "mtahooks_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION) < 0)
		return -1;
	return 0;
}

/*
 * render_hooks - the per-hook families, under the registry lock (never taken on the message
 * path: only loads, reloads and scrapes take it)
 */
static int render_hooks(struct buf *out)
{
	static const struct {
		const char *name, *type, *help;
	} families[] = {
	    {"mtahooks_hook_requests_total", "counter",
	     "Hook calls by stage and what the hook answered (error: the call failed)."},
	    {"mtahooks_hook_errors_total", "counter", "Failed hook calls by kind of error."},
	    {"mtahooks_hook_request_duration_seconds", "histogram",
	     "How long hook calls took, endpoints tried and waiting for a connection included."},
	    {"mtahooks_http_connections_open", "gauge", "TCP connections to the hook open now."},
	    {"mtahooks_http_connections_opened_total", "counter",
	     "TCP connections opened to the hook."},
	};
	int rc = 0;

	lock_registry();
	for (size_t f = 0; rc == 0 && f < sizeof(families) / sizeof(families[0]); f++) {
		rc = put_head(out, families[f].name, families[f].type, families[f].help);
		for (struct metrics_hook *m = registry; rc == 0 && m != NULL; m = m->next)
			if (m->shown)
				rc = put_hook(out, families[f].name, m);
	}
	unlock_registry();
	return rc;
}

/* put_hook - one family's lines for hook m */
static int put_hook(struct buf *out, const char *name, const struct metrics_hook *m)
{
	unsigned long long n, cum = 0;

	if (strcmp(name, "mtahooks_hook_requests_total") == 0) {
		for (int s = 0; s < STAGE_COUNT; s++)
			for (int a = 0; a < METRICS_ACTIONS; a++) {
				n = atomic_load_explicit(&m->requests[s][a], memory_order_relaxed);
				/* A stage the hook is not called at shows only if it once was. */
				if (n == 0 && !(m->stages & STAGE_BIT(s)))
					continue;
				if (put(out, "%s{hook=\"", name) < 0 || put_label(out, m->id) < 0 ||
				    put(out, "\",stage=\"%s\",action=\"%s\"} %llu\n",
				        stage_name((enum stage)s), action_names[a], n) < 0)
					return -1;
			}
		return 0;
	}
	if (strcmp(name, "mtahooks_hook_errors_total") == 0) {
		for (int e = 0; e < METRICS_ERRORS; e++)
			if (put(out, "%s{hook=\"", name) < 0 || put_label(out, m->id) < 0 ||
			    put(out, "\",kind=\"%s\"} %llu\n", error_names[e],
			        atomic_load_explicit(&m->errors[e], memory_order_relaxed)) < 0)
				return -1;
		return 0;
	}
	if (strcmp(name, "mtahooks_hook_request_duration_seconds") == 0) {
		unsigned long long sum = atomic_load_explicit(&m->sum_us, memory_order_relaxed);

		for (size_t b = 0; b <= METRICS_BUCKETS; b++) {
			cum += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
			if (put(out, "%s_bucket{hook=\"", name) < 0 || put_label(out, m->id) < 0 ||
			    put(out, "\",le=\"%s\"} %llu\n",
			        b < METRICS_BUCKETS ? bucket_le[b] : "+Inf", cum) < 0)
				return -1;
		}
		/* _count is the +Inf bucket, so the two always agree within one scrape. */
		if (put(out, "%s_sum{hook=\"", name) < 0 || put_label(out, m->id) < 0 ||
		    put(out, "\"} %llu.%06llu\n", sum / 1000000, sum % 1000000) < 0 ||
		    put(out, "%s_count{hook=\"", name) < 0 || put_label(out, m->id) < 0 ||
		    put(out, "\"} %llu\n", cum) < 0)
			return -1;
		return 0;
	}
	if (strcmp(name, "mtahooks_http_connections_open") == 0) {
		long long open = atomic_load_explicit(&m->conn_open, memory_order_relaxed);

		return put(out, "%s{hook=\"", name) < 0 || put_label(out, m->id) < 0 ||
		               put(out, "\"} %lld\n", open < 0 ? 0 : open) < 0
		           ? -1
		           : 0;
	}
	return put(out, "%s{hook=\"", name) < 0 || put_label(out, m->id) < 0 ||
	               put(out, "\"} %llu\n",
	                   atomic_load_explicit(&m->conn_opened, memory_order_relaxed)) < 0
	           ? -1
	           : 0;
}

/* put_head - the # HELP and # TYPE lines of a family */
static int put_head(struct buf *out, const char *name, const char *type, const char *help)
{
	return put(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* put_label - a label value, escaped as the text format says: \\, \" and \n */
static int put_label(struct buf *out, const char *value)
{
	const char *s = value, *run = value;

	for (; *s; s++) {
		const char *esc = *s == '\\'   ? "\\\\"
		                  : *s == '"'  ? "\\\""
		                  : *s == '\n' ? "\\n"
		                               : NULL;

		if (esc == NULL)
			continue;
		if (buf_append(out, run, (size_t)(s - run)) < 0 || buf_append_str(out, esc) < 0)
			return -1;
		run = s + 1;
	}
	return buf_append(out, run, (size_t)(s - run));
}

/* put - append printf-formatted text; -1 when out cannot take it */
static int put(struct buf *out, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Every format here is short; hook ids go through put_label, never through put. */
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return buf_append(out, line, (size_t)n);
}

/* lock_registry - take the registry lock; a failure here is a broken program */
static void lock_registry(void)
{
	if (pthread_mutex_lock(&registry_lock) != 0)
		abort();
}

/* unlock_registry - release the registry lock */
static void unlock_registry(void)
{
	if (pthread_mutex_unlock(&registry_lock) != 0)
		abort();
}
