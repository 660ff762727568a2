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
#include "mqbridge/platform.h"

struct mqb_integration {
	struct mqb_core *core;
	const struct mqb_platform_desc *desc;
	/* Domains the component adds entities to without declaring an entity
	 * platform of them: each needs a domain row for its struct
	 * mqb_platform (which points at it, so they go with the core). */
	struct mqb_platform_domain **doms;
	size_t ndoms;
	struct mqb_integration *next;
};

#define DATA_KEY "mqbridge.integrations"

/* Every integration of a core, freed after its entities (core data). */
struct all {
	struct mqb_integration *list;
};

static void all_free(void *p)
{
	struct all *a = p;
	while (a->list) {
		struct mqb_integration *in = a->list;
		a->list = in->next;
		for (size_t i = 0; i < in->ndoms; i++) {
			mqb__free((char *)in->doms[i]->domain);
			mqb__free(in->doms[i]);
		}
		mqb__free(in->doms);
		mqb__free(in);
	}
	mqb__free(a);
}

struct mqb_integration *integration__async_new(struct mqb_core *core,
					       const struct mqb_platform_desc *desc)
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
