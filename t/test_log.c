/* SPDX-License-Identifier: MIT */
/* The log's secrets (lib/log.c): every registered value is masked in every
 * line, longest first, also where the line is cut, and in error text
 * printed outside the log. */
#include "config.h"

#include <string.h>

#include "testutil.h"
#include "lib/internal.h"
#include "mqbridge/log.h"

static char last[2048];

static void keep(void *ud, enum mqb_log_level level, const char *subsystem, const char *line)
{
	(void)ud;
	(void)level;
	(void)subsystem;
	snprintf(last, sizeof last, "%s", line);
}

static int setup(void **state)
{
	(void)state;
	mqb__secrets_clear();
	mqb_log_set_sink(keep, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mqb_log_set_sink(NULL, NULL);
	mqb__secrets_clear();
	return 0;
}

static void a_secret_is_masked_wherever_it_occurs_in_a_line(void **state)
{
	(void)state;
	assert_int_equal(mqb__secret_add("hunter2", 7), 0);
	MQB_LOG_INFO("t", "connected as hunter2 (user hunter2x, 'hunter2')");
	assert_string_equal(last, "connected as (secret) (user (secret)x, '(secret)')");
}

static void the_longer_of_two_overlapping_secrets_is_masked_whole(void **state)
{
	(void)state;
	assert_int_equal(mqb__secret_add("abc", 3), 0);
	assert_int_equal(mqb__secret_add("abcdef", 6), 0);
	MQB_LOG_INFO("t", "x abcdef y abc z");
	assert_string_equal(last, "x (secret) y (secret) z");
}

/* A secret straddling the end of a long line is not cut in half with its
 * first half shown. */
static void a_secret_across_the_cut_of_a_long_line_is_not_shown_in_part(void **state)
{
	(void)state;
	const char *secret = "s3cr3tvalue";
	assert_int_equal(mqb__secret_add(secret, strlen(secret)), 0);
	char pad[2000];
	for (size_t cut = 1015; cut < 1030; cut++) {
		memset(pad, 'p', cut);
		pad[cut] = 0;
		MQB_LOG_INFO("t", "%s%s tail", pad, secret);
		assert_null(strstr(last, "s3cr"));
		assert_null(strstr(last, "s3"));
		assert_true(strlen(last) < 1100);
	}
}

static void a_multi_line_secret_is_masked_line_by_line(void **state)
{
	(void)state;
	const char *pem = "-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----\n";
	assert_int_equal(mqb__secret_add(pem, strlen(pem)), 0);
	MQB_LOG_INFO("t", "bad line: AAAABBBBCCCC");
	assert_string_equal(last, "bad line: (secret)");
}

static void error_text_outside_the_log_is_masked_too(void **state)
{
	(void)state;
	assert_int_equal(mqb__secret_add("tok-9", 5), 0);
	char out[64];
	assert_string_equal(mqb__secret_redact("cannot connect as tok-9: refused", out, sizeof out),
			    "cannot connect as (secret): refused");
	assert_string_equal(mqb__secret_redact("tok-9tok-9", out, 12), "(secret)");
}

static void without_secrets_lines_are_unchanged(void **state)
{
	(void)state;
	MQB_LOG_INFO("t", "%s", "plain text, 100%");
	assert_string_equal(last, "plain text, 100%");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(a_secret_is_masked_wherever_it_occurs_in_a_line, setup,
					teardown),
	cmocka_unit_test_setup_teardown(the_longer_of_two_overlapping_secrets_is_masked_whole,
					setup, teardown),
	cmocka_unit_test_setup_teardown(
		a_secret_across_the_cut_of_a_long_line_is_not_shown_in_part, setup, teardown),
	cmocka_unit_test_setup_teardown(a_multi_line_secret_is_masked_line_by_line, setup,
					teardown),
	cmocka_unit_test_setup_teardown(error_text_outside_the_log_is_masked_too, setup, teardown),
	cmocka_unit_test_setup_teardown(without_secrets_lines_are_unchanged, setup, teardown),
};

TU_MAIN(tests)
