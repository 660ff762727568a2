/* SPDX-License-Identifier: MIT */
/* system_log.write, logbook.log and persistent_notification's services
 * (src/daemon/notices.c), in-process, after Home Assistant's
 * tests/components/system_log/test_init.py (test_write_log,
 * test_write_choose_logger, test_write_choose_level),
 * tests/components/logbook/test_init.py (test_service_call_create_logbook_entry)
 * and tests/components/persistent_notification/test_init.py (test_create,
 * test_create_notification_id, test_dismiss_notification). */
#include "config.h"

#include <errno.h>

#include "inproc.h"

static struct ip IP;

static int teardown(void **state)
{
	(void)state;
	ip_fini(&IP);
	return 0;
}

/* a message at the level asked (error by default), under the logger
 * named (Home Assistant's external one by default); bad data is refused */
static void system_log_write_logs_at_its_level(void **state)
{
	(void)state;
	ip_start(&IP, "");
	assert_int_equal(ip_call(&IP, "system_log", "write", "{\"message\": \"test message\"}"), 0);
	assert_true(ip_logged(&IP, "test message"));
	assert_int_equal(ip_call(&IP, "system_log", "write",
				 "{\"message\": \"up to you\", \"level\": \"debug\", "
				 "\"logger\": \"my.logger\"}"),
			 0);
	assert_true(ip_logged(&IP, "up to you"));
	assert_int_equal(ip_call(&IP, "system_log", "write", "{\"message\": 42, \"level\": "
							     "\"warning\"}"),
			 0);
	assert_true(ip_logged(&IP, "42"));
	assert_int_equal(ip_call(&IP, "system_log", "write", "{}"), -EINVAL);
	assert_int_equal(ip_call(&IP, "system_log", "write", "{\"message\": \"x\", \"level\": "
							     "\"loud\"}"),
			 -EINVAL);
}

/* logbook.log fires logbook_entry with what it was given */
static void logbook_log_fires_its_entry(void **state)
{
	(void)state;
	char buf[512];
	ip_start(&IP, "");
	assert_int_equal(ip_call(&IP, "logbook", "log",
				 "{\"name\": \"Alarm\", \"message\": \"is triggered\", "
				 "\"domain\": \"switch\", \"entity_id\": \"switch.test_switch\"}"),
			 0);
	assert_int_equal(ip_events(&IP, "logbook_entry", buf, sizeof buf), 1);
	assert_string_equal(buf, "{\"domain\":\"switch\",\"entity_id\":\"switch.test_switch\","
				 "\"message\":\"is triggered\",\"name\":\"Alarm\"}\n");
	assert_true(ip_logged(&IP, "Alarm is triggered (switch.test_switch)"));
	assert_int_equal(ip_call(&IP, "logbook", "log", "{\"name\": \"Alarm\"}"), -EINVAL);
}

/* create logs the notification, under its id or a new one; dismiss takes
 * back the one of that id, dismiss_all every one */
static void persistent_notifications_are_logged_and_dismissed(void **state)
{
	(void)state;
	ip_start(&IP, "");
	assert_int_equal(ip_call(&IP, "persistent_notification", "create",
				 "{\"message\": \"Hello\", \"title\": \"Test\", "
				 "\"notification_id\": \"Beer 2\"}"),
			 0);
	assert_true(ip_logged(&IP, "Beer 2: Test: Hello"));
	assert_int_equal(ip_call(&IP, "persistent_notification", "create",
				 "{\"message\": \"no title\"}"),
			 0);
	assert_true(ip_logged(&IP, "1: no title"));
	assert_int_equal(ip_call(&IP, "persistent_notification", "dismiss",
				 "{\"notification_id\": \"Beer 2\"}"),
			 0);
	assert_true(ip_logged(&IP, "Beer 2 dismissed"));
	assert_int_equal(ip_call(&IP, "persistent_notification", "dismiss_all", NULL), 0);
	assert_true(ip_logged(&IP, "1 dismissed"));
	assert_int_equal(ip_call(&IP, "persistent_notification", "create", "{\"title\": \"x\"}"),
			 -EINVAL);
	assert_int_equal(ip_call(&IP, "persistent_notification", "dismiss", "{}"), -EINVAL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(system_log_write_logs_at_its_level, teardown),
	cmocka_unit_test_teardown(logbook_log_fires_its_entry, teardown),
	cmocka_unit_test_teardown(persistent_notifications_are_logged_and_dismissed, teardown),
};

TU_MAIN(tests)
