/* SPDX-License-Identifier: MIT */
/* The bridge end to end (DESIGN §8): the real daemon with the test-only
 * `testing` integration (t/platforms/testing.c) against a real mosquitto:
 * discovery key by key, states, availability, commands in, re-announcing
 * after Home Assistant's birth and after a broker restart, statestream,
 * and a thousand entities. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "daemon.h"
#include "testutil.h"
#include "mqbridge/platform.h"

#define HEAD_WITH(more) \
	"mqbridge: {node_id: tb, name: Test bridge}\n" \
	"mqtt: {broker: 127.0.0.1, port: %PORT%, reconnect_min: 0.1, reconnect_max: 0.5" more "}\n"
#define HEAD HEAD_WITH("")

static char tdir[512];
/* One daemon per test; the teardown cleans up after a failed assertion,
 * whose longjmp skips the test's own td_fini. */
static struct td T;
static int teardown(void **state)
{
	(void)state;
	td_fini(&T);
	return 0;
}

static void start(struct td *t, const char *yaml)
{
	td_init(t, NULL);
	td_write_config(t, yaml);
	td_start(t, "-P", tdir, NULL);
}

static json_t *discovery(struct td *t, const char *component, const char *object_id)
{
	char topic[256];
	snprintf(topic, sizeof topic, "homeassistant/%s/tb/%s/config", component, object_id);
	if (td_wait(t, topic, NULL, TU_TIMEOUT) < 0) {
		td_dump(t);
		fail_msg("no discovery on %s", topic);
	}
	json_error_t e;
	json_t *j = json_loads(td_last(t, topic), 0, &e);
	assert_non_null(j);
	return j;
}

static void assert_key(const json_t *j, const char *key, const char *want)
{
	const json_t *v = json_object_get(j, key);
	if (!want) {
		if (v)
			fail_msg("key %s is present: %s", key, json_string_value(v));
		return;
	}
	if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
		fail_msg("key %s: want '%s', got '%s'", key, want,
			 json_is_string(v) ? json_string_value(v) : "(not a string)");
}

/* A command topic is subscribed a moment after an entity added late is
 * announced: wait for the broker to have it. */
static void wait_subscribed(const char *topic)
{
	char needle[256];
	snprintf(needle, sizeof needle, "mqbridge-tb 0 %s", topic);
	if (!tu_broker_log_wait(&T.broker, needle, 1, TU_TIMEOUT))
		fail_msg("never subscribed to %s", topic);
}

/* A main file copied from Home Assistant runs: its own integrations
 * are named once in a warning, and logger: gives a subsystem its level
 * (here the bridge's is warning, under the command line's debug). */
static void home_assistant_integrations_skipped_and_logger_levels(void **state)
{
	(void)state;
	start(&T, HEAD "recorder: {purge_keep_days: 7}\n"
		       "http: {server_port: 8124}\n"
		       "logger:\n"
		       "  default: info\n"
		       "  logs: {mqbridge.bridge: warning, homeassistant.components.mqtt: debug}\n"
		       "switch: [{platform: testing, name: Pump, state: 'off'}]\n");
	td_expect(&T, "mqbridge/tb/switch/pump/state", "off");
	td_expect_log(&T, "[main] skipped, as mqbridge does not have them: recorder (");
	assert_int_equal(td_log_count(&T, "skipped, as mqbridge"), 1);
	assert_int_equal(td_log_count(&T, "http ("), 1);
	td_expect_log(&T, "[mqtt] connected to");
	assert_int_equal(td_log_count(&T, "[bridge]"), 0);
	td_stop_clean(&T);
	assert_int_equal(td_log_count(&T, "[bridge]"), 0);
	assert_true(td_log_count(&T, "[main]") > 0);
}

static char *unique_id_on(struct td *t, const char *object_id)
{
	json_t *d = discovery(t, "sensor", object_id);
	char *uid = strdup(json_string_value(json_object_get(d, "unique_id")));
	json_decref(d);
	return uid;
}

#define THREE_SENSORS                                                                   \
	"sensor:\n"                                                                     \
	"  - {platform: testing, name: Alpha, unique_id: alpha-1, state: '1'}\n"        \
	"  - {platform: testing, name: Beta, state: '2'}\n"

/* No ghosts (DESIGN §8): an entity gone from the configuration while the
 * daemon was stopped has its discovery, state and availability cleared at
 * the next start; the others keep their unique ids, and what is retained
 * for another node, or on a topic the bridge never publishes, stays. */
static void an_entity_removed_while_stopped_leaves_no_ghost(void **state)
{
	(void)state;
	start(&T, HEAD THREE_SENSORS "  - {platform: testing, name: Gamma, state: '3'}\n");
	td_expect(&T, "mqbridge/tb/sensor/gamma/state", "3");
	td_expect(&T, "mqbridge/tb/sensor/gamma/availability", "online");
	char *alpha = unique_id_on(&T, "alpha"), *beta = unique_id_on(&T, "beta");
	json_decref(discovery(&T, "sensor", "gamma"));
	td_pub(&T, "homeassistant/sensor/othernode/gamma/config", "{\"name\": \"x\"}", true);
	td_pub(&T, "mqbridge/tb/sensor/gamma/set", "ON", true);
	td_stop_clean(&T);

	long since = td_count(&T);
	td_write_config(&T, HEAD THREE_SENSORS);
	td_start(&T, "-P", tdir, NULL);
	td_expect_after(&T, since, "homeassistant/sensor/tb/gamma/config", "");
	td_expect_after(&T, since, "mqbridge/tb/sensor/gamma/state", "");
	td_expect_after(&T, since, "mqbridge/tb/sensor/gamma/availability", "");
	td_expect_log(&T, "[bridge] cleared homeassistant/sensor/tb/gamma/config: retained for an "
			  "entity the configuration no longer has");
	td_expect_log(&T, "3 retained topic(s) of removed entities cleared");
	td_expect_after(&T, since, "mqbridge/tb/sensor/alpha/state", "1");
	td_expect_after(&T, since, "mqbridge/tb/sensor/beta/state", "2");
	char buf[256];
	assert_null(td_retained(&T, "homeassistant/sensor/tb/gamma/config", buf, sizeof buf));
	assert_null(td_retained(&T, "mqbridge/tb/sensor/gamma/state", buf, sizeof buf));
	assert_non_null(td_retained(&T, "homeassistant/sensor/othernode/gamma/config", buf,
				    sizeof buf));
	assert_string_equal(td_retained(&T, "mqbridge/tb/sensor/gamma/set", buf, sizeof buf), "ON");
	char *alpha2 = unique_id_on(&T, "alpha"), *beta2 = unique_id_on(&T, "beta");
	assert_string_equal(alpha2, alpha);
	assert_string_equal(beta2, beta);
	assert_int_equal(td_count_payload(&T, since, "homeassistant/sensor/tb/alpha/config", ""), 0);
	assert_int_equal(td_count_payload(&T, since, "mqbridge/tb/sensor/beta/state", ""), 0);
	assert_int_equal(td_count_payload(&T, since, "homeassistant/sensor/othernode/gamma/config", ""),
			 0);
	assert_int_equal(td_count_payload(&T, since, "mqbridge/tb/sensor/gamma/set", ""), 0);
	td_stop_clean(&T);
	/* the next start sweeps again, and finds nothing more */
	assert_int_equal(td_log_count(&T, "[bridge] swept:"), 2);
	td_start(&T, "-P", tdir, NULL);
	for (double end = tu_now() + TU_TIMEOUT; td_log_count(&T, "[bridge] swept:") < 3;)
		if (tu_now() > end)
			fail_msg("no third sweep");
		else
			usleep(10000);
	assert_int_equal(td_log_count(&T, ", 0 cleared"), 2);
	td_stop_clean(&T);
	free(alpha);
	free(beta);
	free(alpha2);
	free(beta2);
}

/* What is retained under the node is read again after every connect: a
 * ghost that came while the bridge was connected (a second bridge with
 * an older configuration, a hand-made test) goes at the next one. */
static void a_ghost_is_cleared_after_a_reconnect(void **state)
{
	(void)state;
	start(&T, HEAD "sensor: [{platform: testing, name: Level, state: '7'}]\n");
	td_expect(&T, "mqbridge/tb/sensor/level/state", "7");
	td_pub(&T, "homeassistant/sensor/tb/stale/config", "{\"unique_id\": \"tb_stale\"}", true);
	td_pub(&T, "mqbridge/tb/sensor/stale/availability", "online", true);
	long n = td_count(&T);
	td_take_over(&T, "mqbridge-tb");
	td_expect_after(&T, n, "homeassistant/sensor/tb/stale/config", "");
	td_expect_after(&T, n, "mqbridge/tb/sensor/stale/availability", "");
	td_expect_after(&T, n, "mqbridge/tb/sensor/level/state", "7");
	char buf[256];
	assert_non_null(td_retained(&T, "homeassistant/sensor/tb/level/config", buf, sizeof buf));
	td_stop_clean(&T);
}

/* Until the device's discovery last seen since has n components. */
static json_t *device_with(struct td *t, long since, size_t n)
{
	td_wait_after(t, since, "homeassistant/device/tb/config", NULL, TU_TIMEOUT);
	for (double end = tu_now() + TU_TIMEOUT;; usleep(20000)) {
		const char *s = td_last(t, "homeassistant/device/tb/config");
		json_t *j = s ? json_loads(s, 0, NULL) : NULL;
		if (j && json_object_size(json_object_get(j, "cmps")) == n)
			return j;
		json_decref(j);
		if (tu_now() > end) {
			td_dump(t);
			fail_msg("the device's discovery never had %zu components", n);
		}
	}
}

/* discovery_mode: device (Home Assistant 2024.11, its discovery.py
 * _parse_device_payload and test_discovery.py's device tests): one
 * retained message with the device ("dev"), the origin ("o") and each
 * entity's payload under "cmps" with its platform as "p"; the per-entity
 * topics of an earlier entity-mode run are cleared, and an entity gone
 * from the configuration is sent once as {"p": platform}, which removes
 * it, and then left out. An entity of a device of its own keeps its own
 * message. */
static void device_discovery_carries_every_entity_and_removes_what_is_gone(void **state)
{
	(void)state;
	start(&T, HEAD THREE_SENSORS "  - {platform: testing, name: Gamma, state: '3'}\n");
	json_decref(discovery(&T, "sensor", "gamma"));
	td_stop_clean(&T);

	long since = td_count(&T);
	td_write_config(&T, HEAD_WITH(", discovery_mode: device")
			THREE_SENSORS "  - {platform: testing, name: Gamma, state: '3'}\n"
			"  - {platform: testing, name: Own, state: '4', unique_id: own-1,\n"
			"     device: Own device}\n");
	td_start(&T, "-P", tdir, NULL);
	td_expect_after(&T, since, "homeassistant/sensor/tb/gamma/config", "");
	td_expect_after(&T, since, "homeassistant/sensor/tb/alpha/config", "");
	td_expect_after(&T, since, "mqbridge/tb/sensor/gamma/state", "3");
	json_t *d = device_with(&T, since, 4); /* and the bridge's own sensor */
	json_t *dev = json_object_get(d, "dev"), *o = json_object_get(d, "o");
	json_t *cmps = json_object_get(d, "cmps");
	assert_key(dev, "name", "Test bridge");
	assert_string_equal(json_string_value(json_array_get(json_object_get(dev, "identifiers"), 0)),
			    "tb");
	assert_key(o, "name", "mqbridge");
	json_t *alpha = json_object_get(cmps, "alpha");
	assert_key(alpha, "p", "sensor");
	assert_key(alpha, "unique_id", "alpha-1");
	assert_key(alpha, "state_topic", "mqbridge/tb/sensor/alpha/state");
	assert_null(json_object_get(alpha, "device"));
	assert_key(json_object_get(cmps, "gamma"), "unique_id", "tb_gamma");
	assert_non_null(json_object_get(cmps, "beta"));
	json_t *own = discovery(&T, "sensor", "own");
	assert_null(json_object_get(cmps, "own"));
	assert_key(json_object_get(own, "device"), "name", "Own device");
	json_decref(own);
	json_decref(d);
	assert_int_equal(td_count_topic(&T, since, "homeassistant/device/", "/config"), 1);
	td_stop_clean(&T);

	since = td_count(&T);
	td_write_config(&T, HEAD_WITH(", discovery_mode: device") THREE_SENSORS);
	td_start(&T, "-P", tdir, NULL);
	td_expect_after(&T, since, "mqbridge/tb/sensor/gamma/state", "");
	td_expect_after(&T, since, "homeassistant/sensor/tb/own/config", "");
	d = device_with(&T, since, 4);
	char *gamma = json_dumps(json_object_get(json_object_get(d, "cmps"), "gamma"), JSON_COMPACT);
	assert_string_equal(gamma, "{\"p\":\"sensor\"}");
	free(gamma);
	json_decref(d);
	td_expect_log(&T, "removing gamma from the device's discovery");
	td_stop_clean(&T);
	/* once removed, left out */
	since = td_count(&T);
	td_start(&T, "-P", tdir, NULL);
	d = device_with(&T, since, 3);
	assert_null(json_object_get(json_object_get(d, "cmps"), "gamma"));
	json_decref(d);
	td_stop_clean(&T);

	/* back to entity mode: the device's message is cleared */
	since = td_count(&T);
	td_write_config(&T, HEAD THREE_SENSORS);
	td_start(&T, "-P", tdir, NULL);
	td_expect_after(&T, since, "homeassistant/device/tb/config", "");
	long i = td_wait_after(&T, since, "homeassistant/sensor/tb/beta/config", NULL, TU_TIMEOUT);
	assert_true(i >= 0);
	assert_string_not_equal(td_last(&T, "homeassistant/sensor/tb/beta/config"), "");
	td_stop_clean(&T);
}

/* An entity renamed with its unique_id kept stays where Home Assistant
 * knows it: announced on its old discovery topic (with its new object id
 * and state topics), so Home Assistant keeps its entity id and history;
 * its old state topics are cleared. */
static void a_renamed_entity_with_its_unique_id_keeps_its_discovery_topic(void **state)
{
	(void)state;
	start(&T, HEAD "sensor: [{platform: testing, name: Pump, unique_id: pump-1, state: '5'}]\n");
	td_expect(&T, "mqbridge/tb/sensor/pump/state", "5");
	json_decref(discovery(&T, "sensor", "pump"));
	td_stop_clean(&T);

	long since = td_count(&T);
	td_write_config(&T, HEAD "sensor: [{platform: testing, name: Garden pump, unique_id: pump-1,"
				 " state: '6'}]\n");
	td_start(&T, "-P", tdir, NULL);
	td_expect_after(&T, since, "mqbridge/tb/sensor/garden_pump/state", "6");
	td_expect_after(&T, since, "mqbridge/tb/sensor/pump/state", "");
	long at = td_wait_after(&T, since, "homeassistant/sensor/tb/pump/config", NULL, TU_TIMEOUT);
	assert_true(at >= 0);
	json_t *d = discovery(&T, "sensor", "pump");
	assert_key(d, "unique_id", "pump-1");
	assert_key(d, "object_id", "garden_pump");
	assert_key(d, "state_topic", "mqbridge/tb/sensor/garden_pump/state");
	json_decref(d);
	td_expect_log(&T, "sensor.garden_pump: announced on homeassistant/sensor/tb/pump/config, "
			  "where Home Assistant knows its unique id pump-1");
	td_stop_clean(&T);
	assert_int_equal(td_count_topic(&T, since, "homeassistant/sensor/tb/garden_pump/", "config"),
			 0);
	assert_int_equal(td_count_payload(&T, since, "homeassistant/sensor/tb/pump/config", ""), 0);
}

static void switch_discovery_and_state(void **state)
{
	(void)state;
	start(&T, HEAD "switch: [{platform: testing, name: Garden pump, state: 'off', icon: 'mdi:pump'}]\n");
	td_expect(&T, "mqbridge/tb/status", "online");
	json_t *d = discovery(&T, "switch", "garden_pump");
	assert_key(d, "name", "Garden pump");
	assert_key(d, "unique_id", "tb_garden_pump");
	assert_key(d, "object_id", "garden_pump");
	assert_key(d, "default_entity_id", "switch.garden_pump");
	assert_key(d, "state_topic", "mqbridge/tb/switch/garden_pump/state");
	assert_key(d, "command_topic", "mqbridge/tb/switch/garden_pump/set");
	assert_key(d, "json_attributes_topic", "mqbridge/tb/switch/garden_pump/attributes");
	assert_key(d, "state_on", "on");
	assert_key(d, "state_off", "off");
	assert_key(d, "payload_on", "ON");
	assert_key(d, "payload_off", "OFF");
	assert_key(d, "icon", "mdi:pump");
	assert_key(d, "availability_mode", "all");
	json_t *av = json_object_get(d, "availability");
	assert_int_equal(json_array_size(av), 2);
	assert_key(json_array_get(av, 0), "topic", "mqbridge/tb/status");
	assert_key(json_array_get(av, 1), "topic", "mqbridge/tb/switch/garden_pump/availability");
	json_t *dev = json_object_get(d, "device");
	assert_string_equal(json_string_value(json_array_get(json_object_get(dev, "identifiers"), 0)),
			    "tb");
	assert_key(dev, "name", "Test bridge");
	assert_non_null(json_object_get(dev, "sw_version"));
	json_decref(d);
	td_expect(&T, "mqbridge/tb/switch/garden_pump/state", "off");
	td_expect(&T, "mqbridge/tb/switch/garden_pump/availability", "online");

	/* a command goes through switch.turn_on to the entity and back out */
	long n = td_count(&T);
	wait_subscribed("mqbridge/tb/switch/garden_pump/set");
	td_pub(&T, "mqbridge/tb/switch/garden_pump/set", "ON", false);
	assert_true(td_wait_after(&T, n, "mqbridge/tb/switch/garden_pump/state", "on",
				  TU_TIMEOUT) >= 0);
	n = td_count(&T);
	td_pub(&T, "mqbridge/tb/switch/garden_pump/set", "toggle", false);
	assert_true(td_wait_after(&T, n, "mqbridge/tb/switch/garden_pump/state", "off",
				  TU_TIMEOUT) >= 0);
	/* what is not a switch command changes nothing and is logged */
	wait_subscribed("mqbridge/tb/switch/garden_pump/set");
	td_pub(&T, "mqbridge/tb/switch/garden_pump/set", "ON; touch /tmp/x", false);
	assert_true(td_log_wait(&T, "ignoring command 'ON; touch /tmp/x'", TU_TIMEOUT));
	assert_string_equal(td_last(&T, "mqbridge/tb/switch/garden_pump/state"), "off");

	/* a clean stop leaves "offline" retained */
	assert_int_equal(td_stop(&T), 0);
	td_expect(&T, "mqbridge/tb/status", "offline");
	td_fini(&T);
}

static void every_domain(void **state)
{
	(void)state;
	start(&T, HEAD
	      "sensor:\n"
	      "  - {platform: testing, name: Outside temperature, state: '21.5',\n"
	      "     unit_of_measurement: '°C', device_class: temperature, state_class: measurement,\n"
	      "     attributes: {source: roof}}\n"
	      "  - {platform: testing, name: Gone, unavailable: true}\n"
	      "binary_sensor: [{platform: testing, name: Door, state: 'on', device_class: door}]\n"
	      "light: [{platform: testing, name: Desk, state: 'off'}]\n"
	      "cover: [{platform: testing, name: Garage door, state: closed}]\n"
	      "button: [{platform: testing, name: Reboot}]\n"
	      "number: [{platform: testing, name: Target, state: '20'}]\n"
	      "select: [{platform: testing, name: Mode, state: low}]\n");
	json_t *d = discovery(&T, "sensor", "outside_temperature");
	assert_key(d, "unit_of_measurement", "°C");
	assert_key(d, "device_class", "temperature");
	assert_key(d, "state_class", "measurement");
	assert_key(d, "command_topic", NULL);
	/* a numeric sensor is never handed "unknown" as a value */
	assert_non_null(strstr(json_string_value(json_object_get(d, "value_template")), "None"));
	json_decref(d);
	td_expect(&T, "mqbridge/tb/sensor/outside_temperature/state", "21.5");
	td_expect(&T, "mqbridge/tb/sensor/outside_temperature/attributes", "{\"source\":\"roof\"}");
	td_expect(&T, "mqbridge/tb/sensor/gone/state", "unavailable");
	td_expect(&T, "mqbridge/tb/sensor/gone/availability", "offline");

	d = discovery(&T, "binary_sensor", "door");
	assert_key(d, "payload_on", "on");
	assert_key(d, "payload_off", "off");
	json_decref(d);
	td_expect(&T, "mqbridge/tb/binary_sensor/door/state", "on");

	d = discovery(&T, "light", "desk");
	assert_key(d, "command_topic", "mqbridge/tb/light/desk/set");
	assert_key(d, "payload_on", "ON");
	/* the basic schema's own brightness keys, not the JSON schema's */
	assert_key(d, "brightness_command_topic", "mqbridge/tb/light/desk/set");
	assert_key(d, "brightness_state_topic", "mqbridge/tb/light/desk/attributes");
	assert_null(json_object_get(d, "brightness"));
	assert_null(json_object_get(d, "supported_color_modes"));
	json_decref(d);
	wait_subscribed("mqbridge/tb/light/desk/set");
	td_pub(&T, "mqbridge/tb/light/desk/set", "{\"state\": \"ON\", \"brightness\": 128}", false);
	td_expect(&T, "mqbridge/tb/light/desk/state", "on");
	td_expect(&T, "mqbridge/tb/light/desk/attributes", "{\"brightness\":128}");

	d = discovery(&T, "cover", "garage_door");
	assert_key(d, "payload_open", "OPEN");
	assert_key(d, "state_closed", "closed");
	assert_key(d, "set_position_topic", "mqbridge/tb/cover/garage_door/set");
	assert_key(d, "position_topic", "mqbridge/tb/cover/garage_door/attributes");
	json_decref(d);
	wait_subscribed("mqbridge/tb/cover/garage_door/set");
	td_pub(&T, "mqbridge/tb/cover/garage_door/set", "OPEN", false);
	td_expect(&T, "mqbridge/tb/cover/garage_door/state", "open");

	d = discovery(&T, "button", "reboot");
	assert_key(d, "state_topic", NULL);
	assert_key(d, "payload_press", "PRESS");
	json_decref(d);

	d = discovery(&T, "number", "target");
	assert_key(d, "command_topic", "mqbridge/tb/number/target/set");
	json_decref(d);
	wait_subscribed("mqbridge/tb/number/target/set");
	td_pub(&T, "mqbridge/tb/number/target/set", "22.5", false);
	td_expect(&T, "mqbridge/tb/number/target/state", "22.5");

	d = discovery(&T, "select", "mode");
	assert_int_equal(json_array_size(json_object_get(d, "options")), 3);
	json_decref(d);
	wait_subscribed("mqbridge/tb/select/mode/set");
	td_pub(&T, "mqbridge/tb/select/mode/set", "mid", false);
	td_expect(&T, "mqbridge/tb/select/mode/state", "mid");

	/* the bridge's own diagnostic sensor, with the process's figures and
	 * the daemon's counts */
	td_expect(&T, "mqbridge/tb/sensor/tb_bridge/state", "connected");
	const char *attrs = td_last(&T, "mqbridge/tb/sensor/tb_bridge/attributes");
	json_t *a = attrs ? json_loads(attrs, 0, NULL) : NULL;
	if (!a)
		fail_msg("no attributes for the diagnostic sensor");
	static const char *const keys[] = {"uptime", "memory_resident", "cpu_seconds",
					   "command_failures", "command_timeouts", "render_errors",
					   "executor_queued", "executor_running", "running_scripts",
					   "received", "published"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (!json_is_number(json_object_get(a, keys[i])))
			fail_msg("the diagnostic sensor has no %s: %s", keys[i], attrs);
	assert_true(json_integer_value(json_object_get(a, "memory_resident")) > 100000);
	assert_int_equal(json_integer_value(json_object_get(a, "command_failures")), 0);
	json_decref(a);
	assert_int_equal(td_stop(&T), 0);
	td_fini(&T);
}


static void reannounce(void **state)
{
	(void)state;
	start(&T, HEAD "sensor: [{platform: testing, name: Level, state: '7'}]\n");
	const char *cfg = "homeassistant/sensor/tb/level/config";
	td_expect(&T, cfg, NULL);
	td_expect(&T, "mqbridge/tb/sensor/level/state", "7");

	/* Home Assistant restarted: everything again */
	long n = td_count(&T);
	td_pub(&T, "homeassistant/status", "online", false);
	assert_true(td_wait_after(&T, n, cfg, NULL, TU_TIMEOUT) >= 0);
	assert_true(td_wait_after(&T, n, "mqbridge/tb/sensor/level/state", "7", TU_TIMEOUT) >= 0);
	assert_true(td_wait_after(&T, n, "mqbridge/tb/sensor/level/availability", "online",
				  TU_TIMEOUT) >= 0);
	/* "offline" is not a reason */
	td_pub(&T, "homeassistant/status", "offline", false);
	td_pub(&T, "td/fence", "x", false);
	long fence = td_wait_after(&T, n, "td/fence", "x", TU_TIMEOUT);
	assert_true(fence >= 0);
	size_t configs = td_count_topic(&T, n, cfg, "");
	assert_int_equal(configs, 1);

	/* the broker dies without persistence: retained messages are gone;
	 * the bridge reconnects and publishes them again */
	tu_broker_kill(&T.broker);
	tu_broker_restart(&T.broker);
	/* the watcher reconnects and resubscribes by itself */
	n = td_count(&T);
	assert_true(td_wait_after(&T, n, cfg, NULL, 3 * TU_TIMEOUT) >= 0);
	assert_true(td_wait_after(&T, n, "mqbridge/tb/sensor/level/state", "7", TU_TIMEOUT) >= 0);
	assert_true(td_wait_after(&T, n, "mqbridge/tb/status", "online", TU_TIMEOUT) >= 0);
	assert_int_equal(td_stop(&T), 0);
	td_fini(&T);
}

/* Home Assistant's birth: the bridge says again that it is online, with
 * the rest of the re-announcement (DESIGN §8). */
static void home_assistant_online_hears_the_bridge_online_again(void **state)
{
	(void)state;
	start(&T, HEAD "sensor: [{platform: testing, name: Level, state: '7'}]\n");
	td_expect(&T, "mqbridge/tb/status", "online");
	td_expect(&T, "mqbridge/tb/sensor/level/state", "7");
	long n = td_count(&T);
	td_pub(&T, "homeassistant/status", "online", false);
	long i = td_expect_after(&T, n, "mqbridge/tb/status", "online");
	/* before the entities' own availability, which it qualifies */
	assert_true(td_expect_after(&T, n, "mqbridge/tb/sensor/level/availability", "online") > i);
	td_stop_clean(&T);
	td_fini(&T);
}

static void polled_and_statestream(void **state)
{
	(void)state;
	start(&T, HEAD
	      "sensor: [{platform: testing, name: Ticks, scan_interval: 0.05,\n"
	      "          unit_of_measurement: x}]\n"
	      "mqtt_statestream: {base_topic: homestate, publish_attributes: true}\n");
	td_expect(&T, "mqbridge/tb/status", "online");
	/* once connected, every tick goes out on both topics */
	long n = td_count(&T);
	long i = td_wait_after(&T, n, "homestate/sensor/ticks/state", NULL, TU_TIMEOUT);
	assert_true(i >= 0);
	char next[32];
	snprintf(next, sizeof next, "%d", atoi(td_last(&T, "homestate/sensor/ticks/state")) + 2);
	assert_true(td_wait_after(&T, i, "homestate/sensor/ticks/state", next, TU_TIMEOUT) >= 0);
	assert_true(td_wait_after(&T, n, "mqbridge/tb/sensor/ticks/state", next, TU_TIMEOUT) >= 0);
	td_expect(&T, "homestate/sensor/ticks/unit_of_measurement", "\"x\"");
	assert_int_equal(td_stop(&T), 0);
	td_fini(&T);
}

/* The text of a retained topic, waited for: it holds needle, and no
 * float written with jansson's 17 digits. */
static void expect_in(struct td *t, const char *topic, const char *needle)
{
	if (td_wait(t, topic, NULL, TU_TIMEOUT) < 0) {
		td_dump(t);
		fail_msg("nothing on %s", topic);
	}
	td_expect_in(td_last(t, topic), needle);
	if (strstr(td_last(t, topic), "0000000") || strstr(td_last(t, topic), "9999999"))
		fail_msg("a float with 17 digits on %s: %s", topic, td_last(t, topic));
}

/* Floats go out as Python writes them (repr, as Home Assistant's
 * json.dumps does), not with jansson's 17 digits: an input_number's step
 * 0.1 in its attributes and discovery, sun.sun's kind of attribute 45.12
 * in the attributes topic and statestream's, which also writes
 * json.dumps' ensure_ascii escapes and the timestamps as bare isoformat
 * text (homeassistant/components/mqtt_statestream: json.dumps(val,
 * cls=JSONEncoder), new_state.last_updated.isoformat()). */
static void floats_go_out_as_python_writes_them(void **state)
{
	(void)state;
	start(&T, HEAD
	      "input_number:\n"
	      "  level: {min: 0, max: 1, step: 0.1, unit_of_measurement: \"\xc2\xb0" "C\"}\n"
	      "sensor: [{platform: mqtt, name: Sun, state_topic: in/sun,\n"
	      "          json_attributes_topic: in/sun_attrs}]\n"
	      "mqtt_statestream: {base_topic: homestate, publish_attributes: true,\n"
	      "                   publish_timestamps: true}\n");
	td_expect(&T, "mqbridge/tb/status", "online");
	expect_in(&T, "mqbridge/tb/input_number/level/attributes", "\"step\":0.1");
	expect_in(&T, "homeassistant/number/tb/input_number_level/config", "\"step\":0.1");
	td_expect(&T, "homestate/input_number/level/step", "0.1");
	td_expect(&T, "homestate/input_number/level/unit_of_measurement", "\"\\u00b0C\"");
	td_pub(&T, "in/sun_attrs", "{\"elevation\": 45.12, \"rising\": true}", false);
	td_pub(&T, "in/sun", "above_horizon", false);
	td_expect(&T, "homestate/sensor/sun/elevation", "45.12");
	expect_in(&T, "mqbridge/tb/sensor/sun/attributes", "\"elevation\":45.12");
	const char *lc = td_last(&T, "homestate/sensor/sun/last_changed");
	assert_non_null(lc);
	assert_true(lc[0] >= '0' && lc[0] <= '9');
	td_expect_in(lc, "+00:00");
	td_stop_clean(&T);
	td_fini(&T);
}

/* Blocking updates run in the pool one at a time per platform (Home
 * Assistant's parallel_updates default); one still running when the next
 * is due is skipped with a warning. */
static void blocking_updates(void **state)
{
	(void)state;
	start(&T, HEAD
	      "sensor:\n"
	      "  - {platform: testing, name: Slow a, scan_interval: 0.05, blocking_poll: 0.12}\n"
	      "  - {platform: testing, name: Slow b, scan_interval: 0.05, blocking_poll: 0.12}\n");
	td_expect(&T, "mqbridge/tb/sensor/slow_a/state", "3");
	td_expect(&T, "mqbridge/tb/sensor/slow_b/state", "3");
	assert_true(td_log_wait(&T, "took longer than the scheduled update interval", TU_TIMEOUT));
	/* never two at once */
	assert_string_equal(td_last(&T, "mqbridge/tb/sensor/slow_a/attributes"),
			    "{\"most_at_once\":1}");
	assert_int_equal(td_stop(&T), 0);
	td_fini(&T);
}

/* Entities a blocking setup_platform adds from the pool work as the
 * others. */
static void blocking_setup(void **state)
{
	(void)state;
	start(&T, HEAD "number: [{platform: testing, name: Level, state: '4'}]\n");
	td_expect(&T, "mqbridge/tb/number/level/state", "4");
	wait_subscribed("mqbridge/tb/number/level/set");
	td_pub(&T, "mqbridge/tb/number/level/set", "5", false);
	td_expect(&T, "mqbridge/tb/number/level/state", "5");
	assert_int_equal(td_stop(&T), 0);
	td_fini(&T);
}

/* The loader refuses what it cannot use, at the item that names it. */
static void loader_errors(void **state)
{
	(void)state;
	td_init(&T, NULL);
	td_write_config(&T, HEAD
			"sensor:\n"
			"  - platform: badapi\n"
			"  - platform: nodesc\n"
			"  - platform: nowhere\n"
			"  - platform: testing\n"
			"    name: x\n"
			"    stat: typo\n"
			"  - name: no platform\n"
			"light:\n"
			"  - platform: testing\n"
			"    name: fine\n");
	char err[4096];
	int rc = td_run(&T, err, sizeof err, "-C", "-P", tdir, NULL);
	fprintf(stderr, "%s", err);
	assert_int_equal(rc, 78);
	assert_non_null(strstr(err, "mqbridge.yaml:4:15: sensor[0]: "));
	/* badapi.so was built for API 1 */
	char want[128];
	snprintf(want, sizeof want, "was built for another platform API (got 1, expected %d)",
		 MQB_PLATFORM_API_VERSION);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "mqbridge.yaml:5:15: sensor[1]: "));
	assert_non_null(strstr(err, "nodesc.so has no mqb_platform_descriptor"));
	assert_non_null(strstr(err, "mqbridge.yaml:6:15: sensor[2]: no integration 'nowhere'"));
	assert_non_null(strstr(err, "mqbridge.yaml:9:5: sensor[3].stat: unknown option 'stat' "
				    "(did you mean 'state'?)"));
	assert_non_null(strstr(err, "mqbridge.yaml:10:5: sensor[4]: required key 'platform' "
				    "not provided"));
	assert_null(strstr(err, "light"));
	td_fini(&T);
}

/* Home Assistant's mqtt.publish, here from a template switch's actions. */
static void mqtt_publish_service(void **state)
{
	(void)state;
	start(&T, HEAD
	      "template:\n"
	      "  - switch:\n"
	      "      - name: Relay\n"
	      "        turn_on:\n"
	      "          - service: mqtt.publish\n"
	      "            data: {topic: dev/relay/set, payload_template: \"{{ 'O' ~ 'N' }}\",\n"
	      "                   retain: true, qos: 1}\n"
	      "        turn_off:\n"
	      "          - action: mqtt.publish\n"
	      "            data: {topic_template: \"dev/{{ 'relay' }}/set\", payload: 0}\n"
	      "          - action: mqtt.publish\n"
	      "            data: {topic: \"bad/+/topic\", payload: x}\n");
	wait_subscribed("mqbridge/tb/switch/relay/set");
	td_pub(&T, "mqbridge/tb/switch/relay/set", "ON", false);
	td_expect(&T, "dev/relay/set", "ON");
	long n = td_count(&T);
	td_pub(&T, "mqbridge/tb/switch/relay/set", "OFF", false);
	assert_true(td_wait_after(&T, n, "dev/relay/set", "0", TU_TIMEOUT) >= 0);
	assert_true(td_log_wait(&T, "mqtt.publish: no valid topic (bad/+/topic)", TU_TIMEOUT));
	assert_int_equal(td_stop(&T), 0);
	td_fini(&T);
}

/* A long base topic, object id or attribute name makes long topics: each
 * one goes out whole, never cut short. */
static void long_topics_go_out_whole(void **state)
{
	(void)state;
	char base[320], oid[224], key[320], ss[320];
	snprintf(base, sizeof base, "long/%0300d", 0);
	memset(oid, 'o', 200);
	oid[200] = '\0';
	memset(key, 'k', 300);
	key[300] = '\0';
	snprintf(ss, sizeof ss, "mirror/%0300d", 0);
	char yaml[2048];
	snprintf(yaml, sizeof yaml,
		 "mqbridge: {node_id: tb, name: Test bridge}\n"
		 "mqtt: {broker: 127.0.0.1, port: %%PORT%%, base_topic: %s}\n"
		 "sensor: [{platform: testing, object_id: %s, state: '7', attributes: {%s: v}}]\n"
		 "mqtt_statestream: {base_topic: %s, publish_attributes: true}\n",
		 base, oid, key, ss);
	start(&T, yaml);
	char topic[1200];
	snprintf(topic, sizeof topic, "%s/status", base);
	td_expect(&T, topic, "online");
	snprintf(topic, sizeof topic, "%s/sensor/%s/availability", base, oid);
	td_expect(&T, topic, "online");
	snprintf(topic, sizeof topic, "%s/sensor/%s/attributes", base, oid);
	td_expect(&T, topic, NULL);
	snprintf(topic, sizeof topic, "%s/sensor/%s/state", base, oid);
	td_expect(&T, topic, "7");
	json_t *d = discovery(&T, "sensor", oid);
	assert_key(d, "state_topic", topic);
	char uid[256];
	snprintf(uid, sizeof uid, "tb_%s", oid);
	assert_key(d, "unique_id", uid);
	json_decref(d);
	snprintf(topic, sizeof topic, "%s/sensor/%s/%s", ss, oid, key);
	td_expect(&T, topic, "\"v\"");
	assert_int_equal(td_stop(&T), 0);
	td_fini(&T);
}

/* Many entities: every one discovered and its state published. */
static void many(size_t n)
{
	size_t len = 256 + n * 64;
	char *yaml = malloc(len);
	assert_non_null(yaml);
	/* as fast as it goes: announce_rate is paced_announcement's */
	size_t off = (size_t)snprintf(yaml, len, "%s", HEAD_WITH(", announce_rate: 0") "sensor:\n");
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(yaml + off, len - off,
					"  - {platform: testing, name: s%zu, state: '%zu'}\n", i, i);
	double t0 = tu_now();
	start(&T, yaml);
	free(yaml);
	char topic[128], want[32];
	snprintf(topic, sizeof topic, "mqbridge/tb/sensor/s%zu/state", n - 1);
	snprintf(want, sizeof want, "%zu", n - 1);
	if (td_wait(&T, topic, want, 6 * TU_TIMEOUT) < 0) {
		td_dump(&T);
		fail_msg("the last of %zu entities never arrived", n);
	}
	fprintf(stderr, "# %zu entities: all states out %.2f s after start\n", n, tu_now() - t0);
	/* every discovery topic and every state arrived */
	size_t configs = td_count_topic(&T, 0, "homeassistant/sensor/tb/s", "/config");
	size_t states = td_count_topic(&T, 0, "mqbridge/tb/sensor/s", "/state");
	assert_true(configs >= n);
	assert_true(states >= n);
	assert_int_equal(td_stop(&T), 0);
	td_fini(&T);
}

/* Announcing everything again is paced at announce_rate messages a second
 * (bursts of a tenth of a second's worth): a fleet restarted together
 * must not flood the broker and Home Assistant. */
static void paced_announcement(void **state)
{
	(void)state;
	enum { N = 60, RATE = 200 };
	char yaml[8192];
	size_t off = (size_t)snprintf(yaml, sizeof yaml, "%s",
				      HEAD_WITH(", announce_rate: 200") "sensor:\n");
	for (int i = 0; i < N; i++)
		off += (size_t)snprintf(yaml + off, sizeof yaml - off,
					"  - {platform: testing, name: p%d, state: '%d'}\n", i, i);
	start(&T, yaml);
	char last[64];
	snprintf(last, sizeof last, "mqbridge/tb/sensor/p%d/state", N - 1);
	td_expect(&T, last, NULL);
	long n = td_count(&T);
	td_pub(&T, "homeassistant/status", "online", false);
	long end = td_wait_after(&T, n, last, NULL, 3 * TU_TIMEOUT);
	assert_true(end >= 0);
	/* From the first message of the announcement to its last: the
	 * bridge's own (its status, the diagnostic sensor), then N entities
	 * of discovery, availability, state and attributes. */
	long first = td_wait_after(&T, n, "mqbridge/tb/status", "online", TU_TIMEOUT);
	assert_true(first >= 0 && first < end);
	size_t sent = (size_t)(end - first);
	double span = td_at(&T, end) - td_at(&T, first);
	fprintf(stderr, "# %zu messages in %.2f s at announce_rate %d\n", sent, span, RATE);
	assert_true(sent >= 4 * N);
	/* a burst of a tenth of a second's worth, then the rate */
	assert_true(span >= (double)(sent - RATE / 10 - 16) / RATE);
	td_stop_clean(&T);
	td_fini(&T);
}

static void thousand_discovered(void **state)
{
	(void)state;
	many(1000);
}

static void ten_thousand_load(void **state)
{
	(void)state;
	many(10000);
}

int main(int argc, char **argv)
{
	const char *b = getenv("abs_top_builddir");
	snprintf(tdir, sizeof tdir, "%s/t/platforms", b ? b : ".");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(home_assistant_integrations_skipped_and_logger_levels,
					  teardown),
		cmocka_unit_test_teardown(an_entity_removed_while_stopped_leaves_no_ghost, teardown),
		cmocka_unit_test_teardown(a_ghost_is_cleared_after_a_reconnect, teardown),
		cmocka_unit_test_teardown(a_renamed_entity_with_its_unique_id_keeps_its_discovery_topic,
					  teardown),
		cmocka_unit_test_teardown(
			device_discovery_carries_every_entity_and_removes_what_is_gone, teardown),
		cmocka_unit_test_teardown(switch_discovery_and_state, teardown),
		cmocka_unit_test_teardown(every_domain, teardown),
		cmocka_unit_test_teardown(reannounce, teardown),
		cmocka_unit_test_teardown(home_assistant_online_hears_the_bridge_online_again, teardown),
		cmocka_unit_test_teardown(polled_and_statestream, teardown),
		cmocka_unit_test_teardown(floats_go_out_as_python_writes_them, teardown),
		cmocka_unit_test_teardown(blocking_updates, teardown),
		cmocka_unit_test_teardown(blocking_setup, teardown),
		cmocka_unit_test_teardown(loader_errors, teardown),
		cmocka_unit_test_teardown(mqtt_publish_service, teardown),
		cmocka_unit_test_teardown(long_topics_go_out_whole, teardown),
		cmocka_unit_test_teardown(paced_announcement, teardown),
		cmocka_unit_test_teardown(thousand_discovered, teardown),
		cmocka_unit_test_teardown(ten_thousand_load, teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
