/* SPDX-License-Identifier: MIT */
/* Components' integrations (integration.c), for the loader that makes
 * them. */
#ifndef MQB_HA_INTEGRATION_H
#define MQB_HA_INTEGRATION_H

struct mqb_core;
struct mqb_integration;
struct mqb_platform_desc;

/* The integration of desc in core, made on first use and kept with the
 * core. NULL on ENOMEM. Thread: loop. */
struct mqb_integration *integration__async_new(struct mqb_core *core,
					       const struct mqb_platform_desc *desc);

#endif
