/* SPDX-License-Identifier: MIT */
/* input_button (platforms/input_button.c), in-process, after Home
 * Assistant's tests/components/input_button/test_init.py: test_config,
 * test_config_options, test_restore_state, test_reload and the press
 * (tests/components/button: the state is the press's time). */
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

/* test_config. */
static void bad_options_are_errors_at_their_place(void **state)
{
	(void)state;
	char errs[1024];
	size_t n = ip_check("input_button:\n"
			    "  name with space:\n"
			    "  test_2: {nam: x}\n",
			    errs, sizeof errs);
	assert_int_equal(n, 2);
	ip_expect_error(errs, "mqbridge.yaml:2:3: input_button.name with space: invalid "
				     "slug");
	ip_expect_error(errs, "mqbridge.yaml:3:12: input_button.test_2.nam: unknown option "
				     "'nam' (did you mean 'name'?)");
}

/* A press makes the state its time; before any it is unknown. */
static void a_press_makes_the_state_its_time(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_button:\n"
		      "  test_1:\n"
		      "  test_2: {name: Hello World, icon: mdi:work}\n");
	assert_string_equal(V("input_button.test_1"), "unknown");
	assert_string_equal(A("input_button.test_2", "friendly_name"), "\"Hello World\"");
	assert_string_equal(A("input_button.test_2", "icon"), "\"mdi:work\"");
	assert_string_equal(A("input_button.test_2", "editable"), "false");
	ip_advance(&IP, 1);
	assert_int_equal(ip_call(&IP, "input_button", "press",
				 "{\"entity_id\": \"input_button.test_1\"}"), 0);
	double pressed;
	int32_t off;
	bool aware;
	assert_true(mqb_parse_datetime(V("input_button.test_1"), &pressed, &off, &aware));
	assert_true(aware);
	assert_int_equal(off, 0);
	assert_true(fabs(ip_now(&IP) - pressed) < 1);
}

/* test_restore_state: the last press comes back. */
static void restart_restores_the_last_press(void **state)
{
	(void)state;
	char buf[64], before[64];
	ip_start(&IP, "input_button:\n  b1:\n  b2:\n");
	assert_int_equal(ip_call(&IP, "input_button", "press",
				 "{\"entity_id\": \"input_button.b1\"}"), 0);
	ip_value(&IP, "input_button.b1", before, sizeof before);
	ip_restart(&IP, NULL);
	assert_string_equal(V("input_button.b1"), before);
	assert_string_equal(V("input_button.b2"), "unknown");
}

/* test_reload. */
static void reload_applies_the_new_block(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "input_button:\n  test_1:\n  test_2:\n");
	ip_write(&IP, "input_button:\n  test_2: {name: Two}\n  test_3:\n");
	assert_int_equal(ip_call(&IP, "input_button", "reload", NULL), 0);
	assert_string_equal(V("input_button.test_1"), "");
	assert_string_equal(A("input_button.test_2", "friendly_name"), "\"Two\"");
	assert_string_equal(V("input_button.test_3"), "unknown");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(bad_options_are_errors_at_their_place),
	cmocka_unit_test_teardown(a_press_makes_the_state_its_time, teardown),
	cmocka_unit_test_teardown(restart_restores_the_last_press, teardown),
	cmocka_unit_test_teardown(reload_applies_the_new_block, teardown),
};

TU_MAIN(tests)
