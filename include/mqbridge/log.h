/* SPDX-License-Identifier: MIT */
/* Logging with levels and subsystem tags, printf-checked, safe from any
 * thread. Lines go to stderr until mqb_log_open chooses a file or syslog;
 * a sink set with mqb_log_set_sink takes precedence over both. */
#ifndef MQBRIDGE_LOG_H
#define MQBRIDGE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum mqb_log_level { MQB_LOG_DEBUG, MQB_LOG_INFO, MQB_LOG_WARNING, MQB_LOG_ERROR };

/* Thread: any. */
void mqb_log(enum mqb_log_level level, const char *subsystem, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void mqb_vlog(enum mqb_log_level level, const char *subsystem, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Thread: any. Messages below level are dropped before formatting. */
void mqb_log_set_level(enum mqb_log_level level);
enum mqb_log_level mqb_log_get_level(void);
/* A subsystem's own level ("mqtt" at debug while the rest is at
 * warning), as Home Assistant's logger: logs: sets one; up to 32
 * subsystems. 0, -EINVAL (no name, or longer than 31 bytes), -ENOSPC.
 * Thread: any, before other threads log (start-up); a level changed
 * later applies at once. */
int mqb_log_set_subsystem_level(const char *subsystem, enum mqb_log_level level);
/* Every subsystem back to the default level. Thread: as above. */
void mqb_log_clear_subsystem_levels(void);
/* Thread: any. Parses "debug", "info", "warning", "error"; -EINVAL otherwise. */
int mqb_log_level_parse(const char *name, enum mqb_log_level *out);

/* A sink receives each formatted line (no newline). NULL restores the
 * destination (stderr, or what mqb_log_open chose). Thread: any; the sink
 * may be called from any thread, one line at a time. */
typedef void (*mqb_log_sink_fn)(void *ud, enum mqb_log_level level, const char *subsystem,
				const char *line);
void mqb_log_set_sink(mqb_log_sink_fn sink, void *ud);

/* Choose where lines go: NULL for stderr, "syslog" for syslog(3) (ident
 * "mqbridge", LOG_PID, facility LOG_DAEMON; levels map to LOG_DEBUG,
 * LOG_INFO, LOG_WARNING, LOG_ERR), anything else is a file opened for
 * appending (created 0640, close-on-exec). 0, or -errno with the previous
 * destination still in place. Thread: any. */
int mqb_log_open(const char *dest);
/* Reopen the log file at its path (after rotation renamed it): lines
 * logged concurrently go to the old file or the new one, never nowhere.
 * 0 (also when the destination is not a file: nothing to do), or -errno
 * with the old file kept. Thread: any. */
int mqb_log_reopen(void);
/* True when lines go to a file (so SIGHUP has something to reopen).
 * Thread: any. */
bool mqb_log_is_file(void);
/* Back to stderr, closing the file or syslog. Thread: any. */
void mqb_log_close(void);

#define MQB_LOG_DEBUG(sub, ...) mqb_log(MQB_LOG_DEBUG, sub, __VA_ARGS__)
#define MQB_LOG_INFO(sub, ...) mqb_log(MQB_LOG_INFO, sub, __VA_ARGS__)
#define MQB_LOG_WARNING(sub, ...) mqb_log(MQB_LOG_WARNING, sub, __VA_ARGS__)
#define MQB_LOG_ERROR(sub, ...) mqb_log(MQB_LOG_ERROR, sub, __VA_ARGS__)

#endif
