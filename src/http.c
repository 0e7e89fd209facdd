/* http.c - POST a request to a hook with libcurl, keeping connections alive (see include/http.h) */
#ifdef HAVE_CONFIG_H
#include "build-config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include <curl/curl.h>

#include "config.h"
#include "http.h"
#include "request.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

#define HTTP_USER_AGENT "mtahooks-milter/" PACKAGE_VERSION
/* The default timeout (PROTOCOL.md section 6), used when a hook's is not positive. */
#define HTTP_DEFAULT_TIMEOUT_MS 30000L
/* Idle easy handles kept, each with its open connections. */
#define HTTP_POOL_MAX 64
/* Bytes skipped at a time when libcurl seeks forward in a request. */
#define HTTP_SEEK_CHUNK 4096
/* libcurl does not export the largest curl_off_t; it is a signed integer type. */
#define HTTP_OFF_T_MAX ((curl_off_t)((UINTMAX_C(1) << (sizeof(curl_off_t) * 8 - 1)) - 1))

/*
 * Keep-alive across messages and sessions comes from a pool of easy handles,
 * not from sharing libcurl's connection cache (CURL_LOCK_DATA_CONNECT): the
 * libcurl manual says sharing connections between concurrent threads is not
 * supported, and that use is known to crash. An easy handle keeps its own
 * connections open between transfers and may move from thread to thread as
 * long as one thread uses it at a time. So a post borrows the most recently
 * returned handle (the one whose connection is most likely still open) and
 * gives it back: the connections to a hook never outnumber the posts in
 * flight at once. The share holds what is safe to share: DNS and TLS sessions.
 */
struct http_client {
	struct http_result *res; /* where the answer of the post in progress goes */
	size_t limit;            /* the hook's max-response-size */
	int too_large;           /* the write callback refused the body */
	int no_memory;           /* the write callback could not grow the body */
	char errbuf[CURL_ERROR_SIZE];
	void (*progress)(void *); /* called every progress_ms while a post waits, or NULL */
	void *progress_arg;
	long progress_ms;
	struct timespec progress_last; /* when progress was last called (or the post began) */
};

static CURLSH *http_share;
static pthread_mutex_t http_share_locks[CURL_LOCK_DATA_LAST];
static int http_share_locks_ready;
static pthread_mutex_t http_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL *http_pool[HTTP_POOL_MAX];
static size_t http_pool_count;

static void share_lock(CURL *easy, curl_lock_data data, curl_lock_access access, void *arg);
static void share_unlock(CURL *easy, curl_lock_data data, void *arg);
static CURL *handle_new(void);
static CURL *pool_take(void);
static void pool_give(CURL *easy);
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg);
static size_t on_read(char *dst, size_t size, size_t nitems, void *arg);
static int on_seek(void *arg, curl_off_t offset, int origin);
static int header_named(const char *line, const char *name);
static struct curl_slist *headers_build(const struct hook *h);
static CURLcode post_options(CURL *easy, struct http_client *c, const struct hook *h,
                             struct request *req, struct curl_slist *headers);
static CURLcode post_forget(CURL *easy);
static enum http_error error_kind(CURLcode rc);
static void result_error(struct http_result *res, enum http_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void result_curl_error(struct http_result *res, const struct http_client *c, CURLcode rc,
                              long os_error);
static const char *os_error_text(long err);
static void scrub(char *text, const char *secret, size_t secret_len);
static void scrub_url_password(char *text, const char *url);

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
	return 0;
}

/* http_global_cleanup - undo http_global_init, after every client is freed */
void http_global_cleanup(void)
{
	int i;

	/* Every handle is back in the pool once no post is in flight. */
	while (http_pool_count > 0)
		curl_easy_cleanup(http_pool[--http_pool_count]);
	if (http_share != NULL) {
		curl_share_cleanup(http_share);
		http_share = NULL;
	}
	if (http_share_locks_ready) {
		for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
			pthread_mutex_destroy(&http_share_locks[i]);
		http_share_locks_ready = 0;
	}
	curl_global_cleanup();
}

/* http_client_new - a client for one session or thread */
struct http_client *http_client_new(void)
{
	return calloc(1, sizeof(struct http_client));
}

/* http_set_progress - call fn(arg) every interval_ms while a post waits; fn NULL: never */
void http_set_progress(struct http_client *c, void (*fn)(void *arg), void *arg, long interval_ms)
{
	c->progress = fn;
	c->progress_arg = arg;
	c->progress_ms = interval_ms > 0 ? interval_ms : 1000;
}

/* on_progress - libcurl's transfer-info callback: tell the caller we are still waiting */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct http_client *c = arg;
	struct timespec now;
	long elapsed;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (c->progress == NULL || clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return 0;
	elapsed = (long)(now.tv_sec - c->progress_last.tv_sec) * 1000 +
	          (now.tv_nsec - c->progress_last.tv_nsec) / 1000000;
	if (elapsed >= c->progress_ms) {
		c->progress_last = now;
		c->progress(c->progress_arg);
	}
	return 0;
}

/* http_client_free - free a client; NULL is ignored */
void http_client_free(struct http_client *c)
{
	free(c);
}

/* http_post - send req to hook h and collect the answer into res */
void http_post(struct http_client *c, const struct hook *h, struct request *req,
               struct http_result *res)
{
	struct curl_slist *headers;
	CURL *easy;
	CURLcode rc;
	long status = 0;

	res->error = HTTP_OK;
	res->status = 0;
	res->reason[0] = '\0';
	buf_reset(&res->body);
	if (c == NULL || h == NULL || req == NULL || h->url == NULL) {
		result_error(res, HTTP_ERR_OTHER, "internal error: nothing to post");
		return;
	}
	if ((headers = headers_build(h)) == NULL) {
		result_error(res, HTTP_ERR_OTHER, "out of memory building the request headers");
		return;
	}
	if ((easy = pool_take()) == NULL) {
		curl_slist_free_all(headers);
		result_error(res, HTTP_ERR_OTHER, "out of memory creating an HTTP handle");
		return;
	}
	c->res = res;
	c->limit = h->max_response_size;
	c->too_large = 0;
	c->no_memory = 0;
	c->errbuf[0] = '\0';
	/* The same request may go to several hooks in turn. */
	request_rewind(req);

	rc = post_options(easy, c, h, req, headers);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(easy);
	if (rc == CURLE_OK)
		rc = curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);

	if (rc == CURLE_OK) {
		res->status = status;
	} else if (c->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		result_error(res, HTTP_ERR_TOO_LARGE,
		             "response %s larger than max-response-size (%zu bytes)",
		             c->too_large ? "body" : "Content-Length", c->limit);
	} else if (c->no_memory) {
		result_error(res, HTTP_ERR_OTHER, "out of memory collecting the response");
	} else {
		long os_error = 0;

		/* The OS error stays on a handle from one transfer to the next: it is
		 * only known to be this post's when the connect itself failed. */
		if (rc != CURLE_COULDNT_CONNECT ||
		    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_error) != CURLE_OK)
			os_error = 0;
		result_curl_error(res, c, rc, os_error);
		scrub(res->reason, h->auth_secret, h->auth_secret ? strlen(h->auth_secret) : 0);
		scrub_url_password(res->reason, h->url);
	}
	if (res->error != HTTP_OK)
		buf_reset(&res->body);

	/* Nothing of this post (headers, secrets, buffers) stays with the pooled handle. */
	if (post_forget(easy) == CURLE_OK)
		pool_give(easy);
	else
		curl_easy_cleanup(easy);
	curl_slist_free_all(headers);
	c->res = NULL;
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

/* handle_new - an easy handle with the options every post shares */
static CURL *handle_new(void)
{
	CURLcode rc = CURLE_OK;
	CURL *easy;

	if ((easy = curl_easy_init()) == NULL)
		return NULL;
	HTTP_SETOPT(rc, easy, CURLOPT_SHARE, http_share);
	/* Threads: no SIGALRM for DNS timeouts. */
	HTTP_SETOPT(rc, easy, CURLOPT_NOSIGNAL, 1L);
	HTTP_SETOPT(rc, easy, CURLOPT_VERBOSE, 0L);
	HTTP_SETOPT(rc, easy, CURLOPT_TCP_NODELAY, 1L);
	HTTP_SETOPT(rc, easy, CURLOPT_TCP_KEEPALIVE, 1L);
	HTTP_SETOPT(rc, easy, CURLOPT_PROTOCOLS_STR, "http,https");
	HTTP_SETOPT(rc, easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* A 3xx is an answer like any other non-2xx: the caller treats it as an error. */
	HTTP_SETOPT(rc, easy, CURLOPT_FOLLOWLOCATION, 0L);
	HTTP_SETOPT(rc, easy, CURLOPT_USERAGENT, HTTP_USER_AGENT);
	HTTP_SETOPT(rc, easy, CURLOPT_POST, 1L);
	HTTP_SETOPT(rc, easy, CURLOPT_READFUNCTION, on_read);
	HTTP_SETOPT(rc, easy, CURLOPT_SEEKFUNCTION, on_seek);
	HTTP_SETOPT(rc, easy, CURLOPT_WRITEFUNCTION, on_body);
	if (rc != CURLE_OK) {
		curl_easy_cleanup(easy);
		return NULL;
	}
	return easy;
}

/* pool_take - the most recently returned handle, or a new one */
static CURL *pool_take(void)
{
	CURL *easy = NULL;

	if (pthread_mutex_lock(&http_pool_lock) == 0) {
		if (http_pool_count > 0)
			easy = http_pool[--http_pool_count];
		(void)pthread_mutex_unlock(&http_pool_lock);
	}
	return easy != NULL ? easy : handle_new();
}

/* pool_give - keep a handle and its connections for the next post */
static void pool_give(CURL *easy)
{
	if (pthread_mutex_lock(&http_pool_lock) == 0) {
		if (http_pool_count < HTTP_POOL_MAX) {
			http_pool[http_pool_count++] = easy;
			easy = NULL;
		}
		(void)pthread_mutex_unlock(&http_pool_lock);
	}
	/* More handles than the pool holds were in flight: close the surplus. */
	if (easy != NULL)
		curl_easy_cleanup(easy);
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

/* headers_build - the request's headers: JSON, no 100-continue, the hook's own */
static struct curl_slist *headers_build(const struct hook *h)
{
	struct curl_slist *list = NULL, *next;
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
	for (i = 0; i < h->nheaders; i++) {
		if (h->headers[i] == NULL)
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

/* post_options - the options that change from one post to the next */
static CURLcode post_options(CURL *easy, struct http_client *c, const struct hook *h,
                             struct request *req, struct curl_slist *headers)
{
	CURLcode rc = CURLE_OK;
	size_t len = request_length(req);
	long timeout = h->timeout_ms > 0 ? h->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	long verify = h->allow_invalid_certs ? 0L : 1L;

	if ((uintmax_t)len > (uintmax_t)HTTP_OFF_T_MAX)
		return CURLE_FILESIZE_EXCEEDED;
	HTTP_SETOPT(rc, easy, CURLOPT_ERRORBUFFER, c->errbuf);
	HTTP_SETOPT(rc, easy, CURLOPT_URL, h->url);
	HTTP_SETOPT(rc, easy, CURLOPT_HTTPHEADER, headers);
	HTTP_SETOPT(rc, easy, CURLOPT_READDATA, req);
	HTTP_SETOPT(rc, easy, CURLOPT_SEEKDATA, req);
	HTTP_SETOPT(rc, easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	HTTP_SETOPT(rc, easy, CURLOPT_WRITEDATA, c);
	if (c->progress != NULL) {
		(void)clock_gettime(CLOCK_MONOTONIC, &c->progress_last);
		HTTP_SETOPT(rc, easy, CURLOPT_XFERINFOFUNCTION, on_progress);
		HTTP_SETOPT(rc, easy, CURLOPT_XFERINFODATA, c);
		HTTP_SETOPT(rc, easy, CURLOPT_NOPROGRESS, 0L);
	}
	/* One timeout bounds the whole exchange, connecting included. */
	HTTP_SETOPT(rc, easy, CURLOPT_TIMEOUT_MS, timeout);
	HTTP_SETOPT(rc, easy, CURLOPT_CONNECTTIMEOUT_MS, timeout);
	HTTP_SETOPT(rc, easy, CURLOPT_SSL_VERIFYPEER, verify);
	HTTP_SETOPT(rc, easy, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	/* Refuses an announced Content-Length above the limit before the body comes;
	 * on_body catches the rest. libcurl reads 0 as no limit: on_body then refuses any byte. */
	HTTP_SETOPT(rc, easy, CURLOPT_MAXFILESIZE_LARGE,
	            (curl_off_t)((uintmax_t)h->max_response_size > (uintmax_t)HTTP_OFF_T_MAX
	                             ? HTTP_OFF_T_MAX
	                             : (curl_off_t)h->max_response_size));
	/* Set or cleared on every post: the handle may have served another hook before. */
	HTTP_SETOPT(rc, easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	HTTP_SETOPT(rc, easy, CURLOPT_USERNAME, h->auth_username);
	HTTP_SETOPT(rc, easy, CURLOPT_PASSWORD,
	            h->auth_username == NULL ? NULL
	            : h->auth_secret != NULL ? h->auth_secret
	                                     : "");
	return rc;
}

/* post_forget - drop every pointer and secret of the post just done */
static CURLcode post_forget(CURL *easy)
{
	CURLcode rc = CURLE_OK;

	HTTP_SETOPT(rc, easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	HTTP_SETOPT(rc, easy, CURLOPT_ERRORBUFFER, (char *)NULL);
	HTTP_SETOPT(rc, easy, CURLOPT_READDATA, (void *)NULL);
	HTTP_SETOPT(rc, easy, CURLOPT_SEEKDATA, (void *)NULL);
	HTTP_SETOPT(rc, easy, CURLOPT_WRITEDATA, (void *)NULL);
	HTTP_SETOPT(rc, easy, CURLOPT_NOPROGRESS, 1L);
	HTTP_SETOPT(rc, easy, CURLOPT_XFERINFODATA, (void *)NULL);
	HTTP_SETOPT(rc, easy, CURLOPT_USERNAME, (char *)NULL);
	HTTP_SETOPT(rc, easy, CURLOPT_PASSWORD, (char *)NULL);
	return rc;
}

/* error_kind - the kind of error a libcurl code is */
static enum http_error error_kind(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
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
		result_error(res, error_kind(rc),
		             "connection closed before a complete answer (partial body): %.*s%s",
		             (int)n, detail, osbuf);
	else if (detail == name || strstr(detail, name) != NULL)
		result_error(res, error_kind(rc), "%.*s%s", (int)n, detail, osbuf);
	else
		result_error(res, error_kind(rc), "%.*s (%s)%s", (int)n, detail, name, osbuf);
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
