/* test_expr.c - unit tests for the enable expression language (src/expr.c) */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "expr.h"

/* Which session the expression is evaluated against. */
enum stage_vars {
	DATA,    /* everything known: the data stage of a message to two recipients */
	CONNECT, /* the connect stage: only the connection is known */
	NULLMAIL /* the mail stage of a bounce: MAIL FROM:<> */
};

/* An expression and whether it must be true. */
struct eval_case {
	const char *name;
	const char *text;
	enum stage_vars vars;
	int want;
};

/* An expression that must be refused with exactly this message and column. */
struct error_case {
	const char *name;
	const char *text;
	const char *msg;
	unsigned column;
};

/* An `enable` value as JSON and whether it must be true. */
struct json_case {
	const char *name;
	const char *json;
	enum stage_vars vars;
	int want;
};

/* An `enable` value that must be refused. */
struct json_error_case {
	const char *name;
	const char *json;
	const char *where;
	const char *msg;
	unsigned column;
};

static const char *const two_rcpts[] = {"Carol@Example.ORG", "Bob@Example.COM"};

static const struct expr_vars data_vars = {
    .remote_ip = "192.0.2.1",
    .remote_port = 40000,
    .local_ip = "192.0.2.25",
    .local_port = 25,
    .listener = "smtp",
    .is_tls = 1,
    .authenticated_as = "alice",
    .helo_domain = "mail.example.net",
    .sender = "Alice@Example.NET",
    .rcpt = "Bob@Example.COM",
    .recipients = two_rcpts,
    .nrecipients = 2,
    .queue_id = "4XyZ1",
};

static const struct expr_vars connect_vars = {
    .remote_ip = "198.51.100.7",
    .remote_port = 52100,
    .local_ip = "192.0.2.25",
    .local_port = 25,
    .listener = "smtp",
};

static const struct expr_vars nullmail_vars = {
    .remote_ip = "192.0.2.1",
    .remote_port = 40000,
    .local_ip = "192.0.2.25",
    .local_port = 25,
    .helo_domain = "mail.example.net",
    .sender = "",
    .queue_id = NULL,
};

/* vars_for - the session of a table row */
static const struct expr_vars *vars_for(enum stage_vars v)
{
	return v == DATA ? &data_vars : v == CONNECT ? &connect_vars : &nullmail_vars;
}

/* ---- expressions and what they give ----------------------------------------------------- */

static const struct eval_case eval_cases[] = {
    /* literals and truthiness */
    {"literal_true_is_true", "true", DATA, 1},
    {"literal_false_is_false", "false", DATA, 0},
    {"integer_one_is_true", "1", DATA, 1},
    {"integer_zero_is_false", "0", DATA, 0},
    {"negative_integer_is_true", "-1", DATA, 1},
    {"float_zero_is_false", "0.0", DATA, 0},
    {"float_half_is_true", "0.5", DATA, 1},
    {"float_without_leading_digit", ".5 == 0.5", DATA, 1},
    {"float_without_trailing_digit", "5. == 5", DATA, 1},
    {"single_quoted_string_is_true", "'x'", DATA, 1},
    {"double_quoted_string_is_true", "\"x\"", DATA, 1},
    {"empty_string_is_false", "''", DATA, 0},
    {"string_zero_is_true", "'0'", DATA, 1},
    {"empty_array_is_false", "[]", DATA, 0},
    {"array_of_zero_is_true", "[0]", DATA, 1},
    {"largest_integer_reads", "9223372036854775807 > 9223372036854775806", DATA, 1},
    {"true_equals_one", "true == 1", DATA, 1},
    {"false_equals_zero", "false == 0", DATA, 1},
    {"escaped_single_quote", "'it\\'s' == \"it's\"", DATA, 1},
    {"escaped_double_quote", "\"say \\\"hi\\\"\" == 'say \"hi\"'", DATA, 1},
    {"escape_newline_is_one_byte", "len('a\\nb') == 3", DATA, 1},
    {"escape_tab_and_cr", "'a\\tb\\r' == 'a\tb\r'", DATA, 1},
    {"escaped_backslash_is_one_byte", "len('\\\\') == 1", DATA, 1},
    {"unknown_escape_keeps_backslash", "len('\\d') == 2", DATA, 1},
    {"blanks_tabs_and_newlines_between_tokens", "\t1\n==\r\n 1 ", DATA, 1},

    /* arithmetic, precedence, associativity */
    {"multiplication_before_addition", "1 + 2 * 3 == 7", DATA, 1},
    {"multiplication_first_on_the_left", "2 * 3 + 1 == 7", DATA, 1},
    {"parentheses_override_precedence", "(1 + 2) * 3 == 9", DATA, 1},
    {"subtraction_is_left_associative", "10 - 4 - 3 == 3", DATA, 1},
    {"division_is_left_associative", "8 / 4 / 2 == 1", DATA, 1},
    {"minus_then_plus_left_to_right", "2 - 3 + 4 == 3", DATA, 1},
    {"division_gives_a_float", "7 / 2 == 3.5", DATA, 1},
    {"exact_division_equals_integer", "6 / 3 == 2", DATA, 1},
    {"division_by_zero_gives_zero", "1 / 0 == 0", DATA, 1},
    {"float_division_by_zero_gives_zero", "1.5 / 0.0 == 0", DATA, 1},
    {"integer_plus_float_is_float", "1 + 2.5 == 3.5", DATA, 1},
    {"float_arithmetic_is_binary", "0.1 + 0.2 != 0.3", DATA, 1},
    {"addition_saturates_at_max", "9223372036854775807 + 1 == 9223372036854775807", DATA, 1},
    {"subtraction_saturates_at_min", "0 - 9223372036854775807 - 5 == 0 - 9223372036854775807 - 1",
     DATA, 1},
    {"multiplication_saturates", "9223372036854775807 * 2 == 9223372036854775807", DATA, 1},
    {"negative_multiplication_saturates", "9223372036854775807 * -3 == 0 - 9223372036854775807 - 1",
     DATA, 1},
    {"negating_the_minimum_saturates", "-(0 - 9223372036854775807 - 1) == 9223372036854775807",
     DATA, 1},
    {"unary_minus_binds_tighter_than_times", "-2 * 3 == -6", DATA, 1},
    {"unary_minus_after_operator", "5 - -3 == 8", DATA, 1},
    {"double_unary_minus", "--3 == 3", DATA, 1},
    {"strings_multiply_as_numbers", "'3' * '4' == 12", DATA, 1},
    {"non_numeric_string_is_zero_in_arithmetic", "'abc' * 2 == 0", DATA, 1},
    {"string_minus_number", "'10' - 4 == 6", DATA, 1},
    {"minus_of_a_numeric_string", "-'7' == -7", DATA, 1},

    /* + joins strings and arrays */
    {"string_plus_string", "'a' + 'b' == 'ab'", DATA, 1},
    {"string_plus_integer", "'a' + 1 == 'a1'", DATA, 1},
    {"integer_plus_string", "1 + 'a' == '1a'", DATA, 1},
    {"integer_plus_numeric_string_joins", "1 + '1' == '11'", DATA, 1},
    {"empty_string_plus_number_is_the_number", "is_number('' + 5)", DATA, 1},
    {"number_plus_empty_string_is_the_number", "is_number(5 + '')", DATA, 1},
    {"float_prints_shortest", "'v' + (0.1 + 0.2) == 'v0.30000000000000004'", DATA, 1},
    {"whole_float_prints_without_point", "'v' + 2.0 == 'v2'", DATA, 1},
    {"large_float_prints_without_exponent",
     "'v' + 100000000000000000000.0 == 'v100000000000000000000'", DATA, 1},
    {"small_float_prints_without_exponent", "'v' + 0.000001 == 'v0.000001'", DATA, 1},
    {"negative_float_prints", "'v' + -1.5 == 'v-1.5'", DATA, 1},
    {"variable_joined_with_literal", "'<' + sender + '>' == '<alice@example.net>'", DATA, 1},
    {"array_plus_array_joins", "[1, 2] + [3] == [1, 2, 3]", DATA, 1},
    {"array_plus_value_appends", "[1] + 2 == [1, 2]", DATA, 1},
    {"value_plus_array_prepends", "0 + [1] == [0, 1]", DATA, 1},
    {"recipients_plus_address", "count(recipients + 'x@example.com') == 3", DATA, 1},
    {"array_minus_value_removes_it", "[1, 2, 3, 2] - 2 == [1, 3]", DATA, 1},
    {"array_minus_string_value", "['a', 'b', 'a'] - 'a' == ['b']", DATA, 1},

    /* comparisons */
    {"greater_than", "2 > 1", DATA, 1},
    {"greater_than_false", "1 > 2", DATA, 0},
    {"less_than", "1 < 2", DATA, 1},
    {"greater_or_equal", "2 >= 2", DATA, 1},
    {"less_or_equal", "2 <= 2", DATA, 1},
    {"less_or_equal_false", "3 <= 2", DATA, 0},
    {"arrow_ge_spelling", "2 => 2", DATA, 1},
    {"arrow_ge_spelling_false", "1 => 2", DATA, 0},
    {"arrow_le_spelling", "2 =< 3", DATA, 1},
    {"arrow_le_spelling_false", "3 =< 2", DATA, 0},
    {"single_equals_is_equality", "1 = 1", DATA, 1},
    {"single_equals_false", "1 = 2", DATA, 0},
    {"not_equal", "1 != 2", DATA, 1},
    {"not_equal_false", "2 != 2", DATA, 0},
    {"comparison_is_left_associative", "3 > 2 > 1", DATA, 0},
    {"equality_is_left_associative", "2 == 2 == 1", DATA, 1},
    {"arithmetic_before_comparison", "1 + 2 > 2", DATA, 1},
    {"comparison_before_equality", "1 + 2 > 2 == 1", DATA, 1},
    {"strings_compare_by_bytes", "'abc' < 'abd'", DATA, 1},
    {"prefix_sorts_first", "'ab' < 'abc'", DATA, 1},
    {"string_equality_is_case_sensitive", "'abc' != 'ABC'", DATA, 1},
    {"numeric_string_equals_number", "'25' == 25", DATA, 1},
    {"float_string_equals_integer", "'25.0' == 25", DATA, 1},
    {"numeric_string_compares_as_number", "'10' > 9", DATA, 1},
    {"two_numeric_strings_compare_as_text", "'10' > '9'", DATA, 0},
    {"non_numeric_string_equals_zero", "'abc' == 0", DATA, 1},
    {"non_numeric_string_below_number", "'a' < 5", DATA, 1},
    {"integer_equals_float", "1 == 1.0", DATA, 1},
    {"equal_arrays", "[1, 'a'] == [1, 'a']", DATA, 1},
    {"arrays_differ_in_order", "[1, 2] != [2, 1]", DATA, 1},
    {"array_is_not_its_item", "[1] == 1", DATA, 0},
    {"arrays_order_item_by_item", "[1, 2] < [1, 3]", DATA, 1},
    {"array_is_greater_than_a_string", "[1] > 'zzz'", DATA, 1},

    /* logic */
    {"and_true", "true && true", DATA, 1},
    {"and_false", "true && false", DATA, 0},
    {"single_ampersand_is_and", "true & false", DATA, 0},
    {"single_ampersand_true", "1 & 'x'", DATA, 1},
    {"or_true", "false || true", DATA, 1},
    {"or_false", "false || false", DATA, 0},
    {"single_bar_is_or", "false | true", DATA, 1},
    {"single_bar_false", "0 | ''", DATA, 0},
    {"xor_of_equals_is_false", "true ^ true", DATA, 0},
    {"xor_of_differents_is_true", "true ^ false", DATA, 1},
    {"not_true", "!true", DATA, 0},
    {"not_zero", "!0", DATA, 1},
    {"not_empty_string", "!''", DATA, 1},
    {"not_string", "!'x'", DATA, 0},
    {"not_empty_array", "![]", DATA, 1},
    {"double_not", "!!'x'", DATA, 1},
    {"and_binds_tighter_than_or", "true || false && false", DATA, 1},
    {"parentheses_around_or", "(true || false) && false", DATA, 0},
    {"xor_binds_tighter_than_and", "true ^ true && false", DATA, 0},
    {"xor_binds_tighter_than_or", "true ^ true || false", DATA, 0},
    {"equality_binds_tighter_than_xor", "1 == 1 ^ 1 == 2", DATA, 1},
    {"not_binds_tighter_than_equality", "!0 == 2", DATA, 0},
    {"not_of_parenthesised_equality", "!(0 == 2)", DATA, 1},
    {"or_keeps_the_deciding_value", "('abc' || false) == 'abc'", DATA, 1},
    {"and_gives_a_boolean_when_both_run", "('abc' && 'x') == 1", DATA, 1},
    {"long_or_chain_true_at_the_end", "0 || '' || [] || false || 1", DATA, 1},
    {"long_and_chain_false_at_the_end", "1 && 'x' && [1] && true && 0", DATA, 0},

    /* variables */
    {"remote_ip", "remote_ip == '192.0.2.1'", DATA, 1},
    {"remote_ip_other", "remote_ip == '192.0.2.2'", DATA, 0},
    {"remote_port_is_a_number", "remote_port == 40000 && is_number(remote_port)", DATA, 1},
    {"local_ip", "local_ip == '192.0.2.25'", DATA, 1},
    {"local_port", "local_port == 25", DATA, 1},
    {"listener", "listener == 'smtp'", DATA, 1},
    {"is_tls", "is_tls", DATA, 1},
    {"is_tls_false_when_plain", "is_tls", CONNECT, 0},
    {"authenticated_as", "authenticated_as == 'alice'", DATA, 1},
    {"helo_domain", "helo_domain == 'mail.example.net'", DATA, 1},
    {"sender_is_lowercased", "sender == 'alice@example.net'", DATA, 1},
    {"sender_domain", "sender_domain == 'example.net'", DATA, 1},
    {"rcpt_is_the_last_recipient", "rcpt == 'bob@example.com'", DATA, 1},
    {"rcpt_domain", "rcpt_domain == 'example.com'", DATA, 1},
    {"rcpt_domain_other", "rcpt_domain != 'skip.test'", DATA, 1},
    {"recipients_is_an_array", "recipients == ['carol@example.org', 'bob@example.com']", DATA, 1},
    {"recipients_count", "count(recipients) == 2", DATA, 1},
    {"recipients_index", "recipients[0] == 'carol@example.org' && recipients[1] == rcpt", DATA, 1},
    {"recipients_index_past_the_end", "recipients[5] == ''", DATA, 1},
    {"queue_id", "queue_id == '4XyZ1'", DATA, 1},
    {"unknown_sender_is_empty", "sender == ''", CONNECT, 1},
    {"unknown_rcpt_is_false", "rcpt", CONNECT, 0},
    {"unknown_rcpt_domain_is_empty", "rcpt_domain == ''", CONNECT, 1},
    {"unknown_recipients_count_zero", "count(recipients) == 0", CONNECT, 1},
    {"unknown_queue_id_is_empty", "is_empty(queue_id)", CONNECT, 1},
    {"unknown_helo_is_false", "helo_domain", CONNECT, 0},
    {"unknown_authenticated_as_is_empty", "authenticated_as == ''", CONNECT, 1},
    {"null_sender_is_empty", "sender == '' && sender_domain == ''", NULLMAIL, 1},
    {"null_sender_has_no_domain", "sender_domain", NULLMAIL, 0},
    {"known_ports_are_not_empty", "remote_port == '' || local_port == ''", NULLMAIL, 0},

    /* text functions */
    {"trim", "trim('  a b  ') == 'a b'", DATA, 1},
    {"trim_leaves_inner_space", "trim(' a ') == ' a'", DATA, 0},
    {"trim_of_array_trims_each", "trim([' a ', 'b ']) == ['a', 'b']", DATA, 1},
    {"trim_start", "trim_start('  a ') == 'a '", DATA, 1},
    {"trim_start_keeps_end", "trim_start('a ') == 'a'", DATA, 0},
    {"trim_end", "trim_end(' a  ') == ' a'", DATA, 1},
    {"trim_end_keeps_start", "trim_end(' a') == 'a'", DATA, 0},
    {"len_of_string_in_bytes", "len('h\xc3\xa9llo') == 6", DATA, 1},
    {"len_of_array_is_item_count", "len(['a', 'bc', 'def']) == 3", DATA, 1},
    {"len_of_number_is_its_text", "len(12345) == 5", DATA, 1},
    {"len_of_empty", "len('')", DATA, 0},
    {"to_lowercase", "to_lowercase('HeLLo 1') == 'hello 1'", DATA, 1},
    {"to_lowercase_changes_case", "to_lowercase('A') == 'A'", DATA, 0},
    {"to_uppercase", "to_uppercase('HeLLo 1') == 'HELLO 1'", DATA, 1},
    {"to_uppercase_of_array", "to_uppercase(['a', 'b']) == ['A', 'B']", DATA, 1},
    {"is_uppercase", "is_uppercase('HELLO 1')", DATA, 1},
    {"is_uppercase_false", "is_uppercase('Hello')", DATA, 0},
    {"is_lowercase", "is_lowercase('hello-1')", DATA, 1},
    {"is_lowercase_false", "is_lowercase('hEllo')", DATA, 0},
    {"has_digits", "has_digits('a1')", DATA, 1},
    {"has_digits_false", "has_digits('abc')", DATA, 0},
    {"count_spaces", "count_spaces('a b  c\t') == 4", DATA, 1},
    {"count_spaces_none", "count_spaces('abc')", DATA, 0},
    {"count_uppercase", "count_uppercase('Hello World') == 2", DATA, 1},
    {"count_uppercase_none", "count_uppercase('hello')", DATA, 0},
    {"count_lowercase", "count_lowercase('Hello World') == 8", DATA, 1},
    {"count_lowercase_none", "count_lowercase('ABC 1')", DATA, 0},
    {"count_chars_counts_utf8_characters", "count_chars('h\xc3\xa9llo') == 5", DATA, 1},
    {"count_chars_of_empty", "count_chars('')", DATA, 0},
    {"contains_substring", "contains('Hello World', 'World')", DATA, 1},
    {"contains_is_case_sensitive", "contains('Hello', 'hello')", DATA, 0},
    {"contains_array_item", "contains(['a', 'b'], 'b')", DATA, 1},
    {"contains_array_needs_whole_item", "contains(['ab'], 'b')", DATA, 0},
    {"contains_array_number_matches_string", "contains([1, 2], '2')", DATA, 1},
    {"contains_in_number_text", "contains(12345, 34)", DATA, 1},
    {"contains_ignore_case", "contains_ignore_case('Hello World', 'WORLD')", DATA, 1},
    {"contains_ignore_case_false", "contains_ignore_case('Hello', 'x')", DATA, 0},
    {"contains_ignore_case_array_item", "contains_ignore_case(['Re', 'Fwd'], 're')", DATA, 1},
    {"contains_ignore_case_array_whole_item", "contains_ignore_case(['Reply'], 're')", DATA, 0},
    {"eq_ignore_case", "eq_ignore_case('Example.COM', 'example.com')", DATA, 1},
    {"eq_ignore_case_false", "eq_ignore_case('a', 'ab')", DATA, 0},
    {"starts_with", "starts_with(remote_ip, '192.0.2.')", DATA, 1},
    {"starts_with_longer_prefix", "starts_with('abc', 'abcd')", DATA, 0},
    {"ends_with", "ends_with(rcpt, '@example.com')", DATA, 1},
    {"ends_with_false", "ends_with('abc', 'b')", DATA, 0},
    {"split", "split('a,b,,c', ',') == ['a', 'b', '', 'c']", DATA, 1},
    {"split_without_separator_gives_one", "split('abc', ',') == ['abc']", DATA, 1},
    {"split_of_empty_gives_one_empty", "split('', ',') == ['']", DATA, 1},
    {"split_on_empty_cuts_characters", "split('a\xc3\xa9', '') == ['', 'a', '\xc3\xa9', '']", DATA,
     1},
    {"split_then_index", "split(remote_ip, '.')[3] == '1'", DATA, 1},
    {"split_multibyte_separator", "split('a::b', '::') == ['a', 'b']", DATA, 1},
    {"split_not_equal", "split('a,b', ',') == ['a,b']", DATA, 0},

    /* array functions */
    {"count_array", "count(['a', 'b']) == 2", DATA, 1},
    {"count_string_is_one", "count('x') == 1", DATA, 1},
    {"count_empty_string_is_zero", "count('')", DATA, 0},
    {"count_number_is_one", "count(5) == 1", DATA, 1},
    {"sort_ascending_when_false", "sort(['b', 'c', 'a'], false) == ['a', 'b', 'c']", DATA, 1},
    {"sort_descending_when_true", "sort(['b', 'c', 'a'], true) == ['c', 'b', 'a']", DATA, 1},
    {"sort_numbers", "sort([3, 1, 2, 10], false) == [1, 2, 3, 10]", DATA, 1},
    {"sort_changes_order", "sort(['b', 'a'], false) == ['b', 'a']", DATA, 0},
    {"sort_recipients", "sort(recipients, false)[0] == 'bob@example.com'", DATA, 1},
    {"dedup_keeps_first", "dedup(['a', 'b', 'a']) == ['a', 'b']", DATA, 1},
    {"dedup_uses_equality", "count(dedup([1, '1', 2])) == 2", DATA, 1},
    {"dedup_without_repeats", "dedup(['a', 'b']) != ['a', 'b']", DATA, 0},
    {"winnow_drops_empty_strings", "winnow(['a', '', 'b', '']) == ['a', 'b']", DATA, 1},
    {"winnow_keeps_zero", "winnow([0, '']) == [0]", DATA, 1},
    {"winnow_of_all_empty", "winnow(['', ''])", DATA, 0},
    {"winnow_of_non_array", "winnow('x') == 'x'", DATA, 1},
    {"winnow_of_split", "count(winnow(split(',a,,b,', ','))) == 2", DATA, 1},
    {"is_intersect_arrays", "is_intersect(['a', 'b'], ['b', 'c'])", DATA, 1},
    {"is_intersect_disjoint", "is_intersect(['a'], ['c'])", DATA, 0},
    {"is_intersect_array_and_value", "is_intersect(recipients, 'bob@example.com')", DATA, 1},
    {"is_intersect_value_and_array", "is_intersect('x', ['x'])", DATA, 1},
    {"is_intersect_two_values_never", "is_intersect('a', 'a')", DATA, 0},

    /* e-mail functions */
    {"is_email", "is_email('user@example.com')", DATA, 1},
    {"is_email_of_variable", "is_email(sender)", DATA, 1},
    {"is_email_needs_a_dotted_domain", "is_email('user@localhost')", DATA, 0},
    {"is_email_refuses_double_dot", "is_email('a..b@example.com')", DATA, 0},
    {"is_email_takes_quoted_local_part", "is_email('\"john doe\"@example.com')", DATA, 1},
    {"is_email_needs_a_local_part", "is_email('@example.com')", DATA, 0},
    {"is_email_refuses_two_ats", "is_email('a@b@example.com')", DATA, 0},
    {"is_email_refuses_space", "is_email('a b@example.com')", DATA, 0},
    {"email_part_local", "email_part('user@example.com', 'local') == 'user'", DATA, 1},
    {"email_part_domain", "email_part('user@example.com', 'domain') == 'example.com'", DATA, 1},
    {"email_part_splits_at_last_at", "email_part('\"a@b\"@c.d', 'domain') == 'c.d'", DATA, 1},
    {"email_part_without_at", "email_part('no-at-sign', 'domain')", DATA, 0},
    {"email_part_unknown_part", "email_part('a@b.c', 'host')", DATA, 0},
    {"email_part_of_array", "email_part(recipients, 'domain') == ['example.org', 'example.com']",
     DATA, 1},

    /* misc functions */
    {"is_empty_string", "is_empty('')", DATA, 1},
    {"is_empty_array", "is_empty([])", DATA, 1},
    {"is_empty_false", "is_empty('x')", DATA, 0},
    {"is_empty_zero_is_not_empty", "is_empty(0)", DATA, 0},
    {"is_number_float", "is_number(1.5)", DATA, 1},
    {"is_number_string_is_not", "is_number('123')", DATA, 0},
    {"is_ip_addr_v4", "is_ip_addr('192.0.2.1')", DATA, 1},
    {"is_ip_addr_v6", "is_ip_addr('2001:db8::1')", DATA, 1},
    {"is_ip_addr_out_of_range", "is_ip_addr('300.1.1.1')", DATA, 0},
    {"is_ip_addr_name", "is_ip_addr('example.com')", DATA, 0},
    {"is_ipv4_addr", "is_ipv4_addr(remote_ip)", DATA, 1},
    {"is_ipv4_addr_of_v6", "is_ipv4_addr('::1')", DATA, 0},
    {"is_ipv6_addr", "is_ipv6_addr('::1')", DATA, 1},
    {"is_ipv6_addr_of_v4", "is_ipv6_addr('10.0.0.1')", DATA, 0},
    {"ip_reverse_name_v4", "ip_reverse_name('1.2.3.4') == '4.3.2.1'", DATA, 1},
    {"ip_reverse_name_v6",
     "ip_reverse_name('2001:db8::1') == "
     "'1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2'",
     DATA, 1},
    {"ip_reverse_name_of_non_address", "ip_reverse_name('nope')", DATA, 0},
    {"matches_literal_pattern", "matches('^192\\.0\\.2\\.', remote_ip)", DATA, 1},
    {"matches_false", "matches('^[0-9]+$', 'abc')", DATA, 0},
    {"matches_searches_anywhere", "matches('ob', 'bob')", DATA, 1},
    {"matches_backslash_class", "matches('\\d{3}', 'ab123')", DATA, 1},
    {"matches_inline_flags", "matches('(?i)EXAMPLE\\.COM$', rcpt_domain)", DATA, 1},
    {"matches_utf8_character", "matches('^h.llo$', 'h\xc3\xa9llo')", DATA, 1},
    {"matches_invalid_utf8_subject", "matches('x', '\xff x')", DATA, 1},
    {"matches_built_pattern", "matches('^' + 'b', 'bob')", DATA, 1},
    {"matches_invalid_built_pattern_is_false", "matches('(' + '', 'x')", DATA, 0},

    /* indexing */
    {"index_split", "split('a.b.c', '.')[1] == 'b'", DATA, 1},
    {"index_of_plain_value_is_the_value", "'abc'[0] == 'abc'", DATA, 1},
    {"negative_index_is_past_the_end", "[1, 2, 3][-1] == ''", DATA, 1},
    {"string_index_is_parsed", "[1, 2, 3]['2'] == 3", DATA, 1},
    {"nested_index", "[[1, 2], 3][0][1] == 2", DATA, 1},
};

/* ---- expressions that must be refused --------------------------------------------------- */

static const struct error_case error_cases[] = {
    {"err_empty_expression", "", "empty expression", 1},
    {"err_blank_expression", "   ", "empty expression", 1},
    {"err_unknown_variable", "remot_ip == '1'", "unknown variable 'remot_ip'", 1},
    {"err_unknown_variable_on_the_right", "remote_ip == remot_ip", "unknown variable 'remot_ip'",
     14},
    {"err_stalwart_queue_variable", "mx == 'a'", "variable 'mx' is not known to a milter", 1},
    {"err_capture_variable", "$1 == 'x'", "unknown variable '$1'", 1},
    {"err_unknown_function", "trimm(sender)", "unknown function 'trimm'", 1},
    {"err_store_function", "is_local_domain('', rcpt_domain)",
     "function 'is_local_domain' needs a Stalwart store and is not available here", 1},
    {"err_too_few_arguments", "1 + trim()", "function 'trim' takes 1 argument, not 0", 5},
    {"err_too_many_arguments", "trim(1, 2)", "function 'trim' takes 1 argument, not 2", 1},
    {"err_two_argument_function", "contains('a')", "function 'contains' takes 2 arguments, not 1",
     1},
    {"err_bad_regex", "matches('(', rcpt)",
     "invalid regular expression: missing closing parenthesis (at offset 1 of the pattern)", 9},
    {"err_bad_regex_after_blanks", "matches(  '[a-', rcpt)",
     "invalid regular expression: missing terminating ] for character class (at offset 3 of "
     "the pattern)",
     11},
    {"err_unterminated_string", "'abc", "unterminated string", 1},
    {"err_unterminated_double_quoted", "sender == \"abc", "unterminated string", 11},
    {"err_escaped_quote_does_not_close", "'abc\\'", "unterminated string", 1},
    {"err_operator_at_end", "1 +", "unexpected end of expression", 4},
    {"err_not_at_end", "!", "unexpected end of expression", 2},
    {"err_unclosed_paren", "(1 + 2", "unclosed '('", 1},
    {"err_unmatched_paren", "1 + 2)", "unmatched ')'", 6},
    {"err_lone_close_paren", ")", "unmatched ')'", 1},
    {"err_unclosed_call", "trim(sender", "unclosed '('", 5},
    {"err_unclosed_array", "[1, 2", "unclosed '['", 1},
    {"err_unclosed_index", "recipients[0", "unclosed '['", 11},
    {"err_two_operands", "1 2", "unexpected '2'", 3},
    {"err_two_variables", "sender sender", "unexpected 'sender'", 8},
    {"err_double_plus", "1 ++ 2", "unexpected '+'", 4},
    {"err_diamond_is_not_an_operator", "1 <> 2", "unexpected '>'", 4},
    {"err_invalid_character", "1 # 2", "unexpected character '#'", 3},
    {"err_lone_dot", "1 + .", "unexpected character '.'", 5},
    {"err_control_byte", "1 == \x01", "unexpected byte 0x01", 6},
    {"err_high_byte", "\xc3\xa9", "unexpected byte 0xc3", 1},
    {"err_number_with_letters", "12abc", "invalid number '12abc'", 1},
    {"err_number_with_two_dots", "1.2.3", "invalid number '1.2.3'", 1},
    {"err_exponent_is_not_a_number", "1e5", "invalid number '1e5'", 1},
    {"err_integer_too_large", "99999999999999999999", "number out of range '99999999999999999999'",
     1},
    {"err_empty_argument", "trim(,)", "unexpected ','", 6},
    {"err_trailing_comma", "[1,]", "unexpected ']'", 4},
    {"err_comma_at_top", "1, 2", "unexpected ','", 2},
    {"err_function_name_alone", "trim", "unknown variable 'trim'", 1},
    {"err_long_name_is_cut", "abcdefghijklmnopqrstuvwxyz0123456789 == 1",
     "unknown variable 'abcdefghijklmnopqrstuvwx...'", 1},
};

/* ---- enable values as the configuration holds them --------------------------------------- */

static const struct json_case json_cases[] = {
    {"json_true", "true", DATA, 1},
    {"json_false", "false", DATA, 0},
    {"json_integer_one", "1", DATA, 1},
    {"json_integer_zero", "0", DATA, 0},
    {"json_float_zero", "0.0", DATA, 0},
    {"json_float", "2.5", DATA, 1},
    {"json_string_true", "\"true\"", DATA, 1},
    {"json_string_false", "\"false\"", DATA, 0},
    {"json_expression", "\"remote_ip == '192.0.2.1'\"", DATA, 1},
    {"json_if_then_taken",
     "[{\"if\": \"remote_ip == '192.0.2.1'\", \"then\": true}, {\"else\": false}]", DATA, 1},
    {"json_if_else_taken",
     "[{\"if\": \"remote_ip == '192.0.2.1'\", \"then\": true}, {\"else\": false}]", CONNECT, 0},
    {"json_first_true_if_wins",
     "[{\"if\": \"true\", \"then\": false}, {\"if\": \"true\", \"then\": true}]", DATA, 0},
    {"json_second_if_when_first_false",
     "[{\"if\": \"is_tls\", \"then\": false}, {\"if\": \"listener == 'smtp'\", \"then\": true}]",
     CONNECT, 1},
    {"json_no_else_is_false", "[{\"if\": \"false\", \"then\": true}]", DATA, 0},
    {"json_else_expression", "[{\"if\": \"false\", \"then\": false}, {\"else\": \"1 == 1\"}]", DATA,
     1},
    {"json_then_expression",
     "[{\"if\": \"is_tls\", \"then\": \"rcpt_domain == 'example.com'\"}, {\"else\": false}]", DATA,
     1},
    {"json_then_number", "[{\"if\": true, \"then\": 0}, {\"else\": 1}]", DATA, 0},
    {"json_if_number", "[{\"if\": 0, \"then\": true}, {\"else\": 1}]", DATA, 1},
    {"json_only_else", "[{\"else\": \"sender_domain == 'example.net'\"}]", DATA, 1},
};

static const struct json_error_case json_error_cases[] = {
    {"json_err_unknown_variable_in_if", "[{\"if\": \"remot_ip == 'x'\", \"then\": true}]", "[1].if",
     "unknown variable 'remot_ip'", 1},
    {"json_err_bad_then", "[{\"if\": \"true\", \"then\": \"1 +\"}]", "[1].then",
     "unexpected end of expression", 4},
    {"json_err_bad_else", "[{\"if\": \"true\", \"then\": true}, {\"else\": \"sender_domain ==\"}]",
     "[2].else", "unexpected end of expression", 17},
    {"json_err_bad_second_if",
     "[{\"if\": \"true\", \"then\": true}, {\"if\": \"trim()\", \"then\": true}]", "[2].if",
     "function 'trim' takes 1 argument, not 0", 1},
    {"json_err_plain_expression", "\"trim(1, 2)\"", "", "function 'trim' takes 1 argument, not 2",
     1},
    {"json_err_if_without_then", "[{\"if\": \"true\"}]", "[1]", "if without then", 0},
    {"json_err_then_without_if", "[{\"then\": true}]", "[1]", "then without if", 0},
    {"json_err_empty_table", "[{}]", "[1]", "an empty table", 0},
    {"json_err_else_not_last", "[{\"else\": true}, {\"if\": \"true\", \"then\": true}]", "[1].else",
     "else must be the last entry", 0},
    {"json_err_else_with_if", "[{\"if\": \"true\", \"then\": true, \"else\": false}]", "[1]",
     "else stands alone: { else = ... }", 0},
    {"json_err_unknown_key", "[{\"if\": \"true\", \"then\": true, \"when\": 1}]", "[1]",
     "unknown key 'when' (expected if, then or else)", 0},
    {"json_err_empty_list", "[]", "", "an if/then/else list must not be empty", 0},
    {"json_err_list_item_not_a_table", "[true]", "[1]",
     "expected a table: { if = ..., then = ... } or { else = ... }", 0},
    {"json_err_table", "{\"if\": \"true\"}", "",
     "expected a boolean, a number, an expression string or an if/then/else list", 0},
    {"json_err_if_is_an_array", "[{\"if\": [1], \"then\": true}]", "[1].if",
     "expected a boolean, a number or an expression string", 0},
    {"json_err_empty_string", "\"\"", "", "empty expression", 1},
};

/* ---- runners ----------------------------------------------------------------------------- */

/* compile_ok - compile text, failing the test with the message if it is refused */
static struct expr *compile_ok(const char *text)
{
	struct expr_error err;
	struct expr *e = expr_compile(text, &err);

	if (e == NULL)
		fail_msg("'%s' refused: column %u: %s", text, err.column, err.msg);
	return e;
}

/* run_eval - an eval_case: compile, evaluate, compare */
static void run_eval(void **state)
{
	const struct eval_case *c = *state;
	struct expr *e = compile_ok(c->text);

	assert_int_equal(expr_eval(e, vars_for(c->vars)), c->want);
	/* A second evaluation gives the same: nothing is kept between calls. */
	assert_int_equal(expr_eval(e, vars_for(c->vars)), c->want);
	expr_free(e);
}

/* run_error - an error_case: refused with the message and column */
static void run_error(void **state)
{
	const struct error_case *c = *state;
	struct expr_error err;
	char *copy = strdup(c->text);

	/* an exact-size heap copy lets valgrind see any read past the end */
	assert_non_null(copy);
	memset(&err, 'X', sizeof(err));
	assert_null(expr_compile(copy, &err));
	assert_string_equal(err.msg, c->msg);
	assert_int_equal(err.column, c->column);
	assert_string_equal(err.where, "");
	free(copy);
}

/* run_json - a json_case: the value compiles and evaluates as expected */
static void run_json(void **state)
{
	const struct json_case *c = *state;
	struct json_object *v = json_tokener_parse(c->json);
	struct expr_error err;
	struct expr *e;

	assert_non_null(v);
	e = expr_compile_json(v, &err);
	if (e == NULL)
		fail_msg("%s refused: %s: column %u: %s", c->json, err.where, err.column, err.msg);
	assert_int_equal(expr_eval(e, vars_for(c->vars)), c->want);
	expr_free(e);
	json_object_put(v);
}

/* run_json_error - a json_error_case: refused, with where, message and column */
static void run_json_error(void **state)
{
	const struct json_error_case *c = *state;
	struct json_object *v = json_tokener_parse(c->json);
	struct expr_error err;

	assert_non_null(v);
	memset(&err, 'X', sizeof(err));
	assert_null(expr_compile_json(v, &err));
	assert_string_equal(err.where, c->where);
	assert_string_equal(err.msg, c->msg);
	assert_int_equal(err.column, c->column);
	json_object_put(v);
}

/* ---- named tests ------------------------------------------------------------------------- */

/* expect_constant - compile a JSON value and check what expr_is_constant says */
static void expect_constant(const char *json, int constant, int value)
{
	struct json_object *v = json_tokener_parse(json);
	struct expr_error err;
	struct expr *e;
	int got = -1;

	assert_non_null(v);
	e = expr_compile_json(v, &err);
	if (e == NULL)
		fail_msg("%s refused: %s", json, err.msg);
	assert_int_equal(expr_is_constant(e, &got), constant);
	if (constant) {
		assert_int_equal(got, value);
		/* and the evaluation agrees, whatever the session */
		assert_int_equal(expr_eval(e, &data_vars), value);
		assert_int_equal(expr_eval(e, &connect_vars), value);
	} else {
		assert_int_equal(got, -1);
	}
	expr_free(e);
	json_object_put(v);
}

/* test_constant_values_are_recognised - what reads no variable, or cannot change, is constant */
static void test_constant_values_are_recognised(void **state)
{
	(void)state;
	expect_constant("true", 1, 1);
	expect_constant("false", 1, 0);
	expect_constant("0", 1, 0);
	expect_constant("\"1 == 1\"", 1, 1);
	expect_constant("\"1 == 2\"", 1, 0);
	expect_constant("\"trim(' x ') == 'x' && len([1, 2]) == 2\"", 1, 1);
	expect_constant("\"matches('^a', 'abc')\"", 1, 1);
	expect_constant("\"remote_ip == '192.0.2.1'\"", 0, 0);
	expect_constant("\"is_tls\"", 0, 0);
	expect_constant("\"false && is_tls\"", 0, 0); /* reads a variable: not folded */
	/* Every outcome false: constant false, whatever the conditions. */
	expect_constant("[{\"if\": \"remote_ip == 'x'\", \"then\": false}, {\"else\": false}]", 1,
	                0);
	expect_constant("[{\"if\": \"is_tls\", \"then\": \"1 == 2\"}]", 1, 0);
	/* A constant true condition ends the list. */
	expect_constant("[{\"if\": \"1\", \"then\": true}, {\"if\": \"is_tls\", \"then\": false}]",
	                1, 1);
	/* A constant false condition is never taken. */
	expect_constant("[{\"if\": \"false\", \"then\": \"is_tls\"}, {\"else\": true}]", 1, 1);
	expect_constant("[{\"if\": \"true\", \"then\": \"is_tls\"}]", 0, 0);
	expect_constant("[{\"if\": \"is_tls\", \"then\": true}, {\"else\": false}]", 0, 0);
	expect_constant("[{\"if\": \"is_tls\", \"then\": true}, {\"else\": true}]", 1, 1);
}

/* test_null_arguments_are_safe - NULL expression, NULL vars, NULL err */
static void test_null_arguments_are_safe(void **state)
{
	struct expr_error err;
	struct expr *e;
	int value = 7;

	(void)state;
	assert_int_equal(expr_eval(NULL, &data_vars), 0);
	assert_int_equal(expr_is_constant(NULL, &value), 0);
	assert_int_equal(value, 7);
	expr_free(NULL);
	assert_null(expr_compile(NULL, &err));
	assert_string_equal(err.msg, "empty expression");
	assert_null(expr_compile("1 +", NULL));
	assert_null(expr_compile_json(NULL, &err));
	assert_string_equal(err.where, "");
	/* NULL vars: nothing is known */
	e = compile_ok("sender == '' && count(recipients) == 0 && remote_port == ''");
	assert_int_equal(expr_eval(e, NULL), 1);
	expr_free(e);
	e = expr_compile("is_tls || 1", NULL);
	assert_non_null(e);
	assert_int_equal(expr_eval(e, NULL), 1);
	expr_free(e);
}

/* test_success_leaves_err_clear - a compiled value leaves no message behind */
static void test_success_leaves_err_clear(void **state)
{
	struct json_object *v = json_tokener_parse("[{\"if\": \"is_tls\", \"then\": true}]");
	struct expr_error err;
	struct expr *e;

	(void)state;
	memset(&err, 'X', sizeof(err));
	e = expr_compile_json(v, &err);
	assert_non_null(e);
	assert_string_equal(err.msg, "");
	assert_string_equal(err.where, "");
	assert_int_equal(err.column, 0);
	expr_free(e);
	json_object_put(v);
}

/* nested - n copies of open, then core, then n copies of close */
static char *nested(const char *open, const char *core, const char *close, size_t n)
{
	size_t lo = strlen(open), lc = strlen(core), lx = strlen(close), i;
	char *s = malloc(n * (lo + lx) + lc + 1), *p = s;

	assert_non_null(s);
	for (i = 0; i < n; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, core, lc);
	p += lc;
	for (i = 0; i < n; i++, p += lx)
		memcpy(p, close, lx);
	*p = '\0';
	return s;
}

/* expect_depth - n levels compile, n + 1 are refused at the column of the extra level */
static void expect_depth(const char *open, const char *core, const char *close)
{
	struct expr_error err;
	struct expr *e;
	char *s = nested(open, core, close, 64);

	e = expr_compile(s, &err);
	if (e == NULL)
		fail_msg("64 levels of %s refused: %s", open, err.msg);
	expr_free(e);
	free(s);
	s = nested(open, core, close, 65);
	assert_null(expr_compile(s, &err));
	assert_string_equal(err.msg, "nesting deeper than 64 levels");
	assert_int_equal(err.column, 64 * strlen(open) + 1);
	free(s);
}

/* test_nesting_is_bounded_at_64 - parentheses, arrays, calls, indexes and unary operators */
static void test_nesting_is_bounded_at_64(void **state)
{
	(void)state;
	expect_depth("(", "1", ")");
	expect_depth("[", "1", "]");
	expect_depth("trim(", "1", ")");
	expect_depth("!", "1", "");
	expect_depth("-", "1", "");
}

/* test_long_flat_chains_are_not_nesting - thousands of operands at one level evaluate */
static void test_long_flat_chains_are_not_nesting(void **state)
{
	const size_t n = 5000;
	char *s = malloc(n * 4 + 16), *p = s;
	struct expr *e;
	size_t i;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < n; i++)
		p += sprintf(p, i ? " + 1" : "1");
	sprintf(p, " == %zu", n);
	e = compile_ok(s);
	assert_int_equal(expr_eval(e, &data_vars), 1);
	expr_free(e);
	p = s;
	for (i = 0; i < n; i++)
		p += sprintf(p, i ? "||0" : "0");
	e = compile_ok(s);
	assert_int_equal(expr_eval(e, &data_vars), 0);
	expr_free(e);
	free(s);
}

/* test_overlong_expression_is_refused - the text is bounded */
static void test_overlong_expression_is_refused(void **state)
{
	char *s = malloc(65538);
	struct expr_error err;

	(void)state;
	assert_non_null(s);
	memset(s, ' ', 65537);
	s[0] = '1';
	s[65537] = '\0';
	assert_null(expr_compile(s, &err));
	assert_string_equal(err.msg, "expression longer than 65536 bytes");
	assert_int_equal(err.column, 0);
	s[65536] = '\0'; /* exactly the limit is fine */
	expr_free(compile_ok(s));
	free(s);
}

/* test_catastrophic_regex_is_bounded - a pattern that backtracks forever just does not match */
static void test_catastrophic_regex_is_bounded(void **state)
{
	struct expr *e;

	(void)state;
	e = compile_ok("matches('^(a+)+$', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab')");
	assert_int_equal(expr_eval(e, &data_vars), 0);
	expr_free(e);
}

/* test_big_values_hit_the_evaluation_limit - scratch memory is bounded; past it, false */
static void test_big_values_hit_the_evaluation_limit(void **state)
{
	static char big[1 << 20];
	const char *rcpts[1] = {big};
	struct expr_vars v = data_vars;
	struct expr *e;
	char text[256];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	v.rcpt = big;
	v.recipients = rcpts;
	v.nrecipients = 1;
	/* Each copy of the 1 MiB rcpt costs scratch memory: four fit in 16 MiB, twenty do not. */
	e = compile_ok("len(rcpt + rcpt + rcpt + rcpt) == 4194300");
	assert_int_equal(expr_eval(e, &v), 1);
	expr_free(e);
	snprintf(text, sizeof(text), "len(%s) > 0",
	         "rcpt+rcpt+rcpt+rcpt+rcpt+rcpt+rcpt+rcpt+rcpt+rcpt+rcpt+rcpt+rcpt+rcpt+rcpt+rcpt+"
	         "rcpt+rcpt+rcpt+rcpt");
	e = compile_ok(text);
	assert_int_equal(expr_eval(e, &v), 0);
	expr_free(e);
}

struct thread_job {
	const struct expr *e;
	int ok;
};

/* thread_eval - evaluate one shared expression many times with alternating sessions */
static void *thread_eval(void *arg)
{
	struct thread_job *job = arg;
	int i;

	job->ok = 1;
	for (i = 0; i < 2000; i++) {
		if (expr_eval(job->e, &data_vars) != 1 || expr_eval(job->e, &connect_vars) != 0)
			job->ok = 0;
	}
	return NULL;
}

/* test_many_threads_share_one_compiled_expression - evaluation is reentrant */
static void test_many_threads_share_one_compiled_expression(void **state)
{
	struct expr *e;
	pthread_t threads[4];
	struct thread_job jobs[4];
	int t;

	(void)state;
	e = compile_ok("matches('^192\\.0\\.2\\.', remote_ip) && "
	               "email_part(sort(recipients, false), 'domain')[1] == 'example.org' && "
	               "split(sender, '@')[1] + '' == sender_domain && 'x' + 1.5 == 'x1.5'");
	for (t = 0; t < 4; t++) {
		jobs[t].e = e;
		jobs[t].ok = 0;
		assert_int_equal(pthread_create(&threads[t], NULL, thread_eval, &jobs[t]), 0);
	}
	for (t = 0; t < 4; t++) {
		assert_int_equal(pthread_join(threads[t], NULL), 0);
		assert_true(jobs[t].ok);
	}
	expr_free(e);
}

/* try_text - compile whatever it is; when it compiles, evaluate it against both sessions */
static void try_text(const char *text)
{
	struct expr_error err;
	struct expr *e = expr_compile(text, &err);

	if (e == NULL) {
		assert_true(err.msg[0] != '\0');
		assert_true(strlen(err.msg) < sizeof(err.msg));
		assert_true(err.column <= strlen(text) + 1);
		return;
	}
	(void)expr_eval(e, &data_vars);
	(void)expr_eval(e, &connect_vars);
	(void)expr_eval(e, NULL);
	expr_free(e);
}

/* test_arbitrary_bytes_never_crash - prefixes, single bytes, pseudo-random soup */
static void test_arbitrary_bytes_never_crash(void **state)
{
	static const char *const seeds[] = {
	    "matches('^(a|b)*$', trim(split(sender, '@')[0])) && !is_empty(recipients) || "
	    "sort(dedup(winnow(recipients + ['', rcpt])), true)[0] =< \"z\\\"q\"",
	    "[1, 2.5, 'x', [3, [4]]] - 2 + -(-1) * 3 / 0 ^ email_part(rcpt, 'domain') => 'a'",
	    "is_intersect(split(helo_domain, '.'), ['example']) & contains_ignore_case(sender, "
	    "'X')",
	};
	static const char alphabet[] = "()[],'\"\\!-+*/^&|=<>.0123456789 abtrue_$\x01\xff";
	char buf[64];
	uint32_t x = 12345;
	size_t s, i, n;
	int c, k;

	(void)state;
	for (s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		n = strlen(seeds[s]);
		for (i = 0; i <= n; i++) {
			char *p = strndup(seeds[s], i);

			assert_non_null(p);
			try_text(p);
			free(p);
		}
	}
	for (c = 1; c < 256; c++) {
		buf[0] = (char)c;
		buf[1] = '\0';
		try_text(buf);
	}
	for (k = 0; k < 5000; k++) {
		n = 1 + k % (sizeof(buf) - 1);
		for (i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = alphabet[(x >> 16) % (sizeof(alphabet) - 1)];
		}
		buf[n] = '\0';
		try_text(buf);
	}
}

/* test_then_and_else_columns_point_into_their_own_string - where and column together */
static void test_then_and_else_columns_point_into_their_own_string(void **state)
{
	struct json_object *v =
	    json_tokener_parse("[{\"if\": \"is_tls\", \"then\": true}, {\"if\": \"rcpt_domain == "
	                       "'a' && x\", \"then\": "
	                       "true}, {\"else\": false}]");
	struct expr_error err;

	(void)state;
	assert_null(expr_compile_json(v, &err));
	assert_string_equal(err.where, "[2].if");
	assert_string_equal(err.msg, "unknown variable 'x'");
	assert_int_equal(err.column, 23);
	json_object_put(v);
}

/*
 * test_split_on_empty_counts_a_leading_continuation_byte - found by fuzzing: text that starts
 * with a UTF-8 continuation byte has one piece more than it has lead bytes, and the array was
 * sized by lead bytes. Long enough that the array gets a block of its own (ARENA_CHUNK), so
 * under AddressSanitizer a write past it is caught.
 */
static void test_split_on_empty_counts_a_leading_continuation_byte(void **state)
{
	static const char head[] = "count(split('\x80", tail[] = "', '')) == 403";
	char text[sizeof head + 400 + sizeof tail];
	struct expr_error err;
	struct expr *e;

	(void)state;
	memcpy(text, head, sizeof head - 1);
	memset(text + sizeof head - 1, 'a', 400);
	memcpy(text + sizeof head - 1 + 400, tail, sizeof tail);
	e = expr_compile(text, &err);
	if (e == NULL)
		fail_msg("refused: %s", err.msg);
	/* "", "\x80", 400 x "a", "" */
	assert_int_equal(expr_eval(e, &data_vars), 1);
	expr_free(e);
	e = expr_compile("split('\x80"
	                 "a\x80', '') == ['', '\x80', 'a\x80', '']",
	                 &err);
	assert_non_null(e);
	assert_int_equal(expr_eval(e, &data_vars), 1);
	expr_free(e);
}

/* ---- the group --------------------------------------------------------------------------- */

static const struct CMUnitTest named_tests[] = {
    cmocka_unit_test(test_constant_values_are_recognised),
    cmocka_unit_test(test_null_arguments_are_safe),
    cmocka_unit_test(test_success_leaves_err_clear),
    cmocka_unit_test(test_nesting_is_bounded_at_64),
    cmocka_unit_test(test_long_flat_chains_are_not_nesting),
    cmocka_unit_test(test_overlong_expression_is_refused),
    cmocka_unit_test(test_catastrophic_regex_is_bounded),
    cmocka_unit_test(test_big_values_hit_the_evaluation_limit),
    cmocka_unit_test(test_many_threads_share_one_compiled_expression),
    cmocka_unit_test(test_arbitrary_bytes_never_crash),
    cmocka_unit_test(test_then_and_else_columns_point_into_their_own_string),
    cmocka_unit_test(test_split_on_empty_counts_a_leading_continuation_byte),
};

#define N_NAMED     (sizeof(named_tests) / sizeof(named_tests[0]))
#define N_EVAL      (sizeof(eval_cases) / sizeof(eval_cases[0]))
#define N_ERROR     (sizeof(error_cases) / sizeof(error_cases[0]))
#define N_JSON      (sizeof(json_cases) / sizeof(json_cases[0]))
#define N_JSONERROR (sizeof(json_error_cases) / sizeof(json_error_cases[0]))

/* main - one group: the named tests, then one test per table row, named by the row */
int main(void)
{
	static struct CMUnitTest tests[N_NAMED + N_EVAL + N_ERROR + N_JSON + N_JSONERROR];
	size_t i, n = 0;

	for (i = 0; i < N_NAMED; i++)
		tests[n++] = named_tests[i];
	for (i = 0; i < N_EVAL; i++) {
		tests[n].name = eval_cases[i].name;
		tests[n].test_func = run_eval;
		tests[n].initial_state = (void *)&eval_cases[i];
		n++;
	}
	for (i = 0; i < N_ERROR; i++) {
		tests[n].name = error_cases[i].name;
		tests[n].test_func = run_error;
		tests[n].initial_state = (void *)&error_cases[i];
		n++;
	}
	for (i = 0; i < N_JSON; i++) {
		tests[n].name = json_cases[i].name;
		tests[n].test_func = run_json;
		tests[n].initial_state = (void *)&json_cases[i];
		n++;
	}
	for (i = 0; i < N_JSONERROR; i++) {
		tests[n].name = json_error_cases[i].name;
		tests[n].test_func = run_json_error;
		tests[n].initial_state = (void *)&json_error_cases[i];
		n++;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
