/* SPDX-License-Identifier: MIT */
/* What the script engine needs of conditions beyond the public test: the
 * third outcome (a disabled condition, which and/or/not skip), Home
 * Assistant's nested error text, and a condition's name for log lines. */
#ifndef MQB_HA_CONDITION_IMPL_H
#define MQB_HA_CONDITION_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "mqbridge/condition.h"

/* condition__eval's outcomes besides 0 (false), 1 (true) and a negative
 * errno: disabled, which counts as holding where a lone condition is
 * tested, and as absent inside and/or/not (Home Assistant's None). */
#define COND_NONE 2

/* Growable text: Home Assistant's ConditionError rendering ("In 'and'
 * (item 1 of 2):\n  In 'state' condition: unknown entity x"). */
struct cond_msg {
	char *s;
	size_t len, cap;
};
void cond_msg__free(struct cond_msg *m);

/* Test c with the run's variables (an object, may be NULL) at the core's
 * now: 0, 1, COND_NONE, or -EINVAL with the error's text in *err (which
 * the caller frees). Thread: loop. */
int condition__eval(struct mqb_core *core, const struct mqb_condition *c, const json_t *variables,
		    struct cond_msg *err);

/* "state", "template", "and", ... */
const char *condition__type(const struct mqb_condition *c);
/* The configured alias, or NULL. */
const char *condition__alias(const struct mqb_condition *c);

#endif
