/* SPDX-License-Identifier: MIT */
/* The executor: a fixed set of worker threads and a bounded FIFO, plus a
 * lane of its own for the daemon's internal blocking work (MQTT's connect
 * and subscribe) that no user job can occupy. Jobs are submitted and
 * completed on the loop thread (completion goes through the core's inbox,
 * libuv's after_work pattern); a full queue is -EAGAIN, counted, never
 * unbounded memory. A watchdog on the loop logs jobs that run long. */
#include "core/pool.h"

#include <errno.h>
#include <string.h>
#include <time.h>

struct pjob {
	struct mqb_job job;
	void *arg;
	mqb_release_fn release;
	struct mqb_future *fut;
	bool final;             /* not cancelled by pool__close */
	int status;
	void *result;
	bool abandoned;         /* shutdown gave up waiting: the worker cleans up */
	struct pjob *next;
};

/* Lanes: user jobs, and the internal lane (doc/dispatcher.md, "The
 * internal lane"): a hanging command can take every user worker, never
 * the thread that (re)connects MQTT. */
enum { LANE_USER, LANE_INTERNAL, LANES };
#define INTERNAL_THREADS 1
#define INTERNAL_QUEUE_MAX 64

struct lane {
	struct pjob *head, *tail; /* the queue, under the pool's lock */
	unsigned queued, queue_max;
	pthread_cond_t cond;
};

struct worker {
	struct pool *pool;
	pthread_t thread;
	unsigned index;
	unsigned lane;
	bool started;
	struct pjob *current;   /* under the pool lock */
	double since;           /* when current started (monotonic) */
	bool reported;          /* current was logged as slow */
};

struct pool {
	struct mqb_core *core;
	pthread_mutex_t lock;
	struct lane lanes[LANES];
	unsigned running;         /* on a worker, under lock */
	unsigned finals;          /* final jobs queued (user lane), under lock */
	bool closing;             /* under lock */
	bool joined;
	unsigned nthreads;        /* workers of both lanes */
	struct worker *workers;
	double slow_seconds;
	ev_timer watchdog;
	unsigned long long submitted, rejected, completed, cancelled, slow;
};

/* Append j to l's queue. Under the lock. */
static void lane_push(struct lane *l, struct pjob *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->queued++;
}

/* Complete every job of the list j once, cancelled (they never ran). */
static void cancel_list(struct pool *p, struct pjob *j, bool log)
{
	for (struct pjob *next; j; j = next) {
		next = j->next;
		if (log)
			MQB_LOG_ERROR("executor", "job %s never ran before shutdown: cancelled",
				      j->job.name ? j->job.name : "?");
		p->cancelled++;
		job__release(&j->job, j->arg, j->release, -ECANCELED, NULL, j->fut);
		mqb__free(j);
	}
}

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

/* The inbox had no room for j's completion (out of memory growing it) or
 * is closed. The loop frees memory as it runs: try again for a while,
 * without the lock; if it never takes it, j completes here, as an
 * abandoned job does: its future settles, what it owns is freed. */
static void push_completion(struct pool *p, struct pjob *j)
{
	struct call c = { .run = complete_run, .arg = j };
	int rc = -ENOMEM;
	for (int tries = 0; rc == -ENOMEM && tries < 100; tries++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		rc = core__push_inbox(p->core, &c, true);
	}
	if (rc == 0)
		return;
	MQB_LOG_ERROR("executor", "%s: completion lost: %s", j->job.name ? j->job.name : "?",
		      rc == -ESHUTDOWN ? "the loop is gone" : mqb_strerror(rc));
	job__release(&j->job, j->arg, j->release, j->status, j->result, j->fut);
	mqb__free(j);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	struct lane *l = &p->lanes[w->lane];
	char name[16];
	if (w->lane == LANE_INTERNAL)
		snprintf(name, sizeof name, "mqb-internal");
	else
		snprintf(name, sizeof name, "mqb-worker-%u", w->index);
	pthread_setname_np(pthread_self(), name);

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!l->head && !p->closing)
			pthread_cond_wait(&l->cond, &p->lock);
		struct pjob *j = l->head;
		if (!j)
			break; /* closing and nothing left */
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->queued--;
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
		if (core__push_inbox(p->core, &c, true) != 0) {
			pthread_mutex_unlock(&p->lock);
			push_completion(p, j);
			pthread_mutex_lock(&p->lock);
		}
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
	p->workers = mqb__calloc(nthreads + INTERNAL_THREADS, sizeof *p->workers);
	if (!p->workers) {
		mqb__free(p);
		return -ENOMEM;
	}
	p->core = core;
	p->lanes[LANE_USER].queue_max = queue_max;
	p->lanes[LANE_INTERNAL].queue_max = INTERNAL_QUEUE_MAX;
	p->nthreads = nthreads + INTERNAL_THREADS;
	p->slow_seconds = slow_seconds;
	pthread_mutex_init(&p->lock, NULL);
	for (unsigned l = 0; l < LANES; l++)
		pthread_cond_init(&p->lanes[l].cond, NULL);
	/* Checked often enough to log a slow job within a quarter of the limit. */
	double every = slow_seconds / 4 < 1.0 ? slow_seconds / 4 : 1.0;
	ev_timer_init(&p->watchdog, watchdog_cb, every, every);
	p->watchdog.data = p;
	ev_timer_start(core->loop, &p->watchdog);
	ev_unref(core->loop); /* the watchdog alone keeps nothing alive */

	for (unsigned i = 0; i < nthreads + INTERNAL_THREADS; i++) {
		struct worker *w = &p->workers[i];
		w->pool = p;
		w->index = i;
		w->lane = i < nthreads ? LANE_USER : LANE_INTERNAL;
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

static int submit(struct pool *p, unsigned lane, const struct mqb_job *job, void *arg,
		  mqb_release_fn release, struct mqb_future *fut, bool final)
{
	MQB_ASSERT_LOOP(p->core);
	struct lane *l = &p->lanes[lane];
	struct pjob *j = mqb__malloc(sizeof *j);
	if (!j)
		return -ENOMEM;
	*j = (struct pjob){ .job = *job, .arg = arg, .release = release, .fut = fut,
			    .final = final };
	pthread_mutex_lock(&p->lock);
	int rc = 0;
	if (p->closing) {
		rc = -ESHUTDOWN;
	} else if (l->queued >= l->queue_max) {
		rc = -EAGAIN;
		p->rejected++;
	} else {
		lane_push(l, j);
		p->finals += final;
		p->submitted++;
		pthread_cond_signal(&l->cond);
	}
	unsigned queued = l->queued;
	pthread_mutex_unlock(&p->lock);
	if (rc) {
		mqb__free(j);
		if (rc == -EAGAIN)
			MQB_LOG_WARNING("executor", "%squeue full (%u jobs): %s rejected",
					lane == LANE_INTERNAL ? "internal " : "", queued,
					job->name ? job->name : "?");
	}
	return rc;
}

int pool__submit(struct pool *p, const struct mqb_job *job, void *arg, mqb_release_fn release,
		 struct mqb_future *fut, bool final)
{
	return submit(p, LANE_USER, job, arg, release, fut, final);
}

int pool__submit_internal(struct pool *p, const struct mqb_job *job, void *arg,
			  mqb_release_fn release, struct mqb_future *fut)
{
	return submit(p, LANE_INTERNAL, job, arg, release, fut, false);
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
	struct pjob *queued[LANES];
	for (unsigned l = 0; l < LANES; l++) {
		struct lane *ln = &p->lanes[l];
		struct pjob **cut = &queued[l], *q = ln->head;
		queued[l] = NULL;
		ln->head = ln->tail = NULL;
		ln->queued = 0;
		for (struct pjob *next; q; q = next) {
			next = q->next;
			q->next = NULL;
			if (q->final) {
				lane_push(ln, q);
			} else {
				*cut = q;
				cut = &q->next;
			}
		}
		pthread_cond_broadcast(&ln->cond);
	}
	pthread_mutex_unlock(&p->lock);
	/* Queued jobs never started: each completes once, cancelled. */
	for (unsigned l = 0; l < LANES; l++)
		cancel_list(p, queued[l], false);
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
	struct pjob *left[LANES];
	pthread_mutex_lock(&p->lock);
	for (unsigned l = 0; l < LANES; l++) {
		left[l] = p->lanes[l].head;
		p->lanes[l].head = p->lanes[l].tail = NULL;
		p->lanes[l].queued = 0;
	}
	p->finals = 0;
	pthread_mutex_unlock(&p->lock);
	for (unsigned l = 0; l < LANES; l++)
		cancel_list(p, left[l], true);
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
	for (unsigned l = 0; l < LANES; l++)
		pthread_cond_destroy(&p->lanes[l].cond);
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
	out->executor_queued = p->lanes[LANE_USER].queued + p->lanes[LANE_INTERNAL].queued;
	out->executor_running = p->running;
	pthread_mutex_unlock(&p->lock);
}
