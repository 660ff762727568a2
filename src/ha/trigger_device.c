/* SPDX-License-Identifier: MIT */
/* The device trigger (`platform: device`, Home Assistant's
 * components/mqtt/device_trigger.py): an automation on one of the MQTT
 * device triggers the configuration declares (mqtt: device_automation:),
 * found by its discovery id as Home Assistant finds it, and fired with
 * what Home Assistant's mqtt trigger gives. Other integrations' device
 * triggers cannot exist here and are refused at load. */
#include "lib/internal.h"

#include <errno.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/entity.h"
#include "mqbridge/states.h"

#include "ha/cv.h"
#include "ha/entity_impl.h"
#include "ha/trigger_impl.h"

#define SUB "trigger"
#define DOMAIN_PREFIX "device_automation."

struct conf {
	char *device_id, *discovery_id, *type, *subtype;
};

/* DEVICE_TRIGGER_BASE_SCHEMA and the mqtt one's keys. */
static const char *const keys[] = {"domain",  "device_id", "discovery_id", "type",
				   "subtype", "metadata",  NULL};

static void conf_free(void *p)
{
	struct conf *c = p;
	if (!c)
		return;
	mqb__free(c->device_id);
	mqb__free(c->discovery_id);
	mqb__free(c->type);
	mqb__free(c->subtype);
	mqb__free(c);
}

static size_t compile(const struct mqb_conf_node *node, const char *path,
		      struct mqb_conf_errors *errs, void **priv)
{
	char p[CV_PATH_MAX];
	size_t found = 0;
	const struct mqb_conf_node *domain = cv__required(node, "domain", path, errs, &found);
	const char *d = cv__text(domain);
	if (domain && (!d || strcmp(d, "mqtt") != 0)) {
		/* Home Assistant finds the integration by this name; the only
		 * one with device triggers here is mqtt */
		mqb_conf_error_at(errs, domain, cv__path(p, path, ".domain"),
				  "device triggers of %s are not available in mqbridge: only MQTT "
				  "device triggers (domain: mqtt) are",
				  d ? d : "that domain");
		return found + 1;
	}
	struct conf *c = mqb__calloc(1, sizeof *c);
	if (!c) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	static const char *const required[] = {"device_id", "discovery_id", "type", "subtype"};
	char **out[] = {&c->device_id, &c->discovery_id, &c->type, &c->subtype};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(required); i++) {
		const struct mqb_conf_node *n = cv__required(node, required[i], path, errs, &found);
		if (n)
			found += cv__strdup(n, cv__path(p, path, ".%s", required[i]), errs, out[i]);
	}
	const struct mqb_conf_node *meta = mqb_conf_get(node, "metadata");
	if (meta && mqb_conf_kind(meta) != MQB_CONF_MAP) {
		mqb_conf_error_at(errs, meta, cv__path(p, path, ".metadata"),
				  "expected a dictionary");
		found++;
	}
	if (found)
		conf_free(c);
	else
		*priv = c;
	return found;
}

struct run {
	struct trig_run *r;
	struct mqb_listener *changes, *start;
};

static bool json_has_string(const json_t *a, const char *s)
{
	size_t i;
	const json_t *v;
	json_array_foreach(a, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
		/* a connection: [type, id] */
		if (json_is_array(v) && json_has_string(v, s))
			return true;
	}
	return false;
}

static bool same(const json_t *d, const char *key, const char *want)
{
	const char *s = json_string_value(json_object_get(d, key));
	return s && strcmp(s, want) == 0;
}

/* Whether e is the device trigger c names. Home Assistant knows a
 * trigger by its discovery id (what it was announced as: "<node_id>
 * <object_id>"); the object id alone and the unique id name it too. A
 * device id from Home Assistant's registry means nothing here, so
 * without a discovery id that matches, the device's identifier, a
 * connection or its name stands for it, with the type and subtype. */
static bool is_named(struct mqb_core *core, struct mqb_entity *e, const struct conf *c)
{
	if (strcmp(mqb_entity_domain(e), "device_automation") != 0)
		return false;
	const struct entity_meta *m = entity__meta(e);
	const char *oid = mqb_entity_object_id(e);
	const char *node = entities__node_id(core);
	size_t nn = strlen(node);
	const char *id = c->discovery_id;
	if (strcmp(id, oid) == 0 || (m->unique_id && strcmp(id, m->unique_id) == 0) ||
	    (strncmp(id, node, nn) == 0 && (id[nn] == ' ' || id[nn] == '_') &&
	     strcmp(id + nn + 1, oid) == 0))
		return true;
	const json_t *d = m->discovery;
	if (!same(d, "type", c->type) || !same(d, "subtype", c->subtype))
		return false;
	const json_t *dev = json_object_get(d, "device");
	return json_has_string(json_object_get(dev, "identifiers"), c->device_id) ||
	       json_has_string(json_object_get(dev, "connections"), c->device_id) ||
	       same(dev, "name", c->device_id);
}

static int on_change(void *ud, void *arg, void **result)
{
	(void)result;
	struct run *run = ud;
	struct trig_run *r = run->r;
	const struct mqb_event *ev = arg;
	const char *eid = mqb_event_entity_id(ev);
	const struct mqb_state *ns = mqb_event_new_state(ev);
	if (!eid || !ns || strncmp(eid, DOMAIN_PREFIX, strlen(DOMAIN_PREFIX)) != 0)
		return 0;
	const char *v = mqb_state_value(ns);
	if (strcmp(v, "unknown") == 0 || strcmp(v, "unavailable") == 0)
		return 0;
	struct mqb_entity *e = mqb_entities_async_find(r->a->core, eid);
	if (!e || !is_named(r->a->core, e, r->t->priv))
		return 0;
	trigger__enter(r);
	/* Home Assistant attaches an mqtt trigger to the device's topic: its
	 * data is that trigger's */
	const json_t *a = mqb_state_attributes(ns);
	const char *topic = json_string_value(json_object_get(a, "topic"));
	const char *payload = json_string_value(json_object_get(a, "payload"));
	json_t *data = trigger__mqtt_data(topic ? topic : "", payload,
					  payload ? strlen(payload) : 0,
					  (int)json_integer_value(json_object_get(a, "qos")));
	/* its platform is that trigger's */
	if (data && json_object_set_new(data, "platform", json_string("mqtt"))) {
		json_decref(data);
		data = NULL;
	}
	if (data)
		trigger__fire(r, data);
	else
		MQB_LOG_ERROR(SUB, "%s: out of memory", trigger__name(r));
	trigger__leave(r);
	return 0;
}

/* Once every integration is set up: a trigger that names none of the
 * configuration's is said once (Home Assistant waits silently for its
 * discovery, which here would never come). */
static int check_named(void *ud, void *arg, void **result)
{
	(void)arg, (void)result;
	struct run *run = ud;
	struct trig_run *r = run->r;
	struct mqb_core *core = r->a->core;
	const struct conf *c = r->t->priv;
	run->start = NULL;
	size_t n = mqb_entities_async_count(core);
	for (size_t i = 0; i < n; i++)
		if (is_named(core, mqb_entities_async_get(core, i), c))
			return 0;
	MQB_LOG_WARNING(SUB,
			"%s: no MQTT device trigger of the configuration has discovery id '%s', "
			"nor type '%s' and subtype '%s' on device '%s': it never fires",
			trigger__name(r), c->discovery_id, c->type, c->subtype, c->device_id);
	return 0;
}

static void detach(struct trig_run *r)
{
	struct run *run = r->state;
	if (!run)
		return;
	if (run->changes)
		mqb_bus_async_unlisten(r->a->core, run->changes);
	if (run->start)
		mqb_bus_async_unlisten(r->a->core, run->start);
	mqb__free(run);
	r->state = NULL;
}

static int attach(struct trig_run *r)
{
	struct run *run = mqb__calloc(1, sizeof *run);
	if (!run)
		return -ENOMEM;
	r->state = run;
	run->r = r;
	int rc = mqb_bus_async_listen(r->a->core, MQB_EVENT_STATE_CHANGED,
				      &MQB_CALLBACK(on_change, run), &run->changes);
	if (!rc && mqb_core_async_started(r->a->core))
		check_named(run, NULL, NULL);
	else if (!rc)
		rc = mqb_bus_async_listen_once(r->a->core, MQB_EVENT_START,
					       &MQB_CALLBACK(check_named, run), &run->start);
	if (rc)
		detach(r);
	return rc;
}

const struct trig_ops trigger__device = {
	.name = "device",
	.keys = keys,
	.compile = compile,
	.free = conf_free,
	.attach = attach,
	.detach = detach,
};
