/* toml.c - a small, strict TOML v1.0 reader into a json-c tree (see include/toml.h) */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "toml.h"

/* Deeper trees are refused: json-c frees and prints them recursively, and so do we parse. */
#define TOML_MAX_DEPTH 64
/* Longest number token accepted; far beyond any real value, and it bounds a stack copy. */
#define TOML_MAX_NUMBER 256
/* Longest piece of a key an error message quotes. */
#define TOML_SHOW_MAX 64

/* How a table or array came to be: the specification lets that decide what may extend it. */
enum {
	TF_IMPLICIT = 1 << 0, /* created as a parent by a [header]; one [header] may define it */
	TF_DEFINED = 1 << 1,  /* named by a [header] or [[header]], or the root */
	TF_DOTTED = 1 << 2,   /* created by a dotted key; only more dotted keys may extend it */
	TF_INLINE = 1 << 3,   /* an inline table, complete once written */
	TF_AOT = 1 << 4,      /* an array of tables, which [[header]] appends to */
	TF_STATIC = 1 << 5,   /* an array value, complete once written */
};

/* What the document knows about one object of its tree. */
struct toml_meta {
	const struct json_object *obj; /* NULL marks a free slot */
	unsigned line;                 /* 1-based line of definition */
	unsigned flags;                /* TF_* for tables and arrays */
	unsigned depth;                /* nesting level of a table or array, root 0 */
};

struct toml_doc {
	struct json_object *root;
	struct toml_meta *meta; /* open addressing on obj, linear probing */
	size_t nmeta;           /* slots in use */
	size_t capmeta;         /* 0 or a power of two, kept at most half full */
};

/* A dotted key split into its parts, each a NUL-terminated copy. */
struct key_path {
	char *part[TOML_MAX_DEPTH];
	size_t n;
};

struct parser {
	const char *p;             /* next byte to read */
	const char *end;           /* one past the last byte */
	unsigned line;             /* line of p, 1-based */
	struct toml_doc *doc;      /* what is being built */
	struct json_object *table; /* where key/value lines of the current section go */
	unsigned table_depth;      /* its depth */
	struct buf scratch;        /* the string being decoded */
	char *err;
	size_t errlen;
	int failed; /* an error is recorded; the first one wins */
};

#if defined(__GNUC__)
#define TOML_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TOML_PRINTF(f, a)
#endif

static int fail(struct parser *ps, unsigned line, const char *fmt, ...) TOML_PRINTF(3, 4);
static const char *show_key(char *out, size_t outlen, const char *key);
static const char *show_path(char *out, size_t outlen, const struct key_path *kp, size_t n);
static size_t meta_index(const struct json_object *obj, size_t mask);
static struct toml_meta *meta_find(const struct toml_doc *doc, const struct json_object *obj);
static int meta_grow(struct toml_doc *doc);
static int meta_put(struct parser *ps, const struct json_object *obj, unsigned line, unsigned flags,
                    unsigned depth);
static void next_line(struct parser *ps);
static size_t newline_len(const struct parser *ps);
static int is_control(unsigned char c);
static int is_bare(unsigned char c);
static int check_utf8(struct parser *ps);
static void skip_ws(struct parser *ps);
static int skip_comment(struct parser *ps);
static int skip_blank(struct parser *ps);
static int end_of_line(struct parser *ps, const char *what);
static int put(struct parser *ps, const void *data, size_t len);
static size_t count_run(const struct parser *ps, char c);
static int close_multi(struct parser *ps, char quote);
static int parse_escape(struct parser *ps, int multi, unsigned start);
static int parse_basic(struct parser *ps, int multi);
static int parse_literal(struct parser *ps, int multi);
static int parse_simple_key(struct parser *ps, char **out);
static int parse_key(struct parser *ps, struct key_path *kp);
static void key_path_free(struct key_path *kp);
static struct json_object *registered(struct parser *ps, struct json_object *v, unsigned line,
                                      unsigned flags, unsigned depth);
static struct json_object *new_table(struct parser *ps, struct json_object *parent, const char *key,
                                     unsigned line, unsigned flags, unsigned depth);
static int extend_error(struct parser *ps, unsigned line, struct json_object *obj, const char *key,
                        int dotted);
static int parse_keyval(struct parser *ps, struct json_object *table, unsigned depth);
static int digit_value(char c, int base);
static int scan_digits(const char *s, size_t n, size_t *i, int base);
static struct json_object *parse_number(struct parser *ps, const char *tok, size_t n,
                                        unsigned line);
static struct json_object *parse_scalar(struct parser *ps);
static struct json_object *parse_array(struct parser *ps, unsigned depth);
static struct json_object *parse_inline_table(struct parser *ps, unsigned depth);
static struct json_object *parse_value(struct parser *ps, unsigned depth);
static int parse_header(struct parser *ps);
static int parse_document(struct parser *ps);

/* fail - record "line N: what" as the error, unless one is recorded already; returns -1 */
static int fail(struct parser *ps, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->failed)
		return -1;
	ps->failed = 1;
	if (ps->err == NULL || ps->errlen == 0)
		return -1;
	n = snprintf(ps->err, ps->errlen, "line %u: ", line);
	if (n < 0) {
		ps->err[0] = '\0';
		return -1;
	}
	if ((size_t)n < ps->errlen) {
		va_start(ap, fmt);
		(void)vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* show_key - quote a key for a message, escaping what would not print, cut at TOML_SHOW_MAX */
static const char *show_key(char *out, size_t outlen, const char *key)
{
	size_t o = 0, limit, i;

	/* room for the quotes, "..." and the NUL, so the loop below never checks again */
	if (outlen < 8) {
		if (outlen)
			out[0] = '\0';
		return out;
	}
	limit = outlen - 6 < TOML_SHOW_MAX ? outlen - 6 : TOML_SHOW_MAX;
	out[o++] = '"';
	for (i = 0; key[i] != '\0'; i++) {
		unsigned char c = (unsigned char)key[i];
		size_t need = 1;

		if (c == '"' || c == '\\')
			need = 2;
		else if (c < 0x20 || c == 0x7f)
			need = 4;
		else if (c >= 0xf0)
			need = 4; /* keep a UTF-8 sequence whole (the input was validated) */
		else if (c >= 0xe0)
			need = 3;
		else if (c >= 0xc0)
			need = 2;
		if (o + need > limit) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			(void)snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		} else {
			memcpy(out + o, key + i, need);
			o += need;
			i += need - 1;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* show_path - write the first n parts of a key as a header would: a.b."c d" */
static const char *show_path(char *out, size_t outlen, const struct key_path *kp, size_t n)
{
	char one[TOML_SHOW_MAX + 8];
	size_t o = 0, i;

	if (outlen == 0)
		return out;
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		const char *s = kp->part[i], *q;
		size_t len;

		for (q = s; *q != '\0' && is_bare((unsigned char)*q); q++)
			;
		if (*q == '\0' && q != s && (size_t)(q - s) <= TOML_SHOW_MAX)
			s = kp->part[i];
		else
			s = show_key(one, sizeof one, kp->part[i]);
		len = strlen(s);
		if (o + len + 5 > outlen) {
			if (o + 4 <= outlen) {
				memcpy(out + o, "...", 4);
			}
			return out;
		}
		if (i > 0)
			out[o++] = '.';
		memcpy(out + o, s, len + 1);
		o += len;
	}
	return out;
}

/* meta_index - the home slot of an object in a table of mask + 1 slots */
static size_t meta_index(const struct json_object *obj, size_t mask)
{
	uint64_t h = (uint64_t)(uintptr_t)obj;

	/* allocator addresses share their low bits; mix them all in */
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	return (size_t)h & mask;
}

/* meta_find - what the document knows about obj, or NULL */
static struct toml_meta *meta_find(const struct toml_doc *doc, const struct json_object *obj)
{
	size_t mask, i, k;

	if (doc->capmeta == 0 || obj == NULL)
		return NULL;
	mask = doc->capmeta - 1;
	i = meta_index(obj, mask);
	for (k = 0; k < doc->capmeta; k++) {
		if (doc->meta[i].obj == obj)
			return &doc->meta[i];
		if (doc->meta[i].obj == NULL)
			return NULL;
		i = (i + 1) & mask;
	}
	return NULL;
}

/* meta_grow - double the table (or create it), rehashing every entry */
static int meta_grow(struct toml_doc *doc)
{
	struct toml_meta *old = doc->meta, *fresh;
	size_t oldcap = doc->capmeta, cap, i, j;

	if (oldcap > SIZE_MAX / 2 / sizeof *fresh)
		return -1;
	cap = oldcap ? oldcap * 2 : 64;
	if ((fresh = calloc(cap, sizeof *fresh)) == NULL)
		return -1;
	for (i = 0; i < oldcap; i++) {
		if (old[i].obj == NULL)
			continue;
		j = meta_index(old[i].obj, cap - 1);
		while (fresh[j].obj != NULL)
			j = (j + 1) & (cap - 1);
		fresh[j] = old[i];
	}
	free(old);
	doc->meta = fresh;
	doc->capmeta = cap;
	return 0;
}

/* meta_put - remember line, flags and depth of obj */
static int meta_put(struct parser *ps, const struct json_object *obj, unsigned line, unsigned flags,
                    unsigned depth)
{
	struct toml_doc *doc = ps->doc;
	size_t mask, i;

	if (doc->nmeta >= doc->capmeta / 2 && meta_grow(doc) < 0)
		return fail(ps, line, "out of memory");
	mask = doc->capmeta - 1;
	i = meta_index(obj, mask);
	while (doc->meta[i].obj != NULL && doc->meta[i].obj != obj)
		i = (i + 1) & mask;
	if (doc->meta[i].obj == NULL)
		doc->nmeta++;
	doc->meta[i].obj = obj;
	doc->meta[i].line = line;
	doc->meta[i].flags = flags;
	doc->meta[i].depth = depth;
	return 0;
}

/* next_line - count a line break (saturating: line numbers are for people) */
static void next_line(struct parser *ps)
{
	if (ps->line < UINT_MAX)
		ps->line++;
}

/* newline_len - 1 for LF, 2 for CR LF at p, else 0 */
static size_t newline_len(const struct parser *ps)
{
	if (ps->p >= ps->end)
		return 0;
	if (*ps->p == '\n')
		return 1;
	if (*ps->p == '\r' && ps->end - ps->p >= 2 && ps->p[1] == '\n')
		return 2;
	return 0;
}

/* is_control - a control character TOML allows in no string or comment (tab is allowed) */
static int is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* is_bare - a character of a bare key */
static int is_bare(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* check_utf8 - the whole text must be UTF-8 without NUL bytes, as TOML requires */
static int check_utf8(struct parser *ps)
{
	const unsigned char *s = (const unsigned char *)ps->p;
	const unsigned char *e = (const unsigned char *)ps->end;
	unsigned line = 1;

	while (s < e) {
		unsigned c = *s, cp, min;
		size_t need, k;

		if (c == '\n') {
			if (line < UINT_MAX)
				line++;
			s++;
			continue;
		}
		if (c == 0)
			return fail(ps, line, "NUL byte in input");
		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return fail(ps, line, "invalid UTF-8");
		}
		if ((size_t)(e - s) <= need)
			return fail(ps, line, "invalid UTF-8");
		for (k = 1; k <= need; k++) {
			if ((s[k] & 0xc0) != 0x80)
				return fail(ps, line, "invalid UTF-8");
			cp = (cp << 6) | (s[k] & 0x3f);
		}
		/* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return fail(ps, line, "invalid UTF-8");
		s += need + 1;
	}
	return 0;
}

/* skip_ws - skip spaces and tabs */
static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

/* skip_comment - skip from '#' to the end of the line, which is left for the caller */
static int skip_comment(struct parser *ps)
{
	ps->p++;
	while (ps->p < ps->end) {
		unsigned char c = (unsigned char)*ps->p;

		if (c == '\n' || newline_len(ps) == 2)
			return 0;
		if (is_control(c))
			return fail(ps, ps->line, "control character in comment");
		ps->p++;
	}
	return 0;
}

/* skip_blank - skip whitespace, comments and line breaks (inside an array) */
static int skip_blank(struct parser *ps)
{
	while (ps->p < ps->end) {
		size_t nl = newline_len(ps);

		if (*ps->p == ' ' || *ps->p == '\t') {
			ps->p++;
		} else if (nl) {
			ps->p += nl;
			next_line(ps);
		} else if (*ps->p == '#') {
			if (skip_comment(ps) < 0)
				return -1;
		} else if (*ps->p == '\r') {
			return fail(ps, ps->line, "carriage return without newline");
		} else {
			break;
		}
	}
	return 0;
}

/* end_of_line - after an expression: blanks, maybe a comment, then a line break or the end */
static int end_of_line(struct parser *ps, const char *what)
{
	size_t nl;

	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '#' && skip_comment(ps) < 0)
		return -1;
	if (ps->p >= ps->end)
		return 0;
	if ((nl = newline_len(ps)) != 0) {
		ps->p += nl;
		next_line(ps);
		return 0;
	}
	if (*ps->p == '\r')
		return fail(ps, ps->line, "carriage return without newline");
	return fail(ps, ps->line, "unexpected text after %s", what ? what : "blank");
}

/* put - append to the string being decoded */
static int put(struct parser *ps, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (buf_append(&ps->scratch, data, len) < 0)
		return fail(ps, ps->line, errno == EFBIG ? "string too long" : "out of memory");
	return 0;
}

/* count_run - how many times c repeats from p */
static size_t count_run(const struct parser *ps, char c)
{
	const char *q = ps->p;

	while (q < ps->end && *q == c)
		q++;
	return (size_t)(q - ps->p);
}

/* close_multi - at a quote in a multi-line string: 1 if it closes it, 0 if text, -1 error */
static int close_multi(struct parser *ps, char quote)
{
	const char *quotes = quote == '"' ? "\"\"" : "''";
	size_t q = count_run(ps, quote);

	/* up to two quotes may sit right before the closing three */
	if (q > 5)
		return fail(ps, ps->line, "too many quotes at the end of a multi-line string");
	if (put(ps, quotes, q < 3 ? q : q - 3) < 0)
		return -1;
	ps->p += q;
	return q >= 3;
}

/* parse_escape - decode the escape at p (a backslash) in a basic string */
static int parse_escape(struct parser *ps, int multi, unsigned start)
{
	unsigned char c, out[4];
	unsigned long cp = 0;
	size_t digits, k, nl;

	ps->p++;
	if (ps->p >= ps->end)
		return fail(ps, start, "unterminated string");
	c = (unsigned char)*ps->p;
	switch (c) {
	case 'b':
		ps->p++;
		return put(ps, "\b", 1);
	case 't':
		ps->p++;
		return put(ps, "\t", 1);
	case 'n':
		ps->p++;
		return put(ps, "\n", 1);
	case 'f':
		ps->p++;
		return put(ps, "\f", 1);
	case 'r':
		ps->p++;
		return put(ps, "\r", 1);
	case '"':
		ps->p++;
		return put(ps, "\"", 1);
	case '\\':
		ps->p++;
		return put(ps, "\\", 1);
	case 'u':
	case 'U':
		digits = c == 'u' ? 4 : 8;
		ps->p++;
		for (k = 0; k < digits; k++) {
			int d;

			if (ps->p >= ps->end)
				return fail(ps, start, "unterminated string");
			if ((d = digit_value(*ps->p, 16)) < 0)
				return fail(ps, ps->line,
				            "invalid \\%c escape: %zu hex digits expected", c,
				            digits);
			cp = cp * 16 + (unsigned long)d;
			ps->p++;
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return fail(ps, ps->line, "invalid \\%c escape: not a Unicode scalar value",
			            c);
		/* json-c strings end at NUL for most readers; a NUL would cut a value short */
		if (cp == 0)
			return fail(ps, ps->line, "NUL character in a string is not supported");
		if (cp < 0x80) {
			out[0] = (unsigned char)cp;
			k = 1;
		} else if (cp < 0x800) {
			out[0] = (unsigned char)(0xc0 | (cp >> 6));
			out[1] = (unsigned char)(0x80 | (cp & 0x3f));
			k = 2;
		} else if (cp < 0x10000) {
			out[0] = (unsigned char)(0xe0 | (cp >> 12));
			out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			out[2] = (unsigned char)(0x80 | (cp & 0x3f));
			k = 3;
		} else {
			out[0] = (unsigned char)(0xf0 | (cp >> 18));
			out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
			out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			out[3] = (unsigned char)(0x80 | (cp & 0x3f));
			k = 4;
		}
		return put(ps, out, k);
	default:
		break;
	}
	if (multi && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
		/* a line-ending backslash eats the line break and the blanks after it */
		skip_ws(ps);
		if (ps->p >= ps->end)
			return fail(ps, start, "unterminated string");
		if (newline_len(ps) == 0)
			return fail(ps, ps->line,
			            "invalid escape: only blanks may follow a "
			            "line-ending backslash");
		while ((nl = newline_len(ps)) != 0 ||
		       (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))) {
			if (nl) {
				ps->p += nl;
				next_line(ps);
			} else {
				ps->p++;
			}
		}
		return 0;
	}
	if (c > 0x20 && c < 0x7f)
		return fail(ps, ps->line, "invalid escape \"\\%c\"", c);
	return fail(ps, ps->line, "invalid escape");
}

/* parse_basic - decode a "basic" or """multi-line basic""" string at p into scratch */
static int parse_basic(struct parser *ps, int multi)
{
	unsigned start = ps->line;
	size_t nl;
	int r;

	buf_reset(&ps->scratch);
	ps->p += multi ? 3 : 1;
	if (multi && (nl = newline_len(ps)) != 0) {
		/* a line break right after the opening quotes is not part of the string */
		ps->p += nl;
		next_line(ps);
	}
	while (ps->p < ps->end) {
		unsigned char c = (unsigned char)*ps->p;
		const char *run;

		if (c == '"') {
			if (!multi) {
				ps->p++;
				return 0;
			}
			if ((r = close_multi(ps, '"')) != 0)
				return r < 0 ? -1 : 0;
		} else if (c == '\\') {
			if (parse_escape(ps, multi, start) < 0)
				return -1;
		} else if (c == '\n' || c == '\r') {
			if ((nl = newline_len(ps)) == 0)
				return fail(ps, ps->line, "carriage return without newline");
			if (!multi)
				return fail(ps, start, "unterminated string");
			/* CR LF and LF both read as LF */
			if (put(ps, "\n", 1) < 0)
				return -1;
			ps->p += nl;
			next_line(ps);
		} else if (is_control(c)) {
			return fail(ps, ps->line, "control character in string");
		} else {
			run = ps->p;
			while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' &&
			       !is_control((unsigned char)*ps->p))
				ps->p++;
			if (put(ps, run, (size_t)(ps->p - run)) < 0)
				return -1;
		}
	}
	return fail(ps, start, "unterminated string");
}

/* parse_literal - read a 'literal' or '''multi-line literal''' string at p into scratch */
static int parse_literal(struct parser *ps, int multi)
{
	unsigned start = ps->line;
	size_t nl;
	int r;

	buf_reset(&ps->scratch);
	ps->p += multi ? 3 : 1;
	if (multi && (nl = newline_len(ps)) != 0) {
		ps->p += nl;
		next_line(ps);
	}
	while (ps->p < ps->end) {
		unsigned char c = (unsigned char)*ps->p;
		const char *run;

		if (c == '\'') {
			if (!multi) {
				ps->p++;
				return 0;
			}
			if ((r = close_multi(ps, '\'')) != 0)
				return r < 0 ? -1 : 0;
		} else if (c == '\n' || c == '\r') {
			if ((nl = newline_len(ps)) == 0)
				return fail(ps, ps->line, "carriage return without newline");
			if (!multi)
				return fail(ps, start, "unterminated string");
			if (put(ps, "\n", 1) < 0)
				return -1;
			ps->p += nl;
			next_line(ps);
		} else if (is_control(c)) {
			return fail(ps, ps->line, "control character in string");
		} else {
			run = ps->p;
			while (ps->p < ps->end && *ps->p != '\'' &&
			       !is_control((unsigned char)*ps->p))
				ps->p++;
			if (put(ps, run, (size_t)(ps->p - run)) < 0)
				return -1;
		}
	}
	return fail(ps, start, "unterminated string");
}

/* parse_simple_key - read one bare or quoted key part into a new string */
static int parse_simple_key(struct parser *ps, char **out)
{
	const char *start = ps->p, *data;
	size_t len;
	char c;

	*out = NULL;
	if (ps->p >= ps->end)
		return fail(ps, ps->line, "expected a key");
	c = *ps->p;
	if (c == '"' || c == '\'') {
		if (ps->end - ps->p >= 3 && ps->p[1] == c && ps->p[2] == c)
			return fail(ps, ps->line, "a key cannot be a multi-line string");
		if ((c == '"' ? parse_basic(ps, 0) : parse_literal(ps, 0)) < 0)
			return -1;
		data = ps->scratch.data ? ps->scratch.data : "";
		len = ps->scratch.len;
	} else {
		while (ps->p < ps->end && is_bare((unsigned char)*ps->p))
			ps->p++;
		if (ps->p == start)
			return fail(ps, ps->line, "expected a key");
		data = start;
		len = (size_t)(ps->p - start);
	}
	if (len == SIZE_MAX || (*out = malloc(len + 1)) == NULL)
		return fail(ps, ps->line, "out of memory");
	memcpy(*out, data, len);
	(*out)[len] = '\0';
	return 0;
}

/* parse_key - read a key of one or more dotted parts */
static int parse_key(struct parser *ps, struct key_path *kp)
{
	/* each part consumes at least one byte, so this ends with the input */
	for (;;) {
		if (kp->n == TOML_MAX_DEPTH)
			return fail(ps, ps->line, "nesting too deep (more than %d levels)",
			            TOML_MAX_DEPTH);
		if (parse_simple_key(ps, &kp->part[kp->n]) < 0)
			return -1;
		kp->n++;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '.')
			return 0;
		ps->p++;
		skip_ws(ps);
	}
}

/* key_path_free - free the parts of a key */
static void key_path_free(struct key_path *kp)
{
	size_t i;

	for (i = 0; i < kp->n; i++)
		free(kp->part[i]);
	kp->n = 0;
}

/* registered - remember a new value's line; frees it and returns NULL on failure */
static struct json_object *registered(struct parser *ps, struct json_object *v, unsigned line,
                                      unsigned flags, unsigned depth)
{
	if (v == NULL) {
		fail(ps, line, "out of memory");
		return NULL;
	}
	if (meta_put(ps, v, line, flags, depth) < 0) {
		json_object_put(v);
		return NULL;
	}
	return v;
}

/* new_table - create a table under parent at key and remember how it came to be */
static struct json_object *new_table(struct parser *ps, struct json_object *parent, const char *key,
                                     unsigned line, unsigned flags, unsigned depth)
{
	struct json_object *t;

	if (depth > TOML_MAX_DEPTH) {
		fail(ps, line, "nesting too deep (more than %d levels)", TOML_MAX_DEPTH);
		return NULL;
	}
	if ((t = registered(ps, json_object_new_object(), line, flags, depth)) == NULL)
		return NULL;
	if (json_object_object_add_ex(parent, key, t, JSON_C_OBJECT_ADD_KEY_IS_NEW) != 0) {
		json_object_put(t);
		fail(ps, line, "out of memory");
		return NULL;
	}
	return t;
}

/* extend_error - say why obj, found at key, cannot take more keys or sub-tables */
static int extend_error(struct parser *ps, unsigned line, struct json_object *obj, const char *key,
                        int dotted)
{
	const struct toml_meta *m = meta_find(ps->doc, obj);
	unsigned flags = m ? m->flags : 0;
	char k[TOML_SHOW_MAX + 8];

	show_key(k, sizeof k, key);
	if (json_object_is_type(obj, json_type_object)) {
		if (flags & TF_INLINE)
			return fail(ps, line, "inline table %s cannot be extended", k);
		return fail(ps, line, "dotted key cannot extend table %s defined by a [header]", k);
	}
	if (json_object_is_type(obj, json_type_array)) {
		if ((flags & TF_AOT) && dotted)
			return fail(ps, line, "dotted key cannot extend array of tables %s", k);
		return fail(ps, line, "array %s cannot be extended", k);
	}
	return fail(ps, line, "key %s already holds a value, not a table", k);
}

/* parse_keyval - read "key = value" into table, creating the tables of a dotted key */
static int parse_keyval(struct parser *ps, struct json_object *table, unsigned depth)
{
	struct key_path kp = {.n = 0};
	struct json_object *cur = table, *child, *val;
	unsigned line = ps->line;
	struct toml_meta *m;
	char k[TOML_SHOW_MAX + 8];
	const char *last;
	int rc = -1;
	size_t i;

	if (parse_key(ps, &kp) < 0)
		goto out;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '=') {
		fail(ps, line, "expected '=' after key");
		goto out;
	}
	ps->p++;
	skip_ws(ps);
	for (i = 0; i + 1 < kp.n; i++) {
		if (!json_object_object_get_ex(cur, kp.part[i], &child)) {
			child = new_table(ps, cur, kp.part[i], line, TF_DOTTED, depth + 1);
			if (child == NULL)
				goto out;
		} else if (!json_object_is_type(child, json_type_object) ||
		           (m = meta_find(ps->doc, child)) == NULL ||
		           !(m->flags & (TF_DOTTED | TF_IMPLICIT))) {
			extend_error(ps, line, child, kp.part[i], 1);
			goto out;
		} else if (m->flags & TF_IMPLICIT) {
			/* only implied by a longer [header]: the dotted key defines it now */
			m->flags = (m->flags & ~(unsigned)TF_IMPLICIT) | TF_DOTTED;
			m->line = line;
		}
		cur = child;
		depth++;
	}
	last = kp.part[kp.n - 1];
	if (json_object_object_get_ex(cur, last, NULL)) {
		fail(ps, line, "duplicate key %s", show_key(k, sizeof k, last));
		goto out;
	}
	if ((val = parse_value(ps, depth)) == NULL)
		goto out;
	if (json_object_object_add_ex(cur, last, val, JSON_C_OBJECT_ADD_KEY_IS_NEW) != 0) {
		json_object_put(val);
		fail(ps, line, "out of memory");
		goto out;
	}
	rc = 0;
out:
	key_path_free(&kp);
	return rc;
}

/* digit_value - the value of c as a digit in base, or -1 */
static int digit_value(char c, int base)
{
	int v;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	else
		return -1;
	return v < base ? v : -1;
}

/* scan_digits - skip digits in base with single '_' between them; count, or -1 on a bad '_' */
static int scan_digits(const char *s, size_t n, size_t *i, int base)
{
	size_t k = *i;
	int count = 0, after_digit = 0;

	while (k < n) {
		if (s[k] == '_') {
			if (!after_digit || k + 1 >= n || digit_value(s[k + 1], base) < 0)
				return -1;
			after_digit = 0;
		} else if (digit_value(s[k], base) >= 0) {
			after_digit = 1;
			if (count < INT_MAX)
				count++;
		} else {
			break;
		}
		k++;
	}
	*i = k;
	return count;
}

/* parse_number - an integer or float token (already known not to be a boolean or date) */
static struct json_object *parse_number(struct parser *ps, const char *tok, size_t n, unsigned line)
{
	char num[2 * TOML_MAX_NUMBER + 8], *endp;
	const char *dp;
	size_t i = 0, o = 0, dplen;
	uint64_t mag = 0, limit = INT64_MAX;
	int base = 10, neg = 0, is_float = 0, r;
	double d;

	if (tok[0] == '+' || tok[0] == '-') {
		neg = tok[0] == '-';
		i = 1;
	}
	if (n - i == 3 && (memcmp(tok + i, "inf", 3) == 0 || memcmp(tok + i, "nan", 3) == 0)) {
		d = tok[i] == 'i' ? HUGE_VAL : NAN;
		return registered(ps, json_object_new_double(neg ? -d : d), line, 0, 0);
	}
	if (i == 0 && n >= 2 && tok[0] == '0' &&
	    (tok[1] == 'x' || tok[1] == 'o' || tok[1] == 'b')) {
		base = tok[1] == 'x' ? 16 : tok[1] == 'o' ? 8 : 2;
		i = 2;
	} else if (i < n && tok[i] == '0' && i + 1 < n &&
	           (digit_value(tok[i + 1], 10) >= 0 || tok[i + 1] == '_')) {
		fail(ps, line, "leading zeros are not allowed in \"%.*s\"", (int)n, tok);
		return NULL;
	}
	if ((r = scan_digits(tok, n, &i, base)) < 0)
		goto underscore;
	if (r == 0)
		goto invalid;
	if (base == 10 && i < n && tok[i] == '.') {
		i++;
		if ((r = scan_digits(tok, n, &i, 10)) < 0)
			goto underscore;
		if (r == 0)
			goto invalid;
		is_float = 1;
	}
	if (base == 10 && i < n && (tok[i] == 'e' || tok[i] == 'E')) {
		i++;
		if (i < n && (tok[i] == '+' || tok[i] == '-'))
			i++;
		if ((r = scan_digits(tok, n, &i, 10)) < 0)
			goto underscore;
		if (r == 0)
			goto invalid;
		is_float = 1;
	}
	if (i != n)
		goto invalid;
	if (!is_float) {
		if (neg)
			limit = (uint64_t)INT64_MAX + 1;
		for (i = base == 10 ? (size_t)(tok[0] == '+' || tok[0] == '-') : 2; i < n; i++) {
			uint64_t dv;

			if (tok[i] == '_')
				continue;
			dv = (uint64_t)digit_value(tok[i], base);
			if (mag > (limit - dv) / (uint64_t)base) {
				fail(ps, line, "integer out of range: %.*s", (int)n, tok);
				return NULL;
			}
			mag = mag * (uint64_t)base + dv;
		}
		if (!neg)
			return registered(ps, json_object_new_int64((int64_t)mag), line, 0, 0);
		return registered(
		    ps,
		    json_object_new_int64(mag > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)mag),
		    line, 0, 0);
	}
	/* strtod reads the locale's decimal point, so write that one for '.' */
	dp = localeconv()->decimal_point;
	dplen = dp ? strlen(dp) : 0;
	if (dplen == 0 || dplen > 4) {
		dp = ".";
		dplen = 1;
	}
	for (i = 0; i < n; i++) {
		if (tok[i] == '_')
			continue;
		if (tok[i] == '.') {
			memcpy(num + o, dp, dplen);
			o += dplen;
		} else {
			num[o++] = tok[i];
		}
	}
	num[o] = '\0';
	errno = 0;
	d = strtod(num, &endp);
	if (*endp != '\0')
		goto invalid;
	if (isinf(d)) {
		fail(ps, line, "float out of range: %.*s", (int)n, tok);
		return NULL;
	}
	return registered(ps, json_object_new_double(d), line, 0, 0);
underscore:
	fail(ps, line, "misplaced '_' in number \"%.*s\"", (int)n, tok);
	return NULL;
invalid:
	fail(ps, line, "invalid value \"%.*s\"", (int)n, tok);
	return NULL;
}

/* parse_scalar - a boolean or a number; a date-time is recognised only to be refused */
static struct json_object *parse_scalar(struct parser *ps)
{
	const char *tok = ps->p;
	unsigned line = ps->line;
	size_t n;

	while (ps->p < ps->end) {
		char c = *ps->p;

		if (!is_bare((unsigned char)c) && c != '+' && c != '.' && c != ':')
			break;
		ps->p++;
	}
	n = (size_t)(ps->p - tok);
	if (n == 0) {
		fail(ps, line, "expected a value");
		return NULL;
	}
	if (n == 4 && memcmp(tok, "true", 4) == 0)
		return registered(ps, json_object_new_boolean(1), line, 0, 0);
	if (n == 5 && memcmp(tok, "false", 5) == 0)
		return registered(ps, json_object_new_boolean(0), line, 0, 0);
	if ((n >= 5 && digit_value(tok[0], 10) >= 0 && digit_value(tok[1], 10) >= 0 &&
	     digit_value(tok[2], 10) >= 0 && digit_value(tok[3], 10) >= 0 && tok[4] == '-') ||
	    (n >= 3 && digit_value(tok[0], 10) >= 0 && digit_value(tok[1], 10) >= 0 &&
	     tok[2] == ':')) {
		fail(ps, line, "date-time values are not supported");
		return NULL;
	}
	if (n > TOML_MAX_NUMBER) {
		fail(ps, line, "value too long (more than %d characters)", TOML_MAX_NUMBER);
		return NULL;
	}
	return parse_number(ps, tok, n, line);
}

/* parse_array - an array value at p, over as many lines as it takes */
static struct json_object *parse_array(struct parser *ps, unsigned depth)
{
	unsigned line = ps->line, d = depth + 1;
	struct json_object *arr, *v;

	if (d > TOML_MAX_DEPTH) {
		fail(ps, line, "nesting too deep (more than %d levels)", TOML_MAX_DEPTH);
		return NULL;
	}
	if ((arr = registered(ps, json_object_new_array(), line, TF_STATIC, d)) == NULL)
		return NULL;
	ps->p++;
	/* every round consumes a value or a comma, so this ends with the input */
	for (;;) {
		if (skip_blank(ps) < 0)
			goto fail;
		if (ps->p >= ps->end) {
			fail(ps, line, "unterminated array");
			goto fail;
		}
		if (*ps->p == ']')
			break;
		if ((v = parse_value(ps, d)) == NULL)
			goto fail;
		if (json_object_array_add(arr, v) != 0) {
			json_object_put(v);
			fail(ps, ps->line, "out of memory");
			goto fail;
		}
		if (skip_blank(ps) < 0)
			goto fail;
		if (ps->p >= ps->end) {
			fail(ps, line, "unterminated array");
			goto fail;
		}
		if (*ps->p == ']')
			break;
		if (*ps->p != ',') {
			fail(ps, ps->line, "expected ',' or ']' in array");
			goto fail;
		}
		ps->p++;
	}
	ps->p++;
	return arr;
fail:
	json_object_put(arr);
	return NULL;
}

/* parse_inline_table - a { key = value, ... } value at p, all on one line */
static struct json_object *parse_inline_table(struct parser *ps, unsigned depth)
{
	unsigned line = ps->line, d = depth + 1;
	struct json_object *tbl;

	if (d > TOML_MAX_DEPTH) {
		fail(ps, line, "nesting too deep (more than %d levels)", TOML_MAX_DEPTH);
		return NULL;
	}
	if ((tbl = registered(ps, json_object_new_object(), line, TF_INLINE, d)) == NULL)
		return NULL;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return tbl;
	}
	/* every round consumes a key/value pair and a comma, so this ends with the input */
	for (;;) {
		skip_ws(ps);
		if (ps->p >= ps->end) {
			fail(ps, line, "unterminated inline table");
			goto fail;
		}
		if (*ps->p == '\n' || *ps->p == '\r' || *ps->p == '#') {
			fail(ps, ps->line, "inline table must be on a single line");
			goto fail;
		}
		if (*ps->p == '}') {
			fail(ps, ps->line, "trailing comma in inline table");
			goto fail;
		}
		if (parse_keyval(ps, tbl, d) < 0)
			goto fail;
		skip_ws(ps);
		if (ps->p >= ps->end) {
			fail(ps, line, "unterminated inline table");
			goto fail;
		}
		if (*ps->p == '}')
			break;
		if (*ps->p == '\n' || *ps->p == '\r' || *ps->p == '#') {
			fail(ps, ps->line, "inline table must be on a single line");
			goto fail;
		}
		if (*ps->p != ',') {
			fail(ps, ps->line, "expected ',' or '}' in inline table");
			goto fail;
		}
		ps->p++;
	}
	ps->p++;
	return tbl;
fail:
	json_object_put(tbl);
	return NULL;
}

/* parse_value - any value at p; depth is that of the table or array holding it */
static struct json_object *parse_value(struct parser *ps, unsigned depth)
{
	unsigned line = ps->line;
	char c;
	int multi;

	if (ps->p >= ps->end) {
		fail(ps, line, "expected a value");
		return NULL;
	}
	c = *ps->p;
	if (c == '"' || c == '\'') {
		multi = ps->end - ps->p >= 3 && ps->p[1] == c && ps->p[2] == c;
		if ((c == '"' ? parse_basic(ps, multi) : parse_literal(ps, multi)) < 0)
			return NULL;
		/* the buffer's limit keeps len within json-c's int */
		return registered(
		    ps,
		    json_object_new_string_len(ps->scratch.data ? ps->scratch.data : "",
		                               (int)ps->scratch.len),
		    line, 0, 0);
	}
	if (c == '[')
		return parse_array(ps, depth);
	if (c == '{')
		return parse_inline_table(ps, depth);
	return parse_scalar(ps);
}

/* parse_header - a [table] or [[array.of.tables]] line: it opens a new section */
static int parse_header(struct parser *ps)
{
	struct key_path kp = {.n = 0};
	struct json_object *cur = ps->doc->root, *child;
	struct toml_meta *m;
	unsigned line = ps->line, depth = 0;
	char path[3 * TOML_SHOW_MAX], k[TOML_SHOW_MAX + 8];
	int aot = 0, rc = -1;
	size_t i, len;

	ps->p++;
	if (ps->p < ps->end && *ps->p == '[') {
		aot = 1;
		ps->p++;
	}
	skip_ws(ps);
	if (parse_key(ps, &kp) < 0)
		goto out;
	if (ps->p >= ps->end || *ps->p != ']' ||
	    (aot && (ps->end - ps->p < 2 || ps->p[1] != ']'))) {
		fail(ps, line,
		     aot ? "expected ']]' to close the [[header]]"
		         : "expected ']' to close the [header]");
		goto out;
	}
	ps->p += aot ? 2 : 1;
	/* walk to the parent: headers may pass through any table but an inline one */
	for (i = 0; i + 1 < kp.n; i++) {
		if (!json_object_object_get_ex(cur, kp.part[i], &child)) {
			child = new_table(ps, cur, kp.part[i], line, TF_IMPLICIT, depth + 1);
			if (child == NULL)
				goto out;
		} else if (json_object_is_type(child, json_type_object)) {
			if ((m = meta_find(ps->doc, child)) == NULL || (m->flags & TF_INLINE)) {
				extend_error(ps, line, child, kp.part[i], 0);
				goto out;
			}
		} else if (json_object_is_type(child, json_type_array) &&
		           (m = meta_find(ps->doc, child)) != NULL && (m->flags & TF_AOT)) {
			/* [a.b] after [[a]] goes into the last table of a */
			len = json_object_array_length(child);
			child = json_object_array_get_idx(child, len - 1);
		} else {
			extend_error(ps, line, child, kp.part[i], 0);
			goto out;
		}
		if ((m = meta_find(ps->doc, child)) == NULL) {
			fail(ps, line, "internal error: table without a record");
			goto out;
		}
		cur = child;
		depth = m->depth;
	}
	show_path(path, sizeof path, &kp, kp.n);
	show_key(k, sizeof k, kp.part[kp.n - 1]);
	if (!json_object_object_get_ex(cur, kp.part[kp.n - 1], &child)) {
		child = NULL;
		m = NULL;
	} else {
		m = meta_find(ps->doc, child);
	}
	if (!aot) {
		if (child == NULL) {
			child = new_table(ps, cur, kp.part[kp.n - 1], line, TF_DEFINED, depth + 1);
			if (child == NULL)
				goto out;
			depth++;
		} else if (!json_object_is_type(child, json_type_object) || m == NULL) {
			if (json_object_is_type(child, json_type_array) && m && (m->flags & TF_AOT))
				fail(ps, line, "table [%s] is already an array of tables", path);
			else
				fail(ps, line, "key %s already holds a value, not a table", k);
			goto out;
		} else if (m->flags & TF_INLINE) {
			fail(ps, line, "inline table %s cannot be extended", k);
			goto out;
		} else if (m->flags & TF_DOTTED) {
			fail(ps, line, "table [%s] was already defined by dotted keys", path);
			goto out;
		} else if (m->flags & TF_DEFINED) {
			fail(ps, line, "duplicate table [%s]", path);
			goto out;
		} else {
			/* a table so far only implied by a longer header: this defines it */
			m->flags = (m->flags & ~(unsigned)TF_IMPLICIT) | TF_DEFINED;
			m->line = line;
			depth = m->depth;
		}
	} else {
		if (child == NULL) {
			if (depth + 1 > TOML_MAX_DEPTH) {
				fail(ps, line, "nesting too deep (more than %d levels)",
				     TOML_MAX_DEPTH);
				goto out;
			}
			child = registered(ps, json_object_new_array(), line, TF_AOT, depth + 1);
			if (child == NULL)
				goto out;
			if (json_object_object_add_ex(cur, kp.part[kp.n - 1], child,
			                              JSON_C_OBJECT_ADD_KEY_IS_NEW) != 0) {
				json_object_put(child);
				fail(ps, line, "out of memory");
				goto out;
			}
		} else if (!json_object_is_type(child, json_type_array) || m == NULL ||
		           !(m->flags & TF_AOT)) {
			if (json_object_is_type(child, json_type_array))
				fail(ps, line,
				     "cannot append to array %s: it is not an array of "
				     "tables",
				     k);
			else
				fail(ps, line,
				     "[[%s]] conflicts with key %s, which is not an array "
				     "of tables",
				     path, k);
			goto out;
		}
		if ((m = meta_find(ps->doc, child)) == NULL) {
			fail(ps, line, "internal error: array without a record");
			goto out;
		}
		depth = m->depth + 1;
		if (depth > TOML_MAX_DEPTH) {
			fail(ps, line, "nesting too deep (more than %d levels)", TOML_MAX_DEPTH);
			goto out;
		}
		cur = child;
		child = registered(ps, json_object_new_object(), line, TF_DEFINED, depth);
		if (child == NULL)
			goto out;
		if (json_object_array_add(cur, child) != 0) {
			json_object_put(child);
			fail(ps, line, "out of memory");
			goto out;
		}
	}
	ps->table = child;
	ps->table_depth = depth;
	rc = 0;
out:
	key_path_free(&kp);
	return rc;
}

/* parse_document - the top level: one expression (or nothing) per line */
static int parse_document(struct parser *ps)
{
	const char *what;

	if (ps->end - ps->p >= 3 && memcmp(ps->p, "\xef\xbb\xbf", 3) == 0)
		ps->p += 3; /* a byte order mark says nothing to us */
	while (ps->p < ps->end) {
		skip_ws(ps);
		if (ps->p >= ps->end)
			break;
		what = NULL;
		if (*ps->p == '[') {
			if (parse_header(ps) < 0)
				return -1;
			what = "table header";
		} else if (*ps->p != '#' && *ps->p != '\n' && *ps->p != '\r') {
			if (parse_keyval(ps, ps->table, ps->table_depth) < 0)
				return -1;
			what = "value";
		}
		if (end_of_line(ps, what) < 0)
			return -1;
	}
	return 0;
}

/* toml_parse - parse TOML text; NULL and a message in err on error */
struct toml_doc *toml_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct parser ps;
	struct toml_doc *doc;

	memset(&ps, 0, sizeof ps);
	ps.err = err;
	ps.errlen = errlen;
	ps.line = 1;
	ps.scratch.limit = INT_MAX; /* json-c string lengths are int */
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (text == NULL && len > 0) {
		fail(&ps, 1, "no text to parse");
		return NULL;
	}
	ps.p = text ? text : "";
	ps.end = ps.p + len;
	if ((doc = calloc(1, sizeof *doc)) == NULL) {
		fail(&ps, 1, "out of memory");
		return NULL;
	}
	ps.doc = doc;
	if ((doc->root = json_object_new_object()) == NULL) {
		fail(&ps, 1, "out of memory");
		toml_free(doc);
		return NULL;
	}
	ps.table = doc->root;
	if (meta_put(&ps, doc->root, 1, TF_DEFINED, 0) < 0 || check_utf8(&ps) < 0 ||
	    parse_document(&ps) < 0) {
		buf_free(&ps.scratch);
		toml_free(doc);
		return NULL;
	}
	buf_free(&ps.scratch);
	return doc;
}

/* toml_free - free a document and its tree */
void toml_free(struct toml_doc *doc)
{
	if (doc == NULL)
		return;
	if (doc->root != NULL)
		json_object_put(doc->root);
	free(doc->meta);
	free(doc);
}

/* toml_root - the document's top-level table */
struct json_object *toml_root(const struct toml_doc *doc)
{
	return doc ? doc->root : NULL;
}

/* toml_line - the line a value was defined on, 0 if unknown */
unsigned toml_line(const struct toml_doc *doc, const struct json_object *value)
{
	const struct toml_meta *m;

	if (doc == NULL || value == NULL)
		return 0;
	m = meta_find(doc, value);
	return m ? m->line : 0;
}
