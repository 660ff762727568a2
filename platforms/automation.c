/* SPDX-License-Identifier: MIT */
/* Home Assistant's automation integration: `automation:` is a list of
 * automations (from the main file, `!include automations.yaml`, labelled
 * blocks and packages, gathered by the loader), each an automation.<slug
 * of its alias> entity, on while enabled. A firing of its triggers renders
 * its variables, tests its conditions and starts a run of its actions
 * under its mode; automation.turn_on, turn_off, toggle, trigger and
 * reload as in Home Assistant. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mqbridge/bus.h"
#include "mqbridge/condition.h"
#include "mqbridge/core.h"
#include "mqbridge/coro.h"
#include "mqbridge/entity.h"
#include "mqbridge/error.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/script.h"
#include "mqbridge/services.h"
#include "mqbridge/timer.h"
#include "mqbridge/trigger.h"

#include "script_util.h"

#define NAME "automation"

/* ---- configuration ----------------------------------------------------------- */

static const struct mqb_schema_key automation_keys[] = {
	{.key = "id", .type = MQB_S_STRING, .doc = "the automation's unique id"},
	{.key = "alias", .type = MQB_S_STRING,
	 .doc = "its name; the entity id is its slug (default: automation <N>)"},
	{.key = "description", .type = MQB_S_STRING, .doc = "what it does, for people"},
	{.key = "initial_state", .type = MQB_S_BOOL,
	 .doc = "on or off at start, over what was restored (default: restored, else on)"},
	{.key = "mode", .type = MQB_S_ANY,
	 .doc = "what a firing does while a run exists: single, restart, queued or parallel"},
	{.key = "max", .type = MQB_S_ANY, .doc = "queued and parallel: runs at once (default 10)"},
	{.key = "max_exceeded", .type = MQB_S_ANY,
	 .doc = "the log level of a refused start (default warning), or silent"},
	{.key = "variables", .type = MQB_S_ANY,
	 .doc = "names and values (templates) rendered at each firing, before the conditions"},
	{.key = "trigger_variables", .type = MQB_S_ANY,
	 .doc = "names and values (limited templates) the triggers' templates see"},
	{.key = "triggers", .type = MQB_S_ANY, .doc = "what starts it (legacy: trigger)"},
	{.key = "trigger", .type = MQB_S_ANY, .doc = "the older spelling of triggers"},
	{.key = "conditions", .type = MQB_S_ANY,
	 .doc = "what must hold for a firing to run (legacy: condition)"},
	{.key = "condition", .type = MQB_S_ANY, .doc = "the older spelling of conditions"},
	{.key = "actions", .type = MQB_S_ANY, .doc = "what it does (legacy: action)"},
	{.key = "action", .type = MQB_S_ANY, .doc = "the older spelling of actions"},
	{.key = "trace", .type = MQB_S_ANY, .doc = "accepted, no effect"},
	{.key = "hide_entity", .type = MQB_S_BOOL, .doc = "accepted, no effect (Home Assistant's, "
							   "deprecated)"},
	{.key = "use_blueprint", .type = MQB_S_ANY,
	 .doc = "path and input of a blueprint under blueprints/automation/ (made into the "
		"automation when the configuration is read)"},
};
static const struct mqb_schema automation_schema = MQB_SCHEMA("automation", automation_keys);

static size_t check_one(const struct mqb_component_entry *en, struct mqb_conf_errors *errs)
{
	char p[256];
	size_t found = mqb_schema_apply(&automation_schema, en->node, en->path, NULL, errs);
	struct su_mode m;
	found += su_mode_read(en->node, en->path, errs, &m);
	struct su_parts pt;
	found += su_read_parts(en->node, en->path, errs, &pt);
	if (!pt.triggers) {
		mqb_conf_error_at(errs, en->node, en->path, "required key 'triggers' not provided");
		found++;
	} else {
		found += mqb_triggers_compile(pt.triggers, pt.tpath, errs, NULL);
	}
	if (pt.conditions)
		found += mqb_condition_compile(pt.conditions, pt.cpath, errs, NULL);
	if (!pt.actions) {
		mqb_conf_error_at(errs, en->node, en->path, "required key 'actions' not provided");
		found++;
	} else {
		found += mqb_script_compile(pt.actions, pt.apath, NULL, errs, NULL);
	}
	static const char *const vkeys[] = {"variables", "trigger_variables"};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(vkeys); i++) {
		const struct mqb_conf_node *v = mqb_conf_get(en->node, vkeys[i]);
		char suffix[32];
		snprintf(suffix, sizeof suffix, ".%s", vkeys[i]);
		if (v)
			found += mqb_script_variables_compile(
				v, su_path(p, sizeof p, en->path, suffix), errs, NULL);
	}
	return found;
}

static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	for (size_t i = 0; i < n; i++)
		check_one(&entries[i], errs);
}

/* ---- automations ---------------------------------------------------------------- */

struct comp;

struct autom {
	struct su_holder h;                 /* first: the holder's callbacks get it */
	struct comp *c;
	unsigned refs;                      /* the entity's, and each command running */
	char *name;                         /* alias, else "automation <N>" */
	char *id;                           /* the configured id, or NULL */
	json_t *raw;                        /* its configuration, for a reload */
	struct mqb_triggers *triggers;
	struct mqb_condition *cond;         /* NULL: none */
	struct mqb_script_variables *vars, *tvars;
	json_t *tvals;                      /* trigger_variables as rendered at attach */
	struct mqb_trigger_attach *attach;  /* NULL: detached */
	bool enabled;
	bool has_initial;                   /* initial_state given: it wins */
	bool needs_this;                    /* a template of it names `this` */
	struct autom *next;
};

/* The integration in a core. */
struct comp {
	struct mqb_integration *in;
	struct mqb_core *core;
	struct autom *list;
	/* Home Assistant attaches triggers once it has started: what the start
	 * itself sets off (first renders, first states) runs nothing. Here
	 * they attach at setup, so that `homeassistant: start` fires, and
	 * firings count from once the start's own work is done. */
	bool live;
};

static void autom_unref(struct autom *a)
{
	if (--a->refs)
		return;
	mqb_script_free(a->h.script);
	mqb_triggers_free(a->triggers);
	mqb_condition_free(a->cond);
	mqb_script_variables_free(a->vars);
	mqb_script_variables_free(a->tvars);
	json_decref(a->tvals);
	json_decref(a->raw);
	free(a->name);
	free(a->id);
	free(a);
}

static void autom_release(struct su_holder *h)
{
	autom_unref((struct autom *)h);
}

static const char *autom_state(struct su_holder *h)
{
	return ((struct autom *)h)->enabled ? "on" : "off";
}

static void autom_attributes(struct su_holder *h, json_t *attrs)
{
	struct autom *a = (struct autom *)h;
	if (a->id)
		json_object_set_new(attrs, "id", json_string(a->id));
}

/* Render the automation's variables into vars, which holds the run's own
 * (this, trigger, the trigger's variables): trigger_variables first,
 * then variables over them, neither over the run's own, as Home
 * Assistant's combined ScriptVariables render. 0, or an error logged. */
static int render_variables(struct autom *a, json_t *vars)
{
	json_t *own = a->vars ? json_copy(vars) : NULL;
	if (a->tvals)
		json_object_update_missing(vars, a->tvals);
	if (!a->vars)
		return 0;
	char err[256];
	int rc = own ? mqb_script_variables_async_render(a->c->core, a->vars, vars, false, err,
							 sizeof err)
		     : -ENOMEM;
	if (rc == 0)
		/* variables win over trigger_variables, the run's own over both */
		json_object_update(vars, own);
	json_decref(own);
	if (rc)
		MQB_LOG_ERROR(NAME, "%s: Error rendering variables: %s", mqb_entity_id(a->h.e),
			      rc == -ENOMEM ? "out of memory" : err);
	return rc;
}

/* Run the actions for a firing (or automation.trigger): variables, then
 * the conditions unless skipped, then a start under the mode. Takes
 * vars. */
static void fire(struct autom *a, json_t *vars, bool skip_condition)
{
	struct mqb_core *core = a->c->core;
	const char *eid = mqb_entity_id(a->h.e);
	if (render_variables(a, vars)) {
		json_decref(vars);
		return;
	}
	if (!skip_condition && a->cond) {
		char err[256];
		int rc = mqb_condition_async_test(core, a->cond, vars, err, sizeof err);
		if (rc < 0)
			MQB_LOG_WARNING(NAME, "%s: Error in 'condition' evaluation: %s", eid, err);
		if (rc != 1) {
			MQB_LOG_DEBUG(NAME, "%s: Conditions not met, aborting automation", eid);
			json_decref(vars);
			return;
		}
	}
	/* automation_triggered, made only for someone listening, fired when
	 * the run is accepted; source is the trigger's description */
	json_t *event = NULL;
	if (mqb_bus_async_listener_count(core, "automation_triggered") ||
	    mqb_bus_async_listener_count(core, MQB_MATCH_ALL)) {
		const json_t *tr = json_object_get(vars, "trigger");
		event = json_pack("{s:s,s:s,s:s?}", "name", a->name, "entity_id", eid, "source",
				  json_string_value(json_object_get(tr, "description")));
	}
	if (su_start(core, &a->h, vars, NULL, NULL) == 0 && event)
		mqb_bus_async_fire(core, "automation_triggered", event);
	else
		json_decref(event);
}

/* A firing of the triggers: on the loop, inside whatever fired. */
static void on_trigger(void *ud, json_t *trigger, json_t *variables)
{
	struct autom *a = ud;
	const char *platform = json_string_value(json_object_get(trigger, "platform"));
	bool at_start = platform && strcmp(platform, "homeassistant") == 0;
	if (!a->enabled || a->h.removed || (!a->c->live && !at_start)) {
		json_decref(trigger);
		json_decref(variables);
		return;
	}
	const char *desc = json_string_value(json_object_get(trigger, "description"));
	MQB_LOG_DEBUG(NAME, "%s: triggered%s%s", mqb_entity_id(a->h.e), desc ? " by " : "",
		      desc ? desc : "");
	json_t *vars = json_object();
	if (!vars || json_object_set_new(vars, "trigger", trigger) ||
	    (a->needs_this && json_object_set_new(vars, "this", su_this(a->c->core, a->h.e)))) {
		if (!vars)
			json_decref(trigger);
		json_decref(vars);
		json_decref(variables);
		return;
	}
	if (variables)
		json_object_update(vars, variables);
	json_decref(variables);
	fire(a, vars, false);
}

static void attach(struct autom *a)
{
	struct mqb_core *core = a->c->core;
	if (a->attach || !a->enabled || a->h.removed)
		return;
	json_decref(a->tvals);
	a->tvals = NULL;
	if (a->tvars) {
		char err[256];
		json_t *v = json_object();
		int rc = v ? mqb_script_variables_async_render(core, a->tvars, v, false, err,
							       sizeof err)
			   : -ENOMEM;
		if (rc) {
			MQB_LOG_ERROR(NAME, "%s: Error rendering trigger variables: %s",
				      mqb_entity_id(a->h.e), rc == -ENOMEM ? "out of memory" : err);
			json_decref(v);
			return;
		}
		a->tvals = v;
	}
	struct mqb_trigger_attach_options opt = {.variables = a->tvals,
						 .log_name = mqb_entity_id(a->h.e)};
	mqb_triggers_async_attach(core, a->triggers, &opt, on_trigger, a, &a->attach);
}

static void detach(struct autom *a)
{
	mqb_triggers_async_detach(a->attach);
	a->attach = NULL;
}

/* automation.turn_off: detached at once; with stop_actions (the
 * default) the runs are stopped too, and the call waits for them. */
static int disable(struct autom *a, bool stop_actions)
{
	detach(a);
	bool was = a->enabled;
	a->enabled = false;
	if (was)
		su_write(&a->h);
	if (!stop_actions)
		return 0;
	struct mqb_future *f = NULL;
	int rc = mqb_script_async_stop(a->h.script, &f);
	if (rc == 0 && f)
		rc = mqb_await(f, NULL);
	mqb_future_unref(f);
	return rc;
}

static bool flag(const json_t *data, const char *key, bool def)
{
	const json_t *v = json_object_get(data, key);
	return v ? json_is_true(v) : def;
}

/* turn_on, turn_off (stop_actions), trigger (skip_condition, variables);
 * toggle is the registry's, by the state. A COROUTINE. */
static int autom_command(struct mqb_entity *e, void *priv, const char *service,
			 const json_t *data)
{
	(void)e;
	struct autom *a = priv;
	int rc = 0;
	a->refs++;
	if (strcmp(service, "turn_on") == 0) {
		if (!a->enabled) {
			a->enabled = true;
			attach(a);
			su_write(&a->h);
		}
	} else if (strcmp(service, "turn_off") == 0) {
		rc = disable(a, flag(data, "stop_actions", true));
	} else if (strcmp(service, "trigger") == 0) {
		/* Home Assistant: runs even when off; trigger is {platform: None} */
		const json_t *given = json_object_get(data, "variables");
		json_t *vars = json_is_object(given) ? json_deep_copy(given) : json_object();
		if (!vars || json_object_set_new(vars, "this", su_this(a->c->core, a->h.e)) ||
		    json_object_set_new(vars, "trigger", json_pack("{s:n}", "platform")))
			rc = -ENOMEM;
		else
			fire(a, json_incref(vars), flag(data, "skip_condition", true));
		json_decref(vars);
	} else {
		rc = -ENOTSUP;
	}
	autom_unref(a);
	return rc;
}

/* Home Assistant's async_added_to_hass: initial_state if given, else the
 * last state (on when there is none); last_triggered is restored
 * whatever initial_state says. */
static int autom_added(struct mqb_entity *e, void *priv)
{
	struct autom *a = priv;
	a->h.e = e;
	int rc;
	const char *last = su_restore(&a->h, &rc);
	if (!a->has_initial && last)
		a->enabled = strcmp(last, "on") == 0;
	return rc;
}

/* Taken out (a reload) or the daemon stops: no more firings, no runs. */
static void autom_will_remove(struct mqb_entity *e, void *priv)
{
	(void)e;
	struct autom *a = priv;
	a->h.removed = true;
	detach(a);
	mqb_script_async_stop(a->h.script, NULL);
}

static void autom_free(void *priv)
{
	autom_unref(priv);
}

static const struct mqb_entity_ops autom_ops = {
	.async_added = autom_added,
	.async_will_remove = autom_will_remove,
	.async_command = autom_command,
	.free = autom_free,
};

/* A boolean the schema checked (true, yes, on in any case, or false). */
static bool is_true(const char *s)
{
	return s && (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"));
}

/* The name Home Assistant gives an automation: its alias, else its place
 * in the gathered list. */
static char *name_of(const struct mqb_component_entry *en, size_t index)
{
	const char *alias = mqb_conf_scalar(mqb_conf_get(en->node, "alias"), NULL);
	char buf[64];
	if (!alias)
		snprintf(buf, sizeof buf, "automation %zu", index);
	return strdup(alias ? alias : buf);
}

/* Compile what the entity runs, once it has its id (the runs' name). */
static int build(struct autom *a, const struct mqb_component_entry *en)
{
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	char p[256];
	struct su_parts pt;
	int rc = -EINVAL; /* check() said what */
	su_read_parts(en->node, en->path, &errs, &pt);
	su_mode_read(en->node, en->path, &errs, &a->h.mode);
	const struct mqb_conf_node *v = mqb_conf_get(en->node, "variables");
	const struct mqb_conf_node *tv = mqb_conf_get(en->node, "trigger_variables");
	struct mqb_script_options o = {
		.name = mqb_entity_id(a->h.e),
		.mode = a->h.mode.mode,
		.max = a->h.mode.max,
		.max_exceeded = a->h.mode.max_exceeded,
		.max_exceeded_silent = a->h.mode.silent,
		.on_change = su_on_change,
		.ud = &a->h,
	};
	if (mqb_triggers_compile(pt.triggers, pt.tpath, &errs, &a->triggers) ||
	    (pt.conditions && mqb_condition_compile(pt.conditions, pt.cpath, &errs, &a->cond)) ||
	    (v && mqb_script_variables_compile(v, su_path(p, sizeof p, en->path, ".variables"),
					       &errs, &a->vars)) ||
	    (tv && mqb_script_variables_compile(
			   tv, su_path(p, sizeof p, en->path, ".trigger_variables"), &errs,
			   &a->tvars)) ||
	    mqb_script_compile(pt.actions, pt.apath, &o, &errs, &a->h.script))
		goto out;
	rc = 0;
out:
	for (size_t i = 0; i < errs.n; i++)
		MQB_LOG_ERROR(NAME, "%s: %s", errs.v[i].path, errs.v[i].message);
	mqb_conf_errors_fini(&errs);
	return rc;
}

static int add(struct comp *c, const struct mqb_component_entry *en, size_t index)
{
	int rc = -ENOMEM;
	struct autom *a = calloc(1, sizeof *a);
	const char *id = mqb_conf_scalar(mqb_conf_get(en->node, "id"), NULL);
	if (!a || !(a->name = name_of(en, index)) || (id && !(a->id = strdup(id))) ||
	    !(a->raw = mqb_conf_to_json(en->node))) {
		if (a) {
			a->refs = 1;
			autom_unref(a);
		}
		goto out;
	}
	a->refs = 1;
	a->c = c;
	a->needs_this = su_mentions(a->raw, "this");
	a->h.last_triggered = NAN;
	a->h.state = autom_state;
	a->h.attributes = autom_attributes;
	a->h.core = c->core;
	a->h.refs = &a->refs;
	a->h.unref = autom_release;
	const struct mqb_conf_node *is = mqb_conf_get(en->node, "initial_state");
	/* Home Assistant: initial_state wins over the restored state (read
	 * when the entity is added); with neither an automation starts on */
	a->has_initial = is != NULL;
	a->enabled = !is || is_true(mqb_conf_scalar(is, NULL));
	struct mqb_platform *pl = mqb_integration_async_platform(c->in, NAME);
	if (!pl) {
		a->refs = 1;
		autom_unref(a);
		goto out;
	}
	struct mqb_entity_info info = {.name = a->name, .unique_id = a->id};
	/* the entity owns a from here, also when adding fails */
	if ((rc = mqb_platform_async_add_entity(pl, &info, &autom_ops, a, &a->h.e)))
		goto out;
	if ((rc = build(a, en))) {
		mqb_entity_async_remove(a->h.e);
		goto out;
	}
	a->next = c->list;
	c->list = a;
	su_write(&a->h);
	attach(a);
out:
	if (rc)
		MQB_LOG_ERROR(NAME, "%s: cannot set it up: %s", en->path, mqb_strerror(rc));
	return rc;
}

/* ---- the component -------------------------------------------------------------- */

static void warn_all(struct comp *c, struct autom *until)
{
	for (struct autom *a = c->list; a != until; a = a->next)
		su_warn_unknown_services(c->core, a->h.script, mqb_entity_id(a->h.e));
}

static void go_live(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct comp *c = ud;
	c->live = true;
}

/* mqbridge_start: every integration has registered its services; what
 * the start itself sets off runs in this loop iteration, and firings
 * count from the next. */
static int on_start(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct comp *c = ud;
	warn_all(c, NULL);
	if (mqb_async_call_later(c->core, 0, go_live, c, NULL))
		c->live = true;
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
	c->live = mqb_core_async_started(core);
	int rc = mqb_core_async_set_data(core, NAME, c, comp_free);
	if (rc) {
		free(c);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		add(c, &entries[i], i); /* one that fails is logged; the others go on */
	if ((rc = su_register_reload(in)))
		return rc;
	if (c->live) {
		warn_all(c, NULL);
		return 0;
	}
	return mqb_bus_async_listen_once(core, MQB_EVENT_START, &MQB_CALLBACK(on_start, c), NULL);
}

/* automation.reload: an automation of the same name and configuration
 * goes on, runs and all; one that changed or went is stopped and
 * removed; a new one is added, enabled or not as at start (Home
 * Assistant's reload). A COROUTINE. */
static int reload(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	struct comp *c = mqb_core_async_data(mqb_integration_core(in), NAME);
	bool *kept = calloc(n ? n : 1, sizeof *kept);
	char **names = calloc(n ? n : 1, sizeof *names);
	int rc = -ENOMEM;
	if (!c || !kept || !names)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!(names[i] = name_of(&entries[i], i)))
			goto out;
	for (struct autom **pp = &c->list, *a; (a = *pp);) {
		size_t i = 0;
		while (i < n && (kept[i] || strcmp(names[i], a->name) ||
				 !su_same_config(a->raw, entries[i].node)))
			i++;
		if (i < n) {
			kept[i] = true;
			pp = &a->next;
			continue;
		}
		*pp = a->next;
		a->refs++;
		a->h.removed = true; /* nothing more written: it goes */
		disable(a, true);
		mqb_entity_async_remove(a->h.e);
		autom_unref(a);
	}
	struct autom *before = c->list;
	for (size_t i = 0; i < n; i++)
		if (!kept[i])
			add(c, &entries[i], i);
	warn_all(c, before);
	rc = 0;
out:
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	free(kept);
	return rc;
}

static const struct mqb_component component = {
	.shape = MQB_COMPONENT_LIST,
	.check = check,
	.async_setup = setup,
	.async_reload = reload,
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = NAME,
	.component = &component,
};
