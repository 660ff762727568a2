/* SPDX-License-Identifier: MIT */
/* system_log.write, logbook.log and persistent_notification.* (notices.c):
 * what Home Assistant always has for a person to read, into the log. */
#ifndef MQB_DAEMON_NOTICES_H
#define MQB_DAEMON_NOTICES_H

struct mqb_core;

/* Register the services. 0 or -errno. Thread: loop. */
int notices__async_register(struct mqb_core *core);

#endif
