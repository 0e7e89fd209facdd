/* test_config.c - unit tests for config.c: keys, defaults, errors, substitutions, snapshots */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setenv, mkstemp, dup */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "expr.h"
#include "log.h"

#define NAME "test.toml"
#define HOOK "[session.hook.\"h\"]\nurl = \"https://hooks.test/h\"\n"

/* One case of a table-driven test: a document and the one message it must give. */
struct error_case {
	const char *text;
	const char *message;
};

static struct config *parse(const char *text, struct config_errors *errs);
static void expect_one_error(const char *text, const char *message);
static int has_error(const struct config_errors *errs, const char *message);
static int any_error_contains(const struct config_errors *errs, const char *needle);
static char *parse_capturing_log(const char *text, struct config **cfg, struct config_errors *errs);
static char *load_capturing_log(const char *path, struct config **cfg, struct config_errors *errs);
static char *capturing_log(struct config *(*fn)(const char *, struct config_errors *),
                           const char *arg, struct config **cfg, struct config_errors *errs);
static char *temp_file(const char *content);
static const struct hook *hook_by_id(const struct config *cfg, const char *id);

/* parse - config_parse of a NUL-terminated text named NAME */
static struct config *parse(const char *text, struct config_errors *errs)
{
	return config_parse(text, strlen(text), NAME, errs);
}

/* expect_one_error - text must fail with exactly message and nothing else */
static void expect_one_error(const char *text, const char *message)
{
	struct config_errors errs = {0};
	struct config *cfg = parse(text, &errs);

	if (cfg != NULL || errs.count != 1 || strcmp(errs.msgs[0], message) != 0) {
		print_error("document:\n%s\nwanted: %s\n", text, message);
		for (size_t i = 0; i < errs.count; i++)
			print_error("got:    %s\n", errs.msgs[i]);
	}
	assert_null(cfg);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], message);
	config_errors_free(&errs);
}

/* has_error - whether errs holds exactly message */
static int has_error(const struct config_errors *errs, const char *message)
{
	for (size_t i = 0; i < errs->count; i++)
		if (strcmp(errs->msgs[i], message) == 0)
			return 1;
	return 0;
}

/* any_error_contains - whether some message holds needle */
static int any_error_contains(const struct config_errors *errs, const char *needle)
{
	for (size_t i = 0; i < errs->count; i++)
		if (strstr(errs->msgs[i], needle) != NULL)
			return 1;
	return 0;
}

/* parse_capturing_log - parse with stderr (where log_msg writes) sent to a file; its text */
static char *parse_capturing_log(const char *text, struct config **cfg, struct config_errors *errs)
{
	return capturing_log(parse, text, cfg, errs);
}

/* load_capturing_log - config_load with stderr sent to a file; its text */
static char *load_capturing_log(const char *path, struct config **cfg, struct config_errors *errs)
{
	return capturing_log(config_load, path, cfg, errs);
}

/* capturing_log - fn(arg) with stderr (where log_msg writes) sent to a file; its text */
static char *capturing_log(struct config *(*fn)(const char *, struct config_errors *),
                           const char *arg, struct config **cfg, struct config_errors *errs)
{
	char path[] = "/tmp/test_config_log_XXXXXX";
	char *out;
	int fd, saved;
	ssize_t n;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fd, 2) >= 0);
	*cfg = fn(arg, errs);
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	out = calloc(1, 8192);
	assert_non_null(out);
	assert_true(lseek(fd, 0, SEEK_SET) == 0);
	n = read(fd, out, 8191);
	assert_true(n >= 0);
	close(fd);
	return out;
}

/* temp_file - a file under /tmp holding content; the caller unlinks and frees the name */
static char *temp_file(const char *content)
{
	char *path = strdup("/tmp/test_config_XXXXXX");
	size_t len = strlen(content);
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

/* hook_by_id - the hook named id, or NULL */
static const struct hook *hook_by_id(const struct config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->nhooks; i++)
		if (strcmp(cfg->hooks[i].id, id) == 0)
			return &cfg->hooks[i];
	return NULL;
}

/* ---- defaults and the reference block -------------------------------------------------- */

static void test_minimal_hook_gets_defaults(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = parse(HOOK "stages = [\"mail\"]\n", &errs);
	const struct hook *h;

	assert_non_null(cfg);
	assert_int_equal(errs.count, 0);
	assert_string_equal(cfg->path, NAME);
	assert_string_equal(cfg->listen, CONFIG_DEFAULT_LISTEN);
	assert_null(cfg->server_name);
	assert_int_equal(cfg->max_message_size, 64 * 1024 * 1024);
	assert_int_equal(cfg->nhooks, 1);
	h = &cfg->hooks[0];
	assert_string_equal(h->id, "h");
	assert_int_equal(h->enable, 1);
	assert_string_equal(h->url, "https://hooks.test/h");
	assert_int_equal(h->stages, STAGE_BIT(STAGE_MAIL));
	assert_int_equal(h->timeout_ms, 30000);
	assert_int_equal(h->allow_invalid_certs, 0);
	assert_int_equal(h->nheaders, 0);
	assert_int_equal(h->tempfail_on_error, 1);
	assert_int_equal(h->max_response_size, 52428800);
	assert_null(h->auth_username);
	assert_null(h->auth_secret);
	assert_int_equal(cfg->stages, STAGE_BIT(STAGE_MAIL));
	config_unref(cfg);
}

static void test_seed_block_from_stalwart_loads_every_field(void **state)
{
	/* The example of seeds/mta-hooks-configuration.txt, as Stalwart documents it. */
	static const char seed[] =
	    "[session.hook.\"my-hook\"]\n"
	    "enable = \"true\"\n"
	    "url = \"https://localhost:8080/mta-hook\"\n"
	    "stages = [\"connect\", \"ehlo\", \"mail\", \"rcpt\", \"data\"]\n"
	    "allow-invalid-certs = false\n"
	    "headers = [\"X-My-Header: my-value\"]\n"
	    "\n"
	    "[session.hook.\"my-hook\".options]\n"
	    "tempfail-on-error = true\n"
	    "max-response-size = 52428800\n"
	    "\n"
	    "[session.hook.\"my-hook\".auth]\n"
	    "username = \"my-username\"\n"
	    "secret = \"my-secret\"\n";
	struct config_errors errs = {0};
	struct config *cfg = parse(seed, &errs);
	const struct hook *h;
	unsigned all = STAGE_BIT(STAGE_CONNECT) | STAGE_BIT(STAGE_EHLO) | STAGE_BIT(STAGE_MAIL) |
	               STAGE_BIT(STAGE_RCPT) | STAGE_BIT(STAGE_DATA);

	assert_non_null(cfg);
	assert_int_equal(errs.count, 0);
	assert_int_equal(cfg->nhooks, 1);
	h = &cfg->hooks[0];
	assert_string_equal(h->id, "my-hook");
	assert_int_equal(h->enable, 1);
	assert_string_equal(h->url, "https://localhost:8080/mta-hook");
	assert_int_equal(h->stages, all);
	assert_int_equal(h->timeout_ms, 30000);
	assert_int_equal(h->allow_invalid_certs, 0);
	assert_int_equal(h->nheaders, 1);
	assert_string_equal(h->headers[0], "X-My-Header: my-value");
	assert_int_equal(h->tempfail_on_error, 1);
	assert_int_equal(h->max_response_size, 52428800);
	assert_string_equal(h->auth_username, "my-username");
	assert_string_equal(h->auth_secret, "my-secret");
	assert_int_equal(cfg->stages, all);
	config_unref(cfg);
}

static void test_milter_table_sets_listen_server_name_and_size(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = parse("[milter]\n"
	                           "listen = \"inet:11332@127.0.0.1\"\n"
	                           "server-name = \"mx.example.org\"\n"
	                           "max-message-size = \"10mb\"\n",
	                           &errs);

	assert_non_null(cfg);
	assert_string_equal(cfg->listen, "inet:11332@127.0.0.1");
	assert_string_equal(cfg->server_name, "mx.example.org");
	assert_int_equal(cfg->max_message_size, 10 * 1024 * 1024);
	assert_int_equal(cfg->nhooks, 0);
	assert_int_equal(cfg->stages, 0);
	config_unref(cfg);
}

static void test_hooks_keep_file_order(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = parse("[session.hook.\"zeta\"]\nurl = \"http://127.0.0.1/z\"\n"
	                           "stages = [\"data\"]\n"
	                           "[session.hook.\"alpha\"]\nurl = \"http://127.0.0.1/a\"\n"
	                           "stages = [\"data\"]\n"
	                           "[session.hook.\"mid\"]\nurl = \"http://127.0.0.1/m\"\n"
	                           "stages = [\"data\"]\n",
	                           &errs);

	assert_non_null(cfg);
	assert_int_equal(cfg->nhooks, 3);
	assert_string_equal(cfg->hooks[0].id, "zeta");
	assert_string_equal(cfg->hooks[1].id, "alpha");
	assert_string_equal(cfg->hooks[2].id, "mid");
	assert_string_equal(cfg->hooks[1].url, "http://127.0.0.1/a");
	config_unref(cfg);
}

static void test_every_hook_key_set_is_read(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = parse(HOOK "enable = false\n"
	                                "stages = [\"RCPT\", \"Ehlo\", \"rcpt\"]\n"
	                                "timeout = \"1500ms\"\n"
	                                "allow-invalid-certs = true\n"
	                                "headers = [\"X-A: 1\", \"X-B:two\"]\n"
	                                "options.tempfail-on-error = false\n"
	                                "options.max-response-size = \"2kb\"\n"
	                                "auth.username = \"u\"\n",
	                           &errs);
	const struct hook *h;

	assert_non_null(cfg);
	h = &cfg->hooks[0];
	assert_int_equal(h->enable, 0);
	assert_int_equal(h->stages, STAGE_BIT(STAGE_RCPT) | STAGE_BIT(STAGE_EHLO));
	assert_int_equal(h->timeout_ms, 1500);
	assert_int_equal(h->allow_invalid_certs, 1);
	assert_int_equal(h->nheaders, 2);
	assert_string_equal(h->headers[0], "X-A: 1");
	assert_string_equal(h->headers[1], "X-B:two");
	assert_int_equal(h->tempfail_on_error, 0);
	assert_int_equal(h->max_response_size, 2048);
	/* A username without a secret means an empty password. */
	assert_string_equal(h->auth_username, "u");
	assert_null(h->auth_secret);
	config_unref(cfg);
}

/* ---- milter keys --------------------------------------------------------------------------- */

static void test_listen_accepts_every_libmilter_form(void **state)
{
	static const char *const good[] = {"unix:/run/m.sock", "local:/var/run/m.sock",
	                                   "inet:1@127.0.0.1", "inet:65535@localhost",
	                                   "inet6:11332@::1"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct config_errors errs = {0};
		char text[256];
		struct config *cfg;

		snprintf(text, sizeof(text), "[milter]\nlisten = \"%s\"\n", good[i]);
		cfg = parse(text, &errs);
		assert_non_null(cfg);
		assert_string_equal(cfg->listen, good[i]);
		config_unref(cfg);
	}
}

static void test_listen_rejects_other_forms(void **state)
{
	static const char *const bad[] = {"tcp:25@127.0.0.1",
	                                  "inet:0@127.0.0.1",
	                                  "inet:65536@127.0.0.1",
	                                  "inet:25",
	                                  "inet:@127.0.0.1",
	                                  "inet:x25@127.0.0.1",
	                                  "inet:25@",
	                                  "unix:",
	                                  "local:",
	                                  "/run/m.sock",
	                                  ""};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256], want[512];

		snprintf(text, sizeof(text), "[milter]\nlisten = \"%s\"\n", bad[i]);
		snprintf(want, sizeof(want),
		         NAME ":2: milter.listen: invalid socket \"%s\" (use unix:/path, "
		              "local:/path, inet:PORT@HOST or inet6:PORT@HOST, PORT 1-65535)",
		         bad[i]);
		expect_one_error(text, want);
	}
}

/* ---- metrics keys -------------------------------------------------------------------------- */

static void test_metrics_listen_absent_means_no_listener(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = parse(HOOK, &errs);

	assert_non_null(cfg);
	assert_null(cfg->metrics_listen);
	assert_null(cfg->hooks[0].metrics); /* config.c never binds counters: main.c does */
	config_unref(cfg);
}

static void test_metrics_listen_accepts_ipv4_and_bracketed_ipv6(void **state)
{
	static const struct {
		const char *text, *host;
		int family;
		unsigned port;
	} good[] = {{"127.0.0.1:9464", "127.0.0.1", AF_INET, 9464},
	            {"0.0.0.0:1", "0.0.0.0", AF_INET, 1},
	            {"[::1]:9464", "::1", AF_INET6, 9464},
	            {"[::]:65535", "::", AF_INET6, 65535},
	            {"[fe80::1:2]:80", "fe80::1:2", AF_INET6, 80}};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct config_errors errs = {0};
		char text[256], host[INET6_ADDRSTRLEN];
		struct config *cfg;
		unsigned port = 0;
		int family = 0;

		snprintf(text, sizeof(text), "[metrics]\nlisten = \"%s\"\n", good[i].text);
		cfg = parse(text, &errs);
		assert_non_null(cfg);
		assert_string_equal(cfg->metrics_listen, good[i].text);
		config_unref(cfg);
		assert_int_equal(
		    config_metrics_address(good[i].text, host, sizeof(host), &family, &port), 0);
		assert_string_equal(host, good[i].host);
		assert_int_equal(family, good[i].family);
		assert_int_equal(port, good[i].port);
	}
}

static void test_metrics_listen_rejects_names_bare_ipv6_and_bad_ports(void **state)
{
	static const char *const bad[] = {
	    "localhost:9464", "127.0.0.1", "127.0.0.1:",    "127.0.0.1:0",      "127.0.0.1:65536",
	    "127.0.0.1:94x4", "::1:9464",  "[::1]9464",     "[::1:9464",        "[127.0.0.1]:80",
	    "[]:80",          ":9464",     "127.0.0.1:+80", "127.0.0.1:123456", ""};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256], want[512];

		snprintf(text, sizeof(text), "[metrics]\nlisten = \"%s\"\n", bad[i]);
		snprintf(want, sizeof(want),
		         NAME ":2: metrics.listen: invalid address \"%s\" (use IPV4:PORT or "
		              "[IPV6]:PORT, e.g. 127.0.0.1:9464 or [::1]:9464, PORT 1-65535)",
		         bad[i]);
		expect_one_error(text, want);
	}
}

static void test_metrics_table_keys_are_checked(void **state)
{
	expect_one_error("[metrics]\nlisten = 9464\n",
	                 NAME ":2: metrics.listen: expected a string");
	expect_one_error("[metrics]\nlistn = \"127.0.0.1:9464\"\n",
	                 NAME ":2: metrics.listn: unknown key; did you mean \"listen\"?");
	expect_one_error("metrics = 1\n", NAME ":1: metrics: expected a table");
	expect_one_error("[metric]\nlisten = \"127.0.0.1:9464\"\n",
	                 NAME ":1: metric: unknown key; did you mean \"metrics\"?");
}

static void test_max_message_size_zero_is_rejected(void **state)
{
	expect_one_error("[milter]\nmax-message-size = 0\n",
	                 NAME ":2: milter.max-message-size: must be greater than zero");
	expect_one_error("[milter]\nmax-message-size = \"0mb\"\n",
	                 NAME ":2: milter.max-message-size: must be greater than zero");
	expect_one_error("[milter]\nmax-message-size = -5\n",
	                 NAME ":2: milter.max-message-size: must be greater than zero");
}

/* ---- hook keys --------------------------------------------------------------------------- */

static void test_enable_accepts_booleans_and_their_strings(void **state)
{
	static const struct {
		const char *value;
		int enable;
	} cases[] = {{"true", 1}, {"false", 0}, {"\"true\"", 1}, {"\"false\"", 0}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config_errors errs = {0};
		char text[256];
		struct config *cfg;

		snprintf(text, sizeof(text), HOOK "stages = [\"data\"]\nenable = %s\n",
		         cases[i].value);
		cfg = parse(text, &errs);
		assert_non_null(cfg);
		assert_int_equal(cfg->hooks[0].enable, cases[i].enable);
		assert_int_equal(cfg->stages, cases[i].enable ? STAGE_BIT(STAGE_DATA) : 0);
		config_unref(cfg);
	}
}

static void test_enable_constants_need_no_expression(void **state)
{
	static const struct {
		const char *value;
		int enable;
	} cases[] = {{"1", 1},
	             {"0", 0},
	             {"0.0", 0},
	             {"\"1 == 2\"", 0},
	             {"\"len('abc') == 3\"", 1},
	             {"[{if = \"is_tls\", then = false}, {else = false}]", 0},
	             {"[{if = \"true\", then = true}, {else = \"is_tls\"}]", 1},
	             {"[{if = \"false\", then = \"is_tls\"}]", 0}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config_errors errs = {0};
		char text[256];
		struct config *cfg;

		snprintf(text, sizeof(text), HOOK "stages = [\"data\"]\nenable = %s\n",
		         cases[i].value);
		cfg = parse(text, &errs);
		assert_non_null(cfg);
		assert_int_equal(cfg->hooks[0].enable, cases[i].enable);
		assert_null(cfg->hooks[0].enable_expr);
		assert_int_equal(cfg->stages, cases[i].enable ? STAGE_BIT(STAGE_DATA) : 0);
		config_unref(cfg);
	}
}

static void test_enable_expression_is_compiled_and_kept(void **state)
{
	static const char *const forms[] = {
	    "\"remote_ip == '192.0.2.1'\"",
	    "[{if = \"remote_ip == '192.0.2.1'\", then = true}, {else = false}]",
	    "[\n  { if = \"is_tls\", then = false },\n  { if = \"remote_ip == '192.0.2.1'\", "
	    "then = \"1\" },\n]"};
	struct expr_vars match = {.remote_ip = "192.0.2.1", .remote_port = -1, .local_port = -1};
	struct expr_vars other = {.remote_ip = "192.0.2.2", .remote_port = -1, .local_port = -1};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct config_errors errs = {0};
		char text[512];
		struct config *cfg;

		snprintf(text, sizeof(text), HOOK "stages = [\"connect\"]\nenable = %s\n",
		         forms[i]);
		cfg = parse(text, &errs);
		assert_non_null(cfg);
		assert_int_equal(cfg->hooks[0].enable, 1);
		assert_non_null(cfg->hooks[0].enable_expr);
		assert_int_equal(expr_eval(cfg->hooks[0].enable_expr, &match), 1);
		assert_int_equal(expr_eval(cfg->hooks[0].enable_expr, &other), 0);
		/* a hook that may be called keeps its stages in the union */
		assert_int_equal(cfg->stages, STAGE_BIT(STAGE_CONNECT));
		config_unref(cfg);
	}
}

static void test_enable_errors_give_key_line_and_column(void **state)
{
	static const struct error_case cases[] = {
	    {HOOK "enable = \"remot_ip == '1'\"\n",
	     NAME ":3: session.hook.\"h\".enable: column 1: unknown variable 'remot_ip'"},
	    {HOOK "enable = [{if = \"1 && (remot_ip == '192.0.2.1')\", then = true}]\n",
	     NAME ":3: session.hook.\"h\".enable[1].if: column 7: unknown variable 'remot_ip'"},
	    {HOOK
	     "enable = [\n  { if = \"is_tls\", then = true },\n"
	     "  { if = \"listener == 'x' && remot_ip\", then = true },\n  { else = false }\n]\n",
	     NAME ":5: session.hook.\"h\".enable[2].if: column 20: unknown variable 'remot_ip'"},
	    {HOOK "enable = [{ if = \"true\", then = true }, { else = \"sender ==\" }]\n",
	     NAME ":3: session.hook.\"h\".enable[2].else: column 10: unexpected end of "
	          "expression"},
	    {HOOK "enable = \"TRUE\"\n",
	     NAME ":3: session.hook.\"h\".enable: column 1: unknown variable 'TRUE'"},
	    {HOOK "enable = \"trim(1, 2)\"\n", NAME
	     ":3: session.hook.\"h\".enable: column 1: function 'trim' takes 1 argument, not 2"},
	    {HOOK "enable = \"is_local_domain('', rcpt_domain)\"\n",
	     NAME ":3: session.hook.\"h\".enable: column 1: function 'is_local_domain' needs a "
	          "Stalwart store and is not available here"},
	    {HOOK "enable = \"matches('(', rcpt)\"\n",
	     NAME ":3: session.hook.\"h\".enable: column 9: invalid regular expression: missing "
	          "closing parenthesis (at offset 1 of the pattern)"},
	    {HOOK "enable = \"'abc\"\n",
	     NAME ":3: session.hook.\"h\".enable: column 1: unterminated string"},
	    {HOOK "enable = \"\"\n",
	     NAME ":3: session.hook.\"h\".enable: column 1: empty expression"},
	    {HOOK "enable = [{ if = \"true\" }]\n",
	     NAME ":3: session.hook.\"h\".enable[1]: if without then"},
	    {HOOK "enable = [{ else = true }, { if = \"true\", then = true }]\n",
	     NAME ":3: session.hook.\"h\".enable[1].else: else must be the last entry"},
	    {HOOK "enable = []\n",
	     NAME ":3: session.hook.\"h\".enable: an if/then/else list must not be empty"},
	    {HOOK "enable = { if = \"true\" }\n",
	     NAME ":3: session.hook.\"h\".enable: expected a boolean, a number, an expression "
	          "string or an if/then/else list"},
	    {HOOK "enable = [\"is_tls\"]\n",
	     NAME ":3: session.hook.\"h\".enable[1]: expected a table: { if = ..., then = ... } or "
	          "{ else = ... }"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_one_error(cases[i].text, cases[i].message);
}

static void test_enable_takes_substitutions_and_hides_their_text(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg;

	assert_int_equal(setenv("MTAHOOKS_TEST_ENABLE", "rcpt_domain != 'skip.test'", 1), 0);
	cfg = parse(HOOK "stages = [\"rcpt\"]\nenable = \"%{env:MTAHOOKS_TEST_ENABLE}%\"\n", &errs);
	assert_non_null(cfg);
	assert_non_null(cfg->hooks[0].enable_expr);
	config_unref(cfg);
	cfg = parse(HOOK "stages = [\"rcpt\"]\n"
	                 "enable = [{if = \"%{env:MTAHOOKS_TEST_ENABLE}%\", then = true}]\n",
	            &errs);
	assert_non_null(cfg);
	assert_non_null(cfg->hooks[0].enable_expr);
	config_unref(cfg);
	/* the substituted text could be a secret: the message gives the column only */
	assert_int_equal(setenv("MTAHOOKS_TEST_ENABLE", "1 == s3cr3t", 1), 0);
	expect_one_error(HOOK "enable = \"%{env:MTAHOOKS_TEST_ENABLE}%\"\n",
	                 NAME ":3: session.hook.\"h\".enable: column 6: invalid expression after "
	                      "substitution");
	expect_one_error(HOOK
	                 "enable = [{if = \"true\", then = \"%{env:MTAHOOKS_NO_SUCH_VAR}%\"}]\n",
	                 NAME ":3: session.hook.\"h\".enable[1].then: environment variable "
	                      "\"MTAHOOKS_NO_SUCH_VAR\" is not set");
	unsetenv("MTAHOOKS_TEST_ENABLE");
}

static void test_url_is_required_and_reported_at_the_table(void **state)
{
	expect_one_error("# comment\n[session.hook.\"h\"]\nstages = [\"data\"]\n",
	                 NAME ":2: session.hook.\"h\".url: missing (every hook needs a url)");
}

static void test_url_must_be_http_or_https(void **state)
{
	static const char *const bad[] = {"ftp://hooks.test/", "hooks.test/h",           "https://",
	                                  "http:///path",      "https://hooks.test/a b", ""};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];

		snprintf(text, sizeof(text), "[session.hook.\"h\"]\nurl = \"%s\"\n", bad[i]);
		expect_one_error(text, NAME ":2: session.hook.\"h\".url: expected an http:// or "
		                            "https:// URL with a host and no spaces");
	}
}

static void test_unknown_stage_is_an_error(void **state)
{
	expect_one_error(HOOK "stages = [\"connect\", \"helo\"]\n",
	                 NAME ":3: session.hook.\"h\".stages: unknown stage \"helo\" (use connect, "
	                      "ehlo, mail, rcpt or data)");
}

static void test_auth_stage_is_accepted_with_a_warning(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg;
	char *log = parse_capturing_log(HOOK "stages = [\"auth\", \"mail\"]\n", &cfg, &errs);

	assert_non_null(cfg);
	assert_int_equal(errs.count, 0);
	assert_int_equal(cfg->hooks[0].stages, STAGE_BIT(STAGE_MAIL));
	assert_non_null(
	    strstr(log, "hook h: stage auth cannot be observed through milter and never fires"));
	free(log);
	config_unref(cfg);
}

static void test_hook_without_stages_loads_with_a_warning(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg;
	char *log = parse_capturing_log(HOOK, &cfg, &errs);

	assert_non_null(cfg);
	assert_int_equal(cfg->hooks[0].stages, 0);
	assert_int_equal(cfg->stages, 0);
	assert_non_null(strstr(log, "hook h has no stages and is never called"));
	free(log);
	config_unref(cfg);
}

static void test_stages_union_ignores_disabled_hooks(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg =
	    parse("[session.hook.\"a\"]\nurl = \"http://127.0.0.1/\"\n"
	          "stages = [\"connect\", \"mail\"]\n"
	          "[session.hook.\"b\"]\nurl = \"http://127.0.0.1/\"\n"
	          "enable = false\nstages = [\"data\"]\n"
	          "[session.hook.\"c\"]\nurl = \"http://127.0.0.1/\"\n"
	          "enable = \"true\"\nstages = [\"rcpt\", \"mail\"]\n"
	          "[session.hook.\"d\"]\nurl = \"http://127.0.0.1/\"\n"
	          "enable = [{if = \"is_tls\", then = \"1 == 2\"}]\nstages = [\"data\"]\n"
	          "[session.hook.\"e\"]\nurl = \"http://127.0.0.1/\"\n"
	          "enable = \"is_tls\"\nstages = [\"ehlo\"]\n",
	          &errs);

	assert_non_null(cfg);
	assert_int_equal(hook_by_id(cfg, "b")->stages, STAGE_BIT(STAGE_DATA));
	/* d can never be true, e may be: only e's stage joins the union */
	assert_int_equal(hook_by_id(cfg, "d")->enable, 0);
	assert_int_equal(hook_by_id(cfg, "e")->enable, 1);
	assert_int_equal(cfg->stages, STAGE_BIT(STAGE_CONNECT) | STAGE_BIT(STAGE_EHLO) |
	                                  STAGE_BIT(STAGE_MAIL) | STAGE_BIT(STAGE_RCPT));
	config_unref(cfg);
}

static void test_timeout_must_be_positive_and_well_formed(void **state)
{
	expect_one_error(HOOK "timeout = \"3x\"\n",
	                 NAME ":3: session.hook.\"h\".timeout: invalid duration \"3x\" (use ms, s, "
	                      "m, h or d)");
	expect_one_error(HOOK "timeout = 0\n",
	                 NAME ":3: session.hook.\"h\".timeout: must be greater than zero");
	expect_one_error(HOOK "timeout = \"0s\"\n",
	                 NAME ":3: session.hook.\"h\".timeout: must be greater than zero");
}

static void test_timeout_integer_and_digit_string_are_milliseconds(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = parse(HOOK "stages = [\"data\"]\ntimeout = 2500\n", &errs);

	assert_non_null(cfg);
	assert_int_equal(cfg->hooks[0].timeout_ms, 2500);
	config_unref(cfg);
	cfg = parse(HOOK "stages = [\"data\"]\ntimeout = \"750\"\n", &errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->hooks[0].timeout_ms, 750);
	config_unref(cfg);
	cfg = parse(HOOK "stages = [\"data\"]\ntimeout = \"2m\"\n", &errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->hooks[0].timeout_ms, 120000);
	config_unref(cfg);
}

static void test_bad_headers_are_each_reported_without_their_value(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg =
	    parse(HOOK "headers = [\"Authorization: Bearer t0ken\", \"NoColont0ken\", \": t0ken\", "
	               "\"Bad Name: t0ken\", \"X-Split: a\\r\\nX-Evil: t0ken\", \"X-Ok: fine\"]\n",
	          &errs);

	assert_null(cfg);
	assert_int_equal(errs.count, 4);
	assert_true(has_error(&errs, NAME ":3: session.hook.\"h\".headers: header 2: expected "
	                                  "\"Name: value\" (no ':' found)"));
	assert_true(has_error(&errs, NAME ":3: session.hook.\"h\".headers: header 3: empty header "
	                                  "name"));
	assert_true(has_error(&errs, NAME ":3: session.hook.\"h\".headers: header 4: invalid "
	                                  "header name"));
	assert_true(has_error(&errs, NAME ":3: session.hook.\"h\".headers: header 5: must not "
	                                  "contain CR or LF"));
	assert_false(any_error_contains(&errs, "t0ken"));
	config_errors_free(&errs);
}

static void test_max_response_size_takes_bytes_or_size_strings(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = parse(HOOK "stages = [\"data\"]\n"
	                                "[session.hook.\"h\".options]\n"
	                                "max-response-size = \"50mb\"\n",
	                           &errs);

	assert_non_null(cfg);
	assert_int_equal(cfg->hooks[0].max_response_size, 52428800);
	config_unref(cfg);
	expect_one_error(HOOK "options.max-response-size = 0\n",
	                 NAME ":3: session.hook.\"h\".options.max-response-size: must be greater "
	                      "than zero");
	expect_one_error(HOOK "options.max-response-size = \"50 mb\"\n",
	                 NAME ":3: session.hook.\"h\".options.max-response-size: invalid size \"50 "
	                      "mb\" (use bytes, kb, mb or gb)");
}

static void test_secret_without_username_is_an_error(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg =
	    parse(HOOK "[session.hook.\"h\".auth]\nsecret = \"hunter2-secret\"\n", &errs);

	assert_null(cfg);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0],
	                    NAME ":4: session.hook.\"h\".auth.secret: a secret needs a username");
	assert_false(any_error_contains(&errs, "hunter2"));
	config_errors_free(&errs);
}

static void test_hook_id_is_always_quoted_in_keys(void **state)
{
	expect_one_error("[session.hook.plain]\nurl = \"http://127.0.0.1/\"\ntimeout = 0\n",
	                 NAME ":3: session.hook.\"plain\".timeout: must be greater than zero");
	expect_one_error("[session.hook.\"a.b \\\"c\\\"\"]\nurl = \"http://127.0.0.1/\"\n"
	                 "timeout = 0\n",
	                 NAME ":3: session.hook.\"a.b \\\"c\\\"\".timeout: must be greater than "
	                      "zero");
}

/* ---- type errors and unknown keys --------------------------------------------------------- */

static void test_milter_type_errors_name_what_was_expected(void **state)
{
	static const struct error_case cases[] = {
	    {"milter = 1\n", NAME ":1: milter: expected a table"},
	    {"[milter]\nlisten = 11332\n", NAME ":2: milter.listen: expected a string"},
	    {"[milter]\nserver-name = false\n", NAME ":2: milter.server-name: expected a string"},
	    {"[milter]\nmax-message-size = []\n",
	     NAME ":2: milter.max-message-size: expected a size (bytes, or a string such as "
	          "\"50mb\")"},
	    {"[milter]\nmax-message-size = 1.5\n",
	     NAME ":2: milter.max-message-size: expected a size (bytes, or a string such as "
	          "\"50mb\")"},
	    {"[milter]\nmax-message-size = \"lots\"\n",
	     NAME ":2: milter.max-message-size: invalid size \"lots\" (use bytes, kb, mb or gb)"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_one_error(cases[i].text, cases[i].message);
}

static void test_hook_type_errors_name_what_was_expected(void **state)
{
	static const struct error_case cases[] = {
	    {"[session.hook.\"h\"]\nurl = 8080\n",
	     NAME ":2: session.hook.\"h\".url: expected a string"},
	    {HOOK "stages = \"connect\"\n",
	     NAME ":3: session.hook.\"h\".stages: expected an array of strings"},
	    {HOOK "stages = [\"mail\", 2]\n",
	     NAME ":3: session.hook.\"h\".stages: expected an array of strings"},
	    {HOOK "timeout = true\n",
	     NAME ":3: session.hook.\"h\".timeout: expected a duration (such as \"30s\")"},
	    {HOOK "timeout = 1.5\n",
	     NAME ":3: session.hook.\"h\".timeout: expected a duration (such as \"30s\")"},
	    {HOOK "allow-invalid-certs = 1\n",
	     NAME ":3: session.hook.\"h\".allow-invalid-certs: expected a boolean"},
	    {HOOK "allow-invalid-certs = \"yes\"\n",
	     NAME ":3: session.hook.\"h\".allow-invalid-certs: expected a boolean"},
	    {HOOK "headers = \"X-A: 1\"\n",
	     NAME ":3: session.hook.\"h\".headers: expected an array of strings"},
	    {HOOK "headers = [[\"X-A: 1\"]]\n",
	     NAME ":3: session.hook.\"h\".headers: expected an array of strings"},
	    {HOOK "options = 1\n", NAME ":3: session.hook.\"h\".options: expected a table"},
	    {HOOK "auth = \"u:p\"\n", NAME ":3: session.hook.\"h\".auth: expected a table"},
	    {HOOK "options.tempfail-on-error = \"no\"\n",
	     NAME ":3: session.hook.\"h\".options.tempfail-on-error: expected a boolean"},
	    {HOOK "options.max-response-size = true\n",
	     NAME ":3: session.hook.\"h\".options.max-response-size: expected a size (bytes, or a "
	          "string such as \"50mb\")"},
	    {HOOK "auth.username = 7\n",
	     NAME ":3: session.hook.\"h\".auth.username: expected a string"},
	    {HOOK "auth.username = \"u\"\nauth.secret = 1234\n",
	     NAME ":4: session.hook.\"h\".auth.secret: expected a string"},
	    {"[session]\nhook = 1\n", NAME ":2: session.hook: expected a table"},
	    {"[session.hook]\nh = 1\n", NAME ":2: session.hook.\"h\": expected a table"},
	    {"session = \"x\"\n", NAME ":1: session: expected a table"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_one_error(cases[i].text, cases[i].message);
}

static void test_unknown_keys_are_errors_at_every_level(void **state)
{
	static const struct error_case cases[] = {
	    {"workers = 4\n", NAME ":1: workers: unknown key"},
	    {"[spam]\nenable = true\n", NAME ":1: spam: unknown key"},
	    {"[milter]\nport = 25\n", NAME ":2: milter.port: unknown key"},
	    {"[milter]\n\"odd key\" = 1\n", NAME ":2: milter.\"odd key\": unknown key"},
	    {"[session]\ntimeout = \"5m\"\n", NAME ":2: session.timeout: unknown key"},
	    {"[session.rcpt]\nrelay = true\n", NAME ":1: session.rcpt: unknown key"},
	    {HOOK "method = \"PUT\"\n", NAME ":3: session.hook.\"h\".method: unknown key"},
	    {HOOK "options.retries = 3\n",
	     NAME ":3: session.hook.\"h\".options.retries: unknown key"},
	    {HOOK "auth.token = \"abc\"\n", NAME ":3: session.hook.\"h\".auth.token: unknown key"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_one_error(cases[i].text, cases[i].message);
}

static void test_unknown_keys_close_to_a_known_one_get_a_suggestion(void **state)
{
	static const struct error_case cases[] = {
	    {"[miltr]\nlisten = \"unix:/x\"\n",
	     NAME ":1: miltr: unknown key; did you mean \"milter\"?"},
	    {"[sesion.hook.\"h\"]\nurl = \"http://127.0.0.1/\"\n",
	     NAME ":1: sesion: unknown key; did you mean \"session\"?"},
	    {"[hook.\"h\"]\nurl = \"http://127.0.0.1/\"\n",
	     NAME ":1: hook: unknown key; did you mean \"session.hook\"?"},
	    {"[milter]\nlisen = \"unix:/x\"\n",
	     NAME ":2: milter.lisen: unknown key; did you mean \"listen\"?"},
	    {"[milter]\nserver_name = \"mx\"\n",
	     NAME ":2: milter.server_name: unknown key; did you mean \"server-name\"?"},
	    {"[milter]\nmax-mesage-size = 5\n",
	     NAME ":2: milter.max-mesage-size: unknown key; did you mean \"max-message-size\"?"},
	    {"[session.hooks.\"h\"]\nurl = \"http://127.0.0.1/\"\n",
	     NAME ":1: session.hooks: unknown key; did you mean \"hook\"?"},
	    {HOOK "timout = \"3s\"\n",
	     NAME ":3: session.hook.\"h\".timout: unknown key; did you mean \"timeout\"?"},
	    {HOOK "enabled = true\n",
	     NAME ":3: session.hook.\"h\".enabled: unknown key; did you mean \"enable\"?"},
	    {HOOK "stage = [\"data\"]\n",
	     NAME ":3: session.hook.\"h\".stage: unknown key; did you mean \"stages\"?"},
	    {HOOK "Headers = []\n",
	     NAME ":3: session.hook.\"h\".Headers: unknown key; did you mean \"headers\"?"},
	    {HOOK "allow_invalid_certs = true\n",
	     NAME ":3: session.hook.\"h\".allow_invalid_certs: unknown key; did you mean "
	          "\"allow-invalid-certs\"?"},
	    {HOOK "tempfail-on-error = false\n",
	     NAME ":3: session.hook.\"h\".tempfail-on-error: unknown key; did you mean "
	          "\"options.tempfail-on-error\"?"},
	    {HOOK "secret = \"x\"\n",
	     NAME ":3: session.hook.\"h\".secret: unknown key; did you mean \"auth.secret\"?"},
	    {HOOK "[session.hook.\"h\".option]\ntempfail-on-error = false\n",
	     NAME ":3: session.hook.\"h\".option: unknown key; did you mean \"options\"?"},
	    {HOOK "options.tempfail_on_error = false\n",
	     NAME ":3: session.hook.\"h\".options.tempfail_on_error: unknown key; did you mean "
	          "\"tempfail-on-error\"?"},
	    {HOOK "options.max-respons-size = 5\n",
	     NAME ":3: session.hook.\"h\".options.max-respons-size: unknown key; did you mean "
	          "\"max-response-size\"?"},
	    {HOOK "auth.usrname = \"u\"\n",
	     NAME ":3: session.hook.\"h\".auth.usrname: unknown key; did you mean "
	          "\"username\"?"},
	    {HOOK "auth.username = \"u\"\nauth.password = \"p\"\n",
	     NAME ":4: session.hook.\"h\".auth.password: unknown key; did you mean "
	          "\"secret\"?"},
	    /* Short keys take one edit only: two would turn "path" into "auth". */
	    {HOOK "rul = \"x\"\n", NAME ":3: session.hook.\"h\".rul: unknown key; did you mean "
	                                "\"url\"?"},
	    {HOOK "path = \"/x\"\n", NAME ":3: session.hook.\"h\".path: unknown key"},
	    {HOOK "timeout-after = \"3s\"\n",
	     NAME ":3: session.hook.\"h\".timeout-after: unknown key"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_one_error(cases[i].text, cases[i].message);
}

static void test_all_errors_are_reported_together(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = parse("[milter]\n"                       /* 1 */
	                           "listen = \"tcp:25\"\n"            /* 2 */
	                           "bogus = 1\n"                      /* 3 */
	                           "[session.hook.\"a\"]\n"           /* 4 */
	                           "timeout = \"3x\"\n"               /* 5 */
	                           "[session.hook.\"b\"]\n"           /* 6 */
	                           "url = \"ftp://127.0.0.1\"\n"      /* 7 */
	                           "stages = [\"mail\", \"helo\"]\n", /* 8 */
	                           &errs);

	assert_null(cfg);
	assert_int_equal(errs.count, 6);
	assert_string_equal(errs.msgs[0],
	                    NAME ":2: milter.listen: invalid socket \"tcp:25\" (use unix:/path, "
	                         "local:/path, inet:PORT@HOST or inet6:PORT@HOST, PORT 1-65535)");
	assert_string_equal(errs.msgs[1], NAME ":3: milter.bogus: unknown key");
	assert_string_equal(errs.msgs[2], NAME ":5: session.hook.\"a\".timeout: invalid duration "
	                                       "\"3x\" (use ms, s, m, h or d)");
	assert_string_equal(errs.msgs[3],
	                    NAME ":4: session.hook.\"a\".url: missing (every hook needs a url)");
	assert_string_equal(errs.msgs[4], NAME ":7: session.hook.\"b\".url: expected an http:// or "
	                                       "https:// URL with a host and no spaces");
	assert_string_equal(errs.msgs[5], NAME ":8: session.hook.\"b\".stages: unknown stage "
	                                       "\"helo\" (use connect, ehlo, mail, rcpt or data)");
	config_errors_free(&errs);
	assert_null(errs.msgs);
	assert_int_equal(errs.count, 0);
}

static void test_syntax_error_names_file_and_line(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = parse("[milter]\nlisten = \"unterminated\n", &errs);

	assert_null(cfg);
	assert_int_equal(errs.count, 1);
	assert_memory_equal(errs.msgs[0],
	                    NAME ":2: syntax error: ", strlen(NAME ":2: syntax error: "));
	/* toml's own "line N: " prefix is not repeated. */
	assert_null(strstr(errs.msgs[0], "line 2"));
	config_errors_free(&errs);
}

/* ---- durations and sizes --------------------------------------------------------------- */

static void test_parse_duration_table(void **state)
{
	static const struct {
		const char *text;
		long ms;
	} good[] = {{"0", 0},         {"250", 250},   {"500ms", 500},
	            {"30s", 30000},   {"2m", 120000}, {"1h", 3600000},
	            {"1d", 86400000}, {"10S", 10000}, {"15MS", 15}};
	static const char *const bad[] = {"",
	                                  "s",
	                                  "-5s",
	                                  "+5s",
	                                  "5 s",
	                                  "5sec",
	                                  "1.5s",
	                                  "5y",
	                                  " 5s",
	                                  "5s ",
	                                  "0x10",
	                                  "99999999999999999999",
	                                  "9223372036854775807d"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		long ms = -1;

		assert_int_equal(parse_duration(good[i].text, &ms), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long ms = -1;

		if (parse_duration(bad[i], &ms) != -1)
			print_error("accepted \"%s\"\n", bad[i]);
		assert_int_equal(parse_duration(bad[i], &ms), -1);
	}
	assert_int_equal(parse_duration(NULL, &(long){0}), -1);
}

static void test_parse_size_table(void **state)
{
	static const struct {
		const char *text;
		size_t bytes;
	} good[] = {{"0", 0},        {"52428800", 52428800}, {"1k", 1024},
	            {"2kb", 2048},   {"50mb", 52428800},     {"50MB", 52428800},
	            {"3m", 3145728}, {"1g", 1073741824},     {"2Gb", (size_t)2 * 1073741824}};
	static const char *const bad[] = {"",
	                                  "mb",
	                                  "-1",
	                                  "1.5mb",
	                                  "50 mb",
	                                  "50tb",
	                                  "50b",
	                                  "0x10",
	                                  "1kbb",
	                                  "99999999999999999999999",
	                                  "18446744073709551615g"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		size_t bytes = 1;

		assert_int_equal(parse_size(good[i].text, &bytes), 0);
		assert_int_equal(bytes, good[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t bytes = 1;

		if (parse_size(bad[i], &bytes) != -1)
			print_error("accepted \"%s\"\n", bad[i]);
		assert_int_equal(parse_size(bad[i], &bytes), -1);
	}
}

static void test_stage_names_round_trip(void **state)
{
	enum stage st = STAGE_DATA;

	for (unsigned i = 0; i < STAGE_COUNT; i++) {
		assert_int_equal(stage_parse(stage_name((enum stage)i), &st), 0);
		assert_int_equal(st, i);
	}
	assert_string_equal(stage_name(STAGE_CONNECT), "connect");
	assert_string_equal(stage_name(STAGE_DATA), "data");
	assert_int_equal(stage_parse("MAIL", &st), 0);
	assert_int_equal(st, STAGE_MAIL);
	assert_int_equal(stage_parse("Auth", &st), 1);
	assert_int_equal(stage_parse("helo", &st), -1);
	assert_int_equal(stage_parse("", &st), -1);
}

/* ---- substitutions --------------------------------------------------------------------- */

static void test_env_substitutions_fill_strings_and_array_elements(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg;

	assert_int_equal(setenv("MTAHOOKS_TEST_HOST", "127.0.0.1", 1), 0);
	assert_int_equal(setenv("MTAHOOKS_TEST_PORT", "8080", 1), 0);
	assert_int_equal(setenv("MTAHOOKS_TEST_TOKEN", "s3cr3t-token", 1), 0);
	cfg = parse(
	    "[session.hook.\"h\"]\n"
	    "url = \"http://%{env:MTAHOOKS_TEST_HOST}%:%{env:MTAHOOKS_TEST_PORT}%/x\"\n"
	    "stages = [\"%{env:MTAHOOKS_TEST_STAGE}%\"]\n"
	    "headers = [\"Authorization: Bearer %{env:MTAHOOKS_TEST_TOKEN}%\", \"X-P: 100%\"]\n"
	    "auth.username = \"u\"\n"
	    "auth.secret = \"%{env:MTAHOOKS_TEST_TOKEN}%\"\n",
	    &errs);
	/* MTAHOOKS_TEST_STAGE is not set yet: an error naming the key, and no config. */
	assert_null(cfg);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], NAME ":3: session.hook.\"h\".stages: environment "
	                                       "variable \"MTAHOOKS_TEST_STAGE\" is not set");
	config_errors_free(&errs);

	assert_int_equal(setenv("MTAHOOKS_TEST_STAGE", "rcpt", 1), 0);
	cfg = parse(
	    "[session.hook.\"h\"]\n"
	    "url = \"http://%{env:MTAHOOKS_TEST_HOST}%:%{env:MTAHOOKS_TEST_PORT}%/x\"\n"
	    "stages = [\"%{env:MTAHOOKS_TEST_STAGE}%\"]\n"
	    "headers = [\"Authorization: Bearer %{env:MTAHOOKS_TEST_TOKEN}%\", \"X-P: 100%\"]\n"
	    "auth.username = \"u\"\n"
	    "auth.secret = \"%{env:MTAHOOKS_TEST_TOKEN}%\"\n",
	    &errs);
	assert_non_null(cfg);
	assert_string_equal(cfg->hooks[0].url, "http://127.0.0.1:8080/x");
	assert_int_equal(cfg->hooks[0].stages, STAGE_BIT(STAGE_RCPT));
	assert_string_equal(cfg->hooks[0].headers[0], "Authorization: Bearer s3cr3t-token");
	/* A lone % is not a substitution. */
	assert_string_equal(cfg->hooks[0].headers[1], "X-P: 100%");
	assert_string_equal(cfg->hooks[0].auth_secret, "s3cr3t-token");
	config_unref(cfg);
	unsetenv("MTAHOOKS_TEST_STAGE");
}

static void test_missing_env_var_error_does_not_print_the_secret(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg;

	unsetenv("MTAHOOKS_TEST_MISSING");
	assert_int_equal(setenv("MTAHOOKS_TEST_PASSWORD", "pa55word-xyz", 1), 0);
	cfg = parse(HOOK "[session.hook.\"h\".auth]\n"
	                 "username = \"%{env:MTAHOOKS_TEST_PASSWORD}%:bad\"\n"
	                 "secret = \"literal-pa55%{env:MTAHOOKS_TEST_MISSING}%\"\n",
	            &errs);
	assert_null(cfg);
	assert_int_equal(errs.count, 2);
	assert_string_equal(errs.msgs[0], NAME ":4: session.hook.\"h\".auth.username: must not "
	                                       "contain ':', CR or LF");
	assert_string_equal(errs.msgs[1], NAME ":5: session.hook.\"h\".auth.secret: environment "
	                                       "variable \"MTAHOOKS_TEST_MISSING\" is not set");
	assert_false(any_error_contains(&errs, "pa55"));
	config_errors_free(&errs);
}

static void test_file_substitution_drops_one_trailing_newline(void **state)
{
	char *secret = temp_file("file-secret\n\n");
	char *user = temp_file("file-user");
	struct config_errors errs = {0};
	struct config *cfg;
	char text[512];

	snprintf(text, sizeof(text),
	         HOOK "stages = [\"data\"]\nauth.username = \"%%{file:%s}%%\"\n"
	              "auth.secret = \"<%%{file:%s}%%>\"\n",
	         user, secret);
	cfg = parse(text, &errs);
	assert_non_null(cfg);
	assert_string_equal(cfg->hooks[0].auth_username, "file-user");
	assert_string_equal(cfg->hooks[0].auth_secret, "<file-secret\n>");
	config_unref(cfg);
	unlink(secret);
	unlink(user);
	free(secret);
	free(user);
}

static void test_unreadable_file_substitution_is_an_error(void **state)
{
	expect_one_error(HOOK "auth.username = \"u\"\n"
	                      "auth.secret = \"%{file:/nonexistent/mtahooks/secret}%\"\n",
	                 NAME ":4: session.hook.\"h\".auth.secret: cannot read file "
	                      "\"/nonexistent/mtahooks/secret\": No such file or directory");
	expect_one_error(HOOK "auth.username = \"u\"\nauth.secret = \"%{cfg:other.key}%\"\n",
	                 NAME ":4: session.hook.\"h\".auth.secret: unsupported substitution "
	                      "%{cfg:...}% (use %{env:NAME}% or %{file:/path}%)");
}

static void test_substitutions_work_in_every_table_and_several_per_string(void **state)
{
	char *user = temp_file("file-user\n");
	char *tail = temp_file("/path\r\n");
	struct config_errors errs = {0};
	struct config *cfg;
	const struct hook *h;
	char text[2048];

	assert_int_equal(setenv("MTAHOOKS_TEST_SOCK", "inet:11332@127.0.0.1", 1), 0);
	assert_int_equal(setenv("MTAHOOKS_TEST_NAME", "mx", 1), 0);
	assert_int_equal(setenv("MTAHOOKS_TEST_SIZE", "2", 1), 0);
	assert_int_equal(setenv("MTAHOOKS_TEST_BOOL", "false", 1), 0);
	assert_int_equal(setenv("MTAHOOKS_TEST_TOKEN", "t0k", 1), 0);
	snprintf(
	    text, sizeof(text),
	    "[milter]\n"
	    "listen = \"%%{env:MTAHOOKS_TEST_SOCK}%%\"\n"
	    "server-name = \"%%{env:MTAHOOKS_TEST_NAME}%%.%%{env:MTAHOOKS_TEST_NAME}%%.test\"\n"
	    "max-message-size = \"%%{env:MTAHOOKS_TEST_SIZE}%%mb\"\n"
	    "[session.hook.\"h\"]\n"
	    "url = \"http://127.0.0.1%%{file:%s}%%\"\n"
	    "stages = [\"data\", \"%%{env:MTAHOOKS_TEST_NAME}%%\"]\n"
	    "timeout = \"%%{env:MTAHOOKS_TEST_SIZE}%%s\"\n"
	    "allow-invalid-certs = \"%%{env:MTAHOOKS_TEST_BOOL}%%\"\n"
	    "headers = [\"X-A: %%{env:MTAHOOKS_TEST_TOKEN}%%-%%{file:%s}%%-%%{env:"
	    "MTAHOOKS_TEST_TOKEN}%%\"]\n"
	    "[session.hook.\"h\".options]\n"
	    "tempfail-on-error = \"%%{env:MTAHOOKS_TEST_BOOL}%%\"\n"
	    "max-response-size = \"%%{env:MTAHOOKS_TEST_SIZE}%%kb\"\n"
	    "[session.hook.\"h\".auth]\n"
	    "username = \"%%{file:%s}%%\"\n"
	    "secret = \"%%{env:MTAHOOKS_TEST_TOKEN}%%%%{file:%s}%%\"\n",
	    tail, user, user, user);
	/* "mx" is no stage: the error is the array's, and nothing is loaded. */
	cfg = parse(text, &errs);
	assert_null(cfg);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], NAME ":7: session.hook.\"h\".stages: unknown stage "
	                                       "\"%{env:MTAHOOKS_TEST_NAME}%\" (use connect, ehlo, "
	                                       "mail, rcpt or data)");
	config_errors_free(&errs);

	assert_int_equal(setenv("MTAHOOKS_TEST_NAME", "rcpt", 1), 0);
	cfg = parse(text, &errs);
	assert_non_null(cfg);
	assert_int_equal(errs.count, 0);
	assert_string_equal(cfg->listen, "inet:11332@127.0.0.1");
	assert_string_equal(cfg->server_name, "rcpt.rcpt.test");
	assert_int_equal(cfg->max_message_size, 2 * 1024 * 1024);
	h = &cfg->hooks[0];
	/* CRLF counts as the one trailing newline a file loses. */
	assert_string_equal(h->url, "http://127.0.0.1/path");
	assert_int_equal(h->stages, STAGE_BIT(STAGE_DATA) | STAGE_BIT(STAGE_RCPT));
	assert_int_equal(h->timeout_ms, 2000);
	assert_int_equal(h->allow_invalid_certs, 0);
	assert_int_equal(h->nheaders, 1);
	assert_string_equal(h->headers[0], "X-A: t0k-file-user-t0k");
	assert_int_equal(h->tempfail_on_error, 0);
	assert_int_equal(h->max_response_size, 2048);
	assert_string_equal(h->auth_username, "file-user");
	assert_string_equal(h->auth_secret, "t0kfile-user");
	config_unref(cfg);
	unlink(user);
	unlink(tail);
	free(user);
	free(tail);
}

static void test_file_substitution_loses_exactly_one_trailing_newline(void **state)
{
	static const struct {
		const char *content;
		const char *value;
	} cases[] = {
	    {"abc", "abc"},
	    {"abc\n", "abc"},
	    {"abc\n\n", "abc\n"},
	    {"abc\r\n", "abc"},
	    {"abc\r\n\r\n", "abc\r\n"},
	    {"abc\r", "abc\r"},
	    {"\n", ""},
	    {"", ""},
	    {"a\nb\n", "a\nb"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = temp_file(cases[i].content);
		struct config_errors errs = {0};
		struct config *cfg;
		char text[512];

		snprintf(text, sizeof(text),
		         HOOK "stages = [\"data\"]\nauth.username = \"u\"\n"
		              "auth.secret = \"%%{file:%s}%%\"\n",
		         path);
		cfg = parse(text, &errs);
		assert_non_null(cfg);
		assert_string_equal(cfg->hooks[0].auth_secret, cases[i].value);
		config_unref(cfg);
		unlink(path);
		free(path);
	}
}

static void test_substitution_errors_name_file_line_and_key(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg;

	unsetenv("MTAHOOKS_TEST_UNSET");
	cfg = parse("[milter]\n"
	            "listen = \"unix:%{env:MTAHOOKS_TEST_UNSET}%\"\n"
	            "server-name = \"%{file:/nonexistent/mtahooks/name}%\"\n"
	            "[session.hook.\"h\"]\n"
	            "url = \"http://127.0.0.1/\"\n"
	            "stages = [\"data\"]\n"
	            "headers = [\"X-A: 1\",\n"
	            "           \"X-B: %{file:/tmp}%\"]\n"
	            "options.max-response-size = \"%{env:MTAHOOKS_TEST_UNSET}%\"\n"
	            "timeout = \"%{env:}%\"\n"
	            "auth.username = \"%{env:MTAHOOKS_TEST_UNSET\"\n",
	            &errs);
	assert_null(cfg);
	assert_int_equal(errs.count, 6);
	assert_string_equal(errs.msgs[0], NAME ":2: milter.listen: environment variable "
	                                       "\"MTAHOOKS_TEST_UNSET\" is not set");
	assert_string_equal(errs.msgs[1], NAME ":3: milter.server-name: cannot read file "
	                                       "\"/nonexistent/mtahooks/name\": No such file or "
	                                       "directory");
	assert_string_equal(errs.msgs[2], NAME ":8: session.hook.\"h\".headers: cannot read file "
	                                       "\"/tmp\": Is a directory");
	assert_string_equal(errs.msgs[3], NAME ":9: session.hook.\"h\".options.max-response-size: "
	                                       "environment variable \"MTAHOOKS_TEST_UNSET\" is "
	                                       "not set");
	assert_string_equal(errs.msgs[4], NAME ":10: session.hook.\"h\".timeout: invalid "
	                                       "environment variable name in %{env:...}%");
	assert_string_equal(errs.msgs[5], NAME ":11: session.hook.\"h\".auth.username: "
	                                       "unterminated %{env:...}% substitution");
	config_errors_free(&errs);
}

static void test_substituted_text_is_not_substituted_again(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg;

	assert_int_equal(setenv("MTAHOOKS_TEST_INNER", "%{file:/etc/hostname}%", 1), 0);
	cfg = parse(HOOK "stages = [\"data\"]\nauth.username = \"u\"\n"
	                 "auth.secret = \"%{env:MTAHOOKS_TEST_INNER}%\"\n",
	            &errs);
	assert_non_null(cfg);
	assert_string_equal(cfg->hooks[0].auth_secret, "%{file:/etc/hostname}%");
	config_unref(cfg);
}

/* ---- secrets in clear ---------------------------------------------------------------------- */

/* load_with_mode - config_load of text written to a file of that mode; the log it gave */
static char *load_with_mode(const char *text, mode_t mode, char **path, struct config **cfg)
{
	struct config_errors errs = {0};
	char *log;

	*path = temp_file(text);
	assert_int_equal(chmod(*path, mode), 0);
	log = load_capturing_log(*path, cfg, &errs);
	assert_int_equal(errs.count, 0);
	assert_non_null(*cfg);
	return log;
}

static void test_clear_secret_in_a_file_others_can_read_is_warned_about(void **state)
{
	static const mode_t modes[] = {0644, 0640, 0604};
	static const char text[] = HOOK "stages = [\"data\"]\n"
	                                "[session.hook.\"h\".auth]\n"
	                                "username = \"u\"\n"
	                                "secret = \"Cl3ar-Secret\"\n";

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct config *cfg;
		char *path, want[512];
		char *log = load_with_mode(text, modes[i], &path, &cfg);

		snprintf(
		    want, sizeof(want),
		    "warning: %s:6: session.hook.\"h\".auth.secret: secret written in clear in "
		    "a file that group or others can read (mode 0%o); give the file mode 0600 "
		    "or take the secret from %%{file:...}%% or %%{env:...}%%\n",
		    path, (unsigned)modes[i]);
		if (strstr(log, want) == NULL)
			print_error("wanted: %s\ngot:\n%s\n", want, log);
		assert_non_null(strstr(log, want));
		assert_null(strstr(log, "Cl3ar"));
		/* The warning does not stop the load. */
		assert_string_equal(cfg->hooks[0].auth_secret, "Cl3ar-Secret");
		config_unref(cfg);
		unlink(path);
		free(path);
		free(log);
	}
}

static void test_no_clear_secret_warning_for_private_files_or_substitutions(void **state)
{
	static const struct {
		const char *secret;
		mode_t mode;
		int warned;
	} cases[] = {
	    {"Cl3ar-Secret", 0600, 0},
	    {"Cl3ar-Secret", 0400, 0},
	    {"%{env:MTAHOOKS_TEST_SECRET}%", 0644, 0},
	    {"%{env:MTAHOOKS_TEST_SECRET}%%{env:MTAHOOKS_TEST_SECRET}%", 0644, 0},
	    {"", 0644, 0},
	    /* A part written in clear is a secret written in clear. */
	    {"Cl3ar%{env:MTAHOOKS_TEST_SECRET}%", 0644, 1},
	    {"%{env:MTAHOOKS_TEST_SECRET}%100%", 0644, 1},
	};

	assert_int_equal(setenv("MTAHOOKS_TEST_SECRET", "from-env", 1), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *cfg;
		char text[512], *path, *log;

		snprintf(text, sizeof(text),
		         HOOK "stages = [\"data\"]\nauth.username = \"u\"\nauth.secret = \"%s\"\n",
		         cases[i].secret);
		log = load_with_mode(text, cases[i].mode, &path, &cfg);
		if ((strstr(log, "secret written in clear") != NULL) != cases[i].warned)
			print_error("secret %s, mode 0%o: log:\n%s\n", cases[i].secret,
			            (unsigned)cases[i].mode, log);
		assert_int_equal(strstr(log, "secret written in clear") != NULL, cases[i].warned);
		config_unref(cfg);
		unlink(path);
		free(path);
		free(log);
	}
}

static void test_clear_secret_in_memory_text_is_not_warned_about(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg;
	char *log = parse_capturing_log(HOOK "stages = [\"data\"]\nauth.username = \"u\"\n"
	                                     "auth.secret = \"Cl3ar-Secret\"\n",
	                                &cfg, &errs);

	assert_non_null(cfg);
	assert_null(strstr(log, "in clear"));
	config_unref(cfg);
	free(log);
}

/* ---- transport keys: endpoints, connections, TLS, signature -------------------------------- */

static void test_transport_keys_get_their_defaults(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = parse(HOOK "stages = [\"data\"]\n", &errs);
	const struct hook *h;

	assert_non_null(cfg);
	h = &cfg->hooks[0];
	assert_int_equal(h->nurls, 1);
	assert_ptr_equal(h->url, h->urls[0]);
	assert_string_equal(h->urls[0], "https://hooks.test/h");
	assert_int_equal(h->max_connections, 8);
	assert_int_equal(h->http2_prior_knowledge, 0);
	assert_int_equal(h->balance, HOOK_BALANCE_FAILOVER);
	assert_int_equal(h->retry_after_ms, 10000);
	assert_int_equal(h->use_proxy, 0);
	assert_null(h->tls_ca_file);
	assert_null(h->tls_ca_path);
	assert_null(h->tls_cert_file);
	assert_null(h->tls_key_file);
	assert_int_equal(h->tls_min_version, 0);
	assert_null(h->signature_secret);
	config_unref(cfg);
}

static void test_urls_are_kept_in_order_and_url_is_the_first(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = parse("[session.hook.\"h\"]\n"
	                           "urls = [\"http://127.0.0.1:1/a\", \"https://b.test/b\",\n"
	                           "        \"http://[::1]:2/c\"]\n"
	                           "stages = [\"data\"]\n",
	                           &errs);
	const struct hook *h;

	assert_non_null(cfg);
	h = &cfg->hooks[0];
	assert_int_equal(h->nurls, 3);
	assert_string_equal(h->urls[0], "http://127.0.0.1:1/a");
	assert_string_equal(h->urls[1], "https://b.test/b");
	assert_string_equal(h->urls[2], "http://[::1]:2/c");
	assert_ptr_equal(h->url, h->urls[0]);
	config_unref(cfg);
}

static void test_url_and_urls_errors_are_pinned(void **state)
{
	static const struct error_case cases[] = {
	    {HOOK "urls = [\"http://127.0.0.1/b\"]\n",
	     NAME ":3: session.hook.\"h\".urls: use url or urls, not both"},
	    {"[session.hook.\"h\"]\nurls = []\n",
	     NAME ":2: session.hook.\"h\".urls: must list at least one URL"},
	    {"[session.hook.\"h\"]\nurls = \"http://127.0.0.1/\"\n",
	     NAME ":2: session.hook.\"h\".urls: expected an array of URLs"},
	    {"[session.hook.\"h\"]\nurls = [\"http://127.0.0.1/\", 5]\n",
	     NAME ":2: session.hook.\"h\".urls: URL 2: expected a string"},
	    /* Not quoted back: a URL may hold a password. */
	    {"[session.hook.\"h\"]\nurls = [\"http://127.0.0.1/\", \"ftp://u:pw@x/\"]\n",
	     NAME ":2: session.hook.\"h\".urls: URL 2: expected an http:// or https:// URL with "
	          "a host and no spaces"},
	    {"[session.hook.\"h\"]\nurls = [\"%{env:MTAHOOKS_TEST_UNSET_URL}%\"]\n",
	     NAME ":2: session.hook.\"h\".urls: environment variable "
	          "\"MTAHOOKS_TEST_UNSET_URL\" is not set"},
	};

	unsetenv("MTAHOOKS_TEST_UNSET_URL");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_one_error(cases[i].text, cases[i].message);
	{
		char text[4096];
		size_t n = (size_t)snprintf(text, sizeof(text), "[session.hook.\"h\"]\nurls = [");

		for (int i = 0; i < 33; i++)
			n += (size_t)snprintf(text + n, sizeof(text) - n,
			                      "%s\"http://127.0.0.1/%d\"", i ? ", " : "", i);
		snprintf(text + n, sizeof(text) - n, "]\n");
		expect_one_error(text, NAME ":2: session.hook.\"h\".urls: at most 32 URLs");
	}
}

static void test_every_transport_key_is_read(void **state)
{
	char *ca = temp_file("ca\n"), *cert = temp_file("cert\n"), *key = temp_file("key\n");
	struct config_errors errs = {0};
	struct config *cfg;
	const struct hook *h;
	char text[2048];

	snprintf(text, sizeof(text),
	         "[session.hook.\"h\"]\n"
	         "urls = [\"http://127.0.0.1/a\", \"http://127.0.0.1/b\"]\n"
	         "stages = [\"data\"]\n"
	         "[session.hook.\"h\".options]\n"
	         "max-connections = 3\n"
	         "http2-prior-knowledge = true\n"
	         "balance = \"round-robin\"\n"
	         "retry-after = \"2m\"\n"
	         "use-proxy = true\n"
	         "[session.hook.\"h\".tls]\n"
	         "ca-file = \"%s\"\n"
	         "ca-path = \"/tmp\"\n"
	         "cert-file = \"%s\"\n"
	         "key-file = \"%s\"\n"
	         "min-version = \"1.3\"\n"
	         "[session.hook.\"h\".signature]\n"
	         "secret = \"s3cret\"\n",
	         ca, cert, key);
	cfg = parse(text, &errs);
	for (size_t i = 0; i < errs.count; i++)
		print_error("%s\n", errs.msgs[i]);
	assert_non_null(cfg);
	h = &cfg->hooks[0];
	assert_int_equal(h->max_connections, 3);
	assert_int_equal(h->http2_prior_knowledge, 1);
	assert_int_equal(h->balance, HOOK_BALANCE_ROUND_ROBIN);
	assert_int_equal(h->retry_after_ms, 120000);
	assert_int_equal(h->use_proxy, 1);
	assert_string_equal(h->tls_ca_file, ca);
	assert_string_equal(h->tls_ca_path, "/tmp");
	assert_string_equal(h->tls_cert_file, cert);
	assert_string_equal(h->tls_key_file, key);
	assert_int_equal(h->tls_min_version, 13);
	assert_string_equal(h->signature_secret, "s3cret");
	config_unref(cfg);

	/* The other values of the enumerations. */
	cfg = parse(HOOK "stages = [\"data\"]\noptions.balance = \"failover\"\n"
	                 "tls.min-version = \"1.2\"\noptions.max-connections = 1024\n",
	            &errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->hooks[0].balance, HOOK_BALANCE_FAILOVER);
	assert_int_equal(cfg->hooks[0].tls_min_version, 12);
	assert_int_equal(cfg->hooks[0].max_connections, 1024);
	config_unref(cfg);
	unlink(ca);
	unlink(cert);
	unlink(key);
	free(ca);
	free(cert);
	free(key);
}

static void test_transport_option_errors_are_pinned(void **state)
{
	static const struct error_case cases[] = {
	    {HOOK "options.max-connections = 0\n",
	     NAME ":3: session.hook.\"h\".options.max-connections: must be at least 1"},
	    {HOOK "options.max-connections = -2\n",
	     NAME ":3: session.hook.\"h\".options.max-connections: must be at least 1"},
	    {HOOK "options.max-connections = 1025\n",
	     NAME ":3: session.hook.\"h\".options.max-connections: must be at most 1024"},
	    {HOOK "options.max-connections = \"8\"\n",
	     NAME ":3: session.hook.\"h\".options.max-connections: expected an integer"},
	    {HOOK "options.http2-prior-knowledge = 1\n",
	     NAME ":3: session.hook.\"h\".options.http2-prior-knowledge: expected a boolean"},
	    {HOOK "options.use-proxy = \"yes\"\n",
	     NAME ":3: session.hook.\"h\".options.use-proxy: expected a boolean"},
	    {HOOK "options.balance = \"random\"\n",
	     NAME ":3: session.hook.\"h\".options.balance: invalid balance \"random\" (use "
	          "\"failover\" or \"round-robin\")"},
	    {HOOK "options.balance = 1\n",
	     NAME ":3: session.hook.\"h\".options.balance: expected a string"},
	    {HOOK "options.retry-after = \"10x\"\n",
	     NAME ":3: session.hook.\"h\".options.retry-after: invalid duration \"10x\" (use ms, "
	          "s, m, h or d)"},
	    {HOOK "options.retry-after = 0\n",
	     NAME ":3: session.hook.\"h\".options.retry-after: must be greater than zero"},
	    {HOOK "tls.min-version = \"1.1\"\n",
	     NAME ":3: session.hook.\"h\".tls.min-version: invalid TLS version \"1.1\" (use "
	          "\"1.2\" or \"1.3\")"},
	    {HOOK "tls.min-version = 1.3\n",
	     NAME ":3: session.hook.\"h\".tls.min-version: expected a string"},
	    {HOOK "tls = true\n", NAME ":3: session.hook.\"h\".tls: expected a table"},
	    {HOOK "signature = \"x\"\n", NAME ":3: session.hook.\"h\".signature: expected a table"},
	    {HOOK "signature.secret = \"\"\n",
	     NAME ":3: session.hook.\"h\".signature.secret: must not be empty"},
	    {HOOK "signature.secret = 42\n",
	     NAME ":3: session.hook.\"h\".signature.secret: expected a string"},
	    {HOOK "signature.key = \"k\"\n",
	     NAME ":3: session.hook.\"h\".signature.key: unknown key; did you mean \"secret\"?"},
	    {HOOK "tls.cafile = \"/etc/hostname\"\n",
	     NAME ":3: session.hook.\"h\".tls.cafile: unknown key; did you mean \"ca-file\"?"},
	    {HOOK "ca-file = \"/etc/hostname\"\n",
	     NAME ":3: session.hook.\"h\".ca-file: unknown key; did you mean \"tls.ca-file\"?"},
	    {HOOK "max-connections = 4\n",
	     NAME ":3: session.hook.\"h\".max-connections: unknown key; did you mean "
	          "\"options.max-connections\"?"},
	    {HOOK "options.retry_after = \"5s\"\n",
	     NAME ":3: session.hook.\"h\".options.retry_after: unknown key; did you mean "
	          "\"retry-after\"?"},
	    {HOOK "url2 = \"http://127.0.0.1/\"\n",
	     NAME ":3: session.hook.\"h\".url2: unknown key; did you mean \"url\"?"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_one_error(cases[i].text, cases[i].message);
}

static void test_tls_files_must_be_readable_at_load(void **state)
{
	char *file = temp_file("x\n");
	char text[1024], want[1024];
	static const struct {
		const char *key;
		const char *path; /* NULL: the temporary file */
		const char *why;
	} cases[] = {
	    {"ca-file", "/nonexistent/mtahooks/ca.pem", "No such file or directory"},
	    {"ca-file", "/tmp", "Is a directory"},
	    {"ca-path", "/nonexistent/mtahooks", "No such file or directory"},
	    {"ca-path", NULL, "Not a directory"},
	    {"ca-file", "", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = cases[i].path ? cases[i].path : file;

		snprintf(text, sizeof(text), HOOK "tls.%s = \"%s\"\n", cases[i].key, path);
		if (cases[i].why != NULL)
			snprintf(want, sizeof(want),
			         NAME ":3: session.hook.\"h\".tls.%s: cannot read \"%s\": %s",
			         cases[i].key, path, cases[i].why);
		else
			snprintf(want, sizeof(want),
			         NAME ":3: session.hook.\"h\".tls.%s: must not be empty",
			         cases[i].key);
		expect_one_error(text, want);
	}
	/* Only root could read it: a test run as root cannot see this error. */
	if (geteuid() != 0) {
		assert_int_equal(chmod(file, 0), 0);
		snprintf(text, sizeof(text), HOOK "tls.ca-file = \"%s\"\n", file);
		snprintf(
		    want, sizeof(want),
		    NAME
		    ":3: session.hook.\"h\".tls.ca-file: cannot read \"%s\": Permission denied",
		    file);
		expect_one_error(text, want);
	}
	unlink(file);
	free(file);
}

static void test_client_certificate_and_key_go_together(void **state)
{
	char text[1024];

	snprintf(text, sizeof(text),
	         HOOK "[session.hook.\"h\".tls]\ncert-file = \"/etc/hostname\"\n");
	expect_one_error(text, NAME ":4: session.hook.\"h\".tls.cert-file: needs key-file too (the "
	                            "client certificate's key)");
	snprintf(text, sizeof(text),
	         HOOK "[session.hook.\"h\".tls]\nkey-file = \"/etc/hostname\"\n");
	expect_one_error(text, NAME ":4: session.hook.\"h\".tls.key-file: needs cert-file too (the "
	                            "client certificate)");
}

static void test_signature_secret_takes_substitutions_and_is_never_quoted(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg;

	assert_int_equal(setenv("MTAHOOKS_TEST_SIG", "from-env-S3cr3t", 1), 0);
	cfg = parse(HOOK "stages = [\"data\"]\nsignature.secret = \"%{env:MTAHOOKS_TEST_SIG}%\"\n",
	            &errs);
	assert_non_null(cfg);
	assert_string_equal(cfg->hooks[0].signature_secret, "from-env-S3cr3t");
	config_unref(cfg);

	/* An error elsewhere in the table does not echo the secret. */
	cfg =
	    parse(HOOK "signature.secret = \"S3cr3t-clear\"\nsignature.nonce = \"S3cr3t-clear\"\n",
	          &errs);
	assert_null(cfg);
	assert_int_equal(errs.count, 1);
	assert_null(strstr(errs.msgs[0], "S3cr3t"));
	config_errors_free(&errs);
}

static void test_clear_signature_secret_in_a_file_others_can_read_is_warned_about(void **state)
{
	static const char text[] = HOOK "stages = [\"data\"]\n"
	                                "[session.hook.\"h\".signature]\n"
	                                "secret = \"Cl3ar-Signing-Key\"\n";
	struct config *cfg;
	char *path, want[512];
	char *log = load_with_mode(text, 0644, &path, &cfg);

	snprintf(want, sizeof(want),
	         "warning: %s:5: session.hook.\"h\".signature.secret: secret written in clear in "
	         "a file that group or others can read (mode 0644)",
	         path);
	if (strstr(log, want) == NULL)
		print_error("wanted: %s\ngot:\n%s\n", want, log);
	assert_non_null(strstr(log, want));
	assert_null(strstr(log, "Cl3ar"));
	assert_string_equal(cfg->hooks[0].signature_secret, "Cl3ar-Signing-Key");
	config_unref(cfg);
	unlink(path);
	free(path);
	free(log);

	log = load_with_mode(text, 0600, &path, &cfg);
	assert_null(strstr(log, "in clear"));
	config_unref(cfg);
	unlink(path);
	free(path);
	free(log);
}

/* ---- loading files ----------------------------------------------------------------------- */

static void test_config_load_reads_a_file(void **state)
{
	char *path = temp_file(HOOK "stages = [\"connect\"]\n");
	struct config_errors errs = {0};
	struct config *cfg = config_load(path, &errs);

	assert_non_null(cfg);
	assert_string_equal(cfg->path, path);
	assert_int_equal(cfg->stages, STAGE_BIT(STAGE_CONNECT));
	config_unref(cfg);
	unlink(path);
	free(path);
}

static void test_config_load_errors_name_the_file(void **state)
{
	char *path = temp_file("[milter]\nlisten = 1\n");
	struct config_errors errs = {0};
	char want[256];

	assert_null(config_load("/nonexistent/mtahooks.toml", &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0],
	                    "/nonexistent/mtahooks.toml: cannot read: No such file or directory");
	config_errors_free(&errs);

	assert_null(config_load("/tmp", &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], "/tmp: cannot read: Is a directory");
	config_errors_free(&errs);

	assert_null(config_load(path, &errs));
	assert_int_equal(errs.count, 1);
	snprintf(want, sizeof(want), "%s:2: milter.listen: expected a string", path);
	assert_string_equal(errs.msgs[0], want);
	config_errors_free(&errs);
	unlink(path);
	free(path);
}

/* ---- references and the current snapshot ------------------------------------------------- */

static void test_refcount_and_current_swap_keep_old_snapshot_alive(void **state)
{
	struct config_errors errs = {0};
	struct config *a = parse(HOOK "stages = [\"mail\"]\n", &errs);
	struct config *b = parse("[session.hook.\"new\"]\nurl = \"http://127.0.0.1/\"\n"
	                         "stages = [\"data\"]\n",
	                         &errs);
	struct config *held, *now;

	assert_non_null(a);
	assert_non_null(b);
	config_set_current(NULL);
	assert_null(config_current());

	assert_ptr_equal(config_ref(a), a);
	config_unref(a); /* back to the caller's one reference */
	config_set_current(a);
	held = config_current(); /* a session starts with a */
	assert_ptr_equal(held, a);

	config_set_current(b); /* a reload */
	now = config_current();
	assert_ptr_equal(now, b);
	/* The session's snapshot is still whole. */
	assert_string_equal(held->hooks[0].id, "h");
	assert_int_equal(held->stages, STAGE_BIT(STAGE_MAIL));
	config_unref(held); /* frees a: valgrind shows no leak and no invalid read */
	assert_string_equal(now->hooks[0].id, "new");
	config_unref(now);
	config_set_current(NULL); /* frees b */
	assert_null(config_current());
	config_unref(NULL);
}

/* reader - take and drop the snapshot many times while the main thread swaps it */
static void *reader(void *arg)
{
	long *seen = arg;

	for (int i = 0; i < 2000; i++) {
		struct config *cfg = config_current();

		if (cfg != NULL) {
			*seen += (long)cfg->nhooks;
			config_unref(cfg);
		}
	}
	return NULL;
}

static void test_current_survives_concurrent_swaps(void **state)
{
	pthread_t threads[4];
	long seen[4] = {0};

	for (int t = 0; t < 4; t++)
		assert_int_equal(pthread_create(&threads[t], NULL, reader, &seen[t]), 0);
	for (int i = 0; i < 200; i++) {
		struct config_errors errs = {0};
		struct config *cfg = parse(HOOK "stages = [\"data\"]\n", &errs);

		assert_non_null(cfg);
		config_set_current(cfg);
	}
	for (int t = 0; t < 4; t++)
		assert_int_equal(pthread_join(threads[t], NULL), 0);
	for (int t = 0; t < 4; t++)
		assert_true(seen[t] >= 0);
	config_set_current(NULL);
}

/* setup - warnings go to stderr so tests can read them */
static int setup(void **state)
{
	log_init(1, 0);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_minimal_hook_gets_defaults),
	    cmocka_unit_test(test_seed_block_from_stalwart_loads_every_field),
	    cmocka_unit_test(test_milter_table_sets_listen_server_name_and_size),
	    cmocka_unit_test(test_hooks_keep_file_order),
	    cmocka_unit_test(test_every_hook_key_set_is_read),
	    cmocka_unit_test(test_listen_accepts_every_libmilter_form),
	    cmocka_unit_test(test_listen_rejects_other_forms),
	    cmocka_unit_test(test_max_message_size_zero_is_rejected),
	    cmocka_unit_test(test_enable_accepts_booleans_and_their_strings),
	    cmocka_unit_test(test_enable_constants_need_no_expression),
	    cmocka_unit_test(test_enable_expression_is_compiled_and_kept),
	    cmocka_unit_test(test_enable_errors_give_key_line_and_column),
	    cmocka_unit_test(test_enable_takes_substitutions_and_hides_their_text),
	    cmocka_unit_test(test_url_is_required_and_reported_at_the_table),
	    cmocka_unit_test(test_url_must_be_http_or_https),
	    cmocka_unit_test(test_unknown_stage_is_an_error),
	    cmocka_unit_test(test_auth_stage_is_accepted_with_a_warning),
	    cmocka_unit_test(test_hook_without_stages_loads_with_a_warning),
	    cmocka_unit_test(test_stages_union_ignores_disabled_hooks),
	    cmocka_unit_test(test_timeout_must_be_positive_and_well_formed),
	    cmocka_unit_test(test_timeout_integer_and_digit_string_are_milliseconds),
	    cmocka_unit_test(test_bad_headers_are_each_reported_without_their_value),
	    cmocka_unit_test(test_max_response_size_takes_bytes_or_size_strings),
	    cmocka_unit_test(test_secret_without_username_is_an_error),
	    cmocka_unit_test(test_hook_id_is_always_quoted_in_keys),
	    cmocka_unit_test(test_milter_type_errors_name_what_was_expected),
	    cmocka_unit_test(test_hook_type_errors_name_what_was_expected),
	    cmocka_unit_test(test_unknown_keys_are_errors_at_every_level),
	    cmocka_unit_test(test_unknown_keys_close_to_a_known_one_get_a_suggestion),
	    cmocka_unit_test(test_all_errors_are_reported_together),
	    cmocka_unit_test(test_syntax_error_names_file_and_line),
	    cmocka_unit_test(test_parse_duration_table),
	    cmocka_unit_test(test_parse_size_table),
	    cmocka_unit_test(test_stage_names_round_trip),
	    cmocka_unit_test(test_env_substitutions_fill_strings_and_array_elements),
	    cmocka_unit_test(test_missing_env_var_error_does_not_print_the_secret),
	    cmocka_unit_test(test_file_substitution_drops_one_trailing_newline),
	    cmocka_unit_test(test_unreadable_file_substitution_is_an_error),
	    cmocka_unit_test(test_substitutions_work_in_every_table_and_several_per_string),
	    cmocka_unit_test(test_file_substitution_loses_exactly_one_trailing_newline),
	    cmocka_unit_test(test_substitution_errors_name_file_line_and_key),
	    cmocka_unit_test(test_substituted_text_is_not_substituted_again),
	    cmocka_unit_test(test_clear_secret_in_a_file_others_can_read_is_warned_about),
	    cmocka_unit_test(test_no_clear_secret_warning_for_private_files_or_substitutions),
	    cmocka_unit_test(test_clear_secret_in_memory_text_is_not_warned_about),
	    cmocka_unit_test(test_transport_keys_get_their_defaults),
	    cmocka_unit_test(test_urls_are_kept_in_order_and_url_is_the_first),
	    cmocka_unit_test(test_url_and_urls_errors_are_pinned),
	    cmocka_unit_test(test_every_transport_key_is_read),
	    cmocka_unit_test(test_transport_option_errors_are_pinned),
	    cmocka_unit_test(test_tls_files_must_be_readable_at_load),
	    cmocka_unit_test(test_client_certificate_and_key_go_together),
	    cmocka_unit_test(test_signature_secret_takes_substitutions_and_is_never_quoted),
	    cmocka_unit_test(test_clear_signature_secret_in_a_file_others_can_read_is_warned_about),
	    cmocka_unit_test(test_metrics_listen_absent_means_no_listener),
	    cmocka_unit_test(test_metrics_listen_accepts_ipv4_and_bracketed_ipv6),
	    cmocka_unit_test(test_metrics_listen_rejects_names_bare_ipv6_and_bad_ports),
	    cmocka_unit_test(test_metrics_table_keys_are_checked),
	    cmocka_unit_test(test_config_load_reads_a_file),
	    cmocka_unit_test(test_config_load_errors_name_the_file),
	    cmocka_unit_test(test_refcount_and_current_swap_keep_old_snapshot_alive),
	    cmocka_unit_test(test_current_survives_concurrent_swaps),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
