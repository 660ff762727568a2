/* SPDX-License-Identifier: MIT */
/* What trigger.c (the list: compile, attach, the `trigger` variable) shares
 * with the trigger platforms (trigger_state.c, trigger_time.c, ...): a
 * platform's operations, one compiled trigger, one attached trigger, and
 * the helpers every platform uses to render and to fire. */
#ifndef MQB_HA_TRIGGER_IMPL_H
#define MQB_HA_TRIGGER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "mqbridge/config.h"
#include "mqbridge/template.h"
#include "mqbridge/trigger.h"

#include "ha/tval.h"

struct trig_run;
struct mqb_state;
struct duration;

/* A platform: Home Assistant's TRIGGER_SCHEMA and async_attach_trigger. */
struct trig_ops {
	const char *name;           /* "state", what `trigger:` names */
	/* Its own keys (the common ones are trigger.c's), NULL-terminated. */
	const char *const *keys;
	/* Check node (the trigger's mapping) and compile what the platform
	 * reads into *priv; errors go to errs under path. Returns how many. */
	size_t (*compile)(const struct mqb_conf_node *node, const char *path,
			  struct mqb_conf_errors *errs, void **priv);
	void (*free)(void *priv);
	/* Start listening: r->state is the platform's. 0, or a negative
	 * errno (logged by the platform) and nothing left attached. */
	int (*attach)(struct trig_run *r);
	/* Stop listening and free r->state. */
	void (*detach)(struct trig_run *r);
};

extern const struct trig_ops trigger__state, trigger__numeric_state, trigger__event,
	trigger__homeassistant, trigger__mqtt, trigger__time, trigger__time_pattern,
	trigger__template, trigger__sun, trigger__device, trigger__absent,
	trigger__device_entity;

/* Whether domain's entities turn on and off, with Home Assistant's device
 * triggers, conditions and actions of device_automation/toggle_entity.py
 * (light, switch, fan, humidifier, remote). Thread: any. */
bool trigger__toggle_domain(const char *domain);

/* The Home Assistant integration whose trigger name is and mqbridge does
 * not have ("webhook"; "samsungtv" of "samsungtv.turn_on", written into
 * buf), or NULL. Thread: any. */
const char *trigger__absent_integration(const char *name, char *buf, size_t len);

/* One compiled trigger. */
struct trig {
	const struct trig_ops *ops;
	void *priv;
	char idx[24];               /* its position, as text: "0" */
	char *id;                   /* the configured id, or NULL: idx */
	char *alias;                /* NULL: none */
	bool enabled;
	bool has_variables;
	struct tval variables;      /* the trigger's own variables: */
};

struct mqb_triggers {
	size_t n;
	struct trig *v;
};

/* One trigger of an attachment. */
struct trig_run {
	struct mqb_trigger_attach *a;
	const struct trig *t;
	const struct trig_ops *ops;
	void *state;                /* the platform's, between attach and detach */
};

struct mqb_trigger_attach {
	struct mqb_core *core;
	json_t *variables;          /* trigger_variables (an object) */
	char *log_name;
	mqb_trigger_fn fn;
	void *ud;
	unsigned busy;              /* platform calls in progress */
	bool detached;              /* freed when the last call returns */
	size_t n;
	struct trig_run runs[];
};

/* Around every call into a platform from the loop (a tracker, a timer, a
 * listener): a detach inside the owner's callback waits for the call to
 * return. trigger__leave returns false when r's attachment is gone. */
void trigger__enter(struct trig_run *r);
void trigger__leave(struct trig_run *r);

/* The name the log lines give: the attachment's, or "trigger". */
const char *trigger__name(const struct trig_run *r);

/* Template variables for r: the attachment's variables with `trigger`
 * (may be NULL) over them, the core for states(). */
struct mqb_tpl_vars trigger__vars(const struct trig_run *r, const json_t *trigger);

/* Fire r: data (an object, reference taken) holds the platform's keys and
 * "description"; the common ones (platform, id, idx, alias) are added, the
 * trigger's own variables rendered, and the owner called. */
void trigger__fire(struct trig_run *r, json_t *data);

/* The mqtt trigger's data for a message on topic (payload NULL: not
 * text): topic, payload, payload_json when it parses, qos, description.
 * NULL on ENOMEM. */
json_t *trigger__mqtt_data(const char *topic, const char *payload, size_t len, int qos);

/* Python's == between JSON values: numbers and booleans by value, lists
 * and mappings member by member. */
bool trigger__py_equal(const json_t *a, const json_t *b);

/* Unix time t as Python's str() of an aware local datetime, as a
 * template shows trigger.now: "2024-05-01 05:00:00.123456+02:00". */
json_t *trigger__local_time(double t);

/* seconds as str(timedelta): "0:00:05"; a new reference (NULL: ENOMEM). */
json_t *trigger__timedelta(double seconds);

/* A state as the `trigger` variable holds it, or null. */
json_t *trigger__state_json(const struct mqb_state *s);

/* Render a `for:` when the state matches: hold with partial as `trigger`
 * (and the attachment's variables too when with_variables). 0 with
 * *period; otherwise Home Assistant's "Error rendering '<name>' for
 * template: ..." is logged and the error returned. */
int trigger__render_for(const struct trig_run *r, const struct duration *hold,
			const json_t *partial, bool with_variables, double *period);

/* A `for:` under way: data fires when its timer does, unless cancelled. */
struct trigger_hold {
	struct trig_run *r;
	struct mqb_timer *timer;
	json_t *data;
};

/* Start h (ending what it held): data (reference taken) gets "for" and
 * fires period seconds from now, or at once when at_once (a fixed 0:
 * Home Assistant runs the action without a timer). */
void trigger__hold_start(struct trigger_hold *h, struct trig_run *r, double period, bool at_once,
			 json_t *data);
void trigger__hold_cancel(struct trigger_hold *h);

/* {platform, entity_id, from_state, to_state} of a firing's data: what a
 * state or template trigger's for: sees as `trigger`. NULL on ENOMEM. */
json_t *trigger__partial(const char *platform, const json_t *data);

/* Compile the `for:` of node (a positive duration, templates allowed)
 * into *d; *has false when there is none. Returns the errors added. */
size_t trigger__compile_for(const struct mqb_conf_node *node, const char *path,
			    struct mqb_conf_errors *errs, struct duration *d, bool *has);

#endif
