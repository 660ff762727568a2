/* SPDX-License-Identifier: MIT */
/* The template integration's other domains (platforms/template_domains.c)
 * end to end: the real daemon against a real mosquitto, MQTT sensors as
 * the sources their templates read, their actions publishing what they
 * were given (so each service's variables are seen on the broker), and
 * commands sent to the bridge's /set topics. The behaviours follow Home
 * Assistant's template/<domain>.py and its tests
 * (tests/components/template/test_<domain>.py). */
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
	"  reconnect_max: 0.5\n" \
	"  sensor:\n" \
	"    - {name: Source, state_topic: src/state}\n" \
	"    - {name: Source two, state_topic: src/two}\n"

#define BASE "mqbridge/tt/"
/* An action that publishes what it was given: out/<what> */
#define SAY(what, value) \
	"[{action: mqtt.publish, data: {topic: out/" what ", payload: \"" value "\"}}]"

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
	td_init(&T, NULL);
	T_live = true;
	td_write_config(&T, yaml);
	td_start(&T, NULL);
	if (td_wait(&T, BASE "status", "online", TU_TIMEOUT) < 0) {
		td_dump(&T);
		fail_msg("the daemon never came online");
	}
}

static void stop(void)
{
	td_stop_clean(&T);
	td_fini(&T);
	T_live = false;
}

/* A source changes (retained, as a device's state), seen back by the
 * bridge. */
static void source(const char *which, const char *payload)
{
	char topic[64], st[128];
	snprintf(topic, sizeof topic, "src/%s", which);
	snprintf(st, sizeof st, BASE "sensor/%s/state",
		 strcmp(which, "state") == 0 ? "source" : "source_two");
	long n = td_count(&T);
	td_pub(&T, topic, payload, true);
	td_expect_after(&T, n, st, payload);
}

/* A command to <base>/<entity>/set, and what it must make appear. */
static long command(const char *entity, const char *payload)
{
	char topic[128];
	snprintf(topic, sizeof topic, BASE "%s/set", entity);
	long n = td_count(&T);
	td_pub(&T, topic, payload, false);
	return n;
}

static json_t *last_json(const char *topic)
{
	if (td_wait(&T, topic, NULL, TU_TIMEOUT) < 0) {
		td_dump(&T);
		fail_msg("nothing on %s", topic);
	}
	json_t *j = json_loads(td_last(&T, topic), 0, NULL);
	if (!j)
		fail_msg("no JSON on %s: %s", topic, td_last(&T, topic));
	return j;
}

/* Key of the JSON last seen on topic comes to be want (JSON text): the
 * attributes follow each source on its own, so an earlier message may
 * still be the last one when the test looks. */
static void expect_key(const char *topic, const char *key, const char *want)
{
	json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
	assert_non_null(w);
	for (double end = tu_now() + TU_TIMEOUT;;) {
		json_t *j = last_json(topic);
		json_t *v = json_object_get(j, key);
		if (v && json_equal(v, w)) {
			json_decref(j);
			break;
		}
		if (tu_now() > end) {
			char *all = json_dumps(j, JSON_COMPACT);
			fail_msg("%s: %s is not %s in %s", topic, key, want, all ? all : "?");
		}
		json_decref(j);
		td_wait_after(&T, td_count(&T), topic, NULL, 0.2);
	}
	json_decref(w);
}

/* ---- light ---------------------------------------------------------------- */

/* test_light.py: the state and level templates; set_level given
 * brightness, set_temperature color_temp (mireds) and color_temp_kelvin,
 * turn_on when no setting has its own action; the colour modes from the
 * actions there are. */
static void a_light_runs_the_action_of_what_it_is_asked(void **state)
{
	(void)state;
	start(HEAD "template:\n"
		   "  - light:\n"
		   "      - name: Lamp\n"
		   "        state: \"{{ states('sensor.source') == 'on' }}\"\n"
		   "        level: \"{{ states('sensor.source_two') | int(0) }}\"\n"
		   "        turn_on: " SAY("on", "on") "\n"
		   "        turn_off: " SAY("off", "off") "\n"
		   "        set_level: " SAY("level", "{{ brightness }}") "\n"
		   "        set_temperature: " SAY("temp", "{{ color_temp }} {{ color_temp_kelvin }}") "\n");
	source("state", "on");
	source("two", "128");
	td_expect(&T, BASE "light/lamp/state", "on");
	expect_key(BASE "light/lamp/attributes", "brightness", "128");
	expect_key(BASE "light/lamp/attributes", "supported_color_modes", "[\"color_temp\"]");
	expect_key("homeassistant/light/tt/lamp/config", "color_temp_command_topic",
		   "\"" BASE "light/lamp/set\"");
	long n = command("light/lamp", "{\"state\": \"ON\", \"brightness\": 200}");
	td_expect_after(&T, n, "out/level", "200");
	n = command("light/lamp", "{\"state\": \"ON\", \"color_temp_kelvin\": 4000}");
	td_expect_after(&T, n, "out/temp", "250 4000");
	n = command("light/lamp", "ON");
	td_expect_after(&T, n, "out/on", "on");
	n = command("light/lamp", "OFF");
	td_expect_after(&T, n, "out/off", "off");
	source("state", "off");
	td_expect_after(&T, n, BASE "light/lamp/state", "off");
	stop();
}

/* Without a state template the light follows its commands (optimistic),
 * brightness too when there is no level template; the legacy layout
 * (lights:, *_template) is the same entity. */
static void an_optimistic_light_and_the_legacy_layout(void **state)
{
	(void)state;
	start(HEAD "light:\n"
		   "  - platform: template\n"
		   "    lights:\n"
		   "      desk:\n"
		   "        friendly_name: Desk lamp\n"
		   "        turn_on: " SAY("desk", "on {{ brightness | default('-') }}") "\n"
		   "        turn_off: " SAY("desk", "off") "\n"
		   "        set_level: " SAY("desk", "level {{ brightness }}") "\n");
	td_expect(&T, BASE "light/desk/state", "off");
	long n = command("light/desk", "{\"state\": \"ON\", \"brightness\": 64}");
	td_expect_after(&T, n, "out/desk", "level 64");
	td_expect_after(&T, n, BASE "light/desk/state", "on");
	expect_key(BASE "light/desk/attributes", "brightness", "64");
	expect_key("homeassistant/light/tt/desk/config", "name", "\"Desk lamp\"");
	n = command("light/desk", "OFF");
	td_expect_after(&T, n, BASE "light/desk/state", "off");
	stop();
}

/* ---- the legacy layout's *_template options ----------------------------------- */

/* Home Assistant's TEMPLATE_ENTITY_COMMON_SCHEMA_LEGACY and its
 * availability and attributes parts, on every domain of the legacy layout
 * that has them (test_light.py ::test_icon_template,
 * ::test_entity_picture_template, ::test_available_template_with_entities;
 * test_cover.py, test_fan.py, test_vacuum.py ::test_attribute_templates):
 * icon_template and entity_picture_template are the icon and picture,
 * availability_template makes the entity unavailable while false,
 * attribute_templates are attributes. */
#define LEGACY_TEMPLATES(id) \
	"        icon_template: \"{{ 'mdi:check' if is_state('sensor.source', 'on') else " \
	"'mdi:" id "' }}\"\n" \
	"        entity_picture_template: \"/local/" id "-{{ states('sensor.source') }}.png\"\n" \
	"        availability_template: \"{{ not is_state('sensor.source_two', 'off') }}\"\n" \
	"        attribute_templates:\n" \
	"          source: \"{{ states('sensor.source') }}\"\n"

static void the_legacy_templates_work_on_every_domain(void **state)
{
	(void)state;
	start(HEAD "light:\n"
		   "  - platform: template\n"
		   "    lights:\n"
		   "      desk:\n"
		   "        turn_on: " SAY("desk", "on") "\n"
		   "        turn_off: " SAY("desk", "off") "\n"
		   LEGACY_TEMPLATES("desk")
		   "cover:\n"
		   "  - platform: template\n"
		   "    covers:\n"
		   "      gate:\n"
		   "        open_cover: " SAY("gate", "open") "\n"
		   "        close_cover: " SAY("gate", "close") "\n"
		   LEGACY_TEMPLATES("gate")
		   "fan:\n"
		   "  - platform: template\n"
		   "    fans:\n"
		   "      attic:\n"
		   "        value_template: \"{{ states('sensor.source') }}\"\n"
		   "        turn_on: " SAY("attic", "on") "\n"
		   "        turn_off: " SAY("attic", "off") "\n"
		   LEGACY_TEMPLATES("attic")
		   "vacuum:\n"
		   "  - platform: template\n"
		   "    vacuums:\n"
		   "      robot:\n"
		   "        start: " SAY("robot", "start") "\n"
		   LEGACY_TEMPLATES("robot")
		   "alarm_control_panel:\n"
		   "  - platform: template\n"
		   "    panels:\n"
		   "      house:\n"
		   "        value_template: \"{{ 'armed_away' if is_state('sensor.source', 'on') "
		   "else 'disarmed' }}\"\n"
		   "        arm_away: " SAY("house", "away") "\n"
		   "        disarm: " SAY("house", "disarm") "\n"
		   LEGACY_TEMPLATES("house"));
	static const char *const ents[][2] = {{"light/desk", "desk"}, {"cover/gate", "gate"},
					      {"fan/attic", "attic"}, {"vacuum/robot", "robot"},
					      {"alarm_control_panel/house", "house"}};
	source("two", "on");
	source("state", "off");
	for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++) {
		char topic[128], want[64];
		snprintf(topic, sizeof topic, BASE "%s/availability", ents[i][0]);
		td_expect(&T, topic, "online");
		snprintf(topic, sizeof topic, BASE "%s/attributes", ents[i][0]);
		snprintf(want, sizeof want, "\"mdi:%s\"", ents[i][1]);
		expect_key(topic, "icon", want);
		snprintf(want, sizeof want, "\"/local/%s-off.png\"", ents[i][1]);
		expect_key(topic, "entity_picture", want);
		expect_key(topic, "source", "\"off\"");
	}
	source("state", "on");
	for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++) {
		char topic[128], want[64];
		snprintf(topic, sizeof topic, BASE "%s/attributes", ents[i][0]);
		td_expect_holds(&T, topic, "mdi:check");
		snprintf(want, sizeof want, "\"/local/%s-on.png\"", ents[i][1]);
		expect_key(topic, "entity_picture", want);
		expect_key(topic, "source", "\"on\"");
	}
	long n = td_count(&T);
	source("two", "off");
	for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++) {
		char topic[128];
		snprintf(topic, sizeof topic, BASE "%s/availability", ents[i][0]);
		td_expect_after(&T, n, topic, "offline");
	}
	stop();
}

/* ---- cover ---------------------------------------------------------------- */

/* test_cover.py: open, opening, closed, closing and true/false; a
 * position template; open_cover and set_cover_position with `position`;
 * a cover without state or position templates is optimistic. */
static void a_cover_reads_its_state_and_position_and_moves(void **state)
{
	(void)state;
	start(HEAD "template:\n"
		   "  - cover:\n"
		   "      - name: Garage door\n"
		   "        device_class: garage\n"
		   "        state: \"{{ states('sensor.source') }}\"\n"
		   "        position: \"{{ states('sensor.source_two') | int(0) }}\"\n"
		   "        open_cover: " SAY("garage", "open") "\n"
		   "        close_cover: " SAY("garage", "close") "\n"
		   "        stop_cover: " SAY("garage", "stop") "\n"
		   "        set_cover_position: " SAY("garage", "to {{ position }}") "\n"
		   "      - name: Blind\n"
		   "        set_cover_position: " SAY("blind", "to {{ position }}") "\n");
	source("two", "40");
	source("state", "opening");
	td_expect(&T, BASE "cover/garage_door/state", "opening");
	expect_key(BASE "cover/garage_door/attributes", "current_position", "40");
	source("state", "closed");
	td_expect(&T, BASE "cover/garage_door/state", "open"); /* the position says so */
	source("two", "0");
	td_expect(&T, BASE "cover/garage_door/state", "closed");
	long n = command("cover/garage_door", "OPEN");
	td_expect_after(&T, n, "out/garage", "open");
	n = command("cover/garage_door", "30");
	td_expect_after(&T, n, "out/garage", "to 30");
	n = command("cover/garage_door", "STOP");
	td_expect_after(&T, n, "out/garage", "stop");
	expect_key("homeassistant/cover/tt/garage_door/config", "device_class", "\"garage\"");
	/* open with no open action: set_cover_position to 100, and optimistic */
	n = command("cover/blind", "OPEN");
	td_expect_after(&T, n, "out/blind", "to 100");
	td_expect_after(&T, n, BASE "cover/blind/state", "open");
	n = command("cover/blind", "CLOSE");
	td_expect_after(&T, n, "out/blind", "to 0");
	td_expect_after(&T, n, BASE "cover/blind/state", "closed");
	stop();
}

/* ---- fan ------------------------------------------------------------------ */

/* test_fan.py: turn_on gets percentage and preset_mode, then the setting's
 * own action runs; preset modes outside the list are refused. */
static void a_fan_turns_on_then_sets_its_speed(void **state)
{
	(void)state;
	start(HEAD "fan:\n"
		   "  - platform: template\n"
		   "    fans:\n"
		   "      ceiling:\n"
		   "        friendly_name: Ceiling fan\n"
		   "        value_template: \"{{ states('sensor.source') }}\"\n"
		   "        percentage_template: \"{{ states('sensor.source_two') | int(0) }}\"\n"
		   "        turn_on: " SAY("fan", "on {{ percentage }}") "\n"
		   "        turn_off: " SAY("fan", "off") "\n"
		   "        set_percentage: " SAY("fan_pct", "{{ percentage }}") "\n"
		   "        set_preset_mode: " SAY("fan_preset", "{{ preset_mode }}") "\n"
		   "        preset_modes: [auto, smart]\n"
		   "        speed_count: 4\n");
	source("state", "on");
	source("two", "50");
	td_expect(&T, BASE "fan/ceiling/state", "on");
	expect_key(BASE "fan/ceiling/attributes", "percentage", "50");
	expect_key(BASE "fan/ceiling/attributes", "percentage_step", "25.0");
	expect_key("homeassistant/fan/tt/ceiling/config", "preset_modes", "[\"auto\", \"smart\"]");
	long n = command("fan/ceiling", "{\"percentage\": 75}");
	td_expect_after(&T, n, "out/fan_pct", "75");
	n = command("fan/ceiling", "{\"preset_mode\": \"smart\"}");
	td_expect_after(&T, n, "out/fan_preset", "smart");
	n = command("fan/ceiling", "OFF");
	td_expect_after(&T, n, "out/fan", "off");
	n = command("fan/ceiling", "ON");
	td_expect_after(&T, n, "out/fan", "on None");
	stop();
}

/* ---- lock ----------------------------------------------------------------- */

/* test_lock.py: true is locked; a code must match code_format; the code
 * reaches the action. The legacy layout's lock is the item itself. */
static void a_lock_checks_its_code_and_passes_it_on(void **state)
{
	(void)state;
	start(HEAD "lock:\n"
		   "  - platform: template\n"
		   "    name: Front door\n"
		   "    value_template: \"{{ is_state('sensor.source', 'locked') }}\"\n"
		   "    code_format_template: \"\\\\d{4}\"\n"
		   "    lock: " SAY("lock", "lock {{ code }}") "\n"
		   "    unlock: " SAY("lock", "unlock {{ code }}") "\n");
	source("state", "locked");
	td_expect(&T, BASE "lock/front_door/state", "locked");
	expect_key(BASE "lock/front_door/attributes", "code_format", "\"\\\\d{4}\"");
	long n = command("lock/front_door", "{\"action\": \"UNLOCK\", \"code\": \"1234\"}");
	td_expect_after(&T, n, "out/lock", "unlock 1234");
	n = command("lock/front_door", "{\"action\": \"UNLOCK\", \"code\": \"12\"}");
	td_expect_log(&T, "lock.front_door: unlock: the code does not match its code format");
	source("state", "x");
	td_expect(&T, BASE "lock/front_door/state", "unlocked");
	(void)n;
	stop();
}

/* ---- alarm_control_panel ---------------------------------------------------- */

/* test_alarm_control_panel.py: each arm action given `code`; without a
 * state template the panel takes the state it was asked for. */
static void an_alarm_panel_arms_with_its_code(void **state)
{
	(void)state;
	start(HEAD "template:\n"
		   "  - alarm_control_panel:\n"
		   "      - name: House\n"
		   "        arm_home: " SAY("alarm", "home {{ code }}") "\n"
		   "        arm_away: " SAY("alarm", "away {{ code }}") "\n"
		   "        disarm: " SAY("alarm", "disarm {{ code }}") "\n"
		   "        code_format: number\n");
	expect_key("homeassistant/alarm_control_panel/tt/house/config", "supported_features",
		   "[\"arm_home\", \"arm_away\"]");
	long n = command("alarm_control_panel/house", "{\"action\": \"ARM_HOME\", \"code\": \"1234\"}");
	td_expect_after(&T, n, "out/alarm", "home 1234");
	td_expect_after(&T, n, BASE "alarm_control_panel/house/state", "armed_home");
	n = command("alarm_control_panel/house", "ARM_AWAY");
	td_expect_log(&T, "alarm_control_panel.house: alarm_arm_away needs a code");
	n = command("alarm_control_panel/house", "{\"action\": \"DISARM\", \"code\": \"1234\"}");
	td_expect_after(&T, n, BASE "alarm_control_panel/house/state", "disarmed");
	stop();
}

/* ---- vacuum ----------------------------------------------------------------- */

static void a_vacuum_reports_and_takes_commands(void **state)
{
	(void)state;
	start(HEAD "vacuum:\n"
		   "  - platform: template\n"
		   "    vacuums:\n"
		   "      robby:\n"
		   "        value_template: \"{{ states('sensor.source') }}\"\n"
		   "        battery_level_template: \"{{ states('sensor.source_two') | int(0) }}\"\n"
		   "        start: " SAY("vac", "start") "\n"
		   "        return_to_base: " SAY("vac", "home") "\n"
		   "        set_fan_speed: " SAY("vac", "speed {{ fan_speed }}") "\n"
		   "        fan_speeds: [low, high]\n");
	source("state", "docked");
	source("two", "61");
	td_expect(&T, BASE "vacuum/robby/state", "docked");
	expect_key(BASE "vacuum/robby/attributes", "battery_level", "61");
	expect_key(BASE "vacuum/robby/attributes", "state", "\"docked\"");
	long n = command("vacuum/robby", "start");
	td_expect_after(&T, n, "out/vac", "start");
	n = command("vacuum/robby", "high");
	td_expect_after(&T, n, "out/vac", "speed high");
	n = command("vacuum/robby", "return_to_base");
	td_expect_after(&T, n, "out/vac", "home");
	stop();
}

/* ---- number, select, button ------------------------------------------------- */

/* test_number.py, test_select.py, test_button.py. */
static void number_select_and_button_run_their_actions(void **state)
{
	(void)state;
	start(HEAD "template:\n"
		   "  - number:\n"
		   "      - name: Target\n"
		   "        state: \"{{ states('sensor.source_two') }}\"\n"
		   "        min: 5\n"
		   "        max: 30\n"
		   "        step: 0.5\n"
		   "        set_value: " SAY("number", "{{ value }}") "\n"
		   "    select:\n"
		   "      - name: Mode\n"
		   "        state: \"{{ states('sensor.source') }}\"\n"
		   "        options: \"{{ ['eco', 'comfort'] }}\"\n"
		   "        select_option: " SAY("select", "{{ option }}") "\n"
		   "    button:\n"
		   "      - name: Bell\n"
		   "        press: " SAY("button", "ding") "\n");
	source("two", "21");
	td_expect(&T, BASE "number/target/state", "21.0");
	expect_key("homeassistant/number/tt/target/config", "min", "5.0");
	expect_key("homeassistant/number/tt/target/config", "step", "0.5");
	long n = command("number/target", "22.5");
	td_expect_after(&T, n, "out/number", "22.5");
	source("state", "eco");
	td_expect(&T, BASE "select/mode/state", "eco");
	expect_key("homeassistant/select/tt/mode/config", "options", "[\"eco\", \"comfort\"]");
	n = command("select/mode", "comfort");
	td_expect_after(&T, n, "out/select", "comfort");
	n = command("select/mode", "party");
	td_expect_log(&T, "select.mode: 'party' is not one of its options");
	n = command("button/bell", "PRESS");
	td_expect_after(&T, n, "out/button", "ding");
	stop();
}

/* ---- update and weather ------------------------------------------------------- */

/* test_update.py: on while the latest version is newer; install given
 * the version and backup. A weather is shown as a sensor of its
 * condition, its readings in its attributes. */
static void an_update_and_a_weather(void **state)
{
	(void)state;
	start(HEAD "template:\n"
		   "  - update:\n"
		   "      - name: Firmware\n"
		   "        installed_version: \"{{ states('sensor.source') }}\"\n"
		   "        latest_version: \"1.2.0\"\n"
		   "        install: " SAY("update", "install {{ specific_version }} {{ backup }}") "\n"
		   "    weather:\n"
		   "      - name: Home\n"
		   "        condition: \"{{ 'sunny' }}\"\n"
		   "        temperature: \"{{ states('sensor.source_two') | float(0) }}\"\n"
		   "        humidity: 55\n"
		   "weather:\n"
		   "  - platform: template\n"
		   "    name: Cabin\n"
		   "    condition_template: rainy\n"
		   "    temperature_template: \"{{ 7.5 }}\"\n"
		   "    humidity_template: \"{{ 90 }}\"\n"
		   "    temperature_unit: \"°F\"\n"
		   "  - platform: met\n");
	source("state", "1.1.9");
	td_expect(&T, BASE "update/firmware/state", "on");
	expect_key(BASE "update/firmware/attributes", "latest_version", "\"1.2.0\"");
	long n = command("update/firmware", "INSTALL");
	td_expect_after(&T, n, "out/update", "install None False");
	source("state", "1.2.0");
	td_expect(&T, BASE "update/firmware/state", "off");
	source("two", "18.5");
	td_expect(&T, BASE "weather/home/state", "sunny");
	expect_key(BASE "weather/home/attributes", "temperature", "18.5");
	expect_key(BASE "weather/home/attributes", "humidity", "55");
	expect_key(BASE "weather/home/attributes", "temperature_unit", "\"°C\"");
	expect_key("homeassistant/sensor/tt/weather_home/config", "state_topic",
		   "\"" BASE "weather/home/state\"");
	/* the legacy layout; Home Assistant's met is skipped with a warning */
	td_expect(&T, BASE "weather/cabin/state", "rainy");
	expect_key(BASE "weather/cabin/attributes", "temperature", "7.5");
	expect_key(BASE "weather/cabin/attributes", "temperature_unit", "\"°F\"");
	td_expect_log(&T, "skipped, as mqbridge does not have them: weather platform met (");
	stop();
}

/* ---- configuration ------------------------------------------------------------ */

static void what_home_assistant_refuses_is_refused_where_it_is(void **state)
{
	(void)state;
	char err[8192];
	td_check_fails(HEAD "template:\n"
			    "  - light:\n"
			    "      - name: No actions\n"
			    "        state: \"{{ true }}\"\n"
			    "    cover:\n"
			    "      - name: No way to open\n"
			    "        close_cover: []\n"
			    "    image:\n"
			    "      - name: Camera\n"
			    "        url: http://camera/snapshot.jpg\n"
			    "    select:\n"
			    "      - name: Mode\n"
			    "        state: x\n"
			    "        select_option: [{action: nosuch}]\n",
		       err, sizeof err);
	td_expect_in(err, ":12:9: template[0].light[0]: required option 'turn_on' is missing");
	td_expect_in(err, ":12:9: template[0].light[0]: required option 'turn_off' is missing");
	td_expect_in(err, ":23:34: template[0].select[0].select_option[0].action: Service nosuch "
			  "does not match format <domain>.<name>");
	td_expect_in(err, "template[0].cover[0]: open_cover and close_cover go together");
	td_expect_in(err, "template[0].cover[0]: give open_cover or set_cover_position");
	td_expect_in(err, "template[0].image[0]: template image entities are not supported");
	td_expect_in(err, "template[0].select[0]: required option 'options' is missing");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(a_light_runs_the_action_of_what_it_is_asked, teardown),
		cmocka_unit_test_teardown(an_optimistic_light_and_the_legacy_layout, teardown),
		cmocka_unit_test_teardown(the_legacy_templates_work_on_every_domain, teardown),
		cmocka_unit_test_teardown(a_cover_reads_its_state_and_position_and_moves, teardown),
		cmocka_unit_test_teardown(a_fan_turns_on_then_sets_its_speed, teardown),
		cmocka_unit_test_teardown(a_lock_checks_its_code_and_passes_it_on, teardown),
		cmocka_unit_test_teardown(an_alarm_panel_arms_with_its_code, teardown),
		cmocka_unit_test_teardown(a_vacuum_reports_and_takes_commands, teardown),
		cmocka_unit_test_teardown(number_select_and_button_run_their_actions, teardown),
		cmocka_unit_test_teardown(an_update_and_a_weather, teardown),
		cmocka_unit_test_teardown(what_home_assistant_refuses_is_refused_where_it_is,
					  teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
