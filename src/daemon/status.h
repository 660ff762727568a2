/* SPDX-License-Identifier: MIT */
/* What the daemon is doing, for people (status.c): one line for systemd's
 * STATUS= (systemctl status shows it), and the dump SIGUSR1 writes to the
 * log. */
#ifndef MQB_DAEMON_STATUS_H
#define MQB_DAEMON_STATUS_H

struct mqb_core;

/* "connected to tcp://127.0.0.1:1883; 42 entities; 1 script running;
 * 1024 messages in, 980 out". Thread: loop. */
void status__async_line(struct mqb_core *core, char *buf, unsigned len);
/* Log the connection, its counters, the entities, the running scripts and
 * automations, the executor's queue and the process's figures, whatever
 * the log level; the process's figures are read in the pool, so the lines
 * come a moment later. 0 or -errno. Thread: loop. */
int status__async_dump(struct mqb_core *core);

#endif
