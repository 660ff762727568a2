/* SPDX-License-Identifier: MIT */
/* input_boolean: Home Assistant's helper that holds on or off for
 * automations (homeassistant/components/input_boolean): options name,
 * initial and icon; turn_on, turn_off and toggle; its state restored
 * unless initial is given; shown to Home Assistant as an MQTT switch. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/collection.h"
#include "mqbridge/entity.h"
#include "mqbridge/platform.h"
#include "mqbridge/restore.h"

struct conf {
	const char *name, *icon;
	bool initial;
};

static const struct mqb_schema_key keys[] = {
	{.key = "name", .type = MQB_S_STRING, .offset = offsetof(struct conf, name), .stored = true,
	 .doc = "the friendly name"},
	{.key = "initial", .type = MQB_S_BOOL, .offset = offsetof(struct conf, initial),
	 .stored = true, .doc = "the state at start, over the restored one"},
	{.key = "icon", .type = MQB_S_STRING, .offset = offsetof(struct conf, icon), .stored = true,
	 .doc = "an icon, mdi:name"},
};
static const struct mqb_schema schema = MQB_SCHEMA("input_boolean", keys);

struct boolean {
	struct mqb_entity *e;
	bool on;
	bool has_initial;
	bool carried; /* re-added after a change: keeps its state */
};

static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	for (size_t i = 0; i < n; i++)
		mqb_collection_check(&entries[i], &schema, NULL, errs);
}

static void show(struct boolean *b)
{
	mqb_entity_async_set_state(b->e, b->on ? "on" : "off");
	mqb_entity_async_set_attributes(b->e, json_pack("{sb}", "editable", 0));
}

/* Home Assistant's async_added_to_hass: the last state, unless initial
 * was given. */
static int added(struct mqb_entity *e, void *priv)
{
	struct boolean *b = priv;
	b->e = e;
	if (!b->has_initial && !b->carried) {
		const char *s = mqb_restore_async_last_value(e);
		b->on = s && strcmp(s, "on") == 0;
	}
	show(b);
	return mqb_restore_async_register(e, NULL, NULL);
}

/* turn_on, turn_off, toggle (ToggleEntity's: the opposite of now). */
static int command(struct mqb_entity *e, void *priv, const char *service, const json_t *data)
{
	(void)e;
	(void)data;
	struct boolean *b = priv;
	if (strcmp(service, "turn_on") == 0)
		b->on = true;
	else if (strcmp(service, "turn_off") == 0)
		b->on = false;
	else if (strcmp(service, "toggle") == 0)
		b->on = !b->on;
	else
		return -ENOTSUP;
	show(b);
	return mqb_entity_async_write(b->e);
}

static const struct mqb_entity_ops ops = {.async_added = added, .async_command = command};

/* The entity of en's options; carried (after a change of options): the
 * state as it is, as async_update_config keeps it. */
static int add(struct mqb_integration *in, void *item, const struct mqb_component_entry *en,
	       bool carried, struct mqb_entity **e)
{
	struct boolean *b = item;
	struct conf c = {0};
	mqb_collection_conf(en, &schema, &c);
	b->carried = carried;
	b->has_initial = mqb_conf_get(en->node, "initial") != NULL;
	if (b->has_initial && !carried)
		b->on = c.initial;
	struct mqb_entity_info info = {.name = c.name, .icon = c.icon};
	return mqb_collection_add_entity(in, en, &info, &ops, b, e);
}

static const struct mqb_collection_ops collection = {.item_size = sizeof(struct boolean),
						      .async_add = add};

MQB_COLLECTION_MODULE("input_boolean", collection, check);
