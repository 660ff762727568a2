/* SPDX-License-Identifier: MIT */
/* What the automation and script integrations share (compiled into both):
 * an entity that holds a script's runs, with Home Assistant's run options
 * (mode, max, max_exceeded), its attributes (last_triggered, mode,
 * current, max), its state written once per start, and the start-up
 * warning about services no integration registers; the keys of either
 * generation; and a domain's reload service. */
#ifndef MQB_PLATFORMS_SCRIPT_UTIL_H
#define MQB_PLATFORMS_SCRIPT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "mqbridge/config.h"
#include "mqbridge/log.h"
#include "mqbridge/script.h"

struct mqb_core;
struct mqb_entity;
struct mqb_future;
struct mqb_integration;
struct mqb_service_call;

/* mode, max and max_exceeded as Home Assistant's make_script_schema
 * reads them. */
struct su_mode {
	enum mqb_script_mode mode;
	unsigned max;
	enum mqb_log_level max_exceeded;
	bool silent;
};

/* Read them from an automation's or a script's mapping, each problem an
 * error at its place (mode not one of the four, max below 2, a
 * max_exceeded that is no log level nor silent). Returns the errors
 * found; *out holds the defaults for what is missing or wrong. */
size_t su_mode_read(const struct mqb_conf_node *node, const char *path,
		    struct mqb_conf_errors *errs, struct su_mode *out);

/* An entity holding a script's runs: what the automation and script
 * entities have in common. The owner fills e, script and mode, and
 * passes su_on_change and the holder as the script's on_change and ud. */
struct su_holder {
	struct mqb_entity *e;
	struct mqb_script *script;
	struct su_mode mode;
	double last_triggered;    /* Unix time; NAN: never */
	bool starting;            /* inside su_start: the start writes once */
	bool removed;             /* going away: writes nothing more */
	bool write_queued;        /* su_write_soon's write is on its way */
	struct mqb_core *core;
	/* The owner's reference count, which a queued write holds one of, and
	 * its release. */
	unsigned *refs;
	void (*unref)(struct su_holder *h);
	/* The state to write: "on"/"off" (automation: enabled; script:
	 * running), and attributes of its own after the common ones (an
	 * automation's id). Called on the loop at each write. */
	const char *(*state)(struct su_holder *h);
	void (*attributes)(struct su_holder *h, json_t *attrs);
};

/* Write h's state and attributes: last_triggered, mode, current and max
 * (queued and parallel only), then its own, as Home Assistant's
 * extra_state_attributes. Thread: loop. */
void su_write(struct su_holder *h);
/* su_write once what this loop pass does is done: a run that starts and
 * ends in one pass (most do) is one write, one state_changed and one
 * publish of the attributes, not two. Thread: loop. */
void su_write_soon(struct su_holder *h);
/* The script's on_change: runs started, queued or ended (written soon).
 * Thread: loop. */
void su_on_change(void *ud, struct mqb_script *s);
/* Start a run of h's script with variables (taken) for call (NULL: not
 * for a service call that waits), as mqb_script_async_run_call; when it
 * is accepted last_triggered is now and the state is written soon.
 * Returns what the start returned. Thread: loop. */
int su_start(struct mqb_core *core, struct su_holder *h, json_t *variables,
	     const struct mqb_service_call *call, struct mqb_future **out);

/* Restore what h keeps across a restart and opt it in (its async_added):
 * last_triggered, from the last state's attribute. Returns that last
 * state's value ("on", "off") or NULL, for the caller's own use. 0 in
 * *rc, or -ENOMEM. Thread: loop. */
const char *su_restore(struct su_holder *h, int *rc);

/* Whether a string anywhere in raw (a configuration as JSON) holds word:
 * a template can name a variable only by writing its name, so one that
 * no string mentions (`this`) need not be made for each run. Thread: any. */
bool su_mentions(const json_t *raw, const char *word);

/* Home Assistant's `this`: the entity's state as a template sees it
 * (mqb_state_to_json), or null before its first write. A new reference
 * (NULL on ENOMEM). Thread: loop. */
json_t *su_this(struct mqb_core *core, struct mqb_entity *e);

/* Warn, once per action, about each service s calls by a fixed name
 * that no integration registers: "<who>: <path>: action <d>.<s> is not
 * registered by any integration" (a run that reaches it fails there).
 * Call it once every integration is set up. Thread: loop. */
void su_warn_unknown_services(struct mqb_core *core, const struct mqb_script *s,
			      const char *who);

/* The value of key or of its other generation (trigger/triggers,
 * condition/conditions, action/actions), NULL when neither is there;
 * both is an error in Home Assistant's words ("Cannot specify both
 * 'trigger' and 'triggers'. Please use 'triggers' only."). */
const struct mqb_conf_node *su_either(const struct mqb_conf_node *node, const char *old_key,
				      const char *new_key, const char *path,
				      struct mqb_conf_errors *errs, size_t *found);

/* An automation's (or a trigger-based template block's) triggers,
 * conditions and actions in either generation, NULL when absent, each
 * with its path under the key it was given as ("automation[0].trigger"). */
struct su_parts {
	const struct mqb_conf_node *triggers, *conditions, *actions;
	char tpath[256], cpath[256], apath[256];
};
/* Fill p from node at path; returns the errors found (both keys of a
 * pair given). */
size_t su_read_parts(const struct mqb_conf_node *node, const char *path,
		     struct mqb_conf_errors *errs, struct su_parts *p);


/* path + suffix ("automation[0]" ".triggers"), for errors. */
const char *su_path(char *buf, size_t len, const char *path, const char *suffix);

/* Register <domain>.reload: reads the configuration file again and hands
 * the component its block (mqb_integration_async_reload), then fires
 * <domain>_reloaded. Thread: loop. */
int su_register_reload(struct mqb_integration *in);

/* Whether node (the configuration an entity was made from, read again by
 * a reload) is what raw was made from. Thread: any. */
bool su_same_config(const json_t *raw, const struct mqb_conf_node *node);

#endif
