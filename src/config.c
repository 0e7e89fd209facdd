/* config.c - the daemon's configuration: load, validate, share, swap (see include/config.h) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, strndup, strcasecmp, explicit_bzero */
#endif
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "expr.h"
#include "log.h"
#include "toml.h"

#define CONFIG_FILE_MAX    (4u * 1024 * 1024) /* the largest configuration file read */
#define SUBST_FILE_MAX     (1u * 1024 * 1024) /* the largest %{file:...}% read */
#define SUBST_VALUE_MAX    (8u * 1024 * 1024) /* the longest value after substitutions */
#define KEY_MAX            512                /* a key in a message; longer ones are cut */
#define MSG_MAX            1024               /* a message; longer ones are cut */
#define SHOWN_MAX          128                /* the most of a value quoted in a message */
#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_MAX_MSG    ((size_t)64 * 1024 * 1024)
#define DEFAULT_MAX_RESP   ((size_t)52428800)
#define DEFAULT_MAX_CONN   8u
#define MAX_CONN_LIMIT     1024u /* the most options.max-connections may say */
#define DEFAULT_RETRY_MS   10000L
#define URLS_MAX           32 /* the most endpoints one hook may list */

/* A key a table knows; say is what "did you mean" offers for it (NULL: the name itself). */
struct known_key {
	const char *name;
	const char *say;
};

/* One parse: where messages go and what they name. */
struct parser {
	const char *name;     /* the file name written in messages */
	struct toml_doc *doc; /* for toml_line */
	struct config_errors *errs;
	unsigned exposed; /* the file's mode when group or others may read it, else 0 */
	int failed;       /* an error could not even be recorded (out of memory) */
};

/* A string value after substitutions, with the text it was written as. */
struct strval {
	char *value;     /* malloc'd, substitutions done */
	const char *raw; /* borrowed from the tree: safe to quote (it is what the file says) */
	size_t literal;  /* how many bytes of value the file holds itself, not substituted */
};

static void add_error(struct parser *p, unsigned line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_raw_error(struct parser *p, const char *text);
static void unknown_key(struct parser *p, unsigned line, const char *key, const char *name,
                        const struct known_key *known);
static const char *suggest(const char *name, const struct known_key *known);
static unsigned key_distance(const char *a, const char *b);
static int fold(char c);
static unsigned line_of(struct parser *p, const struct json_object *v, unsigned fallback);
static void key_join(char *out, size_t outlen, const char *prefix, const char *name, int quote);
static void shown(char *out, size_t outlen, const char *text);
static int get_string(struct parser *p, struct json_object *v, const char *key, unsigned line,
                      struct strval *out);
static int substitute(struct parser *p, const char *raw, size_t rawlen, const char *key,
                      unsigned line, char **out, size_t *literal);
static int subst_file(struct parser *p, const char *path, const char *key, unsigned line,
                      struct buf *out);
static int get_bool(struct parser *p, struct json_object *v, const char *key, unsigned line,
                    int *out);
static int get_size(struct parser *p, struct json_object *v, const char *key, unsigned line,
                    size_t *out);
static int get_duration(struct parser *p, struct json_object *v, const char *key, unsigned line,
                        long *out);
static int check_url(const char *url);
static const char *check_header(const char *header);
static struct config *parse_text(const char *text, size_t len, const char *name, unsigned exposed,
                                 struct config_errors *errs);
static void parse_milter(struct parser *p, struct json_object *tbl, struct config *cfg);
static void parse_metrics(struct parser *p, struct json_object *tbl, struct config *cfg);
static void parse_session(struct parser *p, struct json_object *tbl, struct config *cfg);
static void parse_hook(struct parser *p, const char *id, struct json_object *tbl,
                       struct hook *hook);
static void parse_enable(struct parser *p, struct json_object *v, const char *key, unsigned line,
                         struct hook *hook);
static struct json_object *enable_copy(struct parser *p, struct json_object *v, const char *key,
                                       unsigned line, int depth, int *changed);
static struct json_object *enable_part(struct json_object *v, const char *where);
static void parse_stages(struct parser *p, struct json_object *v, const char *key, unsigned line,
                         struct hook *hook);
static void parse_headers(struct parser *p, struct json_object *v, const char *key, unsigned line,
                          struct hook *hook);
static void parse_options(struct parser *p, struct json_object *tbl, const char *prefix,
                          struct hook *hook);
static void parse_auth(struct parser *p, struct json_object *tbl, const char *prefix,
                       struct hook *hook);
static void parse_url(struct parser *p, struct json_object *v, const char *key, unsigned line,
                      struct hook *hook);
static void parse_urls(struct parser *p, struct json_object *v, const char *key, unsigned line,
                       struct hook *hook);
static void parse_tls(struct parser *p, struct json_object *tbl, const char *prefix,
                      struct hook *hook);
static void parse_signature(struct parser *p, struct json_object *tbl, const char *prefix,
                            struct hook *hook);
static int get_path(struct parser *p, struct json_object *v, const char *key, unsigned line,
                    int dir, char **out);
static void set_path(struct parser *p, struct json_object *v, const char *key, unsigned line,
                     int dir, char **field);
static int get_secret(struct parser *p, struct json_object *v, const char *key, unsigned line,
                      char **out);
static void urls_free(struct hook *hook);
static void parse_max_connections(struct parser *p, struct json_object *v, const char *key,
                                  unsigned line, struct hook *hook);
static void parse_balance(struct parser *p, struct json_object *v, const char *key, unsigned line,
                          struct hook *hook);
static void hook_clear(struct hook *hook);
static void config_free(struct config *cfg);
static void secret_free(char *s);
static void lock_current(void);
static void unlock_current(void);

static const char *const stage_names[STAGE_COUNT] = {"connect", "ehlo", "mail", "rcpt", "data"};

/*
 * The keys of each table, for "did you mean". A key that belongs one table further down
 * (tempfail-on-error written in the hook's table) is offered with its path from where it
 * was written.
 */
static const struct known_key top_keys[] = {
    {"milter", NULL}, {"metrics", NULL}, {"session", NULL}, {"hook", "session.hook"}, {NULL, NULL}};
static const struct known_key milter_keys[] = {
    {"listen", NULL}, {"server-name", NULL}, {"max-message-size", NULL}, {NULL, NULL}};
static const struct known_key metrics_keys[] = {{"listen", NULL}, {NULL, NULL}};
static const struct known_key session_keys[] = {{"hook", NULL}, {NULL, NULL}};
static const struct known_key hook_keys[] = {
    {"enable", NULL},
    {"url", NULL},
    {"stages", NULL},
    {"timeout", NULL},
    {"allow-invalid-certs", NULL},
    {"headers", NULL},
    {"options", NULL},
    {"auth", NULL},
    {"urls", NULL},
    {"tls", NULL},
    {"signature", NULL},
    {"tempfail-on-error", "options.tempfail-on-error"},
    {"max-response-size", "options.max-response-size"},
    {"max-connections", "options.max-connections"},
    {"http2-prior-knowledge", "options.http2-prior-knowledge"},
    {"balance", "options.balance"},
    {"retry-after", "options.retry-after"},
    {"use-proxy", "options.use-proxy"},
    {"username", "auth.username"},
    {"secret", "auth.secret"},
    {"ca-file", "tls.ca-file"},
    {"ca-path", "tls.ca-path"},
    {"cert-file", "tls.cert-file"},
    {"key-file", "tls.key-file"},
    {"min-version", "tls.min-version"},
    {NULL, NULL}};
static const struct known_key options_keys[] = {
    {"tempfail-on-error", NULL}, {"max-response-size", NULL},
    {"max-connections", NULL},   {"http2-prior-knowledge", NULL},
    {"balance", NULL},           {"retry-after", NULL},
    {"use-proxy", NULL},         {"http2", "http2-prior-knowledge"},
    {"proxy", "use-proxy"},      {NULL, NULL}};
/* curl and nginx spell some of them without the dash. */
static const struct known_key tls_keys[] = {{"ca-file", NULL},
                                            {"ca-path", NULL},
                                            {"cert-file", NULL},
                                            {"key-file", NULL},
                                            {"min-version", NULL},
                                            {"cacert", "ca-file"},
                                            {"capath", "ca-path"},
                                            {"cert", "cert-file"},
                                            {"key", "key-file"},
                                            {"allow-invalid-certs", "allow-invalid-certs (in the "
                                                                    "hook's table)"},
                                            {NULL, NULL}};
static const struct known_key signature_keys[] = {
    {"secret", NULL}, {"key", "secret"}, {NULL, NULL}};
/* Other programs call them user and password. */
static const struct known_key auth_keys[] = {{"username", NULL},
                                             {"secret", NULL},
                                             {"user", "username"},
                                             {"password", "secret"},
                                             {NULL, NULL}};

/* The daemon-wide snapshot; the mutex makes "read the pointer, take a reference" one step. */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config *current;

/* stage_name - "connect", "ehlo", "mail", "rcpt" or "data" */
const char *stage_name(enum stage stage)
{
	if ((unsigned)stage >= STAGE_COUNT)
		return "unknown";
	return stage_names[stage];
}

/* stage_parse - case-insensitive name to stage: 0 ok, 1 "auth" (valid, never fires), -1 unknown */
int stage_parse(const char *name, enum stage *stage)
{
	if (name == NULL)
		return -1;
	for (unsigned i = 0; i < STAGE_COUNT; i++) {
		if (strcasecmp(name, stage_names[i]) == 0) {
			*stage = (enum stage)i;
			return 0;
		}
	}
	/* Stalwart has an auth stage; milter never sees the AUTH command itself. */
	if (strcasecmp(name, "auth") == 0)
		return 1;
	return -1;
}

/* A unit a size or duration may carry, and what it multiplies by. */
struct unit {
	const char *suffix;
	uint64_t factor;
};

static const struct unit duration_units[] = {
    {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {NULL, 0}};
static const struct unit size_units[] = {{"", 1},
                                         {"k", 1024},
                                         {"kb", 1024},
                                         {"m", (uint64_t)1024 * 1024},
                                         {"mb", (uint64_t)1024 * 1024},
                                         {"g", (uint64_t)1024 * 1024 * 1024},
                                         {"gb", (uint64_t)1024 * 1024 * 1024},
                                         {NULL, 0}};

/* parse_units - digits then one of units (case-insensitive), at most max: 0 ok, -1 invalid */
static int parse_units(const char *text, const struct unit *units, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;
	const char *s = text;

	if (text == NULL || !isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (n > (max - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	for (; units->suffix != NULL; units++) {
		if (strcasecmp(s, units->suffix) != 0)
			continue;
		if (n > max / units->factor)
			return -1;
		*out = n * units->factor;
		return 0;
	}
	return -1;
}

/* parse_duration - "30s", "500ms", "2m", "1h", "1d", or bare milliseconds: 0 ok, -1 invalid */
int parse_duration(const char *text, long *ms)
{
	uint64_t n;

	if (parse_units(text, duration_units, LONG_MAX, &n) < 0)
		return -1;
	*ms = (long)n;
	return 0;
}

/* parse_size - bytes, or "kb"/"mb"/"gb" (powers of 1024, case-insensitive): 0 ok, -1 invalid */
int parse_size(const char *text, size_t *bytes)
{
	uint64_t n;

	if (parse_units(text, size_units, SIZE_MAX, &n) < 0)
		return -1;
	*bytes = (size_t)n;
	return 0;
}

/* config_load - read and validate a configuration file */
struct config *config_load(const char *path, struct config_errors *errs)
{
	struct parser p = {.name = path, .errs = errs};
	struct config *cfg;
	struct stat st;
	unsigned exposed = 0;
	char *text;
	size_t len;
	FILE *fp;

	fp = fopen(path, "rb");
	if (fp == NULL) {
		char msg[MSG_MAX];

		snprintf(msg, sizeof(msg), "%s: cannot read: %s", path, strerror(errno));
		add_raw_error(&p, msg);
		return NULL;
	}
	/* A secret written in clear is warned about when others can read it (parse_auth). */
	if (fstat(fileno(fp), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
		exposed = (unsigned)(st.st_mode & 07777);
	/* One byte more than the limit tells a file that is too large from one that fits. */
	text = malloc(CONFIG_FILE_MAX + 1);
	if (text == NULL) {
		fclose(fp);
		add_raw_error(&p, "out of memory");
		return NULL;
	}
	len = fread(text, 1, CONFIG_FILE_MAX + 1, fp);
	if (ferror(fp)) {
		char msg[MSG_MAX];

		snprintf(msg, sizeof(msg), "%s: cannot read: %s", path, strerror(errno));
		add_raw_error(&p, msg);
		fclose(fp);
		free(text);
		return NULL;
	}
	fclose(fp);
	if (len > CONFIG_FILE_MAX) {
		char msg[MSG_MAX];

		snprintf(msg, sizeof(msg), "%s: cannot read: file is larger than %u MiB", path,
		         CONFIG_FILE_MAX / (1024 * 1024));
		add_raw_error(&p, msg);
		free(text);
		return NULL;
	}
	cfg = parse_text(text, len, path, exposed, errs);
	free(text);
	return cfg;
}

/* config_parse - read and validate configuration text; name stands for the file */
struct config *config_parse(const char *text, size_t len, const char *name,
                            struct config_errors *errs)
{
	return parse_text(text, len, name, 0, errs);
}

/* parse_text - config_parse, knowing whether the file is readable by others (its mode) */
static struct config *parse_text(const char *text, size_t len, const char *name, unsigned exposed,
                                 struct config_errors *errs)
{
	struct parser p = {.name = name ? name : "<config>", .errs = errs, .exposed = exposed};
	size_t before = errs->count;
	struct json_object *root;
	struct config *cfg;
	char err[512];

	err[0] = '\0';
	p.doc = toml_parse(text, len, err, sizeof(err));
	if (p.doc == NULL) {
		unsigned long line = 0;
		const char *what = err;
		char *end;

		/* toml.c says "line N: what"; we say "FILE:N: syntax error: what". */
		if (strncmp(err, "line ", 5) == 0) {
			line = strtoul(err + 5, &end, 10);
			if (end != err + 5 && end[0] == ':') {
				what = end + 1;
				while (*what == ' ')
					what++;
			} else {
				line = 0;
			}
		}
		if (line > 0)
			add_error(&p, (unsigned)line, NULL, "syntax error: %s", what);
		else
			add_error(&p, 0, NULL, "syntax error: %s",
			          what[0] ? what : "unreadable TOML");
		return NULL;
	}

	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		toml_free(p.doc);
		add_raw_error(&p, "out of memory");
		return NULL;
	}
	cfg->refs = 1;
	cfg->path = strdup(p.name);
	cfg->listen = strdup(CONFIG_DEFAULT_LISTEN);
	cfg->max_message_size = DEFAULT_MAX_MSG;
	if (cfg->path == NULL || cfg->listen == NULL)
		add_error(&p, 0, NULL, "out of memory");

	root = toml_root(p.doc);
	if (root != NULL && json_object_is_type(root, json_type_object)) {
		struct json_object_iterator it = json_object_iter_begin(root);
		struct json_object_iterator end = json_object_iter_end(root);

		for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
			const char *k = json_object_iter_peek_name(&it);
			struct json_object *v = json_object_iter_peek_value(&it);
			char key[KEY_MAX];

			key_join(key, sizeof(key), NULL, k, 0);
			if (strcmp(k, "milter") == 0) {
				if (json_object_is_type(v, json_type_object))
					parse_milter(&p, v, cfg);
				else
					add_error(&p, line_of(&p, v, 0), key, "expected a table");
			} else if (strcmp(k, "metrics") == 0) {
				if (json_object_is_type(v, json_type_object))
					parse_metrics(&p, v, cfg);
				else
					add_error(&p, line_of(&p, v, 0), key, "expected a table");
			} else if (strcmp(k, "session") == 0) {
				if (json_object_is_type(v, json_type_object))
					parse_session(&p, v, cfg);
				else
					add_error(&p, line_of(&p, v, 0), key, "expected a table");
			} else {
				unknown_key(&p, line_of(&p, v, 0), key, k, top_keys);
			}
		}
	}

	for (size_t i = 0; i < cfg->nhooks; i++)
		if (cfg->hooks[i].enable)
			cfg->stages |= cfg->hooks[i].stages;
	toml_free(p.doc);
	if (p.failed || errs->count > before) {
		config_free(cfg);
		return NULL;
	}
	if (cfg->nhooks == 0)
		log_msg(LOG_WARNING,
		        "%s: no [session.hook.\"<id>\"] configured; every message passes", p.name);
	return cfg;
}

/* config_errors_free - free the messages and zero the list */
void config_errors_free(struct config_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->count; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->count = 0;
}

/* config_ref - take another reference */
struct config *config_ref(struct config *cfg)
{
	if (cfg != NULL)
		__atomic_add_fetch(&cfg->refs, 1, __ATOMIC_RELAXED);
	return cfg;
}

/* config_unref - drop a reference, freeing on the last one; NULL is ignored */
void config_unref(struct config *cfg)
{
	if (cfg == NULL)
		return;
	/* Release so our reads of cfg happen before the free; acquire so the freer sees them. */
	if (__atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(cfg);
}

/* config_set_current - make cfg the daemon's snapshot (takes the caller's reference) */
void config_set_current(struct config *cfg)
{
	struct config *old;

	lock_current();
	old = current;
	current = cfg;
	unlock_current();
	/* Sessions holding old keep it alive; the last of them frees it. */
	config_unref(old);
}

/* config_current - a new reference to the snapshot, NULL before the first set */
struct config *config_current(void)
{
	struct config *cfg;

	lock_current();
	cfg = config_ref(current);
	unlock_current();
	return cfg;
}

/* lock_current - take the snapshot lock; a failure here is a broken program */
static void lock_current(void)
{
	if (pthread_mutex_lock(&current_lock) != 0)
		abort();
}

/* unlock_current - release the snapshot lock */
static void unlock_current(void)
{
	if (pthread_mutex_unlock(&current_lock) != 0)
		abort();
}

/* config_free - free a configuration and everything it owns */
static void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nhooks; i++)
		hook_clear(&cfg->hooks[i]);
	free(cfg->hooks);
	free(cfg->path);
	free(cfg->listen);
	free(cfg->server_name);
	free(cfg->metrics_listen);
	free(cfg);
}

/* hook_clear - free what a hook owns */
static void hook_clear(struct hook *hook)
{
	free(hook->id);
	expr_free(hook->enable_expr);
	urls_free(hook);
	for (size_t i = 0; i < hook->nheaders; i++)
		secret_free(hook->headers[i]); /* "Authorization: Bearer ..." is a secret too */
	free(hook->headers);
	free(hook->auth_username);
	secret_free(hook->auth_secret);
	free(hook->tls_ca_file);
	free(hook->tls_ca_path);
	free(hook->tls_cert_file);
	free(hook->tls_key_file);
	secret_free(hook->signature_secret);
	memset(hook, 0, sizeof(*hook));
}

/* urls_free - free a hook's endpoints; url is one of them */
static void urls_free(struct hook *hook)
{
	/* A URL may hold "user:password@". */
	for (size_t i = 0; i < hook->nurls; i++)
		secret_free(hook->urls[i]);
	free(hook->urls);
	hook->urls = NULL;
	hook->nurls = 0;
	hook->url = NULL;
}

/* secret_free - wipe and free a string that may hold a secret */
static void secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* add_raw_error - append one finished message to the list */
static void add_raw_error(struct parser *p, const char *text)
{
	char **msgs;
	char *copy;

	if (p->errs->count >= SIZE_MAX / sizeof(*msgs) - 1) {
		p->failed = 1;
		return;
	}
	copy = strdup(text);
	if (copy == NULL) {
		p->failed = 1;
		return;
	}
	msgs = realloc(p->errs->msgs, (p->errs->count + 1) * sizeof(*msgs));
	if (msgs == NULL) {
		free(copy);
		p->failed = 1;
		return;
	}
	msgs[p->errs->count++] = copy;
	p->errs->msgs = msgs;
}

/* add_error - append "FILE:LINE: KEY: message" (LINE or KEY left out when unknown) */
static void add_error(struct parser *p, unsigned line, const char *key, const char *fmt, ...)
{
	char msg[MSG_MAX];
	char where[64];
	char *text;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	where[0] = '\0';
	if (line > 0)
		snprintf(where, sizeof(where), ":%u", line);
	n = strlen(p->name) + strlen(where) + (key ? strlen(key) + 2 : 0) + strlen(msg) + 3;
	text = malloc(n);
	if (text == NULL) {
		p->failed = 1;
		return;
	}
	snprintf(text, n, "%s%s: %s%s%s", p->name, where, key ? key : "", key ? ": " : "", msg);
	add_raw_error(p, text);
	free(text);
}

/* unknown_key - "unknown key", with the known key it is close to when there is one */
static void unknown_key(struct parser *p, unsigned line, const char *key, const char *name,
                        const struct known_key *known)
{
	const char *close = suggest(name, known);

	if (close != NULL)
		add_error(p, line, key, "unknown key; did you mean \"%s\"?", close);
	else
		add_error(p, line, key, "unknown key");
}

/*
 * suggest - the known key closest to name, or NULL when none is close enough. Close is
 * at most two edits (one for keys of four letters or fewer, where two edits reach
 * unrelated words); a key differing only in case or in '_' for '-' is always offered.
 * The first of equally close keys wins.
 */
static const char *suggest(const char *name, const struct known_key *known)
{
	const char *best = NULL;
	unsigned best_d = UINT_MAX;

	for (; known->name != NULL; known++) {
		unsigned d = key_distance(name, known->name);
		unsigned limit = strlen(known->name) <= 4 ? 1 : 2;

		if (d <= limit && d < best_d) {
			best_d = d;
			best = known->say ? known->say : known->name;
		}
	}
	return best;
}

/* fold - a key character as compared: letter case, '_' and ' ' for '-' do not count */
static int fold(char c)
{
	if (c == '_' || c == ' ')
		return '-';
	return tolower((unsigned char)c);
}

/*
 * key_distance - edits (insert, delete, replace, swap two neighbours) from a to b, with
 * fold()ed characters equal; UINT_MAX for keys too long to be typos of ours.
 */
static unsigned key_distance(const char *a, const char *b)
{
	enum { LEN_MAX = 32 };
	unsigned rows[3][LEN_MAX + 1];
	unsigned *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
	size_t la = strlen(a), lb = strlen(b);

	if (la > LEN_MAX || lb > LEN_MAX)
		return UINT_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned *t;

		cur[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
			unsigned v = prev[j - 1] + cost;

			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
			    fold(a[i - 2]) == fold(b[j - 1]) && prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

/* line_of - the line a value was written on, or fallback when the tree does not know */
static unsigned line_of(struct parser *p, const struct json_object *v, unsigned fallback)
{
	unsigned line = v ? toml_line(p->doc, v) : 0;

	return line ? line : fallback;
}

/* key_join - prefix.name, name quoted TOML-style when not bare or when quote is set */
static void key_join(char *out, size_t outlen, const char *prefix, const char *name, int quote)
{
	size_t n = 0;
	int bare = name[0] != '\0' && !quote;

	for (const char *s = name; bare && *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			bare = 0;
	out[0] = '\0';
	if (prefix && prefix[0])
		n = (size_t)snprintf(out, outlen, "%s.", prefix);
	if (n >= outlen)
		return;
	if (bare) {
		snprintf(out + n, outlen - n, "%s", name);
		return;
	}
	shown(out + n, outlen - n, name);
}

/* shown - text as a TOML basic string for a message: quoted, escaped, cut when long */
static void shown(char *out, size_t outlen, const char *text)
{
	size_t n = 0, i;

	if (outlen < 3) {
		if (outlen)
			out[0] = '\0';
		return;
	}
	out[n++] = '"';
	/* Keep 8 bytes for an escape, "...", the closing quote and the NUL. */
	for (i = 0; text[i] && i < SHOWN_MAX && n + 10 < outlen; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(out + n, outlen - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	if (text[i] && n + 4 < outlen) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n++] = '"';
	out[n] = '\0';
}

/* get_string - a string value with substitutions done; 0 ok, -1 reported */
static int get_string(struct parser *p, struct json_object *v, const char *key, unsigned line,
                      struct strval *out)
{
	const char *raw;
	int len;

	out->value = NULL;
	out->raw = NULL;
	out->literal = 0;
	if (!json_object_is_type(v, json_type_string)) {
		add_error(p, line, key, "expected a string");
		return -1;
	}
	raw = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (len < 0 || strlen(raw) != (size_t)len) {
		add_error(p, line, key, "a NUL character is not allowed");
		return -1;
	}
	if (substitute(p, raw, (size_t)len, key, line, &out->value, &out->literal) < 0)
		return -1;
	out->raw = raw;
	return 0;
}

/*
 * substitute - replace %{env:NAME}% and %{file:/path}% in raw; 0 ok, -1 reported.
 * One pass: what a variable or file brings in is not looked at again, so a value
 * cannot pull in another file. Messages name the variable or file, never the value.
 */
static int substitute(struct parser *p, const char *raw, size_t rawlen, const char *key,
                      unsigned line, char **out, size_t *literal)
{
	struct buf b = BUF_INIT(SUBST_VALUE_MAX);
	size_t i = 0;
	int rc = 0;

	*out = NULL;
	*literal = 0;
	while (i < rawlen) {
		const char *open = memchr(raw + i, '%', rawlen - i);
		const char *body, *close = NULL;
		size_t at, blen;

		if (open == NULL) {
			if (buf_append(&b, raw + i, rawlen - i) < 0)
				goto too_long;
			*literal += rawlen - i;
			break;
		}
		at = (size_t)(open - raw);
		if (buf_append(&b, raw + i, at - i) < 0)
			goto too_long;
		*literal += at - i;
		i = at;
		if (at + 1 >= rawlen || raw[at + 1] != '{') {
			if (buf_append(&b, "%", 1) < 0)
				goto too_long;
			*literal += 1;
			i++;
			continue;
		}
		body = raw + at + 2;
		for (const char *s = body; s + 1 < raw + rawlen; s++) {
			if (s[0] == '}' && s[1] == '%') {
				close = s;
				break;
			}
		}
		blen = close ? (size_t)(close - body) : rawlen - (at + 2);
		if (blen >= 4 && strncmp(body, "env:", 4) == 0) {
			char name[256];
			const char *val;

			if (close == NULL) {
				add_error(p, line, key, "unterminated %%{env:...}%% substitution");
				rc = -1;
				break;
			}
			if (blen - 4 == 0 || blen - 4 >= sizeof(name)) {
				add_error(p, line, key,
				          "invalid environment variable name in %%{env:...}%%");
				rc = -1;
				break;
			}
			memcpy(name, body + 4, blen - 4);
			name[blen - 4] = '\0';
			val = getenv(name);
			if (val == NULL) {
				char q[SHOWN_MAX + 16];

				shown(q, sizeof(q), name);
				add_error(p, line, key, "environment variable %s is not set", q);
				rc = -1;
				break;
			}
			if (buf_append_str(&b, val) < 0)
				goto too_long;
		} else if (blen >= 5 && strncmp(body, "file:", 5) == 0) {
			char path[4096];

			if (close == NULL) {
				add_error(p, line, key, "unterminated %%{file:...}%% substitution");
				rc = -1;
				break;
			}
			if (blen - 5 == 0 || blen - 5 >= sizeof(path)) {
				add_error(p, line, key, "invalid file name in %%{file:...}%%");
				rc = -1;
				break;
			}
			memcpy(path, body + 5, blen - 5);
			path[blen - 5] = '\0';
			if (subst_file(p, path, key, line, &b) < 0) {
				rc = -1;
				break;
			}
		} else {
			size_t cl = 0;

			/* %{cfg:...}% and friends exist in Stalwart; a typo must not pass silently.
			 */
			while (cl < blen && cl < 16 && islower((unsigned char)body[cl]))
				cl++;
			if (close != NULL && cl > 0 && cl < blen && body[cl] == ':') {
				add_error(p, line, key,
				          "unsupported substitution %%{%.*s:...}%% (use "
				          "%%{env:NAME}%% or "
				          "%%{file:/path}%%)",
				          (int)cl, body);
				rc = -1;
				break;
			}
			if (buf_append(&b, "%{", 2) < 0)
				goto too_long;
			*literal += 2;
			i = at + 2;
			continue;
		}
		i = (size_t)(close - raw) + 2;
	}
	if (rc == 0 && memchr(b.data ? b.data : "", '\0', b.len) != NULL) {
		add_error(p, line, key, "a substituted value holds a NUL character");
		rc = -1;
	}
	if (rc < 0) {
		if (b.data)
			explicit_bzero(b.data, b.len);
		buf_free(&b);
		return -1;
	}
	if (b.data == NULL) {
		*out = strdup("");
		if (*out == NULL) {
			add_error(p, line, key, "out of memory");
			return -1;
		}
		return 0;
	}
	*out = b.data; /* the buffer hands over its NUL-terminated bytes */
	return 0;

too_long:
	if (errno == ENOMEM)
		add_error(p, line, key, "out of memory");
	else
		add_error(p, line, key, "value longer than %u MiB after substitution",
		          SUBST_VALUE_MAX / (1024 * 1024));
	if (b.data)
		explicit_bzero(b.data, b.len);
	buf_free(&b);
	return -1;
}

/* subst_file - append a file's content, less one trailing newline; 0 ok, -1 reported */
static int subst_file(struct parser *p, const char *path, const char *key, unsigned line,
                      struct buf *out)
{
	char q[SHOWN_MAX + 16];
	char *data;
	size_t n, got;
	FILE *fp;
	int rc = 0;

	shown(q, sizeof(q), path);
	fp = fopen(path, "rb");
	if (fp == NULL) {
		add_error(p, line, key, "cannot read file %s: %s", q, strerror(errno));
		return -1;
	}
	data = malloc(SUBST_FILE_MAX + 1);
	if (data == NULL) {
		fclose(fp);
		add_error(p, line, key, "out of memory");
		return -1;
	}
	n = got = fread(data, 1, SUBST_FILE_MAX + 1, fp);
	if (ferror(fp)) {
		add_error(p, line, key, "cannot read file %s: %s", q, strerror(errno));
		rc = -1;
	} else if (n > SUBST_FILE_MAX) {
		add_error(p, line, key, "file %s is larger than %u MiB", q,
		          SUBST_FILE_MAX / (1024 * 1024));
		rc = -1;
	} else {
		/* Editors end files with a newline; the secret does not include it. */
		if (n > 0 && data[n - 1] == '\n') {
			n--;
			if (n > 0 && data[n - 1] == '\r')
				n--;
		}
		if (memchr(data, '\0', n) != NULL) {
			add_error(p, line, key, "file %s holds a NUL byte", q);
			rc = -1;
		} else if (buf_append(out, data, n) < 0) {
			add_error(p, line, key, "value longer than %u MiB after substitution",
			          SUBST_VALUE_MAX / (1024 * 1024));
			rc = -1;
		}
	}
	fclose(fp);
	explicit_bzero(data, got);
	free(data);
	return rc;
}

/* get_bool - a boolean, or the strings "true"/"false" as Stalwart writes them; 0 ok, -1 reported */
static int get_bool(struct parser *p, struct json_object *v, const char *key, unsigned line,
                    int *out)
{
	struct strval s;
	int rc = 0;

	if (json_object_is_type(v, json_type_boolean)) {
		*out = json_object_get_boolean(v) ? 1 : 0;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string)) {
		add_error(p, line, key, "expected a boolean");
		return -1;
	}
	if (get_string(p, v, key, line, &s) < 0)
		return -1;
	if (strcmp(s.value, "true") == 0) {
		*out = 1;
	} else if (strcmp(s.value, "false") == 0) {
		*out = 0;
	} else {
		add_error(p, line, key, "expected a boolean");
		rc = -1;
	}
	free(s.value);
	return rc;
}

/* A quantity a key may give as a positive integer or as a string with a unit. */
struct quantity {
	const char *expected;  /* the type error */
	const char *noun;      /* "size" or "duration", for the parse error */
	const char *hint;      /* what the parse error suggests */
	const char *too_large; /* an integer above max */
	uint64_t max;
	const struct unit *units; /* the units a string may carry */
};

static const struct quantity size_quantity = {
    .expected = "expected a size (bytes, or a string such as \"50mb\")",
    .noun = "size",
    .hint = "use bytes, kb, mb or gb",
    .too_large = "size too large",
    .max = SIZE_MAX,
    .units = size_units,
};
static const struct quantity duration_quantity = {
    .expected = "expected a duration (such as \"30s\")",
    .noun = "duration",
    .hint = "use ms, s, m, h or d",
    .too_large = "duration too large",
    .max = LONG_MAX,
    .units = duration_units,
};

/* get_quantity - a positive integer or a string with a unit; 0 ok, -1 reported */
static int get_quantity(struct parser *p, struct json_object *v, const char *key, unsigned line,
                        const struct quantity *kind, uint64_t *out)
{
	struct strval s;
	char q[SHOWN_MAX + 16];
	int rc = 0;

	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);

		if (n <= 0) {
			add_error(p, line, key, "must be greater than zero");
			return -1;
		}
		if ((uint64_t)n > kind->max) {
			add_error(p, line, key, "%s", kind->too_large);
			return -1;
		}
		*out = (uint64_t)n;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string)) {
		add_error(p, line, key, "%s", kind->expected);
		return -1;
	}
	if (get_string(p, v, key, line, &s) < 0)
		return -1;
	shown(q, sizeof(q), s.raw);
	if (parse_units(s.value, kind->units, kind->max, out) < 0) {
		add_error(p, line, key, "invalid %s %s (%s)", kind->noun, q, kind->hint);
		rc = -1;
	} else if (*out == 0) {
		add_error(p, line, key, "must be greater than zero");
		rc = -1;
	}
	free(s.value);
	return rc;
}

/* get_size - integer bytes or a size string, greater than zero; 0 ok, -1 reported */
static int get_size(struct parser *p, struct json_object *v, const char *key, unsigned line,
                    size_t *out)
{
	uint64_t n;

	if (get_quantity(p, v, key, line, &size_quantity, &n) < 0)
		return -1;
	*out = (size_t)n;
	return 0;
}

/* get_duration - integer milliseconds or a duration string, greater than zero; 0 ok, -1 reported */
static int get_duration(struct parser *p, struct json_object *v, const char *key, unsigned line,
                        long *out)
{
	uint64_t n;

	if (get_quantity(p, v, key, line, &duration_quantity, &n) < 0)
		return -1;
	*out = (long)n;
	return 0;
}

/* config_check_listen - libmilter's socket forms: 0 ok, -1 not one of them */
int config_check_listen(const char *listen)
{
	const char *rest;
	unsigned long port = 0;
	size_t digits = 0;

	for (const char *s = listen; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ' ')
			return -1;
	if (strncmp(listen, "unix:", 5) == 0)
		return listen[5] ? 0 : -1;
	if (strncmp(listen, "local:", 6) == 0)
		return listen[6] ? 0 : -1;
	if (strncmp(listen, "inet:", 5) == 0)
		rest = listen + 5;
	else if (strncmp(listen, "inet6:", 6) == 0)
		rest = listen + 6;
	else
		return -1;
	for (; isdigit((unsigned char)*rest) && digits < 6; rest++, digits++)
		port = port * 10 + (unsigned long)(*rest - '0');
	if (digits == 0 || digits > 5 || port < 1 || port > 65535)
		return -1;
	if (rest[0] != '@' || rest[1] == '\0')
		return -1;
	return 0;
}

/* config_metrics_address - "A.B.C.D:PORT" or "[IPv6]:PORT" into its parts; 0 ok, -1 invalid */
int config_metrics_address(const char *listen, char *host, size_t hostlen, int *family,
                           unsigned *port)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *colon, *start = listen;
	size_t alen, digits = 0;
	unsigned long p = 0;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		start = listen + 1;
		alen = (size_t)(close - start);
		colon = close + 1;
		*family = AF_INET6;
	} else {
		/* An IPv6 address must be bracketed: its own colons would hide the port's. */
		if ((colon = strchr(listen, ':')) == NULL || strchr(colon + 1, ':') != NULL)
			return -1;
		alen = (size_t)(colon - start);
		*family = AF_INET;
	}
	if (alen == 0 || alen >= sizeof(addr) || alen >= hostlen)
		return -1;
	memcpy(addr, start, alen);
	addr[alen] = '\0';
	/* Numeric addresses only: a name would be resolved once, at start, to who knows what. */
	if (inet_pton(*family, addr, bin) != 1)
		return -1;
	for (const char *s = colon + 1; *s; s++, digits++) {
		if (!isdigit((unsigned char)*s) || digits >= 5)
			return -1;
		p = p * 10 + (unsigned long)(*s - '0');
	}
	if (digits == 0 || p < 1 || p > 65535)
		return -1;
	memcpy(host, addr, alen + 1);
	*port = (unsigned)p;
	return 0;
}

/* check_url - http:// or https:// with something after it, no spaces or controls: 0 ok, -1 not */
static int check_url(const char *url)
{
	const char *host;

	if (strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return -1;
	if (*host == '\0' || *host == '/')
		return -1;
	for (const char *s = url; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return -1;
	return 0;
}

/* check_header - NULL when "Name: value" is a valid header line, else what is wrong */
static const char *check_header(const char *header)
{
	const char *colon;

	if (strpbrk(header, "\r\n") != NULL)
		return "must not contain CR or LF";
	colon = strchr(header, ':');
	if (colon == NULL)
		return "expected \"Name: value\" (no ':' found)";
	if (colon == header)
		return "empty header name";
	/* The name is an RFC 9110 token: no spaces, controls or separators. */
	for (const char *s = header; s < colon; s++)
		if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return "invalid header name";
	for (const char *s = colon + 1; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return "control character in header value";
	return NULL;
}

/* parse_milter - the [milter] table */
static void parse_milter(struct parser *p, struct json_object *tbl, struct config *cfg)
{
	struct json_object_iterator it = json_object_iter_begin(tbl);
	struct json_object_iterator end = json_object_iter_end(tbl);
	unsigned tline = line_of(p, tbl, 0);

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		unsigned line = line_of(p, v, tline);
		char key[KEY_MAX];
		struct strval s;

		key_join(key, sizeof(key), "milter", k, 0);
		if (strcmp(k, "listen") == 0) {
			if (get_string(p, v, key, line, &s) < 0)
				continue;
			if (config_check_listen(s.value) < 0) {
				char q[SHOWN_MAX + 16];

				shown(q, sizeof(q), s.raw);
				add_error(p, line, key,
				          "invalid socket %s (use unix:/path, local:/path, "
				          "inet:PORT@HOST or inet6:PORT@HOST, PORT 1-65535)",
				          q);
				free(s.value);
				continue;
			}
			free(cfg->listen);
			cfg->listen = s.value;
		} else if (strcmp(k, "server-name") == 0) {
			if (get_string(p, v, key, line, &s) < 0)
				continue;
			if (s.value[0] == '\0' || strpbrk(s.value, "\r\n\t ") != NULL) {
				add_error(p, line, key,
				          "must be a host name (not empty, no spaces)");
				free(s.value);
				continue;
			}
			free(cfg->server_name);
			cfg->server_name = s.value;
		} else if (strcmp(k, "max-message-size") == 0) {
			get_size(p, v, key, line, &cfg->max_message_size);
		} else {
			unknown_key(p, line, key, k, milter_keys);
		}
	}
}

/* parse_metrics - the [metrics] table */
static void parse_metrics(struct parser *p, struct json_object *tbl, struct config *cfg)
{
	struct json_object_iterator it = json_object_iter_begin(tbl);
	struct json_object_iterator end = json_object_iter_end(tbl);
	unsigned tline = line_of(p, tbl, 0);

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		unsigned line = line_of(p, v, tline);
		char key[KEY_MAX], host[INET6_ADDRSTRLEN];
		struct strval s;
		unsigned port;
		int family;

		key_join(key, sizeof(key), "metrics", k, 0);
		if (strcmp(k, "listen") != 0) {
			unknown_key(p, line, key, k, metrics_keys);
			continue;
		}
		if (get_string(p, v, key, line, &s) < 0)
			continue;
		if (config_metrics_address(s.value, host, sizeof(host), &family, &port) < 0) {
			char q[SHOWN_MAX + 16];

			shown(q, sizeof(q), s.raw);
			add_error(p, line, key,
			          "invalid address %s (use IPV4:PORT or [IPV6]:PORT, e.g. "
			          "127.0.0.1:9464 or [::1]:9464, PORT 1-65535)",
			          q);
			free(s.value);
			continue;
		}
		free(cfg->metrics_listen);
		cfg->metrics_listen = s.value;
	}
}

/* parse_session - the session table: only session.hook is ours */
static void parse_session(struct parser *p, struct json_object *tbl, struct config *cfg)
{
	struct json_object_iterator it = json_object_iter_begin(tbl);
	struct json_object_iterator end = json_object_iter_end(tbl);
	unsigned tline = line_of(p, tbl, 0);

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		unsigned line = line_of(p, v, tline);
		char key[KEY_MAX];
		size_t n;

		key_join(key, sizeof(key), "session", k, 0);
		if (strcmp(k, "hook") != 0) {
			unknown_key(p, line, key, k, session_keys);
			continue;
		}
		if (!json_object_is_type(v, json_type_object)) {
			add_error(p, line, key, "expected a table");
			continue;
		}
		if (cfg->hooks != NULL)
			continue; /* TOML has one session.hook table; be safe anyway */
		n = (size_t)json_object_object_length(v);
		if (n == 0)
			continue;
		cfg->hooks = calloc(n, sizeof(*cfg->hooks));
		if (cfg->hooks == NULL) {
			add_error(p, line, key, "out of memory");
			continue;
		}
		{
			struct json_object_iterator hit = json_object_iter_begin(v);
			struct json_object_iterator hend = json_object_iter_end(v);

			for (; !json_object_iter_equal(&hit, &hend) && cfg->nhooks < n;
			     json_object_iter_next(&hit)) {
				const char *id = json_object_iter_peek_name(&hit);
				struct json_object *h = json_object_iter_peek_value(&hit);

				parse_hook(p, id, h, &cfg->hooks[cfg->nhooks++]);
			}
		}
	}
}

/* parse_hook - one [session.hook."<id>"] table into hook */
static void parse_hook(struct parser *p, const char *id, struct json_object *tbl, struct hook *hook)
{
	struct json_object_iterator it, end;
	char prefix[KEY_MAX];
	unsigned tline, url_line = 0, urls_line = 0;

	/* The id is always quoted, as Stalwart's examples write it. */
	key_join(prefix, sizeof(prefix), "session.hook", id, 1);
	tline = line_of(p, tbl, 0);
	hook->enable = 1;
	hook->timeout_ms = DEFAULT_TIMEOUT_MS;
	hook->tempfail_on_error = 1;
	hook->max_response_size = DEFAULT_MAX_RESP;
	hook->max_connections = DEFAULT_MAX_CONN;
	hook->balance = HOOK_BALANCE_FAILOVER;
	hook->retry_after_ms = DEFAULT_RETRY_MS;
	hook->id = strdup(id);
	if (hook->id == NULL) {
		add_error(p, tline, prefix, "out of memory");
		return;
	}
	if (!json_object_is_type(tbl, json_type_object)) {
		add_error(p, tline, prefix, "expected a table");
		return;
	}
	if (id[0] == '\0') {
		add_error(p, tline, prefix, "a hook id must not be empty");
	} else {
		for (const char *s = id; *s; s++) {
			if ((unsigned char)*s < 0x20 || *s == 0x7f) {
				add_error(p, tline, prefix, "control character in hook id");
				break;
			}
		}
	}

	it = json_object_iter_begin(tbl);
	end = json_object_iter_end(tbl);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		unsigned line = line_of(p, v, tline);
		char key[KEY_MAX];

		key_join(key, sizeof(key), prefix, k, 0);
		if (strcmp(k, "enable") == 0) {
			parse_enable(p, v, key, line, hook);
		} else if (strcmp(k, "url") == 0) {
			url_line = line;
			parse_url(p, v, key, line, hook);
		} else if (strcmp(k, "urls") == 0) {
			urls_line = line;
			parse_urls(p, v, key, line, hook);
		} else if (strcmp(k, "stages") == 0) {
			parse_stages(p, v, key, line, hook);
		} else if (strcmp(k, "timeout") == 0) {
			get_duration(p, v, key, line, &hook->timeout_ms);
		} else if (strcmp(k, "allow-invalid-certs") == 0) {
			get_bool(p, v, key, line, &hook->allow_invalid_certs);
		} else if (strcmp(k, "headers") == 0) {
			parse_headers(p, v, key, line, hook);
		} else if (strcmp(k, "options") == 0) {
			if (json_object_is_type(v, json_type_object))
				parse_options(p, v, prefix, hook);
			else
				add_error(p, line, key, "expected a table");
		} else if (strcmp(k, "auth") == 0) {
			if (json_object_is_type(v, json_type_object))
				parse_auth(p, v, prefix, hook);
			else
				add_error(p, line, key, "expected a table");
		} else if (strcmp(k, "tls") == 0) {
			if (json_object_is_type(v, json_type_object))
				parse_tls(p, v, prefix, hook);
			else
				add_error(p, line, key, "expected a table");
		} else if (strcmp(k, "signature") == 0) {
			if (json_object_is_type(v, json_type_object))
				parse_signature(p, v, prefix, hook);
			else
				add_error(p, line, key, "expected a table");
		} else {
			unknown_key(p, line, key, k, hook_keys);
		}
	}
	if (url_line == 0 && urls_line == 0) {
		char key[KEY_MAX];

		key_join(key, sizeof(key), prefix, "url", 0);
		add_error(p, tline, key, "missing (every hook needs a url)");
	} else if (url_line != 0 && urls_line != 0) {
		char key[KEY_MAX];

		key_join(key, sizeof(key), prefix, "urls", 0);
		add_error(p, urls_line, key, "use url or urls, not both");
	}
	if (hook->stages == 0 && hook->enable && hook->id[0] != '\0') {
		int auth_only = 0;
		struct json_object *st;

		/* A hook listing only auth was already warned about. */
		if (json_object_object_get_ex(tbl, "stages", &st) &&
		    json_object_is_type(st, json_type_array) && json_object_array_length(st) > 0)
			auth_only = 1;
		if (!auth_only)
			log_msg(LOG_WARNING, "%s:%u: hook %s has no stages and is never called",
			        p->name, tline, hook->id);
	}
}

/*
 * parse_enable - enable as Stalwart writes it: a boolean, a number, an expression string or
 * an if/then/else list (expr.c); a constant is kept in enable, anything else compiled once
 */
static void parse_enable(struct parser *p, struct json_object *v, const char *key, unsigned line,
                         struct hook *hook)
{
	struct json_object *copy;
	struct expr_error err;
	char where[KEY_MAX + sizeof(err.where)];
	struct expr *e;
	int changed = 0, value;

	/* Substitutions first, as in any string value. */
	copy = enable_copy(p, v, key, line, 0, &changed);
	if (copy == NULL)
		return;
	e = expr_compile_json(copy, &err);
	json_object_put(copy);
	if (e == NULL) {
		unsigned eline = line_of(p, enable_part(v, err.where), line);

		snprintf(where, sizeof(where), "%s%s", key, err.where);
		/* A substituted value may hold a secret: its text is not quoted back. */
		if (changed && err.column > 0)
			add_error(p, eline, where,
			          "column %u: invalid expression after substitution", err.column);
		else if (err.column > 0)
			add_error(p, eline, where, "column %u: %s", err.column, err.msg);
		else
			add_error(p, eline, where, "%s", err.msg);
		return;
	}
	expr_free(hook->enable_expr);
	hook->enable_expr = NULL;
	if (expr_is_constant(e, &value)) {
		hook->enable = value;
		expr_free(e);
		return;
	}
	hook->enable = 1;
	hook->enable_expr = e;
}

/*
 * enable_copy - the enable value with substitutions done in its strings (an if/then/else list
 * is two levels deep; deeper values are copied as they are and refused by expr.c); NULL when
 * a substitution failed, which is reported
 */
static struct json_object *enable_copy(struct parser *p, struct json_object *v, const char *key,
                                       unsigned line, int depth, int *changed)
{
	struct json_object *out, *item;
	char sub[KEY_MAX];
	struct strval s;

	if (json_object_is_type(v, json_type_string)) {
		if (get_string(p, v, key, line_of(p, v, line), &s) < 0)
			return NULL;
		if (strcmp(s.value, s.raw) != 0)
			*changed = 1;
		out = json_object_new_string(s.value);
		free(s.value);
		if (out == NULL)
			add_error(p, line, key, "out of memory");
		return out;
	}
	if (depth >= 2 ||
	    !(json_object_is_type(v, json_type_array) || json_object_is_type(v, json_type_object)))
		return json_object_get(v);
	if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);

		out = json_object_new_array();
		for (size_t i = 0; out != NULL && i < n; i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", key, i + 1);
			item = enable_copy(p, json_object_array_get_idx(v, i), sub, line, depth + 1,
			                   changed);
			if (item == NULL || json_object_array_add(out, item) < 0) {
				json_object_put(item);
				json_object_put(out);
				return NULL;
			}
		}
	} else {
		struct json_object_iterator it = json_object_iter_begin(v);
		struct json_object_iterator end = json_object_iter_end(v);

		out = json_object_new_object();
		for (; out != NULL && !json_object_iter_equal(&it, &end);
		     json_object_iter_next(&it)) {
			const char *k = json_object_iter_peek_name(&it);

			key_join(sub, sizeof(sub), key, k, 0);
			item = enable_copy(p, json_object_iter_peek_value(&it), sub, line,
			                   depth + 1, changed);
			if (item == NULL || json_object_object_add(out, k, item) < 0) {
				json_object_put(item);
				json_object_put(out);
				return NULL;
			}
		}
	}
	if (out == NULL)
		add_error(p, line, key, "out of memory");
	return out;
}

/* enable_part - the part of an enable list that expr.c's where names ("[2].if"), for its line */
static struct json_object *enable_part(struct json_object *v, const char *where)
{
	struct json_object *item, *part;
	unsigned long n;
	char *end;

	if (where[0] != '[' || !json_object_is_type(v, json_type_array))
		return v;
	n = strtoul(where + 1, &end, 10);
	if (*end != ']' || n == 0 || n > json_object_array_length(v))
		return v;
	item = json_object_array_get_idx(v, n - 1);
	if (end[1] == '.' && json_object_is_type(item, json_type_object) &&
	    json_object_object_get_ex(item, end + 2, &part))
		return part;
	return item;
}

/* parse_stages - stages = [...]: names to STAGE_BIT()s, auth warned about */
static void parse_stages(struct parser *p, struct json_object *v, const char *key, unsigned line,
                         struct hook *hook)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array)) {
		add_error(p, line, key, "expected an array of strings");
		return;
	}
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		unsigned eline = line_of(p, e, line);
		enum stage st;
		struct strval s;
		int rc;

		if (!json_object_is_type(e, json_type_string)) {
			add_error(p, eline, key, "expected an array of strings");
			continue;
		}
		if (get_string(p, e, key, eline, &s) < 0)
			continue;
		rc = stage_parse(s.value, &st);
		if (rc == 0) {
			hook->stages |= STAGE_BIT(st);
		} else if (rc == 1) {
			log_msg(LOG_WARNING,
			        "%s:%u: hook %s: stage auth cannot be observed through milter and "
			        "never fires",
			        p->name, eline, hook->id);
		} else {
			char q[SHOWN_MAX + 16];

			shown(q, sizeof(q), s.raw);
			add_error(p, eline, key,
			          "unknown stage %s (use connect, ehlo, mail, rcpt or data)", q);
		}
		free(s.value);
	}
}

/* parse_headers - headers = ["Name: value", ...] */
static void parse_headers(struct parser *p, struct json_object *v, const char *key, unsigned line,
                          struct hook *hook)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array)) {
		add_error(p, line, key, "expected an array of strings");
		return;
	}
	n = json_object_array_length(v);
	if (n == 0)
		return;
	if (n > SIZE_MAX / sizeof(*hook->headers)) {
		add_error(p, line, key, "too many headers");
		return;
	}
	hook->headers = calloc(n, sizeof(*hook->headers));
	if (hook->headers == NULL) {
		add_error(p, line, key, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		unsigned eline = line_of(p, e, line);
		const char *why;
		struct strval s;

		if (!json_object_is_type(e, json_type_string)) {
			add_error(p, eline, key, "expected an array of strings");
			continue;
		}
		if (get_string(p, e, key, eline, &s) < 0)
			continue;
		/* A header may carry a token: say which one is wrong, not what it holds. */
		why = check_header(s.value);
		if (why != NULL) {
			add_error(p, eline, key, "header %zu: %s", i + 1, why);
			secret_free(s.value);
			continue;
		}
		hook->headers[hook->nheaders++] = s.value;
	}
}

/* parse_options - [session.hook."<id>".options] */
static void parse_options(struct parser *p, struct json_object *tbl, const char *prefix,
                          struct hook *hook)
{
	struct json_object_iterator it = json_object_iter_begin(tbl);
	struct json_object_iterator end = json_object_iter_end(tbl);
	unsigned tline = line_of(p, tbl, 0);
	char oprefix[KEY_MAX];

	key_join(oprefix, sizeof(oprefix), prefix, "options", 0);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		unsigned line = line_of(p, v, tline);
		char key[KEY_MAX];

		key_join(key, sizeof(key), oprefix, k, 0);
		if (strcmp(k, "tempfail-on-error") == 0)
			get_bool(p, v, key, line, &hook->tempfail_on_error);
		else if (strcmp(k, "max-response-size") == 0)
			get_size(p, v, key, line, &hook->max_response_size);
		else if (strcmp(k, "max-connections") == 0)
			parse_max_connections(p, v, key, line, hook);
		else if (strcmp(k, "http2-prior-knowledge") == 0)
			get_bool(p, v, key, line, &hook->http2_prior_knowledge);
		else if (strcmp(k, "balance") == 0)
			parse_balance(p, v, key, line, hook);
		else if (strcmp(k, "retry-after") == 0)
			get_duration(p, v, key, line, &hook->retry_after_ms);
		else if (strcmp(k, "use-proxy") == 0)
			get_bool(p, v, key, line, &hook->use_proxy);
		else
			unknown_key(p, line, key, k, options_keys);
	}
}

/* parse_max_connections - options.max-connections: an integer from 1 to MAX_CONN_LIMIT */
static void parse_max_connections(struct parser *p, struct json_object *v, const char *key,
                                  unsigned line, struct hook *hook)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int)) {
		add_error(p, line, key, "expected an integer");
		return;
	}
	n = json_object_get_int64(v);
	if (n < 1)
		add_error(p, line, key, "must be at least 1");
	else if (n > (int64_t)MAX_CONN_LIMIT)
		add_error(p, line, key, "must be at most %u", MAX_CONN_LIMIT);
	else
		hook->max_connections = (unsigned)n;
}

/* parse_balance - options.balance: "failover" or "round-robin" */
static void parse_balance(struct parser *p, struct json_object *v, const char *key, unsigned line,
                          struct hook *hook)
{
	char q[SHOWN_MAX + 16];
	struct strval s;

	if (get_string(p, v, key, line, &s) < 0)
		return;
	if (strcmp(s.value, "failover") == 0) {
		hook->balance = HOOK_BALANCE_FAILOVER;
	} else if (strcmp(s.value, "round-robin") == 0) {
		hook->balance = HOOK_BALANCE_ROUND_ROBIN;
	} else {
		shown(q, sizeof(q), s.raw);
		add_error(p, line, key, "invalid balance %s (use \"failover\" or \"round-robin\")",
		          q);
	}
	free(s.value);
}

/* parse_url - url = "...": the hook's one endpoint */
static void parse_url(struct parser *p, struct json_object *v, const char *key, unsigned line,
                      struct hook *hook)
{
	struct strval s;
	char **urls;

	if (get_string(p, v, key, line, &s) < 0)
		return;
	/* The URL may carry credentials: the message does not quote it. */
	if (check_url(s.value) < 0) {
		add_error(p, line, key,
		          "expected an http:// or https:// URL with a host and no spaces");
		secret_free(s.value);
		return;
	}
	if ((urls = calloc(1, sizeof(*urls))) == NULL) {
		add_error(p, line, key, "out of memory");
		secret_free(s.value);
		return;
	}
	urls_free(hook);
	urls[0] = s.value;
	hook->urls = urls;
	hook->nurls = 1;
	hook->url = urls[0];
}

/* parse_urls - urls = ["...", ...]: the hook's endpoints, in the order they are tried */
static void parse_urls(struct parser *p, struct json_object *v, const char *key, unsigned line,
                       struct hook *hook)
{
	size_t n, count = 0;
	char **urls;
	int bad = 0;

	if (!json_object_is_type(v, json_type_array)) {
		add_error(p, line, key, "expected an array of URLs");
		return;
	}
	n = json_object_array_length(v);
	if (n == 0) {
		add_error(p, line, key, "must list at least one URL");
		return;
	}
	if (n > URLS_MAX) {
		add_error(p, line, key, "at most %d URLs", URLS_MAX);
		return;
	}
	if ((urls = calloc(n, sizeof(*urls))) == NULL) {
		add_error(p, line, key, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		unsigned eline = line_of(p, e, line);
		struct strval s;

		if (!json_object_is_type(e, json_type_string)) {
			add_error(p, eline, key, "URL %zu: expected a string", i + 1);
			bad = 1;
			continue;
		}
		if (get_string(p, e, key, eline, &s) < 0) {
			bad = 1;
			continue;
		}
		/* Like url, not quoted: it may carry credentials. */
		if (check_url(s.value) < 0) {
			add_error(p, eline, key,
			          "URL %zu: expected an http:// or https:// URL with a host and no "
			          "spaces",
			          i + 1);
			secret_free(s.value);
			bad = 1;
			continue;
		}
		urls[count++] = s.value;
	}
	if (bad) {
		for (size_t i = 0; i < count; i++)
			secret_free(urls[i]);
		free(urls);
		return;
	}
	urls_free(hook);
	hook->urls = urls;
	hook->nurls = count;
	hook->url = urls[0];
}

/* set_path - a readable file (dir 0) or directory (dir 1) replaces *field; kept as it was
 * on error */
static void set_path(struct parser *p, struct json_object *v, const char *key, unsigned line,
                     int dir, char **field)
{
	char *path;

	if (get_path(p, v, key, line, dir, &path) == 0) {
		free(*field);
		*field = path;
	}
}

/* parse_tls - [session.hook."<id>".tls]: CA, client certificate, lowest version */
static void parse_tls(struct parser *p, struct json_object *tbl, const char *prefix,
                      struct hook *hook)
{
	struct json_object_iterator it = json_object_iter_begin(tbl);
	struct json_object_iterator end = json_object_iter_end(tbl);
	unsigned tline = line_of(p, tbl, 0);
	unsigned cert_line = 0, key_line = 0;
	char tprefix[KEY_MAX];
	char key[KEY_MAX];

	key_join(tprefix, sizeof(tprefix), prefix, "tls", 0);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		unsigned line = line_of(p, v, tline);

		key_join(key, sizeof(key), tprefix, k, 0);
		if (strcmp(k, "ca-file") == 0) {
			set_path(p, v, key, line, 0, &hook->tls_ca_file);
		} else if (strcmp(k, "ca-path") == 0) {
			set_path(p, v, key, line, 1, &hook->tls_ca_path);
		} else if (strcmp(k, "cert-file") == 0) {
			cert_line = line;
			set_path(p, v, key, line, 0, &hook->tls_cert_file);
		} else if (strcmp(k, "key-file") == 0) {
			key_line = line;
			set_path(p, v, key, line, 0, &hook->tls_key_file);
		} else if (strcmp(k, "min-version") == 0) {
			struct strval s;

			if (get_string(p, v, key, line, &s) < 0)
				continue;
			if (strcmp(s.value, "1.2") == 0) {
				hook->tls_min_version = 12;
			} else if (strcmp(s.value, "1.3") == 0) {
				hook->tls_min_version = 13;
			} else {
				char q[SHOWN_MAX + 16];

				shown(q, sizeof(q), s.raw);
				add_error(p, line, key,
				          "invalid TLS version %s (use \"1.2\" or \"1.3\")", q);
			}
			free(s.value);
		} else {
			unknown_key(p, line, key, k, tls_keys);
		}
	}
	/* A certificate is useless without its key, and a key without its certificate. */
	if (cert_line != 0 && key_line == 0) {
		key_join(key, sizeof(key), tprefix, "cert-file", 0);
		add_error(p, cert_line, key, "needs key-file too (the client certificate's key)");
	} else if (key_line != 0 && cert_line == 0) {
		key_join(key, sizeof(key), tprefix, "key-file", 0);
		add_error(p, key_line, key, "needs cert-file too (the client certificate)");
	}
}

/* parse_signature - [session.hook."<id>".signature]: the secret that signs each request */
static void parse_signature(struct parser *p, struct json_object *tbl, const char *prefix,
                            struct hook *hook)
{
	struct json_object_iterator it = json_object_iter_begin(tbl);
	struct json_object_iterator end = json_object_iter_end(tbl);
	unsigned tline = line_of(p, tbl, 0);
	char sprefix[KEY_MAX];

	key_join(sprefix, sizeof(sprefix), prefix, "signature", 0);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		unsigned line = line_of(p, v, tline);
		char key[KEY_MAX];
		char *secret;

		key_join(key, sizeof(key), sprefix, k, 0);
		if (strcmp(k, "secret") != 0) {
			unknown_key(p, line, key, k, signature_keys);
			continue;
		}
		if (get_secret(p, v, key, line, &secret) < 0)
			continue;
		/* An empty key signs nothing anyone could not forge. */
		if (secret[0] == '\0') {
			add_error(p, line, key, "must not be empty");
			secret_free(secret);
			continue;
		}
		secret_free(hook->signature_secret);
		hook->signature_secret = secret;
	}
}

/*
 * get_path - a file (dir 0) or directory (dir 1) name that this process can read now;
 * 0 ok with *out malloc'd, -1 reported
 */
static int get_path(struct parser *p, struct json_object *v, const char *key, unsigned line,
                    int dir, char **out)
{
	char q[SHOWN_MAX + 16];
	struct strval s;
	struct stat st;
	int fd, err = 0;

	*out = NULL;
	if (get_string(p, v, key, line, &s) < 0)
		return -1;
	if (s.value[0] == '\0') {
		add_error(p, line, key, "must not be empty");
		free(s.value);
		return -1;
	}
	shown(q, sizeof(q), s.value);
	/* Opening is the test that counts: access() answers for the real, not effective, user. */
	if (dir) {
		DIR *d = opendir(s.value);

		if (d == NULL)
			err = errno;
		else
			closedir(d);
	} else if ((fd = open(s.value, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		err = errno;
	} else {
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
			err = EISDIR;
		close(fd);
	}
	if (err != 0) {
		add_error(p, line, key, "cannot read %s: %s", q, strerror(err));
		free(s.value);
		return -1;
	}
	*out = s.value;
	return 0;
}

/* get_secret - a secret string; warned about when written in clear in a file others can read */
static int get_secret(struct parser *p, struct json_object *v, const char *key, unsigned line,
                      char **out)
{
	struct strval s;

	*out = NULL;
	if (get_string(p, v, key, line, &s) < 0)
		return -1;
	/* Only a warning: the file may be meant for a group the daemon runs in. */
	if (p->exposed != 0 && s.literal > 0)
		log_msg(LOG_WARNING,
		        "%s:%u: %s: secret written in clear in a file that group or "
		        "others can read (mode %04o); give the file mode 0600 or take "
		        "the secret from %%{file:...}%% or %%{env:...}%%",
		        p->name, line, key, p->exposed);
	*out = s.value;
	return 0;
}

/* parse_auth - [session.hook."<id>".auth]; the secret never reaches a message */
static void parse_auth(struct parser *p, struct json_object *tbl, const char *prefix,
                       struct hook *hook)
{
	struct json_object_iterator it = json_object_iter_begin(tbl);
	struct json_object_iterator end = json_object_iter_end(tbl);
	unsigned tline = line_of(p, tbl, 0);
	unsigned secret_line = 0;
	char aprefix[KEY_MAX];

	key_join(aprefix, sizeof(aprefix), prefix, "auth", 0);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		unsigned line = line_of(p, v, tline);
		char key[KEY_MAX];
		struct strval s;

		key_join(key, sizeof(key), aprefix, k, 0);
		if (strcmp(k, "username") == 0) {
			if (get_string(p, v, key, line, &s) < 0)
				continue;
			/* Basic authentication joins user and password with ':'. */
			if (strchr(s.value, ':') != NULL || strpbrk(s.value, "\r\n") != NULL) {
				add_error(p, line, key, "must not contain ':', CR or LF");
				free(s.value);
				continue;
			}
			free(hook->auth_username);
			hook->auth_username = s.value;
		} else if (strcmp(k, "secret") == 0) {
			char *secret;

			secret_line = line;
			if (get_secret(p, v, key, line, &secret) < 0)
				continue;
			secret_free(hook->auth_secret);
			hook->auth_secret = secret;
		} else {
			unknown_key(p, line, key, k, auth_keys);
		}
	}
	if (secret_line > 0 && !json_object_object_get_ex(tbl, "username", NULL)) {
		char key[KEY_MAX];

		key_join(key, sizeof(key), aprefix, "secret", 0);
		add_error(p, secret_line, key, "a secret needs a username");
	}
}
