/* SPDX-License-Identifier: MIT */
/* Home Assistant's logger services, so the level changes at run time from
 * wherever a service can be called (an automation on an MQTT trigger, a
 * script): logger.set_default_level {level: debug} and logger.set_level
 * {<logger name>: <level>}, with Home Assistant's names and data
 * (homeassistant/components/logger: SERVICE_SET_LEVEL_SCHEMA is
 * {cv.string: level}, levels are Python's, in any case). */
#include "lib/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/services.h"
#include "daemon/logger.h"
#include "daemon/options.h"

#define SUB "main"
#define LEVELS "critical, fatal, error, warning, warn, info, debug or notset"

static int check_level(const json_t *v, const char *key, char *msg, size_t len)
{
	enum mqb_log_level l;
	if (options__ha_log_level(json_string_value(v), &l) == 0)
		return 0;
	snprintf(msg, len, "%s: expected a log level (%s)", key, LEVELS);
	return -EINVAL;
}

static int validate_default(void *ud, const json_t *data, char *msg, size_t len)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)data, key, v)
		if (strcmp(key, "level") != 0) {
			snprintf(msg, len, "extra keys not allowed: %s", key);
			return -EINVAL;
		}
	if (!json_object_get(data, "level")) {
		snprintf(msg, len, "level is required");
		return -EINVAL;
	}
	return check_level(json_object_get(data, "level"), "level", msg, len);
}

static int validate_levels(void *ud, const json_t *data, char *msg, size_t len)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)data, key, v)
		if (check_level(v, key, msg, len))
			return -EINVAL;
	return 0;
}

/* What Home Assistant fires after either service. */
static void changed(struct mqb_core *core)
{
	mqb_bus_async_fire(core, "logging_changed", NULL);
}

static int set_default_level(void *ud, void *arg, void **result)
{
	enum mqb_log_level l;
	const char *name = json_string_value(json_object_get(mqb_service_call_data(arg), "level"));
	if (options__ha_log_level(name, &l))
		return -EINVAL; /* validated: not reached */
	mqb_log_set_level(l);
	MQB_LOG_INFO(SUB, "logger.set_default_level: %s", name);
	changed(ud);
	return 0;
}

static int set_level(void *ud, void *arg, void **result)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)mqb_service_call_data(arg), key, v) {
		enum mqb_log_level l;
		char buf[32];
		const char *sub = options__log_subsystem(key, buf, sizeof buf);
		if (options__ha_log_level(json_string_value(v), &l))
			continue; /* validated: not reached */
		if (!sub) {
			/* Home Assistant takes any logger name; none of ours
			 * logs as this one. */
			MQB_LOG_DEBUG(SUB, "logger.set_level: %s: no subsystem of mqbridge logs as it",
				      key);
			continue;
		}
		int rc = *sub ? mqb_log_set_subsystem_level(sub, l) : 0;
		if (!*sub)
			mqb_log_set_level(l);
		if (rc)
			MQB_LOG_WARNING(SUB, "logger.set_level: %s: %s", key,
					rc == -ENOSPC ? "too many subsystems with a level of their own"
						      : mqb_strerror(rc));
		else
			MQB_LOG_INFO(SUB, "logger.set_level: %s (%s) %s", key, *sub ? sub : "default",
				     json_string_value(v));
	}
	changed(ud);
	return 0;
}

int logger__async_register(struct mqb_core *core)
{
	int rc = mqb_services_async_register(core, "logger", "set_default_level",
					     &MQB_CALLBACK(set_default_level, core),
					     validate_default, NULL);
	if (rc == 0)
		rc = mqb_services_async_register(core, "logger", "set_level",
						 &MQB_CALLBACK(set_level, core), validate_levels,
						 NULL);
	return rc;
}
