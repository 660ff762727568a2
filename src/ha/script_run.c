/* SPDX-License-Identifier: MIT */
/* Script runs: each a COROUTINE job on the loop, held by its script under
 * Home Assistant's modes (single, restart, queued, parallel with max and
 * max_exceeded). A run's variables live in a chain of scopes as Home
 * Assistant 2025.4 keeps them; every wait of a run is a future the run
 * owns, so stopping it (restart, turn_off, shutdown) cancels each pending
 * wait at once and the run unwinds through its own code. */
#include "lib/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ha/script_impl.h"
#include "mqbridge/coro.h"
#include "mqbridge/future.h"
#include "mqbridge/job.h"
#include "mqbridge/services.h"
#include "mqbridge/timer.h"

/* ---- logging ---------------------------------------------------------------------- */

void script__log(const struct task *t, enum mqb_log_level level, const struct action *a,
		 const char *fmt, ...)
{
	if (level < mqb_log_get_level())
		return; /* nothing formatted: the common case costs a compare */
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (a)
		mqb_log(level, "script", "%s: %s: %s", t->run->s->name, a->path, msg);
	else
		mqb_log(level, "script", "%s: %s", t->run->s->name, msg);
}

enum flow script__fail(struct task *t, const struct action *a, int err, bool continuable,
		       const char *desc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t->err = err < 0 ? err : -EINVAL;
	t->continuable = continuable;
	/* Once, here, where it failed: the blocks around it do not log it
	 * again. Home Assistant's words, and the action's path. */
	mqb_log(MQB_LOG_ERROR, "script", "%s: %s: Error executing script. %s for %s: %s",
		t->run->s->name, a->path, desc, script__type_names[a->type], msg);
	return F_ERROR;
}

/* ---- scopes ----------------------------------------------------------------------- */

void script__enter(struct task *t, struct frame *f, bool branch)
{
	memset(f, 0, sizeof *f);
	f->parent = t->scope;
	f->branch = branch;
	t->scope = f;
}

void script__leave(struct task *t, struct frame *f)
{
	t->scope = f->parent;
	json_decref(f->vars);
	json_decref(f->view);
	if (f->vars)
		t->run->gen++; /* names defined there are gone */
}

static void overlay(json_t *view, const struct frame *f, const struct frame *top)
{
	if (f == top)
		return;
	overlay(view, f->parent, top);
	if (f->vars)
		json_object_update(view, f->vars);
}

const json_t *script__view(struct task *t)
{
	struct run *r = t->run;
	bool inner = false;
	for (const struct frame *f = t->scope; f && f != &r->top; f = f->parent)
		if (f->vars && json_object_size(f->vars))
			inner = true;
	if (!inner)
		return r->top.vars; /* no loop or branch variable: the top scope is all */
	struct frame *f = t->scope;
	if (f->view && f->view_gen == r->gen)
		return f->view;
	json_t *v = json_copy(r->top.vars);
	if (!v)
		return r->top.vars;
	overlay(v, f, &r->top);
	json_decref(f->view);
	f->view = v;
	f->view_gen = r->gen;
	return v;
}

const json_t *script__lookup(struct task *t, const char *name)
{
	for (const struct frame *f = t->scope; f; f = f->parent) {
		const json_t *v = f->vars ? json_object_get(f->vars, name) : NULL;
		if (v)
			return v;
	}
	return NULL;
}

int script__define(struct task *t, struct frame *f, const char *name, json_t *value)
{
	t->run->gen++;
	if (!f->vars && !(f->vars = json_object())) {
		json_decref(value);
		return -ENOMEM;
	}
	return json_object_set_new(f->vars, name, value) ? -ENOMEM : 0;
}

int script__assign(struct task *t, const char *name, json_t *value, bool protect)
{
	struct run *r = t->run;
	r->gen++;
	for (struct frame *f = t->scope; f && f != &r->top; f = f->parent) {
		bool has = f->vars && json_object_get(f->vars, name);
		if (f->branch && has && !protect) {
			/* an ordinary assignment replaces a branch's own copy */
			json_object_del(f->vars, name);
			continue;
		}
		if (has || (f->branch && protect))
			return script__define(t, f, name, value);
	}
	return json_object_set_new(r->top.vars, name, value) ? -ENOMEM : 0;
}

struct mqb_tpl_vars script__tpl_vars(struct task *t)
{
	struct mqb_core *core = t->run->core;
	return (struct mqb_tpl_vars){ .core = core, .variables = script__view(t),
				      .now = mqb_async_now(core) };
}

/* ---- tasks and waits ----------------------------------------------------------------- */

static void task_link(struct run *r, struct task *t)
{
	t->run = r;
	t->prev = NULL;
	t->next = r->tasks;
	if (r->tasks)
		r->tasks->prev = t;
	r->tasks = t;
	r->refs++;
}

static void run_unref(struct run *r);

static void task_unlink(struct task *t)
{
	struct run *r = t->run;
	if (t->prev)
		t->prev->next = t->next;
	else
		r->tasks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	run_unref(r);
}

int script__wait(struct task *t, struct mqb_future *wake)
{
	struct run *r = t->run;
	if (r->stopping) {
		mqb_future_cancel(wake);
		return -ECANCELED;
	}
	t->wake = wake;
	int rc = mqb_await(wake, NULL);
	t->wake = NULL;
	if (rc == -ECANCELED || r->stopping) {
		/* stopped, or the core is shutting down: either way, unwind */
		r->stopping = true;
		mqb_future_cancel(wake);
		return -ECANCELED;
	}
	return rc;
}

static void stop_run(struct run *r)
{
	r->stopping = true;
	for (struct task *t = r->tasks; t; t = t->next)
		if (t->wake)
			mqb_future_cancel(t->wake);
}

/* ---- sequences ---------------------------------------------------------------------- */

enum flow script__seq(struct task *t, const struct seq *q)
{
	for (size_t i = 0; i < q->n; i++) {
		if (t->run->stopping)
			return F_CANCEL;
		const struct action *a = q->v[i];
		enum flow f = script__exec(t, a);
		if (f == F_NEXT)
			continue;
		/* continue_on_error goes past what Home Assistant calls the
		 * action's own failure, never past an unknown service, bad
		 * data or a template error (task->continuable says which) */
		if (f == F_ERROR && a->continue_on_error && t->continuable) {
			t->err = 0;
			continue;
		}
		return f;
	}
	return F_NEXT;
}

enum flow script__block(struct task *t, const struct seq *q)
{
	struct frame f;
	script__enter(t, &f, false);
	enum flow r = script__seq(t, q);
	script__leave(t, &f);
	/* a false condition ends this block only */
	return r == F_COND_FAIL ? F_NEXT : r;
}

/* ---- parallel -------------------------------------------------------------------------- */

/* Shared by a parallel step and its branches: a branch may outlive the
 * step's wait (the core cancels coroutines at shutdown in any order). */
struct par {
	unsigned refs;
	struct run *run;
	struct frame *scope;      /* the step's scope, the branches' parent */
	const struct action *a;
	struct {
		enum flow flow;
		int err;
		bool continuable;
	} res[];
};

struct branch {
	struct par *p;
	size_t i;
};

static void par_unref(struct par *p)
{
	if (--p->refs)
		return;
	run_unref(p->run);
	mqb__free(p);
}

static int branch_main(void *ud, void *arg, void **result)
{
	struct branch *b = arg;
	struct par *p = b->p;
	struct task t = { 0 };
	struct frame f;
	enum flow flow = F_CANCEL;
	task_link(p->run, &t);
	t.scope = p->scope;
	script__enter(&t, &f, true);
	if (!p->run->stopping)
		flow = script__seq(&t, &p->a->parallel.branches[b->i]);
	script__leave(&t, &f);
	p->res[b->i].flow = flow == F_COND_FAIL ? F_NEXT : flow;
	p->res[b->i].err = t.err;
	p->res[b->i].continuable = t.continuable;
	task_unlink(&t);
	return 0;
}

static void branch_release(void *arg)
{
	struct branch *b = arg;
	par_unref(b->p);
	mqb__free(b);
}

enum flow script__parallel(struct task *t, const struct action *a)
{
	size_t n = a->parallel.n;
	struct run *r = t->run;
	struct par *p = mqb__calloc(1, sizeof *p + n * sizeof p->res[0]);
	struct mqb_future **done = mqb__calloc(n ? n : 1, sizeof *done);
	if (!p || !done) {
		mqb__free(p);
		mqb__free(done);
		return script__fail(t, a, -ENOMEM, false, "Unexpected error", "out of memory");
	}
	p->refs = 1;
	p->run = r;
	r->refs++;
	p->scope = t->scope;
	p->a = a;
	for (size_t i = 0; i < n; i++)
		p->res[i].flow = F_CANCEL;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		struct branch *b = mqb__malloc(sizeof *b);
		if (!b) {
			rc = -ENOMEM;
			break;
		}
		*b = (struct branch){ p, i };
		p->refs++;
		struct mqb_job job = MQB_COROUTINE(branch_main, NULL);
		if ((rc = mqb_async_run_job(r->core, &job, b, branch_release, &done[i]))) {
			p->refs--;
			mqb__free(b);
		}
	}
	/* Every branch runs to its end, whatever the others do; a stop
	 * reaches each of them, as each is a task of this run. */
	for (size_t i = 0; i < n; i++) {
		if (!done[i])
			continue;
		if (mqb_await(done[i], NULL) == -ECANCELED)
			r->stopping = true; /* the core is shutting down */
		mqb_future_unref(done[i]);
	}
	mqb__free(done);
	enum flow flow = F_NEXT;
	if (r->stopping) {
		flow = F_CANCEL;
	} else if (rc) {
		flow = script__fail(t, a, rc, false, "Unexpected error", "could not start a branch: %s",
				    mqb_strerror(rc));
	} else {
		/* the first branch (in order) that did not simply end decides */
		for (size_t i = 0; i < n && flow == F_NEXT; i++) {
			flow = p->res[i].flow;
			if (flow == F_ERROR) {
				t->err = p->res[i].err;
				t->continuable = p->res[i].continuable;
			}
		}
	}
	par_unref(p);
	return flow;
}

/* ---- runs ------------------------------------------------------------------------------ */

static void run_unref(struct run *r)
{
	if (--r->refs)
		return;
	mqb__free(r->path);
	json_decref(r->top.vars);
	json_decref(r->top.view);
	json_decref(r->response);
	mqb_future_unref(r->done);
	mqb__free(r);
}

static void settle_stops(struct mqb_script *s)
{
	if (s->nruns)
		return;
	for (size_t i = 0; i < s->nstops; i++) {
		mqb_future_resolve(s->stops[i], 0, NULL, NULL);
		mqb_future_unref(s->stops[i]);
	}
	s->nstops = 0;
}

static void changed(struct mqb_script *s)
{
	if (s->on_change)
		s->on_change(s->ud, s);
}

static void spawn(struct run *r);

static void release_json(void *p)
{
	json_decref(p);
}

/* The run is over: settle its future, leave the script, start what waits. */
static void end_run(struct run *r, enum flow flow, int err)
{
	struct mqb_script *s = r->s;
	if (r->ended)
		return;
	r->ended = true;
	int status = 0;
	const char *how = "finished";
	switch (flow) {
	case F_ERROR:
		status = err ? err : -EINVAL;
		how = "error";
		break;
	case F_CANCEL:
		status = -ECANCELED;
		how = "cancelled";
		break;
	case F_ABORT:
	case F_COND_FAIL:
		how = "aborted";
		break;
	default:
		break;
	}
	json_t *response = NULL;
	if (status == 0 && s->respond_variables) {
		response = json_incref(r->top.vars);
	} else if (status == 0) {
		response = r->response ? r->response : json_object();
		r->response = NULL;
	}
	mqb_log(MQB_LOG_DEBUG, "script", "%s: run %s", s->name, how);
	if (mqb_future_resolve(r->done, status, response, release_json) < 0)
		json_decref(response);

	if (r->prev)
		r->prev->next = r->next;
	else
		s->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		s->runs_tail = r->prev;
	s->nruns--;
	r->prev = r->next = NULL;

	/* queued: the next in line starts (not when a waiting one was
	 * dropped by a stop); restart: the new run starts once every older
	 * one has unwound */
	if (s->mode == MQB_SCRIPT_QUEUED && r->spawned) {
		for (struct run *n = s->runs; n; n = n->next)
			if (!n->spawned) {
				spawn(n);
				break;
			}
	} else if (s->mode == MQB_SCRIPT_RESTART && s->runs && s->runs->turn) {
		mqb_future_resolve(s->runs->turn, 0, NULL, NULL);
	}
	changed(s);
	settle_stops(s);
	run_unref(r); /* the script's reference */
}

static int run_main(void *ud, void *arg, void **result)
{
	struct run *r = arg;
	struct mqb_script *s = r->s;
	struct task t = { 0 };
	task_link(r, &t);
	t.scope = &r->top;
	enum flow flow = F_CANCEL;
	int rc = 0;
	/* restart: the older runs were told to stop; this one starts when
	 * they have unwound (Home Assistant waits for them likewise) */
	while (s->mode == MQB_SCRIPT_RESTART && !r->stopping && r->prev && rc == 0) {
		if (!(r->turn = mqb_future_new(r->core))) {
			rc = -ENOMEM;
			break;
		}
		rc = script__wait(&t, r->turn);
		mqb_future_unref(r->turn);
		r->turn = NULL;
	}
	if (!r->stopping && rc == 0)
		flow = script__seq(&t, &s->seq);
	if (r->stopping)
		flow = F_CANCEL;
	end_run(r, flow, t.err);
	task_unlink(&t);
	return 0;
}

/* After the job, whether it ran or not (a coroutine cancelled before it
 * started never runs its function). */
static void run_release(void *arg)
{
	struct run *r = arg;
	end_run(r, F_CANCEL, 0);
	run_unref(r);
}

static void spawn(struct run *r)
{
	struct mqb_script *s = r->s;
	r->spawned = true;
	r->refs++;
	mqb_log(MQB_LOG_INFO, "script", "%s: Running %s", s->name,
		strncmp(s->name, "automation.", 11) == 0 ? "automation actions" : "script sequence");
	struct mqb_job job = MQB_COROUTINE(run_main, NULL);
	int rc = mqb_async_run_job(r->core, &job, r, run_release, NULL);
	if (rc) {
		mqb_log(MQB_LOG_ERROR, "script", "%s: could not start: %s", s->name, mqb_strerror(rc));
		r->refs--;
		end_run(r, F_ERROR, rc);
	}
}

static void refuse(struct mqb_script *s, const char *what)
{
	if (!s->max_exceeded_silent)
		mqb_log(s->max_exceeded, "script", "%s: %s", s->name, what);
}

/* ---- the call path (Home Assistant's script stack) ---------------------------------- */

/* The calls runs wait for now. Only the loop thread runs scripts. */
static __thread struct pending_call *pending_calls;

void script__call_begin(struct pending_call *pc, struct run *r, const json_t *data)
{
	pc->data = data;
	pc->run = r;
	pc->next = pending_calls;
	pending_calls = pc;
}

void script__call_end(struct pending_call *pc)
{
	for (struct pending_call **pp = &pending_calls; *pp; pp = &(*pp)->next)
		if (*pp == pc) {
			*pp = pc->next;
			return;
		}
}

/* The run that made call and waits for it, or NULL. */
static struct run *caller_of(const struct mqb_service_call *call)
{
	const json_t *data = call ? mqb_service_call_data(call) : NULL;
	for (struct pending_call *pc = pending_calls; data && pc; pc = pc->next)
		if (pc->data == data)
			return pc->run;
	return NULL;
}

/* r's path: the caller's, then the caller's own script. */
static int inherit_path(struct run *r, const struct run *caller)
{
	r->path = mqb__malloc((caller->npath + 1) * sizeof *r->path);
	if (!r->path)
		return -ENOMEM;
	if (caller->npath)
		memcpy(r->path, caller->path, caller->npath * sizeof *r->path);
	r->path[caller->npath] = caller->s;
	r->npath = caller->npath + 1;
	return 0;
}

/* Whether s is on caller's path (its own script included): a restart or
 * queued script there would restart or wait for itself. Logged as Home
 * Assistant logs it, the path on the same line. */
static bool recursion(const struct mqb_script *s, const struct run *caller)
{
	if (!caller || (s->mode != MQB_SCRIPT_RESTART && s->mode != MQB_SCRIPT_QUEUED))
		return false;
	bool found = caller->s == s;
	for (unsigned i = 0; i < caller->npath && !found; i++)
		found = caller->path[i] == s;
	if (!found)
		return false;
	char trace[512] = "";
	size_t off = 0;
	for (unsigned i = 0; i <= caller->npath && off < sizeof trace; i++) {
		const struct mqb_script *p = i < caller->npath ? caller->path[i] : caller->s;
		off += (size_t)snprintf(trace + off, sizeof trace - off, " - %s", p->name);
	}
	mqb_log(MQB_LOG_WARNING, "script",
		"%s: Disallowed recursion detected, %s tried to start %s which is already running "
		"in the current execution path; Traceback (most recent call last):%s",
		s->name, caller->s->name, s->name, trace);
	return true;
}

/* ---- starting and stopping ------------------------------------------------------------ */

static int run_start(struct mqb_core *core, struct mqb_script *s, json_t *variables,
		     const struct run *caller, struct mqb_future **out);

int mqb_script_async_run(struct mqb_core *core, struct mqb_script *s, json_t *variables,
			 struct mqb_future **out)
{
	MQB_ASSERT_LOOP(core);
	return run_start(core, s, variables, NULL, out);
}

int mqb_script_async_run_call(struct mqb_core *core, struct mqb_script *s, json_t *variables,
			      const struct mqb_service_call *call, struct mqb_future **out)
{
	MQB_ASSERT_LOOP(core);
	const struct run *caller = caller_of(call);
	if (recursion(s, caller)) {
		if (out)
			*out = NULL;
		json_decref(variables);
		return -EDEADLK;
	}
	return run_start(core, s, variables, caller, out);
}

static int run_start(struct mqb_core *core, struct mqb_script *s, json_t *variables,
		     const struct run *caller, struct mqb_future **out)
{
	int rc;
	struct run *r = NULL;
	if (out)
		*out = NULL;
	if (mqb_core_is_stopping(core)) {
		mqb_log(MQB_LOG_INFO, "script", "%s: mqbridge is shutting down, starting script blocked",
			s->name);
		rc = -ESHUTDOWN;
		goto fail;
	}
	if (s->nruns) {
		if (s->mode == MQB_SCRIPT_SINGLE) {
			refuse(s, "Already running");
			rc = -EBUSY;
			goto fail;
		}
		if (s->mode != MQB_SCRIPT_RESTART && s->nruns >= s->max) {
			refuse(s, "Maximum number of runs exceeded");
			rc = -EBUSY;
			goto fail;
		}
	}
	if (variables && !json_is_object(variables)) {
		rc = -EINVAL;
		goto fail;
	}
	r = mqb__calloc(1, sizeof *r);
	if (!r) {
		rc = -ENOMEM;
		goto fail;
	}
	r->s = s;
	r->core = core;
	r->refs = 1;
	/* the run assigns into it: a copy of our own, unless ours is the
	 * only reference */
	if (variables && variables->refcount == 1)
		r->top.vars = json_incref(variables);
	else
		r->top.vars = variables ? json_copy(variables) : json_object();
	if (!r->top.vars || !(r->done = mqb_future_new(core)) ||
	    (caller && inherit_path(r, caller))) {
		rc = -ENOMEM;
		goto fail;
	}
	if (s->variables) {
		char err[256];
		rc = mqb_script_variables_async_render(core, s->variables, r->top.vars, true, err,
						       sizeof err);
		if (rc) {
			mqb_log(MQB_LOG_ERROR, "script", "%s: Error rendering variables: %s", s->name,
				err);
			goto fail;
		}
	}
	json_decref(variables);
	variables = NULL;

	r->prev = s->runs_tail;
	if (s->runs_tail)
		s->runs_tail->next = r;
	else
		s->runs = r;
	s->runs_tail = r;
	s->nruns++;
	if (out)
		*out = mqb_future_ref(r->done);
	if (s->mode == MQB_SCRIPT_RESTART && r->prev) {
		mqb_log(MQB_LOG_INFO, "script", "%s: Restarting", s->name);
		for (struct run *o = s->runs; o != r; o = o->next)
			stop_run(o);
	}
	s->core = core;
	changed(s);
	/* queued: it waits, counted, for those before it */
	if (s->mode != MQB_SCRIPT_QUEUED || !r->prev)
		spawn(r);
	return 0;

fail:
	json_decref(variables);
	if (r) {
		mqb__free(r->path);
		json_decref(r->top.vars);
		mqb_future_unref(r->done);
		mqb__free(r);
	}
	return rc;
}

int mqb_script_async_stop(struct mqb_script *s, struct mqb_future **out)
{
	struct mqb_core *core = s->core;
	if (out)
		*out = NULL;
	/* queued runs that never started just go; the others unwind */
	struct run *next;
	for (struct run *r = s->runs; r; r = next) {
		next = r->next;
		if (r->spawned) {
			stop_run(r);
		} else {
			r->stopping = true;
			end_run(r, F_CANCEL, 0);
		}
	}
	if (!out || !core)
		return 0; /* never ran: nothing to wait for (*out stays NULL) */
	struct mqb_future *f = mqb_future_new(core);
	if (!f)
		return -ENOMEM;
	if (s->nruns == 0) {
		mqb_future_resolve(f, 0, NULL, NULL);
		*out = f;
		return 0;
	}
	struct mqb_future **v = mqb__realloc(s->stops, (s->nstops + 1) * sizeof *v);
	if (!v) {
		mqb_future_unref(f);
		return -ENOMEM;
	}
	s->stops = v;
	s->stops[s->nstops++] = mqb_future_ref(f);
	*out = f;
	return 0;
}

unsigned mqb_script_async_runs(const struct mqb_script *s)
{
	return s->nruns;
}

bool mqb_script_async_running(const struct mqb_script *s)
{
	return s->nruns > 0;
}

int mqb_script_variables_async_render(struct mqb_core *core, const struct mqb_script_variables *v,
				      json_t *variables, bool as_defaults, char *err,
				      size_t errlen)
{
	for (size_t i = 0; i < v->vb.n; i++) {
		const char *name = v->vb.names[i];
		if (as_defaults && json_object_get(variables, name))
			continue; /* the run's own win */
		struct mqb_tpl_vars tv = { .core = core, .variables = variables,
					   .now = mqb_async_now(core) };
		struct mqb_tpl_error e;
		json_t *out;
		int rc = tval__render(&v->vb.values[i], &tv, &out, &e);
		if (rc) {
			if (err && errlen)
				snprintf(err, errlen, "%s", rc == -ENOMEM ? "out of memory" : e.message);
			return rc == -ENOMEM ? rc : -EINVAL;
		}
		if (json_object_set_new(variables, name, out))
			return -ENOMEM;
	}
	return 0;
}
