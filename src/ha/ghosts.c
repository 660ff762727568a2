/* SPDX-License-Identifier: MIT */
/* The sweep for ghosts (DESIGN §8): discovery is retained, so an entity
 * gone from the configuration would live on in Home Assistant, looking
 * available. After each connect the bridge reads what is retained under
 * its node, and clears what no entity of the configuration has. */
#include "lib/internal.h"
#include "lib/hashmap.h"
#include "core/loop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <ev.h>
#include <jansson.h>

#include "mqbridge/config.h"
#include "mqbridge/mqtt.h"

#include "ha/ghosts.h"

#define SUB "bridge"
/* The marker is sent this often until it comes back (the subscriptions
 * go out batched, a little later), and the sweep waits this long at
 * most for it. */
#define PING_INTERVAL 0.05
#define READ_BOUND 3.0
/* After the marker, reading goes on until no retained message has come
 * for this long: mosquitto sends a SUBSCRIBE's retained messages before
 * anything published after it, but aedes streams them from its store
 * while newer messages overtake them (t/test_brokers, doc/brokers.md). */
#define SETTLE 0.1

/* A retained topic read. */
struct seen {
	char *topic;
	char *unique_id;   /* a discovery payload's, or NULL */
	bool discovery;
};

struct ghosts {
	struct ghosts_options o;
	char *discovery_filter, *state_filter, *marker, *device_topic;
	struct mqb_mqtt_sub *subs[4];
	json_t *device_cmps;          /* the retained device discovery's */
	unsigned nonce;
	bool ready;
	ev_timer ping, bound, settle;
	double last_read;             /* when a retained message last came (ev_now) */
	struct seen *seen;
	size_t nseen, capseen;
	struct hashmap by_topic;      /* topic -> struct seen index + 1 */
	struct hashmap expected;      /* discovery topic or state prefix -> (void *)1 */
	char **keys;                  /* the expected keys, owned */
	size_t nkeys;
	bool expect_failed;
};

static void send_marker(struct ghosts *g)
{
	char payload[16];
	int n = snprintf(payload, sizeof payload, "%u", g->nonce);
	/* lost before the subscription is in place: sent again */
	mqb_mqtt_async_publish(g->o.core, g->marker, payload, (size_t)n, 0, false, NULL);
}

static void become_ready(struct ghosts *g)
{
	struct ev_loop *loop = core__loop(g->o.core);
	ev_timer_stop(loop, &g->ping);
	ev_timer_stop(loop, &g->bound);
	ev_timer_stop(loop, &g->settle);
	if (g->ready)
		return;
	g->ready = true;
	g->o.ready(g->o.ud);
}

static void ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	send_marker(w->data);
}

static void bound_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct ghosts *g = w->data;
	struct mqb_mqtt_stats st;
	if (mqb_mqtt_async_stats(g->o.core, &st) == 0 && !st.connected) {
		ev_timer_stop(loop, &g->ping); /* the next connect reads again */
		return;
	}
	MQB_LOG_WARNING(SUB, "no answer on %s in %.0f s: the retained messages may not all "
			"have come; clearing only what did", g->marker, READ_BOUND);
	become_ready(g);
}

/* Ready once nothing retained has come for SETTLE. */
static void settle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct ghosts *g = w->data;
	double quiet = ev_now(loop) - g->last_read;
	if (quiet >= SETTLE) {
		become_ready(g);
		return;
	}
	ev_timer_set(w, SETTLE - quiet, 0);
	ev_timer_start(loop, w);
}

/* The marker came back: the broker has taken the subscriptions (one
 * SUBSCRIBE with it), and mosquitto has sent their retained messages. */
static int on_marker(void *ud, void *arg, void **result)
{
	(void)result;
	struct ghosts *g = ud;
	char want[16];
	snprintf(want, sizeof want, "%u", g->nonce);
	struct ev_loop *loop = core__loop(g->o.core);
	if (!g->ready && !ev_is_active(&g->settle) &&
	    strcmp(mqb_mqtt_message_payload(arg), want) == 0) {
		ev_timer_stop(loop, &g->ping);
		g->last_read = ev_now(loop); /* what is late may not have begun */
		settle_cb(loop, &g->settle, 0);
	}
	return 0;
}

static void remember(struct ghosts *g, const char *topic, const char *unique_id, bool discovery)
{
	g->last_read = ev_now(core__loop(g->o.core));
	if (hashmap__get(&g->by_topic, topic, strlen(topic)))
		return;
	if (g->nseen == g->capseen) {
		size_t cap = g->capseen ? 2 * g->capseen : 64;
		struct seen *v = mqb__realloc(g->seen, cap * sizeof *v);
		if (!v)
			return; /* not cleared this time; the next connect may */
		g->seen = v;
		g->capseen = cap;
	}
	struct seen *s = &g->seen[g->nseen];
	s->topic = mqb__strdup(topic);
	s->unique_id = unique_id ? mqb__strdup(unique_id) : NULL;
	s->discovery = discovery;
	if (!s->topic || (unique_id && !s->unique_id) ||
	    hashmap__put(&g->by_topic, s->topic, strlen(s->topic), (void *)(g->nseen + 1), NULL)) {
		mqb__free(s->topic);
		mqb__free(s->unique_id);
		return;
	}
	g->nseen++;
}

/* Only what the broker kept counts: a message published now (a state
 * changing while the sweep reads) is not a ghost, and an empty one is
 * already cleared. */
static bool retained(const struct mqb_mqtt_message *msg)
{
	return mqb_mqtt_message_retained(msg) && mqb_mqtt_message_len(msg) > 0;
}

/* A retained discovery payload's JSON (NULL: none, or not JSON), and one
 * of its keys by its name or Home Assistant's abbreviation. */
static json_t *retained_json(const struct mqb_mqtt_message *msg, const char *key,
			     const char *abbr, json_t **value)
{
	json_t *j = retained(msg) ? json_loadb(mqb_mqtt_message_payload(msg),
					       mqb_mqtt_message_len(msg), 0, NULL)
				  : NULL;
	*value = json_object_get(j, key);
	if (!*value)
		*value = json_object_get(j, abbr);
	return j;
}

static int on_discovery(void *ud, void *arg, void **result)
{
	(void)result;
	json_t *uid, *j = retained_json(arg, "unique_id", "uniq_id", &uid);
	if (retained(arg))
		remember(ud, mqb_mqtt_message_topic(arg), json_string_value(uid), true);
	json_decref(j);
	return 0;
}

static int on_device(void *ud, void *arg, void **result)
{
	(void)result;
	struct ghosts *g = ud;
	json_t *cmps, *j = retained_json(arg, "components", "cmps", &cmps);
	if (retained(arg)) {
		json_decref(g->device_cmps);
		g->device_cmps = json_is_object(cmps) ? json_incref(cmps) : NULL;
		remember(g, mqb_mqtt_message_topic(arg), NULL, true);
	}
	json_decref(j);
	return 0;
}

static const char *const state_leaves[] = {"state", "attributes", "availability"};

static int on_state(void *ud, void *arg, void **result)
{
	(void)result;
	struct ghosts *g = ud;
	const struct mqb_mqtt_message *msg = arg;
	const char *t = mqb_mqtt_message_topic(msg);
	const char *leaf = strrchr(t, '/') + 1; /* the filter has levels */
	bool ours = false;
	for (size_t i = 0; i < MQB_ARRAY_SIZE(state_leaves); i++)
		ours |= strcmp(leaf, state_leaves[i]) == 0;
	if (ours && retained(msg))
		remember(g, t, NULL, false);
	return 0;
}

static void unsubscribe_all(struct ghosts *g)
{
	for (size_t i = 0; i < MQB_ARRAY_SIZE(g->subs); i++)
		if (g->subs[i])
			mqb_mqtt_async_unsubscribe(g->o.core, g->subs[i]);
	memset(g->subs, 0, sizeof g->subs);
}

void ghosts__async_free(struct ghosts *g)
{
	if (!g)
		return;
	struct ev_loop *loop = core__loop(g->o.core);
	ev_timer_stop(loop, &g->ping);
	ev_timer_stop(loop, &g->bound);
	ev_timer_stop(loop, &g->settle);
	unsubscribe_all(g);
	for (size_t i = 0; i < g->nseen; i++) {
		mqb__free(g->seen[i].topic);
		mqb__free(g->seen[i].unique_id);
	}
	mqb__free(g->seen);
	for (size_t i = 0; i < g->nkeys; i++)
		mqb__free(g->keys[i]);
	mqb__free(g->keys);
	hashmap__fini(&g->by_topic);
	hashmap__fini(&g->expected);
	json_decref(g->device_cmps);
	mqb__free(g->discovery_filter);
	mqb__free(g->device_topic);
	mqb__free(g->state_filter);
	mqb__free(g->marker);
	mqb__free(g);
}

void ghosts__async_restart(struct ghosts *g)
{
	struct ev_loop *loop = core__loop(g->o.core);
	g->ready = false;
	g->nonce++;
	ev_timer_stop(loop, &g->ping);
	ev_timer_stop(loop, &g->bound);
	ev_timer_stop(loop, &g->settle);
	ev_timer_start(loop, &g->ping);
	ev_timer_start(loop, &g->bound);
	send_marker(g);
}

int ghosts__async_start(const struct ghosts_options *o, struct ghosts **out)
{
	*out = NULL;
	struct ghosts *g = mqb__calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	g->o = *o;
	hashmap__init(&g->by_topic);
	hashmap__init(&g->expected);
	ev_timer_init(&g->ping, ping_cb, PING_INTERVAL, PING_INTERVAL);
	ev_timer_init(&g->bound, bound_cb, READ_BOUND, 0);
	ev_timer_init(&g->settle, settle_cb, SETTLE, 0);
	g->ping.data = g->bound.data = g->settle.data = g;
	int rc = -ENOMEM;
	g->marker = mqb__strdup(o->marker);
	if (!g->marker)
		goto fail;
	/* the caller's strings are not kept */
	g->o.discovery_filter = g->o.state_base = g->o.marker = g->o.device_topic = NULL;
	if (o->discovery_filter && !(g->discovery_filter = mqb__strdup(o->discovery_filter)))
		goto fail;
	if (o->device_topic && !(g->device_topic = mqb__strdup(o->device_topic)))
		goto fail;
	if (o->state_base && !(g->state_filter = mqb__fmt(NULL, 0, "%s/+/+/+", o->state_base)))
		goto fail;
	/* one SUBSCRIBE: the marker after the retained messages of the others */
	if ((g->discovery_filter &&
	     (rc = mqb_mqtt_async_subscribe(o->core, g->discovery_filter, 0,
					    &MQB_CALLBACK(on_discovery, g), &g->subs[0]))) ||
	    (g->device_topic &&
	     (rc = mqb_mqtt_async_subscribe(o->core, g->device_topic, 0,
					    &MQB_CALLBACK(on_device, g), &g->subs[3]))) ||
	    (g->state_filter &&
	     (rc = mqb_mqtt_async_subscribe(o->core, g->state_filter, 0,
					    &MQB_CALLBACK(on_state, g), &g->subs[1]))) ||
	    (rc = mqb_mqtt_async_subscribe(o->core, g->marker, 0, &MQB_CALLBACK(on_marker, g),
					   &g->subs[2])))
		goto fail;
	ghosts__async_restart(g);
	*out = g;
	return 0;
fail:
	ghosts__async_free(g);
	return rc;
}

bool ghosts__ready(const struct ghosts *g)
{
	return g->ready;
}

const json_t *ghosts__device_components(const struct ghosts *g)
{
	return g->device_cmps;
}

/* The length of a discovery topic without its "<object_id>/config". */
static size_t component_part(const char *topic)
{
	const char *end = strrchr(topic, '/');
	while (end && end > topic && end[-1] != '/')
		end--;
	return end ? (size_t)(end - topic) : 0;
}

const char *ghosts__renamed(const struct ghosts *g, const char *unique_id, const char *topic)
{
	const char *found = NULL;
	size_t part = component_part(topic);
	for (size_t i = 0; i < g->nseen; i++) {
		const struct seen *s = &g->seen[i];
		if (!s->discovery || !s->unique_id || strcmp(s->unique_id, unique_id) != 0)
			continue;
		if (strcmp(s->topic, topic) == 0)
			return NULL; /* Home Assistant has it where it is announced */
		if (!found && component_part(s->topic) == part && strncmp(s->topic, topic, part) == 0)
			found = s->topic;
	}
	return found;
}

static int expect_one(struct ghosts *g, const char *key)
{
	if (hashmap__get(&g->expected, key, strlen(key)))
		return 0;
	char **v = mqb__realloc(g->keys, (g->nkeys + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	g->keys = v;
	if (!(v[g->nkeys] = mqb__strdup(key)))
		return -ENOMEM;
	if (hashmap__put(&g->expected, v[g->nkeys], strlen(key), (void *)1, NULL)) {
		mqb__free(v[g->nkeys]);
		return -ENOMEM;
	}
	g->nkeys++;
	return 0;
}

int ghosts__expect(struct ghosts *g, const char *discovery_topic, const char *state_prefix)
{
	int rc = 0;
	if (discovery_topic)
		rc = expect_one(g, discovery_topic);
	if (!rc && state_prefix)
		rc = expect_one(g, state_prefix);
	if (rc)
		g->expect_failed = true;
	return rc;
}

void ghosts__async_finish(struct ghosts *g)
{
	size_t cleared = 0;
	for (size_t i = 0; !g->expect_failed && i < g->nseen; i++) {
		const char *t = g->seen[i].topic;
		/* a state topic is the configuration's when its entity's prefix is */
		size_t len = g->seen[i].discovery ? strlen(t) : (size_t)(strrchr(t, '/') - t) + 1;
		if (hashmap__get(&g->expected, t, len))
			continue;
		int rc = mqb_mqtt_async_publish(g->o.core, t, "", 0, 0, true, NULL);
		if (rc) {
			MQB_LOG_WARNING(SUB, "cannot clear %s: %s", t, mqb_strerror(rc));
			continue;
		}
		MQB_LOG_INFO(SUB, "cleared %s: retained for an entity the configuration no "
			     "longer has", t);
		cleared++;
	}
	if (cleared)
		MQB_LOG_INFO(SUB, "%zu retained topic(s) of removed entities cleared", cleared);
	MQB_LOG_DEBUG(SUB, "swept: %zu retained topic(s) read, %zu cleared", g->nseen, cleared);
	ghosts__async_free(g);
}
