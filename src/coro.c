/* Coroutines: COROUTINE jobs on their own fiber, suspended by mqb_await on a
 * future and resumed only from the loop's ready queue (never inside whoever
 * settled the future). Shutdown cancels them: a pending await returns
 * -ECANCELED, and so does every later one, so the job unwinds. */
#include "core_impl.h"

#include <errno.h>

#include "future_impl.h"
#include "mqbridge/coro.h"

struct coro {
	struct mqb_core *core;
	struct mqb_fiber *fiber;
	struct mqb_job job;
	void *arg;
	mqb_release_fn release;
	struct mqb_future *fut;     /* settled with the job's outcome; may be NULL */
	struct mqb_future *waiting; /* what the pending await waits for */
	int wake_status;            /* 0: woken by the future; -ECANCELED: by shutdown */
	unsigned refs;              /* 1 while live, +1 per queued call naming it */
	bool cancelled, finished;
	struct coro *prev, *next;   /* core->coros */
};

struct sleeper {
	ev_timer timer;
	struct mqb_future *f;
	struct mqb_core *core;
	struct sleeper *prev, *next;
};

/* Only the loop thread runs coroutines; each loop thread has at most one
 * running at a time. */
static __thread struct coro *current;

void coro__init(struct mqb_core *core)
{
	fiber__pool_init(&core->fibers, core->opt.coro_stack_size, core->opt.coro_stack_cache);
}

void coro__fini(struct mqb_core *core)
{
	fiber__pool_destroy(&core->fibers);
	if (core->loop_fiber_set)
		fiber__fini_thread(&core->loop_fiber);
	core->loop_fiber_set = false;
}

static void coro_unref(struct coro *co)
{
	if (--co->refs == 0)
		mqb__free(co);
}

static void resume(struct coro *co, int wake_status)
{
	struct mqb_core *core = co->core;
	MQB_CHECK(current == NULL, "a coroutine may only be resumed from the loop");
	/* The loop may have moved to another thread since the last switch
	 * (a core is created on one thread and run on another). */
	if (!core->loop_fiber_set || !pthread_equal(core->loop_fiber_thread, pthread_self())) {
		if (core->loop_fiber_set)
			fiber__fini_thread(&core->loop_fiber);
		fiber__init_thread(&core->loop_fiber);
		core->loop_fiber_thread = pthread_self();
		core->loop_fiber_set = true;
	}
	co->wake_status = wake_status;
	current = co;
	fiber__switch(&core->loop_fiber, co->fiber);
	current = NULL;
	if (co->finished) {
		fiber__put(&core->fibers, co->fiber);
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
}

static void coro_entry(void *arg)
{
	struct coro *co = arg;
	void *result = NULL;
	int st = co->cancelled ? -ECANCELED : co->job.fn(co->job.ud, co->arg, &result);
	job__release(&co->job, co->arg, co->release, st, result, co->fut);
	co->fut = NULL;
	co->finished = true;
	fiber__switch_final(co->fiber, &co->core->loop_fiber);
}

static void start_run(struct mqb_core *core, struct call *c)
{
	struct coro *co = c->arg;
	co->refs--; /* the queued call's; the live reference remains */
	resume(co, 0);
}

int coro__spawn(struct mqb_core *core, const struct mqb_job *job, void *arg,
		mqb_release_fn release, struct mqb_future *fut)
{
	if (core->loop_done)
		return -ESHUTDOWN;
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

/* Registered borrowed: f is compared, never dereferenced, since a cancelled
 * coroutine may have dropped it by the time a queued call runs. */
static void await_done(struct mqb_future *f, void *ud)
{
	struct coro *co = ud;
	if (co->waiting == f && !co->finished) {
		co->waiting = NULL;
		resume(co, 0);
	}
	coro_unref(co);
}

int mqb_await(struct mqb_future *f, void **value)
{
	struct coro *co = current;
	if (!co)
		return -EPERM;
	if (co->cancelled)
		return -ECANCELED;
	if (!mqb_future_done(f)) {
		/* No reference of our own: the caller holds f across the await. */
		co->waiting = f;
		co->refs++;
		int rc = future__async_add_done_borrowed(f, await_done, co);
		if (rc) {
			co->refs--;
			co->waiting = NULL;
			return rc;
		}
		current = NULL;
		fiber__switch(co->fiber, &co->core->loop_fiber);
		/* Back on our stack: resume() set current again. */
		if (co->wake_status)
			return co->wake_status;
	}
	if (value)
		*value = mqb_future_value(f);
	return mqb_future_status(f);
}

static void cancel_run(struct mqb_core *core, struct call *c)
{
	struct coro *co = c->arg;
	if (!co->finished)
		resume(co, -ECANCELED);
	coro_unref(co);
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
		if (future__remove_done(f, await_done, co))
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
