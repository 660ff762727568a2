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

