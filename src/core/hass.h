/* SPDX-License-Identifier: MIT */
/* Home Assistant's core on the loop (hass.c composes it): what hangs off a
 * core, slot by slot, and what the bus, the state machine and the service
 * registry share with each other and with the layers above. Platforms
 * never see it. */
#ifndef MQB_CORE_HASS_H
#define MQB_CORE_HASS_H

#include <stddef.h>
#include <jansson.h>

#include "core/loop.h"

struct mqb_core;

/* The slots (core/loop.h), in the order the core starts them; they are
 * freed last first, so each may use those before it until its end. */
enum core_slot {
	CORE_SLOT_BUS,       /* struct bus: bus.c */
	CORE_SLOT_STATES,    /* struct states: states.c */
	CORE_SLOT_SERVICES,  /* struct services: services.c */
	CORE_SLOT_CONFIG,    /* Home Assistant's core configuration: hass.c */
	CORE_SLOT_MQTT,      /* the MQTT client: mqtt/client.c */
	CORE_SLOT_TRACK,     /* state and template trackers: ha/track.c (freed after
			      * the modules' data, whose owners cancel theirs) */
	CORE_SLOT_DATA,      /* what modules keep (mqb_core_async_data): data.c */
	CORE_SLOT_ENTITIES,  /* the entity registry: ha/entity.c */
	CORE_SLOT_BRIDGE,    /* the bridge: ha/bridge.c */
	CORE_NSLOTS
};
_Static_assert(CORE_NSLOTS <= CORE_SLOTS_MAX, "raise CORE_SLOTS_MAX");

/* Home Assistant's three objects, each made empty and freed with what it
 * still holds. NULL on ENOMEM. */
struct bus;
struct states;
struct services;
struct bus *bus__new(void);
void bus__free(struct bus *b);
struct states *states__new(void);
void states__free(struct states *st);
struct services *services__new(void);
void services__free(struct services *sv);

struct mqb_event;
struct mqb_state;
/* A state_changed event holding references to old and new (either may be
 * NULL); its JSON data is built on first use. */
struct mqb_event *bus__event_state_changed(const char *entity_id, struct mqb_state *old_state,
					   struct mqb_state *new_state);
/* Deliver ev to its listeners; the caller keeps its reference. Thread: loop. */
int bus__async_fire_event(struct mqb_core *core, struct mqb_event *ev);

/* Home Assistant's cv.string fields of a service: the top-level keys of
 * its data it reads as text. A script renders a template there to the
 * text itself, which Home Assistant keeps in its ResultWrapper and
 * str() gives back, rather than only the value read back from it
 * (mqtt.publish sends "{\"a\": 1}" as rendered, not dumped again).
 * fields: NULL-terminated, static; NULL: none. -MQB_E_NOTFOUND.
 * Thread: loop. */
int services__async_set_text_fields(struct mqb_core *core, const char *domain,
				    const char *service, const char *const *fields);
/* domain.service's text fields, or NULL (none, or no such service).
 * Thread: loop. */
const char *const *services__async_text_fields(struct mqb_core *core, const char *domain,
					       const char *service);
struct mqb_service_call;
struct mqb_service_call_options;
struct mqb_future;
/* mqb_services_async_call_opt, with texts (an object: a text field's key
 * -> the text its value was rendered from, or NULL; taken in every case)
 * for the handler. Thread: loop. */
int services__async_call_texts(struct mqb_core *core, const char *domain, const char *service,
			       json_t *data, json_t *texts,
			       const struct mqb_service_call_options *opt, struct mqb_future **out);
/* The text data's key was rendered from, when the caller gave one; NULL
 * otherwise (then the data's value is all there is). Thread: any. */
const char *services__call_text(const struct mqb_service_call *c, const char *key, size_t *len);

struct mqb_location;
/* Set the core's location (copied), for the daemon and tests. Thread: loop,
 * before anything reads it from another thread. */
void hass__set_location(struct mqb_core *core, const struct mqb_location *loc);
/* mqbridge_start is not fired when the loop starts but by
 * hass__async_fire_start, once the embedder has set its integrations up
 * (Home Assistant fires homeassistant_start after bootstrap). Thread:
 * loop, before mqb_core_run. */
void hass__defer_start(struct mqb_core *core);
/* homeassistant: customize, customize_domain and customize_glob, each an
 * object of attribute objects (references taken; NULL: none). Thread:
 * loop. */
void hass__set_customize(struct mqb_core *core, json_t *exact, json_t *domain, json_t *glob);
/* Merge what customize says of entity_id into attrs, as Home Assistant
 * does when an entity writes its state. 0 or -ENOMEM. Thread: loop. */
int hass__async_customize(struct mqb_core *core, const char *entity_id, json_t *attrs);
void hass__async_fire_start(struct mqb_core *core);
/* A service's validator (mqb_service_validate_fn) for one that takes no
 * data, as Home Assistant's reload services: any key is refused with its
 * message. Thread: any. */
int hass__validate_no_data(void *ud, const json_t *data, char *msg, size_t msglen);

#endif
