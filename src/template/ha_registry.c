/* SPDX-License-Identifier: MIT */
/* Home Assistant's registry functions (areas, floors, labels, devices,
 * config entries, issues, aliases), answering from what mqbridge knows:
 * the devices of MQTT entities' `device:` blocks, and the areas their
 * `suggested_area` names. There is no floor, label, alias, config entry
 * or issue registry, so those answer as Home Assistant does with them
 * empty -- an empty list or None -- and never fail to compile. */
#include "lib/internal.h"

#include <ctype.h>
#include <string.h>

#include "template/tpl.h"
#include "mqbridge/entity.h"
#include "mqbridge/platform.h"

#define FN(name) static struct tv name(struct tpl_ctx *cx, const struct tv *args, size_t nargs, \
				       const struct tpl_kwarg *kw, size_t nkw)

/* ---- the device and area registry, made from the entities ------------------------- */

/* A device: the entities whose `device:` blocks share an identifier or a
 * connection (Home Assistant merges them so); its id is its first
 * identifier, else its first connection's value (what the block names it
 * by, as a device trigger's device_id; Home Assistant's own ids are
 * random and mean nothing here). */
struct dev {
	const char *id;
	int area;              /* index in reg.areas, -1: none */
};

struct area {
	const char *id, *name; /* id: the slug of the name, made unique */
};

struct reg {
	struct mqb_core *core;
	size_t nent, ndev, narea;
	struct mqb_entity **ent;
	int *dev_of;           /* per entity: its device, -1: none */
	struct dev *dev;
	struct area *area;
};

/* A device block's ids: identifiers, then connections' values. */
static const char *block_id(const json_t *d, size_t i)
{
	const json_t *ids = json_object_get(d, "identifiers");
	if (i < json_array_size(ids))
		return json_string_value(json_array_get(ids, i));
	i -= json_array_size(ids);
	return json_string_value(json_array_get(json_array_get(json_object_get(d, "connections"), i), 1));
}

static size_t block_nids(const json_t *d)
{
	return json_array_size(json_object_get(d, "identifiers")) +
	       json_array_size(json_object_get(d, "connections"));
}

static bool block_has(const json_t *d, const char *s)
{
	for (size_t i = 0, n = block_nids(d); i < n; i++) {
		const char *id = block_id(d, i);
		if (id && strcmp(id, s) == 0)
			return true;
	}
	return false;
}

/* Area names compare as Home Assistant normalises them: case and spaces
 * aside. */
static bool same_name(const char *a, const char *b)
{
	for (;;) {
		while (*a == ' ')
			a++;
		while (*b == ' ')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if (tolower((unsigned char)*a++) != tolower((unsigned char)*b++))
			return false;
	}
}

static int area_add(struct tpl_ctx *cx, struct reg *r, const char *name)
{
	for (size_t i = 0; i < r->narea; i++)
		if (same_name(r->area[i].name, name))
			return (int)i;
	char slug[256], id[272];
	mqb_slugify(name, slug, sizeof slug);
	if (!*slug)
		snprintf(slug, sizeof slug, "unknown");
	snprintf(id, sizeof id, "%s", slug);
	for (unsigned k = 2;; k++) {
		bool taken = false;
		for (size_t i = 0; i < r->narea && !taken; i++)
			taken = strcmp(r->area[i].id, id) == 0;
		if (!taken)
			break;
		snprintf(id, sizeof id, "%s_%u", slug, k);
	}
	struct area *a = &r->area[r->narea];
	a->name = name;
	a->id = tv_cstr(cx, id).s->s;
	return (int)r->narea++;
}

/* The registry as the entities say it now; made at each call, in the
 * render's arena (a render is short, and the entities may change
 * between renders). */
static struct reg *reg_get(struct tpl_ctx *cx)
{
	struct reg *r = tpl_alloc(cx, sizeof *r);
	memset(r, 0, sizeof *r);
	r->core = cx->vars ? cx->vars->core : NULL;
	if (!r->core)
		return r;
	r->nent = mqb_entities_async_count(r->core);
	r->ent = tpl_alloc(cx, (r->nent + 1) * sizeof *r->ent);
	r->dev_of = tpl_alloc(cx, (r->nent + 1) * sizeof *r->dev_of);
	r->dev = tpl_alloc(cx, (r->nent + 1) * sizeof *r->dev);
	r->area = tpl_alloc(cx, (r->nent + 1) * sizeof *r->area);
	for (size_t i = 0; i < r->nent; i++) {
		tpl_tick(cx);
		struct mqb_entity *e = mqb_entities_async_get(r->core, i);
		const json_t *d = mqb_entity_device(e);
		r->ent[i] = e;
		r->dev_of[i] = -1;
		if (!d || !block_nids(d))
			continue;
		/* the device of an earlier entity sharing an id, else a new one */
		for (size_t j = 0; j < i && r->dev_of[i] < 0; j++) {
			const json_t *o = r->dev_of[j] >= 0 ? mqb_entity_device(r->ent[j]) : NULL;
			for (size_t k = 0, n = block_nids(d); o && k < n && r->dev_of[i] < 0; k++) {
				const char *id = block_id(d, k);
				if (id && block_has(o, id))
					r->dev_of[i] = r->dev_of[j];
			}
		}
		if (r->dev_of[i] < 0) {
			struct dev *v = &r->dev[r->ndev];
			v->id = block_id(d, 0);
			v->area = -1;
			r->dev_of[i] = (int)r->ndev++;
			if (!v->id)
				v->id = "";
		}
		/* the first suggested_area places the device, as Home
		 * Assistant uses it only for a device it creates */
		struct dev *v = &r->dev[r->dev_of[i]];
		const char *sa = json_string_value(json_object_get(d, "suggested_area"));
		if (v->area < 0 && sa && *sa)
			v->area = area_add(cx, r, sa);
	}
	return r;
}

/* The value of a device attribute: the last block of its entities that
 * has it (each entity's setup updates the device in Home Assistant). */
static const json_t *dev_get(const struct reg *r, int dev, const char *key)
{
	const json_t *found = NULL;
	for (size_t i = 0; i < r->nent; i++) {
		const json_t *v = r->dev_of[i] == dev ? json_object_get(mqb_entity_device(r->ent[i]), key) : NULL;
		if (v && !json_is_null(v))
			found = v;
	}
	return found;
}

static const char *dev_name(const struct reg *r, int dev)
{
	return json_string_value(dev_get(r, dev, "name"));
}

static int entity_index(const struct reg *r, struct tv v)
{
	if (v.t != TV_STR || !r->core)
		return -1;
	for (size_t i = 0; i < r->nent; i++)
		if (strcmp(mqb_entity_id(r->ent[i]), v.s->s) == 0)
			return (int)i;
	return -1;
}

/* A device by its id, or any identifier or connection its blocks name. */
static int dev_by_id(const struct reg *r, struct tv v)
{
	if (v.t != TV_STR)
		return -1;
	for (size_t i = 0; i < r->nent; i++)
		if (r->dev_of[i] >= 0 && block_has(mqb_entity_device(r->ent[i]), v.s->s))
			return r->dev_of[i];
	return -1;
}

static int dev_of_entity(const struct reg *r, struct tv v)
{
	int i = entity_index(r, v);
	return i < 0 ? -1 : r->dev_of[i];
}

static int area_by_id(const struct reg *r, struct tv v)
{
	for (size_t i = 0; v.t == TV_STR && i < r->narea; i++)
		if (strcmp(r->area[i].id, v.s->s) == 0)
			return (int)i;
	return -1;
}

static int area_by_name(const struct reg *r, struct tv v)
{
	for (size_t i = 0; v.t == TV_STR && i < r->narea; i++)
		if (same_name(r->area[i].name, v.s->s))
			return (int)i;
	return -1;
}

/* An entity's area (its device's: entities have none of their own
 * here), else a device's. */
static int area_of(const struct reg *r, struct tv v)
{
	int d = dev_of_entity(r, v);
	if (d < 0)
		d = dev_by_id(r, v);
	return d < 0 ? -1 : r->dev[d].area;
}

static void check_defined(struct tpl_ctx *cx, const struct tv *args, size_t nargs)
{
	for (size_t i = 0; i < nargs; i++)
		tpl_check_defined(cx, args[i]);
}

static struct tv str_or_none(struct tpl_ctx *cx, const char *s)
{
	return s ? tv_cstr(cx, s) : tv_none();
}

/* ---- areas ------------------------------------------------------------------------ */

FN(areas)
{
	struct reg *r = reg_get(cx);
	struct tv l = tv_list_new(cx, r->narea);
	for (size_t i = 0; i < r->narea; i++)
		tv_list_push(cx, &l, tv_cstr(cx, r->area[i].id));
	return l;
}

/* area_id(name, entity id or device id) */
FN(area_id)
{
	check_defined(cx, args, nargs);
	struct reg *r = reg_get(cx);
	int a = area_by_name(r, args[0]);
	if (a < 0)
		a = area_of(r, args[0]);
	return a < 0 ? tv_none() : tv_cstr(cx, r->area[a].id);
}

/* area_name(area id, entity id or device id) */
FN(area_name)
{
	check_defined(cx, args, nargs);
	struct reg *r = reg_get(cx);
	int a = area_by_id(r, args[0]);
	if (a < 0)
		a = area_of(r, args[0]);
	return a < 0 ? tv_none() : tv_cstr(cx, r->area[a].name);
}

static int area_lookup(const struct reg *r, struct tv v)
{
	int a = area_by_id(r, v);
	return a >= 0 ? a : area_by_name(r, v);
}

/* area_entities(area id or name): the entities of the area's devices,
 * device by device. */
FN(area_entities)
{
	check_defined(cx, args, nargs);
	struct reg *r = reg_get(cx);
	int a = area_lookup(r, args[0]);
	struct tv l = tv_list_new(cx, 0);
	for (size_t d = 0; a >= 0 && d < r->ndev; d++)
		for (size_t i = 0; r->dev[d].area == a && i < r->nent; i++)
			if (r->dev_of[i] == (int)d)
				tv_list_push(cx, &l, tv_cstr(cx, mqb_entity_id(r->ent[i])));
	return l;
}

FN(area_devices)
{
	check_defined(cx, args, nargs);
	struct reg *r = reg_get(cx);
	int a = area_lookup(r, args[0]);
	struct tv l = tv_list_new(cx, 0);
	for (size_t d = 0; a >= 0 && d < r->ndev; d++)
		if (r->dev[d].area == a)
			tv_list_push(cx, &l, tv_cstr(cx, r->dev[d].id));
	return l;
}

/* ---- devices ---------------------------------------------------------------------- */

/* device_id(entity id or device name) */
FN(device_id)
{
	check_defined(cx, args, nargs);
	struct reg *r = reg_get(cx);
	int i = entity_index(r, args[0]);
	if (i >= 0)
		return r->dev_of[i] < 0 ? tv_none() : tv_cstr(cx, r->dev[r->dev_of[i]].id);
	for (size_t d = 0; args[0].t == TV_STR && d < r->ndev; d++) {
		const char *name = dev_name(r, (int)d);
		if (name && strcmp(name, args[0].s->s) == 0)
			return tv_cstr(cx, r->dev[d].id);
	}
	return tv_none();
}

/* device_name(entity id or device id) */
FN(device_name)
{
	check_defined(cx, args, nargs);
	struct reg *r = reg_get(cx);
	int d = dev_of_entity(r, args[0]);
	if (d < 0)
		d = dev_by_id(r, args[0]);
	return d < 0 ? tv_none() : str_or_none(cx, dev_name(r, d));
}

FN(device_entities)
{
	check_defined(cx, args, nargs);
	struct reg *r = reg_get(cx);
	int d = dev_by_id(r, args[0]);
	struct tv l = tv_list_new(cx, 0);
	for (size_t i = 0; d >= 0 && i < r->nent; i++)
		if (r->dev_of[i] == d)
			tv_list_push(cx, &l, tv_cstr(cx, mqb_entity_id(r->ent[i])));
	return l;
}

static struct tv set_of(struct tpl_ctx *cx, struct tv l)
{
	return tpl_make_set(cx, l.l->v, l.l->n);
}

/* A set of (domain, id) tuples, as DeviceEntry's identifiers and
 * connections. */
static struct tv pairs(struct tpl_ctx *cx, const json_t *a, const char *domain)
{
	struct tv l = tv_list_new(cx, json_array_size(a));
	size_t i;
	const json_t *v;
	json_array_foreach(a, i, v) {
		struct tv t = tv_make_tuple(tv_list_new(cx, 2));
		tv_list_push(cx, &t, tv_cstr(cx, domain ? domain : json_string_value(json_array_get(v, 0))));
		tv_list_push(cx, &t, tv_cstr(cx, json_string_value(domain ? v : json_array_get(v, 1))));
		tv_list_push(cx, &l, t);
	}
	return set_of(cx, l);
}

/* The device an id names for device_attr: an entity's (a name with a
 * dot), else a device's own id. */
static int attr_device(struct tpl_ctx *cx, const struct reg *r, struct tv v)
{
	if (v.t != TV_STR)
		tpl_fail(cx, "Must provide a device or entity ID");
	return strchr(v.s->s, '.') ? dev_of_entity(r, v) : dev_by_id(r, v);
}

/* DeviceEntry's attributes: the block's, its id and area, the merged
 * identifiers and connections; the rest (name_by_user, disabled_by,
 * entry_type, via_device_id ...) None, labels and config entries empty,
 * and None for a name DeviceEntry has not. */
static struct tv dev_attr(struct tpl_ctx *cx, const struct reg *r, int d, struct tv name)
{
	static const char *const own[] = { "name", "manufacturer", "model", "model_id", "hw_version",
					   "sw_version", "serial_number", "configuration_url",
					   "suggested_area" };
	if (d < 0 || name.t != TV_STR)
		return tv_none();
	const char *a = name.s->s;
	for (size_t i = 0; i < MQB_ARRAY_SIZE(own); i++)
		if (strcmp(a, own[i]) == 0)
			return str_or_none(cx, json_string_value(dev_get(r, d, a)));
	if (strcmp(a, "id") == 0)
		return tv_cstr(cx, r->dev[d].id);
	if (strcmp(a, "area_id") == 0)
		return r->dev[d].area < 0 ? tv_none() : tv_cstr(cx, r->area[r->dev[d].area].id);
	if (strcmp(a, "identifiers") == 0 || strcmp(a, "connections") == 0) {
		/* each entity's ids, each once */
		struct tv l = tv_list_new(cx, 0);
		bool ids = a[0] == 'i';
		for (size_t i = 0; i < r->nent; i++) {
			if (r->dev_of[i] != d)
				continue;
			struct tv s = pairs(cx, json_object_get(mqb_entity_device(r->ent[i]), a),
					    ids ? "mqtt" : NULL);
			for (size_t k = 0; k < s.l->n; k++)
				tv_list_push(cx, &l, s.l->v[k]);
		}
		return set_of(cx, l);
	}
	if (strcmp(a, "labels") == 0 || strcmp(a, "config_entries") == 0)
		return set_of(cx, tv_list_new(cx, 0));
	return tv_none();
}

/* device_attr(device_or_entity_id, attr) */
FN(device_attr)
{
	struct reg *r = reg_get(cx);
	return dev_attr(cx, r, attr_device(cx, r, args[0]), args[1]);
}

/* is_device_attr(id, attr, value): device_attr(id, attr) == value. */
FN(is_device_attr)
{
	struct reg *r = reg_get(cx);
	struct tv v = dev_attr(cx, r, attr_device(cx, r, args[0]), args[1]);
	return tv_bool(tv_equal(cx, v, args[2]));
}

/* integration_entities(name): no config entry titles here, so the
 * entities of the integration of that name, in the order added. */
FN(integration_entities)
{
	check_defined(cx, args, nargs);
	struct reg *r = reg_get(cx);
	struct tv l = tv_list_new(cx, 0);
	for (size_t i = 0; args[0].t == TV_STR && i < r->nent; i++) {
		const struct mqb_platform *p = mqb_entity_platform(r->ent[i]);
		const char *in = p ? mqb_platform_integration(p) : NULL;
		if (in && strcmp(in, args[0].s->s) == 0)
			tv_list_push(cx, &l, tv_cstr(cx, mqb_entity_id(r->ent[i])));
	}
	return l;
}

/* ---- what has no registry here ---------------------------------------------------- */

/* A lookup that finds nothing: None. Like Home Assistant's, it takes any
 * value, but not an undefined one (its str() or hash would fail there). */
FN(none_found)
{
	check_defined(cx, args, nargs);
	return tv_none();
}

FN(empty_list)
{
	check_defined(cx, args, nargs);
	return tv_list_new(cx, 0);
}

FN(false_found)
{
	check_defined(cx, args, nargs);
	return tv_bool(false);
}

FN(no_issues) { return tv_dict_new(cx, 0); }

/* aliases(id, alias_type=None): no entity, area or floor has aliases
 * here; the type must still be one of Home Assistant's. */
FN(aliases)
{
	check_defined(cx, args, nargs);
	const struct tv *t = tpl_arg(args, nargs, kw, nkw, 1, "alias_type");
	if (t && t->t != TV_NONE &&
	    (t->t != TV_STR || (strcmp(t->s->s, "entity") != 0 && strcmp(t->s->s, "area") != 0 &&
				strcmp(t->s->s, "floor") != 0)))
		tpl_fail(cx, "Invalid alias_type: expected 'entity', 'area' or 'floor'");
	return tv_list_new(cx, 0);
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
	{ "areas", U, areas, 0, 0, false },
	{ "area_id", U | F, area_id, 1, 1, false },
	{ "area_name", U | F, area_name, 1, 1, false },
	{ "area_entities", U | F, area_entities, 1, 1, false },
	{ "area_devices", U | F, area_devices, 1, 1, false },
	{ "area_temperature_sensor", U | F, none_found, 1, 1, false },
	{ "area_humidity_sensor", U | F, none_found, 1, 1, false },
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
	{ "aliases", U | F, aliases, 1, 2, false },
	{ "assist_exposed_entities", U, empty_list, 0, 0, false },
	{ "device_entities", U | F, device_entities, 1, 1, false },
	{ "device_id", U | F, device_id, 1, 1, false },
	{ "device_name", U | F, device_name, 1, 1, false },
	{ "device_attr", U | F, device_attr, 2, 2, false },
	{ "is_device_attr", U | T, is_device_attr, 3, 3, false },
	{ "integration_entities", U | F, integration_entities, 1, 1, false },
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
