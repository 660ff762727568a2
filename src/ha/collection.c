/* SPDX-License-Identifier: MIT */
/* The helpers' YAML collection (mqbridge/collection.h), Home Assistant's
 * helpers/collection.py YamlCollection with sync_entity_lifecycle: items
 * by object id in file order, a reload set against them id by id, and the
 * integration's reload service. */
#include "lib/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "core/hass.h"
#include "mqbridge/collection.h"
#include "mqbridge/coro.h"
#include "mqbridge/entity.h"
#include "mqbridge/future.h"
#include "mqbridge/services.h"

struct item {
	char *key;
	json_t *conf;  /* the entry's options as JSON, to see a change */
	const struct mqb_component_entry *en; /* valid until the next reload */
	void *priv;    /* the module's */
	struct mqb_entity *e;
	bool seen;     /* in the block being taken */
};

struct mqb_collection {
	struct mqb_integration *in;
	const struct mqb_collection_ops *ops;
	struct item *v;
	size_t n, cap;
	char *data_key;
};

static void collection_free(void *p)
{
	struct mqb_collection *c = p;
	for (size_t i = 0; i < c->n; i++) {
		if (c->ops->fini)
			c->ops->fini(c->v[i].priv);
		mqb__free(c->v[i].priv);
		mqb__free(c->v[i].key);
		json_decref(c->v[i].conf);
	}
	mqb__free(c->v);
	mqb__free(c->data_key);
	mqb__free(c);
}

static char *key_of(struct mqb_integration *in)
{
	return mqb__fmt(NULL, 0, "mqbridge.collection.%s", mqb_integration_name(in));
}

static struct mqb_collection *collection_of(struct mqb_integration *in)
{
	char buf[96];
	char *k = mqb__fmt(buf, sizeof buf, "mqbridge.collection.%s", mqb_integration_name(in));
	struct mqb_collection *c = k ? mqb_core_async_data(mqb_integration_core(in), k) : NULL;
	mqb__fmt_free(k, buf);
	return c;
}

/* A COROUTINE: read the file again and wait until the block is taken. */
static int reload_service(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct mqb_collection *c = ud;
	struct mqb_future *f = NULL;
	int rc = mqb_integration_async_reload(c->in, &f);
	if (rc == 0) {
		rc = mqb_await(f, NULL);
		mqb_future_unref(f);
	}
	return rc;
}

static int collection_new(struct mqb_integration *in, const struct mqb_collection_ops *ops,
			  struct mqb_collection **out)
{
	struct mqb_core *core = mqb_integration_core(in);
	if (collection_of(in))
		return -EEXIST;
	struct mqb_collection *c = mqb__calloc(1, sizeof *c);
	if (!c || !(c->data_key = key_of(in))) {
		mqb__free(c);
		return -ENOMEM;
	}
	c->in = in;
	c->ops = ops;
	int rc = mqb_core_async_set_data(core, c->data_key, c, collection_free);
	if (rc) {
		mqb__free(c->data_key);
		mqb__free(c);
		return rc;
	}
	struct mqb_job job = MQB_COROUTINE(reload_service, c);
	job.name = "reload";
	*out = c;
	return mqb_services_async_register(core, mqb_integration_name(in), "reload", &job,
					   hass__validate_no_data, NULL);
}

void *mqb_collection_async_get(struct mqb_integration *in, const char *key)
{
	MQB_ASSERT_LOOP(mqb_integration_core(in));
	struct mqb_collection *c = collection_of(in);
	for (size_t i = 0; c && i < c->n; i++)
		if (strcmp(c->v[i].key, key) == 0)
			return c->v[i].priv;
	return NULL;
}

static struct item *find(struct mqb_collection *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].key, key) == 0)
			return &c->v[i];
	return NULL;
}

/* The entity of it anew, from its entry, what the item holds kept. */
static int readd(struct mqb_collection *c, struct item *it)
{
	if (it->e)
		mqb_entity_async_remove(it->e);
	it->e = NULL;
	return c->ops->async_add(c->in, it->priv, it->en, true, &it->e);
}

int mqb_collection_async_readd(struct mqb_integration *in, void *item)
{
	MQB_ASSERT_LOOP(mqb_integration_core(in));
	struct mqb_collection *c = collection_of(in);
	for (size_t i = 0; c && i < c->n; i++)
		if (c->v[i].priv == item)
			return readd(c, &c->v[i]);
	return -ENOENT;
}

static int create(struct mqb_collection *c, const struct mqb_component_entry *en, json_t *conf)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct item *v = mqb__realloc(c->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	struct item it = {.key = mqb__strdup(en->key), .conf = json_incref(conf), .en = en,
			  .priv = mqb__calloc(1, c->ops->item_size ? c->ops->item_size : 1),
			  .seen = true};
	int rc = it.key && it.priv ? c->ops->async_add(c->in, it.priv, en, false, &it.e) : -ENOMEM;
	if (rc) {
		if (it.e)
			mqb_entity_async_remove(it.e);
		if (c->ops->fini && it.priv)
			c->ops->fini(it.priv);
		mqb__free(it.priv);
		mqb__free(it.key);
		json_decref(it.conf);
		return rc;
	}
	c->v[c->n++] = it;
	return 0;
}

static int load(struct mqb_collection *c, const struct mqb_component_entry *entries, size_t n)
{
	const char *name = mqb_integration_name(c->in);
	int first = 0;
	for (size_t i = 0; i < c->n; i++)
		c->v[i].seen = false;
	for (size_t i = 0; i < n; i++) {
		const struct mqb_component_entry *en = &entries[i];
		json_t *conf = mqb_conf_to_json(en->node);
		int rc = -ENOMEM;
		struct item *it = en->key ? find(c, en->key) : NULL;
		if (!conf || !en->key) {
			rc = conf ? -EINVAL : -ENOMEM;
		} else if (!it) {
			rc = create(c, en, conf);
		} else {
			it->seen = true;
			it->en = en;
			rc = 0;
			if (!json_equal(it->conf, conf)) {
				json_decref(it->conf);
				it->conf = json_incref(conf);
				rc = readd(c, it);
			}
		}
		json_decref(conf);
		if (rc) {
			MQB_LOG_ERROR(name, "%s: %s", en->path, mqb_strerror(rc));
			if (!first)
				first = rc;
		}
	}
	/* what the block no longer has goes, the rest keep their order */
	size_t k = 0;
	for (size_t i = 0; i < c->n; i++) {
		struct item *it = &c->v[i];
		if (it->seen) {
			c->v[k++] = *it;
			continue;
		}
		MQB_LOG_INFO(name, "%s.%s: no longer configured, removed", name, it->key);
		if (it->e)
			mqb_entity_async_remove(it->e);
		if (c->ops->fini)
			c->ops->fini(it->priv);
		mqb__free(it->priv);
		mqb__free(it->key);
		json_decref(it->conf);
	}
	c->n = k;
	return first;
}

int mqb_collection_async_setup(struct mqb_integration *in, const struct mqb_collection_ops *ops,
			       const struct mqb_component_entry *entries, size_t n)
{
	MQB_ASSERT_LOOP(mqb_integration_core(in));
	struct mqb_collection *c = NULL;
	int rc = collection_new(in, ops, &c);
	int lrc = c ? load(c, entries, n) : 0;
	return rc ? rc : lrc;
}

int mqb_collection_async_reload(struct mqb_integration *in,
				const struct mqb_component_entry *entries, size_t n)
{
	MQB_ASSERT_LOOP(mqb_integration_core(in));
	struct mqb_collection *c = collection_of(in);
	if (!c)
		return -ENOENT;
	/* The items now point into the new block: it must be kept, so the
	 * reload succeeds, each entry's error logged. */
	load(c, entries, n);
	return 0;
}

size_t mqb_collection_check(const struct mqb_component_entry *en, const struct mqb_schema *schema,
			    void *conf, struct mqb_conf_errors *errs)
{
	size_t found = 0;
	char slug[256] = "";
	if (!en->key || strlen(en->key) >= sizeof slug ||
	    strcmp(mqb_slugify(en->key, slug, sizeof slug), en->key) != 0) {
		mqb_conf_error_at(errs, en->key_node ? en->key_node : en->node, en->path,
				  "invalid slug %s (try %s)", en->key ? en->key : "(none)", slug);
		found++;
	}
	found += mqb_schema_apply(schema, en->node, en->path, conf, errs);
	/* cv.icon, which every helper's icon is */
	const struct mqb_conf_node *icon = mqb_conf_get(en->node, "icon");
	const char *text = icon ? mqb_conf_scalar(icon, NULL) : NULL;
	if (text && !strchr(text, ':')) {
		mqb_collection_error(errs, en, "icon",
				     "Icons should be specified in the form \"prefix:name\"");
		found++;
	}
	return found;
}

void mqb_collection_conf(const struct mqb_component_entry *en, const struct mqb_schema *schema,
			 void *conf)
{
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	if (mqb_schema_apply(schema, en->node, en->path, conf, &errs))
		MQB_LOG_WARNING("collection", "%s: not checked before use (%s)", en->path,
				errs.n ? errs.v[0].message : "out of memory");
	mqb_conf_errors_fini(&errs);
}

void mqb_collection_error(struct mqb_conf_errors *errs, const struct mqb_component_entry *en,
			  const char *key, const char *fmt, ...)
{
	char path[512];
	const struct mqb_conf_node *at = key ? mqb_conf_get(en->node, key) : NULL;
	snprintf(path, sizeof path, "%s%s%s", en->path, key ? "." : "", key ? key : "");
	va_list ap;
	va_start(ap, fmt);
	mqb_conf_verror_at(errs, at ? at : en->node, path, fmt, ap);
	va_end(ap);
}

int mqb_collection_add_entity(struct mqb_integration *in, const struct mqb_component_entry *en,
			      struct mqb_entity_info *info, const struct mqb_entity_ops *ops,
			      void *item, struct mqb_entity **e)
{
	struct mqb_platform *p = mqb_integration_async_platform(in, mqb_integration_name(in));
	if (!p)
		return -ENOMEM;
	info->object_id = en->key;
	return mqb_platform_async_add_entity(p, info, ops, item, e);
}
