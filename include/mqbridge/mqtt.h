/* SPDX-License-Identifier: MIT */
/* MQTT on the loop: one Paho client per core, hosted so that every handler
 * is dispatched on the loop thread per its job kind (doc/mqtt-hosting.md).
 * Subscriptions are reference-counted per filter; topics are validated
 * before anything sees them; publishes return futures. */
#ifndef MQBRIDGE_MQTT_H
#define MQBRIDGE_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqbridge/job.h"

struct mqb_core;
struct mqb_future;

/* ---- topics ---------------------------------------------------------- */

/* Thread: any. A topic name one may publish to and receive: 1..65535 bytes
 * of UTF-8 without U+0000 and without wildcards. */
bool mqb_mqtt_topic_valid(const char *topic, size_t len);
/* Thread: any. A subscription filter: '+' alone in a level, '#' alone in
 * the last level, or $share/<group>/<filter>. */
bool mqb_mqtt_filter_valid(const char *filter);
/* Thread: any. Whether topic matches filter under MQTT's rules ($-topics
 * are not matched by a leading wildcard; $share/<group>/ is ignored). */
bool mqb_mqtt_topic_matches(const char *filter, const char *topic);

/* ---- messages -------------------------------------------------------- */

/* A received message: immutable and reference-counted (atomically), so an
 * EXECUTOR handler may keep it. A handler job gets it as its arg; the core
 * holds a reference until the job is done. The payload is followed by a NUL
 * not counted in its length, so text payloads can be used as strings. */
struct mqb_mqtt_message;
struct mqb_mqtt_message *mqb_mqtt_message_ref(struct mqb_mqtt_message *m);
void mqb_mqtt_message_unref(struct mqb_mqtt_message *m); /* accepts NULL */
const char *mqb_mqtt_message_topic(const struct mqb_mqtt_message *m);
const void *mqb_mqtt_message_payload(const struct mqb_mqtt_message *m);
size_t mqb_mqtt_message_len(const struct mqb_mqtt_message *m);
int mqb_mqtt_message_qos(const struct mqb_mqtt_message *m);
bool mqb_mqtt_message_retained(const struct mqb_mqtt_message *m);

/* ---- the client ------------------------------------------------------ */

/* The daemon attaches the one client to the core and configures it;
 * modules subscribe and publish through it. */

/* A subscription handle: owned by the client, valid until unsubscribed. */
struct mqb_mqtt_sub;

/* Run job for every message whose topic matches filter, per the job's kind
 * (a CALLBACK on the loop, a COROUTINE that may await, an EXECUTOR job in
 * the pool); its arg is the struct mqb_mqtt_message. Broker subscriptions
 * are shared per filter at the highest QoS asked: two handlers, one
 * SUBSCRIBE; the last unsubscribe sends UNSUBSCRIBE. -EINVAL (bad filter or
 * QoS), -ENOTCONN (core has no client), -ENOMEM. Thread: loop. */
int mqb_mqtt_async_subscribe(struct mqb_core *core, const char *filter, int qos,
			     const struct mqb_job *job, struct mqb_mqtt_sub **out);
/* Thread: loop. */
void mqb_mqtt_async_unsubscribe(struct mqb_core *core, struct mqb_mqtt_sub *sub);

/* Publish. *out (may be NULL) settles when the message is written (QoS 0)
 * or acknowledged (PUBACK / PUBCOMP). While disconnected, QoS 1 and 2 are
 * queued up to outbound_queue_max and sent after reconnecting; QoS 0 then
 * returns -ENOTCONN, and a full queue -ENOBUFS (counted), at once. The payload is
 * copied. -EINVAL for a bad topic, QoS or an oversized payload.
 * Thread: loop. */
int mqb_mqtt_async_publish(struct mqb_core *core, const char *topic, const void *payload,
			   size_t len, int qos, bool retain, struct mqb_future **out);

/* MQTT 5 properties of a publish (ignored over MQTT 3.1.1). */
struct mqb_mqtt_props {
	uint32_t message_expiry;        /* seconds; 0: none */
	const char *content_type;       /* NULL: none */
	const char *const *user;        /* name, value, name, value, ..., NULL */
};

/* mqb_mqtt_async_publish with MQTT 5 properties (copied). Thread: loop. */
int mqb_mqtt_async_publish_props(struct mqb_core *core, const char *topic, const void *payload,
				 size_t len, int qos, bool retain,
				 const struct mqb_mqtt_props *props, struct mqb_future **out);

/* Thread-safe flavours: subscribe waits for the loop (-EDEADLK on it),
 * publish does not (block on *out if you must; what the loop finds wrong,
 * such as an oversized payload, settles *out, or is logged without out). Thread: any but the loop
 * (subscribe, unsubscribe); any (publish). */
int mqb_mqtt_subscribe(struct mqb_core *core, const char *filter, int qos,
		       const struct mqb_job *job, struct mqb_mqtt_sub **out);
int mqb_mqtt_unsubscribe(struct mqb_core *core, struct mqb_mqtt_sub *sub);
int mqb_mqtt_publish(struct mqb_core *core, const char *topic, const void *payload, size_t len,
		     int qos, bool retain, struct mqb_future **out);

/* Run job (arg NULL) after every connect, once subscriptions are restored
 * and the birth message is out: modules re-announce discovery and states
 * here, since a broker restart may have lost retained messages.
 * Thread: loop. */
int mqb_mqtt_async_on_connect(struct mqb_core *core, const struct mqb_job *job);

struct mqb_mqtt_stats {
	bool connected;
	unsigned long long connects, reconnects, connect_failures;
	unsigned long long received;   /* messages read from the broker */
	unsigned long long dispatched; /* handler runs (a message matching two handlers: 2) */
	unsigned long long dropped_invalid_topic, dropped_too_large, dropped_handler_busy;
	unsigned long long published;  /* handed to the broker, the status messages included */
	unsigned long long publish_failures, queue_overflows;
	unsigned queued;            /* publishes waiting for a connection now */
	unsigned inflight;          /* QoS>0 publishes awaiting their ack now */
	unsigned subscriptions;     /* distinct filters */
};
/* Thread: loop. -ENOTCONN if core has no client. */
int mqb_mqtt_async_stats(struct mqb_core *core, struct mqb_mqtt_stats *out);

#endif
