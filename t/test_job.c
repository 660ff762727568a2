/* SPDX-License-Identifier: MIT */
/* The dispatcher's table (DESIGN §2): for run_job and add_job and each kind,
 * when the job runs relative to the caller and to what is already queued,
 * and on which thread. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "testutil.h"
#include "mqbridge/coro.h"

#define MAXLOG 16

/* What ran, in order, and where. */
struct order {
	struct mqb_core *core;
	char log[MAXLOG];
	int n;
	bool on_loop[MAXLOG];
	pthread_t loop;
	struct tu_latch done;
};

static void note(struct order *o, char what)
{
	assert_true(o->n < MAXLOG);
	o->on_loop[o->n] = pthread_equal(pthread_self(), o->loop);
	o->log[o->n++] = what;
}

static int mark_a(void *ud, void *arg, void **result)
{
	note(ud, 'A');
	return 0;
}

static int mark_b(void *ud, void *arg, void **result)
{
	note(ud, 'B');
	return 0;
}

static int mark_b_exec(void *ud, void *arg, void **result)
{
	struct order *o = ud;
	/* Not touching o->log: it belongs to the loop thread. */
	o->on_loop[MAXLOG - 1] = pthread_equal(pthread_self(), o->loop);
	return 0;
}

static int finish(void *ud, void *arg, void **result)
{
	struct order *o = ud;
	note(o, 'Z');
	mqb_core_async_stop(o->core, 0);
	return 0;
}

static struct order *order_new(void)
{
	struct order *o = calloc(1, sizeof *o);
	assert_non_null(o);
	assert_int_equal(mqb_core_new(NULL, &o->core), 0);
	o->loop = pthread_self();
	return o;
}

static void order_free(struct order *o)
{
	mqb_core_free(o->core);
	free(o);
}

typedef int (*dispatch_fn)(struct mqb_core *, const struct mqb_job *, void *, mqb_release_fn,
			   struct mqb_future **);

/* Queue A (add_job callback), then dispatch B with fn and kind, note 'R'
 * when the dispatch returns, then queue the stop. The log says the order. */
static void check_order(dispatch_fn fn, enum mqb_job_kind kind, const char *want)
{
	struct order *o = order_new();
	struct mqb_job a = MQB_CALLBACK(mark_a, o), b = MQB_JOB(kind, mark_b, o),
		       z = MQB_CALLBACK(finish, o);
	assert_int_equal(mqb_async_add_job(o->core, &a, NULL, NULL, NULL), 0);
	assert_int_equal(fn(o->core, &b, NULL, NULL, NULL), 0);
	note(o, 'R');
	assert_int_equal(mqb_async_add_job(o->core, &z, NULL, NULL, NULL), 0);
	assert_int_equal(tu_run(o->core, TU_TIMEOUT), 0);
	o->log[o->n] = 0;
	assert_string_equal(o->log, want);
	for (int i = 0; i < o->n; i++)
		assert_true(o->on_loop[i]);
	order_free(o);
}

static void run_job_calls_a_callback_before_returning(void **s)
{
	check_order(mqb_async_run_job, MQB_JOB_CALLBACK, "BRAZ");
}

static void add_job_queues_a_callback_after_what_is_queued(void **s)
{
	check_order(mqb_async_add_job, MQB_JOB_CALLBACK, "RABZ");
}

static void run_job_schedules_a_coroutine_on_the_loop(void **s)
{
	check_order(mqb_async_run_job, MQB_JOB_COROUTINE, "RABZ");
}

static void add_job_schedules_a_coroutine_on_the_loop(void **s)
{
	check_order(mqb_async_add_job, MQB_JOB_COROUTINE, "RABZ");
}

/* Executor jobs: submitted, run on a pool thread, completion on the loop. */
static void done_stop(struct mqb_future *f, void *ud)
{
	struct order *o = ud;
	note(o, mqb_future_status(f) == 0 ? 'C' : 'X');
	mqb_core_async_stop(o->core, 0);
}

static void check_executor(dispatch_fn fn)
{
	struct order *o = order_new();
	o->on_loop[MAXLOG - 1] = true;
	struct mqb_job b = MQB_EXECUTOR(mark_b_exec, o);
	struct mqb_future *f = NULL;
	assert_int_equal(fn(o->core, &b, NULL, NULL, &f), 0);
	assert_non_null(f);
	note(o, 'R');
	assert_int_equal(mqb_future_async_add_done(f, done_stop, o), 0);
	assert_int_equal(tu_run(o->core, TU_TIMEOUT), 0);
	o->log[o->n] = 0;
	assert_string_equal(o->log, "RC");
	assert_false(o->on_loop[MAXLOG - 1]); /* the job ran on another thread */
	assert_true(o->on_loop[1]);          /* its completion on the loop */
	mqb_future_unref(f);
	order_free(o);
}

static void run_job_submits_an_executor_job_to_the_pool(void **s)
{
	check_executor(mqb_async_run_job);
}

static void add_job_submits_an_executor_job_to_the_pool(void **s)
{
	check_executor(mqb_async_add_job);
}

/* Futures carry status and result; the argument is released once. */
struct counted {
	int released;
	int freed;
};

static void release_arg(void *p)
{
	((struct counted *)p)->released++;
}

static struct counted result_counts;

static void free_result(void *p)
{
	assert_ptr_equal(p, &result_counts);
	result_counts.freed++;
}

static int fails_with_result(void *ud, void *arg, void **result)
{
	*result = &result_counts;
	return -EIO;
}

static void stop_on_done(struct mqb_future *f, void *ud)
{
	mqb_core_async_stop(ud, 0);
}

static void check_outcome(enum mqb_job_kind kind, bool run)
{
	struct mqb_core *core;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	struct counted arg = { 0 };
	result_counts = (struct counted){ 0 };
	struct mqb_job j = MQB_JOB(kind, fails_with_result, NULL);
	j.result_free = free_result;
	struct mqb_future *f = NULL;
	int rc = run ? mqb_async_run_job(core, &j, &arg, release_arg, &f)
		     : mqb_async_add_job(core, &j, &arg, release_arg, &f);
	assert_int_equal(rc, 0);
	if (kind == MQB_JOB_CALLBACK && run) {
		assert_true(mqb_future_done(f));
		assert_int_equal(arg.released, 1);
	}
	assert_int_equal(mqb_future_async_add_done(f, stop_on_done, core), 0);
	assert_int_equal(tu_run(core, TU_TIMEOUT), 0);
	mqb_core_free(core);
	assert_true(mqb_future_done(f));
	assert_int_equal(mqb_future_status(f), -EIO);
	assert_ptr_equal(mqb_future_value(f), &result_counts);
	assert_int_equal(arg.released, 1);
	assert_int_equal(result_counts.freed, 0);
	mqb_future_unref(f);
	assert_int_equal(result_counts.freed, 1);
}

static void every_kind_settles_its_future_and_releases_its_argument_once(void **s)
{
	for (int run = 0; run < 2; run++) {
		check_outcome(MQB_JOB_CALLBACK, run);
		check_outcome(MQB_JOB_COROUTINE, run);
		check_outcome(MQB_JOB_EXECUTOR, run);
	}
}

/* mqb_add_job from another thread. */
struct remote {
	struct tu_latch ran;
	pthread_t loop;
	bool callback_on_loop, executor_on_loop;
};

static int remote_callback(void *ud, void *arg, void **result)
{
	struct remote *r = ud;
	r->callback_on_loop = pthread_equal(pthread_self(), r->loop);
	tu_latch_count_down(&r->ran);
	return 0;
}

static int remote_executor(void *ud, void *arg, void **result)
{
	struct remote *r = ud;
	r->executor_on_loop = pthread_equal(pthread_self(), r->loop);
	tu_latch_count_down(&r->ran);
	return 7;
}

static void add_job_from_another_thread_runs_each_kind_where_it_belongs(void **s)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct remote r = { .loop = t.loop_thread_id, .callback_on_loop = false,
			    .executor_on_loop = true };
	tu_latch_init(&r.ran, 2);
	struct mqb_job cb = MQB_CALLBACK(remote_callback, &r), ex = MQB_EXECUTOR(remote_executor, &r);
	struct mqb_future *f1, *f2;
	assert_int_equal(mqb_add_job(t.core, &cb, NULL, NULL, &f1), 0);
	assert_int_equal(mqb_add_job(t.core, &ex, NULL, NULL, &f2), 0);
	assert_true(tu_latch_wait(&r.ran, TU_TIMEOUT));
	assert_int_equal(mqb_future_result(f1, TU_TIMEOUT, NULL), 0);
	assert_int_equal(mqb_future_result(f2, TU_TIMEOUT, NULL), 7);
	assert_true(r.callback_on_loop);
	assert_false(r.executor_on_loop);
	mqb_future_unref(f1);
	mqb_future_unref(f2);
	assert_int_equal(tu_loop_stop(&t), 0);
	tu_latch_destroy(&r.ran);
}

static void add_job_after_the_loop_stopped_is_refused_and_runs_nothing(void **s)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	mqb_core_stop(t.core, 3);
	assert_int_equal(pthread_join(t.thread, NULL), 0);
	assert_int_equal(t.exit_code, 3);
	struct remote r = { 0 };
	tu_latch_init(&r.ran, 1);
	struct mqb_job cb = MQB_CALLBACK(remote_callback, &r);
	struct mqb_future *f = NULL;
	assert_int_equal(mqb_add_job(t.core, &cb, NULL, NULL, &f), -ESHUTDOWN);
	assert_null(f);
	mqb_core_free(t.core);
	assert_int_equal(r.ran.count, 1);
	tu_latch_destroy(&r.ran);
	tu_latch_destroy(&t.started);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(run_job_calls_a_callback_before_returning),
	cmocka_unit_test(add_job_queues_a_callback_after_what_is_queued),
	cmocka_unit_test(run_job_schedules_a_coroutine_on_the_loop),
	cmocka_unit_test(add_job_schedules_a_coroutine_on_the_loop),
	cmocka_unit_test(run_job_submits_an_executor_job_to_the_pool),
	cmocka_unit_test(add_job_submits_an_executor_job_to_the_pool),
	cmocka_unit_test(every_kind_settles_its_future_and_releases_its_argument_once),
	cmocka_unit_test(add_job_from_another_thread_runs_each_kind_where_it_belongs),
	cmocka_unit_test(add_job_after_the_loop_stopped_is_refused_and_runs_nothing),
};

TU_MAIN(tests)
