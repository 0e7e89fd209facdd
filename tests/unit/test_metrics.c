/* test_metrics.c - unit tests for metrics.c: counting, the registry, the text format */
#ifdef HAVE_CONFIG_H
#include "build-config.h" /* PACKAGE_VERSION, which build_info shows */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "metrics.h"

#define NAME "test.toml"

static char *render(void);
static const char *line_of(const char *text, const char *series);
static double value_of(const char *text, const char *series);
static size_t count_lines_starting(const char *text, const char *prefix);
static struct config *parse(const char *text);

/* render - the whole rendering as a string the caller frees */
static char *render(void)
{
	struct buf out = BUF_INIT(0);

	assert_int_equal(metrics_render(&out), 0);
	assert_non_null(out.data);
	return out.data;
}

/* line_of - the line of text that starts with series followed by a space, or NULL */
static const char *line_of(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *at = text; at != NULL && *at; at = strchr(at, '\n'), at = at ? at + 1 : at)
		if (strncmp(at, series, n) == 0 && at[n] == ' ')
			return at;
	return NULL;
}

/* value_of - the sample value of series in text; fails the test when it is not there */
static double value_of(const char *text, const char *series)
{
	const char *line = line_of(text, series);

	if (line == NULL)
		print_error("series not found: %s\n", series);
	assert_non_null(line);
	return strtod(line + strlen(series) + 1, NULL);
}

/* count_lines_starting - how many lines of text start with prefix */
static size_t count_lines_starting(const char *text, const char *prefix)
{
	size_t n = 0, len = strlen(prefix);

	for (const char *at = text; at != NULL && *at; at = strchr(at, '\n'), at = at ? at + 1 : at)
		if (strncmp(at, prefix, len) == 0)
			n++;
	return n;
}

/* parse - a configuration from text, with its counters bound as main.c binds them */
static struct config *parse(const char *text)
{
	struct config_errors errs = {0};
	struct config *cfg = config_parse(text, strlen(text), NAME, &errs);

	assert_non_null(cfg);
	assert_int_equal(metrics_bind(cfg), 0);
	return cfg;
}

static void test_same_id_gets_the_same_block_and_other_ids_their_own(void **state)
{
	struct metrics_hook *a = metrics_hook_get("registry-a");
	struct metrics_hook *b = metrics_hook_get("registry-b");

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_ptr_equal(metrics_hook_get("registry-a"), a);
	assert_ptr_equal(metrics_hook_get("registry-b"), b);
	assert_null(metrics_hook_get(NULL));
}

static void test_requests_are_counted_by_stage_and_action(void **state)
{
	struct config *cfg =
	    parse("[session.hook.\"count\"]\nurl = \"http://127.0.0.1:1/\"\nstages = [\"mail\", "
	          "\"rcpt\"]\n");
	struct metrics_hook *m = cfg->hooks[0].metrics;
	char *text;

	(void)state;
	assert_non_null(m);
	metrics_show(cfg);
	metrics_hook_request(m, STAGE_MAIL, METRICS_ACCEPT, 1000);
	metrics_hook_request(m, STAGE_MAIL, METRICS_ACCEPT, 1000);
	metrics_hook_request(m, STAGE_RCPT, METRICS_REJECT, 1000);
	metrics_hook_request(m, STAGE_RCPT, METRICS_ERROR, 1000);
	metrics_hook_request(m, STAGE_RCPT, METRICS_QUARANTINE, 1000);
	metrics_hook_error(m, "http-status");
	metrics_hook_error(m, "not-json");
	metrics_hook_error(m, "not-json");
	metrics_hook_error(m, "no-such-kind"); /* counted as other */
	text = render();
	assert_int_equal(value_of(text,
	                          "mtahooks_hook_requests_total{hook=\"count\",stage=\"mail\","
	                          "action=\"accept\"}"),
	                 2);
	assert_int_equal(value_of(text,
	                          "mtahooks_hook_requests_total{hook=\"count\",stage=\"rcpt\","
	                          "action=\"reject\"}"),
	                 1);
	assert_int_equal(value_of(text,
	                          "mtahooks_hook_requests_total{hook=\"count\",stage=\"rcpt\","
	                          "action=\"error\"}"),
	                 1);
	assert_int_equal(value_of(text,
	                          "mtahooks_hook_requests_total{hook=\"count\",stage=\"rcpt\","
	                          "action=\"quarantine\"}"),
	                 1);
	assert_int_equal(value_of(text,
	                          "mtahooks_hook_requests_total{hook=\"count\",stage=\"mail\","
	                          "action=\"discard\"}"),
	                 0);
	/* A stage the hook is not called at, never counted, is not shown. */
	assert_null(line_of(text, "mtahooks_hook_requests_total{hook=\"count\",stage=\"data\","
	                          "action=\"accept\"}"));
	assert_int_equal(
	    value_of(text, "mtahooks_hook_errors_total{hook=\"count\",kind=\"http-status\"}"), 1);
	assert_int_equal(
	    value_of(text, "mtahooks_hook_errors_total{hook=\"count\",kind=\"not-json\"}"), 2);
	assert_int_equal(
	    value_of(text, "mtahooks_hook_errors_total{hook=\"count\",kind=\"other\"}"), 1);
	assert_int_equal(
	    value_of(text, "mtahooks_hook_errors_total{hook=\"count\",kind=\"timeout\"}"), 0);
	/* Every family has one # HELP and one # TYPE line, whatever the number of hooks. */
	assert_int_equal(count_lines_starting(text, "# TYPE mtahooks_hook_requests_total counter"),
	                 1);
	assert_int_equal(
	    count_lines_starting(text, "# TYPE mtahooks_hook_request_duration_seconds histogram"),
	    1);
	assert_int_equal(count_lines_starting(text, "# HELP mtahooks_hook_errors_total "), 1);
	free(text);
	metrics_show(NULL);
	config_unref(cfg);
}

static void test_histogram_buckets_are_cumulative_and_count_matches(void **state)
{
	struct config *cfg = parse("[session.hook.\"lat\"]\nurl = \"http://127.0.0.1:1/\"\n"
	                           "stages = [\"data\"]\n");
	struct metrics_hook *m = cfg->hooks[0].metrics;
	char *text;

	(void)state;
	metrics_show(cfg);
	metrics_hook_request(m, STAGE_DATA, METRICS_ACCEPT, 3000);    /* 3 ms */
	metrics_hook_request(m, STAGE_DATA, METRICS_ACCEPT, 5000);    /* on the bound: le 0.005 */
	metrics_hook_request(m, STAGE_DATA, METRICS_ACCEPT, 30000);   /* 30 ms */
	metrics_hook_request(m, STAGE_DATA, METRICS_REJECT, 30000);   /* 30 ms */
	metrics_hook_request(m, STAGE_DATA, METRICS_ERROR, 20000000); /* 20 s: only +Inf */
	metrics_hook_request(m, STAGE_DATA, METRICS_ACCEPT, -5);      /* clock oddity: 0 */
	text = render();
#define BUCKET(le) "mtahooks_hook_request_duration_seconds_bucket{hook=\"lat\",le=\"" le "\"}"
	assert_int_equal(value_of(text, BUCKET("0.005")), 3);
	assert_int_equal(value_of(text, BUCKET("0.01")), 3);
	assert_int_equal(value_of(text, BUCKET("0.025")), 3);
	assert_int_equal(value_of(text, BUCKET("0.05")), 5);
	assert_int_equal(value_of(text, BUCKET("1")), 5);
	assert_int_equal(value_of(text, BUCKET("10")), 5);
	assert_int_equal(value_of(text, BUCKET("+Inf")), 6);
#undef BUCKET
	assert_int_equal(
	    value_of(text, "mtahooks_hook_request_duration_seconds_count{hook=\"lat\"}"), 6);
	/* 3 + 5 + 30 + 30 + 20000 + 0 ms, in seconds with microseconds. */
	assert_non_null(
	    strstr(text, "\nmtahooks_hook_request_duration_seconds_sum{hook=\"lat\"} 20.068000\n"));
	assert_int_equal(count_lines_starting(
	                     text, "mtahooks_hook_request_duration_seconds_bucket{hook=\"lat\","),
	                 12);
	free(text);
	metrics_show(NULL);
	config_unref(cfg);
}

static void test_hook_ids_are_escaped_in_label_values(void **state)
{
	/* config.c refuses control characters in ids; the format's escapes are kept all the same,
	 * so a hand-made configuration carries one. */
	struct hook h = {.id = "q\"b\\s\nn", .enable = 1, .stages = STAGE_BIT(STAGE_MAIL)};
	struct config cfg = {.hooks = &h, .nhooks = 1};
	char *text;

	(void)state;
	assert_int_equal(metrics_bind(&cfg), 0);
	metrics_show(&cfg);
	metrics_connection_opened(h.metrics);
	text = render();
	/* q"b\s<LF>n is written q\"b\\s\nn. */
	assert_int_equal(
	    value_of(text, "mtahooks_http_connections_opened_total{hook=\"q\\\"b\\\\s\\nn\"}"), 1);
	/* No raw line feed inside a label: no line starts with the id's tail. */
	assert_null(strstr(text, "\nn\""));
	free(text);
	metrics_show(NULL);
}

static void test_connections_open_goes_up_and_down(void **state)
{
	struct config *cfg = parse("[session.hook.\"conn\"]\nurl = \"http://127.0.0.1:1/\"\n"
	                           "stages = [\"mail\"]\n");
	struct metrics_hook *m = cfg->hooks[0].metrics;
	char *text;

	(void)state;
	metrics_show(cfg);
	metrics_connection_opened(m);
	metrics_connection_opened(m);
	metrics_connection_closed(m);
	text = render();
	assert_int_equal(value_of(text, "mtahooks_http_connections_open{hook=\"conn\"}"), 1);
	assert_int_equal(value_of(text, "mtahooks_http_connections_opened_total{hook=\"conn\"}"),
	                 2);
	free(text);
	metrics_show(NULL);
	config_unref(cfg);
}

static void test_reload_keeps_counts_and_hides_removed_hooks(void **state)
{
	struct config *before = parse("[session.hook.\"stay\"]\nurl = \"http://127.0.0.1:1/\"\n"
	                              "stages = [\"mail\"]\n"
	                              "[session.hook.\"go\"]\nurl = \"http://127.0.0.1:1/\"\n"
	                              "stages = [\"mail\"]\n");
	struct config *after, *again;
	char *text;

	(void)state;
	metrics_show(before);
	metrics_hook_request(before->hooks[0].metrics, STAGE_MAIL, METRICS_ACCEPT, 10);
	metrics_hook_request(before->hooks[1].metrics, STAGE_MAIL, METRICS_ACCEPT, 10);

	/* The reload: "stay" keeps its block (and count), "go" leaves the scrape. */
	after = parse("[session.hook.\"stay\"]\nurl = \"http://127.0.0.1:2/\"\n"
	              "stages = [\"mail\"]\n");
	assert_ptr_equal(after->hooks[0].metrics, before->hooks[0].metrics);
	metrics_show(after);
	metrics_hook_request(after->hooks[0].metrics, STAGE_MAIL, METRICS_ACCEPT, 10);
	text = render();
	assert_int_equal(value_of(text, "mtahooks_hook_requests_total{hook=\"stay\",stage=\"mail\","
	                                "action=\"accept\"}"),
	                 2);
	assert_null(strstr(text, "hook=\"go\""));
	free(text);

	/* Back again: its counts go on where they were. */
	again = parse("[session.hook.\"go\"]\nurl = \"http://127.0.0.1:1/\"\n"
	              "stages = [\"mail\"]\n");
	metrics_show(again);
	text = render();
	assert_int_equal(value_of(text, "mtahooks_hook_requests_total{hook=\"go\",stage=\"mail\","
	                                "action=\"accept\"}"),
	                 1);
	assert_null(strstr(text, "hook=\"stay\""));
	free(text);
	metrics_show(NULL);
	config_unref(before);
	config_unref(after);
	config_unref(again);
}

static void test_null_block_counts_nothing(void **state)
{
	(void)state;
	/* A configuration never bound (unit tests of hooks.c, fuzzing) has NULL blocks. */
	metrics_hook_request(NULL, STAGE_MAIL, METRICS_ACCEPT, 10);
	metrics_hook_error(NULL, "timeout");
	metrics_connection_opened(NULL);
	metrics_connection_closed(NULL);
	assert_int_equal(metrics_bind(NULL), 0);
}

static void test_daemon_wide_metrics_are_rendered(void **state)
{
	char *text;

	(void)state;
	metrics_session_begin();
	metrics_session_begin();
	metrics_session_end();
	metrics_message(METRICS_MSG_ACCEPT);
	metrics_message(METRICS_MSG_TEMPFAIL);
	metrics_message(METRICS_MSG_TEMPFAIL);
	metrics_reload(1);
	metrics_reload(0);
	metrics_reload(0);
	text = render();
	assert_int_equal(value_of(text, "mtahooks_sessions_active"), 1);
	assert_int_equal(value_of(text, "mtahooks_sessions_total"), 2);
	assert_int_equal(value_of(text, "mtahooks_messages_total{result=\"accept\"}"), 1);
	assert_int_equal(value_of(text, "mtahooks_messages_total{result=\"tempfail\"}"), 2);
	assert_int_equal(value_of(text, "mtahooks_messages_total{result=\"quarantine\"}"), 0);
	assert_int_equal(value_of(text, "mtahooks_config_reloads_total{result=\"success\"}"), 1);
	assert_int_equal(value_of(text, "mtahooks_config_reloads_total{result=\"failure\"}"), 2);
	assert_int_equal(value_of(text, "mtahooks_build_info{version=\"" PACKAGE_VERSION "\"}"), 1);
	assert_non_null(strstr(text, "# TYPE mtahooks_sessions_active gauge\n"));
	assert_non_null(strstr(text, "# TYPE mtahooks_sessions_total counter\n"));
	/* The text format ends every line, the last too, with a line feed. */
	assert_int_equal(text[strlen(text) - 1], '\n');
	metrics_session_end();
	free(text);
}

static void test_render_fails_when_the_buffer_is_full(void **state)
{
	struct buf out = BUF_INIT(64);

	(void)state;
	assert_int_equal(metrics_render(&out), -1);
	buf_free(&out);
}

static void test_error_names_are_the_log_kinds(void **state)
{
	(void)state;
	assert_string_equal(metrics_error_name(METRICS_ERR_CONNECT), "connect");
	assert_string_equal(metrics_error_name(METRICS_ERR_TOO_LARGE), "too-large");
	assert_string_equal(metrics_error_name(METRICS_ERR_HTTP_STATUS), "http-status");
	assert_string_equal(metrics_error_name(METRICS_ERR_NO_MEMORY), "out-of-memory");
	assert_string_equal(metrics_error_name((enum metrics_error)99), "other");
}

/* setup - quiet logs: the configurations here warn about nothing worth reading */
static int setup(void **state)
{
	(void)state;
	log_init(1, 0);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_id_gets_the_same_block_and_other_ids_their_own),
	    cmocka_unit_test(test_requests_are_counted_by_stage_and_action),
	    cmocka_unit_test(test_histogram_buckets_are_cumulative_and_count_matches),
	    cmocka_unit_test(test_hook_ids_are_escaped_in_label_values),
	    cmocka_unit_test(test_connections_open_goes_up_and_down),
	    cmocka_unit_test(test_reload_keeps_counts_and_hides_removed_hooks),
	    cmocka_unit_test(test_null_block_counts_nothing),
	    cmocka_unit_test(test_daemon_wide_metrics_are_rendered),
	    cmocka_unit_test(test_render_fails_when_the_buffer_is_full),
	    cmocka_unit_test(test_error_names_are_the_log_kinds),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
