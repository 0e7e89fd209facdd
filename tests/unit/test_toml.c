/* test_toml.c - unit tests for the TOML reader (src/toml.c) */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "toml.h"

/* A document that must parse, and the tree it must give, as plain JSON. */
struct valid_case {
	const char *name;
	const char *text;
	const char *json;
};

/* A document that must be refused with exactly this message. */
struct error_case {
	const char *name;
	const char *text;
	size_t len; /* 0: strlen(text); set when the text holds a NUL */
	const char *err;
};

/* A float and the double it must read as (exact: both sides round correctly). */
struct float_case {
	const char *text;
	double value;
};

static struct toml_doc *parse_ok(const char *text);
static struct json_object *get(struct json_object *obj, const char *path);
static const char *plain(struct json_object *obj);
static void run_valid(void **state);
static void run_error(void **state);

/* parse_ok - parse text, failing the test (with the message) if it is refused */
static struct toml_doc *parse_ok(const char *text)
{
	char err[256] = "";
	struct toml_doc *doc = toml_parse(text, strlen(text), err, sizeof err);

	if (doc == NULL)
		fail_msg("parse failed: %s", err);
	return doc;
}

/* get - follow a path of object keys separated by '/' (keys here hold no '/') */
static struct json_object *get(struct json_object *obj, const char *path)
{
	char key[128];
	const char *slash;
	size_t len;

	while (obj != NULL && *path != '\0') {
		slash = strchr(path, '/');
		len = slash ? (size_t)(slash - path) : strlen(path);
		assert_true(len < sizeof key);
		memcpy(key, path, len);
		key[len] = '\0';
		if (!json_object_object_get_ex(obj, key, &obj))
			return NULL;
		path += len + (slash != NULL);
	}
	return obj;
}

/* plain - the compact JSON text of a tree, for comparing whole documents */
static const char *plain(struct json_object *obj)
{
	return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	                                               JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* ---- table-driven cases ------------------------------------------------- */

static const struct valid_case valid_cases[] = {
    {"test_decimal_integers_with_sign_and_underscores",
     "a = 42\nb = +17\nc = -17\nd = 0\ne = -0\nf = 1_000_000\n",
     "{\"a\":42,\"b\":17,\"c\":-17,\"d\":0,\"e\":0,\"f\":1000000}"},
    {"test_hex_octal_binary_integers", "h = 0xDEAD_beef\no = 0o755\nb = 0b1101\nz = 0x0\n",
     "{\"h\":3735928559,\"o\":493,\"b\":13,\"z\":0}"},
    {"test_int64_limits_are_accepted",
     "max = 9223372036854775807\nmin = -9223372036854775808\nhex = 0x7fffffffffffffff\n",
     "{\"max\":9223372036854775807,\"min\":-9223372036854775808,\"hex\":9223372036854775807}"},
    {"test_booleans", "t = true\nf = false\n", "{\"t\":true,\"f\":false}"},
    {"test_basic_string_escapes", "s = \"q\\\" b\\\\ t\\t n\\n r\\r f\\f b\\b\"\n",
     "{\"s\":\"q\\\" b\\\\ t\\t n\\n r\\r f\\f b\\b\"}"},
    {"test_unicode_escapes_become_utf8", "s = \"\\u00e9\\u20AC\\U0001F600\\u007f\"\n",
     "{\"s\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"}"},
    {"test_literal_string_keeps_backslashes", "p = 'C:\\Users\\nodejs\\n'\n",
     "{\"p\":\"C:\\\\Users\\\\nodejs\\\\n\"}"},
    {"test_raw_utf8_and_tab_in_strings", "s = \"caf\xc3\xa9\tx\"\nl = 'na\xc3\xafve'\n",
     "{\"s\":\"caf\xc3\xa9\\tx\",\"l\":\"na\xc3\xafve\"}"},
    {"test_empty_strings", "a = \"\"\nb = ''\nc = \"\"\"\"\"\"\nd = ''''''\n",
     "{\"a\":\"\",\"b\":\"\",\"c\":\"\",\"d\":\"\"}"},
    {"test_multiline_basic_trims_first_newline", "s = \"\"\"\nRoses\nare red\"\"\"\n",
     "{\"s\":\"Roses\\nare red\"}"},
    {"test_multiline_basic_line_ending_backslash",
     "s = \"\"\"\\\n    The quick \\\n\n    brown \\   \n    fox.\\\n    \"\"\"\n",
     "{\"s\":\"The quick brown fox.\"}"},
    {"test_multiline_basic_allows_adjacent_quotes", "s = \"\"\"\"q\"\" \"\"\"\"\"\n",
     "{\"s\":\"\\\"q\\\"\\\" \\\"\\\"\"}"},
    {"test_multiline_literal_keeps_everything", "s = '''\nfirst \\n\n  second'''\n",
     "{\"s\":\"first \\\\n\\n  second\"}"},
    {"test_multiline_literal_allows_adjacent_quotes", "s = ''''x'' '''''\n", "{\"s\":\"'x'' ''\"}"},
    {"test_multiline_strings_fold_crlf_to_lf", "s = \"\"\"a\r\nb\"\"\"\r\nl = '''c\r\nd'''\r\n",
     "{\"s\":\"a\\nb\",\"l\":\"c\\nd\"}"},
    {"test_hash_inside_string_is_not_a_comment", "s = \"a # b\" # c\n", "{\"s\":\"a # b\"}"},
    {"test_array_over_lines_with_comments_and_trailing_comma",
     "stages = [\"connect\", \"ehlo\",\n          \"mail\", ]   # comment\n"
     "x = [\n  1, # one\n  # nothing\n  2,\n]\n",
     "{\"stages\":[\"connect\",\"ehlo\",\"mail\"],\"x\":[1,2]}"},
    {"test_nested_and_mixed_arrays", "a = [[1, 2], [\"x\", [true]], [], {}]\n",
     "{\"a\":[[1,2],[\"x\",[true]],[],{}]}"},
    {"test_inline_tables_in_an_array",
     "enable = [ { if = \"remote_ip == '1.2.3.4'\", then = true }, { else = false } ]\n",
     "{\"enable\":[{\"if\":\"remote_ip == '1.2.3.4'\",\"then\":true},{\"else\":false}]}"},
    {"test_inline_table_with_dotted_keys",
     "p = { name.first = \"A\", name.last = \"B\", n = {} }\n",
     "{\"p\":{\"name\":{\"first\":\"A\",\"last\":\"B\"},\"n\":{}}}"},
    {"test_dotted_and_quoted_keys", "a.b.\"c d\" = 1\na . b . 'e.f' = 2\n\"\" = 3\n",
     "{\"a\":{\"b\":{\"c d\":1,\"e.f\":2}},\"\":3}"},
    {"test_bare_keys_of_digits_and_dashes", "1234 = 1\n-_- = 2\n3.14 = 3\n",
     "{\"1234\":1,\"-_-\":2,\"3\":{\"14\":3}}"},
    {"test_quoted_header_parts",
     "[session.hook.\"my-hook\".options]\nmax-response-size = 52_428_800\n",
     "{\"session\":{\"hook\":{\"my-hook\":{\"options\":{\"max-response-size\":52428800}}}}}"},
    {"test_header_with_spaces_around_parts", "[ a . \"b c\" . 'd' ]\nx = 1\n",
     "{\"a\":{\"b c\":{\"d\":{\"x\":1}}}}"},
    {"test_tables_and_keys_keep_file_order", "z = 1\ny = 2\n[m]\nb = 1\na = 2\n[c]\n[m.sub]\n[a]\n",
     "{\"z\":1,\"y\":2,\"m\":{\"b\":1,\"a\":2,\"sub\":{}},\"c\":{},\"a\":{}}"},
    {"test_implicit_table_may_be_defined_later", "[a.b.c]\nx = 1\n[a]\ny = 2\n",
     "{\"a\":{\"b\":{\"c\":{\"x\":1}},\"y\":2}}"},
    {"test_dotted_keys_may_extend_a_table_only_implied_by_a_header", "[a.b.c]\n[a]\nb.d = 1\n",
     "{\"a\":{\"b\":{\"c\":{},\"d\":1}}}"},
    {"test_subtable_of_dotted_key_table",
     "[fruit]\napple.color = \"red\"\n[fruit.apple.texture]\n"
     "smooth = true\n",
     "{\"fruit\":{\"apple\":{\"color\":\"red\",\"texture\":{\"smooth\":true}}}}"},
    {"test_array_of_tables_appends_and_takes_subtables",
     "[[fruit]]\nname = \"apple\"\n[fruit.physical]\ncolor = \"red\"\n[[fruit.variety]]\n"
     "name = \"red delicious\"\n[[fruit]]\nname = \"banana\"\n",
     "{\"fruit\":[{\"name\":\"apple\",\"physical\":{\"color\":\"red\"},"
     "\"variety\":[{\"name\":\"red delicious\"}]},{\"name\":\"banana\"}]}"},
    {"test_array_of_tables_then_parent_table", "[[a.b]]\nx = 1\n[a]\ny = 2\n",
     "{\"a\":{\"b\":[{\"x\":1}],\"y\":2}}"},
    {"test_comments_blank_lines_and_indentation",
     "# top\n\n\t  # indented\n  a = 1 # c\n\t[t] # c\n\tb = 2\n", "{\"a\":1,\"t\":{\"b\":2}}"},
    {"test_crlf_line_endings", "a = 1\r\n# c\r\n[t]\r\nb = [\r\n 2,\r\n]\r\n",
     "{\"a\":1,\"t\":{\"b\":[2]}}"},
    {"test_file_without_trailing_newline", "[t]\nk = \"v\"", "{\"t\":{\"k\":\"v\"}}"},
    {"test_file_ending_in_a_comment_without_newline", "k = 1 # end", "{\"k\":1}"},
    {"test_file_ending_in_blanks", "k = 1\n  \t", "{\"k\":1}"},
    {"test_empty_document", "", "{}"},
    {"test_only_comments_and_blank_lines", "\n\n# a\n   \n#b", "{}"},
    {"test_byte_order_mark_is_skipped",
     "\xef\xbb\xbf"
     "a = 1\n",
     "{\"a\":1}"},
};

static const struct error_case error_cases[] = {
    /* structure */
    {"test_error_missing_equals_after_key", "a = 1\n\nb 2\n", 0, "line 3: expected '=' after key"},
    {"test_error_missing_value", "a =\n", 0, "line 1: expected a value"},
    {"test_error_missing_value_at_end_of_input", "a = ", 0, "line 1: expected a value"},
    {"test_error_missing_key", "x = 1\n= 1\n", 0, "line 2: expected a key"},
    {"test_error_key_with_trailing_dot", "a. = 1\n", 0, "line 1: expected a key"},
    {"test_error_empty_header", "[]\n", 0, "line 1: expected a key"},
    {"test_error_header_with_empty_part", "[a..b]\n", 0, "line 1: expected a key"},
    {"test_error_multiline_string_as_key", "\"\"\"a\"\"\" = 1\n", 0,
     "line 1: a key cannot be a multi-line string"},
    {"test_error_text_after_value", "a = 1 2\n", 0, "line 1: unexpected text after value"},
    {"test_error_text_after_header", "[a] b = 1\n", 0,
     "line 1: unexpected text after table header"},
    {"test_error_two_strings_in_a_row", "a = \"b\" \"c\"\n", 0,
     "line 1: unexpected text after value"},
    {"test_error_array_missing_comma", "a = [1\n 2]\n", 0, "line 2: expected ',' or ']' in array"},
    {"test_error_array_empty_element", "a = [1,,2]\n", 0, "line 1: expected a value"},
    {"test_error_inline_table_missing_comma", "a = {b = 1 c = 2}\n", 0,
     "line 1: expected ',' or '}' in inline table"},
    {"test_error_inline_table_trailing_comma", "a = {b = 1,}\n", 0,
     "line 1: trailing comma in inline table"},
    {"test_error_inline_table_over_two_lines", "a = {b = 1,\n c = 2}\n", 0,
     "line 1: inline table must be on a single line"},
    {"test_error_comment_inside_inline_table", "a = {b = 1 # c\n}\n", 0,
     "line 1: inline table must be on a single line"},
    /* redefinition */
    {"test_error_duplicate_key", "a = 1\nurl = \"x\"\n\n\n\n\nurl = \"y\"\n", 0,
     "line 7: duplicate key \"url\""},
    {"test_error_duplicate_dotted_key", "a.b = 1\na.b = 2\n", 0, "line 2: duplicate key \"b\""},
    {"test_error_duplicate_key_in_inline_table", "a = {b = 1, b = 2}\n", 0,
     "line 1: duplicate key \"b\""},
    {"test_error_duplicate_quoted_key_shown_escaped", "\"a\\\"b\" = 1\n'a\"b' = 2\n", 0,
     "line 2: duplicate key \"a\\\"b\""},
    {"test_error_duplicate_utf8_key_shown_as_is", "\"\xc3\xa9\" = 1\n\"\\u00e9\" = 2\n", 0,
     "line 2: duplicate key \"\xc3\xa9\""},
    {"test_error_key_redefines_implicit_table", "[a.b]\n[a]\nb = 1\n", 0,
     "line 3: duplicate key \"b\""},
    {"test_error_dotted_key_through_a_value", "a = 1\na.b = 2\n", 0,
     "line 2: key \"a\" already holds a value, not a table"},
    {"test_error_dotted_key_extends_inline_table", "a = {b = 1}\na.c = 2\n", 0,
     "line 2: inline table \"a\" cannot be extended"},
    {"test_error_dotted_key_in_inline_table_extends_inner_inline", "a = {b = {}, b.c = 1}\n", 0,
     "line 1: inline table \"b\" cannot be extended"},
    {"test_error_dotted_key_extends_header_table", "[a.b]\nc = 1\n[a]\nb.d = 2\n", 0,
     "line 4: dotted key cannot extend table \"b\" defined by a [header]"},
    {"test_error_dotted_key_into_array_of_tables", "[[a.b]]\n[a]\nb.y = 2\n", 0,
     "line 3: dotted key cannot extend array of tables \"b\""},
    {"test_error_dotted_key_into_static_array", "a = [1]\na.b = 2\n", 0,
     "line 2: array \"a\" cannot be extended"},
    {"test_error_table_defined_twice", "[a]\nx = 1\n[b]\n[a]\n", 0, "line 4: duplicate table [a]"},
    {"test_error_quoted_table_defined_twice",
     "[session.hook.\"my-hook\"]\n[session . hook . 'my-hook']\n", 0,
     "line 2: duplicate table [session.hook.my-hook]"},
    {"test_error_table_named_with_space_defined_twice", "[\"a b\".c]\n[\"a b\".c]\n", 0,
     "line 2: duplicate table [\"a b\".c]"},
    {"test_error_implied_table_defined_twice", "[a.b]\n[a]\n[a]\n", 0,
     "line 3: duplicate table [a]"},
    {"test_error_header_redefines_dotted_key_table", "a.b = 1\n[a]\n", 0,
     "line 2: table [a] was already defined by dotted keys"},
    {"test_error_header_after_dotted_key_extended_implied_table", "[a.b.c]\n[a]\nb.d = 1\n[a.b]\n",
     0, "line 4: table [a.b] was already defined by dotted keys"},
    {"test_error_header_extends_inline_table", "a = {b = 1}\n[a]\n", 0,
     "line 2: inline table \"a\" cannot be extended"},
    {"test_error_header_below_inline_table", "a = {}\n[a.b]\n", 0,
     "line 2: inline table \"a\" cannot be extended"},
    {"test_error_header_over_a_value", "a = 1\n[a]\n", 0,
     "line 2: key \"a\" already holds a value, not a table"},
    {"test_error_header_through_a_value", "a = \"x\"\n[a.b]\n", 0,
     "line 2: key \"a\" already holds a value, not a table"},
    {"test_error_header_through_static_array", "a = [{}]\n[a.b]\n", 0,
     "line 2: array \"a\" cannot be extended"},
    {"test_error_table_over_array_of_tables", "[[a]]\n[a]\n", 0,
     "line 2: table [a] is already an array of tables"},
    {"test_error_array_of_tables_over_table", "[a]\n[[a]]\n", 0,
     "line 2: [[a]] conflicts with key \"a\", which is not an array of tables"},
    {"test_error_array_of_tables_appends_to_static_array", "a = []\n[[a]]\n", 0,
     "line 2: cannot append to array \"a\": it is not an array of tables"},
    /* unterminated everything */
    {"test_error_unterminated_basic_string", "a = 1\nb = \"abc\nc = 2\n", 0,
     "line 2: unterminated string"},
    {"test_error_unterminated_basic_string_at_end", "a = \"abc", 0, "line 1: unterminated string"},
    {"test_error_unterminated_escape_at_end", "a = \"abc\\", 0, "line 1: unterminated string"},
    {"test_error_unterminated_after_line_ending_backslash", "a = \"\"\"x\\  ", 0,
     "line 1: unterminated string"},
    {"test_error_unterminated_unicode_escape_at_end", "a = \"\\u00", 0,
     "line 1: unterminated string"},
    {"test_error_unterminated_literal_string", "a = 'abc\n'\n", 0, "line 1: unterminated string"},
    {"test_error_unterminated_multiline_basic", "x = 1\na = \"\"\"\nabc\n\"\"\n", 0,
     "line 2: unterminated string"},
    {"test_error_unterminated_multiline_literal", "a = '''abc\n''\n", 0,
     "line 1: unterminated string"},
    {"test_error_unterminated_quoted_key", "\"abc = 1\n", 0, "line 1: unterminated string"},
    {"test_error_unterminated_array", "a = [1,\n2\n", 0, "line 1: unterminated array"},
    {"test_error_unterminated_empty_array", "a = [", 0, "line 1: unterminated array"},
    {"test_error_unterminated_inline_table", "a = {b = 1", 0, "line 1: unterminated inline table"},
    {"test_error_unterminated_empty_inline_table", "a = {", 0, "line 1: unterminated inline table"},
    {"test_error_unterminated_header", "[a\nb = 1\n", 0,
     "line 1: expected ']' to close the [header]"},
    {"test_error_unterminated_array_of_tables_header", "[[a]\n", 0,
     "line 1: expected ']]' to close the [[header]]"},
    {"test_error_unterminated_header_at_end", "[a.b", 0,
     "line 1: expected ']' to close the [header]"},
    /* strings */
    {"test_error_invalid_escape", "a = \"\\x41\"\n", 0, "line 1: invalid escape \"\\x\""},
    {"test_error_short_unicode_escape", "a = \"\\u12\"\n", 0,
     "line 1: invalid \\u escape: 4 hex digits expected"},
    {"test_error_surrogate_unicode_escape", "a = \"\\uD800\"\n", 0,
     "line 1: invalid \\u escape: not a Unicode scalar value"},
    {"test_error_unicode_escape_beyond_range", "a = \"\\U00110000\"\n", 0,
     "line 1: invalid \\U escape: not a Unicode scalar value"},
    {"test_error_nul_escape_is_refused", "a = \"x\\u0000y\"\n", 0,
     "line 1: NUL character in a string is not supported"},
    {"test_error_control_character_in_string", "a = \"\x01\"\n", 0,
     "line 1: control character in string"},
    {"test_error_delete_character_in_literal_string", "a = '\x7f'\n", 0,
     "line 1: control character in string"},
    {"test_error_control_character_in_multiline_string", "a = \"\"\"\n\x1b\"\"\"\n", 0,
     "line 2: control character in string"},
    {"test_error_control_character_in_comment", "a = 1\n# \x01\n", 0,
     "line 2: control character in comment"},
    {"test_error_too_many_closing_quotes", "a = \"\"\"x\"\"\"\"\"\"\n", 0,
     "line 1: too many quotes at the end of a multi-line string"},
    {"test_error_text_after_line_ending_backslash", "a = \"\"\"x\\  y\"\"\"\n", 0,
     "line 1: invalid escape: only blanks may follow a line-ending backslash"},
    {"test_error_line_ending_backslash_in_single_line_string", "a = \"x\\\ny\"\n", 0,
     "line 1: invalid escape"},
    /* numbers and other scalars */
    {"test_error_leading_zero", "a = 01\n", 0, "line 1: leading zeros are not allowed in \"01\""},
    {"test_error_leading_zero_in_float", "a = -00.5\n", 0,
     "line 1: leading zeros are not allowed in \"-00.5\""},
    {"test_error_double_underscore", "a = 1__0\n", 0, "line 1: misplaced '_' in number \"1__0\""},
    {"test_error_trailing_underscore", "a = 1_\n", 0, "line 1: misplaced '_' in number \"1_\""},
    {"test_error_underscore_before_point", "a = 1_.5\n", 0,
     "line 1: misplaced '_' in number \"1_.5\""},
    {"test_error_underscore_after_point", "a = 1._5\n", 0,
     "line 1: misplaced '_' in number \"1._5\""},
    {"test_error_underscore_starting_exponent", "a = 1e_5\n", 0,
     "line 1: misplaced '_' in number \"1e_5\""},
    {"test_error_underscore_after_hex_prefix", "a = 0x_1\n", 0,
     "line 1: misplaced '_' in number \"0x_1\""},
    {"test_error_float_without_fraction_digits", "a = 1.\n", 0, "line 1: invalid value \"1.\""},
    {"test_error_float_without_integer_part", "a = .5\n", 0, "line 1: invalid value \".5\""},
    {"test_error_exponent_without_digits", "a = 1e+\n", 0, "line 1: invalid value \"1e+\""},
    {"test_error_uppercase_hex_prefix", "a = 0X1F\n", 0, "line 1: invalid value \"0X1F\""},
    {"test_error_signed_hex", "a = -0x1\n", 0, "line 1: invalid value \"-0x1\""},
    {"test_error_binary_digit_out_of_range", "a = 0b102\n", 0, "line 1: invalid value \"0b102\""},
    {"test_error_empty_hex", "a = 0x\n", 0, "line 1: invalid value \"0x\""},
    {"test_error_integer_above_int64", "a = 9223372036854775808\n", 0,
     "line 1: integer out of range: 9223372036854775808"},
    {"test_error_integer_below_int64", "a = -9_223_372_036_854_775_809\n", 0,
     "line 1: integer out of range: -9_223_372_036_854_775_809"},
    {"test_error_hex_above_int64", "a = 0x8000000000000000\n", 0,
     "line 1: integer out of range: 0x8000000000000000"},
    {"test_error_float_overflow", "a = 1e400\n", 0, "line 1: float out of range: 1e400"},
    {"test_error_capitalised_boolean", "a = True\n", 0, "line 1: invalid value \"True\""},
    {"test_error_capitalised_nan", "a = NaN\n", 0, "line 1: invalid value \"NaN\""},
    {"test_error_bare_word_value", "a = yes\n", 0, "line 1: invalid value \"yes\""},
    {"test_error_unknown_character_as_value", "a = @\n", 0, "line 1: expected a value"},
    {"test_error_offset_date_time", "a = 1\n\n\n\n\n\n\n\nd = 1979-05-27T07:32:00Z\n", 0,
     "line 9: date-time values are not supported"},
    {"test_error_local_date", "d = 1979-05-27\n", 0, "line 1: date-time values are not supported"},
    {"test_error_local_time", "t = 07:32:00\n", 0, "line 1: date-time values are not supported"},
    {"test_error_date_time_with_space", "d = [1979-05-27 07:32:00]\n", 0,
     "line 1: date-time values are not supported"},
    /* bytes */
    {"test_error_nul_byte_in_value", "a = 1\nb = \"x\0y\"\n", 13, "line 2: NUL byte in input"},
    {"test_error_nul_byte_in_comment", "a = 1 # x\0\n", 11, "line 1: NUL byte in input"},
    {"test_error_nul_byte_alone", "\0", 1, "line 1: NUL byte in input"},
    {"test_error_invalid_utf8_byte", "a = 1\n\nb = \"\xff\"\n", 0, "line 3: invalid UTF-8"},
    {"test_error_overlong_utf8", "a = \"\xc0\xaf\"\n", 0, "line 1: invalid UTF-8"},
    {"test_error_utf8_surrogate", "a = \"\xed\xa0\x80\"\n", 0, "line 1: invalid UTF-8"},
    {"test_error_utf8_beyond_unicode", "a = \"\xf4\x90\x80\x80\"\n", 0, "line 1: invalid UTF-8"},
    {"test_error_truncated_utf8_at_end", "a = \"\xc3", 0, "line 1: invalid UTF-8"},
    {"test_error_invalid_utf8_in_comment", "# \xe2\x82\n", 0, "line 1: invalid UTF-8"},
    {"test_error_bare_carriage_return", "a = 1\rb = 2\n", 0,
     "line 1: carriage return without newline"},
    {"test_error_bare_carriage_return_in_string", "a = \"x\ry\"\n", 0,
     "line 1: carriage return without newline"},
    {"test_error_bare_carriage_return_in_literal_string", "a = 'x\ry'\n", 0,
     "line 1: carriage return without newline"},
    {"test_error_bare_carriage_return_in_array", "a = [1,\r2]\n", 0,
     "line 1: carriage return without newline"},
    {"test_error_bare_carriage_return_in_comment", "# x\ry\n", 0,
     "line 1: control character in comment"},
};

static const struct float_case float_cases[] = {
    {"1.0", 1.0},       {"3.1415", 3.1415},       {"-0.01", -0.01},
    {"+1.5", 1.5},      {"5e+22", 5e+22},         {"1e06", 1e06},
    {"-2E-2", -2E-2},   {"6.626e-34", 6.626e-34}, {"224_617.445_991_228", 224617.445991228},
    {"0.1", 0.1},       {"1e-400", 0.0},          {"inf", HUGE_VAL},
    {"+inf", HUGE_VAL}, {"-inf", -HUGE_VAL},
};

/* run_valid - a valid_case: parse and compare the whole tree */
static void run_valid(void **state)
{
	const struct valid_case *c = *state;
	struct toml_doc *doc = parse_ok(c->text);

	assert_string_equal(plain(toml_root(doc)), c->json);
	toml_free(doc);
}

/* run_error - an error_case: refused, with exactly the expected message */
static void run_error(void **state)
{
	const struct error_case *c = *state;
	size_t len = c->len ? c->len : strlen(c->text);
	char *copy = malloc(len ? len : 1);
	char err[256];

	/* an exact-size heap copy lets valgrind see any read past len */
	assert_non_null(copy);
	memcpy(copy, c->text, len);
	memset(err, 'X', sizeof err);
	assert_null(toml_parse(copy, len, err, sizeof err));
	assert_string_equal(err, c->err);
	free(copy);
}

/* ---- named tests --------------------------------------------------------- */

/* test_stalwart_hook_block_reads_with_types - the block a Stalwart configuration holds */
static void test_stalwart_hook_block_reads_with_types(void **state)
{
	static const char text[] =
	    "[session.hook.\"my-hook\"]\n"
	    "enable = true\n"
	    "url = \"https://localhost:8080/mta-hook\"\n"
	    "stages = [\"connect\", \"ehlo\",\n"
	    "          \"mail\", ]   # comment\n"
	    "headers = ['X-A: b']\n"
	    "[session.hook.\"my-hook\".options]\n"
	    "max-response-size = 52_428_800\n"
	    "enable2 = [ { if = \"remote_ip == '1.2.3.4'\", then = true }, { else = false } ]\n"
	    "a.b.\"c d\" = 1\n";
	struct toml_doc *doc = parse_ok(text);
	struct json_object *root = toml_root(doc), *hook, *v;

	(void)state;
	hook = get(root, "session/hook/my-hook");
	assert_non_null(hook);
	assert_true(json_object_is_type(hook, json_type_object));
	v = get(hook, "enable");
	assert_true(json_object_is_type(v, json_type_boolean));
	assert_true(json_object_get_boolean(v));
	v = get(hook, "url");
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), "https://localhost:8080/mta-hook");
	v = get(hook, "stages");
	assert_true(json_object_is_type(v, json_type_array));
	assert_int_equal(json_object_array_length(v), 3);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 2)), "mail");
	v = get(hook, "headers");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "X-A: b");
	v = get(hook, "options/max-response-size");
	assert_true(json_object_is_type(v, json_type_int));
	assert_true(json_object_get_int64(v) == 52428800);
	v = get(hook, "options/enable2");
	assert_int_equal(json_object_array_length(v), 2);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(v, 0), "if")),
	                    "remote_ip == '1.2.3.4'");
	v = get(hook, "options/a/b/c d");
	assert_true(json_object_get_int64(v) == 1);
	toml_free(doc);
}

/* test_floats_read_exactly - decimal floats, exponents, underscores and infinities */
static void test_floats_read_exactly(void **state)
{
	char text[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof float_cases / sizeof float_cases[0]; i++) {
		struct toml_doc *doc;
		struct json_object *v;

		snprintf(text, sizeof text, "f = %s\n", float_cases[i].text);
		doc = parse_ok(text);
		v = get(toml_root(doc), "f");
		if (!json_object_is_type(v, json_type_double))
			fail_msg("%s: not a double", float_cases[i].text);
		if (json_object_get_double(v) != float_cases[i].value)
			fail_msg("%s: read %.17g", float_cases[i].text, json_object_get_double(v));
		toml_free(doc);
	}
}

/* test_nan_and_negative_zero - values == cannot compare */
static void test_nan_and_negative_zero(void **state)
{
	struct toml_doc *doc = parse_ok("a = nan\nb = -nan\nc = +nan\nz = -0.0\n");
	struct json_object *root = toml_root(doc);

	(void)state;
	assert_true(isnan(json_object_get_double(get(root, "a"))));
	assert_true(isnan(json_object_get_double(get(root, "b"))));
	assert_true(isnan(json_object_get_double(get(root, "c"))));
	assert_true(json_object_get_double(get(root, "z")) == 0.0);
	assert_true(signbit(json_object_get_double(get(root, "z"))));
	toml_free(doc);
}

/* test_integers_are_int64_and_floats_double - the json-c types config.c relies on */
static void test_integers_are_int64_and_floats_double(void **state)
{
	struct toml_doc *doc = parse_ok("i = 1\nf = 1.0\nb = 0b1\ns = \"1\"\n");
	struct json_object *root = toml_root(doc);

	(void)state;
	assert_true(json_object_is_type(get(root, "i"), json_type_int));
	assert_true(json_object_is_type(get(root, "f"), json_type_double));
	assert_true(json_object_is_type(get(root, "b"), json_type_int));
	assert_true(json_object_is_type(get(root, "s"), json_type_string));
	toml_free(doc);
}

/* test_toml_line_of_values_and_tables - lines of values, headers, dotted and implied tables */
static void test_toml_line_of_values_and_tables(void **state)
{
	static const char text[] = "top = 1\n"         /* 1 */
	                           "\n"                /* 2 */
	                           "[a.b.c]\n"         /* 3 */
	                           "x = [\n"           /* 4 */
	                           "  1,\n"            /* 5 */
	                           "  \"\"\"two\n"     /* 6 */
	                           "lines\"\"\",\n"    /* 7 */
	                           "  { k = true },\n" /* 8 */
	                           "]\n"               /* 9 */
	                           "[a]\n"             /* 10 */
	                           "d.e = 'v'\n"       /* 11 */
	                           "# comment\n"       /* 12 */
	                           "[[aot]]\n"         /* 13 */
	                           "[[aot]]\n"         /* 14 */
	                           "n = 2";            /* 15 */
	struct toml_doc *doc = parse_ok(text);
	struct json_object *root = toml_root(doc), *x, *aot;

	(void)state;
	assert_int_equal(toml_line(doc, root), 1);
	assert_int_equal(toml_line(doc, get(root, "top")), 1);
	assert_int_equal(toml_line(doc, get(root, "a/b/c")), 3);
	assert_int_equal(toml_line(doc, get(root, "a/b")), 3); /* implied, never defined */
	assert_int_equal(toml_line(doc, get(root, "a")), 10);  /* defined by its own header */
	x = get(root, "a/b/c/x");
	assert_int_equal(toml_line(doc, x), 4);
	assert_int_equal(toml_line(doc, json_object_array_get_idx(x, 0)), 5);
	assert_int_equal(toml_line(doc, json_object_array_get_idx(x, 1)), 6);
	assert_int_equal(toml_line(doc, json_object_array_get_idx(x, 2)), 8);
	assert_int_equal(toml_line(doc, get(json_object_array_get_idx(x, 2), "k")), 8);
	assert_int_equal(toml_line(doc, get(root, "a/d")), 11);
	assert_int_equal(toml_line(doc, get(root, "a/d/e")), 11);
	aot = get(root, "aot");
	assert_int_equal(toml_line(doc, aot), 13);
	assert_int_equal(toml_line(doc, json_object_array_get_idx(aot, 0)), 13);
	assert_int_equal(toml_line(doc, json_object_array_get_idx(aot, 1)), 14);
	assert_int_equal(toml_line(doc, get(json_object_array_get_idx(aot, 1), "n")), 15);
	toml_free(doc);
}

/* test_toml_line_counts_crlf_lines - CR LF counts as one line break */
static void test_toml_line_counts_crlf_lines(void **state)
{
	struct toml_doc *doc = parse_ok("a = 1\r\n\r\nb = \"\"\"x\r\ny\"\"\"\r\nc = 3\r\n");
	struct json_object *root = toml_root(doc);

	(void)state;
	assert_int_equal(toml_line(doc, get(root, "a")), 1);
	assert_int_equal(toml_line(doc, get(root, "b")), 3);
	assert_int_equal(toml_line(doc, get(root, "c")), 5);
	toml_free(doc);
}

/* test_toml_line_of_foreign_object_is_zero - objects not from the document, and NULLs */
static void test_toml_line_of_foreign_object_is_zero(void **state)
{
	struct toml_doc *doc = parse_ok("a = 1\n"), *other = parse_ok("\n\nb = 2\n");
	struct json_object *foreign = json_object_new_int(1);

	(void)state;
	assert_int_equal(toml_line(doc, foreign), 0);
	assert_int_equal(toml_line(doc, get(toml_root(other), "b")), 0);
	assert_int_equal(toml_line(other, get(toml_root(other), "b")), 3);
	assert_int_equal(toml_line(doc, NULL), 0);
	assert_int_equal(toml_line(NULL, foreign), 0);
	assert_null(toml_root(NULL));
	json_object_put(foreign);
	toml_free(other);
	toml_free(doc);
}

/* test_reads_no_further_than_len - text need not end in NUL; what follows len is ignored */
static void test_reads_no_further_than_len(void **state)
{
	static const char text[] = "a = 12345\nb = \"unterminated";
	char *copy = malloc(9);
	char err[128];
	struct toml_doc *doc;

	(void)state;
	assert_non_null(copy);
	memcpy(copy, text, 9); /* "a = 12345" without the last digit: "a = 1234" */
	doc = toml_parse(copy, 8, err, sizeof err);
	assert_non_null(doc);
	assert_string_equal(plain(toml_root(doc)), "{\"a\":1234}");
	toml_free(doc);
	/* a string cut by len is unterminated, even though the bytes after it close it */
	memcpy(copy, "s = \"ab\"", 8);
	assert_null(toml_parse(copy, 7, err, sizeof err));
	assert_string_equal(err, "line 1: unterminated string");
	free(copy);
}

/* test_null_text_and_empty_input - NULL with 0 is an empty document, with a length an error */
static void test_null_text_and_empty_input(void **state)
{
	char err[64];
	struct toml_doc *doc = toml_parse(NULL, 0, err, sizeof err);

	(void)state;
	assert_non_null(doc);
	assert_string_equal(plain(toml_root(doc)), "{}");
	toml_free(doc);
	assert_null(toml_parse(NULL, 5, err, sizeof err));
	assert_string_equal(err, "line 1: no text to parse");
	toml_free(NULL);
}

/* test_error_message_is_truncated_to_errlen - small buffers stay terminated; none at all is fine */
static void test_error_message_is_truncated_to_errlen(void **state)
{
	char err[12];

	(void)state;
	memset(err, 'X', sizeof err);
	assert_null(toml_parse("a = 1\na = 2\n", 12, err, sizeof err));
	assert_string_equal(err, "line 2: dup");
	memset(err, 'X', sizeof err);
	assert_null(toml_parse("a = 1\na = 2\n", 12, err, 1));
	assert_int_equal(err[0], '\0');
	assert_int_equal(err[1], 'X');
	assert_null(toml_parse("a = 1\na = 2\n", 12, NULL, 0));
	assert_null(toml_parse("a = 1\na = 2\n", 12, err, 0));
	assert_int_equal(err[0], '\0'); /* untouched from the call before */
}

/* test_long_keys_are_cut_in_messages - a message quotes at most a bounded part of a key */
static void test_long_keys_are_cut_in_messages(void **state)
{
	char text[1400], err[512];
	size_t n;

	(void)state;
	memset(text, 'k', 300);
	n = 300;
	n += (size_t)snprintf(text + n, sizeof text - n, " = 1\n");
	memcpy(text + n, text, n);
	assert_null(toml_parse(text, 2 * n, err, sizeof err));
	assert_true(strncmp(err, "line 2: duplicate key \"kkkk", 27) == 0);
	assert_true(strlen(err) < 100);
	assert_non_null(strstr(err, "...\""));
	/* so does a header path: ten parts of 60 characters are cut to a bounded message */
	n = 0;
	text[n++] = '[';
	while (n < 10 * 61) {
		memset(text + n, 'p', 60);
		n += 60;
		text[n++] = '.';
	}
	text[n - 1] = ']';
	text[n++] = '\n';
	memcpy(text + n, text, n);
	assert_null(toml_parse(text, 2 * n, err, sizeof err));
	assert_true(strncmp(err, "line 2: duplicate table [pppp", 29) == 0);
	assert_true(strlen(err) < 256);
	assert_non_null(strstr(err, "...]"));
	/* control characters in a key are shown escaped */
	assert_null(toml_parse("\"a\\nb\" = 1\n\"a\\nb\" = 2\n", 22, err, sizeof err));
	assert_string_equal(err, "line 2: duplicate key \"a\\x0ab\"");
}

/* test_overlong_number_is_refused - a number token is bounded before it is copied */
static void test_overlong_number_is_refused(void **state)
{
	char text[400], err[128];
	struct toml_doc *doc;

	(void)state;
	memcpy(text, "a = ", 4);
	memset(text + 4, '1', 256);
	text[260] = '.';
	text[261] = '5';
	doc = toml_parse(text, 260, err, sizeof err); /* 256 digits: out of range, not too long */
	assert_null(doc);
	assert_true(strncmp(err, "line 1: integer out of range: 1111", 34) == 0);
	text[4] = '0';
	text[5] = '.';
	doc = toml_parse(text, 260, err, sizeof err); /* 0.111...: 256 characters are fine */
	assert_non_null(doc);
	toml_free(doc);
	assert_null(toml_parse(text, 262, err, sizeof err));
	assert_string_equal(err, "line 1: value too long (more than 256 characters)");
}

/* depth_text - "a = " and n nested arrays, or n nested inline tables */
static char *depth_text(size_t n, int tables)
{
	char *s = malloc(4 * n + 16), *p;
	size_t i;

	assert_non_null(s);
	p = s + sprintf(s, "a = ");
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s", tables ? (i + 1 < n ? "{b=" : "{") : "[");
	for (i = 0; i < n; i++)
		*p++ = tables ? '}' : ']';
	*p = '\0';
	return s;
}

/* test_nesting_is_bounded_at_64 - 64 levels parse, 65 are refused, and 100000 do not recurse */
static void test_nesting_is_bounded_at_64(void **state)
{
	char err[128], *s;
	struct toml_doc *doc;
	size_t k;
	int tables;

	(void)state;
	for (tables = 0; tables <= 1; tables++) {
		s = depth_text(64, tables);
		doc = toml_parse(s, strlen(s), err, sizeof err);
		if (doc == NULL)
			fail_msg("64 levels refused: %s", err);
		toml_free(doc);
		free(s);
		s = depth_text(65, tables);
		assert_null(toml_parse(s, strlen(s), err, sizeof err));
		assert_string_equal(err, "line 1: nesting too deep (more than 64 levels)");
		free(s);
		s = depth_text(100000, tables);
		assert_null(toml_parse(s, strlen(s), err, sizeof err));
		assert_string_equal(err, "line 1: nesting too deep (more than 64 levels)");
		free(s);
	}
	/* headers and dotted keys: 64 parts make 64 levels, 65 do not fit */
	s = malloc(65 * 2 + 16);
	assert_non_null(s);
	for (k = 64; k <= 65; k++) {
		size_t i, o = 0;

		s[o++] = '[';
		for (i = 0; i < k; i++) {
			s[o++] = 'x';
			s[o++] = i + 1 < k ? '.' : ']';
		}
		s[o] = '\0';
		doc = toml_parse(s, o, err, sizeof err);
		if (k == 64) {
			assert_non_null(doc);
			toml_free(doc);
		} else {
			assert_null(doc);
			assert_string_equal(err, "line 1: nesting too deep (more than 64 levels)");
		}
		memmove(s, s + 1, o - 2);
		memcpy(s + o - 2, " = 1", 5);
		doc = toml_parse(s, strlen(s), err, sizeof err);
		if (k == 64) {
			assert_non_null(doc);
			toml_free(doc);
		} else {
			assert_null(doc);
			assert_string_equal(err, "line 1: nesting too deep (more than 64 levels)");
		}
	}
	free(s);
	/* dotted keys inside inline tables count from where the inline table sits */
	s = depth_text(61, 0);
	memcpy(strstr(s, "]"), "{b.c.d.e=1}", 11); /* tables at 62, 63, 64 and 65 */
	assert_null(toml_parse(s, strlen(s), err, sizeof err));
	assert_string_equal(err, "line 1: nesting too deep (more than 64 levels)");
	free(s);
	/* an array of tables under a table 64 deep has no room */
	s = malloc(64 * 2 + 64);
	assert_non_null(s);
	k = (size_t)sprintf(s, "[[a]]\n[a");
	while (k < 8 + 2 * 62)
		k += (size_t)sprintf(s + k, ".b");
	k += (size_t)sprintf(s + k, "]\n");
	doc = toml_parse(s, k, err, sizeof err);
	if (doc == NULL)
		fail_msg("a table 64 deep refused: %s", err);
	toml_free(doc);
	memmove(s + 7, s + 6, k - 6); /* [a.b...] becomes [[a.b...c]] */
	s[6] = '[';
	memcpy(s + k - 1, ".c]]\n", 5);
	k += 4;
	assert_null(toml_parse(s, k, err, sizeof err));
	assert_string_equal(err, "line 2: nesting too deep (more than 64 levels)");
	free(s);
	/* [[a]] then [[a.a...]]: each array of tables is a level, and so is each of its tables */
	for (k = 62; k <= 63; k++) {
		size_t i, o = 0;

		s = malloc(2 * k + 16);
		assert_non_null(s);
		o += (size_t)sprintf(s, "[[a]]\n[[a");
		for (i = 1; i < k; i++)
			o += (size_t)sprintf(s + o, ".a");
		o += (size_t)sprintf(s + o, "]]\n");
		doc = toml_parse(s, o, err, sizeof err);
		if (k == 62) {
			if (doc == NULL)
				fail_msg("62 parts after [[a]] refused: %s", err);
			assert_int_equal(toml_line(doc, toml_root(doc)), 1);
			toml_free(doc);
		} else {
			assert_null(doc);
			assert_string_equal(err, "line 2: nesting too deep (more than 64 levels)");
		}
		free(s);
	}
}

/* test_large_document_parses - many keys, tables and a long string in reasonable time */
static void test_large_document_parses(void **state)
{
	enum { KEYS = 20000, LONG = 1 << 20 };
	size_t cap = (size_t)KEYS * 48 + LONG + 64, o = 0, i;
	char *s = malloc(cap), err[128];
	struct toml_doc *doc;
	struct json_object *t;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < KEYS; i++) {
		if (i % 100 == 0)
			o += (size_t)snprintf(s + o, cap - o, "[[t]]\n");
		o += (size_t)snprintf(s + o, cap - o, "k%zu = %zu\n", i, i);
	}
	o += (size_t)snprintf(s + o, cap - o, "long = '");
	memset(s + o, 'x', LONG);
	o += LONG;
	o += (size_t)snprintf(s + o, cap - o, "'\n");
	doc = toml_parse(s, o, err, sizeof err);
	if (doc == NULL)
		fail_msg("%s", err);
	t = get(toml_root(doc), "t");
	assert_int_equal(json_object_array_length(t), KEYS / 100);
	assert_true(json_object_get_int64(get(json_object_array_get_idx(t, 199), "k19999")) ==
	            19999);
	assert_int_equal(json_object_get_string_len(get(json_object_array_get_idx(t, 199), "long")),
	                 LONG);
	assert_int_equal(toml_line(doc, json_object_array_get_idx(t, 199)), 199 * 101 + 1);
	toml_free(doc);
	free(s);
}

/* test_every_prefix_of_a_document_is_handled - cut anywhere, never a crash or a stray read */
static void test_every_prefix_of_a_document_is_handled(void **state)
{
	static const char text[] = "[session.hook.\"my-hook\"]\r\n"
	                           "url = \"https://h/\\u00e9\" # c\n"
	                           "s = \"\"\"a\\\n  b\"\"\"\n"
	                           "l = '''x''y'''\n"
	                           "n = [0x1f, 0o7, 0b1, 1_0, -1.5e3, inf, {a.b = 1}]\n"
	                           "[[a.b]]\n"
	                           "x.y = \"\xc3\xa9\"\n";
	size_t len;

	(void)state;
	for (len = 0; len <= sizeof text - 1; len++) {
		char *copy = malloc(len ? len : 1), err[128];
		struct toml_doc *doc;

		assert_non_null(copy);
		memcpy(copy, text, len);
		err[0] = '\0';
		doc = toml_parse(copy, len, err, sizeof err);
		if (doc == NULL)
			assert_true(strncmp(err, "line ", 5) == 0);
		toml_free(doc);
		free(copy);
	}
	assert_non_null(strstr(text, "x.y")); /* the whole text, at least, is valid */
	{
		struct toml_doc *doc = parse_ok(text);

		toml_free(doc);
	}
}

/* ---- the group ------------------------------------------------------------ */

static const struct CMUnitTest named_tests[] = {
    cmocka_unit_test(test_stalwart_hook_block_reads_with_types),
    cmocka_unit_test(test_floats_read_exactly),
    cmocka_unit_test(test_nan_and_negative_zero),
    cmocka_unit_test(test_integers_are_int64_and_floats_double),
    cmocka_unit_test(test_toml_line_of_values_and_tables),
    cmocka_unit_test(test_toml_line_counts_crlf_lines),
    cmocka_unit_test(test_toml_line_of_foreign_object_is_zero),
    cmocka_unit_test(test_reads_no_further_than_len),
    cmocka_unit_test(test_null_text_and_empty_input),
    cmocka_unit_test(test_error_message_is_truncated_to_errlen),
    cmocka_unit_test(test_long_keys_are_cut_in_messages),
    cmocka_unit_test(test_overlong_number_is_refused),
    cmocka_unit_test(test_nesting_is_bounded_at_64),
    cmocka_unit_test(test_large_document_parses),
    cmocka_unit_test(test_every_prefix_of_a_document_is_handled),
};

#define N_NAMED (sizeof named_tests / sizeof named_tests[0])
#define N_VALID (sizeof valid_cases / sizeof valid_cases[0])
#define N_ERROR (sizeof error_cases / sizeof error_cases[0])

/* main - one group: the named tests, then one test per table row, named by the row */
int main(void)
{
	static struct CMUnitTest tests[N_NAMED + N_VALID + N_ERROR];
	size_t i, n = 0;

	for (i = 0; i < N_NAMED; i++)
		tests[n++] = named_tests[i];
	for (i = 0; i < N_VALID; i++) {
		tests[n].name = valid_cases[i].name;
		tests[n].test_func = run_valid;
		tests[n].initial_state = (void *)&valid_cases[i];
		n++;
	}
	for (i = 0; i < N_ERROR; i++) {
		tests[n].name = error_cases[i].name;
		tests[n].test_func = run_error;
		tests[n].initial_state = (void *)&error_cases[i];
		n++;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
