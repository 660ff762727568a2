/* SPDX-License-Identifier: MIT */
/* Reloading the configuration without a restart (reload.c): what SIGHUP,
 * homeassistant.reload_all, homeassistant.reload_core_config and each
 * <integration>.reload ask for, one reload at a time. */
#ifndef MQB_DAEMON_RELOAD_H
#define MQB_DAEMON_RELOAD_H

struct mqb_core;
struct mqb_future;
struct daemon_options;

enum reload_scope {
	RELOAD_ALL,         /* everything a reload can change (SIGHUP, reload_all) */
	RELOAD_CORE,        /* homeassistant: (reload_core_config) */
	RELOAD_INTEGRATION, /* one integration's items and its own block */
};

/* Attach the reloader to core: boot is what the daemon starts with (the
 * values only a restart changes are compared with it), path the file to
 * read again; both outlive the core. Applies homeassistant: customize.
 * 0 or -ENOMEM. Thread: loop. */
int reload__async_init(struct mqb_core *core, const struct daemon_options *boot,
		       const char *path);

/* The start-up's setups are done: what they set up is what runs, the
 * reload services are registered, and reloads asked for meanwhile
 * start. Thread: loop. */
void reload__async_ready(struct mqb_core *core);

/* Ask for a reload of scope (name: the integration, for
 * RELOAD_INTEGRATION), logged as what ("SIGHUP", "automation.reload").
 * It starts once those asked for before have ended. *out (may be NULL)
 * gets a future settled with 0 once it is done, or the error: -EINVAL
 * when the file has problems (each logged at its file:line:column; what
 * runs stays), -ECANCELED at shutdown, -ENOMEM. 0, -ENOMEM or
 * -ESHUTDOWN. Thread: loop. */
int reload__async_request(struct mqb_core *core, enum reload_scope scope, const char *name,
			  const char *what, struct mqb_future **out);

/* Who sets the log levels a reload reads (main: the command line's
 * level wins over the file's). Thread: loop. */
void reload__async_on_log_levels(struct mqb_core *core,
				 void (*fn)(void *ud, const struct daemon_options *o), void *ud);

#endif
