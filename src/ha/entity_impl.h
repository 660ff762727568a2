/* SPDX-License-Identifier: MIT */
/* What the entity registry (entity.c) shares with the integration loader
 * and the bridge: the platforms (struct mqb_platform, one configured
 * integration x domain), an entity's description, and a slot per entity
 * for the bridge's bookkeeping. */
#ifndef MQB_ENTITY_IMPL_H
#define MQB_ENTITY_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "mqbridge/entity.h"
#include "mqbridge/platform.h"

/* What an entity was described with (entity.c owns the strings). */
struct entity_meta {
	const char *name, *unique_id, *icon, *device_class, *state_class, *unit, *category;
	const json_t *discovery; /* never NULL; owned */
};

/* Create the registry on core. node_id is copied. Thread: loop. */
int entities__init(struct mqb_core *core, const char *node_id);
/* Where the configuration file is (for mqb_platform_config_dir); copied.
 * Thread: loop, before the platforms are set up. */
int entities__set_config_dir(struct mqb_core *core, const char *dir);
/* The bridge's device name (mqb_platform_node_name); copied.
 * Thread: loop, before the platforms are set up. */
int entities__set_node_name(struct mqb_core *core, const char *name);
/* The node id and the configuration's directory the registry was given.
 * Thread: any (set before the platforms are). */
const char *entities__node_id(struct mqb_core *core);
const char *entities__config_dir(struct mqb_core *core);
/* A platform for (desc, dom), made once per pair; owned by the registry.
 * NULL on ENOMEM. Thread: loop. */
struct mqb_platform *entities__platform(struct mqb_core *core, const struct mqb_platform_desc *desc,
					const struct mqb_platform_domain *dom);
/* A platform of its own for one configuration item of (desc, dom), as
 * Home Assistant's EntityPlatform is per configuration: its entities are
 * the item's, to be removed with it. Updates at once are still counted
 * per (desc, dom), with the pair's other items. The item holds it until
 * entities__async_remove_items; release(ud) runs once it and every
 * entity added through it are gone (or with the registry), so what the
 * entities point into may go then. NULL on ENOMEM. Thread: loop. */
struct mqb_platform *entities__async_item_platform(struct mqb_core *core,
						   const struct mqb_platform_desc *desc,
						   const struct mqb_platform_domain *dom,
						   void (*release)(void *ud), void *ud);
/* The items of these platforms are gone from the configuration: their
 * entities are removed as mqb_entity_async_remove removes one (the
 * bridge clears what it announced), in one pass however many, and the
 * items let go of their platforms. Thread: loop. */
void entities__async_remove_items(struct mqb_core *core, struct mqb_platform *const *v, size_t n);
/* Start polling: every polled entity updates now, then each
 * scan_interval. Thread: loop. */
void entities__async_start(struct mqb_core *core);
/* How many entities have an update running or waiting for a slot (what
 * mqbridge --test waits for). Thread: loop. */
size_t entities__async_updating(struct mqb_core *core);

const struct entity_meta *entity__meta(const struct mqb_entity *e);
/* Whether every write of its state counts as a change (force_update). */
bool entity__force_update(const struct mqb_entity *e);
/* Seconds between its updates; 0: it does not poll. */
double entity__scan_interval(const struct mqb_entity *e);
bool entity__controllable(const struct mqb_entity *e);
/* The bridge's own per-entity data (NULL until it sets it; it frees it). */
void **entity__bridge_slot(struct mqb_entity *e);

/* Call fn for every entity just added (the bridge announces them when
 * connected); one function, set by the bridge. Thread: loop. */
void entities__on_added(struct mqb_core *core, void (*fn)(void *ud, struct mqb_entity *e),
			void *ud);

/* Call fn when an entity is removed (mqb_entity_async_remove), before its
 * state goes, with its index in the registry's order (the entities after
 * it move down by one); one function, set by the bridge. Thread: loop. */
void entities__on_removed(struct mqb_core *core,
			  void (*fn)(void *ud, struct mqb_entity *e, size_t index), void *ud);

#endif
