/* SPDX-License-Identifier: MIT */
/* Coroutines: COROUTINE jobs on their own fiber, suspended by mqb_await on a
 * future and resumed only from the loop's ready queue (never inside whoever
 * settled the future). Shutdown cancels them: a pending await returns
 * -ECANCELED, and so does every later one, so the job unwinds. */
#include "core/core_impl.h"

#include <errno.h>
#include <stdint.h>

#include "core/future_impl.h"
#include "mqbridge/coro.h"

struct coro {
	struct mqb_core *core;
	struct mqb_fiber *fiber;
	struct mqb_job job;
	void *arg;
	mqb_release_fn release;
	struct mqb_future *fut;     /* settled with the job's outcome; may be NULL */
	struct mqb_future *waiting; /* what the pending await waits for */
	unsigned refs;              /* 1 while live, +1 per queued call naming it
	                             * and while in core->unchecked */
	bool cancelled, finished;
	bool unchecked;             /* in core->unchecked */
	struct coro *prev, *next;   /* core->coros */
};
/* One is allocated per COROUTINE job: within glibc malloc's fast bins (at
 * 136 bytes, malloc and free cost 150 instructions more a spawn). */
_Static_assert(sizeof(struct coro) <= 120, "struct coro outgrew malloc's fast bins");

struct sleeper {
	ev_timer timer;
	struct mqb_future *f;
	struct mqb_core *core;
	struct sleeper *prev, *next;
};

/* Only the loop thread runs coroutines; each loop thread has at most one
 * running at a time. */
static __thread struct coro *current;

/* Stacks a burst of finished coroutines left beyond the cache's bound
 * are unmapped here, a few at a time, when the loop has nothing else to
 * do: a munmap each (and its TLB flush) would otherwise be paid on the
 * spot, ten thousand runs ending at once taking ten thousand system
 * calls in the middle of the burst. */
#define TRIM_BATCH 32

static void trim_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct mqb_core *core = w->data;
	(void)revents;
	if (fiber__trim(&core->fibers, TRIM_BATCH) == 0)
		ev_idle_stop(loop, w);
}

void coro__init(struct mqb_core *core)
{
	fiber__pool_init(&core->fibers, core->opt.coro_stack_size, core->opt.coro_stack_cache);
	ev_idle_init(&core->stack_trim, trim_cb);
	core->stack_trim.data = core;
	/* after everything else: it runs only when nothing else is pending */
	ev_set_priority(&core->stack_trim, EV_MINPRI);
}

void coro__fini(struct mqb_core *core)
{
	coro__reap(core);
	if (core->loop)
		ev_idle_stop(core->loop, &core->stack_trim);
	fiber__pool_destroy(&core->fibers);
	if (core->loop_fiber_set)
		fiber__fini_thread(&core->loop_fiber);
	core->loop_fiber_set = false;
	mqb__free(core->unchecked);
	core->unchecked = NULL;
	core->unchecked_cap = 0;
}

size_t coro__stack_left(void)
{
	const struct coro *co = current;
	if (!co || !co->fiber)
		return SIZE_MAX;
	/* the frame's own address: a sanitizer's fake stack holds locals
	 * elsewhere, never the frame */
	return (size_t)((const char *)__builtin_frame_address(0) - (const char *)co->fiber->stack_lo);
}

static void coro_unref(struct coro *co)
{
	if (--co->refs == 0)
		mqb__free(co);
}

/* A finished coroutine leaves its stack (it cannot free what it runs on):
 * the loop takes the stack back here, before the next switch into any
 * coroutine, and wherever the count of live ones is read. So the switch in
 * is the last thing the loop does for a resume, and the loop's side of it
 * returns straight to the ready queue. */
void coro__reap(struct mqb_core *core)
{
	struct coro *co = core->coro_zombie;
	if (!co)
		return;
	core->coro_zombie = NULL;
	fiber__put_later(&core->fibers, co->fiber);
	if (core->fibers.nfree > core->fibers.max_free && !ev_is_active(&core->stack_trim))
		ev_idle_start(core->loop, &core->stack_trim);
	co->fiber = NULL;
	if (co->prev)
		co->prev->next = co->next;
	else
		core->coros = co->next;
	if (co->next)
		co->next->prev = co->prev;
	core->coro_live--;
	coro_unref(co);
}

/* Switch from the loop into co; its await returns msg. Called last by the
 * ready-queue calls below (a tail call in builds without sanitizer hooks):
 * when co suspends or finishes, the loop carries on from the ready queue.
 * co has cleared current by then. */
static void switch_in(struct mqb_core *core, struct coro *co, int msg)
{
	MQB_CHECK(current == NULL, "a coroutine may only be resumed from the loop");
	/* The loop may have moved to another thread since the last switch
	 * (a core is created on one thread and run on another). Only the
	 * sanitizers' view of the loop's fiber depends on its thread. */
	if (__builtin_expect(!core->loop_fiber_set ||
			     (MQB_FIBER_HOOKS &&
			      !pthread_equal(core->loop_fiber_thread, pthread_self())), 0)) {
		if (core->loop_fiber_set)
			fiber__fini_thread(&core->loop_fiber);
		fiber__init_thread(&core->loop_fiber);
		core->loop_fiber_thread = pthread_self();
		core->loop_fiber_set = true;
	}
	if (core->coro_zombie)
		coro__reap(core);
	current = co;
	fiber__transfer(&core->loop_fiber, co->fiber, msg);
}

static void coro_entry(void *arg)
{
	struct coro *co = arg;
	void *result = NULL;
	int st = co->cancelled ? -ECANCELED : co->job.fn(co->job.ud, co->arg, &result);
	job__release(&co->job, co->arg, co->release, st, result, co->fut);
	co->fut = NULL;
	co->finished = true;
	current = NULL;
	co->core->coro_zombie = co;
	fiber__switch_final(co->fiber, &co->core->loop_fiber);
}

static void start_run(struct mqb_core *core, struct call *c)
{
	struct coro *co = c->arg;
	co->refs--; /* the queued call's; the live reference remains */
	switch_in(core, co, 0);
}

int coro__spawn(struct mqb_core *core, const struct mqb_job *job, void *arg,
		mqb_release_fn release, struct mqb_future *fut)
{
	if (core->loop_done)
		return -ESHUTDOWN;
	coro__reap(core); /* its stack is the one to reuse */
	struct coro *co = mqb__calloc(1, sizeof *co);
	if (!co)
		return -ENOMEM;
	co->fiber = fiber__get(&core->fibers, coro_entry, co);
	if (!co->fiber) {
		mqb__free(co);
		return -ENOMEM;
	}
	co->core = core;
	co->job = *job;
	co->arg = arg;
	co->release = release;
	co->fut = fut;
	co->refs = 2; /* live + the start call */
	co->cancelled = core->coros_cancelled;
	int rc = core__push_ready(core, &(struct call){ .run = start_run, .arg = co });
	if (rc) {
		fiber__put(&core->fibers, co->fiber);
		mqb__free(co);
		return rc;
	}
	co->next = core->coros;
	if (co->next)
		co->next->prev = co;
	core->coros = co;
	core->coro_live++;
	core->stat_coro_spawned++;
	return 0;
}

bool mqb_in_coroutine(void)
{
	return current != NULL;
}

/* Queued by f's settlement without a reference: f is compared, never
 * dereferenced, until it is known to be what co still awaits (and so still
 * holds): a cancelled coroutine may have dropped it by the time this runs.
 * The await's outcome is handed over with the switch (the value through
 * c->job.ud, mqb_await's value argument), so that the coroutine's side
 * returns from mqb_await at once. */
static void await_run(struct mqb_core *core, struct call *c)
{
	struct coro *co = c->arg;
	struct mqb_future *f = c->fut;
	if (co->waiting != f || co->finished) {
		coro_unref(co);
		return;
	}
	co->refs--; /* the queued call's; the live reference remains */
	co->waiting = NULL;
	void **value = c->job.ud;
	if (value)
		*value = future__value(f);
	switch_in(core, co, future__status(f));
}

/* Remember co for coro__check_awaits; if that takes memory there is none
 * of, order the await at once instead. */
static void await_unchecked(struct mqb_core *core, struct coro *co)
{
	if (co->unchecked)
		return;
	if (core->unchecked_n == core->unchecked_cap) {
		unsigned cap = core->unchecked_cap ? core->unchecked_cap * 2 : 16;
		struct coro **v = mqb__realloc(core->unchecked, cap * sizeof *v);
		if (!v) {
			atomic_thread_fence(memory_order_seq_cst);
			future__await_check(co->waiting);
			return;
		}
		core->unchecked = v;
		core->unchecked_cap = cap;
	}
	co->unchecked = true;
	co->refs++;
	core->unchecked[core->unchecked_n++] = co;
}

int mqb_await(struct mqb_future *f, void **value)
{
	struct coro *co = current;
	if (!co)
		return -EPERM;
	if (co->cancelled)
		return -ECANCELED;
	if (future__done(f)) {
		if (value)
			*value = future__value(f);
		return future__status(f);
	}
	/* No reference of our own: the caller holds f across the await. */
	int rc = future__async_await(f, await_run, co, value);
	if (rc)
		return rc;
	co->waiting = f;
	co->refs++;
	await_unchecked(co->core, co);
	current = NULL;
	/* Back when await_run or cancel_run switches in, with f's status (and
	 * *value filled in) or -ECANCELED; current is set again. */
	return fiber__transfer(co->fiber, &co->core->loop_fiber, 0);
}

void coro__check_awaits(struct mqb_core *core)
{
	unsigned n = core->unchecked_n;
	if (n == 0)
		return;
	core->unchecked_n = 0;
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < n; i++) {
		struct coro *co = core->unchecked[i];
		co->unchecked = false;
		if (co->waiting) /* still suspended, so it holds the future */
			future__await_check(co->waiting);
		coro_unref(co);
	}
}

static void cancel_run(struct mqb_core *core, struct call *c)
{
	struct coro *co = c->arg;
	if (co->finished) {
		coro_unref(co);
		return;
	}
	co->refs--; /* the queued call's; the live reference remains */
	switch_in(core, co, -ECANCELED);
}

static void sleeper_unlink(struct sleeper *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		s->core->sleepers = s->next;
	if (s->next)
		s->next->prev = s->prev;
	ev_timer_stop(s->core->loop, &s->timer);
}

void coro__cancel_all(struct mqb_core *core)
{
	core->coros_cancelled = true;
	coro__reap(core);
	while (core->sleepers) {
		struct sleeper *s = core->sleepers;
		sleeper_unlink(s);
		mqb_future_cancel(s->f);
		mqb_future_unref(s->f);
		mqb__free(s);
	}
	for (struct coro *co = core->coros; co; co = co->next) {
		if (co->cancelled)
			continue;
		co->cancelled = true;
		if (!co->waiting)
			continue; /* not started yet: it will start cancelled */
		struct mqb_future *f = co->waiting;
		if (future__remove_await(f, await_run, co))
			co->refs--;
		co->waiting = NULL;
		co->refs++;
		if (core__push_ready(core, &(struct call){ .run = cancel_run, .arg = co })) {
			co->refs--;
			MQB_LOG_ERROR("coro", "%s: could not be cancelled", co->job.name);
		}
	}
}

static void sleep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sleeper *s = w->data;
	sleeper_unlink(s);
	mqb_future_resolve(s->f, 0, NULL, NULL);
	mqb_future_unref(s->f);
	mqb__free(s);
}

struct mqb_future *mqb_async_sleep(struct mqb_core *core, double seconds)
{
	MQB_ASSERT_LOOP(core);
	if (core->coros_cancelled)
		return NULL;
	struct sleeper *s = mqb__malloc(sizeof *s);
	if (!s)
		return NULL;
	s->f = mqb_future_new(core);
	if (!s->f) {
		mqb__free(s);
		return NULL;
	}
	s->core = core;
	ev_timer_init(&s->timer, sleep_cb, seconds > 0 ? seconds : 0, 0);
	s->timer.data = s;
	ev_timer_start(core->loop, &s->timer);
	s->prev = NULL;
	s->next = core->sleepers;
	if (s->next)
		s->next->prev = s;
	core->sleepers = s;
	return mqb_future_ref(s->f);
}

int mqb_async_sleep_await(struct mqb_core *core, double seconds)
{
	struct mqb_future *f = mqb_async_sleep(core, seconds);
	if (!f)
		return core->coros_cancelled ? -ECANCELED : -ENOMEM;
	int rc = mqb_await(f, NULL);
	mqb_future_unref(f);
	return rc;
}
