/* SPDX-License-Identifier: MIT */
/* What the automation and script integrations share: run options, the
 * entity that holds a script's runs, the keys of both generations, the
 * unknown-service warning and the reload service (script_util.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mqbridge/bus.h"
#include "mqbridge/core.h"
#include "mqbridge/coro.h"
#include "mqbridge/entity.h"
#include "mqbridge/future.h"
#include "mqbridge/platform.h"
#include "mqbridge/restore.h"
#include "mqbridge/services.h"
#include "mqbridge/states.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"

#include "script_util.h"

const char *su_path(char *buf, size_t len, const char *path, const char *suffix)
{
	snprintf(buf, len, "%s%s", path, suffix);
	return buf;
}

/* ---- run options ----------------------------------------------------------- */

static const char *const mode_names[] = {
	[MQB_SCRIPT_SINGLE] = "single", [MQB_SCRIPT_RESTART] = "restart",
	[MQB_SCRIPT_QUEUED] = "queued", [MQB_SCRIPT_PARALLEL] = "parallel"};

/* Python's logging levels by name, as max_exceeded takes them. */
static const struct {
	const char *name;
	enum mqb_log_level level;
} levels[] = {
	{"critical", MQB_LOG_ERROR}, {"fatal", MQB_LOG_ERROR},     {"error", MQB_LOG_ERROR},
	{"warning", MQB_LOG_WARNING}, {"warn", MQB_LOG_WARNING},   {"info", MQB_LOG_INFO},
	{"debug", MQB_LOG_DEBUG},    {"notset", MQB_LOG_DEBUG},
};

static const char *scalar(const struct mqb_conf_node *n)
{
	return n && mqb_conf_kind(n) == MQB_CONF_SCALAR ? mqb_conf_scalar(n, NULL) : NULL;
}

size_t su_mode_read(const struct mqb_conf_node *node, const char *path,
		    struct mqb_conf_errors *errs, struct su_mode *out)
{
	char p[256], buf[64];
	size_t found = 0;
	*out = (struct su_mode){MQB_SCRIPT_SINGLE, 10, MQB_LOG_WARNING, false};
	const struct mqb_conf_node *n = mqb_conf_get(node, "mode");
	const char *s = scalar(n);
	if (n) {
		size_t i = 0;
		while (i < MQB_ARRAY_SIZE(mode_names) && (!s || strcmp(s, mode_names[i])))
			i++;
		if (i < MQB_ARRAY_SIZE(mode_names)) {
			out->mode = (enum mqb_script_mode)i;
		} else {
			mqb_conf_error_at(errs, n, su_path(p, sizeof p, path, ".mode"),
					  "value must be one of ['parallel', 'queued', 'restart', "
					  "'single'], got %s",
					  mqb_conf_display(n, buf, sizeof buf));
			found++;
		}
	}
	n = mqb_conf_get(node, "max");
	if (n) {
		char *end = NULL;
		s = scalar(n);
		long v = s ? strtol(s, &end, 10) : 0;
		if (!s || !*s || *end || v < 2 || v > 1000000) {
			mqb_conf_error_at(errs, n, su_path(p, sizeof p, path, ".max"),
					  "value must be a whole number of at least 2, got %s",
					  mqb_conf_display(n, buf, sizeof buf));
			found++;
		} else {
			out->max = (unsigned)v;
		}
	}
	n = mqb_conf_get(node, "max_exceeded");
	if (n) {
		s = scalar(n);
		size_t i = 0;
		while (i < MQB_ARRAY_SIZE(levels) && (!s || strcasecmp(s, levels[i].name)))
			i++;
		if (i < MQB_ARRAY_SIZE(levels)) {
			out->max_exceeded = levels[i].level;
		} else if (s && strcasecmp(s, "silent") == 0) {
			out->silent = true;
		} else {
			mqb_conf_error_at(errs, n, su_path(p, sizeof p, path, ".max_exceeded"),
					  "expected a log level (critical, error, warning, info, "
					  "debug) or silent, got %s",
					  mqb_conf_display(n, buf, sizeof buf));
			found++;
		}
	}
	return found;
}

/* ---- the holder ------------------------------------------------------------- */

void su_write(struct su_holder *h)
{
	if (h->removed || !h->e)
		return;
	json_t *attrs = json_object();
	if (!attrs)
		return;
	char iso[MQB_ISOFORMAT_MAX];
	json_object_set_new(attrs, "last_triggered",
			    isnan(h->last_triggered) || !mqb_isoformat(h->last_triggered, iso)
				    ? json_null()
				    : json_string(iso));
	json_object_set_new(attrs, "mode", json_string(mode_names[h->mode.mode]));
	json_object_set_new(attrs, "current",
			    json_integer(h->script ? mqb_script_async_runs(h->script) : 0));
	if (h->mode.mode == MQB_SCRIPT_QUEUED || h->mode.mode == MQB_SCRIPT_PARALLEL)
		json_object_set_new(attrs, "max", json_integer(h->mode.max));
	if (h->attributes)
		h->attributes(h, attrs);
	mqb_entity_async_set_state(h->e, h->state(h));
	mqb_entity_async_set_attributes(h->e, attrs);
	mqb_entity_async_write(h->e);
}

static void write_soon_cb(void *arg)
{
	struct su_holder *h = arg;
	h->write_queued = false;
	su_write(h);
	h->unref(h);
}

void su_write_soon(struct su_holder *h)
{
	if (h->write_queued || h->removed)
		return;
	if (mqb_async_call_soon(h->core, write_soon_cb, h)) {
		su_write(h); /* shutting down, or out of memory: now, then */
		return;
	}
	h->write_queued = true;
	(*h->refs)++;
}

void su_on_change(void *ud, struct mqb_script *s)
{
	(void)s;
	struct su_holder *h = ud;
	if (!h->starting)
		su_write_soon(h);
}

int su_start(struct mqb_core *core, struct su_holder *h, json_t *variables,
	     const struct mqb_service_call *call, struct mqb_future **out)
{
	h->starting = true;
	int rc = mqb_script_async_run_call(core, h->script, variables, call, out);
	h->starting = false;
	if (rc == 0) {
		/* Home Assistant: when a run is accepted, also a queued one */
		h->last_triggered = mqb_async_now(core);
		su_write_soon(h);
	}
	return rc;
}

const char *su_restore(struct su_holder *h, int *rc)
{
	const json_t *last = mqb_restore_async_last_state(h->e);
	const char *lt = json_string_value(
		json_object_get(json_object_get(last, "attributes"), "last_triggered"));
	double t;
	int32_t off;
	bool aware;
	if (lt && mqb_parse_datetime(lt, &t, &off, &aware))
		h->last_triggered = t;
	*rc = mqb_restore_async_register(h->e, NULL, NULL);
	return mqb_restore_async_last_value(h->e);
}

bool su_mentions(const json_t *raw, const char *word)
{
	const char *k;
	size_t i;
	json_t *v;
	switch (json_typeof(raw)) {
	case JSON_STRING:
		return strstr(json_string_value(raw), word) != NULL;
	case JSON_OBJECT:
		json_object_foreach((json_t *)raw, k, v)
			if (su_mentions(v, word))
				return true;
		return false;
	case JSON_ARRAY:
		json_array_foreach(raw, i, v)
			if (su_mentions(v, word))
				return true;
		return false;
	default:
		return false;
	}
}

json_t *su_this(struct mqb_core *core, struct mqb_entity *e)
{
	struct mqb_state *st = e ? mqb_states_async_get(core, mqb_entity_id(e)) : NULL;
	json_t *j = st ? mqb_state_to_json(st) : json_null();
	mqb_state_unref(st);
	return j;
}

/* ---- services ---------------------------------------------------------------- */

struct warn {
	struct mqb_core *core;
	const char *who;
};

static void warn_one(void *ud, const char *domain, const char *service, const char *path)
{
	struct warn *w = ud;
	if (!domain)
		mqb_log(MQB_LOG_WARNING, "script", "%s: %s: %s: a run that reaches it fails there",
			w->who, path, service);
	else if (!mqb_services_async_has(w->core, domain, service))
		mqb_log(MQB_LOG_WARNING, "script",
			"%s: %s: action %s.%s is not registered by any integration: a run that "
			"reaches it fails there",
			w->who, path, domain, service);
}

void su_warn_unknown_services(struct mqb_core *core, const struct mqb_script *s,
			      const char *who)
{
	struct warn w = {core, who};
	mqb_script_foreach_service(s, warn_one, &w);
}

/* ---- configuration ------------------------------------------------------------ */

const struct mqb_conf_node *su_either(const struct mqb_conf_node *node, const char *old_key,
				      const char *new_key, const char *path,
				      struct mqb_conf_errors *errs, size_t *found)
{
	const struct mqb_conf_node *o = mqb_conf_get(node, old_key);
	const struct mqb_conf_node *n = mqb_conf_get(node, new_key);
	if (o && n) {
		char p[256];
		mqb_conf_error_at(errs, o, su_path(p, sizeof p, path, ""),
				  "Cannot specify both '%s' and '%s'. Please use '%s' only.", old_key,
				  new_key, new_key);
		(*found)++;
	}
	return n ? n : o;
}

size_t su_read_parts(const struct mqb_conf_node *node, const char *path,
		     struct mqb_conf_errors *errs, struct su_parts *p)
{
	size_t found = 0;
	p->triggers = su_either(node, "trigger", "triggers", path, errs, &found);
	p->conditions = su_either(node, "condition", "conditions", path, errs, &found);
	p->actions = su_either(node, "action", "actions", path, errs, &found);
	su_path(p->tpath, sizeof p->tpath, path,
		mqb_conf_get(node, "triggers") ? ".triggers" : ".trigger");
	su_path(p->cpath, sizeof p->cpath, path,
		mqb_conf_get(node, "conditions") ? ".conditions" : ".condition");
	su_path(p->apath, sizeof p->apath, path,
		mqb_conf_get(node, "actions") ? ".actions" : ".action");
	return found;
}

bool su_same_config(const json_t *raw, const struct mqb_conf_node *node)
{
	json_t *j = mqb_conf_to_json(node);
	bool same = j && raw && json_equal(raw, j);
	json_decref(j);
	return same;
}

/* ---- reload ------------------------------------------------------------------- */

static int reload_handler(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct mqb_integration *in = ud;
	struct mqb_future *f = NULL;
	int rc = mqb_integration_async_reload(in, &f);
	if (rc == 0) {
		rc = mqb_await(f, NULL);
		mqb_future_unref(f);
	}
	if (rc == 0) {
		char type[MQB_MAX_EVENT_TYPE_LEN + 1];
		snprintf(type, sizeof type, "%s_reloaded", mqb_integration_name(in));
		mqb_bus_async_fire(mqb_integration_core(in), type, NULL);
	}
	return rc;
}

int su_register_reload(struct mqb_integration *in)
{
	return mqb_services_async_register(mqb_integration_core(in), mqb_integration_name(in),
					   "reload", &MQB_COROUTINE(reload_handler, in), NULL, NULL);
}
