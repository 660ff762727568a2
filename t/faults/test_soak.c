/* SPDX-License-Identifier: MIT */
/* The soak: the real daemon under steady traffic for SOAK_SECONDS (60 in
 * make check; ./quickstart soak runs 1800): MQTT messages through value
 * templates, a template sensor over them, a command every second, commands
 * to a switch, Home Assistant coming online now and then, and the broker
 * killed and restarted every minute (at half time in a run shorter than
 * two). Resident memory and open descriptors are sampled every second;
 * over the second half their growth must be bounded, and at the end the
 * last message must still come through. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "faults.h"
#include "testutil.h"

#define T FA
#define BASE "mqbridge/soak/"
#define SENSORS 20

static void write_config(void)
{
	char yaml[8192];
	int n = snprintf(yaml, sizeof yaml,
			 "mqbridge: {node_id: soak}\n"
			 "mqtt:\n"
			 "  broker: 127.0.0.1\n"
			 "  port: %%PORT%%\n"
			 "  keepalive: 5\n"
			 "  reconnect_min: 0.2\n"
			 "  reconnect_max: 1\n"
			 "  switch:\n"
			 "    - {name: Pump, command_topic: dev/pump/set, state_topic: dev/pump}\n"
			 "  sensor:\n");
	for (int i = 0; i < SENSORS; i++)
		n += snprintf(yaml + n, sizeof yaml - (size_t)n,
			      "    - name: S%d\n"
			      "      state_topic: dev/s%d\n"
			      "      value_template: \"{{ (value_json.v | float * 1.5) | round(1) }}\"\n"
			      "      json_attributes_topic: dev/s%d\n",
			      i, i, i);
	n += snprintf(yaml + n, sizeof yaml - (size_t)n,
		      "command_line:\n"
		      "  - sensor: {name: Clock, command: \"date +%%s%%N\", scan_interval: 1}\n"
		      "template:\n"
		      "  - sensor:\n"
		      "      - name: Total\n"
		      "        state: \"{{ states.sensor | selectattr('entity_id', 'match', "
		      "'sensor.s') | map(attribute='state') | map('float', 0) | sum | round(1) }}\"\n");
	td_write_config(&T, yaml);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, size_t n)
{
	double *c = malloc(n * sizeof *c);
	assert_non_null(c);
	memcpy(c, v, n * sizeof *c);
	qsort(c, n, sizeof *c, cmp_double);
	double m = c[n / 2];
	free(c);
	return m;
}

/* Least-squares slope of y over x, per unit of x. */
static double slope(const double *x, const double *y, size_t n)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	for (size_t i = 0; i < n; i++) {
		sx += x[i];
		sy += y[i];
		sxx += x[i] * x[i];
		sxy += x[i] * y[i];
	}
	double d = n * sxx - sx * sx;
	return d != 0 ? (n * sxy - sx * sy) / d : 0;
}

static void the_daemon_under_traffic_and_reconnects_stays_flat(void **s)
{
	(void)s;
	const char *env = getenv("SOAK_SECONDS");
	double seconds = env ? atof(env) : 60;
	if (seconds < 20)
		seconds = 20;
	double every = seconds < 120 ? seconds / 2 : 60; /* forced reconnects */
	fa_begin(NULL, NULL);
	write_config();
	td_start(&T, NULL);
	td_expect(&T, BASE "status", "online");
	size_t cap = (size_t)seconds + 16, n = 0;
	double *at = calloc(cap, sizeof *at), *rss = calloc(cap, sizeof *rss),
	       *fds = calloc(cap, sizeof *fds);
	assert_true(at && rss && fds);
	double t0 = tu_now(), next_sample = t0, next_kill = t0 + every, next_cmd = t0;
	unsigned long k = 0, kills = 0;
	while (tu_now() < t0 + seconds) {
		char topic[32], payload[64];
		snprintf(topic, sizeof topic, "dev/s%lu", k % SENSORS);
		snprintf(payload, sizeof payload, "{\"v\": %lu, \"n\": \"x%lu\"}", k, k % 7);
		fa_pub(&T, topic, payload, 0, false);
		k++;
		double now = tu_now();
		if (now >= next_cmd) {
			fa_pub(&T, BASE "switch/pump/set", k % 2 ? "ON" : "OFF", 1, false);
			if (k % 20 == 0)
				fa_pub(&T, "homeassistant/status", "online", 0, false);
			next_cmd += 1;
		}
		if (now >= next_kill) {
			tu_broker_kill(&T.broker);
			tu_broker_restart(&T.broker);
			kills++;
			next_kill += every;
		}
		if (now >= next_sample && n < cap) {
			at[n] = (now - t0) / 60; /* minutes */
			rss[n] = (double)fa_rss_kib(T.pid);
			fds[n] = fa_fd_count(T.pid);
			if (rss[n] < 0 || fds[n] < 0) {
				td_dump(&T);
				fail_msg("the daemon is gone after %.0f s", now - t0);
			}
			n++;
			next_sample += 1;
		}
		usleep(20 * 1000);
	}
	/* Still working: one more value comes through. */
	long since = td_count(&T);
	fa_pub(&T, "dev/s0", "{\"v\": 2}", 1, false);
	if (td_wait_after(&T, since, BASE "sensor/s0/state", "3.0", 10 * FA_SLOW) < 0) {
		td_dump(&T);
		fail_msg("nothing comes through after the soak");
	}
	/* Over the second half, after the warm-up. A command's pipes, a
	 * reconnect's look at /proc and its closed socket move the count by a
	 * few for a moment; a leak moves what it usually is: the median of
	 * its last quarter against that of its first. */
	size_t h = n / 2, q = (n - h) / 4 ? (n - h) / 4 : 1;
	double fmax = 0;
	for (size_t i = h; i < n; i++)
		fmax = fds[i] > fmax ? fds[i] : fmax;
	double growth = median(fds + n - q, q) - median(fds + h, q);
	double rs = slope(at + h, rss + h, n - h);
	printf("soak: %.0f s, %lu messages, %lu broker kills, resident %.0f -> %.0f KiB, "
	       "descriptors %.0f -> %.0f (at most %.0f)\n", seconds, k, kills, rss[0],
	       rss[n - 1], fds[0], fds[n - 1], fmax);
	fa_figure_max("soak_fd_median_growth", growth, 1, "fds");
	if (FA_SANITIZED)
		printf("SKIP: soak_rss_slope not checked: the sanitizer keeps freed memory\n");
	else
		fa_figure_max("soak_rss_slope_kib_per_min", rs, seconds < 300 ? 512 : 64,
			      "KiB/min");
	free(at);
	free(rss);
	free(fds);
	td_stop_clean(&T);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(the_daemon_under_traffic_and_reconnects_stays_flat, fa_teardown),
};

TU_MAIN(tests)
