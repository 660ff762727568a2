/* SPDX-License-Identifier: MIT */
/* The bridge (DESIGN §8): every entity's state, attributes and availability
 * out to <base>/<domain>/<object_id>/..., Home Assistant discovery for each,
 * <base>/.../set commands in as service calls, everything re-announced after
 * each connect and when Home Assistant comes back online; mqtt_statestream,
 * Home Assistant's mirror of every state; and the bridge's own diagnostic
 * sensor, on a platform (integration x domain) of its own, mqbridge x sensor,
 * whose descriptor no module provides. */
#include "lib/internal.h"
#include "core/hass.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ev.h>

#include "mqbridge/bus.h"
#include "mqbridge/json.h"
#include "mqbridge/mqtt.h"
#include "mqbridge/services.h"
#include "mqbridge/states.h"
#include "mqbridge/template.h"
#include "mqbridge/text.h"

#include "ha/bridge.h"
#include "ha/domains.h"
#include "ha/entity_impl.h"
#include "ha/ghosts.h"
#include "lib/dtoa.h"
#include "lib/json.h"

#define SUB "bridge"
/* Announcing pauses while this many publishes wait for the broker, so a
 * reconnect with thousands of entities never overflows the client's queue. */
#define ANNOUNCE_BACKLOG 200
/* Home Assistant's "online" on <discovery_prefix>/status is answered after
 * a short random delay, as devices are asked to do so that a restart of
 * Home Assistant does not meet every device at once (home-assistant.io
 * PR #35763); a burst of them (any client may publish there) is answered
 * once: each one pushes the answer to QUIET + its jitter after it, but
 * never past MAX_WAIT after the first. */
#define HA_ONLINE_QUIET 1.0
#define HA_ONLINE_JITTER 2.0
#define HA_ONLINE_MAX_WAIT 30.0
/* Announcing at announce_rate may run ahead by this long's worth at once
 * (at least a few entities), so that the timer wakes the loop every few
 * milliseconds, not once per message. */
#define ANNOUNCE_BURST 0.1

/* What the bridge last published for an entity. */
/* Kept small: there is one per entity, and 100,000 entities is a
 * configuration people write. */
struct ent {
	uint64_t attrs_hash;      /* of the attributes JSON last sent */
	struct mqb_mqtt_sub *set; /* the command topic's subscription */
	const struct domain *dom; /* its domain's row */
	/* The discovery topic Home Assistant knows it by, kept over a
	 * rename of its object id while its unique_id stays (ghosts.c);
	 * NULL: the one its object id makes. */
	char *known_topic;
	unsigned gen;             /* the announcement that last covered it */
	int8_t available;         /* -1: nothing yet */
	bool attrs_known;         /* attrs_hash holds them (once looked at) */
};

struct bridge {
	struct mqb_core *core;
	struct bridge_options o;
	char *base, *prefix, *node_id, *name;
	size_t base_len;
	size_t announce_next;     /* the next entity to announce; SIZE_MAX: idle */
	bool announcing_all;      /* from the first (after a connect), not one added */
	unsigned gen;             /* announcements begun */
	unsigned long long sent;  /* publishes the client took */
	double tokens;            /* messages announce_rate allows now */
	double tokens_at;         /* when they were counted (ev_now) */
	ev_timer announce_timer;
	ev_timer ha_online_timer; /* answers a burst of Home Assistant's "online" */
	double ha_online_first;   /* when the burst's first one came */
	double ha_online_jitter;  /* this burst's share of HA_ONLINE_JITTER */
	unsigned long long ha_online_n; /* in this burst */
	unsigned long long rng;
	struct mqb_mqtt_sub *ha_status;
	struct mqb_entity *diag;
	char *ss_base;
	struct ghosts *sweep;             /* what is retained, read after a connect */
	/* discovery_mode: device: <prefix>/device/<node_id>/config, to be
	 * sent again (an entity came or went) once the set-up is over; the
	 * components it is to remove ({"p": component}, once) */
	char *device_topic;
	bool device_dirty;
	json_t *device_removed;
	ev_timer device_timer;
	struct mqb_listener *on_start;    /* until mqbridge_start: the sweep waits */
	void (*announced)(void *ud); /* bridge__async_on_announced's */
	void *announced_ud;
};

static struct ent *ent_of(struct bridge *b, struct mqb_entity *e);
static bool connected(struct bridge *b);

/* Topics are as long as the base topic and the ids make them: built in
 * the caller's buffer (TOPIC_BUF bytes, enough for the usual ones) and
 * allocated when that is too short, never cut. Free with mqb__fmt_free. */
#define TOPIC_BUF 256

/* <base>/<domain>/<object_id>/<leaf>, copied together from the base and
 * the entity id ("<domain>.<object_id>") once per message: no formatting,
 * and nothing kept per entity. NULL on ENOMEM. */
static char *topic_of(struct bridge *b, struct mqb_entity *e, const char *leaf, char *buf,
		      size_t len)
{
	const char *eid = mqb_entity_id(e);
	size_t il = strlen(eid), ll = strlen(leaf), need = b->base_len + 1 + il + 1 + ll + 1;
	char *t = need <= len ? buf : mqb__malloc(need);
	if (!t)
		return NULL;
	char *o = t;
	memcpy(o, b->base, b->base_len);
	o += b->base_len;
	*o++ = '/';
	memcpy(o, eid, il);
	size_t dl = strlen(mqb_entity_domain(e));
	o[dl] = '/'; /* the dot between domain and object id */
	o += il;
	*o++ = '/';
	memcpy(o, leaf, ll + 1);
	return t;
}

/* FNV-1a, 64 bits: tells whether the attributes changed without keeping
 * their text. */
static uint64_t text_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* topic NULL: it could not be made (out of memory), nothing is sent. */
static void publish(struct bridge *b, const char *topic, const char *payload, bool retain)
{
	if (!topic)
		return;
	int rc = mqb_mqtt_async_publish(b->core, topic, payload, strlen(payload), 0, retain, NULL);
	if (rc == 0)
		b->sent++;
	if (rc && rc != -ENOTCONN && rc != -ESHUTDOWN)
		MQB_LOG_DEBUG(SUB, "publish to %s: %s", topic, mqb_strerror(rc));
}

static struct ent *ent_of(struct bridge *b, struct mqb_entity *e)
{
	void **slot = entity__bridge_slot(e);
	if (!*slot) {
		struct ent *n = mqb__calloc(1, sizeof *n);
		if (!n)
			return NULL;
		n->available = -1;
		n->dom = domains__get(mqb_entity_domain(e));
		*slot = n;
	}
	return *slot;
}

/* ---- discovery ------------------------------------------------------------ */

/* Whether e is announced in the device's discovery message: not a device
 * trigger, nor an entity of a device of its own (it brings its device in
 * its own message). */
static bool in_device(const struct bridge *b, struct mqb_entity *e, const struct ent *x)
{
	return b->o.device_discovery && !x->dom->trigger &&
	       !json_object_get(entity__meta(e)->discovery, "device");
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

/* The object id e is announced with: its own, or <domain>_<object_id>
 * when its domain is announced as another component (DESIGN §10). NULL
 * on ENOMEM; free with mqb__fmt_free(id, buf). */
static char *discovery_object_id(struct mqb_entity *e, const struct domain *dom, char *buf,
				 size_t len)
{
	bool prefixed = dom->component != NULL;
	return mqb__fmt(buf, len, "%s%s%s", prefixed ? mqb_entity_domain(e) : "",
			prefixed ? "_" : "", mqb_entity_object_id(e));
}

/* The name Home Assistant is to give an entity of the bridge's device:
 * an entity has has_entity_name there, so its friendly name is the
 * device's and then its own, and one that starts with the device's name
 * already would say it twice (Home Assistant warned of it, then stopped
 * stripping it): it goes, as Home Assistant stripped it, and a name that
 * was nothing more is null (the device's own). */
static json_t *name_under(const char *name, const char *device)
{
	if (!name)
		return json_null();
	size_t n = strlen(device);
	if (!n || strncasecmp(name, device, n) != 0 || (name[n] && name[n] != ' '))
		return json_string(name);
	const char *rest = name + n;
	while (*rest == ' ')
		rest++;
	if (!*rest)
		return json_null();
	char buf[256];
	snprintf(buf, sizeof buf, "%s", rest);
	if (isupper((unsigned char)device[0]))
		buf[0] = (char)toupper((unsigned char)buf[0]);
	return json_string(buf);
}

/* A device trigger's discovery: Home Assistant's device_automation keys
 * and the topic its payloads go to, nothing of an entity's. */
static json_t *trigger_json(const struct entity_meta *m, const char *trigger_topic)
{
	static const char *const keys[] = {"automation_type", "type", "subtype", "payload",
					   "device"};
	json_t *d = json_object();
	for (size_t i = 0; d && i < MQB_ARRAY_SIZE(keys); i++) {
		json_t *v = json_object_get(m->discovery, keys[i]);
		if (v)
			json_object_set(d, keys[i], v);
	}
	if (d)
		json_object_set_new(d, "topic", json_string(trigger_topic));
	return d;
}

/* Home Assistant's discovery payload for e, announced as object_id of
 * component, keys per DESIGN §8: the same for every entity, then the
 * domain's (ha/domains.c), then the entity's own (its own device and
 * name, if it has one), then what the domain makes of them. NULL on
 * ENOMEM. */
static json_t *discovery_json(struct bridge *b, struct mqb_entity *e, const struct domain *dom,
			      const char *component, const char *object_id)
{
	const struct entity_meta *m = entity__meta(e);
	char sb[TOPIC_BUF], ab[TOPIC_BUF], vb[TOPIC_BUF], cb[TOPIC_BUF], bb[TOPIC_BUF];
	char *state = topic_of(b, e, dom->trigger ? "trigger" : "state", sb, sizeof sb);
	char *availability = topic_of(b, e, "availability", vb, sizeof vb);
	char *status = mqb__fmt(bb, sizeof bb, "%s/status", b->base);
	struct domain_topics topics = {
		.set = topic_of(b, e, "set", cb, sizeof cb),
		.attributes = topic_of(b, e, "attributes", ab, sizeof ab),
		.state = state,
	};
	char *uid = m->unique_id ? NULL : mqb__fmt(NULL, 0, "%s_%s", b->node_id, object_id);
	char *default_id = mqb__fmt(NULL, 0, "%s.%s", component, object_id);
	json_t *d = json_object();
	if (!d || !state || !topics.attributes || !availability || !topics.set || !status ||
	    (!m->unique_id && !uid) || !default_id) {
		json_decref(d);
		d = NULL;
		goto out;
	}
	if (dom->trigger) {
		json_decref(d);
		d = trigger_json(m, state);
		goto out;
	}
	json_object_set_new(d, "name", name_under(m->name, b->name));
	set_str(d, "unique_id", m->unique_id ? m->unique_id : uid);
	set_str(d, "object_id", object_id);
	set_str(d, "default_entity_id", default_id);
	if (!dom->stateless)
		set_str(d, dom->state_key ? dom->state_key : "state_topic", state);
	set_str(d, "json_attributes_topic", topics.attributes);
	json_t *avail = json_array();
	json_array_append_new(avail, json_pack("{ss}", "topic", status));
	json_array_append_new(avail, json_pack("{ss}", "topic", availability));
	json_object_set_new(d, "availability", avail);
	set_str(d, "availability_mode", "all");
	json_object_set_new(d, "device",
			    json_pack("{s[s]s:s,s:s,s:s}", "identifiers", b->node_id, "name",
				      b->name, "sw_version", PACKAGE_VERSION, "manufacturer",
				      "mqbridge"));
	set_str(d, "unit_of_measurement", m->unit);
	set_str(d, "device_class", m->device_class);
	set_str(d, "state_class", m->state_class);
	set_str(d, "icon", m->icon);
	set_str(d, "entity_category", m->category);
	if (entity__controllable(e) && !dom->no_command_topic)
		set_str(d, "command_topic", topics.set);
	for (const char *const *kv = dom->discovery; kv && *kv; kv += 2)
		set_str(d, kv[0], kv[1]);
	/* an entity of a device of its own brings it, and its name there */
	json_object_update(d, (json_t *)m->discovery);
	if (dom->discovery_after)
		dom->discovery_after(d, &topics);
	json_object_del(d, "_features");
out:
	mqb__fmt_free(state, sb);
	mqb__fmt_free((char *)topics.attributes, ab);
	mqb__fmt_free(availability, vb);
	mqb__fmt_free((char *)topics.set, cb);
	mqb__fmt_free(status, bb);
	mqb__free(uid);
	mqb__free(default_id);
	return d;
}

/* <prefix>/<component>/<node_id>/<object_id>/config, or the topic Home
 * Assistant knows a renamed entity by. NULL on ENOMEM; free with
 * mqb__fmt_free(topic, buf). */
static char *discovery_topic(struct bridge *b, struct mqb_entity *e, const struct ent *x,
			     char *buf, size_t len)
{
	if (x && x->known_topic)
		return mqb__fmt(buf, len, "%s", x->known_topic);
	const struct domain *dom = domains__get(mqb_entity_domain(e));
	char ob[TOPIC_BUF];
	char *object_id = discovery_object_id(e, dom, ob, sizeof ob);
	char *t = object_id ? mqb__fmt(buf, len, "%s/%s/%s/%s/config", b->prefix,
				       domain__component(dom, mqb_entity_domain(e)), b->node_id,
				       object_id)
			    : NULL;
	mqb__fmt_free(object_id, ob);
	return t;
}

/* An entity renamed with its unique_id kept stays announced where Home
 * Assistant has it: emptying that topic would make Home Assistant drop
 * the entity from its registry and register it anew, under a new entity
 * id, without its history. */
static void keep_known_topic(struct bridge *b, struct mqb_entity *e, struct ent *x)
{
	const char *uid = entity__meta(e)->unique_id;
	if (!uid || x->known_topic || !b->sweep || !ghosts__ready(b->sweep))
		return;
	char tb[TOPIC_BUF];
	char *t = discovery_topic(b, e, x, tb, sizeof tb);
	const char *known = t ? ghosts__renamed(b->sweep, uid, t) : NULL;
	if (known && (x->known_topic = mqb__strdup(known)))
		MQB_LOG_INFO(SUB, "%s: announced on %s, where Home Assistant knows its unique id "
			     "%s, not on %s", mqb_entity_id(e), known, uid, t);
	mqb__fmt_free(t, tb);
}

static void device_soon(struct bridge *b);

static void announce_discovery(struct bridge *b, struct mqb_entity *e, struct ent *x)
{
	if (!b->o.discovery)
		return;
	if (in_device(b, e, x)) {
		/* announcing everything began with the device's message */
		if (!b->announcing_all)
			device_soon(b);
		return;
	}
	keep_known_topic(b, e, x);
	const struct domain *dom = x->dom;
	const char *component = domain__component(dom, mqb_entity_domain(e));
	char ob[TOPIC_BUF], tb[TOPIC_BUF];
	char *object_id = discovery_object_id(e, dom, ob, sizeof ob);
	json_t *d = object_id ? discovery_json(b, e, dom, component, object_id) : NULL;
	char *s = d ? mqb_json_dumps(d, MQB_JSON_COMPACT) : NULL;
	json_decref(d);
	char *t = s ? discovery_topic(b, e, x, tb, sizeof tb) : NULL;
	if (s)
		publish(b, t, s, true);
	mqb__fmt_free(t, tb);
	free(s);
	mqb__fmt_free(object_id, ob);
}

/* Home Assistant's device-based discovery (2024.11; its discovery.py,
 * _parse_device_payload): "dev" and "o" once, and each entity's payload
 * under "cmps" by its object id, its platform as "p". The topic's node
 * id makes each component's discovery id "<node_id> <object_id>", as the
 * per-entity topic does. A component whose payload is "p" alone is
 * removed. NULL on ENOMEM. */
static json_t *device_json(struct bridge *b)
{
	json_t *d = json_pack("{s:{s[s]s:s,s:s,s:s},s:{s:s,s:s},s:{}}", "dev", "identifiers",
			      b->node_id, "name", b->name, "sw_version", PACKAGE_VERSION,
			      "manufacturer", "mqbridge", "o", "name", "mqbridge", "sw_version",
			      PACKAGE_VERSION, "cmps");
	json_t *cmps = json_object_get(d, "cmps");
	size_t n = mqb_entities_async_count(b->core);
	for (size_t i = 0; d && i < n; i++) {
		struct mqb_entity *e = mqb_entities_async_get(b->core, i);
		struct ent *x = ent_of(b, e);
		if (!x || !in_device(b, e, x))
			continue;
		const char *component = domain__component(x->dom, mqb_entity_domain(e));
		char ob[TOPIC_BUF];
		char *object_id = discovery_object_id(e, x->dom, ob, sizeof ob);
		json_t *c = object_id ? discovery_json(b, e, x->dom, component, object_id) : NULL;
		if (c) {
			json_object_del(c, "device");
			json_object_set_new(c, "p", json_string(component));
		}
		if (!c || json_object_set_new(cmps, object_id, c)) {
			json_decref(d);
			d = NULL;
		}
		mqb__fmt_free(object_id, ob);
	}
	if (d && b->device_removed) {
		const char *k;
		json_t *v;
		json_object_foreach(b->device_removed, k, v)
			if (!json_object_get(cmps, k))
				json_object_set(cmps, k, v);
	}
	return d;
}

/* Send the device's discovery if it is due and may go: once every entity
 * is set up (one message, not one per entity added), connected, and what
 * is retained has been read. An empty device is cleared. */
static void device_flush(struct bridge *b)
{
	if (!b->device_dirty || !b->o.device_discovery || !mqb_core_async_started(b->core) ||
	    b->sweep || !connected(b))
		return;
	ev_timer_stop(core__loop(b->core), &b->device_timer);
	json_t *d = device_json(b);
	bool empty = d && json_object_size(json_object_get(d, "cmps")) == 0;
	char *s = d && !empty ? mqb_json_dumps(d, MQB_JSON_COMPACT) : NULL;
	json_decref(d);
	if (!d || (!empty && !s))
		return; /* out of memory: the next announcement tries again */
	b->device_dirty = false;
	size_t len = s ? strlen(s) : 0;
	int rc = mqb_mqtt_async_publish(b->core, b->device_topic, s ? s : "", len, 0, true, NULL);
	if (rc == 0)
		b->sent++;
	else if (rc == -EINVAL)
		MQB_LOG_ERROR(SUB, "the device's discovery (%zu bytes) is larger than mqtt."
			      "max_payload allows: Home Assistant does not see the entities; "
			      "raise max_payload (about 500 bytes an entity) or use "
			      "discovery_mode: entity", len);
	free(s);
	MQB_LOG_DEBUG(SUB, "device discovery on %s: %zu bytes", b->device_topic, len);
	json_decref(b->device_removed);
	b->device_removed = NULL;
	if (len > 1 << 20)
		mqb__trim();
}

static void device_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	device_flush(w->data);
}

/* The device's discovery is to go again: gathered for a tenth of a
 * second, so that entities added or removed together are one message. */
static void device_soon(struct bridge *b)
{
	b->device_dirty = true;
	if (mqb_core_async_started(b->core) && !ev_is_active(&b->device_timer)) {
		ev_timer_set(&b->device_timer, 0.1, 0);
		ev_timer_start(core__loop(b->core), &b->device_timer);
	}
}

/* ---- states out --------------------------------------------------------- */

static void send_availability(struct bridge *b, struct mqb_entity *e, struct ent *x)
{
	char buf[TOPIC_BUF];
	bool a = mqb_entity_async_available(e);
	char *t = topic_of(b, e, "availability", buf, sizeof buf);
	publish(b, t, a ? "online" : "offline", true);
	mqb__fmt_free(t, buf);
	x->available = a;
}

static void send_attributes(struct bridge *b, struct mqb_entity *e, struct ent *x, bool always)
{
	const json_t *a = mqb_entity_async_attributes(e);
	json_t *with = NULL;
	if (x->dom->attributes_with_state) {
		/* the state beside them, for a reader of one object */
		with = a ? json_copy((json_t *)a) : json_object();
		if (with)
			json_object_set_new(with, "state",
					    json_string(mqb_entity_async_available(e)
								? mqb_entity_async_state(e)
								: "unavailable"));
		a = with;
	}
	char text[512];
	char *s = a ? json__dump(a, MQB_JSON_COMPACT | MQB_JSON_SORT_KEYS, text, sizeof text, NULL)
		    : strcpy(text, "{}");
	json_decref(with);
	if (!s)
		return;
	uint64_t h = text_hash(s);
	if (!always && x->attrs_known && h == x->attrs_hash) {
		mqb__fmt_free(s, text);
		return;
	}
	if (a || x->attrs_known) {
		char buf[TOPIC_BUF];
		char *t = topic_of(b, e, "attributes", buf, sizeof buf);
		publish(b, t, s, true);
		mqb__fmt_free(t, buf);
	}
	mqb__fmt_free(s, text);
	x->attrs_known = true;
	x->attrs_hash = h;
}

static void send_state(struct bridge *b, struct mqb_entity *e, struct ent *x, const char *state)
{
	if (x->dom->stateless || x->dom->trigger)
		return;
	char buf[TOPIC_BUF];
	char *t = topic_of(b, e, "state", buf, sizeof buf);
	publish(b, t, state, true);
	mqb__fmt_free(t, buf);
}

/* A device trigger fired: its payload, once, not retained (a retained
 * one would fire again whenever Home Assistant subscribes). */
static void send_trigger(struct bridge *b, struct mqb_entity *e, const char *payload)
{
	char buf[TOPIC_BUF];
	char *t = topic_of(b, e, "trigger", buf, sizeof buf);
	publish(b, t, payload, false);
	mqb__fmt_free(t, buf);
}

static void mirror_state(struct bridge *b, const struct mqb_state *ns, const struct mqb_state *os);
static bool mirrored(const struct bridge *b, const char *eid);

/* Everything about one entity, as after a connect. */
static void announce_entity(struct bridge *b, struct mqb_entity *e)
{
	struct ent *x = ent_of(b, e);
	if (!x)
		return;
	x->gen = b->gen;
	announce_discovery(b, e, x);
	if (x->dom->trigger) {
		x->available = 1; /* announced: its payloads go out from now */
		return;
	}
	send_availability(b, e, x);
	struct mqb_state *s = mqb_states_async_get(b->core, mqb_entity_id(e));
	send_state(b, e, x, s ? mqb_state_value(s) : mqb_entity_async_state(e));
	if (s && b->ss_base && mirrored(b, mqb_entity_id(e)))
		mirror_state(b, s, NULL);
	mqb_state_unref(s);
	send_attributes(b, e, x, true);
}

static bool connected(struct bridge *b)
{
	struct mqb_mqtt_stats st;
	return mqb_mqtt_async_stats(b->core, &st) == 0 && st.connected;
}

/* Whether announce_rate lets another entity out now; if not, the timer
 * is set for when it will. A token bucket: tokens accrue at the rate up
 * to ANNOUNCE_BURST's worth, and each message announced takes one. */
static bool announce_paced(struct bridge *b)
{
	double rate = b->o.announce_rate;
	if (rate <= 0)
		return false;
	/* an entity is a handful of messages: discovery, availability,
	 * state, attributes */
	const double entity = 4, burst = rate * ANNOUNCE_BURST > 4 * entity ? rate * ANNOUNCE_BURST
									  : 4 * entity;
	struct ev_loop *loop = core__loop(b->core);
	double now = ev_now(loop);
	b->tokens += (now - b->tokens_at) * rate;
	b->tokens_at = now;
	if (b->tokens > burst)
		b->tokens = burst;
	if (b->tokens >= entity)
		return false;
	double wait = (entity - b->tokens) / rate;
	ev_timer_stop(loop, &b->announce_timer);
	ev_timer_set(&b->announce_timer, wait > 0.001 ? wait : 0.001, 0);
	ev_timer_start(loop, &b->announce_timer);
	return true;
}

static void announce_some(struct bridge *b)
{
	struct mqb_mqtt_stats st;
	size_t n = mqb_entities_async_count(b->core);
	while (b->announce_next < n) {
		if (mqb_mqtt_async_stats(b->core, &st) || !st.connected) {
			b->announce_next = SIZE_MAX; /* the next connect starts over */
			b->announcing_all = false;
			return;
		}
		if (st.queued >= ANNOUNCE_BACKLOG) {
			ev_timer_set(&b->announce_timer, 0.005, 0);
			ev_timer_start(core__loop(b->core), &b->announce_timer);
			return;
		}
		if (announce_paced(b))
			return;
		unsigned long long sent = b->sent;
		announce_entity(b, mqb_entities_async_get(b->core, b->announce_next++));
		b->tokens -= (double)(b->sent - sent);
	}
	device_flush(b);
	if (b->announce_next != SIZE_MAX && b->announcing_all) {
		MQB_LOG_INFO(SUB, "announced %zu entities", n);
		if (n >= 1000)
			mqb__trim(); /* the discovery payloads made on the way */
	}
	b->announce_next = SIZE_MAX;
	b->announcing_all = false;
	if (b->announced)
		b->announced(b->announced_ud);
}

static void announce_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	announce_some(w->data);
}

static void announce_all(struct bridge *b)
{
	ev_timer_stop(core__loop(b->core), &b->announce_timer);
	b->announce_next = 0;
	b->announcing_all = true;
	b->gen++;
	/* the device's discovery first, when every entity is known */
	if (b->o.device_discovery && b->o.discovery) {
		b->device_dirty = true;
		device_flush(b);
	}
	announce_some(b);
}

/* ---- ghosts ------------------------------------------------------------- */

/* Whether the sweep is still reading what is retained: announcing waits
 * for it, to announce a renamed entity where Home Assistant knows it. */
static bool reading(const struct bridge *b)
{
	return b->sweep && !ghosts__ready(b->sweep);
}

/* Once every entity is set up (mqbridge_start) and what is retained has
 * been read: clear what no entity has. */
static void finish_sweep(struct bridge *b)
{
	size_t n = mqb_entities_async_count(b->core);
	bool complete = true;
	/* the device's components Home Assistant has and the configuration
	 * has not: sent once more as {"p": component}, which removes them */
	const json_t *had = ghosts__device_components(b->sweep);
	json_t *gone = had ? json_deep_copy(had) : NULL;
	for (size_t i = 0; i < n && complete; i++) {
		struct mqb_entity *e = mqb_entities_async_get(b->core, i);
		struct ent *x = ent_of(b, e);
		char tb[TOPIC_BUF], pb[TOPIC_BUF];
		bool dev = x && b->o.discovery && in_device(b, e, x);
		if (x && b->o.discovery && !dev)
			keep_known_topic(b, e, x);
		if (dev && gone) {
			char ob[TOPIC_BUF];
			char *object_id = discovery_object_id(e, x->dom, ob, sizeof ob);
			if (object_id)
				json_object_del(gone, object_id);
			mqb__fmt_free(object_id, ob);
		}
		char *t = dev                     ? mqb__fmt(tb, sizeof tb, "%s", b->device_topic)
			  : b->o.discovery && x ? discovery_topic(b, e, x, tb, sizeof tb)
						: NULL;
		char *prefix = topic_of(b, e, "", pb, sizeof pb); /* <base>/<domain>/<id>/ */
		complete = x && prefix && (t || !b->o.discovery) &&
			   ghosts__expect(b->sweep, t, prefix) == 0;
		mqb__fmt_free(t, tb);
		mqb__fmt_free(prefix, pb);
	}
	if (complete && gone) {
		const char *k;
		json_t *v;
		void *tmp;
		json_object_foreach_safe(gone, tmp, k, v) {
			json_t *p = json_is_object(v) ? json_object_get(v, "p") : NULL;
			if (!p)
				p = json_is_object(v) ? json_object_get(v, "platform") : NULL;
			if (!json_is_string(p) || json_object_size(v) == 1) {
				json_object_del(gone, k); /* removed already */
				continue;
			}
			json_object_set_new(gone, k, json_pack("{s:O}", "p", p));
			MQB_LOG_INFO(SUB, "removing %s from the device's discovery: an entity the "
				     "configuration no longer has", k);
		}
		if (json_object_size(gone)) {
			if (!b->device_removed)
				b->device_removed = json_object();
			json_object_update(b->device_removed, gone);
			b->device_dirty = true;
		}
	}
	json_decref(gone);
	if (complete)
		ghosts__async_finish(b->sweep);
	else
		ghosts__async_free(b->sweep); /* out of memory: the next connect sweeps */
	b->sweep = NULL;
}

static void on_swept(void *ud)
{
	struct bridge *b = ud;
	if (mqb_core_async_started(b->core))
		finish_sweep(b);
	announce_all(b);
}

static int on_started(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct bridge *b = ud;
	mqb_bus_async_unlisten(b->core, b->on_start);
	b->on_start = NULL;
	if (b->sweep && ghosts__ready(b->sweep))
		finish_sweep(b);
	device_flush(b);
	return 0;
}

/* What is retained under the node: discovery when it is on, and the
 * states unless mqtt_statestream mirrors into the same topics. */
static int start_sweep(struct bridge *b)
{
	char fb[TOPIC_BUF], mb[TOPIC_BUF];
	char *filter = mqb__fmt(fb, sizeof fb, "%s/+/%s/+/config", b->prefix, b->node_id);
	char *marker = mqb__fmt(mb, sizeof mb, "%s/sweep", b->base);
	bool states = !b->ss_base || strcmp(b->ss_base, b->base) != 0;
	struct ghosts_options o = {
		.core = b->core,
		.discovery_filter = b->o.discovery ? filter : NULL,
		.device_topic = b->o.discovery ? b->device_topic : NULL,
		.state_base = states ? b->base : NULL,
		.marker = marker,
		.ready = on_swept,
		.ud = b,
	};
	int rc = filter && marker ? ghosts__async_start(&o, &b->sweep) : -ENOMEM;
	mqb__fmt_free(filter, fb);
	mqb__fmt_free(marker, mb);
	return rc;
}

static int on_connect(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct bridge *b = ud;
	if (b->diag)
		mqb_entity_async_schedule_update(b->diag);
	/* A pending answer to Home Assistant's "online" is covered by this. */
	ev_timer_stop(core__loop(b->core), &b->ha_online_timer);
	b->ha_online_n = 0;
	/* announcing follows the sweep's reading (on_swept) */
	if (b->sweep)
		ghosts__async_restart(b->sweep);
	else if (start_sweep(b))
		announce_all(b);
	return 0;
}

/* <base>/status online, as the client's birth says it after a connect
 * (retained, QoS 1), for a Home Assistant that came back: the bridge's
 * availability comes first in the re-announcement (DESIGN §8). */
static void say_online(struct bridge *b)
{
	char buf[TOPIC_BUF];
	char *t = mqb__fmt(buf, sizeof buf, "%s/status", b->base);
	int rc = t ? mqb_mqtt_async_publish(b->core, t, "online", 6, 1, true, NULL) : -ENOMEM;
	if (rc && rc != -ESHUTDOWN)
		MQB_LOG_WARNING(SUB, "cannot say online on %s/status: %s", b->base, mqb_strerror(rc));
	mqb__fmt_free(t, buf);
}

static void ha_online_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct bridge *b = w->data;
	if (b->ha_online_n > 1)
		MQB_LOG_DEBUG(SUB, "%llu 'online' messages from Home Assistant answered as one",
			      b->ha_online_n);
	b->ha_online_n = 0;
	say_online(b);
	if (!reading(b))
		announce_all(b); /* else the sweep's end announces */
}

static int on_ha_status(void *ud, void *arg, void **result)
{
	(void)result;
	struct bridge *b = ud;
	const struct mqb_mqtt_message *msg = arg;
	const char *p = mqb_mqtt_message_payload(msg);
	if (strcmp(p, "online") != 0)
		return 0;
	struct ev_loop *loop = core__loop(b->core);
	double now = ev_now(loop);
	if (b->ha_online_n++ == 0) {
		b->ha_online_first = now;
		b->ha_online_jitter = HA_ONLINE_JITTER * mqb__random_unit(&b->rng);
		MQB_LOG_INFO(SUB, "Home Assistant is online: announcing everything again in %.1f s",
			     HA_ONLINE_QUIET + b->ha_online_jitter);
	}
	double at = now + HA_ONLINE_QUIET + b->ha_online_jitter;
	if (at > b->ha_online_first + HA_ONLINE_MAX_WAIT)
		at = b->ha_online_first + HA_ONLINE_MAX_WAIT;
	ev_timer_stop(loop, &b->ha_online_timer);
	ev_timer_set(&b->ha_online_timer, at > now ? at - now : 0, 0);
	ev_timer_start(loop, &b->ha_online_timer);
	return 0;
}

/* <discovery_prefix>/status: Home Assistant's birth and will. */
static int subscribe_ha_status(struct bridge *b)
{
	char buf[TOPIC_BUF];
	char *t = mqb__fmt(buf, sizeof buf, "%s/status", b->prefix);
	int rc = t ? mqb_mqtt_async_subscribe(b->core, t, 0, &MQB_CALLBACK(on_ha_status, b),
					      &b->ha_status)
		   : -ENOMEM;
	mqb__fmt_free(t, buf);
	return rc;
}

/* state_changed: publish what changed of one of our entities. */
static int on_state_changed(void *ud, void *arg, void **result)
{
	(void)result;
	struct bridge *b = ud;
	const struct mqb_event *ev = arg;
	const struct mqb_state *ns = mqb_event_new_state(ev);
	if (!ns)
		return 0;
	struct mqb_entity *e = mqb_entities_async_find(b->core, mqb_event_entity_id(ev));
	if (!e)
		return 0; /* not ours */
	struct ent *x = ent_of(b, e);
	if (!x || x->available < 0 || (b->announce_next != SIZE_MAX && x->gen != b->gen)) {
		/* not announced yet: the announcement (now or after the next
		 * connect) sends its current values */
		return 0;
	}
	const struct mqb_state *os = mqb_event_old_state(ev);
	if (x->dom->trigger) {
		if (strcmp(mqb_state_value(ns), "unknown") != 0 &&
		    strcmp(mqb_state_value(ns), "unavailable") != 0)
			send_trigger(b, e, mqb_state_value(ns));
		return 0;
	}
	if ((int)mqb_entity_async_available(e) != x->available)
		send_availability(b, e, x);
	bool changed = !os || strcmp(mqb_state_value(os), mqb_state_value(ns)) != 0 ||
		       entity__force_update(e);
	if (changed)
		send_state(b, e, x, mqb_state_value(ns));
	send_attributes(b, e, x, changed && x->dom->attributes_follow_state);
	return 0;
}

/* ---- commands in -------------------------------------------------------- */

static int on_set(void *ud, void *arg, void **result)
{
	(void)result;
	struct mqb_entity *e = ud;
	struct mqb_core *core = mqb_entity_core(e);
	const struct mqb_mqtt_message *msg = arg;
	const char *p = mqb_mqtt_message_payload(msg);
	const char *domain = mqb_entity_domain(e);
	json_t *data = json_object();
	if (!data)
		return -ENOMEM;
	const char *service = NULL;
	json_t *probe = json_string(p); /* NULL when not UTF-8 */
	bool text = probe && strlen(p) == mqb_mqtt_message_len(msg);
	json_decref(probe);
	const struct domain *dom = domains__get(domain);
	if (text && dom->command)
		service = dom->command(p, data);
	if (!service) {
		MQB_LOG_WARNING(SUB, "%s: ignoring command '%.64s' on %s: not one %s takes",
				mqb_entity_id(e), text ? p : "(not UTF-8 text)",
				mqb_mqtt_message_topic(msg), domain);
		json_decref(data);
		return 0;
	}
	json_object_set_new(data, "entity_id", json_string(mqb_entity_id(e)));
	int rc = mqb_services_async_call(core, domain, service, data, NULL);
	if (rc)
		MQB_LOG_WARNING(SUB, "%s: %s.%s: %s", mqb_entity_id(e), domain, service,
				mqb_strerror(rc));
	return 0;
}

static void on_added(void *ud, struct mqb_entity *e)
{
	struct bridge *b = ud;
	struct ent *x = ent_of(b, e);
	if (!x)
		return;
	if (entity__controllable(e) && !x->set) {
		char buf[TOPIC_BUF];
		char *t = topic_of(b, e, "set", buf, sizeof buf);
		int rc = t ? mqb_mqtt_async_subscribe(b->core, t, 0, &MQB_CALLBACK(on_set, e), &x->set)
			   : -ENOMEM;
		if (rc)
			MQB_LOG_ERROR(SUB, "%s: cannot subscribe to %s: %s", mqb_entity_id(e),
				      t ? t : "its set topic", mqb_strerror(rc));
		mqb__fmt_free(t, buf);
	}
	if (b->o.discovery && in_device(b, e, x) && mqb_core_async_started(b->core))
		device_soon(b); /* also while an announcement that began without it runs */
	/* One added once connected is announced now, at the pace of the
	 * announcement: thousands may come while the first connect's runs (set
	 * up a few at a time), and the client's queue must not overflow. */
	if (b->announce_next == SIZE_MAX && !reading(b) && connected(b)) {
		b->announce_next = mqb_entities_async_count(b->core) - 1; /* e, the last */
		announce_some(b);
	}
	/* else: the running announcement reaches it (it counts them as it goes),
	 * or the next connect's does */
}

/* An entity gone from the configuration (a reload): Home Assistant drops
 * an MQTT entity whose discovery topic is emptied, and nothing of it may
 * stay retained on the broker to come back as a ghost. */
static void on_removed(void *ud, struct mqb_entity *e, size_t index)
{
	struct bridge *b = ud;
	struct ent *x = *entity__bridge_slot(e);
	if (b->announce_next != SIZE_MAX && b->announce_next > index)
		b->announce_next--;
	if (x && x->set)
		mqb_mqtt_async_unsubscribe(b->core, x->set);
	if (x) {
		static const char *const leaves[] = {"state", "attributes", "availability"};
		for (size_t i = 0; !x->dom->trigger && i < MQB_ARRAY_SIZE(leaves); i++) {
			char buf[TOPIC_BUF];
			char *t = topic_of(b, e, leaves[i], buf, sizeof buf);
			publish(b, t, "", true);
			mqb__fmt_free(t, buf);
		}
		if (b->o.discovery && in_device(b, e, x)) {
			/* the device's discovery without it, and {"p": ...} once */
			char ob[TOPIC_BUF];
			const char *component = domain__component(x->dom, mqb_entity_domain(e));
			char *object_id = discovery_object_id(e, x->dom, ob, sizeof ob);
			if (!b->device_removed)
				b->device_removed = json_object();
			if (object_id && b->device_removed)
				json_object_set_new(b->device_removed, object_id,
						    json_pack("{s:s}", "p", component));
			mqb__fmt_free(object_id, ob);
			device_soon(b);
		} else if (b->o.discovery) {
			char tb[TOPIC_BUF];
			char *t = discovery_topic(b, e, x, tb, sizeof tb);
			publish(b, t, "", true);
			mqb__fmt_free(t, tb);
		}
		mqb__free(x->known_topic);
		mqb__free(x);
		*entity__bridge_slot(e) = NULL;
	}
	MQB_LOG_INFO(SUB, "%s removed: its discovery, state and availability cleared",
		     mqb_entity_id(e));
}

/* ---- mqtt.publish ----------------------------------------------------------- */

/* A template given in a service call's data: compiled and rendered on the
 * spot (Home Assistant does the same). NULL with the error logged. */
static char *render_data(struct bridge *b, const char *what, const char *text, size_t *len)
{
	struct mqb_template *t = NULL;
	struct mqb_tpl_error err;
	char *out = NULL;
	int rc = mqb_template_compile(text, strlen(text), &t, &err);
	if (rc == 0) {
		struct mqb_tpl_vars v = {.core = b->core};
		rc = mqb_template_render(t, &v, NULL, &out, len, &err);
	}
	mqb_template_free(t);
	if (rc) {
		MQB_LOG_WARNING(SUB, "mqtt.publish: %s: %s (line %u, column %u)", what,
				rc == -ENOMEM ? "out of memory" : err.message, err.line, err.column);
		return NULL;
	}
	return out;
}

/* What Home Assistant's cv.string makes of a field of the call's data:
 * the text itself (or, for one a template rendered as a list or mapping,
 * the text it rendered: services__call_text), str() of a number or a
 * boolean; a structure written in YAML as JSON. NULL when absent or None.
 * buf: DTOA_REPR_MAX bytes at least; *heap: to free. */
static const char *field_text(const struct mqb_service_call *c, const char *key, char *buf,
			      size_t buflen, char **heap, size_t *len)
{
	const json_t *v = json_object_get(mqb_service_call_data(c), key);
	const char *s;
	*heap = NULL;
	if (json_is_string(v)) {
		*len = json_string_length(v);
		return json_string_value(v);
	}
	if ((s = services__call_text(c, key, len)))
		return s;
	if (json_is_integer(v))
		*len = (size_t)snprintf(buf, buflen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		*len = dtoa__repr(json_real_value(v), buf);
	else if (json_is_boolean(v))
		*len = (size_t)snprintf(buf, buflen, "%s", json_is_true(v) ? "True" : "False");
	else if (v && !json_is_null(v))
		return (*heap = mqb_json_dumps(v, MQB_JSON_COMPACT)) ? (*len = strlen(*heap), *heap)
								  : NULL;
	else
		return NULL;
	return buf;
}

/* Home Assistant's mqtt.publish: topic or topic_template, payload or
 * payload_template, qos, retain. Its topic and payload are cv.string
 * fields (services__async_set_text_fields): a script gives them as the
 * text its templates rendered, sent as it is. */
static const char *const publish_text_fields[] = { "topic", "payload", NULL };

static int mqtt_publish_service(void *ud, void *arg, void **result)
{
	(void)result;
	struct bridge *b = ud;
	const struct mqb_service_call *c = arg;
	const json_t *d = mqb_service_call_data(c);
	char tnum[DTOA_REPR_MAX], pnum[DTOA_REPR_MAX];
	char *theap = NULL, *pheap = NULL;
	size_t plen = 0, tlen;
	const char *topic = field_text(c, "topic", tnum, sizeof tnum, &theap, &tlen);
	const char *payload = field_text(c, "payload", pnum, sizeof pnum, &pheap, &plen);
	const char *ttpl = json_string_value(json_object_get(d, "topic_template"));
	const char *ptpl = json_string_value(json_object_get(d, "payload_template"));
	json_int_t qos = json_is_integer(json_object_get(d, "qos"))
				 ? json_integer_value(json_object_get(d, "qos"))
				 : 0;
	bool retain = json_is_true(json_object_get(d, "retain"));
	char *tbuf = NULL, *pbuf = NULL;
	int rc = -EINVAL;
	if (ttpl)
		topic = tbuf = render_data(b, "topic_template", ttpl, &tlen);
	if (!topic || !mqb_mqtt_topic_valid(topic, strlen(topic))) {
		MQB_LOG_WARNING(SUB, "mqtt.publish: no valid topic (%s)", topic ? topic : "none");
		goto out;
	}
	if (qos < 0 || qos > 2) {
		MQB_LOG_WARNING(SUB, "mqtt.publish: qos must be 0, 1 or 2");
		goto out;
	}
	if (ptpl) {
		if (!(payload = pbuf = render_data(b, "payload_template", ptpl, &plen)))
			goto out;
	} else if (!payload) {
		payload = "";
		plen = 0;
	}
	rc = mqb_mqtt_async_publish(b->core, topic, payload, plen, (int)qos, retain, NULL);
	if (rc)
		MQB_LOG_WARNING(SUB, "mqtt.publish to %s: %s", topic, mqb_strerror(rc));
out:
	free(tbuf);
	free(pbuf);
	free(theap);
	free(pheap);
	return rc;
}

/* ---- the diagnostic sensor ------------------------------------------------ */

/* Runs of scripts and automations going on now, from their entities'
 * `current` attribute. */
static json_int_t running_scripts(struct mqb_core *core)
{
	json_int_t n = 0;
	size_t count = mqb_entities_async_count(core);
	for (size_t i = 0; i < count; i++) {
		struct mqb_entity *e = mqb_entities_async_get(core, i);
		const char *d = mqb_entity_domain(e);
		if (strcmp(d, "script") != 0 && strcmp(d, "automation") != 0)
			continue;
		const json_t *a = mqb_entity_async_attributes(e);
		n += json_integer_value(json_object_get(a, "current"));
	}
	return n;
}

/* A coroutine: the process's figures come from the pool. */
static int diag_update(struct mqb_entity *e, void *priv)
{
	struct bridge *b = priv;
	struct mqb_mqtt_stats st;
	struct mqb_process_stats ps;
	struct mqb_core_stats cs;
	int rc = mqb_process_async_stats(b->core, &ps);
	if (rc == -ECANCELED)
		return rc;
	if (mqb_mqtt_async_stats(b->core, &st))
		return -ENOTCONN;
	mqb_core_async_stats(b->core, &cs);
	json_t *a = json_pack("{sI,sI,sI,sI,sI,sI,sI,sI,sI,sI,sI,sI,si,si,si}",
			      "connects", (json_int_t)st.connects,
			      "reconnects", (json_int_t)st.reconnects,
			      "connect_failures", (json_int_t)st.connect_failures,
			      "received", (json_int_t)st.received,
			      "dispatched", (json_int_t)st.dispatched,
			      "dropped_invalid_topic", (json_int_t)st.dropped_invalid_topic,
			      "dropped_too_large", (json_int_t)st.dropped_too_large,
			      "dropped_handler_busy", (json_int_t)st.dropped_handler_busy,
			      "published", (json_int_t)st.published,
			      "publish_failures", (json_int_t)st.publish_failures,
			      "queue_overflows", (json_int_t)st.queue_overflows,
			      "entities", (json_int_t)mqb_entities_async_count(b->core),
			      "queued", (int)st.queued, "inflight", (int)st.inflight,
			      "subscriptions", (int)st.subscriptions);
	json_t *more = json_pack(
		"{sI,sI,sI,si,si,sI}", "command_failures",
		(json_int_t)mqb_core_counted(b->core, MQB_COUNT_COMMAND_FAILURES), "command_timeouts",
		(json_int_t)mqb_core_counted(b->core, MQB_COUNT_COMMAND_TIMEOUTS), "render_errors",
		(json_int_t)mqb_core_counted(b->core, MQB_COUNT_RENDER_ERRORS), "executor_queued",
		(int)cs.executor_queued, "executor_running", (int)cs.executor_running,
		"running_scripts", running_scripts(b->core));
	if (rc == 0 && more) {
		json_object_set_new(more, "uptime", json_integer((json_int_t)ps.uptime));
		json_object_set_new(more, "memory_resident", json_integer((json_int_t)ps.rss_bytes));
		json_object_set_new(more, "cpu_seconds",
				    json_real((double)(long long)(ps.cpu_seconds * 100) / 100));
	}
	if (a)
		json_object_update(a, more);
	json_decref(more);
	mqb_entity_async_set_state(e, st.connected ? "connected" : "disconnected");
	mqb_entity_async_set_attributes(e, a);
	return mqb_entity_async_write(e);
}

static const struct mqb_entity_ops diag_ops = {.async_update = diag_update};
static const struct mqb_platform_domain diag_domain = {.domain = "sensor"};
static const struct mqb_platform_desc diag_desc = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = "mqbridge",
	.domains = &diag_domain,
	.ndomains = 1,
};

/* "<name> bridge", sensor.<node_id>_bridge. */
static int add_diagnostic_sensor(struct bridge *b, double interval)
{
	struct mqb_platform *p = entities__platform(b->core, &diag_desc, &diag_domain);
	char *name = mqb__fmt(NULL, 0, "%s bridge", b->name);
	char *object_id = mqb__fmt(NULL, 0, "%s_bridge", b->node_id);
	struct mqb_entity_info info = {
		.name = name,
		.object_id = object_id,
		.icon = "mdi:bridge",
		.entity_category = "diagnostic",
		.scan_interval = interval,
	};
	int rc = p && name && object_id
			 ? mqb_platform_async_add_entity(p, &info, &diag_ops, b, &b->diag)
			 : -ENOMEM;
	mqb__free(name);
	mqb__free(object_id);
	return rc;
}

/* ---- mqtt_statestream ----------------------------------------------------- */

/* Home Assistant's layout: the state, then every attribute as JSON (all of
 * them on each change, as its statestream does), then the timestamps. */
/* <statestream base>/<domain>/<object_id>/<leaf>, or NULL on ENOMEM. */
static char *mirror_topic(struct bridge *b, const char *eid, const char *dot, const char *leaf,
			  char *buf, size_t len)
{
	return mqb__fmt(buf, len, "%s/%.*s/%s/%s", b->ss_base, (int)(dot - eid), eid, dot + 1,
			leaf);
}

/* Home Assistant's layout: the state, the timestamps as isoformat text,
 * and every attribute as json.dumps writes it (all of them on each change,
 * as its statestream does). */
static void mirror_state(struct bridge *b, const struct mqb_state *ns, const struct mqb_state *os)
{
	char buf[TOPIC_BUF];
	char *t;
	const char *eid = mqb_state_entity_id(ns);
	const char *dot = strchr(eid, '.');
	if (!dot)
		return;
	if (!os || strcmp(mqb_state_value(os), mqb_state_value(ns)) != 0) {
		t = mirror_topic(b, eid, dot, "state", buf, sizeof buf);
		publish(b, t, mqb_state_value(ns), true);
		mqb__fmt_free(t, buf);
	}
	if (b->o.statestream_timestamps) {
		const char *keys[] = {"last_changed", "last_updated"};
		double when[] = {mqb_state_last_changed(ns), mqb_state_last_updated(ns)};
		for (int i = 0; i < 2; i++) {
			char iso[MQB_ISOFORMAT_MAX];
			if (!mqb_isoformat(when[i], iso))
				continue;
			t = mirror_topic(b, eid, dot, keys[i], buf, sizeof buf);
			publish(b, t, iso, true);
			mqb__fmt_free(t, buf);
		}
	}
	if (b->o.statestream_attributes) {
		const json_t *na = mqb_state_attributes(ns);
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)na, k, v) {
			char *s = mqb_json_dumps(v, MQB_JSON_ENSURE_ASCII);
			t = mirror_topic(b, eid, dot, k, buf, sizeof buf);
			if (s && t && mqb_mqtt_topic_valid(t, strlen(t)))
				publish(b, t, s, true);
			mqb__fmt_free(t, buf);
			free(s);
		}
	}
}

static bool mirrored(const struct bridge *b, const char *eid)
{
	return mqb_entity_filter_match(b->o.statestream_include, "", b->o.statestream_exclude, "",
				       eid);
}

static int on_any_state(void *ud, void *arg, void **result)
{
	(void)result;
	struct bridge *b = ud;
	const struct mqb_event *ev = arg;
	const struct mqb_state *ns = mqb_event_new_state(ev);
	if (ns && connected(b) && mirrored(b, mqb_state_entity_id(ns)))
		mirror_state(b, ns, mqb_event_old_state(ev));
	return 0;
}

/* ---- readiness -------------------------------------------------------------- */

bool bridge__async_announced(struct mqb_core *core)
{
	struct bridge *b = core__slot(core, CORE_SLOT_BRIDGE);
	return b && b->gen > 0 && b->announce_next == SIZE_MAX && connected(b);
}

void bridge__async_on_announced(struct mqb_core *core, void (*fn)(void *ud), void *ud)
{
	struct bridge *b = core__slot(core, CORE_SLOT_BRIDGE);
	if (b) {
		b->announced = fn;
		b->announced_ud = ud;
	}
}

/* ---- what it would publish (mqbridge -C -v) -------------------------------- */

static void set_topic(json_t *o, const char *k, char *t, char *buf)
{
	set_str(o, k, t);
	mqb__fmt_free(t, buf);
}

json_t *bridge__async_topics(struct mqb_core *core, struct mqb_entity *e)
{
	struct bridge *b = core__slot(core, CORE_SLOT_BRIDGE);
	struct ent *x = b ? ent_of(b, e) : NULL;
	json_t *o = x ? json_object() : NULL;
	if (!o)
		return NULL;
	char buf[TOPIC_BUF];
	if (x->dom->trigger) {
		set_topic(o, "trigger", topic_of(b, e, "trigger", buf, sizeof buf), buf);
	} else {
		if (!x->dom->stateless)
			set_topic(o, "state", topic_of(b, e, "state", buf, sizeof buf), buf);
		set_topic(o, "attributes", topic_of(b, e, "attributes", buf, sizeof buf), buf);
		set_topic(o, "availability", topic_of(b, e, "availability", buf, sizeof buf), buf);
	}
	if (entity__controllable(e)) /* subscribed to, whatever discovery says */
		set_topic(o, "command", topic_of(b, e, "set", buf, sizeof buf), buf);
	if (b->o.discovery && in_device(b, e, x))
		set_str(o, "discovery", b->device_topic);
	else if (b->o.discovery)
		set_topic(o, "discovery", discovery_topic(b, e, x, buf, sizeof buf), buf);
	return o;
}

/* ---- set-up ------------------------------------------------------------- */

static void bridge_free(struct bridge *b)
{
	struct mqb_core *core = b->core;
	size_t n = mqb_entities_async_count(core);
	for (size_t i = 0; i < n; i++) {
		struct mqb_entity *e = mqb_entities_async_get(core, i);
		struct ent *x = *entity__bridge_slot(e);
		if (x) {
					mqb__free(x->known_topic);
			mqb__free(x);
			*entity__bridge_slot(e) = NULL;
		}
	}
	ghosts__async_free(b->sweep);
	ev_timer_stop(core__loop(core), &b->announce_timer);
	ev_timer_stop(core__loop(core), &b->ha_online_timer);
	ev_timer_stop(core__loop(core), &b->device_timer);
	json_decref(b->device_removed);
	mqb__free(b->device_topic);
	mqb__free(b->base);
	mqb__free(b->prefix);
	mqb__free(b->node_id);
	mqb__free(b->name);
	mqb__free(b->ss_base);
	mqb__free(b);
}

static void bridge_fini(struct mqb_core *core, void *bridge)
{
	bridge_free(bridge);
}

static int on_stop(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct bridge *b = ud;
	ev_timer_stop(core__loop(b->core), &b->announce_timer);
	ev_timer_stop(core__loop(b->core), &b->ha_online_timer);
	ev_timer_stop(core__loop(b->core), &b->device_timer);
	b->announce_next = SIZE_MAX;
	ghosts__async_free(b->sweep);
	b->sweep = NULL;
	return 0;
}

int bridge__async_init(struct mqb_core *core, const struct bridge_options *o)
{
	MQB_ASSERT_LOOP(core);
	struct bridge *b = mqb__calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	b->core = core;
	b->o = *o;
	b->announce_next = SIZE_MAX;
	b->tokens_at = ev_now(core__loop(core));
	if (!(b->base = mqb__strdup(o->base_topic)) ||
	    !(b->prefix = mqb__strdup(o->discovery_prefix ? o->discovery_prefix : "homeassistant")) ||
	    !(b->node_id = mqb__strdup(o->node_id)) ||
	    !(b->name = mqb__strdup(o->name ? o->name : o->node_id)) ||
	    (o->statestream_base && !(b->ss_base = mqb__strdup(o->statestream_base))) ||
	    !(b->device_topic = mqb__fmt(NULL, 0, "%s/device/%s/config", b->prefix, b->node_id))) {
		bridge_free(b);
		return -ENOMEM;
	}
	b->base_len = strlen(b->base);
	int rc = entities__set_node_name(core, b->name);
	if (rc) {
		bridge_free(b);
		return rc;
	}
	b->o.base_topic = b->o.discovery_prefix = b->o.node_id = b->o.name = NULL;
	b->o.statestream_base = NULL;
	ev_timer_init(&b->announce_timer, announce_timer_cb, 0, 0);
	b->announce_timer.data = b;
	ev_timer_init(&b->ha_online_timer, ha_online_cb, 0, 0);
	b->ha_online_timer.data = b;
	ev_timer_init(&b->device_timer, device_timer_cb, 0, 0);
	b->device_timer.data = b;
	b->rng = mqb__random_seed();
	static const struct core_slot_ops ops = {.fini = bridge_fini};
	core__slot_set(core, CORE_SLOT_BRIDGE, b, &ops);
	entities__on_added(core, on_added, b);
	entities__on_removed(core, on_removed, b);
	if ((rc = mqb_bus_async_listen(core, MQB_EVENT_STATE_CHANGED,
				       &MQB_CALLBACK(on_state_changed, b), NULL)) ||
	    (rc = mqb_bus_async_listen(core, MQB_EVENT_STOP, &MQB_CALLBACK(on_stop, b), NULL)) ||
	    (rc = mqb_mqtt_async_on_connect(core, &MQB_CALLBACK(on_connect, b))) ||
	    (!mqb_core_async_started(core) &&
	     (rc = mqb_bus_async_listen(core, MQB_EVENT_START, &MQB_CALLBACK(on_started, b),
					&b->on_start))) ||
	    (o->discovery && (rc = subscribe_ha_status(b))))
		return rc;
	if ((rc = mqb_services_async_register(core, "mqtt", "publish",
					      &MQB_CALLBACK(mqtt_publish_service, b), NULL, NULL)) ||
	    (rc = services__async_set_text_fields(core, "mqtt", "publish", publish_text_fields)))
		return rc;
	if (b->ss_base &&
	    (rc = mqb_bus_async_listen(core, MQB_EVENT_STATE_CHANGED,
				       &MQB_CALLBACK(on_any_state, b), NULL)))
		return rc;
	return add_diagnostic_sensor(b, o->diagnostic_interval > 0 ? o->diagnostic_interval : 30);
}
