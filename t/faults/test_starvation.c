/* SPDX-License-Identifier: MIT */
/* A busy pool must never starve MQTT (issue 12, item 2): with every
 * executor thread taken by a command that hangs, and more queued behind
 * them, the daemon still connects, subscribes and delivers the first MQTT
 * state within a second of its start, and the connection survives several
 * keepalives while traffic flows. Before the internal lane, MQTT's
 * subscribe job queued behind the commands and nothing came for as long as
 * they hung. The real daemon against a real mosquitto. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "faults.h"
#include "testutil.h"

#define BASE "mqbridge/st/"
#define THREADS 2
#define SENSORS 50
#define KEEPALIVE 2

#define T FA

static void write_config(void)
{
	char yaml[16384];
	int n = snprintf(yaml, sizeof yaml,
			 "mqbridge: {node_id: st, executor_threads: %d}\n"
			 "mqtt:\n"
			 "  broker: 127.0.0.1\n"
			 "  port: %%PORT%%\n"
			 "  keepalive: %d\n"
			 "  reconnect_min: 0.1\n"
			 "  reconnect_max: 0.5\n"
			 "  sensor:\n"
			 "    - {name: Probe, state_topic: dev/probe}\n",
			 THREADS, KEEPALIVE);
	for (int i = 0; i < SENSORS; i++)
		n += snprintf(yaml + n, sizeof yaml - (size_t)n,
			      "    - {name: S%d, state_topic: dev/s%d}\n", i, i);
	/* Twice as many hanging commands as threads: the queue is full too. */
	n += snprintf(yaml + n, sizeof yaml - (size_t)n, "command_line:\n");
	for (int i = 0; i < 2 * THREADS; i++)
		n += snprintf(yaml + n, sizeof yaml - (size_t)n,
			      "  - sensor: {name: Hang %d, command: 'sleep 600', "
			      "command_timeout: 600, scan_interval: 1}\n", i);
	td_write_config(&T, yaml);
}

static void first_state_arrives_within_a_second_with_every_executor_thread_hanging(void **s)
{
	(void)s;
	fa_begin(NULL, NULL);
	write_config();
	td_pub(&T, "dev/probe", "17", true);
	td_expect(&T, "dev/probe", "17");
	double t0 = tu_now();
	td_start(&T, NULL);
	long i = td_wait(&T, BASE "sensor/probe/state", "17", 10 * FA_SLOW);
	if (i < 0) {
		td_dump(&T);
		fail_msg("the retained state never came through");
	}
	double first = T.msgs[i].at - t0;
	fa_figure_max("first_state_with_saturated_pool_s", first, 1.0 * FA_SLOW, "s");
	/* The reconnect must not queue behind the commands either: the broker
	 * comes back empty, the daemon is in again within its back-off (0.5 s
	 * at most) and a second, and the state comes through. */
	int before = tu_broker_log_count(&T.broker, "as mqbridge-st ");
	double t1 = tu_now();
	tu_broker_kill(&T.broker);
	tu_broker_restart(&T.broker);
	if (!tu_broker_log_wait(&T.broker, "as mqbridge-st ", before + 1, 10 * FA_SLOW)) {
		td_dump(&T);
		fail_msg("the daemon did not reconnect");
	}
	fa_figure_max("reconnect_with_saturated_pool_s", tu_now() - t1, 0.5 + 1.0 * FA_SLOW, "s");
	long since = td_count(&T);
	fa_pub(&T, "dev/probe", "18", 1, true);
	if (td_wait_after(&T, since, BASE "sensor/probe/state", "18", 10 * FA_SLOW) < 0) {
		td_dump(&T);
		fail_msg("no state after the broker came back");
	}
	td_stop_clean(&T);
}

/* Traffic on every subscription for three keepalives while the commands
 * hang: every message arrives and the connection is never lost. */
static void mqtt_traffic_flows_and_the_connection_survives_while_commands_hang(void **s)
{
	(void)s;
	fa_begin(NULL, NULL);
	write_config();
	td_start(&T, NULL);
	td_expect(&T, BASE "sensor/probe/state", NULL);
	double end = tu_now() + 3 * KEEPALIVE;
	int sent = 0;
	for (int k = 0; tu_now() < end; k++) {
		char topic[64], value[32], state[96];
		int which = k % (SENSORS + 1);
		if (which == SENSORS)
			snprintf(topic, sizeof topic, "dev/probe");
		else
			snprintf(topic, sizeof topic, "dev/s%d", which);
		snprintf(value, sizeof value, "%d", 1000 + k);
		if (which == SENSORS)
			snprintf(state, sizeof state, BASE "sensor/probe/state");
		else
			snprintf(state, sizeof state, BASE "sensor/s%d/state", which);
		long since = td_count(&T);
		td_pub(&T, topic, value, false);
		if (td_wait_after(&T, since, state, value, 2 * FA_SLOW) < 0) {
			td_dump(&T);
			fail_msg("%s=%s did not come through", topic, value);
		}
		sent++;
		usleep(20 * 1000);
	}
	fa_figure_min("messages_through_with_saturated_pool", sent, SENSORS + 1, "msgs");
	fa_figure_max("connections_lost_with_saturated_pool",
		      td_log_count(&T, "connection to"), 0, "");
	fa_figure_max("subscriptions_failed_with_saturated_pool",
		      td_log_count(&T, "subscribing to"), 0, "");
	td_stop_clean(&T);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(
		first_state_arrives_within_a_second_with_every_executor_thread_hanging, fa_teardown),
	cmocka_unit_test_teardown(
		mqtt_traffic_flows_and_the_connection_survives_while_commands_hang, fa_teardown),
};

TU_MAIN(tests)
