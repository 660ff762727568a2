/* SPDX-License-Identifier: MIT */
/* The template evaluator: renders a compiled tree into a per-render arena
 * under bounds on iterations, depth, output and memory. */
#include "lib/internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "core/loop.h"
#include "template/tpl.h"

/* ---- render context ----------------------------------------------------- */

/* A render's first 32 KiB come from a per-thread buffer: the common
 * sensor template then calls malloc once (its output). A render nested in
 * another on the same thread (tls_busy) starts with malloc'd blocks. */
#define TLS_ARENA 2048 /* max_align_t units: 32 KiB on x86-64 */
static _Thread_local max_align_t tls_arena[TLS_ARENA];
static _Thread_local bool tls_busy;

void *tpl_alloc(struct tpl_ctx *cx, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if ((size_t)(cx->end - cx->cur) >= n) {
		void *r = cx->cur;
		cx->cur += n;
		return r;
	}
	size_t cap = n > 16384 ? n : 16384;
	/* Intermediate values count too: '%9999999999s' | format('x') or
	 * 'x' * 10**9 must end the render, not exhaust the machine. */
	if (cap > cx->max_heap - cx->heap_used)
		tpl_fail_code(cx, -E2BIG, "the render needs more than %zu bytes of memory",
			      cx->max_heap);
	cx->heap_used += cap;
	/* fresh memory costs its page faults, whoever writes it */
	tpl_work(cx, TPL_W_MEMORY(cap));
	struct tpl_blk *b = mqb__malloc(sizeof *b + cap);
	if (!b)
		tpl_fail_code(cx, -ENOMEM, "out of memory");
	b->next = cx->blocks;
	b->cap = cap;
	cx->blocks = b;
	char *m = (char *)b->mem;
	if (n > 8192)
		return m; /* a big one: keep the current block for the small ones */
	cx->cur = m + n;
	cx->end = m + cap;
	return m;
}

_Noreturn static void vfail(struct tpl_ctx *cx, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
_Noreturn static void vfail(struct tpl_ctx *cx, int code, const char *fmt, va_list ap)
{
	cx->code = code;
	if (cx->err) {
		vsnprintf(cx->err->message, sizeof cx->err->message, fmt, ap);
		cx->err->line = cx->line;
		cx->err->column = cx->col;
	}
	longjmp(cx->jb, 1);
}

void tpl_fail(struct tpl_ctx *cx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(cx, -EINVAL, fmt, ap);
}

void tpl_fail_code(struct tpl_ctx *cx, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(cx, code, fmt, ap);
}

void tpl_tick(struct tpl_ctx *cx)
{
	if (++cx->iter > cx->max_iter)
		tpl_fail_code(cx, -ELOOP, "more than %lu loop iterations", cx->max_iter);
	tpl_work(cx, TPL_W_ITEM);
}

void tpl_work_exhausted(struct tpl_ctx *cx)
{
	tpl_fail_code(cx, -ELOOP, "the render needs more than %llu steps of work",
		      (unsigned long long)cx->max_work);
}

const struct mqb_tpl_vars *tpl_vars(struct tpl_ctx *cx)
{
	return cx->vars;
}

/* Each entity once per render: a template reads few, so a list will do. */
void tpl_read_entity(struct tpl_ctx *cx, const char *entity_id)
{
	if (!cx->vars || !cx->vars->on_entity)
		return;
	for (const struct tpl_seen *s = cx->seen; s; s = s->next) {
		tpl_work(cx, TPL_W_ITEM);
		if (strcmp(s->id, entity_id) == 0)
			return;
	}
	struct tpl_seen *s = tpl_alloc(cx, sizeof *s);
	s->id = tpl_str(cx, entity_id, strlen(entity_id))->s;
	s->next = cx->seen;
	cx->seen = s;
	cx->vars->on_entity(cx->vars->ud, entity_id);
}

void tpl_fail_undefined(struct tpl_ctx *cx, struct tv v)
{
	const struct tv_str *n = v.p;
	if (n && v.utcoffset == TV_UNDEF_MESSAGE)
		tpl_fail(cx, "%s", n->s);
	if (n)
		tpl_fail(cx, "'%s' is undefined", n->s);
	tpl_fail(cx, "value is undefined");
}

static void out_add(struct tpl_ctx *cx, const char *s, size_t n)
{
	tpl_work(cx, TPL_W_BYTES(n));
	if (cx->outlen + n > cx->max_output)
		tpl_fail_code(cx, -E2BIG, "output longer than %zu bytes", cx->max_output);
	if (cx->outlen + n + 1 > cx->outcap) {
		size_t cap = cx->outcap * 2;
		while (cap < cx->outlen + n + 1)
			cap *= 2;
		char *o = mqb__realloc(cx->out, cap);
		if (!o)
			tpl_fail_code(cx, -ENOMEM, "out of memory");
		cx->out = o;
		cx->outcap = cap;
	}
	memcpy(cx->out + cx->outlen, s, n);
	cx->outlen += n;
}

/* ---- evaluation --------------------------------------------------------- */

static struct tv eval(struct tpl_ctx *cx, const struct node *n);

/* Whether the name nm is the string literal lit (no strcmp call). */
#define NAME_IS(nm, lit) ((nm)->len == sizeof(lit) - 1 && memcmp((nm)->s, lit, sizeof(lit) - 1) == 0)

/* A name's value at its first use in the render, looked up as Home
 * Assistant's variables shadow each other: value, value_json (parsed now,
 * once), trigger, this, the caller's variables, then states. A name
 * nothing defines is undefined, carrying its name for the error. */
static struct tv resolve(struct tpl_ctx *cx, unsigned slot)
{
	const struct tv_str *nm = cx->t->names[slot];
	/* an import without context sees the globals only */
	const struct mqb_tpl_vars *vars = cx->context ? cx->vars : NULL;
	const json_t *j = NULL;
	if (vars) {
		if (NAME_IS(nm, "value") && vars->value)
			return tv_string(cx, vars->value, vars->value_len);
		if (NAME_IS(nm, "value_json") && (vars->value_json || vars->value)) {
			if (!cx->value_json_done) {
				cx->value_json_done = true;
				cx->value_json = tv_undef();
				cx->value_json.p = nm;
				if (vars->value_json) {
					cx->value_json = tv_from_json(cx, vars->value_json);
				} else {
					/* Straight into the arena (json.c):
					 * a payload that is not JSON leaves it
					 * undefined, as in Home Assistant. */
					tpl_json_parse(cx, vars->value, vars->value_len,
						       &cx->value_json);
				}
			}
			return cx->value_json;
		}
		if (NAME_IS(nm, "trigger") && vars->trigger)
			return tv_from_json(cx, vars->trigger);
		if (NAME_IS(nm, "this") && vars->this_state)
			return tv_from_json(cx, vars->this_state);
		if (vars->variables && json_is_object(vars->variables) &&
		    (j = json_object_getn(vars->variables, nm->s, nm->len)))
			return tv_from_json(cx, j);
	}
	if (NAME_IS(nm, "states"))
		return tpl_ha_states_object(cx);
	/* the globals (found at compile time): Home Assistant's constants,
	 * and functions as values */
	struct tv g;
	if (tpl_global_constant(nm->s, nm->len, &g))
		return g;
	if (cx->t->globals[slot])
		return tpl_builtin_value(cx, cx->t->globals[slot]);
	struct tv u = tv_undef();
	u.p = nm;
	return u;
}

/* Slots start TV_UNRESOLVED and are resolved once: most names a
 * template reads are never assigned, and resolving value_json parses. */
static inline struct tv lookup(struct tpl_ctx *cx, unsigned slot)
{
	if (cx->slots[slot].t == TV_UNRESOLVED)
		cx->slots[slot] = resolve(cx, slot);
	return cx->slots[slot];
}

struct tv tpl_iterate(struct tpl_ctx *cx, struct tv v)
{
	switch (v.t) {
	case TV_LIST:
		return v;
	case TV_UNDEFINED:
		return tv_list_new(cx, 0);
	case TV_DICT:
	case TV_NAMESPACE:
		return tv_list_of(cx, v.d->k, v.d->n);
	case TV_STR: {
		/* each character a string of its own */
		tpl_work(cx, (uint64_t)v.s->len * 2 * TPL_W_ITEM);
		struct tv l = tv_list_new(cx, v.s->len);
		const char *s = v.s->s;
		size_t n = v.s->len;
		for (size_t i = 0; i < n;) {
			size_t j = i + 1;
			while (j < n && ((unsigned char)s[j] & 0xc0) == 0x80)
				j++;
			l.l->v[l.l->n++] = tv_string(cx, s + i, j - i);
			i = j;
		}
		return l;
	}
	case TV_STATE:
	case TV_CALLABLE: {
		struct tv r = tpl_ha_getattr(cx, v, "__iter__", 8);
		if (r.t == TV_LIST)
			return r;
	}
	/* fallthrough */
	default:
		tpl_fail(cx, "'%s' object is not iterable", tv_type_name(v));
	}
}

/* What the sandbox gives for a method that would change its object (Home
 * Assistant's is immutable): an undefined that fails with that message
 * when used. */
static struct tv unsafe_attr(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len)
{
	char msg[160];
	int n = snprintf(msg, sizeof msg, "access to attribute '%.*s' of '%s' object is unsafe.",
			 (int)(len > 64 ? 64 : len), name, tv_type_name(obj));
	struct tv u = tv_undef();
	u.utcoffset = TV_UNDEF_MESSAGE;
	u.p = tpl_str(cx, msg, (size_t)n);
	return u;
}

static bool name_in(const char *name, size_t len, const char *const *names)
{
	for (; *names; names++)
		if (tpl_name_is(name, len, *names))
			return true;
	return false;
}

/* Jinja's getattr finds a method before an item: value_json.values is
 * dict.values, whatever the payload holds under "values". 1 for a method,
 * 2 for one that would change the dict, 0 for neither (most names, told
 * apart by their length and first letter without a compare). */
static int dict_attr(const char *name, size_t len)
{
	static const char *const m[] = { "keys", "values", "items", "get", "copy", NULL };
	static const char *const w[] = { "clear", "pop", "popitem", "setdefault", "update",
					 "fromkeys", NULL };
	if (len < 3 || len > 10)
		return 0;
	switch (name[0]) { /* the names' first letters, without a call */
	case 'k': case 'v': case 'i': case 'g': case 'c': case 'p': case 's': case 'u': case 'f':
		break;
	default:
		return 0;
	}
	return name_in(name, len, m) ? 1 : name_in(name, len, w) ? 2 : 0;
}
static const char *const list_methods[] = { "count", "index", "copy", NULL };
static const char *const list_mutators[] = { "append", "extend", "insert", "pop", "remove",
					     "clear", "sort", "reverse", NULL };

struct tv tpl_getattr(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len)
{
	switch (obj.t) {
	case TV_UNDEFINED:
		tpl_check_defined(cx, obj);
		break;
	case TV_STR:
		if (tpl_str_has_method(name, len))
			return tpl_method_value(cx, obj, name, len);
		break;
	case TV_LIST:
		if (tv_list_kind(obj) == LK_GROUP && obj.l->n == 2 &&
		    (tpl_name_is(name, len, "grouper") || tpl_name_is(name, len, "list")))
			return obj.l->v[name[0] == 'l'];
		if (name_in(name, len, list_methods))
			return tpl_method_value(cx, obj, name, len);
		if (name_in(name, len, list_mutators))
			return unsafe_attr(cx, obj, name, len);
		break;
	case TV_FUNC:
		return tpl_func_getattr(cx, obj, name, len);
	case TV_LOOP:
		return tpl_loop_getattr(cx, obj, name, len);
	case TV_MODULE:
		return tpl_module_get_attr(cx, obj.mod, name, len);
	case TV_DICT:
		switch (dict_attr(name, len)) {
		case 1:
			return tpl_method_value(cx, obj, name, len);
		case 2:
			return unsafe_attr(cx, obj, name, len);
		}
		/* fallthrough */
	case TV_NAMESPACE: {
		const struct tv_dict *d = obj.d;
		tpl_work(cx, d->n);
		for (size_t i = 0; i < d->n; i++)
			if (d->k[i].t == TV_STR && d->k[i].s->len == len &&
			    memcmp(d->k[i].s->s, name, len) == 0)
				return d->v[i];
		break;
	}
	case TV_DATETIME:
	case TV_TIMEDELTA:
	case TV_DATE:
	case TV_STATE:
	case TV_CALLABLE:
		return tpl_ha_getattr(cx, obj, name, len);
	default:
		break;
	}
	struct tv u = tv_undef();
	u.p = tpl_str(cx, name, len);
	return u;
}

static bool ascii_only(struct tpl_ctx *cx, const char *s, size_t n)
{
	tpl_work(cx, TPL_W_SCAN(n));
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* Byte offsets of each code point (n+1 entries) when s is not ASCII. */
static size_t *cp_offsets(struct tpl_ctx *cx, const char *s, size_t n, size_t *count)
{
	tpl_work(cx, 2 * TPL_W_SCAN(n));
	size_t c = tpl_utf8_len(s, n), k = 0;
	size_t *o = tpl_alloc(cx, (c + 1) * sizeof *o);
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			o[k++] = i;
	o[k] = n;
	*count = c;
	return o;
}

struct tv tpl_getitem(struct tpl_ctx *cx, struct tv obj, struct tv key)
{
	switch (obj.t) {
	case TV_UNDEFINED:
		tpl_check_defined(cx, obj);
		break;
	case TV_DICT:
	case TV_NAMESPACE: {
		const struct tv *v = tv_dict_get(cx, &obj, key);
		if (v)
			return *v;
		if (obj.t == TV_DICT && key.t == TV_STR)   /* then its methods */
			return tpl_getattr(cx, obj, key.s->s, key.s->len);
		break;
	}
	case TV_LIST:
		if (key.t == TV_INT || key.t == TV_BOOL) {
			int64_t i = key.t == TV_INT ? key.i : key.b;
			int64_t n = (int64_t)obj.l->n;
			if (i < 0)
				i += n;
			if (i >= 0 && i < n)
				return obj.l->v[i];
		}
		break;
	case TV_STR:
		if (key.t == TV_INT || key.t == TV_BOOL) {
			int64_t i = key.t == TV_INT ? key.i : key.b;
			if (ascii_only(cx, obj.s->s, obj.s->len)) {
				int64_t n = (int64_t)obj.s->len;
				if (i < 0)
					i += n;
				if (i >= 0 && i < n)
					return tv_string(cx, obj.s->s + i, 1);
			} else {
				size_t c;
				size_t *o = cp_offsets(cx, obj.s->s, obj.s->len, &c);
				if (i < 0)
					i += (int64_t)c;
				if (i >= 0 && i < (int64_t)c)
					return tv_string(cx, obj.s->s + o[i], o[i + 1] - o[i]);
			}
		}
		break;
	case TV_DATETIME:
	case TV_TIMEDELTA:
	case TV_DATE:
	case TV_STATE:
	case TV_CALLABLE:
	case TV_LOOP:
	case TV_MODULE:
		if (key.t == TV_STR)
			return tpl_getattr(cx, obj, key.s->s, key.s->len);
		break;
	default:
		break;
	}
	struct tv u = tv_undef();
	if (key.t == TV_STR)
		u.p = key.s;
	return u;
}

struct tv tpl_getattr_path(struct tpl_ctx *cx, struct tv obj, const struct tv_str *path)
{
	const char *s = path->s, *e = s + path->len;
	tpl_work(cx, path->len);
	while (s <= e) {
		const char *d = memchr(s, '.', (size_t)(e - s));
		if (!d)
			d = e;
		size_t n = (size_t)(d - s);
		bool num = n > 0;
		for (size_t i = 0; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				num = false;
		if (obj.t == TV_UNDEFINED)
			return obj;
		if (num && obj.t != TV_DICT)
			obj = tpl_getitem(cx, obj, tv_int(strtoll(s, NULL, 10)));
		else if (obj.t == TV_DICT)  /* Jinja's attribute= looks items up first */
			obj = tpl_getitem(cx, obj, tv_string(cx, s, n));
		else
			obj = tpl_getattr(cx, obj, s, n);
		s = d + 1;
	}
	return obj;
}

static int64_t slice_idx(struct tpl_ctx *cx, struct tv v, int64_t n, int64_t dflt, bool step_neg)
{
	if (v.t == TV_NONE || v.t == TV_UNDEFINED)
		return dflt;
	if (v.t != TV_INT && v.t != TV_BOOL)
		tpl_fail(cx, "slice indices must be integers or None");
	int64_t i = v.t == TV_INT ? v.i : v.b;
	if (i < 0) {
		i += n;
		if (i < 0)
			i = step_neg ? -1 : 0;
	} else if (i >= n) {
		i = step_neg ? n - 1 : n;
	}
	return i;
}

static struct tv do_slice(struct tpl_ctx *cx, struct tv obj, struct tv a, struct tv b, struct tv c)
{
	int64_t step = 1;
	if (c.t == TV_INT)
		step = c.i;
	else if (c.t != TV_NONE && c.t != TV_UNDEFINED)
		tpl_fail(cx, "slice indices must be integers or None");
	if (step == 0)
		tpl_fail(cx, "slice step cannot be zero");
	tpl_check_defined(cx, obj);
	bool str = obj.t == TV_STR;
	size_t *off = NULL;
	int64_t n;
	if (str) {
		size_t cnt;
		if (ascii_only(cx, obj.s->s, obj.s->len))
			cnt = obj.s->len;
		else
			off = cp_offsets(cx, obj.s->s, obj.s->len, &cnt);
		n = (int64_t)cnt;
	} else if (obj.t == TV_LIST) {
		n = (int64_t)obj.l->n;
	} else {
		tpl_fail(cx, "'%s' object is not subscriptable", tv_type_name(obj));
	}
	int64_t lo = slice_idx(cx, a, n, step > 0 ? 0 : n - 1, step < 0);
	int64_t hi = slice_idx(cx, b, n, step > 0 ? n : -1, step < 0);
	if (str && step == 1) {
		if (hi < lo)
			hi = lo;
		size_t bs = off ? off[lo] : (size_t)lo, be = off ? off[hi] : (size_t)hi;
		tpl_work(cx, TPL_W_BYTES(be - bs));
		return tv_string(cx, obj.s->s + bs, be - bs);
	}
	/* the items taken: |hi - lo| / |step| rounded up (step may be huge) */
	uint64_t span = step > 0 ? (hi > lo ? (uint64_t)(hi - lo) : 0) : (lo > hi ? (uint64_t)(lo - hi) : 0);
	uint64_t stride = step > 0 ? (uint64_t)step : step == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)-step;
	uint64_t count = (span + stride - 1) / stride;
	tpl_work(cx, count * 2 * TPL_W_ITEM);
	struct tpl_buf buf = { 0 };
	struct tv l = str ? tv_undef() : tv_list_new(cx, (size_t)count);
	for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) {
		if (str) {
			size_t bs = off ? off[i] : (size_t)i, be = off ? off[i + 1] : (size_t)i + 1;
			tpl_buf_add(cx, &buf, obj.s->s + bs, be - bs);
		} else {
			tv_list_push(cx, &l, obj.l->v[i]);
		}
	}
	return str ? tv_strv(tpl_buf_done(cx, &buf)) : l;
}

_Noreturn static void need_number(struct tpl_ctx *cx, struct tv a, struct tv b, const char *op)
{
	tpl_check_defined(cx, a);
	tpl_check_defined(cx, b);
	tpl_fail(cx, "unsupported operand type(s) for %s: '%s' and '%s'", op, tv_type_name(a),
		 tv_type_name(b));
}

static int64_t iv(struct tv v)
{
	return v.t == TV_INT ? v.i : v.b;
}

/* s * n for a string or a list. */
static struct tv repeat(struct tpl_ctx *cx, struct tv s, int64_t n)
{
	size_t len = s.t == TV_STR ? s.s->len : s.l->n;
	/* as in Python, "" * n is "" at once however large n is: nothing
	 * bounded the empty loop this once took n times */
	if (n <= 0 || len == 0)
		return s.t == TV_STR ? tv_string(cx, "", 0) : tv_list_new(cx, 0);
	if (s.t == TV_STR) {
		if ((uint64_t)n > cx->max_output / len + 1)
			tpl_fail_code(cx, -E2BIG, "string repetition too long");
		size_t total = len * (size_t)n;
		tpl_work(cx, 2 * TPL_W_BYTES(total) + 1);
		struct tv_str *r = tpl_alloc(cx, sizeof *r + total + 1);
		/* one copy, then the text so far doubled: log n memcpy calls */
		memcpy(r->s, s.s->s, len);
		for (size_t have = len; have < total; have *= 2)
			memcpy(r->s + have, r->s, have < total - have ? have : total - have);
		r->len = total;
		r->s[total] = 0;
		return tv_strv(r);
	}
	if ((uint64_t)n > cx->max_work / len)
		tpl_work_exhausted(cx);
	tpl_work(cx, (uint64_t)n * len * TPL_W_ITEM);
	struct tv l = tv_list_new(cx, 0);
	for (int64_t i = 0; i < n; i++) {
		tpl_tick(cx);
		for (size_t j = 0; j < s.l->n; j++)
			tv_list_push(cx, &l, s.l->v[j]);
	}
	return l;
}

/* Python's timedelta // timedelta (an int), timedelta // int (a
 * timedelta) and timedelta % timedelta, exact in microseconds as there. */
static struct tv td_floordiv_mod(struct tpl_ctx *cx, struct tv a, struct tv b, bool mod)
{
	int64_t x = llround(a.td * 1e6), y = b.t == TV_INT ? b.i : llround(b.td * 1e6);
	if (y == 0)
		tpl_fail(cx, "integer division or modulo by zero");
	int64_t q = x / y, m = x % y;
	if (m != 0 && ((m < 0) != (y < 0))) {
		q--;
		m += y;
	}
	if (mod)
		return (struct tv){ .t = TV_TIMEDELTA, .td = (double)m / 1e6 };
	if (b.t == TV_INT)
		return (struct tv){ .t = TV_TIMEDELTA, .td = (double)q / 1e6 };
	return tv_int(q);
}

static struct tv binop(struct tpl_ctx *cx, enum op op, struct tv a, struct tv b)
{
	bool na = tv_is_number(a), nb = tv_is_number(b);
	bool ints = na && nb && a.t != TV_FLOAT && b.t != TV_FLOAT;
	int64_t r;
	switch (op) {
	case OP_ADD:
		if (ints) {
			if (__builtin_add_overflow(iv(a), iv(b), &r))
				tpl_fail(cx, "integer overflow");
			return tv_int(r);
		}
		if (na && nb)
			return tv_float(tv_as_double(a) + tv_as_double(b));
		if (a.t == TV_STR && b.t == TV_STR) {
			/* Markup + str (and str + Markup: Markup's __radd__ comes
			 * first) escapes the str */
			if (tv_is_markup(a) != tv_is_markup(b))
				return tv_markup(binop(cx, OP_ADD, tpl_escape(cx, a), tpl_escape(cx, b)));
			size_t n = a.s->len + b.s->len;
			tpl_work(cx, TPL_W_BYTES(n));
			struct tv_str *s = tpl_alloc(cx, sizeof *s + n + 1);
			s->len = n;
			memcpy(s->s, a.s->s, a.s->len);
			memcpy(s->s + a.s->len, b.s->s, b.s->len);
			s->s[n] = 0;
			return tv_strv(s);
		}
		if (a.t == TV_LIST && b.t == TV_LIST) {
			tpl_work(cx, a.l->n + b.l->n);
			struct tv l = tv_list_new(cx, a.l->n + b.l->n);
			if (a.l->n)
				memcpy(l.l->v, a.l->v, a.l->n * sizeof *l.l->v);
			if (b.l->n)
				memcpy(l.l->v + a.l->n, b.l->v, b.l->n * sizeof *l.l->v);
			l.l->n = a.l->n + b.l->n;
			return l;
		}
		if (a.t == TV_TIMEDELTA && b.t == TV_TIMEDELTA) {
			a.td += b.td;
			return a;
		}
		if (tpl_time_binop(cx, '+', a, b, &a))
			return a;
		if (a.t == TV_BYTES && b.t == TV_BYTES) {
			struct tv cat = binop(cx, OP_ADD, tv_strv(a.s), tv_strv(b.s));
			cat.t = TV_BYTES;
			return cat;
		}
		need_number(cx, a, b, "+");
	case OP_SUB:
		if (ints) {
			if (__builtin_sub_overflow(iv(a), iv(b), &r))
				tpl_fail(cx, "integer overflow");
			return tv_int(r);
		}
		if (na && nb)
			return tv_float(tv_as_double(a) - tv_as_double(b));
		if (tpl_time_binop(cx, '-', a, b, &a))
			return a;
		if (a.t == TV_TIMEDELTA && b.t == TV_TIMEDELTA) {
			a.td -= b.td;
			return a;
		}
		need_number(cx, a, b, "-");
	case OP_MUL:
		if (ints) {
			if (__builtin_mul_overflow(iv(a), iv(b), &r))
				tpl_fail(cx, "integer overflow");
			return tv_int(r);
		}
		if (na && nb)
			return tv_float(tv_as_double(a) * tv_as_double(b));
		if ((a.t == TV_STR || a.t == TV_LIST) && (b.t == TV_INT || b.t == TV_BOOL))
			return repeat(cx, a, iv(b));
		if ((b.t == TV_STR || b.t == TV_LIST) && (a.t == TV_INT || a.t == TV_BOOL))
			return repeat(cx, b, iv(a));
		if (a.t == TV_TIMEDELTA && nb) {
			a.td *= tv_as_double(b);
			return a;
		}
		if (b.t == TV_TIMEDELTA && na) {
			b.td *= tv_as_double(a);
			return b;
		}
		need_number(cx, a, b, "*");
	case OP_DIV:
		if (na && nb) {
			if (tv_as_double(b) == 0)
				tpl_fail(cx, "division by zero");
			return tv_float(tv_as_double(a) / tv_as_double(b));
		}
		if (a.t == TV_TIMEDELTA && nb && tv_as_double(b) != 0) {
			a.td /= tv_as_double(b);
			return a;
		}
		if (a.t == TV_TIMEDELTA && b.t == TV_TIMEDELTA && b.td != 0)
			return tv_float(a.td / b.td);
		need_number(cx, a, b, "/");
	case OP_FLOORDIV:
		if (ints) {
			int64_t x = iv(a), y = iv(b);
			if (y == 0)
				tpl_fail(cx, "integer division or modulo by zero");
			if (x == INT64_MIN && y == -1)
				tpl_fail(cx, "integer overflow");
			int64_t q = x / y;
			if ((x % y != 0) && ((x < 0) != (y < 0)))
				q--;
			return tv_int(q);
		}
		if (na && nb) {
			double y = tv_as_double(b);
			if (y == 0)
				tpl_fail(cx, "float floor division by zero");
			return tv_float(floor(tv_as_double(a) / y));
		}
		if (a.t == TV_TIMEDELTA && (b.t == TV_TIMEDELTA || b.t == TV_INT))
			return td_floordiv_mod(cx, a, b, false);
		need_number(cx, a, b, "//");
	case OP_MOD:
		if (ints) {
			int64_t x = iv(a), y = iv(b);
			if (y == 0)
				tpl_fail(cx, "integer division or modulo by zero");
			if (y == -1)
				return tv_int(0);
			int64_t m = x % y;
			if (m != 0 && ((m < 0) != (y < 0)))
				m += y;
			return tv_int(m);
		}
		if (na && nb) {
			double x = tv_as_double(a), y = tv_as_double(b);
			if (y == 0)
				tpl_fail(cx, "float modulo");
			double m = fmod(x, y);
			if (m != 0 && ((m < 0) != (y < 0)))
				m += y;
			else if (m == 0)
				m = copysign(0.0, y);
			return tv_float(m);
		}
		if (a.t == TV_STR)
			return tpl_percent_format(cx, a, b);
		if (a.t == TV_TIMEDELTA && b.t == TV_TIMEDELTA)
			return td_floordiv_mod(cx, a, b, true);
		need_number(cx, a, b, "%");
	case OP_POW:
		if (ints && iv(b) >= 0) {
			int64_t base = iv(a), e = iv(b), res = 1;
			while (e) {
				if (e & 1)
					if (__builtin_mul_overflow(res, base, &res))
						tpl_fail(cx, "integer overflow");
				e >>= 1;
				if (e && __builtin_mul_overflow(base, base, &base))
					tpl_fail(cx, "integer overflow");
			}
			return tv_int(res);
		}
		if (na && nb) {
			double x = tv_as_double(a), y = tv_as_double(b);
			if (x == 0 && y < 0)
				tpl_fail(cx, "0.0 cannot be raised to a negative power");
			if (x < 0 && y != floor(y))
				tpl_fail(cx, "negative number cannot be raised to a fractional power");
			return tv_float(pow(x, y));
		}
		need_number(cx, a, b, "**");
	case OP_CONCAT: {
		const struct tv_str *x = tv_to_str(cx, a), *y = tv_to_str(cx, b);
		struct tv s1 = tv_strv(x), s2 = tv_strv(y);
		return binop(cx, OP_ADD, s1, s2);
	}
	default:
		abort();
	}
}

static bool contains(struct tpl_ctx *cx, struct tv needle, struct tv hay)
{
	switch (hay.t) {
	case TV_STR:
		if (needle.t != TV_STR)
			tpl_fail(cx, "'in <string>' requires string as left operand, not %s",
				 tv_type_name(needle));
		/* glibc's memmem is linear in both (two-way) */
		tpl_work(cx, TPL_W_BYTES(hay.s->len) + needle.s->len);
		return needle.s->len == 0 ||
		       memmem(hay.s->s, hay.s->len, needle.s->s, needle.s->len) != NULL;
	case TV_LIST:
		for (size_t i = 0; i < hay.l->n; i++)
			if (tv_equal(cx, hay.l->v[i], needle))
				return true;
		return false;
	case TV_DICT:
	case TV_NAMESPACE:
		return tv_dict_get(cx, &hay, needle) != NULL;
	case TV_UNDEFINED:
		return false;
	default: {
		struct tv l = tpl_iterate(cx, hay);
		return contains(cx, needle, l);
	}
	}
}

static bool compare(struct tpl_ctx *cx, enum op op, struct tv a, struct tv b)
{
	switch (op) {
	case OP_EQ: return tv_equal(cx, a, b);
	case OP_NE: return !tv_equal(cx, a, b);
	case OP_LT: return tv_compare_op(cx, a, b, "<") < 0;
	case OP_LE: return tv_compare_op(cx, a, b, "<=") <= 0;
	case OP_GT: return tv_compare_op(cx, a, b, ">") > 0;
	case OP_GE: return tv_compare_op(cx, a, b, ">=") >= 0;
	case OP_IN: return contains(cx, a, b);
	case OP_NOTIN: return !contains(cx, a, b);
	default: abort();
	}
}

/* Bytes a builtin at the bottom of a render may still need on the stack:
 * its own frame, libc's formatting and a regex's, with room to spare. */
#define STACK_RESERVE (16 * 1024)

/* One level deeper into calls and blocks: bounded in count, and by the
 * stack left when the render runs in a coroutine, whose stack is small
 * (64 KiB): a filter nested thirty deep there would otherwise run into
 * its guard page. */
/* Whether the caller's frame went below the render's stack floor. */
static inline bool stack_low(const struct tpl_ctx *cx)
{
	return __builtin_expect(cx->stack_floor != NULL, 0) &&
	       (const char *)__builtin_frame_address(0) < cx->stack_floor;
}

static _Noreturn __attribute__((noinline)) void too_deep(struct tpl_ctx *cx, const struct stmt *at,
							  bool deep)
{
	if (at) {
		cx->line = at->line;
		cx->col = at->col;
	}
	if (deep)
		tpl_fail_code(cx, -ELOOP, "nested more than %u deep", cx->max_depth);
	tpl_fail_code(cx, -ELOOP, "nested too deep for the stack it renders on (%u levels)",
		      cx->depth);
}

static inline void enter(struct tpl_ctx *cx, const struct stmt *at)
{
	bool deep = ++cx->depth > cx->max_depth;
	if (__builtin_expect(deep || stack_low(cx), 0))
		too_deep(cx, at, deep);
}

struct tv tpl_call_builtin(struct tpl_ctx *cx, const struct tpl_builtin *b, const struct tv *args,
			   size_t nargs, const struct tpl_kwarg *kw, size_t nkw)
{
	if (nargs > b->max_args)
		tpl_fail(cx, "%s() takes at most %u arguments", b->name, b->max_args);
	/* Builtins read their required arguments by position (keywords are
	 * not mapped onto positions), so only positional ones count here:
	 * int(base=0) must fail, not read an argument that is not there. */
	if (nargs < b->min_args)
		tpl_fail(cx, "%s() missing a required argument", b->name);
	enter(cx, NULL);
	struct tv r = b->fn(cx, args, nargs, kw, nkw);
	cx->depth--;
	return r;
}

/* A call's arguments, evaluated. */
struct argv {
	struct tv *v;
	size_t n;
	struct tpl_kwarg *kw;
	size_t nkw;
};

/* The arguments of f(*a, **k): n's own, then a's items, then k's, in
 * arena arrays (args and kw hold the rest of the arguments so far). */
static void expand_star(struct tpl_ctx *cx, const struct node *n, struct argv *av,
			const struct tpl_kwarg *extra)
{
	struct tv a = n->b ? eval(cx, n->b) : tv_undef();
	struct tv k = n->c ? eval(cx, n->c) : tv_undef();
	cx->line = n->line;
	cx->col = n->col;
	struct tv items = n->b ? tpl_iterate(cx, a) : tv_list_new(cx, 0);
	if (n->c && k.t != TV_DICT) {
		tpl_check_defined(cx, k);
		tpl_fail(cx, "argument after ** must be a mapping, not %s", tv_type_name(k));
	}
	size_t np = av->n + items.l->n, nk = av->nkw + (n->c ? k.d->n : 0) + (extra != NULL);
	tpl_work_n(cx, np + nk, TPL_W_ITEM);
	struct tv *v = tpl_alloc(cx, (np + 1) * sizeof *v);
	struct tpl_kwarg *kw = tpl_alloc(cx, (nk + 1) * sizeof *kw);
	memcpy(v, av->v, av->n * sizeof *v);
	if (items.l->n)
		memcpy(v + av->n, items.l->v, items.l->n * sizeof *v);
	memcpy(kw, av->kw, av->nkw * sizeof *kw);
	size_t j = av->nkw;
	for (size_t i = 0; n->c && i < k.d->n; i++) {
		if (k.d->k[i].t != TV_STR)
			tpl_fail(cx, "keywords must be strings");
		kw[j].name = k.d->k[i].s->s;
		kw[j++].v = k.d->v[i];
	}
	if (extra)
		kw[j++] = *extra;
	*av = (struct argv){ v, np, kw, j };
}

/* Evaluate n's arguments into av (args, kw: room for n's own, and one
 * keyword more), after first when has_first, and extra as the last
 * keyword argument. */
static inline void eval_args(struct tpl_ctx *cx, const struct node *n, bool has_first,
			     struct tv first, const struct tpl_kwarg *extra, struct tv *args,
			     struct tpl_kwarg *kw, struct argv *av)
{
	unsigned i = 0;
	if (has_first) {
		args[0] = first;
		i = 1;
	}
	/* a constant argument (round(1), default(0)) without eval's frame */
	for (; i < n->nargs; i++)
		args[i] = n->args[i]->kind == N_CONST ? n->args[i]->k : eval(cx, n->args[i]);
	for (unsigned k = 0; k < n->nkw; k++) {
		const struct node *a = n->args[n->nargs + k];
		kw[k].name = n->kwn[k]->s;
		kw[k].v = a->kind == N_CONST ? a->k : eval(cx, a);
	}
	*av = (struct argv){ args, n->nargs, kw, n->nkw };
	if (n->star) {
		expand_star(cx, n, av, extra);
	} else if (extra) {
		kw[n->nkw] = *extra;
		av->nkw++;
	}
	cx->line = n->line;
	cx->col = n->col;
}

/* A call, a filter or a test; for the last two the value filtered comes
 * as first (by value: copying it from memory just stored would stall).
 * Its arrays are as long as this call's own arguments (and one more
 * keyword, a call block's caller), never the parser's bound on them:
 * every nested call keeps its frame on the stack, and a coroutine's stack
 * is not large. Not inlined, so eval's own frame (one per nested
 * expression) stays small as well. */
static __attribute__((noinline)) struct tv call_node_any(struct tpl_ctx *cx, const struct node *n,
							 bool has_first, struct tv first)
{
	struct tv args[n->nargs ? n->nargs : 1];
	struct tpl_kwarg kw[n->nkw + 1];
	struct argv av;
	eval_args(cx, n, has_first, first, NULL, args, kw, &av);
	return tpl_call_builtin(cx, n->bi, av.v, av.n, av.kw, av.nkw);
}

/* Most calls and filters take two positional arguments at most and no
 * keyword: arrays of a fixed size, whose frame costs nothing to lay out
 * (a variable-length one is sized, aligned and unwound on every call). */
#define CALL_SMALL 2
static __attribute__((noinline)) struct tv call_node(struct tpl_ctx *cx, const struct node *n,
						     bool has_first, struct tv first)
{
	if (n->nargs > CALL_SMALL || n->nkw || n->star)
		return call_node_any(cx, n, has_first, first);
	struct tv args[CALL_SMALL];
	struct argv av;
	eval_args(cx, n, has_first, first, NULL, args, NULL, &av);
	return tpl_call_builtin(cx, n->bi, av.v, av.n, av.kw, av.nkw);
}

/* A call of a value (N_DYNCALL) or a method (N_METHOD), extra (when not
 * NULL) given as one more keyword argument: a call block's caller. */
static __attribute__((noinline)) struct tv call_value_node(struct tpl_ctx *cx,
							   const struct node *n,
							   const struct tpl_kwarg *extra)
{
	struct tv args[n->nargs ? n->nargs : 1];
	struct tpl_kwarg kw[n->nkw + 1];
	struct argv av;
	if (n->kind == N_CALL) {
		eval_args(cx, n, false, tv_undef(), extra, args, kw, &av);
		return tpl_call_builtin(cx, n->bi, av.v, av.n, av.kw, av.nkw);
	}
	struct tv f = eval(cx, n->a);
	eval_args(cx, n, false, tv_undef(), extra, args, kw, &av);
	if (n->kind == N_METHOD)
		return tpl_call_method(cx, f, n->name, av.v, av.n, av.kw, av.nkw);
	/* a name no one assigned in this render: the builtin of that name */
	if (f.t == TV_UNDEFINED && n->bi)
		return tpl_call_builtin(cx, n->bi, av.v, av.n, av.kw, av.nkw);
	return tpl_call_value(cx, f, av.v, av.n, av.kw, av.nkw);
}

/* ---- the loop object ------------------------------------------------------ */

static const char *const loop_keys[] = { "index", "index0", "revindex", "revindex0", "first",
					 "last", "length", "previtem", "nextitem", "depth",
					 "depth0" };
#define LOOP_KEYS (sizeof loop_keys / sizeof loop_keys[0])

struct tpl_loop {
	struct tv d;                 /* its attributes: a dict of loop_keys */
	const struct stmt *s;        /* the for loop: loop(x) runs it on x when recursive */
	unsigned depth;              /* 1 for the outermost run */
	bool changed_any;            /* loop.changed() has seen changed_last */
	struct tv changed_last;
};

static struct tv loop_method(struct tpl_ctx *cx, struct tpl_loop *lp, const char *m,
			     const struct tv *args, size_t nargs)
{
	if (strcmp(m, "cycle") == 0) {
		if (!nargs)
			tpl_fail(cx, "no items for cycling given");
		return args[lp->d.d->v[1].i % (int64_t)nargs];
	}
	if (strcmp(m, "changed") == 0) {
		struct tv now = tv_make_tuple(tv_list_of(cx, args, nargs));
		bool changed = !lp->changed_any || !tv_equal(cx, now, lp->changed_last);
		lp->changed_any = true;
		lp->changed_last = now;
		return tv_bool(changed);
	}
	tpl_fail(cx, "'LoopContext' object has no attribute '%s'", m);
}

struct tv tpl_loop_getattr(struct tpl_ctx *cx, struct tv v, const char *name, size_t len)
{
	if (tpl_name_is(name, len, "cycle") || tpl_name_is(name, len, "changed"))
		return tpl_method_value(cx, v, name, len);
	return tpl_getattr(cx, v.lp->d, name, len);
}

const struct tv_str *tpl_loop_str(struct tpl_ctx *cx, struct tv v)
{
	char t[64];
	int k = snprintf(t, sizeof t, "<LoopContext %lld/%lld>", (long long)v.lp->d.d->v[0].i,
			 (long long)v.lp->d.d->v[6].i);
	return tpl_str(cx, t, (size_t)k);
}

static void run_for(struct tpl_ctx *cx, const struct stmt *s, struct tv items, unsigned depth);

/* loop(x) in a recursive loop: the loop's body over x, one level down,
 * as text. */
struct tv tpl_loop_call(struct tpl_ctx *cx, struct tpl_loop *lp, const struct tv *args,
			size_t nargs)
{
	if (!lp->s->recursive)
		tpl_fail(cx, "Tried to call non recursive loop. Maybe you forgot the 'recursive' "
			 "modifier.");
	if (nargs != 1)
		tpl_fail(cx, "loop() takes one iterable");
	struct tv items = tpl_iterate(cx, args[0]);
	size_t mark = cx->outlen;
	run_for(cx, lp->s, items, lp->depth + 1);
	tpl_work(cx, TPL_W_BYTES(cx->outlen - mark));
	struct tv v = tv_string(cx, cx->out + mark, cx->outlen - mark);
	cx->outlen = mark;
	return v;
}

struct tv tpl_call_method(struct tpl_ctx *cx, struct tv obj, const struct tv_str *name,
			  const struct tv *args, size_t nargs, const struct tpl_kwarg *kw, size_t nkw)
{
	const char *m = name->s;
	switch (obj.t) {
	case TV_UNDEFINED:
		tpl_check_defined(cx, obj);
		break;
	case TV_STR:
		return tpl_str_method(cx, obj, m, args, nargs, kw, nkw);
	case TV_LIST:
		if (strcmp(m, "index") == 0 && nargs >= 1) {
			for (size_t i = 0; i < obj.l->n; i++)
				if (tv_equal(cx, obj.l->v[i], args[0]))
					return tv_int((int64_t)i);
			tpl_fail(cx, "value is not in list");
		}
		if (strcmp(m, "count") == 0 && nargs == 1) {
			int64_t c = 0;
			for (size_t i = 0; i < obj.l->n; i++)
				c += tv_equal(cx, obj.l->v[i], args[0]);
			return tv_int(c);
		}
		if (tv_is_set(obj) && (strcmp(m, "union") == 0 || strcmp(m, "intersection") == 0 ||
				       strcmp(m, "difference") == 0 ||
				       strcmp(m, "symmetric_difference") == 0 ||
				       strcmp(m, "issubset") == 0 || strcmp(m, "issuperset") == 0))
			return tpl_set_method(cx, obj, m, args, nargs);
		/* Home Assistant's sandbox is immutable: lists, dicts and sets
		 * cannot be changed in place */
		if (strcmp(m, "append") == 0 || strcmp(m, "extend") == 0 || strcmp(m, "insert") == 0 ||
		    strcmp(m, "pop") == 0 || strcmp(m, "remove") == 0 || strcmp(m, "clear") == 0 ||
		    strcmp(m, "sort") == 0 || strcmp(m, "reverse") == 0 || strcmp(m, "add") == 0 ||
		    strcmp(m, "discard") == 0 || strcmp(m, "update") == 0)
			tpl_fail(cx, "access to attribute '%s' of '%s' object is unsafe.", m,
				 tv_type_name(obj));
		break;
	case TV_DICT:
	case TV_NAMESPACE: {
		const struct tv_dict *d = obj.d;
		bool items = strcmp(m, "items") == 0;
		if (obj.t == TV_DICT && (items || strcmp(m, "keys") == 0 || strcmp(m, "values") == 0)) {
			tpl_work(cx, (uint64_t)d->n * TPL_W_ITEM);
			struct tv l = tv_list_new(cx, d->n);
			for (size_t i = 0; i < d->n; i++) {
				if (items) {
					struct tv p = tv_make_tuple(tv_list_new(cx, 2));
					p.l->v[0] = d->k[i];
					p.l->v[1] = d->v[i];
					p.l->n = 2;
					l.l->v[i] = p;
				} else {
					l.l->v[i] = m[0] == 'k' ? d->k[i] : d->v[i];
				}
			}
			l.l->n = d->n;
			return l;
		}
		if (obj.t == TV_DICT && strcmp(m, "get") == 0 && nargs >= 1 && nargs <= 2) {
			const struct tv *v = tv_dict_get(cx, &obj, args[0]);
			return v ? *v : nargs == 2 ? args[1] : tv_none();
		}
		if (obj.t == TV_DICT && strcmp(m, "copy") == 0 && nargs == 0) {
			struct tv c = tv_dict_new(cx, d->n);
			tpl_work(cx, 2 * (uint64_t)d->n);
			memcpy(c.d->k, d->k, d->n * sizeof *d->k);
			memcpy(c.d->v, d->v, d->n * sizeof *d->v);
			c.d->n = d->n;
			return c;
		}
		if (obj.t == TV_DICT && (strcmp(m, "update") == 0 || strcmp(m, "pop") == 0 ||
					 strcmp(m, "popitem") == 0 || strcmp(m, "setdefault") == 0 ||
					 strcmp(m, "clear") == 0))
			tpl_fail(cx, "access to attribute '%s' of 'dict' object is unsafe.", m);
		/* an item holding a function: d.f() calls it, as Jinja's
		 * getattr falls back to the item */
		const struct tv *f = tv_dict_get(cx, &obj, tv_strv(name));
		if (f) {
			if (tpl_is_callable(*f))
				return tpl_call_value(cx, *f, args, nargs, kw, nkw);
			tpl_fail(cx, "'%s' object is not callable", tv_type_name(*f));
		}
		break;
	}
	case TV_DATETIME:
	case TV_TIMEDELTA:
	case TV_DATE:
	case TV_STATE:
	case TV_CALLABLE:
		return tpl_ha_call_method(cx, obj, m, name->len, args, nargs, kw, nkw);
	case TV_LOOP:
		return loop_method(cx, obj.lp, m, args, nargs);
	case TV_FUNC:
		return tpl_func_method(cx, obj, m, args, nargs, kw, nkw);
	case TV_MODULE: {
		struct tv f = tpl_getattr(cx, obj, m, name->len);
		if (tpl_is_callable(f))
			return tpl_call_value(cx, f, args, nargs, kw, nkw);
		tpl_check_defined(cx, f);
		tpl_fail(cx, "'%s' object is not callable", tv_type_name(f));
	}
	default:
		break;
	}
	tpl_fail(cx, "'%s' object has no attribute '%s'", tv_type_name(obj), m);
}

/* ---- attribute chains over the caller's JSON --------------------------------
 * trigger.to_state.state reads one string of the run's variables: the
 * chain walks the JSON in place and makes a value of what it reaches
 * only, where converting `trigger` whole (both states, their attributes)
 * at each render was most of what a short template cost. A name is
 * walked so only while its slot is unresolved, so what the chain finds is
 * what resolve() would have converted; anything the JSON cannot answer
 * itself (a dict's methods, a missing key, a key of another type) is
 * answered by the value, made then, as before. */

/* What an attribute or item chain reached: a value, or a JSON object or
 * array (j) not made into one. */
struct ref {
	const json_t *j;
	struct tv v;
};

/* The JSON container resolve() would convert for slot, or NULL (a name
 * assigned or looked up already, or one that is not such a container). */
static const json_t *name_json(struct tpl_ctx *cx, unsigned slot)
{
	if (cx->slots[slot].t != TV_UNRESOLVED)
		return NULL;
	const struct tv_str *nm = cx->t->names[slot];
	const struct mqb_tpl_vars *vars = cx->context ? cx->vars : NULL;
	const json_t *j = NULL;
	if (!vars || (NAME_IS(nm, "value") && vars->value) ||
	    (NAME_IS(nm, "value_json") && (vars->value_json || vars->value)))
		return NULL;
	if (NAME_IS(nm, "trigger") && vars->trigger)
		j = vars->trigger;
	else if (NAME_IS(nm, "this") && vars->this_state)
		j = vars->this_state;
	else if (vars->variables && json_is_object(vars->variables))
		j = json_object_getn(vars->variables, nm->s, nm->len);
	return json_is_object(j) || json_is_array(j) ? j : NULL;
}

static struct ref ref_of(struct tpl_ctx *cx, const json_t *j)
{
	if (json_is_object(j) || json_is_array(j))
		return (struct ref){ .j = j };
	return (struct ref){ .v = tv_from_json(cx, j) };
}

static struct tv ref_value(struct tpl_ctx *cx, struct ref r)
{
	return r.j ? tv_from_json(cx, r.j) : r.v;
}

/* value_json.key (or ['key']) read from the payload's text where the
 * template reads value_json this once: a sensor's value_template mostly
 * wants one member, and making the whole payload a dict for it was most
 * of the render. Whatever this cannot answer (no such member, not an
 * object, not JSON) falls to the usual path, which parses it all. */
static bool value_json_member(struct tpl_ctx *cx, const struct node *name, const char *key,
			      size_t len, struct tv *out)
{
	const struct mqb_tpl_vars *vars = cx->context ? cx->vars : NULL;
	if (!cx->t->value_json_once || name->kind != N_NAME || !vars || !vars->value ||
	    vars->value_json || cx->value_json_done || cx->slots[name->slot].t != TV_UNRESOLVED ||
	    !NAME_IS(cx->t->names[name->slot], "value_json"))
		return false;
	return tpl_json_member(cx, vars->value, vars->value_len, key, len, out) == 1;
}

static struct ref eval_ref(struct tpl_ctx *cx, const struct node *n)
{
	if (stack_low(cx))
		tpl_fail_code(cx, -ELOOP, "nested too deep for the stack it renders on");
	switch ((enum nk)n->kind) {
	case N_NAME: {
		const json_t *j = name_json(cx, n->slot);
		return j ? (struct ref){ .j = j } : (struct ref){ .v = lookup(cx, n->slot) };
	}
	case N_ATTR: {
		struct tv m;
		if (!dict_attr(n->name->s, n->name->len) &&
		    value_json_member(cx, n->a, n->name->s, n->name->len, &m))
			return (struct ref){ .v = m };
		struct ref o = eval_ref(cx, n->a);
		/* A State's dict answers in place only with what it holds as
		 * the State does (its other attributes are made, and its times
		 * are datetimes there). */
		if (o.j && json_is_object(o.j) && !dict_attr(n->name->s, n->name->len) &&
		    (!tpl_json_is_state(o.j) || NAME_IS(n->name, "state") ||
		     NAME_IS(n->name, "entity_id") || NAME_IS(n->name, "attributes"))) {
			tpl_work(cx, TPL_W_ITEM);
			const json_t *c = json_object_getn(o.j, n->name->s, n->name->len);
			if (c)
				return ref_of(cx, c);
		}
		struct tv ov = ref_value(cx, o);
		if (ov.t == TV_UNDEFINED) {
			cx->line = n->line;
			cx->col = n->col;
		}
		return (struct ref){ .v = tpl_getattr(cx, ov, n->name->s, n->name->len) };
	}
	case N_ITEM: {
		struct tv m;
		if (n->b->kind == N_CONST && n->b->k.t == TV_STR &&
		    value_json_member(cx, n->a, n->b->k.s->s, n->b->k.s->len, &m))
			return (struct ref){ .v = m };
		struct ref o = eval_ref(cx, n->a);
		struct tv k = eval(cx, n->b);
		cx->line = n->line;
		cx->col = n->col;
		const json_t *c = NULL;
		if (o.j && json_is_object(o.j) && k.t == TV_STR && !memchr(k.s->s, 0, k.s->len)) {
			c = json_object_getn(o.j, k.s->s, k.s->len);
		} else if (o.j && json_is_array(o.j) && (k.t == TV_INT || k.t == TV_BOOL)) {
			int64_t i = k.t == TV_INT ? k.i : k.b, len = (int64_t)json_array_size(o.j);
			if (i < 0)
				i += len;
			if (i >= 0 && i < len)
				c = json_array_get(o.j, (size_t)i);
		}
		if (c) {
			tpl_work(cx, TPL_W_ITEM);
			return ref_of(cx, c);
		}
		return (struct ref){ .v = tpl_getitem(cx, ref_value(cx, o), k) };
	}
	default:
		return (struct ref){ .v = eval(cx, n) };
	}
}

/* Its work is charged by the statement that evaluates it (stmt.cost). */
static struct tv eval(struct tpl_ctx *cx, const struct node *n)
{
	/* expressions nest without calls too: ((x|f)|f)... evaluates every
	 * operand on the way down */
	if (stack_low(cx))
		tpl_fail_code(cx, -ELOOP, "nested too deep for the stack it renders on");
	switch ((enum nk)n->kind) {
	case N_CONST:
		return n->k;
	case N_NAME:
		return lookup(cx, n->slot);
	case N_LIST:
	case N_TUPLE: {
		struct tv l = tv_list_new(cx, n->nargs);
		for (unsigned i = 0; i < n->nargs; i++)
			l.l->v[i] = eval(cx, n->args[i]);
		l.l->n = n->nargs;
		return n->kind == N_TUPLE ? tv_make_tuple(l) : l;
	}
	case N_DICT: {
		struct tv d = tv_dict_new(cx, n->nargs / 2);
		for (unsigned i = 0; i + 1 < n->nargs; i += 2) {
			struct tv k = eval(cx, n->args[i]);
			if ((k.t == TV_LIST && !tv_is_tuple(k)) || k.t == TV_DICT) {
				cx->line = n->line;
				cx->col = n->col;
				tpl_fail(cx, "unhashable type: '%s'", tv_type_name(k));
			}
			tv_dict_set(cx, &d, k, eval(cx, n->args[i + 1]));
		}
		return d;
	}
	case N_ATTR:
	case N_ITEM:
		return ref_value(cx, eval_ref(cx, n));
	case N_SLICE: {
		struct tv o = eval(cx, n->a);
		struct tv a = n->b ? eval(cx, n->b) : tv_none();
		struct tv b = n->c ? eval(cx, n->c) : tv_none();
		struct tv c = n->args[0] ? eval(cx, n->args[0]) : tv_none();
		cx->line = n->line;
		cx->col = n->col;
		return do_slice(cx, o, a, b, c);
	}
	case N_CALL:
		return call_node(cx, n, false, tv_undef());
	case N_FILTER:
	case N_TEST: {
		struct tv v = eval(cx, n->args[0]);
		struct tv r = call_node(cx, n, true, v);
		if (n->kind == N_TEST)
			return tv_bool(tv_truthy(r) != n->neg);
		return r;
	}
	case N_METHOD:
	case N_DYNCALL:
		return call_value_node(cx, n, NULL);
	case N_CAPTURED:
		return cx->captured;
	case N_NOT:
		return tv_bool(!tv_truthy(eval(cx, n->a)));
	case N_NEG:
	case N_POS: {
		struct tv v = eval(cx, n->a);
		cx->line = n->line;
		cx->col = n->col;
		if (v.t == TV_INT) {
			if (n->kind == N_NEG && v.i == INT64_MIN)
				tpl_fail(cx, "integer overflow");
			return n->kind == N_NEG ? tv_int(-v.i) : v;
		}
		if (v.t == TV_BOOL)
			return tv_int(n->kind == N_NEG ? -(int64_t)v.b : v.b);
		if (v.t == TV_FLOAT)
			return n->kind == N_NEG ? tv_float(-v.f) : v;
		if (v.t == TV_TIMEDELTA) {
			if (n->kind == N_NEG)
				v.td = -v.td;
			return v;
		}
		tpl_check_defined(cx, v);
		tpl_fail(cx, "bad operand type for unary %c: '%s'", n->kind == N_NEG ? '-' : '+',
			 tv_type_name(v));
	}
	case N_BIN: {
		struct tv a = eval(cx, n->a), b = eval(cx, n->b);
		if (n->op == OP_ADD && a.t == TV_INT && b.t == TV_INT) {
			int64_t r;
			if (!__builtin_add_overflow(a.i, b.i, &r))
				return tv_int(r);
		}
		cx->line = n->line;
		cx->col = n->col;
		if (n->op == OP_CONCAT || n->op == OP_MUL || n->op == OP_ADD || n->op == OP_SUB ||
		    n->op == OP_DIV || n->op == OP_FLOORDIV || n->op == OP_MOD || n->op == OP_POW) {
			if (n->op != OP_CONCAT && (a.t == TV_UNDEFINED || b.t == TV_UNDEFINED))
				tpl_check_defined(cx, a.t == TV_UNDEFINED ? a : b);
		}
		return binop(cx, (enum op)n->op, a, b);
	}
	case N_AND: {
		struct tv a = eval(cx, n->a);
		return tv_truthy(a) ? eval(cx, n->b) : a;
	}
	case N_OR: {
		struct tv a = eval(cx, n->a);
		return tv_truthy(a) ? a : eval(cx, n->b);
	}
	case N_CMP: {
		struct tv a = eval(cx, n->args[0]);
		for (unsigned i = 0; i + 1 < n->nargs; i++) {
			struct tv b = eval(cx, n->args[i + 1]);
			cx->line = n->line;
			cx->col = n->col;
			if (!compare(cx, (enum op)n->ops[i], a, b))
				return tv_bool(false);
			a = b;
		}
		return tv_bool(true);
	}
	case N_COND:
		if (tv_truthy(eval(cx, n->a)))
			return eval(cx, n->b);
		return n->c ? eval(cx, n->c) : tv_undef();
	}
	abort();
}

static void output(struct tpl_ctx *cx, struct tv v)
{
	char tmp[48];
	size_t k;
	switch (v.t) {
	case TV_STR:
		out_add(cx, v.s->s, v.s->len);
		return;
	case TV_INT:
		k = tpl_int_text(v.i, tmp);
		out_add(cx, tmp, k);
		return;
	case TV_FLOAT:
		if (cx->outcap - cx->outlen > DTOA_REPR_MAX) {
			/* straight into the output, bounded as out_add does
			 * (past the bound the output is thrown away) */
			k = dtoa__repr(v.f, cx->out + cx->outlen);
			if (cx->outlen + k > cx->max_output)
				tpl_fail_code(cx, -E2BIG, "output longer than %zu bytes",
					      cx->max_output);
			cx->outlen += k;
		} else {
			k = dtoa__repr(v.f, tmp);
			out_add(cx, tmp, k);
		}
		return;
	case TV_UNDEFINED:
		return;
	default: {
		const struct tv_str *s = tv_to_str(cx, v);
		out_add(cx, s->s, s->len);
	}
	}
}

static void assign(struct tpl_ctx *cx, const unsigned *targets, unsigned n, struct tv v)
{
	if (n == 1) {
		cx->slots[targets[0]] = v;
		return;
	}
	struct tv l = tpl_iterate(cx, v);
	if (l.l->n != n)
		tpl_fail(cx, "%s values to unpack (expected %u, got %zu)",
			 l.l->n > n ? "too many" : "not enough", n, l.l->n);
	for (unsigned i = 0; i < n; i++)
		cx->slots[targets[i]] = l.l->v[i];
}

static void exec(struct tpl_ctx *cx, const struct stmt *s);

/* Jinja's for: the loop variable and what the body assigns are gone
 * after the loop (saved restores every slot), and an assignment in one
 * iteration is not seen by the next (snap, taken before the first, is
 * put back before each other) -- only namespaces carry values out. The
 * filter (for x in l if cond) runs first, over the whole list, so
 * loop.length and loop.last count what the filter kept. The loop is a
 * scope: a macro defined before it sees the slots as saved. */
/* Enter a scope of the current frame: its slots saved in sc->saved. */
static void scope_enter(struct tpl_ctx *cx, struct tpl_scope *sc)
{
	unsigned ns = cx->t->nslots;
	tpl_work(cx, ns);
	struct tv *saved = tpl_alloc(cx, ns * sizeof *saved);
	memcpy(saved, cx->slots, ns * sizeof *saved);
	*sc = (struct tpl_scope){ cx->scopes, cx->slots, saved, ++cx->scope_depth };
	cx->scopes = sc;
}

/* Leave it: what it assigned is gone. */
static void scope_leave(struct tpl_ctx *cx, const struct tpl_scope *sc)
{
	memcpy(cx->slots, sc->saved, cx->t->nslots * sizeof *sc->saved);
	cx->scopes = sc->up;
	cx->scope_depth--;
}

static void run_for(struct tpl_ctx *cx, const struct stmt *s, struct tv items, unsigned depth)
{
	unsigned ns = cx->t->nslots;
	struct tpl_scope scope;
	scope_enter(cx, &scope);
	struct tv *saved = scope.saved;
	if (s->cond) {
		struct tv f = tv_list_new(cx, items.l->n);
		for (size_t i = 0; i < items.l->n; i++) {
			tpl_tick(cx);
			tpl_work(cx, TPL_W_NODE * (uint64_t)s->cond_cost);
			assign(cx, s->targets, s->ntargets, items.l->v[i]);
			if (tv_truthy(eval(cx, s->cond)))
				f.l->v[f.l->n++] = items.l->v[i];
		}
		items = f;
		memcpy(cx->slots, saved, ns * sizeof *saved);
	}
	size_t n = items.l->n;
	struct tv loop = { .t = TV_UNDEFINED };
	if (s->uses_loop) {
		struct tpl_loop *lp = tpl_alloc(cx, sizeof *lp);
		*lp = (struct tpl_loop){ .d = tv_dict_new(cx, LOOP_KEYS), .s = s, .depth = depth };
		for (size_t i = 0; i < LOOP_KEYS; i++)
			lp->d.d->k[i] = tv_cstr(cx, loop_keys[i]);
		lp->d.d->n = LOOP_KEYS;
		lp->d.d->v[9] = tv_int(depth);
		lp->d.d->v[10] = tv_int(depth - 1);
		loop = (struct tv){ .t = TV_LOOP, .lp = lp };
	}
	struct tv *snap = NULL;
	if (s->has_set) {
		snap = tpl_alloc(cx, ns * sizeof *snap);
	}
	bool first_iter = true, completed = false;
	for (size_t i = 0; i < items.l->n; i++) {
		tpl_tick(cx);
		if (snap) {
			tpl_work(cx, ns);
			if (first_iter)
				memcpy(snap, cx->slots, ns * sizeof *snap);
			else
				memcpy(cx->slots, snap, ns * sizeof *snap);
		}
		first_iter = false;
		if (s->uses_loop) {
			struct tv *v = loop.lp->d.d->v;
			v[0] = tv_int((int64_t)i + 1);
			v[1] = tv_int((int64_t)i);
			v[2] = tv_int((int64_t)(n - i));
			v[3] = tv_int((int64_t)(n - i - 1));
			v[4] = tv_bool(i == 0);
			v[5] = tv_bool(i + 1 == n);
			v[6] = tv_int((int64_t)n);
			v[7] = i ? items.l->v[i - 1] : tv_undef();
			v[8] = i + 1 < n ? items.l->v[i + 1] : tv_undef();
			cx->slots[s->loop_slot] = loop;
		}
		assign(cx, s->targets, s->ntargets, items.l->v[i]);
		exec(cx, s->body);
		enum loop_ctl ctl = cx->loop_ctl;
		cx->loop_ctl = LOOP_NEXT;
		if (ctl == LOOP_BREAK)
			break;
		if (ctl == LOOP_NEXT)
			completed = true;
	}
	scope_leave(cx, &scope);
	/* Jinja runs else unless an iteration ran to the end of the body
	 * (so also after a break in the first one). */
	if (!completed && s->els)
		exec(cx, s->els);
}

static void exec_for(struct tpl_ctx *cx, const struct stmt *s)
{
	struct tv it = eval(cx, s->e);
	cx->line = s->line;
	cx->col = s->col;
	run_for(cx, s, tpl_iterate(cx, it), 1);
}

/* The output of body (run now), as a string, taken back out of the output:
 * the output's bound applies to the text captured too. */
struct tv tpl_exec_capture(struct tpl_ctx *cx, const struct stmt *body)
{
	size_t mark = cx->outlen;
	exec(cx, body);
	tpl_work(cx, TPL_W_BYTES(cx->outlen - mark));
	struct tv v = tv_string(cx, cx->out + mark, cx->outlen - mark);
	cx->outlen = mark;
	return v;
}

/* A scope of its own in the frame (with, filter blocks): what the body
 * assigns is gone after it. body's output, captured when capture. */
static struct tv exec_scoped(struct tpl_ctx *cx, const struct stmt *s, const struct tv *vals,
			     bool capture)
{
	struct tpl_scope scope;
	scope_enter(cx, &scope);
	for (unsigned i = 0; vals && i < s->ntargets; i++)
		cx->slots[s->targets[i]] = vals[i];
	struct tv r = tv_undef();
	if (capture)
		r = tpl_exec_capture(cx, s->body);
	else
		exec(cx, s->body);
	scope_leave(cx, &scope);
	return r;
}

/* A macro (or a call block's caller) as a value: a closure over the
 * frame and scope it is defined in. */
static struct tv make_macro(struct tpl_ctx *cx, const struct stmt *s)
{
	struct tpl_func *f = tpl_alloc(cx, sizeof *f);
	*f = (struct tpl_func){ .kind = FN_MACRO, .context = cx->context, .def = s, .t = cx->t,
				.frame = cx->slots, .depth = cx->scope_depth };
	cx->frame_captured = true;
	return tv_func(f);
}

void tpl_exec(struct tpl_ctx *cx, const struct stmt *s)
{
	exec(cx, s);
}

struct tv tpl_eval(struct tpl_ctx *cx, const struct node *n)
{
	return eval(cx, n);
}

static void exec(struct tpl_ctx *cx, const struct stmt *s)
{
	enter(cx, s);
	for (; s; s = s->next) {
		tpl_work(cx, TPL_W_NODE * (1 + (uint64_t)s->cost));
		switch ((enum sk)s->kind) {
		case S_TEXT:
			out_add(cx, s->text->s, s->text->len);
			break;
		case S_OUT:
			output(cx, eval(cx, s->e));
			break;
		case S_IF:
			if (tv_truthy(eval(cx, s->e)))
				exec(cx, s->body);
			else if (s->els)
				exec(cx, s->els);
			break;
		case S_FOR:
			exec_for(cx, s);
			break;
		case S_SET: {
			struct tv v = eval(cx, s->e);
			cx->line = s->line;
			cx->col = s->col;
			assign(cx, s->targets, s->ntargets, v);
			break;
		}
		case S_SETATTR: {
			struct tv v = eval(cx, s->e);
			struct tv ns = lookup(cx, s->targets[0]);
			cx->line = s->line;
			cx->col = s->col;
			if (ns.t != TV_NAMESPACE)
				tpl_fail(cx, "cannot assign attribute on non-namespace object");
			tv_dict_set(cx, &ns, tv_strv(s->attr), v);
			break;
		}
		case S_SETBLOCK: {
			struct tv v = tpl_exec_capture(cx, s->body);
			if (s->e) {
				struct tv outer = cx->captured;
				cx->captured = v;
				v = eval(cx, s->e);
				cx->captured = outer;
			}
			cx->slots[s->targets[0]] = v;
			break;
		}
		case S_FILTERBLOCK: {
			struct tv outer = cx->captured;
			cx->captured = exec_scoped(cx, s, NULL, true);
			struct tv v = eval(cx, s->e);
			cx->captured = outer;
			output(cx, v);
			break;
		}
		case S_WITH: {
			/* the values first, in the enclosing scope */
			struct tv *vals = tpl_alloc(cx, (s->ntargets + 1) * sizeof *vals);
			for (unsigned i = 0; i < s->ntargets; i++)
				vals[i] = eval(cx, s->exprs[i]);
			exec_scoped(cx, s, vals, false);
			break;
		}
		case S_DO:
			eval(cx, s->e);
			break;
		case S_MACRO:
			cx->slots[s->targets[0]] = make_macro(cx, s);
			break;
		case S_CALLBLOCK: {
			struct tpl_kwarg caller = { "caller", make_macro(cx, s) };
			output(cx, call_value_node(cx, s->e, &caller));
			break;
		}
		case S_IMPORT: {
			cx->line = s->line;
			cx->col = s->col;
			const struct tpl_modinst *mi = tpl_module_instance(cx, s->mod, s->context);
			if (!s->names) {
				cx->slots[s->targets[0]] = (struct tv){ .t = TV_MODULE, .mod = mi };
				break;
			}
			for (unsigned i = 0; i < s->ntargets; i++)
				cx->slots[s->targets[i]] = tpl_module_get_attr(cx, mi, s->names[i]->s,
									     s->names[i]->len);
			break;
		}
		case S_INCLUDE:
			if (s->mod) {
				cx->line = s->line;
				cx->col = s->col;
				output(cx, tpl_include(cx, s->mod, s->context));
			}
			break;
		case S_BREAK:
			cx->loop_ctl = LOOP_BREAK;
			break;
		case S_CONTINUE:
			cx->loop_ctl = LOOP_CONTINUE;
			break;
		}
		if (cx->loop_ctl != LOOP_NEXT)
			break;   /* unwind to the innermost loop */
	}
	cx->depth--;
}

int mqb_template_render(const struct mqb_template *t, const struct mqb_tpl_vars *vars,
			const struct mqb_tpl_limits *lim, char **out, size_t *len,
			struct mqb_tpl_error *err)
{
	int rc = tpl_render(t, vars, lim, TPL_MAX_WORK, out, len, err, NULL);
	if (rc && rc != -ENOMEM && vars && vars->core)
		mqb_core_count(vars->core, MQB_COUNT_RENDER_ERRORS);
	return rc;
}

/* Zero the render's context up to its slots. GCC expands a memset of
 * this size as rep stosq, whose start-up takes longer than the stores (a
 * few percent of a short render); 16-byte stores it may not merge back
 * into one (volatile) take a cycle each. */
static inline void zero_ctx(struct tpl_ctx *cx)
{
	typedef uint64_t z16 __attribute__((vector_size(16), aligned(1), may_alias));
	char *z = (char *)cx;
	size_t n = offsetof(struct tpl_ctx, slots), i = 0;
#pragma GCC unroll 32
	for (; i + 16 <= n; i += 16)
		*(volatile z16 *)(void *)(z + i) = (z16){ 0, 0 };
	if (i < n)
		memset(z + i, 0, n - i);
}

int tpl_render(const struct mqb_template *t, const struct mqb_tpl_vars *vars,
	       const struct mqb_tpl_limits *lim, uint64_t max_work, char **out, size_t *len,
	       struct mqb_tpl_error *err, uint64_t *work)
{
	static const struct mqb_tpl_limits dflt = { 100000, 64, 256 * 1024 };
	if (!lim)
		lim = &dflt;
	*out = NULL;
	if (len)
		*len = 0;
	if (work)
		*work = 0;
	if (t->is_static) {
		const struct tv_str *s = t->static_text;
		if (s->len > lim->max_output) {
			if (err) {
				snprintf(err->message, sizeof err->message,
					 "output longer than %zu bytes", lim->max_output);
				err->line = err->column = 0;
			}
			return -E2BIG;
		}
		char *o = mqb__malloc(s->len + 1);
		if (!o)
			return -ENOMEM;
		memcpy(o, s->s, s->len + 1);
		*out = o;
		if (len)
			*len = s->len;
		return 0;
	}
	struct tpl_ctx cx;
	zero_ctx(&cx);
	cx.slots = NULL;
	cx.context = true;
	cx.parsed = NULL;
	cx.value_json_done = false;
	cx.err = err;
	cx.vars = vars;
	cx.t = t;
	cx.max_iter = lim->max_iterations;
	cx.max_depth = lim->max_depth;
	size_t left = coro__stack_left();
	if (left != SIZE_MAX)
		cx.stack_floor = (const char *)__builtin_frame_address(0) - left + STACK_RESERVE;
	cx.max_output = lim->max_output;
	cx.max_work = max_work;
	/* Room for intermediate values well beyond the output itself. */
	cx.max_heap = lim->max_output > (SIZE_MAX - (4u << 20)) / 16 ? SIZE_MAX
		      : lim->max_output * 16 + (4u << 20);
	bool own_tls = !tls_busy;
	if (own_tls) {
		tls_busy = true;
		cx.cur = (char *)tls_arena;
		cx.end = (char *)(tls_arena + TLS_ARENA);
	}
	volatile int rc = 0;
	if (setjmp(cx.jb)) {
		rc = cx.code;
		mqb__free(cx.out);
		cx.out = NULL;
	} else {
		cx.outcap = 256;
		cx.out = mqb__malloc(cx.outcap);
		if (!cx.out)
			tpl_fail_code(&cx, -ENOMEM, "out of memory");
		cx.slots = tpl_alloc(&cx, (t->nslots ? t->nslots : 1) * sizeof *cx.slots);
		for (unsigned i = 0; i < t->nslots; i++)
			cx.slots[i].t = TV_UNRESOLVED;
		exec(&cx, t->body);
		cx.out[cx.outlen] = 0;
		*out = cx.out;
		if (len)
			*len = cx.outlen;
	}
	for (struct tpl_cleanup *c = cx.cleanups; c; c = c->next)
		c->fn(c->p);
	if (cx.parsed)
		json_decref(cx.parsed);
	struct tpl_blk *b = cx.blocks;
	while (b) {
		struct tpl_blk *nb = b->next;
		mqb__free(b);
		b = nb;
	}
	if (own_tls)
		tls_busy = false;
	if (work)
		*work = cx.work;
	return rc;
}
