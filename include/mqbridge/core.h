/* SPDX-License-Identifier: MIT */
/* The core: one libev loop on one thread owning bus, states and services, a
 * ready queue ("call soon"), an inbox other threads hand work to, and the
 * executor pool. Shutdown runs in stages with bounded waits. */
#ifndef MQBRIDGE_CORE_H
#define MQBRIDGE_CORE_H

#include <stdbool.h>
#include <stddef.h>

#include "mqbridge/job.h"
#include "mqbridge/future.h"

struct mqb_core;

struct mqb_core_options {
	unsigned executor_threads;   /* pool threads (default 4) */
	unsigned executor_queue_max; /* jobs waiting for a thread before -EAGAIN (default 1024) */
	double slow_job_seconds;     /* an executor job running longer is logged by name (10) */
	size_t coro_stack_size;      /* usable bytes per coroutine stack (256 KiB; 128 on 32-bit) */
	unsigned coro_stack_cache;   /* stacks kept for reuse (64) */
	double shutdown_timeout;     /* bound on each shutdown stage, seconds (10) */
};

/* Thread: any. Fills in the defaults above. */
void mqb_core_options_init(struct mqb_core_options *opt);

/* Create a core with its own libev loop and start its pool. The calling
 * thread is the loop thread until mqb_core_run is called from another.
 * opt may be NULL for the defaults. 0, -EINVAL, -ENOMEM or -errno. */
int mqb_core_new(const struct mqb_core_options *opt, struct mqb_core **out);

/* Run the loop on the calling thread, which becomes the loop thread, until
 * shutdown completes. Fires mqbridge_start first. Returns the exit code
 * passed to mqb_core_async_stop. Thread: the one that will own the loop. */
int mqb_core_run(struct mqb_core *core);

/* Begin the staged shutdown: refuse new thread-safe calls (-ESHUTDOWN), fire
 * mqbridge_stop, cancel queued executor jobs (-ECANCELED), wait a bounded
 * time for running ones, cancel suspended coroutines and timers, drain the
 * ready queue, join the pool, leave the loop. Idempotent. Thread: loop. */
void mqb_core_async_stop(struct mqb_core *core, int exit_code);
/* Ask for mqb_core_async_stop from any thread (also async-signal-safe).
 * Thread: any. */
void mqb_core_stop(struct mqb_core *core, int exit_code);

/* Free a core that is not running (after mqb_core_run returned, or never
 * run: it is shut down first). Accepts NULL. Thread: the loop thread. */
void mqb_core_free(struct mqb_core *core);

/* Thread: any. */
bool mqb_core_in_loop_thread(const struct mqb_core *core);
/* Thread: any. True once shutdown has begun. */
bool mqb_core_is_stopping(const struct mqb_core *core);
/* Queue fn(arg) on the loop's ready queue, after what is already there.
 * Thread: loop. -ENOMEM, or -ESHUTDOWN once the loop is gone. */
int mqb_async_call_soon(struct mqb_core *core, void (*fn)(void *arg), void *arg);
/* The same from any thread: pushed to the inbox, the loop is woken.
 * Thread: any. */
int mqb_call_soon_threadsafe(struct mqb_core *core, void (*fn)(void *arg), void *arg);

/* Run fn(ud, arg, &result) on the loop and settle *out with what it returns
 * (the value has no destructor: the caller frees a result it asked for).
 * -EDEADLK on the loop thread itself (nothing runs), -ESHUTDOWN once shutdown
 * has begun, -ENOMEM. Calls still queued when the loop stops are settled with
 * -ECANCELED, so nobody blocks forever. Thread: any but the loop. */
int mqb_run_callback_threadsafe(struct mqb_core *core, mqb_job_fn fn, void *ud, void *arg,
				struct mqb_future **out);
/* mqb_run_callback_threadsafe, then mqb_future_result with no time limit;
 * returns fn's status. fn must leave *result NULL (nothing would free it):
 * pass results back through ud or arg. The blocking wrappers of the core
 * (mqb_states_set, …) are built on this. Thread: any but the loop. */
int mqb_call_threadsafe(struct mqb_core *core, mqb_job_fn fn, void *ud, void *arg);

/* Per-core storage for a module's state (Home Assistant's hass.data): what
 * a module shares between its entities lives with the core, not in a
 * process global. key is the module's own name ("template"), copied.
 * Thread: loop. The data stored under key, or NULL. */
void *mqb_core_async_data(struct mqb_core *core, const char *key);
/* Store data under key, replacing (and freeing) what was there; data NULL
 * removes the entry. data_free (may be NULL) is called with data when it
 * is replaced or removed, or when the core is freed: after every entity
 * (so entities may use the data until their own free) and before the MQTT
 * client, bus, states and timers go (so it may unsubscribe, unlisten and
 * cancel). 0, -EINVAL (no
 * key), -ENOMEM (nothing stored, data not freed). Thread: loop. */
int mqb_core_async_set_data(struct mqb_core *core, const char *key, void *data,
			    mqb_release_fn data_free);

struct mqb_core_stats {
	unsigned long long ready_run;          /* ready-queue entries run */
	unsigned long long inbox_run;          /* thread-safe calls taken from the inbox */
	unsigned long long executor_submitted;
	unsigned long long executor_rejected;  /* -EAGAIN: queue full */
	unsigned long long executor_completed;
	unsigned long long executor_cancelled;
	unsigned long long executor_slow;      /* jobs logged as slow */
	unsigned long long coro_spawned;
	unsigned long long coro_stack_mmaps;   /* stacks created (not reused) */
	unsigned coro_live;
	unsigned executor_queued;              /* waiting for a thread now */
	unsigned executor_running;             /* on a thread now */
};
/* Thread: loop. */
void mqb_core_async_stats(struct mqb_core *core, struct mqb_core_stats *out);

/* Failures the daemon counts for whoever looks (the bridge's diagnostic
 * sensor, the SIGUSR1 dump, Prometheus), beside the statistics above and
 * MQTT's. */
enum mqb_count {
	MQB_COUNT_COMMAND_FAILURES, /* a command exited non-zero, was killed or did not start */
	MQB_COUNT_COMMAND_TIMEOUTS, /* a command killed when its timeout ran out */
	MQB_COUNT_RENDER_ERRORS,    /* a template render that failed (core given) */
	MQB_COUNT_MAX
};
/* Add one. Thread: any. */
void mqb_core_count(struct mqb_core *core, enum mqb_count what);
/* Thread: any. */
unsigned long long mqb_core_counted(struct mqb_core *core, enum mqb_count what);

/* The process's own figures, with the names Prometheus' process
 * collector gives them. */
struct mqb_process_stats {
	double start_time;           /* Unix time the process started */
	double uptime;               /* seconds since */
	double cpu_seconds;          /* user and system time used */
	unsigned long long rss_bytes;     /* resident memory */
	unsigned long long virtual_bytes; /* address space */
	unsigned open_fds, max_fds;
};
/* 0, or -errno when /proc cannot be read (the CPU time is there
 * regardless). Thread: any but the loop: it reads /proc (an executor
 * job). */
int mqb_process_stats(struct mqb_process_stats *out);
/* mqb_process_stats read in the pool while the calling coroutine waits:
 * 0, -errno, or -ECANCELED at shutdown. Thread: loop, in a coroutine. */
int mqb_process_async_stats(struct mqb_core *core, struct mqb_process_stats *out);

#endif
