/* SPDX-License-Identifier: MIT */
/* mqtt_eventstream: Home Assistant's event bus over MQTT
 * (homeassistant/components/mqtt_eventstream): every local event
 * published to publish_topic as {"event_type", "event_data"}, and the
 * events received on subscribe_topic fired here, so two mqbridge (or
 * an mqbridge and a Home Assistant) see each other's events. An event
 * that came from MQTT is never published again, as Home Assistant
 * publishes only events of local origin: no echo between two
 * instances. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/config.h"
#include "mqbridge/core.h"
#include "mqbridge/error.h"
#include "mqbridge/json.h"
#include "mqbridge/log.h"
#include "mqbridge/mqtt.h"
#include "mqbridge/platform.h"

#define SUB "mqtt_eventstream"

struct conf {
	const char *publish_topic, *subscribe_topic;
	const struct mqb_conf_node *ignore_event;
	bool publish_eventstream_received;
};

#define C(f) .offset = offsetof(struct conf, f), .stored = true
static const struct mqb_schema_key keys[] = {
	{.key = "publish_topic", .type = MQB_S_TOPIC, C(publish_topic),
	 .doc = "where this instance's events are published"},
	{.key = "subscribe_topic", .type = MQB_S_FILTER, C(subscribe_topic),
	 .doc = "where events to fire here are received"},
	{.key = "ignore_event", .type = MQB_S_ANY, C(ignore_event),
	 .doc = "event types not published (a list, or one)"},
	{.key = "publish_eventstream_received", .type = MQB_S_BOOL, .def = "false",
	 C(publish_eventstream_received), .doc = "accepted; as in Home Assistant, it does nothing"},
};
static const struct mqb_schema schema = MQB_SCHEMA("mqtt_eventstream", keys);

/* BLOCKED_EVENTS: another instance's start and stop are not ours. */
static const char *const blocked[] = {
	"homeassistant_close", "homeassistant_start", "homeassistant_started",
	"homeassistant_stop",  "homeassistant_final_write", MQB_EVENT_START,
	MQB_EVENT_STOP,        NULL,
};

struct stream {
	struct mqb_core *core;
	char *publish_topic;
	json_t *ignore;             /* event types, strings */
	/* the data of the event being fired from MQTT, while it is: that
	 * event's origin is remote */
	const json_t *firing;
	struct mqb_listener *listener;
	struct mqb_mqtt_sub *sub;
};

static void stream_free(void *p)
{
	struct stream *s = p;
	if (s->listener)
		mqb_bus_async_unlisten(s->core, s->listener);
	if (s->sub)
		mqb_mqtt_async_unsubscribe(s->core, s->sub);
	free(s->publish_topic);
	json_decref(s->ignore);
	free(s);
}

/* cv.ensure_list of strings. */
static void check_ignore(const struct mqb_conf_node *n, const char *path,
			 struct mqb_conf_errors *errs)
{
	char buf[64];
	enum mqb_conf_kind k = mqb_conf_kind(n);
	for (size_t i = 0; k == MQB_CONF_SEQ && i < mqb_conf_len(n); i++)
		if (mqb_conf_kind(mqb_conf_item(n, i)) != MQB_CONF_SCALAR)
			mqb_conf_error_at(errs, mqb_conf_item(n, i), path, "expected an event type, got %s",
					  mqb_conf_display(mqb_conf_item(n, i), buf, sizeof buf));
	if (k == MQB_CONF_MAP)
		mqb_conf_error_at(errs, n, path, "expected a list of event types, got %s",
				  mqb_conf_display(n, buf, sizeof buf));
}

static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	char path[256];
	for (size_t i = 0; i < n; i++) {
		struct conf c = {0};
		mqb_schema_apply(&schema, entries[i].node, entries[i].path, &c, errs);
		snprintf(path, sizeof path, "%s.ignore_event", entries[i].path);
		check_ignore(c.ignore_event, path, errs);
	}
}

static bool ignored(const struct stream *s, const char *type)
{
	size_t i;
	const json_t *v;
	json_array_foreach(s->ignore, i, v)
		if (strcmp(json_string_value(v), type) == 0)
			return true;
	return false;
}

/* _event_publisher: a CALLBACK on every event, inside its fire. */
static int publish(void *ud, void *arg, void **result)
{
	(void)result;
	struct stream *s = ud;
	const struct mqb_event *ev = arg;
	const char *type = mqb_event_type(ev);
	const json_t *data = mqb_event_data(ev);
	if (data == s->firing || ignored(s, type))
		return 0;
	/* what publishing to our own topic through mqtt.publish reports
	 * would come back round: Home Assistant leaves it out */
	if (strcmp(type, MQB_EVENT_CALL_SERVICE) == 0) {
		const char *d = json_string_value(json_object_get(data, "domain"));
		const char *sv = json_string_value(json_object_get(data, "service"));
		const char *t = json_string_value(
			json_object_get(json_object_get(data, "service_data"), "topic"));
		if (d && sv && t && strcmp(d, "mqtt") == 0 && strcmp(sv, "publish") == 0 &&
		    strcmp(t, s->publish_topic) == 0)
			return 0;
	}
	/* the event's data is shared with other threads: a copy is ours */
	json_t *msg = json_pack("{s:s, s:o}", "event_type", type, "event_data",
				json_deep_copy(data));
	char *text = msg ? mqb_json_dumps(msg, MQB_JSON_ENSURE_ASCII) : NULL;
	json_decref(msg);
	if (!text)
		return -ENOMEM;
	int rc = mqb_mqtt_async_publish(s->core, s->publish_topic, text, strlen(text), 0, false,
					NULL);
	if (rc)
		MQB_LOG_DEBUG(SUB, "%s not published: %s", type, mqb_strerror(rc));
	free(text);
	return 0;
}

/* _event_receiver: a CALLBACK on every message of subscribe_topic. */
static int receive(void *ud, void *arg, void **result)
{
	(void)result;
	struct stream *s = ud;
	const struct mqb_mqtt_message *m = arg;
	const char *topic = mqb_mqtt_message_topic(m);
	json_error_t err;
	json_t *msg = json_loadb(mqb_mqtt_message_payload(m), mqb_mqtt_message_len(m), 0, &err);
	const char *type = json_string_value(json_object_get(msg, "event_type"));
	json_t *data = json_object_get(msg, "event_data");
	if (!type || (data && !json_is_object(data) && !json_is_null(data))) {
		MQB_LOG_WARNING(SUB, "%s: not an event (%s)", topic,
				msg ? "no event_type, or event_data not an object" : err.text);
		json_decref(msg);
		return 0;
	}
	for (const char *const *b = blocked; *b; b++)
		if (strcmp(type, *b) == 0) {
			json_decref(msg);
			return 0;
		}
	if (strcmp(type, MQB_EVENT_STATE_CHANGED) == 0) {
		/* mqbridge's state_changed carries states of its own state
		 * machine, which another instance's are not */
		MQB_LOG_DEBUG(SUB, "%s: state_changed of another instance not fired", topic);
		json_decref(msg);
		return 0;
	}
	/* the type lives in msg: msg goes last */
	json_t *fired = json_is_object(data) ? json_incref(data) : json_object();
	s->firing = fired;
	int rc = mqb_bus_async_fire(s->core, type, fired);
	s->firing = NULL;
	if (rc)
		MQB_LOG_WARNING(SUB, "%s: %s not fired: %s", topic, type, mqb_strerror(rc));
	else
		MQB_LOG_DEBUG(SUB, "%s: fired %s", topic, type);
	json_decref(msg);
	return 0;
}

/* The options of every block given (packages add to it), the first to
 * give a key winning; the ignored types of all. */
static int setup(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	struct mqb_core *core = mqb_integration_core(in);
	struct stream *s = calloc(1, sizeof *s);
	if (!s || !(s->ignore = json_array())) {
		free(s);
		return -ENOMEM;
	}
	s->core = core;
	const char *sub_topic = NULL;
	for (size_t i = 0; i < n; i++) {
		struct conf c = {0};
		struct mqb_conf_errors errs;
		mqb_conf_errors_init(&errs);
		mqb_schema_apply(&schema, entries[i].node, entries[i].path, &c, &errs);
		mqb_conf_errors_fini(&errs);
		if (c.publish_topic && !s->publish_topic)
			s->publish_topic = strdup(c.publish_topic);
		if (c.subscribe_topic && !sub_topic)
			sub_topic = c.subscribe_topic;
		const struct mqb_conf_node *ig = c.ignore_event;
		if (mqb_conf_kind(ig) == MQB_CONF_SCALAR)
			json_array_append_new(s->ignore, json_string(mqb_conf_scalar(ig, NULL)));
		for (size_t k = 0; mqb_conf_kind(ig) == MQB_CONF_SEQ && k < mqb_conf_len(ig); k++)
			json_array_append_new(s->ignore,
					      json_string(mqb_conf_scalar(mqb_conf_item(ig, k), NULL)));
	}
	int rc = mqb_core_async_set_data(core, SUB, s, stream_free);
	if (rc) {
		stream_free(s);
		return rc;
	}
	/* Only listen for local events if they are to be published. */
	if (s->publish_topic &&
	    (rc = mqb_bus_async_listen(core, MQB_MATCH_ALL, &MQB_CALLBACK(publish, s),
				       &s->listener))) {
		MQB_LOG_ERROR(SUB, "cannot listen to the bus: %s", mqb_strerror(rc));
		return rc;
	}
	if (sub_topic && (rc = mqb_mqtt_async_subscribe(core, sub_topic, 0,
							&MQB_CALLBACK(receive, s), &s->sub))) {
		MQB_LOG_ERROR(SUB, "cannot subscribe to %s: %s", sub_topic, mqb_strerror(rc));
		return rc;
	}
	MQB_LOG_INFO(SUB, "publishing to %s, firing what comes on %s",
		     s->publish_topic ? s->publish_topic : "(nothing)",
		     sub_topic ? sub_topic : "(nothing)");
	return 0;
}

static const struct mqb_component component = {
	.shape = MQB_COMPONENT_BLOCK,
	.check = check,
	.async_setup = setup,
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = SUB,
	.component = &component,
};
