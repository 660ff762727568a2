/* SPDX-License-Identifier: MIT */
/* Home Assistant's template integration: sensor, binary_sensor and switch
 * entities whose state, availability, icon and attributes are templates
 * over other entities, re-rendered when an entity a render read changes
 * (an index entity id -> dependents), once a minute when they call now();
 * the other domains' templates and actions are template_domains.c's. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
#include "mqbridge/states.h"
#include "mqbridge/template.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"

#include "template_deps.h"
#include "template_entity.h"
#include "template_impl.h"
#include "template_result.h"

#define SUB "template"

#define CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

const char *const tpl_domain_of[TPL_KINDS] = {
	"sensor", "binary_sensor", "switch", "button", "number", "select", "light", "cover",
	"fan", "lock", "alarm_control_panel", "vacuum", "update", "weather"};
#define domain_of tpl_domain_of

/* ---- configuration ------------------------------------------------------- */

static const struct mqb_schema_key sensor_keys[] = {
	COMMON_KEYS,
	{.key = "state", .type = MQB_S_TEMPLATE, IC(state),
	 .doc = "template of the state (required in the modern layout)"},
	{.key = "unit_of_measurement", .type = MQB_S_STRING, IC(unit), .doc = "unit of the state"},
	{.key = "device_class", .type = MQB_S_STRING, IC(device_class),
	 .doc = "Home Assistant's device class"},
	{.key = "state_class", .type = MQB_S_STRING, IC(state_class),
	 .doc = "measurement, total or total_increasing"},
	{.key = "sensors", .type = MQB_S_ANY, IC(sensors),
	 .doc = "legacy layout: mapping of object ids to sensors"},
};
static const struct mqb_schema_key binary_keys[] = {
	COMMON_KEYS,
	{.key = "state", .type = MQB_S_TEMPLATE, IC(state),
	 .doc = "template: on when it renders true, yes, on, enable or a non-zero number"},
	{.key = "device_class", .type = MQB_S_STRING, IC(device_class),
	 .doc = "Home Assistant's device class"},
	{.key = "delay_on", .type = MQB_S_DURATION_TEMPLATE, .min = 0, .max = 86400 * 365,
	 IC(delay_on), .doc = "how long the template must stay on before the state turns on "
			      "(a duration or a template)"},
	{.key = "delay_off", .type = MQB_S_DURATION_TEMPLATE, .min = 0, .max = 86400 * 365,
	 IC(delay_off), .doc = "how long the template must stay off before the state turns off "
			       "(a duration or a template)"},
	{.key = "auto_off", .type = MQB_S_DURATION_TEMPLATE, .min = 0, .max = 86400 * 365,
	 IC(auto_off), .doc = "turn the state off this long after it turned on "
			      "(a duration or a template)"},
	{.key = "sensors", .type = MQB_S_ANY, IC(sensors),
	 .doc = "legacy layout: mapping of object ids to binary sensors"},
};
static const struct mqb_schema_key switch_keys[] = {
	COMMON_KEYS,
	{.key = "state", .type = MQB_S_TEMPLATE, IC(state),
	 .doc = "template: on when it renders true or on; none: optimistic"},
	{.key = "turn_on", .type = MQB_S_ANY, IC(turn_on),
	 .doc = "the actions switch.turn_on runs"},
	{.key = "turn_off", .type = MQB_S_ANY, IC(turn_off),
	 .doc = "the actions switch.turn_off runs"},
	{.key = "optimistic", .type = MQB_S_BOOL, .def = "false", IC(optimistic),
	 .doc = "take the state from commands even with a state template"},
	{.key = "switches", .type = MQB_S_ANY, IC(switches),
	 .doc = "legacy layout: mapping of object ids to switches"},
};
static const struct mqb_schema sensor_schema = MQB_SCHEMA("sensor.template", sensor_keys);
static const struct mqb_schema binary_schema = MQB_SCHEMA("binary_sensor.template", binary_keys);
static const struct mqb_schema switch_schema = MQB_SCHEMA("switch.template", switch_keys);


static const struct mqb_schema_key legacy_sensor_keys[] = {
	LEGACY_COMMON,
	{.key = "value_template", .type = MQB_S_TEMPLATE, .required = true, LC(value_template),
	 .doc = "template of the state"},
	{.key = "unit_of_measurement", .type = MQB_S_STRING, LC(unit), .doc = "unit"},
	{.key = "device_class", .type = MQB_S_STRING, LC(device_class), .doc = "device class"},
};
static const struct mqb_schema_key legacy_binary_keys[] = {
	LEGACY_COMMON,
	{.key = "value_template", .type = MQB_S_TEMPLATE, .required = true, LC(value_template),
	 .doc = "template of the state (on when true)"},
	{.key = "device_class", .type = MQB_S_STRING, LC(device_class), .doc = "device class"},
	{.key = "delay_on", .type = MQB_S_DURATION_TEMPLATE, .min = 0, .max = 86400 * 365,
	 LC(delay_on), .doc = "delay before turning on (a duration or a template)"},
	{.key = "delay_off", .type = MQB_S_DURATION_TEMPLATE, .min = 0, .max = 86400 * 365,
	 LC(delay_off), .doc = "delay before turning off (a duration or a template)"},
};
static const struct mqb_schema_key legacy_switch_keys[] = {
	LEGACY_COMMON,
	{.key = "value_template", .type = MQB_S_TEMPLATE, LC(value_template),
	 .doc = "template of the state; none: optimistic"},
	{.key = "turn_on", .type = MQB_S_ANY, .required = true, LC(turn_on),
	 .doc = "the actions switch.turn_on runs"},
	{.key = "turn_off", .type = MQB_S_ANY, .required = true, LC(turn_off),
	 .doc = "the actions switch.turn_off runs"},
};
static const struct mqb_schema legacy_schemas[] = {
	MQB_SCHEMA("sensor.template.sensors", legacy_sensor_keys),
	MQB_SCHEMA("binary_sensor.template.sensors", legacy_binary_keys),
	MQB_SCHEMA("switch.template.switches", legacy_switch_keys),
};

/* ---- checking ------------------------------------------------------------ */

/* path + sep + s ("a.b" or "a[0]"), malloc'd; NULL on ENOMEM. */
static char *path_join(const char *path, const char *sep, const char *s)
{
	size_t n = strlen(path) + strlen(sep) + strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s%s%s", path, sep, s);
	return p;
}

static bool has_template_markers(const char *s)
{
	return strstr(s, "{{") || strstr(s, "{%") || strstr(s, "{#");
}

/* Check every value of map as a template (or, with nested, every scalar
 * holding template markers, down through mappings and lists), each error
 * at its own line and column: a schema made on the fly of map's own keys
 * lets the loader's walker do it. */
static void check_templates(const struct mqb_conf_node *map, const char *path, bool nested,
			    struct mqb_conf_errors *errs)
{
	enum mqb_conf_kind kind = mqb_conf_kind(map);
	if (kind == MQB_CONF_SEQ && nested) {
		char idx[32];
		for (size_t i = 0; i < mqb_conf_len(map); i++) {
			const struct mqb_conf_node *it = mqb_conf_item(map, i);
			snprintf(idx, sizeof idx, "[%zu]", i);
			char *p = path_join(path, "", idx);
			if (mqb_conf_kind(it) == MQB_CONF_SCALAR) {
				const char *s = mqb_conf_scalar(it, NULL);
				struct mqb_template *t = NULL;
				struct mqb_tpl_error e;
				if (has_template_markers(s) &&
				    mqb_template_compile(s, strlen(s), &t, &e) == -EINVAL)
					mqb_conf_error_at(errs, it, p ? p : path,
							  "invalid template: %s (line %u, column %u)",
							  e.message, e.line, e.column);
				mqb_template_free(t);
			} else {
				check_templates(it, p ? p : path, true, errs);
			}
			free(p);
		}
		return;
	}
	if (kind != MQB_CONF_MAP) {
		if (!nested && kind != MQB_CONF_NULL)
			mqb_conf_error_at(errs, map, path, "expected a mapping of names to templates");
		return;
	}
	size_t n = mqb_conf_len(map);
	struct mqb_schema_key *keys = n ? calloc(n, sizeof *keys) : NULL;
	if (n && !keys) {
		mqb_conf_error_at(errs, map, path, "out of memory");
		return;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *k = mqb_conf_key(map, i), *v = mqb_conf_value(map, i);
		if (mqb_conf_kind(k) != MQB_CONF_SCALAR)
			continue;
		keys[m].key = mqb_conf_scalar(k, NULL);
		keys[m].type = MQB_S_ANY;
		if (!nested || (mqb_conf_kind(v) == MQB_CONF_SCALAR &&
				has_template_markers(mqb_conf_scalar(v, NULL))))
			keys[m].type = MQB_S_TEMPLATE;
		m++;
	}
	struct mqb_schema s = {"templates", keys, m};
	mqb_schema_apply(&s, map, path, NULL, errs);
	free(keys);
	if (!nested)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *k = mqb_conf_key(map, i), *v = mqb_conf_value(map, i);
		enum mqb_conf_kind vk = mqb_conf_kind(v);
		if (mqb_conf_kind(k) != MQB_CONF_SCALAR || (vk != MQB_CONF_MAP && vk != MQB_CONF_SEQ))
			continue;
		char *p = path_join(path, ".", mqb_conf_scalar(k, NULL));
		check_templates(v, p ? p : path, true, errs);
		free(p);
	}
}

/* turn_on, turn_off: a script's actions (Home Assistant's SCRIPT_SCHEMA),
 * compiled to check them, each error at its place. */
static void check_actions(const struct mqb_conf_node *n, const char *path, const char *key,
			  struct mqb_conf_errors *errs)
{
	if (!n)
		return;
	char *p = path_join(path, ".", key);
	mqb_script_compile(n, p ? p : path, NULL, errs, NULL);
	free(p);
}

static bool is_slug(const char *s)
{
	char buf[256];
	return *s && strlen(s) < sizeof buf && strcmp(mqb_slugify(s, buf, sizeof buf), s) == 0;
}

static void check_object_id(const struct mqb_conf_node *at, const char *path, const char *domain,
			    const char *id, struct mqb_conf_errors *errs)
{
	const char *dot = strchr(id, '.');
	if (dot && (strncmp(id, domain, (size_t)(dot - id)) || domain[dot - id] != '\0')) {
		mqb_conf_error_at(errs, at, path, "'%s' is not an entity id of domain %s", id, domain);
		return;
	}
	if (!is_slug(dot ? dot + 1 : id))
		mqb_conf_error_at(errs, at, path,
				  "'%s' is not a valid object id (lower case a-z, 0-9 and _)", id);
}

/* The legacy layout's mapping of entities: "sensors", "lights", ... */
static const char *legacy_key(enum kind kind)
{
	return tpl_kinds[kind] ? tpl_kinds[kind]->legacy_key
	       : kind == K_SWITCH ? "switches" : "sensors";
}

static const struct mqb_schema *legacy_schema(enum kind kind)
{
	return tpl_kinds[kind] ? tpl_kinds[kind]->legacy : &legacy_schemas[kind];
}

static void check_kind_actions(enum kind kind, const struct tpl_conf *c, const char *path,
			       struct mqb_conf_errors *errs)
{
	const struct tpl_kind *k = tpl_kinds[kind];
	for (size_t i = 0; k && i < TPL_SLOTS; i++)
		if (k->slots[i] == TS_ACTION)
			check_actions(c->x[i], path, k->names[i], errs);
	if (k && k->check)
		k->check(c, NULL, path, errs);
}

static void check_legacy(enum kind kind, const struct mqb_conf_node *map, const char *path,
			 struct mqb_conf_errors *errs)
{
	const char *key = legacy_key(kind);
	char *p = path_join(path, ".", key);
	const char *base = p ? p : path;
	if (mqb_conf_kind(map) != MQB_CONF_MAP || mqb_conf_len(map) == 0) {
		mqb_conf_error_at(errs, map, base, "expected a mapping of object ids to %s", key);
		free(p);
		return;
	}
	for (size_t i = 0; i < mqb_conf_len(map); i++) {
		const struct mqb_conf_node *k = mqb_conf_key(map, i), *v = mqb_conf_value(map, i);
		const char *id = mqb_conf_scalar(k, NULL);
		char *q = path_join(base, ".", id ? id : "?");
		const char *qp = q ? q : base;
		if (!id || !is_slug(id))
			mqb_conf_error_at(errs, k, qp,
					  "'%s' is not a valid object id (lower case a-z, 0-9 and _)",
					  id ? id : "?");
		struct legacy_conf lc = {0};
		if (mqb_conf_kind(v) != MQB_CONF_MAP) {
			mqb_conf_error_at(errs, v, qp, "expected a mapping");
		} else if (mqb_schema_apply(legacy_schema(kind), v, qp, &lc, errs) == 0) {
			struct mqb_entity_info info = {.device_class = lc.device_class,
						       .unit_of_measurement = lc.unit};
			mqb_entity_info_check_unit_warns(domain_of[kind], &info, v, qp, errs);
			if (lc.attribute_templates) {
				char *r = path_join(qp, ".", "attribute_templates");
				check_templates(lc.attribute_templates, r ? r : qp, false, errs);
				free(r);
			}
			check_actions(lc.turn_on, qp, "turn_on", errs);
			check_actions(lc.turn_off, qp, "turn_off", errs);
			check_kind_actions(kind, &lc.k, qp, errs);
		}
		free(q);
	}
	free(p);
}

static void check_item(enum kind kind, const void *conf, const struct mqb_conf_node *node,
		       const char *path, struct mqb_conf_errors *errs)
{
	const struct item_conf *c = conf;
	const struct tpl_kind *tk = tpl_kinds[kind];
	const struct mqb_conf_node *legacy = tk ? c->legacy : kind == K_SWITCH ? c->switches
									  : c->sensors;
	if (legacy) {
		const char *lk = legacy_key(kind);
		/* The legacy item holds nothing else (its platform: key is gone). */
		for (size_t i = 0; i < mqb_conf_len(node); i++) {
			const char *k = mqb_conf_scalar(mqb_conf_key(node, i), NULL);
			if (k && strcmp(k, lk) != 0)
				mqb_conf_error_at(errs, mqb_conf_key(node, i), path,
						  "'%s' belongs inside an entity of %s:, or in the "
						  "modern template: layout",
						  k, lk);
		}
		check_legacy(kind, legacy, path, errs);
		return;
	}
	if (!c->state && (tk ? tk->state_required : kind != K_SWITCH))
		mqb_conf_error_at(errs, node, path, "required option '%s' is missing",
				  tk ? tk->state_key : "state");
	struct mqb_entity_info info = {.device_class = c->device_class,
				       .state_class = c->state_class,
				       .unit_of_measurement = c->unit};
	mqb_entity_info_check_unit_warns(domain_of[kind], &info, node, path, errs);
	if (c->attributes) {
		char *p = path_join(path, ".", "attributes");
		check_templates(c->attributes, p ? p : path, false, errs);
		free(p);
	}
	if (c->variables && mqb_conf_kind(c->variables) != MQB_CONF_MAP)
		mqb_conf_error_at(errs, c->variables, path, "variables: expected a mapping");
	const char *id = c->default_entity_id ? c->default_entity_id : c->object_id;
	if (c->default_entity_id && c->object_id)
		mqb_conf_error_at(errs, node, path, "give default_entity_id or object_id, not both");
	else if (id)
		check_object_id(mqb_conf_get(node, c->default_entity_id ? "default_entity_id"
									  : "object_id"),
				path, domain_of[kind], id, errs);
	if (kind == K_SWITCH) {
		check_actions(c->turn_on, path, "turn_on", errs);
		check_actions(c->turn_off, path, "turn_off", errs);
	}
	if (tk) {
		for (size_t i = 0; i < TPL_SLOTS; i++)
			if (tk->slots[i] == TS_ACTION)
				check_actions(c->k.x[i], path, tk->names[i], errs);
		if (tk->check)
			tk->check(&c->k, node, path, errs);
	}
}

static void check_sensor(const void *conf, const struct mqb_conf_node *node, const char *path,
			 struct mqb_conf_errors *errs)
{
	check_item(K_SENSOR, conf, node, path, errs);
}
static void check_binary(const void *conf, const struct mqb_conf_node *node, const char *path,
			 struct mqb_conf_errors *errs)
{
	check_item(K_BINARY, conf, node, path, errs);
}
static void check_switch(const void *conf, const struct mqb_conf_node *node, const char *path,
			 struct mqb_conf_errors *errs)
{
	check_item(K_SWITCH, conf, node, path, errs);
}

/* ---- the hub: one per core ----------------------------------------------- */

struct tent;


/* ---- entities ------------------------------------------------------------ */




static void flush(void *arg);

static void mark_dirty(struct tent *t)
{
	struct hub *h = t->hub;
	if (t->removed || t->dirty || !t->e || t->block)
		return; /* a trigger-based one renders when its block fires */
	t->dirty = true;
	t->dirty_next = NULL;
	*h->dirty_tail = t;
	h->dirty_tail = &t->dirty_next;
	if (!h->flush_queued && mqb_async_call_soon(h->core, flush, h) == 0)
		h->flush_queued = true;
}

static void unlink_dirty(struct tent *t)
{
	struct hub *h = t->hub;
	if (!t->dirty)
		return;
	struct tent **pp = &h->dirty;
	while (*pp && *pp != t)
		pp = &(*pp)->dirty_next;
	if (*pp) {
		*pp = t->dirty_next;
		if (h->dirty_tail == &t->dirty_next)
			h->dirty_tail = pp;
	}
	t->dirty = false;
}

static void dep_changed(void *ud, struct tdeps_who *who)
{
	(void)ud;
	mark_dirty(CONTAINER_OF(who, struct tent, who));
}

/* state_changed: the dependents of that entity render again, once each
 * however many changes this loop iteration brings. A CALLBACK. */
static int on_state_changed(void *ud, void *arg, void **result)
{
	(void)result;
	struct hub *h = ud;
	const char *id = mqb_event_entity_id(arg);
	if (id)
		tdeps_foreach(h->deps, id, dep_changed, h);
	return 0;
}

/* mqbridge_start: every entity renders once all are added. */
static int on_start(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct hub *h = ud;
	h->start = NULL; /* a listen_once handle is gone once called */
	for (struct tent *t = h->ents; t; t = t->next)
		mark_dirty(t);
	return 0;
}

static void minute_cb(struct mqb_timer *timer, void *ud)
{
	(void)timer;
	struct hub *h = ud;
	for (struct tent *t = h->ents; t; t = t->next)
		if (t->uses_now)
			mark_dirty(t);
}

static void hub_free(void *p)
{
	struct hub *h = p;
	mqb_async_timer_cancel(h->minute);
	if (h->changed)
		mqb_bus_async_unlisten(h->core, h->changed);
	if (h->start)
		mqb_bus_async_unlisten(h->core, h->start);
	tdeps_free(h->deps);
	free(h);
}

static struct hub *hub_get(struct mqb_core *core)
{
	struct hub *h = mqb_core_async_data(core, SUB);
	if (h)
		return h;
	if (!(h = calloc(1, sizeof *h)))
		return NULL;
	h->core = core;
	h->dirty_tail = &h->dirty;
	if (!(h->deps = tdeps_new()) ||
	    mqb_bus_async_listen(core, MQB_EVENT_STATE_CHANGED,
				 &MQB_CALLBACK(on_state_changed, h), &h->changed))
		goto fail;
	if (!mqb_core_async_started(core) &&
	    mqb_bus_async_listen_once(core, MQB_EVENT_START, &MQB_CALLBACK(on_start, h),
				      &h->start))
		h->start = NULL;
	/* Test hook: the minute of now() in seconds, so a test need not wait
	 * for the clock (t/test_template_platform.c). */
	const char *tick = getenv("MQBRIDGE_TEST_TEMPLATE_MINUTE");
	h->tick = tick && atof(tick) > 0 ? atof(tick) : 60;
	if (mqb_core_async_set_data(core, SUB, h, hub_free))
		goto fail;
	return h;
fail:
	hub_free(h);
	return NULL;
}

/* ---- rendering ----------------------------------------------------------- */

struct ids {
	char **v;
	size_t n, cap;
	bool oom;
};

static void collect(void *ud, const char *entity_id)
{
	struct ids *s = ud;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		char **v = realloc(s->v, cap * sizeof *v);
		if (!v) {
			s->oom = true;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	if (!(s->v[s->n] = strdup(entity_id)))
		s->oom = true;
	else
		s->n++;
}

/* Render a template beside the state, logging an error once until it
 * renders again. */
static int render_side(struct tent *t, struct side *s, const struct mqb_tpl_vars *vars,
		       char **out, size_t *len)
{
	struct mqb_tpl_error err;
	int rc = mqb_template_render(s->t, vars, NULL, out, len, &err);
	if (rc == 0) {
		if (s->failed)
			MQB_LOG_INFO(SUB, "%s: %s renders again", mqb_entity_id(t->e), s->option);
		s->failed = false;
		return 0;
	}
	if (!s->failed)
		MQB_LOG_WARNING(SUB,
				"%s: %s: error rendering the template (line %u, column %u): %s",
				mqb_entity_id(t->e), s->option, err.line, err.column,
				rc == -ENOMEM ? "out of memory" : err.message);
	s->failed = true;
	return rc;
}

static void set_state(struct tent *t, const char *state)
{
	mqb_entity_async_set_state(t->e, state);
}

static void binary_set(struct tent *t, int on)
{
	t->on = on;
	set_state(t, on < 0 ? NULL : on ? "on" : "off");
	if (on == 1 && t->autooff)
		mqb_async_timer_rearm(t->autooff, t->auto_off);
}

static void delay_cb(struct mqb_timer *timer, void *ud)
{
	(void)timer;
	struct tent *t = ud;
	binary_set(t, t->delayed);
	mqb_entity_async_write(t->e);
}

static void autooff_cb(struct mqb_timer *timer, void *ud)
{
	(void)timer;
	struct tent *t = ud;
	t->on = 0;
	set_state(t, "off");
	mqb_entity_async_write(t->e);
}

/* A binary sensor's new result, with delay_on/delay_off as Home Assistant
 * applies them: a pending delay is cancelled by any new result, and only a
 * result that stays for the whole delay becomes the state. With auto_off,
 * only a change of the result counts (the template still rendering on after
 * auto_off does not turn the state on again). */
static void binary_result(struct tent *t, int r)
{
	if (t->block) {
		/* Home Assistant's trigger-based binary sensor: each firing is
		 * news, and one that renders on again restarts auto_off */
		t->last_result = -2;
		if (r == 1 && t->on == 1 && t->autooff &&
		    (!t->delay || !mqb_async_timer_active(t->delay))) {
			mqb_async_timer_rearm(t->autooff, t->auto_off);
			return;
		}
	}
	if (t->auto_off > 0) {
		if (r == t->last_result)
			return;
		if (r != 1)
			mqb_async_timer_stop(t->autooff);
	}
	t->last_result = r;
	mqb_async_timer_stop(t->delay);
	if (r == t->on)
		return;
	if (r < 0 || (r == 1 && t->delay_on <= 0) || (r == 0 && t->delay_off <= 0) || !t->delay) {
		binary_set(t, r);
		return;
	}
	t->delayed = r;
	mqb_async_timer_rearm(t->delay, r ? t->delay_on : t->delay_off);
}

static void apply_state(struct tent *t, const char *out, size_t len)
{
	switch (t->kind) {
	case K_SENSOR: {
		char buf[64];
		size_t n = len;
		const char *s = tres_sensor_state(out, &n, buf, sizeof buf);
		if (!s) {
			set_state(t, NULL);
			return;
		}
		char *copy = strndup(s, n);
		if (copy)
			set_state(t, copy);
		free(copy);
		return;
	}
	case K_BINARY:
		binary_result(t, tres_bool(out, len, true));
		return;
	case K_SWITCH:
		set_state(t, tres_switch_on(out, len) ? "on" : "off");
		return;
	default:
		t->k->render(t, out, len);
		return;
	}
}

/* The attributes as rendered (taken; NULL: out of memory, they stay). The
 * entity gets its own copy: it shares its values with the states it
 * writes, which other threads may hold. */
static void store_attributes(struct tent *t, json_t *attrs)
{
	if (!attrs)
		return;
	json_decref(t->attr_values);
	t->attr_values = attrs;
	json_t *mine = json_deep_copy(attrs);
	if (mine)
		mqb_entity_async_set_attributes(t->e, mine);
}

/* Render every template of t and write it. run: a trigger-based entity's
 * firing (its variables under the entity's own); NULL: a state-based
 * render, which records what it read. */
static void render(struct tent *t, const json_t *run)
{
	struct hub *h = t->hub;
	struct ids ids = {0};
	json_t *this_json = NULL;
	struct mqb_state *self = mqb_states_async_get(h->core, mqb_entity_id(t->e));
	if (self) {
		this_json = mqb_state_to_json(self);
		mqb_state_unref(self);
	}
	json_t *merged = NULL;
	if (run) {
		merged = json_copy((json_t *)run);
		if (merged && t->variables)
			json_object_update_missing(merged, t->variables);
	}
	struct mqb_tpl_vars vars = {
		.this_state = this_json,
		.variables = run ? merged : t->variables,
		.core = h->core,
		.on_entity = run ? NULL : collect,
		.ud = &ids,
	};
	char *out = NULL;
	size_t len = 0;
	bool failed = false; /* a trigger-based entity is then unavailable */

	/* Home Assistant: an availability template that fails leaves a
	 * state-based entity available. */
	bool available = true;
	if (t->avail.t) {
		if (render_side(t, &t->avail, &vars, &out, &len) == 0)
			available = tres_bool(out, len, false) == 1;
		else
			failed = true;
	}
	free(out);
	out = NULL;

	json_t *attrs = t->attr_values ? json_copy(t->attr_values) : json_object();
	for (size_t i = 0; attrs && i < t->nattrs; i++) {
		struct side s = {t->attrs[i].t, t->attrs[i].key, t->attrs[i].failed};
		if (render_side(t, &s, &vars, &out, &len) == 0) {
			json_t *v = tres_json(out, len);
			if (v)
				json_object_set_new(attrs, t->attrs[i].key, v);
		} else {
			failed = true;
		}
		t->attrs[i].failed = s.failed;
		free(out);
		out = NULL;
	}
	struct {
		struct side *s;
		const char *attr;
	} sides[] = {{&t->icon, "icon"}, {&t->picture, "entity_picture"}};
	for (size_t i = 0; attrs && i < 2; i++) {
		if (!sides[i].s->t)
			continue;
		if (render_side(t, sides[i].s, &vars, &out, &len)) {
			failed = true;
			continue;
		}
		size_t n = len;
		const char *v = mqb_strip(out, &n);
		if (n)
			json_object_set_new(attrs, sides[i].attr, json_stringn(v, n));
		else
			json_object_del(attrs, sides[i].attr);
		free(out);
		out = NULL;
	}
	if (attrs && t->kind == K_SWITCH && t->optimistic)
		json_object_set_new(attrs, "assumed_state", json_true());

	struct {
		struct side *s;
		double *secs;
	} durations[] = {{&t->delay_on_t, &t->delay_on},
			 {&t->delay_off_t, &t->delay_off},
			 {&t->auto_off_t, &t->auto_off}};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(durations); i++) {
		double d;
		if (!durations[i].s->t || render_side(t, durations[i].s, &vars, &out, &len))
			continue;
		if (mqb_duration_parse(out, len, &d) && d >= 0)
			*durations[i].secs = d;
		else
			MQB_LOG_WARNING(SUB, "%s: %s: '%.64s' is no duration; %g s stays",
					mqb_entity_id(t->e), durations[i].s->option, out,
					*durations[i].secs);
		free(out);
		out = NULL;
	}

	for (size_t i = 0; t->k && i < TPL_SLOTS; i++) {
		if (!t->fields[i].t)
			continue;
		free(t->vals[i]);
		t->vals[i] = NULL;
		if (render_side(t, &t->fields[i], &vars, &t->vals[i], &t->lens[i]))
			failed = true;
	}

	if (t->state) {
		if (mqb_entity_async_render(t->e, t->state_option, t->state, &vars, &out, &len) == 0)
			apply_state(t, out, len);
		else
			failed = true;
	} else if (t->k) {
		t->k->render(t, NULL, 0);
	}
	free(out);
	if (run && failed)
		available = false;
	if (attrs && t->k && t->k->attributes)
		t->k->attributes(t, attrs);

	store_attributes(t, attrs);
	mqb_entity_async_set_available(t->e, available);
	/* logged before the write, whose publication a reader may see first */
	MQB_LOG_DEBUG(SUB, "%s: rendered, reading %zu entities", mqb_entity_id(t->e), ids.n);
	mqb_entity_async_write(t->e);
	json_decref(this_json);
	json_decref(merged);
	t->last_render = mqb_time_monotonic();
	if (run)
		return; /* a firing renders it, not what it read */

	/* What this render read is what the entity depends on now: branches
	 * may have read other entities than last time. */
	if (ids.oom || tdeps_set(h->deps, &t->who, (const char *const *)ids.v, ids.n))
		MQB_LOG_WARNING(SUB, "%s: out of memory tracking what the templates read; "
				     "it renders again on the next change it still sees",
				mqb_entity_id(t->e));
	for (size_t i = 0; i < ids.n; i++)
		free(ids.v[i]);
	free(ids.v);
}

void tpl_render_fired(struct tent *t, const json_t *run)
{
	if (!t->removed && t->e)
		render(t, run);
}

const char *tpl_entity_id(const struct tent *t)
{
	return t->e ? mqb_entity_id(t->e) : "?";
}

void tpl_entity_remove(struct tent *t)
{
	t->block = NULL; /* the block goes first; the entity is freed later */
	if (t->e)
		mqb_entity_async_remove(t->e);
}

static void rate_cb(struct mqb_timer *timer, void *ud)
{
	(void)timer;
	struct tent *t = ud;
	if (!t->removed)
		render(t, NULL);
}

/* The queued renders, each entity once. Renders made here that change
 * other template entities queue those for the next flush. */
static void flush(void *arg)
{
	struct hub *h = arg;
	h->flush_queued = false;
	struct tent *list = h->dirty;
	h->dirty = NULL;
	h->dirty_tail = &h->dirty;
	while (list) {
		struct tent *t = list;
		list = t->dirty_next;
		t->dirty = false;
		if (t->removed)
			continue;
		double wait = t->rate_timer ? t->last_render + t->rate - mqb_time_monotonic() : 0;
		if (wait > 0) {
			/* Home Assistant's rate limit for templates over all states
			 * (a minute) or a domain's (a second). */
			if (!mqb_async_timer_active(t->rate_timer))
				mqb_async_timer_rearm(t->rate_timer, wait);
			continue;
		}
		mqb_async_timer_stop(t->rate_timer);
		render(t, NULL);
	}
}

/* ---- for the other domains ----------------------------------------------- */

void tpl_set_state(struct tent *t, const char *state)
{
	set_state(t, state);
}

bool tpl_has_state(const struct tent *t)
{
	return t->state != NULL;
}

bool tpl_has(const struct tent *t, int slot)
{
	return t->fields[slot].t || t->scripts[slot] || t->lists[slot];
}

const char *tpl_val(const struct tent *t, int slot, size_t *len)
{
	if (!t->vals[slot])
		return NULL;
	*len = t->lens[slot];
	return mqb_strip(t->vals[slot], len);
}

void tpl_bad_value(struct tent *t, int slot, const char *why, const char *v, size_t len)
{
	MQB_LOG_WARNING(SUB, "%s: %s: '%.*s' %s", mqb_entity_id(t->e),
			slot < 0 ? t->state_option : t->fields[slot].option,
			(int)(len > 64 ? 64 : len), v ? v : "", why);
}

void tpl_publish(struct tent *t)
{
	if (t->removed)
		return;
	json_t *attrs = t->attr_values ? json_copy(t->attr_values) : json_object();
	if (attrs && t->k && t->k->attributes)
		t->k->attributes(t, attrs);
	store_attributes(t, attrs);
	mqb_entity_async_write(t->e);
}

/* A script with the entity's variables, `this` and extra (taken), waited
 * for. A start refused because the script still runs (an action that
 * calls its own entity again) is Home Assistant's "Already running", and
 * no error. */
static int run_script(struct tent *t, struct mqb_script *s, json_t *extra)
{
	if (!s) {
		json_decref(extra);
		return 0;
	}
	json_t *vars = t->variables ? json_copy(t->variables) : json_object();
	struct mqb_state *self = mqb_states_async_get(t->hub->core, mqb_entity_id(t->e));
	if (vars) {
		json_object_set_new(vars, "this", self ? mqb_state_to_json(self) : json_null());
		if (extra)
			json_object_update(vars, extra);
	}
	json_decref(extra);
	mqb_state_unref(self);
	struct mqb_future *f = NULL;
	int rc = vars ? mqb_script_async_run(t->hub->core, s, vars, &f) : -ENOMEM;
	if (rc == 0) {
		rc = mqb_await(f, NULL);
		mqb_future_unref(f);
	}
	return rc == -EBUSY ? 0 : rc;
}

int tpl_run(struct tent *t, int slot, json_t *vars)
{
	return run_script(t, t->scripts[slot], vars);
}

static int kind_command(struct mqb_entity *e, void *priv, const char *service, const json_t *data)
{
	(void)e;
	struct tent *t = priv;
	return t->k->command ? t->k->command(t, service, data) : -ENOTSUP;
}

/* ---- switch commands ----------------------------------------------------- */

/* switch.turn_on / turn_off: the configured actions, run as a script
 * (Home Assistant's, in single mode) with `this`, and waited for; an
 * optimistic switch then takes the new state. A start refused because the
 * script is still running (a switch whose action turns it on again) is
 * Home Assistant's "Already running", and no error. toggle is the
 * core's (it calls these). A COROUTINE. */
static int switch_command(struct mqb_entity *e, void *priv, const char *service,
			  const json_t *data)
{
	(void)data;
	struct tent *t = priv;
	bool on = strcmp(service, "turn_on") == 0;
	if (!on && strcmp(service, "turn_off") != 0)
		return -ENOTSUP;
	int rc = run_script(t, on ? t->on_script : t->off_script, NULL);
	if (rc == 0 && t->optimistic && !t->removed) {
		set_state(t, on ? "on" : "off");
		mqb_entity_async_write(e);
	}
	return rc;
}

/* ---- entity ops ---------------------------------------------------------- */

static int ent_added(struct mqb_entity *e, void *priv)
{
	struct tent *t = priv;
	struct hub *h = t->hub;
	t->e = e;
	if ((t->rate > 0 && mqb_async_timer_new(h->core, rate_cb, t, &t->rate_timer)) ||
	    ((t->delay_on > 0 || t->delay_off > 0 || t->delay_on_t.t || t->delay_off_t.t) &&
	     mqb_async_timer_new(h->core, delay_cb, t, &t->delay)) ||
	    ((t->auto_off > 0 || t->auto_off_t.t) &&
	     mqb_async_timer_new(h->core, autooff_cb, t, &t->autooff)))
		return -ENOMEM;
	if (t->uses_now && h->now_users++ == 0) {
		/* each minute on the minute, as Home Assistant re-renders now() */
		if (mqb_async_track_wall_interval(h->core, h->tick, 0, minute_cb, h, &h->minute))
			MQB_LOG_ERROR(SUB, "now(): no timer to render again every minute");
		MQB_LOG_DEBUG(SUB, "now() re-renders every %g s, on the minute", h->tick);
	}
	if (t->uses_now)
		MQB_LOG_DEBUG(SUB, "%s: calls now(): renders again every minute", mqb_entity_id(e));
	if (t->kind == K_SWITCH && !t->state)
		set_state(t, "off"); /* optimistic: Home Assistant starts off */
	/* The first render: on mqbridge_start, when every entity it may read
	 * is there, as Home Assistant renders at homeassistant_start; at once
	 * (once the setup that added it returns) if that has fired. A
	 * trigger-based one waits for its block's firing. */
	if (!t->block && mqb_core_async_started(h->core))
		mark_dirty(t);
	return 0;
}

static void ent_will_remove(struct mqb_entity *e, void *priv)
{
	(void)e;
	struct tent *t = priv;
	struct hub *h = t->hub;
	t->removed = true;
	unlink_dirty(t);
	if (t->on_script)
		mqb_script_async_stop(t->on_script, NULL);
	if (t->off_script)
		mqb_script_async_stop(t->off_script, NULL);
	for (size_t i = 0; i < TPL_SLOTS; i++)
		if (t->scripts[i])
			mqb_script_async_stop(t->scripts[i], NULL);
	mqb_async_timer_stop(t->rate_timer);
	mqb_async_timer_stop(t->delay);
	mqb_async_timer_stop(t->autooff);
	tdeps_clear(h->deps, &t->who);
	if (t->uses_now && t->e && --h->now_users == 0) {
		mqb_async_timer_cancel(h->minute);
		h->minute = NULL;
	}
}

static void ent_free(void *priv)
{
	struct tent *t = priv;
	struct hub *h = t->hub;
	if (t->block)
		tpl_block_forget(t->block, t);
	if (!t->removed && t->e)
		ent_will_remove(t->e, t);
	else if (!t->removed)
		t->removed = true;
	unlink_dirty(t);
	tdeps_clear(h->deps, &t->who);
	for (struct tent **pp = &h->ents; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	mqb_async_timer_cancel(t->rate_timer);
	mqb_async_timer_cancel(t->delay);
	mqb_async_timer_cancel(t->autooff);
	mqb_template_free(t->state);
	mqb_template_free(t->avail.t);
	mqb_template_free(t->delay_on_t.t);
	mqb_template_free(t->delay_off_t.t);
	mqb_template_free(t->auto_off_t.t);
	mqb_template_free(t->icon.t);
	mqb_template_free(t->picture.t);
	for (size_t i = 0; i < t->nattrs; i++) {
		free(t->attrs[i].key);
		mqb_template_free(t->attrs[i].t);
	}
	free(t->attrs);
	json_decref(t->variables);
	json_decref(t->attr_values);
	mqb_script_free(t->on_script);
	mqb_script_free(t->off_script);
	for (size_t i = 0; i < TPL_SLOTS; i++) {
		mqb_template_free(t->fields[i].t);
		free(t->vals[i]);
		mqb_script_free(t->scripts[i]);
		json_decref(t->lists[i]);
	}
	if (t->k && t->k->free)
		t->k->free(t);
	free(t);
}

static const struct mqb_entity_ops ent_ops = {
	.async_added = ent_added,
	.async_will_remove = ent_will_remove,
	.free = ent_free,
};
static const struct mqb_entity_ops switch_ops = {
	.async_added = ent_added,
	.async_will_remove = ent_will_remove,
	.async_command = switch_command,
	.free = ent_free,
};
static const struct mqb_entity_ops kind_ops = {
	.async_added = ent_added,
	.async_will_remove = ent_will_remove,
	.async_command = kind_command,
	.free = ent_free,
};

/* ---- setup --------------------------------------------------------------- */

/* HA's rate limit from the template's text: `states` iterated as a whole
 * (a minute) or one domain of it (a second). */
static double rate_of(const struct mqb_conf_node *n)
{
	if (!n)
		return 0;
	size_t len;
	const char *s = mqb_conf_scalar(n, &len);
	return s ? tres_rate_limit(s, len) : 0;
}

static int compile(const struct mqb_conf_node *n, struct mqb_template **out, struct tent *t)
{
	*out = NULL;
	if (!n)
		return 0;
	int rc = mqb_template_from_conf(n, out);
	if (rc == 0 && *out && !t->block) {
		if (mqb_template_uses_now(*out))
			t->uses_now = true;
		double r = rate_of(n);
		if (r > t->rate)
			t->rate = r;
	}
	return rc;
}

/* A switch's turn_on or turn_off as a script named after the entity, in
 * Home Assistant's default mode (single). check() has said what is wrong
 * with it, if anything. */
static int compile_script(struct tent *t, const struct mqb_conf_node *n, const char *path,
			  const char *key, struct mqb_script **out)
{
	*out = NULL;
	if (!n || mqb_conf_kind(n) == MQB_CONF_NULL)
		return 0;
	char *p = path_join(path, ".", key);
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	struct mqb_script_options o = {.name = mqb_entity_id(t->e),
				       .max_exceeded = MQB_LOG_WARNING};
	size_t bad = mqb_script_compile(n, p ? p : path, &o, &errs, out);
	mqb_conf_errors_fini(&errs);
	free(p);
	return bad ? -EINVAL : 0;
}

/* A delay: fixed (absent is 0), or a template rendered with the state. */
static int duration(const struct mqb_conf_node *n, double *secs, struct side *s, struct tent *t)
{
	*secs = 0;
	if (!n || mqb_conf_duration(n, secs))
		return 0;
	return compile(n, &s->t, t);
}

/* What one entity is made of, from either layout. */
struct spec {
	enum kind kind;
	const char *name, *object_id, *unique_id, *unit, *device_class, *state_class;
	const char *state_option, *avail_option, *icon_option, *picture_option;
	const struct mqb_conf_node *state, *avail, *icon, *picture, *attrs, *variables;
	const struct mqb_conf_node *turn_on, *turn_off;
	const struct mqb_conf_node *delay_on, *delay_off, *auto_off;
	bool optimistic;
	struct tpl_block *block; /* trigger-based: its block */
	const struct tpl_conf *k; /* the other domains' own options */
};

static int add_one(struct mqb_platform *p, const struct spec *sp, const char *path,
		   struct tent **out)
{
	struct mqb_core *core = mqb_platform_core(p);
	struct hub *h = hub_get(core);
	if (!h)
		return -ENOMEM;
	struct tent *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->hub = h;
	t->kind = sp->kind;
	t->block = sp->block;
	t->next = h->ents;
	h->ents = t;
	t->on = -1;
	t->last_result = -2;
	t->state_option = sp->state_option;
	t->avail.option = sp->avail_option;
	t->icon.option = sp->icon_option;
	t->picture.option = sp->picture_option;
	t->delay_on_t.option = "delay_on";
	t->delay_off_t.option = "delay_off";
	t->auto_off_t.option = "auto_off";
	int rc;
	if ((rc = duration(sp->delay_on, &t->delay_on, &t->delay_on_t, t)) ||
	    (rc = duration(sp->delay_off, &t->delay_off, &t->delay_off_t, t)) ||
	    (rc = duration(sp->auto_off, &t->auto_off, &t->auto_off_t, t)) ||
	    (rc = compile(sp->state, &t->state, t)) || (rc = compile(sp->avail, &t->avail.t, t)) ||
	    (rc = compile(sp->icon, &t->icon.t, t)) || (rc = compile(sp->picture, &t->picture.t, t)))
		goto fail;
	if (sp->attrs && mqb_conf_kind(sp->attrs) == MQB_CONF_MAP) {
		size_t n = mqb_conf_len(sp->attrs);
		rc = -ENOMEM;
		if (n && !(t->attrs = calloc(n, sizeof *t->attrs)))
			goto fail;
		for (size_t i = 0; i < n; i++, t->nattrs++) {
			const char *k = mqb_conf_scalar(mqb_conf_key(sp->attrs, i), NULL);
			if (!k || !(t->attrs[i].key = strdup(k)))
				goto fail;
			if ((rc = compile(mqb_conf_value(sp->attrs, i), &t->attrs[i].t, t)))
				goto fail;
			if (!t->attrs[i].t) {
				rc = -EINVAL;
				goto fail;
			}
		}
	}
	if (sp->variables && !(t->variables = mqb_conf_to_json(sp->variables))) {
		rc = -ENOMEM;
		goto fail;
	}
	t->k = tpl_kinds[sp->kind];
	if (t->k && sp->k) {
		t->conf = *sp->k;
		for (size_t i = 0; i < TPL_SLOTS; i++) {
			t->fields[i].option = t->k->names[i];
			if (t->k->slots[i] == TS_TEMPLATE && (rc = compile(sp->k->x[i], &t->fields[i].t, t)))
				goto fail;
			if (t->k->slots[i] == TS_LIST && sp->k->x[i] &&
			    !(t->lists[i] = mqb_conf_to_json(sp->k->x[i]))) {
				rc = -ENOMEM;
				goto fail;
			}
		}
	}
	t->optimistic = sp->kind == K_SWITCH && (sp->optimistic || !sp->state);

	struct mqb_entity_info info = {
		.name = sp->name,
		.object_id = sp->object_id,
		.unique_id = sp->unique_id,
		.unit_of_measurement = sp->unit,
		.device_class = sp->device_class,
		.state_class = sp->state_class,
	};
	/* A static icon is the entity's own; one that changes is an attribute. */
	char *static_icon = NULL;
	if (t->icon.t && mqb_template_is_static(t->icon.t)) {
		size_t n;
		const char *s = mqb_conf_scalar(sp->icon, &n);
		s = mqb_strip(s, &n);
		info.icon = static_icon = n ? strndup(s, n) : NULL;
		mqb_template_free(t->icon.t);
		t->icon.t = NULL;
	}
	json_t *discovery = NULL;
	if (t->k) {
		/* for the scripts' names, which the add makes known (the
		 * scripts compile once the entity is there) */
		t->state_option = sp->state_option;
		if ((t->k->init && (rc = t->k->init(t, &info))) ||
		    (t->k->discovery && (!(discovery = json_object()) ||
					 (rc = t->k->discovery(t, discovery))))) {
			rc = rc ? rc : -ENOMEM;
			free(static_icon);
			json_decref(discovery);
			goto fail;
		}
		info.discovery = discovery;
	}
	struct mqb_entity *e = NULL;
	rc = mqb_platform_async_add_entity(p, &info,
					   t->k ? &kind_ops
					   : sp->kind == K_SWITCH ? &switch_ops : &ent_ops,
					   t, &e);
	free(static_icon);
	json_decref(discovery);
	if (rc) {
		MQB_LOG_ERROR(SUB, "%s: adding the entity failed: %s", path, mqb_strerror(rc));
		return rc; /* t was freed with ent_free */
	}
	/* the scripts log under the entity's id, known now */
	for (size_t i = 0; t->k && sp->k && i < TPL_SLOTS && !rc; i++)
		if (t->k->slots[i] == TS_ACTION)
			rc = compile_script(t, sp->k->x[i], path, t->k->names[i], &t->scripts[i]);
	if (rc || (rc = compile_script(t, sp->turn_on, path, "turn_on", &t->on_script)) ||
	    (rc = compile_script(t, sp->turn_off, path, "turn_off", &t->off_script))) {
		MQB_LOG_ERROR(SUB, "%s: %s", path, mqb_strerror(rc));
		mqb_entity_async_remove(e);
		return rc;
	}
	if (t->block)
		mqb_entity_async_write(e); /* unknown (a switch off) until it fires */
	if (out)
		*out = t;
	return 0;
fail:
	MQB_LOG_ERROR(SUB, "%s: %s", path, mqb_strerror(rc));
	ent_free(t);
	return rc;
}

static const char *const default_names[] = {"Template Sensor", "Template Binary Sensor",
					     "Template Switch"};

static const char *default_name(enum kind kind)
{
	return tpl_kinds[kind] ? tpl_kinds[kind]->default_name : default_names[kind];
}

static int setup_legacy(struct mqb_platform *p, enum kind kind, const struct mqb_conf_node *map,
			const char *path)
{
	int first = 0;
	for (size_t i = 0; i < mqb_conf_len(map); i++) {
		const char *id = mqb_conf_scalar(mqb_conf_key(map, i), NULL);
		struct legacy_conf lc = {0};
		struct mqb_conf_errors errs;
		mqb_conf_errors_init(&errs);
		size_t bad = mqb_schema_apply(legacy_schema(kind), mqb_conf_value(map, i), path, &lc,
					      &errs);
		mqb_conf_errors_fini(&errs);
		if (bad || !id) {
			first = first ? first : -EINVAL;
			continue;
		}
		struct spec sp = {
			.kind = kind,
			.name = lc.friendly_name ? lc.friendly_name : id,
			.object_id = id,
			.unique_id = lc.unique_id,
			.unit = lc.unit,
			.device_class = lc.device_class,
			.state_option = "value_template",
			.avail_option = "availability_template",
			.icon_option = "icon_template",
			.picture_option = "entity_picture_template",
			.state = lc.value_template,
			.avail = lc.availability_template,
			.icon = lc.icon_template,
			.picture = lc.entity_picture_template,
			.attrs = lc.attribute_templates,
			.turn_on = lc.turn_on,
			.turn_off = lc.turn_off,
			.delay_on = lc.delay_on,
			.delay_off = lc.delay_off,
			.k = &lc.k,
		};
		int rc = add_one(p, &sp, path, NULL);
		if (rc && !first)
			first = rc;
	}
	return first;
}

/* A modern entity's spec from its options. */
static struct spec modern_spec(enum kind kind, const struct item_conf *c)
{
	const char *id = c->default_entity_id ? c->default_entity_id : c->object_id;
	if (id && strchr(id, '.'))
		id = strchr(id, '.') + 1;
	return (struct spec){
		.kind = kind,
		.name = c->name ? c->name : id ? NULL : default_name(kind),
		.object_id = id,
		.unique_id = c->unique_id,
		.unit = c->unit,
		.device_class = c->device_class,
		.state_class = c->state_class,
		.state_option = "state",
		.avail_option = "availability",
		.icon_option = "icon",
		.picture_option = "picture",
		.state = c->state,
		.avail = c->availability,
		.icon = c->icon,
		.picture = c->picture,
		.attrs = c->attributes,
		.variables = c->variables,
		.turn_on = c->turn_on,
		.turn_off = c->turn_off,
		.delay_on = c->delay_on,
		.delay_off = c->delay_off,
		.auto_off = c->auto_off,
		.optimistic = c->optimistic,
		.k = &c->k,
	};
}

static int setup_item(struct mqb_platform *p, enum kind kind, const void *conf, const char *path)
{
	const struct item_conf *c = conf;
	const struct mqb_conf_node *legacy = tpl_kinds[kind] ? c->legacy
					     : kind == K_SWITCH ? c->switches : c->sensors;
	if (legacy)
		return setup_legacy(p, kind, legacy, path);
	struct spec sp = modern_spec(kind, c);
	return add_one(p, &sp, path, NULL);
}

/* ---- trigger-based entities (template_trigger.c holds their blocks) ------ */

static const struct mqb_schema *const schemas[3] = {&sensor_schema, &binary_schema,
						     &switch_schema};

static const struct mqb_schema *schema_of(enum kind kind)
{
	return tpl_kinds[kind] ? tpl_kinds[kind]->schema : schemas[kind];
}

size_t tpl_check_entity(enum kind kind, const struct mqb_conf_node *node, const char *path,
			struct mqb_conf_errors *errs)
{
	struct item_conf c = {0};
	size_t before = errs->n;
	if (mqb_schema_apply(schema_of(kind), node, path, &c, errs))
		return errs->n - before;
	if (c.sensors || c.switches || c.legacy)
		mqb_conf_error_at(errs, c.sensors ? c.sensors : c.switches ? c.switches : c.legacy,
				  path,
				  "a trigger-based block takes modern entities, not the legacy "
				  "layout's %s:",
				  legacy_key(kind));
	else
		check_item(kind, &c, node, path, errs);
	return errs->n - before;
}

int tpl_add_fired(struct mqb_platform *p, enum kind kind, const struct mqb_conf_node *node,
		  const char *path, const char *unique_id, struct tpl_block *b, struct tent **out)
{
	struct item_conf c = {0};
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	size_t bad = mqb_schema_apply(schema_of(kind), node, path, &c, &errs);
	mqb_conf_errors_fini(&errs);
	if (bad)
		return -EINVAL; /* the check said what */
	struct spec sp = modern_spec(kind, &c);
	sp.block = b;
	/* Home Assistant: <block's unique_id>-<entity's>, when both are given */
	char *uid = NULL;
	if (unique_id && c.unique_id) {
		size_t n = strlen(unique_id) + strlen(c.unique_id) + 2;
		if (!(uid = malloc(n)))
			return -ENOMEM;
		snprintf(uid, n, "%s-%s", unique_id, c.unique_id);
		sp.unique_id = uid;
	}
	int rc = add_one(p, &sp, path, out);
	free(uid);
	return rc;
}

static int setup_sensor(struct mqb_platform *p, const void *conf, const char *path)
{
	return setup_item(p, K_SENSOR, conf, path);
}
static int setup_binary(struct mqb_platform *p, const void *conf, const char *path)
{
	return setup_item(p, K_BINARY, conf, path);
}
static int setup_switch(struct mqb_platform *p, const void *conf, const char *path)
{
	return setup_item(p, K_SWITCH, conf, path);
}
#define KIND_SETUP(name, kind)                                                             \
	static void check_##name(const void *conf, const struct mqb_conf_node *node,       \
				 const char *path, struct mqb_conf_errors *errs)           \
	{                                                                                  \
		check_item(kind, conf, node, path, errs);                                  \
	}                                                                                  \
	static int setup_##name(struct mqb_platform *p, const void *conf, const char *path) \
	{                                                                                  \
		return setup_item(p, kind, conf, path);                                    \
	}
KIND_SETUP(button, K_BUTTON)
KIND_SETUP(number, K_NUMBER)
KIND_SETUP(select, K_SELECT)
KIND_SETUP(light, K_LIGHT)
KIND_SETUP(cover, K_COVER)
KIND_SETUP(fan, K_FAN)
KIND_SETUP(lock, K_LOCK)
KIND_SETUP(alarm, K_ALARM)
KIND_SETUP(vacuum, K_VACUUM)
KIND_SETUP(update, K_UPDATE)
KIND_SETUP(weather, K_WEATHER)
#define KIND_DOMAIN(name, kind)                                                            \
	{.domain = #name, .schema = &tpl_kind_schemas[kind],                              \
	 .conf_size = sizeof(struct item_conf), .check = check_##name,                    \
	 .async_setup_platform = setup_##name}

/* Home Assistant's template image shows a picture at a URL; the bridge
 * has nothing to show one with (an MQTT image is refused as well). */
static const struct mqb_schema_key image_keys[] = {
	{.key = "name", .type = MQB_S_ANY}, {.key = "url", .type = MQB_S_ANY},
	{.key = "unique_id", .type = MQB_S_ANY}, {.key = "verify_ssl", .type = MQB_S_ANY},
	{.key = "availability", .type = MQB_S_ANY}, {.key = "picture", .type = MQB_S_ANY},
	{.key = "icon", .type = MQB_S_ANY}, {.key = "variables", .type = MQB_S_ANY},
	{.key = "default_entity_id", .type = MQB_S_ANY},
};
static const struct mqb_schema image_schema = MQB_SCHEMA("image.template", image_keys);

static void check_image(const void *conf, const struct mqb_conf_node *node, const char *path,
			struct mqb_conf_errors *errs)
{
	(void)conf;
	mqb_conf_error_at(errs, node, path,
			  "template image entities are not supported: mqbridge has no way to "
			  "show Home Assistant a picture");
}

static int setup_image(struct mqb_platform *p, const void *conf, const char *path)
{
	(void)p, (void)conf, (void)path;
	return -ENOTSUP;
}

static const struct mqb_platform_domain domains[] = {
	{.domain = "sensor", .schema = &sensor_schema, .conf_size = sizeof(struct item_conf),
	 .check = check_sensor, .async_setup_platform = setup_sensor},
	{.domain = "binary_sensor", .schema = &binary_schema, .conf_size = sizeof(struct item_conf),
	 .check = check_binary, .async_setup_platform = setup_binary},
	{.domain = "switch", .schema = &switch_schema, .conf_size = sizeof(struct item_conf),
	 .check = check_switch, .async_setup_platform = setup_switch},
	KIND_DOMAIN(button, K_BUTTON),
	KIND_DOMAIN(number, K_NUMBER),
	KIND_DOMAIN(select, K_SELECT),
	KIND_DOMAIN(light, K_LIGHT),
	KIND_DOMAIN(cover, K_COVER),
	KIND_DOMAIN(fan, K_FAN),
	KIND_DOMAIN(lock, K_LOCK),
	{.domain = "alarm_control_panel", .schema = &tpl_kind_schemas[K_ALARM],
	 .conf_size = sizeof(struct item_conf), .check = check_alarm,
	 .async_setup_platform = setup_alarm},
	KIND_DOMAIN(vacuum, K_VACUUM),
	KIND_DOMAIN(update, K_UPDATE),
	KIND_DOMAIN(weather, K_WEATHER),
	{.domain = "image", .schema = &image_schema, .conf_size = sizeof(struct item_conf),
	 .check = check_image, .async_setup_platform = setup_image},
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = "template",
	.domains = domains,
	.ndomains = MQB_ARRAY_SIZE(domains),
	/* the blocks of `template:`: its trigger-based ones are the component's */
	.component = &tpl_component,
};
