/* SPDX-License-Identifier: MIT */
/* Reloading the configuration without a restart: SIGHUP (the unit's
 * ExecReload), homeassistant.reload_all, reload_core_config and each
 * <integration>.reload read the file again in the pool, checked as at
 * start-up. A file with problems changes nothing: each is logged at its
 * file:line:column. Otherwise the entity items that changed are replaced,
 * those gone removed (ghost-free) and new ones set up, while an item
 * whose configuration is the same is not touched at all; each component
 * takes its new block (async_reload), one newly named is set up; what only
 * a restart changes (the broker, the node id, the threads) is named and
 * keeps its running value. One reload runs at a time, in the order asked. */
#include "lib/internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_impl.h"
#include "core/hass.h"
#include "daemon/loader.h"
#include "daemon/notify.h"
#include "daemon/options.h"
#include "daemon/reload.h"
#include "ha/entity_impl.h"
#include "ha/integration.h"
#include "lib/hashmap.h"
#include "mqbridge/bus.h"
#include "mqbridge/coro.h"
#include "mqbridge/future.h"
#include "mqbridge/services.h"

#define SUB "main"
#define DATA_KEY "mqbridge.reload"

/* The one place a reload tells the service manager about itself:
 * RELOADING=1 as a reload starts and READY=1 once what was read is in
 * force (or refused), as systemd's Type=notify-reload wants. */
static void reload_notify(bool reloading)
{
	notify__reloading(reloading);
}

/* ---- readings of the file ---------------------------------------------------- */

/* One reading of the configuration file, shared by what was set up from
 * it: the items' platforms (until their entities are gone) and the
 * components that took its blocks. The start-up's is main's, which frees
 * it after the core. */
struct gen {
	struct daemon_options *o;
	unsigned refs;
	bool borrowed;
};

static void gen_ref(void *p)
{
	((struct gen *)p)->refs++;
}

static void gen_unref(void *p)
{
	struct gen *g = p;
	if (!g || --g->refs)
		return;
	if (!g->borrowed) {
		options__fini(g->o);
		mqb__free(g->o);
	}
	mqb__free(g);
}

static const struct loader_owner gen_owner = {.hold = gen_ref, .release = gen_unref};

/* ---- the reloader ---------------------------------------------------------- */

/* A component as it runs: the block it was set up or last reloaded
 * with (in a reading its integration keeps). */
struct running_comp {
	struct mqb_integration *in;
	const struct mqb_component_entry *entries;
	size_t n;
};

struct request {
	enum reload_scope scope;
	char *name;                  /* RELOAD_INTEGRATION: whose */
	char *what;                  /* for the log */
	struct mqb_future *fut;      /* may be NULL */
	struct request *next;
};

struct reloader {
	struct mqb_core *core;
	const char *path;
	const struct daemon_options *boot;
	struct gen *boot_gen;
	/* The entity items set up and running, from whichever reading. */
	struct conf_item **live;
	size_t nlive, caplive;
	struct running_comp *comps;
	size_t ncomps, capcomps;
	json_t *customize[3];        /* what hass has: exact, domain, glob */
	void (*log_levels)(void *ud, const struct daemon_options *o);
	void *log_ud;
	bool ready, busy;
	struct request *head, **tail;
};

static struct reloader *reloader_of(struct mqb_core *core)
{
	return mqb_core_async_data(core, DATA_KEY);
}

static void request_end(struct request *q, int rc)
{
	if (q->fut) {
		mqb_future_resolve(q->fut, rc, NULL, NULL);
		mqb_future_unref(q->fut);
	}
	mqb__free(q->name);
	mqb__free(q->what);
	mqb__free(q);
}

static void reloader_free(void *p)
{
	struct reloader *r = p;
	while (r->head) {
		struct request *q = r->head;
		r->head = q->next;
		request_end(q, -ECANCELED);
	}
	for (int i = 0; i < 3; i++)
		json_decref(r->customize[i]);
	mqb__free(r->live);
	mqb__free(r->comps);
	gen_unref(r->boot_gen);
	mqb__free(r);
}

/* ---- live settings ------------------------------------------------------------ */

/* j if it is an object, else NULL (a null block customizes nothing). */
static json_t *object_or_null(json_t *j)
{
	if (json_is_object(j))
		return j;
	json_decref(j);
	return NULL;
}

static bool same_json(const json_t *a, const json_t *b)
{
	return a == b || (a && b && json_equal((json_t *)a, (json_t *)b));
}

/* homeassistant: customize, customize_domain and customize_glob, which
 * Home Assistant's reload_core_config applies to the entities at once.
 * 1 when they changed, 0 when not, -ENOMEM. */
static int apply_customize(struct reloader *r, const struct daemon_options *o)
{
	const struct mqb_conf_node *nodes[3] = {o->customize, o->customize_domain,
						o->customize_glob};
	json_t *v[3] = {NULL, NULL, NULL};
	for (int i = 0; i < 3; i++)
		if (nodes[i] && !(v[i] = mqb_conf_to_json(nodes[i]))) {
			for (int k = 0; k < i; k++)
				json_decref(v[k]);
			return -ENOMEM;
		}
	bool same = true;
	for (int i = 0; i < 3; i++) {
		v[i] = object_or_null(v[i]);
		same = same && same_json(v[i], r->customize[i]);
	}
	if (same) {
		for (int i = 0; i < 3; i++)
			json_decref(v[i]);
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		json_decref(r->customize[i]);
		r->customize[i] = v[i];
	}
	hass__set_customize(r->core, json_incref(v[0]), json_incref(v[1]), json_incref(v[2]));
	return 1;
}

/* What only a restart changes: the values the daemon started with
 * stay, and a reload says which of them the file now sets otherwise. */
enum setting_type { T_STR, T_TEXT, T_BOOL, T_INT, T_UINT, T_SIZE, T_DOUBLE, T_NODE };

struct setting {
	const char *name;
	size_t offset;
	enum setting_type type;
};

#define S(name, field, type) {name, offsetof(struct daemon_options, field), type}
static const struct setting restart_only[] = {
	S("mqbridge.node_id", node_id, T_STR),
	S("mqbridge.name", name, T_STR),
	S("mqbridge.executor_threads", core.executor_threads, T_UINT),
	S("mqbridge.executor_queue", core.executor_queue_max, T_UINT),
	S("mqbridge.shutdown_timeout", core.shutdown_timeout, T_DOUBLE),
	S("mqbridge.state_dir", state_dir, T_STR),
	S("mqtt", have_mqtt, T_BOOL),
	S("mqtt.broker", mqtt.host, T_STR),
	S("mqtt.port", mqtt.port, T_INT),
	S("mqtt.client_id", mqtt.client_id, T_STR),
	S("mqtt.username", mqtt.username, T_STR),
	S("mqtt.password", mqtt.password, T_STR),
	S("mqtt.keepalive", mqtt.keepalive, T_INT),
	S("mqtt.clean_session", mqtt.clean_session, T_BOOL),
	S("mqtt.protocol", mqtt.protocol, T_INT),
	S("mqtt.tls", mqtt.tls, T_BOOL),
	S("mqtt.tls.insecure", mqtt.tls_insecure, T_BOOL),
	S("mqtt.tls.ca_certs", mqtt.ca_file, T_STR),
	S("mqtt.tls.ca_path", mqtt.ca_path, T_STR),
	S("mqtt.tls.certfile", mqtt.cert_file, T_STR),
	S("mqtt.tls.keyfile", mqtt.key_file, T_STR),
	S("mqtt.base_topic", mqtt.base_topic, T_STR),
	S("mqtt.max_payload", mqtt.max_payload, T_SIZE),
	S("mqtt.max_inflight", mqtt.max_inflight, T_UINT),
	S("mqtt.outbound_queue", mqtt.outbound_queue_max, T_UINT),
	S("mqtt.reconnect_min", mqtt.reconnect_min, T_DOUBLE),
	S("mqtt.reconnect_max", mqtt.reconnect_max, T_DOUBLE),
	S("mqtt.discovery", discovery, T_BOOL),
	S("mqtt.discovery_prefix", discovery_prefix, T_STR),
	S("mqtt_statestream.base_topic", statestream_base, T_STR),
	S("mqtt_statestream.publish_attributes", statestream_attributes, T_BOOL),
	S("mqtt_statestream.publish_timestamps", statestream_timestamps, T_BOOL),
	S("mqtt_statestream.include", statestream_include, T_NODE),
	S("mqtt_statestream.exclude", statestream_exclude, T_NODE),
	S("homeassistant.latitude", location.latitude, T_DOUBLE),
	S("homeassistant.longitude", location.longitude, T_DOUBLE),
	S("homeassistant.elevation", location.elevation, T_DOUBLE),
	S("homeassistant.time_zone", location.time_zone, T_TEXT),
};
#undef S

static bool same_setting(const struct setting *s, const struct daemon_options *a,
			 const struct daemon_options *b)
{
	/* through void *: the fields are aligned, which a char * cast hides
	 * from -Wcast-align */
	const void *pa = (const char *)a + s->offset, *pb = (const char *)b + s->offset;
	switch (s->type) {
	case T_STR: {
		const char *x = *(const char *const *)pa, *y = *(const char *const *)pb;
		return x == y || (x && y && strcmp(x, y) == 0);
	}
	case T_TEXT:
		return strcmp(pa, pb) == 0;
	case T_BOOL:
		return *(const bool *)pa == *(const bool *)pb;
	case T_INT:
		return *(const int *)pa == *(const int *)pb;
	case T_UINT:
		return *(const unsigned *)pa == *(const unsigned *)pb;
	case T_SIZE:
		return *(const size_t *)pa == *(const size_t *)pb;
	case T_DOUBLE:
		return *(const double *)pa == *(const double *)pb;
	case T_NODE:
		return mqb_conf_equal(*(const struct mqb_conf_node *const *)pa,
				      *(const struct mqb_conf_node *const *)pb);
	}
	return true;
}

static bool same_log_levels(const struct daemon_options *a, const struct daemon_options *b)
{
	if (a->nlog_levels != b->nlog_levels)
		return false;
	for (size_t i = 0; i < a->nlog_levels; i++)
		if (a->log_levels[i].level != b->log_levels[i].level ||
		    strcmp(a->log_levels[i].subsystem, b->log_levels[i].subsystem) != 0)
			return false;
	return true;
}

/* Say which of the restart-only settings (those under prefix, or all)
 * the file now sets otherwise than they run; their values are not
 * shown (a password is one). */
static void restart_notes(struct reloader *r, const struct daemon_options *o, const char *what,
			  const char *prefix)
{
	for (size_t i = 0; i < MQB_ARRAY_SIZE(restart_only); i++) {
		const struct setting *s = &restart_only[i];
		if (prefix && strncmp(s->name, prefix, strlen(prefix)) != 0)
			continue;
		if (!same_setting(s, r->boot, o))
			MQB_LOG_WARNING(SUB, "%s: %s changed: it takes a restart; the running value "
					"stays", what, s->name);
	}
	/* other threads log while a subsystem's level would change */
	if (!prefix && !same_log_levels(r->boot, o))
		MQB_LOG_WARNING(SUB, "%s: logger.logs changed: it takes a restart; the running "
				"levels stay", what);
}

/* ---- entity items ------------------------------------------------------------- */

struct cand {
	struct conf_item *it;
	uint64_t hash;
	bool matched;
	size_t at;                   /* where it is in its list */
};

static int cand_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct cand *)a)->hash, y = ((const struct cand *)b)->hash;
	return x < y ? -1 : x > y;
}

static uint64_t item_hash(const struct conf_item *it)
{
	uint64_t h = conf__node_hash(it->node);
	h ^= (uint64_t)hashmap__hash(it->integration, strlen(it->integration)) << 32;
	return h ^ hashmap__hash(it->domain, strlen(it->domain));
}

static bool item_same(const struct conf_item *a, const struct conf_item *b)
{
	return strcmp(a->integration, b->integration) == 0 && strcmp(a->domain, b->domain) == 0 &&
	       mqb_conf_equal(a->node, b->node);
}

/* Pair the running items (old) with the file's (new): the same
 * integration, domain and configuration, each used once. Sorted by hash,
 * so 100,000 against 100,000 costs a sort, not 10^10 comparisons. */
static void match(struct cand *old, size_t nold, struct cand *new, size_t nnew)
{
	qsort(old, nold, sizeof *old, cand_cmp);
	qsort(new, nnew, sizeof *new, cand_cmp);
	size_t i = 0, j = 0;
	while (i < nold && j < nnew) {
		if (old[i].hash != new[j].hash) {
			if (old[i].hash < new[j].hash)
				i++;
			else
				j++;
			continue;
		}
		size_t i2 = i, j2 = j;
		while (i2 < nold && old[i2].hash == old[i].hash)
			i2++;
		while (j2 < nnew && new[j2].hash == new[j].hash)
			j2++;
		for (size_t a = i; a < i2; a++)
			for (size_t b = j; b < j2 && !old[a].matched; b++)
				if (!new[b].matched && item_same(old[a].it, new[b].it))
					old[a].matched = new[b].matched = true;
		i = i2;
		j = j2;
	}
}

static bool in_scope(const char *integration, const char *name)
{
	return !name || strcmp(integration, name) == 0;
}

/* What a reload did to the items. */
struct item_counts {
	size_t kept, added, removed;
};

/* The items of name (NULL: all): those running whose configuration is in
 * o are kept (o's copy is skipped); the others are removed (one whose
 * setup failed too, to be set up again); o's items not running are left
 * to set up. 0 or -ENOMEM (nothing changed). */
static int diff_items(struct reloader *r, struct daemon_options *o, const char *name,
		      struct item_counts *counts)
{
	size_t nold = 0, nnew = 0, ngone = 0, w = 0;
	struct cand *old = mqb__calloc(r->nlive + 1, sizeof *old);
	struct cand *new = mqb__calloc(o->nitems + 1, sizeof *new);
	bool *drop = mqb__calloc(r->nlive + 1, sizeof *drop);
	struct mqb_platform **gone = mqb__calloc(r->nlive + 1, sizeof *gone);
	int rc = -ENOMEM;
	if (!old || !new || !drop || !gone)
		goto out;
	for (size_t i = 0; i < r->nlive; i++) {
		struct conf_item *it = r->live[i];
		if (!in_scope(it->integration, name))
			continue;
		drop[i] = true; /* unless it matches */
		if (!it->failed)
			old[nold++] = (struct cand){it, item_hash(it), false, i};
	}
	for (size_t i = 0; i < o->nitems; i++) {
		struct conf_item *it = &o->items[i];
		it->skip = true;
		if (it->dom && in_scope(it->integration, name))
			new[nnew++] = (struct cand){it, item_hash(it), false, i};
	}
	match(old, nold, new, nnew);
	for (size_t i = 0; i < nnew; i++) {
		new[i].it->skip = new[i].matched;
		counts->added += !new[i].matched;
	}
	for (size_t i = 0; i < nold; i++) {
		drop[old[i].at] = !old[i].matched;
		counts->kept += old[i].matched;
	}
	for (size_t i = 0; i < r->nlive; i++) {
		struct conf_item *it = r->live[i];
		if (!drop[i]) {
			r->live[w++] = it;
			continue;
		}
		gone[ngone++] = it->p;
		MQB_LOG_DEBUG(SUB, "%s (%s %s): gone or changed: its entities are removed",
			      it->path, it->integration, it->domain);
	}
	r->nlive = w;
	counts->removed += ngone;
	entities__async_remove_items(r->core, gone, ngone);
	rc = 0;
out:
	mqb__free(old);
	mqb__free(new);
	mqb__free(drop);
	mqb__free(gone);
	return rc;
}

/* o's items just set up join the live list. 0 or -ENOMEM (they run
 * but a later reload will not know them). */
static int add_live(struct reloader *r, struct daemon_options *o)
{
	for (size_t i = 0; i < o->nitems; i++) {
		struct conf_item *it = &o->items[i];
		if (it->skip || !it->p)
			continue;
		if (r->nlive == r->caplive) {
			size_t cap = r->caplive ? 2 * r->caplive : 64;
			struct conf_item **v = mqb__realloc(r->live, cap * sizeof *v);
			if (!v)
				return -ENOMEM;
			r->live = v;
			r->caplive = cap;
		}
		r->live[r->nlive++] = it;
	}
	return 0;
}

/* ---- components -------------------------------------------------------------- */

static struct running_comp *running_of(struct reloader *r, const struct mqb_platform_desc *d)
{
	for (size_t i = 0; i < r->ncomps; i++)
		if (integration__desc(r->comps[i].in) == d)
			return &r->comps[i];
	return NULL;
}

static int add_running(struct reloader *r, struct mqb_integration *in,
		       const struct conf_component *c)
{
	if (r->ncomps == r->capcomps) {
		size_t cap = r->capcomps ? 2 * r->capcomps : 16;
		struct running_comp *v = mqb__realloc(r->comps, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		r->comps = v;
		r->capcomps = cap;
	}
	r->comps[r->ncomps++] = (struct running_comp){in, c->entries, c->n};
	return 0;
}

static bool same_entries(const struct running_comp *rc, const struct mqb_component_entry *v,
			 size_t n)
{
	if (rc->n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *a = rc->entries[i].key, *b = v[i].key;
		if ((a || b) && (!a || !b || strcmp(a, b) != 0))
			return false;
		if (!mqb_conf_equal(rc->entries[i].node, v[i].node))
			return false;
	}
	return true;
}

/* One running component takes its block as the file has it now (none:
 * it is gone from the file); one that cannot reload says a restart
 * applies a change. Returns how many reloaded (0 or 1). */
static size_t reload_component(struct reloader *r, struct gen *g, struct running_comp *rc,
			       const struct mqb_component_entry *entries, size_t n,
			       const char *what, bool fire)
{
	const char *name = mqb_integration_name(rc->in);
	const struct mqb_component *comp = integration__desc(rc->in)->component;
	if (!comp->async_reload) {
		if (!same_entries(rc, entries, n))
			MQB_LOG_WARNING(SUB, "%s: %s: its block changed, and %s cannot reload: it "
					"takes a restart; the running one stays", what, name, name);
		return 0;
	}
	int rc_ = comp->async_reload(rc->in, entries, n);
	if (rc_) {
		MQB_LOG_ERROR(SUB, "%s: %s: %s", what, name, mqb_strerror(rc_));
		return 0;
	}
	MQB_LOG_INFO(SUB, "%s reloaded: %zu entr%s", name, n, n == 1 ? "y" : "ies");
	gen_ref(g);
	integration__async_adopt(rc->in, g, gen_unref);
	rc->entries = entries;
	rc->n = n;
	if (fire) {
		/* as each of Home Assistant's reload services does */
		char type[MQB_MAX_EVENT_TYPE_LEN + 1];
		snprintf(type, sizeof type, "%s_reloaded", name);
		mqb_bus_async_fire(r->core, type, NULL);
	}
	return 1;
}

/* The components of name (NULL: all): each running one takes its new
 * block; one newly named is left to set up (not skipped). Returns how
 * many reloaded. */
static size_t reload_components(struct reloader *r, struct gen *g, const char *name,
				const char *what)
{
	struct daemon_options *o = g->o;
	bool *seen = mqb__calloc(r->ncomps + 1, sizeof *seen);
	size_t reloaded = 0;
	for (size_t i = 0; i < o->ncomponents; i++) {
		struct conf_component *c = &o->components[i];
		c->skip = true;
		if (!c->desc || !in_scope(c->name, name))
			continue;
		struct running_comp *rc = running_of(r, c->desc);
		if (!rc) {
			c->skip = false;
			continue;
		}
		if (seen)
			seen[rc - r->comps] = true;
		reloaded += reload_component(r, g, rc, c->entries, c->n, what, !name);
	}
	for (size_t i = 0; seen && i < r->ncomps; i++) {
		struct running_comp *rc = &r->comps[i];
		if (!seen[i] && in_scope(mqb_integration_name(rc->in), name))
			reloaded += reload_component(r, g, rc, NULL, 0, what, !name);
	}
	mqb__free(seen);
	return reloaded;
}

/* Components just set up join the running ones, keeping g. */
static void add_components(struct reloader *r, struct gen *g)
{
	struct daemon_options *o = g->o;
	for (size_t i = 0; i < o->ncomponents; i++) {
		struct conf_component *c = &o->components[i];
		if (c->skip || !c->desc)
			continue;
		struct mqb_integration *in = integration__async_new(r->core, c->desc);
		if (!in || add_running(r, in, c))
			continue; /* it runs; a later reload will not know it */
		gen_ref(g);
		integration__async_adopt(in, g, gen_unref);
	}
}

/* ---- one reload --------------------------------------------------------------- */

struct reading {
	const char *path;
	struct daemon_options *o;
	struct mqb_conf_errors errs;
};

/* Pool: the whole file again, checked as at start-up. */
static int read_file(void *ud, void *arg, void **result)
{
	(void)ud;
	(void)result;
	struct reading *rd = arg;
	return options__load(rd->path, rd->o, &rd->errs);
}

/* The file as it is now (a new reference), or NULL with the error in
 * *rc, logged. */
static struct gen *read_again(struct reloader *r, const char *what, int *rc_out)
{
	struct reading *rd = mqb__calloc(1, sizeof *rd);
	struct gen *g = rd ? mqb__calloc(1, sizeof *g) : NULL;
	struct daemon_options *o = g ? mqb__calloc(1, sizeof *o) : NULL;
	if (!o) {
		mqb__free(g);
		mqb__free(rd);
		*rc_out = -ENOMEM;
		return NULL;
	}
	*g = (struct gen){.o = o, .refs = 1};
	*rd = (struct reading){.path = r->path, .o = o};
	mqb_conf_errors_init(&rd->errs);
	struct mqb_future *f = NULL;
	int rc = mqb_async_add_job(r->core, &MQB_EXECUTOR(read_file, NULL), rd, NULL, &f);
	if (rc == 0) {
		rc = mqb_await(f, NULL);
		if (!mqb_future_done(f)) {
			/* cancelled at shutdown while the pool may still read
			 * into it: left to the process's end */
			mqb_future_unref(f);
			*rc_out = rc;
			return NULL;
		}
		mqb_future_unref(f);
	}
	for (size_t i = 0; i < rd->errs.n; i++) {
		const struct mqb_conf_error *e = &rd->errs.v[i];
		MQB_LOG_ERROR(SUB, "%s: %s:%u:%u: %s: %s", what, e->mark.file ? e->mark.file : "?",
			      e->mark.line, e->mark.column, e->path, e->message);
	}
	if (rc == -EINVAL)
		MQB_LOG_ERROR(SUB, "%s: the configuration has problems; the running one stays", what);
	else if (rc && rc != -ECANCELED)
		MQB_LOG_ERROR(SUB, "%s: cannot read %s: %s; the running configuration stays", what,
			      r->path, mqb_strerror(rc));
	mqb_conf_errors_fini(&rd->errs);
	mqb__free(rd);
	*rc_out = rc;
	if (rc) {
		gen_unref(g); /* options__load left nothing in o */
		return NULL;
	}
	return g;
}

static void setups_done(void *ud, size_t failed)
{
	mqb_future_resolve(ud, failed ? -EIO : 0, NULL, NULL);
	mqb_future_unref(ud);
}

/* Set up what g has that is neither running nor skipped, and wait. */
static int set_up_new(struct reloader *r, struct gen *g)
{
	struct daemon_options *o = g->o;
	struct mqb_future *f = mqb_future_new(r->core);
	if (!f)
		return -ENOMEM;
	struct loader_owner owner = gen_owner;
	owner.ud = g;
	int rc = loader__async_setup(r->core, o->items, o->nitems, o->components, o->ncomponents,
				     &owner, setups_done, mqb_future_ref(f));
	if (rc) {
		mqb_future_unref(f); /* the reference setups_done would have had */
		mqb_future_unref(f);
		return rc;
	}
	rc = mqb_await(f, NULL);
	mqb_future_unref(f);
	return rc;
}

/* The entities' states written again, for a customize that changed. */
static void rewrite_states(struct mqb_core *core)
{
	for (size_t i = 0, n = mqb_entities_async_count(core); i < n; i++)
		mqb_entity_async_write(mqb_entities_async_get(core, i));
}

static void register_services(struct reloader *r, const struct daemon_options *o);

static int reload_one(struct reloader *r, const struct request *q)
{
	int rc;
	MQB_LOG_INFO(SUB, "%s: reading %s again", q->what, r->path);
	struct gen *g = read_again(r, q->what, &rc);
	if (!g)
		return rc;
	struct daemon_options *o = g->o;
	if (q->scope != RELOAD_INTEGRATION) {
		restart_notes(r, o, q->what, q->scope == RELOAD_CORE ? "homeassistant." : NULL);
		int changed = apply_customize(r, o);
		if (changed > 0)
			rewrite_states(r->core);
		else if (changed < 0)
			MQB_LOG_ERROR(SUB, "%s: homeassistant.customize: %s", q->what,
				      mqb_strerror(changed));
	}
	if (q->scope == RELOAD_ALL && r->log_levels)
		r->log_levels(r->log_ud, o);
	if (q->scope == RELOAD_CORE) {
		MQB_LOG_INFO(SUB, "%s: homeassistant: reloaded", q->what);
		gen_unref(g);
		return 0;
	}
	const char *name = q->scope == RELOAD_INTEGRATION ? q->name : NULL;
	struct item_counts counts = {0};
	/* what goes, first: a changed item's new entities take the ids
	 * its old ones had */
	if ((rc = diff_items(r, o, name, &counts))) {
		MQB_LOG_ERROR(SUB, "%s: %s", q->what, mqb_strerror(rc));
		gen_unref(g);
		return rc;
	}
	size_t reloaded = reload_components(r, g, name, q->what);
	size_t before = mqb_entities_async_count(r->core);
	rc = set_up_new(r, g);
	if (rc && rc != -EIO) {
		MQB_LOG_ERROR(SUB, "%s: setting up what is new: %s", q->what, mqb_strerror(rc));
	} else {
		if (rc == -EIO)
			MQB_LOG_WARNING(SUB, "%s: some of what is new could not be set up (see "
					"above)", q->what);
		rc = 0;
		if (add_live(r, o))
			MQB_LOG_WARNING(SUB, "%s: out of memory: a later reload will not know what "
					"this one set up", q->what);
		add_components(r, g);
		if (!name)
			register_services(r, o);
	}
	if (counts.added || counts.removed || !q->name)
		MQB_LOG_INFO(SUB, "%s: %zu item(s) kept, %zu removed, %zu added (%zu entities now, "
			     "%zu before the new ones); %zu component(s) reloaded", q->what,
			     counts.kept, counts.removed, counts.added,
			     mqb_entities_async_count(r->core), before, reloaded);
	mqb__trim(); /* what the old entities and the reading used */
	gen_unref(g);
	return rc;
}

/* A COROUTINE: the reloads asked for, in order, until none is left. */
static int run_reloads(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct reloader *r = ud;
	struct request *q;
	while ((q = r->head)) {
		if (!(r->head = q->next))
			r->tail = &r->head;
		reload_notify(true);
		int rc = mqb_core_is_stopping(r->core) ? -ECANCELED : reload_one(r, q);
		reload_notify(false);
		request_end(q, rc);
	}
	r->busy = false;
	return 0;
}

static void kick(struct reloader *r)
{
	if (!r->ready || r->busy || !r->head)
		return;
	struct mqb_job job = MQB_COROUTINE(run_reloads, r);
	job.name = "reload";
	r->busy = true;
	int rc = mqb_async_add_job(r->core, &job, NULL, NULL, NULL);
	if (rc == 0)
		return;
	r->busy = false;
	while (r->head) {
		struct request *q = r->head;
		if (!(r->head = q->next))
			r->tail = &r->head;
		MQB_LOG_ERROR(SUB, "%s: cannot reload: %s", q->what, mqb_strerror(rc));
		request_end(q, rc);
	}
}

int reload__async_request(struct mqb_core *core, enum reload_scope scope, const char *name,
			  const char *what, struct mqb_future **out)
{
	MQB_ASSERT_LOOP(core);
	struct reloader *r = reloader_of(core);
	if (!r)
		return -ENOTSUP;
	if (mqb_core_is_stopping(core))
		return -ESHUTDOWN;
	struct request *q = mqb__calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	q->scope = scope;
	q->what = mqb__strdup(what);
	q->name = name ? mqb__strdup(name) : NULL;
	q->fut = out ? mqb_future_new(core) : NULL;
	if (!q->what || (name && !q->name) || (out && !q->fut)) {
		mqb_future_unref(q->fut);
		q->fut = NULL;
		request_end(q, -ENOMEM);
		return -ENOMEM;
	}
	if (out)
		*out = mqb_future_ref(q->fut);
	*r->tail = q;
	r->tail = &q->next;
	if (!r->ready || r->busy)
		MQB_LOG_INFO(SUB, "%s: a reload will follow %s", what,
			     r->ready ? "the one running" : "the start-up");
	kick(r);
	return 0;
}

/* ---- services ------------------------------------------------------------------ */

/* A COROUTINE: homeassistant.reload_all, reload_core_config, or an
 * integration's reload, answered once it is done. */
static int reload_service(void *ud, void *arg, void **result)
{
	(void)result;
	struct reloader *r = ud;
	const struct mqb_service_call *call = arg;
	const char *domain = mqb_service_call_domain(call);
	const char *service = mqb_service_call_service(call);
	enum reload_scope scope = strcmp(domain, "homeassistant") != 0 ? RELOAD_INTEGRATION
				  : strcmp(service, "reload_all") == 0 ? RELOAD_ALL
									: RELOAD_CORE;
	char what[MQB_MAX_EVENT_TYPE_LEN + 1];
	snprintf(what, sizeof what, "%s.%s", domain, service);
	struct mqb_future *f = NULL;
	int rc = reload__async_request(r->core, scope, domain, what, &f);
	if (rc == 0) {
		rc = mqb_await(f, NULL);
		mqb_future_unref(f);
	}
	return rc;
}

/* Home Assistant's reload services for what mqbridge configures as
 * entity items: the integrations' own (a component registers its
 * <domain>.reload itself), for those the file names. */
static const char *const item_reloads[] = {"mqtt", "command_line", "template", "group"};

static int register_one(struct reloader *r, const char *domain, const char *service)
{
	if (mqb_services_async_has(r->core, domain, service))
		return 0;
	struct mqb_job job = MQB_COROUTINE(reload_service, r);
	job.name = "reload";
	return mqb_services_async_register(r->core, domain, service, &job, hass__validate_no_data,
					   NULL);
}

static void register_services(struct reloader *r, const struct daemon_options *o)
{
	int rc = 0;
	if (!rc)
		rc = register_one(r, "homeassistant", "reload_all");
	if (!rc)
		rc = register_one(r, "homeassistant", "reload_core_config");
	for (size_t i = 0; i < MQB_ARRAY_SIZE(item_reloads) && !rc; i++) {
		bool named = false;
		for (size_t k = 0; k < o->nitems && !named; k++)
			named = strcmp(o->items[k].integration, item_reloads[i]) == 0;
		/* template: with trigger-based blocks only is a component */
		for (size_t k = 0; k < o->ncomponents && !named; k++)
			named = strcmp(o->components[k].name, item_reloads[i]) == 0;
		if (named)
			rc = register_one(r, item_reloads[i], "reload");
	}
	if (rc)
		MQB_LOG_ERROR(SUB, "cannot register the reload services: %s", mqb_strerror(rc));
}

/* ---- a component's own reload (mqb_integration_async_reload) ---------------- */

struct component_reload {
	struct mqb_integration *in;
	struct mqb_future *f;       /* the integration's */
};

static void component_reloaded(struct mqb_future *f, void *ud)
{
	struct component_reload *c = ud;
	integration__async_reload_done(c->in);
	mqb_future_resolve(c->f, mqb_future_status(f), NULL, NULL);
	mqb_future_unref(c->f);
	mqb_future_unref(f);
	mqb__free(c);
}

static int component_reload_start(void *ud, struct mqb_integration *in, struct mqb_future *f)
{
	(void)ud;
	struct mqb_core *core = mqb_integration_core(in);
	const char *name = mqb_integration_name(in);
	char what[MQB_MAX_EVENT_TYPE_LEN + 1];
	snprintf(what, sizeof what, "%s.reload", name);
	struct component_reload *c = mqb__calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	struct mqb_future *done = NULL;
	int rc = reload__async_request(core, RELOAD_INTEGRATION, name, what, &done);
	if (rc) {
		mqb__free(c);
		return rc;
	}
	*c = (struct component_reload){in, mqb_future_ref(f)};
	if ((rc = mqb_future_async_add_done(done, component_reloaded, c))) {
		/* the reload runs; only its end goes unheard (out of memory) */
		mqb_future_unref(c->f);
		mqb_future_unref(done);
		mqb__free(c);
		return rc;
	}
	return 0;
}

/* ---- set up ------------------------------------------------------------------- */

int reload__async_init(struct mqb_core *core, const struct daemon_options *boot,
		       const char *path)
{
	MQB_ASSERT_LOOP(core);
	struct reloader *r = mqb__calloc(1, sizeof *r);
	struct gen *g = r ? mqb__calloc(1, sizeof *g) : NULL;
	if (!g) {
		mqb__free(r);
		return -ENOMEM;
	}
	/* main's options: main frees them after the core */
	*g = (struct gen){.o = (struct daemon_options *)boot, .refs = 1, .borrowed = true};
	*r = (struct reloader){.core = core, .path = path, .boot = boot, .boot_gen = g};
	r->tail = &r->head;
	int rc = apply_customize(r, boot);
	if (rc >= 0)
		rc = mqb_core_async_set_data(core, DATA_KEY, r, reloader_free);
	if (rc < 0) {
		reloader_free(r);
		return rc;
	}
	return integration__async_set_reload(core, component_reload_start, NULL);
}

void reload__async_ready(struct mqb_core *core)
{
	struct reloader *r = reloader_of(core);
	if (!r || r->ready)
		return;
	struct daemon_options *o = r->boot_gen->o;
	int rc = add_live(r, o);
	for (size_t i = 0; i < o->ncomponents && !rc; i++) {
		struct conf_component *c = &o->components[i];
		struct mqb_integration *in = c->desc ? integration__async_new(core, c->desc) : NULL;
		if (in)
			rc = add_running(r, in, c);
	}
	if (rc)
		MQB_LOG_ERROR(SUB, "out of memory: a reload will not know what runs");
	register_services(r, o);
	r->ready = true;
	kick(r);
}

void reload__async_on_log_levels(struct mqb_core *core,
				 void (*fn)(void *ud, const struct daemon_options *o), void *ud)
{
	struct reloader *r = reloader_of(core);
	if (!r)
		return;
	r->log_levels = fn;
	r->log_ud = ud;
}
