/*
 * config - the daemon's configuration: load, validate, share, swap
 *
 * SYNOPSIS
 *	struct config *config_load(const char *path, struct config_errors *errs);
 *	struct config *config_parse(const char *text, size_t len, const char *name,
 *	                            struct config_errors *errs);
 *	void config_errors_free(struct config_errors *errs);
 *	struct config *config_ref(struct config *cfg);
 *	void config_unref(struct config *cfg);
 *	void config_set_current(struct config *cfg);
 *	struct config *config_current(void);
 *	const char *stage_name(enum stage stage);
 *	int stage_parse(const char *name, enum stage *stage);
 *
 * DESCRIPTION
 *	config_load reads a TOML file (toml.c) and turns it into a struct config:
 *	the [milter] and [metrics] settings and the [session.hook."<id>"] blocks
 *	in file order,
 *	with the defaults of PROTOCOL.md section 6 filled in. config_parse does the
 *	same from memory; name is used in messages in place of the file name.
 *	String values may hold %{env:NAME}% and %{file:/path}% substitutions
 *	(a file's content loses one trailing newline).
 *
 *	A hook names its endpoint with url, or several with urls = [...] (one of
 *	the two; hook->urls holds them either way). The files of its [tls] table
 *	are checked readable at load (as the user loading it: before -u drops
 *	privileges, a file only root can read still passes).
 *
 *	A hook's enable is compiled by expr.c: when its value cannot depend on
 *	the session, enable says it and enable_expr is NULL; otherwise enable is 1
 *	and hooks.c evaluates enable_expr at each stage. The stages of hooks
 *	whose enable is not constantly false make up config->stages.
 *
 *	Every problem found is appended to errs (not only the first), each as one
 *	line "FILE:LINE: KEY: what is wrong", KEY written as in TOML, e.g.
 *	'/etc/mtahooks-milter.toml:12: session.hook."spam".timeout: invalid
 *	duration "3x" (use ms, s, m, h or d)'. Unknown keys and tables are errors,
 *	with 'did you mean "timeout"?' when a known key of that table is close.
 *	Warnings (the "auth" stage, which never fires under milter; an auth.secret
 *	or signature.secret written in clear, not through a substitution, in a
 *	file that config_load finds readable by group or others) are logged with
 *	log_msg(LOG_WARNING) and do not fail the load. Secrets never appear in a message.
 *
 *	A loaded configuration is immutable and reference-counted: it starts with
 *	one reference owned by the caller. config_set_current takes over the
 *	caller's reference and makes cfg the daemon-wide snapshot (releasing the
 *	previous one); config_current returns a new reference to the snapshot,
 *	which the caller releases with config_unref. So a session keeps the
 *	configuration it started with while a reload swaps in a new one.
 *
 * DIAGNOSTICS
 *	config_load/config_parse return NULL when errs holds at least one error.
 *	errs must be zero-initialised by the caller and freed with
 *	config_errors_free.
 */
#ifndef MTAHOOKS_CONFIG_H
#define MTAHOOKS_CONFIG_H

#include <stddef.h>

/* The SMTP stages a hook can be called at, in the order they happen. */
enum stage { STAGE_CONNECT, STAGE_EHLO, STAGE_MAIL, STAGE_RCPT, STAGE_DATA };
#define STAGE_COUNT  5
#define STAGE_BIT(s) (1u << (unsigned)(s))

#define CONFIG_DEFAULT_PATH   SYSCONFDIR "/mtahooks-milter.toml"
#define CONFIG_DEFAULT_LISTEN "unix:/run/mtahooks-milter/mtahooks-milter.sock"

struct expr;
struct metrics_hook;

/* How a hook with several endpoints picks the first one to try (options.balance). */
enum hook_balance {
	HOOK_BALANCE_FAILOVER,   /* "failover": always in the order written */
	HOOK_BALANCE_ROUND_ROBIN /* "round-robin": each request starts one further on */
};

struct hook {
	char *id;                 /* the "<id>" of [session.hook."<id>"] */
	int enable;               /* 0 only when enable is constantly false (default true) */
	struct expr *enable_expr; /* enable when it depends on the session (expr.h), else NULL */
	char *url;       /* the first endpoint, http:// or https://: urls[0], borrowed from urls */
	char **urls;     /* url = "..." or urls = [...]: the endpoints in order, owned */
	size_t nurls;    /* at least 1 in a loaded configuration */
	unsigned stages; /* STAGE_BIT()s; default: none (a hook without stages is never called, with
	                    a warning) */
	long timeout_ms; /* timeout, default 30s */
	int allow_invalid_certs; /* default false */
	char **headers;          /* "Name: value", each checked for CR/LF and ':' */
	size_t nheaders;
	int tempfail_on_error;     /* options.tempfail-on-error, default true */
	size_t max_response_size;  /* options.max-response-size, default 52428800 */
	char *auth_username;       /* auth.username, NULL when not set */
	char *auth_secret;         /* auth.secret, NULL when not set; never logged */
	unsigned max_connections;  /* options.max-connections, default 8 (0 here: the default) */
	int http2_prior_knowledge; /* options.http2-prior-knowledge: h2c on http://, default 0 */
	enum hook_balance balance; /* options.balance, default HOOK_BALANCE_FAILOVER */
	long retry_after_ms;       /* options.retry-after, default 10s (0 here: the default) */
	int use_proxy;             /* options.use-proxy: libcurl's proxy variables, default 0 */
	char *tls_ca_file;         /* tls.ca-file, NULL: the system's CA store */
	char *tls_ca_path;         /* tls.ca-path, NULL: the system's CA store */
	char *tls_cert_file;       /* tls.cert-file: client certificate (mTLS), NULL: none */
	char *tls_key_file;        /* tls.key-file: its private key, set with tls_cert_file */
	int tls_min_version;       /* tls.min-version: 12 or 13, 0: libcurl's default */
	char *signature_secret;    /* signature.secret, NULL: unsigned; never logged */

	/* Its counters (metrics.h), set by metrics_bind; NULL: not counted. Not owned. */
	struct metrics_hook *metrics;
};

struct config {
	char *path;              /* the file it came from */
	char *listen;            /* [milter] listen, default CONFIG_DEFAULT_LISTEN */
	char *server_name;       /* [milter] server-name, NULL: use macro j or the host name */
	size_t max_message_size; /* [milter] max-message-size, default 64mb: the most the bridge
	                            collects */
	char *metrics_listen;    /* [metrics] listen, "A.B.C.D:PORT" or "[IPv6]:PORT", NULL: none */
	struct hook *hooks;      /* in file order */
	size_t nhooks;
	unsigned stages; /* union of the stages of hooks that may be enabled */
	int refs;        /* private: reference count (atomic) */
};

struct config_errors {
	char **msgs; /* "FILE:LINE: KEY: message" */
	size_t count;
};

/* config_load - read and validate a configuration file */
struct config *config_load(const char *path, struct config_errors *errs);
/* config_parse - read and validate configuration text; name stands for the file */
struct config *config_parse(const char *text, size_t len, const char *name,
                            struct config_errors *errs);
/* config_errors_free - free the messages and zero the list */
void config_errors_free(struct config_errors *errs);
/* config_ref - take another reference */
struct config *config_ref(struct config *cfg);
/* config_unref - drop a reference, freeing on the last one; NULL is ignored */
void config_unref(struct config *cfg);
/* config_set_current - make cfg the daemon's snapshot (takes the caller's reference); NULL clears
 * it */
void config_set_current(struct config *cfg);
/* config_current - a new reference to the snapshot, NULL before the first set */
struct config *config_current(void);
/* stage_name - "connect", "ehlo", "mail", "rcpt" or "data" */
const char *stage_name(enum stage stage);
/* stage_parse - case-insensitive name to stage: 0 ok, 1 "auth" (valid, never fires), -1 unknown */
int stage_parse(const char *name, enum stage *stage);
/* config_check_listen - 0 when listen is unix:PATH, local:PATH, inet:PORT@HOST or inet6:PORT@HOST
 */
int config_check_listen(const char *listen);
/*
 * config_metrics_address - split [metrics] listen ("A.B.C.D:PORT" or "[IPv6]:PORT", PORT
 * 1-65535) into the address (brackets removed), its family (AF_INET, AF_INET6) and the port;
 * 0 ok, -1 invalid. host has room for hostlen bytes (46 is enough).
 */
int config_metrics_address(const char *listen, char *host, size_t hostlen, int *family,
                           unsigned *port);
/* parse_duration - "30s", "500ms", "2m", "1h", "1d", or bare milliseconds: 0 ok, -1 invalid */
int parse_duration(const char *text, long *ms);
/* parse_size - bytes, or "kb"/"mb"/"gb" (powers of 1024, case-insensitive): 0 ok, -1 invalid */
int parse_size(const char *text, size_t *bytes);

#endif
