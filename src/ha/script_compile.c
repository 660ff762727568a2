/* SPDX-License-Identifier: MIT */
/* Scripts compiled from configuration: Home Assistant's SCRIPT_SCHEMA and
 * each action's own (cv.determine_script_action and the schemas behind
 * it), both generations of keys, every problem an error at its
 * file:line:column with the action's path. Templates and durations are
 * compiled here once; runs only render them. */
#include "lib/internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "config/schema.h"
#include "core/loop.h"
#include "ha/cv.h"
#include "ha/script_impl.h"
#include "ha/trigger_impl.h"
#include "mqbridge/bus.h"
#include "mqbridge/condition.h"
#include "mqbridge/states.h"

const char *const script__type_names[] = {
	[A_CALL] = "call_service",   [A_DELAY] = "delay",
	[A_WAIT_TEMPLATE] = "wait_template", [A_WAIT_TRIGGER] = "wait_for_trigger",
	[A_EVENT] = "event",         [A_CONDITION] = "condition",
	[A_CHOOSE] = "choose",       [A_IF] = "if",
	[A_REPEAT] = "repeat",       [A_PARALLEL] = "parallel",
	[A_SEQUENCE] = "sequence",   [A_VARIABLES] = "variables",
	[A_STOP] = "stop",           [A_CONVERSATION] = "set_conversation_response",
	[A_ABSENT] = "device",
};

/* The compile's state: where errors go, and how much of a path is the
 * caller's prefix (the log shows the path from the script's own root,
 * "action[2]...", the configuration errors the whole of it). */
struct cc {
	struct mqb_conf_errors *errs;
	size_t prefix;
};

/* ---- freeing -------------------------------------------------------------------- */

static void free_conds(struct conds *c)
{
	for (size_t i = 0; i < c->n; i++)
		mqb_condition_free(c->v[i]);
	mqb__free(c->v);
	c->v = NULL;
	c->n = 0;
}

void script__free_varblock(struct varblock *vb)
{
	for (size_t i = 0; i < vb->n; i++) {
		mqb__free(vb->names[i]);
		tval__fini(&vb->values[i]);
	}
	mqb__free(vb->names);
	mqb__free(vb->values);
	memset(vb, 0, sizeof *vb);
}

static void free_action(struct action *a)
{
	if (!a)
		return;
	switch (a->type) {
	case A_ABSENT:
		mqb__free(a->absent);
		break;
	case A_CALL:
		mqb__free(a->call.domain);
		mqb_template_free(a->call.name);
		tval__fini(&a->call.target);
		tval__fini(&a->call.data);
		tval__fini(&a->call.data_template);
		cv__free_ids(a->call.entity_ids, a->call.n_entity_ids);
		mqb__free(a->call.response_variable);
		break;
	case A_DELAY:
		duration__fini(&a->delay);
		break;
	case A_WAIT_TEMPLATE:
	case A_WAIT_TRIGGER:
		mqb_template_free(a->wait.tpl);
		mqb__free(a->wait.text);
		script__free_triggers(a->wait.triggers);
		duration__fini(&a->wait.timeout);
		break;
	case A_EVENT:
		mqb__free(a->event.type);
		tval__fini(&a->event.data);
		tval__fini(&a->event.data_template);
		break;
	case A_CONDITION:
		mqb_condition_free(a->cond);
		break;
	case A_CHOOSE:
		for (size_t i = 0; i < a->choose.n; i++) {
			mqb__free(a->choose.v[i].alias);
			free_conds(&a->choose.v[i].conds);
			script__free_seq(&a->choose.v[i].seq);
		}
		mqb__free(a->choose.v);
		script__free_seq(&a->choose.deflt);
		break;
	case A_IF:
		free_conds(&a->ifelse.conds);
		script__free_seq(&a->ifelse.then);
		script__free_seq(&a->ifelse.otherwise);
		break;
	case A_REPEAT:
		tval__fini(&a->repeat.items);
		free_conds(&a->repeat.conds);
		script__free_seq(&a->repeat.seq);
		break;
	case A_PARALLEL:
		for (size_t i = 0; i < a->parallel.n; i++)
			script__free_seq(&a->parallel.branches[i]);
		mqb__free(a->parallel.branches);
		break;
	case A_SEQUENCE:
		script__free_seq(&a->sequence);
		break;
	case A_VARIABLES:
		script__free_varblock(&a->variables);
		break;
	case A_STOP:
		mqb__free(a->stop.reason);
		mqb__free(a->stop.response_variable);
		break;
	case A_CONVERSATION:
		break;
	}
	mqb__free(a->alias);
	mqb__free(a->path);
	mqb__free(a);
}

void script__free_seq(struct seq *q)
{
	for (size_t i = 0; i < q->n; i++)
		free_action(q->v[i]);
	mqb__free(q->v);
	q->v = NULL;
	q->n = 0;
}

/* ---- helpers -------------------------------------------------------------------- */

static size_t nomem(struct cc *cc, const char *path)
{
	mqb_conf_error(cc->errs, NULL, path, "out of memory");
	return 1;
}

static size_t compile_seq(struct cc *cc, struct seq *q, const struct mqb_conf_node *node,
			  const char *path);

/* A sequence under key of map (required or not). */
static size_t seq_at(struct cc *cc, struct seq *q, const struct mqb_conf_node *map,
		     const char *key, const char *path, bool required)
{
	char p[CV_PATH_MAX];
	size_t found = 0;
	const struct mqb_conf_node *n =
		required ? cv__required(map, key, path, cc->errs, &found) : mqb_conf_get(map, key);
	if (!n)
		return found;
	return compile_seq(cc, q, n, cv__path(p, path, ".%s", key));
}

/* Conditions as choose, if, while and until take them: one, a list, or
 * the template shorthand; each compiled alone. */
static size_t compile_conds(struct cc *cc, struct conds *c, const struct mqb_conf_node *node,
			    const char *path)
{
	bool list = mqb_conf_kind(node) == MQB_CONF_SEQ;
	size_t n = list ? mqb_conf_len(node) : mqb_conf_kind(node) == MQB_CONF_NULL ? 0 : 1;
	size_t found = 0;
	if (n && !(c->v = mqb__calloc(n, sizeof *c->v)))
		return nomem(cc, path);
	for (size_t i = 0; i < n; i++) {
		char p[CV_PATH_MAX];
		if (list)
			cv__path(p, path, "[%zu]", i);
		else
			cv__path(p, path, "%s", "");
		found += mqb_condition_compile(list ? mqb_conf_item(node, i) : node, p, cc->errs,
					       &c->v[c->n]);
		if (c->v[c->n])
			c->n++;
	}
	return found;
}

size_t script__compile_varblock(struct varblock *vb, const struct mqb_conf_node *node,
				const char *path, struct mqb_conf_errors *errs)
{
	size_t found = 0;
	memset(vb, 0, sizeof *vb);
	if (mqb_conf_kind(node) == MQB_CONF_NULL)
		return 0;
	if (mqb_conf_kind(node) != MQB_CONF_MAP) {
		mqb_conf_error_at(errs, node, path, "expected a dictionary of variables");
		return 1;
	}
	size_t n = mqb_conf_len(node);
	if (n && (!(vb->names = mqb__calloc(n, sizeof *vb->names)) ||
		  !(vb->values = mqb__calloc(n, sizeof *vb->values)))) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		script__free_varblock(vb);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *k = mqb_conf_key(node, i);
		char p[CV_PATH_MAX];
		const char *name = cv__text(k);
		cv__path(p, path, ".%s", name ? name : "?");
		if (!name) {
			mqb_conf_error_at(errs, k, p, "a variable's name must be a string");
			found++;
			continue;
		}
		size_t f = tval__compile(&vb->values[vb->n], mqb_conf_value(node, i), p, errs);
		if (f) {
			found += f;
			continue;
		}
		if (!(vb->names[vb->n] = mqb__strdup(name))) {
			tval__fini(&vb->values[vb->n]);
			mqb_conf_error(errs, NULL, path, "out of memory");
			found++;
			continue;
		}
		vb->n++;
	}
	if (found)
		script__free_varblock(vb);
	return found;
}

/* A value that may be a template: data, target, event_data. mapping_only:
 * a mapping or a template string, as event data must be. */
static size_t tval_at(struct cc *cc, struct tval *tv, bool *has, const struct mqb_conf_node *map,
		      const char *key, const char *path, bool mapping_only)
{
	const struct mqb_conf_node *n = mqb_conf_get(map, key);
	char p[CV_PATH_MAX];
	if (!n)
		return 0;
	cv__path(p, path, ".%s", key);
	if (mqb_conf_kind(n) == MQB_CONF_NULL) {
		mqb_conf_error_at(cc->errs, n, p, "expected a dictionary, got null");
		return 1;
	}
	if (mapping_only && mqb_conf_kind(n) != MQB_CONF_MAP) {
		mqb_conf_error_at(cc->errs, n, p, "expected a dictionary");
		return 1;
	}
	size_t found = tval__compile(tv, n, p, cc->errs);
	*has = found == 0;
	return found;
}

/* ---- the actions ------------------------------------------------------------------ */

#define BASE "alias", "continue_on_error", "enabled", "comment"

/* cv.service: "domain.service", lowercased. */
static size_t service_name(struct cc *cc, struct action *a, const struct mqb_conf_node *n,
			   const char *path)
{
	const char *s = cv__text(n);
	if (!s) {
		mqb_conf_error_at(cc->errs, n, path, "string value is None");
		return 1;
	}
	if (duration__is_template_text(s, strlen(s)))
		return schema__compile_template(n, path, cc->errs, &a->call.name) < 0;
	char *name = mqb__strdup(s);
	if (!name)
		return nomem(cc, path);
	for (char *p = name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	char *dot = strchr(name, '.');
	if (!mqb_entity_id_valid(name) || !dot) {
		char shown[80];
		mqb_conf_error_at(cc->errs, n, path, "Service %s does not match format <domain>.<name>",
				  mqb_conf_display(n, shown, sizeof shown));
		mqb__free(name);
		return 1;
	}
	*dot = '\0';
	a->call.domain = name;
	a->call.service = dot + 1;
	return 0;
}

static size_t compile_call(struct cc *cc, struct action *a, const struct mqb_conf_node *node,
			   const char *path)
{
	static const char *const keys[] = { BASE, "action", "service", "service_template", "target",
					    "entity_id", "data", "data_template",
					    "response_variable", "metadata", NULL };
	size_t found = cv__check_keys(node, path, keys, cc->errs);
	char p[CV_PATH_MAX];
	const struct mqb_conf_node *act = mqb_conf_get(node, "action"),
				   *svc = mqb_conf_get(node, "service"),
				   *tpl = mqb_conf_get(node, "service_template"), *n;
	if (act && svc) {
		mqb_conf_error_at(cc->errs, svc, path,
				  "Cannot specify both 'service' and 'action'. Please use 'action' "
				  "only.");
		return found + 1;
	}
	if (!act)
		act = svc;
	if (act && tpl) {
		mqb_conf_error_at(cc->errs, tpl, path,
				  "two or more values in the same group of exclusion 'service name'");
		return found + 1;
	}
	if (tpl) {
		/* service_template: always a template */
		if (schema__compile_template(tpl, cv__path(p, path, ".service_template"), cc->errs,
					     &a->call.name) < 0)
			found++;
	} else {
		found += service_name(cc, a, act, cv__path(p, path, ".action"));
	}
	if ((n = mqb_conf_get(node, "target"))) {
		if (mqb_conf_kind(n) != MQB_CONF_MAP && !cv__text(n)) {
			mqb_conf_error_at(cc->errs, n, cv__path(p, path, ".target"),
					  "expected a dictionary of entity_id, device_id, area_id, "
					  "floor_id, label_id, or a template");
			found++;
		} else {
			found += tval_at(cc, &a->call.target, &a->call.has_target, node, "target", path,
					 false);
		}
	}
	if ((n = mqb_conf_get(node, "entity_id")))
		found += cv__entity_ids(n, cv__path(p, path, ".entity_id"), true, cc->errs,
					&a->call.entity_ids, &a->call.n_entity_ids);
	found += tval_at(cc, &a->call.data, &a->call.has_data, node, "data", path, false);
	found += tval_at(cc, &a->call.data_template, &a->call.has_data_template, node,
			 "data_template", path, false);
	found += cv__strdup(mqb_conf_get(node, "response_variable"),
			    cv__path(p, path, ".response_variable"), cc->errs,
			    &a->call.response_variable);
	return found;
}

/* A device action of an entity that turns on and off (Home Assistant's
 * device_automation/toggle_entity.py; light/device_action.py adds
 * brightness steps, brightness_pct and flash): a call of the entity's
 * turn_on, turn_off or toggle. Another integration's (a phone's
 * notification, a Z-Wave device's setting) is kept, as a trigger of an
 * integration mqbridge lacks is: it fails when a run reaches it, and the
 * start-up warning names it. */
static size_t compile_device(struct cc *cc, struct action *a, const struct mqb_conf_node *node,
			     const char *path)
{
	static const char *const keys[] = { BASE, "device_id", "domain", "entity_id", "type",
					    "metadata", "brightness_pct", "flash", NULL };
	char p[CV_PATH_MAX];
	size_t found = 0;
	const struct mqb_conf_node *dn = cv__required(node, "domain", path, cc->errs, &found);
	const char *domain = cv__text(dn);
	if (dn && domain && !trigger__toggle_domain(domain)) {
		const char *type = cv__text(mqb_conf_get(node, "type"));
		char why[256];
		snprintf(why, sizeof why, "the device action %s of %s cannot run here: mqbridge does "
					  "not have Home Assistant's %s integration",
			 type ? type : "", domain, domain);
		a->type = A_ABSENT;
		return (a->absent = mqb__strdup(why)) ? 0 : nomem(cc, path);
	}
	found += cv__check_keys(node, path, keys, cc->errs);
	const struct mqb_conf_node *tn = cv__required(node, "type", path, cc->errs, &found);
	const struct mqb_conf_node *en = cv__required(node, "entity_id", path, cc->errs, &found);
	const char *type = cv__text(tn);
	if (dn && !domain) {
		mqb_conf_error_at(cc->errs, dn, cv__path(p, path, ".domain"), "expected a string");
		return found + 1;
	}
	if (found)
		return found;
	bool light = strcmp(domain, "light") == 0;
	const char *service = NULL;
	json_t *data = json_object();
	if (!data)
		return nomem(cc, path);
	int rc = 0;
	if (!type) {
		/* not a string: the error below */
	} else if (strcmp(type, "turn_on") == 0 || strcmp(type, "turn_off") == 0 ||
		   strcmp(type, "toggle") == 0) {
		service = type;
	} else if (light && strcmp(type, "brightness_increase") == 0) {
		service = "turn_on";
		rc = json_object_set_new(data, "brightness_step_pct", json_integer(10));
	} else if (light && strcmp(type, "brightness_decrease") == 0) {
		service = "turn_on";
		rc = json_object_set_new(data, "brightness_step_pct", json_integer(-10));
	} else if (light && strcmp(type, "flash") == 0) {
		service = "turn_on";
		const char *f = cv__text(mqb_conf_get(node, "flash"));
		rc = json_object_set_new(data, "flash", json_string(f ? f : "short"));
	}
	if (!service) {
		mqb_conf_error_at(cc->errs, tn, cv__path(p, path, ".type"), "value must be one of %s",
				  light ? "['brightness_decrease', 'brightness_increase', 'flash', "
					  "'toggle', 'turn_off', 'turn_on']"
					: "['toggle', 'turn_off', 'turn_on']");
		json_decref(data);
		return 1;
	}
	const struct mqb_conf_node *pct = mqb_conf_get(node, "brightness_pct");
	if (light && pct && strcmp(type, "turn_on") == 0) {
		json_t *v = tval__from_conf(pct);
		if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 100) {
			json_decref(v);
			json_decref(data);
			mqb_conf_error_at(cc->errs, pct, cv__path(p, path, ".brightness_pct"),
					  "value must be at most 100 and at least 0");
			return 1;
		}
		rc |= json_object_set_new(data, "brightness_pct", v);
	}
	found += cv__entity_ids(en, cv__path(p, path, ".entity_id"), true, cc->errs,
				&a->call.entity_ids, &a->call.n_entity_ids);
	/* one allocation, "<domain>\0<service>", as service_name makes */
	size_t dl = strlen(domain) + 1, sl = strlen(service) + 1;
	char *name = mqb__malloc(dl + sl);
	if (rc || !name) {
		mqb__free(name);
		json_decref(data);
		return found + nomem(cc, path);
	}
	memcpy(name, domain, dl);
	memcpy(name + dl, service, sl);
	a->call.domain = name;
	a->call.service = name + dl;
	if (json_object_size(data)) {
		a->call.data = (struct tval){ .kind = TVAL_STATIC, .value = data };
		a->call.has_data = true;
	} else {
		json_decref(data);
	}
	return found;
}

/* scene: scene.x is scene.turn_on with that entity. */
static size_t compile_scene(struct cc *cc, struct action *a, const struct mqb_conf_node *node,
			    const char *path)
{
	static const char *const keys[] = { BASE, "scene", NULL };
	size_t found = cv__check_keys(node, path, keys, cc->errs);
	char p[CV_PATH_MAX];
	const struct mqb_conf_node *n = mqb_conf_get(node, "scene");
	const char *s = cv__text(n);
	if (!s || strncmp(s, "scene.", 6) != 0 || !mqb_entity_id_valid(s)) {
		char shown[80];
		mqb_conf_error_at(cc->errs, n, cv__path(p, path, ".scene"),
				  "Entity ID '%s' does not belong to domain 'scene'",
				  n ? mqb_conf_display(n, shown, sizeof shown) : "");
		return found + 1;
	}
	/* one allocation, "scene\0turn_on", as service_name makes */
	char *name = mqb__malloc(sizeof "scene" + sizeof "turn_on");
	if (!name || !(a->call.entity_ids = mqb__calloc(1, sizeof(char *))) ||
	    !(a->call.entity_ids[0] = mqb__strdup(s))) {
		mqb__free(name);
		return found + nomem(cc, path);
	}
	memcpy(name, "scene", sizeof "scene");
	memcpy(name + sizeof "scene", "turn_on", sizeof "turn_on");
	a->call.domain = name;
	a->call.service = name + sizeof "scene";
	a->call.n_entity_ids = 1;
	return found;
}

static size_t compile_wait(struct cc *cc, struct action *a, const struct mqb_conf_node *node,
			   const char *path)
{
	static const char *const keys_tpl[] = { BASE, "wait_template", "timeout",
						"continue_on_timeout", NULL };
	static const char *const keys_trig[] = { BASE, "wait_for_trigger", "timeout",
						 "continue_on_timeout", NULL };
	size_t found = cv__check_keys(node, path, a->type == A_WAIT_TEMPLATE ? keys_tpl : keys_trig,
				      cc->errs);
	char p[CV_PATH_MAX];
	const struct mqb_conf_node *n;
	if (a->type == A_WAIT_TEMPLATE) {
		n = mqb_conf_get(node, "wait_template");
		/* cv.template refuses None ("wait_template:" and nothing, or
		 * a comment where the value was meant to be) */
		if (mqb_conf_kind(n) == MQB_CONF_NULL) {
			mqb_conf_error_at(cc->errs, n, cv__path(p, path, ".wait_template"),
					  "template value is None");
			found++;
		} else if (schema__compile_template(n, cv__path(p, path, ".wait_template"),
						    cc->errs, &a->wait.tpl) < 0)
			found++;
		else if (!(a->wait.text = mqb__strdup(cv__text(n))))
			found += nomem(cc, path);
	} else {
		n = mqb_conf_get(node, "wait_for_trigger");
		found += script__compile_triggers(n, cv__path(p, path, ".wait_for_trigger"), cc->errs,
						  &a->wait.triggers);
	}
	if ((n = mqb_conf_get(node, "timeout"))) {
		a->wait.has_timeout = true;
		found += duration__compile(&a->wait.timeout, n, cv__path(p, path, ".timeout"),
					   DURATION_POSITIVE, cc->errs);
	}
	a->wait.continue_on_timeout = true;
	if ((n = mqb_conf_get(node, "continue_on_timeout")))
		found += cv__boolean(n, cv__path(p, path, ".continue_on_timeout"), cc->errs,
				     &a->wait.continue_on_timeout);
	return found;
}

static size_t compile_event(struct cc *cc, struct action *a, const struct mqb_conf_node *node,
			    const char *path)
{
	static const char *const keys[] = { BASE, "event", "event_data", "event_data_template", NULL };
	size_t found = cv__check_keys(node, path, keys, cc->errs);
	char p[CV_PATH_MAX];
	const struct mqb_conf_node *n = mqb_conf_get(node, "event");
	const char *type = cv__text(n);
	cv__path(p, path, ".event");
	if (!type || !type[0] || strlen(type) > MQB_MAX_EVENT_TYPE_LEN) {
		mqb_conf_error_at(cc->errs, n, p, "expected an event type (1 to %d characters)",
				  MQB_MAX_EVENT_TYPE_LEN);
		found++;
	} else if (!(a->event.type = mqb__strdup(type))) {
		found += nomem(cc, path);
	}
	found += tval_at(cc, &a->event.data, &a->event.has_data, node, "event_data", path, true);
	found += tval_at(cc, &a->event.data_template, &a->event.has_data_template, node,
			 "event_data_template", path, true);
	return found;
}

static size_t compile_choose(struct cc *cc, struct action *a, const struct mqb_conf_node *node,
			     const char *path)
{
	static const char *const keys[] = { BASE, "choose", "default", NULL };
	static const char *const option_keys[] = { "alias", "conditions", "sequence", NULL };
	size_t found = cv__check_keys(node, path, keys, cc->errs);
	char p[CV_PATH_MAX], op[CV_PATH_MAX];
	const struct mqb_conf_node *list = mqb_conf_get(node, "choose");
	bool many = mqb_conf_kind(list) == MQB_CONF_SEQ;
	size_t n = many ? mqb_conf_len(list) : mqb_conf_kind(list) == MQB_CONF_NULL ? 0 : 1;
	if (n && !(a->choose.v = mqb__calloc(n, sizeof *a->choose.v)))
		return found + nomem(cc, path);
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *o = many ? mqb_conf_item(list, i) : list;
		struct choice *c = &a->choose.v[a->choose.n++];
		cv__path(op, path, ".choose[%zu]", i);
		if (mqb_conf_kind(o) != MQB_CONF_MAP) {
			mqb_conf_error_at(cc->errs, o, op, "expected dictionary");
			found++;
			continue;
		}
		found += cv__check_keys(o, op, option_keys, cc->errs);
		found += cv__strdup(mqb_conf_get(o, "alias"), cv__path(p, op, ".alias"), cc->errs,
				    &c->alias);
		const struct mqb_conf_node *conds = cv__required(o, "conditions", op, cc->errs, &found);
		if (conds)
			found += compile_conds(cc, &c->conds, conds, cv__path(p, op, ".conditions"));
		found += seq_at(cc, &c->seq, o, "sequence", op, true);
	}
	if (mqb_conf_get(node, "default")) {
		a->choose.has_default = true;
		found += seq_at(cc, &a->choose.deflt, node, "default", path, false);
	}
	return found;
}

static size_t compile_if(struct cc *cc, struct action *a, const struct mqb_conf_node *node,
			 const char *path)
{
	static const char *const keys[] = { BASE, "if", "then", "else", NULL };
	size_t found = cv__check_keys(node, path, keys, cc->errs);
	char p[CV_PATH_MAX];
	found += compile_conds(cc, &a->ifelse.conds, mqb_conf_get(node, "if"),
			       cv__path(p, path, ".if"));
	found += seq_at(cc, &a->ifelse.then, node, "then", path, true);
	if (mqb_conf_get(node, "else")) {
		a->ifelse.has_else = true;
		found += seq_at(cc, &a->ifelse.otherwise, node, "else", path, false);
	}
	return found;
}

static size_t compile_repeat(struct cc *cc, struct action *a, const struct mqb_conf_node *node,
			     const char *path)
{
	static const char *const keys[] = { BASE, "repeat", NULL };
	static const char *const rkeys[] = { "count", "for_each", "while", "until", "sequence",
					     NULL };
	static const char *const kinds[] = { "count", "for_each", "while", "until" };
	size_t found = cv__check_keys(node, path, keys, cc->errs);
	char p[CV_PATH_MAX], rp[CV_PATH_MAX];
	const struct mqb_conf_node *r = mqb_conf_get(node, "repeat"), *n = NULL;
	cv__path(rp, path, ".repeat");
	if (mqb_conf_kind(r) != MQB_CONF_MAP) {
		mqb_conf_error_at(cc->errs, r, rp, "expected dictionary");
		return found + 1;
	}
	found += cv__check_keys(r, rp, rkeys, cc->errs);
	int kind = -1;
	for (int k = 0; k < 4; k++) {
		const struct mqb_conf_node *x = mqb_conf_get(r, kinds[k]);
		if (!x)
			continue;
		if (kind >= 0) {
			mqb_conf_error_at(cc->errs, x, rp,
					  "two or more values in the same group of exclusion "
					  "'repeat': %s and %s",
					  kinds[kind], kinds[k]);
			return found + 1;
		}
		kind = k;
		n = x;
	}
	if (kind < 0) {
		mqb_conf_error_at(cc->errs, r, rp,
				  "must contain at least one of count, for_each, while, until.");
		return found + 1;
	}
	a->repeat.kind = (enum repeat_kind)kind;
	cv__path(p, rp, ".%s", kinds[kind]);
	if (kind == R_COUNT || kind == R_FOR_EACH) {
		if (kind == R_FOR_EACH && mqb_conf_kind(n) != MQB_CONF_SEQ &&
		    !(cv__text(n) && duration__is_template_text(cv__text(n), strlen(cv__text(n))))) {
			mqb_conf_error_at(cc->errs, n, p, "expected a list of items or a template");
			found++;
		} else {
			found += tval__compile(&a->repeat.items, n, p, cc->errs);
		}
	} else {
		found += compile_conds(cc, &a->repeat.conds, n, p);
	}
	found += seq_at(cc, &a->repeat.seq, r, "sequence", rp, true);
	return found;
}

static size_t compile_action(struct cc *cc, struct action **out, const struct mqb_conf_node *node,
			     const char *path);

static size_t compile_parallel(struct cc *cc, struct action *a, const struct mqb_conf_node *node,
			       const char *path)
{
	static const char *const keys[] = { BASE, "parallel", NULL };
	size_t found = cv__check_keys(node, path, keys, cc->errs);
	const struct mqb_conf_node *list = mqb_conf_get(node, "parallel");
	bool many = mqb_conf_kind(list) == MQB_CONF_SEQ;
	size_t n = many ? mqb_conf_len(list) : 1;
	if (!(a->parallel.branches = mqb__calloc(n ? n : 1, sizeof *a->parallel.branches)))
		return found + nomem(cc, path);
	for (size_t i = 0; i < n; i++) {
		char p[CV_PATH_MAX];
		const struct mqb_conf_node *b = many ? mqb_conf_item(list, i) : list;
		/* a branch: one action (a sequence: block keeps its own enabled and
		 * continue_on_error), or a list of them */
		found += compile_seq(cc, &a->parallel.branches[a->parallel.n++], b,
				     many ? cv__path(p, path, ".parallel[%zu]", i)
					  : cv__path(p, path, ".parallel"));
	}
	return found;
}

static size_t compile_stop(struct cc *cc, struct action *a, const struct mqb_conf_node *node,
			   const char *path)
{
	static const char *const keys[] = { BASE, "stop", "error", "response_variable", NULL };
	size_t found = cv__check_keys(node, path, keys, cc->errs);
	char p[CV_PATH_MAX];
	const struct mqb_conf_node *n = mqb_conf_get(node, "stop");
	if (mqb_conf_kind(n) != MQB_CONF_NULL)
		found += cv__strdup(n, cv__path(p, path, ".stop"), cc->errs, &a->stop.reason);
	if ((n = mqb_conf_get(node, "error")))
		found += cv__boolean(n, cv__path(p, path, ".error"), cc->errs, &a->stop.error);
	found += cv__strdup(mqb_conf_get(node, "response_variable"),
			    cv__path(p, path, ".response_variable"), cc->errs,
			    &a->stop.response_variable);
	if (a->stop.error && a->stop.response_variable) {
		mqb_conf_error_at(cc->errs, node, path,
				  "not allowed to add a response to an error stop action");
		found++;
	}
	return found;
}

/* Home Assistant's ACTIONS_MAP: the first of these keys present decides
 * the action (cv.determine_script_action). */
static const struct {
	const char *key;
	int type; /* enum act_type, or one of the two below */
} detect[] = {
	{ "delay", A_DELAY },
	{ "wait_template", A_WAIT_TEMPLATE },
	{ "condition", A_CONDITION },
	{ "and", A_CONDITION },
	{ "or", A_CONDITION },
	{ "not", A_CONDITION },
	{ "event", A_EVENT },
	{ "device_id", -1 },
	{ "scene", -2 },
	{ "repeat", A_REPEAT },
	{ "choose", A_CHOOSE },
	{ "wait_for_trigger", A_WAIT_TRIGGER },
	{ "variables", A_VARIABLES },
	{ "if", A_IF },
	{ "action", A_CALL },
	{ "service", A_CALL },
	{ "service_template", A_CALL },
	{ "stop", A_STOP },
	{ "parallel", A_PARALLEL },
	{ "sequence", A_SEQUENCE },
	{ "set_conversation_response", A_CONVERSATION },
};
#define NDETECT (sizeof detect / sizeof detect[0])

static size_t unknown_action(struct cc *cc, const struct mqb_conf_node *node, const char *path)
{
	const char *cands[NDETECT];
	for (size_t i = 0; i < NDETECT; i++)
		cands[i] = detect[i].key;
	for (size_t i = 0; i < mqb_conf_len(node); i++) {
		const char *key = cv__text(mqb_conf_key(node, i));
		const char *near = key && !mqb_conf_is_secret(mqb_conf_key(node, i))
					   ? schema__suggest(key, cands, NDETECT)
					   : NULL;
		if (near) {
			mqb_conf_error_at(cc->errs, mqb_conf_key(node, i), path,
					  "Unable to determine action: unknown action key '%s' "
					  "(did you mean '%s'?)",
					  key, near);
			return 1;
		}
	}
	mqb_conf_error_at(cc->errs, node, path,
			  "Unable to determine action: an action holds one of action (or "
			  "service), delay, wait_template, wait_for_trigger, event, condition, "
			  "choose, if, repeat, parallel, sequence, variables, stop or scene");
	return 1;
}

/* Bytes a compile at the deepest level still needs below it: templates
 * compiled, errors formatted. */
#define STACK_RESERVE (16 * 1024)

static size_t compile_action(struct cc *cc, struct action **out, const struct mqb_conf_node *node,
			     const char *path)
{
	size_t found = 0;
	char p[CV_PATH_MAX];
	*out = NULL;
	if (mqb_conf_kind(node) != MQB_CONF_MAP) {
		char buf[80];
		mqb_conf_error_at(cc->errs, node, path, "expected dictionary, got %s",
				  schema__describe(node, buf, sizeof buf));
		return 1;
	}
	/* An integration may compile in its setup, a coroutine: each level
	 * of blocks costs a few path buffers of stack, and the nesting YAML
	 * allows must not run into the stack's end. */
	if (coro__stack_left() < STACK_RESERVE) {
		mqb_conf_error_at(cc->errs, node, path,
				  "blocks nested too deep to compile on this stack");
		return 1;
	}
	int type = -3;
	for (size_t i = 0; i < NDETECT && type == -3; i++)
		if (mqb_conf_get(node, detect[i].key))
			type = detect[i].type;
	if (type == -3)
		return unknown_action(cc, node, path);
	struct action *a = mqb__calloc(1, sizeof *a);
	if (!a)
		return nomem(cc, path);
	a->type = type < 0 ? A_CALL : (enum act_type)type;
	const char *rel = strlen(path) > cc->prefix ? path + cc->prefix : path;
	if (!(a->path = mqb__strdup(rel))) {
		mqb__free(a);
		return nomem(cc, path);
	}
	const struct mqb_conf_node *n;
	static const char *const var_keys[] = { BASE, "variables", NULL };
	static const char *const seq_keys[] = { BASE, "sequence", NULL };
	static const char *const delay_keys[] = { BASE, "delay", NULL };
	static const char *const conv_keys[] = { BASE, "set_conversation_response", NULL };
	switch (type) {
	case -1:
		found += compile_device(cc, a, node, path);
		break;
	case -2:
		found += compile_scene(cc, a, node, path);
		break;
	case A_CALL:
		found += compile_call(cc, a, node, path);
		break;
	case A_DELAY:
		found += cv__check_keys(node, path, delay_keys, cc->errs);
		found += duration__compile(&a->delay, mqb_conf_get(node, "delay"),
					   cv__path(p, path, ".delay"), DURATION_POSITIVE, cc->errs);
		break;
	case A_WAIT_TEMPLATE:
	case A_WAIT_TRIGGER:
		found += compile_wait(cc, a, node, path);
		break;
	case A_EVENT:
		found += compile_event(cc, a, node, path);
		break;
	case A_CONDITION:
		/* the whole mapping is the condition (with alias and enabled,
		 * and no continue_on_error: condition.c checks its keys) */
		found += mqb_condition_compile(node, path, cc->errs, &a->cond);
		break;
	case A_CHOOSE:
		found += compile_choose(cc, a, node, path);
		break;
	case A_IF:
		found += compile_if(cc, a, node, path);
		break;
	case A_REPEAT:
		found += compile_repeat(cc, a, node, path);
		break;
	case A_PARALLEL:
		found += compile_parallel(cc, a, node, path);
		break;
	case A_SEQUENCE:
		found += cv__check_keys(node, path, seq_keys, cc->errs);
		found += seq_at(cc, &a->sequence, node, "sequence", path, true);
		break;
	case A_VARIABLES:
		found += cv__check_keys(node, path, var_keys, cc->errs);
		found += script__compile_varblock(&a->variables, mqb_conf_get(node, "variables"),
						  cv__path(p, path, ".variables"), cc->errs);
		break;
	case A_STOP:
		found += compile_stop(cc, a, node, path);
		break;
	case A_CONVERSATION:
		found += cv__check_keys(node, path, conv_keys, cc->errs);
		break;
	}
	if (a->type != A_CONDITION) {
		bool enabled;
		found += cv__enabled(node, path, cc->errs, &enabled);
		a->disabled = !enabled;
		if ((n = mqb_conf_get(node, "continue_on_error")))
			found += cv__boolean(n, cv__path(p, path, ".continue_on_error"), cc->errs,
					     &a->continue_on_error);
		found += cv__strdup(mqb_conf_get(node, "alias"), cv__path(p, path, ".alias"),
				    cc->errs, &a->alias);
	}
	if (found) {
		free_action(a);
		return found;
	}
	*out = a;
	return 0;
}

/* cv.SCRIPT_SCHEMA: a list of actions, or one; null is none. */
static size_t compile_seq(struct cc *cc, struct seq *q, const struct mqb_conf_node *node,
			  const char *path)
{
	size_t found = 0;
	memset(q, 0, sizeof *q);
	enum mqb_conf_kind kind = mqb_conf_kind(node);
	if (kind == MQB_CONF_NULL)
		return 0;
	size_t n = kind == MQB_CONF_SEQ ? mqb_conf_len(node) : 1;
	if (n && !(q->v = mqb__calloc(n, sizeof *q->v)))
		return nomem(cc, path);
	for (size_t i = 0; i < n; i++) {
		char p[CV_PATH_MAX];
		const struct mqb_conf_node *item = kind == MQB_CONF_SEQ ? mqb_conf_item(node, i) : node;
		found += compile_action(cc, &q->v[q->n],
					item, kind == MQB_CONF_SEQ ? cv__path(p, path, "[%zu]", i)
								  : cv__path(p, path, "[0]"));
		if (q->v[q->n])
			q->n++;
	}
	if (found)
		script__free_seq(q);
	return found;
}

/* ---- the public side ----------------------------------------------------------- */

size_t mqb_script_compile(const struct mqb_conf_node *node, const char *path,
			  const struct mqb_script_options *opt, struct mqb_conf_errors *errs,
			  struct mqb_script **out)
{
	if (!path)
		path = "sequence";
	/* the log's action paths start at path's last part: "automation[0].action" gives
	 * "action[2]..." */
	const char *label = strrchr(path, '.');
	label = label ? label + 1 : path;
	struct cc cc = { .errs = errs, .prefix = (size_t)(label - path) };
	struct seq q;
	size_t found = compile_seq(&cc, &q, node, path);
	if (out)
		*out = NULL;
	if (found || !out) {
		script__free_seq(&q);
		return found;
	}
	struct mqb_script *s = mqb__calloc(1, sizeof *s);
	const char *name = opt && opt->name ? opt->name : "script";
	char *own = mqb__malloc(strlen(name) + 1 + strlen(label) + 1);
	if (!s || !own) {
		mqb__free(s);
		mqb__free(own);
		script__free_seq(&q);
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	strcpy(own, name);
	strcpy(own + strlen(name) + 1, label);
	s->name = own;
	s->label = own + strlen(name) + 1;
	s->seq = q;
	s->mode = opt ? opt->mode : MQB_SCRIPT_SINGLE;
	s->max = opt && opt->max ? opt->max : 10;
	s->max_exceeded = opt ? opt->max_exceeded : MQB_LOG_WARNING;
	s->max_exceeded_silent = opt && opt->max_exceeded_silent;
	s->on_change = opt ? opt->on_change : NULL;
	s->ud = opt ? opt->ud : NULL;
	s->variables = opt ? opt->variables : NULL;
	s->respond_variables = opt && opt->respond_variables;
	*out = s;
	return 0;
}

void mqb_script_free(struct mqb_script *s)
{
	if (!s)
		return;
	MQB_CHECK(s->nruns == 0, "%s: freed with %u runs", s->name, s->nruns);
	script__free_seq(&s->seq);
	mqb__free(s->stops);
	mqb__free(s->name);
	mqb__free(s);
}

size_t mqb_script_variables_compile(const struct mqb_conf_node *node, const char *path,
				    struct mqb_conf_errors *errs,
				    struct mqb_script_variables **out)
{
	struct mqb_script_variables *v = mqb__calloc(1, sizeof *v);
	if (out)
		*out = NULL;
	if (!v) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	size_t found = script__compile_varblock(&v->vb, node, path ? path : "variables", errs);
	if (found || !out) {
		mqb_script_variables_free(v);
		return found;
	}
	*out = v;
	return 0;
}

void mqb_script_variables_free(struct mqb_script_variables *v)
{
	if (!v)
		return;
	script__free_varblock(&v->vb);
	mqb__free(v);
}

/* ---- services it names ----------------------------------------------------------- */

static void foreach_in_seq(const struct seq *q,
			   void (*fn)(void *ud, const char *domain, const char *service,
				      const char *path),
			   void *ud)
{
	for (size_t i = 0; i < q->n; i++) {
		const struct action *a = q->v[i];
		switch (a->type) {
		case A_CALL:
			if (a->call.domain)
				fn(ud, a->call.domain, a->call.service, a->path);
			break;
		case A_ABSENT:
			fn(ud, NULL, a->absent, a->path);
			break;
		case A_CHOOSE:
			for (size_t k = 0; k < a->choose.n; k++)
				foreach_in_seq(&a->choose.v[k].seq, fn, ud);
			foreach_in_seq(&a->choose.deflt, fn, ud);
			break;
		case A_IF:
			foreach_in_seq(&a->ifelse.then, fn, ud);
			foreach_in_seq(&a->ifelse.otherwise, fn, ud);
			break;
		case A_REPEAT:
			foreach_in_seq(&a->repeat.seq, fn, ud);
			break;
		case A_PARALLEL:
			for (size_t k = 0; k < a->parallel.n; k++)
				foreach_in_seq(&a->parallel.branches[k], fn, ud);
			break;
		case A_SEQUENCE:
			foreach_in_seq(&a->sequence, fn, ud);
			break;
		default:
			break;
		}
	}
}

void mqb_script_foreach_service(const struct mqb_script *s,
				void (*fn)(void *ud, const char *domain, const char *service,
					   const char *path),
				void *ud)
{
	foreach_in_seq(&s->seq, fn, ud);
}
