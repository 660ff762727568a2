/* SPDX-License-Identifier: MIT */
/* The event bus: listeners per event type (and "*" for all), each a job the
 * dispatcher runs per its kind, so a CALLBACK listener runs inside the fire
 * as in Home Assistant's current core. Events are immutable and shared. */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "lib/internal.h"
#include "core/hass.h"
#include "lib/hashmap.h"
#include "lib/jsonref.h"
#include "mqbridge/bus.h"
#include "mqbridge/error.h"
#include "mqbridge/log.h"
#include "mqbridge/states.h"

struct mqb_event {
	atomic_uint refs;
	bool state_changed;  /* made by bus__event_state_changed */
	uint8_t type_len;
	double time_fired;
	/* For state_changed, NULL until mqb_event_data first builds it (on
	 * whichever thread asks first); set once, then never changed. */
	_Atomic(json_t *) data;
	struct mqb_state *old_state, *new_state;
	struct mqb_core *core; /* only for mqb_bus_fire's hop to the loop */
	const char *type;      /* buf, or a static string */
	char buf[];            /* the type; for a state_changed with no states, the entity id */
};

struct mqb_listener {
	struct mqb_listener *next, *prev;
	struct listeners *list;
	struct mqb_job job;
	uint64_t seq; /* order of registration: a fire runs only those older than itself */
	bool once;
	bool removed;
};

/* The listeners of one event type. A fire walks the list in place; removing
 * a listener meanwhile only marks it, and the last walk to finish unlinks
 * it, so a listener may remove itself or any other during a fire. */
struct listeners {
	struct mqb_listener *head, *tail;
	size_t count;   /* not counting those marked removed */
	unsigned walks; /* fires walking this list now (nested fires add up) */
	bool has_removed;
	bool pinned;    /* "*" and state_changed: kept even when empty */
	char type[];
};

struct bus {
	struct hashmap types; /* type (pointing into the list) -> struct listeners * */
	/* Found without hashing: every state write fires state_changed, and
	 * every fire looks at "*". */
	struct listeners *all, *state_changed;
	uint64_t seq;
	json_t *empty; /* the data of events fired without any (never modified) */
};

static inline struct bus *bus_of(struct mqb_core *core)
{
	return core__slot(core, CORE_SLOT_BUS);
}

/* ---- events ---- */

struct mqb_event *mqb_event_ref(struct mqb_event *ev)
{
	if (ev)
		atomic_fetch_add_explicit(&ev->refs, 1, memory_order_relaxed);
	return ev;
}

void mqb_event_unref(struct mqb_event *ev)
{
	if (!ev || atomic_fetch_sub_explicit(&ev->refs, 1, memory_order_acq_rel) != 1)
		return;
	jsonref__put(atomic_load_explicit(&ev->data, memory_order_relaxed));
	mqb_state_unref(ev->old_state);
	mqb_state_unref(ev->new_state);
	mqb__free(ev);
}

/* The dispatcher's release hook, typed as it wants it. */
static void event_release(void *p)
{
	mqb_event_unref(p);
}

const char *mqb_event_type(const struct mqb_event *ev) { return ev->type; }
double mqb_event_time_fired(const struct mqb_event *ev) { return ev->time_fired; }
const struct mqb_state *mqb_event_old_state(const struct mqb_event *ev) { return ev->old_state; }
const struct mqb_state *mqb_event_new_state(const struct mqb_event *ev) { return ev->new_state; }

const char *mqb_event_entity_id(const struct mqb_event *ev)
{
	if (!ev->state_changed)
		return NULL;
	if (ev->new_state)
		return mqb_state_entity_id(ev->new_state);
	if (ev->old_state)
		return mqb_state_entity_id(ev->old_state);
	return ev->buf;
}

static json_t *state_or_null(const struct mqb_state *s)
{
	return s ? mqb_state_to_json(s) : json_null();
}

static json_t *state_changed_data(const struct mqb_event *ev)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	/* json_object_set_new takes its value even when it fails (NULL
	 * included), so one check at the end catches every failure. */
	int rc = json_object_set_new(o, "entity_id", json_string(mqb_event_entity_id(ev)));
	rc |= json_object_set_new(o, "old_state", state_or_null(ev->old_state));
	rc |= json_object_set_new(o, "new_state", state_or_null(ev->new_state));
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

const json_t *mqb_event_data(const struct mqb_event *ev)
{
	/* The event is immutable to its users; the lazily built data is the
	 * one field written after creation, once, by compare-exchange. */
	struct mqb_event *e = (struct mqb_event *)ev;
	json_t *d = atomic_load_explicit(&e->data, memory_order_acquire);
	if (d)
		return d;
	d = state_changed_data(ev);
	if (!d)
		return json_null(); /* out of memory: still never NULL, and nothing cached */
	json_t *seen = NULL;
	if (!atomic_compare_exchange_strong_explicit(&e->data, &seen, d, memory_order_acq_rel,
						     memory_order_acquire)) {
		/* Another thread built it first: use theirs, so every reader
		 * sees the same object. */
		json_decref(d);
		return seen;
	}
	return d;
}

static struct mqb_event *event_alloc(size_t extra)
{
	struct mqb_event *ev = mqb__malloc(sizeof(*ev) + extra);
	if (!ev)
		return NULL;
	atomic_init(&ev->refs, 1);
	ev->state_changed = false;
	ev->type_len = 0;
	atomic_init(&ev->data, NULL);
	ev->old_state = ev->new_state = NULL;
	ev->core = NULL;
	return ev;
}

/* Takes data (an object, not NULL). */
static struct mqb_event *event_new(const char *type, size_t type_len, json_t *data)
{
	struct mqb_event *ev = event_alloc(type_len + 1);
	if (!ev) {
		jsonref__put(data);
		return NULL;
	}
	memcpy(ev->buf, type, type_len + 1);
	ev->type = ev->buf;
	ev->type_len = (uint8_t)type_len;
	ev->time_fired = mqb__time_wall();
	atomic_init(&ev->data, data);
	return ev;
}

struct mqb_event *bus__event_state_changed(const char *entity_id, struct mqb_state *old_state,
					   struct mqb_state *new_state)
{
	/* The entity id is only copied when there is no state to point at. */
	size_t extra = old_state || new_state || !entity_id ? 0 : strlen(entity_id) + 1;
	struct mqb_event *ev = event_alloc(extra);
	if (!ev)
		return NULL;
	if (extra)
		memcpy(ev->buf, entity_id, extra);
	ev->state_changed = true;
	ev->type = MQB_EVENT_STATE_CHANGED;
	ev->type_len = sizeof(MQB_EVENT_STATE_CHANGED) - 1;
	/* As Home Assistant: the event's time is the new state's last_updated. */
	ev->time_fired = new_state ? mqb_state_last_updated(new_state) : mqb__time_wall();
	ev->old_state = mqb_state_ref(old_state);
	ev->new_state = mqb_state_ref(new_state);
	return ev;
}

/* ---- listener lists ---- */

static long type_check(const char *type)
{
	if (!type)
		return -1;
	size_t n = strnlen(type, MQB_MAX_EVENT_TYPE_LEN + 1);
	return n == 0 || n > MQB_MAX_EVENT_TYPE_LEN ? -1 : (long)n;
}

static struct listeners *list_new(const char *type, size_t len)
{
	struct listeners *l = mqb__calloc(1, sizeof(*l) + len + 1);
	if (l)
		memcpy(l->type, type, len + 1);
	return l;
}

static struct listeners *list_get(struct bus *b, const char *type, size_t len)
{
	return hashmap__get(&b->types, type, len);
}

static void list_maybe_free(struct bus *b, struct listeners *l)
{
	if (l->head || l->walks || l->pinned)
		return;
	hashmap__remove(&b->types, l->type, strlen(l->type));
	mqb__free(l);
}

static void unlink_listener(struct listeners *l, struct mqb_listener *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		l->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		l->tail = x->prev;
}

/* Unlink what was removed during the walks that just ended. */
static void list_sweep(struct bus *b, struct listeners *l)
{
	struct mqb_listener *x = l->head, *next;
	for (; x; x = next) {
		next = x->next;
		if (x->removed) {
			unlink_listener(l, x);
			mqb__free(x);
		}
	}
	l->has_removed = false;
	list_maybe_free(b, l);
}

static void listener_remove(struct bus *b, struct mqb_listener *x)
{
	struct listeners *l = x->list;
	if (x->removed)
		return;
	x->removed = true;
	l->count--;
	if (l->walks) {
		/* A fire is walking past it: the walk skips it, and unlinks
		 * it when it ends. */
		l->has_removed = true;
		return;
	}
	unlink_listener(l, x);
	mqb__free(x);
	list_maybe_free(b, l);
}

static int listen(struct mqb_core *core, const char *event_type, const struct mqb_job *job,
		  bool once, struct mqb_listener **out)
{
	MQB_ASSERT_LOOP(core);
	struct bus *b = bus_of(core);
	if (out)
		*out = NULL;
	long len = type_check(event_type);
	if (len < 0 || !job || !job->fn)
		return -EINVAL;
	struct mqb_listener *x = mqb__calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	struct listeners *l = list_get(b, event_type, (size_t)len);
	if (!l) {
		l = list_new(event_type, (size_t)len);
		int rc = l ? hashmap__put(&b->types, l->type, (size_t)len, l, NULL) : -ENOMEM;
		if (rc < 0) {
			mqb__free(l);
			mqb__free(x);
			return rc;
		}
	}
	x->job = *job;
	x->once = once;
	x->seq = b->seq++;
	x->list = l;
	x->prev = l->tail;
	if (l->tail)
		l->tail->next = x;
	else
		l->head = x;
	l->tail = x;
	l->count++;
	if (out)
		*out = x;
	return 0;
}

int mqb_bus_async_listen(struct mqb_core *core, const char *event_type, const struct mqb_job *job,
			 struct mqb_listener **out)
{
	return listen(core, event_type, job, false, out);
}

int mqb_bus_async_listen_once(struct mqb_core *core, const char *event_type,
			      const struct mqb_job *job, struct mqb_listener **out)
{
	return listen(core, event_type, job, true, out);
}

void mqb_bus_async_unlisten(struct mqb_core *core, struct mqb_listener *l)
{
	MQB_ASSERT_LOOP(core);
	if (l)
		listener_remove(bus_of(core), l);
}

size_t mqb_bus_async_listener_count(struct mqb_core *core, const char *event_type)
{
	MQB_ASSERT_LOOP(core);
	long len = type_check(event_type);
	if (len < 0)
		return 0;
	struct listeners *l = list_get(bus_of(core), event_type, (size_t)len);
	return l ? l->count : 0;
}

/* ---- firing ---- */

/* Run the listeners of one list that were registered before the fire began
 * (limit): one added during the fire waits for the next event. */
static void walk(struct mqb_core *core, struct bus *b, struct listeners *l,
		 struct mqb_event *ev, uint64_t limit)
{
	l->walks++;
	for (struct mqb_listener *x = l->head; x; x = x->next) {
		if (x->removed || x->seq >= limit)
			continue;
		/* The job is copied: a once-listener is gone before its job
		 * runs, as Home Assistant's listen_once removes itself first. */
		struct mqb_job job = x->job;
		if (x->once)
			listener_remove(b, x);
		/* The job's own reference, released by the dispatcher when the
		 * job is done: a COROUTINE or EXECUTOR listener keeps the event
		 * alive after the fire returns. */
		mqb_event_ref(ev);
		int rc = mqb_async_run_job(core, &job, ev, event_release, NULL);
		if (rc < 0) {
			mqb_event_unref(ev);
			MQB_LOG_WARNING("bus", "%s: listener %s not run: %s", ev->type,
					job.name ? job.name : "?", mqb_strerror(rc));
		}
	}
	if (--l->walks == 0 && l->has_removed)
		list_sweep(b, l);
}

int bus__async_fire_event(struct mqb_core *core, struct mqb_event *ev)
{
	MQB_ASSERT_LOOP(core);
	struct bus *b = bus_of(core);
	struct listeners *l = ev->state_changed ? b->state_changed
						: list_get(b, ev->type, ev->type_len);
	uint64_t limit = b->seq;
	if (l && l->count)
		walk(core, b, l, ev, limit);
	if (b->all != l && b->all->count)
		walk(core, b, b->all, ev, limit);
	return 0;
}

static int data_check(json_t **data, json_t *empty)
{
	if (!*data) {
		*data = empty ? jsonref__get(empty) : json_object();
		return *data ? 0 : -ENOMEM;
	}
	return json_is_object(*data) ? 0 : -EINVAL;
}

int mqb_bus_async_fire(struct mqb_core *core, const char *event_type, json_t *data)
{
	MQB_ASSERT_LOOP(core);
	struct bus *b = bus_of(core);
	long len = type_check(event_type);
	int rc = len < 0 ? -EINVAL : data_check(&data, b->empty);
	if (rc < 0) {
		json_decref(data);
		return rc;
	}
	struct mqb_event *ev = event_new(event_type, (size_t)len, data);
	if (!ev)
		return -ENOMEM;
	rc = bus__async_fire_event(core, ev);
	mqb_event_unref(ev);
	return rc;
}

/* ---- thread-safe flavours ---- */

static void fire_on_loop(void *arg)
{
	struct mqb_event *ev = arg;
	bus__async_fire_event(ev->core, ev);
	mqb_event_unref(ev);
}

int mqb_bus_fire(struct mqb_core *core, const char *event_type, json_t *data)
{
	/* The event is made here, on the caller's thread, and only delivered
	 * on the loop: nothing waits (Home Assistant's fire is
	 * call_soon_threadsafe too). Its time is when it was fired. */
	long len = type_check(event_type);
	int rc = len < 0 ? -EINVAL : data_check(&data, NULL);
	if (rc < 0) {
		json_decref(data);
		return rc;
	}
	struct mqb_event *ev = event_new(event_type, (size_t)len, data);
	if (!ev)
		return -ENOMEM;
	ev->core = core;
	rc = mqb_call_soon_threadsafe(core, fire_on_loop, ev);
	if (rc < 0)
		mqb_event_unref(ev);
	return rc;
}

struct listen_args {
	struct mqb_core *core;
	const char *type;
	const struct mqb_job *job;
	struct mqb_listener **out;
	struct mqb_listener *l;
};

static int listen_on_loop(void *ud, void *arg, void **result)
{
	struct listen_args *a = ud;
	return mqb_bus_async_listen(a->core, a->type, a->job, a->out);
}

int mqb_bus_listen(struct mqb_core *core, const char *event_type, const struct mqb_job *job,
		   struct mqb_listener **out)
{
	struct mqb_listener *l = NULL;
	struct listen_args a = { core, event_type, job, &l, NULL };
	int rc = mqb_call_threadsafe(core, listen_on_loop, &a, NULL);
	if (out)
		*out = rc < 0 ? NULL : l;
	return rc;
}

static int unlisten_on_loop(void *ud, void *arg, void **result)
{
	struct listen_args *a = ud;
	mqb_bus_async_unlisten(a->core, a->l);
	return 0;
}

int mqb_bus_unlisten(struct mqb_core *core, struct mqb_listener *l)
{
	struct listen_args a = { .core = core, .l = l };
	return mqb_call_threadsafe(core, unlisten_on_loop, &a, NULL);
}

/* ---- life cycle ---- */

static struct listeners *pinned(struct bus *b, const char *type)
{
	size_t len = strlen(type);
	struct listeners *l = list_new(type, len);
	if (!l)
		return NULL;
	l->pinned = true;
	if (hashmap__put(&b->types, l->type, len, l, NULL) < 0) {
		mqb__free(l);
		return NULL;
	}
	return l;
}

struct bus *bus__new(void)
{
	struct bus *b = mqb__calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	hashmap__init(&b->types);
	b->empty = json_object();
	b->all = pinned(b, MQB_MATCH_ALL);
	b->state_changed = pinned(b, MQB_EVENT_STATE_CHANGED);
	if (!b->empty || !b->all || !b->state_changed) {
		bus__free(b);
		return NULL;
	}
	return b;
}

void bus__free(struct bus *b)
{
	if (!b)
		return;
	size_t it = 0;
	struct hashmap_entry *e;
	while ((e = hashmap__next(&b->types, &it))) {
		struct listeners *l = e->value;
		struct mqb_listener *x = l->head, *next;
		for (; x; x = next) {
			next = x->next;
			mqb__free(x);
		}
		mqb__free(l);
	}
	hashmap__fini(&b->types);
	jsonref__put(b->empty);
	mqb__free(b);
}
