/* SPDX-License-Identifier: MIT */
/* Home Assistant's logger.set_default_level and logger.set_level services
 * (logger.c): the log levels changed at run time. */
#ifndef MQB_DAEMON_LOGGER_H
#define MQB_DAEMON_LOGGER_H

struct mqb_core;

/* Register both services. 0 or -errno. Thread: loop. */
int logger__async_register(struct mqb_core *core);

#endif
