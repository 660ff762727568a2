/* SPDX-License-Identifier: MIT */
/* What the loop (core.c) offers the layers built on it, and no more: a core
 * with nothing of Home Assistant in it, and per-core slots, the one way a
 * module (the bus, the MQTT client, the entity registry, ...) hangs its
 * state off a core and hears of the core's start, stop and end. */
#ifndef MQB_CORE_LOOP_H
#define MQB_CORE_LOOP_H

#include "mqbridge/job.h"

#include <stddef.h>

struct mqb_core;
struct mqb_core_options;
struct ev_loop;

/* Room for this many slots; their numbers are given out in core/hass.h. */
#define CORE_SLOTS_MAX 16

/* What the loop calls for a filled slot; each may be NULL. */
struct core_slot_ops {
	/* mqb_core_run, before the loop starts: the slots in order. */
	void (*start)(struct mqb_core *core, void *state);
	/* The first stage of the shutdown, the slots in order: what it
	 * queues runs before anything is cancelled. */
	void (*stop)(struct mqb_core *core, void *state);
	/* mqb_core_free, once the loop has ended: the last slot first. The
	 * slot is empty when it returns. */
	void (*fini)(struct mqb_core *core, void *state);
};

/* The loop alone: mqb_core_new without Home Assistant's objects (hass.c
 * adds them). 0, -EINVAL, -ENOMEM. Thread: any; it becomes the loop's. */
int core__new(const struct mqb_core_options *opt, struct mqb_core **out);

/* The core's libev loop, for the daemon's own watchers (signals) and the
 * layers above that still use libev directly; modules have timer.h.
 * Thread: loop. */
struct ev_loop *core__loop(struct mqb_core *core);

/* Tests: move the wall clock the timers follow (mqb_async_call_at and
 * mqb_async_now, timer.c) by seconds, as a stepped system clock would.
 * Thread: loop. */
void timer__shift_wall(struct mqb_core *core, double seconds);
/* Tests: a fake clock. Time passes by seconds at once: every monotonic
 * timer has that much less to wait (those due fire in the next loop
 * iteration) and the wall clock moves as timer__shift_wall moves it.
 * mqb_async_sleep's own timers are not moved. Thread: loop. */
void timer__advance(struct mqb_core *core, double seconds);

/* An executor job the shutdown waits for instead of cancelling it, as
 * Home Assistant's final write waits for its stores: queued before the
 * pool closes (by a mqbridge_stop listener, say), it runs even though the
 * jobs queued around it are cancelled, and the shutdown waits for it as
 * for a running job, within its timeout. As mqb_async_add_job for an
 * EXECUTOR job: -EAGAIN (queue full), -ESHUTDOWN (the pool is closed),
 * -ENOMEM. Thread: loop. */
int core__async_add_final_job(struct mqb_core *core, const struct mqb_job *job, void *arg,
			      mqb_release_fn release, struct mqb_future **out);

/* Bytes left below the caller on the stack of the coroutine it runs in,
 * or SIZE_MAX outside one (a thread's own stack is megabytes). Code that
 * recurses on data (templates, a script's nested blocks, conditions)
 * refuses to go deeper when it would come near the end of a coroutine's
 * small stack, instead of crashing on its guard page. Thread: any. */
size_t coro__stack_left(void);

/* The state in slot id (NULL: empty). Thread: loop. */
void *core__slot(struct mqb_core *core, unsigned id);
/* Fill slot id, empty until now: the loop calls ops (static, not copied)
 * from here on and state belongs to the slot until ops->fini.
 * Thread: loop. */
void core__slot_set(struct mqb_core *core, unsigned id, void *state,
		    const struct core_slot_ops *ops);

#endif
