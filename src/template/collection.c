/* SPDX-License-Identifier: MIT */
/* Collections: Jinja's groupby, slice, random, attr, cycler, joiner and
 * lipsum and its tests of names and types; Home Assistant's sets (set,
 * tuple, union, intersect ...), flatten, zip, shuffle (Python's
 * Mersenne Twister, so a seed gives Python's order), natural_sort, min
 * and max as functions, combine, typeof, apply, as_function, contains,
 * is_defined and merge_response. */
#include "lib/internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "template/tpl.h"

#define ARG(i, name) tpl_arg(args, nargs, kw, nkw, i, name)
#define FN(name) static struct tv name(struct tpl_ctx *cx, const struct tv *args, size_t nargs, \
				       const struct tpl_kwarg *kw, size_t nkw)

/* ---- sets ------------------------------------------------------------------------ */

/* Python's set of v's items: each once. Their order is Python's for small
 * non-negative integers (ascending, as they hash), else the first-seen
 * order (Python's is the strings' hashes', which vary by process). */
struct tv tpl_make_set(struct tpl_ctx *cx, const struct tv *v, size_t n)
{
	struct tv s = tv_list_new(cx, n);
	((struct tv_list_x *)(void *)s.l)->kind = LK_SET;
	bool ints = true;
	for (size_t i = 0; i < n; i++) {
		tpl_tick(cx);
		if (v[i].t == TV_LIST && !tv_is_tuple(v[i]))
			tpl_fail(cx, "unhashable type: '%s'", tv_type_name(v[i]));
		if (v[i].t == TV_DICT || v[i].t == TV_NAMESPACE)
			tpl_fail(cx, "unhashable type: '%s'", tv_type_name(v[i]));
		size_t j = 0;
		while (j < s.l->n && !tv_equal(cx, s.l->v[j], v[i]))
			j++;
		if (j < s.l->n)
			continue;
		ints &= (v[i].t == TV_INT && v[i].i >= 0) || v[i].t == TV_BOOL;
		s.l->v[s.l->n++] = v[i];
	}
	if (ints && s.l->n > 1) {
		size_t *o = tpl_sort_index(cx, s.l->v, s.l->n, false);
		struct tv *sorted = tpl_alloc(cx, s.l->n * sizeof *sorted);
		for (size_t i = 0; i < s.l->n; i++)
			sorted[i] = s.l->v[o[i]];
		memcpy(s.l->v, sorted, s.l->n * sizeof *sorted);
	}
	return s;
}

static bool set_has(struct tpl_ctx *cx, struct tv s, struct tv x)
{
	for (size_t i = 0; i < s.l->n; i++)
		if (tv_equal(cx, s.l->v[i], x))
			return true;
	return false;
}

/* a op b for sets: '|', '&', '-', '^'. */
static struct tv set_op(struct tpl_ctx *cx, struct tv a, struct tv b, char op)
{
	struct tv r = tv_list_new(cx, a.l->n + b.l->n);
	tpl_work_n(cx, (uint64_t)a.l->n * (b.l->n + 1), TPL_W_ITEM);
	for (size_t i = 0; i < a.l->n; i++) {
		bool in = set_has(cx, b, a.l->v[i]);
		if (op == '|' || (op == '&' && in) || ((op == '-' || op == '^') && !in))
			r.l->v[r.l->n++] = a.l->v[i];
	}
	if (op == '|' || op == '^')
		for (size_t i = 0; i < b.l->n; i++)
			if (!set_has(cx, a, b.l->v[i]))
				r.l->v[r.l->n++] = b.l->v[i];
	return tpl_make_set(cx, r.l->v, r.l->n);
}

static struct tv as_set(struct tpl_ctx *cx, struct tv v)
{
	if (tv_is_set(v))
		return v;
	struct tv l = tpl_iterate(cx, v);
	return tpl_make_set(cx, l.l->v, l.l->n);
}

struct tv tpl_set_method(struct tpl_ctx *cx, struct tv set, const char *m, const struct tv *args,
			 size_t nargs)
{
	if (nargs != 1)
		tpl_fail(cx, "set.%s() takes one argument here", m);
	struct tv o = as_set(cx, args[0]);
	if (strcmp(m, "union") == 0)
		return set_op(cx, set, o, '|');
	if (strcmp(m, "intersection") == 0)
		return set_op(cx, set, o, '&');
	if (strcmp(m, "difference") == 0)
		return set_op(cx, set, o, '-');
	if (strcmp(m, "symmetric_difference") == 0)
		return set_op(cx, set, o, '^');
	struct tv sub = strcmp(m, "issubset") == 0 ? set : o, sup = sub.l == set.l ? o : set;
	return tv_bool(set_op(cx, sub, sup, '-').l->n == 0);
}

/* Home Assistant's collection functions want a list (not a string). */
static struct tv listlike(struct tpl_ctx *cx, const char *fn, struct tv v)
{
	if (v.t != TV_LIST && v.t != TV_DICT && !(v.t == TV_STATE && tpl_state_is_domain(v))) {
		tpl_check_defined(cx, v);
		tpl_fail(cx, "%s expected a list, got %s", fn, tpl_typeof(v));
	}
	return tpl_iterate(cx, v);
}

static struct tv set_fn(struct tpl_ctx *cx, const char *fn, const struct tv *args, char op)
{
	struct tv a = listlike(cx, fn, args[0]), b = listlike(cx, fn, args[1]);
	struct tv r = set_op(cx, as_set(cx, a), as_set(cx, b), op);
	((struct tv_list_x *)(void *)r.l)->kind = LK_LIST;
	return r;
}

FN(ha_intersect) { return set_fn(cx, "intersect", args, '&'); }
FN(ha_difference) { return set_fn(cx, "difference", args, '-'); }
FN(ha_union) { return set_fn(cx, "union", args, '|'); }
FN(ha_symmetric_difference) { return set_fn(cx, "symmetric_difference", args, '^'); }

FN(ha_set) { return as_set(cx, args[0]); }

FN(ha_tuple)
{
	struct tv l = tpl_iterate(cx, args[0]);
	return tv_make_tuple(tv_list_of(cx, l.l->v, l.l->n));
}

FN(t_list) { return tv_bool(args[0].t == TV_LIST && tv_list_kind(args[0]) == LK_LIST); }
FN(t_set) { return tv_bool(tv_is_set(args[0])); }
FN(t_tuple) { return tv_bool(tv_is_tuple(args[0])); }
FN(t_string_like) { return tv_bool(args[0].t == TV_STR || args[0].t == TV_BYTES); }

static void flatten_into(struct tpl_ctx *cx, struct tv *out, struct tv v, int64_t levels,
			 unsigned depth)
{
	if (depth > TV_MAX_NEST)
		tpl_fail_code(cx, -ELOOP, "value nested too deeply");
	struct tv l = tpl_iterate(cx, v);
	for (size_t i = 0; i < l.l->n; i++) {
		struct tv x = l.l->v[i];
		tpl_tick(cx);
		if ((x.t == TV_LIST || x.t == TV_DICT) && levels != 0)
			flatten_into(cx, out, x, levels > 0 ? levels - 1 : -1, depth + 1);
		else
			tv_list_push(cx, out, x);
	}
}

FN(ha_flatten)
{
	const struct tv *lv = ARG(1, "levels");
	listlike(cx, "flatten", args[0]);
	int64_t levels = -1;
	if (lv && lv->t != TV_NONE) {
		if (lv->t != TV_INT)
			tpl_fail(cx, "flatten: levels must be an integer");
		levels = lv->i < 0 ? 0 : lv->i;
	}
	struct tv out = tv_list_new(cx, 8);
	flatten_into(cx, &out, args[0], levels, 0);
	return out;
}

FN(ha_zip)
{
	size_t n = SIZE_MAX;
	struct tv *ls = tpl_alloc(cx, (nargs + 1) * sizeof *ls);
	for (size_t i = 0; i < nargs; i++) {
		ls[i] = tpl_iterate(cx, args[i]);
		if (ls[i].l->n < n)
			n = ls[i].l->n;
	}
	if (!nargs)
		n = 0;
	tpl_work_n(cx, n, (unsigned)(nargs + 1) * TPL_W_ITEM);
	struct tv r = tv_list_new(cx, n);
	for (size_t k = 0; k < n; k++) {
		struct tv t = tv_make_tuple(tv_list_new(cx, nargs));
		for (size_t i = 0; i < nargs; i++)
			t.l->v[i] = ls[i].l->v[k];
		t.l->n = nargs;
		r.l->v[r.l->n++] = t;
	}
	return r;
}

/* ---- Python's random -------------------------------------------------------------- */

/* MT19937 as Python's random module seeds and draws it. */
struct mt {
	uint32_t s[624];
	int i;
};

static void mt_init(struct mt *m, uint32_t seed)
{
	m->s[0] = seed;
	for (int i = 1; i < 624; i++)
		m->s[i] = 1812433253u * (m->s[i - 1] ^ (m->s[i - 1] >> 30)) + (uint32_t)i;
	m->i = 624;
}

static void mt_init_by_array(struct mt *m, const uint32_t *key, size_t n)
{
	mt_init(m, 19650218u);
	size_t i = 1, j = 0;
	for (size_t k = 624 > n ? 624 : n; k; k--) {
		m->s[i] = (m->s[i] ^ ((m->s[i - 1] ^ (m->s[i - 1] >> 30)) * 1664525u)) + key[j] +
			  (uint32_t)j;
		i++;
		j++;
		if (i >= 624) {
			m->s[0] = m->s[623];
			i = 1;
		}
		if (j >= n)
			j = 0;
	}
	for (size_t k = 623; k; k--) {
		m->s[i] = (m->s[i] ^ ((m->s[i - 1] ^ (m->s[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
		i++;
		if (i >= 624) {
			m->s[0] = m->s[623];
			i = 1;
		}
	}
	m->s[0] = 0x80000000u;
}

static uint32_t mt_next(struct mt *m)
{
	if (m->i >= 624) {
		for (int k = 0; k < 624; k++) {
			uint32_t y = (m->s[k] & 0x80000000u) | (m->s[(k + 1) % 624] & 0x7fffffffu);
			m->s[k] = m->s[(k + 397) % 624] ^ (y >> 1) ^ (y & 1 ? 0x9908b0dfu : 0);
		}
		m->i = 0;
	}
	uint32_t y = m->s[m->i++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	return y ^ (y >> 18);
}

/* random._randbelow(n) for n up to 2**32. */
static uint32_t mt_below(struct mt *m, uint64_t n)
{
	unsigned k = 0;
	while (k < 64 && (n >> k))
		k++;
	for (;;) {
		uint32_t r = k >= 32 ? mt_next(m) : mt_next(m) >> (32 - k);
		if (r < n)
			return r;
	}
}

/* random.Random(seed): an int (its 32-bit words, least first), or a str
 * (its UTF-8 and their SHA-512 as one big-endian number). */
static void mt_seed(struct tpl_ctx *cx, struct mt *m, struct tv seed)
{
	uint32_t key[40];
	size_t n = 0;
	if (seed.t == TV_INT || seed.t == TV_BOOL || (seed.t == TV_FLOAT && seed.f == floor(seed.f))) {
		int64_t i = seed.t == TV_INT ? seed.i : seed.t == TV_BOOL ? seed.b : (int64_t)seed.f;
		uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
		key[n++] = (uint32_t)u;
		if (u >> 32)
			key[n++] = (uint32_t)(u >> 32);
	} else if (seed.t == TV_STR && seed.s->len <= 64) {
		unsigned char b[128 + 64];
		size_t len = seed.s->len;
		memcpy(b, seed.s->s, len);
		len += tpl_hash(TPL_SHA512, seed.s->s, seed.s->len, b + len);
		/* the number's 32-bit words from its least significant end */
		for (size_t e = len; e > 0 && n < 40;) {
			size_t s = e >= 4 ? e - 4 : 0;
			uint32_t w = 0;
			for (size_t k = s; k < e; k++)
				w = w << 8 | b[k];
			key[n++] = w;
			e = s;
		}
		while (n > 1 && key[n - 1] == 0)
			n--;
	} else {
		tpl_fail(cx, "shuffle: the seed must be an integer or a short string");
	}
	mt_init_by_array(m, key, n);
}

/* An unseeded generator: the clock and a counter, different each call. */
static void mt_unseeded(struct mt *m)
{
	static uint32_t counter;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint32_t key[3] = { (uint32_t)ts.tv_nsec, (uint32_t)ts.tv_sec,
			    __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) };
	mt_init_by_array(m, key, 3);
}

FN(ha_shuffle)
{
	const struct tv *sv = ARG(99, "seed");
	struct tv seed = sv ? *sv : tv_none();
	struct tv items;
	if (!nargs)
		tpl_fail(cx, "shuffle expected at least 1 argument, got 0");
	if (args[0].t == TV_LIST || args[0].t == TV_DICT) {
		items = tpl_iterate(cx, args[0]);
		if (nargs > 1 && !sv)
			seed = args[1];
	} else if (nargs == 1) {
		tpl_fail(cx, "'%s' object is not iterable", tpl_typeof(args[0]));
	} else {
		items = tv_list_of(cx, args, nargs);
	}
	struct tv r = tv_list_of(cx, items.l->v, items.l->n);
	struct mt *m = tpl_alloc(cx, sizeof *m);
	tpl_work(cx, 1000);
	if (tv_truthy(seed))
		mt_seed(cx, m, seed);
	else
		mt_unseeded(m);
	tpl_work_n(cx, r.l->n, TPL_W_ITEM * 4);
	for (size_t i = r.l->n; i-- > 1;) {
		size_t j = mt_below(m, i + 1);
		struct tv t = r.l->v[i];
		r.l->v[i] = r.l->v[j];
		r.l->v[j] = t;
	}
	return r;
}

/* Home Assistant's random filter: random.choice, anew at each render. */
FN(ha_random)
{
	struct tv l = args[0].t == TV_STR ? tpl_iterate(cx, args[0]) : args[0];
	if (l.t == TV_DICT)
		tpl_fail(cx, "random: a dict cannot be indexed by position");
	l = tpl_iterate(cx, l);
	if (!l.l->n)
		tpl_fail(cx, "Cannot choose from an empty sequence");
	struct mt *m = tpl_alloc(cx, sizeof *m);
	tpl_work(cx, 1000);
	mt_unseeded(m);
	return l.l->v[mt_below(m, l.l->n)];
}

/* ---- natural sort (natsort's FLOAT | SIGNED) -------------------------------------- */

enum { NS_IGNORECASE = 1, NS_LOWERCASEFIRST = 2, NS_GROUPLETTERS = 4 };

/* A signed float at s[i..n) (natsort's pattern): its end, or i. */
static size_t ns_number(const char *s, size_t n, size_t i, double *v)
{
	size_t j = i;
	if (j < n && (s[j] == '-' || s[j] == '+'))
		j++;
	size_t d = j;
	while (j < n && isdigit((unsigned char)s[j]))
		j++;
	size_t ip = j - d;
	size_t fp = 0;
	if (j < n && s[j] == '.') {
		size_t k = j + 1;
		while (k < n && isdigit((unsigned char)s[k]))
			k++;
		fp = k - j - 1;
		if (ip || fp)
			j = k;
	}
	if (!ip && !fp)
		return i;
	if (j < n && (s[j] == 'e' || s[j] == 'E')) {
		size_t k = j + 1;
		if (k < n && (s[k] == '-' || s[k] == '+'))
			k++;
		size_t e = k;
		while (k < n && isdigit((unsigned char)s[k]))
			k++;
		if (k > e)
			j = k;
	}
	char buf[64];
	size_t len = j - i < sizeof buf - 1 ? j - i : sizeof buf - 1;
	memcpy(buf, s + i, len);
	buf[len] = 0;
	*v = strtod(buf, NULL);
	return j;
}

static struct tv ns_text(struct tpl_ctx *cx, const char *s, size_t n, unsigned alg)
{
	struct tv t = tv_string(cx, s, n);
	if (alg & NS_LOWERCASEFIRST)
		t = tpl_str_method(cx, t, "swapcase", NULL, 0, NULL, 0);
	if (alg & NS_IGNORECASE)
		t = tpl_str_method(cx, t, "lower", NULL, 0, NULL, 0);
	if (alg & NS_GROUPLETTERS) {
		struct tpl_buf b = { 0 };
		for (size_t i = 0; i < t.s->len; i++) {
			tpl_buf_addc(cx, &b, (char)tolower((unsigned char)t.s->s[i]));
			tpl_buf_addc(cx, &b, t.s->s[i]);
		}
		t = tv_strv(tpl_buf_done(cx, &b));
	}
	return t;
}

/* The key natsort orders v by: a tuple of text and numbers, text first. */
static struct tv ns_key(struct tpl_ctx *cx, struct tv v, unsigned alg)
{
	struct tv k = tv_make_tuple(tv_list_new(cx, 4));
	if (tv_is_number(v)) {
		tv_list_push(cx, &k, tv_string(cx, "", 0));
		tv_list_push(cx, &k, tv_float(tv_as_double(v)));
		return k;
	}
	const struct tv_str *s = tv_to_str(cx, v);
	tpl_work(cx, TPL_W_CHAR * (uint64_t)s->len);
	size_t i = 0, text = 0;
	bool want_text = true;
	while (i <= s->len) {
		double num = 0;
		size_t e = i < s->len ? ns_number(s->s, s->len, i, &num) : i;
		if (i == s->len || e > i) {
			if (want_text || i > text)
				tv_list_push(cx, &k, ns_text(cx, s->s + text, i - text, alg));
			if (i == s->len)
				break;
			tv_list_push(cx, &k, tv_float(num));
			want_text = false;
			i = text = e;
			continue;
		}
		i++;
	}
	/* a trailing empty text adds nothing to the order */
	if (k.l->n > 1 && k.l->v[k.l->n - 1].t == TV_STR && !k.l->v[k.l->n - 1].s->len &&
	    k.l->v[k.l->n - 2].t != TV_STR)
		k.l->n--;
	return k;
}

static unsigned ns_alg(struct tpl_ctx *cx, const struct tv *v)
{
	if (!v || v->t == TV_NONE)
		return 0;
	if (v->t != TV_STR) {
		tpl_check_defined(cx, *v);
		tpl_fail(cx, "alg expected a string, got %s", tpl_typeof(*v));
	}
	unsigned alg = 0;
	struct tv parts = tpl_str_method(cx, *v, "split", &(struct tv){ .t = TV_STR,
		.s = tpl_str(cx, "|", 1) }, 1, NULL, 0);
	for (size_t i = 0; i < parts.l->n; i++) {
		struct tv p = tpl_str_method(cx, parts.l->v[i], "strip", NULL, 0, NULL, 0);
		p = tpl_str_method(cx, p, "upper", NULL, 0, NULL, 0);
		const char *w = p.s->s;
		if (strncmp(w, "NS.", 3) == 0)
			w += 3;
		if (!strcmp(w, "IGNORECASE") || !strcmp(w, "IC"))
			alg |= NS_IGNORECASE;
		else if (!strcmp(w, "LOWERCASEFIRST") || !strcmp(w, "LF"))
			alg |= NS_LOWERCASEFIRST;
		else if (!strcmp(w, "GROUPLETTERS") || !strcmp(w, "G"))
			alg |= NS_GROUPLETTERS;
	}
	return alg;
}

FN(ha_natural_sort)
{
	const struct tv *keyv = ARG(1, "key"), *algv = ARG(2, "alg"), *rv = ARG(3, "reverse");
	if (args[0].t != TV_LIST || tv_list_kind(args[0]) != LK_LIST)
		tpl_fail(cx, "natural_sort expected an iterable list, got %s", tpl_typeof(args[0]));
	unsigned alg = ns_alg(cx, algv);
	struct tv l = args[0];
	struct tv *keys = tpl_alloc(cx, (l.l->n + 1) * sizeof *keys);
	for (size_t i = 0; i < l.l->n; i++) {
		tpl_tick(cx);
		struct tv v = l.l->v[i];
		if (keyv && keyv->t != TV_NONE) {
			if (keyv->t == TV_STR && v.t == TV_DICT) {
				const struct tv *x = tv_dict_get(cx, &v, *keyv);
				v = x ? *x : tv_none();
			} else if (keyv->t == TV_STR) {
				v = tpl_getattr(cx, v, keyv->s->s, keyv->s->len);
			} else if (keyv->t == TV_INT)
				v = tpl_getitem(cx, v, *keyv);
			else
				tpl_fail(cx, "key expected a string or integer, got %s", tpl_typeof(*keyv));
		}
		keys[i] = ns_key(cx, v, alg);
	}
	size_t *o = tpl_sort_index(cx, keys, l.l->n, rv && tv_truthy(*rv));
	struct tv r = tv_list_new(cx, l.l->n);
	for (size_t i = 0; i < l.l->n; i++)
		r.l->v[r.l->n++] = l.l->v[o[i]];
	return r;
}

/* ---- min, max ------------------------------------------------------------------- */

/* Home Assistant's min() and max(): the filters, of one iterable or of the
 * arguments, with their attribute= and case_sensitive=. */
static struct tv minmax_fn(struct tpl_ctx *cx, const char *name, const struct tv *args,
			   size_t nargs, const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, name, kw, nkw, TPL_KW("case_sensitive", "attribute"));
	if (!nargs)
		tpl_fail(cx, "%s expected at least 1 argument, got 0", name);
	struct tv v = args[0];
	if (nargs == 1 && v.t != TV_LIST && v.t != TV_DICT && v.t != TV_STR &&
	    v.t != TV_UNDEFINED && v.t != TV_STATE && v.t != TV_CALLABLE)
		tpl_fail(cx, "'%s' object is not iterable", tpl_typeof(v));
	if (nargs > 1)
		v = tv_list_of(cx, args, nargs);
	const struct tpl_builtin *f = tpl_builtin_find(name, strlen(name), TPL_FILTER);
	return tpl_call_builtin(cx, f, &v, 1, kw, nkw);
}

FN(fn_min) { return minmax_fn(cx, "min", args, nargs, kw, nkw); }
FN(fn_max) { return minmax_fn(cx, "max", args, nargs, kw, nkw); }

/* ---- functional ------------------------------------------------------------------ */

FN(ha_combine)
{
	const struct tv *rv = ARG(99, "recursive");
	tpl_kw_check(cx, "combine", kw, nkw, TPL_KW("recursive"));
	bool rec = rv && tv_truthy(*rv);
	if (!nargs)
		tpl_fail(cx, "combine expected at least 1 argument, got 0");
	struct tv r = tv_dict_new(cx, 4);
	for (size_t i = 0; i < nargs; i++) {
		if (args[i].t != TV_DICT)
			tpl_fail(cx, "combine expected a dict, got %s", tpl_typeof(args[i]));
		const struct tv_dict *d = args[i].d;
		for (size_t k = 0; k < d->n; k++) {
			tpl_tick(cx);
			const struct tv *have = rec ? tv_dict_get(cx, &r, d->k[k]) : NULL;
			struct tv v = d->v[k];
			if (have && have->t == TV_DICT && v.t == TV_DICT) {
				struct tv two[2] = { *have, v };
				v = ha_combine(cx, two, 2, kw, nkw);
			}
			tv_dict_set(cx, &r, d->k[k], v);
		}
	}
	return r;
}

FN(ha_typeof)
{
	if (args[0].t == TV_UNDEFINED)
		return tv_cstr(cx, "LoggingUndefined");
	return tv_cstr(cx, tpl_typeof(args[0]));
}

/* apply(value, fn, *args, **kwargs): fn(value, *args, **kwargs). */
FN(ha_apply)
{
	if (nargs < 2)
		tpl_fail(cx, "apply() missing the function");
	struct tv *a = tpl_alloc(cx, nargs * sizeof *a);
	a[0] = args[0];
	for (size_t i = 2; i < nargs; i++)
		a[i - 1] = args[i];
	return tpl_call_value(cx, args[1], a, nargs - 1, kw, nkw);
}

FN(ha_as_function) { return tpl_make_as_function(cx, args[0]); }

FN(ha_is_defined)
{
	tpl_check_defined(cx, args[0]);
	return args[0];
}

FN(ha_contains)
{
	struct tv h = args[0], n = args[1];
	if (h.t == TV_STR) {
		if (n.t != TV_STR)
			tpl_fail(cx, "'in <string>' requires string as left operand, not %s",
				 tv_type_name(n));
		tpl_work(cx, TPL_W_BYTES(h.s->len) + n.s->len);
		return tv_bool(!n.s->len || memmem(h.s->s, h.s->len, n.s->s, n.s->len));
	}
	if (h.t == TV_DICT || h.t == TV_NAMESPACE)
		return tv_bool(tv_dict_get(cx, &h, n) != NULL);
	if (h.t != TV_LIST && h.t != TV_BYTES) {
		tpl_check_defined(cx, h);
		tpl_fail(cx, "argument of type '%s' is not iterable", tv_type_name(h));
	}
	struct tv l = tpl_iterate(cx, h);
	for (size_t i = 0; i < l.l->n; i++)
		if (tv_equal(cx, l.l->v[i], n))
			return tv_bool(true);
	return tv_bool(false);
}

/* merge_response: a service response's items in one list, each marked
 * with its entity_id (and value_key for a single list). */
FN(ha_merge_response)
{
	struct tv v = args[0];
	if (v.t != TV_DICT)
		tpl_fail(cx, "Response is not a dictionary");
	struct tv out = tv_list_new(cx, 4);
	struct tv eid = tv_cstr(cx, "entity_id"), vkey = tv_cstr(cx, "value_key");
	bool single = false;
	for (size_t i = 0; i < v.d->n; i++) {
		struct tv resp = v.d->v[i];
		tpl_tick(cx);
		if (resp.t != TV_DICT)
			tpl_fail(cx, "Response is not a dictionary");
		for (size_t k = 0; k < resp.d->n; k++) {
			struct tv t = resp.d->v[k];
			if (resp.d->n == 1 && t.t == TV_LIST) {
				single = true;
				for (size_t j = 0; j < t.l->n; j++) {
					struct tv item = t.l->v[j];
					if (item.t == TV_DICT) {
						if (tv_dict_get(cx, &item, eid))
							tpl_fail(cx, "Response dictionary already contains "
								 "key 'entity_id'");
						struct tv c = tv_dict_new(cx, item.d->n + 2);
						for (size_t q = 0; q < item.d->n; q++)
							tv_dict_set(cx, &c, item.d->k[q], item.d->v[q]);
						tv_dict_set(cx, &c, eid, v.d->k[i]);
						tv_dict_set(cx, &c, vkey, resp.d->k[k]);
						item = c;
					}
					tv_list_push(cx, &out, item);
				}
			} else {
				break;
			}
		}
		if (!single) {
			if (tv_dict_get(cx, &resp, eid))
				tpl_fail(cx, "Response dictionary already contains key 'entity_id'");
			struct tv c = tv_dict_new(cx, resp.d->n + 1);
			for (size_t q = 0; q < resp.d->n; q++)
				tv_dict_set(cx, &c, resp.d->k[q], resp.d->v[q]);
			tv_dict_set(cx, &c, eid, v.d->k[i]);
			tv_list_push(cx, &out, c);
		}
	}
	return out;
}

/* ---- Jinja's ------------------------------------------------------------------------ */

/* groupby: (grouper, list) tuples, sorted by the attribute (ignoring case
 * unless case_sensitive), each grouper as the group's first item has it. */
FN(f_groupby)
{
	const struct tv *av = ARG(1, "attribute"), *dv = ARG(2, "default"), *cv = ARG(3, "case_sensitive");
	if (!av)
		tpl_fail(cx, "groupby() missing 'attribute'");
	bool cs = cv && tv_truthy(*cv);
	struct tv l = tpl_iterate(cx, args[0]);
	size_t n = l.l->n;
	struct tv *keys = tpl_alloc(cx, (n + 1) * sizeof *keys), *orig = tpl_alloc(cx, (n + 1) * sizeof *keys);
	for (size_t i = 0; i < n; i++) {
		tpl_tick(cx);
		struct tv k = av->t == TV_INT ? tpl_getitem(cx, l.l->v[i], *av)
					      : tpl_getattr_path(cx, l.l->v[i], tv_to_str(cx, *av));
		if (k.t == TV_UNDEFINED && dv)
			k = *dv;
		orig[i] = k;
		keys[i] = !cs && k.t == TV_STR ? tpl_str_method(cx, k, "lower", NULL, 0, NULL, 0) : k;
	}
	size_t *o = tpl_sort_index(cx, keys, n, false);
	struct tv out = tv_list_new(cx, 4);
	for (size_t i = 0; i < n;) {
		struct tv g = tv_list_new(cx, 4);
		size_t j = i;
		while (j < n && tv_equal(cx, keys[o[j]], keys[o[i]]))
			tv_list_push(cx, &g, l.l->v[o[j++]]);
		struct tv t = tv_list_new(cx, 2);
		((struct tv_list_x *)(void *)t.l)->kind = LK_GROUP;
		t.l->v[0] = orig[o[i]];
		t.l->v[1] = g;
		t.l->n = 2;
		tv_list_push(cx, &out, t);
		i = j;
	}
	return out;
}

FN(f_slice)
{
	const struct tv *fv = ARG(2, "fill_with");
	if (args[1].t != TV_INT || args[1].i <= 0)
		tpl_fail(cx, args[1].t == TV_INT ? "integer division or modulo by zero"
			 : "slices must be an integer");
	int64_t slices = args[1].i;
	struct tv seq = tpl_iterate(cx, args[0]);
	int64_t len = (int64_t)seq.l->n, per = len / slices, extra = len % slices, off = 0;
	tpl_work_n(cx, (uint64_t)slices, TPL_W_ITEM * 2);
	struct tv out = tv_list_new(cx, slices < 1024 ? (size_t)slices : 1024);
	for (int64_t s = 0; s < slices; s++) {
		int64_t start = off + s * per;
		if (s < extra)
			off++;
		int64_t end = off + (s + 1) * per;
		struct tv t = end > start ? tv_list_of(cx, seq.l->v + start, (size_t)(end - start))
					  : tv_list_new(cx, 0);
		if (fv && fv->t != TV_NONE && s >= extra)
			tv_list_push(cx, &t, *fv);
		tv_list_push(cx, &out, t);
	}
	return out;
}

/* attr: an attribute only, never an item (undefined when there is none). */
FN(f_attr)
{
	struct tv o = args[0];
	const struct tv_str *name = tv_to_str(cx, args[1]);
	if (o.t == TV_DICT) {
		struct tv m = tpl_method_value(cx, o, name->s, name->len);
		struct tv probe = tpl_getattr(cx, o, name->s, name->len);
		if (probe.t == TV_FUNC)
			return m;
		struct tv u = tv_undef();
		u.p = name;
		return u;
	}
	return tpl_getattr(cx, o, name->s, name->len);
}

FN(fn_cycler) { return tpl_make_cycler(cx, args, nargs); }

FN(fn_joiner)
{
	const struct tv *sv = ARG(0, "sep");
	return tpl_make_joiner(cx, sv ? *sv : tv_cstr(cx, ", "));
}

/* lipsum(n=5, html=True, min=20, max=100): filler text, random as Jinja's. */
FN(fn_lipsum)
{
	static const char *const words[] = {
		"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed",
		"do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna",
		"aliqua", "enim", "ad", "minim", "veniam", "quis", "nostrud", "exercitation",
		"ullamco", "laboris", "nisi", "aliquip", "ex", "ea", "commodo", "consequat",
	};
	const struct tv *nv = ARG(0, "n"), *hv = ARG(1, "html"), *lo = ARG(2, "min"), *hi = ARG(3, "max");
	int64_t n = nv && nv->t == TV_INT ? nv->i : 5, mn = lo && lo->t == TV_INT ? lo->i : 20,
		mx = hi && hi->t == TV_INT ? hi->i : 100;
	bool html = !hv || tv_truthy(*hv);
	if (mn >= mx)
		tpl_fail(cx, "empty range for randrange() (%lld, %lld, %lld)", (long long)mn,
			 (long long)mx, (long long)(mx - mn));
	if (n < 0 || mx > 100000)
		tpl_fail(cx, "lipsum: arguments out of range");
	struct mt *m = tpl_alloc(cx, sizeof *m);
	mt_unseeded(m);
	struct tpl_buf b = { 0 };
	for (int64_t p = 0; p < n; p++) {
		tpl_tick(cx);
		if (p)
			tpl_buf_puts(cx, &b, html ? "\n" : "\n\n");
		if (html)
			tpl_buf_puts(cx, &b, "<p>");
		int64_t count = mn + mt_below(m, (uint64_t)(mx - mn));
		const char *last = NULL;
		bool cap = true;
		for (int64_t i = 0; i < count; i++) {
			tpl_tick(cx);
			const char *w;
			do
				w = words[mt_below(m, sizeof words / sizeof words[0])];
			while (w == last);
			last = w;
			if (i)
				tpl_buf_addc(cx, &b, ' ');
			tpl_buf_addc(cx, &b, cap ? (char)toupper((unsigned char)w[0]) : w[0]);
			tpl_buf_puts(cx, &b, w + 1);
			cap = false;
			if (i % 12 == 11) {
				tpl_buf_addc(cx, &b, '.');
				cap = true;
			}
		}
		if (!cap)
			tpl_buf_addc(cx, &b, '.');
		if (html)
			tpl_buf_puts(cx, &b, "</p>");
	}
	struct tv r = tv_strv(tpl_buf_done(cx, &b));
	return html ? tv_markup(r) : r;
}

FN(t_filter)
{
	return tv_bool(args[0].t == TV_STR &&
		       tpl_builtin_find(args[0].s->s, args[0].s->len, TPL_FILTER) != NULL);
}

FN(t_test)
{
	return tv_bool(args[0].t == TV_STR &&
		       tpl_builtin_find(args[0].s->s, args[0].s->len, TPL_TEST) != NULL);
}

FN(t_escaped) { return tv_bool(tv_is_markup(args[0])); }

#define F TPL_FILTER
#define U TPL_FUNCTION
#define T TPL_TEST
const struct tpl_builtin tpl_collection_builtins[] = {
	{ "set", U, ha_set, 1, 1, false },
	{ "tuple", U, ha_tuple, 1, 1, false },
	{ "list", T, t_list, 1, 1, false },
	{ "set", T, t_set, 1, 1, false },
	{ "tuple", T, t_tuple, 1, 1, false },
	{ "string_like", T, t_string_like, 1, 1, false },
	{ "flatten", U | F, ha_flatten, 1, 2, false },
	{ "intersect", U | F, ha_intersect, 2, 2, false },
	{ "difference", U | F, ha_difference, 2, 2, false },
	{ "union", U | F, ha_union, 2, 2, false },
	{ "symmetric_difference", U | F, ha_symmetric_difference, 2, 2, false },
	{ "zip", U, ha_zip, 0, 64, false },
	{ "shuffle", U | F, ha_shuffle, 0, 64, false },
	{ "random", F, ha_random, 1, 1, false },
	{ "natural_sort", U | F, ha_natural_sort, 1, 4, false },
	{ "min", U, fn_min, 0, 1000, false },
	{ "max", U, fn_max, 0, 1000, false },
	{ "combine", U | F, ha_combine, 0, 64, false },
	{ "typeof", U | F, ha_typeof, 1, 1, false },
	{ "apply", U | F | T, ha_apply, 2, 64, false },
	{ "as_function", U | F, ha_as_function, 1, 1, false },
	{ "is_defined", F, ha_is_defined, 1, 1, false },
	{ "contains", F | T, ha_contains, 2, 2, false },
	{ "merge_response", U, ha_merge_response, 1, 1, false },
	{ "groupby", F, f_groupby, 2, 4, false },
	{ "slice", F, f_slice, 2, 3, false },
	{ "attr", F, f_attr, 2, 2, false },
	{ "cycler", U, fn_cycler, 0, 64, false },
	{ "joiner", U, fn_joiner, 0, 1, false },
	{ "lipsum", U, fn_lipsum, 0, 4, false },
	{ "filter", T, t_filter, 1, 1, false },
	{ "test", T, t_test, 1, 1, false },
	{ "escaped", T, t_escaped, 1, 1, false },
	{ NULL, 0, NULL, 0, 0, false },
};
#undef F
#undef U
#undef T
