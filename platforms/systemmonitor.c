/* SPDX-License-Identifier: MIT */
/* The systemmonitor integration: Home Assistant's legacy `sensor: -
 * platform: systemmonitor` with its `resources` list, one sensor per
 * resource, read from /proc, /sys, statvfs and getifaddrs in the pool. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/config.h"
#include "mqbridge/entity.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/timer.h"

#include "sysmon_read.h"

#define LOG_TAG "systemmonitor"

/* One `sensor: - platform: systemmonitor` item. */
struct sysmon_conf {
	const struct mqb_conf_node *resources; /* a sequence, one mapping, or NULL */
	double scan_interval;
};

static const struct mqb_schema_key resource_keys[] = {
	{.key = "type", .type = MQB_S_ENUM, .required = true, .choices = sysmon_type_keys,
	 .doc = "what to monitor: one of Home Assistant's resource types"},
	{.key = "arg", .type = MQB_S_STRING,
	 .doc = "the mount point, interface or process name the type needs"},
};
static const struct mqb_schema resource_schema =
	MQB_SCHEMA("sensor.systemmonitor.resources", resource_keys);
static const struct mqb_schema_key resource_item[] = {
	{.key = "resource", .type = MQB_S_MAP, .sub = &resource_schema},
};
static const struct mqb_schema resource_list =
	MQB_SCHEMA("sensor.systemmonitor.resources[]", resource_item);

#define SC(f) .offset = offsetof(struct sysmon_conf, f), .stored = true
static const struct mqb_schema_key sysmon_keys[] = {
	{.key = "resources", .type = MQB_S_LIST, .sub = &resource_list, SC(resources),
	 .doc = "the resources to monitor, each {type, arg} (default: disk_use of /)"},
	/* Home Assistant's legacy platform polled on its own timer at the
	 * entity component's default, 15 s */
	{.key = "scan_interval", .type = MQB_S_DURATION, .def = "15", .min = 0.1, .max = 31536000,
	 SC(scan_interval), .doc = "seconds between reads"},
};
static const struct mqb_schema sysmon_schema = MQB_SCHEMA("sensor.systemmonitor", sysmon_keys);

/* A resource as configured: its type (-1 if the schema refused it) and
 * argument (NULL when absent). */
struct resource {
	int type;
	const char *arg;
	const struct mqb_conf_node *node;
};

static size_t resource_count(const struct mqb_conf_node *res)
{
	if (!res)
		return 0;
	return mqb_conf_kind(res) == MQB_CONF_SEQ ? mqb_conf_len(res) : 1;
}

static struct resource resource_at(const struct mqb_conf_node *res, size_t i)
{
	const struct mqb_conf_node *n = mqb_conf_kind(res) == MQB_CONF_SEQ ? mqb_conf_item(res, i)
									     : res;
	struct resource r = {.type = -1, .node = n};
	if (!n || mqb_conf_kind(n) != MQB_CONF_MAP)
		return r;
	const struct mqb_conf_node *t = mqb_conf_get(n, "type");
	const struct mqb_conf_node *a = mqb_conf_get(n, "arg");
	if (t && mqb_conf_kind(t) == MQB_CONF_SCALAR)
		r.type = sysmon_type_find(mqb_conf_scalar(t, NULL));
	if (a && mqb_conf_kind(a) == MQB_CONF_SCALAR)
		r.arg = mqb_conf_scalar(a, NULL);
	return r;
}

/* The argument a resource is read with: Home Assistant's "" when absent,
 * "/" for the disk types. */
static const char *effective_arg(const struct resource *r)
{
	if (r->arg)
		return r->arg;
	if (r->type == SYSMON_DISK_FREE || r->type == SYSMON_DISK_USE ||
	    r->type == SYSMON_DISK_USE_PERCENT)
		return "/";
	return "";
}

/* What the table cannot say: the types that need an arg have one, and no
 * resource is listed twice (both would be the same entity). */
static void sysmon_check(const void *conf_, const struct mqb_conf_node *node, const char *path,
			 struct mqb_conf_errors *errs)
{
	const struct sysmon_conf *conf = conf_;
	(void)node;
	size_t n = resource_count(conf->resources);
	for (size_t i = 0; i < n; i++) {
		struct resource r = resource_at(conf->resources, i);
		if (r.type < 0)
			continue; /* the schema has said why */
		char where[256];
		if (mqb_conf_kind(conf->resources) == MQB_CONF_SEQ)
			snprintf(where, sizeof where, "%s.resources[%zu]", path, i);
		else
			snprintf(where, sizeof where, "%s.resources", path);
		const struct sysmon_type_desc *d = &sysmon_types[r.type];
		if (d->mandatory_arg && !r.arg) {
			mqb_conf_error_at(errs, r.node, where,
					  "type '%s' needs an 'arg' (the %s)", d->key, d->arg_doc);
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			struct resource o = resource_at(conf->resources, j);
			if (o.type == r.type && strcmp(effective_arg(&o), effective_arg(&r)) == 0) {
				mqb_conf_error_at(errs, r.node, where,
						  "the same resource as resources[%zu] (type '%s', "
						  "arg '%s')",
						  j, d->key, effective_arg(&r));
				break;
			}
		}
	}
}

/* ---- entities ------------------------------------------------------------- */

struct sysmon_entity {
	struct sysmon_res res;
	char name[192];
	/* The source was missing at the last read: logged once, until back.
	 * Only update() touches it, and one entity's updates never overlap. */
	bool missing;
};

static const struct sysmon_paths real_paths = {
	.proc = "/proc",
	.sys = "/sys",
	.first_cpu_interval = 0.25,
};

static int sysmon_update(void *priv, struct mqb_entity_update *u)
{
	struct sysmon_entity *s = priv;
	char state[256], why[512];
	int rc = sysmon_res_read(&s->res, &real_paths, mqb_time_monotonic(), state, sizeof state, why,
				 sizeof why);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		if (!s->missing)
			MQB_LOG_WARNING(LOG_TAG, "%s: %s; unavailable until it is back", s->name, why);
		s->missing = true;
		u->available = 0;
		return 0;
	}
	if (s->missing)
		MQB_LOG_INFO(LOG_TAG, "%s: readable again", s->name);
	s->missing = false;
	u->available = 1;
	if (rc == 1) {
		u->state = strdup(state);
		if (!u->state)
			return -ENOMEM;
	}
	return 0;
}

static const struct mqb_entity_ops sysmon_ops = {
	.update = sysmon_update,
	.free = free,
};

static int add_resource(struct mqb_platform *p, const struct sysmon_conf *conf,
			const struct resource *r, const char *path)
{
	const struct sysmon_type_desc *d = &sysmon_types[r->type];
	struct sysmon_entity *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->res.type = (enum sysmon_type)r->type;
	s->res.arg = effective_arg(r);
	/* Home Assistant's name: the type's, then the argument ("Disk use
	 * (percent) /", "Network in eth0"), trailing blanks dropped; the
	 * entity id is its slug (sensor.disk_use_percent) */
	snprintf(s->name, sizeof s->name, "%s %s", d->name, s->res.arg);
	size_t len = strlen(s->name);
	while (len > 0 && s->name[len - 1] == ' ')
		s->name[--len] = '\0';
	struct mqb_entity_info info = {
		.name = s->name,
		.icon = d->icon,
		.device_class = d->device_class,
		.state_class = d->state_class,
		.unit_of_measurement = d->unit,
		.scan_interval = conf->scan_interval,
	};
	int rc = mqb_platform_async_add_entity(p, &info, &sysmon_ops, s, NULL);
	if (rc < 0)
		MQB_LOG_ERROR(LOG_TAG, "%s: cannot add %s: %s", path, d->key, strerror(-rc));
	return rc;
}

static int sysmon_setup(struct mqb_platform *p, const void *conf_, const char *path)
{
	const struct sysmon_conf *conf = conf_;
	if (!conf->resources) {
		/* Home Assistant's default: resources: {type: disk_use} */
		struct resource r = {.type = SYSMON_DISK_USE};
		return add_resource(p, conf, &r, path);
	}
	int first_err = 0;
	size_t n = resource_count(conf->resources);
	for (size_t i = 0; i < n; i++) {
		struct resource r = resource_at(conf->resources, i);
		if (r.type < 0)
			continue; /* cannot happen after the schema's check */
		int rc = add_resource(p, conf, &r, path);
		if (rc < 0 && !first_err)
			first_err = rc;
	}
	return first_err;
}

static const struct mqb_platform_domain sysmon_domains[] = {
	{
		.domain = "sensor",
		.schema = &sysmon_schema,
		.conf_size = sizeof(struct sysmon_conf),
		.check = sysmon_check,
		.async_setup_platform = sysmon_setup,
	},
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = "systemmonitor",
	.domains = sysmon_domains,
	.ndomains = MQB_ARRAY_SIZE(sysmon_domains),
};
