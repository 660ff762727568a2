/* SPDX-License-Identifier: MIT */
/* The executor: a bounded pool of threads for blocking jobs, with an
 * internal lane user jobs cannot take. Submission and completion happen
 * on the loop thread; the job runs on a worker. */
#ifndef MQB_POOL_H
#define MQB_POOL_H

#include "core/core_impl.h"

int pool__new(struct mqb_core *core, unsigned nthreads, unsigned queue_max, double slow_seconds,
	      struct pool **out);
/* -EAGAIN when the queue is full, -ESHUTDOWN once closed. fut (may be
 * NULL) is a reference settled and dropped on completion; on error it is
 * not taken. A final job is not cancelled by pool__close: it runs, and
 * the shutdown waits for it as for a running one. */
int pool__submit(struct pool *p, const struct mqb_job *job, void *arg, mqb_release_fn release,
		 struct mqb_future *fut, bool final);
/* pool__submit on the internal lane: its own thread and queue, which user
 * jobs never occupy. For the daemon's own blocking work only (MQTT's
 * connect and subscription changes); -EAGAIN when its queue is full. */
int pool__submit_internal(struct pool *p, const struct mqb_job *job, void *arg,
			  mqb_release_fn release, struct mqb_future *fut);
/* mqb_async_run_job of an EXECUTOR job, on the internal lane. *out (may be
 * NULL) settles when it is done. Thread: loop. */
int job__async_run_internal(struct mqb_core *core, const struct mqb_job *job, void *arg,
			    mqb_release_fn release, struct mqb_future **out);
/* Stop accepting and cancel every queued job but the final ones
 * (-ECANCELED, on the loop). */
void pool__close(struct pool *p);
/* Jobs the shutdown waits for: on a thread now, or final and queued. */
unsigned pool__running(struct pool *p);
/* Join the workers; jobs still running are abandoned (their futures settle
 * with -ECANCELED now, their results are freed when they end) and logged. */
void pool__join(struct pool *p);
void pool__free(struct pool *p);
void pool__stats(struct pool *p, struct mqb_core_stats *out);

#endif
