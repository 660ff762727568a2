/* SPDX-License-Identifier: MIT */
/* counter (platforms/counter.c), in-process, after Home Assistant's
 * tests/components/counter/test_init.py: test_config, test_config_options,
 * test_methods, test_methods_with_config, test_counter_min,
 * test_counter_max, test_set_value (and its refusals),
 * test_initial_state_overrules_restore_state (restore: false),
 * test_restore_state_overrules_initial_state,
 * test_no_initial_state_and_no_restore_state and a reload. */
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

#define V(id) ip_value(&IP, id, buf, sizeof buf)
#define A(id, name) ip_attr(&IP, id, name, buf, sizeof buf)

static int call(const char *service, const char *id, const char *rest)
{
	char data[256];
	snprintf(data, sizeof data, "{\"entity_id\": \"%s\"%s}", id, rest ? rest : "");
	return ip_call(&IP, "counter", service, data);
}

/* test_config. */
static void bad_options_are_errors_at_their_place(void **state)
{
	(void)state;
	char errs[1024];
	size_t n = ip_check("counter:\n"
			    "  test_1: {step: -1}\n"
			    "  test_2: {initial: many, restore: sometimes}\n",
			    errs, sizeof errs);
	assert_int_equal(n, 3);
	ip_expect_error(errs, "mqbridge.yaml:2:18: counter.test_1.step: expected a "
				     "non-negative integer");
	ip_expect_error(errs, "mqbridge.yaml:3:21: counter.test_2.initial: expected an "
				     "integer, got 'many'");
	ip_expect_error(errs, "mqbridge.yaml:3:36: counter.test_2.restore: expected a boolean");
}

/* test_config_options, test_methods, test_methods_with_config. */
static void increment_decrement_and_reset(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "counter:\n"
		      "  test_1:\n"
		      "  test_2: {name: Hello World, icon: mdi:work, initial: 10, step: 5}\n");
	assert_string_equal(V("counter.test_1"), "0");
	assert_string_equal(A("counter.test_1", "initial"), "0");
	assert_string_equal(A("counter.test_1", "step"), "1");
	assert_string_equal(A("counter.test_1", "editable"), "false");
	assert_string_equal(A("counter.test_1", "minimum"), "");
	assert_string_equal(A("counter.test_2", "friendly_name"), "\"Hello World\"");
	assert_int_equal(call("increment", "counter.test_1", NULL), 0);
	assert_int_equal(call("increment", "counter.test_1", NULL), 0);
	assert_string_equal(V("counter.test_1"), "2");
	assert_int_equal(call("decrement", "counter.test_1", NULL), 0);
	assert_string_equal(V("counter.test_1"), "1");
	assert_int_equal(call("reset", "counter.test_1", NULL), 0);
	assert_string_equal(V("counter.test_1"), "0");
	assert_int_equal(call("increment", "counter.test_2", NULL), 0);
	assert_string_equal(V("counter.test_2"), "15");
	assert_int_equal(call("decrement", "counter.test_2", NULL), 0);
	assert_int_equal(call("decrement", "counter.test_2", NULL), 0);
	assert_string_equal(V("counter.test_2"), "5");
}

/* test_counter_min, test_counter_max, test_set_value. */
static void the_range_bounds_every_change(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "counter:\n"
		      "  test_1: {minimum: -1, maximum: 1, initial: 0}\n"
		      "  test_2: {step: 3, maximum: 30}\n");
	assert_string_equal(A("counter.test_1", "minimum"), "-1");
	assert_string_equal(A("counter.test_1", "maximum"), "1");
	for (int i = 0; i < 3; i++)
		assert_int_equal(call("decrement", "counter.test_1", NULL), 0);
	assert_string_equal(V("counter.test_1"), "-1");
	for (int i = 0; i < 3; i++)
		assert_int_equal(call("increment", "counter.test_1", NULL), 0);
	assert_string_equal(V("counter.test_1"), "1");
	assert_int_equal(call("set_value", "counter.test_2", ", \"value\": 6"), 0);
	assert_string_equal(V("counter.test_2"), "6");
	assert_int_equal(call("set_value", "counter.test_2", ", \"value\": 7"), -EINVAL);
	assert_true(ip_logged(&IP, "Value 7 for counter.test_2 is not a multiple of the step "
				   "size 3"));
	assert_int_equal(call("set_value", "counter.test_2", ", \"value\": 33"), -EINVAL);
	assert_true(ip_logged(&IP, "Value 33 for counter.test_2 exceeding the maximum value of "
				   "30"));
	assert_string_equal(V("counter.test_2"), "6");
}

/* test_restore_state_overrules_initial_state,
 * test_initial_state_overrules_restore_state (restore: false),
 * test_no_initial_state_and_no_restore_state; a restored value beyond a
 * new maximum is brought in. */
static void restart_restores_unless_restore_is_false(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "counter:\n"
		      "  test_1: {initial: 5}\n"
		      "  test_2: {initial: 5, restore: false}\n"
		      "  test_3: {initial: 5}\n");
	for (int i = 0; i < 3; i++)
		assert_int_equal(ip_call(&IP, "counter", "increment",
					 "{\"entity_id\": [\"counter.test_1\", \"counter.test_2\", "
					 "\"counter.test_3\"]}"), 0);
	ip_restart(&IP, "counter:\n"
			"  test_1: {initial: 5}\n"
			"  test_2: {initial: 5, restore: false}\n"
			"  test_3: {initial: 5, maximum: 6}\n");
	assert_string_equal(V("counter.test_1"), "8");
	assert_string_equal(V("counter.test_2"), "5");
	assert_string_equal(V("counter.test_3"), "6");
}

/* A reload: a changed counter keeps its value within its new range. */
static void reload_applies_the_new_block(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "counter:\n  test_1: {initial: 10}\n  test_2:\n");
	ip_write(&IP, "counter:\n  test_1: {initial: 10, maximum: 4}\n  test_3: {initial: 3}\n");
	assert_int_equal(ip_call(&IP, "counter", "reload", NULL), 0);
	assert_string_equal(V("counter.test_1"), "4");
	assert_string_equal(V("counter.test_2"), "");
	assert_string_equal(V("counter.test_3"), "3");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(bad_options_are_errors_at_their_place),
	cmocka_unit_test_teardown(increment_decrement_and_reset, teardown),
	cmocka_unit_test_teardown(the_range_bounds_every_change, teardown),
	cmocka_unit_test_teardown(restart_restores_unless_restore_is_false, teardown),
	cmocka_unit_test_teardown(reload_applies_the_new_block, teardown),
};

TU_MAIN(tests)
