/* SPDX-License-Identifier: MIT */
/* Coroutines: await without blocking the loop, resumption only from the
 * ready queue, cancellation at shutdown, recycled guard-paged stacks. */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>
#include <ev.h>

#include "testutil.h"
#include "core/core_impl.h"
#include "core/loop.h"
#include "mqbridge/coro.h"

/* The stack-overflow case must die of the SIGSEGV the guard page raises;
 * ASan would otherwise catch the signal and exit(1) with a report. */
__attribute__((used)) const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0";
}

/* ---- 100 sleepers beside a ticking loop timer ------------------------- */

struct sleepers {
	struct mqb_core *core;
	int finished, failed;
	int ticks;
	ev_timer tick;
	double started, all_done;
};

static int sleep_50ms(void *ud, void *arg, void **result)
{
	struct sleepers *s = ud;
	if (mqb_async_sleep_await(s->core, 0.05) != 0)
		s->failed++;
	if (++s->finished == 100) {
		s->all_done = tu_now();
		mqb_core_async_stop(s->core, 0);
	}
	return 0;
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	((struct sleepers *)w->data)->ticks++;
}

static void hundred_sleeping_coroutines_finish_together_while_a_timer_fires(void **st)
{
	struct sleepers s = { 0 };
	assert_int_equal(mqb_core_new(NULL, &s.core), 0);
	struct mqb_job j = MQB_COROUTINE(sleep_50ms, &s);
	for (int i = 0; i < 100; i++)
		assert_int_equal(mqb_async_add_job(s.core, &j, NULL, NULL, NULL), 0);
	ev_timer_init(&s.tick, tick_cb, 0.005, 0.005);
	s.tick.data = &s;
	ev_timer_start(core__loop(s.core), &s.tick);
	s.started = tu_now();
	assert_int_equal(tu_run(s.core, TU_TIMEOUT), 0);
	ev_timer_stop(core__loop(s.core), &s.tick);
	assert_int_equal(s.finished, 100);
	assert_int_equal(s.failed, 0);
	double took = s.all_done - s.started;
	/* Concurrent sleeps: all 100 end after about one period, not 100. */
	assert_true(took >= 0.05);
	assert_true(took < 0.05 * 6);
	/* The loop kept running its own timer while they slept. */
	assert_true(s.ticks >= 3);
	mqb_core_free(s.core);
}

/* ---- await semantics -------------------------------------------------- */

struct awaiter {
	struct mqb_core *core;
	struct mqb_future *f;
	int status;
	void *value;
	bool resumed;
	bool resumed_inside_resolve;
	int step;
};

static int await_it(void *ud, void *arg, void **result)
{
	struct awaiter *a = ud;
	a->step = 1;
	a->status = mqb_await(a->f, &a->value);
	a->resumed = true;
	a->step = 2;
	return 0;
}

static int resolve_it(void *ud, void *arg, void **result)
{
	struct awaiter *a = ud;
	assert_int_equal(a->step, 1); /* the coroutine is suspended */
	assert_int_equal(mqb_future_resolve(a->f, 42, (void *)"v", NULL), 0);
	/* Resolving never runs the awaiting coroutine on our stack. */
	a->resumed_inside_resolve = a->resumed;
	return 0;
}

static int stop_it(void *ud, void *arg, void **result)
{
	mqb_core_async_stop(ud, 0);
	return 0;
}

static void a_coroutine_resumes_from_the_ready_queue_not_inside_resolve(void **st)
{
	struct awaiter a = { 0 };
	assert_int_equal(mqb_core_new(NULL, &a.core), 0);
	a.f = mqb_future_new(a.core);
	struct mqb_job co = MQB_COROUTINE(await_it, &a), res = MQB_CALLBACK(resolve_it, &a),
		       stop = MQB_CALLBACK(stop_it, a.core);
	assert_int_equal(mqb_async_add_job(a.core, &co, NULL, NULL, NULL), 0);
	assert_int_equal(mqb_async_add_job(a.core, &res, NULL, NULL, NULL), 0);
	assert_int_equal(mqb_async_add_job(a.core, &stop, NULL, NULL, NULL), 0);
	assert_int_equal(tu_run(a.core, TU_TIMEOUT), 0);
	assert_false(a.resumed_inside_resolve);
	assert_true(a.resumed);
	assert_int_equal(a.status, 42);
	assert_string_equal(a.value, "v");
	mqb_future_unref(a.f);
	mqb_core_free(a.core);
}

static int resolve_from_thread(void *ud, void *arg, void **result)
{
	struct awaiter *a = ud;
	mqb_future_resolve(a->f, 0, NULL, NULL);
	return 0;
}

static int await_then_stop(void *ud, void *arg, void **result)
{
	struct awaiter *a = ud;
	int rc = await_it(ud, arg, result);
	mqb_core_async_stop(a->core, 0);
	return rc;
}

static void a_future_settled_by_a_pool_thread_resumes_the_coroutine_on_the_loop(void **st)
{
	struct awaiter a = { 0 };
	assert_int_equal(mqb_core_new(NULL, &a.core), 0);
	a.f = mqb_future_new(a.core);
	a.status = -1;
	struct mqb_job co = MQB_COROUTINE(await_then_stop, &a),
		       ex = MQB_EXECUTOR(resolve_from_thread, &a);
	assert_int_equal(mqb_async_add_job(a.core, &co, NULL, NULL, NULL), 0);
	assert_int_equal(mqb_async_add_job(a.core, &ex, NULL, NULL, NULL), 0);
	assert_int_equal(tu_run(a.core, TU_TIMEOUT), 0);
	assert_true(a.resumed);
	assert_int_equal(a.status, 0);
	mqb_future_unref(a.f);
	mqb_core_free(a.core);
}

struct chain {
	struct mqb_core *core;
	int got;
	bool on_loop_after;
	pthread_t loop;
};

static int slow_square(void *ud, void *arg, void **result)
{
	intptr_t x = (intptr_t)arg;
	*result = (void *)(x * x);
	return 0;
}

static int await_executor(void *ud, void *arg, void **result)
{
	struct chain *c = ud;
	struct mqb_job sq = MQB_EXECUTOR(slow_square, NULL);
	for (intptr_t i = 1; i <= 20; i++) {
		struct mqb_future *f;
		void *v;
		assert_int_equal(mqb_async_run_job(c->core, &sq, (void *)i, NULL, &f), 0);
		assert_int_equal(mqb_await(f, &v), 0);
		c->got += (int)(intptr_t)v;
		mqb_future_unref(f);
	}
	c->on_loop_after = pthread_equal(pthread_self(), c->loop);
	mqb_core_async_stop(c->core, 0);
	return 0;
}

static void a_coroutine_awaits_executor_results_in_sequence(void **st)
{
	struct chain c = { .loop = pthread_self() };
	assert_int_equal(mqb_core_new(NULL, &c.core), 0);
	struct mqb_job co = MQB_COROUTINE(await_executor, &c);
	assert_int_equal(mqb_async_add_job(c.core, &co, NULL, NULL, NULL), 0);
	assert_int_equal(tu_run(c.core, TU_TIMEOUT), 0);
	assert_int_equal(c.got, 20 * 21 * 41 / 6); /* sum of squares 1..20 */
	assert_true(c.on_loop_after);
	mqb_core_free(c.core);
}

static int await_done_future(void *ud, void *arg, void **result)
{
	struct awaiter *a = ud;
	struct mqb_future *f = mqb_future_new(a->core);
	mqb_future_resolve(f, 5, NULL, NULL);
	struct mqb_core_stats before, after;
	mqb_core_async_stats(a->core, &before);
	a->status = mqb_await(f, NULL);
	mqb_core_async_stats(a->core, &after);
	/* No trip through the ready queue for a future already done. */
	a->step = (int)(after.ready_run - before.ready_run);
	mqb_future_unref(f);
	mqb_core_async_stop(a->core, 0);
	return 0;
}

static void awaiting_a_settled_future_returns_at_once(void **st)
{
	struct awaiter a = { 0 };
	assert_int_equal(mqb_core_new(NULL, &a.core), 0);
	struct mqb_job co = MQB_COROUTINE(await_done_future, &a);
	assert_int_equal(mqb_async_add_job(a.core, &co, NULL, NULL, NULL), 0);
	assert_int_equal(tu_run(a.core, TU_TIMEOUT), 0);
	assert_int_equal(a.status, 5);
	assert_int_equal(a.step, 0);
	mqb_core_free(a.core);
}

static void awaiting_outside_a_coroutine_is_refused(void **st)
{
	struct mqb_core *core;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	struct mqb_future *f = mqb_future_new(core);
	assert_false(mqb_in_coroutine());
	assert_int_equal(mqb_await(f, NULL), -EPERM);
	mqb_future_unref(f);
	mqb_core_free(core);
}

static int returns_result(void *ud, void *arg, void **result)
{
	*result = arg;
	return mqb_in_coroutine() ? 3 : -1;
}

static void a_coroutine_settles_its_future_with_status_and_result(void **st)
{
	struct mqb_core *core;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	struct mqb_job co = MQB_COROUTINE(returns_result, NULL);
	struct mqb_future *f;
	assert_int_equal(mqb_async_run_job(core, &co, (void *)"r", NULL, &f), 0);
	assert_false(mqb_future_done(f)); /* scheduled, not run */
	mqb_core_free(core);              /* runs the loop through shutdown */
	assert_int_equal(mqb_future_status(f), 3);
	assert_string_equal(mqb_future_value(f), "r");
	mqb_future_unref(f);
}

/* ---- awaits racing a resolver on another thread ------------------------ */

/* An await that is registered while another thread settles the future must
 * resume exactly once, whichever comes first: the settlement before the
 * await (it returns at once), during it (the loop's check after its run
 * hands the continuation over), or after (the resolver does). A missed
 * hand-over hangs the coroutine, and the watchdog fails the test. */
#define RACE_ROUNDS 100000

struct race {
	struct mqb_core *core;
	long rounds, resumed, wrong;
	_Atomic(struct mqb_future *) slot; /* for the spinning resolver */
	atomic_bool quit;
};

static void unref_arg(void *p)
{
	mqb_future_unref(p);
}

/* Spread the await over the resolver's reaction time, so that its
 * settlement lands before, during and after the await's registration (with
 * the spinning resolver below, a check-less registration hangs within a few
 * thousand rounds). */
static void vary(long i)
{
	for (volatile long k = 0; k < (i * 37) % 1500; k++)
		;
}

static int settle_from_pool(void *ud, void *arg, void **result)
{
	struct mqb_future *f = arg;
	return mqb_future_resolve(f, (intptr_t)f & 64 ? -EPIPE : 0, f, NULL);
}

static int await_pool_settled(void *ud, void *arg, void **result)
{
	struct race *r = ud;
	for (long i = 0; i < r->rounds; i++) {
		struct mqb_future *f = mqb_future_new(r->core);
		if (!f)
			break;
		/* The job holds a reference of its own until it is released,
		 * on the loop, after it ran. */
		if (mqb_async_run_job(r->core, &MQB_EXECUTOR(settle_from_pool, NULL),
				      mqb_future_ref(f), unref_arg, NULL) != 0) {
			mqb_future_unref(f);
			mqb_future_unref(f);
			break;
		}
		vary(i);
		void *v = NULL;
		int st = mqb_await(f, &v);
		r->resumed++;
		if (st != ((intptr_t)f & 64 ? -EPIPE : 0) || v != f)
			r->wrong++;
		mqb_future_unref(f);
	}
	mqb_core_async_stop(r->core, 0);
	return 0;
}

static void a_loop_made_future_settled_by_a_pool_thread_resumes_its_await_every_time(void **st)
{
	struct race r = { .rounds = RACE_ROUNDS };
	assert_int_equal(mqb_core_new(NULL, &r.core), 0);
	assert_int_equal(mqb_async_add_job(r.core, &MQB_COROUTINE(await_pool_settled, &r), NULL, NULL,
					   NULL), 0);
	assert_int_equal(tu_run(r.core, 6 * TU_TIMEOUT), 0);
	assert_int_equal(r.resumed, RACE_ROUNDS);
	assert_int_equal(r.wrong, 0);
	mqb_core_free(r.core);
}

/* A thread that takes futures from a slot as soon as they appear and
 * settles them: its settlement lands within the await's own few hundred
 * instructions far more often than a pool job's does. */
static void *spin_resolver(void *arg)
{
	struct race *r = arg;
	unsigned idle = 0;
	while (!atomic_load(&r->quit)) {
		struct mqb_future *f = atomic_exchange(&r->slot, NULL);
		if (f) {
			mqb_future_resolve(f, 0, f, NULL);
			mqb_future_unref(f);
			idle = 0;
		} else if (++idle % 64 == 0) {
			sched_yield();
		}
	}
	return NULL;
}

static int await_spin_settled(void *ud, void *arg, void **result)
{
	struct race *r = ud;
	for (long i = 0; i < r->rounds; i++) {
		struct mqb_future *f = mqb_future_new(r->core);
		if (!f)
			break;
		atomic_store(&r->slot, mqb_future_ref(f));
		vary(i);
		void *v = NULL;
		int st = mqb_await(f, &v);
		r->resumed++;
		if (st != 0 || v != f)
			r->wrong++;
		mqb_future_unref(f);
	}
	mqb_core_async_stop(r->core, 0);
	return 0;
}

static void an_await_racing_a_resolver_thread_resumes_exactly_once_every_time(void **st)
{
	struct race r = { .rounds = RACE_ROUNDS };
	assert_int_equal(mqb_core_new(NULL, &r.core), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, spin_resolver, &r), 0);
	assert_int_equal(mqb_async_add_job(r.core, &MQB_COROUTINE(await_spin_settled, &r), NULL, NULL,
					   NULL), 0);
	int rc = tu_run(r.core, 6 * TU_TIMEOUT);
	atomic_store(&r.quit, true);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(rc, 0);
	assert_int_equal(r.resumed, RACE_ROUNDS);
	assert_int_equal(r.wrong, 0);
	mqb_core_free(r.core);
}

/* ---- many awaits on one future ----------------------------------------- */

#define N_AWAITERS 8

struct crowd {
	struct mqb_core *core;
	struct mqb_future *f;
	int order[2 * N_AWAITERS + 1], n;
	int status[N_AWAITERS];
	void *value[N_AWAITERS];
	int index[N_AWAITERS];
	int step;
	bool off_loop;
};

static __thread struct crowd *the_crowd;

static int await_in_crowd(void *ud, void *arg, void **result)
{
	int *index = ud;
	struct crowd *c = the_crowd;
	c->status[*index] = mqb_await(c->f, &c->value[*index]);
	c->order[c->n++] = *index;
	return 0;
}

static void crowd_continuation(struct mqb_future *f, void *ud)
{
	struct crowd *c = the_crowd;
	c->order[c->n++] = 100 + (int)(intptr_t)ud;
}

static int settle_crowd(void *ud, void *arg, void **result)
{
	struct crowd *c = ud;
	mqb_future_resolve(c->f, -ENOLINK, (void *)"crowd", NULL);
	return 0;
}

static int stop_when_all_ran(void *ud, void *arg, void **result)
{
	struct crowd *c = ud;
	if (c->n < 2 * N_AWAITERS)
		return mqb_async_add_job(c->core, &MQB_CALLBACK(stop_when_all_ran, c), NULL, NULL,
					 NULL);
	mqb_core_async_stop(c->core, 0);
	return 0;
}

/* One step per turn of the ready queue: the coroutine spawned by a step
 * runs up to its await before the next step adds a plain continuation and
 * spawns the next; the last settles the future. */
static int gather(void *ud, void *arg, void **result)
{
	struct crowd *c = ud;
	int i = c->step++;
	if (i > 0 && mqb_future_async_add_done(c->f, crowd_continuation,
					       (void *)(intptr_t)(i - 1)) != 0)
		return -EIO;
	if (i == N_AWAITERS) {
		if (c->off_loop && mqb_async_run_job(c->core, &MQB_EXECUTOR(settle_crowd, c), NULL,
						     NULL, NULL) != 0)
			return -EIO;
		if (!c->off_loop)
			settle_crowd(c, NULL, NULL);
		return mqb_async_add_job(c->core, &MQB_CALLBACK(stop_when_all_ran, c), NULL, NULL,
					 NULL);
	}
	c->index[i] = i;
	if (mqb_async_add_job(c->core, &MQB_COROUTINE(await_in_crowd, &c->index[i]), NULL, NULL,
			      NULL) != 0)
		return -EIO;
	return mqb_async_add_job(c->core, &MQB_CALLBACK(gather, c), NULL, NULL, NULL);
}

static void check_crowd(bool off_loop)
{
	static struct crowd c;
	memset(&c, 0, sizeof c);
	c.off_loop = off_loop;
	the_crowd = &c;
	assert_int_equal(mqb_core_new(NULL, &c.core), 0);
	c.f = mqb_future_new(c.core);
	assert_non_null(c.f);
	assert_int_equal(mqb_async_add_job(c.core, &MQB_CALLBACK(gather, &c), NULL, NULL, NULL), 0);
	assert_int_equal(tu_run(c.core, TU_TIMEOUT), 0);
	assert_int_equal(c.step, N_AWAITERS + 1);
	assert_int_equal(c.n, 2 * N_AWAITERS);
	for (int i = 0; i < N_AWAITERS; i++) {
		/* Awaits and continuations alike, in the order added. */
		assert_int_equal(c.order[2 * i], i);
		assert_int_equal(c.order[2 * i + 1], 100 + i);
		assert_int_equal(c.status[i], -ENOLINK);
		assert_string_equal(c.value[i], "crowd");
	}
	mqb_future_unref(c.f);
	mqb_core_free(c.core);
}

static void awaits_on_one_future_settled_on_the_loop_resume_in_the_order_made(void **st)
{
	check_crowd(false);
}

static void awaits_on_one_future_settled_elsewhere_resume_in_the_order_made(void **st)
{
	check_crowd(true);
}

/* ---- cancellation ----------------------------------------------------- */

struct cancel {
	struct mqb_core *core;
	struct mqb_future *never;
	int first, second, sleep_rc;
	bool cleaned_up;
	int started;
};

static int waits_forever(void *ud, void *arg, void **result)
{
	struct cancel *c = ud;
	c->started++;
	c->first = mqb_await(c->never, NULL);
	/* Unwinding: every later await fails at once too. */
	c->second = mqb_await(c->never, NULL);
	c->cleaned_up = true;
	return c->first;
}

static int sleeps_long(void *ud, void *arg, void **result)
{
	struct cancel *c = ud;
	c->started++;
	c->sleep_rc = mqb_async_sleep_await(c->core, 3600);
	return 0;
}

static int stop_soon(void *ud, void *arg, void **result)
{
	struct cancel *c = ud;
	if (c->started == 2)
		mqb_core_async_stop(c->core, 0);
	else
		mqb_async_add_job(c->core, &MQB_CALLBACK(stop_soon, c), NULL, NULL, NULL);
	return 0;
}

static void shutdown_cancels_suspended_coroutines_which_unwind(void **st)
{
	struct cancel c = { 0 };
	assert_int_equal(mqb_core_new(NULL, &c.core), 0);
	c.never = mqb_future_new(c.core);
	struct mqb_future *f;
	assert_int_equal(mqb_async_add_job(c.core, &MQB_COROUTINE(waits_forever, &c), NULL, NULL, &f), 0);
	assert_int_equal(mqb_async_add_job(c.core, &MQB_COROUTINE(sleeps_long, &c), NULL, NULL, NULL), 0);
	assert_int_equal(mqb_async_add_job(c.core, &MQB_CALLBACK(stop_soon, &c), NULL, NULL, NULL), 0);
	double t0 = tu_now();
	assert_int_equal(tu_run(c.core, TU_TIMEOUT), 0);
	assert_true(tu_now() - t0 < TU_TIMEOUT / 2); /* not the watchdog */
	assert_int_equal(c.first, -ECANCELED);
	assert_int_equal(c.second, -ECANCELED);
	assert_true(c.cleaned_up);
	assert_int_equal(c.sleep_rc, -ECANCELED);
	assert_int_equal(mqb_future_status(f), -ECANCELED);
	assert_false(mqb_future_done(c.never)); /* nobody settled it */
	struct mqb_core_stats stats;
	mqb_core_async_stats(c.core, &stats);
	assert_int_equal(stats.coro_live, 0);
	mqb_future_unref(f);
	mqb_future_unref(c.never);
	mqb_core_free(c.core);
}

/* ---- stacks ----------------------------------------------------------- */

static int nothing(void *ud, void *arg, void **result)
{
	return 0;
}

static int spawn_many_in_turn(void *ud, void *arg, void **result)
{
	struct mqb_core *core = ud;
	for (int i = 0; i < 1000; i++) {
		struct mqb_future *f;
		assert_int_equal(mqb_async_add_job(core, &MQB_COROUTINE(nothing, NULL), NULL, NULL, &f), 0);
		assert_int_equal(mqb_await(f, NULL), 0);
		mqb_future_unref(f);
	}
	mqb_core_async_stop(core, 0);
	return 0;
}

static void finished_coroutines_give_their_stacks_back_for_reuse(void **st)
{
	struct mqb_core *core;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	assert_int_equal(mqb_async_add_job(core, &MQB_COROUTINE(spawn_many_in_turn, core), NULL, NULL, NULL), 0);
	assert_int_equal(tu_run(core, TU_TIMEOUT), 0);
	struct mqb_core_stats stats;
	mqb_core_async_stats(core, &stats);
	assert_int_equal(stats.coro_spawned, 1001);
	/* One for the spawner, one reused by each child in turn. */
	assert_true(stats.coro_stack_mmaps <= 2);
	mqb_core_free(core);
}

/* ---- a burst's stacks are trimmed when idle ------------------------------ */

struct burst {
	struct mqb_core *core;
	int finished;
	unsigned cached_after_burst, cached_when_idle;
};

static int sleep_once(void *ud, void *arg, void **result)
{
	struct burst *b = ud;
	mqb_async_sleep_await(b->core, 0);
	if (++b->finished == 100) /* the others' stacks are back by now */
		b->cached_after_burst = b->core->fibers.nfree;
	return 0;
}

static void look_when_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct burst *b = w->data;
	b->cached_when_idle = b->core->fibers.nfree;
	mqb_core_async_stop(b->core, 0);
}

/* A burst of coroutines ending together keeps all their stacks for the
 * moment (no munmap each in the middle of the burst) and gives back what
 * is over the cache's bound once the loop is idle. */
static void a_bursts_stacks_are_trimmed_back_to_the_cache_bound_when_idle(void **st)
{
	struct mqb_core_options opt;
	mqb_core_options_init(&opt);
	opt.coro_stack_cache = 4;
	struct burst b = { 0 };
	assert_int_equal(mqb_core_new(&opt, &b.core), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(mqb_async_add_job(b.core, &MQB_COROUTINE(sleep_once, &b), NULL, NULL,
						   NULL), 0);
	ev_timer idle;
	ev_timer_init(&idle, look_when_idle, 0.2, 0);
	idle.data = &b;
	ev_timer_start(core__loop(b.core), &idle);
	assert_int_equal(tu_run(b.core, TU_TIMEOUT), 0);
	assert_int_equal(b.finished, 100);
	assert_true(b.cached_after_burst > 90);
	assert_int_equal(b.cached_when_idle, 4);
	mqb_core_free(b.core);
}

static int recurse(int depth)
{
	volatile char pad[512];
	pad[0] = (char)depth;
	pad[511] = (char)depth;
	return depth > 1000000 ? pad[0] : recurse(depth + 1) + pad[511];
}

static int overflow(void *ud, void *arg, void **result)
{
	return recurse(0);
}

struct live {
	struct mqb_core *core;
	struct mqb_core_stats during, after;
};

static int note_live(void *ud, void *arg, void **result)
{
	struct live *l = ud;
	mqb_core_async_stats(l->core, &l->during);
	return 0;
}

static int count_after(void *ud, void *arg, void **result)
{
	struct live *l = ud;
	mqb_core_async_stats(l->core, &l->after);
	mqb_core_async_stop(l->core, 0);
	return 0;
}

static void a_finished_coroutine_is_no_longer_counted_live(void **st)
{
	struct live l = { 0 };
	assert_int_equal(mqb_core_new(NULL, &l.core), 0);
	assert_int_equal(mqb_async_add_job(l.core, &MQB_COROUTINE(note_live, &l), NULL, NULL, NULL), 0);
	assert_int_equal(mqb_async_add_job(l.core, &MQB_CALLBACK(count_after, &l), NULL, NULL, NULL), 0);
	assert_int_equal(tu_run(l.core, TU_TIMEOUT), 0);
	assert_int_equal(l.during.coro_live, 1);
	/* Its stack is taken back after it switched away for good. */
	assert_int_equal(l.after.coro_live, 0);
	assert_int_equal(l.after.coro_spawned, 1);
	mqb_core_free(l.core);
}

static void a_coroutine_overflowing_its_stack_dies_of_sigsegv(void **st)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mqb_core_options opt;
		mqb_core_options_init(&opt);
		opt.coro_stack_size = 64 * 1024;
		struct mqb_core *core;
		if (mqb_core_new(&opt, &core))
			_exit(2);
		mqb_async_add_job(core, &MQB_COROUTINE(overflow, NULL), NULL, NULL, NULL);
		mqb_core_run(core);
		_exit(3); /* not reached: the guard page stops the recursion */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(hundred_sleeping_coroutines_finish_together_while_a_timer_fires),
	cmocka_unit_test(a_coroutine_resumes_from_the_ready_queue_not_inside_resolve),
	cmocka_unit_test(a_future_settled_by_a_pool_thread_resumes_the_coroutine_on_the_loop),
	cmocka_unit_test(a_coroutine_awaits_executor_results_in_sequence),
	cmocka_unit_test(a_loop_made_future_settled_by_a_pool_thread_resumes_its_await_every_time),
	cmocka_unit_test(an_await_racing_a_resolver_thread_resumes_exactly_once_every_time),
	cmocka_unit_test(awaits_on_one_future_settled_on_the_loop_resume_in_the_order_made),
	cmocka_unit_test(awaits_on_one_future_settled_elsewhere_resume_in_the_order_made),
	cmocka_unit_test(awaiting_a_settled_future_returns_at_once),
	cmocka_unit_test(awaiting_outside_a_coroutine_is_refused),
	cmocka_unit_test(a_coroutine_settles_its_future_with_status_and_result),
	cmocka_unit_test(shutdown_cancels_suspended_coroutines_which_unwind),
	cmocka_unit_test(finished_coroutines_give_their_stacks_back_for_reuse),
	cmocka_unit_test(a_finished_coroutine_is_no_longer_counted_live),
	cmocka_unit_test(a_bursts_stacks_are_trimmed_back_to_the_cache_bound_when_idle),
	cmocka_unit_test(a_coroutine_overflowing_its_stack_dies_of_sigsegv),
};

TU_MAIN(tests)
