/* SPDX-License-Identifier: MIT */
/* The core: the loop, its ready queue ("call soon"), the inbox through which
 * other threads hand work to the loop, thread-safe calls, the staged
 * shutdown, and the slots the layers above hang their state on. It knows
 * nothing of Home Assistant: hass.c composes. See doc/dispatcher.md for why
 * it is shaped this way. */
#include "core/core_impl.h"

#include <errno.h>
#include <string.h>

#include "core/future_impl.h"
#include "core/pool.h"
#include "mqbridge/log.h"
#include "mqbridge/error.h"

enum { STAGE_RUNNING, STAGE_STOPPING, STAGE_DRAINING, STAGE_CLOSED };

void mqb_core_options_init(struct mqb_core_options *opt)
{
	*opt = (struct mqb_core_options){
		.executor_threads = 4,
		.executor_queue_max = 1024,
		.slow_job_seconds = 10.0,
#ifdef MQB_SANITIZERS
		/* Sanitizers make frames several times larger. */
		.coro_stack_size = 512 * 1024,
#else
		/* Pages are touched only as deep as a coroutine goes (a
		 * suspended script run holds about 5 KiB), so the size costs
		 * address space, not memory: room for an integration's setup
		 * that compiles the nesting YAML allows, and for a run's blocks
		 * as deep. A 32-bit machine has less address space to give. */
		.coro_stack_size = sizeof(void *) >= 8 ? 256 * 1024 : 128 * 1024,
#endif
		.coro_stack_cache = 64,
		.shutdown_timeout = 10.0,
	};
}

/* ---- call queues ------------------------------------------------------ */

void callq__free(struct callq *q)
{
	mqb__free(q->v);
	*q = (struct callq){ 0 };
}

static int callq_grow(struct callq *q)
{
	size_t cap = q->cap ? q->cap * 2 : 64;
	struct call *v = mqb__malloc(cap * sizeof *v);
	if (!v)
		return -ENOMEM;
	/* Unwrap the ring into the new array. */
	for (size_t i = 0; i < q->len; i++)
		v[i] = q->v[(q->head + i) & (q->cap - 1)];
	mqb__free(q->v);
	q->v = v;
	q->head = 0;
	q->cap = cap;
	return 0;
}

static inline int callq_push(struct callq *q, const struct call *c)
{
	if (q->len == q->cap) {
		int rc = callq_grow(q);
		if (rc)
			return rc;
	}
	q->v[(q->head + q->len) & (q->cap - 1)] = *c;
	q->len++;
	return 0;
}

static inline void callq_pop(struct callq *q, struct call *out)
{
	*out = q->v[q->head];
	q->head = (q->head + 1) & (q->cap - 1);
	q->len--;
}

/* ---- ready queue ------------------------------------------------------ */

__thread struct mqb_core *core__running;

struct call *core__ready_slot_slow(struct mqb_core *core)
{
	struct callq *q = &core->ready;
	if (core->loop_done || (q->len == q->cap && callq_grow(q)))
		return NULL;
	if (q->len++ == 0 && !ev_is_active(&core->idle))
		ev_idle_start(core->loop, &core->idle);
	return &q->v[(q->head + q->len - 1) & (q->cap - 1)];
}

int core__push_ready(struct mqb_core *core, const struct call *c)
{
	struct call *slot = core__ready_slot(core);
	if (!slot)
		return core->loop_done ? -ESHUTDOWN : -ENOMEM;
	*slot = *c;
	return 0;
}

/* Runs the queue in rounds, each taking what was queued when it began, until
 * it is empty or READY_ROUNDS rounds have run. What calls queue (a resolved
 * future's continuation, a resumed coroutine) runs in the same loop
 * iteration, which saves a poll per hop; the bound keeps a callback that
 * requeues itself from holding I/O and timers back. */
#define READY_ROUNDS 64

static void run_ready(struct mqb_core *core)
{
	if (core->ready_running) {
		/* Nested (the last shutdown stage drains the queue from inside
		 * a call): the outer walk owns the detached batch, so pop
		 * copies from the live queue. */
		while (core->ready.len > 0) {
			struct call c;
			callq_pop(&core->ready, &c);
			core->stat_ready_run++;
			c.run(core, &c);
			coro__check_awaits(core);
		}
		ev_idle_stop(core->loop, &core->idle);
		return;
	}
	core->ready_running = true;
	for (int round = 0; round < READY_ROUNDS && core->ready.len > 0; round++) {
		/* Each round detaches the queue (swapping in the empty spare),
		 * so calls run in place: what they queue goes to the new one. */
		struct callq batch = core->ready;
		core->ready = core->ready_spare;
		for (size_t i = 0; i < batch.len; i++) {
			struct call *c = &batch.v[(batch.head + i) & (batch.cap - 1)];
			core->stat_ready_run++;
			c->run(core, c);
		}
		batch.head = batch.len = 0;
		core->ready_spare = batch;
	}
	core->ready_running = false;
	coro__check_awaits(core);
	if (core->ready.len == 0)
		ev_idle_stop(core->loop, &core->idle);
}

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	run_ready(w->data);
}

/* ---- inbox ------------------------------------------------------------ */

int core__push_inbox(struct mqb_core *core, const struct call *c, bool internal)
{
	int rc = 0;
	pthread_mutex_lock(&core->inbox_lock);
	if (core->inbox_closed || (!internal && atomic_load(&core->stopping)))
		rc = -ESHUTDOWN;
	else
		rc = callq_push(&core->inbox, c);
	/* Sent under the lock: once the inbox is closed the loop may be
	 * destroyed, and nobody may touch its watcher after that. */
	if (rc == 0)
		ev_async_send(core->loop, &core->wake);
	pthread_mutex_unlock(&core->inbox_lock);
	return rc;
}

/* Take everything in the inbox at once (swap with the spare ring, so the
 * lock is held for a pointer swap) and run it outside the lock. */
static void drain_inbox(struct mqb_core *core, bool close)
{
	pthread_mutex_lock(&core->inbox_lock);
	struct callq got = core->inbox;
	core->inbox = core->inbox_spare;
	if (close)
		core->inbox_closed = true;
	pthread_mutex_unlock(&core->inbox_lock);

	while (got.len > 0) {
		struct call c;
		callq_pop(&got, &c);
		core->stat_inbox_run++;
		c.run(core, &c);
	}
	got.head = 0;
	core->inbox_spare = got;
	coro__check_awaits(core);
}

static void wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct mqb_core *core = w->data;
	int req = atomic_exchange(&core->stop_request, 0);
	if (req)
		mqb_core_async_stop(core, req - 1);
	drain_inbox(core, false);
}

/* ---- public: threads -------------------------------------------------- */

bool mqb_core_in_loop_thread(const struct mqb_core *core)
{
	pthread_t t = atomic_load_explicit(&((struct mqb_core *)core)->loop_thread_a,
					   memory_order_relaxed);
	return pthread_equal(t, pthread_self());
}

bool mqb_core_is_stopping(const struct mqb_core *core)
{
	return atomic_load(&((struct mqb_core *)core)->stopping);
}

struct ev_loop *core__loop(struct mqb_core *core)
{
	MQB_ASSERT_LOOP(core);
	return core->loop;
}

static void call_soon_run(struct mqb_core *core, struct call *c)
{
	((void (*)(void *))(void (*)(void))c->job.fn)(c->arg);
}

static struct call soon_call(void (*fn)(void *arg), void *arg)
{
	return (struct call){
		.run = call_soon_run,
		.job.fn = (mqb_job_fn)(void (*)(void))fn,
		.arg = arg,
	};
}

int mqb_async_call_soon(struct mqb_core *core, void (*fn)(void *arg), void *arg)
{
	struct call *c = core__ready_slot(core);
	if (!c)
		return core->loop_done ? -ESHUTDOWN : -ENOMEM;
	c->run = call_soon_run;
	c->job.fn = (mqb_job_fn)(void (*)(void))fn;
	c->arg = arg;
	return 0;
}

int mqb_call_soon_threadsafe(struct mqb_core *core, void (*fn)(void *arg), void *arg)
{
	struct call c = soon_call(fn, arg);
	if (mqb_core_in_loop_thread(core))
		return core__push_ready(core, &c);
	return core__push_inbox(core, &c, false);
}

static void tscall_run(struct mqb_core *core, struct call *c)
{
	int st = -ECANCELED;
	void *result = NULL;
	if (core->stage != STAGE_CLOSED)
		st = c->job.fn(c->job.ud, c->arg, &result);
	if (c->fut) {
		mqb_future_resolve(c->fut, st, result, NULL);
		mqb_future_unref(c->fut);
	}
}

int core__post(struct mqb_core *core, struct call *c, struct mqb_future **out)
{
	struct mqb_future *f = NULL;
	if (out && !(f = mqb_future_new(core)))
		return -ENOMEM;
	c->fut = f ? mqb_future_ref(f) : NULL;
	int rc = core__push_inbox(core, c, false);
	if (rc) {
		mqb_future_unref(f);
		mqb_future_unref(f);
		return rc;
	}
	if (out)
		*out = f;
	return 0;
}

int mqb_run_callback_threadsafe(struct mqb_core *core, mqb_job_fn fn, void *ud, void *arg,
				struct mqb_future **out)
{
	if (mqb_core_in_loop_thread(core))
		return -EDEADLK;
	if (atomic_load(&core->stopping))
		return -ESHUTDOWN;
	struct call c = {
		.run = tscall_run,
		.job = { .kind = MQB_JOB_CALLBACK, .fn = fn, .ud = ud },
		.arg = arg,
	};
	return core__post(core, &c, out);
}

int mqb_call_threadsafe(struct mqb_core *core, mqb_job_fn fn, void *ud, void *arg)
{
	struct mqb_future *f;
	int rc = mqb_run_callback_threadsafe(core, fn, ud, arg, &f);
	if (rc)
		return rc;
	rc = mqb_future_result(f, -1, NULL);
	mqb_future_unref(f);
	return rc;
}

/* ---- life cycle ------------------------------------------------------- */

int core__new(const struct mqb_core_options *opt, struct mqb_core **out)
{
	struct mqb_core_options defaults;
	if (!opt) {
		mqb_core_options_init(&defaults);
		opt = &defaults;
	}
	if (opt->executor_threads == 0 || opt->executor_threads > 1024 ||
	    opt->executor_queue_max == 0 || opt->coro_stack_size < 4096 ||
	    !(opt->slow_job_seconds > 0) || !(opt->shutdown_timeout > 0))
		return -EINVAL;

	struct mqb_core *core = mqb__calloc(1, sizeof *core);
	if (!core)
		return -ENOMEM;
	core->opt = *opt;
	atomic_init(&core->loop_thread_a, pthread_self());
	pthread_mutex_init(&core->inbox_lock, NULL);
	int rc = -ENOMEM;
	core->loop = ev_loop_new(EVFLAG_AUTO);
	if (!core->loop)
		goto fail;

	ev_idle_init(&core->idle, idle_cb);
	core->idle.data = core;
	/* The ready queue runs before other watchers of an iteration. */
	ev_set_priority(&core->idle, EV_MAXPRI);
	ev_async_init(&core->wake, wake_cb);
	core->wake.data = core;
	/* Kept referenced on purpose: the loop runs until the staged shutdown
	 * breaks it, whether or not anything else is watched. */
	ev_async_start(core->loop, &core->wake);

	coro__init(core);
	if ((rc = pool__new(core, opt->executor_threads, opt->executor_queue_max,
			    opt->slow_job_seconds, &core->pool)))
		goto fail;
	*out = core;
	return 0;
fail:
	core->stage = STAGE_CLOSED;
	core->loop_done = true;
	mqb_core_free(core);
	return rc;
}

int mqb_core_run(struct mqb_core *core)
{
	atomic_store(&core->loop_thread_a, pthread_self());
	if (core->stage != STAGE_RUNNING)
		return core->exit_code;
	future__cache_enable(true);
	struct mqb_core *outer = core__running;
	core__running = core;
	for (unsigned i = 0; i < CORE_SLOTS_MAX; i++)
		if (core->slot_ops[i] && core->slot_ops[i]->start)
			core->slot_ops[i]->start(core, core->slot[i]);
	ev_run(core->loop, 0);
	core__running = outer;
	future__cache_enable(false);
	return core->exit_code;
}

static void shutdown_final(void *arg);

static void stage_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mqb_core *core = w->data;
	MQB_LOG_WARNING("core", "shutdown: %u executor jobs still running after %.1f s",
			pool__running(core->pool), core->opt.shutdown_timeout);
	shutdown_final(core);
}

/* Stage 2, after the stop listeners had their turn: cancel what waits,
 * then give running executor jobs a bounded time to finish. */
static void shutdown_drain(void *arg)
{
	struct mqb_core *core = arg;
	core->stage = STAGE_DRAINING;
	pool__close(core->pool);
	coro__cancel_all(core);
	timer__close(core);
	ev_timer_init(&core->stage_timer, stage_timer_cb, core->opt.shutdown_timeout, 0);
	core->stage_timer.data = core;
	ev_timer_start(core->loop, &core->stage_timer);
	core__shutdown_progress(core);
}

void core__shutdown_progress(struct mqb_core *core)
{
	if (core->stage == STAGE_DRAINING && !core->final_queued &&
	    pool__running(core->pool) == 0) {
		/* Through the ready queue, so completions queued so far run first. */
		core->final_queued = true;
		struct call c = soon_call(shutdown_final, core);
		if (core__push_ready(core, &c))
			shutdown_final(core);
	}
}

/* Stage 3: join the pool, close the inbox (calls still in it are cancelled,
 * completions in it run), run what is left, leave the loop. */
static void shutdown_final(void *arg)
{
	struct mqb_core *core = arg;
	if (core->stage == STAGE_CLOSED)
		return;
	ev_timer_stop(core->loop, &core->stage_timer);
	pool__join(core->pool);
	core->stage = STAGE_CLOSED;
	drain_inbox(core, true);
	coro__cancel_all(core);
	/* Everything left must settle; a bound keeps a pathological listener
	 * that requeues itself from keeping the daemon from exiting. */
	for (unsigned rounds = 0; core->ready.len > 0 && rounds < 10000; rounds++)
		run_ready(core);
	if (core->ready.len > 0)
		MQB_LOG_ERROR("core", "shutdown: %zu calls still queued, dropped", core->ready.len);
	coro__reap(core);
	if (core->coro_live > 0)
		MQB_LOG_ERROR("core", "shutdown: %u coroutines did not finish", core->coro_live);
	core->loop_done = true;
	ev_break(core->loop, EVBREAK_ALL);
	MQB_LOG_DEBUG("core", "stopped");
}

void mqb_core_async_stop(struct mqb_core *core, int exit_code)
{
	MQB_ASSERT_LOOP(core);
	if (core->stage != STAGE_RUNNING)
		return;
	core->exit_code = exit_code;
	core->stage = STAGE_STOPPING;
	atomic_store(&core->stopping, true);
	MQB_LOG_DEBUG("core", "stopping (exit code %d)", exit_code);
	/* Stage 1: tell the slots; what they queue runs before stage 2. */
	for (unsigned i = 0; i < CORE_SLOTS_MAX; i++)
		if (core->slot_ops[i] && core->slot_ops[i]->stop)
			core->slot_ops[i]->stop(core, core->slot[i]);
	struct call c = soon_call(shutdown_drain, core);
	if (core__push_ready(core, &c))
		shutdown_drain(core);
}

void mqb_core_stop(struct mqb_core *core, int exit_code)
{
	if (mqb_core_in_loop_thread(core)) {
		mqb_core_async_stop(core, exit_code);
		return;
	}
	pthread_mutex_lock(&core->inbox_lock);
	if (!core->inbox_closed) {
		int expected = 0;
		atomic_compare_exchange_strong(&core->stop_request, &expected, exit_code + 1);
		ev_async_send(core->loop, &core->wake);
	}
	pthread_mutex_unlock(&core->inbox_lock);
}

void mqb_core_free(struct mqb_core *core)
{
	if (!core)
		return;
	/* Once the loop has ended (or never ran) the caller's thread owns the core. */
	atomic_store(&core->loop_thread_a, pthread_self());
	if (core->stage != STAGE_CLOSED) {
		struct mqb_core *outer = core__running;
		core__running = core;
		mqb_core_async_stop(core, 0);
		/* Out of memory for the ready queue, the stages ran at once and
		 * broke a loop not yet running: running it now would not end. */
		if (core->stage != STAGE_CLOSED)
			ev_run(core->loop, 0);
		core__running = outer;
	}
	future__cache_enable(false);
	for (unsigned i = CORE_SLOTS_MAX; i-- > 0;) {
		if (core->slot_ops[i] && core->slot_ops[i]->fini)
			core->slot_ops[i]->fini(core, core->slot[i]);
		core->slot_ops[i] = NULL;
		core->slot[i] = NULL;
	}
	timer__fini(core);
	if (core->pool)
		pool__free(core->pool);
	coro__fini(core);
	if (core->loop) {
		ev_idle_stop(core->loop, &core->idle);
		ev_async_stop(core->loop, &core->wake);
		ev_loop_destroy(core->loop);
	}
	callq__free(&core->ready);
	callq__free(&core->ready_spare);
	callq__free(&core->inbox);
	callq__free(&core->inbox_spare);
	pthread_mutex_destroy(&core->inbox_lock);
	mqb__free(core);
}

void mqb_core_async_stats(struct mqb_core *core, struct mqb_core_stats *out)
{
	MQB_ASSERT_LOOP(core);
	coro__reap(core);
	*out = (struct mqb_core_stats){
		.ready_run = core->stat_ready_run,
		.inbox_run = core->stat_inbox_run,
		.coro_spawned = core->stat_coro_spawned,
		.coro_stack_mmaps = core->fibers.mmaps,
		.coro_live = core->coro_live,
	};
	if (core->pool)
		pool__stats(core->pool, out);
}

void *core__slot(struct mqb_core *core, unsigned id)
{
	return core->slot[id];
}

void core__slot_set(struct mqb_core *core, unsigned id, void *state,
		    const struct core_slot_ops *ops)
{
	MQB_CHECK(id < CORE_SLOTS_MAX && !core->slot_ops[id] && !core->slot[id],
		  "slot %u is taken", id);
	core->slot[id] = state;
	core->slot_ops[id] = ops;
}

void mqb_core_count(struct mqb_core *core, enum mqb_count what)
{
	if (core && (unsigned)what < MQB_COUNT_MAX)
		atomic_fetch_add_explicit(&core->counted[what], 1, memory_order_relaxed);
}

unsigned long long mqb_core_counted(struct mqb_core *core, enum mqb_count what)
{
	return core && (unsigned)what < MQB_COUNT_MAX
		       ? atomic_load_explicit(&core->counted[what], memory_order_relaxed)
		       : 0;
}
