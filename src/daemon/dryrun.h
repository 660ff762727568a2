/* SPDX-License-Identifier: MIT */
/* The daemon set up without a broker (dryrun.c): what `mqbridge -C -v`
 * lists and what `mqbridge --test` polls and prints. */
#ifndef MQB_DAEMON_DRYRUN_H
#define MQB_DAEMON_DRYRUN_H

#include <stdio.h>

struct daemon_options;

enum dryrun_mode {
	/* -C -v: one line per object the configuration makes, grouped
	 * (bridge, entity, helper, automation, script), by entity id within
	 * a group, then a count */
	DRYRUN_LIST,
	/* --test: every polled entity updated once, then every entity's
	 * "entity_id state {attributes}" */
	DRYRUN_TEST,
};

/* Set the daemon up as main() would from opts (loaded from config_path),
 * but offline (daemon__async_start_dry: no broker, no state file, no
 * automation runs), write what mode asks for to out, and tear it all down.
 * 0, or a negative errno (said on stderr or in the log). Thread: the main
 * thread, with no core running. */
int dryrun__run(const struct daemon_options *opts, const char *config_path,
		enum dryrun_mode mode, FILE *out);

#endif
