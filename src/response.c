/* response.c - a hook's answer, parsed and validated into a verdict (see include/response.h) */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "response.h"

/* A valid response nests four levels deep; json-c refuses anything past this. */
#define PARSE_DEPTH 64
/* Header indexes: far above any real header count, low enough for an unsigned. */
#define INDEX_MAX 1000000
/* RFC 5321 line length without CRLF: bounds addresses and reply text lines. */
#define LINE_MAX_BYTES 998
/* Reply text lines; smfi_setmlreply takes at most 32. */
#define TEXT_LINES_MAX 32

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* Which fields a modification type has (PROTOCOL.md section 3, the table). */
#define F_ADDRESS  0x01 /* value is an envelope address */
#define F_HVALUE   0x02 /* value is a header value */
#define F_BODY     0x04 /* value is a whole body */
#define F_NAME     0x08 /* name is a header name */
#define F_INDEX    0x10 /* index is required */
#define F_PARAMS   0x20 /* parameters are allowed */
#define F_NONEMPTY 0x40 /* the address may not be "" */

static const struct mod_kind {
	const char *spelling;
	enum mod_type type;
	unsigned fields;
} mod_kinds[] = {
    {"changeFrom", MOD_CHANGE_FROM, F_ADDRESS | F_PARAMS},
    {"addRecipient", MOD_ADD_RCPT, F_ADDRESS | F_PARAMS | F_NONEMPTY},
    {"addRcpt", MOD_ADD_RCPT, F_ADDRESS | F_PARAMS | F_NONEMPTY},
    {"deleteRecipient", MOD_DELETE_RCPT, F_ADDRESS | F_NONEMPTY},
    {"deleteRcpt", MOD_DELETE_RCPT, F_ADDRESS | F_NONEMPTY},
    {"replaceContents", MOD_REPLACE_CONTENTS, F_BODY},
    {"addHeader", MOD_ADD_HEADER, F_NAME | F_HVALUE},
    {"insertHeader", MOD_INSERT_HEADER, F_INDEX | F_NAME | F_HVALUE},
    {"changeHeader", MOD_CHANGE_HEADER, F_INDEX | F_NAME | F_HVALUE},
    {"deleteHeader", MOD_DELETE_HEADER, F_INDEX | F_NAME},
};

static const char *const action_names[] = {"accept", "discard", "reject", "quarantine"};

static const char warn_enhanced_malformed[] =
    "response.enhancedStatus is not of the form N.N.N; dropped";
static const char warn_enhanced_class[] =
    "response.enhancedStatus class differs from response.status; dropped";

static void fail(char *err, size_t errlen, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int ascii_equal_nocase(const char *a, size_t alen, const char *b);
static int is_blank(const char *p, size_t len);
static int parse_json(const char *body, size_t len, struct json_object **out, char *err,
                      size_t errlen);
static struct json_object *member(struct json_object *o, const char *key);
static int parse_action(struct json_object *root, struct verdict *v, char *err, size_t errlen);
static int parse_status(struct json_object *o, int *status, char *err, size_t errlen);
static int enhanced_valid(const char *s, size_t len);
static void parse_enhanced(struct json_object *resp, struct verdict *v);
static int check_text(const char *s, size_t len, size_t *keep);
static int parse_reply(struct json_object *root, struct verdict *v, char *err, size_t errlen);
static const char *check_header_name(const char *s, size_t len);
static const char *check_header_value(const char *s, size_t len);
static const char *check_address(const char *s, size_t len, int nonempty);
static const char *render_params(struct json_object *o, char **out);
static int parse_mod(struct json_object *item, size_t i, struct modification *m, char *err,
                     size_t errlen);
static int parse_mods(struct json_object *root, struct verdict *v, char *err, size_t errlen);

/* fail - write a reason into err, when the caller gave room for one */
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ascii_equal_nocase - a[0..alen) equals the C string b, ignoring ASCII case */
static int ascii_equal_nocase(const char *a, size_t alen, const char *b)
{
	size_t i;
	unsigned char x, y;

	if (alen != strlen(b))
		return 0;
	for (i = 0; i < alen; i++) {
		x = (unsigned char)a[i];
		y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}

/* is_blank - only JSON whitespace in p[0..len) */
static int is_blank(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

/*
 * parse_json - exactly one strict JSON value in body[0..len) into *out (NULL for
 * a JSON null); 0, or -1 when it is not JSON
 *
 * json-c stops at a NUL byte and, in strict mode, at trailing characters;
 * what it did not consume must be whitespace, so "{} x" and "{}\0" are not JSON.
 * JSON is UTF-8 (RFC 8259) and the reference refuses anything else, so do we.
 */
static int parse_json(const char *body, size_t len, struct json_object **out, char *err,
                      size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *o = NULL;
	enum json_tokener_error jerr = json_tokener_success;
	size_t off = 0, chunk = 0, end;

	*out = NULL;
	if ((tok = json_tokener_new_ex(PARSE_DEPTH)) == NULL) {
		fail(err, errlen, "out of memory");
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* json-c takes an int length: feed a body past INT_MAX in pieces. */
	while (off < len) {
		chunk = len - off > INT_MAX ? INT_MAX : len - off;
		o = json_tokener_parse_ex(tok, body + off, (int)chunk);
		jerr = json_tokener_get_error(tok);
		if (jerr != json_tokener_continue)
			break;
		off += chunk;
	}
	if (jerr == json_tokener_continue) {
		/* A top-level number could go on: a NUL tells json-c the input ended. */
		o = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	} else
		end = off + json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			fail(err, errlen, "not JSON: unexpected end of data");
		else
			fail(err, errlen, "not JSON: %s", json_tokener_error_desc(jerr));
		json_object_put(o);
		return -1;
	}
	if (end > len || !is_blank(body + end, len - end)) {
		fail(err, errlen, "not JSON: trailing data after the JSON value");
		json_object_put(o);
		return -1;
	}
	*out = o;
	return 0;
}

/* member - o's member key, NULL when absent or null */
static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *m = NULL;

	if (!json_object_object_get_ex(o, key, &m))
		return NULL;
	return m; /* a JSON null is a NULL json_object */
}

/* parse_action - the required "action", case-insensitive */
static int parse_action(struct json_object *root, struct verdict *v, char *err, size_t errlen)
{
	struct json_object *a = member(root, "action");
	const char *s;
	size_t i, len;

	if (a == NULL || !json_object_is_type(a, json_type_string)) {
		fail(err, errlen, "action: missing or not a string");
		return -1;
	}
	s = json_object_get_string(a);
	len = (size_t)json_object_get_string_len(a);
	for (i = 0; i < sizeof action_names / sizeof action_names[0]; i++) {
		if (ascii_equal_nocase(s, len, action_names[i])) {
			v->action = (enum action)i;
			return 0;
		}
	}
	fail(err, errlen, "action: unknown action (accept, discard, reject or quarantine)");
	return -1;
}

/* parse_status - response.status, a JSON integer or a string of digits, 400-599 */
static int parse_status(struct json_object *o, int *status, char *err, size_t errlen)
{
	int64_t n = -1;
	const char *s;
	size_t i, len;

	if (json_object_is_type(o, json_type_int)) {
		n = json_object_get_int64(o);
	} else if (json_object_is_type(o, json_type_string)) {
		s = json_object_get_string(o);
		len = (size_t)json_object_get_string_len(o);
		/* At most 9 digits: no overflow, and anything longer is out of range anyway. */
		if (len == 0 || len > 9) {
			fail(err, errlen, "response.status: not a reply code");
			return -1;
		}
		for (i = 0, n = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9') {
				fail(err, errlen, "response.status: not a number");
				return -1;
			}
			n = n * 10 + (s[i] - '0');
		}
	} else {
		fail(err, errlen, "response.status: not an integer or a numeric string");
		return -1;
	}
	if (n < 400 || n > 599) {
		fail(err, errlen, "response.status: %" PRId64 " is not a 4xx or 5xx reply code", n);
		return -1;
	}
	*status = (int)n;
	return 0;
}

/* enhanced_valid - s is an RFC 3463 code: class 2, 4 or 5, then 1-3 and 1-3 digits */
static int enhanced_valid(const char *s, size_t len)
{
	size_t i = 2, part, digits;

	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits < 1 || digits > 3)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	return i == len;
}

/*
 * parse_enhanced - enhancedStatus (the documented name) or enhanced_status (the
 * reference's); a bad one is dropped with a warning, never fatal
 */
static void parse_enhanced(struct json_object *resp, struct verdict *v)
{
	struct json_object *e = member(resp, "enhancedStatus");
	const char *s;
	size_t len;

	if (e == NULL)
		e = member(resp, "enhanced_status");
	if (e == NULL)
		return;
	if (!json_object_is_type(e, json_type_string)) {
		v->warning = warn_enhanced_malformed;
		return;
	}
	s = json_object_get_string(e);
	len = (size_t)json_object_get_string_len(e);
	if (!enhanced_valid(s, len) || len >= sizeof v->reply.enhanced) {
		v->warning = warn_enhanced_malformed;
		return;
	}
	/* A disconnect always goes out as 421, so its code must be of class 4. */
	if ((v->reply.disconnect && s[0] != '4') ||
	    (!v->reply.disconnect && v->reply.status && s[0] != '0' + v->reply.status / 100)) {
		v->warning = warn_enhanced_class;
		return;
	}
	memcpy(v->reply.enhanced, s, len);
	v->reply.enhanced[len] = '\0';
}

/*
 * check_text - response.message: lines separated by LF or CRLF, no other CR,
 * no NUL, at most TEXT_LINES_MAX lines of LINE_MAX_BYTES; *keep is its length
 * without trailing line breaks (a final newline is not an empty last line)
 */
static int check_text(const char *s, size_t len, size_t *keep)
{
	size_t i, lines = 1, linelen = 0;

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r')) {
		if (s[len - 1] == '\r')
			return -1; /* a bare CR at the end */
		len--;
		if (len > 0 && s[len - 1] == '\r')
			len--;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == '\0')
			return -1;
		if (s[i] == '\r') {
			if (i + 1 >= len || s[i + 1] != '\n')
				return -1;
			continue;
		}
		if (s[i] == '\n') {
			if (++lines > TEXT_LINES_MAX)
				return -1;
			linelen = 0;
			continue;
		}
		if (++linelen > LINE_MAX_BYTES)
			return -1;
	}
	*keep = len;
	return 0;
}

/*
 * parse_reply - the "response" object, as much of it as the action uses
 *
 * accept ignores it entirely (as the reference does), even when malformed;
 * discard and quarantine keep the message, disconnect, and the enhanced code
 * the 421 of a disconnect carries; reject keeps everything.
 */
static int parse_reply(struct json_object *root, struct verdict *v, char *err, size_t errlen)
{
	struct json_object *resp = member(root, "response");
	struct json_object *o;
	const char *s;
	size_t len, keep;

	if (resp == NULL || v->action == ACTION_ACCEPT)
		return 0;
	if (!json_object_is_type(resp, json_type_object)) {
		fail(err, errlen, "response: not an object");
		return -1;
	}
	if ((o = member(resp, "message")) != NULL) {
		if (!json_object_is_type(o, json_type_string)) {
			fail(err, errlen, "response.message: not a string");
			return -1;
		}
		s = json_object_get_string(o);
		len = (size_t)json_object_get_string_len(o);
		if (check_text(s, len, &keep) < 0) {
			fail(err, errlen,
			     "response.message: NUL, a CR outside CRLF, more than %d lines or a "
			     "line longer than %d bytes",
			     TEXT_LINES_MAX, LINE_MAX_BYTES);
			return -1;
		}
		if (keep > 0) {
			if ((v->reply.text = malloc(keep + 1)) == NULL) {
				fail(err, errlen, "out of memory");
				return -1;
			}
			memcpy(v->reply.text, s, keep);
			v->reply.text[keep] = '\0';
		}
	}
	if ((o = member(resp, "disconnect")) != NULL) {
		if (!json_object_is_type(o, json_type_boolean)) {
			fail(err, errlen, "response.disconnect: not a boolean");
			return -1;
		}
		v->reply.disconnect = json_object_get_boolean(o) ? 1 : 0;
	}
	if (v->action == ACTION_REJECT) {
		if ((o = member(resp, "status")) != NULL &&
		    parse_status(o, &v->reply.status, err, errlen) < 0)
			return -1;
		parse_enhanced(resp, v);
	} else if (v->reply.disconnect) {
		parse_enhanced(resp, v);
	}
	return 0;
}

/* check_header_name - NULL, or why s is not 1-997 bytes of printable ASCII without ':' */
static const char *check_header_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return "header name is empty";
	if (len > HEADER_NAME_MAX)
		return "header name is longer than 997 bytes";
	for (i = 0; i < len; i++) {
		if (s[i] == ':')
			return "header name contains ':'";
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126)
			return "header name contains a space, control or non-ASCII character";
	}
	return NULL;
}

/* check_header_value - NULL, or why s is not a header value (folding: CRLF or LF, then SP/TAB) */
static const char *check_header_value(const char *s, size_t len)
{
	size_t i;

	if (len > HEADER_VALUE_MAX)
		return "header value is longer than 64 KiB";
	for (i = 0; i < len; i++) {
		if (s[i] == '\0')
			return "header value contains NUL";
		if (s[i] == '\r' && (i + 1 >= len || s[i + 1] != '\n'))
			return "header value contains a CR outside CRLF";
		if (s[i] == '\n' && (i + 1 >= len || (s[i + 1] != ' ' && s[i + 1] != '\t')))
			return "header value contains a line break not followed by space or tab";
	}
	return NULL;
}

/* check_address - NULL, or why s is not an envelope address (with or without <>) */
static const char *check_address(const char *s, size_t len, int nonempty)
{
	if (nonempty && len == 0)
		return "address is empty";
	if (len > LINE_MAX_BYTES)
		return "address is longer than 998 bytes";
	if (memchr(s, '\0', len) || memchr(s, '\r', len) || memchr(s, '\n', len))
		return "address contains NUL, CR or LF";
	return NULL;
}

/*
 * render_params - an ESMTP parameters object as "KEY=value KEY2", in the order
 * given; NULL on success (*out NULL when there are none), else the reason
 *
 * Keywords are uppercased, as MTAs print them (they are case-insensitive).
 */
static const char *render_params(struct json_object *o, char **out)
{
	struct buf b = BUF_INIT(0);
	char num[32];
	const char *val, *why = NULL;
	size_t i, klen, vlen;
	char c;

	*out = NULL;
	if (o == NULL)
		return NULL;
	if (!json_object_is_type(o, json_type_object))
		return "parameters is not an object";
	json_object_object_foreach(o, key, jv)
	{
		klen = strlen(key);
		if (klen == 0 ||
		    !((key[0] >= 'A' && key[0] <= 'Z') || (key[0] >= 'a' && key[0] <= 'z') ||
		      (key[0] >= '0' && key[0] <= '9'))) {
			why = "parameter keyword is not an ESMTP keyword";
			goto out;
		}
		for (i = 0; i < klen; i++) {
			c = key[i];
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || c == '-')) {
				why = "parameter keyword is not an ESMTP keyword";
				goto out;
			}
		}
		if (jv == NULL) {
			val = NULL;
			vlen = 0;
		} else if (json_object_is_type(jv, json_type_string)) {
			val = json_object_get_string(jv);
			vlen = (size_t)json_object_get_string_len(jv);
			if (vlen == 0) {
				why = "parameter value is empty (use null for a bare keyword)";
				goto out;
			}
			for (i = 0; i < vlen; i++) {
				if ((unsigned char)val[i] <= ' ' || val[i] == 0x7f) {
					why = "parameter value has a space or control character";
					goto out;
				}
			}
		} else if (json_object_is_type(jv, json_type_int)) {
			snprintf(num, sizeof num, "%" PRId64, json_object_get_int64(jv));
			val = num;
			vlen = strlen(num);
		} else {
			why = "parameter value is not a string, an integer or null";
			goto out;
		}
		if (b.len && buf_append(&b, " ", 1) < 0)
			goto nomem;
		for (i = 0; i < klen; i++) {
			c = key[i] >= 'a' && key[i] <= 'z' ? (char)(key[i] - 'a' + 'A') : key[i];
			if (buf_append(&b, &c, 1) < 0)
				goto nomem;
		}
		if (val && (buf_append(&b, "=", 1) < 0 || buf_append(&b, val, vlen) < 0))
			goto nomem;
	}
	*out = b.data; /* NULL when the object was empty */
	return NULL;
nomem:
	why = "out of memory";
out:
	buf_free(&b);
	return why;
}

/* parse_mod - one item of "modifications", validated whole into *m */
static int parse_mod(struct json_object *item, size_t i, struct modification *m, char *err,
                     size_t errlen)
{
	const struct mod_kind *kind = NULL;
	struct json_object *t, *o;
	const char *s, *why;
	size_t k, len;
	int64_t index;

	if (item == NULL || !json_object_is_type(item, json_type_object)) {
		fail(err, errlen, "modifications[%zu]: not an object", i);
		return -1;
	}
	t = member(item, "type");
	if (t == NULL || !json_object_is_type(t, json_type_string)) {
		fail(err, errlen, "modifications[%zu]: type missing or not a string", i);
		return -1;
	}
	s = json_object_get_string(t);
	len = (size_t)json_object_get_string_len(t);
	for (k = 0; k < sizeof mod_kinds / sizeof mod_kinds[0]; k++) {
		if (strlen(mod_kinds[k].spelling) == len &&
		    memcmp(mod_kinds[k].spelling, s, len) == 0) {
			kind = &mod_kinds[k];
			break;
		}
	}
	if (kind == NULL) {
		fail(err, errlen, "modifications[%zu]: unknown type", i);
		return -1;
	}
	m->type = kind->type;

	if (kind->fields & F_INDEX) {
		o = member(item, "index");
		if (o == NULL || !json_object_is_type(o, json_type_int)) {
			fail(err, errlen, "modifications[%zu]: %s needs an integer index", i,
			     kind->spelling);
			return -1;
		}
		index = json_object_get_int64(o);
		if (index < 0 || index > INDEX_MAX) {
			fail(err, errlen, "modifications[%zu]: %s index must be 0 to %d", i,
			     kind->spelling, INDEX_MAX);
			return -1;
		}
		m->index = (unsigned)index;
	}

	if (kind->fields & F_NAME) {
		o = member(item, "name");
		if (o == NULL || !json_object_is_type(o, json_type_string)) {
			fail(err, errlen, "modifications[%zu]: %s needs a string name", i,
			     kind->spelling);
			return -1;
		}
		s = json_object_get_string(o);
		len = (size_t)json_object_get_string_len(o);
		if ((why = check_header_name(s, len)) != NULL) {
			fail(err, errlen, "modifications[%zu]: %s", i, why);
			return -1;
		}
		if ((m->name = malloc(len + 1)) == NULL) {
			fail(err, errlen, "out of memory");
			return -1;
		}
		memcpy(m->name, s, len + 1); /* checked above: no NUL inside */
	}

	if (kind->fields & (F_ADDRESS | F_HVALUE | F_BODY)) {
		o = member(item, "value");
		if (o == NULL || !json_object_is_type(o, json_type_string)) {
			fail(err, errlen, "modifications[%zu]: %s needs a string value", i,
			     kind->spelling);
			return -1;
		}
		s = json_object_get_string(o);
		len = (size_t)json_object_get_string_len(o);
		if (kind->fields & F_ADDRESS)
			why = check_address(s, len, (kind->fields & F_NONEMPTY) != 0);
		else if (kind->fields & F_HVALUE)
			why = check_header_value(s, len);
		else
			why = NULL; /* a body may hold any byte */
		if (why) {
			fail(err, errlen, "modifications[%zu]: %s", i, why);
			return -1;
		}
		if (len == SIZE_MAX || (m->value = malloc(len + 1)) == NULL) {
			fail(err, errlen, "out of memory");
			return -1;
		}
		memcpy(m->value, s, len);
		m->value[len] = '\0';
		m->value_len = len;
	}

	if ((kind->fields & F_PARAMS) &&
	    (why = render_params(member(item, "parameters"), &m->params)) != NULL) {
		fail(err, errlen, "modifications[%zu]: %s", i, why);
		return -1;
	}
	return 0;
}

/* parse_mods - the optional "modifications" array, all or nothing */
static int parse_mods(struct json_object *root, struct verdict *v, char *err, size_t errlen)
{
	struct json_object *arr = member(root, "modifications");
	size_t i, n;

	if (arr == NULL)
		return 0;
	if (!json_object_is_type(arr, json_type_array)) {
		fail(err, errlen, "modifications: not an array");
		return -1;
	}
	if ((n = json_object_array_length(arr)) == 0)
		return 0;
	if ((v->mods = calloc(n, sizeof *v->mods)) == NULL) {
		fail(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		/* Counted before parsing, so verdict_free frees a half-built item too. */
		v->nmods++;
		if (parse_mod(json_object_array_get_idx(arr, i), i, &v->mods[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* response_parse - parse and validate a hook's answer */
int response_parse(long http_status, const char *body, size_t len, struct verdict *v, char *err,
                   size_t errlen)
{
	struct json_object *root;
	int rc = 0;

	memset(v, 0, sizeof *v);
	if (err && errlen)
		err[0] = '\0';
	if (body == NULL)
		len = 0;
	if (is_blank(body, len)) {
		/* Our extension: 204 No Content means accept; the reference requires JSON. */
		if (http_status == 204) {
			v->action = ACTION_ACCEPT;
			return 0;
		}
		fail(err, errlen, "not JSON: empty body");
		return RESPONSE_ERR_NOT_JSON;
	}
	if (parse_json(body, len, &root, err, errlen) < 0)
		return RESPONSE_ERR_NOT_JSON;
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		fail(err, errlen, "the response is not a JSON object");
		rc = RESPONSE_ERR_INVALID;
	} else if (parse_action(root, v, err, errlen) < 0 ||
	           parse_reply(root, v, err, errlen) < 0 || parse_mods(root, v, err, errlen) < 0) {
		rc = RESPONSE_ERR_INVALID;
	}
	json_object_put(root);
	if (rc)
		verdict_free(v);
	return rc;
}

/* modification_free - free what one modification owns */
void modification_free(struct modification *m)
{
	if (m == NULL)
		return;
	free(m->name);
	free(m->value);
	free(m->params);
	m->name = m->value = m->params = NULL;
	m->value_len = 0;
}

/* verdict_free - free what a verdict owns and zero it */
void verdict_free(struct verdict *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nmods; i++)
		modification_free(&v->mods[i]);
	free(v->mods);
	free(v->reply.text);
	memset(v, 0, sizeof *v);
}

/* action_name - "accept", "discard", "reject" or "quarantine" */
const char *action_name(enum action a)
{
	if ((unsigned)a >= sizeof action_names / sizeof action_names[0])
		return "unknown";
	return action_names[a];
}
