/* SPDX-License-Identifier: MIT */
/* The executor pool: EXECUTOR jobs run on worker threads and complete on the
 * loop, the queue is bounded (-EAGAIN, the caller keeps its argument), slow
 * jobs are logged by name, and the staged shutdown cancels queued jobs,
 * drains running ones and abandons those that outlive the timeout.
 *
 * cmocka's assertions jump (longjmp) back to the test, so they are only made
 * on the test's own thread: code on the loop or in the pool records what it
 * saw and the test checks it afterwards. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "core/loop.h"
#include "core/pool.h"
#include "mqbridge/future.h"
#include "mqbridge/job.h"
#include "mqbridge/log.h"

/* A status no path of the core invents, so seeing it proves the job's own
 * status came through. */
#define JOB_STATUS (-EPROTO)

/* ---- helpers ---------------------------------------------------------- */

/* An argument or result that counts how often it was released. */
struct tracked {
	atomic_int freed;
	struct tu_latch *latch; /* counted down when released; may be NULL */
};

static void tracked_free(void *p)
{
	struct tracked *t = p;
	atomic_fetch_add(&t->freed, 1);
	if (t->latch)
		tu_latch_count_down(t->latch);
}

/* An executor job's user data: what it saw, and what it waits for. */
struct jobctx {
	atomic_int ran;
	pthread_t thread;
	double started_at;
	struct tu_latch *started; /* counted down when the job starts; may be NULL */
	struct tu_latch *gate;    /* the job waits (bounded) for it; may be NULL */
	int status;               /* returned when the gate opened */
	void *result;
};

static int blocking_job(void *ud, void *arg, void **result)
{
	struct jobctx *j = ud;
	j->thread = pthread_self();
	j->started_at = tu_now();
	atomic_fetch_add(&j->ran, 1);
	if (j->started)
		tu_latch_count_down(j->started);
	if (j->gate && !tu_latch_wait(j->gate, TU_TIMEOUT))
		return -ETIMEDOUT;
	*result = j->result;
	return j->status;
}

/* What one continuation saw. */
struct seen {
	atomic_int runs;
	pthread_t thread;
	int status;
	void *value;
	struct mqb_future *fut;
	struct tu_latch *latch;   /* counted down per run; may be NULL */
	struct tu_latch *release; /* counted down after recording; may be NULL */
	struct mqb_core *core;    /* if set, stats are taken when it runs */
	struct mqb_core_stats stats;
	bool stopping;
};

static void on_done(struct mqb_future *f, void *ud)
{
	struct seen *s = ud;
	s->thread = pthread_self();
	s->status = mqb_future_status(f);
	s->value = mqb_future_value(f);
	s->fut = f;
	if (s->core) {
		mqb_core_async_stats(s->core, &s->stats);
		s->stopping = mqb_core_is_stopping(s->core);
	}
	atomic_fetch_add(&s->runs, 1);
	if (s->release)
		tu_latch_count_down(s->release);
	if (s->latch)
		tu_latch_count_down(s->latch);
}

/* Submissions made on the loop thread (mqb_async_run_job is loop-only). */
struct sub {
	struct mqb_job job;
	struct tracked *arg;  /* released with tracked_free; may be NULL */
	struct seen *seen;    /* continuation on the job's future; may be NULL */
	struct mqb_future *f; /* out */
	int rc, add_rc;
	double took;
};

struct subs {
	struct mqb_core *core;
	struct sub *v;
	unsigned n;
	struct mqb_core_stats stats; /* right after the submissions */
};

static void submit_on_loop(void *arg)
{
	struct subs *s = arg;
	for (unsigned i = 0; i < s->n; i++) {
		struct sub *x = &s->v[i];
		double t0 = tu_now();
		x->rc = mqb_async_run_job(s->core, &x->job, x->arg, x->arg ? tracked_free : NULL,
					  &x->f);
		x->took = tu_now() - t0;
		x->add_rc = x->rc == 0 && x->seen ? mqb_future_async_add_done(x->f, on_done, x->seen)
						  : -1;
	}
	mqb_core_async_stats(s->core, &s->stats);
}

static void submit_without_future_on_loop(void *arg)
{
	struct subs *s = arg;
	struct sub *x = &s->v[0];
	x->rc = mqb_async_run_job(s->core, &x->job, x->arg, x->arg ? tracked_free : NULL, NULL);
}

static void submit(struct tu_loop *t, struct sub *v, unsigned n, struct mqb_core_stats *stats)
{
	struct subs s = { .core = t->core, .v = v, .n = n };
	for (unsigned i = 0; i < n; i++)
		v[i].rc = v[i].add_rc = 1;
	tu_on_loop(t, submit_on_loop, &s);
	if (stats)
		*stats = s.stats;
}

static void stats_on_loop(void *arg)
{
	struct subs *s = arg;
	mqb_core_async_stats(s->core, &s->stats);
}

static struct mqb_core_stats stats_of(struct tu_loop *t)
{
	struct subs s = { .core = t->core };
	tu_on_loop(t, stats_on_loop, &s);
	return s.stats;
}

static struct mqb_core_options pool_options(unsigned threads)
{
	struct mqb_core_options opt;
	mqb_core_options_init(&opt);
	opt.executor_threads = threads;
	return opt;
}

/* ---- running and completing ------------------------------------------- */

static void executor_job_runs_off_the_loop_and_completes_on_it_exactly_once(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct tu_latch done;
	tu_latch_init(&done, 1);
	struct tracked arg = { 0 }, result = { 0 };
	struct jobctx j = { .status = JOB_STATUS, .result = &result };
	struct seen seen = { .latch = &done };
	struct sub s = { .job = MQB_EXECUTOR(blocking_job, &j), .arg = &arg, .seen = &seen };
	s.job.result_free = tracked_free;

	submit(&t, &s, 1, NULL);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.add_rc, 0);
	assert_non_null(s.f);

	assert_true(tu_latch_wait(&done, TU_TIMEOUT));
	tu_loop_flush(&t); /* a second completion would have run by now */
	assert_int_equal(atomic_load(&j.ran), 1);
	assert_false(pthread_equal(j.thread, t.loop_thread_id));
	assert_false(pthread_equal(j.thread, pthread_self()));
	assert_int_equal(atomic_load(&seen.runs), 1);
	assert_true(pthread_equal(seen.thread, t.loop_thread_id));
	assert_ptr_equal(seen.fut, s.f);
	assert_int_equal(seen.status, JOB_STATUS);
	assert_ptr_equal(seen.value, &result);
	assert_int_equal(atomic_load(&arg.freed), 1);

	/* The result belongs to the future until it goes away. */
	assert_int_equal(atomic_load(&result.freed), 0);
	mqb_future_unref(s.f);
	assert_int_equal(atomic_load(&result.freed), 1);

	struct mqb_core_stats st = stats_of(&t);
	assert_int_equal(st.executor_submitted, 1);
	assert_int_equal(st.executor_completed, 1);
	assert_int_equal(st.executor_cancelled, 0);
	tu_latch_destroy(&done);
	assert_int_equal(tu_loop_stop(&t), 0);
}

static void add_job_from_another_thread_runs_an_executor_job_and_settles_its_future(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct tracked arg = { 0 }, result = { 0 };
	struct jobctx j = { .status = JOB_STATUS, .result = &result };
	struct mqb_job job = MQB_EXECUTOR(blocking_job, &j);
	job.result_free = tracked_free;

	struct mqb_future *f = NULL;
	assert_false(mqb_core_in_loop_thread(t.core));
	assert_int_equal(mqb_add_job(t.core, &job, &arg, tracked_free, &f), 0);
	assert_non_null(f);
	void *value = NULL;
	assert_int_equal(mqb_future_result(f, TU_TIMEOUT, &value), JOB_STATUS);
	assert_ptr_equal(value, &result);
	assert_int_equal(atomic_load(&j.ran), 1);
	assert_false(pthread_equal(j.thread, t.loop_thread_id));
	assert_false(pthread_equal(j.thread, pthread_self()));

	tu_loop_flush(&t); /* the completion releases arg right after settling f */
	assert_int_equal(atomic_load(&arg.freed), 1);
	assert_int_equal(atomic_load(&result.freed), 0);
	mqb_future_unref(f);
	assert_int_equal(atomic_load(&result.freed), 1);
	assert_int_equal(tu_loop_stop(&t), 0);
}

static void result_of_a_job_nobody_awaits_is_freed_once(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct tu_latch released;
	tu_latch_init(&released, 1);
	/* The argument is released after the result is dealt with. */
	struct tracked arg = { .latch = &released }, result = { 0 };
	struct jobctx j = { .status = 0, .result = &result };
	struct sub s = { .job = MQB_EXECUTOR(blocking_job, &j), .arg = &arg };
	s.job.result_free = tracked_free;

	struct subs one = { .core = t.core, .v = &s, .n = 1 };
	s.rc = 1;
	tu_on_loop(&t, submit_without_future_on_loop, &one);
	assert_int_equal(s.rc, 0);
	assert_true(tu_latch_wait(&released, TU_TIMEOUT));
	tu_loop_flush(&t);
	assert_int_equal(atomic_load(&j.ran), 1);
	assert_int_equal(atomic_load(&arg.freed), 1);
	assert_int_equal(atomic_load(&result.freed), 1);
	tu_latch_destroy(&released);
	assert_int_equal(tu_loop_stop(&t), 0);
}

/* ---- back-pressure ---------------------------------------------------- */

static void full_pool_rejects_with_eagain_and_leaves_the_argument_to_the_caller(void **state)
{
	struct mqb_core_options opt = pool_options(1);
	opt.executor_queue_max = 2;
	struct tu_loop t;
	tu_loop_start(&t, &opt);

	struct tu_latch started, gate, done;
	tu_latch_init(&started, 1);
	tu_latch_init(&gate, 1);
	tu_latch_init(&done, 3);
	struct tracked args[4] = { 0 };
	struct jobctx jobs[4] = {
		{ .started = &started, .gate = &gate },
		{ .status = 0 },
		{ .status = 0 },
		{ .status = 0 },
	};
	struct seen seen[4] = { { .latch = &done }, { .latch = &done }, { .latch = &done },
				{ .latch = &done } };
	struct sub s[4];
	for (int i = 0; i < 4; i++)
		s[i] = (struct sub){ .job = MQB_EXECUTOR(blocking_job, &jobs[i]), .arg = &args[i],
				     .seen = &seen[i] };

	/* The only worker is busy with the first job... */
	submit(&t, &s[0], 1, NULL);
	assert_int_equal(s[0].rc, 0);
	assert_true(tu_latch_wait(&started, TU_TIMEOUT));

	/* ...two jobs fill the queue, the next is turned away at once. */
	struct mqb_core_stats st;
	submit(&t, &s[1], 3, &st);
	assert_int_equal(s[1].rc, 0);
	assert_int_equal(s[2].rc, 0);
	assert_int_equal(s[3].rc, -EAGAIN);
	assert_true(s[3].took < 1.0);
	assert_null(s[3].f);
	assert_int_equal(st.executor_rejected, 1);
	assert_int_equal(st.executor_queued, 2);
	assert_int_equal(st.executor_running, 1);
	assert_int_equal(atomic_load(&args[3].freed), 0);

	tu_latch_count_down(&gate);
	assert_true(tu_latch_wait(&done, TU_TIMEOUT));
	tu_loop_flush(&t);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(atomic_load(&jobs[i].ran), 1);
		assert_int_equal(atomic_load(&seen[i].runs), 1);
		assert_int_equal(seen[i].status, 0);
		assert_int_equal(atomic_load(&args[i].freed), 1);
		mqb_future_unref(s[i].f);
	}
	/* The rejected job never ran and its argument is still the caller's. */
	assert_int_equal(atomic_load(&jobs[3].ran), 0);
	assert_int_equal(atomic_load(&seen[3].runs), 0);
	assert_int_equal(atomic_load(&args[3].freed), 0);
	st = stats_of(&t);
	assert_int_equal(st.executor_rejected, 1);
	assert_int_equal(st.executor_submitted, 3);
	assert_int_equal(st.executor_completed, 3);

	tu_latch_destroy(&started);
	tu_latch_destroy(&gate);
	tu_latch_destroy(&done);
	assert_int_equal(tu_loop_stop(&t), 0);
}

static void add_job_from_another_thread_into_a_full_pool_settles_its_future_with_eagain(
	void **state)
{
	struct mqb_core_options opt = pool_options(1);
	opt.executor_queue_max = 1;
	struct tu_loop t;
	tu_loop_start(&t, &opt);
	struct tu_latch started, gate;
	tu_latch_init(&started, 1);
	tu_latch_init(&gate, 1);
	struct tracked args[3] = { 0 };
	struct jobctx jobs[3] = { { .started = &started, .gate = &gate } };
	struct sub s[2];
	for (int i = 0; i < 2; i++)
		s[i] = (struct sub){ .job = MQB_EXECUTOR(blocking_job, &jobs[i]), .arg = &args[i] };
	submit(&t, &s[0], 1, NULL);
	assert_true(tu_latch_wait(&started, TU_TIMEOUT));
	submit(&t, &s[1], 1, NULL); /* fills the queue */
	assert_int_equal(s[0].rc, 0);
	assert_int_equal(s[1].rc, 0);

	/* Accepted here; the loop finds the pool full and says so in f. */
	struct mqb_job job = MQB_EXECUTOR(blocking_job, &jobs[2]);
	struct mqb_future *f = NULL;
	assert_int_equal(mqb_add_job(t.core, &job, &args[2], tracked_free, &f), 0);
	assert_non_null(f);
	assert_int_equal(mqb_future_result(f, TU_TIMEOUT, NULL), -EAGAIN);
	tu_loop_flush(&t);
	assert_int_equal(atomic_load(&jobs[2].ran), 0);
	/* mqb_add_job returned 0, so the argument was the core's to release. */
	assert_int_equal(atomic_load(&args[2].freed), 1);
	assert_int_equal(stats_of(&t).executor_rejected, 1);

	tu_latch_count_down(&gate);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(mqb_future_result(s[i].f, TU_TIMEOUT, NULL), 0);
		mqb_future_unref(s[i].f);
	}
	mqb_future_unref(f);
	tu_latch_destroy(&started);
	tu_latch_destroy(&gate);
	assert_int_equal(tu_loop_stop(&t), 0);
}

/* ---- worker count ----------------------------------------------------- */

static int rendezvous_job(void *ud, void *arg, void **result)
{
	struct jobctx *j = ud;
	j->thread = pthread_self();
	atomic_fetch_add(&j->ran, 1);
	/* Only when all three run at once does the count reach zero. */
	tu_latch_count_down(j->gate);
	return tu_latch_wait(j->gate, TU_TIMEOUT) ? 0 : -ETIMEDOUT;
}

static void three_workers_run_three_jobs_at_once(void **state)
{
	struct mqb_core_options opt = pool_options(3);
	struct tu_loop t;
	tu_loop_start(&t, &opt);
	struct tu_latch all;
	tu_latch_init(&all, 3);
	struct jobctx jobs[3];
	struct sub s[3];
	for (int i = 0; i < 3; i++) {
		jobs[i] = (struct jobctx){ .gate = &all };
		s[i] = (struct sub){ .job = MQB_EXECUTOR(rendezvous_job, &jobs[i]) };
	}
	submit(&t, s, 3, NULL);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(s[i].rc, 0);
		assert_int_equal(mqb_future_result(s[i].f, 2 * TU_TIMEOUT, NULL), 0);
		assert_int_equal(atomic_load(&jobs[i].ran), 1);
		assert_false(pthread_equal(jobs[i].thread, t.loop_thread_id));
	}
	assert_false(pthread_equal(jobs[0].thread, jobs[1].thread));
	assert_false(pthread_equal(jobs[0].thread, jobs[2].thread));
	assert_false(pthread_equal(jobs[1].thread, jobs[2].thread));
	for (int i = 0; i < 3; i++)
		mqb_future_unref(s[i].f);
	tu_latch_destroy(&all);
	assert_int_equal(tu_loop_stop(&t), 0);
}

/* ---- the internal lane ------------------------------------------------- */

struct internal_sub {
	struct mqb_core *core;
	struct mqb_job job;
	struct mqb_future *f;
	int rc;
};

static void submit_internal_on_loop(void *arg)
{
	struct internal_sub *s = arg;
	s->rc = job__async_run_internal(s->core, &s->job, NULL, NULL, &s->f);
}

/* MQTT's connect and subscribe run on the internal lane: every user worker
 * blocked (hanging commands) must not delay them. */
static void an_internal_job_runs_while_every_user_worker_is_blocked(void **state)
{
	struct mqb_core_options opt = pool_options(2);
	struct tu_loop t;
	tu_loop_start(&t, &opt);
	struct tu_latch gate, started;
	tu_latch_init(&gate, 1);
	tu_latch_init(&started, 3);
	struct jobctx blocked[3], inner = { 0 };
	struct sub s[3];
	for (int i = 0; i < 3; i++) {
		blocked[i] = (struct jobctx){ .gate = &gate, .started = i < 2 ? &started : NULL };
		s[i] = (struct sub){ .job = MQB_EXECUTOR(blocking_job, &blocked[i]) };
	}
	submit(&t, s, 3, NULL); /* two run, one waits in the queue */
	struct internal_sub in = { .core = t.core, .job = MQB_EXECUTOR(blocking_job, &inner) };
	tu_on_loop(&t, submit_internal_on_loop, &in);
	assert_int_equal(in.rc, 0);
	assert_int_equal(mqb_future_result(in.f, TU_TIMEOUT, NULL), 0);
	assert_int_equal(atomic_load(&inner.ran), 1);
	assert_int_equal(atomic_load(&blocked[2].ran), 0); /* still queued */
	for (int i = 0; i < 2; i++)
		assert_false(pthread_equal(inner.thread, blocked[i].thread));
	tu_latch_count_down(&gate);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(mqb_future_result(s[i].f, TU_TIMEOUT, NULL), 0);
		mqb_future_unref(s[i].f);
	}
	mqb_future_unref(in.f);
	tu_latch_destroy(&gate);
	tu_latch_destroy(&started);
	assert_int_equal(tu_loop_stop(&t), 0);
}

/* ---- slow jobs -------------------------------------------------------- */

static struct log_capture {
	pthread_mutex_t m;
	const char *needle;
	int matches;
	enum mqb_log_level level;
	double first_at;
	char line[512];
	struct tu_latch first, second;
} cap = { .m = PTHREAD_MUTEX_INITIALIZER };

static void capture_sink(void *ud, enum mqb_log_level level, const char *subsystem,
			 const char *line)
{
	struct log_capture *c = ud;
	pthread_mutex_lock(&c->m);
	int n = 0;
	if (c->needle && strstr(line, c->needle)) {
		n = ++c->matches;
		if (n == 1) {
			c->level = level;
			c->first_at = tu_now();
			snprintf(c->line, sizeof c->line, "%s", line);
		}
	}
	pthread_mutex_unlock(&c->m);
	if (n == 1)
		tu_latch_count_down(&c->first);
	else if (n == 2)
		tu_latch_count_down(&c->second);
}

static int restore_log_sink(void **state)
{
	mqb_log_set_sink(NULL, NULL);
	return 0;
}

/* Its name is what the warning must carry. */
static int sleepy_executor_job(void *ud, void *arg, void **result)
{
	return blocking_job(ud, arg, result);
}

static void job_running_past_the_slow_limit_is_logged_once_by_name(void **state)
{
	struct mqb_core_options opt = pool_options(1);
	opt.slow_job_seconds = 0.1;
	struct tu_loop t;
	tu_loop_start(&t, &opt);

	pthread_mutex_lock(&cap.m);
	cap.needle = "sleepy_executor_job";
	cap.matches = 0;
	cap.line[0] = 0;
	pthread_mutex_unlock(&cap.m);
	tu_latch_init(&cap.first, 1);
	tu_latch_init(&cap.second, 1);
	mqb_log_set_sink(capture_sink, &cap);

	struct tu_latch gate, done;
	tu_latch_init(&gate, 1);
	tu_latch_init(&done, 1);
	struct jobctx j = { .gate = &gate };
	struct seen seen = { .latch = &done };
	struct sub s = { .job = MQB_EXECUTOR(sleepy_executor_job, &j), .seen = &seen };
	assert_string_equal(s.job.name, "sleepy_executor_job");
	submit(&t, &s, 1, NULL);
	assert_int_equal(s.rc, 0);

	assert_true(tu_latch_wait(&cap.first, TU_TIMEOUT));
	/* Keep it running for many more watchdog periods: no second line. */
	assert_false(tu_latch_wait(&cap.second, 0.5));
	tu_latch_count_down(&gate);
	assert_true(tu_latch_wait(&done, TU_TIMEOUT));
	tu_loop_flush(&t);
	mqb_log_set_sink(NULL, NULL);

	pthread_mutex_lock(&cap.m);
	int matches = cap.matches;
	enum mqb_log_level level = cap.level;
	double first_at = cap.first_at;
	char line[sizeof cap.line];
	memcpy(line, cap.line, sizeof line);
	pthread_mutex_unlock(&cap.m);

	assert_int_equal(seen.status, 0);
	assert_int_equal(matches, 1);
	assert_int_equal(level, MQB_LOG_WARNING);
	assert_non_null(strstr(line, "sleepy_executor_job"));
	/* Logged only once it had run about as long as the limit (the job's
	 * clock starts a little after the pool's). */
	assert_true(first_at - j.started_at >= 0.09);
	struct mqb_core_stats st = stats_of(&t);
	assert_int_equal(st.executor_slow, 1);

	mqb_future_unref(s.f);
	tu_latch_destroy(&gate);
	tu_latch_destroy(&done);
	tu_latch_destroy(&cap.first);
	tu_latch_destroy(&cap.second);
	assert_int_equal(tu_loop_stop(&t), 0);
}

/* ---- shutdown --------------------------------------------------------- */

#define N_QUEUED 5

static void shutdown_cancels_each_queued_job_once_and_drains_the_running_one(void **state)
{
	struct mqb_core_options opt = pool_options(1);
	struct tu_loop t;
	tu_loop_start(&t, &opt);

	struct tu_latch g_started, g_gate, g_done, cancelled;
	tu_latch_init(&g_started, 1);
	tu_latch_init(&g_gate, 1);
	tu_latch_init(&g_done, 1);
	tu_latch_init(&cancelled, N_QUEUED);
	struct tracked g_arg = { 0 }, g_result = { 0 }, args[N_QUEUED] = { 0 };
	struct jobctx g = { .started = &g_started, .gate = &g_gate, .status = JOB_STATUS,
			    .result = &g_result };
	struct seen g_seen = { .latch = &g_done };
	struct sub gs = { .job = MQB_EXECUTOR(blocking_job, &g), .arg = &g_arg, .seen = &g_seen };
	gs.job.result_free = tracked_free;

	submit(&t, &gs, 1, NULL);
	assert_int_equal(gs.rc, 0);
	assert_true(tu_latch_wait(&g_started, TU_TIMEOUT));

	/* The first cancelled continuation to run opens G's gate, so G can
	 * only finish after the pool was closed. */
	struct jobctx jobs[N_QUEUED];
	struct seen seen[N_QUEUED];
	struct sub s[N_QUEUED];
	for (int i = 0; i < N_QUEUED; i++) {
		jobs[i] = (struct jobctx){ .status = 0 };
		seen[i] = (struct seen){ .latch = &cancelled, .release = &g_gate, .core = t.core };
		s[i] = (struct sub){ .job = MQB_EXECUTOR(blocking_job, &jobs[i]), .arg = &args[i],
				     .seen = &seen[i] };
	}
	struct mqb_core_stats st;
	submit(&t, s, N_QUEUED, &st);
	for (int i = 0; i < N_QUEUED; i++) {
		assert_int_equal(s[i].rc, 0);
		assert_int_equal(s[i].add_rc, 0);
	}
	assert_int_equal(st.executor_queued, N_QUEUED);
	assert_int_equal(st.executor_running, 1);

	assert_int_equal(tu_loop_stop(&t), 0);

	assert_true(tu_latch_wait(&cancelled, 0));
	int first = -1;
	for (int i = 0; i < N_QUEUED; i++) {
		assert_int_equal(atomic_load(&seen[i].runs), 1);
		assert_int_equal(seen[i].status, -ECANCELED);
		assert_null(seen[i].value);
		assert_true(seen[i].stopping);
		assert_int_equal(atomic_load(&jobs[i].ran), 0);
		assert_int_equal(atomic_load(&args[i].freed), 1);
		if (first < 0 || seen[i].stats.executor_cancelled < seen[first].stats.executor_cancelled)
			first = i;
	}
	/* When the first continuation ran, all five had been cancelled. */
	assert_int_equal(seen[first].stats.executor_cancelled, N_QUEUED);
	assert_int_equal(seen[first].stats.executor_queued, 0);

	/* G was drained, not cancelled: its own status and result. */
	assert_true(tu_latch_wait(&g_done, 0));
	assert_int_equal(atomic_load(&g.ran), 1);
	assert_int_equal(atomic_load(&g_seen.runs), 1);
	assert_int_equal(g_seen.status, JOB_STATUS);
	assert_ptr_equal(g_seen.value, &g_result);
	assert_int_equal(atomic_load(&g_arg.freed), 1);

	for (int i = 0; i < N_QUEUED; i++)
		mqb_future_unref(s[i].f);
	assert_int_equal(atomic_load(&g_result.freed), 0);
	mqb_future_unref(gs.f);
	assert_int_equal(atomic_load(&g_result.freed), 1);
	tu_latch_destroy(&g_started);
	tu_latch_destroy(&g_gate);
	tu_latch_destroy(&g_done);
	tu_latch_destroy(&cancelled);
}

/* A final job (the restore state's write at stop) queued behind a running
 * job and among ordinary ones: the shutdown cancels the ordinary ones and
 * still runs the final one, with its own status, before the loop ends. */
struct final_sub {
	struct mqb_core *core;
	struct mqb_job job;
	struct tracked *arg;
	struct seen *seen;
	struct mqb_future *f;
	int rc, add_rc;
};

static void submit_final_on_loop(void *arg)
{
	struct final_sub *s = arg;
	s->rc = core__async_add_final_job(s->core, &s->job, s->arg, tracked_free, &s->f);
	s->add_rc = s->rc == 0 ? mqb_future_async_add_done(s->f, on_done, s->seen) : -1;
}

static void a_final_job_queued_at_shutdown_runs_while_the_others_are_cancelled(void **state)
{
	struct mqb_core_options opt = pool_options(1);
	struct tu_loop t;
	tu_loop_start(&t, &opt);

	struct tu_latch g_started, g_gate, cancelled;
	tu_latch_init(&g_started, 1);
	tu_latch_init(&g_gate, 1);
	tu_latch_init(&cancelled, 2);
	struct tracked g_arg = { 0 }, f_arg = { 0 }, args[2] = { 0 };
	struct jobctx g = { .started = &g_started, .gate = &g_gate };
	struct seen g_seen = { 0 };
	struct sub gs = { .job = MQB_EXECUTOR(blocking_job, &g), .arg = &g_arg, .seen = &g_seen };
	submit(&t, &gs, 1, NULL);
	assert_int_equal(gs.rc, 0);
	assert_true(tu_latch_wait(&g_started, TU_TIMEOUT));

	/* one ordinary job before the final one and one after; the first
	 * cancelled continuation opens G's gate, after the pool closed */
	struct jobctx jobs[2] = { { .status = 0 }, { .status = 0 } };
	struct seen seen[2];
	struct sub s[2];
	for (int i = 0; i < 2; i++) {
		seen[i] = (struct seen){ .latch = &cancelled, .release = &g_gate };
		s[i] = (struct sub){ .job = MQB_EXECUTOR(blocking_job, &jobs[i]), .arg = &args[i],
				     .seen = &seen[i] };
	}
	struct jobctx fj = { .status = JOB_STATUS };
	struct seen f_seen = { .core = t.core };
	struct final_sub fs = { .core = t.core, .job = MQB_EXECUTOR(blocking_job, &fj),
				.arg = &f_arg, .seen = &f_seen };
	submit(&t, &s[0], 1, NULL);
	tu_on_loop(&t, submit_final_on_loop, &fs);
	submit(&t, &s[1], 1, NULL);
	assert_int_equal(fs.rc, 0);
	assert_int_equal(fs.add_rc, 0);

	assert_int_equal(tu_loop_stop(&t), 0);

	assert_true(tu_latch_wait(&cancelled, 0));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(seen[i].status, -ECANCELED);
		assert_int_equal(atomic_load(&jobs[i].ran), 0);
		assert_int_equal(atomic_load(&args[i].freed), 1);
	}
	assert_int_equal(atomic_load(&fj.ran), 1);
	assert_int_equal(atomic_load(&f_seen.runs), 1);
	assert_int_equal(f_seen.status, JOB_STATUS);
	assert_true(f_seen.stopping);
	assert_int_equal(atomic_load(&f_arg.freed), 1);
	assert_int_equal(atomic_load(&g.ran), 1);
	mqb_future_unref(s[0].f);
	mqb_future_unref(s[1].f);
	mqb_future_unref(fs.f);
	mqb_future_unref(gs.f);
	tu_latch_destroy(&g_started);
	tu_latch_destroy(&g_gate);
	tu_latch_destroy(&cancelled);
}

/* Runs in a forked child: a job that outlives the shutdown timeout is
 * abandoned (its detached worker and the pool are left behind on purpose,
 * which LeakSanitizer would report at a normal exit). Returns an exit code:
 * 0 for success, else which check failed. */
struct abandon {
	struct mqb_core *core;
	struct tu_latch never; /* never opened: the job runs past shutdown */
	atomic_int ran;
	struct tracked arg;
	struct seen seen;
	struct mqb_future *f;
	int rc, add_rc;
};

static int never_ending_job(void *ud, void *arg, void **result)
{
	struct abandon *a = ud;
	atomic_fetch_add(&a->ran, 1);
	/* Running now: ask for shutdown (thread-safe), then keep running
	 * well past the shutdown timeout; the child exits long before. */
	mqb_core_stop(a->core, 0);
	tu_latch_wait(&a->never, 6 * TU_TIMEOUT);
	return 0;
}

static void abandon_start(void *arg)
{
	struct abandon *a = arg;
	struct mqb_job job = MQB_EXECUTOR(never_ending_job, a);
	a->rc = mqb_async_run_job(a->core, &job, &a->arg, tracked_free, &a->f);
	if (a->rc == 0)
		a->add_rc = mqb_future_async_add_done(a->f, on_done, &a->seen);
}

static int abandon_child(void)
{
	alarm((unsigned)(3 * TU_TIMEOUT)); /* a hang ends the child, not the test */
	struct mqb_core_options opt = pool_options(1);
	opt.shutdown_timeout = 0.2;
	static struct abandon a;
	a.rc = a.add_rc = 1;
	tu_latch_init(&a.never, 1);
	if (mqb_core_new(&opt, &a.core) != 0)
		return 10;
	if (mqb_async_call_soon(a.core, abandon_start, &a) != 0)
		return 11;
	double t0 = tu_now();
	int code = tu_run(a.core, TU_TIMEOUT);
	double took = tu_now() - t0;
	if (code != 0)
		return 12;
	if (a.rc != 0 || a.add_rc != 0)
		return 13;
	if (atomic_load(&a.ran) != 1)
		return 14;
	if (mqb_future_status(a.f) != -ECANCELED)
		return 15;
	if (atomic_load(&a.seen.runs) != 1 || a.seen.status != -ECANCELED)
		return 16;
	if (atomic_load(&a.arg.freed) != 0) /* the running job still uses it */
		return 17;
	if (took < 0.19 || took > TU_TIMEOUT / 2)
		return 18;
	mqb_future_unref(a.f);
	mqb_core_free(a.core);
	return 0;
}

static void job_outliving_the_shutdown_timeout_is_abandoned_and_run_returns(void **state)
{
	static const char *const why[] = {
		[10] = "mqb_core_new failed",
		[11] = "mqb_async_call_soon failed",
		[12] = "mqb_core_run did not return 0 (124: watchdog)",
		[13] = "submitting the job or its continuation failed",
		[14] = "the job did not run exactly once",
		[15] = "the abandoned job's future is not -ECANCELED",
		[16] = "the continuation did not run once with -ECANCELED",
		[17] = "the argument was released while the job still ran",
		[18] = "mqb_core_run returned before the timeout or too late",
	};
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(abandon_child()); /* no atexit handlers, no LeakSanitizer */
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("child killed by signal %d (SIGALRM: it hung)", WTERMSIG(st));
	assert_true(WIFEXITED(st));
	int code = WEXITSTATUS(st);
	if (code != 0)
		fail_msg("child exit %d: %s", code,
			 code < (int)(sizeof why / sizeof why[0]) && why[code] ? why[code] : "?");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(executor_job_runs_off_the_loop_and_completes_on_it_exactly_once),
	cmocka_unit_test(add_job_from_another_thread_runs_an_executor_job_and_settles_its_future),
	cmocka_unit_test(result_of_a_job_nobody_awaits_is_freed_once),
	cmocka_unit_test(full_pool_rejects_with_eagain_and_leaves_the_argument_to_the_caller),
	cmocka_unit_test(add_job_from_another_thread_into_a_full_pool_settles_its_future_with_eagain),
	cmocka_unit_test(three_workers_run_three_jobs_at_once),
	cmocka_unit_test(an_internal_job_runs_while_every_user_worker_is_blocked),
	cmocka_unit_test_teardown(job_running_past_the_slow_limit_is_logged_once_by_name,
				  restore_log_sink),
	cmocka_unit_test(shutdown_cancels_each_queued_job_once_and_drains_the_running_one),
	cmocka_unit_test(job_outliving_the_shutdown_timeout_is_abandoned_and_run_returns),
	cmocka_unit_test(a_final_job_queued_at_shutdown_runs_while_the_others_are_cancelled),
};

TU_MAIN(tests)
