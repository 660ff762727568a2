/* SPDX-License-Identifier: MIT */
/* Each entity domain's behaviour, one row per domain (domains.c): its
 * entity services, how the bridge announces it to Home Assistant's MQTT
 * discovery, and what its /set topic takes. Adding a domain is adding a
 * row; the registry (entity.c) and the bridge (bridge.c) read the rows. */
#ifndef MQB_HA_DOMAINS_H
#define MQB_HA_DOMAINS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* An entity's own topics, for discovery keys that name them. */
struct domain_topics {
	const char *set;        /* <base>/<domain>/<object_id>/set */
	const char *attributes; /* <base>/<domain>/<object_id>/attributes */
	const char *state;      /* <base>/<domain>/<object_id>/state */
};

struct domain {
	const char *name;                /* "switch" */
	/* The MQTT discovery component Home Assistant is shown it as; NULL:
	 * the domain itself. Where it differs, the discovery object id and
	 * the default unique id take the domain in front, <domain>_<object_id>
	 * (DESIGN §10), so a helper never collides with a native entity. */
	const char *component;
	/* Its entity services, as Home Assistant names them; NULL-terminated,
	 * NULL for none. */
	const char *const *services;
	/* Nothing to show (a button): no state topic. */
	bool stateless;
	/* Its commands' topics are its discovery_after's (a climate has a
	 * topic per setting, none named command_topic). */
	bool no_command_topic;
	/* The discovery key of the state topic (the climate's is
	 * mode_state_topic); NULL: state_topic. */
	const char *state_key;
	/* Its attributes carry what Home Assistant reads on each change of
	 * the state (an event's type): they are sent with every one, an
	 * unchanged one too. */
	bool attributes_follow_state;
	/* Its attributes JSON carries the state as "state" too (Home
	 * Assistant's vacuum reads both from one object). */
	bool attributes_with_state;
	/* A device trigger (device_automation): no state, attributes or
	 * availability; each value goes, not retained, to
	 * <base>/<domain>/<object_id>/trigger, which its discovery names. */
	bool trigger;
	/* Discovery keys of every entity of the domain, the entity's own
	 * winning over them: key, value, ..., NULL. */
	const char *const *discovery;
	/* Discovery keys made after the entity's own are in (a light's
	 * brightness, a cover's position); NULL for none. */
	void (*discovery_after)(json_t *d, const struct domain_topics *t);
	/* The service a /set payload (valid UTF-8) asks for, with its data
	 * added to data (the caller adds entity_id); NULL when it is not a
	 * command of this domain. NULL for a domain that takes none. */
	const char *(*command)(const char *payload, json_t *data);
};

/* The row of the domain called name; a domain without one (sensor's
 * kind: a value to show, nothing to command) gets a row whose name is
 * NULL. Never NULL. Thread: any. */
const struct domain *domains__get(const char *name);

/* What the domain is announced as: its component, or itself. */
static inline const char *domain__component(const struct domain *d, const char *name)
{
	return d->component ? d->component : name;
}

#endif
