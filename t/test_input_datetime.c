/* SPDX-License-Identifier: MIT */
/* input_datetime (platforms/input_datetime.c), in-process, after Home
 * Assistant's tests/components/input_datetime/test_init.py:
 * test_invalid_configs, test_set_datetime, test_set_datetime_3 (an
 * offset), test_set_datetime_time, test_set_invalid, test_set_invalid_2,
 * test_set_datetime_date, test_set_timestamp, test_timestamp,
 * test_default_value, test_restore_state and test_reload, in the time
 * zone homeassistant: gives (Europe/Amsterdam). */
#include "config.h"

#include <errno.h>
#include <time.h>

#include "inproc.h"

static struct ip IP;

static int teardown(void **state)
{
	(void)state;
	ip_fini(&IP);
	return 0;
}

#define V(id) ip_value(&IP, id, buf, sizeof buf)
#define A(id, name) ip_attr(&IP, id, name, buf, sizeof buf)
#define TZ "homeassistant: {time_zone: Europe/Amsterdam}\n"

static int set(const char *id, const char *fields)
{
	char data[256];
	snprintf(data, sizeof data, "{\"entity_id\": \"%s\", %s}", id, fields);
	return ip_call(&IP, "input_datetime", "set_datetime", data);
}

/* test_invalid_configs: neither date nor time; initials that cannot be
 * read as what the entity holds. */
static void bad_options_are_errors_at_their_place(void **state)
{
	(void)state;
	char errs[2048];
	size_t n = ip_check("input_datetime:\n"
			    "  test_1: {}\n"
			    "  test_2: {has_date: true, initial: '2017-13-01'}\n"
			    "  test_3: {has_time: true, initial: '25:00'}\n"
			    "  test_4: {has_date: true, has_time: true, initial: now}\n",
			    errs, sizeof errs);
	assert_int_equal(n, 4);
	ip_expect_error(errs, "mqbridge.yaml:2:11: input_datetime.test_1: Entity needs at "
				     "least a date or a time");
	ip_expect_error(errs, "mqbridge.yaml:3:37: input_datetime.test_2.initial: Initial value "
				     "'2017-13-01' can't be parsed as a date");
	ip_expect_error(errs, "mqbridge.yaml:4:37: input_datetime.test_3.initial: Initial value '25:00' can't be parsed "
				     "as a time");
	ip_expect_error(errs, "mqbridge.yaml:5:53: input_datetime.test_4.initial: Initial value 'now' can't be parsed as "
				     "a datetime");
}

/* test_set_datetime, test_set_datetime_3, test_timestamp: the fields,
 * and the timestamp of that local time; an offset's own wall time is
 * taken, as Home Assistant takes it. */
static void set_datetime_with_a_datetime(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, TZ "input_datetime:\n  test_datetime: {has_time: true, has_date: true}\n");
	const char *id = "input_datetime.test_datetime";
	assert_int_equal(set(id, "\"datetime\": \"2017-09-07 19:46:30\""), 0);
	assert_string_equal(V(id), "2017-09-07 19:46:30");
	assert_string_equal(A(id, "has_time"), "true");
	assert_string_equal(A(id, "has_date"), "true");
	assert_string_equal(A(id, "year"), "2017");
	assert_string_equal(A(id, "month"), "9");
	assert_string_equal(A(id, "day"), "7");
	assert_string_equal(A(id, "hour"), "19");
	assert_string_equal(A(id, "minute"), "46");
	assert_string_equal(A(id, "second"), "30");
	/* 19:46:30 CEST is 17:46:30 UTC */
	assert_string_equal(A(id, "timestamp"), "1504806390.0");
	assert_int_equal(set(id, "\"datetime\": \"2017-09-07T10:30:00+05:00\""), 0);
	assert_string_equal(V(id), "2017-09-07 10:30:00");
	assert_int_equal(set(id, "\"timestamp\": 1504806390"), 0);
	assert_string_equal(V(id), "2017-09-07 19:46:30");
	assert_int_equal(set(id, "\"date\": \"2020-01-02\", \"time\": \"03:04\""), 0);
	assert_string_equal(V(id), "2020-01-02 03:04:00");
}

/* test_set_datetime_time, test_set_datetime_date, test_set_invalid,
 * test_set_invalid_2: what the entity does not hold is not set, nothing
 * to set is an error, and so are two ways at once. */
static void set_datetime_sets_only_what_the_entity_holds(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, TZ "input_datetime:\n"
			 "  test_time: {has_time: true, has_date: false, initial: '12:00'}\n"
			 "  test_date: {has_time: false, has_date: true, initial: '2017-01-01'}\n");
	assert_string_equal(V("input_datetime.test_time"), "12:00:00");
	assert_string_equal(A("input_datetime.test_time", "timestamp"), "43200");
	assert_int_equal(set("input_datetime.test_time", "\"time\": \"19:46:00\""), 0);
	assert_string_equal(V("input_datetime.test_time"), "19:46:00");
	assert_string_equal(A("input_datetime.test_time", "timestamp"), "71160");
	assert_string_equal(V("input_datetime.test_date"), "2017-01-01");
	/* local midnight of 2017-01-01 in Amsterdam is 23:00 UTC the day before */
	assert_string_equal(A("input_datetime.test_date", "timestamp"), "1483225200.0");
	assert_int_equal(set("input_datetime.test_date", "\"time\": \"19:46:00\""), -EINVAL);
	assert_true(ip_logged(&IP, "Nothing to set"));
	assert_string_equal(V("input_datetime.test_date"), "2017-01-01");
	assert_int_equal(set("input_datetime.test_date",
			     "\"date\": \"2017-02-02\", \"datetime\": \"2017-01-01 00:00\""),
			 -EINVAL);
	assert_int_equal(set("input_datetime.test_date", "\"date\": \"2017-02-30\""), -EINVAL);
	assert_int_equal(set("input_datetime.test_date", "\"datetime\": \"2017-05-06 07:08\""), 0);
	assert_string_equal(V("input_datetime.test_date"), "2017-05-06");
}

/* test_default_value and test_restore_state: without initial, the last
 * state read as what the entity holds now, else today at midnight. */
static void restart_restores_the_value_or_today(void **state)
{
	(void)state;
	char buf[64], today[16];
	ip_start(&IP, TZ "input_datetime:\n"
			 "  test_time: {has_time: true}\n"
			 "  test_date: {has_date: true}\n"
			 "  test_datetime: {has_date: true, has_time: true}\n"
			 "  test_initial: {has_date: true, has_time: true, "
			 "initial: '2020-12-13 10:00:00'}\n");
	time_t now = (time_t)ip_now(&IP);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(today, sizeof today, "%Y-%m-%d", &tm);
	assert_string_equal(V("input_datetime.test_time"), "00:00:00");
	assert_string_equal(V("input_datetime.test_date"), today);
	assert_int_equal(set("input_datetime.test_time", "\"time\": \"18:17:16\""), 0);
	assert_int_equal(set("input_datetime.test_date", "\"date\": \"2017-05-06\""), 0);
	assert_int_equal(set("input_datetime.test_datetime", "\"datetime\": \"2017-05-06 18:17\""),
			 0);
	assert_int_equal(set("input_datetime.test_initial", "\"datetime\": \"2017-05-06 18:17\""),
			 0);
	ip_restart(&IP, NULL);
	assert_string_equal(V("input_datetime.test_time"), "18:17:16");
	assert_string_equal(V("input_datetime.test_date"), "2017-05-06");
	assert_string_equal(V("input_datetime.test_datetime"), "2017-05-06 18:17:00");
	assert_string_equal(V("input_datetime.test_initial"), "2020-12-13 10:00:00");
}

/* test_reload: a changed entry takes its options, keeping its value. */
static void reload_applies_the_new_block(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, TZ "input_datetime:\n"
			 "  dt1: {has_time: false, has_date: true, initial: '2019-01-01'}\n"
			 "  dt3: {has_time: true, has_date: true}\n");
	ip_write(&IP, TZ "input_datetime:\n"
			 "  dt1: {has_time: true, has_date: true, initial: '2019-01-01 00:00'}\n"
			 "  dt2: {has_time: true, has_date: true, initial: '2019-02-02 01:02'}\n");
	assert_int_equal(ip_call(&IP, "input_datetime", "reload", NULL), 0);
	assert_string_equal(V("input_datetime.dt1"), "2019-01-01 00:00:00");
	assert_string_equal(V("input_datetime.dt2"), "2019-02-02 01:02:00");
	assert_string_equal(V("input_datetime.dt3"), "");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(bad_options_are_errors_at_their_place),
	cmocka_unit_test_teardown(set_datetime_with_a_datetime, teardown),
	cmocka_unit_test_teardown(set_datetime_sets_only_what_the_entity_holds, teardown),
	cmocka_unit_test_teardown(restart_restores_the_value_or_today, teardown),
	cmocka_unit_test_teardown(reload_applies_the_new_block, teardown),
};

TU_MAIN(tests)
