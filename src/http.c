/* http.c - POST a request to a hook with libcurl, one pool per hook (see include/http.h) */
#ifdef HAVE_CONFIG_H
#include "build-config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#include <openssl/params.h>
#else
#include <openssl/hmac.h>
#endif

#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "request.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

#define HTTP_USER_AGENT "mtahooks-milter/" PACKAGE_VERSION
/* The defaults of PROTOCOL.md section 6 and config.c, for a hook whose value is 0. */
#define HTTP_DEFAULT_TIMEOUT_MS 30000L
#define HTTP_DEFAULT_MAX_CONN   8u
#define HTTP_DEFAULT_RETRY_MS   10000L
#define HTTP_ENDPOINTS_MAX      32    /* config.c allows no more urls */
#define HTTP_ENDPOINTS_KEPT     128   /* URLs a pool remembers failures of, across reloads */
#define HTTP_IDLE_HANDLES_MAX   64    /* idle easy handles a pool keeps for its next posts */
#define HTTP_POLL_MAX_MS        1000L /* the longest a pool thread sleeps without checking */
#define HTTP_SIGN_CHUNK         16384 /* bytes of the request fed to the HMAC at a time */
#define HTTP_UPLOAD_BUFFER      (512L * 1024) /* a large request is sent this much at a time */
#define HTTP_INLINE_MAX         16384         /* a request this small goes out in one write */
#define HTTP_SEEK_CHUNK         4096 /* bytes skipped at a time when libcurl seeks forward */
#define HTTP_LOG_URL_MAX        160  /* the most of a URL a log line shows */
#define HTTP_HOSTKEY_MAX        272  /* "host:port" of an h2c endpoint */
#define HTTP_H2C_HOSTS_MAX      64   /* h2c hosts a pool keeps a record of */
#define HTTP_H2C_STREAMS_MAX    64   /* transfers at once to one h2c host: below servers' limits */
#define HTTP_H2C_RETRIES        4    /* h2c guesses corrected per attempt (on_prereq) */
#define HTTP_SIGNATURE_PREFIX   "sha256="
#define HTTP_TIMESTAMP_HEADER   "X-MTA-Hooks-Timestamp"
#define HTTP_SIGNATURE_HEADER   "X-MTA-Hooks-Signature"
/* libcurl does not export the largest curl_off_t; it is a signed integer type. */
#define HTTP_OFF_T_MAX ((curl_off_t)((UINTMAX_C(1) << (sizeof(curl_off_t) * 8 - 1)) - 1))

/*
 * Why a pool thread per hook rather than easy handles sharing CURL_LOCK_DATA_CONNECT:
 * libcurl's manual (CURLSHOPT_SHARE) says sharing connections between concurrent threads
 * is not supported, its KNOWN_BUGS lists "A shared connection cache is not thread-safe"
 * (curl issues 4915, 9404, still open for 7.88 and 8.x, with crashes reported in 13347
 * and 13840), and an HTTP/2 connection's streams cannot be driven from different threads.
 * A multi handle owns a connection cache that its one thread uses safely, multiplexes
 * HTTP/2, and bounds connections (CURLMOPT_MAX_TOTAL_CONNECTIONS) by queueing the
 * transfers beyond the limit instead of opening more. So each hook's transfers go to its
 * pool's thread, and the posting thread waits for its own.
 */

/* One transfer handed to a pool's thread; it lives in the posting client. */
struct job {
	CURL *easy;
	long long deadline;         /* CLOCK_MONOTONIC ms: ended then, whatever its state */
	CURLcode rc;                /* the transfer's result, once done */
	int done;                   /* set under the pool's lock by the pool thread */
	int expired;                /* our deadline ended it (libcurl's do not cover waiting) */
	pthread_mutex_t *wake_lock; /* the client's: guards done, rc and expired */
	pthread_cond_t *wake;       /* the client's: signalled when done */
	struct job *next;           /* in the pool's queue, then in its active or held list */
	const char *h2c_key;        /* "host:port" when h2c needs care (libcurl < 8), else NULL */
	struct h2c_host *h2c;       /* pool thread: the h2c host it counts against */
	int plain_h2;               /* pool thread: sent as plain HTTP/2, to reuse a connection */
	int refused; /* on_prereq stopped it before it sent anything: send it again */
};

/* What a pool remembers of one endpoint. */
struct endpoint {
	char *url;
	long long failed_until; /* CLOCK_MONOTONIC ms; at or before now: healthy */
};

/*
 * An h2c host, when libcurl < 8 (see http_h2c_reuse_broken): whether an HTTP/2 connection
 * to it is likely open, the prior-knowledge transfer opening one, and the transfers held
 * meanwhile. Pool thread only.
 */
struct h2c_host {
	char key[HTTP_HOSTKEY_MAX];
	int open;              /* the last word on it: an HTTP/2 connection is open */
	int active;            /* its transfers in the multi */
	struct job *pk;        /* the transfer opening a connection with prior knowledge */
	struct job *held;      /* waiting for pk to be done, or for a stream */
	struct job **held_end; /* where the next held job goes */
};

/* The daemon's connections to one hook: a multi handle and the thread that drives it. */
struct pool {
	char *id;     /* the hook's id, the pool's key */
	CURLM *multi; /* the pool thread's, but for curl_multi_wakeup */
	pthread_t thread;
	pthread_mutex_t lock;     /* guards the fields down to idle */
	struct job *queue;        /* posted, not yet in the multi */
	struct job **queue_end;   /* where the next job goes */
	int stop;                 /* http_global_cleanup asks the thread to end */
	unsigned max_connections; /* what the latest post's hook says */
	unsigned long turn;       /* round-robin: one more per post */
	struct endpoint endpoints[HTTP_ENDPOINTS_KEPT];
	size_t nendpoints;
	CURL *idle[HTTP_IDLE_HANDLES_MAX]; /* easy handles between posts, reset */
	size_t nidle;
	struct job *active;   /* pool thread only: the jobs in the multi */
	unsigned applied_max; /* pool thread only: the limit the multi has */
	struct h2c_host *h2c_hosts[HTTP_H2C_HOSTS_MAX]; /* pool thread only */
	size_t nh2c_hosts;
	struct pool *next; /* the registry; set before the pool is published */
};

struct http_client {
	struct http_result *res; /* where the answer of the attempt in progress goes */
	size_t limit;            /* the hook's max-response-size */
	int too_large;           /* the write callback refused the body */
	int no_memory;           /* the write callback could not grow the body */
	char errbuf[CURL_ERROR_SIZE];
	void (*progress)(void *); /* called every progress_ms while a post waits, or NULL */
	void *progress_arg;
	long progress_ms;
	long long progress_next; /* CLOCK_MONOTONIC ms of the next progress call */
	pthread_mutex_t lock;    /* guards job's outcome: the pool's own lock is not contended */
	pthread_cond_t wake;     /* a pool thread signals it when the job is done */
	struct job job;
	struct buf inline_req; /* a small request written out whole (HTTP_INLINE_MAX at most) */
};

/* What one attempt on one endpoint came to. */
enum attempt { ATTEMPT_FINAL, ATTEMPT_FAILED };

static CURLSH *http_share;
static pthread_mutex_t http_share_locks[CURL_LOCK_DATA_LAST];
static int http_share_locks_ready;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
static EVP_MAC *http_hmac; /* fetched once: a fetch per request would take OpenSSL's locks */
#endif
/* The pools, newest first; read without a lock (a pool is never unlinked while posts run). */
static struct pool *http_pools;
static pthread_mutex_t http_pools_lock = PTHREAD_MUTEX_INITIALIZER;
/* Posts in progress, and whether cleanup has begun: a post never meets a freed pool. */
static long http_in_flight;
static int http_stopping;
/*
 * libcurl before 8.0.0 breaks an HTTP/2 connection when a transfer asking for HTTP/2 with
 * prior knowledge reuses it: it stacks a second HTTP/2 layer on the connection, and that
 * transfer and every later one on it fail with "Error in the HTTP2 framing layer" (curl
 * issue 10634, fixed by pull request 10643 in 8.0.0). Debian 12 has 7.88.1. Plain
 * HTTP/2 reuses such a connection without harm, but sends HTTP/1.1 on a new one, which an
 * h2c-only server drops. So, for h2c, the pool thread asks for prior knowledge when no
 * connection is likely open and plain HTTP/2 when one is, and on_prereq (called once the
 * connection is chosen, before anything is sent) refuses the wrong guess: prior knowledge
 * on a reused connection, plain HTTP/2 on a new one. The refused transfer is sent again
 * with the other; nothing of it reached the hook (see pool_dispatch).
 */
static int http_h2c_reuse_broken;

static void share_lock(CURL *easy, curl_lock_data data, curl_lock_access access, void *arg);
static void share_unlock(CURL *easy, curl_lock_data data, void *arg);
static long long mono_ms(void);
static int post_enter(void);
static void post_leave(void);
static struct pool *pool_get(const char *id);
static struct pool *pool_new(const char *id);
static void pool_free(struct pool *pl);
static void *pool_run(void *arg);
static void pool_apply_limit(struct pool *pl, unsigned want);
static void pool_expire(struct pool *pl, long long now, long *wait_ms);
static void job_finish(struct pool *pl, struct job *j, CURLcode rc, int expired);
static void pool_dispatch(struct pool *pl, struct job *j);
static void pool_done(struct pool *pl, struct job *j, CURLcode rc, int expired);
static struct h2c_host *h2c_host_get(struct pool *pl, const char *key);
static void h2c_release(struct pool *pl, struct h2c_host *hh);
#if LIBCURL_VERSION_NUM >= 0x075000
static int on_prereq(void *arg, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port);
#endif
static int h2c_key(const char *url, char *key, size_t keylen);
static CURLcode pool_perform(struct http_client *c, struct pool *pl, CURL *easy, long long deadline,
                             const char *h2c_key);
static CURL *pool_plan(struct pool *pl, const struct hook *h, char *const *urls, size_t n,
                       size_t *order, size_t *slot, long long *failed);
static void pool_mark(struct pool *pl, size_t slot, const char *url, long long failed_until);
static void pool_give_handle(struct pool *pl, CURL *easy);
static enum attempt attempt(struct http_client *c, struct pool *pl, CURL *easy,
                            const struct hook *h, const char *url, struct request *req,
                            struct curl_slist *headers, long long end, long connect_ms,
                            struct http_result *res);
static CURLcode perform_once(struct http_client *c, struct pool *pl, CURL *easy,
                             const struct hook *h, const char *url, struct request *req,
                             struct curl_slist *headers, long long end, long connect_ms,
                             long version, const char *h2c_key, struct http_result *res);
static int request_started(CURL *easy, const char *errbuf);
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg);
static size_t on_read(char *dst, size_t size, size_t nitems, void *arg);
static int on_seek(void *arg, curl_off_t offset, int origin);
static int inline_request(struct http_client *c, struct request *req, size_t len);
static int header_named(const char *line, const char *name);
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr);
static int on_close_socket(void *arg, curl_socket_t fd);
static struct curl_slist *headers_build(const struct hook *h, const char *timestamp,
                                        const char *signature);
static CURLcode post_options(CURL *easy, struct http_client *c, const struct hook *h,
                             const char *url, struct request *req, struct curl_slist *headers,
                             long timeout_ms, long connect_ms, long version);
static enum http_error error_kind(CURLcode rc, const char *detail);
static void result_error(struct http_result *res, enum http_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void result_curl_error(struct http_result *res, const struct http_client *c, CURLcode rc,
                              long os_error);
static const char *os_error_text(long err);
static void scrub(char *text, const char *secret, size_t secret_len);
static void scrub_url_password(char *text, const char *url);
static void url_for_log(const char *url, char *out, size_t outlen);
static int hmac_sha256(const char *key, const char *prefix, size_t prefix_len, struct request *req,
                       unsigned char *mac, size_t *mac_len);

/* Set one option unless an earlier one failed; rc keeps the first failure. */
#define HTTP_SETOPT(rc, easy, opt, val)                                                            \
	do {                                                                                       \
		if ((rc) == CURLE_OK)                                                              \
			(rc) = curl_easy_setopt((easy), (opt), (val));                             \
	} while (0)

/* http_global_init - libcurl, the share (DNS, TLS sessions) and its locks, once */
int http_global_init(void)
{
	CURLSHcode sc = CURLSHE_OK;
	int i;

	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		return -1;
	__atomic_store_n(&http_stopping, 0, __ATOMIC_SEQ_CST);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++) {
		if (pthread_mutex_init(&http_share_locks[i], NULL) != 0) {
			while (i-- > 0)
				pthread_mutex_destroy(&http_share_locks[i]);
			curl_global_cleanup();
			return -1;
		}
	}
	http_share_locks_ready = 1;
	if ((http_share = curl_share_init()) == NULL) {
		http_global_cleanup();
		return -1;
	}
	sc = curl_share_setopt(http_share, CURLSHOPT_LOCKFUNC, share_lock);
	if (sc == CURLSHE_OK)
		sc = curl_share_setopt(http_share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	if (sc == CURLSHE_OK)
		sc = curl_share_setopt(http_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	if (sc == CURLSHE_OK)
		sc = curl_share_setopt(http_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	if (sc != CURLSHE_OK) {
		http_global_cleanup();
		return -1;
	}
	{
		const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

		http_h2c_reuse_broken = v == NULL || v->version_num < 0x080000;
	}
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	/* Without it, http_signature fetches HMAC for each request: slower, not wrong. */
	http_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
#endif
	return 0;
}

/* http_global_cleanup - stop the pools and undo http_global_init, after every client is freed */
void http_global_cleanup(void)
{
	struct pool *pl, *next;
	int i;

	/* Posts that start from now on fail at once; those still running keep everything. */
	__atomic_store_n(&http_stopping, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&http_in_flight, __ATOMIC_SEQ_CST) != 0) {
		log_msg(LOG_WARNING,
		        "HTTP requests still in progress at exit; connections left open");
		return;
	}
	pl = __atomic_exchange_n(&http_pools, NULL, __ATOMIC_ACQ_REL);
	for (; pl != NULL; pl = next) {
		next = pl->next;
		pool_free(pl);
	}
	if (http_share != NULL) {
		curl_share_cleanup(http_share);
		http_share = NULL;
	}
	if (http_share_locks_ready) {
		for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
			pthread_mutex_destroy(&http_share_locks[i]);
		http_share_locks_ready = 0;
	}
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	EVP_MAC_free(http_hmac);
	http_hmac = NULL;
#endif
	curl_global_cleanup();
}

/* http_client_new - a client for one session or thread */
struct http_client *http_client_new(void)
{
	struct http_client *c = calloc(1, sizeof(struct http_client));
	pthread_condattr_t attr;
	int rc;

	if (c == NULL)
		return NULL;
	/* Progress deadlines are monotonic: a clock step must not stall or rush them. */
	if (pthread_condattr_init(&attr) != 0) {
		free(c);
		return NULL;
	}
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&c->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0) {
		free(c);
		return NULL;
	}
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		pthread_cond_destroy(&c->wake);
		free(c);
		return NULL;
	}
	return c;
}

/* http_client_free - free a client; NULL is ignored */
void http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	buf_free(&c->inline_req);
	free(c);
}

/* http_set_progress - call fn(arg) every interval_ms while a post waits; fn NULL: never */
void http_set_progress(struct http_client *c, void (*fn)(void *arg), void *arg, long interval_ms)
{
	c->progress = fn;
	c->progress_arg = arg;
	c->progress_ms = interval_ms > 0 ? interval_ms : 1000;
}

/* http_post - send req to hook h and collect the answer into res */
void http_post(struct http_client *c, const struct hook *h, struct request *req,
               struct http_result *res)
{
	char *const *urls;
	size_t n, order[HTTP_ENDPOINTS_MAX], slot[HTTP_ENDPOINTS_MAX], tried = 0;
	long long failed[HTTP_ENDPOINTS_MAX];
	CURL *easy;
	long timeout;
	long long start, end;
	char stamp[32] = "", sig[HTTP_SIGNATURE_MAX] = "";
	char shown[HTTP_LOG_URL_MAX];
	struct curl_slist *headers;
	struct pool *pl;
	enum attempt last = ATTEMPT_FINAL;

	res->error = HTTP_OK;
	res->status = 0;
	res->reason[0] = '\0';
	buf_reset(&res->body);
	if (c == NULL || h == NULL || req == NULL || (h->url == NULL && h->nurls == 0)) {
		result_error(res, HTTP_ERR_OTHER, "internal error: nothing to post");
		return;
	}
	if (!post_enter()) {
		result_error(res, HTTP_ERR_OTHER, "shutting down");
		return;
	}
	urls = h->nurls > 0 ? h->urls : &h->url;
	n = h->nurls > 0 ? h->nurls : 1;
	if (n > HTTP_ENDPOINTS_MAX)
		n = HTTP_ENDPOINTS_MAX;
	timeout = h->timeout_ms > 0 ? h->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	start = mono_ms();
	end = start + timeout;
	c->progress_next = start + c->progress_ms;

	if ((pl = pool_get(h->id != NULL ? h->id : "")) == NULL) {
		result_error(res, HTTP_ERR_OTHER, "cannot start the hook's connection pool");
		post_leave();
		return;
	}
	if (h->signature_secret != NULL) {
		long long now = (long long)time(NULL);

		(void)snprintf(stamp, sizeof(stamp), "%lld", now);
		if (http_signature(h->signature_secret, now, req, sig, sizeof(sig)) < 0) {
			result_error(res, HTTP_ERR_OTHER,
			             "cannot sign the request (OpenSSL failed)");
			post_leave();
			return;
		}
	}
	headers = headers_build(h, stamp[0] ? stamp : NULL, sig[0] ? sig : NULL);
	explicit_bzero(sig, sizeof(sig));
	if (headers == NULL) {
		result_error(res, HTTP_ERR_OTHER, "out of memory building the request headers");
		post_leave();
		return;
	}
	/* One handle for every attempt of the post, taken with the plan: one lock less. */
	if ((easy = pool_plan(pl, h, urls, n, order, slot, failed)) == NULL &&
	    (easy = curl_easy_init()) == NULL) {
		curl_slist_free_all(headers);
		result_error(res, HTTP_ERR_OTHER, "out of memory creating an HTTP handle");
		post_leave();
		return;
	}

	for (size_t k = 0; k < n; k++) {
		const char *url = urls[order[k]];
		long long now = mono_ms();
		long left = (long)(end - now);

		/* The timeout bounds the whole post: what is left is all later endpoints get. */
		if (k > 0 && left <= 0)
			break;
		if (left < 1)
			left = 1;
		if (k > 0) {
			res->error = HTTP_OK;
			res->status = 0;
			res->reason[0] = '\0';
			buf_reset(&res->body);
		}
		tried++;
		last = attempt(c, pl, easy, h, url, req, headers, end, left / (long)(n - k), res);
		if (last == ATTEMPT_FINAL) {
			if (failed[order[k]] != 0)
				pool_mark(pl, slot[order[k]], url, 0);
			break;
		}
		pool_mark(pl, slot[order[k]], url,
		          mono_ms() +
		              (h->retry_after_ms > 0 ? h->retry_after_ms : HTTP_DEFAULT_RETRY_MS));
		if (k + 1 < n && mono_ms() < end) {
			url_for_log(url, shown, sizeof(shown));
			if (res->error == HTTP_OK)
				log_msg(
				    LOG_WARNING,
				    "hook=%s endpoint=%s failed: HTTP status %ld; trying the next",
				    h->id, shown, res->status);
			else
				log_msg(LOG_WARNING,
				        "hook=%s endpoint=%s failed: %s: %s; trying the next",
				        h->id, shown, http_error_name(res->error), res->reason);
		}
	}
	/* Say which endpoint the reason is about, and that the others failed too. */
	if (last == ATTEMPT_FAILED && n > 1 && res->error != HTTP_OK) {
		char suffix[HTTP_LOG_URL_MAX + 96];
		size_t rlen = strlen(res->reason), slen;

		url_for_log(urls[order[tried - 1]], shown, sizeof(shown));
		(void)snprintf(suffix, sizeof(suffix), " (endpoint %s; %zu of %zu endpoints tried)",
		               shown, tried, n);
		/* The suffix is kept whole; a long reason gives way to it. */
		slen = strlen(suffix);
		if (slen > sizeof(res->reason) - 1)
			slen = sizeof(res->reason) - 1;
		if (rlen > sizeof(res->reason) - 1 - slen)
			rlen = sizeof(res->reason) - 1 - slen;
		memcpy(res->reason + rlen, suffix, slen);
		res->reason[rlen + slen] = '\0';
	}
	pool_give_handle(pl, easy);
	curl_slist_free_all(headers);
	post_leave();
}

/* http_result_free - free the body and reset res for reuse */
void http_result_free(struct http_result *res)
{
	buf_free(&res->body);
	res->error = HTTP_OK;
	res->status = 0;
	res->reason[0] = '\0';
}

/* http_error_name - "connect", "tls", "timeout", "too-large", "other" */
const char *http_error_name(enum http_error e)
{
	switch (e) {
	case HTTP_OK:
		return "ok";
	case HTTP_ERR_CONNECT:
		return "connect";
	case HTTP_ERR_TLS:
		return "tls";
	case HTTP_ERR_TIMEOUT:
		return "timeout";
	case HTTP_ERR_TOO_LARGE:
		return "too-large";
	case HTTP_ERR_OTHER:
		break;
	}
	return "other";
}

/* http_endpoint_order - the order to try n endpoints in, healthy ones first; returns n */
size_t http_endpoint_order(size_t n, const long long *failed_until, long long now, size_t first,
                           size_t *order)
{
	size_t k = 0, healthy;

	if (n == 0)
		return 0;
	first %= n;
	for (size_t i = 0; i < n; i++) {
		size_t at = (first + i) % n;

		if (failed_until[at] <= now)
			order[k++] = at;
	}
	healthy = k;
	for (size_t i = 0; i < n; i++)
		if (failed_until[i] > now)
			order[k++] = i;
	/* The skipped ones, soonest to recover first; insertion sort keeps ties in index order. */
	for (size_t i = healthy + 1; i < n; i++) {
		size_t v = order[i], j = i;

		while (j > healthy && failed_until[order[j - 1]] > failed_until[v]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = v;
	}
	return n;
}

/* http_signature - "sha256=<hex HMAC-SHA256(secret, "<timestamp>.<request>")>"; 0 or -1 */
int http_signature(const char *secret, long long timestamp, struct request *req, char *out,
                   size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t mac_len = 0, plen = strlen(HTTP_SIGNATURE_PREFIX);
	char prefix[32];
	int n;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (secret == NULL || req == NULL || out == NULL)
		return -1;
	n = snprintf(prefix, sizeof(prefix), "%lld.", timestamp);
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return -1;
	if (hmac_sha256(secret, prefix, (size_t)n, req, mac, &mac_len) < 0)
		return -1;
	if (mac_len > (SIZE_MAX - plen - 1) / 2 || outlen < plen + mac_len * 2 + 1) {
		explicit_bzero(mac, sizeof(mac));
		return -1;
	}
	memcpy(out, HTTP_SIGNATURE_PREFIX, plen);
	for (size_t i = 0; i < mac_len; i++) {
		out[plen + 2 * i] = hex[mac[i] >> 4];
		out[plen + 2 * i + 1] = hex[mac[i] & 0x0f];
	}
	out[plen + 2 * mac_len] = '\0';
	explicit_bzero(mac, sizeof(mac));
	return 0;
}

/*
 * hmac_sha256 - HMAC-SHA256 over prefix then every byte request_read gives; req is
 * rewound before and after. The request goes through in chunks: never a whole copy.
 */
static int hmac_sha256(const char *key, const char *prefix, size_t prefix_len, struct request *req,
                       unsigned char *mac, size_t *mac_len)
{
	char chunk[HTTP_SIGN_CHUNK];
	size_t got;
	int ok;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	EVP_MAC *fetched = NULL, *alg = http_hmac;
	EVP_MAC_CTX *ctx;
	OSSL_PARAM params[2];
	char digest[] = "SHA256";

	if (alg == NULL && (alg = fetched = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return -1;
	if ((ctx = EVP_MAC_CTX_new(alg)) == NULL) {
		EVP_MAC_free(fetched);
		return -1;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(ctx, (const unsigned char *)key, strlen(key), params) == 1 &&
	     EVP_MAC_update(ctx, (const unsigned char *)prefix, prefix_len) == 1;
	request_rewind(req);
	while (ok && (got = request_read(req, chunk, sizeof(chunk))) > 0)
		ok = EVP_MAC_update(ctx, (const unsigned char *)chunk, got) == 1;
	request_rewind(req);
	ok = ok && EVP_MAC_final(ctx, mac, mac_len, EVP_MAX_MD_SIZE) == 1;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(fetched);
#else
	HMAC_CTX *ctx = HMAC_CTX_new();
	unsigned int len = 0;

	if (ctx == NULL)
		return -1;
	ok = HMAC_Init_ex(ctx, key, (int)strlen(key), EVP_sha256(), NULL) == 1 &&
	     HMAC_Update(ctx, (const unsigned char *)prefix, prefix_len) == 1;
	request_rewind(req);
	while (ok && (got = request_read(req, chunk, sizeof(chunk))) > 0)
		ok = HMAC_Update(ctx, (const unsigned char *)chunk, got) == 1;
	request_rewind(req);
	ok = ok && HMAC_Final(ctx, mac, &len) == 1;
	*mac_len = len;
	HMAC_CTX_free(ctx);
#endif
	/* The request's bytes stay on the stack otherwise; the body may be private mail. */
	explicit_bzero(chunk, sizeof(chunk));
	return ok ? 0 : -1;
}

/* share_lock - take the mutex of one kind of shared data */
static void share_lock(CURL *easy, curl_lock_data data, curl_lock_access access, void *arg)
{
	(void)easy;
	(void)access;
	(void)arg;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		(void)pthread_mutex_lock(&http_share_locks[data]);
}

/* share_unlock - release the mutex of one kind of shared data */
static void share_unlock(CURL *easy, curl_lock_data data, void *arg)
{
	(void)easy;
	(void)arg;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		(void)pthread_mutex_unlock(&http_share_locks[data]);
}

/* mono_ms - CLOCK_MONOTONIC in milliseconds */
static long long mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * post_enter - count a post in, unless cleanup has begun (0). With post_leave and the two
 * sequentially consistent steps of http_global_cleanup, either cleanup sees the post and
 * frees nothing, or the post sees cleanup and touches no pool.
 */
static int post_enter(void)
{
	__atomic_add_fetch(&http_in_flight, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&http_stopping, __ATOMIC_SEQ_CST)) {
		post_leave();
		return 0;
	}
	return 1;
}

/* post_leave - count a post out */
static void post_leave(void)
{
	__atomic_sub_fetch(&http_in_flight, 1, __ATOMIC_SEQ_CST);
}

/* pool_get - the pool of hook id, started at its first post; NULL when it cannot start */
static struct pool *pool_get(const char *id)
{
	struct pool *pl;

	/* Pools are only ever added at the head, fully built: a lock-free walk is safe. */
	for (pl = __atomic_load_n(&http_pools, __ATOMIC_ACQUIRE); pl != NULL; pl = pl->next)
		if (strcmp(pl->id, id) == 0)
			return pl;
	if (pthread_mutex_lock(&http_pools_lock) != 0)
		return NULL;
	for (pl = __atomic_load_n(&http_pools, __ATOMIC_ACQUIRE); pl != NULL; pl = pl->next)
		if (strcmp(pl->id, id) == 0)
			break;
	if (pl == NULL && (pl = pool_new(id)) != NULL) {
		pl->next = __atomic_load_n(&http_pools, __ATOMIC_ACQUIRE);
		__atomic_store_n(&http_pools, pl, __ATOMIC_RELEASE);
	}
	(void)pthread_mutex_unlock(&http_pools_lock);
	return pl;
}

/* pool_new - a multi handle and its thread for hook id; NULL on failure */
static struct pool *pool_new(const char *id)
{
	struct pool *pl = calloc(1, sizeof(*pl));
	sigset_t all, old;
	CURLMcode mc = CURLM_OK;
	int rc;

	if (pl == NULL)
		return NULL;
	if ((pl->id = strdup(id)) == NULL || pthread_mutex_init(&pl->lock, NULL) != 0) {
		free(pl->id);
		free(pl);
		return NULL;
	}
	pl->queue_end = &pl->queue;
	pl->max_connections = pl->applied_max = HTTP_DEFAULT_MAX_CONN;
	if ((pl->multi = curl_multi_init()) == NULL)
		goto fail;
	mc = curl_multi_setopt(pl->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	if (mc == CURLM_OK)
		mc = curl_multi_setopt(pl->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
		                       (long)pl->applied_max);
	if (mc == CURLM_OK)
		mc = curl_multi_setopt(pl->multi, CURLMOPT_MAXCONNECTS, (long)pl->applied_max);
	if (mc != CURLM_OK)
		goto fail;
	/* Signals are main.c's and libmilter's business: the pool thread takes none. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&pl->thread, NULL, pool_run, pl);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		goto fail;
	return pl;
fail:
	if (pl->multi != NULL)
		curl_multi_cleanup(pl->multi);
	pthread_mutex_destroy(&pl->lock);
	free(pl->id);
	free(pl);
	return NULL;
}

/* pool_free - stop a pool's thread and free it; no post may be running */
static void pool_free(struct pool *pl)
{
	if (pthread_mutex_lock(&pl->lock) == 0) {
		pl->stop = 1;
		(void)pthread_mutex_unlock(&pl->lock);
	}
	(void)curl_multi_wakeup(pl->multi);
	(void)pthread_join(pl->thread, NULL);
	while (pl->nidle > 0)
		curl_easy_cleanup(pl->idle[--pl->nidle]);
	curl_multi_cleanup(pl->multi);
	for (size_t i = 0; i < pl->nh2c_hosts; i++)
		free(pl->h2c_hosts[i]);
	for (size_t i = 0; i < pl->nendpoints; i++)
		free(pl->endpoints[i].url);
	pthread_mutex_destroy(&pl->lock);
	free(pl->id);
	free(pl);
}

/* pool_run - the pool thread: add posted transfers, drive them, hand back the finished */
static void *pool_run(void *arg)
{
	struct pool *pl = arg;

	for (;;) {
		struct job *fresh, *j, *next;
		struct CURLMsg *msg;
		unsigned want;
		int stop, running = 0, left;
		long wait_ms = HTTP_POLL_MAX_MS;

		if (pthread_mutex_lock(&pl->lock) != 0)
			abort();
		fresh = pl->queue;
		pl->queue = NULL;
		pl->queue_end = &pl->queue;
		want = pl->max_connections;
		stop = pl->stop;
		(void)pthread_mutex_unlock(&pl->lock);

		pool_apply_limit(pl, want);
		for (j = fresh; j != NULL; j = next) {
			next = j->next;
			j->next = NULL;
			if (stop)
				job_finish(pl, j, CURLE_ABORTED_BY_CALLBACK, 0);
			else
				pool_dispatch(pl, j);
		}
		if (stop) {
			/* Only reached with no post running (http_global_cleanup); be safe anyway.
			 */
			while ((j = pl->active) != NULL) {
				pl->active = j->next;
				(void)curl_multi_remove_handle(pl->multi, j->easy);
				job_finish(pl, j, CURLE_ABORTED_BY_CALLBACK, 0);
			}
			for (size_t i = 0; i < pl->nh2c_hosts; i++) {
				struct h2c_host *hh = pl->h2c_hosts[i];

				while ((j = hh->held) != NULL) {
					hh->held = j->next;
					job_finish(pl, j, CURLE_ABORTED_BY_CALLBACK, 0);
				}
				hh->held_end = &hh->held;
			}
			return NULL;
		}

		(void)curl_multi_perform(pl->multi, &running);
		while ((msg = curl_multi_info_read(pl->multi, &left)) != NULL) {
			CURL *easy = msg->easy_handle;
			CURLcode rc = msg->data.result; /* msg is gone once the handle is removed */
			struct job **jp;

			if (msg->msg != CURLMSG_DONE)
				continue;
			for (jp = &pl->active; *jp != NULL && (*jp)->easy != easy;
			     jp = &(*jp)->next)
				;
			if ((j = *jp) != NULL) {
				*jp = j->next;
				pool_done(pl, j, rc, 0);
			} else {
				(void)curl_multi_remove_handle(pl->multi, easy);
			}
		}
		pool_expire(pl, mono_ms(), &wait_ms);
		/* Returns at activity, at libcurl's own next timeout, at a wakeup, or after wait.
		 */
		if (curl_multi_poll(pl->multi, NULL, 0, (int)wait_ms, NULL) != CURLM_OK) {
			struct timespec pause = {0, 10 * 1000000L};

			(void)nanosleep(&pause, NULL);
		}
	}
}

/* pool_apply_limit - give the multi the hook's latest max-connections */
static void pool_apply_limit(struct pool *pl, unsigned want)
{
	if (want == 0 || want == pl->applied_max)
		return;
	/* Both: no more open at once, and no more kept idle, than the hook allows. */
	if (curl_multi_setopt(pl->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)want) == CURLM_OK &&
	    curl_multi_setopt(pl->multi, CURLMOPT_MAXCONNECTS, (long)want) == CURLM_OK)
		pl->applied_max = want;
}

/*
 * pool_dispatch - put a job into the multi. An h2c job under libcurl < 8 (j->h2c_key set)
 * waits while its host has a connection being opened or HTTP_H2C_STREAMS_MAX transfers,
 * and otherwise goes with prior knowledge or as plain HTTP/2, as its host's open says
 * (see http_h2c_reuse_broken). A host beyond HTTP_H2C_HOSTS_MAX gets a connection of its
 * own per transfer: slower, never broken.
 */
static void pool_dispatch(struct pool *pl, struct job *j)
{
	struct h2c_host *hh = NULL;
	CURLcode rc = CURLE_OK;

	j->plain_h2 = 0;
	j->refused = 0;
#if LIBCURL_VERSION_NUM >= 0x075000
	if (j->h2c_key != NULL)
		hh = h2c_host_get(pl, j->h2c_key);
#endif
	/* No CURLOPT_PREREQFUNCTION before 7.80.0, or no room: no reuse is the safe way. */
	if (j->h2c_key != NULL && hh == NULL) {
		HTTP_SETOPT(rc, j->easy, CURLOPT_FRESH_CONNECT, 1L);
		HTTP_SETOPT(rc, j->easy, CURLOPT_FORBID_REUSE, 1L);
	}
#if LIBCURL_VERSION_NUM >= 0x075000
	if (hh != NULL) {
		if (hh->pk != NULL || hh->active >= HTTP_H2C_STREAMS_MAX) {
			j->next = NULL;
			*hh->held_end = j;
			hh->held_end = &j->next;
			return;
		}
		j->plain_h2 = hh->open;
		HTTP_SETOPT(rc, j->easy, CURLOPT_HTTP_VERSION,
		            hh->open ? (long)CURL_HTTP_VERSION_2_0
		                     : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
		HTTP_SETOPT(rc, j->easy, CURLOPT_PREREQFUNCTION, on_prereq);
		HTTP_SETOPT(rc, j->easy, CURLOPT_PREREQDATA, j);
		if (!hh->open)
			hh->pk = j;
	}
#endif
	if (rc != CURLE_OK || curl_multi_add_handle(pl->multi, j->easy) != CURLM_OK) {
		if (hh != NULL && hh->pk == j)
			hh->pk = NULL;
		job_finish(pl, j, rc != CURLE_OK ? rc : CURLE_OUT_OF_MEMORY, 0);
		return;
	}
	j->h2c = hh;
	if (hh != NULL)
		hh->active++;
	j->next = pl->active;
	pl->active = j;
}

/*
 * on_prereq - with the connection chosen and nothing sent yet: refuse prior knowledge on a
 * reused connection (it would break it) and plain HTTP/2 on a new one (it would speak
 * HTTP/1.1); libcurl closes a new connection whose transfer stops here
 */
#if LIBCURL_VERSION_NUM >= 0x075000
static int on_prereq(void *arg, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
	struct job *j = arg;
	long connects = 0;

	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	if (curl_easy_getinfo(j->easy, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK)
		return CURL_PREREQFUNC_OK;
	if (j->plain_h2 == (connects > 0)) {
		j->refused = 1;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}
#endif

/* pool_done - take a finished or expired job out of the multi and hand it back */
static void pool_done(struct pool *pl, struct job *j, CURLcode rc, int expired)
{
	struct h2c_host *hh = j->h2c;
	long version = 0;

	if (hh != NULL) {
		/* What this transfer learnt of the host, for the next one's guess. */
		if (j->refused)
			hh->open = !j->plain_h2;
		else if (rc == CURLE_OK &&
		         curl_easy_getinfo(j->easy, CURLINFO_HTTP_VERSION, &version) == CURLE_OK)
			hh->open = version == CURL_HTTP_VERSION_2_0;
		hh->active--;
		if (hh->pk == j)
			hh->pk = NULL;
	}
	(void)curl_multi_remove_handle(pl->multi, j->easy);
	j->h2c = NULL;
	job_finish(pl, j, rc, expired);
	if (hh != NULL)
		h2c_release(pl, hh);
}

/* h2c_release - dispatch the jobs a host held, as far as it now can take them */
static void h2c_release(struct pool *pl, struct h2c_host *hh)
{
	struct job *held = hh->held, *j;

	hh->held = NULL;
	hh->held_end = &hh->held;
	/* pool_dispatch holds again what it cannot take yet, in the same order. */
	while ((j = held) != NULL) {
		held = j->next;
		pool_dispatch(pl, j);
	}
}

/* h2c_host_get - the pool's record of an h2c host, made at first; NULL when full */
static struct h2c_host *h2c_host_get(struct pool *pl, const char *key)
{
	struct h2c_host *hh;

	for (size_t i = 0; i < pl->nh2c_hosts; i++)
		if (strcmp(pl->h2c_hosts[i]->key, key) == 0)
			return pl->h2c_hosts[i];
	if (pl->nh2c_hosts >= HTTP_H2C_HOSTS_MAX || (hh = calloc(1, sizeof(*hh))) == NULL)
		return NULL;
	(void)snprintf(hh->key, sizeof(hh->key), "%s", key);
	hh->held_end = &hh->held;
	pl->h2c_hosts[pl->nh2c_hosts++] = hh;
	return hh;
}

/* h2c_key - "host:port" of a URL, which its connections are shared by; 0 or -1 */
static int h2c_key(const char *url, char *key, size_t keylen)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	int rc = -1, n;

	if (u == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		n = snprintf(key, keylen, "%s:%s", host, port);
		rc = n > 0 && (size_t)n < keylen ? 0 : -1;
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/*
 * pool_expire - end the transfers whose post ran out of time, and shorten *wait_ms to the
 * nearest deadline left. libcurl's CURLOPT_TIMEOUT_MS does not count the time a transfer
 * waits for a free connection; this does.
 */
static void pool_expire(struct pool *pl, long long now, long *wait_ms)
{
	struct job **jp = &pl->active;

	while (*jp != NULL) {
		struct job *j = *jp;

		if (j->deadline <= now) {
			*jp = j->next;
			pool_done(pl, j, CURLE_OPERATION_TIMEDOUT, 1);
			/* pool_done may have dispatched held jobs to the head of the list. */
			jp = &pl->active;
			continue;
		}
		if (j->deadline - now < *wait_ms)
			*wait_ms = (long)(j->deadline - now);
		jp = &j->next;
	}
	for (size_t i = 0; i < pl->nh2c_hosts; i++) {
		struct h2c_host *hh = pl->h2c_hosts[i];

		for (jp = &hh->held; *jp != NULL;) {
			struct job *j = *jp;

			if (j->deadline <= now) {
				*jp = j->next;
				if (*jp == NULL)
					hh->held_end = jp;
				job_finish(pl, j, CURLE_OPERATION_TIMEDOUT, 1);
				continue;
			}
			if (j->deadline - now < *wait_ms)
				*wait_ms = (long)(j->deadline - now);
			jp = &j->next;
		}
	}
	if (*wait_ms < 1)
		*wait_ms = 1;
}

/* job_finish - hand a job back to the thread waiting for it; j is not ours after this */
static void job_finish(struct pool *pl, struct job *j, CURLcode rc, int expired)
{
	pthread_mutex_t *lock = j->wake_lock;

	(void)pl;
	if (pthread_mutex_lock(lock) != 0)
		abort();
	j->rc = rc;
	j->expired = expired;
	j->done = 1;
	/* Signalled under the lock: the waiter may reuse the job as soon as it has it. */
	(void)pthread_cond_signal(j->wake);
	(void)pthread_mutex_unlock(lock);
}

/*
 * pool_perform - run easy on the pool's thread and wait for it (calling the progress
 * function meanwhile); the transfer's result. The job is done by deadline at the latest.
 * h2c_key: see pool_dispatch.
 */
static CURLcode pool_perform(struct http_client *c, struct pool *pl, CURL *easy, long long deadline,
                             const char *h2c_key)
{
	struct job *j = &c->job;
	CURLcode rc;
	int wake;

	memset(j, 0, sizeof(*j));
	j->easy = easy;
	j->deadline = deadline;
	j->wake = &c->wake;
	j->wake_lock = &c->lock;
	j->h2c_key = h2c_key;
	if (pthread_mutex_lock(&pl->lock) != 0)
		return CURLE_FAILED_INIT;
	/* A queue that was not empty has a wakeup on its way: the thread takes all of it. */
	wake = pl->queue == NULL;
	*pl->queue_end = j;
	pl->queue_end = &j->next;
	(void)pthread_mutex_unlock(&pl->lock);
	if (wake)
		(void)curl_multi_wakeup(pl->multi);

	if (pthread_mutex_lock(&c->lock) != 0)
		abort(); /* the job is in the pool's hands: we cannot walk away from it */
	while (!j->done) {
		long long now;
		struct timespec at;

		if (c->progress == NULL) {
			(void)pthread_cond_wait(&c->wake, &c->lock);
			continue;
		}
		now = mono_ms();
		if (now >= c->progress_next) {
			c->progress_next = now + c->progress_ms;
			(void)pthread_mutex_unlock(&c->lock);
			c->progress(c->progress_arg);
			if (pthread_mutex_lock(&c->lock) != 0)
				abort();
			continue;
		}
		at.tv_sec = (time_t)(c->progress_next / 1000);
		at.tv_nsec = (long)(c->progress_next % 1000) * 1000000L;
		(void)pthread_cond_timedwait(&c->wake, &c->lock, &at);
	}
	rc = j->rc;
	(void)pthread_mutex_unlock(&c->lock);
	return rc;
}

/*
 * pool_plan - under the pool's lock: take the hook's limit, find (or make) each URL's
 * endpoint slot (SIZE_MAX when the pool remembers too many) and when it failed, order the
 * URLs to try, and take an idle easy handle (NULL: none idle)
 */
static CURL *pool_plan(struct pool *pl, const struct hook *h, char *const *urls, size_t n,
                       size_t *order, size_t *slot, long long *failed)
{
	size_t first = 0;
	long long now = mono_ms();
	CURL *easy = NULL;

	if (pthread_mutex_lock(&pl->lock) != 0) {
		for (size_t i = 0; i < n; i++) {
			slot[i] = SIZE_MAX;
			failed[i] = 0;
		}
		(void)http_endpoint_order(n, failed, now, 0, order);
		return NULL;
	}
	pl->max_connections = h->max_connections > 0 ? h->max_connections : HTTP_DEFAULT_MAX_CONN;
	for (size_t i = 0; i < n; i++) {
		size_t s;

		for (s = 0; s < pl->nendpoints && strcmp(pl->endpoints[s].url, urls[i]) != 0; s++)
			;
		if (s == pl->nendpoints) {
			char *copy = NULL;

			/* Past the bound a URL's failures are not remembered: always healthy. */
			if (pl->nendpoints < HTTP_ENDPOINTS_KEPT &&
			    (copy = strdup(urls[i])) != NULL) {
				pl->endpoints[s].url = copy;
				pl->endpoints[s].failed_until = 0;
				pl->nendpoints++;
			} else {
				s = SIZE_MAX;
			}
		}
		slot[i] = s;
		failed[i] = s == SIZE_MAX ? 0 : pl->endpoints[s].failed_until;
	}
	if (h->balance == HOOK_BALANCE_ROUND_ROBIN)
		first = (size_t)(pl->turn++ % n);
	if (pl->nidle > 0)
		easy = pl->idle[--pl->nidle];
	(void)pthread_mutex_unlock(&pl->lock);
	(void)http_endpoint_order(n, failed, now, first, order);
	return easy;
}

/* pool_mark - record when an endpoint may be tried first again (0: now) */
static void pool_mark(struct pool *pl, size_t slot, const char *url, long long failed_until)
{
	if (slot == SIZE_MAX || pthread_mutex_lock(&pl->lock) != 0)
		return;
	/* The slot is the URL's for the pool's lifetime; checked all the same. */
	if (slot < pl->nendpoints && strcmp(pl->endpoints[slot].url, url) == 0)
		pl->endpoints[slot].failed_until = failed_until;
	(void)pthread_mutex_unlock(&pl->lock);
}

/* pool_give_handle - reset a handle (no option, pointer or secret of the post stays) and keep it */
static void pool_give_handle(struct pool *pl, CURL *easy)
{
	curl_easy_reset(easy);
	if (pthread_mutex_lock(&pl->lock) == 0) {
		if (pl->nidle < HTTP_IDLE_HANDLES_MAX) {
			pl->idle[pl->nidle++] = easy;
			easy = NULL;
		}
		(void)pthread_mutex_unlock(&pl->lock);
	}
	/* More posts were in flight at once than the pool keeps handles for. */
	if (easy != NULL)
		curl_easy_cleanup(easy);
}

/*
 * attempt - post req to one endpoint, the pool's thread doing the transfer: ATTEMPT_FINAL
 * when res holds an answer or an error of the hook's own, ATTEMPT_FAILED when the endpoint
 * failed (res says how). end is when the whole post must be over; connect_ms this
 * endpoint's share of it for connecting.
 */
static enum attempt attempt(struct http_client *c, struct pool *pl, CURL *easy,
                            const struct hook *h, const char *url, struct request *req,
                            struct curl_slist *headers, long long end, long connect_ms,
                            struct http_result *res)
{
	enum attempt verdict = ATTEMPT_FAILED;
	int h2c = h->http2_prior_knowledge && strncasecmp(url, "http://", 7) == 0;
	/* HTTP/2 by ALPN on https://; on http:// only when the hook says it speaks h2c. */
	long version = h2c ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE : CURL_HTTP_VERSION_2TLS;
	char key[HTTP_HOSTKEY_MAX];
	const char *h2c_host = NULL;
	CURLcode rc;
	long status = 0;

	if (h2c && http_h2c_reuse_broken && h2c_key(url, key, sizeof(key)) == 0)
		h2c_host = key;
	/* Nothing of an earlier attempt (another endpoint, h2c's options) carries over. */
	curl_easy_reset(easy);
	c->res = res;
	c->limit = h->max_response_size;
	rc = perform_once(c, pl, easy, h, url, req, headers, end, connect_ms, version, h2c_host,
	                  res);
	/* on_prereq refused a guess about the h2c connection; each retry knows better. */
	for (int retries = 0;
	     rc != CURLE_OK && c->job.refused && retries < HTTP_H2C_RETRIES && mono_ms() < end;
	     retries++)
		rc = perform_once(c, pl, easy, h, url, req, headers, end, connect_ms, version,
		                  h2c_host, res);
	if (rc == CURLE_OK)
		rc = curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);

	if (rc == CURLE_OK) {
		res->status = status;
		/* A 5xx is the server's failure, not the hook's answer: another endpoint may do. */
		verdict = status >= 500 && status <= 599 ? ATTEMPT_FAILED : ATTEMPT_FINAL;
	} else if (c->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		result_error(res, HTTP_ERR_TOO_LARGE,
		             "response %s larger than max-response-size (%zu bytes)",
		             c->too_large ? "body" : "Content-Length", c->limit);
		verdict = ATTEMPT_FINAL;
	} else if (c->no_memory) {
		result_error(res, HTTP_ERR_OTHER, "out of memory collecting the response");
		verdict = ATTEMPT_FINAL;
	} else if (rc == CURLE_OPERATION_TIMEDOUT && !request_started(easy, c->errbuf)) {
		/* libcurl's words for a transfer still waiting for a connection are misleading
		 * ("Failed to resolve host ... with timeout after 0 ms"). */
		result_error(res, HTTP_ERR_TIMEOUT,
		             "no connection within the hook's timeout (%ld ms): all "
		             "max-connections (%u) busy, or connecting too slow",
		             h->timeout_ms > 0 ? h->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS,
		             h->max_connections > 0 ? h->max_connections : HTTP_DEFAULT_MAX_CONN);
	} else if (c->job.expired) {
		result_error(res, HTTP_ERR_TIMEOUT,
		             "no complete answer within the hook's timeout (%ld ms)",
		             h->timeout_ms > 0 ? h->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS);
	} else {
		long os_error = 0;

		/* The OS error stays on a handle from one transfer to the next: it is
		 * only known to be this post's when the connect itself failed. */
		if (rc != CURLE_COULDNT_CONNECT ||
		    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_error) != CURLE_OK)
			os_error = 0;
		result_curl_error(res, c, rc, os_error);
		scrub(res->reason, h->auth_secret, h->auth_secret ? strlen(h->auth_secret) : 0);
		scrub_url_password(res->reason, url);
	}
	if (res->error != HTTP_OK)
		buf_reset(&res->body);
	c->res = NULL;
	return verdict;
}

/* perform_once - set the options and run one transfer on the pool's thread */
static CURLcode perform_once(struct http_client *c, struct pool *pl, CURL *easy,
                             const struct hook *h, const char *url, struct request *req,
                             struct curl_slist *headers, long long end, long connect_ms,
                             long version, const char *h2c_key, struct http_result *res)
{
	long long now = mono_ms();
	CURLcode rc;

	c->too_large = 0;
	c->no_memory = 0;
	c->errbuf[0] = '\0';
	buf_reset(&res->body);
	/* The same request may go to several hooks and endpoints in turn. */
	request_rewind(req);
	rc = post_options(easy, c, h, url, req, headers, end > now ? (long)(end - now) : 1L,
	                  connect_ms, version);
	if (rc == CURLE_OK)
		rc = pool_perform(c, pl, easy, end, h2c_key);
	return rc;
}

/*
 * request_started - whether a timed-out transfer had got as far as sending, or libcurl
 * says precisely which step timed out (resolving, connecting); if not, it was waiting
 */
static int request_started(CURL *easy, const char *errbuf)
{
	curl_off_t pretransfer = 0;

	if (strncmp(errbuf, "Connection timed out", 20) == 0 ||
	    strncmp(errbuf, "Resolving timed out", 19) == 0)
		return 1;
	return curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer) == CURLE_OK &&
	       pretransfer > 0;
}

/* on_body - collect the answer, refusing it the moment it passes the limit */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_client *c = arg;
	struct buf *body = &c->res->body;
	size_t len;

	if (nmemb != 0 && size > SIZE_MAX / nmemb) {
		c->too_large = 1;
		return 0;
	}
	len = size * nmemb;
	/* body->len never passes c->limit, so the subtraction cannot wrap. */
	if (len > c->limit - body->len) {
		c->too_large = 1;
		return 0;
	}
	if (buf_append(body, data, len) < 0) {
		if (errno == EFBIG)
			c->too_large = 1;
		else
			c->no_memory = 1;
		return 0;
	}
	return len;
}

/* on_read - hand libcurl the next bytes of the request */
static size_t on_read(char *dst, size_t size, size_t nitems, void *arg)
{
	if (nitems != 0 && size > SIZE_MAX / nitems)
		return CURL_READFUNC_ABORT;
	return request_read(arg, dst, size * nitems);
}

/*
 * inline_request - write a small request whole into the client's buffer. libcurl sends
 * POSTFIELDS of this size in the same write as the request line and headers, where a read
 * callback costs a second write, and the hook a second wakeup, per request. The buffer is
 * kept for the session's next request; its size is bounded by HTTP_INLINE_MAX.
 */
static int inline_request(struct http_client *c, struct request *req, size_t len)
{
	buf_reset(&c->inline_req);
	if (buf_reserve(&c->inline_req, len) < 0)
		return -1;
	request_rewind(req);
	c->inline_req.len = request_read(req, c->inline_req.data, len);
	c->inline_req.data[c->inline_req.len] = '\0';
	return c->inline_req.len == len ? 0 : -1;
}

/* on_seek - start the request again (a POST retried on a fresh connection) */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
	char skip[HTTP_SEEK_CHUNK];
	struct request *req = arg;

	if (origin != SEEK_SET || offset < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	request_rewind(req);
	/* A forward seek reads and drops; request_read returns 0 at the end, which bounds it. */
	while (offset > 0) {
		size_t want = offset < HTTP_SEEK_CHUNK ? (size_t)offset : HTTP_SEEK_CHUNK;
		size_t got = request_read(req, skip, want);

		if (got == 0)
			return CURL_SEEKFUNC_FAIL;
		offset -= (curl_off_t)got;
	}
	return CURL_SEEKFUNC_OK;
}

/* header_named - whether a "Name: value" line has this name (case-insensitive) */
static int header_named(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(line, name, n) == 0 && (line[n] == ':' || line[n] == ' ');
}

/*
 * headers_build - the request's headers: JSON, no 100-continue, the signature when there is
 * one (the hook's own headers of the same names are left out), the hook's own
 */
static struct curl_slist *headers_build(const struct hook *h, const char *timestamp,
                                        const char *signature)
{
	struct curl_slist *list = NULL, *next;
	char line[HTTP_SIGNATURE_MAX + 64];
	int own_type = 0;
	size_t i;

	for (i = 0; i < h->nheaders; i++)
		if (h->headers[i] != NULL && header_named(h->headers[i], "Content-Type"))
			own_type = 1;
	/* "Expect:" with no value stops libcurl from waiting for 100 Continue on large bodies. */
	if ((list = curl_slist_append(list, "Expect:")) == NULL)
		return NULL;
	if (!own_type) {
		if ((next = curl_slist_append(list, "Content-Type: application/json")) == NULL)
			goto fail;
		list = next;
	}
	if (timestamp != NULL && signature != NULL) {
		(void)snprintf(line, sizeof(line), "%s: %s", HTTP_TIMESTAMP_HEADER, timestamp);
		if ((next = curl_slist_append(list, line)) == NULL)
			goto fail;
		list = next;
		(void)snprintf(line, sizeof(line), "%s: %s", HTTP_SIGNATURE_HEADER, signature);
		next = curl_slist_append(list, line);
		explicit_bzero(line, sizeof(line));
		if (next == NULL)
			goto fail;
		list = next;
	}
	for (i = 0; i < h->nheaders; i++) {
		if (h->headers[i] == NULL)
			continue;
		if (signature != NULL && (header_named(h->headers[i], HTTP_TIMESTAMP_HEADER) ||
		                          header_named(h->headers[i], HTTP_SIGNATURE_HEADER)))
			continue;
		if ((next = curl_slist_append(list, h->headers[i])) == NULL)
			goto fail;
		list = next;
	}
	return list;
fail:
	curl_slist_free_all(list);
	return NULL;
}

/* on_open_socket - open the socket libcurl asks for, counting it for the hook's metrics */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	curl_socket_t fd;

	(void)purpose;
	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	if (fd == CURL_SOCKET_BAD)
		return CURL_SOCKET_BAD;
	metrics_connection_opened(arg);
	return fd;
}

/* on_close_socket - close a socket on_open_socket opened, counting it down */
static int on_close_socket(void *arg, curl_socket_t fd)
{
	metrics_connection_closed(arg);
	return close(fd);
}

/* post_options - every option of one attempt, on a handle fresh from curl_easy_reset */
static CURLcode post_options(CURL *easy, struct http_client *c, const struct hook *h,
                             const char *url, struct request *req, struct curl_slist *headers,
                             long timeout_ms, long connect_ms, long version)
{
	CURLcode rc = CURLE_OK;
	size_t len = request_length(req);
	long verify = h->allow_invalid_certs ? 0L : 1L;

	if ((uintmax_t)len > (uintmax_t)HTTP_OFF_T_MAX)
		return CURLE_FILESIZE_EXCEEDED;
	HTTP_SETOPT(rc, easy, CURLOPT_SHARE, http_share);
	/* Threads: no SIGALRM for DNS timeouts. */
	HTTP_SETOPT(rc, easy, CURLOPT_NOSIGNAL, 1L);
	HTTP_SETOPT(rc, easy, CURLOPT_TCP_NODELAY, 1L);
	HTTP_SETOPT(rc, easy, CURLOPT_TCP_KEEPALIVE, 1L);
	HTTP_SETOPT(rc, easy, CURLOPT_PROTOCOLS_STR, "http,https");
	HTTP_SETOPT(rc, easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* A 3xx is an answer like any other non-2xx: the caller treats it as an error. */
	HTTP_SETOPT(rc, easy, CURLOPT_FOLLOWLOCATION, 0L);
	HTTP_SETOPT(rc, easy, CURLOPT_USERAGENT, HTTP_USER_AGENT);
	HTTP_SETOPT(rc, easy, CURLOPT_POST, 1L);
	if (len <= HTTP_INLINE_MAX && inline_request(c, req, len) == 0) {
		HTTP_SETOPT(rc, easy, CURLOPT_POSTFIELDS, c->inline_req.data);
	} else {
		HTTP_SETOPT(rc, easy, CURLOPT_UPLOAD_BUFFERSIZE, HTTP_UPLOAD_BUFFER);
		HTTP_SETOPT(rc, easy, CURLOPT_READFUNCTION, on_read);
		HTTP_SETOPT(rc, easy, CURLOPT_SEEKFUNCTION, on_seek);
		HTTP_SETOPT(rc, easy, CURLOPT_READDATA, req);
		HTTP_SETOPT(rc, easy, CURLOPT_SEEKDATA, req);
	}
	HTTP_SETOPT(rc, easy, CURLOPT_WRITEFUNCTION, on_body);
	HTTP_SETOPT(rc, easy, CURLOPT_HTTP_VERSION, version);
	/* Wait for a connection that may multiplex rather than open one more. */
	HTTP_SETOPT(rc, easy, CURLOPT_PIPEWAIT, 1L);
	HTTP_SETOPT(rc, easy, CURLOPT_ERRORBUFFER, c->errbuf);
	HTTP_SETOPT(rc, easy, CURLOPT_URL, url);
	HTTP_SETOPT(rc, easy, CURLOPT_HTTPHEADER, headers);
	/* Counted for mtahooks_http_connections_*: libcurl keeps the close callback and its
	 * argument with the connection, and the counters live until exit (metrics.h). */
	if (h->metrics != NULL) {
		HTTP_SETOPT(rc, easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
		HTTP_SETOPT(rc, easy, CURLOPT_OPENSOCKETDATA, h->metrics);
		HTTP_SETOPT(rc, easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
		HTTP_SETOPT(rc, easy, CURLOPT_CLOSESOCKETDATA, h->metrics);
	}
	HTTP_SETOPT(rc, easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	HTTP_SETOPT(rc, easy, CURLOPT_WRITEDATA, c);
	/* The whole attempt ends with the post; connecting gets this endpoint's share. */
	HTTP_SETOPT(rc, easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	HTTP_SETOPT(rc, easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms > 0 ? connect_ms : 1L);
	HTTP_SETOPT(rc, easy, CURLOPT_SSL_VERIFYPEER, verify);
	HTTP_SETOPT(rc, easy, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	/* A CA of the hook's own replaces the system's store, not adds to it. */
	if (h->tls_ca_file != NULL || h->tls_ca_path != NULL) {
		HTTP_SETOPT(rc, easy, CURLOPT_CAINFO, h->tls_ca_file);
		HTTP_SETOPT(rc, easy, CURLOPT_CAPATH, h->tls_ca_path);
	}
	if (h->tls_cert_file != NULL) {
		HTTP_SETOPT(rc, easy, CURLOPT_SSLCERT, h->tls_cert_file);
		HTTP_SETOPT(rc, easy, CURLOPT_SSLKEY, h->tls_key_file);
	}
	if (h->tls_min_version == 12)
		HTTP_SETOPT(rc, easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	else if (h->tls_min_version == 13)
		HTTP_SETOPT(rc, easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	/* A proxy from the environment would carry hook traffic by surprise (README). */
	if (!h->use_proxy)
		HTTP_SETOPT(rc, easy, CURLOPT_NOPROXY, "*");
	/* Refuses an announced Content-Length above the limit before the body comes;
	 * on_body catches the rest. libcurl reads 0 as no limit: on_body then refuses any byte. */
	HTTP_SETOPT(rc, easy, CURLOPT_MAXFILESIZE_LARGE,
	            (curl_off_t)((uintmax_t)h->max_response_size > (uintmax_t)HTTP_OFF_T_MAX
	                             ? HTTP_OFF_T_MAX
	                             : (curl_off_t)h->max_response_size));
	if (h->auth_username != NULL) {
		HTTP_SETOPT(rc, easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		HTTP_SETOPT(rc, easy, CURLOPT_USERNAME, h->auth_username);
		HTTP_SETOPT(rc, easy, CURLOPT_PASSWORD,
		            h->auth_secret != NULL ? h->auth_secret : "");
	}
	return rc;
}

/* error_kind - the kind of error a libcurl code is; detail is libcurl's message */
static enum http_error error_kind(CURLcode rc, const char *detail)
{
	switch (rc) {
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		/* TLS 1.3 refuses a client certificate after the handshake, on the first read
		 * ("tlsv13 alert certificate required"): still a TLS failure, not a network one. */
		if (strstr(detail, "SSL routines") != NULL || strstr(detail, " alert ") != NULL)
			return HTTP_ERR_TLS;
		return HTTP_ERR_CONNECT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return HTTP_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_ERR_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
		return HTTP_ERR_TLS;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_ERR_TOO_LARGE;
	default:
		return HTTP_ERR_OTHER;
	}
}

/* result_error - record an error kind and its reason */
static void result_error(struct http_result *res, enum http_error e, const char *fmt, ...)
{
	va_list ap;

	res->error = e;
	res->status = 0;
	va_start(ap, fmt);
	/* Truncation only shortens the log text. */
	(void)vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

/* result_curl_error - the reason libcurl gives: its own words, its error's name, the OS error */
static void result_curl_error(struct http_result *res, const struct http_client *c, CURLcode rc,
                              long os_error)
{
	const char *name = curl_easy_strerror(rc);
	const char *detail = c->errbuf;
	const char *os = os_error_text(os_error);
	enum http_error kind = error_kind(rc, c->errbuf);
	char osbuf[32] = "";
	size_t n = strlen(detail);

	/* libcurl ends some messages with a newline. */
	while (n > 0 && (detail[n - 1] == '\n' || detail[n - 1] == '\r'))
		n--;
	if (n == 0) {
		detail = name;
		n = strlen(name);
	}
	/* libcurl 7.88 no longer says why a connect failed; the OS error does. */
	if (os != NULL)
		(void)snprintf(osbuf, sizeof(osbuf), ": %s", os);
	else if (os_error != 0)
		(void)snprintf(osbuf, sizeof(osbuf), ": errno %ld", os_error);
	if (rc == CURLE_PARTIAL_FILE)
		result_error(res, kind,
		             "connection closed before a complete answer (partial body): %.*s%s",
		             (int)n, detail, osbuf);
	else if (detail == name || strstr(detail, name) != NULL)
		result_error(res, kind, "%.*s%s", (int)n, detail, osbuf);
	else
		result_error(res, kind, "%.*s (%s)%s", (int)n, detail, name, osbuf);
}

/* os_error_text - the text of the errors a connection meets; strerror is not thread-safe */
static const char *os_error_text(long err)
{
	switch (err) {
	case ECONNREFUSED:
		return "Connection refused";
	case ECONNRESET:
		return "Connection reset by peer";
	case ECONNABORTED:
		return "Connection aborted";
	case ETIMEDOUT:
		return "Connection timed out";
	case EHOSTUNREACH:
		return "No route to host";
	case ENETUNREACH:
		return "Network is unreachable";
	case ENETDOWN:
		return "Network is down";
	case EPIPE:
		return "Broken pipe";
	case EADDRNOTAVAIL:
		return "Cannot assign requested address";
	case EMFILE:
	case ENFILE:
		return "Too many open files";
	default:
		return NULL;
	}
}

/* scrub - overwrite every occurrence of a secret in text */
static void scrub(char *text, const char *secret, size_t secret_len)
{
	char *p;

	if (secret == NULL || secret_len == 0)
		return;
	/* text is a bounded reason; each hit moves p past what it overwrote. */
	for (p = text; *p != '\0'; p++) {
		if (strncmp(p, secret, secret_len) == 0) {
			memset(p, '*', secret_len);
			p += secret_len - 1;
		}
	}
}

/* scrub_url_password - overwrite the password of a URL's "user:password@" in text */
static void scrub_url_password(char *text, const char *url)
{
	const char *auth = strstr(url, "://");
	const char *stop, *at, *next, *colon;

	if (auth == NULL)
		return;
	auth += 3;
	stop = auth + strcspn(auth, "/?#");
	if ((at = memchr(auth, '@', (size_t)(stop - auth))) == NULL)
		return;
	/* The last '@' before the path ends the userinfo. */
	while ((next = memchr(at + 1, '@', (size_t)(stop - at - 1))) != NULL)
		at = next;
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (colon != NULL && at > colon + 1)
		scrub(text, colon + 1, (size_t)(at - colon - 1));
}

/*
 * url_for_log - a URL as a log line may show it: scheme, host, port and path, without
 * "user:password@" and without the query or fragment (either may carry a token)
 */
static void url_for_log(const char *url, char *out, size_t outlen)
{
	const char *auth = strstr(url, "://");
	const char *host = url, *stop, *at;
	size_t scheme = 0, len;

	if (outlen == 0)
		return;
	if (auth != NULL) {
		scheme = (size_t)(auth + 3 - url);
		host = auth + 3;
		stop = host + strcspn(host, "/?#");
		/* The last '@' before the path ends the userinfo. */
		for (at = host; at < stop; at++)
			if (*at == '@')
				host = at + 1;
	}
	len = strcspn(host, "?#");
	(void)snprintf(out, outlen, "%.*s%.*s", (int)scheme, url, (int)len, host);
}
