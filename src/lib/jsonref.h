/* SPDX-License-Identifier: MIT */
/* Reference counting for JSON objects that several threads hold at once
 * (state attributes, event and service-call data).
 *
 * jansson's json_incref/json_decref check the count with a plain load (to
 * skip its static singletons) before their atomic update. On an object other
 * threads also hold, that load races with their updates: harmless on x86
 * and arm64, but a data race all the same, and ThreadSanitizer reports it.
 * Objects and arrays are never static, so for shared ones we do the atomic
 * update alone. A shared object must be released with jsonref__put only,
 * and must not be put inside another JSON value (its destruction would use
 * json_decref): hand out a copy instead. */
#ifndef MQB_JSONREF_H
#define MQB_JSONREF_H

#include <jansson.h>

/* j: an object or array (never NULL, never one of jansson's singletons). */
static inline json_t *jsonref__get(json_t *j)
{
	__atomic_add_fetch(&j->refcount, 1, __ATOMIC_RELAXED);
	return j;
}

/* Accepts NULL. */
static inline void jsonref__put(json_t *j)
{
	if (j && __atomic_sub_fetch(&j->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		json_delete(j);
}

#endif
