/* SPDX-License-Identifier: MIT */
/* A test-only integration: entities of every controllable domain whose
 * state comes from their configuration and whose commands simply set it
 * (optimistic), so t/test_bridge.c sees the bridge alone at work. */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/platform.h"

struct conf {
	const char *name, *object_id, *unique_id, *state, *unit, *device_class, *icon;
	const char *state_class;
	const char *device;     /* a device of its own, by that name and id */
	double scan_interval;
	bool unavailable;
	const struct mqb_conf_node *attributes;
	double blocking_poll;   /* seconds a blocking update takes; 0: async_update */
};

#define C(f) .offset = offsetof(struct conf, f), .stored = true
static const struct mqb_schema_key keys[] = {
	{.key = "name", .type = MQB_S_STRING, C(name)},
	{.key = "object_id", .type = MQB_S_STRING, C(object_id)},
	{.key = "unique_id", .type = MQB_S_STRING, C(unique_id)},
	{.key = "state", .type = MQB_S_STRING, C(state)},
	{.key = "unit_of_measurement", .type = MQB_S_STRING, C(unit)},
	{.key = "device_class", .type = MQB_S_STRING, C(device_class)},
	{.key = "state_class", .type = MQB_S_STRING, C(state_class)},
	{.key = "icon", .type = MQB_S_STRING, C(icon)},
	{.key = "unavailable", .type = MQB_S_BOOL, .def = "false", C(unavailable)},
	{.key = "scan_interval", .type = MQB_S_DURATION, .def = "0", C(scan_interval)},
	{.key = "attributes", .type = MQB_S_ANY, C(attributes)},
	{.key = "device", .type = MQB_S_STRING, C(device)},
	{.key = "blocking_poll", .type = MQB_S_DURATION, .def = "0", C(blocking_poll)},
};
static const struct mqb_schema schema = MQB_SCHEMA("testing", keys);

/* Commands: the state the service asks for, as Home Assistant would show it. */
static int command(struct mqb_entity *e, void *priv, const char *service, const json_t *data)
{
	(void)priv;
	char buf[64];
	const char *state = NULL;
	if (strcmp(service, "turn_on") == 0)
		state = "on";
	else if (strcmp(service, "turn_off") == 0)
		state = "off";
	else if (strcmp(service, "open_cover") == 0)
		state = "open";
	else if (strcmp(service, "close_cover") == 0)
		state = "closed";
	else if (strcmp(service, "stop_cover") == 0)
		state = "stopped";
	else if (strcmp(service, "press") == 0)
		state = "pressed";
	else if (strcmp(service, "set_value") == 0) {
		snprintf(buf, sizeof buf, "%g", json_number_value(json_object_get(data, "value")));
		state = buf;
	} else if (strcmp(service, "select_option") == 0)
		state = json_string_value(json_object_get(data, "option"));
	else
		return -ENOTSUP;
	json_t *b = json_object_get(data, "brightness");
	if (b)
		mqb_entity_async_set_attributes(e, json_pack("{sO}", "brightness", b));
	mqb_entity_async_set_state(e, state);
	return mqb_entity_async_write(e);
}

/* Polled entities count their updates. */
static int update(struct mqb_entity *e, void *priv)
{
	int *n = priv;
	char buf[32];
	snprintf(buf, sizeof buf, "%d", ++*n);
	mqb_entity_async_set_state(e, buf);
	return mqb_entity_async_write(e);
}

/* A blocking update in the pool: counts, takes its time, and reports how
 * many updates of the platform ran at once (parallel_updates says 1). */
struct blocking {
	int n;
	double seconds;
};
static atomic_int running, most;

static int blocking_update(void *priv, struct mqb_entity_update *u)
{
	struct blocking *b = priv;
	int now = atomic_fetch_add(&running, 1) + 1;
	for (int m = atomic_load(&most); now > m && !atomic_compare_exchange_weak(&most, &m, now);)
		;
	struct timespec ts = {(time_t)b->seconds, (long)((b->seconds - (time_t)b->seconds) * 1e9)};
	nanosleep(&ts, NULL);
	atomic_fetch_sub(&running, 1);
	char buf[32];
	snprintf(buf, sizeof buf, "%d", ++b->n);
	u->state = strdup(buf);
	u->attributes = json_pack("{si}", "most_at_once", atomic_load(&most));
	return 0;
}

static const struct mqb_entity_ops command_ops = {.async_command = command};
static const struct mqb_entity_ops polled_ops = {.async_update = update, .free = free};
static const struct mqb_entity_ops blocking_ops = {.update = blocking_update, .free = free};

/* Button and number entities are added from the pool, the others on the
 * loop: both of Home Assistant's setups. */
static int setup_blocking(struct mqb_platform *p, const void *conf_, const char *path)
{
	(void)path;
	const struct conf *c = conf_;
	struct mqb_entity_info info = {.name = c->name, .object_id = c->object_id,
				       .unique_id = c->unique_id, .state = c->state};
	return mqb_platform_add_entity(p, &info, &command_ops, NULL, NULL);
}

static int setup(struct mqb_platform *p, const void *conf_, const char *path)
{
	(void)path;
	const struct conf *c = conf_;
	json_t *attrs = NULL;
	if (c->attributes) {
		attrs = json_object();
		for (size_t i = 0; i < mqb_conf_len(c->attributes); i++)
			json_object_set_new(attrs, mqb_conf_scalar(mqb_conf_key(c->attributes, i), NULL),
					    json_string(mqb_conf_scalar(mqb_conf_value(c->attributes, i),
									NULL)));
	}
	json_t *disc = NULL;
	if (strcmp(mqb_platform_domain(p), "select") == 0)
		disc = json_pack("{s[sss]}", "options", "low", "mid", "high");
	else if (strcmp(mqb_platform_domain(p), "light") == 0)
		disc = json_pack("{sbs[s]}", "brightness", 1, "supported_color_modes", "brightness");
	else if (strcmp(mqb_platform_domain(p), "cover") == 0)
		disc = json_pack("{sisi}", "position_open", 100, "position_closed", 0);
	if (c->device) {
		if (!disc)
			disc = json_object();
		json_object_set_new(disc, "device", json_pack("{s[s]ss}", "identifiers", c->device,
							      "name", c->device));
	}
	struct mqb_entity_info info = {
		.name = c->name,
		.object_id = c->object_id,
		.unique_id = c->unique_id,
		.state = c->state,
		.unit_of_measurement = c->unit,
		.device_class = c->device_class,
		.state_class = c->state_class,
		.icon = c->icon,
		.unavailable = c->unavailable,
		.scan_interval = c->scan_interval,
		.discovery = disc,
	};
	bool polled = c->scan_interval > 0;
	void *count = !polled ? NULL
		      : c->blocking_poll > 0 ? calloc(1, sizeof(struct blocking))
					     : calloc(1, sizeof(int));
	if (count && c->blocking_poll > 0)
		((struct blocking *)count)->seconds = c->blocking_poll;
	bool sensor = strcmp(mqb_platform_domain(p), "sensor") == 0 ||
		      strcmp(mqb_platform_domain(p), "binary_sensor") == 0;
	struct mqb_entity *e = NULL;
	const struct mqb_entity_ops *ops = polled ? (c->blocking_poll > 0 ? &blocking_ops
									  : &polled_ops)
						   : sensor ? NULL
							    : &command_ops;
	int rc = mqb_platform_async_add_entity(p, &info, ops, count, &e);
	json_decref(disc);
	if (rc == 0 && attrs) {
		mqb_entity_async_set_attributes(e, attrs);
		attrs = NULL;
		mqb_entity_async_write(e);
	}
	json_decref(attrs);
	return rc;
}

#define DOMAIN(d) \
	{ .domain = d, .schema = &schema, .conf_size = sizeof(struct conf), \
	  .async_setup_platform = setup }
#define BLOCKING(d) \
	{ .domain = d, .schema = &schema, .conf_size = sizeof(struct conf), \
	  .setup_platform = setup_blocking }
static const struct mqb_platform_domain domains[] = {
	DOMAIN("sensor"), DOMAIN("binary_sensor"), DOMAIN("switch"), DOMAIN("light"),
	DOMAIN("cover"),  BLOCKING("button"),      BLOCKING("number"), DOMAIN("select"),
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = "testing",
	.domains = domains,
	.ndomains = MQB_ARRAY_SIZE(domains),
};
