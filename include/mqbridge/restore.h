/* SPDX-License-Identifier: MIT */
/* State that survives a restart, as Home Assistant's RestoreEntity
 * (helpers/restore_state.py): an entity that opts in has its last state
 * (state, attributes, last_changed, and extra data of its own) kept in the
 * state file in mqbridge.state_dir, written off the loop when the daemon
 * has started, every 15 minutes and at stop; the next run reads the file
 * before any integration is set up, and the entity decides what to take
 * from its last state (Home Assistant's rules for `initial` are the
 * integration's). A missing, truncated or corrupt file is logged and the
 * run starts without restored states. */
#ifndef MQBRIDGE_RESTORE_H
#define MQBRIDGE_RESTORE_H

#include <jansson.h>

struct mqb_entity;

/* What the state does not hold and the entity needs back (Home
 * Assistant's extra_restore_state_data): a new JSON reference, or NULL
 * for none. Called on the loop at each write. */
typedef json_t *(*mqb_restore_extra_fn)(struct mqb_entity *e, void *ud);

/* Opt e in, from its async_added on: from then on each write of the
 * state file holds e's state as the state machine has it (and extra's
 * data, extra may be NULL), and when e is removed (a reload) its last
 * state is kept for an entity of the same id added later, as in Home
 * Assistant. 0, or -ENOMEM. A core without a state directory (a test's)
 * keeps nothing and returns 0. Thread: loop. */
int mqb_restore_async_register(struct mqb_entity *e, mqb_restore_extra_fn extra, void *ud);

/* The state e's id had when it was last kept, by the previous run or by
 * an entity of that id removed in this one: an object shaped as
 * mqb_state_to_json's ({"entity_id", "state", "attributes",
 * "last_changed", "last_updated"}), or NULL. Borrowed: valid until e is
 * removed; copy what you keep. Thread: loop. */
const json_t *mqb_restore_async_last_state(struct mqb_entity *e);

/* Its state string alone ("on", "21.5"), or NULL. Borrowed as above.
 * Thread: loop. */
const char *mqb_restore_async_last_value(struct mqb_entity *e);

/* The extra data kept with it (what mqb_restore_extra_fn returned), or
 * NULL. Borrowed as above. Thread: loop. */
const json_t *mqb_restore_async_last_extra_data(struct mqb_entity *e);

#endif
