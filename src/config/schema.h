/* SPDX-License-Identifier: MIT */
/* What the schema validator shares with the code that reads the daemon's
 * options: "did you mean", and how a node is described in a message. */
#ifndef MQB_SCHEMA_H
#define MQB_SCHEMA_H

#include <stddef.h>

#include "mqbridge/config.h"

/* The candidate closest to word, if close enough to suggest; else NULL. */
const char *schema__suggest(const char *word, const char *const *cands, size_t n);
/* "an integer", "'abc'", "(secret)", ... for messages. */
const char *schema__describe(const struct mqb_conf_node *n, char *buf, size_t buflen);

#endif
