/* SPDX-License-Identifier: MIT */
/* The MQTT fan (Home Assistant's components/mqtt/fan.py): on and off, a
 * speed as a percentage of the device's own range, preset modes,
 * oscillation and direction, each on topics of its own. */
#include "mqtt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T struct fan_conf

#define CHANNEL(name, what, vt) \
	{.key = #name "_command_topic", .type = MQB_S_TOPIC, MQTT_AT(T, name.command_topic), \
	 .doc = "topic " what " commands are published to"}, \
	{.key = #name "_command_template", .type = MQB_S_TEMPLATE, \
	 MQTT_AT(T, name.command_template), .doc = "template making the " what " payload"}, \
	{.key = #name "_state_topic", .type = MQB_S_FILTER, MQTT_AT(T, name.state_topic), \
	 .doc = "topic the " what " is read from"}, \
	{.key = vt, .type = MQB_S_TEMPLATE, MQTT_AT(T, name.value_template), \
	 .doc = "template extracting the " what}

static const struct mqb_schema_key fan_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, true),
	MQTT_COMMAND_TEMPLATE(T),
	MQTT_STATE_TOPIC(T, false),
	MQTT_TPL(T, state_value_template, "template extracting the on/off payload"),
	MQTT_STR(T, payload_on, "ON", "payload meaning on"),
	MQTT_STR(T, payload_off, "OFF", "payload meaning off"),
	CHANNEL(percentage, "speed", "percentage_value_template"),
	{.key = "speed_range_min", .type = MQB_S_INT, .def = "1", .min = 1, .max = 1000000,
	 MQTT_AT(T, speed_range_min), .doc = "the device's slowest speed"},
	{.key = "speed_range_max", .type = MQB_S_INT, .def = "100", .min = 1, .max = 1000000,
	 MQTT_AT(T, speed_range_max), .doc = "the device's fastest speed"},
	MQTT_STR(T, payload_reset_percentage, PAYLOAD_NONE, "payload making the speed unknown"),
	CHANNEL(preset_mode, "preset mode", "preset_mode_value_template"),
	MQTT_LIST(T, preset_modes, "the preset modes"),
	MQTT_STR(T, payload_reset_preset_mode, PAYLOAD_NONE, "payload making the preset unknown"),
	CHANNEL(oscillation, "oscillation", "oscillation_value_template"),
	MQTT_STR(T, payload_oscillation_on, "oscillate_on", "payload meaning oscillating"),
	MQTT_STR(T, payload_oscillation_off, "oscillate_off", "payload meaning not oscillating"),
	CHANNEL(direction, "direction", "direction_value_template"),
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_fan_schema = MQB_SCHEMA("mqtt fan", fan_keys);

struct fan_priv {
	struct mqb_template *cmd, *pct, *preset, *osc, *dir;
	const char **presets;
	size_t npresets;
	int percentage;               /* -1: unknown */
};

static void fan_check(const void *conf, const struct mqb_conf_node *item, const char *path,
		      struct mqb_conf_errors *errs)
{
	const T *c = conf;
	if (c->speed_range_min > c->speed_range_max)
		mqtt_errat(errs, item, path, "speed_range_max",
			   "speed_range_max must not be below speed_range_min");
	if (c->preset_mode.command_topic && !c->preset_modes)
		mqtt_errat(errs, item, path, "preset_modes", "preset_mode_command_topic needs them");
}

static bool fan_state(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	const T *c = x->conf;
	return mqtt_on_off(x, topic, v, c->payload_on, c->payload_off);
}

/* The device's speed within speed_range_min..max as a percentage
 * (ranged_value_to_percentage); 0 is off. */
static bool fan_percentage(struct ent *x, const char *topic, const char *v, size_t len)
{
	const T *c = x->conf;
	struct fan_priv *f = x->priv;
	double d;
	if (strcmp(v, c->payload_reset_percentage) == 0) {
		f->percentage = -1;
		return true;
	}
	if (!mqtt_parse_number(v, len, &d) || d < 0 || d > c->speed_range_max) {
		mqtt_ignored(x, topic, "a speed out of range", v);
		return false;
	}
	f->percentage = d == 0 ? 0 : mqtt_position_percent(d, c->speed_range_min - 1,
							    c->speed_range_max);
	return true;
}

static bool fan_preset(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	const T *c = x->conf;
	struct fan_priv *f = x->priv;
	if (strcmp(v, c->payload_reset_preset_mode) == 0) {
		mqtt_attr(x, "preset_mode", json_null());
		return true;
	}
	if (!mqtt_in(f->presets, f->npresets, v)) {
		mqtt_ignored(x, topic, "a preset mode it does not have", v);
		return false;
	}
	mqtt_attr(x, "preset_mode", json_string(v));
	return true;
}

static bool fan_oscillation(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	const T *c = x->conf;
	if (strcmp(v, c->payload_oscillation_on) == 0)
		mqtt_attr(x, "oscillating", json_true());
	else if (strcmp(v, c->payload_oscillation_off) == 0)
		mqtt_attr(x, "oscillating", json_false());
	else {
		mqtt_ignored(x, topic, "an oscillation payload", v);
		return false;
	}
	return true;
}

static bool fan_direction(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	if (strcmp(v, "forward") != 0 && strcmp(v, "reverse") != 0) {
		mqtt_ignored(x, topic, "a direction that is neither forward nor reverse", v);
		return false;
	}
	mqtt_attr(x, "direction", json_string(v));
	return true;
}

#define READ(name, vt, fn) \
	{.topic_key = #name "_state_topic", .tpl_key = vt, \
	 .topic_off = offsetof(T, name.state_topic), .tpl_off = offsetof(T, name.value_template), \
	 .value = fn}
static const struct mqtt_read fan_reads[] = {
	{.topic_key = "state_topic", .tpl_key = "state_value_template",
	 .topic_off = offsetof(T, com.state_topic), .tpl_off = offsetof(T, state_value_template),
	 .value = fan_state},
	READ(percentage, "percentage_value_template", fan_percentage),
	READ(preset_mode, "preset_mode_value_template", fan_preset),
	READ(oscillation, "oscillation_value_template", fan_oscillation),
	READ(direction, "direction_value_template", fan_direction),
};

static int fan_init(struct ent *x)
{
	const T *c = x->conf;
	struct fan_priv *f = x->priv;
	f->percentage = -1;
	x->optimistic = c->com.optimistic || !c->com.state_topic;
	if (!(f->presets = mqtt_strings(c->preset_modes, &f->npresets)))
		return -ENOMEM;
	int rc;
	if ((rc = mqtt_compile(x, c->com.command_template, &f->cmd)) ||
	    (rc = mqtt_compile(x, c->percentage.command_template, &f->pct)) ||
	    (rc = mqtt_compile(x, c->preset_mode.command_template, &f->preset)) ||
	    (rc = mqtt_compile(x, c->oscillation.command_template, &f->osc)) ||
	    (rc = mqtt_compile(x, c->direction.command_template, &f->dir)))
		return rc;
	if (c->oscillation.command_topic && !c->oscillation.state_topic)
		mqtt_attr(x, "oscillating", json_false());
	return 0;
}

static void fan_fini(struct ent *x)
{
	struct fan_priv *f = x->priv;
	free(f->presets);
	f->presets = NULL;
}

/* Home Assistant's speed_count: the device's steps, at most 100. */
static int speed_count(const T *c)
{
	int n = c->speed_range_max - c->speed_range_min + 1;
	return n > 100 ? 100 : n;
}

static int fan_attributes(struct ent *x, json_t *a)
{
	const T *c = x->conf;
	struct fan_priv *f = x->priv;
	int rc = 0;
	if (c->percentage.command_topic || c->percentage.state_topic) {
		bool on = strcmp(mqtt_state(x), "on") == 0;
		rc |= json_object_set_new(a, "percentage", f->percentage >= 0
								   ? json_integer(on ? f->percentage : 0)
								   : json_null());
		rc |= json_object_set_new(a, "percentage_step", json_real(100.0 / speed_count(c)));
	}
	if (f->npresets) {
		rc |= json_object_set_new(a, "preset_modes",
					  mqtt_json_strings(f->presets, f->npresets));
		if (!json_object_get(a, "preset_mode"))
			rc |= json_object_set_new(a, "preset_mode", json_null());
	}
	if ((c->oscillation.command_topic || c->oscillation.state_topic) &&
	    !json_object_get(a, "oscillating"))
		rc |= json_object_set_new(a, "oscillating", json_null());
	if ((c->direction.command_topic || c->direction.state_topic) &&
	    !json_object_get(a, "direction"))
		rc |= json_object_set_new(a, "direction", json_null());
	return rc;
}

static int fan_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	struct fan_priv *f = x->priv;
	int rc = mqtt_feature(d, "percentage", c->percentage.command_topic != NULL);
	if (c->percentage.command_topic)
		rc |= json_object_set_new(d, "speed_range_max", json_integer(speed_count(c)));
	if (c->preset_mode.command_topic) {
		rc |= mqtt_feature(d, "preset_mode", true);
		rc |= json_object_set_new(d, "preset_modes",
					  mqtt_json_strings(f->presets, f->npresets));
	}
	rc |= mqtt_feature(d, "oscillation", c->oscillation.command_topic != NULL);
	rc |= mqtt_feature(d, "direction", c->direction.command_topic != NULL);
	return rc;
}

static int send_percentage(struct ent *x, int pct)
{
	const T *c = x->conf;
	struct fan_priv *f = x->priv;
	if (!c->percentage.command_topic)
		return -ENOTSUP;
	/* percentage_to_ranged_value, rounded up as Home Assistant does */
	int dev = pct <= 0 ? 0
		  : (int)ceil((double)pct * (c->speed_range_max - c->speed_range_min + 1) / 100 +
			      c->speed_range_min - 1);
	char buf[32];
	snprintf(buf, sizeof buf, "%d", dev);
	json_t *jv = json_integer(dev);
	int rc = mqtt_send(x, c->percentage.command_topic, "percentage_command_template", f->pct, buf,
			   jv, NULL);
	json_decref(jv);
	if (rc == 0 && (x->optimistic || !c->percentage.state_topic))
		f->percentage = pct;
	return rc;
}

static int send_preset(struct ent *x, const char *pm)
{
	const T *c = x->conf;
	struct fan_priv *f = x->priv;
	if (!c->preset_mode.command_topic)
		return -ENOTSUP;
	if (!mqtt_in(f->presets, f->npresets, pm)) {
		MQB_LOG_WARNING(SUB, "%s: '%.32s' is not one of its preset modes", mqtt_eid(x),
				pm ? pm : "(none)");
		return -EINVAL;
	}
	int rc = mqtt_send(x, c->preset_mode.command_topic, "preset_mode_command_template",
			   f->preset, pm, NULL, NULL);
	if (rc == 0 && (x->optimistic || !c->preset_mode.state_topic))
		mqtt_attr(x, "preset_mode", json_string(pm));
	return rc;
}

static int fan_power(struct ent *x, bool on, const json_t *data)
{
	const T *c = x->conf;
	struct fan_priv *f = x->priv;
	int rc = mqtt_send(x, c->com.command_topic, "command_template", f->cmd,
			   on ? c->payload_on : c->payload_off, NULL, NULL);
	if (rc)
		return rc;
	double pct;
	if (on && mqtt_data_number(data, "percentage", &pct) &&
	    (rc = send_percentage(x, (int)mqb_round(pct, 0))))
		return rc;
	const char *pm = on ? mqtt_data_string(data, "preset_mode") : NULL;
	if (pm && (rc = send_preset(x, pm)))
		return rc;
	if (x->optimistic)
		mqtt_set_state(x, on ? "on" : "off");
	return 0;
}

static int fan_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct fan_priv *f = x->priv;
	int rc;
	double pct;
	if (strcmp(service, "toggle") == 0)
		service = strcmp(mqtt_state(x), "on") == 0 ? "turn_off" : "turn_on";
	if (strcmp(service, "turn_on") == 0 || strcmp(service, "turn_off") == 0) {
		rc = fan_power(x, strcmp(service, "turn_on") == 0, data);
	} else if (strcmp(service, "set_percentage") == 0) {
		if (!mqtt_data_number(data, "percentage", &pct) || pct < 0 || pct > 100) {
			MQB_LOG_WARNING(SUB, "%s: set_percentage needs a percentage from 0 to 100",
					mqtt_eid(x));
			return -EINVAL;
		}
		rc = send_percentage(x, (int)mqb_round(pct, 0));
		if (rc == 0 && x->optimistic)
			mqtt_set_state(x, pct > 0 ? "on" : "off");
	} else if (strcmp(service, "increase_speed") == 0 ||
		   strcmp(service, "decrease_speed") == 0) {
		double step = 100.0 / speed_count(c);
		double by;
		if (mqtt_data_number(data, "percentage_step", &by))
			step = by;
		int now = f->percentage > 0 ? f->percentage : 0;
		double want = now + (strcmp(service, "increase_speed") == 0 ? step : -step);
		rc = send_percentage(x, (int)fmax(0, fmin(100, mqb_round(want, 0))));
	} else if (strcmp(service, "set_preset_mode") == 0) {
		rc = send_preset(x, mqtt_data_string(data, "preset_mode"));
	} else if (strcmp(service, "oscillate") == 0) {
		const json_t *o = json_object_get(data, "oscillating");
		if (!c->oscillation.command_topic)
			return -ENOTSUP;
		if (!json_is_boolean(o)) {
			MQB_LOG_WARNING(SUB, "%s: oscillate needs oscillating: true or false",
					mqtt_eid(x));
			return -EINVAL;
		}
		rc = mqtt_send(x, c->oscillation.command_topic, "oscillation_command_template",
			       f->osc, json_is_true(o) ? c->payload_oscillation_on
						       : c->payload_oscillation_off,
			       NULL, NULL);
		if (rc == 0 && (x->optimistic || !c->oscillation.state_topic))
			mqtt_attr(x, "oscillating", json_boolean(json_is_true(o)));
	} else if (strcmp(service, "set_direction") == 0) {
		const char *d = mqtt_data_string(data, "direction");
		if (!c->direction.command_topic)
			return -ENOTSUP;
		if (!d || (strcmp(d, "forward") != 0 && strcmp(d, "reverse") != 0)) {
			MQB_LOG_WARNING(SUB, "%s: set_direction needs forward or reverse", mqtt_eid(x));
			return -EINVAL;
		}
		rc = mqtt_send(x, c->direction.command_topic, "direction_command_template", f->dir, d,
			       NULL, NULL);
		if (rc == 0 && (x->optimistic || !c->direction.state_topic))
			mqtt_attr(x, "direction", json_string(d));
	} else {
		return -ENOTSUP;
	}
	if (rc == 0)
		mqtt_commit(x);
	return rc;
}

const struct mqtt_class mqtt_fan = {
	.domain = "fan",
	.default_name = "MQTT Fan",
	.check = fan_check,
	.reads = fan_reads,
	.nreads = MQB_ARRAY_SIZE(fan_reads),
	.priv_size = sizeof(struct fan_priv),
	.init = fan_init,
	.fini = fan_fini,
	.discovery = fan_discovery,
	.attributes = fan_attributes,
	.command = fan_command,
};
#undef T
