/* SPDX-License-Identifier: MIT */
/* An integration built out of tree, as a third party would build one:
 * only the installed headers, found by `pkg-config --cflags mqbridge`
 * (Makefile.am, t/test_module_oot.c). One sensor per configuration item,
 * counting the ticks of a timer; doc/writing-an-integration.md walks
 * through it. */
#include <errno.h>
#include <stdlib.h>

#include "mqbridge/config.h"
#include "mqbridge/core.h"
#include "mqbridge/entity.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"

#define SUB "hello"

/* One configuration item, filled by the loader from the schema. */
struct hello_conf {
	const char *name;
	double interval;
};

#define C(f) .offset = offsetof(struct hello_conf, f), .stored = true
static const struct mqb_schema_key keys[] = {
	{.key = "name", .type = MQB_S_STRING, .required = true, C(name),
	 .doc = "the sensor's name"},
	{.key = "interval", .type = MQB_S_DURATION, .def = "1", .min = 0.001, .max = 86400,
	 C(interval), .doc = "seconds between ticks"},
};
static const struct mqb_schema schema = MQB_SCHEMA("sensor.hello", keys);

/* What the hello sensors of one core share, kept with the core. */
struct shared {
	unsigned sensors;
};

/* One sensor: the entity's private data. */
struct ticker {
	struct mqb_entity *e;
	struct mqb_timer *timer;
	double interval;
	unsigned long ticks;
};

static void tick(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct ticker *k = ud;
	char n[MQB_NUMBER_MAX];
	mqb_format_number((double)++k->ticks, n);
	mqb_entity_async_set_state(k->e, n);
	mqb_entity_async_write(k->e);
}

static int added(struct mqb_entity *e, void *priv)
{
	struct ticker *k = priv;
	k->e = e;
	return mqb_async_track_time_interval(mqb_entity_core(e), k->interval, tick, k, &k->timer);
}

static void will_remove(struct mqb_entity *e, void *priv)
{
	(void)e;
	struct ticker *k = priv;
	mqb_async_timer_stop(k->timer);
}

static void ticker_free(void *priv)
{
	struct ticker *k = priv;
	mqb_async_timer_cancel(k->timer);
	free(k);
}

static const struct mqb_entity_ops ops = {
	.async_added = added,
	.async_will_remove = will_remove,
	.free = ticker_free,
};

/* On the loop, once per configuration item. */
static int setup(struct mqb_platform *p, const void *conf, const char *path)
{
	const struct hello_conf *c = conf;
	struct mqb_core *core = mqb_platform_core(p);
	struct shared *s = mqb_core_async_data(core, SUB);
	if (!s) {
		if (!(s = calloc(1, sizeof *s)))
			return -ENOMEM;
		int rc = mqb_core_async_set_data(core, SUB, s, free);
		if (rc) {
			free(s);
			return rc;
		}
	}
	struct ticker *k = calloc(1, sizeof *k);
	if (!k)
		return -ENOMEM;
	k->interval = c->interval;
	char since[MQB_ISOFORMAT_MAX];
	mqb_isoformat(mqb_async_now(core), since);
	MQB_LOG_INFO(SUB, "%s: sensor %u ticks every %g s from %s", path, ++s->sensors,
		     c->interval, since);
	struct mqb_entity_info info = {
		.name = c->name,
		.state = "0",
		.state_class = "total_increasing",
	};
	return mqb_platform_async_add_entity(p, &info, &ops, k, NULL);
}

static const struct mqb_platform_domain domains[] = {
	{.domain = "sensor", .schema = &schema, .conf_size = sizeof(struct hello_conf),
	 .async_setup_platform = setup},
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = "hello",
	.domains = domains,
	.ndomains = MQB_ARRAY_SIZE(domains),
};
