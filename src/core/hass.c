/* SPDX-License-Identifier: MIT */
/* Home Assistant's core on the loop, as homeassistant/core.py's HomeAssistant
 * composes it: a core (core.c, the loop alone) with the bus, the state
 * machine and the service registry in its first slots, mqbridge_start fired
 * when the loop starts and mqbridge_stop when it begins to stop. */
#include "lib/internal.h"
#include "core/hass.h"

#include <errno.h>

#include "mqbridge/bus.h"
#include "mqbridge/location.h"

/* Home Assistant fires homeassistant_start and homeassistant_stop on its
 * bus (core.py, async_start and async_stop); the bus's slot carries them. */
static void fire_start(struct mqb_core *core, void *bus)
{
	mqb_bus_async_fire(core, MQB_EVENT_START, NULL);
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

static void location_fini(struct mqb_core *core, void *loc)
{
	mqb__free(loc);
}

const struct mqb_location *mqb_core_location(const struct mqb_core *core)
{
	return core__slot((struct mqb_core *)core, CORE_SLOT_LOCATION);
}

void hass__set_location(struct mqb_core *core, const struct mqb_location *loc)
{
	*(struct mqb_location *)core__slot(core, CORE_SLOT_LOCATION) = *loc;
}

static const struct core_slot_ops bus_ops = {
	.start = fire_start, .stop = fire_stop, .fini = bus_fini};
static const struct core_slot_ops states_ops = {.fini = states_fini};
static const struct core_slot_ops services_ops = {.fini = services_fini};
static const struct core_slot_ops location_ops = {.fini = location_fini};

int mqb_core_new(const struct mqb_core_options *opt, struct mqb_core **out)
{
	struct mqb_core *core;
	int rc = core__new(opt, &core);
	if (rc)
		return rc;
	struct bus *bus = bus__new();
	struct states *states = bus ? states__new() : NULL;
	struct services *services = states ? services__new() : NULL;
	struct mqb_location *loc = services ? mqb__calloc(1, sizeof *loc) : NULL;
	if (!loc) {
		services__free(services);
		states__free(states);
		bus__free(bus);
		mqb_core_free(core);
		return -ENOMEM;
	}
	core__slot_set(core, CORE_SLOT_BUS, bus, &bus_ops);
	core__slot_set(core, CORE_SLOT_STATES, states, &states_ops);
	core__slot_set(core, CORE_SLOT_SERVICES, services, &services_ops);
	core__slot_set(core, CORE_SLOT_LOCATION, loc, &location_ops);
	*out = core;
	return 0;
}
