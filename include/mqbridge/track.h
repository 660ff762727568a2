/* SPDX-License-Identifier: MIT */
/* Home Assistant's event helpers (helpers/event.py) on the loop: follow the
 * states of some entities, or a template's result, and be called when they
 * change. Triggers, waits and template entities are built on these, so a
 * state change costs O(trackers of that entity), never O(all trackers). */
#ifndef MQBRIDGE_TRACK_H
#define MQBRIDGE_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct mqb_core;
struct mqb_event;
struct mqb_template;

/* A registration; owned by the core until mqb_async_track_cancel (which is
 * safe inside its own callback) or until the core is freed. */
struct mqb_track;

/* Called for each state_changed event of a tracked entity (the event is
 * borrowed for the call: mqb_event_ref it to keep it). Runs on the loop
 * inside the fire, like a CALLBACK listener: it must not block. */
typedef void (*mqb_track_state_fn)(void *ud, const struct mqb_event *ev);

/* Track the entities in ids (n of them; ids are copied; an id may name an
 * entity that does not exist yet): Home Assistant's
 * async_track_state_change_event. 0; -EINVAL (an invalid entity id, n 0),
 * -ENOMEM. Thread: loop. */
int mqb_async_track_state_change(struct mqb_core *core, const char *const *ids, size_t n,
				 mqb_track_state_fn fn, void *ud, struct mqb_track **out);

/* What a tracked template rendered: status 0 and its text, or the render's
 * negative errno and the error message in text. Both borrowed for the
 * call. */
typedef void (*mqb_track_template_fn)(void *ud, int status, const char *text);

/* Render t with variables (an object, may be NULL; copied) now and again
 * whenever an entity it read changes (the entities read are recorded at
 * every render, so branches are followed), whenever an entity appears in a
 * domain it iterated, and each minute on the minute when it calls now():
 * Home Assistant's async_track_template_result, with its rate limits (all
 * states: once a minute; a domain: once a second). fn runs with each
 * result, the first one before this returns (fire_first true) or not
 * (false). 0; -ENOMEM. Thread: loop. */
int mqb_async_track_template(struct mqb_core *core, const struct mqb_template *t,
			     const json_t *variables, bool fire_first, mqb_track_template_fn fn,
			     void *ud, struct mqb_track **out);

/* Stop and free. Accepts NULL. Thread: loop. */
void mqb_async_track_cancel(struct mqb_track *tr);

#endif
