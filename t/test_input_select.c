/* SPDX-License-Identifier: MIT */
/* input_select (platforms/input_select.c), in-process, after Home
 * Assistant's tests/components/input_select/test_init.py: test_config,
 * test_select_option, test_select_next, test_select_previous,
 * test_select_first_last, test_select_next_no_cycle (cycle: false),
 * test_config_options, test_set_options_service,
 * test_set_options_service_duplicate, test_restore_state,
 * test_initial_state_overrules_restore_state, test_reload and the
 * duplicates a YAML block may hold. */
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
#define ID "{\"entity_id\": \"input_select.test_1\""

static int call(const char *service, const char *rest)
{
	char data[256];
	snprintf(data, sizeof data, ID "%s}", rest ? rest : "");
	return ip_call(&IP, "input_select", service, data);
}

/* test_config: options required and not empty, initial one of them. */
static void bad_options_are_errors_at_their_place(void **state)
{
	(void)state;
	char errs[2048];
	size_t n = ip_check("input_select:\n"
			    "  test_1: {options: []}\n"
			    "  test_2: {initial: x}\n"
			    "  test_3:\n"
			    "    options: [a, b]\n"
			    "    initial: c\n",
			    errs, sizeof errs);
	assert_int_equal(n, 3);
	ip_expect_error(errs, "mqbridge.yaml:2:21: input_select.test_1.options: length of value must "
				     "be at least 1");
	ip_expect_error(errs, "mqbridge.yaml:3:11: input_select.test_2: required option "
				     "'options' is missing");
	ip_expect_error(errs, "mqbridge.yaml:6:14: input_select.test_3.initial: initial state c is "
				     "not part of the options: a,b");
}

/* test_select_option, test_select_next, test_select_previous,
 * test_select_first_last, and cycle: false stopping at the ends. */
static void select_services_move_among_the_options(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_select:\n"
		      "  test_1:\n"
		      "    options: [first option, middle option, last option]\n"
		      "    initial: middle option\n");
	assert_string_equal(V("input_select.test_1"), "middle option");
	assert_int_equal(call("select_option", ", \"option\": \"last option\""), 0);
	assert_string_equal(V("input_select.test_1"), "last option");
	assert_int_equal(call("select_option", ", \"option\": \"invalid option\""), -EINVAL);
	assert_string_equal(V("input_select.test_1"), "last option");
	assert_int_equal(call("select_next", NULL), 0);
	assert_string_equal(V("input_select.test_1"), "first option");
	assert_int_equal(call("select_previous", NULL), 0);
	assert_string_equal(V("input_select.test_1"), "last option");
	assert_int_equal(call("select_next", ", \"cycle\": false"), 0);
	assert_string_equal(V("input_select.test_1"), "last option");
	assert_int_equal(call("select_first", NULL), 0);
	assert_string_equal(V("input_select.test_1"), "first option");
	assert_int_equal(call("select_previous", ", \"cycle\": false"), 0);
	assert_string_equal(V("input_select.test_1"), "first option");
	assert_int_equal(call("select_last", NULL), 0);
	assert_string_equal(V("input_select.test_1"), "last option");
}

/* test_config_options: the first option without initial; options and
 * editable in the attributes; a duplicate dropped with a warning. */
static void options_and_duplicates(void **state)
{
	(void)state;
	char buf[128];
	ip_start(&IP, "input_select:\n"
		      "  test_1:\n"
		      "    options: [1, 2, 2]\n"
		      "    name: Hello World\n"
		      "    icon: mdi:work\n");
	assert_string_equal(V("input_select.test_1"), "1");
	assert_string_equal(A("input_select.test_1", "options"), "[\"1\",\"2\"]");
	assert_string_equal(A("input_select.test_1", "editable"), "false");
	assert_string_equal(A("input_select.test_1", "friendly_name"), "\"Hello World\"");
	assert_true(ip_logged(&IP, "Input select 'Hello World' with options ['1', '2', '2'] had "
				   "duplicated options, the duplicates have been removed"));
}

/* test_set_options_service and its duplicate case. */
static void set_options_replaces_them(void **state)
{
	(void)state;
	char buf[128];
	ip_start(&IP, "input_select:\n"
		      "  test_1:\n"
		      "    options: [first option, middle option, last option]\n"
		      "    initial: middle option\n");
	assert_int_equal(call("set_options", ", \"options\": [\"test1\", \"test2\"]"), 0);
	assert_string_equal(A("input_select.test_1", "options"), "[\"test1\",\"test2\"]");
	assert_string_equal(V("input_select.test_1"), "test1");
	assert_int_equal(call("select_option", ", \"option\": \"test2\""), 0);
	assert_string_equal(V("input_select.test_1"), "test2");
	assert_int_equal(call("set_options", ", \"options\": [\"a\", \"a\"]"), -EINVAL);
	assert_true(ip_logged(&IP, "Duplicated options: ['a', 'a']"));
	assert_string_equal(V("input_select.test_1"), "test2");
}

/* test_restore_state, test_initial_state_overrules_restore_state: a
 * restored option still among the options comes back, else the first;
 * initial wins. */
static void restart_restores_the_option(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_select:\n"
		      "  s1: {options: [first option, middle option, last option]}\n"
		      "  s2: {options: [first option, middle option, last option]}\n"
		      "  s3: {options: [first option, middle option, last option], "
		      "initial: middle option}\n");
	ip_call(&IP, "input_select", "select_last",
		"{\"entity_id\": [\"input_select.s1\", \"input_select.s2\", \"input_select.s3\"]}");
	ip_restart(&IP, "input_select:\n"
			"  s1: {options: [first option, middle option, last option]}\n"
			"  s2: {options: [first option, middle option]}\n"
			"  s3: {options: [first option, middle option, last option], "
			"initial: middle option}\n");
	assert_string_equal(V("input_select.s1"), "last option");
	assert_string_equal(V("input_select.s2"), "first option");
	assert_string_equal(V("input_select.s3"), "middle option");
}

/* test_reload. */
static void reload_applies_the_new_block(void **state)
{
	(void)state;
	char buf[128];
	ip_start(&IP, "input_select:\n"
		      "  test_1: {options: [first option, middle option, last option], "
		      "initial: middle option}\n"
		      "  test_2: {options: [an option, not an option], initial: an option}\n");
	ip_write(&IP, "input_select:\n"
		      "  test_2: {options: [an option, reloaded option], initial: an option}\n"
		      "  test_3: {options: [new option, newer option], initial: newer option}\n");
	assert_int_equal(ip_call(&IP, "input_select", "reload", NULL), 0);
	assert_string_equal(V("input_select.test_1"), "");
	assert_string_equal(V("input_select.test_2"), "an option");
	assert_string_equal(A("input_select.test_2", "options"),
			    "[\"an option\",\"reloaded option\"]");
	assert_string_equal(V("input_select.test_3"), "newer option");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(bad_options_are_errors_at_their_place),
	cmocka_unit_test_teardown(select_services_move_among_the_options, teardown),
	cmocka_unit_test_teardown(options_and_duplicates, teardown),
	cmocka_unit_test_teardown(set_options_replaces_them, teardown),
	cmocka_unit_test_teardown(restart_restores_the_option, teardown),
	cmocka_unit_test_teardown(reload_applies_the_new_block, teardown),
};

TU_MAIN(tests)
