/* SPDX-License-Identifier: MIT */
/* The topic tree and topic validation, checked case by case against
 * libmosquitto's own matcher (mosquitto_topic_matches_sub) as an oracle. */
#include "config.h"

#include <errno.h>
#include <mosquitto.h>

#include "testutil.h"
#include "mqtt/topic_tree.h"
#include "mqbridge/mqtt.h"

struct match_case {
	const char *filter, *topic;
};

/* Filters and topics whose every pairing is checked against the oracle. */
static const char *const filters[] = {
	"#", "+", "+/+", "/+", "+/", "a", "a/b", "a/+", "a/#", "a/+/c", "a/+/#", "+/b/#",
	"a//c", "a/+/+", "/#", "$SYS/#", "$SYS/+", "$SYS", "+/+/+", "a/b/c/d/e/f/#",
	"sport/tennis/+", "sport/#", "#/", NULL,
};
static const char *const topics[] = {
	"a", "a/b", "a/b/c", "a//c", "a/", "/a", "/", "//", "$SYS", "$SYS/broker/load",
	"$other/x", "a/$SYS", "b", "sport/tennis/player1", "sport/tennis", "sport",
	"a/b/c/d/e/f", "a/b/c/d/e/f/g", "x/b/y", "ä/ö", NULL,
};

static bool oracle(const char *filter, const char *topic)
{
	bool result = false;
	int rc = mosquitto_topic_matches_sub(filter, topic, &result);
	assert_int_equal(rc, MOSQ_ERR_SUCCESS);
	return result;
}

static void every_filter_topic_pair_matches_as_libmosquitto_says(void **s)
{
	int n = 0, matched = 0;
	for (int i = 0; filters[i]; i++) {
		if (!mqb_mqtt_filter_valid(filters[i])) {
			/* "#/" is not a filter: both sides must agree */
			assert_int_not_equal(mosquitto_sub_topic_check(filters[i]), MOSQ_ERR_SUCCESS);
			continue;
		}
		for (int j = 0; topics[j]; j++) {
			bool want = oracle(filters[i], topics[j]);
			bool got = mqb_mqtt_topic_matches(filters[i], topics[j]);
			if (want != got)
				fail_msg("filter '%s' topic '%s': oracle %d, ours %d", filters[i],
					 topics[j], want, got);
			n++;
			matched += want;
		}
	}
	/* A matrix, not a handful: hundreds of pairs, many of each outcome. */
	assert_true(n >= 400);
	assert_true(matched >= 40);
}

static void collect(void *ud, void *value)
{
	int *hits = ud;
	hits[(intptr_t)value]++;
}

static void the_tree_agrees_with_the_oracle_for_all_filters_at_once(void **s)
{
	struct topic_tree *t;
	assert_int_equal(topic_tree__new(&t), 0);
	int nf = 0;
	for (intptr_t i = 0; filters[i]; i++, nf++)
		if (mqb_mqtt_filter_valid(filters[i]))
			assert_int_equal(topic_tree__add(t, filters[i], (void *)i), 0);
		else
			assert_int_equal(topic_tree__add(t, filters[i], (void *)i), -EINVAL);
	for (int j = 0; topics[j]; j++) {
		int hits[64] = { 0 };
		size_t calls = topic_tree__match(t, topics[j], strlen(topics[j]), collect, hits);
		size_t want_calls = 0;
		for (int i = 0; i < nf; i++) {
			bool want = mqb_mqtt_filter_valid(filters[i]) && oracle(filters[i], topics[j]);
			want_calls += want;
			if (hits[i] != (int)want)
				fail_msg("topic '%s' filter '%s': %d hits, oracle %d", topics[j],
					 filters[i], hits[i], want);
		}
		assert_int_equal(calls, want_calls);
	}
	topic_tree__free(t);
}

static void share_prefix_is_stripped_for_matching(void **s)
{
	assert_true(mqb_mqtt_topic_matches("$share/g/a/+", "a/b"));
	assert_false(mqb_mqtt_topic_matches("$share/g/a/+", "$share/g/a/b"));
	assert_false(mqb_mqtt_topic_matches("$share/g/#", "$SYS/x"));
	struct topic_tree *t;
	assert_int_equal(topic_tree__new(&t), 0);
	int hits[4] = { 0 };
	assert_int_equal(topic_tree__add(t, "$share/g/a/+", (void *)1), 0);
	assert_int_equal(topic_tree__add(t, "$share/h/a/b", (void *)2), 0);
	assert_int_equal(topic_tree__match(t, "a/b", 3, collect, hits), 2);
	assert_int_equal(hits[1], 1);
	assert_int_equal(hits[2], 1);
	topic_tree__free(t);
}

static void one_filter_holds_several_values_and_removal_is_per_value(void **s)
{
	struct topic_tree *t;
	assert_int_equal(topic_tree__new(&t), 0);
	const char *fs[] = { "a/b", "a/+" };
	for (int k = 0; k < 2; k++) {
		int hits[4] = { 0 };
		assert_int_equal(topic_tree__add(t, fs[k], (void *)1), 0);
		assert_int_equal(topic_tree__add(t, fs[k], (void *)2), 0);
		assert_int_equal(topic_tree__match(t, "a/b", 3, collect, hits), 2);
		assert_int_equal(topic_tree__remove(t, fs[k], (void *)1), 0);
		assert_int_equal(topic_tree__remove(t, fs[k], (void *)1), -ENOENT);
		memset(hits, 0, sizeof hits);
		assert_int_equal(topic_tree__match(t, "a/b", 3, collect, hits), 1);
		assert_int_equal(hits[2], 1);
		assert_int_equal(topic_tree__remove(t, fs[k], (void *)2), 0);
		assert_int_equal(topic_tree__match(t, "a/b", 3, collect, hits), 0);
	}
	assert_int_equal(topic_tree__remove(t, "x/+/y", (void *)1), -ENOENT);
	topic_tree__free(t);
}

static void many_filters_can_be_added_and_all_removed(void **s)
{
	struct topic_tree *t;
	assert_int_equal(topic_tree__new(&t), 0);
	char f[64];
	for (intptr_t i = 0; i < 2000; i++) {
		snprintf(f, sizeof f, i % 2 ? "dev/%ld/+/state" : "dev/%ld/state", (long)i);
		assert_int_equal(topic_tree__add(t, f, (void *)i), 0);
	}
	size_t n = topic_tree__match(t, "dev/7/x/state", 13, collect, (int[8000]){ 0 });
	assert_int_equal(n, 1);
	n = topic_tree__match(t, "dev/8/state", 11, collect, (int[8000]){ 0 });
	assert_int_equal(n, 1);
	for (intptr_t i = 0; i < 2000; i++) {
		snprintf(f, sizeof f, i % 2 ? "dev/%ld/+/state" : "dev/%ld/state", (long)i);
		assert_int_equal(topic_tree__remove(t, f, (void *)i), 0);
	}
	assert_int_equal(topic_tree__match(t, "dev/7/x/state", 13, collect, (int[8000]){ 0 }), 0);
	topic_tree__free(t);
}

static void topic_names_are_validated(void **s)
{
	static const struct {
		const char *topic;
		size_t len; /* 0: strlen */
		bool valid;
	} cases[] = {
		{ "a/b", 0, true },      { "/", 0, true },          { "$SYS/x", 0, true },
		{ "ä/€/𝄞", 0, true },   { "", 0, false },          { "a/+", 0, false },
		{ "a/#", 0, false },     { "a\0b", 3, false },      { "\xc3\x28", 0, false },
		{ "\xed\xa0\x80", 0, false }, /* a surrogate */
		{ "\xc0\xaf", 0, false },     /* overlong */
		{ "\xf4\x90\x80\x80", 0, false }, /* above U+10FFFF */
		{ "\xe2\x82", 0, false },     /* truncated */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].topic);
		if (mqb_mqtt_topic_valid(cases[i].topic, len) != cases[i].valid)
			fail_msg("case %zu: topic validity should be %d", i, cases[i].valid);
	}
	char *big = malloc(MQB_MQTT_MAX_TOPIC + 2);
	memset(big, 'a', MQB_MQTT_MAX_TOPIC + 1);
	assert_true(mqb_mqtt_topic_valid(big, MQB_MQTT_MAX_TOPIC));
	assert_false(mqb_mqtt_topic_valid(big, MQB_MQTT_MAX_TOPIC + 1));
	free(big);
}

static void filters_are_validated_as_libmosquitto_does(void **s)
{
	static const char *const cases[] = {
		"a", "a/b", "#", "+", "a/#", "a/+/b", "+/+", "/", "//", "$SYS/#",
		"a#", "a/#/b", "#/a", "a+", "a/+b", "++", "a/b#", "+#", "a/##", "ä/+",
		NULL,
	};
	for (int i = 0; cases[i]; i++) {
		bool want = mosquitto_sub_topic_check(cases[i]) == MOSQ_ERR_SUCCESS;
		if (mqb_mqtt_filter_valid(cases[i]) != want)
			fail_msg("filter '%s': libmosquitto says %d", cases[i], want);
	}
	assert_false(mqb_mqtt_filter_valid(""));
	assert_false(mqb_mqtt_filter_valid(NULL));
	assert_true(mqb_mqtt_filter_valid("$share/g/a/+"));
	assert_false(mqb_mqtt_filter_valid("$share/g"));
	assert_false(mqb_mqtt_filter_valid("$share//a"));
	assert_false(mqb_mqtt_filter_valid("$share/g+/a"));
	assert_false(mqb_mqtt_filter_valid("$share/g/"));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(every_filter_topic_pair_matches_as_libmosquitto_says),
	cmocka_unit_test(the_tree_agrees_with_the_oracle_for_all_filters_at_once),
	cmocka_unit_test(share_prefix_is_stripped_for_matching),
	cmocka_unit_test(one_filter_holds_several_values_and_removal_is_per_value),
	cmocka_unit_test(many_filters_can_be_added_and_all_removed),
	cmocka_unit_test(topic_names_are_validated),
	cmocka_unit_test(filters_are_validated_as_libmosquitto_does),
};

TU_MAIN(tests)
