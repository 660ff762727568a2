/* SPDX-License-Identifier: MIT */
/* Helpers of the fault-injection drivers (faults.h): /proc readings and
 * the figures checked against their limits. */
#include "config.h"

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mosquitto.h>

#include "daemon.h"
#include "testutil.h"
#include "faults.h"

struct td FA;
static bool live;

void fa_begin(const char *broker_extra, const char *yaml)
{
	/* Under an emulator (tools/cross-check.sh) the limits on time mean
	 * nothing and the wrappers (prlimit, ip netns exec) are the host's. */
	const char *w = getenv("MQB_TEST_WRAPPER");
	if (w && *w) {
		print_message("SKIP: the fault suite runs on native builds only\n");
		skip();
	}
	td_init(&FA, broker_extra);
	live = true;
	if (yaml)
		td_write_config(&FA, yaml);
}

int fa_teardown(void **state)
{
	(void)state;
	if (live)
		td_fini(&FA);
	live = false;
	return 0;
}

static long status_field(pid_t pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long v = -1;
	size_t n = strlen(field);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

long fa_rss_kib(pid_t pid)
{
	return status_field(pid, "VmRSS");
}

int fa_threads(pid_t pid)
{
	return (int)status_field(pid, "Threads");
}

int fa_fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

void fa_figure_max(const char *name, double value, double max, const char *unit)
{
	printf("FIGURE %s %.3f %s (limit <= %.3f)\n", name, value, unit, max);
	fflush(stdout);
	if (!(value <= max)) {
		if (live)
			td_dump(&FA);
		fail_msg("%s: %.3f %s is over its limit of %.3f", name, value, unit, max);
	}
}

void fa_figure_min(const char *name, double value, double min, const char *unit)
{
	printf("FIGURE %s %.3f %s (limit >= %.3f)\n", name, value, unit, min);
	fflush(stdout);
	if (!(value >= min)) {
		if (live)
			td_dump(&FA);
		fail_msg("%s: %.3f %s is under its limit of %.3f", name, value, unit, min);
	}
}

int fa_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return st < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool fa_root(void)
{
	return geteuid() == 0;
}

void fa_pub(struct td *t, const char *topic, const char *payload, int qos, bool retain)
{
	double end = tu_now() + TU_TIMEOUT;
	int rc;
	/* The watcher reconnects by itself after a broker restart. */
	while ((rc = mosquitto_publish(t->mosq, NULL, topic, (int)strlen(payload), payload, qos,
				       retain)) == MOSQ_ERR_NO_CONN &&
	       tu_now() < end)
		usleep(10 * 1000);
	if (rc != MOSQ_ERR_SUCCESS)
		fail_msg("cannot publish to %s: %s", topic, mosquitto_strerror(rc));
}

struct fa_seq {
	struct mosquitto *mosq;
	pthread_mutex_t m;
	char topic[128];
	int n;
	unsigned char *seen;
};

static void seq_message(struct mosquitto *mq, void *ud, const struct mosquitto_message *msg)
{
	(void)mq;
	struct fa_seq *c = ud;
	if (strcmp(msg->topic, c->topic) != 0 || msg->payloadlen <= 0 || msg->payloadlen > 15)
		return;
	char buf[16];
	memcpy(buf, msg->payload, (size_t)msg->payloadlen);
	buf[msg->payloadlen] = 0;
	char *end;
	long v = strtol(buf, &end, 10);
	pthread_mutex_lock(&c->m);
	if (*end == 0 && v >= 0 && v < c->n && c->seen[v] < 255)
		c->seen[v]++;
	pthread_mutex_unlock(&c->m);
}

static void seq_connect(struct mosquitto *mq, void *ud, int rc)
{
	struct fa_seq *c = ud;
	if (rc == 0)
		mosquitto_subscribe(mq, NULL, c->topic, 1);
}

struct fa_seq *fa_seq_start(int port, const char *topic, int n)
{
	struct fa_seq *c = calloc(1, sizeof *c);
	assert_non_null(c);
	c->seen = calloc((size_t)n, 1);
	assert_non_null(c->seen);
	c->n = n;
	snprintf(c->topic, sizeof c->topic, "%s", topic);
	pthread_mutex_init(&c->m, NULL);
	mosquitto_lib_init();
	char id[64];
	snprintf(id, sizeof id, "fa-seq-%ld", (long)getpid());
	c->mosq = mosquitto_new(id, false, c);
	assert_non_null(c->mosq);
	mosquitto_message_callback_set(c->mosq, seq_message);
	mosquitto_connect_callback_set(c->mosq, seq_connect);
	mosquitto_reconnect_delay_set(c->mosq, 1, 1, false);
	assert_int_equal(mosquitto_connect(c->mosq, "127.0.0.1", port, 30), MOSQ_ERR_SUCCESS);
	assert_int_equal(mosquitto_loop_start(c->mosq), MOSQ_ERR_SUCCESS);
	return c;
}

int fa_seq_first_missing(struct fa_seq *c, int upto)
{
	int first = -1;
	pthread_mutex_lock(&c->m);
	for (int i = 0; i < upto && i < c->n && first < 0; i++)
		if (!c->seen[i])
			first = i;
	pthread_mutex_unlock(&c->m);
	return first;
}

int fa_seq_missing(struct fa_seq *c, int upto)
{
	int missing = 0;
	pthread_mutex_lock(&c->m);
	for (int i = 0; i < upto && i < c->n; i++)
		missing += !c->seen[i];
	pthread_mutex_unlock(&c->m);
	return missing;
}

void fa_seq_stop(struct fa_seq *c)
{
	if (!c)
		return;
	mosquitto_disconnect(c->mosq);
	mosquitto_loop_stop(c->mosq, false);
	mosquitto_destroy(c->mosq);
	pthread_mutex_destroy(&c->m);
	free(c->seen);
	free(c);
}

