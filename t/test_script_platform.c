/* SPDX-License-Identifier: MIT */
/* The script integration (platforms/script.c) end to end: the real daemon
 * against a real mosquitto. Scripts are started by MQTT (their button's
 * PRESS, automations with mqtt triggers), hold their runs on MQTT sensors
 * (wait_template), and report through mqtt.publish; each case cites the
 * test of Home Assistant's tests/components/script/test_init.py it
 * follows. Configuration errors go through `mqbridge -C`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "daemon.h"
#include "testutil.h"

#define HEAD \
	"mqbridge: {node_id: ts, name: Script test}\n" \
	"mqtt:\n" \
	"  broker: 127.0.0.1\n" \
	"  port: %PORT%\n" \
	"  reconnect_min: 0.1\n" \
	"  reconnect_max: 0.5\n" \
	"  sensor:\n" \
	"    - {name: Gate, state_topic: dev/gate}\n"

#define BASE "mqbridge/ts/"

static struct td T;
static bool T_live;

static int teardown(void **state)
{
	(void)state;
	if (T_live)
		td_fini(&T);
	T_live = false;
	return 0;
}

static void start(const char *yaml)
{
	T_live = true;
	td_begin(&T, yaml, BASE "status");
}

static void stop(void)
{
	td_stop_clean(&T);
	td_fini(&T);
	T_live = false;
}

/* The gate sensor takes state, and the bridge has said so. */
static long gate(const char *state)
{
	long n = td_count(&T);
	td_pub(&T, "dev/gate", state, false);
	return td_expect_after(&T, n, BASE "sensor/gate/state", state);
}

static json_t *attrs(const char *id)
{
	char topic[128];
	snprintf(topic, sizeof topic, BASE "script/%s/attributes", id);
	const char *s = td_last(&T, topic);
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;
	if (!j) {
		td_dump(&T);
		fail_msg("no attributes on %s", topic);
	}
	return j;
}

/* Wait until the script's `current` attribute is n. */
static void expect_current(const char *id, long long n)
{
	char topic[128], want[32];
	snprintf(topic, sizeof topic, BASE "script/%s/attributes", id);
	snprintf(want, sizeof want, "\"current\":%lld", n);
	double end = tu_now() + TU_TIMEOUT;
	for (;;) {
		const char *s = td_last(&T, topic);
		if (s && strstr(s, want))
			return;
		if (tu_now() > end) {
			td_dump(&T);
			fail_msg("%s never had %s (last: %s)", topic, want, s ? s : "none");
		}
		td_wait_after(&T, td_count(&T), topic, NULL, 0.2);
	}
}

/* ---- the entity and its button ---------------------------------------------- */

/* ::test_config_basic, ::test_turn_on_off_toggle: script.<id> is off,
 * named by its alias; a PRESS on its button (script.turn_on) starts it,
 * `current` counts the run and last_triggered is set; it ends on its own */
static void a_pressed_script_runs_and_shows_its_run(void **state)
{
	(void)state;
	start(HEAD "script:\n"
		   "  open_wait:\n"
		   "    alias: Open and wait\n"
		   "    icon: mdi:gate\n"
		   "    sequence:\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/started, payload: \"{{ this.entity_id }}\"}\n"
		   "      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/done, payload: done}\n");
	json_t *d = NULL;
	td_expect(&T, "homeassistant/button/ts/script_open_wait/config", NULL);
	const char *cfg = td_last(&T, "homeassistant/button/ts/script_open_wait/config");
	assert_non_null(d = json_loads(cfg, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(d, "unique_id")), "ts_script_open_wait");
	assert_string_equal(json_string_value(json_object_get(d, "payload_press")), "PRESS");
	assert_string_equal(json_string_value(json_object_get(d, "command_topic")),
			    BASE "script/open_wait/set");
	assert_string_equal(json_string_value(json_object_get(d, "name")), "Open and wait");
	assert_string_equal(json_string_value(json_object_get(d, "icon")), "mdi:gate");
	assert_null(json_object_get(d, "state_topic"));
	json_decref(d);
	expect_current("open_wait", 0);
	json_t *a = attrs("open_wait");
	assert_true(json_is_null(json_object_get(a, "last_triggered")));
	assert_string_equal(json_string_value(json_object_get(a, "mode")), "single");
	json_decref(a);

	long n = td_count(&T);
	td_pub(&T, BASE "script/open_wait/set", "PRESS", false);
	td_expect_after(&T, n, "out/started", "script.open_wait");
	expect_current("open_wait", 1);
	a = attrs("open_wait");
	assert_true(json_is_string(json_object_get(a, "last_triggered")));
	json_decref(a);
	gate("open");
	td_expect_after(&T, n, "out/done", "done");
	expect_current("open_wait", 0);
	stop();
}

/* ---- script.<id>, turn_on, turn_off ------------------------------------------ */

#define CALLER \
	"automation:\n" \
	"  - triggers: {trigger: mqtt, topic: cmd/call}\n" \
	"    actions:\n" \
	"      - action: script.answer\n" \
	"        data: {greeting: \"{{ trigger.payload }}\"}\n" \
	"        response_variable: got\n" \
	"      - action: mqtt.publish\n" \
	"        data: {topic: out/answer, payload: \"{{ got.text }}|{{ got | length }}\"}\n"

/* ::test_responses, ::test_passing_variables: script.<id> runs with the
 * call's data as variables and waits for the end; its stop response is
 * the caller's response_variable ({} when it ends without one) */
static void calling_a_script_waits_and_answers_with_its_response(void **state)
{
	(void)state;
	start(HEAD CALLER "script:\n"
		   "  answer:\n"
		   "    fields: {greeting: {description: who to greet, example: world}}\n"
		   "    sequence:\n"
		   "      - if: \"{{ greeting == 'nobody' }}\"\n"
		   "        then: [{stop: nothing to say}]\n"
		   "      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n"
		   "      - variables: {r: {text: \"hello {{ greeting }}\"}}\n"
		   "      - stop: done\n"
		   "        response_variable: r\n");
	long n = td_count(&T);
	td_pub(&T, "cmd/call", "world", false);
	expect_current("answer", 1);
	/* the caller waits with the script */
	assert_int_equal(td_count_topic(&T, n, "out/answer", ""), 0);
	gate("open");
	td_expect_after(&T, n, "out/answer", "hello world|1");
	n = td_count(&T);
	td_pub(&T, "cmd/call", "nobody", false);
	td_expect_after(&T, n, "out/answer", "|0");
	stop();
}

/* ::test_concurrent_script: script.turn_on starts the script and the
 * caller goes on; script.turn_off stops it, and nothing after its wait
 * runs */
static void turn_on_does_not_wait_and_turn_off_stops(void **state)
{
	(void)state;
	start(HEAD "automation:\n"
		   "  - triggers: {trigger: mqtt, topic: cmd/on}\n"
		   "    actions:\n"
		   "      - action: script.turn_on\n"
		   "        target: {entity_id: script.slow}\n"
		   "        data: {variables: {who: \"{{ trigger.payload }}\"}}\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/after, payload: went on}\n"
		   "  - triggers: {trigger: mqtt, topic: cmd/off}\n"
		   "    actions:\n"
		   "      - action: script.turn_off\n"
		   "        entity_id: script.slow\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/off, payload: \"{{ states('script.slow') }}\"}\n"
		   "  - triggers: {trigger: mqtt, topic: cmd/mark}\n"
		   "    actions: {action: mqtt.publish, data: {topic: out/mark, payload: mark}}\n"
		   "script:\n"
		   "  slow:\n"
		   "    sequence:\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/slow, payload: \"{{ who }}\"}\n"
		   "      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/slow_done, payload: done}\n");
	long n = td_count(&T);
	td_pub(&T, "cmd/on", "me", false);
	td_expect_after(&T, n, "out/slow", "me");
	td_expect_after(&T, n, "out/after", "went on");
	expect_current("slow", 1);
	td_pub(&T, "cmd/off", "", false);
	td_expect_after(&T, n, "out/off", "off");
	expect_current("slow", 0);
	gate("open");
	long m = td_count(&T);
	td_pub(&T, "cmd/mark", "", false);
	td_expect_after(&T, m, "out/mark", "mark");
	assert_int_equal(td_count_topic(&T, n, "out/slow_done", ""), 0);
	stop();
}

/* ::test_recursive_script, helpers ::test_disallowed_recursion: a queued
 * script that calls itself and would wait for itself is refused with Home
 * Assistant's warning; the run goes on */
static void a_script_calling_itself_is_refused_not_deadlocked(void **state)
{
	(void)state;
	start(HEAD "script:\n"
		   "  again:\n"
		   "    mode: queued\n"
		   "    sequence:\n"
		   "      - action: script.again\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/again, payload: ended}\n");
	long n = td_count(&T);
	td_pub(&T, BASE "script/again/set", "PRESS", false);
	td_expect_after(&T, n, "out/again", "ended");
	td_expect_log(&T, "script.again: Disallowed recursion detected, script.again tried to start "
			  "script.again");
	expect_current("again", 0);
	stop();
}

/* ::test_reload_unchanged_does_not_stop, ::test_reload_service: a reload
 * keeps a script that did not change, its run and all; one that changed
 * is stopped and made again; one that went is gone, retained topics too */
static void reload_keeps_what_did_not_change(void **state)
{
	(void)state;
	const char *cfg = HEAD "automation:\n"
			       "  - triggers: {trigger: mqtt, topic: cmd/reload}\n"
			       "    actions: {action: script.reload}\n"
			       "script:\n"
			       "  same:\n"
			       "    sequence:\n"
			       "      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n"
			       "      - action: mqtt.publish\n"
			       "        data: {topic: out/same, payload: done}\n"
			       "  changed:\n"
			       "    sequence:\n"
			       "      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n"
			       "      - action: mqtt.publish\n"
			       "        data: {topic: out/changed, payload: old}\n"
			       "  gone:\n"
			       "    sequence: {action: mqtt.publish, data: {topic: out/gone, payload: x}}\n";
	start(cfg);
	long n = td_count(&T);
	td_pub(&T, BASE "script/same/set", "PRESS", false);
	td_pub(&T, BASE "script/changed/set", "PRESS", false);
	expect_current("same", 1);
	expect_current("changed", 1);
	td_write_config(&T, HEAD "automation:\n"
				 "  - triggers: {trigger: mqtt, topic: cmd/reload}\n"
				 "    actions: {action: script.reload}\n"
				 "script:\n"
				 "  same:\n"
				 "    sequence:\n"
				 "      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n"
				 "      - action: mqtt.publish\n"
				 "        data: {topic: out/same, payload: done}\n"
				 "  changed:\n"
				 "    sequence:\n"
				 "      - action: mqtt.publish\n"
				 "        data: {topic: out/changed, payload: new}\n");
	td_pub(&T, "cmd/reload", "", false);
	/* the removed script's retained discovery is cleared */
	td_expect_after(&T, n, "homeassistant/button/ts/script_gone/config", "");
	td_expect_log(&T, "script reloaded");
	expect_current("changed", 0);
	gate("open");
	td_expect_after(&T, n, "out/same", "done");
	long m = td_count(&T);
	td_pub(&T, BASE "script/changed/set", "PRESS", false);
	td_expect_after(&T, m, "out/changed", "new");
	assert_int_equal(td_count_topic(&T, n, "out/changed", ""), 1);
	stop();
}

/* ::test_script_restore_last_triggered: last_triggered survives a
 * restart; a script is off at start whatever it was */
static void last_triggered_survives_a_restart(void **state)
{
	(void)state;
	start("mqbridge: {node_id: ts, state_dir: %DIR%/state}\n"
	      "mqtt: {broker: 127.0.0.1, port: %PORT%, reconnect_min: 0.1, reconnect_max: 0.5}\n"
	      "script:\n"
	      "  once:\n"
	      "    sequence: {action: mqtt.publish, data: {topic: out/once, payload: ran}}\n");
	long n = td_count(&T);
	td_pub(&T, BASE "script/once/set", "PRESS", false);
	td_expect_after(&T, n, "out/once", "ran");
	expect_current("once", 0);
	json_t *a = attrs("once");
	assert_true(json_is_string(json_object_get(a, "last_triggered")));
	char *lt = strdup(json_string_value(json_object_get(a, "last_triggered")));
	json_decref(a);
	td_stop_clean(&T);
	n = td_count(&T);
	td_start(&T, NULL);
	td_expect_after(&T, n, BASE "script/once/attributes", NULL);
	a = attrs("once");
	assert_string_equal(json_string_value(json_object_get(a, "last_triggered")), lt);
	json_decref(a);
	free(lt);
	stop();
}

/* A service that no integration registers: a warning at start naming the
 * script and the action, and the action's error when a run reaches it */
static void an_unknown_service_is_a_warning_at_start_and_an_error_at_run_time(void **state)
{
	(void)state;
	start(HEAD "script:\n"
		   "  typo:\n"
		   "    sequence:\n"
		   "      - action: light.turn_onn\n"
		   "        target: {entity_id: light.kitchen}\n");
	td_expect_log(&T, "script.typo: sequence[0]: action light.turn_onn is not registered by "
			  "any integration");
	td_pub(&T, BASE "script/typo/set", "PRESS", false);
	td_expect_log(&T, "script.typo: sequence[0]: Error executing script. Service not found for "
			  "call_service: Action light.turn_onn not found");
	stop();
}

/* ---- configuration errors ------------------------------------------------------ */

/* ::test_bad_config_validation_critical, ::test_bad_config_validation:
 * each problem at its file:line:column */
static void configuration_errors_point_at_their_place(void **state)
{
	(void)state;
	char err[4096];
	td_check_fails(HEAD "script:\n"
			 "  Bad Script:\n"
			 "    sequence: []\n"
			 "  turn_on:\n"
			 "    sequence: []\n"
			 "  nothing:\n"
			 "    alias: Nothing\n"
			 "  moody:\n"
			 "    mode: sometimes\n"
			 "    max: 1\n"
			 "    sequence: [{delay: soon}]\n"
			 "  blue:\n"
			 "    use_blueprint: {path: x.yaml}\n",
		    err, sizeof err);
	td_expect_in(err, "mqbridge.yaml:10:3: script.Bad Script: invalid object id: invalid slug "
		       "Bad Script (try bad_script)");
	td_expect_in(err, "mqbridge.yaml:12:3: script.turn_on: A script's object_id must not be one of "
		       "reload, toggle, turn_off, turn_on. Got 'turn_on'");
	td_expect_in(err, "mqbridge.yaml:15:5: script.nothing: required option 'sequence' is missing");
	td_expect_in(err, "mqbridge.yaml:17:11: script.moody.mode: value must be one of");
	td_expect_in(err, "mqbridge.yaml:18:10: script.moody.max: value must be a whole number of at "
		       "least 2");
	td_expect_in(err, "mqbridge.yaml:19:24: script.moody.sequence[0].delay");
	td_expect_in(err, "mqbridge.yaml:21:27: script.blue.use_blueprint: Unable to find "
		       "blueprint at path x.yaml");
}

static const struct CMUnitTest tests[] = {
#define T_(name) cmocka_unit_test_teardown(name, teardown)
	T_(a_pressed_script_runs_and_shows_its_run),
	T_(calling_a_script_waits_and_answers_with_its_response),
	T_(turn_on_does_not_wait_and_turn_off_stops),
	T_(a_script_calling_itself_is_refused_not_deadlocked),
	T_(reload_keeps_what_did_not_change),
	T_(last_triggered_survives_a_restart),
	T_(an_unknown_service_is_a_warning_at_start_and_an_error_at_run_time),
	T_(configuration_errors_point_at_their_place),
#undef T_
};

TU_MAIN(tests)
