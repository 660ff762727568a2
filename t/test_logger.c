/* SPDX-License-Identifier: MIT */
/* The log level changed at run time (daemon/logger.c) through Home
 * Assistant's logger.set_default_level and logger.set_level, called by
 * automations on MQTT triggers, as an administrator would reach them.
 * Oracle: homeassistant/components/logger/__init__.py, whose schemas take
 * {level: LEVEL} and {<logger name>: LEVEL}, LEVEL one of Python's names
 * in any case (vol.Upper, then LOGSEVERITY). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "testutil.h"

static struct td T;
static int teardown(void **state)
{
	(void)state;
	td_fini(&T);
	return 0;
}

#define CONFIG \
	"mqbridge: {node_id: tl}\n" \
	"mqtt: {broker: 127.0.0.1, port: %PORT%}\n" \
	"sensor:\n" \
	"  - {platform: mqtt, name: Outside, state_topic: weather/outside}\n" \
	"automation:\n" \
	"  - alias: Default level\n" \
	"    trigger: {platform: mqtt, topic: admin/log/default}\n" \
	"    action:\n" \
	"      - service: logger.set_default_level\n" \
	"        data: {level: \"{{ trigger.payload }}\"}\n" \
	"  - alias: MQTT level\n" \
	"    trigger: {platform: mqtt, topic: admin/log/mqtt}\n" \
	"    action:\n" \
	"      - action: logger.set_level\n" \
	"        data: {homeassistant.components.mqtt: \"{{ trigger.payload }}\"}\n"

/* An empty payload, which the MQTT sensor logs at debug, then a value:
 * once the value is the state, the empty one was handled. */
static void empty_then(const char *value)
{
	td_pub(&T, "weather/outside", "", false);
	td_pub(&T, "weather/outside", value, false);
	td_expect(&T, "mqbridge/tl/sensor/outside/state", value);
}

static void the_levels_change_at_run_time_through_the_logger_services(void **state)
{
	(void)state;
	td_init(&T, NULL);
	td_write_config(&T, CONFIG);
	td_start(&T, "-l", "info", NULL);
	td_expect(&T, "mqbridge/tl/status", "online");

	empty_then("1");
	assert_int_equal(td_log_count(&T, "empty value"), 0);

	/* the default level, written as Home Assistant's users write it */
	td_pub(&T, "admin/log/default", "DEBUG", false);
	td_expect_log(&T, "logger.set_default_level: DEBUG");
	empty_then("2");
	td_expect_log(&T, "empty value");
	assert_int_equal(td_log_count(&T, "empty value"), 1);

	/* a subsystem's own level, by Home Assistant's logger name */
	td_pub(&T, "admin/log/mqtt", "warning", false);
	td_expect_log(&T, "logger.set_level: homeassistant.components.mqtt (mqtt) warning");
	empty_then("3");
	assert_int_equal(td_log_count(&T, "empty value"), 1);
	td_pub(&T, "admin/log/mqtt", "notset", false);
	td_expect_log(&T, "logger.set_level: homeassistant.components.mqtt (mqtt) notset");
	empty_then("4");
	td_expect_log(&T, "empty value");
	assert_int_equal(td_log_count(&T, "empty value"), 2);

	/* a level Home Assistant does not know is refused, nothing changes */
	td_pub(&T, "admin/log/default", "loud", false);
	td_expect_log(&T, "expected a log level");
	td_stop_clean(&T);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(the_levels_change_at_run_time_through_the_logger_services,
				  teardown),
};

TU_MAIN(tests)
