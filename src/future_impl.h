/* Future internals the coroutine code needs. */
#ifndef MQB_FUTURE_IMPL_H
#define MQB_FUTURE_IMPL_H

#include <stdbool.h>

#include "mqbridge/future.h"

/* Take back a continuation added with mqb_future_async_add_done while f is
 * still pending; false if f has settled (the continuation is then queued). */
bool future__remove_done(struct mqb_future *f, mqb_future_done_fn cb, void *ud);

/* Cache freed futures on the calling thread (a loop thread), or stop and
 * free the cache (before the thread ends). */
void future__cache_enable(bool on);

/* mqb_future_async_add_done for a caller that holds f until cb has run or
 * been removed, and whose cb never dereferences f (an await): the queued
 * call then takes no reference of its own. */
int future__async_add_done_borrowed(struct mqb_future *f, mqb_future_done_fn cb, void *ud);

#endif
