/* SPDX-License-Identifier: MIT */
/* tpl_json_parse, the template engine's own JSON parser for value_json:
 * what Python's json.loads gives (the expected reprs below were printed by
 * python3 -c 'import json; print(repr(json.loads(...)))'), where it differs
 * on purpose (integers beyond int64, NaN, lone surrogates), its bounds
 * (nesting, never reading past len), and value_json through the public
 * API. Every text is parsed from a buffer of exactly its length, so a
 * sanitizer build catches any read past the end. */
#include "config.h"

#include <errno.h>
#include <math.h>

#include "testutil.h"
#include "lib/internal.h"
#include "template/tpl.h"
#include "mqbridge/template.h"

/* A render context as mqb_template_render makes one, without an arena of
 * its own: every allocation goes through tpl_alloc's malloc'd blocks. */
static void ctx_init(struct tpl_ctx *cx)
{
	memset(cx, 0, sizeof *cx);
	cx->max_iter = 100000;
	cx->max_depth = 64;
	cx->max_output = 1 << 20;
	cx->max_heap = SIZE_MAX;
	cx->max_work = UINT64_MAX;
}

static void ctx_free(struct tpl_ctx *cx)
{
	struct tpl_blk *b = cx->blocks;
	while (b) {
		struct tpl_blk *nb = b->next;
		free(b);
		b = nb;
	}
	cx->blocks = NULL;
}

/* A render error (out of memory) jumps back here and fails the test. */
#define CTX(cx) \
	struct tpl_ctx cx; \
	ctx_init(&cx); \
	if (setjmp(cx.jb)) \
		fail_msg("render error %d", cx.code)

/* Parse text[0..len) from a malloc'd copy of exactly len bytes. */
static bool parse(struct tpl_ctx *cx, const char *text, size_t len, struct tv *out)
{
	char *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	memcpy(buf, text, len);
	bool ok = tpl_json_parse(cx, buf, len, out);
	free(buf);
	return ok;
}

#define PARSE(cx, lit, out) parse(&(cx), lit, sizeof lit - 1, out)

/* Python's repr of the parsed value (malloc'd), or NULL when the text is
 * not JSON. */
static char *parse_repr(const char *text, size_t len)
{
	CTX(cx);
	struct tv v;
	char *res = NULL;
	if (parse(&cx, text, len, &v)) {
		const struct tv_str *r = tv_repr(&cx, v);
		res = strdup(r->s);
	}
	ctx_free(&cx);
	return res;
}

#define REPR(lit) parse_repr(lit, sizeof lit - 1)

struct pcase {
	const char *json;
	size_t len;
	const char *repr; /* NULL: json.loads raises */
};

static const struct pcase valid[] = {
	{ "0", 1, "0" },
	{ "-0", 2, "0" },
	{ "1", 1, "1" },
	{ "-1", 2, "-1" },
	{ "1.0", 3, "1.0" },
	{ "-0.0", 4, "-0.0" },
	{ "0.0", 3, "0.0" },
	{ "21.456", 6, "21.456" },
	{ "1e2", 3, "100.0" },
	{ "1E-2", 4, "0.01" },
	{ "1.5e+3", 6, "1500.0" },
	{ "123456789012345678", 18, "123456789012345678" },
	{ "9223372036854775807", 19, "9223372036854775807" },
	{ "-9223372036854775808", 20, "-9223372036854775808" },
	{ "true", 4, "True" },
	{ "false", 5, "False" },
	{ "null", 4, "None" },
	{ "\"abc\"", 5, "'abc'" },
	{ "\"\"", 2, "''" },
	{ "0.1", 3, "0.1" },
	{ "3.141592653589793", 17, "3.141592653589793" },
	{ "2.2250738585072014e-308", 23, "2.2250738585072014e-308" },
	{ "5e-324", 6, "5e-324" },
	{ "1.7976931348623157e308", 22, "1.7976931348623157e+308" },
	{ "0.30000000000000004", 19, "0.30000000000000004" },
	{ "1e22", 4, "1e+22" },
	{ "1e23", 4, "1e+23" },
	{ "9007199254740993", 16, "9007199254740993" },
	{ "9007199254740993.0", 18, "9007199254740992.0" },
	{ "0.1e1", 5, "1.0" },
	{ "123.456e-2", 10, "1.23456" },
	{ "1e-7", 4, "1e-07" },
	{ "100000000000000000000000.0", 26, "1e+23" },
	{ "0.000000000000000000000000000001", 32, "1e-30" },
	{ "1e999", 5, "inf" },
	{ "-1e999", 6, "-inf" },
	{ "1e-999", 6, "0.0" },
	{ "0e999", 5, "0.0" },
	{ "12345678901234567890.5", 22, "1.2345678901234567e+19" },
	{ "0.1234567890123456789012345", 27, "0.12345678901234568" },
	{ "-123.456", 8, "-123.456" },
	{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 18, "'\"\\\\/\\x08\\x0c\\n\\r\\t'" },
	{ "\"\\u00e9\"", 8, "'\303\251'" },
	{ "\"\\u00E9t\\u00e9\"", 15, "'\303\251t\303\251'" },
	{ "\"\\ud83d\\ude00\"", 14, "'\360\237\230\200'" },
	{ "\"\\uD83D\\uDE00!\"", 15, "'\360\237\230\200!'" },
	{ "\"\303\251\"", 4, "'\303\251'" },
	{ "\"\342\202\254 \360\237\230\200 \346\227\245\346\234\254\"", 17, "'\342\202\254 \360\237\230\200 \346\227\245\346\234\254'" },
	{ "\"\\u0041\"", 8, "'A'" },
	{ "\"a\\u0000b\"", 10, "'a\\x00b'" },
	{ "\"\\u20ac\"", 8, "'\342\202\254'" },
	{ "\"\177\"", 3, "'\\x7f'" },
	{ "\"a long string of plain ascii that spans several words\"", 55, "'a long string of plain ascii that spans several words'" },
	{ "\"a long string with an \303\251 in the middle and a \360\237\230\200 at the end \360\237\230\200\"", 67, "'a long string with an \303\251 in the middle and a \360\237\230\200 at the end \360\237\230\200'" },
	{ "\"escapes \\n far \\t into a long string \\u00e9\\u00e9\"", 51, "'escapes \\n far \\t into a long string \303\251\303\251'" },
	{ "\"12345678\"", 10, "'12345678'" },
	{ "\"1234567\"", 9, "'1234567'" },
	{ "\"123456789012345\"", 17, "'123456789012345'" },
	{ "[]", 2, "[]" },
	{ "{}", 2, "{}" },
	{ "[1,[2,[3]]]", 11, "[1, [2, [3]]]" },
	{ "{\"a\":{\"b\":[1,2,{\"c\":null}]}}", 28, "{'a': {'b': [1, 2, {'c': None}]}}" },
	{ "[1, \"two\", 3.0, true, null]", 27, "[1, 'two', 3.0, True, None]" },
	{ " \011\012\015[ 1 , 2 ]\012", 14, "[1, 2]" },
	{ "{ \"a\" : 1 , \"b\" : [ ] }", 23, "{'a': 1, 'b': []}" },
	{ "{\"a\":1,\"b\":2,\"a\":3}", 19, "{'a': 3, 'b': 2}" },
	{ "{\"\":0,\"\":1}", 11, "{'': 1}" },
	{ "{\"k\\u00e9y\": \"v\"}", 17, "{'k\303\251y': 'v'}" },
	{ "[[],[[]],{}]", 12, "[[], [[]], {}]" },
	{ "{\"temperature\": 21.456, \"humidity\": 55, \"battery\": 97, \"linkquality\": 120, \"voltage\": 3012, \"id\": \"sensor-1\"}", 109, "{'temperature': 21.456, 'humidity': 55, 'battery': 97, 'linkquality': 120, 'voltage': 3012, 'id': 'sensor-1'}" },
};

static const struct pcase invalid[] = {
	{ "", 0, NULL },
	{ " ", 1, NULL },
	{ "[1,]", 4, NULL },
	{ "{\"a\":1,}", 8, NULL },
	{ "[1 2]", 5, NULL },
	{ "{\"a\" 1}", 7, NULL },
	{ "{1:2}", 5, NULL },
	{ "{\"a\"}", 5, NULL },
	{ "{\"a\":}", 6, NULL },
	{ "01", 2, NULL },
	{ "-01", 3, NULL },
	{ "1.", 2, NULL },
	{ ".5", 2, NULL },
	{ "+1", 2, NULL },
	{ "-", 1, NULL },
	{ "1e", 2, NULL },
	{ "1e+", 3, NULL },
	{ "1.e5", 4, NULL },
	{ "--1", 3, NULL },
	{ "\"abc", 4, NULL },
	{ "\"\\x\"", 4, NULL },
	{ "\"\\u12\"", 6, NULL },
	{ "\"\\u12g4\"", 8, NULL },
	{ "\"\\", 2, NULL },
	{ "\"\\\"", 3, NULL },
	{ "tru", 3, NULL },
	{ "True", 4, NULL },
	{ "nul", 3, NULL },
	{ "nulll", 5, NULL },
	{ "[", 1, NULL },
	{ "]", 1, NULL },
	{ "{", 1, NULL },
	{ "}", 1, NULL },
	{ "\"a\" \"b\"", 7, NULL },
	{ "1 2", 3, NULL },
	{ "[1]x", 4, NULL },
	{ "{\"a\":1}x", 8, NULL },
	{ "[1]]", 4, NULL },
	{ "\"a\012b\"", 5, NULL },
	{ "\"\011\"", 3, NULL },
	{ "\"\000\"", 3, NULL },
	{ "1\000", 2, NULL },
	{ "\000", 1, NULL },
	{ "\"\377\"", 3, NULL },
	{ "\"\300\257\"", 4, NULL },
	{ "\"\301\277\"", 4, NULL },
	{ "\"\340\200\257\"", 5, NULL },
	{ "\"\355\240\200\"", 5, NULL },
	{ "\"\364\220\200\200\"", 6, NULL },
	{ "\"\360\217\277\277\"", 6, NULL },
	{ "\"\342\202\"", 4, NULL },
	{ "\"\200\"", 3, NULL },
	{ "\"\342\202\254", 4, NULL },
	{ "\"\370\210\200\200\200\"", 7, NULL },
	{ "\357\273\2771", 4, NULL },
	{ "[1,\377]", 5, NULL },
	{ "'a'", 3, NULL },
	{ "[1,2", 4, NULL },
	{ "{\"a\":1", 6, NULL },
	{ "/*c*/1", 6, NULL },
};

static void check_pcases(const struct pcase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *got = parse_repr(c[i].json, c[i].len);
		if (c[i].repr ? !got || strcmp(got, c[i].repr) != 0 : got != NULL) {
			print_error("json [%.*s]\n  expected %s\n  got      %s\n", (int)c[i].len,
				    c[i].json, c[i].repr ? c[i].repr : "(not JSON)",
				    got ? got : "(not JSON)");
			free(got);
			fail();
		}
		free(got);
	}
}

static void valid_texts_parse_to_what_python_json_loads_gives(void **s)
{
	check_pcases(valid, sizeof valid / sizeof valid[0]);
}

static void texts_python_json_loads_rejects_are_not_json(void **s)
{
	check_pcases(invalid, sizeof invalid / sizeof invalid[0]);
}

static void integers_are_ints_and_numbers_with_a_fraction_or_exponent_are_floats(void **s)
{
	CTX(cx);
	struct tv v;
	assert_true(PARSE(cx, "1", &v));
	assert_int_equal(v.t, TV_INT);
	assert_int_equal(v.i, 1);
	assert_true(PARSE(cx, "1.0", &v));
	assert_int_equal(v.t, TV_FLOAT);
	assert_true(v.f == 1.0);
	assert_true(PARSE(cx, "1e0", &v));
	assert_int_equal(v.t, TV_FLOAT);
	assert_true(PARSE(cx, "-0", &v));
	assert_int_equal(v.t, TV_INT);
	assert_int_equal(v.i, 0);
	assert_true(PARSE(cx, "-0.0", &v));
	assert_int_equal(v.t, TV_FLOAT);
	assert_true(v.f == 0.0 && signbit(v.f));
	assert_true(PARSE(cx, "-0e5", &v));
	assert_true(v.t == TV_FLOAT && v.f == 0.0 && signbit(v.f));
	assert_true(PARSE(cx, "0.0", &v));
	assert_true(v.t == TV_FLOAT && v.f == 0.0 && !signbit(v.f));
	assert_true(PARSE(cx, "1e999", &v));
	assert_true(v.t == TV_FLOAT && isinf(v.f) && v.f > 0);
	assert_true(PARSE(cx, "-1e999", &v));
	assert_true(v.t == TV_FLOAT && isinf(v.f) && v.f < 0);
	assert_true(PARSE(cx, "-9223372036854775808", &v));
	assert_true(v.t == TV_INT && v.i == INT64_MIN);
	assert_true(PARSE(cx, "21.456", &v));
	assert_true(v.t == TV_FLOAT && v.f == 21.456);
	ctx_free(&cx);
}

/* Python keeps big integers exact (and refuses more than 4300 digits);
 * the engine's ints are int64, so these become the nearest double. */
static void integers_beyond_int64_become_the_nearest_float(void **s)
{
	CTX(cx);
	struct tv v;
	assert_true(PARSE(cx, "9223372036854775808", &v));
	assert_true(v.t == TV_FLOAT && v.f == 9223372036854775808.0);
	assert_true(PARSE(cx, "-9223372036854775809", &v));
	assert_true(v.t == TV_FLOAT && v.f == -9223372036854775808.0);
	assert_true(PARSE(cx, "12345678901234567890", &v));
	assert_true(v.t == TV_FLOAT && v.f == 12345678901234567890.0);
	char big[402] = "1";
	memset(big + 1, '0', 400);
	big[401] = 0;
	assert_true(parse(&cx, big, 401, &v));
	assert_true(v.t == TV_FLOAT && isinf(v.f));
	char *r = REPR("[18446744073709551616, 1]");
	assert_non_null(r);
	assert_string_equal(r, "[1.8446744073709552e+19, 1]");
	free(r);
	ctx_free(&cx);
}

/* json.loads takes NaN and Infinity and keeps lone surrogates; they are
 * not JSON, and jansson rejected them too. */
static void nan_infinity_and_lone_surrogates_are_rejected_as_jansson_does(void **s)
{
	static const char *const bad[] = {
		"NaN", "Infinity", "-Infinity", "[NaN]", "\"\\ud800\"", "\"\\udc00\"",
		"\"\\ud800\\u0041\"", "\"\\ud800x\"", "\"\\ud800\\ud800\"", "\"\\udbff\\ue000\"",
		"\"\\ud800\\\"", "\"\\ud800\\u\"", "\"x\\ud83d\"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *r = parse_repr(bad[i], strlen(bad[i]));
		if (r)
			fail_msg("%s parsed as %s", bad[i], r);
	}
	char *r = REPR("\"\\udbff\\udfff\"");
	assert_non_null(r);
	assert_string_equal(r, "'\364\217\277\277'"); /* U+10FFFF */
	free(r);
}

static char *nested(const char *open, const char *close, int levels, size_t *len)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *t = malloc((lo + lc) * (size_t)levels + 2);
	assert_non_null(t);
	size_t n = 0;
	for (int i = 0; i < levels; i++, n += lo)
		memcpy(t + n, open, lo);
	t[n++] = '1';
	for (int i = 0; i < levels; i++, n += lc)
		memcpy(t + n, close, lc);
	t[n] = 0;
	*len = n;
	return t;
}

static void nesting_deeper_than_64_levels_is_not_json(void **s)
{
	static const struct { const char *open, *close; } kinds[] = {
		{ "[", "]" }, { "{\"a\":", "}" }, { "[{\"a\": ", "}]" },
	};
	for (size_t k = 0; k < 3; k++) {
		int per = k == 2 ? 2 : 1;
		size_t len;
		char *t = nested(kinds[k].open, kinds[k].close, 64 / per, &len);
		char *r = parse_repr(t, len);
		assert_non_null(r);
		free(r);
		free(t);
		t = nested(kinds[k].open, kinds[k].close, 64 / per + 1, &len);
		r = parse_repr(t, len);
		assert_null(r);
		free(t);
	}
	/* deep, and unterminated: refused at level 65, without recursing on */
	size_t len = 1000000;
	char *t = malloc(len);
	assert_non_null(t);
	memset(t, '[', len);
	assert_null(parse_repr(t, len));
	free(t);
}

static void duplicate_keys_keep_their_first_place_and_their_last_value(void **s)
{
	char *r = REPR("{\"a\": 1, \"b\": 2, \"a\": 3, \"c\": {\"x\": 1, \"x\": [2]}, "
		       "\"b\": null}");
	assert_non_null(r);
	assert_string_equal(r, "{'a': 3, 'b': None, 'c': {'x': [2]}}");
	free(r);
	/* many keys: the hashed path */
	CTX(cx);
	size_t cap = 64 * 1024, n = 0;
	char *t = malloc(cap);
	assert_non_null(t);
	t[n++] = '{';
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(t + n, cap - n, "%s\"k%d\": %d", i ? ", " : "", i % 1000, i);
	t[n++] = '}';
	struct tv v;
	assert_true(parse(&cx, t, n, &v));
	assert_int_equal(v.t, TV_DICT);
	assert_int_equal(v.d->n, 1000);
	for (int i = 0; i < 1000; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		assert_string_equal(v.d->k[i].s->s, k);
		assert_int_equal(v.d->v[i].t, TV_INT);
		assert_int_equal(v.d->v[i].i, i + 1000);
		const struct tv *got = tv_dict_get(&cx, &v, v.d->k[i]);
		assert_non_null(got);
		assert_int_equal(got->i, i + 1000);
	}
	free(t);
	ctx_free(&cx);
}

static void keys_may_hold_nul_and_differ_only_after_it(void **s)
{
	char *r = REPR("{\"a\\u0000b\": 1, \"a\\u0000c\": 2, \"a\": 3}");
	assert_non_null(r);
	assert_string_equal(r, "{'a\\x00b': 1, 'a\\x00c': 2, 'a': 3}");
	free(r);
}

static void a_text_that_is_not_json_leaves_the_output_untouched(void **s)
{
	CTX(cx);
	struct tv v = tv_int(42);
	assert_false(PARSE(cx, "{\"a\": [1, 2, 3], \"b\": x}", &v));
	assert_int_equal(v.t, TV_INT);
	assert_int_equal(v.i, 42);
	assert_false(PARSE(cx, "[1] [2]", &v));
	assert_int_equal(v.i, 42);
	assert_false(tpl_json_parse(&cx, NULL, 0, &v));
	assert_int_equal(v.i, 42);
	ctx_free(&cx);
}

static void whitespace_is_space_tab_newline_and_return_only(void **s)
{
	static const char *const bad[] = { "\f1", "1\v", "\0011", "1\240", "\302\2401", "[1,\f2]" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_null(parse_repr(bad[i], strlen(bad[i])));
	char *r = REPR(" \r\n\t{ \"a\" :\n[ 1 ,\t2 ] } \r\n\t ");
	assert_non_null(r);
	assert_string_equal(r, "{'a': [1, 2]}");
	free(r);
}

/* Every cut of a valid text is parsed inside its length; cutting a
 * container or a string short leaves something that is not JSON. */
static void every_prefix_of_a_valid_text_is_parsed_within_its_length(void **s)
{
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		const char *t = valid[i].json;
		size_t len = valid[i].len, last = len;
		while (last > 0 && strchr(" \t\r\n", t[last - 1]))
			last--;
		bool closed = last > 0 && strchr("]}\"", t[last - 1]);
		for (size_t n = 0; n < len; n++) {
			char *r = parse_repr(t, n);
			if (closed && n < last && r)
				fail_msg("prefix [%.*s] of %s parsed as %s", (int)n, t, t, r);
			free(r);
		}
	}
}

/* The fast path for short decimals must give strtod's double, bit for bit. */
static void floats_are_what_strtod_gives_bit_for_bit(void **s)
{
	CTX(cx);
	unsigned long long seed = 88172645463325252ull;
	for (int it = 0; it < 200000; it++) {
		char t[80];
		size_t n = 0;
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		unsigned long long r = seed;
		if (r & 1)
			t[n++] = '-';
		int ni = (int)(r >> 1 & 15) + 1, nf = (int)(r >> 5 & 31);
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		for (int i = 0; i < ni; i++) {
			int d = (int)((seed >> (i * 3 % 60)) % 10);
			t[n++] = (char)('0' + (i == 0 && ni > 1 && d == 0 ? 1 : d));
		}
		if (nf || !(r & 1024)) {
			t[n++] = '.';
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			for (int i = 0; i < (nf ? nf : 1); i++)
				t[n++] = (char)('0' + (seed >> (i * 2 % 62)) % 10);
		}
		if (r & 2048) {
			int e = (int)(r >> 12 & 63) - 32;
			if (r & 4096 << 6)
				e *= 11;
			n += (size_t)snprintf(t + n, sizeof t - n, "%c%d",
					      r & 8192 << 6 ? 'E' : 'e', e);
		}
		t[n] = 0;
		struct tv v;
		if (!parse(&cx, t, n, &v))
			fail_msg("%s: not JSON", t);
		bool isint = !strpbrk(t, ".eE");
		if (isint && v.t == TV_INT)
			continue;
		double want = strtod(t, NULL);
		if (v.t != TV_FLOAT || memcmp(&v.f, &want, sizeof want) != 0)
			fail_msg("%s: got %.17g, strtod %.17g", t,
				 v.t == TV_FLOAT ? v.f : NAN, want);
		if (it % 1000 == 999) { /* keep the arena small */
			ctx_free(&cx);
			cx.cur = cx.end = NULL;
		}
	}
	ctx_free(&cx);
}

static void long_arrays_strings_and_objects_parse_whole(void **s)
{
	CTX(cx);
	size_t cap = 1 << 20, n = 0;
	char *t = malloc(cap);
	assert_non_null(t);
	n += (size_t)snprintf(t + n, cap - n, "{\"list\": [");
	for (int i = 0; i < 10000; i++)
		n += (size_t)snprintf(t + n, cap - n, "%s[%d, \"s%d\", %d.5]", i ? "," : "", i,
				      i, i);
	n += (size_t)snprintf(t + n, cap - n, "], \"str\": \"");
	size_t s0 = n;
	for (int i = 0; i < 20000; i++)
		n += (size_t)snprintf(t + n, cap - n, i % 3 ? "ab\\u00e9" : "\\\"\342\202\254");
	n += (size_t)snprintf(t + n, cap - n, "\"}");
	size_t raw = n - 2 - s0;
	struct tv v;
	assert_true(parse(&cx, t, n, &v));
	assert_int_equal(v.t, TV_DICT);
	assert_int_equal(v.d->n, 2);
	const struct tv *l = &v.d->v[0];
	assert_int_equal(l->t, TV_LIST);
	assert_int_equal(l->l->n, 10000);
	for (int i = 0; i < 10000; i++) {
		const struct tv *e = &l->l->v[i];
		assert_int_equal(e->t, TV_LIST);
		assert_int_equal(e->l->n, 3);
		assert_int_equal(e->l->v[0].i, i);
		char k[16];
		snprintf(k, sizeof k, "s%d", i);
		assert_string_equal(e->l->v[1].s->s, k);
		assert_true(e->l->v[2].f == i + 0.5);
	}
	const struct tv *str = &v.d->v[1];
	assert_int_equal(str->t, TV_STR);
	assert_true(str->s->len < raw);
	size_t want = 0;
	for (int i = 0; i < 20000; i++)
		want += i % 3 ? 4 : 4; /* "abé" and "\"€" are both 4 bytes */
	assert_int_equal(str->s->len, want);
	assert_memory_equal(str->s->s, "\"\342\202\254ab\303\251ab\303\251\"", 13);
	free(t);
	ctx_free(&cx);
}

/* value_json as templates see it, or "error: " and the render's message.
 * These hold with jansson too; the lead switches the engine to
 * tpl_json_parse. */
static char *render(const char *tpl, const char *value, size_t len)
{
	struct mqb_template *t;
	struct mqb_tpl_error err = { 0 };
	if (mqb_template_compile(tpl, strlen(tpl), &t, &err))
		fail_msg("compile %s: %s", tpl, err.message);
	struct mqb_tpl_vars v = { .value = value, .value_len = len };
	char *out = NULL;
	size_t n;
	int rc = mqb_template_render(t, &v, NULL, &out, &n, &err);
	mqb_template_free(t);
	if (rc) { /* what the render said, for the cases that expect it */
		out = malloc(sizeof "error: " + strlen(err.message));
		assert_non_null(out);
		strcpy(out, "error: ");
		strcat(out, err.message);
	}
	return out;
}

static void value_json_templates_see_the_parsed_payload(void **s)
{
	static const char bench[] = "{\"temperature\": 21.456, \"humidity\": 55, \"battery\": 97, "
				    "\"linkquality\": 120, \"voltage\": 3012, \"id\": \"sensor-1\"}";
	static const struct { const char *tpl, *value, *expect; } c[] = {
		{ "{{ value_json.temperature | float | round(1) }}", bench, "21.5" },
		{ "{{ value_json.id }}/{{ value_json.voltage + 1 }}", bench, "sensor-1/3013" },
		{ "{{ value_json.humidity is integer }}", bench, "True" },
		{ "{{ value_json.temperature is float }}", bench, "True" },
		{ "{{ value_json }}", " {\"a\": [1, \"x\", 1.0, -0.0, 1e2, true, null]} ",
		  "{'a': [1, 'x', 1.0, -0.0, 100.0, True, None]}" },
		{ "{{ value_json | list }}", "{\"b\": 1, \"a\": 2, \"b\": 3}", "['b', 'a']" },
		{ "{{ value_json.b }}", "{\"b\": 1, \"a\": 2, \"b\": 3}", "3" },
		{ "{{ value_json.s }}", "{\"s\": \"\\u00e9\\ud83d\\ude00\\n\"}", "\303\251\360\237\230\200\n" },
		{ "{{ value_json.s | length }}", "{\"s\": \"a\\u0000b\"}", "3" },
		{ "{{ value_json is defined }}", "not json", "False" },
		{ "{{ value_json is defined }}", "{\"a\": 1} x", "False" },
		{ "{{ value_json is defined }}", "", "False" },
		{ "{{ value_json is defined }}", "\"\\ud800\"", "False" },
		{ "{{ value_json is defined }}", "\"\377\"", "False" },
		{ "{{ value_json is defined }}", "NaN", "False" },
		{ "{{ value_json }}", "\"plain\"", "plain" },
		/* one member read from the text (tpl_json_member): what the dict
		 * would have given, the whole text still checked */
		{ "{{ value_json['b'] }}", "{\"b\": 1, \"a\": 2, \"b\": 3}", "3" },
		{ "{{ value_json.a.b }}", "{\"a\": {\"b\": [1, 2.50]}, \"c\": \"x\"}", "[1, 2.5]" },
		{ "{{ value_json.a }}", "{\"\\u0061\": 5}", "5" },
		{ "{{ value_json.a }}", "{\"a\": 1} x", "error: 'value_json' is undefined" },
		{ "{{ value_json.a }}", "{\"a\": 1, \"b\": [1, 2}", "error: 'value_json' is undefined" },
		{ "{{ value_json.a | default('no') }}", "[1]", "no" },
		{ "{{ value_json.a | default('no') }}", "{\"b\": 1}", "no" },
		{ "{{ value_json.c }}", "{\"a\": \"\\ud800\", \"c\": 1}", "error: 'value_json' is undefined" },
		{ "{{ value_json.c }}", "{\"a\": \"\377\", \"c\": 1}", "error: 'value_json' is undefined" },
		{ "{{ value_json.c }}", "{\"a\": 01, \"c\": 1}", "error: 'value_json' is undefined" },
		{ "{{ value_json.c }}", "{\"a\": {\"x\": [true, null, -1e3, \"\\n\"]}, \"c\": 1}", "1" },
		{ "{{ value_json.c }}", "{\"a\": -0.5e+3, \"b\": 1E-2, \"c\": 1}", "1" },
		{ "{{ value_json.c }}", "{\"a\": -, \"c\": 1}", "error: 'value_json' is undefined" },
		{ "{{ value_json.c }}", "{\"a\": 1., \"c\": 1}", "error: 'value_json' is undefined" },
		{ "{{ value_json.c }}", "{\"a\": 1e+, \"c\": 1}", "error: 'value_json' is undefined" },
		{ "{{ value_json.c }}", "{\"a\": -01, \"c\": 1}", "error: 'value_json' is undefined" },
		{ "{% for i in range(2) %}{{ value_json.a }}{% endfor %}", "{\"a\": 1}", "11" },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		char *out = render(c[i].tpl, c[i].value, strlen(c[i].value));
		if (strcmp(out, c[i].expect) != 0)
			fail_msg("%s on %s: expected [%s] got [%s]", c[i].tpl, c[i].value,
				 c[i].expect, out);
		free(out);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(valid_texts_parse_to_what_python_json_loads_gives),
	cmocka_unit_test(texts_python_json_loads_rejects_are_not_json),
	cmocka_unit_test(integers_are_ints_and_numbers_with_a_fraction_or_exponent_are_floats),
	cmocka_unit_test(integers_beyond_int64_become_the_nearest_float),
	cmocka_unit_test(nan_infinity_and_lone_surrogates_are_rejected_as_jansson_does),
	cmocka_unit_test(nesting_deeper_than_64_levels_is_not_json),
	cmocka_unit_test(duplicate_keys_keep_their_first_place_and_their_last_value),
	cmocka_unit_test(keys_may_hold_nul_and_differ_only_after_it),
	cmocka_unit_test(a_text_that_is_not_json_leaves_the_output_untouched),
	cmocka_unit_test(whitespace_is_space_tab_newline_and_return_only),
	cmocka_unit_test(every_prefix_of_a_valid_text_is_parsed_within_its_length),
	cmocka_unit_test(floats_are_what_strtod_gives_bit_for_bit),
	cmocka_unit_test(long_arrays_strings_and_objects_parse_whole),
	cmocka_unit_test(value_json_templates_see_the_parsed_payload),
};

TU_MAIN(tests)
