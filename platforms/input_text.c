/* SPDX-License-Identifier: MIT */
/* input_text: Home Assistant's helper that holds a text for automations
 * (homeassistant/components/input_text): its length between min and max,
 * a pattern for the frontend, text or password mode; set_value; the text
 * restored when initial is not given (and its length fits); shown to Home
 * Assistant as an MQTT text with min, max, mode and pattern. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/collection.h"
#include "mqbridge/entity.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/restore.h"
#include "mqbridge/states.h"
#include "mqbridge/text.h"

#define SUB "input_text"
/* Home Assistant's MQTT text takes at most this (MAX_LENGTH_STATE_STATE). */
#define MQTT_TEXT_MAX 255

struct conf {
	const char *name, *icon, *unit, *pattern, *mode, *initial;
	int min, max;
};

static const char *const modes[] = {"text", "password", NULL};

#define K(k, t, f, ...) \
	{.key = k, .type = t, .offset = offsetof(struct conf, f), .stored = true, __VA_ARGS__}
static const struct mqb_schema_key keys[] = {
	K("name", MQB_S_STRING, name, .doc = "the friendly name"),
	K("min", MQB_S_INT, min, .def = "0", .doc = "the least length"),
	K("max", MQB_S_INT, max, .def = "100", .doc = "the greatest length"),
	K("initial", MQB_S_STRING, initial, .doc = "the text at start, over the restored one"),
	K("icon", MQB_S_STRING, icon, .doc = "an icon, mdi:name"),
	K("unit_of_measurement", MQB_S_STRING, unit, .doc = "the text's unit"),
	K("pattern", MQB_S_STRING, pattern, .doc = "a regular expression the frontend holds it to"),
	K("mode", MQB_S_ENUM, mode, .choices = modes, .def = "text", .doc = "text or password"),
};
static const struct mqb_schema schema = MQB_SCHEMA("input_text", keys);

struct text {
	struct mqb_entity *e;
	int min, max;
	char *pattern;
	const char *mode;  /* one of modes */
	char value[MQB_MAX_STATE_LEN + 1];
	bool has_value;    /* false: unknown */
	bool has_initial;
	bool carried;
};

/* len() of Python's str: code points, not bytes. */
static size_t length(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* _cv_input_text: min at most max, initial's length between them. */
static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	for (size_t i = 0; i < n; i++) {
		const struct mqb_component_entry *en = &entries[i];
		struct conf c = {0};
		if (mqb_collection_check(en, &schema, &c, errs))
			continue;
		if (c.min > c.max)
			mqb_collection_error(errs, en, "max",
					     "Max len (%d) is not greater than min len (%d)", c.max,
					     c.min);
		else if (c.initial && ((long)length(c.initial) < c.min ||
				       (long)length(c.initial) > c.max))
			mqb_collection_error(errs, en, "initial",
					     "Initial value %s length not in range %d-%d", c.initial,
					     c.min, c.max);
	}
}

static bool fits(const struct text *x, const char *v)
{
	long n = (long)length(v);
	return n >= x->min && n <= x->max;
}

static void show(struct text *x)
{
	mqb_entity_async_set_state(x->e, x->has_value ? x->value : NULL);
	mqb_entity_async_set_attributes(x->e,
					json_pack("{s:b, s:i, s:i, s:s?, s:s}", "editable", 0, "min",
						  x->min, "max", x->max, "pattern", x->pattern,
						  "mode", x->mode));
}

/* A text longer than a state can be is refused (-EINVAL). */
static int set(struct text *x, const char *v)
{
	if (strlen(v) >= sizeof x->value)
		return -EINVAL;
	strcpy(x->value, v);
	x->has_value = true;
	return 0;
}

/* async_added_to_hass: initial, else the last text if its length fits. */
static int added(struct mqb_entity *e, void *priv)
{
	struct text *x = priv;
	x->e = e;
	if (!x->has_value) {
		const char *s = mqb_restore_async_last_value(e);
		if (s && fits(x, s))
			set(x, s);
	}
	show(x);
	return mqb_restore_async_register(e, NULL, NULL);
}

/* async_set_value: a text whose length does not fit is logged and left
 * (Home Assistant neither takes it nor fails the call). */
static int command(struct mqb_entity *e, void *priv, const char *service, const json_t *data)
{
	struct text *x = priv;
	if (strcmp(service, "set_value") != 0)
		return -ENOTSUP;
	const json_t *v = json_object_get(data, "value");
	char num[MQB_NUMBER_MAX];
	const char *s = json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		s = num;
	} else if (json_is_real(v)) {
		mqb_format_double(json_real_value(v), num);
		s = num;
	}
	if (!s) {
		MQB_LOG_WARNING(SUB, "%s: set_value needs a text as value", mqb_entity_id(e));
		return -EINVAL;
	}
	if (!fits(x, s)) {
		MQB_LOG_WARNING(SUB, "Invalid value: %s (length range %d - %d)", s, x->min, x->max);
		return 0;
	}
	int rc = set(x, s);
	if (rc) {
		MQB_LOG_WARNING(SUB, "%s: a state holds at most %d bytes", mqb_entity_id(e),
				MQB_MAX_STATE_LEN);
		return rc;
	}
	show(x);
	return mqb_entity_async_write(e);
}

static const struct mqb_entity_ops ops = {.async_added = added, .async_command = command};

/* The entity of en's options; carried (async_update_config): the text as
 * it is. */
static int add(struct mqb_integration *in, void *item, const struct mqb_component_entry *en,
	       bool carried, struct mqb_entity **e)
{
	struct text *x = item;
	struct conf c = {0};
	mqb_collection_conf(en, &schema, &c);
	char *pattern = c.pattern ? strdup(c.pattern) : NULL;
	if (c.pattern && !pattern)
		return -ENOMEM;
	free(x->pattern);
	x->pattern = pattern;
	x->min = c.min;
	x->max = c.max;
	x->mode = c.mode;
	x->carried = carried;
	x->has_initial = c.initial != NULL;
	if (c.initial && !carried)
		set(x, c.initial);
	/* Home Assistant's MQTT text wants 0 <= min <= max <= 255 */
	int dmax = c.max > MQTT_TEXT_MAX ? MQTT_TEXT_MAX : c.max < 0 ? 0 : c.max;
	int dmin = c.min < 0 ? 0 : c.min > dmax ? dmax : c.min;
	json_t *d = json_pack("{s:i, s:i, s:s}", "min", dmin, "max", dmax, "mode", c.mode);
	if (d && pattern)
		json_object_set_new(d, "pattern", json_string(pattern));
	struct mqb_entity_info info = {.name = c.name, .icon = c.icon,
				       .unit_of_measurement = c.unit, .discovery = d};
	int rc = d ? mqb_collection_add_entity(in, en, &info, &ops, x, e) : -ENOMEM;
	json_decref(d);
	return rc;
}

static void text_fini(void *item)
{
	struct text *x = item;
	free(x->pattern);
}

static const struct mqb_collection_ops collection = {
	.item_size = sizeof(struct text), .async_add = add, .fini = text_fini};

MQB_COLLECTION_MODULE("input_text", collection, check);
