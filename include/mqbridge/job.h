/* SPDX-License-Identifier: MIT */
/* Jobs: a handler handed to the core, with the kind its author declares (C
 * cannot look inside a function, so this plays Home Assistant's @callback).
 * The dispatcher runs each per its kind; see doc/dispatcher.md. */
#ifndef MQBRIDGE_JOB_H
#define MQBRIDGE_JOB_H

struct mqb_core;
struct mqb_future;

enum mqb_job_kind {
	MQB_JOB_CALLBACK = 1, /* loop thread, runs to completion, never blocks */
	MQB_JOB_COROUTINE,    /* loop thread, own stack, may mqb_await() */
	MQB_JOB_EXECUTOR,     /* thread pool, may block */
};

/* A job's function. arg is what the caller passed (a message, an event, a
 * service call). It returns 0 or a negative errno, which becomes the status of
 * the job's future; *result (NULL on entry) becomes its value, freed with the
 * job's result_free when the future goes away. */
typedef int (*mqb_job_fn)(void *ud, void *arg, void **result);

/* Releases a reference the core was handed along with an argument. */
typedef void (*mqb_release_fn)(void *p);

/* A job is a small value: copy it freely. The core never frees ud. */
struct mqb_job {
	enum mqb_job_kind kind;
	mqb_job_fn fn;
	void *ud;
	const char *name;          /* static string, for logs */
	mqb_release_fn result_free; /* may be NULL */
};

#define MQB_JOB(kind_, fn_, ud_) \
	((struct mqb_job){ .kind = (kind_), .fn = (fn_), .ud = (ud_), .name = #fn_ })
#define MQB_CALLBACK(fn_, ud_) MQB_JOB(MQB_JOB_CALLBACK, fn_, ud_)
#define MQB_COROUTINE(fn_, ud_) MQB_JOB(MQB_JOB_COROUTINE, fn_, ud_)
#define MQB_EXECUTOR(fn_, ud_) MQB_JOB(MQB_JOB_EXECUTOR, fn_, ud_)

/* Run a job now where its kind allows (DESIGN §2):
 *   CALLBACK  — called before this returns;
 *   COROUTINE — scheduled on the loop;
 *   EXECUTOR  — submitted to the pool.
 * arg_release (may be NULL) is called once with arg when the job is done with
 * it. If out is not NULL it receives a new reference to the job's future
 * (already done for a CALLBACK). On error nothing runs and the caller still
 * owns arg: -EAGAIN (pool queue full), -ESHUTDOWN, -ENOMEM.
 * Thread: loop. */
int mqb_async_run_job(struct mqb_core *core, const struct mqb_job *job, void *arg,
		      mqb_release_fn arg_release, struct mqb_future **out);

/* As mqb_async_run_job, but a CALLBACK is scheduled on the loop after what is
 * already queued instead of being called now. Thread: loop. */
int mqb_async_add_job(struct mqb_core *core, const struct mqb_job *job, void *arg,
		      mqb_release_fn arg_release, struct mqb_future **out);

/* mqb_async_add_job from any thread: hands the job to the loop and returns at
 * once. Errors seen on the loop (pool full) resolve the future.
 * Thread: any (on the loop thread it is mqb_async_add_job). */
int mqb_add_job(struct mqb_core *core, const struct mqb_job *job, void *arg,
		mqb_release_fn arg_release, struct mqb_future **out);

#endif
