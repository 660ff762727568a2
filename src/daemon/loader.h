/* SPDX-License-Identifier: MIT */
/* What main.c asks of the integration loader (src/platform.c) once the
 * configuration is checked: run every item's setup. */
#ifndef MQB_PLATFORM_IMPL_H
#define MQB_PLATFORM_IMPL_H

#include <stddef.h>

struct mqb_core;
struct conf_item;

/* Run the setup of every checked item (blocking ones in the pool, async
 * ones as coroutines); done(ud, failed) runs on the loop when all have
 * finished. items must outlive that. 0 or -ENOMEM. Thread: loop. */
int platforms__async_setup(struct mqb_core *core, struct conf_item *items, size_t n,
			   void (*done)(void *ud, size_t failed), void *ud);

#endif
