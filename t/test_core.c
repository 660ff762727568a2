/* SPDX-License-Identifier: MIT */
/* The core: thread-safe calls into the loop, refusals that prevent
 * deadlocks (-EDEADLK on the loop, -ESHUTDOWN once stopping), and the staged
 * shutdown with its start and stop events. */
#include "config.h"

#include <errno.h>

#include "testutil.h"
#include "mqbridge/bus.h"

/* ---- 8 threads x 10,000 round trips ----------------------------------- */

#define NTHREADS 8
#define NCALLS 10000

struct hammer {
	struct tu_loop *t;
	long index;
	long wrong, failed;
	unsigned long long *on_loop_count; /* loop-owned counter */
};

static int triple_plus(void *ud, void *arg, void **result)
{
	struct hammer *h = ud;
	(*h->on_loop_count)++; /* safe without a lock only on the loop thread */
	*result = (void *)((intptr_t)arg * 3 + h->index);
	return pthread_equal(pthread_self(), h->t->loop_thread_id) ? 0 : -EPERM;
}

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	for (intptr_t i = 0; i < NCALLS; i++) {
		struct mqb_future *f;
		void *v = NULL;
		if (mqb_run_callback_threadsafe(h->t->core, triple_plus, h, (void *)i, &f) != 0) {
			h->failed++;
			continue;
		}
		if (mqb_future_result(f, TU_TIMEOUT, &v) != 0)
			h->failed++;
		else if ((intptr_t)v != i * 3 + h->index)
			h->wrong++;
		mqb_future_unref(f);
	}
	return NULL;
}

static void eight_threads_make_ten_thousand_calls_each_and_none_is_lost(void **s)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	unsigned long long count = 0;
	pthread_t th[NTHREADS];
	struct hammer h[NTHREADS];
	for (long i = 0; i < NTHREADS; i++) {
		h[i] = (struct hammer){ .t = &t, .index = i, .on_loop_count = &count };
		assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(h[i].failed, 0);
		assert_int_equal(h[i].wrong, 0);
	}
	assert_int_equal(tu_loop_stop(&t), 0);
	assert_int_equal(count, (unsigned long long)NTHREADS * NCALLS);
}

/* ---- refusals --------------------------------------------------------- */

static int never_called(void *ud, void *arg, void **result)
{
	fail_msg("a refused call ran");
	return 0;
}

struct on_loop_check {
	struct mqb_core *core;
	int call_rc, wrapper_rc, result_rc;
	double took;
};

static void blocking_on_the_loop(void *arg)
{
	struct on_loop_check *c = arg;
	double t0 = tu_now();
	struct mqb_future *f = NULL;
	c->call_rc = mqb_run_callback_threadsafe(c->core, never_called, NULL, NULL, &f);
	c->wrapper_rc = mqb_call_threadsafe(c->core, never_called, NULL, NULL);
	struct mqb_future *pending = mqb_future_new(c->core);
	c->result_rc = mqb_future_result(pending, 5.0, NULL);
	mqb_future_unref(pending);
	c->took = tu_now() - t0;
	assert_null(f);
}

static void a_blocking_wrapper_on_the_loop_thread_returns_edeadlk_at_once(void **s)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct on_loop_check c = { .core = t.core };
	tu_on_loop(&t, blocking_on_the_loop, &c);
	assert_int_equal(c.call_rc, -EDEADLK);
	assert_int_equal(c.wrapper_rc, -EDEADLK);
	assert_int_equal(c.result_rc, -EDEADLK);
	assert_true(c.took < 1.0); /* at once, not after the 5 s timeout */
	assert_int_equal(tu_loop_stop(&t), 0);
}

/* A stop listener holds the loop in stage 1 until the test has checked that
 * thread-safe calls are refused. */
struct stopping {
	struct tu_latch in_stop, checked;
	int refused_rc;
};

static int on_stop(void *ud, void *arg, void **result)
{
	struct stopping *st = ud;
	tu_latch_count_down(&st->in_stop);
	/* Bounded: the test thread counts this down right after its check. */
	assert_true(tu_latch_wait(&st->checked, TU_TIMEOUT));
	return 0;
}

struct stop_setup {
	struct mqb_core *core;
	struct stopping *st;
};

static void add_stop_listener(void *arg)
{
	struct stop_setup *ss = arg;
	assert_int_equal(mqb_bus_async_listen(ss->core, MQB_EVENT_STOP,
					      &MQB_CALLBACK(on_stop, ss->st), NULL), 0);
}

static void calls_once_shutdown_has_begun_are_refused_with_eshutdown(void **s)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct stopping st;
	tu_latch_init(&st.in_stop, 1);
	tu_latch_init(&st.checked, 1);
	struct stop_setup ss = { t.core, &st };
	tu_on_loop(&t, add_stop_listener, &ss);
	mqb_core_stop(t.core, 0);
	assert_true(tu_latch_wait(&st.in_stop, TU_TIMEOUT));
	assert_true(mqb_core_is_stopping(t.core));
	assert_int_equal(mqb_run_callback_threadsafe(t.core, never_called, NULL, NULL, NULL),
			 -ESHUTDOWN);
	assert_int_equal(mqb_call_threadsafe(t.core, never_called, NULL, NULL), -ESHUTDOWN);
	assert_int_equal(mqb_add_job(t.core, &MQB_CALLBACK(never_called, NULL), NULL, NULL, NULL),
			 -ESHUTDOWN);
	tu_latch_count_down(&st.checked);
	assert_int_equal(tu_loop_stop(&t), 0);
	tu_latch_destroy(&st.in_stop);
	tu_latch_destroy(&st.checked);
}

/* ---- ordering and life cycle ------------------------------------------ */

struct fifo {
	int next, out_of_order;
	struct tu_latch done;
};

struct fifo_item {
	struct fifo *f;
	int n;
};

static void check_order(void *arg)
{
	struct fifo_item *it = arg;
	if (it->n != it->f->next)
		it->f->out_of_order++;
	it->f->next = it->n + 1;
	tu_latch_count_down(&it->f->done);
}

static void calls_from_one_thread_run_in_the_order_made(void **s)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	enum { N = 5000 };
	static struct fifo_item items[N];
	struct fifo f = { 0 };
	tu_latch_init(&f.done, N);
	for (int i = 0; i < N; i++) {
		items[i] = (struct fifo_item){ &f, i };
		assert_int_equal(mqb_call_soon_threadsafe(t.core, check_order, &items[i]), 0);
	}
	assert_true(tu_latch_wait(&f.done, TU_TIMEOUT));
	assert_int_equal(f.out_of_order, 0);
	assert_int_equal(f.next, N);
	assert_int_equal(tu_loop_stop(&t), 0);
	tu_latch_destroy(&f.done);
}

struct lifecycle {
	struct mqb_core *core;
	char seen[8];
	int n;
};

static int saw_event(void *ud, void *arg, void **result)
{
	struct lifecycle *l = ud;
	const char *type = mqb_event_type(arg);
	l->seen[l->n++] = strcmp(type, MQB_EVENT_START) == 0 ? 'S'
			  : strcmp(type, MQB_EVENT_STOP) == 0 ? 'T' : '?';
	if (l->seen[l->n - 1] == 'S')
		mqb_core_async_stop(l->core, 5);
	return 0;
}

static void run_fires_start_and_returns_the_exit_code_given_to_stop(void **s)
{
	struct lifecycle l = { 0 };
	assert_int_equal(mqb_core_new(NULL, &l.core), 0);
	struct mqb_job j = MQB_CALLBACK(saw_event, &l);
	assert_int_equal(mqb_bus_async_listen(l.core, MQB_EVENT_START, &j, NULL), 0);
	assert_int_equal(mqb_bus_async_listen(l.core, MQB_EVENT_STOP, &j, NULL), 0);
	assert_int_equal(tu_run(l.core, TU_TIMEOUT), 5);
	l.seen[l.n] = 0;
	assert_string_equal(l.seen, "ST");
	/* Stopping twice is harmless; the first exit code stands. */
	mqb_core_async_stop(l.core, 9);
	mqb_core_free(l.core);
}

static void a_core_never_run_frees_cleanly_and_runs_what_was_queued(void **s)
{
	struct mqb_core *core;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	struct fifo f = { 0 };
	tu_latch_init(&f.done, 1);
	struct fifo_item it = { &f, 0 };
	assert_int_equal(mqb_async_call_soon(core, check_order, &it), 0);
	mqb_core_free(core);
	assert_int_equal(f.next, 1);
	tu_latch_destroy(&f.done);
}

static void never_run(void *arg)
{
	(*(int *)arg)++;
}

static int never_run_job(void *ud, void *arg, void **result)
{
	(*(int *)ud)++;
	return 0;
}

static int stop_now(void *ud, void *arg, void **result)
{
	mqb_core_async_stop(ud, 0);
	return 0;
}

static void the_ready_queue_refuses_work_once_the_loop_is_gone(void **s)
{
	struct mqb_core *core;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	assert_int_equal(mqb_async_add_job(core, &MQB_CALLBACK(stop_now, core), NULL, NULL, NULL), 0);
	assert_int_equal(tu_run(core, TU_TIMEOUT), 0);
	/* The queue has room left, but nothing would ever run what it took. */
	int ran = 0;
	assert_int_equal(mqb_async_call_soon(core, never_run, &ran), -ESHUTDOWN);
	assert_int_equal(mqb_async_add_job(core, &MQB_CALLBACK(never_run_job, &ran), NULL, NULL, NULL),
			 -ESHUTDOWN);
	mqb_core_free(core);
	assert_int_equal(ran, 0);
}

static void bad_options_are_rejected(void **s)
{
	struct mqb_core_options opt;
	struct mqb_core *core = NULL;
	mqb_core_options_init(&opt);
	opt.executor_threads = 0;
	assert_int_equal(mqb_core_new(&opt, &core), -EINVAL);
	mqb_core_options_init(&opt);
	opt.executor_queue_max = 0;
	assert_int_equal(mqb_core_new(&opt, &core), -EINVAL);
	mqb_core_options_init(&opt);
	opt.shutdown_timeout = -1;
	assert_int_equal(mqb_core_new(&opt, &core), -EINVAL);
	assert_null(core);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(eight_threads_make_ten_thousand_calls_each_and_none_is_lost),
	cmocka_unit_test(a_blocking_wrapper_on_the_loop_thread_returns_edeadlk_at_once),
	cmocka_unit_test(calls_once_shutdown_has_begun_are_refused_with_eshutdown),
	cmocka_unit_test(calls_from_one_thread_run_in_the_order_made),
	cmocka_unit_test(run_fires_start_and_returns_the_exit_code_given_to_stop),
	cmocka_unit_test(a_core_never_run_frees_cleanly_and_runs_what_was_queued),
	cmocka_unit_test(the_ready_queue_refuses_work_once_the_loop_is_gone),
	cmocka_unit_test(bad_options_are_rejected),
};

TU_MAIN(tests)
