/* SPDX-License-Identifier: MIT */
/* wait_template and wait_for_trigger: a run waits on the state machine
 * (Home Assistant's async_track_template) or on triggers, with a timeout,
 * and leaves the `wait` variable behind ({completed, remaining[,
 * trigger]}), kept private to a parallel branch. Nothing polls: the
 * tracker or the trigger settles the run's wait, a timer the timeout. */
#include "lib/internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "config/schema.h"
#include "ha/cv.h"
#include "ha/script_impl.h"
#include "mqbridge/future.h"
#include "mqbridge/timer.h"
#include "mqbridge/track.h"
#include "mqbridge/trigger.h"
#include "mqbridge/text.h"
#include "template/native.h"

size_t script__compile_triggers(const struct mqb_conf_node *node, const char *path,
				struct mqb_conf_errors *errs, struct mqb_triggers **out)
{
	return mqb_triggers_compile(node, path, errs, out);
}

void script__free_triggers(struct mqb_triggers *t)
{
	mqb_triggers_free(t);
}

/* One wait: what settles it, and what it found. Lives on the waiting
 * task's stack; whatever may settle it is gone before the task leaves. */
struct waiter {
	struct mqb_future *wake;
	bool first, truthy;
	json_t *trigger;          /* wait_for_trigger: the first firing's */
};

/* The tracked template rendered something new: the wait is over when it
 * turns true (from false, or from an error). */
static void on_template(void *ud, const struct mqb_event *ev, int status, const char *text)
{
	struct waiter *w = ud;
	(void)ev;
	bool truthy = status == 0 && cv__result_as_boolean(text);
	if (status)
		mqb_log(MQB_LOG_ERROR, "script", "Error while processing template: %s", text);
	if (w->first) {
		w->first = false;
	} else if (truthy && !w->truthy) {
		mqb_future_resolve(w->wake, 0, NULL, NULL);
	}
	w->truthy = truthy;
}

/* A trigger fired: the first firing ends the wait and is kept. */
static void on_trigger(void *ud, json_t *trigger, json_t *variables)
{
	struct waiter *w = ud;
	json_decref(variables);
	if (w->trigger) {
		json_decref(trigger);
		return;
	}
	w->trigger = trigger;
	mqb_future_resolve(w->wake, 0, NULL, NULL);
}

static void on_timeout(struct mqb_timer *tm, void *ud)
{
	(void)tm;
	mqb_future_resolve(ud, -ETIMEDOUT, NULL, NULL);
}

/* wait = {remaining, completed[, trigger]}, assigned as Home Assistant's
 * protected variable. */
static int set_wait(struct task *t, bool completed, bool has_timeout, double remaining,
		    bool with_trigger, json_t *trigger)
{
	json_t *w = json_pack("{s:b,s:o}", "completed", completed, "remaining",
			      has_timeout ? json_real(remaining) : json_null());
	if (!w) {
		json_decref(trigger);
		return -ENOMEM;
	}
	if (with_trigger && json_object_set_new(w, "trigger", trigger ? trigger : json_null())) {
		json_decref(w);
		return -ENOMEM;
	}
	return script__assign(t, "wait", w, true);
}

/* The already-true check of wait_template: the template as a condition,
 * true only when it renders true. */
static bool holds_now(struct task *t, const struct action *a)
{
	struct mqb_tpl_vars tv = script__tpl_vars(t);
	struct mqb_tpl_error e;
	char *text = NULL;
	size_t len = 0;
	bool yes = false;
	if (mqb_template_render(a->wait.tpl, &tv, NULL, &text, &len, &e) == 0) {
		const char *s = mqb_strip(text, &len);
		yes = len == 4 && strncasecmp(s, "true", 4) == 0;
	}
	mqb__free(text);
	return yes;
}

enum flow script__wait_action(struct task *t, const struct action *a)
{
	struct run *r = t->run;
	struct mqb_core *core = r->core;
	bool trig = a->type == A_WAIT_TRIGGER;
	const char *what = trig ? "wait for trigger" : "wait template";
	double timeout = 0;
	char err[256], when[DURATION_TEXT_MAX];

	if (a->wait.has_timeout) {
		struct mqb_tpl_vars tv = script__tpl_vars(t);
		int rc = duration__render(&a->wait.timeout, &tv, &timeout, err, sizeof err);
		if (rc == -ENOMEM)
			return script__fail(t, a, rc, false, "Unexpected error", "out of memory");
		if (rc) {
			script__log(t, MQB_LOG_ERROR, a, "Error rendering %s timeout template: %s",
				    r->s->name, err);
			return F_ABORT;
		}
		script__log(t, MQB_LOG_DEBUG, a, "Executing step %s (timeout: %s)",
			    a->alias ? a->alias : what, duration__format(timeout, when));
	} else {
		script__log(t, MQB_LOG_DEBUG, a, "Executing step %s", a->alias ? a->alias : what);
	}
	bool has_timeout = a->wait.has_timeout;
	if (set_wait(t, false, has_timeout, timeout, trig, NULL))
		goto nomem;

	/* wait_template that holds already: done, the whole timeout left */
	if (!trig && holds_now(t, a)) {
		if (set_wait(t, true, has_timeout, timeout, false, NULL))
			goto nomem;
		return F_NEXT;
	}
	/* a zero timeout times out at once, without looking (wait_for_trigger
	 * does not even attach) */
	bool timed_out = has_timeout && timeout <= 0;
	double deadline = mqb_async_now(core) + timeout;
	if (!timed_out) {
		struct mqb_future *wake = mqb_future_new(core);
		struct waiter w = { .wake = wake, .first = true };
		struct mqb_track *tr = NULL;
		struct mqb_trigger_attach *at = NULL;
		struct mqb_timer *tm = NULL;
		int rc = wake ? 0 : -ENOMEM;
		if (!rc && has_timeout)
			rc = mqb_async_call_later(core, timeout, on_timeout, wake, &tm);
		if (!rc && trig) {
			/* the triggers see the run's variables as they are now */
			struct mqb_trigger_attach_options opt = { .variables = script__view(t),
								  .log_name = r->s->name };
			rc = mqb_triggers_async_attach(core, a->wait.triggers, &opt, on_trigger, &w,
						       &at);
			if (rc && rc != -ENOMEM) {
				/* none attached: Home Assistant goes on, wait unchanged */
				script__log(t, MQB_LOG_ERROR, a, "Error setting up trigger: %s",
					    mqb_strerror(rc));
				mqb_async_timer_cancel(tm);
				mqb_future_unref(wake);
				return F_NEXT;
			}
		} else if (!rc) {
			struct mqb_track_template_options opt = { .variables = script__view(t),
								  .fire_first = true,
								  .text = a->wait.text };
			rc = mqb_async_track_template(core, a->wait.tpl, &opt, on_template, &w, &tr);
		}
		if (!rc)
			rc = script__wait(t, wake);
		mqb_triggers_async_detach(at);
		mqb_async_track_cancel(tr);
		mqb_async_timer_cancel(tm);
		mqb_future_unref(wake);
		if (rc == -ECANCELED) {
			json_decref(w.trigger);
			return F_CANCEL; /* wait stays {completed: false, ...} */
		}
		if (rc == -ETIMEDOUT) {
			json_decref(w.trigger);
			timed_out = true;
		} else if (rc) {
			json_decref(w.trigger);
			return script__fail(t, a, rc, false, "Unexpected error", "%s",
					    mqb_strerror(rc));
		} else {
			double left = deadline - mqb_async_now(core);
			if (set_wait(t, true, has_timeout, left > 0 ? left : 0, trig, w.trigger))
				goto nomem;
			return F_NEXT;
		}
	}
	/* the timeout */
	if (set_wait(t, false, true, 0, trig, NULL))
		goto nomem;
	if (!a->wait.continue_on_timeout) {
		script__log(t, MQB_LOG_INFO, NULL, "Timeout reached, abort script.");
		return F_ABORT;
	}
	return F_NEXT;
nomem:
	return script__fail(t, a, -ENOMEM, false, "Unexpected error", "out of memory");
}
