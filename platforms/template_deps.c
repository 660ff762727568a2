/* SPDX-License-Identifier: MIT */
/* The template platform's dependency index (template_deps.h): a hash table
 * of entity ids, each with a doubly linked list of edges to the template
 * entities that read it, so adding, dropping and visiting a dependency are
 * O(1) each. A key lives only while something depends on it. */
#include "template_deps.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tkey {
	struct tkey *next;        /* hash chain */
	uint32_t hash;
	struct tdeps_edge *head;  /* dependents; never empty while the key exists */
	char id[];
};

struct tdeps_edge {
	struct tkey *key;
	struct tdeps_who *who;
	struct tdeps_edge *prev, *next; /* in key->head */
};

struct tdeps {
	struct tkey **buckets;
	size_t nbuckets;          /* a power of two */
	size_t nkeys;
};

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

struct tdeps *tdeps_new(void)
{
	struct tdeps *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->nbuckets = 64;
	if (!(d->buckets = calloc(d->nbuckets, sizeof *d->buckets))) {
		free(d);
		return NULL;
	}
	return d;
}

void tdeps_free(struct tdeps *d)
{
	if (!d)
		return;
	/* Keys left mean a dependent was not cleared: free them anyway. */
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct tkey *k = d->buckets[i], *nx; k; k = nx) {
			nx = k->next;
			free(k);
		}
	free(d->buckets);
	free(d);
}

static struct tkey *find(const struct tdeps *d, const char *id, uint32_t h)
{
	for (struct tkey *k = d->buckets[h & (d->nbuckets - 1)]; k; k = k->next)
		if (k->hash == h && strcmp(k->id, id) == 0)
			return k;
	return NULL;
}

/* Grow at a load of 1; a failed grow just leaves chains longer. */
static void maybe_grow(struct tdeps *d)
{
	if (d->nkeys < d->nbuckets)
		return;
	size_t n = d->nbuckets * 2;
	struct tkey **b = calloc(n, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct tkey *k = d->buckets[i], *nx; k; k = nx) {
			nx = k->next;
			k->next = b[k->hash & (n - 1)];
			b[k->hash & (n - 1)] = k;
		}
	free(d->buckets);
	d->buckets = b;
	d->nbuckets = n;
}

static struct tkey *get_or_add(struct tdeps *d, const char *id)
{
	uint32_t h = hash_str(id);
	struct tkey *k = find(d, id, h);
	if (k)
		return k;
	size_t len = strlen(id);
	if (!(k = malloc(sizeof *k + len + 1)))
		return NULL;
	memcpy(k->id, id, len + 1);
	k->hash = h;
	k->head = NULL;
	maybe_grow(d);
	struct tkey **b = &d->buckets[h & (d->nbuckets - 1)];
	k->next = *b;
	*b = k;
	d->nkeys++;
	return k;
}

static void drop_key(struct tdeps *d, struct tkey *k)
{
	for (struct tkey **p = &d->buckets[k->hash & (d->nbuckets - 1)]; *p; p = &(*p)->next)
		if (*p == k) {
			*p = k->next;
			break;
		}
	d->nkeys--;
	free(k);
}

static void unlink_edge(struct tdeps *d, struct tdeps_edge *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		e->key->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	if (!e->key->head)
		drop_key(d, e->key);
}

void tdeps_clear(struct tdeps *d, struct tdeps_who *who)
{
	for (size_t i = 0; i < who->n; i++)
		unlink_edge(d, &who->edges[i]);
	free(who->edges);
	who->edges = NULL;
	who->n = 0;
}

int tdeps_set(struct tdeps *d, struct tdeps_who *who, const char *const *ids, size_t n)
{
	struct tdeps_edge *edges = n ? malloc(n * sizeof *edges) : NULL;
	if (n && !edges) {
		tdeps_clear(d, who);
		return -ENOMEM;
	}
	tdeps_clear(d, who);
	size_t m = 0;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		struct tkey *k = get_or_add(d, ids[i]);
		if (!k) {
			rc = -ENOMEM;
			break;
		}
		/* This who's newest edge is at the head: a duplicate id stops there. */
		if (k->head && k->head->who == who)
			continue;
		struct tdeps_edge *e = &edges[m++];
		e->key = k;
		e->who = who;
		e->prev = NULL;
		e->next = k->head;
		if (k->head)
			k->head->prev = e;
		k->head = e;
	}
	who->edges = edges;
	who->n = m;
	if (rc)
		tdeps_clear(d, who);
	return rc;
}

size_t tdeps_foreach(const struct tdeps *d, const char *id,
		     void (*fn)(void *ud, struct tdeps_who *who), void *ud)
{
	struct tkey *k = find(d, id, hash_str(id));
	size_t n = 0;
	for (struct tdeps_edge *e = k ? k->head : NULL; e; e = e->next, n++)
		fn(ud, e->who);
	return n;
}

bool tdeps_has(const struct tdeps_who *who, const char *id)
{
	for (size_t i = 0; i < who->n; i++)
		if (strcmp(who->edges[i].key->id, id) == 0)
			return true;
	return false;
}

size_t tdeps_count(const struct tdeps *d)
{
	return d->nkeys;
}
