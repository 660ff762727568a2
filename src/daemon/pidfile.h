/* SPDX-License-Identifier: MIT */
/* The daemon's pid file: one instance per file, a stale file (its process
 * gone) replaced, removed at exit only while it still names us. */
#ifndef MQB_PIDFILE_H
#define MQB_PIDFILE_H

#include <sys/types.h>

struct pidfile;

/* Create path holding our pid, or take over a stale one. 0 and *out;
 * -EEXIST when a live process holds it (*holder is its pid, or 0 when
 * another instance is still writing it); -ENOMEM or -errno (the directory
 * is missing or not writable). Thread: any. */
int pidfile__create(const char *path, struct pidfile **out, pid_t *holder);

/* Remove the file if it still holds our pid, and free pf. Accepts NULL.
 * Thread: any. */
void pidfile__remove(struct pidfile *pf);

#endif
