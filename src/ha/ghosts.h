/* SPDX-License-Identifier: MIT */
/* The bridge's sweep for ghosts: what is retained on the broker under its
 * own node (discovery, state, attributes, availability) for entities the
 * configuration no longer has, read after each connect and cleared. */
#ifndef MQB_HA_GHOSTS_H
#define MQB_HA_GHOSTS_H

#include <stdbool.h>
#include <jansson.h>

struct mqb_core;
struct ghosts;

struct ghosts_options {
	struct mqb_core *core;
	/* "<prefix>/+/<node_id>/+/config"; NULL: discovery is not swept */
	const char *discovery_filter;
	/* "<prefix>/device/<node_id>/config", the bridge's device discovery
	 * (cleared like the others when not expected); NULL: not read */
	const char *device_topic;
	/* "<base>": <base>/<domain>/<object_id>/{state,attributes,availability}
	 * are swept; NULL: they are not */
	const char *state_base;
	/* a topic under the bridge's own, for the marker that says the
	 * retained messages have all come */
	const char *marker;
	/* Called (on the loop) once they have, or after a bound. */
	void (*ready)(void *ud);
	void *ud;
};

/* Subscribe and start reading. 0, -ENOMEM, or the client's error.
 * Thread: loop. */
int ghosts__async_start(const struct ghosts_options *o, struct ghosts **out);
/* After a reconnect during the sweep: read again (ready is called again).
 * Thread: loop. */
void ghosts__async_restart(struct ghosts *g);
/* Whether ready has been called since the last (re)start. Thread: loop. */
bool ghosts__ready(const struct ghosts *g);
/* The retained discovery topic announcing unique_id under the same
 * component as topic but at another object id (the entity was renamed,
 * and Home Assistant knows it there), when topic itself has nothing
 * retained for it; else NULL. Valid until ghosts__async_finish.
 * Thread: loop. */
const char *ghosts__renamed(const struct ghosts *g, const char *unique_id, const char *topic);
/* The components (cmps) of the retained device discovery read, or NULL.
 * Valid until ghosts__async_finish. Thread: loop. */
const json_t *ghosts__device_components(const struct ghosts *g);
/* A discovery topic (NULL: none) and a state prefix ("<base>/<domain>/
 * <object_id>/", NULL: none) the configuration has. 0 or -ENOMEM.
 * Thread: loop. */
int ghosts__expect(struct ghosts *g, const char *discovery_topic, const char *state_prefix);
/* Clear (an empty retained message) every retained topic read that no
 * expectation names, logging each, then unsubscribe and free g. Nothing
 * is cleared if an expectation could not be recorded. Thread: loop. */
void ghosts__async_finish(struct ghosts *g);
/* Unsubscribe and free without clearing (accepts NULL). Thread: loop. */
void ghosts__async_free(struct ghosts *g);

#endif
