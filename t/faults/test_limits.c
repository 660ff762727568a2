/* SPDX-License-Identifier: MIT */
/* The daemon at the machine's limits: few file descriptors, few processes
 * (root's are not limited, so that case runs as nobody), and a full file
 * system under its log file, its state file and its pid file (a small
 * tmpfs; root only).
 * Each time it must go on with what it can (MQTT states flow while
 * commands fail and say why), refuse to start with a reason when it
 * cannot, and stop cleanly on SIGTERM. The real daemon against a real
 * mosquitto. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "faults.h"
#include "testutil.h"

#define T FA
#define BASE "mqbridge/lim/"

static const char yaml[] =
	"mqbridge: {node_id: lim}\n"
	"mqtt:\n"
	"  broker: 127.0.0.1\n"
	"  port: %PORT%\n"
	"  reconnect_min: 0.1\n"
	"  reconnect_max: 0.5\n"
	"  sensor:\n"
	"    - {name: Level, state_topic: dev/level}\n"
	"  switch:\n"
	"    - {name: Pump, command_topic: dev/pump/set}\n"
	"command_line:\n"
	"  - sensor: {name: Echo, command: \"echo 42\", scan_interval: 0.2}\n";

/* A few values through MQTT while the limit holds, after a retained one
 * (which comes whenever the subscription is made). */
static int states_through(int n)
{
	long since = td_count(&T);
	fa_pub(&T, "dev/level", "99", 1, true);
	if (td_wait_after(&T, since, BASE "sensor/level/state", "99", 10 * FA_SLOW) < 0)
		return 0;
	int ok = 0;
	for (int i = 0; i < n; i++) {
		char v[16];
		snprintf(v, sizeof v, "%d", 100 + i);
		long from = td_count(&T);
		fa_pub(&T, "dev/level", v, 1, false);
		ok += td_wait_after(&T, from, BASE "sensor/level/state", v, 5 * FA_SLOW) >= 0;
	}
	return ok;
}

static char nofile_arg[32];
static const char *nofile_wrap[3] = {"prlimit", nofile_arg, NULL};

/* Descriptors the daemon holds, running, unlimited: the fewest seen over
 * a second, several command periods, since a sample taken while a command
 * runs also counts that command's pipes (which made the limit one
 * command's worth too generous, on a loaded machine). */
static int steady_fds(void)
{
	td_start(&T, NULL);
	td_expect(&T, BASE "status", "online");
	usleep(300 * 1000);
	int n = fa_fd_count(T.pid);
	for (int i = 0; i < 20; i++) {
		usleep(50 * 1000);
		int m = fa_fd_count(T.pid);
		if (m > 0 && m < n)
			n = m;
	}
	td_stop_clean(&T);
	return n;
}

static void with_few_descriptors_mqtt_goes_on_and_commands_say_why_they_fail(void **s)
{
	(void)s;
	fa_begin(NULL, yaml);
	/* One more than it holds running: a command's pipes do not fit. */
	int limit = steady_fds() + 1;
	snprintf(nofile_arg, sizeof nofile_arg, "--nofile=%d", limit);
	T.wrap = nofile_wrap;
	td_start(&T, NULL);
	td_expect(&T, BASE "status", "online");
	fa_figure_min("states_through_with_one_descriptor_to_spare", states_through(5), 5,
		      "states");
	td_expect_log(&T, "Too many open files");
	fa_figure_max("descriptors_open_at_the_limit", fa_fd_count(T.pid), limit, "fds");
	td_stop_clean(&T);
}

/* Fewer than it needs to start (one fewer: Paho cannot be loaded; two:
 * not even the event loop can be made): it says why and exits 1, no
 * core dump. */
static void with_too_few_descriptors_to_start_it_says_why_and_exits_1(void **s)
{
	(void)s;
	fa_begin(NULL, yaml);
	int steady = steady_fds();
	T.wrap = nofile_wrap;
	for (int fewer = 1; fewer <= 2; fewer++) {
		snprintf(nofile_arg, sizeof nofile_arg, "--nofile=%d", steady - fewer);
		char err[8192];
		int rc = td_run(&T, err, sizeof err, NULL);
		if (rc != 1 || !strstr(err, "Too many open files"))
			fail_msg("with %d descriptors: exit %d: %s", steady - fewer, rc, err);
	}
}

/* ---- processes ---------------------------------------------------------- */

static const char *nobody_wrap[8];
static char nproc_arg[32], uid_arg[32], gid_arg[32];

/* Whether any process on the machine runs as uid. */
static bool uid_busy(long uid)
{
	return fa_sh("grep -qs '^Uid:[[:space:]]*%ld[[:space:]]' /proc/[0-9]*/status", uid) == 0;
}

/* The daemon as a user of its own (root's processes are never limited), with
 * at most nproc tasks (threads included) for that user; nproc 0: unlimited.
 * RLIMIT_NPROC counts every task of the user on the machine, so the user is
 * an unused uid rather than nobody, which other programs may run as. */
static void as_nobody(int nproc)
{
	static long uid;
	while (!uid) {
		long u = 61000 + (long)(getpid() % 3000);
		for (int i = 0; i < 3000 && !uid; i++, u = 61000 + (u - 61000 + 1) % 3000)
			if (!uid_busy(u))
				uid = u;
		assert_true(uid != 0);
	}
	snprintf(uid_arg, sizeof uid_arg, "--reuid=%ld", uid);
	snprintf(gid_arg, sizeof gid_arg, "--regid=%ld", uid);
	assert_int_equal(chmod(T.dir, 0755), 0);
	assert_int_equal(chmod(T.config, 0644), 0);
	size_t n = 0;
	if (nproc > 0) {
		snprintf(nproc_arg, sizeof nproc_arg, "--nproc=%d", nproc);
		nobody_wrap[n++] = "prlimit";
		nobody_wrap[n++] = nproc_arg;
	}
	nobody_wrap[n++] = "setpriv";
	nobody_wrap[n++] = uid_arg;
	nobody_wrap[n++] = gid_arg;
	nobody_wrap[n++] = "--clear-groups";
	nobody_wrap[n] = NULL;
	T.wrap = nobody_wrap;
}

static void with_no_process_to_spare_mqtt_goes_on_and_commands_say_why(void **s)
{
	(void)s;
	if (!fa_root()) {
		print_message("SKIP: needs root, to run the daemon as nobody\n");
		skip();
	}
	fa_begin(NULL, yaml);
	/* How many threads it runs, unlimited. */
	as_nobody(0);
	td_start(&T, NULL);
	td_expect(&T, BASE "status", "online");
	int threads = fa_threads(T.pid);
	td_stop_clean(&T);
	/* Exactly those: its threads start, no command can. */
	as_nobody(threads);
	td_start(&T, NULL);
	td_expect(&T, BASE "status", "online");
	fa_figure_min("states_through_with_no_process_to_spare", states_through(5), 5, "states");
	td_expect_log(&T, "Resource temporarily unavailable");
	td_stop_clean(&T);
	/* Fewer: the pool cannot start, which is said, with exit status 1. */
	as_nobody(threads - 3);
	char err[4096];
	int rc = td_run(&T, err, sizeof err, NULL);
	if (rc != 1 || !strstr(err, "cannot start"))
		fail_msg("with %d processes: exit %d: %s", threads - 3, rc, err);
}

/* ---- a full file system --------------------------------------------------- */

static char mnt[64];
static bool mounted;

static int fs_teardown(void **state)
{
	fa_teardown(state);
	if (mounted)
		fa_sh("umount -l '%s'", mnt);
	mounted = false;
	if (mnt[0])
		rmdir(mnt);
	mnt[0] = 0;
	return 0;
}

static void a_full_file_system_loses_log_lines_and_a_state_write_not_the_daemon(void **s)
{
	(void)s;
	if (!fa_root()) {
		print_message("SKIP: needs root, to mount a small tmpfs\n");
		skip();
	}
	snprintf(mnt, sizeof mnt, "/tmp/mqb-fa-full.XXXXXX");
	assert_non_null(mkdtemp(mnt));
	if (fa_sh("mount -t tmpfs -o size=128k tmpfs '%s'", mnt) != 0) {
		print_message("SKIP: cannot mount a tmpfs\n");
		skip();
	}
	mounted = true;
	/* yaml with the state file on the small file system, and a helper
	 * whose state it keeps */
	char full[2048];
	snprintf(full, sizeof full, "mqbridge: {node_id: lim, state_dir: %s/state}\n%s"
		 "input_number:\n  level: {min: 0, max: 50}\n", mnt, strchr(yaml, '\n') + 1);
	fa_begin(NULL, full);
	char logf[128], pidf[128], fill[128], statef[128];
	snprintf(logf, sizeof logf, "%s/mqbridge.log", mnt);
	snprintf(pidf, sizeof pidf, "%s/mqbridge.pid", mnt);
	snprintf(fill, sizeof fill, "%s/fill", mnt);
	snprintf(statef, sizeof statef, "%s/state/restore_state.json", mnt);
	/* A state written while there is room. */
	td_start(&T, "-p", pidf, NULL);
	td_expect(&T, BASE "status", "online");
	fa_pub(&T, BASE "input_number/level/set", "10", 1, false);
	td_expect(&T, BASE "input_number/level/state", "10.0");
	td_stop_clean(&T);
	assert_int_equal(access(statef, R_OK), 0);
	assert_int_equal(access(pidf, F_OK), -1); /* gone with the clean stop */
	/* The log on the file system, full: its lines are lost, states flow,
	 * and the log goes on once there is room. */
	long before = td_count(&T);
	td_start(&T, "-L", logf, NULL);
	td_expect_after(&T, before, BASE "input_number/level/state", "10.0");
	fa_sh("dd if=/dev/zero of='%s' bs=4k 2>/dev/null", fill);
	fa_figure_min("states_through_with_the_log_fs_full", states_through(5), 5, "states");
	assert_int_equal(kill(T.pid, 0), 0);
	assert_int_equal(unlink(fill), 0);
	fa_pub(&T, BASE "switch/pump/set", "not a command", 1, false);
	bool resumed = false;
	for (double end = tu_now() + 5 * FA_SLOW; !resumed && tu_now() < end; usleep(20 * 1000))
		resumed = fa_sh("grep -q 'ignoring command' '%s'", logf) == 0;
	fa_figure_min("log_lines_after_room_again", resumed, 1, "");
	td_stop_clean(&T);
	/* The state file's write at the stop fails for want of room: said,
	 * and the file keeps what was written last, whole. */
	before = td_count(&T);
	td_start(&T, NULL);
	td_expect_after(&T, before, BASE "input_number/level/state", "10.0");
	fa_sh("dd if=/dev/zero of='%s' bs=4k 2>/dev/null", fill);
	fa_pub(&T, BASE "input_number/level/set", "20", 1, false);
	td_expect_after(&T, before, BASE "input_number/level/state", "20.0");
	td_stop_clean(&T);
	fa_figure_min("state_write_failures_said", td_log_count(&T, "cannot write"), 1, "lines");
	assert_int_equal(unlink(fill), 0);
	before = td_count(&T);
	td_start(&T, NULL);
	td_expect_after(&T, before, BASE "input_number/level/state", "10.0");
	td_stop_clean(&T);
	/* Full at start: the pid file cannot be written, which is said. */
	fa_sh("dd if=/dev/zero of='%s' bs=4k 2>/dev/null", fill);
	char err[4096];
	int rc = td_run(&T, err, sizeof err, "-p", pidf, NULL);
	if (rc != 1 || !strstr(err, "pid file"))
		fail_msg("with a full file system for its pid file: exit %d: %s", rc, err);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(
		with_few_descriptors_mqtt_goes_on_and_commands_say_why_they_fail, fa_teardown),
	cmocka_unit_test_teardown(
		with_too_few_descriptors_to_start_it_says_why_and_exits_1, fa_teardown),
	cmocka_unit_test_teardown(
		with_no_process_to_spare_mqtt_goes_on_and_commands_say_why, fa_teardown),
	cmocka_unit_test_teardown(
		a_full_file_system_loses_log_lines_and_a_state_write_not_the_daemon, fs_teardown),
};

TU_MAIN(tests)
