/* SPDX-License-Identifier: MIT */
/* homeassistant/status amplification (issue 12, item 3): any client may
 * publish "online" there, and each one made the bridge re-announce every
 * entity at once: 5,000 of them in 5 s made 399,128 publishes and 10,000
 * log lines for 108 entities. Now a burst is answered once, after a short
 * random delay, and logged once. The real daemon against a real
 * mosquitto. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <mosquitto.h>

#include "daemon.h"
#include "faults.h"
#include "testutil.h"

#define T FA
#define SENSORS 107 /* and the bridge's own: 108 entities */
#define BURST 5000
#define BURST_SECONDS 5.0

static void write_config(void)
{
	static char yaml[16384];
	int n = snprintf(yaml, sizeof yaml,
			 "mqbridge: {node_id: amp}\n"
			 "mqtt:\n"
			 "  broker: 127.0.0.1\n"
			 "  port: %%PORT%%\n"
			 "  sensor:\n");
	for (int i = 0; i < SENSORS; i++)
		n += snprintf(yaml + n, sizeof yaml - (size_t)n,
			      "    - {name: S%d, state_topic: dev/s%d}\n", i, i);
	td_write_config(&T, yaml);
}

/* The daemon up, its start-up announcement out. */
static void start(void)
{
	fa_begin(NULL, NULL);
	write_config();
	td_start(&T, NULL);
	td_expect_log(&T, "announced 108 entities");
	td_expect(&T, "homeassistant/sensor/amp/s106/config", NULL);
}

/* Messages from index since the daemon published: under its base topic
 * or the discovery prefix, Home Assistant's own status aside. */
static size_t daemon_publishes(long since)
{
	return td_count_topic(&T, since, "mqbridge/amp/", "") +
	       td_count_topic(&T, since, "homeassistant/sensor/", "");
}

static void a_burst_of_online_messages_is_answered_once(void **s)
{
	(void)s;
	start();
	usleep(300 * 1000); /* let the start-up announcement's tail arrive */
	long since = td_count(&T);
	double t0 = tu_now();
	for (int i = 0; i < BURST; i++) {
		fa_pub(&T, "homeassistant/status", "online", 0, false);
		double due = t0 + BURST_SECONDS * (i + 1) / BURST;
		double now = tu_now();
		if (due > now)
			usleep((useconds_t)((due - now) * 1e6));
	}
	double burst_end = tu_now();
	/* Quiet for 1-3 s after the last one, then one announcement. */
	long first = td_wait_after(&T, since, "homeassistant/sensor/amp/s0/config", NULL,
				   10 * FA_SLOW);
	if (first < 0) {
		td_dump(&T);
		fail_msg("no announcement after the burst");
	}
	/* Wait until the daemon has been silent for 2 s. */
	size_t seen = daemon_publishes(since);
	for (double quiet = tu_now() + 2;; ) {
		usleep(100 * 1000);
		size_t now = daemon_publishes(since);
		if (now != seen) {
			seen = now;
			quiet = tu_now() + 2;
		} else if (tu_now() > quiet) {
			break;
		}
	}
	fa_figure_max("announcement_delay_after_burst_s", T.msgs[first].at - burst_end,
		      3.0 + 1.0 * FA_SLOW, "s");
	/* One announcement: discovery, availability, state and attributes
	 * per entity, and the bridge's status. */
	fa_figure_max("publishes_per_online_burst", (double)seen, 4 * (SENSORS + 1) + 1, "msgs");
	fa_figure_max("log_lines_per_online_burst",
		      td_log_count(&T, "Home Assistant is online"), 1, "lines");
	td_stop_clean(&T);
}

/* A single "online" (Home Assistant restarted) is still answered, with
 * everything, within the delay. */
static void a_single_online_is_answered_within_three_seconds(void **s)
{
	(void)s;
	start();
	long since = td_count(&T);
	double t0 = tu_now();
	fa_pub(&T, "homeassistant/status", "online", 1, false);
	long i = td_wait_after(&T, since, "homeassistant/sensor/amp/s106/config", NULL, 10 * FA_SLOW);
	if (i < 0) {
		td_dump(&T);
		fail_msg("no announcement after Home Assistant's online");
	}
	fa_figure_max("announcement_after_single_online_s", T.msgs[i].at - t0,
		      3.0 + 1.0 * FA_SLOW, "s");
	td_expect_after(&T, since, "mqbridge/amp/status", "online");
	td_stop_clean(&T);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(a_burst_of_online_messages_is_answered_once, fa_teardown),
	cmocka_unit_test_teardown(a_single_online_is_answered_within_three_seconds, fa_teardown),
};

TU_MAIN(tests)
