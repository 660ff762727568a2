/* SPDX-License-Identifier: MIT */
/* The template integration (platforms/template.c) end to end: the real
 * daemon against a real mosquitto, with MQTT sensors fed the payloads real
 * devices send as the sources the templates read; and its configuration
 * errors through `mqbridge -C`, at their exact file:line:column. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "daemon.h"
#include "testutil.h"

#define HEAD \
	"mqbridge: {node_id: tt, name: Template test}\n" \
	"mqtt:\n" \
	"  broker: 127.0.0.1\n" \
	"  port: %PORT%\n" \
	"  reconnect_min: 0.1\n" \
	"  reconnect_max: 0.5\n"

#define BASE "mqbridge/tt/"

static void start(struct td *t, const char *yaml)
{
	td_init(t, NULL);
	td_write_config(t, yaml);
	td_start(t, NULL);
	if (td_wait(t, BASE "status", "online", TU_TIMEOUT) < 0) {
		td_dump(t);
		fail_msg("the daemon never came online");
	}
}

static void stop(struct td *t)
{
	assert_int_equal(td_stop(t), 0);
	td_fini(t);
}

/* A device publishes and the bridge republishes the source entity's new
 * state: everything its change caused in the same loop iteration (template
 * renders queued behind it) follows in order. */
static long source(struct td *t, const char *topic, const char *payload, const char *state_topic,
		   const char *state)
{
	long n = td_count(t);
	td_pub(t, topic, payload, false);
	return td_expect_after(t, n, state_topic, state);
}

static json_t *last_json(struct td *t, const char *topic)
{
	const char *s = td_last(t, topic);
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;
	if (!j) {
		td_dump(t);
		fail_msg("no JSON on %s: %s", topic, s ? s : "(none)");
	}
	return j;
}

/* Attribute key of a is the string want; fail showing them all if not. */
static void expect_attr(json_t *a, const char *key, const char *want)
{
	const char *got = json_string_value(json_object_get(a, key));
	if (!got || strcmp(got, want) != 0) {
		char *all = json_dumps(a, JSON_COMPACT);
		fail_msg("attribute %s is not '%s' in %s", key, want, all ? all : "?");
	}
}

/* ---- state and dependencies ---------------------------------------------- */

static void a_sum_of_two_sensors_renders_again_on_each_change(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "  sensor:\n"
	      "    - {name: Kitchen, state_topic: home/kitchen/temperature}\n"
	      "    - {name: Hall, state_topic: home/hall/temperature}\n"
	      "template:\n"
	      "  - sensor:\n"
	      "      - name: Heat sum\n"
	      "        unit_of_measurement: \"°C\"\n"
	      "        state_class: measurement\n"
	      "        icon: mdi:thermometer\n"
	      "        state: \"{{ states('sensor.kitchen') | float(0) + states('sensor.hall') | float(0) }}\"\n");
	td_expect(&t, BASE "sensor/heat_sum/state", "0"); /* float(0) of unknown is the int 0 */
	source(&t, "home/kitchen/temperature", "21.5", BASE "sensor/kitchen/state", "21.5");
	td_expect(&t, BASE "sensor/heat_sum/state", "21.5");
	source(&t, "home/hall/temperature", "0.1", BASE "sensor/hall/state", "0.1");
	td_expect(&t, BASE "sensor/heat_sum/state", "21.6");
	/* 0.1 + 0.2 renders 0.30000000000000004: Home Assistant writes 0.3 */
	source(&t, "home/kitchen/temperature", "0.2", BASE "sensor/kitchen/state", "0.2");
	td_expect(&t, BASE "sensor/heat_sum/state", "0.3");
	/* a static icon is the entity's own: discovery carries it */
	json_t *a = last_json(&t, "homeassistant/sensor/tt/heat_sum/config");
	expect_attr(a, "unit_of_measurement", "°C");
	expect_attr(a, "state_class", "measurement");
	expect_attr(a, "icon", "mdi:thermometer");
	json_decref(a);
	stop(&t);
}

static void a_binary_sensor_with_a_threshold_on_tasmota_power(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "  sensor:\n"
	      "    - name: Washer power\n"
	      "      state_topic: tele/washer/SENSOR\n"
	      "      value_template: \"{{ value_json.ENERGY.Power }}\"\n"
	      "template:\n"
	      "  - binary_sensor:\n"
	      "      - name: Washer running\n"
	      "        device_class: running\n"
	      "        state: \"{{ states('sensor.washer_power') | float(0) > 10 }}\"\n");
	td_expect(&t, BASE "binary_sensor/washer_running/state", "off");
#define TELE "{\"Time\":\"2024-05-01T12:00:00\",\"ENERGY\":{\"Total\":12.3," \
	     "\"Power\":%d,\"Voltage\":230,\"Current\":%.3f}}"
	char msg[256];
	snprintf(msg, sizeof msg, TELE, 1800, 7.8);
	source(&t, "tele/washer/SENSOR", msg, BASE "sensor/washer_power/state", "1800");
	td_expect(&t, BASE "binary_sensor/washer_running/state", "on");
	long n = td_count(&t);
	snprintf(msg, sizeof msg, TELE, 2, 0.01);
	source(&t, "tele/washer/SENSOR", msg, BASE "sensor/washer_power/state", "2");
	td_expect_after(&t, n, BASE "binary_sensor/washer_running/state", "off");
	stop(&t);
}

static void availability_and_attributes_are_templates_too(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "  sensor:\n"
	      "    - name: Plug power\n"
	      "      state_topic: tele/plug/SENSOR\n"
	      "      value_template: \"{{ value_json.ENERGY.Power }}\"\n"
	      "      availability_topic: tele/plug/LWT\n"
	      "      payload_available: Online\n"
	      "      payload_not_available: Offline\n"
	      "template:\n"
	      "  - sensor:\n"
	      "      - name: Plug watts\n"
	      "        unique_id: plug_watts_tpl\n"
	      "        state: \"{{ states('sensor.plug_power') }}\"\n"
	      "        availability: \"{{ states('sensor.plug_power') not in ['unknown', 'unavailable'] }}\"\n"
	      "        attributes:\n"
	      "          doubled: \"{{ states('sensor.plug_power') | int(0) * 2 }}\"\n"
	      "          label: \"{{ 'plug' | upper }}\"\n"
	      "          phases: \"{{ [1, 2] }}\"\n");
	td_expect(&t, BASE "sensor/plug_watts/availability", "offline");
	td_device(&t, "tele/plug/LWT", "Online");
	source(&t, "tele/plug/SENSOR", "{\"ENERGY\":{\"Power\":40}}", BASE "sensor/plug_power/state",
	       "40");
	td_expect(&t, BASE "sensor/plug_watts/availability", "online");
	td_expect(&t, BASE "sensor/plug_watts/state", "40");
	/* the bridge sends the attributes after the state */
	td_expect(&t, BASE "sensor/plug_watts/attributes",
	       "{\"doubled\":80,\"label\":\"PLUG\",\"phases\":[1,2]}");
	json_t *a = last_json(&t, BASE "sensor/plug_watts/attributes");
	assert_int_equal(json_integer_value(json_object_get(a, "doubled")), 80);
	expect_attr(a, "label", "PLUG");
	assert_int_equal(json_array_size(json_object_get(a, "phases")), 2);
	json_decref(a);
	long n = td_count(&t);
	td_device(&t, "tele/plug/LWT", "Offline");
	td_expect_after(&t, n, BASE "sensor/plug_watts/availability", "offline");
	stop(&t);
}

static void a_render_error_keeps_the_state_and_logs_once(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "  sensor:\n"
	      "    - {name: Meter, state_topic: home/meter}\n"
	      "    - {name: Other, state_topic: home/other}\n"
	      "template:\n"
	      "  - sensor:\n"
	      "      - name: Meter kw\n"
	      "        state: \"{{ states('sensor.meter') | float / 1000 }}\"\n");
	source(&t, "home/meter", "1500", BASE "sensor/meter/state", "1500");
	td_expect(&t, BASE "sensor/meter_kw/state", "1.5");
	const char *err = "sensor.meter_kw: state: error rendering the template";
	int before = td_log_count(&t, err); /* the first render saw 'unknown' */
	source(&t, "home/meter", "n/a", BASE "sensor/meter/state", "n/a");
	td_expect_log(&t, "float got invalid input 'n/a'");
	source(&t, "home/meter", "err", BASE "sensor/meter/state", "err");
	/* a later change of something else: what the bad renders wrote is out */
	source(&t, "home/other", "1", BASE "sensor/other/state", "1");
	assert_string_equal(td_last(&t, BASE "sensor/meter_kw/state"), "1.5");
	assert_int_equal(td_log_count(&t, err), before + 1);
	long n = source(&t, "home/meter", "2500", BASE "sensor/meter/state", "2500");
	td_expect_after(&t, n, BASE "sensor/meter_kw/state", "2.5");
	td_expect_log(&t, "sensor.meter_kw: state renders again");
	stop(&t);
}

static int renders(struct td *t, const char *entity_id)
{
	char needle[128];
	snprintf(needle, sizeof needle, "%s: rendered", entity_id);
	return td_log_count(t, needle);
}

/* Which entities a template reads changes with its branches: after each
 * render it depends on what that render read, no more. */
static void dependencies_follow_the_branch_taken(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "  sensor:\n"
	      "    - {name: Day rate, state_topic: power/day}\n"
	      "    - {name: Night rate, state_topic: power/night}\n"
	      "  binary_sensor:\n"
	      "    - {name: Night, state_topic: power/night_mode, payload_on: \"1\", payload_off: \"0\"}\n"
	      "template:\n"
	      "  - sensor:\n"
	      "      - name: Rate\n"
	      "        state: >-\n"
	      "          {% if is_state('binary_sensor.night', 'on') %}{{ states('sensor.night_rate') }}\n"
	      "          {%- else %}{{ states('sensor.day_rate') }}{% endif %}\n");
	source(&t, "power/night_mode", "0", BASE "binary_sensor/night/state", "off");
	source(&t, "power/day", "30", BASE "sensor/day_rate/state", "30");
	td_expect(&t, BASE "sensor/rate/state", "30");
	int r = renders(&t, "sensor.rate");
	/* the night rate is not read now: its change renders nothing */
	source(&t, "power/night", "12", BASE "sensor/night_rate/state", "12");
	long n = source(&t, "power/day", "31", BASE "sensor/day_rate/state", "31");
	td_expect_after(&t, n, BASE "sensor/rate/state", "31");
	assert_int_equal(renders(&t, "sensor.rate"), r + 1);
	/* night: now the night rate counts and the day rate does not */
	source(&t, "power/night_mode", "1", BASE "binary_sensor/night/state", "on");
	td_expect(&t, BASE "sensor/rate/state", "12");
	n = source(&t, "power/night", "11", BASE "sensor/night_rate/state", "11");
	td_expect_after(&t, n, BASE "sensor/rate/state", "11");
	r = renders(&t, "sensor.rate");
	source(&t, "power/day", "35", BASE "sensor/day_rate/state", "35");
	n = source(&t, "power/night", "10", BASE "sensor/night_rate/state", "10");
	td_expect_after(&t, n, BASE "sensor/rate/state", "10");
	assert_int_equal(renders(&t, "sensor.rate"), r + 1);
	stop(&t);
}

/* Two sensors from one Tasmota message change in one loop iteration: the
 * template over both renders once for them. */
static void changes_in_one_iteration_render_once(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "  sensor:\n"
	      "    - name: Voltage\n"
	      "      state_topic: tele/dryer/SENSOR\n"
	      "      value_template: \"{{ value_json.ENERGY.Voltage }}\"\n"
	      "    - name: Current\n"
	      "      state_topic: tele/dryer/SENSOR\n"
	      "      value_template: \"{{ value_json.ENERGY.Current }}\"\n"
	      "template:\n"
	      "  - sensor:\n"
	      "      - name: Apparent power\n"
	      "        state: \"{{ (states('sensor.voltage') | float(0) * states('sensor.current') | float(0)) | round(1) }}\"\n");
	source(&t, "tele/dryer/SENSOR", "{\"ENERGY\":{\"Voltage\":230,\"Current\":1.5}}",
	       BASE "sensor/current/state", "1.5");
	td_expect(&t, BASE "sensor/apparent_power/state", "345.0");
	int r = renders(&t, "sensor.apparent_power");
	long n = source(&t, "tele/dryer/SENSOR", "{\"ENERGY\":{\"Voltage\":240,\"Current\":2}}",
			BASE "sensor/current/state", "2");
	td_expect_after(&t, n, BASE "sensor/apparent_power/state", "480.0");
	assert_int_equal(renders(&t, "sensor.apparent_power"), r + 1);
	stop(&t);
}

/* A template over a whole domain renders at most once a second (Home
 * Assistant's rate limit), and still ends on the last state. */
static void a_template_over_a_domain_is_rate_limited(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "  binary_sensor:\n"
	      "    - {name: Window a, state_topic: zigbee/window_a}\n"
	      "    - {name: Window b, state_topic: zigbee/window_b}\n"
	      "template:\n"
	      "  - sensor:\n"
	      "      - name: Windows open\n"
	      "        state: \"{{ states.binary_sensor | selectattr('state', 'eq', 'on') | list | count }}\"\n");
	td_expect(&t, BASE "sensor/windows_open/state", "0");
	int r = renders(&t, "sensor.windows_open");
	double t0 = tu_now();
	source(&t, "zigbee/window_a", "ON", BASE "binary_sensor/window_a/state", "on");
	source(&t, "zigbee/window_b", "ON", BASE "binary_sensor/window_b/state", "on");
	source(&t, "zigbee/window_a", "OFF", BASE "binary_sensor/window_a/state", "off");
	source(&t, "zigbee/window_a", "ON", BASE "binary_sensor/window_a/state", "on");
	double t1 = tu_now();
	td_expect(&t, BASE "sensor/windows_open/state", "2");
	/* one render per second at most, and one more for the last window */
	int made = renders(&t, "sensor.windows_open") - r;
	assert_true(made >= 1);
	assert_true(made <= (int)(t1 - t0) + 2);
	stop(&t);
}

/* ---- now() ---------------------------------------------------------------- */

/* The minute is shortened by the test hook: the template renders again on
 * each tick without any source changing. */
static void now_renders_again_every_minute(void **state)
{
	(void)state;
	struct td t;
	setenv("MQBRIDGE_TEST_TEMPLATE_MINUTE", "0.2", 1);
	start(&t, HEAD
	      "template:\n"
	      "  - sensor:\n"
	      "      - name: Tick\n"
	      "        state: \"{{ (now().timestamp() * 5) | int }}\"\n"
	      "      - name: Static\n"
	      "        state: \"{{ 6 * 7 }}\"\n");
	unsetenv("MQBRIDGE_TEST_TEMPLATE_MINUTE");
	td_expect_log(&t, "sensor.tick: calls now(): renders again every minute");
	td_expect(&t, BASE "sensor/tick/state", NULL);
	for (int k = 0; k < 2; k++) {
		/* the latest state, then one after every message seen so far
		 * (the tick may have rendered again meanwhile): a new value */
		char last[64];
		snprintf(last, sizeof last, "%s", td_last(&t, BASE "sensor/tick/state"));
		td_expect_after(&t, td_count(&t), BASE "sensor/tick/state", NULL);
		assert_true(strcmp(td_last(&t, BASE "sensor/tick/state"), last) != 0);
	}
	assert_int_equal(td_log_count(&t, "sensor.static: calls now()"), 0);
	assert_int_equal(renders(&t, "sensor.static"), 1);
	stop(&t);
}

/* ---- switches ------------------------------------------------------------- */

static void a_template_switch_calls_services_and_follows_its_state(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "  switch:\n"
	      "    - name: Pump relay\n"
	      "      state_topic: stat/pump/POWER\n"
	      "      command_topic: cmnd/pump/POWER\n"
	      "template:\n"
	      "  - switch:\n"
	      "      - name: Pump\n"
	      "        state: \"{{ is_state('switch.pump_relay', 'on') }}\"\n"
	      "        turn_on:\n"
	      "          - action: switch.turn_on\n"
	      "            target: {entity_id: switch.pump_relay}\n"
	      "        turn_off:\n"
	      "          service: switch.turn_off\n"
	      "          entity_id: switch.pump_relay\n"
	      "      - name: Holiday mode\n"
	      "        turn_on: {service: switch.turn_on, data: {entity_id: \"{{ 'switch.pump_relay' }}\"}}\n"
	      "        turn_off: []\n");
	td_expect(&t, BASE "switch/pump/state", "off");
	td_expect(&t, BASE "switch/holiday_mode/state", "off");
	/* Home Assistant turns the switch on through the bridge */
	long n = td_count(&t);
	td_pub(&t, BASE "switch/pump/set", "ON", false);
	td_expect_after(&t, n, "cmnd/pump/POWER", "ON");
	/* not optimistic: on only once the device says so */
	assert_string_equal(td_last(&t, BASE "switch/pump/state"), "off");
	source(&t, "stat/pump/POWER", "ON", BASE "switch/pump_relay/state", "on");
	td_expect_after(&t, n, BASE "switch/pump/state", "on");
	n = td_count(&t);
	td_pub(&t, BASE "switch/pump/set", "OFF", false);
	td_expect_after(&t, n, "cmnd/pump/POWER", "OFF");
	source(&t, "stat/pump/POWER", "OFF", BASE "switch/pump_relay/state", "off");
	td_expect_after(&t, n, BASE "switch/pump/state", "off");
	/* optimistic: the state follows the command; its data was a template */
	n = td_count(&t);
	td_pub(&t, BASE "switch/holiday_mode/set", "ON", false);
	td_expect_after(&t, n, BASE "switch/holiday_mode/state", "on");
	td_expect_after(&t, n, "cmnd/pump/POWER", "ON");
	json_t *a = last_json(&t, BASE "switch/holiday_mode/attributes");
	assert_true(json_is_true(json_object_get(a, "assumed_state")));
	json_decref(a);
	n = td_count(&t);
	td_pub(&t, BASE "switch/holiday_mode/set", "OFF", false);
	td_expect_after(&t, n, BASE "switch/holiday_mode/state", "off");
	stop(&t);
}

/* tests/components/template/test_switch.py::test_on_action,
 * ::test_off_action: turn_on and turn_off are scripts (Home Assistant's
 * SCRIPT_SCHEMA), any actions, with `this`; the command waits for them,
 * and an optimistic switch takes its state when they end */
static void a_template_switch_runs_any_script_actions(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "  sensor:\n"
	      "    - {name: Gate contact, state_topic: zigbee/gate}\n"
	      "template:\n"
	      "  - switch:\n"
	      "      - name: Gate opener\n"
	      "        turn_on:\n"
	      "          - action: mqtt.publish\n"
	      "            data: {topic: gate/cmd, payload: \"open {{ this.entity_id }}\"}\n"
	      "          - wait_template: \"{{ is_state('sensor.gate_contact', 'open') }}\"\n"
	      "          - if: \"{{ wait.completed }}\"\n"
	      "            then: [{action: mqtt.publish, data: {topic: gate/log, payload: opened}}]\n"
	      "        turn_off:\n"
	      "          - repeat:\n"
	      "              count: 2\n"
	      "              sequence:\n"
	      "                - action: mqtt.publish\n"
	      "                  data: {topic: gate/cmd, payload: \"close {{ repeat.index }}\"}\n");
	td_expect(&t, BASE "switch/gate_opener/state", "off");
	long n = td_count(&t);
	td_pub(&t, BASE "switch/gate_opener/set", "ON", false);
	td_expect_after(&t, n, "gate/cmd", "open switch.gate_opener");
	/* the command waits for its actions */
	assert_int_equal(td_count_topic(&t, n, BASE "switch/gate_opener/state", ""), 0);
	source(&t, "zigbee/gate", "open", BASE "sensor/gate_contact/state", "open");
	td_expect_after(&t, n, "gate/log", "opened");
	td_expect_after(&t, n, BASE "switch/gate_opener/state", "on");
	n = td_count(&t);
	td_pub(&t, BASE "switch/gate_opener/set", "OFF", false);
	td_expect_after(&t, n, BASE "switch/gate_opener/state", "off");
	char got[64];
	td_join(&t, n, "gate/cmd", got, sizeof got);
	assert_string_equal(got, "close 1,close 2");
	stop(&t);
}

/* ---- the legacy layout ---------------------------------------------------- */

static void legacy_sensors_and_delay_on(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "  sensor:\n"
	      "    - {name: Door contact, state_topic: zigbee/door}\n"
	      "sensor:\n"
	      "  - platform: template\n"
	      "    sensors:\n"
	      "      door_text:\n"
	      "        friendly_name: Door text\n"
	      "        value_template: \"{{ states('sensor.door_contact') | upper }}\"\n"
	      "        icon_template: >-\n"
	      "          {% if is_state('sensor.door_contact', 'open') %}mdi:door-open{% else %}mdi:door{% endif %}\n"
	      "        attribute_templates:\n"
	      "          raw: \"{{ states('sensor.door_contact') }}\"\n"
	      "binary_sensor:\n"
	      "  - platform: template\n"
	      "    sensors:\n"
	      "      door_left_open:\n"
	      "        value_template: \"{{ is_state('sensor.door_contact', 'open') }}\"\n"
	      "        delay_on: 2\n");
	source(&t, "zigbee/door", "closed", BASE "sensor/door_contact/state", "closed");
	td_expect(&t, BASE "sensor/door_text/state", "CLOSED");
	/* the bridge sends the attributes after the state */
	td_expect(&t, BASE "sensor/door_text/attributes", "{\"icon\":\"mdi:door\",\"raw\":\"closed\"}");
	json_t *a = last_json(&t, BASE "sensor/door_text/attributes");
	expect_attr(a, "icon", "mdi:door");
	expect_attr(a, "raw", "closed");
	json_decref(a);
	a = last_json(&t, "homeassistant/sensor/tt/door_text/config");
	expect_attr(a, "name", "Door text");
	json_decref(a);
	td_expect(&t, BASE "binary_sensor/door_left_open/state", "off");
	/* delay_on: still off once the door's own state is out, on later */
	source(&t, "zigbee/door", "open", BASE "sensor/door_contact/state", "open");
	td_expect(&t, BASE "sensor/door_text/state", "OPEN");
	assert_string_equal(td_last(&t, BASE "binary_sensor/door_left_open/state"), "off");
	td_expect(&t, BASE "binary_sensor/door_left_open/state", "on");
	a = last_json(&t, BASE "sensor/door_text/attributes");
	expect_attr(a, "icon", "mdi:door-open");
	json_decref(a);
	stop(&t);
}

/* delay_on and auto_off as templates (cv.positive_time_period_template):
 * rendered with the state, so the delay follows another entity. */
static void delays_may_be_templates(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "  sensor:\n"
	      "    - {name: Hold, state_topic: cfg/hold}\n"
	      "    - {name: Motion raw, state_topic: zigbee/motion}\n"
	      "template:\n"
	      "  - binary_sensor:\n"
	      "      - name: Presence\n"
	      "        state: \"{{ is_state('sensor.motion_raw', 'on') }}\"\n"
	      "        delay_on: \"{{ states('sensor.hold') | int(0) }}\"\n"
	      "        auto_off: \"00:00:{{ '%02d' | format(states('sensor.hold') | int(0) * 2) }}\"\n");
	source(&t, "cfg/hold", "1", BASE "sensor/hold/state", "1");
	source(&t, "zigbee/motion", "off", BASE "sensor/motion_raw/state", "off");
	td_expect(&t, BASE "binary_sensor/presence/state", "off");
	long n = source(&t, "zigbee/motion", "on", BASE "sensor/motion_raw/state", "on");
	double t0 = tu_now();
	/* on only after the rendered second, off again two seconds later */
	td_expect_after(&t, n, BASE "binary_sensor/presence/state", "on");
	double on_at = tu_now();
	assert_true(on_at - t0 > 0.8);
	n = td_count(&t);
	td_expect_after(&t, n, BASE "binary_sensor/presence/state", "off");
	assert_true(tu_now() - on_at > 1.6);
	stop(&t);
}

/* ---- configuration errors ------------------------------------------------- */

/* mqbridge -C on yaml: exit 78 and err holds the messages. */


static void template_errors_point_at_their_line_and_column(void **state)
{
	(void)state;
	char err[8192];
	td_check_fails(HEAD
		     "template:\n"
		     "  - sensor:\n"
		     "      - name: Plain\n"
		     "        state: Now {{ states('sensor.x') | nosuchfilter }}\n"
		     "      - name: Quoted\n"
		     "        state: \"{{ states('sensor.x') | nosuchfilter }}\"\n"
		     "      - name: Block\n"
		     "        state: |-\n"
		     "          {% if true %}\n"
		     "          {{ states('sensor.x') | nosuchfilter }}\n"
		     "          {% endif %}\n"
		     "      - name: Attribute\n"
		     "        state: \"1\"\n"
		     "        attributes:\n"
		     "          bad: \"{{ 1 + }}\"\n",
		     err, sizeof err);
	td_expect_in(err, ":10:44: template[0].sensor[0].state: invalid template");
	/* the quoted one: the column of the filter's name inside the quotes */
	td_expect_in(err, ":12:41: template[0].sensor[1].state: invalid template");
	td_expect_in(err, "nosuchfilter");
	/* a literal block: the line of the filter's name (its column counts
	 * from the block's indentation, which libyaml does not report) */
	const char *blk = strstr(err, "template[0].sensor[2].state: invalid template");
	assert_non_null(blk);
	while (blk > err && blk[-1] != '\n')
		blk--;
	assert_non_null(strstr(blk, "mqbridge.yaml:16:"));
	td_expect_in(err, ":21:24: template[0].sensor[3].attributes.bad: invalid template");
	td_check_fails(HEAD
		     "template:\n"
		     "  - binary_sensor:\n"
		     "      - name: Delayed\n"
		     "        state: \"{{ true }}\"\n"
		     "        delay_on: \"{{ 1 + }}\"\n"
		     "        delay_off: soon\n",
		     err, sizeof err);
	td_expect_in(err, ":11:27: template[0].binary_sensor[0].delay_on: invalid template");
	td_expect_in(err, ":12:20: template[0].binary_sensor[0].delay_off: expected a duration");
	/* what Home Assistant refuses of a sensor's description; a unit the
	 * device class does not allow it warns of when the sensor runs
	 * (sensor/__init__.py), so it is no error here either */
	td_check_fails(HEAD
		     "template:\n"
		     "  - sensor:\n"
		     "      - name: Power\n"
		     "        state: \"{{ 1 }}\"\n"
		     "        device_class: power\n"
		     "        unit_of_measurement: kWh\n"
		     "sensor:\n"
		     "  - platform: template\n"
		     "    sensors:\n"
		     "      old:\n"
		     "        value_template: \"{{ 1 }}\"\n"
		     "        device_class: temprature\n",
		     err, sizeof err);
	td_expect_in(err, ":12:30: template[0].sensor[0].unit_of_measurement: the unit of "
		       "measurement 'kWh' is not valid together with device class 'power'");
	td_expect_in(err, "'power' (one of mW, W, kW, MW, GW, TW, BTU/h); Home Assistant warns of "
		       "it too");
	td_expect_in(err, ":18:23: sensor[0].sensors.old.device_class: 'temprature' is not a sensor "
		       "device class");
}

/* tests/components/template/test_sensor.py::test_trigger_entity,
 * test_binary_sensor.py::test_trigger_entity: a trigger-based block's
 * entities are unknown until it fires, then render with the trigger,
 * the block's variables (under the trigger's) and `this`, when its
 * conditions hold; unique ids are <block's>-<entity's> */
static void a_trigger_based_block_renders_its_entities_when_it_fires(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "template:\n"
	      "  - unique_id: blk\n"
	      "    triggers:\n"
	      "      - trigger: mqtt\n"
	      "        topic: cmd/fire\n"
	      "    variables:\n"
	      "      doubled: \"{{ trigger.payload | int(0) * 2 }}\"\n"
	      "    conditions: \"{{ trigger.payload != 'skip' }}\"\n"
	      "    sensor:\n"
	      "      - name: Last fired\n"
	      "        unique_id: last\n"
	      "        state: \"{{ doubled }}\"\n"
	      "        attributes:\n"
	      "          topic: \"{{ trigger.topic }}\"\n"
	      "          was: \"{{ this.state }}\"\n"
	      "      - name: Inverse\n"
	      "        state: \"{{ 1 / (trigger.payload | int(0)) }}\"\n"
	      "    binary_sensor:\n"
	      "      name: Fired\n"
	      "      state: \"{{ true }}\"\n"
	      "      auto_off: {milliseconds: 400}\n"
	      "  - trigger: {platform: homeassistant, event: start}\n"
	      "    sensor: {name: Started, state: \"{{ trigger.event }}\"}\n");
	td_expect(&t, BASE "sensor/last_fired/state", "unknown");
	td_expect(&t, BASE "sensor/started/state", "start");
	json_t *d = last_json(&t, "homeassistant/sensor/tt/last_fired/config");
	expect_attr(d, "unique_id", "blk-last");
	json_decref(d);
	long n = td_count(&t);
	td_pub(&t, "cmd/fire", "4", false);
	long k = td_expect_after(&t, n, BASE "sensor/last_fired/state", "8");
	td_expect_after(&t, k, BASE "sensor/last_fired/attributes", NULL);
	td_expect_after(&t, n, BASE "sensor/inverse/state", "0.25");
	td_expect_after(&t, n, BASE "binary_sensor/fired/state", "on");
	json_t *a = last_json(&t, BASE "sensor/last_fired/attributes");
	expect_attr(a, "topic", "cmd/fire");
	expect_attr(a, "was", "unknown");
	json_decref(a);
	/* auto_off turns it off on its own */
	td_expect_after(&t, n, BASE "binary_sensor/fired/state", "off");
	/* the conditions do not hold: nothing renders */
	n = td_count(&t);
	td_pub(&t, "cmd/fire", "skip", false);
	/* a template that fails makes the entity unavailable till the next */
	td_pub(&t, "cmd/fire", "0", false);
	k = td_expect_after(&t, n, BASE "sensor/last_fired/state", "0");
	td_expect_after(&t, k, BASE "sensor/last_fired/attributes", NULL);
	td_expect_after(&t, n, BASE "sensor/inverse/availability", "offline");
	a = last_json(&t, BASE "sensor/last_fired/attributes");
	assert_int_equal(json_integer_value(json_object_get(a, "was")), 8);
	json_decref(a);
	n = td_count(&t);
	td_pub(&t, "cmd/fire", "2", false);
	td_expect_after(&t, n, BASE "sensor/inverse/state", "0.5");
	td_expect_after(&t, n, BASE "sensor/inverse/availability", "online");
	assert_int_equal(td_count_topic(&t, 0, BASE "sensor/last_fired/state", ""), 4);
	stop(&t);
}

/* test_sensor.py::test_trigger_action (the forecast example of Home
 * Assistant's documentation): the block's actions run first, and its
 * entities render with what they left, a response_variable included */
static void a_trigger_based_block_renders_with_what_its_actions_left(void **state)
{
	(void)state;
	struct td t;
	start(&t, HEAD
	      "script:\n"
	      "  forecast:\n"
	      "    sequence:\n"
	      "      - variables: {r: {temperature: \"{{ 20 + hour | int }}\"}}\n"
	      "      - stop: done\n"
	      "        response_variable: r\n"
	      "template:\n"
	      "  - triggers: {trigger: mqtt, topic: cmd/forecast}\n"
	      "    actions:\n"
	      "      - action: script.forecast\n"
	      "        data: {hour: \"{{ trigger.payload }}\"}\n"
	      "        response_variable: hourly\n"
	      "      - variables: {note: \"from the actions\"}\n"
	      "    sensor:\n"
	      "      - name: Forecast\n"
	      "        state: \"{{ hourly.temperature }}\"\n"
	      "        attributes: {note: \"{{ note }}\"}\n");
	long n = td_count(&t);
	td_pub(&t, "cmd/forecast", "3", false);
	long k = td_expect_after(&t, n, BASE "sensor/forecast/state", "23");
	td_expect_after(&t, k, BASE "sensor/forecast/attributes", NULL);
	json_t *a = last_json(&t, BASE "sensor/forecast/attributes");
	expect_attr(a, "note", "from the actions");
	json_decref(a);
	stop(&t);
}

static void trigger_based_blocks_are_checked_where_they_are_wrong(void **state)
{
	(void)state;
	char err[8192];
	td_check_fails(HEAD
		     "template:\n"
		     "  - trigger:\n"
		     "      - platform: sunshine\n"
		     "    sensor:\n"
		     "      - name: No state\n"
		     "    image:\n"
		     "      - name: Lamp\n"
		     "  - triggers: {trigger: mqtt, topic: x}\n"
		     "    actions: {delay: soon}\n"
		     "    binary_sensor: {name: B, state: \"{{ 1 +* }}\"}\n",
		     err, sizeof err);
	td_expect_in(err, ":9:19: template[0].trigger[0].platform: Invalid trigger sunshine "
		       "specified");
	td_expect_in(err, ":11:9: template[0].sensor[0]: required option 'state' is missing");
	td_expect_in(err, ":12:5: template[0]: template image entities are not supported");
	td_expect_in(err, ":15:22: template[1].actions[0].delay:");
	td_expect_in(err, "template[1].binary_sensor.state: invalid template");
}

static void missing_state_and_bad_actions_are_errors(void **state)
{
	(void)state;
	char err[8192];
	td_check_fails(HEAD
		     "template:\n"
		     "  - sensor:\n"
		     "      - name: No state\n"
		     "  - switch:\n"
		     "      - name: Bad\n"
		     "        turn_on:\n"
		     "          - delay: 5\n"
		     "        turn_off:\n"
		     "          - service: not a service\n"
		     "sensor:\n"
		     "  - platform: template\n"
		     "    sensors:\n"
		     "      Bad Id:\n"
		     "        value_template: \"{{ 1 }}\"\n"
		     "      no_value: {friendly_name: x}\n",
		     err, sizeof err);
	td_expect_in(err, "template[0].sensor[0]: required option 'state' is missing");
	/* any actions: the delay is one; a bad call is the engine's error */
	td_expect_in(err, "template[1].switch[0].turn_off[0].action: Service not a service does not "
		       "match format <domain>.<name>");
	if (strstr(err, "delay"))
		fail_msg("a delay in turn_on is an error:\n%s", err);
	td_expect_in(err, "'Bad Id' is not a valid object id");
	td_expect_in(err, "required option 'value_template' is missing");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(a_sum_of_two_sensors_renders_again_on_each_change),
	cmocka_unit_test(a_binary_sensor_with_a_threshold_on_tasmota_power),
	cmocka_unit_test(availability_and_attributes_are_templates_too),
	cmocka_unit_test(a_render_error_keeps_the_state_and_logs_once),
	cmocka_unit_test(dependencies_follow_the_branch_taken),
	cmocka_unit_test(changes_in_one_iteration_render_once),
	cmocka_unit_test(a_template_over_a_domain_is_rate_limited),
	cmocka_unit_test(now_renders_again_every_minute),
	cmocka_unit_test(a_template_switch_calls_services_and_follows_its_state),
	cmocka_unit_test(a_template_switch_runs_any_script_actions),
	cmocka_unit_test(legacy_sensors_and_delay_on),
	cmocka_unit_test(delays_may_be_templates),
	cmocka_unit_test(template_errors_point_at_their_line_and_column),
	cmocka_unit_test(a_trigger_based_block_renders_its_entities_when_it_fires),
	cmocka_unit_test(a_trigger_based_block_renders_with_what_its_actions_left),
	cmocka_unit_test(trigger_based_blocks_are_checked_where_they_are_wrong),
	cmocka_unit_test(missing_state_and_bad_actions_are_errors),
};

TU_MAIN(tests)
