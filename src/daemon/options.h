/* SPDX-License-Identifier: MIT */
/* The daemon's options: what the configuration file (src/config/ reads
 * it) says of the daemon itself, its `mqbridge:` and `mqtt:` blocks turned
 * into core and MQTT options, and the entity configurations it holds for
 * the integration loader; for main.c and --check-config. */
#ifndef MQB_DAEMON_OPTIONS_H
#define MQB_DAEMON_OPTIONS_H

#include <stdbool.h>

#include "mqbridge/config.h"
#include "mqbridge/core.h"
#include "mqbridge/location.h"
#include "mqbridge/log.h"
#include "mqtt/client.h"

struct options_derived;
struct conf_item;

/* A subsystem's own log level, from logger: logs: ("mqtt" for
 * mqbridge.mqtt or homeassistant.components.mqtt). */
struct daemon_log_level {
	char subsystem[32];
	enum mqb_log_level level;
};
struct conf_component;

struct daemon_options {
	struct mqb_conf_doc *doc;        /* owns the strings below that come from the file */
	struct options_derived *derived; /* owns the ones made up (node_id from the host name, ...) */
	const char *node_id;             /* [a-z0-9_-]; default: the host name, sanitised */
	const char *name;                /* device name shown by Home Assistant */
	struct mqb_location location;    /* homeassistant: latitude, ..., time_zone */
	/* homeassistant: customize, customize_domain, customize_glob; NULL: none */
	const struct mqb_conf_node *customize, *customize_domain, *customize_glob;
	bool have_log_level;             /* mqbridge: log_level, else logger: default */
	enum mqb_log_level log_level;
	const struct daemon_log_level *log_levels; /* logger: logs:, owned by derived */
	size_t nlog_levels;
	/* "recorder (configuration.yaml:3:1), rest (...)": what Home Assistant
	 * has and mqbridge does not, skipped, for one warning; NULL: none */
	const char *skipped;
	struct mqb_core_options core;    /* executor_threads, ... */
	const char *state_dir;           /* restored states' directory (STATEDIR); may be relative */
	bool have_mqtt;                  /* an mqtt: block (entities alone use the default broker) */
	struct mqtt_options mqtt;    /* base_topic defaults to mqbridge/<node_id> */
	bool discovery;                  /* true */
	const char *discovery_prefix;    /* "homeassistant" */
	double announce_rate;            /* messages/s while announcing everything; 0: no limit */
	bool device_discovery;           /* discovery_mode: device */
	const char *statestream_base;    /* mqtt_statestream: base_topic; NULL: none */
	bool statestream_attributes, statestream_timestamps;
	/* {domains, entities, entity_globs} mappings, or NULL */
	const struct mqb_conf_node *statestream_include, *statestream_exclude;
	struct conf_item *items;         /* owned: every entity configuration (daemon/loader.h) */
	size_t nitems;
	struct conf_component *components; /* owned: every component's block (daemon/loader.h) */
	size_t ncomponents;
};

/* Where options__load looks for integration modules; until this is
 * called (tests of the options alone), entity items are collected but not
 * checked against their platforms. dirs must outlive the loads. */
void options__set_platform_dirs(const char *const *dirs, size_t n);

/* Load and validate the configuration file at path. 0; -EINVAL with every
 * problem in errs (as file:line:column: path: message); -ENOMEM.
 * Thread: any. */
int options__load(const char *path, struct daemon_options *out, struct mqb_conf_errors *errs);
void options__fini(struct daemon_options *o); /* accepts NULL */
/* A level as Home Assistant's logger takes it (Python's names, in any
 * case: critical and fatal are error, notset is debug). 0 or -EINVAL.
 * Thread: any. */
int options__ha_log_level(const char *name, enum mqb_log_level *out);
/* The subsystem a Python logger name stands for, in buf (len bytes):
 * homeassistant.components.mqtt and mqbridge.mqtt are "mqtt"; mqbridge,
 * homeassistant and homeassistant.components are "" (every subsystem);
 * NULL for a name none of ours logs as. Thread: any. */
const char *options__log_subsystem(const char *name, char *buf, size_t len);
/* Log a warning, once each, for what the options make unsafe: a file
 * holding secrets (secrets.yaml, the TLS key) that other users may read,
 * TLS without verification (tls: insecure), running as root; and one
 * naming what a file copied from Home Assistant has that mqbridge does
 * not (skipped). Returns how many. Thread: any. */
unsigned options__warn(const struct daemon_options *o);

/* The schema tables of the daemon's own blocks (mqbridge:, mqtt:,
 * mqtt.tls, mqtt_statestream:), for the tests that hold them against the
 * man page. Thread: any. */
size_t options__schemas(const struct mqb_schema *const **out);

#endif
