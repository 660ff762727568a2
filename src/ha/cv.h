/* SPDX-License-Identifier: MIT */
/* The engine's share of Home Assistant's config_validation: the checks the
 * script, condition (and trigger) compilers make on nodes no schema table
 * describes (which keys an action may hold, entity id lists, booleans,
 * `enabled:`), each adding an error at the node's file:line:column. */
#ifndef MQB_HA_CV_H
#define MQB_HA_CV_H

#include <stdbool.h>
#include <stddef.h>

#include "mqbridge/config.h"

/* Room for a path such as "automation[3].action[2].choose[0].sequence[1]";
 * a longer one is cut (only messages read it). */
#define CV_PATH_MAX 512

/* buf = base + printf(fmt, ...): "base.key", "base[2]". Returns buf. */
const char *cv__path(char buf[CV_PATH_MAX], const char *base, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Every key of map must be in allowed (NULL-terminated): each other one is
 * an error "extra keys not allowed" with "did you mean" when one is close.
 * Returns the number of errors added. */
size_t cv__check_keys(const struct mqb_conf_node *map, const char *path,
		      const char *const *allowed, struct mqb_conf_errors *errs);

/* The value of key in map, or NULL with "required key not provided @
 * data['key']" added at map (and *found counted up). */
const struct mqb_conf_node *cv__required(const struct mqb_conf_node *map, const char *key,
					 const char *path, struct mqb_conf_errors *errs,
					 size_t *found);

/* A scalar's text, or NULL (not a scalar). */
const char *cv__text(const struct mqb_conf_node *n);

/* cv.boolean: 0 with *out, or an error added (returns 1). */
size_t cv__boolean(const struct mqb_conf_node *n, const char *path, struct mqb_conf_errors *errs,
		   bool *out);

/* Home Assistant's template.result_as_boolean on a template's rendered
 * text, read as its native value: cv.boolean of it (true, a number not
 * 0, one of cv.boolean's words for yes), false for anything it refuses. */
bool cv__result_as_boolean(const char *text);

/* cv.string: a scalar (a plain number is its text), or an error added
 * (returns 1); *out points into the document. */
size_t cv__string(const struct mqb_conf_node *n, const char *path, struct mqb_conf_errors *errs,
		  const char **out);

/* cv.entity_ids / comp_entity_ids: a list, or one text of comma-separated
 * ids, lowercased and checked; allow_all also takes "all" and "none"
 * (kept as the single id). *ids and each id are allocated (cv__free_ids).
 * Returns the number of errors added. */
size_t cv__entity_ids(const struct mqb_conf_node *n, const char *path, bool allow_all,
		      struct mqb_conf_errors *errs, char ***ids, size_t *nids);
void cv__free_ids(char **ids, size_t n);

/* `enabled:`: a boolean, or a template rendered now as Home Assistant
 * renders it at setup (limited: without variables or states); *out true
 * when absent. Returns the number of errors added. */
size_t cv__enabled(const struct mqb_conf_node *map, const char *path,
		   struct mqb_conf_errors *errs, bool *out);

/* A copy of a scalar's text (NULL when n is NULL); an error added and
 * *out NULL when it is not a scalar. Returns the number of errors. */
size_t cv__strdup(const struct mqb_conf_node *n, const char *path, struct mqb_conf_errors *errs,
		  char **out);

#endif
