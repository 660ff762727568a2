/* SPDX-License-Identifier: MIT */
/* Home Assistant's integrations that mqbridge does not have, for the
 * options to skip with a warning what a copied configuration names. */
#ifndef MQB_DAEMON_ABSENT_H
#define MQB_DAEMON_ABSENT_H

#include <stdbool.h>
#include <stddef.h>

/* Whether name is one of Home Assistant's integrations that mqbridge
 * does not have ("recorder", "rest"). Thread: any. */
bool absent__home_assistant_has(const char *name);
/* Every such name, sorted (for suggestions and tests). Thread: any. */
size_t absent__names(const char *const **out);

#endif
