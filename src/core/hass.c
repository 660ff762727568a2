/* SPDX-License-Identifier: MIT */
/* Home Assistant's core on the loop, as homeassistant/core.py's HomeAssistant
 * composes it: a core (core.c, the loop alone) with the bus, the state
 * machine and the service registry in its first slots, mqbridge_start fired
 * when the loop starts and mqbridge_stop when it begins to stop. */
#include "lib/internal.h"
#include "core/hass.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "mqbridge/bus.h"
#include "mqbridge/location.h"

/* Home Assistant fires homeassistant_start and homeassistant_stop on its
 * bus (core.py, async_start and async_stop); the bus's slot carries them. */
/* Home Assistant's core configuration (hass.config) and its start: an
 * embedder that sets integrations up on the loop fires mqbridge_start
 * itself once they are all set up, as Home Assistant's bootstrap does. */
struct hass_config {
	struct mqb_location loc;
	/* homeassistant: customize, customize_domain, customize_glob: entity
	 * id (domain, pattern) -> attributes; NULL when not configured. */
	json_t *customize, *customize_domain, *customize_glob;
	bool defer_start;
	bool started;           /* mqbridge_start has fired */
};

static struct hass_config *config_of(const struct mqb_core *core)
{
	return core__slot((struct mqb_core *)core, CORE_SLOT_CONFIG);
}

static void fire_start(struct mqb_core *core, void *bus)
{
	if (!config_of(core)->defer_start)
		hass__async_fire_start(core);
}

void hass__defer_start(struct mqb_core *core)
{
	config_of(core)->defer_start = true;
}

void hass__async_fire_start(struct mqb_core *core)
{
	config_of(core)->started = true;
	mqb_bus_async_fire(core, MQB_EVENT_START, NULL);
}

bool mqb_core_async_started(struct mqb_core *core)
{
	MQB_ASSERT_LOOP(core);
	return config_of(core)->started;
}

static void fire_stop(struct mqb_core *core, void *bus)
{
	/* The listeners' queued work runs before anything is cancelled. */
	mqb_bus_async_fire(core, MQB_EVENT_STOP, NULL);
}

static void bus_fini(struct mqb_core *core, void *bus)
{
	bus__free(bus);
}

static void states_fini(struct mqb_core *core, void *states)
{
	states__free(states);
}

static void services_fini(struct mqb_core *core, void *services)
{
	services__free(services);
}

static void config_fini(struct mqb_core *core, void *p)
{
	struct hass_config *cfg = p;
	json_decref(cfg->customize);
	json_decref(cfg->customize_domain);
	json_decref(cfg->customize_glob);
	mqb__free(cfg);
}

void hass__set_customize(struct mqb_core *core, json_t *exact, json_t *domain, json_t *glob)
{
	struct hass_config *cfg = config_of(core);
	json_decref(cfg->customize);
	json_decref(cfg->customize_domain);
	json_decref(cfg->customize_glob);
	cfg->customize = exact;
	cfg->customize_domain = domain;
	cfg->customize_glob = glob;
}

/* Home Assistant's EntityValues.get: the domain's values, then each
 * matching glob's in the order given, then the entity's own, each
 * overriding the one before. */
int hass__async_customize(struct mqb_core *core, const char *entity_id, json_t *attrs)
{
	struct hass_config *cfg = config_of(core);
	if (!cfg->customize && !cfg->customize_domain && !cfg->customize_glob)
		return 0;
	const char *dot = strchr(entity_id, '.');
	json_t *v;
	int rc = 0;
	/* (a null entry, "light.x:" with nothing under it, adds nothing) */
	if (cfg->customize_domain && dot &&
	    json_is_object(v = json_object_getn(cfg->customize_domain, entity_id,
						(size_t)(dot - entity_id))))
		rc |= json_object_update(attrs, v);
	const char *pattern;
	json_object_foreach(cfg->customize_glob, pattern, v)
		if (json_is_object(v) && fnmatch(pattern, entity_id, 0) == 0)
			rc |= json_object_update(attrs, v);
	if (cfg->customize && json_is_object(v = json_object_get(cfg->customize, entity_id)))
		rc |= json_object_update(attrs, v);
	return rc ? -ENOMEM : 0;
}

const struct mqb_location *mqb_core_location(const struct mqb_core *core)
{
	return &config_of(core)->loc;
}

void hass__set_location(struct mqb_core *core, const struct mqb_location *loc)
{
	config_of(core)->loc = *loc;
}

static const struct core_slot_ops bus_ops = {
	.start = fire_start, .stop = fire_stop, .fini = bus_fini};
static const struct core_slot_ops states_ops = {.fini = states_fini};
static const struct core_slot_ops services_ops = {.fini = services_fini};
static const struct core_slot_ops config_ops = {.fini = config_fini};

int mqb_core_new(const struct mqb_core_options *opt, struct mqb_core **out)
{
	struct mqb_core *core;
	int rc = core__new(opt, &core);
	if (rc)
		return rc;
	struct bus *bus = bus__new();
	struct states *states = bus ? states__new() : NULL;
	struct services *services = states ? services__new() : NULL;
	struct hass_config *cfg = services ? mqb__calloc(1, sizeof *cfg) : NULL;
	if (!cfg) {
		services__free(services);
		states__free(states);
		bus__free(bus);
		mqb_core_free(core);
		return -ENOMEM;
	}
	core__slot_set(core, CORE_SLOT_BUS, bus, &bus_ops);
	core__slot_set(core, CORE_SLOT_STATES, states, &states_ops);
	core__slot_set(core, CORE_SLOT_SERVICES, services, &services_ops);
	core__slot_set(core, CORE_SLOT_CONFIG, cfg, &config_ops);
	*out = core;
	return 0;
}

int hass__validate_no_data(void *ud, const json_t *data, char *msg, size_t msglen)
{
	(void)ud;
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)data, key, v) {
		snprintf(msg, msglen, "extra keys not allowed @ data['%s']", key);
		return -EINVAL;
	}
	return 0;
}
