/* SPDX-License-Identifier: MIT */
/* What the mqtt integration's files share: the options every MQTT entity
 * has, one entity's bookkeeping (struct ent), and a domain's class — its
 * schema, the topics it reads with what a value there means, its commands
 * and what it tells the bridge's discovery. entity.c runs them all; each
 * other file holds the classes of a family of domains. Include first. */
#ifndef MQB_PLATFORMS_MQTT_H
#define MQB_PLATFORMS_MQTT_H

/* strdup, strndup: a module has no config.h */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "mqbridge/config.h"
#include "mqbridge/core.h"
#include "mqbridge/entity.h"
#include "mqbridge/error.h"
#include "mqbridge/log.h"
#include "mqbridge/mqtt.h"
#include "mqbridge/platform.h"
#include "mqbridge/template.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"
#include "../mqtt_util.h"

#define SUB "mqtt"

/* Home Assistant's "None" payload: the value becomes unknown. */
#define PAYLOAD_NONE "None"

/* ---- the configuration ------------------------------------------------- */

/* Options every MQTT entity has (Home Assistant's MQTT_ENTITY_COMMON_SCHEMA
 * and availability), and the few most domains share; each domain's
 * configuration struct starts with one. Strings point into the document. */
struct mqtt_common {
	/* absent (the default name), null (the device's name) or a string */
	const struct mqb_conf_node *name;
	const char *unique_id, *object_id, *default_entity_id, *icon, *entity_picture;
	const char *entity_category, *encoding, *device_class;
	bool enabled_by_default;
	const struct mqb_conf_node *device, *origin;
	const char *availability_topic, *payload_available, *payload_not_available;
	const struct mqb_conf_node *availability_template, *availability;
	const char *availability_mode;
	const char *json_attributes_topic;
	const struct mqb_conf_node *json_attributes_template;
	int qos;
	bool retain, optimistic, force_update;
	unsigned expire_after;
	const char *state_topic, *command_topic;
	const struct mqb_conf_node *value_template, *command_template;
	const char *unit_of_measurement, *state_class;
};

/* The default of a number option that has none: unset. */
#define MQTT_UNSET (-9e99)
#define MQTT_UNSET_TEXT "-9e99"

/* One key stored in a domain's struct T at field f. */
#define MQTT_AT(T, f) .offset = offsetof(T, f), .stored = true
#define MQTT_CM(T, f) MQTT_AT(T, com.f)

extern const struct mqb_schema mqtt_device_schema, mqtt_origin_schema, mqtt_avail_list_schema,
	mqtt_string_list_schema;
extern const char *const mqtt_avail_modes[], *const mqtt_categories[];

#define MQTT_COMMON_KEYS(T) \
	{.key = "name", .type = MQB_S_ANY, MQTT_CM(T, name), \
	 .doc = "friendly name; null: the device's name"}, \
	{.key = "unique_id", .type = MQB_S_STRING, MQTT_CM(T, unique_id), \
	 .doc = "unique id in discovery (default <node_id>_<object_id>)"}, \
	{.key = "object_id", .type = MQB_S_STRING, MQTT_CM(T, object_id), \
	 .doc = "the entity id's object id (default: the slug of the name)"}, \
	{.key = "default_entity_id", .type = MQB_S_STRING, MQTT_CM(T, default_entity_id), \
	 .doc = "the entity id (domain.object_id), Home Assistant's newer object_id"}, \
	{.key = "icon", .type = MQB_S_STRING, MQTT_CM(T, icon), .doc = "icon, mdi:name"}, \
	{.key = "entity_picture", .type = MQB_S_STRING, MQTT_CM(T, entity_picture), \
	 .doc = "picture URL, passed to discovery"}, \
	{.key = "entity_category", .type = MQB_S_ENUM, .choices = mqtt_categories, \
	 MQTT_CM(T, entity_category), .doc = "config or diagnostic"}, \
	{.key = "enabled_by_default", .type = MQB_S_BOOL, .def = "true", \
	 MQTT_CM(T, enabled_by_default), \
	 .doc = "whether Home Assistant enables the entity when discovered"}, \
	{.key = "device", .type = MQB_S_ANY, MQTT_CM(T, device), \
	 .doc = "the device the entity belongs to, announced in discovery"}, \
	{.key = "origin", .type = MQB_S_ANY, MQTT_CM(T, origin), \
	 .doc = "accepted, as in discovery (name, sw_version, support_url)"}, \
	{.key = "encoding", .type = MQB_S_STRING, .def = "utf-8", MQTT_CM(T, encoding), \
	 .doc = "payload encoding: utf-8"}, \
	{.key = "qos", .type = MQB_S_INT, .def = "0", .min = 0, .max = 2, MQTT_CM(T, qos), \
	 .doc = "QoS of subscriptions and commands, 0 to 2"}, \
	{.key = "availability_topic", .type = MQB_S_FILTER, MQTT_CM(T, availability_topic), \
	 .doc = "topic saying whether the device is available"}, \
	{.key = "payload_available", .type = MQB_S_STRING, .def = "online", \
	 MQTT_CM(T, payload_available), .doc = "availability_topic payload meaning available"}, \
	{.key = "payload_not_available", .type = MQB_S_STRING, .def = "offline", \
	 MQTT_CM(T, payload_not_available), \
	 .doc = "availability_topic payload meaning not available"}, \
	{.key = "availability_template", .type = MQB_S_TEMPLATE, \
	 MQTT_CM(T, availability_template), \
	 .doc = "template extracting the availability_topic payload"}, \
	{.key = "availability", .type = MQB_S_LIST, .sub = &mqtt_avail_list_schema, \
	 MQTT_CM(T, availability), \
	 .doc = "a list of {topic, payload_available, payload_not_available, value_template}"}, \
	{.key = "availability_mode", .type = MQB_S_ENUM, .choices = mqtt_avail_modes, \
	 .def = "latest", MQTT_CM(T, availability_mode), \
	 .doc = "latest, all or any of the availability topics"}, \
	{.key = "json_attributes_topic", .type = MQB_S_FILTER, MQTT_CM(T, json_attributes_topic), \
	 .doc = "topic carrying a JSON object of attributes"}, \
	{.key = "json_attributes_template", .type = MQB_S_TEMPLATE, \
	 MQTT_CM(T, json_attributes_template), .doc = "template turning that payload into the object"}

#define MQTT_STATE_TOPIC(T, req) \
	{.key = "state_topic", .type = MQB_S_FILTER, .required = req, MQTT_CM(T, state_topic), \
	 .doc = "topic the state is read from"}
#define MQTT_COMMAND_TOPIC(T, req) \
	{.key = "command_topic", .type = MQB_S_TOPIC, .required = req, MQTT_CM(T, command_topic), \
	 .doc = "topic commands are published to"}
#define MQTT_VALUE_TEMPLATE(T) \
	{.key = "value_template", .type = MQB_S_TEMPLATE, MQTT_CM(T, value_template), \
	 .doc = "template extracting the state from the payload (value, value_json)"}
#define MQTT_COMMAND_TEMPLATE(T) \
	{.key = "command_template", .type = MQB_S_TEMPLATE, MQTT_CM(T, command_template), \
	 .doc = "template making the command payload (value)"}
#define MQTT_RETAIN(T) \
	{.key = "retain", .type = MQB_S_BOOL, .def = "false", MQTT_CM(T, retain), \
	 .doc = "publish commands retained"}
#define MQTT_OPTIMISTIC(T) \
	{.key = "optimistic", .type = MQB_S_BOOL, .def = "false", MQTT_CM(T, optimistic), \
	 .doc = "take a command's result as the state (always without a state topic)"}
#define MQTT_DEVICE_CLASS(T) \
	{.key = "device_class", .type = MQB_S_STRING, MQTT_CM(T, device_class), \
	 .doc = "device class"}
#define MQTT_EXPIRY(T) \
	{.key = "expire_after", .type = MQB_S_UINT, .def = "0", MQTT_CM(T, expire_after), \
	 .doc = "seconds without a message before the state is unavailable; 0: never"}, \
	{.key = "force_update", .type = MQB_S_BOOL, .def = "false", MQTT_CM(T, force_update), \
	 .doc = "an unchanged value still fires state_changed"}
/* A string option with a default, and a template or topic option. */
#define MQTT_STR(T, k, d, text) \
	{.key = #k, .type = MQB_S_STRING, .def = d, MQTT_AT(T, k), .doc = text}
#define MQTT_TPL(T, k, text) {.key = #k, .type = MQB_S_TEMPLATE, MQTT_AT(T, k), .doc = text}
#define MQTT_PUB(T, k, text) {.key = #k, .type = MQB_S_TOPIC, MQTT_AT(T, k), .doc = text}
#define MQTT_SUB(T, k, text) {.key = #k, .type = MQB_S_FILTER, MQTT_AT(T, k), .doc = text}
#define MQTT_LIST(T, k, text) \
	{.key = #k, .type = MQB_S_LIST, .sub = &mqtt_string_list_schema, MQTT_AT(T, k), \
	 .doc = text}

/* ---- one entity -------------------------------------------------------- */

struct ent;
struct sub;

struct avail_topic {
	const char *topic, *on, *off;
	struct mqb_template *tpl;
};

/* A topic a domain reads: where its topic and template options are in the
 * configuration, and what a value there means. */
struct mqtt_read {
	const char *topic_key, *tpl_key; /* tpl_key NULL: the payload as it is */
	size_t topic_off, tpl_off;       /* offsets of const char * and of a template node */
	/* A template used when tpl_key is absent (the climate's value_template);
	 * 0: none. */
	size_t fallback_off;
	/* The rendered value (stripped, NUL-terminated; the payload itself
	 * without a template): true when the entity took something, and is
	 * written then. */
	bool (*value)(struct ent *x, const char *topic, const char *v, size_t len);
	unsigned flags;
};
/* A message here restarts expire_after. */
#define MQTT_READ_STATE 1u
/* An empty value is handed on too (otherwise it changes nothing). */
#define MQTT_READ_EMPTY 2u

struct mqtt_class {
	const char *domain;
	const char *default_name;        /* Home Assistant's DEFAULT_NAME */
	/* Checks beyond the table and the common ones; may be NULL. */
	void (*check)(const void *conf, const struct mqb_conf_node *item, const char *path,
		      struct mqb_conf_errors *errs);
	const struct mqtt_read *reads;
	size_t nreads;
	size_t priv_size;                /* zeroed, freed with the entity */
	/* Set the entity up from its configuration (x->conf): compile with
	 * mqtt_compile, set x->optimistic, initial values, other reads than
	 * the class's (a light's schema). May be NULL. */
	int (*init)(struct ent *x);
	/* What the bridge's discovery needs to know of it: Home Assistant's
	 * discovery keys of the domain that are not topics (modes, options,
	 * min, max, ...); "_features" lists what the bridge wires topics for.
	 * Nonzero on ENOMEM. May be NULL. */
	int (*discovery)(struct ent *x, json_t *d);
	/* The domain's attributes beyond x->attrs (computed ones). May be NULL. */
	int (*attributes)(struct ent *x, json_t *a);
	/* A service call (the entity's domain); -ENOTSUP for one it has not.
	 * NULL: the domain takes no commands. */
	int (*command)(struct ent *x, const char *service, const json_t *data);
	/* Whether this entity takes commands (a cover without a command
	 * topic does not); NULL: whenever command is set. */
	bool (*commands)(const struct ent *x);
	void (*fini)(struct ent *x);
	/* Unnamed entities are named after their device class
	 * (_default_to_device_class_name). */
	bool name_from_device_class;
	/* The object id when none is configured; NULL: the name's slug. */
	const char *(*object_id)(const struct ent *x, char *buf, size_t len);
	/* Every value is written, an unchanged one too (force_update). */
	bool force_update;
};

/* One MQTT entity: what its configuration compiled to, and what it has
 * seen. Owned by the entity registry (ops->free). */
struct ent {
	const struct mqtt_class *cls;
	const void *conf;
	const struct mqtt_common *com;
	struct mqb_entity *e;
	struct mqb_platform *p;
	const char *path;             /* the configuration item, for logs (as long as conf) */
	const struct mqtt_read *reads;   /* cls->reads, unless init chose others */
	struct mqb_template **read_tpls; /* per read; after the subs, in their allocation */
	struct mqb_template *attr_tpl;
	struct avail_topic *av;
	struct mqtt_avail avail;
	struct sub *subs;
	json_t *vars;                 /* entity_id and name, for every render */
	json_t *json_attrs;           /* from json_attributes_topic; NULL: none yet */
	json_t *attrs;                /* the domain's own attributes; NULL: none */
	struct mqb_timer *expire;     /* NULL: no expire_after */
	struct mqb_template **owned;  /* compiled with mqtt_compile */
	void *priv;
	const char *initial;          /* a state set before the entity exists (init) */
	unsigned long long ignored;   /* payloads that meant nothing */
	/* Counts a few at most: 32 bits, so that with the flags they take
	 * 16 bytes of an entity's struct and not 32 (100,000 sensors). */
	uint32_t nreads, nsubs, nowned;
	bool expired;
	bool optimistic;
};

/* ---- what the files share ---------------------------------------------- */

/* The entity id, or the configuration path before it has one. */
const char *mqtt_eid(const struct ent *x);
/* The core its platform runs on. */
struct mqb_core *mqtt_core(const struct ent *x);
/* Compile a template option (NULL node: *out NULL); the entity frees it. */
int mqtt_compile(struct ent *x, const struct mqb_conf_node *n, struct mqb_template **out);
/* A payload that matched nothing: a warning the first time, as Home
 * Assistant logs it, then counted quietly. */
void mqtt_ignored(struct ent *x, const char *topic, const char *what, const char *payload);
/* Render t (NULL: the payload itself) with value = payload and the
 * entity's variables plus extra (may be NULL). 0 with *out malloc'd,
 * stripped as Home Assistant strips a rendered value when strip. */
int mqtt_render(struct ent *x, const char *option, const struct mqb_template *t,
		const char *payload, size_t len, const json_t *extra, bool strip, char **out,
		size_t *outlen);
/* Publish a command to topic: text through tpl (NULL: text as it is),
 * with value the JSON value when given (a number stays a number in the
 * template) and extra variables (may be NULL); the entity's QoS and retain
 * flag. 0 or the error (logged). */
int mqtt_send(struct ent *x, const char *topic, const char *option,
	      const struct mqb_template *tpl, const char *text, const json_t *value,
	      const json_t *extra);
/* mqtt_send, then, when the entity is optimistic and it went, the state
 * (NULL: none) written. */
int mqtt_command(struct ent *x, const char *topic, const char *option,
		 const struct mqb_template *tpl, const char *text, const json_t *value,
		 const json_t *extra, const char *state);
/* The cached state; true when taken (too long or not UTF-8: refused and
 * logged by the entity). NULL: unknown. From init, a string that stays
 * (a literal): the state the entity starts with. */
bool mqtt_set_state(struct ent *x, const char *state);
/* The state of an entity whose state is when something last happened (a
 * button pressed, a scene used, an event fired): now, and always a
 * change, as Home Assistant's is. */
bool mqtt_set_moment(struct ent *x);
/* Set (v taken; NULL: remove) one of the domain's attributes. */
void mqtt_attr(struct ent *x, const char *key, json_t *v);
/* Hand the cached values to the state machine. */
void mqtt_commit(struct ent *x);
const char *mqtt_state(const struct ent *x);
/* Inside a read's value callback, the raw payload the value was rendered
 * from (*len its length). */
const char *mqtt_read_payload(size_t *len);
/* An on/off payload as the state: on, off, None (unknown), or neither
 * (ignored, logged). True when taken. */
bool mqtt_on_off(struct ent *x, const char *topic, const char *v, const char *on,
		 const char *off);
bool mqtt_is_none(const char *v);

/* A number from a service call's data: a JSON number or a numeric string. */
bool mqtt_data_number(const json_t *data, const char *key, double *out);
const char *mqtt_data_string(const json_t *data, const char *key);
/* The strings of a list option (cv.string of each), in a malloc'd array of
 * *n (NULL list: none). NULL on ENOMEM. */
const char **mqtt_strings(const struct mqb_conf_node *list, size_t *n);
/* Whether s is one of v[0..n). */
bool mqtt_in(const char *const *v, size_t n, const char *s);
/* v[0..n) as a JSON array. */
json_t *mqtt_json_strings(const char *const *v, size_t n);
/* "42" for 42.0, "21.5": a number as a state or a payload. */
const char *mqtt_number_text(double v, char buf[MQB_NUMBER_MAX]);
/* An error at key's node in item (item itself when the key is absent). */
void mqtt_errat(struct mqb_conf_errors *errs, const struct mqb_conf_node *item,
		const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* A payload option that may be null ("no such command"): absent is def. */
const char *mqtt_nullable(const struct mqb_conf_node *n, const char *def);
void mqtt_check_nullable(const struct mqb_conf_node *n, const struct mqb_conf_node *item,
			 const char *path, const char *key, struct mqb_conf_errors *errs);
/* Add "_features": name when on. Nonzero on ENOMEM. */
int mqtt_feature(json_t *d, const char *name, bool on);

/* ---- the classes ------------------------------------------------------- */

#include "conf.h"

extern const struct mqb_schema mqtt_sensor_schema, mqtt_binary_sensor_schema, mqtt_switch_schema,
	mqtt_button_schema, mqtt_number_schema, mqtt_select_schema, mqtt_text_schema,
	mqtt_scene_schema, mqtt_notify_schema, mqtt_event_schema, mqtt_update_schema,
	mqtt_device_tracker_schema, mqtt_light_schema, mqtt_cover_schema, mqtt_valve_schema,
	mqtt_climate_schema, mqtt_water_heater_schema, mqtt_humidifier_schema, mqtt_fan_schema,
	mqtt_lock_schema, mqtt_siren_schema, mqtt_alarm_schema, mqtt_vacuum_schema,
	mqtt_lawn_mower_schema, mqtt_device_automation_schema;

extern const struct mqtt_class mqtt_sensor, mqtt_binary_sensor, mqtt_switch, mqtt_button,
	mqtt_number, mqtt_select, mqtt_text, mqtt_scene, mqtt_notify, mqtt_event, mqtt_update,
	mqtt_device_tracker;
extern const struct mqtt_class mqtt_light, mqtt_cover, mqtt_valve, mqtt_climate,
	mqtt_water_heater, mqtt_humidifier, mqtt_fan, mqtt_lock, mqtt_siren, mqtt_alarm,
	mqtt_vacuum, mqtt_lawn_mower, mqtt_device_automation;

#endif
