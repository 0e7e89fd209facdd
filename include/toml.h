/*
 * toml - the TOML the configuration needs, read into a json-c tree
 *
 * SYNOPSIS
 *	struct toml_doc *toml_parse(const char *text, size_t len, char *err, size_t errlen);
 *	void toml_free(struct toml_doc *doc);
 *	struct json_object *toml_root(const struct toml_doc *doc);
 *	unsigned toml_line(const struct toml_doc *doc, const struct json_object *value);
 *
 * DESCRIPTION
 *	toml_parse reads a TOML document (v1.0) into a tree of json-c objects:
 *	tables become objects (keys in file order, which json-c keeps), arrays
 *	arrays, strings strings, integers int64, floats doubles, booleans booleans.
 *	Supported: comments; bare, quoted and dotted keys; [table] and
 *	[[array.of.tables]] headers with dotted and quoted parts
 *	([session.hook."my-hook".options]); basic strings with all escapes
 *	(\uXXXX, \UXXXXXXXX), literal strings, both multi-line forms; integers
 *	(decimal with _ separators, 0x/0o/0b, sign), floats (incl. exponent, inf, nan);
 *	booleans; arrays over several lines with trailing comma; inline tables.
 *	Date-times are refused with a clear error (the configuration has none).
 *	A key defined twice, a table defined twice, or a value of one type
 *	overwritten by a table is an error, as the TOML specification says.
 *	The text need not be NUL-terminated and may hold any bytes; invalid
 *	UTF-8 inside strings is an error.
 *
 *	toml_line gives the 1-based line on which a value (or a table, at its
 *	header or first dotted key) was defined, for error messages; 0 when the
 *	object does not belong to the document.
 *
 *	The caller owns the document and frees it with toml_free, which frees the
 *	tree; objects from toml_root are borrowed from it.
 *
 * DIAGNOSTICS
 *	toml_parse returns NULL and writes "line N: what is wrong" into err
 *	(truncated to errlen). It never reads past len and never crashes on any
 *	input (it is fuzzed); nesting is limited to 64 levels.
 */
#ifndef MTAHOOKS_TOML_H
#define MTAHOOKS_TOML_H

#include <stddef.h>

struct json_object;
struct toml_doc;

/* toml_parse - parse TOML text; NULL and a message in err on error */
struct toml_doc *toml_parse(const char *text, size_t len, char *err, size_t errlen);
/* toml_free - free a document and its tree */
void toml_free(struct toml_doc *doc);
/* toml_root - the document's top-level table */
struct json_object *toml_root(const struct toml_doc *doc);
/* toml_line - the line a value was defined on, 0 if unknown */
unsigned toml_line(const struct toml_doc *doc, const struct json_object *value);

#endif
