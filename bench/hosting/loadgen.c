/* SPDX-License-Identifier: MIT */
/* loadgen.c - MQTT 3.1.1 load generator on raw sockets (no library).
 *
 * Publishes N messages over K topics in/<k> (-k, default 100) at QoS q,
 * either as fast as an end-to-end window allows (-r 0) or at a fixed rate
 * (-r R msg/s, paced with clock_nanosleep to absolute deadlines).  Each
 * payload is a ~100-byte JSON object carrying a sequence number, the
 * CLOCK_MONOTONIC send time in µs (small enough to survive a round trip
 * through a double) and a per-run nonce.  A second connection
 * subscribes out/# (-s FILTER; same QoS) and measures delivered, lost,
 * duplicated, msg/s and latency percentiles.  TCP_NODELAY on both.
 * Bounded: stops after N messages or -t seconds of sending (default 120),
 * plus a drain timeout (-d seconds).
 *
 * What comes back may be the payload itself or JSON re-serialised by the
 * bridge under test: "seq", "ts" and "run" are found wherever they are, with
 * or without blanks after the colon.  Deliveries with the retain flag (old
 * states the broker replays on subscribe) and those of another run (a
 * nonce that is not ours) are counted apart and otherwise ignored.
 *
 * -P SECS: probe mode.  Publishes one message every 100 ms until one comes
 * back (exit 0, "probe ok ms=") or SECS pass (exit 1): tells that a bridge
 * is subscribed and publishing, whatever it is written in.
 *
 * Output (one line): sent= delivered= lost= dup= secs= msgps= p50= p99=
 *   p999= max= bad= stale= retained= (latencies in microseconds)
 *
 * Build: gcc -O2 -Wall -Wextra -pthread -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_TOPICS 10000

static int port, qos, drain_s = 3, ntopics = 100;
static double max_secs = 120; /* -t: stop sending after this long (0 = no limit) */
static double probe_secs;     /* -P: probe mode */
static const char *sub_filter = "out/#";
static unsigned run_id;       /* nonce: "run" in every payload of this run */
static long nmsg = 50000, window = 1000;
static double rate;

static atomic_long delivered;       /* unique deliveries */
static atomic_long dups;
static atomic_long sent;
static atomic_int pub_done, sub_stop;
static uint8_t *seen;               /* one byte per seq */
static uint32_t *lat_us;            /* latency per unique delivery */
static uint64_t t_first_send, t_last_recv;
static long bad_payload, stale, retained;

static pthread_mutex_t wmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcv = PTHREAD_COND_INITIALIZER;
static atomic_int pub_waiting;

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
			if (errno == EAGAIN) {
				struct pollfd pf = { fd, POLLOUT, 0 };

				poll(&pf, 1, 100);
				continue;
			}
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

/* Buffered packet reader. */
struct rd {
	int fd;
	uint8_t buf[1 << 16];
	size_t have, off;
};

/* Returns 1 and sets type/flags/body/blen when a whole packet is buffered;
 * 0 if more data is needed. */
static int rd_next(struct rd *r, int *type, int *flags, uint8_t **body, size_t *blen)
{
	size_t avail = r->have - r->off, i = 1, len = 0, mul = 1;
	uint8_t *p = r->buf + r->off;

	if (avail < 2)
		return 0;
	for (;;) {
		if (i >= avail)
			return 0;
		len += (p[i] & 127u) * mul;
		mul *= 128;
		if (!(p[i++] & 128u))
			break;
		if (i > 4)
			die("bad remaining length");
	}
	if (avail < i + len)
		return 0;
	*type = p[0] >> 4;
	*flags = p[0] & 15;
	*body = p + i;
	*blen = len;
	r->off += i + len;
	return 1;
}

/* Reads more; returns bytes read, 0 on EAGAIN, exits on EOF/error. */
static ssize_t rd_fill(struct rd *r)
{
	ssize_t n;

	if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, r->have - r->off);
		r->have -= r->off;
		r->off = 0;
	}
	n = read(r->fd, r->buf + r->have, sizeof r->buf - r->have);
	if (n == 0) {
		fprintf(stderr, "loadgen: broker closed connection\n");
		exit(1);
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		die("read");
	}
	r->have += (size_t)n;
	return n;
}

static int mqtt_connect(const char *id)
{
	struct sockaddr_in sa;
	uint8_t b[128];
	size_t n = 0, vl;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct rd *r;
	int type, flags;
	uint8_t *body;
	size_t blen;

	if (fd < 0)
		die("socket");
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	vl = 10 + 2 + strlen(id);
	b[n++] = 0x10;
	n += put_len(b + n, vl);
	n += put_str(b + n, "MQTT", 4);
	b[n++] = 4;          /* 3.1.1 */
	b[n++] = 0x02;       /* clean session */
	b[n++] = 0;          /* keepalive 0: off (runs are bounded) */
	b[n++] = 0;
	n += put_str(b + n, id, strlen(id));
	write_all(fd, b, n);
	r = calloc(1, sizeof *r);
	r->fd = fd;
	while (!rd_next(r, &type, &flags, &body, &blen))
		rd_fill(r);
	if (type != 2 || blen != 2 || body[1] != 0) {
		fprintf(stderr, "loadgen: CONNACK refused\n");
		exit(1);
	}
	free(r);
	return fd;
}

static void mqtt_subscribe(int fd, struct rd *r, const char *filter)
{
	uint8_t b[128];
	size_t n = 0, fl = strlen(filter);
	int type, flags;
	uint8_t *body;
	size_t blen;

	b[n++] = 0x82;
	n += put_len(b + n, 2 + 2 + fl + 1);
	b[n++] = 0;
	b[n++] = 1;
	n += put_str(b + n, filter, fl);
	b[n++] = (uint8_t)qos;
	write_all(fd, b, n);
	for (;;) {
		while (!rd_next(r, &type, &flags, &body, &blen))
			rd_fill(r);
		if (type == 9)
			break;
	}
}

/* The number after "key" (quotes included in key) and a colon, blanks
 * allowed around the colon; -1 if absent or not a number. */
static long scan_num(const uint8_t *p, size_t n, const char *key)
{
	size_t kl = strlen(key), i;

	for (i = 0; i + kl < n; i++)
		if (p[i] == '"' && memcmp(p + i, key, kl) == 0) {
			long v = 0;
			size_t j = i + kl;

			while (j < n && p[j] == ' ')
				j++;
			if (j >= n || p[j] != ':')
				continue;
			j++;
			while (j < n && p[j] == ' ')
				j++;
			if (j >= n || p[j] < '0' || p[j] > '9')
				return -1;
			while (j < n && p[j] >= '0' && p[j] <= '9')
				v = v * 10 + (p[j++] - '0');
			return v;
		}
	return -1;
}

static void *sub_main(void *arg)
{
	struct rd *r = arg;
	uint8_t acks[4096];

	while (!atomic_load(&sub_stop)) {
		struct pollfd pf = { r->fd, POLLIN, 0 };
		int type, flags;
		uint8_t *body;
		size_t blen, na = 0;
		long got = 0;

		if (poll(&pf, 1, 50) <= 0)
			continue;
		if (rd_fill(r) <= 0)
			continue;
		while (rd_next(r, &type, &flags, &body, &blen)) {
			uint64_t t = now_ns();
			size_t tl, off;
			long seq, ts;

			if (type != 3)
				continue;
			tl = ((size_t)body[0] << 8) | body[1];
			off = 2 + tl;
			if ((flags >> 1) & 3) {
				if (na + 4 > sizeof acks) {
					write_all(r->fd, acks, na);
					na = 0;
				}
				acks[na++] = 0x40;
				acks[na++] = 2;
				acks[na++] = body[off];
				acks[na++] = body[off + 1];
				off += 2;
			}
			if (flags & 1) {
				retained++;
				continue;
			}
			seq = scan_num(body + off, blen - off, "\"seq\"");
			ts = scan_num(body + off, blen - off, "\"ts\"");
			if (seq < 0 || seq >= nmsg || ts < 0) {
				bad_payload++;
				continue;
			}
			if (scan_num(body + off, blen - off, "\"run\"") != (long)run_id) {
				stale++;
				continue;
			}
			if (seen[seq]) {
				atomic_fetch_add(&dups, 1);
				continue;
			}
			seen[seq] = 1;
			{
				long idx = atomic_load(&delivered) + got;
				uint64_t tu = t / 1000, d = tu > (uint64_t)ts ? tu - (uint64_t)ts : 0;

				lat_us[idx] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
			}
			got++;
			t_last_recv = t;
		}
		if (na)
			write_all(r->fd, acks, na);
		if (got) {
			long d = atomic_fetch_add(&delivered, got) + got;

			if (atomic_load(&pub_waiting) && atomic_load(&sent) - d <= window / 2) {
				pthread_mutex_lock(&wmu);
				pthread_cond_signal(&wcv);
				pthread_mutex_unlock(&wmu);
			}
		}
	}
	return NULL;
}

/* Reads PUBACKs on the publisher connection without blocking. */
static void drain_pubacks(struct rd *r)
{
	int type, flags;
	uint8_t *body;
	size_t blen;

	while (rd_fill(r) > 0)
		while (rd_next(r, &type, &flags, &body, &blen))
			;
}

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
				return; /* losses: give up waiting, they count as lost */
		} else
			stall_from = 0;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t pct(const uint32_t *v, long n, double p)
{
	long i;

	if (n <= 0)
		return 0;
	i = (long)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static char (*topics)[16];

/* Appends one PUBLISH of message i (topic in/<i mod K>) to out at *n. */
static void put_publish(uint8_t *out, size_t *n, long i, uint64_t ts)
{
	char pl[192];
	int k = (int)(i % ntopics), plen;
	size_t tl = strlen(topics[k]), rl;

	plen = snprintf(pl, sizeof pl,
			"{\"seq\":%ld,\"ts\":%llu,\"run\":%u,\"k\":%d,\"src\":\"loadgen\",\"v\":%ld.5,\"pad\":\"",
			i, (unsigned long long)(ts / 1000), run_id, k, i % 1000);
	while (plen < 96)
		pl[plen++] = 'x';
	pl[plen++] = '"';
	pl[plen++] = '}';
	rl = 2 + tl + (qos ? 2 : 0) + (size_t)plen;
	out[(*n)++] = (uint8_t)(0x30 | (qos << 1));
	*n += put_len(out + *n, rl);
	*n += put_str(out + *n, topics[k], tl);
	if (qos) {
		uint16_t id = (uint16_t)(i % 65535 + 1);

		out[(*n)++] = (uint8_t)(id >> 8);
		out[(*n)++] = (uint8_t)id;
	}
	memcpy(out + *n, pl, (size_t)plen);
	*n += (size_t)plen;
}

/* -P: one message every 100 ms until one comes back. */
static int probe(int pfd, struct rd *pr, uint8_t *out)
{
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < nmsg; i++) {
		size_t n = 0;
		struct timespec d = { 0, 100 * 1000 * 1000 };

		if (atomic_load(&delivered) > 0) {
			printf("probe ok ms=%.0f sent=%ld\n", (double)(now_ns() - t0) / 1e6, i);
			return 0;
		}
		if ((double)(now_ns() - t0) / 1e9 >= probe_secs)
			break;
		put_publish(out, &n, i, now_ns());
		atomic_store(&sent, i + 1);
		write_all(pfd, out, n);
		nanosleep(&d, NULL);
		if (qos)
			drain_pubacks(pr);
	}
	return 1;
}

int main(int argc, char **argv)
{
	int c, pfd, sfd, rc;
	struct rd *sr, *pr;
	pthread_t th;
	uint8_t *out;
	size_t cap = 64 * 256, n = 0;
	const size_t batch = 32;
	uint64_t period = 0, t0;
	long i, lost, nsent;
	double secs;
	struct timespec rt;

	while ((c = getopt(argc, argv, "p:q:n:r:w:d:t:k:s:P:")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'q': qos = atoi(optarg); break;
		case 'n': nmsg = atol(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'w': window = atol(optarg); break;
		case 'd': drain_s = atoi(optarg); break;
		case 't': max_secs = atof(optarg); break;
		case 'k': ntopics = atoi(optarg); break;
		case 's': sub_filter = optarg; break;
		case 'P': probe_secs = atof(optarg); break;
		default:
			fprintf(stderr, "usage: loadgen -p PORT [-q QOS] [-n N] [-r RATE|0] [-w WINDOW] [-d DRAIN_S] [-t MAX_SECS]\n"
				"               [-k TOPICS] [-s SUB_FILTER] [-P PROBE_SECS]\n");
			return 2;
		}
	}
	if (port <= 0 || qos < 0 || qos > 1 || nmsg <= 0 || ntopics < 1 || ntopics > MAX_TOPICS ||
	    strlen(sub_filter) > 100)
		return 2;
	if (probe_secs > 0)
		nmsg = 1000000;
	clock_gettime(CLOCK_REALTIME, &rt);
	run_id = ((unsigned)rt.tv_nsec ^ ((unsigned)getpid() << 16) ^ (unsigned)rt.tv_sec) % 1000000000u;
	seen = calloc((size_t)nmsg, 1);
	lat_us = calloc((size_t)nmsg, sizeof *lat_us);
	topics = calloc((size_t)ntopics, sizeof *topics);
	if (!seen || !lat_us || !topics)
		die("calloc");
	for (c = 0; c < ntopics; c++)
		snprintf(topics[c], sizeof topics[c], "in/%d", c);

	sfd = mqtt_connect(probe_secs > 0 ? "loadgen-probe-sub" : "loadgen-sub");
	sr = calloc(1, sizeof *sr);
	sr->fd = sfd;
	mqtt_subscribe(sfd, sr, sub_filter);
	pfd = mqtt_connect(probe_secs > 0 ? "loadgen-probe-pub" : "loadgen-pub");
	pr = calloc(1, sizeof *pr);
	pr->fd = pfd;
	if (pthread_create(&th, NULL, sub_main, sr) != 0)
		die("pthread_create");
	/* non-blocking reads of PUBACKs on the publisher connection */
	if (fcntl(pfd, F_SETFL, fcntl(pfd, F_GETFL) | O_NONBLOCK) != 0)
		die("fcntl");

	out = malloc(cap);
	if (probe_secs > 0) {
		rc = probe(pfd, pr, out);
		atomic_store(&sub_stop, 1);
		pthread_join(th, NULL);
		if (rc)
			printf("probe failed: nothing back on %s after %.1f s (bad=%ld stale=%ld retained=%ld)\n",
			       sub_filter, probe_secs, bad_payload, stale, retained);
		close(pfd);
		close(sfd);
		return rc;
	}
	if (rate > 0)
		period = (uint64_t)(1e9 / rate);
	t0 = now_ns();
	t_first_send = t0;
	for (i = 0; i < nmsg; i++) {
		uint64_t ts;

		if (rate > 0) {
			uint64_t dl = t0 + (uint64_t)i * period;
			struct timespec d = { (time_t)(dl / 1000000000u), (long)(dl % 1000000000u) };

			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL) == EINTR)
				;
		}
		if (i - atomic_load(&delivered) >= window) {
			if (n) {
				write_all(pfd, out, n);
				n = 0;
			}
			wait_window(i);
		}
		ts = now_ns();
		if (max_secs > 0 && (double)(ts - t0) / 1e9 >= max_secs) {
			if (n) {
				write_all(pfd, out, n);
				n = 0;
			}
			break;
		}
		put_publish(out, &n, i, ts);
		atomic_store(&sent, i + 1);
		if (rate > 0 || (size_t)(i + 1) % batch == 0 || i + 1 == nmsg) {
			write_all(pfd, out, n);
			n = 0;
			if (qos)
				drain_pubacks(pr);
		}
	}
	atomic_store(&pub_done, 1);
	nsent = atomic_load(&sent);
	{
		uint64_t end = now_ns() + (uint64_t)drain_s * 1000000000u;

		while (atomic_load(&delivered) < nsent && now_ns() < end) {
			struct timespec d = { 0, 2 * 1000 * 1000 };

			nanosleep(&d, NULL);
			if (qos)
				drain_pubacks(pr);
		}
	}
	atomic_store(&sub_stop, 1);
	pthread_join(th, NULL);

	{
		long d = atomic_load(&delivered);

		lost = nsent - d;
		secs = t_last_recv > t_first_send ? (double)(t_last_recv - t_first_send) / 1e9 : 0;
		qsort(lat_us, (size_t)d, sizeof *lat_us, cmp_u32);
		printf("sent=%ld delivered=%ld lost=%ld dup=%ld secs=%.3f msgps=%.0f p50=%u p99=%u p999=%u max=%u "
		       "bad=%ld stale=%ld retained=%ld\n",
		       nsent, d, lost, atomic_load(&dups), secs, secs > 0 ? (double)d / secs : 0,
		       pct(lat_us, d, 0.50), pct(lat_us, d, 0.99), pct(lat_us, d, 0.999),
		       d ? lat_us[d - 1] : 0, bad_payload, stale, retained);
	}
	close(pfd);
	close(sfd);
	return 0;
}
