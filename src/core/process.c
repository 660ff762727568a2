/* SPDX-License-Identifier: MIT */
/* The process's own figures (uptime, CPU, memory, descriptors) from
 * getrusage and /proc/self, as Prometheus' process collector reads them,
 * for the diagnostic sensor, the status dump and the metrics endpoint. */
#include "lib/internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mqbridge/core.h"
#include "mqbridge/coro.h"

/* The boot time, from /proc/stat's btime: start times in /proc/self/stat
 * count clock ticks from it. */
static double boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	double bt = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "btime %lf", &bt) == 1)
			break;
	if (f)
		fclose(f);
	return bt;
}

/* Field 22 of /proc/self/stat, after the command name in parentheses
 * (which may hold spaces and parentheses: the last ')' ends it). */
static int start_ticks(unsigned long long *out)
{
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "re");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	/* after ") ": state is field 3, starttime field 22 */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
			 "%*d %*d %*d %*d %llu", out) != 1)
		return -EINVAL;
	return 0;
}

int mqb_process_stats(struct mqb_process_stats *out)
{
	*out = (struct mqb_process_stats){0};
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		out->cpu_seconds = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
				   (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		out->max_fds = rl.rlim_cur == RLIM_INFINITY ? 0 : (unsigned)rl.rlim_cur;
	int rc = 0;
	long page = sysconf(_SC_PAGESIZE), hz = sysconf(_SC_CLK_TCK);
	unsigned long long vsz, rss, ticks;
	FILE *f = fopen("/proc/self/statm", "re");
	if (f && fscanf(f, "%llu %llu", &vsz, &rss) == 2) {
		out->virtual_bytes = vsz * (unsigned long long)page;
		out->rss_bytes = rss * (unsigned long long)page;
	} else {
		rc = f ? -EINVAL : -errno;
	}
	if (f)
		fclose(f);
	double bt = boot_time();
	if (bt > 0 && hz > 0 && start_ticks(&ticks) == 0) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		out->start_time = bt + (double)ticks / (double)hz;
		out->uptime = (double)now.tv_sec + now.tv_nsec / 1e9 - out->start_time;
		if (out->uptime < 0)
			out->uptime = 0;
	}
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			out->open_fds++;
	if (d) {
		closedir(d);
		out->open_fds--; /* the directory's own */
	}
	return rc;
}

static int read_stats(void *ud, void *arg, void **result)
{
	struct mqb_process_stats *s = mqb__malloc(sizeof *s);
	if (!s)
		return -ENOMEM;
	int rc = mqb_process_stats(s);
	*result = s;
	return rc;
}

int mqb_process_async_stats(struct mqb_core *core, struct mqb_process_stats *out)
{
	/* The figures come back as the job's value, not through out: a
	 * coroutine cancelled meanwhile has no stack left to write to. */
	struct mqb_job job = MQB_EXECUTOR(read_stats, NULL);
	job.result_free = mqb__free;
	struct mqb_future *f = NULL;
	void *v = NULL;
	int rc = mqb_async_add_job(core, &job, NULL, NULL, &f);
	if (rc == 0)
		rc = mqb_await(f, &v);
	if (v)
		*out = *(struct mqb_process_stats *)v;
	mqb_future_unref(f);
	return rc;
}
