/* SPDX-License-Identifier: MIT */
/* The executor: a fixed set of worker threads and a bounded FIFO. Jobs are
 * submitted and completed on the loop thread (completion goes through the
 * core's inbox, libuv's after_work pattern); a full queue is -EAGAIN, counted,
 * never unbounded memory. A watchdog on the loop logs jobs that run long. */
#include "core/pool.h"

#include <errno.h>
#include <string.h>

struct pjob {
	struct mqb_job job;
	void *arg;
	mqb_release_fn release;
	struct mqb_future *fut;
	int status;
	void *result;
	bool abandoned;         /* shutdown gave up waiting: the worker cleans up */
	bool final;             /* not cancelled by pool__close */
	struct pjob *next;
};

struct worker {
	struct pool *pool;
	pthread_t thread;
	unsigned index;
	bool started;
	struct pjob *current;   /* under the pool lock */
	double since;           /* when current started (monotonic) */
	bool reported;          /* current was logged as slow */
};

struct pool {
	struct mqb_core *core;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pjob *head, *tail; /* the queue, under lock */
	unsigned queued, queue_max;
	unsigned running;         /* on a worker, under lock */
	unsigned finals;          /* final jobs queued, under lock */
	bool closing;             /* under lock */
	bool joined;
	unsigned nthreads;
	struct worker *workers;
	double slow_seconds;
	ev_timer watchdog;
	unsigned long long submitted, rejected, completed, cancelled, slow;
};

static void complete_run(struct mqb_core *core, struct call *c)
{
	struct pjob *j = c->arg;
	struct pool *p = core->pool;
	p->completed++;
	job__release(&j->job, j->arg, j->release, j->status, j->result, j->fut);
	mqb__free(j);
	if (p->closing)
		core__shutdown_progress(core);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	char name[16];
	snprintf(name, sizeof name, "mqb-worker-%u", w->index);
	pthread_setname_np(pthread_self(), name);

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->closing)
			pthread_cond_wait(&p->cond, &p->lock);
		struct pjob *j = p->head;
		if (!j)
			break; /* closing and nothing left */
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		if (j->final)
			p->finals--;
		p->running++;
		w->current = j;
		w->since = mqb__time_mono();
		w->reported = false;
		pthread_mutex_unlock(&p->lock);

		j->result = NULL;
		j->status = j->job.fn(j->job.ud, j->arg, &j->result);

		pthread_mutex_lock(&p->lock);
		w->current = NULL;
		p->running--;
		if (j->abandoned) {
			/* The core stopped waiting for this job and settled its
			 * future; only what it owns is left to free. */
			pthread_mutex_unlock(&p->lock);
			if (j->result && j->job.result_free)
				j->job.result_free(j->result);
			if (j->release)
				j->release(j->arg);
			mqb__free(j);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		/* internal push: completions are taken while the core stops. */
		struct call c = { .run = complete_run, .arg = j };
		if (core__push_inbox(p->core, &c, true) != 0)
			MQB_LOG_ERROR("executor", "%s: completion lost, the loop is gone", j->job.name);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct pool *p = t->data;
	double now = mqb__time_mono();
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++) {
		struct worker *w = &p->workers[i];
		if (!w->current || w->reported || now - w->since < p->slow_seconds)
			continue;
		w->reported = true;
		p->slow++;
		MQB_LOG_WARNING("executor", "job %s has been running for %.1f s",
				w->current->job.name ? w->current->job.name : "?", now - w->since);
	}
	pthread_mutex_unlock(&p->lock);
}

int pool__new(struct mqb_core *core, unsigned nthreads, unsigned queue_max, double slow_seconds,
	      struct pool **out)
{
	struct pool *p = mqb__calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->workers = mqb__calloc(nthreads, sizeof *p->workers);
	if (!p->workers) {
		mqb__free(p);
		return -ENOMEM;
	}
	p->core = core;
	p->queue_max = queue_max;
	p->nthreads = nthreads;
	p->slow_seconds = slow_seconds;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	/* Checked often enough to log a slow job within a quarter of the limit. */
	double every = slow_seconds / 4 < 1.0 ? slow_seconds / 4 : 1.0;
	ev_timer_init(&p->watchdog, watchdog_cb, every, every);
	p->watchdog.data = p;
	ev_timer_start(core->loop, &p->watchdog);
	ev_unref(core->loop); /* the watchdog alone keeps nothing alive */

	for (unsigned i = 0; i < nthreads; i++) {
		struct worker *w = &p->workers[i];
		w->pool = p;
		w->index = i;
		int rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc) {
			MQB_LOG_ERROR("executor", "cannot start worker %u: %s", i, mqb_strerror(-rc));
			pool__close(p);
			pool__join(p);
			pool__free(p);
			return -rc;
		}
		w->started = true;
	}
	*out = p;
	return 0;
}

int pool__submit(struct pool *p, const struct mqb_job *job, void *arg, mqb_release_fn release,
		 struct mqb_future *fut, bool final)
{
	MQB_ASSERT_LOOP(p->core);
	struct pjob *j = mqb__malloc(sizeof *j);
	if (!j)
		return -ENOMEM;
	*j = (struct pjob){ .job = *job, .arg = arg, .release = release, .fut = fut,
			    .final = final };
	pthread_mutex_lock(&p->lock);
	int rc = 0;
	if (p->closing) {
		rc = -ESHUTDOWN;
	} else if (p->queued >= p->queue_max) {
		rc = -EAGAIN;
		p->rejected++;
	} else {
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		p->queued++;
		p->finals += final;
		p->submitted++;
		pthread_cond_signal(&p->cond);
	}
	unsigned queued = p->queued;
	pthread_mutex_unlock(&p->lock);
	if (rc) {
		mqb__free(j);
		if (rc == -EAGAIN)
			MQB_LOG_WARNING("executor", "queue full (%u jobs): %s rejected", queued,
					job->name ? job->name : "?");
	}
	return rc;
}

void pool__close(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->closing) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->closing = true;
	/* Final jobs stay queued, in their order; the rest go. */
	struct pjob *j = NULL, **cut = &j;
	struct pjob *q = p->head;
	p->head = p->tail = NULL;
	for (struct pjob *next; q; q = next) {
		next = q->next;
		q->next = NULL;
		if (q->final) {
			if (p->tail)
				p->tail->next = q;
			else
				p->head = q;
			p->tail = q;
		} else {
			*cut = q;
			cut = &q->next;
		}
	}
	p->queued = p->finals;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	/* Queued jobs never started: each completes once, cancelled. */
	while (j) {
		struct pjob *next = j->next;
		p->cancelled++;
		job__release(&j->job, j->arg, j->release, -ECANCELED, NULL, j->fut);
		mqb__free(j);
		j = next;
	}
}

unsigned pool__running(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	unsigned n = p->running + p->finals;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void pool__join(struct pool *p)
{
	if (p->joined)
		return;
	pool__close(p);
	p->joined = true;
	ev_ref(p->core->loop);
	ev_timer_stop(p->core->loop, &p->watchdog);
	/* Final jobs that never got a thread within the timeout go as the
	 * others went at close: cancelled, once. */
	pthread_mutex_lock(&p->lock);
	struct pjob *left = p->head;
	p->head = p->tail = NULL;
	p->queued = p->finals = 0;
	pthread_mutex_unlock(&p->lock);
	while (left) {
		struct pjob *next = left->next;
		MQB_LOG_ERROR("executor", "job %s never ran before shutdown: cancelled",
			      left->job.name ? left->job.name : "?");
		p->cancelled++;
		job__release(&left->job, left->arg, left->release, -ECANCELED, NULL, left->fut);
		mqb__free(left);
		left = next;
	}
	/* Jobs still running were given the shutdown timeout already: abandon
	 * them (their futures settle now, once) and detach their threads. */
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++) {
		struct worker *w = &p->workers[i];
		if (!w->current)
			continue;
		struct pjob *j = w->current;
		j->abandoned = true;
		MQB_LOG_ERROR("executor", "job %s still running at shutdown: abandoned",
			      j->job.name ? j->job.name : "?");
		if (j->fut) {
			mqb_future_resolve(j->fut, -ECANCELED, NULL, NULL);
			mqb_future_unref(j->fut);
			j->fut = NULL;
		}
		p->cancelled++;
	}
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++) {
		struct worker *w = &p->workers[i];
		if (!w->started)
			continue;
		pthread_mutex_lock(&p->lock);
		bool busy = w->current != NULL;
		pthread_mutex_unlock(&p->lock);
		if (busy)
			pthread_detach(w->thread);
		else
			pthread_join(w->thread, NULL);
		w->started = busy; /* still ours to account for in pool__free */
	}
}

void pool__free(struct pool *p)
{
	if (!p)
		return;
	pool__join(p);
	for (unsigned i = 0; i < p->nthreads; i++) {
		if (p->workers[i].started) {
			/* A detached worker still uses the pool: leak it rather than
			 * free memory a running thread will touch. */
			MQB_LOG_WARNING("executor", "leaving the pool to %s workers",
					"abandoned");
			return;
		}
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	mqb__free(p->workers);
	mqb__free(p);
}

void pool__stats(struct pool *p, struct mqb_core_stats *out)
{
	pthread_mutex_lock(&p->lock);
	out->executor_submitted = p->submitted;
	out->executor_rejected = p->rejected;
	out->executor_completed = p->completed;
	out->executor_cancelled = p->cancelled;
	out->executor_slow = p->slow;
	out->executor_queued = p->queued;
	out->executor_running = p->running;
	pthread_mutex_unlock(&p->lock);
}
