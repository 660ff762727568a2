/* SPDX-License-Identifier: MIT */
/* The command_line integration end to end: the real daemon runs real
 * commands against a real mosquitto. States arrive on <base>/<domain>/<id>/
 * state; a failing command keeps the old state and logs why; commands with
 * templates and command payloads never reach a shell; a timeout or a stop
 * leaves nothing of the command's process group alive; bad commands are
 * configuration errors with their position. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "daemon.h"
#include "testutil.h"

#define HEAD \
	"mqbridge: {node_id: tc}\n" \
	"mqtt: {broker: 127.0.0.1, port: %PORT%, reconnect_min: 0.1, reconnect_max: 0.5}\n"
#define BASE "mqbridge/tc/"

/* One daemon per test; the teardown cleans up after a failed assertion. */
static struct td T;
static int teardown(void **state)
{
	(void)state;
	td_fini(&T);
	return 0;
}

static void start(const char *yaml)
{
	td_init(&T, NULL);
	td_write_config(&T, yaml);
	td_start(&T, NULL);
}

/* A command topic is subscribed a moment after the entity is announced:
 * wait for the broker to have it before publishing to it. */
static void wait_subscribed(const char *topic)
{
	char needle[256];
	snprintf(needle, sizeof needle, "mqbridge-tc 0 %s", topic);
	if (!tu_broker_log_wait(&T.broker, needle, 1, TU_TIMEOUT)) {
		td_dump(&T);
		fail_msg("never subscribed to %s", topic);
	}
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void path_in(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", T.dir, name);
}

/* Orphans of a killed process group come back to the test, its
 * subreaper: reap them (never the daemon, which td_stop waits for), so
 * whether a group is gone does not depend on what PID 1 does. */
static void reap_orphans(void)
{
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || !si.si_pid ||
		    si.si_pid == T.pid || si.si_pid == T.broker.pid)
			return;
		waitpid(si.si_pid, NULL, 0);
	}
}

static bool group_gone(pid_t pgid, double timeout)
{
	double end = tu_now() + timeout;
	for (;;) {
		reap_orphans();
		if (kill(-pgid, 0) < 0 && errno == ESRCH)
			return true;
		if (tu_now() > end)
			return false;
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* The process group id a command wrote to name (bounded wait). */
static pid_t read_pgid(const char *name)
{
	char path[256];
	path_in(path, sizeof path, name);
	for (double end = tu_now() + TU_TIMEOUT; tu_now() < end;) {
		FILE *f = fopen(path, "r");
		long v = 0;
		if (f) {
			int got = fscanf(f, "%ld", &v);
			fclose(f);
			if (got == 1 && v > 0)
				return (pid_t)v;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fail_msg("no process group id in %s", path);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	return 0;
}

/* ---- sensors ------------------------------------------------------------ */

static void a_sensor_state_arrives_in_both_layouts(void **state)
{
	(void)state;
	td_init(&T, NULL);
	td_write_file(&T, "thermal_zone0_temp", "48312\n", NULL, 0);
	td_write_config(&T, HEAD
			"command_line:\n"
			"  - sensor:\n"
			"      name: CPU temperature\n"
			"      command: cat thermal_zone0_temp\n"
			"      value_template: \"{{ value | multiply(0.001) | round(1) }}\"\n"
			"      unit_of_measurement: \"°C\"\n"
			"      device_class: temperature\n"
			"      state_class: measurement\n"
			"      unique_id: cpu_temp_1\n"
			"sensor:\n"
			"  - platform: command_line\n"
			"    name: Load\n"
			"    command: \"printf '0.42 0.30 0.21\\\\n' | cut -d' ' -f1\"\n"
			"    scan_interval: 3600\n"
			"  - platform: command_line\n"
			"    name: Where\n"
			"    command: pwd\n");
	td_start(&T, NULL);
	td_expect(&T, BASE "sensor/cpu_temperature/state", "48.3");
	td_expect(&T, BASE "sensor/load/state", "0.42");
	/* commands run in the configuration's directory */
	char real[PATH_MAX];
	assert_non_null(realpath(T.dir, real));
	td_expect(&T, BASE "sensor/where/state", real);
	/* the discovery carries the sensor's own keys */
	td_expect(&T, "homeassistant/sensor/tc/cpu_temperature/config", NULL);
	json_t *d = json_loads(td_last(&T, "homeassistant/sensor/tc/cpu_temperature/config"), 0,
			       NULL);
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "unit_of_measurement")), "°C");
	assert_string_equal(json_string_value(json_object_get(d, "device_class")), "temperature");
	assert_string_equal(json_string_value(json_object_get(d, "unique_id")), "cpu_temp_1");
	json_decref(d);
	td_stop_clean(&T);
	td_fini(&T);
}

static void a_failing_command_keeps_the_old_state_and_is_logged(void **state)
{
	(void)state;
	start(HEAD "command_line:\n"
		   "  - sensor:\n"
		   "      name: Outside\n"
		   "      command: cat %DIR%/outside\n"
		   "      scan_interval: 0.2\n");
	char path[256];
	path_in(path, sizeof path, "outside");
	td_write_file(&T, "outside", "21.5\n", NULL, 0);
	td_expect(&T, BASE "sensor/outside/state", "21.5");
	long n = td_count(&T);
	assert_int_equal(unlink(path), 0);
	/* the status and what it printed on stderr, both in the log */
	td_expect_log(&T, "sensor.outside: command failed (exit status 1); keeping the old state: cat ");
	td_expect_log(&T, "No such file or directory");
	/* a few more polls fail; the state stays as it was */
	assert_true(td_wait_after(&T, n, BASE "sensor/outside/state", NULL, 0.6) < 0);
	assert_string_equal(td_last(&T, BASE "sensor/outside/state"), "21.5");
	/* and comes back with the command */
	td_write_file(&T, "outside", "19\n", NULL, 0);
	td_expect_after(&T, n, BASE "sensor/outside/state", "19");
	td_stop_clean(&T);
}

static void json_attributes_and_availability(void **state)
{
	(void)state;
	td_init(&T, NULL);
	/* what a Tasmota tele/<dev>/SENSOR reads like */
	td_write_file(&T, "tele.json",
		      "{\"Time\":\"2024-01-07T10:00:00\",\"ENERGY\":{\"Total\":12.5,\"Power\":230,"
		      "\"Voltage\":231}}\n",
		      NULL, 0);
	td_write_file(&T, "online", "Online\n", NULL, 0);
	td_write_config(&T, HEAD
			"command_line:\n"
			"  - sensor:\n"
			"      name: Plug power\n"
			"      command: cat tele.json\n"
			"      value_template: \"{{ value_json.ENERGY.Power }}\"\n"
			"      json_attributes: [Total, Voltage]\n"
			"      json_attributes_path: \"$.ENERGY\"\n"
			"      unit_of_measurement: W\n"
			"      scan_interval: 0.2\n"
			"  - sensor:\n"
			"      name: Plug seen\n"
			"      command: cat online\n"
			"      availability: \"{{ value == 'Online' }}\"\n"
			"      scan_interval: 0.2\n");
	td_start(&T, NULL);
	td_expect(&T, BASE "sensor/plug_power/state", "230");
	td_expect(&T, BASE "sensor/plug_power/attributes", NULL);
	json_t *a = json_loads(td_last(&T, BASE "sensor/plug_power/attributes"), 0, NULL);
	assert_non_null(a);
	assert_true(json_real_value(json_object_get(a, "Total")) == 12.5);
	assert_int_equal(json_integer_value(json_object_get(a, "Voltage")), 231);
	assert_null(json_object_get(a, "Power"));
	json_decref(a);

	td_expect(&T, BASE "sensor/plug_seen/state", "Online");
	td_expect(&T, BASE "sensor/plug_seen/availability", "online");
	long n = td_count(&T);
	td_write_file(&T, "online", "Offline\n", NULL, 0);
	td_expect_after(&T, n, BASE "sensor/plug_seen/availability", "offline");
	td_expect_after(&T, n, BASE "sensor/plug_seen/state", "unavailable");
	td_stop_clean(&T);
	td_fini(&T);
}

static void a_binary_sensor_maps_its_payloads(void **state)
{
	(void)state;
	start(HEAD "command_line:\n"
		   "  - binary_sensor:\n"
		   "      name: Door\n"
		   "      command: cat %DIR%/door\n"
		   "      payload_on: 1\n"
		   "      payload_off: 0\n"
		   "      device_class: door\n"
		   "      scan_interval: 0.2\n");
	td_write_file(&T, "door", "1\n", NULL, 0);
	td_expect(&T, BASE "binary_sensor/door/state", "on");
	long n = td_count(&T);
	td_write_file(&T, "door", "0\n", NULL, 0);
	td_expect_after(&T, n, BASE "binary_sensor/door/state", "off");
	/* neither payload: no change, one warning */
	n = td_count(&T);
	td_write_file(&T, "door", "ajar\n", NULL, 0);
	td_expect_log(&T, "'ajar' is neither payload_on ('1') nor payload_off ('0')");
	assert_true(td_wait_after(&T, n, BASE "binary_sensor/door/state", NULL, 0.5) < 0);
	td_stop_clean(&T);
}

/* ---- switches and covers ------------------------------------------------ */

static void a_switch_commanded_over_mqtt_runs_only_its_own_commands(void **state)
{
	(void)state;
	start(HEAD "command_line:\n"
		   "  - switch:\n"
		   "      name: Pump\n"
		   "      command_on: touch %DIR%/pump_on\n"
		   "      command_off: rm -f %DIR%/pump_on\n"
		   "      command_state: test -e %DIR%/pump_on\n"
		   "      scan_interval: 3600\n");
	char on[256], file[256];
	path_in(on, sizeof on, "pump_on");
	path_in(file, sizeof file, "FILE");
	td_expect(&T, BASE "switch/pump/state", "off");
	wait_subscribed(BASE "switch/pump/set");
	long n = td_count(&T);
	td_pub(&T, BASE "switch/pump/set", "ON", false);
	td_expect_after(&T, n, BASE "switch/pump/state", "on");
	assert_true(exists(on));

	/* payloads that would be commands if they reached a shell */
	char hostile[4][320];
	snprintf(hostile[0], sizeof hostile[0], "ON; touch %s", file);
	snprintf(hostile[1], sizeof hostile[1], "$(touch %s)", file);
	snprintf(hostile[2], sizeof hostile[2], "`touch %s`", file);
	snprintf(hostile[3], sizeof hostile[3], "OFF && touch %s", file);
	for (int i = 0; i < 4; i++)
		td_pub(&T, BASE "switch/pump/set", hostile[i], false);
	/* a real command after them: once it has run, they have been seen */
	n = td_count(&T);
	td_pub(&T, BASE "switch/pump/set", "OFF", false);
	td_expect_after(&T, n, BASE "switch/pump/state", "off");
	assert_false(exists(on));
	assert_false(exists(file));
	td_expect_log(&T, "ignoring command 'ON; touch ");

	n = td_count(&T);
	td_pub(&T, BASE "switch/pump/set", "TOGGLE", false);
	td_expect_after(&T, n, BASE "switch/pump/state", "on");
	assert_false(exists(file));
	/* command_state's exit status is its answer: "off" is no failure */
	assert_int_equal(kill(T.pid, SIGUSR1), 0);
	td_expect_log(&T, "failures: 0 commands,");
	td_stop_clean(&T);
}

static void an_optimistic_switch_follows_its_commands(void **state)
{
	(void)state;
	start(HEAD "switch:\n"
		   "  - platform: command_line\n"
		   "    switches:\n"
		   "      heater:\n"
		   "        friendly_name: Heater\n"
		   "        command_on: echo on > %DIR%/heater\n"
		   "        command_off: 'false'\n");
	char path[256];
	path_in(path, sizeof path, "heater");
	td_expect(&T, BASE "switch/heater/state", "off");
	wait_subscribed(BASE "switch/heater/set");
	long n = td_count(&T);
	td_pub(&T, BASE "switch/heater/set", "ON", false);
	td_expect_after(&T, n, BASE "switch/heater/state", "on");
	assert_true(exists(path));
	/* a failing command changes nothing, and says so */
	n = td_count(&T);
	td_pub(&T, BASE "switch/heater/set", "OFF", false);
	td_expect_log(&T, "switch.heater: command_off failed (exit status 1): false");
	assert_true(td_wait_after(&T, n, BASE "switch/heater/state", NULL, 0.5) < 0);
	assert_string_equal(td_last(&T, BASE "switch/heater/state"), "on");
	td_stop_clean(&T);
}

static void template_output_reaches_a_command_as_one_argument(void **state)
{
	(void)state;
	/* a sensor whose state is hostile text, read by a switch's command
	 * template: the text must arrive as one argument, and run nothing */
	start(HEAD "command_line:\n"
		   "  - sensor:\n"
		   "      name: Label\n"
		   "      command: cat %DIR%/label\n"
		   "      scan_interval: 0.2\n"
		   "  - switch:\n"
		   "      name: Writer\n"
		   "      command_on: >-\n"
		   "        sh -c 'echo \"$1\" > \"$0\"' %DIR%/out\n"
		   "        \"{{ states('sensor.label') }}\"\n");
	char file[256], out[256];
	path_in(file, sizeof file, "FILE");
	path_in(out, sizeof out, "out");
	char label[1024];
	snprintf(label, sizeof label, "x; touch %s $(touch %s) `touch %s`\n", file, file, file);
	td_write_file(&T, "label", label, NULL, 0);
	label[strlen(label) - 1] = '\0';
	td_expect(&T, BASE "sensor/label/state", label);
	wait_subscribed(BASE "switch/writer/set");
	long n = td_count(&T);
	td_pub(&T, BASE "switch/writer/set", "ON", false);
	td_expect_after(&T, n, BASE "switch/writer/state", "on");
	/* the whole label, one argument, written by the fixed script */
	char got[1024] = "";
	FILE *f = fopen(out, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof got, f));
	fclose(f);
	got[strcspn(got, "\n")] = '\0';
	assert_string_equal(got, label);
	assert_false(exists(file));
	td_stop_clean(&T);
}

/* Wait for the cover's attributes to say current_position: want. */
static void wait_position(long since, int want)
{
	const char *topic = BASE "cover/garage_door/attributes";
	for (double end = tu_now() + TU_TIMEOUT; tu_now() < end;) {
		long i = td_wait_after(&T, since, topic, NULL, end - tu_now());
		if (i < 0)
			break;
		/* the latest: payloads stay put, the message array may move */
		json_t *a = json_loads(td_last(&T, topic), 0, NULL);
		json_int_t got = json_integer_value(json_object_get(a, "current_position"));
		bool ok = json_is_integer(json_object_get(a, "current_position")) && got == want;
		json_decref(a);
		if (ok)
			return;
		since = i + 1;
	}
	td_dump(&T);
	fail_msg("no current_position %d on %s", want, topic);
}

static void a_cover_reads_its_position(void **state)
{
	(void)state;
	start(HEAD "command_line:\n"
		   "  - cover:\n"
		   "      name: Garage door\n"
		   "      command_open: echo 100 > %DIR%/pos\n"
		   "      command_close: echo 0 > %DIR%/pos\n"
		   "      command_stop: echo 50 > %DIR%/pos\n"
		   "      command_state: cat %DIR%/pos\n"
		   "      scan_interval: 3600\n");
	td_write_file(&T, "pos", "0\n", NULL, 0);
	td_expect(&T, BASE "cover/garage_door/state", "closed");
	wait_subscribed(BASE "cover/garage_door/set");
	long n = td_count(&T);
	td_pub(&T, BASE "cover/garage_door/set", "OPEN", false);
	td_expect_after(&T, n, BASE "cover/garage_door/state", "open");
	wait_position(n, 100);
	n = td_count(&T);
	td_pub(&T, BASE "cover/garage_door/set", "STOP", false);
	wait_position(n, 50);
	n = td_count(&T);
	td_pub(&T, BASE "cover/garage_door/set", "CLOSE", false);
	td_expect_after(&T, n, BASE "cover/garage_door/state", "closed");
	td_stop_clean(&T);
}

/* ---- processes ------------------------------------------------------------ */

static void a_command_timeout_leaves_no_process_behind(void **state)
{
	(void)state;
	start(HEAD "command_line:\n"
		   "  - sensor:\n"
		   "      name: Hung\n"
		   "      command: \"echo $$ > %DIR%/pgid; sleep 1000 & sleep 1000 & wait\"\n"
		   "      command_timeout: 0.5\n"
		   "      scan_interval: 3600\n");
	td_expect(&T, BASE "sensor/hung/state", "unknown");
	td_expect_log(&T, "sensor.hung: command failed (timed out after 0.5 s (process group killed))");
	pid_t pgid = read_pgid("pgid");
	assert_true(group_gone(pgid, TU_TIMEOUT));
	/* still unknown: a failure sets nothing */
	assert_string_equal(td_last(&T, BASE "sensor/hung/state"), "unknown");
	td_stop_clean(&T);
}

static void stopping_the_daemon_kills_a_running_command(void **state)
{
	(void)state;
	start(HEAD "command_line:\n"
		   "  - sensor:\n"
		   "      name: Slow\n"
		   "      command: \"echo $$ > %DIR%/pgid; sleep 1000 & sleep 1000\"\n"
		   "      command_timeout: 600\n");
	pid_t pgid = read_pgid("pgid");
	double t0 = tu_now();
	assert_int_equal(td_stop(&T), 0);
	assert_true(tu_now() - t0 < 5);
	assert_true(group_gone(pgid, TU_TIMEOUT));
}

/* ---- configuration errors --------------------------------------------- */

/* The file's contents once it holds want, within the timeout; fails
 * showing what it holds otherwise. */
static void expect_file(const char *path, const char *want)
{
	char buf[4096] = "";
	for (double end = tu_now() + TU_TIMEOUT; tu_now() < end;) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
		buf[n] = '\0';
		if (f)
			fclose(f);
		if (strcmp(buf, want) == 0)
			return;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	td_dump(&T);
	fail_msg("%s holds '%s', not '%s'", path, buf, want);
}

/* Home Assistant's command_line notify: notify.<name> hands the message
 * to the command on its standard input (both layouts). */
static void a_notify_service_hands_the_message_to_the_command(void **state)
{
	(void)state;
	start(HEAD "command_line:\n"
		   "  - notify:\n"
		   "      name: ha_log\n"
		   "      command: cat >> %DIR%/ha.log; echo >> %DIR%/ha.log\n"
		   "notify:\n"
		   "  - platform: command_line\n"
		   "    name: Failing\n"
		   "    command: cat > /dev/null; exit 4\n"
		   "template:\n"
		   "  - switch:\n"
		   "      - name: Tell\n"
		   "        turn_on:\n"
		   "          - service: notify.ha_log\n"
		   "            data: {message: 'Dinner is ready; rm -rf /'}\n"
		   "        turn_off:\n"
		   "          - service: notify.failing\n"
		   "            data: {message: x}\n");
	char log[256];
	path_in(log, sizeof log, "ha.log");
	wait_subscribed(BASE "switch/tell/set");
	td_pub(&T, BASE "switch/tell/set", "ON", false);
	/* the message is data on its standard input, never a command */
	expect_file(log, "Dinner is ready; rm -rf /\n");
	/* An optimistic template switch writes its state once its script has
	 * ended; a command sent before that is the script's "Already running"
	 * (mode single), so each step waits for the state of the one before. */
	td_expect(&T, BASE "switch/tell/state", "on");
	td_pub(&T, BASE "switch/tell/set", "OFF", false);
	td_expect_log(&T, "notify.failing: command failed (exit status 4)");
	td_expect(&T, BASE "switch/tell/state", "off");
	td_pub(&T, BASE "switch/tell/set", "ON", false);
	expect_file(log, "Dinner is ready; rm -rf /\nDinner is ready; rm -rf /\n");
	td_stop_clean(&T);
}

static void check_rejects(const char *yaml, const char *needle)
{
	char err[4096];
	td_write_config(&T, yaml);
	int rc = td_run(&T, err, sizeof err, "-C", NULL);
	if (rc != 78 || !strstr(err, needle))
		fail_msg("want exit 78 and '%s'; got %d:\n%s", needle, rc, err);
}

static void bad_commands_are_configuration_errors(void **state)
{
	(void)state;
	td_init(&T, NULL);
	check_rejects(HEAD "command_line:\n"
			   "  - sensor:\n"
			   "      name: Piped\n"
			   "      command: \"echo {{ states('sensor.x') }} | mosquitto_pub -l\"\n",
		      "mqbridge.yaml:6:16: command_line[0].sensor.command: unquoted '|'");
	check_rejects(HEAD "command_line:\n"
			   "  - switch:\n"
			   "      name: Any\n"
			   "      command_on: \"{{ states('input_text.program') }} --now\"\n",
		      "the program (the first word) cannot be a template");
	check_rejects(HEAD "command_line:\n"
			   "  - switch:\n"
			   "      command_on: 'true'\n",
		      "a switch needs a name");
	check_rejects(HEAD "command_line:\n"
			   "  - sensor:\n"
			   "      command: [cat, /proc/loadavg]\n",
		      "expected a command (a string)");
	check_rejects(HEAD "command_line:\n"
			   "  - sensor:\n"
			   "      command: cat x\n"
			   "      json_attributes: [a]\n"
			   "      json_attributes_path: \"$..a\"\n",
		      "recursive descent");
	check_rejects(HEAD "command_line:\n"
			   "  - sensor:\n"
			   "      command: cat x\n"
			   "      command_timout: 3\n",
		      "did you mean 'command_timeout'");
	check_rejects(HEAD "switch:\n"
			   "  - platform: command_line\n"
			   "    switches:\n"
			   "      Kitchen Light:\n"
			   "        command_on: 'true'\n",
		      "did you mean 'kitchen_light'");
	/* shell commands are the user's own: anything goes, as written */
	char err[4096];
	td_write_config(&T, HEAD
			"command_line:\n"
			"  - sensor:\n"
			"      command: \"echo ${#HOME} | tr -d '\\\\n'; ls *.yaml >/dev/null\"\n");
	int rc = td_run(&T, err, sizeof err, "-C", NULL);
	if (rc != 0)
		fail_msg("exit %d:\n%s", rc, err);
	td_fini(&T);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(a_sensor_state_arrives_in_both_layouts, teardown),
		cmocka_unit_test_teardown(a_failing_command_keeps_the_old_state_and_is_logged,
					  teardown),
		cmocka_unit_test_teardown(json_attributes_and_availability, teardown),
		cmocka_unit_test_teardown(a_binary_sensor_maps_its_payloads, teardown),
		cmocka_unit_test_teardown(a_switch_commanded_over_mqtt_runs_only_its_own_commands,
					  teardown),
		cmocka_unit_test_teardown(an_optimistic_switch_follows_its_commands, teardown),
		cmocka_unit_test_teardown(template_output_reaches_a_command_as_one_argument,
					  teardown),
		cmocka_unit_test_teardown(a_cover_reads_its_position, teardown),
		cmocka_unit_test_teardown(a_notify_service_hands_the_message_to_the_command,
					  teardown),
		cmocka_unit_test_teardown(a_command_timeout_leaves_no_process_behind, teardown),
		cmocka_unit_test_teardown(stopping_the_daemon_kills_a_running_command, teardown),
		cmocka_unit_test_teardown(bad_commands_are_configuration_errors, teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
