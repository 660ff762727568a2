/* SPDX-License-Identifier: MIT */
/* shell_command (platforms/shell_command.c), in-process, after Home
 * Assistant's tests/components/shell_command/test_init.py:
 * test_executing_service, test_config_not_dict,
 * test_config_not_valid_service_names, test_template_render_no_template,
 * test_template_render, test_subprocess_error, test_stdout_captured,
 * test_stderr_captured, test_non_text_stdout_capture; and DESIGN §5's
 * rule, where mqbridge differs on purpose: a rendered template is one
 * argument, whatever it holds, and never meets a shell. (The 60 s
 * timeout killing the process group is cmd_run's, tested in test_cmd_run.) */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inproc.h"

static struct ip IP;

static int teardown(void **state)
{
	(void)state;
	ip_fini(&IP);
	return 0;
}

static bool exists(const char *name)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", IP.dir, name);
	return stat(path, &st) == 0;
}

/* test_executing_service, test_template_render_no_template: a command
 * without templates runs in a shell, in the configuration's directory. */
static void a_command_runs_as_a_service(void **state)
{
	(void)state;
	char buf[256];
	ip_start(&IP, "shell_command:\n"
		      "  test_service: date > called.txt\n"
		      "  no_template: echo 'Hello world'\n");
	assert_false(exists("called.txt"));
	assert_int_equal(ip_call(&IP, "shell_command", "test_service", NULL), 0);
	assert_true(exists("called.txt"));
	assert_int_equal(ip_call_response(&IP, "shell_command", "no_template", NULL, buf,
					  sizeof buf),
			 0);
	assert_string_equal(buf, "{\"returncode\":0,\"stderr\":\"\",\"stdout\":\"Hello world\"}");
}

/* test_config_not_dict, test_config_not_valid_service_names, and a
 * template that does not split (DESIGN §5: no shell operators). */
static void bad_blocks_are_errors(void **state)
{
	(void)state;
	char errs[1024];
	size_t n = ip_check("shell_command:\n"
			    "  this is invalid because space: touch bla.txt\n"
			    "  piped: echo {{ x }} | wc\n"
			    "  listed: [a, b]\n",
			    errs, sizeof errs);
	ip_expect_error(errs, "shell_command.this is invalid because space: invalid slug");
	ip_expect_error(errs, "shell_command.piped:");
	ip_expect_error(errs, "shell_command.listed: expected a command");
	assert_int_equal(n, 3);
	n = ip_check("shell_command: [echo]\n", errs, sizeof errs);
	ip_expect_error(errs, "shell_command: expected a mapping");
}

/* test_template_render, test_stdout_captured: templates read the states
 * and the call's data; the output, stripped, is the response. */
static void templates_render_from_states_and_data(void **state)
{
	(void)state;
	char buf[256];
	ip_start(&IP, "shell_command:\n"
		      "  mkdir: mkdir {{ states.sensor.test_state.state }}\n"
		      "  say: echo {{ template }}\n");
	ip_set(&IP, "sensor.test_state", "Works", NULL);
	assert_int_equal(ip_call(&IP, "shell_command", "mkdir", NULL), 0);
	assert_true(exists("Works"));
	assert_int_equal(ip_call_response(&IP, "shell_command", "say",
					  "{\"template\": \"really\"}", buf, sizeof buf),
			 0);
	assert_string_equal(buf, "{\"returncode\":0,\"stderr\":\"\",\"stdout\":\"really\"}");
	/* no response asked: none given */
	assert_int_equal(ip_call(&IP, "shell_command", "say", "{\"template\": \"x\"}"), 0);
}

/* DESIGN §5: what a template renders is exactly one argument, never
 * split and never seen by a shell (Home Assistant splits it with shlex). */
static void a_rendered_value_is_one_argument(void **state)
{
	(void)state;
	char buf[256];
	ip_start(&IP, "shell_command:\n"
		      "  show: printf '%s|' {{ value }} \"{{ value }}\" end\n");
	assert_int_equal(ip_call_response(&IP, "shell_command", "show",
					  "{\"value\": \"a b; touch pwned $(id)\"}", buf, sizeof buf),
			 0);
	assert_string_equal(buf, "{\"returncode\":0,\"stderr\":\"\",\"stdout\":"
				 "\"a b; touch pwned $(id)|a b; touch pwned $(id)|end|\"}");
	assert_false(exists("pwned"));
}

/* test_subprocess_error: a failing command is logged, its return code the
 * response's; test_stderr_captured; a command that cannot start fails the
 * call; test_non_text_stdout_capture: output that is not UTF-8 fails it. */
static void failures(void **state)
{
	(void)state;
	char buf[256];
	ip_start(&IP, "shell_command:\n"
		      "  fails: exit 3\n"
		      "  stderr: echo 'It is not working' 1>&2\n"
		      "  missing: no-such-program-here {{ 1 }}\n"
		      "  binary: printf '\\377\\376'\n");
	assert_int_equal(ip_call_response(&IP, "shell_command", "fails", NULL, buf, sizeof buf), 0);
	assert_string_equal(buf, "{\"returncode\":3,\"stderr\":\"\",\"stdout\":\"\"}");
	assert_true(ip_logged(&IP, "Error running command: `exit 3`, return code: 3"));
	assert_int_equal(ip_call_response(&IP, "shell_command", "stderr", NULL, buf, sizeof buf),
			 0);
	assert_string_equal(buf, "{\"returncode\":0,\"stderr\":\"It is not working\","
				 "\"stdout\":\"\"}");
	assert_int_equal(ip_call(&IP, "shell_command", "missing", NULL), -ENOENT);
	assert_int_equal(ip_call_response(&IP, "shell_command", "binary", NULL, buf, sizeof buf),
			 -EILSEQ);
	assert_true(ip_logged(&IP, "Unable to handle non-utf8 output of command"));
	assert_int_equal(ip_call(&IP, "shell_command", "binary", NULL), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(a_command_runs_as_a_service, teardown),
	cmocka_unit_test(bad_blocks_are_errors),
	cmocka_unit_test_teardown(templates_render_from_states_and_data, teardown),
	cmocka_unit_test_teardown(a_rendered_value_is_one_argument, teardown),
	cmocka_unit_test_teardown(failures, teardown),
};

TU_MAIN(tests)
