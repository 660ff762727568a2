/* SPDX-License-Identifier: MIT */
/* The prometheus integration end to end (platforms/prometheus.c): the
 * real daemon with MQTT entities, scraped while messages flow, every page
 * parsed by Prometheus' own parser (t/prom-parse.py, python3-prometheus-
 * client). Oracle: homeassistant/components/prometheus (its metric names,
 * labels and filter) and tests/components/prometheus/test_init.py, which
 * asserts e.g. sensor_temperature_celsius{domain="sensor",entity=...,
 * friendly_name=...}, entity_available and last_updated_time_seconds. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "daemon.h"
#include "testutil.h"

static struct td T;
static bool T_live;
static int port;

static int teardown(void **state)
{
	(void)state;
	if (T_live)
		td_fini(&T);
	T_live = false;
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
	T_live = true;
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

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(the_page_parses_while_messages_flow_with_home_assistants_names,
				  teardown),
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
