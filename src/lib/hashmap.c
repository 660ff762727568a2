/* SPDX-License-Identifier: MIT */
/* The core's string-keyed hash map (see hashmap.h): linear probing keeps a
 * lookup to one or two cache lines, and backward-shift deletion keeps the
 * table free of tombstones however long the daemon runs. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "lib/internal.h"
#include "lib/hashmap.h"

#define HASHMAP_MIN_CAP 16

void hashmap__init(struct hashmap *m)
{
	m->slots = NULL;
	m->mask = 0;
	m->count = 0;
}

void hashmap__fini(struct hashmap *m)
{
	mqb__free(m->slots);
	hashmap__init(m);
}

/* Eight bytes per step (multiply and fold, as FxHash and wyhash do): a
 * typical entity id of 20-30 bytes hashes in a few dozen instructions,
 * where a byte-at-a-time hash costs a hundred or more. The keys come from
 * the configuration and from code, not from whoever is on the network, so
 * a keyed hash against flooding is not needed. */
uint32_t hashmap__hash(const char *key, size_t len)
{
	const uint64_t k = 0x9e3779b97f4a7c15u;
	const unsigned char *p = (const unsigned char *)key;
	uint64_t h = (uint64_t)len * k, w;
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		/* Read as little-endian, like the tail below, so a key hashes
		 * the same everywhere and tables iterate in the same order. */
		w = __builtin_bswap64(w);
#endif
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	w = 0;
	for (size_t i = 0; i < len; i++)
		w |= (uint64_t)p[i] << (8 * i);
	h = (h ^ w) * k;
	h ^= h >> 32;
	h *= k;
	return (uint32_t)(h >> 32);
}

static struct hashmap_entry *find_h(const struct hashmap *m, const char *key, size_t len,
				    uint32_t h)
{
	if (!m->slots)
		return NULL;
	for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
		struct hashmap_entry *e = &m->slots[i];
		if (!e->key)
			return NULL;
		if (e->hash == h && e->keylen == len && memcmp(e->key, key, len) == 0)
			return e;
	}
}

struct hashmap_entry *hashmap__find(const struct hashmap *m, const char *key, size_t len)
{
	if (!m->count)
		return NULL;
	return find_h(m, key, len, hashmap__hash(key, len));
}

void *hashmap__get(const struct hashmap *m, const char *key, size_t len)
{
	struct hashmap_entry *e = hashmap__find(m, key, len);
	return e ? e->value : NULL;
}

/* Place an entry known to be absent; the table has room. */
static void place(struct hashmap_entry *slots, size_t mask, const struct hashmap_entry *src)
{
	size_t i = src->hash & mask;
	while (slots[i].key)
		i = (i + 1) & mask;
	slots[i] = *src;
}

static int grow(struct hashmap *m)
{
	size_t cap = m->slots ? (m->mask + 1) * 2 : HASHMAP_MIN_CAP;
	if (cap > SIZE_MAX / sizeof(struct hashmap_entry))
		return -ENOMEM;
	struct hashmap_entry *slots = mqb__calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	if (m->slots) {
		for (size_t i = 0; i <= m->mask; i++)
			if (m->slots[i].key)
				place(slots, cap - 1, &m->slots[i]);
		mqb__free(m->slots);
	}
	m->slots = slots;
	m->mask = cap - 1;
	return 0;
}

int hashmap__put(struct hashmap *m, const char *key, size_t len, void *value, void **old)
{
	if (len > UINT32_MAX)
		return -EINVAL;
	uint32_t h = hashmap__hash(key, len);
	struct hashmap_entry *e = find_h(m, key, len, h);
	if (e) {
		if (old)
			*old = e->value;
		e->key = key;
		e->value = value;
		return 0;
	}
	/* Keep the load at most 3/4 so probe runs stay short. */
	if (!m->slots || (m->count + 1) * 4 > (m->mask + 1) * 3) {
		int rc = grow(m);
		if (rc < 0)
			return rc;
	}
	struct hashmap_entry n = { .key = key, .value = value, .hash = h, .keylen = (uint32_t)len };
	place(m->slots, m->mask, &n);
	m->count++;
	if (old)
		*old = NULL;
	return 0;
}

void *hashmap__remove(struct hashmap *m, const char *key, size_t len)
{
	struct hashmap_entry *e = hashmap__find(m, key, len);
	if (!e)
		return NULL;
	void *value = e->value;
	/* Backward shift: pull later members of the probe run into the hole
	 * when their home slot is not between the hole and where they sit. */
	size_t hole = (size_t)(e - m->slots);
	for (size_t i = (hole + 1) & m->mask; m->slots[i].key; i = (i + 1) & m->mask) {
		size_t home = m->slots[i].hash & m->mask;
		if (((i - home) & m->mask) >= ((i - hole) & m->mask)) {
			m->slots[hole] = m->slots[i];
			hole = i;
		}
	}
	m->slots[hole].key = NULL;
	m->slots[hole].value = NULL;
	m->count--;
	return value;
}

struct hashmap_entry *hashmap__next(const struct hashmap *m, size_t *it)
{
	if (!m->slots)
		return NULL;
	while (*it <= m->mask) {
		struct hashmap_entry *e = &m->slots[(*it)++];
		if (e->key)
			return e;
	}
	return NULL;
}
