/* SPDX-License-Identifier: MIT */
/* The state trigger (Home Assistant's homeassistant/triggers/state.py):
 * from/to/not_from/not_to, attribute, and for: held per entity, each
 * pending timer cancelled when its entity leaves the state. Attached on a
 * state tracker, so a change costs the triggers of that entity only. */
#include "lib/internal.h"

#include <errno.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/states.h"
#include "mqbridge/timer.h"
#include "mqbridge/track.h"

#include "ha/cv.h"
#include "ha/duration.h"
#include "ha/trigger_impl.h"

#define SUB "trigger"

struct match {
	bool given;     /* the key is there (null included): no attribute-only firing */
	bool negate;    /* not_from, not_to */
	json_t *values; /* an array; NULL: any value */
};

struct conf {
	char **ids;
	size_t n;
	char *attribute;
	struct match from, to;
	bool from_without_to; /* for: holds until the entity goes back to from */
	bool has_for;
	struct duration hold;
};

static const char *const keys[] = {"entity_id", "from", "to", "not_from", "not_to", "attribute",
				   "for", NULL};

static void conf_free(void *p)
{
	struct conf *c = p;
	if (!c)
		return;
	cv__free_ids(c->ids, c->n);
	mqb__free(c->attribute);
	json_decref(c->from.values);
	json_decref(c->to.values);
	duration__fini(&c->hold);
	mqb__free(c);
}

/* from/to and their not_: a string, a list of strings or null; with an
 * attribute any value (Home Assistant compares it with ==). */
static size_t compile_match(const struct mqb_conf_node *node, const char *key, const char *not_key,
			    bool typed, const char *path, struct mqb_conf_errors *errs,
			    struct match *m)
{
	const struct mqb_conf_node *yes = mqb_conf_get(node, key), *no = mqb_conf_get(node, not_key);
	char p[CV_PATH_MAX];
	if (yes && no) {
		mqb_conf_error_at(errs, no, cv__path(p, path, ".%s", not_key),
				  "two or more values in the same group of exclusion '%s'", key);
		return 1;
	}
	const struct mqb_conf_node *n = yes ? yes : no;
	if (!n)
		return 0;
	cv__path(p, path, ".%s", yes ? key : not_key);
	m->given = true;
	m->negate = !yes;
	if (mqb_conf_kind(n) == MQB_CONF_NULL)
		return 0;
	if (!(m->values = json_array()))
		goto nomem;
	size_t cnt = mqb_conf_kind(n) == MQB_CONF_SEQ ? mqb_conf_len(n) : 1;
	for (size_t i = 0; i < cnt; i++) {
		const struct mqb_conf_node *it = mqb_conf_kind(n) == MQB_CONF_SEQ ? mqb_conf_item(n, i) : n;
		json_t *v;
		if (typed) {
			v = tval__from_conf(it);
		} else {
			/* "These are str on purpose. Want to catch YAML
			 * conversions": an unquoted on, true or 5 is refused */
			const char *s = cv__text(it);
			json_t *y = s && !mqb_conf_quoted(it) ? tval__yaml11(s, strlen(s)) : NULL;
			if (!s || (y && !json_is_null(y))) {
				const char *what = !s ? "structure" : json_is_boolean(y) ? "boolean"
											 : "number";
				mqb_conf_error_at(errs, it, p, "expected str for dictionary value @ "
							       "data['%s'] (quote %s: YAML reads it as "
							       "a %s)",
						  yes ? key : not_key, s ? s : "it", what);
				json_decref(y);
				return 1;
			}
			json_decref(y);
			v = json_string(s);
		}
		if (json_array_append_new(m->values, v))
			goto nomem;
	}
	return 0;
nomem:
	mqb_conf_error(errs, NULL, path, "out of memory");
	return 1;
}

/* A conf with node's entity_id (required) read; NULL when out of memory
 * (counted in *found). */
static struct conf *conf_new(const struct mqb_conf_node *node, const char *path,
			     struct mqb_conf_errors *errs, size_t *found)
{
	char p[CV_PATH_MAX];
	struct conf *c = mqb__calloc(1, sizeof *c);
	if (!c) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		++*found;
		return NULL;
	}
	const struct mqb_conf_node *ids = cv__required(node, "entity_id", path, errs, found);
	if (ids)
		*found += cv__entity_ids(ids, cv__path(p, path, ".entity_id"), false, errs, &c->ids,
					 &c->n);
	return c;
}

static size_t compile(const struct mqb_conf_node *node, const char *path,
		      struct mqb_conf_errors *errs, void **priv)
{
	char p[CV_PATH_MAX];
	size_t found = 0;
	struct conf *c = conf_new(node, path, errs, &found);
	if (!c)
		return found;
	found += cv__strdup(mqb_conf_get(node, "attribute"), cv__path(p, path, ".attribute"), errs,
			    &c->attribute);
	bool typed = mqb_conf_get(node, "attribute") != NULL;
	found += compile_match(node, "from", "not_from", typed, path, errs, &c->from);
	found += compile_match(node, "to", "not_to", typed, path, errs, &c->to);
	c->from_without_to = mqb_conf_get(node, "from") && !mqb_conf_get(node, "to");
	found += trigger__compile_for(node, path, errs, &c->hold, &c->has_for);
	if (found)
		conf_free(c);
	else
		*priv = c;
	return found;
}

/* ---- attached ------------------------------------------------------------------ */

struct run {
	struct trig_run *r;
	const struct conf *c;
	struct mqb_track *track;
	/* per entity: a for: under way, and the value the entity must keep
	 * (or, with from: and no to:, not go back to) */
	struct trigger_hold *hold;
	json_t **kept;
	/* per entity: the last new state this trigger saw, and the JSON made
	 * of it, which is the next change's from_state: one state made into
	 * JSON a change instead of two (the trigger's JSON is read, never
	 * changed, on the loop) */
	struct { struct mqb_state *s; json_t *j; } *last;
};

/* The value a trigger compares: the state, or the attribute; NULL for
 * no state (Home Assistant's None), also for a missing attribute. */
static json_t *value_of(const struct conf *c, const struct mqb_state *s)
{
	if (!s)
		return NULL;
	if (!c->attribute)
		return json_string(mqb_state_value(s));
	const json_t *v = json_object_get(mqb_state_attributes(s), c->attribute);
	/* the state's attributes are shared between threads: copy */
	return v ? json_deep_copy(v) : NULL;
}

static bool matches(const struct match *m, const json_t *v)
{
	if (!m->values)
		return true;
	bool in = false;
	size_t i;
	const json_t *w;
	json_array_foreach(m->values, i, w)
		if (v && trigger__py_equal(v, w))
			in = true;
	return in != m->negate;
}

static void hold_cancel(struct run *run, size_t e)
{
	trigger__hold_cancel(&run->hold[e]);
	json_decref(run->kept[e]);
	run->kept[e] = NULL;
}

/* Home Assistant's _check_same_state: whether entity e's pending for:
 * survives its new state s. */
static bool still_held(const struct run *run, size_t e, const struct mqb_state *s)
{
	if (!s)
		return false;
	json_t *cur = value_of(run->c, s);
	bool eq = trigger__py_equal(cur, run->kept[e]);
	json_decref(cur);
	return run->c->from_without_to ? !eq : eq;
}

static void start_hold(struct run *run, size_t e, json_t *data, json_t *from_v, json_t *to_v)
{
	struct trig_run *r = run->r;
	const struct conf *c = run->c;
	double period;
	/* for: sees a partial trigger and the attachment's variables */
	json_t *partial = trigger__partial("state", data);
	int rc = trigger__render_for(r, &c->hold, partial, true, &period);
	json_decref(partial);
	if (rc) {
		json_decref(data);
		return;
	}
	/* A new match restarts what was pending: Home Assistant leaves the
	 * old timer running too (so an attribute change could fire twice),
	 * which this does not copy. */
	hold_cancel(run, e);
	run->kept[e] = json_incref(c->from_without_to ? from_v : to_v);
	trigger__hold_start(&run->hold[e], r, period, period <= 0 && duration__fixed(&c->hold),
			    data);
}

static void changed(void *ud, const struct mqb_event *ev)
{
	struct run *run = ud;
	struct trig_run *r = run->r;
	const struct conf *c = run->c;
	const char *id = mqb_event_entity_id(ev);
	size_t e = 0;
	while (e < c->n && strcmp(c->ids[e], id))
		e++;
	if (e == c->n)
		return;
	trigger__enter(r);
	const struct mqb_state *old = mqb_event_old_state(ev), *new = mqb_event_new_state(ev);
	json_t *ov = value_of(c, old), *nv = value_of(c, new), *data = NULL;
	if (run->hold[e].timer && !still_held(run, e, new))
		hold_cancel(run, e);
	bool same = trigger__py_equal(ov, nv);
	if (c->attribute && same)
		goto out;
	if (!matches(&c->from, ov) || !matches(&c->to, nv))
		goto out;
	if ((c->from.given || c->to.given) && same)
		goto out; /* an attribute-only change fires only without from/to */
	char desc[MQB_MAX_ENTITY_ID_LEN + 16];
	snprintf(desc, sizeof desc, "state of %s", id);
	json_t *from_j = old && old == run->last[e].s ? json_incref(run->last[e].j)
						      : trigger__state_json(old);
	json_t *to_j = trigger__state_json(new);
	mqb_state_unref(run->last[e].s);
	json_decref(run->last[e].j);
	run->last[e].s = to_j && new ? mqb_state_ref((struct mqb_state *)new) : NULL;
	run->last[e].j = run->last[e].s ? json_incref(to_j) : NULL;
	data = json_pack("{s:s,s:o,s:o,s:n,s:o,s:s}", "entity_id", id, "from_state", from_j,
			 "to_state", to_j, "for", "attribute",
			 c->attribute ? json_string(c->attribute) : json_null(), "description", desc);
	if (!data) {
		MQB_LOG_ERROR(SUB, "%s: out of memory", trigger__name(r));
		goto out;
	}
	if (c->has_for)
		start_hold(run, e, data, ov, nv);
	else
		trigger__fire(r, data);
out:
	json_decref(ov);
	json_decref(nv);
	trigger__leave(r);
}

static void detach(struct trig_run *r)
{
	struct run *run = r->state;
	if (!run)
		return;
	mqb_async_track_cancel(run->track);
	for (size_t i = 0; run->kept && i < run->c->n; i++)
		hold_cancel(run, i);
	for (size_t i = 0; run->last && i < run->c->n; i++) {
		mqb_state_unref(run->last[i].s);
		json_decref(run->last[i].j);
	}
	mqb__free(run->last);
	mqb__free(run->hold);
	mqb__free(run->kept);
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
	int rc = -ENOMEM;
	if (!(run->hold = mqb__calloc(c->n, sizeof *run->hold)) ||
	    !(run->kept = mqb__calloc(c->n, sizeof *run->kept)) ||
	    !(run->last = mqb__calloc(c->n, sizeof *run->last)) ||
	    (rc = mqb_async_track_state_change(r->a->core, (const char *const *)c->ids, c->n, changed,
					       run, &run->track))) {
		detach(r);
		return rc;
	}
	return 0;
}

/* A device trigger of an entity that turns on and off (Home Assistant's
 * device_automation/toggle_entity.py, entity.py): the state trigger of
 * its entity_id, to "on" (turned_on), to "off" (turned_off) or to any
 * other state (changed_states), with for. */
static const char *const device_keys[] = {"domain", "device_id", "entity_id", "type", "for",
					  "metadata", NULL};

static size_t compile_device(const struct mqb_conf_node *node, const char *path,
			     struct mqb_conf_errors *errs, void **priv)
{
	char p[CV_PATH_MAX];
	size_t found = 0;
	const struct mqb_conf_node *tn = cv__required(node, "type", path, errs, &found);
	const char *type = cv__text(tn), *to = NULL;
	if (type && strcmp(type, "turned_on") == 0)
		to = "on";
	else if (type && strcmp(type, "turned_off") == 0)
		to = "off";
	else if (tn && (!type || strcmp(type, "changed_states") != 0)) {
		mqb_conf_error_at(errs, tn, cv__path(p, path, ".type"),
				  "value must be one of ['changed_states', 'turned_off', "
				  "'turned_on']");
		return found + 1;
	}
	struct conf *c = conf_new(node, path, errs, &found);
	if (!c)
		return found;
	c->to.given = true; /* changed_states: to any state, not an attribute's change */
	if (to && (!(c->to.values = json_array()) ||
		   json_array_append_new(c->to.values, json_string(to)))) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		found++;
	}
	found += trigger__compile_for(node, path, errs, &c->hold, &c->has_for);
	if (found)
		conf_free(c);
	else
		*priv = c;
	return found;
}

const struct trig_ops trigger__device_entity = {
	.name = "device",
	.keys = device_keys,
	.compile = compile_device,
	.free = conf_free,
	.attach = attach,
	.detach = detach,
};

const struct trig_ops trigger__state = {
	.name = "state",
	.keys = keys,
	.compile = compile,
	.free = conf_free,
	.attach = attach,
	.detach = detach,
};
