/* SPDX-License-Identifier: MIT */
/* Triggers: Home Assistant's helpers/trigger.py and its trigger platforms
 * (state, numeric_state, mqtt, event, time, time_pattern, template,
 * homeassistant, sun). A list of triggers is compiled once from
 * configuration and attached to a core; each firing hands the owner the
 * `trigger` variable exactly as Home Assistant fills it. Attaching goes
 * through the core's own machinery: state trackers (track.h), MQTT
 * subscriptions shared per filter, timers on wall-clock boundaries
 * (timer.h) and bus listeners. */
#ifndef MQBRIDGE_TRIGGER_H
#define MQBRIDGE_TRIGGER_H

#include <stddef.h>
#include <jansson.h>

#include "mqbridge/config.h"

struct mqb_core;

/* A compiled list of triggers: immutable, owned by whoever compiled it;
 * it may be attached several times at once (a wait_for_trigger in each of
 * several runs). */
struct mqb_triggers;

/* Compile node: a list of trigger mappings (or one), in either generation
 * (`platform:` or `trigger:` as the key), with `id`, `enabled`, `variables`
 * and each platform's options. Every problem is added to errs at its
 * position (an unknown platform, a bad duration or time, a template that
 * does not compile); returns how many were found. *out (may be NULL:
 * check only) gets the list when none were. Thread: any. */
size_t mqb_triggers_compile(const struct mqb_conf_node *node, const char *path,
			    struct mqb_conf_errors *errs, struct mqb_triggers **out);
void mqb_triggers_free(struct mqb_triggers *t); /* accepts NULL; detach first */
/* How many triggers the list holds, disabled ones included (they keep
 * their index, as in Home Assistant). Thread: any. */
size_t mqb_triggers_count(const struct mqb_triggers *t);

/* A firing. trigger is the `trigger` variable (id, idx, alias, platform,
 * description, and each platform's keys: entity_id, from_state, to_state,
 * for, topic, payload, payload_json, qos, event, now, ...); variables is
 * what the trigger's own `variables:` rendered (NULL when it has none),
 * which Home Assistant merges into the run's variables over the
 * automation's. New references the callee owns. Runs on the loop and must
 * not block: start a run (a coroutine) from it. */
typedef void (*mqb_trigger_fn)(void *ud, json_t *trigger, json_t *variables);

/* One attachment of a list. */
struct mqb_trigger_attach;

struct mqb_trigger_attach_options {
	/* Rendered into each trigger's templates (trigger_variables, and the
	 * run's variables for a wait_for_trigger); may be NULL. Copied. */
	const json_t *variables;
	/* Who the log lines name: "automation.porch_light". */
	const char *log_name;
	void *reserved[4];
};

/* Attach t: from now on fn(ud, trigger) for every firing, until detached.
 * 0; -ENOMEM; a negative errno when a trigger cannot be attached (logged
 * with the trigger's path), in which case nothing stays attached.
 * Thread: loop. */
int mqb_triggers_async_attach(struct mqb_core *core, const struct mqb_triggers *t,
			      const struct mqb_trigger_attach_options *opt, mqb_trigger_fn fn,
			      void *ud, struct mqb_trigger_attach **out);
/* Detach: fn is not called again, pending `for:` timers are cancelled.
 * Safe inside fn. Accepts NULL. Thread: loop. */
void mqb_triggers_async_detach(struct mqb_trigger_attach *a);

#endif
