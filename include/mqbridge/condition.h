/* SPDX-License-Identifier: MIT */
/* Conditions: Home Assistant's helpers/condition.py. A condition (state,
 * numeric_state, template, time, sun, trigger, and/or/not and their
 * shorthands) is compiled once from configuration, with its templates and
 * durations checked at their file:line:column, and tested on the loop
 * against the state machine and a run's variables. */
#ifndef MQBRIDGE_CONDITION_H
#define MQBRIDGE_CONDITION_H

#include <stddef.h>
#include <jansson.h>

#include "mqbridge/config.h"

struct mqb_core;

/* A compiled condition: immutable, owned by whoever compiled it. */
struct mqb_condition;

/* Compile node: one condition mapping, a template string (the shorthand),
 * or a list of conditions (all must hold). path names it in errors
 * ("automation[2].condition[0]"). Every problem is added to errs at its
 * position; returns how many were found. *out (may be NULL: check only,
 * as `mqbridge -C` does) gets the condition when none were. Thread: any. */
size_t mqb_condition_compile(const struct mqb_conf_node *node, const char *path,
			     struct mqb_conf_errors *errs, struct mqb_condition **out);
void mqb_condition_free(struct mqb_condition *c); /* accepts NULL */

/* Test c now. variables is the run's (an object holding trigger, this,
 * and the rest; may be NULL). 1 it holds, 0 it does not; a negative errno
 * when it cannot be decided (a template error, an entity that is not
 * numeric where a number is needed), with the reason in err (errlen
 * bytes), which Home Assistant treats as not holding and logs.
 * Thread: loop. */
int mqb_condition_async_test(struct mqb_core *core, const struct mqb_condition *c,
			     const json_t *variables, char *err, size_t errlen);

#endif
