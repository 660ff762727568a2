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

#endif
