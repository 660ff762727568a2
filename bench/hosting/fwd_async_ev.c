/* SPDX-License-Identifier: MIT */
/* fwd_async_ev.c - variant (a): Paho MQTTAsync whose messageArrived only
 * hands the message over to a libev loop thread (the main thread), which does
 * the job and publishes with MQTTAsync_sendMessage.
 *
 * Hand-off: a lock-free multi-producer list (Treiber push with CAS; the
 * consumer detaches the whole list with one atomic exchange and reverses it
 * to restore arrival order).  The producer calls ev_async_send only when it
 * pushed onto an EMPTY list, so a burst costs one wake-up; the loop drains
 * everything it finds (batch drain) and re-checks before going back to sleep.
 * The Paho message and topic pointers are handed over as they are and freed
 * on the loop thread.
 *
 * Build: gcc -O2 -Wall -Wextra -o fwd_async_ev fwd_async_ev.c -lpaho-mqtt3a -lev
 */
#include "common.h"

#include <MQTTAsync.h>
#include <ev.h>

struct node {
	struct node *next;
	char *topic;
	int tlen;
	MQTTAsync_message *m;
};

static struct fwd_opts o;
static MQTTAsync client;
static struct ev_loop *loop;
static ev_async wake;
static _Atomic(struct node *) head;
static atomic_int g_ready;
static int g_fd = -1;
static uint64_t g_wakeups_sent, g_batches; /* producer-side / loop-side */

static int on_message(void *ctx, char *topic, int tlen, MQTTAsync_message *m)
{
	struct node *n = malloc(sizeof *n);
	struct node *old;

	(void)ctx;
	if (!n) {
		/* message already acknowledged (QoS 1): a drop is a loss */
		MQTTAsync_freeMessage(&m);
		MQTTAsync_free(topic);
		return 1;
	}
	n->topic = topic;
	n->tlen = tlen;
	n->m = m;
	old = atomic_load_explicit(&head, memory_order_relaxed);
	do
		n->next = old;
	while (!atomic_compare_exchange_weak_explicit(&head, &old, n, memory_order_release,
						      memory_order_relaxed));
	if (old == NULL) {
		g_wakeups_sent++; /* receive thread only */
		ev_async_send(loop, &wake);
	}
	return 1;
}

static void process(struct node *n)
{
	char out[64];
	size_t tl = n->tlen > 0 ? (size_t)n->tlen : strlen(n->topic);

	if (job_run(n->topic, tl, n->m->payload, (size_t)n->m->payloadlen, out) == 0) {
		MQTTAsync_message pm = MQTTAsync_message_initializer;
		MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

		pm.payload = n->m->payload;
		pm.payloadlen = n->m->payloadlen;
		pm.qos = o.qos;
		if (MQTTAsync_sendMessage(client, out, &pm, &ro) != MQTTASYNC_SUCCESS)
			g_pub_errors++;
		else
			g_forwarded++;
	}
	MQTTAsync_freeMessage(&n->m);
	MQTTAsync_free(n->topic);
	free(n);
}

static void on_wake(struct ev_loop *l, ev_async *w, int revents)
{
	struct node *list;

	(void)l;
	(void)w;
	(void)revents;
	while ((list = atomic_exchange_explicit(&head, NULL, memory_order_acquire)) != NULL) {
		struct node *rev = NULL;

		g_batches++;
		while (list) { /* reverse: LIFO stack -> arrival order */
			struct node *nx = list->next;

			list->next = rev;
			rev = list;
			list = nx;
		}
		while (rev) {
			struct node *nx = rev->next;

			process(rev);
			rev = nx;
		}
	}
}

static void on_signal(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

static void on_lost(void *ctx, char *cause)
{
	(void)ctx;
	(void)cause;
	atomic_fetch_add(&g_disconnects, 1);
}

static void on_sub_ok(void *ctx, MQTTAsync_successData *r)
{
	(void)ctx;
	(void)r;
	atomic_store(&g_ready, 1);
}

static void on_fail(void *ctx, MQTTAsync_failureData *r)
{
	(void)ctx;
	fprintf(stderr, "fwd_async_ev: operation failed rc=%d\n", r ? r->code : 0);
	atomic_store(&g_ready, -1);
}

static void on_conn_ok(void *ctx, MQTTAsync_successData *r)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	(void)ctx;
	(void)r;
	g_fd = find_peer_socket(o.port, NULL, 0);
	if (g_fd < 0 || set_nodelay(g_fd) != 0)
		fprintf(stderr, "fwd_async_ev: could not set TCP_NODELAY (fd %d)\n", g_fd);
	ro.onSuccess = on_sub_ok;
	ro.onFailure = on_fail;
	if (MQTTAsync_subscribe(client, "in/+", o.qos, &ro) != MQTTASYNC_SUCCESS)
		atomic_store(&g_ready, -1);
}

int main(int argc, char **argv)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	MQTTAsync_connectOptions cn = MQTTAsync_connectOptions_initializer;
	char uri[64];
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	sigset_t stopset;
	ev_signal sterm, sint;
	int rc;

	fwd_parse(argc, argv, &o, "fwd_async_ev");
	block_stop_signals(&stopset); /* Paho threads inherit the mask */
	loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD); /* signals stay blocked everywhere */
	ev_async_init(&wake, on_wake);
	ev_async_start(loop, &wake);
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_start(loop, &sterm);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_start(loop, &sint);

	snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", o.port);
	co.maxBufferedMessages = 100000;
	if ((rc = MQTTAsync_createWithOptions(&client, uri, o.id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co)) != 0) {
		fprintf(stderr, "create rc=%d\n", rc);
		return 1;
	}
	MQTTAsync_setCallbacks(client, NULL, on_lost, on_message, NULL);
	cn.keepAliveInterval = o.keepalive;
	cn.cleansession = 1;
	if (o.maxinflight > 0)
		cn.maxInflight = o.maxinflight;
	cn.onSuccess = on_conn_ok;
	cn.onFailure = on_fail;
	if ((rc = MQTTAsync_connect(client, &cn)) != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "connect rc=%d\n", rc);
		return 1;
	}
	/* Prototype: wait for the subscription before entering the loop (the
	 * daemon would route these completions through the same queue). */
	while (atomic_load(&g_ready) == 0)
		nanosleep(&ts, NULL);
	if (atomic_load(&g_ready) < 0)
		return 1;
	say_ready(g_fd);
	ev_run(loop, 0);
	on_wake(loop, &wake, 0);
	print_stats("async_ev");
	printf("HANDOFF wakeups_sent=%llu batches=%llu\n", (unsigned long long)g_wakeups_sent,
	       (unsigned long long)g_batches);
	fflush(stdout);
	MQTTAsync_disconnect(client, NULL);
	nanosleep(&ts, NULL);
	MQTTAsync_destroy(&client);
	return 0;
}
