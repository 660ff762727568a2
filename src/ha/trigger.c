/* SPDX-License-Identifier: MIT */
/* Triggers (mqbridge/trigger.h): Home Assistant's helpers/trigger.py. A
 * list is compiled with the keys every trigger shares (both generations,
 * id, alias, enabled, variables) and each platform's own; attaching starts
 * each enabled trigger's platform, and a firing gets the `trigger`
 * variable's common keys and the trigger's own variables before the
 * owner's callback. The platforms are in trigger_*.c. */
#include "lib/internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "mqbridge/states.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"

#include "config/schema.h"
#include "ha/cv.h"
#include "ha/duration.h"
#include "ha/trigger_impl.h"

#define SUB "trigger"

static const struct trig_ops *const platforms[] = {
	&trigger__state, &trigger__numeric_state, &trigger__event, &trigger__homeassistant,
	&trigger__mqtt,  &trigger__time,          &trigger__time_pattern, &trigger__template,
	&trigger__sun,   &trigger__device,
};

bool trigger__toggle_domain(const char *domain)
{
	static const char *const toggle[] = {"fan", "humidifier", "light", "remote", "switch"};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(toggle); i++)
		if (strcmp(domain, toggle[i]) == 0)
			return true;
	return false;
}

/* TRIGGER_BASE_SCHEMA's keys. */
static const char *const base_keys[] = {"platform", "trigger", "id", "alias", "enabled",
					"variables"};
#define NBASE (sizeof base_keys / sizeof base_keys[0])

/* ---- compile ----------------------------------------------------------------- */

static void trig_fini(struct trig *t)
{
	if (t->ops && t->ops->free)
		t->ops->free(t->priv);
	mqb__free(t->id);
	mqb__free(t->alias);
	if (t->has_variables)
		tval__fini(&t->variables);
}

void mqb_triggers_free(struct mqb_triggers *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->n; i++)
		trig_fini(&ts->v[i]);
	mqb__free(ts->v);
	mqb__free(ts);
}

size_t mqb_triggers_count(const struct mqb_triggers *ts)
{
	return ts ? ts->n : 0;
}

/* The keys a platform accepts: the base ones and its own. */
static size_t check_keys(const struct mqb_conf_node *node, const char *path,
			 const struct trig_ops *ops, struct mqb_conf_errors *errs)
{
	const char *allowed[NBASE + 24];
	size_t n = 0;
	for (size_t i = 0; i < NBASE; i++)
		allowed[n++] = base_keys[i];
	for (size_t i = 0; ops->keys && ops->keys[i] && n + 1 < sizeof allowed / sizeof *allowed; i++)
		allowed[n++] = ops->keys[i];
	allowed[n] = NULL;
	return cv__check_keys(node, path, allowed, errs);
}

static size_t compile_one(struct trig *t, const struct mqb_conf_node *node, const char *path,
			  struct mqb_conf_errors *errs)
{
	char p[CV_PATH_MAX];
	if (mqb_conf_kind(node) != MQB_CONF_MAP) {
		char buf[80];
		mqb_conf_error_at(errs, node, path, "expected a dictionary, got %s",
				  schema__describe(node, buf, sizeof buf));
		return 1;
	}
	const struct mqb_conf_node *plat = mqb_conf_get(node, "platform");
	const struct mqb_conf_node *trig = mqb_conf_get(node, "trigger");
	if (plat && trig) {
		mqb_conf_error_at(errs, trig, path,
				  "Cannot specify both 'platform' and 'trigger'. Please use 'trigger' "
				  "only.");
		return 1;
	}
	if (!plat && !trig) {
		mqb_conf_error_at(errs, node, path, "required key not provided @ data['trigger']");
		return 1;
	}
	const struct mqb_conf_node *pn = plat ? plat : trig;
	const char *name = cv__text(pn);
	for (size_t i = 0; name && i < sizeof platforms / sizeof *platforms; i++)
		if (strcmp(platforms[i]->name, name) == 0)
			t->ops = platforms[i];
	/* What Home Assistant has and mqbridge does not: kept, never firing,
	 * as a copied integration is (trigger_absent.c) */
	char dom[64];
	const char *domain = cv__text(mqb_conf_get(node, "domain"));
	if (!t->ops && name && trigger__absent_integration(name, dom, sizeof dom))
		t->ops = &trigger__absent;
	else if (t->ops == &trigger__device && domain && trigger__toggle_domain(domain))
		t->ops = &trigger__device_entity;
	else if (t->ops == &trigger__device && domain && strcmp(domain, "mqtt") != 0)
		t->ops = &trigger__absent;
	if (!t->ops) {
		char buf[80];
		mqb_conf_error_at(errs, pn, cv__path(p, path, ".%s", plat ? "platform" : "trigger"),
				  "Invalid trigger %s specified",
				  name ? name : schema__describe(pn, buf, sizeof buf));
		return 1;
	}
	size_t found = t->ops == &trigger__absent ? 0 : check_keys(node, path, t->ops, errs);
	/* id: a string (Home Assistant's str, which refuses a YAML number) */
	const struct mqb_conf_node *id = mqb_conf_get(node, "id");
	if (id) {
		cv__path(p, path, ".id");
		const char *text = cv__text(id);
		json_t *typed = text && !mqb_conf_quoted(id) ? tval__yaml11(text, strlen(text)) : NULL;
		if (!text || typed) {
			mqb_conf_error_at(errs, id, p, "expected str for dictionary value @ "
						       "data['id'] (quote it)");
			found++;
		} else {
			found += cv__strdup(id, p, errs, &t->id);
		}
		json_decref(typed);
	}
	found += cv__strdup(mqb_conf_get(node, "alias"), cv__path(p, path, ".alias"), errs,
			    &t->alias);
	found += cv__enabled(node, path, errs, &t->enabled);
	const struct mqb_conf_node *vars = mqb_conf_get(node, "variables");
	if (vars) {
		cv__path(p, path, ".variables");
		if (mqb_conf_kind(vars) != MQB_CONF_MAP) {
			mqb_conf_error_at(errs, vars, p, "expected a dictionary");
			found++;
		} else if (tval__compile(&t->variables, vars, p, errs)) {
			found++;
		} else {
			t->has_variables = true;
		}
	}
	found += t->ops->compile(node, path, errs, &t->priv);
	return found;
}

size_t mqb_triggers_compile(const struct mqb_conf_node *node, const char *path,
			    struct mqb_conf_errors *errs, struct mqb_triggers **out)
{
	if (out)
		*out = NULL;
	size_t n = !node || mqb_conf_kind(node) == MQB_CONF_NULL ? 0
		   : mqb_conf_kind(node) == MQB_CONF_SEQ       ? mqb_conf_len(node)
								 : 1;
	struct mqb_triggers *ts = mqb__calloc(1, sizeof *ts);
	if (!ts || (n && !(ts->v = mqb__calloc(n, sizeof *ts->v)))) {
		mqb__free(ts);
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	ts->n = n;
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *item =
			mqb_conf_kind(node) == MQB_CONF_SEQ ? mqb_conf_item(node, i) : node;
		char p[CV_PATH_MAX];
		if (mqb_conf_kind(node) == MQB_CONF_SEQ)
			cv__path(p, path, "[%zu]", i);
		else
			cv__path(p, path, "%s", "");
		snprintf(ts->v[i].idx, sizeof ts->v[i].idx, "%zu", i);
		found += compile_one(&ts->v[i], item, p, errs);
	}
	if (found || !out)
		mqb_triggers_free(ts);
	else
		*out = ts;
	return found;
}

/* ---- attach ------------------------------------------------------------------- */

static void attach_free(struct mqb_trigger_attach *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->runs[i].ops)
			a->runs[i].ops->detach(&a->runs[i]);
	json_decref(a->variables);
	mqb__free(a->log_name);
	mqb__free(a);
}

void trigger__enter(struct trig_run *r)
{
	r->a->busy++;
}

void trigger__leave(struct trig_run *r)
{
	struct mqb_trigger_attach *a = r->a;
	if (--a->busy == 0 && a->detached)
		attach_free(a);
}

const char *trigger__name(const struct trig_run *r)
{
	return r->a->log_name ? r->a->log_name : "trigger";
}

struct mqb_tpl_vars trigger__vars(const struct trig_run *r, const json_t *trigger)
{
	return (struct mqb_tpl_vars){
		.variables = r->a->variables,
		.trigger = trigger,
		.core = r->a->core,
		.now = mqb_async_now(r->a->core),
	};
}

int mqb_triggers_async_attach(struct mqb_core *core, const struct mqb_triggers *ts,
			      const struct mqb_trigger_attach_options *opt, mqb_trigger_fn fn,
			      void *ud, struct mqb_trigger_attach **out)
{
	MQB_ASSERT_LOOP(core);
	if (!ts || !fn)
		return -EINVAL;
	struct mqb_trigger_attach *a = mqb__calloc(1, sizeof *a + ts->n * sizeof a->runs[0]);
	if (!a)
		return -ENOMEM;
	a->core = core;
	a->fn = fn;
	a->ud = ud;
	a->n = ts->n;
	if (!(a->variables = opt && json_is_object(opt->variables) ? json_deep_copy(opt->variables)
								   : json_object()) ||
	    (opt && opt->log_name && !(a->log_name = mqb__strdup(opt->log_name)))) {
		attach_free(a);
		return -ENOMEM;
	}
	int rc = 0;
	a->busy++; /* a trigger firing as it attaches waits for the rest */
	for (size_t i = 0; i < ts->n; i++) {
		struct trig_run *r = &a->runs[i];
		r->a = a;
		r->t = &ts->v[i];
		if (!r->t->enabled)
			continue; /* it keeps its index, as in Home Assistant */
		if ((rc = r->t->ops->attach(r)) < 0) {
			MQB_LOG_ERROR(SUB, "Got error '%s' when setting up triggers for %s",
				      mqb_strerror(rc), trigger__name(r));
			break;
		}
		r->ops = r->t->ops;
	}
	if (rc < 0) {
		a->detached = true;
		a->busy--;
		attach_free(a);
		return rc;
	}
	MQB_LOG_DEBUG(SUB, "Initialized trigger %s", a->log_name ? a->log_name : "");
	if (out)
		*out = a;
	a->busy--;
	return 0;
}

void mqb_triggers_async_detach(struct mqb_trigger_attach *a)
{
	if (!a || a->detached)
		return;
	MQB_ASSERT_LOOP(a->core);
	a->detached = true;
	if (a->busy == 0)
		attach_free(a);
}

/* ---- firing ------------------------------------------------------------------- */

void trigger__fire(struct trig_run *r, json_t *data)
{
	struct mqb_trigger_attach *a = r->a;
	const struct trig *t = r->t;
	json_t *trig = json_object(), *vars = NULL;
	if (!data || !trig || a->detached)
		goto out;
	/* Home Assistant's order: trigger data (id, idx, alias), then the
	 * platform's keys */
	if (json_object_set_new(trig, "id", json_string(t->id ? t->id : t->idx)) ||
	    json_object_set_new(trig, "idx", json_string(t->idx)) ||
	    json_object_set_new(trig, "alias", t->alias ? json_string(t->alias) : json_null()) ||
	    json_object_set_new(trig, "platform", json_string(t->ops->name)) ||
	    json_object_update(trig, data))
		goto nomem;
	if (t->has_variables) {
		struct mqb_tpl_vars tv = trigger__vars(r, trig);
		struct mqb_tpl_error err = {0};
		int rc = tval__render(&t->variables, &tv, &vars, &err);
		if (rc == -ENOMEM)
			goto nomem;
		if (rc) {
			MQB_LOG_ERROR(SUB, "%s: Error rendering variables: %s", trigger__name(r),
				      err.message);
			goto out;
		}
	}
	a->fn(a->ud, trig, vars);
	json_decref(data);
	return;
nomem:
	MQB_LOG_ERROR(SUB, "%s: out of memory firing a trigger", trigger__name(r));
out:
	json_decref(trig);
	json_decref(vars);
	json_decref(data);
}

/* ---- helpers for the platforms ------------------------------------------------ */

bool trigger__py_equal(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return a == b;
	bool an = json_is_number(a) || json_is_boolean(a), bn = json_is_number(b) || json_is_boolean(b);
	if (an || bn) {
		if (!(an && bn))
			return false;
		double x = json_is_boolean(a) ? json_is_true(a) : json_number_value(a);
		double y = json_is_boolean(b) ? json_is_true(b) : json_number_value(b);
		return x == y;
	}
	if (json_is_array(a) && json_is_array(b)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!trigger__py_equal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	if (json_is_object(a) && json_is_object(b)) {
		if (json_object_size(a) != json_object_size(b))
			return false;
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)a, k, v)
			if (!trigger__py_equal(v, json_object_get(b, k)))
				return false;
		return true;
	}
	return json_equal(a, b);
}

json_t *trigger__local_time(double t)
{
	double whole = floor(t);
	long us = lround((t - whole) * 1e6);
	if (us >= 1000000) {
		whole += 1;
		us -= 1000000;
	}
	time_t s = (time_t)whole;
	struct tm tm;
	if (!localtime_r(&s, &tm))
		return json_null();
	char buf[80], frac[24] = "";
	long off = tm.tm_gmtoff;
	char sign = off < 0 ? '-' : '+';
	off = labs(off);
	if (us)
		snprintf(frac, sizeof frac, ".%06ld", us);
	snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d%s%c%02ld:%02ld",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac,
		 sign, off / 3600, off % 3600 / 60);
	return json_string(buf);
}

json_t *trigger__timedelta(double seconds)
{
	char buf[DURATION_TEXT_MAX];
	return json_string(duration__format(seconds, buf));
}

json_t *trigger__state_json(const struct mqb_state *s)
{
	return s ? mqb_state_to_json(s) : json_null();
}

int trigger__render_for(const struct trig_run *r, const struct duration *hold,
			const json_t *partial, bool with_variables, double *period)
{
	char msg[256];
	struct mqb_tpl_vars tv = trigger__vars(r, partial);
	if (!with_variables)
		tv.variables = NULL;
	int rc = partial ? duration__render(hold, &tv, period, msg, sizeof msg) : -ENOMEM;
	if (rc)
		MQB_LOG_ERROR(SUB, "Error rendering '%s' for template: %s", trigger__name(r),
			      rc == -ENOMEM ? "out of memory" : msg);
	return rc;
}

void trigger__hold_cancel(struct trigger_hold *h)
{
	mqb_async_timer_cancel(h->timer);
	h->timer = NULL;
	json_decref(h->data);
	h->data = NULL;
}

static void held(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct trigger_hold *h = ud;
	struct trig_run *r = h->r;
	json_t *data = h->data;
	h->data = NULL;
	trigger__hold_cancel(h); /* the handle, given back inside its own call */
	trigger__enter(r);
	trigger__fire(r, data);
	trigger__leave(r);
}

void trigger__hold_start(struct trigger_hold *h, struct trig_run *r, double period, bool at_once,
			 json_t *data)
{
	trigger__hold_cancel(h);
	json_object_set_new(data, "for", trigger__timedelta(period));
	if (at_once) {
		trigger__fire(r, data);
		return;
	}
	h->r = r;
	if (mqb_async_call_later(r->a->core, period, held, h, &h->timer)) {
		MQB_LOG_ERROR(SUB, "%s: cannot start the for: timer", trigger__name(r));
		json_decref(data);
		return;
	}
	h->data = data;
}

json_t *trigger__partial(const char *platform, const json_t *data)
{
	return json_pack("{s:s,s:O,s:O,s:O}", "platform", platform, "entity_id",
			 json_object_get(data, "entity_id"), "from_state",
			 json_object_get(data, "from_state"), "to_state",
			 json_object_get(data, "to_state"));
}

size_t trigger__compile_for(const struct mqb_conf_node *node, const char *path,
			    struct mqb_conf_errors *errs, struct duration *d, bool *has)
{
	const struct mqb_conf_node *n = mqb_conf_get(node, "for");
	memset(d, 0, sizeof *d);
	*has = n != NULL;
	if (!n)
		return 0;
	char p[CV_PATH_MAX];
	size_t found = duration__compile(d, n, cv__path(p, path, ".for"), DURATION_POSITIVE, errs);
	if (found)
		*has = false;
	return found;
}
