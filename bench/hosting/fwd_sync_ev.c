/* SPDX-License-Identifier: MIT */
/* fwd_sync_ev.c - variant (b): Paho MQTTClient in synchronous mode (no
 * MQTTClient_setCallbacks, hence no background thread) driven from a libev
 * loop on the main thread.
 *
 * - connect and subscribe are blocking calls (fine for the prototype; the
 *   daemon would run them as executor jobs or accept the stall at startup);
 * - Paho's socket is found through /proc/self/fd and given TCP_NODELAY;
 * - an ev_io watches it for reads; on readiness the loop drains with
 *   MQTTClient_receive(timeout 0) until it returns no message (or a budget is
 *   used up, then the io watcher is fed again so messages Paho already queued
 *   internally are not left behind);
 * - an ev_timer calls MQTTClient_receive(0) as well: every receive runs one
 *   MQTTClient_cycle, which sends keepalive PINGREQs and retries.  (NOT
 *   MQTTClient_yield: it loops for 100 ms.)
 * - publishes go out with MQTTClient_publish from the loop thread.
 *
 * -m N : reliable=0, maxInflightMessages=N; -m 0 keeps Paho's defaults
 *        (reliable=1: ONE QoS>0 message in flight).
 * -T   : time every publish call and report how long the loop was blocked.
 *
 * Build: gcc -O2 -Wall -Wextra -o fwd_sync_ev fwd_sync_ev.c -lpaho-mqtt3c -lev
 */
#include "common.h"

#include <MQTTClient.h>
#include <ev.h>

#define DRAIN_BUDGET 256

static struct fwd_opts o;
static MQTTClient client;
static struct ev_loop *loop;
static ev_io rio;
static ev_timer tick;
static int timing;
static uint64_t pub_calls, pub_slow, pub_max_ns, pub_blocked_ns, drains, ticks;

/* -T: Paho's own trace says when publish blocks ("Blocking publish on queue
 * full"), which separates real blocking from preemption on a busy machine. */
static uint64_t trace_blocking;

static void on_trace(enum MQTTCLIENT_TRACE_LEVELS level, char *msg)
{
	(void)level;
	if (strstr(msg, "Blocking publish"))
		trace_blocking++;
}

static void publish(const char *topic, const void *payload, int plen)
{
	uint64_t t0 = timing ? now_ns() : 0;
	int rc = MQTTClient_publish(client, topic, plen, payload, o.qos, 0, NULL);

	if (timing) {
		uint64_t d = now_ns() - t0;

		pub_calls++;
		if (d > pub_max_ns)
			pub_max_ns = d;
		if (d > 1000000u) {
			pub_slow++;
			pub_blocked_ns += d;
		}
	}
	if (rc != MQTTCLIENT_SUCCESS)
		g_pub_errors++;
	else
		g_forwarded++;
}

static void fatal_disconnect(int rc)
{
	fprintf(stderr, "fwd_sync_ev: receive rc=%d (%s); stopping\n", rc, MQTTClient_strerror(rc));
	atomic_fetch_add(&g_disconnects, 1);
	ev_io_stop(loop, &rio);
	ev_timer_stop(loop, &tick);
	ev_break(loop, EVBREAK_ALL);
}

/* One MQTTClient_receive(0) = one MQTTClient_cycle: reads at most one
 * packet, handles acks/pings/keepalive, returns a PUBLISH if one is queued. */
static void drain(void)
{
	int i;

	drains++;
	for (i = 0; i < DRAIN_BUDGET; i++) {
		char *topic = NULL, out[64];
		int tlen = 0, rc;
		MQTTClient_message *m = NULL;

		rc = MQTTClient_receive(client, &topic, &tlen, &m, 0);
		if (rc != MQTTCLIENT_SUCCESS && rc != MQTTCLIENT_TOPICNAME_TRUNCATED) {
			fatal_disconnect(rc);
			return;
		}
		if (m == NULL)
			return; /* nothing queued and nothing (more) readable right now */
		if (job_run(topic, (size_t)tlen, m->payload, (size_t)m->payloadlen, out) == 0)
			publish(out, m->payload, m->payloadlen);
		MQTTClient_freeMessage(&m);
		MQTTClient_free(topic);
	}
	/* budget used: come back next iteration even if the socket is empty,
	 * Paho may hold messages read during a blocked publish */
	ev_feed_event(loop, &rio, EV_READ);
}

static void on_readable(struct ev_loop *l, ev_io *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	drain();
}

static void on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	ticks++;
	drain();
}

static void on_signal(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	MQTTClient_connectOptions cn = MQTTClient_connectOptions_initializer;
	char uri[64];
	sigset_t stopset;
	ev_signal sterm, sint;
	int rc, fd, i;
	double tick_s;

	for (i = 1; i < argc; i++) /* -T is ours, strip it before getopt */
		if (strcmp(argv[i], "-T") == 0) {
			timing = 1;
			memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof *argv);
			argc--;
			i--;
		}
	fwd_parse(argc, argv, &o, "fwd_sync_ev");
	block_stop_signals(&stopset);
	if (timing) {
		MQTTClient_setTraceCallback(on_trace);
		MQTTClient_setTraceLevel(MQTTCLIENT_TRACE_MINIMUM);
	}
	snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", o.port);
	if ((rc = MQTTClient_create(&client, uri, o.id, MQTTCLIENT_PERSISTENCE_NONE, NULL)) != 0) {
		fprintf(stderr, "create rc=%d\n", rc);
		return 1;
	}
	cn.keepAliveInterval = o.keepalive;
	cn.cleansession = 1;
	if (o.maxinflight > 0) {
		cn.reliable = 0;
		cn.maxInflightMessages = o.maxinflight;
	}
	/* blocking connect + SUBACK wait: would be an executor job in the daemon */
	if ((rc = MQTTClient_connect(client, &cn)) != MQTTCLIENT_SUCCESS) {
		fprintf(stderr, "connect rc=%d\n", rc);
		return 1;
	}
	if ((rc = MQTTClient_subscribe(client, "in/+", o.qos)) != MQTTCLIENT_SUCCESS) {
		fprintf(stderr, "subscribe rc=%d\n", rc);
		return 1;
	}
	fd = find_peer_socket(o.port, NULL, 0);
	if (fd < 0 || set_nodelay(fd) != 0) {
		fprintf(stderr, "fwd_sync_ev: Paho socket not found\n");
		return 1;
	}

	loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD);
	ev_io_init(&rio, on_readable, fd, EV_READ);
	ev_io_start(loop, &rio);
	/* keepalive/retry driver: a few times per keepalive interval */
	tick_s = o.keepalive > 0 ? o.keepalive / 4.0 : 1.0;
	if (tick_s < 0.25)
		tick_s = 0.25;
	ev_timer_init(&tick, on_tick, tick_s, tick_s);
	ev_timer_start(loop, &tick);
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_start(loop, &sterm);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_start(loop, &sint);
	/* anything that arrived during the blocking subscribe is already queued */
	drain();
	say_ready(fd);
	ev_run(loop, 0);
	print_stats("sync_ev");
	printf("LOOP drains=%llu ticks=%llu", (unsigned long long)drains, (unsigned long long)ticks);
	if (timing)
		printf(" pub_calls=%llu paho_blocking_publish=%llu pub_over_1ms=%llu pub_max_us=%.0f pub_over_1ms_total_ms=%.1f",
		       (unsigned long long)pub_calls, (unsigned long long)trace_blocking, (unsigned long long)pub_slow, pub_max_ns / 1e3,
		       pub_blocked_ns / 1e6);
	printf("\n");
	fflush(stdout);
	MQTTClient_disconnect(client, 100);
	MQTTClient_destroy(&client);
	return 0;
}
