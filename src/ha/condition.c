/* SPDX-License-Identifier: MIT */
/* Conditions as Home Assistant's helpers/condition.py has them: state,
 * numeric_state, template, time, sun, trigger and and/or/not with their
 * shorthands, compiled once and tested on the loop. Errors (an unknown
 * entity, a value that is no number) are Home Assistant's ConditionError,
 * with its nesting, and combine as it combines them: `and` is false when
 * any part is false even if another could not be decided. */
#include "lib/internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/schema.h"
#include "ha/condition_impl.h"
#include "ha/cv.h"
#include "ha/duration.h"
#include "ha/trigger_impl.h"
#include "ha/tval.h"
#include "mqbridge/json.h"
#include "mqbridge/location.h"
#include "mqbridge/states.h"
#include "mqbridge/sun.h"
#include "mqbridge/template.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"
#include "template/native.h"
#include "template/tpl.h"

enum ctype { C_AND, C_OR, C_NOT, C_STATE, C_NUMERIC, C_TEMPLATE, C_TIME, C_SUN, C_TRIGGER };
static const char *const type_names[] = { "and", "or", "not", "state", "numeric_state",
					  "template", "time", "sun", "trigger" };

/* above: or below: of numeric_state, a number or an entity's state. */
struct threshold {
	bool set;
	double value;
	char *entity;
};

/* after: or before: of time, a time of day or an entity holding one. */
struct tod {
	bool set;
	double seconds;
	char *entity;
};

enum sun_event_kind { SUN_NONE = -1, SUN_RISE = 0, SUN_SET = 1 };

struct mqb_condition {
	enum ctype type;
	bool disabled;            /* enabled: false: Home Assistant's None */
	char *alias;
	struct mqb_condition **kids; /* and, or, not */
	size_t nkids;
	char **entities;          /* state, numeric_state */
	size_t nentities;
	char *attribute;
	json_t *want;             /* state: the wanted values, an array */
	struct duration hold;     /* state: for */
	bool has_for, match_any;
	struct threshold above, below;
	struct mqb_template *tpl; /* template; numeric_state's value_template */
	struct tod after, before; /* time */
	unsigned weekdays;        /* time: bit 0 Monday ... bit 6 Sunday; 0 any */
	int sun_before, sun_after;
	struct duration before_offset, after_offset;
	char **ids;               /* trigger */
	size_t nids;
};

/* ---- messages ---------------------------------------------------------------- */

void cond_msg__free(struct cond_msg *m)
{
	mqb__free(m->s);
	memset(m, 0, sizeof *m);
}

static void msg_add(struct cond_msg *m, const char *s, size_t n)
{
	if (m->len + n + 1 > m->cap) {
		size_t cap = (m->len + n + 1) * 2;
		char *p = mqb__realloc(m->s, cap);
		if (!p)
			return; /* out of memory only shortens the message */
		m->s = p;
		m->cap = cap;
	}
	memcpy(m->s + m->len, s, n);
	m->len += n;
	m->s[m->len] = '\0';
}

static void __attribute__((format(printf, 2, 3))) msg_printf(struct cond_msg *m, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		msg_add(m, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* A leaf error: ConditionErrorMessage. Returns -EINVAL. */
static int __attribute__((format(printf, 3, 4)))
fail(struct cond_msg *err, enum ctype t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	msg_printf(err, "In '%s' condition: %s", type_names[t], buf);
	return -EINVAL;
}

/* One error of a container: ConditionErrorIndex, its child indented. */
static void add_indexed(struct cond_msg *out, const char *type, size_t i, size_t n,
			const struct cond_msg *child)
{
	if (out->len)
		msg_add(out, "\n", 1);
	if (n > 1)
		msg_printf(out, "In '%s' (item %zu of %zu):", type, i + 1, n);
	else
		msg_printf(out, "In '%s':", type);
	const char *s = child->s ? child->s : "";
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t k = nl ? (size_t)(nl - s) : strlen(s);
		msg_add(out, "\n  ", 3);
		msg_add(out, s, k);
		s += k + (nl ? 1 : 0);
	}
}

/* ---- compile ------------------------------------------------------------------ */

static void cond_free(struct mqb_condition *c);

void mqb_condition_free(struct mqb_condition *c)
{
	cond_free(c);
}

static void cond_free(struct mqb_condition *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nkids; i++)
		cond_free(c->kids[i]);
	mqb__free(c->kids);
	cv__free_ids(c->entities, c->nentities);
	cv__free_ids(c->ids, c->nids);
	mqb__free(c->alias);
	mqb__free(c->attribute);
	json_decref(c->want);
	duration__fini(&c->hold);
	duration__fini(&c->before_offset);
	duration__fini(&c->after_offset);
	mqb_template_free(c->tpl);
	mqb__free(c->above.entity);
	mqb__free(c->below.entity);
	mqb__free(c->after.entity);
	mqb__free(c->before.entity);
	mqb__free(c);
}

static size_t compile(const struct mqb_conf_node *node, const char *path,
		      struct mqb_conf_errors *errs, struct mqb_condition **out);

static struct mqb_condition *cond_new(enum ctype t)
{
	struct mqb_condition *c = mqb__calloc(1, sizeof *c);
	if (c) {
		c->type = t;
		c->sun_before = c->sun_after = SUN_NONE;
	}
	return c;
}

/* and/or/not over a list (or one condition) of children. */
static size_t compile_kids(struct mqb_condition *c, const struct mqb_conf_node *list,
			   const char *path, struct mqb_conf_errors *errs)
{
	size_t n = mqb_conf_kind(list) == MQB_CONF_SEQ ? mqb_conf_len(list) : 1, found = 0;
	if (mqb_conf_kind(list) == MQB_CONF_NULL)
		n = 0;
	if (n && !(c->kids = mqb__calloc(n, sizeof *c->kids))) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char p[CV_PATH_MAX];
		const struct mqb_conf_node *item =
			mqb_conf_kind(list) == MQB_CONF_SEQ ? mqb_conf_item(list, i) : list;
		if (mqb_conf_kind(list) == MQB_CONF_SEQ)
			cv__path(p, path, "[%zu]", i);
		else
			cv__path(p, path, "%s", "");
		found += compile(item, p, errs, &c->kids[c->nkids]);
		if (c->kids[c->nkids])
			c->nkids++;
	}
	return found;
}

static bool is_template_text(const char *s)
{
	return s && duration__is_template_text(s, strlen(s));
}

/* above/below: a number, or an entity of input_number, number, sensor or
 * zone (cv.entity_domain). */
static size_t compile_threshold(struct threshold *th, const struct mqb_conf_node *n,
				const char *path, struct mqb_conf_errors *errs)
{
	static const char *const domains[] = { "input_number.", "number.", "sensor.", "zone.", NULL };
	size_t len;
	const char *s = mqb_conf_kind(n) == MQB_CONF_SCALAR ? mqb_conf_scalar(n, &len) : NULL;
	if (!s) {
		mqb_conf_error_at(errs, n, path, "expected float or an entity ID");
		return 1;
	}
	th->set = true;
	if (schema__parse_float(s, len, &th->value))
		return 0;
	for (int i = 0; domains[i]; i++)
		if (strncmp(s, domains[i], strlen(domains[i])) == 0 && mqb_entity_id_valid(s)) {
			if (!(th->entity = mqb__strdup(s))) {
				mqb_conf_error(errs, NULL, path, "out of memory");
				return 1;
			}
			return 0;
		}
	char shown[80];
	mqb_conf_error_at(errs, n, path,
			  "expected float or an entity ID of input_number, number, sensor or "
			  "zone, got '%s'",
			  mqb_conf_display(n, shown, sizeof shown));
	return 1;
}

static size_t compile_tod(struct tod *t, const struct mqb_conf_node *n, const char *path,
			  struct mqb_conf_errors *errs)
{
	static const char *const domains[] = { "input_datetime.", "time.", "sensor.", NULL };
	size_t len;
	const char *s = mqb_conf_kind(n) == MQB_CONF_SCALAR ? mqb_conf_scalar(n, &len) : NULL;
	t->set = true;
	/* An unquoted 10:30 is YAML 1.1's sexagesimal 630 to Home Assistant,
	 * which no time reads: quote it (07:30 has a leading zero, so it
	 * stays text). */
	char buf[80];
	json_t *typed = s && !mqb_conf_quoted(n) ? tval__yaml11(s, len) : NULL;
	if (typed && json_is_integer(typed) && !mqb_conf_is_secret(n)) {
		mqb_conf_error_at(errs, n, path,
				  "Invalid time specified: %" JSON_INTEGER_FORMAT
				  " (YAML reads an unquoted %s as a number: quote it)",
				  json_integer_value(typed), mqb_conf_display(n, buf, sizeof buf));
		json_decref(typed);
		return 1;
	}
	json_decref(typed);
	if (s && duration__parse_time_of_day(s, len, &t->seconds))
		return 0;
	for (int i = 0; s && domains[i]; i++)
		if (strncmp(s, domains[i], strlen(domains[i])) == 0 && mqb_entity_id_valid(s)) {
			if (!(t->entity = mqb__strdup(s))) {
				mqb_conf_error(errs, NULL, path, "out of memory");
				return 1;
			}
			return 0;
		}
	mqb_conf_error_at(errs, n, path, "Invalid time specified: %s",
			  s ? mqb_conf_display(n, buf, sizeof buf) : schema__describe(n, buf, sizeof buf));
	return 1;
}

static size_t compile_weekday(struct mqb_condition *c, const struct mqb_conf_node *n,
			      const char *path, struct mqb_conf_errors *errs)
{
	static const char *const days[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
	size_t count = mqb_conf_kind(n) == MQB_CONF_SEQ ? mqb_conf_len(n) : 1, found = 0;
	for (size_t i = 0; i < count; i++) {
		const struct mqb_conf_node *it = mqb_conf_kind(n) == MQB_CONF_SEQ ? mqb_conf_item(n, i) : n;
		const char *s = cv__text(it);
		int d = -1;
		for (int k = 0; s && k < 7; k++)
			if (strcmp(s, days[k]) == 0)
				d = k;
		if (d < 0) {
			char buf[80];
			mqb_conf_error_at(errs, it, path,
					  "value must be one of ['fri', 'mon', 'sat', 'sun', 'thu', "
					  "'tue', 'wed'], got %s",
					  schema__describe(it, buf, sizeof buf));
			found++;
			continue;
		}
		c->weekdays |= 1u << d;
	}
	return found;
}

static int sun_event_of(const char *s)
{
	if (!s)
		return SUN_NONE;
	if (strcasecmp(s, "sunrise") == 0)
		return SUN_RISE;
	if (strcasecmp(s, "sunset") == 0)
		return SUN_SET;
	return SUN_NONE;
}

/* The wanted states of a state condition: text without attribute:,
 * values of any type with it. */
static size_t compile_states(struct mqb_condition *c, const struct mqb_conf_node *n,
			     const char *path, struct mqb_conf_errors *errs)
{
	size_t count = mqb_conf_kind(n) == MQB_CONF_SEQ ? mqb_conf_len(n) : 1, found = 0;
	if (!(c->want = json_array())) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	for (size_t i = 0; i < count; i++) {
		const struct mqb_conf_node *it = mqb_conf_kind(n) == MQB_CONF_SEQ ? mqb_conf_item(n, i) : n;
		json_t *v = tval__from_conf(it);
		if (!c->attribute && !json_is_string(v)) {
			char buf[80];
			mqb_conf_error_at(errs, it, path,
					  "expected str, got %s (YAML reads an unquoted on, off, "
					  "yes, no or a number as such: quote it)",
					  schema__describe(it, buf, sizeof buf));
			found++;
			json_decref(v);
			continue;
		}
		if (json_array_append_new(c->want, v)) {
			mqb_conf_error(errs, NULL, path, "out of memory");
			found++;
		}
	}
	return found;
}

#define BASE_KEYS "condition", "alias", "enabled"

/* entity_id: (required) and attribute: of state and numeric_state. */
static size_t compile_entities(struct mqb_condition *c, const struct mqb_conf_node *node,
			       const char *path, struct mqb_conf_errors *errs)
{
	char p[CV_PATH_MAX];
	size_t found = cv__strdup(mqb_conf_get(node, "attribute"), cv__path(p, path, ".attribute"),
				  errs, &c->attribute);
	const struct mqb_conf_node *n = cv__required(node, "entity_id", path, errs, &found);
	if (n)
		found += cv__entity_ids(n, cv__path(p, path, ".entity_id"), false, errs,
					&c->entities, &c->nentities);
	return found;
}

/* A device condition of an entity that turns on and off (Home
 * Assistant's device_automation/toggle_entity.py): the state condition of
 * its entity_id, "on" (is_on) or "off" (is_off), with for. Another
 * integration's device condition cannot be had here: mqbridge knows no
 * devices but MQTT's, whose device automations are triggers only. */
static size_t compile_device(struct mqb_condition *c, const struct mqb_conf_node *node,
			     const char *path, struct mqb_conf_errors *errs)
{
	static const char *const keys[] = { BASE_KEYS, "device_id", "domain", "entity_id", "type",
					     "for", "metadata", NULL };
	char p[CV_PATH_MAX];
	size_t found = cv__check_keys(node, path, keys, errs);
	const struct mqb_conf_node *dn = cv__required(node, "domain", path, errs, &found);
	const struct mqb_conf_node *tn = cv__required(node, "type", path, errs, &found);
	const char *domain = cv__text(dn), *type = cv__text(tn);
	if (dn && (!domain || !trigger__toggle_domain(domain))) {
		mqb_conf_error_at(errs, dn, cv__path(p, path, ".domain"),
				  "device conditions of %s are not available in mqbridge: only those "
				  "of entities that turn on and off (fan, humidifier, light, remote, "
				  "switch) are; use a state condition", domain ? domain : "that domain");
		return found + 1;
	}
	if (tn && (!type || (strcmp(type, "is_on") != 0 && strcmp(type, "is_off") != 0))) {
		mqb_conf_error_at(errs, tn, cv__path(p, path, ".type"),
				  "value must be one of ['is_off', 'is_on']");
		return found + 1;
	}
	if (found)
		return found;
	found += compile_entities(c, node, path, errs);
	if (!(c->want = json_array()) ||
	    json_array_append_new(c->want, json_string(strcmp(type, "is_on") == 0 ? "on" : "off"))) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return found + 1;
	}
	const struct mqb_conf_node *n = mqb_conf_get(node, "for");
	if (n) {
		c->has_for = true;
		found += duration__compile(&c->hold, n, cv__path(p, path, ".for"),
					   DURATION_POSITIVE, errs);
	}
	return found;
}

static size_t compile_typed(struct mqb_condition *c, const struct mqb_conf_node *node,
			    const char *path, struct mqb_conf_errors *errs)
{
	size_t found = 0;
	char p[CV_PATH_MAX];
	const struct mqb_conf_node *n;
	switch (c->type) {
	case C_AND:
	case C_OR:
	case C_NOT: {
		static const char *const keys[] = { BASE_KEYS, "conditions", NULL };
		found += cv__check_keys(node, path, keys, errs);
		if (!(n = cv__required(node, "conditions", path, errs, &found)))
			return found;
		return found + compile_kids(c, n, cv__path(p, path, ".conditions"), errs);
	}
	case C_STATE: {
		static const char *const keys[] = { BASE_KEYS, "entity_id", "state", "attribute",
						     "for", "match", "from", NULL };
		found += cv__check_keys(node, path, keys, errs);
		found += compile_entities(c, node, path, errs);
		if ((n = cv__required(node, "state", path, errs, &found)))
			found += compile_states(c, n, cv__path(p, path, ".state"), errs);
		if ((n = mqb_conf_get(node, "for"))) {
			c->has_for = true;
			found += duration__compile(&c->hold, n, cv__path(p, path, ".for"),
						   DURATION_POSITIVE, errs);
		}
		if ((n = mqb_conf_get(node, "match"))) {
			const char *m = cv__text(n);
			if (m && strcasecmp(m, "any") == 0)
				c->match_any = true;
			else if (!m || strcasecmp(m, "all") != 0) {
				mqb_conf_error_at(errs, n, cv__path(p, path, ".match"),
						  "value must be one of ['all', 'any']");
				found++;
			}
		}
		return found;
	}
	case C_NUMERIC: {
		static const char *const keys[] = { BASE_KEYS, "entity_id", "above", "below",
						     "attribute", "value_template", NULL };
		found += cv__check_keys(node, path, keys, errs);
		found += compile_entities(c, node, path, errs);
		if ((n = mqb_conf_get(node, "above")))
			found += compile_threshold(&c->above, n, cv__path(p, path, ".above"), errs);
		if ((n = mqb_conf_get(node, "below")))
			found += compile_threshold(&c->below, n, cv__path(p, path, ".below"), errs);
		if (!c->above.set && !c->below.set) {
			mqb_conf_error_at(errs, node, path, "must contain at least one of below, above.");
			found++;
		}
		if ((n = mqb_conf_get(node, "value_template")) &&
		    schema__compile_template(n, cv__path(p, path, ".value_template"), errs, &c->tpl) < 0)
			found++;
		return found;
	}
	case C_TEMPLATE: {
		static const char *const keys[] = { BASE_KEYS, "value_template", NULL };
		found += cv__check_keys(node, path, keys, errs);
		if (!(n = cv__required(node, "value_template", path, errs, &found)))
			return found;
		if (schema__compile_template(n, cv__path(p, path, ".value_template"), errs, &c->tpl) < 0)
			found++;
		return found;
	}
	case C_TIME: {
		static const char *const keys[] = { BASE_KEYS, "after", "before", "weekday", NULL };
		found += cv__check_keys(node, path, keys, errs);
		if ((n = mqb_conf_get(node, "after")))
			found += compile_tod(&c->after, n, cv__path(p, path, ".after"), errs);
		if ((n = mqb_conf_get(node, "before")))
			found += compile_tod(&c->before, n, cv__path(p, path, ".before"), errs);
		if ((n = mqb_conf_get(node, "weekday")))
			found += compile_weekday(c, n, cv__path(p, path, ".weekday"), errs);
		if (!c->after.set && !c->before.set && !mqb_conf_get(node, "weekday")) {
			mqb_conf_error_at(errs, node, path,
					  "must contain at least one of before, after, weekday.");
			found++;
		}
		return found;
	}
	case C_SUN: {
		static const char *const keys[] = { BASE_KEYS, "before", "after", "before_offset",
						     "after_offset", NULL };
		found += cv__check_keys(node, path, keys, errs);
		const char *const which[] = { "before", "after" };
		int *ev[] = { &c->sun_before, &c->sun_after };
		struct duration *off[] = { &c->before_offset, &c->after_offset };
		for (int i = 0; i < 2; i++) {
			if ((n = mqb_conf_get(node, which[i]))) {
				*ev[i] = sun_event_of(cv__text(n));
				if (*ev[i] == SUN_NONE) {
					mqb_conf_error_at(errs, n, cv__path(p, path, ".%s", which[i]),
							  "value must be one of ['sunrise', 'sunset']");
					found++;
				}
			}
			char key[32];
			snprintf(key, sizeof key, "%s_offset", which[i]);
			if ((n = mqb_conf_get(node, key)))
				found += duration__compile(off[i], n, cv__path(p, path, ".%s", key), 0,
							   errs);
		}
		if (!mqb_conf_get(node, "before") && !mqb_conf_get(node, "after")) {
			mqb_conf_error_at(errs, node, path, "must contain at least one of before, after.");
			found++;
		}
		return found;
	}
	case C_TRIGGER: {
		static const char *const keys[] = { BASE_KEYS, "id", NULL };
		found += cv__check_keys(node, path, keys, errs);
		if (!(n = cv__required(node, "id", path, errs, &found)))
			return found;
		size_t count = mqb_conf_kind(n) == MQB_CONF_SEQ ? mqb_conf_len(n) : 1;
		if (!(c->ids = mqb__calloc(count ? count : 1, sizeof *c->ids))) {
			mqb_conf_error(errs, NULL, path, "out of memory");
			return found + 1;
		}
		for (size_t i = 0; i < count; i++) {
			const struct mqb_conf_node *it =
				mqb_conf_kind(n) == MQB_CONF_SEQ ? mqb_conf_item(n, i) : n;
			found += cv__strdup(it, cv__path(p, path, ".id"), errs, &c->ids[c->nids]);
			if (c->ids[c->nids])
				c->nids++;
		}
		return found;
	}
	}
	return found;
}

static size_t compile(const struct mqb_conf_node *node, const char *path,
		      struct mqb_conf_errors *errs, struct mqb_condition **out)
{
	size_t found = 0;
	struct mqb_condition *c = NULL;
	const char *s;
	const struct mqb_conf_node *n;
	char p[CV_PATH_MAX];
	*out = NULL;

	switch (mqb_conf_kind(node)) {
	case MQB_CONF_SCALAR:
		/* "{{ ... }}": the template shorthand */
		s = cv__text(node);
		if (!is_template_text(s)) {
			char shown[80];
			mqb_conf_error_at(errs, node, path,
					  "Unexpected value for condition: '%s'. Expected a condition, "
					  "a list of conditions or a valid template (a template value "
					  "must contain a dynamic template)",
					  mqb_conf_display(node, shown, sizeof shown));
			return 1;
		}
		if (!(c = cond_new(C_TEMPLATE)))
			goto nomem;
		if (schema__compile_template(node, path, errs, &c->tpl) < 0)
			found++;
		goto done;
	case MQB_CONF_SEQ:
		/* a list: all must hold */
		if (!(c = cond_new(C_AND)))
			goto nomem;
		found += compile_kids(c, node, path, errs);
		goto done;
	case MQB_CONF_MAP:
		break;
	default:
		mqb_conf_error_at(errs, node, path,
				  "Unexpected value for condition: 'None'. Expected a condition, a "
				  "list of conditions or a valid template");
		return 1;
	}

	n = mqb_conf_get(node, "condition");
	if (!n) {
		/* {and: [...]}, {or: ...}, {not: ...} */
		static const char *const shorthand[] = { "and", "or", "not" };
		for (int i = 0; i < 3; i++) {
			const struct mqb_conf_node *list = mqb_conf_get(node, shorthand[i]);
			if (!list)
				continue;
			static const char *const keys[] = { "and", "or", "not", "alias", "enabled", NULL };
			found += cv__check_keys(node, path, keys, errs);
			if (!(c = cond_new((enum ctype)i)))
				goto nomem;
			found += compile_kids(c, list, cv__path(p, path, ".%s", shorthand[i]), errs);
			goto done;
		}
		mqb_conf_error_at(errs, node, path,
				  "Unexpected value for condition: expected a mapping with "
				  "'condition' (or 'and', 'or', 'not'), a list of conditions or a "
				  "template");
		return 1;
	}
	if (mqb_conf_kind(n) == MQB_CONF_SEQ) {
		/* condition: [...]: all must hold */
		static const char *const keys[] = { BASE_KEYS, NULL };
		found += cv__check_keys(node, path, keys, errs);
		if (!(c = cond_new(C_AND)))
			goto nomem;
		found += compile_kids(c, n, cv__path(p, path, ".condition"), errs);
		goto done;
	}
	s = cv__text(n);
	if (is_template_text(s)) {
		/* condition: "{{ ... }}" (as a script action writes it) */
		static const char *const keys[] = { BASE_KEYS, NULL };
		found += cv__check_keys(node, path, keys, errs);
		if (!(c = cond_new(C_TEMPLATE)))
			goto nomem;
		if (schema__compile_template(n, cv__path(p, path, ".condition"), errs, &c->tpl) < 0)
			found++;
		goto done;
	}
	if (s && strcmp(s, "device") == 0) {
		if (!(c = cond_new(C_STATE)))
			goto nomem;
		found += compile_device(c, node, path, errs);
		goto done;
	}
	int t = -1;
	for (int i = 0; s && i < (int)(sizeof type_names / sizeof type_names[0]); i++)
		if (strcmp(s, type_names[i]) == 0)
			t = i;
	if (t < 0) {
		char buf[80];
		mqb_conf_error_at(errs, n, cv__path(p, path, ".condition"),
				  "Invalid condition \"%s\" specified (mqbridge has and, or, not, "
				  "state, numeric_state, template, time, sun, trigger and device)",
				  s ? mqb_conf_display(n, buf, sizeof buf) : schema__describe(n, buf, sizeof buf));
		return 1;
	}
	if (!(c = cond_new((enum ctype)t)))
		goto nomem;
	found += compile_typed(c, node, path, errs);

done:
	if (mqb_conf_kind(node) == MQB_CONF_MAP) {
		bool enabled;
		found += cv__enabled(node, path, errs, &enabled);
		c->disabled = !enabled;
		found += cv__strdup(mqb_conf_get(node, "alias"), cv__path(p, path, ".alias"), errs,
				    &c->alias);
	}
	if (found) {
		cond_free(c);
		return found;
	}
	*out = c;
	return 0;
nomem:
	mqb_conf_error(errs, NULL, path, "out of memory");
	return found + 1;
}

size_t mqb_condition_compile(const struct mqb_conf_node *node, const char *path,
			     struct mqb_conf_errors *errs, struct mqb_condition **out)
{
	struct mqb_condition *c = NULL;
	size_t found = compile(node, path ? path : "condition", errs, &c);
	if (out)
		*out = c;
	else
		cond_free(c);
	return found;
}

const char *condition__type(const struct mqb_condition *c)
{
	return type_names[c->type];
}

const char *condition__alias(const struct mqb_condition *c)
{
	return c->alias;
}

/* ---- evaluation --------------------------------------------------------------- */

struct ev {
	struct mqb_core *core;
	const json_t *vars;
	double now;
};

static int eval(const struct ev *e, const struct mqb_condition *c, struct cond_msg *err);

static struct mqb_tpl_vars tpl_vars_of(const struct ev *e, const json_t *vars)
{
	return (struct mqb_tpl_vars){ .core = e->core, .variables = vars, .now = e->now };
}

/* and, or, not, and the per-entity loops: Home Assistant's way of adding
 * errors up. Each child's outcome is asked of fn. */
static int combine(const struct ev *e, const struct mqb_condition *c, size_t n,
		   int (*fn)(const struct ev *e, const struct mqb_condition *c, size_t i,
			     struct cond_msg *err),
		   const char *type, bool any_entity, struct cond_msg *err)
{
	struct cond_msg errors = { 0 };
	bool erred = false, some_true = false;
	for (size_t i = 0; i < n; i++) {
		struct cond_msg one = { 0 };
		int r = fn(e, c, i, &one);
		if (r < 0) {
			add_indexed(&errors, type, i, n, &one);
			erred = true;
		} else if (c->type == C_AND || ((c->type == C_STATE || c->type == C_NUMERIC) && !any_entity)) {
			if (r == 0) {
				cond_msg__free(&one);
				cond_msg__free(&errors);
				return 0;
			}
		} else if (c->type == C_OR) {
			if (r == 1) {
				cond_msg__free(&one);
				cond_msg__free(&errors);
				return 1;
			}
		} else if (c->type == C_NOT) {
			if (r == 1) {
				cond_msg__free(&one);
				cond_msg__free(&errors);
				return 0;
			}
		} else if (r == 1) { /* state with match: any */
			some_true = true;
		}
		cond_msg__free(&one);
	}
	if (erred) {
		msg_add(err, errors.s ? errors.s : "", errors.len);
		cond_msg__free(&errors);
		return -EINVAL;
	}
	switch (c->type) {
	case C_OR:
		return 0;
	case C_STATE:
		return any_entity ? some_true : 1;
	default:
		return 1;
	}
}

static int kid(const struct ev *e, const struct mqb_condition *c, size_t i, struct cond_msg *err)
{
	return eval(e, c->kids[i], err);
}

/* Python's == between a value from the state machine and a wanted one:
 * numbers (and booleans, which are ints) by value. */
static bool py_equal(const json_t *a, const json_t *b)
{
	bool an = json_is_number(a) || json_is_boolean(a), bn = json_is_number(b) || json_is_boolean(b);
	if (an && bn) {
		double x = json_is_boolean(a) ? json_is_true(a) : json_number_value(a);
		double y = json_is_boolean(b) ? json_is_true(b) : json_number_value(b);
		return x == y;
	}
	return json_equal(a, b);
}

/* input_select, input_text, input_number, input_boolean, input_datetime. */
static bool is_input_entity(const char *s)
{
	static const char *const d[] = { "input_select.", "input_text.", "input_number.",
					  "input_boolean.", "input_datetime.", NULL };
	for (int i = 0; d[i]; i++)
		if (strncmp(s, d[i], strlen(d[i])) == 0)
			return mqb_entity_id_valid(s);
	return false;
}

static int state_one(const struct ev *e, const struct mqb_condition *c, size_t i,
		     struct cond_msg *err)
{
	const char *id = c->entities[i];
	struct mqb_state *st = mqb_states_async_get(e->core, id);
	int rc = 0;
	if (!st)
		return fail(err, C_STATE, "unknown entity %s", id);
	const json_t *value = NULL;
	json_t *own = NULL;
	if (c->attribute) {
		value = json_object_get(mqb_state_attributes(st), c->attribute);
		if (!value)
			goto out; /* attribute 'x' of entity y does not exist: false */
	} else {
		value = own = json_string(mqb_state_value(st));
		if (!own) {
			rc = -ENOMEM;
			goto out;
		}
	}
	size_t k;
	const json_t *w;
	bool is = false;
	json_array_foreach(c->want, k, w) {
		if (json_is_string(w) && is_input_entity(json_string_value(w))) {
			struct mqb_state *in = mqb_states_async_get(e->core, json_string_value(w));
			if (!in) {
				rc = fail(err, C_STATE, "the 'state' entity %s is unavailable",
					  json_string_value(w));
				goto out;
			}
			is = json_is_string(value) && strcmp(json_string_value(value), mqb_state_value(in)) == 0;
			mqb_state_unref(in);
		} else {
			is = py_equal(value, w);
		}
		if (is)
			break;
	}
	if (!is || !c->has_for) {
		rc = is;
		goto out;
	}
	double hold;
	char msg[256];
	struct mqb_tpl_vars tv = tpl_vars_of(e, e->vars);
	int r = duration__render(&c->hold, &tv, &hold, msg, sizeof msg);
	if (r == -ENOMEM) {
		rc = r;
		goto out;
	}
	if (r) {
		/* a template's own error, or a value that is no duration */
		rc = fail(err, C_STATE, "%s: %s",
			  c->hold.tpl || c->hold.nparts ? "template error" : "schema error", msg);
		goto out;
	}
	rc = e->now - hold > mqb_state_last_changed(st);
out:
	json_decref(own);
	mqb_state_unref(st);
	return rc;
}

static bool unknown_or_unavailable(const char *s)
{
	return strcmp(s, "unavailable") == 0 || strcmp(s, "unknown") == 0;
}

/* One threshold: 1 passes, 0 fails, or an error. */
static int threshold_ok(const struct ev *e, const struct threshold *th, const char *which,
			double v, bool below, struct cond_msg *err)
{
	if (!th->set)
		return 1;
	double limit = th->value;
	if (th->entity) {
		struct mqb_state *st = mqb_states_async_get(e->core, th->entity);
		if (!st)
			return fail(err, C_NUMERIC, "unknown '%s' entity %s", which, th->entity);
		const char *s = mqb_state_value(st);
		int rc = 1;
		json_t *j = json_string(s);
		if (unknown_or_unavailable(s))
			rc = 0;
		else if (!j || !tval__py_float(j, &limit))
			rc = fail(err, C_NUMERIC,
				  "the '%s' entity %s state '%s' cannot be processed as a number",
				  which, th->entity, s);
		json_decref(j);
		mqb_state_unref(st);
		if (rc <= 0)
			return rc;
	}
	return below ? v < limit : v > limit;
}

static int numeric_one(const struct ev *e, const struct mqb_condition *c, size_t i,
		       struct cond_msg *err)
{
	const char *id = c->entities[i];
	struct mqb_state *st = mqb_states_async_get(e->core, id);
	if (!st)
		return fail(err, C_NUMERIC, "unknown entity %s", id);
	int rc = 0;
	json_t *value = NULL;
	if (c->attribute && !json_object_get(mqb_state_attributes(st), c->attribute))
		goto out; /* attribute 'x' of entity y does not exist: false */
	if (c->tpl) {
		/* value_template sees the state as `state` */
		json_t *vars = e->vars ? json_copy((json_t *)e->vars) : json_object();
		json_t *sj = mqb_state_to_json(st);
		if (!vars || !sj || json_object_set_new(vars, "state", sj)) {
			json_decref(vars);
			rc = -ENOMEM;
			goto out;
		}
		struct mqb_tpl_vars tv = tpl_vars_of(e, vars);
		struct mqb_tpl_error te;
		int r = tpl__render_json(c->tpl, &tv, true, &value, &te);
		json_decref(vars);
		if (r) {
			rc = r == -ENOMEM ? r : fail(err, C_NUMERIC, "template error: %s", te.message);
			goto out;
		}
	} else if (c->attribute) {
		value = json_incref(json_object_get(mqb_state_attributes(st), c->attribute));
	} else {
		value = json_string(mqb_state_value(st));
	}
	if (!value) {
		rc = -ENOMEM;
		goto out;
	}
	if (json_is_null(value) ||
	    (json_is_string(value) && unknown_or_unavailable(json_string_value(value))))
		goto out; /* value '...' is non-numeric and treated as False */
	double v;
	if (!tval__py_float(value, &v)) {
		char *t = json_is_string(value) ? NULL : mqb_json_dumps(value, 0);
		rc = fail(err, C_NUMERIC, "entity %s state '%s' cannot be processed as a number", id,
			  t ? t : json_is_string(value) ? json_string_value(value) : "?");
		free(t);
		goto out;
	}
	if ((rc = threshold_ok(e, &c->below, "below", v, true, err)) <= 0)
		goto out;
	rc = threshold_ok(e, &c->above, "above", v, false, err);
out:
	json_decref(value);
	mqb_state_unref(st);
	return rc;
}

static int template_eval(const struct ev *e, const struct mqb_condition *c, struct cond_msg *err)
{
	struct mqb_tpl_vars tv = tpl_vars_of(e, e->vars);
	struct mqb_tpl_error te;
	char *text = NULL;
	size_t len = 0;
	int rc = mqb_template_render(c->tpl, &tv, NULL, &text, &len, &te);
	if (rc) {
		mqb__free(text);
		if (rc == -ENOMEM)
			return rc;
		msg_printf(err, "In 'template' condition: %s", te.message);
		return -EINVAL;
	}
	const char *s = mqb_strip(text, &len);
	rc = len == 4 && strncasecmp(s, "true", 4) == 0;
	mqb__free(text);
	return rc;
}

/* A time condition's bound now: 1 with *secs, 0 when the entity holds no
 * time (false), or an error. */
static int tod_value(const struct ev *e, const struct tod *t, const char *which, double *secs,
		     struct cond_msg *err)
{
	if (!t->entity) {
		*secs = t->seconds;
		return 1;
	}
	struct mqb_state *st = mqb_states_async_get(e->core, t->entity);
	if (!st)
		return fail(err, C_TIME, "unknown '%s' entity %s", which, t->entity);
	int rc = 0;
	const char *s = mqb_state_value(st);
	const json_t *attrs = mqb_state_attributes(st);
	if (strncmp(t->entity, "input_datetime.", 15) == 0) {
		const char *k[] = { "hour", "minute", "second" };
		double part[3] = { 23, 59, 59 };
		for (int i = 0; i < 3; i++) {
			const json_t *v = json_object_get(attrs, k[i]);
			if (v && json_is_number(v))
				part[i] = json_number_value(v);
		}
		*secs = part[0] * 3600 + part[1] * 60 + part[2];
		rc = 1;
	} else if (unknown_or_unavailable(s)) {
		rc = 0;
	} else if (strncmp(t->entity, "time.", 5) == 0) {
		unsigned h, m, sec;
		char tail;
		rc = sscanf(s, "%2u:%2u:%2u%c", &h, &m, &sec, &tail) == 3 && h < 24 && m < 60 &&
		     sec < 60;
		if (rc)
			*secs = h * 3600.0 + m * 60 + sec;
	} else {
		const json_t *dc = json_object_get(attrs, "device_class");
		double ts;
		int32_t off;
		bool aware;
		if (json_is_string(dc) && strcmp(json_string_value(dc), "timestamp") == 0 &&
		    tpl__parse_iso(s, &ts, &off, &aware)) {
			/* as a local time of day; its date is not looked at */
			time_t tt = (time_t)floor(ts);
			struct tm tm;
			localtime_r(&tt, &tm);
			*secs = tm.tm_hour * 3600.0 + tm.tm_min * 60 + tm.tm_sec + (ts - floor(ts));
			rc = 1;
		}
	}
	mqb_state_unref(st);
	return rc;
}

static int time_eval(const struct ev *e, const struct mqb_condition *c, struct cond_msg *err)
{
	time_t tt = (time_t)floor(e->now);
	struct tm tm;
	localtime_r(&tt, &tm);
	double now = tm.tm_hour * 3600.0 + tm.tm_min * 60 + tm.tm_sec + (e->now - floor(e->now));
	double after = 0, before = 86400 - 1e-6;
	int r;
	if (c->after.set && (r = tod_value(e, &c->after, "after", &after, err)) <= 0)
		return r;
	if (c->before.set && (r = tod_value(e, &c->before, "before", &before, err)) <= 0)
		return r;
	if (after < before) {
		if (!(after <= now && now < before))
			return 0;
	} else if (before <= now && now < after) {
		return 0;
	}
	if (c->weekdays) {
		int wd = (tm.tm_wday + 6) % 7; /* Monday first, as Python's weekday() */
		if (!(c->weekdays & (1u << wd)))
			return 0;
	}
	return 1;
}

/* Home Assistant's sun condition: the decision is the sun module's
 * (mqb_sun_condition_test, with the astronomy). */
static int sun_eval(const struct ev *e, const struct mqb_condition *c, struct cond_msg *err)
{
	static const enum mqb_sun_event events[] = { [SUN_RISE] = MQB_SUN_RISING,
						     [SUN_SET] = MQB_SUN_SETTING };
	struct mqb_sun_condition sc = {
		.before = c->sun_before == SUN_NONE ? MQB_SUN_NONE : events[c->sun_before],
		.after = c->sun_after == SUN_NONE ? MQB_SUN_NONE : events[c->sun_after],
	};
	char msg[256];
	struct mqb_tpl_vars tv = tpl_vars_of(e, e->vars);
	if (duration__render(&c->before_offset, &tv, &sc.before_offset, msg, sizeof msg) ||
	    duration__render(&c->after_offset, &tv, &sc.after_offset, msg, sizeof msg))
		return fail(err, C_SUN, "template error: %s", msg);
	return mqb_sun_condition_test(mqb_core_location(e->core), &sc, e->now);
}

static int trigger_eval(const struct ev *e, const struct mqb_condition *c)
{
	const json_t *trig = e->vars ? json_object_get(e->vars, "trigger") : NULL;
	const json_t *id = json_object_get(trig, "id");
	char buf[64], *heap = NULL;
	if (!id || json_is_null(id))
		return 0;
	const char *s = tval__key_text(id, buf, sizeof buf, &heap);
	int rc = 0;
	for (size_t i = 0; s && i < c->nids; i++)
		if (strcmp(c->ids[i], s) == 0)
			rc = 1;
	mqb__free(heap);
	return rc;
}

static int eval(const struct ev *e, const struct mqb_condition *c, struct cond_msg *err)
{
	if (c->disabled)
		return COND_NONE;
	switch (c->type) {
	case C_AND:
	case C_OR:
	case C_NOT:
		return combine(e, c, c->nkids, kid, type_names[c->type], false, err);
	case C_STATE:
		if (!c->nentities)
			return fail(err, C_STATE, "no entity specified");
		return combine(e, c, c->nentities, state_one, "state", c->match_any, err);
	case C_NUMERIC:
		return combine(e, c, c->nentities, numeric_one, "numeric_state", false, err);
	case C_TEMPLATE:
		return template_eval(e, c, err);
	case C_TIME:
		return time_eval(e, c, err);
	case C_SUN:
		return sun_eval(e, c, err);
	case C_TRIGGER:
		return trigger_eval(e, c);
	}
	return -EINVAL;
}

int condition__eval(struct mqb_core *core, const struct mqb_condition *c, const json_t *variables,
		    struct cond_msg *err)
{
	struct ev e = { .core = core, .vars = variables, .now = mqb_async_now(core) };
	return eval(&e, c, err);
}

int mqb_condition_async_test(struct mqb_core *core, const struct mqb_condition *c,
			     const json_t *variables, char *err, size_t errlen)
{
	struct cond_msg m = { 0 };
	int rc = condition__eval(core, c, variables, &m);
	if (rc < 0 && err && errlen)
		snprintf(err, errlen, "%s", m.s ? m.s : mqb_strerror(rc));
	cond_msg__free(&m);
	return rc == COND_NONE ? 1 : rc;
}
