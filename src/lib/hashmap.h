/* SPDX-License-Identifier: MIT */
/* A small string-keyed hash map for the core's tables (states, listeners,
 * services): open addressing with linear probing and backward-shift
 * deletion, so there are no tombstones and lookups stay short.
 *
 * The map stores pointers only: a key points into the entry it names (the
 * entity id inside a state, the name inside a service), so an insert costs
 * no allocation until the table grows. The caller keeps each key alive and
 * unchanged while its entry is in the map. Not thread-safe: the core only
 * touches its maps on the loop thread. */
#ifndef MQB_HASHMAP_H
#define MQB_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hashmap_entry {
	const char *key; /* NULL: the slot is empty */
	void *value;
	uint32_t hash;
	uint32_t keylen;
};

struct hashmap {
	struct hashmap_entry *slots;
	size_t mask;  /* capacity - 1; capacity is a power of two (0 before the first put) */
	size_t count;
};

/* An empty map; allocates nothing until the first put. Cannot fail. */
void hashmap__init(struct hashmap *m);
/* Frees the table (not the entries). Accepts a zeroed map. */
void hashmap__fini(struct hashmap *m);

uint32_t hashmap__hash(const char *key, size_t len);

/* The entry for key (len bytes, need not be NUL-terminated), or NULL. The
 * caller may replace e->value, and e->key with a pointer to an equal string
 * (so a replaced entry can point at its successor's copy). The pointer is
 * valid until the next put or remove. */
struct hashmap_entry *hashmap__find(const struct hashmap *m, const char *key, size_t len);
void *hashmap__get(const struct hashmap *m, const char *key, size_t len);

/* Insert key -> value, or replace the value and key pointer of an existing
 * entry (*old, if not NULL, gets the value replaced, or NULL). key must stay
 * valid while in the map. 0 or -ENOMEM (nothing changed). */
int hashmap__put(struct hashmap *m, const char *key, size_t len, void *value, void **old);

/* Remove key; returns its value, or NULL when absent. */
void *hashmap__remove(struct hashmap *m, const char *key, size_t len);

static inline size_t hashmap__count(const struct hashmap *m) { return m->count; }

/* Iterate: size_t it = 0; while ((e = hashmap__next(m, &it))) ... — in table
 * order; the map must not change during the walk. */
struct hashmap_entry *hashmap__next(const struct hashmap *m, size_t *it);

#endif
