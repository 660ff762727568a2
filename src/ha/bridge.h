/* SPDX-License-Identifier: MIT */
/* The bridge between the entities and MQTT (bridge.c): what the daemon
 * starts once the MQTT client exists. */
#ifndef MQB_BRIDGE_H
#define MQB_BRIDGE_H

#include <stdbool.h>

#include <jansson.h>

#include "mqbridge/config.h"

struct mqb_core;

struct bridge_options {
	const char *base_topic;        /* <base> */
	const char *node_id, *name;    /* the device */
	bool discovery;
	/* One discovery message for the bridge's device, its entities under
	 * cmps (Home Assistant 2024.11); those of a device of their own, and
	 * device triggers, keep theirs. */
	bool device_discovery;
	const char *discovery_prefix;
	/* Messages a second at most while announcing everything; 0: no
	 * limit. With a fleet of bridges on one broker, what bounds the
	 * broker's load when all of them announce at once. */
	double announce_rate;
	const char *statestream_base;  /* NULL: no mqtt_statestream */
	bool statestream_attributes, statestream_timestamps;
	/* Home Assistant's include/exclude filter: {domains, entities,
	 * entity_globs} configuration mappings (NULL: none); they must
	 * outlive the core. */
	const struct mqb_conf_node *statestream_include, *statestream_exclude;
	double diagnostic_interval;    /* seconds; 0: 30 */
};

/* Attach the bridge to core (after entities__init and mqtt__new,
 * before the platforms add entities). Strings are copied. Thread: loop. */
int bridge__async_init(struct mqb_core *core, const struct bridge_options *o);

/* Whether the bridge is connected and has announced every entity (its
 * discovery, availability and state) since. Thread: loop. */
bool bridge__async_announced(struct mqb_core *core);
/* Call fn(ud) each time an announcement has reached the last entity
 * (after a connect, or entities added while connected); one fn, replaced
 * by the next call. Nothing without a bridge. Thread: loop. */
void bridge__async_on_announced(struct mqb_core *core, void (*fn)(void *ud), void *ud);

/* The topics the bridge uses for e, as {"state", "attributes",
 * "availability", "command", "trigger", "discovery": topic} (those it has;
 * "command" when it takes commands, "discovery" when discovery is on):
 * what mqbridge -C -v lists. NULL without a bridge, or on ENOMEM.
 * Thread: loop. */
struct mqb_entity;
json_t *bridge__async_topics(struct mqb_core *core, struct mqb_entity *e);

#endif
