/* SPDX-License-Identifier: MIT */
/* Secrets (issue 12, item 5): no value taken from !secret ever reaches a
 * log line or an error, wherever it is used (the client id was logged on
 * connect, and a command's value came back in the shell's error). The real
 * daemon, at log level debug. */
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
		       "scan_interval: 0.5}\n");
	write_secrets(0600);
	td_start(&T, NULL);
	td_expect(&T, "homeassistant/sensor/sec/hidden/config", NULL);
	/* The command failed twice: its shell said why, each time. */
	for (double end = tu_now() + 10 * FA_SLOW; td_log_count(&T, "secret_command") < 2;) {
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

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(no_secret_reaches_the_log_wherever_it_is_used, fa_teardown),
	cmocka_unit_test_teardown(no_secret_reaches_the_errors_of_check_config, fa_teardown),
};

TU_MAIN(tests)
