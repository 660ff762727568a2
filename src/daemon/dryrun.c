/* SPDX-License-Identifier: MIT */
/* The daemon set up without the world outside, for people checking a
 * configuration: `mqbridge -C -v` lists what it would create (as `nginx
 * -T` shows what it read), `mqbridge --test` polls every polled entity
 * once and prints the states (as `telegraf --test` does). */
#include "lib/internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "core/loop.h"
#include "daemon/daemon.h"
#include "daemon/dryrun.h"
#include "daemon/loader.h"
#include "daemon/options.h"
#include "ha/bridge.h"
#include "ha/entity_impl.h"
#include "mqbridge/json.h"
#include "mqbridge/states.h"
#include "mqtt/client.h"

#define SUB "main"

struct run {
	struct mqb_core *core;
	const struct daemon_options *opts;
	const struct conf_item **items; /* -C -v: opts' items by_platform */
	enum dryrun_mode mode;
	FILE *out;
	ev_prepare idle;       /* --test: stops once no update runs */
	size_t failed;         /* items whose setup failed */
	int rc;
};

/* ---- how values are written ------------------------------------------------- */

/* A value as it stands, or JSON-quoted when it holds what would split or
 * hide it (a blank, a quote, a control character) or is empty. */
static void put_value(FILE *out, const char *v)
{
	bool plain = *v != '\0';
	for (const unsigned char *p = (const unsigned char *)v; *p && plain; p++)
		plain = *p > ' ' && *p != '"' && *p != '\\' && *p != 0x7f;
	if (plain) {
		fputs(v, out);
		return;
	}
	json_t *s = json_string(v);
	char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	fputs(q ? q : "\"\"", out);
	free(q);
	json_decref(s);
}

static void put_pair(FILE *out, const char *key, const char *v)
{
	if (!v)
		return;
	fprintf(out, " %s=", key);
	put_value(out, v);
}

/* ---- what -C -v lists -------------------------------------------------------- */

/* The listing's groups, in the order they are printed. */
enum group { G_ENTITY, G_HELPER, G_AUTOMATION, G_SCRIPT, G_N };
static const char *const group_names[G_N] = {"entity", "helper", "automation", "script"};

static enum group group_of(const char *integration)
{
	static const char *const helpers[] = {"input_boolean", "input_number", "input_select",
					      "input_text", "input_datetime", "input_button",
					      "counter", "timer", "group"};
	if (strcmp(integration, "automation") == 0)
		return G_AUTOMATION;
	if (strcmp(integration, "script") == 0)
		return G_SCRIPT;
	for (size_t i = 0; i < MQB_ARRAY_SIZE(helpers); i++)
		if (strcmp(integration, helpers[i]) == 0)
			return G_HELPER;
	return G_ENTITY;
}

static const char *integration_of(const struct mqb_entity *e)
{
	return mqb_platform_integration(mqb_entity_platform(e));
}

static int by_id(const void *a, const void *b)
{
	return strcmp(mqb_entity_id(*(struct mqb_entity *const *)a),
		      mqb_entity_id(*(struct mqb_entity *const *)b));
}

/* Every entity, sorted by id: the listing's stable order. NULL on ENOMEM
 * (or none). */
static struct mqb_entity **sorted(struct mqb_core *core, size_t *n)
{
	*n = mqb_entities_async_count(core);
	struct mqb_entity **v = *n ? mqb__malloc(*n * sizeof *v) : NULL;
	for (size_t i = 0; v && i < *n; i++)
		v[i] = mqb_entities_async_get(core, i);
	if (v)
		qsort(v, *n, sizeof *v, by_id);
	return v;
}

/* The configuration items by their platform, for item_of. */
static int by_platform(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)(*(const struct conf_item *const *)a)->p,
		  y = (uintptr_t)(*(const struct conf_item *const *)b)->p;
	return x < y ? -1 : x > y;
}

/* The configuration item e came from (its platform is the item's), or
 * NULL (a component's entity, the bridge's own): a search of items,
 * sorted by_platform, so that 100,000 of them list at once. */
static const struct conf_item *item_of(const struct conf_item *const *items, size_t n,
				       struct mqb_entity *e)
{
	struct conf_item key = {.p = mqb_entity_platform(e)};
	const struct conf_item *k = &key;
	const struct conf_item *const *hit = n ? bsearch(&k, items, n, sizeof *items, by_platform)
					       : NULL;
	return hit ? *hit : NULL;
}

/* The device's side: every *_topic option of the item, in file order. */
static void put_item_topics(FILE *out, const struct conf_item *it)
{
	for (size_t i = 0; it && i < mqb_conf_len(it->node); i++) {
		const char *k = mqb_conf_scalar(mqb_conf_key(it->node, i), NULL);
		const struct mqb_conf_node *v = mqb_conf_value(it->node, i);
		size_t kl = k ? strlen(k) : 0;
		char buf[256];
		if (kl > 6 && strcmp(k + kl - 6, "_topic") == 0 &&
		    mqb_conf_kind(v) == MQB_CONF_SCALAR)
			put_pair(out, k, mqb_conf_display(v, buf, sizeof buf));
	}
}

/* The bridge's side. */
static void put_bridge_topics(FILE *out, struct mqb_core *core, struct mqb_entity *e)
{
	static const char *const keys[][2] = {
		{"state", "bridge_state"},     {"trigger", "bridge_trigger"},
		{"command", "bridge_command"}, {"discovery", "discovery"},
	};
	json_t *t = bridge__async_topics(core, e);
	for (size_t i = 0; t && i < MQB_ARRAY_SIZE(keys); i++)
		put_pair(out, keys[i][1], json_string_value(json_object_get(t, keys[i][0])));
	json_decref(t);
}

/* "state,time": the kinds of an automation's triggers, in its order. */
static size_t trigger_kinds(const struct mqb_conf_node *entry, char *buf, size_t len)
{
	const struct mqb_conf_node *t = mqb_conf_get(entry, "triggers");
	if (!t)
		t = mqb_conf_get(entry, "trigger");
	size_t n = mqb_conf_kind(t) == MQB_CONF_SEQ ? mqb_conf_len(t) : t ? 1 : 0;
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *tr = mqb_conf_kind(t) == MQB_CONF_SEQ ? mqb_conf_item(t, i)
										 : t;
		const char *kind = mqb_conf_scalar(mqb_conf_get(tr, "trigger"), NULL);
		if (!kind)
			kind = mqb_conf_scalar(mqb_conf_get(tr, "platform"), NULL);
		int w = snprintf(buf + used, len - used, "%s%s", i ? "," : "", kind ? kind : "?");
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	return n;
}

/* The automation: block's entry an automation entity was made from: by
 * its id (the entity's unique id), else by its name (the alias, or
 * "automation <index>" as the component names one without). */
static const struct mqb_conf_node *automation_entry(const struct daemon_options *o,
						    struct mqb_entity *e)
{
	const char *uid = entity__meta(e)->unique_id, *name = mqb_entity_name(e);
	for (size_t c = 0; c < o->ncomponents; c++) {
		const struct conf_component *cc = &o->components[c];
		if (strcmp(cc->name, "automation") != 0)
			continue;
		for (size_t i = 0; i < cc->n; i++) {
			const struct mqb_conf_node *n = cc->entries[i].node;
			const char *id = mqb_conf_scalar(mqb_conf_get(n, "id"), NULL);
			const char *alias = mqb_conf_scalar(mqb_conf_get(n, "alias"), NULL);
			char dflt[64];
			snprintf(dflt, sizeof dflt, "automation %zu", i);
			if (uid ? id && strcmp(id, uid) == 0
				: !id && name && strcmp(name, alias ? alias : dflt) == 0)
				return n;
		}
	}
	return NULL;
}

static void put_entity(struct run *r, struct mqb_entity *e, enum group g)
{
	FILE *out = r->out;
	const struct entity_meta *m = entity__meta(e);
	const json_t *attrs = mqb_entity_async_attributes(e);
	fprintf(out, "%s %s", group_names[g], mqb_entity_id(e));
	put_pair(out, "integration", integration_of(e));
	put_pair(out, "unique_id", m->unique_id);
	if (g == G_AUTOMATION || g == G_SCRIPT) {
		put_pair(out, "alias", mqb_entity_name(e));
		put_pair(out, "mode", json_string_value(json_object_get(attrs, "mode")));
	}
	if (g == G_AUTOMATION) {
		const struct mqb_conf_node *en = automation_entry(r->opts, e);
		char kinds[256];
		size_t n = en ? trigger_kinds(en, kinds, sizeof kinds) : 0;
		if (en)
			fprintf(out, " triggers=%zu", n);
		if (n)
			put_pair(out, "trigger_kinds", kinds);
	}
	if (entity__scan_interval(e) > 0)
		fprintf(out, " scan_interval=%g", entity__scan_interval(e));
	put_item_topics(out, item_of(r->items, r->opts->nitems, e));
	put_bridge_topics(out, r->core, e);
	fputc('\n', out);
}

/* The bridge's own topics, and the broker it would connect to. */
static void put_bridge(struct run *r)
{
	const struct daemon_options *o = r->opts;
	FILE *out = r->out;
	const char *uri = mqtt__async_uri(r->core);
	if (!uri)
		return; /* no broker: nothing is bridged */
	fputs("bridge broker", out);
	put_pair(out, "uri", uri);
	put_pair(out, "client_id", o->mqtt.client_id);
	fputc('\n', out);
	if (o->mqtt.base_topic)
		fprintf(out, "bridge status %s/status retained=true will=offline\n",
			o->mqtt.base_topic);
	if (o->discovery)
		fprintf(out, "bridge subscribe %s/status why=home_assistant_birth\n",
			o->discovery_prefix);
	if (o->discovery && o->device_discovery)
		fprintf(out, "bridge discovery %s/device/%s/config\n", o->discovery_prefix,
			o->node_id);
	if (o->statestream_base)
		fprintf(out, "bridge statestream %s/<domain>/<object_id>/state attributes=%s\n",
			o->statestream_base, o->statestream_attributes ? "true" : "false");
}

static int list(struct run *r)
{
	size_t n, ni = r->opts->nitems;
	struct mqb_entity **v = sorted(r->core, &n);
	r->items = ni ? mqb__malloc(ni * sizeof *r->items) : NULL;
	if ((n && !v) || (ni && !r->items)) {
		mqb__free(v);
		mqb__free(r->items);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ni; i++)
		r->items[i] = &r->opts->items[i];
	if (ni)
		qsort(r->items, ni, sizeof *r->items, by_platform);
	size_t count[G_N] = {0};
	put_bridge(r);
	for (int g = 0; g < G_N; g++)
		for (size_t i = 0; i < n; i++)
			if (group_of(integration_of(v[i])) == (enum group)g) {
				put_entity(r, v[i], (enum group)g);
				count[g]++;
			}
	mqb__free(v);
	mqb__free(r->items);
	fprintf(r->out, "configuration OK: %zu entities, %zu helpers, %zu automations, %zu scripts\n",
		count[G_ENTITY], count[G_HELPER], count[G_AUTOMATION], count[G_SCRIPT]);
	return 0;
}

/* ---- what --test prints ---------------------------------------------------------- */

/* entity_id, state, attributes as compact JSON with sorted keys. */
static int print_states(struct run *r)
{
	size_t n;
	struct mqb_entity **v = sorted(r->core, &n);
	if (n && !v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *eid = mqb_entity_id(v[i]);
		struct mqb_state *s = mqb_states_async_get(r->core, eid);
		const char *state = s ? mqb_state_value(s)
			: mqb_entity_async_available(v[i]) ? mqb_entity_async_state(v[i])
							  : "unavailable";
		const json_t *a = s ? mqb_state_attributes(s) : mqb_entity_async_attributes(v[i]);
		char *js = a ? mqb_json_dumps(a, MQB_JSON_COMPACT | MQB_JSON_SORT_KEYS) : NULL;
		fputs(eid, r->out);
		fputc(' ', r->out);
		put_value(r->out, state);
		fprintf(r->out, " %s\n", js ? js : "{}");
		free(js);
		mqb_state_unref(s);
	}
	mqb__free(v);
	return 0;
}

/* Each turn of the loop: once no update runs or waits, every poll has
 * ended (each within its own timeout). */
static void idle_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)revents;
	struct run *r = w->data;
	if (entities__async_updating(r->core))
		return;
	ev_prepare_stop(loop, w);
	if ((r->rc = print_states(r)))
		MQB_LOG_ERROR(SUB, "cannot print the states: %s", mqb_strerror(r->rc));
	mqb_core_async_stop(r->core, 0);
}

static void ready(void *ud, size_t failed)
{
	struct run *r = ud;
	r->failed = failed;
	if (failed)
		MQB_LOG_WARNING(SUB, "%zu configuration item(s) could not be set up (see above)",
				failed);
	if (r->mode == DRYRUN_LIST) {
		if ((r->rc = list(r)))
			MQB_LOG_ERROR(SUB, "cannot list: %s", mqb_strerror(r->rc));
		mqb_core_async_stop(r->core, 0);
		return;
	}
	entities__async_start(r->core);
	ev_prepare_init(&r->idle, idle_cb);
	r->idle.data = r;
	ev_prepare_start(core__loop(r->core), &r->idle);
}

int dryrun__run(const struct daemon_options *opts, const char *config_path,
		enum dryrun_mode mode, FILE *out)
{
	struct run r = {.opts = opts, .mode = mode, .out = out};
	enum daemon_step failed;
	int rc = mqb_core_new(&opts->core, &r.core);
	if (rc) {
		fprintf(stderr, "mqbridge: cannot start the core: %s\n", mqb_strerror(rc));
		return rc;
	}
	if ((rc = daemon__async_start_dry(r.core, opts, config_path, ready, &r, &failed))) {
		fprintf(stderr, "mqbridge: cannot %s: %s\n", daemon__step_name(failed),
			mqb_strerror(rc));
		goto out;
	}
	mqb_core_run(r.core);
	if (ev_is_active(&r.idle))
		ev_prepare_stop(core__loop(r.core), &r.idle);
	rc = r.rc;
out:
	mqb_core_free(r.core);
	fflush(out);
	return rc;
}
