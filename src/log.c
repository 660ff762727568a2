/* Logging: one line per message, level and subsystem tag, timestamps, from
 * any thread. Lines are formatted into a stack buffer and written with one
 * write so threads never interleave inside a line. */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mqbridge/log.h"

static atomic_int min_level = MQB_LOG_INFO;
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static mqb_log_sink_fn sink;
static void *sink_ud;

static const char *const level_names[] = { "debug", "info", "warning", "error" };

void mqb_log_set_level(enum mqb_log_level level)
{
	atomic_store(&min_level, (int)level);
}

enum mqb_log_level mqb_log_get_level(void)
{
	return (enum mqb_log_level)atomic_load(&min_level);
}

int mqb_log_level_parse(const char *name, enum mqb_log_level *out)
{
	for (size_t i = 0; name && i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum mqb_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void mqb_log_set_sink(mqb_log_sink_fn fn, void *ud)
{
	pthread_mutex_lock(&sink_lock);
	sink = fn;
	sink_ud = ud;
	pthread_mutex_unlock(&sink_lock);
}

void mqb_vlog(enum mqb_log_level level, const char *subsystem, const char *fmt, va_list ap)
{
	if ((int)level < atomic_load_explicit(&min_level, memory_order_relaxed))
		return;
	char msg[1024];
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	if (n < 0)
		return;

	pthread_mutex_lock(&sink_lock);
	if (sink) {
		sink(sink_ud, level, subsystem, msg);
	} else {
		struct timespec ts;
		struct tm tm;
		char line[1200];
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		int len = snprintf(line, sizeof line,
				   "%04d-%02d-%02d %02d:%02d:%02d.%03ld %-7s [%s] %s%s\n",
				   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
				   tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level],
				   subsystem ? subsystem : "-", msg,
				   (size_t)n >= sizeof msg ? "…" : "");
		if (len > (int)sizeof line - 1)
			len = (int)sizeof line - 1;
		ssize_t w = write(STDERR_FILENO, line, (size_t)len);
		(void)w; /* nowhere left to report a failing stderr */
	}
	pthread_mutex_unlock(&sink_lock);
}

void mqb_log(enum mqb_log_level level, const char *subsystem, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mqb_vlog(level, subsystem, fmt, ap);
	va_end(ap);
}
