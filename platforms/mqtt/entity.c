/* SPDX-License-Identifier: MIT */
/* The mqtt integration: Home Assistant's MQTT entities (sensor,
 * binary_sensor, switch, light with the basic schema, cover, button, number,
 * select) with its option names, defaults and state rules, turning device
 * topics into entity states and service calls into device commands. */
/* strdup: a module has no config.h */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* Home Assistant's "None" payload: the state becomes unknown. */
#define PAYLOAD_NONE "None"

/* ---- the configuration ------------------------------------------------- */

/* One struct for every domain: each domain's table fills the fields it
 * knows (the loader zeroes the rest). Strings point into the document. */
struct conf {
	/* every domain */
	const char *name, *unique_id, *object_id, *default_entity_id, *icon, *entity_picture;
	const char *entity_category, *encoding;
	bool enabled_by_default;
	const char *availability_topic, *payload_available, *payload_not_available;
	const struct mqb_conf_node *availability_template, *availability;
	const char *availability_mode;
	const char *json_attributes_topic;
	const struct mqb_conf_node *json_attributes_template;
	int qos;
	bool retain, optimistic, force_update;
	/* state and commands */
	const char *state_topic, *command_topic;
	const struct mqb_conf_node *value_template, *command_template;
	const char *device_class, *state_class, *unit_of_measurement;
	const struct mqb_conf_node *suggested_display_precision;
	unsigned expire_after, off_delay;
	const char *payload_on, *payload_off, *state_on, *state_off;
	/* light */
	const struct mqb_conf_node *state_value_template;
	const char *brightness_state_topic, *brightness_command_topic, *on_command_type, *schema;
	const struct mqb_conf_node *brightness_value_template, *brightness_command_template;
	int brightness_scale;
	/* cover */
	const struct mqb_conf_node *payload_open, *payload_close, *payload_stop;
	const char *state_open, *state_opening, *state_closed, *state_closing, *state_stopped;
	const char *position_topic, *set_position_topic;
	const struct mqb_conf_node *position_template, *set_position_template;
	int position_open, position_closed;
	/* button */
	const char *payload_press;
	/* number */
	double min, max, step;
	const char *mode, *payload_reset;
	/* select */
	const struct mqb_conf_node *options;
};

/* One element of an `availability:` list. */
struct avail_conf {
	const char *topic, *payload_available, *payload_not_available;
	const struct mqb_conf_node *value_template;
};

#define C(f) .offset = offsetof(struct conf, f), .stored = true
#define AV(f) .offset = offsetof(struct avail_conf, f), .stored = true

static const struct mqb_schema_key avail_item_keys[] = {
	{.key = "topic", .type = MQB_S_FILTER, .required = true, AV(topic),
	 .doc = "the availability topic (a filter)"},
	{.key = "payload_available", .type = MQB_S_STRING, .def = "online", AV(payload_available),
	 .doc = "the payload that means available"},
	{.key = "payload_not_available", .type = MQB_S_STRING, .def = "offline",
	 AV(payload_not_available), .doc = "the payload that means not available"},
	{.key = "value_template", .type = MQB_S_TEMPLATE, AV(value_template),
	 .doc = "template extracting the availability payload"},
};
static const struct mqb_schema avail_item_schema = MQB_SCHEMA("mqtt availability", avail_item_keys);
static const struct mqb_schema_key avail_list_keys[] = {
	{.key = "item", .type = MQB_S_MAP, .sub = &avail_item_schema},
};
static const struct mqb_schema avail_list_schema =
	MQB_SCHEMA("mqtt availability list", avail_list_keys);

static const struct mqb_schema_key device_keys[] = {
	{.key = "identifiers", .type = MQB_S_ANY, .doc = "ids (a string or a list)"},
	{.key = "connections", .type = MQB_S_ANY, .doc = "[type, id] pairs"},
	{.key = "manufacturer", .type = MQB_S_STRING, .doc = "manufacturer"},
	{.key = "model", .type = MQB_S_STRING, .doc = "model"},
	{.key = "model_id", .type = MQB_S_STRING, .doc = "model id"},
	{.key = "name", .type = MQB_S_STRING, .doc = "device name"},
	{.key = "hw_version", .type = MQB_S_STRING, .doc = "hardware version"},
	{.key = "sw_version", .type = MQB_S_STRING, .doc = "software version"},
	{.key = "serial_number", .type = MQB_S_STRING, .doc = "serial number"},
	{.key = "via_device", .type = MQB_S_STRING, .doc = "the device it is reached through"},
	{.key = "suggested_area", .type = MQB_S_STRING, .doc = "area"},
	{.key = "configuration_url", .type = MQB_S_STRING, .doc = "where to configure it"},
};
static const struct mqb_schema device_schema = MQB_SCHEMA("mqtt device", device_keys);

static const struct mqb_schema_key option_list_keys[] = {
	{.key = "option", .type = MQB_S_STRING},
};
static const struct mqb_schema option_list_schema =
	MQB_SCHEMA("mqtt select options", option_list_keys);

static const char *const avail_modes[] = {"latest", "all", "any", NULL};
static const char *const categories[] = {"config", "diagnostic", NULL};
static const char *const on_command_types[] = {"last", "first", "brightness", NULL};
static const char *const light_schemas[] = {"basic", "json", "template", NULL};
static const char *const number_modes[] = {"auto", "box", "slider", NULL};

/* Options every MQTT entity has (Home Assistant's MQTT_ENTITY_COMMON_SCHEMA
 * and availability). */
#define COMMON_KEYS \
	{.key = "name", .type = MQB_S_STRING, C(name), .doc = "friendly name"}, \
	{.key = "unique_id", .type = MQB_S_STRING, C(unique_id), \
	 .doc = "unique id in discovery (default <node_id>_<object_id>)"}, \
	{.key = "object_id", .type = MQB_S_STRING, C(object_id), \
	 .doc = "the entity id's object id (default: the slug of name)"}, \
	{.key = "default_entity_id", .type = MQB_S_STRING, C(default_entity_id), \
	 .doc = "the entity id (domain.object_id), Home Assistant's newer object_id"}, \
	{.key = "icon", .type = MQB_S_STRING, C(icon), .doc = "icon, mdi:name"}, \
	{.key = "entity_picture", .type = MQB_S_STRING, C(entity_picture), \
	 .doc = "picture URL, passed to discovery"}, \
	{.key = "entity_category", .type = MQB_S_ENUM, .choices = categories, C(entity_category), \
	 .doc = "config or diagnostic"}, \
	{.key = "enabled_by_default", .type = MQB_S_BOOL, .def = "true", C(enabled_by_default), \
	 .doc = "whether Home Assistant enables the entity when discovered"}, \
	{.key = "device", .type = MQB_S_MAP, .sub = &device_schema, \
	 .doc = "accepted for compatibility; discovery names the bridge as the device"}, \
	{.key = "encoding", .type = MQB_S_STRING, .def = "utf-8", C(encoding), \
	 .doc = "payload encoding: utf-8"}, \
	{.key = "qos", .type = MQB_S_INT, .def = "0", .min = 0, .max = 2, C(qos), \
	 .doc = "QoS of subscriptions and commands, 0 to 2"}, \
	{.key = "availability_topic", .type = MQB_S_FILTER, C(availability_topic), \
	 .doc = "topic saying whether the device is available"}, \
	{.key = "payload_available", .type = MQB_S_STRING, .def = "online", C(payload_available), \
	 .doc = "availability_topic payload meaning available"}, \
	{.key = "payload_not_available", .type = MQB_S_STRING, .def = "offline", \
	 C(payload_not_available), .doc = "availability_topic payload meaning not available"}, \
	{.key = "availability_template", .type = MQB_S_TEMPLATE, C(availability_template), \
	 .doc = "template extracting the availability_topic payload"}, \
	{.key = "availability", .type = MQB_S_LIST, .sub = &avail_list_schema, C(availability), \
	 .doc = "a list of {topic, payload_available, payload_not_available, value_template}"}, \
	{.key = "availability_mode", .type = MQB_S_ENUM, .choices = avail_modes, .def = "latest", \
	 C(availability_mode), .doc = "latest, all or any of the availability topics"}, \
	{.key = "json_attributes_topic", .type = MQB_S_FILTER, C(json_attributes_topic), \
	 .doc = "topic carrying a JSON object of attributes"}, \
	{.key = "json_attributes_template", .type = MQB_S_TEMPLATE, \
	 C(json_attributes_template), .doc = "template turning that payload into the object"}

#define STATE_TOPIC(req) \
	{.key = "state_topic", .type = MQB_S_FILTER, .required = req, C(state_topic), \
	 .doc = "topic the state is read from"}
#define COMMAND_TOPIC(req) \
	{.key = "command_topic", .type = MQB_S_TOPIC, .required = req, C(command_topic), \
	 .doc = "topic commands are published to"}
#define VALUE_TEMPLATE \
	{.key = "value_template", .type = MQB_S_TEMPLATE, C(value_template), \
	 .doc = "template extracting the state from the payload (value, value_json)"}
#define COMMAND_TEMPLATE \
	{.key = "command_template", .type = MQB_S_TEMPLATE, C(command_template), \
	 .doc = "template making the command payload (value)"}
#define RETAIN \
	{.key = "retain", .type = MQB_S_BOOL, .def = "false", C(retain), \
	 .doc = "publish commands retained"}
#define OPTIMISTIC \
	{.key = "optimistic", .type = MQB_S_BOOL, .def = "false", C(optimistic), \
	 .doc = "take a command's result as the state (always without a state topic)"}
#define DEVICE_CLASS \
	{.key = "device_class", .type = MQB_S_STRING, C(device_class), .doc = "device class"}
#define EXPIRY \
	{.key = "expire_after", .type = MQB_S_UINT, .def = "0", C(expire_after), \
	 .doc = "seconds without a message before the state is unavailable; 0: never"}, \
	{.key = "force_update", .type = MQB_S_BOOL, .def = "false", C(force_update), \
	 .doc = "an unchanged value still fires state_changed"}
#define PAYLOAD_ON_OFF \
	{.key = "payload_on", .type = MQB_S_STRING, .def = "ON", C(payload_on), \
	 .doc = "payload meaning on"}, \
	{.key = "payload_off", .type = MQB_S_STRING, .def = "OFF", C(payload_off), \
	 .doc = "payload meaning off"}

static const struct mqb_schema_key sensor_keys[] = {
	COMMON_KEYS,
	STATE_TOPIC(true),
	VALUE_TEMPLATE,
	DEVICE_CLASS,
	{.key = "state_class", .type = MQB_S_STRING, C(state_class),
	 .doc = "measurement, total or total_increasing"},
	{.key = "unit_of_measurement", .type = MQB_S_STRING, C(unit_of_measurement),
	 .doc = "unit of the value"},
	{.key = "suggested_display_precision", .type = MQB_S_ANY,
	 C(suggested_display_precision), .doc = "decimals Home Assistant shows, 0 to 15"},
	EXPIRY,
};

static const struct mqb_schema_key binary_sensor_keys[] = {
	COMMON_KEYS,
	STATE_TOPIC(true),
	VALUE_TEMPLATE,
	DEVICE_CLASS,
	PAYLOAD_ON_OFF,
	EXPIRY,
	{.key = "off_delay", .type = MQB_S_UINT, .def = "0", C(off_delay),
	 .doc = "seconds after on before the state turns off by itself; 0: never"},
};

static const struct mqb_schema_key switch_keys[] = {
	COMMON_KEYS,
	COMMAND_TOPIC(true),
	STATE_TOPIC(false),
	VALUE_TEMPLATE,
	COMMAND_TEMPLATE,
	DEVICE_CLASS,
	PAYLOAD_ON_OFF,
	{.key = "state_on", .type = MQB_S_STRING, C(state_on),
	 .doc = "state payload meaning on (default: payload_on)"},
	{.key = "state_off", .type = MQB_S_STRING, C(state_off),
	 .doc = "state payload meaning off (default: payload_off)"},
	OPTIMISTIC,
	RETAIN,
};

static const struct mqb_schema_key light_keys[] = {
	COMMON_KEYS,
	{.key = "schema", .type = MQB_S_ENUM, .choices = light_schemas, .def = "basic", C(schema),
	 .doc = "basic (the only one supported)"},
	COMMAND_TOPIC(true),
	STATE_TOPIC(false),
	{.key = "state_value_template", .type = MQB_S_TEMPLATE, C(state_value_template),
	 .doc = "template extracting the on/off payload"},
	PAYLOAD_ON_OFF,
	{.key = "brightness_state_topic", .type = MQB_S_FILTER, C(brightness_state_topic),
	 .doc = "topic the brightness is read from"},
	{.key = "brightness_command_topic", .type = MQB_S_TOPIC, C(brightness_command_topic),
	 .doc = "topic brightness commands are published to"},
	{.key = "brightness_scale", .type = MQB_S_INT, .def = "255", .min = 1, .max = 1000000,
	 C(brightness_scale), .doc = "the device's full brightness"},
	{.key = "brightness_value_template", .type = MQB_S_TEMPLATE,
	 C(brightness_value_template), .doc = "template extracting the brightness"},
	{.key = "brightness_command_template", .type = MQB_S_TEMPLATE,
	 C(brightness_command_template), .doc = "template making the brightness payload"},
	{.key = "on_command_type", .type = MQB_S_ENUM, .choices = on_command_types, .def = "last",
	 C(on_command_type), .doc = "last, first or brightness: when payload_on is sent"},
	OPTIMISTIC,
	RETAIN,
};

static const struct mqb_schema_key cover_keys[] = {
	COMMON_KEYS,
	COMMAND_TOPIC(false),
	STATE_TOPIC(false),
	VALUE_TEMPLATE,
	DEVICE_CLASS,
	{.key = "payload_open", .type = MQB_S_ANY, C(payload_open),
	 .doc = "command payload to open (default OPEN; null: none)"},
	{.key = "payload_close", .type = MQB_S_ANY, C(payload_close),
	 .doc = "command payload to close (default CLOSE; null: none)"},
	{.key = "payload_stop", .type = MQB_S_ANY, C(payload_stop),
	 .doc = "command payload to stop (default STOP; null: none)"},
	{.key = "state_open", .type = MQB_S_STRING, .def = "open", C(state_open),
	 .doc = "state payload meaning open"},
	{.key = "state_opening", .type = MQB_S_STRING, .def = "opening", C(state_opening),
	 .doc = "state payload meaning opening"},
	{.key = "state_closed", .type = MQB_S_STRING, .def = "closed", C(state_closed),
	 .doc = "state payload meaning closed"},
	{.key = "state_closing", .type = MQB_S_STRING, .def = "closing", C(state_closing),
	 .doc = "state payload meaning closing"},
	{.key = "state_stopped", .type = MQB_S_STRING, .def = "stopped", C(state_stopped),
	 .doc = "state payload meaning stopped"},
	{.key = "position_topic", .type = MQB_S_FILTER, C(position_topic),
	 .doc = "topic the position is read from"},
	{.key = "position_template", .type = MQB_S_TEMPLATE, C(position_template),
	 .doc = "template extracting the position"},
	{.key = "set_position_topic", .type = MQB_S_TOPIC, C(set_position_topic),
	 .doc = "topic position commands are published to"},
	{.key = "set_position_template", .type = MQB_S_TEMPLATE, C(set_position_template),
	 .doc = "template making the position payload"},
	{.key = "position_open", .type = MQB_S_INT, .def = "100", C(position_open),
	 .doc = "the device's position when open"},
	{.key = "position_closed", .type = MQB_S_INT, .def = "0", C(position_closed),
	 .doc = "the device's position when closed"},
	OPTIMISTIC,
	RETAIN,
};

static const struct mqb_schema_key button_keys[] = {
	COMMON_KEYS,
	COMMAND_TOPIC(true),
	COMMAND_TEMPLATE,
	DEVICE_CLASS,
	{.key = "payload_press", .type = MQB_S_STRING, .def = "PRESS", C(payload_press),
	 .doc = "command payload of a press"},
	RETAIN,
};

static const struct mqb_schema_key number_keys[] = {
	COMMON_KEYS,
	COMMAND_TOPIC(true),
	STATE_TOPIC(false),
	VALUE_TEMPLATE,
	COMMAND_TEMPLATE,
	DEVICE_CLASS,
	{.key = "unit_of_measurement", .type = MQB_S_STRING, C(unit_of_measurement),
	 .doc = "unit of the value"},
	{.key = "min", .type = MQB_S_FLOAT, .def = "1", C(min), .doc = "smallest value"},
	{.key = "max", .type = MQB_S_FLOAT, .def = "100", C(max), .doc = "largest value"},
	{.key = "step", .type = MQB_S_FLOAT, .def = "1", .min = 0.001, .max = 1e15, C(step),
	 .doc = "step between values"},
	{.key = "mode", .type = MQB_S_ENUM, .choices = number_modes, .def = "auto", C(mode),
	 .doc = "auto, box or slider"},
	{.key = "payload_reset", .type = MQB_S_STRING, .def = PAYLOAD_NONE, C(payload_reset),
	 .doc = "state payload making the value unknown"},
	OPTIMISTIC,
	RETAIN,
};

static const struct mqb_schema_key select_keys[] = {
	COMMON_KEYS,
	COMMAND_TOPIC(true),
	STATE_TOPIC(false),
	VALUE_TEMPLATE,
	COMMAND_TEMPLATE,
	{.key = "options", .type = MQB_S_LIST, .sub = &option_list_schema, .required = true,
	 C(options), .doc = "the options (a list of strings)"},
	OPTIMISTIC,
	RETAIN,
};

#define SCHEMA(n, k) static const struct mqb_schema n##_schema = MQB_SCHEMA("mqtt " #n, k)
SCHEMA(sensor, sensor_keys);
SCHEMA(binary_sensor, binary_sensor_keys);
SCHEMA(switch, switch_keys);
SCHEMA(light, light_keys);
SCHEMA(cover, cover_keys);
SCHEMA(button, button_keys);
SCHEMA(number, number_keys);
SCHEMA(select, select_keys);

/* ---- checks the tables cannot make ------------------------------------- */

/* An error at key's node in item (item itself when the key is absent). */
static void __attribute__((format(printf, 5, 6)))
errat(struct mqb_conf_errors *errs, const struct mqb_conf_node *item, const char *path,
      const char *key, const char *fmt, ...)
{
	const struct mqb_conf_node *at = mqb_conf_get(item, key);
	char p[512];
	snprintf(p, sizeof p, "%s.%s", path, key);
	va_list ap;
	va_start(ap, fmt);
	mqb_conf_verror_at(errs, at ? at : item, p, fmt, ap);
	va_end(ap);
}

static bool uint_text(const char *s, unsigned max, unsigned *out)
{
	if (!s || !*s)
		return false;
	unsigned long v = 0;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		v = v * 10 + (unsigned long)(*c - '0');
		if (v > max)
			return false;
	}
	*out = (unsigned)v;
	return true;
}

static void check_common(const struct conf *c, const struct mqb_conf_node *item,
			 const char *path, struct mqb_conf_errors *errs)
{
	if (mqb_conf_kind(item) != MQB_CONF_MAP)
		return;
	if (c->availability_topic && c->availability)
		errat(errs, item, path, "availability",
		      "use either availability_topic or availability, not both");
	if (c->encoding && *c->encoding && strcasecmp(c->encoding, "utf-8") != 0 &&
	    strcasecmp(c->encoding, "utf8") != 0)
		errat(errs, item, path, "encoding", "only utf-8 is supported, got '%s'",
		      c->encoding);
	if (c->default_entity_id) {
		const char *dot = strchr(c->default_entity_id, '.');
		if (dot && !dot[1])
			errat(errs, item, path, "default_entity_id", "'%s' has no object id",
			      c->default_entity_id);
	}
}

/* payload_open/close/stop: a string, or null for "no such command". */
static void check_nullable(const struct mqb_conf_node *n, const struct mqb_conf_node *item,
			   const char *path, const char *key, struct mqb_conf_errors *errs)
{
	if (n && mqb_conf_kind(n) != MQB_CONF_SCALAR && mqb_conf_kind(n) != MQB_CONF_NULL)
		errat(errs, item, path, key, "expected a string or null");
}

static void check_sensor(const void *conf, const struct mqb_conf_node *item, const char *path,
			 struct mqb_conf_errors *errs)
{
	const struct conf *c = conf;
	check_common(c, item, path, errs);
	const struct mqb_conf_node *n = c->suggested_display_precision;
	unsigned v;
	if (n && (mqb_conf_kind(n) != MQB_CONF_SCALAR ||
		  !uint_text(mqb_conf_scalar(n, NULL), 15, &v)))
		errat(errs, item, path, "suggested_display_precision",
		      "expected an integer from 0 to 15");
}

static void check_plain(const void *conf, const struct mqb_conf_node *item, const char *path,
			struct mqb_conf_errors *errs)
{
	check_common(conf, item, path, errs);
}

static void check_light(const void *conf, const struct mqb_conf_node *item, const char *path,
			struct mqb_conf_errors *errs)
{
	const struct conf *c = conf;
	check_common(c, item, path, errs);
	if (c->schema && strcmp(c->schema, "basic") != 0)
		errat(errs, item, path, "schema",
		      "the %s light schema is not supported; only basic is", c->schema);
}

static void check_cover(const void *conf, const struct mqb_conf_node *item, const char *path,
			struct mqb_conf_errors *errs)
{
	const struct conf *c = conf;
	check_common(c, item, path, errs);
	check_nullable(c->payload_open, item, path, "payload_open", errs);
	check_nullable(c->payload_close, item, path, "payload_close", errs);
	check_nullable(c->payload_stop, item, path, "payload_stop", errs);
}

static void check_number(const void *conf, const struct mqb_conf_node *item, const char *path,
			 struct mqb_conf_errors *errs)
{
	const struct conf *c = conf;
	check_common(c, item, path, errs);
	if (!(c->max > c->min))
		errat(errs, item, path, mqb_conf_get(item, "max") ? "max" : "min",
		      "max must be greater than min");
}

static void check_select(const void *conf, const struct mqb_conf_node *item, const char *path,
			 struct mqb_conf_errors *errs)
{
	const struct conf *c = conf;
	check_common(c, item, path, errs);
	if (c->options && mqb_conf_kind(c->options) == MQB_CONF_SEQ &&
	    mqb_conf_len(c->options) == 0)
		errat(errs, item, path, "options", "needs at least one option");
}

/* ---- entities ---------------------------------------------------------- */

enum dom { D_SENSOR, D_BINARY, D_SWITCH, D_LIGHT, D_COVER, D_BUTTON, D_NUMBER, D_SELECT };

enum sub_kind { S_STATE, S_ATTRS, S_AVAIL, S_BRIGHTNESS, S_POSITION };

struct ent;

/* One subscription: a handler's user data. */
struct sub {
	struct ent *x;
	enum sub_kind kind;
	size_t index;               /* S_AVAIL: which availability topic */
	const char *topic;
	struct mqb_mqtt_sub *handle;
};

struct avail_topic {
	const char *topic, *on, *off;
	struct mqb_template *tpl;
};

/* One MQTT entity: what its configuration compiled to, and what it has
 * seen. Owned by the entity registry (ops->free). */
struct ent {
	const struct conf *c;
	enum dom dom;
	struct mqb_core *core;
	struct mqb_entity *e;
	char *path;                 /* the configuration item, for logs */
	struct mqb_template *value_tpl, *cmd_tpl, *attr_tpl, *bright_tpl, *bright_cmd_tpl;
	struct mqb_template *pos_tpl, *set_pos_tpl;
	struct avail_topic *av;
	struct mqtt_avail avail;
	struct sub *subs;
	size_t nsubs;
	json_t *vars;               /* entity_id and name, for every render */
	json_t *json_attrs;         /* from json_attributes_topic; NULL: none yet */
	struct mqb_timer *expire, *off_delay; /* NULL: not configured */
	bool expired;
	bool optimistic, bright_optimistic;
	int brightness;             /* 0..255; -1: unknown */
	int position;               /* 0..100; -1: unknown */
	const char *payload_open, *payload_close, *payload_stop; /* NULL: none */
	const char *state_on, *state_off;
	const char **options;
	size_t noptions;
	unsigned long long ignored; /* payloads that meant nothing */
};

static const char *eid(const struct ent *x)
{
	return x->e ? mqb_entity_id(x->e) : x->path;
}

/* A payload that matched nothing: logged as a warning the first time, as
 * Home Assistant does, then counted quietly. */
static void ignored(struct ent *x, const char *topic, const char *what, const char *payload)
{
	x->ignored++;
	enum mqb_log_level lvl = x->ignored == 1 ? MQB_LOG_WARNING : MQB_LOG_DEBUG;
	char shown[80];
	size_t n = strlen(payload);
	snprintf(shown, sizeof shown, "%.64s%s", payload, n > 64 ? "..." : "");
	mqb_log(lvl, SUB, "%s: %s on %s: '%s'; the state stays (%llu ignored so far)", eid(x),
		what, topic, shown, x->ignored);
}

/* Render t (NULL: the payload itself) with value = the payload. 0 with
 * *out malloc'd and NUL-terminated; negative: the entity logged it and the
 * old state stays. */
static int render(struct ent *x, const char *option, const struct mqb_template *t,
		  const char *payload, size_t len, char **out, size_t *outlen)
{
	if (!t) {
		char *s = malloc(len + 1);
		if (!s)
			return -ENOMEM;
		memcpy(s, payload, len);
		s[len] = '\0';
		*out = s;
		*outlen = len;
		return 0;
	}
	if (!x->vars) {
		/* made on the first render: most entities never need it */
		x->vars = json_pack("{s:s, s:s?}", "entity_id", mqb_entity_id(x->e), "name",
				    mqb_entity_name(x->e));
		if (!x->vars)
			return -ENOMEM;
	}
	struct mqb_tpl_vars v = {.value = payload, .value_len = len, .variables = x->vars};
	int rc = mqb_entity_async_render(x->e, option, t, &v, out, outlen);
	if (rc == 0) {
		/* Home Assistant strips what a value template renders */
		size_t n = *outlen;
		const char *s = mqb_strip(*out, &n);
		memmove(*out, s, n);
		(*out)[n] = '\0';
		*outlen = n;
	}
	return rc;
}


/* What a number (min, max, step, mode) or a select (options) offers, the
 * same in its attributes and in its discovery payload. Nonzero on ENOMEM. */
static int range_and_options(json_t *o, const struct ent *x)
{
	const struct conf *c = x->c;
	int rc = 0;
	if (x->dom == D_NUMBER) {
		rc |= json_object_set_new(o, "min", json_real(c->min));
		rc |= json_object_set_new(o, "max", json_real(c->max));
		rc |= json_object_set_new(o, "step", json_real(c->step));
		rc |= json_object_set_new(o, "mode", json_string(c->mode));
		return rc;
	}
	json_t *opts = json_array();
	for (size_t i = 0; opts && i < x->noptions; i++)
		rc |= json_array_append_new(opts, json_string(x->options[i]));
	return rc | json_object_set_new(o, "options", opts);
}

/* The attributes this entity shows: the device's JSON attributes, then
 * the domain's own (which win). NULL for none (most sensors: an empty
 * object costs 200 bytes an entity); *nomem on ENOMEM. */
static json_t *attributes(struct ent *x, bool *nomem)
{
	*nomem = false;
	if (!x->json_attrs && !x->optimistic &&
	    (x->dom == D_SENSOR || x->dom == D_BINARY || x->dom == D_SWITCH ||
	     x->dom == D_BUTTON || (x->dom == D_COVER && x->position < 0)))
		return NULL;
	json_t *a = x->json_attrs ? json_deep_copy(x->json_attrs) : json_object();
	if (!a) {
		*nomem = true;
		return NULL;
	}
	const struct conf *c = x->c;
	int rc = 0;
	if (x->optimistic)
		rc |= json_object_set_new(a, "assumed_state", json_true());
	switch (x->dom) {
	case D_LIGHT: {
		bool dim = c->brightness_command_topic != NULL;
		json_t *modes = json_pack("[s]", dim ? "brightness" : "onoff");
		rc |= json_object_set_new(a, "supported_color_modes", modes);
		bool on = strcmp(mqb_entity_async_state(x->e), "on") == 0;
		rc |= json_object_set_new(a, "color_mode",
					  on ? json_string(dim ? "brightness" : "onoff")
					     : json_null());
		if (dim)
			rc |= json_object_set_new(a, "brightness",
						  on && x->brightness >= 0
							  ? json_integer(x->brightness)
							  : json_null());
		break;
	}
	case D_COVER:
		if (x->position >= 0)
			rc |= json_object_set_new(a, "current_position", json_integer(x->position));
		break;
	case D_NUMBER:
	case D_SELECT:
		rc |= range_and_options(a, x);
		break;
	default:
		break;
	}
	if (rc) {
		json_decref(a);
		*nomem = true;
		return NULL;
	}
	return a;
}

/* Hand the cached values to the state machine. */
static void commit(struct ent *x)
{
	mqb_entity_async_set_available(x->e, mqtt_avail_ok(&x->avail) && !x->expired);
	bool nomem;
	json_t *a = attributes(x, &nomem);
	if (!nomem)
		mqb_entity_async_set_attributes(x->e, a);
	else
		MQB_LOG_WARNING(SUB, "%s: out of memory building the attributes", eid(x));
	mqb_entity_async_write(x->e);
}

/* Whether the entity took state (too long or not UTF-8: refused, counted
 * and logged by the entity). */
static bool set_state(struct ent *x, const char *state)
{
	return mqb_entity_async_set_state(x->e, state) == 0;
}

/* ---- timers ------------------------------------------------------------ */

static void expire_cb(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct ent *x = ud;
	if (x->expired)
		return;
	MQB_LOG_DEBUG(SUB, "%s: no message for %u s: unavailable", eid(x), x->c->expire_after);
	x->expired = true;
	commit(x);
}

/* Every message on the state topic restarts the clock; true when that
 * made an expired entity available again. */
static bool restart_expiry(struct ent *x)
{
	if (!x->expire)
		return false;
	mqb_async_timer_rearm(x->expire, x->c->expire_after);
	bool was = x->expired;
	x->expired = false;
	return was;
}

static void off_delay_cb(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct ent *x = ud;
	set_state(x, "off");
	commit(x);
}

/* ---- what devices send ------------------------------------------------- */

static bool is_none(const char *s)
{
	return strcmp(s, PAYLOAD_NONE) == 0;
}

/* Each of these reads a domain's state from a rendered payload: true
 * when it took a new value, false when the payload changed nothing (then
 * nothing is written: with force_update a write would fire). */

/* An empty value changes nothing: Home Assistant ignores it for numeric
 * sensors, and published as a retained state it would delete the retained
 * message. */
static bool sensor_value(struct ent *x, const char *v, size_t len)
{
	if (len == 0) {
		MQB_LOG_DEBUG(SUB, "%s: empty value ignored", eid(x));
		return false;
	}
	return set_state(x, is_none(v) ? NULL : v);
}

static bool on_off_value(struct ent *x, const char *topic, const char *v, const char *on,
			 const char *off)
{
	if (!*v) {
		MQB_LOG_DEBUG(SUB, "%s: empty value ignored", eid(x));
		return false;
	}
	if (strcmp(v, on) == 0) {
		if (x->off_delay)
			mqb_async_timer_rearm(x->off_delay, x->c->off_delay);
		return set_state(x, "on");
	}
	if (strcmp(v, off) == 0)
		return set_state(x, "off");
	if (is_none(v))
		return set_state(x, NULL);
	ignored(x, topic, "a payload matching neither on nor off", v);
	return false;
}

static bool cover_value(struct ent *x, const char *topic, const char *v)
{
	const struct conf *c = x->c;
	if (!*v) {
		MQB_LOG_DEBUG(SUB, "%s: empty value ignored", eid(x));
		return false;
	}
	if (strcmp(v, c->state_opening) == 0)
		return set_state(x, "opening");
	if (strcmp(v, c->state_closing) == 0)
		return set_state(x, "closing");
	if (strcmp(v, c->state_open) == 0)
		return set_state(x, "open");
	if (strcmp(v, c->state_closed) == 0)
		return set_state(x, "closed");
	if (strcmp(v, c->state_stopped) == 0) {
		/* Home Assistant: stopped is closed or open, by the position if
		 * there is one, else by where it was heading */
		const char *now = mqb_entity_async_state(x->e);
		bool closed = c->position_topic
				      ? x->position == 0
				      : strcmp(now, "closed") == 0 || strcmp(now, "closing") == 0;
		return set_state(x, closed ? "closed" : "open");
	}
	if (is_none(v))
		return set_state(x, NULL);
	ignored(x, topic, "a payload that is no cover state", v);
	return false;
}

static bool number_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	const struct conf *c = x->c;
	double d;
	if (strcmp(v, c->payload_reset) == 0)
		return set_state(x, NULL);
	if (!mqtt_parse_number(v, len, &d)) {
		ignored(x, topic, "a payload that is not a number", v);
		return false;
	}
	if (d < c->min || d > c->max) {
		ignored(x, topic, "a number out of range", v);
		return false;
	}
	char buf[MQB_NUMBER_MAX];
	mqb_format_number(d, buf);
	return set_state(x, buf);
}

static bool select_value(struct ent *x, const char *topic, const char *v)
{
	if (is_none(v))
		return set_state(x, NULL);
	for (size_t i = 0; i < x->noptions; i++)
		if (strcmp(v, x->options[i]) == 0)
			return set_state(x, v);
	ignored(x, topic, "a payload that is none of the options", v);
	return false;
}

static void on_state(struct ent *x, const char *topic, const char *payload, size_t len)
{
	const struct conf *c = x->c;
	bool changed = restart_expiry(x);
	if (mqtt_payload_has_nul(payload, len)) {
		ignored(x, topic, "a payload holding a NUL byte", "(binary)");
		if (changed)
			commit(x);
		return;
	}
	const struct mqb_template *t = x->value_tpl;
	char *v = NULL;
	size_t vlen = 0;
	if (render(x, x->dom == D_LIGHT ? "state_value_template" : "value_template", t, payload,
		   len, &v, &vlen)) {
		if (changed)
			commit(x);
		return;
	}
	bool took = false;
	switch (x->dom) {
	case D_SENSOR:
		took = sensor_value(x, v, vlen);
		break;
	case D_BINARY:
	case D_LIGHT:
		took = on_off_value(x, topic, v, c->payload_on, c->payload_off);
		break;
	case D_SWITCH:
		took = on_off_value(x, topic, v, x->state_on, x->state_off);
		break;
	case D_COVER:
		took = cover_value(x, topic, v);
		break;
	case D_NUMBER:
		took = number_value(x, topic, v, vlen);
		break;
	case D_SELECT:
		took = select_value(x, topic, v);
		break;
	case D_BUTTON:
		break;
	}
	free(v);
	if (took || changed)
		commit(x);
}

static void on_attributes(struct ent *x, const char *topic, const char *payload, size_t len)
{
	char *v = NULL;
	size_t vlen = 0;
	if (render(x, "json_attributes_template", x->attr_tpl, payload, len, &v, &vlen))
		return;
	json_t *a = NULL;
	char why[160];
	int rc = mqtt_json_attributes(v, vlen, &a, why, sizeof why);
	free(v);
	if (rc == -EINVAL) {
		ignored(x, topic, "JSON attributes that are no object", why);
		return;
	}
	if (rc)
		return;
	json_decref(x->json_attrs);
	x->json_attrs = a;
	commit(x);
}

static void on_availability(struct ent *x, size_t i, const char *payload, size_t len)
{
	struct avail_topic *at = &x->av[i];
	char *v = NULL;
	size_t vlen = 0;
	const char *opt = x->c->availability ? "availability.value_template"
					     : "availability_template";
	if (render(x, opt, at->tpl, payload, len, &v, &vlen))
		return;
	bool before = mqtt_avail_ok(&x->avail);
	if (strcmp(v, at->on) == 0)
		mqtt_avail_set(&x->avail, i, true);
	else if (strcmp(v, at->off) == 0)
		mqtt_avail_set(&x->avail, i, false);
	else
		MQB_LOG_DEBUG(SUB, "%s: availability payload '%.64s' on %s ignored", eid(x), v,
			      at->topic);
	free(v);
	if (mqtt_avail_ok(&x->avail) != before) {
		MQB_LOG_DEBUG(SUB, "%s: %s", eid(x),
			      mqtt_avail_ok(&x->avail) ? "available" : "not available");
		commit(x);
	}
}

static void on_brightness(struct ent *x, const char *topic, const char *payload, size_t len)
{
	char *v = NULL;
	size_t vlen = 0;
	if (render(x, "brightness_value_template", x->bright_tpl, payload, len, &v, &vlen))
		return;
	double d;
	if (vlen == 0) {
		MQB_LOG_DEBUG(SUB, "%s: empty brightness ignored", eid(x));
	} else if (!mqtt_parse_number(v, vlen, &d)) {
		ignored(x, topic, "a brightness that is not a number", v);
	} else {
		int b = mqtt_brightness_from_device(d, x->c->brightness_scale);
		if (b < 0) {
			MQB_LOG_DEBUG(SUB, "%s: brightness %s ignored", eid(x), v);
		} else {
			x->brightness = b;
			commit(x);
		}
	}
	free(v);
}

static void on_position(struct ent *x, const char *topic, const char *payload, size_t len)
{
	const struct conf *c = x->c;
	char *v = NULL;
	size_t vlen = 0;
	if (render(x, "position_template", x->pos_tpl, payload, len, &v, &vlen))
		return;
	double d;
	if (!mqtt_parse_number(v, vlen, &d)) {
		ignored(x, topic, "a position that is not a number", v);
		free(v);
		return;
	}
	free(v);
	x->position = mqtt_position_percent(d, c->position_closed, c->position_open);
	if (!c->state_topic)
		set_state(x, x->position == 0 ? "closed" : "open");
	commit(x);
}

/* Every subscription's handler: a CALLBACK on the loop. */
static int on_message(void *ud, void *arg, void **result)
{
	(void)result;
	struct sub *s = ud;
	struct ent *x = s->x;
	const struct mqb_mqtt_message *m = arg;
	const char *topic = mqb_mqtt_message_topic(m);
	const char *payload = mqb_mqtt_message_payload(m);
	size_t len = mqb_mqtt_message_len(m);
	if (!x->e)
		return 0;
	if (s->kind != S_STATE && mqtt_payload_has_nul(payload, len)) {
		ignored(x, topic, "a payload holding a NUL byte", "(binary)");
		return 0;
	}
	switch (s->kind) {
	case S_STATE:
		on_state(x, topic, payload, len);
		break;
	case S_ATTRS:
		on_attributes(x, topic, payload, len);
		break;
	case S_AVAIL:
		on_availability(x, s->index, payload, len);
		break;
	case S_BRIGHTNESS:
		on_brightness(x, topic, payload, len);
		break;
	case S_POSITION:
		on_position(x, topic, payload, len);
		break;
	}
	return 0;
}

/* ---- commands ---------------------------------------------------------- */

/* Publish value to topic through tpl (NULL: as it is), with the entity's
 * QoS and retain flag. */
static int send(struct ent *x, const char *topic, const char *option,
		const struct mqb_template *tpl, const char *value)
{
	char *out = NULL;
	size_t len = 0;
	int rc = render(x, option, tpl, value, strlen(value), &out, &len);
	if (rc)
		return rc;
	rc = mqb_mqtt_async_publish(x->core, topic, out, len, x->c->qos, x->c->retain, NULL);
	if (rc)
		MQB_LOG_WARNING(SUB, "%s: publishing the command to %s failed: %s", eid(x), topic,
				mqb_strerror(rc));
	else
		MQB_LOG_DEBUG(SUB, "%s: sent '%.64s' to %s", eid(x), out, topic);
	free(out);
	return rc;
}

static bool is_on(struct ent *x)
{
	return strcmp(mqb_entity_async_state(x->e), "on") == 0;
}

/* A number from a service call's data: a JSON number or a numeric string. */
static bool data_number(const json_t *data, const char *key, double *out)
{
	const json_t *v = data ? json_object_get(data, key) : NULL;
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return isfinite(*out);
	}
	if (json_is_string(v))
		return mqtt_parse_number(json_string_value(v), json_string_length(v), out);
	return false;
}

static int switch_command(struct ent *x, const char *service)
{
	const struct conf *c = x->c;
	bool on;
	if (strcmp(service, "turn_on") == 0)
		on = true;
	else if (strcmp(service, "turn_off") == 0)
		on = false;
	else if (strcmp(service, "toggle") == 0)
		on = !is_on(x);
	else
		return -ENOTSUP;
	int rc = send(x, c->command_topic, "command_template", x->cmd_tpl,
		      on ? c->payload_on : c->payload_off);
	if (rc == 0 && x->optimistic) {
		set_state(x, on ? "on" : "off");
		commit(x);
	}
	return rc;
}

static int light_off(struct ent *x)
{
	int rc = send(x, x->c->command_topic, "command_topic", NULL, x->c->payload_off);
	if (rc == 0 && x->optimistic) {
		set_state(x, "off");
		commit(x);
	}
	return rc;
}

static int light_on(struct ent *x, const json_t *data)
{
	const struct conf *c = x->c;
	double b = -1, pct;
	if (data_number(data, "brightness", &b))
		b = b < 0 ? 0 : b > 255 ? 255 : mqb_round(b, 0);
	else if (data_number(data, "brightness_pct", &pct))
		b = mqb_round((pct < 0 ? 0 : pct > 100 ? 100 : pct) * 255 / 100, 0);
	else
		b = -1;
	if (b == 0) /* Home Assistant: turning on at brightness 0 turns off */
		return light_off(x);
	const char *type = c->on_command_type;
	bool update = false;
	int rc;
	if (strcmp(type, "first") == 0) {
		if ((rc = send(x, c->command_topic, "command_topic", NULL, c->payload_on)))
			return rc;
		update = true;
	} else if (strcmp(type, "brightness") == 0 && b < 0) {
		b = x->brightness > 0 ? x->brightness : 255;
	}
	if (b > 0 && c->brightness_command_topic) {
		char buf[32];
		snprintf(buf, sizeof buf, "%d",
			 mqtt_brightness_to_device((int)b, c->brightness_scale));
		if ((rc = send(x, c->brightness_command_topic, "brightness_command_template",
			       x->bright_cmd_tpl, buf)))
			return rc;
		if (x->bright_optimistic) {
			x->brightness = (int)b;
			update = true;
		}
	}
	if (strcmp(type, "last") == 0) {
		if ((rc = send(x, c->command_topic, "command_topic", NULL, c->payload_on)))
			return rc;
		update = true;
	}
	if (x->optimistic) {
		set_state(x, "on");
		update = true;
	}
	if (update)
		commit(x);
	return 0;
}

static int light_command(struct ent *x, const char *service, const json_t *data)
{
	if (strcmp(service, "turn_on") == 0)
		return light_on(x, data);
	if (strcmp(service, "turn_off") == 0)
		return light_off(x);
	if (strcmp(service, "toggle") == 0)
		return is_on(x) ? light_off(x) : light_on(x, data);
	return -ENOTSUP;
}

static int cover_move(struct ent *x, const char *payload, const char *optimistic_state,
		      int optimistic_position)
{
	if (!payload || !x->c->command_topic)
		return -ENOTSUP;
	int rc = send(x, x->c->command_topic, "command_topic", NULL, payload);
	if (rc == 0 && x->optimistic && optimistic_state) {
		set_state(x, optimistic_state);
		if (optimistic_position >= 0 && (x->c->set_position_topic || x->c->position_topic))
			x->position = optimistic_position;
		commit(x);
	}
	return rc;
}

static int cover_command(struct ent *x, const char *service, const json_t *data)
{
	const struct conf *c = x->c;
	if (strcmp(service, "toggle") == 0) {
		const char *s = mqb_entity_async_state(x->e);
		bool closing = strcmp(s, "closed") == 0 || strcmp(s, "closing") == 0;
		/* Home Assistant: a moving cover is stopped, else moved the other way */
		if ((strcmp(s, "opening") == 0 || strcmp(s, "closing") == 0) && x->payload_stop)
			return cover_move(x, x->payload_stop, NULL, -1);
		service = closing ? "open_cover" : "close_cover";
	}
	if (strcmp(service, "open_cover") == 0)
		return cover_move(x, x->payload_open, "open", 100);
	if (strcmp(service, "close_cover") == 0)
		return cover_move(x, x->payload_close, "closed", 0);
	if (strcmp(service, "stop_cover") == 0)
		return cover_move(x, x->payload_stop, NULL, -1);
	if (strcmp(service, "set_cover_position") != 0)
		return -ENOTSUP;
	if (!c->set_position_topic)
		return -ENOTSUP;
	double p;
	if (!data_number(data, "position", &p) || p < 0 || p > 100) {
		MQB_LOG_WARNING(SUB, "%s: set_cover_position needs a position from 0 to 100",
				eid(x));
		return -EINVAL;
	}
	int pct = (int)mqb_round(p, 0);
	char buf[32];
	snprintf(buf, sizeof buf, "%d",
		 mqtt_position_device(pct, c->position_closed, c->position_open));
	int rc = send(x, c->set_position_topic, "set_position_template", x->set_pos_tpl, buf);
	if (rc == 0 && x->optimistic) {
		x->position = pct;
		set_state(x, pct == 0 ? "closed" : "open");
		commit(x);
	}
	return rc;
}

static int button_command(struct ent *x, const char *service)
{
	if (strcmp(service, "press") != 0)
		return -ENOTSUP;
	int rc = send(x, x->c->command_topic, "command_template", x->cmd_tpl,
		      x->c->payload_press);
	if (rc == 0) {
		/* a button's state is when it was last pressed */
		char when[MQB_ISOFORMAT_MAX];
		mqb_isoformat(mqb_async_now(x->core), when);
		set_state(x, when);
		commit(x);
	}
	return rc;
}

static int number_command(struct ent *x, const char *service, const json_t *data)
{
	const struct conf *c = x->c;
	if (strcmp(service, "set_value") != 0)
		return -ENOTSUP;
	double v;
	if (!data_number(data, "value", &v)) {
		MQB_LOG_WARNING(SUB, "%s: set_value needs a number", eid(x));
		return -EINVAL;
	}
	char buf[MQB_NUMBER_MAX];
	mqb_format_number(v, buf);
	if (v < c->min || v > c->max) {
		char lo[MQB_NUMBER_MAX], hi[MQB_NUMBER_MAX];
		mqb_format_number(c->min, lo);
		mqb_format_number(c->max, hi);
		MQB_LOG_WARNING(SUB, "%s: value %s is outside the range %s - %s", eid(x), buf, lo,
				hi);
		return -EINVAL;
	}
	int rc = send(x, c->command_topic, "command_template", x->cmd_tpl, buf);
	if (rc == 0 && x->optimistic) {
		set_state(x, buf);
		commit(x);
	}
	return rc;
}

static int select_command(struct ent *x, const char *service, const json_t *data)
{
	const struct conf *c = x->c;
	if (strcmp(service, "select_option") != 0)
		return -ENOTSUP;
	const json_t *o = data ? json_object_get(data, "option") : NULL;
	const char *opt = json_string_value(o);
	size_t i = 0;
	while (opt && i < x->noptions && strcmp(opt, x->options[i]) != 0)
		i++;
	if (!opt || i == x->noptions) {
		MQB_LOG_WARNING(SUB, "%s: '%.64s' is not one of the options", eid(x),
				opt ? opt : "(none)");
		return -EINVAL;
	}
	int rc = send(x, c->command_topic, "command_template", x->cmd_tpl, opt);
	if (rc == 0 && x->optimistic) {
		set_state(x, opt);
		commit(x);
	}
	return rc;
}

static int async_command(struct mqb_entity *e, void *priv, const char *service,
			 const json_t *data)
{
	struct ent *x = priv;
	x->e = e;
	switch (x->dom) {
	case D_SWITCH:
		return switch_command(x, service);
	case D_LIGHT:
		return light_command(x, service, data);
	case D_COVER:
		return cover_command(x, service, data);
	case D_BUTTON:
		return button_command(x, service);
	case D_NUMBER:
		return number_command(x, service, data);
	case D_SELECT:
		return select_command(x, service, data);
	case D_SENSOR:
	case D_BINARY:
		break;
	}
	return -ENOTSUP;
}

/* ---- life cycle -------------------------------------------------------- */

static int subscribe(struct ent *x, enum sub_kind kind, size_t index, const char *topic)
{
	struct sub *s = &x->subs[x->nsubs];
	*s = (struct sub){.x = x, .kind = kind, .index = index, .topic = topic};
	struct mqb_job job = MQB_CALLBACK(on_message, s);
	int rc = mqb_mqtt_async_subscribe(x->core, topic, x->c->qos, &job, &s->handle);
	if (rc) {
		MQB_LOG_ERROR(SUB, "%s: subscribing to %s failed: %s", eid(x), topic,
			      mqb_strerror(rc));
		return rc;
	}
	x->nsubs++;
	return 0;
}

static int async_added(struct mqb_entity *e, void *priv)
{
	struct ent *x = priv;
	const struct conf *c = x->c;
	x->e = e;
	if (c->expire_after) {
		if (mqb_async_timer_new(x->core, expire_cb, x, &x->expire))
			return -ENOMEM;
		/* unavailable until the first message (DESIGN §7) */
		x->expired = true;
	}
	if (x->dom == D_BINARY && c->off_delay &&
	    mqb_async_timer_new(x->core, off_delay_cb, x, &x->off_delay))
		return -ENOMEM;
	mqb_entity_async_set_available(e, mqtt_avail_ok(&x->avail) && !x->expired);
	bool nomem;
	json_t *a = attributes(x, &nomem);
	if (nomem)
		return -ENOMEM;
	mqb_entity_async_set_attributes(e, a);
	int rc = 0;
	for (size_t i = 0; i < x->avail.n && !rc; i++)
		rc = subscribe(x, S_AVAIL, i, x->av[i].topic);
	if (!rc && c->json_attributes_topic)
		rc = subscribe(x, S_ATTRS, 0, c->json_attributes_topic);
	if (!rc && c->brightness_state_topic)
		rc = subscribe(x, S_BRIGHTNESS, 0, c->brightness_state_topic);
	if (!rc && c->position_topic)
		rc = subscribe(x, S_POSITION, 0, c->position_topic);
	if (!rc && c->state_topic)
		rc = subscribe(x, S_STATE, 0, c->state_topic);
	return rc;
}

static void async_will_remove(struct mqb_entity *e, void *priv)
{
	(void)e;
	struct ent *x = priv;
	for (size_t i = 0; i < x->nsubs; i++)
		mqb_mqtt_async_unsubscribe(x->core, x->subs[i].handle);
	x->nsubs = 0;
	mqb_async_timer_stop(x->expire);
	mqb_async_timer_stop(x->off_delay);
}

static void ent_free(void *priv)
{
	struct ent *x = priv;
	if (!x)
		return;
	mqb_async_timer_cancel(x->expire);
	mqb_async_timer_cancel(x->off_delay);
	mqb_template_free(x->value_tpl);
	mqb_template_free(x->cmd_tpl);
	mqb_template_free(x->attr_tpl);
	mqb_template_free(x->bright_tpl);
	mqb_template_free(x->bright_cmd_tpl);
	mqb_template_free(x->pos_tpl);
	mqb_template_free(x->set_pos_tpl);
	for (size_t i = 0; x->av && i < x->avail.n; i++)
		mqb_template_free(x->av[i].tpl);
	free(x->av);
	mqtt_avail_fini(&x->avail);
	free(x->subs);
	free(x->options);
	json_decref(x->vars);
	json_decref(x->json_attrs);
	free(x->path);
	free(x);
}

/* Sensors and binary sensors, and covers without a command topic, take no
 * commands: without async_command the bridge subscribes no /set topic. */
static const struct mqb_entity_ops ro_ops = {
	.async_added = async_added,
	.async_will_remove = async_will_remove,
	.free = ent_free,
};
static const struct mqb_entity_ops rw_ops = {
	.async_added = async_added,
	.async_will_remove = async_will_remove,
	.async_command = async_command,
	.free = ent_free,
};

/* ---- setup ------------------------------------------------------------- */

static const struct {
	const char *domain;
	enum dom dom;
	const char *default_name; /* Home Assistant's DEFAULT_NAME */
} domains_by_name[] = {
	{"sensor", D_SENSOR, "MQTT Sensor"},       {"binary_sensor", D_BINARY, "MQTT Binary sensor"},
	{"switch", D_SWITCH, "MQTT Switch"},       {"light", D_LIGHT, "MQTT LightEntity"},
	{"cover", D_COVER, "MQTT Cover"},          {"button", D_BUTTON, "MQTT Button"},
	{"number", D_NUMBER, "MQTT Number"},       {"select", D_SELECT, "MQTT Select"},
};

static int compile(const struct mqb_conf_node *n, struct mqb_template **out)
{
	*out = NULL;
	return n ? mqb_template_from_conf(n, out) : 0;
}

/* payload_open/close/stop: absent is the default, null is "none". */
static const char *nullable(const struct mqb_conf_node *n, const char *def)
{
	if (!n)
		return def;
	if (mqb_conf_kind(n) != MQB_CONF_SCALAR)
		return NULL;
	return mqb_conf_scalar(n, NULL);
}

static int setup_availability(struct ent *x, const char *path)
{
	const struct conf *c = x->c;
	size_t n = 0;
	const struct mqb_conf_node *list = c->availability;
	if (c->availability_topic)
		n = 1;
	else if (list)
		n = mqb_conf_kind(list) == MQB_CONF_SEQ ? mqb_conf_len(list) : 1;
	if (mqtt_avail_init(&x->avail, mqtt_avail_mode_parse(c->availability_mode), n))
		return -ENOMEM;
	if (!n)
		return 0;
	if (!(x->av = calloc(n, sizeof *x->av)))
		return -ENOMEM;
	if (c->availability_topic) {
		x->av[0] = (struct avail_topic){c->availability_topic, c->payload_available,
						c->payload_not_available, NULL};
		return compile(c->availability_template, &x->av[0].tpl);
	}
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *item =
			mqb_conf_kind(list) == MQB_CONF_SEQ ? mqb_conf_item(list, i) : list;
		struct avail_conf ac = {0};
		struct mqb_conf_errors errs;
		mqb_conf_errors_init(&errs);
		/* checked when the configuration loaded: this only fills ac */
		size_t bad = mqb_schema_apply(&avail_item_schema, item, path, &ac, &errs);
		mqb_conf_errors_fini(&errs);
		if (bad)
			return -EINVAL;
		x->av[i] = (struct avail_topic){ac.topic, ac.payload_available,
						ac.payload_not_available, NULL};
		int rc = compile(ac.value_template, &x->av[i].tpl);
		if (rc)
			return rc;
	}
	return 0;
}

static int setup_options(struct ent *x)
{
	const struct mqb_conf_node *list = x->c->options;
	if (!list)
		return 0;
	size_t n = mqb_conf_kind(list) == MQB_CONF_SEQ ? mqb_conf_len(list) : 1;
	if (!(x->options = calloc(n ? n : 1, sizeof *x->options)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *o =
			mqb_conf_kind(list) == MQB_CONF_SEQ ? mqb_conf_item(list, i) : list;
		const char *s = mqb_conf_kind(o) == MQB_CONF_SCALAR ? mqb_conf_scalar(o, NULL) : NULL;
		if (s)
			x->options[x->noptions++] = s;
	}
	return 0;
}

/* Keys this domain adds to the bridge's discovery payload. NULL on ENOMEM. */
static json_t *discovery(struct ent *x)
{
	const struct conf *c = x->c;
	json_t *d = json_object();
	if (!d)
		return NULL;
	int rc = 0;
	if (!c->enabled_by_default)
		rc |= json_object_set_new(d, "enabled_by_default", json_false());
	if (c->entity_picture)
		rc |= json_object_set_new(d, "entity_picture", json_string(c->entity_picture));
	switch (x->dom) {
	case D_SENSOR: {
		unsigned prec;
		const struct mqb_conf_node *n = c->suggested_display_precision;
		if (n && mqb_conf_kind(n) == MQB_CONF_SCALAR &&
		    uint_text(mqb_conf_scalar(n, NULL), 15, &prec))
			rc |= json_object_set_new(d, "suggested_display_precision",
						  json_integer(prec));
		break;
	}
	case D_LIGHT: {
		bool dim = c->brightness_command_topic != NULL;
		rc |= json_object_set_new(d, "brightness", json_boolean(dim));
		if (dim)
			rc |= json_object_set_new(d, "brightness_scale", json_integer(255));
		rc |= json_object_set_new(d, "supported_color_modes",
					  json_pack("[s]", dim ? "brightness" : "onoff"));
		break;
	}
	case D_COVER:
		if (c->set_position_topic || c->position_topic) {
			rc |= json_object_set_new(d, "position_open", json_integer(100));
			rc |= json_object_set_new(d, "position_closed", json_integer(0));
		}
		if (!x->payload_open)
			rc |= json_object_set_new(d, "payload_open", json_null());
		if (!x->payload_close)
			rc |= json_object_set_new(d, "payload_close", json_null());
		if (!x->payload_stop)
			rc |= json_object_set_new(d, "payload_stop", json_null());
		break;
	case D_NUMBER:
	case D_SELECT:
		rc |= range_and_options(d, x);
		break;
	default:
		break;
	}
	if (rc) {
		json_decref(d);
		return NULL;
	}
	return d;
}

static int setup(struct mqb_platform *p, const void *conf, const char *path)
{
	const struct conf *c = conf;
	const char *domain = mqb_platform_domain(p);
	size_t di = 0;
	while (di < MQB_ARRAY_SIZE(domains_by_name) &&
	       strcmp(domains_by_name[di].domain, domain) != 0)
		di++;
	if (di == MQB_ARRAY_SIZE(domains_by_name))
		return -EINVAL;
	struct ent *x = calloc(1, sizeof *x);
	if (!x)
		return -ENOMEM;
	x->c = c;
	x->dom = domains_by_name[di].dom;
	x->core = mqb_platform_core(p);
	x->brightness = -1;
	x->position = -1;
	json_t *disc = NULL;
	int rc = -ENOMEM;
	if (!(x->path = strdup(path ? path : domain)))
		goto fail;
	x->state_on = c->state_on ? c->state_on : c->payload_on;
	x->state_off = c->state_off ? c->state_off : c->payload_off;
	x->payload_open = nullable(c->payload_open, "OPEN");
	x->payload_close = nullable(c->payload_close, "CLOSE");
	x->payload_stop = nullable(c->payload_stop, "STOP");
	/* Home Assistant: without a state topic a command's result is the
	 * state; a cover's position topic counts as one */
	x->optimistic = c->optimistic || (!c->state_topic && x->dom != D_BUTTON &&
					  !(x->dom == D_COVER && c->position_topic));
	if (x->dom == D_SENSOR || x->dom == D_BINARY)
		x->optimistic = false;
	x->bright_optimistic = c->optimistic || !c->brightness_state_topic;
	if ((rc = compile(x->dom == D_LIGHT ? c->state_value_template : c->value_template,
			  &x->value_tpl)) ||
	    (rc = compile(c->command_template, &x->cmd_tpl)) ||
	    (rc = compile(c->json_attributes_template, &x->attr_tpl)) ||
	    (rc = compile(c->brightness_value_template, &x->bright_tpl)) ||
	    (rc = compile(c->brightness_command_template, &x->bright_cmd_tpl)) ||
	    (rc = compile(c->position_template, &x->pos_tpl)) ||
	    (rc = compile(c->set_position_template, &x->set_pos_tpl)) ||
	    (rc = setup_availability(x, path)) || (rc = setup_options(x)))
		goto fail;
	rc = -ENOMEM;
	size_t nsubs = x->avail.n + !!c->json_attributes_topic + !!c->brightness_state_topic +
		       !!c->position_topic + !!c->state_topic;
	if (nsubs && !(x->subs = calloc(nsubs, sizeof *x->subs)))
		goto fail;
	if (!(disc = discovery(x)))
		goto fail;
	const char *object_id = c->object_id;
	if (!object_id && c->default_entity_id) {
		const char *dot = strchr(c->default_entity_id, '.');
		object_id = dot ? dot + 1 : c->default_entity_id;
	}
	struct mqb_entity_info info = {
		.name = c->name ? c->name : domains_by_name[di].default_name,
		.object_id = object_id,
		.unique_id = c->unique_id,
		.icon = c->icon,
		.device_class = c->device_class,
		.state_class = c->state_class,
		.unit_of_measurement = c->unit_of_measurement,
		.entity_category = c->entity_category,
		.force_update = c->force_update,
		.discovery = disc,
		.unavailable = x->avail.n > 0 || c->expire_after > 0,
	};
	bool rw = x->dom != D_SENSOR && x->dom != D_BINARY &&
		  !(x->dom == D_COVER && !c->command_topic && !c->set_position_topic);
	/* the entity owns x from here, even when adding fails */
	rc = mqb_platform_async_add_entity(p, &info, rw ? &rw_ops : &ro_ops, x, NULL);
	json_decref(disc);
	if (rc)
		MQB_LOG_ERROR(SUB, "%s: adding the entity failed: %s", path, mqb_strerror(rc));
	return rc;
fail:
	MQB_LOG_ERROR(SUB, "%s: %s", path, mqb_strerror(rc));
	json_decref(disc);
	ent_free(x);
	return rc;
}

/* ---- the descriptor ---------------------------------------------------- */

#define DOMAIN(name, check_fn) \
	{.domain = #name, .schema = &name##_schema, .conf_size = sizeof(struct conf), \
	 .check = check_fn, .async_setup_platform = setup}

static const struct mqb_platform_domain domains[] = {
	DOMAIN(sensor, check_sensor), DOMAIN(binary_sensor, check_plain),
	DOMAIN(switch, check_plain),  DOMAIN(light, check_light),
	DOMAIN(cover, check_cover),   DOMAIN(button, check_plain),
	DOMAIN(number, check_number), DOMAIN(select, check_select),
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = "mqtt",
	.domains = domains,
	.ndomains = MQB_ARRAY_SIZE(domains),
};
