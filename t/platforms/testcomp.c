/* SPDX-License-Identifier: MIT */
/* A test-only component: an integration with a top-level block of its own,
 * built twice, as `testcomp` (a mapping of ids, as script: is) and as
 * `testlist` (a list, as automation: is). Each entry becomes a sensor whose
 * state is its `state:` option, with "+started" added when mqbridge_start
 * fires after the setup, as Home Assistant fires homeassistant_start once
 * every integration is set up, and the core's location and time zone as
 * attributes. A message on <name>/reload reloads the block: entries gone
 * are removed, changed ones take their new state, new ones are added,
 * unchanged ones stay as they are. t/test_loader.c reads it all over MQTT. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/core.h"
#include "mqbridge/coro.h"
#include "mqbridge/future.h"
#include "mqbridge/location.h"
#include "mqbridge/mqtt.h"
#include "mqbridge/platform.h"

#ifdef TESTCOMP_LIST
#define NAME "testlist"
#define SHAPE MQB_COMPONENT_LIST
#else
#define NAME "testcomp"
#define SHAPE MQB_COMPONENT_MAPPING
#endif

struct sensor {
	struct mqb_entity *e;
	char key[64];
	char state[64];
	struct sensor *next;
};

/* The component's state in a core. */
struct comp {
	struct mqb_integration *in;
	struct sensor *sensors;
	struct mqb_mqtt_sub *reload_sub;
};

static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *st = mqb_conf_get(entries[i].node, "state");
		if (!st || mqb_conf_kind(st) != MQB_CONF_SCALAR)
			mqb_conf_error_at(errs, entries[i].node, entries[i].path,
					  "required key 'state' not provided");
	}
}

static int on_start(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct sensor *s = ud;
	char buf[80];
	snprintf(buf, sizeof buf, "%s+started", s->state);
	mqb_entity_async_set_state(s->e, buf);
	return mqb_entity_async_write(s->e);
}

static void sensor_free(void *p)
{
	free(p);
}

static const struct mqb_entity_ops ops = {.free = sensor_free};

static int add(struct comp *c, const struct mqb_component_entry *en, size_t i)
{
	struct mqb_core *core = mqb_integration_core(c->in);
	struct mqb_platform *p = mqb_integration_async_platform(c->in, "sensor");
	struct sensor *s = p ? calloc(1, sizeof *s) : NULL;
	if (!s)
		return -ENOMEM;
	snprintf(s->key, sizeof s->key, "%s", en->key ? en->key : "item");
	snprintf(s->state, sizeof s->state, "%s",
		 mqb_conf_scalar(mqb_conf_get(en->node, "state"), NULL));
	char name[96];
	snprintf(name, sizeof name, "%s %s", NAME, s->key);
	struct mqb_entity_info info = {.name = name, .state = s->state};
	int rc = mqb_platform_async_add_entity(p, &info, &ops, s, &s->e);
	if (rc)
		return rc;
	s->next = c->sensors;
	c->sensors = s;
	const struct mqb_location *loc = mqb_core_location(core);
	const char *tz = getenv("TZ");
	mqb_entity_async_set_attributes(s->e, json_pack("{sbsfsssi}", "located", loc->set,
							"latitude", loc->latitude, "tz",
							tz ? tz : "", "index", (int)i));
	/* the start is still to come at setup: nothing has fired it yet */
	if (mqb_core_async_started(core))
		return mqb_entity_async_write(s->e);
	return mqb_bus_async_listen_once(core, MQB_EVENT_START, &MQB_CALLBACK(on_start, s), NULL);
}

static int reload_job(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct comp *c = ud;
	struct mqb_future *f = NULL;
	int rc = mqb_integration_async_reload(c->in, &f);
	if (rc == 0) {
		rc = mqb_await(f, NULL);
		mqb_future_unref(f);
	}
	char buf[32];
	snprintf(buf, sizeof buf, "%d", rc);
	return mqb_mqtt_async_publish(mqb_integration_core(c->in), NAME "/reloaded", buf,
				      strlen(buf), 1, false, NULL);
}

static void comp_free(void *p)
{
	free(p);
}

static int setup(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	struct mqb_core *core = mqb_integration_core(in);
	struct comp *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->in = in;
	int rc = mqb_core_async_set_data(core, NAME, c, comp_free);
	if (rc) {
		free(c);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		if ((rc = add(c, &entries[i], i)))
			return rc;
	return mqb_mqtt_async_subscribe(core, NAME "/reload", 1, &MQB_COROUTINE(reload_job, c),
					&c->reload_sub);
}

static int reload(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	struct comp *c = mqb_core_async_data(mqb_integration_core(in), NAME);
	/* entries by key: the same key with the same state stays untouched */
	bool *kept = calloc(n ? n : 1, sizeof *kept);
	if (!kept)
		return -ENOMEM;
	for (struct sensor **pp = &c->sensors, *s; (s = *pp);) {
		size_t i = 0;
		for (; i < n; i++) {
			const char *key = entries[i].key ? entries[i].key : "item";
			const char *st = mqb_conf_scalar(mqb_conf_get(entries[i].node, "state"), NULL);
			if (!kept[i] && strcmp(key, s->key) == 0 && strcmp(st, s->state) == 0)
				break;
		}
		if (i < n) {
			kept[i] = true;
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		mqb_entity_async_remove(s->e);
	}
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		if (!kept[i])
			rc = add(c, &entries[i], i);
	free(kept);
	return rc;
}

static const struct mqb_component component = {
	.shape = SHAPE,
	.check = check,
	.async_setup = setup,
	.async_reload = reload,
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = NAME,
	.component = &component,
};
