/* request.c - the MTA Hooks JSON request for one stage, as a stream (see include/request.h) */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "request.h"
#include "session.h"

/* The longest output of one escape step: "\u00XX" (6 bytes); a UTF-8 sequence is at most 4. */
#define ESCAPE_MAX 6
/* json-c objects handed to us (ESMTP parameters) are flat; this only bounds recursion. */
#define JSON_DEPTH_MAX 32

enum part { PART_HEAD, PART_BODY, PART_TAIL, PART_END };

/* Where a reader is in the output: which part, how far into it, and any escape
 * output that did not fit into the caller's last buffer. */
struct cursor {
	enum part part;
	size_t off;            /* bytes of head/tail copied, or body input bytes consumed */
	char pend[ESCAPE_MAX]; /* escaped bytes still owed to the caller */
	size_t pend_len, pend_off;
};

struct request {
	struct buf head; /* everything up to the body's opening quote, or all of it */
	struct buf tail; /* from the body's closing quote to the end; empty off data */
	const unsigned char *body;
	size_t body_len;     /* raw body bytes, 0 without a message */
	size_t body_esc_len; /* bytes the escaped body takes */
	size_t total;        /* head + escaped body + tail */
	struct cursor cur;   /* for request_read */
};

static size_t utf8_valid_prefix(const unsigned char *p, size_t n, size_t *seq);
static char short_escape(unsigned char c);
static size_t escape_step(const unsigned char *p, size_t n, size_t *used, char *out);
static int is_crlf(const unsigned char *p, size_t n);
static uint64_t word_specials(uint64_t w);
static size_t plain_run(const unsigned char *p, size_t n);
static int put_bytes(struct buf *b, const void *p, size_t len);
static int put(struct buf *b, const char *s);
static int put_escaped(struct buf *b, const char *s, size_t len);
static int put_string(struct buf *b, const char *s);
static int put_string_or_null(struct buf *b, const char *s);
static int put_key(struct buf *b, const char *key);
static int put_uint(struct buf *b, uintmax_t n);
static int put_json(struct buf *b, struct json_object *o, int depth);
static int put_context(struct buf *b, const struct session *s, enum stage stage);
static int put_envaddr(struct buf *b, const struct envaddr *a);
static int put_envelope(struct buf *b, const struct session *s);
static int put_headers(struct buf *b, const struct session *s);
static int is_server_header(const struct session *s);
static size_t sat_add(size_t a, size_t b);
static size_t head_estimate(const struct session *s, enum stage stage);
static size_t escape_into(const unsigned char *p, size_t n, char *dst, size_t room, size_t *used);
static size_t body_read(const struct request *r, struct cursor *c, char *dst, size_t len);
static size_t cursor_read(const struct request *r, struct cursor *c, char *dst, size_t len);

/* utf8_valid_prefix - how many bytes at p begin a well-formed UTF-8 sequence; *seq its length */
static size_t utf8_valid_prefix(const unsigned char *p, size_t n, size_t *seq)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t need, i;

	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		need = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		need = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		need = 4;
	else {
		*seq = 1;
		return 0; /* a stray continuation byte, C0, C1 or F5..FF */
	}
	/* The second byte's range excludes overlongs, surrogates and code points past U+10FFFF. */
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	*seq = need;
	for (i = 1; i < need && i < n; i++) {
		if (p[i] < lo || p[i] > hi)
			break;
		lo = 0x80;
		hi = 0xBF;
	}
	return i;
}

/* short_escape - the letter after '\\' for a byte escape_step writes in two bytes, else 0 */
static char short_escape(unsigned char c)
{
	switch (c) {
	case '"':
		return '"';
	case '\\':
		return '\\';
	case '\n':
		return 'n';
	case '\r':
		return 'r';
	case '\t':
		return 't';
	case '\b':
		return 'b';
	case '\f':
		return 'f';
	default:
		return 0;
	}
}

/*
 * escape_step - escape the next character of p[0..n) (n > 0) into out
 *
 * Sets *used to the input bytes consumed and returns the output length
 * (at most ESCAPE_MAX). A maximal ill-formed subpart becomes one U+FFFD, as
 * Unicode recommends, so the count is the same however the input is cut.
 */
static size_t escape_step(const unsigned char *p, size_t n, size_t *used, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c = p[0];
	size_t seq, ok;

	*used = 1;
	if (c >= 0x80) {
		ok = utf8_valid_prefix(p, n, &seq);
		if (ok == seq) {
			memcpy(out, p, seq);
			*used = seq;
			return seq;
		}
		*used = ok ? ok : 1;
		memcpy(out, "\xEF\xBF\xBD", 3);
		return 3;
	}
	if ((out[1] = short_escape(c)) != 0) {
		out[0] = '\\';
		return 2;
	}
	if (c < 0x20) {
		memcpy(out, "\\u00", 4);
		out[4] = hex[c >> 4];
		out[5] = hex[c & 15];
		return 6;
	}
	out[0] = (char)c;
	return 1;
}

/* is_crlf - whether p[0..n) starts with CR LF */
static int is_crlf(const unsigned char *p, size_t n)
{
	return n >= 2 && p[0] == '\r' && p[1] == '\n';
}

/*
 * word_specials - the bytes of w that need escaping, each marked by its top bit (0: none)
 *
 * Eight bytes at a time, for strings and, where SSE2 is missing, for the body, which is
 * mostly plain text and is gone over twice (counting, then sending). If no byte has its
 * top bit set (the first term), subtracting 0x20 from each byte borrows out of a byte
 * exactly when it is below 0x20, and subtracting 1 from w ^ '"' (or w ^ '\\') exactly
 * when that byte was '"' (or '\\'). A borrow may also mark bytes above the one it came
 * from, never below: the lowest mark is always the first byte (in memory order, on a
 * little-endian machine) that needs escaping, and no mark at all means none does.
 */
static uint64_t word_specials(uint64_t w)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t tops = UINT64_C(0x8080808080808080);

	return (w | (w - ones * 0x20) | ((w ^ (ones * '"')) - ones) |
	        ((w ^ (ones * '\\')) - ones)) &
	       tops;
}

/* plain_run - how many bytes from p on need no escaping (printable ASCII but '"' and '\\') */
static size_t plain_run(const unsigned char *p, size_t n)
{
	size_t i = 0;
	uint64_t w, marks;

#ifdef __SSE2__
	/*
	 * Sixteen bytes at a time where every x86-64 can: a signed compare with 0x20 finds the
	 * control characters and, as negative numbers, the bytes from 0x80 up.
	 */
	const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"');
	const __m128i bslash = _mm_set1_epi8('\\');

	for (; n - i >= 16; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		__m128i hit =
		    _mm_or_si128(_mm_cmplt_epi8(v, space),
		                 _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
		unsigned bits = (unsigned)_mm_movemask_epi8(hit);

		if (bits != 0)
			return i + (size_t)__builtin_ctz(bits);
	}
#endif
	for (; n - i >= sizeof(w); i += sizeof(w)) {
		memcpy(&w, p + i, sizeof(w)); /* p need not be aligned */
		if ((marks = word_specials(w)) != 0) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			/* The first byte of the word in memory is its lowest. */
			return i + (size_t)__builtin_ctzll(marks) / 8;
#else
			break;
#endif
		}
	}
	while (i < n && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\')
		i++;
	return i;
}

#ifdef __SSE2__
/* specials16 - a bit per byte of v that needs escaping: below 0x20, from 0x80 up, '"', '\\' */
static unsigned specials16(__m128i v)
{
	__m128i hit = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
	                           _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
	                                        _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));

	return (unsigned)_mm_movemask_epi8(hit);
}

/* shorts16 - a bit per byte of v with a two-byte escape (see short_escape) */
static unsigned shorts16(__m128i v)
{
	__m128i hit =
	    _mm_or_si128(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
	                                           _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))),
	                              _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\t')),
	                                           _mm_cmpeq_epi8(v, _mm_set1_epi8('"')))),
	                 _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
	                              _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\b')),
	                                           _mm_cmpeq_epi8(v, _mm_set1_epi8('\f')))));

	return (unsigned)_mm_movemask_epi8(hit);
}

/* bits16 - the bits set in x < 2^16 (without a call: x86-64's baseline has no POPCNT) */
static size_t bits16(unsigned x)
{
	x -= (x >> 1) & 0x5555u;
	x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
	x = (x + (x >> 4)) & 0x0f0fu;
	return (x + (x >> 8)) & 0x1fu;
}
#endif

/*
 * put_bytes - append len bytes. A request is written in hundreds of small pieces, so the
 * usual case, room enough in a buffer without a limit (head and tail have none), is done
 * here without a call; buf_append does everything else.
 */
static int put_bytes(struct buf *b, const void *p, size_t len)
{
	if (b->limit == 0 && len < b->cap - b->len) {
		memcpy(b->data + b->len, p, len);
		b->len += len;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_append(b, p, len);
}

/* put_lit - append a string literal, its length known when compiled */
#define put_lit(b, lit) put_bytes((b), (lit), sizeof(lit) - 1)

/* put - append a C string (JSON syntax we write ourselves) */
static int put(struct buf *b, const char *s)
{
	/* strlen here, not in buf_append_str: inlined, it is a constant for our literals */
	return put_bytes(b, s, strlen(s));
}

/* put_escaped - append bytes as the inside of a JSON string, repairing invalid UTF-8 */
static int put_escaped(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	char out[ESCAPE_MAX];
	size_t i = 0, used, n, run;

	while (i < len) {
		run = plain_run(p + i, len - i);
		if (run) {
			if (put_bytes(b, p + i, run) < 0)
				return -1;
			i += run;
			continue;
		}
		n = escape_step(p + i, len - i, &used, out);
		if (put_bytes(b, out, n) < 0)
			return -1;
		i += used;
	}
	return 0;
}

/* escaped_length - the bytes put_escaped would write for p, without writing them; SIZE_MAX
 * when that does not fit a size_t */
static size_t escaped_length(const unsigned char *p, size_t len)
{
	char out[ESCAPE_MAX];
	size_t i = 0, used, n, total = 0;

#ifdef __SSE2__
	/*
	 * Sixteen bytes at a time: plain bytes count one, the two-byte escapes (line ends,
	 * quotes) two; the first other byte (a control, a UTF-8 sequence) takes one step of
	 * escape_step. No sum can pass SIZE_MAX below this bound on len.
	 */
	if (len <= SIZE_MAX / ESCAPE_MAX) {
		while (len - i >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
			unsigned special = specials16(v), twos, other;

			if (special == 0) {
				total += 16;
				i += 16;
				continue;
			}
			twos = shorts16(v);
			if ((other = special & ~twos) == 0) {
				total += 16 + bits16(twos);
				i += 16;
				continue;
			}
			n = (size_t)__builtin_ctz(other);
			total += n + bits16(twos & ((1u << n) - 1));
			i += n;
			total += escape_step(p + i, len - i, &used, out);
			i += used;
		}
	}
#endif
	for (; i < len; i += used) {
		n = used = plain_run(p + i, len - i);
		if (n == 0 && is_crlf(p + i, len - i)) {
			/* \r\n, at the end of every line of a body */
			n = 4;
			used = 2;
		} else if (n == 0) {
			n = escape_step(p + i, len - i, &used, out);
		}
		if (n >= SIZE_MAX - total)
			return SIZE_MAX;
		total += n;
	}
	return total;
}

/* put_string - append a JSON string; NULL is written as "" */
static int put_string(struct buf *b, const char *s)
{
	if (s == NULL)
		s = "";
	if (put_lit(b, "\"") < 0 || put_escaped(b, s, strlen(s)) < 0 || put_lit(b, "\"") < 0)
		return -1;
	return 0;
}

/* put_string_or_null - append a JSON string, or null for NULL */
static int put_string_or_null(struct buf *b, const char *s)
{
	return s ? put_string(b, s) : put_lit(b, "null");
}

/* put_key - append "key": (keys are our own ASCII names) */
static int put_key(struct buf *b, const char *key)
{
	if (put_lit(b, "\"") < 0 || put(b, key) < 0 || put_lit(b, "\":") < 0)
		return -1;
	return 0;
}

/* put_uint - append an unsigned decimal number */
static int put_uint(struct buf *b, uintmax_t n)
{
	char num[32]; /* 2^64 has 20 digits; uintmax_t is 64 bits wherever this builds */
	size_t at = sizeof num;

	/* By hand, not snprintf: a request has several numbers, and the format engine is slow. */
	do {
		num[--at] = (char)('0' + n % 10);
		n /= 10;
	} while (n != 0 && at > 0);
	return put_bytes(b, num + at, sizeof num - at);
}

/*
 * put_json - append a json-c value, with our own string escaping
 *
 * json-c's serializer passes invalid UTF-8 through, and parameter values come
 * straight from the SMTP client, so strings go through put_escaped.
 */
static int put_json(struct buf *b, struct json_object *o, int depth)
{
	char num[32];
	size_t i, n;
	int first = 1;

	if (depth > JSON_DEPTH_MAX)
		return put_lit(b, "null");
	switch (json_object_get_type(o)) {
	case json_type_null:
		return put_lit(b, "null");
	case json_type_boolean:
		return put(b, json_object_get_boolean(o) ? "true" : "false");
	case json_type_int:
		snprintf(num, sizeof num, "%" PRId64, json_object_get_int64(o));
		return put(b, num);
	case json_type_double:
		/* json-c would write NaN and Infinity, which are not JSON */
		if (!isfinite(json_object_get_double(o)))
			return put_lit(b, "null");
		return put(b, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	case json_type_string:
		if (put_lit(b, "\"") < 0 || put_escaped(b, json_object_get_string(o),
		                                        (size_t)json_object_get_string_len(o)) < 0)
			return -1;
		return put_lit(b, "\"");
	case json_type_array:
		if (put_lit(b, "[") < 0)
			return -1;
		n = json_object_array_length(o);
		for (i = 0; i < n; i++) {
			if ((i && put_lit(b, ",") < 0) ||
			    put_json(b, json_object_array_get_idx(o, i), depth + 1) < 0)
				return -1;
		}
		return put_lit(b, "]");
	case json_type_object:
		if (put_lit(b, "{") < 0)
			return -1;
		json_object_object_foreach(o, key, val)
		{
			if ((!first && put_lit(b, ",") < 0) || put_lit(b, "\"") < 0 ||
			    put_escaped(b, key, strlen(key)) < 0 || put_lit(b, "\":") < 0 ||
			    put_json(b, val, depth + 1) < 0)
				return -1;
			first = 0;
		}
		return put_lit(b, "}");
	}
	return put_lit(b, "null");
}

/* put_context - append "context":{...} (PROTOCOL.md section 2, context) */
static int put_context(struct buf *b, const struct session *s, enum stage stage)
{
	const char *ip = s->client_ip ? s->client_ip : "";
	unsigned active = s->active_connections ? s->active_connections : 1;

	if (put_lit(b, "\"context\":{") < 0 || put_lit(b, "\"stage\":") < 0 ||
	    put_string(b, stage_name(stage)) < 0)
		return -1;

	if (put_lit(b, ",\"client\":{") < 0 || put_lit(b, "\"ip\":") < 0 || put_string(b, ip) < 0 ||
	    put_lit(b, ",") < 0 || put_lit(b, "\"port\":") < 0 || put_uint(b, s->client_port) < 0 ||
	    put_lit(b, ",") < 0 || put_lit(b, "\"ptr\":") < 0 ||
	    put_string_or_null(b, s->client_ptr) < 0 || put_lit(b, ",") < 0 ||
	    put_lit(b, "\"ehlo\":") < 0 || put_string_or_null(b, s->helo) < 0 ||
	    put_lit(b, ",") < 0 || put_lit(b, "\"helo\":") < 0 ||
	    put_string_or_null(b, s->helo) < 0 || put_lit(b, ",") < 0 ||
	    put_lit(b, "\"activeConnections\":") < 0 || put_uint(b, active) < 0 ||
	    put_lit(b, "}") < 0)
		return -1;

	if (s->sasl_login) {
		if (put_lit(b, ",\"sasl\":{") < 0 || put_lit(b, "\"login\":") < 0 ||
		    put_string(b, s->sasl_login) < 0 || put_lit(b, ",") < 0 ||
		    put_lit(b, "\"method\":") < 0 || put_string_or_null(b, s->sasl_method) < 0 ||
		    put_lit(b, "}") < 0)
			return -1;
	}

	if (s->tls) {
		/* Members the MTA did not tell us are left out, not sent as null. */
		const char *names[] = {"version", "cipher", "certIssuer", "certSubject"};
		const char *values[] = {s->tls_version, s->tls_cipher, s->tls_cert_issuer,
		                        s->tls_cert_subject};
		const char *sep = "";
		size_t i;

		if (put_lit(b, ",\"tls\":{") < 0)
			return -1;
		for (i = 0; i < 4; i++) {
			if (i == 2 && s->tls_cipher_bits >= 0) {
				if (put(b, sep) < 0 || put_lit(b, "\"cipherBits\":") < 0 ||
				    put_uint(b, (uintmax_t)s->tls_cipher_bits) < 0)
					return -1;
				sep = ",";
			}
			if (values[i] == NULL)
				continue;
			if (put(b, sep) < 0 || put_key(b, names[i]) < 0 ||
			    put_string(b, values[i]) < 0)
				return -1;
			sep = ",";
		}
		if (put_lit(b, "}") < 0)
			return -1;
	}

	if (put_lit(b, ",\"server\":{") < 0 || put_lit(b, "\"name\":") < 0 ||
	    put_string(b, s->server_name ? s->server_name : "localhost") < 0 ||
	    put_lit(b, ",") < 0 || put_lit(b, "\"port\":") < 0 || put_uint(b, s->server_port) < 0 ||
	    put_lit(b, ",") < 0 || put_lit(b, "\"ip\":") < 0 ||
	    put_string_or_null(b, s->server_ip) < 0 || put_lit(b, "}") < 0)
		return -1;

	if (s->queue_id) {
		if (put_lit(b, ",\"queue\":{") < 0 || put_lit(b, "\"id\":") < 0 ||
		    put_string(b, s->queue_id) < 0 || put_lit(b, "}") < 0)
			return -1;
	}

	return put_lit(b, ",\"protocol\":{\"version\":1}}");
}

/* put_envaddr - append {"address":...,"parameters":{...}}, parameters only when there are some */
static int put_envaddr(struct buf *b, const struct envaddr *a)
{
	if (put_lit(b, "{") < 0 || put_lit(b, "\"address\":") < 0 || put_string(b, a->address) < 0)
		return -1;
	if (a->params && !(json_object_is_type(a->params, json_type_object) &&
	                   json_object_object_length(a->params) == 0)) {
		if (put_lit(b, ",") < 0 || put_lit(b, "\"parameters\":") < 0 ||
		    put_json(b, a->params, 0) < 0)
			return -1;
	}
	return put_lit(b, "}");
}

/* put_envelope - append "envelope":{"from":...,"to":[...]} */
static int put_envelope(struct buf *b, const struct session *s)
{
	size_t i;

	if (put_lit(b, "\"envelope\":{\"from\":") < 0 || put_envaddr(b, &s->from) < 0 ||
	    put_lit(b, ",\"to\":[") < 0)
		return -1;
	for (i = 0; i < s->nrcpts; i++) {
		if ((i && put_lit(b, ",") < 0) || put_envaddr(b, &s->rcpts[i]) < 0)
			return -1;
	}
	return put_lit(b, "]}");
}

/* put_headers - append "headers":[[name,value],...] in the MTA's order */
static int put_headers(struct buf *b, const struct session *s)
{
	size_t i;

	if (put_lit(b, "\"headers\":[") < 0)
		return -1;
	for (i = 0; i < s->nheaders; i++) {
		if ((i && put_lit(b, ",") < 0) || put_lit(b, "[") < 0 ||
		    put_string(b, s->headers[i].name) < 0 || put_lit(b, ",") < 0 ||
		    put_string(b, s->headers[i].value) < 0 || put_lit(b, "]") < 0)
			return -1;
	}
	if (put_lit(b, "]") < 0)
		return -1;
	if (!is_server_header(s))
		return 0;
	return put_lit(b, ",\"serverHeaders\":[[") < 0 || put_string(b, s->headers[0].name) < 0 ||
	               put_lit(b, ",") < 0 || put_string(b, s->headers[0].value) < 0 ||
	               put_lit(b, "]]") < 0
	           ? -1
	           : 0;
}

/*
 * is_server_header - whether the first header is the MTA's own Received line: a
 * leading Received: that carries this message's queue id. Neither Postfix nor
 * Sendmail shows a milter that line, so with them serverHeaders is omitted.
 */
static int is_server_header(const struct session *s)
{
	return s->nheaders > 0 && s->queue_id && s->queue_id[0] &&
	       strcasecmp(s->headers[0].name, "Received") == 0 &&
	       strstr(s->headers[0].value, s->queue_id) != NULL;
}

/* sat_add - a + b, or SIZE_MAX when that does not fit */
static size_t sat_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/*
 * head_estimate - about how long the head of a stage's request will be (a little more
 * than usual), so that it is allocated once rather than grown step by step
 */
static size_t head_estimate(const struct session *s, enum stage stage)
{
	size_t n = 1024; /* the context, with room for long names */

	if (stage >= STAGE_MAIL)
		n = sat_add(n, s->nrcpts < SIZE_MAX / 128 ? (s->nrcpts + 1) * 128 : SIZE_MAX);
	if (stage == STAGE_DATA) {
		/* escaping: ["name","value"], and a little for quotes and folds */
		n = sat_add(n, sat_add(s->header_bytes, s->header_bytes / 8));
		n = sat_add(n, s->nheaders < SIZE_MAX / 8 ? s->nheaders * 8 : SIZE_MAX);
	}
	return n;
}

/* request_new - prepare the request for a stage; NULL on ENOMEM */
struct request *request_new(const struct session *s, enum stage stage)
{
	struct request *r;

	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	r->head = (struct buf)BUF_INIT(0);
	r->tail = (struct buf)BUF_INIT(0);
	/* A guess too large for memory is no error: the head then grows as it is written. */
	(void)buf_reserve(&r->head, head_estimate(s, stage));

	if (put_lit(&r->head, "{") < 0 || put_context(&r->head, s, stage) < 0)
		goto fail;
	if (stage >= STAGE_MAIL) {
		if (put_lit(&r->head, ",") < 0 || put_envelope(&r->head, s) < 0)
			goto fail;
	}
	if (stage == STAGE_DATA) {
		if (put_lit(&r->head, ",\"message\":{") < 0 || put_headers(&r->head, s) < 0 ||
		    put_lit(&r->head, ",\"contents\":\"") < 0)
			goto fail;
		r->body = (const unsigned char *)s->body.data;
		r->body_len = s->body.data ? s->body.len : 0;
		/*
		 * Content-Length is exact without an escaped copy: session.c counted the body as
		 * it came, but for a cut UTF-8 sequence at its end (or all of it, if the body
		 * did not come through session_append_body).
		 */
		if (s->body_json_done <= r->body_len) {
			size_t rest = escaped_length(r->body + s->body_json_done,
			                             r->body_len - s->body_json_done);

			r->body_esc_len =
			    rest > SIZE_MAX - s->body_json_len ? SIZE_MAX : s->body_json_len + rest;
		} else {
			r->body_esc_len = escaped_length(r->body, r->body_len);
		}
		if (r->body_esc_len == SIZE_MAX)
			goto fail;
		if (put_lit(&r->tail, "\",\"size\":") < 0 ||
		    put_uint(&r->tail, session_message_size(s)) < 0 || put_lit(&r->tail, "}}") < 0)
			goto fail;
	} else if (put_lit(&r->head, "}") < 0)
		goto fail;

	/* Each part is bounded by memory, but their sum is checked all the same. */
	if (r->head.len > SIZE_MAX - r->tail.len ||
	    r->body_esc_len > SIZE_MAX - r->head.len - r->tail.len)
		goto fail;
	r->total = r->head.len + r->body_esc_len + r->tail.len;
	return r;
fail:
	request_free(r);
	return NULL;
}

/* request_length - the total length in bytes of the JSON */
size_t request_length(const struct request *r)
{
	return r->total;
}

/*
 * escape_into - escape the byte at p (n > 0; CR LF together) straight into dst when it fits
 * in room: the bytes written, *used the input taken; 0 when it does not fit
 */
static size_t escape_into(const unsigned char *p, size_t n, char *dst, size_t room, size_t *used)
{
	char esc;

	if (room >= 4 && is_crlf(p, n)) {
		memcpy(dst, "\\r\\n", 4); /* a line end: the usual escape */
		*used = 2;
		return 4;
	}
	if ((esc = short_escape(p[0])) != 0 && room >= 2) {
		dst[0] = '\\';
		dst[1] = esc;
		*used = 1;
		return 2;
	}
	return room >= ESCAPE_MAX ? escape_step(p, n, used, dst) : 0;
}

/*
 * body_read - escape body bytes from where c stands into dst (len > 0) until dst is full or
 * the body ends; an escape that does not fit is kept in c->pend. Returns the bytes written.
 */
static size_t body_read(const struct request *r, struct cursor *c, char *dst, size_t len)
{
	size_t done = 0, left, run, used, n;
	char out[ESCAPE_MAX];

#ifdef __SSE2__
	/*
	 * While sixteen bytes of body and of room are left: store them as they are, then keep
	 * what was plain. Escaping as it copies, this is one pass over the body, with no call
	 * per line; what is left at the end goes the general way below. Locals, not c and
	 * r: a store through dst may alias them as far as the compiler knows.
	 */
	{
		const unsigned char *body = r->body;
		size_t off = c->off, end = r->body_len;

		while (len - done >= 16 && end - off >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(body + off));
			unsigned special = specials16(v);

			_mm_storeu_si128((__m128i *)(void *)(dst + done), v);
			if (special == 0) {
				done += 16;
				off += 16;
				continue;
			}
			n = (size_t)__builtin_ctz(special);
			done += n;
			off += n;
			if ((n = escape_into(body + off, end - off, dst + done, len - done,
			                     &used)) == 0)
				break;
			done += n;
			off += used;
		}
		c->off = off;
	}
#endif
	while (done < len && c->off < r->body_len) {
		/* Look no further than what fits: a body without escapes is one long run. */
		left = r->body_len - c->off;
		run = plain_run(r->body + c->off, left < len - done ? left : len - done);
		if (run) {
			memcpy(dst + done, r->body + c->off, run);
			c->off += run;
			done += run;
			continue;
		}
		if ((n = escape_into(r->body + c->off, left, dst + done, len - done, &used)) != 0) {
			done += n;
			c->off += used;
			continue;
		}
		n = escape_step(r->body + c->off, left, &used, out);
		c->off += used;
		if (n <= len - done) {
			memcpy(dst + done, out, n);
			done += n;
		} else {
			/* The escape straddles the caller's buffer: keep it for the next call. */
			memcpy(c->pend, out, n);
			c->pend_len = n;
			c->pend_off = 0;
			break;
		}
	}
	return done;
}

/* cursor_read - copy up to len further bytes from where c stands; 0 at the end */
static size_t cursor_read(const struct request *r, struct cursor *c, char *dst, size_t len)
{
	size_t done = 0, n;

	while (done < len && c->part != PART_END) {
		if (c->pend_off < c->pend_len) {
			n = c->pend_len - c->pend_off;
			if (n > len - done)
				n = len - done;
			memcpy(dst + done, c->pend + c->pend_off, n);
			c->pend_off += n;
			done += n;
			continue;
		}
		if (c->part == PART_HEAD || c->part == PART_TAIL) {
			const struct buf *b = c->part == PART_HEAD ? &r->head : &r->tail;

			n = b->len - c->off;
			if (n > len - done)
				n = len - done;
			if (n)
				memcpy(dst + done, b->data + c->off, n);
			c->off += n;
			done += n;
			if (c->off == b->len) {
				c->part = c->part == PART_HEAD ? PART_BODY : PART_END;
				c->off = 0;
			}
			continue;
		}
		/* PART_BODY: escaped straight into dst, until dst is full or the body ends. */
		if (c->off == r->body_len) {
			c->part = PART_TAIL;
			c->off = 0;
			continue;
		}
		done += body_read(r, c, dst + done, len - done);
	}
	return done;
}

/* request_read - copy out up to len further bytes; 0 at the end */
size_t request_read(struct request *r, char *dst, size_t len)
{
	return cursor_read(r, &r->cur, dst, len);
}

/* request_rewind - read from the beginning again */
void request_rewind(struct request *r)
{
	memset(&r->cur, 0, sizeof r->cur);
}

/* request_to_string - the whole JSON as a new string; *len gets its length if not NULL */
char *request_to_string(struct request *r, size_t *len)
{
	struct cursor c;
	char *s;
	size_t n;

	if (r->total == SIZE_MAX || (s = malloc(r->total + 1)) == NULL)
		return NULL;
	/* A cursor of its own, so a read in progress is not disturbed. */
	memset(&c, 0, sizeof c);
	n = cursor_read(r, &c, s, r->total);
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

/* request_json_length - bytes p takes escaped inside a JSON string; SIZE_MAX past size_t */
size_t request_json_length(const void *p, size_t len)
{
	return escaped_length(p, len);
}

/* request_free - free the request; NULL is ignored */
void request_free(struct request *r)
{
	if (r == NULL)
		return;
	buf_free(&r->head);
	buf_free(&r->tail);
	free(r);
}
