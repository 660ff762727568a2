/* SPDX-License-Identifier: MIT */
/* The integration loader. An integration is a module, NAME.so, whose
 * descriptor (struct mqb_platform_desc) lists its entity domains; this
 * finds it in the platform directories (dlopen, API version checked),
 * checks each entity configuration against its domain's schema, and at
 * start-up (and for a reload, what it adds) runs each one's setup on a
 * platform of its own (struct mqb_platform, made by the entity registry):
 * blocking setups in the pool, async ones on the loop. */
#include "lib/internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mqbridge/coro.h"
#include "mqbridge/future.h"
#include "mqbridge/platform.h"

#include "config/config_impl.h"
#include "config/schema.h"
#include "daemon/loader.h"
#include "ha/entity_impl.h"
#include "ha/integration.h"

#define SUB "loader"

/* Modules stay loaded for the life of the process, as Home Assistant's
 * integrations stay imported: descriptors and their tables are static data
 * that entities point at. Loading happens on the main thread before the
 * core starts, and in the pool when a component reloads: the list has a
 * lock. */
struct module {
	char *name;
	void *handle;                        /* NULL: loading failed */
	const struct mqb_platform_desc *desc;
	char *error;                         /* why it failed */
	struct module *next;
};
static struct module *modules;
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

static struct module *module_load_locked(const char *name, const char *const *dirs, size_t ndirs);

static struct module *module_load(const char *name, const char *const *dirs, size_t ndirs)
{
	pthread_mutex_lock(&modules_lock);
	struct module *m = module_load_locked(name, dirs, ndirs);
	pthread_mutex_unlock(&modules_lock);
	return m;
}

static struct module *module_load_locked(const char *name, const char *const *dirs, size_t ndirs)
{
	for (struct module *m = modules; m; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	struct module *m = mqb__calloc(1, sizeof *m);
	if (!m || !(m->name = mqb__strdup(name))) {
		mqb__free(m);
		return NULL;
	}
	char msg[2048] = "";
	bool found = false;
	for (size_t i = 0; i < ndirs && !m->handle; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s.so", dirs[i], name);
		if (access(path, F_OK) != 0)
			continue;
		found = true;
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			snprintf(msg, sizeof msg, "cannot load %.1024s: %.512s", path, dlerror());
			break;
		}
		const struct mqb_platform_desc *d = dlsym(h, MQB_PLATFORM_SYMBOL);
		if (!d) {
			snprintf(msg, sizeof msg, "%.1024s has no %s", path, MQB_PLATFORM_SYMBOL);
			dlclose(h);
			break;
		}
		if (d->api_version != MQB_PLATFORM_API_VERSION) {
			snprintf(msg, sizeof msg,
				 "%.1024s was built for another platform API (got %u, expected %u): "
				 "rebuild it against this mqbridge's headers",
				 path, d->api_version, MQB_PLATFORM_API_VERSION);
			dlclose(h);
			break;
		}
		if (!d->name || strcmp(d->name, name) != 0) {
			snprintf(msg, sizeof msg, "%.1024s calls itself '%.64s'", path,
				 d->name ? d->name : "(null)");
			dlclose(h);
			break;
		}
		m->handle = h;
		m->desc = d;
	}
	if (!found) {
		size_t off = (size_t)snprintf(msg, sizeof msg, "no integration '%s' (no %s.so in",
					      name, name);
		for (size_t i = 0; i < ndirs && off < sizeof msg; i++)
			off += (size_t)snprintf(msg + off, sizeof msg - off, " %s", dirs[i]);
		if (off < sizeof msg)
			snprintf(msg + off, sizeof msg - off, ")");
	}
	if (!m->handle)
		m->error = mqb__strdup(msg);
	m->next = modules;
	modules = m;
	return m;
}

/* The item without its `platform:` key (a legacy element), for the
 * domain's schema, which does not know that key. Built in the document's
 * arena, so its nodes keep their positions. */
static const struct mqb_conf_node *without_platform(struct mqb_conf_doc *doc,
						    const struct mqb_conf_node *item)
{
	if (!mqb_conf_get(item, "platform"))
		return item;
	size_t n = mqb_conf_len(item), k = 0;
	const struct mqb_conf_node **kids = mqb__malloc((2 * n + 1) * sizeof *kids);
	if (!kids)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *key = mqb_conf_scalar(mqb_conf_key(item, i), NULL);
		if (key && strcmp(key, "platform") == 0)
			continue;
		kids[k++] = mqb_conf_key(item, i);
		kids[k++] = mqb_conf_value(item, i);
	}
	struct mqb_conf_mark m = mqb_conf_mark(item);
	struct mqb_conf_node *copy = conf__node_new(doc, MQB_CONF_MAP, &m, NULL, 0, 0);
	if (!copy || conf__node_set_children(doc, copy, kids, k) < 0)
		copy = NULL;
	mqb__free(kids);
	return copy;
}

size_t loader__check(struct mqb_conf_doc *doc, struct conf_item *items, size_t n,
			const char *const *dirs, size_t ndirs, struct mqb_conf_errors *errs,
			bool *oom)
{
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		struct conf_item *it = &items[i];
		const struct mqb_conf_node *pn = mqb_conf_get(it->node, "platform");
		const struct mqb_conf_node *at = pn ? pn : it->node;
		struct module *m = module_load(it->integration, dirs, ndirs);
		if (!m) {
			*oom = true;
			continue;
		}
		if (!m->handle) {
			mqb_conf_error_at(errs, at, it->path, "%s", m->error ? m->error : "cannot load");
			found++;
			continue;
		}
		const struct mqb_platform_domain *dom = NULL;
		for (size_t d = 0; d < m->desc->ndomains; d++)
			if (strcmp(m->desc->domains[d].domain, it->domain) == 0)
				dom = &m->desc->domains[d];
		if (!dom) {
			mqb_conf_error_at(errs, at, it->path,
					  "integration '%s' has no %s platform", it->integration,
					  it->domain);
			found++;
			continue;
		}
		const struct mqb_conf_node *node = without_platform(doc, it->node);
		if (!node) {
			*oom = true;
			continue;
		}
		it->desc = m->desc;
		it->dom = dom;
		it->conf = mqb__calloc(1, dom->conf_size ? dom->conf_size : 1);
		if (!it->conf) {
			*oom = true;
			continue;
		}
		size_t before = errs->n;
		size_t bad = mqb_schema_apply(dom->schema, node, it->path, it->conf, errs);
		if (!bad && dom->check) {
			dom->check(it->conf, node, it->path, errs);
			bad = errs->n - before;
		}
		found += bad;
	}
	return found;
}

/* ---- components ------------------------------------------------------------ */

bool loader__has_module(const char *name, const char *const *dirs, size_t ndirs)
{
	for (size_t i = 0; i < ndirs; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s.so", dirs[i], name);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

int loader__probe_component(const char *name, const char *const *dirs, size_t ndirs,
			    enum mqb_component_shape *shape)
{
	struct module *m = module_load(name, dirs, ndirs);
	if (!m)
		return -ENOMEM;
	if (!m->handle || !m->desc->component)
		return 0;
	*shape = m->desc->component->shape;
	return 1;
}

static const char *const shape_names[] = {
	[MQB_COMPONENT_LIST] = "a list",
	[MQB_COMPONENT_MAPPING] = "a mapping of ids",
	[MQB_COMPONENT_BLOCK] = "one mapping of options",
};

size_t loader__check_components(struct conf_component *comps, size_t n, const char *const *dirs,
				size_t ndirs, struct mqb_conf_errors *errs, bool *oom)
{
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		struct conf_component *c = &comps[i];
		/* errors go at the first place the block was given */
		const struct mqb_conf_node *at = c->n ? (c->entries[0].key_node ? c->entries[0].key_node
										 : c->entries[0].node)
						      : NULL;
		const char *path = c->n ? c->entries[0].path : c->name;
		struct module *m = module_load(c->name, dirs, ndirs);
		if (!m) {
			*oom = true;
			continue;
		}
		if (!m->handle) {
			mqb_conf_error_at(errs, at, path, "%s", m->error ? m->error : "cannot load");
			found++;
			continue;
		}
		const struct mqb_component *comp = m->desc->component;
		if (!comp) {
			mqb_conf_error_at(errs, at, path,
					  "integration '%s' has no configuration block of its own",
					  c->name);
			found++;
			continue;
		}
		if ((unsigned)comp->shape > MQB_COMPONENT_BLOCK) {
			mqb_conf_error_at(errs, at, path, "integration '%s' has a component of no known "
					  "shape (%u)", c->name, (unsigned)comp->shape);
			found++;
			continue;
		}
		if (comp->shape != c->shape) {
			mqb_conf_error_at(errs, at, path,
					  "integration '%s' takes %s, but its block was read as %s",
					  c->name, shape_names[comp->shape], shape_names[c->shape]);
			found++;
			continue;
		}
		c->desc = m->desc;
		if (comp->check) {
			size_t before = errs->n;
			comp->check(c->entries, c->n, errs);
			found += errs->n - before;
		}
	}
	return found;
}

/* ---- setting up ------------------------------------------------------------ */

/* Setups run this many at a time: each async one is a coroutine with a
 * stack of its own while it runs, each blocking one an executor job, and a
 * configuration of 100,000 entities must neither map 100,000 stacks (the
 * kernel's limit on mappings is about 65,000) nor fill the executor's
 * queue. */
#define SETUP_PARALLEL 32

struct setup {
	struct mqb_core *core;
	struct conf_item *items;
	size_t n;
	struct conf_component *comps;
	size_t ncomps;
	size_t next;            /* the next to start: components, then items */
	size_t running;
	size_t failed;
	bool starting;          /* start_more is on the stack */
	void (*done)(void *ud, size_t failed);
	void *ud;
	struct loader_owner owner;
};

/* One setup: an entity configuration on its platform, or a component on
 * its integration. */
struct setup_one {
	struct setup *s;
	struct conf_item *it;
	struct mqb_platform *p;
	struct conf_component *c;
	struct mqb_integration *in;
};

static int run_setup(void *ud, void *arg, void **result)
{
	(void)ud;
	(void)result;
	struct setup_one *o = arg;
	if (o->c)
		return o->c->desc->component->async_setup(o->in, o->c->entries, o->c->n);
	const struct mqb_platform_domain *dom = o->it->dom;
	return dom->setup_platform ? dom->setup_platform(o->p, o->it->conf, o->it->path)
				   : dom->async_setup_platform(o->p, o->it->conf, o->it->path);
}

static void start_more(struct setup *s);

static void setup_done(struct mqb_future *f, void *ud)
{
	struct setup_one *o = ud;
	int rc = mqb_future_status(f);
	if (rc && o->it)
		o->it->failed = true;
	if (rc && rc != -ECANCELED) {
		if (o->c)
			MQB_LOG_ERROR(SUB, "%s: setting up failed: %s", o->c->name, mqb_strerror(rc));
		else
			MQB_LOG_ERROR(SUB, "%s (%s %s): setting up failed: %s", o->it->path,
				      o->it->integration, o->it->domain, mqb_strerror(rc));
		o->s->failed++;
	}
	mqb_future_unref(f);
	struct setup *s = o->s;
	mqb__free(o);
	s->running--;
	start_more(s);
}

/* Start one setup as a job (a pool job for a blocking platform setup,
 * else a coroutine); its end is counted by setup_done. 0, -EAGAIN (the
 * executor's queue is full: o is kept, to try again when a setup ends),
 * or another error, logged, with o freed. */
static int start_one(struct setup *s, struct setup_one *o, bool blocking, const char *what)
{
	struct mqb_job job = blocking ? MQB_EXECUTOR(run_setup, NULL) : MQB_COROUTINE(run_setup, NULL);
	job.name = blocking ? "setup_platform" : o->c ? "async_setup" : "async_setup_platform";
	struct mqb_future *f = NULL;
	int rc = mqb_async_add_job(s->core, &job, o, NULL, &f);
	if (rc == -EAGAIN && s->running > 0)
		return rc;
	if (rc) {
		MQB_LOG_ERROR(SUB, "%s: cannot set up: %s", what, mqb_strerror(rc));
		mqb__free(o);
		return rc;
	}
	s->running++;
	if ((rc = mqb_future_async_add_done(f, setup_done, o)) != 0) {
		/* the setup runs but its end would go unheard: o stays with
		 * the job (out of memory only) */
		mqb_future_unref(f);
		MQB_LOG_ERROR(SUB, "%s: %s", what, mqb_strerror(rc));
		s->running--;
		return rc;
	}
	return 0;
}

/* The setup of the next-th component or item, or NULL (nothing to set up
 * there, or out of memory: counted). */
static struct setup_one *prepare(struct setup *s, size_t next)
{
	struct setup_one *o;
	if (next < s->ncomps) {
		struct conf_component *c = &s->comps[next];
		if (!c->desc || c->skip)
			return NULL;
		o = mqb__calloc(1, sizeof *o);
		struct mqb_integration *in = o ? integration__async_new(s->core, c->desc) : NULL;
		if (!in) {
			mqb__free(o);
			s->failed++;
			return NULL;
		}
		*o = (struct setup_one){.s = s, .c = c, .in = in};
		return o;
	}
	struct conf_item *it = &s->items[next - s->ncomps];
	if (!it->dom || it->skip)
		return NULL;
	o = mqb__calloc(1, sizeof *o);
	/* made once: a setup the full executor put off comes here again */
	struct mqb_platform *p = it->p;
	if (o && !p) {
		if (s->owner.hold)
			s->owner.hold(s->owner.ud);
		p = entities__async_item_platform(s->core, it->desc, it->dom, s->owner.release,
						  s->owner.ud);
		if (!p && s->owner.release)
			s->owner.release(s->owner.ud);
	}
	if (!p) {
		mqb__free(o);
		it->failed = true;
		s->failed++;
		return NULL;
	}
	it->p = p;
	*o = (struct setup_one){.s = s, .it = it, .p = p};
	return o;
}

/* Keep SETUP_PARALLEL setups running, components first, until every one
 * has had its turn; then tell done. */
static void start_more(struct setup *s)
{
	if (s->starting)
		return;
	s->starting = true;
	size_t total = s->ncomps + s->n;
	while (s->next < total && s->running < SETUP_PARALLEL) {
		struct setup_one *o = prepare(s, s->next);
		if (!o) {
			s->next++;
			continue;
		}
		bool blocking = !o->c && o->it->dom->setup_platform;
		struct conf_item *it = o->it; /* o is gone when start_one fails */
		int rc = start_one(s, o, blocking, o->c ? o->c->name : o->it->path);
		if (rc == -EAGAIN) {
			/* a blocking item's (components are coroutines):
			 * a setup that ends makes room, and it is tried again */
			mqb__free(o);
			break;
		}
		if (rc) {
			s->failed++;
			if (it)
				it->failed = true;
		}
		s->next++;
	}
	s->starting = false;
	if (s->next == total && s->running == 0) {
		s->done(s->ud, s->failed);
		mqb__free(s);
	}
}

int loader__async_setup(struct mqb_core *core, struct conf_item *items, size_t n,
			struct conf_component *comps, size_t ncomps, const struct loader_owner *owner,
			void (*done)(void *ud, size_t failed), void *ud)
{
	MQB_ASSERT_LOOP(core);
	struct setup *s = mqb__calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	*s = (struct setup){.core = core, .items = items, .n = n, .comps = comps,
			    .ncomps = ncomps, .done = done, .ud = ud};
	if (owner)
		s->owner = *owner;
	start_more(s);
	return 0;
}
