/* expr.c - Stalwart's expression language for a hook's `enable` (see expr.h) */
#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <json-c/json.h>
#include <pcre2.h>

#include "expr.h"

/*
 * Limits. Each one is a compile error, or at evaluation a false result; never a
 * crash, an unbounded loop or unbounded memory.
 */
#define EXPR_MAX_DEPTH     64          /* nesting of (), [], calls, indexes, ! and unary - */
#define EXPR_MAX_TEXT      65536       /* bytes in one expression string */
#define EXPR_MAX_BRANCHES  1024        /* entries in an if/then/else list */
#define COMPILE_MAX_MEMORY (64u << 20) /* nodes and literals of one compiled value */
#define EVAL_MAX_MEMORY    (16u << 20) /* scratch memory of one evaluation */
#define ARENA_CHUNK        8192        /* the smallest block an arena takes from malloc */
#define EVAL_STACK_BYTES   2048    /* scratch kept on the stack: most evaluations need no malloc */
#define MATCH_LIMIT        1000000 /* pcre2_set_match_limit: backtracking is bounded */
#define MATCH_DEPTH_LIMIT  100000  /* pcre2_set_depth_limit */
#define MATCH_HEAP_LIMIT   16384   /* pcre2_set_heap_limit, in KiB */
#define NUMBER_MAX_TEXT    64      /* digits and dot of a numeric literal */

/* ---- values ------------------------------------------------------------------------------- */

enum vkind { V_INT, V_FLOAT, V_STR, V_ARR };

/* A value during evaluation. Strings are byte ranges (not NUL-terminated); what they point to
 * lives in the compiled expression, the caller's expr_vars or the evaluation's arena. */
struct value {
	enum vkind kind;
	union {
		int64_t i;
		double f;
		struct {
			const char *p;
			size_t len;
		} s;
		struct {
			const struct value *items;
			size_t n;
		} a;
	} u;
};

static const struct value EMPTY = {V_STR, {.s = {"", 0}}};

/* ---- arena: one free for everything a compile or an evaluation allocates ------------------ */

struct chunk {
	struct chunk *next;
};

#define CHUNK_HEADER ((sizeof(struct chunk) + 15) & ~(size_t)15)

struct arena {
	struct chunk *chunks; /* malloc'd blocks, newest first */
	unsigned char *cur;   /* free space of the current block */
	size_t left;
	size_t used;  /* bytes taken from malloc so far */
	size_t limit; /* most bytes it may take */
	int failed;   /* an allocation failed or passed the limit */
};

/* ---- compiled form: a tree whose depth the parser bounds ---------------------------------- */

enum var {
	VAR_REMOTE_IP,
	VAR_REMOTE_PORT,
	VAR_LOCAL_IP,
	VAR_LOCAL_PORT,
	VAR_LISTENER,
	VAR_IS_TLS,
	VAR_AUTHENTICATED_AS,
	VAR_HELO_DOMAIN,
	VAR_SENDER,
	VAR_SENDER_DOMAIN,
	VAR_RCPT,
	VAR_RCPT_DOMAIN,
	VAR_RECIPIENTS,
	VAR_QUEUE_ID
};

static const char *const var_names[] = {
    "remote_ip", "remote_port",      "local_ip",    "local_port", "listener",
    "is_tls",    "authenticated_as", "helo_domain", "sender",     "sender_domain",
    "rcpt",      "rcpt_domain",      "recipients",  "queue_id",
};

/* Stalwart variables that only its own queue, HTTP or spam filter knows. */
static const char *const foreign_vars[] = {
    "mx",         "priority", "protocol", "retry_num", "notify_num", "expires_in", "last_status",
    "last_error", "url",      "url_path", "headers",   "method",     "asn",        "country",
};

enum fn {
	F_TRIM,
	F_TRIM_START,
	F_TRIM_END,
	F_LEN,
	F_TO_LOWERCASE,
	F_TO_UPPERCASE,
	F_IS_UPPERCASE,
	F_IS_LOWERCASE,
	F_HAS_DIGITS,
	F_COUNT_SPACES,
	F_COUNT_UPPERCASE,
	F_COUNT_LOWERCASE,
	F_COUNT_CHARS,
	F_CONTAINS,
	F_CONTAINS_IGNORE_CASE,
	F_EQ_IGNORE_CASE,
	F_STARTS_WITH,
	F_ENDS_WITH,
	F_SPLIT,
	F_COUNT,
	F_SORT,
	F_DEDUP,
	F_WINNOW,
	F_IS_INTERSECT,
	F_IS_EMAIL,
	F_EMAIL_PART,
	F_IS_EMPTY,
	F_IS_NUMBER,
	F_IS_IP_ADDR,
	F_IS_IPV4_ADDR,
	F_IS_IPV6_ADDR,
	F_IP_REVERSE_NAME,
	F_MATCHES,
	F_COUNT_OF /* not a function: the size of the table */
};

static const struct {
	const char *name;
	unsigned nargs;
} functions[F_COUNT_OF] = {
    [F_TRIM] = {"trim", 1},
    [F_TRIM_START] = {"trim_start", 1},
    [F_TRIM_END] = {"trim_end", 1},
    [F_LEN] = {"len", 1},
    [F_TO_LOWERCASE] = {"to_lowercase", 1},
    [F_TO_UPPERCASE] = {"to_uppercase", 1},
    [F_IS_UPPERCASE] = {"is_uppercase", 1},
    [F_IS_LOWERCASE] = {"is_lowercase", 1},
    [F_HAS_DIGITS] = {"has_digits", 1},
    [F_COUNT_SPACES] = {"count_spaces", 1},
    [F_COUNT_UPPERCASE] = {"count_uppercase", 1},
    [F_COUNT_LOWERCASE] = {"count_lowercase", 1},
    [F_COUNT_CHARS] = {"count_chars", 1},
    [F_CONTAINS] = {"contains", 2},
    [F_CONTAINS_IGNORE_CASE] = {"contains_ignore_case", 2},
    [F_EQ_IGNORE_CASE] = {"eq_ignore_case", 2},
    [F_STARTS_WITH] = {"starts_with", 2},
    [F_ENDS_WITH] = {"ends_with", 2},
    [F_SPLIT] = {"split", 2},
    [F_COUNT] = {"count", 1},
    [F_SORT] = {"sort", 2},
    [F_DEDUP] = {"dedup", 1},
    [F_WINNOW] = {"winnow", 1},
    [F_IS_INTERSECT] = {"is_intersect", 2},
    [F_IS_EMAIL] = {"is_email", 1},
    [F_EMAIL_PART] = {"email_part", 2},
    [F_IS_EMPTY] = {"is_empty", 1},
    [F_IS_NUMBER] = {"is_number", 1},
    [F_IS_IP_ADDR] = {"is_ip_addr", 1},
    [F_IS_IPV4_ADDR] = {"is_ipv4_addr", 1},
    [F_IS_IPV6_ADDR] = {"is_ipv6_addr", 1},
    [F_IP_REVERSE_NAME] = {"ip_reverse_name", 1},
    [F_MATCHES] = {"matches", 2},
};

/* Stalwart functions that need its directory, lookup stores or resolver. */
static const char *const store_functions[] = {
    "is_local_domain", "is_local_address", "key_get",   "key_exists", "key_set",
    "counter_incr",    "counter_get",      "dns_query", "sql_query",
};

/* Binary operators; a node of one precedence level chains operands of that level. */
enum op {
	OP_OR,
	OP_AND,
	OP_XOR,
	OP_EQ,
	OP_NE,
	OP_GT,
	OP_LT,
	OP_GE,
	OP_LE,
	OP_ADD,
	OP_SUB,
	OP_MUL,
	OP_DIV
};

#define NLEVELS 7 /* || && ^ (== !=) (> < >= <=) (+ -) (* /) */

enum nkind { N_CONST, N_VAR, N_NOT, N_NEG, N_CHAIN, N_CALL, N_ARRAY, N_INDEX };

struct node {
	enum nkind kind;
	int id;         /* enum var (N_VAR) or enum fn (N_CALL) */
	int has_var;    /* a variable is read somewhere in this subtree */
	struct value k; /* N_CONST */
	struct node **kids;
	unsigned char *ops; /* N_CHAIN: ops[i] joins kids[i] and kids[i + 1] */
	size_t nkids;
	const pcre2_code *re; /* N_CALL of matches whose pattern is a literal */
};

struct branch {
	const struct node *cond, *then;
};

struct regex_link {
	pcre2_code *code;
	struct regex_link *next;
};

struct expr {
	struct arena mem;        /* every node and literal */
	struct branch *branches; /* the if/then entries, in order; none for a plain value */
	size_t nbranches;
	const struct node *otherwise; /* the plain value, or the else; NULL: false */
	struct regex_link *regexes;   /* compiled patterns, freed with the expression */
	pcre2_match_context *mctx;    /* match limits; only read while matching, so shared */
	int constant, value;          /* what expr_is_constant reports */
};

/* ---- parser state ------------------------------------------------------------------------- */

enum tkind {
	T_END,
	T_INT,
	T_FLOAT,
	T_STR,
	T_IDENT,
	T_LPAREN,
	T_RPAREN,
	T_LBRACK,
	T_RBRACK,
	T_COMMA,
	T_NOT,
	T_OP
};

struct token {
	enum tkind kind;
	enum op op;        /* T_OP */
	size_t start, len; /* where it is in the text */
	const char *s;     /* T_STR: the bytes, escapes resolved (in the arena) */
	size_t slen;
	int64_t i; /* T_INT */
	double f;  /* T_FLOAT */
};

struct parser {
	const char *text;
	size_t len, pos;
	struct token tok;
	struct expr *e;
	struct expr_error *err;
	unsigned depth;
	int failed;
};

/* ---- evaluation state --------------------------------------------------------------------- */

struct evalctx {
	const struct expr *e;
	const struct expr_vars *vars;
	struct arena *mem;
};

static const struct expr_vars no_vars = {.remote_port = -1, .local_port = -1};

/* ---- prototypes --------------------------------------------------------------------------- */

static void *arena_alloc(struct arena *a, size_t n);
static void arena_free(struct arena *a);
static void set_error(struct expr_error *err, unsigned column, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void perror_at(struct parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void quote_text(char *out, size_t size, const char *s, size_t len);
static int is_ident_start(int c);
static int is_ident_char(int c);
static int is_digit(int c);
static void lex(struct parser *p);
static void lex_number(struct parser *p);
static void lex_string(struct parser *p);
static struct node *new_node(struct parser *p, enum nkind kind, size_t nkids);
static int enter(struct parser *p, size_t at);
static struct node *parse_expr(struct parser *p);
static struct node *parse_level(struct parser *p, int level);
static struct node *parse_unary(struct parser *p);
static struct node *parse_postfix(struct parser *p);
static struct node *parse_primary(struct parser *p);
static struct node *parse_ident(struct parser *p);
static struct node *parse_call(struct parser *p, size_t name_at, size_t name_len);
static int parse_list(struct parser *p, enum tkind close, size_t open_at, struct node ***kids,
                      size_t *nkids);
static int compile_regex(struct parser *p, struct node *call, size_t at);
static int op_level(enum op op);
static struct expr *expr_new(void);
static const struct node *compile_into(struct expr *e, const char *text, struct expr_error *err);
static const struct node *compile_json_value(struct expr *e, const struct json_object *v,
                                             const char *where, struct expr_error *err);
static int node_constant(const struct expr *e, const struct node *n, int *value);
static void decide_constant(struct expr *e);

static struct value mk_int(int64_t i);
static struct value mk_float(double f);
static struct value mk_str(const char *p, size_t len);
static struct value mk_arr(const struct value *items, size_t n);
static int to_bool(struct value v);
static int is_empty_str(struct value v);
static struct value stringify(struct evalctx *c, struct value v);
static size_t format_double(char *out, size_t size, double f);
static struct value parse_number(struct value v);
static int parse_int64(const char *s, size_t len, int64_t *out);
static int parse_float(const char *s, size_t len, double *out);
static int val_eq(struct value a, struct value b);
static int val_cmp(struct value a, struct value b);
static const struct value *into_array(struct value v, struct value *one, size_t *n);
static struct value *new_items(struct evalctx *c, size_t n);
static struct value eval(struct evalctx *c, const struct node *n);
static struct value eval_chain(struct evalctx *c, const struct node *n);
static struct value binop(struct evalctx *c, enum op op, struct value l, struct value r);
static struct value op_add(struct evalctx *c, struct value l, struct value r);
static struct value op_sub(struct evalctx *c, struct value l, struct value r);
static struct value op_mul(struct value l, struct value r);
static struct value op_div(struct value l, struct value r);
static struct value negate(struct value v);
static struct value concat(struct evalctx *c, struct value a, struct value b);
static struct value variable(struct evalctx *c, int id);
static struct value lower_address(struct evalctx *c, const char *s, int domain_only);
static struct value eval_call(struct evalctx *c, const struct node *n);
static struct value index_value(struct value arr, struct value idx);
static int run_regex(struct evalctx *c, const pcre2_code *re, struct value subject);
static int parse_ip(struct value s, unsigned char addr[16], int *family);

/* ---- arena -------------------------------------------------------------------------------- */

/* arena_alloc - n bytes aligned to 16, NULL (and failed set) past the limit or out of memory */
static void *arena_alloc(struct arena *a, size_t n)
{
	size_t need, size;
	struct chunk *c;
	void *p;

	if (a->failed)
		return NULL;
	if (n > SIZE_MAX - 16)
		goto fail;
	need = (n + 15) & ~(size_t)15;
	if (need == 0)
		need = 16;
	if (need > a->left) {
		size = need > ARENA_CHUNK ? need : ARENA_CHUNK;
		if (a->used > a->limit || size > a->limit - a->used)
			goto fail;
		c = malloc(CHUNK_HEADER + size);
		if (c == NULL)
			goto fail;
		c->next = a->chunks;
		a->chunks = c;
		a->used += size;
		a->cur = (unsigned char *)c + CHUNK_HEADER;
		a->left = size;
	}
	p = a->cur;
	a->cur += need;
	a->left -= need;
	return p;
fail:
	a->failed = 1;
	return NULL;
}

/* arena_free - give back every block */
static void arena_free(struct arena *a)
{
	struct chunk *c, *next;

	for (c = a->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->chunks = NULL;
	a->cur = NULL;
	a->left = 0;
	a->used = 0;
}

/* ---- errors ------------------------------------------------------------------------------- */

/* set_error - fill err (msg cut to its size) */
static void set_error(struct expr_error *err, unsigned column, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->column = column;
}

/* perror_at - the first error of a parse, at byte offset at of the text */
static void perror_at(struct parser *p, size_t at, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	/* The text is at most EXPR_MAX_TEXT bytes, so the column fits. */
	p->err->column = (unsigned)at + 1;
}

/* quote_text - a short printable rendering of len bytes of s, for a message */
static void quote_text(char *out, size_t size, const char *s, size_t len)
{
	size_t i, n = 0, max = 24;

	for (i = 0; i < len && i < max && n + 4 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (i < len && n + 4 < size) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* ---- lexer -------------------------------------------------------------------------------- */

/* is_ident_start - a letter, '_' or '$' (Stalwart's first identifier characters) */
static int is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

/* is_ident_char - what may follow in an identifier or a number, as Stalwart reads them */
static int is_ident_char(int c)
{
	return is_ident_start(c) || is_digit(c) || c == '.';
}

/* is_digit - an ASCII digit */
static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* lex - read the next token into p->tok (T_END at the end or after an error) */
static void lex(struct parser *p)
{
	const char *t = p->text;
	struct token *tok = &p->tok;
	unsigned char c;

	memset(tok, 0, sizeof(*tok));
	while (p->pos < p->len &&
	       (t[p->pos] == ' ' || t[p->pos] == '\t' || t[p->pos] == '\r' || t[p->pos] == '\n'))
		p->pos++;
	tok->start = p->pos;
	if (p->failed || p->pos >= p->len) {
		tok->kind = T_END;
		return;
	}
	c = (unsigned char)t[p->pos];
	if (is_ident_start(c)) {
		while (p->pos < p->len && is_ident_char((unsigned char)t[p->pos]))
			p->pos++;
		tok->kind = T_IDENT;
		tok->len = p->pos - tok->start;
		return;
	}
	if (is_digit(c) ||
	    (c == '.' && p->pos + 1 < p->len && is_digit((unsigned char)t[p->pos + 1]))) {
		lex_number(p);
		return;
	}
	if (c == '\'' || c == '"') {
		lex_string(p);
		return;
	}
	p->pos++;
	tok->len = 1;
	tok->kind = T_OP;
	switch (c) {
	case '(':
		tok->kind = T_LPAREN;
		break;
	case ')':
		tok->kind = T_RPAREN;
		break;
	case '[':
		tok->kind = T_LBRACK;
		break;
	case ']':
		tok->kind = T_RBRACK;
		break;
	case ',':
		tok->kind = T_COMMA;
		break;
	case '+':
		tok->op = OP_ADD;
		break;
	case '-':
		tok->op = OP_SUB; /* or unary minus: the parser knows which */
		break;
	case '*':
		tok->op = OP_MUL;
		break;
	case '/':
		tok->op = OP_DIV;
		break;
	case '^':
		tok->op = OP_XOR;
		break;
	case '&':
	case '|':
		/* "&&" and "&" are the same operator in Stalwart, as are "||" and "|". */
		tok->op = c == '&' ? OP_AND : OP_OR;
		if (p->pos < p->len && (unsigned char)t[p->pos] == c)
			p->pos++;
		break;
	case '!':
		if (p->pos < p->len && t[p->pos] == '=') {
			p->pos++;
			tok->op = OP_NE;
		} else {
			tok->kind = T_NOT;
		}
		break;
	case '=':
		/* "==" and "=" mean equal; "=>" and "=<" are spellings of >= and <=. */
		tok->op = OP_EQ;
		if (p->pos < p->len && t[p->pos] == '=') {
			p->pos++;
		} else if (p->pos < p->len && t[p->pos] == '>') {
			p->pos++;
			tok->op = OP_GE;
		} else if (p->pos < p->len && t[p->pos] == '<') {
			p->pos++;
			tok->op = OP_LE;
		}
		break;
	case '>':
	case '<':
		tok->op = c == '>' ? OP_GT : OP_LT;
		if (p->pos < p->len && t[p->pos] == '=') {
			p->pos++;
			tok->op = c == '>' ? OP_GE : OP_LE;
		}
		break;
	default:
		if (c >= 0x20 && c < 0x7f)
			perror_at(p, tok->start, "unexpected character '%c'", c);
		else
			perror_at(p, tok->start, "unexpected byte 0x%02x", c);
		tok->kind = T_END;
		return;
	}
	tok->len = p->pos - tok->start;
}

/* lex_number - an integer (int64) or a float (digits with one dot); no signs, no exponents */
static void lex_number(struct parser *p)
{
	struct token *tok = &p->tok;
	const char *s = p->text + tok->start;
	char q[40];
	size_t i, len, dots = 0;
	int alpha = 0;

	while (p->pos < p->len && is_ident_char((unsigned char)p->text[p->pos]))
		p->pos++;
	len = p->pos - tok->start;
	tok->len = len;
	for (i = 0; i < len; i++) {
		if (s[i] == '.')
			dots++;
		else if (!is_digit((unsigned char)s[i]))
			alpha = 1;
	}
	quote_text(q, sizeof(q), s, len);
	if (alpha || dots > 1 || len > NUMBER_MAX_TEXT) {
		perror_at(p, tok->start, "invalid number '%s'", q);
		tok->kind = T_END;
		return;
	}
	if (dots == 1) {
		tok->kind = T_FLOAT;
		if (parse_float(s, len, &tok->f) < 0) {
			perror_at(p, tok->start, "invalid number '%s'", q);
			tok->kind = T_END;
		}
		return;
	}
	tok->kind = T_INT;
	if (parse_int64(s, len, &tok->i) < 0) {
		perror_at(p, tok->start, "number out of range '%s'", q);
		tok->kind = T_END;
	}
}

/* lex_string - a quoted string; \\ \' \" \n \r \t are escapes, another \x stays as written */
static void lex_string(struct parser *p)
{
	struct token *tok = &p->tok;
	const char *t = p->text;
	char quote = t[p->pos];
	size_t i, end, n = 0;
	char *out;

	/* First find the closing quote, so the copy is allocated once. */
	for (end = p->pos + 1; end < p->len && t[end] != quote; end++) {
		if (t[end] == '\\')
			end++;
	}
	if (end >= p->len) {
		perror_at(p, tok->start, "unterminated string");
		tok->kind = T_END;
		return;
	}
	out = arena_alloc(&p->e->mem, end - p->pos);
	if (out == NULL) {
		perror_at(p, tok->start, "out of memory");
		p->err->column = 0;
		tok->kind = T_END;
		return;
	}
	for (i = p->pos + 1; i < end; i++) {
		if (t[i] != '\\') {
			out[n++] = t[i];
			continue;
		}
		i++;
		switch (t[i]) {
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case '\\':
		case '\'':
		case '"':
			out[n++] = t[i];
			break;
		default:
			/* Kept whole, so a pattern like '\d+' means what it says. */
			out[n++] = '\\';
			out[n++] = t[i];
			break;
		}
	}
	p->pos = end + 1;
	tok->kind = T_STR;
	tok->len = p->pos - tok->start;
	tok->s = out;
	tok->slen = n;
}

/* ---- parser ------------------------------------------------------------------------------- */

/* new_node - a zeroed node with room for nkids children */
static struct node *new_node(struct parser *p, enum nkind kind, size_t nkids)
{
	struct node *n = arena_alloc(&p->e->mem, sizeof(*n));

	if (n != NULL) {
		memset(n, 0, sizeof(*n));
		n->kind = kind;
		n->nkids = nkids;
		/* nkids is 0, 1 or 2 here: no overflow in the size. */
		if (nkids > 0)
			n->kids = arena_alloc(&p->e->mem, nkids * sizeof(*n->kids));
	}
	if (n == NULL || (nkids > 0 && n->kids == NULL)) {
		perror_at(p, 0, "out of memory");
		p->err->column = 0;
		return NULL;
	}
	return n;
}

/* enter - one level deeper; an error past EXPR_MAX_DEPTH (the parser recurses per level) */
static int enter(struct parser *p, size_t at)
{
	if (p->depth >= EXPR_MAX_DEPTH) {
		perror_at(p, at, "nesting deeper than %d levels", EXPR_MAX_DEPTH);
		return -1;
	}
	p->depth++;
	return 0;
}

/* op_level - precedence level of a binary operator, 0 the loosest */
static int op_level(enum op op)
{
	switch (op) {
	case OP_OR:
		return 0;
	case OP_AND:
		return 1;
	case OP_XOR:
		return 2;
	case OP_EQ:
	case OP_NE:
		return 3;
	case OP_GT:
	case OP_LT:
	case OP_GE:
	case OP_LE:
		return 4;
	case OP_ADD:
	case OP_SUB:
		return 5;
	case OP_MUL:
	case OP_DIV:
		return 6;
	}
	return 0;
}

/* parse_expr - a whole expression: the loosest level */
static struct node *parse_expr(struct parser *p)
{
	return parse_level(p, 0);
}

/* parse_level - operands of the next tighter level joined by this level's operators, left to
 * right; one flat node per run, so a long a || b || c ... does not deepen the tree */
static struct node *parse_level(struct parser *p, int level)
{
	struct node *first, *n, *k;
	struct node **kids = NULL, **nk;
	unsigned char *ops = NULL, *no;
	size_t count = 1, cap = 0;

	if (level == NLEVELS)
		return parse_unary(p);
	first = parse_level(p, level + 1);
	if (first == NULL)
		return NULL;
	if (p->tok.kind != T_OP || op_level(p->tok.op) != level)
		return first;
	while (p->tok.kind == T_OP && op_level(p->tok.op) == level) {
		enum op op = p->tok.op;

		lex(p);
		k = parse_level(p, level + 1);
		if (k == NULL)
			return NULL;
		if (count == cap || kids == NULL) {
			/* Grown in the arena: the old arrays are left there, at most as much again.
			 */
			size_t ncap = cap ? cap * 2 : 4;

			nk = arena_alloc(&p->e->mem, ncap * sizeof(*nk));
			no = arena_alloc(&p->e->mem, ncap);
			if (nk == NULL || no == NULL) {
				perror_at(p, 0, "out of memory");
				p->err->column = 0;
				return NULL;
			}
			if (kids != NULL) {
				memcpy(nk, kids, count * sizeof(*nk));
				memcpy(no, ops, count);
			} else {
				nk[0] = first;
			}
			kids = nk;
			ops = no;
			cap = ncap;
		}
		ops[count - 1] = (unsigned char)op;
		kids[count++] = k;
	}
	n = new_node(p, N_CHAIN, 0);
	if (n == NULL)
		return NULL;
	n->kids = kids;
	n->ops = ops;
	n->nkids = count;
	for (size_t i = 0; i < count; i++)
		n->has_var |= kids[i]->has_var;
	return n;
}

/* parse_unary - ! and unary -, which bind tighter than any binary operator */
static struct node *parse_unary(struct parser *p)
{
	struct node *n, *k;
	enum nkind kind;

	if (p->tok.kind == T_NOT)
		kind = N_NOT;
	else if (p->tok.kind == T_OP && p->tok.op == OP_SUB)
		kind = N_NEG;
	else
		return parse_postfix(p);
	if (enter(p, p->tok.start) < 0)
		return NULL;
	lex(p);
	k = parse_unary(p);
	p->depth--;
	if (k == NULL)
		return NULL;
	n = new_node(p, kind, 1);
	if (n == NULL)
		return NULL;
	n->kids[0] = k;
	n->has_var = k->has_var;
	return n;
}

/* parse_postfix - a primary followed by any number of [index] */
static struct node *parse_postfix(struct parser *p)
{
	struct node *n = parse_primary(p), *idx, *x;
	size_t open;

	while (n != NULL && p->tok.kind == T_LBRACK) {
		open = p->tok.start;
		if (enter(p, open) < 0)
			return NULL;
		lex(p);
		idx = parse_expr(p);
		if (idx == NULL)
			return NULL;
		if (p->tok.kind != T_RBRACK) {
			char q[40];

			quote_text(q, sizeof(q), p->text + p->tok.start, p->tok.len);
			if (p->tok.kind == T_END)
				perror_at(p, open, "unclosed '['");
			else
				perror_at(p, p->tok.start, "unexpected '%s'", q);
			return NULL;
		}
		p->depth--;
		lex(p);
		x = new_node(p, N_INDEX, 2);
		if (x == NULL)
			return NULL;
		x->kids[0] = n;
		x->kids[1] = idx;
		x->has_var = n->has_var || idx->has_var;
		n = x;
	}
	return n;
}

/* parse_list - expressions separated by commas up to close (the opening token is read);
 * the kids are kept in the arena */
static int parse_list(struct parser *p, enum tkind close, size_t open_at, struct node ***kids,
                      size_t *nkids)
{
	struct node **v = NULL, **nv;
	size_t n = 0, cap = 0;
	struct node *k;
	char q[40];

	*kids = NULL;
	*nkids = 0;
	if (p->tok.kind == close) {
		lex(p);
		return 0;
	}
	for (;;) {
		k = parse_expr(p);
		if (k == NULL)
			return -1;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4;

			nv = arena_alloc(&p->e->mem, ncap * sizeof(*nv));
			if (nv == NULL) {
				perror_at(p, 0, "out of memory");
				p->err->column = 0;
				return -1;
			}
			if (n > 0)
				memcpy(nv, v, n * sizeof(*nv));
			v = nv;
			cap = ncap;
		}
		v[n++] = k;
		if (p->tok.kind == T_COMMA) {
			lex(p);
			continue;
		}
		if (p->tok.kind == close)
			break;
		quote_text(q, sizeof(q), p->text + p->tok.start, p->tok.len);
		if (p->tok.kind == T_END)
			perror_at(p, open_at, "unclosed '%c'", close == T_RPAREN ? '(' : '[');
		else
			perror_at(p, p->tok.start, "unexpected '%s'", q);
		return -1;
	}
	lex(p);
	*kids = v;
	*nkids = n;
	return 0;
}

/* parse_primary - a literal, a variable, a call, an array or a parenthesised expression */
static struct node *parse_primary(struct parser *p)
{
	struct token t = p->tok;
	struct node *n;
	char q[40];

	switch (t.kind) {
	case T_INT:
	case T_FLOAT:
	case T_STR:
		n = new_node(p, N_CONST, 0);
		if (n == NULL)
			return NULL;
		if (t.kind == T_INT)
			n->k = mk_int(t.i);
		else if (t.kind == T_FLOAT)
			n->k = mk_float(t.f);
		else
			n->k = mk_str(t.s, t.slen);
		lex(p);
		return n;
	case T_LPAREN:
		if (enter(p, t.start) < 0)
			return NULL;
		lex(p);
		n = parse_expr(p);
		if (n == NULL)
			return NULL;
		if (p->tok.kind != T_RPAREN) {
			quote_text(q, sizeof(q), p->text + p->tok.start, p->tok.len);
			if (p->tok.kind == T_END)
				perror_at(p, t.start, "unclosed '('");
			else
				perror_at(p, p->tok.start, "unexpected '%s'", q);
			return NULL;
		}
		p->depth--;
		lex(p);
		return n;
	case T_LBRACK: {
		struct node **kids;
		size_t nkids;

		if (enter(p, t.start) < 0)
			return NULL;
		lex(p);
		if (parse_list(p, T_RBRACK, t.start, &kids, &nkids) < 0)
			return NULL;
		p->depth--;
		n = new_node(p, N_ARRAY, 0);
		if (n == NULL)
			return NULL;
		n->kids = kids;
		n->nkids = nkids;
		for (size_t i = 0; i < nkids; i++)
			n->has_var |= kids[i]->has_var;
		return n;
	}
	case T_IDENT:
		return parse_ident(p);
	case T_RPAREN:
		perror_at(p, t.start, "unmatched ')'");
		return NULL;
	case T_END:
		if (!p->failed)
			perror_at(p, p->len, "unexpected end of expression");
		return NULL;
	default:
		quote_text(q, sizeof(q), p->text + t.start, t.len);
		perror_at(p, t.start, "unexpected '%s'", q);
		return NULL;
	}
}

/* parse_ident - true, false, a variable, or a function call when '(' follows */
static struct node *parse_ident(struct parser *p)
{
	size_t at = p->tok.start, len = p->tok.len, i;
	const char *name = p->text + at;
	struct node *n;
	char q[40];

	lex(p);
	if (p->tok.kind == T_LPAREN)
		return parse_call(p, at, len);
	if ((len == 4 && memcmp(name, "true", 4) == 0) ||
	    (len == 5 && memcmp(name, "false", 5) == 0)) {
		n = new_node(p, N_CONST, 0);
		if (n != NULL)
			n->k = mk_int(len == 4);
		return n;
	}
	quote_text(q, sizeof(q), name, len);
	for (i = 0; i < sizeof(var_names) / sizeof(var_names[0]); i++) {
		if (strlen(var_names[i]) == len && memcmp(var_names[i], name, len) == 0) {
			n = new_node(p, N_VAR, 0);
			if (n == NULL)
				return NULL;
			n->id = (int)i;
			n->has_var = 1;
			return n;
		}
	}
	for (i = 0; i < sizeof(foreign_vars) / sizeof(foreign_vars[0]); i++) {
		if (strlen(foreign_vars[i]) == len && memcmp(foreign_vars[i], name, len) == 0) {
			perror_at(p, at, "variable '%s' is not known to a milter", q);
			return NULL;
		}
	}
	perror_at(p, at, "unknown variable '%s'", q);
	return NULL;
}

/* parse_call - name(args...), with the number of arguments checked */
static struct node *parse_call(struct parser *p, size_t name_at, size_t name_len)
{
	const char *name = p->text + name_at;
	size_t open = p->tok.start, i, nkids;
	struct node **kids, *n;
	int id = -1;
	char q[40];

	quote_text(q, sizeof(q), name, name_len);
	for (i = 0; i < F_COUNT_OF; i++) {
		if (strlen(functions[i].name) == name_len &&
		    memcmp(functions[i].name, name, name_len) == 0) {
			id = (int)i;
			break;
		}
	}
	if (id < 0) {
		for (i = 0; i < sizeof(store_functions) / sizeof(store_functions[0]); i++) {
			if (strlen(store_functions[i]) == name_len &&
			    memcmp(store_functions[i], name, name_len) == 0) {
				perror_at(
				    p, name_at,
				    "function '%s' needs a Stalwart store and is not available "
				    "here",
				    q);
				return NULL;
			}
		}
		perror_at(p, name_at, "unknown function '%s'", q);
		return NULL;
	}
	if (enter(p, name_at) < 0)
		return NULL;
	lex(p);
	if (parse_list(p, T_RPAREN, open, &kids, &nkids) < 0)
		return NULL;
	p->depth--;
	if (nkids != functions[id].nargs) {
		perror_at(p, name_at, "function '%s' takes %u argument%s, not %zu", q,
		          functions[id].nargs, functions[id].nargs == 1 ? "" : "s", nkids);
		return NULL;
	}
	n = new_node(p, N_CALL, 0);
	if (n == NULL)
		return NULL;
	n->id = id;
	n->kids = kids;
	n->nkids = nkids;
	for (i = 0; i < nkids; i++)
		n->has_var |= kids[i]->has_var;
	if (id == F_MATCHES && kids[0]->kind == N_CONST && kids[0]->k.kind == V_STR &&
	    compile_regex(p, n, open + 1) < 0)
		return NULL;
	return n;
}

/* compile_regex - compile matches()'s literal pattern once, at load */
static int compile_regex(struct parser *p, struct node *call, size_t at)
{
	const struct value *pat = &call->kids[0]->k;
	struct regex_link *link;
	PCRE2_UCHAR msg[120];
	PCRE2_SIZE offset;
	pcre2_code *re;
	int code;

	/* The column is the pattern's: skip the blanks between '(' and its quote. */
	while (at < p->len && p->text[at] != '\'' && p->text[at] != '"')
		at++;
	re = pcre2_compile((PCRE2_SPTR)pat->u.s.p, pat->u.s.len,
	                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &offset, NULL);
	if (re == NULL) {
		if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
			strcpy((char *)msg, "unknown error");
		perror_at(p, at, "invalid regular expression: %s (at offset %zu of the pattern)",
		          (const char *)msg, (size_t)offset);
		return -1;
	}
	link = arena_alloc(&p->e->mem, sizeof(*link));
	if (link == NULL) {
		pcre2_code_free(re);
		perror_at(p, 0, "out of memory");
		p->err->column = 0;
		return -1;
	}
	link->code = re;
	link->next = p->e->regexes;
	p->e->regexes = link;
	call->re = re;
	return 0;
}

/* ---- compiling whole values --------------------------------------------------------------- */

/* expr_new - an empty expression with its match limits */
static struct expr *expr_new(void)
{
	struct expr *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->mem.limit = COMPILE_MAX_MEMORY;
	e->mctx = pcre2_match_context_create(NULL);
	if (e->mctx == NULL) {
		free(e);
		return NULL;
	}
	pcre2_set_match_limit(e->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(e->mctx, MATCH_DEPTH_LIMIT);
	pcre2_set_heap_limit(e->mctx, MATCH_HEAP_LIMIT);
	return e;
}

/* compile_into - parse one expression string into a tree kept in e; NULL and err on error */
static const struct node *compile_into(struct expr *e, const char *text, struct expr_error *err)
{
	struct parser p;
	struct node *n;
	size_t len;

	if (text == NULL) {
		set_error(err, 0, "empty expression");
		return NULL;
	}
	len = strnlen(text, EXPR_MAX_TEXT + 1);
	if (len > EXPR_MAX_TEXT) {
		set_error(err, 0, "expression longer than %d bytes", EXPR_MAX_TEXT);
		return NULL;
	}
	memset(&p, 0, sizeof(p));
	p.text = text;
	p.len = len;
	p.e = e;
	p.err = err;
	lex(&p);
	if (p.tok.kind == T_END && !p.failed) {
		set_error(err, 1, "empty expression");
		return NULL;
	}
	n = parse_expr(&p);
	if (n != NULL && p.tok.kind != T_END) {
		char q[40];

		quote_text(q, sizeof(q), text + p.tok.start, p.tok.len);
		if (p.tok.kind == T_RPAREN)
			perror_at(&p, p.tok.start, "unmatched ')'");
		else
			perror_at(&p, p.tok.start, "unexpected '%s'", q);
		n = NULL;
	}
	if (p.failed || n == NULL)
		return NULL;
	return n;
}

/* compile_json_value - a boolean, a number or an expression string */
static const struct node *compile_json_value(struct expr *e, const struct json_object *v,
                                             const char *where, struct expr_error *err)
{
	struct node *n;
	const char *s;

	snprintf(err->where, sizeof(err->where), "%s", where);
	switch (json_object_get_type(v)) {
	case json_type_boolean:
	case json_type_int:
	case json_type_double:
		n = arena_alloc(&e->mem, sizeof(*n));
		if (n == NULL) {
			set_error(err, 0, "out of memory");
			return NULL;
		}
		memset(n, 0, sizeof(*n));
		n->kind = N_CONST;
		if (json_object_is_type(v, json_type_boolean))
			n->k = mk_int(json_object_get_boolean(v) ? 1 : 0);
		else if (json_object_is_type(v, json_type_int))
			n->k = mk_int(json_object_get_int64(v));
		else
			n->k = mk_float(json_object_get_double(v));
		return n;
	case json_type_string:
		/* json-c's getter is not const-qualified but only reads a string object. */
		s = json_object_get_string((struct json_object *)(uintptr_t)v);
		if (strlen(s) != (size_t)json_object_get_string_len(v)) {
			set_error(err, 0, "a NUL character is not allowed in an expression");
			return NULL;
		}
		return compile_into(e, s, err);
	default:
		set_error(err, 0, "expected a boolean, a number or an expression string");
		return NULL;
	}
}

/* node_constant - 1 and *value when n reads no variable; evaluated with nothing known */
static int node_constant(const struct expr *e, const struct node *n, int *value)
{
	_Alignas(16) unsigned char stack[EVAL_STACK_BYTES];
	struct arena mem = {NULL, stack, sizeof(stack), 0, EVAL_MAX_MEMORY, 0};
	struct evalctx c = {e, &no_vars, &mem};
	struct value v;

	if (n == NULL) {
		*value = 0;
		return 1;
	}
	if (n->has_var)
		return 0;
	v = eval(&c, n);
	*value = to_bool(v);
	arena_free(&mem);
	return !mem.failed;
}

/* decide_constant - constant when every outcome that can be reached is the same constant */
static void decide_constant(struct expr *e)
{
	int seen = 0, value = 0, v;
	size_t i;

	e->constant = 0;
	for (i = 0; i < e->nbranches; i++) {
		int cond;

		if (node_constant(e, e->branches[i].cond, &cond)) {
			if (!cond)
				continue; /* never taken */
			if (!node_constant(e, e->branches[i].then, &v) || (seen && v != value))
				return;
			e->constant = 1;
			e->value = v;
			return;
		}
		if (!node_constant(e, e->branches[i].then, &v) || (seen && v != value))
			return;
		seen = 1;
		value = v;
	}
	if (!node_constant(e, e->otherwise, &v) || (seen && v != value))
		return;
	e->constant = 1;
	e->value = v;
}

/* expr_compile - compile one expression string */
struct expr *expr_compile(const char *text, struct expr_error *err)
{
	struct expr_error dummy;
	struct expr *e;

	if (err == NULL)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	e = expr_new();
	if (e == NULL) {
		set_error(err, 0, "out of memory");
		return NULL;
	}
	e->otherwise = compile_into(e, text, err);
	if (e->otherwise == NULL) {
		expr_free(e);
		return NULL;
	}
	decide_constant(e);
	return e;
}

/* expr_compile_json - compile an `enable` value: bool, number, string or if/then/else list */
struct expr *expr_compile_json(const struct json_object *value, struct expr_error *err)
{
	struct expr_error dummy;
	struct json_object *item;
	struct expr *e;
	size_t n, i;
	char where[48];

	if (err == NULL)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	e = expr_new();
	if (e == NULL) {
		set_error(err, 0, "out of memory");
		return NULL;
	}
	if (!json_object_is_type(value, json_type_array)) {
		if (value == NULL || json_object_is_type(value, json_type_object)) {
			set_error(err, 0,
			          "expected a boolean, a number, an expression string or an "
			          "if/then/else list");
			goto fail;
		}
		e->otherwise = compile_json_value(e, value, "", err);
		if (e->otherwise == NULL)
			goto fail;
		decide_constant(e);
		return e;
	}

	n = json_object_array_length(value);
	if (n == 0) {
		set_error(err, 0, "an if/then/else list must not be empty");
		goto fail;
	}
	if (n > EXPR_MAX_BRANCHES) {
		set_error(err, 0, "an if/then/else list holds at most %d entries",
		          EXPR_MAX_BRANCHES);
		goto fail;
	}
	e->branches = arena_alloc(&e->mem, n * sizeof(*e->branches));
	if (e->branches == NULL) {
		set_error(err, 0, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		struct json_object *cond = NULL, *then = NULL, *otherwise = NULL;
		struct json_object_iterator it, end;
		struct json_object *obj;

		item = json_object_array_get_idx(value, i);
		snprintf(where, sizeof(where), "[%zu]", i + 1);
		if (!json_object_is_type(item, json_type_object)) {
			snprintf(err->where, sizeof(err->where), "%s", where);
			set_error(err, 0,
			          "expected a table: { if = ..., then = ... } or { else = ... }");
			goto fail;
		}
		obj = item;
		it = json_object_iter_begin(obj);
		end = json_object_iter_end(obj);
		for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
			const char *k = json_object_iter_peek_name(&it);
			struct json_object *v = json_object_iter_peek_value(&it);

			if (strcmp(k, "if") == 0) {
				cond = v;
			} else if (strcmp(k, "then") == 0) {
				then = v;
			} else if (strcmp(k, "else") == 0) {
				otherwise = v;
			} else {
				char key[40];

				quote_text(key, sizeof(key), k, strlen(k));
				snprintf(err->where, sizeof(err->where), "%s", where);
				set_error(err, 0, "unknown key '%s' (expected if, then or else)",
				          key);
				goto fail;
			}
		}
		snprintf(err->where, sizeof(err->where), "%s", where);
		if (otherwise != NULL) {
			if (cond != NULL || then != NULL) {
				set_error(err, 0, "else stands alone: { else = ... }");
				goto fail;
			}
			if (i + 1 != n) {
				snprintf(err->where, sizeof(err->where), "[%zu].else", i + 1);
				set_error(err, 0, "else must be the last entry");
				goto fail;
			}
			snprintf(where, sizeof(where), "[%zu].else", i + 1);
			e->otherwise = compile_json_value(e, otherwise, where, err);
			if (e->otherwise == NULL)
				goto fail;
			continue;
		}
		if (cond == NULL) {
			set_error(err, 0, "%s", then ? "then without if" : "an empty table");
			goto fail;
		}
		if (then == NULL) {
			set_error(err, 0, "if without then");
			goto fail;
		}
		snprintf(where, sizeof(where), "[%zu].if", i + 1);
		e->branches[e->nbranches].cond = compile_json_value(e, cond, where, err);
		if (e->branches[e->nbranches].cond == NULL)
			goto fail;
		snprintf(where, sizeof(where), "[%zu].then", i + 1);
		e->branches[e->nbranches].then = compile_json_value(e, then, where, err);
		if (e->branches[e->nbranches].then == NULL)
			goto fail;
		e->nbranches++;
	}
	memset(err, 0, sizeof(*err));
	decide_constant(e);
	return e;
fail:
	if (e->mem.failed) {
		set_error(err, 0, "out of memory");
		err->where[0] = '\0';
	}
	expr_free(e);
	return NULL;
}

/* expr_is_constant - 1 and *value when the result depends on no variable */
int expr_is_constant(const struct expr *e, int *value)
{
	if (e == NULL || !e->constant)
		return 0;
	if (value != NULL)
		*value = e->value;
	return 1;
}

/* expr_free - free a compiled expression; NULL is ignored */
void expr_free(struct expr *e)
{
	struct regex_link *r;

	if (e == NULL)
		return;
	for (r = e->regexes; r != NULL; r = r->next)
		pcre2_code_free(r->code);
	pcre2_match_context_free(e->mctx);
	arena_free(&e->mem);
	free(e);
}

/* expr_eval - 1 when the expression is true for vars, else 0 */
int expr_eval(const struct expr *e, const struct expr_vars *vars)
{
	_Alignas(16) unsigned char stack[EVAL_STACK_BYTES];
	struct arena mem = {NULL, stack, sizeof(stack), 0, EVAL_MAX_MEMORY, 0};
	struct evalctx c;
	const struct node *result = NULL;
	int ok, chosen = 0;
	size_t i;

	if (e == NULL)
		return 0;
	c.e = e;
	c.vars = vars != NULL ? vars : &no_vars;
	c.mem = &mem;
	for (i = 0; i < e->nbranches && !mem.failed; i++) {
		if (to_bool(eval(&c, e->branches[i].cond))) {
			result = e->branches[i].then;
			chosen = 1;
			break;
		}
	}
	if (!chosen)
		result = e->otherwise;
	ok = result != NULL && !mem.failed && to_bool(eval(&c, result));
	/* Out of scratch memory the answer is not known: the hook is not called. */
	if (mem.failed)
		ok = 0;
	arena_free(&mem);
	return ok;
}

/* ---- values ------------------------------------------------------------------------------- */

/* mk_int - an integer value */
static struct value mk_int(int64_t i)
{
	struct value v = {V_INT, {.i = i}};

	return v;
}

/* mk_float - a float value */
static struct value mk_float(double f)
{
	struct value v = {V_FLOAT, {.f = f}};

	return v;
}

/* mk_str - a string value over len bytes at p (not copied) */
static struct value mk_str(const char *p, size_t len)
{
	struct value v = {V_STR, {.s = {p, len}}};

	return v;
}

/* mk_arr - an array value over n items (not copied) */
static struct value mk_arr(const struct value *items, size_t n)
{
	struct value v = {V_ARR, {.a = {items, n}}};

	return v;
}

/* to_bool - false, 0, 0.0, "" and [] are false */
static int to_bool(struct value v)
{
	switch (v.kind) {
	case V_INT:
		return v.u.i != 0;
	case V_FLOAT:
		return v.u.f != 0.0;
	case V_STR:
		return v.u.s.len != 0;
	case V_ARR:
		return v.u.a.n != 0;
	}
	return 0;
}

/* is_empty_str - Stalwart's "is empty": only the empty string is */
static int is_empty_str(struct value v)
{
	return v.kind == V_STR && v.u.s.len == 0;
}

/* new_items - room for n array items in the scratch arena */
static struct value *new_items(struct evalctx *c, size_t n)
{
	if (n > SIZE_MAX / sizeof(struct value)) {
		c->mem->failed = 1;
		return NULL;
	}
	return arena_alloc(c->mem, n * sizeof(struct value));
}

/* format_double - a float as Stalwart prints one: shortest exact digits, no exponent */
static size_t format_double(char *out, size_t size, double f)
{
	char e[48], digits[24];
	int prec, exp10, nd = 0, i, neg;
	size_t pos = 0;
	const char *s;

	if (isnan(f))
		return (size_t)snprintf(out, size, "NaN");
	if (isinf(f))
		return (size_t)snprintf(out, size, "%s", f < 0 ? "-inf" : "inf");
	/* The fewest significant digits that read back as the same double. */
	for (prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, f);
		if (strtod(e, NULL) == f)
			break;
	}
	s = e;
	neg = *s == '-';
	if (neg)
		s++;
	for (; *s != '\0' && *s != 'e' && nd < (int)sizeof(digits); s++) {
		if (is_digit((unsigned char)*s))
			digits[nd++] = *s;
	}
	exp10 = *s == 'e' ? atoi(s + 1) : 0;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	/* At most 309 integer digits or "0." and 323 zeros and 17 digits: size is 400. */
	if (size < 400)
		return 0;
	if (neg)
		out[pos++] = '-';
	if (exp10 >= 0) {
		for (i = 0; i <= exp10; i++)
			out[pos++] = i < nd ? digits[i] : '0';
		if (nd > exp10 + 1) {
			out[pos++] = '.';
			for (i = exp10 + 1; i < nd; i++)
				out[pos++] = digits[i];
		}
	} else {
		out[pos++] = '0';
		out[pos++] = '.';
		for (i = 0; i < -exp10 - 1; i++)
			out[pos++] = '0';
		for (i = 0; i < nd; i++)
			out[pos++] = digits[i];
	}
	out[pos] = '\0';
	return pos;
}

/* stringify - a value as text: numbers printed, arrays joined by CRLF (inner arrays left out) */
static struct value stringify(struct evalctx *c, struct value v)
{
	char *buf;
	size_t len, i, total = 0;

	switch (v.kind) {
	case V_STR:
		return v;
	case V_INT:
		buf = arena_alloc(c->mem, 24);
		if (buf == NULL)
			return EMPTY;
		len = (size_t)snprintf(buf, 24, "%" PRId64, v.u.i);
		return mk_str(buf, len);
	case V_FLOAT:
		buf = arena_alloc(c->mem, 400);
		if (buf == NULL)
			return EMPTY;
		len = format_double(buf, 400, v.u.f);
		return mk_str(buf, len);
	case V_ARR:
		break;
	}
	/* Two passes: the parts first (numbers need printing), then one copy. */
	{
		struct value *parts = new_items(c, v.u.a.n);
		char *out;

		if (parts == NULL)
			return EMPTY;
		for (i = 0; i < v.u.a.n; i++) {
			parts[i] =
			    v.u.a.items[i].kind == V_ARR ? EMPTY : stringify(c, v.u.a.items[i]);
			if (parts[i].u.s.len > SIZE_MAX / 2 - total) {
				c->mem->failed = 1;
				return EMPTY;
			}
			total += parts[i].u.s.len + 2;
		}
		out = arena_alloc(c->mem, total + 1);
		if (out == NULL)
			return EMPTY;
		len = 0;
		for (i = 0; i < v.u.a.n; i++) {
			/* Stalwart adds the separator only once something was written. */
			if (len > 0) {
				out[len++] = '\r';
				out[len++] = '\n';
			}
			memcpy(out + len, parts[i].u.s.p, parts[i].u.s.len);
			len += parts[i].u.s.len;
		}
		return mk_str(out, len);
	}
}

/* parse_int64 - optional sign and decimal digits, all of len, within int64; 0 or -1 */
static int parse_int64(const char *s, size_t len, int64_t *out)
{
	uint64_t acc = 0, max;
	size_t i = 0;
	int neg = 0;

	if (len > 0 && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return -1;
	max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		unsigned d;

		if (!is_digit((unsigned char)s[i]))
			return -1;
		d = (unsigned)(s[i] - '0');
		if (acc > (max - d) / 10)
			return -1;
		acc = acc * 10 + d;
	}
	if (neg)
		*out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
	else
		*out = (int64_t)acc;
	return 0;
}

/* parse_float - a decimal float as Rust reads one (sign, digits, dot, exponent, inf, nan) */
static int parse_float(const char *s, size_t len, double *out)
{
	char buf[128];
	size_t i = 0, digits = 0;
	char *end;

	if (len > 0 && (s[0] == '+' || s[0] == '-'))
		i = 1;
	if (len - i == 3 && strncasecmp(s + i, "inf", 3) == 0) {
		*out = s[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	if (len - i == 8 && strncasecmp(s + i, "infinity", 8) == 0) {
		*out = s[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	if (len - i == 3 && strncasecmp(s + i, "nan", 3) == 0) {
		*out = NAN;
		return 0;
	}
	/* The syntax is checked here: strtod would also take hex, blanks and "infinity". */
	for (; i < len && is_digit((unsigned char)s[i]); i++)
		digits++;
	if (i < len && s[i] == '.') {
		for (i++; i < len && is_digit((unsigned char)s[i]); i++)
			digits++;
	}
	if (digits == 0)
		return -1;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t ed = 0;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < len && is_digit((unsigned char)s[i]); i++)
			ed++;
		if (ed == 0)
			return -1;
	}
	if (i != len || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*out = strtod(buf, &end);
	return *end == '\0' ? 0 : -1;
}

/* parse_number - a value as a number: strings parsed (else 0), arrays 1 when empty */
static struct value parse_number(struct value v)
{
	int64_t i;
	double f;

	switch (v.kind) {
	case V_INT:
	case V_FLOAT:
		return v;
	case V_STR:
		if (v.u.s.len == 0)
			return mk_int(0);
		if (parse_int64(v.u.s.p, v.u.s.len, &i) == 0)
			return mk_int(i);
		if (parse_float(v.u.s.p, v.u.s.len, &f) == 0)
			return mk_float(f);
		return mk_int(0);
	case V_ARR:
		return mk_int(v.u.a.n == 0);
	}
	return mk_int(0);
}

/* val_eq - Stalwart's equality: numbers by value (strings parsed when compared to one),
 * strings by bytes, arrays item by item */
static int val_eq(struct value a, struct value b)
{
	size_t i;

	if (a.kind == V_ARR || b.kind == V_ARR) {
		if (a.kind != b.kind || a.u.a.n != b.u.a.n)
			return 0;
		for (i = 0; i < a.u.a.n; i++) {
			if (!val_eq(a.u.a.items[i], b.u.a.items[i]))
				return 0;
		}
		return 1;
	}
	if (a.kind == V_STR && b.kind == V_STR)
		return a.u.s.len == b.u.s.len && memcmp(a.u.s.p, b.u.s.p, a.u.s.len) == 0;
	a = parse_number(a);
	b = parse_number(b);
	if (a.kind == V_INT && b.kind == V_INT)
		return a.u.i == b.u.i;
	return (a.kind == V_INT ? (double)a.u.i : a.u.f) ==
	       (b.kind == V_INT ? (double)b.u.i : b.u.f);
}

#define CMP_LT    (-1)
#define CMP_EQ    0
#define CMP_GT    1
#define CMP_UNORD 2

/* val_cmp - Stalwart's ordering: CMP_LT, CMP_EQ, CMP_GT, or CMP_UNORD (NaN) */
static int val_cmp(struct value a, struct value b)
{
	size_t i, n;
	int r;

	if (a.kind == V_ARR && b.kind == V_ARR) {
		n = a.u.a.n < b.u.a.n ? a.u.a.n : b.u.a.n;
		for (i = 0; i < n; i++) {
			r = val_cmp(a.u.a.items[i], b.u.a.items[i]);
			if (r != CMP_EQ)
				return r;
		}
		return a.u.a.n < b.u.a.n ? CMP_LT : a.u.a.n > b.u.a.n ? CMP_GT : CMP_EQ;
	}
	/* A string or an array is greater than anything else it is not comparable to. */
	if (a.kind == V_ARR || (a.kind == V_STR && b.kind == V_ARR))
		return CMP_GT;
	if (b.kind == V_ARR)
		return CMP_LT;
	if (a.kind == V_STR && b.kind == V_STR) {
		n = a.u.s.len < b.u.s.len ? a.u.s.len : b.u.s.len;
		r = n ? memcmp(a.u.s.p, b.u.s.p, n) : 0;
		if (r != 0)
			return r < 0 ? CMP_LT : CMP_GT;
		return a.u.s.len < b.u.s.len ? CMP_LT : a.u.s.len > b.u.s.len ? CMP_GT : CMP_EQ;
	}
	a = parse_number(a);
	b = parse_number(b);
	if (a.kind == V_INT && b.kind == V_INT)
		return a.u.i < b.u.i ? CMP_LT : a.u.i > b.u.i ? CMP_GT : CMP_EQ;
	{
		double x = a.kind == V_INT ? (double)a.u.i : a.u.f;
		double y = b.kind == V_INT ? (double)b.u.i : b.u.f;

		if (x < y)
			return CMP_LT;
		if (x > y)
			return CMP_GT;
		if (x == y)
			return CMP_EQ;
		return CMP_UNORD;
	}
}

/* into_array - the items of an array, one item for any other non-empty value, none for "" */
static const struct value *into_array(struct value v, struct value *one, size_t *n)
{
	if (v.kind == V_ARR) {
		*n = v.u.a.n;
		return v.u.a.items;
	}
	if (is_empty_str(v)) {
		*n = 0;
		return one;
	}
	*one = v;
	*n = 1;
	return one;
}

/* ---- evaluation --------------------------------------------------------------------------- */

/* eval - the value of a node (depth bounded by the parser); EMPTY once memory has failed */
static struct value eval(struct evalctx *c, const struct node *n)
{
	struct value *items;
	size_t i;

	if (c->mem->failed)
		return EMPTY;
	switch (n->kind) {
	case N_CONST:
		return n->k;
	case N_VAR:
		return variable(c, n->id);
	case N_NOT:
		return mk_int(!to_bool(eval(c, n->kids[0])));
	case N_NEG:
		return negate(eval(c, n->kids[0]));
	case N_CHAIN:
		return eval_chain(c, n);
	case N_CALL:
		return eval_call(c, n);
	case N_ARRAY:
		items = new_items(c, n->nkids);
		if (items == NULL)
			return EMPTY;
		for (i = 0; i < n->nkids; i++)
			items[i] = eval(c, n->kids[i]);
		return mk_arr(items, n->nkids);
	case N_INDEX:
		return index_value(eval(c, n->kids[0]), eval(c, n->kids[1]));
	}
	return EMPTY;
}

/* eval_chain - operands of one precedence level, left to right; && and || stop early and, as
 * in Stalwart, then give the operand that decided */
static struct value eval_chain(struct evalctx *c, const struct node *n)
{
	struct value acc = eval(c, n->kids[0]), v;
	size_t i;

	for (i = 1; i < n->nkids; i++) {
		enum op op = (enum op)n->ops[i - 1];

		if (op == OP_AND || op == OP_OR) {
			if (to_bool(acc) == (op == OP_OR))
				return acc;
			v = eval(c, n->kids[i]);
			acc = mk_int(to_bool(v));
			continue;
		}
		acc = binop(c, op, acc, eval(c, n->kids[i]));
	}
	return acc;
}

/* binop - one binary operator other than && and || */
static struct value binop(struct evalctx *c, enum op op, struct value l, struct value r)
{
	int cmp;

	switch (op) {
	case OP_ADD:
		return op_add(c, l, r);
	case OP_SUB:
		return op_sub(c, l, r);
	case OP_MUL:
		return op_mul(l, r);
	case OP_DIV:
		return op_div(l, r);
	case OP_XOR:
		return mk_int(to_bool(l) != to_bool(r));
	case OP_EQ:
		return mk_int(val_eq(l, r));
	case OP_NE:
		return mk_int(!val_eq(l, r));
	case OP_OR:
	case OP_AND:
		return mk_int(0); /* eval_chain handles them */
	default:
		break;
	}
	cmp = val_cmp(l, r);
	switch (op) {
	case OP_GT:
		return mk_int(cmp == CMP_GT);
	case OP_LT:
		return mk_int(cmp == CMP_LT);
	case OP_GE:
		return mk_int(cmp == CMP_GT || cmp == CMP_EQ);
	case OP_LE:
		return mk_int(cmp == CMP_LT || cmp == CMP_EQ);
	default:
		return mk_int(0);
	}
}

/* sat_add - int64 addition that stops at the limits instead of overflowing */
static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* sat_sub - int64 subtraction that stops at the limits */
static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* sat_mul - int64 multiplication that stops at the limits */
static int64_t sat_mul(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) == (b < 0) ? INT64_MAX : INT64_MIN;
	return r;
}

/* as_double - a number value as a double */
static double as_double(struct value v)
{
	return v.kind == V_INT ? (double)v.u.i : v.u.f;
}

/* is_num - an integer or a float */
static int is_num(struct value v)
{
	return v.kind == V_INT || v.kind == V_FLOAT;
}

/* op_add - numbers add; arrays join (or take a value in); a non-empty string joins the other's
 * text, an empty one gives the other value unchanged */
static struct value op_add(struct evalctx *c, struct value l, struct value r)
{
	struct value *items;
	size_t i, nl, nr;
	const struct value *il, *ir;

	if (is_num(l) && is_num(r)) {
		if (l.kind == V_INT && r.kind == V_INT)
			return mk_int(sat_add(l.u.i, r.u.i));
		return mk_float(as_double(l) + as_double(r));
	}
	if (l.kind == V_ARR || r.kind == V_ARR) {
		/* [a] + [b] joins; [a] + x appends x; x + [b] puts x first (even ""). */
		struct value lone = l, rone = r;

		il = l.kind == V_ARR ? l.u.a.items : &lone;
		nl = l.kind == V_ARR ? l.u.a.n : 1;
		ir = r.kind == V_ARR ? r.u.a.items : &rone;
		nr = r.kind == V_ARR ? r.u.a.n : 1;
		if (nl > SIZE_MAX / sizeof(struct value) - nr) {
			c->mem->failed = 1;
			return EMPTY;
		}
		items = new_items(c, nl + nr);
		if (items == NULL)
			return EMPTY;
		for (i = 0; i < nl; i++)
			items[i] = il[i];
		for (i = 0; i < nr; i++)
			items[nl + i] = ir[i];
		return mk_arr(items, nl + nr);
	}
	if (l.kind == V_STR)
		return l.u.s.len ? concat(c, l, stringify(c, r)) : r;
	return r.u.s.len ? concat(c, stringify(c, l), r) : l;
}

/* concat - two strings joined */
static struct value concat(struct evalctx *c, struct value a, struct value b)
{
	char *out;

	if (a.u.s.len > SIZE_MAX - 1 - b.u.s.len) {
		c->mem->failed = 1;
		return EMPTY;
	}
	out = arena_alloc(c->mem, a.u.s.len + b.u.s.len + 1);
	if (out == NULL)
		return EMPTY;
	memcpy(out, a.u.s.p, a.u.s.len);
	memcpy(out + a.u.s.len, b.u.s.p, b.u.s.len);
	return mk_str(out, a.u.s.len + b.u.s.len);
}

/* op_sub - numbers subtract; an array minus a value (or a value minus an array) is the array
 * without the items equal to the value; strings are parsed as numbers */
static struct value op_sub(struct evalctx *c, struct value l, struct value r)
{
	struct value arr, x, *items;
	size_t i, n = 0;

	if (l.kind == V_ARR || r.kind == V_ARR) {
		arr = l.kind == V_ARR ? l : r;
		x = l.kind == V_ARR ? r : l;
		items = new_items(c, arr.u.a.n);
		if (items == NULL)
			return EMPTY;
		for (i = 0; i < arr.u.a.n; i++) {
			if (!val_eq(arr.u.a.items[i], x))
				items[n++] = arr.u.a.items[i];
		}
		return mk_arr(items, n);
	}
	l = parse_number(l);
	r = parse_number(r);
	if (l.kind == V_INT && r.kind == V_INT)
		return mk_int(sat_sub(l.u.i, r.u.i));
	return mk_float(as_double(l) - as_double(r));
}

/* op_mul - numbers multiply (saturating for integers); other values are parsed as numbers */
static struct value op_mul(struct value l, struct value r)
{
	l = parse_number(l);
	r = parse_number(r);
	if (l.kind == V_INT && r.kind == V_INT)
		return mk_int(sat_mul(l.u.i, r.u.i));
	return mk_float(as_double(l) * as_double(r));
}

/* op_div - always a float, as in Stalwart; dividing by zero gives 0 */
static struct value op_div(struct value l, struct value r)
{
	double d;

	l = parse_number(l);
	r = parse_number(r);
	d = as_double(r);
	if (d == 0.0)
		return mk_float(0.0);
	return mk_float(as_double(l) / d);
}

/* negate - unary minus; the most negative integer becomes the most positive */
static struct value negate(struct value v)
{
	if (v.kind == V_INT)
		return mk_int(v.u.i == INT64_MIN ? INT64_MAX : -v.u.i);
	if (v.kind == V_FLOAT)
		return mk_float(-v.u.f);
	return negate(parse_number(v));
}

/* index_value - item idx of a value seen as an array; "" when there is none */
static struct value index_value(struct value arr, struct value idx)
{
	struct value one;
	const struct value *items;
	size_t n, i = 0;
	int64_t k;

	items = into_array(arr, &one, &n);
	switch (idx.kind) {
	case V_INT:
		if (idx.u.i < 0)
			return EMPTY; /* Stalwart's cast makes it huge: past the end */
		i = (size_t)idx.u.i;
		break;
	case V_FLOAT:
		/* Rust's float-to-integer cast saturates, and NaN gives 0. */
		if (!(idx.u.f > 0))
			i = 0;
		else if (idx.u.f >= 18446744073709551616.0)
			i = SIZE_MAX;
		else
			i = (size_t)idx.u.f;
		break;
	case V_STR:
		if (idx.u.s.len > 0 && idx.u.s.p[0] != '-' &&
		    parse_int64(idx.u.s.p, idx.u.s.len, &k) == 0)
			i = (size_t)k;
		break;
	case V_ARR:
		break;
	}
	return i < n ? items[i] : EMPTY;
}

/* lower_address - an address (or its domain) in lower case, as Stalwart compares them */
static struct value lower_address(struct evalctx *c, const char *s, int domain_only)
{
	const char *at;
	size_t len, i;
	char *out;

	if (s == NULL)
		return EMPTY;
	if (domain_only) {
		at = strrchr(s, '@');
		if (at == NULL)
			return EMPTY;
		s = at + 1;
	}
	len = strlen(s);
	out = arena_alloc(c->mem, len + 1);
	if (out == NULL)
		return EMPTY;
	for (i = 0; i < len; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
	return mk_str(out, len);
}

/* str_var - a string variable, "" when not known */
static struct value str_var(const char *s)
{
	return s != NULL ? mk_str(s, strlen(s)) : EMPTY;
}

/* variable - the value of a variable at this stage ("" when not known yet) */
static struct value variable(struct evalctx *c, int id)
{
	const struct expr_vars *v = c->vars;
	struct value *items;
	size_t i;

	switch ((enum var)id) {
	case VAR_REMOTE_IP:
		return str_var(v->remote_ip);
	case VAR_REMOTE_PORT:
		return v->remote_port < 0 ? EMPTY : mk_int(v->remote_port);
	case VAR_LOCAL_IP:
		return str_var(v->local_ip);
	case VAR_LOCAL_PORT:
		return v->local_port < 0 ? EMPTY : mk_int(v->local_port);
	case VAR_LISTENER:
		return str_var(v->listener);
	case VAR_IS_TLS:
		return mk_int(v->is_tls != 0);
	case VAR_AUTHENTICATED_AS:
		return str_var(v->authenticated_as);
	case VAR_HELO_DOMAIN:
		return str_var(v->helo_domain);
	case VAR_SENDER:
		return lower_address(c, v->sender, 0);
	case VAR_SENDER_DOMAIN:
		return lower_address(c, v->sender, 1);
	case VAR_RCPT:
		return lower_address(c, v->rcpt, 0);
	case VAR_RCPT_DOMAIN:
		return lower_address(c, v->rcpt, 1);
	case VAR_RECIPIENTS:
		if (v->recipients == NULL || v->nrecipients == 0)
			return EMPTY;
		items = new_items(c, v->nrecipients);
		if (items == NULL)
			return EMPTY;
		for (i = 0; i < v->nrecipients; i++)
			items[i] = lower_address(c, v->recipients[i], 0);
		return mk_arr(items, v->nrecipients);
	case VAR_QUEUE_ID:
		return str_var(v->queue_id);
	}
	return EMPTY;
}

/* ---- functions ---------------------------------------------------------------------------- */

/* A function of one string, applied to each item when given an array (Stalwart's transform). */
typedef struct value (*str_fn)(struct evalctx *c, const char *s, size_t len, struct value arg);

/* transform - f over a value's text, or over each item of an array */
static struct value transform(struct evalctx *c, struct value v, str_fn f, struct value arg)
{
	struct value *items, s;
	size_t i;

	if (v.kind != V_ARR) {
		s = stringify(c, v);
		return f(c, s.u.s.p, s.u.s.len, arg);
	}
	items = new_items(c, v.u.a.n);
	if (items == NULL)
		return EMPTY;
	for (i = 0; i < v.u.a.n; i++) {
		s = stringify(c, v.u.a.items[i]);
		items[i] = f(c, s.u.s.p, s.u.s.len, arg);
	}
	return mk_arr(items, v.u.a.n);
}

/* is_space - ASCII white space */
static int is_space(unsigned char ch)
{
	return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* is_upper - an ASCII capital */
static int is_upper(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z';
}

/* is_lower - an ASCII small letter */
static int is_lower(unsigned char ch)
{
	return ch >= 'a' && ch <= 'z';
}

/* to_lower - ASCII lower case of one byte */
static unsigned char to_lower(unsigned char ch)
{
	return is_upper(ch) ? (unsigned char)(ch - 'A' + 'a') : ch;
}

/* fn_trim - white space off both ends (arg: 1 start only, 2 end only, 0 both) */
static struct value fn_trim(struct evalctx *c, const char *s, size_t len, struct value arg)
{
	(void)c;
	if (arg.u.i != 2) {
		while (len > 0 && is_space((unsigned char)*s)) {
			s++;
			len--;
		}
	}
	if (arg.u.i != 1) {
		while (len > 0 && is_space((unsigned char)s[len - 1]))
			len--;
	}
	return mk_str(s, len);
}

/* fn_case - the text in lower case (arg 0) or upper case (arg 1), ASCII letters */
static struct value fn_case(struct evalctx *c, const char *s, size_t len, struct value arg)
{
	char *out = arena_alloc(c->mem, len + 1);
	size_t i;

	if (out == NULL)
		return EMPTY;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (arg.u.i)
			out[i] = is_lower(ch) ? (char)(ch - 'a' + 'A') : (char)ch;
		else
			out[i] = (char)to_lower(ch);
	}
	return mk_str(out, len);
}

/* fn_is_case - every letter is upper case (arg 1) or lower case (arg 0); true without letters */
static struct value fn_is_case(struct evalctx *c, const char *s, size_t len, struct value arg)
{
	size_t i;

	(void)c;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (arg.u.i ? is_lower(ch) : is_upper(ch))
			return mk_int(0);
	}
	return mk_int(1);
}

/* fn_has_digits - holds an ASCII digit */
static struct value fn_has_digits(struct evalctx *c, const char *s, size_t len, struct value arg)
{
	size_t i;

	(void)c;
	(void)arg;
	for (i = 0; i < len; i++) {
		if (is_digit((unsigned char)s[i]))
			return mk_int(1);
	}
	return mk_int(0);
}

/* fn_email_part - "local" or "domain" of the address split at its last '@', trimmed */
static struct value fn_email_part(struct evalctx *c, const char *s, size_t len, struct value arg)
{
	size_t at = len;
	struct value zero = mk_int(0);

	while (at > 0 && s[at - 1] != '@')
		at--;
	if (at == 0)
		return EMPTY;
	if (arg.u.s.len == 5 && memcmp(arg.u.s.p, "local", 5) == 0)
		return fn_trim(c, s, at - 1, zero);
	if (arg.u.s.len == 6 && memcmp(arg.u.s.p, "domain", 6) == 0)
		return fn_trim(c, s + at, len - at, zero);
	return EMPTY;
}

/* find_bytes - first position of needle in hay, or -1 (optionally ASCII case-insensitive) */
static long find_bytes(const char *hay, size_t hlen, const char *needle, size_t nlen, int icase)
{
	size_t i, j;

	if (nlen == 0)
		return 0;
	if (nlen > hlen)
		return -1;
	for (i = 0; i + nlen <= hlen; i++) {
		for (j = 0; j < nlen; j++) {
			unsigned char a = (unsigned char)hay[i + j], b = (unsigned char)needle[j];

			if (icase ? to_lower(a) != to_lower(b) : a != b)
				break;
		}
		if (j == nlen)
			return i > LONG_MAX ? -1 : (long)i;
	}
	return -1;
}

/* eq_icase - two byte strings equal but for ASCII case */
static int eq_icase(struct value a, struct value b)
{
	return a.u.s.len == b.u.s.len && find_bytes(a.u.s.p, a.u.s.len, b.u.s.p, b.u.s.len, 1) == 0;
}

/* fn_contains - substring of a string, item of an array (by ==), substring of a number's text */
static struct value fn_contains(struct evalctx *c, struct value v, struct value needle, int icase)
{
	struct value s, n;
	size_t i;

	if (v.kind == V_ARR) {
		for (i = 0; i < v.u.a.n; i++) {
			const struct value *it = &v.u.a.items[i];

			if (!icase && val_eq(*it, needle))
				return mk_int(1);
			/* Stalwart compares only string items, and whole, without case. */
			if (icase && it->kind == V_STR && eq_icase(*it, stringify(c, needle)))
				return mk_int(1);
		}
		return mk_int(0);
	}
	s = stringify(c, v);
	n = stringify(c, needle);
	/* A number's text is searched with case, as Stalwart does. */
	return mk_int(
	    find_bytes(s.u.s.p, s.u.s.len, n.u.s.p, n.u.s.len, icase && v.kind == V_STR) >= 0);
}

/* fn_split - the text cut at every separator; an empty separator cuts between characters */
static struct value fn_split(struct evalctx *c, struct value v, struct value sep)
{
	struct value s = stringify(c, v), d = stringify(c, sep), *items;
	size_t n = 1, i, start, k = 0;
	long at;

	if (d.u.s.len == 0) {
		/* Like Rust's split(""): "", each UTF-8 character, "". Counted by the same steps
		 * as the cut below: text that starts with a continuation byte (not UTF-8) has one
		 * piece more than it has lead bytes. */
		for (i = 0; i < s.u.s.len; i = start) {
			start = i + 1;
			while (start < s.u.s.len && ((unsigned char)s.u.s.p[start] & 0xc0) == 0x80)
				start++;
			n++;
		}
		items = new_items(c, n + 1);
		if (items == NULL)
			return EMPTY;
		items[k++] = EMPTY;
		for (i = 0; i < s.u.s.len; i = start) {
			start = i + 1;
			while (start < s.u.s.len && ((unsigned char)s.u.s.p[start] & 0xc0) == 0x80)
				start++;
			items[k++] = mk_str(s.u.s.p + i, start - i);
		}
		items[k++] = EMPTY;
		return mk_arr(items, k);
	}
	for (i = 0; (at = find_bytes(s.u.s.p + i, s.u.s.len - i, d.u.s.p, d.u.s.len, 0)) >= 0;) {
		n++;
		i += (size_t)at + d.u.s.len;
	}
	items = new_items(c, n);
	if (items == NULL)
		return EMPTY;
	for (i = 0; (at = find_bytes(s.u.s.p + i, s.u.s.len - i, d.u.s.p, d.u.s.len, 0)) >= 0;) {
		items[k++] = mk_str(s.u.s.p + i, (size_t)at);
		i += (size_t)at + d.u.s.len;
	}
	items[k++] = mk_str(s.u.s.p + i, s.u.s.len - i);
	return mk_arr(items, k);
}

/* sort_before - a goes before b (Stalwart: unordered counts as greater) */
static int sort_before(struct value a, struct value b, int desc)
{
	int r = desc ? val_cmp(b, a) : val_cmp(a, b);

	return r == CMP_LT;
}

/* fn_sort - a stable merge sort: safe whatever the comparison, O(n log n) */
static struct value fn_sort(struct evalctx *c, struct value v, int desc)
{
	struct value one, *a, *b, *t;
	const struct value *src;
	size_t n, width, lo, mid, hi, x, y, k;

	src = into_array(v, &one, &n);
	a = new_items(c, n);
	b = new_items(c, n);
	if (a == NULL || b == NULL)
		return EMPTY;
	memcpy(a, src, n * sizeof(*a));
	for (width = 1; width<n; width = width> n / 2 ? n : width * 2) {
		for (lo = 0; lo < n; lo = hi) {
			mid = lo + width < n ? lo + width : n;
			hi = mid + width < n ? mid + width : n;
			for (x = lo, y = mid, k = lo; k < hi; k++) {
				if (x < mid && (y >= hi || !sort_before(a[y], a[x], desc)))
					b[k] = a[x++];
				else
					b[k] = a[y++];
			}
		}
		t = a;
		a = b;
		b = t;
	}
	return mk_arr(a, n);
}

/* fn_dedup - the items without repeats, first ones kept */
static struct value fn_dedup(struct evalctx *c, struct value v)
{
	struct value one, *out;
	const struct value *src;
	size_t n, i, j, k = 0;

	src = into_array(v, &one, &n);
	out = new_items(c, n);
	if (out == NULL)
		return EMPTY;
	for (i = 0; i < n; i++) {
		for (j = 0; j < k && !val_eq(out[j], src[i]); j++)
			;
		if (j == k)
			out[k++] = src[i];
	}
	return mk_arr(out, k);
}

/* fn_winnow - an array without its empty strings; any other value as it is */
static struct value fn_winnow(struct evalctx *c, struct value v)
{
	struct value *out;
	size_t i, k = 0;

	if (v.kind != V_ARR)
		return v;
	out = new_items(c, v.u.a.n);
	if (out == NULL)
		return EMPTY;
	for (i = 0; i < v.u.a.n; i++) {
		if (!is_empty_str(v.u.a.items[i]))
			out[k++] = v.u.a.items[i];
	}
	return mk_arr(out, k);
}

/* array_has - an item of arr equals x */
static int array_has(struct value arr, struct value x)
{
	size_t i;

	for (i = 0; i < arr.u.a.n; i++) {
		if (val_eq(arr.u.a.items[i], x))
			return 1;
	}
	return 0;
}

/* fn_is_intersect - two arrays share an item, or an array holds the other value; two plain
 * values never intersect (as in Stalwart) */
static struct value fn_is_intersect(struct value a, struct value b)
{
	size_t i;

	if (a.kind == V_ARR && b.kind == V_ARR) {
		for (i = 0; i < a.u.a.n; i++) {
			if (array_has(b, a.u.a.items[i]))
				return mk_int(1);
		}
		return mk_int(0);
	}
	if (a.kind == V_ARR)
		return mk_int(array_has(a, b));
	if (b.kind == V_ARR)
		return mk_int(array_has(b, a));
	return mk_int(0);
}

/* is_atext - a character allowed unquoted in an address (bytes >= 0x7f: UTF-8) */
static int is_atext(unsigned char ch)
{
	return is_digit(ch) || is_lower(ch) || is_upper(ch) || ch >= 0x7f ||
	       (ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

/* fn_is_email - Stalwart's address check: one '@', a dotted domain, no empty parts, quoted
 * local parts allowed */
static struct value fn_is_email(struct value s)
{
	size_t i, at_count = 0, dots = 0, local_len = 0, count = 0;
	unsigned char last = 0;
	int in_quote = 0;

	for (i = 0; i < s.u.s.len; i++) {
		unsigned char ch = (unsigned char)s.u.s.p[i];

		if (is_atext(ch)) {
			count++;
		} else if (ch == '.' && !in_quote) {
			if (last == '.' || last == '@' || count == 0)
				return mk_int(0);
			count++;
			if (at_count == 1)
				dots++;
		} else if (ch == '@' && !in_quote) {
			at_count++;
			local_len = count;
			count = 0;
		} else if (in_quote && (ch == '>' || ch == ':' || ch == ',' || ch == ' ')) {
			count++;
		} else if (ch == '"' && (!in_quote || last != '\\')) {
			in_quote = !in_quote;
		} else if (!in_quote) {
			return mk_int(0);
		}
		last = ch;
	}
	return mk_int(at_count == 1 && dots > 0 && local_len > 0 && count > 0);
}

/* parse_ip - an IPv4 or IPv6 address in its usual text; 0 ok, -1 not an address */
static int parse_ip(struct value s, unsigned char addr[16], int *family)
{
	char buf[64];

	if (s.u.s.len == 0 || s.u.s.len >= sizeof(buf) || memchr(s.u.s.p, '\0', s.u.s.len))
		return -1;
	memcpy(buf, s.u.s.p, s.u.s.len);
	buf[s.u.s.len] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

/* fn_ip_reverse_name - "4.3.2.1" for 1.2.3.4, nibbles for IPv6; no .arpa suffix */
static struct value fn_ip_reverse_name(struct evalctx *c, struct value s)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char addr[16];
	int family, i;
	size_t n = 0;
	char *out;

	if (parse_ip(s, addr, &family) < 0)
		return EMPTY;
	out = arena_alloc(c->mem, 72);
	if (out == NULL)
		return EMPTY;
	if (family == AF_INET) {
		n = (size_t)snprintf(out, 72, "%u.%u.%u.%u", addr[3], addr[2], addr[1], addr[0]);
		return mk_str(out, n);
	}
	for (i = 15; i >= 0; i--) {
		out[n++] = hex[addr[i] & 0xf];
		out[n++] = '.';
		out[n++] = hex[addr[i] >> 4];
		out[n++] = i > 0 ? '.' : '\0';
	}
	return mk_str(out, n - 1);
}

/* run_regex - 1 when the pattern matches somewhere in the subject's text */
static int run_regex(struct evalctx *c, const pcre2_code *re, struct value subject)
{
	pcre2_match_data *md;
	struct value s = stringify(c, subject);
	int rc;

	md = pcre2_match_data_create_from_pattern(re, NULL);
	if (md == NULL) {
		c->mem->failed = 1;
		return 0;
	}
	rc = pcre2_match(re, (PCRE2_SPTR)s.u.s.p, s.u.s.len, 0, 0, md, c->e->mctx);
	pcre2_match_data_free(md);
	/* No match, or a limit reached: not a match. */
	return rc >= 0;
}

/* fn_matches - matches(pattern, value); a pattern that is not a literal is compiled here */
static struct value fn_matches(struct evalctx *c, const struct node *n, struct value *args)
{
	struct value pat;
	pcre2_code *re;
	PCRE2_SIZE offset;
	int code, r;

	if (n->re != NULL)
		return mk_int(run_regex(c, n->re, args[1]));
	pat = stringify(c, args[0]);
	re = pcre2_compile((PCRE2_SPTR)pat.u.s.p, pat.u.s.len, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
	                   &code, &offset, NULL);
	if (re == NULL)
		return mk_int(0); /* an invalid pattern known only now matches nothing */
	r = run_regex(c, re, args[1]);
	pcre2_code_free(re);
	return mk_int(r);
}

/* eval_call - a function call; arguments are evaluated first, left to right */
static struct value eval_call(struct evalctx *c, const struct node *n)
{
	struct value a[2] = {EMPTY, EMPTY}, s, arg;
	unsigned char addr[16];
	size_t i, count = 0;
	int family;

	for (i = 0; i < n->nkids && i < 2; i++) {
		/* A pattern compiled at load is not evaluated again. */
		if (!(i == 0 && n->re != NULL))
			a[i] = eval(c, n->kids[i]);
	}
	switch ((enum fn)n->id) {
	case F_TRIM:
	case F_TRIM_START:
	case F_TRIM_END:
		arg = mk_int(n->id == F_TRIM ? 0 : n->id == F_TRIM_START ? 1 : 2);
		return transform(c, a[0], fn_trim, arg);
	case F_LEN:
		if (a[0].kind == V_ARR)
			return mk_int((int64_t)a[0].u.a.n);
		return mk_int((int64_t)stringify(c, a[0]).u.s.len);
	case F_TO_LOWERCASE:
	case F_TO_UPPERCASE:
		return transform(c, a[0], fn_case, mk_int(n->id == F_TO_UPPERCASE));
	case F_IS_UPPERCASE:
	case F_IS_LOWERCASE:
		return transform(c, a[0], fn_is_case, mk_int(n->id == F_IS_UPPERCASE));
	case F_HAS_DIGITS:
		return transform(c, a[0], fn_has_digits, EMPTY);
	case F_COUNT_SPACES:
	case F_COUNT_UPPERCASE:
	case F_COUNT_LOWERCASE:
	case F_COUNT_CHARS:
		s = stringify(c, a[0]);
		for (i = 0; i < s.u.s.len; i++) {
			unsigned char ch = (unsigned char)s.u.s.p[i];

			if (n->id == F_COUNT_SPACES)
				count += is_space(ch);
			else if (n->id == F_COUNT_UPPERCASE)
				count += is_upper(ch);
			else if (n->id == F_COUNT_LOWERCASE)
				count += is_lower(ch);
			else
				count += (ch & 0xc0) != 0x80; /* UTF-8 characters, not bytes */
		}
		return mk_int((int64_t)count);
	case F_CONTAINS:
	case F_CONTAINS_IGNORE_CASE:
		return fn_contains(c, a[0], a[1], n->id == F_CONTAINS_IGNORE_CASE);
	case F_EQ_IGNORE_CASE:
		return mk_int(eq_icase(stringify(c, a[0]), stringify(c, a[1])));
	case F_STARTS_WITH:
	case F_ENDS_WITH: {
		struct value h = stringify(c, a[0]), x = stringify(c, a[1]);

		if (x.u.s.len > h.u.s.len)
			return mk_int(0);
		if (n->id == F_STARTS_WITH)
			return mk_int(memcmp(h.u.s.p, x.u.s.p, x.u.s.len) == 0);
		return mk_int(memcmp(h.u.s.p + h.u.s.len - x.u.s.len, x.u.s.p, x.u.s.len) == 0);
	}
	case F_SPLIT:
		return fn_split(c, a[0], a[1]);
	case F_COUNT:
		if (a[0].kind == V_ARR)
			return mk_int((int64_t)a[0].u.a.n);
		return mk_int(!is_empty_str(a[0]));
	case F_SORT:
		/* Stalwart's code sorts descending when the flag is true. */
		return fn_sort(c, a[0], to_bool(a[1]));
	case F_DEDUP:
		return fn_dedup(c, a[0]);
	case F_WINNOW:
		return fn_winnow(c, a[0]);
	case F_IS_INTERSECT:
		return fn_is_intersect(a[0], a[1]);
	case F_IS_EMAIL:
		return fn_is_email(stringify(c, a[0]));
	case F_EMAIL_PART:
		return transform(c, a[0], fn_email_part, stringify(c, a[1]));
	case F_IS_EMPTY:
		if (a[0].kind == V_ARR)
			return mk_int(a[0].u.a.n == 0);
		return mk_int(is_empty_str(a[0]));
	case F_IS_NUMBER:
		return mk_int(is_num(a[0]));
	case F_IS_IP_ADDR:
	case F_IS_IPV4_ADDR:
	case F_IS_IPV6_ADDR:
		if (parse_ip(stringify(c, a[0]), addr, &family) < 0)
			return mk_int(0);
		if (n->id == F_IS_IPV4_ADDR)
			return mk_int(family == AF_INET);
		if (n->id == F_IS_IPV6_ADDR)
			return mk_int(family == AF_INET6);
		return mk_int(1);
	case F_IP_REVERSE_NAME:
		return fn_ip_reverse_name(c, stringify(c, a[0]));
	case F_MATCHES:
		return fn_matches(c, n, a);
	case F_COUNT_OF:
		break;
	}
	return EMPTY;
}
