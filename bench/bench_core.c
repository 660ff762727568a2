/* SPDX-License-Identifier: MIT */
/* bench_core: per-operation cost of the async core (dispatcher, coroutines,
 * futures, executor, thread-safe calls, state writes), each beside a bare
 * reference measured in the same run, so the figures are ratios that hold
 * across machines. bench/run-core.sh adds instruction counts (callgrind). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include "mqbridge/bus.h"
#include "mqbridge/core.h"
#include "mqbridge/coro.h"
#include "mqbridge/future.h"
#include "mqbridge/job.h"
#include "mqbridge/states.h"
/* Internal, for one "piece" figure only: the bare fiber switch under await.
 * Nothing else here goes behind the public API. */
#include "core/fiber.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define HAVE_CALLGRIND 0
#endif

#define REPS 5
/* Below the core's default stack cache (64), so spawning reuses stacks and
 * the figure is the steady state the design promises (no mmap per spawn). */
#define CORO_BATCH 32
/* Jobs queued per ready-queue round: large enough to amortise the
 * continuation, small enough that the ring stays in cache. */
#define ADD_BATCH 1024
/* Executor jobs in flight for the throughput figure (queue_max is 1024). */
#define EXEC_INFLIGHT 64
#define UC_STACK (64 * 1024)

static bool opt_callgrind; /* toggle instrumentation around the measured section */

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_core: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

#define CHECK(expr)                               \
	do {                                      \
		int rc_ = (expr);                 \
		if (rc_ < 0)                      \
			die(#expr, rc_);          \
	} while (0)

static double clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- the measured section ------------------------------------------------ */

/* One run: warm-up ops first (stack cache, ring growth, worker start-up and
 * first-touch page faults are not the per-op cost), then n ops between
 * sec_begin and sec_end. Under callgrind the same two points switch
 * instrumentation on and off, so Ir / n is instructions per op. */
struct meas {
	long n;
	double wall0, cpu0, wall, cpu; /* wall and process CPU ns of the section */
};

static long warmup_of(long n)
{
	long w = n / 10;
	return w > 2000 ? 2000 : w;
}

static void sec_begin(struct meas *m)
{
#if HAVE_CALLGRIND
	if (opt_callgrind)
		CALLGRIND_START_INSTRUMENTATION;
#endif
	m->cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	m->wall0 = clock_ns(CLOCK_MONOTONIC);
}

static void sec_end(struct meas *m)
{
	double w = clock_ns(CLOCK_MONOTONIC);
	double c = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
#if HAVE_CALLGRIND
	if (opt_callgrind)
		CALLGRIND_STOP_INSTRUMENTATION;
#endif
	m->wall = w - m->wall0;
	m->cpu = c - m->cpu0;
}

/* ---- trivial work ------------------------------------------------------- */

/* The job every benchmark runs: the reference calls the same function, so
 * the difference is what the core adds. Loop-thread only (plain counter). */
static int trivial_cb(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	(*(long *)ud)++;
	return 0;
}

/* For pool threads: touches nothing shared. */
static int noop_job(void *ud, void *arg, void **result)
{
	(void)ud;
	(void)arg;
	(void)result;
	return 0;
}

/* Through a volatile pointer so the reference loop really makes an indirect
 * call, as the dispatcher does, instead of being inlined away. */
static mqb_job_fn volatile trivial_ptr = trivial_cb;

/* ---- loop harness ------------------------------------------------------- */

struct lb;
/* Perform count ops (possibly across loop iterations), then call lb_next. */
typedef void (*ops_fn)(struct lb *b, long count);

struct lb {
	struct mqb_core *core;
	struct meas *m;
	ops_fn ops;
	bool measuring;
	long n;
	long left, submit_left, inflight; /* per-phase progress of async ops */
	long counter;                     /* trivial_cb's count, loop thread only */
	long parity;                      /* state_set alternates "1"/"2" */
	bool listener;                    /* state_set: with a state_changed listener */
};

static void lb_next(struct lb *b)
{
	if (!b->measuring) {
		b->measuring = true;
		sec_begin(b->m);
		b->ops(b, b->n);
		return;
	}
	sec_end(b->m);
	/* The real shutdown path: the loop leaves ev_run once it has drained. */
	mqb_core_async_stop(b->core, 0);
}

static void lb_next_cb(void *arg)
{
	lb_next(arg);
}

static void lb_start(void *arg)
{
	struct lb *b = arg;
	if (b->listener)
		CHECK(mqb_bus_async_listen(b->core, MQB_EVENT_STATE_CHANGED,
					   &MQB_CALLBACK(trivial_cb, &b->counter), NULL));
	b->ops(b, warmup_of(b->n));
}

static struct mqb_core *core_new(void)
{
	struct mqb_core_options opt;
	mqb_core_options_init(&opt);
	/* One worker, as the executor references have one: like for like. */
	opt.executor_threads = 1;
	struct mqb_core *core;
	CHECK(mqb_core_new(&opt, &core));
	return core;
}

/* Create a core on this thread, queue the start, and drive the loop for real
 * with mqb_core_run until lb_next stops it. */
static void loop_bench(struct meas *m, ops_fn ops, bool listener)
{
	struct lb b = { .m = m, .ops = ops, .n = m->n, .listener = listener };
	b.core = core_new();
	CHECK(mqb_async_call_soon(b.core, lb_start, &b));
	int rc = mqb_core_run(b.core);
	if (rc != 0 || !b.measuring)
		die("loop did not complete", rc ? rc : EIO);
	mqb_core_free(b.core);
}

/* ---- 1. add_job(CALLBACK) + dispatch ------------------------------------ */

static void add_job_batch(void *arg)
{
	struct lb *b = arg;
	const struct mqb_job job = MQB_CALLBACK(trivial_cb, &b->counter);
	long k = b->left < ADD_BATCH ? b->left : ADD_BATCH;
	for (long i = 0; i < k; i++)
		CHECK(mqb_async_add_job(b->core, &job, NULL, NULL, NULL));
	b->left -= k;
	/* Queued after the jobs, so it runs once they all have. */
	CHECK(mqb_async_call_soon(b->core, b->left ? add_job_batch : lb_next_cb, b));
}

static void ops_add_job(struct lb *b, long count)
{
	b->left = count;
	add_job_batch(b);
}

/* ---- 2. run_job(CALLBACK) ----------------------------------------------- */

static void ops_run_job(struct lb *b, long count)
{
	const struct mqb_job job = MQB_CALLBACK(trivial_cb, &b->counter);
	for (long i = 0; i < count; i++)
		CHECK(mqb_async_run_job(b->core, &job, NULL, NULL, NULL));
	lb_next(b);
}

static void ref_indirect_call(struct meas *m)
{
	long counter = 0;
	for (long i = warmup_of(m->n); i > 0; i--)
		trivial_ptr(&counter, NULL, NULL);
	sec_begin(m);
	for (long i = 0; i < m->n; i++)
		trivial_ptr(&counter, NULL, NULL);
	sec_end(m);
}

/* ---- 3. coroutine spawn + finish ---------------------------------------- */

static void coro_spawn_batch(void *arg)
{
	struct lb *b = arg;
	const struct mqb_job job = MQB_COROUTINE(trivial_cb, &b->counter);
	long k = b->left < CORO_BATCH ? b->left : CORO_BATCH;
	for (long i = 0; i < k; i++)
		CHECK(mqb_async_add_job(b->core, &job, NULL, NULL, NULL));
	b->left -= k;
	/* Behind the starts on the ready queue: trivial bodies have finished
	 * (and returned their stacks) by the time it runs. */
	CHECK(mqb_async_call_soon(b->core, b->left ? coro_spawn_batch : lb_next_cb, b));
}

static void ops_coro_spawn(struct lb *b, long count)
{
	b->left = count;
	coro_spawn_batch(b);
}

static ucontext_t uc_main, uc_co;
static long uc_counter;

static void uc_trivial(void)
{
	trivial_ptr(&uc_counter, NULL, NULL);
} /* returning resumes uc_link */

static void *uc_stack_new(void)
{
	void *s = malloc(UC_STACK);
	if (!s)
		die("malloc", -ENOMEM);
	return s;
}

/* Create a context on a reused stack and run it to its end: what spawning
 * and finishing a coroutine costs with glibc ucontext. */
static void uc_spawn_one(void *stack)
{
	getcontext(&uc_co);
	uc_co.uc_stack.ss_sp = stack;
	uc_co.uc_stack.ss_size = UC_STACK;
	uc_co.uc_link = &uc_main;
	makecontext(&uc_co, uc_trivial, 0);
	swapcontext(&uc_main, &uc_co);
}

static void ref_uc_spawn(struct meas *m)
{
	void *stack = uc_stack_new();
	for (long i = warmup_of(m->n); i > 0; i--)
		uc_spawn_one(stack);
	sec_begin(m);
	for (long i = 0; i < m->n; i++)
		uc_spawn_one(stack);
	sec_end(m);
	free(stack);
}

/* ---- 4. await + resume -------------------------------------------------- */

static void resolve_soon(void *arg)
{
	mqb_future_resolve(arg, 0, NULL, NULL);
}

static int await_body(void *ud, void *arg, void **result)
{
	struct lb *b = ud;
	(void)arg;
	(void)result;
	for (long i = b->left; i > 0; i--) {
		struct mqb_future *f = mqb_future_new(b->core);
		if (!f)
			die("mqb_future_new", -ENOMEM);
		CHECK(mqb_async_call_soon(b->core, resolve_soon, f));
		CHECK(mqb_await(f, NULL));
		mqb_future_unref(f);
	}
	/* Off the coroutine's stack: the phase change (and the stop) run
	 * from the loop, like any other caller's would. */
	CHECK(mqb_async_call_soon(b->core, lb_next_cb, b));
	return 0;
}

static void ops_await(struct lb *b, long count)
{
	b->left = count;
	CHECK(mqb_async_add_job(b->core, &MQB_COROUTINE(await_body, b), NULL, NULL, NULL));
}

static void uc_pingpong_body(void)
{
	for (;;)
		swapcontext(&uc_co, &uc_main);
}

/* A context switched to and back: the ucontext analogue of a suspend and a
 * resume. */
static void ref_uc_swap(struct meas *m)
{
	void *stack = uc_stack_new();
	getcontext(&uc_co);
	uc_co.uc_stack.ss_sp = stack;
	uc_co.uc_stack.ss_size = UC_STACK;
	uc_co.uc_link = NULL;
	makecontext(&uc_co, uc_pingpong_body, 0);
	for (long i = warmup_of(m->n); i > 0; i--)
		swapcontext(&uc_main, &uc_co);
	sec_begin(m);
	for (long i = 0; i < m->n; i++)
		swapcontext(&uc_main, &uc_co);
	sec_end(m);
	free(stack); /* the context is parked in its loop and never resumed */
}

/* Pieces of await+resume, each on its own. */

/* A callback that requeues itself: one call_soon and one loop iteration per
 * op; await+resume takes two iterations (resolve, then the continuation). */
static void loop_iter_step(void *arg)
{
	struct lb *b = arg;
	if (--b->left > 0)
		CHECK(mqb_async_call_soon(b->core, loop_iter_step, b));
	else
		lb_next(b);
}

static void ops_loop_iter(struct lb *b, long count)
{
	b->left = count;
	if (count > 0)
		CHECK(mqb_async_call_soon(b->core, loop_iter_step, b));
	else
		lb_next(b);
}

/* new + resolve + unref, nobody waiting. */
static void ops_future(struct lb *b, long count)
{
	for (long i = 0; i < count; i++) {
		struct mqb_future *f = mqb_future_new(b->core);
		if (!f)
			die("mqb_future_new", -ENOMEM);
		mqb_future_resolve(f, 0, NULL, NULL);
		mqb_future_unref(f);
	}
	lb_next(b);
}

/* The bare fiber switch pair (there and back) under every await. */
static struct mqb_fiber fib_main, *fib_co;
static bool fib_quit;

static void fib_body(void *arg)
{
	(void)arg;
	while (!fib_quit)
		fiber__switch(fib_co, &fib_main);
	fiber__switch_final(fib_co, &fib_main);
}

static void piece_fiber_switch(struct meas *m)
{
	struct fiber_pool pool;
	fiber__pool_init(&pool, 64 * 1024, 1);
	fiber__init_thread(&fib_main);
	fib_quit = false;
	fib_co = fiber__get(&pool, fib_body, NULL);
	if (!fib_co)
		die("fiber__get", -ENOMEM);
	for (long i = warmup_of(m->n); i > 0; i--)
		fiber__switch(&fib_main, fib_co);
	sec_begin(m);
	for (long i = 0; i < m->n; i++)
		fiber__switch(&fib_main, fib_co);
	sec_end(m);
	fib_quit = true;
	fiber__switch(&fib_main, fib_co);
	fiber__put(&pool, fib_co);
	fiber__pool_destroy(&pool);
	fiber__fini_thread(&fib_main);
}

/* ---- 5. executor round trip and throughput ------------------------------ */

static void exec_submit(struct lb *b, mqb_future_done_fn done);

static void exec_lat_done(struct mqb_future *f, void *ud)
{
	struct lb *b = ud;
	if (mqb_future_status(f) != 0)
		die("executor job", mqb_future_status(f));
	if (--b->left > 0)
		exec_submit(b, exec_lat_done);
	else
		lb_next(b);
}

static void exec_submit(struct lb *b, mqb_future_done_fn done)
{
	struct mqb_future *f;
	CHECK(mqb_async_run_job(b->core, &MQB_EXECUTOR(noop_job, NULL), NULL, NULL, &f));
	CHECK(mqb_future_async_add_done(f, done, b));
	/* The continuation holds its own reference once it is scheduled. */
	mqb_future_unref(f);
}

static void ops_exec_latency(struct lb *b, long count)
{
	b->left = count;
	if (count > 0)
		exec_submit(b, exec_lat_done);
	else
		lb_next(b);
}

static void exec_tp_done(struct mqb_future *f, void *ud)
{
	struct lb *b = ud;
	if (mqb_future_status(f) != 0)
		die("executor job", mqb_future_status(f));
	b->inflight--;
	if (b->submit_left > 0) {
		b->submit_left--;
		b->inflight++;
		exec_submit(b, exec_tp_done);
	}
	if (b->inflight == 0)
		lb_next(b);
}

static void ops_exec_throughput(struct lb *b, long count)
{
	b->submit_left = count;
	b->inflight = 0;
	while (b->submit_left > 0 && b->inflight < EXEC_INFLIGHT) {
		b->submit_left--;
		b->inflight++;
		exec_submit(b, exec_tp_done);
	}
	if (b->inflight == 0)
		lb_next(b);
}

/* The bare hand-off the executor and the thread-safe call are built on: a
 * mutex and two condition variables between two threads. `pending` counts
 * requests not yet taken, `inflight` those not yet answered. */
struct handoff {
	pthread_mutex_t mu;
	pthread_cond_t to_worker, to_main;
	long pending, inflight;
	bool quit;
	pthread_t thread;
};

static void *handoff_worker(void *arg)
{
	struct handoff *h = arg;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->pending == 0 && !h->quit)
			pthread_cond_wait(&h->to_worker, &h->mu);
		if (h->pending == 0)
			break;
		h->pending--;
		pthread_mutex_unlock(&h->mu);
		noop_job(NULL, NULL, NULL);
		pthread_mutex_lock(&h->mu);
		h->inflight--;
		pthread_cond_signal(&h->to_main);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static void handoff_start(struct handoff *h)
{
	*h = (struct handoff){ .pending = 0 };
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->to_worker, NULL);
	pthread_cond_init(&h->to_main, NULL);
	int rc = pthread_create(&h->thread, NULL, handoff_worker, h);
	if (rc)
		die("pthread_create", rc);
}

static void handoff_stop(struct handoff *h)
{
	pthread_mutex_lock(&h->mu);
	h->quit = true;
	pthread_cond_signal(&h->to_worker);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->to_main);
	pthread_cond_destroy(&h->to_worker);
	pthread_mutex_destroy(&h->mu);
}

/* count requests with at most window unanswered; window 1 is a ping-pong:
 * A signals B, B signals A. */
static void handoff_run(struct handoff *h, long count, long window)
{
	pthread_mutex_lock(&h->mu);
	for (long i = 0; i < count; i++) {
		while (h->inflight >= window)
			pthread_cond_wait(&h->to_main, &h->mu);
		h->pending++;
		h->inflight++;
		pthread_cond_signal(&h->to_worker);
	}
	while (h->inflight > 0)
		pthread_cond_wait(&h->to_main, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

static void ref_handoff(struct meas *m, long window)
{
	struct handoff h;
	handoff_start(&h);
	handoff_run(&h, warmup_of(m->n), window);
	sec_begin(m);
	handoff_run(&h, m->n, window);
	sec_end(m);
	handoff_stop(&h);
}

static void ref_pingpong(struct meas *m)
{
	ref_handoff(m, 1);
}

static void ref_handoff_window(struct meas *m)
{
	ref_handoff(m, EXEC_INFLIGHT);
}

/* ---- 6. run_callback_threadsafe round trip ------------------------------ */

struct remote {
	struct mqb_core *core;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool started;
	int exit_code;
	long counter; /* trivial_cb's, touched on the loop thread only */
};

static void remote_started(void *arg)
{
	struct remote *r = arg;
	pthread_mutex_lock(&r->mu);
	r->started = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
}

static void *remote_loop(void *arg)
{
	struct remote *r = arg;
	r->exit_code = mqb_core_run(r->core);
	return NULL;
}

static void remote_calls(struct remote *r, long count)
{
	for (long i = 0; i < count; i++)
		CHECK(mqb_call_threadsafe(r->core, trivial_cb, &r->counter, NULL));
}

/* The loop runs on its own thread; this thread is the non-loop caller. */
static void ours_threadsafe(struct meas *m)
{
	struct remote r = { .started = false };
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cond, NULL);
	r.core = core_new();
	CHECK(mqb_async_call_soon(r.core, remote_started, &r));
	int rc = pthread_create(&r.thread, NULL, remote_loop, &r);
	if (rc)
		die("pthread_create", rc);
	pthread_mutex_lock(&r.mu);
	while (!r.started)
		pthread_cond_wait(&r.cond, &r.mu);
	pthread_mutex_unlock(&r.mu);

	remote_calls(&r, warmup_of(m->n));
	sec_begin(m);
	remote_calls(&r, m->n);
	sec_end(m);

	mqb_core_stop(r.core, 0);
	pthread_join(r.thread, NULL);
	/* The loop has ended: this thread takes the core over to free it. */
	mqb_core_free(r.core);
	pthread_cond_destroy(&r.cond);
	pthread_mutex_destroy(&r.mu);
	if (r.exit_code != 0)
		die("loop exit code", EIO);
}

/* ---- 7. state write firing state_changed -------------------------------- */

static void ops_state_set(struct lb *b, long count)
{
	for (long i = 0; i < count; i++)
		CHECK(mqb_states_async_set(b->core, "sensor.x", (b->parity++ & 1) ? "2" : "1", NULL,
					   false));
	lb_next(b);
}

/* ---- table of benchmarks ------------------------------------------------- */

static void ours_add_job(struct meas *m) { loop_bench(m, ops_add_job, false); }
static void ours_run_job(struct meas *m) { loop_bench(m, ops_run_job, false); }
static void ours_coro_spawn(struct meas *m) { loop_bench(m, ops_coro_spawn, false); }
static void ours_await(struct meas *m) { loop_bench(m, ops_await, false); }
static void ours_exec_latency(struct meas *m) { loop_bench(m, ops_exec_latency, false); }
static void ours_exec_throughput(struct meas *m) { loop_bench(m, ops_exec_throughput, false); }
static void ours_state_set(struct meas *m) { loop_bench(m, ops_state_set, true); }
static void ref_state_set(struct meas *m) { loop_bench(m, ops_state_set, false); }
static void piece_loop_iter(struct meas *m) { loop_bench(m, ops_loop_iter, false); }
static void piece_future(struct meas *m) { loop_bench(m, ops_future, false); }

enum target_kind { TARGET_NONE, TARGET_RATIO_MAX, TARGET_INSTR_MAX };

struct bench {
	const char *name;
	void (*ours)(struct meas *m);
	void (*ref)(struct meas *m); /* NULL: a piece, shown without reference */
	long n;                      /* ops per timed repetition */
	long cg_n;                   /* ops under callgrind */
	enum target_kind target;
	double target_value;
	const char *what;
};

static const struct bench benches[] = {
	{ "add_job", ours_add_job, ref_indirect_call, 1000000, 100000, TARGET_INSTR_MAX, 150,
	  "mqb_async_add_job(CALLBACK) + dispatch vs indirect call" },
	{ "run_job", ours_run_job, ref_indirect_call, 2000000, 100000, TARGET_NONE, 0,
	  "mqb_async_run_job(CALLBACK) inline vs indirect call" },
	{ "coro_spawn", ours_coro_spawn, ref_uc_spawn, 200000, 100000, TARGET_NONE, 0,
	  "COROUTINE spawn + finish vs ucontext make+swap to end" },
	{ "await", ours_await, ref_uc_swap, 100000, 100000, TARGET_RATIO_MAX, 0.2,
	  "future + call_soon resolve + mqb_await + unref vs ucontext swap pair" },
	{ "piece_loop_iter", piece_loop_iter, NULL, 200000, 100000, TARGET_NONE, 0,
	  "piece: call_soon + one loop iteration" },
	{ "piece_future", piece_future, NULL, 1000000, 100000, TARGET_NONE, 0,
	  "piece: future new + resolve + unref" },
	{ "piece_fiber_switch", piece_fiber_switch, ref_uc_swap, 2000000, 100000, TARGET_NONE, 0,
	  "piece: bare fiber switch pair vs ucontext swap pair" },
	{ "exec_latency", ours_exec_latency, ref_pingpong, 20000, 10000, TARGET_NONE, 0,
	  "EXECUTOR run_job -> done on loop, 1 in flight vs condvar handoff" },
	{ "exec_throughput", ours_exec_throughput, ref_handoff_window, 100000, 10000, TARGET_NONE,
	  0, "EXECUTOR run_job -> done on loop, 64 in flight vs condvar handoff" },
	{ "threadsafe", ours_threadsafe, ref_pingpong, 20000, 10000, TARGET_RATIO_MAX, 2.0,
	  "mqb_call_threadsafe round trip vs condvar ping-pong" },
	{ "state_set", ours_state_set, ref_state_set, 200000, 100000, TARGET_INSTR_MAX, 1500,
	  "mqb_states_async_set + state_changed to 1 CALLBACK vs no listener" },
};

#define NBENCH (sizeof benches / sizeof benches[0])

static const struct bench *bench_find(const char *name)
{
	for (size_t i = 0; i < NBENCH; i++)
		if (strcmp(benches[i].name, name) == 0)
			return &benches[i];
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

/* Median over REPS of ns/op (wall and CPU); ours and the reference take
 * turns, so drift (frequency, other load) hits both alike. */
static void time_bench(const struct bench *bn, long n)
{
	double ow[REPS], oc[REPS], rw[REPS], rc[REPS];
	for (int r = 0; r < REPS; r++) {
		struct meas m = { .n = n };
		bn->ours(&m);
		ow[r] = m.wall / (double)n;
		oc[r] = m.cpu / (double)n;
		if (bn->ref) {
			m = (struct meas){ .n = n };
			bn->ref(&m);
			rw[r] = m.wall / (double)n;
			rc[r] = m.cpu / (double)n;
		}
	}
	double o = median(ow, REPS), ocpu = median(oc, REPS);
	if (bn->ref) {
		double ref = median(rw, REPS), rcpu = median(rc, REPS);
		printf("%-20s %12.1f %12.1f %8.2f %12.1f %12.1f\n", bn->name, o, ref, o / ref, ocpu,
		       rcpu);
	} else {
		printf("%-20s %12.1f %12s %8s %12.1f %12s\n", bn->name, o, "-", "-", ocpu, "-");
	}
	fflush(stdout);
}

static void usage(FILE *to)
{
	fputs("usage: bench_core [--callgrind] [--only NAME [--ref]] [--time NAME] [-n N] [--list]\n"
	      "  (default)      time every benchmark: ns/op, ours and reference, median of 5\n"
	      "  --time NAME    time NAME alone, as above\n"
	      "  --only NAME    run NAME's own code once, N ops, no output (for callgrind)\n"
	      "  --ref          with --only: run the reference instead of ours\n"
	      "  --callgrind    switch callgrind instrumentation on for the measured ops only\n"
	      "                 (run under valgrind --tool=callgrind --instr-atstart=no)\n"
	      "  -n N           ops per run (default: per benchmark)\n"
	      "  --list         name, callgrind N, target kind and value, description\n",
	      to);
}

int main(int argc, char **argv)
{
	const char *only = NULL, *timed = NULL;
	bool ref = false, list = false;
	long n = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--callgrind") == 0) {
			opt_callgrind = true;
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
			timed = argv[++i];
		} else if (strcmp(argv[i], "--ref") == 0) {
			ref = true;
		} else if (strcmp(argv[i], "--list") == 0) {
			list = true;
		} else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			char *end;
			n = strtol(argv[++i], &end, 10);
			if (*end || n <= 0) {
				usage(stderr);
				return 2;
			}
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
#if !HAVE_CALLGRIND
	if (opt_callgrind) {
		fputs("bench_core: built without valgrind/callgrind.h\n", stderr);
		return 1;
	}
#endif
	if (list) {
		static const char *const kinds[] = { "none", "ratio_max", "instr_max" };
		for (size_t i = 0; i < NBENCH; i++)
			printf("%s\t%ld\t%s\t%g\t%s\t%s\n", benches[i].name, benches[i].cg_n,
			       kinds[benches[i].target], benches[i].target_value,
			       benches[i].ref ? "ref" : "noref", benches[i].what);
		return 0;
	}
	if (only) {
		const struct bench *bn = bench_find(only);
		if (!bn || (ref && !bn->ref)) {
			fprintf(stderr, "bench_core: no %s%s (see --list)\n", only,
				ref ? " reference" : "");
			return 2;
		}
		struct meas m = { .n = n ? n : bn->cg_n };
		(ref ? bn->ref : bn->ours)(&m);
		return 0;
	}
	if (timed) {
		/* One benchmark's timing line: tools/cross-check.sh compares the
		 * coroutine switches with it. */
		const struct bench *bn = bench_find(timed);
		if (!bn) {
			fprintf(stderr, "bench_core: no %s (see --list)\n", timed);
			return 2;
		}
		time_bench(bn, n ? n : bn->n);
		return 0;
	}
	printf("# ns/op, median of %d; cpu = process CPU time (all threads) per op\n", REPS);
	printf("%-20s %12s %12s %8s %12s %12s\n", "# benchmark", "ours", "reference", "ratio",
	       "ours_cpu", "ref_cpu");
	for (size_t i = 0; i < NBENCH; i++)
		time_bench(&benches[i], n ? n : benches[i].n);
	return 0;
}
