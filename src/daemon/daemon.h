/* SPDX-License-Identifier: MIT */
/* The daemon assembled on a core (daemon.c): what main() starts once the
 * options are loaded, and what a test starts in-process the same way. */
#ifndef MQB_DAEMON_DAEMON_H
#define MQB_DAEMON_DAEMON_H

struct mqb_core;
struct daemon_options;

/* The steps of daemon__async_start, in order. */
enum daemon_step { DAEMON_MQTT, DAEMON_ENTITIES, DAEMON_BRIDGE, DAEMON_RESTORE, DAEMON_PLATFORMS };

/* Attach to core what opts asks for, in this order: the MQTT client (when
 * an mqtt: block or any entity wants a broker), the entity registry (its
 * config_dir that of config_path), the bridge (with the client), the
 * restored states (their file read) and the setup of every integration
 * item and component; polling starts and
 * mqbridge_start fires once all setups have finished. opts and
 * config_path (read again when a component reloads) must outlive the
 * core. 0, or a negative errno with *failed
 * (may be NULL) naming the step; the core keeps what the steps before it
 * made. Thread: loop, before mqb_core_run. */
int daemon__async_start(struct mqb_core *core, const struct daemon_options *opts,
			const char *config_path, enum daemon_step *failed);

/* daemon__async_start without the world outside (mqbridge -C -v,
 * --test): the MQTT client is made offline (it never connects, so
 * nothing is published), the restored states are neither read nor
 * written, and once every setup has finished ready(ud, failed) runs on
 * the loop instead of the start: nothing polls and mqbridge_start is
 * not fired, so no automation runs. Thread: loop, before mqb_core_run. */
int daemon__async_start_dry(struct mqb_core *core, const struct daemon_options *opts,
			    const char *config_path, void (*ready)(void *ud, size_t failed),
			    void *ud, enum daemon_step *failed);

/* "start the MQTT client", ...: for "cannot %s: %s". */
const char *daemon__step_name(enum daemon_step step);

#endif
