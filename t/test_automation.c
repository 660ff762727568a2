/* SPDX-License-Identifier: MIT */
/* The automation integration (platforms/automation.c) end to end: the real
 * daemon against a real mosquitto. Automations are driven by MQTT sensors
 * and MQTT triggers, hold their runs on an MQTT sensor (wait_template) or
 * a delay, and report through mqtt.publish, which the test watches; each
 * case cites the test of Home Assistant's
 * tests/components/automation/test_init.py it follows (helpers/
 * test_script.py for the modes). Configuration errors go through
 * `mqbridge -C`. Waits are bounded; nothing sleeps. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>

#include "daemon.h"
#include "testutil.h"

#define HEAD \
	"mqbridge: {node_id: ta, name: Automation test}\n" \
	"mqtt:\n" \
	"  broker: 127.0.0.1\n" \
	"  port: %PORT%\n" \
	"  reconnect_min: 0.1\n" \
	"  reconnect_max: 0.5\n" \
	"  sensor:\n" \
	"    - {name: Gate, state_topic: dev/gate}\n" \
	"    - {name: Temp, state_topic: dev/temp}\n"

#define BASE "mqbridge/ta/"

static struct td T;
static int teardown(void **state)
{
	(void)state;
	td_fini(&T);
	return 0;
}

static void start(const char *yaml)
{
	td_begin(&T, yaml, BASE "status");
}

static void stop(void)
{
	td_stop_clean(&T);
	td_fini(&T);
}

/* A device publishes and the bridge has republished the sensor's state:
 * what the change set off is under way. */
static long device(const char *topic, const char *payload, const char *sensor)
{
	char st[128];
	snprintf(st, sizeof st, BASE "sensor/%s/state", sensor);
	long n = td_count(&T);
	td_pub(&T, topic, payload, false);
	return td_expect_after(&T, n, st, payload);
}

static long gate(const char *state)
{
	return device("dev/gate", state, "gate");
}

/* The last JSON on topic. */
static json_t *last_json(const char *topic)
{
	const char *s = td_last(&T, topic);
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;
	if (!j) {
		td_dump(&T);
		fail_msg("no JSON on %s: %s", topic, s ? s : "(none)");
	}
	return j;
}

static void expect_holds(const char *topic, const char *needle)
{
	td_expect_holds(&T, topic, needle);
}

static void expect_current(const char *slug, int n)
{
	char topic[128], want[32];
	snprintf(topic, sizeof topic, BASE "automation/%s/attributes", slug);
	snprintf(want, sizeof want, "\"current\":%d", n);
	expect_holds(topic, want);
}

/* Publish a marker through an automation and wait for it: whatever the
 * daemon would publish before it has been seen by then. */
#define MARKER \
	"  - triggers: {trigger: mqtt, topic: cmd/mark}\n" \
	"    actions: {action: mqtt.publish, data: {topic: out/mark, payload: mark}}\n"

static void mark(void)
{
	long n = td_count(&T);
	td_pub(&T, "cmd/mark", "", false);
	td_expect_after(&T, n, "out/mark", "mark");
}

/* ---- the entity -------------------------------------------------------------- */

/* ::test_service_data_not_a_dict's naming, ::test_automation_is_on_if_no_
 * initial_state_or_restore, ::test_automation_restore_state's attributes:
 * a state trigger on an MQTT sensor, a template condition, mqtt.publish;
 * automation.<slug of alias> is on, its id the unique id, its attributes
 * Home Assistant's; each run logs its start */
static void a_state_trigger_with_a_template_condition_publishes(void **state)
{
	(void)state;
	start(HEAD "automation:\n"
		   "  - id: \"1700000000001\"\n"
		   "    alias: Too hot\n"
		   "    description: warns when the room is hot\n"
		   "    triggers: {trigger: state, entity_id: sensor.temp}\n"
		   "    conditions: \"{{ trigger.to_state.state | float(0) > 25 }}\"\n"
		   "    actions:\n"
		   "      - action: mqtt.publish\n"
		   "        data:\n"
		   "          topic: out/hot\n"
		   "          payload: \"{{ trigger.to_state.state }} from {{ trigger.from_state.state }}"
		   " ({{ this.entity_id }}, {{ trigger.id }})"
		   " {{ trigger.to_state.domain }}/{{ trigger.to_state.object_id }}/"
		   "{{ trigger.to_state.name }}\"\n");
	td_expect(&T, BASE "automation/too_hot/state", "on");
	json_t *d = last_json("homeassistant/switch/ta/automation_too_hot/config");
	assert_string_equal(json_string_value(json_object_get(d, "unique_id")), "1700000000001");
	assert_string_equal(json_string_value(json_object_get(d, "name")), "Too hot");
	assert_string_equal(json_string_value(json_object_get(d, "command_topic")),
			    BASE "automation/too_hot/set");
	json_decref(d);
	td_expect(&T, BASE "automation/too_hot/attributes", NULL);
	json_t *a = last_json(BASE "automation/too_hot/attributes");
	assert_string_equal(json_string_value(json_object_get(a, "id")), "1700000000001");
	assert_string_equal(json_string_value(json_object_get(a, "mode")), "single");
	assert_true(json_is_null(json_object_get(a, "last_triggered")));
	assert_int_equal(json_integer_value(json_object_get(a, "current")), 0);
	json_decref(a);

	long n = device("dev/temp", "20", "temp");
	device("dev/temp", "30", "temp");
	/* the trigger's states are State objects (domain, object_id, name) */
	td_expect_after(&T, n, "out/hot", "30 from 20 (automation.too_hot, 0) sensor/temp/Temp");
	expect_holds(BASE "automation/too_hot/attributes", "\"last_triggered\":\"20");
	assert_int_equal(td_count_topic(&T, n, "out/hot", ""), 1);
	td_expect_log(&T, "automation.too_hot: Running automation actions");
	stop();
}

/* ::test_automation_variables (V26): variables render before the
 * conditions, with `this` and the trigger; variables win over
 * trigger_variables; an unnamed automation is automation.automation_<N> */
static void variables_render_with_the_trigger_and_this(void **state)
{
	(void)state;
	start(HEAD "automation:\n"
		   "  - trigger_variables: {test_var: defined_in_config, topic: cmd/vars}\n"
		   "    variables:\n"
		   "      test_var: overridden_in_config\n"
		   "      event_type: \"{{ trigger.payload }}\"\n"
		   "      this_variables: \"{{ this.entity_id }}\"\n"
		   "    triggers: {trigger: mqtt, topic: \"{{ topic }}\"}\n"
		   "    conditions: \"{{ event_type != 'skip' }}\"\n"
		   "    actions:\n"
		   "      - action: mqtt.publish\n"
		   "        data:\n"
		   "          topic: out/vars\n"
		   "          payload: \"{{ test_var }} {{ event_type }} {{ this_variables }}\"\n");
	long n = td_count(&T);
	td_pub(&T, "cmd/vars", "skip", false);
	td_pub(&T, "cmd/vars", "hello", false);
	td_expect_after(&T, n, "out/vars", "overridden_in_config hello automation.automation_0");
	assert_int_equal(td_count_topic(&T, n, "out/vars", ""), 1);
	stop();
}

/* Home Assistant's mqtt.publish reads payload with cv.string, which gives
 * a template's ResultWrapper back as the text it rendered: a payload that
 * renders as JSON goes out as rendered, not dumped again; a number as
 * str() of the value read back (1.50 -> 1.5); a static string as written */
static void mqtt_publish_sends_what_its_template_rendered(void **state)
{
	(void)state;
	start(HEAD "automation:\n"
		   "  - triggers: {trigger: mqtt, topic: cmd/pay}\n"
		   "    actions:\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/raw, payload: \"{{ trigger.payload }}\"}\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/static, payload: '{\"x\": 0.10, \"y\": [1,2]}'}\n");
	long n = td_count(&T);
	td_pub(&T, "cmd/pay", "{\"a\": 1.50,  \"b\": [1, 2.0], \"c\": \"\u00e9\"}", false);
	td_expect_after(&T, n, "out/raw", "{\"a\": 1.50,  \"b\": [1, 2.0], \"c\": \"\u00e9\"}");
	td_expect_after(&T, n, "out/static", "{\"x\": 0.10, \"y\": [1,2]}");
	n = td_count(&T);
	td_pub(&T, "cmd/pay", "1.50", false);
	td_expect_after(&T, n, "out/raw", "1.5");
	n = td_count(&T);
	td_pub(&T, "cmd/pay", "True", false);
	td_expect_after(&T, n, "out/raw", "True");
	stop();
}

/* ---- modes -------------------------------------------------------------------- */

#define MODE(m, extra) \
	"  - alias: " m "\n" \
	"    mode: " m "\n" extra \
	"    triggers: {trigger: mqtt, topic: cmd/" m "}\n" \
	"    actions:\n" \
	"      - action: mqtt.publish\n" \
	"        data: {topic: out/" m ", payload: \"1:{{ trigger.payload }}\", qos: 1}\n" \
	"      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n" \
	"      - action: mqtt.publish\n" \
	"        data: {topic: out/" m ", payload: \"2:{{ trigger.payload }}\", qos: 1}\n"

static void seen(long n, const char *topic, char *out, size_t len)
{
	td_join(&T, n, topic, out, len);
}

/* helpers ::test_script_mode_single, ::test_script_mode_2 (restart,
 * parallel), ::test_script_mode_queued (V22): two firings while the first
 * run waits for the gate */
static void each_mode_decides_what_a_second_firing_does(void **state)
{
	(void)state;
	start(HEAD "automation:\n" MODE("single", "") MODE("restart", "")
		   MODE("queued", "") MODE("parallel", "    max: 2\n") MARKER);
	long n = td_count(&T);
	static const char *const modes[] = {"single", "restart", "queued", "parallel"};
	char topic[64], got[256];
	for (int i = 0; i < 4; i++) {
		snprintf(topic, sizeof topic, "cmd/%s", modes[i]);
		td_pub(&T, topic, "a", false);
		snprintf(topic, sizeof topic, "out/%s", modes[i]);
		td_expect_after(&T, n, topic, "1:a");
		snprintf(topic, sizeof topic, "cmd/%s", modes[i]);
		td_pub(&T, topic, "b", false);
	}
	td_expect_log(&T, "automation.single: Already running");
	td_expect_log(&T, "automation.restart: Restarting");
	td_expect_after(&T, n, "out/restart", "1:b");
	td_expect_after(&T, n, "out/parallel", "1:b");
	expect_current("queued", 2);
	gate("open");
	td_expect_after(&T, n, "out/queued", "2:b");
	td_expect_after(&T, n, "out/parallel", "2:b");
	td_expect_after(&T, n, "out/single", "2:a");
	td_expect_after(&T, n, "out/restart", "2:b");
	mark();
	seen(n, "out/single", got, sizeof got);
	assert_string_equal(got, "1:a,2:a");
	seen(n, "out/restart", got, sizeof got);
	assert_string_equal(got, "1:a,1:b,2:b");
	seen(n, "out/queued", got, sizeof got);
	assert_string_equal(got, "1:a,2:a,1:b,2:b");
	seen(n, "out/parallel", got, sizeof got);
	if (strcmp(got, "1:a,1:b,2:a,2:b") && strcmp(got, "1:a,1:b,2:b,2:a"))
		fail_msg("parallel: %s", got);
	expect_current("queued", 0);
	stop();
}

/* helpers ::test_script_mode_queued, ::test_max_exceeded; the issue's
 * burst: 1,000 firings as fast as the broker takes them, on a queued
 * automation whose max holds them all, come out in order, none lost */
static void a_burst_of_a_thousand_firings_queues_in_order(void **state)
{
	(void)state;
	start(HEAD "automation:\n"
		   "  - alias: Burst\n"
		   "    mode: queued\n"
		   "    max: 1000\n"
		   "    triggers: {trigger: mqtt, topic: burst/in, qos: 1}\n"
		   "    actions:\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: burst/out, payload: \"{{ trigger.payload }}\", qos: 1}\n"
		   "  - alias: Held\n"
		   "    mode: queued\n"
		   "    max: 10\n"
		   "    max_exceeded: error\n"
		   "    triggers: {trigger: mqtt, topic: held/in, qos: 1}\n"
		   "    actions:\n"
		   "      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: held/out, payload: \"{{ trigger.payload }}\", qos: 1}\n"
		   MARKER);
	long n = td_count(&T);
	char p[16];
	double t0 = tu_now();
	for (int i = 0; i < 1000; i++) {
		snprintf(p, sizeof p, "%d", i);
		td_pub(&T, "burst/in", p, false);
	}
	td_expect_after(&T, n, "burst/out", "999");
	double spent = tu_now() - t0;
	static char all[8192], want_all[8192];
	size_t off = 0;
	for (int i = 0; i < 1000; i++)
		off += (size_t)snprintf(want_all + off, sizeof want_all - off, "%s%d", i ? "," : "", i);
	int want = (int)td_join(&T, n, "burst/out", all, sizeof all);
	if (strcmp(all, want_all) != 0)
		fail_msg("burst/out, out of order or with gaps: %.300s...", all);
	assert_int_equal(want, 1000);
	fprintf(stderr, "    1,000 firings in, 1,000 runs' publishes out in %.3f s\n", spent);

	/* beyond max (running and waiting together) a firing is refused */
	n = td_count(&T);
	for (int i = 0; i < 15; i++) {
		snprintf(p, sizeof p, "%d", i);
		td_pub(&T, "held/in", p, false);
	}
	td_expect_log(&T, "automation.held: Maximum number of runs exceeded");
	expect_current("held", 10);
	mark();
	gate("open");
	td_expect_after(&T, n, "held/out", "9");
	mark();
	assert_int_equal(td_count_topic(&T, n, "held/out", ""), 10);
	assert_int_equal(td_log_count(&T, "automation.held: Maximum number of runs exceeded"), 5);
	stop();
}

/* ---- cancellation --------------------------------------------------------------- */

/* helpers ::test_cancel_delay, ::test_script_mode_2 (restart): a restart
 * cancels the delay of the run before it, which never ends */
static void a_restart_cancels_a_delay(void **state)
{
	(void)state;
	start(HEAD "automation:\n"
		   "  - alias: Restarted\n"
		   "    mode: restart\n"
		   "    triggers: {trigger: mqtt, topic: cmd/go}\n"
		   "    actions:\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/go, payload: \"start {{ trigger.payload }}\"}\n"
		   "      - delay: {milliseconds: 300}\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/go, payload: \"end {{ trigger.payload }}\"}\n");
	long n = td_count(&T);
	td_pub(&T, "cmd/go", "a", false);
	td_expect_after(&T, n, "out/go", "start a");
	td_pub(&T, "cmd/go", "b", false);
	td_expect_after(&T, n, "out/go", "end b");
	char got[256];
	seen(n, "out/go", got, sizeof got);
	assert_string_equal(got, "start a,start b,end b");
	stop();
}

/* helpers ::test_shutdown_at: SIGTERM ends a delay and a wait at once;
 * the daemon stops in a fraction of the delay and publishes nothing of
 * the runs after its stop began */
static void sigterm_ends_delays_and_waits_at_once(void **state)
{
	(void)state;
	start(HEAD "automation:\n"
		   "  - alias: Delayed\n"
		   "    triggers: {trigger: mqtt, topic: cmd/go}\n"
		   "    actions:\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/delayed, payload: start}\n"
		   "      - delay: 5\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/delayed, payload: late}\n"
		   "  - alias: Waiting\n"
		   "    triggers: {trigger: mqtt, topic: cmd/go}\n"
		   "    actions:\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/waiting, payload: start}\n"
		   "      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/waiting, payload: late}\n");
	long n = td_count(&T);
	td_pub(&T, "cmd/go", "", false);
	td_expect_after(&T, n, "out/delayed", "start");
	td_expect_after(&T, n, "out/waiting", "start");
	double t0 = tu_now();
	assert_int_equal(td_stop(&T), 0);
	double took = tu_now() - t0;
	if (took > 2.5)
		fail_msg("the stop took %.2f s: the delay was waited for", took);
	td_wait_after(&T, n, BASE "status", "offline", TU_TIMEOUT);
	assert_int_equal(td_count_topic(&T, n, "out/delayed", ""), 1);
	assert_int_equal(td_count_topic(&T, n, "out/waiting", ""), 1);
	td_fini(&T);
}

/* ::test_automation_stops: turn_off stops the runs (stop_actions, the
 * default) or lets them end (stop_actions: false); a firing while off
 * runs nothing */
static void turn_off_stops_runs_unless_told_not_to(void **state)
{
	(void)state;
	start(HEAD "automation:\n"
		   "  - alias: Held\n"
		   "    triggers: {trigger: mqtt, topic: cmd/held}\n"
		   "    actions:\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/held, payload: \"1:{{ trigger.payload }}\"}\n"
		   "      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/held, payload: \"2:{{ trigger.payload }}\"}\n"
		   "  - triggers: {trigger: mqtt, topic: cmd/off}\n"
		   "    actions:\n"
		   "      - action: automation.turn_off\n"
		   "        target: {entity_id: automation.held}\n"
		   "        data: {stop_actions: \"{{ trigger.payload == 'stop' }}\"}\n"
		   MARKER);
	long n = td_count(&T);
	td_pub(&T, "cmd/held", "a", false);
	td_expect_after(&T, n, "out/held", "1:a");
	td_pub(&T, "cmd/off", "stop", false);
	td_expect_after(&T, n, BASE "automation/held/state", "off");
	expect_current("held", 0);
	td_pub(&T, "cmd/held", "ignored", false);
	mark();
	/* back on (its switch), a run, then off without stopping it */
	long m = td_count(&T);
	static const char held_sub[] = "mqbridge-ta 0 cmd/held\n";
	int subs = tu_broker_log_count(&T.broker, held_sub);
	td_pub(&T, BASE "automation/held/set", "ON", false);
	td_expect_after(&T, m, BASE "automation/held/state", "on");
	/* its trigger subscribes again, as Home Assistant's does, after the
	 * state says on: a message before the broker has it is not heard */
	assert_true(tu_broker_log_wait(&T.broker, held_sub, subs + 1, TU_TIMEOUT));
	td_pub(&T, "cmd/held", "b", false);
	td_expect_after(&T, n, "out/held", "1:b");
	m = td_count(&T);
	td_pub(&T, "cmd/off", "keep", false);
	td_expect_after(&T, m, BASE "automation/held/state", "off");
	gate("open");
	td_expect_after(&T, n, "out/held", "2:b");
	mark();
	char got[256];
	seen(n, "out/held", got, sizeof got);
	assert_string_equal(got, "1:a,1:b,2:b");
	stop();
}

/* ::test_trigger_service, ::test_trigger_service_ignoring_condition,
 * ::test_services (V23): automation.trigger runs the actions with
 * trigger {platform: None}, skipping the conditions unless told, also
 * when the automation is off */
static void the_trigger_service_runs_the_actions(void **state)
{
	(void)state;
	start(HEAD "automation:\n"
		   "  - alias: Hello\n"
		   "    initial_state: false\n"
		   "    triggers: {trigger: mqtt, topic: cmd/never}\n"
		   "    conditions: \"{{ false }}\"\n"
		   "    actions:\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/hello, payload: \"{{ trigger }} {{ extra }}\"}\n"
		   "  - triggers: {trigger: mqtt, topic: cmd/trigger}\n"
		   "    actions:\n"
		   "      - action: automation.trigger\n"
		   "        target: {entity_id: automation.hello}\n"
		   "        data:\n"
		   "          skip_condition: \"{{ trigger.payload != 'check' }}\"\n"
		   "          variables: {extra: given}\n"
		   MARKER);
	td_expect(&T, BASE "automation/hello/state", "off");
	long n = td_count(&T);
	td_pub(&T, "cmd/never", "", false);
	td_pub(&T, "cmd/trigger", "check", false);
	mark();
	assert_int_equal(td_count_topic(&T, n, "out/hello", ""), 0);
	td_pub(&T, "cmd/trigger", "", false);
	td_expect_after(&T, n, "out/hello", "{'platform': None} given");
	stop();
}

/* ---- restore --------------------------------------------------------------------- */

/* ::test_automation_restore_state, ::test_initial_value_on_but_restore_off,
 * ::test_automation_restore_last_triggered_with_initial_state: an
 * automation turned off stays off over a restart, unless initial_state
 * says on; last_triggered comes back either way */
static void on_off_and_last_triggered_survive_a_restart(void **state)
{
	(void)state;
	start("mqbridge: {node_id: ta, state_dir: %DIR%/state}\n"
	      "mqtt: {broker: 127.0.0.1, port: %PORT%, reconnect_min: 0.1, reconnect_max: 0.5}\n"
	      "automation:\n"
	      "  - alias: Kept off\n"
	      "    triggers: {trigger: mqtt, topic: cmd/kept}\n"
	      "    actions: {action: mqtt.publish, data: {topic: out/kept, payload: ran}}\n"
	      "  - alias: Forced on\n"
	      "    initial_state: true\n"
	      "    triggers: {trigger: mqtt, topic: cmd/forced}\n"
	      "    actions: {action: mqtt.publish, data: {topic: out/forced, payload: ran}}\n"
	      MARKER);
	long n = td_count(&T);
	td_pub(&T, "cmd/kept", "", false);
	td_expect_after(&T, n, "out/kept", "ran");
	expect_holds(BASE "automation/kept_off/attributes", "\"last_triggered\":\"20");
	json_t *a = last_json(BASE "automation/kept_off/attributes");
	char *lt = strdup(json_string_value(json_object_get(a, "last_triggered")));
	json_decref(a);
	td_pub(&T, BASE "automation/kept_off/set", "OFF", false);
	td_pub(&T, BASE "automation/forced_on/set", "OFF", false);
	td_expect_after(&T, n, BASE "automation/kept_off/state", "off");
	td_expect_after(&T, n, BASE "automation/forced_on/state", "off");
	td_stop_clean(&T);

	n = td_count(&T);
	td_start(&T, NULL);
	long k = td_expect_after(&T, n, BASE "automation/kept_off/state", "off");
	td_expect_after(&T, n, BASE "automation/forced_on/state", "on");
	td_expect_after(&T, k, BASE "automation/kept_off/attributes", NULL);
	a = last_json(BASE "automation/kept_off/attributes");
	assert_string_equal(json_string_value(json_object_get(a, "last_triggered")), lt);
	json_decref(a);
	free(lt);
	td_pub(&T, "cmd/kept", "", false);
	td_pub(&T, "cmd/forced", "", false);
	td_expect_after(&T, n, "out/forced", "ran");
	mark();
	assert_int_equal(td_count_topic(&T, n, "out/kept", ""), 0);
	stop();
}

/* ---- reload --------------------------------------------------------------------- */

#define RELOADER \
	"  - alias: Reloader\n" \
	"    triggers: {trigger: mqtt, topic: cmd/reload}\n" \
	"    actions: {action: automation.reload}\n"
#define WAITER(name, out) \
	"  - alias: " name "\n" \
	"    triggers: {trigger: mqtt, topic: cmd/" name "}\n" \
	"    actions:\n" \
	"      - wait_template: \"{{ is_state('sensor.gate', 'open') }}\"\n" \
	"      - action: mqtt.publish\n" \
	"        data: {topic: out/" name ", payload: " out "}\n"

/* ::test_reload_config_service, ::test_reload_unchanged_does_not_stop,
 * ::test_automation_stops (reload): what did not change goes on, run and
 * all; what changed is stopped and made again; what went is gone, its
 * retained topics cleared; a new one is there */
static void reload_keeps_what_did_not_change(void **state)
{
	(void)state;
	start(HEAD "automation:\n" RELOADER WAITER("same", "same") WAITER("changed", "old")
		   WAITER("gone", "gone"));
	long n = td_count(&T);
	td_pub(&T, "cmd/same", "", false);
	td_pub(&T, "cmd/changed", "", false);
	expect_current("same", 1);
	expect_current("changed", 1);
	td_write_config(&T, HEAD "automation:\n" RELOADER WAITER("same", "same")
				 WAITER("changed", "new") WAITER("added", "added"));
	td_pub(&T, "cmd/reload", "", false);
	td_expect_after(&T, n, "homeassistant/switch/ta/automation_gone/config", "");
	td_expect_after(&T, n, BASE "automation/added/state", "on");
	expect_current("changed", 0);
	gate("open");
	td_expect_after(&T, n, "out/same", "same");
	long m = td_count(&T);
	td_pub(&T, "cmd/changed", "", false);
	td_expect_after(&T, m, "out/changed", "new");
	assert_int_equal(td_count_topic(&T, n, "out/changed", ""), 1);
	/* the new automation's filter is new to the broker: its SUBSCRIBE first */
	assert_true(tu_broker_log_wait(&T.broker, "cmd/added (QoS", 1, TU_TIMEOUT));
	td_pub(&T, "cmd/added", "", false);
	td_expect_after(&T, m, "out/added", "added");
	stop();
}

/* ---- device triggers ----------------------------------------------------------- */

/* Home Assistant's tests/components/mqtt/test_device_trigger.py:
 * ::test_if_fires_on_mqtt_message (two triggers on one topic, each found
 * by its discovery id even with type and subtype swapped in the
 * automation), ::test_if_fires_on_mqtt_message_template (the device's
 * value_template decides), and the trigger data its mqtt trigger gives
 * (platform mqtt, the device's topic and raw payload). Here the
 * discovery id is what Home Assistant was shown, "<node_id> <object_id>",
 * or the object id; without one that matches, the device's identifier
 * with the type and subtype. */
static void device_triggers_fire_automations_as_home_assistants_do(void **state)
{
	(void)state;
	start(HEAD "  device_automation:\n"
		   "    - &short\n"
		   "      automation_type: trigger\n"
		   "      topic: foobar/triggers/button1\n"
		   "      type: button_short_press\n"
		   "      subtype: button_1\n"
		   "      payload: short_press\n"
		   "      object_id: bla1\n"
		   "      device: {identifiers: [0AFFD2], name: Remote}\n"
		   "    - <<: *short\n"
		   "      type: button_long_press\n"
		   "      subtype: button_2\n"
		   "      payload: long_press\n"
		   "      object_id: bla2\n"
		   "    - <<: *short\n"
		   "      topic: foobar/triggers/button4\n"
		   "      type: button_double_press\n"
		   "      subtype: button_4\n"
		   "      payload: double_press\n"
		   "      value_template: \"{{ value_json.button }}\"\n"
		   "      object_id: bla4\n"
		   "automation:\n"
		   "  - triggers:\n"
		   "      - {platform: device, domain: mqtt, device_id: 5a1e9d0c, discovery_id: ta bla1,\n"
		   "         type: button_short_press, subtype: button_1}\n"
		   "    actions: {action: mqtt.publish, data: {topic: out/short, payload:\n"
		   "      \"{{ trigger.platform }} {{ trigger.topic }} {{ trigger.payload }}\"}}\n"
		   "  - triggers:\n"
		   "      - {trigger: device, domain: mqtt, device_id: 5a1e9d0c, discovery_id: bla2,\n"
		   "         type: button_2, subtype: button_long_press}\n"
		   "    actions: {action: mqtt.publish, data: {topic: out/long, payload: long}}\n"
		   "  - triggers:\n"
		   "      - {trigger: device, domain: mqtt, device_id: 0AFFD2, discovery_id: x,\n"
		   "         type: button_double_press, subtype: button_4}\n"
		   "    actions: {action: mqtt.publish, data: {topic: out/double, payload:\n"
		   "      \"{{ trigger.payload_json.button }}\"}}\n"
		   "  - triggers:\n"
		   "      - {trigger: device, domain: mqtt, device_id: 0AFFD2, discovery_id: nope,\n"
		   "         type: button_short_press, subtype: button_9}\n"
		   "    actions: {action: mqtt.publish, data: {topic: out/never, payload: x}}\n"
		   MARKER);
	td_expect_log(&T, "automation.automation_3: no MQTT device trigger of the configuration "
			  "has discovery id 'nope'");
	long n = td_count(&T);
	td_pub(&T, "foobar/triggers/button1", "short_press", false);
	td_expect_after(&T, n, "out/short", "mqtt foobar/triggers/button1 short_press");
	td_pub(&T, "foobar/triggers/button1", "long_press", false);
	td_expect_after(&T, n, "out/long", "long");
	td_pub(&T, "foobar/triggers/button4", "{\"button\":\"single\"}", false);
	td_pub(&T, "foobar/triggers/button4", "{\"button\":\"double_press\"}", false);
	td_expect_after(&T, n, "out/double", "double_press");
	mark();
	assert_int_equal(td_count_topic(&T, n, "out/short", ""), 1);
	assert_int_equal(td_count_topic(&T, n, "out/long", ""), 1);
	assert_int_equal(td_count_topic(&T, n, "out/double", ""), 1);
	assert_int_equal(td_count_topic(&T, n, "out/never", ""), 0);
	/* each press fires again, an unchanged one too */
	td_pub(&T, "foobar/triggers/button1", "short_press", false);
	mark();
	assert_int_equal(td_count_topic(&T, n, "out/short", ""), 2);
	stop();
}

/* ---- layouts -------------------------------------------------------------------- */

/* Home Assistant's layouts (splitting_configuration): automations.yaml
 * by !include, labelled blocks, packages, both generations of keys
 * (::test_action_backward_compatibility, V25), `enabled: false` on a
 * trigger and an action; unnamed ones are numbered over the whole list */
static void automations_come_from_every_layout(void **state)
{
	(void)state;
	char path[256];
	td_init(&T, NULL);
	td_write_file(&T, "automations.yaml",
		      "- id: first\n"
		      "  alias: From the file\n"
		      "  trigger: {platform: mqtt, topic: cmd/file}\n"
		      "  condition: {condition: template, value_template: \"{{ True }}\"}\n"
		      "  action:\n"
		      "    service: mqtt.publish\n"
		      "    data_template: {topic: out/file, payload: \"{{ trigger.topic }}\"}\n"
		      "- triggers:\n"
		      "    - {trigger: mqtt, topic: cmd/unnamed, enabled: false}\n"
		      "    - {trigger: mqtt, topic: cmd/unnamed2}\n"
		      "  actions:\n"
		      "    - {action: mqtt.publish, data: {topic: out/x, payload: no}, enabled: false}\n"
		      "    - {action: mqtt.publish, data: {topic: out/unnamed, payload: "
		      "\"{{ this.entity_id }}\"}}\n",
		      path, sizeof path);
	td_write_config(&T, "mqbridge:\n"
			    "  node_id: ta\n"
			    "  packages:\n"
			    "    porch:\n"
			    "      automation:\n"
			    "        - alias: From a package\n"
			    "          triggers: {trigger: mqtt, topic: cmd/package}\n"
			    "          actions: {action: mqtt.publish, data: {topic: out/package, "
			    "payload: ok}}\n"
			    "mqtt: {broker: 127.0.0.1, port: %PORT%, reconnect_min: 0.1, "
			    "reconnect_max: 0.5}\n"
			    "automation: !include automations.yaml\n"
			    "automation manual:\n"
			    "  - triggers: {trigger: mqtt, topic: cmd/manual}\n"
			    "    actions: {action: mqtt.publish, data: {topic: out/manual, payload: "
			    "\"{{ this.entity_id }}\"}}\n");
	td_start(&T, NULL);
	td_expect(&T, BASE "status", "online");
	long n = td_count(&T);
	td_pub(&T, "cmd/file", "", false);
	td_expect_after(&T, n, "out/file", "cmd/file");
	td_pub(&T, "cmd/unnamed", "", false);
	td_pub(&T, "cmd/unnamed2", "", false);
	td_expect_after(&T, n, "out/unnamed", "automation.automation_1");
	td_pub(&T, "cmd/manual", "", false);
	td_expect_after(&T, n, "out/manual", "automation.automation_2");
	td_pub(&T, "cmd/package", "", false);
	td_expect_after(&T, n, "out/package", "ok");
	td_expect(&T, BASE "automation/from_a_package/state", "on");
	td_expect(&T, BASE "automation/from_the_file/state", "on");
	assert_int_equal(td_count_topic(&T, n, "out/x", ""), 0);
	assert_int_equal(td_count_topic(&T, n, "out/unnamed", ""), 1);
	stop();
}

/* A service that no integration registers (::test_automation_with_error_
 * in_script): a warning at start naming the automation and the action,
 * and the run's error, logged once with the action's path */
static void an_unknown_service_is_a_warning_at_start_and_an_error_at_run_time(void **state)
{
	(void)state;
	start(HEAD "automation:\n"
		   "  - alias: Porch\n"
		   "    triggers: {trigger: mqtt, topic: cmd/porch}\n"
		   "    actions:\n"
		   "      - action: mqtt.publish\n"
		   "        data: {topic: out/porch, payload: first}\n"
		   "      - choose:\n"
		   "          - conditions: \"{{ true }}\"\n"
		   "            sequence:\n"
		   "              - delay: 0\n"
		   "              - action: light.turn_onn\n"
		   "                target: {entity_id: light.porch}\n");
	td_expect_log(&T, "automation.porch: actions[1].choose[0].sequence[1]: action light.turn_onn "
			  "is not registered by any integration");
	long n = td_count(&T);
	td_pub(&T, "cmd/porch", "", false);
	td_expect_after(&T, n, "out/porch", "first");
	td_expect_log(&T, "automation.porch: actions[1].choose[0].sequence[1]: Error executing "
			  "script. Service not found for call_service: Action light.turn_onn not "
			  "found");
	assert_int_equal(td_log_count(&T, "Error executing script"), 1);
	stop();
}

/* ---- configuration errors --------------------------------------------------------- */

/* ::test_invalid_configuration, ::test_automation_bad_config_validation,
 * ::test_blueprint_automation_bad_config: each problem at its
 * file:line:column, in the configuration's own words */
static void configuration_errors_point_at_their_place(void **state)
{
	(void)state;
	char err[4096];
	td_check_fails(HEAD "automation:\n"
			 "  - trigger: {trigger: mqtt, topic: a}\n"
			 "    triggers: {trigger: mqtt, topic: a}\n"
			 "    actions: []\n"
			 "  - alias: no actions\n"
			 "    trigers: {trigger: mqtt, topic: a}\n"
			 "  - triggers: {trigger: sunshine}\n"
			 "    actions: {action: mqtt.publish}\n"
			 "    mode: queued\n"
			 "    max_exceeded: loudly\n"
			 "  - use_blueprint: {path: motion_light.yaml, input: {}}\n",
		    err, sizeof err);
	td_expect_in(err, "mqbridge.yaml:11:14: automation[0]: Cannot specify both 'trigger' and "
		       "'triggers'. Please use 'triggers' only.");
	td_expect_in(err, "mqbridge.yaml:15:5: automation[1].trigers: unknown option 'trigers' (did you "
		       "mean 'triggers'?)");
	td_expect_in(err, "mqbridge.yaml:14:5: automation[1]: required key 'actions' not provided");
	td_expect_in(err, "mqbridge.yaml:16:25: automation[2].triggers.trigger: Invalid trigger "
		       "sunshine specified");
	td_expect_in(err, "mqbridge.yaml:19:19: automation[2].max_exceeded: expected a log level");
	td_expect_in(err, "mqbridge.yaml:20:27: automation[3].use_blueprint: Unable to find "
		       "blueprint at path motion_light.yaml");
	/* test_device_trigger.py's TRIGGER_SCHEMA; another integration's
	 * device trigger is kept, never firing (test_trigger.c), and is no
	 * error */
	td_check_fails(HEAD "automation:\n"
			 "  - triggers: {trigger: device, domain: zha, device_id: a, type: b}\n"
			 "    actions: []\n"
			 "  - triggers: {trigger: device, domain: mqtt, device_id: a, type: b}\n"
			 "    actions: []\n",
		    err, sizeof err);
	assert_null(strstr(err, "automation[0]"));
	td_expect_in(err, "mqbridge.yaml:13:15: automation[1].triggers: required key not provided "
		       "@ data['discovery_id']");
}

/* A blueprint, as tests/components/automation/test_blueprint.py uses
 * Home Assistant's own: the automation names blueprints/automation/PATH
 * beside the configuration and its inputs (one in a section, left to its
 * default), and runs as the automation the blueprint makes, under its
 * own alias. */
static void an_automation_from_a_blueprint_runs_as_the_one_it_makes(void **state)
{
	(void)state;
	td_init(&T, NULL);
	char d[256];
	snprintf(d, sizeof d, "%s/blueprints", T.dir);
	assert_int_equal(mkdir(d, 0700), 0);
	snprintf(d, sizeof d, "%s/blueprints/automation", T.dir);
	assert_int_equal(mkdir(d, 0700), 0);
	snprintf(d, sizeof d, "%s/blueprints/automation/me", T.dir);
	assert_int_equal(mkdir(d, 0700), 0);
	td_write_file(&T, "blueprints/automation/me/announce.yaml",
		      "blueprint:\n"
		      "  name: Announce\n"
		      "  domain: automation\n"
		      "  input:\n"
		      "    watched: {name: Watched, selector: {entity: {}}}\n"
		      "    topic: {name: Topic}\n"
		      "    timing:\n"
		      "      name: Timing\n"
		      "      input:\n"
		      "        wait: {name: Wait, default: 0}\n"
		      "mode: restart\n"
		      "triggers:\n"
		      "  trigger: state\n"
		      "  entity_id: !input watched\n"
		      "actions:\n"
		      "  - delay: !input wait\n"
		      "  - action: mqtt.publish\n"
		      "    data:\n"
		      "      topic: !input topic\n"
		      "      payload: \"{{ trigger.to_state.state }}\"\n",
		      NULL, 0);
	td_write_config(&T, HEAD "automation:\n"
				 "  - alias: Gate announcer\n"
				 "    use_blueprint:\n"
				 "      path: me/announce.yaml\n"
				 "      input: {watched: sensor.gate, topic: out/gate}\n"
				 "  - alias: Phone\n"
				 "    triggers: {trigger: state, entity_id: sensor.gate}\n"
				 "    actions:\n"
				 "      - {device_id: abc, domain: mobile_app, type: notify, "
				 "message: hi}\n");
	td_start(&T, NULL);
	td_expect(&T, BASE "status", "online");
	td_expect(&T, BASE "automation/gate_announcer/state", "on");
	long n = gate("open");
	td_expect_after(&T, n, "out/gate", "open");
	/* another integration's device action: a warning at start, an error
	 * when a run reaches it */
	td_expect_log(&T, "automation.phone: actions[0]: the device action notify of mobile_app "
			  "cannot run here");
	stop();
}

static const struct CMUnitTest tests[] = {
#define T_(name) cmocka_unit_test_teardown(name, teardown)
	T_(a_state_trigger_with_a_template_condition_publishes),
	T_(an_automation_from_a_blueprint_runs_as_the_one_it_makes),
	T_(variables_render_with_the_trigger_and_this),
	T_(mqtt_publish_sends_what_its_template_rendered),
	T_(each_mode_decides_what_a_second_firing_does),
	T_(a_burst_of_a_thousand_firings_queues_in_order),
	T_(a_restart_cancels_a_delay),
	T_(sigterm_ends_delays_and_waits_at_once),
	T_(turn_off_stops_runs_unless_told_not_to),
	T_(the_trigger_service_runs_the_actions),
	T_(on_off_and_last_triggered_survive_a_restart),
	T_(reload_keeps_what_did_not_change),
	T_(automations_come_from_every_layout),
	T_(device_triggers_fire_automations_as_home_assistants_do),
	T_(an_unknown_service_is_a_warning_at_start_and_an_error_at_run_time),
	T_(configuration_errors_point_at_their_place),
#undef T_
};

TU_MAIN(tests)
