/*
 * expr - Stalwart's expression language, for a hook's `enable`
 *
 * SYNOPSIS
 *	struct expr *expr_compile(const char *text, struct expr_error *err);
 *	struct expr *expr_compile_json(const struct json_object *value,
 *	                               struct expr_error *err);
 *	int  expr_eval(const struct expr *e, const struct expr_vars *vars);
 *	int  expr_is_constant(const struct expr *e, int *value);
 *	void expr_free(struct expr *e);
 *
 * DESCRIPTION
 *	An `enable` value is compiled once, when the configuration is loaded, and
 *	evaluated for each hook at each stage. The language is the one of Stalwart's
 *	expr.c, as far as it makes sense outside a mail server's own stores:
 *
 *	  literals   'text' and "text" (backslash escapes \\ \' \" \n \r \t),
 *	             integers, floats, true, false, arrays [a, b, ...]
 *	  variables  remote_ip remote_port local_ip local_port listener is_tls
 *	             authenticated_as helo_domain sender sender_domain rcpt
 *	             rcpt_domain recipients queue_id (struct expr_vars)
 *	  operators  from the tightest: ! and unary -;  * /;  + - (+ also joins
 *	             strings and arrays);  > < >= <= (=> and =< too);  == (=) !=;
 *	             ^ (exclusive or);  && (&);  || (|); parentheses
 *	  functions  text: trim trim_start trim_end len to_lowercase to_uppercase
 *	             is_uppercase is_lowercase has_digits count_spaces
 *	             count_uppercase count_lowercase count_chars contains
 *	             contains_ignore_case eq_ignore_case starts_with ends_with
 *	             split; arrays: count sort dedup winnow is_intersect (and
 *	             contains on an array); e-mail: is_email email_part; misc:
 *	             is_empty is_number is_ip_addr is_ipv4_addr is_ipv6_addr
 *	             ip_reverse_name matches (PCRE2)
 *
 *	Truthiness: false, 0, 0.0, the empty string and the empty array are false;
 *	everything else is true. A variable whose value is not known yet at the
 *	stage being evaluated is the empty string.
 *
 *	expr_compile compiles one expression string. expr_compile_json compiles an
 *	`enable` value as the configuration holds it (json-c, from toml.c):
 *	a boolean; a number (0 false, else true); an expression string; or an
 *	array of objects { "if": EXPR, "then": VALUE } ... { "else": VALUE },
 *	where the first "if" that is true gives its "then", and "else" (last,
 *	optional, default false) is used when none is. A "then"/"else" value is
 *	itself a boolean, number or expression string.
 *
 *	expr_eval gives 1 when the expression's value is true for vars, else 0.
 *	It does not allocate on the caller's behalf, keeps no state between calls
 *	and may be called from many threads at once on the same struct expr.
 *	expr_is_constant gives 1 (and the value) when the result does not depend
 *	on any variable (true, false, "1 == 1"), so the configuration can tell
 *	which hooks are never called.
 *
 * DIAGNOSTICS
 *	expr_compile/expr_compile_json return NULL on a syntax error, an unknown
 *	variable or function, a wrong number of arguments, an invalid `matches`
 *	pattern given as a literal, or an ill-formed if/then/else list, and fill
 *	err: msg says what is wrong without repeating the text, column is the
 *	1-based byte column in the expression string (0 when the problem is not
 *	inside a string), and where says which part of a list holds the problem
 *	("[1].if", "[2].else"; "" for a plain value). On out-of-memory they
 *	return NULL with msg "out of memory".
 */
#ifndef MTAHOOKS_EXPR_H
#define MTAHOOKS_EXPR_H

#include <stddef.h>

struct json_object;
struct expr;

/* What the session knows at the stage being evaluated. NULL strings and
 * negative ports are "not known yet" (the empty string to the expression). */
struct expr_vars {
	const char *remote_ip;
	long remote_port;
	const char *local_ip;
	long local_port;
	const char *listener; /* {daemon_name} */
	int is_tls;
	const char *authenticated_as; /* SASL login, NULL when not authenticated */
	const char *helo_domain;
	const char *sender; /* MAIL FROM address, "" for the null sender */
	const char *rcpt;   /* the recipient being decided, or the last one */
	const char *const *recipients;
	size_t nrecipients;
	const char *queue_id;
};

struct expr_error {
	char msg[200];
	unsigned column; /* 1-based, 0 = not inside an expression string */
	char where[48];  /* "[1].if" etc., "" for a plain value */
};

/* expr_compile - compile one expression string */
struct expr *expr_compile(const char *text, struct expr_error *err);
/* expr_compile_json - compile an `enable` value: bool, number, string or if/then/else list */
struct expr *expr_compile_json(const struct json_object *value, struct expr_error *err);
/* expr_eval - 1 when the expression is true for vars, else 0 */
int expr_eval(const struct expr *e, const struct expr_vars *vars);
/* expr_is_constant - 1 and *value when the result depends on no variable */
int expr_is_constant(const struct expr *e, int *value);
/* expr_free - free a compiled expression; NULL is ignored */
void expr_free(struct expr *e);

#endif
