/* SPDX-License-Identifier: MIT */
/* probe_sync.c - what blocks in Paho's synchronous MQTTClient (1.3.12 as
 * shipped by Debian), measured rather than read from the header:
 *   A  MQTTClient_yield(): how long one call takes
 *   B  MQTTClient_receive(timeout 0) with nothing to read: how long
 *   C  QoS 1 publishes with the default connect options (reliable = 1):
 *      time per MQTTClient_publish, i.e. does publish wait for the PUBACK
 *   D  QoS 1 publishes with reliable = 0, maxInflightMessages = 65535:
 *      time per publish, and how the PUBACKs are consumed afterwards
 *      (MQTTClient_getPendingDeliveryTokens before/after receive(0) calls)
 *   E  MQTTClient_connect to a TCP listener that never answers CONNACK
 *      (connectTimeout 2 s): how long the calling thread is blocked
 *   F  (optional) QoS 0 publishes of 64 KiB to a peer that sent CONNACK and
 *      then stopped reading (keepalive 3 s): what a full socket send buffer
 *      does to the calling thread
 *
 * usage: probe_sync BROKER_PORT SILENT_PORT [STALLED_PEER_PORT]
 * Build: gcc -O2 -Wall -Wextra -o probe_sync probe_sync.c -lpaho-mqtt3c
 */
#include "common.h"

#include <MQTTClient.h>

static double ms_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

static MQTTClient connect_to(int port, const char *id, int reliable, int maxinflight, int timeout_s, int *rc)
{
	MQTTClient c;
	MQTTClient_connectOptions cn = MQTTClient_connectOptions_initializer;
	char uri[64];

	snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", port);
	MQTTClient_create(&c, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL);
	cn.keepAliveInterval = 30;
	cn.cleansession = 1;
	cn.reliable = reliable;
	cn.connectTimeout = timeout_s;
	if (maxinflight > 0)
		cn.maxInflightMessages = maxinflight;
	*rc = MQTTClient_connect(c, &cn);
	return c;
}

static int pending(MQTTClient c)
{
	MQTTClient_deliveryToken *t = NULL;
	int n = 0;

	if (MQTTClient_getPendingDeliveryTokens(c, &t) == MQTTCLIENT_SUCCESS && t) {
		while (t[n] != -1)
			n++;
		MQTTClient_free(t);
	}
	return n;
}

static void publish_series(MQTTClient c, const char *label, int n)
{
	double max = 0, sum = 0;
	int i;
	uint64_t all = now_ns();

	for (i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		int rc = MQTTClient_publish(c, "probe/x", 5, "hello", 1, 0, NULL);
		double d = ms_since(t0);

		if (rc != MQTTCLIENT_SUCCESS)
			printf("  publish rc=%d\n", rc);
		sum += d;
		if (d > max)
			max = d;
	}
	printf("%s: %d QoS1 publishes took %.1f ms (mean %.3f ms, max %.3f ms per call)\n", label, n,
	       ms_since(all), sum / n, max);
}

int main(int argc, char **argv)
{
	int bport, sport, rc, i;
	MQTTClient c;
	uint64_t t0;

	if (argc != 3 && argc != 4)
		return 2;
	bport = atoi(argv[1]);
	sport = atoi(argv[2]);

	c = connect_to(bport, "probe-a", 1, 0, 5, &rc);
	if (rc != MQTTCLIENT_SUCCESS) {
		printf("connect rc=%d\n", rc);
		return 1;
	}
	t0 = now_ns();
	MQTTClient_yield();
	printf("A: MQTTClient_yield() took %.1f ms\n", ms_since(t0));
	{
		char *topic;
		int tl;
		MQTTClient_message *m = NULL;

		t0 = now_ns();
		for (i = 0; i < 1000; i++)
			MQTTClient_receive(c, &topic, &tl, &m, 0);
		printf("B: MQTTClient_receive(timeout 0), nothing to read: %.2f us per call\n",
		       ms_since(t0) * 1000.0 / 1000);
	}
	publish_series(c, "C (defaults: reliable=1)", 20);
	MQTTClient_disconnect(c, 100);
	MQTTClient_destroy(&c);

	c = connect_to(bport, "probe-d", 0, 65535, 5, &rc);
	publish_series(c, "D (reliable=0, maxInflightMessages=65535)", 1000);
	printf("D: pending delivery tokens right after: %d\n", pending(c));
	{
		char *topic;
		int tl, calls = 0;
		MQTTClient_message *m = NULL;

		t0 = now_ns();
		while (pending(c) > 0 && ms_since(t0) < 2000) {
			MQTTClient_receive(c, &topic, &tl, &m, 0);
			calls++;
		}
		printf("D: pending reached %d after %d MQTTClient_receive(0) calls (%.1f ms): PUBACKs are only "
		       "consumed when the application calls receive/yield\n", pending(c), calls, ms_since(t0));
	}
	MQTTClient_disconnect(c, 100);
	MQTTClient_destroy(&c);

	t0 = now_ns();
	c = connect_to(sport, "probe-e", 1, 0, 2, &rc);
	printf("E: MQTTClient_connect to a listener that never sends CONNACK (connectTimeout=2): rc=%d after %.0f ms\n",
	       rc, ms_since(t0));
	MQTTClient_destroy(&c);
	if (argc == 4) {
		static char big[65536];
		MQTTClient_connectOptions cn = MQTTClient_connectOptions_initializer;
		char uri[64];
		double max = 0;
		int at = -1;

		snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", atoi(argv[3]));
		MQTTClient_create(&c, uri, "probe-f", MQTTCLIENT_PERSISTENCE_NONE, NULL);
		cn.keepAliveInterval = 3;
		cn.reliable = 0;
		cn.maxInflightMessages = 65535;
		if ((rc = MQTTClient_connect(c, &cn)) != MQTTCLIENT_SUCCESS) {
			printf("F: connect rc=%d\n", rc);
			return 1;
		}
		t0 = now_ns();
		for (i = 0; i < 200; i++) {
			uint64_t t1 = now_ns();
			double d;

			rc = MQTTClient_publish(c, "probe/big", sizeof big, big, 0, 0, NULL);
			d = ms_since(t1);
			if (d > max) {
				max = d;
				at = i;
			}
			if (rc != MQTTCLIENT_SUCCESS)
				break;
		}
		printf("F: peer not reading: publish #%d blocked the caller %.0f ms; stopped after %d publishes "
		       "with rc=%d, %.0f ms in all\n", at, max, i, rc, ms_since(t0));
		MQTTClient_destroy(&c);
	}
	return 0;
}
