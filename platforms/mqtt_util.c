/* SPDX-License-Identifier: MIT */
/* The mqtt integration's pure helpers (platforms/mqtt_util.h): the parts of
 * Home Assistant's MQTT entities that are arithmetic or bookkeeping, kept
 * apart from the core so they are tested on their own. */
#include "mqtt_util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/json.h"
#include "mqbridge/text.h"

/* ---- availability ------------------------------------------------------ */

int mqtt_avail_init(struct mqtt_avail *a, enum mqtt_avail_mode mode, size_t n)
{
	a->mode = mode;
	a->n = n;
	a->latest = false;
	a->up = NULL;
	if (n && !(a->up = calloc(n, sizeof *a->up)))
		return -ENOMEM;
	return 0;
}

void mqtt_avail_fini(struct mqtt_avail *a)
{
	free(a->up);
	a->up = NULL;
	a->n = 0;
}

void mqtt_avail_set(struct mqtt_avail *a, size_t i, bool up)
{
	if (i >= a->n)
		return;
	a->up[i] = up;
	a->latest = up;
}

bool mqtt_avail_ok(const struct mqtt_avail *a)
{
	if (a->n == 0)
		return true;
	switch (a->mode) {
	case MQTT_AVAIL_ALL:
		for (size_t i = 0; i < a->n; i++)
			if (!a->up[i])
				return false;
		return true;
	case MQTT_AVAIL_ANY:
		for (size_t i = 0; i < a->n; i++)
			if (a->up[i])
				return true;
		return false;
	case MQTT_AVAIL_LATEST:
		break;
	}
	return a->latest;
}

enum mqtt_avail_mode mqtt_avail_mode_parse(const char *s)
{
	if (s && strcmp(s, "all") == 0)
		return MQTT_AVAIL_ALL;
	if (s && strcmp(s, "any") == 0)
		return MQTT_AVAIL_ANY;
	return MQTT_AVAIL_LATEST;
}

/* ---- payloads ---------------------------------------------------------- */

bool mqtt_payload_is(const char *want, const char *payload, size_t len)
{
	return want && strlen(want) == len && memcmp(want, payload, len) == 0;
}

bool mqtt_payload_has_nul(const char *payload, size_t len)
{
	return len && memchr(payload, '\0', len) != NULL;
}

bool mqtt_parse_number(const char *s, size_t len, double *out)
{
	/* float() takes white space around the number */
	size_t n = len;
	const char *t = mqb_strip_bytes(s, &n);
	size_t b = (size_t)(t - s), e = b + n;
	size_t i = b, digits = 0;
	if (i < e && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < e && isdigit((unsigned char)s[i]))
		i++, digits++;
	if (i < e && s[i] == '.') {
		i++;
		while (i < e && isdigit((unsigned char)s[i]))
			i++, digits++;
	}
	if (digits == 0)
		return false;
	if (i < e && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < e && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t d = i;
		while (i < e && isdigit((unsigned char)s[i]))
			i++;
		if (i == d)
			return false;
	}
	if (i != e || e - b >= 64)
		return false;
	char buf[64];
	memcpy(buf, s + b, e - b);
	buf[e - b] = '\0';
	double v = strtod(buf, NULL);
	if (!isfinite(v))
		return false;
	*out = v;
	return true;
}

/* ---- scaling ----------------------------------------------------------- */

int mqtt_brightness_from_device(double v, int scale)
{
	if (!(v > 0) || scale <= 0)
		return -1;
	double b = mqb_round(v / scale * 255, 0);
	return b > 255 ? 255 : b < 0 ? 0 : (int)b;
}

int mqtt_brightness_to_device(int b255, int scale)
{
	double d = mqb_round((double)b255 / 255 * scale, 0);
	if (d > scale)
		d = scale;
	if (d < 1)
		d = 1;
	return (int)d;
}

int mqtt_position_percent(double v, int closed, int open)
{
	/* ranged_value_to_percentage((closed + 1, open), v):
	 * (v - closed) * 100 // (open - closed) */
	if (open == closed)
		return v >= open ? 100 : 0;
	double p = floor((v - closed) * 100 / (open - closed));
	return p < 0 ? 0 : p > 100 ? 100 : (int)p;
}

int mqtt_position_device(int percent, int closed, int open)
{
	return (int)mqb_round((double)(open - closed) * percent / 100 + closed, 0);
}

/* ---- colours ------------------------------------------------------------ */

/* Python's colorsys.hsv_to_rgb. */
static void hsv_to_rgb(double h, double s, double v, double out[3])
{
	if (s == 0.0) {
		out[0] = out[1] = out[2] = v;
		return;
	}
	double i = floor(h * 6.0);
	double f = h * 6.0 - i;
	double p = v * (1.0 - s), q = v * (1.0 - s * f), t = v * (1.0 - s * (1.0 - f));
	switch ((int)fmod(i, 6.0)) {
	case 0: out[0] = v, out[1] = t, out[2] = p; break;
	case 1: out[0] = q, out[1] = v, out[2] = p; break;
	case 2: out[0] = p, out[1] = v, out[2] = t; break;
	case 3: out[0] = p, out[1] = q, out[2] = v; break;
	case 4: out[0] = t, out[1] = p, out[2] = v; break;
	default: out[0] = v, out[1] = p, out[2] = q; break;
	}
}

void mqtt_hs_to_rgb(double h, double s, int rgb[3])
{
	double f[3];
	hsv_to_rgb(h / 360, s / 100, 1.0, f);
	/* color_hsv_to_RGB truncates */
	for (int i = 0; i < 3; i++)
		rgb[i] = (int)(f[i] * 255);
}

void mqtt_rgb_to_hs(double r, double g, double b, double hs[2])
{
	/* colorsys.rgb_to_hsv */
	r /= 255, g /= 255, b /= 255;
	double maxc = fmax(r, fmax(g, b)), minc = fmin(r, fmin(g, b)), h = 0, s = 0;
	if (maxc != minc) {
		double d = maxc - minc;
		s = d / maxc;
		double rc = (maxc - r) / d, gc = (maxc - g) / d, bc = (maxc - b) / d;
		if (r == maxc)
			h = bc - gc;
		else if (g == maxc)
			h = 2.0 + rc - bc;
		else
			h = 4.0 + gc - rc;
		h = fmod(h / 6.0, 1.0);
		if (h < 0)
			h += 1.0;
	}
	hs[0] = mqb_round(h * 360, 3);
	hs[1] = mqb_round(s * 100, 3);
}

static double gamma_in(double c)
{
	return c > 0.04045 ? pow((c + 0.055) / (1.0 + 0.055), 2.4) : c / 12.92;
}

void mqtt_rgb_to_xy(int ir, int ig, int ib, double xy[2])
{
	xy[0] = xy[1] = 0;
	if (ir + ig + ib == 0)
		return;
	double r = gamma_in(ir / 255.0), g = gamma_in(ig / 255.0), b = gamma_in(ib / 255.0);
	double X = r * 0.664511 + g * 0.154324 + b * 0.162028;
	double Y = r * 0.283881 + g * 0.668433 + b * 0.047685;
	double Z = r * 0.000088 + g * 0.072310 + b * 0.986039;
	xy[0] = mqb_round(X / (X + Y + Z), 3);
	xy[1] = mqb_round(Y / (X + Y + Z), 3);
}

void mqtt_xy_to_rgb(double x, double y, int rgb[3])
{
	double Y = 1.0;
	if (y == 0.0)
		y += 0.00000000001;
	double X = (Y / y) * x, Z = (Y / y) * (1 - x - y);
	double c[3] = {X * 1.656492 - Y * 0.354851 - Z * 0.255038,
		       -X * 0.707196 + Y * 1.655397 + Z * 0.036152,
		       X * 0.051713 - Y * 0.121364 + Z * 1.011530};
	double mx = 0;
	for (int i = 0; i < 3; i++) {
		c[i] = c[i] <= 0.0031308 ? 12.92 * c[i] : (1.0 + 0.055) * pow(c[i], 1.0 / 2.4) - 0.055;
		if (c[i] < 0)
			c[i] = 0;
		if (c[i] > mx)
			mx = c[i];
	}
	for (int i = 0; i < 3; i++)
		rgb[i] = (int)((mx > 1 ? c[i] / mx : c[i]) * 255);
}

void mqtt_rgbw_to_rgb(const int rgbw[4], int rgb[3])
{
	/* match_max_scale((r, g, b, w), (r + w, g + w, b + w)) */
	int in = 0, out = 0, o[3];
	for (int i = 0; i < 4; i++)
		in = rgbw[i] > in ? rgbw[i] : in;
	for (int i = 0; i < 3; i++) {
		o[i] = rgbw[i] + rgbw[3];
		out = o[i] > out ? o[i] : out;
	}
	double factor = out ? (double)in / out : 0;
	for (int i = 0; i < 3; i++)
		rgb[i] = (int)mqb_round(o[i] * factor, 0);
}

static double clamp255(double v)
{
	return v < 0 ? 0 : v > 255 ? 255 : v;
}

void mqtt_kelvin_to_rgb(double kelvin, double rgb[3])
{
	double t = (kelvin < 1000 ? 1000 : kelvin > 40000 ? 40000 : kelvin) / 100.0;
	rgb[0] = t <= 66 ? 255 : clamp255(329.698727446 * pow(t - 60, -0.1332047592));
	rgb[1] = clamp255(t <= 66 ? 99.4708025861 * log(t) - 161.1195681661
				  : 288.1221695283 * pow(t - 60, -0.0755148492));
	rgb[2] = t >= 66 ? 255 : t <= 19 ? 0 : clamp255(138.5177312231 * log(t - 10) - 305.0447927307);
}

int mqtt_kelvin_mired(double v)
{
	return v > 0 ? (int)floor(1000000 / v) : 0;
}

/* ---- JSON out --------------------------------------------------------- */

struct jbuf {
	char *s;
	size_t n, cap;
	bool oom;
};

static void put(struct jbuf *b, const char *t, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 64) + n;
		char *s = realloc(b->s, cap);
		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->n, t, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void put_json(struct jbuf *b, const json_t *j)
{
	char num[MQB_FLOAT_REPR_MAX];
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *v;
		bool first = true;
		put(b, "{", 1);
		json_object_foreach((json_t *)j, k, v) {
			json_t *key = json_string(k);
			if (!first)
				put(b, ",", 1);
			first = false;
			put_json(b, key);
			json_decref(key);
			put(b, ":", 1);
			put_json(b, v);
		}
		put(b, "}", 1);
		return;
	}
	case JSON_ARRAY: {
		put(b, "[", 1);
		for (size_t i = 0; i < json_array_size(j); i++) {
			if (i)
				put(b, ",", 1);
			put_json(b, json_array_get(j, i));
		}
		put(b, "]", 1);
		return;
	}
	case JSON_REAL: {
		size_t n = mqb_format_double(json_real_value(j), num);
		put(b, num, n);
		return;
	}
	default: {
		char *s = mqb_json_dumps(j, MQB_JSON_COMPACT);
		if (!s) {
			b->oom = true;
			return;
		}
		put(b, s, strlen(s));
		free(s);
	}
	}
}

char *mqtt_json_text(const json_t *j)
{
	struct jbuf b = {0};
	put_json(&b, j);
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/* ---- attributes -------------------------------------------------------- */

/* MQTT_ATTRIBUTES_BLOCKED in Home Assistant's mqtt/const.py: what a
 * device may not set through json_attributes_topic. */
static const char *const blocked[] = {
	"assumed_state", "available", "device_class", "entity_category", "entity_picture",
	"entity_registry_enabled_default", "extra_state_attributes", "force_update",
	"friendly_name", "icon", "should_poll", "state", "supported_features", "unique_id",
	"unit_of_measurement",
	/* and what the bridge writes itself */
	"state_class", NULL,
};

int mqtt_json_attributes(const char *payload, size_t len, json_t **out, char *err,
			 size_t errlen)
{
	json_error_t je;
	*out = NULL;
	json_t *j = json_loadb(payload, len, JSON_DECODE_ANY, &je);
	if (!j) {
		snprintf(err, errlen, "not JSON: %s (at byte %d)", je.text, je.position);
		return -EINVAL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(err, errlen, "the JSON is not an object");
		return -EINVAL;
	}
	for (size_t i = 0; blocked[i]; i++)
		json_object_del(j, blocked[i]);
	*out = j;
	return 0;
}

