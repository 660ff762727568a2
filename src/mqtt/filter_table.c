/* SPDX-License-Identifier: MIT */
/* The client's filters by their text (filter_table.h): chaining through
 * the filters costs a pointer in each and one per bucket at a load of at
 * most one, where the core's hash map costs a 24-byte entry at a load of
 * at most 3/4 (40 to 64 bytes a filter). */
#include "lib/internal.h"

#include <errno.h>
#include <string.h>

#include "lib/hashmap.h"
#include "mqtt/filter_table.h"

#define MIN_BUCKETS 16

void filter_table__init(struct filter_table *t)
{
	t->buckets = NULL;
	t->mask = 0;
	t->count = 0;
}

void filter_table__fini(struct filter_table *t)
{
	mqb__free(t->buckets);
	filter_table__init(t);
}

static bool same(const struct filter *fl, uint32_t h, const char *text, size_t len)
{
	/* strncmp stops at the filter's NUL: a shorter filter is not read past. */
	return fl->hash == h && strncmp(fl->filter, text, len) == 0 && fl->filter[len] == 0;
}

struct filter *filter_table__find(const struct filter_table *t, const char *text, size_t len)
{
	if (!t->count)
		return NULL;
	uint32_t h = hashmap__hash(text, len);
	for (struct filter *fl = t->buckets[h & t->mask]; fl; fl = fl->next)
		if (same(fl, h, text, len))
			return fl;
	return NULL;
}

static int grow(struct filter_table *t)
{
	size_t n = t->buckets ? (t->mask + 1) * 2 : MIN_BUCKETS;
	if (n > SIZE_MAX / sizeof(struct filter *))
		return -ENOMEM;
	struct filter **b = mqb__calloc(n, sizeof *b);
	if (!b)
		return -ENOMEM;
	if (t->buckets) {
		for (size_t i = 0; i <= t->mask; i++) {
			for (struct filter *fl = t->buckets[i], *next; fl; fl = next) {
				next = fl->next;
				fl->next = b[fl->hash & (n - 1)];
				b[fl->hash & (n - 1)] = fl;
			}
		}
		mqb__free(t->buckets);
	}
	t->buckets = b;
	t->mask = n - 1;
	return 0;
}

int filter_table__add(struct filter_table *t, struct filter *fl)
{
	if (!t->buckets || t->count + 1 > t->mask + 1) {
		int rc = grow(t);
		if (rc < 0)
			return rc;
	}
	fl->hash = hashmap__hash(fl->filter, strlen(fl->filter));
	struct filter **b = &t->buckets[fl->hash & t->mask];
	fl->next = *b;
	*b = fl;
	t->count++;
	return 0;
}

void filter_table__remove(struct filter_table *t, struct filter *fl)
{
	struct filter **p = &t->buckets[fl->hash & t->mask];
	while (*p != fl)
		p = &(*p)->next;
	*p = fl->next; /* fl->next kept: a walk may go on from fl */
	t->count--;
}

struct filter *filter_table__next(const struct filter_table *t, size_t *bucket,
				  const struct filter *prev)
{
	if (prev && prev->next)
		return prev->next;
	if (!t->buckets)
		return NULL;
	while (*bucket <= t->mask) {
		struct filter *fl = t->buckets[(*bucket)++];
		if (fl)
			return fl;
	}
	return NULL;
}
