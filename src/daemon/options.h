/* SPDX-License-Identifier: MIT */
/* The daemon's own configuration: the `mqbridge:` and `mqtt:` blocks of the
 * file turned into core and MQTT options (src/config.c), for main.c and for
 * --check-config. */
#ifndef MQB_DAEMON_CONFIG_H
#define MQB_DAEMON_CONFIG_H

#include <stdbool.h>

#include "mqbridge/config.h"
#include "mqbridge/core.h"
#include "mqbridge/log.h"
#include "mqbridge/mqtt.h"

struct config_derived;
struct mqb_platform_desc;
struct mqb_platform_domain;

/* One entity configuration (a legacy `- platform:` element, or an element
 * of a modern block), and once the platforms are checked, its module's
 * domain and the options its schema filled. */
struct conf_item {
	const char *integration, *domain;   /* point into the document or static tables */
	const struct mqb_conf_node *node;
	char *path;                         /* owned */
	const struct mqb_platform_desc *desc;
	const struct mqb_platform_domain *dom;
	void *conf;                         /* owned: dom->conf_size bytes */
};
void conf_items__free(struct conf_item *v, size_t n);

/* Load every module the items name from dirs (in order) and check each
 * item against its domain's schema and check(); fill desc, dom and conf.
 * Returns the number of problems found (added to errs); *oom set when
 * memory ran out. Thread: the main thread, before the core starts
 * (src/platform.c). */
size_t platforms__check(struct mqb_conf_doc *doc, struct conf_item *items, size_t n,
			const char *const *dirs, size_t ndirs, struct mqb_conf_errors *errs,
			bool *oom);

struct daemon_config {
	struct mqb_conf_doc *doc;        /* owns the strings below that come from the file */
	struct config_derived *derived;  /* owns the ones made up (node_id from the host name, ...) */
	const char *node_id;             /* [a-z0-9_-]; default: the host name, sanitised */
	const char *name;                /* device name shown by Home Assistant */
	bool have_log_level;
	enum mqb_log_level log_level;
	struct mqb_core_options core;    /* executor_threads, ... */
	bool have_mqtt;                  /* an mqtt: block (entities alone use the default broker) */
	struct mqb_mqtt_options mqtt;    /* base_topic defaults to mqbridge/<node_id> */
	bool discovery;                  /* true */
	const char *discovery_prefix;    /* "homeassistant" */
	const char *statestream_base;    /* mqtt_statestream: base_topic; NULL: none */
	bool statestream_attributes, statestream_timestamps;
	/* {domains, entities, entity_globs} mappings, or NULL */
	const struct mqb_conf_node *statestream_include, *statestream_exclude;
	struct conf_item *items;         /* owned: every entity configuration */
	size_t nitems;
};

/* Where daemon_config__load looks for integration modules; until this is
 * called (tests of the loader alone), entity items are collected but not
 * checked against their platforms. dirs must outlive the loads. */
void daemon_config__set_platform_dirs(const char *const *dirs, size_t n);

/* Load and validate path. 0; -EINVAL with every problem in errs (as
 * file:line:column: path: message); -ENOMEM. Thread: any. */
int daemon_config__load(const char *path, struct daemon_config *out, struct mqb_conf_errors *errs);
void daemon_config__fini(struct daemon_config *c);

#endif
