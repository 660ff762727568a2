/* SPDX-License-Identifier: MIT */
/* Template values: Python's semantics for truthiness, equality, ordering,
 * str() and repr(), and conversion to and from JSON. Everything lives in
 * the render's arena. */
#include "lib/internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "template/tpl.h"

const struct tv_str *tpl_str(struct tpl_ctx *cx, const char *s, size_t len)
{
	tpl_work(cx, 2 + TPL_W_BYTES(len));
	return tv_str_fill(tpl_alloc(cx, sizeof(struct tv_str) + len + 1), s, len);
}

struct tv tv_string(struct tpl_ctx *cx, const char *s, size_t len)
{
	return tv_strv(tpl_str(cx, s, len));
}

struct tv tv_cstr(struct tpl_ctx *cx, const char *s)
{
	return tv_string(cx, s, strlen(s));
}

struct tv tv_list_new(struct tpl_ctx *cx, size_t cap)
{
	struct tv v = { .t = TV_LIST };
	struct tv_list_x *x = tpl_alloc(cx, sizeof *x);
	struct tv_list *l = &x->l;
	x->kind = LK_LIST;
	l->n = 0;
	l->cap = cap;
	l->v = cap ? tpl_alloc(cx, cap * sizeof *l->v) : NULL;
	v.l = l;
	return v;
}

struct tv tv_list_of(struct tpl_ctx *cx, const struct tv *v, size_t n)
{
	tpl_work(cx, n);
	struct tv l = tv_list_new(cx, n);
	if (n)
		memcpy(l.l->v, v, n * sizeof *v);
	l.l->n = n;
	return l;
}

void tv_list_push(struct tpl_ctx *cx, struct tv *list, struct tv v)
{
	struct tv_list *l = list->l;
	tpl_work(cx, TPL_W_ITEM);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		tpl_work(cx, l->n);
		struct tv *nv = tpl_alloc(cx, cap * sizeof *nv);
		if (l->n)
			memcpy(nv, l->v, l->n * sizeof *nv);
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = v;
}

struct tv tv_dict_new(struct tpl_ctx *cx, size_t cap)
{
	struct tv v = { .t = TV_DICT };
	struct tv_dict *d = tpl_alloc(cx, sizeof *d);
	d->n = 0;
	d->cap = cap;
	d->k = cap ? tpl_alloc(cx, cap * sizeof *d->k) : NULL;
	d->v = cap ? tpl_alloc(cx, cap * sizeof *d->v) : NULL;
	v.d = d;
	return v;
}

/* A dict looks its keys up one by one: dicts in templates are small, and a
 * large one (a payload's) pays for each lookup in work. */
static ssize_t dict_find(struct tpl_ctx *cx, const struct tv_dict *d, struct tv key)
{
	if (key.t == TV_STR) {
		size_t i = 0;
		for (; i < d->n; i++)
			if (d->k[i].t == TV_STR && d->k[i].s->len == key.s->len &&
			    memcmp(d->k[i].s->s, key.s->s, key.s->len) == 0)
				break;
		tpl_work(cx, (1 + i) * TPL_W_ITEM);
		return i < d->n ? (ssize_t)i : -1;
	}
	for (size_t i = 0; i < d->n; i++)
		if (tv_equal(cx, d->k[i], key))
			return (ssize_t)i;
	return -1;
}

void tv_dict_set(struct tpl_ctx *cx, struct tv *dict, struct tv key, struct tv v)
{
	struct tv_dict *d = dict->d;
	ssize_t i = dict_find(cx, d, key);
	if (i >= 0) {
		d->v[i] = v;
		return;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 4;
		tpl_work(cx, 2 * d->n);
		struct tv *nk = tpl_alloc(cx, cap * sizeof *nk), *nv = tpl_alloc(cx, cap * sizeof *nv);
		if (d->n) {
			memcpy(nk, d->k, d->n * sizeof *nk);
			memcpy(nv, d->v, d->n * sizeof *nv);
		}
		d->k = nk;
		d->v = nv;
		d->cap = cap;
	}
	d->k[d->n] = key;
	d->v[d->n++] = v;
}

const struct tv *tv_dict_get(struct tpl_ctx *cx, const struct tv *dict, struct tv key)
{
	if (dict->t != TV_DICT && dict->t != TV_NAMESPACE)
		return NULL;
	ssize_t i = dict_find(cx, dict->d, key);
	return i < 0 ? NULL : &dict->d->v[i];
}

bool tpl_json_is_state(const json_t *j)
{
	if (!json_is_object(j) || json_object_size(j) < 5 || json_object_size(j) > 7)
		return false;
	const json_t *id = json_object_get(j, "entity_id");
	return json_is_string(id) && strchr(json_string_value(id), '.') &&
	       json_is_string(json_object_get(j, "state")) &&
	       json_is_object(json_object_get(j, "attributes")) &&
	       json_is_string(json_object_get(j, "last_changed")) &&
	       json_is_string(json_object_get(j, "last_updated"));
}

/* A State's dict (State.as_dict: the trigger's from_state and to_state,
 * `this`) as the State object Home Assistant's templates see, with its
 * domain, object_id, name and datetimes. */
static struct tv state_from_json(struct tpl_ctx *cx, const json_t *j)
{
	struct tv_state *st = tpl_alloc(cx, sizeof *st);
	const json_t *id = json_object_get(j, "entity_id"), *v = json_object_get(j, "state");
	st->domain = NULL;
	st->entity_id = tpl_str(cx, json_string_value(id), json_string_length(id))->s;
	st->domain_len = (size_t)(strchr(st->entity_id, '.') - st->entity_id);
	st->state = tpl_str(cx, json_string_value(v), json_string_length(v))->s;
	st->attributes = tv_from_json(cx, json_object_get(j, "attributes"));
	int32_t off;
	bool aware;
	if (!mqb_parse_datetime(json_string_value(json_object_get(j, "last_changed")),
				&st->last_changed, &off, &aware))
		st->last_changed = 0;
	if (!mqb_parse_datetime(json_string_value(json_object_get(j, "last_updated")),
				&st->last_updated, &off, &aware))
		st->last_updated = st->last_changed;
	return (struct tv){ .t = TV_STATE, .st = st };
}

struct tv tv_from_json(struct tpl_ctx *cx, const json_t *j)
{
	if (!j)
		return tv_undef();
	tpl_work(cx, TPL_W_ITEM);
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		if (tpl_json_is_state(j))
			return state_from_json(cx, j);
		struct tv d = tv_dict_new(cx, json_object_size(j));
		const char *k;
		json_t *v;
		/* json_object_foreach takes a non-const object; it does not modify it. */
		json_object_foreach((json_t *)j, k, v) {
			struct tv_dict *dd = d.d;
			/* keys are unique in a jansson object: append directly */
			dd->k[dd->n] = tv_string(cx, k, strlen(k));
			dd->v[dd->n++] = tv_from_json(cx, v);
		}
		return d;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(j);
		struct tv l = tv_list_new(cx, n);
		for (size_t i = 0; i < n; i++)
			l.l->v[i] = tv_from_json(cx, json_array_get(j, i));
		l.l->n = n;
		return l;
	}
	case JSON_STRING:
		tpl_work(cx, TPL_W_BYTES(json_string_length(j)));
		return tv_string(cx, json_string_value(j), json_string_length(j));
	case JSON_INTEGER:
		return tv_int(json_integer_value(j));
	case JSON_REAL:
		return tv_float(json_real_value(j));
	case JSON_TRUE:
		return tv_bool(true);
	case JSON_FALSE:
		return tv_bool(false);
	case JSON_NULL:
	default:
		return tv_none();
	}
}

bool tv_truthy(struct tv v)
{
	switch (v.t) {
	case TV_UNDEFINED:
	case TV_NONE:
		return false;
	case TV_BOOL:
		return v.b;
	case TV_INT:
		return v.i != 0;
	case TV_FLOAT:
		return v.f != 0.0;
	case TV_STR:
	case TV_BYTES:
		return v.s->len != 0;
	case TV_LIST:
		return v.l->n != 0;
	case TV_DICT:
		return v.d->n != 0;
	case TV_TIMEDELTA:
		return v.td != 0.0;
	default:
		return true;
	}
}

static int64_t as_int(struct tv v)
{
	return v.t == TV_INT ? v.i : (int64_t)v.b;
}

static bool equal(struct tpl_ctx *cx, struct tv a, struct tv b, unsigned depth)
{
	tpl_work(cx, TPL_W_ITEM + 1);
	if (tv_is_number(a) && tv_is_number(b)) {
		if (a.t != TV_FLOAT && b.t != TV_FLOAT)
			return as_int(a) == as_int(b);
		return tv_as_double(a) == tv_as_double(b);
	}
	if (a.t != b.t)
		return false;
	if (a.t == TV_STR && (tv_is_version(a) || tv_is_version(b))) {
		tpl_work_n(cx, a.s->len + b.s->len, TPL_W_CHAR);
		return tpl_version_cmp(a.s, b.s) == 0;
	}
	switch (a.t) {
	case TV_UNDEFINED:
	case TV_NONE:
		return true;
	case TV_STR:
		if (a.s->len != b.s->len)
			return false;
		tpl_work(cx, TPL_W_BYTES(a.s->len));
		return memcmp(a.s->s, b.s->s, a.s->len) == 0;
	case TV_BYTES:
		if (a.s->len != b.s->len)
			return false;
		tpl_work(cx, TPL_W_BYTES(a.s->len));
		return memcmp(a.s->s, b.s->s, a.s->len) == 0;
	case TV_LIST:
		if (a.l->n != b.l->n || tv_list_kind(a) != tv_list_kind(b))
			return false;
		if (depth >= TV_MAX_NEST)
			tpl_fail_code(cx, -ELOOP, "value nested too deeply");
		if (tv_is_set(a)) {    /* the same items, in any order */
			for (size_t i = 0; i < a.l->n; i++) {
				size_t j = 0;
				while (j < b.l->n && !equal(cx, a.l->v[i], b.l->v[j], depth + 1))
					j++;
				if (j == b.l->n)
					return false;
			}
			return true;
		}
		for (size_t i = 0; i < a.l->n; i++)
			if (!equal(cx, a.l->v[i], b.l->v[i], depth + 1))
				return false;
		return true;
	case TV_DICT:
	case TV_NAMESPACE:
		if (a.t == TV_NAMESPACE)
			return a.d == b.d;
		if (a.d->n != b.d->n)
			return false;
		if (depth >= TV_MAX_NEST)
			tpl_fail_code(cx, -ELOOP, "value nested too deeply");
		for (size_t i = 0; i < a.d->n; i++) {
			const struct tv *o = tv_dict_get(cx, &b, a.d->k[i]);
			if (!o || !equal(cx, a.d->v[i], *o, depth + 1))
				return false;
		}
		return true;
	case TV_DATETIME:
		/* a naive datetime is never equal to an aware one */
		return a.ts == b.ts && tv_is_naive(a) == tv_is_naive(b);
	case TV_DATE:
		return a.ts == b.ts;
	case TV_TIMEDELTA:
		return a.td == b.td;
	default:
		return a.p == b.p;
	}
}

bool tv_equal(struct tpl_ctx *cx, struct tv a, struct tv b)
{
	return equal(cx, a, b, 0);
}

const char *tv_type_name(struct tv v)
{
	switch (v.t) {
	case TV_UNDEFINED: return "Undefined";
	case TV_NONE: return "NoneType";
	case TV_BOOL: return "bool";
	case TV_INT: return "int";
	case TV_FLOAT: return "float";
	case TV_STR: return tv_is_markup(v) ? "Markup" : tv_is_version(v) ? "AwesomeVersion" : "str";
	case TV_LIST: return tv_is_tuple(v) ? "tuple" : tv_is_set(v) ? "set" : "list";
	case TV_DICT: return "dict";
	case TV_DATETIME: return "datetime.datetime";
	case TV_DATE: return "datetime.date";
	case TV_TIMEDELTA: return "datetime.timedelta";
	case TV_NAMESPACE: return "Namespace";
	case TV_STATE: return tpl_state_is_domain(v) ? "DomainStates" : "TemplateState";
	case TV_CALLABLE: return "AllStates";
	case TV_BYTES: return "bytes";
	case TV_LOOP: return "LoopContext";
	case TV_MODULE: return "TemplateModule";
	case TV_FUNC:
		switch (v.fn->kind) {
		case FN_MACRO: return "Macro";
		case FN_METHOD: return "builtin_function_or_method";
		case FN_CYCLER: return "Cycler";
		case FN_JOINER: return "Joiner";
		default: return "function";
		}
	default: return "object";
	}
}

const char *tpl_typeof(struct tv v)
{
	const char *n = tv_type_name(v);
	const char *dot = strchr(n, '.');
	return dot ? dot + 1 : n;
}

static int cmp3(double a, double b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

static int compare(struct tpl_ctx *cx, struct tv a, struct tv b, const char *op, unsigned depth)
{
	tpl_work(cx, 3 * TPL_W_ITEM);
	if (tv_is_number(a) && tv_is_number(b)) {
		if (a.t != TV_FLOAT && b.t != TV_FLOAT) {
			int64_t x = as_int(a), y = as_int(b);
			return x < y ? -1 : x > y;
		}
		return cmp3(tv_as_double(a), tv_as_double(b));
	}
	if (a.t == TV_UNDEFINED || b.t == TV_UNDEFINED)
		tpl_check_defined(cx, a.t == TV_UNDEFINED ? a : b);
	if (a.t == TV_DATETIME && b.t == TV_DATETIME && tv_is_naive(a) != tv_is_naive(b))
		tpl_fail(cx, "can't compare offset-naive and offset-aware datetimes");
	if (a.t == TV_STR && b.t == TV_STR && (tv_is_version(a) || tv_is_version(b))) {
		tpl_work_n(cx, a.s->len + b.s->len, TPL_W_CHAR);
		return tpl_version_cmp(a.s, b.s);
	}
	if (a.t == b.t && tv_list_kind(a) == tv_list_kind(b) && !tv_is_set(a)) {
		switch (a.t) {
		case TV_BYTES:
		case TV_STR: {
			size_t n = a.s->len < b.s->len ? a.s->len : b.s->len;
			tpl_work(cx, TPL_W_BYTES(n));
			int c = memcmp(a.s->s, b.s->s, n);
			if (c)
				return c < 0 ? -1 : 1;
			return a.s->len < b.s->len ? -1 : a.s->len > b.s->len;
		}
		case TV_LIST:
			if (depth >= TV_MAX_NEST)
				tpl_fail_code(cx, -ELOOP, "value nested too deeply");
			for (size_t i = 0; i < a.l->n && i < b.l->n; i++) {
				if (equal(cx, a.l->v[i], b.l->v[i], depth + 1))
					continue;
				return compare(cx, a.l->v[i], b.l->v[i], op, depth + 1);
			}
			return a.l->n < b.l->n ? -1 : a.l->n > b.l->n;
		case TV_DATETIME:
		case TV_DATE:
			return cmp3(a.ts, b.ts);
		case TV_TIMEDELTA:
			return cmp3(a.td, b.td);
		default:
			break;
		}
	}
	tpl_fail(cx, "'%s' not supported between instances of '%s' and '%s'", op, tv_type_name(a),
		 tv_type_name(b));
}

int tv_compare_op(struct tpl_ctx *cx, struct tv a, struct tv b, const char *op)
{
	return compare(cx, a, b, op, 0);
}

int tv_compare(struct tpl_ctx *cx, struct tv a, struct tv b)
{
	return tv_compare_op(cx, a, b, "<");
}

/* ---- str() and repr() --------------------------------------------------- */

void tpl_buf_add(struct tpl_ctx *cx, struct tpl_buf *b, const char *s, size_t n)
{
	tpl_work(cx, 3 + TPL_W_BYTES(n));
	if (b->len + n + 1 > b->cap) {
		tpl_work(cx, TPL_W_BYTES(b->len));
		size_t cap = b->cap ? b->cap * 2 : 32;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = tpl_alloc(cx, cap);
		if (b->len)
			memcpy(p, b->p, b->len);
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
}

void tpl_buf_addc(struct tpl_ctx *cx, struct tpl_buf *b, char c)
{
	tpl_buf_add(cx, b, &c, 1);
}

void tpl_buf_fill(struct tpl_ctx *cx, struct tpl_buf *b, char c, size_t n)
{
	if (!n)
		return;
	char *tmp = tpl_alloc(cx, n);
	memset(tmp, c, n);
	tpl_buf_add(cx, b, tmp, n);
}

void tpl_buf_puts(struct tpl_ctx *cx, struct tpl_buf *b, const char *s)
{
	tpl_buf_add(cx, b, s, strlen(s));
}

const struct tv_str *tpl_buf_done(struct tpl_ctx *cx, struct tpl_buf *b)
{
	return tpl_str(cx, b->p ? b->p : "", b->len);
}

/* repr() of a str, or of bytes (b'...', every byte from 0x7f up escaped). */
static void buf_repr_str(struct tpl_ctx *cx, struct tpl_buf *b, const struct tv_str *s, bool bytes)
{
	char q = '\'';
	if (memchr(s->s, '\'', s->len) && !memchr(s->s, '"', s->len))
		q = '"';
	if (bytes)
		tpl_buf_addc(cx, b, 'b');
	tpl_buf_addc(cx, b, q);
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->s[i];
		char e[8];
		if (c == (unsigned char)q || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			tpl_buf_add(cx, b, e, 2);
		} else if (c == '\n') {
			tpl_buf_add(cx, b, "\\n", 2);
		} else if (c == '\r') {
			tpl_buf_add(cx, b, "\\r", 2);
		} else if (c == '\t') {
			tpl_buf_add(cx, b, "\\t", 2);
		} else if (c < 0x20 || c == 0x7f || (bytes && c > 0x7f)) {
			snprintf(e, sizeof e, "\\x%02x", c);
			tpl_buf_add(cx, b, e, 4);
		} else {
			tpl_buf_addc(cx, b, (char)c);
		}
	}
	tpl_buf_addc(cx, b, q);
}

static void buf_repr(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v, unsigned depth);

static void buf_dict(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v, unsigned depth)
{
	tpl_buf_addc(cx, b, '{');
	for (size_t i = 0; i < v.d->n; i++) {
		if (i)
			tpl_buf_add(cx, b, ", ", 2);
		buf_repr(cx, b, v.d->k[i], depth + 1);
		tpl_buf_add(cx, b, ": ", 2);
		buf_repr(cx, b, v.d->v[i], depth + 1);
	}
	tpl_buf_addc(cx, b, '}');
}

/* Python's repr() of a datetime, a date or a timedelta. */
static void buf_time_repr(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v)
{
	char s[160];
	int n;
	if (v.t == TV_TIMEDELTA) {
		long long us = llround(v.td * 1e6), day = 86400000000LL;
		long long d = us / day, rem = us % day;
		if (rem < 0) {
			rem += day;
			d--;
		}
		n = snprintf(s, sizeof s, "datetime.timedelta(");
		const char *sep = "";
		if (d) {
			n += snprintf(s + n, sizeof s - (size_t)n, "days=%lld", d);
			sep = ", ";
		}
		if (rem / 1000000) {
			n += snprintf(s + n, sizeof s - (size_t)n, "%sseconds=%lld", sep, rem / 1000000);
			sep = ", ";
		}
		if (rem % 1000000)
			n += snprintf(s + n, sizeof s - (size_t)n, "%smicroseconds=%lld", sep,
				      rem % 1000000);
		if (!us)
			n += snprintf(s + n, sizeof s - (size_t)n, "0");
		n += snprintf(s + n, sizeof s - (size_t)n, ")");
		tpl_buf_add(cx, b, s, (size_t)n);
		return;
	}
	struct tm tm;
	int us;
	tpl_dt_split(v, &tm, &us);
	if (v.t == TV_DATE) {
		n = snprintf(s, sizeof s, "datetime.date(%d, %d, %d)", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday);
		tpl_buf_add(cx, b, s, (size_t)n);
		return;
	}
	n = snprintf(s, sizeof s, "datetime.datetime(%d, %d, %d, %d, %d", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
	if (tm.tm_sec || us)
		n += snprintf(s + n, sizeof s - (size_t)n, ", %d", tm.tm_sec);
	if (us)
		n += snprintf(s + n, sizeof s - (size_t)n, ", %d", us);
	if (v.utcoffset == 0)
		n += snprintf(s + n, sizeof s - (size_t)n, ", tzinfo=datetime.timezone.utc");
	else if (!tv_is_naive(v))
		n += snprintf(s + n, sizeof s - (size_t)n,
			      ", tzinfo=datetime.timezone(datetime.timedelta(%s=%d))",
			      v.utcoffset < 0 ? "days=-1, seconds" : "seconds",
			      v.utcoffset < 0 ? 86400 + v.utcoffset : v.utcoffset);
	n += snprintf(s + n, sizeof s - (size_t)n, ")");
	tpl_buf_add(cx, b, s, (size_t)n);
}

static void buf_str(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v, unsigned depth)
{
	char tmp[48];
	size_t n;
	if (depth > TV_MAX_NEST)
		tpl_fail_code(cx, -ELOOP, "value nested too deeply");
	switch (v.t) {
	case TV_UNDEFINED:
		return;
	case TV_NONE:
		tpl_buf_add(cx, b, "None", 4);
		return;
	case TV_BOOL:
		if (v.b)
			tpl_buf_add(cx, b, "True", 4);
		else
			tpl_buf_add(cx, b, "False", 5);
		return;
	case TV_INT:
		n = tpl_int_text(v.i, tmp);
		tpl_buf_add(cx, b, tmp, n);
		return;
	case TV_FLOAT:
		n = dtoa__repr(v.f, tmp);
		tpl_buf_add(cx, b, tmp, n);
		return;
	case TV_STR:
		tpl_buf_add(cx, b, v.s->s, v.s->len);
		return;
	case TV_BYTES:
		buf_repr_str(cx, b, v.s, true);
		return;
	case TV_LIST: {
		bool tuple = tv_is_tuple(v), set = tv_is_set(v);
		if (set && !v.l->n) {
			tpl_buf_add(cx, b, "set()", 5);
			return;
		}
		tpl_buf_addc(cx, b, tuple ? '(' : set ? '{' : '[');
		for (size_t i = 0; i < v.l->n; i++) {
			if (i)
				tpl_buf_add(cx, b, ", ", 2);
			buf_repr(cx, b, v.l->v[i], depth + 1);
		}
		if (tuple && v.l->n == 1)
			tpl_buf_addc(cx, b, ',');
		tpl_buf_addc(cx, b, tuple ? ')' : set ? '}' : ']');
		return;
	}
	case TV_DICT:
		buf_dict(cx, b, v, depth);
		return;
	case TV_NAMESPACE:
		tpl_buf_add(cx, b, "<Namespace ", 11);
		buf_dict(cx, b, v, depth);
		tpl_buf_addc(cx, b, '>');
		return;
	case TV_DATETIME:
	case TV_DATE: {
		const struct tv_str *t = tpl_dt_iso(cx, v, ' ');
		tpl_buf_add(cx, b, t->s, t->len);
		return;
	}
	case TV_TIMEDELTA: {
		const struct tv_str *t = tpl_td_str(cx, v.td);
		tpl_buf_add(cx, b, t->s, t->len);
		return;
	}
	case TV_FUNC: {
		const struct tv_str *t = tpl_func_str(cx, v);
		tpl_buf_add(cx, b, t->s, t->len);
		return;
	}
	case TV_MODULE: {
		struct tv o = tpl_module_output(v.mod);
		tpl_buf_add(cx, b, o.s->s, o.s->len);
		return;
	}
	case TV_LOOP: {
		const struct tv_str *t = tpl_loop_str(cx, v);
		tpl_buf_add(cx, b, t->s, t->len);
		return;
	}
	default: {
		/* state objects and bound builtins: ha.c knows their text */
		struct tv s = tpl_ha_getattr(cx, v, "__str__", 7);
		if (s.t == TV_STR)
			tpl_buf_add(cx, b, s.s->s, s.s->len);
		else
			tpl_buf_add(cx, b, "<object>", 8);
		return;
	}
	}
}

static void buf_repr(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v, unsigned depth)
{
	if (v.t == TV_STR) {
		if (tv_is_markup(v))
			tpl_buf_add(cx, b, "Markup(", 7);
		buf_repr_str(cx, b, v.s, false);
		if (tv_is_markup(v))
			tpl_buf_addc(cx, b, ')');
	} else if (v.t == TV_UNDEFINED) {
		tpl_buf_add(cx, b, "Undefined", 9);
	} else if (v.t == TV_DATETIME || v.t == TV_TIMEDELTA || v.t == TV_DATE) {
		buf_time_repr(cx, b, v);
	} else {
		buf_str(cx, b, v, depth);
	}
}

void tpl_buf_str(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v)
{
	buf_str(cx, b, v, 0);
}

const struct tv_str *tv_to_str(struct tpl_ctx *cx, struct tv v)
{
	if (v.t == TV_STR)
		return v.s;
	char tmp[48];
	size_t n;
	switch (v.t) {
	case TV_INT:
		n = tpl_int_text(v.i, tmp);
		return tpl_str(cx, tmp, n);
	case TV_FLOAT:
		n = dtoa__repr(v.f, tmp);
		return tpl_str(cx, tmp, n);
	default: {
		struct tpl_buf b = { 0 };
		buf_str(cx, &b, v, 0);
		return tpl_buf_done(cx, &b);
	}
	}
}

const struct tv_str *tv_repr(struct tpl_ctx *cx, struct tv v)
{
	struct tpl_buf b = { 0 };
	buf_repr(cx, &b, v, 0);
	return tpl_buf_done(cx, &b);
}

size_t tpl_int_text(int64_t i, char *buf)
{
	char t[20];
	size_t n = 0, k = 0;
	uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
	do {
		t[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (i < 0)
		buf[k++] = '-';
	while (n)
		buf[k++] = t[--n];
	return k;
}

size_t tpl_utf8_len(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}
