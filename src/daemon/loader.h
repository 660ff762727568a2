/* SPDX-License-Identifier: MIT */
/* The integration loader (loader.c), both phases. Three things are called
 * "platform" here: an integration module's descriptor (struct
 * mqb_platform_desc, NAME.so), one configured integration x domain (struct
 * mqb_platform, kept by the entity registry in src/ha/), and this loader,
 * which turns configuration items into the second out of the first. */
#ifndef MQB_DAEMON_LOADER_H
#define MQB_DAEMON_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "mqbridge/config.h"

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
};

/* Check phase: load every module the items name from dirs (in order) and
 * check each item against its domain's schema and check(); fill desc, dom
 * and conf. Returns the number of problems found (added to errs); *oom set
 * when memory ran out. Thread: the main thread, before the core starts. */
size_t loader__check(struct mqb_conf_doc *doc, struct conf_item *items, size_t n,
		     const char *const *dirs, size_t ndirs, struct mqb_conf_errors *errs, bool *oom);

/* Setup phase: run the setup of every checked item (blocking ones in the
 * pool, async ones as coroutines); done(ud, failed) runs on the loop when
 * all have finished. items must outlive that. 0 or -ENOMEM. Thread: loop. */
int loader__async_setup(struct mqb_core *core, struct conf_item *items, size_t n,
			void (*done)(void *ud, size_t failed), void *ud);

#endif
