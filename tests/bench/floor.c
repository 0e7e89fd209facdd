/*
 * floor - a libmilter filter that does nothing, the benchmark's floor
 *
 * SYNOPSIS
 *	floor-answer-all -p SOCKET
 *	floor-same-events -p SOCKET
 *
 * DESCRIPTION
 *	Two builds of this file, the two floors tests/bench/run.sh measures the
 *	bridge against. Neither looks at what it gets; each answers the MTA and
 *	nothing more, on libmilter's own thread per connection.
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
 *	SIGTERM or SIGINT stops it (libmilter's own handling).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#ifdef FLOOR_SAME_EVENTS
#define FLOOR_NAME "floor-same-events"
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

/* on_header - nothing to do */
static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	(void)name;
	(void)value;
	return answer(ctx, SMFIP_NR_HDR);
}

/* on_eoh - nothing to do */
static sfsistat on_eoh(SMFICTX *ctx)
{
	return answer(ctx, SMFIP_NR_EOH);
}

/* on_body - nothing to do */
static sfsistat on_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	(void)data;
	(void)len;
	return answer(ctx, SMFIP_NR_BODY);
}

/* on_eom - the message is fine */
static sfsistat on_eom(SMFICTX *ctx)
{
	(void)ctx;
#ifdef FLOOR_SAME_EVENTS
	return SMFIS_CONTINUE; /* what the bridge answers when every hook accepted */
#else
	return SMFIS_ACCEPT;
#endif
}

/* on_abort - nothing to do */
static sfsistat on_abort(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* on_close - forget the connection */
static sfsistat on_close(SMFICTX *ctx)
{
#ifdef FLOOR_SAME_EVENTS
	free(smfi_getpriv(ctx));
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

/* main - -p SOCKET, then libmilter until SIGTERM */
int main(int argc, char **argv)
{
	const char *sock = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "p:")) != -1) {
		if (ch != 'p') {
			fprintf(stderr, "usage: %s -p SOCKET\n", FLOOR_NAME);
			return 2;
		}
		sock = optarg;
	}
	if (sock == NULL || optind != argc) {
		fprintf(stderr, "usage: %s -p SOCKET\n", FLOOR_NAME);
		return 2;
	}
	if (smfi_setconn((char *)sock) != MI_SUCCESS || smfi_register(filter) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "%s: cannot listen on %s\n", FLOOR_NAME, sock);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
