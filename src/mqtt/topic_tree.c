/* SPDX-License-Identifier: MIT */
/* MQTT topic matching (MQTT 3.1.1 §4.7, 5.0 §4.7-4.8): '+' is one level,
 * '#' the rest including the parent level ("a/#" matches "a"), and neither
 * matches a topic starting with '$' in the first level. Validation of topic
 * names and filters lives here too, as the bridge checks every topic Paho
 * hands it (Paho passes NULs, bad UTF-8 and wildcards through). */
#include "lib/internal.h"

#include <errno.h>
#include <string.h>

#include "lib/hashmap.h"
#include "mqtt/topic_tree.h"
#include "lib/utf8.h"
#include "mqbridge/mqtt.h"

/* Nearly every filter has one subscriber (an entity's topic): that one is
 * kept in place, and an array (16 bytes, 32 with malloc's header) is made
 * for a second. */
struct values {
	union {
		void *one;       /* cap 0: the value, when n is 1 */
		void **many;     /* cap > 0 */
	} u;
	unsigned n, cap;
};

struct node {
	struct hashmap children; /* level -> struct node*, keys point at node->level */
	struct node *plus, *hash, *parent;
	struct values values;
	char *level;
	size_t levellen;
};

struct exact {
	struct values values;
	char filter[];           /* one allocation */
};

struct topic_tree {
	struct hashmap exact;    /* filters without wildcards -> struct exact* */
	struct node root;
	size_t nwild;            /* values under wildcard filters */
};

/* ---- validation ------------------------------------------------------- */

bool mqb_mqtt_topic_valid(const char *topic, size_t len)
{
	if (!topic || len == 0 || len > MQB_MQTT_MAX_TOPIC)
		return false;
	if (memchr(topic, '+', len) || memchr(topic, '#', len))
		return false;
	return utf8__valid(topic, len, false);
}

const char *topic_tree__match_part(const char *filter)
{
	if (strncmp(filter, "$share/", 7) != 0)
		return filter;
	const char *slash = strchr(filter + 7, '/');
	return slash ? slash + 1 : filter;
}

bool mqb_mqtt_filter_valid(const char *filter)
{
	if (!filter)
		return false;
	size_t len = strlen(filter);
	if (len == 0 || len > MQB_MQTT_MAX_TOPIC || !utf8__valid(filter, len, false))
		return false;
	const char *f = filter;
	if (strncmp(filter, "$share/", 7) == 0) {
		/* $share/<group>/<filter>: a group without wildcards or '/', and a
		 * filter after it (MQTT 5.0 §4.8.2). */
		const char *g = filter + 7, *slash = strchr(g, '/');
		if (!slash || slash == g || slash[1] == 0)
			return false;
		for (const char *p = g; p < slash; p++)
			if (*p == '+' || *p == '#')
				return false;
		f = slash + 1;
	}
	for (const char *p = f; *p; p++) {
		if (*p == '+') {
			/* alone in its level */
			if ((p > f && p[-1] != '/') || (p[1] && p[1] != '/'))
				return false;
		} else if (*p == '#') {
			/* alone in the last level */
			if ((p > f && p[-1] != '/') || p[1])
				return false;
		}
	}
	return true;
}

/* One filter against one topic, without a tree: the reference the tree is
 * tested against, and handy for platforms. */
bool mqb_mqtt_topic_matches(const char *filter, const char *topic)
{
	if (!mqb_mqtt_filter_valid(filter) || !mqb_mqtt_topic_valid(topic, strlen(topic)))
		return false;
	const char *f = topic_tree__match_part(filter), *t = topic;
	if (*t == '$' && (*f == '+' || *f == '#'))
		return false;
	for (;;) {
		if (f[0] == '#')
			return true;
		const char *fe = strchrnul(f, '/'), *te = strchrnul(t, '/');
		if (!(fe - f == 1 && f[0] == '+') &&
		    (fe - f != te - t || memcmp(f, t, (size_t)(fe - f)) != 0))
			return false;
		if (!*fe && !*te)
			return true;
		if (!*te)
			/* the topic ended: only "/#" may follow ("a/#" matches "a") */
			return fe[0] == '/' && fe[1] == '#' && fe[2] == 0;
		if (!*fe)
			return false;
		f = fe + 1;
		t = te + 1;
	}
}

/* ---- values ----------------------------------------------------------- */

static int values_add(struct values *vs, void *v)
{
	if (vs->cap == 0 && vs->n == 0) {
		vs->u.one = v;
		vs->n = 1;
		return 0;
	}
	if (vs->cap == 0 || vs->n == vs->cap) {
		unsigned cap = vs->cap ? vs->cap * 2 : 2;
		void **nv = mqb__realloc(vs->cap ? vs->u.many : NULL, cap * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		if (!vs->cap)
			nv[0] = vs->u.one;
		vs->u.many = nv;
		vs->cap = cap;
	}
	vs->u.many[vs->n++] = v;
	return 0;
}

static int values_remove(struct values *vs, void *v)
{
	if (vs->cap == 0) {
		if (vs->n == 0 || vs->u.one != v)
			return -ENOENT;
		vs->u.one = NULL;
		vs->n = 0;
		return 0;
	}
	for (unsigned i = 0; i < vs->n; i++) {
		if (vs->u.many[i] == v) {
			memmove(&vs->u.many[i], &vs->u.many[i + 1],
				(vs->n - i - 1) * sizeof *vs->u.many);
			vs->n--;
			return 0;
		}
	}
	return -ENOENT;
}

static size_t values_call(const struct values *vs, void (*fn)(void *, void *), void *ud)
{
	if (vs->cap == 0) {
		if (vs->n)
			fn(ud, vs->u.one);
		return vs->n;
	}
	for (unsigned i = 0; i < vs->n; i++)
		fn(ud, vs->u.many[i]);
	return vs->n;
}

static void values_fini(struct values *vs)
{
	if (vs->cap)
		mqb__free(vs->u.many);
}

/* ---- the tree --------------------------------------------------------- */

int topic_tree__new(struct topic_tree **out)
{
	struct topic_tree *t = mqb__calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	hashmap__init(&t->exact);
	hashmap__init(&t->root.children);
	*out = t;
	return 0;
}

static void node_free(struct node *n, bool self)
{
	size_t it = 0;
	struct hashmap_entry *e;
	while ((e = hashmap__next(&n->children, &it)))
		node_free(e->value, true);
	hashmap__fini(&n->children);
	if (n->plus)
		node_free(n->plus, true);
	if (n->hash)
		node_free(n->hash, true);
	values_fini(&n->values);
	if (self) {
		mqb__free(n->level);
		mqb__free(n);
	}
}

void topic_tree__free(struct topic_tree *t)
{
	if (!t)
		return;
	size_t it = 0;
	struct hashmap_entry *e;
	while ((e = hashmap__next(&t->exact, &it))) {
		struct exact *x = e->value;
		values_fini(&x->values);
		mqb__free(x);
	}
	hashmap__fini(&t->exact);
	node_free(&t->root, false);
	mqb__free(t);
}

static bool has_wildcard(const char *f)
{
	return strpbrk(f, "+#") != NULL;
}

static struct node *child(struct node *n, const char *level, size_t len, bool create)
{
	struct node **slot = NULL;
	if (len == 1 && level[0] == '+')
		slot = &n->plus;
	else if (len == 1 && level[0] == '#')
		slot = &n->hash;
	if (slot && *slot)
		return *slot;
	if (!slot) {
		struct node *c = hashmap__get(&n->children, level, len);
		if (c || !create)
			return c;
	} else if (!create) {
		return NULL;
	}
	struct node *c = mqb__calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->level = mqb__strndup(level, len);
	if (!c->level) {
		mqb__free(c);
		return NULL;
	}
	c->levellen = len;
	c->parent = n;
	hashmap__init(&c->children);
	if (slot) {
		*slot = c;
	} else if (hashmap__put(&n->children, c->level, len, c, NULL)) {
		mqb__free(c->level);
		mqb__free(c);
		return NULL;
	}
	return c;
}

/* Drop empty nodes from n up, so a tree that loses its filters shrinks. */
static void prune(struct node *n)
{
	while (n->parent && n->values.n == 0 && !n->plus && !n->hash &&
	       hashmap__count(&n->children) == 0) {
		struct node *p = n->parent;
		if (p->plus == n)
			p->plus = NULL;
		else if (p->hash == n)
			p->hash = NULL;
		else
			hashmap__remove(&p->children, n->level, n->levellen);
		node_free(n, true);
		n = p;
	}
}

static struct node *walk(struct topic_tree *t, const char *f, bool create)
{
	struct node *n = &t->root;
	for (;;) {
		const char *e = strchrnul(f, '/');
		n = child(n, f, (size_t)(e - f), create);
		if (!n || !*e)
			return n;
		f = e + 1;
	}
}

int topic_tree__add(struct topic_tree *t, const char *filter, void *value)
{
	if (!mqb_mqtt_filter_valid(filter))
		return -EINVAL;
	const char *f = topic_tree__match_part(filter);
	size_t len = strlen(f);
	if (!has_wildcard(f)) {
		struct exact *x = hashmap__get(&t->exact, f, len);
		if (!x) {
			if (!(x = mqb__calloc(1, sizeof *x + len + 1)))
				return -ENOMEM;
			memcpy(x->filter, f, len + 1);
			if (hashmap__put(&t->exact, x->filter, len, x, NULL)) {
				mqb__free(x);
				return -ENOMEM;
			}
		}
		return values_add(&x->values, value);
	}
	struct node *n = walk(t, f, true);
	int rc = n ? values_add(&n->values, value) : -ENOMEM;
	if (rc == 0)
		t->nwild++;
	else if (n)
		prune(n);
	return rc;
}

int topic_tree__remove(struct topic_tree *t, const char *filter, void *value)
{
	if (!mqb_mqtt_filter_valid(filter))
		return -EINVAL;
	const char *f = topic_tree__match_part(filter);
	size_t len = strlen(f);
	if (!has_wildcard(f)) {
		struct exact *x = hashmap__get(&t->exact, f, len);
		if (!x || values_remove(&x->values, value))
			return -ENOENT;
		if (x->values.n == 0) {
			hashmap__remove(&t->exact, f, len);
			values_fini(&x->values);
			mqb__free(x);
		}
		return 0;
	}
	struct node *n = walk(t, f, false);
	if (!n || values_remove(&n->values, value))
		return -ENOENT;
	t->nwild--;
	prune(n);
	return 0;
}

struct matcher {
	void (*fn)(void *, void *);
	void *ud;
	size_t calls;
};

/* t points at the start of the current level; end is the topic's end. */
static void match_level(const struct node *n, const char *t, const char *end, bool first,
			struct matcher *m)
{
	bool dollar = first && t < end && *t == '$';
	/* '#' here matches this level and everything below, and the parent
	 * level itself ("a/#" matches "a", handled by the caller's hash check). */
	if (n->hash && !dollar)
		m->calls += values_call(&n->hash->values, m->fn, m->ud);
	const char *e = memchr(t, '/', (size_t)(end - t));
	if (!e)
		e = end;
	const struct node *next[2] = {
		hashmap__get(&n->children, t, (size_t)(e - t)),
		dollar ? NULL : n->plus,
	};
	for (int i = 0; i < 2; i++) {
		const struct node *c = next[i];
		if (!c)
			continue;
		if (e == end) {
			m->calls += values_call(&c->values, m->fn, m->ud);
			if (c->hash)
				m->calls += values_call(&c->hash->values, m->fn, m->ud);
		} else {
			match_level(c, e + 1, end, false, m);
		}
	}
}

size_t topic_tree__match(struct topic_tree *t, const char *topic, size_t len,
			 void (*fn)(void *ud, void *value), void *ud)
{
	struct matcher m = { fn, ud, 0 };
	struct exact *x = hashmap__get(&t->exact, topic, len);
	if (x)
		m.calls += values_call(&x->values, fn, ud);
	if (t->nwild > 0)
		match_level(&t->root, topic, topic + len, true, &m);
	return m.calls;
}
