/* SPDX-License-Identifier: MIT */
/* fwd_mosq_ev.c - variant (c), for comparison: libmosquitto (not Paho)
 * driven from a libev loop on one thread, the way that library is designed
 * to be hosted: mosquitto_socket() in an ev_io, mosquitto_loop_read() on
 * readiness (the message callback does the job and queues the publish),
 * mosquitto_loop_write() when mosquitto_want_write(), mosquitto_loop_misc()
 * from an ev_timer for keepalive.  TCP_NODELAY through MOSQ_OPT_TCP_NODELAY.
 *
 * Build: gcc -O2 -Wall -Wextra -o fwd_mosq_ev fwd_mosq_ev.c -lmosquitto -lev
 */
#include "common.h"

#include <ev.h>
#include <mosquitto.h>

static struct fwd_opts o;
static struct mosquitto *mosq;
static struct ev_loop *loop;
static ev_io rio, wio;
static ev_timer tick;
static int subscribed;

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	char out[64];

	(void)m;
	(void)ud;
	if (job_run(msg->topic, strlen(msg->topic), msg->payload, (size_t)msg->payloadlen, out) == 0) {
		if (mosquitto_publish(mosq, NULL, out, msg->payloadlen, msg->payload, o.qos, false) != MOSQ_ERR_SUCCESS)
			g_pub_errors++;
		else
			g_forwarded++;
	}
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
	(void)m;
	(void)ud;
	(void)mid;
	(void)n;
	(void)granted;
	subscribed = 1;
}

static void update_write_watcher(void)
{
	if (mosquitto_want_write(mosq)) {
		if (!ev_is_active(&wio))
			ev_io_start(loop, &wio);
	} else if (ev_is_active(&wio))
		ev_io_stop(loop, &wio);
}

static void lost(int rc)
{
	fprintf(stderr, "fwd_mosq_ev: connection error rc=%d (%s)\n", rc, mosquitto_strerror(rc));
	atomic_fetch_add(&g_disconnects, 1);
	ev_break(loop, EVBREAK_ALL);
}

static void on_readable(struct ev_loop *l, ev_io *w, int revents)
{
	int rc;

	(void)l;
	(void)w;
	(void)revents;
	if ((rc = mosquitto_loop_read(mosq, 64)) != MOSQ_ERR_SUCCESS) {
		lost(rc);
		return;
	}
	/* publishes made inside callbacks are only queued: flush now */
	if (mosquitto_want_write(mosq) && (rc = mosquitto_loop_write(mosq, 1)) != MOSQ_ERR_SUCCESS) {
		lost(rc);
		return;
	}
	update_write_watcher();
}

static void on_writable(struct ev_loop *l, ev_io *w, int revents)
{
	int rc;

	(void)l;
	(void)w;
	(void)revents;
	if ((rc = mosquitto_loop_write(mosq, 1)) != MOSQ_ERR_SUCCESS)
		lost(rc);
	else
		update_write_watcher();
}

static void on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	int rc;

	(void)l;
	(void)w;
	(void)revents;
	if ((rc = mosquitto_loop_misc(mosq)) != MOSQ_ERR_SUCCESS)
		lost(rc);
	else
		update_write_watcher();
}

static void on_signal(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	sigset_t stopset;
	ev_signal sterm, sint;
	int rc, fd;
	double tick_s;

	fwd_parse(argc, argv, &o, "fwd_mosq_ev");
	block_stop_signals(&stopset);
	mosquitto_lib_init();
	mosq = mosquitto_new(o.id, true, NULL);
	if (!mosq)
		return 1;
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_max_inflight_messages_set(mosq, 0 /* unlimited */);
	mosquitto_message_callback_set(mosq, on_message);
	mosquitto_subscribe_callback_set(mosq, on_subscribe);
	/* blocking connect, as in (b) */
	if ((rc = mosquitto_connect(mosq, "127.0.0.1", o.port, o.keepalive)) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "connect rc=%d\n", rc);
		return 1;
	}
	mosquitto_subscribe(mosq, NULL, "in/+", o.qos);
	/* CONNACK and SUBACK: run the library's own loop until subscribed */
	while (!subscribed)
		if ((rc = mosquitto_loop(mosq, 100, 1)) != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "loop rc=%d\n", rc);
			return 1;
		}
	fd = mosquitto_socket(mosq);
	loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD);
	ev_io_init(&rio, on_readable, fd, EV_READ);
	ev_io_start(loop, &rio);
	ev_io_init(&wio, on_writable, fd, EV_WRITE);
	tick_s = o.keepalive > 0 ? o.keepalive / 4.0 : 1.0;
	if (tick_s < 0.25)
		tick_s = 0.25;
	ev_timer_init(&tick, on_tick, tick_s, tick_s);
	ev_timer_start(loop, &tick);
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_start(loop, &sterm);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_start(loop, &sint);
	say_ready(fd);
	ev_run(loop, 0);
	print_stats("mosq_ev");
	mosquitto_disconnect(mosq);
	mosquitto_destroy(mosq);
	mosquitto_lib_cleanup();
	return 0;
}
