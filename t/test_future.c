/* SPDX-License-Identifier: MIT */
/* Futures: settled once from any thread, continuations only ever on the loop
 * (never inside the resolver), blocking waits from other threads with a
 * bound, and -EDEADLK instead of a deadlock on the loop thread.
 *
 * cmocka's assertions jump (longjmp) back to the test, so they are only made
 * on the test's own thread: code on the loop, in the pool or on helper
 * threads records what it saw and the test checks it afterwards. */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "testutil.h"
#include "mqbridge/future.h"
#include "mqbridge/job.h"

/* ---- helpers ---------------------------------------------------------- */

/* A value (or argument) that counts how often it was freed. */
struct tracked {
	atomic_int freed;
};

static void tracked_free(void *p)
{
	atomic_fetch_add(&((struct tracked *)p)->freed, 1);
}

/* Set by the loop thread while it is inside mqb_future_resolve or
 * mqb_future_async_add_done: a continuation that sees it set ran inside. */
static atomic_int in_future_call;

#define MAX_ORDER 32
struct order {
	atomic_int next;
	int seq[MAX_ORDER];
};

/* What one continuation saw. */
struct seen {
	atomic_int runs;
	pthread_t thread;
	int status;
	void *value;
	struct mqb_future *fut;
	bool inside;
	int index;
	struct order *order;    /* may be NULL */
	struct tu_latch *latch; /* counted down once per run; may be NULL */
};

static void on_done(struct mqb_future *f, void *ud)
{
	struct seen *s = ud;
	s->thread = pthread_self();
	s->status = mqb_future_status(f);
	s->value = mqb_future_value(f);
	s->fut = f;
	s->inside = atomic_load(&in_future_call) != 0;
	if (s->order) {
		int pos = atomic_fetch_add(&s->order->next, 1);
		if (pos < MAX_ORDER)
			s->order->seq[pos] = s->index;
	}
	atomic_fetch_add(&s->runs, 1);
	if (s->latch)
		tu_latch_count_down(s->latch);
}

/* Add continuations on the loop thread (mqb_future_async_add_done is
 * loop-only). */
struct add_done {
	struct mqb_future *f;
	struct seen *seen;
	unsigned n;
	int rc[MAX_ORDER];
	int runs_right_after; /* continuations that had run when add_done returned */
};

static int total_runs(const struct seen *s, unsigned n)
{
	int r = 0;
	for (unsigned i = 0; i < n; i++)
		r += atomic_load(&s[i].runs);
	return r;
}

static void add_done_on_loop(void *arg)
{
	struct add_done *a = arg;
	for (unsigned i = 0; i < a->n; i++) {
		atomic_store(&in_future_call, 1);
		a->rc[i] = mqb_future_async_add_done(a->f, on_done, &a->seen[i]);
		atomic_store(&in_future_call, 0);
	}
	a->runs_right_after = total_runs(a->seen, a->n);
}

static void add_continuations(struct tu_loop *t, struct mqb_future *f, struct seen *seen,
			      unsigned n)
{
	struct add_done a = { .f = f, .seen = seen, .n = n, .runs_right_after = -1 };
	tu_on_loop(t, add_done_on_loop, &a);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(a.rc[i], 0);
	/* Added to an already settled future, they still wait for the loop. */
	assert_int_equal(a.runs_right_after, 0);
}

/* ---- settling --------------------------------------------------------- */

static void resolve_settles_once_and_a_second_resolve_does_not_take_its_value(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct tracked first = { 0 }, second = { 0 };

	struct mqb_future *f = mqb_future_new(t.core);
	assert_non_null(f);
	assert_int_equal(mqb_future_resolve(f, -EPIPE, &first, tracked_free), 0);
	assert_int_equal(mqb_future_resolve(f, 0, &second, tracked_free), -EALREADY);
	assert_int_equal(mqb_future_cancel(f), -EALREADY);

	assert_true(mqb_future_done(f));
	assert_int_equal(mqb_future_status(f), -EPIPE);
	assert_ptr_equal(mqb_future_value(f), &first);
	/* The refused value still belongs to the caller: never freed by f. */
	assert_int_equal(atomic_load(&second.freed), 0);

	/* value_free runs once, when the last reference goes. */
	assert_ptr_equal(mqb_future_ref(f), f);
	mqb_future_unref(f);
	assert_int_equal(atomic_load(&first.freed), 0);
	assert_ptr_equal(mqb_future_value(f), &first);
	mqb_future_unref(f);
	assert_int_equal(atomic_load(&first.freed), 1);
	assert_int_equal(atomic_load(&second.freed), 0);

	mqb_future_unref(NULL); /* accepted */
	assert_int_equal(tu_loop_stop(&t), 0);
}

static void status_is_in_progress_and_value_is_null_while_pending(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct tracked v = { 0 };

	struct mqb_future *f = mqb_future_new(t.core);
	assert_non_null(f);
	assert_false(mqb_future_done(f));
	assert_int_equal(mqb_future_status(f), -EINPROGRESS);
	assert_null(mqb_future_value(f));

	assert_int_equal(mqb_future_resolve(f, 0, &v, tracked_free), 0);
	assert_true(mqb_future_done(f));
	assert_int_equal(mqb_future_status(f), 0);
	assert_ptr_equal(mqb_future_value(f), &v);

	struct mqb_future *c = mqb_future_new(t.core);
	assert_non_null(c);
	assert_int_equal(mqb_future_cancel(c), 0);
	assert_int_equal(mqb_future_status(c), -ECANCELED);
	assert_null(mqb_future_value(c));

	mqb_future_unref(c);
	mqb_future_unref(f);
	assert_int_equal(atomic_load(&v.freed), 1);
	assert_int_equal(tu_loop_stop(&t), 0);
}

/* ---- continuations ---------------------------------------------------- */

#define N_PENDING 10 /* enough to grow the continuation array twice */
#define N_SETTLED 3
#define N_CONT (N_PENDING + N_SETTLED)

struct on_loop_resolve {
	struct mqb_core *core;
	struct mqb_future *f;
	struct seen seen[N_CONT];
	struct order order;
	struct tu_latch ran;
	struct tracked value;
	int add_rc[N_CONT];
	int resolve_rc;
	int runs_after_resolve, runs_after_settled_adds;
};

static void resolve_on_loop(void *arg)
{
	struct on_loop_resolve *c = arg;
	c->f = mqb_future_new(c->core);
	if (!c->f)
		return;
	for (unsigned i = 0; i < N_PENDING; i++)
		c->add_rc[i] = mqb_future_async_add_done(c->f, on_done, &c->seen[i]);

	atomic_store(&in_future_call, 1);
	c->resolve_rc = mqb_future_resolve(c->f, -EPIPE, &c->value, NULL);
	atomic_store(&in_future_call, 0);
	c->runs_after_resolve = total_runs(c->seen, N_CONT);

	for (unsigned i = N_PENDING; i < N_CONT; i++) {
		atomic_store(&in_future_call, 1);
		c->add_rc[i] = mqb_future_async_add_done(c->f, on_done, &c->seen[i]);
		atomic_store(&in_future_call, 0);
	}
	c->runs_after_settled_adds = total_runs(c->seen, N_CONT);
}

static void check_continuations(struct tu_loop *t, struct seen *seen, struct order *order,
				unsigned n, struct mqb_future *f, int status, void *value)
{
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(atomic_load(&seen[i].runs), 1);
		assert_true(pthread_equal(seen[i].thread, t->loop_thread_id));
		assert_false(seen[i].inside);
		assert_ptr_equal(seen[i].fut, f);
		assert_int_equal(seen[i].status, status);
		assert_ptr_equal(seen[i].value, value);
	}
	assert_int_equal(atomic_load(&order->next), (int)n);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(order->seq[i], (int)i);
}

static void continuations_never_run_inside_resolve_or_add_done_on_the_loop_thread(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	static struct on_loop_resolve c;
	memset(&c, 0, sizeof c);
	c.core = t.core;
	c.runs_after_resolve = c.runs_after_settled_adds = -1;
	tu_latch_init(&c.ran, N_CONT);
	for (unsigned i = 0; i < N_CONT; i++)
		c.seen[i] = (struct seen){ .index = (int)i, .order = &c.order, .latch = &c.ran };

	tu_on_loop(&t, resolve_on_loop, &c);
	assert_non_null(c.f);
	assert_int_equal(c.resolve_rc, 0);
	for (unsigned i = 0; i < N_CONT; i++)
		assert_int_equal(c.add_rc[i], 0);
	/* Nothing ran inside resolve, nor inside add_done on a settled future. */
	assert_int_equal(c.runs_after_resolve, 0);
	assert_int_equal(c.runs_after_settled_adds, 0);

	assert_true(tu_latch_wait(&c.ran, TU_TIMEOUT));
	tu_loop_flush(&t); /* a second run of any of them would have happened by now */
	check_continuations(&t, c.seen, &c.order, N_CONT, c.f, -EPIPE, &c.value);

	mqb_future_unref(c.f);
	tu_latch_destroy(&c.ran);
	assert_int_equal(tu_loop_stop(&t), 0);
}

static void continuations_run_on_the_loop_in_the_order_added_when_resolved_elsewhere(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	static struct seen seen[N_CONT];
	static struct order order;
	struct tu_latch ran;
	struct tracked value = { 0 };
	memset(&order, 0, sizeof order);
	tu_latch_init(&ran, N_CONT);
	for (unsigned i = 0; i < N_CONT; i++)
		seen[i] = (struct seen){ .index = (int)i, .order = &order, .latch = &ran };

	struct mqb_future *f = mqb_future_new(t.core);
	assert_non_null(f);
	add_continuations(&t, f, seen, N_PENDING);
	/* Resolved on the test's thread, neither the loop nor a pool thread. */
	assert_int_equal(mqb_future_resolve(f, 0, &value, tracked_free), 0);
	add_continuations(&t, f, seen + N_PENDING, N_SETTLED);

	assert_true(tu_latch_wait(&ran, TU_TIMEOUT));
	tu_loop_flush(&t);
	check_continuations(&t, seen, &order, N_CONT, f, 0, &value);

	/* Every continuation's reference is gone: ours is the last. */
	assert_int_equal(atomic_load(&value.freed), 0);
	mqb_future_unref(f);
	assert_int_equal(atomic_load(&value.freed), 1);
	tu_latch_destroy(&ran);
	assert_int_equal(tu_loop_stop(&t), 0);
}

/* ---- resolution from the pool ----------------------------------------- */

struct pool_resolve {
	struct mqb_core *core;
	struct mqb_future *f;
	struct mqb_future *job_f; /* the resolving job's own future */
	struct seen seen;
	struct order order;
	struct tu_latch ran;
	struct tracked value;
	pthread_t resolver;
	int resolve_rc, run_rc, add_rc;
};

static int resolve_from_pool(void *ud, void *arg, void **result)
{
	struct pool_resolve *p = ud;
	p->resolver = pthread_self();
	p->resolve_rc = mqb_future_resolve(p->f, -ENOLINK, &p->value, tracked_free);
	return 0;
}

static void submit_resolver(void *arg)
{
	struct pool_resolve *p = arg;
	p->f = mqb_future_new(p->core);
	if (!p->f)
		return;
	p->add_rc = mqb_future_async_add_done(p->f, on_done, &p->seen);
	struct mqb_job job = MQB_EXECUTOR(resolve_from_pool, p);
	p->run_rc = mqb_async_run_job(p->core, &job, NULL, NULL, &p->job_f);
}

static void resolution_from_a_pool_thread_wakes_a_continuation_on_the_loop(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	static struct pool_resolve p;
	memset(&p, 0, sizeof p);
	p.core = t.core;
	p.resolve_rc = p.run_rc = p.add_rc = -1;
	tu_latch_init(&p.ran, 1);
	p.seen = (struct seen){ .order = &p.order, .latch = &p.ran };

	tu_on_loop(&t, submit_resolver, &p);
	assert_non_null(p.f);
	assert_int_equal(p.add_rc, 0);
	assert_int_equal(p.run_rc, 0);

	/* Nothing else wakes the loop: only the resolution can run this. */
	assert_true(tu_latch_wait(&p.ran, TU_TIMEOUT));
	/* The continuation may run before the job returns: wait for the job
	 * before reading what it recorded. */
	assert_int_equal(mqb_future_result(p.job_f, TU_TIMEOUT, NULL), 0);
	assert_int_equal(p.resolve_rc, 0);
	assert_false(pthread_equal(p.resolver, t.loop_thread_id));
	assert_false(pthread_equal(p.resolver, pthread_self()));
	tu_loop_flush(&t);
	check_continuations(&t, &p.seen, &p.order, 1, p.f, -ENOLINK, &p.value);

	mqb_future_unref(p.job_f);
	mqb_future_unref(p.f);
	assert_int_equal(atomic_load(&p.value.freed), 1);
	tu_latch_destroy(&p.ran);
	assert_int_equal(tu_loop_stop(&t), 0);
}

/* ---- blocking --------------------------------------------------------- */

struct resolver {
	struct mqb_future *f;
	struct tu_latch waiting; /* the waiter is about to block */
	struct tracked value;
	bool waiter_ready;
	int rc;
};

static void *resolver_main(void *arg)
{
	struct resolver *r = arg;
	r->waiter_ready = tu_latch_wait(&r->waiting, TU_TIMEOUT);
	r->rc = mqb_future_resolve(r->f, -EPIPE, &r->value, tracked_free);
	return NULL;
}

static void result_blocks_until_another_thread_resolves(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	/* Whether the resolver comes before or after the waiter blocks is up
	 * to the scheduler; both orders must give the same answer, and several
	 * rounds give both a chance. */
	for (int round = 0; round < 20; round++) {
		struct resolver r = { .rc = -1 };
		r.f = mqb_future_new(t.core);
		assert_non_null(r.f);
		tu_latch_init(&r.waiting, 1);
		pthread_t th;
		assert_int_equal(pthread_create(&th, NULL, resolver_main, &r), 0);

		void *value = NULL;
		tu_latch_count_down(&r.waiting);
		double t0 = tu_now();
		int rc = mqb_future_result(r.f, TU_TIMEOUT, &value);
		double waited = tu_now() - t0;
		assert_int_equal(pthread_join(th, NULL), 0);

		assert_true(r.waiter_ready);
		assert_int_equal(r.rc, 0);
		assert_int_equal(rc, -EPIPE);
		assert_ptr_equal(value, &r.value);
		assert_true(waited < TU_TIMEOUT / 2);
		mqb_future_unref(r.f);
		assert_int_equal(atomic_load(&r.value.freed), 1);
		tu_latch_destroy(&r.waiting);
	}
	assert_int_equal(tu_loop_stop(&t), 0);
}

static void result_times_out_within_a_bounded_time_while_pending(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct mqb_future *f = mqb_future_new(t.core);
	assert_non_null(f);

	double t0 = tu_now();
	assert_int_equal(mqb_future_result(f, 0.2, NULL), -ETIMEDOUT);
	double waited = tu_now() - t0;
	assert_true(waited >= 0.19);
	assert_true(waited < 0.2 + TU_TIMEOUT / 2);

	t0 = tu_now();
	assert_int_equal(mqb_future_result(f, 0, NULL), -ETIMEDOUT);
	assert_true(tu_now() - t0 < TU_TIMEOUT / 2);
	assert_false(mqb_future_done(f));

	/* Once settled, even a zero timeout returns the status and value. */
	struct tracked v = { 0 };
	assert_int_equal(mqb_future_resolve(f, 0, &v, tracked_free), 0);
	void *value = NULL;
	assert_int_equal(mqb_future_result(f, 0, &value), 0);
	assert_ptr_equal(value, &v);

	mqb_future_unref(f);
	assert_int_equal(atomic_load(&v.freed), 1);
	assert_int_equal(tu_loop_stop(&t), 0);
}

struct on_loop_result {
	struct mqb_future *f;
	int rc;
	double waited;
};

static void result_on_loop(void *arg)
{
	struct on_loop_result *r = arg;
	double t0 = tu_now();
	/* Bounded, so a blocking implementation fails the test, not hangs it. */
	r->rc = mqb_future_result(r->f, 1.0, NULL);
	r->waited = tu_now() - t0;
}

static void result_on_the_loop_thread_returns_edeadlk_at_once(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct on_loop_result r = { .rc = 1 };
	r.f = mqb_future_new(t.core);
	assert_non_null(r.f);

	tu_on_loop(&t, result_on_loop, &r);
	assert_int_equal(r.rc, -EDEADLK);
	assert_true(r.waited < 0.5);
	assert_false(mqb_future_done(r.f));

	mqb_future_unref(r.f);
	assert_int_equal(tu_loop_stop(&t), 0);
}

/* A resolver on the loop checks for blocked threads before its status is
 * stored (after its claim only): one that starts blocking just then must
 * still wake. Posted to the loop and waited for at once, many times. */
#define N_LOOP_WAKES 10000

/* Takes the reference posted with it: the waiter may drop its own as soon
 * as the status is out, before resolve has returned. */
static void resolve_posted(void *arg)
{
	mqb_future_resolve(arg, -ENOLINK, arg, NULL);
	mqb_future_unref(arg);
}

static void a_thread_blocked_in_result_wakes_when_the_loop_settles_every_time(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	int failed = 0;
	double longest = 0;
	for (int i = 0; i < N_LOOP_WAKES; i++) {
		struct mqb_future *f = mqb_future_new(t.core);
		assert_non_null(f);
		assert_int_equal(mqb_call_soon_threadsafe(t.core, resolve_posted, mqb_future_ref(f)),
				 0);
		void *v = NULL;
		double t0 = tu_now();
		if (mqb_future_result(f, TU_TIMEOUT, &v) != -ENOLINK || v != f)
			failed++;
		if (tu_now() - t0 > longest)
			longest = tu_now() - t0;
		mqb_future_unref(f);
	}
	assert_int_equal(failed, 0);
	assert_true(longest < TU_TIMEOUT / 2);
	assert_int_equal(tu_loop_stop(&t), 0);
}

/* ---- the last reference ----------------------------------------------- */

/* Dropping the only reference takes no atomic decrement, so references
 * dropped on several threads at once must still free the value once. */
#define N_DROPPERS 4
#define N_DROP_ROUNDS 2000

struct dropper {
	struct mqb_future *f;
	struct tu_latch *ready, *go;
	bool ok;
};

static void *dropper_main(void *arg)
{
	struct dropper *d = arg;
	tu_latch_count_down(d->ready);
	d->ok = tu_latch_wait(d->go, TU_TIMEOUT);
	mqb_future_unref(d->f);
	return NULL;
}

static void references_dropped_on_racing_threads_free_the_value_once(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	for (int round = 0; round < N_DROP_ROUNDS; round++) {
		struct tracked v = { 0 };
		struct tu_latch ready, go;
		tu_latch_init(&ready, N_DROPPERS);
		tu_latch_init(&go, 1);
		struct mqb_future *f = mqb_future_new(t.core);
		assert_non_null(f);
		assert_int_equal(mqb_future_resolve(f, 0, &v, tracked_free), 0);
		struct dropper d[N_DROPPERS];
		pthread_t th[N_DROPPERS];
		for (int i = 0; i < N_DROPPERS; i++) {
			d[i] = (struct dropper){ .f = mqb_future_ref(f), .ready = &ready, .go = &go };
			assert_int_equal(pthread_create(&th[i], NULL, dropper_main, &d[i]), 0);
		}
		assert_true(tu_latch_wait(&ready, TU_TIMEOUT));
		tu_latch_count_down(&go);
		mqb_future_unref(f);
		for (int i = 0; i < N_DROPPERS; i++) {
			assert_int_equal(pthread_join(th[i], NULL), 0);
			assert_true(d[i].ok);
		}
		assert_int_equal(atomic_load(&v.freed), 1);
		tu_latch_destroy(&ready);
		tu_latch_destroy(&go);
	}
	assert_int_equal(tu_loop_stop(&t), 0);
}

/* ---- racing resolvers ------------------------------------------------- */

#define N_RACERS 8

struct racer {
	struct mqb_future *f;
	struct tu_latch *ready, *go;
	struct tracked value;
	int status;
	int rc;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	tu_latch_count_down(r->ready);
	if (tu_latch_wait(r->go, TU_TIMEOUT))
		r->rc = mqb_future_resolve(r->f, r->status, &r->value, tracked_free);
	return NULL;
}

static void racing_resolvers_have_exactly_one_winner_whose_value_is_kept(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	for (int round = 0; round < 25; round++) {
		struct racer r[N_RACERS];
		struct tu_latch ready, go, ran;
		struct seen seen = { 0 };
		struct order order = { 0 };
		tu_latch_init(&ready, N_RACERS);
		tu_latch_init(&go, 1);
		tu_latch_init(&ran, 1);
		seen.order = &order;
		seen.latch = &ran;

		struct mqb_future *f = mqb_future_new(t.core);
		assert_non_null(f);
		add_continuations(&t, f, &seen, 1);

		pthread_t th[N_RACERS];
		for (int i = 0; i < N_RACERS; i++) {
			/* Distinct statuses: EPERM (1) … ENOEXEC (8). */
			r[i] = (struct racer){ .f = f, .ready = &ready, .go = &go,
					       .status = -(i + 1), .rc = 1 };
			assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r[i]), 0);
		}
		assert_true(tu_latch_wait(&ready, TU_TIMEOUT));
		tu_latch_count_down(&go);
		for (int i = 0; i < N_RACERS; i++)
			assert_int_equal(pthread_join(th[i], NULL), 0);

		int winner = -1, winners = 0;
		for (int i = 0; i < N_RACERS; i++) {
			if (r[i].rc == 0) {
				winner = i;
				winners++;
			} else {
				assert_int_equal(r[i].rc, -EALREADY);
			}
		}
		assert_int_equal(winners, 1);
		assert_int_equal(mqb_future_status(f), r[winner].status);
		assert_ptr_equal(mqb_future_value(f), &r[winner].value);

		assert_true(tu_latch_wait(&ran, TU_TIMEOUT));
		tu_loop_flush(&t);
		check_continuations(&t, &seen, &order, 1, f, r[winner].status, &r[winner].value);

		mqb_future_unref(f);
		for (int i = 0; i < N_RACERS; i++)
			assert_int_equal(atomic_load(&r[i].value.freed), i == winner ? 1 : 0);
		tu_latch_destroy(&ready);
		tu_latch_destroy(&go);
		tu_latch_destroy(&ran);
	}
	assert_int_equal(tu_loop_stop(&t), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(resolve_settles_once_and_a_second_resolve_does_not_take_its_value),
	cmocka_unit_test(status_is_in_progress_and_value_is_null_while_pending),
	cmocka_unit_test(continuations_never_run_inside_resolve_or_add_done_on_the_loop_thread),
	cmocka_unit_test(continuations_run_on_the_loop_in_the_order_added_when_resolved_elsewhere),
	cmocka_unit_test(resolution_from_a_pool_thread_wakes_a_continuation_on_the_loop),
	cmocka_unit_test(result_blocks_until_another_thread_resolves),
	cmocka_unit_test(result_times_out_within_a_bounded_time_while_pending),
	cmocka_unit_test(result_on_the_loop_thread_returns_edeadlk_at_once),
	cmocka_unit_test(racing_resolvers_have_exactly_one_winner_whose_value_is_kept),
	cmocka_unit_test(a_thread_blocked_in_result_wakes_when_the_loop_settles_every_time),
	cmocka_unit_test(references_dropped_on_racing_threads_free_the_value_once),
};

TU_MAIN(tests)
