/* Logging with levels and subsystem tags, printf-checked, safe from any
 * thread. The sink is stderr until configured otherwise. */
#ifndef MQBRIDGE_LOG_H
#define MQBRIDGE_LOG_H

#include <stdarg.h>

enum mqb_log_level { MQB_LOG_DEBUG, MQB_LOG_INFO, MQB_LOG_WARNING, MQB_LOG_ERROR };

/* Thread: any. */
void mqb_log(enum mqb_log_level level, const char *subsystem, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void mqb_vlog(enum mqb_log_level level, const char *subsystem, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Thread: any. Messages below level are dropped before formatting. */
void mqb_log_set_level(enum mqb_log_level level);
enum mqb_log_level mqb_log_get_level(void);
/* Thread: any. Parses "debug", "info", "warning", "error"; -EINVAL otherwise. */
int mqb_log_level_parse(const char *name, enum mqb_log_level *out);

/* A sink receives each formatted line (no newline). NULL restores stderr.
 * Thread: any; the sink may be called from any thread, one line at a time. */
typedef void (*mqb_log_sink_fn)(void *ud, enum mqb_log_level level, const char *subsystem,
				const char *line);
void mqb_log_set_sink(mqb_log_sink_fn sink, void *ud);

#define MQB_LOG_DEBUG(sub, ...) mqb_log(MQB_LOG_DEBUG, sub, __VA_ARGS__)
#define MQB_LOG_INFO(sub, ...) mqb_log(MQB_LOG_INFO, sub, __VA_ARGS__)
#define MQB_LOG_WARNING(sub, ...) mqb_log(MQB_LOG_WARNING, sub, __VA_ARGS__)
#define MQB_LOG_ERROR(sub, ...) mqb_log(MQB_LOG_ERROR, sub, __VA_ARGS__)

#endif
