/* SPDX-License-Identifier: MIT */
/* The state machine against Home Assistant's rules: which writes fire
 * state_changed, which timestamps move, which entity ids and state strings
 * are accepted, and the thread-safe flavours. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "lib/internal.h"
#include "core/hass.h"
#include "mqbridge/bus.h"
#include "mqbridge/error.h"
#include "mqbridge/states.h"

/* A core used from the test's own thread: until mqb_core_run is called
 * elsewhere, the creating thread is the loop thread, and CALLBACK listeners
 * run inside the fire, so these tests need no running loop. */
static struct mqb_core *core_new(void)
{
	struct mqb_core *core = NULL;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	return core;
}

/* Collects state_changed events (references) as a CALLBACK listener. */
struct recorder {
	struct mqb_event *ev[16];
	int n;
};

static int record(void *ud, void *arg, void **result)
{
	struct recorder *r = ud;
	if (r->n < 16)
		r->ev[r->n] = mqb_event_ref(arg);
	r->n++;
	return 0;
}

static void recorder_clear(struct recorder *r)
{
	for (int i = 0; i < r->n && i < 16; i++)
		mqb_event_unref(r->ev[i]);
	r->n = 0;
}

static json_t *parse(const char *text)
{
	if (!text)
		return NULL;
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);
	assert_non_null(j);
	return j;
}

/* Wait (spinning on the clock, bounded) until the wall clock moves past t,
 * so "last_updated moved" cannot be confused with "the clock did not". */
static void clock_past(double t)
{
	double end = tu_now() + TU_TIMEOUT;
	while (mqb__time_wall() <= t && tu_now() < end)
		;
}

/* ---- the semantics table ---- */

#define X4 "xxxx"
#define X16 X4 X4 X4 X4
#define X64 X16 X16 X16 X16
#define S252 X64 X64 X64 X16 X16 X16 X4 X4 X4
#define S253 S252 "x"
#define S255 S252 "xxx"
#define S256 X64 X64 X64 X64

struct set_case {
	const char *what;
	const char *prev;       /* previous state, NULL: none */
	const char *prev_attrs; /* JSON, NULL: none ({}) */
	const char *state;      /* the write */
	const char *attrs;
	bool force;
	int rc;
	bool fired;
	bool changed_kept;  /* last_changed is the previous one */
	bool updated_moved; /* last_updated is new */
};

static const struct set_case set_cases[] = {
	{ "first write", NULL, NULL, "on", NULL, false, 0, true, false, true },
	{ "first write with attributes", NULL, NULL, "on", "{\"a\":1}", false, 0, true, false, true },
	{ "same state, no attributes", "on", NULL, "on", NULL, false, 0, false, true, false },
	{ "same state, equal attributes", "on", "{\"a\":1}", "on", "{\"a\":1}", false, 0, false, true, false },
	{ "same state, attributes in another order", "on", "{\"a\":1,\"b\":[1,2]}", "on",
	  "{\"b\":[1,2],\"a\":1}", false, 0, false, true, false },
	{ "same state, {} against none", "on", NULL, "on", "{}", false, 0, false, true, false },
	{ "same state, attribute changed", "on", "{\"a\":1}", "on", "{\"a\":2}", false, 0, true, true, true },
	{ "same state, nested attribute changed", "on", "{\"a\":{\"b\":1}}", "on", "{\"a\":{\"b\":2}}",
	  false, 0, true, true, true },
	{ "same state, attribute added", "on", NULL, "on", "{\"a\":1}", false, 0, true, true, true },
	{ "same state, attributes dropped", "on", "{\"a\":1}", "on", NULL, false, 0, true, true, true },
	{ "state changed, same attributes", "on", "{\"a\":1}", "off", "{\"a\":1}", false, 0, true, false, true },
	{ "state changed, attributes changed", "on", NULL, "off", "{\"a\":1}", false, 0, true, false, true },
	{ "state differs only in case", "on", NULL, "ON", NULL, false, 0, true, false, true },
	/* Home Assistant: same_state = old == new and not force_update, and
	 * last_changed is kept only if same_state, so a forced write moves it. */
	{ "forced identical write", "on", NULL, "on", NULL, true, 0, true, false, true },
	{ "forced identical write with attributes", "on", "{\"a\":1}", "on", "{\"a\":1}", true, 0, true,
	  false, true },
	{ "forced change", "on", NULL, "off", NULL, true, 0, true, false, true },
	{ "empty state string", "on", NULL, "", NULL, false, 0, true, false, true },
	{ "state of 256 bytes", "on", NULL, S256, NULL, false, -MQB_E_INVALID_STATE, false, true, false },
	{ "state of 256 bytes, forced", "on", NULL, S256, NULL, true, -MQB_E_INVALID_STATE, false, true,
	  false },
	{ "state not UTF-8", "on", NULL, "o\xff", NULL, false, -MQB_E_INVALID_STATE, false, true, false },
	{ "attributes not an object", "on", NULL, "off", "[1]", false, -EINVAL, false, true, false },
	{ "first write of an invalid state", NULL, NULL, "\xc0\xaf", NULL, false,
	  -MQB_E_INVALID_STATE, false, false, false },
};

static void writes_fire_and_move_timestamps_as_the_table_says(void **unused)
{
	for (size_t i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
		const struct set_case *c = &set_cases[i];
		print_message("case: %s\n", c->what);
		struct mqb_core *core = core_new();
		struct recorder r = { .n = 0 };
		struct mqb_job job = MQB_CALLBACK(record, &r);
		assert_int_equal(mqb_bus_async_listen(core, MQB_EVENT_STATE_CHANGED, &job, NULL), 0);

		struct mqb_state *prev = NULL;
		if (c->prev) {
			assert_int_equal(mqb_states_async_set(core, "light.kitchen", c->prev,
							      parse(c->prev_attrs), false), 0);
			prev = mqb_states_async_get(core, "light.kitchen");
			assert_non_null(prev);
			recorder_clear(&r);
			clock_past(mqb_state_last_updated(prev));
		}

		int rc = mqb_states_async_set(core, "light.kitchen", c->state, parse(c->attrs),
					      c->force);
		assert_int_equal(rc, c->rc);
		assert_int_equal(r.n, c->fired ? 1 : 0);

		struct mqb_state *now = mqb_states_async_get(core, "light.kitchen");
		if (rc == 0) {
			assert_non_null(now);
			assert_string_equal(mqb_state_value(now), c->state);
			json_t *want = c->attrs ? parse(c->attrs) : json_object();
			assert_true(json_equal(want, (json_t *)mqb_state_attributes(now)));
			json_decref(want);
		} else if (prev) {
			assert_ptr_equal(now, prev); /* nothing changed */
		} else {
			assert_null(now);
		}
		if (prev && now) {
			assert_int_equal(mqb_state_last_changed(now) == mqb_state_last_changed(prev),
					 c->changed_kept);
			assert_int_equal(mqb_state_last_updated(now) != mqb_state_last_updated(prev),
					 c->updated_moved);
			/* No change at all means the very same object stays. */
			assert_int_equal(now == prev, !c->fired);
		}
		if (c->fired) {
			assert_ptr_equal(mqb_event_new_state(r.ev[0]), now);
			assert_ptr_equal(mqb_event_old_state(r.ev[0]), prev);
			assert_true(mqb_event_time_fired(r.ev[0]) == mqb_state_last_updated(now));
			if (!prev)
				assert_true(mqb_state_last_changed(now) == mqb_state_last_updated(now));
		}
		recorder_clear(&r);
		mqb_state_unref(prev);
		mqb_state_unref(now);
		mqb_core_free(core);
	}
}

/* ---- entity ids ---- */

#define D64 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define O63 "ooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo"
/* 64 + 1 + 190 = 255 */
#define O190 O63 O63 O63 "o"

static const struct {
	const char *id;
	bool valid;
} id_cases[] = {
	{ "light.kitchen", true },
	{ "l.1", true },
	{ "1.2", true },
	{ "a.b", true },
	{ "sensor.temp_1", true },
	{ "switch.a_b_c", true },
	{ "sensor.x9", true },
	{ "binary_sensor.door", true },
	{ "my_domain.my_object", true },
	{ D64 ".a", true },
	{ D64 "d.a", false },            /* domain of 65 */
	{ D64 "." O190, true },           /* 255 in all */
	{ D64 "." O190 "o", false },      /* 256 */
	{ "light.a__b", false },
	{ "li__ght.a", false },
	{ "Light.a", false },
	{ "light.A", false },
	{ "light._a", false },
	{ "light.a_", false },
	{ "_light.a", false },
	{ "light_.a", false },
	{ "__.a", false },
	{ "light", false },
	{ "light.", false },
	{ ".a", false },
	{ ".", false },
	{ "", false },
	{ "light.a.b", false },
	{ "light..a", false },
	{ "light.a b", false },
	{ "light.a-b", false },
	{ "light.\xc3\xa4", false },      /* ä */
	{ "light.a\n", false },           /* Python's $ would let this through */
	{ " light.a", false },
	{ "light.a ", false },
	{ "light.a_b_", false },
	{ "light._", false },
};

static void entity_ids_are_checked_like_home_assistants_regex(void **unused)
{
	for (size_t i = 0; i < sizeof(id_cases) / sizeof(id_cases[0]); i++) {
		print_message("id case %zu (%zu bytes)\n", i, strlen(id_cases[i].id));
		assert_int_equal(mqb_entity_id_valid(id_cases[i].id), id_cases[i].valid);
	}
	assert_false(mqb_entity_id_valid(NULL));
}

static void an_id_with_capitals_is_lowercased_as_home_assistant_does(void **unused)
{
	struct mqb_core *core = core_new();
	assert_int_equal(mqb_states_async_set(core, "Light.Kitchen", "on", NULL, false), 0);
	struct mqb_state *s = mqb_states_async_get(core, "light.kitchen");
	assert_non_null(s);
	assert_string_equal(mqb_state_entity_id(s), "light.kitchen");
	struct mqb_state *t = mqb_states_async_get(core, "LIGHT.KITCHEN");
	assert_ptr_equal(s, t);
	mqb_state_unref(t);
	mqb_state_unref(s);
	/* Lowercasing does not make anything else valid. */
	assert_int_equal(mqb_states_async_set(core, "Light.a__b", "on", NULL, false), -EINVAL);
	assert_int_equal(mqb_states_async_remove(core, "LIGHT.kitchen"), 0);
	assert_int_equal(mqb_states_async_count(core), 0);
	mqb_core_free(core);
}

static void bad_arguments_are_refused_without_a_crash(void **unused)
{
	struct mqb_core *core = core_new();
	assert_int_equal(mqb_states_async_set(core, NULL, "on", NULL, false), -EINVAL);
	assert_int_equal(mqb_states_async_set(core, "light.a", NULL, json_object(), false), -EINVAL);
	assert_int_equal(mqb_states_async_set(core, "light..a", "on", json_object(), false), -EINVAL);
	assert_int_equal(mqb_states_async_set(core, "light.a", "on", json_string("x"), false), -EINVAL);
	assert_null(mqb_states_async_get(core, NULL));
	assert_null(mqb_states_async_get(core, "light.none"));
	assert_int_equal(mqb_states_async_remove(core, NULL), -EINVAL);
	assert_int_equal(mqb_states_async_remove(core, "light.none"), -MQB_E_NOTFOUND);
	assert_int_equal(mqb_states_async_count(core), 0);
	mqb_core_free(core);
}

/* ---- state strings ---- */

static const struct {
	const char *what;
	const char *s;
	bool valid;
} value_cases[] = {
	{ "empty", "", true },
	{ "ASCII", "on", true },
	{ "2-byte", "21.5 \xc2\xb0" "C", true },
	{ "3-byte", "\xe2\x82\xac", true },
	{ "4-byte", "\xf0\x9f\x98\x80", true },
	{ "U+10FFFF", "\xf4\x8f\xbf\xbf", true },
	{ "U+110000", "\xf4\x90\x80\x80", false },
	{ "lead byte F5", "\xf5\x80\x80\x80", false },
	{ "byte FF", "\xff", false },
	{ "lone continuation", "a\x80", false },
	{ "truncated 3-byte", "\xe2\x82", false },
	{ "truncated 4-byte", "\xf0\x9f\x98", false },
	{ "overlong 2-byte /", "\xc0\xaf", false },
	{ "overlong 2-byte C1", "\xc1\xbf", false },
	{ "overlong 3-byte", "\xe0\x80\xaf", false },
	{ "overlong 3-byte U+07FF", "\xe0\x9f\xbf", false },
	{ "overlong 4-byte", "\xf0\x80\x80\xaf", false },
	{ "overlong 4-byte U+FFFF", "\xf0\x8f\xbf\xbf", false },
	{ "surrogate D800", "\xed\xa0\x80", false },
	{ "surrogate DFFF", "\xed\xbf\xbf", false },
	{ "U+D7FF", "\xed\x9f\xbf", true },
	{ "U+E000", "\xee\x80\x80", true },
	{ "256 bytes", S256, false },
	{ "255 bytes", S255, true },
	/* 252 + 3 = 255; 253 + 3 = 256: bytes count, not characters. */
	{ "252 bytes and a euro", S252 "\xe2\x82\xac", true },
	{ "253 bytes and a euro", S253 "\xe2\x82\xac", false },
};

static void state_strings_must_be_utf8_of_at_most_255_bytes(void **unused)
{
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		print_message("state: %s\n", value_cases[i].what);
		assert_int_equal(mqb_state_value_valid(value_cases[i].s), value_cases[i].valid);
	}
	assert_false(mqb_state_value_valid(NULL));
}

static void an_invalid_state_keeps_the_old_one(void **unused)
{
	struct mqb_core *core = core_new();
	assert_int_equal(mqb_states_async_set(core, "sensor.t", S255, NULL, false), 0);
	struct mqb_state *s = mqb_states_async_get(core, "sensor.t");
	assert_int_equal(strlen(mqb_state_value(s)), 255);
	assert_int_equal(mqb_states_async_set(core, "sensor.t", S256, json_pack("{s:i}", "a", 1),
					      false),
			 -MQB_E_INVALID_STATE);
	assert_int_equal(mqb_states_async_set(core, "sensor.t", "\xed\xa0\x80", NULL, true),
			 -MQB_E_INVALID_STATE);
	struct mqb_state *t = mqb_states_async_get(core, "sensor.t");
	assert_ptr_equal(s, t);
	assert_int_equal(json_object_size(mqb_state_attributes(t)), 0);
	mqb_state_unref(s);
	mqb_state_unref(t);
	mqb_core_free(core);
}

/* ---- events ---- */

static void state_changed_carries_old_and_new_states(void **unused)
{
	struct mqb_core *core = core_new();
	struct recorder r = { .n = 0 };
	struct mqb_job job = MQB_CALLBACK(record, &r);
	assert_int_equal(mqb_bus_async_listen(core, MQB_EVENT_STATE_CHANGED, &job, NULL), 0);

	assert_int_equal(mqb_states_async_set(core, "switch.pump", "off", NULL, false), 0);
	assert_int_equal(mqb_states_async_set(core, "switch.pump", "on",
					      json_pack("{s:s}", "friendly_name", "Pump"), false), 0);
	assert_int_equal(mqb_states_async_remove(core, "switch.pump"), 0);
	assert_int_equal(r.n, 3);

	/* First write: no old state. */
	assert_string_equal(mqb_event_type(r.ev[0]), "state_changed");
	assert_string_equal(mqb_event_entity_id(r.ev[0]), "switch.pump");
	assert_null(mqb_event_old_state(r.ev[0]));
	assert_string_equal(mqb_state_value(mqb_event_new_state(r.ev[0])), "off");
	const json_t *d = mqb_event_data(r.ev[0]);
	assert_true(json_is_null(json_object_get(d, "old_state")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "new_state"),
							      "state")), "off");

	/* A change: both. */
	assert_string_equal(mqb_state_value(mqb_event_old_state(r.ev[1])), "off");
	assert_string_equal(mqb_state_value(mqb_event_new_state(r.ev[1])), "on");
	assert_ptr_equal(mqb_event_new_state(r.ev[0]), mqb_event_old_state(r.ev[1]));

	/* Removal: no new state. */
	assert_string_equal(mqb_event_entity_id(r.ev[2]), "switch.pump");
	assert_string_equal(mqb_state_value(mqb_event_old_state(r.ev[2])), "on");
	assert_null(mqb_event_new_state(r.ev[2]));
	d = mqb_event_data(r.ev[2]);
	assert_string_equal(json_string_value(json_object_get(d, "entity_id")), "switch.pump");
	assert_true(json_is_null(json_object_get(d, "new_state")));
	json_t *old = json_object_get(d, "old_state");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(old, "attributes"), "friendly_name")), "Pump");
	assert_null(mqb_states_async_get(core, "switch.pump"));
	recorder_clear(&r);
	mqb_core_free(core);
}

static void a_state_as_json_has_home_assistants_fields(void **unused)
{
	struct mqb_core *core = core_new();
	assert_int_equal(mqb_states_async_set(core, "sensor.temp", "21.5",
					      json_pack("{s:s}", "unit_of_measurement", "C"), false), 0);
	struct mqb_state *s = mqb_states_async_get(core, "sensor.temp");
	assert_string_equal(mqb_state_domain(s), "sensor.temp"); /* not cut at '.' */
	assert_int_equal(mqb_state_domain_len(s), 6);
	assert_string_equal(mqb_state_object_id(s), "temp");
	json_t *j = mqb_state_to_json(s);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 5);
	assert_string_equal(json_string_value(json_object_get(j, "entity_id")), "sensor.temp");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "21.5");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "attributes"),
							      "unit_of_measurement")), "C");
	const char *lc = json_string_value(json_object_get(j, "last_changed"));
	assert_non_null(lc);
	/* 2024-05-01T12:00:00[.123456]+00:00 */
	assert_true(strlen(lc) == 25 || strlen(lc) == 32);
	assert_int_equal(lc[10], 'T');
	assert_string_equal(lc + strlen(lc) - 6, "+00:00");
	assert_string_equal(lc, json_string_value(json_object_get(j, "last_updated")));
	json_decref(j);
	mqb_state_unref(s);
	mqb_core_free(core);
}

static int collect_ids(void *ud, const struct mqb_state *s)
{
	char *buf = ud;
	strcat(buf, mqb_state_entity_id(s));
	strcat(buf, " ");
	return strcmp(mqb_state_entity_id(s), "light.b") == 0 ? 7 : 0;
}

static void foreach_walks_states_in_entity_id_order_and_stops_early(void **unused)
{
	struct mqb_core *core = core_new();
	const char *ids[] = { "switch.z", "light.b", "sensor.m", "light.a", "automation.x" };
	for (int i = 0; i < 5; i++)
		assert_int_equal(mqb_states_async_set(core, ids[i], "on", NULL, false), 0);
	assert_int_equal(mqb_states_async_count(core), 5);
	char buf[128] = "";
	assert_int_equal(mqb_states_async_foreach(core, collect_ids, buf), 7);
	assert_string_equal(buf, "automation.x light.a light.b ");
	mqb_core_free(core);
}

static void many_entities_survive_table_growth_and_removal(void **unused)
{
	struct mqb_core *core = core_new();
	char id[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "sensor.s%d", i);
		assert_int_equal(mqb_states_async_set(core, id, "1", NULL, false), 0);
	}
	for (int i = 0; i < 1000; i += 2) {
		snprintf(id, sizeof(id), "sensor.s%d", i);
		assert_int_equal(mqb_states_async_remove(core, id), 0);
	}
	assert_int_equal(mqb_states_async_count(core), 500);
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "sensor.s%d", i);
		struct mqb_state *s = mqb_states_async_get(core, id);
		assert_int_equal(s != NULL, i % 2 == 1);
		mqb_state_unref(s);
	}
	mqb_core_free(core);
}

static void running_out_of_memory_changes_nothing(void **unused)
{
	struct mqb_core *core = core_new();
	struct recorder r = { .n = 0 };
	struct mqb_job job = MQB_CALLBACK(record, &r);
	assert_int_equal(mqb_bus_async_listen(core, MQB_EVENT_STATE_CHANGED, &job, NULL), 0);
	assert_int_equal(mqb_states_async_set(core, "light.a", "off", NULL, false), 0);
	recorder_clear(&r);
	/* Fail the state's allocation, then the event's. */
	for (unsigned n = 1; n <= 2; n++) {
		mqb__alloc_fail_after(n);
		int rc = mqb_states_async_set(core, "light.a", "on", NULL, false);
		mqb__alloc_fail_after(0);
		assert_int_equal(rc, -ENOMEM);
		assert_int_equal(r.n, 0);
		struct mqb_state *s = mqb_states_async_get(core, "light.a");
		assert_string_equal(mqb_state_value(s), "off");
		mqb_state_unref(s);
	}
	mqb_core_free(core);
}

/* ---- attributes kept packed ---- */

/* Flat attributes are stored packed and built again when read: what is
 * read must be what was written, member for member, type for type
 * (json_equal tells 1 from 1.0), order included. */
static void flat_attributes_read_back_exactly_as_written(void **unused)
{
	struct mqb_core *core = core_new();
	json_t *want = json_object();
	json_object_set_new(want, "friendly_name", json_string("Sensor 0"));
	json_object_set_new(want, "unit_of_measurement", json_string("\xc2\xb0" "C"));
	json_object_set_new(want, "with_nul", json_stringn("a\0b", 3));
	json_object_set_new(want, "empty", json_string(""));
	json_object_set_new(want, "big", json_integer(INT64_MIN));
	json_object_set_new(want, "one", json_integer(1));
	json_object_set_new(want, "real_one", json_real(1.0));
	json_object_set_new(want, "minus_zero", json_real(-0.0));
	json_object_set_new(want, "third", json_real(1.0 / 3));
	json_object_set_new(want, "yes", json_true());
	json_object_set_new(want, "no", json_false());
	json_object_set_new(want, "nothing", json_null());
	char key[200];
	memset(key, 'k', sizeof key - 1); /* a length of two varint bytes */
	key[sizeof key - 1] = '\0';
	json_object_set_new(want, key, json_string(key));
	assert_int_equal(mqb_states_async_set(core, "sensor.a", "1", json_deep_copy(want), false), 0);

	struct mqb_state *s = mqb_states_async_get(core, "sensor.a");
	const json_t *got = mqb_state_attributes(s);
	assert_true(json_equal(want, (json_t *)got));
	assert_ptr_equal(mqb_state_attributes(s), got); /* built once */
	const char *k1, *k2;
	json_t *v1, *v2;
	void *it = json_object_iter((json_t *)got);
	json_object_foreach(want, k1, v1) {
		assert_non_null(it);
		k2 = json_object_iter_key(it);
		v2 = json_object_iter_value(it);
		assert_string_equal(k1, k2);
		assert_int_equal(json_typeof(v1), json_typeof(v2));
		it = json_object_iter_next((json_t *)got, it);
	}
	assert_true(signbit(json_real_value(json_object_get(got, "minus_zero"))));
	assert_int_equal(json_string_length(json_object_get(got, "with_nul")), 3);
	mqb_state_unref(s);
	json_decref(want);
	mqb_core_free(core);
}

/* Home Assistant compares attributes as dicts: the same members in
 * another order are no change; 1 and 1.0 are told apart as before. */
static void packed_attributes_compare_as_objects(void **unused)
{
	static const struct {
		const char *prev, *next;
		bool fired;
	} cases[] = {
		{ "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"x\"}", false },
		{ "{\"a\":1,\"b\":\"x\"}", "{\"b\":\"x\",\"a\":1}", false },
		{ "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"y\"}", true },
		{ "{\"a\":1,\"b\":\"x\"}", "{\"a\":1}", true },
		{ "{\"a\":1}", "{\"a\":1,\"b\":\"x\"}", true },
		{ "{\"a\":1}", "{\"a\":1.0}", true },
		{ "{\"a\":1}", "{\"a\":[1]}", true },
		{ "{\"a\":1}", "{}", true },
		{ "{\"a\":null}", "{\"a\":false}", true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		print_message("case: %s -> %s\n", cases[i].prev, cases[i].next);
		struct mqb_core *core = core_new();
		struct recorder r = { .n = 0 };
		struct mqb_job job = MQB_CALLBACK(record, &r);
		assert_int_equal(mqb_bus_async_listen(core, MQB_EVENT_STATE_CHANGED, &job, NULL), 0);
		assert_int_equal(mqb_states_async_set(core, "sensor.a", "1", parse(cases[i].prev), false), 0);
		recorder_clear(&r);
		assert_int_equal(mqb_states_async_set(core, "sensor.a", "1", parse(cases[i].next), false), 0);
		assert_int_equal(r.n, cases[i].fired ? 1 : 0);
		struct mqb_state *s = mqb_states_async_get(core, "sensor.a");
		json_t *want = parse(cases[i].fired ? cases[i].next : cases[i].prev);
		assert_true(json_equal(want, (json_t *)mqb_state_attributes(s)));
		json_decref(want);
		mqb_state_unref(s);
		recorder_clear(&r);
		mqb_core_free(core);
	}
}

/* Threads reading one state's attributes for the first time at once all
 * get the one object that is kept (the others' are dropped). */
#define READERS 4
struct reader {
	struct mqb_state *s;
	const json_t *got;
};

static void *read_attributes(void *arg)
{
	struct reader *r = arg;
	r->got = mqb_state_attributes(r->s);
	return NULL;
}

static void threads_reading_packed_attributes_at_once_get_one_object(void **unused)
{
	for (int round = 0; round < 50; round++) {
		struct mqb_core *core = core_new();
		assert_int_equal(mqb_states_async_set(core, "sensor.a", "1",
						      parse("{\"unit_of_measurement\":\"W\"}"), false), 0);
		struct mqb_state *s = mqb_states_async_get(core, "sensor.a");
		pthread_t th[READERS];
		struct reader r[READERS];
		for (int i = 0; i < READERS; i++) {
			r[i] = (struct reader){ .s = s };
			assert_int_equal(pthread_create(&th[i], NULL, read_attributes, &r[i]), 0);
		}
		for (int i = 0; i < READERS; i++)
			pthread_join(th[i], NULL);
		for (int i = 0; i < READERS; i++)
			assert_ptr_equal(r[i].got, mqb_state_attributes(s));
		assert_string_equal(json_string_value(json_object_get(r[0].got, "unit_of_measurement")), "W");
		mqb_state_unref(s);
		mqb_core_free(core);
	}
}

/* ---- threads ---- */

/* An EXECUTOR listener holds the event, and through it the new state,
 * until it is done: the loop replacing the state meanwhile must not free
 * the one the listener reads. */
struct holder {
	struct tu_loop *t;
	struct tu_latch replaced, done;
	char seen[32];
	char current[32];
	int current_rc;
};

static int hold_state(void *ud, void *arg, void **result)
{
	struct holder *h = ud;
	const struct mqb_state *s = mqb_event_new_state(arg);
	/* Wait until the test has replaced this very state on the loop. */
	if (tu_latch_wait(&h->replaced, TU_TIMEOUT)) {
		snprintf(h->seen, sizeof(h->seen), "%s=%s", mqb_state_entity_id(s),
			 mqb_state_value(s));
		struct mqb_state *cur = NULL;
		h->current_rc = mqb_states_get(h->t->core, "sensor.held", &cur);
		if (cur)
			snprintf(h->current, sizeof(h->current), "%s", mqb_state_value(cur));
		mqb_state_unref(cur);
	}
	tu_latch_count_down(&h->done);
	return 0;
}

struct listen_arg {
	struct mqb_core *core;
	const char *type;
	struct mqb_job job;
	int rc;
};

static void listen_once_on_loop(void *arg)
{
	struct listen_arg *a = arg;
	a->rc = mqb_bus_async_listen_once(a->core, a->type, &a->job, NULL);
}

static void an_executor_listener_keeps_its_state_after_the_loop_replaced_it(void **unused)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct holder h = { .t = &t };
	tu_latch_init(&h.replaced, 1);
	tu_latch_init(&h.done, 1);
	struct listen_arg la = { t.core, MQB_EVENT_STATE_CHANGED, MQB_EXECUTOR(hold_state, &h), -1 };
	tu_on_loop(&t, listen_once_on_loop, &la);
	assert_int_equal(la.rc, 0);

	assert_int_equal(mqb_states_set(t.core, "sensor.held", "first", NULL, false), 0);
	assert_int_equal(mqb_states_set(t.core, "sensor.held", "second", NULL, false), 0);
	/* The loop dropped its reference to "first"; the listener's event
	 * still holds one. */
	tu_latch_count_down(&h.replaced);
	assert_true(tu_latch_wait(&h.done, TU_TIMEOUT));
	assert_string_equal(h.seen, "sensor.held=first");
	assert_int_equal(h.current_rc, 0);
	assert_string_equal(h.current, "second");
	tu_loop_stop(&t);
	tu_latch_destroy(&h.replaced);
	tu_latch_destroy(&h.done);
}

#define WRITERS 4
#define WRITES 200

struct writer {
	struct mqb_core *core;
	int id;
	int failures;
};

static void *write_states(void *arg)
{
	struct writer *w = arg;
	char id[32], value[32];
	for (int i = 0; i < WRITES; i++) {
		/* Each writer its own entity, and all of them a shared one. */
		snprintf(id, sizeof(id), "sensor.w%d", w->id);
		snprintf(value, sizeof(value), "%d", i);
		if (mqb_states_set(w->core, id, value, json_pack("{s:i}", "i", i), false) != 0)
			w->failures++;
		snprintf(value, sizeof(value), "%d-%d", w->id, i);
		if (mqb_states_set(w->core, "sensor.shared", value, NULL, false) != 0)
			w->failures++;
	}
	return NULL;
}

static int count_event(void *ud, void *arg, void **result)
{
	(*(long *)ud)++; /* a CALLBACK: only ever on the loop thread */
	return 0;
}

static void listen_on_loop(void *arg)
{
	struct listen_arg *a = arg;
	a->rc = mqb_bus_async_listen(a->core, a->type, &a->job, NULL);
}

struct count_arg {
	struct mqb_core *core;
	size_t n;
};

static void count_on_loop(void *arg)
{
	struct count_arg *c = arg;
	c->n = mqb_states_async_count(c->core);
}

static void four_threads_can_set_states_at_once(void **unused)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	long events = 0;
	struct listen_arg la = { t.core, MQB_EVENT_STATE_CHANGED, MQB_CALLBACK(count_event, &events),
				 -1 };
	tu_on_loop(&t, listen_on_loop, &la);
	assert_int_equal(la.rc, 0);

	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ t.core, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, write_states, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	struct count_arg ca = { t.core, 0 };
	tu_on_loop(&t, count_on_loop, &ca);
	assert_int_equal(ca.n, WRITERS + 1);
	/* Every write changed something: own values count up, shared values
	 * name their writer, so no two consecutive shared writes are equal. */
	assert_int_equal(events, 2 * WRITERS * WRITES);
	for (int i = 0; i < WRITERS; i++) {
		char id[32];
		snprintf(id, sizeof(id), "sensor.w%d", i);
		struct mqb_state *s = NULL;
		assert_int_equal(mqb_states_get(t.core, id, &s), 0);
		assert_non_null(s);
		assert_int_equal(atoi(mqb_state_value(s)), WRITES - 1);
		assert_int_equal(json_integer_value(json_object_get(mqb_state_attributes(s), "i")),
				 WRITES - 1);
		mqb_state_unref(s);
	}
	tu_loop_stop(&t);
}

struct deadlock_arg {
	struct mqb_core *core;
	int set_rc, get_rc, remove_rc;
	struct mqb_state *got;
};

static void blocking_calls_on_loop(void *arg)
{
	struct deadlock_arg *a = arg;
	a->set_rc = mqb_states_set(a->core, "light.a", "on", json_object(), false);
	a->got = (struct mqb_state *)1;
	a->get_rc = mqb_states_get(a->core, "light.a", &a->got);
	a->remove_rc = mqb_states_remove(a->core, "light.a");
}

static void blocking_calls_on_the_loop_thread_return_edeadlk(void **unused)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct deadlock_arg a = { .core = t.core };
	tu_on_loop(&t, blocking_calls_on_loop, &a);
	assert_int_equal(a.set_rc, -EDEADLK);
	assert_int_equal(a.get_rc, -EDEADLK);
	assert_null(a.got);
	assert_int_equal(a.remove_rc, -EDEADLK);
	tu_loop_stop(&t);
}

static void thread_safe_calls_after_shutdown_return_eshutdown(void **unused)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	assert_int_equal(mqb_states_set(t.core, "light.a", "on", NULL, false), 0);
	struct tu_loop copy = t;
	mqb_core_stop(t.core, 0);
	pthread_join(t.thread, NULL);
	/* The loop is gone: the call is refused and its attributes freed. */
	assert_int_equal(mqb_states_set(copy.core, "light.a", "off", json_object(), false),
			 -ESHUTDOWN);
	mqb_core_free(copy.core);
	tu_latch_destroy(&t.started);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(writes_fire_and_move_timestamps_as_the_table_says),
	cmocka_unit_test(entity_ids_are_checked_like_home_assistants_regex),
	cmocka_unit_test(an_id_with_capitals_is_lowercased_as_home_assistant_does),
	cmocka_unit_test(bad_arguments_are_refused_without_a_crash),
	cmocka_unit_test(state_strings_must_be_utf8_of_at_most_255_bytes),
	cmocka_unit_test(an_invalid_state_keeps_the_old_one),
	cmocka_unit_test(state_changed_carries_old_and_new_states),
	cmocka_unit_test(a_state_as_json_has_home_assistants_fields),
	cmocka_unit_test(foreach_walks_states_in_entity_id_order_and_stops_early),
	cmocka_unit_test(many_entities_survive_table_growth_and_removal),
	cmocka_unit_test(running_out_of_memory_changes_nothing),
	cmocka_unit_test(flat_attributes_read_back_exactly_as_written),
	cmocka_unit_test(packed_attributes_compare_as_objects),
	cmocka_unit_test(threads_reading_packed_attributes_at_once_get_one_object),
	cmocka_unit_test(an_executor_listener_keeps_its_state_after_the_loop_replaced_it),
	cmocka_unit_test(four_threads_can_set_states_at_once),
	cmocka_unit_test(blocking_calls_on_the_loop_thread_return_edeadlk),
	cmocka_unit_test(thread_safe_calls_after_shutdown_return_eshutdown),
};

TU_MAIN(tests)
