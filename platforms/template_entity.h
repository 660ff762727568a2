/* SPDX-License-Identifier: MIT */
/* The template integration's entities as its two halves share them:
 * template.c makes and renders them (state-based ones on what they read),
 * template_trigger.c holds the trigger-based blocks (`template: -
 * trigger: ...`), whose entities render when the block fires, with the
 * variables the firing and its actions left. */
#ifndef MQB_PLATFORMS_TEMPLATE_ENTITY_H
#define MQB_PLATFORMS_TEMPLATE_ENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "mqbridge/config.h"
#include "mqbridge/platform.h"

enum kind {
	K_SENSOR, K_BINARY, K_SWITCH,
	/* the others, template_domains.c's */
	K_BUTTON, K_NUMBER, K_SELECT, K_LIGHT, K_COVER, K_FAN, K_LOCK, K_ALARM, K_VACUUM,
	K_UPDATE, K_WEATHER,
};
#define TPL_KINDS 14
extern const char *const tpl_domain_of[TPL_KINDS]; /* "sensor", ... */

struct tent;
struct tpl_block;

/* Check one modern entity of kind (its mapping at path), as a
 * state-based one is checked; returns the errors found. */
size_t tpl_check_entity(enum kind kind, const struct mqb_conf_node *node, const char *path,
			struct mqb_conf_errors *errs);
/* Add a trigger-based entity of block b to p: it renders only when the
 * block fires (tpl_render_fired), and is unknown and available until
 * then. unique_id is the block's (NULL: none), put before the entity's
 * own. *out gets the entity. 0 or a negative errno (logged with path).
 * Thread: loop. */
int tpl_add_fired(struct mqb_platform *p, enum kind kind, const struct mqb_conf_node *node,
		  const char *path, const char *unique_id, struct tpl_block *b, struct tent **out);
/* Render t with what a firing of its block left (run: trigger, the
 * block's variables, what its actions set), and write it: a template that
 * fails makes it unavailable until the next firing, as in Home Assistant.
 * Nothing for an entity that is going. Thread: loop. */
void tpl_render_fired(struct tent *t, const json_t *run);
const char *tpl_entity_id(const struct tent *t);
/* A trigger-based entity whose block goes: it leaves the block and is
 * removed (mqb_entity_async_remove). Thread: loop. */
void tpl_entity_remove(struct tent *t);

/* template_trigger.c: t goes (its block stops rendering it). */
void tpl_block_forget(struct tpl_block *b, struct tent *t);
/* The component: the trigger-based blocks of `template:`. */
extern const struct mqb_component tpl_component;

#endif
