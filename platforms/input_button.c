/* SPDX-License-Identifier: MIT */
/* input_button: Home Assistant's helper button
 * (homeassistant/components/input_button, a ButtonEntity): press does
 * nothing but make the state the time of the press (UTC, ISO 8601), which
 * automations trigger on; that time restored at start; shown to Home
 * Assistant as an MQTT button. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/collection.h"
#include "mqbridge/entity.h"
#include "mqbridge/platform.h"
#include "mqbridge/restore.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"

struct conf {
	const char *name, *icon;
};

static const struct mqb_schema_key keys[] = {
	{.key = "name", .type = MQB_S_STRING, .offset = offsetof(struct conf, name), .stored = true,
	 .doc = "the friendly name"},
	{.key = "icon", .type = MQB_S_STRING, .offset = offsetof(struct conf, icon), .stored = true,
	 .doc = "an icon, mdi:name"},
};
static const struct mqb_schema schema = MQB_SCHEMA("input_button", keys);

struct button {
	struct mqb_entity *e;
	char pressed[MQB_ISOFORMAT_MAX + 32]; /* "": never */
	bool carried;
};

static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	for (size_t i = 0; i < n; i++)
		mqb_collection_check(&entries[i], &schema, NULL, errs);
}

static void show(struct button *b)
{
	mqb_entity_async_set_state(b->e, b->pressed[0] ? b->pressed : NULL);
	mqb_entity_async_set_attributes(b->e, json_pack("{sb}", "editable", 0));
}

/* ButtonEntity's async_internal_added_to_hass: the last press, unless
 * the last state was unavailable. */
static int added(struct mqb_entity *e, void *priv)
{
	struct button *b = priv;
	b->e = e;
	const char *s = mqb_restore_async_last_value(e);
	if (!b->carried && s && strcmp(s, "unavailable") != 0 && strlen(s) < sizeof b->pressed)
		strcpy(b->pressed, s);
	show(b);
	return mqb_restore_async_register(e, NULL, NULL);
}

/* _async_press_action: the state is when, the press itself does nothing. */
static int command(struct mqb_entity *e, void *priv, const char *service, const json_t *data)
{
	(void)data;
	struct button *b = priv;
	if (strcmp(service, "press") != 0)
		return -ENOTSUP;
	mqb_isoformat(mqb_async_now(mqb_entity_core(e)), b->pressed);
	show(b);
	return mqb_entity_async_write(e);
}

static const struct mqb_entity_ops ops = {.async_added = added, .async_command = command};

/* The entity of en's options; carried: the last press as it is. */
static int add(struct mqb_integration *in, void *item, const struct mqb_component_entry *en,
	       bool carried, struct mqb_entity **e)
{
	struct button *b = item;
	struct conf c = {0};
	mqb_collection_conf(en, &schema, &c);
	b->carried = carried;
	struct mqb_entity_info info = {.name = c.name, .icon = c.icon};
	return mqb_collection_add_entity(in, en, &info, &ops, b, e);
}

static const struct mqb_collection_ops collection = {.item_size = sizeof(struct button),
						      .async_add = add};

MQB_COLLECTION_MODULE("input_button", collection, check);
