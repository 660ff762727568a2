/* SPDX-License-Identifier: MIT */
/* The MQTT domains that hold a temperature or a humidity: climate,
 * water_heater and humidifier, with Home Assistant's options, defaults and
 * state rules (components/mqtt/climate.py, water_heater.py, humidifier.py).
 * Each setting has a state topic and a command topic of its own; the
 * attributes are Home Assistant's climate, water heater and humidifier
 * attributes. */
#include "mqtt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAN(T, name, what) \
	{.key = #name "_command_topic", .type = MQB_S_TOPIC, MQTT_AT(T, name.command_topic), \
	 .doc = "topic " what " commands are published to"}, \
	{.key = #name "_command_template", .type = MQB_S_TEMPLATE, \
	 MQTT_AT(T, name.command_template), .doc = "template making the " what " payload"}, \
	{.key = #name "_state_topic", .type = MQB_S_FILTER, MQTT_AT(T, name.state_topic), \
	 .doc = "topic the " what " is read from"}, \
	{.key = #name "_state_template", .type = MQB_S_TEMPLATE, MQTT_AT(T, name.state_template), \
	 .doc = "template extracting the " what}
#define CHAN_READ(T, name, fn) \
	{.topic_key = #name "_state_topic", .tpl_key = #name "_state_template", \
	 .topic_off = offsetof(T, name.state_topic), .tpl_off = offsetof(T, name.state_template), \
	 .fallback_off = offsetof(T, com.value_template), .value = fn}

/* Commands: a compiled template per channel, by the channel's address. */
struct tpl_of {
	const struct climate_channel *ch;
	struct mqb_template *tpl;
};

struct clim_priv {
	struct tpl_of tpls[10];
	size_t ntpls;
	struct mqb_template *power_tpl;
	const char **modes, **fan_modes, **swing_modes, **presets;
	size_t nmodes, nfan, nswing, npresets;
	double min_temp, max_temp, step, precision;
	bool fahrenheit;
};

static int compile_channel(struct ent *x, const struct climate_channel *ch)
{
	struct clim_priv *p = x->priv;
	if (!ch->command_template || p->ntpls == MQB_ARRAY_SIZE(p->tpls))
		return 0;
	p->tpls[p->ntpls].ch = ch;
	return mqtt_compile(x, ch->command_template, &p->tpls[p->ntpls++].tpl);
}

static const struct mqb_template *tpl_of(struct ent *x, const struct climate_channel *ch)
{
	struct clim_priv *p = x->priv;
	for (size_t i = 0; i < p->ntpls; i++)
		if (p->tpls[i].ch == ch)
			return p->tpls[i].tpl;
	return NULL;
}

/* Home Assistant's show_temp: a temperature rounded by the precision,
 * whole degrees as an integer. */
static json_t *show_temp(struct ent *x, double v)
{
	struct clim_priv *p = x->priv;
	if (p->precision == 0.5)
		return json_real(mqb_round(v * 2, 0) / 2.0);
	if (p->precision == 1)
		return json_integer((json_int_t)mqb_round(v, 0));
	return json_real(mqb_round(v, 1));
}

/* A number into attribute key; "None" clears it. */
static bool number_attr(struct ent *x, const char *topic, const char *v, size_t len,
			const char *key, bool temperature)
{
	double d;
	if (mqtt_is_none(v)) {
		mqtt_attr(x, key, json_null());
		return true;
	}
	if (!mqtt_parse_number(v, len, &d)) {
		mqtt_ignored(x, topic, "a value that is not a number", v);
		return false;
	}
	mqtt_attr(x, key, temperature ? show_temp(x, d) : json_real(d));
	return true;
}

/* One of a list into attribute key (or the state: key NULL). */
static bool listed_attr(struct ent *x, const char *topic, const char *v, const char *key,
			const char *const *list, size_t n)
{
	if (mqtt_is_none(v)) {
		if (key)
			mqtt_attr(x, key, json_null());
		return key ? true : mqtt_set_state(x, NULL);
	}
	if (!mqtt_in(list, n, v)) {
		mqtt_ignored(x, topic, "a mode it does not have", v);
		return false;
	}
	if (!key)
		return mqtt_set_state(x, v);
	mqtt_attr(x, key, json_string(v));
	return true;
}

/* What a command's value is: text, or a number as Home Assistant's
 * service schema coerces it (a temperature a float, "21.0"; a humidity
 * an int). */
enum kind { TEXT, FLOAT, INT };

/* A command to a channel's topic through its template. */
static int send_channel(struct ent *x, const struct climate_channel *ch, const char *option,
			const char *text, double num, enum kind kind)
{
	if (!ch->command_topic)
		return -ENOTSUP;
	char buf[MQB_NUMBER_MAX];
	json_t *jv = NULL;
	if (kind == FLOAT) {
		mqb_format_double(num, buf);
		jv = json_real(num);
	} else if (kind == INT) {
		snprintf(buf, sizeof buf, "%d", (int)num);
		jv = json_integer((json_int_t)num);
	}
	int rc = mqtt_send(x, ch->command_topic, option, tpl_of(x, ch), kind == TEXT ? text : buf,
			   jv, NULL);
	json_decref(jv);
	return rc;
}

static double f_to_c(double f)
{
	return (f - 32) / 1.8;
}

/* ---- climate --------------------------------------------------------------- */

#define T struct climate_conf
static const char *const temperature_units[] = {"C", "F", NULL};
static const struct mqb_schema_key climate_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_VALUE_TEMPLATE(T),
	CHAN(T, mode, "hvac mode"),
	MQTT_LIST(T, modes, "the hvac modes (default auto, off, cool, heat, dry, fan_only)"),
	CHAN(T, temperature, "target temperature"),
	CHAN(T, temperature_high, "upper target temperature"),
	CHAN(T, temperature_low, "lower target temperature"),
	CHAN(T, fan_mode, "fan mode"),
	MQTT_LIST(T, fan_modes, "the fan modes (default auto, low, medium, high)"),
	CHAN(T, swing_mode, "swing mode"),
	MQTT_LIST(T, swing_modes, "the swing modes (default on, off)"),
	CHAN(T, swing_horizontal_mode, "horizontal swing mode"),
	MQTT_LIST(T, swing_horizontal_modes, "the horizontal swing modes (default on, off)"),
	{.key = "preset_mode_command_topic", .type = MQB_S_TOPIC,
	 MQTT_AT(T, preset_mode.command_topic), .doc = "topic preset commands are published to"},
	{.key = "preset_mode_command_template", .type = MQB_S_TEMPLATE,
	 MQTT_AT(T, preset_mode.command_template), .doc = "template making the preset payload"},
	{.key = "preset_mode_state_topic", .type = MQB_S_FILTER,
	 MQTT_AT(T, preset_mode.state_topic), .doc = "topic the preset is read from"},
	{.key = "preset_mode_value_template", .type = MQB_S_TEMPLATE,
	 MQTT_AT(T, preset_mode.state_template), .doc = "template extracting the preset"},
	MQTT_LIST(T, preset_modes, "the presets (none is implied)"),
	{.key = "target_humidity_command_topic", .type = MQB_S_TOPIC,
	 MQTT_AT(T, target_humidity.command_topic), .doc = "topic humidity commands go to"},
	{.key = "target_humidity_command_template", .type = MQB_S_TEMPLATE,
	 MQTT_AT(T, target_humidity.command_template), .doc = "template making that payload"},
	{.key = "target_humidity_state_topic", .type = MQB_S_FILTER,
	 MQTT_AT(T, target_humidity.state_topic), .doc = "topic the target humidity is read from"},
	{.key = "target_humidity_state_template", .type = MQB_S_TEMPLATE,
	 MQTT_AT(T, target_humidity.state_template), .doc = "template extracting it"},
	MQTT_SUB(T, action_topic, "topic the current action is read from"),
	MQTT_TPL(T, action_template, "template extracting the action"),
	MQTT_SUB(T, current_temperature_topic, "topic the current temperature is read from"),
	MQTT_TPL(T, current_temperature_template, "template extracting it"),
	MQTT_SUB(T, current_humidity_topic, "topic the current humidity is read from"),
	MQTT_TPL(T, current_humidity_template, "template extracting it"),
	MQTT_PUB(T, power_command_topic, "topic turn_on and turn_off publish to"),
	MQTT_TPL(T, power_command_template, "template making the power payload"),
	MQTT_STR(T, payload_on, "ON", "power payload turning it on"),
	MQTT_STR(T, payload_off, "OFF", "power payload turning it off"),
	{.key = "temperature_unit", .type = MQB_S_ENUM, .choices = temperature_units,
	 MQTT_AT(T, temperature_unit), .doc = "C or F (default C)"},
	{.key = "min_temp", .type = MQB_S_FLOAT, .def = MQTT_UNSET_TEXT, MQTT_AT(T, min_temp),
	 .doc = "lowest target temperature (default 7 °C, 44.6 °F)"},
	{.key = "max_temp", .type = MQB_S_FLOAT, .def = MQTT_UNSET_TEXT, MQTT_AT(T, max_temp),
	 .doc = "highest target temperature (default 35 °C, 95 °F)"},
	{.key = "temp_step", .type = MQB_S_FLOAT, .def = "1", .min = 0.01, .max = 100,
	 MQTT_AT(T, temp_step), .doc = "step of target temperatures"},
	{.key = "precision", .type = MQB_S_FLOAT, .def = MQTT_UNSET_TEXT, MQTT_AT(T, precision),
	 .doc = "0.1, 0.5 or 1 (default 0.1 in °C, 1 in °F)"},
	{.key = "min_humidity", .type = MQB_S_FLOAT, .def = "30", .min = 0, .max = 100,
	 MQTT_AT(T, min_humidity), .doc = "lowest target humidity"},
	{.key = "max_humidity", .type = MQB_S_FLOAT, .def = "99", .min = 0, .max = 100,
	 MQTT_AT(T, max_humidity), .doc = "highest target humidity"},
	{.key = "initial", .type = MQB_S_FLOAT, .def = MQTT_UNSET_TEXT, MQTT_AT(T, initial),
	 .doc = "the target temperature until one is known"},
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_climate_schema = MQB_SCHEMA("mqtt climate", climate_keys);

static const char *const hvac_modes[] = {"auto", "off", "cool", "heat", "dry", "fan_only",
					 "heat_cool"};
static const char *const hvac_actions[] = {"off",     "preheating", "defrosting", "heating",
					   "cooling", "drying",     "idle",       "fan"};

static void check_modes(const struct mqb_conf_node *list, const char *const *known, size_t n,
			const struct mqb_conf_node *item, const char *path, const char *key,
			struct mqb_conf_errors *errs)
{
	size_t k;
	const char **v = mqtt_strings(list, &k);
	for (size_t i = 0; v && i < k; i++)
		if (!mqtt_in(known, n, v[i]))
			mqtt_errat(errs, item, path, key,
				   "'%s' is not a mode Home Assistant knows%s", v[i],
				   strcmp(v[i], "False") == 0 ? " (quote \"off\": YAML reads off as false)"
							      : "");
	free(v);
}

static void climate_check(const void *conf, const struct mqb_conf_node *item, const char *path,
			  struct mqb_conf_errors *errs)
{
	const T *c = conf;
	check_modes(c->modes, hvac_modes, MQB_ARRAY_SIZE(hvac_modes), item, path, "modes", errs);
	if (c->min_humidity >= c->max_humidity)
		mqtt_errat(errs, item, path, "max_humidity", "max_humidity must be above min_humidity");
	if (c->target_humidity.state_topic && !c->target_humidity.command_topic)
		mqtt_errat(errs, item, path, "target_humidity_state_topic",
			   "cannot be used without target_humidity_command_topic");
	size_t n;
	const char **p = mqtt_strings(c->preset_modes, &n);
	if (mqtt_in(p, n, "none"))
		mqtt_errat(errs, item, path, "preset_modes", "must not include preset mode 'none'");
	free(p);
	if (c->preset_mode.command_topic && !c->preset_modes)
		mqtt_errat(errs, item, path, "preset_modes",
			   "preset_mode_command_topic needs preset_modes");
	if ((c->precision != MQTT_UNSET) && c->precision != 0.1 && c->precision != 0.5 &&
	    c->precision != 1)
		mqtt_errat(errs, item, path, "precision", "must be 0.1, 0.5 or 1");
}

static bool mode_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	struct clim_priv *p = x->priv;
	return listed_attr(x, topic, v, NULL, p->modes, p->nmodes);
}

#define NUM_READ(fn, key, temp) \
	static bool fn(struct ent *x, const char *topic, const char *v, size_t len) \
	{ \
		return number_attr(x, topic, v, len, key, temp); \
	}
NUM_READ(temperature_value, "temperature", true)
NUM_READ(temp_high_value, "target_temp_high", true)
NUM_READ(temp_low_value, "target_temp_low", true)
NUM_READ(current_temp_value, "current_temperature", true)
NUM_READ(current_humidity_value, "current_humidity", false)
NUM_READ(humidity_value, "humidity", false)

static bool fan_mode_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	struct clim_priv *p = x->priv;
	return listed_attr(x, topic, v, "fan_mode", p->fan_modes, p->nfan);
}

static bool swing_mode_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	struct clim_priv *p = x->priv;
	return listed_attr(x, topic, v, "swing_mode", p->swing_modes, p->nswing);
}

static bool preset_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	struct clim_priv *p = x->priv;
	if (strcmp(v, "none") == 0 || mqtt_is_none(v)) {
		mqtt_attr(x, "preset_mode", json_string("none"));
		return true;
	}
	return listed_attr(x, topic, v, "preset_mode", p->presets, p->npresets);
}

static bool action_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	if (mqtt_is_none(v)) {
		MQB_LOG_DEBUG(SUB, "%s: action %s ignored", mqtt_eid(x), v);
		return false;
	}
	return listed_attr(x, topic, v, "hvac_action", hvac_actions, MQB_ARRAY_SIZE(hvac_actions));
}

static const struct mqtt_read climate_reads[] = {
	CHAN_READ(T, mode, mode_value),
	CHAN_READ(T, temperature, temperature_value),
	CHAN_READ(T, temperature_high, temp_high_value),
	CHAN_READ(T, temperature_low, temp_low_value),
	CHAN_READ(T, fan_mode, fan_mode_value),
	CHAN_READ(T, swing_mode, swing_mode_value),
	CHAN_READ(T, target_humidity, humidity_value),
	{.topic_key = "preset_mode_state_topic", .tpl_key = "preset_mode_value_template",
	 .topic_off = offsetof(T, preset_mode.state_topic),
	 .tpl_off = offsetof(T, preset_mode.state_template),
	 .fallback_off = offsetof(T, com.value_template), .value = preset_value},
	{.topic_key = "action_topic", .tpl_key = "action_template",
	 .topic_off = offsetof(T, action_topic), .tpl_off = offsetof(T, action_template),
	 .fallback_off = offsetof(T, com.value_template), .value = action_value},
	{.topic_key = "current_temperature_topic", .tpl_key = "current_temperature_template",
	 .topic_off = offsetof(T, current_temperature_topic),
	 .tpl_off = offsetof(T, current_temperature_template),
	 .fallback_off = offsetof(T, com.value_template), .value = current_temp_value},
	{.topic_key = "current_humidity_topic", .tpl_key = "current_humidity_template",
	 .topic_off = offsetof(T, current_humidity_topic),
	 .tpl_off = offsetof(T, current_humidity_template),
	 .fallback_off = offsetof(T, com.value_template), .value = current_humidity_value},
};

static bool supports(const struct climate_channel *ch)
{
	return ch->command_topic || ch->state_topic;
}

/* The temperature range and its defaults in the entity's unit. */
static void temperature_setup(struct ent *x, const char *unit, double min, double max,
			      double def_min_c, double def_max_c, double precision)
{
	struct clim_priv *p = x->priv;
	p->fahrenheit = unit && strcmp(unit, "F") == 0;
	p->min_temp = (min != MQTT_UNSET) ? min
		      : p->fahrenheit ? mqb_round(def_min_c * 1.8 + 32, 1) : def_min_c;
	p->max_temp = (max != MQTT_UNSET) ? max
		      : p->fahrenheit ? mqb_round(def_max_c * 1.8 + 32, 1) : def_max_c;
	p->precision = (precision != MQTT_UNSET) ? precision : p->fahrenheit ? 1 : 0.1;
}

static int climate_init(struct ent *x)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	static const char *const def_fan[] = {"auto", "low", "medium", "high"};
	static const char *const def_swing[] = {"on", "off"};
	static const char *const def_modes[] = {"auto", "off", "cool", "heat", "dry", "fan_only"};
	p->modes = c->modes ? mqtt_strings(c->modes, &p->nmodes) : NULL;
	p->fan_modes = c->fan_modes ? mqtt_strings(c->fan_modes, &p->nfan) : NULL;
	p->swing_modes = c->swing_modes ? mqtt_strings(c->swing_modes, &p->nswing) : NULL;
	p->presets = mqtt_strings(c->preset_modes, &p->npresets);
	if ((c->modes && !p->modes) || (c->fan_modes && !p->fan_modes) ||
	    (c->swing_modes && !p->swing_modes) || !p->presets)
		return -ENOMEM;
	if (!c->modes) {
		p->modes = (const char **)def_modes;
		p->nmodes = MQB_ARRAY_SIZE(def_modes);
	}
	if (!c->fan_modes) {
		p->fan_modes = (const char **)def_fan;
		p->nfan = MQB_ARRAY_SIZE(def_fan);
	}
	if (!c->swing_modes) {
		p->swing_modes = (const char **)def_swing;
		p->nswing = MQB_ARRAY_SIZE(def_swing);
	}
	temperature_setup(x, c->temperature_unit, c->min_temp, c->max_temp, 7, 35, c->precision);
	p->step = c->temp_step;
	x->optimistic = c->com.optimistic;
	/* Home Assistant's starting values, where no topic will say */
	if (!c->mode.state_topic)
		mqtt_set_state(x, "off");
	if ((c->initial != MQTT_UNSET)) {
		if (supports(&c->temperature) && !c->temperature.state_topic)
			mqtt_attr(x, "temperature", show_temp(x, c->initial));
		if (supports(&c->temperature_low) && !c->temperature_low.state_topic)
			mqtt_attr(x, "target_temp_low", show_temp(x, c->initial));
		if (supports(&c->temperature_high) && !c->temperature_high.state_topic)
			mqtt_attr(x, "target_temp_high", show_temp(x, c->initial));
	}
	if (supports(&c->fan_mode) && !c->fan_mode.state_topic)
		mqtt_attr(x, "fan_mode", json_string("low"));
	if (supports(&c->swing_mode) && !c->swing_mode.state_topic)
		mqtt_attr(x, "swing_mode", json_string("off"));
	if (c->preset_mode.command_topic)
		mqtt_attr(x, "preset_mode", json_string("none"));
	const struct climate_channel *chans[] = {&c->mode, &c->temperature, &c->temperature_high,
						 &c->temperature_low, &c->fan_mode, &c->swing_mode,
						 &c->preset_mode, &c->target_humidity};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(chans); i++) {
		int rc = compile_channel(x, chans[i]);
		if (rc)
			return rc;
	}
	return mqtt_compile(x, c->power_command_template, &p->power_tpl);
}

static void clim_fini(struct ent *x)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	if (c->modes)
		free(p->modes);
	if (c->fan_modes)
		free(p->fan_modes);
	if (c->swing_modes)
		free(p->swing_modes);
	free(p->presets);
	p->modes = p->fan_modes = p->swing_modes = p->presets = NULL;
}

static int climate_attributes(struct ent *x, json_t *a)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	int rc = json_object_set_new(a, "hvac_modes", mqtt_json_strings(p->modes, p->nmodes));
	rc |= json_object_set_new(a, "min_temp", show_temp(x, p->min_temp));
	rc |= json_object_set_new(a, "max_temp", show_temp(x, p->max_temp));
	rc |= json_object_set_new(a, "target_temp_step", json_real(p->step));
	if (!json_object_get(a, "current_temperature"))
		rc |= json_object_set_new(a, "current_temperature", json_null());
	if (supports(&c->temperature) && !json_object_get(a, "temperature"))
		rc |= json_object_set_new(a, "temperature", json_null());
	if (supports(&c->temperature_low) || supports(&c->temperature_high)) {
		if (!json_object_get(a, "target_temp_low"))
			rc |= json_object_set_new(a, "target_temp_low", json_null());
		if (!json_object_get(a, "target_temp_high"))
			rc |= json_object_set_new(a, "target_temp_high", json_null());
	}
	if (supports(&c->fan_mode))
		rc |= json_object_set_new(a, "fan_modes", mqtt_json_strings(p->fan_modes, p->nfan));
	if (supports(&c->swing_mode))
		rc |= json_object_set_new(a, "swing_modes",
					  mqtt_json_strings(p->swing_modes, p->nswing));
	if (c->preset_mode.command_topic) {
		json_t *pm = mqtt_json_strings(p->presets, p->npresets);
		if (pm)
			json_array_insert_new(pm, 0, json_string("none"));
		rc |= json_object_set_new(a, "preset_modes", pm);
	}
	if (c->target_humidity.command_topic) {
		rc |= json_object_set_new(a, "min_humidity", json_real(c->min_humidity));
		rc |= json_object_set_new(a, "max_humidity", json_real(c->max_humidity));
	}
	return rc;
}

static int climate_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	int rc = json_object_set_new(d, "modes", mqtt_json_strings(p->modes, p->nmodes));
	rc |= json_object_set_new(d, "min_temp", json_real(p->min_temp));
	rc |= json_object_set_new(d, "max_temp", json_real(p->max_temp));
	rc |= json_object_set_new(d, "temp_step", json_real(p->step));
	rc |= json_object_set_new(d, "precision", json_real(p->precision));
	rc |= json_object_set_new(d, "temperature_unit", json_string(p->fahrenheit ? "F" : "C"));
	rc |= mqtt_feature(d, "temperature", supports(&c->temperature));
	rc |= mqtt_feature(d, "temperature_range",
			   supports(&c->temperature_low) || supports(&c->temperature_high));
	rc |= mqtt_feature(d, "current_temperature", c->current_temperature_topic != NULL);
	rc |= mqtt_feature(d, "current_humidity", c->current_humidity_topic != NULL);
	rc |= mqtt_feature(d, "action", c->action_topic != NULL);
	rc |= mqtt_feature(d, "power", c->power_command_topic != NULL);
	if (supports(&c->fan_mode)) {
		rc |= mqtt_feature(d, "fan_mode", true);
		rc |= json_object_set_new(d, "fan_modes", mqtt_json_strings(p->fan_modes, p->nfan));
	}
	if (supports(&c->swing_mode)) {
		rc |= mqtt_feature(d, "swing_mode", true);
		rc |= json_object_set_new(d, "swing_modes",
					  mqtt_json_strings(p->swing_modes, p->nswing));
	}
	if (c->preset_mode.command_topic) {
		rc |= mqtt_feature(d, "preset_mode", true);
		rc |= json_object_set_new(d, "preset_modes",
					  mqtt_json_strings(p->presets, p->npresets));
	}
	if (c->target_humidity.command_topic) {
		rc |= mqtt_feature(d, "target_humidity", true);
		rc |= json_object_set_new(d, "min_humidity", json_real(c->min_humidity));
		rc |= json_object_set_new(d, "max_humidity", json_real(c->max_humidity));
	}
	return rc;
}

static void optimistic_attr(struct ent *x, const struct climate_channel *ch, const char *key,
			    json_t *v)
{
	if (x->optimistic || !ch->state_topic)
		mqtt_attr(x, key, v);
	else
		json_decref(v);
}

static int set_mode(struct ent *x, const char *mode)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	if (!mqtt_in(p->modes, p->nmodes, mode)) {
		MQB_LOG_WARNING(SUB, "%s: '%.32s' is not one of its hvac modes", mqtt_eid(x),
				mode ? mode : "(none)");
		return -EINVAL;
	}
	int rc = send_channel(x, &c->mode, "mode_command_template", mode, 0, TEXT);
	if (rc == 0 && (x->optimistic || !c->mode.state_topic))
		mqtt_set_state(x, mode);
	return rc;
}

static int set_temperature(struct ent *x, const json_t *data)
{
	const T *c = x->conf;
	double v;
	int rc = 0;
	const char *mode = mqtt_data_string(data, "hvac_mode");
	if (mode && (rc = set_mode(x, mode)))
		return rc;
	static const struct {
		const char *key;
		size_t chan;
		const char *option;
	} temps[] = {{"temperature", offsetof(T, temperature), "temperature_command_template"},
		     {"target_temp_low", offsetof(T, temperature_low),
		      "temperature_low_command_template"},
		     {"target_temp_high", offsetof(T, temperature_high),
		      "temperature_high_command_template"}};
	bool any = false;
	for (size_t i = 0; i < MQB_ARRAY_SIZE(temps) && !rc; i++) {
		const struct climate_channel *ch =
			(const struct climate_channel *)(const void *)((const char *)c + temps[i].chan);
		if (!mqtt_data_number(data, temps[i].key, &v))
			continue;
		any = true;
		if ((rc = send_channel(x, ch, temps[i].option, NULL, v, FLOAT)) == 0)
			optimistic_attr(x, ch, temps[i].key, show_temp(x, v));
	}
	if (!any && !mode) {
		MQB_LOG_WARNING(SUB, "%s: set_temperature needs a temperature", mqtt_eid(x));
		return -EINVAL;
	}
	return rc;
}

static int set_listed(struct ent *x, const struct climate_channel *ch, const char *option,
		      const char *key, const char *v, const char *const *list, size_t n)
{
	if (!v || !mqtt_in(list, n, v)) {
		MQB_LOG_WARNING(SUB, "%s: '%.32s' is not one of its %ss", mqtt_eid(x),
				v ? v : "(none)", key);
		return -EINVAL;
	}
	int rc = send_channel(x, ch, option, v, 0, TEXT);
	if (rc == 0)
		optimistic_attr(x, ch, key, json_string(v));
	return rc;
}

/* turn_on and turn_off: the power topic, else the hvac mode (Home
 * Assistant's ClimateEntity defaults: off, or the first of heat_cool,
 * auto, heat, cool it has). */
static int climate_power(struct ent *x, bool on)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	if (c->power_command_topic)
		return mqtt_send(x, c->power_command_topic, "power_command_template", p->power_tpl,
				 on ? c->payload_on : c->payload_off, NULL, NULL);
	if (!on)
		return set_mode(x, "off");
	static const char *const pref[] = {"heat_cool", "auto", "heat", "cool"};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(pref); i++)
		if (mqtt_in(p->modes, p->nmodes, pref[i]))
			return set_mode(x, pref[i]);
	for (size_t i = 0; i < p->nmodes; i++)
		if (strcmp(p->modes[i], "off") != 0)
			return set_mode(x, p->modes[i]);
	return -ENOTSUP;
}

static int climate_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	int rc;
	double v;
	if (strcmp(service, "set_hvac_mode") == 0)
		rc = set_mode(x, mqtt_data_string(data, "hvac_mode"));
	else if (strcmp(service, "set_temperature") == 0)
		rc = set_temperature(x, data);
	else if (strcmp(service, "set_fan_mode") == 0)
		rc = set_listed(x, &c->fan_mode, "fan_mode_command_template", "fan_mode",
				mqtt_data_string(data, "fan_mode"), p->fan_modes, p->nfan);
	else if (strcmp(service, "set_swing_mode") == 0)
		rc = set_listed(x, &c->swing_mode, "swing_mode_command_template", "swing_mode",
				mqtt_data_string(data, "swing_mode"), p->swing_modes, p->nswing);
	else if (strcmp(service, "set_preset_mode") == 0) {
		const char *pm = mqtt_data_string(data, "preset_mode");
		rc = pm && strcmp(pm, "none") == 0
			     ? send_channel(x, &c->preset_mode, "preset_mode_command_template", pm, 0,
					    TEXT)
			     : set_listed(x, &c->preset_mode, "preset_mode_command_template",
					  "preset_mode", pm, p->presets, p->npresets);
		if (rc == 0 && pm && strcmp(pm, "none") == 0)
			optimistic_attr(x, &c->preset_mode, "preset_mode", json_string("none"));
	} else if (strcmp(service, "set_humidity") == 0) {
		if (!mqtt_data_number(data, "humidity", &v) || v < c->min_humidity ||
		    v > c->max_humidity) {
			MQB_LOG_WARNING(SUB, "%s: set_humidity needs a humidity from %g to %g",
					mqtt_eid(x), c->min_humidity, c->max_humidity);
			return -EINVAL;
		}
		rc = send_channel(x, &c->target_humidity, "target_humidity_command_template", NULL,
				  v, INT);
		if (rc == 0)
			optimistic_attr(x, &c->target_humidity, "humidity", json_real(v));
	} else if (strcmp(service, "turn_on") == 0)
		rc = climate_power(x, true);
	else if (strcmp(service, "turn_off") == 0)
		rc = climate_power(x, false);
	else if (strcmp(service, "toggle") == 0)
		rc = climate_power(x, strcmp(mqtt_state(x), "off") == 0);
	else
		return -ENOTSUP;
	if (rc == 0)
		mqtt_commit(x);
	return rc;
}

const struct mqtt_class mqtt_climate = {
	.domain = "climate",
	.default_name = "MQTT HVAC",
	.check = climate_check,
	.reads = climate_reads,
	.nreads = MQB_ARRAY_SIZE(climate_reads),
	.priv_size = sizeof(struct clim_priv),
	.init = climate_init,
	.fini = clim_fini,
	.discovery = climate_discovery,
	.attributes = climate_attributes,
	.command = climate_command,
};

/* ---- water_heater -------------------------------------------------------------- */

static const struct mqb_schema_key water_heater_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_VALUE_TEMPLATE(T),
	CHAN(T, mode, "operation mode"),
	MQTT_LIST(T, modes, "the operation modes (default off, eco, electric, gas, heat_pump, "
			    "high_demand, performance)"),
	CHAN(T, temperature, "target temperature"),
	MQTT_SUB(T, current_temperature_topic, "topic the current temperature is read from"),
	MQTT_TPL(T, current_temperature_template, "template extracting it"),
	MQTT_PUB(T, power_command_topic, "topic turn_on and turn_off publish to"),
	MQTT_TPL(T, power_command_template, "template making the power payload"),
	MQTT_STR(T, payload_on, "ON", "power payload turning it on"),
	MQTT_STR(T, payload_off, "OFF", "power payload turning it off"),
	{.key = "temperature_unit", .type = MQB_S_ENUM, .choices = temperature_units,
	 MQTT_AT(T, temperature_unit), .doc = "C or F (default C)"},
	{.key = "min_temp", .type = MQB_S_FLOAT, .def = MQTT_UNSET_TEXT, MQTT_AT(T, min_temp),
	 .doc = "lowest target temperature (default 110 °F)"},
	{.key = "max_temp", .type = MQB_S_FLOAT, .def = MQTT_UNSET_TEXT, MQTT_AT(T, max_temp),
	 .doc = "highest target temperature (default 140 °F)"},
	{.key = "precision", .type = MQB_S_FLOAT, .def = MQTT_UNSET_TEXT, MQTT_AT(T, precision),
	 .doc = "0.1, 0.5 or 1 (default 0.1 in °C, 1 in °F)"},
	{.key = "initial", .type = MQB_S_FLOAT, .def = MQTT_UNSET_TEXT, MQTT_AT(T, initial),
	 .doc = "the target temperature until one is known"},
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_water_heater_schema =
	MQB_SCHEMA("mqtt water_heater", water_heater_keys);

static const char *const operation_modes[] = {"off",       "eco",         "electric", "gas",
					      "heat_pump", "high_demand", "performance"};

static void water_heater_check(const void *conf, const struct mqb_conf_node *item,
			       const char *path, struct mqb_conf_errors *errs)
{
	const T *c = conf;
	check_modes(c->modes, operation_modes, MQB_ARRAY_SIZE(operation_modes), item, path,
		    "modes", errs);
	if ((c->precision != MQTT_UNSET) && c->precision != 0.1 && c->precision != 0.5 &&
	    c->precision != 1)
		mqtt_errat(errs, item, path, "precision", "must be 0.1, 0.5 or 1");
}

static const struct mqtt_read water_heater_reads[] = {
	CHAN_READ(T, mode, mode_value),
	CHAN_READ(T, temperature, temperature_value),
	{.topic_key = "current_temperature_topic", .tpl_key = "current_temperature_template",
	 .topic_off = offsetof(T, current_temperature_topic),
	 .tpl_off = offsetof(T, current_temperature_template),
	 .fallback_off = offsetof(T, com.value_template), .value = current_temp_value},
};

static int water_heater_init(struct ent *x)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	p->modes = c->modes ? mqtt_strings(c->modes, &p->nmodes) : NULL;
	if (c->modes && !p->modes)
		return -ENOMEM;
	if (!c->modes) {
		p->modes = (const char **)operation_modes;
		p->nmodes = MQB_ARRAY_SIZE(operation_modes);
	}
	if (!(p->presets = mqtt_strings(NULL, &p->npresets)))
		return -ENOMEM;
	temperature_setup(x, c->temperature_unit, c->min_temp, c->max_temp, f_to_c(110),
			  f_to_c(140), c->precision);
	x->optimistic = c->com.optimistic;
	if (!c->mode.state_topic)
		mqtt_set_state(x, "off");
	if ((c->initial != MQTT_UNSET) && !c->temperature.state_topic)
		mqtt_attr(x, "temperature", show_temp(x, c->initial));
	int rc;
	if ((rc = compile_channel(x, &c->mode)) || (rc = compile_channel(x, &c->temperature)))
		return rc;
	return mqtt_compile(x, c->power_command_template, &p->power_tpl);
}

static int water_heater_attributes(struct ent *x, json_t *a)
{
	struct clim_priv *p = x->priv;
	int rc = json_object_set_new(a, "min_temp", show_temp(x, p->min_temp));
	rc |= json_object_set_new(a, "max_temp", show_temp(x, p->max_temp));
	rc |= json_object_set_new(a, "operation_list", mqtt_json_strings(p->modes, p->nmodes));
	rc |= json_object_set_new(a, "operation_mode", json_string(mqtt_state(x)));
	if (!json_object_get(a, "current_temperature"))
		rc |= json_object_set_new(a, "current_temperature", json_null());
	if (!json_object_get(a, "temperature"))
		rc |= json_object_set_new(a, "temperature", json_null());
	rc |= json_object_set_new(a, "target_temp_high", json_null());
	rc |= json_object_set_new(a, "target_temp_low", json_null());
	return rc;
}

static int water_heater_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	int rc = json_object_set_new(d, "modes", mqtt_json_strings(p->modes, p->nmodes));
	rc |= json_object_set_new(d, "min_temp", json_real(p->min_temp));
	rc |= json_object_set_new(d, "max_temp", json_real(p->max_temp));
	rc |= json_object_set_new(d, "precision", json_real(p->precision));
	rc |= json_object_set_new(d, "temperature_unit", json_string(p->fahrenheit ? "F" : "C"));
	rc |= mqtt_feature(d, "temperature", supports(&c->temperature));
	rc |= mqtt_feature(d, "current_temperature", c->current_temperature_topic != NULL);
	rc |= mqtt_feature(d, "power", c->power_command_topic != NULL);
	return rc;
}

static int water_heater_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	int rc;
	double v;
	if (strcmp(service, "set_operation_mode") == 0) {
		rc = set_mode(x, mqtt_data_string(data, "operation_mode"));
	} else if (strcmp(service, "set_temperature") == 0) {
		const char *om = mqtt_data_string(data, "operation_mode");
		if (om && (rc = set_mode(x, om)))
			return rc;
		if (!mqtt_data_number(data, "temperature", &v)) {
			MQB_LOG_WARNING(SUB, "%s: set_temperature needs a temperature", mqtt_eid(x));
			return -EINVAL;
		}
		rc = send_channel(x, &c->temperature, "temperature_command_template", NULL, v, FLOAT);
		if (rc == 0)
			optimistic_attr(x, &c->temperature, "temperature", show_temp(x, v));
	} else if (strcmp(service, "turn_on") == 0 || strcmp(service, "turn_off") == 0) {
		bool on = strcmp(service, "turn_on") == 0;
		if (!c->power_command_topic)
			return -ENOTSUP;
		rc = mqtt_send(x, c->power_command_topic, "power_command_template", p->power_tpl,
			       on ? c->payload_on : c->payload_off, NULL, NULL);
	} else {
		return -ENOTSUP;
	}
	if (rc == 0)
		mqtt_commit(x);
	return rc;
}

const struct mqtt_class mqtt_water_heater = {
	.domain = "water_heater",
	.default_name = "MQTT Water Heater",
	.check = water_heater_check,
	.reads = water_heater_reads,
	.nreads = MQB_ARRAY_SIZE(water_heater_reads),
	.priv_size = sizeof(struct clim_priv),
	.init = water_heater_init,
	.fini = clim_fini,
	.discovery = water_heater_discovery,
	.attributes = water_heater_attributes,
	.command = water_heater_command,
};
#undef T

/* ---- humidifier -------------------------------------------------------------------- */

#define T struct humidifier_conf
static const struct mqb_schema_key humidifier_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, true),
	MQTT_COMMAND_TEMPLATE(T),
	MQTT_STATE_TOPIC(T, false),
	MQTT_TPL(T, state_value_template, "template extracting the on/off payload"),
	MQTT_DEVICE_CLASS(T),
	MQTT_STR(T, payload_on, "ON", "payload meaning on"),
	MQTT_STR(T, payload_off, "OFF", "payload meaning off"),
	{.key = "target_humidity_command_topic", .type = MQB_S_TOPIC, .required = true,
	 MQTT_AT(T, target_humidity.command_topic), .doc = "topic humidity commands go to"},
	{.key = "target_humidity_command_template", .type = MQB_S_TEMPLATE,
	 MQTT_AT(T, target_humidity.command_template), .doc = "template making that payload"},
	{.key = "target_humidity_state_topic", .type = MQB_S_FILTER,
	 MQTT_AT(T, target_humidity.state_topic), .doc = "topic the target humidity is read from"},
	{.key = "target_humidity_state_template", .type = MQB_S_TEMPLATE,
	 MQTT_AT(T, target_humidity.state_template), .doc = "template extracting it"},
	CHAN(T, mode, "mode"),
	MQTT_LIST(T, modes, "the modes it has"),
	MQTT_SUB(T, action_topic, "topic the current action is read from"),
	MQTT_TPL(T, action_template, "template extracting the action"),
	MQTT_SUB(T, current_humidity_topic, "topic the current humidity is read from"),
	MQTT_TPL(T, current_humidity_template, "template extracting it"),
	{.key = "min_humidity", .type = MQB_S_FLOAT, .def = "0", .min = 0, .max = 100,
	 MQTT_AT(T, min_humidity), .doc = "lowest target humidity"},
	{.key = "max_humidity", .type = MQB_S_FLOAT, .def = "100", .min = 0, .max = 100,
	 MQTT_AT(T, max_humidity), .doc = "highest target humidity"},
	MQTT_STR(T, payload_reset_humidity, PAYLOAD_NONE, "payload making the humidity unknown"),
	MQTT_STR(T, payload_reset_mode, PAYLOAD_NONE, "payload making the mode unknown"),
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_humidifier_schema = MQB_SCHEMA("mqtt humidifier", humidifier_keys);

static void humidifier_check(const void *conf, const struct mqb_conf_node *item,
			     const char *path, struct mqb_conf_errors *errs)
{
	const T *c = conf;
	if (c->min_humidity >= c->max_humidity)
		mqtt_errat(errs, item, path, "max_humidity", "max_humidity must be above min_humidity");
	if (c->mode.command_topic && !c->modes)
		mqtt_errat(errs, item, path, "modes", "mode_command_topic needs modes");
}

static bool hum_state(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	const T *c = x->conf;
	return mqtt_on_off(x, topic, v, c->payload_on, c->payload_off);
}

static bool hum_target(struct ent *x, const char *topic, const char *v, size_t len)
{
	const T *c = x->conf;
	double d;
	if (strcmp(v, c->payload_reset_humidity) == 0) {
		mqtt_attr(x, "humidity", json_null());
		return true;
	}
	if (!mqtt_parse_number(v, len, &d) || d < c->min_humidity || d > c->max_humidity) {
		mqtt_ignored(x, topic, "a humidity out of range", v);
		return false;
	}
	mqtt_attr(x, "humidity", json_real(d));
	return true;
}

static bool hum_mode(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	if (strcmp(v, c->payload_reset_mode) == 0) {
		mqtt_attr(x, "mode", json_null());
		return true;
	}
	return listed_attr(x, topic, v, "mode", p->modes, p->nmodes);
}

static bool hum_action(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	static const char *const actions[] = {"off", "humidifying", "drying", "idle"};
	return listed_attr(x, topic, v, "action", actions, MQB_ARRAY_SIZE(actions));
}

static const struct mqtt_read humidifier_reads[] = {
	{.topic_key = "state_topic", .tpl_key = "state_value_template",
	 .topic_off = offsetof(T, com.state_topic), .tpl_off = offsetof(T, state_value_template),
	 .value = hum_state},
	CHAN_READ(T, target_humidity, hum_target),
	CHAN_READ(T, mode, hum_mode),
	{.topic_key = "action_topic", .tpl_key = "action_template",
	 .topic_off = offsetof(T, action_topic), .tpl_off = offsetof(T, action_template),
	 .value = hum_action},
	{.topic_key = "current_humidity_topic", .tpl_key = "current_humidity_template",
	 .topic_off = offsetof(T, current_humidity_topic),
	 .tpl_off = offsetof(T, current_humidity_template), .value = current_humidity_value},
};

static int humidifier_init(struct ent *x)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	if (!(p->modes = mqtt_strings(c->modes, &p->nmodes)) ||
	    !(p->presets = mqtt_strings(NULL, &p->npresets)))
		return -ENOMEM;
	x->optimistic = c->com.optimistic || !c->com.state_topic;
	int rc;
	if ((rc = compile_channel(x, &c->target_humidity)) || (rc = compile_channel(x, &c->mode)))
		return rc;
	return mqtt_compile(x, c->com.command_template, &p->power_tpl);
}

static void humidifier_fini(struct ent *x)
{
	struct clim_priv *p = x->priv;
	free(p->modes);
	free(p->presets);
	p->modes = p->presets = NULL;
}

static int humidifier_attributes(struct ent *x, json_t *a)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	int rc = json_object_set_new(a, "min_humidity", json_real(c->min_humidity));
	rc |= json_object_set_new(a, "max_humidity", json_real(c->max_humidity));
	if (!json_object_get(a, "humidity"))
		rc |= json_object_set_new(a, "humidity", json_null());
	if (p->nmodes) {
		rc |= json_object_set_new(a, "available_modes", mqtt_json_strings(p->modes, p->nmodes));
		if (!json_object_get(a, "mode"))
			rc |= json_object_set_new(a, "mode", json_null());
	}
	return rc;
}

static int humidifier_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	int rc = json_object_set_new(d, "min_humidity", json_real(c->min_humidity));
	rc |= json_object_set_new(d, "max_humidity", json_real(c->max_humidity));
	if (p->nmodes) {
		rc |= json_object_set_new(d, "modes", mqtt_json_strings(p->modes, p->nmodes));
		rc |= mqtt_feature(d, "mode", true);
	}
	rc |= mqtt_feature(d, "action", c->action_topic != NULL);
	rc |= mqtt_feature(d, "current_humidity", c->current_humidity_topic != NULL);
	return rc;
}

static int humidifier_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct clim_priv *p = x->priv;
	int rc;
	double v;
	if (strcmp(service, "toggle") == 0)
		service = strcmp(mqtt_state(x), "on") == 0 ? "turn_off" : "turn_on";
	if (strcmp(service, "turn_on") == 0 || strcmp(service, "turn_off") == 0) {
		bool on = strcmp(service, "turn_on") == 0;
		rc = mqtt_send(x, c->com.command_topic, "command_template", p->power_tpl,
			       on ? c->payload_on : c->payload_off, NULL, NULL);
		if (rc == 0 && x->optimistic)
			mqtt_set_state(x, on ? "on" : "off");
	} else if (strcmp(service, "set_humidity") == 0) {
		if (!mqtt_data_number(data, "humidity", &v) || v < c->min_humidity ||
		    v > c->max_humidity) {
			MQB_LOG_WARNING(SUB, "%s: set_humidity needs a humidity from %g to %g",
					mqtt_eid(x), c->min_humidity, c->max_humidity);
			return -EINVAL;
		}
		rc = send_channel(x, &c->target_humidity, "target_humidity_command_template", NULL,
				  v, INT);
		if (rc == 0 && (x->optimistic || !c->target_humidity.state_topic))
			mqtt_attr(x, "humidity", json_real(v));
	} else if (strcmp(service, "set_mode") == 0) {
		const char *m = mqtt_data_string(data, "mode");
		if (!c->mode.command_topic)
			return -ENOTSUP;
		if (!mqtt_in(p->modes, p->nmodes, m)) {
			MQB_LOG_WARNING(SUB, "%s: '%.32s' is not one of its modes", mqtt_eid(x),
					m ? m : "(none)");
			return -EINVAL;
		}
		rc = mqtt_send(x, c->mode.command_topic, "mode_command_template",
			       tpl_of(x, &c->mode), m, NULL, NULL);
		if (rc == 0 && (x->optimistic || !c->mode.state_topic))
			mqtt_attr(x, "mode", json_string(m));
	} else {
		return -ENOTSUP;
	}
	if (rc == 0)
		mqtt_commit(x);
	return rc;
}

const struct mqtt_class mqtt_humidifier = {
	.domain = "humidifier",
	.default_name = "MQTT Humidifier",
	.check = humidifier_check,
	.reads = humidifier_reads,
	.nreads = MQB_ARRAY_SIZE(humidifier_reads),
	.priv_size = sizeof(struct clim_priv),
	.init = humidifier_init,
	.fini = humidifier_fini,
	.discovery = humidifier_discovery,
	.attributes = humidifier_attributes,
	.command = humidifier_command,
};
#undef T
