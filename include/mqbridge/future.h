/* SPDX-License-Identifier: MIT */
/* Futures: one-shot results, resolvable from any thread, awaitable in a
 * coroutine, blockable from other threads, chainable on the loop.
 * Reference-counted: every function returning one hands the caller a reference
 * to drop with mqb_future_unref. */
#ifndef MQBRIDGE_FUTURE_H
#define MQBRIDGE_FUTURE_H

#include <stdbool.h>

#include "mqbridge/job.h"

struct mqb_future;

/* Thread: any. A pending future bound to core's loop; NULL on ENOMEM. */
struct mqb_future *mqb_future_new(struct mqb_core *core);
/* Thread: any. */
struct mqb_future *mqb_future_ref(struct mqb_future *f);
/* Thread: any. Accepts NULL. */
void mqb_future_unref(struct mqb_future *f);

/* Thread: any. Settle f with status (0 or a negative errno) and value, whose
 * ownership passes to f (freed with value_free when f goes away). Wakes
 * blocked threads and queues continuations on the loop; nothing runs inside
 * this call. -EALREADY if f was already settled (value is not taken). */
int mqb_future_resolve(struct mqb_future *f, int status, void *value, mqb_release_fn value_free);
/* Thread: any. mqb_future_resolve(f, -ECANCELED, NULL, NULL). */
int mqb_future_cancel(struct mqb_future *f);

/* Thread: any. */
bool mqb_future_done(const struct mqb_future *f);
/* Thread: any. The status, or -EINPROGRESS while pending. */
int mqb_future_status(const struct mqb_future *f);
/* Thread: any. The value once done (owned by f), else NULL. */
void *mqb_future_value(const struct mqb_future *f);

typedef void (*mqb_future_done_fn)(struct mqb_future *f, void *ud);
/* Call cb(f, ud) on the loop once f is settled, through the loop's ready
 * queue (never inside the resolver, even when f is already done).
 * Continuations added before f settles run in the order added; one added
 * after may run before them if f was settled by another thread.
 * Thread: loop. */
int mqb_future_async_add_done(struct mqb_future *f, mqb_future_done_fn cb, void *ud);

/* Block until f is settled or timeout seconds pass (< 0: no limit). Returns
 * f's status, -ETIMEDOUT, or -EDEADLK at once on the loop thread (blocking
 * the loop could never end). *value (if not NULL) gets f's value.
 * Thread: any but the loop. */
int mqb_future_result(struct mqb_future *f, double timeout, void **value);

#endif
