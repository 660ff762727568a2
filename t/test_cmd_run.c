/* SPDX-License-Identifier: MIT */
/* The command_line runner and word splitter without the daemon: exit
 * status, output and its bounds, timeouts that leave nothing of the
 * process group alive, clean signal state and descriptors in the child,
 * and templated commands whose rendered values stay single arguments that
 * no shell ever sees. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "testutil.h"
#include "mqbridge/template.h"
#include "mqbridge/text.h"
#include "../platforms/cmd_run.h"

static const enum cmd_spawn methods[] = {CMD_SPAWN_DEFAULT, CMD_SPAWN_FORK};
#define NMETHODS (sizeof methods / sizeof methods[0])

/* The ways a command is started and its exit seen: posix_spawn or fork,
 * and a pidfd or asking. */
static const struct {
	enum cmd_spawn spawn;
	bool no_pidfd;
} ways[] = {{CMD_SPAWN_DEFAULT, false}, {CMD_SPAWN_FORK, false}, {CMD_SPAWN_DEFAULT, true}};
#define NWAYS (sizeof ways / sizeof ways[0])

static struct cmd_result run_way(const char *sh, double timeout, size_t w)
{
	struct cmd_spec spec = {.shell = sh, .timeout = timeout, .spawn = ways[w].spawn,
				.no_pidfd = ways[w].no_pidfd};
	struct cmd_result r;
	assert_int_equal(cmd_run(&spec, &r), 0);
	return r;
}

static struct cmd_result run_shell(const char *sh, double timeout, enum cmd_spawn m)
{
	struct cmd_spec spec = {.shell = sh, .timeout = timeout, .spawn = m};
	struct cmd_result r;
	assert_int_equal(cmd_run(&spec, &r), 0);
	return r;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The test is its processes' subreaper (see group_setup), so orphans of a
 * killed group come back to it and are reaped here: whether the group is
 * gone does not depend on what PID 1 does. */
static void reap_orphans(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* Wait (bounded) until nothing of process group pgid is left. */
static bool group_gone(pid_t pgid, double timeout)
{
	double end = tu_now() + timeout;
	for (;;) {
		reap_orphans();
		if (kill(-pgid, 0) < 0 && errno == ESRCH)
			return true;
		if (tu_now() > end)
			return false;
		sleep_ms(5);
	}
}

static int group_setup(void **state)
{
	(void)state;
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	return 0;
}

/* ---- the runner ------------------------------------------------------- */

static void exit_status_stdout_and_stderr_are_captured(void **state)
{
	(void)state;
	for (size_t w = 0; w < NWAYS; w++) {
		struct cmd_result r = run_way(
			"printf 'hello\\n'; echo 'no such sensor' >&2; exit 3", 5, w);
		assert_int_equal(r.how, CMD_EXITED);
		assert_int_equal(r.status, 3);
		assert_string_equal(r.out, "hello\n");
		assert_int_equal(r.out_len, 6);
		assert_string_equal(r.err, "no such sensor\n");
		assert_false(r.out_truncated);
		char buf[128];
		assert_string_equal(cmd_describe(&r, 5, buf, sizeof buf), "exit status 3");
		cmd_result_fini(&r);
	}
}

static void empty_output_is_an_empty_string(void **state)
{
	(void)state;
	struct cmd_result r = run_shell("true", 5, CMD_SPAWN_DEFAULT);
	assert_int_equal(r.how, CMD_EXITED);
	assert_int_equal(r.status, 0);
	assert_non_null(r.out);
	assert_string_equal(r.out, "");
	assert_int_equal(r.out_len, 0);
	cmd_result_fini(&r);
}

static void stdin_is_dev_null(void **state)
{
	(void)state;
	/* cat on an inherited terminal or pipe would wait; /dev/null ends it */
	struct cmd_result r = run_shell("cat; echo done", 5, CMD_SPAWN_DEFAULT);
	assert_int_equal(r.how, CMD_EXITED);
	assert_string_equal(r.out, "done\n");
	cmd_result_fini(&r);
}

/* A notification's message on standard input, whatever the command does
 * with it: reads it all, part of it, or none and exits. */
static void input_goes_to_the_command_on_stdin(void **state)
{
	(void)state;
	static char big[1 << 20];
	memset(big, 'x', sizeof big);
	for (size_t w = 0; w < NWAYS; w++) {
		struct cmd_result r;
		struct cmd_spec spec = {.shell = "cat; echo", .timeout = 10, .spawn = ways[w].spawn,
					.no_pidfd = ways[w].no_pidfd, .input = "Dinner is ready",
					.input_len = 15};
		assert_int_equal(cmd_run(&spec, &r), 0);
		assert_int_equal(r.how, CMD_EXITED);
		assert_string_equal(r.out, "Dinner is ready\n");
		cmd_result_fini(&r);
		/* more than a pipe holds, read a little */
		spec = (struct cmd_spec){.shell = "head -c 3", .timeout = 10, .spawn = ways[w].spawn,
					 .no_pidfd = ways[w].no_pidfd, .input = big,
					 .input_len = sizeof big};
		assert_int_equal(cmd_run(&spec, &r), 0);
		assert_int_equal(r.how, CMD_EXITED);
		assert_int_equal(r.status, 0);
		assert_string_equal(r.out, "xxx");
		cmd_result_fini(&r);
		/* not read at all: no SIGPIPE for us */
		spec.shell = "exit 3";
		assert_int_equal(cmd_run(&spec, &r), 0);
		assert_int_equal(r.how, CMD_EXITED);
		assert_int_equal(r.status, 3);
		cmd_result_fini(&r);
		/* an empty message is an empty stdin */
		spec = (struct cmd_spec){.shell = "wc -c", .timeout = 10, .spawn = ways[w].spawn,
					 .input = "", .input_len = 0};
		assert_int_equal(cmd_run(&spec, &r), 0);
		assert_int_equal(atoi(r.out), 0);
		cmd_result_fini(&r);
	}
}

static void stdout_is_bounded_and_drained(void **state)
{
	(void)state;
	for (size_t m = 0; m < NMETHODS; m++) {
		struct cmd_spec spec = {
			.shell = "head -c 300000 /dev/zero | tr '\\0' a; echo tail >&2",
			.timeout = 10,
			.max_stdout = 65536,
			.max_stderr = 3,
			.spawn = methods[m],
		};
		struct cmd_result r;
		assert_int_equal(cmd_run(&spec, &r), 0);
		/* it finished (was not blocked on a full pipe) */
		assert_int_equal(r.how, CMD_EXITED);
		assert_int_equal(r.status, 0);
		assert_int_equal(r.out_len, 65536);
		assert_true(r.out_truncated);
		assert_int_equal(r.out[65535], 'a');
		assert_int_equal(r.out[65536], '\0');
		assert_int_equal(r.err_len, 3);
		assert_true(r.err_truncated);
		assert_memory_equal(r.err, "tai", 3);
		cmd_result_fini(&r);
	}
}

static void a_timeout_kills_the_whole_process_group(void **state)
{
	(void)state;
	for (size_t w = 0; w < NWAYS; w++) {
		double t0 = tu_now();
		struct cmd_result r = run_way(
			"sleep 1000 & sleep 1000 & (sleep 1000 &) ; echo started; wait", 0.5, w);
		double took = tu_now() - t0;
		assert_int_equal(r.how, CMD_TIMEOUT);
		assert_string_equal(r.out, "started\n");
		assert_true(took >= 0.5 && took < 5);
		assert_true(r.pid > 0);
		assert_true(group_gone(r.pid, TU_TIMEOUT));
		char buf[128];
		cmd_describe(&r, 0.5, buf, sizeof buf);
		assert_non_null(strstr(buf, "timed out after 0.5 s"));
		cmd_result_fini(&r);
	}
}

static void children_holding_the_output_are_killed_at_the_timeout(void **state)
{
	(void)state;
	/* the shell exits at once; its child keeps stdout open, so the output
	 * is not complete until the time runs out, and then the group goes */
	for (size_t w = 0; w < NWAYS; w++) {
		struct cmd_result r = run_way("sleep 1000 & echo forked", 0.4, w);
		assert_int_equal(r.how, CMD_TIMEOUT);
		assert_string_equal(r.out, "forked\n");
		assert_true(group_gone(r.pid, TU_TIMEOUT));
		cmd_result_fini(&r);
	}
}

static void a_command_that_detaches_its_child_is_not_waited_for(void **state)
{
	(void)state;
	for (size_t w = 0; w < NWAYS; w++) {
		struct cmd_result r = run_way("sleep 1000 >/dev/null 2>&1 & echo $!", 10, w);
		assert_int_equal(r.how, CMD_EXITED);
		assert_int_equal(r.status, 0);
		assert_true(r.seconds < 5);
		/* not ours to kill when the command succeeded; the test cleans up */
		kill(-r.pid, SIGKILL);
		assert_true(group_gone(r.pid, TU_TIMEOUT));
		cmd_result_fini(&r);
	}
}

static bool cancel_after(void *ud)
{
	return tu_now() > *(double *)ud;
}

static void a_cancelled_command_is_killed_with_its_group(void **state)
{
	(void)state;
	double when = tu_now() + 0.3;
	struct cmd_spec spec = {.shell = "sleep 1000 & sleep 1000",
				.timeout = 60,
				.cancelled = cancel_after,
				.cancel_ud = &when};
	struct cmd_result r;
	assert_int_equal(cmd_run(&spec, &r), 0);
	assert_int_equal(r.how, CMD_CANCELLED);
	assert_true(r.seconds < 5);
	assert_true(group_gone(r.pid, TU_TIMEOUT));
	cmd_result_fini(&r);
}

static void a_command_killed_by_a_signal_says_which(void **state)
{
	(void)state;
	for (size_t w = 0; w < NWAYS; w++) {
		struct cmd_result r = run_way("kill -9 $$", 5, w);
		assert_int_equal(r.how, CMD_SIGNALED);
		assert_int_equal(r.status, SIGKILL);
		char buf[128];
		cmd_describe(&r, 5, buf, sizeof buf);
		assert_non_null(strstr(buf, "killed by signal 9"));
		cmd_result_fini(&r);
	}
}

/* The hexadecimal mask on line "<field>:\t..." of /proc/<pid>/status text. */
static unsigned long long status_mask(const char *status, const char *field)
{
	const char *p = strstr(status, field);
	assert_non_null(p);
	p += strlen(field);
	while (*p == ':' || *p == '\t' || *p == ' ')
		p++;
	return strtoull(p, NULL, 16);
}

static void the_command_gets_default_signals_and_an_empty_mask(void **state)
{
	(void)state;
	/* what the daemon does to itself: handlers, ignored and blocked
	 * signals (libev and Paho, SIGPIPE) */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_term, old_pipe;
	sigaction(SIGTERM, &ign, &old_term);
	sigaction(SIGPIPE, &ign, &old_pipe);

	char *argv[] = {"cat", "/proc/self/status", NULL};
	for (size_t m = 0; m < NMETHODS; m++) {
		for (int shell = 0; shell < 2; shell++) {
			struct cmd_spec spec = {.timeout = 5, .spawn = methods[m]};
			if (shell)
				spec.shell = "exec cat /proc/self/status";
			else
				spec.argv = argv;
			struct cmd_result r;
			assert_int_equal(cmd_run(&spec, &r), 0);
			assert_int_equal(r.how, CMD_EXITED);
			assert_int_equal(r.status, 0);
			unsigned long long blk = status_mask(r.out, "SigBlk");
			unsigned long long ignm = status_mask(r.out, "SigIgn");
			assert_int_equal(blk & (1ULL << (SIGTERM - 1)), 0);
			assert_int_equal(ignm & (1ULL << (SIGTERM - 1)), 0);
			assert_int_equal(ignm & (1ULL << (SIGPIPE - 1)), 0);
			assert_int_equal(blk, 0);
			assert_int_equal(ignm, 0);
			/* a session of its own */
			char needle[64];
			snprintf(needle, sizeof needle, "NSpgid:\t%ld", (long)r.pid);
			assert_non_null(strstr(r.out, needle));
			cmd_result_fini(&r);
		}
	}
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void no_descriptor_of_the_daemon_reaches_the_command(void **state)
{
	(void)state;
	/* not close-on-exec, as a careless library's descriptor would be */
	int fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 57), 57);
	close(fd);
	for (size_t m = 0; m < NMETHODS; m++) {
		struct cmd_result r = run_shell("ls /proc/$$/fd", 5, methods[m]);
		assert_int_equal(r.how, CMD_EXITED);
		assert_null(strstr(r.out, "57"));
		cmd_result_fini(&r);
	}
	close(57);
}

static void the_working_directory_is_the_one_asked_for(void **state)
{
	(void)state;
	for (size_t m = 0; m < NMETHODS; m++) {
		struct cmd_spec spec = {.shell = "pwd", .cwd = "/tmp", .timeout = 5,
					.spawn = methods[m]};
		struct cmd_result r;
		assert_int_equal(cmd_run(&spec, &r), 0);
		assert_int_equal(r.how, CMD_EXITED);
		assert_string_equal(r.out, "/tmp\n");
		cmd_result_fini(&r);

		spec.cwd = "/nonexistent/dir";
		assert_int_equal(cmd_run(&spec, &r), 0);
		assert_int_equal(r.how, CMD_NOT_RUN);
		assert_int_equal(r.status, ENOENT);
		cmd_result_fini(&r);
	}
}

static void a_missing_program_is_reported(void **state)
{
	(void)state;
	char *argv[] = {"no-such-program-mqbridge", "x", NULL};
	for (size_t m = 0; m < NMETHODS; m++) {
		struct cmd_spec spec = {.argv = argv, .timeout = 5, .spawn = methods[m]};
		struct cmd_result r;
		assert_int_equal(cmd_run(&spec, &r), 0);
		assert_int_equal(r.how, CMD_NOT_RUN);
		assert_int_equal(r.status, ENOENT);
		char buf[128];
		assert_non_null(strstr(cmd_describe(&r, 5, buf, sizeof buf), "could not start"));
		cmd_result_fini(&r);

		char *rel[] = {"/nonexistent/prog", NULL};
		spec.argv = rel;
		assert_int_equal(cmd_run(&spec, &r), 0);
		assert_int_equal(r.how, CMD_NOT_RUN);
		assert_int_equal(r.status, ENOENT);
		cmd_result_fini(&r);
	}
	/* through the shell, as Home Assistant has it: exit status 127 */
	struct cmd_result r = run_shell("no-such-program-mqbridge", 5, CMD_SPAWN_DEFAULT);
	assert_int_equal(r.how, CMD_EXITED);
	assert_int_equal(r.status, 127);
	assert_non_null(strstr(r.err, "not found"));
	cmd_result_fini(&r);
}

static void a_bad_spec_is_refused(void **state)
{
	(void)state;
	struct cmd_result r;
	struct cmd_spec none = {.timeout = 1};
	assert_int_equal(cmd_run(&none, &r), -EINVAL);
	char *argv[] = {"true", NULL};
	struct cmd_spec both = {.shell = "true", .argv = argv};
	assert_int_equal(cmd_run(&both, &r), -EINVAL);
	char *empty[] = {NULL};
	struct cmd_spec noprog = {.argv = empty};
	assert_int_equal(cmd_run(&noprog, &r), -EINVAL);
}

static void commands_run_from_many_threads_at_once(void **state);

/* ---- text helpers ----------------------------------------------------- */

static void output_is_stripped_as_home_assistant_does(void **state)
{
	(void)state;
	const char *text = " \t21.5\r\n\n";
	size_t len = strlen(text);
	const char *s = mqb_strip_bytes(text, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(s, "21.5", 4);

	len = 2;
	mqb_strip_bytes("\n\n", &len);
	assert_int_equal(len, 0);
}

static void log_text_is_made_printable_and_bounded(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(cmd_printable("  bad\tthing\nhere\n", 17, buf, sizeof buf),
			    "bad\\tthing\\nhere");
	assert_string_equal(cmd_printable("\x1b[31mred\xff", 9, buf, sizeof buf), "?[31mred?");
	assert_string_equal(cmd_printable("\xc2\xb0" "C", 3, buf, sizeof buf), "\xc2\xb0" "C");
	char longtext[100];
	memset(longtext, 'x', sizeof longtext);
	cmd_printable(longtext, sizeof longtext, buf, sizeof buf);
	assert_int_equal(strlen(buf), sizeof buf - 1);
	assert_string_equal(buf + strlen(buf) - 3, "...");
	char tiny[8];
	cmd_printable("\xc2\xb0\xc2\xb0\xc2\xb0\xc2\xb0", 8, tiny, sizeof tiny);
	assert_true(mqb_utf8_valid(tiny, strlen(tiny) - 3));
}

static void availability_follows_home_assistants_booleans(void **state)
{
	(void)state;
	const char *yes[] = {"True", "true", " on\n", "YES", "enable", "1", "1.0", "-2"};
	const char *no[] = {"False", "off", "0", "0.0", "", "online", "nan", "2 cats"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (!cmd_truthy(yes[i]))
			fail_msg("'%s' should be true", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (cmd_truthy(no[i]))
			fail_msg("'%s' should be false", no[i]);
}

static void a_switch_template_means_on_for_true_on_and_1(void **state)
{
	(void)state;
	assert_true(cmd_switch_on("True"));
	assert_true(cmd_switch_on(" on \n"));
	assert_true(cmd_switch_on("1"));
	assert_false(cmd_switch_on("yes"));
	assert_false(cmd_switch_on("0"));
	assert_false(cmd_switch_on("off"));
	assert_false(cmd_switch_on(""));
	assert_false(cmd_switch_on("true enough"));
}

static void a_cover_state_is_a_position_or_a_word(void **state)
{
	(void)state;
	const char *st;
	int pos;
	assert_int_equal(cmd_cover_state("0\n", &st, &pos), 0);
	assert_string_equal(st, "closed");
	assert_int_equal(pos, 0);
	assert_int_equal(cmd_cover_state("  100", &st, &pos), 0);
	assert_string_equal(st, "open");
	assert_int_equal(pos, 100);
	assert_int_equal(cmd_cover_state("42", &st, &pos), 0);
	assert_string_equal(st, "open");
	assert_int_equal(pos, 42);
	assert_int_equal(cmd_cover_state("Closing", &st, &pos), 0);
	assert_string_equal(st, "closing");
	assert_int_equal(pos, -1);
	assert_int_equal(cmd_cover_state("101", &st, &pos), -EINVAL);
	assert_int_equal(cmd_cover_state("-1", &st, &pos), -EINVAL);
	assert_int_equal(cmd_cover_state("half", &st, &pos), -EINVAL);
	assert_int_equal(cmd_cover_state("", &st, &pos), -EINVAL);
	assert_int_equal(cmd_cover_state("4.5", &st, &pos), -EINVAL);
}

static json_t *jpath_on(const char *path, const char *doc_text, json_t **doc)
{
	struct cmd_jpath *p;
	char err[128];
	if (cmd_jpath_compile(path, &p, err, sizeof err))
		fail_msg("'%s': %s", path, err);
	*doc = json_loads(doc_text, JSON_DECODE_ANY, NULL);
	assert_non_null(*doc);
	json_t *m = cmd_jpath_first(p, *doc);
	cmd_jpath_free(p);
	return m;
}

static void json_attributes_path_finds_the_first_match(void **state)
{
	(void)state;
	const char *tele = "{\"Time\":\"2024-01-07T10:00:00\",\"ENERGY\":{\"Power\":230,"
			   "\"Today\":1.2},\"list\":[{\"a\":1},{\"a\":2}],\"we ird\":{\"x\":3}}";
	json_t *doc, *m;
	m = jpath_on("$", tele, &doc);
	assert_ptr_equal(m, doc);
	json_decref(doc);
	m = jpath_on("$.ENERGY", tele, &doc);
	assert_int_equal(json_integer_value(json_object_get(m, "Power")), 230);
	json_decref(doc);
	m = jpath_on("$.list[1]", tele, &doc);
	assert_int_equal(json_integer_value(json_object_get(m, "a")), 2);
	json_decref(doc);
	m = jpath_on("$.list[-1].a", tele, &doc);
	assert_int_equal(json_integer_value(m), 2);
	json_decref(doc);
	m = jpath_on("$.list[*].a", tele, &doc);
	assert_int_equal(json_integer_value(m), 1);
	json_decref(doc);
	m = jpath_on("$['we ird'].x", tele, &doc);
	assert_int_equal(json_integer_value(m), 3);
	json_decref(doc);
	m = jpath_on("$.*.Power", tele, &doc);
	assert_int_equal(json_integer_value(m), 230);
	json_decref(doc);
	m = jpath_on("$.[0]", "[{\"a\":1}]", &doc);
	assert_int_equal(json_integer_value(json_object_get(m, "a")), 1);
	json_decref(doc);
	m = jpath_on("$[0].a", "[{\"a\":1}]", &doc);
	assert_int_equal(json_integer_value(m), 1);
	json_decref(doc);
	m = jpath_on("$.missing.deeper", tele, &doc);
	assert_null(m);
	json_decref(doc);

	const char *bad[] = {"ENERGY", "$..a", "$.", "$[x]", "$['a'", "$a", "$[1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct cmd_jpath *p = (struct cmd_jpath *)1;
		char err[128] = "";
		if (cmd_jpath_compile(bad[i], &p, err, sizeof err) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_null(p);
		assert_true(err[0]);
	}
}

/* ---- splitting -------------------------------------------------------- */

static void commands_with_templates_are_recognised(void **state)
{
	(void)state;
	assert_false(cmd_has_template("cat /sys/class/thermal/thermal_zone0/temp"));
	assert_false(cmd_has_template("awk '{print $1}' /proc/loadavg"));
	assert_false(cmd_has_template("echo ${#HOME}"));
	assert_true(cmd_has_template("echo {{ value }}"));
	assert_true(cmd_has_template("echo {% if true %}x{% endif %}"));
}

static void split_ok(const char *text, const char *const *want, const bool *templated, size_t n)
{
	struct cmd_line c;
	struct cmd_split_error e;
	int rc = cmd_line_parse(text, &c, &e);
	if (rc)
		fail_msg("'%s': %s", text, e.message);
	assert_int_equal(c.n, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(c.words[i].text, want[i]);
		assert_int_equal(c.words[i].tpl != NULL, templated[i]);
	}
	cmd_line_fini(&c);
}

static void words_are_split_like_a_shell_without_expansion(void **state)
{
	(void)state;
	{
		const char *w[] = {"echo", "{{ value }}", "two words", "x y", "a b", "", "q\"q"};
		const bool t[] = {false, true, false, false, false, false, false};
		split_ok("echo {{ value }} \"two words\" 'x y' a\\ b '' \"q\\\"q\"", w, t, 7);
	}
	{
		/* a template with spaces and quotes of its own stays one word */
		const char *w[] = {"mosquitto_pub", "-t", "home/temp", "-m",
				   "{{ states('sensor.x') | float(0) }} °C"};
		const bool t[] = {false, false, false, false, true};
		split_ok("mosquitto_pub -t home/temp "
			 "-m \"{{ states('sensor.x') | float(0) }} °C\"",
			 w, t, 5);
	}
	{
		/* Jinja string literals may hold the closing braces */
		const char *w[] = {"echo", "{{ \"}}\" ~ '\"' }}", "--x={% if 1 %}a{% endif %}"};
		const bool t[] = {false, true, true};
		split_ok("echo {{ \"}}\" ~ '\"' }} --x={% if 1 %}a{% endif %}", w, t, 3);
	}
	{
		/* single quotes keep backslashes; a line continuation joins */
		const char *w[] = {"printf", "a\\b", "%s", "{{ value }}"};
		const bool t[] = {false, false, false, true};
		split_ok("printf 'a\\b' \\\n %s\t{{ value }}\n", w, t, 4);
	}
}

static void split_fails(const char *text, const char *needle)
{
	struct cmd_line c;
	struct cmd_split_error e;
	int rc = cmd_line_parse(text, &c, &e);
	if (rc != -EINVAL)
		fail_msg("'%s' was accepted", text);
	if (!strstr(e.message, needle))
		fail_msg("'%s': message '%s' lacks '%s'", text, e.message, needle);
}

static void bad_templated_commands_are_refused_with_a_reason(void **state)
{
	(void)state;
	split_fails("echo 'abc {{ value }}", "unterminated single quote");
	split_fails("echo \"abc {{ value }}", "unterminated double quote");
	split_fails("echo {{ value", "unterminated template tag");
	split_fails("{{ value }} --now", "the program (the first word) cannot be a template");
	split_fails("echo {{ value }} | mosquitto_pub -l", "unquoted '|'");
	split_fails("echo {{ value }}; reboot", "unquoted ';'");
	split_fails("echo {{ value }} > /tmp/x", "unquoted '>'");
	split_fails("echo {{ value }} && true", "unquoted '&'");
	split_fails("echo $(date) {{ value }}", "unquoted '$'");
	split_fails("echo `date` {{ value }}", "unquoted '`'");
	split_fails("echo \"$HOME\" {{ value }}", "'$' inside double quotes");
	split_fails("~/bin/set {{ value }}", "unquoted '~'");
	split_fails("echo {{ value }} # comment", "unquoted '#'");
	split_fails("echo {{ value + }}", "argument 1: invalid template");
	split_fails("echo {% if value %} on {% endif %}", "a block must lie within one argument");
	split_fails("echo {{ value }} \\", "backslash at the end");
	split_fails("   ", "empty");
	/* what the shell would have done is also fine where quoted */
	struct cmd_line c;
	struct cmd_split_error e;
	assert_int_equal(cmd_line_parse("echo '|;&$(x)' \"a|b\" {{ value }}", &c, &e), 0);
	cmd_line_fini(&c);
}

/* ---- rendering arguments --------------------------------------------- */

struct render_ctx {
	const char *value;
	size_t value_len;
	int calls;
};

static int render_value(void *ud, unsigned word, const struct mqb_template *t, char **out,
			size_t *len)
{
	struct render_ctx *rc = ud;
	struct mqb_tpl_vars vars = {.value = rc->value, .value_len = rc->value_len};
	struct mqb_tpl_error e;
	(void)word;
	rc->calls++;
	return mqb_template_render(t, &vars, NULL, out, len, &e);
}

static void make_dir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/test_cmd_run.XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void templates_render_to_exactly_one_argument_and_no_shell(void **state)
{
	(void)state;
	char dir[64], file[96];
	make_dir(dir, sizeof dir);
	snprintf(file, sizeof file, "%s/FILE", dir);
	/* what an attacker who controls a state or payload might send */
	char hostile[8][160];
	snprintf(hostile[0], 160, "x; touch %s", file);
	snprintf(hostile[1], 160, "$(touch %s)", file);
	snprintf(hostile[2], 160, "`touch %s`", file);
	snprintf(hostile[3], 160, "ON && touch %s", file);
	snprintf(hostile[4], 160, "'; touch %s; '", file);
	snprintf(hostile[5], 160, "\"; touch %s; \"", file);
	snprintf(hostile[6], 160, "x\ntouch %s", file);
	snprintf(hostile[7], 160, "x | touch %s", file);

	struct cmd_line c;
	struct cmd_split_error e;
	const char *cmd = "printf '[%s]' {{ value }} \"n={{ value | length }}\"";
	assert_int_equal(cmd_line_parse(cmd, &c, &e), 0);
	for (size_t m = 0; m < NMETHODS; m++) {
		for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
			struct render_ctx rc = {.value = hostile[i],
						.value_len = strlen(hostile[i])};
			char **argv;
			assert_int_equal(cmd_line_argv(&c, render_value, &rc, &argv, NULL), 0);
			assert_int_equal(rc.calls, 2);
			assert_string_equal(argv[0], "printf");
			assert_string_equal(argv[2], hostile[i]);
			assert_null(argv[4]);
			struct cmd_spec spec = {.argv = argv, .timeout = 5, .cwd = dir,
						.spawn = methods[m]};
			struct cmd_result r;
			assert_int_equal(cmd_run(&spec, &r), 0);
			assert_int_equal(r.how, CMD_EXITED);
			assert_int_equal(r.status, 0);
			/* printf saw exactly two arguments: the value, whole, and n= */
			char want[400];
			snprintf(want, sizeof want, "[%.159s][n=%zu]", hostile[i],
				 strlen(hostile[i]));
			assert_string_equal(r.out, want);
			struct stat st;
			assert_int_equal(stat(file, &st), -1);
			assert_int_equal(errno, ENOENT);
			cmd_result_fini(&r);
			cmd_argv_free(argv);
		}
	}
	cmd_line_fini(&c);
	remove_dir(dir);
}

static void an_empty_rendering_is_an_empty_argument(void **state)
{
	(void)state;
	struct cmd_line c;
	struct cmd_split_error e;
	assert_int_equal(cmd_line_parse("printf <%s> {{ value }} end", &c, &e), -EINVAL);
	assert_int_equal(cmd_line_parse("printf '<%s>' {{ value }} end", &c, &e), 0);
	struct render_ctx rc = {.value = "", .value_len = 0};
	char **argv;
	assert_int_equal(cmd_line_argv(&c, render_value, &rc, &argv, NULL), 0);
	struct cmd_spec spec = {.argv = argv, .timeout = 5};
	struct cmd_result r;
	assert_int_equal(cmd_run(&spec, &r), 0);
	assert_string_equal(r.out, "<><end>");
	cmd_result_fini(&r);
	cmd_argv_free(argv);
	cmd_line_fini(&c);
}

static void a_rendered_nul_is_refused(void **state)
{
	(void)state;
	struct cmd_line c;
	struct cmd_split_error e;
	assert_int_equal(cmd_line_parse("echo a {{ value }}", &c, &e), 0);
	struct render_ctx rc = {.value = "x\0y", .value_len = 3};
	char **argv = (char **)1;
	unsigned bad = 0;
	assert_int_equal(cmd_line_argv(&c, render_value, &rc, &argv, &bad), -EILSEQ);
	assert_null(argv);
	assert_int_equal(bad, 3);
	cmd_line_fini(&c);
}

static int render_fails(void *ud, unsigned word, const struct mqb_template *t, char **out,
			size_t *len)
{
	(void)ud, (void)word, (void)t, (void)out, (void)len;
	return -EINVAL;
}

static void a_render_error_stops_the_run(void **state)
{
	(void)state;
	struct cmd_line c;
	struct cmd_split_error e;
	assert_int_equal(cmd_line_parse("echo {{ value }}", &c, &e), 0);
	char **argv = NULL;
	assert_int_equal(cmd_line_argv(&c, render_fails, NULL, &argv, NULL), -EINVAL);
	assert_null(argv);
	cmd_line_fini(&c);
}

/* ---- concurrency ------------------------------------------------------ */

struct par {
	pthread_t th;
	int i;
	int ok;
};

static void *par_run(void *arg)
{
	struct par *p = arg;
	char sh[64];
	snprintf(sh, sizeof sh, "echo %d; echo err%d >&2", p->i, p->i);
	struct cmd_spec spec = {.shell = sh, .timeout = 10,
				.spawn = p->i % 2 ? CMD_SPAWN_FORK : CMD_SPAWN_DEFAULT};
	struct cmd_result r;
	if (cmd_run(&spec, &r) == 0) {
		char want[32], werr[32];
		snprintf(want, sizeof want, "%d\n", p->i);
		snprintf(werr, sizeof werr, "err%d\n", p->i);
		p->ok = r.how == CMD_EXITED && r.status == 0 && strcmp(r.out, want) == 0 &&
			strcmp(r.err, werr) == 0;
		cmd_result_fini(&r);
	}
	return NULL;
}

static void commands_run_from_many_threads_at_once(void **state)
{
	(void)state;
	struct par p[16];
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 16; i++) {
			p[i] = (struct par){.i = i + round * 16};
			assert_int_equal(pthread_create(&p[i].th, NULL, par_run, &p[i]), 0);
		}
		for (int i = 0; i < 16; i++) {
			pthread_join(p[i].th, NULL);
			assert_true(p[i].ok);
		}
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exit_status_stdout_and_stderr_are_captured),
		cmocka_unit_test(empty_output_is_an_empty_string),
		cmocka_unit_test(stdin_is_dev_null),
		cmocka_unit_test(input_goes_to_the_command_on_stdin),
		cmocka_unit_test(stdout_is_bounded_and_drained),
		cmocka_unit_test(a_timeout_kills_the_whole_process_group),
		cmocka_unit_test(children_holding_the_output_are_killed_at_the_timeout),
		cmocka_unit_test(a_command_that_detaches_its_child_is_not_waited_for),
		cmocka_unit_test(a_cancelled_command_is_killed_with_its_group),
		cmocka_unit_test(a_command_killed_by_a_signal_says_which),
		cmocka_unit_test(the_command_gets_default_signals_and_an_empty_mask),
		cmocka_unit_test(no_descriptor_of_the_daemon_reaches_the_command),
		cmocka_unit_test(the_working_directory_is_the_one_asked_for),
		cmocka_unit_test(a_missing_program_is_reported),
		cmocka_unit_test(a_bad_spec_is_refused),
		cmocka_unit_test(commands_run_from_many_threads_at_once),
		cmocka_unit_test(output_is_stripped_as_home_assistant_does),
		cmocka_unit_test(log_text_is_made_printable_and_bounded),
		cmocka_unit_test(availability_follows_home_assistants_booleans),
		cmocka_unit_test(a_switch_template_means_on_for_true_on_and_1),
		cmocka_unit_test(a_cover_state_is_a_position_or_a_word),
		cmocka_unit_test(json_attributes_path_finds_the_first_match),
		cmocka_unit_test(commands_with_templates_are_recognised),
		cmocka_unit_test(words_are_split_like_a_shell_without_expansion),
		cmocka_unit_test(bad_templated_commands_are_refused_with_a_reason),
		cmocka_unit_test(templates_render_to_exactly_one_argument_and_no_shell),
		cmocka_unit_test(an_empty_rendering_is_an_empty_argument),
		cmocka_unit_test(a_rendered_nul_is_refused),
		cmocka_unit_test(a_render_error_stops_the_run),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
