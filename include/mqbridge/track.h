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
 * inside the fire, like a CALLBACK listener: it must not block. A tracker
 * made inside the call is not called for the event being delivered. */
typedef void (*mqb_track_state_fn)(void *ud, const struct mqb_event *ev);

/* Track the entities in ids (n of them; ids are copied, a repeated id
 * counts once; an id may name an entity that does not exist yet): Home
 * Assistant's async_track_state_change_event. 0; -EINVAL (an invalid
 * entity id, n 0, fn NULL), -ENOMEM. Thread: loop. */
int mqb_async_track_state_change(struct mqb_core *core, const char *const *ids, size_t n,
				 mqb_track_state_fn fn, void *ud, struct mqb_track **out);

/* What a tracked template rendered, called only when the result differs
 * from the one before (an error after an error is no news either), as Home
 * Assistant's async_track_template_result reports: status 0 and its text,
 * or the render's negative errno and the error message in text. ev is
 * the state_changed event that made it render again, NULL for the first
 * render and the minute of now(). All borrowed for the call. */
typedef void (*mqb_track_template_fn)(void *ud, const struct mqb_event *ev, int status,
				      const char *text);

struct mqb_track_template_options {
	/* Rendered with these names (an object; may be NULL). Copied. */
	const json_t *variables;
	/* Call fn with the first result before mqb_async_track_template
	 * returns (true), or only keep it to compare the next one with. */
	bool fire_first;
	/* The template's text (may be NULL). Home Assistant renders a
	 * template that iterates `states` (all of them, or a domain's) again
	 * on every state change and every entity that comes or goes, at
	 * most once a minute (all) or once a second (a domain). The
	 * template engine reports the entities a render read, not how it
	 * read them, so the text tells which templates iterate. */
	const char *text;
	void *reserved[4];
};

/* Render t now and again whenever an entity it read changes (the
 * entities read are recorded at every render, so branches are followed),
 * whenever a state changes when it iterates states (see text above, rate
 * limited as Home Assistant's), and each minute on the minute when it
 * calls now(): Home Assistant's async_track_template_result. t must
 * outlive the tracker. opt may be NULL (no variables, no first call).
 * 0; -EINVAL (fn NULL), -ENOMEM. Thread: loop. */
int mqb_async_track_template(struct mqb_core *core, const struct mqb_template *t,
			     const struct mqb_track_template_options *opt,
			     mqb_track_template_fn fn, void *ud, struct mqb_track **out);

/* Stop and free. Accepts NULL. Thread: loop. */
void mqb_async_track_cancel(struct mqb_track *tr);

#endif
