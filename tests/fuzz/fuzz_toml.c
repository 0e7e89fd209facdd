/* fuzz_toml.c - libFuzzer target: any bytes as a TOML document (toml.c), then as a
 * configuration (config.c, which compiles each enable with expr.c)
 *
 * Besides the sanitizers, it checks what toml.h promises: an error is "line N: ..."
 * with N at least 1; a document's tree can be walked and printed, and every value in
 * it has a defining line within the text. Inputs holding "%{" skip config_parse:
 * its %{file:...}% and %{env:...}% would read this machine's files and environment. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "log.h"
#include "toml.h"

#define WALK_DEPTH_MAX 80 /* toml.c nests at most 64 levels */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* lines_in - the number of lines of the text (a last line without newline counts) */
static unsigned lines_in(const uint8_t *data, size_t size)
{
	unsigned n = 1;

	for (size_t i = 0; i < size; i++)
		if (data[i] == '\n')
			n++;
	return n;
}

/* walk - visit every value: each has a line within the text, nesting is bounded */
static void walk(const struct toml_doc *doc, struct json_object *o, unsigned maxline, int depth)
{
	unsigned line;
	size_t i, n;

	if (depth > WALK_DEPTH_MAX)
		abort();
	if (o == NULL)
		abort(); /* TOML has no null */
	line = toml_line(doc, o);
	if (line > maxline)
		abort();
	switch (json_object_get_type(o)) {
	case json_type_object: {
		json_object_object_foreach(o, key, val)
		{
			(void)key;
			walk(doc, val, maxline, depth + 1);
		}
		break;
	}
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			walk(doc, json_object_array_get_idx(o, i), maxline, depth + 1);
		break;
	case json_type_string:
		if (strlen(json_object_get_string(o)) > (size_t)json_object_get_string_len(o))
			abort();
		break;
	default:
		if (line == 0)
			abort(); /* a scalar is always defined on some line */
		break;
	}
}

/* LLVMFuzzerInitialize - log lines are formatted and dropped (log_stub.c) */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(0, 2);
	return 0;
}

/* LLVMFuzzerTestOneInput - one document */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct toml_doc *doc;
	struct json_object *root;
	struct config_errors errs = {NULL, 0};
	struct config *cfg;
	unsigned long line;
	char *end;

	memset(err, 'x', sizeof err);
	doc = toml_parse((const char *)data, size, err, sizeof err);
	if (doc == NULL) {
		/* "line N: what is wrong", NUL-terminated within err */
		if (memchr(err, '\0', sizeof err) == NULL || strncmp(err, "line ", 5) != 0)
			abort();
		line = strtoul(err + 5, &end, 10);
		if (line < 1 || line > lines_in(data, size) || *end != ':')
			abort();
	} else {
		root = toml_root(doc);
		if (root == NULL || !json_object_is_type(root, json_type_object))
			abort();
		walk(doc, root, lines_in(data, size), 0);
		if (json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN) == NULL)
			abort();
		toml_free(doc);
	}

	if (memmem(data, size, "%{", 2) != NULL)
		return 0;
	cfg = config_parse((const char *)data, size, "fuzz.toml", &errs);
	if ((cfg == NULL) != (errs.count > 0))
		abort(); /* NULL exactly when an error was reported */
	for (size_t i = 0; i < errs.count; i++)
		if (errs.msgs[i] == NULL || strncmp(errs.msgs[i], "fuzz.toml:", 10) != 0)
			abort();
	config_unref(cfg);
	config_errors_free(&errs);
	return 0;
}
