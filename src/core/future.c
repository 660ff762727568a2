/* SPDX-License-Identifier: MIT */
/* Futures: settled once from any thread; blocked on from other threads,
 * chained on the loop. The loop's own path takes no lock; threads that block
 * use mutex/condvar pairs striped by address, so a future carries none of its
 * own (one is made per service call, publish and executor job). */
#include "core/core_impl.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>

#include "core/future_impl.h"

/* How the fields of struct mqb_future (future_impl.h) are shared.
 * Continuations belong to the loop thread (add_done is loop-only), so the
 * loop never locks a future and reads its list without atomics. Settling
 * claims the status with a CAS (pending -> CLAIMED: one resolver wins) and
 * then stores it:
 * - on the loop, with a release store: continuations are the loop's own, so
 *   it reads the list itself, and nothing on another thread is ordered
 *   against that store but readers of the status. A thread that starts
 *   blocking just then may be missed by the nwaiters check (ordered after
 *   the CAS only): it sees CLAIMED and polls until the status lands
 *   (mqb_future_result);
 * - on another thread, with a sequentially consistent store, ordered
 *   against nwaiters for blocked threads and against has_done for
 *   continuations: a resolver that sees has_done hands the loop one call
 *   that runs the list; an add_done that sees the status settled does it
 *   itself; dispatched keeps it to one call. add_done orders its has_done
 *   store with a sequentially consistent store; a coroutine's await leaves
 *   that to one fence per run of the ready queue for all the awaits made
 *   in it (future__await_check), before the loop may block.
 * So an await settled on the loop costs one locked instruction, the CAS
 * (each costs about 9 ns here); and a future whose only reference is
 * dropped is freed without one (mqb_future_unref). */

/* Futures are made and dropped on the loop thread at the rate of awaits and
 * publishes: a small per-thread cache spares malloc and free. Only threads
 * that run a loop enable it, and they empty it when their loop ends, so no
 * thread exits holding cached futures. */
#define CACHE_MAX 256
static __thread struct {
	struct mqb_future *head;
	unsigned n;
	bool enabled;
} cache;

void future__cache_enable(bool on)
{
	cache.enabled = on;
	if (on)
		return;
	while (cache.head) {
		struct mqb_future *f = cache.head;
		cache.head = f->next_free;
		mqb__free(f);
	}
	cache.n = 0;
}

#define NSTRIPES 64
static struct stripe {
	pthread_mutex_t m;
	pthread_cond_t c;
} __attribute__((aligned(64))) stripes[NSTRIPES] = {
	[0 ... NSTRIPES - 1] = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER },
};

static struct stripe *stripe_of(const struct mqb_future *f)
{
	uintptr_t a = (uintptr_t)f;
	return &stripes[(a >> 6 ^ a >> 12) % NSTRIPES];
}

struct mqb_future *mqb_future_new(struct mqb_core *core)
{
	struct mqb_future *f = cache.head;
	if (f) {
		cache.head = f->next_free;
		cache.n--;
	} else if (!(f = mqb__malloc(sizeof *f))) {
		return NULL;
	}
	f->core = core;
	f->value = NULL;
	f->value_free = NULL;
	f->ndone = f->capdone = 0;
	f->more = NULL;
	atomic_init(&f->refs, 1);
	atomic_init(&f->status, -EINPROGRESS);
	atomic_init(&f->nwaiters, 0);
	atomic_init(&f->has_done, false);
	atomic_init(&f->dispatched, false);
	return f;
}

struct mqb_future *mqb_future_ref(struct mqb_future *f)
{
	atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	return f;
}

void mqb_future_unref(struct mqb_future *f)
{
	if (!f)
		return;
	/* The only reference is ours: nobody can take another (that needs
	 * one), so no locked decrement. The acquire pairs with the release of
	 * every other holder's decrement. */
	if (atomic_load_explicit(&f->refs, memory_order_acquire) != 1 &&
	    atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (f->value && f->value_free)
		f->value_free(f->value);
	if (f->more)
		mqb__free(f->more);
	if (cache.enabled && cache.n < CACHE_MAX) {
		f->next_free = cache.head;
		cache.head = f;
		cache.n++;
		return;
	}
	mqb__free(f);
}

static void run_done(struct mqb_core *core, struct mqb_future *f, const struct done *d)
{
	if (d->run)
		d->run(core, &(struct call){ .run = d->run, .arg = d->ud, .job.ud = d->aux, .fut = f });
	else
		d->cb(f, d->ud);
}

/* On the loop: run every continuation added before now, in order. */
static void continuations_run(struct mqb_core *core, struct call *c)
{
	struct mqb_future *f = c->fut;
	unsigned n = f->ndone;
	struct done one = f->one, *more = f->more;
	f->ndone = f->capdone = 0;
	f->more = NULL;
	if (n > 0)
		run_done(core, f, &one);
	for (unsigned i = 1; i < n; i++)
		run_done(core, f, &more[i - 1]);
	mqb__free(more);
	mqb_future_unref(f);
}

static void single_run(struct mqb_core *core, struct call *c)
{
	((mqb_future_done_fn)(void (*)(void))c->job.fn)(c->fut, c->job.ud);
	mqb_future_unref(c->fut);
}

/* Fill a ready-queue slot with the call that runs d for f. */
static void done_call(struct call *c, struct mqb_future *f, const struct done *d)
{
	if (d->run) {
		c->run = d->run;
		c->arg = d->ud;
		c->job.ud = d->aux;
		c->fut = f; /* borrowed */
	} else {
		c->run = single_run;
		c->job.fn = (mqb_job_fn)(void (*)(void))d->cb;
		c->job.ud = d->ud;
		c->fut = mqb_future_ref(f);
	}
}

static void dropped(int rc)
{
	/* The loop is gone (or the queue cannot grow): nothing can run these
	 * continuations any more. */
	MQB_LOG_DEBUG("future", "continuations dropped: %s", mqb_strerror(rc));
}

/* Settled on the loop: queue the list now. A single continuation (an
 * await, typically) is queued as itself. */
static void dispatch_on_loop(struct mqb_future *f)
{
	if (f->ndone == 0)
		return;
	struct call *c = core__ready_slot(f->core);
	if (!c) {
		dropped(f->core->loop_done ? -ESHUTDOWN : -ENOMEM);
		return;
	}
	/* For future__await_check: nothing is left to hand over. */
	atomic_store_explicit(&f->dispatched, true, memory_order_relaxed);
	if (f->ndone == 1) {
		f->ndone = 0;
		done_call(c, f, &f->one);
	} else {
		c->run = continuations_run;
		c->fut = mqb_future_ref(f);
	}
}

/* Settled by another thread: the loop reads the list when the call runs. */
static void dispatch_off_loop(struct mqb_future *f)
{
	if (!atomic_load(&f->has_done) || atomic_exchange(&f->dispatched, true))
		return;
	int rc = core__push_inbox(f->core, &(struct call){ .run = continuations_run,
							    .fut = mqb_future_ref(f) },
				  true);
	if (rc) {
		dropped(rc);
		mqb_future_unref(f);
	}
}

static void wake_waiters(struct mqb_future *f)
{
	struct stripe *s = stripe_of(f);
	pthread_mutex_lock(&s->m);
	pthread_cond_broadcast(&s->c);
	pthread_mutex_unlock(&s->m);
}

int mqb_future_resolve(struct mqb_future *f, int status, void *value, mqb_release_fn value_free)
{
	if (status == -EINPROGRESS || status == CLAIMED) /* reserved for "pending" */
		status = -EIO;
	int pending = -EINPROGRESS;
	if (!atomic_compare_exchange_strong(&f->status, &pending, CLAIMED))
		return -EALREADY;
	f->value = value;
	f->value_free = value_free;
	if (core__in_loop(f->core)) {
		atomic_store_explicit(&f->status, status, memory_order_release);
		if (atomic_load(&f->nwaiters) > 0)
			wake_waiters(f);
		dispatch_on_loop(f);
	} else {
		atomic_store(&f->status, status);
		if (atomic_load(&f->nwaiters) > 0)
			wake_waiters(f);
		dispatch_off_loop(f);
	}
	return 0;
}

int mqb_future_cancel(struct mqb_future *f)
{
	return mqb_future_resolve(f, -ECANCELED, NULL, NULL);
}

bool mqb_future_done(const struct mqb_future *f)
{
	return future__done(f);
}

int mqb_future_status(const struct mqb_future *f)
{
	return future__status(f);
}

void *mqb_future_value(const struct mqb_future *f)
{
	return future__value(f);
}

/* Queue the list of f, settled by another thread, unless that was done. */
static void dispatch_here(struct mqb_future *f)
{
	if (atomic_exchange(&f->dispatched, true))
		return;
	int rc = core__push_ready(f->core, &(struct call){ .run = continuations_run,
							    .fut = mqb_future_ref(f) });
	if (rc) {
		dropped(rc);
		mqb_future_unref(f);
	}
}

/* fenced: has_done is ordered against the status by the caller's fence
 * before it calls future__await_check; otherwise by a sequentially
 * consistent store here. */
static int add_done(struct mqb_future *f, const struct done *d, bool fenced)
{
	MQB_ASSERT_LOOP(f->core);
	if (future__done(f)) {
		struct call *c = core__ready_slot(f->core);
		if (!c)
			return f->core->loop_done ? -ESHUTDOWN : -ENOMEM;
		done_call(c, f, d);
		return 0;
	}
	if (f->ndone == 0) {
		f->one = *d;
	} else {
		if (f->ndone - 1 == f->capdone) {
			unsigned cap = f->capdone ? f->capdone * 2 : 4;
			struct done *m = mqb__realloc(f->more, cap * sizeof *m);
			if (!m)
				return -ENOMEM;
			f->more = m;
			f->capdone = cap;
		}
		f->more[f->ndone - 1] = *d;
	}
	f->ndone++;
	if (atomic_load_explicit(&f->has_done, memory_order_relaxed))
		return 0;
	if (fenced) {
		atomic_store_explicit(&f->has_done, true, memory_order_relaxed);
		return 0;
	}
	atomic_store(&f->has_done, true);
	/* Settled by another thread that may have read has_done before our
	 * store: the list is then ours to hand over. */
	if (future__done(f))
		dispatch_here(f);
	return 0;
}

int mqb_future_async_add_done(struct mqb_future *f, mqb_future_done_fn cb, void *ud)
{
	return add_done(f, &(struct done){ .cb = cb, .ud = ud }, false);
}

int future__async_await(struct mqb_future *f, void (*run)(struct mqb_core *core, struct call *c),
			void *arg, void *aux)
{
	return add_done(f, &(struct done){ .aux = aux, .ud = arg, .run = run }, true);
}

void future__await_check(struct mqb_future *f)
{
	/* The caller's fence comes after our has_done store: a resolver that
	 * read has_done false stored its status before the fence, so we see
	 * it settled here (C11 7.17.4: a load after a seq_cst fence sees the
	 * seq_cst stores before it; a seq_cst load after it sees the stores
	 * before it). dispatched says whether anyone handed the list over. */
	if (!atomic_load_explicit(&f->dispatched, memory_order_relaxed) && future__done(f))
		dispatch_here(f);
}

bool future__remove_await(struct mqb_future *f, void (*run)(struct mqb_core *core, struct call *c),
			  void *arg)
{
	for (unsigned i = 0; i < f->ndone; i++) {
		struct done *d = i == 0 ? &f->one : &f->more[i - 1];
		if (d->run != run || d->ud != arg)
			continue;
		/* Keep the order of the others: shift down. */
		for (unsigned j = i; j + 1 < f->ndone; j++) {
			struct done *to = j == 0 ? &f->one : &f->more[j - 1];
			*to = f->more[j];
		}
		f->ndone--;
		return true;
	}
	return false;
}

/* Wait on c until the monotonic deadline. pthread_cond_clockwait is glibc's
 * (2.30); elsewhere (musl) the deadline becomes a wall-clock one at each
 * wait, which a clock step during that wait stretches or shortens. */
static int cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *mono)
{
#if defined(__GLIBC__)
	return pthread_cond_clockwait(c, m, CLOCK_MONOTONIC, mono);
#else
	struct timespec now, wall;
	clock_gettime(CLOCK_MONOTONIC, &now);
	clock_gettime(CLOCK_REALTIME, &wall);
	wall.tv_sec += mono->tv_sec - now.tv_sec;
	wall.tv_nsec += mono->tv_nsec - now.tv_nsec;
	if (wall.tv_nsec < 0) {
		wall.tv_nsec += 1000000000L;
		wall.tv_sec--;
	} else if (wall.tv_nsec >= 1000000000L) {
		wall.tv_nsec -= 1000000000L;
		wall.tv_sec++;
	}
	return pthread_cond_timedwait(c, m, &wall);
#endif
}

int mqb_future_result(struct mqb_future *f, double timeout, void **value)
{
	if (mqb_core_in_loop_thread(f->core))
		return -EDEADLK;
	struct stripe *s = stripe_of(f);
	struct timespec deadline;
	if (timeout >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		double end = (double)deadline.tv_sec + deadline.tv_nsec / 1e9 + timeout;
		deadline.tv_sec = (time_t)end;
		deadline.tv_nsec = (long)((end - (double)deadline.tv_sec) * 1e9);
	}
	if (future__done(f))
		goto done;
	pthread_mutex_lock(&s->m);
	/* Counted before the status is checked under the lock: a resolver
	 * that reads no waiters claimed the status first, so we see it
	 * claimed at least. */
	atomic_fetch_add(&f->nwaiters, 1);
	int rc = 0;
	for (;;) {
		int st = atomic_load(&f->status);
		if (st == CLAIMED) {
			/* A resolver on the loop may have checked nwaiters
			 * before we counted ourselves, and then wakes nobody:
			 * its status store is a few instructions away. */
			pthread_mutex_unlock(&s->m);
			sched_yield();
			pthread_mutex_lock(&s->m);
			continue;
		}
		if (st != -EINPROGRESS || rc == ETIMEDOUT)
			break;
		if (timeout >= 0)
			rc = cond_wait_until(&s->c, &s->m, &deadline);
		else
			pthread_cond_wait(&s->c, &s->m);
	}
	atomic_fetch_sub(&f->nwaiters, 1);
	pthread_mutex_unlock(&s->m);
done:;
	int st = future__status(f);
	if (st == -EINPROGRESS)
		return -ETIMEDOUT;
	if (value)
		*value = f->value;
	return st;
}
