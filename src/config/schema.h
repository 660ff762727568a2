/* SPDX-License-Identifier: MIT */
/* What the schema validator shares with the configuration code: the
 * registry of tables, "did you mean", and how a node is described in a
 * message. */
#ifndef MQB_SCHEMA_H
#define MQB_SCHEMA_H

#include <stddef.h>

#include "mqbridge/config.h"

/* Add a table to what mqb_schema_all lists (once per table). */
void schema__register(const struct mqb_schema *s);
/* The candidate closest to word, if close enough to suggest; else NULL. */
const char *schema__suggest(const char *word, const char *const *cands, size_t n);
/* "an integer", "'abc'", "(secret)", ... for messages. */
const char *schema__describe(const struct mqb_conf_node *n, char *buf, size_t buflen);
/* Register the daemon's own tables (mqbridge:, mqtt:, ...). */
void config__register_schemas(void);

#endif
