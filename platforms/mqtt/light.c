/* SPDX-License-Identifier: MIT */
/* MQTT lights in Home Assistant's three schemas (components/mqtt/light/):
 * basic, a topic per setting; json, one JSON object each way; template,
 * templates making the commands and reading the state. All three keep the
 * same light: on or off, a brightness 0..255, a colour mode among those
 * it supports and the colour in it, a colour temperature, an effect;
 * the attributes are Home Assistant's light attributes. */
#include "mqtt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T struct light_conf

/* ---- the configuration --------------------------------------------------- */

static const char *const light_schemas[] = {"basic", "json", "template", NULL};
static const char *const on_command_types[] = {"last", "first", "brightness", NULL};

#define CHANNEL(name, what) \
	{.key = #name "_command_topic", .type = MQB_S_TOPIC, MQTT_AT(T, name.command_topic), \
	 .doc = "topic " what " commands are published to"}, \
	{.key = #name "_command_template", .type = MQB_S_TEMPLATE, \
	 MQTT_AT(T, name.command_template), .doc = "template making the " what " payload"}, \
	{.key = #name "_state_topic", .type = MQB_S_FILTER, MQTT_AT(T, name.state_topic), \
	 .doc = "topic the " what " is read from"}, \
	{.key = #name "_value_template", .type = MQB_S_TEMPLATE, MQTT_AT(T, name.value_template), \
	 .doc = "template extracting the " what}

static const struct mqb_schema_key light_keys[] = {
	MQTT_COMMON_KEYS(T),
	{.key = "schema", .type = MQB_S_ENUM, .choices = light_schemas, .def = "basic",
	 MQTT_AT(T, schema), .doc = "basic, json or template"},
	MQTT_COMMAND_TOPIC(T, true),
	MQTT_STATE_TOPIC(T, false),
	MQTT_TPL(T, state_value_template, "basic: template extracting the on/off payload"),
	MQTT_STR(T, payload_on, "ON", "basic: payload meaning on"),
	MQTT_STR(T, payload_off, "OFF", "basic: payload meaning off"),
	CHANNEL(brightness, "brightness"),
	{.key = "brightness_scale", .type = MQB_S_INT, .def = "255", .min = 1, .max = 1000000,
	 MQTT_AT(T, brightness_scale), .doc = "the device's full brightness"},
	MQTT_SUB(T, color_mode_state_topic, "basic: topic the colour mode is read from"),
	MQTT_TPL(T, color_mode_value_template, "basic: template extracting the colour mode"),
	CHANNEL(color_temp, "colour temperature"),
	{.key = "color_temp_kelvin", .type = MQB_S_BOOL, .def = "false",
	 MQTT_AT(T, color_temp_kelvin), .doc = "colour temperatures in kelvin, not mireds"},
	{.key = "min_mireds", .type = MQB_S_INT, .min = 1, .max = 100000, MQTT_AT(T, min_mireds),
	 .doc = "the coldest colour temperature, in mireds"},
	{.key = "max_mireds", .type = MQB_S_INT, .min = 1, .max = 100000, MQTT_AT(T, max_mireds),
	 .doc = "the warmest colour temperature, in mireds"},
	{.key = "min_kelvin", .type = MQB_S_INT, .min = 1, .max = 100000, MQTT_AT(T, min_kelvin),
	 .doc = "the warmest colour temperature, in kelvin (default 2000)"},
	{.key = "max_kelvin", .type = MQB_S_INT, .min = 1, .max = 100000, MQTT_AT(T, max_kelvin),
	 .doc = "the coldest colour temperature, in kelvin (default 6535)"},
	CHANNEL(effect, "effect"),
	MQTT_LIST(T, effect_list, "the effects it has"),
	CHANNEL(hs, "hue and saturation"),
	CHANNEL(rgb, "RGB colour"),
	CHANNEL(rgbw, "RGBW colour"),
	CHANNEL(rgbww, "RGBWW colour"),
	CHANNEL(xy, "xy colour"),
	MQTT_PUB(T, white_command_topic, "basic: topic white commands are published to"),
	MQTT_TPL(T, white_command_template, "basic: template making the white payload"),
	{.key = "white_scale", .type = MQB_S_INT, .def = "255", .min = 1, .max = 1000000,
	 MQTT_AT(T, white_scale), .doc = "basic: the device's full white"},
	{.key = "on_command_type", .type = MQB_S_ENUM, .choices = on_command_types, .def = "last",
	 MQTT_AT(T, on_command_type), .doc = "basic: last, first or brightness"},
	{.key = "brightness", .type = MQB_S_BOOL, .def = "false", MQTT_AT(T, brightness_on),
	 .doc = "json: it dims (implied by a brightness colour mode)"},
	{.key = "effect", .type = MQB_S_BOOL, .def = "false", MQTT_AT(T, effect_on),
	 .doc = "json: it has effects"},
	MQTT_LIST(T, supported_color_modes, "json: its colour modes"),
	{.key = "flash", .type = MQB_S_BOOL, .def = "true", MQTT_AT(T, flash),
	 .doc = "json: it flashes"},
	{.key = "transition", .type = MQB_S_BOOL, .def = "true", MQTT_AT(T, transition),
	 .doc = "json: it takes transitions"},
	{.key = "flash_time_short", .type = MQB_S_UINT, .def = "2", MQTT_AT(T, flash_time_short),
	 .doc = "json: seconds of a short flash"},
	{.key = "flash_time_long", .type = MQB_S_UINT, .def = "10", MQTT_AT(T, flash_time_long),
	 .doc = "json: seconds of a long flash"},
	MQTT_TPL(T, command_on_template, "template: the payload turning it on"),
	MQTT_TPL(T, command_off_template, "template: the payload turning it off"),
	MQTT_TPL(T, state_template, "template: on or off from the state payload"),
	MQTT_TPL(T, brightness_template, "template: the brightness 0..255"),
	MQTT_TPL(T, red_template, "template: the red 0..255"),
	MQTT_TPL(T, green_template, "template: the green 0..255"),
	MQTT_TPL(T, blue_template, "template: the blue 0..255"),
	MQTT_TPL(T, color_temp_template, "template: the colour temperature"),
	MQTT_TPL(T, effect_template, "template: the effect"),
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_light_schema = MQB_SCHEMA("mqtt light", light_keys);

/* ---- colour modes -------------------------------------------------------- */

enum mode { M_ONOFF, M_BRIGHTNESS, M_COLOR_TEMP, M_HS, M_XY, M_RGB, M_RGBW, M_RGBWW, M_WHITE,
	    NMODES };
static const char *const mode_names[NMODES] = {"onoff", "brightness", "color_temp", "hs", "xy",
					       "rgb", "rgbw", "rgbww", "white"};

static int mode_of(const char *s)
{
	for (int i = 0; s && i < NMODES; i++)
		if (strcmp(mode_names[i], s) == 0)
			return i;
	return -1;
}

/* Home Assistant's valid_supported_color_modes: onoff, brightness and
 * white only alone (white with a colour mode). */
static const char *modes_invalid(unsigned m)
{
	unsigned color = m & ~((1u << M_ONOFF) | (1u << M_BRIGHTNESS) | (1u << M_WHITE));
	if (!m)
		return "no colour mode";
	if ((m & (1u << M_ONOFF)) && m != (1u << M_ONOFF))
		return "onoff must be the only colour mode";
	if ((m & (1u << M_BRIGHTNESS)) && m != (1u << M_BRIGHTNESS))
		return "brightness must be the only colour mode";
	if ((m & (1u << M_WHITE)) && !color)
		return "white needs another colour mode with it";
	return NULL;
}

/* ---- the light ------------------------------------------------------------ */

struct light_priv {
	enum { S_BASIC, S_JSON, S_TEMPLATE } schema;
	unsigned modes;               /* bit per supported colour mode */
	int mode;                     /* current colour mode; -1: none yet */
	bool optimistic_mode;         /* the mode follows what was set last */
	int brightness;               /* 0..255; -1: unknown */
	double hs[2];
	int rgb[5];                   /* rgb, rgbw, rgbww: up to five channels */
	double xy[2];
	int kelvin;                   /* -1: unknown */
	char *effect;
	const char **effects;
	size_t neffects;
	int min_k, max_k;
	bool dims;                    /* brightness is a setting of its own */
	/* basic: command templates and whether a state topic keeps each */
	struct mqb_template *cmd[NMODES], *brightness_cmd, *effect_cmd, *white_cmd;
	/* template */
	struct mqb_template *on_tpl, *off_tpl, *state_tpl, *bright_tpl, *red_tpl, *green_tpl,
		*blue_tpl, *ct_tpl, *effect_tpl;
};

static bool has(const struct light_priv *l, int m)
{
	return l->modes & (1u << m);
}

static int channels(int m)
{
	return m == M_RGBW ? 4 : m == M_RGBWW ? 5 : 3;
}

/* A colour mode was set: it is the mode when the mode follows what was set
 * last (no colour mode topic), as in Home Assistant. */
static void set_mode(struct light_priv *l, int m)
{
	if (l->optimistic_mode && has(l, m))
		l->mode = m;
}

static int light_attributes(struct ent *x, json_t *a)
{
	struct light_priv *l = x->priv;
	bool on = strcmp(mqtt_state(x), "on") == 0;
	json_t *modes = json_array();
	for (int i = 0; modes && i < NMODES; i++)
		if (has(l, i))
			json_array_append_new(modes, json_string(mode_names[i]));
	int rc = json_object_set_new(a, "supported_color_modes", modes);
	if (l->neffects)
		rc |= json_object_set_new(a, "effect_list",
					  mqtt_json_strings(l->effects, l->neffects));
	if (has(l, M_COLOR_TEMP)) {
		rc |= json_object_set_new(a, "min_color_temp_kelvin", json_integer(l->min_k));
		rc |= json_object_set_new(a, "max_color_temp_kelvin", json_integer(l->max_k));
	}
	int m = on ? (l->mode >= 0 ? l->mode : mode_of(NULL)) : -1;
	if (on && m < 0) {
		/* one mode and nothing said: it is that one */
		for (int i = 0; i < NMODES; i++)
			if (l->modes == 1u << i)
				m = i;
	}
	rc |= json_object_set_new(a, "color_mode", m >= 0 ? json_string(mode_names[m]) : json_null());
	bool dim = !has(l, M_ONOFF);
	if (dim)
		rc |= json_object_set_new(a, "brightness", on && l->brightness >= 0
								   ? json_integer(l->brightness)
								   : json_null());
	if (l->neffects || l->effect)
		rc |= json_object_set_new(a, "effect", on && l->effect ? json_string(l->effect)
								      : json_null());
	bool color = l->modes & ~((1u << M_ONOFF) | (1u << M_BRIGHTNESS) | (1u << M_WHITE));
	if (has(l, M_COLOR_TEMP))
		rc |= json_object_set_new(a, "color_temp_kelvin",
					  on && m == M_COLOR_TEMP && l->kelvin > 0
						  ? json_integer(l->kelvin)
						  : json_null());
	if (!color)
		return rc;
	/* the colour in every form Home Assistant shows, from the mode's own */
	double hs[2] = {0, 0}, xy[2] = {0, 0}, f[3];
	int rgb[3] = {0, 0, 0};
	bool known = on;
	switch (m) {
	case M_HS:
		hs[0] = l->hs[0], hs[1] = l->hs[1];
		mqtt_hs_to_rgb(hs[0], hs[1], rgb);
		mqtt_rgb_to_xy(rgb[0], rgb[1], rgb[2], xy);
		break;
	case M_XY:
		xy[0] = l->xy[0], xy[1] = l->xy[1];
		mqtt_xy_to_rgb(xy[0], xy[1], rgb);
		mqtt_rgb_to_hs(rgb[0], rgb[1], rgb[2], hs);
		break;
	case M_RGB:
	case M_RGBW:
	case M_RGBWW:
		for (int i = 0; i < 3; i++)
			rgb[i] = l->rgb[i];
		if (m == M_RGBW)
			mqtt_rgbw_to_rgb(l->rgb, rgb);
		mqtt_rgb_to_hs(rgb[0], rgb[1], rgb[2], hs);
		mqtt_rgb_to_xy(rgb[0], rgb[1], rgb[2], xy);
		break;
	case M_COLOR_TEMP:
		if (l->kelvin <= 0) {
			known = false;
			break;
		}
		mqtt_kelvin_to_rgb(l->kelvin, f);
		mqtt_rgb_to_hs(f[0], f[1], f[2], hs);
		mqtt_hs_to_rgb(hs[0], hs[1], rgb);
		mqtt_rgb_to_xy(rgb[0], rgb[1], rgb[2], xy);
		break;
	default:
		known = false;
	}
	rc |= json_object_set_new(a, "hs_color", known ? json_pack("[f,f]", hs[0], hs[1]) : json_null());
	rc |= json_object_set_new(a, "rgb_color",
				  known ? json_pack("[i,i,i]", rgb[0], rgb[1], rgb[2]) : json_null());
	rc |= json_object_set_new(a, "xy_color", known ? json_pack("[f,f]", xy[0], xy[1]) : json_null());
	if (has(l, M_RGBW))
		rc |= json_object_set_new(a, "rgbw_color",
					  on && m == M_RGBW ? json_pack("[i,i,i,i]", l->rgb[0], l->rgb[1],
									l->rgb[2], l->rgb[3])
							    : json_null());
	if (has(l, M_RGBWW))
		rc |= json_object_set_new(a, "rgbww_color",
					  on && m == M_RGBWW
						  ? json_pack("[i,i,i,i,i]", l->rgb[0], l->rgb[1],
							      l->rgb[2], l->rgb[3], l->rgb[4])
						  : json_null());
	return rc;
}

/* The brightness from a device value (0..scale); 0 is ignored. */
static bool device_brightness(struct ent *x, const char *topic, double v, int scale)
{
	struct light_priv *l = x->priv;
	int b = mqtt_brightness_from_device(v, scale);
	if (b < 0) {
		MQB_LOG_DEBUG(SUB, "%s: brightness %g on %s ignored", mqtt_eid(x), v, topic);
		return false;
	}
	l->brightness = b;
	return true;
}

static int kelvin_of(const T *c, double v)
{
	return c->color_temp_kelvin ? (int)v : mqtt_kelvin_mired(v);
}

static double device_temp(const T *c, int kelvin)
{
	return c->color_temp_kelvin ? kelvin : mqtt_kelvin_mired(kelvin);
}

/* "a,b,c" of n numbers. */
static bool parse_list(const char *v, double *out, int n)
{
	const char *s = v;
	for (int i = 0; i < n; i++) {
		char *end;
		out[i] = strtod(s, &end);
		if (end == s || !isfinite(out[i]))
			return false;
		s = end;
		while (*s == ' ')
			s++;
		if (i + 1 < n) {
			if (*s != ',')
				return false;
			s++;
		}
	}
	while (*s == ' ')
		s++;
	return *s == '\0';
}

/* ---- basic: what the device says ------------------------------------------ */

static bool basic_state(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	const T *c = x->conf;
	return mqtt_on_off(x, topic, v, c->payload_on, c->payload_off);
}

static bool basic_brightness(struct ent *x, const char *topic, const char *v, size_t len)
{
	const T *c = x->conf;
	double d;
	if (!mqtt_parse_number(v, len, &d)) {
		mqtt_ignored(x, topic, "a brightness that is not a number", v);
		return false;
	}
	return device_brightness(x, topic, d, c->brightness_scale);
}

static bool basic_mode(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	struct light_priv *l = x->priv;
	int m = mode_of(v);
	if (m < 0 || !has(l, m)) {
		mqtt_ignored(x, topic, "a colour mode it does not support", v);
		return false;
	}
	l->mode = m;
	return true;
}

static bool basic_color_temp(struct ent *x, const char *topic, const char *v, size_t len)
{
	const T *c = x->conf;
	struct light_priv *l = x->priv;
	double d;
	if (mqtt_is_none(v)) {
		l->kelvin = -1;
		return true;
	}
	if (!mqtt_parse_number(v, len, &d) || d <= 0) {
		mqtt_ignored(x, topic, "a colour temperature that is not a number", v);
		return false;
	}
	l->kelvin = kelvin_of(c, d);
	set_mode(l, M_COLOR_TEMP);
	return true;
}

static bool basic_effect(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)topic, (void)len;
	struct light_priv *l = x->priv;
	char *e = strdup(v);
	if (!e)
		return false;
	free(l->effect);
	l->effect = e;
	return true;
}

/* Two numbers "a,b" into out, the colour mode then m. */
static bool basic_pair(struct ent *x, const char *topic, const char *v, double *out, int m,
		       const char *what)
{
	struct light_priv *l = x->priv;
	double p[2];
	if (!parse_list(v, p, 2)) {
		mqtt_ignored(x, topic, what, v);
		return false;
	}
	out[0] = p[0], out[1] = p[1];
	set_mode(l, m);
	return true;
}

static bool basic_hs(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	struct light_priv *l = x->priv;
	return basic_pair(x, topic, v, l->hs, M_HS, "hue and saturation that are not h,s");
}

static bool basic_xy(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	struct light_priv *l = x->priv;
	return basic_pair(x, topic, v, l->xy, M_XY, "a colour that is not x,y");
}

/* r,g,b[,w[,w]]: without a brightness topic the brightness is the largest
 * channel, and the colour is kept at full brightness (schema_basic). */
static bool basic_rgbx(struct ent *x, const char *topic, const char *v, int m)
{
	const T *c = x->conf;
	struct light_priv *l = x->priv;
	int n = channels(m);
	double ch[5];
	if (!parse_list(v, ch, n)) {
		mqtt_ignored(x, topic, "a colour that is not r,g,b", v);
		return false;
	}
	if (!c->brightness.state_topic) {
		double mx = 0;
		for (int i = 0; i < n; i++)
			mx = ch[i] > mx ? ch[i] : mx;
		if (mx <= 0) {
			MQB_LOG_DEBUG(SUB, "%s: a colour of zero brightness on %s ignored",
				      mqtt_eid(x), topic);
			return false;
		}
		l->brightness = (int)(mx > 255 ? 255 : mx);
		for (int i = 0; i < n; i++)
			ch[i] = fmin(mqb_round(ch[i] / mx * 255, 0), 255);
	}
	for (int i = 0; i < n; i++)
		l->rgb[i] = (int)ch[i];
	set_mode(l, m);
	return true;
}

static bool basic_rgb(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	return basic_rgbx(x, topic, v, M_RGB);
}

static bool basic_rgbw(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	return basic_rgbx(x, topic, v, M_RGBW);
}

static bool basic_rgbww(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	return basic_rgbx(x, topic, v, M_RGBWW);
}

/* ---- json and template: what the device says -------------------------------- */

/* Home Assistant's JSON schema state: {"state": "ON", "brightness": 255,
 * "color_mode": "rgb", "color": {...}, "color_temp": 300, "effect": "x"}. */
static bool json_state(struct ent *x, const char *topic, const char *v, size_t len)
{
	const T *c = x->conf;
	struct light_priv *l = x->priv;
	json_error_t je;
	json_t *j = json_loadb(v, len, 0, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		mqtt_ignored(x, topic, "a JSON light state that is no object", v);
		return false;
	}
	const char *st = json_string_value(json_object_get(j, "state"));
	if (st && strcmp(st, "ON") == 0)
		mqtt_set_state(x, "on");
	else if (st && strcmp(st, "OFF") == 0)
		mqtt_set_state(x, "off");
	else if (json_is_null(json_object_get(j, "state")))
		mqtt_set_state(x, NULL);
	const json_t *b = json_object_get(j, "brightness");
	if (json_is_number(b))
		device_brightness(x, topic, json_number_value(b), c->brightness_scale);
	const char *cm = json_string_value(json_object_get(j, "color_mode"));
	int m = mode_of(cm);
	const json_t *col = json_object_get(j, "color");
	if (cm && (m < 0 || !has(l, m))) {
		MQB_LOG_WARNING(SUB, "%s: invalid colour mode '%.32s' on %s", mqtt_eid(x), cm,
				topic);
	} else if (m >= 0) {
		l->mode = m;
		double h = json_number_value(json_object_get(col, "h"));
		double s = json_number_value(json_object_get(col, "s"));
		switch (m) {
		case M_HS:
			l->hs[0] = h, l->hs[1] = s;
			break;
		case M_XY:
			l->xy[0] = json_number_value(json_object_get(col, "x"));
			l->xy[1] = json_number_value(json_object_get(col, "y"));
			break;
		case M_RGB:
		case M_RGBW:
		case M_RGBWW: {
			static const char *const k[] = {"r", "g", "b", "c", "w"};
			l->rgb[0] = (int)json_number_value(json_object_get(col, "r"));
			l->rgb[1] = (int)json_number_value(json_object_get(col, "g"));
			l->rgb[2] = (int)json_number_value(json_object_get(col, "b"));
			if (m == M_RGBW)
				l->rgb[3] = (int)json_number_value(json_object_get(col, "w"));
			if (m == M_RGBWW) {
				l->rgb[3] = (int)json_number_value(json_object_get(col, k[3]));
				l->rgb[4] = (int)json_number_value(json_object_get(col, k[4]));
			}
			break;
		}
		default:
			break;
		}
	}
	const json_t *ct = json_object_get(j, "color_temp");
	if (json_is_number(ct) && json_number_value(ct) > 0)
		l->kelvin = kelvin_of(c, json_number_value(ct));
	else if (json_is_null(ct))
		l->kelvin = -1;
	const char *eff = json_string_value(json_object_get(j, "effect"));
	if (eff)
		basic_effect(x, topic, eff, strlen(eff));
	json_decref(j);
	return true;
}

/* The template schema renders each of its templates over one payload. */
static bool render_int(struct ent *x, const char *opt, const struct mqb_template *t,
		       const char *payload, size_t len, double *out)
{
	char *v = NULL;
	size_t vlen;
	if (!t || mqtt_render(x, opt, t, payload, len, NULL, true, &v, &vlen))
		return false;
	bool ok = mqtt_parse_number(v, vlen, out);
	if (!ok && vlen && !mqtt_is_none(v))
		MQB_LOG_WARNING(SUB, "%s: %s rendered '%.32s', not a number", mqtt_eid(x), opt, v);
	free(v);
	return ok;
}

static bool template_state(struct ent *x, const char *topic, const char *payload, size_t len)
{
	const T *c = x->conf;
	struct light_priv *l = x->priv;
	char *v = NULL;
	size_t vlen;
	if (l->state_tpl &&
	    mqtt_render(x, "state_template", l->state_tpl, payload, len, NULL, true, &v, &vlen) == 0) {
		if (strcmp(v, "on") == 0)
			mqtt_set_state(x, "on");
		else if (strcmp(v, "off") == 0)
			mqtt_set_state(x, "off");
		else if (mqtt_is_none(v))
			mqtt_set_state(x, NULL);
		else
			mqtt_ignored(x, topic, "a state template result that is neither on nor off",
				     v);
		free(v);
	}
	double d, r, g, b;
	if (render_int(x, "brightness_template", l->bright_tpl, payload, len, &d)) {
		if (d >= 0 && d <= 255)
			l->brightness = (int)d;
		else
			MQB_LOG_WARNING(SUB, "%s: brightness %g out of 0..255", mqtt_eid(x), d);
	}
	if (render_int(x, "color_temp_template", l->ct_tpl, payload, len, &d) && d > 0) {
		l->kelvin = kelvin_of(c, d);
		set_mode(l, M_COLOR_TEMP);
	}
	if (render_int(x, "red_template", l->red_tpl, payload, len, &r) &&
	    render_int(x, "green_template", l->green_tpl, payload, len, &g) &&
	    render_int(x, "blue_template", l->blue_tpl, payload, len, &b)) {
		mqtt_rgb_to_hs(r, g, b, l->hs);
		set_mode(l, M_HS);
	}
	if (l->effect_tpl &&
	    mqtt_render(x, "effect_template", l->effect_tpl, payload, len, NULL, true, &v, &vlen) == 0) {
		if (mqtt_in(l->effects, l->neffects, v))
			basic_effect(x, topic, v, vlen);
		else if (vlen)
			mqtt_ignored(x, topic, "an effect it does not have", v);
		free(v);
	}
	return true;
}

/* ---- the reads of each schema ----------------------------------------------- */

#define READ(key, chan, fn) \
	{.topic_key = key "_state_topic", .tpl_key = key "_value_template", \
	 .topic_off = offsetof(T, chan.state_topic), .tpl_off = offsetof(T, chan.value_template), \
	 .value = fn}

/* The state topic last: entity.c subscribes state_topic after the rest. */
static const struct mqtt_read light_reads[] = {
	{.topic_key = "state_topic", .tpl_key = "state_value_template",
	 .topic_off = offsetof(T, com.state_topic), .tpl_off = offsetof(T, state_value_template),
	 .value = basic_state},
	READ("brightness", brightness, basic_brightness),
	{.topic_key = "color_mode_state_topic", .tpl_key = "color_mode_value_template",
	 .topic_off = offsetof(T, color_mode_state_topic),
	 .tpl_off = offsetof(T, color_mode_value_template), .value = basic_mode},
	READ("color_temp", color_temp, basic_color_temp),
	READ("effect", effect, basic_effect),
	READ("hs", hs, basic_hs),
	READ("rgb", rgb, basic_rgb),
	READ("rgbw", rgbw, basic_rgbw),
	READ("rgbww", rgbww, basic_rgbww),
	READ("xy", xy, basic_xy),
};
/* The JSON and template schemas read the whole state payload themselves. */
static const struct mqtt_read json_reads[] = {
	{.topic_key = "state_topic", .topic_off = offsetof(T, com.state_topic), .value = json_state},
};
static const struct mqtt_read template_reads[] = {
	{.topic_key = "state_topic", .topic_off = offsetof(T, com.state_topic),
	 .value = template_state},
};

/* ---- commands --------------------------------------------------------------- */

static bool data_list(const json_t *data, const char *key, double *out, int n)
{
	const json_t *a = json_object_get(data, key);
	if (!json_is_array(a) || json_array_size(a) != (size_t)n)
		return false;
	for (int i = 0; i < n; i++) {
		const json_t *v = json_array_get(a, (size_t)i);
		if (!json_is_number(v))
			return false;
		out[i] = json_number_value(v);
	}
	return true;
}

/* The brightness a turn_on asks for: brightness, else brightness_pct;
 * -1 when none. */
static int wanted_brightness(const json_t *data)
{
	double b, pct;
	if (mqtt_data_number(data, "brightness", &b))
		return (int)(b < 0 ? 0 : b > 255 ? 255 : mqb_round(b, 0));
	if (mqtt_data_number(data, "brightness_pct", &pct))
		return (int)mqb_round((pct < 0 ? 0 : pct > 100 ? 100 : pct) * 255 / 100, 0);
	return -1;
}

/* The colour temperature a turn_on asks for, in kelvin; -1: none. */
static int wanted_kelvin(const json_t *data)
{
	double k;
	if (mqtt_data_number(data, "color_temp_kelvin", &k) && k > 0)
		return (int)k;
	if (mqtt_data_number(data, "kelvin", &k) && k > 0)
		return (int)k;
	if (mqtt_data_number(data, "color_temp", &k) && k > 0)
		return mqtt_kelvin_mired(k);
	return -1;
}

static int publish_text(struct ent *x, const char *topic, const char *opt,
			const struct mqb_template *tpl, const char *text, json_t *vars)
{
	int rc = mqtt_send(x, topic, opt, tpl, text, NULL, vars);
	json_decref(vars);
	return rc;
}

static int publish_number(struct ent *x, const char *topic, const char *opt,
			  const struct mqb_template *tpl, double v)
{
	char buf[MQB_NUMBER_MAX];
	json_t *jv = v == floor(v) ? json_integer((json_int_t)v) : json_real(v);
	int rc = jv ? mqtt_send(x, topic, opt, tpl, mqtt_number_text(v, buf), jv, NULL) : -ENOMEM;
	json_decref(jv);
	return rc;
}

/* A colour's channels scaled by the brightness asked for, or the light's,
 * when it has no brightness of its own (schema_basic scale_rgbx). */
static void scale(struct ent *x, const double *in, int *out, int n, int bright)
{
	const T *c = x->conf;
	struct light_priv *l = x->priv;
	int b = c->brightness.command_topic ? 255 : bright > 0 ? bright
					       : l->brightness > 0 ? l->brightness : 255;
	for (int i = 0; i < n; i++)
		out[i] = (int)(in[i] * b / 255);
}

static int basic_on(struct ent *x, const json_t *data)
{
	const T *c = x->conf;
	struct light_priv *l = x->priv;
	int b = wanted_brightness(data);
	int rc;
	bool update = false;
	double v[5];
	char buf[96];
	if (b == 0) /* Home Assistant: on at brightness 0 is off */
		return mqtt_send(x, c->com.command_topic, "command_topic", NULL, c->payload_off,
				 NULL, NULL);
	if (strcmp(c->on_command_type, "first") == 0) {
		if ((rc = mqtt_send(x, c->com.command_topic, "command_topic", NULL, c->payload_on,
				    NULL, NULL)))
			return rc;
		update = true;
	} else if (strcmp(c->on_command_type, "brightness") == 0 && b < 0 &&
		   !json_object_get(data, "white")) {
		b = l->brightness > 0 ? l->brightness : 255;
	}
	if (data_list(data, "hs_color", v, 2) && c->hs.command_topic) {
		snprintf(buf, sizeof buf, "%g,%g", v[0], v[1]);
		rc = publish_text(x, c->hs.command_topic, "hs_command_template", l->cmd[M_HS], buf,
				  json_pack("{s:f,s:f}", "hue", v[0], "sat", v[1]));
		if (rc)
			return rc;
		if (x->optimistic || !c->hs.state_topic) {
			l->hs[0] = v[0], l->hs[1] = v[1];
			set_mode(l, M_HS);
			update = true;
		}
	}
	static const struct {
		const char *key;
		int mode;
		size_t chan;
	} rgbx[] = {{"rgb_color", M_RGB, offsetof(T, rgb)},
		    {"rgbw_color", M_RGBW, offsetof(T, rgbw)},
		    {"rgbww_color", M_RGBWW, offsetof(T, rgbww)}};
	for (size_t k = 0; k < MQB_ARRAY_SIZE(rgbx); k++) {
		int n = channels(rgbx[k].mode);
		const struct light_channel *ch =
			(const struct light_channel *)(const void *)((const char *)c + rgbx[k].chan);
		if (!data_list(data, rgbx[k].key, v, n) || !ch->command_topic)
			continue;
		int s[5];
		scale(x, v, s, n, b);
		size_t o = 0;
		for (int i = 0; i < n; i++)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%d", i ? "," : "", s[i]);
		json_t *vars = n == 3 ? json_pack("{s:i,s:i,s:i}", "red", s[0], "green", s[1], "blue", s[2])
			       : n == 4 ? json_pack("{s:i,s:i,s:i,s:i}", "red", s[0], "green", s[1],
						    "blue", s[2], "white", s[3])
					: json_pack("{s:i,s:i,s:i,s:i,s:i}", "red", s[0], "green", s[1],
						    "blue", s[2], "cold_white", s[3], "warm_white",
						    s[4]);
		char opt[40];
		snprintf(opt, sizeof opt, "%s_command_template", mode_names[rgbx[k].mode]);
		if ((rc = publish_text(x, ch->command_topic, opt, l->cmd[rgbx[k].mode], buf, vars)))
			return rc;
		if (x->optimistic || !ch->state_topic) {
			for (int i = 0; i < n; i++)
				l->rgb[i] = (int)v[i];
			set_mode(l, rgbx[k].mode);
			update = true;
		}
	}
	if (data_list(data, "xy_color", v, 2) && c->xy.command_topic) {
		snprintf(buf, sizeof buf, "%g,%g", v[0], v[1]);
		rc = publish_text(x, c->xy.command_topic, "xy_command_template", l->cmd[M_XY], buf,
				  json_pack("{s:f,s:f}", "x", v[0], "y", v[1]));
		if (rc)
			return rc;
		if (x->optimistic || !c->xy.state_topic) {
			l->xy[0] = v[0], l->xy[1] = v[1];
			set_mode(l, M_XY);
			update = true;
		}
	}
	if (b > 0 && c->brightness.command_topic) {
		if ((rc = publish_number(x, c->brightness.command_topic,
					 "brightness_command_template", l->brightness_cmd,
					 mqtt_brightness_to_device(b, c->brightness_scale))))
			return rc;
		if (x->optimistic || !c->brightness.state_topic) {
			l->brightness = b;
			update = true;
		}
	} else if (b > 0 && !json_object_get(data, "hs_color") && c->rgb.command_topic &&
		   !json_object_get(data, "rgb_color")) {
		/* a brightness alone, the light dimming through its colour */
		int rgb[3];
		if (l->mode == M_RGB)
			rgb[0] = l->rgb[0], rgb[1] = l->rgb[1], rgb[2] = l->rgb[2];
		else
			rgb[0] = rgb[1] = rgb[2] = 255;
		int s[3] = {rgb[0] * b / 255, rgb[1] * b / 255, rgb[2] * b / 255};
		snprintf(buf, sizeof buf, "%d,%d,%d", s[0], s[1], s[2]);
		rc = publish_text(x, c->rgb.command_topic, "rgb_command_template", l->cmd[M_RGB], buf,
				  json_pack("{s:i,s:i,s:i}", "red", s[0], "green", s[1], "blue", s[2]));
		if (rc)
			return rc;
		if (x->optimistic || !c->brightness.state_topic) {
			l->brightness = b;
			update = true;
		}
	}
	int k = wanted_kelvin(data);
	if (k > 0 && c->color_temp.command_topic) {
		if ((rc = publish_number(x, c->color_temp.command_topic, "color_temp_command_template",
					 l->cmd[M_COLOR_TEMP], device_temp(c, k))))
			return rc;
		if (x->optimistic || !c->color_temp.state_topic) {
			l->kelvin = k;
			set_mode(l, M_COLOR_TEMP);
			update = true;
		}
	}
	const char *eff = mqtt_data_string(data, "effect");
	if (eff && c->effect.command_topic && mqtt_in(l->effects, l->neffects, eff)) {
		if ((rc = mqtt_send(x, c->effect.command_topic, "effect_command_template", l->effect_cmd,
				    eff, NULL, NULL)))
			return rc;
		if (x->optimistic || !c->effect.state_topic) {
			basic_effect(x, NULL, eff, strlen(eff));
			update = true;
		}
	}
	double w;
	if (mqtt_data_number(data, "white", &w) && c->white_command_topic) {
		int dev = (int)fmin(mqb_round(w / 255 * c->white_scale, 0), c->white_scale);
		if ((rc = publish_number(x, c->white_command_topic, "white_command_template",
					 l->white_cmd, dev)))
			return rc;
		if (x->optimistic || !c->brightness.state_topic) {
			l->brightness = (int)w;
			set_mode(l, M_WHITE);
			update = true;
		}
	}
	if (strcmp(c->on_command_type, "last") == 0) {
		if ((rc = mqtt_send(x, c->com.command_topic, "command_topic", NULL, c->payload_on,
				    NULL, NULL)))
			return rc;
		update = true;
	}
	if (x->optimistic) {
		mqtt_set_state(x, "on");
		update = true;
	}
	if (update)
		mqtt_commit(x);
	return 0;
}

/* JSON schema: one object, {"state": "ON", "brightness": ..., "color": ...}. */
static int json_on(struct ent *x, const json_t *data, bool on)
{
	const T *c = x->conf;
	struct light_priv *l = x->priv;
	json_t *m = json_pack("{s:s}", "state", on ? "ON" : "OFF");
	double v[5], t;
	int b = on ? wanted_brightness(data) : -1;
	if (!m)
		return -ENOMEM;
	if (mqtt_data_number(data, "transition", &t) && c->transition)
		json_object_set_new(m, "transition", json_real(t));
	const char *flash = mqtt_data_string(data, "flash");
	if (flash && c->flash)
		json_object_set_new(m, "flash", json_integer(strcmp(flash, "long") == 0
								     ? c->flash_time_long
								     : c->flash_time_short));
	int mode = -1;
	if (on) {
		if (b > 0 && l->dims)
			json_object_set_new(m, "brightness",
					    json_integer(mqtt_brightness_to_device(b, c->brightness_scale)));
		if (data_list(data, "hs_color", v, 2) && has(l, M_HS)) {
			json_object_set_new(m, "color", json_pack("{s:f,s:f}", "h", v[0], "s", v[1]));
			l->hs[0] = v[0], l->hs[1] = v[1];
			mode = M_HS;
		} else if (data_list(data, "xy_color", v, 2) && has(l, M_XY)) {
			json_object_set_new(m, "color", json_pack("{s:f,s:f}", "x", v[0], "y", v[1]));
			l->xy[0] = v[0], l->xy[1] = v[1];
			mode = M_XY;
		} else if (data_list(data, "rgb_color", v, 3) && has(l, M_RGB)) {
			json_object_set_new(m, "color", json_pack("{s:i,s:i,s:i}", "r", (int)v[0], "g",
								  (int)v[1], "b", (int)v[2]));
			mode = M_RGB;
		} else if (data_list(data, "rgbw_color", v, 4) && has(l, M_RGBW)) {
			json_object_set_new(m, "color",
					    json_pack("{s:i,s:i,s:i,s:i}", "r", (int)v[0], "g", (int)v[1],
						      "b", (int)v[2], "w", (int)v[3]));
			mode = M_RGBW;
		} else if (data_list(data, "rgbww_color", v, 5) && has(l, M_RGBWW)) {
			json_object_set_new(m, "color",
					    json_pack("{s:i,s:i,s:i,s:i,s:i}", "r", (int)v[0], "g",
						      (int)v[1], "b", (int)v[2], "c", (int)v[3], "w",
						      (int)v[4]));
			mode = M_RGBWW;
		}
		if (mode == M_RGB || mode == M_RGBW || mode == M_RGBWW)
			for (int i = 0; i < channels(mode); i++)
				l->rgb[i] = (int)v[i];
		int k = wanted_kelvin(data);
		if (k > 0 && has(l, M_COLOR_TEMP)) {
			json_object_set_new(m, "color_temp", json_integer((json_int_t)device_temp(c, k)));
			l->kelvin = k;
			mode = M_COLOR_TEMP;
		}
		double w;
		if (mqtt_data_number(data, "white", &w) && has(l, M_WHITE)) {
			json_object_set_new(m, "white", json_integer((json_int_t)w));
			b = (int)w;
			mode = M_WHITE;
		}
		const char *eff = mqtt_data_string(data, "effect");
		if (eff && c->effect_on && mqtt_in(l->effects, l->neffects, eff)) {
			json_object_set_new(m, "effect", json_string(eff));
			if (x->optimistic)
				basic_effect(x, NULL, eff, strlen(eff));
		}
	}
	char *s = mqtt_json_text(m);
	json_decref(m);
	int rc = s ? mqtt_send(x, c->com.command_topic, "command_topic", NULL, s, NULL, NULL)
		   : -ENOMEM;
	free(s);
	if (rc == 0 && x->optimistic) {
		mqtt_set_state(x, on ? "on" : "off");
		if (b > 0)
			l->brightness = b;
		if (mode >= 0)
			l->mode = mode;
		mqtt_commit(x);
	}
	return rc;
}

/* Template schema: command_on_template with the settings as variables. */
static int template_on(struct ent *x, const json_t *data, bool on)
{
	const T *c = x->conf;
	struct light_priv *l = x->priv;
	json_t *vars = json_pack("{s:s}", "state", on ? "on" : "off");
	double v[3], t;
	int b = on ? wanted_brightness(data) : -1;
	if (!vars)
		return -ENOMEM;
	if (mqtt_data_number(data, "transition", &t))
		json_object_set_new(vars, "transition", json_real(t));
	const char *flash = mqtt_data_string(data, "flash");
	if (flash)
		json_object_set_new(vars, "flash", json_string(flash));
	int mode = -1;
	if (on) {
		if (b > 0)
			json_object_set_new(vars, "brightness", json_integer(b));
		int rgb[3];
		bool color = false;
		if (data_list(data, "hs_color", v, 2)) {
			l->hs[0] = v[0], l->hs[1] = v[1];
			mqtt_hs_to_rgb(v[0], v[1], rgb);
			color = true;
		} else if (data_list(data, "rgb_color", v, 3)) {
			rgb[0] = (int)v[0], rgb[1] = (int)v[1], rgb[2] = (int)v[2];
			mqtt_rgb_to_hs(v[0], v[1], v[2], l->hs);
			color = true;
		}
		if (color && has(l, M_HS)) {
			json_object_set_new(vars, "red", json_integer(rgb[0]));
			json_object_set_new(vars, "green", json_integer(rgb[1]));
			json_object_set_new(vars, "blue", json_integer(rgb[2]));
			json_object_set_new(vars, "hue", json_real(l->hs[0]));
			json_object_set_new(vars, "sat", json_real(l->hs[1]));
			mode = M_HS;
		}
		int k = wanted_kelvin(data);
		if (k > 0 && has(l, M_COLOR_TEMP)) {
			json_object_set_new(vars, "color_temp", json_integer((json_int_t)device_temp(c, k)));
			l->kelvin = k;
			mode = M_COLOR_TEMP;
		}
		const char *eff = mqtt_data_string(data, "effect");
		if (eff && mqtt_in(l->effects, l->neffects, eff)) {
			json_object_set_new(vars, "effect", json_string(eff));
			if (x->optimistic)
				basic_effect(x, NULL, eff, strlen(eff));
		}
	}
	int rc = mqtt_send(x, c->com.command_topic, on ? "command_on_template" : "command_off_template",
			   on ? l->on_tpl : l->off_tpl, on ? "on" : "off", NULL, vars);
	json_decref(vars);
	if (rc == 0 && x->optimistic) {
		mqtt_set_state(x, on ? "on" : "off");
		if (b > 0)
			l->brightness = b;
		if (mode >= 0)
			l->mode = mode;
		mqtt_commit(x);
	}
	return rc;
}

static int light_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct light_priv *l = x->priv;
	int on = mqb_entity_async_on_off(x->e, service);
	if (on < 0)
		return on;
	if (l->schema == S_JSON)
		return json_on(x, data, on);
	if (l->schema == S_TEMPLATE)
		return template_on(x, data, on);
	if (on)
		return basic_on(x, data);
	int rc = mqtt_send(x, c->com.command_topic, "command_topic", NULL, c->payload_off, NULL, NULL);
	if (rc == 0 && x->optimistic) {
		mqtt_set_state(x, "off");
		mqtt_commit(x);
	}
	return rc;
}

/* ---- setting up ---------------------------------------------------------------- */

/* The colour modes of a basic light, from its command topics
 * (schema_basic _setup_from_config). */
static unsigned basic_modes(const T *c)
{
	unsigned m = 0;
	if (c->rgb.command_topic)
		m |= 1u << M_RGB;
	if (c->rgbw.command_topic)
		m |= 1u << M_RGBW;
	if (c->rgbww.command_topic)
		m |= 1u << M_RGBWW;
	if (c->xy.command_topic)
		m |= 1u << M_XY;
	if (c->hs.command_topic)
		m |= 1u << M_HS;
	if (c->color_temp.command_topic)
		m |= 1u << M_COLOR_TEMP;
	if (c->white_command_topic && m)
		m |= 1u << M_WHITE;
	if (!m)
		m = c->brightness.command_topic ? 1u << M_BRIGHTNESS : 1u << M_ONOFF;
	return m;
}

static unsigned listed_modes(const T *c, bool *bad)
{
	size_t n;
	unsigned m = 0;
	const char **v = mqtt_strings(c->supported_color_modes, &n);
	*bad = false;
	for (size_t i = 0; v && i < n; i++) {
		int k = mode_of(v[i]);
		if (k < 0)
			*bad = true;
		else
			m |= 1u << k;
	}
	free(v);
	return m;
}

static void light_check(const void *conf, const struct mqb_conf_node *item, const char *path,
			struct mqb_conf_errors *errs)
{
	const T *c = conf;
	static const char *const basic_only[] = {
		"state_value_template", "brightness_command_topic", "brightness_state_topic",
		"color_mode_state_topic", "color_temp_command_topic", "hs_command_topic",
		"rgb_command_topic", "rgbw_command_topic", "rgbww_command_topic", "xy_command_topic",
		"white_command_topic", "effect_command_topic", "on_command_type", "payload_on",
		"payload_off"};
	static const char *const json_only[] = {"supported_color_modes", "brightness", "effect",
						"flash", "transition", "flash_time_short",
						"flash_time_long"};
	static const char *const template_only[] = {
		"command_on_template", "command_off_template", "state_template",
		"brightness_template", "red_template", "green_template", "blue_template",
		"color_temp_template", "effect_template"};
	struct {
		const char *schema;
		const char *const *keys;
		size_t n;
	} own[] = {{"basic", basic_only, MQB_ARRAY_SIZE(basic_only)},
		   {"json", json_only, MQB_ARRAY_SIZE(json_only)},
		   {"template", template_only, MQB_ARRAY_SIZE(template_only)}};
	for (size_t s = 0; s < MQB_ARRAY_SIZE(own); s++) {
		if (strcmp(own[s].schema, c->schema) == 0)
			continue;
		for (size_t i = 0; i < own[s].n; i++)
			if (mqb_conf_get(item, own[s].keys[i]))
				mqtt_errat(errs, item, path, own[s].keys[i],
					   "belongs to the %s light schema, not %s", own[s].schema,
					   c->schema);
	}
	if (strcmp(c->schema, "template") == 0) {
		if (!c->command_on_template)
			mqtt_errat(errs, item, path, "command_on_template",
				   "the template schema needs command_on_template");
		if (!c->command_off_template)
			mqtt_errat(errs, item, path, "command_off_template",
				   "the template schema needs command_off_template");
	}
	if (strcmp(c->schema, "json") == 0 && c->supported_color_modes) {
		bool bad;
		unsigned m = listed_modes(c, &bad);
		const char *why = bad ? "unknown colour mode (onoff, brightness, color_temp, hs, xy, "
					"rgb, rgbw, rgbww, white)"
				      : modes_invalid(m);
		if (why)
			mqtt_errat(errs, item, path, "supported_color_modes", "%s", why);
	}
}

static int light_init(struct ent *x)
{
	const T *c = x->conf;
	struct light_priv *l = x->priv;
	int rc;
	l->mode = -1;
	l->brightness = -1;
	l->kelvin = -1;
	/* HA's defaults: 2000 K to 6535 K (153 to 500 mireds) */
	l->min_k = c->min_kelvin ? c->min_kelvin
		   : c->max_mireds ? mqtt_kelvin_mired(c->max_mireds) : 2000;
	l->max_k = c->max_kelvin ? c->max_kelvin
		   : c->min_mireds ? mqtt_kelvin_mired(c->min_mireds) : 6535;
	if (!(l->effects = mqtt_strings(c->effect_list, &l->neffects)))
		return -ENOMEM;
	if (strcmp(c->schema, "json") == 0) {
		bool bad;
		l->schema = S_JSON;
		l->modes = c->supported_color_modes ? listed_modes(c, &bad) : 0;
		if (!l->modes)
			l->modes = c->brightness_on ? 1u << M_BRIGHTNESS : 1u << M_ONOFF;
		l->optimistic_mode = false;
		x->optimistic = c->com.optimistic || !c->com.state_topic;
		/* one JSON object on the state topic, read whole */
		x->reads = json_reads;
		x->nreads = MQB_ARRAY_SIZE(json_reads);
	} else if (strcmp(c->schema, "template") == 0) {
		l->schema = S_TEMPLATE;
		if (c->red_template && c->green_template && c->blue_template)
			l->modes |= 1u << M_HS;
		if (c->color_temp_template)
			l->modes |= 1u << M_COLOR_TEMP;
		if (!l->modes)
			l->modes = c->brightness_template ? 1u << M_BRIGHTNESS : 1u << M_ONOFF;
		l->optimistic_mode = true;
		x->optimistic = c->com.optimistic || !c->com.state_topic || !c->state_template;
		x->reads = template_reads;
		x->nreads = MQB_ARRAY_SIZE(template_reads);
		if ((rc = mqtt_compile(x, c->command_on_template, &l->on_tpl)) ||
		    (rc = mqtt_compile(x, c->command_off_template, &l->off_tpl)) ||
		    (rc = mqtt_compile(x, c->state_template, &l->state_tpl)) ||
		    (rc = mqtt_compile(x, c->brightness_template, &l->bright_tpl)) ||
		    (rc = mqtt_compile(x, c->red_template, &l->red_tpl)) ||
		    (rc = mqtt_compile(x, c->green_template, &l->green_tpl)) ||
		    (rc = mqtt_compile(x, c->blue_template, &l->blue_tpl)) ||
		    (rc = mqtt_compile(x, c->color_temp_template, &l->ct_tpl)) ||
		    (rc = mqtt_compile(x, c->effect_template, &l->effect_tpl)))
			return rc;
	} else {
		l->schema = S_BASIC;
		l->modes = basic_modes(c);
		l->optimistic_mode = !c->color_mode_state_topic;
		x->optimistic = c->com.optimistic || !c->com.state_topic;
		if ((rc = mqtt_compile(x, c->hs.command_template, &l->cmd[M_HS])) ||
		    (rc = mqtt_compile(x, c->rgb.command_template, &l->cmd[M_RGB])) ||
		    (rc = mqtt_compile(x, c->rgbw.command_template, &l->cmd[M_RGBW])) ||
		    (rc = mqtt_compile(x, c->rgbww.command_template, &l->cmd[M_RGBWW])) ||
		    (rc = mqtt_compile(x, c->xy.command_template, &l->cmd[M_XY])) ||
		    (rc = mqtt_compile(x, c->color_temp.command_template, &l->cmd[M_COLOR_TEMP])) ||
		    (rc = mqtt_compile(x, c->brightness.command_template, &l->brightness_cmd)) ||
		    (rc = mqtt_compile(x, c->effect.command_template, &l->effect_cmd)) ||
		    (rc = mqtt_compile(x, c->white_command_template, &l->white_cmd)))
			return rc;
	}
	l->dims = !has(l, M_ONOFF);
	return 0;
}

static void light_fini(struct ent *x)
{
	struct light_priv *l = x->priv;
	free(l->effects);
	free(l->effect);
	l->effects = NULL;
	l->effect = NULL;
}

/* What the bridge announces: the colour modes, their ranges and effects;
 * it wires the topics of each mode. */
static int light_discovery(struct ent *x, json_t *d)
{
	struct light_priv *l = x->priv;
	json_t *modes = json_array();
	for (int i = 0; modes && i < NMODES; i++)
		if (has(l, i))
			json_array_append_new(modes, json_string(mode_names[i]));
	int rc = json_object_set_new(d, "supported_color_modes", modes);
	if (has(l, M_COLOR_TEMP)) {
		rc |= json_object_set_new(d, "min_kelvin", json_integer(l->min_k));
		rc |= json_object_set_new(d, "max_kelvin", json_integer(l->max_k));
	}
	if (l->neffects)
		rc |= json_object_set_new(d, "effect_list", mqtt_json_strings(l->effects, l->neffects));
	return rc;
}

const struct mqtt_class mqtt_light = {
	.domain = "light",
	.default_name = "MQTT LightEntity",
	.check = light_check,
	.reads = light_reads,
	.nreads = MQB_ARRAY_SIZE(light_reads),
	.priv_size = sizeof(struct light_priv),
	.init = light_init,
	.fini = light_fini,
	.discovery = light_discovery,
	.attributes = light_attributes,
	.command = light_command,
};

#undef T
