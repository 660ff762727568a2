/* SPDX-License-Identifier: MIT */
/* Secrets and hardening (issue 12, items 5 and 6): no value taken from
 * !secret ever reaches a log line or an error, wherever it is used (the
 * client id was logged on connect, and a command's value came back in the
 * shell's error); and the daemon warns, once, at start and under -C, when
 * a file holding secrets is readable by every user, when it runs as root
 * and when TLS is not verified. The real daemon, at log level debug. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "faults.h"
#include "testutil.h"

#define T FA
/* Every secret carries this, and nothing else does. */
#define MARK "S3cr3t"

static const char secrets_yaml[] =
	"cid: cid-" MARK "Client\n"
	"user: usr-" MARK "User\n"
	"pass: pw-" MARK "Passw0rd\n"
	"cmd: /nonexistent/run-" MARK "T0ken\n"
	"cmd2: /nonexistent/" MARK "Tool --token " MARK "Arg\n"
	"topic: dev/" MARK "Topic\n"
	"unused: never-" MARK "Used\n";

static void write_secrets(mode_t mode)
{
	char path[256];
	td_write_file(&T, "secrets.yaml", secrets_yaml, path, sizeof path);
	assert_int_equal(chmod(path, mode), 0);
}

/* Lines of the daemon's log (or of text) that show a secret. */
static int shown(const char *text)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, MARK)); p++)
		n++;
	return n;
}

static int shown_in_log(void)
{
	return td_log_count(&T, MARK);
}

static void no_secret_reaches_the_log_wherever_it_is_used(void **s)
{
	(void)s;
	fa_begin(NULL, "mqbridge: {node_id: sec}\n"
		       "mqtt:\n"
		       "  broker: 127.0.0.1\n"
		       "  port: %PORT%\n"
		       "  client_id: !secret cid\n"
		       "  username: !secret user\n"
		       "  password: !secret pass\n"
		       "  sensor:\n"
		       "    - {name: Hidden, state_topic: !secret topic}\n"
		       "command_line:\n"
		       "  - sensor: {name: Secret command, command: !secret cmd, "
		       "scan_interval: 0.5}\n"
		       "  - sensor: {name: Other command, command: !secret cmd2, "
		       "scan_interval: 0.5}\n");
	write_secrets(0600);
	td_start(&T, NULL);
	td_expect(&T, "homeassistant/sensor/sec/hidden/config", NULL);
	/* The commands failed twice: the shell said why (naming the word it
	 * could not run: the whole of one secret, a piece of the other). */
	for (double end = tu_now() + 10 * FA_SLOW;
	     td_log_count(&T, "secret_command") < 2 || td_log_count(&T, "other_command") < 2;) {
		if (tu_now() > end) {
			td_dump(&T);
			fail_msg("the secret command never ran");
		}
		usleep(20 * 1000);
	}
	/* retained: it comes whenever the subscription is made */
	fa_pub(&T, "dev/" MARK "Topic", "42", 1, true);
	td_expect(&T, "mqbridge/sec/sensor/hidden/state", "42");
	td_stop_clean(&T);
	if (shown_in_log())
		td_dump(&T);
	fa_figure_max("log_lines_showing_a_secret", shown_in_log(), 0, "lines");
	/* They were used, and logged where their place is. */
	if (td_log_count(&T, "as (secret)") < 1) {
		td_dump(&T);
		fail_msg("the connect line does not say the client id is a secret");
	}
}

/* -C prints the errors of a file whose options hold secrets: their values
 * are not in them, whatever the option made of them. */
static void no_secret_reaches_the_errors_of_check_config(void **s)
{
	(void)s;
	fa_begin(NULL, "mqbridge: {node_id: sec}\n"
		       "mqtt:\n"
		       "  broker: 127.0.0.1\n"
		       "  port: !secret cid\n"
		       "  client_id: !secret cid\n"
		       "  keepalive: !secret user\n"
		       "  base_topic: !secret pass\n"
		       "  sensor:\n"
		       "    - {name: Hidden, state_topic: !secret topic, qos: !secret cmd}\n");
	write_secrets(0600);
	char err[8192];
	int rc = td_run(&T, err, sizeof err, "-C", NULL);
	assert_int_equal(rc, 78);
	if (shown(err))
		fprintf(stderr, "%s", err);
	fa_figure_max("check_config_lines_showing_a_secret", shown(err), 0, "lines");
	assert_non_null(strstr(err, "(secret)"));
}

/* ---- hardening ---------------------------------------------------------- */

static int count(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static const char plain[] = "mqbridge: {node_id: sec}\n"
			    "mqtt:\n"
			    "  broker: 127.0.0.1\n"
			    "  port: %PORT%\n"
			    "  password: !secret pass\n"
			    "  username: !secret user\n";

static void a_secrets_file_others_may_read_is_warned_of_once_at_start_and_in_check(void **s)
{
	(void)s;
	fa_begin(NULL, plain);
	write_secrets(0644);
	char err[8192];
	assert_int_equal(td_run(&T, err, sizeof err, "-C", NULL), 0);
	fa_figure_max("check_config_warnings_secrets_readable", count(err, "holds secrets"), 1,
		      "lines");
	fa_figure_min("check_config_warnings_secrets_readable_seen", count(err, "holds secrets"), 1,
		      "lines");
	td_start(&T, NULL);
	td_expect(&T, "mqbridge/sec/status", "online");
	td_stop_clean(&T);
	assert_int_equal(td_log_count(&T, "holds secrets"), 1);
	/* Readable by its owner alone: no warning. */
	write_secrets(0640);
	assert_int_equal(td_run(&T, err, sizeof err, "-C", NULL), 0);
	assert_int_equal(count(err, "holds secrets"), 0);
}

static void tls_without_verification_and_root_are_warned_of(void **s)
{
	(void)s;
	fa_begin(NULL, "mqtt:\n"
		       "  broker: 127.0.0.1\n"
		       "  port: %PORT%\n"
		       "  tls: {insecure: true}\n");
	char err[8192];
	assert_int_equal(td_run(&T, err, sizeof err, "-C", NULL), 0);
	assert_int_equal(count(err, "tls.insecure is true"), 1);
	assert_int_equal(count(err, "running as root"), geteuid() == 0);
	/* And not without them. */
	td_write_config(&T, "mqtt: {broker: 127.0.0.1, port: %PORT%, tls: {}}\n");
	assert_int_equal(td_run(&T, err, sizeof err, "-C", NULL), 0);
	assert_int_equal(count(err, "insecure"), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(no_secret_reaches_the_log_wherever_it_is_used, fa_teardown),
	cmocka_unit_test_teardown(no_secret_reaches_the_errors_of_check_config, fa_teardown),
	cmocka_unit_test_teardown(
		a_secrets_file_others_may_read_is_warned_of_once_at_start_and_in_check,
		fa_teardown),
	cmocka_unit_test_teardown(tls_without_verification_and_root_are_warned_of, fa_teardown),
};

TU_MAIN(tests)
