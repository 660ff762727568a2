/* SPDX-License-Identifier: MIT */
/* The event trigger (Home Assistant's triggers/event.py: event types, and
 * event_data matched as a subset) and the homeassistant trigger (start and
 * shutdown), both listeners on the bus. */
#include "lib/internal.h"

#include <errno.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/text.h"

#include "ha/cv.h"
#include "ha/trigger_impl.h"

#define SUB "trigger"

/* The events a `homeassistant: start|shutdown` trigger waits for: the
 * daemon fires mqbridge_start once every integration is set up, as Home
 * Assistant fires homeassistant_start after its bootstrap. */
#define TRIGGER_STARTED_EVENT MQB_EVENT_START
#define TRIGGER_STOP_EVENT MQB_EVENT_STOP

/* ---- event ------------------------------------------------------------------- */

struct conf {
	struct tval types;           /* a string or a list: templates, rendered at attach */
	bool has_data, has_context;
	struct tval data, context;
};

static const char *const event_keys[] = {"event_type", "event_data", "context", NULL};

static void conf_free(void *p)
{
	struct conf *c = p;
	if (!c)
		return;
	tval__fini(&c->types);
	if (c->has_data)
		tval__fini(&c->data);
	if (c->has_context)
		tval__fini(&c->context);
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
	const struct mqb_conf_node *types = cv__required(node, "event_type", path, errs, &found);
	if (types) {
		cv__path(p, path, ".event_type");
		bool ok = mqb_conf_kind(types) == MQB_CONF_SCALAR;
		for (size_t i = 0; mqb_conf_kind(types) == MQB_CONF_SEQ && i < mqb_conf_len(types); i++)
			ok = mqb_conf_kind(mqb_conf_item(types, i)) == MQB_CONF_SCALAR;
		const char *s = cv__text(types);
		if (!ok) {
			mqb_conf_error_at(errs, types, p, "expected an event type or a list of them");
			found++;
		} else if (s && strcmp(s, "state_reported") == 0) {
			mqb_conf_error_at(errs, types, p, "Can't listen to state_reported in event "
							  "trigger");
			found++;
		} else {
			found += tval__compile(&c->types, types, p, errs);
		}
	}
	static const char *const maps[] = {"event_data", "context"};
	for (int i = 0; i < 2; i++) {
		const struct mqb_conf_node *n = mqb_conf_get(node, maps[i]);
		if (!n)
			continue;
		cv__path(p, path, ".%s", maps[i]);
		if (mqb_conf_kind(n) != MQB_CONF_MAP && mqb_conf_kind(n) != MQB_CONF_NULL) {
			mqb_conf_error_at(errs, n, p, "expected a dictionary");
			found++;
		} else if (mqb_conf_kind(n) == MQB_CONF_MAP) {
			struct tval *tv = i ? &c->context : &c->data;
			size_t f = tval__compile(tv, n, p, errs);
			found += f;
			if (!f)
				*(i ? &c->has_context : &c->has_data) = true;
		}
	}
	if (found)
		conf_free(c);
	else
		*priv = c;
	return found;
}

struct run {
	struct trig_run *r;
	json_t *data;                /* rendered event_data; NULL: any */
	size_t n;
	struct mqb_listener **listeners;
};

/* Home Assistant's event_data test: every configured key there with an
 * equal value, mappings compared the same way level by level (extra keys
 * anywhere are fine), lists and the rest with ==. */
static bool subset(const json_t *want, const json_t *have)
{
	if (!json_is_object(want))
		return trigger__py_equal(want, have);
	if (!json_is_object(have))
		return false;
	const char *k;
	json_t *w;
	json_object_foreach((json_t *)want, k, w) {
		const json_t *h = json_object_get(have, k);
		if (!h || !subset(w, h))
			return false;
	}
	return true;
}

static int on_event(void *ud, void *arg, void **result)
{
	(void)result;
	struct run *run = ud;
	struct trig_run *r = run->r;
	const struct mqb_event *ev = arg;
	if (run->data && !subset(run->data, mqb_event_data(ev)))
		return 0;
	trigger__enter(r);
	char when[MQB_ISOFORMAT_MAX], desc[MQB_MAX_EVENT_TYPE_LEN + 16];
	mqb_isoformat(mqb_event_time_fired(ev), when);
	snprintf(desc, sizeof desc, "event '%s'", mqb_event_type(ev));
	json_t *data = json_pack("{s:{s:s,s:o,s:s,s:s,s:{s:n,s:n,s:n}},s:s}", "event", "event_type",
				 mqb_event_type(ev), "data", json_deep_copy(mqb_event_data(ev)),
				 "origin", "LOCAL", "time_fired", when, "context", "id",
				 "parent_id", "user_id", "description", desc);
	if (data)
		trigger__fire(r, data);
	else
		MQB_LOG_ERROR(SUB, "%s: out of memory", trigger__name(r));
	trigger__leave(r);
	return 0;
}

static void detach(struct trig_run *r)
{
	struct run *run = r->state;
	if (!run)
		return;
	for (size_t i = 0; i < run->n; i++)
		if (run->listeners[i])
			mqb_bus_async_unlisten(r->a->core, run->listeners[i]);
	mqb__free(run->listeners);
	json_decref(run->data);
	mqb__free(run);
	r->state = NULL;
}

/* Render tv once, as Home Assistant renders these when it attaches
 * (limited templates: the attachment's variables, no states). */
static int render_once(struct trig_run *r, const struct tval *tv, json_t **out)
{
	struct mqb_tpl_vars vars = trigger__vars(r, NULL);
	vars.core = NULL;
	struct mqb_tpl_error err = {0};
	int rc = tval__render(tv, &vars, out, &err);
	if (rc && rc != -ENOMEM)
		MQB_LOG_ERROR(SUB, "%s: event trigger: %s", trigger__name(r), err.message);
	return rc;
}

static int attach(struct trig_run *r)
{
	const struct conf *c = r->t->priv;
	struct run *run = mqb__calloc(1, sizeof *run);
	json_t *types = NULL;
	if (!run)
		return -ENOMEM;
	r->state = run;
	run->r = r;
	int rc = render_once(r, &c->types, &types);
	if (rc)
		goto fail;
	if (!json_is_array(types)) {
		json_t *one = json_array();
		if (!one || json_array_append_new(one, types)) {
			json_decref(one);
			rc = -ENOMEM;
			goto fail;
		}
		types = one;
	}
	if (c->has_data && (rc = render_once(r, &c->data, &run->data)))
		goto fail;
	if (json_is_object(run->data) && json_object_size(run->data) == 0) {
		json_decref(run->data); /* {}: any data, as the UI writes it */
		run->data = NULL;
	}
	if (c->has_context) {
		json_t *ctx = NULL;
		if ((rc = render_once(r, &c->context, &ctx)))
			goto fail;
		if (json_object_size(ctx))
			/* a context that matches nothing: no event here has one */
			MQB_LOG_WARNING(SUB, "%s: event trigger: mqbridge's events carry no context "
					     "(user_id, parent_id); this trigger does not fire",
					trigger__name(r));
		bool never = json_object_size(ctx) > 0;
		json_decref(ctx);
		if (never) {
			json_decref(types);
			return 0;
		}
	}
	run->n = json_array_size(types);
	if (!(run->listeners = mqb__calloc(run->n ? run->n : 1, sizeof *run->listeners))) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < run->n; i++) {
		const char *type = json_string_value(json_array_get(types, i));
		if (!type || !*type || strcmp(type, "state_reported") == 0) {
			MQB_LOG_ERROR(SUB, "%s: event trigger: %s", trigger__name(r),
				      type && *type ? "Can't listen to state_reported in event trigger"
						    : "the event type is not a string");
			rc = -EINVAL;
			goto fail;
		}
		if ((rc = mqb_bus_async_listen(r->a->core, type, &MQB_CALLBACK(on_event, run),
					       &run->listeners[i])))
			goto fail;
	}
	json_decref(types);
	return 0;
fail:
	json_decref(types);
	detach(r);
	return rc;
}

const struct trig_ops trigger__event = {
	.name = "event",
	.keys = event_keys,
	.compile = compile,
	.free = conf_free,
	.attach = attach,
	.detach = detach,
};

/* ---- homeassistant ------------------------------------------------------------ */

static const char *const ha_keys[] = {"event", NULL};

/* The conf is just the event: 1 start, 2 shutdown. */
static size_t ha_compile(const struct mqb_conf_node *node, const char *path,
			 struct mqb_conf_errors *errs, void **priv)
{
	size_t found = 0;
	char p[CV_PATH_MAX];
	const struct mqb_conf_node *n = cv__required(node, "event", path, errs, &found);
	const char *s = cv__text(n);
	if (!n)
		return found;
	if (!s || (strcmp(s, "start") && strcmp(s, "shutdown"))) {
		mqb_conf_error_at(errs, n, cv__path(p, path, ".event"),
				  "value must be one of ['shutdown', 'start']");
		return 1;
	}
	*priv = (void *)(strcmp(s, "start") == 0 ? "start" : "shutdown");
	return 0;
}

struct ha_run {
	struct trig_run *r;
	struct mqb_listener *listener;
};

static int ha_event(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct ha_run *run = ud;
	struct trig_run *r = run->r;
	run->listener = NULL; /* a listen_once handle is gone once called */
	bool start = strcmp(r->t->priv, "start") == 0;
	trigger__enter(r);
	trigger__fire(r, json_pack("{s:s,s:s}", "event", start ? "start" : "shutdown", "description",
				   start ? "Home Assistant starting" : "Home Assistant stopping"));
	trigger__leave(r);
	return 0;
}

static void ha_detach(struct trig_run *r)
{
	struct ha_run *run = r->state;
	if (!run)
		return;
	if (run->listener)
		mqb_bus_async_unlisten(r->a->core, run->listener);
	mqb__free(run);
	r->state = NULL;
}

static int ha_attach(struct trig_run *r)
{
	struct ha_run *run = mqb__calloc(1, sizeof *run);
	if (!run)
		return -ENOMEM;
	r->state = run;
	run->r = r;
	const char *type = strcmp(r->t->priv, "start") == 0 ? TRIGGER_STARTED_EVENT
							    : TRIGGER_STOP_EVENT;
	int rc = mqb_bus_async_listen_once(r->a->core, type, &MQB_CALLBACK(ha_event, run),
					   &run->listener);
	if (rc)
		ha_detach(r);
	return rc;
}

const struct trig_ops trigger__homeassistant = {
	.name = "homeassistant",
	.keys = ha_keys,
	.compile = ha_compile,
	.attach = ha_attach,
	.detach = ha_detach,
};
