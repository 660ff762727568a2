/* SPDX-License-Identifier: MIT */
/* The restore state's side the daemon and the entity registry see
 * (restore.c): where the state file lives, reading it before the
 * integrations are set up, and an opted-in entity's removal. */
#ifndef MQB_HA_RESTORE_IMPL_H
#define MQB_HA_RESTORE_IMPL_H

struct mqb_core;
struct mqb_entity;
struct mqb_future;

/* The state file's name in the state directory. */
#define RESTORE_FILE "restore_state.json"

/* Keep the core's restored states in dir/RESTORE_FILE (dir copied):
 * writes begin at mqbridge_start (one at once, then every 15 minutes)
 * and the last one is queued at mqbridge_stop as a final job, which the
 * shutdown waits for. Nothing is read or written before restore__load.
 * 0, -EEXIST (already), -ENOMEM. Thread: loop. */
int restore__async_init(struct mqb_core *core, const char *dir);

/* Read the state file and keep what it holds for the entities that opt
 * in, as Home Assistant reads it before setting integrations up. A
 * missing file is noted, an unreadable, truncated or corrupt one logged
 * (and overwritten by the next write); neither is an error: 0, always.
 * Until it has run nothing is written over the file. It reads at once:
 * the daemon calls it before mqb_core_run, with the configuration file
 * read, when nothing runs yet that the read could hold up. Thread: loop. */
int restore__load(struct mqb_core *core);

/* Write the state file now, as the periodic write does; *out (may be
 * NULL) settles once it is on disk (0), was not needed (nothing to keep:
 * 0 as well) or failed (the error, logged). For tests. Thread: loop. */
int restore__async_dump(struct mqb_core *core, struct mqb_future **out);

/* e is being removed: if it opted in, its last state is kept for an
 * entity of the same id added later. Thread: loop. */
void restore__async_entity_removed(struct mqb_entity *e);

#endif
