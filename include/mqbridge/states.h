/* SPDX-License-Identifier: MIT */
/* The state machine, with Home Assistant's semantics: entity ids
 * domain.object_id of [a-z0-9_], states of at most 255 bytes of UTF-8,
 * last_changed (the state string changed) and last_updated (anything
 * changed); an identical write fires nothing unless force_update. */
#ifndef MQBRIDGE_STATES_H
#define MQBRIDGE_STATES_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct mqb_core;

#define MQB_MAX_STATE_LEN 255
#define MQB_MAX_ENTITY_ID_LEN 255
#define MQB_MAX_DOMAIN_LEN 64

/* A state is immutable and reference-counted (atomically): any thread may
 * hold one. Its attributes object must not be modified, nor json_incref'd
 * or put into other JSON: threads share it, and jansson's reference count
 * is not race-free (src/jsonref.h); json_deep_copy it instead. */
struct mqb_state;
struct mqb_state *mqb_state_ref(struct mqb_state *s);
void mqb_state_unref(struct mqb_state *s); /* accepts NULL */
const char *mqb_state_entity_id(const struct mqb_state *s);
const char *mqb_state_domain(const struct mqb_state *s);    /* not NUL-terminated at '.': use _len */
size_t mqb_state_domain_len(const struct mqb_state *s);
const char *mqb_state_object_id(const struct mqb_state *s);
const char *mqb_state_value(const struct mqb_state *s);
const json_t *mqb_state_attributes(const struct mqb_state *s); /* never NULL */
double mqb_state_last_changed(const struct mqb_state *s);     /* Unix time, seconds */
double mqb_state_last_updated(const struct mqb_state *s);
/* {"entity_id", "state", "attributes", "last_changed", "last_updated"}, new
 * reference (NULL on ENOMEM); times as Home Assistant's as_dict writes them,
 * ISO 8601 in UTC: "2024-05-01T12:00:00.123456+00:00". */
json_t *mqb_state_to_json(const struct mqb_state *s);

/* Thread: any. Home Assistant's VALID_ENTITY_ID, length limits included. */
bool mqb_entity_id_valid(const char *entity_id);
/* Thread: any. A state string Home Assistant accepts: <= 255 bytes, UTF-8. */
bool mqb_state_value_valid(const char *state);

/* Set a state. Takes the reference to attributes in every case (NULL means
 * {}). Fires state_changed {entity_id, old_state, new_state} when the state
 * or attributes differ, or force_update. As Home Assistant, the id is
 * lowercased first ("Light.A" sets light.a) and last_changed is kept only
 * when the state string is equal and not force_update. 0; -EINVAL (bad
 * entity id or attributes not an object); -MQB_E_INVALID_STATE (too long,
 * not UTF-8: the old state stays); -ENOMEM. Thread: loop. */
int mqb_states_async_set(struct mqb_core *core, const char *entity_id, const char *state,
			 json_t *attributes, bool force_update);
/* A new reference, or NULL. The exact id, else the lowercased one. Thread: loop. */
struct mqb_state *mqb_states_async_get(struct mqb_core *core, const char *entity_id);
/* Remove and fire state_changed with new_state null. -MQB_E_NOTFOUND. Thread: loop. */
int mqb_states_async_remove(struct mqb_core *core, const char *entity_id);
/* Thread: loop. */
size_t mqb_states_async_count(struct mqb_core *core);
/* Call fn for every state, in entity-id order; stop early if it returns
 * non-zero (which is returned). fn must not set or remove states. Thread: loop. */
int mqb_states_async_foreach(struct mqb_core *core,
			     int (*fn)(void *ud, const struct mqb_state *s), void *ud);

/* Blocking thread-safe flavours (mqb_call_threadsafe): -EDEADLK on the loop
 * thread, -ESHUTDOWN once stopping. Thread: any but the loop. */
int mqb_states_set(struct mqb_core *core, const char *entity_id, const char *state,
		   json_t *attributes, bool force_update);
/* *out gets a new reference or NULL (no such entity). */
int mqb_states_get(struct mqb_core *core, const char *entity_id, struct mqb_state **out);
int mqb_states_remove(struct mqb_core *core, const char *entity_id);

#endif
