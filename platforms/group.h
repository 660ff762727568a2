/* SPDX-License-Identifier: MIT */
/* What the files of the group module share: member lists as Home
 * Assistant's cv.entity_ids takes them, and the `platform: group` entity
 * base (Home Assistant's GroupEntity) that follows its members and works
 * out its state once the core has started. */
#ifndef MQB_PLATFORMS_GROUP_H
#define MQB_PLATFORMS_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "mqbridge/config.h"
#include "mqbridge/entity.h"
#include "mqbridge/platform.h"

struct mqb_event;
struct mqb_listener;
struct mqb_track;

#define GROUP_SUB "group"

/* Member entity ids, lower case, in the order given. */
struct group_ids {
	char **v;
	size_t n;
};

/* cv.entity_ids: a list of entity ids, or one string of them separated
 * by commas. Add a problem to errs (may be NULL) at its place and return
 * how many; every id must be valid and, when domains is not NULL (a
 * NULL-terminated list), of one of them: cv.entities_domain. */
size_t group_check_ids(const struct mqb_conf_node *n, const char *path,
		       const char *const *domains, struct mqb_conf_errors *errs);
/* The ids of a node that passed group_check_ids, or of a JSON string or
 * array (a service call's): 0 or -ENOMEM (-EINVAL for JSON that is not
 * a list of valid ids). */
int group_ids_from_conf(const struct mqb_conf_node *n, struct group_ids *out);
int group_ids_from_json(const json_t *v, struct group_ids *out);
void group_ids_fini(struct group_ids *ids);
/* {"entity_id": [...]}'s value, a new reference. */
json_t *group_ids_json(const struct group_ids *ids);

/* ---- the platform entities ---------------------------------------------- */

/* Home Assistant's GroupEntity: members followed from async_added on; its
 * state worked out at start (async_at_start) and after every change of a
 * member once the core runs. Embedded first in each kind's own struct. */
struct group_entity {
	struct mqb_entity *e;
	struct mqb_core *core;
	struct group_ids ids;
	bool all;                        /* mode: all members, else any */
	struct mqb_track *track;
	struct mqb_listener *at_start;
	/* async_update_group_state: set the entity's values from the members
	 * (it is written after). */
	void (*update)(struct group_entity *g);
	/* A member changed (also before start): async_update_supported_features. */
	void (*member)(struct group_entity *g, const struct mqb_event *ev);
	void (*fini)(struct group_entity *g);
};

/* The entity ops of every platform entity: async_added, async_will_remove,
 * free (fini then free). async_command is the kind's own. */
int group_entity_added(struct mqb_entity *e, void *priv);
void group_entity_will_remove(struct mqb_entity *e, void *priv);
void group_entity_free(void *priv);

/* The states of g's members that exist, in member order (new
 * references; *n of them); free with group_states_free. */
struct mqb_state **group_states(struct group_entity *g, size_t *n);
void group_states_free(struct mqb_state **v, size_t n);

/* Call domain.service on the members ids with data's keys (may be NULL)
 * and wait for it: the call's status. Thread: loop, in a COROUTINE. */
int group_forward(struct group_entity *g, const char *domain, const char *service,
		  const struct group_ids *ids, json_t *data);

/* The common options of a platform entity. */
struct group_common {
	const struct mqb_conf_node *entities;
	const char *name, *unique_id;
};

/* Add g (allocated by the caller, its own fields set) to p, described by
 * info; on error g is freed with group_entity_free. */
int group_entity_add(struct mqb_platform *p, struct group_entity *g,
		     const struct group_common *c, struct mqb_entity_info *info,
		     const struct mqb_entity_ops *ops);

/* The entity domains of `platform: group` (group_platform.c), the
 * sensor's from group_sensor.c. */
#define GROUP_NDOMAINS 6
extern const struct mqb_platform_domain group_domains[GROUP_NDOMAINS];
struct group_sensor_conf {
	struct group_common c;
	const char *type, *unit, *device_class, *state_class;
	bool ignore_non_numeric;
};
extern const struct mqb_schema group_sensor_schema;

void group_check_sensor(const void *conf, const struct mqb_conf_node *node, const char *path,
			struct mqb_conf_errors *errs);
int group_setup_sensor(struct mqb_platform *p, const void *conf, const char *path);

/* The notify platform (group_notify.c): notify.<name> to several notify
 * services at once. */
struct group_notify_conf {
	const char *name;
	const struct mqb_conf_node *services;
};
extern const struct mqb_schema group_notify_schema;
void group_notify_check(const void *conf, const struct mqb_conf_node *node, const char *path,
			struct mqb_conf_errors *errs);
int group_notify_setup(struct mqb_platform *p, const void *conf, const char *path);

#endif
