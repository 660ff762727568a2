/* SPDX-License-Identifier: MIT */
/* The event bus: event_type + JSON data + time fired. Listeners are jobs,
 * run per their kind when an event fires (a CALLBACK inside the fire, as in
 * Home Assistant's current core); "*" listens to every event. */
#ifndef MQBRIDGE_BUS_H
#define MQBRIDGE_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "mqbridge/job.h"

struct mqb_core;
struct mqb_state;

#define MQB_EVENT_STATE_CHANGED "state_changed"
#define MQB_EVENT_CALL_SERVICE "call_service"
#define MQB_EVENT_SERVICE_REGISTERED "service_registered"
#define MQB_EVENT_SERVICE_REMOVED "service_removed"
#define MQB_EVENT_START "mqbridge_start"
#define MQB_EVENT_STOP "mqbridge_stop"
#define MQB_MATCH_ALL "*"
#define MQB_MAX_EVENT_TYPE_LEN 64

/* An event is immutable and reference-counted (atomically). A listener job
 * gets the event as its arg; the core holds a reference until the job is
 * done: take your own with mqb_event_ref to keep it longer. */
struct mqb_event;
struct mqb_event *mqb_event_ref(struct mqb_event *ev);
void mqb_event_unref(struct mqb_event *ev); /* accepts NULL */
const char *mqb_event_type(const struct mqb_event *ev);
double mqb_event_time_fired(const struct mqb_event *ev); /* Unix time, seconds */
/* The event's data, never NULL. For state_changed it is
 * {"entity_id", "old_state", "new_state"} (states as mqb_state_to_json, or
 * null), built on first use. Must not be modified, nor json_incref'd (the
 * event is shared between threads): json_deep_copy what you keep. Thread: any. */
const json_t *mqb_event_data(const struct mqb_event *ev);
/* For state_changed: the states themselves (NULL when absent, and for other
 * events). Borrowed from the event. */
const struct mqb_state *mqb_event_old_state(const struct mqb_event *ev);
const struct mqb_state *mqb_event_new_state(const struct mqb_event *ev);
const char *mqb_event_entity_id(const struct mqb_event *ev); /* state_changed only */

/* Whether mqbridge_start has fired: the daemon fires it once every
 * integration is set up (Home Assistant's CoreState.running). Something
 * set up later (a reload) acts at once instead of waiting for it.
 * Thread: loop. */
bool mqb_core_async_started(struct mqb_core *core);

struct mqb_listener;

/* Listen to event_type ("*": every event). *out, if not NULL, is the handle
 * for mqb_bus_async_unlisten (the registration is owned by the bus). -EINVAL
 * for an empty or over-long type. Thread: loop. */
int mqb_bus_async_listen(struct mqb_core *core, const char *event_type,
			 const struct mqb_job *job, struct mqb_listener **out);
/* The same, removed before its first run: its handle is gone once the
 * listener has been called (unlisten it inside its own CALLBACK, or before
 * it fires, not after). Thread: loop. */
int mqb_bus_async_listen_once(struct mqb_core *core, const char *event_type,
			      const struct mqb_job *job, struct mqb_listener **out);
/* Safe inside a listener, including the one being removed; a listener
 * removed during a fire is not run for it, one added is not run until the
 * next event. Thread: loop. */
void mqb_bus_async_unlisten(struct mqb_core *core, struct mqb_listener *l);
/* Thread: loop. Listeners of event_type, not counting "*". */
size_t mqb_bus_async_listener_count(struct mqb_core *core, const char *event_type);

/* Fire an event. Takes the reference to data in every case (NULL means {};
 * must be an object). -EINVAL for a bad type or data. Thread: loop. */
int mqb_bus_async_fire(struct mqb_core *core, const char *event_type, json_t *data);

/* Thread-safe flavours. mqb_bus_fire does not wait (Home Assistant's fire is
 * call_soon_threadsafe); listen/unlisten wait for the loop and return
 * -EDEADLK on it. Thread: any (fire), any but the loop (listen, unlisten). */
int mqb_bus_fire(struct mqb_core *core, const char *event_type, json_t *data);
int mqb_bus_listen(struct mqb_core *core, const char *event_type, const struct mqb_job *job,
		   struct mqb_listener **out);
int mqb_bus_unlisten(struct mqb_core *core, struct mqb_listener *l);

#endif
