/*
 * mtabench - the MTA side of the milter protocol, as a load generator
 *
 * SYNOPSIS
 *	mtabench -s SOCKET [-c CONNS] [-m MSGS] [-z SIZE] [-H HEADERS] [-M PER_CONN]
 *	         [-r RCPTS] [-t TIMEOUT_S] [-T LIMIT_S] [-q]
 *
 * DESCRIPTION
 *	Plays Postfix to one milter, with no libmilter on this side: the packets
 *	(a 4-byte big-endian length, a command byte, the data) are written here.
 *	CONNS threads each open a milter connection, as Postfix opens one per
 *	SMTP session, and send PER_CONN messages over it before quitting; then
 *	the thread opens the next, until MSGS messages were sent (or LIMIT_S
 *	seconds passed).
 *
 *	On each connection: SMFIC_OPTNEG for protocol version 6 offering every
 *	action and every protocol flag; the filter's answer is then honoured:
 *	events it negotiated away (SMFIP_NO*) are not sent, events it marked
 *	no-reply (SMFIP_NR_*) are not waited for, and the macro lists it asked
 *	for (SMFIR_SETSYMLIST in its answer) replace Postfix's defaults. Then
 *	connect and HELO, and per message MAIL, RCPT (RCPTS of them), DATA,
 *	HEADERS headers, end of headers, the body in chunks of at most 65535
 *	bytes, and end of message, whose modification packets are counted and
 *	whose final reply decides the message's outcome. Macros go as Postfix
 *	sends them: j, _, {daemon_name}, {daemon_addr}, v at connect, the queue
 *	id i from RCPT on (smtpd_delay_open_until_valid_rcpt), and whatever the
 *	filter asked for that Postfix knows ({client_addr}, {client_port},
 *	{client_ptr}, {client_name}, {client_connections}, {daemon_port},
 *	{mail_addr}, {rcpt_addr}, ...). A message refused before end of message
 *	is followed by SMFIC_ABORT, as Postfix does.
 *
 *	SIZE is the whole message: header lines, the blank line and the body
 *	(CRLF line ends, 76 printable characters a line). Header values fold
 *	with LF, as Postfix passes them.
 *
 *	Latency is measured per message from its first byte to the final reply
 *	at end of message; a connection's first message also carries the
 *	connection set-up (connect, negotiation, connect and HELO events), since
 *	with one message per connection that is what the MTA waits for.
 *
 * OUTPUT
 *	One line of key=value pairs on standard output: msgs (completed),
 *	elapsed_s, msgs_per_s, p50_us, p90_us, p99_us, max_us; the outcomes
 *	accepted, tempfailed, rejected, discarded, errors; the replies read by
 *	kind r_continue, r_accept, r_tempfail, r_reject, r_discard, r_replycode,
 *	r_skip, r_mods, r_progress; replies_per_msg (filter answers waited for,
 *	per message, negotiation excluded); conns (milter connections opened);
 *	proto and actions (as negotiated on the first connection); client_cpu_s
 *	(this program's own CPU time). The first few errors are described on
 *	standard error, unless -q.
 *
 * EXIT STATUS
 *	0 when every message got a reply without a protocol or I/O error (the
 *	replies may still be tempfail or reject: the line says so), 1 on any
 *	error, 2 on a usage error.
 *
 * LIMITS
 *	A reply packet longer than 1 MiB is an error; every read and write is
 *	bounded by TIMEOUT_S (default 30); connections are local or loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Commands the MTA sends (libmilter's mfdef.h calls them SMFIC_*). */
#define CMD_ABORT   'A'
#define CMD_BODY    'B'
#define CMD_CONNECT 'C'
#define CMD_MACRO   'D'
#define CMD_BODYEOB 'E'
#define CMD_HELO    'H'
#define CMD_HEADER  'L'
#define CMD_MAIL    'M'
#define CMD_EOH     'N'
#define CMD_OPTNEG  'O'
#define CMD_QUIT    'Q'
#define CMD_RCPT    'R'
#define CMD_DATA    'T'

/* Replies the filter sends (SMFIR_*). */
#define REP_ADDRCPT     '+'
#define REP_DELRCPT     '-'
#define REP_ADDRCPT_PAR '2'
#define REP_SHUTDOWN    '4'
#define REP_ACCEPT      'a'
#define REP_REPLBODY    'b'
#define REP_CONTINUE    'c'
#define REP_DISCARD     'd'
#define REP_CHGFROM     'e'
#define REP_CONN_FAIL   'f'
#define REP_ADDHEADER   'h'
#define REP_INSHEADER   'i'
#define REP_CHGHEADER   'm'
#define REP_PROGRESS    'p'
#define REP_QUARANTINE  'q'
#define REP_REJECT      'r'
#define REP_SKIP        's'
#define REP_TEMPFAIL    't'
#define REP_REPLYCODE   'y'

/* Protocol flags (SMFIP_*). */
#define P_NOCONNECT   0x00000001UL
#define P_NOHELO      0x00000002UL
#define P_NOMAIL      0x00000004UL
#define P_NORCPT      0x00000008UL
#define P_NOBODY      0x00000010UL
#define P_NOHDRS      0x00000020UL
#define P_NOEOH       0x00000040UL
#define P_NR_HDR      0x00000080UL
#define P_NODATA      0x00000200UL
#define P_SKIP        0x00000400UL
#define P_NR_CONN     0x00001000UL
#define P_NR_HELO     0x00002000UL
#define P_NR_MAIL     0x00004000UL
#define P_NR_RCPT     0x00008000UL
#define P_NR_DATA     0x00010000UL
#define P_NR_EOH      0x00040000UL
#define P_NR_BODY     0x00080000UL
#define P_HDR_LEADSPC 0x00100000UL
/* Everything protocol version 6 defines, offered as a full-featured MTA would. */
#define P_ALL    0x001FFFFFUL
#define ACTS_ALL 0x000001FFUL

#define PROTOCOL_VERSION 6
/* The most body bytes one SMFIC_BODY carries (MILTER_CHUNK_SIZE). */
#define BODY_CHUNK 65535
/* Macro stages of SMFIR_SETSYMLIST, in libmilter's numbering (SMFIM_*). */
#define MACRO_STAGES 7
enum { M_CONNECT, M_HELO, M_ENVFROM, M_ENVRCPT, M_DATA, M_EOM, M_EOH };

/* Bounds: a reply packet, the write buffer before a flush, the reply packets at EOM. */
#define REPLY_MAX      (1024 * 1024)
#define READ_BUF       (REPLY_MAX + 16)
#define WRITE_FLUSH    (256 * 1024)
#define EOM_PACKETS    100000
#define ERRORS_PRINTED 5
#define RCPTS_MAX      1000
#define HEADERS_MAX    10000
#define SIZE_MAX_MSG   ((size_t)1 << 31)

/* What the rest of the run needs to know of the command line. */
struct options {
	const char *socket;
	int conns;
	long msgs;
	size_t size;
	int headers;
	int per_conn;
	int rcpts;
	int timeout_s;
	double limit_s;
	int quiet;
};

/* The filter's answer to one event, or the way a message ended. */
enum verdict { V_CONTINUE, V_ACCEPT, V_TEMPFAIL, V_REJECT, V_DISCARD, V_SKIP, V_ERROR };

/* What one thread counted. */
struct stats {
	long accepted, tempfailed, rejected, discarded, errors;
	long r_continue, r_accept, r_tempfail, r_reject, r_discard, r_replycode, r_skip;
	long r_mods, r_progress, waits, conns;
	uint64_t *lat; /* µs per completed message */
	size_t nlat, caplat;
};

/* One milter connection. */
struct conn {
	int fd;
	unsigned long proto, actions; /* as the filter negotiated them */
	char *symlist[MACRO_STAGES];  /* the filter's macro lists, NULL: Postfix's default */
	char *wbuf;
	size_t wlen, wcap;
	char *rbuf;
	size_t rstart, rend;
	char client_ip[32], client_port[16], qid[32];
	struct stats *st;
};

/* The message every connection sends, built once. */
struct message {
	char **hname, **hvalue; /* HEADERS of them */
	char *body;
	size_t body_len;
};

static struct options opt = {NULL, 16, 1000, 4096, 16, 1, 1, 30, 0, 0};
static struct message msg;
static struct sockaddr_storage target_addr;
static socklen_t target_len;
static atomic_long claimed;
static atomic_long serial;
static atomic_int errors_printed;
static atomic_ulong first_proto, first_actions;
static atomic_int negotiated_once;
static struct timespec deadline;
static int have_deadline;

/* Postfix's default macro lists (postconf milter_*_macros), used when the filter sets none. */
static const char *const default_macros[MACRO_STAGES] = {
    [M_CONNECT] = "j {daemon_name} {daemon_addr} v _",
    [M_HELO] = "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
    [M_ENVFROM] = "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} "
                  "{mail_mailer}",
    [M_ENVRCPT] = "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
    [M_DATA] = "i",
    [M_EOM] = "i",
    [M_EOH] = "i",
};

/* The event command each macro stage belongs to. */
static const char macro_cmd[MACRO_STAGES] = {
    [M_CONNECT] = CMD_CONNECT, [M_HELO] = CMD_HELO, [M_ENVFROM] = CMD_MAIL,
    [M_ENVRCPT] = CMD_RCPT,    [M_DATA] = CMD_DATA, [M_EOM] = CMD_BODYEOB,
    [M_EOH] = CMD_EOH,
};

/* now - the monotonic clock */
static struct timespec now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

/* usec_between - microseconds from a to b */
static uint64_t usec_between(struct timespec a, struct timespec b)
{
	int64_t us = (int64_t)(b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;

	return us > 0 ? (uint64_t)us : 0;
}

/* fail - describe one of the first errors on stderr; always -1 */
static int fail(const char *fmt, ...)
{
	va_list ap;

	if (opt.quiet || atomic_fetch_add(&errors_printed, 1) >= ERRORS_PRINTED)
		return -1;
	va_start(ap, fmt);
	fputs("mtabench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return -1;
}

/* usage - the synopsis, and exit 2 */
static void usage(void)
{
	fprintf(stderr,
	        "usage: mtabench -s SOCKET [-c CONNS] [-m MSGS] [-z SIZE] [-H HEADERS]\n"
	        "                [-M PER_CONN] [-r RCPTS] [-t TIMEOUT_S] [-T LIMIT_S] [-q]\n"
	        "  SOCKET is unix:/path, local:/path, inet:PORT@HOST or inet6:PORT@HOST\n");
	exit(2);
}

/* parse_long - a whole decimal number in [lo, hi], or usage */
static long parse_long(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

/* parse_socket - SOCKET into target_addr; -1 when it is not one we can reach */
static int parse_socket(const char *spec)
{
	const char *rest = strchr(spec, ':');
	struct addrinfo hints, *ai = NULL;
	char port[16], host[256];
	const char *at;
	int rc;

	memset(&target_addr, 0, sizeof(target_addr));
	if (rest == NULL)
		return -1;
	rest++;
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&target_addr;

		if (strlen(rest) >= sizeof(un->sun_path))
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, rest);
		target_len = sizeof(*un);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) != 0 && strncmp(spec, "inet6:", 6) != 0)
		return -1;
	if ((at = strchr(rest, '@')) == NULL || (size_t)(at - rest) >= sizeof(port) ||
	    strlen(at + 1) >= sizeof(host))
		return -1;
	memcpy(port, rest, (size_t)(at - rest));
	port[at - rest] = '\0';
	strcpy(host, at + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = spec[4] == '6' ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0 || ai == NULL)
		return -1;
	memcpy(&target_addr, ai->ai_addr, ai->ai_addrlen);
	target_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* xstrdup - strdup or exit: only used while building the message, before any thread */
static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		perror("mtabench");
		exit(1);
	}
	return p;
}

/* build_message - the headers and body every message carries, SIZE bytes in all */
static void build_message(void)
{
	static const char *const fixed[][2] = {
	    {"From", "Bench Sender <sender@bench.example>"},
	    {"To", "Bench Recipient <rcpt1@bench.example>"},
	    {"Subject", "A message of the milter benchmark"},
	    {"Date", "Mon, 01 Jan 2024 00:00:00 +0000"},
	    {"Message-ID", "<benchmark.1@bench.example>"},
	    {"MIME-Version", "1.0"},
	    {"Content-Type", "text/plain; charset=us-ascii"},
	    {"Received", "from relay.bench.example (relay.bench.example [192.0.2.99])\n\tby "
	                 "mx0.bench.example with ESMTP; Mon, 01 Jan 2024 00:00:00 +0000"},
	};
	static const char line[] = "The quick brown fox jumps over the lazy dog; "
	                           "0123456789 abcdefghijklmnopqrstuvwxyz";
	size_t header_bytes = 0, n = 0;
	char value[128];

	msg.hname = calloc((size_t)opt.headers + 1, sizeof(char *));
	msg.hvalue = calloc((size_t)opt.headers + 1, sizeof(char *));
	if (msg.hname == NULL || msg.hvalue == NULL) {
		perror("mtabench");
		exit(1);
	}
	for (int i = 0; i < opt.headers; i++) {
		if ((size_t)i < sizeof(fixed) / sizeof(fixed[0])) {
			msg.hname[i] = xstrdup(fixed[i][0]);
			msg.hvalue[i] = xstrdup(fixed[i][1]);
		} else {
			snprintf(value, sizeof(value), "filler header %d of the milter benchmark",
			         i + 1);
			msg.hname[i] = xstrdup("X-Bench-Filler");
			msg.hvalue[i] = xstrdup(value);
		}
		/* "Name: value\r\n" on the wire; the LF of a fold becomes CRLF there too. */
		header_bytes += strlen(msg.hname[i]) + 2 + strlen(msg.hvalue[i]) + 2;
		for (const char *p = msg.hvalue[i]; *p; p++)
			header_bytes += *p == '\n';
	}
	msg.body_len = opt.size > header_bytes + 2 ? opt.size - header_bytes - 2 : 0;
	if ((msg.body = malloc(msg.body_len + 1)) == NULL) {
		perror("mtabench");
		exit(1);
	}
	/* Lines of 76 characters and CRLF; the last one may be shorter. */
	while (n < msg.body_len) {
		size_t left = msg.body_len - n;

		if (left <= 2) {
			memcpy(msg.body + n, "\r\n", left);
			n += left;
			break;
		}
		size_t take = left - 2 < 76 ? left - 2 : 76;
		for (size_t i = 0; i < take; i++)
			msg.body[n + i] = line[(n / 78 + i) % (sizeof(line) - 1)];
		n += take;
		memcpy(msg.body + n, "\r\n", 2);
		n += 2;
	}
}

/* put_u32 - a 32-bit big-endian number at p */
static void put_u32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

/* get_u32 - the 32-bit big-endian number at p */
static uint32_t get_u32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

/* wreserve - room for n more bytes in the write buffer; -1 when too large */
static int wreserve(struct conn *c, size_t n)
{
	size_t cap = c->wcap;
	char *p;

	if (n > SIZE_MAX / 4 - c->wlen)
		return fail("packet too large");
	if (c->wlen + n <= c->wcap)
		return 0;
	while (cap < c->wlen + n)
		cap = cap ? cap * 2 : 4096;
	if ((p = realloc(c->wbuf, cap)) == NULL)
		return fail("out of memory");
	c->wbuf = p;
	c->wcap = cap;
	return 0;
}

/* flush - write the buffered packets */
static int flush(struct conn *c)
{
	size_t off = 0;

	while (off < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + off, c->wlen - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail("write: %s", n < 0 ? strerror(errno) : "nothing written");
		off += (size_t)n;
	}
	c->wlen = 0;
	return 0;
}

/* pkt_begin - start a packet of command cmd; returns where its length goes, or -1 */
static long pkt_begin(struct conn *c, char cmd)
{
	long at;

	if (c->wlen >= WRITE_FLUSH && flush(c) < 0)
		return -1;
	if (wreserve(c, 5) < 0)
		return -1;
	at = (long)c->wlen;
	c->wlen += 4;
	c->wbuf[c->wlen++] = cmd;
	return at;
}

/* pkt_put - append n bytes to the packet being built */
static int pkt_put(struct conn *c, const void *p, size_t n)
{
	if (wreserve(c, n) < 0)
		return -1;
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += n;
	return 0;
}

/* pkt_str - append a string and its NUL */
static int pkt_str(struct conn *c, const char *s)
{
	return pkt_put(c, s, strlen(s) + 1);
}

/* pkt_end - write the length of the packet started at at */
static int pkt_end(struct conn *c, long at)
{
	size_t len = c->wlen - (size_t)at - 4;

	if (len > UINT32_MAX)
		return fail("packet too large");
	put_u32(c->wbuf + at, (uint32_t)len);
	return 0;
}

/* read_packet - the next packet from the filter: *cmd, *data (in the read buffer), *len */
static int read_packet(struct conn *c, char *cmd, char **data, size_t *len)
{
	size_t need = 4;
	uint32_t plen = 0;

	for (int pass = 0; pass < 2; pass++) {
		while (c->rend - c->rstart < need) {
			ssize_t n;

			if (c->rstart > 0 && c->rend + need - (c->rend - c->rstart) > READ_BUF) {
				memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
				c->rend -= c->rstart;
				c->rstart = 0;
			}
			n = recv(c->fd, c->rbuf + c->rend, READ_BUF - c->rend, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				return fail("the filter closed the connection");
			if (n < 0)
				return fail("read: %s", errno == EAGAIN || errno == EWOULDBLOCK
				                            ? "timed out"
				                            : strerror(errno));
			c->rend += (size_t)n;
		}
		if (pass == 0) {
			plen = get_u32(c->rbuf + c->rstart);
			if (plen == 0 || plen > REPLY_MAX)
				return fail("bad reply length %" PRIu32, plen);
			need = 4 + (size_t)plen;
		}
	}
	*cmd = c->rbuf[c->rstart + 4];
	*data = c->rbuf + c->rstart + 5;
	*len = plen - 1;
	c->rstart += 4 + (size_t)plen;
	if (c->rstart == c->rend)
		c->rstart = c->rend = 0;
	return 0;
}

/* await_reply - read the filter's answer to the event just sent; at_eom allows modifications */
static int await_reply(struct conn *c, int at_eom, enum verdict *v)
{
	struct stats *st = c->st;
	char cmd, *data;
	size_t len;

	if (flush(c) < 0)
		return -1;
	st->waits++;
	for (int i = 0; i < EOM_PACKETS; i++) {
		if (read_packet(c, &cmd, &data, &len) < 0)
			return -1;
		switch (cmd) {
		case REP_CONTINUE:
			st->r_continue++;
			*v = V_CONTINUE;
			return 0;
		case REP_ACCEPT:
			st->r_accept++;
			*v = V_ACCEPT;
			return 0;
		case REP_TEMPFAIL:
		case REP_SHUTDOWN:
		case REP_CONN_FAIL:
			st->r_tempfail++;
			*v = V_TEMPFAIL;
			return 0;
		case REP_REJECT:
			st->r_reject++;
			*v = V_REJECT;
			return 0;
		case REP_DISCARD:
			st->r_discard++;
			*v = V_DISCARD;
			return 0;
		case REP_SKIP:
			st->r_skip++;
			*v = V_SKIP;
			return 0;
		case REP_REPLYCODE:
			st->r_replycode++;
			if (len < 1 || (data[0] != '4' && data[0] != '5'))
				return fail("reply code that is neither 4xx nor 5xx");
			*v = data[0] == '4' ? V_TEMPFAIL : V_REJECT;
			return 0;
		case REP_PROGRESS:
			st->r_progress++;
			continue;
		case REP_ADDRCPT:
		case REP_DELRCPT:
		case REP_ADDRCPT_PAR:
		case REP_REPLBODY:
		case REP_CHGFROM:
		case REP_ADDHEADER:
		case REP_INSHEADER:
		case REP_CHGHEADER:
		case REP_QUARANTINE:
			if (!at_eom)
				return fail("modification '%c' before end of message", cmd);
			st->r_mods++;
			continue;
		default:
			return fail("unexpected reply '%c' (0x%02x)", cmd, (unsigned char)cmd);
		}
	}
	return fail("more than %d packets at end of message", EOM_PACKETS);
}

/* event - finish an event's packet; wait for the answer unless the filter set nr_flag */
static int event(struct conn *c, long at, unsigned long nr_flag, enum verdict *v)
{
	*v = V_CONTINUE;
	if (at < 0 || pkt_end(c, at) < 0)
		return -1;
	if (nr_flag != 0 && (c->proto & nr_flag))
		return 0;
	return await_reply(c, nr_flag == 0, v);
}

/* macro_value - what Postfix would give for a macro name (without braces), NULL: unknown */
static const char *macro_value(const struct conn *c, const char *name, int stage)
{
	static const char *const fixed[][2] = {
	    {"j", "mx.bench.example"},
	    {"_", "client.bench.example [192.0.2.10]"},
	    {"v", "Postfix 3.7.11"},
	    {"daemon_name", "smtpd"},
	    {"daemon_addr", "127.0.0.1"},
	    {"daemon_port", "25"},
	    {"client_ptr", "client.bench.example"},
	    {"client_name", "client.bench.example"},
	    {"client_connections", "1"},
	    {"mail_addr", "sender@bench.example"},
	    {"mail_host", "bench.example"},
	    {"mail_mailer", "smtp"},
	    {"rcpt_addr", "rcpt1@bench.example"},
	    {"rcpt_host", "bench.example"},
	    {"rcpt_mailer", "smtp"},
	};

	if (strcmp(name, "client_addr") == 0)
		return c->client_ip;
	if (strcmp(name, "client_port") == 0)
		return c->client_port;
	/* Postfix opens the queue file once a recipient is accepted: no queue id before. */
	if (strcmp(name, "i") == 0)
		return stage == M_CONNECT || stage == M_HELO || stage == M_ENVFROM ? NULL : c->qid;
	if ((strncmp(name, "mail_", 5) == 0 && stage < M_ENVFROM) ||
	    (strncmp(name, "rcpt_", 5) == 0 && stage < M_ENVRCPT))
		return NULL;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(fixed[i][0], name) == 0)
			return fixed[i][1];
	return NULL; /* no TLS, no SASL: Postfix sends nothing for those */
}

/* send_macros - the SMFIC_MACRO packet of a stage: the names asked for that have a value */
static int send_macros(struct conn *c, int stage)
{
	const char *list = c->symlist[stage] ? c->symlist[stage] : default_macros[stage];
	char name[64], key[64];
	size_t before = c->wlen;
	int any = 0;
	long at;

	if ((at = pkt_begin(c, CMD_MACRO)) < 0)
		return -1;
	before = (size_t)at;
	if (pkt_put(c, &macro_cmd[stage], 1) < 0)
		return -1;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, " ,");
		const char *value;

		if (n > 0 && n < sizeof(name)) {
			memcpy(name, p, n);
			name[n] = '\0';
			/* "{name}" and "name" are the same macro. */
			if (n > 2 && name[0] == '{' && name[n - 1] == '}') {
				memcpy(key, name + 1, n - 2);
				key[n - 2] = '\0';
			} else {
				memcpy(key, name, n + 1);
			}
			if ((value = macro_value(c, key, stage)) != NULL) {
				if (pkt_str(c, name) < 0 || pkt_str(c, value) < 0)
					return -1;
				any = 1;
			}
		}
		p += n;
		p += strspn(p, " ,");
	}
	if (!any) {
		c->wlen = before; /* nothing to define: no packet, as Postfix */
		return 0;
	}
	return pkt_end(c, at);
}

/* negotiate - SMFIC_OPTNEG offering everything; keep what the filter chose */
static int negotiate(struct conn *c)
{
	char opts[12], cmd, *data;
	size_t len, off;
	long at;

	put_u32(opts, PROTOCOL_VERSION);
	put_u32(opts + 4, ACTS_ALL);
	put_u32(opts + 8, P_ALL);
	if ((at = pkt_begin(c, CMD_OPTNEG)) < 0 || pkt_put(c, opts, sizeof(opts)) < 0 ||
	    pkt_end(c, at) < 0 || flush(c) < 0 || read_packet(c, &cmd, &data, &len) < 0)
		return -1;
	if (cmd != CMD_OPTNEG || len < 12)
		return fail("negotiation answered with '%c'", cmd);
	if (get_u32(data) < 2 || get_u32(data) > PROTOCOL_VERSION)
		return fail("filter protocol version %" PRIu32, get_u32(data));
	c->actions = get_u32(data + 4);
	c->proto = get_u32(data + 8);
	if ((c->actions & ~ACTS_ALL) || (c->proto & ~P_ALL))
		return fail("filter asked for what was not offered");
	/* Then macro lists: a 32-bit stage and a NUL-terminated list, repeated. */
	for (off = 12; off < len;) {
		uint32_t stage;
		const char *list;
		size_t n;

		if (len - off < 5)
			return fail("truncated macro list in negotiation");
		stage = get_u32(data + off);
		list = data + off + 4;
		n = strnlen(list, len - off - 4);
		if (n == len - off - 4 || stage >= MACRO_STAGES)
			return fail("bad macro list in negotiation");
		free(c->symlist[stage]);
		if ((c->symlist[stage] = strdup(list)) == NULL)
			return fail("out of memory");
		off += 4 + n + 1;
	}
	if (!atomic_exchange(&negotiated_once, 1)) {
		atomic_store(&first_proto, c->proto);
		atomic_store(&first_actions, c->actions);
	}
	return 0;
}

/* session_start - connect, HELO; *v what the filter said of the whole session */
static int session_start(struct conn *c, enum verdict *v)
{
	char family = '4';
	unsigned char port[2];
	unsigned p = (unsigned)strtoul(c->client_port, NULL, 10);
	long at;

	*v = V_CONTINUE;
	if (!(c->proto & P_NOCONNECT)) {
		port[0] = (unsigned char)(p >> 8);
		port[1] = (unsigned char)p;
		if (send_macros(c, M_CONNECT) < 0 || (at = pkt_begin(c, CMD_CONNECT)) < 0 ||
		    pkt_str(c, "client.bench.example") < 0 || pkt_put(c, &family, 1) < 0 ||
		    pkt_put(c, port, 2) < 0 || pkt_str(c, c->client_ip) < 0 ||
		    event(c, at, P_NR_CONN, v) < 0)
			return -1;
		if (*v != V_CONTINUE)
			return 0;
	}
	if (!(c->proto & P_NOHELO)) {
		if (send_macros(c, M_HELO) < 0 || (at = pkt_begin(c, CMD_HELO)) < 0 ||
		    pkt_str(c, "client.bench.example") < 0 || event(c, at, P_NR_HELO, v) < 0)
			return -1;
	}
	return 0;
}

/* send_body - the body in chunks; stops early when the filter says skip */
static int send_body(struct conn *c, enum verdict *v)
{
	*v = V_CONTINUE;
	for (size_t off = 0; off < msg.body_len;) {
		size_t n = msg.body_len - off < BODY_CHUNK ? msg.body_len - off : BODY_CHUNK;
		long at;

		if ((at = pkt_begin(c, CMD_BODY)) < 0 || pkt_put(c, msg.body + off, n) < 0 ||
		    event(c, at, P_NR_BODY, v) < 0)
			return -1;
		off += n;
		if (*v == V_SKIP) {
			*v = V_CONTINUE;
			return 0;
		}
		if (*v != V_CONTINUE)
			return 0;
	}
	return 0;
}

/* send_headers - every header, with a leading space when the filter asked for one */
static int send_headers(struct conn *c, enum verdict *v)
{
	*v = V_CONTINUE;
	for (int i = 0; i < opt.headers; i++) {
		long at;

		if ((at = pkt_begin(c, CMD_HEADER)) < 0 || pkt_str(c, msg.hname[i]) < 0 ||
		    ((c->proto & P_HDR_LEADSPC) && pkt_put(c, " ", 1) < 0) ||
		    pkt_str(c, msg.hvalue[i]) < 0 || event(c, at, P_NR_HDR, v) < 0)
			return -1;
		if (*v != V_CONTINUE)
			return 0;
	}
	return 0;
}

/* message - one transaction from MAIL to end of message; the outcome in *v */
static int message(struct conn *c, enum verdict *v)
{
	char size_arg[40], rcpt[64];
	long at;

	snprintf(c->qid, sizeof(c->qid), "4B%08lXQ", (unsigned long)atomic_fetch_add(&serial, 1));
	snprintf(size_arg, sizeof(size_arg), "SIZE=%zu", opt.size);
	*v = V_CONTINUE;
	if (!(c->proto & P_NOMAIL)) {
		if (send_macros(c, M_ENVFROM) < 0 || (at = pkt_begin(c, CMD_MAIL)) < 0 ||
		    pkt_str(c, "<sender@bench.example>") < 0 || pkt_str(c, size_arg) < 0 ||
		    event(c, at, P_NR_MAIL, v) < 0)
			return -1;
		if (*v != V_CONTINUE)
			goto early;
	}
	if (!(c->proto & P_NORCPT)) {
		int taken = 0;

		for (int i = 0; i < opt.rcpts; i++) {
			snprintf(rcpt, sizeof(rcpt), "<rcpt%d@bench.example>", i + 1);
			if (send_macros(c, M_ENVRCPT) < 0 || (at = pkt_begin(c, CMD_RCPT)) < 0 ||
			    pkt_str(c, rcpt) < 0 || event(c, at, P_NR_RCPT, v) < 0)
				return -1;
			/* A refused recipient is dropped; the message goes on with the others. */
			if (*v == V_CONTINUE)
				taken++;
			else if (*v != V_REJECT && *v != V_TEMPFAIL)
				goto early;
		}
		if (taken == 0)
			goto early;
		*v = V_CONTINUE;
	}
	if (!(c->proto & P_NODATA)) {
		if (send_macros(c, M_DATA) < 0 || (at = pkt_begin(c, CMD_DATA)) < 0 ||
		    event(c, at, P_NR_DATA, v) < 0)
			return -1;
		if (*v != V_CONTINUE)
			goto early;
	}
	if (!(c->proto & P_NOHDRS)) {
		if (send_headers(c, v) < 0)
			return -1;
		if (*v != V_CONTINUE)
			goto early;
	}
	if (!(c->proto & P_NOEOH)) {
		if (send_macros(c, M_EOH) < 0 || (at = pkt_begin(c, CMD_EOH)) < 0 ||
		    event(c, at, P_NR_EOH, v) < 0)
			return -1;
		if (*v != V_CONTINUE)
			goto early;
	}
	if (!(c->proto & P_NOBODY)) {
		if (send_body(c, v) < 0)
			return -1;
		if (*v != V_CONTINUE)
			goto early;
	}
	if (send_macros(c, M_EOM) < 0 || (at = pkt_begin(c, CMD_BODYEOB)) < 0 ||
	    event(c, at, 0, v) < 0)
		return -1;
	if (*v == V_CONTINUE)
		*v = V_ACCEPT;
	return 0;
early:
	/* Refused, accepted or discarded before its end: Postfix aborts the milter's copy. */
	if ((at = pkt_begin(c, CMD_ABORT)) < 0 || pkt_end(c, at) < 0)
		return -1;
	if (*v == V_CONTINUE)
		*v = V_ACCEPT;
	return 0;
}

/* count - add a message's outcome and latency to the thread's stats */
static void count(struct stats *st, enum verdict v, struct timespec start)
{
	switch (v) {
	case V_ACCEPT:
	case V_CONTINUE:
	case V_SKIP:
		st->accepted++;
		break;
	case V_TEMPFAIL:
		st->tempfailed++;
		break;
	case V_REJECT:
		st->rejected++;
		break;
	case V_DISCARD:
		st->discarded++;
		break;
	case V_ERROR:
		st->errors++;
		return;
	}
	if (st->nlat == st->caplat) {
		size_t cap = st->caplat ? st->caplat * 2 : 1024;
		uint64_t *p = realloc(st->lat, cap * sizeof(*p));

		if (p == NULL)
			return; /* the latency is lost, the count is not */
		st->lat = p;
		st->caplat = cap;
	}
	st->lat[st->nlat++] = usec_between(start, now());
}

/* open_conn - a connected socket with both directions bounded by the timeout */
static int open_conn(struct conn *c)
{
	struct timeval tv = {opt.timeout_s, 0};
	int one = 1;

	if ((c->fd = socket(target_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return fail("socket: %s", strerror(errno));
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return fail("setsockopt: %s", strerror(errno));
	if (target_addr.ss_family != AF_UNIX)
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&target_addr, target_len) < 0)
		return fail("connect %s: %s", opt.socket, strerror(errno));
	return 0;
}

/* close_conn - say QUIT when the connection is sound, close, forget the negotiation */
static void close_conn(struct conn *c, int sound)
{
	long at;

	if (sound && c->fd >= 0 && (at = pkt_begin(c, CMD_QUIT)) >= 0 && pkt_end(c, at) == 0)
		(void)flush(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->wlen = 0;
	c->rstart = c->rend = 0;
	for (int i = 0; i < MACRO_STAGES; i++) {
		free(c->symlist[i]);
		c->symlist[i] = NULL;
	}
}

/* claim - up to want messages of the total for the next connection; 0 when done */
static long claim(long want)
{
	long first;

	if (have_deadline) {
		struct timespec t = now();

		if (t.tv_sec > deadline.tv_sec ||
		    (t.tv_sec == deadline.tv_sec && t.tv_nsec >= deadline.tv_nsec))
			return 0;
	}
	first = atomic_fetch_add(&claimed, want);
	if (first >= opt.msgs)
		return 0;
	return first + want > opt.msgs ? opt.msgs - first : want;
}

/* run_conn - one milter connection carrying n messages */
static void run_conn(struct conn *c, long n, unsigned id)
{
	struct timespec start = now();
	enum verdict session = V_CONTINUE, v;
	long done = 0;

	c->st->conns++;
	snprintf(c->client_ip, sizeof(c->client_ip), "192.0.2.%u", 1 + id % 250);
	snprintf(c->client_port, sizeof(c->client_port), "%u", 1024 + id % 60000);
	if (open_conn(c) < 0 || negotiate(c) < 0 || session_start(c, &session) < 0)
		goto broken;
	for (; done < n; done++) {
		if (done > 0)
			start = now();
		if (session != V_CONTINUE) {
			/* Decided for the whole session at connect or HELO. */
			count(c->st, session, start);
			continue;
		}
		if (message(c, &v) < 0)
			goto broken;
		count(c->st, v, start);
	}
	close_conn(c, 1);
	return;
broken:
	c->st->errors += n - done;
	close_conn(c, 0);
}

/* worker - one thread: connections one after another until the messages are claimed */
static void *worker(void *arg)
{
	struct stats *st = arg;
	struct conn c;
	long n;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.st = st;
	if ((c.rbuf = malloc(READ_BUF)) == NULL) {
		fail("out of memory");
		return NULL;
	}
	while ((n = claim(opt.per_conn)) > 0)
		run_conn(&c, n, (unsigned)atomic_fetch_add(&serial, 1));
	free(c.rbuf);
	free(c.wbuf);
	return NULL;
}

/* cmp_u64 - qsort order for latencies */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* percentile - the nearest-rank percentile q (0..1) of sorted values */
static uint64_t percentile(const uint64_t *v, size_t n, double q)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	return v[(rank > n ? n : rank) - 1];
}

/* report - merge the threads' stats and print the one line */
static int report(struct stats *st, int n, double elapsed)
{
	struct stats t;
	struct rusage ru;
	size_t k = 0, total = 0;
	uint64_t *all;
	long msgs;
	double cpu = 0;

	memset(&t, 0, sizeof(t));
	for (int i = 0; i < n; i++) {
		t.accepted += st[i].accepted;
		t.tempfailed += st[i].tempfailed;
		t.rejected += st[i].rejected;
		t.discarded += st[i].discarded;
		t.errors += st[i].errors;
		t.r_continue += st[i].r_continue;
		t.r_accept += st[i].r_accept;
		t.r_tempfail += st[i].r_tempfail;
		t.r_reject += st[i].r_reject;
		t.r_discard += st[i].r_discard;
		t.r_replycode += st[i].r_replycode;
		t.r_skip += st[i].r_skip;
		t.r_mods += st[i].r_mods;
		t.r_progress += st[i].r_progress;
		t.waits += st[i].waits;
		t.conns += st[i].conns;
		total += st[i].nlat;
	}
	if ((all = malloc((total ? total : 1) * sizeof(*all))) == NULL)
		return fail("out of memory");
	for (int i = 0; i < n; i++) {
		if (st[i].nlat)
			memcpy(all + k, st[i].lat, st[i].nlat * sizeof(*all));
		k += st[i].nlat;
	}
	qsort(all, total, sizeof(*all), cmp_u64);
	msgs = t.accepted + t.tempfailed + t.rejected + t.discarded;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("msgs=%ld elapsed_s=%.3f msgs_per_s=%.1f p50_us=%" PRIu64 " p90_us=%" PRIu64
	       " p99_us=%" PRIu64 " max_us=%" PRIu64 " accepted=%ld tempfailed=%ld rejected=%ld"
	       " discarded=%ld errors=%ld r_continue=%ld r_accept=%ld r_tempfail=%ld"
	       " r_reject=%ld r_discard=%ld r_replycode=%ld r_skip=%ld r_mods=%ld"
	       " r_progress=%ld replies_per_msg=%.2f conns=%ld proto=0x%lx actions=0x%lx"
	       " size=%zu headers=%d per_conn=%d threads=%d client_cpu_s=%.3f\n",
	       msgs, elapsed, elapsed > 0 ? (double)msgs / elapsed : 0.0,
	       percentile(all, total, 0.50), percentile(all, total, 0.90),
	       percentile(all, total, 0.99), total ? all[total - 1] : 0, t.accepted, t.tempfailed,
	       t.rejected, t.discarded, t.errors, t.r_continue, t.r_accept, t.r_tempfail,
	       t.r_reject, t.r_discard, t.r_replycode, t.r_skip, t.r_mods, t.r_progress,
	       msgs ? (double)t.waits / (double)msgs : 0.0, t.conns,
	       (unsigned long)atomic_load(&first_proto), (unsigned long)atomic_load(&first_actions),
	       opt.size, opt.headers, opt.per_conn, opt.conns, cpu);
	free(all);
	return t.errors == 0 && msgs > 0 ? 0 : -1;
}

/* main - options, the message, the threads, the line */
int main(int argc, char **argv)
{
	struct stats *st;
	pthread_t *threads;
	struct timespec t0;
	int ch, started = 0;

	while ((ch = getopt(argc, argv, "s:c:m:z:H:M:r:t:T:qh")) != -1) {
		switch (ch) {
		case 's':
			opt.socket = optarg;
			break;
		case 'c':
			opt.conns = (int)parse_long(optarg, 1, 4096);
			break;
		case 'm':
			opt.msgs = parse_long(optarg, 1, LONG_MAX / 2);
			break;
		case 'z':
			opt.size = (size_t)parse_long(optarg, 0, (long)SIZE_MAX_MSG);
			break;
		case 'H':
			opt.headers = (int)parse_long(optarg, 0, HEADERS_MAX);
			break;
		case 'M':
			opt.per_conn = (int)parse_long(optarg, 1, 1000000);
			break;
		case 'r':
			opt.rcpts = (int)parse_long(optarg, 1, RCPTS_MAX);
			break;
		case 't':
			opt.timeout_s = (int)parse_long(optarg, 1, 3600);
			break;
		case 'T':
			opt.limit_s = (double)parse_long(optarg, 1, 86400);
			break;
		case 'q':
			opt.quiet = 1;
			break;
		default:
			usage();
		}
	}
	if (opt.socket == NULL || optind != argc)
		usage();
	if (parse_socket(opt.socket) < 0) {
		fprintf(stderr, "mtabench: cannot use socket \"%s\"\n", opt.socket);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	build_message();
	st = calloc((size_t)opt.conns, sizeof(*st));
	threads = calloc((size_t)opt.conns, sizeof(*threads));
	if (st == NULL || threads == NULL) {
		perror("mtabench");
		return 1;
	}
	t0 = now();
	if (opt.limit_s > 0) {
		deadline = t0;
		deadline.tv_sec += (time_t)opt.limit_s;
		have_deadline = 1;
	}
	for (int i = 0; i < opt.conns; i++) {
		if (pthread_create(&threads[i], NULL, worker, &st[i]) != 0) {
			fail("cannot start thread %d", i + 1);
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	if (report(st, started, (double)usec_between(t0, now()) / 1e6) < 0)
		return 1;
	return 0;
}
