/* SPDX-License-Identifier: MIT */
/* Entities: what a platform adds and the bridge mirrors to MQTT. An entity
 * caches its state, attributes and availability (no property does I/O);
 * the platform changes them on the loop and writes them to the state
 * machine with mqb_entity_async_write, Home Assistant's async_write_ha_state. */
#ifndef MQBRIDGE_ENTITY_H
#define MQBRIDGE_ENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct mqb_core;
struct mqb_platform;

/* Owned by the core's entity registry from the moment it is added until
 * the core is freed; a platform keeps plain pointers to its own. */
struct mqb_entity;

/* What a blocking update found, handed from the pool back to the loop. */
struct mqb_entity_update {
	char *state;        /* malloc'd, taken by the core; NULL: unchanged */
	json_t *attributes; /* reference taken by the core; NULL: unchanged */
	int available;      /* 1, 0; -1 (the initial value): unchanged */
};

/* What an entity does, beyond holding values. Every member may be NULL. */
struct mqb_entity_ops {
	/* Blocking poll, run in the pool every scan_interval (at most
	 * parallel_updates of one platform at once). Fill u; it is applied and
	 * written on the loop when this returns 0. A negative errno keeps the
	 * old state (log why: the core logs only the code). Thread: pool. */
	int (*update)(void *priv, struct mqb_entity_update *u);
	/* The same as a coroutine on the loop (may mqb_await): set the values
	 * and write them itself. Thread: loop, in a COROUTINE. */
	int (*async_update)(struct mqb_entity *e, void *priv);
	/* Added to the registry, before its first write: subscribe, start
	 * timers. Thread: loop. */
	int (*async_added)(struct mqb_entity *e, void *priv);
	/* The core is stopping: stop timers and subscriptions. Thread: loop. */
	void (*async_will_remove)(struct mqb_entity *e, void *priv);
	/* A service call for this entity (switch.turn_on, light.turn_on with
	 * {"brightness": 128}, cover.open_cover, number.set_value {"value": 3},
	 * select.select_option {"option": "x"}, button.press, ...): service is
	 * the service's name, data the call's data. A COROUTINE: it may await
	 * a pool job to run a command. -ENOTSUP for a service it does not
	 * have. Thread: loop, in a COROUTINE. */
	int (*async_command)(struct mqb_entity *e, void *priv, const char *service,
			     const json_t *data);
	/* Free priv, after async_will_remove. Thread: loop. */
	void (*free)(void *priv);
	/* Room to grow without a new API version; zero (designated
	 * initialisers leave it so). */
	void *reserved[4];
};

/* How an entity is described, copied when it is added. Strings may be
 * NULL (not set). */
struct mqb_entity_info {
	const char *name;             /* friendly name */
	const char *object_id;        /* NULL: the slug of name (then of the platform) */
	const char *unique_id;        /* NULL: <node_id>_<object_id> in discovery */
	const char *icon, *device_class, *state_class, *unit_of_measurement;
	const char *entity_category;  /* "diagnostic", "config" */
	bool force_update;            /* a write of an equal state still fires */
	double scan_interval;         /* seconds between updates; 0: never polled */
	/* Keys added to this entity's discovery payload (the platform's own:
	 * "min", "max", "options", "brightness_scale", ...); borrowed, copied. */
	const json_t *discovery;
	/* Initial values: state (NULL: "unknown"), available (default true). */
	const char *state;
	bool unavailable;
	/* Room to grow without a new API version; zero (designated
	 * initialisers leave it so). */
	void *reserved[4];
};

/* Home Assistant's checks of a description for an entity of domain,
 * those it makes before adding one: device_class one the domain has,
 * state_class (sensors), a unit the device class allows (sensors and
 * numbers, as its MQTT platform refuses the others), entity_category
 * ("config" is refused for sensors and binary sensors), an icon written
 * prefix:name. NULL when the description passes; else the message (in
 * buf, buflen >= 128) and *key the option it is about. A configuration's
 * check adds it as an error at that key. Thread: any. */
const char *mqb_entity_info_invalid(const char *domain, const struct mqb_entity_info *info,
				    const char **key, char *buf, size_t buflen);
/* The same as a configuration check: the problem is added to errs at
 * item's key (at item when the key is absent there), path being the
 * item's. Returns whether it passed. Thread: any. */
struct mqb_conf_node;
struct mqb_conf_errors;
bool mqb_entity_info_check(const char *domain, const struct mqb_entity_info *info,
			   const struct mqb_conf_node *item, const char *path,
			   struct mqb_conf_errors *errs);
/* mqb_entity_info_check as Home Assistant checks an entity that is not
 * MQTT's (a template or command_line sensor): a unit its device class
 * does not allow is a warning logged under path, as Home Assistant's
 * sensor logs one when it runs, and the rest is checked. Thread: any. */
bool mqb_entity_info_check_unit_warns(const char *domain, const struct mqb_entity_info *info,
				      const struct mqb_conf_node *item, const char *path,
				      struct mqb_conf_errors *errs);

/* Add an entity to platform p. ops and priv are the platform's: ops must
 * live as long as the core (a static table); priv is freed with ops->free
 * when the core stops, and also when this fails. The entity id is
 * <domain>.<object_id>, object_id from info (or the slug of the name), a
 * clash getting _2, _3, .... *out (may be NULL) gets the entity. -EINVAL
 * (nothing to name it by), -ENOMEM. Thread: loop. */
int mqb_platform_async_add_entity(struct mqb_platform *p, const struct mqb_entity_info *info,
				  const struct mqb_entity_ops *ops, void *priv,
				  struct mqb_entity **out);
/* The same from a setup_platform running in the pool: waits for the loop.
 * Thread: any but the loop. */
int mqb_platform_add_entity(struct mqb_platform *p, const struct mqb_entity_info *info,
			    const struct mqb_entity_ops *ops, void *priv, struct mqb_entity **out);

/* Take e out of the core: ops->async_will_remove runs, its state is
 * removed from the state machine (state_changed with new_state null), the
 * bridge clears what it announced of it (its retained discovery, state,
 * attributes and availability, so Home Assistant drops it too), and its
 * id is free for a new entity. priv is freed with ops->free once no
 * update or command runs with it any more; e must not be used after this
 * returns. For a reload; at shutdown the core removes everything itself.
 * 0, -EALREADY (removed, or the core is stopping). Thread: loop. */
int mqb_entity_async_remove(struct mqb_entity *e);

/* Thread: any (immutable once added). */
const char *mqb_entity_id(const struct mqb_entity *e);        /* "sensor.kitchen" */
const char *mqb_entity_domain(const struct mqb_entity *e);    /* "sensor" */
const char *mqb_entity_object_id(const struct mqb_entity *e); /* "kitchen" */
const char *mqb_entity_name(const struct mqb_entity *e);      /* may be NULL */
struct mqb_core *mqb_entity_core(const struct mqb_entity *e);
struct mqb_platform *mqb_entity_platform(const struct mqb_entity *e);
/* The device the entity belongs to, as its discovery announces it (an
 * MQTT entity's `device:` block: identifiers, connections, name, model,
 * suggested_area ...); NULL when it has none of its own. */
const json_t *mqb_entity_device(const struct mqb_entity *e);

/* Change the cached values; nothing is published until the write. A state
 * that is too long or not UTF-8 is refused (-MQB_E_INVALID_STATE, counted
 * and logged once per entity) and the old one stays. state NULL means
 * "unknown". Thread: loop. */
int mqb_entity_async_set_state(struct mqb_entity *e, const char *state);
/* Takes the reference (NULL: none); must be an object. Thread: loop. */
int mqb_entity_async_set_attributes(struct mqb_entity *e, json_t *attributes);
void mqb_entity_async_set_available(struct mqb_entity *e, bool available);
/* What turn_on, turn_off and toggle ask of an entity that is on or off:
 * 1 on, 0 off (toggle: the other of its state), -ENOTSUP for any other
 * service. Thread: loop. */
int mqb_entity_async_on_off(const struct mqb_entity *e, const char *service);
/* Thread: loop. */
const char *mqb_entity_async_state(const struct mqb_entity *e); /* "unknown" before any */
bool mqb_entity_async_available(const struct mqb_entity *e);
const json_t *mqb_entity_async_attributes(const struct mqb_entity *e); /* may be NULL */
/* Write the cached values to the state machine: "unavailable" while not
 * available, else the state, with the entity's attributes plus
 * friendly_name, unit_of_measurement, device_class, state_class, icon as
 * Home Assistant adds them. The bridge publishes what changed.
 * Thread: loop. */
int mqb_entity_async_write(struct mqb_entity *e);
/* Run an update now (the same path as a poll: skipped with a warning if
 * one is running). Thread: loop. */
void mqb_entity_async_schedule_update(struct mqb_entity *e);

/* Render a template for e (value_template, a template entity's state):
 * vars->this_state is e's current state object and vars->core its core
 * unless the caller set them. On a render error it logs once, naming the
 * entity, the option and the error, and stays quiet until a render
 * succeeds again (Home Assistant's behaviour); the caller keeps the old
 * state. Returns as mqb_template_render. Thread: loop. */
struct mqb_template;
struct mqb_tpl_vars;
int mqb_entity_async_render(struct mqb_entity *e, const char *option,
			    const struct mqb_template *t, const struct mqb_tpl_vars *vars,
			    char **out, size_t *len);

/* Home Assistant's slugify for object ids: lower case, every run of other
 * than [a-z0-9] one '_', none at either end; common accented letters lose
 * their accents ("Küche" is "kuche"). "" for a name with nothing left.
 * Returns out. Thread: any. */
char *mqb_slugify(const char *name, char *out, size_t outlen);

/* Every entity, in the order added (the bridge, the diagnostic sensor).
 * Thread: loop. */
size_t mqb_entities_async_count(struct mqb_core *core);
struct mqb_entity *mqb_entities_async_get(struct mqb_core *core, size_t i);
struct mqb_entity *mqb_entities_async_find(struct mqb_core *core, const char *entity_id);

/* Home Assistant's include/exclude entity filter (helpers/entityfilter):
 * include and exclude are mappings (either may be NULL) whose keys are
 * prefix + "domains", "entities" and "entity_globs", each a list or one
 * value: mqtt_statestream's include: {domains: ...} takes prefix "",
 * prometheus's filter: {include_domains: ...} takes "include_" and
 * "exclude_" on the same mapping. An entity named in include or exclude
 * decides; then an excluding domain or glob; then, when anything is
 * included, only its domains and globs pass. Thread: any. */
bool mqb_entity_filter_match(const struct mqb_conf_node *include, const char *include_prefix,
			     const struct mqb_conf_node *exclude, const char *exclude_prefix,
			     const char *entity_id);

#endif
