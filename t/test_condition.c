/* SPDX-License-Identifier: MIT */
/* Conditions (mqbridge/condition.h, src/ha/condition.c) against Home
 * Assistant's own tests: tests/helpers/test_condition.py unless a case
 * names another file. Each case compiles YAML, sets states on a core whose
 * loop is this thread, and tests; time moves with the test clock hook. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <time.h>

#include "testutil.h"
#include "config/load.h"
#include "core/hass.h"
#include "core/loop.h"
#include "ha/condition_impl.h"
#include "ha/cv.h"
#include "lib/internal.h"
#include "mqbridge/condition.h"
#include "mqbridge/location.h"
#include "mqbridge/states.h"
#include "mqbridge/sun.h"
#include "mqbridge/timer.h"

struct fx {
	struct mqb_core *core;
	struct mqb_conf_doc *doc;
	struct mqb_condition *c;
	char err[1024];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	assert_int_equal(mqb_core_new(NULL, &f->core), 0);
	setenv("TZ", "UTC", 1);
	tzset();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	mqb_condition_free(f->c);
	mqb_conf_doc_free(f->doc);
	mqb_core_free(f->core);
	free(f);
	return 0;
}

/* Compile the condition under "c:" in yaml; fails the test on errors. */
static void compile_ok(struct fx *f, const char *yaml)
{
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	mqb_condition_free(f->c);
	f->c = NULL;
	mqb_conf_doc_free(f->doc);
	f->doc = NULL;
	if (conf__load_string("t.yaml", NULL, yaml, strlen(yaml), NULL, &f->doc, &errs) ||
	    mqb_condition_compile(mqb_conf_get(mqb_conf_root(f->doc), "c"), "c", &errs, &f->c)) {
		mqb_conf_errors_print(&errs, stderr);
		fail_msg("does not compile:\n%s", yaml);
	}
	mqb_conf_errors_fini(&errs);
}

/* Compile yaml that must fail; the first error's message must hold want,
 * at line:column when line is not 0. */
static void compile_fails(const char *yaml, const char *want, unsigned line, unsigned column)
{
	struct mqb_conf_errors errs;
	struct mqb_conf_doc *doc = NULL;
	struct mqb_condition *c = NULL;
	mqb_conf_errors_init(&errs);
	assert_int_equal(conf__load_string("t.yaml", NULL, yaml, strlen(yaml), NULL, &doc, &errs), 0);
	size_t n = mqb_condition_compile(mqb_conf_get(mqb_conf_root(doc), "c"), "c", &errs, &c);
	tu_expect_conf_error(&errs, n, want, line, column, yaml);
	assert_null(c);
	mqb_conf_errors_fini(&errs);
	mqb_conf_doc_free(doc);
}

/* 1, 0, or -EINVAL (the message in f->err). */
static int test_with(struct fx *f, const char *vars_json)
{
	json_t *vars = vars_json ? json_loads(vars_json, 0, NULL) : NULL;
	f->err[0] = '\0';
	int rc = mqb_condition_async_test(f->core, f->c, vars, f->err, sizeof f->err);
	json_decref(vars);
	return rc;
}

static int test(struct fx *f)
{
	return test_with(f, NULL);
}

static void set(struct fx *f, const char *id, const char *state, const char *attrs_json)
{
	json_t *a = attrs_json ? json_loads(attrs_json, 0, NULL) : NULL;
	assert_int_equal(mqb_states_async_set(f->core, id, state, a, false), 0);
}

/* The wall clock at local (UTC here) time h:m:s on a given day. */
static void at(struct fx *f, int year, int mon, int day, int h, int m, int s)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day, .tm_hour = h,
			 .tm_min = m, .tm_sec = s };
	double want = (double)timegm(&tm);
	timer__shift_wall(f->core, want - mqb_async_now(f->core));
}

/* ---- and, or, not ------------------------------------------------------------ */

#define AND_OR_MEMBERS \
	"      - condition: state\n" \
	"        entity_id: sensor.temperature\n" \
	"        state: '100'\n" \
	"      - condition: numeric_state\n" \
	"        entity_id: sensor.temperature\n" \
	"        below: 110\n"

/* ::test_and_condition */
static void and_holds_when_every_part_holds(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  alias: And Condition\n  condition: and\n  conditions:\n" AND_OR_MEMBERS);
	assert_int_equal(test(f), -EINVAL);
	assert_non_null(strstr(f->err, "unknown entity sensor.temperature"));
	set(f, "sensor.temperature", "120", NULL);
	assert_int_equal(test(f), 0);
	set(f, "sensor.temperature", "105", NULL);
	assert_int_equal(test(f), 0);
	set(f, "sensor.temperature", "100", NULL);
	assert_int_equal(test(f), 1);
}

/* ::test_and_condition_raises: an error counts only when nothing is false */
static void and_is_false_despite_an_error_when_a_part_is_false(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  condition: and\n  conditions:\n"
		      "    - {condition: state, entity_id: sensor.temperature, state: '100'}\n"
		      "    - {condition: numeric_state, entity_id: sensor.temperature2, above: 110}\n");
	set(f, "sensor.temperature2", "120", NULL);
	assert_int_equal(test(f), -EINVAL);
	assert_string_equal(f->err, "In 'and' (item 1 of 2):\n"
				    "  In 'state':\n"
				    "    In 'state' condition: unknown entity sensor.temperature");
	set(f, "sensor.temperature2", "90", NULL);
	assert_int_equal(test(f), 0);
}

/* ::test_or_condition, ::test_or_condition_raises */
static void or_holds_when_a_part_holds(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  condition: or\n  conditions:\n" AND_OR_MEMBERS);
	assert_int_equal(test(f), -EINVAL);
	set(f, "sensor.temperature", "120", NULL);
	assert_int_equal(test(f), 0);
	set(f, "sensor.temperature", "105", NULL);
	assert_int_equal(test(f), 1);
	set(f, "sensor.temperature", "100", NULL);
	assert_int_equal(test(f), 1);

	compile_ok(f, "c:\n  condition: or\n  conditions:\n"
		      "    - {condition: state, entity_id: sensor.nowhere, state: '100'}\n"
		      "    - {condition: numeric_state, entity_id: sensor.temperature, above: 110}\n");
	assert_int_equal(test(f), -EINVAL); /* 100 is not above 110 */
	set(f, "sensor.temperature", "120", NULL);
	assert_int_equal(test(f), 1);
}

/* ::test_not_condition, ::test_not_condition_raises: not is "none of" */
static void not_holds_when_no_part_holds(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  condition: not\n  conditions:\n"
		      "    - {condition: state, entity_id: sensor.temperature, state: '100'}\n"
		      "    - {condition: numeric_state, entity_id: sensor.temperature, below: 50}\n");
	assert_int_equal(test(f), -EINVAL);
	set(f, "sensor.temperature", "101", NULL);
	assert_int_equal(test(f), 1);
	set(f, "sensor.temperature", "50", NULL);
	assert_int_equal(test(f), 1);
	set(f, "sensor.temperature", "49", NULL);
	assert_int_equal(test(f), 0);
	set(f, "sensor.temperature", "100", NULL);
	assert_int_equal(test(f), 0);
}

/* ::test_and_condition_shorthand, ::test_and_condition_list_shorthand,
 * ::test_or_condition_shorthand, ::test_not_condition_shorthand and the
 * bare template string. */
static void shorthands_mean_what_they_stand_for(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  alias: And Condition Shorthand\n  and:\n" AND_OR_MEMBERS);
	set(f, "sensor.temperature", "100", NULL);
	assert_int_equal(test(f), 1);
	assert_string_equal(condition__type(f->c), "and");
	assert_string_equal(condition__alias(f->c), "And Condition Shorthand");
	compile_ok(f, "c:\n  condition:\n" AND_OR_MEMBERS);
	assert_int_equal(test(f), 1);
	set(f, "sensor.temperature", "105", NULL);
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  or:\n" AND_OR_MEMBERS);
	assert_int_equal(test(f), 1);
	compile_ok(f, "c:\n  not:\n" AND_OR_MEMBERS);
	assert_int_equal(test(f), 0);
	compile_ok(f, "c: \"{{ states('sensor.temperature') == '105' }}\"\n");
	assert_int_equal(test(f), 1);
	compile_ok(f, "c:\n  - \"{{ true }}\"\n  - condition: \"{{ 1 == 2 }}\"\n");
	assert_int_equal(test(f), 0);
}

/* ::test_disabled_condition, ::test_and_condition_with_disabled_condition,
 * ::test_or_condition_with_disabled_condition: a disabled condition is as
 * if it were not there. */
static void a_disabled_condition_is_as_if_absent(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  condition: numeric_state\n  entity_id: sensor.x\n  below: 10\n"
		      "  enabled: false\n");
	assert_int_equal(test(f), 1);
	compile_ok(f, "c:\n  condition: numeric_state\n  entity_id: sensor.x\n  below: 10\n"
		      "  enabled: \"{{ 1 == 9 }}\"\n");
	assert_int_equal(test(f), 1);
	compile_ok(f, "c:\n  condition: and\n  conditions:\n"
		      "    - {condition: state, entity_id: sensor.temperature, state: '100', "
		      "enabled: false}\n"
		      "    - {condition: numeric_state, entity_id: sensor.temperature, below: 110}\n");
	set(f, "sensor.temperature", "120", NULL);
	assert_int_equal(test(f), 0);
	set(f, "sensor.temperature", "105", NULL);
	assert_int_equal(test(f), 1);
	compile_ok(f, "c:\n  condition: or\n  conditions:\n"
		      "    - {condition: state, entity_id: sensor.temperature, state: '100', "
		      "enabled: false}\n"
		      "    - {condition: numeric_state, entity_id: sensor.temperature, below: 110}\n");
	set(f, "sensor.temperature", "120", NULL);
	assert_int_equal(test(f), 0);
	set(f, "sensor.temperature", "105", NULL);
	assert_int_equal(test(f), 1);
	compile_ok(f, "c:\n  or:\n    - {condition: template, value_template: '{{ true }}', "
		      "enabled: false}\n");
	assert_int_equal(test(f), 0); /* an or of nothing enabled */
}

/* ---- state ------------------------------------------------------------------- */

/* ::test_state_multiple_entities, ::test_state_multiple_entities_match_any */
static void state_of_several_entities_matches_all_or_any(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  condition: state\n  entity_id: [sensor.a, sensor.b]\n  state: '100'\n");
	set(f, "sensor.a", "100", NULL);
	set(f, "sensor.b", "100", NULL);
	assert_int_equal(test(f), 1);
	set(f, "sensor.a", "101", NULL);
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: state\n  entity_id: sensor.a, sensor.b\n  state: '100'\n"
		      "  match: any\n");
	assert_int_equal(test(f), 1);
	set(f, "sensor.b", "101", NULL);
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: state\n  entity_id: [sensor.a, sensor.nowhere]\n"
		      "  state: '101'\n  match: ANY\n");
	/* a missing entity raises even though another matched */
	assert_int_equal(test(f), -EINVAL);
}

/* ::test_multiple_states, ::test_state_raises */
static void state_may_be_one_of_several(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  condition: state\n  entity_id: sensor.t\n  state: ['100', '200']\n");
	set(f, "sensor.t", "100", NULL);
	assert_int_equal(test(f), 1);
	set(f, "sensor.t", "200", NULL);
	assert_int_equal(test(f), 1);
	set(f, "sensor.t", "42", NULL);
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: state\n  entity_id: [sensor.door_unknown, "
		      "sensor.window_unknown]\n  state: 'open'\n");
	assert_int_equal(test(f), -EINVAL);
	assert_non_null(strstr(f->err, "unknown entity sensor.door_unknown"));
	assert_non_null(strstr(f->err, "unknown entity sensor.window_unknown"));
}

/* ::test_state_attribute, ::test_state_attribute_boolean,
 * ::test_state_unknown_attribute: typed comparison of an attribute. */
static void state_of_an_attribute_compares_typed_values(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  condition: state\n  entity_id: sensor.t\n  attribute: attribute1\n"
		      "  state: 200\n");
	set(f, "sensor.t", "100", "{\"unknown_attr\": 200}");
	assert_int_equal(test(f), 0);
	set(f, "sensor.t", "100", "{\"attribute1\": 200}");
	assert_int_equal(test(f), 1);
	set(f, "sensor.t", "100", "{\"attribute1\": \"200\"}");
	assert_int_equal(test(f), 0);
	set(f, "sensor.t", "100", "{\"attribute1\": 201}");
	assert_int_equal(test(f), 0);
	set(f, "sensor.t", "100", "{\"attribute1\": null}");
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: state\n  entity_id: sensor.t\n  attribute: happening\n"
		      "  state: false\n");
	set(f, "sensor.t", "100", "{\"happening\": 200}");
	assert_int_equal(test(f), 0);
	set(f, "sensor.t", "100", "{\"happening\": true}");
	assert_int_equal(test(f), 0);
	set(f, "sensor.t", "100", "{\"no_happening\": 201}");
	assert_int_equal(test(f), 0);
	set(f, "sensor.t", "100", "{\"happening\": false}");
	assert_int_equal(test(f), 1);
}

/* ::test_state_using_input_entities: a wanted state naming an input
 * helper is that helper's state now. */
static void state_may_be_an_input_helpers_state(void **state)
{
	struct fx *f = *state;
	set(f, "input_text.hello", "goodbye", NULL);
	set(f, "input_select.hello", "cya", NULL);
	compile_ok(f, "c:\n  condition: state\n  entity_id: sensor.salut\n"
		      "  state: [input_text.hello, input_select.hello, salut]\n");
	set(f, "sensor.salut", "goodbye", NULL);
	assert_int_equal(test(f), 1);
	set(f, "sensor.salut", "salut", NULL);
	assert_int_equal(test(f), 1);
	set(f, "sensor.salut", "hello", NULL);
	assert_int_equal(test(f), 0);
	set(f, "input_text.hello", "hi", NULL);
	assert_int_equal(test(f), 0);
	set(f, "sensor.salut", "hi", NULL);
	assert_int_equal(test(f), 1);
	set(f, "sensor.salut", "cya", NULL);
	assert_int_equal(test(f), 1);
	compile_ok(f, "c:\n  condition: state\n  entity_id: sensor.salut\n"
		      "  state: input_text.missing\n");
	assert_int_equal(test(f), -EINVAL);
	assert_non_null(strstr(f->err, "the 'state' entity input_text.missing is unavailable"));
}

/* ::test_state_for, ::test_state_for_template, ::test_state_for_invalid_template */
static void state_for_needs_the_state_held_long_enough(void **state)
{
	struct fx *f = *state;
	set(f, "input_number.test", "5", NULL);
	compile_ok(f, "c:\n  condition: state\n  entity_id: sensor.t\n  state: '100'\n"
		      "  for: {seconds: 5}\n");
	set(f, "sensor.t", "100", NULL);
	assert_int_equal(test(f), 0);
	timer__shift_wall(f->core, 10);
	assert_int_equal(test(f), 1);
	compile_ok(f, "c:\n  condition: state\n  entity_id: sensor.t\n  state: '100'\n"
		      "  for: {seconds: \"{{ states('input_number.test') | int }}\"}\n");
	assert_int_equal(test(f), 1);
	set(f, "input_number.test", "600", NULL);
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: state\n  entity_id: sensor.t\n  state: '100'\n"
		      "  for: {hours: \"{{ 1/0 }}\"}\n");
	assert_int_equal(test(f), -EINVAL);
	assert_non_null(strstr(f->err, "template error"));
}

/* tests/components/switch/test_device_condition.py (test_if_state,
 * test_if_fires_on_for_condition) and device_automation/toggle_entity.py:
 * is_on and is_off of an entity that turns on and off are its state, with
 * for; another integration's device condition is an error at its domain. */
static void a_device_condition_of_a_toggle_entity_is_its_state(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  condition: device\n  device_id: abc\n  domain: switch\n"
		      "  entity_id: switch.tree\n  type: is_on\n");
	set(f, "switch.tree", "on", NULL);
	assert_int_equal(test(f), 1);
	set(f, "switch.tree", "off", NULL);
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: device\n  device_id: abc\n  domain: light\n"
		      "  entity_id: light.desk\n  type: is_off\n  for: {seconds: 5}\n");
	set(f, "light.desk", "off", NULL);
	assert_int_equal(test(f), 0);
	timer__shift_wall(f->core, 10);
	assert_int_equal(test(f), 1);
	compile_fails("c:\n  condition: device\n  device_id: abc\n  domain: zha\n  type: x\n",
		      "device conditions of zha are not available in mqbridge", 4, 11);
	compile_fails("c:\n  condition: device\n  device_id: abc\n  domain: switch\n"
		      "  entity_id: switch.tree\n  type: is_open\n",
		      "value must be one of ['is_off', 'is_on']", 6, 9);
}

/* ---- numeric_state ------------------------------------------------------------- */

/* ::test_numeric_state_known_non_matching, ::test_numeric_state_raises */
static void numeric_state_is_false_when_unknown_and_an_error_when_not_a_number(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  condition: numeric_state\n  entity_id: sensor.temperature\n  above: 0\n");
	set(f, "sensor.temperature", "unavailable", NULL);
	assert_int_equal(test(f), 0);
	set(f, "sensor.temperature", "unknown", NULL);
	assert_int_equal(test(f), 0);
	set(f, "sensor.temperature", "fifty", NULL);
	assert_int_equal(test(f), -EINVAL);
	assert_non_null(strstr(f->err, "entity sensor.temperature state 'fifty' cannot be processed "
				       "as a number"));
	compile_ok(f, "c:\n  condition: numeric_state\n  entity_id: [sensor.temperature1, "
		      "sensor.temperature2]\n  above: 0\n");
	assert_int_equal(test(f), -EINVAL);
	assert_non_null(strstr(f->err, "sensor.temperature1"));
	assert_non_null(strstr(f->err, "sensor.temperature2"));
	compile_ok(f, "c:\n  condition: numeric_state\n  entity_id: sensor.temperature\n"
		      "  value_template: \"{{ 1 / 0 }}\"\n  above: 0\n");
	assert_int_equal(test(f), -EINVAL);
	assert_non_null(strstr(f->err, "template error"));
	compile_ok(f, "c:\n  condition: numeric_state\n  entity_id: sensor.temperature\n"
		      "  below: input_number.missing\n");
	set(f, "sensor.temperature", "50", NULL);
	assert_int_equal(test(f), -EINVAL);
	assert_non_null(strstr(f->err, "unknown 'below' entity input_number.missing"));
	set(f, "input_number.missing", "number", NULL);
	assert_int_equal(test(f), -EINVAL);
	assert_non_null(strstr(f->err, "the 'below' entity input_number.missing state 'number' "
				       "cannot be processed as a number"));
}

/* ::test_numeric_state_multiple_entities, ::test_numeric_state_attribute,
 * ::test_numeric_state_unknown_attribute */
static void numeric_state_of_entities_and_attributes(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  condition: numeric_state\n  entity_id: [sensor.a, sensor.b]\n"
		      "  below: 50\n");
	set(f, "sensor.a", "49", NULL);
	set(f, "sensor.b", "49", NULL);
	assert_int_equal(test(f), 1);
	set(f, "sensor.a", "50", NULL);
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: numeric_state\n  entity_id: sensor.t\n"
		      "  attribute: attribute1\n  below: 50\n");
	set(f, "sensor.t", "100", "{\"unknown_attr\": 10}");
	assert_int_equal(test(f), 0);
	set(f, "sensor.t", "100", "{\"attribute1\": 49}");
	assert_int_equal(test(f), 1);
	set(f, "sensor.t", "100", "{\"attribute1\": \"49\"}");
	assert_int_equal(test(f), 1);
	set(f, "sensor.t", "100", "{\"attribute1\": 51}");
	assert_int_equal(test(f), 0);
	set(f, "sensor.t", "100", "{\"attribute1\": null}");
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: numeric_state\n  entity_id: sensor.t\n"
		      "  value_template: \"{{ state.attributes.attribute1 | float * 2 }}\"\n"
		      "  below: 50\n");
	set(f, "sensor.t", "100", "{\"attribute1\": 24}");
	assert_int_equal(test(f), 1);
	set(f, "sensor.t", "100", "{\"attribute1\": 25}");
	assert_int_equal(test(f), 0);
}

/* ::test_numeric_state_using_input_number: thresholds from entities,
 * strict bounds. */
static void numeric_state_thresholds_may_be_entities(void **state)
{
	struct fx *f = *state;
	set(f, "input_number.high", "100", NULL);
	set(f, "number.low", "10", NULL);
	compile_ok(f, "c:\n  condition: and\n  conditions:\n"
		      "    - condition: numeric_state\n      entity_id: sensor.temperature\n"
		      "      below: input_number.high\n      above: number.low\n");
	set(f, "sensor.temperature", "42", NULL);
	assert_int_equal(test(f), 1);
	set(f, "sensor.temperature", "10", NULL);
	assert_int_equal(test(f), 0);
	set(f, "sensor.temperature", "100", NULL);
	assert_int_equal(test(f), 0);
	set(f, "input_number.high", "unknown", NULL);
	assert_int_equal(test(f), 0);
	set(f, "input_number.high", "unavailable", NULL);
	assert_int_equal(test(f), 0);
	set(f, "input_number.high", "101", NULL);
	assert_int_equal(test(f), 1);
	set(f, "number.low", "unknown", NULL);
	assert_int_equal(test(f), 0);
	set(f, "number.low", "unavailable", NULL);
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: numeric_state\n  entity_id: sensor.temperature\n"
		      "  below: input_number.not_exist\n");
	assert_int_equal(test(f), -EINVAL);
}

/* ---- template and trigger ------------------------------------------------------ */

/* ::test_condition_template_error, ::test_condition_template_invalid_results:
 * only what renders as true is true. */
static void a_template_holds_only_when_it_renders_true(void **state)
{
	struct fx *f = *state;
	const char *no[] = { "{{ 'string' }}", "{{ 10.1 }}", "{{ 42 }}", "{{ [1, 2, 3] }}",
			     "{{ 'on' }}", "{{ 1 }}", "{{ undefined_var }}" };
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		char y[128];
		snprintf(y, sizeof y, "c:\n  condition: template\n  value_template: \"%s\"\n", no[i]);
		compile_ok(f, y);
		assert_int_equal(test(f), 0);
	}
	compile_ok(f, "c:\n  condition: template\n  value_template: \"{{ 'TRUE' }}\"\n");
	assert_int_equal(test(f), 1);
	compile_ok(f, "c:\n  condition: template\n  value_template: \"{{ x == 3 }}\"\n");
	assert_int_equal(test_with(f, "{\"x\": 3}"), 1);
	compile_ok(f, "c:\n  condition: template\n  value_template: \"{{ undefined.state }}\"\n");
	assert_int_equal(test(f), -EINVAL);
	assert_non_null(strstr(f->err, "In 'template' condition: "));
}

/* ::test_trigger: the trigger variable's id, as text */
static void the_trigger_condition_reads_the_trigger_id(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  alias: Trigger Cond\n  condition: trigger\n  id: '123456'\n");
	assert_int_equal(test(f), 0);
	assert_int_equal(test_with(f, "{}"), 0);
	assert_int_equal(test_with(f, "{\"other_var\": \"123456\"}"), 0);
	assert_int_equal(test_with(f, "{\"trigger\": {\"trigger_id\": \"123456\"}}"), 0);
	assert_int_equal(test_with(f, "{\"trigger\": {\"id\": \"123456\"}}"), 1);
	/* tests/components/automation/test_init.py::test_trigger_condition_implicit_id */
	compile_ok(f, "c:\n  condition: trigger\n  id: [0, '2']\n");
	assert_int_equal(test_with(f, "{\"trigger\": {\"id\": \"0\"}}"), 1);
	assert_int_equal(test_with(f, "{\"trigger\": {\"id\": \"1\"}}"), 0);
	assert_int_equal(test_with(f, "{\"trigger\": {\"id\": \"2\"}}"), 1);
}

/* ---- time ---------------------------------------------------------------------- */

/* ::test_time_window: a window and one across midnight */
static void a_time_window_may_cross_midnight(void **state)
{
	struct fx *f = *state;
	struct mqb_condition *day, *night;
	compile_ok(f, "c:\n  condition: time\n  after: '06:00'\n  before: '18:00:00'\n");
	day = f->c;
	f->c = NULL;
	compile_ok(f, "c:\n  condition: time\n  after: '18:00'\n  before: '06:00'\n");
	night = f->c;
	const int hours[] = { 3, 9, 15, 21 };
	const int want_day[] = { 0, 1, 1, 0 };
	for (int i = 0; i < 4; i++) {
		at(f, 2024, 5, 6, hours[i], 0, 0);
		char e[64];
		assert_int_equal(mqb_condition_async_test(f->core, day, NULL, e, sizeof e), want_day[i]);
		assert_int_equal(mqb_condition_async_test(f->core, night, NULL, e, sizeof e),
				 !want_day[i]);
	}
	/* after inclusive, before exclusive */
	at(f, 2024, 5, 6, 18, 0, 0);
	assert_int_equal(mqb_condition_async_test(f->core, day, NULL, NULL, 0), 0);
	at(f, 2024, 5, 6, 6, 0, 0);
	assert_int_equal(mqb_condition_async_test(f->core, day, NULL, NULL, 0), 1);
	mqb_condition_free(day);
}

/* ::test_time_using_input_datetime, ::test_time_using_time,
 * ::test_time_using_sensor: bounds held by entities; dates are ignored. */
static void time_bounds_may_be_entities(void **state)
{
	struct fx *f = *state;
	set(f, "input_datetime.am", "2020-01-01 06:00:00", "{\"hour\": 6, \"minute\": 0, \"second\": 0}");
	set(f, "input_datetime.pm", "2020-01-01 18:00:00", "{\"hour\": 18, \"minute\": 0, \"second\": 0}");
	set(f, "time.am", "06:00:00", NULL);
	set(f, "time.pm", "18:00:00", NULL);
	set(f, "time.unknown_state", "unknown", NULL);
	set(f, "sensor.am", "2021-06-03 06:00:00+00:00", "{\"device_class\": \"timestamp\"}");
	set(f, "sensor.pm", "2020-06-01T18:00:00Z", "{\"device_class\": \"timestamp\"}");
	set(f, "sensor.no_class", "2020-06-01T18:00:00Z", NULL);
	const char *pairs[][2] = { { "input_datetime.am", "input_datetime.pm" },
				   { "time.am", "time.pm" },
				   { "sensor.am", "sensor.pm" } };
	for (int p = 0; p < 3; p++) {
		char y[256];
		snprintf(y, sizeof y, "c:\n  condition: time\n  after: %s\n  before: %s\n",
			 pairs[p][0], pairs[p][1]);
		compile_ok(f, y);
		at(f, 2024, 5, 6, 3, 0, 0);
		assert_int_equal(test(f), 0);
		at(f, 2024, 5, 6, 9, 0, 0);
		assert_int_equal(test(f), 1);
		at(f, 2024, 5, 6, 21, 0, 0);
		assert_int_equal(test(f), 0);
		snprintf(y, sizeof y, "c:\n  condition: time\n  after: %s\n", pairs[p][1]);
		compile_ok(f, y);
		at(f, 2024, 5, 6, 18, 0, 0);
		assert_int_equal(test(f), 1);
	}
	compile_ok(f, "c:\n  condition: time\n  after: time.unknown_state\n");
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: time\n  after: sensor.no_class\n");
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: time\n  before: input_datetime.not_existing\n");
	assert_int_equal(test(f), -EINVAL);
	assert_non_null(strstr(f->err, "unknown 'before' entity input_datetime.not_existing"));
}

/* tests/components/homeassistant/triggers/test_time.py::test_if_action_one_weekday,
 * ::test_if_action_list_weekday */
static void weekdays_limit_the_days(void **state)
{
	struct fx *f = *state;
	compile_ok(f, "c:\n  condition: time\n  weekday: mon\n");
	at(f, 2024, 5, 6, 12, 0, 0); /* a Monday */
	assert_int_equal(test(f), 1);
	at(f, 2024, 5, 7, 12, 0, 0);
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: time\n  weekday: [mon, tue]\n");
	assert_int_equal(test(f), 1);
	at(f, 2024, 5, 8, 12, 0, 0);
	assert_int_equal(test(f), 0);
}

/* ---- sun ---------------------------------------------------------------------- */

/* tests/components/sun/test_condition.py::test_if_action_before_sunrise_with_offset,
 * ::test_if_action_before_or_after_during: the configuration reaches the
 * sun module's decision (t/test_sun.c tests the decision itself), at Home
 * Assistant's test location and time zone. */
static void the_sun_condition_follows_the_sun_at_the_core_location(void **state)
{
	struct fx *f = *state;
	static const struct mqb_location loc = { .latitude = 32.87336, .longitude = -117.22743,
						 .set = true };
	hass__set_location(f->core, &loc);
	setenv("TZ", "America/Los_Angeles", 1);
	tzset();
	double sunrise = mqb_sun_event_on(&loc, MQB_SUN_RISING, 2015, 9, 16);
	double sunset = mqb_sun_event_on(&loc, MQB_SUN_SETTING, 2015, 9, 17);
	compile_ok(f, "c:\n  condition: sun\n  before: sunrise\n  before_offset: '+1:00:00'\n");
	timer__shift_wall(f->core, sunrise + 3600 - 1 - mqb_async_now(f->core));
	assert_int_equal(test(f), 1);
	timer__shift_wall(f->core, 2);
	assert_int_equal(test(f), 0);
	compile_ok(f, "c:\n  condition: or\n  conditions:\n    - {condition: sun, after: sunset}\n"
		      "    - {condition: sun, before: sunrise}\n");
	timer__shift_wall(f->core, sunrise - 60 - mqb_async_now(f->core));
	assert_int_equal(test(f), 1);
	timer__shift_wall(f->core, sunrise + 60 - mqb_async_now(f->core));
	assert_int_equal(test(f), 0);
	timer__shift_wall(f->core, sunset + 60 - mqb_async_now(f->core));
	assert_int_equal(test(f), 1);
	compile_ok(f, "c:\n  condition: sun\n  after: sunset\n  before: SUNRISE\n");
	assert_int_equal(test(f), 1);
	timer__shift_wall(f->core, sunset - 60 - mqb_async_now(f->core));
	assert_int_equal(test(f), 0);
	setenv("TZ", "UTC", 1);
	tzset();
}

/* ---- configuration errors ------------------------------------------------------- */

/* ::test_invalid_condition, ::test_unknown_condition, and the checks of
 * each type: configuration errors at their place. */
static void bad_conditions_are_configuration_errors_at_their_place(void **state)
{
	compile_fails("c:\n  condition: invalid\n  conditions: []\n", "Invalid condition \"invalid\"",
		      2, 14);
	compile_fails("c: \"static text\"\n", "Expected a condition", 1, 4);
	compile_fails("c:\n  condition: [bad, syntax]\n", "Unexpected value for condition", 2, 15);
	compile_fails("c:\n  condition: state\n  entity_id: sensor.x\n  state: on\n",
		      "expected str", 4, 10);
	compile_fails("c:\n  condition: state\n  entity_id: sensor.x\n  state: 'on'\n  foo: 1\n",
		      "unknown option 'foo'", 5, 3);
	compile_fails("c:\n  condition: numeric_state\n  entity_id: sensor.x\n",
		      "must contain at least one of below, above.", 2, 3);
	compile_fails("c:\n  condition: numeric_state\n  entity_id: sensor.x\n  below: light.y\n",
		      "input_number, number, sensor or zone", 4, 10);
	compile_fails("c:\n  condition: time\n  after: 10:00\n", "Invalid time specified: 600", 3, 10);
	compile_fails("c:\n  condition: time\n  weekday: Mon\n", "value must be one of", 3, 12);
	compile_fails("c:\n  condition: time\n", "at least one of before, after, weekday", 2, 3);
	compile_fails("c:\n  condition: template\n  value_template: \"{{ 1 + }}\"\n",
		      "invalid template", 0, 0);
	compile_fails("c:\n  condition: state\n  entity_id: Not An Id\n  state: 'x'\n",
		      "invalid entity ID", 3, 14);
	compile_fails("c:\n  condition: sun\n  before: noon\n", "sunrise", 3, 11);
	compile_fails("c:\n  condition: trigger\n", "data['id']", 2, 3);
	compile_fails("c:\n  condition: and\n  conditions:\n    - condition: state\n",
		      "entity_id", 4, 7);
}

/* test_template.py::test_result_as_boolean: what the template trigger and
 * wait_template read a rendering as (cv.boolean, else false). */
static void a_rendering_reads_as_a_boolean_as_home_assistants_does(void **state)
{
	(void)state;
	static const char *const yes[] = {"True", " 1 ", " true ", " TrUE ", " YeS ", " On ",
					  " Enable ", "1", "-1", "500", "0.5", "0.389", "35"};
	static const char *const no[] = {"False", " 0 ", " false ", " FaLsE ", " no ", " off ",
					 " disable ", "0", "0.0", "0.00", "None", "",
					 "anything else", "[1]"};
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
		if (!cv__result_as_boolean(yes[i]))
			fail_msg("'%s' is not true", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof *no; i++)
		if (cv__result_as_boolean(no[i]))
			fail_msg("'%s' is not false", no[i]);
}

static const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	cmocka_unit_test(a_rendering_reads_as_a_boolean_as_home_assistants_does),
	T(and_holds_when_every_part_holds),
	T(and_is_false_despite_an_error_when_a_part_is_false),
	T(or_holds_when_a_part_holds),
	T(not_holds_when_no_part_holds),
	T(shorthands_mean_what_they_stand_for),
	T(a_disabled_condition_is_as_if_absent),
	T(state_of_several_entities_matches_all_or_any),
	T(state_may_be_one_of_several),
	T(state_of_an_attribute_compares_typed_values),
	T(state_may_be_an_input_helpers_state),
	T(state_for_needs_the_state_held_long_enough),
	T(a_device_condition_of_a_toggle_entity_is_its_state),
	T(numeric_state_is_false_when_unknown_and_an_error_when_not_a_number),
	T(numeric_state_of_entities_and_attributes),
	T(numeric_state_thresholds_may_be_entities),
	T(a_template_holds_only_when_it_renders_true),
	T(the_trigger_condition_reads_the_trigger_id),
	T(a_time_window_may_cross_midnight),
	T(time_bounds_may_be_entities),
	T(weekdays_limit_the_days),
	T(the_sun_condition_follows_the_sun_at_the_core_location),
	T(bad_conditions_are_configuration_errors_at_their_place),
#undef T
};

TU_MAIN(tests)
