/* SPDX-License-Identifier: MIT */
/* The core's definition, shared by the dispatcher's own files (core, job,
 * future, coro, pool). Platforms see only the opaque handle. */
#ifndef MQB_CORE_IMPL_H
#define MQB_CORE_IMPL_H

#include "lib/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <ev.h>

#include "core/fiber.h"
#include "core/loop.h"
#include "mqbridge/job.h"

struct mqb_core;

/* One entry of the ready queue or the inbox: what to run, by value, so
 * queueing a job allocates nothing. */
struct call {
	void (*run)(struct mqb_core *core, struct call *c);
	struct mqb_job job;
	void *arg;
	mqb_release_fn release;
	struct mqb_future *fut;
};

/* A growable ring of calls. */
struct callq {
	struct call *v;
	size_t head, len, cap;
};

struct pool;
struct coro;
struct sleeper;
struct mqb_timer;

struct mqb_core {
	struct ev_loop *loop;
	_Atomic pthread_t loop_thread_a;
	struct mqb_core_options opt;

	/* Ready queue: loop thread only. The idle watcher is active exactly
	 * while the queue is not empty, so the loop does not block then. */
	struct callq ready, ready_spare;
	bool ready_running;     /* run_ready is walking a batch */
	ev_idle idle;

	/* Inbox: other threads push under the lock and wake the loop. */
	pthread_mutex_t inbox_lock;
	struct callq inbox, inbox_spare;
	bool inbox_closed;      /* under inbox_lock: the loop is gone */
	ev_async wake;

	atomic_bool stopping;   /* shutdown has begun: thread-safe calls refused */
	atomic_int stop_request; /* 0, or exit code + 1, from mqb_core_stop */
	int exit_code;
	int stage;              /* shutdown stage, see core.c */
	bool final_queued;      /* the last shutdown stage is on the ready queue */
	bool loop_done;         /* the final drain ran: nothing queued will run */
	ev_timer stage_timer;

	struct pool *pool;

	struct fiber_pool fibers;
	ev_idle stack_trim;     /* unmaps stacks cached past the bound, when idle */
	struct mqb_fiber loop_fiber;
	pthread_t loop_fiber_thread; /* the thread loop_fiber describes */
	bool loop_fiber_set;
	bool coros_cancelled;   /* shutdown cancelled them: new ones start cancelled */
	struct coro *coros;     /* every live coroutine, for cancellation */
	struct coro *coro_zombie; /* finished, its stack not yet taken back */
	struct coro **unchecked; /* awaited since the last coro__check_awaits */
	unsigned unchecked_n, unchecked_cap;
	unsigned coro_live;
	struct sleeper *sleepers;

	struct mqb_timer *timers; /* every timer not yet freed (timer.c) */
	bool timers_closed;     /* shutdown disarmed them: no new ones */
	double wall_shift;      /* what tests added to the wall clock */

	/* What the layers above hang off the core (core/loop.h) */
	void *slot[CORE_SLOTS_MAX];
	const struct core_slot_ops *slot_ops[CORE_SLOTS_MAX];

	unsigned long long stat_ready_run, stat_inbox_run, stat_coro_spawned;
	/* mqb_core_count's, from any thread */
	_Atomic unsigned long long counted[MQB_COUNT_MAX];
};

void callq__free(struct callq *q);

/* The core whose loop this thread is running (in mqb_core_run), if any. */
extern __thread struct mqb_core *core__running;

/* mqb_core_in_loop_thread, without a call while the loop runs. */
static inline bool core__in_loop(const struct mqb_core *core)
{
	return core == core__running || mqb_core_in_loop_thread(core);
}

struct call *core__ready_slot_slow(struct mqb_core *core);

/* A free slot at the tail of the ready queue, for the caller to fill at
 * once (the loop will run it); NULL on ENOMEM or once the loop is gone.
 * Loop only. */
static inline struct call *core__ready_slot(struct mqb_core *core)
{
	MQB_ASSERT_LOOP(core);
	struct callq *q = &core->ready;
	if (__builtin_expect(q->len == q->cap || core->loop_done, 0))
		return core__ready_slot_slow(core);
	/* The watcher stays active across run_ready's rounds, so most pushes
	 * find it started already. */
	if (q->len++ == 0 && !ev_is_active(&core->idle))
		ev_idle_start(core->loop, &core->idle);
	return &q->v[(q->head + q->len - 1) & (q->cap - 1)];
}
/* Push onto the ready queue and make sure the loop will run it. Loop only. */
int core__push_ready(struct mqb_core *core, const struct call *c);
/* Push onto the inbox from any thread. internal pushes (completions of work
 * the core started) are taken while stopping; others get -ESHUTDOWN. After
 * the loop is gone every push gets -ESHUTDOWN. */
int core__push_inbox(struct mqb_core *core, const struct call *c, bool internal);
/* From another thread: push c to the inbox (not internal), with a new
 * future in c->fut that *out shares when out is not NULL. */
int core__post(struct mqb_core *core, struct call *c, struct mqb_future **out);

/* Called by the pool when its in-flight count may have reached zero. */
void core__shutdown_progress(struct mqb_core *core);

/* job.c */
void job__release(const struct mqb_job *job, void *arg, mqb_release_fn release, int status,
		  void *result, struct mqb_future *fut);

/* coro.c. fut (may be NULL) is a reference the coroutine settles and drops;
 * on error it is not taken. */
int coro__spawn(struct mqb_core *core, const struct mqb_job *job, void *arg,
		mqb_release_fn release, struct mqb_future *fut);
void coro__cancel_all(struct mqb_core *core);
/* Take back the stack of a coroutine that has finished (coro_live counts it
 * until then). */
void coro__reap(struct mqb_core *core);
/* Coroutines run only from the ready queue and the inbox; at the end of each
 * run of either, before the loop may block, this makes sure no await made
 * in it missed a settlement by another thread (future__async_await). */
void coro__check_awaits(struct mqb_core *core);
void coro__init(struct mqb_core *core);
void coro__fini(struct mqb_core *core);

/* timer.c: disarm every timer, freeing those nobody holds a handle to
 * (the second stage of shutdown); free every timer left (the core is
 * being freed, its owners with it). */
void timer__close(struct mqb_core *core);
void timer__fini(struct mqb_core *core);

#endif
