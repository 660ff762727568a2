/* SPDX-License-Identifier: MIT */
/* What each action does in a run, as Home Assistant's _ScriptRun steps do
 * it: service calls with target and data rendered, delays awaiting a
 * timer, events, conditions, choose, if, repeat, sequences, variables and
 * stop, with Home Assistant's log lines and its rules for which errors end
 * a run and which continue_on_error goes past. */
#include "lib/internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ha/condition_impl.h"
#include "core/hass.h"
#include "core/loop.h"
#include "ha/script_impl.h"
#include "mqbridge/bus.h"
#include "mqbridge/coro.h"
#include "mqbridge/future.h"
#include "mqbridge/json.h"
#include "mqbridge/services.h"
#include "mqbridge/states.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"
#include "template/native.h"

/* Home Assistant's while/until guards. */
#define REPEAT_WARN_ITERATIONS 5000
#define REPEAT_TERMINATE_ITERATIONS 10000

static const char *step_text(const struct action *a, const char *dflt)
{
	return a->alias ? a->alias : dflt;
}

/* ---- waiting -------------------------------------------------------------------- */

static void wake_on_done(struct mqb_future *f, void *ud)
{
	(void)f;
	mqb_future_resolve(ud, 0, NULL, NULL);
	mqb_future_unref(ud);
}

/* The timer borrows the wake future: the waiting task cancels the timer
 * before it lets go of the future. */
static void wake_on_timer(struct mqb_timer *tm, void *ud)
{
	(void)tm;
	mqb_future_resolve(ud, 0, NULL, NULL);
}

/* Wait for f (someone else's future) to settle, as a wait the run can
 * stop. 0, or -ECANCELED. */
static int wait_for(struct task *t, struct mqb_future *f)
{
	if (mqb_future_done(f))
		return 0; /* a CALLBACK handler: nothing to wait for */
	struct mqb_future *wake = mqb_future_new(t->run->core);
	if (!wake)
		return -ENOMEM;
	int rc = mqb_future_async_add_done(f, wake_on_done, mqb_future_ref(wake));
	if (rc) {
		mqb_future_unref(wake);
		mqb_future_unref(wake);
		return rc;
	}
	rc = script__wait(t, wake);
	mqb_future_unref(wake);
	return rc;
}

/* Sleep seconds on the loop's timers (the fake clock moves them in
 * tests). 0, or -ECANCELED. */
static int sleep_for(struct task *t, double seconds)
{
	struct mqb_future *wake = mqb_future_new(t->run->core);
	struct mqb_timer *tm = NULL;
	if (!wake)
		return -ENOMEM;
	int rc = mqb_async_call_later(t->run->core, seconds, wake_on_timer, wake, &tm);
	if (rc) {
		mqb_future_unref(wake);
		return rc == -ESHUTDOWN ? -ECANCELED : rc;
	}
	rc = script__wait(t, wake);
	mqb_async_timer_cancel(tm);
	mqb_future_unref(wake);
	return rc;
}

static void wake_soon(void *ud)
{
	mqb_future_resolve(ud, 0, NULL, NULL);
	mqb_future_unref(ud);
}

/* Let the loop run what is queued (asyncio.sleep(0) between a loop's
 * iterations). */
static int yield(struct task *t)
{
	struct mqb_future *wake = mqb_future_new(t->run->core);
	if (!wake)
		return -ENOMEM;
	int rc = mqb_async_call_soon(t->run->core, wake_soon, mqb_future_ref(wake));
	if (rc) {
		mqb_future_unref(wake);
		mqb_future_unref(wake);
		return rc;
	}
	rc = script__wait(t, wake);
	mqb_future_unref(wake);
	return rc;
}

/* ---- service calls ---------------------------------------------------------------- */

/* Entity ids as cv.comp_entity_ids takes them from a rendered value: a
 * list, or text of comma-separated ids; lowercased. NULL when invalid. */
static json_t *entity_id_list(const json_t *v)
{
	json_t *out = json_array();
	if (!out)
		return NULL;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		for (size_t b = 0, i = 0; i <= len; i++) {
			if (i < len && s[i] != ',')
				continue;
			size_t n = i - b;
			const char *p = mqb_strip(s + b, &n);
			json_array_append_new(out, json_stringn(p, n));
			b = i + 1;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) {
			if (!json_is_string(x))
				goto bad;
			json_array_append(out, x);
		}
	} else {
		goto bad;
	}
	size_t i;
	json_t *x;
	json_array_foreach(out, i, x) {
		char id[MQB_MAX_ENTITY_ID_LEN + 1];
		snprintf(id, sizeof id, "%s", json_string_value(x));
		for (char *p = id; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		bool special = json_array_size(out) == 1 && (!strcmp(id, "all") || !strcmp(id, "none"));
		if (!special && !mqb_entity_id_valid(id))
			goto bad;
		json_array_set_new(out, i, json_string(id));
	}
	if (json_array_size(out) == 1 && json_is_string(v)) {
		const char *only = json_string_value(json_array_get(out, 0));
		if (!strcmp(only, "all") || !strcmp(only, "none")) {
			json_t *s = json_string(only);
			json_decref(out);
			return s;
		}
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "dict";
	case JSON_ARRAY: return "list";
	case JSON_STRING: return "str";
	case JSON_INTEGER: return "int";
	case JSON_REAL: return "float";
	case JSON_TRUE:
	case JSON_FALSE: return "bool";
	default: return "NoneType";
	}
}

static enum flow do_call(struct task *t, const struct action *a)
{
	struct mqb_core *core = t->run->core;
	struct mqb_tpl_vars tv = script__tpl_vars(t);
	struct mqb_tpl_error e;
	char name[2 * 64 + 2];
	const char *domain = a->call.domain, *service = a->call.service;
	json_t *data = NULL, *target = NULL, *x = NULL, *texts = NULL;
	struct mqb_future *f = NULL;
	enum flow flow = F_NEXT;
	int rc;

	script__log(t, MQB_LOG_DEBUG, a, "Executing step %s", step_text(a, "call service"));
	if (a->call.name) {
		if ((rc = tpl__render_json(a->call.name, &tv, false, &x, &e)))
			return script__fail(t, a, rc, true, "Error",
					    "Error rendering service name template: %s", e.message);
		snprintf(name, sizeof name, "%s", json_string_value(x));
		json_decref(x);
		x = NULL;
		for (char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		char *dot = strchr(name, '.');
		if (!dot || !mqb_entity_id_valid(name))
			return script__fail(t, a, -EINVAL, true, "Error",
					    "Template rendered invalid service: %s", name);
		*dot = '\0';
		domain = name;
		service = dot + 1;
	}
	if (a->call.has_target) {
		if ((rc = tval__render(&a->call.target, &tv, &target, &e))) {
			flow = script__fail(t, a, rc, true, "Error",
					    "Error rendering service target template: %s", e.message);
			goto out;
		}
		if (!json_is_object(target)) {
			flow = script__fail(t, a, -EINVAL, true, "Error",
					    "Error rendering service target template: expected "
					    "dictionary");
			goto out;
		}
		const json_t *ids = json_object_get(target, "entity_id");
		if (ids) {
			json_t *list = entity_id_list(ids);
			if (!list) {
				char *txt = mqb_json_dumps(ids, MQB_JSON_COMPACT);
				flow = script__fail(t, a, -EINVAL, true, "Error",
						    "Template rendered invalid entity IDs: %s",
						    txt ? txt : "?");
				free(txt);
				goto out;
			}
			json_object_set_new(target, "entity_id", list);
		}
	}
	/* data, then data_template over it. A service's cv.string fields take
	 * the text a template rendered (tval__render_call); the value read
	 * back from it is made only when a call_service listener sees it. */
	const struct tval *parts[2] = { a->call.has_data ? &a->call.data : NULL,
					a->call.has_data_template ? &a->call.data_template : NULL };
	const char *const *text_keys = services__async_text_fields(core, domain, service);
	bool natives = text_keys && (mqb_bus_async_listener_count(core, MQB_EVENT_CALL_SERVICE) ||
				     mqb_bus_async_listener_count(core, MQB_MATCH_ALL));
	for (int i = 0; i < 2; i++) {
		json_t *tx = NULL;
		if (!parts[i])
			continue;
		if ((rc = tval__render_call(parts[i], &tv, text_keys, natives, &x, &tx, &e))) {
			flow = script__fail(t, a, rc, true, "Error", "Error rendering data template: %s",
					    e.message);
			goto out;
		}
		if (!json_is_object(x)) {
			json_decref(tx);
			flow = script__fail(t, a, -EINVAL, true, "Error",
					    "Error rendering data template: Result is not a Dictionary");
			goto out;
		}
		if (texts) { /* data_template's keys replace data's texts too */
			const char *k;
			json_t *v;
			json_object_foreach(x, k, v)
				json_object_del(texts, k);
		}
		if (tx && !texts)
			texts = tx;
		else if (tx && json_object_update(texts, tx))
			rc = -ENOMEM;
		if (tx != texts)
			json_decref(tx);
		if (!data) {
			data = x; /* fresh from the render: ours to fill */
		} else if (json_object_update(data, x)) {
			rc = -ENOMEM;
		}
		if (x != data)
			json_decref(x);
		x = NULL;
		if (rc)
			goto nomem;
	}
	if (!data && !(data = json_object()))
		goto nomem;
	/* the legacy entity_id wins over target's; then target goes into the
	 * data, as Home Assistant's service call does with it */
	if (a->call.n_entity_ids) {
		if (!target && !(target = json_object()))
			goto nomem;
		json_t *ids;
		if (a->call.n_entity_ids == 1 && (!strcmp(a->call.entity_ids[0], "all") ||
						  !strcmp(a->call.entity_ids[0], "none"))) {
			ids = json_string(a->call.entity_ids[0]);
		} else {
			ids = json_array();
			for (size_t i = 0; ids && i < a->call.n_entity_ids; i++)
				json_array_append_new(ids, json_string(a->call.entity_ids[i]));
		}
		if (json_object_set_new(target, "entity_id", ids))
			goto nomem;
	}
	if (target)
		json_object_update(data, target);

	rc = mqb_services_async_supports_response(core, domain, service);
	if (rc < 0) {
		flow = script__fail(t, a, -MQB_E_NOTFOUND, false, "Service not found",
				    "Action %s.%s not found", domain, service);
		goto out;
	}
	if (a->call.response_variable && rc == MQB_SERVICE_RESPONSE_NONE) {
		flow = script__fail(t, a, -EINVAL, false, "Invalid data",
				    "Script does not support 'response_variable' for service '%s.%s' "
				    "which does not support response data.",
				    domain, service);
		goto out;
	}
	if (!a->call.response_variable && rc == MQB_SERVICE_RESPONSE_ONLY) {
		flow = script__fail(t, a, -EINVAL, false, "Invalid data",
				    "Script requires 'response_variable' for response data for "
				    "service call %s.%s",
				    domain, service);
		goto out;
	}
	char msg[256] = "";
	struct mqb_service_call_options opt = { .return_response = a->call.response_variable != NULL,
						.errmsg = msg,
						.errlen = sizeof msg };
	/* a script's run started for this call continues this run's path */
	struct pending_call pc;
	script__call_begin(&pc, t->run, data);
	rc = services__async_call_texts(core, domain, service, data, texts, &opt, &f);
	data = texts = NULL; /* the call took them */
	if (rc < 0)
		script__call_end(&pc);
	if (rc == -MQB_E_NOTFOUND) {
		flow = script__fail(t, a, rc, false, "Service not found", "Action %s.%s not found",
				    domain, service);
		goto out;
	}
	if (rc == -EINVAL) {
		flow = script__fail(t, a, rc, false, "Invalid data", "%s",
				    msg[0] ? msg : "invalid data");
		goto out;
	}
	if (rc < 0) {
		flow = script__fail(t, a, rc, true, "Error", "%s.%s: %s", domain, service,
				    mqb_strerror(rc));
		goto out;
	}
	/* the run waits for the handler, as Home Assistant's blocking call */
	rc = wait_for(t, f);
	script__call_end(&pc);
	if (rc == -ECANCELED) {
		flow = F_CANCEL;
		goto out;
	}
	if (rc < 0 || (rc = mqb_future_status(f)) < 0) {
		flow = script__fail(t, a, rc, true, "Error", "%s.%s: %s", domain, service,
				    mqb_strerror(rc));
		goto out;
	}
	if (a->call.response_variable) {
		const json_t *resp = mqb_future_value(f);
		if (!json_is_object(resp)) {
			flow = script__fail(t, a, -EINVAL, true, "Error",
					    "Service response data expected a dictionary, was %s",
					    json_type_name(resp));
			goto out;
		}
		/* a copy: the response may hold what another thread made */
		if (script__assign(t, a->call.response_variable, json_deep_copy(resp), false))
			goto nomem;
	}
out:
	mqb_future_unref(f);
	json_decref(data);
	json_decref(texts);
	json_decref(target);
	json_decref(x);
	return flow;
nomem:
	flow = script__fail(t, a, -ENOMEM, false, "Unexpected error", "out of memory");
	goto out;
}

/* ---- delay and events ---------------------------------------------------------------- */

static enum flow do_delay(struct task *t, const struct action *a)
{
	double secs;
	char err[256], when[DURATION_TEXT_MAX];
	struct mqb_tpl_vars tv = script__tpl_vars(t);
	int rc = duration__render(&a->delay, &tv, &secs, err, sizeof err);
	if (rc == -ENOMEM)
		return script__fail(t, a, rc, false, "Unexpected error", "out of memory");
	if (rc) {
		script__log(t, MQB_LOG_ERROR, a, "Error rendering %s delay template: %s",
			    t->run->s->name, err);
		return F_ABORT;
	}
	if (a->alias)
		script__log(t, MQB_LOG_DEBUG, a, "Executing step %s", a->alias);
	else
		script__log(t, MQB_LOG_DEBUG, a, "Executing step delay %s",
			    duration__format(secs, when));
	if (secs <= 0)
		return F_NEXT; /* without waiting, or yielding */
	rc = sleep_for(t, secs);
	if (rc == -ECANCELED)
		return F_CANCEL;
	if (rc)
		return script__fail(t, a, rc, false, "Unexpected error", "%s", mqb_strerror(rc));
	return F_NEXT;
}

static enum flow do_event(struct task *t, const struct action *a)
{
	struct mqb_tpl_vars tv = script__tpl_vars(t);
	struct mqb_tpl_error e;
	json_t *data = json_object(), *x;
	if (!data)
		return script__fail(t, a, -ENOMEM, false, "Unexpected error", "out of memory");
	script__log(t, MQB_LOG_DEBUG, a, "Executing step %s", step_text(a, a->event.type));
	const struct tval *parts[2] = { a->event.has_data ? &a->event.data : NULL,
					a->event.has_data_template ? &a->event.data_template : NULL };
	for (int i = 0; i < 2; i++) {
		if (!parts[i])
			continue;
		int rc = tval__render(parts[i], &tv, &x, &e);
		if (rc) {
			/* logged, and the event goes out with what rendered */
			script__log(t, MQB_LOG_ERROR, a, "Error rendering event data template: %s",
				    rc == -ENOMEM ? "out of memory" : e.message);
			break;
		}
		json_object_update(data, x);
		json_decref(x);
	}
	int rc = mqb_bus_async_fire(t->run->core, a->event.type, data);
	if (rc)
		return script__fail(t, a, rc, true, "Error", "event %s not fired: %s", a->event.type,
				    mqb_strerror(rc));
	return F_NEXT;
}

/* ---- conditions ----------------------------------------------------------------------- */

/* Home Assistant's _test_conditions: 1 all hold, 0 one does not, -1 one
 * could not be decided (logged as a warning). */
static int test_conds(struct task *t, const struct conds *c, const char *what)
{
	for (size_t i = 0; i < c->n; i++) {
		struct cond_msg m = { 0 };
		int r = condition__eval(t->run->core, c->v[i], script__view(t), &m);
		if (r < 0) {
			mqb_log(MQB_LOG_WARNING, "script", "%s: Error in '%s[%zu]' evaluation: %s",
				t->run->s->name, what, i, m.s ? m.s : mqb_strerror(r));
			cond_msg__free(&m);
			return -1;
		}
		cond_msg__free(&m);
		if (r == 0)
			return 0;
	}
	return 1;
}

static enum flow do_condition(struct task *t, const struct action *a)
{
	struct cond_msg m = { 0 };
	int r = condition__eval(t->run->core, a->cond, script__view(t), &m);
	if (r < 0) {
		mqb_log(MQB_LOG_WARNING, "script", "%s: %s: Error in 'condition' evaluation:\n%s",
			t->run->s->name, a->path, m.s ? m.s : mqb_strerror(r));
		r = 0;
	}
	cond_msg__free(&m);
	const char *alias = condition__alias(a->cond);
	script__log(t, MQB_LOG_DEBUG, a, "Test condition %s: %s",
		    alias ? alias : condition__type(a->cond), r ? "True" : "False");
	return r ? F_NEXT : F_COND_FAIL;
}

static enum flow do_choose(struct task *t, const struct action *a)
{
	for (size_t i = 0; i < a->choose.n; i++)
		if (test_conds(t, &a->choose.v[i].conds, "choose") == 1)
			return script__block(t, &a->choose.v[i].seq);
	if (a->choose.has_default)
		return script__block(t, &a->choose.deflt);
	return F_NEXT;
}

static enum flow do_if(struct task *t, const struct action *a)
{
	if (test_conds(t, &a->ifelse.conds, "if") == 1)
		return script__block(t, &a->ifelse.then);
	if (a->ifelse.has_else)
		return script__block(t, &a->ifelse.otherwise);
	return F_NEXT;
}

/* ---- repeat ------------------------------------------------------------------------- */

/* The loop's variable: {first, index[, last][, item]}, defined in the
 * repeat's own frame. */
static int set_repeat(struct task *t, struct frame *lf, size_t index, long long total,
		      const json_t *item)
{
	json_t *v = json_pack("{s:b,s:I}", "first", index == 1, "index", (json_int_t)index);
	if (!v)
		return -ENOMEM;
	if (total > 0)
		json_object_set_new(v, "last", json_boolean((long long)index == total));
	if (item && !json_is_null(item))
		json_object_set_new(v, "item", json_deep_copy(item));
	return script__define(t, lf, "repeat", v);
}

static enum flow do_repeat(struct task *t, const struct action *a)
{
	struct mqb_tpl_vars tv = script__tpl_vars(t);
	struct mqb_tpl_error e;
	const char *name = t->run->s->name;
	json_t *items = NULL;
	long long total = -1;
	enum flow flow = F_NEXT;

	if (a->repeat.kind == R_COUNT || a->repeat.kind == R_FOR_EACH) {
		int rc = tval__render(&a->repeat.items, &tv, &items, &e);
		if (rc == -ENOMEM)
			return script__fail(t, a, rc, false, "Unexpected error", "out of memory");
		if (a->repeat.kind == R_COUNT) {
			if (rc || !tval__py_int(items, &total)) {
				char *txt = rc ? NULL : mqb_json_dumps(items, 0);
				script__log(t, MQB_LOG_ERROR, a,
					    "Error rendering %s repeat count template: %s", name,
					    rc ? e.message : txt ? txt : "?");
				free(txt);
				json_decref(items);
				return F_ABORT;
			}
		} else {
			if (rc) {
				script__log(t, MQB_LOG_ERROR, a,
					    "Error rendering %s repeat for each items template: %s",
					    name, e.message);
				return F_ABORT;
			}
			if (!json_is_array(items)) {
				char *txt = mqb_json_dumps(items, 0);
				script__log(t, MQB_LOG_ERROR, a,
					    "Repeat 'for_each' must be a list of items in %s, got: %s",
					    name, txt ? txt : "?");
				free(txt);
				json_decref(items);
				return F_ABORT;
			}
			total = (long long)json_array_size(items);
		}
	}

	struct frame lf;
	script__enter(t, &lf, false);
	const char *label = step_text(a, "sequence");
	for (size_t index = 1;; index++) {
		if (t->run->stopping) {
			flow = F_CANCEL;
			break;
		}
		const json_t *item = NULL;
		if (a->repeat.kind == R_COUNT || a->repeat.kind == R_FOR_EACH) {
			if ((long long)index > total)
				break;
			if (a->repeat.kind == R_FOR_EACH)
				item = json_array_get(items, index - 1);
		} else if (index > 1) {
			/* while and until: give the loop a breath between turns,
			 * and stop a runaway */
			if (index == REPEAT_WARN_ITERATIONS + 1)
				script__log(t, MQB_LOG_WARNING, a, "%s condition in script `%s` looped %d times",
					    a->repeat.kind == R_WHILE ? "While" : "Until", name,
					    REPEAT_WARN_ITERATIONS);
			if (index > REPEAT_TERMINATE_ITERATIONS) {
				script__log(t, MQB_LOG_ERROR, a,
					    "%s condition in script `%s` terminated because it "
					    "looped %d times",
					    a->repeat.kind == R_WHILE ? "While" : "Until", name,
					    REPEAT_TERMINATE_ITERATIONS);
				flow = F_ABORT;
				break;
			}
			int rc = yield(t);
			if (rc == -ECANCELED) {
				flow = F_CANCEL;
				break;
			}
		}
		if (set_repeat(t, &lf, index, total, item)) {
			flow = script__fail(t, a, -ENOMEM, false, "Unexpected error", "out of memory");
			break;
		}
		if (a->repeat.kind == R_WHILE && test_conds(t, &a->repeat.conds, "while") != 1)
			break;
		if (total >= 0)
			script__log(t, MQB_LOG_DEBUG, a, "Repeating %s: Iteration %zu of %lld", label,
				    index, total);
		else
			script__log(t, MQB_LOG_DEBUG, a, "Repeating %s: Iteration %zu", label, index);
		flow = script__block(t, &a->repeat.seq);
		if (flow != F_NEXT)
			break;
		if (a->repeat.kind == R_UNTIL && test_conds(t, &a->repeat.conds, "until") != 0)
			break;
	}
	script__leave(t, &lf);
	json_decref(items);
	return flow;
}

/* ---- variables and stop ----------------------------------------------------------------- */

static enum flow do_variables(struct task *t, const struct action *a)
{
	const struct varblock *vb = &a->variables;
	script__log(t, MQB_LOG_DEBUG, a, "Executing step %s", step_text(a, "assigning variables"));
	for (size_t i = 0; i < vb->n; i++) {
		struct mqb_tpl_vars tv = script__tpl_vars(t);
		struct mqb_tpl_error e;
		json_t *v;
		int rc = tval__render(&vb->values[i], &tv, &v, &e);
		if (rc)
			return script__fail(t, a, rc, false, "Error rendering template", "%s: %s",
					    vb->names[i], rc == -ENOMEM ? "out of memory" : e.message);
		/* each value sees those before it */
		if (script__assign(t, vb->names[i], v, false))
			return script__fail(t, a, -ENOMEM, false, "Unexpected error", "out of memory");
	}
	return F_NEXT;
}

static enum flow do_stop(struct task *t, const struct action *a)
{
	const char *reason = a->stop.reason ? a->stop.reason : "None";
	if (a->stop.error) {
		script__log(t, MQB_LOG_INFO, NULL, "Error script sequence: %s", reason);
		return F_ABORT;
	}
	script__log(t, MQB_LOG_INFO, NULL, "Stop script sequence: %s", reason);
	if (a->stop.response_variable) {
		const json_t *v = script__lookup(t, a->stop.response_variable);
		if (!v || !json_is_object(v)) {
			script__log(t, MQB_LOG_ERROR, a, "Response variable '%s' is not %s",
				    a->stop.response_variable, v ? "a dictionary" : "defined");
			return F_ABORT;
		}
		json_decref(t->run->response);
		t->run->response = json_deep_copy(v);
	}
	return F_STOP;
}

/* ---- dispatch --------------------------------------------------------------------------- */

/* What an action at the bottom of the deepest nesting still needs below
 * it on the run's stack: a service call through the bus to its handler,
 * a template's render (which guards its own depth), and logging. */
#define STACK_RESERVE (24 * 1024)

enum flow script__exec(struct task *t, const struct action *a)
{
	/* A run is a coroutine on a small stack (64 KiB): blocks nested past
	 * what it holds fail here, with the action's path, instead of
	 * running into its guard page. */
	if (coro__stack_left() < STACK_RESERVE)
		return script__fail(t, a, -ELOOP, false, "Error",
				    "nested too deep for the run's stack");
	if (a->disabled) {
		script__log(t, MQB_LOG_DEBUG, a, "Skipped disabled step %s",
			    step_text(a, script__type_names[a->type]));
		return F_NEXT;
	}
	switch (a->type) {
	case A_CALL:
		return do_call(t, a);
	case A_DELAY:
		return do_delay(t, a);
	case A_WAIT_TEMPLATE:
	case A_WAIT_TRIGGER:
		return script__wait_action(t, a);
	case A_EVENT:
		return do_event(t, a);
	case A_CONDITION:
		return do_condition(t, a);
	case A_CHOOSE:
		return do_choose(t, a);
	case A_IF:
		return do_if(t, a);
	case A_REPEAT:
		return do_repeat(t, a);
	case A_PARALLEL:
		return script__parallel(t, a);
	case A_SEQUENCE:
		return script__block(t, &a->sequence);
	case A_VARIABLES:
		return do_variables(t, a);
	case A_STOP:
		return do_stop(t, a);
	case A_CONVERSATION:
		script__log(t, MQB_LOG_DEBUG, a, "Executing step %s",
			    step_text(a, "setting conversation response"));
		return F_NEXT;
	case A_ABSENT:
		return script__fail(t, a, -ENOTSUP, true, "Error", "%s", a->absent);
	}
	return F_NEXT;
}
