/* SPDX-License-Identifier: MIT */
/* The event bus: each listener kind gets the event when the dispatcher
 * says, "*" gets everything, listen_once, listeners added and removed while
 * an event is being delivered, and the thread-safe flavours. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "testutil.h"
#include "lib/internal.h"
#include "mqbridge/bus.h"
#include "mqbridge/coro.h"
#include "mqbridge/states.h"

static struct mqb_core *core_new(void)
{
	struct mqb_core *core = NULL;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	return core;
}

/* A CALLBACK listener that counts and remembers the last event's type. */
struct counter {
	int n;
	char type[80];
	json_int_t value;
};

static int count(void *ud, void *arg, void **result)
{
	struct counter *c = ud;
	c->n++;
	snprintf(c->type, sizeof(c->type), "%s", mqb_event_type(arg));
	c->value = json_integer_value(json_object_get(mqb_event_data(arg), "n"));
	return 0;
}

static void a_callback_listener_runs_inside_the_fire(void **unused)
{
	struct mqb_core *core = core_new();
	struct counter c = { 0 };
	struct mqb_job job = MQB_CALLBACK(count, &c);
	assert_int_equal(mqb_bus_async_listen(core, "doorbell", &job, NULL), 0);
	assert_int_equal(mqb_bus_async_listener_count(core, "doorbell"), 1);
	assert_int_equal(mqb_bus_async_fire(core, "doorbell", json_pack("{s:i}", "n", 42)), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.type, "doorbell");
	assert_int_equal(c.value, 42);
	assert_int_equal(mqb_bus_async_fire(core, "other", NULL), 0);
	assert_int_equal(c.n, 1);
	mqb_core_free(core);
}

static int check_empty_data(void *ud, void *arg, void **result)
{
	const json_t *d = mqb_event_data(arg);
	*(int *)ud = json_is_object(d) && json_object_size(d) == 0 &&
		     mqb_event_time_fired(arg) > 1.6e9 && !mqb_event_entity_id(arg) &&
		     !mqb_event_old_state(arg) && !mqb_event_new_state(arg);
	return 0;
}

static void an_event_fired_without_data_has_an_empty_object(void **unused)
{
	struct mqb_core *core = core_new();
	int ok = 0;
	struct mqb_job job = MQB_CALLBACK(check_empty_data, &ok);
	assert_int_equal(mqb_bus_async_listen(core, "x", &job, NULL), 0);
	assert_int_equal(mqb_bus_async_fire(core, "x", NULL), 0);
	assert_true(ok);
	mqb_core_free(core);
}

/* ---- coroutine and executor listeners ---- */

struct later {
	struct mqb_core *core;
	struct tu_latch release_executor, done;
	int coro_ran, executor_ran;
	bool coro_on_loop, coro_in_coroutine;
	json_int_t coro_n, executor_n;
	char executor_type[16];
	/* Checked on the loop right after the fire returned. */
	int coro_ran_at_return;
};

static int coro_listener(void *ud, void *arg, void **result)
{
	struct later *l = ud;
	l->coro_on_loop = mqb_core_in_loop_thread(l->core);
	l->coro_in_coroutine = mqb_in_coroutine();
	l->coro_n = json_integer_value(json_object_get(mqb_event_data(arg), "n"));
	l->coro_ran++;
	tu_latch_count_down(&l->done);
	return 0;
}

static int executor_listener(void *ud, void *arg, void **result)
{
	struct later *l = ud;
	/* Held until the fire is long over: the event must still be there. */
	if (tu_latch_wait(&l->release_executor, TU_TIMEOUT)) {
		l->executor_n = json_integer_value(json_object_get(mqb_event_data(arg), "n"));
		snprintf(l->executor_type, sizeof(l->executor_type), "%s", mqb_event_type(arg));
		l->executor_ran = !mqb_core_in_loop_thread(l->core);
	}
	tu_latch_count_down(&l->done);
	return 0;
}

static void listen_and_fire_on_loop(void *arg)
{
	struct later *l = arg;
	struct mqb_job cj = MQB_COROUTINE(coro_listener, l);
	struct mqb_job ej = MQB_EXECUTOR(executor_listener, l);
	assert_int_equal(mqb_bus_async_listen(l->core, "tick", &cj, NULL), 0);
	assert_int_equal(mqb_bus_async_listen(l->core, "tick", &ej, NULL), 0);
	assert_int_equal(mqb_bus_async_fire(l->core, "tick", json_pack("{s:i}", "n", 7)), 0);
	l->coro_ran_at_return = l->coro_ran;
}

static void coroutine_and_executor_listeners_get_the_event_later(void **unused)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct later l = { .core = t.core };
	tu_latch_init(&l.release_executor, 1);
	tu_latch_init(&l.done, 2);
	tu_on_loop(&t, listen_and_fire_on_loop, &l);
	/* The coroutine was scheduled, not run, by the fire. */
	assert_int_equal(l.coro_ran_at_return, 0);
	tu_latch_count_down(&l.release_executor);
	assert_true(tu_latch_wait(&l.done, TU_TIMEOUT));
	assert_int_equal(l.coro_ran, 1);
	assert_true(l.coro_on_loop);
	assert_true(l.coro_in_coroutine);
	assert_int_equal(l.coro_n, 7);
	assert_int_equal(l.executor_ran, 1);
	assert_int_equal(l.executor_n, 7);
	assert_string_equal(l.executor_type, "tick");
	tu_loop_stop(&t);
	tu_latch_destroy(&l.release_executor);
	tu_latch_destroy(&l.done);
}

/* ---- "*" and listen_once ---- */

static void match_all_gets_every_event(void **unused)
{
	struct mqb_core *core = core_new();
	struct counter all = { 0 }, one = { 0 };
	struct mqb_job ja = MQB_CALLBACK(count, &all), j1 = MQB_CALLBACK(count, &one);
	assert_int_equal(mqb_bus_async_listen(core, MQB_MATCH_ALL, &ja, NULL), 0);
	assert_int_equal(mqb_bus_async_listen(core, "a", &j1, NULL), 0);
	assert_int_equal(mqb_bus_async_fire(core, "a", NULL), 0);
	assert_int_equal(mqb_bus_async_fire(core, "b", NULL), 0);
	assert_int_equal(mqb_states_async_set(core, "light.x", "on", NULL, false), 0);
	assert_int_equal(all.n, 3);
	assert_string_equal(all.type, "state_changed");
	assert_int_equal(one.n, 1);
	/* "*" listeners are not counted as listeners of a type. */
	assert_int_equal(mqb_bus_async_listener_count(core, "b"), 0);
	assert_int_equal(mqb_bus_async_listener_count(core, MQB_MATCH_ALL), 1);
	mqb_core_free(core);
}

struct once {
	struct mqb_core *core;
	int n;
	size_t count_inside;
};

static int once_listener(void *ud, void *arg, void **result)
{
	struct once *o = ud;
	o->n++;
	/* Already removed while it runs, as Home Assistant's listen_once. */
	o->count_inside = mqb_bus_async_listener_count(o->core, "boot");
	/* A fire from inside does not reach it again. */
	mqb_bus_async_fire(o->core, "boot", NULL);
	return 0;
}

static void listen_once_runs_once_and_is_gone_before_it_runs(void **unused)
{
	struct mqb_core *core = core_new();
	struct once o = { .core = core, .count_inside = 99 };
	struct mqb_job job = MQB_CALLBACK(once_listener, &o);
	assert_int_equal(mqb_bus_async_listen_once(core, "boot", &job, NULL), 0);
	assert_int_equal(mqb_bus_async_listener_count(core, "boot"), 1);
	assert_int_equal(mqb_bus_async_fire(core, "boot", NULL), 0);
	assert_int_equal(mqb_bus_async_fire(core, "boot", NULL), 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.count_inside, 0);
	assert_int_equal(mqb_bus_async_listener_count(core, "boot"), 0);
	mqb_core_free(core);
}

static void a_once_listener_unlistened_before_it_fires_never_runs(void **unused)
{
	struct mqb_core *core = core_new();
	struct once o = { .core = core };
	struct mqb_job job = MQB_CALLBACK(once_listener, &o);
	struct mqb_listener *l = NULL;
	assert_int_equal(mqb_bus_async_listen_once(core, "boot", &job, &l), 0);
	assert_non_null(l);
	mqb_bus_async_unlisten(core, l);
	assert_int_equal(mqb_bus_async_fire(core, "boot", NULL), 0);
	assert_int_equal(o.n, 0);
	mqb_bus_async_unlisten(core, NULL); /* harmless */
	mqb_core_free(core);
}

/* ---- changing listeners during a fire ---- */

struct juggler {
	struct mqb_core *core;
	struct mqb_listener *self, *victim, *before;
	int n;
	bool remove_self, remove_victim, remove_before, add;
	struct counter added;
	int adds;
};

static int juggle(void *ud, void *arg, void **result)
{
	struct juggler *j = ud;
	j->n++;
	if (j->remove_self)
		mqb_bus_async_unlisten(j->core, j->self);
	if (j->remove_victim && j->victim) {
		mqb_bus_async_unlisten(j->core, j->victim);
		j->victim = NULL;
	}
	if (j->remove_before && j->before) {
		mqb_bus_async_unlisten(j->core, j->before);
		j->before = NULL;
	}
	if (j->add && j->adds == 0) {
		struct mqb_job job = MQB_CALLBACK(count, &j->added);
		assert_int_equal(mqb_bus_async_listen(j->core, "e", &job, NULL), 0);
		j->adds++;
	}
	return 0;
}

static void a_listener_can_remove_itself_during_a_fire(void **unused)
{
	struct mqb_core *core = core_new();
	struct counter before = { 0 }, after = { 0 };
	struct juggler j = { .core = core, .remove_self = true };
	struct mqb_job jb = MQB_CALLBACK(count, &before), ja = MQB_CALLBACK(count, &after);
	struct mqb_job jj = MQB_CALLBACK(juggle, &j);
	assert_int_equal(mqb_bus_async_listen(core, "e", &jb, NULL), 0);
	assert_int_equal(mqb_bus_async_listen(core, "e", &jj, &j.self), 0);
	assert_int_equal(mqb_bus_async_listen(core, "e", &ja, NULL), 0);
	assert_int_equal(mqb_bus_async_fire(core, "e", NULL), 0);
	assert_int_equal(mqb_bus_async_listener_count(core, "e"), 2);
	assert_int_equal(mqb_bus_async_fire(core, "e", NULL), 0);
	assert_int_equal(j.n, 1);
	assert_int_equal(before.n, 2);
	assert_int_equal(after.n, 2); /* the walk went on past the removed one */
	mqb_core_free(core);
}

static void a_listener_can_remove_others_during_a_fire(void **unused)
{
	struct mqb_core *core = core_new();
	struct counter before = { 0 }, victim = { 0 };
	struct juggler j = { .core = core, .remove_victim = true, .remove_before = true };
	struct mqb_job jb = MQB_CALLBACK(count, &before), jv = MQB_CALLBACK(count, &victim);
	struct mqb_job jj = MQB_CALLBACK(juggle, &j);
	assert_int_equal(mqb_bus_async_listen(core, "e", &jb, &j.before), 0);
	assert_int_equal(mqb_bus_async_listen(core, "e", &jj, NULL), 0);
	assert_int_equal(mqb_bus_async_listen(core, "e", &jv, &j.victim), 0);
	assert_int_equal(mqb_bus_async_fire(core, "e", NULL), 0);
	/* The one before had already run; the one after is not run at all. */
	assert_int_equal(before.n, 1);
	assert_int_equal(victim.n, 0);
	assert_int_equal(mqb_bus_async_listener_count(core, "e"), 1);
	assert_int_equal(mqb_bus_async_fire(core, "e", NULL), 0);
	assert_int_equal(j.n, 2);
	assert_int_equal(before.n, 1);
	assert_int_equal(victim.n, 0);
	mqb_core_free(core);
}

static void a_listener_added_during_a_fire_waits_for_the_next_event(void **unused)
{
	struct mqb_core *core = core_new();
	struct juggler j = { .core = core, .add = true };
	struct mqb_job jj = MQB_CALLBACK(juggle, &j);
	assert_int_equal(mqb_bus_async_listen(core, "e", &jj, NULL), 0);
	assert_int_equal(mqb_bus_async_fire(core, "e", NULL), 0);
	assert_int_equal(j.added.n, 0);
	assert_int_equal(mqb_bus_async_listener_count(core, "e"), 2);
	assert_int_equal(mqb_bus_async_fire(core, "e", NULL), 0);
	assert_int_equal(j.added.n, 1);
	mqb_core_free(core);
}

/* Removing the last listener of a type during a fire, with a nested fire
 * of the same type in between, leaves the bus consistent. */
struct nester {
	struct mqb_core *core;
	struct mqb_listener *self;
	int depth, n;
};

static int nest(void *ud, void *arg, void **result)
{
	struct nester *s = ud;
	s->n++;
	if (s->depth++ < 3)
		assert_int_equal(mqb_bus_async_fire(s->core, "deep", NULL), 0);
	mqb_bus_async_unlisten(s->core, s->self);
	return 0;
}

static void nested_fires_and_removals_leave_the_bus_consistent(void **unused)
{
	struct mqb_core *core = core_new();
	struct nester s = { .core = core };
	struct mqb_job job = MQB_CALLBACK(nest, &s);
	assert_int_equal(mqb_bus_async_listen(core, "deep", &job, &s.self), 0);
	assert_int_equal(mqb_bus_async_fire(core, "deep", NULL), 0);
	/* The outer fire and three nested ones each ran it once; the removal
	 * in the innermost call hid it from nothing already running. */
	assert_int_equal(s.n, 4);
	assert_int_equal(mqb_bus_async_listener_count(core, "deep"), 0);
	assert_int_equal(mqb_bus_async_fire(core, "deep", NULL), 0);
	assert_int_equal(s.n, 4);
	/* The type can be listened to again. */
	struct counter c = { 0 };
	struct mqb_job jc = MQB_CALLBACK(count, &c);
	assert_int_equal(mqb_bus_async_listen(core, "deep", &jc, NULL), 0);
	assert_int_equal(mqb_bus_async_fire(core, "deep", NULL), 0);
	assert_int_equal(c.n, 1);
	mqb_core_free(core);
}

/* ---- limits ---- */

#define T64 "tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt"

static void event_types_are_1_to_64_characters(void **unused)
{
	struct mqb_core *core = core_new();
	struct counter c = { 0 };
	struct mqb_job job = MQB_CALLBACK(count, &c);
	assert_int_equal(mqb_bus_async_listen(core, T64, &job, NULL), 0);
	assert_int_equal(mqb_bus_async_fire(core, T64, NULL), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(mqb_bus_async_listen(core, T64 "t", &job, NULL), -EINVAL);
	assert_int_equal(mqb_bus_async_listen(core, "", &job, NULL), -EINVAL);
	assert_int_equal(mqb_bus_async_listen(core, NULL, &job, NULL), -EINVAL);
	assert_int_equal(mqb_bus_async_fire(core, T64 "t", json_object()), -EINVAL);
	assert_int_equal(mqb_bus_async_fire(core, "", NULL), -EINVAL);
	assert_int_equal(mqb_bus_async_fire(core, NULL, NULL), -EINVAL);
	assert_int_equal(mqb_bus_async_fire(core, "x", json_array()), -EINVAL);
	assert_int_equal(mqb_bus_fire(core, T64 "t", NULL), -EINVAL);
	assert_int_equal(mqb_bus_fire(core, "x", json_integer(1)), -EINVAL);
	struct mqb_job nofn = { .kind = MQB_JOB_CALLBACK };
	assert_int_equal(mqb_bus_async_listen(core, "x", &nofn, NULL), -EINVAL);
	assert_int_equal(mqb_bus_async_listen(core, "x", NULL, NULL), -EINVAL);
	assert_int_equal(c.n, 1);
	mqb_core_free(core);
}

/* ---- state_changed data ---- */

struct grab {
	struct mqb_event *ev;
};

static int grab_event(void *ud, void *arg, void **result)
{
	struct grab *g = ud;
	mqb_event_unref(g->ev);
	g->ev = mqb_event_ref(arg);
	return 0;
}

struct racer {
	struct mqb_event *ev;
	struct tu_latch *go;
	const json_t *got;
};

static void *race_data(void *arg)
{
	struct racer *r = arg;
	tu_latch_count_down(r->go);
	tu_latch_wait(r->go, TU_TIMEOUT);
	r->got = mqb_event_data(r->ev);
	return NULL;
}

static void state_changed_data_is_built_once_on_first_use_from_any_thread(void **unused)
{
	struct mqb_core *core = core_new();
	struct grab g = { NULL };
	struct mqb_job job = MQB_CALLBACK(grab_event, &g);
	assert_int_equal(mqb_bus_async_listen(core, MQB_EVENT_STATE_CHANGED, &job, NULL), 0);
	assert_int_equal(mqb_states_async_set(core, "sensor.t", "20", NULL, false), 0);
	assert_int_equal(mqb_states_async_set(core, "sensor.t", "21",
					      json_pack("{s:s}", "unit", "C"), false), 0);
	assert_non_null(g.ev);
	assert_string_equal(mqb_event_entity_id(g.ev), "sensor.t");

	/* Eight threads ask at once: all must get the one object. */
	enum { N = 8 };
	struct tu_latch go;
	tu_latch_init(&go, N);
	struct racer r[N];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		r[i] = (struct racer){ g.ev, &go, NULL };
		assert_int_equal(pthread_create(&th[i], NULL, race_data, &r[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	tu_latch_destroy(&go);
	const json_t *d = mqb_event_data(g.ev);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(r[i].got, d);

	assert_int_equal(json_object_size(d), 3);
	assert_string_equal(json_string_value(json_object_get(d, "entity_id")), "sensor.t");
	const json_t *o = json_object_get(d, "old_state"), *n = json_object_get(d, "new_state");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "20");
	assert_string_equal(json_string_value(json_object_get(n, "state")), "21");
	assert_string_equal(json_string_value(json_object_get(n, "entity_id")), "sensor.t");
	assert_string_equal(json_string_value(json_object_get(json_object_get(n, "attributes"),
							      "unit")), "C");
	assert_int_equal(json_object_size(json_object_get(o, "attributes")), 0);
	assert_non_null(json_string_value(json_object_get(n, "last_changed")));
	assert_non_null(json_string_value(json_object_get(n, "last_updated")));
	mqb_event_unref(g.ev);
	mqb_core_free(core);
}

/* ---- other threads ---- */

struct remote {
	struct mqb_core *core;
	struct tu_latch got;
	int on_loop;
	json_int_t n;
};

static int remote_listener(void *ud, void *arg, void **result)
{
	struct remote *r = ud;
	r->on_loop = mqb_core_in_loop_thread(r->core);
	r->n = json_integer_value(json_object_get(mqb_event_data(arg), "n"));
	tu_latch_count_down(&r->got);
	return 0;
}

static void listen_on_loop_fn(void *arg)
{
	struct remote *r = arg;
	struct mqb_job job = MQB_CALLBACK(remote_listener, r);
	assert_int_equal(mqb_bus_async_listen(r->core, "remote", &job, NULL), 0);
}

static void an_event_fired_from_another_thread_reaches_listeners_on_the_loop(void **unused)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct remote r = { .core = t.core };
	tu_latch_init(&r.got, 1);
	tu_on_loop(&t, listen_on_loop_fn, &r);
	assert_int_equal(mqb_bus_fire(t.core, "remote", json_pack("{s:i}", "n", 5)), 0);
	assert_true(tu_latch_wait(&r.got, TU_TIMEOUT));
	assert_true(r.on_loop);
	assert_int_equal(r.n, 5);
	tu_loop_stop(&t);
	tu_latch_destroy(&r.got);
}

struct fire_on_loop_arg {
	struct remote r;
	int rc;
	struct tu_latch *seen_at_return; /* not yet counted down when fire returned? */
	long left_at_return;
};

static void fire_threadsafe_on_loop(void *arg)
{
	struct fire_on_loop_arg *a = arg;
	struct mqb_job job = MQB_CALLBACK(remote_listener, &a->r);
	assert_int_equal(mqb_bus_async_listen(a->r.core, "soon", &job, NULL), 0);
	/* On the loop thread it queues the event rather than run listeners
	 * inside the call. */
	a->rc = mqb_bus_fire(a->r.core, "soon", json_pack("{s:i}", "n", 3));
	pthread_mutex_lock(&a->r.got.m);
	a->left_at_return = a->r.got.count;
	pthread_mutex_unlock(&a->r.got.m);
}

static void mqb_bus_fire_on_the_loop_thread_queues_the_event(void **unused)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct fire_on_loop_arg a = { .r = { .core = t.core } };
	tu_latch_init(&a.r.got, 1);
	tu_on_loop(&t, fire_threadsafe_on_loop, &a);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.left_at_return, 1);
	assert_true(tu_latch_wait(&a.r.got, TU_TIMEOUT));
	assert_true(a.r.on_loop);
	assert_int_equal(a.r.n, 3);
	tu_loop_stop(&t);
	tu_latch_destroy(&a.r.got);
}

static void listen_and_unlisten_work_from_another_thread(void **unused)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct remote r = { .core = t.core };
	tu_latch_init(&r.got, 1);
	struct mqb_job job = MQB_CALLBACK(remote_listener, &r);
	struct mqb_listener *l = NULL;
	assert_int_equal(mqb_bus_listen(t.core, "remote", &job, &l), 0);
	assert_non_null(l);
	assert_int_equal(mqb_bus_fire(t.core, "remote", json_pack("{s:i}", "n", 9)), 0);
	assert_true(tu_latch_wait(&r.got, TU_TIMEOUT));
	assert_int_equal(r.n, 9);
	assert_int_equal(mqb_bus_unlisten(t.core, l), 0);
	assert_int_equal(mqb_bus_listen(t.core, "", &job, &l), -EINVAL);
	assert_null(l);
	tu_loop_stop(&t);
	tu_latch_destroy(&r.got);
}

static int noop(void *ud, void *arg, void **result)
{
	return 0;
}

struct deadlock {
	struct mqb_core *core;
	int listen_rc, unlisten_rc;
};

static void blocking_bus_calls_on_loop(void *arg)
{
	struct deadlock *d = arg;
	struct mqb_job job = MQB_CALLBACK(noop, NULL);
	d->listen_rc = mqb_bus_listen(d->core, "x", &job, NULL);
	d->unlisten_rc = mqb_bus_unlisten(d->core, NULL);
}

static void blocking_bus_calls_on_the_loop_thread_return_edeadlk(void **unused)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct deadlock d = { .core = t.core };
	tu_on_loop(&t, blocking_bus_calls_on_loop, &d);
	assert_int_equal(d.listen_rc, -EDEADLK);
	assert_int_equal(d.unlisten_rc, -EDEADLK);
	tu_loop_stop(&t);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(a_callback_listener_runs_inside_the_fire),
	cmocka_unit_test(an_event_fired_without_data_has_an_empty_object),
	cmocka_unit_test(coroutine_and_executor_listeners_get_the_event_later),
	cmocka_unit_test(match_all_gets_every_event),
	cmocka_unit_test(listen_once_runs_once_and_is_gone_before_it_runs),
	cmocka_unit_test(a_once_listener_unlistened_before_it_fires_never_runs),
	cmocka_unit_test(a_listener_can_remove_itself_during_a_fire),
	cmocka_unit_test(a_listener_can_remove_others_during_a_fire),
	cmocka_unit_test(a_listener_added_during_a_fire_waits_for_the_next_event),
	cmocka_unit_test(nested_fires_and_removals_leave_the_bus_consistent),
	cmocka_unit_test(event_types_are_1_to_64_characters),
	cmocka_unit_test(state_changed_data_is_built_once_on_first_use_from_any_thread),
	cmocka_unit_test(an_event_fired_from_another_thread_reaches_listeners_on_the_loop),
	cmocka_unit_test(mqb_bus_fire_on_the_loop_thread_queues_the_event),
	cmocka_unit_test(listen_and_unlisten_work_from_another_thread),
	cmocka_unit_test(blocking_bus_calls_on_the_loop_thread_return_edeadlk),
};

TU_MAIN(tests)
