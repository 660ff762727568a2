/* SPDX-License-Identifier: MIT */
/* bench/bridge/e2e_load.c - the end-to-end benchmark's load generator and
 * delivery counter (bench/run-bridge.sh): sensor payloads into in/<k>, states
 * back from out/#, counted by the temperature each message carries.
 *
 * Publishes N ~100-byte JSON payloads shaped like a Zigbee2MQTT sensor over
 * K topics in/<k> (-k, default 100) at QoS 0, either as fast as an
 * end-to-end window allows (-r 0: at most -w messages sent and not yet back;
 * the "as fast as the broker takes them" of issue 6) or at a fixed rate (-r R
 * msg/s, absolute deadlines). Message i carries
 *     "seq":i  (the reference forwarder needs it)  and
 *     "temperature": (BASE + i) / 100, two decimals (-b BASE),
 * so a rendered state ("123.4") identifies its message as well as the
 * whole payload forwarded by the reference does: the receiver takes the
 * number of a plain payload, or the "temperature" of a JSON one. Values
 * stay below a few thousand, the digit count of a real reading. Callers
 * give each load a BASE above the last one, so a sensor's state changes
 * with every message (mqbridge publishes only changes).
 *
 * The publisher writes raw MQTT 3.1.1 PUBLISH packets (batches of 32 at
 * full speed): the cheapest feeder, as the machine's cores are shared with
 * the broker and the bridge. The receiver is libmosquitto on its own
 * thread. Deliveries with the retain flag (states the broker replays on
 * subscribe), with a number outside this load (stale), or with no number
 * ("unknown", the bridge's own diagnostics) are counted apart.
 *
 * -P SECS: probe. One message every 100 ms (negative temperatures) until a
 * number comes back on the filter (exit 0, "probe ok ms=") or SECS pass
 * (exit 1): the bridge is subscribed and publishing.
 *
 * Output, one line: sent= delivered= lost= dup= secs= msgps= p50= p99=
 * p999= max= stale= other= retained=  (latencies in microseconds; msgps is
 * deliveries over first send .. last delivery).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32

static int port, ntopics = 100, drain_s = 3;
static long nmsg = 50000, window = 1000, base;
static double rate, max_secs = 120, probe_secs;
static const char *sub_filter = "out/#";

static _Atomic uint64_t *t_send; /* ns, per seq: written before the send */
static atomic_long sent, delivered;
static atomic_int subscribed, pub_waiting;
static pthread_mutex_t wmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcv = PTHREAD_COND_INITIALIZER;

/* Touched only by libmosquitto's thread until it is stopped. */
static uint8_t *seen;
static uint32_t *lat_us;
static long dups, stale, other, retained;
static uint64_t t_last_recv;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		p += w;
		n -= (size_t)w;
	}
}

static size_t put_len(uint8_t *b, size_t len)
{
	size_t i = 0;

	do {
		uint8_t d = len % 128;

		len /= 128;
		if (len)
			d |= 0x80;
		b[i++] = d;
	} while (len);
	return i;
}

static size_t put_str(uint8_t *b, const char *s, size_t n)
{
	b[0] = (uint8_t)(n >> 8);
	b[1] = (uint8_t)n;
	memcpy(b + 2, s, n);
	return n + 2;
}

/* The publisher: CONNECT (clean session, keepalive off: runs are bounded,
 * and a QoS 0 publisher then never hears from the broker again). */
static int pub_connect(const char *id)
{
	struct sockaddr_in sa;
	uint8_t b[128], ack[4];
	size_t n = 0, got = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		die("socket");
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	b[n++] = 0x10;
	n += put_len(b + n, 10 + 2 + strlen(id));
	n += put_str(b + n, "MQTT", 4);
	b[n++] = 4;    /* 3.1.1 */
	b[n++] = 0x02; /* clean session */
	b[n++] = 0;    /* keepalive 0 */
	b[n++] = 0;
	n += put_str(b + n, id, strlen(id));
	write_all(fd, b, n);
	while (got < sizeof ack) {
		ssize_t r = read(fd, ack + got, sizeof ack - got);

		if (r <= 0)
			die("read CONNACK");
		got += (size_t)r;
	}
	if (ack[0] != 0x20 || ack[3] != 0) {
		fprintf(stderr, "e2e_load: CONNACK refused (%u)\n", ack[3]);
		exit(1);
	}
	return fd;
}

static char (*topics)[16];

/* Appends the PUBLISH of message i to out at *n. Probe messages carry
 * negative temperatures, which no load uses. */
static void put_publish(uint8_t *out, size_t *n, long i, int probe)
{
	char pl[192];
	int k = (int)(i % ntopics), plen;
	long v = probe ? i + 1 : base + i;
	size_t tl = strlen(topics[k]);

	plen = snprintf(pl, sizeof pl,
			"{\"battery\":%d,\"humidity\":%d.%d,\"linkquality\":%d,\"pressure\":1013.%d,\"seq\":%ld,"
			"\"temperature\":%s%ld.%02ld,\"voltage\":2995}",
			90 + k % 10, 40 + k % 20, (int)(i % 10), 100 + k, k % 10, i, probe ? "-" : "", v / 100,
			v % 100);
	out[(*n)++] = 0x30;
	*n += put_len(out + *n, 2 + tl + (size_t)plen);
	*n += put_str(out + *n, topics[k], tl);
	memcpy(out + *n, pl, (size_t)plen);
	*n += (size_t)plen;
}

/* The number a delivery carries: the payload itself, or the value of its
 * "temperature" key when it is JSON. 0 and *out set, -1 if none. */
static int delivered_value(const char *p, size_t n, double *out)
{
	static const char key[] = "\"temperature\":";
	char buf[64], *end;
	size_t i, j;

	if (n > 0 && p[0] == '{') {
		const char *k = memmem(p, n, key, sizeof key - 1);

		if (!k)
			return -1;
		i = (size_t)(k - p) + sizeof key - 1;
		for (j = i; j < n && j - i < sizeof buf - 1 && p[j] != ',' && p[j] != '}'; j++)
			;
	} else {
		i = 0;
		j = n;
	}
	if (j == i || j - i >= sizeof buf)
		return -1;
	memcpy(buf, p + i, j - i);
	buf[j - i] = '\0';
	errno = 0;
	*out = strtod(buf, &end);
	if (end == buf || *end != '\0' || errno != 0 || !isfinite(*out))
		return -1;
	return 0;
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *m)
{
	uint64_t t = now_ns();
	double v;
	long seq, d;

	(void)mosq;
	(void)ud;
	if (m->retain) {
		retained++;
		return;
	}
	if (delivered_value(m->payload, m->payloadlen > 0 ? (size_t)m->payloadlen : 0, &v) != 0) {
		other++;
		return;
	}
	if (probe_secs > 0) {
		atomic_fetch_add(&delivered, 1);
		return;
	}
	seq = (long)llround(v * 100) - base;
	if (seq < 0 || seq >= nmsg) {
		stale++;
		return;
	}
	if (seen[seq]) {
		dups++;
		return;
	}
	seen[seq] = 1;
	d = atomic_load(&delivered);
	{
		uint64_t ts = atomic_load_explicit(&t_send[seq], memory_order_relaxed);
		uint64_t us = t > ts ? (t - ts) / 1000 : 0;

		lat_us[d] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	}
	t_last_recv = t;
	atomic_store(&delivered, d + 1);
	if (atomic_load(&pub_waiting) && atomic_load(&sent) - (d + 1) <= window / 2) {
		pthread_mutex_lock(&wmu);
		pthread_cond_signal(&wcv);
		pthread_mutex_unlock(&wmu);
	}
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int n, const int *granted)
{
	(void)mosq;
	(void)ud;
	(void)mid;
	atomic_store(&subscribed, n > 0 && granted[0] <= 2 ? 1 : -1);
}

static void on_connect(struct mosquitto *mosq, void *ud, int rc)
{
	(void)ud;
	if (rc != 0 || mosquitto_subscribe(mosq, NULL, sub_filter, 0) != MOSQ_ERR_SUCCESS)
		atomic_store(&subscribed, -1);
}

/* Waits while the window is full; gives up after a second without progress
 * (the missing messages then count as lost). */
static void wait_window(long i)
{
	uint64_t stall_from = 0;

	while (i - atomic_load(&delivered) >= window) {
		struct timespec ts;
		long before = atomic_load(&delivered);

		pthread_mutex_lock(&wmu);
		atomic_store(&pub_waiting, 1);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (i - atomic_load(&delivered) >= window)
			pthread_cond_timedwait(&wcv, &wmu, &ts);
		atomic_store(&pub_waiting, 0);
		pthread_mutex_unlock(&wmu);
		if (atomic_load(&delivered) == before) {
			if (!stall_from)
				stall_from = now_ns();
			else if (now_ns() - stall_from > 1000000000u)
				return;
		} else {
			stall_from = 0;
		}
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t pct(const uint32_t *v, long n, double p)
{
	return n > 0 ? v[(long)(p * (double)(n - 1) + 0.5)] : 0;
}

static int probe(int fd, uint8_t *out)
{
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; (double)(now_ns() - t0) / 1e9 < probe_secs; i++) {
		struct timespec d = { 0, 100 * 1000 * 1000 };
		size_t n = 0;

		put_publish(out, &n, i, 1);
		write_all(fd, out, n);
		nanosleep(&d, NULL);
		if (atomic_load(&delivered) > 0) {
			printf("probe ok ms=%.0f sent=%ld\n", (double)(now_ns() - t0) / 1e6, i + 1);
			return 0;
		}
	}
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: e2e_load -p PORT [-n N] [-r RATE|0] [-w WINDOW] [-b BASE] [-k TOPICS]\n"
			"                [-s SUB_FILTER] [-d DRAIN_S] [-t MAX_SECS] [-P PROBE_SECS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct mosquitto *sub;
	char id[64];
	uint8_t *out;
	uint64_t period = 0, t0, t_first = 0;
	size_t n = 0;
	long i, nsent = 0, d;
	double secs;
	int c, fd, rc = 0;

	while ((c = getopt(argc, argv, "p:n:r:w:b:k:s:d:t:P:")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'n': nmsg = atol(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'w': window = atol(optarg); break;
		case 'b': base = atol(optarg); break;
		case 'k': ntopics = atoi(optarg); break;
		case 's': sub_filter = optarg; break;
		case 'd': drain_s = atoi(optarg); break;
		case 't': max_secs = atof(optarg); break;
		case 'P': probe_secs = atof(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || port > 65535 || nmsg <= 0 || window <= 0 || base < 0 || ntopics < 1 ||
	    ntopics > 100000 || rate < 0)
		usage();
	if (probe_secs > 0)
		nmsg = 1;
	seen = calloc((size_t)nmsg, 1);
	lat_us = calloc((size_t)nmsg, sizeof *lat_us);
	t_send = calloc((size_t)nmsg, sizeof *t_send);
	topics = calloc((size_t)ntopics, sizeof *topics);
	out = malloc(BATCH * 256);
	if (!seen || !lat_us || !t_send || !topics || !out)
		die("calloc");
	for (c = 0; c < ntopics; c++)
		snprintf(topics[c], sizeof topics[c], "in/%d", c);

	mosquitto_lib_init();
	snprintf(id, sizeof id, "e2e-sub-%ld", (long)getpid());
	sub = mosquitto_new(id, true, NULL);
	if (!sub)
		die("mosquitto_new");
	mosquitto_int_option(sub, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(sub, on_connect);
	mosquitto_subscribe_callback_set(sub, on_subscribe);
	mosquitto_message_callback_set(sub, on_message);
	if (mosquitto_connect(sub, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS ||
	    mosquitto_loop_start(sub) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "e2e_load: cannot connect to 127.0.0.1:%d\n", port);
		return 1;
	}
	for (i = 0; i < 500 && atomic_load(&subscribed) == 0; i++) {
		struct timespec d10 = { 0, 10 * 1000 * 1000 };

		nanosleep(&d10, NULL);
	}
	if (atomic_load(&subscribed) != 1) {
		fprintf(stderr, "e2e_load: no SUBACK for %s\n", sub_filter);
		return 1;
	}
	snprintf(id, sizeof id, "e2e-pub-%ld", (long)getpid());
	fd = pub_connect(id);

	if (probe_secs > 0) {
		rc = probe(fd, out);
		goto stop;
	}
	if (rate > 0)
		period = (uint64_t)(1e9 / rate);
	t0 = t_first = now_ns();
	for (i = 0; i < nmsg; i++) {
		uint64_t ts;

		if (rate > 0) {
			uint64_t dl = t0 + (uint64_t)i * period;
			struct timespec dt = { (time_t)(dl / 1000000000u), (long)(dl % 1000000000u) };

			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dt, NULL) == EINTR)
				;
		}
		if (i - atomic_load(&delivered) >= window) {
			if (n) {
				write_all(fd, out, n);
				n = 0;
			}
			wait_window(i);
		}
		ts = now_ns();
		if (max_secs > 0 && (double)(ts - t0) / 1e9 >= max_secs)
			break;
		atomic_store_explicit(&t_send[i], ts, memory_order_relaxed);
		put_publish(out, &n, i, 0);
		atomic_store(&sent, i + 1);
		if (rate > 0 || (i + 1) % BATCH == 0 || i + 1 == nmsg) {
			write_all(fd, out, n);
			n = 0;
		}
	}
	if (n)
		write_all(fd, out, n);
	nsent = atomic_load(&sent);
	{
		uint64_t end = now_ns() + (uint64_t)drain_s * 1000000000u;

		while (atomic_load(&delivered) < nsent && now_ns() < end) {
			struct timespec d2 = { 0, 2 * 1000 * 1000 };

			nanosleep(&d2, NULL);
		}
	}
stop:
	mosquitto_disconnect(sub);
	mosquitto_loop_stop(sub, false);
	mosquitto_destroy(sub);
	mosquitto_lib_cleanup();
	close(fd);
	if (probe_secs > 0) {
		if (rc)
			printf("probe failed: nothing back on %s after %.1f s (other=%ld retained=%ld)\n",
			       sub_filter, probe_secs, other, retained);
		return rc;
	}

	d = atomic_load(&delivered);
	secs = t_last_recv > t_first ? (double)(t_last_recv - t_first) / 1e9 : 0;
	qsort(lat_us, (size_t)d, sizeof *lat_us, cmp_u32);
	printf("sent=%ld delivered=%ld lost=%ld dup=%ld secs=%.3f msgps=%.0f p50=%u p99=%u p999=%u max=%u "
	       "stale=%ld other=%ld retained=%ld\n",
	       nsent, d, nsent - d, dups, secs, secs > 0 ? (double)d / secs : 0, pct(lat_us, d, 0.50),
	       pct(lat_us, d, 0.99), pct(lat_us, d, 0.999), d ? lat_us[d - 1] : 0, stale, other, retained);
	return 0;
}
