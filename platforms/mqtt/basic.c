/* SPDX-License-Identifier: MIT */
/* The MQTT domains of one value each: sensor, binary_sensor, switch,
 * button, number, select, text, scene, notify, event, update and
 * device_tracker, with Home Assistant's options, defaults and state rules
 * (its components/mqtt/<domain>.py). */
#include "mqtt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/location.h"

#define STATE_READ(T, fn, fl) \
	{.topic_key = "state_topic", .tpl_key = "value_template", \
	 .topic_off = offsetof(T, com.state_topic), .tpl_off = offsetof(T, com.value_template), \
	 .value = fn, .flags = fl}

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

/* ---- sensor -------------------------------------------------------------- */

#define T struct sensor_conf
static const struct mqb_schema_key sensor_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_STATE_TOPIC(T, true),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_DEVICE_CLASS(T),
	{.key = "state_class", .type = MQB_S_STRING, MQTT_CM(T, state_class),
	 .doc = "measurement, total or total_increasing"},
	{.key = "unit_of_measurement", .type = MQB_S_STRING, MQTT_CM(T, unit_of_measurement),
	 .doc = "unit of the value"},
	{.key = "suggested_display_precision", .type = MQB_S_ANY,
	 MQTT_AT(T, suggested_display_precision), .doc = "decimals Home Assistant shows, 0 to 15"},
	MQTT_TPL(T, last_reset_value_template, "template extracting last_reset (state_class total)"),
	MQTT_LIST(T, options, "the states a sensor of device class enum takes"),
	MQTT_EXPIRY(T),
};
const struct mqb_schema mqtt_sensor_schema = MQB_SCHEMA("mqtt sensor", sensor_keys);

static void sensor_check(const void *conf, const struct mqb_conf_node *item, const char *path,
			 struct mqb_conf_errors *errs)
{
	const T *c = conf;
	const struct mqb_conf_node *n = c->suggested_display_precision;
	unsigned v;
	if (n && (mqb_conf_kind(n) != MQB_CONF_SCALAR ||
		  !uint_text(mqb_conf_scalar(n, NULL), 15, &v)))
		mqtt_errat(errs, item, path, "suggested_display_precision",
			   "expected an integer from 0 to 15");
	if (c->last_reset_value_template &&
	    (!c->com.state_class || strcmp(c->com.state_class, "total") != 0))
		mqtt_errat(errs, item, path, "last_reset_value_template",
			   "needs state_class total, as Home Assistant's MQTT sensor does");
	if (c->options && (!c->com.device_class || strcmp(c->com.device_class, "enum") != 0))
		mqtt_errat(errs, item, path, "options", "options are for device class enum only");
}

static bool sensor_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)topic, (void)len;
	const T *c = x->conf;
	if (mqtt_is_none(v))
		return mqtt_set_state(x, NULL);
	size_t n;
	const char **opts = c->options ? mqtt_strings(c->options, &n) : NULL;
	bool ok = !opts || mqtt_in(opts, n, v);
	free(opts);
	if (!ok) {
		mqtt_ignored(x, topic, "a value that is none of the options", v);
		return false;
	}
	return mqtt_set_state(x, v);
}

static const struct mqtt_read sensor_reads[] = {
	STATE_READ(T, sensor_value, MQTT_READ_STATE),
};

static int sensor_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	unsigned prec;
	int rc = 0;
	const struct mqb_conf_node *n = c->suggested_display_precision;
	if (n && mqb_conf_kind(n) == MQB_CONF_SCALAR && uint_text(mqb_conf_scalar(n, NULL), 15, &prec))
		rc |= json_object_set_new(d, "suggested_display_precision", json_integer(prec));
	if (c->options) {
		size_t k;
		const char **opts = mqtt_strings(c->options, &k);
		rc |= !opts || json_object_set_new(d, "options", mqtt_json_strings(opts, k));
		free(opts);
	}
	return rc;
}

static int sensor_attributes(struct ent *x, json_t *a)
{
	const T *c = x->conf;
	if (!c->options)
		return 0;
	size_t k;
	const char **opts = mqtt_strings(c->options, &k);
	int rc = !opts || json_object_set_new(a, "options", mqtt_json_strings(opts, k));
	free(opts);
	return rc;
}

const struct mqtt_class mqtt_sensor = {
	.domain = "sensor",
	.default_name = "MQTT Sensor",
	.check = sensor_check,
	.reads = sensor_reads,
	.nreads = 1,
	.discovery = sensor_discovery,
	.attributes = sensor_attributes,
	.name_from_device_class = true,
};
#undef T

/* ---- binary_sensor ------------------------------------------------------- */

#define T struct binary_sensor_conf
static const struct mqb_schema_key binary_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_STATE_TOPIC(T, true),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_DEVICE_CLASS(T),
	MQTT_STR(T, payload_on, "ON", "payload meaning on"),
	MQTT_STR(T, payload_off, "OFF", "payload meaning off"),
	MQTT_EXPIRY(T),
	{.key = "off_delay", .type = MQB_S_UINT, .def = "0", MQTT_AT(T, off_delay),
	 .doc = "seconds after on before the state turns off by itself; 0: never"},
};
const struct mqb_schema mqtt_binary_sensor_schema = MQB_SCHEMA("mqtt binary_sensor", binary_keys);

struct binary_priv {
	struct mqb_timer *off_delay;
};

static void off_delay_cb(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct ent *x = ud;
	mqtt_set_state(x, "off");
	mqtt_commit(x);
}

static bool binary_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	const T *c = x->conf;
	struct binary_priv *b = x->priv;
	bool took = mqtt_on_off(x, topic, v, c->payload_on, c->payload_off);
	if (b->off_delay && strcmp(v, c->payload_on) == 0)
		mqb_async_timer_rearm(b->off_delay, c->off_delay);
	return took;
}

static int binary_init(struct ent *x)
{
	const T *c = x->conf;
	struct binary_priv *b = x->priv;
	if (c->off_delay && mqb_async_timer_new(mqtt_core(x), off_delay_cb, x, &b->off_delay))
		return -ENOMEM;
	return 0;
}

static void binary_fini(struct ent *x)
{
	struct binary_priv *b = x->priv;
	mqb_async_timer_cancel(b->off_delay);
	b->off_delay = NULL;
}

static const struct mqtt_read binary_reads[] = {
	STATE_READ(T, binary_value, MQTT_READ_STATE),
};

const struct mqtt_class mqtt_binary_sensor = {
	.domain = "binary_sensor",
	.default_name = "MQTT Binary sensor",
	.reads = binary_reads,
	.nreads = 1,
	.priv_size = sizeof(struct binary_priv),
	.init = binary_init,
	.fini = binary_fini,
	.name_from_device_class = true,
};
#undef T

/* ---- switch -------------------------------------------------------------- */

#define T struct switch_conf
static const struct mqb_schema_key switch_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, true),
	MQTT_STATE_TOPIC(T, false),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_COMMAND_TEMPLATE(T),
	MQTT_DEVICE_CLASS(T),
	MQTT_STR(T, payload_on, "ON", "payload meaning on"),
	MQTT_STR(T, payload_off, "OFF", "payload meaning off"),
	MQTT_STR(T, state_on, NULL, "state payload meaning on (default: payload_on)"),
	MQTT_STR(T, state_off, NULL, "state payload meaning off (default: payload_off)"),
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_switch_schema = MQB_SCHEMA("mqtt switch", switch_keys);

static bool switch_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	const T *c = x->conf;
	return mqtt_on_off(x, topic, v, c->state_on ? c->state_on : c->payload_on,
			    c->state_off ? c->state_off : c->payload_off);
}

/* Commands through one template: the entity's command_template. */
struct cmd_priv {
	struct mqb_template *tpl;
};

static int cmd_init(struct ent *x)
{
	struct cmd_priv *p = x->priv;
	return mqtt_compile(x, x->com->command_template, &p->tpl);
}

/* Home Assistant: without a state topic a command's result is the state. */
static int optimistic_init(struct ent *x)
{
	x->optimistic = x->com->optimistic || !x->com->state_topic;
	return cmd_init(x);
}

static int switch_command(struct ent *x, const char *service, const json_t *data)
{
	(void)data;
	const T *c = x->conf;
	struct cmd_priv *p = x->priv;
	int on = mqb_entity_async_on_off(x->e, service);
	if (on < 0)
		return on;
	return mqtt_command(x, c->com.command_topic, "command_template", p->tpl,
			    on ? c->payload_on : c->payload_off, NULL, NULL, on ? "on" : "off");
}

static const struct mqtt_read switch_reads[] = {
	STATE_READ(T, switch_value, 0),
};

const struct mqtt_class mqtt_switch = {
	.domain = "switch",
	.default_name = "MQTT Switch",
	.reads = switch_reads,
	.nreads = 1,
	.priv_size = sizeof(struct cmd_priv),
	.init = optimistic_init,
	.command = switch_command,
};
#undef T

/* ---- button --------------------------------------------------------------- */

#define T struct button_conf
static const struct mqb_schema_key button_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, true),
	MQTT_COMMAND_TEMPLATE(T),
	MQTT_DEVICE_CLASS(T),
	MQTT_STR(T, payload_press, "PRESS", "command payload of a press"),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_button_schema = MQB_SCHEMA("mqtt button", button_keys);

static int button_command(struct ent *x, const char *service, const json_t *data)
{
	(void)data;
	const T *c = x->conf;
	struct cmd_priv *p = x->priv;
	if (strcmp(service, "press") != 0)
		return -ENOTSUP;
	int rc = mqtt_send(x, c->com.command_topic, "command_template", p->tpl, c->payload_press,
			   NULL, NULL);
	if (rc == 0) {
		/* a button's state is when it was last pressed */
		mqtt_set_moment(x);
		mqtt_commit(x);
	}
	return rc;
}

const struct mqtt_class mqtt_button = {
	.domain = "button",
	.default_name = "MQTT Button",
	.priv_size = sizeof(struct cmd_priv),
	.init = cmd_init,
	.command = button_command,
	.name_from_device_class = true,
};
#undef T

/* ---- number --------------------------------------------------------------- */

#define T struct number_conf
static const char *const number_modes[] = {"auto", "box", "slider", NULL};
static const struct mqb_schema_key number_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, true),
	MQTT_STATE_TOPIC(T, false),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_COMMAND_TEMPLATE(T),
	MQTT_DEVICE_CLASS(T),
	{.key = "unit_of_measurement", .type = MQB_S_STRING, MQTT_CM(T, unit_of_measurement),
	 .doc = "unit of the value"},
	{.key = "min", .type = MQB_S_FLOAT, .def = "1", MQTT_AT(T, min), .doc = "smallest value"},
	{.key = "max", .type = MQB_S_FLOAT, .def = "100", MQTT_AT(T, max), .doc = "largest value"},
	{.key = "step", .type = MQB_S_FLOAT, .def = "1", .min = 0.001, .max = 1e15,
	 MQTT_AT(T, step), .doc = "step between values"},
	{.key = "mode", .type = MQB_S_ENUM, .choices = number_modes, .def = "auto",
	 MQTT_AT(T, mode), .doc = "auto, box or slider"},
	MQTT_STR(T, payload_reset, PAYLOAD_NONE, "state payload making the value unknown"),
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_number_schema = MQB_SCHEMA("mqtt number", number_keys);

static void number_check(const void *conf, const struct mqb_conf_node *item, const char *path,
			 struct mqb_conf_errors *errs)
{
	const T *c = conf;
	if (!(c->max > c->min))
		mqtt_errat(errs, item, path, mqb_conf_get(item, "max") ? "max" : "min",
			   "max must be greater than min");
}

static bool number_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	const T *c = x->conf;
	double d;
	if (strcmp(v, c->payload_reset) == 0)
		return mqtt_set_state(x, NULL);
	if (!mqtt_parse_number(v, len, &d)) {
		mqtt_ignored(x, topic, "a payload that is not a number", v);
		return false;
	}
	if (d < c->min || d > c->max) {
		mqtt_ignored(x, topic, "a number out of range", v);
		return false;
	}
	char buf[MQB_NUMBER_MAX];
	return mqtt_set_state(x, mqtt_number_text(d, buf));
}

static const struct mqtt_read number_reads[] = {
	STATE_READ(T, number_value, 0),
};

static int number_range(struct ent *x, json_t *o)
{
	const T *c = x->conf;
	int rc = json_object_set_new(o, "min", json_real(c->min));
	rc |= json_object_set_new(o, "max", json_real(c->max));
	rc |= json_object_set_new(o, "step", json_real(c->step));
	rc |= json_object_set_new(o, "mode", json_string(c->mode));
	return rc;
}

static int number_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct cmd_priv *p = x->priv;
	if (strcmp(service, "set_value") != 0)
		return -ENOTSUP;
	double v;
	if (!mqtt_data_number(data, "value", &v)) {
		MQB_LOG_WARNING(SUB, "%s: set_value needs a number", mqtt_eid(x));
		return -EINVAL;
	}
	char buf[MQB_NUMBER_MAX];
	mqtt_number_text(v, buf);
	if (v < c->min || v > c->max) {
		char lo[MQB_NUMBER_MAX], hi[MQB_NUMBER_MAX];
		MQB_LOG_WARNING(SUB, "%s: value %s is outside the range %s - %s", mqtt_eid(x), buf,
				mqtt_number_text(c->min, lo), mqtt_number_text(c->max, hi));
		return -EINVAL;
	}
	/* Home Assistant hands the template an int when the value is whole */
	json_t *jv = v == floor(v) && fabs(v) < 1e15 ? json_integer((json_int_t)v) : json_real(v);
	int rc = jv ? mqtt_command(x, c->com.command_topic, "command_template", p->tpl, buf, jv,
				   NULL, buf)
		    : -ENOMEM;
	json_decref(jv);
	return rc;
}

const struct mqtt_class mqtt_number = {
	.domain = "number",
	.default_name = "MQTT Number",
	.check = number_check,
	.reads = number_reads,
	.nreads = 1,
	.priv_size = sizeof(struct cmd_priv),
	.init = optimistic_init,
	.discovery = number_range,
	.attributes = number_range,
	.command = number_command,
	.name_from_device_class = true,
};
#undef T

/* ---- select --------------------------------------------------------------- */

#define T struct select_conf
static const struct mqb_schema_key select_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, true),
	MQTT_STATE_TOPIC(T, false),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_COMMAND_TEMPLATE(T),
	{.key = "options", .type = MQB_S_LIST, .sub = &mqtt_string_list_schema, .required = true,
	 MQTT_AT(T, options), .doc = "the options (a list of strings)"},
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_select_schema = MQB_SCHEMA("mqtt select", select_keys);

struct select_priv {
	struct mqb_template *tpl;
	const char **options;
	size_t noptions;
};

static void select_check(const void *conf, const struct mqb_conf_node *item, const char *path,
			 struct mqb_conf_errors *errs)
{
	const T *c = conf;
	if (c->options && mqb_conf_kind(c->options) == MQB_CONF_SEQ &&
	    mqb_conf_len(c->options) == 0)
		mqtt_errat(errs, item, path, "options", "needs at least one option");
}

static bool select_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	struct select_priv *s = x->priv;
	if (mqtt_is_none(v))
		return mqtt_set_state(x, NULL);
	if (mqtt_in(s->options, s->noptions, v))
		return mqtt_set_state(x, v);
	mqtt_ignored(x, topic, "a payload that is none of the options", v);
	return false;
}

static const struct mqtt_read select_reads[] = {
	STATE_READ(T, select_value, 0),
};

static int select_init(struct ent *x)
{
	const T *c = x->conf;
	struct select_priv *s = x->priv;
	x->optimistic = c->com.optimistic || !c->com.state_topic;
	if (!(s->options = mqtt_strings(c->options, &s->noptions)))
		return -ENOMEM;
	return mqtt_compile(x, c->com.command_template, &s->tpl);
}

static void select_fini(struct ent *x)
{
	struct select_priv *s = x->priv;
	free(s->options);
	s->options = NULL;
}

static int select_options(struct ent *x, json_t *o)
{
	struct select_priv *s = x->priv;
	return json_object_set_new(o, "options", mqtt_json_strings(s->options, s->noptions));
}

static int select_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct select_priv *s = x->priv;
	if (strcmp(service, "select_option") != 0)
		return -ENOTSUP;
	const char *opt = mqtt_data_string(data, "option");
	if (!mqtt_in(s->options, s->noptions, opt)) {
		MQB_LOG_WARNING(SUB, "%s: '%.64s' is not one of the options", mqtt_eid(x),
				opt ? opt : "(none)");
		return -EINVAL;
	}
	return mqtt_command(x, c->com.command_topic, "command_template", s->tpl, opt, NULL, NULL,
			    opt);
}

const struct mqtt_class mqtt_select = {
	.domain = "select",
	.default_name = "MQTT Select",
	.check = select_check,
	.reads = select_reads,
	.nreads = 1,
	.priv_size = sizeof(struct select_priv),
	.init = select_init,
	.fini = select_fini,
	.discovery = select_options,
	.attributes = select_options,
	.command = select_command,
};
#undef T

/* ---- text ----------------------------------------------------------------- */

#define T struct text_conf
static const char *const text_modes[] = {"text", "password", NULL};
static const struct mqb_schema_key text_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, true),
	MQTT_STATE_TOPIC(T, false),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_COMMAND_TEMPLATE(T),
	{.key = "min", .type = MQB_S_INT, .def = "0", .min = 0, .max = 255, MQTT_AT(T, min),
	 .doc = "shortest text"},
	{.key = "max", .type = MQB_S_INT, .def = "255", .min = 0, .max = 255, MQTT_AT(T, max),
	 .doc = "longest text"},
	{.key = "mode", .type = MQB_S_ENUM, .choices = text_modes, .def = "text", MQTT_AT(T, mode),
	 .doc = "text or password"},
	MQTT_STR(T, pattern, NULL, "a regular expression the text must match"),
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_text_schema = MQB_SCHEMA("mqtt text", text_keys);

static void text_check(const void *conf, const struct mqb_conf_node *item, const char *path,
		       struct mqb_conf_errors *errs)
{
	const T *c = conf;
	if (c->min > c->max)
		mqtt_errat(errs, item, path, "max", "max must not be below min");
}

/* A text is taken when its length is within min and max (Home Assistant
 * refuses the others), counted in characters. */
static bool text_fits(const T *c, const char *v)
{
	size_t chars = 0;
	for (const unsigned char *s = (const unsigned char *)v; *s; s++)
		chars += (*s & 0xC0) != 0x80;
	return chars >= (size_t)c->min && chars <= (size_t)c->max;
}

static bool text_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	if (!text_fits(x->conf, v)) {
		mqtt_ignored(x, topic, "a text of a length outside min and max", v);
		return false;
	}
	return mqtt_set_state(x, v);
}

static const struct mqtt_read text_reads[] = {
	STATE_READ(T, text_value, MQTT_READ_EMPTY),
};

static int text_attrs(struct ent *x, json_t *o)
{
	const T *c = x->conf;
	int rc = json_object_set_new(o, "min", json_integer(c->min));
	rc |= json_object_set_new(o, "max", json_integer(c->max));
	rc |= json_object_set_new(o, "mode", json_string(c->mode));
	if (c->pattern)
		rc |= json_object_set_new(o, "pattern", json_string(c->pattern));
	return rc;
}

static int text_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct cmd_priv *p = x->priv;
	if (strcmp(service, "set_value") != 0)
		return -ENOTSUP;
	const char *v = mqtt_data_string(data, "value");
	if (!v || !text_fits(c, v)) {
		MQB_LOG_WARNING(SUB, "%s: set_value needs a text of %d to %d characters",
				mqtt_eid(x), c->min, c->max);
		return -EINVAL;
	}
	return mqtt_command(x, c->com.command_topic, "command_template", p->tpl, v, NULL, NULL, v);
}

const struct mqtt_class mqtt_text = {
	.domain = "text",
	.default_name = "MQTT Text",
	.check = text_check,
	.reads = text_reads,
	.nreads = 1,
	.priv_size = sizeof(struct cmd_priv),
	.init = optimistic_init,
	.discovery = text_attrs,
	.attributes = text_attrs,
	.command = text_command,
};
#undef T

/* ---- scene and notify ------------------------------------------------------ */

#define T struct scene_conf
static const struct mqb_schema_key scene_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, false),
	MQTT_STR(T, payload_on, "ON", "command payload activating the scene"),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_scene_schema = MQB_SCHEMA("mqtt scene", scene_keys);

/* A scene's and a notify entity's state is when it was last used. */
static void used_now(struct ent *x)
{
	mqtt_set_moment(x);
	mqtt_commit(x);
}

static int scene_command(struct ent *x, const char *service, const json_t *data)
{
	(void)data;
	const T *c = x->conf;
	if (strcmp(service, "turn_on") != 0)
		return -ENOTSUP;
	if (!c->com.command_topic)
		return -ENOTSUP;
	int rc = mqtt_send(x, c->com.command_topic, "command_topic", NULL, c->payload_on, NULL,
			   NULL);
	if (rc == 0)
		used_now(x);
	return rc;
}

const struct mqtt_class mqtt_scene = {
	.domain = "scene",
	.default_name = "MQTT Scene",
	.command = scene_command,
};
#undef T

#define T struct notify_conf
static const struct mqb_schema_key notify_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, true),
	MQTT_COMMAND_TEMPLATE(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_notify_schema = MQB_SCHEMA("mqtt notify", notify_keys);

/* notify.send_message: the message through the command template, which
 * also sees the title (Home Assistant's MQTT notify). */
static int notify_command(struct ent *x, const char *service, const json_t *data)
{
	struct cmd_priv *p = x->priv;
	if (strcmp(service, "send_message") != 0)
		return -ENOTSUP;
	const char *msg = mqtt_data_string(data, "message");
	if (!msg) {
		MQB_LOG_WARNING(SUB, "%s: send_message needs a message", mqtt_eid(x));
		return -EINVAL;
	}
	const char *title = mqtt_data_string(data, "title");
	json_t *extra = json_pack("{s:s?}", "title", title);
	int rc = extra ? mqtt_send(x, x->com->command_topic, "command_template", p->tpl, msg, NULL,
				   extra)
		       : -ENOMEM;
	json_decref(extra);
	if (rc == 0)
		used_now(x);
	return rc;
}

const struct mqtt_class mqtt_notify = {
	.domain = "notify",
	.default_name = "MQTT notify",
	.priv_size = sizeof(struct cmd_priv),
	.init = cmd_init,
	.command = notify_command,
	.name_from_device_class = true,
};
#undef T

/* ---- event ---------------------------------------------------------------- */

#define T struct event_conf
static const struct mqb_schema_key event_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_STATE_TOPIC(T, true),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_DEVICE_CLASS(T),
	{.key = "event_types", .type = MQB_S_LIST, .sub = &mqtt_string_list_schema,
	 .required = true, MQTT_AT(T, event_types), .doc = "the event types it fires"},
};
const struct mqb_schema mqtt_event_schema = MQB_SCHEMA("mqtt event", event_keys);

struct event_priv {
	const char **types;
	size_t ntypes;
};

/* Home Assistant's MQTT event: a JSON object with event_type and the
 * event's attributes; the state is when it last fired. */
static bool event_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	struct event_priv *ev = x->priv;
	if (mqtt_is_none(v) || strcmp(v, "{}") == 0)
		return false;
	json_t *j = json_loadb(v, len, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "event_type"));
	if (!json_is_object(j) || !type || !mqtt_in(ev->types, ev->ntypes, type)) {
		mqtt_ignored(x, topic,
			     !json_is_object(j) ? "no valid JSON event payload"
			     : !type	    ? "an event without event_type"
					    : "an event type it does not have",
			     v);
		json_decref(j);
		return false;
	}
	json_t *a = json_object();
	const char *k;
	json_t *val;
	json_object_foreach(j, k, val)
		if (strcmp(k, "event_type") != 0)
			json_object_set(a, k, val);
	json_object_set_new(a, "event_type", json_string(type));
	json_decref(x->attrs);
	x->attrs = a;
	json_decref(j);
	return mqtt_set_moment(x);
}

static const struct mqtt_read event_reads[] = {
	STATE_READ(T, event_value, 0),
};

static int event_init(struct ent *x)
{
	const T *c = x->conf;
	struct event_priv *ev = x->priv;
	return (ev->types = mqtt_strings(c->event_types, &ev->ntypes)) ? 0 : -ENOMEM;
}

static void event_fini(struct ent *x)
{
	struct event_priv *ev = x->priv;
	free(ev->types);
	ev->types = NULL;
}

static int event_types(struct ent *x, json_t *o)
{
	struct event_priv *ev = x->priv;
	int rc = json_object_set_new(o, "event_types", mqtt_json_strings(ev->types, ev->ntypes));
	if (!json_object_get(o, "event_type"))
		rc |= json_object_set_new(o, "event_type", json_null());
	return rc;
}

static int event_discovery(struct ent *x, json_t *d)
{
	struct event_priv *ev = x->priv;
	return json_object_set_new(d, "event_types", mqtt_json_strings(ev->types, ev->ntypes));
}

const struct mqtt_class mqtt_event = {
	.domain = "event",
	.default_name = "MQTT Event",
	.reads = event_reads,
	.nreads = 1,
	.priv_size = sizeof(struct event_priv),
	.init = event_init,
	.fini = event_fini,
	.discovery = event_discovery,
	.attributes = event_types,
	.name_from_device_class = true,
};
#undef T

/* ---- update --------------------------------------------------------------- */

#define T struct update_conf
static const struct mqb_schema_key update_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_STATE_TOPIC(T, false),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_COMMAND_TOPIC(T, false),
	MQTT_DEVICE_CLASS(T),
	MQTT_SUB(T, latest_version_topic, "topic the latest version is read from"),
	MQTT_TPL(T, latest_version_template, "template extracting the latest version"),
	MQTT_STR(T, payload_install, NULL, "command payload installing the update"),
	MQTT_STR(T, release_summary, NULL, "summary of the release"),
	MQTT_STR(T, release_url, NULL, "where the release is described"),
	MQTT_STR(T, title, NULL, "title of the software"),
	{.key = "display_precision", .type = MQB_S_INT, .def = "0", .min = 0, .max = 15,
	 MQTT_AT(T, display_precision), .doc = "decimals of update_percentage shown"},
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_update_schema = MQB_SCHEMA("mqtt update", update_keys);

/* The state: on when the latest version differs from the installed one. */
static void update_state(struct ent *x)
{
	const char *inst = json_string_value(json_object_get(x->attrs, "installed_version"));
	const char *latest = json_string_value(json_object_get(x->attrs, "latest_version"));
	if (!inst || !latest)
		mqtt_set_state(x, inst && !json_object_get(x->attrs, "latest_version") ? "off" : NULL);
	else
		mqtt_set_state(x, strcmp(inst, latest) != 0 ? "on" : "off");
}

/* Home Assistant's MQTT update: the installed version as text, or a JSON
 * object of installed_version, latest_version, title, release_summary,
 * release_url, entity_picture, in_progress and update_percentage. */
static bool update_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	json_t *j = v[0] == '{' ? json_loadb(v, len, 0, NULL) : NULL;
	if (v[0] == '{' && !json_is_object(j)) {
		mqtt_ignored(x, topic, "an update payload that is not JSON", v);
		json_decref(j);
		return false;
	}
	if (!j) {
		mqtt_attr(x, "installed_version", json_string(v));
		update_state(x);
		return true;
	}
	static const char *const keys[] = {"installed_version", "latest_version",  "title",
					   "release_summary",   "release_url",     "entity_picture",
					   "in_progress",       "update_percentage"};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(keys); i++) {
		json_t *val = json_object_get(j, keys[i]);
		if (val)
			mqtt_attr(x, keys[i], json_is_null(val) ? json_null() : json_incref(val));
	}
	json_decref(j);
	update_state(x);
	return true;
}

static bool latest_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)topic, (void)len;
	mqtt_attr(x, "latest_version", json_string(v));
	update_state(x);
	return true;
}

static const struct mqtt_read update_reads[] = {
	STATE_READ(T, update_value, 0),
	{.topic_key = "latest_version_topic", .tpl_key = "latest_version_template",
	 .topic_off = offsetof(T, latest_version_topic),
	 .tpl_off = offsetof(T, latest_version_template), .value = latest_value},
};

static int update_init(struct ent *x)
{
	const T *c = x->conf;
	mqtt_attr(x, "in_progress", json_false());
	if (c->title)
		mqtt_attr(x, "title", json_string(c->title));
	if (c->release_summary)
		mqtt_attr(x, "release_summary", json_string(c->release_summary));
	if (c->release_url)
		mqtt_attr(x, "release_url", json_string(c->release_url));
	return x->attrs ? 0 : -ENOMEM;
}

static int update_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	int rc = mqtt_feature(d, "install", c->com.command_topic && c->payload_install);
	if (c->display_precision)
		rc |= json_object_set_new(d, "display_precision", json_integer(c->display_precision));
	return rc;
}

static int update_command(struct ent *x, const char *service, const json_t *data)
{
	(void)data;
	const T *c = x->conf;
	if (strcmp(service, "install") != 0 || !c->com.command_topic || !c->payload_install)
		return -ENOTSUP;
	return mqtt_send(x, c->com.command_topic, "command_topic", NULL, c->payload_install, NULL,
			 NULL);
}

static bool update_commands(const struct ent *x)
{
	const T *c = x->conf;
	return c->com.command_topic && c->payload_install;
}

const struct mqtt_class mqtt_update = {
	.domain = "update",
	.default_name = "MQTT Update",
	.reads = update_reads,
	.nreads = MQB_ARRAY_SIZE(update_reads),
	.init = update_init,
	.discovery = update_discovery,
	.command = update_command,
	.commands = update_commands,
};
#undef T

/* ---- device_tracker ----------------------------------------------------------- */

#define T struct device_tracker_conf
static const char *const source_types[] = {"gps", "router", "bluetooth", "bluetooth_le", NULL};
static const struct mqb_schema_key tracker_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_STATE_TOPIC(T, false),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_STR(T, payload_home, "home", "state payload meaning at home"),
	MQTT_STR(T, payload_not_home, "not_home", "state payload meaning away"),
	MQTT_STR(T, payload_reset, PAYLOAD_NONE, "state payload making the location unknown"),
	{.key = "source_type", .type = MQB_S_ENUM, .choices = source_types, .def = "gps",
	 MQTT_AT(T, source_type), .doc = "gps, router, bluetooth or bluetooth_le"},
};
const struct mqb_schema mqtt_device_tracker_schema =
	MQB_SCHEMA("mqtt device_tracker", tracker_keys);

/* Where its JSON attributes put it, when they give coordinates: home
 * within 100 m of the configured location (Home Assistant's home zone),
 * else not_home. NULL: no coordinates. */
static const char *gps_zone(struct ent *x)
{
	const json_t *la = json_object_get(x->json_attrs, "latitude");
	const json_t *lo = json_object_get(x->json_attrs, "longitude");
	if (!json_is_number(la) || !json_is_number(lo))
		return NULL;
	const struct mqb_location *home = mqb_core_location(mqtt_core(x));
	if (!home || !home->set)
		return "not_home";
	const double r = 6371008.8, rad = 3.14159265358979323846 / 180;
	double p1 = home->latitude * rad, p2 = json_number_value(la) * rad;
	double dp = p2 - p1, dl = (json_number_value(lo) - home->longitude) * rad;
	double h = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
	double d = 2 * r * asin(sqrt(h));
	return d <= 100 ? "home" : "not_home";
}

static bool tracker_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)topic, (void)len;
	const T *c = x->conf;
	if (strcmp(v, c->payload_reset) == 0)
		return mqtt_set_state(x, gps_zone(x));
	if (strcmp(v, c->payload_home) == 0)
		return mqtt_set_state(x, "home");
	if (strcmp(v, c->payload_not_home) == 0)
		return mqtt_set_state(x, "not_home");
	/* any other text is a zone's name */
	return mqtt_set_state(x, v);
}

static const struct mqtt_read tracker_reads[] = {
	STATE_READ(T, tracker_value, 0),
};

static int tracker_attributes(struct ent *x, json_t *a)
{
	const T *c = x->conf;
	/* without a state topic, the coordinates decide */
	if (!c->com.state_topic) {
		const char *z = gps_zone(x);
		if (z && strcmp(z, mqtt_state(x)) != 0)
			mqtt_set_state(x, z);
	}
	return json_object_set_new(a, "source_type", json_string(c->source_type));
}

static int tracker_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	return json_object_set_new(d, "source_type", json_string(c->source_type));
}

const struct mqtt_class mqtt_device_tracker = {
	.domain = "device_tracker",
	.default_name = "MQTT device tracker",
	.reads = tracker_reads,
	.nreads = 1,
	.discovery = tracker_discovery,
	.attributes = tracker_attributes,
};
#undef T
