/* Future internals the coroutine code needs. */
#ifndef MQB_FUTURE_IMPL_H
#define MQB_FUTURE_IMPL_H

#include <stdbool.h>

#include "mqbridge/future.h"

/* Take back a continuation added with mqb_future_async_add_done while f is
 * still pending; false if f has settled (the continuation is then queued). */
bool future__remove_done(struct mqb_future *f, mqb_future_done_fn cb, void *ud);

#endif
