/* dryrun.c - play a message file through the hooks without an MTA (see include/dryrun.h) */
#ifdef HAVE_CONFIG_H
#include "build-config.h" /* _GNU_SOURCE, before any system header */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "buf.h"
#include "dryrun.h"
#include "hooks.h"
#include "http.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "session.h"

/* What the text output shows of a long answer, and of a request's message.contents. */
#define SHOW_ANSWER_MAX   16384
#define SHOW_CONTENTS_MAX 2048
/* What a dry run plays when not told otherwise: a local client that says HELO localhost. */
#define DEFAULT_CLIENT_IP "127.0.0.1"
#define DEFAULT_HELO      "localhost"
/* The most ESMTP words one --from or --rcpt may carry (the address and its parameters). */
#define ARGS_MAX 32
/* The pretty-printing of every JSON the dry run writes. */
#define JSON_FLAGS                                                                                 \
	(JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

/* One dry run: the transport's state and the report being built. */
struct dry {
	const struct dryrun_options *o;
	struct config *cfg;
	struct http_client *http;
	struct json_object *calls;     /* the hook calls of the stage running now */
	struct json_object *last_call; /* the call post recorded last, until seen */
	struct json_object *stages;    /* every stage played, in order */
	FILE *out;
	int oom; /* the report lost something to out-of-memory */
};

/* How the session ended, for the final verdict. */
struct ending {
	const char *result; /* "accept", "reject", "tempfail", "discard" */
	enum stage stage;
	struct json_object *reply; /* {code, enhanced, text}, NULL: none or the MTA's own */
	char note[256];
	int stopped; /* --stage ended it before end of message */
};

static int read_file(const char *path, struct buf *b);
static int split_args(const char *spec, char **argv, char *copy, size_t copylen);
static int add_value(struct dry *d, struct json_object *obj, const char *key,
                     struct json_object *val);
static struct json_object *jstr(struct dry *d, const char *s);
static struct json_object *jstrn(struct dry *d, const char *s, size_t len);
static struct json_object *parse_json(const char *data, size_t len);
static void post(void *ctx, const struct hook *h, struct request *req, struct http_result *res);
static struct json_object *run_stage(struct dry *d, struct session *s, enum stage stage,
                                     const char *what, struct outcome *oc);
static struct json_object *reply_of(struct dry *d, const struct outcome *oc);
static const char *result_name(enum outcome_kind k);
static struct json_object *actions_of(struct dry *d, const struct session *s);
static void print_stage(struct dry *d, struct json_object *so);
static void print_final(struct dry *d, struct json_object *fin);
static void print_json(FILE *out, struct json_object *o, const char *indent, size_t max);
static void quote(struct buf *b, const char *s, size_t len);
static size_t total_mods(const struct session *s);

/* ---- the message file ------------------------------------------------------------------ */

/* set_err - "NAME:LINE: what" into err */
static void set_err(char *err, size_t errlen, const char *name, unsigned long line,
                    const char *what)
{
	snprintf(err, errlen, "%s:%lu: %s", name, line, what);
}

/* header_new - append a header whose name and value share one allocation */
static int header_new(struct dryrun_message *m, size_t *cap, const char *name, size_t nlen,
                      const char *value, size_t vlen)
{
	struct dryrun_header *h;
	char *mem;

	if (m->nheaders == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;

		if (ncap > SIZE_MAX / sizeof(*h) ||
		    (h = realloc(m->headers, ncap * sizeof(*h))) == NULL)
			return -1;
		m->headers = h;
		*cap = ncap;
	}
	/* nlen and vlen are parts of one file held in memory: their sum cannot wrap. */
	if ((mem = malloc(nlen + vlen + 2)) == NULL)
		return -1;
	memcpy(mem, name, nlen);
	mem[nlen] = '\0';
	memcpy(mem + nlen + 1, value, vlen);
	mem[nlen + 1 + vlen] = '\0';
	m->headers[m->nheaders].name = mem;
	m->headers[m->nheaders].value = mem + nlen + 1;
	m->nheaders++;
	return 0;
}

/* header_continue - append LF and a continuation line to the last header's value */
static int header_continue(struct dryrun_header *h, const char *line, size_t len)
{
	size_t nlen = strlen(h->name), vlen = strlen(h->value);
	char *mem;

	if (len > SIZE_MAX - nlen - vlen - 3 ||
	    (mem = realloc(h->name, nlen + vlen + len + 3)) == NULL)
		return -1;
	h->name = mem;
	h->value = mem + nlen + 1;
	h->value[vlen] = '\n';
	memcpy(h->value + vlen + 1, line, len);
	h->value[vlen + 1 + len] = '\0';
	return 0;
}

/* body_crlf - the body with every bare LF made CRLF, as milter delivers a body */
static int body_crlf(struct dryrun_message *m, const char *p, size_t len)
{
	size_t bare = 0, n = 0;

	for (size_t i = 0; i < len; i++)
		bare += p[i] == '\n' && (i == 0 || p[i - 1] != '\r');
	if (len > SIZE_MAX - 1 - bare || (m->body = malloc(len + bare + 1)) == NULL)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			m->body[n++] = '\r';
		m->body[n++] = p[i];
	}
	m->body[n] = '\0';
	m->body_len = n;
	return 0;
}

/* dryrun_parse_message - headers and body of a message file; 0, or -1 with err set */
int dryrun_parse_message(const char *text, size_t len, const char *name, struct dryrun_message *m,
                         char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	unsigned long line = 0;
	size_t cap = 0;

	memset(m, 0, sizeof(*m));
	/* An mbox file's envelope line is no header. */
	if (len >= 5 && memcmp(text, "From ", 5) == 0) {
		const char *nl = memchr(text, '\n', len);

		p = nl ? nl + 1 : end;
		line = 1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *next = nl ? nl + 1 : end, *colon, *v;

		line++;
		if (eol > p && eol[-1] == '\r')
			eol--;
		if (eol == p) { /* the empty line: the body follows */
			p = next;
			break;
		}
		if (memchr(p, '\0', (size_t)(eol - p)) != NULL) {
			set_err(err, errlen, name, line, "a NUL byte in the header");
			goto fail;
		}
		if (*p == ' ' || *p == '\t') {
			if (m->nheaders == 0) {
				set_err(err, errlen, name, line,
				        "a continuation line (it starts with a blank) before any "
				        "header");
				goto fail;
			}
			if (header_continue(&m->headers[m->nheaders - 1], p, (size_t)(eol - p)) < 0)
				goto oom;
			p = next;
			continue;
		}
		if ((colon = memchr(p, ':', (size_t)(eol - p))) == NULL) {
			set_err(err, errlen, name, line,
			        "not a header line (no colon); the headers end at the first empty "
			        "line");
			goto fail;
		}
		for (const char *c = p; c < colon; c++)
			if (*c <= ' ' || *c > '~') {
				set_err(
				    err, errlen, name, line,
				    "invalid header name (a blank or a control character before "
				    "the colon)");
				goto fail;
			}
		if (colon == p) {
			set_err(err, errlen, name, line, "empty header name");
			goto fail;
		}
		/* As Postfix delivers a header: the blanks after the colon are not in the value. */
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		if (header_new(m, &cap, p, (size_t)(colon - p), v, (size_t)(eol - v)) < 0)
			goto oom;
		p = next;
	}
	if (body_crlf(m, p, (size_t)(end - p)) < 0)
		goto oom;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	dryrun_message_free(m);
	return -1;
}

/* dryrun_message_free - free what dryrun_parse_message filled; zeroes m */
void dryrun_message_free(struct dryrun_message *m)
{
	for (size_t i = 0; i < m->nheaders; i++)
		free(m->headers[i].name);
	free(m->headers);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

/* dryrun_strings_free - free n strings and their array; NULL is ignored */
void dryrun_strings_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* strings_push - append a copy of s[0..len) to *v; -1 on ENOMEM */
static int strings_push(char ***v, size_t *n, const char *s, size_t len)
{
	char **nv, *copy;

	if (*n >= SIZE_MAX / sizeof(*nv) - 1 || (nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL)
		return -1;
	*v = nv;
	if ((copy = strndup(s, len)) == NULL)
		return -1;
	nv[(*n)++] = copy;
	return 0;
}

/* addr_copy - s[0..len) without comments and without blanks outside quotes, into out */
static size_t addr_copy(const char *s, size_t len, char *out)
{
	size_t n = 0;
	int quoted = 0, depth = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (depth > 0) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (quoted) {
			if (c == '\\' && i + 1 < len)
				out[n++] = s[i++];
			else if (c == '"')
				quoted = 0;
			out[n++] = s[i];
			continue;
		}
		if (c == '(') {
			depth = 1;
			continue;
		}
		if (c == '"')
			quoted = 1;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		out[n++] = c;
	}
	return n;
}

/* dryrun_addresses - the addresses of an address-list header value */
int dryrun_addresses(const char *value, char ***addrs, size_t *n)
{
	const char *p = value;
	char *tmp = malloc(strlen(value) + 1);

	*addrs = NULL;
	*n = 0;
	if (tmp == NULL)
		return -1;
	while (*p) {
		const char *start = p, *lt = NULL, *gt = NULL;
		int quoted = 0, depth = 0, angle = 0;
		size_t len;

		/* One element: up to a ',' or ';' outside quotes, comments and <>. */
		for (; *p; p++) {
			if (quoted || depth) {
				if (*p == '\\' && p[1])
					p++;
				else if (quoted && *p == '"')
					quoted = 0;
				else if (depth && *p == '(')
					depth++;
				else if (depth && *p == ')')
					depth--;
				continue;
			}
			if (*p == '"')
				quoted = 1;
			else if (*p == '(')
				depth = 1;
			else if (*p == '<' && !angle)
				angle = 1, lt = p, gt = NULL;
			else if (*p == '>' && angle)
				angle = 0, gt = p;
			else if (*p == ':' && !angle && lt == NULL)
				start =
				    p + 1; /* "group: a@x, b@y;": the group's name is no address */
			else if ((*p == ',' || *p == ';') && !angle)
				break;
		}
		if (lt != NULL && gt != NULL)
			len = addr_copy(lt + 1, (size_t)(gt - lt - 1), tmp);
		else
			len = addr_copy(start, (size_t)(p - start), tmp);
		if (len > 0 && strings_push(addrs, n, tmp, len) < 0) {
			free(tmp);
			dryrun_strings_free(*addrs, *n);
			*addrs = NULL;
			*n = 0;
			return -1;
		}
		if (*p)
			p++;
	}
	free(tmp);
	return 0;
}

/* dryrun_default_from - Return-Path's address, else From's; 1 when neither has one */
int dryrun_default_from(const struct dryrun_message *m, char **from)
{
	static const char *const names[] = {"Return-Path", "From"};

	*from = NULL;
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < m->nheaders; i++) {
			char **a;
			size_t n;
			const char *v = m->headers[i].value;

			if (strcasecmp(m->headers[i].name, names[k]) != 0)
				continue;
			v += strspn(v, " \t\r\n");
			/* "<>" is the null sender: an address, though an empty one. */
			if (k == 0 && strncmp(v, "<>", 2) == 0 &&
			    v[2 + strspn(v + 2, " \t\r\n")] == '\0')
				return (*from = strdup("")) ? 0 : -1;
			if (dryrun_addresses(v, &a, &n) < 0)
				return -1;
			if (n > 0) {
				*from = a[0];
				a[0] = NULL;
			}
			dryrun_strings_free(a, n);
			if (*from != NULL)
				return 0;
		}
	return 1;
}

/* dryrun_default_rcpts - the addresses of every To and Cc header */
int dryrun_default_rcpts(const struct dryrun_message *m, char ***addrs, size_t *n)
{
	*addrs = NULL;
	*n = 0;
	for (size_t i = 0; i < m->nheaders; i++) {
		char **a;
		size_t na;

		if (strcasecmp(m->headers[i].name, "To") != 0 &&
		    strcasecmp(m->headers[i].name, "Cc") != 0)
			continue;
		if (dryrun_addresses(m->headers[i].value, &a, &na) < 0)
			goto fail;
		for (size_t j = 0; j < na; j++)
			if (strings_push(addrs, n, a[j], strlen(a[j])) < 0) {
				dryrun_strings_free(a, na);
				goto fail;
			}
		dryrun_strings_free(a, na);
	}
	return 0;
fail:
	dryrun_strings_free(*addrs, *n);
	*addrs = NULL;
	*n = 0;
	return -1;
}

/* read_file - the whole file (or standard input for "-"), bounded by DRYRUN_MESSAGE_MAX */
static int read_file(const char *path, struct buf *b)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, n) < 0) {
			rc = -1;
			break;
		}
	if (rc == 0 && ferror(f)) {
		errno = EIO;
		rc = -1;
	}
	if (f != stdin)
		fclose(f);
	return rc;
}

/*
 * split_args - "ADDR [PARAM...]" into argv (NULL-terminated, at most ARGS_MAX words), as
 * xxfi_envfrom/xxfi_envrcpt pass them; blanks inside <> belong to the address. The words
 * are cut out of copy. -1 when there are too many words or no room.
 */
static int split_args(const char *spec, char **argv, char *copy, size_t copylen)
{
	size_t n = 0;
	char *p;

	if (strlen(spec) >= copylen)
		return -1;
	strcpy(copy, spec);
	p = copy;
	for (;;) {
		int angle = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (n == ARGS_MAX)
			return -1;
		argv[n++] = p;
		for (; *p && (angle || (*p != ' ' && *p != '\t')); p++)
			if (*p == '<')
				angle = 1;
			else if (*p == '>')
				angle = 0;
		if (*p)
			*p++ = '\0';
	}
	if (n == 0) /* an empty --from is the null sender */
		argv[n++] = copy;
	argv[n] = NULL;
	return 0;
}

/* ---- building the report ---------------------------------------------------------------- */

/* add_value - obj[key] = val (NULL is JSON null); counts a failure as out-of-memory */
static int add_value(struct dry *d, struct json_object *obj, const char *key,
                     struct json_object *val)
{
	if (obj == NULL || json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		d->oom = 1;
		return -1;
	}
	return 0;
}

/* jstr - a JSON string, or JSON null for NULL (out-of-memory noted) */
static struct json_object *jstr(struct dry *d, const char *s)
{
	return s ? jstrn(d, s, strlen(s)) : NULL;
}

/* jstrn - a JSON string of len bytes (out-of-memory noted) */
static struct json_object *jstrn(struct dry *d, const char *s, size_t len)
{
	struct json_object *o = len <= INT_MAX ? json_object_new_string_len(s, (int)len) : NULL;

	if (o == NULL)
		d->oom = 1;
	return o;
}

/* jint - a JSON number (out-of-memory noted) */
static struct json_object *jint(struct dry *d, long long v)
{
	struct json_object *o = json_object_new_int64(v);

	if (o == NULL)
		d->oom = 1;
	return o;
}

/* parse_json - data[0..len) as one JSON value with nothing but blanks after it, or NULL */
static struct json_object *parse_json(const char *data, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t end;

	if (len == 0 || len > INT_MAX || (tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, data, (int)len);
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success) {
		end = json_tokener_get_parse_end(tok);
		while (end < len && strchr(" \t\r\n", data[end]) != NULL && data[end] != '\0')
			end++;
		if (end < len) {
			json_object_put(o);
			o = NULL;
		}
	} else {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/*
 * seen - what hooks.c made of the answer post just recorded: its verdict, or its error as
 * "kind: reason" (the log's words). A hook that failed before posting has no call to note.
 */
static void seen(void *ctx, const struct hook *h, const char *action, const char *warning,
                 const char *error_kind, const char *error_reason)
{
	struct dry *d = ctx;
	struct json_object *call = d->last_call;
	char why[320];

	d->last_call = NULL;
	if (call == NULL)
		return;
	(void)h;
	if (action != NULL) {
		add_value(d, call, "verdict", jstr(d, action));
		if (warning != NULL)
			add_value(d, call, "warning", jstr(d, warning));
		return;
	}
	snprintf(why, sizeof(why), "%s: %s", error_kind ? error_kind : "other",
	         error_reason && error_reason[0] ? error_reason : "no reason given");
	add_value(d, call, "error", jstr(d, why));
}

/* post - the transport: http.c's client, and a record of the call */
static void post(void *ctx, const struct hook *h, struct request *req, struct http_result *res)
{
	struct dry *d = ctx;
	struct json_object *call = json_object_new_object(), *request = NULL;
	struct timespec t0 = {0, 0}, t1 = {0, 0};
	char *text;
	size_t len = 0;

	if (d->http == NULL && (d->http = http_client_new()) == NULL) {
		res->error = HTTP_ERR_OTHER;
		snprintf(res->reason, sizeof(res->reason), "out of memory creating an HTTP client");
	} else {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		http_post(d->http, h, req, res);
		clock_gettime(CLOCK_MONOTONIC, &t1);
	}
	d->last_call = NULL;
	if (call == NULL || json_object_array_add(d->calls, call) != 0) {
		json_object_put(call);
		d->oom = 1;
		return;
	}
	add_value(d, call, "id", jstr(d, h->id));
	add_value(d, call, "url", jstr(d, h->url));
	if (h->nurls > 1)
		add_value(d, call, "endpoints", jint(d, (long long)h->nurls));
	/* The request as sent: request_to_string reads with a cursor of its own. */
	if ((text = request_to_string(req, &len)) != NULL) {
		if ((request = parse_json(text, len)) == NULL)
			request = jstrn(d, text, len);
		free(text);
	} else {
		d->oom = 1;
	}
	add_value(d, call, "request", request);
	if (res->error == HTTP_OK) {
		struct json_object *answer = parse_json(res->body.data, res->body.len);

		if (answer == NULL && res->body.len > 0)
			answer = jstrn(d, res->body.data, res->body.len);
		add_value(d, call, "status", jint(d, res->status));
		add_value(d, call, "answer", answer);
	} else {
		add_value(d, call, "status", NULL);
		add_value(d, call, "answer", NULL);
	}
	/* Every call has the same members; seen fills in what applies. */
	add_value(d, call, "verdict", NULL);
	add_value(d, call, "warning", NULL);
	add_value(d, call, "error", NULL);
	if (d->http != NULL)
		add_value(d, call, "time_ms",
		          jint(d, (long long)(t1.tv_sec - t0.tv_sec) * 1000 +
		                      (t1.tv_nsec - t0.tv_nsec) / 1000000));
	d->last_call = call;
}

/* result_name - an outcome as the report names it */
static const char *result_name(enum outcome_kind k)
{
	switch (k) {
	case OUTCOME_REJECT:
		return "reject";
	case OUTCOME_TEMPFAIL:
		return "tempfail";
	case OUTCOME_DISCARD:
		return "discard";
	default:
		return "continue";
	}
}

/* reply_of - an outcome's SMTP reply, NULL when none or the MTA's own */
static struct json_object *reply_of(struct dry *d, const struct outcome *oc)
{
	struct json_object *r;

	if ((oc->kind != OUTCOME_REJECT && oc->kind != OUTCOME_TEMPFAIL) || oc->status == 0)
		return NULL;
	if ((r = json_object_new_object()) == NULL) {
		d->oom = 1;
		return NULL;
	}
	add_value(d, r, "code", jint(d, oc->status));
	add_value(d, r, "enhanced", oc->enhanced[0] ? jstr(d, oc->enhanced) : NULL);
	add_value(d, r, "text", jstr(d, oc->text));
	if (oc->disconnect)
		add_value(d, r, "disconnect", json_object_new_boolean(1));
	return r;
}

/* make_reply - a reply object from its parts (the daemon's own replies) */
static struct json_object *make_reply(struct dry *d, int code, const char *enhanced,
                                      const char *text)
{
	struct outcome oc = {OUTCOME_REJECT, code, "", (char *)text, 0};

	snprintf(oc.enhanced, sizeof(oc.enhanced), "%s", enhanced);
	return reply_of(d, &oc);
}

/* total_mods - modifications gathered so far, all three lists */
static size_t total_mods(const struct session *s)
{
	return s->session_mods.count + s->ehlo_mods.count + s->message_mods.count;
}

/*
 * run_stage - one stage as milter.c runs it: its hooks when cfg->stages has it, recorded in
 * a new stage object appended to d->stages (NULL when out of memory); the outcome in *oc
 */
static struct json_object *run_stage(struct dry *d, struct session *s, enum stage stage,
                                     const char *what, struct outcome *oc)
{
	struct json_object *so = json_object_new_object(), *skipped, *res;
	struct transport t = {post, d, seen};
	const char *qbefore = session_quarantine_reason(s);
	char *qold = qbefore ? strdup(qbefore) : NULL;
	size_t mods_before = total_mods(s);
	int ran = (d->cfg->stages & STAGE_BIT(stage)) != 0;

	memset(oc, 0, sizeof(*oc));
	oc->kind = OUTCOME_CONTINUE;
	if (so == NULL || json_object_array_add(d->stages, so) != 0) {
		json_object_put(so);
		d->oom = 1;
		free(qold);
		return NULL;
	}
	d->calls = json_object_new_array();
	add_value(d, so, "stage", jstr(d, stage_name(stage)));
	if (what)
		add_value(d, so, stage == STAGE_RCPT ? "rcpt" : "helo", jstr(d, what));
	if (ran)
		hooks_run_stage(s, stage, &t, oc);
	add_value(d, so, "hooks", d->calls);
	/* The hooks of this stage that the chain did not call: enable false, or it stopped. */
	if ((skipped = json_object_new_array()) == NULL)
		d->oom = 1;
	for (size_t i = 0; ran && skipped && i < d->cfg->nhooks; i++) {
		const struct hook *h = &d->cfg->hooks[i];
		int called = 0;

		if (!h->enable || !(h->stages & STAGE_BIT(stage)))
			continue;
		for (size_t j = 0; d->calls && j < json_object_array_length(d->calls); j++) {
			struct json_object *id;

			if (json_object_object_get_ex(json_object_array_get_idx(d->calls, j), "id",
			                              &id) &&
			    strcmp(json_object_get_string(id), h->id) == 0)
				called = 1;
		}
		if (!called && json_object_array_add(skipped, jstr(d, h->id)) != 0)
			d->oom = 1;
	}
	add_value(d, so, "not_called", skipped);
	d->calls = NULL;
	if ((res = json_object_new_object()) != NULL) {
		const char *q = session_quarantine_reason(s);
		size_t now = total_mods(s);

		add_value(d, res, "result", jstr(d, result_name(oc->kind)));
		add_value(d, res, "reply", reply_of(d, oc));
		add_value(d, res, "modifications_kept",
		          jint(d, now > mods_before ? (long long)(now - mods_before) : 0));
		add_value(d, res, "quarantine",
		          q && (qold == NULL || strcmp(q, qold) != 0) ? jstr(d, q) : NULL);
		add_value(d, res, "note", NULL);
	}
	add_value(d, so, "outcome", res);
	add_value(d, so, "called", json_object_new_boolean(ran));
	free(qold);
	return so;
}

/* set_note - the human note of a stage's outcome */
static void set_note(struct dry *d, struct json_object *so, const char *note)
{
	struct json_object *res;

	if (so && json_object_object_get_ex(so, "outcome", &res))
		add_value(d, res, "note", jstr(d, note));
}

/* ---- the actions, as milter.c's apply_one would call libmilter ---------------------------- */

/* quote - s[0..len) as a C string literal */
static void quote(struct buf *b, const char *s, size_t len)
{
	char esc[8];

	buf_append_str(b, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c == '\n')
			snprintf(esc, sizeof(esc), "\\n");
		else if (c == '\r')
			snprintf(esc, sizeof(esc), "\\r");
		else if (c == '\t')
			snprintf(esc, sizeof(esc), "\\t");
		else if (c < 0x20 || c == 0x7f)
			snprintf(esc, sizeof(esc), "\\x%02x", c);
		else {
			esc[0] = (char)c;
			esc[1] = '\0';
		}
		buf_append_str(b, esc);
	}
	buf_append_str(b, "\"");
}

/* unfolded - a header value with CRLF folding made LF, as milter.c hands it to the MTA */
static char *unfolded(const char *v)
{
	char *out = strdup(v), *p = out;

	if (out == NULL)
		return NULL;
	for (const char *q = v; *q; q++)
		if (!(q[0] == '\r' && q[1] == '\n'))
			*p++ = *q;
	*p = '\0';
	return out;
}

/* bracketed - an address in <>, as milter.c gives it to the MTA */
static char *bracketed(const char *a)
{
	size_t len = strlen(a);
	char *out;

	if (len >= 2 && a[0] == '<' && a[len - 1] == '>')
		return strdup(a);
	if ((out = malloc(len + 3)) != NULL)
		snprintf(out, len + 3, "<%s>", a);
	return out;
}

/* body_bytes - the size of a new body once milter.c has made its line ends CRLF */
static size_t body_bytes(const struct modification *m)
{
	size_t n = m->value_len;

	for (size_t i = 0; i < m->value_len; i++)
		n += m->value[i] == '\n' && (i == 0 || m->value[i - 1] != '\r');
	return n;
}

/* action - one libmilter call: {call, args, text} */
static struct json_object *action(struct dry *d, const char *call, const char *const *sargs,
                                  const int *isnum, const long long *nargs, size_t nargs_count)
{
	struct json_object *a = json_object_new_object(), *args = json_object_new_array();
	struct buf text = BUF_INIT(0);

	if (a == NULL || args == NULL) {
		json_object_put(a);
		json_object_put(args);
		d->oom = 1;
		return NULL;
	}
	buf_append_str(&text, call);
	buf_append_str(&text, "(");
	for (size_t i = 0; i < nargs_count; i++) {
		char num[32];

		if (i > 0)
			buf_append_str(&text, ", ");
		if (isnum[i]) {
			snprintf(num, sizeof(num), "%lld", nargs[i]);
			buf_append_str(&text, num);
			json_object_array_add(args, jint(d, nargs[i]));
		} else if (sargs[i] == NULL) {
			buf_append_str(&text, "NULL");
			json_object_array_add(args, NULL);
		} else {
			quote(&text, sargs[i], strlen(sargs[i]));
			json_object_array_add(args, jstr(d, sargs[i]));
		}
	}
	buf_append_str(&text, ")");
	add_value(d, a, "call", jstr(d, call));
	add_value(d, a, "args", args);
	add_value(d, a, "text", text.data ? jstr(d, text.data) : NULL);
	buf_free(&text);
	return a;
}

/* mod_action - the libmilter call milter.c makes for one modification */
static struct json_object *mod_action(struct dry *d, const struct modification *m)
{
	const char *s[3] = {NULL, NULL, NULL};
	int isnum[3] = {0, 0, 0};
	long long n[3] = {0, 0, 0};
	long long index = m->index == 0 ? 1 : (long long)m->index;
	char *v = NULL;
	const char *call = "?";
	size_t count = 0;
	struct json_object *a;

	switch (m->type) {
	case MOD_CHANGE_FROM:
		v = bracketed(m->value);
		call = "smfi_chgfrom", s[0] = v, s[1] = m->params, count = 2;
		break;
	case MOD_ADD_RCPT:
		v = bracketed(m->value);
		call = m->params ? "smfi_addrcpt_par" : "smfi_addrcpt";
		s[0] = v, s[1] = m->params, count = m->params ? 2 : 1;
		break;
	case MOD_DELETE_RCPT:
		v = bracketed(m->value);
		call = "smfi_delrcpt", s[0] = v, count = 1;
		break;
	case MOD_REPLACE_CONTENTS: {
		char what[64];

		snprintf(what, sizeof(what), "<%zu bytes>", body_bytes(m));
		a = action(d, "smfi_replacebody", NULL, (int[]){1},
		           (long long[]){(long long)body_bytes(m)}, 1);
		if (a) {
			struct buf t = BUF_INIT(0);

			buf_append_str(&t, "smfi_replacebody(");
			buf_append_str(&t, what);
			buf_append_str(&t, ")");
			add_value(d, a, "text", t.data ? jstr(d, t.data) : NULL);
			add_value(d, a, "body", jstrn(d, m->value, m->value_len));
			buf_free(&t);
		}
		return a;
	}
	case MOD_ADD_HEADER:
		v = unfolded(m->value);
		call = "smfi_addheader", s[0] = m->name, s[1] = v, count = 2;
		break;
	case MOD_INSERT_HEADER:
		v = unfolded(m->value);
		call = "smfi_insheader", isnum[0] = 1, n[0] = (long long)m->index;
		s[1] = m->name, s[2] = v, count = 3;
		break;
	case MOD_CHANGE_HEADER:
		v = unfolded(m->value);
		call = "smfi_chgheader", s[0] = m->name, isnum[1] = 1, n[1] = index, s[2] = v;
		count = 3;
		break;
	case MOD_DELETE_HEADER:
		call = "smfi_chgheader", s[0] = m->name, isnum[1] = 1, n[1] = index, count = 3;
		break;
	}
	if (m->type != MOD_DELETE_HEADER && v == NULL) {
		d->oom = 1;
		return NULL;
	}
	a = action(d, call, s, isnum, n, count);
	free(v);
	return a;
}

/* actions_of - what milter.c would call at end of message, in its order */
static struct json_object *actions_of(struct dry *d, const struct session *s)
{
	struct json_object *list = json_object_new_array();
	const struct modification *m;
	const char *reason = session_quarantine_reason(s);
	size_t pos = 0;

	if (list == NULL) {
		d->oom = 1;
		return NULL;
	}
	while ((m = session_next_mod(s, &pos)) != NULL)
		if (json_object_array_add(list, mod_action(d, m)) != 0)
			d->oom = 1;
	if (reason != NULL &&
	    json_object_array_add(list, action(d, "smfi_quarantine", (const char *[]){reason},
	                                       (int[]){0}, (long long[]){0}, 1)) != 0)
		d->oom = 1;
	return list;
}

/* ---- printing --------------------------------------------------------------------------- */

/* print_json - a value pretty-printed, each line indented, cut after max bytes (0: never) */
static void print_json(FILE *out, struct json_object *o, const char *indent, size_t max)
{
	const char *text = json_object_is_type(o, json_type_string)
	                       ? json_object_get_string(o)
	                       : json_object_to_json_string_ext(o, JSON_FLAGS);
	size_t len = json_object_is_type(o, json_type_string)
	                 ? (size_t)json_object_get_string_len(o)
	                 : strlen(text);
	size_t shown = max && len > max ? max : len;

	fputs(indent, out);
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n') {
			fputc('\n', out);
			if (i + 1 < shown)
				fputs(indent, out);
		} else if (c != '\r' && (c >= 0x20 || c == '\t')) {
			fputc(c, out);
		} else if (c != '\r') {
			fputc(
			    '?',
			    out); /* a control byte of a text answer must not upset the terminal */
		}
	}
	if (shown < len)
		fprintf(out, "\n%s... (%zu bytes in all, %zu shown)", indent, len, shown);
	fputc('\n', out);
}

/* get - obj[key], NULL when absent or null */
static struct json_object *get(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	return obj && json_object_object_get_ex(obj, key, &v) ? v : NULL;
}

/* get_str - obj[key] as a string, NULL when absent or null */
static const char *get_str(struct json_object *obj, const char *key)
{
	struct json_object *v = get(obj, key);

	return v ? json_object_get_string(v) : NULL;
}

/* text_of - obj[key] as a string for printing: "" when absent */
static const char *text_of(struct json_object *obj, const char *key)
{
	const char *v = get_str(obj, key);

	return v ? v : "";
}

/* shorten_contents - in text output, a long message.contents is cut for the screen */
static void shorten_contents(struct json_object *request)
{
	struct json_object *msg = get(request, "message"), *contents = get(msg, "contents");
	char *cut;
	int len;

	if (contents == NULL || (len = json_object_get_string_len(contents)) <= SHOW_CONTENTS_MAX)
		return;
	if ((cut = malloc(SHOW_CONTENTS_MAX + 64)) == NULL)
		return;
	snprintf(cut, SHOW_CONTENTS_MAX + 64, "%.*s... (%d bytes in all)", SHOW_CONTENTS_MAX,
	         json_object_get_string(contents), len);
	json_object_object_add(msg, "contents", json_object_new_string(cut));
	free(cut);
}

/* print_reply - "550 5.7.1 text", or the MTA's own */
static void print_reply(FILE *out, struct json_object *reply)
{
	const char *enh = get_str(reply, "enhanced"), *text = get_str(reply, "text");

	if (reply == NULL) {
		fputs("(the MTA's own reply)", out);
		return;
	}
	fprintf(out, "%d%s%s%s%s", json_object_get_int(get(reply, "code")), enh ? " " : "",
	        enh ? enh : "", text ? " " : "", text ? text : "");
	if (get(reply, "disconnect"))
		fputs(" (the MTA closes the connection)", out);
}

/* print_stage - one stage in text */
static void print_stage(struct dry *d, struct json_object *so)
{
	struct json_object *calls = get(so, "hooks"), *skipped = get(so, "not_called");
	struct json_object *res = get(so, "outcome");
	const char *what = get_str(so, "rcpt") ? get_str(so, "rcpt") : get_str(so, "helo");
	FILE *out = d->out;
	long long kept;

	if (get_str(so, "rcpt"))
		fprintf(out, "\n== rcpt <%s> ==\n", what);
	else
		fprintf(out, "\n== %s%s%s ==\n", text_of(so, "stage"), what ? " " : "",
		        what ? what : "");
	if (!json_object_get_boolean(get(so, "called")))
		fputs("no hook has this stage\n", out);
	for (size_t i = 0; calls && i < json_object_array_length(calls); i++) {
		struct json_object *c = json_object_array_get_idx(calls, i);
		struct json_object *req = get(c, "request"), *answer = get(c, "answer");

		fprintf(out, "hook \"%s\": POST %s", text_of(c, "id"), text_of(c, "url"));
		if (get(c, "endpoints"))
			fprintf(out, " (first of %d endpoints)",
			        json_object_get_int(get(c, "endpoints")));
		fputs("\n  request:\n", out);
		if (req) {
			shorten_contents(req);
			print_json(out, req, "    ", 0);
		}
		if (get(c, "status"))
			fprintf(out, "  answer: HTTP %d in %d ms%s\n",
			        json_object_get_int(get(c, "status")),
			        json_object_get_int(get(c, "time_ms")), answer ? "" : ", empty");
		else
			fprintf(out, "  no answer (after %d ms)\n",
			        json_object_get_int(get(c, "time_ms")));
		if (answer)
			print_json(out, answer, "    ", SHOW_ANSWER_MAX);
		if (get_str(c, "verdict"))
			fprintf(out, "  verdict: %s\n", text_of(c, "verdict"));
		if (get_str(c, "warning"))
			fprintf(out, "  warning: %s\n", text_of(c, "warning"));
		if (get_str(c, "error"))
			fprintf(out, "  error: %s\n", text_of(c, "error"));
	}
	if (skipped && json_object_array_length(skipped) > 0) {
		fputs("not called (enable is false here, or the chain stopped before it):", out);
		for (size_t i = 0; i < json_object_array_length(skipped); i++)
			fprintf(out, " %s",
			        json_object_get_string(json_object_array_get_idx(skipped, i)));
		fputc('\n', out);
	}
	fprintf(out, "outcome: %s", text_of(res, "result"));
	if (get(res, "reply") || (strcmp(text_of(res, "result"), "reject") == 0 ||
	                          strcmp(text_of(res, "result"), "tempfail") == 0)) {
		fputc(' ', out);
		print_reply(out, get(res, "reply"));
	}
	kept = json_object_get_int64(get(res, "modifications_kept"));
	if (kept > 0)
		fprintf(out, "; %lld modification%s kept for end of message", kept,
		        kept == 1 ? "" : "s");
	if (get_str(res, "quarantine"))
		fprintf(out, "; quarantine: %s", text_of(res, "quarantine"));
	if (get_str(res, "note"))
		fprintf(out, "; %s", get_str(res, "note"));
	fputc('\n', out);
}

/* print_final - the verdict and the milter actions in text */
static void print_final(struct dry *d, struct json_object *fin)
{
	struct json_object *actions = get(fin, "actions");
	const char *result = text_of(fin, "result"), *note = get_str(fin, "note");
	FILE *out = d->out;
	int stopped = json_object_get_boolean(get(fin, "stopped"));

	fputs("\n== result ==\n", out);
	if (stopped)
		fprintf(out, "stopped after the %s stage (--stage): nothing refused so far\n",
		        text_of(fin, "stage"));
	else if (strcmp(result, "accept") == 0)
		fputs("the MTA would accept the message\n", out);
	else {
		fprintf(out, "the MTA would %s the message at the %s stage", result,
		        text_of(fin, "stage"));
		if (strcmp(result, "reject") == 0 || strcmp(result, "tempfail") == 0) {
			fputs(": ", out);
			print_reply(out, get(fin, "reply"));
		}
		fputc('\n', out);
	}
	if (note)
		fprintf(out, "(%s)\n", note);
	if (strcmp(result, "accept") != 0)
		return;
	fputs(stopped ? "milter actions gathered so far, for end of message:\n"
	              : "milter actions, in the order they are applied:\n",
	      out);
	if (actions == NULL || json_object_array_length(actions) == 0)
		fputs("  (none)\n", out);
	for (size_t i = 0; actions && i < json_object_array_length(actions); i++)
		fprintf(out, "  %s\n", text_of(json_object_array_get_idx(actions, i), "text"));
}

/* ---- the run ------------------------------------------------------------------------------ */

/* end_with - the ending at a stage, from its outcome */
static void end_with(struct dry *d, struct ending *e, enum stage stage, const char *result,
                     struct json_object *reply, const char *note)
{
	e->result = result;
	e->stage = stage;
	json_object_put(e->reply);
	e->reply = reply;
	snprintf(e->note, sizeof(e->note), "%s", note ? note : "");
	(void)d;
}

/* stage_done - print a finished stage (text output) */
static void stage_done(struct dry *d, struct json_object *so)
{
	if (!d->o->json && so != NULL && !d->oom) {
		print_stage(d, so);
		fflush(d->out);
	}
}

/* refused - whether an outcome ends the SMTP command (or the connection) */
static int refused(const struct outcome *oc)
{
	return oc->kind == OUTCOME_REJECT || oc->kind == OUTCOME_TEMPFAIL;
}

/* play - the session, stage by stage as an MTA and milter.c would run it */
static void play(struct dry *d, struct session *s, const struct dryrun_message *msg,
                 char **from_argv, char *(*rcpt_argv)[ARGS_MAX + 1], size_t nrcpt, struct ending *e)
{
	enum stage last = d->o->last_stage;
	struct json_object *so;
	struct outcome oc;
	size_t kept = 0;

	e->result = "accept";
	/* connect: a refusal or a disconnect ends the session */
	so = run_stage(d, s, STAGE_CONNECT, NULL, &oc);
	if (refused(&oc)) {
		end_with(d, e, STAGE_CONNECT, result_name(oc.kind), reply_of(d, &oc),
		         "the connection is refused: no further stage");
		set_note(d, so, "the session ends");
		goto done;
	}
	if (s->discard_session)
		set_note(d, so, "every message of the session will be discarded");
	stage_done(d, so);
	outcome_free(&oc);
	if (last == STAGE_CONNECT)
		goto stop;

	/* The HELO name is known from the ehlo stage on, not at connect (milter.c on_helo). */
	if (session_set(&s->helo, d->o->helo ? d->o->helo : DEFAULT_HELO) < 0) {
		d->oom = 1;
		return;
	}
	so = run_stage(d, s, STAGE_EHLO, s->helo, &oc);
	if (refused(&oc)) {
		end_with(d, e, STAGE_EHLO, result_name(oc.kind), reply_of(d, &oc),
		         "the HELO/EHLO is refused: the session goes no further");
		set_note(d, so, "the session ends");
		goto done;
	}
	if (s->discard_session)
		set_note(d, so, "every message of the session will be discarded");
	stage_done(d, so);
	outcome_free(&oc);
	if (last == STAGE_EHLO)
		goto stop;

	if (session_set_from(s, from_argv) < 0) {
		d->oom = 1;
		return;
	}
	/* milter.c answers MAIL with a discard at once when connect/ehlo discarded the session. */
	if (s->discard_session) {
		end_with(d, e, STAGE_MAIL, "discard", NULL,
		         "a connect or ehlo hook discarded the session: no mail hook is called");
		return;
	}
	so = run_stage(d, s, STAGE_MAIL, NULL, &oc);
	if (refused(&oc) || oc.kind == OUTCOME_DISCARD) {
		end_with(d, e, STAGE_MAIL, result_name(oc.kind), reply_of(d, &oc),
		         oc.kind == OUTCOME_DISCARD ? "the message is accepted and dropped"
		                                    : "the sender is refused: no message");
		goto done;
	}
	stage_done(d, so);
	outcome_free(&oc);
	if (last == STAGE_MAIL)
		goto stop;

	for (size_t i = 0; i < nrcpt; i++) {
		size_t before = s->nrcpts;

		if (session_add_rcpt(s, rcpt_argv[i]) < 0) {
			d->oom = 1;
			return;
		}
		so = run_stage(d, s, STAGE_RCPT, s->rcpts[s->nrcpts - 1].address, &oc);
		if (oc.disconnect) {
			end_with(d, e, STAGE_RCPT, result_name(oc.kind), reply_of(d, &oc),
			         "a hook disconnected the session");
			goto done;
		}
		if (oc.kind == OUTCOME_DISCARD) {
			end_with(d, e, STAGE_RCPT, "discard", NULL,
			         "the message is accepted and dropped");
			goto done;
		}
		if (s->nrcpts == before)
			set_note(d, so, "this recipient is refused; the others go on");
		stage_done(d, so);
		outcome_free(&oc);
	}
	kept = s->nrcpts;
	if (last == STAGE_RCPT)
		goto stop;
	if (kept == 0) {
		end_with(d, e, STAGE_RCPT, "reject", NULL,
		         "every recipient was refused: the MTA refuses DATA with its own reply");
		return;
	}

	/* data: headers and body reach the session only when a data hook wants them */
	if (d->cfg->stages & STAGE_BIT(STAGE_DATA)) {
		int too_big = 0;

		for (size_t i = 0; i < msg->nheaders && !too_big; i++)
			if (session_add_header(s, msg->headers[i].name, msg->headers[i].value) < 0)
				too_big = errno == EFBIG ? 1 : 2;
		if (!too_big && session_append_body(s, msg->body, msg->body_len) < 0)
			too_big = errno == EFBIG ? 1 : 2;
		/* The daemon's own replies at end of message (milter.c on_eom). */
		if (too_big == 1) {
			end_with(
			    d, e, STAGE_DATA, "reject",
			    make_reply(d, 552, "5.3.4", "Message too big for the content filter"),
			    "the message is larger than [milter] max-message-size: no data hook "
			    "is called");
			return;
		}
		if (too_big) {
			end_with(
			    d, e, STAGE_DATA, "tempfail",
			    make_reply(d, 451, "4.3.0", "Unable to accept message at this time."),
			    "out of memory collecting the message");
			return;
		}
	}
	so = run_stage(d, s, STAGE_DATA, NULL, &oc);
	if (oc.kind != OUTCOME_CONTINUE) {
		end_with(d, e, STAGE_DATA, result_name(oc.kind), reply_of(d, &oc),
		         oc.kind == OUTCOME_DISCARD ? "the message is accepted and dropped" : NULL);
		goto done;
	}
	stage_done(d, so);
	outcome_free(&oc);
	end_with(d, e, STAGE_DATA, "accept", NULL, NULL);
	return;
stop:
	e->stopped = 1;
	e->stage = last;
	return;
done:
	stage_done(d, so);
	outcome_free(&oc);
}

/* final_object - the verdict as JSON */
static struct json_object *final_object(struct dry *d, const struct session *s, struct ending *e)
{
	struct json_object *fin = json_object_new_object();
	int accepted = strcmp(e->result, "accept") == 0;

	if (fin == NULL) {
		d->oom = 1;
		return NULL;
	}
	add_value(d, fin, "result", jstr(d, e->result));
	add_value(d, fin, "stage", jstr(d, stage_name(e->stage)));
	add_value(d, fin, "reply", e->reply);
	e->reply = NULL;
	add_value(d, fin, "actions", accepted ? actions_of(d, s) : json_object_new_array());
	add_value(d, fin, "quarantine", accepted ? jstr(d, session_quarantine_reason(s)) : NULL);
	add_value(d, fin, "stopped", json_object_new_boolean(e->stopped));
	add_value(d, fin, "note", e->note[0] ? jstr(d, e->note) : NULL);
	return fin;
}

/* envelope_args - argv for a --from/--rcpt spec; -1 with a message on stderr */
static int envelope_args(const char *opt, const char *spec, char **argv, char **copy)
{
	size_t len = strlen(spec) + 1;

	if ((*copy = malloc(len)) == NULL || split_args(spec, argv, *copy, len) < 0) {
		fprintf(stderr, "mtahooks-milter: %s \"%s\": %s\n", opt, spec,
		        *copy ? "too many words (at most 32: the address and its parameters)"
		              : "out of memory");
		return -1;
	}
	return 0;
}

/* dryrun_run - play the message through the hooks and print what happens; the exit status */
int dryrun_run(struct config *cfg, const struct dryrun_options *o, FILE *out)
{
	const char *ip = o->client_ip ? o->client_ip : DEFAULT_CLIENT_IP;
	const char *helo = o->helo ? o->helo : DEFAULT_HELO;
	const char *name = strcmp(o->message, "-") == 0 ? "(standard input)" : o->message;
	struct dry d = {.o = o, .cfg = cfg, .out = out};
	struct dryrun_message msg = {0};
	struct buf file = BUF_INIT(DRYRUN_MESSAGE_MAX);
	struct ending e = {0};
	struct session *s = NULL;
	struct json_object *doc = NULL, *facts, *fin;
	char ipnorm[INET6_ADDRSTRLEN], err[512];
	char *from = NULL, **rcpts = NULL, *from_copy = NULL, **rcpt_copy = NULL;
	char *from_argv[ARGS_MAX + 1];
	char *(*rcpt_argv)[ARGS_MAX + 1] = NULL;
	size_t nrcpt = 0;
	int rc = 1, counted = 0, http_up = 0;
	unsigned char addr[sizeof(struct in6_addr)];

	/* The client address, written as milter.c writes it. */
	if (inet_pton(AF_INET, ip, addr) == 1)
		snprintf(ipnorm, sizeof(ipnorm), "%s", ip);
	else if (inet_pton(AF_INET6, ip, addr) != 1 ||
	         inet_ntop(AF_INET6, addr, ipnorm, sizeof(ipnorm)) == NULL) {
		fprintf(stderr,
		        "mtahooks-milter: --client-ip \"%s\": not an IPv4 or IPv6 address\n", ip);
		return 1;
	}
	if (read_file(o->message, &file) < 0) {
		fprintf(stderr, "mtahooks-milter: %s: %s\n", name,
		        errno == EFBIG ? "larger than 1 GiB" : strerror(errno));
		goto out;
	}
	if (dryrun_parse_message(file.data ? file.data : "", file.len, name, &msg, err,
	                         sizeof(err)) < 0) {
		fprintf(stderr, "mtahooks-milter: %s\n", err);
		goto out;
	}
	buf_free(&file);

	/* The envelope: the options, else what the headers say. */
	if (o->from == NULL) {
		int r = dryrun_default_from(&msg, &from);

		if (r < 0)
			goto oom;
		if (r > 0) {
			fprintf(stderr,
			        "mtahooks-milter: %s: no Return-Path or From address: give "
			        "--from\n",
			        name);
			goto out;
		}
	} else if ((from = strdup(o->from)) == NULL) {
		goto oom;
	}
	if (o->nrcpt == 0) {
		if (dryrun_default_rcpts(&msg, &rcpts, &nrcpt) < 0)
			goto oom;
	} else {
		if ((rcpts = calloc(o->nrcpt, sizeof(*rcpts))) == NULL)
			goto oom;
		for (nrcpt = 0; nrcpt < o->nrcpt; nrcpt++)
			if ((rcpts[nrcpt] = strdup(o->rcpt[nrcpt])) == NULL)
				goto oom;
	}
	if (nrcpt == 0) {
		fprintf(stderr, "mtahooks-milter: %s: no recipient: give --rcpt\n", name);
		goto out;
	}
	if (envelope_args("--from", from, from_argv, &from_copy) < 0)
		goto out;
	if ((rcpt_argv = calloc(nrcpt, sizeof(*rcpt_argv))) == NULL ||
	    (rcpt_copy = calloc(nrcpt, sizeof(*rcpt_copy))) == NULL)
		goto oom;
	for (size_t i = 0; i < nrcpt; i++)
		if (envelope_args("--rcpt", rcpts[i], rcpt_argv[i], &rcpt_copy[i]) < 0)
			goto out;

	if (http_global_init() < 0) {
		fprintf(stderr, "mtahooks-milter: cannot initialise libcurl\n");
		goto out;
	}
	http_up = 1;
	/* The connection as milter.c fills it from the MTA; what a dry run cannot know stays
	 * unknown (port 0, no PTR, no TLS, SASL, server address or queue id). */
	if ((s = session_new(cfg)) == NULL || session_set(&s->client_ip, ipnorm) < 0 ||
	    session_set_server_name(s, NULL) < 0)
		goto oom;
	s->active_connections = session_ip_enter(s->client_ip);
	counted = 1;

	if ((doc = json_object_new_object()) == NULL ||
	    (d.stages = json_object_new_array()) == NULL)
		goto oom;
	if ((facts = json_object_new_object()) != NULL) {
		struct json_object *list = json_object_new_array();

		add_value(&d, facts, "config", jstr(&d, cfg->path));
		add_value(&d, facts, "message", jstr(&d, name));
		add_value(&d, facts, "client_ip", jstr(&d, s->client_ip));
		add_value(&d, facts, "helo", jstr(&d, helo));
		add_value(&d, facts, "server_name", jstr(&d, s->server_name));
		add_value(&d, facts, "from", jstr(&d, from));
		for (size_t i = 0; list && i < nrcpt; i++)
			json_object_array_add(list, jstr(&d, rcpts[i]));
		add_value(&d, facts, "rcpts", list);
		add_value(&d, facts, "last_stage", jstr(&d, stage_name(o->last_stage)));
	}
	add_value(&d, doc, "session", facts);
	if (!o->json) {
		fprintf(out, "dry run of %s with %s\n", name, cfg->path);
		fprintf(out, "client %s, HELO %s, server %s, MAIL FROM: %s, RCPT TO:", s->client_ip,
		        helo, s->server_name, from[0] ? from : "<>");
		for (size_t i = 0; i < nrcpt; i++)
			fprintf(out, " %s", rcpts[i]);
		fputc('\n', out);
	}

	play(&d, s, &msg, from_argv, rcpt_argv, nrcpt, &e);
	if (d.oom)
		goto oom;
	fin = final_object(&d, s, &e);
	add_value(&d, doc, "stages", d.stages);
	d.stages = NULL;
	add_value(&d, doc, "final", fin);
	if (d.oom)
		goto oom;
	if (o->json)
		fprintf(out, "%s\n", json_object_to_json_string_ext(doc, JSON_FLAGS));
	else
		print_final(&d, fin);
	rc = fflush(out) == 0 && !ferror(out) ? 0 : 1;
	if (rc)
		fprintf(stderr, "mtahooks-milter: cannot write the report: %s\n", strerror(errno));
	goto out;
oom:
	fprintf(stderr, "mtahooks-milter: out of memory\n");
	rc = 1;
out:
	if (counted)
		session_ip_leave(s->client_ip);
	session_free(s);
	http_client_free(d.http);
	if (http_up)
		http_global_cleanup();
	json_object_put(d.stages);
	json_object_put(doc);
	json_object_put(e.reply);
	for (size_t i = 0; rcpt_copy && i < nrcpt; i++)
		free(rcpt_copy[i]);
	free(rcpt_copy);
	free(rcpt_argv);
	free(from_copy);
	dryrun_strings_free(rcpts, nrcpt);
	free(from);
	dryrun_message_free(&msg);
	buf_free(&file);
	return rc;
}
