/* SPDX-License-Identifier: MIT */
/* bench/hosting/common.h - shared bits of the hosting-benchmark forwarders.
 *
 * Header-only (static functions) so every forwarder is one gcc command.
 * - options: -p port -q qos -k keepalive -i client-id [-m max-inflight]
 * - the job: find "seq": in the payload with a tiny scan, map in/<k> -> out/<k>
 * - find_peer_socket(): locate a library's socket by scanning /proc/self/fd
 *   and matching getpeername() against the broker address (Paho has no API)
 * - readiness line "READY" on stdout, statistics line at SIGTERM/SIGINT.
 */
#ifndef HOSTING_COMMON_H
#define HOSTING_COMMON_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct fwd_opts {
	int port;
	int qos;
	int keepalive;
	int maxinflight; /* variant-specific; 0 = library default */
	const char *id;
};

static inline void fwd_usage(const char *prog)
{
	fprintf(stderr, "usage: %s -p PORT [-q QOS] [-k KEEPALIVE] [-i ID] [-m MAXINFLIGHT]\n", prog);
	exit(2);
}

static inline void fwd_parse(int argc, char **argv, struct fwd_opts *o, const char *defid)
{
	int c;

	o->port = 0;
	o->qos = 0;
	o->keepalive = 30;
	o->maxinflight = 0;
	o->id = defid;
	while ((c = getopt(argc, argv, "p:q:k:i:m:")) != -1) {
		switch (c) {
		case 'p': o->port = atoi(optarg); break;
		case 'q': o->qos = atoi(optarg); break;
		case 'k': o->keepalive = atoi(optarg); break;
		case 'i': o->id = optarg; break;
		case 'm': o->maxinflight = atoi(optarg); break;
		default: fwd_usage(argv[0]);
		}
	}
	if (o->port <= 0 || o->qos < 0 || o->qos > 2)
		fwd_usage(argv[0]);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the job ----------------------------------------------------------- */

/* Statistics touched only by the thread that does the job. */
static uint64_t g_forwarded;
static uint64_t g_seqsum;      /* keeps the scan from being optimised away */
static uint64_t g_pub_errors;
static uint64_t g_bad_input;
static atomic_ulong g_disconnects;

/* Tiny scan for "seq":<digits>.  Returns -1 if absent. */
static inline long job_scan_seq(const char *p, size_t n)
{
	static const char key[] = "\"seq\":";
	const size_t kl = sizeof key - 1;
	size_t i;

	for (i = 0; i + kl < n; i++) {
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

/* Builds "out/<k>" from "in/<k>" into out (size >= 64).  Returns length or -1. */
static inline int job_out_topic(const char *topic, size_t tlen, char *out)
{
	if (tlen < 4 || tlen > 60 || memcmp(topic, "in/", 3) != 0)
		return -1;
	memcpy(out, "out/", 4);
	memcpy(out + 4, topic + 3, tlen - 3);
	out[tlen + 1] = '\0';
	return (int)tlen + 1;
}

/* Whole job: returns 0 and fills out topic when the message is to be forwarded. */
static inline int job_run(const char *topic, size_t tlen, const void *payload, size_t plen, char *out)
{
	long seq = job_scan_seq(payload, plen);

	if (seq < 0 || job_out_topic(topic, tlen, out) < 0) {
		g_bad_input++;
		return -1;
	}
	g_seqsum += (uint64_t)seq;
	return 0;
}

/* ---- socket discovery -------------------------------------------------- */

/* Returns the first fd of this process that is a TCP socket connected to
 * 127.0.0.1:port and is not in skip[0..nskip). -1 if none. */
static inline int find_peer_socket(int port, const int *skip, int nskip)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof sa;
		struct stat st;
		int fd, k, skipped = 0;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		fd = atoi(e->d_name);
		if (fd == dirfd(d) || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
			continue;
		for (k = 0; k < nskip; k++)
			if (skip[k] == fd)
				skipped = 1;
		if (skipped)
			continue;
		if (getpeername(fd, (struct sockaddr *)&sa, &sl) != 0 || sa.sin_family != AF_INET)
			continue;
		if (ntohs(sa.sin_port) == port && sa.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
			found = fd;
			break;
		}
	}
	closedir(d);
	return found;
}

static inline int set_nodelay(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- lifecycle --------------------------------------------------------- */

static volatile sig_atomic_t g_stop;

static inline void on_stop_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static inline void install_stop_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Threaded variants: block SIGTERM/SIGINT before any library thread exists
 * (threads inherit the mask), then take them in one thread with sigwait()
 * or unblock them in the loop thread only. */
static inline void block_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static inline void say_ready(int fd)
{
	printf("READY fd=%d\n", fd);
	fflush(stdout);
}

static inline void print_stats(const char *variant)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("STATS variant=%s forwarded=%llu seqsum=%llu pub_errors=%llu bad_input=%llu disconnects=%lu "
	       "utime=%.3f stime=%.3f maxrss_kb=%ld nvcsw=%ld nivcsw=%ld\n",
	       variant, (unsigned long long)g_forwarded, (unsigned long long)g_seqsum,
	       (unsigned long long)g_pub_errors, (unsigned long long)g_bad_input,
	       (unsigned long)atomic_load(&g_disconnects),
	       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	       ru.ru_maxrss, ru.ru_nvcsw, ru.ru_nivcsw);
	fflush(stdout);
}

#endif
