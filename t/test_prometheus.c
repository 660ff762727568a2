/* SPDX-License-Identifier: MIT */
/* The prometheus integration end to end (platforms/prometheus.c): the
 * real daemon with MQTT entities, scraped while messages flow, every page
 * parsed by Prometheus' own parser (t/prom-parse.py, python3-prometheus-
 * client). Oracle: homeassistant/components/prometheus (its metric names,
 * labels and filter) and tests/components/prometheus/test_init.py, which
 * asserts e.g. sensor_temperature_celsius{domain="sensor",entity=...,
 * friendly_name=...}, entity_available and last_updated_time_seconds;
 * test_climate and test_renaming_entity_name (climate_action with an
 * action label per HVAC action), test_attributes (switch_attr_<name>),
 * test_disabling_entity (state_change_total and state_change_created),
 * and its _handle_automation (automation_triggered_count). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "daemon.h"
#include "testutil.h"

static struct td T;
static int port;

static int teardown(void **state)
{
	(void)state;
	td_fini(&T);
	return 0;
}

/* The parsed page (prom-parse.py's lines) into out; false if the parser
 * refused it or the endpoint did not answer. */
static bool scrape(const char *path, char *out, size_t len)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s http://127.0.0.1:%d%s 2>&1", PROM_PARSE, port,
		 path);
	FILE *p = popen(cmd, "r");
	if (!p)
		return false;
	size_t n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return pclose(p) == 0;
}

static void expect_line(const char *page, const char *line)
{
	char with_nl[260];
	size_t n = strlen(line);
	snprintf(with_nl, sizeof with_nl, "\n%s\n", line);
	if (!(strncmp(page, line, n) == 0 && page[n] == '\n') && !strstr(page, with_nl)) {
		printf("%s", page);
		fail_msg("the page has no line '%s'", line);
	}
}

/* The value of the sample name{entity} on the page, or -1. */
static double value(const char *page, const char *name, const char *entity)
{
	char head[256];
	snprintf(head, sizeof head, "\n%s %s ", name, entity);
	const char *p = strstr(page, head);
	return p ? strtod(p + strlen(head), NULL) : -1;
}

#define CONFIG \
	"mqbridge: {node_id: tp}\n" \
	"mqtt:\n" \
	"  broker: 127.0.0.1\n" \
	"  port: %%PORT%%\n" \
	"  sensor:\n" \
	"    - {name: Outside, state_topic: weather/outside, unit_of_measurement: \"°C\",\n" \
	"       device_class: temperature}\n" \
	"    - {name: Secret, state_topic: weather/secret}\n" \
	"    - {name: Flow, state_topic: flow/rate, unit_of_measurement: \"m³/h\"}\n" \
	"  binary_sensor:\n" \
	"    - {name: Door, state_topic: door/state, payload_on: OPEN, payload_off: SHUT}\n" \
	"input_number:\n" \
	"  level: {min: 0, max: 10, initial: 4}\n" \
	"prometheus:\n" \
	"  server_port: %d\n" \
	"  filter:\n" \
	"    exclude_entities: sensor.secret\n"

static void the_page_parses_while_messages_flow_with_home_assistants_names(void **state)
{
	(void)state;
	static char page[1 << 17];
	char yaml[2048];
	port = tu_free_port();
	snprintf(yaml, sizeof yaml, CONFIG, port);
	td_init(&T, NULL);
	td_write_config(&T, yaml);
	td_start(&T, NULL);
	td_expect(&T, "mqbridge/tp/status", "online");
	td_expect_log(&T, "metrics on http://127.0.0.1:");

	/* scraped while bursts are still being handled */
	char v[16];
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 200; i++) {
			snprintf(v, sizeof v, "%d.5", i % 40);
			td_pub(&T, "weather/outside", v, false);
			td_pub(&T, "flow/rate", v, false);
		}
		td_pub(&T, "door/state", round % 2 ? "OPEN" : "SHUT", false);
		if (!scrape("/metrics", page, sizeof page)) {
			td_dump(&T);
			fail_msg("the parser refused the page: %s", page);
		}
	}
	td_pub(&T, "weather/outside", "21.5", false);
	td_pub(&T, "weather/secret", "7", false);
	td_pub(&T, "door/state", "OPEN", false);
	td_expect(&T, "mqbridge/tp/sensor/outside/state", "21.5");
	td_expect(&T, "mqbridge/tp/binary_sensor/door/state", "on");
	td_expect(&T, "mqbridge/tp/sensor/secret/state", "7");
	assert_true(scrape("/api/prometheus", page, sizeof page));

	expect_line(page, "type homeassistant_sensor_temperature_celsius gauge");
	expect_line(page, "homeassistant_sensor_temperature_celsius sensor.outside 21.5");
	/* HA's name for a unit of its own: the superscript as its code point */
	expect_line(page, "homeassistant_sensor_unit_mu0xb3_per_h sensor.flow 39.5");
	expect_line(page, "homeassistant_binary_sensor_state binary_sensor.door 1.0");
	expect_line(page, "homeassistant_input_number_state input_number.level 4.0");
	expect_line(page, "homeassistant_entity_available sensor.outside 1.0");
	expect_line(page, "type homeassistant_state_change counter");
	assert_true(value(page, "homeassistant_state_change_total", "sensor.outside") > 100);
	assert_true(value(page, "homeassistant_last_updated_time_seconds", "sensor.outside") >
		    1.7e9);
	/* the filter */
	assert_null(strstr(page, "sensor.secret"));
	/* the daemon's own */
	assert_true(value(page, "mqbridge_mqtt_messages_received_total", "-") >= 2000);
	expect_line(page, "mqbridge_mqtt_connected - 1.0");
	expect_line(page, "mqbridge_command_failures_total - 0.0");
	assert_true(value(page, "process_resident_memory_bytes", "-") > 1e5);

	/* a health check for containers */
	char cmd[256], out[256] = "";
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c 'import urllib.request as u; "
		 "r = u.urlopen(\"http://127.0.0.1:%d/healthz\"); print(r.status, r.read().decode())'",
		 port);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	pclose(p);
	td_expect_in(out, "200 ok");
	td_stop_clean(&T);
}

#define MORE \
	"mqbridge: {node_id: tp}\n" \
	"mqtt:\n" \
	"  broker: 127.0.0.1\n" \
	"  port: %%PORT%%\n" \
	"  climate:\n" \
	"    - name: HeatPump\n" \
	"      modes: ['off', heat, cool]\n" \
	"      mode_state_topic: hp/mode\n" \
	"      action_topic: hp/action\n" \
	"      temperature_state_topic: hp/target\n" \
	"      current_temperature_topic: hp/current\n" \
	"      fan_modes: [auto, low]\n" \
	"      fan_mode_state_topic: hp/fan\n" \
	"      preset_modes: [eco, away]\n" \
	"      preset_mode_state_topic: hp/preset\n" \
	"      preset_mode_command_topic: hp/preset/set\n" \
	"  switch:\n" \
	"    - {name: Plug, command_topic: plug/set, state_topic: plug/state,\n" \
	"       json_attributes_topic: plug/attrs}\n" \
	"counter:\n" \
	"  pings: {}\n" \
	"automation:\n" \
	"  - alias: Ping\n" \
	"    triggers: {trigger: state, entity_id: switch.plug, to: \"on\"}\n" \
	"    actions: {action: counter.increment, target: {entity_id: counter.pings}}\n" \
	"prometheus:\n" \
	"  namespace: \"\"\n" \
	"  server_port: %d\n"

static void climate_switch_attributes_automations_and_counters_as_home_assistant(void **state)
{
	(void)state;
	static char page[1 << 17];
	char yaml[2048];
	port = tu_free_port();
	snprintf(yaml, sizeof yaml, MORE, port);
	td_init(&T, NULL);
	td_write_config(&T, yaml);
	double t0 = (double)time(NULL);
	td_start(&T, NULL);
	td_expect(&T, "mqbridge/tp/status", "online");
	td_expect_log(&T, "metrics on http://127.0.0.1:");
	td_pub(&T, "hp/mode", "heat", false);
	td_pub(&T, "hp/action", "heating", false);
	td_pub(&T, "hp/target", "20", false);
	td_pub(&T, "hp/current", "25", false);
	td_pub(&T, "hp/fan", "auto", false);
	td_pub(&T, "hp/preset", "away", false);
	td_pub(&T, "plug/attrs", "{\"Power\": 10.2, \"enabled\": true, \"label\": \"kitchen\", "
				 "\"voltage\": \" 230 \"}", false);
	td_expect_holds(&T, "mqbridge/tp/switch/plug/attributes", "\"label\":\"kitchen\"");
	/* the automation runs at each turn to on: twice */
	long at = 0;
	for (int i = 0; i < 3; i++) {
		td_pub(&T, "plug/state", i % 2 ? "OFF" : "ON", false);
		at = td_expect_after(&T, at, "mqbridge/tp/switch/plug/state", i % 2 ? "off" : "on");
	}
	td_expect(&T, "mqbridge/tp/climate/heatpump/state", "heat");
	td_expect_holds(&T, "mqbridge/tp/climate/heatpump/attributes", "\"preset_mode\":\"away\"");
	td_expect_holds(&T, "mqbridge/tp/climate/heatpump/attributes", "\"hvac_action\":\"heating\"");
	td_expect_holds(&T, "mqbridge/tp/climate/heatpump/attributes", "\"fan_mode\":\"auto\"");
	td_expect_holds(&T, "mqbridge/tp/climate/heatpump/attributes", "\"current_temperature\":25");
	td_expect_holds(&T, "mqbridge/tp/climate/heatpump/attributes", "\"temperature\":20");
	td_expect(&T, "mqbridge/tp/counter/pings/state", "2");
	if (!scrape("/metrics", page, sizeof page)) {
		td_dump(&T);
		fail_msg("the parser refused the page: %s", page);
	}
	/* HA's test_climate, test_renaming_entity_name: every HVAC action
	 * labelled, the current one 1; the mode among hvac_modes; the preset
	 * and fan modes among theirs */
	expect_line(page, "type climate_action gauge");
	expect_line(page, "climate_action climate.heatpump{action=heating} 1.0");
	expect_line(page, "climate_action climate.heatpump{action=cooling} 0.0");
	expect_line(page, "climate_action climate.heatpump{action=preheating} 0.0");
	expect_line(page, "type climate_mode gauge");
	expect_line(page, "climate_mode climate.heatpump{mode=heat} 1.0");
	expect_line(page, "climate_mode climate.heatpump{mode=off} 0.0");
	expect_line(page, "climate_mode climate.heatpump{mode=cool} 0.0");
	expect_line(page, "climate_preset_mode climate.heatpump{mode=away} 1.0");
	expect_line(page, "climate_preset_mode climate.heatpump{mode=eco} 0.0");
	expect_line(page, "climate_preset_mode climate.heatpump{mode=none} 0.0");
	expect_line(page, "climate_fan_mode climate.heatpump{mode=auto} 1.0");
	expect_line(page, "climate_target_temperature_celsius climate.heatpump 20.0");
	expect_line(page, "climate_current_temperature_celsius climate.heatpump 25.0");
	/* test_attributes: what float() takes, the name in lower case */
	expect_line(page, "switch_state switch.plug 1.0");
	expect_line(page, "switch_attr_power switch.plug 10.2");
	expect_line(page, "switch_attr_enabled switch.plug 1.0");
	expect_line(page, "switch_attr_voltage switch.plug 230.0");
	assert_null(strstr(page, "switch_attr_label"));
	assert_null(strstr(page, "switch_attr_friendly_name"));
	/* _handle_automation: a counter that moves with each of its states */
	expect_line(page, "type automation_triggered_count counter");
	double runs = value(page, "automation_triggered_count_total", "automation.ping");
	assert_true(runs >= 3); /* the first state, and at least one per run */
	assert_true(runs == value(page, "state_change_total", "automation.ping"));
	double made = value(page, "automation_triggered_count_created", "automation.ping");
	assert_true(made >= t0 - 1 && made <= (double)time(NULL) + 1);
	/* test_disabling_entity: state_change_total with its _created */
	expect_line(page, "type state_change_created gauge");
	made = value(page, "state_change_created", "switch.plug");
	assert_true(made >= t0 - 1 && made <= (double)time(NULL) + 1);
	assert_true(value(page, "state_change_total", "switch.plug") >= 1);
	td_stop_clean(&T);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(the_page_parses_while_messages_flow_with_home_assistants_names,
				  teardown),
	cmocka_unit_test_teardown(
		climate_switch_attributes_automations_and_counters_as_home_assistant, teardown),
};

/* Without Prometheus' parser there is nothing to hold the page against:
 * the driver is skipped (automake's 77), not failed, as on a machine
 * without python3-prometheus-client. */
int main(int argc, char **argv)
{
	if (system("/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1") != 0) {
		fprintf(stderr, "skipped: /usr/bin/python3 has no prometheus_client "
				"(apt-get install python3-prometheus-client)\n");
		return 77;
	}
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
