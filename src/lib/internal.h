/* SPDX-License-Identifier: MIT */
/* What the core's own modules share and platforms never see: the thread
 * checks, allocation wrappers, clocks and the per-core module slots. */
#ifndef MQB_INTERNAL_H
#define MQB_INTERNAL_H

#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "mqbridge/core.h"
#include "mqbridge/error.h"
#include "mqbridge/log.h"

/* Programmer errors are assertions with a message (libev's habit). The
 * thread check costs a pthread_self per call, so it is on in debug builds. */
#define MQB_ABORT(...) \
	do { fprintf(stderr, "mqbridge: %s: ", __func__); fprintf(stderr, __VA_ARGS__); \
	     fputc('\n', stderr); abort(); } while (0)
#define MQB_CHECK(cond, ...) do { if (!(cond)) MQB_ABORT(__VA_ARGS__); } while (0)
#ifdef MQB_DEBUG
#define MQB_ASSERT_LOOP(core) \
	MQB_CHECK(mqb_core_in_loop_thread(core), "loop-only function called from another thread")
#else
#define MQB_ASSERT_LOOP(core) ((void)(core))
#endif

/* Allocation goes through these so tests can fail the Nth one (alloc.c). */
void *mqb__malloc(size_t n);
void *mqb__calloc(size_t nmemb, size_t n);
void *mqb__realloc(void *p, size_t n);
char *mqb__strdup(const char *s);
char *mqb__strndup(const char *s, size_t n);
#define mqb__free free
/* Tests: make allocation number n (1-based, counted from now) and every later
 * one fail; 0 turns failures off. */
void mqb__alloc_fail_after(unsigned long n);

/* Seconds: the wall clock (Unix time) and a monotonic clock. */
double mqb__time_wall(void);
double mqb__time_mono(void);

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

/* Slots of the modules built on the core (entities, the bridge, the
 * platform loader); freed with the core, last slot first, before the MQTT
 * client. */
enum core_slot { CORE_SLOT_PLATFORMS, CORE_SLOT_ENTITIES, CORE_SLOT_BRIDGE, CORE_NSLOTS };
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
