/* SPDX-License-Identifier: MIT */
/* The numeric_state trigger (Home Assistant's triggers/numeric_state.py):
 * fires when an entity's value crosses into the range above..below (armed
 * by a value outside it, unavailable and unknown included), optionally
 * held for: a while; thresholds are numbers or other entities' states. */
#include "lib/internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/json.h"
#include "mqbridge/states.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"
#include "mqbridge/track.h"

#include "config/schema.h"
#include "ha/cv.h"
#include "ha/duration.h"
#include "ha/trigger_impl.h"
#include "template/native.h"

#define SUB "trigger"

struct threshold {
	bool set;
	double value;
	char *entity;   /* NULL: value */
};

struct conf {
	char **ids;
	size_t n;
	struct threshold above, below;
	struct mqb_template *value_template;
	char *attribute;
	bool has_for;
	struct duration hold;
};

static const char *const keys[] = {"entity_id", "above", "below", "value_template", "attribute",
				   "for", NULL};

static void conf_free(void *p)
{
	struct conf *c = p;
	if (!c)
		return;
	cv__free_ids(c->ids, c->n);
	mqb__free(c->above.entity);
	mqb__free(c->below.entity);
	mqb_template_free(c->value_template);
	mqb__free(c->attribute);
	duration__fini(&c->hold);
	mqb__free(c);
}

/* vol.Any(vol.Coerce(float), entity_domain(input_number, number, sensor,
 * zone)). */
static size_t compile_threshold(const struct mqb_conf_node *n, const char *path,
				struct mqb_conf_errors *errs, struct threshold *th)
{
	if (!n)
		return 0;
	const char *s = cv__text(n);
	if (!s) {
		mqb_conf_error_at(errs, n, path, "expected float or an entity ID");
		return 1;
	}
	th->set = true;
	size_t len = strlen(s);
	s = mqb_strip(s, &len);
	if (schema__parse_float(s, len, &th->value))
		return 0;
	static const char *const domains[] = {"input_number.", "number.", "sensor.", "zone."};
	char *id = mqb__strndup(s, len);
	if (!id) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	for (char *p = id; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	bool ok = false;
	for (size_t i = 0; i < sizeof domains / sizeof *domains; i++)
		ok |= strncmp(id, domains[i], strlen(domains[i])) == 0;
	if (!mqb_entity_id_valid(id) || !ok) {
		mqb_conf_error_at(errs, n, path,
				  mqb_entity_id_valid(id)
					  ? "Entity ID '%s' does not belong to domain 'input_number, "
					    "number, sensor, zone'"
					  : "expected float or an entity ID, got '%s'",
				  id);
		mqb__free(id);
		return 1;
	}
	th->entity = id;
	return 0;
}

static size_t compile(const struct mqb_conf_node *node, const char *path,
		      struct mqb_conf_errors *errs, void **priv)
{
	char p[CV_PATH_MAX];
	size_t found = 0;
	struct conf *c = mqb__calloc(1, sizeof *c);
	if (!c) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	const struct mqb_conf_node *ids = cv__required(node, "entity_id", path, errs, &found);
	if (ids)
		found += cv__entity_ids(ids, cv__path(p, path, ".entity_id"), false, errs, &c->ids,
					&c->n);
	found += compile_threshold(mqb_conf_get(node, "above"), cv__path(p, path, ".above"), errs,
				   &c->above);
	found += compile_threshold(mqb_conf_get(node, "below"), cv__path(p, path, ".below"), errs,
				   &c->below);
	if (!mqb_conf_get(node, "above") && !mqb_conf_get(node, "below")) {
		mqb_conf_error_at(errs, node, path, "must contain at least one of below, above.");
		found++;
	} else if (c->above.set && c->below.set && !c->above.entity && !c->below.entity &&
		   c->above.value > c->below.value) {
		char a[MQB_FLOAT_REPR_MAX], b[MQB_FLOAT_REPR_MAX];
		mqb_format_double(c->above.value, a);
		mqb_format_double(c->below.value, b);
		mqb_conf_error_at(errs, node, path,
				  "A value can never be above %s and below %s at the same time. You "
				  "probably want two different triggers.",
				  a, b);
		found++;
	}
	const struct mqb_conf_node *vt = mqb_conf_get(node, "value_template");
	if (vt && schema__compile_template(vt, cv__path(p, path, ".value_template"), errs,
					   &c->value_template) < 0)
		found++;
	found += cv__strdup(mqb_conf_get(node, "attribute"), cv__path(p, path, ".attribute"), errs,
			    &c->attribute);
	found += trigger__compile_for(node, path, errs, &c->hold, &c->has_for);
	if (found)
		conf_free(c);
	else
		*priv = c;
	return found;
}

/* ---- the test (Home Assistant's condition.async_numeric_state) ----------------- */

/* Python's float() of a value: numbers, and text that reads as one. */
static bool py_float(const json_t *v, double *out)
{
	if (json_is_number(v) || json_is_boolean(v)) {
		*out = json_is_boolean(v) ? json_is_true(v) : json_number_value(v);
		return true;
	}
	if (!json_is_string(v))
		return false;
	size_t len = json_string_length(v);
	const char *s = mqb_strip(json_string_value(v), &len);
	char buf[64], *end;
	if (!len || len >= sizeof buf)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strchr(buf, 'x') || strchr(buf, 'X'))
		return false;
	*out = strtod(buf, &end);
	return *end == '\0';
}

static bool unknown(const char *s)
{
	return strcmp(s, "unavailable") == 0 || strcmp(s, "unknown") == 0;
}

/* 1 the value passes th, 0 not; -EINVAL with msg. */
static int threshold_ok(struct mqb_core *core, const struct threshold *th, const char *which,
			double v, char *msg, size_t len)
{
	if (!th->set)
		return 1;
	double limit = th->value;
	if (th->entity) {
		struct mqb_state *s = mqb_states_async_get(core, th->entity);
		if (!s) {
			snprintf(msg, len, "unknown '%s' entity %s", which, th->entity);
			return -EINVAL;
		}
		json_t *j = json_string(mqb_state_value(s));
		int rc = 1;
		if (unknown(mqb_state_value(s)))
			rc = 0;
		else if (!j || !py_float(j, &limit)) {
			snprintf(msg, len, "the '%s' entity %s state '%s' cannot be processed as a "
					   "number", which, th->entity, mqb_state_value(s));
			rc = -EINVAL;
		}
		json_decref(j);
		mqb_state_unref(s);
		if (rc <= 0)
			return rc;
	}
	return strcmp(which, "below") == 0 ? v < limit : v > limit;
}

struct run {
	struct trig_run *r;
	const struct conf *c;
	struct mqb_track *track;
	bool *armed;
	struct trigger_hold *hold; /* per entity */
};

static json_t *threshold_json(const struct threshold *th)
{
	return !th->set ? json_null() : th->entity ? json_string(th->entity) : json_real(th->value);
}

/* The trigger so far, as value_template and for: see it. */
static json_t *partial_of(const struct conf *c, size_t e)
{
	return json_pack("{s:s,s:s,s:o,s:o,s:o}", "platform", "numeric_state", "entity_id",
			 c->ids[e], "below", threshold_json(&c->below), "above",
			 threshold_json(&c->above), "attribute",
			 c->attribute ? json_string(c->attribute) : json_null());
}

/* Whether entity e's state s is in range: 1, 0, or -EINVAL with msg. */
static int in_range(struct run *run, size_t e, const struct mqb_state *s, char *msg, size_t len)
{
	const struct conf *c = run->c;
	struct mqb_core *core = run->r->a->core;
	const char *id = c->ids[e];
	if (!s) {
		snprintf(msg, len, "unknown entity %s", id);
		return -EINVAL;
	}
	const json_t *attrs = mqb_state_attributes(s);
	if (c->attribute && !json_object_get(attrs, c->attribute))
		return 0;
	json_t *value = NULL;
	int rc;
	if (c->value_template) {
		/* `state` is the state; the trigger so far and the attachment's
		 * variables are there too */
		json_t *vars = json_deep_copy(run->r->a->variables);
		json_t *trig = partial_of(c, e);
		if (!vars || !trig || json_object_set_new(vars, "state", mqb_state_to_json(s))) {
			json_decref(vars);
			json_decref(trig);
			return -ENOMEM;
		}
		struct mqb_tpl_vars tv = trigger__vars(run->r, trig);
		tv.variables = vars;
		struct mqb_tpl_error err = {0};
		rc = tpl__render_json(c->value_template, &tv, true, &value, &err);
		json_decref(vars);
		json_decref(trig);
		if (rc) {
			snprintf(msg, len, "template error: %s", err.message);
			return rc == -ENOMEM ? rc : -EINVAL;
		}
	} else if (c->attribute) {
		value = json_deep_copy(json_object_get(attrs, c->attribute));
	} else {
		value = json_string(mqb_state_value(s));
	}
	double v;
	if (!value || json_is_null(value) ||
	    (json_is_string(value) && unknown(json_string_value(value)))) {
		rc = 0;
	} else if (!py_float(value, &v)) {
		char *text = json_is_string(value) ? NULL : mqb_json_dumps(value, 0);
		snprintf(msg, len, "entity %s state '%s' cannot be processed as a number", id,
			 text ? text : json_string_value(value));
		free(text);
		rc = -EINVAL;
	} else if ((rc = threshold_ok(core, &c->below, "below", v, msg, len)) > 0) {
		rc = threshold_ok(core, &c->above, "above", v, msg, len);
	}
	json_decref(value);
	return rc;
}

static size_t entity_of(const struct conf *c, const char *id)
{
	size_t e = 0;
	while (e < c->n && strcmp(c->ids[e], id))
		e++;
	return e;
}

static void start_hold(struct run *run, size_t e, json_t *data)
{
	struct trig_run *r = run->r;
	const struct conf *c = run->c;
	double period;
	json_t *partial = partial_of(c, e);
	int rc = trigger__render_for(r, &c->hold, partial, true, &period);
	json_decref(partial);
	if (rc) {
		json_decref(data);
		return;
	}
	trigger__hold_start(&run->hold[e], r, period, period <= 0 && duration__fixed(&c->hold),
			    data);
}

static void changed(void *ud, const struct mqb_event *ev)
{
	struct run *run = ud;
	struct trig_run *r = run->r;
	const struct conf *c = run->c;
	const char *id = mqb_event_entity_id(ev);
	size_t e = entity_of(c, id);
	const struct mqb_state *new = mqb_event_new_state(ev);
	if (e == c->n)
		return;
	trigger__enter(r);
	char msg[512];
	int in = new ? in_range(run, e, new, msg, sizeof msg) : -ENOENT;
	if (in < 0) {
		/* a pending for: ends (Home Assistant's same-state check
		 * fails), arming is left as it was */
		trigger__hold_cancel(&run->hold[e]);
		if (in != -ENOENT)
			MQB_LOG_WARNING(SUB, "Error in '%s' trigger: %s", trigger__name(r),
					in == -ENOMEM ? "out of memory" : msg);
		goto out;
	}
	if (!in) {
		trigger__hold_cancel(&run->hold[e]);
		run->armed[e] = true;
		goto out;
	}
	if (!run->armed[e])
		goto out; /* still in range: a pending for: goes on */
	run->armed[e] = false;
	char desc[MQB_MAX_ENTITY_ID_LEN + 32];
	snprintf(desc, sizeof desc, "numeric state of %s", id);
	json_t *data = json_pack("{s:s,s:o,s:o,s:o,s:o,s:n,s:s}", "entity_id", id, "below",
				 threshold_json(&c->below), "above", threshold_json(&c->above),
				 "from_state", trigger__state_json(mqb_event_old_state(ev)),
				 "to_state", trigger__state_json(new), "for", "description", desc);
	if (!data)
		MQB_LOG_ERROR(SUB, "%s: out of memory", trigger__name(r));
	else if (c->has_for)
		start_hold(run, e, data);
	else
		trigger__fire(r, data);
out:
	trigger__leave(r);
}

static void detach(struct trig_run *r)
{
	struct run *run = r->state;
	if (!run)
		return;
	mqb_async_track_cancel(run->track);
	for (size_t i = 0; run->hold && i < run->c->n; i++)
		trigger__hold_cancel(&run->hold[i]);
	mqb__free(run->armed);
	mqb__free(run->hold);
	mqb__free(run);
	r->state = NULL;
}

static int attach(struct trig_run *r)
{
	const struct conf *c = r->t->priv;
	struct run *run = mqb__calloc(1, sizeof *run);
	if (!run)
		return -ENOMEM;
	r->state = run;
	run->r = r;
	run->c = c;
	if (!(run->armed = mqb__calloc(c->n, sizeof *run->armed)) ||
	    !(run->hold = mqb__calloc(c->n, sizeof *run->hold))) {
		detach(r);
		return -ENOMEM;
	}
	/* Armed by a value outside the range now; one in range, missing or
	 * not a number is not armed: the first value in range does not fire. */
	for (size_t e = 0; e < c->n; e++) {
		char msg[512];
		struct mqb_state *s = mqb_states_async_get(r->a->core, c->ids[e]);
		int in = in_range(run, e, s, msg, sizeof msg);
		mqb_state_unref(s);
		if (in == 0)
			run->armed[e] = true;
		else if (in < 0)
			MQB_LOG_WARNING(SUB, "Error initializing 'numeric_state' trigger for '%s': %s",
					trigger__name(r), in == -ENOMEM ? "out of memory" : msg);
	}
	int rc = mqb_async_track_state_change(r->a->core, (const char *const *)c->ids, c->n,
					      changed, run, &run->track);
	if (rc) {
		detach(r);
		return rc;
	}
	return 0;
}

const struct trig_ops trigger__numeric_state = {
	.name = "numeric_state",
	.keys = keys,
	.compile = compile,
	.free = conf_free,
	.attach = attach,
	.detach = detach,
};
