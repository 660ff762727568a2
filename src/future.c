/* Futures: settled once from any thread; blocked on from other threads,
 * chained on the loop. The loop's own path takes no lock; threads that block
 * use mutex/condvar pairs striped by address, so a future carries none of its
 * own (one is made per service call, publish and executor job). */
#include "core_impl.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "future_impl.h"

struct done {
	mqb_future_done_fn cb;
	void *ud;
	bool borrowed; /* the caller keeps f alive; cb does not dereference it */
};

/* Continuations belong to the loop thread (add_done is loop-only), so the
 * loop never locks a future and reads its list without atomics. Settling is
 * a CAS (pending -> CLAIMED: one resolver wins) and a sequentially consistent
 * store of the status, ordered against nwaiters for blocked threads and
 * against has_done for continuations: a resolver on another thread that sees
 * has_done hands the loop one call that runs the list; an add_done that sees
 * the status settled does it itself; dispatched keeps it to one call. */
#define CLAIMED (-EINPROGRESS - 1) /* a resolver is writing the value */
struct mqb_future {
	atomic_int refs;
	atomic_int status;      /* -EINPROGRESS or CLAIMED while pending */
	atomic_uint nwaiters;   /* threads blocked in mqb_future_result */
	atomic_bool has_done;   /* a continuation was added */
	atomic_bool dispatched; /* the off-loop call for the list was queued */
	struct mqb_core *core;
	void *value;
	mqb_release_fn value_free;
	unsigned ndone, capdone; /* loop thread only, like the lists below */
	struct done one;        /* the common case: a single continuation */
	struct done *more;
	struct mqb_future *next_free; /* in a thread's cache */
};

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
	if (!f || atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (f->value && f->value_free)
		f->value_free(f->value);
	mqb__free(f->more);
	if (cache.enabled && cache.n < CACHE_MAX) {
		f->next_free = cache.head;
		cache.head = f;
		cache.n++;
		return;
	}
	mqb__free(f);
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
		one.cb(f, one.ud);
	for (unsigned i = 1; i < n; i++)
		more[i - 1].cb(f, more[i - 1].ud);
	mqb__free(more);
	mqb_future_unref(f);
}

static void single_run(struct mqb_core *core, struct call *c)
{
	((mqb_future_done_fn)(void (*)(void))c->job.fn)(c->fut, c->job.ud);
	mqb_future_unref(c->fut);
}

static void borrowed_run(struct mqb_core *core, struct call *c)
{
	((mqb_future_done_fn)(void (*)(void))c->job.fn)(c->fut, c->job.ud);
}

/* Queue f's continuations. On the loop the list is read now (a single
 * continuation, an await, is queued as itself); from another thread the
 * loop reads it when the call runs. */
static void dispatch(struct mqb_future *f, bool on_loop)
{
	struct call c = { .run = continuations_run };
	int rc;
	if (on_loop) {
		if (f->ndone == 0)
			return;
		if (f->ndone == 1) {
			c.run = f->one.borrowed ? borrowed_run : single_run;
			c.job.fn = (mqb_job_fn)(void (*)(void))f->one.cb;
			c.job.ud = f->one.ud;
			f->ndone = 0;
		}
		c.fut = c.run == borrowed_run ? f : mqb_future_ref(f);
		rc = core__push_ready(f->core, &c);
		if (rc && c.run == borrowed_run)
			return; /* nothing to drop */
	} else {
		if (!atomic_load(&f->has_done) || atomic_exchange(&f->dispatched, true))
			return;
		c.fut = mqb_future_ref(f);
		rc = core__push_inbox(f->core, &c, true);
	}
	if (rc) {
		/* The loop is gone: nothing can run these continuations any more. */
		MQB_LOG_DEBUG("future", "continuations dropped: %s", mqb_strerror(rc));
		mqb_future_unref(f);
	}
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
	atomic_store(&f->status, status); /* publishes the value */
	if (atomic_load(&f->nwaiters) > 0) {
		struct stripe *s = stripe_of(f);
		pthread_mutex_lock(&s->m);
		pthread_cond_broadcast(&s->c);
		pthread_mutex_unlock(&s->m);
	}
	dispatch(f, mqb_core_in_loop_thread(f->core));
	return 0;
}

int mqb_future_cancel(struct mqb_future *f)
{
	return mqb_future_resolve(f, -ECANCELED, NULL, NULL);
}

bool mqb_future_done(const struct mqb_future *f)
{
	int st = atomic_load_explicit(&((struct mqb_future *)f)->status, memory_order_acquire);
	return st != -EINPROGRESS && st != CLAIMED;
}

int mqb_future_status(const struct mqb_future *f)
{
	int st = atomic_load_explicit(&((struct mqb_future *)f)->status, memory_order_acquire);
	return st == CLAIMED ? -EINPROGRESS : st;
}

void *mqb_future_value(const struct mqb_future *f)
{
	return mqb_future_done(f) ? f->value : NULL;
}

static int add_done(struct mqb_future *f, mqb_future_done_fn cb, void *ud, bool borrowed);

int mqb_future_async_add_done(struct mqb_future *f, mqb_future_done_fn cb, void *ud)
{
	return add_done(f, cb, ud, false);
}

int future__async_add_done_borrowed(struct mqb_future *f, mqb_future_done_fn cb, void *ud)
{
	return add_done(f, cb, ud, true);
}

static int add_done(struct mqb_future *f, mqb_future_done_fn cb, void *ud, bool borrowed)
{
	MQB_ASSERT_LOOP(f->core);
	if (mqb_future_done(f)) {
		struct call c = { .run = single_run, .job.fn = (mqb_job_fn)(void (*)(void))cb,
				  .job.ud = ud, .fut = mqb_future_ref(f) };
		int rc = core__push_ready(f->core, &c);
		if (rc)
			mqb_future_unref(f);
		return rc;
	}
	struct done d = { cb, ud, borrowed };
	if (f->ndone == 0) {
		f->one = d;
	} else {
		if (f->ndone - 1 == f->capdone) {
			unsigned cap = f->capdone ? f->capdone * 2 : 4;
			struct done *m = mqb__realloc(f->more, cap * sizeof *m);
			if (!m)
				return -ENOMEM;
			f->more = m;
			f->capdone = cap;
		}
		f->more[f->ndone - 1] = d;
	}
	f->ndone++;
	if (!atomic_load_explicit(&f->has_done, memory_order_relaxed)) {
		atomic_store(&f->has_done, true);
		/* Settled by another thread that may have read has_done before
		 * our store: the list is then ours to hand over. */
		if (mqb_future_done(f) && !atomic_exchange(&f->dispatched, true)) {
			int rc = core__push_ready(f->core, &(struct call){
				.run = continuations_run, .fut = mqb_future_ref(f) });
			if (rc)
				mqb_future_unref(f);
		}
	}
	return 0;
}

bool future__remove_done(struct mqb_future *f, mqb_future_done_fn cb, void *ud)
{
	for (unsigned i = 0; i < f->ndone; i++) {
		struct done *d = i == 0 ? &f->one : &f->more[i - 1];
		if (d->cb != cb || d->ud != ud)
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
	if (mqb_future_done(f))
		goto done;
	pthread_mutex_lock(&s->m);
	/* Counted before the status is checked under the lock: a resolver
	 * that reads no waiters stored its status first, so we see it. */
	atomic_fetch_add(&f->nwaiters, 1);
	int rc = 0;
	while (!mqb_future_done(f) && rc != ETIMEDOUT) {
		if (timeout >= 0)
			rc = pthread_cond_clockwait(&s->c, &s->m, CLOCK_MONOTONIC, &deadline);
		else
			pthread_cond_wait(&s->c, &s->m);
	}
	atomic_fetch_sub(&f->nwaiters, 1);
	pthread_mutex_unlock(&s->m);
done:;
	int st = mqb_future_status(f);
	if (st == -EINPROGRESS)
		return -ETIMEDOUT;
	if (value)
		*value = f->value;
	return st;
}
