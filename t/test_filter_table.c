/* SPDX-License-Identifier: MIT */
/* The MQTT client's filter table: filters found by their text (a topic,
 * not NUL-terminated), chains of one bucket taken apart at any place,
 * growth keeping every filter, and walks that remove as they go. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "lib/hashmap.h"
#include "mqtt/filter_table.h"

static struct filter *filter_new(const char *text)
{
	size_t len = strlen(text);
	struct filter *fl = calloc(1, filter_table__size(len));
	assert_non_null(fl);
	memcpy(fl->filter, text, len + 1);
	return fl;
}

static struct filter *find(const struct filter_table *t, const char *text)
{
	return filter_table__find(t, text, strlen(text));
}

static size_t walk_count(const struct filter_table *t)
{
	size_t b = 0, n = 0;
	for (struct filter *fl = NULL; (fl = filter_table__next(t, &b, fl));)
		n++;
	return n;
}

static void an_empty_table_finds_nothing_and_walks_nothing(void **s)
{
	struct filter_table t;
	filter_table__init(&t);
	assert_null(find(&t, "a"));
	assert_null(filter_table__find(&t, "", 0));
	assert_int_equal(walk_count(&t), 0);
	assert_int_equal(filter_table__count(&t), 0);
	filter_table__fini(&t);
	filter_table__fini(&t); /* twice: fini leaves it empty */
}

static void a_topic_is_found_by_its_bytes_not_by_a_prefix_or_a_longer_text(void **s)
{
	struct filter_table t;
	filter_table__init(&t);
	struct filter *ab = filter_new("a/b"), *abc = filter_new("a/b/c");
	assert_int_equal(filter_table__add(&t, ab), 0);
	assert_int_equal(filter_table__add(&t, abc), 0);
	/* A topic as Paho hands it: a length, the bytes after it not ours. */
	const char buf[] = "a/b/c/d";
	assert_ptr_equal(filter_table__find(&t, buf, 3), ab);
	assert_ptr_equal(filter_table__find(&t, buf, 5), abc);
	assert_null(filter_table__find(&t, buf, 2));
	assert_null(filter_table__find(&t, buf, 4));
	assert_null(filter_table__find(&t, buf, 7));
	assert_null(find(&t, "a/B"));
	filter_table__remove(&t, ab);
	assert_null(find(&t, "a/b"));
	assert_ptr_equal(find(&t, "a/b/c"), abc);
	filter_table__remove(&t, abc);
	assert_int_equal(filter_table__count(&t), 0);
	free(ab);
	free(abc);
	filter_table__fini(&t);
}

/* Texts that land in one bucket of the first table (16 buckets). */
static int same_bucket(char (*out)[16], int n)
{
	uint32_t want = hashmap__hash("k0", 2) & 15;
	int got = 0;
	for (int i = 0; got < n && i < 100000; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		if ((hashmap__hash(k, strlen(k)) & 15) == want)
			memcpy(out[got++], k, sizeof k);
	}
	return got;
}

static void one_bucket_chain_loses_its_head_middle_and_tail_and_keeps_the_rest(void **s)
{
	char keys[5][16];
	assert_int_equal(same_bucket(keys, 5), 5);
	for (int drop = 0; drop < 5; drop++) {
		struct filter_table t;
		filter_table__init(&t);
		struct filter *fl[5];
		for (int i = 0; i < 5; i++) {
			fl[i] = filter_new(keys[i]);
			assert_int_equal(filter_table__add(&t, fl[i]), 0);
		}
		assert_int_equal(t.mask, 15); /* still one table: one chain of five */
		filter_table__remove(&t, fl[drop]);
		for (int i = 0; i < 5; i++)
			assert_ptr_equal(find(&t, keys[i]), i == drop ? NULL : fl[i]);
		assert_int_equal(walk_count(&t), 4);
		assert_int_equal(filter_table__count(&t), 4);
		for (int i = 0; i < 5; i++) {
			if (i != drop)
				filter_table__remove(&t, fl[i]);
			free(fl[i]);
		}
		assert_int_equal(filter_table__count(&t), 0);
		assert_int_equal(walk_count(&t), 0);
		filter_table__fini(&t);
	}
}

static void growth_keeps_every_filter_and_a_walk_visits_each_once(void **s)
{
	enum { N = 5000 };
	struct filter_table t;
	filter_table__init(&t);
	static struct filter *fl[N];
	char k[32];
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof k, "dev/%d/temp", i);
		fl[i] = filter_new(k);
		assert_int_equal(filter_table__add(&t, fl[i]), 0);
		assert_true(t.count <= t.mask + 1); /* a load of at most one */
	}
	assert_int_equal(filter_table__count(&t), N);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof k, "dev/%d/temp", i);
		assert_ptr_equal(find(&t, k), fl[i]);
	}
	static unsigned char seen[N];
	memset(seen, 0, sizeof seen);
	size_t b = 0;
	for (struct filter *f = NULL; (f = filter_table__next(&t, &b, f));)
		seen[atoi(f->filter + 4)]++;
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	for (int i = 0; i < N; i++)
		free(fl[i]);
	filter_table__fini(&t);
}

static void a_walk_may_remove_and_free_each_filter_it_is_given(void **s)
{
	enum { N = 300 };
	struct filter_table t;
	filter_table__init(&t);
	char k[32];
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof k, "x/%d", i);
		assert_int_equal(filter_table__add(&t, filter_new(k)), 0);
	}
	/* Every other one removed and kept: the walk goes on from it. */
	size_t b = 0, n = 0;
	struct filter *kept[N];
	size_t nkept = 0;
	for (struct filter *fl = NULL; (fl = filter_table__next(&t, &b, fl));)
		if (n++ % 2) {
			filter_table__remove(&t, fl);
			kept[nkept++] = fl;
		}
	assert_int_equal(n, N);
	assert_int_equal(filter_table__count(&t), N - nkept);
	for (size_t i = 0; i < nkept; i++) {
		assert_null(find(&t, kept[i]->filter));
		free(kept[i]);
	}
	/* The rest removed and freed, the next asked for first. */
	b = n = 0;
	for (struct filter *fl = filter_table__next(&t, &b, NULL), *next; fl; fl = next) {
		next = filter_table__next(&t, &b, fl);
		filter_table__remove(&t, fl);
		free(fl);
		n++;
	}
	assert_int_equal(n, N - nkept);
	assert_int_equal(filter_table__count(&t), 0);
	assert_int_equal(walk_count(&t), 0);
	filter_table__fini(&t);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(an_empty_table_finds_nothing_and_walks_nothing),
	cmocka_unit_test(a_topic_is_found_by_its_bytes_not_by_a_prefix_or_a_longer_text),
	cmocka_unit_test(one_bucket_chain_loses_its_head_middle_and_tail_and_keeps_the_rest),
	cmocka_unit_test(growth_keeps_every_filter_and_a_walk_visits_each_once),
	cmocka_unit_test(a_walk_may_remove_and_free_each_filter_it_is_given),
};

TU_MAIN(tests)
