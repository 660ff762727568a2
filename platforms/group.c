/* SPDX-License-Identifier: MIT */
/* group: Home Assistant's old-style groups (homeassistant/components/
 * group/__init__.py, entity.py, registry.py): each key of `group:` a
 * group.<key> entity whose state comes from its members by the on and
 * off states of each member's domain (on/off, home/not_home,
 * open/closed, unlocked/locked, ...), any member or, with `all`, every
 * member; the services group.set, group.remove and group.reload; and
 * the module of the `platform: group` entities (group_platform.c). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/collection.h"
#include "mqbridge/core.h"
#include "mqbridge/entity.h"
#include "mqbridge/log.h"
#include "mqbridge/services.h"
#include "mqbridge/states.h"
#include "mqbridge/track.h"

#include "group.h"

/* ---- the integration registry (registry.py) ------------------------------- */

/* A domain's on states and the single on/off pair it names: ON_OFF_STATES.
 * A domain not listed (light, switch, input_boolean, binary_sensor...)
 * is on when "on", as Home Assistant's groups of groups are. */
struct domain_states {
	const char *domain;
	const char *const *on;
	const char *on_state, *off_state;
};

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
static const struct domain_states domain_states[] = {
	{"alarm_control_panel",
	 LIST("on", "armed_away", "armed_custom_bypass", "armed_home", "armed_night",
	      "armed_vacation", "triggered"),
	 "on", "off"},
	{"climate", LIST("on", "heat", "cool", "heat_cool", "auto", "fan_only"), "on", "off"},
	{"cover", LIST("open"), "open", "closed"},
	{"device_tracker", LIST("home"), "home", "not_home"},
	{"lock", LIST("locking", "open", "opening", "unlocked", "unlocking"), "unlocked", "locked"},
	{"media_player", LIST("on", "paused", "playing", "idle"), "on", "off"},
	{"person", LIST("home"), "home", "not_home"},
	{"plant", LIST("problem"), "problem", "ok"},
	{"vacuum", LIST("on", "cleaning", "returning", "error"), "on", "off"},
	{"water_heater",
	 LIST("on", "eco", "electric", "performance", "high_demand", "heat_pump", "gas"), "on",
	 "off"},
};

/* EXCLUDED_DOMAINS: members of these are listed but never followed. */
static const char *const excluded[] = {"air_quality", "sensor", "weather", NULL};

static bool in_list(const char *const *v, const char *s, size_t len)
{
	for (; *v; v++)
		if (strlen(*v) == len && strncmp(*v, s, len) == 0)
			return true;
	return false;
}

static const struct domain_states *states_of(const char *domain, size_t len)
{
	for (size_t i = 0; i < MQB_ARRAY_SIZE(domain_states); i++)
		if (strlen(domain_states[i].domain) == len &&
		    strncmp(domain_states[i].domain, domain, len) == 0)
			return &domain_states[i];
	return NULL;
}

/* on_off_mapping's keys: "on" and every domain's on states. */
static bool is_on_state(const char *s)
{
	if (strcmp(s, "on") == 0)
		return true;
	for (size_t i = 0; i < MQB_ARRAY_SIZE(domain_states); i++)
		if (in_list(domain_states[i].on, s, strlen(s)))
			return true;
	return false;
}

/* off_on_mapping: an off state and the on state registered first for it. */
static bool is_off_state(const char *s)
{
	static const char *const off[] = {"off", "closed", "not_home", "locked", "ok", NULL};
	return in_list(off, s, strlen(s));
}

/* ---- the old-style group --------------------------------------------------- */

/* A SingleStateType: the one on/off pair of a group whose members'
 * domains agree on one. */
struct pair {
	const char *on, *off;
};

struct ogroup {
	struct mqb_entity *e;
	struct mqb_core *core;
	struct groups *reg;
	char *name, *icon;
	struct group_ids tracking, trackable;
	bool all;
	bool auto_;                /* created by group.set */
	void *item;                /* its item of the group: block; NULL: made by group.set */
	bool keep;                 /* re-added for group.set: keep what it holds */
	long order;
	struct pair single;        /* single_state_type_key; on NULL: none */
	struct mqb_track *track;
	struct mqb_listener *at_start;
	/* _on_off, _assumed: per trackable member, once seen */
	bool *seen, *on_off, *assumed;
	bool any_on_state;         /* _on_states is not empty */
	bool assumed_state;
	const char *state;         /* NULL: unknown */
	struct ogroup *next;       /* the registry's list */
};

/* Per core: hass.data[REG_KEY] and GROUP_ORDER, and every group; those
 * made by group.set are its own, those of the block the collection's
 * (whose data, made later, is freed first). */
struct groups {
	struct mqb_integration *in;
	struct mqb_core *core;
	long next_order;
	struct ogroup *list;
	/* state_group_mapping for groups: a group's entity id and its pair */
	struct {
		char *id;
		struct pair p;
	} *pairs;
	size_t npairs;
};

static struct groups *groups_of(struct mqb_core *core)
{
	return mqb_core_async_data(core, GROUP_SUB);
}

static void ogroup_clear(struct ogroup *g);

static void unlink_group(struct groups *r, struct ogroup *g)
{
	for (struct ogroup **p = r ? &r->list : NULL; p && *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			return;
		}
}

static void groups_free(void *p)
{
	struct groups *r = p;
	for (struct ogroup *g = r->list, *next; g; g = next) {
		next = g->next;
		if (g->item)
			continue;
		ogroup_clear(g);
		free(g);
	}
	for (size_t i = 0; i < r->npairs; i++)
		free(r->pairs[i].id);
	free(r->pairs);
	free(r);
}

static const struct pair *pair_of_group(struct groups *r, const char *id)
{
	for (size_t i = 0; i < r->npairs; i++)
		if (strcmp(r->pairs[i].id, id) == 0)
			return &r->pairs[i].p;
	return NULL;
}

static void forget_pair(struct groups *r, const char *id)
{
	for (size_t i = 0; i < r->npairs; i++)
		if (strcmp(r->pairs[i].id, id) == 0) {
			free(r->pairs[i].id);
			r->pairs[i] = r->pairs[--r->npairs];
			return;
		}
}

static void remember_pair(struct groups *r, const char *id, struct pair p)
{
	forget_pair(r, id);
	void *v = realloc(r->pairs, (r->npairs + 1) * sizeof *r->pairs);
	if (!v)
		return;
	r->pairs = v;
	if ((r->pairs[r->npairs].id = strdup(id)))
		r->pairs[r->npairs++].p = p;
}

static void member_arrays_free(struct ogroup *g)
{
	free(g->seen);
	free(g->on_off);
	free(g->assumed);
	g->seen = g->on_off = g->assumed = NULL;
}

/* _set_tracked: tracking is every member, trackable those followed; the
 * single on/off pair when every member's domain names the same one. */
static int set_tracked(struct ogroup *g, const struct group_ids *ids)
{
	group_ids_fini(&g->tracking);
	group_ids_fini(&g->trackable);
	member_arrays_free(g);
	g->single = (struct pair){NULL, NULL};
	struct pair pairs[16];
	size_t npairs = 0;
	bool many = false;
	for (size_t i = 0; i < ids->n; i++) {
		const char *id = ids->v[i];
		size_t dlen = (size_t)(strchr(id, '.') - id);
		struct group_ids *lists[] = {&g->tracking, &g->trackable};
		for (size_t l = 0; l < (in_list(excluded, id, dlen) ? 1u : 2u); l++) {
			char **v = realloc(lists[l]->v, (lists[l]->n + 1) * sizeof *v);
			if (!v)
				return -ENOMEM;
			lists[l]->v = v;
			if (!(v[lists[l]->n] = strdup(id)))
				return -ENOMEM;
			lists[l]->n++;
		}
		const struct domain_states *ds = states_of(id, dlen);
		struct pair p = {"on", "off"};
		if (ds) {
			p = (struct pair){ds->on_state, ds->off_state};
		} else if (dlen == 5 && strncmp(id, "group", 5) == 0) {
			const struct pair *gp = pair_of_group(g->reg, id);
			if (!gp)
				continue;
			p = *gp;
		}
		bool known = false;
		for (size_t k = 0; k < npairs; k++)
			known |= strcmp(pairs[k].on, p.on) == 0 && strcmp(pairs[k].off, p.off) == 0;
		if (!known && npairs < MQB_ARRAY_SIZE(pairs))
			pairs[npairs++] = p;
		else if (!known)
			many = true;
	}
	size_t n = g->trackable.n ? g->trackable.n : 1;
	g->seen = calloc(n, sizeof *g->seen);
	g->on_off = calloc(n, sizeof *g->on_off);
	g->assumed = calloc(n, sizeof *g->assumed);
	if (!g->seen || !g->on_off || !g->assumed)
		return -ENOMEM;
	if (npairs == 1 && !many)
		g->single = pairs[0];
	if (g->e && g->single.on)
		remember_pair(g->reg, mqb_entity_id(g->e), g->single);
	else if (g->e)
		forget_pair(g->reg, mqb_entity_id(g->e));
	return 0;
}

/* _see_state */
static void see_state(struct ogroup *g, size_t i, const struct mqb_state *s)
{
	const char *v = mqb_state_value(s);
	g->seen[i] = true;
	g->assumed[i] = json_is_true(json_object_get(mqb_state_attributes(s), "assumed_state"));
	const struct domain_states *ds = states_of(mqb_state_domain(s), mqb_state_domain_len(s));
	if (!ds) {
		/* the group of a group case */
		g->any_on_state |= is_on_state(v) || is_off_state(v);
		g->on_off[i] = is_on_state(v);
	} else {
		g->any_on_state = true;
		g->on_off[i] = in_list(ds->on, v, strlen(v));
	}
}

/* _reset_tracked_state */
static void reset_tracked(struct ogroup *g)
{
	g->any_on_state = false;
	for (size_t i = 0; i < g->trackable.n; i++) {
		g->seen[i] = false;
		struct mqb_state *s = mqb_states_async_get(g->core, g->trackable.v[i]);
		if (s)
			see_state(g, i, s);
		mqb_state_unref(s);
	}
}

static bool mode_of(const struct ogroup *g, const bool *v)
{
	bool r = g->all;
	for (size_t i = 0; i < g->trackable.n; i++)
		if (g->seen[i])
			r = g->all ? r && v[i] : r || v[i];
	return r;
}

/* _async_update_group_state: changed is the member whose state is new
 * (its index; SIZE_MAX: none, everything is looked at again). */
static void update_state(struct ogroup *g, size_t changed, const struct mqb_state *s)
{
	if (changed != SIZE_MAX && s)
		see_state(g, changed, s);
	bool any_seen = false;
	for (size_t i = 0; i < g->trackable.n; i++)
		any_seen |= g->seen[i];
	if (!any_seen)
		return;
	bool tr_assumed = s && json_is_true(json_object_get(mqb_state_attributes(s),
							    "assumed_state"));
	if (!s || (g->assumed_state && !tr_assumed))
		g->assumed_state = mode_of(g, g->assumed);
	else if (tr_assumed)
		g->assumed_state = true;
	if (!g->any_on_state) {
		g->state = NULL;
		return;
	}
	bool on = mode_of(g, g->on_off);
	g->state = on ? (g->single.on ? g->single.on : "on") : g->single.off ? g->single.off : "off";
}

static void write_group(struct ogroup *g)
{
	json_t *a = json_object();
	json_object_set_new(a, "entity_id", group_ids_json(&g->tracking));
	json_object_set_new(a, "order", json_integer(g->order));
	if (g->auto_)
		json_object_set_new(a, "auto", json_true());
	if (g->assumed_state)
		json_object_set_new(a, "assumed_state", json_true());
	mqb_entity_async_set_attributes(g->e, a);
	mqb_entity_async_set_state(g->e, g->state);
	mqb_entity_async_write(g->e);
}

static void on_member(void *ud, const struct mqb_event *ev)
{
	struct ogroup *g = ud;
	const char *id = mqb_event_entity_id(ev);
	const struct mqb_state *s = mqb_event_new_state(ev);
	size_t i = 0;
	while (i < g->trackable.n && strcmp(g->trackable.v[i], id) != 0)
		i++;
	if (i == g->trackable.n)
		return;
	if (!s)
		reset_tracked(g); /* the member's state was removed */
	update_state(g, s ? i : SIZE_MAX, s);
	write_group(g);
}

/* _async_start: members followed, the state worked out and written. */
static void start(struct ogroup *g)
{
	reset_tracked(g);
	if (g->trackable.n && !g->track &&
	    mqb_async_track_state_change(g->core, (const char *const *)g->trackable.v,
					 g->trackable.n, on_member, g, &g->track))
		MQB_LOG_ERROR(GROUP_SUB, "%s: cannot follow its members", mqb_entity_id(g->e));
	update_state(g, SIZE_MAX, NULL);
	write_group(g);
}

static int at_start(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct ogroup *g = ud;
	g->at_start = NULL;
	start(g);
	return 0;
}

static void stop_tracking(struct ogroup *g)
{
	mqb_async_track_cancel(g->track);
	g->track = NULL;
	if (g->at_start)
		mqb_bus_async_unlisten(g->core, g->at_start);
	g->at_start = NULL;
}

static int added(struct mqb_entity *e, void *priv)
{
	struct ogroup *g = priv;
	g->e = e;
	g->core = mqb_entity_core(e);
	g->state = NULL;
	if (g->single.on)
		remember_pair(g->reg, mqb_entity_id(e), g->single);
	if (mqb_core_async_started(g->core)) {
		start(g);
		return 0;
	}
	write_group(g);
	return mqb_bus_async_listen_once(g->core, MQB_EVENT_START, &MQB_CALLBACK(at_start, g),
					 &g->at_start);
}

static void will_remove(struct mqb_entity *e, void *priv)
{
	struct ogroup *g = priv;
	stop_tracking(g);
	forget_pair(g->reg, mqb_entity_id(e));
	g->e = NULL;
}

/* Groups are read-only: their members are what one commands. */
static const struct mqb_entity_ops ops = {.async_added = added, .async_will_remove = will_remove};

static void ogroup_clear(struct ogroup *g)
{
	group_ids_fini(&g->tracking);
	group_ids_fini(&g->trackable);
	member_arrays_free(g);
	free(g->name);
	free(g->icon);
	g->name = g->icon = NULL;
}

/* Add g's entity with its name and icon; object_id NULL for one of the
 * block (the collection names it). */
static int add_entity(struct ogroup *g, const char *object_id,
		      const struct mqb_component_entry *en)
{
	struct mqb_entity_info info = {.name = g->name, .icon = g->icon, .object_id = object_id};
	if (en)
		return mqb_collection_add_entity(g->reg->in, en, &info, &ops, g, &g->e);
	struct mqb_platform *p = mqb_integration_async_platform(g->reg->in, GROUP_SUB);
	return p ? mqb_platform_async_add_entity(p, &info, &ops, g, &g->e) : -ENOMEM;
}

/* ---- the group: block ------------------------------------------------------- */

struct conf {
	const struct mqb_conf_node *entities;
	const char *name, *icon;
	bool all;
};

#define C(f) .offset = offsetof(struct conf, f), .stored = true
static const struct mqb_schema_key keys[] = {
	{.key = "entities", .type = MQB_S_ANY, C(entities),
	 .doc = "the members: a list of entity ids, or one string of them separated by commas"},
	{.key = "name", .type = MQB_S_STRING, C(name), .doc = "the friendly name (default: the key)"},
	{.key = "icon", .type = MQB_S_STRING, C(icon), .doc = "an icon, mdi:name"},
	{.key = "all", .type = MQB_S_BOOL, .def = "false", C(all),
	 .doc = "on only when every member is on"},
};
static const struct mqb_schema schema = MQB_SCHEMA("group", keys);

/* _conf_preprocess: a value that is not a mapping is the members. */
static void conf_of(const struct mqb_component_entry *en, struct conf *c)
{
	memset(c, 0, sizeof *c);
	if (mqb_conf_kind(en->node) == MQB_CONF_MAP || mqb_conf_kind(en->node) == MQB_CONF_NULL)
		mqb_collection_conf(en, &schema, c);
	else
		c->entities = en->node;
}

static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	char path[512];
	for (size_t i = 0; i < n; i++) {
		const struct mqb_component_entry *en = &entries[i];
		struct conf c = {0};
		enum mqb_conf_kind k = mqb_conf_kind(en->node);
		if (k == MQB_CONF_MAP || k == MQB_CONF_NULL) {
			if (mqb_schema_apply(&schema, en->node, en->path, &c, errs))
				continue;
		} else {
			c.entities = en->node;
		}
		snprintf(path, sizeof path, "%s%s", en->path, c.entities == en->node ? "" : ".entities");
		group_check_ids(c.entities, path, NULL, errs);
		const char *icon = c.icon;
		if (icon && !strchr(icon, ':'))
			mqb_collection_error(errs, en, "icon",
					     "Icons should be specified in the form \"prefix:name\"");
	}
}

/* The collection's item: the group itself. */
struct item {
	struct ogroup *g;
};

static struct groups *registry(struct mqb_integration *in)
{
	struct mqb_core *core = mqb_integration_core(in);
	struct groups *r = groups_of(core);
	if (r)
		return r;
	if (!(r = calloc(1, sizeof *r)))
		return NULL;
	r->in = in;
	r->core = core;
	if (mqb_core_async_set_data(core, GROUP_SUB, r, groups_free)) {
		free(r);
		return NULL;
	}
	return r;
}

static int add(struct mqb_integration *in, void *item_, const struct mqb_component_entry *en,
	       bool carried, struct mqb_entity **e)
{
	struct item *item = item_;
	struct groups *r = registry(in);
	if (!r)
		return -ENOMEM;
	struct ogroup *g = item->g;
	if (g && g->keep) {
		/* group.set gave it a new name or icon: the rest stays */
		g->keep = false;
		int rc = add_entity(g, NULL, en);
		*e = g->e;
		return rc;
	}
	struct conf c;
	conf_of(en, &c);
	struct group_ids ids = {0};
	int rc = group_ids_from_conf(c.entities, &ids);
	if (!rc && !g) {
		if ((g = item->g = calloc(1, sizeof *g))) {
			g->next = r->list;
			r->list = g;
		} else {
			rc = -ENOMEM;
		}
	}
	if (rc) {
		group_ids_fini(&ids);
		return rc;
	}
	ogroup_clear(g);
	g->reg = r;
	g->core = mqb_integration_core(in);
	g->item = item;
	g->all = c.all;
	/* a group changed by a reload keeps its place; a new one takes the next */
	if (!carried)
		g->order = r->next_order++;
	if (!(g->name = strdup(c.name ? c.name : en->key)) || (c.icon && !(g->icon = strdup(c.icon))) ||
	    (rc = set_tracked(g, &ids)) != 0) {
		group_ids_fini(&ids);
		return rc ? rc : -ENOMEM;
	}
	group_ids_fini(&ids);
	rc = add_entity(g, NULL, en);
	*e = g->e;
	return rc;
}

static void fini(void *item_)
{
	struct item *item = item_;
	struct ogroup *g = item->g;
	if (!g)
		return;
	/* at shutdown the registry may be gone already */
	unlink_group(g->core ? groups_of(g->core) : NULL, g);
	ogroup_clear(g);
	free(g);
	item->g = NULL;
}

static const struct mqb_collection_ops collection = {.item_size = sizeof(struct item),
						      .async_add = add,
						      .fini = fini};

/* ---- group.set and group.remove ----------------------------------------------- */

static struct ogroup *find_group(struct groups *r, const char *entity_id)
{
	for (struct ogroup *g = r->list; g; g = g->next)
		if (g->e && strcmp(mqb_entity_id(g->e), entity_id) == 0)
			return g;
	return NULL;
}

static bool valid_slug(const char *s)
{
	char slug[256];
	return s && strlen(s) < sizeof slug && strcmp(mqb_slugify(s, slug, sizeof slug), s) == 0;
}

/* The schema of group.set and group.remove (object_id a slug, the
 * entity lists exclusive, the rest of their types). */
static int validate(void *ud, const json_t *data, char *msg, size_t msglen)
{
	const char *service = ud;
	const char *key;
	const json_t *v;
	int lists = 0;
	json_object_foreach((json_t *)data, key, v) {
		bool ok = true;
		if (strcmp(key, "object_id") == 0) {
			ok = valid_slug(json_string_value(v));
		} else if (strcmp(service, "remove") == 0) {
			snprintf(msg, msglen, "extra keys not allowed @ data['%s']", key);
			return -EINVAL;
		} else if (strcmp(key, "name") == 0 || strcmp(key, "icon") == 0) {
			ok = json_is_string(v);
		} else if (strcmp(key, "all") == 0) {
			ok = json_is_boolean(v);
		} else if (strcmp(key, "entities") == 0 || strcmp(key, "add_entities") == 0 ||
			   strcmp(key, "remove_entities") == 0) {
			struct group_ids ids;
			ok = group_ids_from_json(v, &ids) == 0;
			group_ids_fini(&ids);
			lists++;
		} else {
			snprintf(msg, msglen, "extra keys not allowed @ data['%s']", key);
			return -EINVAL;
		}
		if (!ok) {
			snprintf(msg, msglen, "invalid value @ data['%s']", key);
			return -EINVAL;
		}
	}
	if (!json_object_get(data, "object_id")) {
		snprintf(msg, msglen, "required key not provided @ data['object_id']");
		return -EINVAL;
	}
	if (lists > 1) {
		snprintf(msg, msglen, "two or more values in the same group of exclusion 'entities'");
		return -EINVAL;
	}
	return 0;
}

/* The members after group.set's entities, add_entities or remove_entities. */
static int new_members(const struct ogroup *g, const json_t *data, struct group_ids *out)
{
	const json_t *v;
	memset(out, 0, sizeof *out);
	if ((v = json_object_get(data, "entities")))
		return group_ids_from_json(v, out);
	struct group_ids delta;
	bool adding = (v = json_object_get(data, "add_entities")) != NULL;
	if (!adding && !(v = json_object_get(data, "remove_entities")))
		return 1; /* unchanged */
	int rc = group_ids_from_json(v, &delta);
	if (rc)
		return rc;
	/* set(tracking) | set(delta), set(tracking) - set(delta) */
	json_t *all = json_array();
	for (size_t i = 0; i < g->tracking.n; i++) {
		bool drop = false;
		for (size_t k = 0; !adding && k < delta.n; k++)
			drop |= strcmp(delta.v[k], g->tracking.v[i]) == 0;
		if (!drop)
			json_array_append_new(all, json_string(g->tracking.v[i]));
	}
	for (size_t k = 0; adding && k < delta.n; k++) {
		bool have = false;
		for (size_t i = 0; i < g->tracking.n; i++)
			have |= strcmp(delta.v[k], g->tracking.v[i]) == 0;
		if (!have)
			json_array_append_new(all, json_string(delta.v[k]));
	}
	group_ids_fini(&delta);
	rc = group_ids_from_json(all, out);
	json_decref(all);
	return rc;
}

static int set_service(struct groups *r, const json_t *data)
{
	const char *object_id = json_string_value(json_object_get(data, "object_id"));
	char entity_id[MQB_MAX_ENTITY_ID_LEN + 1];
	snprintf(entity_id, sizeof entity_id, "group.%s", object_id);
	struct ogroup *g = find_group(r, entity_id);
	struct group_ids ids;
	int rc = 0;
	if (!g) {
		/* a new group: entities, else add_entities */
		const json_t *v = json_object_get(data, "entities");
		if (!v)
			v = json_object_get(data, "add_entities");
		memset(&ids, 0, sizeof ids);
		if (v && (rc = group_ids_from_json(v, &ids)))
			return rc;
		const char *name = json_string_value(json_object_get(data, "name"));
		const char *icon = json_string_value(json_object_get(data, "icon"));
		if (!(g = calloc(1, sizeof *g)) || !(g->name = strdup(name ? name : object_id)) ||
		    (icon && !(g->icon = strdup(icon)))) {
			if (g)
				free(g->name);
			free(g);
			group_ids_fini(&ids);
			return -ENOMEM;
		}
		g->reg = r;
		g->core = r->core;
		g->auto_ = true;
		g->all = json_is_true(json_object_get(data, "all"));
		g->order = r->next_order++;
		rc = set_tracked(g, &ids);
		group_ids_fini(&ids);
		if (rc == 0)
			rc = add_entity(g, object_id, NULL);
		if (rc) {
			ogroup_clear(g);
			free(g);
			return rc;
		}
		g->next = r->list;
		r->list = g;
		return 0;
	}
	rc = new_members(g, data, &ids);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		/* async_update_tracked_entity_ids */
		stop_tracking(g);
		rc = set_tracked(g, &ids);
		group_ids_fini(&ids);
		if (rc)
			return rc;
		start(g);
	}
	const json_t *name = json_object_get(data, "name"), *icon = json_object_get(data, "icon");
	const json_t *all = json_object_get(data, "all");
	if (all) {
		g->all = json_is_true(all);
		write_group(g);
	}
	if (!name && !icon)
		return 0;
	/* a new name or icon is a new description: the entity anew */
	if (name) {
		free(g->name);
		g->name = strdup(json_string_value(name));
	}
	if (icon) {
		free(g->icon);
		g->icon = strdup(json_string_value(icon));
	}
	if (g->item) {
		g->keep = true;
		return mqb_collection_async_readd(r->in, g->item);
	}
	mqb_entity_async_remove(g->e);
	return add_entity(g, object_id, NULL);
}

static int remove_service(struct groups *r, const json_t *data)
{
	const char *object_id = json_string_value(json_object_get(data, "object_id"));
	char entity_id[MQB_MAX_ENTITY_ID_LEN + 1];
	snprintf(entity_id, sizeof entity_id, "group.%s", object_id);
	struct ogroup *g = find_group(r, entity_id);
	if (!g) {
		MQB_LOG_WARNING(GROUP_SUB, "remove:Group '%s' doesn't exist!", object_id);
		return 0;
	}
	if (g->item) {
		/* the block's groups come and go with the file (group.reload) */
		MQB_LOG_WARNING(GROUP_SUB,
				"remove: %s is configured in the file: change the file and "
				"call group.reload",
				entity_id);
		return -EPERM;
	}
	unlink_group(r, g);
	mqb_entity_async_remove(g->e);
	ogroup_clear(g);
	free(g);
	return 0;
}

static int services(void *ud, void *arg, void **result)
{
	(void)result;
	struct groups *r = ud;
	const struct mqb_service_call *call = arg;
	const json_t *data = mqb_service_call_data(call);
	if (strcmp(mqb_service_call_service(call), "set") == 0)
		return set_service(r, data);
	return remove_service(r, data);
}

/* ---- the component ------------------------------------------------------------ */

static int setup(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	struct groups *r = registry(in);
	if (!r)
		return -ENOMEM;
	struct mqb_core *core = mqb_integration_core(in);
	/* set and remove run as callbacks, one at a time (the service lock) */
	int rc = mqb_services_async_register(core, GROUP_SUB, "set", &MQB_CALLBACK(services, r),
					     validate, "set");
	if (!rc)
		rc = mqb_services_async_register(core, GROUP_SUB, "remove",
						 &MQB_CALLBACK(services, r), validate, "remove");
	int crc = mqb_collection_async_setup(in, &collection, entries, n);
	return rc ? rc : crc;
}

static const struct mqb_component component = {
	.shape = MQB_COMPONENT_MAPPING,
	.check = check,
	.async_setup = setup,
	.async_reload = mqb_collection_async_reload,
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = GROUP_SUB,
	.domains = group_domains,
	.ndomains = GROUP_NDOMAINS,
	.component = &component,
};
