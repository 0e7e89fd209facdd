/*
 * metrics_server.c - serve /metrics with libmicrohttpd (see include/metrics.h)
 *
 * Apart from metrics.c so that only the daemon links libmicrohttpd: the unit tests and the
 * fuzz targets count and render without it.
 */
#ifdef HAVE_CONFIG_H
#include "build-config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"

#define METRICS_PATH         "/metrics"
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_BACKLOG      16
#define METRICS_CONNECTIONS  16       /* scrapers at once: Prometheus uses one */
#define METRICS_TIMEOUT_S    10       /* an idle scraper connection is closed after this */
#define METRICS_RENDER_MAX   16777216 /* bytes of one scrape: far above any real one */

static int listen_fd = -1;
static int listen_family;
static char listen_shown[64]; /* what the log lines call it */
static struct MHD_Daemon *daemon_handle;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **state);
static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *text,
                              const char *allow);
static void on_mhd_error(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* metrics_open - bind and listen on [metrics] listen, before detaching; 0 or -1 logged */
int metrics_open(const char *address)
{
	char host[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned port;
	int one = 1, fd;

	if (address == NULL)
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (config_metrics_address(address, host, sizeof(host), &listen_family, &port) < 0) {
		log_msg(LOG_ERR, "[metrics] listen: invalid address \"%s\"", address);
		return -1;
	}
	if (listen_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		(void)inet_pton(AF_INET, host, &sin->sin_addr);
		sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		(void)inet_pton(AF_INET6, host, &sin6->sin6_addr);
		sslen = sizeof(*sin6);
	}
	(void)snprintf(listen_shown, sizeof(listen_shown), "%s", address);
	if ((fd = socket(listen_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_msg(LOG_ERR, "[metrics] listen %s: socket: %s", address, strerror(errno));
		return -1;
	}
	/* A restart must not wait for the old scrape connections' TIME_WAIT. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::] means IPv6 only, as written; 0.0.0.0 is there for IPv4. */
	if (listen_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, METRICS_BACKLOG) < 0) {
		log_msg(LOG_ERR, "[metrics] listen %s: cannot listen: %s", address,
		        strerror(errno));
		close(fd);
		return -1;
	}
	listen_fd = fd;
	return 0;
}

/* metrics_start - serve /metrics from a thread, after detaching; 0 or -1 logged */
int metrics_start(void)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (listen_fd < 0)
		return 0;
	if (listen_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The thread inherits main's mask: SIGHUP, SIGTERM and SIGINT stay blocked in it. */
	/* The logger first: libmicrohttpd logs the options after it through it. */
	daemon_handle = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)METRICS_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)METRICS_TIMEOUT_S, MHD_OPTION_END);
	if (daemon_handle == NULL) {
		log_msg(LOG_ERR, "[metrics] listen %s: cannot start the metrics server",
		        listen_shown);
		return -1;
	}
	log_msg(LOG_NOTICE, "metrics on http://%s%s", listen_shown, METRICS_PATH);
	return 0;
}

/* metrics_stop - stop serving and close the socket; nothing opened: nothing done */
void metrics_stop(void)
{
	if (daemon_handle != NULL) {
		/* Waits for the thread; a scrape in progress ends with it. */
		MHD_stop_daemon(daemon_handle);
		daemon_handle = NULL;
	}
	/* libmicrohttpd does not close a socket handed to it. */
	if (listen_fd >= 0) {
		close(listen_fd);
		listen_fd = -1;
	}
}

/*
 * on_request - libmicrohttpd's handler: GET or HEAD /metrics renders, anything else is
 * refused at the first call, before any body a client sends is read
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **state)
{
	struct buf out = BUF_INIT(METRICS_RENDER_MAX);
	struct MHD_Response *res;
	enum MHD_Result rc;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)state;
	if (strcmp(url, METRICS_PATH) != 0)
		return answer(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n",
		              NULL);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
		              "GET, HEAD");
	if (metrics_render(&out) < 0) {
		buf_free(&out);
		return answer(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	}
	/* The rendering's own memory goes to libmicrohttpd, which frees it once sent. */
	res = MHD_create_response_from_buffer(out.len, out.data ? out.data : (void *)"",
	                                      out.data ? MHD_RESPMEM_MUST_FREE
	                                               : MHD_RESPMEM_PERSISTENT);
	if (res == NULL) {
		buf_free(&out);
		return MHD_NO;
	}
	if (MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE) ==
	    MHD_NO) {
		MHD_destroy_response(res);
		return MHD_NO;
	}
	rc = MHD_queue_response(conn, MHD_HTTP_OK, res);
	MHD_destroy_response(res);
	return rc;
}

/* answer - a short plain-text answer with status, and an Allow header when allow is set */
static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *text,
                              const char *allow)
{
	struct MHD_Response *res =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (res == NULL)
		return MHD_NO;
	if (MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE,
	                            "text/plain; charset=utf-8") == MHD_NO ||
	    (allow != NULL &&
	     MHD_add_response_header(res, MHD_HTTP_HEADER_ALLOW, allow) == MHD_NO)) {
		MHD_destroy_response(res);
		return MHD_NO;
	}
	rc = MHD_queue_response(conn, status, res);
	MHD_destroy_response(res);
	return rc;
}

/* on_mhd_error - libmicrohttpd's own complaints, as one warning line each */
static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
		return;
	/* Its messages end with a newline; ours do not. */
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_msg(LOG_WARNING, "metrics server: %s", line);
}
