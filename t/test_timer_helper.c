/* SPDX-License-Identifier: MIT */
/* timer (platforms/timer.c), in-process with the fake clock, after Home
 * Assistant's tests/components/timer/test_init.py: test_config,
 * test_config_options, test_methods_and_events, test_start_service,
 * test_wait_till_timer_expires, test_timer_restarted_event,
 * test_state_changed_when_timer_restarted, the change service
 * (test_change_service, its errors), test_restore_idle,
 * test_restore_paused, test_restore_active_resume,
 * test_restore_active_finished_outside_grace and test_config_reload. */
#include "config.h"

#include <errno.h>
#include <math.h>

#include "inproc.h"
#include "mqbridge/text.h"

static struct ip IP;

static int teardown(void **state)
{
	(void)state;
	ip_fini(&IP);
	return 0;
}

#define V(id) ip_value(&IP, id, buf, sizeof buf)
#define A(id, name) ip_attr(&IP, id, name, buf, sizeof buf)
#define T1 "{\"entity_id\": \"timer.test1\"}"

static int call(const char *service, const char *data)
{
	return ip_call(&IP, "timer", service, data ? data : T1);
}

/* The last event fired of any timer type, and how many there were. */
static const char *const types[] = {"timer.started",   "timer.restarted", "timer.paused",
				    "timer.cancelled", "timer.finished",  "timer.changed"};

static size_t count_events(void)
{
	char buf[4096];
	size_t n = 0;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		n += ip_events(&IP, types[i], buf, sizeof buf);
	return n;
}

/* test_config: a bad duration, a bad slug. */
static void bad_options_are_errors_at_their_place(void **state)
{
	(void)state;
	char errs[1024];
	size_t n = ip_check("timer:\n"
			    "  test_1: {duration: soon}\n"
			    "  name with space:\n",
			    errs, sizeof errs);
	assert_int_equal(n, 2);
	ip_expect_error(errs, "mqbridge.yaml:2:22: timer.test_1.duration: expected a "
				     "duration");
	ip_expect_error(errs, "mqbridge.yaml:3:3: timer.name with space: invalid slug");
}

/* test_config_options: idle, duration as H:MM:SS, name, icon; restore
 * only when set. */
static void options_show_in_the_state(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "timer:\n"
		      "  test_1: {}\n"
		      "  test_2: {name: Hello World, icon: mdi:work, duration: 10, restore: true}\n"
		      "  test_3:\n"
		      "  test_4: {duration: '01:30:20.5'}\n");
	assert_string_equal(V("timer.test_1"), "idle");
	assert_string_equal(A("timer.test_1", "friendly_name"), "");
	assert_string_equal(A("timer.test_1", "duration"), "\"0:00:00\"");
	assert_string_equal(A("timer.test_1", "editable"), "false");
	assert_string_equal(A("timer.test_1", "last_transition"), "null");
	assert_string_equal(A("timer.test_1", "restore"), "");
	assert_string_equal(A("timer.test_2", "friendly_name"), "\"Hello World\"");
	assert_string_equal(A("timer.test_2", "icon"), "\"mdi:work\"");
	assert_string_equal(A("timer.test_2", "duration"), "\"0:00:10\"");
	assert_string_equal(A("timer.test_2", "restore"), "true");
	assert_string_equal(V("timer.test_3"), "idle");
	assert_string_equal(A("timer.test_4", "duration"), "\"1:30:20\"");
}

/* test_methods_and_events, test_timer_restarted_event: each call's state
 * and its one event. */
static void each_call_changes_the_state_and_fires_its_event(void **state)
{
	(void)state;
	char buf[256];
	ip_start(&IP, "timer:\n  test1: {duration: 10}\n");
	static const struct {
		const char *call, *state, *event;
	} steps[] = {
		{"start", "active", "timer.started"},     {"pause", "paused", "timer.paused"},
		{"start", "active", "timer.restarted"},   {"cancel", "idle", "timer.cancelled"},
		{"start", "active", "timer.started"},     {"finish", "idle", "timer.finished"},
		{"start", "active", "timer.started"},     {"pause", "paused", "timer.paused"},
		{"cancel", "idle", "timer.cancelled"},    {"start", "active", "timer.started"},
		{"start", "active", "timer.restarted"},
	};
	size_t expected = 0;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		assert_int_equal(call(steps[i].call, NULL), 0);
		assert_string_equal(V("timer.test1"), steps[i].state);
		expected++;
		assert_int_equal(count_events(), expected);
		char last[32];
		snprintf(last, sizeof last, "\"%s\"", strchr(steps[i].event, '.') + 1);
		assert_string_equal(A("timer.test1", "last_transition"), last);
	}
	ip_events(&IP, "timer.finished", buf, sizeof buf);
	assert_non_null(strstr(buf, "\"entity_id\":\"timer.test1\""));
	assert_non_null(strstr(buf, "\"finished_at\":\""));
	/* nothing to do: no event */
	assert_int_equal(call("cancel", NULL), 0);
	assert_int_equal(call("cancel", NULL), 0);
	assert_int_equal(call("pause", NULL), 0);
	assert_int_equal(call("finish", NULL), 0);
	assert_int_equal(count_events(), expected + 1);
}

/* test_start_service: duration and remaining as it runs; a duration
 * given runs instead and stays the running one until idle again. */
static void start_with_and_without_a_duration(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "timer:\n  test1: {duration: 10}\n");
	assert_string_equal(A("timer.test1", "duration"), "\"0:00:10\"");
	ip_align(&IP);
	assert_int_equal(call("start", NULL), 0);
	assert_string_equal(A("timer.test1", "remaining"), "\"0:00:10\"");
	char end[MQB_ISOFORMAT_MAX], want[MQB_ISOFORMAT_MAX + 2];
	mqb_isoformat(floor(ip_now(&IP)) + 10, end);
	snprintf(want, sizeof want, "\"%s\"", end);
	assert_string_equal(A("timer.test1", "finishes_at"), want);
	assert_int_equal(call("cancel", NULL), 0);
	assert_string_equal(A("timer.test1", "remaining"), "");
	assert_string_equal(A("timer.test1", "finishes_at"), "");
	assert_int_equal(call("start", "{\"entity_id\": \"timer.test1\", \"duration\": 15}"), 0);
	assert_string_equal(A("timer.test1", "duration"), "\"0:00:15\"");
	assert_string_equal(A("timer.test1", "remaining"), "\"0:00:15\"");
	assert_int_equal(call("start", "{\"entity_id\": \"timer.test1\", \"duration\": "
				       "\"00:01:00\"}"), 0);
	assert_string_equal(A("timer.test1", "duration"), "\"0:01:00\"");
	assert_int_equal(call("start", "{\"entity_id\": \"timer.test1\", \"duration\": "
				       "{\"minutes\": 2}}"), 0);
	assert_string_equal(A("timer.test1", "duration"), "\"0:02:00\"");
	assert_int_equal(call("start", "{\"entity_id\": \"timer.test1\", \"duration\": \"soon\"}"),
			 -EINVAL);
	/* paused with 100 s left, it resumes with them */
	ip_advance(&IP, 20);
	assert_int_equal(call("pause", NULL), 0);
	assert_string_equal(A("timer.test1", "remaining"), "\"0:01:40\"");
	assert_int_equal(call("start", NULL), 0);
	assert_string_equal(A("timer.test1", "remaining"), "\"0:01:40\"");
	assert_int_equal(call("finish", NULL), 0);
	assert_string_equal(A("timer.test1", "duration"), "\"0:00:10\"");
}

/* test_wait_till_timer_expires: the fake clock 10 s on, it finishes. */
static void an_active_timer_finishes_when_its_time_is_up(void **state)
{
	(void)state;
	char buf[256];
	ip_start(&IP, "timer:\n  test1: {duration: 10}\n");
	/* Home Assistant's end is the start, to the second, plus the duration */
	ip_align(&IP);
	assert_int_equal(call("start", NULL), 0);
	double end = floor(ip_now(&IP)) + 10;
	ip_advance(&IP, 5);
	assert_string_equal(V("timer.test1"), "active");
	assert_int_equal(ip_events(&IP, "timer.finished", buf, sizeof buf), 0);
	ip_advance(&IP, 6);
	assert_string_equal(V("timer.test1"), "idle");
	assert_int_equal(ip_events(&IP, "timer.finished", buf, sizeof buf), 1);
	char iso[MQB_ISOFORMAT_MAX], want[128];
	mqb_isoformat(end, iso);
	snprintf(want, sizeof want, "{\"entity_id\":\"timer.test1\",\"finished_at\":\"%s\"}\n",
		 iso);
	assert_string_equal(buf, want);
	assert_string_equal(A("timer.test1", "last_transition"), "\"finished\"");
}

/* The change service: more or less time for an active timer, never
 * beyond its duration nor below nothing, and only while active;
 * timer.changed without a new last_transition. */
static void change_moves_the_end_of_an_active_timer(void **state)
{
	(void)state;
	char buf[256];
	ip_start(&IP, "timer:\n  test1: {duration: 60}\n");
	ip_align(&IP);
	assert_int_equal(call("change", "{\"entity_id\": \"timer.test1\", \"duration\": 10}"),
			 -EINVAL);
	assert_true(ip_logged(&IP, "Timer timer.test1 is not running, only active timers can be "
				   "changed"));
	assert_int_equal(call("start", NULL), 0);
	ip_advance(&IP, 30);
	assert_int_equal(call("change", "{\"entity_id\": \"timer.test1\", \"duration\": 10}"), 0);
	assert_string_equal(A("timer.test1", "remaining"), "\"0:00:40\"");
	assert_string_equal(A("timer.test1", "last_transition"), "\"started\"");
	assert_int_equal(ip_events(&IP, "timer.changed", buf, sizeof buf), 1);
	assert_int_equal(call("change", "{\"entity_id\": \"timer.test1\", \"duration\": 30}"),
			 -EINVAL);
	assert_true(ip_logged(&IP, "Not possible to change timer timer.test1 beyond duration"));
	assert_int_equal(call("change", "{\"entity_id\": \"timer.test1\", \"duration\": -70}"),
			 -EINVAL);
	assert_true(ip_logged(&IP, "Not possible to change timer timer.test1 to negative time "
				   "remaining"));
	assert_int_equal(call("change", "{\"entity_id\": \"timer.test1\", \"duration\": -35}"), 0);
	ip_advance(&IP, 4);
	assert_string_equal(V("timer.test1"), "active");
	ip_advance(&IP, 2);
	assert_string_equal(V("timer.test1"), "idle");
}

/* test_restore_idle, test_restore_paused, test_restore_active_resume,
 * test_restore_active_finished_outside_grace: with restore, a paused
 * timer comes back paused, an active one resumes with what remained
 * (timer.restarted), one whose end passed while stopped finishes at once
 * with the end it missed; without restore, idle. */
static void restart_restores_timers_with_restore(void **state)
{
	(void)state;
	char buf[256];
	const char *yaml = "timer:\n"
			   "  paused: {duration: 600, restore: true}\n"
			   "  active: {duration: 600, restore: true}\n"
			   "  missed: {duration: 150, restore: true}\n"
			   "  forgets: {duration: 600}\n";
	ip_start(&IP, yaml);
	ip_align(&IP);
	assert_int_equal(ip_call(&IP, "timer", "start",
				 "{\"entity_id\": [\"timer.paused\", \"timer.active\", "
				 "\"timer.missed\", \"timer.forgets\"]}"), 0);
	ip_advance(&IP, 100);
	assert_int_equal(ip_call(&IP, "timer", "pause", "{\"entity_id\": \"timer.paused\"}"), 0);
	double missed_end = floor(ip_now(&IP)) - 100 + 150;
	/* stopped for 200 s: active has 300 s left, missed ended 150 s ago */
	ip_stop(&IP);
	IP.shift += 200;
	ip_restart(&IP, NULL);
	assert_string_equal(ip_value(&IP, "timer.paused", buf, sizeof buf), "paused");
	assert_string_equal(ip_attr(&IP, "timer.paused", "remaining", buf, sizeof buf),
			    "\"0:08:20\"");
	assert_string_equal(ip_attr(&IP, "timer.paused", "last_transition", buf, sizeof buf),
			    "\"paused\"");
	assert_string_equal(ip_value(&IP, "timer.active", buf, sizeof buf), "active");
	const char *r = ip_attr(&IP, "timer.active", "remaining", buf, sizeof buf);
	if (strcmp(r, "\"0:05:00\"") != 0 && strcmp(r, "\"0:04:59\"") != 0)
		fail_msg("timer.active: %s left", r);
	assert_int_equal(ip_events(&IP, "timer.restarted", buf, sizeof buf), 1);
	assert_non_null(strstr(buf, "timer.active"));
	assert_string_equal(ip_value(&IP, "timer.missed", buf, sizeof buf), "idle");
	assert_int_equal(ip_events(&IP, "timer.finished", buf, sizeof buf), 1);
	char iso[MQB_ISOFORMAT_MAX], want[128];
	mqb_isoformat(missed_end, iso);
	snprintf(want, sizeof want, "{\"entity_id\":\"timer.missed\",\"finished_at\":\"%s\"}\n",
		 iso);
	assert_string_equal(buf, want);
	assert_string_equal(ip_value(&IP, "timer.forgets", buf, sizeof buf), "idle");
	/* what resumed still ends */
	ip_advance(&IP, 301);
	assert_string_equal(ip_value(&IP, "timer.active", buf, sizeof buf), "idle");
}

/* test_config_reload: a timer gone, a new one, a changed one with its
 * new name and duration; a running timer changed by a reload runs on. */
static void reload_applies_the_new_block(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "timer:\n"
		      "  test_1: {}\n"
		      "  test_2: {name: Hello World, icon: mdi:work, duration: 10}\n"
		      "  test_4: {duration: 100}\n");
	assert_int_equal(ip_call(&IP, "timer", "start", "{\"entity_id\": \"timer.test_4\"}"), 0);
	ip_write(&IP, "timer:\n"
		      "  test_2: {name: Hello World reloaded, icon: mdi:work-reloaded, duration: 20}\n"
		      "  test_3: {}\n"
		      "  test_4: {duration: 200}\n");
	assert_int_equal(ip_call(&IP, "timer", "reload", NULL), 0);
	assert_string_equal(V("timer.test_1"), "");
	assert_string_equal(V("timer.test_2"), "idle");
	assert_string_equal(A("timer.test_2", "friendly_name"), "\"Hello World reloaded\"");
	assert_string_equal(A("timer.test_2", "duration"), "\"0:00:20\"");
	assert_string_equal(V("timer.test_3"), "idle");
	assert_string_equal(V("timer.test_4"), "active");
	assert_string_equal(A("timer.test_4", "duration"), "\"0:01:40\"");
	ip_advance(&IP, 101);
	assert_string_equal(V("timer.test_4"), "idle");
	assert_string_equal(A("timer.test_4", "duration"), "\"0:03:20\"");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(bad_options_are_errors_at_their_place),
	cmocka_unit_test_teardown(options_show_in_the_state, teardown),
	cmocka_unit_test_teardown(each_call_changes_the_state_and_fires_its_event, teardown),
	cmocka_unit_test_teardown(start_with_and_without_a_duration, teardown),
	cmocka_unit_test_teardown(an_active_timer_finishes_when_its_time_is_up, teardown),
	cmocka_unit_test_teardown(change_moves_the_end_of_an_active_timer, teardown),
	cmocka_unit_test_teardown(restart_restores_timers_with_restore, teardown),
	cmocka_unit_test_teardown(reload_applies_the_new_block, teardown),
};

TU_MAIN(tests)
