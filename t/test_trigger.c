/* SPDX-License-Identifier: MIT */
/* Triggers (mqbridge/trigger.h) against Home Assistant's own tests:
 * tests/components/homeassistant/triggers/test_<platform>.py unless a case
 * names another file (the template, mqtt and sun triggers' are under their
 * components). Each case compiles YAML, attaches it to a core whose loop
 * is this thread, changes states and moves the fake clock (no sleeps);
 * the mqtt cases talk to a real mosquitto. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <time.h>
#include <ev.h>

#include "testutil.h"
#include "broker.h"
#include "config/load.h"
#include "core/hass.h"
#include "core/loop.h"
#include "lib/internal.h"
#include "mqtt/client.h"
#include "mqbridge/bus.h"
#include "mqbridge/location.h"
#include "mqbridge/log.h"
#include "mqbridge/mqtt.h"
#include "mqbridge/states.h"
#include "mqbridge/template.h"
#include "mqbridge/timer.h"
#include "mqbridge/trigger.h"

struct fx {
	struct mqb_core *core;
	struct mqb_conf_doc *doc;
	struct mqb_triggers *ts;
	struct mqb_trigger_attach *att;
	json_t *fired;      /* the `trigger` of each firing */
	json_t *vars;       /* the variables of each firing (null: none) */
	bool detach_in_fire;
	int warnings, errors;
	char last_log[512];
	struct tu_broker *broker;  /* stopped after the core, also when a test fails */
};

static struct fx *current;

static void log_sink(void *ud, enum mqb_log_level level, const char *subsystem, const char *msg)
{
	(void)ud;
	(void)subsystem;
	if (!current)
		return;
	if (level == MQB_LOG_WARNING)
		current->warnings++;
	if (level == MQB_LOG_ERROR)
		current->errors++;
	if (level >= MQB_LOG_WARNING)
		snprintf(current->last_log, sizeof current->last_log, "%s", msg);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	assert_int_equal(mqb_core_new(NULL, &f->core), 0);
	f->fired = json_array();
	f->vars = json_array();
	setenv("TZ", "UTC", 1);
	tzset();
	current = f;
	mqb_log_set_sink(log_sink, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	mqb_triggers_async_detach(f->att);
	mqb_triggers_free(f->ts);
	mqb_conf_doc_free(f->doc);
	mqb_core_free(f->core);
	if (f->broker)
		tu_broker_stop(f->broker);
	json_decref(f->fired);
	json_decref(f->vars);
	mqb_log_set_sink(NULL, NULL);
	current = NULL;
	free(f);
	unsetenv("TZ");
	tzset();
	return 0;
}

static void pump(struct fx *f)
{
	for (int i = 0; i < 8; i++)
		ev_run(core__loop(f->core), EVRUN_NOWAIT);
}

static void advance(struct fx *f, double seconds)
{
	timer__advance(f->core, seconds);
	pump(f);
}

/* The wall clock at h:m:s UTC of a day. */
static double utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
			.tm_min = mi, .tm_sec = s};
	return (double)timegm(&tm);
}

static void clock_to(struct fx *f, double t)
{
	timer__shift_wall(f->core, t - mqb_async_now(f->core));
	pump(f);
}

/* Move the clock forward to t, as time passing (timers due fire). */
static void advance_to(struct fx *f, double t)
{
	advance(f, t - mqb_async_now(f->core));
}

static void on_fire(void *ud, json_t *trigger, json_t *vars)
{
	struct fx *f = ud;
	json_array_append_new(f->fired, trigger);
	json_array_append_new(f->vars, vars ? vars : json_null());
	if (f->detach_in_fire) {
		mqb_triggers_async_detach(f->att);
		f->att = NULL;
	}
}

static size_t fired(struct fx *f)
{
	return json_array_size(f->fired);
}

static void compile_ok(struct fx *f, const char *yaml)
{
	struct mqb_conf_errors errs;
	assert_null(f->att); /* detach first */
	mqb_triggers_free(f->ts);
	f->ts = NULL;
	mqb_conf_doc_free(f->doc);
	f->doc = NULL;
	mqb_conf_errors_init(&errs);
	if (conf__load_string("t.yaml", NULL, yaml, strlen(yaml), NULL, &f->doc, &errs) ||
	    mqb_triggers_compile(mqb_conf_get(mqb_conf_root(f->doc), "t"), "t", &errs, &f->ts)) {
		mqb_conf_errors_print(&errs, stderr);
		fail_msg("does not compile:\n%s", yaml);
	}
	mqb_conf_errors_fini(&errs);
}

/* Compile yaml (the triggers under t:) and attach them, with
 * trigger_variables (JSON, may be NULL). */
static void attach(struct fx *f, const char *yaml, const char *vars_json)
{
	compile_ok(f, yaml);
	json_t *vars = vars_json ? json_loads(vars_json, 0, NULL) : NULL;
	struct mqb_trigger_attach_options opt = {.variables = vars, .log_name = "automation.test"};
	assert_int_equal(mqb_triggers_async_attach(f->core, f->ts, &opt, on_fire, f, &f->att), 0);
	json_decref(vars);
}

static void detach(struct fx *f)
{
	mqb_triggers_async_detach(f->att);
	f->att = NULL;
}

/* yaml must not compile; the first error holds want, at line:column when
 * line is not 0. */
static void compile_fails(const char *yaml, const char *want, unsigned line, unsigned column)
{
	struct mqb_conf_errors errs;
	struct mqb_conf_doc *doc = NULL;
	struct mqb_triggers *ts = NULL;
	mqb_conf_errors_init(&errs);
	assert_int_equal(conf__load_string("t.yaml", NULL, yaml, strlen(yaml), NULL, &doc, &errs), 0);
	size_t n = mqb_triggers_compile(mqb_conf_get(mqb_conf_root(doc), "t"), "t", &errs, &ts);
	tu_expect_conf_error(&errs, n, want, line, column, yaml);
	assert_null(ts);
	mqb_conf_errors_fini(&errs);
	mqb_conf_doc_free(doc);
}

/* Render text with firing i's trigger (and its variables) as a run would. */
static void expect_render(struct fx *f, size_t i, const char *text, const char *want)
{
	struct mqb_template *t = NULL;
	struct mqb_tpl_error err;
	assert_int_equal(mqb_template_compile(text, strlen(text), &t, &err), 0);
	json_t *vars = json_array_get(f->vars, i);
	struct mqb_tpl_vars tv = {.trigger = json_array_get(f->fired, i),
				  .variables = json_is_object(vars) ? vars : NULL, .core = f->core};
	char *out = NULL;
	size_t len;
	if (mqb_template_render(t, &tv, NULL, &out, &len, &err))
		fail_msg("%s: %s", text, err.message);
	if (strcmp(out, want))
		fail_msg("%s rendered '%s', not '%s'", text, out, want);
	free(out);
	mqb_template_free(t);
}

/* Firings due in one loop iteration come in no set order: one of them
 * renders want. */
static void expect_any_render(struct fx *f, const char *text, const char *want)
{
	struct mqb_template *t = NULL;
	struct mqb_tpl_error err;
	assert_int_equal(mqb_template_compile(text, strlen(text), &t, &err), 0);
	bool found = false;
	for (size_t i = 0; i < fired(f) && !found; i++) {
		struct mqb_tpl_vars tv = {.trigger = json_array_get(f->fired, i), .core = f->core};
		char *out = NULL;
		size_t len;
		if (mqb_template_render(t, &tv, NULL, &out, &len, &err) == 0)
			found = strcmp(out, want) == 0;
		free(out);
	}
	mqb_template_free(t);
	if (!found)
		fail_msg("no firing renders %s as '%s'", text, want);
}

static void set(struct fx *f, const char *id, const char *state, const char *attrs_json)
{
	json_t *a = attrs_json ? json_loads(attrs_json, 0, NULL) : NULL;
	assert_int_equal(mqb_states_async_set(f->core, id, state, a, false), 0);
}

static void force(struct fx *f, const char *id, const char *state)
{
	assert_int_equal(mqb_states_async_set(f->core, id, state, NULL, true), 0);
}

/* ---- vectors: the research's port-ready tables ------------------------------ */

/* A step: S set the state (arg "state" or "state {json attributes}"),
 * F force it, R remove the entity, T let arg seconds pass; then want
 * firings in all. */
struct step {
	char op;
	const char *arg;
	int want;
};

struct vector {
	const char *cite;
	const char *init;           /* the entity's state before attaching; NULL: none */
	const char *conf;           /* the trigger's keys besides entity_id */
	struct step steps[12];
};

static void run_vector(struct fx *f, const struct vector *v, const char *platform)
{
	char yaml[1024];
	if (v->init) {
		const char *sp = strchr(v->init, ' ');
		char st[64];
		snprintf(st, sizeof st, "%.*s", sp ? (int)(sp - v->init) : (int)strlen(v->init), v->init);
		set(f, "test.entity", st, sp ? sp + 1 : NULL);
	}
	snprintf(yaml, sizeof yaml, "t:\n  - trigger: %s\n    entity_id: test.entity\n%s",
		 platform, v->conf);
	attach(f, yaml, NULL);
	for (int i = 0; v->steps[i].op; i++) {
		const struct step *s = &v->steps[i];
		char st[64];
		const char *sp = s->arg ? strchr(s->arg, ' ') : NULL;
		if (s->arg)
			snprintf(st, sizeof st, "%.*s", sp ? (int)(sp - s->arg) : (int)strlen(s->arg),
				 s->arg);
		switch (s->op) {
		case 'S':
			set(f, "test.entity", st, sp ? sp + 1 : NULL);
			break;
		case 'F':
			force(f, "test.entity", st);
			break;
		case 'R':
			assert_int_equal(mqb_states_async_remove(f->core, "test.entity"), 0);
			break;
		case 'T':
			advance(f, atof(s->arg));
			break;
		}
		if ((int)fired(f) != s->want)
			fail_msg("%s: step %d (%c %s): %zu firings, not %d", v->cite, i + 1, s->op,
				 s->arg ? s->arg : "", fired(f), s->want);
	}
}

static void run_vectors(void **state, const struct vector *v, size_t n, const char *platform)
{
	for (size_t i = 0; i < n; i++) {
		struct fx *f = *state;
		run_vector(f, &v[i], platform);
		teardown(state);
		setup(state);
	}
}

#define STEPS(...) {__VA_ARGS__}

static const struct vector state_vectors[] = {
	{"test_state.py::test_if_fires_on_entity_change_with_from_filter", "hello",
	 "    from: hello\n", STEPS({'S', "world", 1})},
	{"::test_if_fires_on_entity_change_with_not_from_filter", "hello", "    not_from: hello\n",
	 STEPS({'S', "world", 0}, {'S', "universum", 1})},
	{"::test_if_fires_on_entity_change_with_to_filter", "hello", "    to: world\n",
	 STEPS({'S', "world", 1})},
	{"::test_if_fires_on_entity_change_with_not_to_filter", "hello", "    not_to: world\n",
	 STEPS({'S', "world", 0}, {'S', "universum", 1})},
	{"::test_if_fires_on_entity_change_with_from_filter_all", "hello", "    from:\n",
	 STEPS({'S', "world", 1}, {'S', "world {\"attribute\": 5}", 1})},
	{"::test_if_fires_on_entity_change_with_to_filter_all", "hello", "    to: ~\n",
	 STEPS({'S', "world", 1}, {'S', "world {\"attribute\": 5}", 1})},
	{"::test_if_fires_on_attribute_change_with_to_filter", "hello", "    to: world\n",
	 STEPS({'S', "world {\"test_attribute\": 11}", 1}, {'S', "world {\"test_attribute\": 12}", 1})},
	{"::test_if_fires_on_entity_change_with_both_filters", "hello",
	 "    from: hello\n    to: world\n", STEPS({'S', "world", 1})},
	{"::test_if_fires_on_entity_change_with_not_from_to", "hello",
	 "    not_from: [hello, galaxy]\n    to: [galaxy, universe]\n",
	 STEPS({'S', "world", 0}, {'S', "galaxy", 1}, {'S', "milky_way", 1}, {'S', "universe", 2})},
	{"::test_if_fires_on_entity_change_with_from_not_to", "hello",
	 "    from: [hello, galaxy]\n    not_to: [galaxy, universe]\n",
	 STEPS({'S', "world", 1}, {'S', "hello", 1}, {'S', "galaxy", 1}, {'S', "milky_way", 2},
	       {'S', "universe", 2})},
	{"::test_if_not_fires_if_to_filter_not_match", "hello", "    from: hello\n    to: world\n",
	 STEPS({'S', "moon", 0})},
	{"::test_if_not_fires_if_from_filter_not_match", "bye", "    from: hello\n    to: world\n",
	 STEPS({'S', "world", 0})},
	{"::test_if_not_fires_on_entity_change_with_for", "hello",
	 "    to: world\n    for:\n      seconds: 5\n",
	 STEPS({'S', "world", 0}, {'S', "not_world", 0}, {'T', "10", 0})},
	{"::test_if_fires_on_entity_change_with_for_attribute_change", "hello",
	 "    to: world\n    for:\n      seconds: 5\n",
	 STEPS({'S', "world", 0}, {'T', "4", 0}, {'S', "world {\"mock_attr\": \"attr_change\"}", 0},
	       {'T', "4", 1})},
	{"::test_if_fires_on_entity_change_with_for_multiple_force_update", "hello",
	 "    to: world\n    for:\n      seconds: 5\n",
	 STEPS({'F', "world", 0}, {'T', "1", 0}, {'F', "world", 0}, {'T', "1", 0}, {'F', "world", 0},
	       {'T', "1", 0}, {'F', "world", 0}, {'T', "1", 0}, {'T', "4", 1})},
	{"::test_if_fires_on_entity_change_with_for_without_to", "hello", "    for: 5\n",
	 STEPS({'S', "hello", 0}, {'T', "2", 0}, {'S', "world", 0}, {'T', "4", 0}, {'T', "10", 1})},
	{"::test_if_does_not_fires_on_entity_change_with_for_without_to_2", "hello", "    for: 5\n",
	 STEPS({'S', "0", 0}, {'T', "1", 0}, {'S', "1", 0}, {'T', "1", 0}, {'S', "2", 0},
	       {'T', "1", 0}, {'S', "3", 0}, {'T', "1", 0}, {'S', "4", 0}, {'T', "1", 0})},
	{"::test_if_fires_on_change_from_with_for", "playing",
	 "    from: playing\n    for: '00:00:30'\n",
	 STEPS({'S', "paused", 0}, {'S', "stopped", 0}, {'T', "60", 1})},
	{"::test_if_not_fires_on_change_from_with_for", "playing",
	 "    from: playing\n    for: '00:00:30'\n",
	 STEPS({'S', "paused", 0}, {'S', "playing", 0}, {'T', "60", 0})},
	{"::test_attribute_if_fires_on_entity_where_attr_stays_constant", "hello {\"name\": \"hello\"}",
	 "    attribute: name\n",
	 STEPS({'S', "hello {\"name\": \"hello\"}", 0},
	       {'S', "hello {\"name\": \"hello\", \"other\": \"x\"}", 0},
	       {'S', "hello {\"name\": \"world\", \"other\": \"x\"}", 1})},
	{"::test_attribute_if_fires_on_entity_where_attr_stays_constant_filter",
	 "bla {\"name\": \"other_name\"}", "    attribute: name\n    to: best_name\n",
	 STEPS({'S', "bla {\"name\": \"best_name\"}", 1},
	       {'S', "bla {\"name\": \"best_name\", \"other\": \"changed\"}", 1},
	       {'S', "bla {\"name\": \"other_name\"}", 1})},
	{"::test_attribute_if_fires_on_entity_where_attr_stays_constant_all",
	 "hello {\"name\": \"hello\"}", "    attribute: name\n    to: ~\n",
	 STEPS({'S', "hello {\"name\": \"name_1\"}", 1},
	       {'S', "hello {\"name\": \"name_1\", \"other\": \"x\"}", 1},
	       {'S', "hello {\"name\": \"name_2\"}", 2})},
	{"::test_attribute_if_fires_on_entity_change_with_both_filters_boolean",
	 "bla {\"happening\": false}", "    attribute: happening\n    from: false\n    to: true\n",
	 STEPS({'S', "bla {\"happening\": true}", 1})},
};

static void state_trigger_vectors(void **state)
{
	run_vectors(state, state_vectors, sizeof state_vectors / sizeof *state_vectors, "state");
}

/* below: 10 unless the case says */
static const struct vector numeric_vectors[] = {
	{"test_numeric_state.py::test_if_fires_on_entity_change_over_to_below", "11",
	 "    below: 10\n", STEPS({'S', "9", 1})},
	{"::test_if_not_fires_on_entity_change_below_to_below", "11", "    below: 10\n",
	 STEPS({'S', "9", 1}, {'S', "5", 1}, {'S', "3", 1})},
	{"::test_if_not_below_fires_on_entity_change_to_equal", "11", "    below: 10\n",
	 STEPS({'S', "10", 0})},
	{"::test_if_not_fires_on_initial_entity_below", "9", "    below: 10\n", STEPS({'S', "8", 0})},
	{"::test_if_not_fires_on_initial_entity_above", "11", "    above: 10\n", STEPS({'S', "12", 0})},
	{"::test_if_fires_on_entity_unavailable_at_startup", NULL, "    above: 10\n",
	 STEPS({'S', "11", 0})},
	{"::test_if_not_fires_on_entity_change_above_to_above", "9", "    above: 10\n",
	 STEPS({'S', "12", 1}, {'S', "15", 1})},
	{"::test_if_not_fires_on_entity_removal", "11", "    below: 10\n", STEPS({'R', NULL, 0})},
	{"::test_if_fires_on_entity_change_below_range", "11", "    above: 5\n    below: 10\n",
	 STEPS({'S', "9", 1})},
	{"::test_if_fires_on_entity_change_below_above_range", NULL, "    above: 5\n    below: 10\n",
	 STEPS({'S', "4", 0})},
	{"::test_if_fires_on_entity_change_with_for", "0",
	 "    above: 8\n    below: 12\n    for:\n      seconds: 5\n",
	 STEPS({'S', "9", 0}, {'T', "10", 1})},
	{"::test_if_not_fires_on_entity_change_with_for", "0",
	 "    above: 8\n    below: 12\n    for:\n      seconds: 5\n",
	 STEPS({'S', "9", 0}, {'S', "15", 0}, {'T', "10", 0})},
	{"::test_if_fires_on_entity_change_with_for_attribute_change", "0",
	 "    above: 8\n    below: 12\n    for:\n      seconds: 5\n",
	 STEPS({'S', "9", 0}, {'T', "4", 0}, {'S', "9 {\"mock_attr\": \"attr_change\"}", 0},
	       {'T', "4", 1})},
	{"::test_if_not_fires_on_error_with_for_template", "0",
	 "    above: 100\n    for: '00:00:05'\n",
	 STEPS({'S', "101", 0}, {'T', "3", 0}, {'S', "unavailable", 0}, {'T', "3", 0},
	       {'S', "101", 0}, {'T', "3", 0})},
	{"(derived) unavailable re-arms", "11", "    above: 10\n",
	 STEPS({'S', "unavailable", 0}, {'S', "11", 1})},
	{"::test_if_fires_on_attribute_change_with_attribute_below", "entity {\"test_attribute\": 11}",
	 "    value_template: '{{ state.attributes.test_attribute }}'\n    below: 10\n",
	 STEPS({'S', "entity {\"test_attribute\": 9}", 1})},
	{"::test_if_not_fires_on_entity_change_with_attribute_below", "entity {\"test_attribute\": 11}",
	 "    value_template: '{{ state.attributes.test_attribute }}'\n    below: 10\n",
	 STEPS({'S', "9 {\"test_attribute\": 11}", 0})},
	{"::test_template_list", "entity {\"test_attribute\": [11, 15, 11]}",
	 "    value_template: '{{ state.attributes.test_attribute[2] }}'\n    below: 10\n",
	 STEPS({'S', "entity {\"test_attribute\": [11, 15, 3]}", 1})},
	{"::test_attribute_if_fires_on_entity_change_with_both_filters",
	 "bla {\"test-measurement\": 1}", "    attribute: test-measurement\n    above: 3\n",
	 STEPS({'S', "bla {\"test-measurement\": 4}", 1})},
};

static void numeric_state_trigger_vectors(void **state)
{
	run_vectors(state, numeric_vectors, sizeof numeric_vectors / sizeof *numeric_vectors,
		    "numeric_state");
}

/* ---- state ----------------------------------------------------------------- */

/* test_state.py::test_if_fires_on_entity_change: the trigger variable,
 * and nothing after the automation is turned off (detached). */
static void state_fires_with_the_trigger_variable(void **state)
{
	struct fx *f = *state;
	set(f, "test.entity", "hello", NULL);
	attach(f, "t:\n  - trigger: state\n    entity_id: test.entity\n", NULL);
	set(f, "test.entity", "world", NULL);
	assert_int_equal(fired(f), 1);
	expect_render(f, 0,
		      "{{ trigger.platform }} - {{ trigger.entity_id }} - "
		      "{{ trigger.from_state.state }} - {{ trigger.to_state.state }} - "
		      "{{ trigger.for }} - {{ trigger.id }}",
		      "state - test.entity - hello - world - None - 0");
	expect_render(f, 0, "{{ trigger.idx }} {{ trigger.alias }} {{ trigger.description }}",
		      "0 None state of test.entity");
	detach(f);
	set(f, "test.entity", "planet", NULL);
	assert_int_equal(fired(f), 1);
}

/* ::test_if_fires_on_entity_creation_and_removal */
static void state_sees_creation_and_removal(void **state)
{
	struct fx *f = *state;
	attach(f,
	       "t:\n"
	       "  - trigger: state\n    entity_id: test.entity_0\n"
	       "  - trigger: state\n    entity_id: test.entity_1\n    from: hello\n"
	       "  - trigger: state\n    entity_id: test.entity_2\n    to: world\n",
	       NULL);
	set(f, "test.entity_0", "hello", NULL);
	assert_int_equal(fired(f), 1);
	expect_render(f, 0, "{{ trigger.from_state }}", "None");
	assert_int_equal(mqb_states_async_remove(f->core, "test.entity_0"), 0);
	assert_int_equal(fired(f), 2);
	expect_render(f, 1, "{{ trigger.to_state }}", "None");
	set(f, "test.entity_1", "hello", NULL);
	assert_int_equal(fired(f), 2);
	assert_int_equal(mqb_states_async_remove(f->core, "test.entity_1"), 0);
	assert_int_equal(fired(f), 3);
	set(f, "test.entity_2", "world", NULL);
	assert_int_equal(fired(f), 4);
	expect_render(f, 3, "{{ trigger.idx }}", "2");
	assert_int_equal(mqb_states_async_remove(f->core, "test.entity_2"), 0);
	assert_int_equal(fired(f), 4);
}

/* ::test_if_fires_on_entities_change_overlap: one for: timer per entity. */
static void state_for_runs_a_timer_per_entity(void **state)
{
	struct fx *f = *state;
	attach(f,
	       "t:\n  - trigger: state\n    entity_id: [test.entity_1, test.entity_2]\n"
	       "    to: world\n    for:\n      seconds: 5\n",
	       NULL);
	set(f, "test.entity_1", "world", NULL);
	advance(f, 1);
	set(f, "test.entity_2", "world", NULL);
	advance(f, 1);
	set(f, "test.entity_2", "hello", NULL);
	advance(f, 1);
	set(f, "test.entity_2", "world", NULL);
	advance(f, 3);
	assert_int_equal(fired(f), 1);
	expect_render(f, 0, "{{ trigger.entity_id }} {{ trigger.for }}", "test.entity_1 0:00:05");
	advance(f, 3);
	assert_int_equal(fired(f), 2);
	expect_render(f, 1, "{{ trigger.entity_id }}", "test.entity_2");
}

/* ::test_if_fires_on_entities_change_overlap_for_template and
 * ::test_if_fires_on_change_with_for_template_1..4: for: rendered per
 * entity when it matches, trigger_variables visible. */
static void state_for_templates_render_per_entity(void **state)
{
	struct fx *f = *state;
	attach(f,
	       "t:\n  - trigger: state\n    entity_id: [test.entity_1, test.entity_2]\n"
	       "    to: world\n"
	       "    for: '{{ 5 if trigger.entity_id == \"test.entity_1\" else 10 }}'\n"
	       "  - trigger: state\n    entity_id: test.entity_3\n    to: world\n"
	       "    for:\n      seconds: '{{ seconds }}'\n"
	       "  - trigger: state\n    entity_id: test.entity_4\n    to: world\n"
	       "    for: '00:00:{{ 5 }}'\n",
	       "{\"seconds\": 7}");
	set(f, "test.entity_1", "world", NULL);
	set(f, "test.entity_2", "world", NULL);
	set(f, "test.entity_3", "world", NULL);
	set(f, "test.entity_4", "world", NULL);
	advance(f, 5.5);
	assert_int_equal(fired(f), 2);
	expect_any_render(f, "{{ trigger.entity_id }} {{ trigger.for }}", "test.entity_1 0:00:05");
	expect_any_render(f, "{{ trigger.entity_id }} {{ trigger.for }}", "test.entity_4 0:00:05");
	advance(f, 2);
	assert_int_equal(fired(f), 3);
	expect_render(f, 2, "{{ trigger.for }}", "0:00:07");
	advance(f, 3);
	assert_int_equal(fired(f), 4);
	expect_render(f, 3, "{{ trigger.entity_id }} {{ trigger.for }}", "test.entity_2 0:00:10");
}

/* ::test_invalid_for_template_1: an undefined name renders nothing, which
 * is no duration: an error is logged and nothing fires. */
static void state_for_that_renders_no_duration_logs(void **state)
{
	struct fx *f = *state;
	attach(f,
	       "t:\n  - trigger: state\n    entity_id: test.entity\n    to: world\n"
	       "    for:\n      seconds: '{{ five }}'\n",
	       NULL);
	set(f, "test.entity", "world", NULL);
	advance(f, 10);
	assert_int_equal(fired(f), 0);
	assert_int_equal(f->errors, 1);
	assert_non_null(strstr(f->last_log, "Error rendering 'automation.test' for template"));
}

/* ::test_variables_priority: a trigger_variable named trigger is the real
 * trigger where the for: renders. */
static void state_trigger_variable_wins_over_a_variable(void **state)
{
	struct fx *f = *state;
	attach(f,
	       "t:\n  - trigger: state\n    entity_id: [test.entity_1, test.entity_2]\n"
	       "    to: world\n"
	       "    for: '{{ 5 if trigger.entity_id == \"test.entity_1\" else 10 }}'\n",
	       "{\"trigger\": \"illegal\"}");
	set(f, "test.entity_1", "world", NULL);
	advance(f, 6);
	assert_int_equal(fired(f), 1);
	expect_render(f, 0, "{{ trigger.for }}", "0:00:05");
}

/* ::test_if_not_fires_on_entities_change_with_for_after_stop and
 * ::test_attribute_if_not_fires_on_entities_change_with_for_after_stop:
 * turning off cancels pending for: timers; an entity's removal does too. */
static void state_for_ends_with_the_attachment_and_the_entity(void **state)
{
	struct fx *f = *state;
	attach(f,
	       "t:\n  - trigger: state\n    entity_id: test.entity\n    attribute: name\n"
	       "    from: hello\n    to: world\n    for: 5\n",
	       NULL);
	set(f, "test.entity", "x", "{\"name\": \"hello\"}");
	set(f, "test.entity", "x", "{\"name\": \"world\"}");
	advance(f, 2);
	set(f, "test.entity", "x", "{\"name\": \"world\", \"other\": 1}");
	advance(f, 10);
	assert_int_equal(fired(f), 1);
	set(f, "test.entity", "x", "{\"name\": \"hello\"}");
	set(f, "test.entity", "x", "{\"name\": \"world\"}");
	assert_int_equal(mqb_states_async_remove(f->core, "test.entity"), 0);
	advance(f, 10);
	assert_int_equal(fired(f), 1);
	set(f, "test.entity", "x", "{\"name\": \"hello\"}");
	set(f, "test.entity", "x", "{\"name\": \"world\"}");
	detach(f);
	advance(f, 10);
	assert_int_equal(fired(f), 1);
}

/* A detach inside the owner's callback, with another trigger of the list
 * matching the same change: the second is not called, nothing leaks. */
static void detach_inside_the_callback_is_safe(void **state)
{
	struct fx *f = *state;
	attach(f,
	       "t:\n  - trigger: state\n    entity_id: test.entity\n"
	       "  - trigger: state\n    entity_id: test.entity\n",
	       NULL);
	f->detach_in_fire = true;
	set(f, "test.entity", "on", NULL);
	assert_int_equal(fired(f), 1);
	assert_null(f->att);
	set(f, "test.entity", "off", NULL);
	assert_int_equal(fired(f), 1);
}

/* Issue 13's cost property at the trigger level: ten thousand state
 * triggers on as many entities, one change, one firing. */
static void ten_thousand_state_triggers_one_change_fires_one(void **state)
{
	struct fx *f = *state;
	enum { N = 10000 };
	size_t cap = 64 + N * 64;
	char *yaml = malloc(cap);
	assert_non_null(yaml);
	size_t len = (size_t)snprintf(yaml, cap, "t:\n");
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(yaml + len, cap - len,
					"  - trigger: state\n    entity_id: sensor.s%d\n", i);
	attach(f, yaml, NULL);
	free(yaml);
	set(f, "sensor.s4242", "on", NULL);
	assert_int_equal(fired(f), 1);
	expect_render(f, 0, "{{ trigger.idx }} {{ trigger.entity_id }}", "4242 sensor.s4242");
	set(f, "sensor.other", "on", NULL);
	assert_int_equal(fired(f), 1);
}

/* helpers/trigger.py: ids default to the position, disabled triggers keep
 * theirs; a trigger's own variables render with `trigger` in scope. */
static void ids_positions_and_variables(void **state)
{
	struct fx *f = *state;
	attach(f,
	       "t:\n"
	       "  - trigger: state\n    entity_id: test.a\n    enabled: false\n"
	       "  - platform: state\n    entity_id: test.a\n    id: my_id\n    alias: Mine\n"
	       "    variables:\n      who: '{{ trigger.entity_id }}'\n      n: 5\n"
	       "  - trigger: state\n    entity_id: test.a\n",
	       NULL);
	set(f, "test.a", "on", NULL);
	assert_int_equal(fired(f), 2);
	expect_render(f, 0, "{{ trigger.id }} {{ trigger.idx }} {{ trigger.alias }} {{ who }} {{ n + 1 }}",
		      "my_id 1 Mine test.a 6");
	expect_render(f, 1, "{{ trigger.id }} {{ trigger.idx }}", "2 2");
	assert_true(json_is_null(json_array_get(f->vars, 1)));
}

/* test_state.py::test_if_fails_setup_if_to_boolean_value and friends:
 * configuration errors at their file:line:column. */
static void configuration_errors_have_positions(void **state)
{
	(void)state;
	compile_fails("t:\n  - trigger: state\n    entity_id: test.entity\n    to: true\n",
		      "expected str for dictionary value @ data['to']", 4, 9);
	compile_fails("t:\n  - trigger: state\n    entity_id: test.entity\n    from: 5\n",
		      "expected str", 4, 11);
	compile_fails("t:\n  - trigger: state\n    entity_id: test.entity\n    for:\n      invalid: 5\n",
		      "", 0, 0);
	compile_fails("t:\n  - trigger: state\n    entity_id: test.entity\n    from: a\n    not_from: b\n",
		      "two or more values in the same group of exclusion 'from'", 5, 15);
	compile_fails("t:\n  - trigger: nonsense\n", "Invalid trigger nonsense specified", 2, 14);
	compile_fails("t:\n  - trigger: state\n    platform: state\n    entity_id: a.b\n",
		      "Cannot specify both 'platform' and 'trigger'", 2, 14);
	compile_fails("t:\n  - trigger: state\n    entity_id: Not An Id\n",
		      "is an invalid entity ID", 3, 16);
	compile_fails("t:\n  - trigger: state\n    entity_id: a.b\n    tp: x\n",
		      "extra keys not allowed", 4, 5);
	compile_fails("t:\n  - trigger: state\n    entity_id: a.b\n    id: 1\n",
		      "expected str for dictionary value @ data['id']", 4, 9);
	compile_fails("t:\n  - trigger: template\n    value_template: '{{ '\n", "invalid template",
		      3, 25 /* the template's own column */);
	compile_fails("t:\n  - trigger: numeric_state\n    entity_id: a.b\n",
		      "must contain at least one of below, above.", 2, 5);
	compile_fails("t:\n  - trigger: numeric_state\n    entity_id: a.b\n    above: 1200\n"
		      "    below: 1000\n",
		      "A value can never be above 1200.0 and below 1000.0 at the same time", 2, 5);
	compile_fails("t:\n  - trigger: numeric_state\n    entity_id: a.b\n"
		      "    above: input_datetime.some_input\n",
		      "does not belong to domain", 4, 12);
	compile_fails("t:\n  - trigger: time\n    at: 1:00:05\n", "Expected HH:MM, HH:MM:SS", 3, 9);
	compile_fails("t:\n  - trigger: time\n    at: '25:00'\n", "Expected HH:MM", 3, 9);
	compile_fails("t:\n  - trigger: time\n    at: binary_sensor.bla\n", "Expected HH:MM", 3, 9);
	compile_fails("t:\n  - trigger: mqtt\n    topic: 'a/#/b'\n", "invalid MQTT topic filter", 3, 12);
	compile_fails("t:\n  - trigger: sun\n    event: noon\n", "value must be one of", 3, 12);
	compile_fails("t:\n  - trigger: event\n    event_type: state_reported\n",
		      "Can't listen to state_reported", 3, 17);
}

/* ---- numeric_state ------------------------------------------------------------ */

/* ::test_if_fires_on_entity_change_below (with an input_number threshold)
 * and ::test_template_string: trigger.below as Home Assistant stores it. */
static void numeric_state_thresholds_from_entities(void **state)
{
	struct fx *f = *state;
	set(f, "input_number.value_10", "10", NULL);
	set(f, "test.entity", "11", NULL);
	attach(f,
	       "t:\n  - trigger: numeric_state\n    entity_id: test.entity\n"
	       "    below: input_number.value_10\n"
	       "  - trigger: numeric_state\n    entity_id: test.entity\n    below: 10\n",
	       NULL);
	set(f, "test.entity", "9", NULL);
	assert_int_equal(fired(f), 2);
	expect_render(f, 0,
		      "{{ trigger.platform }} - {{ trigger.entity_id }} - {{ trigger.below }} - "
		      "{{ trigger.above }} - {{ trigger.from_state.state }} - "
		      "{{ trigger.to_state.state }}",
		      "numeric_state - test.entity - input_number.value_10 - None - 11 - 9");
	expect_render(f, 1, "{{ trigger.below }} {{ trigger.description }}",
		      "10.0 numeric state of test.entity");
	set(f, "test.entity", "12", NULL);
	detach(f);
	set(f, "test.entity", "9", NULL);
	assert_int_equal(fired(f), 2);
}

/* ::test_if_not_fires_and_warns_if_below_entity_unknown: one warning. */
static void numeric_state_warns_of_an_unknown_threshold(void **state)
{
	struct fx *f = *state;
	attach(f,
	       "t:\n  - trigger: numeric_state\n    entity_id: test.entity\n"
	       "    below: input_number.unknown\n",
	       NULL);
	int before = f->warnings; /* the entity is missing at attach: one warning */
	set(f, "test.entity", "1", NULL);
	assert_int_equal(fired(f), 0);
	assert_int_equal(f->warnings - before, 1);
	assert_non_null(strstr(f->last_log, "unknown 'below' entity input_number.unknown"));
}

/* ::test_template_variable: trigger_variables in value_template. */
static void numeric_state_value_template_sees_trigger_variables(void **state)
{
	struct fx *f = *state;
	set(f, "test.entity", "entity", "{\"test_attribute\": [11, 15, 11]}");
	attach(f,
	       "t:\n  - trigger: numeric_state\n    entity_id: test.entity\n"
	       "    value_template: '{{ state.attributes.test_attribute[2] * multiplier }}'\n"
	       "    below: 10\n",
	       "{\"multiplier\": 3}");
	set(f, "test.entity", "entity", "{\"test_attribute\": [11, 15, 3]}");
	assert_int_equal(fired(f), 1);
	set(f, "test.entity", "entity", "{\"test_attribute\": [11, 15, 4]}");
	assert_int_equal(fired(f), 1);
}

/* ---- event, homeassistant ---------------------------------------------------- */

static void fire_event(struct fx *f, const char *type, const char *data)
{
	assert_int_equal(mqb_bus_async_fire(f->core, type, data ? json_loads(data, 0, NULL) : NULL),
			 0);
}

/* tests/components/switch/test_device_trigger.py (test_if_fires_on_state_change,
 * test_if_fires_on_state_change_with_for) and toggle_entity.py: turned_on,
 * turned_off and changed_states of an entity that turns on and off are
 * its state trigger (to on, to off, to any state), with for; the trigger
 * variable names the platform device. */
static void a_device_trigger_of_a_toggle_entity_is_its_state_trigger(void **state)
{
	struct fx *f = *state;
	set(f, "switch.tree", "off", NULL);
	attach(f,
	       "t:\n  - trigger: device\n    device_id: abc\n    domain: switch\n"
	       "    entity_id: switch.tree\n    type: turned_on\n"
	       "  - platform: device\n    device_id: abc\n    domain: light\n"
	       "    entity_id: light.desk\n    type: turned_off\n    for: {seconds: 5}\n"
	       "  - platform: device\n    device_id: abc\n    domain: fan\n"
	       "    entity_id: fan.attic\n    type: changed_states\n",
	       NULL);
	set(f, "switch.tree", "on", NULL);
	assert_int_equal(fired(f), 1);
	expect_render(f, 0, "{{ trigger.platform }} {{ trigger.entity_id }} {{ trigger.to_state.state }}",
		      "device switch.tree on");
	set(f, "switch.tree", "on", "{\"x\": 1}");
	set(f, "switch.tree", "off", NULL);
	assert_int_equal(fired(f), 1);
	set(f, "light.desk", "on", NULL);
	set(f, "light.desk", "off", NULL);
	assert_int_equal(fired(f), 1);
	advance(f, 6);
	assert_int_equal(fired(f), 2);
	set(f, "fan.attic", "on", NULL);
	set(f, "fan.attic", "on", "{\"percentage\": 50}");
	assert_int_equal(fired(f), 3);
	detach(f);
	compile_fails("t:\n  - trigger: device\n    device_id: abc\n    domain: switch\n"
		      "    entity_id: switch.tree\n    type: pressed\n",
		      "value must be one of ['changed_states', 'turned_off', 'turned_on']", 6, 11);
}

/* A trigger of an integration mqbridge does not have (a webhook, a tag,
 * another integration's device trigger, an integration's own
 * "<domain>.<name>") is kept, as DESIGN 7 keeps such an integration: it
 * compiles with its own keys, says at each attach where it is and that it
 * never fires, and the triggers beside it work. A name that is none of
 * Home Assistant's stays an error. */
static void a_trigger_of_an_absent_integration_never_fires_and_says_so(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *yaml, *want;
	} cases[] = {
		{"  - trigger: webhook\n    webhook_id: abc\n    allowed_methods: [POST]\n",
		 "t.yaml:2:14: t[0]: the webhook trigger never fires here: mqbridge does not have "
		 "Home Assistant's webhook integration"},
		{"  - platform: tag\n    tag_id: kitchen\n",
		 "t.yaml:2:15: t[0]: the tag trigger never fires here: mqbridge does not have "
		 "Home Assistant's tag integration"},
		{"  - trigger: device\n    domain: zha\n    device_id: abc\n"
		 "    type: remote_button_short_press\n",
		 "t.yaml:2:14: t[0]: the device trigger never fires here: mqbridge does not have "
		 "Home Assistant's zha integration"},
		{"  - platform: samsungtv.turn_on\n    entity_id: media_player.tv\n",
		 "t.yaml:2:15: t[0]: the samsungtv.turn_on trigger never fires here: mqbridge does "
		 "not have Home Assistant's samsungtv integration"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char yaml[512];
		snprintf(yaml, sizeof yaml, "t:\n%s  - trigger: event\n    event_type: go\n",
			 cases[i].yaml);
		int before = f->warnings;
		attach(f, yaml, NULL);
		assert_int_equal(f->warnings - before, 1);
		if (!strstr(f->last_log, cases[i].want))
			fail_msg("logged '%s', not '%s'", f->last_log, cases[i].want);
		fire_event(f, "go", NULL);
		assert_int_equal(fired(f), i + 1);
		detach(f);
	}
	compile_fails("t:\n  - trigger: stat\n", "Invalid trigger stat specified", 2, 14);
	compile_fails("t:\n  - trigger: Samsung.turn_on\n", "Invalid trigger Samsung.turn_on", 2,
		      14);
}

/* test_event.py::test_if_fires_on_event, ::test_if_fires_on_multiple_events,
 * ::test_if_fires_on_templated_event. */
static void event_fires_for_its_types(void **state)
{
	struct fx *f = *state;
	attach(f,
	       "t:\n  - trigger: event\n    event_type: [test_event, test2_event]\n"
	       "  - trigger: event\n    event_type: '{{ event_type }}'\n",
	       "{\"event_type\": \"templated_event\"}");
	fire_event(f, "test_event", "{\"some\": 1}");
	fire_event(f, "test2_event", NULL);
	fire_event(f, "templated_event", NULL);
	fire_event(f, "other_event", NULL);
	assert_int_equal(fired(f), 3);
	expect_render(f, 0,
		      "{{ trigger.platform }} - {{ trigger.event.event_type }} - "
		      "{{ trigger.event.data.some }} - {{ trigger.id }} - {{ trigger.description }}",
		      "event - test_event - 1 - 0 - event 'test_event'");
	detach(f);
	fire_event(f, "test_event", NULL);
	assert_int_equal(fired(f), 3);
}

/* ::test_if_fires_on_event_with_data_and_context (data part),
 * ::test_if_fires_on_event_with_nested_data, ::test_if_fires_on_sample_zha_event,
 * ::test_event_data_with_list, ::test_if_fires_on_event_with_empty_data. */
static void event_data_is_a_subset(void **state)
{
	struct fx *f = *state;
	attach(f,
	       "t:\n"
	       "  - trigger: event\n    event_type: e1\n"
	       "    event_data:\n      some_attr: some_value\n      second_attr: second_value\n"
	       "  - trigger: event\n    event_type: e2\n"
	       "    event_data:\n      parent_attr:\n        some_attr: some_value\n"
	       "  - trigger: event\n    event_type: zha_event\n"
	       "    event_data:\n      args:\n        attribute_id: 0\n        value: True\n"
	       "  - trigger: event\n    event_type: e3\n    event_data:\n      some_attr: [1, 2]\n"
	       "  - trigger: event\n    event_type: e4\n    event_data: {}\n",
	       NULL);
	fire_event(f, "e1", "{\"some_attr\": \"some_value\", \"second_attr\": \"second_value\", "
			    "\"another\": \"value\"}");
	assert_int_equal(fired(f), 1);
	fire_event(f, "e1", "{\"some_attr\": \"some_value\"}");
	assert_int_equal(fired(f), 1);
	fire_event(f, "e2", "{\"parent_attr\": {\"some_attr\": \"some_value\", \"another\": 1}}");
	assert_int_equal(fired(f), 2);
	fire_event(f, "zha_event", "{\"args\": {\"attribute_id\": 0, \"attribute_name\": \"on_off\", "
				   "\"value\": true}}");
	fire_event(f, "zha_event", "{\"args\": {\"attribute_id\": 0, \"value\": false}}");
	assert_int_equal(fired(f), 3);
	fire_event(f, "e3", "{\"some_attr\": [1, 2]}");
	fire_event(f, "e3", "{\"some_attr\": 1}");
	fire_event(f, "e3", "{\"some_attr\": [1, 2, 3]}");
	assert_int_equal(fired(f), 4);
	fire_event(f, "e4", "{\"any_attr\": {}}");
	assert_int_equal(fired(f), 5);
}

/* ::test_if_not_fires_if_event_context_not_matches: events here carry no
 * context, so one asked for is never there (and the log says so). */
static void event_context_never_matches(void **state)
{
	struct fx *f = *state;
	attach(f, "t:\n  - trigger: event\n    event_type: e\n    context:\n      user_id: abc\n",
	       NULL);
	assert_int_equal(f->warnings, 1);
	fire_event(f, "e", NULL);
	assert_int_equal(fired(f), 0);
}

/* test_homeassistant.py::test_if_fires_on_hass_start and
 * ::test_if_fires_on_hass_shutdown: once each. */
static void homeassistant_start_and_shutdown(void **state)
{
	struct fx *f = *state;
	attach(f,
	       "t:\n  - trigger: homeassistant\n    event: start\n"
	       "  - trigger: homeassistant\n    event: shutdown\n",
	       NULL);
	fire_event(f, MQB_EVENT_START, NULL);
	assert_int_equal(fired(f), 1);
	expect_render(f, 0, "{{ trigger.platform }} {{ trigger.event }} {{ trigger.id }}",
		      "homeassistant start 0");
	fire_event(f, MQB_EVENT_START, NULL);
	assert_int_equal(fired(f), 1);
	fire_event(f, MQB_EVENT_STOP, NULL);
	assert_int_equal(fired(f), 2);
	expect_render(f, 1, "{{ trigger.event }} - {{ trigger.description }}",
		      "shutdown - Home Assistant stopping");
}

/* ---- time, time_pattern ------------------------------------------------------- */

/* test_time.py::test_if_fires_using_at and ::test_if_fires_using_multiple_at. */
static void time_fires_at_its_times(void **state)
{
	struct fx *f = *state;
	clock_to(f, utc(2024, 5, 1, 4, 59, 0));
	attach(f, "t:\n  - trigger: time\n    at: ['5:00:00', '06:00']\n", NULL);
	advance_to(f, utc(2024, 5, 1, 4, 59, 59));
	assert_int_equal(fired(f), 0);
	advance_to(f, utc(2024, 5, 1, 5, 0, 1));
	assert_int_equal(fired(f), 1);
	expect_render(f, 0, "{{ trigger.platform }} - {{ trigger.now[11:13] | int }} - {{ trigger.id }}",
		      "time - 5 - 0");
	expect_render(f, 0, "{{ trigger.entity_id }} {{ trigger.description }}", "None time");
	advance_to(f, utc(2024, 5, 1, 6, 0, 1));
	assert_int_equal(fired(f), 2);
	advance_to(f, utc(2024, 5, 2, 5, 0, 1));
	assert_int_equal(fired(f), 3);
	/* test_untrack_time_change: turned off, nothing more */
	detach(f);
	advance_to(f, utc(2024, 5, 3, 6, 0, 1));
	assert_int_equal(fired(f), 3);
}

/* ::test_if_fires_using_at_input_datetime (time only, date and time, date
 * only) and ::test_datetime_in_past_on_load. */
static void time_follows_input_datetimes(void **state)
{
	struct fx *f = *state;
	clock_to(f, utc(2024, 5, 1, 12, 0, 0));
	set(f, "input_datetime.t", "08:00:00",
	    "{\"has_date\": false, \"has_time\": true, \"hour\": 8, \"minute\": 0, \"second\": 0}");
	set(f, "input_datetime.d", "2024-05-02 14:30:00",
	    "{\"has_date\": true, \"has_time\": true, \"year\": 2024, \"month\": 5, \"day\": 2, "
	    "\"hour\": 14, \"minute\": 30, \"second\": 0}");
	set(f, "input_datetime.past", "2024-04-29 00:00:00",
	    "{\"has_date\": true, \"has_time\": false, \"year\": 2024, \"month\": 4, \"day\": 29, "
	    "\"hour\": 0, \"minute\": 0, \"second\": 0}");
	attach(f, "t:\n  - trigger: time\n    at: [input_datetime.t, input_datetime.d, "
		  "input_datetime.past]\n",
	       NULL);
	advance_to(f, utc(2024, 5, 2, 8, 0, 1));
	assert_int_equal(fired(f), 1);
	expect_render(f, 0, "{{ trigger.entity_id }} - {{ trigger.description }}",
		      "input_datetime.t - time set in input_datetime.t");
	advance_to(f, utc(2024, 5, 2, 14, 30, 1));
	assert_int_equal(fired(f), 2);
	expect_render(f, 1, "{{ trigger.now }}", "2024-05-02 14:30:00+00:00");
	/* moved a day on: fires again at the new time */
	set(f, "input_datetime.d", "2024-05-03 15:30:00",
	    "{\"has_date\": true, \"has_time\": true, \"year\": 2024, \"month\": 5, \"day\": 3, "
	    "\"hour\": 15, \"minute\": 30, \"second\": 0}");
	/* the one in the past, set to tomorrow: a date at midnight */
	set(f, "input_datetime.past", "2024-05-03 00:00:00",
	    "{\"has_date\": true, \"has_time\": false, \"year\": 2024, \"month\": 5, \"day\": 3, "
	    "\"hour\": 0, \"minute\": 0, \"second\": 0}");
	advance_to(f, utc(2024, 5, 3, 0, 0, 1));
	assert_int_equal(fired(f), 3);
	expect_render(f, 2, "{{ trigger.entity_id }}", "input_datetime.past");
	advance_to(f, utc(2024, 5, 3, 15, 30, 1));
	assert_int_equal(fired(f), 5); /* 08:00 daily, then 15:30 */
	expect_render(f, 4, "{{ trigger.entity_id }}", "input_datetime.d");
}

/* ::test_if_fires_using_at_sensor: a timestamp sensor, moved, broken, and
 * one without the device class; with an offset. */
static void time_follows_timestamp_sensors(void **state)
{
	struct fx *f = *state;
	clock_to(f, utc(2024, 5, 1, 12, 0, 0));
	set(f, "sensor.next_alarm", "2024-05-01T14:00:00+00:00", "{\"device_class\": \"timestamp\"}");
	attach(f,
	       "t:\n  - trigger: time\n    at:\n      - sensor.next_alarm\n"
	       "      - entity_id: sensor.next_alarm\n        offset: '-00:30:00'\n",
	       NULL);
	advance_to(f, utc(2024, 5, 1, 13, 30, 1));
	assert_int_equal(fired(f), 1);
	advance_to(f, utc(2024, 5, 1, 14, 0, 1));
	assert_int_equal(fired(f), 2);
	expect_render(f, 1, "{{ trigger.entity_id }} {{ trigger.now }}",
		      "sensor.next_alarm 2024-05-01 14:00:00+00:00");
	set(f, "sensor.next_alarm", "2024-05-02T15:00:00+02:00", "{\"device_class\": \"timestamp\"}");
	static const char *const broken[] = {"unknown", "unavailable", "invalid-ts"};
	for (int i = 0; i < 3; i++)
		set(f, "sensor.next_alarm", broken[i], "{\"device_class\": \"timestamp\"}");
	set(f, "sensor.next_alarm", "2024-05-02T15:00:00+02:00", NULL);
	advance_to(f, utc(2024, 5, 3, 0, 0, 0));
	assert_int_equal(fired(f), 2);
}

/* tests/util/test_dt.py::test_find_next_time_expression_entering_dst and
 * ::test_find_next_time_expression_exiting_dst (Europe/Vienna, 02:30): a
 * time the clock skips fires the next day; one it repeats fires twice. */
static void time_across_daylight_saving_changes(void **state)
{
	struct fx *f = *state;
	setenv("TZ", "Europe/Vienna", 1);
	tzset();
	/* 2021-03-28 00:00 CET = 2021-03-27 23:00 UTC */
	clock_to(f, utc(2021, 3, 27, 23, 0, 0));
	attach(f, "t:\n  - trigger: time\n    at: '02:30'\n", NULL);
	advance_to(f, utc(2021, 3, 28, 22, 0, 0)); /* 2021-03-29 00:00 CEST */
	assert_int_equal(fired(f), 0);
	advance_to(f, utc(2021, 3, 29, 0, 30, 1)); /* 02:30:01 CEST */
	assert_int_equal(fired(f), 1);
	expect_render(f, 0, "{{ trigger.now[:16] }} {{ trigger.now[-6:] }}", "2021-03-29 02:30 +02:00");
	detach(f);
	/* 2021-10-31: 02:30 CEST is 00:30 UTC, 02:30 CET 01:30 UTC */
	clock_to(f, utc(2021, 10, 30, 22, 0, 0));
	attach(f, "t:\n  - trigger: time\n    at: '02:30'\n", NULL);
	advance_to(f, utc(2021, 10, 31, 0, 29, 59));
	assert_int_equal(fired(f), 1);
	advance_to(f, utc(2021, 10, 31, 0, 30, 1));
	assert_int_equal(fired(f), 2);
	advance_to(f, utc(2021, 10, 31, 1, 29, 59));
	assert_int_equal(fired(f), 2);
	advance_to(f, utc(2021, 10, 31, 1, 30, 1));
	assert_int_equal(fired(f), 3);
	advance_to(f, utc(2021, 11, 1, 1, 29, 59));
	assert_int_equal(fired(f), 3);
	advance_to(f, utc(2021, 11, 1, 1, 30, 1));
	assert_int_equal(fired(f), 4);
}

/* test_time_pattern.py::test_if_fires_when_all_matches,
 * ::test_default_values, ::test_if_fires_periodic_seconds. */
static void time_pattern_matches_and_defaults(void **state)
{
	struct fx *f = *state;
	clock_to(f, utc(2024, 5, 1, 0, 0, 30));
	attach(f,
	       "t:\n  - trigger: time_pattern\n    minutes: '2'\n"
	       "  - trigger: time_pattern\n    hours: 1\n    minutes: 2\n    seconds: 3\n",
	       NULL);
	advance_to(f, utc(2024, 5, 1, 0, 2, 0));
	assert_int_equal(fired(f), 1);
	advance_to(f, utc(2024, 5, 1, 1, 2, 0));
	assert_int_equal(fired(f), 2); /* 00:02:00 and 01:02:00 */
	advance_to(f, utc(2024, 5, 1, 1, 2, 2));
	assert_int_equal(fired(f), 2); /* not 01:02:01: seconds default to 0 */
	advance_to(f, utc(2024, 5, 1, 1, 2, 3));
	assert_int_equal(fired(f), 3);
	expect_render(f, 2, "{{ trigger.platform }} {{ trigger.idx }} {{ trigger.description }}",
		      "time_pattern 1 time pattern");
	advance_to(f, utc(2024, 5, 1, 2, 2, 0));
	assert_int_equal(fired(f), 4);
	detach(f);
	json_array_clear(f->fired);
	attach(f, "t:\n  - trigger: time_pattern\n    seconds: '/10'\n", NULL);
	for (int i = 0; i < 6; i++)
		advance(f, 10);
	assert_int_equal(fired(f), 6);
}

/* ::test_invalid_schemas. */
static void time_pattern_refuses_what_home_assistant_refuses(void **state)
{
	(void)state;
	compile_fails("t:\n  - trigger: time_pattern\n",
		      "must contain at least one of hours, minutes, seconds.", 2, 5);
	compile_fails("t:\n  - trigger: time_pattern\n    minutes: '/'\n", "invalid time_pattern value",
		      3, 14);
	compile_fails("t:\n  - trigger: time_pattern\n    minutes: '*/5'\n",
		      "invalid time_pattern value", 3, 14);
	compile_fails("t:\n  - trigger: time_pattern\n    minutes: '/90'\n",
		      "must be a value between 0 and 59", 3, 14);
	compile_fails("t:\n  - trigger: time_pattern\n    seconds: 100\n",
		      "must be a value between 0 and 59", 3, 14);
}

/* ---- template ------------------------------------------------------------------ */

/* components/template/test_trigger.py::test_general (the not is_state
 * case), ::test_if_fires_on_change_with_template_advanced. */
static void template_fires_on_false_to_true(void **state)
{
	struct fx *f = *state;
	set(f, "test.entity", "hello", NULL);
	attach(f, "t:\n  - trigger: template\n    value_template: "
		  "'{{ not is_state(\"test.entity\", \"world\") }}'\n",
	       NULL);
	static const struct {
		const char *to;
		int want;
	} seq[] = {{"world", 0}, {"home", 1}, {"work", 1}, {"not_home", 1}, {"world", 1}, {"home", 2}};
	for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
		set(f, "test.entity", seq[i].to, NULL);
		assert_int_equal(fired(f), seq[i].want);
	}
	expect_render(f, 0,
		      "{{ trigger.platform }} - {{ trigger.entity_id }} - "
		      "{{ trigger.from_state.state }} - {{ trigger.to_state.state }} - "
		      "{{ trigger.for }}",
		      "template - test.entity - world - home - None");
}

/* ::test_general: Home Assistant's truthiness, and templates true from the
 * start that never fire. */
static void template_truthiness(void **state)
{
	struct fx *f = *state;
	set(f, "test.entity", "hello", NULL);
	attach(f,
	       "t:\n"
	       "  - trigger: template\n    value_template: "
	       "'{{ states.test.entity.state == \"world\" and \"TrUE\" }}'\n"
	       "  - trigger: template\n    value_template: 'true'\n"
	       "  - trigger: template\n    value_template: '{{ \"Anything other than true is false.\" }}'\n"
	       "  - trigger: template\n    value_template: '{{ is_state(\"test.entity\", \"hello\") }}'\n"
	       "  - trigger: template\n    value_template: '{{ xyz | round(0) }}'\n"
	       "  - trigger: template\n    value_template: "
	       "'{{ 1 if is_state(\"test.entity\", \"world\") else 0 }}'\n",
	       NULL);
	set(f, "test.entity", "world", NULL);
	assert_int_equal(fired(f), 2);
	expect_render(f, 0, "{{ trigger.idx }}", "0");
	expect_render(f, 1, "{{ trigger.idx }}", "5");
}

/* ::test_if_not_fires_because_fail: an error neither arms nor fires. */
static void template_errors_do_not_arm(void **state)
{
	struct fx *f = *state;
	attach(f, "t:\n  - trigger: template\n    value_template: "
		  "'{{ 84 / states.test.number.state | int == 42 }}'\n",
	       NULL);
	set(f, "test.number", "1", NULL);
	assert_int_equal(fired(f), 0);
	set(f, "test.number", "2", NULL);
	assert_int_equal(fired(f), 1);
	set(f, "test.number", "0", NULL);
	assert_int_equal(fired(f), 1);
	set(f, "test.number", "2", NULL);
	assert_int_equal(fired(f), 1);
}

/* ::test_if_fires_on_change_with_for_advanced,
 * ::test_if_fires_on_change_with_for_0_advanced,
 * ::test_if_not_fires_on_change_with_for,
 * ::test_if_not_fires_when_turned_off_with_for. */
static void template_for(void **state)
{
	struct fx *f = *state;
	set(f, "test.entity", "hello", NULL);
	attach(f,
	       "t:\n  - trigger: template\n    value_template: '{{ is_state(\"test.entity\", \"world\") }}'\n"
	       "    for:\n      seconds: 5\n"
	       "  - trigger: template\n    value_template: '{{ is_state(\"test.entity\", \"world\") }}'\n"
	       "    for:\n      seconds: 0\n",
	       NULL);
	set(f, "test.entity", "world", NULL);
	assert_int_equal(fired(f), 1);
	expect_render(f, 0, "{{ trigger.for }} {{ trigger.idx }}", "0:00:00 1");
	advance(f, 10);
	assert_int_equal(fired(f), 2);
	expect_render(f, 1, "{{ trigger.platform }} - {{ trigger.entity_id }} - {{ trigger.for }}",
		      "template - test.entity - 0:00:05");
	set(f, "test.entity", "hello", NULL);
	set(f, "test.entity", "world", NULL);
	assert_int_equal(fired(f), 3);
	advance(f, 4);
	set(f, "test.entity", "hello", NULL);
	advance(f, 6);
	assert_int_equal(fired(f), 3);
	set(f, "test.entity", "world", NULL);
	detach(f);
	advance(f, 10);
	assert_int_equal(fired(f), 4);
}

/* ::test_if_fires_on_time_change: now() renders each minute. */
static void template_follows_the_minute(void **state)
{
	struct fx *f = *state;
	clock_to(f, utc(2024, 5, 1, 12, 1, 0));
	attach(f, "t:\n  - trigger: template\n    value_template: '{{ utcnow().minute % 2 == 0 }}'\n",
	       NULL);
	advance_to(f, utc(2024, 5, 1, 12, 2, 1));
	assert_int_equal(fired(f), 1);
	expect_render(f, 0, "{{ trigger.entity_id }} - {{ trigger.description }}",
		      "None - time change or manual update via template");
	advance_to(f, utc(2024, 5, 1, 12, 4, 1));
	assert_int_equal(fired(f), 1);
	advance_to(f, utc(2024, 5, 1, 12, 5, 1));
	advance_to(f, utc(2024, 5, 1, 12, 8, 1));
	assert_int_equal(fired(f), 2);
}

/* ---- sun ------------------------------------------------------------------------ */

static void sun_place(struct fx *f)
{
	struct mqb_location loc = {.latitude = 32.87336, .longitude = -117.22743, .set = true};
	snprintf(loc.time_zone, sizeof loc.time_zone, "America/Los_Angeles");
	hass__set_location(f->core, &loc);
	setenv("TZ", "America/Los_Angeles", 1);
	tzset();
}

/* components/sun/test_trigger.py::test_sunset_trigger and
 * ::test_sunset_trigger_with_offset. */
static void sun_fires_at_sunset(void **state)
{
	struct fx *f = *state;
	sun_place(f);
	clock_to(f, utc(2015, 9, 15, 23, 0, 0));
	attach(f,
	       "t:\n  - trigger: sun\n    event: sunset\n"
	       "  - trigger: sun\n    event: SunSet\n    offset: '0:30:00'\n",
	       NULL);
	advance_to(f, utc(2015, 9, 16, 2, 0, 0));
	assert_int_equal(fired(f), 1);
	expect_render(f, 0, "{{ trigger.platform }} - {{ trigger.event }} - {{ trigger.id }}",
		      "sun - sunset - 0");
	advance_to(f, utc(2015, 9, 16, 2, 30, 0));
	assert_int_equal(fired(f), 2);
	expect_render(f, 1, "{{ trigger.platform }} - {{ trigger.event }} - {{ trigger.offset }}",
		      "sun - sunset - 0:30:00");
	expect_render(f, 1, "{{ trigger.description }}", "sunset with offset");
}

/* ::test_sunrise_trigger: the clock jumps two days: one firing, no catch
 * up; ::test_sunrise_trigger_with_offset: 30 minutes before. */
static void sun_fires_once_after_a_jump(void **state)
{
	struct fx *f = *state;
	sun_place(f);
	clock_to(f, utc(2015, 9, 13, 23, 0, 0));
	attach(f, "t:\n  - trigger: sun\n    event: sunrise\n"
		  "  - trigger: sun\n    event: sunrise\n    offset: '-0:30:00'\n", NULL);
	advance_to(f, utc(2015, 9, 16, 14, 0, 0));
	assert_int_equal(fired(f), 2);
	expect_any_render(f, "{{ trigger.idx }} {{ trigger.offset }}", "1 -1 day, 23:30:00");
	expect_any_render(f, "{{ trigger.idx }} {{ trigger.offset }}", "0 0:00:00");
}

/* ---- mqtt ----------------------------------------------------------------------- */

struct mq {
	struct tu_broker b;
	char cid[32];
	bool connected;
};

static int on_connect(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	((struct mq *)ud)->connected = true;
	return 0;
}

static void noop(struct mqb_timer *t, void *ud)
{
	(void)t;
	(void)ud;
}

/* Run the loop until *flag or a bounded time has passed. */
static bool pump_until(struct fx *f, const bool *flag, size_t want)
{
	double end = tu_now() + TU_TIMEOUT;
	while (tu_now() < end) {
		if ((flag && *flag) || (!flag && fired(f) >= want))
			return true;
		mqb_async_call_later(f->core, 0.02, noop, NULL, NULL);
		ev_run(core__loop(f->core), EVRUN_ONCE);
	}
	return false;
}

static void settle(struct fx *f, double seconds)
{
	double end = tu_now() + seconds;
	while (tu_now() < end) {
		mqb_async_call_later(f->core, 0.02, noop, NULL, NULL);
		ev_run(core__loop(f->core), EVRUN_ONCE);
	}
}

static void mqtt_start(struct fx *f, struct mq *m)
{
	tu_broker_start(&m->b, "set_tcp_nodelay true\n");
	f->broker = &m->b;
	struct mqtt_options opt;
	mqtt__options_init(&opt);
	snprintf(m->cid, sizeof m->cid, "mqbtrig-%d", (int)getpid());
	opt.host = "127.0.0.1";
	opt.port = m->b.port;
	opt.client_id = m->cid;
	assert_int_equal(mqtt__new(f->core, &opt), 0);
	assert_int_equal(mqb_mqtt_async_on_connect(f->core, &MQB_CALLBACK(on_connect, m)), 0);
	if (!pump_until(f, &m->connected, 0)) {
		tu_broker_dump_log(&m->b);
		fail_msg("no connection to the broker");
	}
}

static void publish(struct fx *f, const char *topic, const char *payload)
{
	assert_int_equal(mqb_mqtt_async_publish(f->core, topic, payload, strlen(payload), 0, false,
						NULL),
			 0);
}

/* components/mqtt/test_trigger.py::test_if_fires_on_topic_match,
 * ::test_if_fires_on_topic_and_payload_match(2),
 * ::test_if_fires_on_templated_topic_and_payload_match,
 * ::test_if_fires_on_payload_template,
 * ::test_if_not_fires_on_topic_but_no_payload_match; and a wildcard. */
static void mqtt_fires_on_its_topics_and_payloads(void **state)
{
	struct fx *f = *state;
	static struct mq m; /* teardown stops its broker */
	memset(&m, 0, sizeof m);
	mqtt_start(f, &m);
	attach(f,
	       "t:\n"
	       "  - trigger: mqtt\n    topic: test-topic\n"
	       "  - trigger: mqtt\n    topic: zero\n    payload: '0'\n"
	       "  - trigger: mqtt\n    topic: 'test-topic-{{ (16 ** 0.5) | round | int }}'\n"
	       "    payload: '{{ \"foo\" | regex_replace(\"foo\", \"bar\") }}'\n"
	       "  - trigger: mqtt\n    topic: json\n    payload: hello\n"
	       "    value_template: '{{ value_json.wanted_key }}'\n"
	       "  - trigger: mqtt\n    topic: 'home/+/temp'\n    qos: 1\n",
	       NULL);
	settle(f, 0.3); /* the subscriptions reach the broker */
	publish(f, "test-topic", "{ \"hello\": \"world\" }");
	if (!pump_until(f, NULL, 1)) {
		tu_broker_dump_log(&m.b);
		fail_msg("no firing");
	}
	expect_render(f, 0,
		      "{{ trigger.platform }} - {{ trigger.topic }} - {{ trigger.payload }} - "
		      "{{ trigger.payload_json.hello }} - {{ trigger.id }}",
		      "mqtt - test-topic - { \"hello\": \"world\" } - world - 0");
	publish(f, "zero", "00");
	publish(f, "zero", "0");
	publish(f, "test-topic-", "foo");
	publish(f, "test-topic-4", "foo");
	publish(f, "test-topic-4", "bar");
	publish(f, "json", "hello");
	publish(f, "json", "{\"unwanted_key\": \"hello\"}");
	publish(f, "json", "{\"wanted_key\": \"hello\"}");
	publish(f, "home/kitchen/temp", "21");
	if (!pump_until(f, NULL, 5))
		fail_msg("%zu firings", fired(f));
	settle(f, 0.2);
	assert_int_equal(fired(f), 5);
	expect_render(f, 1, "{{ trigger.idx }} {{ trigger.payload }} {{ trigger.payload_json }}",
		      "1 0 0");
	expect_render(f, 2, "{{ trigger.idx }} {{ trigger.topic }}", "2 test-topic-4");
	expect_render(f, 3, "{{ trigger.idx }} {{ trigger.payload_json.wanted_key }}", "3 hello");
	expect_render(f, 4, "{{ trigger.topic }} {{ trigger.description }}",
		      "home/kitchen/temp mqtt topic home/kitchen/temp");
	detach(f);
	publish(f, "test-topic", "again");
	settle(f, 0.3);
	assert_int_equal(fired(f), 5);
}

static const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
	T(state_trigger_vectors),
	T(state_fires_with_the_trigger_variable),
	T(state_sees_creation_and_removal),
	T(state_for_runs_a_timer_per_entity),
	T(state_for_templates_render_per_entity),
	T(state_for_that_renders_no_duration_logs),
	T(state_trigger_variable_wins_over_a_variable),
	T(state_for_ends_with_the_attachment_and_the_entity),
	T(detach_inside_the_callback_is_safe),
	T(ten_thousand_state_triggers_one_change_fires_one),
	T(ids_positions_and_variables),
	T(configuration_errors_have_positions),
	T(numeric_state_trigger_vectors),
	T(numeric_state_thresholds_from_entities),
	T(numeric_state_warns_of_an_unknown_threshold),
	T(a_trigger_of_an_absent_integration_never_fires_and_says_so),
	T(a_device_trigger_of_a_toggle_entity_is_its_state_trigger),
	T(numeric_state_value_template_sees_trigger_variables),
	T(event_fires_for_its_types),
	T(event_data_is_a_subset),
	T(event_context_never_matches),
	T(homeassistant_start_and_shutdown),
	T(time_fires_at_its_times),
	T(time_follows_input_datetimes),
	T(time_follows_timestamp_sensors),
	T(time_across_daylight_saving_changes),
	T(time_pattern_matches_and_defaults),
	T(time_pattern_refuses_what_home_assistant_refuses),
	T(template_fires_on_false_to_true),
	T(template_truthiness),
	T(template_errors_do_not_arm),
	T(template_for),
	T(template_follows_the_minute),
	T(sun_fires_at_sunset),
	T(sun_fires_once_after_a_jump),
	T(mqtt_fires_on_its_topics_and_payloads),
};

TU_MAIN(tests)
