/* SPDX-License-Identifier: MIT */
/* The dispatcher: runs a job per its declared kind, as Home Assistant's
 * async_run_hass_job / _async_add_hass_job do (DESIGN §2). CALLBACK jobs are
 * queued by value on the ready queue, so add_job allocates nothing unless the
 * caller asks for a future. */
#include "core/core_impl.h"

#include <errno.h>

#include "core/pool.h"

void job__release(const struct mqb_job *job, void *arg, mqb_release_fn release, int status,
		  void *result, struct mqb_future *fut)
{
	if (fut) {
		if (mqb_future_resolve(fut, status, result, job->result_free) != 0 && result &&
		    job->result_free)
			job->result_free(result);
		mqb_future_unref(fut);
	} else if (result && job->result_free) {
		job->result_free(result);
	}
	if (release)
		release(arg);
}

static inline void run_callback(const struct mqb_job *job, void *arg, mqb_release_fn release,
				struct mqb_future *fut)
{
	void *result = NULL;
	int st = job->fn(job->ud, arg, &result);
	if (st == 0 && !fut && !result && !release)
		return; /* the common case: nothing to hand over */
	job__release(job, arg, release, st, result, fut);
}

static void callback_run(struct mqb_core *core, struct call *c)
{
	run_callback(&c->job, c->arg, c->release, c->fut);
}

enum how { LATER, NOW, INTERNAL };

/* fut: a reference to settle when the job is done (NULL: nobody asked). On
 * error nothing ran and fut is not taken. */
static int dispatch(struct mqb_core *core, const struct mqb_job *job, void *arg,
		    mqb_release_fn release, struct mqb_future *fut, enum how how)
{
	MQB_ASSERT_LOOP(core);
	MQB_CHECK(job && job->fn, "a job needs a function");
	switch (job->kind) {
	case MQB_JOB_CALLBACK:
		if (how == NOW) {
			run_callback(job, arg, release, fut);
			return 0;
		}
		return core__push_ready(core, &(struct call){ .run = callback_run, .job = *job,
							      .arg = arg, .release = release,
							      .fut = fut });
	case MQB_JOB_COROUTINE:
		return coro__spawn(core, job, arg, release, fut);
	case MQB_JOB_EXECUTOR:
		if (how == INTERNAL)
			return pool__submit_internal(core->pool, job, arg, release, fut);
		return pool__submit(core->pool, job, arg, release, fut, false);
	}
	MQB_ABORT("job %s has no kind (%d)", job->name ? job->name : "?", (int)job->kind);
}

static int dispatch_out(struct mqb_core *core, const struct mqb_job *job, void *arg,
			mqb_release_fn release, struct mqb_future **out, enum how how)
{
	if (!out)
		return dispatch(core, job, arg, release, NULL, how);
	struct mqb_future *f = mqb_future_new(core);
	if (!f)
		return -ENOMEM;
	int rc = dispatch(core, job, arg, release, mqb_future_ref(f), how);
	if (rc) {
		mqb_future_unref(f);
		mqb_future_unref(f);
		return rc;
	}
	*out = f;
	return 0;
}

int mqb_async_run_job(struct mqb_core *core, const struct mqb_job *job, void *arg,
		      mqb_release_fn release, struct mqb_future **out)
{
	return dispatch_out(core, job, arg, release, out, NOW);
}

int job__async_run_internal(struct mqb_core *core, const struct mqb_job *job, void *arg,
			    mqb_release_fn release, struct mqb_future **out)
{
	MQB_CHECK(job->kind == MQB_JOB_EXECUTOR, "the internal lane runs executor jobs");
	return dispatch_out(core, job, arg, release, out, INTERNAL);
}

int core__async_add_final_job(struct mqb_core *core, const struct mqb_job *job, void *arg,
			      mqb_release_fn release, struct mqb_future **out)
{
	MQB_ASSERT_LOOP(core);
	MQB_CHECK(job && job->fn && job->kind == MQB_JOB_EXECUTOR,
		  "a final job is an executor job");
	struct mqb_future *f = out ? mqb_future_new(core) : NULL;
	if (out && !f)
		return -ENOMEM;
	int rc = pool__submit(core->pool, job, arg, release, f ? mqb_future_ref(f) : NULL, true);
	if (rc) {
		if (f) {
			mqb_future_unref(f);
			mqb_future_unref(f);
		}
		return rc;
	}
	if (out)
		*out = f;
	return 0;
}

int mqb_async_add_job(struct mqb_core *core, const struct mqb_job *job, void *arg,
		      mqb_release_fn release, struct mqb_future **out)
{
	if (job->kind == MQB_JOB_CALLBACK && !out && job->fn) {
		/* The hot path (a handler per message or event): written
		 * straight into the ready queue. */
		struct call *c = core__ready_slot(core);
		if (!c)
			return core->loop_done ? -ESHUTDOWN : -ENOMEM;
		c->run = callback_run;
		c->job = *job;
		c->arg = arg;
		c->release = release;
		c->fut = NULL;
		return 0;
	}
	return dispatch_out(core, job, arg, release, out, LATER);
}

/* mqb_add_job's hop onto the loop. The caller has long returned, so errors
 * found here settle the future and release the argument. */
static void add_job_run(struct mqb_core *core, struct call *c)
{
	int rc = -ECANCELED;
	if (!core->loop_done)
		rc = dispatch(core, &c->job, c->arg, c->release, c->fut, LATER);
	if (rc)
		job__release(&c->job, c->arg, c->release, rc, NULL, c->fut);
}

int mqb_add_job(struct mqb_core *core, const struct mqb_job *job, void *arg,
		mqb_release_fn release, struct mqb_future **out)
{
	if (mqb_core_in_loop_thread(core))
		return mqb_async_add_job(core, job, arg, release, out);
	MQB_CHECK(job && job->fn, "a job needs a function");
	struct call c = { .run = add_job_run, .job = *job, .arg = arg, .release = release };
	return core__post(core, &c, out);
}
