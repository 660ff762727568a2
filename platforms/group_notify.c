/* SPDX-License-Identifier: MIT */
/* group's notify platform (homeassistant/components/group/notify.py):
 * notify.<name> sends one message to several notify services at once,
 * each with its own data filling in what the call did not give. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/core.h"
#include "mqbridge/coro.h"
#include "mqbridge/entity.h"
#include "mqbridge/error.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/services.h"

#include "group.h"

#define LOG_TAG GROUP_SUB

/* An entry of services: the service (action, or its old name service)
 * and its data, a mapping; the check below says which are required. */
static const struct mqb_schema_key entry_keys[] = {
	{.key = "action", .type = MQB_S_STRING, .doc = "a notify service, without notify."},
	{.key = "service", .type = MQB_S_STRING, .doc = "the old name of action"},
	{.key = "data", .type = MQB_S_ANY, .doc = "defaults for what the call does not give (a mapping)"},
};
static const struct mqb_schema entry_schema = MQB_SCHEMA("notify.group services", entry_keys);
static const struct mqb_schema_key entry_item[] = {
	{.type = MQB_S_MAP, .sub = &entry_schema},
};
static const struct mqb_schema entry_list = MQB_SCHEMA("notify.group services", entry_item);

#define NC(f) .offset = offsetof(struct group_notify_conf, f), .stored = true
static const struct mqb_schema_key notify_keys[] = {
	{.key = "name", .type = MQB_S_STRING, .def = "notify", NC(name),
	 .doc = "the service: notify.<slug of name>"},
	{.key = "services", .type = MQB_S_LIST, .sub = &entry_list, .required = true, NC(services),
	 .doc = "the notify services to send to: action and data each"},
};
const struct mqb_schema group_notify_schema = MQB_SCHEMA("notify.group", notify_keys);

/* cv.ensure_list: one entry or a list of them. */
static size_t entries(const struct mqb_conf_node *n)
{
	return mqb_conf_kind(n) == MQB_CONF_SEQ ? mqb_conf_len(n) : 1;
}

static const struct mqb_conf_node *entry(const struct mqb_conf_node *n, size_t i)
{
	return mqb_conf_kind(n) == MQB_CONF_SEQ ? mqb_conf_item(n, i) : n;
}

/* The entry's service: action, or service (_backward_compat_schema). */
static const struct mqb_conf_node *entry_service(const struct mqb_conf_node *e)
{
	const struct mqb_conf_node *a = mqb_conf_get(e, "action");
	return a ? a : mqb_conf_get(e, "service");
}

/* What the table cannot say: both names or neither, a service that is no
 * slug (cv.slug), data that is no mapping. */
void group_notify_check(const void *conf, const struct mqb_conf_node *node, const char *path,
			 struct mqb_conf_errors *errs)
{
	(void)node;
	const struct group_notify_conf *c = conf;
	const struct mqb_conf_node *list = c->services;
	char p[256];
	snprintf(p, sizeof p, "%s.services", path);
	for (size_t i = 0; i < entries(list); i++) {
		const struct mqb_conf_node *e = entry(list, i);
		char ep[288];
		snprintf(ep, sizeof ep, "%s[%zu]", p, i);
		const struct mqb_conf_node *a = mqb_conf_get(e, "action"),
					   *s = mqb_conf_get(e, "service"), *d = mqb_conf_get(e, "data");
		if (a && s) {
			mqb_conf_error_at(errs, s, ep,
					  "Cannot specify both 'service' and 'action'. Please use "
					  "'action' only.");
			continue;
		}
		if (!a && !s) {
			mqb_conf_error_at(errs, e, ep, "required key not provided @ data['action']");
			continue;
		}
		const char *name = mqb_conf_scalar(a ? a : s, NULL);
		char slug[128];
		if (!name || strcmp(mqb_slugify(name, slug, sizeof slug), name) != 0)
			mqb_conf_error_at(errs, a ? a : s, ep, "invalid slug %s (try %s)",
					  name ? name : "", name ? slug : "");
		if (d && mqb_conf_kind(d) != MQB_CONF_MAP)
			mqb_conf_error_at(errs, d, ep, "expected a dictionary for dictionary value "
						       "@ data['data']");
	}
}

struct target {
	char *service;
	json_t *data; /* NULL: none */
};

struct group_notify {
	struct mqb_core *core;
	char *name;
	struct target *targets;
	size_t ntargets;
	struct group_notify *next;
};

/* One core's services, kept with the core (freed with it): a reload
 * registers a changed one again, and the old stays until the end. */
struct notifiers {
	struct group_notify *first;
};

static void notifiers_free(void *p)
{
	struct notifiers *ns = p;
	for (struct group_notify *g = ns ? ns->first : NULL, *next; g; g = next) {
		next = g->next;
		for (size_t i = 0; i < g->ntargets; i++) {
			free(g->targets[i].service);
			json_decref(g->targets[i].data);
		}
		free(g->targets);
		free(g->name);
		free(g);
	}
	free(ns);
}

/* Python's truth of a value: kwargs the call left empty are not sent. */
static bool truthy(const json_t *v)
{
	if (!v)
		return false;
	switch (json_typeof(v)) {
	case JSON_STRING: return json_string_length(v) > 0;
	case JSON_OBJECT: return json_object_size(v) > 0;
	case JSON_ARRAY: return json_array_size(v) > 0;
	case JSON_INTEGER: return json_integer_value(v) != 0;
	case JSON_REAL: return json_real_value(v) != 0;
	case JSON_TRUE: return true;
	default: return false;
	}
}

/* group/notify.py's add_defaults: what the call gave wins, a target's
 * data fills in the rest, a mapping into the mapping of the same key (a
 * new one where the call gave none or no mapping). */
static int add_defaults(json_t *dst, const json_t *defaults)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)defaults, k, v) {
		json_t *have = json_object_get(dst, k);
		if (json_is_object(v)) {
			if (!json_is_object(have)) {
				if (json_object_set_new(dst, k, json_object()))
					return -ENOMEM;
				have = json_object_get(dst, k);
			}
			if (add_defaults(have, v))
				return -ENOMEM;
		} else if (!have && json_object_set_new(dst, k, json_deep_copy(v))) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* notify.<name>: the message, and the title, target and data the call
 * gave, to every service at once; each target's data under them. Waits
 * for all; one that fails is logged and does not stop the others, as
 * Home Assistant's asyncio.wait does not. A COROUTINE. */
static int notify_send(void *ud, void *arg, void **result)
{
	(void)result;
	struct group_notify *g = ud;
	const json_t *in = mqb_service_call_data(arg);
	json_t *payload = json_object();
	const json_t *message = json_object_get(in, "message");
	if (!payload || json_object_set_new(payload, "message",
					    message ? json_deep_copy(message) : json_string(""))) {
		json_decref(payload);
		return -ENOMEM;
	}
	static const char *const kwargs[] = {"title", "target", "data"};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(kwargs); i++) {
		const json_t *v = json_object_get(in, kwargs[i]);
		if (truthy(v) && json_object_set_new(payload, kwargs[i], json_deep_copy(v))) {
			json_decref(payload);
			return -ENOMEM;
		}
	}
	struct mqb_future **f = calloc(g->ntargets ? g->ntargets : 1, sizeof *f);
	if (!f) {
		json_decref(payload);
		return -ENOMEM;
	}
	for (size_t i = 0; i < g->ntargets; i++) {
		json_t *send = json_deep_copy(payload);
		if (!send || (g->targets[i].data && add_defaults(send, g->targets[i].data))) {
			json_decref(send);
			MQB_LOG_ERROR(LOG_TAG, "notify.%s: out of memory", g->name);
			continue;
		}
		/* the call takes send */
		int rc = mqb_services_async_call(g->core, "notify", g->targets[i].service, send,
						 &f[i]);
		if (rc < 0) {
			f[i] = NULL;
			MQB_LOG_ERROR(LOG_TAG, "notify.%s: notify.%s: %s", g->name,
				      g->targets[i].service, mqb_strerror(rc));
		}
	}
	json_decref(payload);
	for (size_t i = 0; i < g->ntargets; i++) {
		if (!f[i])
			continue;
		int rc = mqb_await(f[i], NULL);
		mqb_future_unref(f[i]);
		if (rc < 0 && rc != -ECANCELED)
			MQB_LOG_ERROR(LOG_TAG, "notify.%s: notify.%s failed: %s", g->name,
				      g->targets[i].service, mqb_strerror(rc));
	}
	free(f);
	return 0;
}

int group_notify_setup(struct mqb_platform *p, const void *conf_, const char *path)
{
	const struct group_notify_conf *c = conf_;
	struct mqb_core *core = mqb_platform_core(p);
	struct notifiers *ns = mqb_core_async_data(core, "group.notify");
	if (!ns) {
		if (!(ns = calloc(1, sizeof *ns)))
			return -ENOMEM;
		if (mqb_core_async_set_data(core, "group.notify", ns, notifiers_free)) {
			free(ns);
			return -ENOMEM;
		}
	}
	struct group_notify *g = calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	g->next = ns->first;
	ns->first = g;
	g->core = core;
	char slug[128];
	mqb_slugify(c->name, slug, sizeof slug);
	size_t n = entries(c->services);
	if (!(g->name = strdup(slug)) || !(g->targets = calloc(n, sizeof *g->targets)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++, g->ntargets++) {
		const struct mqb_conf_node *e = entry(c->services, i);
		const struct mqb_conf_node *d = mqb_conf_get(e, "data");
		if (!(g->targets[i].service = strdup(mqb_conf_scalar(entry_service(e), NULL))) ||
		    (d && !(g->targets[i].data = mqb_conf_to_json(d))))
			return -ENOMEM;
	}
	int rc = mqb_services_async_register(core, "notify", slug,
					     &MQB_COROUTINE(notify_send, g), NULL, NULL);
	if (rc)
		MQB_LOG_ERROR(LOG_TAG, "%s: notify.%s: %s", path, slug, mqb_strerror(rc));
	return rc;
}
