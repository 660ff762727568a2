/* SPDX-License-Identifier: MIT */
/* Home Assistant's tests/helpers/template/test_init.py (home-assistant/core
 * 073d0ec), extensions/test_regex.py, test_helpers.py, and what of
 * extensions/test_functional.py and test_string.py ha_tests.jsonl lacks,
 * test function by test function: each case cites the test whose assertion
 * it makes. What a test needs a registry, Python objects or the render-info
 * scheduler for is in t/data/tpl/ha-tests-status.txt. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "tpl_ha.h"
#include "template/native.h"
#include "template/tpl.h"
#include "mqbridge/states.h"
#include "mqbridge/template.h"
#include "mqbridge/text.h"

struct st {
	const char *id, *state, *attrs; /* attrs: JSON text, NULL for none */
};

static struct mqb_core *core_of(const struct st *s, size_t n)
{
	struct mqb_core *core = NULL;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(mqb_states_async_set(core, s[i].id, s[i].state,
			s[i].attrs ? json_loads(s[i].attrs, 0, NULL) : NULL, false), 0);
	return core;
}
#define CORE(table) core_of(table, sizeof table / sizeof table[0])

/* What render_to_info's entities would hold: every entity the render
 * read, sorted and joined with ",". */
struct seen {
	char list[512];
};

static void record(void *ud, const char *id)
{
	struct seen *s = ud;
	if (s->list[0])
		strncat(s->list, ",", sizeof s->list - strlen(s->list) - 1);
	strncat(s->list, id, sizeof s->list - strlen(s->list) - 1);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void sort_list(char *list)
{
	char copy[512], *parts[32];
	size_t n = 0;
	snprintf(copy, sizeof copy, "%s", list);
	for (char *p = strtok(copy, ","); p && n < 32; p = strtok(NULL, ","))
		parts[n++] = p;
	qsort(parts, n, sizeof parts[0], cmp_str);
	char out[512] = "";
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, parts[i]);
	}
	strcpy(list, out);
}

/* Render tpl, expect its stripped output want and entities read. */
static void expect_info(struct mqb_core *core, const char *tpl, const json_t *variables,
			const char *want, const char *entities)
{
	struct seen s = { "" };
	struct mqb_tpl_vars vars = { .core = core, .variables = variables, .on_entity = record,
				     .ud = &s };
	char *out = NULL;
	struct mqb_tpl_error err = { 0 };
	int rc = tpl_ha_render_vars(tpl, &vars, &out, &err);
	if (rc)
		print_message("%s: %s\n", tpl, err.message);
	assert_int_equal(rc, 0);
	size_t len = strlen(out);
	const char *text = mqb_strip(out, &len);
	if (len != strlen(want) || memcmp(text, want, len) != 0)
		print_message("%s\n  want %s\n  got  %.*s\n", tpl, want, (int)len, text);
	assert_true(len == strlen(want) && memcmp(text, want, len) == 0);
	sort_list(s.list);
	assert_string_equal(s.list, entities);
	free(out);
}

/* test_invalid_template, test_invalid_entity_id,
 * test_raise_exception_on_error, test_loop_controls,
 * test_converting_datetime_to_iterable, test_template_errors,
 * test_protected_blocked, test_template_timeout_raise,
 * and test_template_output_exceeds_maximum_size: what Home Assistant raises,
 * an error here too, and what it renders. */
static void errors_are_where_home_assistant_raises(void **state)
{
	static const struct tcase c[] = {
		/* test_invalid_template */
		{ "{{", NULL, "" },
		{ "{{ states(keyword) }}", NULL, "" },
		/* test_invalid_entity_id */
		{ "{{ states['big.fat...'] }}", NULL, "" },
		{ "{{ states.test['big.fat...'] }}", NULL, "" },
		{ "{{ states['invalid/domain'] }}", NULL, "" },
		/* test_raise_exception_on_error */
		{ "{{ invalid_syntax", NULL, "" },
		/* test_loop_controls */
		{ "{%- for v in range(10) %}{%- if v == 1 -%}{%- continue -%}"
		  "{%- elif v == 3 -%}{%- break -%}{%- endif -%}{{ v }}{%- endfor -%}", "02", NULL },
		/* test_converting_datetime_to_iterable */
		{ "{{ tuple(now()) }}", NULL, "" },
		{ "{{ set(now()) }}", NULL, "" },
		/* test_template_errors */
		{ "{{ now() | rando }}", NULL, "" },
		{ "{{ utcnow() | rando }}", NULL, "" },
		{ "{{ now() | random }}", NULL, "" },
		{ "{{ utcnow() | random }}", NULL, "" },
		/* test_protected_blocked */
		{ "{{ states.__getattr__('any') }}", NULL, "" },
		{ "{{ states.sensor.__getattr__('any') }}", NULL, "" },
		{ "{{ states.sensor.any.__getattr__('any') }}", NULL, "" },
		/* test_template_timeout_raise */
		{ "{{ error_invalid + 1 }}", NULL, "" },
	};
	struct mqb_core *core = NULL;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	RUN(core, c);
	mqb_core_free(core);
	/* test_template_output_exceeds_maximum_size: Home Assistant's bound,
	 * 256 KiB, is the default one */
	char *out = NULL;
	struct mqb_tpl_error err = { 0 };
	assert_int_equal(tpl_ha_render(NULL, "{{ 'a' * 1024 * 257 }}", &out, &err, NULL, NULL),
			 -E2BIG);
	assert_int_equal(tpl_ha_render(NULL, "{{ ('a' * 1024 * 256) | length }}", &out, &err,
				       NULL, NULL), 0);
	assert_string_equal(out, "262144");
	free(out);
}

/* test_rounding_value, test_rounding_value_on_error, test_multiply,
 * test_add, test_timedelta, test_version, test_jinja_namespace */
static void numbers_and_durations_render_as_home_assistant(void **state)
{
	static const struct tcase c[] = {
		/* test_rounding_value */
		{ "{{ states.sensor.temperature.state | round(1) }}", "12.8", NULL },
		{ "{{ states.sensor.temperature.state | multiply(10) | round }}", "128", NULL },
		{ "{{ states.sensor.temperature.state | round(1, 'floor') }}", "12.7", NULL },
		{ "{{ states.sensor.temperature.state | round(1, 'ceil') }}", "12.8", NULL },
		{ "{{ states.sensor.temperature.state | round(1, 'half') }}", "13.0", NULL },
		/* test_rounding_value_on_error */
		{ "{{ None | round }}", NULL, "" },
		{ "{{ 'no_number' | round }}", NULL, "" },
		{ "{{ 'no_number' | round(default=1) }}", "1", NULL },
		/* test_multiply */
		{ "{{ 10 | multiply(10) | round }}", "100", NULL },
		{ "{{ abcd | multiply(10) }}", NULL, "" },
		{ "{{ 'no_number' | multiply(10, 1) }}|{{ 'no_number' | multiply(10, default=1) }}",
		  "1|1", NULL },
		/* test_add */
		{ "{{ 10 | add(32) | round }}", "42", NULL },
		{ "{{ abcd | add(10) }}", NULL, "" },
		{ "{{ 'no_number' | add(10, 1) }}|{{ 'no_number' | add(10, default=1) }}", "1|1",
		  NULL },
		/* test_timedelta */
		{ "{{ timedelta(seconds=120) }}", "0:02:00", NULL },
		{ "{{ timedelta(seconds=86400) }}", "1 day, 0:00:00", NULL },
		{ "{{ timedelta(days=1, hours=4) }}", "1 day, 4:00:00", NULL },
		{ "{{ relative_time(now() - timedelta(seconds=3600)) }}", "1 hour", NULL },
		{ "{{ relative_time(now() - timedelta(seconds=86400)) }}", "1 day", NULL },
		{ "{{ relative_time(now() - timedelta(seconds=86401)) }}", "1 day", NULL },
		{ "{{ relative_time(now() - timedelta(weeks=2, days=1)) }}", "15 days", NULL },
		/* test_version */
		{ "{{ '2099.9.9' | version }}|{{ version('2099.9.9') }}", "2099.9.9|2099.9.9", NULL },
		{ "{{ '2099.9.9' | version < '2099.9.10' }}|{{ version('2099.9.9') < '2099.9.10' }}",
		  "True|True", NULL },
		{ "{{ '2099.9.9' | version == '2099.9.9' }}|{{ version('2099.9.9') == '2099.9.9' }}",
		  "True|True", NULL },
		{ "{{ version(None) < '2099.9.10' }}", NULL, "" },
		/* test_jinja_namespace */
		{ "{% set ns = namespace(a_key='') %}{% set ns.a_key = states.sensor.dummy.state %}"
		  "{{ ns.a_key }}", "a value", NULL },
	};
	static const struct st s[] = {
		{ "sensor.temperature", "12.78", NULL },
		{ "sensor.dummy", "a value", NULL },
	};
	struct mqb_core *core = CORE(s);
	RUN(core, c);
	mqb_core_free(core);
}

/* test_passing_vars_as_keywords, _as_vars, _as_list, _as_list_element,
 * _as_dict_element, _as_dict: variables render as Python prints them. */
static void variables_render_as_python_prints_them(void **state)
{
	static const struct {
		const char *tpl, *vars, *want;
	} c[] = {
		{ "{{ hello }}", "{\"hello\": 127}", "127" },
		{ "{{ hello }}", "{\"hello\": [\"foo\", \"bar\"]}", "['foo', 'bar']" },
		{ "{{ hello[1] }}", "{\"hello\": [\"foo\", \"bar\"]}", "bar" },
		{ "{{ hello.foo }}", "{\"hello\": {\"foo\": \"bar\"}}", "bar" },
		{ "{{ hello }}", "{\"hello\": {\"foo\": \"bar\"}}", "{'foo': 'bar'}" },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		json_t *v = json_loads(c[i].vars, 0, NULL);
		expect_info(NULL, c[i].tpl, v, c[i].want, "");
		json_decref(v);
	}
}

/* test_render_with_possible_json_value_* (test_init.py; the is_defined
 * ones again in extensions/test_functional.py): value and value_json from
 * a payload (the error value is the caller's: here, the render's error). */
static void payloads_render_as_home_assistant_reads_them(void **state)
{
	static const struct {
		const char *tpl, *value, *want; /* want NULL: an error */
	} c[] = {
		/* _with_valid_json */
		{ "{{ value_json.hello }}", "{\"hello\": \"world\"}", "world" },
		/* _with_invalid_json */
		{ "{{ value_json }}", "{ I AM NOT JSON }", "" },
		/* _with_template_error_value */
		{ "{{ non_existing.variable }}", "hello", NULL },
		/* _with_missing_json_value */
		{ "{{ value_json.goodbye }}", "{\"hello\": \"world\"}", "" },
		/* _valid_with_is_defined */
		{ "{{ value_json.hello|is_defined }}", "{\"hello\": \"world\"}", "world" },
		/* _undefined_json, _undefined_json_error_value */
		{ "{{ value_json.bye|is_defined }}", "{\"hello\": \"world\"}", NULL },
		/* _non_string_value: the payload is text here, the datetime's str() */
		{ "{{ strptime(value~'+0000', '%Y-%m-%d %H:%M:%S%z') }}", "2019-01-18 12:13:14",
		  "2019-01-18 12:13:14+00:00" },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		struct mqb_tpl_vars vars = { .value = c[i].value, .value_len = strlen(c[i].value) };
		char *out = NULL;
		struct mqb_tpl_error err = { 0 };
		int rc = tpl_ha_render_vars(c[i].tpl, &vars, &out, &err);
		if (c[i].want) {
			if (rc)
				print_message("%s: %s\n", c[i].tpl, err.message);
			assert_int_equal(rc, 0);
			assert_string_equal(out, c[i].want);
		} else {
			assert_int_equal(rc, -EINVAL);
		}
		free(out);
	}
}

/* test_if_state_exists, test_is_state, test_is_state_attr, test_state_attr,
 * test_states_function, test_has_value, test_entity_name (its states
 * part), test_is_hidden_entity and test_state_attributes, with the
 * registries empty. */
static void state_functions_agree_with_test_init(void **state)
{
	static const struct tcase c[] = {
		/* test_if_state_exists */
		{ "{% if states.test.object %}exists{% else %}not exists{% endif %}", "exists", NULL },
		/* test_is_state */
		{ "{% if is_state('test.object', 'available') %}yes{% else %}no{% endif %}|"
		  "{{ is_state('test.noobject', 'available') }}|"
		  "{% if 'test.object' is is_state('available') %}yes{% else %}no{% endif %}|"
		  "{{ ['test.object'] | select('is_state', 'available') | first | default }}|"
		  "{{ is_state('test.object', ['on', 'off', 'available']) }}",
		  "yes|False|yes|test.object|True", NULL },
		/* test_is_state_attr */
		{ "{% if is_state_attr('test.object', 'mode', 'on') %}yes{% else %}no{% endif %}|"
		  "{{ is_state_attr('test.noobject', 'mode', 'on') }}|"
		  "{% if 'test.object' is is_state_attr('mode', 'on') %}yes{% else %}no{% endif %}|"
		  "{{ ['test.object'] | select('is_state_attr', 'mode', 'on') | first | default }}|"
		  "{% if is_state_attr('test.object', 'exists', None) %}yes{% else %}no{% endif %}|"
		  "{% if is_state_attr('test.object', 'noexist', None) %}yes{% else %}no{% endif %}",
		  "yes|False|yes|test.object|yes|no", NULL },
		/* test_state_attr */
		{ "{% if state_attr('test.object', 'mode') == 'on' %}yes{% else %}no{% endif %}|"
		  "{{ state_attr('test.noobject', 'mode') == None }}|"
		  "{% if 'test.object' | state_attr('mode') == 'on' %}yes{% else %}no{% endif %}|"
		  "{{ ['test.object'] | map('state_attr', 'effect') | first | default }}",
		  "yes|True|yes|action", NULL },
		/* test_states_function */
		{ "{{ states('test.object') }}|{{ states('test.object2') }}|"
		  "{% if 'test.object' | states == 'available' %}yes{% else %}no{% endif %}|"
		  "{{ ['test.object'] | map('states') | first | default }}",
		  "available|unknown|yes|available", NULL },
		/* test_has_value */
		{ "{{ has_value('test.value1') }}|{{ has_value('test.unavailable') }}|"
		  "{{ has_value('test.unknown') }}|"
		  "{% if 'test.value1' is has_value %}yes{% else %}no{% endif %}",
		  "True|False|False|yes", NULL },
		/* test_entity_name: none without a state, else the friendly name */
		{ "{{ entity_name('sensor.fake') }}|{{ entity_name('light.no_unique_id') }}|"
		  "{{ 'light.no_unique_id' | entity_name }}",
		  "None|No Unique ID Light|No Unique ID Light", NULL },
		/* test_is_hidden_entity: nothing is hidden without a registry */
		{ "{{ is_hidden_entity('test.object') }}|"
		  "{{ ['test.object'] | select('is_hidden_entity') | first }}", "False|", NULL },
		/* test_state_attributes */
		{ "{{ states.sensor.test.object_id }}|{{ states.sensor.test.domain }}|"
		  "{{ states.sensor.test.state_with_unit }}|{{ states.sensor.test.invalid_prop }}",
		  "test|sensor|23|", NULL },
		{ "{{ states.sensor.test.last_changed == states.sensor.test.last_updated }}", "True",
		  NULL },
		{ "{{ states.sensor.test.invalid_prop.xx }}", NULL, "" },
	};
	static const struct st s[] = {
		{ "test.object", "available", "{\"mode\": \"on\", \"exists\": null, "
					      "\"effect\": \"action\"}" },
		{ "test.value1", "1", NULL },
		{ "test.unavailable", "unavailable", NULL },
		{ "light.no_unique_id", "on", "{\"friendly_name\": \"No Unique ID Light\"}" },
		{ "sensor.test", "23", NULL },
	};
	struct mqb_core *core = CORE(s);
	RUN(core, c);
	mqb_core_free(core);
}

/* test_state_with_unit, test_state_with_unit_and_rounding(_options) for
 * the sensor the entity registry has no display precision for,
 * test_length_of_states, test_unavailable_states, test_slice_states,
 * test_iterating_all_states(_unavailable), test_iterating_domain_states */
static void iterating_states_agrees_with_test_init(void **state)
{
	static const struct tcase c[] = {
		/* test_state_with_unit */
		{ "{{ states.sensor.test.state_with_unit }}|{{ states.sensor.test2.state_with_unit }}|"
		  "{{ states.sensor.non_existing.state_with_unit }}", "23 beers|wow|", NULL },
		/* test_state_with_unit_and_rounding_options, sensor.test3 (no precision) */
		{ "{{ states('sensor.test3') }}|{{ states('sensor.test3', rounded=True) }}|"
		  "{{ states('sensor.test3', with_unit=True) }}|"
		  "{{ states('sensor.test3', rounded=True, with_unit=True) }}",
		  "23.015|23.015|23.015 beers|23.015 beers", NULL },
		/* test_length_of_states */
		{ "{{ states | length }}|{{ states.sensor | length }}|{{ states.light | length }}",
		  "7|3|4", NULL },
		/* test_unavailable_states */
		{ "{{ states | selectattr('state', 'in', ['unavailable','unknown','none']) "
		  "| sort(attribute='entity_id') | map(attribute='entity_id') | list | join(', ') }}",
		  "light.none, light.unavailable, light.unknown", NULL },
		{ "{{ states.light | selectattr('state', 'in', ['unavailable','unknown','none']) "
		  "| sort(attribute='entity_id') | map(attribute='entity_id') | list "
		  "| join(', ') }}", "light.none, light.unavailable, light.unknown", NULL },
		/* test_slice_states */
		{ "{% for states in states.sensor | slice(1) -%}{% set state = states | first %}"
		  "{{ state.entity_id }}{%- endfor %}", "sensor.test", NULL },
		/* test_iterating_all_states(_unavailable) */
		{ "{{ states | selectattr('state', 'in', ['unavailable', 'unknown', 'none']) | list "
		  "| count }}", "3", NULL },
		/* test_iterating_domain_states */
		{ "{% for state in states.sensor %}{{ state.state }}{% endfor %}", "23wow23.015",
		  NULL },
	};
	static const struct st s[] = {
		{ "sensor.test", "23", "{\"unit_of_measurement\": \"beers\"}" },
		{ "sensor.test2", "wow", NULL },
		{ "sensor.test3", "23.015", "{\"unit_of_measurement\": \"beers\"}" },
		{ "light.sensor0", "on", NULL },
		{ "light.unavailable", "unavailable", NULL },
		{ "light.unknown", "unknown", NULL },
		{ "light.none", "none", NULL },
	};
	struct mqb_core *core = CORE(s);
	RUN(core, c);
	/* test_state_with_unit: every state's, in entity order */
	static const struct tcase all[] = {
		{ "{% for state in states %}{{ state.state_with_unit }} {% endfor %}", "23 beers wow ",
		  NULL },
	};
	static const struct st two[] = {
		{ "sensor.test", "23", "{\"unit_of_measurement\": \"beers\"}" },
		{ "sensor.test2", "wow", NULL },
	};
	mqb_core_free(core);
	core = CORE(two);
	RUN(core, all);
	mqb_core_free(core);
}

/* test_async_render_to_info_with_branching, _with_complex_branching,
 * test_nested_async_render_to_info_case,
 * test_async_render_to_info_in_conditional,
 * test_render_to_info_with_exception: the result and the entities the
 * render read (what a tracker follows). Home Assistant's domains and
 * rate limits are the tracker's, not the render's; and where Home
 * Assistant leaves out the states of a domain it iterates that only had
 * entity_id read, every one counts as read here (a template iterating a
 * domain follows every change, rate limited, either way). */
static void a_render_reports_the_entities_home_assistant_tracks(void **state)
{
	static const struct st s[] = {
		{ "light.a", "off", NULL }, { "light.b", "on", NULL }, { "light.c", "off", NULL },
		{ "vacuum.a", "off", NULL }, { "device_tracker.a", "off", NULL },
		{ "device_tracker.b", "off", NULL }, { "lock.a", "off", NULL },
		{ "sensor.a", "off", NULL }, { "binary_sensor.a", "off", NULL },
		{ "input_select.picker", "vacuum.a", NULL },
	};
	struct mqb_core *core = CORE(s);
	expect_info(core, "\n{% if states.light.a == \"on\" %}\n  {{ states.light.b.state }}\n"
		    "{% else %}\n  {{ states.light.c.state }}\n{% endif %}\n", NULL, "off",
		    "light.a,light.c");
	expect_info(core, "{% if states.light.a.state == \"off\" %}{% set domain = \"light\" %}"
		    "{{ states[domain].b.state }}{% endif %}", NULL, "on", "light.a,light.b");
	json_t *other = json_pack("{s:s}", "otherdomain", "sensor");
	expect_info(core,
		    "{% set domain = \"vacuum\" %}\n"
		    "{%      if                 states.light.a == \"on\" %}\n"
		    "  {{ states.light.b.state }}\n"
		    "{% elif  states.light.a == \"on\" %}\n  {{ states.device_tracker }}\n"
		    "{%     elif     states.light.a == \"on\" %}\n  {{ states[domain] | list }}\n"
		    "{%         elif     states('light.b') == \"on\" %}\n"
		    "  {{ states[otherdomain] | sort(attribute='entity_id') "
		    "| map(attribute='entity_id') | list }}\n"
		    "{% elif states.light.a == \"on\" %}\n  {{ states[\"nonexist\"] | list }}\n"
		    "{% else %}\n  else\n{% endif %}\n",
		    other, "['sensor.a']", "light.a,light.b,sensor.a");
	json_decref(other);
	expect_info(core, "{{ states[states['input_select.picker'].state].state }}", NULL, "off",
		    "input_select.picker,vacuum.a");
	mqb_core_free(core);

	static const struct st cond[] = {
		{ "sensor.xyz", "dog", NULL }, { "sensor.cow", "True", NULL },
		{ "test_domain.object", "dog", NULL },
	};
	static const char *const branch =
		"\n{% if states(\"sensor.xyz\") == \"dog\" %}\n  {{ states(\"sensor.cow\") }}\n"
		"{% else %}\n  {{ states(\"sensor.pig\") }}\n{% endif %}\n        ";
	expect_info(NULL, "{{ states(\"sensor.xyz\") == \"dog\" }}", NULL, "False", "sensor.xyz");
	core = CORE(cond);
	expect_info(core, branch, NULL, "True", "sensor.cow,sensor.xyz");
	assert_int_equal(mqb_states_async_set(core, "sensor.xyz", "sheep", NULL, false), 0);
	assert_int_equal(mqb_states_async_set(core, "sensor.pig", "oink", NULL, false), 0);
	expect_info(core, branch, NULL, "oink", "sensor.pig,sensor.xyz");

	/* test_render_to_info_with_exception: the entity read before the error */
	struct seen seen = { "" };
	char *out = NULL;
	struct mqb_tpl_error err = { 0 };
	assert_int_equal(tpl_ha_render(core, "{{ states(\"test_domain.object\") | float }}", &out,
				       &err, record, &seen), -EINVAL);
	assert_non_null(strstr(err.message, "no default was specified"));
	assert_string_equal(seen.list, "test_domain.object");
	mqb_core_free(core);
}

/* test_lights and test_demo_template: what they assert is in the text. */
static void the_demo_and_lights_templates_render(void **state)
{
	static const char lights[] =
		"{% set lights_on = states.light|selectattr('state','eq','on')"
		"|sort(attribute='entity_id')|map(attribute='name')|list %}"
		"{% if lights_on|length == 0 %}No lights on. Sleep well.."
		"{% elif lights_on|length == 1 %}The {{lights_on[0]}} light is on."
		"{% elif lights_on|length == 2 %}The {{lights_on[0]}} and {{lights_on[1]}} lights are on."
		"{% else %}The {{lights_on[:-1]|join(', ')}}, and {{lights_on[-1]}} lights are on."
		"{% endif %}";
	static const char demo[] =
		"{## Imitate available variables: ##}\n"
		"{% set my_test_json = {\n  \"temperature\": 25,\n  \"unit\": \"°C\"\n} %}\n\n"
		"The temperature is {{ my_test_json.temperature }} {{ my_test_json.unit }}.\n\n"
		"{% if is_state(\"sun.sun\", \"above_horizon\") -%}\n"
		"  The sun rose {{ relative_time(states.sun.sun.last_changed) }} ago.\n"
		"{%- else -%}\n"
		"  The sun will rise at {{ as_timestamp(state_attr(\"sun.sun\", \"next_rising\")) "
		"| timestamp_local }}.\n"
		"{%- endif %}\n\n"
		"For loop example getting 3 entity values:\n\n"
		"{% for states in states | slice(3) -%}\n"
		"  {% set state = states | first %}\n"
		"  {%- if loop.first %}The {% elif loop.last %} and the {% else %}, the {% endif -%}\n"
		"  {{ state.name | lower }} is {{state.state_with_unit}}\n"
		"{%- endfor %}.\n";
	struct mqb_core *core = NULL;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	char id[32];
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "light.sensor%d", i);
		assert_int_equal(mqb_states_async_set(core, id, "on", NULL, false), 0);
	}
	char *out = NULL;
	struct mqb_tpl_error err = { 0 };
	assert_int_equal(tpl_ha_render(core, lights, &out, &err, NULL, NULL), 0);
	assert_string_equal(out, "The sensor0, sensor1, sensor2, sensor3, sensor4, sensor5, "
				 "sensor6, sensor7, sensor8, and sensor9 lights are on.");
	free(out);
	mqb_core_free(core);

	assert_int_equal(mqb_core_new(NULL, &core), 0);
	assert_int_equal(mqb_states_async_set(core, "sun.sun", "above", json_pack("{s:i, s:s}",
		"elevation", 50, "next_rising", "2022-05-12T03:00:08.503651+00:00"), false), 0);
	assert_int_equal(mqb_states_async_set(core, "sensor.sensor0", "on", NULL, false), 0);
	assert_int_equal(mqb_states_async_set(core, "sensor.sensor1", "on", NULL, false), 0);
	assert_int_equal(tpl_ha_render(core, demo, &out, &err, NULL, NULL), 0);
	static const char *const has[] = { "The temperature is 25", "is on", "sensor0", "sensor1",
					   "sun" };
	for (size_t i = 0; i < sizeof has / sizeof has[0]; i++) {
		if (!strstr(out, has[i]))
			print_message("no \"%s\" in\n%s\n", has[i], out);
		assert_non_null(strstr(out, has[i]));
	}
	free(out);
	mqb_core_free(core);
}

/* test_no_result_parsing, test_is_static_still_ast_evals,
 * test_result_wrappers, test_parse_result: the text, and the native value
 * Home Assistant reads it back as. */
static void results_read_back_as_home_assistant_parses_them(void **state)
{
	static const struct {
		const char *text, *json; /* json NULL: the text stays a string */
	} c[] = {
		{ "{{}}", NULL }, { "not-something", NULL }, { "2a", NULL }, { "123E5", NULL },
		{ "1j", NULL }, { "1e+100", NULL }, { "0xface", NULL }, { "123", "123" },
		{ "10", "10" }, { "123.0", "123.0" }, { ".5", "0.5" }, { "0.5", "0.5" },
		{ "-1", "-1" }, { "-1.0", "-1.0" }, { "+1", "1" }, { "5.", "5.0" },
		{ "123_123_123", NULL }, { "010", NULL }, { "0011101.00100001010001", NULL },
		/* test_result_wrappers, test_is_static_still_ast_evals */
		{ "[1, 2]", "[1, 2]" }, { "{1, 2}", "[1, 2]" }, { "(1, 2)", "[1, 2]" },
		{ "{\"hello\": True}", "{\"hello\": true}" },
		/* test_no_result_parsing's values when parsed */
		{ "False", "false" }, { "[1, 2, 3]", "[1, 2, 3]" },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		json_t *v = tpl__parse_result(c[i].text, strlen(c[i].text));
		assert_non_null(v);
		json_t *want = c[i].json ? json_loads(c[i].json, JSON_DECODE_ANY, NULL)
					 : json_string(c[i].text);
		if (!json_equal(v, want)) {
			char *got = json_dumps(v, JSON_ENCODE_ANY);
			print_message("%s: want %s, got %s\n", c[i].text, c[i].json, got);
			free(got);
		}
		assert_true(json_equal(v, want));
		json_decref(v);
		json_decref(want);
	}
	/* test_parse_result's first: the braces are the template's output */
	static const struct tcase t[] = {
		{ "{{ \"{{}}\" }}", "{{}}", NULL },
		/* test_no_result_parsing: the text as rendered */
		{ "{{ false }}|{{ [1, 2, 3] }}", "False|[1, 2, 3]", NULL },
	};
	RUN(NULL, t);
	struct mqb_template *tpl = NULL;
	struct mqb_tpl_error err;
	assert_int_equal(mqb_template_compile("[1, 2]", 6, &tpl, &err), 0);
	assert_true(mqb_template_is_static(tpl));
	mqb_template_free(tpl);
}

/* test_import: {% import %} from custom_templates/, and its own folders. */
static void imports_come_from_custom_templates(void **state)
{
	static const char test_jinja[] =
		"{% macro test_macro() -%}\nmacro\n{%- endmacro %}\n\n"
		"{% set test_variable = \"variable\" %}\n";
	static const char inner_jinja[] =
		"{% macro test_macro() -%}\ninner macro\n{%- endmacro %}\n\n"
		"{% set test_variable = \"inner variable\" %}\n";
	struct mqb_tpl_error err;
	assert_int_equal(mqb_template_add_include("test.jinja", test_jinja, strlen(test_jinja),
						  &err), 0);
	assert_int_equal(mqb_template_add_include("inner/inner_test.jinja", inner_jinja,
						  strlen(inner_jinja), &err), 0);
	static const struct tcase c[] = {
		{ "{% import 'test.jinja' as t %}{{ t.test_macro() }} {{ t.test_variable }}",
		  "macro variable", NULL },
		{ "{% import 'inner/inner_test.jinja' as t %}{{ t.test_macro() }} "
		  "{{ t.test_variable }}", "inner macro inner variable", NULL },
		{ "{% import 'notfound.jinja' as t %}{{ t.test_macro() }} {{ t.test_variable }}",
		  NULL, "notfound.jinja" },
	};
	RUN(NULL, c);
	mqb_template_clear_includes();
}

/* test_merge_response_not_mutate_original_object, test_random_every_time
 * (a list's random pick, each render anew): in test_init.py and again in
 * extensions/test_functional.py */
static void responses_merge_twice_and_random_picks(void **state)
{
	static const struct tcase c[] = {
		{ "{% set calendar_response = {\"calendar.family\": {\"events\": "
		  "[{\"summary\": \"An event\"}]}} %}"
		  "{{ merge_response(calendar_response) == merge_response(calendar_response) }}",
		  "True", NULL },
		{ "{{ [1, 1] | random }}", "1", NULL },
	};
	RUN(NULL, c);
}

/* extensions/test_regex.py */
static void regex_tests_of_home_assistant_agree(void **state)
{
	static const struct tcase c[] = {
		/* test_regex_match */
		{ "{{ '123-456-7890' | regex_match('(\\\\d{3})-(\\\\d{3})-(\\\\d{4})') }}|"
		  "{{ 'Home Assistant test' | regex_match('home', True) }}|"
		  "{{ 'Another Home Assistant test'|regex_match('Home') }}|"
		  "{{ ['Home Assistant test'] | regex_match('.*Assist') }}", "True|True|False|True",
		  NULL },
		/* test_match_test */
		{ "{{ '123-456-7890' is match('(\\\\d{3})-(\\\\d{3})-(\\\\d{4})') }}", "True",
		  NULL },
		/* test_regex_search */
		{ "{{ '123-456-7890' | regex_search('(\\\\d{3})-(\\\\d{3})-(\\\\d{4})') }}|"
		  "{{ 'Home Assistant test' | regex_search('home', True) }}|"
		  "{{ 'Another Home Assistant test' | regex_search('Home') }}|"
		  "{{ ['Home Assistant test'] | regex_search('Assist') }}", "True|True|True|True",
		  NULL },
		/* test_search_test */
		{ "{{ '123-456-7890' is search('(\\\\d{3})-(\\\\d{3})-(\\\\d{4})') }}", "True",
		  NULL },
		/* test_regex_replace */
		{ "{{ 'Hello World' | regex_replace('(Hello\\\\s)',) }}|"
		  "{{ ['Home hinderant test'] | regex_replace('hinder', 'Assist') }}",
		  "World|['Home Assistant test']", NULL },
		/* test_regex_findall */
		{ "{{ 'Flight from JFK to LHR' | regex_findall('([A-Z]{3})') }}", "['JFK', 'LHR']",
		  NULL },
		/* test_regex_findall_index */
		{ "{{ 'Flight from JFK to LHR' | regex_findall_index('([A-Z]{3})', 0) }}|"
		  "{{ 'Flight from JFK to LHR' | regex_findall_index('([A-Z]{3})', 1) }}", "JFK|LHR",
		  NULL },
		/* test_regex_ignorecase_parameter */
		{ "{{ 'TEST' | regex_match('test', True) }}|"
		  "{{ 'TEST STRING' | regex_search('test', True) }}|"
		  "{{ 'TEST' | regex_replace('test', 'replaced', True) }}|"
		  "{{ 'TEST test Test' | regex_findall('test', True) }}",
		  "True|True|replaced|['TEST', 'test', 'Test']", NULL },
		/* test_regex_with_non_string_input */
		{ "{{ 12345 | regex_match('\\\\d+') }}|{{ [1, 2, 3] | regex_search('\\\\d') }}",
		  "True|True", NULL },
		/* test_regex_edge_cases */
		{ "{{ '' | regex_match('.*') }}", "True", NULL },
		{ "{{ 'test' | regex_findall_index('t', 5) }}", NULL, "" },
		{ "{{ 'test' | regex_match('[') }}", NULL, "" },
		/* test_regex_groups_and_replacement_patterns */
		{ "{{ 'John Doe' | regex_replace('(\\\\w+) (\\\\w+)', '\\\\2, \\\\1') }}",
		  "Doe, John", NULL },
		{ "{{ 'Email: test@example.com, Phone: 123-456-7890' | regex_findall("
		  "'(\\\\w+@\\\\w+\\\\.\\\\w+)|(\\\\d{3}-\\\\d{3}-\\\\d{4})') }}",
		  "[('test@example.com', ''), ('', '123-456-7890')]", NULL },
	};
	RUN(NULL, c);
}

/* test_undefined_symbol_warnings (what renders: the warning is the log's),
 * and the registry tests of test_init.py where they show the empty case:
 * test_integration_entities, test_config_entry_id, test_config_entry_attr */
static void undefined_names_and_empty_registries_render_as_home_assistant(void **state)
{
	static const struct tcase c[] = {
		{ "{{ no_such_variable }}", "", NULL },
		{ "{{ no_such_variable and True }}", "", NULL },
		{ "{{ no_such_variable | join(', ') }}", "", NULL },
		{ "{{ integration_entities('') }}|{{ integration_entities('abc123') }}", "[]|[]", NULL },
		{ "{{ 'sensor.fail' | config_entry_id }}|{{ 56 | config_entry_id }}|"
		  "{{ 'not_a_real_entity_id' | config_entry_id }}", "None|None|None", NULL },
		{ "{{ config_entry_attr('invalid_id', 'domain') }}", "None", NULL },
		{ "{{ config_entry_attr(56, 'domain') }}", NULL, "" },
		{ "{{ config_entry_attr('invalid_id', 'invalid_key') }}", NULL, "" },
	};
	RUN(NULL, c);
}

/* extensions/test_string.py's two tests not in ha_tests.jsonl */
static void string_tests_of_home_assistant_agree(void **state)
{
	static const struct tcase c[] = {
		/* test_string_functions_with_non_string_input */
		{ "{{ 42 | ordinal }}|{{ 123 | slugify }}", "42nd|123", NULL },
		/* test_ordinal_edge_cases */
		{ "{% for n in [11, 12, 13, 111, 112, 113, 21, 22, 23, 121, 122, 123] %}"
		  "{{ n | ordinal }} {% endfor %}",
		  "11th 12th 13th 111th 112th 113th 21st 22nd 23rd 121st 122nd 123rd ", NULL },
	};
	RUN(NULL, c);
}

/* test_helpers.py: test_raise_no_default's message (the template's text,
 * which Home Assistant quotes in it, is the caller's to log),
 * test_resolve_area_id with the registries empty (what area_id answers). */
static void helpers_tests_of_home_assistant_agree(void **state)
{
	static const struct tcase c[] = {
		{ "{{ 'invalid' | float }}", NULL, "float got invalid input 'invalid'" },
		{ "{{ 'invalid' | float }}", NULL, "no default was specified" },
		{ "{{ area_id('sensor.fake') }}|{{ area_id('123abc') }}|"
		  "{{ area_id('fake area name') }}|{{ area_id(56) }}", "None|None|None|None", NULL },
	};
	RUN(NULL, c);
}

/* Home Assistant's tests run in UTC. */
static int utc(void **state)
{
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}
#define T(name) cmocka_unit_test_setup(name, utc)

static const struct CMUnitTest tests[] = {
	T(errors_are_where_home_assistant_raises),
	T(numbers_and_durations_render_as_home_assistant),
	T(variables_render_as_python_prints_them),
	T(payloads_render_as_home_assistant_reads_them),
	T(state_functions_agree_with_test_init),
	T(iterating_states_agrees_with_test_init),
	T(a_render_reports_the_entities_home_assistant_tracks),
	T(the_demo_and_lights_templates_render),
	T(results_read_back_as_home_assistant_parses_them),
	T(imports_come_from_custom_templates),
	T(responses_merge_twice_and_random_picks),
	T(regex_tests_of_home_assistant_agree),
	T(helpers_tests_of_home_assistant_agree),
	T(string_tests_of_home_assistant_agree),
	T(undefined_names_and_empty_registries_render_as_home_assistant),
};

TU_MAIN(tests)
