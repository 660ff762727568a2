/* SPDX-License-Identifier: MIT */
/* Home Assistant's registry functions (areas, floors, labels, devices,
 * config entries, issues, aliases): mqbridge keeps no area, floor or
 * label registry, so they answer as Home Assistant does with those
 * registries empty -- an empty list or None -- and a template that uses
 * them compiles and renders as it would there with nothing configured. */
#include "lib/internal.h"

#include <string.h>

#include "template/tpl.h"

#define FN(name) static struct tv name(struct tpl_ctx *cx, const struct tv *args, size_t nargs, \
				       const struct tpl_kwarg *kw, size_t nkw)

/* A lookup that finds nothing: None. Like Home Assistant's, it takes any
 * value, but not an undefined one (its str() or hash would fail there). */
FN(none_found)
{
	for (size_t i = 0; i < nargs; i++)
		tpl_check_defined(cx, args[i]);
	return tv_none();
}

FN(empty_list)
{
	for (size_t i = 0; i < nargs; i++)
		tpl_check_defined(cx, args[i]);
	return tv_list_new(cx, 0);
}

FN(false_found)
{
	for (size_t i = 0; i < nargs; i++)
		tpl_check_defined(cx, args[i]);
	return tv_bool(false);
}

FN(no_issues) { return tv_dict_new(cx, 0); }

/* device_attr(device_or_entity_id, attr): a device's attribute, None
 * with no device; the id must be a string. */
FN(device_attr)
{
	if (args[0].t != TV_STR)
		tpl_fail(cx, "Must provide a device or entity ID");
	return tv_none();
}

/* is_device_attr(id, attr, value): device_attr(id, attr) == value. */
FN(is_device_attr)
{
	if (args[0].t != TV_STR)
		tpl_fail(cx, "Must provide a device or entity ID");
	return tv_bool(tv_equal(cx, tv_none(), args[2]));
}

FN(config_entry_attr)
{
	static const char *const attrs[] = { "domain", "title", "state", "source", "disabled_by",
					     "pref_disable_polling" };
	if (args[0].t != TV_STR)
		tpl_fail(cx, "Must provide a config entry ID");
	bool known = false;
	for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
		known |= args[1].t == TV_STR && strcmp(args[1].s->s, attrs[i]) == 0;
	if (!known)
		tpl_fail(cx, "Invalid config entry attribute");
	return tv_none();
}

#define F TPL_FILTER
#define U TPL_FUNCTION
#define T TPL_TEST
const struct tpl_builtin tpl_ha_registry_builtins[] = {
	{ "areas", U, empty_list, 0, 0, false },
	{ "area_id", U | F, none_found, 1, 1, false },
	{ "area_name", U | F, none_found, 1, 1, false },
	{ "area_entities", U | F, empty_list, 1, 1, false },
	{ "area_devices", U | F, empty_list, 1, 1, false },
	{ "floors", U | F, empty_list, 0, 1, false },
	{ "floor_id", U | F, none_found, 1, 1, false },
	{ "floor_name", U | F, none_found, 1, 1, false },
	{ "floor_icon", U | F, none_found, 1, 1, false },
	{ "floor_areas", U | F, empty_list, 1, 1, false },
	{ "floor_entities", U | F, empty_list, 1, 1, false },
	{ "labels", U | F, empty_list, 0, 1, false },
	{ "label_id", U | F, none_found, 1, 1, false },
	{ "label_name", U | F, none_found, 1, 1, false },
	{ "label_description", U | F, none_found, 1, 1, false },
	{ "label_areas", U | F, empty_list, 1, 1, false },
	{ "label_devices", U | F, empty_list, 1, 1, false },
	{ "label_entities", U | F, empty_list, 1, 1, false },
	{ "aliases", U | F, empty_list, 1, 1, false },
	{ "device_entities", U | F, empty_list, 1, 1, false },
	{ "device_id", U | F, none_found, 1, 1, false },
	{ "device_name", U | F, none_found, 1, 1, false },
	{ "device_attr", U | F, device_attr, 2, 2, false },
	{ "is_device_attr", U | T, is_device_attr, 3, 3, false },
	{ "integration_entities", U | F, empty_list, 1, 1, false },
	{ "config_entry_id", U | F, none_found, 1, 1, false },
	{ "config_entry_attr", U | F, config_entry_attr, 2, 2, false },
	{ "is_hidden_entity", U | T, false_found, 1, 1, false },
	{ "issues", U, no_issues, 0, 0, false },
	{ "issue", U, none_found, 2, 2, false },
	{ NULL, 0, NULL, 0, 0, false },
};
#undef F
#undef U
#undef T
