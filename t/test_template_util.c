/* SPDX-License-Identifier: MIT */
/* The template platform's pure parts, without the daemon: the dependency
 * index (entity id -> dependents) and Home Assistant's reading of a
 * rendered template (platforms/template_deps.c, template_result.c). */
#include "testutil.h"

#include <jansson.h>

#include "template_deps.h"
#include "template_result.h"

/* ---- the dependency index ------------------------------------------------- */

struct dep {
	struct tdeps_who who;
	int hits;
};

static void hit(void *ud, struct tdeps_who *who)
{
	(void)ud;
	((struct dep *)(void *)who)->hits++;
}

static size_t visit(struct tdeps *d, const char *id)
{
	return tdeps_foreach(d, id, hit, NULL);
}

static void a_change_reaches_only_its_dependents(void **state)
{
	(void)state;
	struct tdeps *d = tdeps_new();
	struct dep a = {0}, b = {0}, c = {0};
	const char *ab[] = {"sensor.x", "sensor.y"}, *bc[] = {"sensor.y"}, *cz[] = {"sensor.z"};
	assert_int_equal(tdeps_set(d, &a.who, ab, 2), 0);
	assert_int_equal(tdeps_set(d, &b.who, bc, 1), 0);
	assert_int_equal(tdeps_set(d, &c.who, cz, 1), 0);
	assert_int_equal(visit(d, "sensor.y"), 2);
	assert_int_equal(a.hits, 1);
	assert_int_equal(b.hits, 1);
	assert_int_equal(c.hits, 0);
	assert_int_equal(visit(d, "sensor.nothing"), 0);
	assert_int_equal(tdeps_count(d), 3);
	tdeps_clear(d, &a.who);
	tdeps_clear(d, &b.who);
	tdeps_clear(d, &c.who);
	assert_int_equal(tdeps_count(d), 0);
	tdeps_free(d);
}

static void a_new_render_replaces_the_dependencies(void **state)
{
	(void)state;
	struct tdeps *d = tdeps_new();
	struct dep a = {0};
	const char *first[] = {"switch.mode", "sensor.day"};
	const char *second[] = {"switch.mode", "sensor.night"};
	assert_int_equal(tdeps_set(d, &a.who, first, 2), 0);
	assert_true(tdeps_has(&a.who, "sensor.day"));
	assert_int_equal(tdeps_set(d, &a.who, second, 2), 0);
	assert_false(tdeps_has(&a.who, "sensor.day"));
	assert_true(tdeps_has(&a.who, "sensor.night"));
	assert_int_equal(visit(d, "sensor.day"), 0);
	assert_int_equal(visit(d, "sensor.night"), 1);
	/* sensor.day's key went with its last dependent */
	assert_int_equal(tdeps_count(d), 2);
	assert_int_equal(tdeps_set(d, &a.who, NULL, 0), 0);
	assert_int_equal(tdeps_count(d), 0);
	tdeps_free(d);
}

static void duplicate_ids_make_one_edge(void **state)
{
	(void)state;
	struct tdeps *d = tdeps_new();
	struct dep a = {0}, b = {0};
	const char *ids[] = {"sensor.x", "sensor.x", "sensor.y", "sensor.x"};
	assert_int_equal(tdeps_set(d, &b.who, ids, 1), 0);
	assert_int_equal(tdeps_set(d, &a.who, ids, 4), 0);
	assert_int_equal(a.who.n, 2);
	assert_int_equal(visit(d, "sensor.x"), 2);
	assert_int_equal(a.hits, 1);
	tdeps_clear(d, &a.who);
	assert_int_equal(visit(d, "sensor.x"), 1);
	tdeps_clear(d, &b.who);
	tdeps_free(d);
}

/* Many templates over many entities: each change visits its own
 * dependents only, and the table grows without losing any. */
static void many_dependents_and_growth(void **state)
{
	(void)state;
	enum { N = 2000 };
	struct tdeps *d = tdeps_new();
	static struct dep v[N];
	static char names[N][32];
	memset(v, 0, sizeof v);
	for (int i = 0; i < N; i++)
		snprintf(names[i], sizeof names[i], "sensor.s%d", i);
	for (int i = 0; i < N; i++) {
		const char *ids[] = {names[i], names[(i + 1) % N], "sun.sun"};
		assert_int_equal(tdeps_set(d, &v[i].who, ids, 3), 0);
	}
	assert_int_equal(tdeps_count(d), N + 1);
	assert_int_equal(visit(d, "sensor.s7"), 2); /* v[7] and v[6] */
	assert_int_equal(v[7].hits, 1);
	assert_int_equal(v[6].hits, 1);
	assert_int_equal(v[8].hits, 0);
	assert_int_equal(visit(d, "sun.sun"), N);
	for (int i = 0; i < N; i++)
		tdeps_clear(d, &v[i].who);
	assert_int_equal(tdeps_count(d), 0);
	tdeps_free(d);
}

/* ---- results -------------------------------------------------------------- */

static int b(const char *s)
{
	return tres_bool(s, strlen(s), true);
}

static void binary_sensor_results_follow_result_as_boolean(void **state)
{
	(void)state;
	/* cv.boolean's words, any case, stripped */
	assert_int_equal(b("on"), 1);
	assert_int_equal(b(" ON\n"), 1);
	assert_int_equal(b("yes"), 1);
	assert_int_equal(b("Enable"), 1);
	assert_int_equal(b("true"), 1);
	assert_int_equal(b("True"), 1);
	assert_int_equal(b("1"), 1);
	assert_int_equal(b("off"), 0);
	assert_int_equal(b("False"), 0);
	assert_int_equal(b("disable"), 0);
	/* numbers as _parse_result types them: non-zero is on */
	assert_int_equal(b("2"), 1);
	assert_int_equal(b("-1"), 1);
	assert_int_equal(b("0.5"), 1);
	assert_int_equal(b("0"), 0);
	assert_int_equal(b("0.0"), 0);
	assert_int_equal(b("-0"), 0);
	/* not numbers by _IS_NUMERIC: strings, and no boolean word: off */
	assert_int_equal(b("1e3"), 0);
	assert_int_equal(b("007"), 0);
	assert_int_equal(b("nan"), 0);
	assert_int_equal(b("open"), 0);
	assert_int_equal(b(""), 0);
	/* None is unknown for a binary sensor, off for availability */
	assert_int_equal(b("None"), -1);
	assert_int_equal(tres_bool("None", 4, false), 0);
	assert_int_equal(tres_bool("unavailable", 11, false), 0);
}

static void switch_results_are_on_for_true_and_on_only(void **state)
{
	(void)state;
	assert_true(tres_switch_on("True", 4));
	assert_true(tres_switch_on(" on ", 4));
	assert_true(tres_switch_on("TRUE", 4));
	assert_false(tres_switch_on("1", 1)); /* an int, not a bool: off */
	assert_false(tres_switch_on("yes", 3));
	assert_false(tres_switch_on("off", 3));
}

/* Home Assistant strips a render with str.strip(), whose white space
 * goes beyond ASCII: python3 '\xa0on\u3000'.strip() == 'on'. */
static void results_are_stripped_as_python_str_strip_does(void **state)
{
	(void)state;
	assert_true(tres_switch_on("\xc2\xa0on\xe3\x80\x80", 7));
	assert_int_equal(tres_bool("\x1ctrue\x1f", 6, true), 1);
}

static void sensor_state(const char *in, const char *want)
{
	char buf[64];
	size_t n = strlen(in);
	const char *s = tres_sensor_state(in, &n, buf, sizeof buf);
	if (!want) {
		assert_null(s);
		return;
	}
	assert_non_null(s);
	char got[256];
	snprintf(got, sizeof got, "%.*s", (int)n, s);
	assert_string_equal(got, want);
}

static void sensor_states_are_written_as_home_assistant_writes_them(void **state)
{
	(void)state;
	sensor_state("  21.5\n", "21.5");
	sensor_state("21.50", "21.5");
	sensor_state("7.0", "7.0");
	sensor_state("5.", "5.0");
	sensor_state(".5", "0.5");
	sensor_state("0.30000000000000004", "0.3");
	sensor_state("21.400000000000002", "21.4");
	sensor_state("123456789012345.0", "1.23456789012345e+14");
	sensor_state("100000000000000.0", "1e+14");
	sensor_state("12345678901234.0", "12345678901234.0");
	sensor_state("99999999999999.99", "1e+14");
	sensor_state("0.0001", "0.0001");
	sensor_state("0.00001", "1e-05");
	sensor_state("-0.0", "-0.0");
	sensor_state("+3", "3");
	sensor_state("-0", "0");
	sensor_state("-12", "-12");
	sensor_state("007", "007");
	sensor_state("1e3", "1e3");
	sensor_state("abc def", "abc def");
	sensor_state("[1,2]", "[1,2]");
	sensor_state("None", NULL);
	sensor_state("True", "True");
}

static void attr(const char *in, const char *json)
{
	json_t *v = tres_json(in, strlen(in));
	assert_non_null(v);
	char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	assert_string_equal(got, json);
	free(got);
	json_decref(v);
}

static void attributes_are_typed_as_parse_result_types_them(void **state)
{
	(void)state;
	attr("3", "3");
	attr(" 2.5 ", "2.5");
	attr("True", "true");
	attr("None", "null");
	attr("open", "\"open\"");
	attr("007", "\"007\"");
	attr("['a', 'b']", "[\"a\",\"b\"]");
	attr("[1, 2.5, None, True]", "[1,2.5,null,true]");
	attr("{'x': 1, 'y': 'it\\'s'}", "{\"x\":1,\"y\":\"it's\"}");
	attr("(1, 2)", "[1,2]");
	attr("[1, 2", "\"[1, 2\"");
	attr("[x]", "\"[x]\"");
	attr("{1: 2}", "\"{1: 2}\"");
	attr("[0.25, -3, 1e-05]", "[0.25,-3,1.0000000000000001e-5]");
	attr("99999999999999999999", "\"99999999999999999999\"");
}

static void rate_limits_follow_what_the_template_iterates(void **state)
{
	(void)state;
	struct {
		const char *t;
		double rate;
	} cases[] = {
		{"{{ states('sensor.x') }}", 0},
		{"{{ states.sensor.x.state }}", 0},
		{"{{ states['sensor.x'].state }}", 0},
		{"{{ states.sensor | list | count }}", 1},
		{"{% for s in states.light %}{{ s.name }}{% endfor %}", 1},
		{"{{ states['sensor'] | count }}", 1},
		{"{{ states | selectattr('state', 'eq', 'on') | list | count }}", 60},
		{"{{ value_json.states | count }}", 0},
		{"the states of {{ 1 }}", 0},
		{"{{ 'states' }}", 0},
		{"{{ is_state('a.b', 'on') }}", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double r = tres_rate_limit(cases[i].t, strlen(cases[i].t));
		if (r != cases[i].rate)
			fail_msg("%s: %g, expected %g", cases[i].t, r, cases[i].rate);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(a_change_reaches_only_its_dependents),
	cmocka_unit_test(a_new_render_replaces_the_dependencies),
	cmocka_unit_test(duplicate_ids_make_one_edge),
	cmocka_unit_test(many_dependents_and_growth),
	cmocka_unit_test(binary_sensor_results_follow_result_as_boolean),
	cmocka_unit_test(switch_results_are_on_for_true_and_on_only),
	cmocka_unit_test(results_are_stripped_as_python_str_strip_does),
	cmocka_unit_test(sensor_states_are_written_as_home_assistant_writes_them),
	cmocka_unit_test(attributes_are_typed_as_parse_result_types_them),
	cmocka_unit_test(rate_limits_follow_what_the_template_iterates),
};

TU_MAIN(tests)
