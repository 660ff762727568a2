/* SPDX-License-Identifier: MIT */
/* fwd_ref.c - reference forwarder: Paho MQTTAsync, the job done directly in
 * Paho's messageArrived callback (receive thread), publishing with
 * MQTTAsync_sendMessage from that callback.  TCP_NODELAY is set on Paho's
 * socket after the connect succeeds (found through /proc/self/fd).
 *
 * Build: gcc -O2 -Wall -Wextra -o fwd_ref fwd_ref.c -lpaho-mqtt3a
 */
#include "common.h"

#include <MQTTAsync.h>

static struct fwd_opts o;
static MQTTAsync client;
static atomic_int g_ready;   /* 1 subscribed, -1 failed */
static int g_fd = -1;

static int on_message(void *ctx, char *topic, int tlen, MQTTAsync_message *m)
{
	char out[64];
	size_t tl = tlen > 0 ? (size_t)tlen : strlen(topic);

	(void)ctx;
	if (job_run(topic, tl, m->payload, (size_t)m->payloadlen, out) == 0) {
		MQTTAsync_message pm = MQTTAsync_message_initializer;
		MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

		pm.payload = m->payload;
		pm.payloadlen = m->payloadlen;
		pm.qos = o.qos;
		if (MQTTAsync_sendMessage(client, out, &pm, &ro) != MQTTASYNC_SUCCESS)
			g_pub_errors++;
		else
			g_forwarded++;
	}
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
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
	fprintf(stderr, "fwd_ref: operation failed rc=%d\n", r ? r->code : 0);
	atomic_store(&g_ready, -1);
}

static void on_conn_ok(void *ctx, MQTTAsync_successData *r)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	(void)ctx;
	(void)r;
	g_fd = find_peer_socket(o.port, NULL, 0);
	if (g_fd < 0 || set_nodelay(g_fd) != 0)
		fprintf(stderr, "fwd_ref: could not set TCP_NODELAY (fd %d)\n", g_fd);
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
	int rc;

	sigset_t stopset;
	int sig;

	fwd_parse(argc, argv, &o, "fwd_ref");
	block_stop_signals(&stopset);
	snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", o.port);
	co.maxBufferedMessages = 100000; /* default 100 would drop (-12) in bursts */
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
	while (atomic_load(&g_ready) == 0)
		nanosleep(&ts, NULL);
	if (atomic_load(&g_ready) < 0)
		return 1;
	say_ready(g_fd);
	sigwait(&stopset, &sig);
	print_stats("ref");
	MQTTAsync_disconnect(client, NULL);
	nanosleep(&ts, NULL);
	MQTTAsync_destroy(&client);
	return 0;
}
