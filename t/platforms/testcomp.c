/* SPDX-License-Identifier: MIT */
/* A test-only component: an integration with a top-level block of its own,
 * built twice, as `testcomp` (a mapping of ids, as script: is) and as
 * `testlist` (a list, as automation: is). Each entry becomes a sensor whose
 * state is its `state:` option, with "+started" added when mqbridge_start
 * fires after the setup, as Home Assistant fires homeassistant_start once
 * every integration is set up, and the core's location and time zone as
 * attributes; t/test_loader.c reads them over MQTT. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/location.h"
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
	char state[64];
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

static const struct mqb_entity_ops ops = {.free = free};

static int setup(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	struct mqb_core *core = mqb_integration_core(in);
	struct mqb_platform *p = mqb_integration_async_platform(in, "sensor");
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct sensor *s = calloc(1, sizeof *s);
		if (!s)
			return -ENOMEM;
		snprintf(s->state, sizeof s->state, "%s",
			 mqb_conf_scalar(mqb_conf_get(entries[i].node, "state"), NULL));
		char name[96];
		snprintf(name, sizeof name, "%s %s", NAME, entries[i].key ? entries[i].key : "item");
		struct mqb_entity_info info = {.name = name, .state = s->state};
		int rc = mqb_platform_async_add_entity(p, &info, &ops, s, &s->e);
		if (rc)
			return rc;
		const struct mqb_location *loc = mqb_core_location(core);
		const char *tz = getenv("TZ");
		mqb_entity_async_set_attributes(s->e, json_pack("{sbsfss}", "located", loc->set,
								"latitude", loc->latitude,
								"tz", tz ? tz : ""));
		/* the start is still to come: nothing has fired it yet */
		if (mqb_core_async_started(core))
			return -EALREADY;
		if ((rc = mqb_bus_async_listen_once(core, MQB_EVENT_START,
						    &MQB_CALLBACK(on_start, s), NULL)))
			return rc;
	}
	return 0;
}

static const struct mqb_component component = {
	.shape = SHAPE,
	.check = check,
	.async_setup = setup,
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = NAME,
	.component = &component,
};
