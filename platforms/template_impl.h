/* SPDX-License-Identifier: MIT */
/* The template integration's entity, as template.c (the common part:
 * rendering, dependencies, the entity's life) and template_domains.c (the
 * domains beyond sensor, binary_sensor and switch: light, cover, fan,
 * lock, ...) share it. */
#ifndef MQB_PLATFORMS_TEMPLATE_IMPL_H
#define MQB_PLATFORMS_TEMPLATE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "mqbridge/config.h"
#include "mqbridge/entity.h"
#include "mqbridge/script.h"
#include "mqbridge/template.h"
#include "mqbridge/timer.h"

#include "template_deps.h"
#include "template_entity.h"

/* A domain's own options, by slot: templates beside the state, actions,
 * lists; and its booleans and numbers. */
#define TPL_SLOTS 24
struct tpl_conf {
	const struct mqb_conf_node *x[TPL_SLOTS];
	bool b[4];
	double n[2];
	const char *s[6];
};

/* ---- configuration ------------------------------------------------------- */

/* One configuration item: a modern entity (template: - sensor: [...]) or a
 * legacy platform item (sensor: - platform: template, sensors: {...}); both
 * layouts reach the same domain, so one table holds the keys of both and
 * check() tells them apart. */
struct item_conf {
	const char *name, *unique_id, *unit, *device_class, *state_class;
	const char *object_id, *default_entity_id;
	const struct mqb_conf_node *state, *icon, *picture, *availability;
	const struct mqb_conf_node *attributes, *turn_on, *turn_off, *variables;
	const struct mqb_conf_node *delay_on, *delay_off, *auto_off;
	bool optimistic;
	const struct mqb_conf_node *sensors, *switches; /* legacy */
	const struct mqb_conf_node *legacy; /* the other domains' legacy mapping ("lights") */
	struct tpl_conf k;                  /* the other domains' own options */
};

/* One entity under a legacy `sensors:`/`switches:` mapping. */
struct legacy_conf {
	const char *friendly_name, *unit, *device_class, *unique_id;
	const struct mqb_conf_node *value_template, *icon_template, *entity_picture_template;
	const struct mqb_conf_node *availability_template, *attribute_templates, *entity_id;
	const struct mqb_conf_node *turn_on, *turn_off;
	const struct mqb_conf_node *delay_on, *delay_off;
	struct tpl_conf k;                  /* the other domains' own options */
};

#define IC(f) .offset = offsetof(struct item_conf, f), .stored = true
#define COMMON_KEYS                                                                        \
	{.key = "name", .type = MQB_S_STRING, IC(name),                                    \
	 .doc = "friendly name; the entity id is its slug"},                               \
	{.key = "unique_id", .type = MQB_S_STRING, IC(unique_id),                          \
	 .doc = "unique id in discovery"},                                                 \
	{.key = "default_entity_id", .type = MQB_S_STRING, IC(default_entity_id),          \
	 .doc = "the entity id to use (domain.object_id) instead of the name's slug"},     \
	{.key = "object_id", .type = MQB_S_STRING, IC(object_id),                          \
	 .doc = "the object id to use instead of the name's slug (older spelling)"},       \
	{.key = "icon", .type = MQB_S_TEMPLATE, IC(icon),                                  \
	 .doc = "icon (mdi:...), a template"},                                             \
	{.key = "picture", .type = MQB_S_TEMPLATE, IC(picture),                            \
	 .doc = "entity picture URL, a template"},                                         \
	{.key = "availability", .type = MQB_S_TEMPLATE, IC(availability),                  \
	 .doc = "template: the entity is available while it renders true"},                \
	{.key = "attributes", .type = MQB_S_ANY, IC(attributes),                           \
	 .doc = "mapping of attribute names to templates"},                                \
	{.key = "variables", .type = MQB_S_ANY, IC(variables),                             \
	 .doc = "mapping of names to values every template of the entity sees"}

#define LC(f) .offset = offsetof(struct legacy_conf, f), .stored = true
#define LEGACY_COMMON                                                                      \
	{.key = "friendly_name", .type = MQB_S_STRING, LC(friendly_name),                  \
	 .doc = "name shown (default: the object id)"},                                    \
	{.key = "unique_id", .type = MQB_S_STRING, LC(unique_id), .doc = "unique id"},      \
	{.key = "icon_template", .type = MQB_S_TEMPLATE, LC(icon_template),                \
	 .doc = "template of the icon"},                                                   \
	{.key = "entity_picture_template", .type = MQB_S_TEMPLATE,                         \
	 LC(entity_picture_template), .doc = "template of the entity picture"},            \
	{.key = "availability_template", .type = MQB_S_TEMPLATE,                           \
	 LC(availability_template), .doc = "template: available while it renders true"},   \
	{.key = "attribute_templates", .type = MQB_S_ANY, LC(attribute_templates),         \
	 .doc = "mapping of attribute names to templates"},                                \
	{.key = "entity_id", .type = MQB_S_ANY, LC(entity_id),                             \
	 .doc = "ignored, as in Home Assistant (dependencies are found by rendering)"}

struct tent;
struct mqb_listener;
struct mqb_timer;
struct mqb_platform_domain;

/* What a slot holds. */
enum tpl_slot { TS_NONE, TS_TEMPLATE, TS_ACTION, TS_LIST };

/* One of the other domains. */
struct tpl_kind {
	const char *domain;
	const char *default_name;           /* "Template Light" */
	const struct mqb_schema *schema;    /* the modern layout's options */
	const struct mqb_schema *legacy;    /* a legacy entity's; NULL: none */
	const char *legacy_key;             /* "lights"; NULL: the item is the entity */
	const char *state_key;              /* "state"; NULL: none */
	const char *legacy_state_key;       /* "value_template" */
	bool state_required;
	const enum tpl_slot *slots;         /* TPL_SLOTS of them */
	const char *const *names;           /* each slot's option (modern) */
	/* what Home Assistant's schema says beyond each key: one of two
	 * actions, a list's items */
	void (*check)(const struct tpl_conf *c, const struct mqb_conf_node *node, const char *path,
		      struct mqb_conf_errors *errs);
	/* at add: the domain's own state (t->priv), the description's keys */
	int (*init)(struct tent *t, struct mqb_entity_info *info);
	/* a render: the state template's result (NULL: none, or it failed)
	 * and the slots' in t->vals */
	void (*render)(struct tent *t, const char *state, size_t len);
	/* the domain's attributes into attrs (a render, an optimistic
	 * command) */
	void (*attributes)(struct tent *t, json_t *attrs);
	/* the discovery's keys (supported colour modes, features, ...) */
	int (*discovery)(struct tent *t, json_t *d);
	/* a service call: a COROUTINE */
	int (*command)(struct tent *t, const char *service, const json_t *data);
	void (*free)(struct tent *t);
};

extern const struct tpl_kind *const tpl_kinds[TPL_KINDS]; /* NULL for the first three */
/* Each kind's modern options, by kind (the first three's are template.c's). */
extern const struct mqb_schema tpl_kind_schemas[TPL_KINDS];

/* What all template entities of one core share: the dependency index, the
 * state_changed listener, the queue of entities to render and the minute
 * timer of now(). Kept with the core (mqb_core_async_data), which frees it
 * after the entities. */
struct hub {
	struct mqb_core *core;
	struct tdeps *deps;
	struct mqb_listener *changed, *start;
	struct tent *ents;            /* every entity, for start and the minute */
	struct tent *dirty, **dirty_tail;
	bool flush_queued;
	struct mqb_timer *minute;     /* while an entity calls now() */
	unsigned now_users;
	double tick;                  /* 60, or the test hook's */
};

struct attr {
	char *key;
	struct mqb_template *t;
	bool failed;
};

/* An optional template beside the state: availability, icon, picture. */
struct side {
	struct mqb_template *t;
	const char *option;
	bool failed;
};

struct tent {
	struct hub *hub;
	struct mqb_entity *e;
	enum kind kind;
	const char *state_option;     /* "state" or "value_template", for logs */
	struct mqb_template *state;
	struct side avail, icon, picture;
	struct attr *attrs;
	size_t nattrs;
	json_t *variables;            /* NULL: none */
	json_t *attr_values;          /* the attributes as last rendered */
	struct tdeps_who who;
	struct tent *next;            /* hub->ents */
	struct tent *dirty_next;
	bool dirty, removed, uses_now;
	double rate;                  /* seconds between renders; 0: none */
	double last_render;           /* mqb_time_monotonic() */
	struct mqb_timer *rate_timer; /* NULL: no rate limit */
	/* binary_sensor: the delays, each fixed or a template rendered with
	 * the state (cv.positive_time_period_template) */
	double delay_on, delay_off, auto_off;
	struct side delay_on_t, delay_off_t, auto_off_t;
	int on;                       /* -1 unknown, 0, 1 */
	int last_result;              /* -2: none yet */
	int delayed;                  /* the state a running delay sets */
	struct mqb_timer *delay, *autooff; /* NULL: not configured */
	/* switch: turn_on and turn_off's scripts (NULL: none) */
	struct mqb_script *on_script, *off_script;
	bool optimistic;
	/* trigger-based: the block whose firings render it; NULL: state-based */
	struct tpl_block *block;
	/* the other domains (template_domains.c): their templates beside the
	 * state, as last rendered (NULL: none or failed), their actions, and
	 * what the domain keeps */
	const struct tpl_kind *k;
	struct side fields[TPL_SLOTS];
	char *vals[TPL_SLOTS];
	size_t lens[TPL_SLOTS];
	struct mqb_script *scripts[TPL_SLOTS];
	json_t *lists[TPL_SLOTS];     /* a slot given as a list (preset_modes) */
	struct tpl_conf conf;
	void *priv;
};

/* template.c for template_domains.c: */
/* Run the script of slot with the entity's variables, `this` and vars
 * (taken; may be NULL), and wait for it: 0, or its error (logged). An
 * absent script is 0. Thread: loop, COROUTINE. */
int tpl_run(struct tent *t, int slot, json_t *vars);
/* The entity's attributes again (the last render's, and the domain's),
 * and its state, written: after an optimistic command. Thread: loop. */
void tpl_publish(struct tent *t);
/* Set the state (NULL: unknown); written with the next write. */
void tpl_set_state(struct tent *t, const char *state);
/* Whether a template of the state, or of slot, is configured. */
bool tpl_has_state(const struct tent *t);
bool tpl_has(const struct tent *t, int slot);
/* A slot's rendered value, stripped; NULL when it has none. */
const char *tpl_val(const struct tent *t, int slot, size_t *len);
/* Log a value a template rendered that the domain refuses, once until
 * the template renders a good one again. */
void tpl_bad_value(struct tent *t, int slot, const char *why, const char *v, size_t len);

#endif
