/* SPDX-License-Identifier: MIT */
/* Durations and times of day (src/ha/duration.c) as Home Assistant's
 * cv.time_period, cv.positive_time_period_template and cv.time read them,
 * and template results read back as native values (src/template/native.c,
 * Template._parse_result), with the vectors of Home Assistant's own tests. */
#include "config.h"

#include <errno.h>
#include <math.h>

#include "testutil.h"
#include "config/load.h"
#include "ha/duration.h"
#include "lib/internal.h"
#include "template/native.h"

/* ---- native results -------------------------------------------------------- */

static void expect_json(const char *text, const char *json)
{
	json_t *v = tpl__parse_result(text, strlen(text));
	assert_non_null(v);
	json_error_t e;
	json_t *want = json_loads(json, JSON_DECODE_ANY, &e);
	assert_non_null(want);
	if (!json_equal(v, want)) {
		char *got = json_dumps(v, JSON_ENCODE_ANY);
		fail_msg("%s: got %s, want %s", text, got, json);
	}
	json_decref(v);
	json_decref(want);
}

/* tests/helpers/test_template.py::test_parse_result: only plain decimals
 * become numbers; everything else that is not a container, True, False or
 * None stays the text rendered. */
static void rendered_text_becomes_numbers_only_when_plainly_decimal(void **state)
{
	expect_json("{{}}", "\"{{}}\"");
	expect_json("not-something", "\"not-something\"");
	expect_json("2a", "\"2a\"");
	expect_json("123E5", "\"123E5\"");
	expect_json("1j", "\"1j\"");
	expect_json("1e+100", "\"1e+100\"");
	expect_json("0xface", "\"0xface\"");
	expect_json("123", "123");
	expect_json("10", "10");
	expect_json("123.0", "123.0");
	expect_json(".5", "0.5");
	expect_json("0.5", "0.5");
	expect_json("-1", "-1");
	expect_json("-1.0", "-1.0");
	expect_json("+1", "1");
	expect_json("5.", "5.0");
	expect_json("123_123_123", "\"123_123_123\"");
	expect_json("010", "\"010\"");
	expect_json("0011101.00100001010001", "\"0011101.00100001010001\"");
	expect_json("", "\"\"");
}

/* Containers, True/False/None come back as values (tuples and sets as
 * arrays, keys as Python's str() of them); a string literal stays the text
 * with its quotes, as Home Assistant keeps it. */
static void rendered_literals_become_values(void **state)
{
	expect_json("[1, 2, 'three']", "[1, 2, \"three\"]");
	expect_json("{'seconds': 5}", "{\"seconds\": 5}");
	expect_json("{1: 'yes', 2: 'yesyes'}", "{\"1\": \"yes\", \"2\": \"yesyes\"}");
	expect_json("True", "true");
	expect_json("False", "false");
	expect_json("None", "null");
	expect_json("(1, 2)", "[1, 2]");
	expect_json("1, 2", "[1, 2]");
	expect_json("{1, 2}", "[1, 2]");
	expect_json("{}", "{}");
	expect_json("[]", "[]");
	expect_json("'abc'", "\"'abc'\"");
	expect_json("true", "\"true\"");
	expect_json("[1e5, 0x10, -2.5]", "[100000.0, 16, -2.5]");
	expect_json("{'a': {'b': [None, True]}}", "{\"a\": {\"b\": [null, true]}}");
	expect_json("['it\\'s', \"\\u00e9\\n\"]", "[\"it's\", \"\\u00e9\\n\"]");
	expect_json("[1, 2", "\"[1, 2\"");
	expect_json("[a]", "\"[a]\"");
	expect_json("<state switch.x=on>", "\"<state switch.x=on>\"");
	expect_json("99999999999999999999", "\"99999999999999999999\"");
}

/* ---- durations ------------------------------------------------------------- */

struct doc {
	struct mqb_conf_doc *doc;
	const struct mqb_conf_node *root;
};

static struct doc load(const char *yaml)
{
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	struct doc d = { 0 };
	int rc = conf__load_string("t.yaml", NULL, yaml, strlen(yaml), NULL, &d.doc, &errs);
	if (rc) {
		mqb_conf_errors_print(&errs, stderr);
		fail_msg("could not load %s", yaml);
	}
	mqb_conf_errors_fini(&errs);
	d.root = mqb_conf_get(mqb_conf_root(d.doc), "d");
	assert_non_null(d.root);
	return d;
}

/* Compile "d: <yaml>" and render it with variables; 0 and *out, or the
 * error (compile errors: -EBADMSG with the first message in err). */
static int eval(const char *yaml, unsigned flags, const char *vars_json, double *out, char *err,
		size_t errlen)
{
	char text[512];
	snprintf(text, sizeof text, "d: %s\n", yaml);
	struct doc d = load(text);
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	struct duration dur;
	int rc;
	if (duration__compile(&dur, d.root, "d", flags, &errs)) {
		snprintf(err, errlen, "%s", errs.v[0].message);
		rc = -EBADMSG;
	} else {
		json_t *vars = vars_json ? json_loads(vars_json, 0, NULL) : NULL;
		struct mqb_tpl_vars tv = { .variables = vars };
		rc = duration__render(&dur, &tv, out, err, errlen);
		json_decref(vars);
	}
	duration__fini(&dur);
	mqb_conf_errors_fini(&errs);
	mqb_conf_doc_free(d.doc);
	return rc;
}

static void expect_seconds(const char *yaml, double want)
{
	double got = -1;
	char err[256] = "";
	int rc = eval(yaml, DURATION_POSITIVE, "{\"key\": \"minutes\", \"n\": 5}", &got, err,
		      sizeof err);
	if (rc)
		fail_msg("%s: %s", yaml, err);
	if (fabs(got - want) > 1e-9)
		fail_msg("%s: got %g, want %g", yaml, got, want);
}

static void expect_invalid(const char *yaml, unsigned flags, const char *msg_part)
{
	double got;
	char err[256] = "";
	int rc = eval(yaml, flags, NULL, &got, err, sizeof err);
	if (rc == 0)
		fail_msg("%s: accepted as %g", yaml, got);
	if (msg_part && !strstr(err, msg_part))
		fail_msg("%s: message '%s' lacks '%s'", yaml, err, msg_part);
}

/* tests/helpers/test_config_validation.py::test_time_period: the forms
 * that are accepted, and what they mean. */
static void every_duration_form_home_assistant_accepts_is_read(void **state)
{
	expect_seconds("5", 5);
	expect_seconds("0.001", 0.001);
	expect_seconds("'5'", 5);
	expect_seconds("'180'", 180);
	expect_seconds("'00:01'", 60);
	expect_seconds("'8:20'", 8 * 3600 + 20 * 60);
	expect_seconds("'00:00:05'", 5);
	expect_seconds("'00:08:20.5'", 500.5);
	expect_seconds("'0:0:5'", 5);
	expect_seconds("{seconds: 5}", 5);
	expect_seconds("{hours: 1, minutes: 30}", 5400);
	expect_seconds("{milliseconds: 1.5}", 0.0015);
	expect_seconds("{minutes: '1.5'}", 90);
	expect_seconds("{days: 1}", 86400);
	/* YAML 1.1, as PyYAML reads an unquoted 5:00: 300 seconds */
	expect_seconds("5:00", 300);
	expect_seconds("05:00", 5 * 3600);
}

static void invalid_durations_are_refused_with_home_assistants_words(void **state)
{
	expect_invalid("''", 0, "should be format");
	expect_invalid("hello:world", 0, "should be format 'HH:MM', 'HH:MM:SS' or 'HH:MM:SS.F'");
	expect_invalid("'12:'", 0, "should be format");
	expect_invalid("'12:34:56:78'", 0, "should be format");
	expect_invalid("{}", 0, "must contain at least one of days, hours, minutes, seconds, "
				"milliseconds.");
	expect_invalid("{wrong_key: -10}", 0, "extra keys not allowed");
	expect_invalid("'12.5:30'", 0, "should be format");
	expect_invalid("'12:30.5'", 0, "should be format");
	expect_invalid("invalid", 0, "should be format");
	expect_invalid("{seconds: abc}", 0, "expected float for dictionary value @ data['seconds']");
	expect_invalid("[1, 2]", 0, "expected a duration");
	expect_invalid("'-00:08:20.5'", DURATION_POSITIVE, "Time period should be positive");
	expect_invalid("{seconds: -1}", DURATION_POSITIVE, "Time period should be positive");
	/* offsets may be negative */
	double s;
	char err[128];
	assert_int_equal(eval("'-00:08:20.5'", 0, NULL, &s, err, sizeof err), 0);
	assert_true(fabs(s + 500.5) < 1e-9);
}

/* tests/helpers/test_config_validation.py::test_positive_time_period_template
 * and tests/helpers/test_script.py::test_delay_template_ok,
 * ::test_delay_template_complex_ok: templates in any place, rendered when
 * the value is needed, into any of the forms. */
static void templates_render_into_any_form(void **state)
{
	expect_seconds("'{{ 5 }}'", 5);
	expect_seconds("'00:00:{{ 5 }}'", 5);
	expect_seconds("'{{ \"00:01\" }}'", 60);
	expect_seconds("'{{ {\"seconds\": 5} }}'", 5);
	expect_seconds("{seconds: '{{ 5 }}'}", 5);
	expect_seconds("{seconds: '{{ n }}', minutes: 1}", 65);
	expect_seconds("{'{{ key }}': 5}", 300);
}

/* tests/helpers/test_script.py::test_delay_template_invalid and
 * ::test_delay_template_complex_invalid: what a bad rendering says. */
static void a_bad_rendering_says_what_home_assistant_says(void **state)
{
	double s;
	char err[256] = "";
	assert_int_equal(eval("'{{ invalid_delay }}'", DURATION_POSITIVE, NULL, &s, err, sizeof err),
			 -EINVAL);
	assert_string_equal(err, "offset  should be format 'HH:MM', 'HH:MM:SS' or 'HH:MM:SS.F'");
	assert_int_equal(eval("{seconds: '{{ invalid_delay }}'}", DURATION_POSITIVE, NULL, &s, err,
			      sizeof err),
			 -EINVAL);
	assert_string_equal(err, "expected float for dictionary value @ data['seconds']");
	assert_int_equal(eval("'{{ -5 }}'", DURATION_POSITIVE, NULL, &s, err, sizeof err), -EINVAL);
	assert_string_equal(err, "Time period should be positive");
	assert_int_equal(eval("'{{ 1/0 }}'", DURATION_POSITIVE, NULL, &s, err, sizeof err), -EINVAL);
	assert_true(strlen(err) > 0);
}

/* A template that does not compile is a configuration error at its own
 * line and column. */
static void a_template_that_does_not_compile_is_a_config_error_at_its_place(void **state)
{
	struct doc d = load("x: 1\nd: {seconds: '{{ 5 +  }}'}\n");
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	struct duration dur;
	assert_int_equal(duration__compile(&dur, d.root, "script.x.sequence[0].delay", 0, &errs), 1);
	assert_int_equal(errs.v[0].mark.line, 2);
	assert_true(errs.v[0].mark.column > 14);
	assert_string_equal(errs.v[0].path, "script.x.sequence[0].delay");
	duration__fini(&dur);
	mqb_conf_errors_fini(&errs);
	mqb_conf_doc_free(d.doc);
}

/* ---- times of day and text ------------------------------------------------- */

/* tests/helpers/test_config_validation.py::test_time and
 * homeassistant/util/dt.py::parse_time: "HH:MM" and "HH:MM:SS". */
static void times_of_day_are_hh_mm_with_optional_seconds(void **state)
{
	double s;
	assert_true(duration__parse_time_of_day("10:00", 5, &s));
	assert_true(s == 36000);
	assert_true(duration__parse_time_of_day("23:59:59", 8, &s));
	assert_true(s == 86399);
	assert_true(duration__parse_time_of_day("7:5", 3, &s));
	assert_true(s == 7 * 3600 + 5 * 60);
	assert_false(duration__parse_time_of_day("24:00", 5, &s));
	assert_false(duration__parse_time_of_day("10", 2, &s));
	assert_false(duration__parse_time_of_day("10:60", 5, &s));
	assert_false(duration__parse_time_of_day("10:00:00.5", 10, &s));
	assert_false(duration__parse_time_of_day("a:b", 3, &s));
	assert_false(duration__parse_time_of_day("1:2:3:4", 7, &s));
}

/* Python's str(timedelta), as `delay 0:00:05` and `(timeout: 0:00:05)`
 * show it in Home Assistant's logs. */
static void durations_print_as_python_prints_a_timedelta(void **state)
{
	char b[DURATION_TEXT_MAX];
	assert_string_equal(duration__format(5, b), "0:00:05");
	assert_string_equal(duration__format(0, b), "0:00:00");
	assert_string_equal(duration__format(0.5, b), "0:00:00.500000");
	assert_string_equal(duration__format(3600 * 25 + 61, b), "1 day, 1:01:01");
	assert_string_equal(duration__format(86400 * 3, b), "3 days, 0:00:00");
	assert_string_equal(duration__format(-5, b), "-1 day, 23:59:55");
	assert_true(duration__is_template_text("a {{ b }}", 9));
	assert_true(duration__is_template_text("{% if %}", 8));
	assert_false(duration__is_template_text("{ a }", 5));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(rendered_text_becomes_numbers_only_when_plainly_decimal),
	cmocka_unit_test(rendered_literals_become_values),
	cmocka_unit_test(every_duration_form_home_assistant_accepts_is_read),
	cmocka_unit_test(invalid_durations_are_refused_with_home_assistants_words),
	cmocka_unit_test(templates_render_into_any_form),
	cmocka_unit_test(a_bad_rendering_says_what_home_assistant_says),
	cmocka_unit_test(a_template_that_does_not_compile_is_a_config_error_at_its_place),
	cmocka_unit_test(times_of_day_are_hh_mm_with_optional_seconds),
	cmocka_unit_test(durations_print_as_python_prints_a_timedelta),
};

TU_MAIN(tests)
