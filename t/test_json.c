/* SPDX-License-Identifier: MIT */
/* The JSON writer (mqbridge/json.h) against what python3's json.dumps
 * prints for the same value: floats as repr (45.12, not jansson's
 * 45.119999999999997), its spacing, its escapes with and without
 * ensure_ascii, sorted keys, and the nesting bound. */
#include "config.h"

#include <float.h>
#include <stdint.h>

#include "testutil.h"
#include "mqbridge/json.h"

static void dumps_is(const json_t *j, unsigned flags, const char *want)
{
	char *s = mqb_json_dumps(j, flags);
	assert_non_null(s);
	if (strcmp(s, want) != 0)
		fail_msg("got  %s\nwant %s", s, want);
	free(s);
}

/* python3: json.dumps({"elevation": 45.12, ...}) */
static void floats_are_written_as_python_repr(void **state)
{
	(void)state;
	json_t *o = json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "elevation", 45.12, "step", 0.1,
			      "tiny", 1e-05, "big", 1e16, "neg0", -0.0, "two", 2.0, "huge", 1e300,
			      "third", 1.0 / 3);
	dumps_is(o, 0,
		 "{\"elevation\": 45.12, \"step\": 0.1, \"tiny\": 1e-05, \"big\": 1e+16, "
		 "\"neg0\": -0.0, \"two\": 2.0, \"huge\": 1e+300, \"third\": 0.3333333333333333}");
	json_decref(o);
	json_t *r = json_real(DBL_MAX);
	dumps_is(r, 0, "1.7976931348623157e+308");
	json_decref(r);
}

/* python3: json.dumps(..., separators=(",", ":"), sort_keys=True) */
static void compact_and_sorted_keys_as_json_dumps_writes_them(void **state)
{
	(void)state;
	json_t *o = json_pack("{s:[i,i,{}],s:[],s:n,s:b,s:b}", "b", 1, 2, "a", "c", "t", 1, "f", 0);
	dumps_is(o, MQB_JSON_COMPACT | MQB_JSON_SORT_KEYS,
		 "{\"a\":[],\"b\":[1,2,{}],\"c\":null,\"f\":false,\"t\":true}");
	/* insertion order otherwise, as jansson keeps it and Python's dicts */
	dumps_is(o, MQB_JSON_COMPACT, "{\"b\":[1,2,{}],\"a\":[],\"c\":null,\"t\":true,\"f\":false}");
	dumps_is(o, 0, "{\"b\": [1, 2, {}], \"a\": [], \"c\": null, \"t\": true, \"f\": false}");
	json_decref(o);
	/* more keys than fit the small sort buffer */
	json_t *many = json_object();
	for (int i = 19; i >= 0; i--) {
		char k[8];
		snprintf(k, sizeof k, "k%02d", i);
		json_object_set_new(many, k, json_integer(i));
	}
	char *s = mqb_json_dumps(many, MQB_JSON_COMPACT | MQB_JSON_SORT_KEYS);
	assert_non_null(s);
	assert_true(strncmp(s, "{\"k00\":0,\"k01\":1,", 17) == 0);
	assert_non_null(strstr(s, "\"k18\":18,\"k19\":19}"));
	free(s);
	json_decref(many);
}

/* python3: json.dumps(s, ensure_ascii=False) and json.dumps(s) */
static void strings_are_escaped_as_python_escapes_them(void **state)
{
	(void)state;
	json_t *s = json_string("q\" b\\ n\n r\r t\t b\b f\f x\x01 y\x1f del\x7f \xc3\xa9 "
				"\xe2\x82\xac \xf0\x9f\x98\x80 <&>'");
	dumps_is(s, 0,
		 "\"q\\\" b\\\\ n\\n r\\r t\\t b\\b f\\f x\\u0001 y\\u001f del\x7f \xc3\xa9 "
		 "\xe2\x82\xac \xf0\x9f\x98\x80 <&>'\"");
	dumps_is(s, MQB_JSON_ENSURE_ASCII,
		 "\"q\\\" b\\\\ n\\n r\\r t\\t b\\b f\\f x\\u0001 y\\u001f del\\u007f \\u00e9 "
		 "\\u20ac \\ud83d\\ude00 <&>'\"");
	json_decref(s);
	json_t *k = json_pack("{s:s}", "unit_of_measurement", "\xc2\xb0" "C");
	dumps_is(k, MQB_JSON_ENSURE_ASCII, "{\"unit_of_measurement\": \"\\u00b0C\"}");
	json_decref(k);
}

static void integers_and_scalars_stand_alone(void **state)
{
	(void)state;
	json_t *a = json_pack("[I,I,i,i]", (json_int_t)INT64_MIN, (json_int_t)INT64_MAX, 0, -5);
	dumps_is(a, 0, "[-9223372036854775808, 9223372036854775807, 0, -5]");
	json_decref(a);
	dumps_is(json_true(), 0, "true");
	dumps_is(json_null(), MQB_JSON_COMPACT, "null");
	json_t *r = json_real(21.5);
	dumps_is(r, 0, "21.5");
	json_decref(r);
}

static void nesting_past_the_bound_is_refused(void **state)
{
	(void)state;
	json_t *root = json_array(), *cur = root;
	for (int i = 0; i < 300; i++) {
		json_t *next = json_array();
		json_array_append_new(cur, next);
		cur = next;
	}
	assert_null(mqb_json_dumps(root, 0));
	json_decref(root);
	assert_null(mqb_json_dumps(NULL, 0));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(floats_are_written_as_python_repr),
	cmocka_unit_test(compact_and_sorted_keys_as_json_dumps_writes_them),
	cmocka_unit_test(strings_are_escaped_as_python_escapes_them),
	cmocka_unit_test(integers_and_scalars_stand_alone),
	cmocka_unit_test(nesting_past_the_bound_is_refused),
};

TU_MAIN(tests)
