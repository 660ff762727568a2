/* SPDX-License-Identifier: MIT */
/* Home Assistant's script integration: `script:` maps object ids to
 * sequences; each is a script.<id> entity, on while a run of it exists,
 * and a service script.<id> that runs it with the call's data as its
 * variables and waits for the end, answering with its stop response.
 * script.turn_on starts one without waiting, turn_off stops every run,
 * toggle does one or the other, reload takes the file as it is now. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/core.h"
#include "mqbridge/coro.h"
#include "mqbridge/entity.h"
#include "mqbridge/error.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/script.h"
#include "mqbridge/services.h"

#include "script_util.h"

#define NAME "script"

/* ---- configuration ----------------------------------------------------------- */

static const struct mqb_schema_key script_keys[] = {
	{.key = "alias", .type = MQB_S_STRING, .doc = "the name shown (default: the object id)"},
	{.key = "icon", .type = MQB_S_STRING, .doc = "icon (mdi:...)"},
	{.key = "description", .type = MQB_S_STRING, .doc = "what it does, for people"},
	{.key = "mode", .type = MQB_S_ANY,
	 .doc = "what a start does while a run exists: single, restart, queued or parallel"},
	{.key = "max", .type = MQB_S_ANY, .doc = "queued and parallel: runs at once (default 10)"},
	{.key = "max_exceeded", .type = MQB_S_ANY,
	 .doc = "the log level of a refused start (default warning), or silent"},
	{.key = "variables", .type = MQB_S_ANY,
	 .doc = "names and values (templates) each run starts with, under the caller's"},
	{.key = "fields", .type = MQB_S_ANY,
	 .doc = "the variables a caller may pass, described (not enforced, as in Home Assistant)"},
	{.key = "trace", .type = MQB_S_ANY, .doc = "accepted, no effect"},
	{.key = "sequence", .type = MQB_S_ANY, .required = true, .doc = "the actions"},
	{.key = "use_blueprint", .type = MQB_S_ANY,
	 .doc = "path and input of a blueprint under blueprints/script/ (made into the script "
		"when the configuration is read)"},
};
static const struct mqb_schema script_schema = MQB_SCHEMA("script", script_keys);

static const char *const reserved_ids[] = {"reload", "toggle", "turn_off", "turn_on"};

static size_t check_one(const struct mqb_component_entry *en, struct mqb_conf_errors *errs)
{
	char p[256], slug[256];
	size_t found = 0;
	const char *key = en->key ? en->key : "";
	if (strlen(key) >= sizeof slug || strcmp(mqb_slugify(key, slug, sizeof slug), key) != 0) {
		mqb_conf_error_at(errs, en->key_node, en->path,
				  "invalid object id: invalid slug %s (try %s)", key, slug);
		found++;
	}
	for (size_t i = 0; i < MQB_ARRAY_SIZE(reserved_ids); i++)
		if (strcmp(key, reserved_ids[i]) == 0) {
			mqb_conf_error_at(errs, en->key_node, en->path,
					  "A script's object_id must not be one of reload, toggle, "
					  "turn_off, turn_on. Got '%s'",
					  key);
			found++;
		}
	if (mqb_conf_kind(en->node) != MQB_CONF_MAP) {
		mqb_conf_error_at(errs, en->node, en->path, "expected a mapping with sequence:");
		return found + 1;
	}
	found += mqb_schema_apply(&script_schema, en->node, en->path, NULL, errs);
	struct su_mode m;
	found += su_mode_read(en->node, en->path, errs, &m);
	const struct mqb_conf_node *f = mqb_conf_get(en->node, "fields");
	if (f && mqb_conf_kind(f) != MQB_CONF_MAP && mqb_conf_kind(f) != MQB_CONF_NULL) {
		mqb_conf_error_at(errs, f, su_path(p, sizeof p, en->path, ".fields"),
				  "expected a mapping of field names");
		found++;
	}
	const struct mqb_conf_node *v = mqb_conf_get(en->node, "variables");
	if (v)
		found += mqb_script_variables_compile(v, su_path(p, sizeof p, en->path, ".variables"),
						      errs, NULL);
	const struct mqb_conf_node *seq = mqb_conf_get(en->node, "sequence");
	if (seq)
		found += mqb_script_compile(seq, su_path(p, sizeof p, en->path, ".sequence"), NULL,
					    errs, NULL);
	return found;
}

static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	for (size_t i = 0; i < n; i++)
		check_one(&entries[i], errs);
}

/* ---- scripts ---------------------------------------------------------------- */

struct comp;

struct scr {
	struct su_holder h;              /* first: the holder's callbacks get it */
	struct comp *c;
	unsigned refs;                   /* the entity's, and each call running */
	char *key;                       /* the object id */
	json_t *raw;                     /* its configuration, for a reload */
	struct mqb_script_variables *vars;
	bool needs_this;                 /* a template of it names `this` */
	struct scr *next;
};

/* The integration in a core. */
struct comp {
	struct mqb_integration *in;
	struct mqb_core *core;
	struct scr *list;
};

static void scr_unref(struct scr *x)
{
	if (--x->refs)
		return;
	mqb_script_free(x->h.script);
	mqb_script_variables_free(x->vars);
	json_decref(x->raw);
	free(x->key);
	free(x);
}

static void scr_release(struct su_holder *h)
{
	scr_unref((struct scr *)h);
}

static const char *scr_state(struct su_holder *h)
{
	return mqb_script_async_running(h->script) ? "on" : "off";
}

static int fire_started(struct scr *x)
{
	return mqb_bus_async_fire(x->c->core, "script_started",
				  json_pack("{s:s?,s:s}", "name", mqb_entity_name(x->h.e),
					    "entity_id", mqb_entity_id(x->h.e)));
}

/* The run's variables: `this` (when a template names it), then what the
 * caller gave. NULL on ENOMEM. */
static json_t *run_variables(struct scr *x, const json_t *given)
{
	json_t *v = json_is_object(given) ? json_copy((json_t *)given) : json_object();
	if (v && x->needs_this && json_object_set_new(v, "this", su_this(x->c->core, x->h.e))) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* script.<id>: run with the call's data as variables and wait for the
 * end; answer with the stop response ({} without one) when asked. A run
 * refused (already running, its max, a recursion) or stopped answers
 * nothing and is no error, as Home Assistant returns None then; an error
 * that ended the run is the call's. A COROUTINE. */
static int call_handler(void *ud, void *arg, void **result)
{
	struct scr *x = ud;
	const struct mqb_service_call *call = arg;
	if (x->h.removed)
		return -MQB_E_NOTFOUND;
	json_t *vars = run_variables(x, mqb_service_call_data(call));
	if (!vars)
		return -ENOMEM;
	x->refs++;
	fire_started(x);
	struct mqb_future *f = NULL;
	int rc = su_start(x->c->core, &x->h, vars, call, &f);
	json_t *response = NULL;
	if (rc == 0) {
		void *value = NULL;
		rc = mqb_await(f, &value);
		if (rc == 0 && value)
			response = json_deep_copy(value);
		mqb_future_unref(f);
	}
	if (rc == -EBUSY || rc == -EDEADLK || (rc == -ECANCELED && !mqb_core_is_stopping(x->c->core)))
		rc = 0;
	if (rc == 0 && mqb_service_call_return_response(call))
		*result = response ? response : json_object();
	else
		json_decref(response);
	scr_unref(x);
	return rc;
}

/* script.turn_on (with its variables:), script.turn_off; toggle is the
 * registry's, by the state. A COROUTINE. */
static int scr_command(struct mqb_entity *e, void *priv, const char *service, const json_t *data)
{
	(void)e;
	struct scr *x = priv;
	if (strcmp(service, "turn_on") == 0) {
		json_t *vars = run_variables(x, json_object_get(data, "variables"));
		if (!vars)
			return -ENOMEM;
		fire_started(x);
		int rc = su_start(x->c->core, &x->h, vars, NULL, NULL);
		return rc == -EBUSY || rc == -EDEADLK ? 0 : rc;
	}
	if (strcmp(service, "turn_off") == 0) {
		struct mqb_future *f = NULL;
		int rc = mqb_script_async_stop(x->h.script, &f);
		if (rc == 0 && f)
			rc = mqb_await(f, NULL);
		mqb_future_unref(f);
		return rc;
	}
	return -ENOTSUP;
}

/* Home Assistant restores a script's last_triggered, nothing else. */
static int scr_added(struct mqb_entity *e, void *priv)
{
	struct scr *x = priv;
	x->h.e = e;
	int rc;
	su_restore(&x->h, &rc);
	return rc;
}

/* Taken out (a reload) or the daemon stops: no more runs, no service. */
static void scr_will_remove(struct mqb_entity *e, void *priv)
{
	(void)e;
	struct scr *x = priv;
	x->h.removed = true;
	mqb_script_async_stop(x->h.script, NULL);
	mqb_services_async_remove(x->c->core, NAME, x->key);
}

static void scr_free(void *priv)
{
	scr_unref(priv);
}

static const struct mqb_entity_ops scr_ops = {
	.async_added = scr_added,
	.async_will_remove = scr_will_remove,
	.async_command = scr_command,
	.free = scr_free,
};

static int add(struct comp *c, const struct mqb_component_entry *en)
{
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	char p[256], name[300];
	int rc = -ENOMEM;
	struct scr *x = calloc(1, sizeof *x);
	if (!x || !(x->key = strdup(en->key)) || !(x->raw = mqb_conf_to_json(en->node)))
		goto fail;
	x->refs = 1;
	x->c = c;
	x->needs_this = su_mentions(x->raw, "this");
	x->h.last_triggered = NAN;
	x->h.state = scr_state;
	x->h.core = c->core;
	x->h.refs = &x->refs;
	x->h.unref = scr_release;
	su_mode_read(en->node, en->path, &errs, &x->h.mode);
	const struct mqb_conf_node *v = mqb_conf_get(en->node, "variables");
	rc = -EINVAL; /* check() said what */
	if (v && mqb_script_variables_compile(v, su_path(p, sizeof p, en->path, ".variables"),
					      &errs, &x->vars))
		goto fail;
	snprintf(name, sizeof name, NAME ".%s", en->key);
	struct mqb_script_options o = {
		.name = name,
		.mode = x->h.mode.mode,
		.max = x->h.mode.max,
		.max_exceeded = x->h.mode.max_exceeded,
		.max_exceeded_silent = x->h.mode.silent,
		.on_change = su_on_change,
		.ud = &x->h,
		.variables = x->vars,
	};
	if (mqb_script_compile(mqb_conf_get(en->node, "sequence"),
			       su_path(p, sizeof p, en->path, ".sequence"), &o, &errs, &x->h.script))
		goto fail;
	struct mqb_platform *pl = mqb_integration_async_platform(c->in, NAME);
	if (!pl) {
		rc = -ENOMEM;
		goto fail;
	}
	const char *alias = mqb_conf_scalar(mqb_conf_get(en->node, "alias"), NULL);
	struct mqb_entity_info info = {
		.name = alias ? alias : en->key,
		.object_id = en->key,
		.icon = mqb_conf_scalar(mqb_conf_get(en->node, "icon"), NULL),
		.state = "off",
	};
	/* the entity owns x from here, also when adding fails */
	rc = mqb_platform_async_add_entity(pl, &info, &scr_ops, x, &x->h.e);
	if (rc)
		goto out;
	struct mqb_job job = MQB_COROUTINE(call_handler, x);
	job.name = "script service";
	rc = mqb_services_async_register_response(c->core, NAME, en->key, &job, NULL, NULL,
						  MQB_SERVICE_RESPONSE_OPTIONAL);
	if (rc) {
		mqb_entity_async_remove(x->h.e);
		goto out;
	}
	su_write(&x->h);
	x->next = c->list;
	c->list = x;
	goto out;
fail:
	if (x) {
		x->refs = 1;
		scr_unref(x);
	}
out:
	if (rc)
		MQB_LOG_ERROR(NAME, "%s: cannot set it up: %s", en->path, mqb_strerror(rc));
	mqb_conf_errors_fini(&errs);
	return rc;
}

/* ---- the component -------------------------------------------------------------- */

static void warn_all(struct comp *c)
{
	for (struct scr *x = c->list; x; x = x->next)
		su_warn_unknown_services(c->core, x->h.script, mqb_entity_id(x->h.e));
}

/* mqbridge_start: every integration has registered its services. */
static int on_start(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	warn_all(ud);
	return 0;
}

static void comp_free(void *p)
{
	free(p);
}

static int setup(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	struct mqb_core *core = mqb_integration_core(in);
	struct comp *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->in = in;
	c->core = core;
	int rc = mqb_core_async_set_data(core, NAME, c, comp_free);
	if (rc) {
		free(c);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		add(c, &entries[i]); /* one that fails is logged; the others go on */
	if ((rc = su_register_reload(in)))
		return rc;
	if (mqb_core_async_started(core)) {
		warn_all(c);
		return 0;
	}
	return mqb_bus_async_listen_once(core, MQB_EVENT_START, &MQB_CALLBACK(on_start, c), NULL);
}

/* script.reload: a script whose key and configuration are the same goes
 * on, runs and all; one that changed or went is stopped and removed; a
 * new one is added (Home Assistant's reload). A COROUTINE. */
static int reload(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	struct comp *c = mqb_core_async_data(mqb_integration_core(in), NAME);
	bool *kept = calloc(n ? n : 1, sizeof *kept);
	if (!c || !kept) {
		free(kept);
		return -ENOMEM;
	}
	for (struct scr **pp = &c->list, *x; (x = *pp);) {
		size_t i = 0;
		while (i < n && (kept[i] || strcmp(entries[i].key, x->key) ||
				 !su_same_config(x->raw, entries[i].node)))
			i++;
		if (i < n) {
			kept[i] = true;
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		struct mqb_future *f = NULL;
		if (mqb_script_async_stop(x->h.script, &f) == 0 && f)
			mqb_await(f, NULL);
		mqb_future_unref(f);
		mqb_entity_async_remove(x->h.e);
	}
	struct scr *before = c->list;
	for (size_t i = 0; i < n; i++)
		if (!kept[i])
			add(c, &entries[i]);
	free(kept);
	for (struct scr *x = c->list; x != before; x = x->next)
		su_warn_unknown_services(c->core, x->h.script, mqb_entity_id(x->h.e));
	return 0;
}

static const struct mqb_component component = {
	.shape = MQB_COMPONENT_MAPPING,
	.check = check,
	.async_setup = setup,
	.async_reload = reload,
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = NAME,
	.component = &component,
};
