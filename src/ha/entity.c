/* SPDX-License-Identifier: MIT */
/* The entity registry: platforms and the entities they add, their ids,
 * cached values and their writes to the state machine; polling with Home
 * Assistant's skip-and-warn and parallel_updates; and the entity services
 * of each domain (ha/domains.c), dispatched to the entity. A platform here is struct
 * mqb_platform, one configuration item of an integration x domain (one of
 * mqtt's sensors) or a component's domain, not the module's descriptor
 * (struct mqb_platform_desc) nor the loader (daemon/loader.c) that makes
 * one out of the other. */
#include "lib/internal.h"
#include "core/hass.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ev.h>

#include "mqbridge/bus.h"
#include "mqbridge/coro.h"
#include "mqbridge/future.h"
#include "mqbridge/services.h"
#include "mqbridge/states.h"
#include "mqbridge/template.h"

#include "ha/domains.h"
#include "ha/entity_impl.h"
#include "ha/restore_impl.h"
#include "lib/hashmap.h"

#define SUB "entity"

/* An update running longer than this is logged by name (Home Assistant's
 * SLOW_UPDATE_WARNING). */
#define SLOW_UPDATE 10.0

/* 104 bytes on 64 bits: a configuration item has one (100,000 sensors, 100,000
 * items), so the counts, which stay far below 4 billion, are 32 bits. */
struct mqb_platform {
	struct registry *reg;
	const struct mqb_platform_desc *desc;
	const struct mqb_platform_domain *dom;
	/* Who counts the updates running at once: the platform of its
	 * integration x domain, itself for that one. A configuration item's
	 * platform shares it with the other items of the pair. */
	struct mqb_platform *group;
	struct mqb_entity **waiting; /* FIFO of entities whose update waits for a slot */
	void (*release)(void *ud);
	void *release_ud;
	struct mqb_platform *next, *prev;
	uint32_t nwaiting, capwaiting, headwaiting;
	unsigned limit;           /* updates at once; 0: unbounded */
	unsigned running;
	/* A configuration item's platform (entities__async_item_platform):
	 * held by the item until it goes, and by each entity until it is
	 * freed; release runs when the last lets go. */
	uint32_t refs;
	bool limit_set;
	bool item, gone;
};

/* 160 bytes on 64 bits, and its strings after it: an MQTT sensor's
 * takes some 200 bytes in all, 100,000 of them 20 MB. */
struct mqb_entity {
	struct registry *reg;
	struct mqb_platform *p;
	char *entity_id;          /* in strings: "domain.object_id" */
	const char *object_id;    /* inside entity_id */
	struct entity_meta meta;  /* strings in strings */
	const struct mqb_entity_ops *ops;
	void *priv;
	char *state;              /* NULL: unknown */
	json_t *attributes;       /* NULL: none */
	struct polling *polling;  /* entities with updates only */
	void *bridge;
	unsigned long long invalid_states;
	unsigned busy;            /* updates and commands running with it */
	bool available : 1;
	bool updating : 1, waiting : 1;
	bool render_failed : 1;   /* a render error was logged; quiet until one succeeds */
	bool invalid_logged : 1;
	bool removed : 1;
	bool detached : 1;        /* mqb_entity_async_remove took it out of the registry */
	bool leaving : 1;         /* detached, still in the registry's array for a moment */
	bool force_update : 1;
	/* The entity id and the meta strings, which never change: one
	 * allocation with the entity rather than one each (some 100 bytes of
	 * malloc's headers and rounding an MQTT sensor). */
	char strings[];
};

/* What an entity that updates itself needs; most (MQTT's) do not, and a
 * configuration of 100,000 of them spares the two timers each. */
struct polling {
	ev_timer poll;
	ev_timer slow;
	double update_started;
	double scan_interval;
};

/* The discovery payload of an entity that adds nothing to it, shared. */
static json_t *no_discovery;

struct registry {
	struct mqb_core *core;
	char *node_id;
	char *node_name;          /* NULL: the node id */
	char *config_dir;
	struct mqb_platform *platforms;
	struct mqb_platform *items;   /* the configuration items' platforms */
	struct mqb_entity **v;    /* in the order added */
	size_t n, cap;
	struct hashmap by_id;
	bool started, stopping;
	const struct domain **registered; /* domains whose services are registered */
	size_t nregistered, capregistered;
	void (*on_added)(void *ud, struct mqb_entity *e);
	void *on_added_ud;
	void (*on_removed)(void *ud, struct mqb_entity *e, size_t index);
	void *on_removed_ud;
};

static struct registry *reg_of(struct mqb_core *core)
{
	return core__slot(core, CORE_SLOT_ENTITIES);
}

/* ---- slugify ------------------------------------------------------------ */

/* Latin-1 Supplement and Latin Extended-A letters without their accents
 * (what unidecode gives python-slugify for the names people write). */
static const char *const latin1[64] = {
	"a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o", "o", "o", "x", "o", "u", "u", "u", "u", "y", "th", "ss",
	"a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y",
};
static const char ext_a[] = "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkklllllllllln"
			    "nnnnnnnnoooooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

char *mqb_slugify(const char *name, char *out, size_t outlen)
{
	size_t o = 0;
	bool sep = false;
	if (!outlen)
		return out;
	for (const unsigned char *s = (const unsigned char *)name; s && *s;) {
		const char *rep = NULL;
		char one[2] = {0, 0};
		if (*s < 0x80) {
			unsigned char c = *s++;
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
				one[0] = (char)c;
				rep = one;
			}
		} else if ((*s & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) {
			unsigned cp = ((unsigned)(*s & 0x1F) << 6) | (s[1] & 0x3F);
			s += 2;
			if (cp >= 0xC0 && cp < 0x100)
				rep = latin1[cp - 0xC0];
			else if (cp >= 0x100 && cp < 0x100 + sizeof ext_a - 1) {
				one[0] = ext_a[cp - 0x100];
				rep = one;
			}
		} else {
			s++;
			while ((*s & 0xC0) == 0x80)
				s++;
		}
		if (!rep || !*rep) {
			sep = o > 0;
			continue;
		}
		if (sep && o + 1 < outlen)
			out[o++] = '_';
		sep = false;
		for (; *rep && o + 1 < outlen; rep++)
			out[o++] = *rep;
	}
	out[o] = '\0';
	return out;
}

/* ---- platforms ---------------------------------------------------------- */

struct mqb_platform *entities__platform(struct mqb_core *core, const struct mqb_platform_desc *desc,
					const struct mqb_platform_domain *dom)
{
	struct registry *r = reg_of(core);
	for (struct mqb_platform *p = r->platforms; p; p = p->next)
		if (p->desc == desc && p->dom == dom)
			return p;
	struct mqb_platform *p = mqb__calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->reg = r;
	p->desc = desc;
	p->dom = dom;
	p->group = p;
	p->limit = dom->parallel_updates;
	p->limit_set = dom->parallel_updates > 0;
	p->next = r->platforms;
	r->platforms = p;
	return p;
}

struct mqb_platform *entities__async_item_platform(struct mqb_core *core,
						   const struct mqb_platform_desc *desc,
						   const struct mqb_platform_domain *dom,
						   void (*release)(void *ud), void *ud)
{
	struct registry *r = reg_of(core);
	MQB_ASSERT_LOOP(core);
	struct mqb_platform *group = entities__platform(core, desc, dom);
	struct mqb_platform *p = group ? mqb__calloc(1, sizeof *p) : NULL;
	if (!p)
		return NULL;
	*p = (struct mqb_platform){.reg = r, .desc = desc, .dom = dom, .group = group,
				   .item = true, .refs = 1, .release = release, .release_ud = ud,
				   .next = r->items};
	if (r->items)
		r->items->prev = p;
	r->items = p;
	return p;
}

static void platform_free(struct mqb_platform *p)
{
	struct registry *r = p->reg;
	if (p->prev)
		p->prev->next = p->next;
	else
		r->items = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (p->release)
		p->release(p->release_ud);
	mqb__free(p);
}

/* An entity of p, or the item, lets go of it. */
static void platform_unref(struct mqb_platform *p)
{
	if (p->item && --p->refs == 0)
		platform_free(p);
}

struct mqb_core *mqb_platform_core(const struct mqb_platform *p)
{
	return p->reg->core;
}

const char *mqb_platform_integration(const struct mqb_platform *p)
{
	return p->desc->name;
}

const char *mqb_platform_domain(const struct mqb_platform *p)
{
	return p->dom->domain;
}

const char *mqb_platform_node_id(const struct mqb_platform *p)
{
	return p->reg->node_id;
}

const char *mqb_platform_node_name(const struct mqb_platform *p)
{
	return p->reg->node_name ? p->reg->node_name : p->reg->node_id;
}

int entities__set_node_name(struct mqb_core *core, const char *name)
{
	struct registry *r = reg_of(core);
	char *copy = mqb__strdup(name);
	if (!copy)
		return -ENOMEM;
	mqb__free(r->node_name);
	r->node_name = copy;
	return 0;
}

const char *mqb_platform_config_dir(const struct mqb_platform *p)
{
	return p->reg->config_dir ? p->reg->config_dir : "/";
}

const char *entities__node_id(struct mqb_core *core)
{
	return reg_of(core)->node_id;
}

const char *entities__config_dir(struct mqb_core *core)
{
	struct registry *r = reg_of(core);
	return r->config_dir ? r->config_dir : "/";
}

int entities__set_config_dir(struct mqb_core *core, const char *dir)
{
	struct registry *r = reg_of(core);
	char *copy = mqb__strdup(dir);
	if (!copy)
		return -ENOMEM;
	mqb__free(r->config_dir);
	r->config_dir = copy;
	return 0;
}

/* ---- the registry ------------------------------------------------------- */

static void stop_polling(struct ev_loop *loop, struct mqb_entity *e)
{
	if (e->polling) {
		ev_timer_stop(loop, &e->polling->poll);
		ev_timer_stop(loop, &e->polling->slow);
	}
}

static void entity_free(struct mqb_entity *e)
{
	if (e->ops && e->ops->free)
		e->ops->free(e->priv);
	if (e->p)
		platform_unref(e->p);
	json_decref((json_t *)e->meta.discovery);
	json_decref(e->attributes);
	mqb__free(e->state);
	mqb__free(e->bridge);
	mqb__free(e->polling);
	mqb__free(e);
}

static void registry_free(struct registry *r)
{
	struct mqb_core *core = r->core;
	struct ev_loop *loop = core__loop(core);
	for (size_t i = 0; i < r->n; i++) {
		stop_polling(loop, r->v[i]);
		entity_free(r->v[i]);
	}
	/* the items still configured: what they hold goes with them */
	while (r->items)
		platform_free(r->items);
	for (struct mqb_platform *p = r->platforms, *next; p; p = next) {
		next = p->next;
		mqb__free(p->waiting);
		mqb__free(p);
	}
	hashmap__fini(&r->by_id);
	mqb__free(r->registered);
	mqb__free(r->v);
	mqb__free(r->node_id);
	mqb__free(r->node_name);
	mqb__free(r->config_dir);
	mqb__free(r);
}

static void registry_fini(struct mqb_core *core, void *registry)
{
	registry_free(registry);
}

/* mqbridge_stop: entities stop their timers and subscriptions while the
 * loop still runs. */
static int on_stop(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct registry *r = ud;
	struct ev_loop *loop = core__loop(r->core);
	r->stopping = true;
	for (size_t i = 0; i < r->n; i++) {
		struct mqb_entity *e = r->v[i];
		stop_polling(loop, e);
		if (!e->removed && e->ops->async_will_remove)
			e->ops->async_will_remove(e, e->priv);
		e->removed = true;
	}
	return 0;
}

int entities__init(struct mqb_core *core, const char *node_id)
{
	MQB_ASSERT_LOOP(core);
	if (reg_of(core))
		return -EEXIST;
	struct registry *r = mqb__calloc(1, sizeof *r);
	if (!r || !(r->node_id = mqb__strdup(node_id ? node_id : "mqbridge"))) {
		mqb__free(r);
		return -ENOMEM;
	}
	r->core = core;
	hashmap__init(&r->by_id);
	int rc = mqb_bus_async_listen(core, MQB_EVENT_STOP, &MQB_CALLBACK(on_stop, r), NULL);
	if (rc) {
		registry_free(r);
		return rc;
	}
	static const struct core_slot_ops ops = {.fini = registry_fini};
	core__slot_set(core, CORE_SLOT_ENTITIES, r, &ops);
	return 0;
}

void entities__on_added(struct mqb_core *core, void (*fn)(void *ud, struct mqb_entity *e),
			void *ud)
{
	struct registry *r = reg_of(core);
	r->on_added = fn;
	r->on_added_ud = ud;
}

void entities__on_removed(struct mqb_core *core,
			  void (*fn)(void *ud, struct mqb_entity *e, size_t index), void *ud)
{
	struct registry *r = reg_of(core);
	r->on_removed = fn;
	r->on_removed_ud = ud;
}

size_t mqb_entities_async_count(struct mqb_core *core)
{
	MQB_ASSERT_LOOP(core);
	struct registry *r = reg_of(core);
	return r ? r->n : 0;
}

struct mqb_entity *mqb_entities_async_get(struct mqb_core *core, size_t i)
{
	MQB_ASSERT_LOOP(core);
	struct registry *r = reg_of(core);
	return r && i < r->n ? r->v[i] : NULL;
}

struct mqb_entity *mqb_entities_async_find(struct mqb_core *core, const char *entity_id)
{
	MQB_ASSERT_LOOP(core);
	struct registry *r = reg_of(core);
	return r ? hashmap__get(&r->by_id, entity_id, strlen(entity_id)) : NULL;
}

/* ---- entity services ---------------------------------------------------- */

static void entity_release(struct mqb_entity *e);

static int command_one(struct mqb_entity *e, const char *service, const json_t *data)
{
	/* a command may await: the entity stays until it returns, even if it
	 * is removed meanwhile */
	e->busy++;
	int rc = e->ops->async_command(e, e->priv, service, data);
	if (rc == -ENOTSUP && strcmp(service, "toggle") == 0 && !e->detached) {
		bool on = e->state && strcmp(e->state, "on") == 0;
		rc = e->ops->async_command(e, e->priv, on ? "turn_off" : "turn_on", data);
	}
	if (rc && rc != -ECANCELED)
		MQB_LOG_WARNING(SUB, "%s: %s.%s failed: %s", e->entity_id, mqb_entity_domain(e),
				service, mqb_strerror(rc));
	e->busy--;
	entity_release(e);
	return rc;
}

/* Home Assistant's expand_entity_ids (helpers/group.py), which entity
 * services apply to their targets: a group.* entity stands for the ids
 * in its entity_id attribute, groups within groups too, each id once;
 * ids[i] becomes entries of out, *via[i] telling which came through a
 * group (those of another domain are not the call's business). */
#define EXPAND_DEPTH 16

static void expand_one(struct mqb_core *core, const char *id, bool via, unsigned depth,
		       json_t *out, json_t *seen)
{
	if (json_object_get(seen, id))
		return;
	json_object_set_new(seen, id, json_boolean(via));
	if (strncmp(id, "group.", 6) != 0 || depth >= EXPAND_DEPTH) {
		json_array_append_new(out, json_string(id));
		return;
	}
	struct mqb_state *s = mqb_states_async_get(core, id);
	const json_t *members = s ? json_object_get(mqb_state_attributes(s), "entity_id") : NULL;
	size_t i;
	const json_t *m;
	json_array_foreach(members, i, m)
		if (json_is_string(m))
			expand_one(core, json_string_value(m), true, depth + 1, out, seen);
	mqb_state_unref(s);
}

/* A service call: its entity_id (a string, a comma-separated string or a
 * list) names the targets, also inside target:, groups standing for their
 * members. Runs as a COROUTINE, so an entity's command may await. */
static int service_handler(void *ud, void *arg, void **result)
{
	(void)result;
	struct registry *r = ud;
	const struct mqb_service_call *call = arg;
	const char *domain = mqb_service_call_domain(call);
	const char *service = mqb_service_call_service(call);
	const json_t *data = mqb_service_call_data(call);
	const json_t *given = json_object_get(data, "entity_id");
	if (!given)
		given = json_object_get(json_object_get(data, "target"), "entity_id");
	json_t *ids = json_array(), *seen = json_object();
	if (json_is_string(given)) {
		char *copy = mqb__strdup(json_string_value(given));
		for (char *save = NULL, *tok = copy ? strtok_r(copy, ", ", &save) : NULL; tok;
		     tok = strtok_r(NULL, ", ", &save))
			expand_one(r->core, tok, false, 0, ids, seen);
		mqb__free(copy);
	}
	size_t i;
	const json_t *id;
	json_array_foreach(given, i, id) {
		if (json_is_string(id))
			expand_one(r->core, json_string_value(id), false, 0, ids, seen);
		else
			json_array_append_new(ids, json_null()); /* "(not a string)" below */
	}
	int status = 0;
	json_array_foreach(ids, i, id) {
		const char *eid = json_string_value(id);
		struct mqb_entity *e = eid ? hashmap__get(&r->by_id, eid, strlen(eid)) : NULL;
		bool via = eid && json_is_true(json_object_get(seen, eid));
		if (via && (strncmp(eid, domain, strlen(domain)) != 0 || eid[strlen(domain)] != '.'))
			continue; /* a group's member of another domain */
		if (!e || strcmp(mqb_entity_domain(e), domain) != 0 || !e->ops->async_command) {
			MQB_LOG_WARNING(SUB, "%s.%s: no such entity %s", domain, service,
					eid ? eid : "(not a string)");
			status = -MQB_E_NOTFOUND;
			continue;
		}
		int rc = command_one(e, service, data);
		if (rc)
			status = rc;
	}
	json_decref(ids);
	json_decref(seen);
	return status;
}

/* The domain's entity services (ha/domains.c), once per registry. */
static int register_services(struct registry *r, const char *domain)
{
	const struct domain *d = domains__get(domain);
	if (!d->services)
		return 0;
	for (size_t i = 0; i < r->nregistered; i++)
		if (r->registered[i] == d)
			return 0;
	if (r->nregistered == r->capregistered) {
		size_t cap = r->capregistered ? 2 * r->capregistered : 8;
		const struct domain **v = mqb__realloc(r->registered, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		r->registered = v;
		r->capregistered = cap;
	}
	for (const char *const *s = d->services; *s; s++) {
		int rc = mqb_services_async_register(r->core, domain, *s,
						     &MQB_COROUTINE(service_handler, r), NULL, NULL);
		if (rc)
			return rc;
	}
	r->registered[r->nregistered++] = d;
	return 0;
}

/* ---- adding ------------------------------------------------------------- */

/* s (may be NULL) copied at *at, which moves past it; NULL stays NULL. */
static const char *put_opt(char **at, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = memcpy(*at, s, n);
	*at += n;
	return d;
}

static size_t opt_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static void poll_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void slow_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* An entity id is domain.slug, and a clash adds _2, _3, ...: the slug is cut
 * so that the id with this many more bytes (a million clashes) still fits
 * in MQB_MAX_ENTITY_ID_LEN. */
#define CLASH_SUFFIX_MAX 7

/* A new entity of p, not yet in the registry: its id, unique now, its
 * description copied, its timers made. It owns priv from the start, so
 * priv is freed when this fails. 0, -EINVAL (no name to make an id of,
 * logged) or -ENOMEM. */
static int entity_new(struct mqb_platform *p, const struct mqb_entity_info *info,
		      const struct mqb_entity_ops *ops, void *priv, struct mqb_entity **out)
{
	struct registry *r = p->reg;
	const char *domain = p->dom->domain;
	struct mqb_entity *e = NULL;
	char slug[MQB_MAX_ENTITY_ID_LEN + 1] = "";
	const char *base = info->object_id ? info->object_id : info->name;
	int rc = -EINVAL;
	size_t room = MQB_MAX_ENTITY_ID_LEN - strlen(domain) - 1 - CLASH_SUFFIX_MAX;
	if (base)
		mqb_slugify(base, slug, room + 1);
	if (!slug[0]) {
		MQB_LOG_ERROR(SUB, "%s %s: an entity needs a name or an object_id", p->desc->name,
			      domain);
		goto out;
	}
	/* made here, then copied with the entity: kept by every entity */
	char id[MQB_MAX_ENTITY_ID_LEN + sizeof "_4294967295"];
	snprintf(id, sizeof id, "%s.%s", domain, slug);
	for (unsigned n = 2; hashmap__get(&r->by_id, id, strlen(id)); n++)
		snprintf(id, sizeof id, "%s.%s_%u", domain, slug, n);
	size_t strings = strlen(id) + 1 + opt_size(info->name) + opt_size(info->unique_id) +
			 opt_size(info->icon) + opt_size(info->device_class) +
			 opt_size(info->state_class) + opt_size(info->unit_of_measurement) +
			 opt_size(info->entity_category);
	rc = -ENOMEM;
	if (!(e = mqb__calloc(1, sizeof *e + strings)))
		goto out;
	e->reg = r;
	e->p = p;
	p->refs++;
	e->ops = ops;
	e->priv = priv;
	e->available = !info->unavailable;
	char *at = e->strings;
	e->entity_id = (char *)put_opt(&at, id);
	e->object_id = e->entity_id + strlen(domain) + 1;
	e->meta.name = put_opt(&at, info->name);
	e->meta.unique_id = put_opt(&at, info->unique_id);
	e->meta.icon = put_opt(&at, info->icon);
	e->meta.device_class = put_opt(&at, info->device_class);
	e->meta.state_class = put_opt(&at, info->state_class);
	e->meta.unit = put_opt(&at, info->unit_of_measurement);
	e->meta.category = put_opt(&at, info->entity_category);
	if (!info->discovery || json_object_size(info->discovery) == 0) {
		if (!no_discovery && !(no_discovery = json_object()))
			goto out;
		e->meta.discovery = json_incref(no_discovery);
	} else if (!(e->meta.discovery = json_deep_copy(info->discovery))) {
		goto out;
	}
	e->force_update = info->force_update;
	if (info->state && !(e->state = mqb__strdup(info->state)))
		goto out;
	if (e->ops->update || e->ops->async_update) {
		if (!(e->polling = mqb__calloc(1, sizeof *e->polling)))
			goto out;
		ev_timer_init(&e->polling->poll, poll_cb, 0, 0);
		e->polling->poll.data = e;
		ev_timer_init(&e->polling->slow, slow_cb, SLOW_UPDATE, SLOW_UPDATE);
		e->polling->slow.data = e;
		e->polling->scan_interval = info->scan_interval;
	}
	rc = 0;
out:
	if (rc && e)
		entity_free(e);
	else if (rc && ops->free)
		ops->free(priv);
	*out = rc ? NULL : e;
	return rc;
}

/* Put e in the registry, with its domain's services registered when it
 * takes commands; on error the registry is as it was. */
static int registry_add(struct registry *r, struct mqb_entity *e)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct mqb_entity **v = mqb__realloc(r->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	if (hashmap__put(&r->by_id, e->entity_id, strlen(e->entity_id), e, NULL))
		return -ENOMEM;
	int rc = e->ops->async_command ? register_services(r, e->p->dom->domain) : 0;
	if (rc) {
		hashmap__remove(&r->by_id, e->entity_id, strlen(e->entity_id));
		return rc;
	}
	struct mqb_platform *p = e->p->group;
	if (!p->limit_set && (e->ops->update || e->ops->async_update)) {
		/* Home Assistant: 1 for blocking updates, unbounded for async */
		p->limit = e->ops->update ? 1 : 0;
		p->limit_set = true;
	}
	r->v[r->n++] = e;
	return 0;
}

int mqb_platform_async_add_entity(struct mqb_platform *p, const struct mqb_entity_info *info,
				  const struct mqb_entity_ops *ops, void *priv,
				  struct mqb_entity **out)
{
	struct registry *r = p->reg;
	MQB_ASSERT_LOOP(r->core);
	static const struct mqb_entity_ops no_ops;
	struct mqb_entity *e;
	int rc = entity_new(p, info, ops ? ops : &no_ops, priv, &e);
	if (rc)
		return rc;
	if ((rc = registry_add(r, e))) {
		entity_free(e);
		return rc;
	}
	if (e->ops->async_added && (rc = e->ops->async_added(e, priv)))
		MQB_LOG_ERROR(SUB, "%s: setting up failed: %s", e->entity_id, mqb_strerror(rc));
	if (out)
		*out = e;
	MQB_LOG_DEBUG(SUB, "added %s (%s)", e->entity_id, p->desc->name);
	mqb_entity_async_write(e);
	if (r->on_added)
		r->on_added(r->on_added_ud, e);
	if (r->started && e->polling && e->polling->scan_interval > 0) {
		ev_timer_set(&e->polling->poll, e->polling->scan_interval, e->polling->scan_interval);
		ev_timer_start(core__loop(r->core), &e->polling->poll);
		mqb_entity_async_schedule_update(e);
	}
	return 0;
}

struct add_call {
	struct mqb_platform *p;
	const struct mqb_entity_info *info;
	const struct mqb_entity_ops *ops;
	void *priv;
	struct mqb_entity **out;
};

static int add_on_loop(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct add_call *c = ud;
	return mqb_platform_async_add_entity(c->p, c->info, c->ops, c->priv, c->out);
}

int mqb_platform_add_entity(struct mqb_platform *p, const struct mqb_entity_info *info,
			    const struct mqb_entity_ops *ops, void *priv, struct mqb_entity **out)
{
	struct add_call c = {p, info, ops, priv, out};
	int rc = mqb_call_threadsafe(p->reg->core, add_on_loop, &c, NULL);
	if (rc == -EDEADLK || rc == -ESHUTDOWN) {
		if (ops && ops->free)
			ops->free(priv);
	}
	return rc;
}

/* ---- properties --------------------------------------------------------- */

const char *mqb_entity_id(const struct mqb_entity *e) { return e->entity_id; }
const char *mqb_entity_domain(const struct mqb_entity *e) { return e->p->dom->domain; }
const char *mqb_entity_object_id(const struct mqb_entity *e) { return e->object_id; }
const char *mqb_entity_name(const struct mqb_entity *e) { return e->meta.name; }
struct mqb_core *mqb_entity_core(const struct mqb_entity *e) { return e->reg->core; }
struct mqb_platform *mqb_entity_platform(const struct mqb_entity *e) { return e->p; }
const struct entity_meta *entity__meta(const struct mqb_entity *e) { return &e->meta; }
const json_t *mqb_entity_device(const struct mqb_entity *e)
{
	return json_object_get(e->meta.discovery, "device");
}
bool entity__force_update(const struct mqb_entity *e) { return e->force_update; }
double entity__scan_interval(const struct mqb_entity *e)
{
	return e->polling ? e->polling->scan_interval : 0;
}
bool entity__controllable(const struct mqb_entity *e) { return e->ops->async_command != NULL; }
void **entity__bridge_slot(struct mqb_entity *e) { return &e->bridge; }

int mqb_entity_async_set_state(struct mqb_entity *e, const char *state)
{
	MQB_ASSERT_LOOP(e->reg->core);
	if (state && !mqb_state_value_valid(state)) {
		e->invalid_states++;
		if (!e->invalid_logged)
			MQB_LOG_WARNING(SUB,
					"%s: state dropped (over %d bytes or not UTF-8); the old one "
					"stays (logged once; %llu so far)",
					e->entity_id, MQB_MAX_STATE_LEN, e->invalid_states);
		e->invalid_logged = true;
		return -MQB_E_INVALID_STATE;
	}
	if (state && e->state && strcmp(state, e->state) == 0)
		return 0;
	char *s = NULL;
	if (state && !(s = mqb__strdup(state)))
		return -ENOMEM;
	mqb__free(e->state);
	e->state = s;
	return 0;
}

int mqb_entity_async_set_attributes(struct mqb_entity *e, json_t *attributes)
{
	MQB_ASSERT_LOOP(e->reg->core);
	if (attributes && !json_is_object(attributes)) {
		json_decref(attributes);
		return -EINVAL;
	}
	json_decref(e->attributes);
	e->attributes = attributes;
	return 0;
}

void mqb_entity_async_set_available(struct mqb_entity *e, bool available)
{
	MQB_ASSERT_LOOP(e->reg->core);
	e->available = available;
}

const char *mqb_entity_async_state(const struct mqb_entity *e)
{
	return e->state ? e->state : "unknown";
}

int mqb_entity_async_on_off(const struct mqb_entity *e, const char *service)
{
	if (strcmp(service, "turn_on") == 0)
		return 1;
	if (strcmp(service, "turn_off") == 0)
		return 0;
	if (strcmp(service, "toggle") == 0)
		return !e->state || strcmp(e->state, "on") != 0;
	return -ENOTSUP;
}

bool mqb_entity_async_available(const struct mqb_entity *e) { return e->available; }
const json_t *mqb_entity_async_attributes(const struct mqb_entity *e) { return e->attributes; }

static int set_str(json_t *o, const char *key, const char *v)
{
	return v ? json_object_set_new(o, key, json_string(v)) : 0;
}

int mqb_entity_async_write(struct mqb_entity *e)
{
	struct mqb_core *core = e->reg->core;
	MQB_ASSERT_LOOP(core);
	if (e->removed)
		return -ESHUTDOWN;
	json_t *attrs = e->attributes ? json_copy(e->attributes) : json_object();
	if (!attrs)
		return -ENOMEM;
	if (set_str(attrs, "unit_of_measurement", e->meta.unit) ||
	    set_str(attrs, "device_class", e->meta.device_class) ||
	    set_str(attrs, "state_class", e->meta.state_class) ||
	    set_str(attrs, "icon", e->meta.icon) || set_str(attrs, "friendly_name", e->meta.name) ||
	    hass__async_customize(core, e->entity_id, attrs)) {
		json_decref(attrs);
		return -ENOMEM;
	}
	const char *state = !e->available ? "unavailable" : e->state ? e->state : "unknown";
	int rc = mqb_states_async_set(core, e->entity_id, state, attrs, e->force_update);
	if (rc)
		MQB_LOG_WARNING(SUB, "%s: writing the state failed: %s", e->entity_id,
				mqb_strerror(rc));
	return rc;
}

int mqb_entity_async_render(struct mqb_entity *e, const char *option,
			    const struct mqb_template *t, const struct mqb_tpl_vars *vars,
			    char **out, size_t *len)
{
	struct mqb_core *core = e->reg->core;
	MQB_ASSERT_LOOP(core);
	struct mqb_tpl_vars v = vars ? *vars : (struct mqb_tpl_vars){0};
	json_t *this_json = NULL;
	if (!v.core)
		v.core = core;
	if (!v.this_state && mqb_template_uses_name(t, "this")) {
		/* building `this` costs more than most renders: only when read */
		struct mqb_state *s = mqb_states_async_get(core, e->entity_id);
		if (s) {
			this_json = mqb_state_to_json(s);
			mqb_state_unref(s);
		}
		v.this_state = this_json;
	}
	struct mqb_tpl_error err;
	int rc = mqb_template_render(t, &v, NULL, out, len, &err);
	json_decref(this_json);
	if (rc == 0) {
		if (e->render_failed)
			MQB_LOG_INFO(SUB, "%s: %s renders again", e->entity_id, option);
		e->render_failed = false;
		return 0;
	}
	if (!e->render_failed)
		MQB_LOG_WARNING(SUB,
				"%s: %s: error rendering the template (line %u, column %u): %s; "
				"the state stays %s",
				e->entity_id, option, err.line, err.column,
				rc == -ENOMEM ? "out of memory" : err.message,
				mqb_entity_async_state(e));
	e->render_failed = true;
	return rc;
}

/* ---- removing ----------------------------------------------------------- */

static void entity_free_cb(void *arg)
{
	entity_free(arg);
}

/* A detached entity goes once nothing runs with it, from the loop's next
 * round, so whoever removed it may still read it until it returns. */
static void entity_release(struct mqb_entity *e)
{
	if (!e->detached || e->busy)
		return;
	e->busy = 1; /* scheduled: never again */
	if (mqb_async_call_soon(e->reg->core, entity_free_cb, e))
		entity_free(e); /* the loop is gone: nothing can still hold it */
}

/* All of removing e but taking it out of the registry's array, where it
 * is at index now (SIZE_MAX: where it is once it has been told, which
 * may remove others). Returns the index. */
static size_t detach(struct registry *r, struct mqb_entity *e, size_t index)
{
	stop_polling(core__loop(r->core), e);
	struct mqb_platform *p = e->p->group;
	for (size_t i = 0, k = 0, n = p->nwaiting; i < n; i++) {
		struct mqb_entity *w = p->waiting[(p->headwaiting + i) % p->capwaiting];
		if (w == e) {
			p->nwaiting--;
			continue;
		}
		p->waiting[(p->headwaiting + k++) % p->capwaiting] = w;
	}
	e->waiting = false;
	if (!e->removed && e->ops->async_will_remove)
		e->ops->async_will_remove(e, e->priv);
	e->removed = true;
	/* its last state stays for one of the same id (Home Assistant) */
	restore__async_entity_removed(e);
	if (index == SIZE_MAX)
		for (index = 0; index < r->n && r->v[index] != e;)
			index++;
	if (r->on_removed)
		r->on_removed(r->on_removed_ud, e, index);
	int rc = mqb_states_async_remove(r->core, e->entity_id);
	if (rc && rc != -MQB_E_NOTFOUND)
		MQB_LOG_WARNING(SUB, "%s: removing its state: %s", e->entity_id, mqb_strerror(rc));
	hashmap__remove(&r->by_id, e->entity_id, strlen(e->entity_id));
	MQB_LOG_DEBUG(SUB, "removed %s", e->entity_id);
	e->detached = true;
	return index;
}

int mqb_entity_async_remove(struct mqb_entity *e)
{
	struct registry *r = e->reg;
	MQB_ASSERT_LOOP(r->core);
	if (e->detached || r->stopping)
		return -EALREADY;
	size_t index = detach(r, e, SIZE_MAX);
	if (index < r->n) {
		memmove(&r->v[index], &r->v[index + 1], (r->n - index - 1) * sizeof *r->v);
		r->n--;
	}
	entity_release(e);
	return 0;
}

void entities__async_remove_items(struct mqb_core *core, struct mqb_platform *const *v, size_t n)
{
	struct registry *r = reg_of(core);
	MQB_ASSERT_LOOP(core);
	for (size_t i = 0; i < n; i++)
		v[i]->gone = true;
	/* From the last to the first, each detached where it is, so that
	 * the index each is removed at counts only those before it; then
	 * the array closes up once: removing thousands stays one pass. */
	if (!r->stopping) {
		for (size_t k = r->n; k-- > 0;) {
			if (k >= r->n)
				continue; /* a removal's listener removed others */
			struct mqb_entity *e = r->v[k];
			if (!e->p->gone || e->detached)
				continue;
			detach(r, e, k);
			e->leaving = true;
		}
		size_t w = 0;
		for (size_t i = 0; i < r->n; i++) {
			struct mqb_entity *e = r->v[i];
			if (!e->leaving)
				r->v[w++] = e;
			else
				entity_release(e);
		}
		r->n = w;
	}
	for (size_t i = 0; i < n; i++)
		platform_unref(v[i]);
}

/* ---- polling ------------------------------------------------------------ */

static void update_begin(struct mqb_entity *e);

static void update_end(struct mqb_entity *e)
{
	struct mqb_platform *p = e->p->group;
	ev_timer_stop(core__loop(e->reg->core), &e->polling->slow);
	e->updating = false;
	e->busy--;
	entity_release(e);
	p->running--;
	while (p->nwaiting && !e->reg->stopping && (!p->limit || p->running < p->limit)) {
		struct mqb_entity *next = p->waiting[p->headwaiting];
		p->headwaiting = (p->headwaiting + 1) % p->capwaiting;
		p->nwaiting--;
		next->waiting = false;
		update_begin(next);
	}
}

struct blocking_update {
	struct mqb_entity *e;
	struct mqb_entity_update u;
};

static int run_update(void *ud, void *arg, void **result)
{
	(void)ud;
	(void)result;
	struct blocking_update *b = arg;
	return b->e->ops->update(b->e->priv, &b->u);
}

static void update_done(struct mqb_future *f, void *ud)
{
	struct blocking_update *b = ud;
	struct mqb_entity *e = b->e;
	int rc = mqb_future_status(f);
	if (rc == 0 && !e->removed) {
		if (b->u.state) {
			mqb_entity_async_set_state(e, b->u.state);
		}
		if (b->u.attributes) {
			mqb_entity_async_set_attributes(e, b->u.attributes);
			b->u.attributes = NULL;
		}
		if (b->u.available >= 0)
			e->available = b->u.available;
		mqb_entity_async_write(e);
	} else if (rc && rc != -ECANCELED) {
		MQB_LOG_DEBUG(SUB, "%s: update failed: %s", e->entity_id, mqb_strerror(rc));
	}
	free(b->u.state);
	json_decref(b->u.attributes);
	mqb__free(b);
	mqb_future_unref(f);
	update_end(e);
}

static int run_async_update(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct mqb_entity *e = ud;
	int rc = e->ops->async_update(e, e->priv);
	if (rc && rc != -ECANCELED)
		MQB_LOG_DEBUG(SUB, "%s: update failed: %s", e->entity_id, mqb_strerror(rc));
	if (e->updating)
		update_end(e);
	return rc;
}

static void update_begin(struct mqb_entity *e)
{
	struct mqb_core *core = e->reg->core;
	e->updating = true;
	e->busy++;
	e->p->group->running++;
	e->polling->update_started = ev_now(core__loop(core));
	ev_timer_start(core__loop(core), &e->polling->slow);
	int rc;
	if (e->ops->update) {
		struct blocking_update *b = mqb__calloc(1, sizeof *b);
		struct mqb_future *f = NULL;
		if (!b) {
			rc = -ENOMEM;
		} else {
			b->e = e;
			b->u.available = -1;
			rc = mqb_async_add_job(core, &MQB_EXECUTOR(run_update, NULL), b, NULL, &f);
			if (rc == 0 && (rc = mqb_future_async_add_done(f, update_done, b))) {
				/* the job runs, but nothing would hear of it: wait for it
				 * no longer (it frees nothing of ours: b is leaked only
				 * when the core is out of memory) */
				mqb_future_unref(f);
				b = NULL;
			}
			if (rc && b)
				mqb__free(b);
		}
	} else {
		rc = mqb_async_add_job(core, &MQB_COROUTINE(run_async_update, e), NULL, NULL, NULL);
	}
	if (rc) {
		if (rc != -ESHUTDOWN)
			MQB_LOG_WARNING(SUB, "%s: cannot start an update: %s", e->entity_id,
					mqb_strerror(rc));
		update_end(e);
	}
}

void mqb_entity_async_schedule_update(struct mqb_entity *e)
{
	struct mqb_platform *p = e->p->group;
	MQB_ASSERT_LOOP(e->reg->core);
	if (e->removed || e->reg->stopping || !(e->ops->update || e->ops->async_update))
		return;
	if (e->updating || e->waiting) {
		MQB_LOG_WARNING(SUB,
				"updating %s %s took longer than the scheduled update interval "
				"(%g s): this update is skipped",
				p->desc->name, e->entity_id, e->polling->scan_interval);
		return;
	}
	if (p->limit && p->running >= p->limit) {
		if (p->nwaiting == p->capwaiting) {
			uint32_t cap = p->capwaiting ? 2 * p->capwaiting : 8;
			struct mqb_entity **w = mqb__malloc(cap * sizeof *w);
			if (!w)
				return;
			for (size_t i = 0; i < p->nwaiting; i++)
				w[i] = p->waiting[(p->headwaiting + i) % p->capwaiting];
			mqb__free(p->waiting);
			p->waiting = w;
			p->capwaiting = cap;
			p->headwaiting = 0;
		}
		p->waiting[(p->headwaiting + p->nwaiting++) % p->capwaiting] = e;
		e->waiting = true;
		return;
	}
	update_begin(e);
}

static void poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	mqb_entity_async_schedule_update(w->data);
}

size_t entities__async_updating(struct mqb_core *core)
{
	struct registry *r = reg_of(core);
	MQB_ASSERT_LOOP(core);
	size_t n = 0;
	for (size_t i = 0; r && i < r->n; i++)
		n += r->v[i]->updating || r->v[i]->waiting;
	return n;
}

static void slow_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct mqb_entity *e = w->data;
	MQB_LOG_WARNING(SUB, "update of %s is taking over %.0f seconds", e->entity_id,
			ev_now(loop) - e->polling->update_started);
}

void entities__async_start(struct mqb_core *core)
{
	struct registry *r = reg_of(core);
	MQB_ASSERT_LOOP(core);
	if (!r || r->started)
		return;
	r->started = true;
	struct ev_loop *loop = core__loop(core);
	for (size_t i = 0; i < r->n; i++) {
		struct mqb_entity *e = r->v[i];
		if (e->polling && e->polling->scan_interval > 0) {
			ev_timer_set(&e->polling->poll, e->polling->scan_interval,
				     e->polling->scan_interval);
			ev_timer_start(loop, &e->polling->poll);
			mqb_entity_async_schedule_update(e);
		}
	}
}
