/* SPDX-License-Identifier: MIT */
/* Supervision end to end (daemon/notify.c, daemon/status.c): the real
 * daemon under a stand-in for systemd, a datagram socket named by
 * NOTIFY_SOCKET as a path or in the abstract namespace: READY=1 only once
 * connected and announced, STATUS= lines, WATCHDOG=1 from the loop,
 * STOPPING=1 at the end; and SIGUSR1's status dump, after which the
 * daemon goes on. sd_notify(3) and systemd.service(5) are the oracle. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include "daemon.h"
#include "daemon/notify.h"
#include "testutil.h"

#define CONFIG \
	"mqbridge: {node_id: tn}\n" \
	"mqtt: {broker: 127.0.0.1, port: %PORT%, reconnect_min: 0.1, reconnect_max: 0.5}\n" \
	"sensor:\n" \
	"  - {platform: mqtt, name: Outside, state_topic: weather/outside}\n"

static struct td T;
static bool T_live;
static int sock = -1;

static int teardown(void **state)
{
	(void)state;
	if (T_live)
		td_fini(&T);
	T_live = false;
	if (sock >= 0)
		close(sock);
	sock = -1;
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	return 0;
}

/* A socket bound where systemd's would be: a path in the test's
 * directory, or (abstract) a name in the abstract namespace. */
static void listen_notify(bool abstract)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char name[100];
	if (abstract)
		snprintf(name, sizeof name, "@mqbridge-test-%ld-%d", (long)getpid(), rand());
	else
		snprintf(name, sizeof name, "%s/notify", T.dir);
	memcpy(a.sun_path, name, strlen(name));
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	if (abstract)
		a.sun_path[0] = '\0';
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(sock >= 0);
	assert_int_equal(bind(sock, (struct sockaddr *)&a, len), 0);
	setenv("NOTIFY_SOCKET", name, 1);
}

/* The next datagram, within timeout seconds (false if none). */
static bool next(char *buf, size_t len, double timeout)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};
	if (poll(&p, 1, (int)(timeout * 1000)) != 1)
		return false;
	ssize_t n = recv(sock, buf, len - 1, 0);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* Datagrams until one holds needle (copied to buf); fails after timeout. */
static void expect_notify(const char *needle, char *buf, size_t len)
{
	for (double end = tu_now() + TU_TIMEOUT; tu_now() < end;)
		if (next(buf, len, end - tu_now()) && strstr(buf, needle))
			return;
	td_dump(&T);
	fail_msg("systemd was not told %s", needle);
}

static void start(bool abstract)
{
	td_init(&T, NULL);
	T_live = true;
	listen_notify(abstract);
	td_write_config(&T, CONFIG);
	td_start(&T, NULL);
}

static void ready_comes_once_connected_and_announced_with_a_status_line(void **state)
{
	(void)state;
	start(false);
	char msg[512];
	expect_notify("READY=1", msg, sizeof msg);
	/* Everything was announced before: the log says so first. */
	assert_true(td_log_count(&T, "announced 2 entities") == 1 ||
		    td_log_count(&T, "announced") >= 1);
	assert_non_null(strstr(msg, "\nSTATUS=connected to tcp://127.0.0.1:"));
	assert_non_null(strstr(msg, "; 2 entities;"));
	td_expect(&T, "homeassistant/sensor/tn/outside/config", NULL);
	/* The variables were not passed on (the commands we run are not
	 * systemd's business). */
	assert_int_equal(td_log_count(&T, "NOTIFY_SOCKET"), 0);
	kill(T.pid, SIGTERM);
	expect_notify("STOPPING=1", msg, sizeof msg);
	assert_int_equal(td_stop(&T), 0);
}

static void the_watchdog_is_fed_from_the_loop_through_an_abstract_socket(void **state)
{
	(void)state;
	setenv("WATCHDOG_USEC", "200000", 1);
	start(true);
	char msg[512];
	expect_notify("READY=1", msg, sizeof msg);
	/* Every 0.1 s: five within a second and a half, whatever else comes. */
	int fed = 0;
	for (double end = tu_now() + 1.5; fed < 5 && tu_now() < end;)
		if (next(msg, sizeof msg, end - tu_now()) && strcmp(msg, "WATCHDOG=1") == 0)
			fed++;
	assert_int_equal(fed, 5);
	td_stop_clean(&T);
}

/* While the broker is away, STATUS= says where it connects and why it
 * cannot (refreshed every 5 s). */
static void the_status_line_says_why_the_broker_cannot_be_reached(void **state)
{
	(void)state;
	start(false);
	char msg[512];
	expect_notify("READY=1", msg, sizeof msg);
	tu_broker_stop(&T.broker);
	expect_notify("STATUS=connecting to tcp://127.0.0.1:", msg, sizeof msg);
	if (!strstr(msg, "refused"))
		fail_msg("STATUS= does not say the connection was refused: %s", msg);
	td_stop_clean(&T);
}

/* The last line of the daemon's log holding needle, into out. */
static bool last_log_line(const char *needle, char *out, size_t len)
{
	FILE *f = fopen(T.log, "r");
	char line[2048];
	bool found = false;
	while (f && fgets(line, sizeof line, f))
		if (strstr(line, needle)) {
			snprintf(out, len, "%s", line);
			found = true;
		}
	if (f)
		fclose(f);
	return found;
}

/* A command that fails, one that times out and a template that cannot
 * render are counted, and the dump says so. */
static void the_dump_counts_failed_commands_timeouts_and_render_errors(void **state)
{
	(void)state;
	td_init(&T, NULL);
	T_live = true;
	td_write_config(&T, CONFIG
			"  - {platform: command_line, name: Fails, command: 'exit 3'}\n"
			"  - {platform: command_line, name: Slow, command: 'sleep 5',\n"
			"     command_timeout: 0.2}\n"
			"template:\n"
			"  - sensor:\n"
			"      - {name: Broken, state: \"{{ states('sensor.outside') | float }}\"}\n");
	td_start(&T, NULL);
	td_expect(&T, "mqbridge/tn/status", "online");
	char line[2048] = "";
	int n = 0;
	for (double end = tu_now() + TU_TIMEOUT; tu_now() < end;) {
		kill(T.pid, SIGUSR1);
		n++;
		for (double e2 = tu_now() + TU_TIMEOUT;
		     td_log_count(&T, "[status] failures:") < n && tu_now() < e2;)
			usleep(10000);
		last_log_line("[status] failures:", line, sizeof line);
		if (strstr(line, "failures: 1 command, 1 command timeout, 1 template render error"))
			break;
		usleep(100000);
	}
	if (!strstr(line, "failures: 1 command, 1 command timeout, 1 template render error")) {
		td_dump(&T);
		fail_msg("the dump does not count the failures: %s", line);
	}
	td_stop_clean(&T);
}

static void sigusr1_dumps_the_status_to_the_log_and_the_daemon_goes_on(void **state)
{
	(void)state;
	td_init(&T, NULL);
	T_live = true;
	td_write_config(&T, CONFIG
			"script:\n"
			"  waiting: {sequence: [{delay: 30}]}\n"
			"automation:\n"
			"  - {alias: Go, trigger: {platform: mqtt, topic: go},\n"
			"     action: {action: script.turn_on, target: {entity_id: script.waiting}}}\n");
	/* at warning, the dump is written all the same */
	td_start(&T, "-l", "warning", NULL);
	td_expect(&T, "mqbridge/tn/status", "online");
	/* the script (a button: no state topic) says in its attributes that
	 * it runs */
	td_device(&T, "go", "1");
	const char *a = NULL;
	for (double end = tu_now() + TU_TIMEOUT; tu_now() < end; usleep(10000))
		if ((a = td_last(&T, "mqbridge/tn/script/waiting/attributes")) &&
		    strstr(a, "\"current\":1"))
			break;
	if (!a || !strstr(a, "\"current\":1"))
		fail_msg("script.waiting does not run: %s", a ? a : "(no attributes)");
	kill(T.pid, SIGUSR1);
	td_expect_log(&T, "[status] failures: 0 commands");
	td_expect_log(&T, "[status] mqbridge " PACKAGE_VERSION ", pid ");
	td_expect_log(&T, "[status] mqtt: connected to tcp://127.0.0.1:");
	td_expect_log(&T, "[status] entities: 4 (sensor 2, script 1, automation 1)");
	td_expect_log(&T, "[status] running scripts and automations: script.waiting (1 run)");
	td_expect_log(&T, "[status] executor: ");
	/* again: it never kills the daemon */
	kill(T.pid, SIGUSR1);
	for (double end = tu_now() + TU_TIMEOUT;
	     td_log_count(&T, "[status] failures:") < 2 && tu_now() < end;)
		usleep(10000);
	assert_int_equal(td_log_count(&T, "[status] failures:"), 2);
	td_stop_clean(&T);
}

/* What the reload calls, in this process: RELOADING=1 with the monotonic
 * time systemd 253 asks for, then READY=1 again, but only once the daemon
 * had said it was ready (a reload during start-up must not say it early). */
static void a_reload_says_reloading_then_ready_again_once_the_daemon_was_ready(void **state)
{
	(void)state;
	char buf[512];
	listen_notify(true);
	notify__init();
	notify__reloading(true);
	assert_true(next(buf, sizeof buf, TU_TIMEOUT));
	assert_non_null(strstr(buf, "RELOADING=1"));
	assert_non_null(strstr(buf, "MONOTONIC_USEC="));
	notify__reloading(false); /* not ready yet: nothing */
	notify__stopping();
	assert_true(next(buf, sizeof buf, TU_TIMEOUT));
	assert_non_null(strstr(buf, "STOPPING=1"));
	notify__ready();
	assert_true(next(buf, sizeof buf, TU_TIMEOUT));
	assert_non_null(strstr(buf, "READY=1"));
	notify__reloading(true);
	assert_true(next(buf, sizeof buf, TU_TIMEOUT));
	assert_non_null(strstr(buf, "RELOADING=1"));
	notify__reloading(false);
	assert_true(next(buf, sizeof buf, TU_TIMEOUT));
	assert_non_null(strstr(buf, "READY=1"));
	notify__async_stop(NULL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(a_reload_says_reloading_then_ready_again_once_the_daemon_was_ready,
				  teardown),
	cmocka_unit_test_teardown(ready_comes_once_connected_and_announced_with_a_status_line,
				  teardown),
	cmocka_unit_test_teardown(the_watchdog_is_fed_from_the_loop_through_an_abstract_socket,
				  teardown),
	cmocka_unit_test_teardown(the_status_line_says_why_the_broker_cannot_be_reached, teardown),
	cmocka_unit_test_teardown(sigusr1_dumps_the_status_to_the_log_and_the_daemon_goes_on,
				  teardown),
	cmocka_unit_test_teardown(the_dump_counts_failed_commands_timeouts_and_render_errors,
				  teardown),
};

TU_MAIN(tests)
