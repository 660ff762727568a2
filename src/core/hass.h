/* SPDX-License-Identifier: MIT */
/* Home Assistant's objects on the core (bus, states, services) and the
 * per-core slots of the modules built on it: what the core's own files and
 * the layers above share, and platforms never see. */
#ifndef MQB_CORE_HASS_H
#define MQB_CORE_HASS_H

#include <stddef.h>

struct mqb_core;

/* Module state hung off the core; each module creates and frees its own. */
struct bus;
struct states;
struct services;
struct bus **core__bus(struct mqb_core *core);
struct states **core__states(struct mqb_core *core);
struct services **core__services(struct mqb_core *core);
/* The MQTT client's slot and the function that frees it with the core
 * (set once, by mqb_mqtt_new). */
void **core__mqtt(struct mqb_core *core);
void core__set_mqtt_fini(struct mqb_core *core, void (*fini)(struct mqb_core *core));

/* Slots of the modules built on the core (entities, the bridge); freed
 * with the core, last slot first, before the MQTT client. */
enum core_slot { CORE_SLOT_ENTITIES, CORE_SLOT_BRIDGE, CORE_NSLOTS };
void **core__slot(struct mqb_core *core, enum core_slot s);
void core__set_slot_fini(struct mqb_core *core, enum core_slot s,
			 void (*fini)(struct mqb_core *core));
int bus__init(struct mqb_core *core);
void bus__fini(struct mqb_core *core);
int states__init(struct mqb_core *core);
void states__fini(struct mqb_core *core);
int services__init(struct mqb_core *core);
void services__fini(struct mqb_core *core);

struct mqb_event;
struct mqb_state;
/* A state_changed event holding references to old and new (either may be
 * NULL); its JSON data is built on first use. */
struct mqb_event *bus__event_state_changed(const char *entity_id, struct mqb_state *old_state,
					   struct mqb_state *new_state);
/* t as Python's isoformat in UTC ("2024-05-01T12:00:00.123456+00:00", the
 * fraction only when not zero); its length, or 0 outside years 1..9999. */
size_t states__isoformat(double t, char buf[48]);
/* Deliver ev to its listeners; the caller keeps its reference. Thread: loop. */
int bus__async_fire_event(struct mqb_core *core, struct mqb_event *ev);

#endif
