/* SPDX-License-Identifier: MIT */
/* Reloading without a restart (src/daemon/reload.c) end to end: the real
 * daemon against a real mosquitto, its file rewritten and read again on
 * SIGHUP or a reload service called from MQTT. What changed is replaced,
 * what went is cleared from the broker (no ghost in Home Assistant), what
 * is new appears, and what did not change is not touched: no message of
 * it goes out again and its subscriptions and runs go on. A file with
 * problems changes nothing and names each. Waits are bounded. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "testutil.h"

#define HEAD \
	"mqbridge: {node_id: tr, name: Reload test}\n" \
	"mqtt:\n" \
	"  broker: 127.0.0.1\n" \
	"  port: %PORT%\n" \
	"  reconnect_min: 0.1\n" \
	"  reconnect_max: 0.5\n"

#define BASE "mqbridge/tr/"
#define DISC "homeassistant/sensor/tr/"

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

/* Started, and everything announced (the announcement is paced): what a
 * reload publishes is counted from a quiet broker. */
static void start(const char *yaml)
{
	T_live = true;
	td_begin(&T, yaml, BASE "status");
	td_expect_log(&T, "[bridge] announced ");
}

static void stop(void)
{
	td_stop_clean(&T);
	td_fini(&T);
	T_live = false;
}

/* A device publishes and the bridge has republished the sensor's state. */
static long device(const char *topic, const char *payload, const char *sensor)
{
	char st[128];
	snprintf(st, sizeof st, BASE "sensor/%s/state", sensor);
	long n = td_count(&T);
	td_pub(&T, topic, payload, false);
	return td_expect_after(&T, n, st, payload);
}

/* The same, retained: an entity a reload just added may not have
 * subscribed yet when the test publishes, and Home Assistant's devices
 * publish their state retained for that reason. */
static long device_retained(const char *topic, const char *payload, const char *sensor)
{
	char st[128];
	snprintf(st, sizeof st, BASE "sensor/%s/state", sensor);
	long n = td_count(&T);
	td_pub(&T, topic, payload, true);
	return td_expect_after(&T, n, st, payload);
}

/* Wait until the last message on topic holds needle. */
static void expect_holds(const char *topic, const char *needle)
{
	double end = tu_now() + TU_TIMEOUT;
	for (;;) {
		const char *s = td_last(&T, topic);
		if (s && strstr(s, needle))
			return;
		if (tu_now() > end) {
			td_dump(&T);
			fail_msg("%s never held %s (last: %s)", topic, needle, s ? s : "none");
		}
		td_wait_after(&T, td_count(&T), topic, NULL, 0.2);
	}
}

/* SIGHUP, as systemctl reload sends it, and wait for the reload's end. */
static void sighup(const char *done)
{
	int before = td_log_count(&T, done);
	assert_int_equal(kill(T.pid, SIGHUP), 0);
	double end = tu_now() + TU_TIMEOUT;
	while (td_log_count(&T, done) <= before) {
		if (tu_now() > end) {
			td_dump(&T);
			fail_msg("no '%s' in the log after SIGHUP", done);
		}
		td_log_wait(&T, done, 0.2);
	}
}

#define SENSORS_A \
	"  sensor:\n" \
	"    - {name: Keep, state_topic: dev/keep, unit_of_measurement: W}\n" \
	"    - {name: Gone, state_topic: dev/gone}\n" \
	"    - {name: Change, state_topic: dev/change, unit_of_measurement: C}\n"

/* Home Assistant's reload (helpers/reload.py) resets a platform and sets
 * it up again; mqbridge goes further and leaves an item whose
 * configuration did not change alone. An item gone has its entity
 * removed and its discovery, state and availability emptied; a changed
 * one is replaced under the same id; a new one is announced. */
static void sighup_replaces_what_changed_clears_what_went_and_leaves_the_rest(void **state)
{
	(void)state;
	start(HEAD SENSORS_A);
	device("dev/keep", "1", "keep");
	device("dev/gone", "2", "gone");
	device("dev/change", "3", "change");
	td_expect(&T, DISC "gone/config", NULL);

	td_write_config(&T, HEAD
			"  sensor:\n"
			"    - {name: Change, state_topic: dev/change, unit_of_measurement: K}\n"
			"    - {name: Added, state_topic: dev/added}\n"
			"    - {name: Keep, state_topic: dev/keep, unit_of_measurement: W}\n");
	long since = td_count(&T);
	sighup("SIGHUP: 1 item(s) kept, 2 removed, 2 added");
	td_expect_after(&T, since, BASE "sensor/gone/state", "");
	td_expect_after(&T, since, BASE "sensor/gone/availability", "");
	td_expect_after(&T, since, DISC "gone/config", "");
	td_expect_after(&T, since, DISC "added/config", NULL);
	expect_holds(DISC "change/config", "\"unit_of_measurement\":\"K\"");
	/* the one that stayed: nothing of it went out again */
	assert_int_equal(td_count_topic(&T, since, BASE "sensor/keep/", ""), 0);
	assert_int_equal(td_count_topic(&T, since, DISC "keep/", ""), 0);
	/* and it still hears its device, as the new ones do theirs */
	device("dev/keep", "5", "keep");
	device_retained("dev/added", "7", "added");
	device_retained("dev/change", "8", "change");
	/* the one gone hears nothing */
	since = td_count(&T);
	td_device(&T, "dev/gone", "9");
	device("dev/keep", "6", "keep");
	assert_int_equal(td_count_topic(&T, since, BASE "sensor/gone/", ""), 0);
	stop();
}

/* Home Assistant checks the configuration before it reloads and keeps
 * what runs when it is invalid: every problem is logged where it is, and
 * nothing is touched. */
static void an_invalid_file_changes_nothing_and_names_each_problem(void **state)
{
	(void)state;
	start(HEAD SENSORS_A);
	device("dev/keep", "1", "keep");
	td_write_config(&T, HEAD
			"  sensor:\n"
			"    - {name: Keep, state_topc: dev/keep}\n"
			"    - {name: Gone, state_topic: dev/gone, qos: 7}\n");
	long since = td_count(&T);
	sighup("SIGHUP: the configuration has problems; the running one stays");
	td_expect_log(&T, "mqbridge.yaml:8:20: mqtt.sensor[0].state_topc: unknown option "
			  "'state_topc' (did you mean 'state_topic'?)");
	td_expect_log(&T, "mqbridge.yaml:9:48: mqtt.sensor[1].qos: must be between 0 and 2, "
			  "got 7");
	/* nothing of the entities (the bridge's own diagnostic sensor goes on
	 * saying its figures at its pace) */
	assert_int_equal(td_count_topic(&T, since, BASE, "") -
				 td_count_topic(&T, since, BASE "sensor/tr_bridge/", ""),
			 0);
	assert_int_equal(td_count_topic(&T, since, "homeassistant/", ""), 0);
	device("dev/gone", "2", "gone");
	stop();
}

/* A script's run goes on while something else is reloaded (Home
 * Assistant's test_reload_unchanged_does_not_stop in
 * tests/components/script/test_init.py); an automation that did not
 * change keeps its state too. */
static void a_running_script_goes_on_across_a_reload_of_something_else(void **state)
{
	(void)state;
#define SLOW \
	"script:\n" \
	"  slow:\n" \
	"    sequence:\n" \
	"      - delay: 0.5\n" \
	"      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n" \
	"      - action: mqtt.publish\n" \
	"        data: {topic: out/done, payload: finished}\n"
#define GATE "  sensor:\n    - {name: Gate, state_topic: dev/gate}\n"
	start(HEAD GATE SLOW);
	device("dev/gate", "closed", "gate");
	long n = td_count(&T);
	td_pub(&T, BASE "script/slow/set", "PRESS", false);
	td_wait_after(&T, n, BASE "script/slow/attributes", NULL, TU_TIMEOUT);
	expect_holds(BASE "script/slow/attributes", "\"current\":1");

	td_write_config(&T, HEAD GATE "    - {name: Other, state_topic: dev/other}\n" SLOW);
	long since = td_count(&T);
	sighup("SIGHUP: 1 item(s) kept, 0 removed, 1 added");
	td_expect_log(&T, "script reloaded: 1 entry");
	td_expect_after(&T, since, DISC "other/config", NULL);
	assert_int_equal(td_count_topic(&T, since, BASE "script/slow/", ""), 0);
	device("dev/gate", "open", "gate");
	td_expect_after(&T, since, "out/done", "finished");
	expect_holds(BASE "script/slow/attributes", "\"current\":0");
	stop();
}

/* Home Assistant's homeassistant.reload_all, called from MQTT through an
 * automation: entities and components added and removed as the file
 * says; what only a restart changes is named and keeps running. */
static void reload_all_from_mqtt_adds_and_removes_components(void **state)
{
	(void)state;
	start(HEAD
	      "automation:\n"
	      "  - alias: Reload\n"
	      "    triggers: {trigger: mqtt, topic: cmd/reload}\n"
	      "    actions:\n"
	      "      - action: homeassistant.reload_all\n"
	      "      - action: mqtt.publish\n"
	      "        data: {topic: out/reloaded, payload: done}\n"
	      "input_boolean:\n"
	      "  porch: {name: Porch}\n"
	      "  hall: {name: Hall}\n");
	td_expect(&T, "homeassistant/switch/tr/input_boolean_hall/config", NULL);
	long n = td_count(&T);
	td_pub(&T, BASE "input_boolean/porch/set", "ON", false);
	td_expect_after(&T, n, BASE "input_boolean/porch/state", "on");

	td_write_config(&T, "mqbridge: {node_id: tr, name: Reload test}\n"
			    "mqtt:\n"
			    "  broker: 127.0.0.1\n"
			    "  port: %PORT%\n"
			    "  reconnect_min: 0.1\n"
			    "  reconnect_max: 0.5\n"
			    "  keepalive: 30\n"
			    "  sensor: [{name: New, state_topic: dev/new}]\n"
			    "automation:\n"
			    "  - alias: Reload\n"
			    "    triggers: {trigger: mqtt, topic: cmd/reload}\n"
			    "    actions:\n"
			    "      - action: homeassistant.reload_all\n"
			    "      - action: mqtt.publish\n"
			    "        data: {topic: out/reloaded, payload: done}\n"
			    "input_boolean:\n"
			    "  porch: {name: Porch}\n"
			    "counter:\n"
			    "  visits: {initial: 3}\n");
	long since = td_count(&T);
	td_pub(&T, "cmd/reload", "", false);
	td_expect_after(&T, since, "out/reloaded", "done");
	td_expect_log(&T, "homeassistant.reload_all: mqtt.keepalive changed: it takes a restart; "
			  "the running value stays");
	/* a helper gone: cleared; one that stayed keeps its state */
	td_expect_after(&T, since, "homeassistant/switch/tr/input_boolean_hall/config", "");
	assert_int_equal(td_count_topic(&T, since, BASE "input_boolean/porch/", ""), 0);
	/* a component newly named is set up, an item new too */
	td_expect_after(&T, since, BASE "counter/visits/state", "3");
	td_expect_after(&T, since, DISC "new/config", NULL);
	device_retained("dev/new", "4", "new");
	stop();
}

/* <integration>.reload reloads that integration's items only, as Home
 * Assistant's mqtt.reload and template.reload do. */
#define RELOADERS \
	"automation:\n" \
	"  - alias: Reload mqtt\n" \
	"    triggers: {trigger: mqtt, topic: cmd/reload_mqtt}\n" \
	"    actions:\n" \
	"      - action: mqtt.reload\n" \
	"      - action: mqtt.publish\n" \
	"        data: {topic: out/reloaded, payload: mqtt}\n" \
	"  - alias: Reload template\n" \
	"    triggers: {trigger: mqtt, topic: cmd/reload_template}\n" \
	"    actions:\n" \
	"      - action: template.reload\n" \
	"      - action: mqtt.publish\n" \
	"        data: {topic: out/reloaded, payload: template}\n"

static void an_integrations_reload_leaves_the_others_alone(void **state)
{
	(void)state;
	start(HEAD "  sensor: [{name: Mq, state_topic: dev/mq}]\n"
		   "template:\n"
		   "  - sensor: [{name: Tp, state: \"{{ 1 + 1 }}\"}]\n" RELOADERS);
	td_expect(&T, BASE "sensor/tp/state", "2");
	td_write_config(&T, HEAD "  sensor: [{name: Mq2, state_topic: dev/mq}]\n"
				 "template:\n"
				 "  - sensor: [{name: Tp, state: \"{{ 2 + 2 }}\"}]\n" RELOADERS);
	long since = td_count(&T);
	td_pub(&T, "cmd/reload_mqtt", "", false);
	td_expect_after(&T, since, "out/reloaded", "mqtt");
	td_expect_after(&T, since, DISC "mq/config", "");
	td_expect_after(&T, since, DISC "mq2/config", NULL);
	device_retained("dev/mq", "5", "mq2");
	assert_int_equal(td_count_topic(&T, since, BASE "sensor/tp/", ""), 0);
	since = td_count(&T);
	td_pub(&T, "cmd/reload_template", "", false);
	td_expect_after(&T, since, "out/reloaded", "template");
	td_expect_after(&T, since, BASE "sensor/tp/state", "4");
	assert_int_equal(td_count_topic(&T, since, BASE "sensor/mq2/", ""), 0);
	stop();
}

/* A run of a script whose configuration changed, or that went, is
 * stopped with it: Home Assistant's test_reload_service ("different":
 * the old script's entity and service are gone) in
 * tests/components/script/test_init.py. The run waits on a gate; once
 * the gate opens, the run that would have finished is the old one. */
#define SLOW_V(v) \
	"script:\n" \
	"  slow:\n" \
	"    sequence:\n" \
	"      - delay: 0.2\n" \
	"      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n" \
	"      - action: mqtt.publish\n" \
	"        data: {topic: out/done, payload: " v "}\n" \
	"  probe:\n" \
	"    sequence:\n" \
	"      - action: mqtt.publish\n" \
	"        data: {topic: out/probe, payload: \"{{ states('sensor.gate') }}\"}\n"

/* Start script.slow and wait until it runs. */
static void start_slow(void)
{
	long n = td_count(&T);
	td_pub(&T, BASE "script/slow/set", "PRESS", false);
	td_wait_after(&T, n, BASE "script/slow/attributes", NULL, TU_TIMEOUT);
	expect_holds(BASE "script/slow/attributes", "\"current\":1");
}

/* Open the gate, and make sure the daemon has seen it open before the
 * test looks for out/done: script.probe, started after the gate's state
 * came back, publishes what it sees. */
static void open_gate_and_probe(void)
{
	long since = td_count(&T);
	device("dev/gate", "open", "gate");
	td_pub(&T, BASE "script/probe/set", "PRESS", false);
	td_expect_after(&T, since, "out/probe", "open");
}

static void a_running_script_is_stopped_when_it_changes_or_goes(void **state)
{
	(void)state;
	start(HEAD GATE SLOW_V("v1"));
	device("dev/gate", "closed", "gate");
	start_slow();

	/* changed: the run is cancelled, the new script is idle */
	td_write_config(&T, HEAD GATE SLOW_V("v2"));
	long since = td_count(&T);
	sighup("SIGHUP: 1 item(s) kept, 0 removed, 0 added");
	td_expect_log(&T, "slow: run cancelled");
	expect_holds(BASE "script/slow/attributes", "\"current\":0");
	open_gate_and_probe();
	assert_int_equal(td_count_topic(&T, since, "out/done", ""), 0);

	/* gone: its run is cancelled, its entity cleared from the broker and
	 * its service gone */
	device("dev/gate", "closed", "gate");
	start_slow();
	td_write_config(&T, HEAD GATE
			"script:\n"
			"  probe:\n"
			"    sequence:\n"
			"      - action: mqtt.publish\n"
			"        data: {topic: out/probe, payload: \"{{ states('sensor.gate') }}\"}\n");
	int cancelled = td_log_count(&T, "slow: run cancelled");
	since = td_count(&T);
	sighup("SIGHUP: 1 item(s) kept, 0 removed, 0 added");
	td_expect_after(&T, since, "homeassistant/button/tr/script_slow/config", "");
	assert_true(td_log_count(&T, "slow: run cancelled") > cancelled);
	open_gate_and_probe();
	assert_int_equal(td_count_topic(&T, since, "out/done", ""), 0);
	stop();
}

/* A device that keeps publishing while the file is read again and again:
 * every message reaches the entity that stayed, even while an item on
 * the same topic comes and goes (its subscription must not take the
 * other's with it). */
#define TRAFFIC_N 300
#define KEEPER "  sensor:\n    - {name: Keeper, state_topic: dev/traffic}\n"
#define TWIN "    - {name: Twin, state_topic: dev/traffic}\n"

static void a_reload_under_traffic_loses_no_message(void **state)
{
	(void)state;
	start(HEAD KEEPER);
	/* announced, and hearing its device: from here no state is held
	 * back until the discovery goes out */
	td_expect(&T, DISC "keeper/config", NULL);
	device("dev/traffic", "0", "keeper");
	long since = td_count(&T);
	for (int i = 1; i <= TRAFFIC_N; i++) {
		char payload[16];
		snprintf(payload, sizeof payload, "%d", i);
		td_pub(&T, "dev/traffic", payload, false);
		if (i % 50 == 25) {
			td_write_config(&T, (i / 50) % 2 ? HEAD KEEPER : HEAD KEEPER TWIN);
			assert_int_equal(kill(T.pid, SIGHUP), 0);
		}
	}
	char last[16];
	snprintf(last, sizeof last, "%d", TRAFFIC_N);
	td_expect_after(&T, since, BASE "sensor/keeper/state", last);
	for (int i = 1; i <= TRAFFIC_N; i++) {
		char payload[16];
		snprintf(payload, sizeof payload, "%d", i);
		if (td_count_payload(&T, since, BASE "sensor/keeper/state", payload) != 1) {
			td_dump(&T);
			fail_msg("message %d of %d did not reach sensor.keeper once", i, TRAFFIC_N);
		}
	}
	/* the reloads were done (SIGHUPs close together may be one), none
	 * refused, and the last left no twin on the broker */
	sighup("SIGHUP: 1 item(s) kept, 0 removed, 0 added"); /* after the others */
	/* at least one during the traffic besides the last: how many of the
	 * six coalesce depends on the machine's speed (armhf under qemu: 2) */
	assert_true(td_log_count(&T, "item(s) kept") >= 2);
	char buf[64];
	assert_null(td_retained(&T, DISC "twin/config", buf, sizeof buf));
	assert_int_equal(td_log_count(&T, "the running one stays"), 0);
	stop();
}

/* Home Assistant reloads trigger-based template entities with the rest
 * of template:; here a block whose configuration is the same keeps its
 * entity, its state and its trigger, and one that changed is replaced. */
#define TICK \
	"template:\n" \
	"  - triggers: {trigger: mqtt, topic: dev/tick}\n" \
	"    sensor: {name: Ticked, state: \"{{ trigger.payload }}\"}\n"
#define TOCK(tpl) \
	"  - triggers: {trigger: mqtt, topic: dev/tock}\n" \
	"    sensor: {name: Tocked, state: \"" tpl "\"}\n"

static void a_trigger_based_template_block_is_kept_or_replaced(void **state)
{
	(void)state;
	start(HEAD TICK TOCK("{{ trigger.payload }}"));
	td_expect(&T, DISC "tocked/config", NULL);
	device("dev/tick", "1", "ticked");
	device("dev/tock", "2", "tocked");

	td_write_config(&T, HEAD TICK TOCK("x{{ trigger.payload }}"));
	long since = td_count(&T);
	sighup("SIGHUP: 0 item(s) kept, 0 removed, 0 added");
	td_expect_log(&T, "template reloaded: 2 entries");
	/* the changed block's entity went, and came back */
	td_expect_after(&T, since, DISC "tocked/config", "");
	expect_holds(DISC "tocked/config", "\"state_topic\"");
	assert_int_equal(td_count_topic(&T, since, BASE "sensor/ticked/", ""), 0);
	assert_int_equal(td_count_topic(&T, since, DISC "ticked/", ""), 0);
	device("dev/tick", "3", "ticked");
	long n = td_count(&T);
	td_pub(&T, "dev/tock", "4", false);
	td_expect_after(&T, n, BASE "sensor/tocked/state", "x4");
	stop();
}

int main(int argc, char **argv)
{
	(void)argv;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			sighup_replaces_what_changed_clears_what_went_and_leaves_the_rest, teardown),
		cmocka_unit_test_teardown(an_invalid_file_changes_nothing_and_names_each_problem,
					  teardown),
		cmocka_unit_test_teardown(a_running_script_goes_on_across_a_reload_of_something_else,
					  teardown),
		cmocka_unit_test_teardown(reload_all_from_mqtt_adds_and_removes_components,
					  teardown),
		cmocka_unit_test_teardown(an_integrations_reload_leaves_the_others_alone, teardown),
		cmocka_unit_test_teardown(a_running_script_is_stopped_when_it_changes_or_goes,
					  teardown),
		cmocka_unit_test_teardown(a_reload_under_traffic_loses_no_message, teardown),
		cmocka_unit_test_teardown(a_trigger_based_template_block_is_kept_or_replaced,
					  teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
