/* SPDX-License-Identifier: MIT */
/* The state machine: entity_id -> the entity's current immutable state, with
 * Home Assistant's rules for what counts as a change and which timestamps
 * move. Every change is announced on the bus as state_changed. */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "lib/internal.h"
#include "core/hass.h"
#include "lib/hashmap.h"
#include "lib/jsonref.h"
#include "lib/utf8.h"
#include "mqbridge/bus.h"
#include "mqbridge/error.h"
#include "mqbridge/states.h"
#include "mqbridge/text.h"

/* One allocation per state: the entity id and the state string live after
 * the struct ("light.kitchen\0on\0"), so a write costs one malloc and a
 * reader on another thread needs nothing but its reference. Attributes of
 * strings, numbers, booleans and nulls (an MQTT sensor's unit and friendly
 * name) are packed after them (pack_size): a jansson object of two members
 * takes six allocations and some 540 bytes, the packed form some 50, and
 * most states are never read as JSON. The object is built the first time
 * it is asked for and kept. */
struct mqb_state {
	atomic_uint refs;
	uint16_t id_len;
	uint16_t domain_len;
	uint16_t value_len;
	uint32_t packed_len;      /* attributes packed after the state string; 0: none */
	/* An object, never NULL; never modified. With packed attributes, the
	 * shared empty object until they are unpacked (state_attributes). */
	_Atomic(json_t *) attributes;
	double last_changed;
	double last_updated;
	char data[];
};

struct states {
	struct hashmap map; /* entity id (pointing into the state) -> struct mqb_state * */
	/* The attributes of every state written without any: one shared
	 * object, so such a write allocates no JSON (counted with jsonref.h,
	 * as states holding it live on any thread). */
	json_t *empty;
};

static inline struct states *states_of(struct mqb_core *core)
{
	return core__slot(core, CORE_SLOT_STATES);
}

/* ---- states ---- */

struct mqb_state *mqb_state_ref(struct mqb_state *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void mqb_state_unref(struct mqb_state *s)
{
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	jsonref__put(atomic_load_explicit(&s->attributes, memory_order_acquire));
	mqb__free(s);
}

/* ---- packed attributes ---- */

/* A member: its key's length (a varint), the key and a NUL (jansson before
 * 2.14 takes keys NUL-terminated), a type byte, then the value: a string's
 * length and bytes, an integer's or a real's 8 bytes as the machine has
 * them. Unpacking gives back what was packed exactly (the _nocheck setters:
 * the bytes were jansson's already), so the object a reader gets equals
 * the one written. */
enum { P_STRING = 's', P_INTEGER = 'i', P_REAL = 'r', P_TRUE = 't', P_FALSE = 'f', P_NULL = 'n' };

#if JANSSON_VERSION_HEX >= 0x020e00
#define ITER_KEY_LEN(it, key) ((void)(key), json_object_iter_key_len(it))
#define SET_MEMBER(o, key, len, v) json_object_setn_new_nocheck(o, key, len, v)
#else
#define ITER_KEY_LEN(it, key) strlen(key)
#define SET_MEMBER(o, key, len, v) json_object_set_new_nocheck(o, key, v)
#endif

static size_t varint_size(size_t n)
{
	size_t k = 1;
	while (n >= 0x80) {
		n >>= 7;
		k++;
	}
	return k;
}

static unsigned char *varint_put(unsigned char *p, size_t n)
{
	while (n >= 0x80) {
		*p++ = (unsigned char)(n | 0x80);
		n >>= 7;
	}
	*p++ = (unsigned char)n;
	return p;
}

static const unsigned char *varint_get(const unsigned char *p, size_t *n)
{
	size_t v = 0;
	unsigned shift = 0;
	while (*p & 0x80) {
		v |= (size_t)(*p++ & 0x7f) << shift;
		shift += 7;
	}
	*n = v | (size_t)*p++ << shift;
	return p;
}

/* The packed size of attributes; 0 when they cannot be packed (empty, or
 * holding an object or an array: those stay jansson's). */
static size_t pack_size(json_t *attributes)
{
	size_t n = 0;
	for (void *it = json_object_iter(attributes); it;
	     it = json_object_iter_next(attributes, it)) {
		const char *key = json_object_iter_key(it);
		size_t klen = ITER_KEY_LEN(it, key);
		json_t *v = json_object_iter_value(it);
		n += varint_size(klen) + klen + 2;
		switch (json_typeof(v)) {
		case JSON_STRING: {
			size_t len = json_string_length(v);
			n += varint_size(len) + len;
			break;
		}
		case JSON_INTEGER: n += sizeof(json_int_t); break;
		case JSON_REAL: n += sizeof(double); break;
		case JSON_TRUE: case JSON_FALSE: case JSON_NULL: break;
		default: return 0;
		}
	}
	return n <= UINT32_MAX ? n : 0;
}

static void pack(json_t *attributes, unsigned char *p)
{
	for (void *it = json_object_iter(attributes); it;
	     it = json_object_iter_next(attributes, it)) {
		const char *key = json_object_iter_key(it);
		size_t klen = ITER_KEY_LEN(it, key);
		json_t *v = json_object_iter_value(it);
		p = varint_put(p, klen);
		memcpy(p, key, klen);
		p += klen;
		*p++ = '\0';
		switch (json_typeof(v)) {
		case JSON_STRING: {
			size_t len = json_string_length(v);
			*p++ = P_STRING;
			p = varint_put(p, len);
			memcpy(p, json_string_value(v), len);
			p += len;
			break;
		}
		case JSON_INTEGER: {
			json_int_t i = json_integer_value(v);
			*p++ = P_INTEGER;
			memcpy(p, &i, sizeof i);
			p += sizeof i;
			break;
		}
		case JSON_REAL: {
			double d = json_real_value(v);
			*p++ = P_REAL;
			memcpy(p, &d, sizeof d);
			p += sizeof d;
			break;
		}
		case JSON_TRUE: *p++ = P_TRUE; break;
		case JSON_FALSE: *p++ = P_FALSE; break;
		default: *p++ = P_NULL; break;
		}
	}
}

static const unsigned char *packed_of(const struct mqb_state *s)
{
	return (const unsigned char *)s->data + s->id_len + s->value_len + 2;
}

/* A member read at p, and the position after it. */
struct member {
	const char *key;
	size_t klen;
	unsigned char type;
	const unsigned char *val; /* a string's bytes, an integer's or a real's */
	size_t len;               /* a string's */
};

static const unsigned char *member_get(const unsigned char *p, struct member *m)
{
	p = varint_get(p, &m->klen);
	m->key = (const char *)p;
	p += m->klen + 1;
	m->type = *p++;
	m->len = 0;
	if (m->type == P_STRING)
		p = varint_get(p, &m->len);
	else if (m->type == P_INTEGER)
		m->len = sizeof(json_int_t);
	else if (m->type == P_REAL)
		m->len = sizeof(double);
	m->val = p;
	return p + m->len;
}

static json_t *member_value(const struct member *m)
{
	json_int_t i;
	double d;
	switch (m->type) {
	case P_STRING: return json_stringn_nocheck((const char *)m->val, m->len);
	case P_INTEGER: memcpy(&i, m->val, sizeof i); return json_integer(i);
	case P_REAL: memcpy(&d, m->val, sizeof d); return json_real(d);
	case P_TRUE: return json_true();
	case P_FALSE: return json_false();
	default: return json_null();
	}
}

/* Whether v is the value m holds, as json_equal would say (a false "no"
 * only costs json_equal's walk). */
static bool member_is(const struct member *m, const json_t *v)
{
	json_int_t i;
	double d;
	switch (m->type) {
	case P_STRING:
		return json_is_string(v) && json_string_length(v) == m->len &&
		       memcmp(json_string_value(v), m->val, m->len) == 0;
	case P_INTEGER:
		memcpy(&i, m->val, sizeof i);
		return json_is_integer(v) && json_integer_value(v) == i;
	case P_REAL:
		memcpy(&d, m->val, sizeof d);
		return json_is_real(v) && json_real_value(v) == d;
	case P_TRUE: return json_is_true(v);
	case P_FALSE: return json_is_false(v);
	default: return json_is_null(v);
	}
}

/* A new object of s's packed attributes, or NULL (out of memory). */
static json_t *unpack(const struct mqb_state *s)
{
	json_t *o = json_object();
	const unsigned char *p = packed_of(s), *end = p + s->packed_len;
	while (o && p < end) {
		struct member m;
		p = member_get(p, &m);
		json_t *v = member_value(&m);
		if (!v || SET_MEMBER(o, m.key, m.klen, v)) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

/* Whether s's packed attributes are those of a, member by member in
 * order: what a repeated write with the same attributes gives, told
 * without building them. false: maybe not (json_equal decides). */
static bool packed_same(const struct mqb_state *s, const json_t *a)
{
	const unsigned char *p = packed_of(s), *end = p + s->packed_len;
	for (void *it = json_object_iter((json_t *)a); it;
	     it = json_object_iter_next((json_t *)a, it)) {
		const char *key = json_object_iter_key(it);
		size_t klen = ITER_KEY_LEN(it, key);
		struct member m;
		if (p >= end)
			return false;
		p = member_get(p, &m);
		if (m.klen != klen || memcmp(m.key, key, klen) != 0 ||
		    !member_is(&m, json_object_iter_value(it)))
			return false;
	}
	return p == end;
}

/* The attributes object, unpacked on the first call from any thread: the
 * first to swap its object in wins and the others drop theirs. Out of
 * memory, the empty object (the contract is never NULL). */
static const json_t *state_attributes(const struct mqb_state *cs)
{
	struct mqb_state *s = (struct mqb_state *)cs; /* the cache is not the value */
	json_t *a = atomic_load_explicit(&s->attributes, memory_order_acquire);
	if (!s->packed_len || json_object_size(a))
		return a;
	json_t *made = unpack(s);
	if (!made)
		return a;
	json_t *expected = a;
	if (atomic_compare_exchange_strong_explicit(&s->attributes, &expected, made,
						    memory_order_acq_rel, memory_order_acquire)) {
		jsonref__put(a);
		return made;
	}
	json_decref(made);
	return expected;
}

const char *mqb_state_entity_id(const struct mqb_state *s) { return s->data; }
const char *mqb_state_domain(const struct mqb_state *s) { return s->data; }
size_t mqb_state_domain_len(const struct mqb_state *s) { return s->domain_len; }
const char *mqb_state_object_id(const struct mqb_state *s) { return s->data + s->domain_len + 1; }
const char *mqb_state_value(const struct mqb_state *s) { return s->data + s->id_len + 1; }
const json_t *mqb_state_attributes(const struct mqb_state *s) { return state_attributes(s); }
double mqb_state_last_changed(const struct mqb_state *s) { return s->last_changed; }
double mqb_state_last_updated(const struct mqb_state *s) { return s->last_updated; }

/* Takes the reference to attributes (an object), also on failure; packs
 * them when it can, with empty in their place (a reference taken). */
static struct mqb_state *state_new(const char *id, size_t id_len, size_t domain_len,
				   const char *value, size_t value_len, json_t *attributes,
				   json_t *empty, double last_changed, double last_updated)
{
	size_t packed = pack_size(attributes);
	struct mqb_state *s = mqb__malloc(sizeof(*s) + id_len + value_len + 2 + packed);
	if (!s) {
		jsonref__put(attributes);
		return NULL;
	}
	atomic_init(&s->refs, 1);
	s->id_len = (uint16_t)id_len;
	s->domain_len = (uint16_t)domain_len;
	s->value_len = (uint16_t)value_len;
	s->packed_len = (uint32_t)packed;
	s->last_changed = last_changed;
	s->last_updated = last_updated;
	memcpy(s->data, id, id_len);
	s->data[id_len] = '\0';
	memcpy(s->data + id_len + 1, value, value_len);
	s->data[id_len + 1 + value_len] = '\0';
	if (packed) {
		pack(attributes, (unsigned char *)s->data + id_len + value_len + 2);
		jsonref__put(attributes);
		attributes = jsonref__get(empty);
	}
	atomic_init(&s->attributes, attributes);
	return s;
}

/* Times as Home Assistant's State.as_dict() writes them: Python's
 * isoformat in UTC, null outside the years it can write. */
static json_t *iso_time(double t)
{
	char buf[MQB_ISOFORMAT_MAX];
	return mqb_isoformat(t, buf) ? json_string(buf) : json_null();
}

json_t *mqb_state_to_json(const struct mqb_state *s)
{
	if (!s)
		return NULL;
	json_t *o = json_object();
	if (!o)
		return NULL;
	/* The _new setters take their argument even when they fail; a NULL
	 * value makes them fail, which is caught below. */
	int rc = json_object_set_new(o, "entity_id", json_stringn(s->data, s->id_len));
	rc |= json_object_set_new(o, "state", json_stringn(mqb_state_value(s), s->value_len));
	/* A copy: the attributes are shared between threads (jsonref.h). */
	rc |= json_object_set_new(o, "attributes", json_deep_copy(state_attributes(s)));
	rc |= json_object_set_new(o, "last_changed", iso_time(s->last_changed));
	rc |= json_object_set_new(o, "last_updated", iso_time(s->last_updated));
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- validation ---- */

/* Character classes of an entity id; anything else (NUL included) is 0. */
enum { C_BAD, C_ALNUM, C_UNDERSCORE, C_DOT };
static const unsigned char id_class[256] = {
	['0' ... '9'] = C_ALNUM, ['a' ... 'z'] = C_ALNUM, ['_'] = C_UNDERSCORE, ['.'] = C_DOT,
};

/* Home Assistant's VALID_ENTITY_ID,
 *   ^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$
 * with its limits (id <= 255, domain <= 64), written out by hand. The regex
 * says: two non-empty parts of [a-z0-9_] around one dot, neither starting
 * nor ending with '_', and no "__" (the lookahead (?!.+__) allows one only
 * at the very start, where (?!_) forbids it anyway). Put another way: runs
 * of [a-z0-9] joined by single '_' or by the one '.', and no run empty,
 * which is the loop below.
 * We are stricter than the regex as Python runs it in two places: \d there
 * also matches non-ASCII digits, and $ matches before a trailing newline;
 * neither can make an id anything else in mqbridge accepts.
 * Returns the id's length, or -1; *domain_len gets the domain's. */
static long entity_id_check(const char *id, size_t *domain_len)
{
	const unsigned char *start = (const unsigned char *)id, *p = start, *run = start;
	const unsigned char *dot = NULL;
	for (;;) {
		unsigned k;
		while ((k = id_class[*p]) == C_ALNUM)
			p++;
		if (p == run) /* an empty run: "_a", "a__b", "a_.b", "a.", "" ... */
			return -1;
		if (k == C_BAD)
			break;
		if (k == C_DOT) {
			if (dot)
				return -1;
			dot = p;
		}
		run = ++p;
	}
	long n = (long)(p - start);
	if (*p || !dot || n > MQB_MAX_ENTITY_ID_LEN || dot - start > MQB_MAX_DOMAIN_LEN)
		return -1;
	*domain_len = (size_t)(dot - start);
	return n;
}

bool mqb_entity_id_valid(const char *entity_id)
{
	size_t d;
	return entity_id && entity_id_check(entity_id, &d) >= 0;
}

/* Home Assistant lowercases the id before it stores or looks up a state
 * (StateMachine.async_set/async_remove), so "Light.Kitchen" names
 * light.kitchen. The common case, an id already valid, costs one pass; only
 * an invalid id is lowercased into buf and checked again. */
static long entity_id_normalize(const char **id, char buf[MQB_MAX_ENTITY_ID_LEN + 1],
				size_t *domain_len)
{
	long n = entity_id_check(*id, domain_len);
	if (n >= 0)
		return n;
	size_t i;
	bool upper = false;
	for (i = 0; (*id)[i]; i++) {
		if (i == MQB_MAX_ENTITY_ID_LEN)
			return -1;
		char c = (*id)[i];
		if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
			upper = true;
		}
		buf[i] = c;
	}
	buf[i] = '\0';
	if (!upper)
		return -1;
	n = entity_id_check(buf, domain_len);
	if (n >= 0)
		*id = buf;
	return n;
}

/* At most MQB_MAX_STATE_LEN bytes (Home Assistant counts characters; we
 * count bytes, what MQTT and storage see) of well-formed UTF-8. Returns the
 * length in bytes, or -1. */
static long state_value_check(const char *state)
{
	size_t n = strnlen(state, MQB_MAX_STATE_LEN + 1);
	return n <= MQB_MAX_STATE_LEN && utf8__valid(state, n, false) ? (long)n : -1;
}

bool mqb_state_value_valid(const char *state)
{
	return state && state_value_check(state) >= 0;
}

/* ---- the state machine, on the loop ---- */

struct states *states__new(void)
{
	struct states *st = mqb__calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	hashmap__init(&st->map);
	st->empty = json_object();
	if (!st->empty) {
		mqb__free(st);
		return NULL;
	}
	return st;
}

void states__free(struct states *st)
{
	if (!st)
		return;
	size_t it = 0;
	struct hashmap_entry *e;
	while ((e = hashmap__next(&st->map, &it)))
		mqb_state_unref(e->value);
	hashmap__fini(&st->map);
	jsonref__put(st->empty);
	mqb__free(st);
}

static bool attributes_equal(const struct mqb_state *old, const json_t *b)
{
	/* Pointer equality first: the common write keeps the shared empty
	 * object, and json_equal would walk two objects to say the same.
	 * Packed ones are compared packed: a sensor writing the same value
	 * again with the same attributes builds nothing. */
	if (old->packed_len) {
		if (packed_same(old, b))
			return true;
	} else if (atomic_load_explicit(&old->attributes, memory_order_acquire) == b) {
		return true;
	}
	return json_equal(state_attributes(old), b);
}

int mqb_states_async_set(struct mqb_core *core, const char *entity_id, const char *state,
			 json_t *attributes, bool force_update)
{
	MQB_ASSERT_LOOP(core);
	struct states *st = states_of(core);
	char idbuf[MQB_MAX_ENTITY_ID_LEN + 1];
	struct hashmap_entry *e = NULL;
	size_t domain_len;
	long id_len;
	int rc;

	if (!entity_id || !state || (attributes && !json_is_object(attributes))) {
		rc = -EINVAL;
		goto fail;
	}
	/* Look up first: an id equal to a stored one is valid by construction,
	 * so the usual write (an existing entity) skips the character check. */
	size_t len = strlen(entity_id);
	if (len <= MQB_MAX_ENTITY_ID_LEN)
		e = hashmap__find(&st->map, entity_id, len);
	if (e) {
		id_len = (long)len;
		domain_len = ((struct mqb_state *)e->value)->domain_len;
	} else {
		const char *given = entity_id;
		id_len = entity_id_normalize(&entity_id, idbuf, &domain_len);
		if (id_len < 0) {
			rc = -EINVAL;
			goto fail;
		}
		if (entity_id != given) /* lowercased: it may exist after all */
			e = hashmap__find(&st->map, entity_id, (size_t)id_len);
	}
	long value_len = state_value_check(state);
	if (value_len < 0) {
		rc = -MQB_E_INVALID_STATE;
		goto fail;
	}
	if (!attributes)
		attributes = jsonref__get(st->empty);

	struct mqb_state *old = e ? e->value : NULL;
	/* As Home Assistant: force_update makes the state count as changed,
	 * so last_changed moves too (core.py: same_state = old.state == new
	 * and not force_update; last_changed = old's if same_state). */
	bool same_state = old && !force_update && old->value_len == (size_t)value_len &&
			  memcmp(mqb_state_value(old), state, (size_t)value_len) == 0;
	if (same_state && attributes_equal(old, attributes)) {
		jsonref__put(attributes);
		return 0;
	}

	double now = mqb__time_wall();
	struct mqb_state *s = state_new(entity_id, (size_t)id_len, domain_len, state,
					(size_t)value_len, attributes, st->empty,
					same_state ? old->last_changed : now, now);
	if (!s)
		return -ENOMEM;
	/* Make the event before the table changes, so that running out of
	 * memory leaves everything as it was rather than a silent change. */
	struct mqb_event *ev = bus__event_state_changed(s->data, old, s);
	if (!ev) {
		mqb_state_unref(s);
		return -ENOMEM;
	}
	if (e) {
		/* Replace in place: one probe for the whole write. The key now
		 * points at the new state's copy of the id. */
		e->key = s->data;
		e->value = s;
	} else {
		rc = hashmap__put(&st->map, s->data, (size_t)id_len, s, NULL);
		if (rc < 0) {
			mqb_event_unref(ev);
			mqb_state_unref(s);
			return rc;
		}
	}
	/* The table's reference to the old state passes to nobody: the event
	 * holds its own for as long as listeners want it. */
	mqb_state_unref(old);
	rc = bus__async_fire_event(core, ev);
	mqb_event_unref(ev);
	return rc < 0 ? rc : 0;

fail:
	json_decref(attributes);
	return rc;
}

/* Exact id first, then lowercased, as Home Assistant's get does. */
static struct hashmap_entry *lookup(struct states *st, const char *entity_id)
{
	size_t len = strlen(entity_id);
	struct hashmap_entry *e = hashmap__find(&st->map, entity_id, len);
	if (e || len > MQB_MAX_ENTITY_ID_LEN)
		return e;
	char buf[MQB_MAX_ENTITY_ID_LEN + 1];
	bool upper = false;
	for (size_t i = 0; i < len; i++) {
		char c = entity_id[i];
		if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
			upper = true;
		}
		buf[i] = c;
	}
	return upper ? hashmap__find(&st->map, buf, len) : NULL;
}

struct mqb_state *mqb_states_async_get(struct mqb_core *core, const char *entity_id)
{
	MQB_ASSERT_LOOP(core);
	if (!entity_id)
		return NULL;
	struct hashmap_entry *e = lookup(states_of(core), entity_id);
	return e ? mqb_state_ref(e->value) : NULL;
}

int mqb_states_async_remove(struct mqb_core *core, const char *entity_id)
{
	MQB_ASSERT_LOOP(core);
	struct states *st = states_of(core);
	if (!entity_id)
		return -EINVAL;
	struct hashmap_entry *e = lookup(st, entity_id);
	if (!e)
		return -MQB_E_NOTFOUND;
	struct mqb_state *old = e->value;
	struct mqb_event *ev = bus__event_state_changed(old->data, old, NULL);
	if (!ev)
		return -ENOMEM;
	hashmap__remove(&st->map, old->data, old->id_len);
	mqb_state_unref(old);
	int rc = bus__async_fire_event(core, ev);
	mqb_event_unref(ev);
	return rc < 0 ? rc : 0;
}

size_t mqb_states_async_count(struct mqb_core *core)
{
	MQB_ASSERT_LOOP(core);
	return hashmap__count(&states_of(core)->map);
}

static int cmp_state_id(const void *a, const void *b)
{
	const struct mqb_state *const *x = a, *const *y = b;
	return strcmp((*x)->data, (*y)->data);
}

int mqb_states_async_foreach(struct mqb_core *core,
			     int (*fn)(void *ud, const struct mqb_state *s), void *ud)
{
	MQB_ASSERT_LOOP(core);
	struct states *st = states_of(core);
	size_t n = hashmap__count(&st->map);
	if (!fn)
		return -EINVAL;
	if (!n)
		return 0;
	/* Sorted on a snapshot: the table's order is its hash order, and
	 * callers (re-announcing every state, templates) want a stable one. */
	struct mqb_state **v = mqb__malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t it = 0, i = 0;
	struct hashmap_entry *e;
	while ((e = hashmap__next(&st->map, &it)))
		v[i++] = e->value;
	qsort(v, n, sizeof(*v), cmp_state_id);
	int rc = 0;
	for (i = 0; i < n && !rc; i++)
		rc = fn(ud, v[i]);
	mqb__free(v);
	return rc;
}

/* ---- thread-safe flavours: the arguments travel on the caller's stack,
 * which stays put while mqb_call_threadsafe waits. ---- */

struct set_args {
	const char *entity_id;
	const char *state;
	json_t *attributes;
	bool force_update;
	bool taken; /* the loop took attributes; otherwise the caller drops it */
	struct mqb_state *got;
};

static int set_on_loop(void *ud, void *arg, void **result)
{
	struct set_args *a = ud;
	a->taken = true;
	return mqb_states_async_set(arg, a->entity_id, a->state, a->attributes, a->force_update);
}

int mqb_states_set(struct mqb_core *core, const char *entity_id, const char *state,
		   json_t *attributes, bool force_update)
{
	struct set_args a = { entity_id, state, attributes, force_update, false, NULL };
	int rc = mqb_call_threadsafe(core, set_on_loop, &a, core);
	if (!a.taken)
		json_decref(attributes);
	return rc;
}

static int get_on_loop(void *ud, void *arg, void **result)
{
	struct set_args *a = ud;
	a->got = mqb_states_async_get(arg, a->entity_id);
	return 0;
}

int mqb_states_get(struct mqb_core *core, const char *entity_id, struct mqb_state **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	struct set_args a = { .entity_id = entity_id };
	int rc = mqb_call_threadsafe(core, get_on_loop, &a, core);
	if (rc < 0) {
		mqb_state_unref(a.got);
		return rc;
	}
	*out = a.got;
	return 0;
}

static int remove_on_loop(void *ud, void *arg, void **result)
{
	struct set_args *a = ud;
	return mqb_states_async_remove(arg, a->entity_id);
}

int mqb_states_remove(struct mqb_core *core, const char *entity_id)
{
	struct set_args a = { .entity_id = entity_id };
	return mqb_call_threadsafe(core, remove_on_loop, &a, core);
}
