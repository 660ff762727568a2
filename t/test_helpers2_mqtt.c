/* SPDX-License-Identifier: MIT */
/* Groups, the sun, shell_command and mqtt_eventstream end to end: the real
 * daemon against a real mosquitto. A sensor group's mean and an old-style
 * group follow MQTT members and are announced to Home Assistant; a light
 * group's /set reaches its members' command topics; sun.sun is published
 * for a place where it is noon now; a switch's turn_on runs a
 * shell_command with a templated argument and publishes another's
 * response; and two daemons on one broker see each other's events
 * through mqtt_eventstream (one's automation fires an event the other's
 * automation is triggered by), Home Assistant's format both ways, with
 * no echo (tests/components/mqtt_eventstream/
 * test_init.py: test_state_changed_event_sends_message,
 * test_time_event_does_not_send_message, test_receiving_remote_event_fires_hass_event,
 * test_ignored_event_doesnt_send_over_stream). */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <jansson.h>

#include "daemon.h"
#include "testutil.h"

#define HEAD \
	"mqbridge: {node_id: th, state_dir: %DIR%/state}\n" \
	"mqtt: {broker: 127.0.0.1, port: %PORT%, reconnect_min: 0.1, reconnect_max: 0.5}\n"
#define BASE "mqbridge/th/"

static struct td T, U;
static bool T_live, U_live;

static int teardown(void **state)
{
	(void)state;
	if (U_live)
		td_fini(&U);
	if (T_live)
		td_fini(&T);
	T_live = U_live = false;
	return 0;
}

static void start(const char *yaml)
{
	td_init(&T, NULL);
	T_live = true;
	td_write_config(&T, yaml);
	td_start(&T, NULL);
	td_expect(&T, BASE "status", "online");
}

static json_t *discovery(const char *component, const char *object_id)
{
	char topic[256];
	snprintf(topic, sizeof topic, "homeassistant/%s/th/%s/config", component, object_id);
	td_expect(&T, topic, NULL);
	json_error_t e;
	json_t *j = json_loads(td_last(&T, topic), 0, &e);
	if (!j)
		fail_msg("%s: %s", topic, e.text);
	return j;
}

/* Whether a message on topic holding needle came, from index since on;
 * waits at most timeout seconds. */
static bool seen(struct td *t, long since, const char *topic, const char *needle, double timeout)
{
	for (double end = tu_now() + timeout;;) {
		bool found = false;
		pthread_mutex_lock(t->lock);
		for (size_t i = (size_t)since; i < t->nmsgs && !found; i++)
			found = strcmp(t->msgs[i].topic, topic) == 0 && strstr(t->msgs[i].payload, needle);
		pthread_mutex_unlock(t->lock);
		if (found || tu_now() >= end)
			return found;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* A sensor group's mean follows its MQTT members; an old-style group of
 * MQTT switches takes their state, announced as a sensor; a light
 * group's /set goes out on every member's command topic. */
static void groups_follow_their_mqtt_members(void **state)
{
	(void)state;
	start("mqbridge: {node_id: th, state_dir: %DIR%/state}\n"
	      "mqtt:\n"
	      "  broker: 127.0.0.1\n"
	      "  port: %PORT%\n"
		   "  sensor:\n"
		   "    - {name: Room A, state_topic: dev/a, unit_of_measurement: °C, "
		   "device_class: temperature}\n"
		   "    - {name: Room B, state_topic: dev/b, unit_of_measurement: °C, "
		   "device_class: temperature}\n"
		   "  switch:\n"
		   "    - {name: Pump, state_topic: dev/pump, command_topic: dev/pump/set}\n"
		   "    - {name: Fan, state_topic: dev/fan, command_topic: dev/fan/set}\n"
		   "  light:\n"
		   "    - {name: Left, command_topic: dev/left/set}\n"
		   "    - {name: Right, command_topic: dev/right/set}\n"
		   "sensor:\n"
		   "  - {platform: group, name: Mean temperature, type: mean,\n"
		   "     entities: [sensor.room_a, sensor.room_b]}\n"
		   "light:\n"
		   "  - {platform: group, name: Both, entities: [light.left, light.right]}\n"
		   "group:\n"
		   "  machines: {name: Machines, entities: [switch.pump, switch.fan]}\n");
	json_t *d = discovery("sensor", "mean_temperature");
	assert_string_equal(json_string_value(json_object_get(d, "state_topic")),
			    BASE "sensor/mean_temperature/state");
	json_decref(d);
	td_device(&T, "dev/a", "20.5");
	td_device(&T, "dev/b", "22");
	td_expect(&T, BASE "sensor/mean_temperature/state", "21.25");
	/* the unit comes once a member has one: a later attributes message */
	td_expect_holds(&T, BASE "sensor/mean_temperature/attributes",
			"\"unit_of_measurement\":\"°C\"");
	td_device(&T, "dev/b", "23");
	td_expect(&T, BASE "sensor/mean_temperature/state", "21.75");

	d = discovery("sensor", "group_machines");
	assert_string_equal(json_string_value(json_object_get(d, "state_topic")),
			    BASE "group/machines/state");
	assert_null(json_object_get(d, "command_topic"));
	json_decref(d);
	td_device(&T, "dev/pump", "OFF");
	td_device(&T, "dev/fan", "OFF");
	td_expect(&T, BASE "group/machines/state", "off");
	td_device(&T, "dev/fan", "ON");
	td_expect(&T, BASE "group/machines/state", "on");

	long since = td_count(&T);
	td_pub(&T, BASE "light/both/set", "ON", false);
	td_expect_after(&T, since, "dev/left/set", "ON");
	td_expect_after(&T, since, "dev/right/set", "ON");
	td_expect(&T, BASE "light/both/state", "on");
	td_stop_clean(&T);
}

/* sun.sun where it is noon now (the longitude chosen for it): above the
 * horizon, announced as a sensor, its events in the attributes. */
static void the_sun_at_noon(void **state)
{
	(void)state;
	time_t now = time(NULL);
	double hours = (double)(now % 86400) / 3600.0;
	double lon = fmod((12 - hours) * 15 + 540, 360) - 180;
	char yaml[1024];
	snprintf(yaml, sizeof yaml, "%s" "homeassistant: {latitude: 0, longitude: %.3f}\nsun:\n",
		 HEAD, lon);
	start(yaml);
	td_expect(&T, BASE "sun/sun/state", "above_horizon");
	json_t *d = discovery("sensor", "sun_sun");
	assert_string_equal(json_string_value(json_object_get(d, "name")), "Sun");
	json_decref(d);
	td_expect(&T, BASE "sun/sun/attributes", NULL);
	const char *a = td_last(&T, BASE "sun/sun/attributes");
	assert_non_null(strstr(a, "\"next_setting\":\""));
	assert_non_null(strstr(a, "\"rising\":"));
	td_stop_clean(&T);
}

/* A template switch's turn_on calls a shell_command whose templated
 * argument comes from the call's data (one argument, no shell), then
 * another whose response it publishes. */
static void a_switch_runs_a_shell_command(void **state)
{
	(void)state;
	start(HEAD "shell_command:\n"
		   "  note: /bin/sh -c 'printf \"%s\" \"$1\" > note.txt' note {{ text }}\n"
		   "  echo: echo {{ text }}\n"
		   "template:\n"
		   "  - switch:\n"
		   "      - name: Note\n"
		   "        state: \"{{ false }}\"\n"
		   "        turn_on:\n"
		   "          - service: shell_command.note\n"
		   "            data: {text: \"it's 'quoted'; $(not run)\"}\n"
		   "          - service: shell_command.echo\n"
		   "            data: {text: \"  one  argument  \"}\n"
		   "            response_variable: out\n"
		   "          - service: mqtt.publish\n"
		   "            data:\n"
		   "              topic: e2e/response\n"
		   "              payload: \"{{ out.stdout }}|{{ out.returncode }}\"\n"
		   "        turn_off: []\n");
	td_expect(&T, BASE "switch/note/state", "off");
	td_pub(&T, BASE "switch/note/set", "ON", false);
	/* the response, as a script's response_variable has it */
	td_expect(&T, "e2e/response", "one  argument|0");
	char path[256];
	snprintf(path, sizeof path, "%s/note.txt", T.dir);
	struct stat st;
	for (double end = tu_now() + TU_TIMEOUT; stat(path, &st) != 0 || st.st_size == 0;) {
		if (tu_now() > end) {
			td_dump(&T);
			fail_msg("%s was not written", path);
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	FILE *f = fopen(path, "r");
	char text[128] = "";
	assert_non_null(fgets(text, sizeof text, f));
	fclose(f);
	assert_string_equal(text, "it's 'quoted'; $(not run)");
	td_stop_clean(&T);
}

/* Two daemons on one broker, each publishing its events and firing the
 * other's; what came from the stream is not published again. */
static void two_daemons_see_each_others_events(void **state)
{
	(void)state;
	start(HEAD "input_boolean:\n  porch:\n"
		   "automation:\n"
		   "  - triggers: {trigger: state, entity_id: input_boolean.porch, to: 'on'}\n"
		   "    actions: {event: porch_opened, event_data: {by: porch}}\n"
		   "mqtt_eventstream:\n"
		   "  publish_topic: es/a\n"
		   "  subscribe_topic: es/b\n"
		   "  ignore_event: state_changed\n");
	td_init(&U, NULL);
	U_live = true;
	char yaml[1024];
	snprintf(yaml, sizeof yaml,
		 "mqbridge: {node_id: other, state_dir: %%DIR%%/state}\n"
		 "mqtt: {broker: 127.0.0.1, port: %d, reconnect_min: 0.1, reconnect_max: 0.5}\n"
		 "input_boolean:\n  door:\n"
		 "automation:\n"
		 "  - triggers: {trigger: event, event_type: porch_opened}\n"
		 "    actions:\n"
		 "      action: mqtt.publish\n"
		 "      data: {topic: e2e/seen, payload: \"{{ trigger.event.data.by }}\"}\n"
		 "mqtt_eventstream: {publish_topic: es/b, subscribe_topic: es/a}\n",
		 T.broker.port);
	td_write_config(&U, yaml);
	td_start(&U, NULL);
	td_expect(&T, "mqbridge/other/status", "online");

	/* test_state_changed_event_sends_message, in Home Assistant's format */
	long since = td_count(&T);
	td_pub(&T, BASE "input_boolean/porch/set", "ON", false);
	assert_true(seen(&T, since, "es/a", "{\"event_type\": \"call_service\", \"event_data\": {",
			 TU_TIMEOUT));
	assert_true(seen(&T, since, "es/a", "\"service\": \"turn_on\"", 0));
	/* test_ignored_event_doesnt_send_over_stream */
	assert_false(seen(&T, since, "es/a", "\"event_type\": \"state_changed\"", 0));
	/* A's automation fires porch_opened, B's automation hears it */
	td_expect_after(&T, since, "e2e/seen", "porch");
	/* the other fires it, and does not send it back */
	if (!td_log_wait(&U, "es/a: fired call_service", TU_TIMEOUT)) {
		td_dump(&U);
		td_dump(&T);
		fail_msg("the other daemon fired nothing");
	}
	assert_false(seen(&T, since, "es/b", "\"event_type\": \"porch_opened\"", 1));
	assert_false(seen(&T, since, "es/b", "\"entity_id\": \"input_boolean.porch\"", 0));

	/* and the other way: its state_changed is not fired here (states
	 * are the state machine's own), its call_service is */
	since = td_count(&T);
	td_pub(&T, "mqbridge/other/input_boolean/door/set", "ON", false);
	assert_true(seen(&T, since, "es/b", "\"event_type\": \"state_changed\"", TU_TIMEOUT));
	assert_true(td_log_wait(&T, "es/b: fired call_service", TU_TIMEOUT));
	assert_true(td_log_wait(&T, "es/b: state_changed of another instance not fired",
				TU_TIMEOUT));
	assert_false(seen(&T, since, "es/a", "input_boolean.door", 1));

	/* test_receiving_remote_event_fires_hass_event: a Home Assistant's
	 * message; its start is not ours (BLOCKED_EVENTS) */
	td_pub(&T, "es/b", "{\"event_type\": \"homeassistant_start\", \"event_data\": {}}", false);
	td_pub(&T, "es/b", "{\"event_type\": \"test_event\", \"event_data\": {\"source\": \"ha\"}}",
	       false);
	assert_true(td_log_wait(&T, "es/b: fired test_event", TU_TIMEOUT));
	assert_int_equal(td_log_count(&T, "fired homeassistant_start"), 0);
	/* fired from the stream, so not published again */
	assert_false(seen(&T, 0, "es/a", "test_event", 0.5));
	td_pub(&T, "es/b", "not json", false);
	assert_true(td_log_wait(&T, "es/b: not an event", TU_TIMEOUT));
	td_stop_clean(&U);
	td_stop_clean(&T);
}

/* The options as Home Assistant's schema has them: a topic to publish to
 * has no wildcard, ignore_event is a list of types. */
static void eventstream_options_are_checked(void **state)
{
	(void)state;
	td_init(&T, NULL);
	T_live = true;
	td_write_config(&T, HEAD "mqtt_eventstream:\n"
				 "  publish_topic: es/#\n"
				 "  subscribe_topic: es/+\n"
				 "  ignore_event: {a: b}\n"
				 "  extra: 1\n");
	char err[2048];
	assert_int_equal(td_run(&T, err, sizeof err, "-C", NULL), 78);
	assert_non_null(strstr(err, "mqtt_eventstream.publish_topic:"));
	assert_non_null(strstr(err, "mqtt_eventstream.ignore_event: expected a list of event "
				    "types"));
	assert_non_null(strstr(err, "mqtt_eventstream.extra: unknown option"));
	assert_null(strstr(err, "subscribe_topic"));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(eventstream_options_are_checked, teardown),
	cmocka_unit_test_teardown(groups_follow_their_mqtt_members, teardown),
	cmocka_unit_test_teardown(the_sun_at_noon, teardown),
	cmocka_unit_test_teardown(a_switch_runs_a_shell_command, teardown),
	cmocka_unit_test_teardown(two_daemons_see_each_others_events, teardown),
};

TU_MAIN(tests)
