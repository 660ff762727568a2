/* Futures: settled once from any thread; blocked on from other threads,
 * chained on the loop. Locks are striped by address so a future needs no
 * mutex or condition variable of its own (it is made per service call,
 * publish and executor job). */
#include "core_impl.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "future_impl.h"

struct done {
	mqb_future_done_fn cb;
	void *ud;
};

struct mqb_future {
	atomic_int refs;
	atomic_int status;      /* -EINPROGRESS while pending */
	struct mqb_core *core;
	void *value;
	mqb_release_fn value_free;
	unsigned nwaiters;      /* threads blocked in mqb_future_result; under the stripe lock */
	unsigned ndone, capdone;
	struct done one;        /* the common case: a single continuation */
	struct done *more;
};

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
	struct mqb_future *f = mqb__malloc(sizeof *f);
	if (!f)
		return NULL;
	*f = (struct mqb_future){ .core = core };
	atomic_init(&f->refs, 1);
	atomic_init(&f->status, -EINPROGRESS);
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
	mqb__free(f);
}

static void done_run(struct mqb_core *core, struct call *c)
{
	((mqb_future_done_fn)(void (*)(void))c->job.fn)(c->fut, c->job.ud);
	mqb_future_unref(c->fut);
}

static void schedule_done(struct mqb_future *f, const struct done *d)
{
	struct call c = {
		.run = done_run,
		.job.fn = (mqb_job_fn)(void (*)(void))d->cb,
		.job.ud = d->ud,
		.fut = mqb_future_ref(f),
	};
	int rc = core__push_any(f->core, &c);
	if (rc) {
		/* The loop is gone: nothing can run this continuation any more. */
		MQB_LOG_DEBUG("future", "continuation dropped: %s", mqb_strerror(rc));
		mqb_future_unref(f);
	}
}

int mqb_future_resolve(struct mqb_future *f, int status, void *value, mqb_release_fn value_free)
{
	if (status == -EINPROGRESS) /* reserved for "pending" */
		status = -EIO;
	struct stripe *s = stripe_of(f);
	pthread_mutex_lock(&s->m);
	if (atomic_load_explicit(&f->status, memory_order_relaxed) != -EINPROGRESS) {
		pthread_mutex_unlock(&s->m);
		return -EALREADY;
	}
	f->value = value;
	f->value_free = value_free;
	atomic_store_explicit(&f->status, status, memory_order_release);
	unsigned n = f->ndone;
	struct done one = f->one, *more = f->more;
	f->ndone = 0;
	f->more = NULL;
	f->capdone = 0;
	if (f->nwaiters)
		pthread_cond_broadcast(&s->c);
	pthread_mutex_unlock(&s->m);

	if (n > 0)
		schedule_done(f, &one);
	for (unsigned i = 1; i < n; i++)
		schedule_done(f, &more[i - 1]);
	mqb__free(more);
	return 0;
}

int mqb_future_cancel(struct mqb_future *f)
{
	return mqb_future_resolve(f, -ECANCELED, NULL, NULL);
}

bool mqb_future_done(const struct mqb_future *f)
{
	return atomic_load_explicit(&((struct mqb_future *)f)->status, memory_order_acquire) !=
	       -EINPROGRESS;
}

int mqb_future_status(const struct mqb_future *f)
{
	return atomic_load_explicit(&((struct mqb_future *)f)->status, memory_order_acquire);
}

void *mqb_future_value(const struct mqb_future *f)
{
	return mqb_future_done(f) ? f->value : NULL;
}

int mqb_future_async_add_done(struct mqb_future *f, mqb_future_done_fn cb, void *ud)
{
	MQB_ASSERT_LOOP(f->core);
	struct done d = { cb, ud };
	struct stripe *s = stripe_of(f);
	pthread_mutex_lock(&s->m);
	if (atomic_load_explicit(&f->status, memory_order_relaxed) != -EINPROGRESS) {
		pthread_mutex_unlock(&s->m);
		schedule_done(f, &d);
		return 0;
	}
	int rc = 0;
	if (f->ndone == 0) {
		f->one = d;
	} else {
		if (f->ndone - 1 == f->capdone) {
			unsigned cap = f->capdone ? f->capdone * 2 : 4;
			struct done *m = mqb__realloc(f->more, cap * sizeof *m);
			if (!m) {
				rc = -ENOMEM;
				goto out;
			}
			f->more = m;
			f->capdone = cap;
		}
		f->more[f->ndone - 1] = d;
	}
	f->ndone++;
out:
	pthread_mutex_unlock(&s->m);
	return rc;
}

bool future__remove_done(struct mqb_future *f, mqb_future_done_fn cb, void *ud)
{
	struct stripe *s = stripe_of(f);
	bool removed = false;
	pthread_mutex_lock(&s->m);
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
		removed = true;
		break;
	}
	pthread_mutex_unlock(&s->m);
	return removed;
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
	pthread_mutex_lock(&s->m);
	f->nwaiters++;
	int rc = 0;
	while (atomic_load_explicit(&f->status, memory_order_relaxed) == -EINPROGRESS &&
	       rc != ETIMEDOUT) {
		if (timeout >= 0)
			rc = pthread_cond_clockwait(&s->c, &s->m, CLOCK_MONOTONIC, &deadline);
		else
			pthread_cond_wait(&s->c, &s->m);
	}
	f->nwaiters--;
	pthread_mutex_unlock(&s->m);
	int st = mqb_future_status(f);
	if (st == -EINPROGRESS)
		return -ETIMEDOUT;
	if (value)
		*value = f->value;
	return st;
}
