/* SPDX-License-Identifier: MIT */
/* input_boolean (platforms/input_boolean.c), in-process: Home Assistant's
 * tests/components/input_boolean/test_init.py case by case — test_config
 * (invalid slugs), test_methods, test_config_options, test_restore_state,
 * test_initial_state_overrules_restore_state, test_reload — written again
 * in C against the daemon. */
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

/* test_config: an object id must be a slug; every error at its place. */
static void a_key_that_is_not_a_slug_is_an_error_at_its_place(void **state)
{
	(void)state;
	char errs[2048];
	size_t n = ip_check("input_boolean:\n"
			    "  Porch Light: {}\n"
			    "  ok_one:\n"
			    "    initial: maybe\n"
			    "    icon: lightbulb\n",
			    errs, sizeof errs);
	assert_int_equal(n, 3);
	ip_expect_error(errs, "mqbridge.yaml:2:3: input_boolean.Porch Light: invalid slug "
				     "Porch Light (try porch_light)");
	ip_expect_error(errs, "mqbridge.yaml:4:14: input_boolean.ok_one.initial: expected "
				     "a boolean");
	ip_expect_error(errs, "mqbridge.yaml:5:11: input_boolean.ok_one.icon: Icons should "
				     "be specified in the form \"prefix:name\"");
}

/* test_methods: turn_on, turn_off, toggle; off to begin with. */
static void turn_on_turn_off_and_toggle(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_boolean:\n  test_1:\n");
	assert_string_equal(V("input_boolean.test_1"), "off");
	assert_int_equal(ip_call(&IP, "input_boolean", "turn_on",
				 "{\"entity_id\": \"input_boolean.test_1\"}"), 0);
	assert_string_equal(V("input_boolean.test_1"), "on");
	assert_int_equal(ip_call(&IP, "input_boolean", "turn_off",
				 "{\"entity_id\": \"input_boolean.test_1\"}"), 0);
	assert_string_equal(V("input_boolean.test_1"), "off");
	assert_int_equal(ip_call(&IP, "input_boolean", "toggle",
				 "{\"entity_id\": \"input_boolean.test_1\"}"), 0);
	assert_string_equal(V("input_boolean.test_1"), "on");
	assert_int_equal(ip_call(&IP, "input_boolean", "toggle",
				 "{\"entity_id\": \"input_boolean.test_1\"}"), 0);
	assert_string_equal(V("input_boolean.test_1"), "off");
}

/* test_config_options: name, icon and initial; editable false. */
static void options_show_in_the_state(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_boolean:\n"
		      "  test_1:\n"
		      "  test_2:\n"
		      "    name: Hello World\n"
		      "    initial: true\n"
		      "    icon: mdi:work\n");
	assert_string_equal(V("input_boolean.test_1"), "off");
	assert_string_equal(ip_attr(&IP, "input_boolean.test_1", "friendly_name", buf, sizeof buf),
			    "");
	assert_string_equal(ip_attr(&IP, "input_boolean.test_1", "editable", buf, sizeof buf),
			    "false");
	assert_string_equal(V("input_boolean.test_2"), "on");
	assert_string_equal(ip_attr(&IP, "input_boolean.test_2", "friendly_name", buf, sizeof buf),
			    "\"Hello World\"");
	assert_string_equal(ip_attr(&IP, "input_boolean.test_2", "icon", buf, sizeof buf),
			    "\"mdi:work\"");
}

/* test_restore_state / test_initial_state_overrules_restore_state: after
 * a restart each comes back as it was, but initial wins. */
static void a_restart_restores_the_state_unless_initial_is_given(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_boolean:\n"
		      "  b1:\n"
		      "  b2:\n"
		      "  b3: {initial: false}\n");
	assert_int_equal(ip_call(&IP, "input_boolean", "turn_on",
				 "{\"entity_id\": \"input_boolean.b1, input_boolean.b3\"}"), 0);
	assert_string_equal(V("input_boolean.b1"), "on");
	assert_string_equal(V("input_boolean.b3"), "on");
	ip_restart(&IP, NULL);
	assert_string_equal(V("input_boolean.b1"), "on");
	assert_string_equal(V("input_boolean.b2"), "off");
	assert_string_equal(V("input_boolean.b3"), "off");
}

/* test_reload: what stays keeps its state, what went goes, a new one
 * comes, a changed one takes its new options and keeps its state. */
static void reload_applies_the_new_block(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_boolean:\n"
		      "  test_1: {initial: true}\n"
		      "  test_2: {name: Two, initial: false}\n"
		      "  test_3:\n");
	assert_int_equal(ip_call(&IP, "input_boolean", "toggle",
				 "{\"entity_id\": [\"input_boolean.test_1\", "
				 "\"input_boolean.test_2\"]}"), 0);
	ip_write(&IP, "input_boolean:\n"
		      "  test_2: {name: Two again, initial: false, icon: mdi:test}\n"
		      "  test_3:\n"
		      "  test_4: {initial: true}\n");
	assert_int_equal(ip_call(&IP, "input_boolean", "reload", NULL), 0);
	json_t *gone = ip_state(&IP, "input_boolean.test_1");
	assert_null(gone);
	assert_string_equal(V("input_boolean.test_2"), "on");
	assert_string_equal(ip_attr(&IP, "input_boolean.test_2", "friendly_name", buf, sizeof buf),
			    "\"Two again\"");
	assert_string_equal(ip_attr(&IP, "input_boolean.test_2", "icon", buf, sizeof buf),
			    "\"mdi:test\"");
	assert_string_equal(V("input_boolean.test_3"), "off");
	assert_string_equal(V("input_boolean.test_4"), "on");
	/* reload takes no data */
	assert_int_equal(ip_call(&IP, "input_boolean", "reload", "{\"x\": 1}"), -EINVAL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(a_key_that_is_not_a_slug_is_an_error_at_its_place),
	cmocka_unit_test_teardown(turn_on_turn_off_and_toggle, teardown),
	cmocka_unit_test_teardown(options_show_in_the_state, teardown),
	cmocka_unit_test_teardown(a_restart_restores_the_state_unless_initial_is_given, teardown),
	cmocka_unit_test_teardown(reload_applies_the_new_block, teardown),
};

TU_MAIN(tests)
