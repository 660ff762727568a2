/* SPDX-License-Identifier: MIT */
/* bench_mqtt: the MQTT forwarder of bench/hosting/fwd_ref.c, built on
 * mqbridge's own API instead of raw Paho. It subscribes in/+ with a CALLBACK
 * job; for each message it does fwd_ref's work (scan the payload for "seq":,
 * map in/<k> to out/<k>) and republishes the payload at the same QoS with
 * mqb_mqtt_async_publish (no future). bench/run-mqtt.sh runs it beside
 * fwd_ref against the same broker and load generator.
 *
 * usage: bench_mqtt -p PORT [-q QOS] [-k KEEPALIVE] [-i ID] [-m MAXINFLIGHT] [-H HOST]
 * (the options of bench/hosting/common.h, plus -H). Prints "READY" once
 * connected and subscribed, and a STATS line in fwd_ref's format at
 * SIGTERM/SIGINT, which stop the core. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <ev.h>

#include "core/loop.h"
#include "mqbridge/core.h"
#include "mqbridge/job.h"
#include "mqbridge/mqtt.h"
#include "mqtt/client.h"

struct opts {
	const char *host;
	int port;
	int qos;
	int keepalive;
	int maxinflight; /* 0: mqbridge's default */
	const char *id;
};

struct fwd {
	struct mqb_core *core;
	struct opts o;
	bool ready;
	/* Statistics, touched only on the loop thread (as fwd_ref's are only
	 * on Paho's receive thread). */
	uint64_t forwarded, seqsum, pub_errors, bad_input;
};

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s -p PORT [-q QOS] [-k KEEPALIVE] [-i ID] [-m MAXINFLIGHT] [-H HOST]\n",
		prog);
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .host = "127.0.0.1", .keepalive = 30, .id = "bench_mqtt" };
	while ((c = getopt(argc, argv, "p:q:k:i:m:H:")) != -1) {
		switch (c) {
		case 'p': o->port = atoi(optarg); break;
		case 'q': o->qos = atoi(optarg); break;
		case 'k': o->keepalive = atoi(optarg); break;
		case 'i': o->id = optarg; break;
		case 'm': o->maxinflight = atoi(optarg); break;
		case 'H': o->host = optarg; break;
		default: usage(argv[0]);
		}
	}
	if (o->port <= 0 || o->qos < 0 || o->qos > 2)
		usage(argv[0]);
}

/* ---- the job: the same as bench/hosting/common.h ------------------------ */

/* Tiny scan for "seq":<digits>. Returns -1 if absent. */
static long job_scan_seq(const char *p, size_t n)
{
	static const char key[] = "\"seq\":";
	const size_t kl = sizeof key - 1;

	for (size_t i = 0; i + kl < n; i++) {
		if (p[i] == '"' && memcmp(p + i, key, kl) == 0) {
			long v = 0;
			size_t j = i + kl;

			while (j < n && p[j] >= '0' && p[j] <= '9')
				v = v * 10 + (p[j++] - '0');
			return v;
		}
	}
	return -1;
}

/* Builds "out/<k>" from "in/<k>" into out (size >= 64). Returns length or -1. */
static int job_out_topic(const char *topic, size_t tlen, char *out)
{
	if (tlen < 4 || tlen > 60 || memcmp(topic, "in/", 3) != 0)
		return -1;
	memcpy(out, "out/", 4);
	memcpy(out + 4, topic + 3, tlen - 3);
	out[tlen + 1] = '\0';
	return (int)tlen + 1;
}

/* CALLBACK on the loop thread: arg is the struct mqb_mqtt_message. */
static int on_message(void *ud, void *arg, void **result)
{
	struct fwd *f = ud;
	const struct mqb_mqtt_message *m = arg;
	const char *topic = mqb_mqtt_message_topic(m);
	const void *payload = mqb_mqtt_message_payload(m);
	size_t len = mqb_mqtt_message_len(m);
	char out[64];
	long seq = job_scan_seq(payload, len);

	if (seq < 0 || job_out_topic(topic, strlen(topic), out) < 0) {
		f->bad_input++;
		return 0;
	}
	f->seqsum += (uint64_t)seq;
	if (mqb_mqtt_async_publish(f->core, out, payload, len, f->o.qos, false, NULL) != 0)
		f->pub_errors++;
	else
		f->forwarded++;
	return 0;
}

/* CALLBACK after every connect, once in/+ is subscribed. */
static int on_connect(void *ud, void *arg, void **result)
{
	struct fwd *f = ud;

	if (!f->ready) {
		f->ready = true;
		printf("READY\n");
		fflush(stdout);
	}
	return 0;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	mqb_core_async_stop(w->data, 0);
}

static void print_stats(const struct fwd *f, const struct mqb_mqtt_stats *ms)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("STATS variant=mqb forwarded=%llu seqsum=%llu pub_errors=%llu bad_input=%llu disconnects=%llu "
	       "utime=%.3f stime=%.3f maxrss_kb=%ld nvcsw=%ld nivcsw=%ld "
	       "received=%llu dispatched=%llu published=%llu publish_failures=%llu queue_overflows=%llu\n",
	       (unsigned long long)f->forwarded, (unsigned long long)f->seqsum,
	       (unsigned long long)f->pub_errors, (unsigned long long)f->bad_input,
	       ms->reconnects, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss, ru.ru_nvcsw, ru.ru_nivcsw,
	       ms->received, ms->dispatched, ms->published, ms->publish_failures, ms->queue_overflows);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct fwd f = { 0 };
	struct mqtt_options mo;
	struct mqb_mqtt_stats ms = { 0 };
	sigset_t stopset, old;
	int rc;

	parse(argc, argv, &f.o);
	signal(SIGPIPE, SIG_IGN);
	/* The pool threads inherit a mask with the stop signals blocked, so
	 * they reach the loop thread's ev_signal. */
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stopset, &old);
	rc = mqb_core_new(NULL, &f.core);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		fprintf(stderr, "bench_mqtt: core: %s\n", strerror(-rc));
		return 1;
	}

	mqtt__options_init(&mo);
	mo.host = f.o.host;
	mo.port = f.o.port;
	mo.client_id = f.o.id;
	mo.keepalive = f.o.keepalive;
	mo.clean_session = true;
	if (f.o.maxinflight > 0)
		mo.max_inflight = (unsigned)f.o.maxinflight;
	if ((rc = mqtt__new(f.core, &mo)) != 0 ||
	    (rc = mqb_mqtt_async_on_connect(f.core, &MQB_CALLBACK(on_connect, &f))) != 0 ||
	    (rc = mqb_mqtt_async_subscribe(f.core, "in/+", f.o.qos, &MQB_CALLBACK(on_message, &f),
					   NULL)) != 0) {
		fprintf(stderr, "bench_mqtt: mqtt: %s\n", strerror(-rc));
		mqb_core_free(f.core);
		return 1;
	}

	struct ev_loop *loop = core__loop(f.core);
	ev_signal sigint, sigterm;
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	sigint.data = sigterm.data = f.core;
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);

	rc = mqb_core_run(f.core);

	mqb_mqtt_async_stats(f.core, &ms);
	print_stats(&f, &ms);
	ev_signal_stop(loop, &sigint);
	ev_signal_stop(loop, &sigterm);
	mqb_core_free(f.core);
	return rc;
}
