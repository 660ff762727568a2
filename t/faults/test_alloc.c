/* SPDX-License-Identifier: MIT */
/* Allocation failure, reached in the real daemon through its test switch
 * (MQB_TEST_ALLOC_FAIL, honoured by --enable-debug builds only): at every
 * allocation point (call site) of start-up in turn, its first allocation
 * fails and every later one too, and the daemon must end cleanly, by itself or on SIGTERM,
 * with no crash, hang or sanitizer report; then allocations fail at random
 * while MQTT messages, templates and commands flow, and it must neither
 * crash nor hang. Allocations of the libraries (Paho, jansson, libyaml)
 * are not counted: only the daemon's own go through mqb__malloc. */
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

#ifdef MQB_DEBUG

static const char yaml[] =
	"mqbridge: {node_id: al}\n"
	"mqtt:\n"
	"  broker: 127.0.0.1\n"
	"  port: %PORT%\n"
	"  reconnect_min: 0.1\n"
	"  reconnect_max: 0.2\n"
	"  sensor:\n"
	"    - {name: Power, state_topic: dev/power, value_template: \"{{ value | float * 2 }}\"}\n"
	"  switch:\n"
	"    - {name: Pump, command_topic: dev/pump/set, state_topic: dev/pump}\n"
	"command_line:\n"
	"  - sensor: {name: Uptime, command: \"echo 42\", scan_interval: 0.2}\n"
	"template:\n"
	"  - sensor:\n"
	"      - name: Doubled\n"
	"        state: \"{{ states('sensor.power') | float(0) * 2 }}\"\n";


/* Run the daemon with MQB_TEST_ALLOC_FAIL=spec; stop it after it has run
 * for `run` seconds (or once it exits by itself). Its exit status, -1 on
 * a hang; sanitizer reports fail the test. */
static int run_with(const char *spec, double run, void (*during)(void))
{
	setenv("MQB_TEST_ALLOC_FAIL", spec, 1);
	td_start(&T, NULL);
	unsetenv("MQB_TEST_ALLOC_FAIL");
	int st = 0;
	pid_t r = 0;
	off_t size = -1;
	double still = tu_now();
	for (double end = tu_now() + run; tu_now() < end && r == 0;) {
		if (during) {
			during();
		} else {
			usleep(2 * 1000);
			/* Start-up is over, or stalled for want of memory (its
			 * log went quiet): nothing more to fail. */
			struct stat st_log;
			off_t now = stat(T.log, &st_log) == 0 ? st_log.st_size : -1;
			if (now != size) {
				size = now;
				still = tu_now();
			} else if (tu_now() - still > 0.06 * FA_SLOW &&
				   td_log_count(&T, "running (pid")) {
				break;
			}
			if (td_log_count(&T, "entities set up"))
				break;
		}
		r = waitpid(T.pid, &st, WNOHANG);
	}
	if (r == 0) {
		kill(T.pid, SIGTERM);
		for (double end = tu_now() + 15 * FA_SLOW; tu_now() < end && r == 0;) {
			usleep(5 * 1000);
			r = waitpid(T.pid, &st, WNOHANG);
		}
		if (r == 0) {
			kill(T.pid, SIGKILL);
			waitpid(T.pid, &st, 0);
			T.pid = 0;
			td_dump(&T);
			fail_msg("MQB_TEST_ALLOC_FAIL=%s: no exit 15 s after SIGTERM", spec);
		}
	}
	T.pid = 0;
	if (td_log_count(&T, "Sanitizer") || td_log_count(&T, "runtime error:")) {
		td_dump(&T);
		fail_msg("MQB_TEST_ALLOC_FAIL=%s: a sanitizer report", spec);
	}
	if (WIFSIGNALED(st)) {
		td_dump(&T);
		fail_msg("MQB_TEST_ALLOC_FAIL=%s: killed by signal %d", spec, WTERMSIG(st));
	}
	return WEXITSTATUS(st);
}

/* The daemon's start-up report: how many allocations, and the number of
 * the first at each call site (into sites, at most max). */
static unsigned long startup_allocations(unsigned long *sites, size_t max, size_t *nsites)
{
	FILE *f = fopen(T.log, "r");
	assert_non_null(f);
	static char line[1 << 16];
	unsigned long n = 0;
	size_t k = 0;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "alloc-test: %lu allocations", &n) != 1)
			continue;
		const char *p = strstr(line, "first at:");
		for (p = p ? p + 9 : ""; *p && k < max;) {
			char *end;
			unsigned long v = strtoul(p, &end, 10);
			if (end == p)
				break;
			sites[k++] = v;
			p = end;
		}
		break;
	}
	fclose(f);
	if (nsites)
		*nsites = k;
	return n;
}

/* Every allocation point of start-up, in turn: the first allocation of
 * each call site fails, and every one after it. */
static void every_allocation_point_of_start_up_failing_ends_cleanly(void **s)
{
	(void)s;
	fa_begin(NULL, yaml);
	/* Leaks on a start-up cut short are not the point here; crashes,
	 * hangs and wrong memory accesses are. */
	setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
	assert_int_equal(run_with("sites", 5.0 * FA_SLOW, NULL), 0);
	static unsigned long sites[8192];
	size_t nsites = 0;
	unsigned long n = startup_allocations(sites, 8192, &nsites);
	if (n == 0 || nsites == 0) {
		td_dump(&T);
		fail_msg("the daemon did not report its start-up allocations");
	}
	unsigned long exits[3] = {0};
	for (size_t i = 0; i < nsites; i++) {
		char spec[32];
		snprintf(spec, sizeof spec, "%lu", sites[i]);
		assert_int_equal(truncate(T.log, 0), 0);
		int rc = run_with(spec, 0.5 * FA_SLOW, NULL);
		if (rc != 0 && rc != 1 && rc != 78) {
			td_dump(&T);
			fail_msg("MQB_TEST_ALLOC_FAIL=%s: exit status %d", spec, rc);
		}
		exits[rc == 0 ? 0 : rc == 1 ? 1 : 2]++;
	}
	unsetenv("ASAN_OPTIONS");
	printf("start-up: %lu allocations at %zu call sites; failing each site's first: %lu "
	       "ran on, %lu exited 1, %lu exited 78\n", n, nsites, exits[0], exits[1], exits[2]);
	fa_figure_min("startup_allocation_points_failed", (double)nsites, 50, "sites");
}

static int traffic_k;

static void traffic(void)
{
	char v[16];
	snprintf(v, sizeof v, "%d", traffic_k++);
	fa_pub(&T, "dev/power", v, 0, false);
	if (traffic_k % 10 == 0)
		fa_pub(&T, "dev/pump/set", traffic_k % 20 ? "ON" : "OFF", 0, false);
	usleep(10 * 1000);
}

static void random_allocation_failures_under_traffic_never_crash_it(void **s)
{
	(void)s;
	fa_begin(NULL, yaml);
	assert_int_equal(run_with("sites", 5.0 * FA_SLOW, NULL), 0);
	unsigned long n = startup_allocations(NULL, 0, NULL);
	for (unsigned seed = 1; seed <= 4; seed++) {
		char spec[64];
		/* after start-up, one allocation in 50 fails */
		snprintf(spec, sizeof spec, "random:50:%lu:%u", n, seed);
		assert_int_equal(truncate(T.log, 0), 0);
		int rc = run_with(spec, 3.0, traffic);
		if (rc != 0 && rc != 1) {
			td_dump(&T);
			fail_msg("MQB_TEST_ALLOC_FAIL=%s: exit status %d", spec, rc);
		}
		printf("%s: exit %d, %d lines saying memory ran out\n", spec, rc,
		       td_log_count(&T, "memory"));
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(every_allocation_point_of_start_up_failing_ends_cleanly,
				  fa_teardown),
	cmocka_unit_test_teardown(random_allocation_failures_under_traffic_never_crash_it,
				  fa_teardown),
};

int main(int argc, char **argv)
{
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

int main(void)
{
	printf("SKIP: MQB_TEST_ALLOC_FAIL is honoured by --enable-debug builds only\n");
	return 77;
}

#endif
