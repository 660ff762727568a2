/* SPDX-License-Identifier: MIT */
/* Coroutines: COROUTINE jobs run on their own stack on the loop thread and
 * suspend on a future without blocking the loop. Resumed only from the loop's
 * ready queue. Cancelled at shutdown: the pending await returns -ECANCELED. */
#ifndef MQBRIDGE_CORO_H
#define MQBRIDGE_CORO_H

#include <stdbool.h>

#include "mqbridge/future.h"

/* Suspend the running coroutine until f is settled; return f's status and put
 * its value (still owned by f) in *value if not NULL. A future already done
 * returns at once. -ECANCELED once the core is shutting down; -EPERM outside
 * a coroutine. The caller keeps its reference to f.
 * Thread: loop, inside a COROUTINE job. */
int mqb_await(struct mqb_future *f, void **value);

/* Thread: loop. True inside a COROUTINE job. */
bool mqb_in_coroutine(void);

/* A future settled (status 0) after seconds, on the loop's monotonic clock;
 * cancelled (-ECANCELED) at shutdown. NULL on ENOMEM or after shutdown began.
 * Thread: loop. */
struct mqb_future *mqb_async_sleep(struct mqb_core *core, double seconds);

/* mqb_await(mqb_async_sleep(core, seconds)): 0, or -ECANCELED at shutdown.
 * Thread: loop, inside a COROUTINE job. */
int mqb_async_sleep_await(struct mqb_core *core, double seconds);

#endif
