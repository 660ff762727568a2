/* SPDX-License-Identifier: MIT */
/* Scripts: Home Assistant's helpers/script.py. An action sequence is
 * compiled once from configuration (every action of DESIGN §10, its
 * templates and durations checked at their file:line:column) and run as a
 * coroutine on the loop: a delay awaits a timer, wait_template and
 * wait_for_trigger await the state machine and the bus, parallel awaits
 * its branches; nothing blocks a thread and nothing polls. A script holds
 * its runs under a mode (single, restart, queued, parallel); stopping it
 * ends every wait at once and each run unwinds through its own cleanup.
 * The automation, script and template integrations are built on this. */
#ifndef MQBRIDGE_SCRIPT_H
#define MQBRIDGE_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "mqbridge/config.h"
#include "mqbridge/log.h"

struct mqb_core;
struct mqb_future;
struct mqb_script;
struct mqb_script_variables;

enum mqb_script_mode {
	MQB_SCRIPT_SINGLE,   /* a second start is refused (logged at max_exceeded) */
	MQB_SCRIPT_RESTART,  /* the running run is stopped and unwinds first */
	MQB_SCRIPT_QUEUED,   /* runs one after another, at most max waiting or running */
	MQB_SCRIPT_PARALLEL, /* at most max at once */
};

/* How a script runs; copied by mqb_script_compile. */
struct mqb_script_options {
	/* Who the log lines name, "automation.porch_light" or "script.wake":
	 * a failing action is logged once as "<name>: <path>: <error>", with
	 * the action's path below the script's ("action[2].choose[0].
	 * sequence[1]"). */
	const char *name;
	enum mqb_script_mode mode;       /* default single */
	unsigned max;                    /* queued and parallel; 0: 10 */
	/* The level at which a refused start is logged (Home Assistant's
	 * max_exceeded: WARNING by default); max_exceeded_silent: not at all. */
	enum mqb_log_level max_exceeded;
	bool max_exceeded_silent;
	/* Called on the loop whenever a run starts, is queued or ends (an
	 * entity's state and `current` follow it). May be NULL. */
	void (*on_change)(void *ud, struct mqb_script *s);
	void *ud;
	/* The script's own `variables:` (a script's; an automation renders
	 * its own before its conditions): rendered into each run's variables
	 * as defaults, names the caller passed winning, as Home Assistant's
	 * Script.async_run does. Not copied: it must outlive the script. May
	 * be NULL. */
	const struct mqb_script_variables *variables;
	/* A run's future answers with the run's variables as they are when
	 * it ends (its top scope: what a `variables` step or a
	 * response_variable assigned) instead of its stop response: what a
	 * trigger-based template entity renders with, as Home Assistant's
	 * ScriptRunResult.variables. */
	bool respond_variables;
	void *reserved[2];
};

/* A compiled sequence with its runs; owned by whoever compiled it. */

/* Compile node: a list of actions (or one action mapping), in either
 * generation of keys (`service:`/`action:`, `data_template:`), at path
 * ("automation[0].action", "script.wake.sequence"). Every problem is
 * added to errs at its position (an unknown action key, a bad duration, a
 * template that does not compile); returns how many were found. *out (may
 * be NULL: check only, as `mqbridge -C` does) gets the script when none
 * were. opt may be NULL for the defaults. Thread: any. */
size_t mqb_script_compile(const struct mqb_conf_node *node, const char *path,
			  const struct mqb_script_options *opt, struct mqb_conf_errors *errs,
			  struct mqb_script **out);
/* Free a script that has no runs (stop it and wait for that first).
 * Accepts NULL. Thread: loop (or any, if it never ran). */
void mqb_script_free(struct mqb_script *s);

/* Start a run with variables (an object: trigger, this, fields, ...;
 * the reference is taken in every case; NULL means {}), under the
 * script's mode. 0 with *out (may be NULL) a future settled when the run
 * ends: status 0 and the run's response (a json_t object, owned by the
 * future: `stop` with response_variable, else {}), also when the run was
 * aborted (a stop with error, a false condition, a bad delay template:
 * logged, and not raised, as in Home Assistant); or the error that ended
 * it (-MQB_E_NOTFOUND an unknown service, -EINVAL bad data or a template
 * error, a handler's own error; -ECANCELED when stopped). -EBUSY when the
 * mode refused the run (logged at max_exceeded), -EINVAL when the
 * script's variables did not render (logged), -ESHUTDOWN, -ENOMEM.
 * Thread: loop. */
int mqb_script_async_run(struct mqb_core *core, struct mqb_script *s, json_t *variables,
			 struct mqb_future **out);

/* Start a run for a service call that waits for it (script.<id>), as
 * mqb_script_async_run does, continuing the blocking call path of the
 * script run that made the call, if one did (Home Assistant's script
 * stack): a restart or queued script already on that path does not start
 * (-EDEADLK, logged as Home Assistant logs "Disallowed recursion
 * detected"), where it would wait for itself or restart itself without
 * end. A single script on the path is refused as already running, a
 * parallel one at its max. call NULL: as mqb_script_async_run.
 * Thread: loop. */
struct mqb_service_call;
int mqb_script_async_run_call(struct mqb_core *core, struct mqb_script *s, json_t *variables,
			      const struct mqb_service_call *call, struct mqb_future **out);

/* Stop every run, queued ones included (script.turn_off, automation
 * turn_off with stop_actions, reload, shutdown): each pending wait ends at
 * once, queued runs never start, and each run's future settles with
 * -ECANCELED. *out (may be NULL) gets a future settled when the last has
 * unwound (NULL if the script never ran). 0 or -ENOMEM. Thread: loop. */
int mqb_script_async_stop(struct mqb_script *s, struct mqb_future **out);

/* Runs started and not yet ended, queued ones included (the `current`
 * attribute). Thread: loop. */
unsigned mqb_script_async_runs(const struct mqb_script *s);
/* Whether a run is executing now (a script entity is `on`). Thread: loop. */
bool mqb_script_async_running(const struct mqb_script *s);

/* Call fn for every service the script may call by a fixed name (a
 * templated name is unknown until it runs), with the action's path: for
 * the start-up warning about services no integration registers. For an
 * action that cannot run here at all (another integration's device
 * action), domain is NULL and service says why. Thread: any. */
void mqb_script_foreach_service(const struct mqb_script *s,
				void (*fn)(void *ud, const char *domain, const char *service,
					   const char *path),
				void *ud);

/* A `variables:` block (a script's, an automation's variables or
 * trigger_variables): names and values with templates anywhere, compiled
 * once. Returns the errors found, as mqb_script_compile. Thread: any. */
size_t mqb_script_variables_compile(const struct mqb_conf_node *node, const char *path,
				    struct mqb_conf_errors *errs,
				    struct mqb_script_variables **out);
void mqb_script_variables_free(struct mqb_script_variables *v); /* accepts NULL */

/* Render v into variables (an object, changed in place): each value in
 * order, seeing variables and the values before it (Home Assistant's
 * ScriptVariables.async_render); as_defaults keeps a name variables
 * already holds (the run's own win). 0; -EINVAL with the template's error
 * in err; -ENOMEM. Thread: loop. */
int mqb_script_variables_async_render(struct mqb_core *core, const struct mqb_script_variables *v,
				      json_t *variables, bool as_defaults, char *err,
				      size_t errlen);

#endif
