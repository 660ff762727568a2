/* SPDX-License-Identifier: MIT */
/* The integration loader (loader.c), both phases. Three things are called
 * "platform" here: an integration module's descriptor (struct
 * mqb_platform_desc, NAME.so), one configuration item of an integration
 * x domain (struct mqb_platform, kept by the entity registry in src/ha/),
 * and this loader, which turns configuration items into the second out
 * of the first. */
#ifndef MQB_DAEMON_LOADER_H
#define MQB_DAEMON_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "mqbridge/config.h"
#include "mqbridge/platform.h"

struct mqb_core;
struct mqb_platform_desc;
struct mqb_platform_domain;

/* One entity configuration (a legacy `- platform:` element, or an element
 * of a modern block), and once checked, its module's domain and the
 * options its schema filled. The options' loader (options.c) collects the
 * items and frees them with conf. */
struct conf_item {
	const char *integration, *domain;   /* point into the document or static tables */
	const struct mqb_conf_node *node;
	char *path;                         /* owned */
	const struct mqb_platform_desc *desc;
	const struct mqb_platform_domain *dom;
	void *conf;                         /* owned: dom->conf_size bytes */
	/* Once set up: its own platform (its entities are its), and whether
	 * the setup failed. skip: not to be set up (a reload found it
	 * running already). */
	struct mqb_platform *p;
	bool failed, skip;
};

/* An integration's own top-level block (mqb_component): every entry of
 * it the options' loader found, in order, and once checked, its module's
 * descriptor. Freed with the options. */
struct conf_component {
	char *name;                         /* owned: "automation" */
	enum mqb_component_shape shape;     /* as its block was read */
	struct mqb_component_entry *entries; /* owned, with their paths */
	size_t n, cap;
	const struct mqb_platform_desc *desc;
	bool skip;                          /* not to be set up (a reload) */
};

/* Whether a module of that name is installed (a file of that name in
 * dirs; whether it loads is loader__check's to say). Thread: any. */
bool loader__has_module(const char *name, const char *const *dirs, size_t ndirs);

/* Whether the module name (looked for in dirs) has a top-level block of
 * its own: 1 with *shape, 0 (no such module, or none), -ENOMEM.
 * Thread: the main thread, before the core starts. */
int loader__probe_component(const char *name, const char *const *dirs, size_t ndirs,
			    enum mqb_component_shape *shape);

/* Check phase for components: load each one's module, check that it has
 * a component of the shape its block was read in, and run its check().
 * Returns the problems found; *oom as loader__check. */
size_t loader__check_components(struct conf_component *c, size_t n, const char *const *dirs,
				size_t ndirs, struct mqb_conf_errors *errs, bool *oom);

/* Check phase: load every module the items name from dirs (in order) and
 * check each item against its domain's schema and check(); fill desc, dom
 * and conf. Returns the number of problems found (added to errs); *oom set
 * when memory ran out. Thread: the main thread, before the core starts. */
size_t loader__check(struct mqb_conf_doc *doc, struct conf_item *items, size_t n,
		     const char *const *dirs, size_t ndirs, struct mqb_conf_errors *errs, bool *oom);

/* What keeps the items' options alive: each item set up holds it
 * (hold) until its platform and its entities are gone (release). */
struct loader_owner {
	void (*hold)(void *ud);
	void (*release)(void *ud);
	void *ud;
};

/* Setup phase: run the setup of every checked item not skipped, each on
 * a platform of its own (it->p; blocking ones in the pool, async ones as
 * coroutines), and of every checked component not skipped (as
 * coroutines); done(ud, failed) runs on the loop when all have finished.
 * owner may be NULL: items and comps then outlive the core. 0 or -ENOMEM.
 * Thread: loop. */
int loader__async_setup(struct mqb_core *core, struct conf_item *items, size_t n,
			struct conf_component *comps, size_t ncomps, const struct loader_owner *owner,
			void (*done)(void *ud, size_t failed), void *ud);

#endif
