/* SPDX-License-Identifier: MIT */
/* A component's integration in a core (struct mqb_integration): what a
 * module's own top-level block (automation:, input_boolean:) is set up
 * with, and the platforms through which it adds entities of its domains.
 * The loader makes one per component; they live as long as the core. */
#include "lib/internal.h"

#include <errno.h>
#include <string.h>

#include "ha/entity_impl.h"
#include "ha/integration.h"
#include "mqbridge/future.h"
#include "mqbridge/platform.h"

struct mqb_integration {
	struct mqb_core *core;
	const struct mqb_platform_desc *desc;
	/* Domains the component adds entities to without declaring an entity
	 * platform of them: each needs a domain row for its struct
	 * mqb_platform (which points at it, so they go with the core). */
	struct mqb_platform_domain **doms;
	size_t ndoms;
	/* What the block of the last reload came with (the daemon's copy of
	 * the file it read), kept while the component may point into it. */
	void *adopted;
	void (*adopted_free)(void *);
	bool reloading;
	struct mqb_integration *next;
};

#define DATA_KEY "mqbridge.integrations"

/* Every integration of a core, freed after its entities (core data), and
 * who reads the configuration again for a reload (the daemon). */
struct all {
	struct mqb_integration *list;
	integration_reload_fn reload;
	void *reload_ud;
};

static void all_free(void *p)
{
	struct all *a = p;
	while (a->list) {
		struct mqb_integration *in = a->list;
		a->list = in->next;
		if (in->adopted_free)
			in->adopted_free(in->adopted);
		for (size_t i = 0; i < in->ndoms; i++) {
			mqb__free((char *)in->doms[i]->domain);
			mqb__free(in->doms[i]);
		}
		mqb__free(in->doms);
		mqb__free(in);
	}
	mqb__free(a);
}

static struct all *all_of(struct mqb_core *core)
{
	struct all *a = mqb_core_async_data(core, DATA_KEY);
	if (!a) {
		if (!(a = mqb__calloc(1, sizeof *a)))
			return NULL;
		if (mqb_core_async_set_data(core, DATA_KEY, a, all_free)) {
			mqb__free(a);
			return NULL;
		}
	}
	return a;
}

struct mqb_integration *integration__async_new(struct mqb_core *core,
					       const struct mqb_platform_desc *desc)
{
	struct all *a = all_of(core);
	if (!a)
		return NULL;
	for (struct mqb_integration *in = a->list; in; in = in->next)
		if (in->desc == desc)
			return in;
	struct mqb_integration *in = mqb__calloc(1, sizeof *in);
	if (!in)
		return NULL;
	in->core = core;
	in->desc = desc;
	in->next = a->list;
	a->list = in;
	return in;
}

struct mqb_core *mqb_integration_core(const struct mqb_integration *in)
{
	return in->core;
}

const char *mqb_integration_name(const struct mqb_integration *in)
{
	return in->desc->name;
}

const char *mqb_integration_node_id(const struct mqb_integration *in)
{
	return entities__node_id(in->core);
}

const char *mqb_integration_config_dir(const struct mqb_integration *in)
{
	return entities__config_dir(in->core);
}

struct mqb_platform *mqb_integration_async_platform(struct mqb_integration *in,
						     const char *domain)
{
	MQB_ASSERT_LOOP(in->core);
	const struct mqb_platform_domain *dom = NULL;
	for (size_t i = 0; i < in->desc->ndomains && !dom; i++)
		if (strcmp(in->desc->domains[i].domain, domain) == 0)
			dom = &in->desc->domains[i];
	for (size_t i = 0; i < in->ndoms && !dom; i++)
		if (strcmp(in->doms[i]->domain, domain) == 0)
			dom = in->doms[i];
	if (!dom) {
		/* Platforms point at their domain row, so rows never move:
		 * each is its own allocation. */
		struct mqb_platform_domain **v =
			mqb__realloc(in->doms, (in->ndoms + 1) * sizeof *v);
		if (!v)
			return NULL;
		in->doms = v;
		struct mqb_platform_domain *row = mqb__calloc(1, sizeof *row);
		char *name = row ? mqb__strdup(domain) : NULL;
		if (!name) {
			mqb__free(row);
			return NULL;
		}
		row->domain = name;
		in->doms[in->ndoms++] = row;
		dom = row;
	}
	return entities__platform(in->core, in->desc, dom);
}

int integration__async_set_reload(struct mqb_core *core, integration_reload_fn fn, void *ud)
{
	struct all *a = all_of(core);
	if (!a)
		return -ENOMEM;
	a->reload = fn;
	a->reload_ud = ud;
	return 0;
}

const struct mqb_platform_desc *integration__desc(const struct mqb_integration *in)
{
	return in->desc;
}

void integration__async_adopt(struct mqb_integration *in, void *owner, void (*owner_free)(void *))
{
	if (in->adopted_free)
		in->adopted_free(in->adopted);
	in->adopted = owner;
	in->adopted_free = owner_free;
}

void integration__async_reload_done(struct mqb_integration *in)
{
	in->reloading = false;
}

int mqb_integration_async_reload(struct mqb_integration *in, struct mqb_future **out)
{
	MQB_ASSERT_LOOP(in->core);
	struct all *a = all_of(in->core);
	if (!a)
		return -ENOMEM;
	if (!in->desc->component || !in->desc->component->async_reload || !a->reload)
		return -ENOTSUP;
	/* Home Assistant serialises reloads of one integration; a second
	 * while one runs would race it for the same entities. */
	if (in->reloading)
		return -EBUSY;
	struct mqb_future *f = mqb_future_new(in->core);
	if (!f)
		return -ENOMEM;
	int rc = a->reload(a->reload_ud, in, f);
	if (rc) {
		mqb_future_unref(f);
		return rc;
	}
	in->reloading = true;
	if (out)
		*out = f;
	else
		mqb_future_unref(f);
	return 0;
}
