/* SPDX-License-Identifier: MIT */
/* The subscription table: MQTT topic filters mapped to values, matched
 * against a topic level by level. Filters without wildcards sit in a hash
 * map (one lookup per message); only wildcard filters are walked, and the
 * walk costs the topic's depth, not the number of filters. Loop thread. */
#ifndef MQB_TOPIC_TREE_H
#define MQB_TOPIC_TREE_H

#include <stdbool.h>
#include <stddef.h>

#define MQB_MQTT_MAX_TOPIC 65535

struct topic_tree;

int topic_tree__new(struct topic_tree **out);
/* Values are not freed. Accepts NULL. */
void topic_tree__free(struct topic_tree *t);

/* Add value under filter (a valid filter; a leading $share/<group>/ is
 * stripped for matching). The same filter may hold several values.
 * 0, -EINVAL (not a valid filter), -ENOMEM. */
int topic_tree__add(struct topic_tree *t, const char *filter, void *value);
/* Remove one value from filter; 0 or -ENOENT. */
int topic_tree__remove(struct topic_tree *t, const char *filter, void *value);

/* Call fn(ud, value) for every value whose filter matches topic (which must
 * be a valid topic name). Returns the number of calls. fn must not change
 * the tree. */
size_t topic_tree__match(struct topic_tree *t, const char *topic, size_t len,
			 void (*fn)(void *ud, void *value), void *ud);

/* The part of a filter used for matching: past "$share/<group>/", if any. */
const char *topic_tree__match_part(const char *filter);

#endif
