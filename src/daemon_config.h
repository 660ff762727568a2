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
};

/* Load and validate path. 0; -EINVAL with every problem in errs (as
 * file:line:column: path: message); -ENOMEM. Thread: any. */
int daemon_config__load(const char *path, struct daemon_config *out, struct mqb_conf_errors *errs);
void daemon_config__fini(struct daemon_config *c);

#endif
