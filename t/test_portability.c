/* SPDX-License-Identifier: MIT */
/* What must hold on every machine mqbridge builds for, 32-bit and
 * big-endian ones included (tools/cross-check.sh runs this under qemu):
 * dates after 2038, values as wide as they were written, the same hash. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "testutil.h"
#include "lib/hashmap.h"
#include "mqbridge/coro.h"
#include "mqbridge/future.h"
#include "mqbridge/job.h"
#include "mqbridge/template.h"

/* 2100-01-01T00:00:00Z, far past the last second of a 32-bit time_t
 * (2038-01-19T03:14:07Z). */
#define Y2100 4102444800.0

/* ---- 64-bit time ---------------------------------------------------- */

static void time_t_and_off_t_are_64_bits(void **state)
{
	(void)state;
	/* configure asks 32-bit glibc for them (_TIME_BITS=64) */
	assert_true(sizeof(time_t) >= 8);
	assert_true(sizeof(off_t) >= 8);
}

static void the_c_library_converts_dates_after_2038(void **state)
{
	(void)state;
	time_t t = (time_t)Y2100;
	struct tm tm;
	assert_non_null(gmtime_r(&t, &tm));
	assert_int_equal(tm.tm_year + 1900, 2100);
	assert_int_equal(tm.tm_mon, 0);
	assert_int_equal(tm.tm_mday, 1);
	assert_int_equal(tm.tm_hour, 0);
	assert_true(timegm(&tm) == t);
	/* the first second a 32-bit time_t cannot hold */
	t = (time_t)INT64_C(2147483648);
	assert_non_null(gmtime_r(&t, &tm));
	assert_int_equal(tm.tm_year + 1900, 2038);
	assert_int_equal(tm.tm_sec, 8);
}

/* ---- templates ---------------------------------------------------------- */

static char *render(const char *text, const char *value, double now)
{
	struct mqb_template *t;
	struct mqb_tpl_error err;
	struct mqb_tpl_vars vars = { .value = value, .value_len = value ? strlen(value) : 0,
				     .now = now };
	char *out;
	size_t len;
	if (mqb_template_compile(text, strlen(text), &t, &err) != 0)
		fail_msg("%s: %s", text, err.message);
	if (mqb_template_render(t, &vars, NULL, &out, &len, &err) != 0)
		fail_msg("%s: %s", text, err.message);
	mqb_template_free(t);
	return out;
}

static void expect(const char *text, const char *value, double now, const char *want)
{
	char *got = render(text, value, now);
	if (strcmp(got, want) != 0)
		fail_msg("%s: got '%s', want '%s'", text, got, want);
	free(got);
}

/* Home Assistant's results are Python's datetime's, which knows no 2038:
 * dt_util.utc_from_timestamp, as_timestamp and now() in its templates. */
static void templates_show_and_compute_dates_after_2038(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	expect("{{ 4102444800 | timestamp_utc }}", NULL, 0, "2100-01-01T00:00:00+00:00");
	expect("{{ 2147483648 | timestamp_custom('%Y-%m-%d %H:%M:%S', false) }}", NULL, 0,
	       "2038-01-19 03:14:08");
	expect("{{ as_timestamp('2100-01-01T00:00:00+00:00') }}", NULL, 0, "4102444800.0");
	expect("{{ (as_datetime('2038-01-19T03:14:07+00:00') + timedelta(seconds=2)).isoformat() }}",
	       NULL, 0, "2038-01-19T03:14:09+00:00");
	expect("{{ now().year }} {{ utcnow().isoformat() }}", NULL, Y2100 + 3600,
	       "2100 2100-01-01T01:00:00+00:00");
	expect("{{ (now() - as_datetime('2000-01-01T00:00:00+00:00')).days }}", NULL, Y2100,
	       "36525");
	/* local time from a POSIX rule, which needs no zone file: summer time
	 * in 2100 still follows it */
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	expect("{{ 4118126400 | timestamp_custom('%Y-%m-%d %H:%M %Z') }}", NULL, 0,
	       "2100-07-01 14:00 CEST");
	setenv("TZ", "UTC", 1);
	tzset();
}

/* A template reads a payload's numbers whole: a 64-bit integer and a double
 * are wider than a pointer on 32-bit machines. */
static void json_numbers_in_a_payload_keep_every_bit(void **state)
{
	(void)state;
	const char *payload = "{\"i\": 9007199254740993, \"f\": 0.1, \"t\": 4102444800, "
			      "\"l\": [1.5, -9223372036854775808]}";
	expect("{{ value_json.i }}", payload, 0, "9007199254740993");
	expect("{{ value_json.f }}", payload, 0, "0.1");
	expect("{{ value_json.t | timestamp_utc }}", payload, 0, "2100-01-01T00:00:00+00:00");
	expect("{{ value_json.l[0] }} {{ value_json.l[1] }}", payload, 0,
	       "1.5 -9223372036854775808");
	expect("{{ 9007199254740993 }}", NULL, 0, "9007199254740993");
	expect("{{ '0.30000000000000004' | float }}", NULL, 0, "0.30000000000000004");
}

/* ---- timers ------------------------------------------------------------- */

struct nap {
	struct mqb_core *core;
	struct tu_latch done;
	int rc;
	double slept;
};

static int nap_body(void *ud, void *arg, void **result)
{
	struct nap *n = ud;
	double t0 = tu_now();
	(void)arg;
	(void)result;
	n->rc = mqb_async_sleep_await(n->core, 0.05);
	n->slept = tu_now() - t0;
	tu_latch_count_down(&n->done);
	return 0;
}

/* Timers run on monotonic time, which no calendar date reaches; a sleep
 * and a bounded wait both end as they should on every machine. */
static void a_sleep_and_a_bounded_wait_end_on_time(void **state)
{
	(void)state;
	struct tu_loop l;
	struct nap n = { .rc = -1 };
	tu_latch_init(&n.done, 1);
	tu_loop_start(&l, NULL);
	n.core = l.core;
	assert_int_equal(mqb_add_job(l.core, &MQB_COROUTINE(nap_body, &n), NULL, NULL, NULL), 0);
	assert_true(tu_latch_wait(&n.done, TU_TIMEOUT));
	assert_int_equal(n.rc, 0);
	assert_true(n.slept >= 0.04);
	/* a future nobody settles: its wait ends by its deadline */
	struct mqb_future *f = mqb_future_new(l.core);
	assert_non_null(f);
	double t0 = tu_now();
	assert_int_equal(mqb_future_result(f, 0.05, NULL), -ETIMEDOUT);
	assert_true(tu_now() - t0 >= 0.04);
	mqb_future_unref(f);
	assert_int_equal(tu_loop_stop(&l), 0);
	tu_latch_destroy(&n.done);
}

/* ---- byte order ---------------------------------------------------------- */

/* The hash reads keys eight bytes at a time as little-endian numbers, so
 * every machine gets these (computed on x86-64), and tables iterate in the
 * same order on big-endian ones. */
static void keys_hash_the_same_on_every_machine(void **state)
{
	(void)state;
	static const struct { const char *key; uint32_t hash; } cases[] = {
		{ "", 0x00000000 },
		{ "a", 0xa943a81c },
		{ "sensor.x", 0xd2ec2d1f },
		{ "sensor.outside_temperature", 0xd7020693 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (hashmap__hash(cases[i].key, strlen(cases[i].key)) != cases[i].hash)
			fail_msg("hash of '%s': 0x%08x, want 0x%08x", cases[i].key,
				 (unsigned)hashmap__hash(cases[i].key, strlen(cases[i].key)),
				 (unsigned)cases[i].hash);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(time_t_and_off_t_are_64_bits),
		cmocka_unit_test(the_c_library_converts_dates_after_2038),
		cmocka_unit_test(templates_show_and_compute_dates_after_2038),
		cmocka_unit_test(json_numbers_in_a_payload_keep_every_bit),
		cmocka_unit_test(a_sleep_and_a_bounded_wait_end_on_time),
		cmocka_unit_test(keys_hash_the_same_on_every_machine),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
