/* SPDX-License-Identifier: MIT */
/* The template trigger (Home Assistant's components/template/trigger.py):
 * fires when value_template turns from false to true (Home Assistant's
 * result_as_boolean), optionally held for: a while, on a template tracker
 * that renders it again when what it read changes. */
#include "lib/internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "mqbridge/bus.h"
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

struct conf {
	struct mqb_template *value;
	char *text;               /* for the tracker's rate limits */
	bool has_for;
	struct duration hold;
};

static const char *const keys[] = {"value_template", "for", NULL};

static void conf_free(void *p)
{
	struct conf *c = p;
	if (!c)
		return;
	mqb_template_free(c->value);
	mqb__free(c->text);
	duration__fini(&c->hold);
	mqb__free(c);
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
	const struct mqb_conf_node *vt = cv__required(node, "value_template", path, errs, &found);
	if (vt) {
		cv__path(p, path, ".value_template");
		if (schema__compile_template(vt, p, errs, &c->value) < 0)
			found++;
		else
			found += cv__strdup(vt, p, errs, &c->text);
	}
	found += trigger__compile_for(node, path, errs, &c->hold, &c->has_for);
	if (found)
		conf_free(c);
	else
		*priv = c;
	return found;
}

struct run {
	struct trig_run *r;
	struct mqb_track *track;
	bool started, armed;
	struct trigger_hold hold;
};

static void start_hold(struct run *run, json_t *data)
{
	struct trig_run *r = run->r;
	const struct conf *c = r->t->priv;
	double period;
	/* for: sees the partial trigger only, not the attachment's variables */
	json_t *partial = trigger__partial("template", data);
	int rc = trigger__render_for(r, &c->hold, partial, false, &period);
	json_decref(partial);
	if (rc) {
		json_decref(data);
		return;
	}
	trigger__hold_start(&run->hold, r, period, period <= 0 && duration__fixed(&c->hold), data);
}

static void result(void *ud, const struct mqb_event *ev, int status, const char *text)
{
	struct run *run = ud;
	struct trig_run *r = run->r;
	const struct conf *c = r->t->priv;
	trigger__enter(r);
	if (!run->started) {
		/* armed only by a false start: a template true (or failing)
		 * from the beginning must turn false before it fires */
		run->started = true;
		if (status)
			MQB_LOG_WARNING(SUB, "Error initializing 'template' trigger for '%s': %s",
					trigger__name(r), text);
		else
			run->armed = !cv__result_as_boolean(text);
		goto out;
	}
	if (status) {
		MQB_LOG_WARNING(SUB, "Error evaluating 'template' trigger for '%s': %s",
				trigger__name(r), text);
		goto out; /* neither arms nor ends a pending for: */
	}
	trigger__hold_cancel(&run->hold);
	if (!cv__result_as_boolean(text)) {
		run->armed = true;
		goto out;
	}
	if (!run->armed)
		goto out;
	run->armed = false;
	const char *id = ev ? mqb_event_entity_id(ev) : NULL;
	char desc[MQB_MAX_ENTITY_ID_LEN + 32] = "time change or manual update via template";
	if (id)
		snprintf(desc, sizeof desc, "%s via template", id);
	json_t *data = json_pack("{s:o,s:o,s:o,s:n,s:s}", "entity_id",
				 id ? json_string(id) : json_null(), "from_state",
				 trigger__state_json(ev ? mqb_event_old_state(ev) : NULL), "to_state",
				 trigger__state_json(ev ? mqb_event_new_state(ev) : NULL), "for",
				 "description", desc);
	if (!data)
		MQB_LOG_ERROR(SUB, "%s: out of memory", trigger__name(r));
	else if (c->has_for)
		start_hold(run, data);
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
	trigger__hold_cancel(&run->hold);
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
	struct mqb_track_template_options opt = {
		.variables = r->a->variables,
		.fire_first = true,
		.text = c->text,
	};
	int rc = mqb_async_track_template(r->a->core, c->value, &opt, result, run, &run->track);
	if (rc)
		detach(r);
	return rc;
}

const struct trig_ops trigger__template = {
	.name = "template",
	.keys = keys,
	.compile = compile,
	.free = conf_free,
	.attach = attach,
	.detach = detach,
};
