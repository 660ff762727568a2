/* SPDX-License-Identifier: MIT */
/* input_text (platforms/input_text.c), in-process, after Home Assistant's
 * tests/components/input_text/test_init.py: test_config, test_set_value,
 * test_mode, test_restore_state, test_initial_state_overrules_restore_state,
 * test_no_initial_state_and_no_restore_state, test_reload; lengths are
 * counted in characters, as Python's len() counts them. */
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
	return ip_call(&IP, "input_text", "set_value", data);
}

/* test_config: min above max, an initial too long, a mode not known. */
static void bad_options_are_errors_at_their_place(void **state)
{
	(void)state;
	char errs[2048];
	size_t n = ip_check("input_text:\n"
			    "  test_1: {min: 50, max: 10}\n"
			    "  test_2: {initial: abcd, max: 3}\n"
			    "  test_3: {mode: secret}\n",
			    errs, sizeof errs);
	assert_int_equal(n, 3);
	ip_expect_error(errs, "mqbridge.yaml:2:26: input_text.test_1.max: Max len (10) is not "
				     "greater than min len (50)");
	ip_expect_error(errs, "mqbridge.yaml:3:21: input_text.test_2.initial: Initial value abcd "
				     "length not in range 0-3");
	ip_expect_error(errs, "mqbridge.yaml:4:18: input_text.test_3.mode: must be one of: "
				     "text, password; got 'secret'");
}

/* test_set_value: a value whose length does not fit is logged and left;
 * a number is taken as its text. */
static void set_value_keeps_to_the_lengths(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_text:\n  test_1: {initial: test, min: 3, max: 10}\n");
	assert_string_equal(V("input_text.test_1"), "test");
	assert_int_equal(set("input_text.test_1", "\"testing\""), 0);
	assert_string_equal(V("input_text.test_1"), "testing");
	assert_int_equal(set("input_text.test_1", "\"testing too long\""), 0);
	assert_string_equal(V("input_text.test_1"), "testing");
	assert_true(ip_logged(&IP, "Invalid value: testing too long (length range 3 - 10)"));
	/* ten characters, twenty bytes */
	assert_int_equal(set("input_text.test_1", "\"éééééééééé\""), 0);
	assert_string_equal(V("input_text.test_1"), "éééééééééé");
	assert_int_equal(set("input_text.test_1", "1234"), 0);
	assert_string_equal(V("input_text.test_1"), "1234");
}

/* test_mode and the attributes. */
static void mode_and_attributes(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_text:\n"
		      "  test_default_text: {initial: test, min: 3, max: 10}\n"
		      "  test_explicit_password: {initial: test, mode: password, pattern: '[a-z]*'}\n");
	assert_string_equal(A("input_text.test_default_text", "mode"), "\"text\"");
	assert_string_equal(A("input_text.test_default_text", "pattern"), "null");
	assert_string_equal(A("input_text.test_default_text", "min"), "3");
	assert_string_equal(A("input_text.test_default_text", "max"), "10");
	assert_string_equal(A("input_text.test_explicit_password", "mode"), "\"password\"");
	assert_string_equal(A("input_text.test_explicit_password", "pattern"), "\"[a-z]*\"");
	assert_string_equal(A("input_text.test_explicit_password", "max"), "100");
	assert_string_equal(A("input_text.test_explicit_password", "editable"), "false");
}

/* test_restore_state, test_initial_state_overrules_restore_state,
 * test_no_initial_state_and_no_restore_state. */
static void restart_restores_the_text_unless_initial(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_text:\n"
		      "  b1: {}\n"
		      "  b2: {max: 20}\n"
		      "  b3: {initial: first}\n"
		      "  b4: {}\n");
	assert_string_equal(V("input_text.b4"), "unknown");
	assert_int_equal(set("input_text.b1", "\"test\""), 0);
	assert_int_equal(set("input_text.b2", "\"testing too long\""), 0);
	assert_int_equal(set("input_text.b3", "\"second\""), 0);
	ip_restart(&IP, "input_text:\n"
			"  b1: {}\n"
			"  b2: {max: 10}\n"
			"  b3: {initial: first}\n"
			"  b4: {}\n");
	assert_string_equal(V("input_text.b1"), "test");
	assert_string_equal(V("input_text.b2"), "unknown");
	assert_string_equal(V("input_text.b3"), "first");
	assert_string_equal(V("input_text.b4"), "unknown");
}

/* test_reload. */
static void reload_applies_the_new_block(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_text:\n"
		      "  test_1: {initial: test 1}\n"
		      "  test_2: {initial: test 2}\n");
	assert_int_equal(set("input_text.test_1", "\"changed\""), 0);
	ip_write(&IP, "input_text:\n"
		      "  test_1: {initial: test 1, max: 20}\n"
		      "  test_3: {initial: test 3}\n");
	assert_int_equal(ip_call(&IP, "input_text", "reload", NULL), 0);
	assert_string_equal(V("input_text.test_1"), "changed");
	assert_string_equal(A("input_text.test_1", "max"), "20");
	assert_string_equal(V("input_text.test_2"), "");
	assert_string_equal(V("input_text.test_3"), "test 3");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(bad_options_are_errors_at_their_place),
	cmocka_unit_test_teardown(set_value_keeps_to_the_lengths, teardown),
	cmocka_unit_test_teardown(mode_and_attributes, teardown),
	cmocka_unit_test_teardown(restart_restores_the_text_unless_initial, teardown),
	cmocka_unit_test_teardown(reload_applies_the_new_block, teardown),
};

TU_MAIN(tests)
