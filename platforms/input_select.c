/* SPDX-License-Identifier: MIT */
/* input_select: Home Assistant's helper that holds one of a list of
 * options (homeassistant/components/input_select, with the select
 * entity's services): select_option, select_next and select_previous
 * (cycling unless told not to), select_first, select_last, set_options;
 * the option restored when initial is not given (and it is still one);
 * shown to Home Assistant as an MQTT select with its options. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/collection.h"
#include "mqbridge/entity.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/restore.h"
#include "mqbridge/states.h"

#define SUB "input_select"

struct conf {
	const char *name, *icon, *initial;
	const struct mqb_conf_node *options;
};

static const struct mqb_schema_key option_keys[] = {
	{.key = "option", .type = MQB_S_STRING},
};
static const struct mqb_schema option_schema = MQB_SCHEMA("option", option_keys);

#define K(k, t, f, ...) \
	{.key = k, .type = t, .offset = offsetof(struct conf, f), .stored = true, __VA_ARGS__}
static const struct mqb_schema_key keys[] = {
	K("name", MQB_S_STRING, name, .doc = "the friendly name"),
	K("options", MQB_S_LIST, options, .required = true, .sub = &option_schema,
	  .doc = "the options, at least one"),
	K("initial", MQB_S_STRING, initial, .doc = "the option at start, over the restored one"),
	K("icon", MQB_S_STRING, icon, .doc = "an icon, mdi:name"),
};
static const struct mqb_schema schema = MQB_SCHEMA("input_select", keys);

struct select {
	struct mqb_integration *in;
	struct mqb_entity *e;
	json_t *options;         /* array of strings, without duplicates */
	char current[MQB_MAX_STATE_LEN + 1];
	bool has_current;
	bool has_initial;
	bool carried;
	bool own_options;        /* set_options gave them: a re-add keeps them */
};

/* The options as cv.ensure_list and [cv.string] read them, in order. */
static json_t *options_of(const struct mqb_conf_node *n)
{
	json_t *a = json_array();
	if (!a || !n)
		return a;
	if (mqb_conf_kind(n) != MQB_CONF_SEQ) {
		json_array_append_new(a, json_string(mqb_conf_scalar(n, NULL)));
		return a;
	}
	for (size_t i = 0; i < mqb_conf_len(n); i++)
		json_array_append_new(a, json_string(mqb_conf_scalar(mqb_conf_item(n, i), NULL)));
	return a;
}

static bool has(const json_t *options, const char *o)
{
	size_t i;
	const json_t *v;
	json_array_foreach(options, i, v)
		if (o && strcmp(json_string_value(v), o) == 0)
			return true;
	return false;
}

/* dict.fromkeys: the first of each, in order. */
static json_t *unique(const json_t *options)
{
	json_t *u = json_array();
	size_t i;
	const json_t *v;
	json_array_foreach(options, i, v)
		if (!has(u, json_string_value(v)))
			json_array_append(u, (json_t *)v);
	return u;
}

static char *joined(const json_t *options, const char *sep)
{
	size_t len = 1, i;
	const json_t *v;
	json_array_foreach(options, i, v)
		len += json_string_length(v) + strlen(sep);
	char *s = calloc(1, len);
	json_array_foreach(options, i, v) {
		if (s && i)
			strcat(s, sep);
		if (s)
			strcat(s, json_string_value(v));
	}
	return s;
}

/* _cv_input_select: at least one option, initial one of them. */
static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	for (size_t i = 0; i < n; i++) {
		const struct mqb_component_entry *en = &entries[i];
		struct conf c = {0};
		if (mqb_collection_check(en, &schema, &c, errs))
			continue;
		json_t *o = options_of(c.options);
		if (json_array_size(o) == 0) {
			mqb_collection_error(errs, en, "options", "length of value must be at least 1");
		} else if (c.initial && !has(o, c.initial)) {
			char *all = joined(o, ",");
			mqb_collection_error(errs, en, "initial",
					     "initial state %s is not part of the options: %s",
					     c.initial, all ? all : "");
			free(all);
		}
		json_decref(o);
	}
}

static void show(struct select *x)
{
	mqb_entity_async_set_state(x->e, x->has_current ? x->current : NULL);
	mqb_entity_async_set_attributes(x->e, json_pack("{s:O, s:b}", "options", x->options,
							"editable", 0));
}

/* An option longer than a state can be is refused (-EINVAL). */
static int set_current(struct select *x, const char *o)
{
	if (strlen(o) >= sizeof x->current)
		return -EINVAL;
	strcpy(x->current, o);
	x->has_current = true;
	return 0;
}

/* async_added_to_hass: initial, else the last option if still one,
 * else the first. */
static int added(struct mqb_entity *e, void *priv)
{
	struct select *x = priv;
	x->e = e;
	if (!x->has_current) {
		const char *s = mqb_restore_async_last_value(e);
		int rc = set_current(x, has(x->options, s) ? s
					: json_string_value(json_array_get(x->options, 0)));
		if (rc)
			return rc;
	}
	show(x);
	return mqb_restore_async_register(e, NULL, NULL);
}

static int write(struct select *x)
{
	show(x);
	return mqb_entity_async_write(x->e);
}

/* _async_offset_index: from the current option's place, cycling or
 * stopping at either end. */
static int offset(struct select *x, int by, const json_t *data)
{
	const json_t *cycle = json_object_get(data, "cycle");
	if (cycle && !json_is_boolean(cycle)) {
		MQB_LOG_WARNING(SUB, "%s: cycle must be a boolean", mqb_entity_id(x->e));
		return -EINVAL;
	}
	long n = (long)json_array_size(x->options), i = 0;
	for (long k = 0; k < n; k++)
		if (strcmp(json_string_value(json_array_get(x->options, (size_t)k)), x->current) == 0)
			i = k;
	i += by;
	if (!cycle || json_is_true(cycle))
		i = ((i % n) + n) % n;
	else
		i = i < 0 ? 0 : i >= n ? n - 1 : i;
	int rc = set_current(x, json_string_value(json_array_get(x->options, (size_t)i)));
	return rc ? rc : write(x);
}

/* async_set_options: no duplicates; the current option kept if still
 * one, else the first. Home Assistant's MQTT select knows its options
 * from discovery: the entity is announced again with them. */
static int set_options(struct select *x, const json_t *data)
{
	const json_t *v = json_object_get(data, "options");
	json_t *o = json_is_string(v) ? json_pack("[O]", v) : json_incref((json_t *)v);
	size_t i;
	json_t *s;
	bool ok = json_is_array(o) && json_array_size(o) > 0;
	json_array_foreach(o, i, s)
		ok &= json_is_string(s);
	if (!ok) {
		MQB_LOG_WARNING(SUB, "%s: set_options needs a list of one or more options",
				mqb_entity_id(x->e));
		json_decref(o);
		return -EINVAL;
	}
	json_t *u = unique(o);
	if (json_array_size(u) != json_array_size(o)) {
		char *all = joined(o, "', '");
		MQB_LOG_WARNING(SUB, "Duplicated options: ['%s']", all ? all : "");
		free(all);
		json_decref(u);
		json_decref(o);
		return -EINVAL;
	}
	json_decref(u);
	json_decref(x->options);
	x->options = o;
	if (!has(o, x->current)) {
		char *all = joined(o, ", ");
		MQB_LOG_WARNING(SUB, "Current option: %s no longer valid (possible options: %s)",
				x->current, all ? all : "");
		free(all);
		int rc = set_current(x, json_string_value(json_array_get(o, 0)));
		if (rc)
			return rc;
	}
	/* Home Assistant's MQTT select knows the options from discovery */
	x->own_options = true;
	int rc = mqb_collection_async_readd(x->in, x);
	x->own_options = false;
	return rc;
}

static int command(struct mqb_entity *e, void *priv, const char *service, const json_t *data)
{
	struct select *x = priv;
	if (strcmp(service, "select_option") == 0) {
		const char *o = json_string_value(json_object_get(data, "option"));
		if (!has(x->options, o)) {
			char *all = joined(x->options, ", ");
			MQB_LOG_WARNING(SUB, "Invalid option: %s (possible options: %s)",
					o ? o : "(none)", all ? all : "");
			free(all);
			return -EINVAL;
		}
		int rc = set_current(x, o);
		return rc ? rc : write(x);
	}
	if (strcmp(service, "select_next") == 0)
		return offset(x, 1, data);
	if (strcmp(service, "select_previous") == 0)
		return offset(x, -1, data);
	if (strcmp(service, "select_first") == 0 || strcmp(service, "select_last") == 0) {
		size_t i = service[7] == 'f' ? 0 : json_array_size(x->options) - 1;
		int rc = set_current(x, json_string_value(json_array_get(x->options, i)));
		return rc ? rc : write(x);
	}
	if (strcmp(service, "set_options") == 0)
		return set_options(x, data);
	(void)e;
	return -ENOTSUP;
}

static const struct mqb_entity_ops ops = {.async_added = added, .async_command = command};

/* The options of en without duplicates (Home Assistant's
 * _remove_duplicates warns of them). NULL on ENOMEM. */
static json_t *options_conf(const struct conf *c)
{
	json_t *o = options_of(c->options), *u = o ? unique(o) : NULL;
	if (u && json_array_size(u) != json_array_size(o)) {
		char *all = joined(o, "', '");
		MQB_LOG_WARNING(SUB, "Input select '%s' with options ['%s'] had duplicated options, "
				"the duplicates have been removed", c->name ? c->name : "<unnamed>",
				all ? all : "");
		free(all);
	}
	json_decref(o);
	return u;
}

/* The entity of en's options. Carried: after a change of options
 * (async_update_config) the option stays as it is, even one no longer
 * among them, as in Home Assistant; after set_options, its options. */
static int add(struct mqb_integration *in, void *item, const struct mqb_component_entry *en,
	       bool carried, struct mqb_entity **e)
{
	struct select *x = item;
	struct conf c = {0};
	mqb_collection_conf(en, &schema, &c);
	x->in = in;
	x->carried = carried;
	x->has_initial = c.initial != NULL;
	if (!x->own_options) {
		json_t *u = options_conf(&c);
		if (!u)
			return -ENOMEM;
		json_decref(x->options);
		x->options = u;
	}
	if (c.initial && !carried)
		set_current(x, c.initial);
	json_t *d = json_pack("{s:O}", "options", x->options);
	struct mqb_entity_info info = {.name = c.name, .icon = c.icon,
				       .discovery = d};
	int rc = d ? mqb_collection_add_entity(in, en, &info, &ops, x, e) : -ENOMEM;
	json_decref(d);
	return rc;
}

static void select_fini(void *item)
{
	json_decref(((struct select *)item)->options);
}

static const struct mqb_collection_ops collection = {
	.item_size = sizeof(struct select), .async_add = add, .fini = select_fini};

MQB_COLLECTION_MODULE("input_select", collection, check);
