/* SPDX-License-Identifier: MIT */
/* input_number (platforms/input_number.c), in-process, after Home
 * Assistant's tests/components/input_number/test_init.py: test_config,
 * test_set_value, test_increment, test_rounding, test_decrement, test_mode,
 * test_unit_of_measurement, test_restore_state, test_restore_invalid_state,
 * test_initial_state_overrules_restore_state,
 * test_no_initial_state_and_no_restore_state and test_reload. */
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

static int set(const char *id, const char *value)
{
	char data[256];
	snprintf(data, sizeof data, "{\"entity_id\": \"%s\", \"value\": %s}", id, value);
	return ip_call(&IP, "input_number", "set_value", data);
}

static int call(const char *service, const char *id)
{
	char data[128];
	snprintf(data, sizeof data, "{\"entity_id\": \"%s\"}", id);
	return ip_call(&IP, "input_number", service, data);
}

/* test_config: min not below max, initial out of range, no min, a bad
 * slug, a step of 0: each an error at its place. */
static void bad_options_are_errors_at_their_place(void **state)
{
	(void)state;
	char errs[2048];
	size_t n = ip_check("input_number:\n"
			    "  test_1: {min: 50, max: 50}\n"
			    "  test_2: {min: 0, max: 10, initial: 11}\n"
			    "  test_3: {max: 10}\n"
			    "  name with space:\n"
			    "    min: 0\n"
			    "    max: 1\n"
			    "  test_5: {min: 0, max: 1, step: 0, mode: dial}\n",
			    errs, sizeof errs);
	assert_int_equal(n, 6);
	ip_expect_error(errs, "mqbridge.yaml:2:26: input_number.test_1.max: Maximum (50.0) is "
				     "not greater than minimum (50.0)");
	ip_expect_error(errs, "mqbridge.yaml:3:38: input_number.test_2.initial: Initial value 11.0 "
				     "not in range 0.0-10.0");
	ip_expect_error(errs, "mqbridge.yaml:4:11: input_number.test_3: required option "
				     "'min' is missing");
	ip_expect_error(errs, "mqbridge.yaml:5:3: input_number.name with space: invalid "
				     "slug name with space (try name_with_space)");
	ip_expect_error(errs, "mqbridge.yaml:8:34: input_number.test_5.step: must be "
				     "between");
	ip_expect_error(errs, "mqbridge.yaml:8:43: input_number.test_5.mode: must be one "
				     "of: box, slider; got 'dial'");
}

/* test_set_value: text or number, and out of range refused. */
static void set_value_takes_a_number_in_range(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_number:\n  test_1: {initial: 50, min: 0, max: 100}\n");
	assert_string_equal(V("input_number.test_1"), "50.0");
	assert_int_equal(set("input_number.test_1", "\"30.4\""), 0);
	assert_string_equal(V("input_number.test_1"), "30.4");
	assert_int_equal(set("input_number.test_1", "70"), 0);
	assert_string_equal(V("input_number.test_1"), "70.0");
	assert_int_equal(set("input_number.test_1", "\"110\""), -EINVAL);
	assert_true(ip_logged(&IP, "Invalid value for input_number.test_1: 110.0 (range 0.0 - "
				   "100.0)"));
	assert_string_equal(V("input_number.test_1"), "70.0");
}

/* test_increment, test_decrement, test_rounding. */
static void increment_and_decrement_stop_at_the_range_and_round(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_number:\n"
		      "  test_2: {initial: 50, min: 0, max: 51}\n"
		      "  test_3: {initial: 50, min: 49, max: 100}\n"
		      "  test_4: {initial: 2.4, min: 0, max: 51, step: 1.2}\n");
	assert_int_equal(call("increment", "input_number.test_2"), 0);
	assert_string_equal(V("input_number.test_2"), "51.0");
	assert_int_equal(call("increment", "input_number.test_2"), 0);
	assert_string_equal(V("input_number.test_2"), "51.0");
	assert_int_equal(call("decrement", "input_number.test_3"), 0);
	assert_string_equal(V("input_number.test_3"), "49.0");
	assert_int_equal(call("decrement", "input_number.test_3"), 0);
	assert_string_equal(V("input_number.test_3"), "49.0");
	assert_int_equal(call("increment", "input_number.test_4"), 0);
	assert_string_equal(V("input_number.test_4"), "3.6");
}

/* test_mode, test_unit_of_measurement and the attributes. */
static void mode_unit_and_attributes(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_number:\n"
		      "  test_default_slider: {min: 0, max: 100}\n"
		      "  test_explicit_box: {min: 0, max: 100, mode: box}\n"
		      "  with_unit: {min: 0, max: 100, unit_of_measurement: \"°C\", step: 0.5}\n");
	assert_string_equal(A("input_number.test_default_slider", "mode"), "\"slider\"");
	assert_string_equal(A("input_number.test_explicit_box", "mode"), "\"box\"");
	assert_string_equal(A("input_number.with_unit", "unit_of_measurement"), "\"°C\"");
	assert_string_equal(A("input_number.test_default_slider", "unit_of_measurement"), "");
	assert_string_equal(A("input_number.with_unit", "initial"), "null");
	assert_string_equal(A("input_number.with_unit", "min"), "0.0");
	assert_string_equal(A("input_number.with_unit", "max"), "100.0");
	assert_string_equal(A("input_number.with_unit", "step"), "0.5");
	assert_string_equal(A("input_number.with_unit", "editable"), "false");
	/* test_no_initial_state_and_no_restore_state: min */
	assert_string_equal(V("input_number.with_unit"), "0.0");
}

/* test_restore_state, test_restore_invalid_state,
 * test_initial_state_overrules_restore_state: a restored value in range
 * comes back, one out of range or not a number gives min, initial wins. */
static void restart_restores_in_range_values_unless_initial(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_number:\n"
		      "  b1: {min: 0, max: 100}\n"
		      "  b2: {min: 0, max: 300}\n"
		      "  b3: {min: 0, max: 100, initial: 50}\n");
	assert_int_equal(set("input_number.b1", "70"), 0);
	assert_int_equal(set("input_number.b2", "200"), 0);
	assert_int_equal(set("input_number.b3", "70"), 0);
	ip_restart(&IP, "input_number:\n"
			"  b1: {min: 0, max: 100}\n"
			"  b2: {min: 10, max: 100}\n"
			"  b3: {min: 0, max: 100, initial: 50}\n");
	assert_string_equal(V("input_number.b1"), "70.0");
	assert_string_equal(V("input_number.b2"), "10.0");
	assert_string_equal(V("input_number.b3"), "50.0");
}

/* test_reload: test_1 keeps its value, test_2 comes with its initial,
 * test_3 goes; a changed range clamps the value kept. */
static void reload_applies_the_new_block(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_number:\n"
		      "  test_1: {initial: 50, min: 0, max: 51}\n"
		      "  test_3: {initial: 10, min: 0, max: 15}\n");
	ip_write(&IP, "input_number:\n"
		      "  test_1: {initial: 40, min: 0, max: 45}\n"
		      "  test_2: {initial: 20, min: 10, max: 30}\n");
	assert_int_equal(ip_call(&IP, "input_number", "reload", NULL), 0);
	assert_string_equal(V("input_number.test_1"), "45.0");
	assert_string_equal(A("input_number.test_1", "max"), "45.0");
	assert_string_equal(V("input_number.test_2"), "20.0");
	assert_string_equal(V("input_number.test_3"), "");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(bad_options_are_errors_at_their_place),
	cmocka_unit_test_teardown(set_value_takes_a_number_in_range, teardown),
	cmocka_unit_test_teardown(increment_and_decrement_stop_at_the_range_and_round, teardown),
	cmocka_unit_test_teardown(mode_unit_and_attributes, teardown),
	cmocka_unit_test_teardown(restart_restores_in_range_values_unless_initial, teardown),
	cmocka_unit_test_teardown(reload_applies_the_new_block, teardown),
};

TU_MAIN(tests)
