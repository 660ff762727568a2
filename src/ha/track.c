/* SPDX-License-Identifier: MIT */
/* Home Assistant's event helpers (mqbridge/track.h): one state_changed
 * listener per core and an index from entity id to the trackers of that
 * entity, so a change costs what its own trackers cost; templates render
 * again when what they read changes, on the minute when they call now(),
 * and under Home Assistant's rate limits when they iterate states. */
#include "lib/internal.h"
#include "core/hass.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/states.h"
#include "mqbridge/template.h"
#include "mqbridge/timer.h"
#include "mqbridge/track.h"

#include "lib/hashmap.h"

#define SUB "track"

/* Home Assistant's rate limits (helpers/template.py): a template over all
 * states renders at most once a minute, one over a domain's once a second. */
#define ALL_STATES_RATE 60.0
#define DOMAIN_STATES_RATE 1.0

struct hub;
struct edge;

/* The trackers of one entity (or of a pseudo key: every state, the
 * minute), in the order they were made. */
struct tkey {
	struct edge *head, *tail;
	bool pseudo;    /* not in the map: never freed when empty */
	char id[];
};

/* One tracker on one key. Removed while the hub is busy (delivering,
 * rendering) an edge stays linked, marked dead, until the hub is idle, so
 * a walk over a key's list may go on past it. */
struct edge {
	struct tkey *key;
	struct mqb_track *tr;     /* NULL: dead */
	struct edge *prev, *next;
	struct edge *grave_next;
	uint64_t seq;             /* made after a walk began: not in that walk */
};

enum kind { K_STATE, K_TEMPLATE };

struct mqb_track {
	struct hub *hub;
	enum kind kind;
	bool dead;
	struct mqb_track *grave_next;
	void *ud;
	/* the edges it holds */
	struct edge **edges;
	size_t nedges, cap;
	/* K_STATE */
	mqb_track_state_fn sfn;
	/* K_TEMPLATE */
	mqb_track_template_fn tfn;
	const struct mqb_template *t;
	json_t *variables;
	double rate;              /* seconds; 0: none (the template iterates nothing) */
	bool uses_now, have_last;
	int last_status;
	char *last_text;
	double last_render;       /* mqb_async_now() of the last render that counts */
	struct mqb_timer *rate_timer;
	struct mqb_event *held;   /* what a rate-limited render will report */
	struct edge *now_edge, *all_edge;
};

struct hub {
	struct mqb_core *core;
	struct hashmap keys;      /* entity id -> struct tkey */
	struct tkey *all, *minute; /* every state change; each minute */
	struct mqb_listener *changed;
	struct mqb_timer *tick;   /* while a template calls now() */
	unsigned now_users;
	unsigned busy;            /* walks and renders in progress */
	uint64_t seq;
	struct edge *grave;
	struct mqb_track *dead;
};

static void reap(struct hub *h);

static void enter(struct hub *h)
{
	h->busy++;
}

static void leave(struct hub *h)
{
	if (--h->busy == 0)
		reap(h);
}

/* ---- keys and edges -------------------------------------------------------- */

static struct tkey *key_new(const char *id, bool pseudo)
{
	size_t n = strlen(id);
	struct tkey *k = mqb__calloc(1, sizeof *k + n + 1);
	if (!k)
		return NULL;
	memcpy(k->id, id, n + 1);
	k->pseudo = pseudo;
	return k;
}

static void unlink_edge(struct hub *h, struct edge *e)
{
	struct tkey *k = e->key;
	if (e->prev)
		e->prev->next = e->next;
	else
		k->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		k->tail = e->prev;
	if (!k->head && !k->pseudo) {
		hashmap__remove(&h->keys, k->id, strlen(k->id));
		mqb__free(k);
	}
	mqb__free(e);
}

static struct edge *link_edge(struct hub *h, struct tkey *k, struct mqb_track *tr)
{
	struct edge *e = mqb__calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->key = k;
	e->tr = tr;
	e->seq = ++h->seq;
	e->prev = k->tail;
	if (k->tail)
		k->tail->next = e;
	else
		k->head = e;
	k->tail = e;
	return e;
}

/* An edge for tr on entity id, the key made when it is the first. */
static struct edge *edge_add(struct hub *h, const char *id, struct mqb_track *tr)
{
	size_t n = strlen(id);
	struct tkey *k = hashmap__get(&h->keys, id, n);
	bool made = false;
	if (!k) {
		if (!(k = key_new(id, false)))
			return NULL;
		if (hashmap__put(&h->keys, k->id, n, k, NULL)) {
			mqb__free(k);
			return NULL;
		}
		made = true;
	}
	struct edge *e = link_edge(h, k, tr);
	if (!e && made) {
		hashmap__remove(&h->keys, k->id, n);
		mqb__free(k);
	}
	return e;
}

static void edge_drop(struct hub *h, struct edge *e)
{
	if (!e)
		return;
	if (h->busy) {
		e->tr = NULL;
		e->grave_next = h->grave;
		h->grave = e;
	} else {
		unlink_edge(h, e);
	}
}

/* Drop every entity edge of tr. */
static void edges_clear(struct mqb_track *tr)
{
	for (size_t i = 0; i < tr->nedges; i++)
		edge_drop(tr->hub, tr->edges[i]);
	tr->nedges = 0;
}

static int edges_reserve(struct mqb_track *tr, size_t n)
{
	if (n <= tr->cap)
		return 0;
	struct edge **v = mqb__realloc(tr->edges, n * sizeof *v);
	if (!v)
		return -ENOMEM;
	tr->edges = v;
	tr->cap = n;
	return 0;
}

/* ---- delivery -------------------------------------------------------------- */

static void template_event(struct mqb_track *tr, const struct mqb_event *ev);

/* Every live tracker of k that was there when the walk began. */
static void walk(struct hub *h, struct tkey *k, const struct mqb_event *ev)
{
	uint64_t limit = h->seq;
	enter(h);
	for (struct edge *e = k->head; e; e = e->next) {
		struct mqb_track *tr = e->tr;
		if (!tr || tr->dead || e->seq > limit)
			continue;
		if (tr->kind == K_STATE)
			tr->sfn(tr->ud, ev);
		else
			template_event(tr, ev);
	}
	leave(h);
}

/* The one state_changed listener of the core: a CALLBACK. */
static int on_changed(void *ud, void *arg, void **result)
{
	(void)result;
	struct hub *h = ud;
	const struct mqb_event *ev = arg;
	const char *id = mqb_event_entity_id(ev);
	struct tkey *k = id ? hashmap__get(&h->keys, id, strlen(id)) : NULL;
	enter(h);
	if (k)
		walk(h, k, ev);
	if (h->all->head)
		walk(h, h->all, ev);
	leave(h);
	return 0;
}

static void tick_cb(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct hub *h = ud;
	walk(h, h->minute, NULL);
}

/* ---- the hub --------------------------------------------------------------- */

static void track_free(struct mqb_track *tr)
{
	mqb__free(tr->edges);
	json_decref(tr->variables);
	mqb__free(tr->last_text);
	mqb_event_unref(tr->held);
	mqb_async_timer_cancel(tr->rate_timer);
	mqb__free(tr);
}

static void reap(struct hub *h)
{
	while (h->grave) {
		struct edge *e = h->grave;
		h->grave = e->grave_next;
		unlink_edge(h, e);
	}
	while (h->dead) {
		struct mqb_track *tr = h->dead;
		h->dead = tr->grave_next;
		track_free(tr);
	}
}

/* Empty k, gathering on list each live tracker it names (once: the first
 * edge seen marks it dead). */
static void gather(struct tkey *k, struct mqb_track **list)
{
	while (k->head) {
		struct edge *e = k->head;
		k->head = e->next;
		if (e->tr && !e->tr->dead) {
			e->tr->dead = true;
			e->tr->grave_next = *list;
			*list = e->tr;
		}
		mqb__free(e);
	}
}

/* With the core: every tracker left is freed (their owners were told the
 * core owns them until it goes). */
static void hub_fini(struct mqb_core *core, void *state)
{
	struct hub *h = state;
	struct mqb_track *list = NULL;
	if (h->changed)
		mqb_bus_async_unlisten(core, h->changed);
	mqb_async_timer_cancel(h->tick);
	reap(h);
	size_t it = 0;
	struct hashmap_entry *he;
	while ((he = hashmap__next(&h->keys, &it))) {
		gather(he->value, &list);
		mqb__free(he->value);
	}
	hashmap__fini(&h->keys);
	gather(h->all, &list);
	gather(h->minute, &list);
	mqb__free(h->all);
	mqb__free(h->minute);
	while (list) {
		struct mqb_track *tr = list;
		list = tr->grave_next;
		track_free(tr);
	}
	mqb__free(h);
}

static const struct core_slot_ops hub_ops = {.fini = hub_fini};

static struct hub *hub_get(struct mqb_core *core)
{
	struct hub *h = core__slot(core, CORE_SLOT_TRACK);
	if (h)
		return h;
	if (!(h = mqb__calloc(1, sizeof *h)))
		return NULL;
	h->core = core;
	hashmap__init(&h->keys);
	if (!(h->all = key_new("*", true)) || !(h->minute = key_new("now()", true)) ||
	    mqb_bus_async_listen(core, MQB_EVENT_STATE_CHANGED, &MQB_CALLBACK(on_changed, h),
				 &h->changed)) {
		mqb__free(h->all);
		mqb__free(h->minute);
		mqb__free(h);
		return NULL;
	}
	core__slot_set(core, CORE_SLOT_TRACK, h, &hub_ops);
	return h;
}

void mqb_async_track_cancel(struct mqb_track *tr)
{
	if (!tr || tr->dead)
		return;
	struct hub *h = tr->hub;
	MQB_ASSERT_LOOP(h->core);
	tr->dead = true;
	enter(h);
	edges_clear(tr);
	edge_drop(h, tr->all_edge);
	if (tr->now_edge) {
		edge_drop(h, tr->now_edge);
		if (--h->now_users == 0) {
			mqb_async_timer_cancel(h->tick);
			h->tick = NULL;
		}
	}
	mqb_async_timer_cancel(tr->rate_timer);
	tr->rate_timer = NULL;
	tr->grave_next = h->dead;
	h->dead = tr;
	leave(h);
}

/* ---- state trackers ------------------------------------------------------- */

int mqb_async_track_state_change(struct mqb_core *core, const char *const *ids, size_t n,
				 mqb_track_state_fn fn, void *ud, struct mqb_track **out)
{
	MQB_ASSERT_LOOP(core);
	if (!n || !fn || !ids)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!ids[i] || !mqb_entity_id_valid(ids[i]))
			return -EINVAL;
	struct hub *h = hub_get(core);
	struct mqb_track *tr = h ? mqb__calloc(1, sizeof *tr) : NULL;
	if (!tr)
		return -ENOMEM;
	tr->hub = h;
	tr->kind = K_STATE;
	tr->sfn = fn;
	tr->ud = ud;
	if (edges_reserve(tr, n))
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(ids[i], ids[j]) == 0;
		if (seen)
			continue;
		if (!(tr->edges[tr->nedges] = edge_add(h, ids[i], tr)))
			goto nomem;
		tr->nedges++;
	}
	if (out)
		*out = tr;
	return 0;
nomem:
	edges_clear(tr);
	track_free(tr);
	return -ENOMEM;
}

/* ---- template trackers ---------------------------------------------------- */

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* What the code after a `states` at p does with it: 0 reads one entity
 * (states('a.b'), states.a.b, states['a.b']), DOMAIN_STATES_RATE
 * iterates a domain (states.light, states['light']), ALL_STATES_RATE
 * iterates every state (for s in states, states | count). */
static double states_use(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '(')
		return 0;
	bool domain = false;
	if (*p == '.') {
		for (p++; ident_char(*p); p++)
			;
		domain = true;
	} else if (*p == '[') {
		char q = *++p;
		if (q != '\'' && q != '"')
			return ALL_STATES_RATE; /* states[x]: cannot tell */
		for (p++; *p && *p != q; p++)
			if (*p == '.')
				return 0;
		if (*p)
			p++;
		while (*p == ' ')
			p++;
		if (*p != ']')
			return ALL_STATES_RATE;
		p++;
		domain = true;
	}
	if (!domain)
		return ALL_STATES_RATE;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return *p == '.' || *p == '[' ? 0 : DOMAIN_STATES_RATE;
}

/* Home Assistant's rate limit of a template, from its text: the largest
 * over every `states` in its code (not in strings, not an attribute). */
static double rate_of(const char *text)
{
	double rate = 0;
	bool code = false;
	for (const char *p = text; p && *p;) {
		if (!code) {
			if (p[0] == '{' && (p[1] == '{' || p[1] == '%'))
				code = true, p += 2;
			else
				p++;
			continue;
		}
		if ((p[0] == '}' || p[0] == '%') && p[1] == '}') {
			code = false;
			p += 2;
		} else if (*p == '\'' || *p == '"') {
			char q = *p++;
			while (*p && *p != q)
				p += p[0] == '\\' && p[1] ? 2 : 1;
			if (*p)
				p++;
		} else if (ident_char(*p)) {
			const char *s = p;
			while (ident_char(*p))
				p++;
			if (p - s == 6 && memcmp(s, "states", 6) == 0 && (s == text || s[-1] != '.')) {
				double r = states_use(p);
				if (r > rate)
					rate = r;
			}
		} else {
			p++;
		}
	}
	return rate;
}

struct reads {
	char **v;
	size_t n, cap;
	bool oom;
};

static void on_read(void *ud, const char *id)
{
	struct reads *r = ud;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 8;
		char **v = mqb__realloc(r->v, cap * sizeof *v);
		if (!v) {
			r->oom = true;
			return;
		}
		r->v = v;
		r->cap = cap;
	}
	if (!(r->v[r->n] = mqb__strdup(id)))
		r->oom = true;
	else
		r->n++;
}

/* Point tr's edges at what the last render read; untouched when that is
 * what they already name (the usual case). */
static void follow(struct mqb_track *tr, const struct reads *r)
{
	bool same = r->n == tr->nedges;
	for (size_t i = 0; same && i < r->n; i++)
		same = tr->edges[i] && strcmp(tr->edges[i]->key->id, r->v[i]) == 0;
	if (same)
		return;
	edges_clear(tr);
	if (edges_reserve(tr, r->n))
		goto oom;
	for (size_t i = 0; i < r->n; i++)
		if ((tr->edges[tr->nedges] = edge_add(tr->hub, r->v[i], tr)))
			tr->nedges++;
		else
			goto oom;
	return;
oom:
	MQB_LOG_WARNING(SUB, "out of memory following what a template reads; it renders again "
			     "on the changes it still sees");
}

static void render(struct mqb_track *tr, const struct mqb_event *ev, bool report)
{
	struct hub *h = tr->hub;
	struct reads r = {0};
	struct mqb_tpl_vars vars = {
		.variables = tr->variables,
		.core = h->core,
		.now = mqb_async_now(h->core),
		.on_entity = on_read,
		.ud = &r,
	};
	struct mqb_tpl_error err = {0};
	char *out = NULL;
	size_t len = 0;
	int rc = mqb_template_render(tr->t, &vars, NULL, &out, &len, &err);
	if (!tr->all_edge)
		follow(tr, &r);
	else if (r.oom)
		MQB_LOG_WARNING(SUB, "out of memory following what a template reads");
	for (size_t i = 0; i < r.n; i++)
		mqb__free(r.v[i]);
	mqb__free(r.v);

	const char *text = rc ? err.message : out ? out : "";
	if (rc == -ENOMEM && !err.message[0])
		text = "out of memory";
	bool news = !tr->have_last || (rc ? tr->last_status == 0
					  : tr->last_status != 0 || strcmp(tr->last_text, text));
	if (news) {
		char *keep = mqb__strdup(text);
		if (keep) {
			mqb__free(tr->last_text);
			tr->last_text = keep;
			tr->last_status = rc;
			tr->have_last = true;
		} else {
			/* Without the copy the next render is news again. */
			tr->have_last = false;
		}
		if (report)
			tr->tfn(tr->ud, ev, rc, text);
	}
	mqb__free(out);
}

static void rate_cb(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct mqb_track *tr = ud;
	struct hub *h = tr->hub;
	struct mqb_event *ev = tr->held;
	tr->held = NULL;
	enter(h);
	tr->last_render = mqb_async_now(h->core);
	if (!tr->dead)
		render(tr, ev, true);
	leave(h);
	mqb_event_unref(ev);
}

/* A change tr follows: render now, or when the rate limit allows (Home
 * Assistant's KeyedRateLimit: the first render, made when tracking
 * began, does not count; the minute of now() is not limited). */
static void template_event(struct mqb_track *tr, const struct mqb_event *ev)
{
	double now = mqb_async_now(tr->hub->core);
	if (tr->rate > 0 && ev) {
		if (mqb_async_timer_active(tr->rate_timer))
			return; /* a render is due already */
		double wait = tr->last_render + tr->rate - now;
		if (wait > 0 && wait <= tr->rate) {
			mqb_event_unref(tr->held);
			tr->held = mqb_event_ref((struct mqb_event *)ev);
			if (mqb_async_timer_rearm(tr->rate_timer, wait) == 0)
				return;
			mqb_event_unref(tr->held);
			tr->held = NULL;
		}
	}
	tr->last_render = now;
	render(tr, ev, true);
}

int mqb_async_track_template(struct mqb_core *core, const struct mqb_template *t,
			     const struct mqb_track_template_options *opt,
			     mqb_track_template_fn fn, void *ud, struct mqb_track **out)
{
	MQB_ASSERT_LOOP(core);
	static const struct mqb_track_template_options none = {0};
	if (!t || !fn)
		return -EINVAL;
	if (!opt)
		opt = &none;
	struct hub *h = hub_get(core);
	struct mqb_track *tr = h ? mqb__calloc(1, sizeof *tr) : NULL;
	if (!tr)
		return -ENOMEM;
	tr->hub = h;
	tr->kind = K_TEMPLATE;
	tr->tfn = fn;
	tr->ud = ud;
	tr->t = t;
	tr->rate = rate_of(opt->text);
	tr->uses_now = mqb_template_uses_now(t);
	if (opt->variables && !(tr->variables = json_deep_copy(opt->variables)))
		goto nomem;
	if (tr->rate > 0 && (mqb_async_timer_new(core, rate_cb, tr, &tr->rate_timer) ||
			     !(tr->all_edge = link_edge(h, h->all, tr))))
		goto nomem;
	if (tr->uses_now) {
		if (!(tr->now_edge = link_edge(h, h->minute, tr)))
			goto nomem;
		/* each minute on the minute: async_track_utc_time_change(second=0) */
		if (h->now_users++ == 0 &&
		    mqb_async_track_wall_interval(core, 60, 0, tick_cb, h, &h->tick)) {
			h->now_users--;
			unlink_edge(h, tr->now_edge);
			tr->now_edge = NULL;
			goto nomem;
		}
	}
	if (out)
		*out = tr;
	enter(h);
	render(tr, NULL, opt->fire_first);
	leave(h);
	return 0;
nomem:
	if (tr->all_edge)
		unlink_edge(h, tr->all_edge);
	track_free(tr);
	return -ENOMEM;
}
