/* SPDX-License-Identifier: MIT */
/* Components' integrations (integration.c), for the loader that makes
 * them and the daemon that reloads them. */
#ifndef MQB_HA_INTEGRATION_H
#define MQB_HA_INTEGRATION_H

struct mqb_core;
struct mqb_integration;
struct mqb_platform_desc;

/* The integration of desc in core, made on first use and kept with the
 * core. NULL on ENOMEM. Thread: loop. */
struct mqb_integration *integration__async_new(struct mqb_core *core,
					       const struct mqb_platform_desc *desc);

/* Who reads the configuration again for mqb_integration_async_reload:
 * it starts the reload of in and settles f (its own reference) when the
 * component has its new block or it failed, then calls
 * integration__async_reload_done. 0, or an error (f untouched). */
struct mqb_future;
typedef int (*integration_reload_fn)(void *ud, struct mqb_integration *in, struct mqb_future *f);
/* Set it, once, for core. 0 or -ENOMEM. Thread: loop. */
int integration__async_set_reload(struct mqb_core *core, integration_reload_fn fn, void *ud);
void integration__async_reload_done(struct mqb_integration *in);
/* The module of in. Thread: any. */
const struct mqb_platform_desc *integration__desc(const struct mqb_integration *in);
/* Keep owner (what the new block points into) with in, freeing what
 * was kept before. Thread: loop. */
void integration__async_adopt(struct mqb_integration *in, void *owner, void (*owner_free)(void *));

#endif
