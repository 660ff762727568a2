/* SPDX-License-Identifier: MIT */
/* Future internals the coroutine code needs: the struct (future.c says how
 * its fields are shared between threads), so that an await reads a status
 * without a call, and the await's own registration. */
#ifndef MQB_FUTURE_IMPL_H
#define MQB_FUTURE_IMPL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "mqbridge/future.h"

struct call;

/* A continuation: cb(f, ud) with a reference of its own; or, when run is
 * set, a coroutine's await: the call {run, .arg = ud, .job.ud = aux,
 * .fut = f} queued as itself, borrowing f (the awaiting coroutine holds
 * it). */
struct done {
	union {
		mqb_future_done_fn cb;
		void *aux;
	};
	void *ud;
	void (*run)(struct mqb_core *core, struct call *c);
};

#define CLAIMED (-EINPROGRESS - 1) /* a resolver is writing the value */
struct mqb_future {
	atomic_int refs;
	atomic_int status;      /* -EINPROGRESS or CLAIMED while pending */
	atomic_uint nwaiters;   /* threads blocked in mqb_future_result */
	atomic_bool has_done;   /* a continuation was added */
	atomic_bool dispatched; /* the list was handed to the loop */
	struct mqb_core *core;
	void *value;
	mqb_release_fn value_free;
	unsigned ndone, capdone; /* loop thread only, like the lists below */
	struct done one;        /* the common case: a single continuation */
	struct done *more;
	struct mqb_future *next_free; /* in a thread's cache */
};

/* mqb_future_done, _status and _value, inline. */
static inline bool future__done(const struct mqb_future *f)
{
	int st = atomic_load_explicit(&((struct mqb_future *)f)->status, memory_order_acquire);
	return st != -EINPROGRESS && st != CLAIMED;
}

static inline int future__status(const struct mqb_future *f)
{
	int st = atomic_load_explicit(&((struct mqb_future *)f)->status, memory_order_acquire);
	return st == CLAIMED ? -EINPROGRESS : st;
}

static inline void *future__value(const struct mqb_future *f)
{
	return future__done(f) ? f->value : NULL;
}

/* Cache freed futures on the calling thread (a loop thread), or stop and
 * free the cache (before the thread ends). */
void future__cache_enable(bool on);

/* A coroutine's await: once f is settled, the call {run, .arg = arg,
 * .job.ud = aux, .fut = f} is queued on the loop as itself (in order with
 * f's other continuations), without a reference to f: the caller holds f
 * until run has run or future__remove_await took it back, and run must not
 * dereference f unless it knows the caller still holds it.
 * Unlike mqb_future_async_add_done it does not order itself against a
 * resolver on another thread: before the loop may block, the caller must
 * issue atomic_thread_fence(memory_order_seq_cst) and then call
 * future__await_check(f) for every f still awaited (one fence serves any
 * number of awaits). Thread: loop. */
int future__async_await(struct mqb_future *f, void (*run)(struct mqb_core *core, struct call *c),
			void *arg, void *aux);
/* See future__async_await: after the fence, queue f's continuations if
 * another thread settled f without seeing them. f must still be held. */
void future__await_check(struct mqb_future *f);
/* Take back an await while f is still pending; false if f has settled (the
 * call is then queued). Thread: loop. */
bool future__remove_await(struct mqb_future *f, void (*run)(struct mqb_core *core, struct call *c),
			  void *arg);

#endif
