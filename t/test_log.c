/* SPDX-License-Identifier: MIT */
/* The log (lib/log.c): every registered secret is masked in every line,
 * longest first, also where the line is cut, and in error text printed
 * outside the log; lines to the journal carry its priority prefix. */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* What one line logged with stderr on a fresh file says, JOURNAL_STREAM
 * naming that file (or, with other, something else). */
static void stderr_line(bool other, enum mqb_log_level level, char *out, size_t len)
{
	char path[] = "/tmp/mqb-test-log.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	char js[64];
	snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + (other ? 1 : 0));
	setenv("JOURNAL_STREAM", js, 1);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	mqb_log_set_sink(NULL, NULL);
	mqb_log_close(); /* stderr is looked at again */
	mqb_log(level, "mqtt", "connection lost: %s", "EOF");
	dup2(saved, STDERR_FILENO);
	close(saved);
	unsetenv("JOURNAL_STREAM");
	mqb_log_close();
	ssize_t n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
}

/* systemd.exec(5): JOURNAL_STREAM is stderr's device:inode when the
 * journal holds it; sd-daemon(3)'s prefixes say the priority. */
static void journal_lines_carry_the_priority_prefix_and_no_time_of_their_own(void **state)
{
	(void)state;
	char line[256];
	stderr_line(false, MQB_LOG_WARNING, line, sizeof line);
	assert_string_equal(line, "<4>[mqtt] connection lost: EOF\n");
	stderr_line(false, MQB_LOG_ERROR, line, sizeof line);
	assert_string_equal(line, "<3>[mqtt] connection lost: EOF\n");
	stderr_line(false, MQB_LOG_INFO, line, sizeof line);
	assert_string_equal(line, "<6>[mqtt] connection lost: EOF\n");
}

static void stderr_that_is_not_the_journal_keeps_its_timestamps(void **state)
{
	(void)state;
	char line[256];
	stderr_line(true, MQB_LOG_WARNING, line, sizeof line);
	assert_int_equal(line[0] >= '1' && line[0] <= '9', 1); /* the year */
	assert_non_null(strstr(line, " warning [mqtt] connection lost: EOF\n"));
	assert_null(strchr(line, '<'));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(
		journal_lines_carry_the_priority_prefix_and_no_time_of_their_own, setup, teardown),
	cmocka_unit_test_setup_teardown(stderr_that_is_not_the_journal_keeps_its_timestamps, setup,
					teardown),
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
