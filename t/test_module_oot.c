/* SPDX-License-Identifier: MIT */
/* The plugin boundary from outside: t/oot/hello.c, built with nothing but
 * the installed headers and `pkg-config --cflags mqbridge` and installed in
 * the .pc's platformdir (platforms/platforms.mk), is checked by
 * `mqbridge -C` and run by the real daemon, its sensor's timer ticking
 * over MQTT. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "testutil.h"

#define HEAD \
	"mqbridge: {node_id: oot, name: Out of tree}\n" \
	"mqtt: {broker: 127.0.0.1, port: %PORT%, reconnect_min: 0.1, reconnect_max: 0.5}\n"

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

/* mqbridge -C loads the module and checks items against its schema,
 * errors and suggestions included. */
static void check_config_loads_it_and_applies_its_schema(void **state)
{
	(void)state;
	td_init(&T, NULL);
	T_live = true;
	td_write_config(&T, HEAD
			"sensor:\n"
			"  - platform: hello\n"
			"    name: Ticks\n"
			"    interval: 0.05\n");
	char err[4096];
	int rc = td_run(&T, err, sizeof err, "-C", "-P", OOT_PLATFORMDIR, NULL);
	fprintf(stderr, "%s", err);
	assert_int_equal(rc, 0);

	td_write_config(&T, HEAD
			"sensor:\n"
			"  - platform: hello\n"
			"    name: Ticks\n"
			"    intervall: 2\n");
	rc = td_run(&T, err, sizeof err, "-C", "-P", OOT_PLATFORMDIR, NULL);
	fprintf(stderr, "%s", err);
	assert_int_equal(rc, 78);
	assert_non_null(strstr(err, "mqbridge.yaml:6:5: sensor[0].intervall: unknown option "
				    "'intervall' (did you mean 'interval'?)"));
	td_fini(&T);
	T_live = false;
}

/* The daemon runs it: the sensor is discovered and its count, set by a
 * timer.h interval and written by text.h, reaches MQTT. */
static void the_daemon_runs_it_and_its_timer_ticks_over_mqtt(void **state)
{
	(void)state;
	td_init(&T, NULL);
	T_live = true;
	td_write_config(&T, HEAD
			"sensor:\n"
			"  - platform: hello\n"
			"    name: Ticks\n"
			"    interval: 0.05\n"
			"  - platform: hello\n"
			"    name: Slow ticks\n"
			"    interval: 3600\n");
	td_start(&T, "-P", OOT_PLATFORMDIR, NULL);
	td_expect(&T, "homeassistant/sensor/oot/ticks/config", NULL);
	/* it ticks from start-up on, so what MQTT first sees is some count;
	 * then every tick is published */
	const char *topic = "mqbridge/oot/sensor/ticks/state";
	td_expect(&T, topic, NULL);
	long seen = atol(td_last(&T, topic));
	td_expect_after(&T, td_count(&T), topic, NULL);
	assert_true(atol(td_last(&T, topic)) > seen);
	td_expect(&T, "mqbridge/oot/sensor/slow_ticks/state", "0");
	td_expect_log(&T, "sensor 2 ticks every 3600 s from ");
	td_stop_clean(&T);
	td_fini(&T);
	T_live = false;
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(check_config_loads_it_and_applies_its_schema, teardown),
	cmocka_unit_test_teardown(the_daemon_runs_it_and_its_timer_ticks_over_mqtt, teardown),
};

TU_MAIN(tests)
