/*
 * floor - a libmilter filter that does nothing, the benchmark's floor
 *
 * SYNOPSIS
 *	floor-answer-all -p SOCKET
 *	floor-same-events -p SOCKET
 *	floor-forward -p SOCKET -u http://127.0.0.1:PORT/PATH
 *
 * DESCRIPTION
 *	Three builds of this file, the floors tests/bench/run.sh measures the
 *	bridge against. The first two do not look at what they get; each answers
 *	the MTA and nothing more, on libmilter's own thread per connection.
 *
 *	floor-answer-all (built without FLOOR_SAME_EVENTS) is a filter written the
 *	way libmilter's documentation shows: a callback for every event, each
 *	answering SMFIS_CONTINUE, SMFIS_ACCEPT at end of message, and no
 *	negotiate callback, so the MTA sends every event and waits for every
 *	answer.
 *
 *	floor-same-events (built with FLOOR_SAME_EVENTS) negotiates exactly what
 *	src/milter.c's on_negotiate asks for when the only hook is a data hook:
 *	the same actions, the same events skipped (SMFIP_NODATA, SMFIP_NOUNKNOWN),
 *	the same events marked no-reply (SMFIP_NR_CONN, _HELO, _MAIL, _RCPT, _HDR,
 *	_EOH, _BODY, _DATA, _UNKN), the same macro lists (smfi_setsymlist), and
 *	answers SMFIS_NOREPLY wherever the bridge does. It is what the bridge
 *	would cost if its hooks and its bookkeeping cost nothing. If milter.c's
 *	negotiation changes, this copy must follow it.
 *
 *	floor-forward (built with FLOOR_SAME_EVENTS and FLOOR_FORWARD) negotiates
 *	as floor-same-events and does the least any bridge must: it keeps the
 *	message (headers as "Name: value" lines, the empty line, the body), and
 *	at end of message POSTs it as it is (no JSON, no escaping) to the hook
 *	over HTTP/1.1 on a kept-alive connection, waits for the answer, and
 *	answers the MTA: SMFIS_CONTINUE for a 2xx, SMFIS_TEMPFAIL for anything
 *	else, so a failing hook shows as tempfailed messages, never as speed.
 *	Like the bridge's default, it keeps at most FORWARD_CONNS connections
 *	to the hook; a post waits for a free one. It is not what the bridge
 *	should do (the hook wants JSON), but what forwarding alone costs on the
 *	machine: the ceiling of any bridge's ratio to floor-same-events there.
 *
 *	SIGTERM or SIGINT stops it (libmilter's own handling).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#ifdef FLOOR_FORWARD
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define FORWARD_CONNS   8    /* src/http.c's default max-connections */
#define FORWARD_ANSWER  8192 /* the most of an answer it takes (the hook's is 19 bytes) */
#define FORWARD_TIMEOUT 30   /* seconds a connection may stall, as the bridge's timeout */
#endif

#ifdef FLOOR_SAME_EVENTS
#ifdef FLOOR_FORWARD
#define FLOOR_NAME "floor-forward"
#else
#define FLOOR_NAME "floor-same-events"
#endif
/* src/milter.c's ACTIONS_WANTED. */
#define FLOOR_ACTIONS                                                                              \
	(SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_ADDRCPT_PAR |       \
	 SMFIF_DELRCPT | SMFIF_QUARANTINE | SMFIF_CHGFROM | SMFIF_SETSYMLIST)
/* What on_negotiate skips and marks no-reply when the configuration has data hooks only. */
#define FLOOR_SKIP (SMFIP_NODATA | SMFIP_NOUNKNOWN)
#define FLOOR_NR                                                                                   \
	(SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR |            \
	 SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_DATA | SMFIP_NR_UNKN)
#else
#define FLOOR_NAME    "floor-answer-all"
#define FLOOR_ACTIONS 0
#endif

#ifdef FLOOR_SAME_EVENTS
/* What one connection negotiated, as the bridge keeps it in its struct conn. */
struct floor_conn {
	unsigned long noreply;
#ifdef FLOOR_FORWARD
	char *msg; /* the message as it came: header lines, the empty line, the body */
	size_t len, cap;
	int failed; /* out of memory keeping it: the message is tempfailed */
#endif
};

/* src/milter.c's macro_lists, stage by stage. */
static const struct {
	int stage;
	const char *macros;
} macro_lists[] = {
    {SMFIM_CONNECT, "j _ {daemon_name} {daemon_addr} {daemon_port} {if_addr} {client_addr} "
                    "{client_port} {client_ptr} {client_name} {client_connections} i"},
    {SMFIM_HELO, "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer} i"},
    {SMFIM_ENVFROM, "i {auth_authen} {auth_type} {mail_addr} {tls_version} {cipher} "
                    "{cipher_bits} {cert_subject} {cert_issuer}"},
    {SMFIM_ENVRCPT, "i {rcpt_addr}"},
    {SMFIM_DATA, "i"},
    {SMFIM_EOH, "i"},
    {SMFIM_EOM, "i"},
};

#ifdef FLOOR_FORWARD
/* The hook, from -u; its connections: idle ones kept, at most FORWARD_CONNS open. */
static struct sockaddr_in hook_addr;
static char hook_host[80], hook_path[256];
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conns_free = PTHREAD_COND_INITIALIZER;
static int idle_fds[FORWARD_CONNS], nidle, nopen;

/* parse_url - http://A.B.C.D:PORT/PATH into hook_addr, hook_host and hook_path; 0 or -1 */
static int parse_url(const char *url)
{
	char host[64];
	unsigned port;
	int used = 0;

	if (sscanf(url, "http://%63[0-9.]:%u%n", host, &port, &used) != 2 || port == 0 ||
	    port > 65535 || url[used] != '/' || strlen(url + used) >= sizeof(hook_path))
		return -1;
	memset(&hook_addr, 0, sizeof(hook_addr));
	hook_addr.sin_family = AF_INET;
	hook_addr.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &hook_addr.sin_addr) != 1)
		return -1;
	(void)snprintf(hook_host, sizeof(hook_host), "%s:%u", host, port);
	(void)snprintf(hook_path, sizeof(hook_path), "%s", url + used);
	return 0;
}

/* conn_take - an idle connection (*reused set), or a new one once fewer than the limit are
 * open; -1 when connecting fails */
static int conn_take(int *reused)
{
	struct timeval stall = {FORWARD_TIMEOUT, 0};
	int fd, one = 1;

	(void)pthread_mutex_lock(&conns_lock);
	while (nidle == 0 && nopen >= FORWARD_CONNS)
		(void)pthread_cond_wait(&conns_free, &conns_lock);
	if (nidle > 0) {
		fd = idle_fds[--nidle];
		(void)pthread_mutex_unlock(&conns_lock);
		*reused = 1;
		return fd;
	}
	nopen++;
	(void)pthread_mutex_unlock(&conns_lock);
	*reused = 0;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &stall, sizeof(stall)) < 0 ||
	                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stall, sizeof(stall)) < 0 ||
	                connect(fd, (struct sockaddr *)&hook_addr, sizeof(hook_addr)) < 0)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		(void)pthread_mutex_lock(&conns_lock);
		nopen--;
		(void)pthread_cond_signal(&conns_free);
		(void)pthread_mutex_unlock(&conns_lock);
	}
	return fd;
}

/* conn_give - keep a connection that is fine for the next post, or close it */
static void conn_give(int fd, int fine)
{
	(void)pthread_mutex_lock(&conns_lock);
	if (fine)
		idle_fds[nidle++] = fd;
	else
		nopen--;
	(void)pthread_cond_signal(&conns_free);
	(void)pthread_mutex_unlock(&conns_lock);
	if (!fine)
		close(fd);
}

/* keep - append to the message; on failure the message is marked and tempfailed at the end */
static void keep(struct floor_conn *c, const void *data, size_t len)
{
	if (c == NULL || c->failed)
		return;
	if (len > c->cap - c->len) {
		size_t cap = c->cap ? c->cap : 4096;
		char *p;

		while (len > cap - c->len)
			cap *= 2;
		if ((p = realloc(c->msg, cap)) == NULL) {
			c->failed = 1;
			return;
		}
		c->msg = p;
		c->cap = cap;
	}
	memcpy(c->msg + c->len, data, len);
	c->len += len;
}

/* send_all - write the iovecs whole (no SIGPIPE if the hook has gone); 0 or -1 */
static int send_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* read_answer - read one HTTP/1.1 answer with a Content-Length; its status, or -1 */
static int read_answer(int fd)
{
	char buf[FORWARD_ANSWER + 1], *end, *cl;
	size_t have = 0, need;
	int status;

	for (;;) {
		ssize_t r = read(fd, buf + have, FORWARD_ANSWER - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (have == FORWARD_ANSWER)
			return -1;
	}
	if (sscanf(buf, "HTTP/1.1 %3d", &status) != 1)
		return -1;
	/* The hook's answer says how long its body is: nginx's return always does. */
	for (cl = buf; (cl = strchr(cl, '\n')) != NULL && cl < end; cl++)
		if (strncasecmp(cl + 1, "Content-Length:", 15) == 0)
			break;
	if (cl == NULL || cl >= end)
		return -1;
	need = (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10);
	if (need > FORWARD_ANSWER)
		return -1;
	while (have < need) {
		ssize_t r = read(fd, buf + have, need - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		have += (size_t)r;
	}
	return status;
}

/* forward - POST the message to the hook; its HTTP status, or -1. A kept connection the
 * hook closed meanwhile is replaced once, as libcurl does. */
static int forward(const struct floor_conn *c)
{
	char head[512];
	int n, fd, reused, status = -1;

	n = snprintf(head, sizeof(head),
	             "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: message/rfc822\r\n"
	             "Content-Length: %zu\r\n\r\n",
	             hook_path, hook_host, c->len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	for (int attempt = 0; attempt < 2 && status < 0; attempt++) {
		struct iovec iov[2] = {{head, (size_t)n}, {c->msg, c->len}};

		if ((fd = conn_take(&reused)) < 0)
			return -1;
		if (send_all(fd, iov, 2) == 0)
			status = read_answer(fd);
		conn_give(fd, status >= 0);
		if (!reused)
			break;
	}
	return status;
}
#endif

/* answer - SMFIS_NOREPLY where the MTA agreed not to wait, as the bridge's quiet() */
static sfsistat answer(SMFICTX *ctx, unsigned long nr_flag)
{
	struct floor_conn *c = smfi_getpriv(ctx);

	return c && (c->noreply & nr_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* on_negotiate - the bridge's negotiation for a data-only configuration */
static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
	struct floor_conn *c = calloc(1, sizeof(*c));

	(void)f2;
	(void)f3;
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	smfi_setpriv(ctx, c);
	c->noreply = f1 & FLOOR_NR;
	*pf0 = f0 & FLOOR_ACTIONS;
	*pf1 = (f1 & FLOOR_SKIP) | c->noreply;
	*pf2 = 0;
	*pf3 = 0;
	if (f0 & SMFIF_SETSYMLIST)
		for (size_t i = 0; i < sizeof(macro_lists) / sizeof(macro_lists[0]); i++)
			(void)smfi_setsymlist(ctx, macro_lists[i].stage,
			                      (char *)macro_lists[i].macros);
	return SMFIS_CONTINUE;
}
#else
/* answer - every event answered, as libmilter's examples do */
static sfsistat answer(SMFICTX *ctx, unsigned long nr_flag)
{
	(void)ctx;
	(void)nr_flag;
	return SMFIS_CONTINUE;
}
#endif

/* on_connect - nothing to do */
static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)host;
	(void)addr;
	return answer(ctx, SMFIP_NR_CONN);
}

/* on_helo - nothing to do */
static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
	(void)helo;
	return answer(ctx, SMFIP_NR_HELO);
}

/* on_envfrom - nothing to do */
static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
	(void)argv;
	return answer(ctx, SMFIP_NR_MAIL);
}

/* on_envrcpt - nothing to do */
static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)argv;
	return answer(ctx, SMFIP_NR_RCPT);
}

#ifndef FLOOR_SAME_EVENTS
/* on_data - nothing to do (the bridge has no DATA callback: the same-events floor neither) */
static sfsistat on_data(SMFICTX *ctx)
{
	return answer(ctx, SMFIP_NR_DATA);
}

/* on_unknown - nothing to do */
static sfsistat on_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)cmd;
	return answer(ctx, SMFIP_NR_UNKN);
}
#endif

/* on_header - nothing to do (floor-forward: keep it) */
static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
#ifdef FLOOR_FORWARD
	struct floor_conn *c = smfi_getpriv(ctx);

	keep(c, name, strlen(name));
	keep(c, ": ", 2);
	keep(c, value, strlen(value));
	keep(c, "\r\n", 2);
#else
	(void)name;
	(void)value;
#endif
	return answer(ctx, SMFIP_NR_HDR);
}

/* on_eoh - nothing to do (floor-forward: the empty line) */
static sfsistat on_eoh(SMFICTX *ctx)
{
#ifdef FLOOR_FORWARD
	keep(smfi_getpriv(ctx), "\r\n", 2);
#endif
	return answer(ctx, SMFIP_NR_EOH);
}

/* on_body - nothing to do (floor-forward: keep it) */
static sfsistat on_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
#ifdef FLOOR_FORWARD
	keep(smfi_getpriv(ctx), data, len);
#else
	(void)data;
	(void)len;
#endif
	return answer(ctx, SMFIP_NR_BODY);
}

/* on_eom - the message is fine (floor-forward: when the hook says so) */
static sfsistat on_eom(SMFICTX *ctx)
{
#ifdef FLOOR_FORWARD
	struct floor_conn *c = smfi_getpriv(ctx);
	int status = c && !c->failed ? forward(c) : -1;

	if (c != NULL)
		c->len = 0;
	return status >= 200 && status <= 299 ? SMFIS_CONTINUE : SMFIS_TEMPFAIL;
#elif defined(FLOOR_SAME_EVENTS)
	(void)ctx;
	return SMFIS_CONTINUE; /* what the bridge answers when every hook accepted */
#else
	(void)ctx;
	return SMFIS_ACCEPT;
#endif
}

/* on_abort - nothing to do (floor-forward: forget the message) */
static sfsistat on_abort(SMFICTX *ctx)
{
#ifdef FLOOR_FORWARD
	struct floor_conn *c = smfi_getpriv(ctx);

	if (c != NULL) {
		c->len = 0;
		c->failed = 0;
	}
#else
	(void)ctx;
#endif
	return SMFIS_CONTINUE;
}

/* on_close - forget the connection */
static sfsistat on_close(SMFICTX *ctx)
{
#ifdef FLOOR_SAME_EVENTS
	struct floor_conn *c = smfi_getpriv(ctx);

#ifdef FLOOR_FORWARD
	if (c != NULL)
		free(c->msg);
#endif
	free(c);
	smfi_setpriv(ctx, NULL);
#else
	(void)ctx;
#endif
	return SMFIS_CONTINUE;
}

static struct smfiDesc filter = {
    .xxfi_name = FLOOR_NAME,
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = FLOOR_ACTIONS,
    .xxfi_connect = on_connect,
    .xxfi_helo = on_helo,
    .xxfi_envfrom = on_envfrom,
    .xxfi_envrcpt = on_envrcpt,
    .xxfi_header = on_header,
    .xxfi_eoh = on_eoh,
    .xxfi_body = on_body,
    .xxfi_eom = on_eom,
    .xxfi_abort = on_abort,
    .xxfi_close = on_close,
#ifdef FLOOR_SAME_EVENTS
    .xxfi_negotiate = on_negotiate,
#else
    .xxfi_unknown = on_unknown,
    .xxfi_data = on_data,
#endif
};

#ifdef FLOOR_FORWARD
#define FLOOR_USAGE "usage: " FLOOR_NAME " -p SOCKET -u http://A.B.C.D:PORT/PATH\n"
#else
#define FLOOR_USAGE "usage: " FLOOR_NAME " -p SOCKET\n"
#endif

/* main - -p SOCKET (floor-forward: -u URL), then libmilter until SIGTERM */
int main(int argc, char **argv)
{
	const char *sock = NULL, *url = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "p:u:")) != -1) {
		if (ch == 'p')
			sock = optarg;
		else if (ch == 'u')
			url = optarg;
		else {
			fputs(FLOOR_USAGE, stderr);
			return 2;
		}
	}
#ifdef FLOOR_FORWARD
	if (url == NULL || parse_url(url) < 0) {
		fputs(FLOOR_USAGE, stderr);
		return 2;
	}
#else
	if (url != NULL) {
		fputs(FLOOR_USAGE, stderr);
		return 2;
	}
#endif
	if (sock == NULL || optind != argc) {
		fputs(FLOOR_USAGE, stderr);
		return 2;
	}
	if (smfi_setconn((char *)sock) != MI_SUCCESS || smfi_register(filter) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "%s: cannot listen on %s\n", FLOOR_NAME, sock);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
