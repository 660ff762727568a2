/* SPDX-License-Identifier: MIT */
/* Helpers of the fault-injection drivers (faults.h): /proc readings and
 * the figures checked against their limits. */
#include "config.h"

#include <dirent.h>
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
	if (!(value <= max))
		fail_msg("%s: %.3f %s is over its limit of %.3f", name, value, unit, max);
}

void fa_figure_min(const char *name, double value, double min, const char *unit)
{
	printf("FIGURE %s %.3f %s (limit >= %.3f)\n", name, value, unit, min);
	fflush(stdout);
	if (!(value >= min))
		fail_msg("%s: %.3f %s is under its limit of %.3f", name, value, unit, min);
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
