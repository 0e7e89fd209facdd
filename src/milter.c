/* milter.c - libmilter callbacks, negotiation, applying outcomes (see include/milter.h) */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "config.h"
#include "hooks.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "session.h"

/* Longest reply libmilter takes in smfi_setmlreply, and a body chunk for smfi_replacebody. */
#define REPLY_LINES_MAX 32
#define BODY_CHUNK      65535
/* How long a stopping daemon waits for open sessions to finish. */
#define SHUTDOWN_WAIT_SECONDS 30
/* ... and how long none of them may have done anything before it stops waiting for them. */
#define SHUTDOWN_IDLE_MS 1000
/*
 * How often a slow data hook makes us tell the MTA we are still working (smfi_progress):
 * each notice restarts Postfix's milter_content_timeout (MTA-NOTES.md).
 */
#define PROGRESS_INTERVAL_MS 2000

/* What one MTA connection carries besides its session. */
struct conn {
	struct session *session;
	struct http_client *http;
	unsigned long actions; /* SMFIF_* the MTA lets us use */
	unsigned long noreply; /* SMFIP_NR_* the MTA agreed to: those events get SMFIS_NOREPLY */
	int counted;           /* session_ip_enter was called */
	int too_big;           /* the message passed max-message-size */
	SMFICTX *eom_ctx;      /* set while the data hooks run: progress goes to it */
};

static atomic_int open_sessions;
/*
 * For the shutdown wait: hook calls in progress, and when (CLOCK_MONOTONIC ms) a callback
 * last started or a hook call last ended. Once smfi_main has returned, libmilter (built
 * with its pool of workers, as Debian's is) reads no more commands from a session that is
 * between commands, so its QUIT, and on_close, may never come: such a session is waited for
 * only until nothing has happened for SHUTDOWN_IDLE_MS, which also lets libmilter write the
 * reply of a callback that has just returned.
 */
static atomic_int busy_calls;
static atomic_llong last_activity_ms;

static long long mono_ms(void);
static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3);
static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr);
static sfsistat on_helo(SMFICTX *ctx, char *helo);
static sfsistat on_envfrom(SMFICTX *ctx, char **argv);
static sfsistat on_envrcpt(SMFICTX *ctx, char **argv);
static sfsistat on_header(SMFICTX *ctx, char *name, char *value);
static sfsistat on_eoh(SMFICTX *ctx);
static sfsistat on_body(SMFICTX *ctx, unsigned char *data, size_t len);
static sfsistat on_eom(SMFICTX *ctx);
static sfsistat on_abort(SMFICTX *ctx);
static sfsistat on_close(SMFICTX *ctx);

/* Every action the bridge may take at end of message; negotiation keeps what the MTA offers. */
#define ACTIONS_WANTED                                                                             \
	(SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_ADDRCPT_PAR |       \
	 SMFIF_DELRCPT | SMFIF_QUARANTINE | SMFIF_CHGFROM | SMFIF_SETSYMLIST)

static struct smfiDesc filter = {
    .xxfi_name = "mtahooks-milter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = ACTIONS_WANTED,
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
    .xxfi_negotiate = on_negotiate,
};

/*
 * The macros each stage needs for PROTOCOL.md section 2, asked for at negotiation so that the
 * MTA sends them without extra configuration. Sendmail picks the end-of-message list by the
 * end-of-header flag, so the EOH list is set too (MTA-NOTES.md).
 */
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

/* conn_of - the connection state libmilter keeps for us */
static struct conn *conn_of(SMFICTX *ctx)
{
	atomic_store_explicit(&last_activity_ms, mono_ms(), memory_order_relaxed);
	return smfi_getpriv(ctx);
}

/* mono_ms - CLOCK_MONOTONIC in milliseconds */
static long long mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* macro - a macro's value, NULL when the MTA did not send it or sent it empty */
static const char *macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *)name);

	return v && *v ? v : NULL;
}

/* quiet - the answer to an event whose reply the MTA agreed not to wait for */
static sfsistat quiet(const struct conn *c, unsigned long nr_flag)
{
	return (c->noreply & nr_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* xtext_decode - undo RFC 3461 xtext ("+20" for a space) in place, as Sendmail sends DNs */
static void xtext_decode(char *s)
{
	char *out = s;

	for (const char *in = s; *in; in++) {
		if (in[0] == '+' && isxdigit((unsigned char)in[1]) &&
		    isxdigit((unsigned char)in[2])) {
			char hex[3] = {in[1], in[2], '\0'};
			unsigned v = (unsigned)strtoul(hex, NULL, 16);

			if (v != 0) {
				*out++ = (char)v;
				in += 2;
				continue;
			}
		}
		*out++ = *in;
	}
	*out = '\0';
}

/* set_macro - copy a macro into a session field when the MTA sent it */
static void set_macro(SMFICTX *ctx, const char *name, char **field)
{
	const char *v = macro(ctx, name);

	if (v && session_set(field, v) < 0)
		log_msg(LOG_ERR, "out of memory keeping macro %s", name);
}

/* set_address_macro - copy an address macro, written as the client's address is:
 * Sendmail gives IPv6 addresses as "IPv6:0:0:0:0:0:0:0:1", Postfix as "::1" */
static void set_address_macro(SMFICTX *ctx, const char *name, char **field)
{
	const char *v = macro(ctx, name);
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN];

	if (v == NULL)
		return;
	if (strncasecmp(v, "IPv6:", 5) == 0)
		v += 5;
	if (inet_pton(AF_INET6, v, &a6) == 1 && inet_ntop(AF_INET6, &a6, text, sizeof(text)))
		v = text;
	if (session_set(field, v) < 0)
		log_msg(LOG_ERR, "out of memory keeping macro %s", name);
}

/* read_tls_macros - the TLS facts, which arrive after STARTTLS at HELO and MAIL */
static void read_tls_macros(SMFICTX *ctx, struct session *s)
{
	const char *bits = macro(ctx, "{cipher_bits}");

	if (!macro(ctx, "{tls_version}") && !macro(ctx, "{cipher}"))
		return;
	s->tls = 1;
	set_macro(ctx, "{tls_version}", &s->tls_version);
	set_macro(ctx, "{cipher}", &s->tls_cipher);
	if (bits) {
		char *end;
		long v = strtol(bits, &end, 10);

		if (end != bits && *end == '\0' && v >= 0)
			s->tls_cipher_bits = v;
	}
	set_macro(ctx, "{cert_subject}", &s->tls_cert_subject);
	set_macro(ctx, "{cert_issuer}", &s->tls_cert_issuer);
	if (s->tls_cert_subject)
		xtext_decode(s->tls_cert_subject);
	if (s->tls_cert_issuer)
		xtext_decode(s->tls_cert_issuer);
}

/* read_queue_id - the queue id as the MTA gives it at this stage */
static void read_queue_id(SMFICTX *ctx, struct session *s)
{
	set_macro(ctx, "i", &s->queue_id);
}

/* escape_percent - double every '%' for smfi_setreply, which treats the text as a format */
static char *escape_percent(const char *line, size_t len)
{
	size_t extra = 0;
	char *out, *p;

	for (size_t i = 0; i < len; i++)
		extra += line[i] == '%';
	if ((out = malloc(len + extra + 1)) == NULL)
		return NULL;
	p = out;
	for (size_t i = 0; i < len; i++) {
		*p++ = line[i];
		if (line[i] == '%')
			*p++ = '%';
	}
	*p = '\0';
	return out;
}

/* set_reply - hand the outcome's SMTP reply to the MTA, one line or several */
static void set_reply(SMFICTX *ctx, const struct session *s, const struct outcome *o)
{
	char code[8], *lines[REPLY_LINES_MAX + 1] = {0};
	const char *text = o->text ? o->text : "";
	const char *xcode = o->enhanced[0] ? o->enhanced : NULL;
	size_t n = 0;
	int rc;

	snprintf(code, sizeof(code), "%d", o->status);
	/* Split on LF, dropping a CR before it; the last line may lack a terminator. */
	for (const char *p = text; n < REPLY_LINES_MAX;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len && p[len - 1] == '\r')
			len--;
		if ((lines[n++] = escape_percent(p, len)) == NULL)
			goto out;
		if (!nl || nl[1] == '\0')
			break;
		p = nl + 1;
	}
	if (n <= 1)
		rc = smfi_setreply(ctx, code, (char *)xcode, lines[0][0] ? lines[0] : NULL);
	else
		rc = smfi_setmlreply(
		    ctx, code, xcode, lines[0], lines[1], lines[2], lines[3], lines[4], lines[5],
		    lines[6], lines[7], lines[8], lines[9], lines[10], lines[11], lines[12],
		    lines[13], lines[14], lines[15], lines[16], lines[17], lines[18], lines[19],
		    lines[20], lines[21], lines[22], lines[23], lines[24], lines[25], lines[26],
		    lines[27], lines[28], lines[29], lines[30], lines[31], (char *)NULL);
	if (rc != MI_SUCCESS)
		log_msg(LOG_WARNING,
		        "session=%lu qid=%s the MTA refused reply %s %s; it uses its own", s->id,
		        session_qid(s), code, xcode ? xcode : "");
out:
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
}

/* to_status - turn an outcome into the libmilter answer, setting the reply text */
static sfsistat to_status(SMFICTX *ctx, struct conn *c, struct outcome *o)
{
	sfsistat r;

	switch (o->kind) {
	case OUTCOME_REJECT:
	case OUTCOME_TEMPFAIL:
		if (o->status)
			set_reply(ctx, c->session, o);
		r = o->kind == OUTCOME_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
		break;
	case OUTCOME_DISCARD:
		r = SMFIS_DISCARD;
		break;
	default:
		r = SMFIS_CONTINUE;
	}
	outcome_free(o);
	return r;
}

/* keep_mta_waiting - a progress notice, so a slow data hook does not time the MTA out */
static void keep_mta_waiting(void *arg)
{
	struct conn *c = arg;

	if (c->eom_ctx && smfi_progress(c->eom_ctx) != MI_SUCCESS)
		log_msg(LOG_WARNING, "session=%lu qid=%s cannot send a progress notice to the MTA",
		        c->session->id, session_qid(c->session));
}

/* post - the transport hooks.c calls: our session's HTTP client */
static void post(void *ctx, const struct hook *h, struct request *req, struct http_result *res)
{
	struct conn *c = ctx;

	if (c->http == NULL && (c->http = http_client_new()) == NULL) {
		res->error = HTTP_ERR_OTHER;
		snprintf(res->reason, sizeof(res->reason), "out of memory creating an HTTP client");
		return;
	}
	http_set_progress(c->http, c->eom_ctx ? keep_mta_waiting : NULL, c, PROGRESS_INTERVAL_MS);
	http_post(c->http, h, req, res);
}

/* run_stage - call the hooks of a stage and turn their outcome into the libmilter answer */
static sfsistat run_stage(SMFICTX *ctx, struct conn *c, enum stage stage, unsigned long nr_flag)
{
	struct transport t = {post, c, NULL};
	struct outcome o = {0};

	if (!(c->session->config->stages & STAGE_BIT(stage)))
		return quiet(c, nr_flag);
	atomic_fetch_add(&busy_calls, 1);
	hooks_run_stage(c->session, stage, &t, &o);
	atomic_store_explicit(&last_activity_ms, mono_ms(), memory_order_relaxed);
	atomic_fetch_sub(&busy_calls, 1);
	return to_status(ctx, c, &o);
}

/* on_negotiate - take the configuration, and tell the MTA what to send and what to skip */
static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
	struct config *cfg = config_current();
	struct conn *c = NULL;
	unsigned st, want_skip = 0, want_nr = 0;

	if (cfg == NULL || (c = calloc(1, sizeof(*c))) == NULL ||
	    (c->session = session_new(cfg)) == NULL) {
		log_msg(LOG_ERR, "cannot start a session: %s",
		        cfg ? "out of memory" : "no configuration loaded");
		free(c);
		config_unref(cfg);
		return SMFIS_TEMPFAIL;
	}
	config_unref(cfg); /* the session holds its own reference */
	atomic_fetch_add(&open_sessions, 1);
	metrics_session_begin();
	smfi_setpriv(ctx, c);
	st = c->session->config->stages;

	/*
	 * What no hook needs is not sent at all; what is needed only to fill later requests
	 * (connect, HELO, MAIL, RCPT) is sent without waiting for our reply. Headers and body
	 * never need a reply: a decision about them is made at end of message.
	 */
	if (st == 0)
		want_skip |= SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT;
	if (!(st & (STAGE_BIT(STAGE_MAIL) | STAGE_BIT(STAGE_RCPT) | STAGE_BIT(STAGE_DATA))))
		want_skip |= SMFIP_NOMAIL;
	if (!(st & (STAGE_BIT(STAGE_RCPT) | STAGE_BIT(STAGE_DATA))))
		want_skip |= SMFIP_NORCPT;
	if (!(st & STAGE_BIT(STAGE_DATA)))
		want_skip |= SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY;
	want_skip |= SMFIP_NODATA | SMFIP_NOUNKNOWN;
	if (!(st & STAGE_BIT(STAGE_CONNECT)))
		want_nr |= SMFIP_NR_CONN;
	if (!(st & STAGE_BIT(STAGE_EHLO)))
		want_nr |= SMFIP_NR_HELO;
	if (!(st & STAGE_BIT(STAGE_MAIL)))
		want_nr |= SMFIP_NR_MAIL;
	if (!(st & STAGE_BIT(STAGE_RCPT)))
		want_nr |= SMFIP_NR_RCPT;
	want_nr |= SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_DATA | SMFIP_NR_UNKN;

	c->actions = f0 & ACTIONS_WANTED;
	c->noreply = f1 & want_nr;
	*pf0 = c->actions;
	*pf1 = (f1 & want_skip) | c->noreply;
	*pf2 = 0;
	*pf3 = 0;
	if (c->actions & SMFIF_SETSYMLIST)
		for (size_t i = 0; i < sizeof(macro_lists) / sizeof(macro_lists[0]); i++)
			if (smfi_setsymlist(ctx, macro_lists[i].stage,
			                    (char *)macro_lists[i].macros) != MI_SUCCESS)
				log_msg(LOG_WARNING, "the MTA refused our macro list for stage %d",
				        macro_lists[i].stage);
	log_msg(LOG_DEBUG, "session=%lu negotiated actions=0x%lx protocol=0x%lx", c->session->id,
	        *pf0, *pf1);
	(void)f2;
	(void)f3;
	return SMFIS_CONTINUE;
}

/* client_address - the client's IP and port from the connect callback's socket address */
static void client_address(struct session *s, const _SOCK_ADDR *addr)
{
	char ip[INET6_ADDRSTRLEN] = "";

	s->client_port = 0;
	if (addr && addr->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)addr;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		s->client_port = ntohs(in->sin_port);
	} else if (addr && addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)addr;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		s->client_port = ntohs(in6->sin6_port);
	}
	session_set(&s->client_ip, ip);
}

/* is_ptr_name - whether a host name the MTA gives is a real PTR name */
static int is_ptr_name(const char *name)
{
	return name && *name && name[0] != '[' && strcmp(name, "unknown") != 0;
}

/* on_connect - who connected, to what; then the connect hooks */
static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr)
{
	struct conn *c = conn_of(ctx);
	struct session *s;
	const char *ptr, *port, *conns;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	s = c->session;
	client_address(s, addr);
	ptr = is_ptr_name(hostname) ? hostname : macro(ctx, "{client_ptr}");
	if (!is_ptr_name(ptr))
		ptr = macro(ctx, "{client_name}");
	session_set(&s->client_ptr, is_ptr_name(ptr) ? ptr : NULL);

	if (session_set_server_name(s, macro(ctx, "j")) < 0)
		log_msg(LOG_ERR, "out of memory keeping the server name");
	set_address_macro(ctx, "{daemon_addr}", &s->server_ip);
	if (s->server_ip == NULL)
		set_address_macro(ctx, "{if_addr}", &s->server_ip);
	if ((port = macro(ctx, "{daemon_port}")) != NULL) {
		char *end;
		unsigned long v = strtoul(port, &end, 10);

		if (*end == '\0' && v <= 65535)
			s->server_port = (unsigned)v;
	}
	set_macro(ctx, "{daemon_name}", &s->listener);
	read_queue_id(ctx, s);

	s->active_connections = session_ip_enter(s->client_ip);
	c->counted = 1;
	if ((conns = macro(ctx, "{client_connections}")) != NULL) {
		unsigned long v = strtoul(conns, NULL, 10);

		if (v > s->active_connections && v < 1000000)
			s->active_connections = (unsigned)v;
	}
	log_msg(LOG_DEBUG, "session=%lu connect from %s[%s]:%u", s->id,
	        s->client_ptr ? s->client_ptr : "unknown", s->client_ip, s->client_port);
	return run_stage(ctx, c, STAGE_CONNECT, SMFIP_NR_CONN);
}

/* on_helo - remember the HELO name (and TLS, after STARTTLS); then the ehlo hooks */
static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
	struct conn *c = conn_of(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	session_set(&c->session->helo, helo);
	read_tls_macros(ctx, c->session);
	read_queue_id(ctx, c->session);
	return run_stage(ctx, c, STAGE_EHLO, SMFIP_NR_HELO);
}

/*
 * message_done - forget the message and what hooks decided for it; the next one gets a
 * new queue id from the MTA, so the old one must not stand in its requests
 */
static void message_done(struct conn *c)
{
	session_end_message(c->session);
	session_set(&c->session->queue_id, NULL);
	c->too_big = 0;
}

/* on_envfrom - a new transaction: the sender and the SASL facts; then the mail hooks */
static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_of(ctx);
	struct session *s;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	s = c->session;
	if (s->has_from)
		message_done(c);
	read_queue_id(ctx, s);
	read_tls_macros(ctx, s);
	set_macro(ctx, "{auth_authen}", &s->sasl_login);
	set_macro(ctx, "{auth_type}", &s->sasl_method);
	if (session_set_from(s, argv) < 0) {
		log_msg(LOG_ERR, "session=%lu qid=%s out of memory at MAIL FROM", s->id,
		        session_qid(s));
		return SMFIS_TEMPFAIL;
	}
	/* A discard decided at connect or HELO ends every message as soon as we may say so. */
	if (s->discard_session && !(c->noreply & SMFIP_NR_MAIL))
		return SMFIS_DISCARD;
	if (s->discard_session)
		return SMFIS_NOREPLY;
	return run_stage(ctx, c, STAGE_MAIL, SMFIP_NR_MAIL);
}

/* on_envrcpt - one more recipient; then the rcpt hooks (which drop it if they reject it) */
static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_of(ctx);
	struct session *s;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	s = c->session;
	read_queue_id(ctx, s);
	if (session_add_rcpt(s, argv) < 0) {
		log_msg(LOG_ERR, "session=%lu qid=%s out of memory at RCPT TO", s->id,
		        session_qid(s));
		return SMFIS_TEMPFAIL;
	}
	if (s->discard_session)
		return quiet(c, SMFIP_NR_RCPT);
	return run_stage(ctx, c, STAGE_RCPT, SMFIP_NR_RCPT);
}

/* on_header - collect one header for the data hooks */
static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = conn_of(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	if (!c->too_big && session_add_header(c->session, name, value ? value : "") < 0) {
		if (errno == EFBIG)
			log_msg(LOG_WARNING,
			        "session=%lu qid=%s message larger than max-message-size "
			        "(%zu bytes)",
			        c->session->id, session_qid(c->session),
			        c->session->config->max_message_size);
		else
			log_msg(LOG_ERR, "session=%lu qid=%s cannot keep header %s: %s",
			        c->session->id, session_qid(c->session), name, strerror(errno));
		c->too_big = errno == EFBIG ? 1 : 2;
	}
	return quiet(c, SMFIP_NR_HDR);
}

/* on_eoh - nothing to do until the body has arrived */
static sfsistat on_eoh(SMFICTX *ctx)
{
	struct conn *c = conn_of(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	read_queue_id(ctx, c->session);
	return quiet(c, SMFIP_NR_EOH);
}

/* on_body - collect a body chunk, up to max-message-size */
static sfsistat on_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	struct conn *c = conn_of(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	if (!c->too_big && session_append_body(c->session, data, len) < 0) {
		if (errno == EFBIG)
			log_msg(LOG_WARNING,
			        "session=%lu qid=%s message larger than max-message-size "
			        "(%zu bytes)",
			        c->session->id, session_qid(c->session),
			        c->session->config->max_message_size);
		else
			log_msg(LOG_ERR, "session=%lu qid=%s out of memory collecting the body",
			        c->session->id, session_qid(c->session));
		c->too_big = errno == EFBIG ? 1 : 2;
	}
	return quiet(c, SMFIP_NR_BODY);
}

/* mod_action - the negotiated action flag a modification needs */
static unsigned long mod_action(const struct modification *m)
{
	switch (m->type) {
	case MOD_CHANGE_FROM:
		return SMFIF_CHGFROM;
	case MOD_ADD_RCPT:
		return m->params ? SMFIF_ADDRCPT_PAR : SMFIF_ADDRCPT;
	case MOD_DELETE_RCPT:
		return SMFIF_DELRCPT;
	case MOD_REPLACE_CONTENTS:
		return SMFIF_CHGBODY;
	case MOD_ADD_HEADER:
	case MOD_INSERT_HEADER:
		return SMFIF_ADDHDRS;
	default:
		return SMFIF_CHGHDRS;
	}
}

/* bracketed - an address in <>, as the MTAs take it in envelope changes */
static char *bracketed(const char *addr)
{
	size_t len = strlen(addr);
	char *out;

	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>')
		return strdup(addr);
	if ((out = malloc(len + 3)) == NULL)
		return NULL;
	out[0] = '<';
	memcpy(out + 1, addr, len);
	out[len + 1] = '>';
	out[len + 2] = '\0';
	return out;
}

/* unfold_crlf - CRLF folding to LF, which both MTAs expect from a milter (MTA-NOTES.md) */
static char *unfold_crlf(const char *value)
{
	char *out = strdup(value), *p = out;

	if (out == NULL)
		return NULL;
	for (const char *q = value; *q; q++)
		if (!(q[0] == '\r' && q[1] == '\n'))
			*p++ = *q;
	*p = '\0';
	return out;
}

/* replace_body - send a new body in chunks, line ends made CRLF as milter bodies are */
static int replace_body(SMFICTX *ctx, const struct modification *m)
{
	unsigned char chunk[BODY_CHUNK + 1];
	size_t n = 0;

	if (m->value_len == 0)
		return smfi_replacebody(ctx, (unsigned char *)"", 0);
	for (size_t i = 0; i < m->value_len; i++) {
		char ch = m->value[i];

		if (ch == '\n' && (i == 0 || m->value[i - 1] != '\r'))
			chunk[n++] = '\r';
		chunk[n++] = (unsigned char)ch;
		if (n >= BODY_CHUNK - 1) {
			if (smfi_replacebody(ctx, chunk, (int)n) != MI_SUCCESS)
				return MI_FAILURE;
			n = 0;
		}
	}
	return n ? smfi_replacebody(ctx, chunk, (int)n) : MI_SUCCESS;
}

/* apply_one - one modification through its libmilter call */
static int apply_one(SMFICTX *ctx, const struct modification *m)
{
	char *v = NULL;
	int rc = MI_FAILURE;
	int index = m->index == 0 ? 1 : (int)m->index;

	switch (m->type) {
	case MOD_CHANGE_FROM:
		if ((v = bracketed(m->value)) != NULL)
			rc = smfi_chgfrom(ctx, v, m->params);
		break;
	case MOD_ADD_RCPT:
		if ((v = bracketed(m->value)) != NULL)
			rc = m->params ? smfi_addrcpt_par(ctx, v, m->params) : smfi_addrcpt(ctx, v);
		break;
	case MOD_DELETE_RCPT:
		if ((v = bracketed(m->value)) != NULL)
			rc = smfi_delrcpt(ctx, v);
		break;
	case MOD_REPLACE_CONTENTS:
		rc = replace_body(ctx, m);
		break;
	case MOD_ADD_HEADER:
		if ((v = unfold_crlf(m->value)) != NULL)
			rc = smfi_addheader(ctx, m->name, v);
		break;
	case MOD_INSERT_HEADER:
		if ((v = unfold_crlf(m->value)) != NULL)
			rc = smfi_insheader(ctx, (int)m->index, m->name, v);
		break;
	case MOD_CHANGE_HEADER:
		if ((v = unfold_crlf(m->value)) != NULL)
			rc = smfi_chgheader(ctx, m->name, index, v);
		break;
	case MOD_DELETE_HEADER:
		rc = smfi_chgheader(ctx, m->name, index, NULL);
		break;
	}
	free(v);
	return rc;
}

/*
 * apply_decisions - the modifications and quarantine gathered for this message, in the order
 * session_next_mod gives (received order, only the last replaceContents). Every needed action
 * is checked against what the MTA allowed before the first call,
 * so a message is never half-modified by our choice; if the MTA fails a call midway we answer
 * tempfail, and the MTA then keeps none of it.
 */
static sfsistat apply_decisions(SMFICTX *ctx, struct conn *c)
{
	struct session *s = c->session;
	const struct modification *m;
	const char *reason = session_quarantine_reason(s);
	size_t applied = 0, pos = 0;

	while ((m = session_next_mod(s, &pos)) != NULL)
		if (!(c->actions & mod_action(m))) {
			log_msg(LOG_ERR,
			        "session=%lu qid=%s the MTA does not allow a hook's "
			        "modification (action 0x%lx): message tempfailed",
			        s->id, session_qid(s), mod_action(m));
			goto fail;
		}
	if (reason && !(c->actions & SMFIF_QUARANTINE)) {
		log_msg(LOG_ERR,
		        "session=%lu qid=%s the MTA does not allow quarantine: message "
		        "tempfailed",
		        s->id, session_qid(s));
		goto fail;
	}
	pos = 0;
	while ((m = session_next_mod(s, &pos)) != NULL) {
		if (apply_one(ctx, m) != MI_SUCCESS) {
			log_msg(LOG_ERR,
			        "session=%lu qid=%s the MTA refused modification %zu "
			        "(%s): message tempfailed",
			        s->id, session_qid(s), applied + 1,
			        m->name ? m->name : "envelope/body");
			goto fail;
		}
		applied++;
	}
	if (reason && smfi_quarantine(ctx, (char *)reason) != MI_SUCCESS) {
		log_msg(LOG_ERR,
		        "session=%lu qid=%s the MTA refused quarantine: message tempfailed", s->id,
		        session_qid(s));
		goto fail;
	}
	log_msg(LOG_INFO, "session=%lu qid=%s accepted, %zu modification(s)%s%s", s->id,
	        session_qid(s), applied, reason ? ", quarantined: " : "", reason ? reason : "");
	return SMFIS_CONTINUE;
fail:
	smfi_setreply(ctx, "451", "4.3.5", "Unable to accept message at this time.");
	return SMFIS_TEMPFAIL;
}

/* on_eom - the data hooks, then what all hooks decided for this message */
static sfsistat on_eom(SMFICTX *ctx)
{
	struct conn *c = conn_of(ctx);
	struct session *s;
	sfsistat r;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	s = c->session;
	read_queue_id(ctx, s);
	if (s->discard_session) {
		r = SMFIS_DISCARD;
	} else if (c->too_big == 1) {
		smfi_setreply(ctx, "552", "5.3.4", "Message too big for the content filter");
		r = SMFIS_REJECT;
	} else if (c->too_big) {
		smfi_setreply(ctx, "451", "4.3.0", "Unable to accept message at this time.");
		r = SMFIS_TEMPFAIL;
	} else {
		c->eom_ctx = ctx;
		r = run_stage(ctx, c, STAGE_DATA, 0);
		c->eom_ctx = NULL;
		if (r == SMFIS_CONTINUE)
			r = apply_decisions(ctx, c);
	}
	metrics_message(r == SMFIS_DISCARD    ? METRICS_MSG_DISCARD
	                : r == SMFIS_REJECT   ? METRICS_MSG_REJECT
	                : r == SMFIS_TEMPFAIL ? METRICS_MSG_TEMPFAIL
	                : s->quarantine_message != NULL || s->quarantine_session != NULL
	                    ? METRICS_MSG_QUARANTINE
	                    : METRICS_MSG_ACCEPT);
	message_done(c);
	return r;
}

/* on_abort - the MTA gave up on this message: forget it and what hooks decided for it */
static sfsistat on_abort(SMFICTX *ctx)
{
	struct conn *c = conn_of(ctx);

	if (c)
		message_done(c);
	return SMFIS_CONTINUE;
}

/* on_close - the connection ended: free everything it held */
static sfsistat on_close(SMFICTX *ctx)
{
	struct conn *c = conn_of(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	smfi_setpriv(ctx, NULL);
	if (c->counted)
		session_ip_leave(c->session->client_ip);
	log_msg(LOG_DEBUG, "session=%lu closed", c->session->id);
	session_free(c->session);
	http_client_free(c->http);
	free(c);
	atomic_fetch_sub(&open_sessions, 1);
	metrics_session_end();
	return SMFIS_CONTINUE;
}

/* milter_open - register the filter and open the socket */
int milter_open(const char *listen)
{
	if (smfi_register(filter) != MI_SUCCESS) {
		log_msg(LOG_ERR, "smfi_register failed (libmilter too old?)");
		return -1;
	}
	if (smfi_setconn((char *)listen) != MI_SUCCESS) {
		log_msg(LOG_ERR, "invalid listen socket \"%s\"", listen);
		return -1;
	}
	if (smfi_opensocket(1) != MI_SUCCESS) {
		log_msg(LOG_ERR, "cannot open listen socket \"%s\"", listen);
		return -1;
	}
	return 0;
}

/* milter_run - serve until stopped; wait for open sessions */
int milter_run(void)
{
	int rc = smfi_main();
	int left;

	for (int i = 0; i < SHUTDOWN_WAIT_SECONDS * 10 && (left = atomic_load(&open_sessions)) > 0;
	     i++) {
		struct timespec tick = {0, 100 * 1000 * 1000};

		if (i == 0)
			log_msg(LOG_NOTICE, "stopping: waiting for %d open session(s)", left);
		if (atomic_load(&busy_calls) == 0 &&
		    mono_ms() - atomic_load(&last_activity_ms) >= SHUTDOWN_IDLE_MS) {
			log_msg(LOG_NOTICE,
			        "stopping: %d open session(s) idle, no hook call in progress",
			        left);
			return rc == MI_SUCCESS ? 0 : -1;
		}
		nanosleep(&tick, NULL);
	}
	if ((left = atomic_load(&open_sessions)) > 0)
		log_msg(LOG_WARNING, "stopping with %d session(s) still open", left);
	return rc == MI_SUCCESS ? 0 : -1;
}
