/* SPDX-License-Identifier: MIT */
/* counter: Home Assistant's helper that counts for automations
 * (homeassistant/components/counter): initial, step, minimum, maximum;
 * increment, decrement, reset and set_value, every value kept within
 * minimum and maximum; restored at start unless restore is false; shown
 * to Home Assistant as an MQTT sensor. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/collection.h"
#include "mqbridge/entity.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/restore.h"

#define SUB "counter"

struct conf {
	const char *name, *icon;
	int initial, minimum, maximum;
	unsigned step;
	bool restore;
};

#define K(k, t, f, ...) \
	{.key = k, .type = t, .offset = offsetof(struct conf, f), .stored = true, __VA_ARGS__}
static const struct mqb_schema_key keys[] = {
	K("name", MQB_S_STRING, name, .doc = "the friendly name"),
	K("icon", MQB_S_STRING, icon, .doc = "an icon, mdi:name"),
	K("initial", MQB_S_INT, initial, .def = "0", .doc = "the value at start and after reset"),
	K("minimum", MQB_S_INT, minimum, .doc = "the least value (default: none)"),
	K("maximum", MQB_S_INT, maximum, .doc = "the greatest value (default: none)"),
	K("restore", MQB_S_BOOL, restore, .def = "true",
	  .doc = "take the value the counter had before a restart"),
	K("step", MQB_S_UINT, step, .def = "1", .doc = "what increment and decrement add"),
};
static const struct mqb_schema schema = MQB_SCHEMA("counter", keys);

struct counter {
	struct mqb_entity *e;
	struct conf c;
	bool has_min, has_max;
	long long value;
	bool carried;
};

static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	for (size_t i = 0; i < n; i++)
		mqb_collection_check(&entries[i], &schema, NULL, errs);
}

/* compute_next_state: kept within minimum and maximum. */
static long long within(const struct counter *x, long long v)
{
	if (x->has_min && v < x->c.minimum)
		v = x->c.minimum;
	if (x->has_max && v > x->c.maximum)
		v = x->c.maximum;
	return v;
}

static void show(struct counter *x)
{
	char v[32];
	snprintf(v, sizeof v, "%lld", x->value);
	mqb_entity_async_set_state(x->e, v);
	json_t *a = json_pack("{s:b, s:i, s:I}", "editable", 0, "initial", x->c.initial, "step",
			      (json_int_t)x->c.step);
	if (a && x->has_min)
		json_object_set_new(a, "minimum", json_integer(x->c.minimum));
	if (a && x->has_max)
		json_object_set_new(a, "maximum", json_integer(x->c.maximum));
	mqb_entity_async_set_attributes(x->e, a);
}

/* async_added_to_hass: with restore, the last value within the range. */
static int added(struct mqb_entity *e, void *priv)
{
	struct counter *x = priv;
	x->e = e;
	const char *s = mqb_restore_async_last_value(e);
	if (!x->carried && x->c.restore && s) {
		char *end;
		long long v = strtoll(s, &end, 10);
		if (end != s && !*end)
			x->value = within(x, v);
		else
			MQB_LOG_WARNING(SUB, "%s: the last state '%s' is not a count: starting at %d",
					mqb_entity_id(e), s, x->c.initial);
	}
	show(x);
	return mqb_restore_async_register(e, NULL, NULL);
}

/* vol.Coerce(int): an integer, a float (cut), or text of an integer. */
static bool coerce_int(const json_t *v, long long *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_real(v) && isfinite(json_real_value(v)) && fabs(json_real_value(v)) < 9e18) {
		*out = (long long)json_real_value(v);
		return true;
	}
	const char *s = json_string_value(v);
	char *end;
	if (!s)
		return false;
	*out = strtoll(s, &end, 10);
	return end != s && !*end;
}

/* async_set_value: refused outside the range or off the step. */
static int set_value(struct counter *x, const json_t *data)
{
	const char *id = mqb_entity_id(x->e);
	long long v;
	if (!coerce_int(json_object_get(data, "value"), &v)) {
		MQB_LOG_WARNING(SUB, "%s: expected int for dictionary value @ data['value']", id);
		return -EINVAL;
	}
	if (x->has_max && v > x->c.maximum) {
		MQB_LOG_WARNING(SUB, "Value %lld for %s exceeding the maximum value of %d", v, id,
				x->c.maximum);
		return -EINVAL;
	}
	if (x->has_min && v < x->c.minimum) {
		MQB_LOG_WARNING(SUB, "Value %lld for %s exceeding the minimum value of %d", v, id,
				x->c.minimum);
		return -EINVAL;
	}
	if (x->c.step == 0 || v % (long long)x->c.step != 0) {
		MQB_LOG_WARNING(SUB, "Value %lld for %s is not a multiple of the step size %u", v, id,
				x->c.step);
		return -EINVAL;
	}
	x->value = v;
	show(x);
	return mqb_entity_async_write(x->e);
}

static int command(struct mqb_entity *e, void *priv, const char *service, const json_t *data)
{
	struct counter *x = priv;
	if (strcmp(service, "set_value") == 0)
		return set_value(x, data);
	if (strcmp(service, "increment") == 0)
		x->value = within(x, x->value + x->c.step);
	else if (strcmp(service, "decrement") == 0)
		x->value = within(x, x->value - x->c.step);
	else if (strcmp(service, "reset") == 0)
		x->value = within(x, x->c.initial);
	else
		return -ENOTSUP;
	show(x);
	return mqb_entity_async_write(e);
}

static const struct mqb_entity_ops ops = {.async_added = added, .async_command = command};

/* The entity of en's options: a new counter at initial, as given; one
 * carried over a change of options (async_update_config) keeps its
 * value within the new range. */
static int add(struct mqb_integration *in, void *item, const struct mqb_component_entry *en,
	       bool carried, struct mqb_entity **e)
{
	struct counter *x = item;
	struct conf c = {0};
	mqb_collection_conf(en, &schema, &c);
	x->c = c;
	x->carried = carried;
	x->has_min = mqb_conf_kind(mqb_conf_get(en->node, "minimum")) == MQB_CONF_SCALAR;
	x->has_max = mqb_conf_kind(mqb_conf_get(en->node, "maximum")) == MQB_CONF_SCALAR;
	x->value = carried ? within(x, x->value) : c.initial;
	struct mqb_entity_info info = {.name = c.name, .icon = c.icon};
	return mqb_collection_add_entity(in, en, &info, &ops, x, e);
}

static const struct mqb_collection_ops collection = {.item_size = sizeof(struct counter),
						      .async_add = add};

MQB_COLLECTION_MODULE("counter", collection, check);
