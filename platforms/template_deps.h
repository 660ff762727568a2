/* SPDX-License-Identifier: MIT */
/* The template platform's dependency index: entity id -> the template
 * entities whose last render read it, so that one state change costs
 * O(its dependents), not O(all templates). Pure data, no core: unit-tested
 * on its own (t/test_template_util.c). */
#ifndef MQB_PLATFORMS_TEMPLATE_DEPS_H
#define MQB_PLATFORMS_TEMPLATE_DEPS_H

#include <stdbool.h>
#include <stddef.h>

struct tdeps;
struct tdeps_edge;

/* One dependent, embedded in its owner's struct (zero it before first use);
 * it finds its owner with a container_of on this member. */
struct tdeps_who {
	struct tdeps_edge *edges; /* what it depends on now */
	size_t n;
};

/* NULL on ENOMEM. Thread: any, one at a time. */
struct tdeps *tdeps_new(void);
/* Every dependent must have been cleared first. Accepts NULL. */
void tdeps_free(struct tdeps *d);

/* Replace what who depends on with ids[0..n) (duplicates are fine). 0, or
 * -ENOMEM with who depending on nothing (the caller re-renders later). */
int tdeps_set(struct tdeps *d, struct tdeps_who *who, const char *const *ids, size_t n);
/* who depends on nothing. */
void tdeps_clear(struct tdeps *d, struct tdeps_who *who);
/* Call fn for each dependent of id (each once); returns how many. fn must
 * not change the index. */
size_t tdeps_foreach(const struct tdeps *d, const char *id,
		     void (*fn)(void *ud, struct tdeps_who *who), void *ud);
/* Whether who depends on id (for tests and logs). */
bool tdeps_has(const struct tdeps_who *who, const char *id);
/* Entity ids with at least one dependent (for tests: keys do not leak). */
size_t tdeps_count(const struct tdeps *d);

#endif
