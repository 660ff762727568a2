/* SPDX-License-Identifier: MIT */
/* The daemon assembled on a core, in the order the parts need each other:
 * the MQTT client, the entity registry, the bridge between them, then the
 * integrations' platforms (one configured integration x domain each, set
 * up by the loader), whose entities start polling once every setup is
 * done. main.c calls it; tests call it in-process. */
#include "lib/internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hass.h"
#include "daemon/daemon.h"
#include "daemon/logger.h"
#include "daemon/notices.h"
#include "daemon/loader.h"
#include "daemon/options.h"
#include "daemon/reload.h"
#include "ha/bridge.h"
#include "ha/entity_impl.h"
#include "ha/integration.h"
#include "ha/restore_impl.h"
#include "mqbridge/coro.h"
#include "mqbridge/future.h"
#include "mqtt/client.h"

/* The start-up's own log lines keep main's tag: they are the daemon's. */
#define SUB "main"

/* The configuration file's directory, absolute ("/" when it cannot be
 * resolved). */
static int set_config_dir(struct mqb_core *core, const char *config)
{
	char real[PATH_MAX];
	const char *slash = strrchr(config, '/');
	char *dir = slash ? mqb__strndup(config, slash == config ? 1 : (size_t)(slash - config))
			  : mqb__strdup(".");
	if (!dir)
		return -ENOMEM;
	int rc = entities__set_config_dir(core, realpath(dir, real) ? real : "/");
	mqb__free(dir);
	return rc;
}

/* Every platform's setup has finished: polling starts. */
static void platforms_ready(void *ud, size_t failed)
{
	struct mqb_core *core = ud;
	if (failed)
		MQB_LOG_WARNING(SUB, "%zu configuration item(s) could not be set up (see above)",
				failed);
	MQB_LOG_INFO(SUB, "%zu entities set up", mqb_entities_async_count(core));
	mqb__trim(); /* what setting them up used and let go */
#ifdef MQB_DEBUG
	/* Where start-up allocated, for the tests that fail each allocation
	 * in turn (main.c's MQB_TEST_ALLOC_FAIL). */
	if (getenv("MQB_TEST_ALLOC_FAIL"))
		mqb__alloc_test_report(stderr);
#endif
	entities__async_start(core);
	/* what runs now is what a reload compares the file with */
	reload__async_ready(core);
	/* Home Assistant fires homeassistant_start once its integrations are
	 * set up: automations' start triggers, template entities' first
	 * render. */
	hass__async_fire_start(core);
}

static int start_bridge(struct mqb_core *core, const struct daemon_options *o)
{
	struct bridge_options bo = {
		.base_topic = o->mqtt.base_topic,
		.node_id = o->node_id,
		.name = o->name,
		.discovery = o->discovery,
		.discovery_prefix = o->discovery_prefix,
		.announce_rate = o->announce_rate,
		.device_discovery = o->device_discovery,
		.statestream_base = o->statestream_base,
		.statestream_attributes = o->statestream_attributes,
		.statestream_timestamps = o->statestream_timestamps,
		.statestream_include = o->statestream_include,
		.statestream_exclude = o->statestream_exclude,
	};
	return bridge__async_init(core, &bo);
}

/* ---- restored states --------------------------------------------------------- */

/* The state file's directory: state_dir, relative to the configuration
 * file's directory unless absolute. */
static int start_restore(struct mqb_core *core, const char *dir)
{
	char buf[PATH_MAX];
	char *path = dir[0] == '/' ? (char *)dir
				   : mqb__fmt(buf, sizeof buf, "%s/%s", entities__config_dir(core), dir);
	if (!path)
		return -ENOMEM;
	int rc = restore__async_init(core, path);
	if (path != dir)
		mqb__fmt_free(path, buf);
	return rc;
}

/* A dry start's platforms are set up: nothing polls, mqbridge_start is
 * not fired; its caller looks at what was made. */
struct dry {
	void (*ready)(void *ud, size_t failed);
	void *ud;
};

static void dry_ready(void *ud, size_t failed)
{
	struct dry d = *(struct dry *)ud;
	mqb__free(ud);
	d.ready(d.ud, failed);
}

static int start(struct mqb_core *core, const struct daemon_options *opts,
		 const char *config_path, struct dry *dry, enum daemon_step *failed)
{
	MQB_ASSERT_LOOP(core);
	/* Entities publish through the bridge: with any entity configured,
	 * the default broker is used when no mqtt: block names one. */
	bool mqtt = opts->have_mqtt || opts->nitems || opts->ncomponents;
	enum daemon_step step = DAEMON_MQTT;
	int rc = 0;
	struct mqtt_options mo = opts->mqtt;
	mo.offline = dry != NULL;
	if (mqtt && (rc = mqtt__new(core, &mo)))
		goto out;
	if (!mqtt && !dry)
		MQB_LOG_INFO(SUB, "no mqtt: block and no entities in %s: not connecting to a broker",
			     config_path);
	hass__defer_start(core);
	/* Local times (time triggers, now() in templates) are read in
	 * homeassistant:'s time zone: the process's own from here. */
	hass__set_location(core, &opts->location);
	/* config_path outlives the core (main's argument, a test's buffer);
	 * the reloader applies homeassistant: customize */
	if ((rc = reload__async_init(core, opts, config_path)))
		goto out;
	if (opts->location.time_zone[0]) {
		setenv("TZ", opts->location.time_zone, 1);
		tzset();
	}
	step = DAEMON_ENTITIES;
	if ((rc = entities__init(core, opts->node_id)) || (rc = set_config_dir(core, config_path)))
		goto out;
	step = DAEMON_BRIDGE;
	if (mqtt && (rc = start_bridge(core, opts)))
		goto out;
	/* Home Assistant reads the restored states before any integration
	 * is set up. A dry start neither reads nor writes them: the state
	 * file is the running daemon's. */
	step = DAEMON_RESTORE;
	if (!dry && ((rc = start_restore(core, opts->state_dir)) || (rc = restore__load(core))))
		goto out;
	step = DAEMON_PLATFORMS;
	if ((rc = logger__async_register(core)) || (rc = notices__async_register(core)))
		goto out;
	struct dry *d = NULL;
	if (dry && !(d = mqb__malloc(sizeof *d))) {
		rc = -ENOMEM;
		goto out;
	}
	if (d)
		*d = *dry;
	rc = loader__async_setup(core, opts->items, opts->nitems, opts->components,
				 opts->ncomponents, NULL, d ? dry_ready : platforms_ready,
				 d ? (void *)d : core);
	if (rc)
		mqb__free(d);
out:
	if (rc && failed)
		*failed = step;
	return rc;
}

int daemon__async_start(struct mqb_core *core, const struct daemon_options *opts,
			const char *config_path, enum daemon_step *failed)
{
	return start(core, opts, config_path, NULL, failed);
}

int daemon__async_start_dry(struct mqb_core *core, const struct daemon_options *opts,
			    const char *config_path, void (*ready)(void *ud, size_t failed),
			    void *ud, enum daemon_step *failed)
{
	return start(core, opts, config_path, &(struct dry){ready, ud}, failed);
}

const char *daemon__step_name(enum daemon_step step)
{
	switch (step) {
	case DAEMON_MQTT:
		return "start the MQTT client";
	case DAEMON_ENTITIES:
		return "start the entity registry";
	case DAEMON_BRIDGE:
		return "start the bridge";
	case DAEMON_RESTORE:
		return "keep the restored states";
	case DAEMON_PLATFORMS:
		return "set up the platforms";
	}
	return "start";
}
