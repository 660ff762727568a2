/* SPDX-License-Identifier: MIT */
/* The client's subscription filters by their text: a chained hash table
 * threaded through the filters themselves, so a filter costs its own
 * allocation and a bucket's pointer, not a separate entry (100,000
 * sensors, 100,000 filters). Loop thread. */
#ifndef MQB_FILTER_TABLE_H
#define MQB_FILTER_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct mqb_mqtt_sub;

/* One broker subscription, shared by every handler on the same filter.
 * 25 bytes and its text (filter_table__size: the text takes the
 * padding), so a sensor's "dev/12345/temp" fits a 48-byte chunk. */
struct filter {
	struct filter *next;       /* in its bucket */
	struct mqb_mqtt_sub *subs; /* its handlers, the newest first; NULL: none */
	uint32_t hash;             /* of the text, for the table */
	uint32_t sub_id : 28;      /* EXACT_SUB_ID, or its own (MAX_SUB_ID fits) */
	uint32_t qos : 2;          /* the highest any handler asked for */
	int8_t broker_qos;         /* what the broker granted in this session; -1: none */
	char filter[];             /* one allocation: an entity has one or more */
};

struct filter_table {
	struct filter **buckets;
	size_t mask;               /* buckets - 1, a power of two less one; 0 before the first add */
	size_t count;
};

/* An empty table; allocates nothing until the first add. */
void filter_table__init(struct filter_table *t);
/* Frees the buckets (not the filters). Accepts an initialised table. */
void filter_table__fini(struct filter_table *t);

/* A filter of len bytes (a topic need not be NUL-terminated), or NULL. */
struct filter *filter_table__find(const struct filter_table *t, const char *text, size_t len);
/* Add fl, whose text is not in the table yet; sets fl->hash. 0 or -ENOMEM
 * (nothing changed). */
int filter_table__add(struct filter_table *t, struct filter *fl);
/* Take fl, which is in the table, out of it. */
void filter_table__remove(struct filter_table *t, struct filter *fl);

/* Iterate: size_t b = 0; struct filter *fl = NULL;
 * while ((fl = filter_table__next(t, &b, fl))) ... — in table order. The
 * walk may remove the filter just returned (and free it once it has asked
 * for the next); no other change. */
struct filter *filter_table__next(const struct filter_table *t, size_t *bucket,
				  const struct filter *prev);

static inline size_t filter_table__count(const struct filter_table *t) { return t->count; }

/* What to allocate for a filter of len bytes of text: never less than the
 * struct, whose members are read whole. */
static inline size_t filter_table__size(size_t len)
{
	size_t n = offsetof(struct filter, filter) + len + 1;
	return n > sizeof(struct filter) ? n : sizeof(struct filter);
}

#endif
