/* SPDX-License-Identifier: MIT */
/* Home Assistant's event helpers (mqbridge/track.h): state trackers, the
 * per-entity index that keeps a change's cost to its own trackers, and
 * templates followed through what they read, the minute of now() and the
 * rate limits of templates that iterate states. The core runs on the
 * test's thread; time passes on the fake clock (timer__advance). Cases
 * follow home-assistant/core tests/helpers/test_event.py. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <ev.h>

#include "testutil.h"
#include "core/loop.h"
#include "mqbridge/bus.h"
#include "mqbridge/states.h"
#include "mqbridge/template.h"
#include "mqbridge/timer.h"
#include "mqbridge/track.h"

struct fx {
	struct mqb_core *core;
	int calls;
	char last_id[64];
	char last_text[256];
	int last_status;
	char last_ev_id[64];       /* "" when the render had no event */
	struct mqb_track *tr, *other;
	bool cancel_self, cancel_other, make_new;
	struct mqb_track *made;
};

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	assert_int_equal(mqb_core_new(NULL, &f->core), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	mqb_core_free(f->core);
	free(f);
}

/* Everything due runs: the ready queue, timers that are due. */
static void pump(struct mqb_core *core)
{
	for (int i = 0; i < 8; i++)
		ev_run(core__loop(core), EVRUN_NOWAIT);
}

static void advance(struct mqb_core *core, double seconds)
{
	timer__advance(core, seconds);
	pump(core);
}

static void set(struct fx *f, const char *id, const char *state)
{
	assert_int_equal(mqb_states_async_set(f->core, id, state, NULL, false), 0);
}

/* ---- state trackers ------------------------------------------------------ */

static void on_state(void *ud, const struct mqb_event *ev)
{
	struct fx *f = ud;
	f->calls++;
	snprintf(f->last_id, sizeof f->last_id, "%s", mqb_event_entity_id(ev));
	if (f->cancel_self) {
		mqb_async_track_cancel(f->tr);
		f->tr = NULL;
	}
	if (f->cancel_other) {
		mqb_async_track_cancel(f->other);
		f->other = NULL;
	}
	if (f->make_new) {
		const char *id = "light.a";
		f->make_new = false;
		assert_int_equal(mqb_async_track_state_change(f->core, &id, 1, on_state, f,
							      &f->made), 0);
	}
}

/* test_event.py::test_async_track_state_change_event: the callback sees
 * the changes of the entities it tracks, creation and removal included,
 * and nothing of the others. */
static void a_state_tracker_sees_its_entities_only(void **state)
{
	struct fx *f = fx_new();
	const char *ids[] = {"light.a", "switch.b"};
	assert_int_equal(mqb_async_track_state_change(f->core, ids, 2, on_state, f, &f->tr), 0);
	set(f, "light.a", "on");
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->last_id, "light.a");
	set(f, "light.c", "on");
	set(f, "light.a", "on"); /* the same state: no event */
	assert_int_equal(f->calls, 1);
	set(f, "switch.b", "off");
	assert_int_equal(mqb_states_async_remove(f->core, "light.a"), 0);
	assert_int_equal(f->calls, 3);
	mqb_async_track_cancel(f->tr);
	set(f, "switch.b", "on");
	assert_int_equal(f->calls, 3);
	fx_free(f);
}

static void bad_entity_ids_are_refused(void **state)
{
	struct fx *f = fx_new();
	const char *bad[] = {"light.a", "Light.B"};
	struct mqb_track *tr = NULL;
	assert_int_equal(mqb_async_track_state_change(f->core, bad, 2, on_state, f, &tr), -EINVAL);
	assert_int_equal(mqb_async_track_state_change(f->core, bad, 0, on_state, f, &tr), -EINVAL);
	assert_int_equal(mqb_async_track_state_change(f->core, bad, 1, NULL, f, &tr), -EINVAL);
	assert_null(tr);
	fx_free(f);
}

/* A tracker cancelled in its own call, or another's, is not called again,
 * and one made during a delivery waits for the next event (Home
 * Assistant walks a copy of the callbacks). */
static void trackers_cancel_and_add_during_delivery(void **state)
{
	struct fx *f = fx_new();
	const char *id = "light.a";
	struct fx g = {.core = f->core};
	assert_int_equal(mqb_async_track_state_change(f->core, &id, 1, on_state, f, &f->tr), 0);
	assert_int_equal(mqb_async_track_state_change(f->core, &id, 1, on_state, &g, &g.tr), 0);
	f->other = g.tr;
	f->cancel_other = true;
	f->make_new = true;
	set(f, "light.a", "on");
	assert_int_equal(f->calls, 1);
	assert_int_equal(g.calls, 0); /* cancelled before its turn */
	f->cancel_other = false;
	f->cancel_self = true;
	set(f, "light.a", "off");
	/* f's own tracker once, then the one made last time */
	assert_int_equal(f->calls, 3);
	assert_null(f->tr);
	set(f, "light.a", "on");
	assert_int_equal(f->calls, 4); /* only the new one is left */
	mqb_async_track_cancel(f->made);
	fx_free(f);
}

#define MANY 10000

/* The cost property of issue 13: a state change calls the trackers of its
 * entity and no other, however many there are. */
static void ten_thousand_trackers_one_change_calls_one(void **state)
{
	struct fx *f = fx_new();
	static struct mqb_track *trs[MANY];
	for (int i = 0; i < MANY; i++) {
		char id[32];
		snprintf(id, sizeof id, "sensor.s%d", i);
		const char *p = id;
		assert_int_equal(mqb_async_track_state_change(f->core, &p, 1, on_state, f, &trs[i]),
				 0);
	}
	set(f, "sensor.s4242", "1");
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->last_id, "sensor.s4242");
	set(f, "sensor.other", "1");
	assert_int_equal(f->calls, 1);
	for (int i = 0; i < MANY; i += 2)
		mqb_async_track_cancel(trs[i]);
	set(f, "sensor.s4242", "2");
	set(f, "sensor.s4243", "2");
	assert_int_equal(f->calls, 2);
	assert_string_equal(f->last_id, "sensor.s4243");
	fx_free(f); /* the core frees the trackers left */
}

/* ---- template trackers --------------------------------------------------- */

static void on_result(void *ud, const struct mqb_event *ev, int status, const char *text)
{
	struct fx *f = ud;
	f->calls++;
	f->last_status = status;
	snprintf(f->last_text, sizeof f->last_text, "%s", text);
	snprintf(f->last_ev_id, sizeof f->last_ev_id, "%s", ev ? mqb_event_entity_id(ev) : "");
	if (f->cancel_self) {
		mqb_async_track_cancel(f->tr);
		f->tr = NULL;
	}
}

static struct mqb_template *compile(const char *text)
{
	struct mqb_template *t = NULL;
	struct mqb_tpl_error err;
	assert_int_equal(mqb_template_compile(text, strlen(text), &t, &err), 0);
	return t;
}

static void track(struct fx *f, struct mqb_template *t, const char *text, bool first)
{
	struct mqb_track_template_options opt = {.fire_first = first, .text = text};
	assert_int_equal(mqb_async_track_template(f->core, t, &opt, on_result, f, &f->tr), 0);
}

/* test_event.py::test_track_template_result: renders again when an entity
 * it read changes, and reports only results that differ. */
static void a_template_renders_again_when_what_it_read_changes(void **state)
{
	struct fx *f = fx_new();
	const char *text = "{{ states('sensor.a') }}";
	struct mqb_template *t = compile(text);
	set(f, "sensor.a", "1");
	track(f, t, text, true);
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->last_text, "1");
	assert_string_equal(f->last_ev_id, "");
	set(f, "sensor.a", "2");
	assert_int_equal(f->calls, 2);
	assert_string_equal(f->last_text, "2");
	assert_string_equal(f->last_ev_id, "sensor.a");
	/* an attribute change renders the same text: no news */
	assert_int_equal(mqb_states_async_set(f->core, "sensor.a", "2", json_pack("{s:i}", "x", 1),
					      false), 0);
	assert_int_equal(f->calls, 2);
	set(f, "sensor.b", "9");
	assert_int_equal(f->calls, 2);
	mqb_async_track_cancel(f->tr);
	set(f, "sensor.a", "3");
	assert_int_equal(f->calls, 2);
	mqb_template_free(t);
	fx_free(f);
}

/* test_event.py::test_track_template_result_complex: what a render reads
 * is what it follows, so a branch taken later is followed from then on. */
static void a_template_follows_the_branch_it_took(void **state)
{
	struct fx *f = fx_new();
	const char *text = "{% if is_state('switch.x', 'on') %}{{ states('sensor.on') }}"
			   "{% else %}{{ states('sensor.off') }}{% endif %}";
	struct mqb_template *t = compile(text);
	set(f, "switch.x", "off");
	track(f, t, text, false);
	assert_int_equal(f->calls, 0);
	set(f, "sensor.on", "5"); /* not read yet */
	assert_int_equal(f->calls, 0);
	set(f, "sensor.off", "7");
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->last_text, "7");
	set(f, "switch.x", "on");
	assert_int_equal(f->calls, 2);
	assert_string_equal(f->last_text, "5");
	set(f, "sensor.off", "8"); /* no longer read */
	assert_int_equal(f->calls, 2);
	set(f, "sensor.on", "6");
	assert_int_equal(f->calls, 3);
	mqb_async_track_cancel(f->tr);
	mqb_template_free(t);
	fx_free(f);
}

/* test_event.py::test_track_template_result_errors: an error is reported
 * once, and again only after a good result came between. */
static void an_error_after_an_error_is_no_news(void **state)
{
	struct fx *f = fx_new();
	const char *text = "{{ 84 / states('test.number') | int }}";
	struct mqb_template *t = compile(text);
	track(f, t, text, true);
	assert_int_equal(f->calls, 1);
	assert_true(f->last_status < 0);
	set(f, "test.number", "0");
	assert_int_equal(f->calls, 1);
	set(f, "test.number", "2");
	assert_int_equal(f->calls, 2);
	assert_int_equal(f->last_status, 0);
	assert_string_equal(f->last_text, "42.0");
	set(f, "test.number", "0");
	assert_int_equal(f->calls, 3);
	assert_true(f->last_status < 0);
	mqb_async_track_cancel(f->tr);
	mqb_template_free(t);
	fx_free(f);
}

static void cancel_inside_the_first_call_is_safe(void **state)
{
	struct fx *f = fx_new();
	struct mqb_template *t = compile("{{ states('sensor.a') }}");
	f->cancel_self = true;
	track(f, t, NULL, true);
	assert_int_equal(f->calls, 1);
	assert_null(f->tr);
	set(f, "sensor.a", "1");
	assert_int_equal(f->calls, 1);
	mqb_template_free(t);
	fx_free(f);
}

/* test_event.py::test_track_template_time_change (and the template
 * trigger's test_if_fires_on_time_change): a template calling now() is
 * rendered each minute on the minute. */
static void now_renders_each_minute_on_the_minute(void **state)
{
	struct fx *f = fx_new();
	const char *text = "{{ now().minute }}";
	struct mqb_template *t = compile(text);
	double now = mqb_async_now(f->core);
	double next = floor(now / 60) * 60 + 60;
	timer__shift_wall(f->core, next - now - 1); /* a second before a minute */
	pump(f->core);
	track(f, t, text, true);
	assert_int_equal(f->calls, 1);
	advance(f->core, 0.5);
	assert_int_equal(f->calls, 1);
	advance(f->core, 1);
	assert_int_equal(f->calls, 2);
	assert_string_equal(f->last_ev_id, "");
	advance(f->core, 30);
	assert_int_equal(f->calls, 2);
	advance(f->core, 30);
	assert_int_equal(f->calls, 3);
	mqb_async_track_cancel(f->tr);
	advance(f->core, 60);
	assert_int_equal(f->calls, 3);
	mqb_template_free(t);
	fx_free(f);
}

/* test_event.py::test_track_template_rate_limit_domain (shape): a
 * template over a domain sees entities that appear and is rendered at most
 * once a second; the change that came during the wait is the one it
 * reports. */
static void a_domain_iterated_is_followed_at_most_once_a_second(void **state)
{
	struct fx *f = fx_new();
	const char *text = "{{ states.sensor | count }}";
	struct mqb_template *t = compile(text);
	track(f, t, text, true);
	assert_string_equal(f->last_text, "0");
	set(f, "sensor.one", "1");
	assert_int_equal(f->calls, 2);
	assert_string_equal(f->last_text, "1");
	set(f, "sensor.two", "1");
	set(f, "sensor.three", "1");
	assert_int_equal(f->calls, 2); /* within the second */
	advance(f->core, 0.5);
	assert_int_equal(f->calls, 2);
	advance(f->core, 0.6);
	assert_int_equal(f->calls, 3);
	assert_string_equal(f->last_text, "3");
	assert_string_equal(f->last_ev_id, "sensor.two");
	mqb_async_track_cancel(f->tr);
	mqb_template_free(t);
	fx_free(f);
}

/* test_event.py::test_track_template_rate_limit (all states): once a
 * minute. */
static void all_states_iterated_are_followed_at_most_once_a_minute(void **state)
{
	struct fx *f = fx_new();
	const char *text = "{{ states | count }}";
	struct mqb_template *t = compile(text);
	track(f, t, text, true);
	set(f, "light.one", "on");
	assert_string_equal(f->last_text, "1");
	set(f, "switch.two", "on");
	advance(f->core, 30);
	assert_string_equal(f->last_text, "1");
	advance(f->core, 31);
	assert_string_equal(f->last_text, "2");
	mqb_async_track_cancel(f->tr);
	mqb_template_free(t);
	fx_free(f);
}

/* The rate of a template comes from how its text uses `states`. */
static void reading_one_entity_is_never_rate_limited(void **state)
{
	struct fx *f = fx_new();
	const char *text = "{{ states.sensor.a.state }}{{ states['sensor.b'] }}{{ 'states' }}";
	struct mqb_template *t = compile(text);
	track(f, t, text, true);
	set(f, "sensor.a", "1");
	set(f, "sensor.a", "2");
	set(f, "sensor.a", "3");
	assert_int_equal(f->calls, 4);
	set(f, "sensor.c", "3"); /* not followed: it reads no domain */
	assert_int_equal(f->calls, 4);
	mqb_async_track_cancel(f->tr);
	mqb_template_free(t);
	fx_free(f);
}

static void freeing_the_core_frees_live_trackers(void **state)
{
	struct fx *f = fx_new();
	const char *text = "{{ now() }}{{ states | count }}";
	struct mqb_template *t = compile(text);
	const char *id = "light.a";
	track(f, t, text, true);
	assert_int_equal(mqb_async_track_state_change(f->core, &id, 1, on_state, f, NULL), 0);
	set(f, "light.b", "on"); /* a rate-limited render pending */
	set(f, "light.c", "on");
	fx_free(f);
	mqb_template_free(t);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(a_state_tracker_sees_its_entities_only),
	cmocka_unit_test(bad_entity_ids_are_refused),
	cmocka_unit_test(trackers_cancel_and_add_during_delivery),
	cmocka_unit_test(ten_thousand_trackers_one_change_calls_one),
	cmocka_unit_test(a_template_renders_again_when_what_it_read_changes),
	cmocka_unit_test(a_template_follows_the_branch_it_took),
	cmocka_unit_test(an_error_after_an_error_is_no_news),
	cmocka_unit_test(cancel_inside_the_first_call_is_safe),
	cmocka_unit_test(now_renders_each_minute_on_the_minute),
	cmocka_unit_test(a_domain_iterated_is_followed_at_most_once_a_second),
	cmocka_unit_test(all_states_iterated_are_followed_at_most_once_a_minute),
	cmocka_unit_test(reading_one_entity_is_never_rate_limited),
	cmocka_unit_test(freeing_the_core_frees_live_trackers),
};

TU_MAIN(tests)
