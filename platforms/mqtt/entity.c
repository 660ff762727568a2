/* SPDX-License-Identifier: MIT */
/* The mqtt integration: Home Assistant's MQTT entities, each domain a class
 * (mqtt.h) in a file of its family. This file runs them all: the options
 * every entity has, availability and JSON attributes, the topics a class
 * reads, commands out, naming by Home Assistant's has_entity_name rules,
 * the device an entity belongs to, and the module's descriptor. */
#include "mqtt.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mqbridge/json.h"

/* ---- shared schemas ------------------------------------------------------ */

/* One element of an `availability:` list. */
struct avail_conf {
	const char *topic, *payload_available, *payload_not_available;
	const struct mqb_conf_node *value_template;
};

#define AV(f) MQTT_AT(struct avail_conf, f)
static const struct mqb_schema_key avail_item_keys[] = {
	{.key = "topic", .type = MQB_S_FILTER, .required = true, AV(topic),
	 .doc = "the availability topic (a filter)"},
	{.key = "payload_available", .type = MQB_S_STRING, .def = "online", AV(payload_available),
	 .doc = "the payload that means available"},
	{.key = "payload_not_available", .type = MQB_S_STRING, .def = "offline",
	 AV(payload_not_available), .doc = "the payload that means not available"},
	{.key = "value_template", .type = MQB_S_TEMPLATE, AV(value_template),
	 .doc = "template extracting the availability payload"},
};
static const struct mqb_schema avail_item_schema = MQB_SCHEMA("mqtt availability", avail_item_keys);
static const struct mqb_schema_key avail_list_keys[] = {
	{.key = "item", .type = MQB_S_MAP, .sub = &avail_item_schema},
};
const struct mqb_schema mqtt_avail_list_schema =
	MQB_SCHEMA("mqtt availability list", avail_list_keys);

/* Home Assistant's MQTT device: identifiers or connections, the rest
 * shown in its device registry. */
static const struct mqb_schema_key device_keys[] = {
	{.key = "identifiers", .type = MQB_S_ANY, .doc = "ids (a string or a list)"},
	{.key = "connections", .type = MQB_S_ANY, .doc = "[type, id] pairs"},
	{.key = "manufacturer", .type = MQB_S_STRING, .doc = "manufacturer"},
	{.key = "model", .type = MQB_S_STRING, .doc = "model"},
	{.key = "model_id", .type = MQB_S_STRING, .doc = "model id"},
	{.key = "name", .type = MQB_S_STRING, .doc = "device name"},
	{.key = "hw_version", .type = MQB_S_STRING, .doc = "hardware version"},
	{.key = "sw_version", .type = MQB_S_STRING, .doc = "software version"},
	{.key = "serial_number", .type = MQB_S_STRING, .doc = "serial number"},
	{.key = "via_device", .type = MQB_S_STRING,
	 .doc = "the device it is reached through (default: the bridge)"},
	{.key = "suggested_area", .type = MQB_S_STRING, .doc = "area"},
	{.key = "configuration_url", .type = MQB_S_STRING, .doc = "where to configure it"},
};
const struct mqb_schema mqtt_device_schema = MQB_SCHEMA("mqtt device", device_keys);

static const struct mqb_schema_key origin_keys[] = {
	{.key = "name", .type = MQB_S_STRING, .required = true, .doc = "the software"},
	{.key = "sw_version", .type = MQB_S_STRING, .doc = "its version"},
	{.key = "support_url", .type = MQB_S_STRING, .doc = "where to get help"},
};
const struct mqb_schema mqtt_origin_schema = MQB_SCHEMA("mqtt origin", origin_keys);

static const struct mqb_schema_key string_list_keys[] = {
	{.key = "item", .type = MQB_S_STRING},
};
const struct mqb_schema mqtt_string_list_schema = MQB_SCHEMA("mqtt list", string_list_keys);

const char *const mqtt_avail_modes[] = {"latest", "all", "any", NULL};
const char *const mqtt_categories[] = {"config", "diagnostic", NULL};

/* ---- helpers ------------------------------------------------------------- */

enum sub_kind { S_READ, S_ATTRS, S_AVAIL };

/* One subscription: a handler's user data. */
struct sub {
	struct ent *x;
	enum sub_kind kind;
	size_t index;               /* S_READ: which read; S_AVAIL: which topic */
	const char *topic;
	struct mqb_mqtt_sub *handle;
};

struct mqb_core *mqtt_core(const struct ent *x)
{
	return mqb_platform_core(x->p);
}

const char *mqtt_eid(const struct ent *x)
{
	return x->e ? mqb_entity_id(x->e) : x->path;
}

int mqtt_compile(struct ent *x, const struct mqb_conf_node *n, struct mqb_template **out)
{
	*out = NULL;
	if (!n)
		return 0;
	struct mqb_template **v = realloc(x->owned, (x->nowned + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	x->owned = v;
	int rc = mqb_template_from_conf(n, out);
	if (rc == 0 && *out)
		x->owned[x->nowned++] = *out;
	return rc;
}

void mqtt_ignored(struct ent *x, const char *topic, const char *what, const char *payload)
{
	x->ignored++;
	enum mqb_log_level lvl = x->ignored == 1 ? MQB_LOG_WARNING : MQB_LOG_DEBUG;
	char shown[80];
	size_t n = strlen(payload);
	snprintf(shown, sizeof shown, "%.64s%s", payload, n > 64 ? "..." : "");
	mqb_log(lvl, SUB, "%s: %s on %s: '%s'; the state stays (%llu ignored so far)", mqtt_eid(x),
		what, topic, shown, x->ignored);
}

/* entity_id and name, and extra's names (which win). NULL on ENOMEM. */
static json_t *variables(struct ent *x, const json_t *extra)
{
	if (!x->vars) {
		/* made on the first render that reads them: most never do */
		x->vars = json_pack("{s:s, s:s?}", "entity_id", mqb_entity_id(x->e), "name",
				    mqb_entity_name(x->e));
		if (!x->vars)
			return NULL;
	}
	if (!extra)
		return json_incref(x->vars);
	json_t *v = json_copy(x->vars);
	if (v && json_object_update(v, (json_t *)extra)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

int mqtt_render(struct ent *x, const char *option, const struct mqb_template *t,
		const char *payload, size_t len, const json_t *extra, bool strip, char **out,
		size_t *outlen)
{
	if (!t) {
		char *s = malloc(len + 1);
		if (!s)
			return -ENOMEM;
		memcpy(s, payload, len);
		s[len] = '\0';
		*out = s;
		*outlen = len;
		return 0;
	}
	/* A value template rarely reads entity_id or name: the object holding
	 * them (six allocations, some 500 bytes kept by each of 10,000
	 * sensors under traffic) only for those that do. */
	json_t *vars = NULL;
	if ((mqb_template_uses_name(t, "entity_id") || mqb_template_uses_name(t, "name")) &&
	    !(vars = variables(x, extra)))
		return -ENOMEM;
	struct mqb_tpl_vars v = {.value = payload, .value_len = len,
				 .variables = vars ? vars : extra};
	if (!payload)
		v.value = NULL;
	int rc = mqb_entity_async_render(x->e, option, t, &v, out, outlen);
	json_decref(vars);
	if (rc == 0 && strip) {
		/* Home Assistant strips what a value template renders */
		size_t n = *outlen;
		const char *s = mqb_strip(*out, &n);
		memmove(*out, s, n);
		(*out)[n] = '\0';
		*outlen = n;
	}
	return rc;
}

int mqtt_send(struct ent *x, const char *topic, const char *option,
	      const struct mqb_template *tpl, const char *text, const json_t *value,
	      const json_t *extra)
{
	char *out = NULL;
	size_t len = 0;
	int rc;
	if (tpl && value) {
		/* the value as a variable, so a number stays one */
		json_t *e = extra ? json_copy((json_t *)extra) : json_object();
		if (!e || json_object_set(e, "value", (json_t *)value)) {
			json_decref(e);
			return -ENOMEM;
		}
		rc = mqtt_render(x, option, tpl, NULL, 0, e, false, &out, &len);
		json_decref(e);
	} else {
		rc = mqtt_render(x, option, tpl, text, strlen(text), extra, false, &out, &len);
	}
	if (rc)
		return rc;
	rc = mqb_mqtt_async_publish(mqtt_core(x), topic, out, len, x->com->qos, x->com->retain, NULL);
	if (rc)
		MQB_LOG_WARNING(SUB, "%s: publishing the command to %s failed: %s", mqtt_eid(x),
				topic, mqb_strerror(rc));
	else
		MQB_LOG_DEBUG(SUB, "%s: sent '%.64s' to %s", mqtt_eid(x), out, topic);
	free(out);
	return rc;
}

int mqtt_command(struct ent *x, const char *topic, const char *option,
		 const struct mqb_template *tpl, const char *text, const json_t *value,
		 const json_t *extra, const char *state)
{
	int rc = mqtt_send(x, topic, option, tpl, text, value, extra);
	if (rc == 0 && x->optimistic && state) {
		mqtt_set_state(x, state);
		mqtt_commit(x);
	}
	return rc;
}

bool mqtt_set_state(struct ent *x, const char *state)
{
	if (!x->e) {
		x->initial = state;
		return true;
	}
	return mqb_entity_async_set_state(x->e, state) == 0;
}

bool mqtt_set_moment(struct ent *x)
{
	if (!x->e)
		return false; /* a moment before the entity is: nothing to keep */
	char when[MQB_ISOFORMAT_MAX];
	double t = mqb_async_now(mqtt_core(x));
	mqb_isoformat(t, when);
	/* Home Assistant's utcnow() differs at each moment; the loop's clock
	 * stands still for a pass, and two moments in one (a slow machine
	 * takes a second message before it has published the first) must
	 * still be two changes: the second comes a microsecond later */
	for (int i = 0; i < 4 && strcmp(when, mqtt_state(x)) == 0; i++) {
		t += 1e-6;
		mqb_isoformat(t, when);
	}
	return mqb_entity_async_set_state(x->e, when) == 0;
}

const char *mqtt_state(const struct ent *x)
{
	if (!x->e)
		return x->initial ? x->initial : "unknown";
	return mqb_entity_async_state(x->e);
}

void mqtt_attr(struct ent *x, const char *key, json_t *v)
{
	if (!x->attrs && v && !(x->attrs = json_object())) {
		json_decref(v);
		return;
	}
	if (v)
		json_object_set_new(x->attrs, key, v);
	else if (x->attrs)
		json_object_del(x->attrs, key);
}

bool mqtt_is_none(const char *v)
{
	return strcmp(v, PAYLOAD_NONE) == 0;
}

bool mqtt_on_off(struct ent *x, const char *topic, const char *v, const char *on,
		 const char *off)
{
	if (strcmp(v, on) == 0)
		return mqtt_set_state(x, "on");
	if (strcmp(v, off) == 0)
		return mqtt_set_state(x, "off");
	if (mqtt_is_none(v))
		return mqtt_set_state(x, NULL);
	mqtt_ignored(x, topic, "a payload matching neither on nor off", v);
	return false;
}

bool mqtt_data_number(const json_t *data, const char *key, double *out)
{
	const json_t *v = data ? json_object_get(data, key) : NULL;
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return isfinite(*out);
	}
	if (json_is_string(v))
		return mqtt_parse_number(json_string_value(v), json_string_length(v), out);
	return false;
}

const char *mqtt_data_string(const json_t *data, const char *key)
{
	return data ? json_string_value(json_object_get(data, key)) : NULL;
}

const char **mqtt_strings(const struct mqb_conf_node *list, size_t *n)
{
	*n = 0;
	size_t len = !list ? 0 : mqb_conf_kind(list) == MQB_CONF_SEQ ? mqb_conf_len(list) : 1;
	const char **v = calloc(len ? len : 1, sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		const struct mqb_conf_node *o =
			mqb_conf_kind(list) == MQB_CONF_SEQ ? mqb_conf_item(list, i) : list;
		const char *s = mqb_conf_kind(o) == MQB_CONF_SCALAR ? mqb_conf_string(o, NULL) : NULL;
		if (s)
			v[(*n)++] = s;
	}
	return v;
}

bool mqtt_in(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

json_t *mqtt_json_strings(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

const char *mqtt_number_text(double v, char buf[MQB_NUMBER_MAX])
{
	mqb_format_number(v, buf);
	return buf;
}

void mqtt_errat(struct mqb_conf_errors *errs, const struct mqb_conf_node *item, const char *path,
		const char *key, const char *fmt, ...)
{
	const struct mqb_conf_node *at = mqb_conf_get(item, key);
	char p[512];
	snprintf(p, sizeof p, "%s.%s", path, key);
	va_list ap;
	va_start(ap, fmt);
	mqb_conf_verror_at(errs, at ? at : item, p, fmt, ap);
	va_end(ap);
}

const char *mqtt_nullable(const struct mqb_conf_node *n, const char *def)
{
	if (!n)
		return def;
	if (mqb_conf_kind(n) != MQB_CONF_SCALAR)
		return NULL;
	return mqb_conf_string(n, NULL);
}

void mqtt_check_nullable(const struct mqb_conf_node *n, const struct mqb_conf_node *item,
			 const char *path, const char *key, struct mqb_conf_errors *errs)
{
	if (n && mqb_conf_kind(n) != MQB_CONF_SCALAR && mqb_conf_kind(n) != MQB_CONF_NULL)
		mqtt_errat(errs, item, path, key, "expected a string or null");
}

int mqtt_feature(json_t *d, const char *name, bool on)
{
	if (!on)
		return 0;
	json_t *f = json_object_get(d, "_features");
	if (!f) {
		if (json_object_set_new(d, "_features", json_array()))
			return -1;
		f = json_object_get(d, "_features");
	}
	return json_array_append_new(f, json_string(name));
}

/* ---- the state machine --------------------------------------------------- */

/* The attributes this entity shows: the device's JSON attributes, then the
 * domain's (which win). NULL for none (most sensors: an empty object costs
 * 200 bytes an entity); *nomem on ENOMEM. */
static json_t *attributes(struct ent *x, bool *nomem)
{
	*nomem = false;
	if (!x->json_attrs && !x->attrs && !x->optimistic && !x->cls->attributes)
		return NULL;
	json_t *a = x->json_attrs ? json_deep_copy(x->json_attrs) : json_object();
	int rc = !a;
	if (a && x->attrs)
		rc |= json_object_update(a, x->attrs);
	if (a && x->optimistic)
		rc |= json_object_set_new(a, "assumed_state", json_true());
	if (a && x->cls->attributes)
		rc |= x->cls->attributes(x, a);
	if (rc) {
		json_decref(a);
		*nomem = true;
		return NULL;
	}
	if (json_object_size(a) == 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

void mqtt_commit(struct ent *x)
{
	mqb_entity_async_set_available(x->e, mqtt_avail_ok(&x->avail) && !x->expired);
	bool nomem;
	json_t *a = attributes(x, &nomem);
	if (!nomem)
		mqb_entity_async_set_attributes(x->e, a);
	else
		MQB_LOG_WARNING(SUB, "%s: out of memory building the attributes", mqtt_eid(x));
	mqb_entity_async_write(x->e);
}

static void expire_cb(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct ent *x = ud;
	if (x->expired)
		return;
	MQB_LOG_DEBUG(SUB, "%s: no message for %u s: unavailable", mqtt_eid(x),
		      x->com->expire_after);
	x->expired = true;
	mqtt_commit(x);
}

/* Every message on a state topic restarts the clock; true when that made
 * an expired entity available again. */
static bool restart_expiry(struct ent *x)
{
	if (!x->expire)
		return false;
	mqb_async_timer_rearm(x->expire, x->com->expire_after);
	bool was = x->expired;
	x->expired = false;
	return was;
}

/* ---- what devices send --------------------------------------------------- */

static const char *field_str(const void *conf, size_t off)
{
	const char *s;
	memcpy(&s, (const char *)conf + off, sizeof s);
	return s;
}

static const struct mqb_conf_node *field_node(const void *conf, size_t off)
{
	const struct mqb_conf_node *n;
	memcpy(&n, (const char *)conf + off, sizeof n);
	return n;
}

/* The message a read's value callback is handed the rendered value of
 * (loop thread only; NULL outside one): a device trigger passes it on as
 * Home Assistant's mqtt trigger data does. */
static struct {
	const char *payload;
	size_t len;
} reading;

const char *mqtt_read_payload(size_t *len)
{
	*len = reading.len;
	return reading.payload;
}

static void on_read(struct ent *x, size_t i, const char *topic, const char *payload, size_t len)
{
	const struct mqtt_read *r = &x->reads[i];
	bool changed = (r->flags & MQTT_READ_STATE) && restart_expiry(x);
	if (mqtt_payload_has_nul(payload, len)) {
		mqtt_ignored(x, topic, "a payload holding a NUL byte", "(binary)");
		if (changed)
			mqtt_commit(x);
		return;
	}
	const struct mqb_template *t = x->read_tpls[i];
	char *v = NULL;
	size_t vlen = 0;
	const char *option = r->tpl_key ? r->tpl_key : "value_template";
	if (mqtt_render(x, option, t, payload, len, NULL, t != NULL, &v, &vlen)) {
		if (changed)
			mqtt_commit(x);
		return;
	}
	bool took = false;
	if (vlen == 0 && !(r->flags & MQTT_READ_EMPTY))
		/* an empty value changes nothing (published as a retained state
		 * it would even delete it) */
		MQB_LOG_DEBUG(SUB, "%s: empty value on %s ignored", mqtt_eid(x), topic);
	else {
		reading.payload = payload;
		reading.len = len;
		took = r->value(x, topic, v, vlen);
		reading.payload = NULL;
	}
	free(v);
	if (took || changed)
		mqtt_commit(x);
}

static void on_attributes(struct ent *x, const char *topic, const char *payload, size_t len)
{
	char *v = NULL;
	size_t vlen = 0;
	if (mqtt_render(x, "json_attributes_template", x->attr_tpl, payload, len, NULL, true, &v,
			&vlen))
		return;
	json_t *a = NULL;
	char why[160];
	int rc = mqtt_json_attributes(v, vlen, &a, why, sizeof why);
	free(v);
	if (rc == -EINVAL) {
		mqtt_ignored(x, topic, "JSON attributes that are no object", why);
		return;
	}
	if (rc)
		return;
	json_decref(x->json_attrs);
	x->json_attrs = a;
	mqtt_commit(x);
}

static void on_availability(struct ent *x, size_t i, const char *payload, size_t len)
{
	struct avail_topic *at = &x->av[i];
	char *v = NULL;
	size_t vlen = 0;
	const char *opt = x->com->availability ? "availability.value_template"
					       : "availability_template";
	if (mqtt_render(x, opt, at->tpl, payload, len, NULL, true, &v, &vlen))
		return;
	bool before = mqtt_avail_ok(&x->avail);
	if (strcmp(v, at->on) == 0)
		mqtt_avail_set(&x->avail, i, true);
	else if (strcmp(v, at->off) == 0)
		mqtt_avail_set(&x->avail, i, false);
	else
		MQB_LOG_DEBUG(SUB, "%s: availability payload '%.64s' on %s ignored", mqtt_eid(x), v,
			      at->topic);
	free(v);
	if (mqtt_avail_ok(&x->avail) != before) {
		MQB_LOG_DEBUG(SUB, "%s: %s", mqtt_eid(x),
			      mqtt_avail_ok(&x->avail) ? "available" : "not available");
		mqtt_commit(x);
	}
}

/* Every subscription's handler: a CALLBACK on the loop. */
static int on_message(void *ud, void *arg, void **result)
{
	(void)result;
	struct sub *s = ud;
	struct ent *x = s->x;
	const struct mqb_mqtt_message *m = arg;
	const char *topic = mqb_mqtt_message_topic(m);
	const char *payload = mqb_mqtt_message_payload(m);
	size_t len = mqb_mqtt_message_len(m);
	if (!x->e)
		return 0;
	if (s->kind != S_READ && mqtt_payload_has_nul(payload, len)) {
		mqtt_ignored(x, topic, "a payload holding a NUL byte", "(binary)");
		return 0;
	}
	switch (s->kind) {
	case S_READ:
		on_read(x, s->index, topic, payload, len);
		break;
	case S_ATTRS:
		on_attributes(x, topic, payload, len);
		break;
	case S_AVAIL:
		on_availability(x, s->index, payload, len);
		break;
	}
	return 0;
}

/* ---- commands ------------------------------------------------------------ */

static int async_command(struct mqb_entity *e, void *priv, const char *service,
			 const json_t *data)
{
	struct ent *x = priv;
	x->e = e;
	return x->cls->command ? x->cls->command(x, service, data) : -ENOTSUP;
}

/* ---- life cycle ---------------------------------------------------------- */

static int subscribe(struct ent *x, enum sub_kind kind, size_t index, const char *topic)
{
	struct sub *s = &x->subs[x->nsubs];
	*s = (struct sub){.x = x, .kind = kind, .index = index, .topic = topic};
	struct mqb_job job = MQB_CALLBACK(on_message, s);
	int rc = mqb_mqtt_async_subscribe(mqtt_core(x), topic, x->com->qos, &job, &s->handle);
	if (rc) {
		MQB_LOG_ERROR(SUB, "%s: subscribing to %s failed: %s", mqtt_eid(x), topic,
			      mqb_strerror(rc));
		return rc;
	}
	x->nsubs++;
	return 0;
}

static int async_added(struct mqb_entity *e, void *priv)
{
	struct ent *x = priv;
	const struct mqtt_common *c = x->com;
	x->e = e;
	if (c->expire_after) {
		if (mqb_async_timer_new(mqtt_core(x), expire_cb, x, &x->expire))
			return -ENOMEM;
		/* unavailable until the first message (DESIGN §7) */
		x->expired = true;
	}
	mqb_entity_async_set_available(e, mqtt_avail_ok(&x->avail) && !x->expired);
	bool nomem;
	json_t *a = attributes(x, &nomem);
	if (nomem)
		return -ENOMEM;
	mqb_entity_async_set_attributes(e, a);
	int rc = 0;
	for (size_t i = 0; i < x->avail.n && !rc; i++)
		rc = subscribe(x, S_AVAIL, i, x->av[i].topic);
	if (!rc && c->json_attributes_topic)
		rc = subscribe(x, S_ATTRS, 0, c->json_attributes_topic);
	/* the state topic last: a retained state arrives after what it needs */
	for (size_t pass = 0; pass < 2 && !rc; pass++)
		for (size_t i = 0; i < x->nreads && !rc; i++) {
			const struct mqtt_read *r = &x->reads[i];
			const char *t = field_str(x->conf, r->topic_off);
			bool state = strcmp(r->topic_key, "state_topic") == 0;
			if (t && state == (pass == 1))
				rc = subscribe(x, S_READ, i, t);
		}
	return rc;
}

static void async_will_remove(struct mqb_entity *e, void *priv)
{
	(void)e;
	struct ent *x = priv;
	for (size_t i = 0; i < x->nsubs; i++)
		mqb_mqtt_async_unsubscribe(mqtt_core(x), x->subs[i].handle);
	x->nsubs = 0;
	mqb_async_timer_stop(x->expire);
	if (x->cls->fini)
		x->cls->fini(x);
}

static void ent_free(void *priv)
{
	struct ent *x = priv;
	if (!x)
		return;
	mqb_async_timer_cancel(x->expire);
	for (size_t i = 0; i < x->nowned; i++)
		mqb_template_free(x->owned[i]);
	free(x->owned);
	mqtt_avail_fini(&x->avail);
	free(x->av);
	free(x->subs);
	json_decref(x->vars);
	json_decref(x->json_attrs);
	json_decref(x->attrs);
	free(x->priv);
	free(x);
}

/* Sensors and binary sensors, and covers without a command topic, take no
 * commands: without async_command the bridge subscribes no /set topic. */
static const struct mqb_entity_ops ro_ops = {
	.async_added = async_added,
	.async_will_remove = async_will_remove,
	.free = ent_free,
};
static const struct mqb_entity_ops rw_ops = {
	.async_added = async_added,
	.async_will_remove = async_will_remove,
	.async_command = async_command,
	.free = ent_free,
};

/* ---- setup --------------------------------------------------------------- */

static int setup_availability(struct ent *x, const char *path)
{
	const struct mqtt_common *c = x->com;
	size_t n = 0;
	const struct mqb_conf_node *list = c->availability;
	if (c->availability_topic)
		n = 1;
	else if (list)
		n = mqb_conf_kind(list) == MQB_CONF_SEQ ? mqb_conf_len(list) : 1;
	if (mqtt_avail_init(&x->avail, mqtt_avail_mode_parse(c->availability_mode), n))
		return -ENOMEM;
	if (!n)
		return 0;
	if (!(x->av = calloc(n, sizeof *x->av)))
		return -ENOMEM;
	if (c->availability_topic) {
		x->av[0] = (struct avail_topic){c->availability_topic, c->payload_available,
						c->payload_not_available, NULL};
		return mqtt_compile(x, c->availability_template, &x->av[0].tpl);
	}
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *item =
			mqb_conf_kind(list) == MQB_CONF_SEQ ? mqb_conf_item(list, i) : list;
		struct avail_conf ac = {0};
		struct mqb_conf_errors errs;
		mqb_conf_errors_init(&errs);
		/* checked when the configuration loaded: this only fills ac */
		size_t bad = mqb_schema_apply(&avail_item_schema, item, path, &ac, &errs);
		mqb_conf_errors_fini(&errs);
		if (bad)
			return -EINVAL;
		x->av[i] = (struct avail_topic){ac.topic, ac.payload_available,
						ac.payload_not_available, NULL};
		int rc = mqtt_compile(x, ac.value_template, &x->av[i].tpl);
		if (rc)
			return rc;
	}
	return 0;
}

/* The subscriptions' slots (availability, attributes, reads) and the
 * reads' templates in one allocation, x->subs's. */
static int setup_reads(struct ent *x)
{
	size_t nsubs = x->avail.n + !!x->com->json_attributes_topic + x->nreads;
	if (nsubs) {
		if (!(x->subs = calloc(1, nsubs * sizeof *x->subs +
					      x->nreads * sizeof *x->read_tpls)))
			return -ENOMEM;
		x->read_tpls = (void *)(x->subs + nsubs);
	}
	for (size_t i = 0; i < x->nreads; i++) {
		const struct mqtt_read *r = &x->reads[i];
		if (!r->tpl_key)
			continue;
		const struct mqb_conf_node *n = field_node(x->conf, r->tpl_off);
		if (!n && r->fallback_off)
			n = field_node(x->conf, r->fallback_off);
		int rc = mqtt_compile(x, n, &x->read_tpls[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* Home Assistant's English name of a device class, which names an entity
 * that has none (_default_to_device_class_name). */
static const char *class_name(const char *dc, char *buf, size_t len)
{
	static const char *const special[][2] = {
		{"pm1", "PM1"}, {"pm25", "PM2.5"}, {"pm4", "PM4"}, {"pm10", "PM10"},
		{"aqi", "Air quality index"}, {"ph", "pH"}, {"battery_charging", "Charging"},
		{"volatile_organic_compounds", "VOCs"},
		{"volatile_organic_compounds_parts", "VOCs"}, {"carbon_dioxide", "Carbon dioxide"},
		{"carbon_monoxide", "Carbon monoxide"},
	};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(special); i++)
		if (strcmp(dc, special[i][0]) == 0)
			return special[i][1];
	snprintf(buf, len, "%s", dc);
	for (char *c = buf; *c; c++)
		if (*c == '_')
			*c = ' ';
	buf[0] = (char)toupper((unsigned char)buf[0]);
	return buf;
}

static void set_opt(json_t *o, const char *k, const struct mqb_conf_node *dev)
{
	const struct mqb_conf_node *n = mqb_conf_get(dev, k);
	if (n && mqb_conf_kind(n) == MQB_CONF_SCALAR)
		json_object_set_new(o, k, json_string(mqb_conf_string(n, NULL)));
}

/* The entity's own device as Home Assistant's discovery writes it, reached
 * through the bridge unless it says otherwise. NULL on ENOMEM. */
static json_t *device_json(struct ent *x)
{
	const struct mqb_conf_node *dev = x->com->device;
	json_t *d = json_object();
	if (!d)
		return NULL;
	const struct mqb_conf_node *ids = mqb_conf_get(dev, "identifiers");
	if (ids) {
		size_t n;
		const char **v = mqtt_strings(ids, &n);
		json_object_set_new(d, "identifiers", v ? mqtt_json_strings(v, n) : NULL);
		free(v);
	}
	const struct mqb_conf_node *cns = mqb_conf_get(dev, "connections");
	if (cns) {
		json_t *a = mqb_conf_to_json(cns);
		/* a pair each, as text */
		size_t i;
		json_t *pair;
		json_array_foreach(a, i, pair) {
			size_t j;
			json_t *v;
			json_array_foreach(pair, j, v)
				if (!json_is_string(v)) {
					char *s = mqb_json_dumps(v, 0);
					json_array_set_new(pair, j, json_string(s ? s : ""));
					free(s);
				}
		}
		json_object_set_new(d, "connections", a);
	}
	static const char *const keys[] = {"manufacturer", "model",         "model_id",
					   "name",         "hw_version",    "sw_version",
					   "serial_number", "suggested_area", "configuration_url"};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(keys); i++)
		set_opt(d, keys[i], dev);
	set_opt(d, "via_device", dev);
	if (!json_object_get(d, "via_device"))
		json_object_set_new(d, "via_device", json_string(mqb_platform_node_id(x->p)));
	return d;
}

/* Keys every entity adds to the bridge's discovery payload, then the
 * class's. NULL on ENOMEM. */
static json_t *discovery(struct ent *x, const char *own_name, bool name_null)
{
	const struct mqtt_common *c = x->com;
	json_t *d = json_object();
	if (!d)
		return NULL;
	int rc = 0;
	if (!c->enabled_by_default)
		rc |= json_object_set_new(d, "enabled_by_default", json_false());
	if (c->entity_picture)
		rc |= json_object_set_new(d, "entity_picture", json_string(c->entity_picture));
	if (c->device) {
		/* announced under its own device, named as Home Assistant names
		 * it there: the device's name, then its own */
		rc |= json_object_set_new(d, "device", device_json(x));
		rc |= json_object_set_new(d, "name", name_null || !own_name ? json_null()
									 : json_string(own_name));
	}
	if (x->cls->discovery)
		rc |= x->cls->discovery(x, d);
	if (rc) {
		json_decref(d);
		return NULL;
	}
	return d;
}

static const struct mqtt_class *const classes[] = {
	&mqtt_sensor,      &mqtt_binary_sensor, &mqtt_switch,      &mqtt_light,
	&mqtt_cover,       &mqtt_button,        &mqtt_number,      &mqtt_select,
	&mqtt_text,        &mqtt_scene,         &mqtt_notify,      &mqtt_event,
	&mqtt_update,      &mqtt_device_tracker, &mqtt_valve,      &mqtt_climate,
	&mqtt_water_heater, &mqtt_humidifier,   &mqtt_fan,         &mqtt_lock,
	&mqtt_siren,       &mqtt_alarm,         &mqtt_vacuum,      &mqtt_lawn_mower,
	&mqtt_device_automation,
};

static const struct mqtt_class *class_of(const char *domain)
{
	for (size_t i = 0; i < MQB_ARRAY_SIZE(classes); i++)
		if (strcmp(classes[i]->domain, domain) == 0)
			return classes[i];
	return NULL;
}

static int setup(struct mqb_platform *p, const void *conf, const char *path)
{
	const char *domain = mqb_platform_domain(p);
	const struct mqtt_class *cls = class_of(domain);
	if (!cls)
		return -EINVAL;
	const struct mqtt_common *c = conf;
	struct ent *x = calloc(1, sizeof *x);
	if (!x)
		return -ENOMEM;
	x->path = path ? path : domain;
	x->cls = cls;
	x->conf = conf;
	x->com = c;
	x->p = p;
	x->reads = cls->reads;
	x->nreads = (uint32_t)cls->nreads;
	json_t *disc = NULL;
	char *friendly = NULL;
	int rc = -ENOMEM;
	if (cls->priv_size && !(x->priv = calloc(1, cls->priv_size)))
		goto fail;
	if ((rc = mqtt_compile(x, c->json_attributes_template, &x->attr_tpl)) ||
	    (rc = setup_availability(x, path)) || (cls->init && (rc = cls->init(x))) ||
	    (rc = setup_reads(x)))
		goto fail;
	rc = -ENOMEM;

	/* Home Assistant's naming (MQTT entities have has_entity_name): the
	 * name given, null for the device's own, else the default or the
	 * device class's; under a device of its own the friendly name is the
	 * device's name and then its own */
	char cbuf[64];
	bool name_null = c->name && mqb_conf_kind(c->name) == MQB_CONF_NULL;
	const char *name = c->name && !name_null ? mqb_conf_string(c->name, NULL) : NULL;
	if (!c->name)
		name = cls->name_from_device_class && c->device_class &&
				       strcmp(c->device_class, "enum") != 0
			       ? class_name(c->device_class, cbuf, sizeof cbuf)
			       : cls->default_name;
	const char *dev_name = c->device ? mqtt_nullable(mqb_conf_get(c->device, "name"), NULL)
					 : mqb_platform_node_name(p);
	if (name_null || !name)
		friendly = strdup(dev_name ? dev_name : cls->default_name);
	else if (c->device && dev_name && (friendly = malloc(strlen(dev_name) + strlen(name) + 2)))
		sprintf(friendly, "%s %s", dev_name, name);
	else
		friendly = strdup(name);
	if (!friendly || !(disc = discovery(x, name, name_null)))
		goto fail;
	const char *object_id = c->object_id;
	char obuf[128];
	if (!object_id && c->default_entity_id) {
		const char *dot = strchr(c->default_entity_id, '.');
		object_id = dot ? dot + 1 : c->default_entity_id;
	}
	if (!object_id && cls->object_id)
		object_id = cls->object_id(x, obuf, sizeof obuf);
	struct mqb_entity_info info = {
		.name = friendly,
		.object_id = object_id,
		.unique_id = c->unique_id,
		.icon = c->icon,
		.device_class = c->device_class,
		.state_class = c->state_class,
		.unit_of_measurement = c->unit_of_measurement,
		.entity_category = c->entity_category,
		.force_update = c->force_update || cls->force_update,
		.discovery = disc,
		.state = x->initial,
		.unavailable = x->avail.n > 0 || c->expire_after > 0,
	};
	bool rw = cls->command && (!cls->commands || cls->commands(x));
	/* the entity owns x from here, even when adding fails */
	rc = mqb_platform_async_add_entity(p, &info, rw ? &rw_ops : &ro_ops, x, NULL);
	json_decref(disc);
	free(friendly);
	if (rc)
		MQB_LOG_ERROR(SUB, "%s: adding the entity failed: %s", path, mqb_strerror(rc));
	return rc;
fail:
	MQB_LOG_ERROR(SUB, "%s: %s", path, mqb_strerror(rc));
	json_decref(disc);
	free(friendly);
	if (cls->fini && x->priv)
		cls->fini(x);
	ent_free(x);
	return rc;
}

/* ---- checks -------------------------------------------------------------- */

static void check_device(const struct mqb_conf_node *dev, const struct mqb_conf_node *item,
			 const char *path, struct mqb_conf_errors *errs)
{
	char p[512];
	snprintf(p, sizeof p, "%s.device", path);
	const struct mqb_conf_node *ids = mqb_conf_get(dev, "identifiers");
	const struct mqb_conf_node *cns = mqb_conf_get(dev, "connections");
	if (!ids && !cns)
		mqb_conf_error_at(errs, mqb_conf_get(item, "device"), p,
				  "a device needs identifiers or connections");
	if (ids && mqb_conf_kind(ids) != MQB_CONF_SCALAR &&
	    !(mqb_conf_kind(ids) == MQB_CONF_SEQ && mqb_conf_len(ids) > 0))
		mqtt_errat(errs, dev, p, "identifiers", "expected a string or a list of strings");
	for (size_t i = 0; ids && mqb_conf_kind(ids) == MQB_CONF_SEQ && i < mqb_conf_len(ids); i++)
		if (mqb_conf_kind(mqb_conf_item(ids, i)) != MQB_CONF_SCALAR)
			mqtt_errat(errs, dev, p, "identifiers", "expected a list of strings");
	bool pairs = cns && mqb_conf_kind(cns) == MQB_CONF_SEQ;
	for (size_t i = 0; pairs && i < mqb_conf_len(cns); i++) {
		const struct mqb_conf_node *pr = mqb_conf_item(cns, i);
		pairs = mqb_conf_kind(pr) == MQB_CONF_SEQ && mqb_conf_len(pr) == 2 &&
			mqb_conf_kind(mqb_conf_item(pr, 0)) == MQB_CONF_SCALAR &&
			mqb_conf_kind(mqb_conf_item(pr, 1)) == MQB_CONF_SCALAR;
	}
	if (cns && !pairs)
		mqtt_errat(errs, dev, p, "connections",
			   "expected a list of [type, id] pairs, such as [[mac, 02:5b:26:a8:dc:12]]");
}

static void check_entity(const struct mqtt_class *cls, const void *conf,
			 const struct mqb_conf_node *item, const char *path,
			 struct mqb_conf_errors *errs)
{
	const struct mqtt_common *c = conf;
	if (mqb_conf_kind(item) != MQB_CONF_MAP)
		return;
	if (c->name && mqb_conf_kind(c->name) != MQB_CONF_SCALAR &&
	    mqb_conf_kind(c->name) != MQB_CONF_NULL)
		mqtt_errat(errs, item, path, "name", "expected a string or null");
	if (c->availability_topic && c->availability)
		mqtt_errat(errs, item, path, "availability",
			   "use either availability_topic or availability, not both");
	if (c->encoding && *c->encoding && strcasecmp(c->encoding, "utf-8") != 0 &&
	    strcasecmp(c->encoding, "utf8") != 0)
		mqtt_errat(errs, item, path, "encoding", "only utf-8 is supported, got '%s'",
			   c->encoding);
	if (c->default_entity_id) {
		const char *dot = strchr(c->default_entity_id, '.');
		if (dot && !dot[1])
			mqtt_errat(errs, item, path, "default_entity_id", "'%s' has no object id",
				   c->default_entity_id);
	}
	/* a device and an origin are mappings of their own schema, kept as
	 * their nodes (the discovery copies them) */
	const struct {
		const char *key;
		const struct mqb_conf_node *n;
		const struct mqb_schema *schema;
	} maps[] = {{"device", c->device, &mqtt_device_schema},
		    {"origin", c->origin, &mqtt_origin_schema}};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(maps); i++) {
		char p[512];
		if (!maps[i].n)
			continue;
		snprintf(p, sizeof p, "%s.%s", path, maps[i].key);
		if (mqb_conf_kind(maps[i].n) != MQB_CONF_MAP)
			mqb_conf_error_at(errs, maps[i].n, p, "expected a mapping");
		else if (mqb_schema_apply(maps[i].schema, maps[i].n, p, NULL, errs) == 0 &&
			 maps[i].n == c->device)
			check_device(c->device, item, path, errs);
	}
	struct mqb_entity_info info = {
		.icon = c->icon,
		.device_class = c->device_class,
		.state_class = c->state_class,
		.unit_of_measurement = c->unit_of_measurement,
		.entity_category = c->entity_category,
	};
	mqb_entity_info_check(cls->domain, &info, item, path, errs);
	if (cls->check)
		cls->check(conf, item, path, errs);
}

#define CHECK(name) \
	static void check_##name(const void *conf, const struct mqb_conf_node *item, \
				 const char *path, struct mqb_conf_errors *errs) \
	{ \
		check_entity(&mqtt_##name, conf, item, path, errs); \
	}
CHECK(sensor)
CHECK(binary_sensor)
CHECK(switch)
CHECK(light)
CHECK(cover)
CHECK(button)
CHECK(number)
CHECK(select)
CHECK(text)
CHECK(scene)
CHECK(notify)
CHECK(event)
CHECK(update)
CHECK(device_tracker)
CHECK(valve)
CHECK(climate)
CHECK(water_heater)
CHECK(humidifier)
CHECK(fan)
CHECK(lock)
CHECK(siren)
CHECK(alarm)
CHECK(vacuum)
CHECK(lawn_mower)
CHECK(device_automation)

/* camera and image carry binary payloads (a picture, not a state): the
 * bridge has nowhere to put them, so they are refused by name. */
#define PICTURE_KEY(k) {.key = k, .type = MQB_S_ANY, .doc = "refused with the rest"}
static const struct mqb_schema_key binary_keys[] = {
	MQTT_COMMON_KEYS(struct notify_conf),
	PICTURE_KEY("topic"),        PICTURE_KEY("image_topic"),   PICTURE_KEY("url_topic"),
	PICTURE_KEY("url_template"), PICTURE_KEY("image_encoding"), PICTURE_KEY("content_type"),
};
static const struct mqb_schema binary_schema = MQB_SCHEMA("mqtt camera", binary_keys);

static void check_binary_payload(const void *conf, const struct mqb_conf_node *item,
				 const char *path, struct mqb_conf_errors *errs)
{
	(void)conf;
	mqb_conf_error_at(errs, item, path,
			  "MQTT cameras and images carry pictures, not states, and mqbridge does "
			  "not bridge them; configure them in Home Assistant itself");
}

static int setup_refused(struct mqb_platform *p, const void *conf, const char *path)
{
	(void)p, (void)conf, (void)path;
	return -ENOTSUP;
}

/* ---- the descriptor ------------------------------------------------------ */

#define D(name, conf) \
	{.domain = #name, .schema = &mqtt_##name##_schema, .conf_size = sizeof(struct conf), \
	 .check = check_##name, .async_setup_platform = setup}

static const struct mqb_platform_domain domains[] = {
	D(sensor, sensor_conf),
	D(binary_sensor, binary_sensor_conf),
	D(switch, switch_conf),
	D(light, light_conf),
	D(cover, cover_conf),
	D(button, button_conf),
	D(number, number_conf),
	D(select, select_conf),
	D(text, text_conf),
	D(scene, scene_conf),
	D(notify, notify_conf),
	D(event, event_conf),
	D(update, update_conf),
	D(device_tracker, device_tracker_conf),
	D(valve, valve_conf),
	D(climate, climate_conf),
	D(water_heater, climate_conf),
	D(humidifier, humidifier_conf),
	D(fan, fan_conf),
	D(lock, lock_conf),
	D(siren, siren_conf),
	{.domain = "alarm_control_panel", .schema = &mqtt_alarm_schema,
	 .conf_size = sizeof(struct alarm_conf), .check = check_alarm,
	 .async_setup_platform = setup},
	D(vacuum, vacuum_conf),
	D(lawn_mower, lawn_mower_conf),
	D(device_automation, device_automation_conf),
	{.domain = "camera", .schema = &binary_schema, .conf_size = sizeof(struct notify_conf),
	 .check = check_binary_payload, .async_setup_platform = setup_refused},
	{.domain = "image", .schema = &binary_schema, .conf_size = sizeof(struct notify_conf),
	 .check = check_binary_payload, .async_setup_platform = setup_refused},
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = "mqtt",
	.domains = domains,
	.ndomains = MQB_ARRAY_SIZE(domains),
};
