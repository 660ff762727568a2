/* SPDX-License-Identifier: MIT */
/* Test broker: mosquitto per test; see broker.h. Readiness and log lines are
 * waited for with bounds, polling the condition (not sleeping and hoping). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "broker.h"
#include "testutil.h"

int tu_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static bool accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

static void pause_briefly(void)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

void tu_broker_path(const struct tu_broker *b, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", b->dir, name);
}

/* extra with %PORT% replaced by the port. */
static void write_extra(const struct tu_broker *b, FILE *f)
{
	const char *p = b->extra, *q;
	while ((q = strstr(p, "%PORT%"))) {
		fprintf(f, "%.*s%d", (int)(q - p), p, b->port);
		p = q + 6;
	}
	fputs(p, f);
}

static bool launch(struct tu_broker *b)
{
	FILE *f = fopen(b->conf, "w");
	assert_non_null(f);
	fprintf(f,
		"listener %d 127.0.0.1\n"
		"allow_anonymous true\n"
		"set_tcp_nodelay true\n"
		"persistence false\n"
		/* Tests count every message: a slow client (sanitizers) must
		 * not have them dropped by the default 1000-message queue. */
		"max_queued_messages 0\n"
		"user root\n"
		"log_dest file %s\n"
		"log_type all\n",
		b->port, b->log);
	write_extra(b, f);
	fclose(f);
	b->pid = fork();
	assert_true(b->pid >= 0);
	if (b->pid == 0) {
		/* a test that crashes takes its broker and daemons with it,
		 * instead of leaving them to every later run */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execlp("mosquitto", "mosquitto", "-c", b->conf, (char *)NULL);
		_exit(127);
	}
	double end = tu_now() + TU_TIMEOUT;
	while (tu_now() < end) {
		if (accepts(b->port))
			return true;
		int status;
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			b->pid = 0;
			return false; /* it exited: most likely the port was taken */
		}
		pause_briefly();
	}
	tu_broker_dump_log(b);
	fail_msg("mosquitto did not accept connections on port %d", b->port);
	return false;
}

void tu_broker_start(struct tu_broker *b, const char *extra)
{
	memset(b, 0, sizeof *b);
	snprintf(b->dir, sizeof b->dir, "/tmp/mqb-broker-XXXXXX");
	assert_non_null(mkdtemp(b->dir));
	snprintf(b->conf, sizeof b->conf, "%s/mosquitto.conf", b->dir);
	snprintf(b->log, sizeof b->log, "%s/mosquitto.log", b->dir);
	snprintf(b->extra, sizeof b->extra, "%s", extra ? extra : "");
	/* Another program may take the port between our probe and the bind. */
	for (int tries = 0; tries < 5; tries++) {
		b->port = tu_free_port();
		if (launch(b))
			return;
	}
	tu_broker_dump_log(b);
	fail_msg("mosquitto would not start");
}

void tu_broker_restart(struct tu_broker *b)
{
	/* Same port: the client must find the broker where it was. */
	double end = tu_now() + TU_TIMEOUT;
	while (tu_now() < end) {
		if (launch(b))
			return;
		pause_briefly();
	}
	tu_broker_dump_log(b);
	fail_msg("mosquitto would not restart on port %d", b->port);
}

static void reap(struct tu_broker *b, int sig)
{
	if (b->pid <= 0)
		return;
	kill(b->pid, sig);
	double end = tu_now() + TU_TIMEOUT;
	int status;
	while (waitpid(b->pid, &status, WNOHANG) == 0) {
		if (tu_now() > end) {
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &status, 0);
			break;
		}
		pause_briefly();
	}
	b->pid = 0;
}

void tu_broker_kill(struct tu_broker *b)
{
	reap(b, SIGKILL);
}

void tu_broker_term(struct tu_broker *b)
{
	reap(b, SIGTERM);
}

void tu_broker_stop(struct tu_broker *b)
{
	reap(b, SIGTERM);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
	if (strncmp(b->dir, "/tmp/mqb-broker-", 16) == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", b->dir);
}

void tu_broker_dump_log(const struct tu_broker *b)
{
	FILE *f = fopen(b->log, "r");
	if (!f)
		return;
	fprintf(stderr, "---- mosquitto log (%s) ----\n", b->log);
	char line[512];
	while (fgets(line, sizeof line, f))
		fputs(line, stderr);
	fprintf(stderr, "---- end of mosquitto log ----\n");
	fclose(f);
}

int tu_broker_log_count(const struct tu_broker *b, const char *needle)
{
	FILE *f = fopen(b->log, "r");
	if (!f)
		return 0;
	int n = 0;
	char line[1024];
	while (fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

bool tu_broker_log_wait(const struct tu_broker *b, const char *needle, int count, double timeout)
{
	double end = tu_now() + timeout;
	do {
		if (tu_broker_log_count(b, needle) >= count)
			return true;
		pause_briefly();
	} while (tu_now() < end);
	return false;
}
