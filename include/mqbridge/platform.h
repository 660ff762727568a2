/* SPDX-License-Identifier: MIT */
/* Integrations as loadable modules: each platforms/NAME.c is built as
 * NAME.so and exports one descriptor, checked for its API version when the
 * configuration first names it (Home Assistant's loader). A descriptor
 * lists the entity domains the integration provides, each with its option
 * schema and its setup, and the integration's own top-level block if it
 * has one (a component: automation:, input_boolean:). */
#ifndef MQBRIDGE_PLATFORM_H
#define MQBRIDGE_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "mqbridge/config.h"
#include "mqbridge/entity.h"

struct mqb_core;
struct mqb_template;
struct mqb_future;

/* The API a module is built against; the loader refuses a module built
 * for another (got N, expected M). Bumped when a layout a module shares
 * changes or a function goes; new functions and new uses of reserved
 * fields keep it. What each version brought:
 *   2: text.h (UTF-8, strip, Python's repr and round, Home Assistant's
 *      number text, isoformat) and timer.h (call later, call at, every
 *      interval, wall-clock boundaries), in place of the copies and the
 *      libev watchers modules had; mqb_core_async_data, per-core storage;
 *      mqb_core_async_loop removed (libev is no longer part of the API),
 *      and what only the daemon uses: the YAML loader (mqb_conf_load*,
 *      mqb_conf_doc_free, struct mqb_conf_limits), mqb_schema_all, the
 *      MQTT client's construction (mqb_mqtt_new, mqb_mqtt_options);
 *      reserved fields at the end of mqb_platform_domain,
 *      mqb_platform_desc, mqb_entity_ops, mqb_entity_info, mqb_schema_key
 *      and mqb_tpl_vars; MQB_SCHEMA and MQB_ARRAY_SIZE; the daemon exports
 *      only the functions of these headers, a module only its descriptor.
 *      Components: a module's own top-level block (mqb_component,
 *      mqb_platform_desc.component, struct mqb_integration). Added
 *      since, within 2: restore.h (state that survives a restart),
 *      collection.h (the helpers' blocks of ids), mqb_cv_time_period and
 *      mqb_cv_time (config.h), mqb_parse_datetime, mqb_local_utcoffset
 *      and mqb_parse_time_period_str (text.h),
 *      mqb_sun_next_altitude (sun.h), mqb_conf_equal (config.h).
 *   1: the first. */
#define MQB_PLATFORM_API_VERSION 2
/* The symbol every module exports: const struct mqb_platform_desc. */
#define MQB_PLATFORM_SYMBOL "mqb_platform_descriptor"

/* One configured platform: an integration's domain (mqtt's sensors, say)
 * for one configuration item (an element of `mqtt: sensor:`), as Home
 * Assistant's EntityPlatform; a component's platform of a domain is
 * shared by all it adds. The entities added through an item's platform
 * are the item's: a reload that drops or changes it removes them. Owned
 * by the core. */
struct mqb_platform;

struct mqb_platform_domain {
	const char *domain;             /* "sensor" */
	/* One configuration item (a list element of `mqtt: sensor:`, or a
	 * legacy `sensor: - platform: NAME` element without its platform
	 * key); the loader checks it and fills conf_size bytes. */
	const struct mqb_schema *schema;
	size_t conf_size;
	/* Checks the table cannot express (one of two keys, a template's
	 * names); add errors with mqb_conf_error_at. May be NULL.
	 * Thread: any. */
	void (*check)(const void *conf, const struct mqb_conf_node *node, const char *path,
		      struct mqb_conf_errors *errs);
	/* Exactly one of these sets up one item, adding its entities:
	 * setup_platform runs in the pool and uses mqb_platform_add_entity;
	 * async_setup_platform runs on the loop as a COROUTINE and uses
	 * mqb_platform_async_add_entity. conf and path live as long as the
	 * entities added through p: until a reload drops or changes the item
	 * and they are removed and freed, else as long as the core. 0 or a
	 * negative errno (the item's entities are then missing, logged with
	 * path). */
	int (*setup_platform)(struct mqb_platform *p, const void *conf, const char *path);
	int (*async_setup_platform)(struct mqb_platform *p, const void *conf, const char *path);
	/* Updates of this domain's entities running at once, all items of
	 * it together; 0: Home Assistant's default (1 for blocking update,
	 * unbounded for async_update). */
	unsigned parallel_updates;
	/* Room to grow without a new API version; zero (designated
	 * initialisers leave it so). */
	void *reserved[4];
};

/* An integration's own top-level block, as Home Assistant's async_setup
 * (hass, config) gets it: `automation:`, `script:`, `input_boolean:`,
 * `sun:`. The loader gathers it from the main file, labelled keys
 * ("automation kitchen:") and packages, in file order. */
enum mqb_component_shape {
	/* A list of items (a mapping is a list of one, cv.ensure_list);
	 * labelled keys and packages add their items: automation:. */
	MQB_COMPONENT_LIST,
	/* A mapping of object ids to their options; labelled keys and
	 * packages add their keys, and one given twice is an error naming
	 * both: script:, input_boolean:, timer:. */
	MQB_COMPONENT_MAPPING,
	/* One mapping of options, or nothing (`sun:`); packages merge into it
	 * key by key: mqtt_eventstream:. */
	MQB_COMPONENT_BLOCK,
};

/* One piece of a component's configuration, where it came from. */
struct mqb_component_entry {
	/* MAPPING: the object id and its key's node; otherwise NULL. */
	const char *key;
	const struct mqb_conf_node *key_node;
	/* The item (LIST), the key's value (MAPPING), the block (BLOCK); a
	 * MAPPING value or a BLOCK may be a null node. */
	const struct mqb_conf_node *node;
	/* For errors and logs: "automation[2]", "script.wake",
	 * "mqbridge.packages.garage.automation[0]". */
	const char *path;
};

/* One configured component, as the loader hands it to the module. */
struct mqb_integration;

struct mqb_component {
	enum mqb_component_shape shape;
	/* Check the entries (all of them, in the order found): add every
	 * problem with mqb_conf_error_at, as `mqbridge -C` shows them. May
	 * be NULL. Thread: any. */
	void (*check)(const struct mqb_component_entry *entries, size_t n,
		      struct mqb_conf_errors *errs);
	/* Set the component up from its checked entries: a COROUTINE on the
	 * loop, run with the platforms' setups before mqbridge_start fires.
	 * The entries, their nodes and paths live as long as the core (until
	 * a reload hands new ones). 0 or a negative errno (logged; the
	 * daemon runs on without it). */
	int (*async_setup)(struct mqb_integration *in, const struct mqb_component_entry *entries,
			   size_t n);
	/* Take the block as the configuration file has it now (Home
	 * Assistant's <domain>.reload service, mqb_integration_async_reload):
	 * a COROUTINE on the loop with the new entries, already checked.
	 * Entities and runs of entries that did not change should go on;
	 * the old entries are valid until it returns, not after. NULL: the
	 * component cannot reload. */
	int (*async_reload)(struct mqb_integration *in, const struct mqb_component_entry *entries,
			    size_t n);
	/* Room to grow without a new API version; zero. */
	void *reserved[3];
};

struct mqb_platform_desc {
	unsigned api_version;           /* MQB_PLATFORM_API_VERSION */
	const char *name;               /* "command_line": the file is NAME.so */
	const struct mqb_platform_domain *domains;
	size_t ndomains;                /* MQB_ARRAY_SIZE(domains) */
	/* The integration's own top-level block (its key is name); NULL:
	 * it has none and provides entity platforms only. */
	const struct mqb_component *component;
	/* Room to grow without a new API version; zero (designated
	 * initialisers leave it so). */
	void *reserved[3];
};

/* What a module defines, and the only symbol it exports: declared here
 * visible, so a module built with -fvisibility=hidden (as it should be:
 * its helpers stay its own) still exports its definition. */
extern __attribute__((visibility("default"))) const struct mqb_platform_desc
	mqb_platform_descriptor;

/* Thread: any. */
struct mqb_core *mqb_platform_core(const struct mqb_platform *p);
const char *mqb_platform_integration(const struct mqb_platform *p); /* "mqtt" */
const char *mqb_platform_domain(const struct mqb_platform *p);      /* "sensor" */
/* The daemon's node id (the bridge's device). Thread: any. */
const char *mqb_platform_node_id(const struct mqb_platform *p);
/* The bridge's device name (mqbridge: name, else the node id): what Home
 * Assistant names an entity of that device whose own name is null.
 * Thread: any (set before the platforms are). */
const char *mqb_platform_node_name(const struct mqb_platform *p);

/* The directory of the main configuration file (absolute), where commands
 * run and relative paths start, as in Home Assistant. Thread: any. */
const char *mqb_platform_config_dir(const struct mqb_platform *p);

/* A component's integration in a core. Thread: any. */
struct mqb_core *mqb_integration_core(const struct mqb_integration *in);
const char *mqb_integration_name(const struct mqb_integration *in); /* "automation" */
const char *mqb_integration_node_id(const struct mqb_integration *in);
const char *mqb_integration_config_dir(const struct mqb_integration *in);
/* The platform that adds the component's entities of domain (usually its
 * own name: automation.x), made on first use; NULL on ENOMEM.
 * Thread: loop. */
struct mqb_platform *mqb_integration_async_platform(struct mqb_integration *in,
						     const char *domain);
/* Read the configuration file again (in the pool), check this
 * component's block as at start-up, and hand it to the component's
 * async_reload. *out (may be NULL) gets a future settled with 0 once the
 * component has taken it, or the error: -EINVAL when the file has
 * problems (each logged with its file:line:column; the running block
 * stays), -ENOTSUP without async_reload, -ENOMEM. Thread: loop. */
int mqb_integration_async_reload(struct mqb_integration *in, struct mqb_future **out);

/* Compile a template option that the loader already checked (the schema
 * type MQB_S_TEMPLATE stores its node). 0 with *out (NULL when node is
 * NULL), owned by the caller; -EINVAL (logged with its position) or
 * -ENOMEM. Thread: any. */
int mqb_template_from_conf(const struct mqb_conf_node *node, struct mqb_template **out);

#endif
