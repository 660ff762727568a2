/* SPDX-License-Identifier: MIT */
/* input_number: Home Assistant's helper that holds a number between min
 * and max for automations (homeassistant/components/input_number):
 * slider or box, step and unit; set_value, increment and decrement; the
 * value restored when initial is not given (and it is in range); shown to
 * Home Assistant as an MQTT number with its min, max, step and mode. */
#include <errno.h>
#include <float.h>
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
#include "mqbridge/text.h"

#define SUB "input_number"

struct conf {
	const char *name, *icon, *unit, *mode;
	double min, max, initial, step;
};

static const char *const modes[] = {"box", "slider", NULL};

#define K(k, t, f, ...) \
	{.key = k, .type = t, .offset = offsetof(struct conf, f), .stored = true, __VA_ARGS__}
static const struct mqb_schema_key keys[] = {
	K("name", MQB_S_STRING, name, .doc = "the friendly name"),
	K("min", MQB_S_FLOAT, min, .required = true, .doc = "the least value"),
	K("max", MQB_S_FLOAT, max, .required = true, .doc = "the greatest value"),
	K("initial", MQB_S_FLOAT, initial, .doc = "the value at start, over the restored one"),
	K("step", MQB_S_FLOAT, step, .def = "1", .min = 1e-9, .max = DBL_MAX,
	  .doc = "what increment and decrement add, and the slider's step"),
	K("icon", MQB_S_STRING, icon, .doc = "an icon, mdi:name"),
	K("unit_of_measurement", MQB_S_STRING, unit, .doc = "the value's unit"),
	K("mode", MQB_S_ENUM, mode, .choices = modes, .def = "slider",
	  .doc = "slider or box, as the frontend shows it"),
};
static const struct mqb_schema schema = MQB_SCHEMA("input_number", keys);

struct number {
	struct mqb_entity *e;
	struct conf c;
	const char *mode;  /* one of modes */
	bool has_initial;
	bool has_value;
	double value;
	bool carried;
};

/* Python's str() of a float, as Home Assistant writes every number here. */
static const char *repr(double v, char buf[MQB_FLOAT_REPR_MAX])
{
	mqb_format_double(v, buf);
	return buf;
}

/* _cv_input_number: min below max, initial between them. */
static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	for (size_t i = 0; i < n; i++) {
		const struct mqb_component_entry *en = &entries[i];
		struct conf c = {0};
		if (mqb_collection_check(en, &schema, &c, errs))
			continue;
		char a[MQB_FLOAT_REPR_MAX], b[MQB_FLOAT_REPR_MAX], v[MQB_FLOAT_REPR_MAX];
		bool initial = mqb_conf_get(en->node, "initial") != NULL;
		if (c.min >= c.max)
			mqb_collection_error(errs, en, "max",
					     "Maximum (%s) is not greater than minimum (%s)",
					     repr(c.max, a), repr(c.min, b));
		else if (initial && (c.initial < c.min || c.initial > c.max))
			mqb_collection_error(errs, en, "initial", "Initial value %s not in range %s-%s",
					     repr(c.initial, v), repr(c.min, a), repr(c.max, b));
	}
}

static void show(struct number *x)
{
	char v[MQB_FLOAT_REPR_MAX];
	mqb_entity_async_set_state(x->e, x->has_value ? repr(x->value, v) : NULL);
	json_t *a = json_object();
	json_object_set_new(a, "initial", x->has_initial ? json_real(x->c.initial) : json_null());
	json_object_set_new(a, "editable", json_false());
	json_object_set_new(a, "min", json_real(x->c.min));
	json_object_set_new(a, "max", json_real(x->c.max));
	json_object_set_new(a, "step", json_real(x->c.step));
	json_object_set_new(a, "mode", json_string(x->mode));
	mqb_entity_async_set_attributes(x->e, a);
}

/* async_added_to_hass: initial, else the last value if it is a number in
 * range, else min. */
static int added(struct mqb_entity *e, void *priv)
{
	struct number *x = priv;
	x->e = e;
	if (!x->has_value) {
		const char *s = mqb_restore_async_last_value(e);
		char *end;
		double v = s ? strtod(s, &end) : NAN;
		bool number = s && end != s && !*end;
		x->value = number && x->c.min <= v && v <= x->c.max ? v : x->c.min;
		x->has_value = true;
	}
	show(x);
	return mqb_restore_async_register(e, NULL, NULL);
}

/* vol.Coerce(float): a number, or text that reads as one. */
static bool coerce_float(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return true;
	}
	const char *s = json_string_value(v);
	char *end;
	if (!s)
		return false;
	*out = strtod(s, &end);
	return end != s && !*end;
}

/* The digits after the point of a number as Python writes it. */
static int decimals(double v)
{
	char buf[MQB_FLOAT_REPR_MAX];
	mqb_format_double(v, buf);
	const char *dot = strchr(buf, '.'), *e = strchr(buf, 'e');
	int n = dot ? (int)((e ? e : buf + strlen(buf)) - dot - 1) : 0;
	if (e)
		n -= atoi(e + 1);
	return n < 0 ? 0 : n > 15 ? 15 : n;
}

/* value + by without the float's error (test_rounding: 2.4 + 1.2 is 3.6):
 * rounded to the digits the value and the step are written with. */
static double stepped(const struct number *x, double by)
{
	int a = decimals(x->value), b = decimals(by);
	return mqb_round(x->value + by, a > b ? a : b);
}

static int set_value(struct number *x, double v)
{
	char a[MQB_FLOAT_REPR_MAX], b[MQB_FLOAT_REPR_MAX], c[MQB_FLOAT_REPR_MAX];
	if (v < x->c.min || v > x->c.max || isnan(v)) {
		MQB_LOG_WARNING(SUB, "Invalid value for %s: %s (range %s - %s)", mqb_entity_id(x->e),
				repr(v, a), repr(x->c.min, b), repr(x->c.max, c));
		return -EINVAL;
	}
	x->value = v;
	show(x);
	return mqb_entity_async_write(x->e);
}

static int command(struct mqb_entity *e, void *priv, const char *service, const json_t *data)
{
	struct number *x = priv;
	if (strcmp(service, "set_value") == 0) {
		double v;
		if (!coerce_float(json_object_get(data, "value"), &v)) {
			MQB_LOG_WARNING(SUB, "%s: set_value needs a number as value",
					mqb_entity_id(e));
			return -EINVAL;
		}
		return set_value(x, v);
	}
	if (strcmp(service, "increment") == 0)
		return set_value(x, fmin(stepped(x, x->c.step), x->c.max));
	if (strcmp(service, "decrement") == 0)
		return set_value(x, fmax(stepped(x, -x->c.step), x->c.min));
	return -ENOTSUP;
}

static const struct mqb_entity_ops ops = {.async_added = added, .async_command = command};

/* The entity of en's options; carried (async_update_config): the value
 * kept within the new range. */
static int add(struct mqb_integration *in, void *item, const struct mqb_component_entry *en,
	       bool carried, struct mqb_entity **e)
{
	struct number *x = item;
	struct conf c = {0};
	mqb_collection_conf(en, &schema, &c);
	x->c = c;
	/* the document's, gone with a reload: the entity keeps copies */
	x->c.name = x->c.icon = x->c.unit = NULL;
	x->mode = c.mode;
	x->carried = carried;
	x->has_initial = mqb_conf_get(en->node, "initial") != NULL;
	if (!carried) {
		x->has_value = x->has_initial;
		x->value = c.initial;
	} else if (x->has_value) {
		x->value = fmax(fmin(x->value, c.max), c.min);
	}
	json_t *d = json_pack("{s:f, s:f, s:f, s:s}", "min", c.min, "max", c.max, "step", c.step,
			      "mode", c.mode);
	struct mqb_entity_info info = {.name = c.name, .icon = c.icon,
				       .unit_of_measurement = c.unit, .discovery = d};
	int rc = d ? mqb_collection_add_entity(in, en, &info, &ops, x, e) : -ENOMEM;
	json_decref(d);
	return rc;
}

static const struct mqb_collection_ops collection = {.item_size = sizeof(struct number),
						      .async_add = add};

MQB_COLLECTION_MODULE("input_number", collection, check);
