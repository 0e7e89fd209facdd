/* session.c - one milter connection and its current message (see include/session.h) */
#ifdef HAVE_CONFIG_H
#include "build-config.h" /* _GNU_SOURCE, before any system header */
#endif
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "request.h"
#include "session.h"

/* One client IP with its open sessions; the table holds only counts above 0. */
struct ip_count {
	struct ip_count *next;
	unsigned count;
	char ip[]; /* "" for a non-IP connection */
};

static int envaddr_parse(char **argv, struct envaddr *out);
static int params_parse(char **params, struct json_object **out);
static int param_add(struct json_object *obj, const char *param);
static int is_all_digits(const char *s);
static void envaddr_clear(struct envaddr *a);
static void headers_clear(struct session *s);
static void *grow(void *items, size_t *cap, size_t count, size_t size);
static int over_limit(const struct session *s, size_t extra);

static atomic_ulong session_serial;
static pthread_mutex_t ip_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ip_count *ip_table; /* guarded by ip_lock; few entries, one per live client */

/* session_new - a session holding a new reference to cfg; NULL on ENOMEM */
struct session *session_new(struct config *cfg)
{
	struct session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	/* A NULL configuration is allowed so that tests can build a bare session. */
	s->config = cfg ? config_ref(cfg) : NULL;
	s->id = atomic_fetch_add(&session_serial, 1) + 1;
	s->tls_cipher_bits = -1;
	s->body.limit = cfg ? cfg->max_message_size : 0;
	return s;
}

/* session_free - free everything, release the configuration; NULL is ignored */
void session_free(struct session *s)
{
	if (s == NULL)
		return;
	session_end_message(s);
	free(s->rcpts);
	free(s->headers);
	buf_free(&s->body);
	modlist_clear(&s->session_mods);
	free(s->session_mods.items);
	modlist_clear(&s->ehlo_mods);
	free(s->ehlo_mods.items);
	free(s->message_mods.items);
	free(s->quarantine_session);
	free(s->client_ip);
	free(s->client_ptr);
	free(s->helo);
	free(s->server_name);
	free(s->server_ip);
	free(s->listener);
	free(s->queue_id);
	free(s->sasl_login);
	free(s->sasl_method);
	free(s->tls_version);
	free(s->tls_cipher);
	free(s->tls_cert_issuer);
	free(s->tls_cert_subject);
	config_unref(s->config);
	free(s);
}

/* session_set - replace *field by a copy of value (NULL clears it) */
int session_set(char **field, const char *value)
{
	char *copy = NULL;

	/* The MTA repeats macros (the queue id at every stage): the same value is kept. */
	if (value != NULL && *field != NULL && strcmp(*field, value) == 0)
		return 0;
	if (value != NULL && (copy = strdup(value)) == NULL)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

/* session_set_from - record MAIL FROM from xxfi_envfrom's argv */
int session_set_from(struct session *s, char **argv)
{
	struct envaddr a;

	/* Parse first, so a failure leaves the previous sender in place. */
	if (envaddr_parse(argv, &a) < 0)
		return -1;
	envaddr_clear(&s->from);
	s->from = a;
	s->has_from = 1;
	return 0;
}

/* session_add_rcpt - append a recipient from xxfi_envrcpt's argv */
int session_add_rcpt(struct session *s, char **argv)
{
	struct envaddr *rcpts, a;

	if ((rcpts = grow(s->rcpts, &s->rcpts_cap, s->nrcpts, sizeof(*s->rcpts))) == NULL)
		return -1;
	s->rcpts = rcpts;
	if (envaddr_parse(argv, &a) < 0)
		return -1;
	s->rcpts[s->nrcpts++] = a;
	return 0;
}

/* session_drop_last_rcpt - forget the last recipient (a hook rejected it) */
void session_drop_last_rcpt(struct session *s)
{
	if (s->nrcpts == 0)
		return;
	envaddr_clear(&s->rcpts[--s->nrcpts]);
}

/* bare_lfs - how many LFs of value[0..len) have no CR before them (Postfix folds with LF) */
static size_t bare_lfs(const char *value, size_t len)
{
	size_t bare = 0;

	for (const char *p = memchr(value, '\n', len); p != NULL;
	     p = memchr(p + 1, '\n', len - (size_t)(p + 1 - value)))
		bare += p == value || p[-1] != '\r';
	return bare;
}

/* crlf_copy - value[0..len) into out with every bare LF made CRLF, and a NUL */
static void crlf_copy(char *out, const char *value, size_t len, size_t bare)
{
	size_t n = 0;

	if (bare == 0) {
		memcpy(out, value, len); /* the usual case: no folding, or folded with CRLF */
		out[len] = '\0';
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = value[i];
	}
	out[n] = '\0';
}

/*
 * session_add_header - append one header as milter passed it, folding as CRLF. The name
 * and the value share one allocation, which the name points to (headers_clear frees it).
 */
int session_add_header(struct session *s, const char *name, const char *value)
{
	size_t nlen = strlen(name), raw = strlen(value), vlen;
	size_t room = SIZE_MAX - s->header_bytes;
	struct header *headers, h;
	size_t bare = bare_lfs(value, raw);

	/* bare <= raw <= PTRDIFF_MAX (the size of an object): raw + bare cannot wrap. */
	vlen = raw + bare;
	/* "Name: value\r\n": the name, ": ", the value and CRLF, without wrapping. */
	if (room < 4 || nlen > room - 4 || vlen > room - 4 - nlen) {
		errno = EOVERFLOW;
		return -1;
	}
	/* Headers count against max-message-size as the body does. */
	if (over_limit(s, nlen + vlen + 4)) {
		errno = EFBIG;
		return -1;
	}
	headers = grow(s->headers, &s->headers_cap, s->nheaders, sizeof(*s->headers));
	if (headers == NULL)
		return -1;
	s->headers = headers;
	/* nlen + vlen + 4 fits a size_t (checked above): so does nlen + vlen + 2. */
	if ((h.name = malloc(nlen + 1 + vlen + 1)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(h.name, name, nlen + 1);
	h.value = h.name + nlen + 1;
	crlf_copy(h.value, value, raw, bare);
	s->headers[s->nheaders++] = h;
	s->header_bytes += nlen + 2 + vlen + 2;
	return 0;
}

/*
 * over_limit - whether extra more bytes would take the message past max-message-size,
 * which bounds what the bridge holds of the whole message, headers included (the body
 * buffer's own limit is the same number and guards the body alone)
 */
static int over_limit(const struct session *s, size_t extra)
{
	size_t max = s->body.limit; /* max-message-size, set by session_new */
	size_t size = session_message_size(s);

	return max != 0 && (size > max || extra > max - size);
}

/*
 * count_body - add what the body's new bytes take escaped to body_json_len, up to and
 * including the last ASCII byte: a UTF-8 sequence cut by the chunk's end is counted with
 * the next chunk, or by request.c at the end
 */
static void count_body(struct session *s)
{
	const unsigned char *p = (const unsigned char *)s->body.data;
	size_t end = s->body.len, n;

	while (end > s->body_json_done && p[end - 1] >= 0x80)
		end--;
	if (end == s->body_json_done)
		return;
	n = request_json_length(p + s->body_json_done, end - s->body_json_done);
	s->body_json_len = n > SIZE_MAX - s->body_json_len ? SIZE_MAX : s->body_json_len + n;
	s->body_json_done = end;
}

/* session_append_body - append a body chunk, bounded by max-message-size */
int session_append_body(struct session *s, const void *data, size_t len)
{
	if (over_limit(s, len)) {
		errno = EFBIG;
		return -1;
	}
	if (buf_append(&s->body, data, len) < 0)
		return -1;
	count_body(s);
	return 0;
}

/* session_message_size - headers + separator + body, as message.size */
size_t session_message_size(const struct session *s)
{
	/* Saturate rather than wrap: a size past SIZE_MAX is over any limit anyway. */
	if (s->header_bytes > SIZE_MAX - 2 || s->body.len > SIZE_MAX - 2 - s->header_bytes)
		return SIZE_MAX;
	return s->header_bytes + 2 + s->body.len;
}

/* session_set_server_name - the MTA's name for itself (macro j), else [milter] server-name,
 * else the host name */
int session_set_server_name(struct session *s, const char *from_mta)
{
	char host[256];

	if (from_mta != NULL)
		return session_set(&s->server_name, from_mta);
	if (s->config != NULL && s->config->server_name != NULL)
		return session_set(&s->server_name, s->config->server_name);
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	return session_set(&s->server_name, host);
}

/* session_qid - the queue id for log lines, "-" before the MTA assigned one */
const char *session_qid(const struct session *s)
{
	return s->queue_id && s->queue_id[0] ? s->queue_id : "-";
}

/* session_end_message - clear the transaction and this message's decisions */
void session_end_message(struct session *s)
{
	/* The queue id belongs to the MTA and is read again from its macros: kept. */
	envaddr_clear(&s->from);
	s->has_from = 0;
	while (s->nrcpts > 0)
		session_drop_last_rcpt(s);
	headers_clear(s);
	buf_reset(&s->body);
	s->body_json_len = 0;
	s->body_json_done = 0;
	modlist_clear(&s->message_mods);
	free(s->quarantine_message);
	s->quarantine_message = NULL;
}

/* modlist_append - move *m into the list (m is zeroed on success) */
int modlist_append(struct modlist *l, struct modification *m)
{
	struct modification *items;

	if ((items = grow(l->items, &l->cap, l->count, sizeof(*l->items))) == NULL)
		return -1;
	l->items = items;
	l->items[l->count++] = *m;
	memset(m, 0, sizeof(*m));
	return 0;
}

/* mod_at - the modification at position pos of the three lists laid end to end, or NULL */
static const struct modification *mod_at(const struct session *s, size_t pos)
{
	const struct modlist *lists[3] = {&s->session_mods, &s->ehlo_mods, &s->message_mods};

	for (int l = 0; l < 3; l++) {
		if (pos < lists[l]->count)
			return &lists[l]->items[pos];
		pos -= lists[l]->count;
	}
	return NULL;
}

/* last_body - the replaceContents that wins: the last one received (as the reference does) */
static const struct modification *last_body(const struct session *s)
{
	const struct modification *m, *last = NULL;

	for (size_t pos = 0; (m = mod_at(s, pos)) != NULL; pos++)
		if (m->type == MOD_REPLACE_CONTENTS)
			last = m;
	return last;
}

/* session_next_mod - the next modification to apply at end of message, NULL at the end */
const struct modification *session_next_mod(const struct session *s, size_t *pos)
{
	const struct modification *m;

	while ((m = mod_at(s, *pos)) != NULL) {
		++*pos;
		/* Each earlier body is skipped: only the last replaceContents is applied. */
		if (m->type != MOD_REPLACE_CONTENTS || m == last_body(s))
			return m;
	}
	return NULL;
}

/* session_quarantine_reason - the quarantine reason for this message, NULL = none */
const char *session_quarantine_reason(const struct session *s)
{
	return s->quarantine_message ? s->quarantine_message : s->quarantine_session;
}

/* modlist_clear - free the items, keep the array */
void modlist_clear(struct modlist *l)
{
	for (size_t i = 0; i < l->count; i++)
		modification_free(&l->items[i]);
	l->count = 0;
}

/* session_ip_enter - count one more session from ip; returns the new count */
unsigned session_ip_enter(const char *ip)
{
	struct ip_count *e;
	unsigned count = 1;
	size_t len;

	if (ip == NULL)
		ip = "";
	len = strlen(ip);
	pthread_mutex_lock(&ip_lock);
	for (e = ip_table; e != NULL; e = e->next)
		if (strcmp(e->ip, ip) == 0)
			break;
	if (e != NULL) {
		if (e->count < UINT_MAX)
			e->count++;
		count = e->count;
	} else if (len < SIZE_MAX - sizeof(*e) && (e = malloc(sizeof(*e) + len + 1)) != NULL) {
		memcpy(e->ip, ip, len + 1);
		e->count = 1;
		e->next = ip_table;
		ip_table = e;
	}
	/*
	 * Without memory for an entry this session is simply not counted: the
	 * answer is still 1 (itself) and the matching leave finds nothing to undo.
	 */
	pthread_mutex_unlock(&ip_lock);
	return count;
}

/* session_ip_leave - count one session from ip less */
void session_ip_leave(const char *ip)
{
	struct ip_count **pp, *e;

	if (ip == NULL)
		ip = "";
	pthread_mutex_lock(&ip_lock);
	for (pp = &ip_table; (e = *pp) != NULL; pp = &e->next) {
		if (strcmp(e->ip, ip) != 0)
			continue;
		if (--e->count == 0) {
			*pp = e->next;
			free(e);
		}
		break;
	}
	pthread_mutex_unlock(&ip_lock);
}

/* envaddr_parse - the address without one pair of <> and the parameters of argv */
static int envaddr_parse(char **argv, struct envaddr *out)
{
	const char *addr = argv && argv[0] ? argv[0] : "";
	size_t len = strlen(addr);

	out->params = NULL;
	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
		addr++;
		len -= 2;
	}
	if ((out->address = malloc(len + 1)) == NULL)
		return -1;
	memcpy(out->address, addr, len);
	out->address[len] = '\0';
	if (argv && argv[0] && params_parse(argv + 1, &out->params) < 0) {
		free(out->address);
		out->address = NULL;
		return -1;
	}
	return 0;
}

/* params_parse - ESMTP "KEYWORD[=VALUE]" strings to an object, NULL when none */
static int params_parse(char **params, struct json_object **out)
{
	struct json_object *obj = NULL;

	*out = NULL;
	for (size_t i = 0; params[i] != NULL; i++) {
		/* An empty keyword is no parameter at all; skip it rather than invent one. */
		if (params[i][0] == '\0' || params[i][0] == '=')
			continue;
		if (obj == NULL && (obj = json_object_new_object()) == NULL)
			return -1;
		if (param_add(obj, params[i]) < 0) {
			json_object_put(obj);
			return -1;
		}
	}
	*out = obj;
	return 0;
}

/* param_add - add one "KEYWORD[=VALUE]" to obj, keyword lowercased */
static int param_add(struct json_object *obj, const char *param)
{
	const char *eq = strchr(param, '=');
	size_t klen = eq ? (size_t)(eq - param) : strlen(param);
	struct json_object *val = NULL;
	char *key;
	int rc;

	if ((key = malloc(klen + 1)) == NULL)
		return -1;
	for (size_t i = 0; i < klen; i++)
		key[i] = (char)tolower((unsigned char)param[i]);
	key[klen] = '\0';
	if (eq != NULL) {
		const char *v = eq + 1;
		long long n = 0;
		int numeric = 0;

		/* SIZE is a number in the reference's request; one too big stays a string. */
		if (strcmp(key, "size") == 0 && is_all_digits(v)) {
			errno = 0;
			n = strtoll(v, NULL, 10);
			numeric = errno == 0;
		}
		val = numeric ? json_object_new_int64((int64_t)n) : json_object_new_string(v);
		if (val == NULL) {
			free(key);
			return -1;
		}
	}
	/* A bare keyword maps to JSON null, which json-c represents as NULL. */
	rc = json_object_object_add(obj, key, val);
	free(key);
	if (rc != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

/* is_all_digits - a non-empty run of ASCII digits and nothing else */
static int is_all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* envaddr_clear - free an address and its parameters */
static void envaddr_clear(struct envaddr *a)
{
	free(a->address);
	json_object_put(a->params);
	a->address = NULL;
	a->params = NULL;
}

/* headers_clear - free every header, keep the array */
static void headers_clear(struct session *s)
{
	/* The value lives in the name's allocation (session_add_header). */
	for (size_t i = 0; i < s->nheaders; i++)
		free(s->headers[i].name);
	s->nheaders = 0;
	s->header_bytes = 0;
}

/* grow - room for one more element after count, doubling; the array, or NULL */
static void *grow(void *items, size_t *cap, size_t count, size_t size)
{
	size_t ncap;
	void *p;

	if (count < *cap)
		return items;
	if (*cap > SIZE_MAX / 2 / size) {
		errno = ENOMEM;
		return NULL;
	}
	ncap = *cap ? *cap * 2 : 4;
	if ((p = realloc(items, ncap * size)) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	*cap = ncap;
	return p;
}
