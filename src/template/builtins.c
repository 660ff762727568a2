/* SPDX-License-Identifier: MIT */
/* Jinja's own filters, tests and functions (Home Assistant's live in
 * ha.c and win over these), the registry lookup, and the str methods the
 * evaluator uses. */
#include "lib/internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "lib/utf8.h"
#include "template/tpl.h"

const struct tpl_builtin *const tpl_builtin_tables[] = {
	tpl_ha_builtins, tpl_ha_time_builtins, tpl_ha_regex_builtins, tpl_ha_math_builtins,
	tpl_ha_registry_builtins, tpl_ha_location_builtins, tpl_ha_translate_builtins,
	tpl_collection_builtins, tpl_text_builtins, tpl_jinja_builtins,
	NULL,
};

const struct tpl_builtin *tpl_builtin_find(const char *name, size_t len, enum tpl_kind kind)
{
	for (const struct tpl_builtin *const *t = tpl_builtin_tables; *t; t++)
		for (const struct tpl_builtin *b = *t; b->name; b++)
			if ((b->kinds & kind) && strlen(b->name) == len && memcmp(b->name, name, len) == 0)
				return b;
	return NULL;
}

#define ARG(i, name) tpl_arg(args, nargs, kw, nkw, i, name)
#define FN(name) static struct tv name(struct tpl_ctx *cx, const struct tv *args, size_t nargs, \
				       const struct tpl_kwarg *kw, size_t nkw)

static bool argbool(const struct tv *v, bool dflt)
{
	return v ? tv_truthy(*v) : dflt;
}

static const struct tv_str *as_str(struct tpl_ctx *cx, struct tv v)
{
	return tv_to_str(cx, v);
}

/* ---- case mapping -----------------------------------------------------------
 * Python's str.lower()/upper() for ASCII, Latin-1 Supplement, Latin
 * Extended-A, the digraphs of Latin Extended-B (DŽ Dž dž), basic Greek and
 * Cyrillic, independent of the C locale. A mapping may expand ('ß'.upper()
 * is 'SS'); out holds up to 2 code points. */

/* The digraph triples U+01C4..U+01CC (upper, title, lower) and U+01F1..3:
 * the triple's first code point, or 0. */
static uint32_t cp_digraph(uint32_t c)
{
	if (c >= 0x1C4 && c <= 0x1CC)
		return 0x1C4 + (c - 0x1C4) / 3 * 3;
	return c >= 0x1F1 && c <= 0x1F3 ? 0x1F1 : 0;
}

/* a titlecase letter (Lt), neither upper nor lower */
static bool cp_is_title(uint32_t c)
{
	uint32_t b = cp_digraph(c);
	return b && c == b + 1;
}

static size_t cp_lower(uint32_t c, uint32_t out[2])
{
	uint32_t r = c;
	if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7))
		r = c + 0x20;
	else if (cp_digraph(c))
		r = cp_digraph(c) + 2;
	else if (c == 0x130) {
		out[0] = 'i';
		out[1] = 0x307;
		return 2;
	} else if ((c >= 0x100 && c <= 0x137 && c != 0x131) || (c >= 0x14A && c <= 0x177))
		r = c | 1;
	else if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
		r = (c & 1) ? c + 1 : c;
	else if (c == 0x178)
		r = 0xFF;
	else if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
		r = c + 0x20;
	else if (c == 0x386)
		r = 0x3AC;
	else if (c >= 0x388 && c <= 0x38A)
		r = c + 0x25;
	else if (c == 0x38C)
		r = 0x3CC;
	else if (c == 0x38E || c == 0x38F)
		r = c + 0x3F;
	else if (c >= 0x410 && c <= 0x42F)
		r = c + 0x20;
	else if (c >= 0x400 && c <= 0x40F)
		r = c + 0x50;
	out[0] = r;
	return 1;
}

static size_t cp_upper(uint32_t c, uint32_t out[2])
{
	uint32_t r = c;
	if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7))
		r = c - 0x20;
	else if (c == 0xDF) {
		out[0] = out[1] = 'S';
		return 2;
	} else if (c == 0x149) {
		out[0] = 0x2BC;
		out[1] = 'N';
		return 2;
	} else if (c == 0xFF)
		r = 0x178;
	else if (cp_digraph(c))
		r = cp_digraph(c);
	else if (c == 0xB5)
		r = 0x39C;
	else if (c == 0x131)
		r = 'I';
	else if (c == 0x17F)
		r = 'S';
	else if ((c >= 0x100 && c <= 0x137 && c != 0x130) || (c >= 0x14A && c <= 0x177))
		r = c & ~(uint32_t)1;
	else if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
		r = (c & 1) ? c : c - 1;
	else if (c == 0x3C2)
		r = 0x3A3;
	else if (c >= 0x3B1 && c <= 0x3C9)
		r = c - 0x20;
	else if (c == 0x3AC)
		r = 0x386;
	else if (c >= 0x3AD && c <= 0x3AF)
		r = c - 0x25;
	else if (c == 0x3CC)
		r = 0x38C;
	else if (c == 0x3CD || c == 0x3CE)
		r = c - 0x3F;
	else if (c >= 0x430 && c <= 0x44F)
		r = c - 0x20;
	else if (c >= 0x450 && c <= 0x45F)
		r = c - 0x50;
	out[0] = r;
	return 1;
}

/* str.title()'s and str.capitalize()'s mapping: 'ß' is 'Ss', 'ǆ' is 'ǅ' */
static size_t cp_title(uint32_t c, uint32_t out[2])
{
	if (c == 0xDF) {
		out[0] = 'S';
		out[1] = 's';
		return 2;
	}
	if (cp_digraph(c)) {
		out[0] = cp_digraph(c) + 1;
		return 1;
	}
	return cp_upper(c, out);
}

static bool cp_is_upper(uint32_t c)
{
	uint32_t o[2];
	return !cp_is_title(c) && (cp_lower(c, o) != 1 || o[0] != c);
}

static bool cp_is_lower(uint32_t c)
{
	uint32_t o[2];
	return c == 0xDF || c == 0x138 || c == 0x149 || c == 0x131 ||
	       (!cp_is_title(c) && (cp_upper(c, o) != 1 || o[0] != c));
}

static void utf8_put(struct tpl_ctx *cx, struct tpl_buf *b, uint32_t c)
{
	char u[4];
	tpl_buf_add(cx, b, u, utf8__encode(c, u));
}

enum case_mode {
	CASE_LOWER,
	CASE_UPPER,
	CASE_SWAP,       /* str.swapcase() */
	CASE_CAPITALIZE, /* str.capitalize(): the first upper, the rest lower */
	CASE_WORDS,      /* Jinja's title filter: words split at -, space, ( { [ < */
	CASE_PYTITLE,    /* str.title(): upper after an uncased character */
};

/* The same for ASCII text (most of it): a byte at a time. */
static inline bool ascii_letter(unsigned char c)
{
	return (unsigned)((c | 0x20) - 'a') < 26;
}

/* Jinja's title(): a word starts after '-', white space or an opening bracket */
static inline bool ascii_word_sep(unsigned char c)
{
	return c == ' ' || c == '-' || (c >= '\t' && c <= '\r') || c == '(' || c == '{' ||
	       c == '[' || c == '<';
}

static bool ascii_case(struct tpl_ctx *cx, const struct tv_str *s, enum case_mode m,
		       const struct tv_str **out)
{
	const unsigned char *p = (const unsigned char *)s->s;
	size_t n = s->len;
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 0x80)
			return false;
	struct tv_str *r = tpl_alloc(cx, sizeof *r + n + 1);
	unsigned char *q = (unsigned char *)r->s;
	bool start = true;
	switch (m) {
	case CASE_LOWER:
		for (size_t i = 0; i < n; i++)
			q[i] = p[i] >= 'A' && p[i] <= 'Z' ? p[i] | 0x20 : p[i];
		break;
	case CASE_UPPER:
		for (size_t i = 0; i < n; i++)
			q[i] = p[i] >= 'a' && p[i] <= 'z' ? p[i] & ~0x20 : p[i];
		break;
	case CASE_SWAP:
		for (size_t i = 0; i < n; i++)
			q[i] = ascii_letter(p[i]) ? p[i] ^ 0x20 : p[i];
		break;
	case CASE_CAPITALIZE:
		for (size_t i = 0; i < n; i++)
			q[i] = !ascii_letter(p[i]) ? p[i] : i ? p[i] | 0x20 : p[i] & ~0x20;
		break;
	case CASE_WORDS:
		for (size_t i = 0; i < n; i++) {
			unsigned char c = p[i];
			q[i] = !ascii_letter(c) ? c : start ? c & ~0x20 : c | 0x20;
			start = ascii_word_sep(c);
		}
		break;
	default: /* CASE_PYTITLE: upper after an uncased character */
		for (size_t i = 0; i < n; i++) {
			unsigned char c = p[i];
			bool letter = ascii_letter(c);
			q[i] = !letter ? c : start ? c & ~0x20 : c | 0x20;
			start = !letter;
		}
		break;
	}
	r->len = n;
	r->s[n] = 0;
	*out = r;
	return true;
}

static bool cp_is_cased(uint32_t c)
{
	return cp_is_lower(c) || cp_is_upper(c) || cp_is_title(c);
}

/* Python's Final_Sigma: 'Σ' at [at, end) lowers to 'ς' after a cased letter
 * and not before one (an apostrophe, the common case-ignorable, skipped) */
static bool final_sigma(const struct tv_str *s, size_t at, size_t end)
{
	const unsigned char *p = (const unsigned char *)s->s;
	uint32_t c;
	bool before = false;
	for (size_t i = at; i > 0;) {
		size_t k = i - 1;
		while (k > 0 && (p[k] & 0xC0) == 0x80)
			k--;
		if (utf8__decode(p + k, i - k, &c) != i - k)
			break;
		if (c != '\'') {
			before = cp_is_cased(c);
			break;
		}
		i = k;
	}
	if (!before)
		return false;
	for (size_t i = end; i < s->len;) {
		size_t len = utf8__decode(p + i, s->len - i, &c);
		if (!len)
			return true;
		if (c != '\'')
			return !cp_is_cased(c);
		i += len;
	}
	return true;
}

static const struct tv_str *str_case(struct tpl_ctx *cx, const struct tv_str *s, enum case_mode m)
{
	struct tpl_buf b = { 0 };
	tpl_work_n(cx, s->len, TPL_W_CHAR);
	const struct tv_str *fast;
	if (ascii_case(cx, s, m, &fast))
		return fast;
	uint32_t o[2];
	bool start = true;   /* CASE_WORDS: at a word start; CASE_PYTITLE: previous uncased */
	for (size_t i = 0; i < s->len;) {
		uint32_t c;
		size_t len = utf8__decode((const unsigned char *)s->s + i, s->len - i, &c);
		/* a byte that is not UTF-8 stays as it is, an uncased letter */
		bool bad = !len;
		if (bad) {
			len = 1;
			c = 0xfffd;
		}
		i += len;
		bool up;
		switch (m) {
		case CASE_LOWER: up = false; break;
		case CASE_UPPER: up = true; break;
		case CASE_SWAP: up = cp_is_lower(c); break;
		case CASE_CAPITALIZE: up = start; start = false; break;
		case CASE_WORDS:
			up = start;
			start = c == '-' || c == ' ' || (c >= '\t' && c <= '\r') || c == '(' ||
				c == '{' || c == '[' || c == '<';
			break;
		default: /* CASE_PYTITLE */
			up = start;
			start = !(cp_is_lower(c) || cp_is_upper(c) || cp_is_title(c));
			break;
		}
		if (bad || (m == CASE_SWAP && !up && !cp_is_upper(c))) {
			tpl_buf_add(cx, &b, s->s + i - len, len);
			continue;
		}
		size_t n;
		if (!up && c == 0x3A3 && final_sigma(s, i - len, i)) {
			o[0] = 0x3C2;
			n = 1;
		} else if (!up)
			n = cp_lower(c, o);
		else if (m == CASE_PYTITLE || m == CASE_CAPITALIZE)
			n = cp_title(c, o);
		else
			n = cp_upper(c, o);
		for (size_t k = 0; k < n; k++)
			utf8_put(cx, &b, o[k]);
	}
	return tpl_buf_done(cx, &b);
}

static struct tv str_map(struct tpl_ctx *cx, struct tv v, enum case_mode m)
{
	return tv_strv(str_case(cx, as_str(cx, v), m));
}

/* ---- filters ------------------------------------------------------------ */

FN(f_default)
{
	const struct tv *d = ARG(1, "default_value");
	bool boolean = argbool(ARG(2, "boolean"), false);
	if (args[0].t == TV_UNDEFINED || (boolean && !tv_truthy(args[0])))
		return d ? *d : tv_string(cx, "", 0);
	return args[0];
}

static int64_t length_of(struct tpl_ctx *cx, struct tv v)
{
	switch (v.t) {
	case TV_UNDEFINED: return 0;
	case TV_STR: tpl_work(cx, TPL_W_SCAN(v.s->len)); return (int64_t)tpl_utf8_len(v.s->s, v.s->len);
	case TV_LIST: return (int64_t)v.l->n;
	case TV_DICT: case TV_NAMESPACE: return (int64_t)v.d->n;
	case TV_STATE: case TV_CALLABLE: return (int64_t)tpl_iterate(cx, v).l->n;
	default: tpl_fail(cx, "object of type '%s' has no len()", tv_type_name(v));
	}
}

FN(f_length) { return tv_int(length_of(cx, args[0])); }

static struct tv copy_list(struct tpl_ctx *cx, struct tv l)
{
	return tv_list_of(cx, l.l->v, l.l->n);
}

FN(f_list) { return copy_list(cx, tpl_iterate(cx, args[0])); }

/* Items, or each item's attribute when attribute= is given. */
static struct tv items_attr(struct tpl_ctx *cx, struct tv v, const struct tv *attr)
{
	struct tv l = tpl_iterate(cx, v);
	if (!attr || attr->t == TV_NONE)
		return l;
	struct tv r = tv_list_new(cx, l.l->n);
	const struct tv_str *path = as_str(cx, *attr);
	for (size_t i = 0; i < l.l->n; i++) {
		tpl_tick(cx);
		r.l->v[r.l->n++] = tpl_getattr_path(cx, l.l->v[i], path);
	}
	return r;
}

FN(f_join)
{
	const struct tv *sep = ARG(1, "d");
	struct tv l = items_attr(cx, args[0], ARG(2, "attribute"));
	const struct tv_str *s = sep ? as_str(cx, *sep) : NULL;
	struct tpl_buf b = { 0 };
	for (size_t i = 0; i < l.l->n; i++) {
		tpl_tick(cx);
		tpl_work(cx, TPL_W_ITEM);
		if (i && s)
			tpl_buf_add(cx, &b, s->s, s->len);
		tpl_buf_str(cx, &b, l.l->v[i]);
	}
	return tv_strv(tpl_buf_done(cx, &b));
}

FN(f_lower) { return str_map(cx, args[0], CASE_LOWER); }
FN(f_upper) { return str_map(cx, args[0], CASE_UPPER); }
FN(f_title) { return str_map(cx, args[0], CASE_WORDS); }
FN(f_capitalize) { return str_map(cx, args[0], CASE_CAPITALIZE); }

static struct tv strip(struct tpl_ctx *cx, const struct tv_str *s, const struct tv *chars, bool l,
		       bool r)
{
	const char *set = " \t\n\r\f\v";
	size_t setn = 6;
	if (chars && chars->t == TV_STR) {
		set = chars->s->s;
		setn = chars->s->len;
	}
	size_t a = 0, e = s->len;
	/* each byte stripped is looked for in the set */
	uint64_t step = 1 + TPL_W_BYTES(setn);
	while (l && a < e && (tpl_work(cx, step), memchr(set, s->s[a], setn)))
		a++;
	while (r && e > a && (tpl_work(cx, step), memchr(set, s->s[e - 1], setn)))
		e--;
	return tv_string(cx, s->s + a, e - a);
}

FN(f_trim) { return strip(cx, as_str(cx, args[0]), ARG(1, "chars"), true, true); }

static struct tv replace(struct tpl_ctx *cx, const struct tv_str *s, const struct tv_str *old,
			 const struct tv_str *new, int64_t count)
{
	struct tpl_buf b = { 0 };
	size_t i = 0;
	int64_t done = 0;
	if (old->len == 0) {
		/* new before each character (not byte) and at the end, as
		 * Python's "é".replace("", "-") is "-é-" */
		while (count < 0 || done < count) {
			tpl_work(cx, 3 * TPL_W_CHAR);
			tpl_buf_add(cx, &b, new->s, new->len);
			done++;
			if (i >= s->len)
				break;
			size_t n = 1;
			while (i + n < s->len && ((unsigned char)s->s[i + n] & 0xc0) == 0x80)
				n++;
			tpl_buf_add(cx, &b, s->s + i, n);
			i += n;
		}
		tpl_buf_add(cx, &b, s->s + i, s->len - i);
		return tv_strv(tpl_buf_done(cx, &b));
	}
	while (i < s->len) {
		const char *f = (count < 0 || done < count)
			? memmem(s->s + i, s->len - i, old->s, old->len) : NULL;
		/* memmem (two-way) is linear in what it passed, and the needle */
		tpl_work(cx, 1 + TPL_W_BYTES((f ? (size_t)(f - s->s) : s->len) - i) +
			     TPL_W_BYTES(old->len));
		if (!f) {
			tpl_buf_add(cx, &b, s->s + i, s->len - i);
			break;
		}
		tpl_buf_add(cx, &b, s->s + i, (size_t)(f - s->s) - i);
		tpl_buf_add(cx, &b, new->s, new->len);
		i = (size_t)(f - s->s) + old->len;
		done++;
	}
	return tv_strv(tpl_buf_done(cx, &b));
}

FN(f_replace)
{
	const struct tv *c = ARG(3, "count");
	return replace(cx, as_str(cx, args[0]), as_str(cx, args[1]), as_str(cx, args[2]),
		       c && c->t == TV_INT ? c->i : -1);
}

FN(f_string) { return tv_strv(as_str(cx, args[0])); }

FN(f_abs)
{
	struct tv v = args[0];
	if (v.t == TV_INT) {
		if (v.i == INT64_MIN)
			tpl_fail(cx, "integer overflow");
		return tv_int(v.i < 0 ? -v.i : v.i);
	}
	if (v.t == TV_BOOL)
		return tv_int(v.b);
	if (v.t == TV_FLOAT)
		return tv_float(fabs(v.f));
	if (v.t == TV_TIMEDELTA) {
		v.td = fabs(v.td);
		return v;
	}
	tpl_check_defined(cx, v);
	tpl_fail(cx, "bad operand type for abs(): '%s'", tv_type_name(v));
}

FN(f_first)
{
	struct tv l = tpl_iterate(cx, args[0]);
	return l.l->n ? l.l->v[0] : tv_undef();
}

FN(f_last)
{
	struct tv l = tpl_iterate(cx, args[0]);
	return l.l->n ? l.l->v[l.l->n - 1] : tv_undef();
}

/* Sort keys: lower-cased strings unless case-sensitive. */
static struct tv sort_key(struct tpl_ctx *cx, struct tv v, bool cs, const struct tv_str *attr)
{
	if (attr)
		v = tpl_getattr_path(cx, v, attr);
	if (!cs && v.t == TV_STR)
		return str_map(cx, v, CASE_LOWER);
	return v;
}

struct sortctx {
	struct tpl_ctx *cx;
	const struct tv *keys;
	bool reverse;
};

static void merge_sort(struct sortctx *sc, size_t *idx, size_t *tmp, size_t n)
{
	if (n < 2)
		return;
	size_t h = n / 2;
	merge_sort(sc, idx, tmp, h);
	merge_sort(sc, idx + h, tmp, n - h);
	size_t i = 0, j = h, k = 0;
	while (i < h && j < n) {
		int c = tv_compare(sc->cx, sc->keys[idx[j]], sc->keys[idx[i]]);
		if (sc->reverse)
			c = -c;
		if (c < 0)
			tmp[k++] = idx[j++];
		else
			tmp[k++] = idx[i++];
	}
	while (i < h)
		tmp[k++] = idx[i++];
	while (j < n)
		tmp[k++] = idx[j++];
	memcpy(idx, tmp, n * sizeof *idx);
}

size_t *tpl_sort_index(struct tpl_ctx *cx, const struct tv *keys, size_t n, bool reverse)
{
	struct sortctx sc = { cx, keys, reverse };
	size_t *idx = tpl_alloc(cx, (n + 1) * sizeof *idx), *tmp = tpl_alloc(cx, (n + 1) * sizeof *idx);
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	merge_sort(&sc, idx, tmp, n);
	return idx;
}

static struct tv sorted(struct tpl_ctx *cx, struct tv l, bool reverse, bool cs,
			const struct tv *attr)
{
	size_t n = l.l->n;
	const struct tv_str *a = attr && attr->t != TV_NONE ? as_str(cx, *attr) : NULL;
	struct tv *keys = tpl_alloc(cx, (n + 1) * sizeof *keys);
	for (size_t i = 0; i < n; i++) {
		tpl_tick(cx);
		keys[i] = sort_key(cx, l.l->v[i], cs, a);
	}
	size_t *idx = tpl_sort_index(cx, keys, n, reverse);
	struct tv r = tv_list_new(cx, n);
	for (size_t i = 0; i < n; i++)
		r.l->v[i] = l.l->v[idx[i]];
	r.l->n = n;
	return r;
}

FN(f_sort)
{
	return sorted(cx, tpl_iterate(cx, args[0]), argbool(ARG(1, "reverse"), false),
		      argbool(ARG(2, "case_sensitive"), false), ARG(3, "attribute"));
}

static struct tv minmax(struct tpl_ctx *cx, const struct tv *args, size_t nargs,
			const struct tpl_kwarg *kw, size_t nkw, int sign)
{
	struct tv l = tpl_iterate(cx, args[0]);
	bool cs = argbool(ARG(1, "case_sensitive"), false);
	const struct tv *attr = ARG(2, "attribute");
	const struct tv_str *a = attr && attr->t != TV_NONE ? as_str(cx, *attr) : NULL;
	if (!l.l->n)
		return tv_undef();
	size_t best = 0;
	struct tv bk = sort_key(cx, l.l->v[0], cs, a);
	for (size_t i = 1; i < l.l->n; i++) {
		tpl_tick(cx);
		struct tv k = sort_key(cx, l.l->v[i], cs, a);
		if (tv_compare(cx, k, bk) * sign > 0) {
			best = i;
			bk = k;
		}
	}
	return l.l->v[best];
}

FN(f_min) { return minmax(cx, args, nargs, kw, nkw, -1); }
FN(f_max) { return minmax(cx, args, nargs, kw, nkw, 1); }

static struct tv add(struct tpl_ctx *cx, struct tv a, struct tv b)
{
	if (a.t == TV_INT && b.t == TV_INT) {
		int64_t r;
		if (__builtin_add_overflow(a.i, b.i, &r))
			tpl_fail(cx, "integer overflow");
		return tv_int(r);
	}
	if (tv_is_number(a) && tv_is_number(b)) {
		if (a.t != TV_FLOAT && b.t != TV_FLOAT)
			return tv_int((a.t == TV_INT ? a.i : a.b) + (b.t == TV_INT ? b.i : b.b));
		return tv_float(tv_as_double(a) + tv_as_double(b));
	}
	if (a.t == TV_LIST && b.t == TV_LIST) {
		struct tv r = copy_list(cx, a);
		for (size_t i = 0; i < b.l->n; i++)
			tv_list_push(cx, &r, b.l->v[i]);
		return r;
	}
	if (a.t == TV_TIMEDELTA && b.t == TV_TIMEDELTA) {
		a.td += b.td;
		return a;
	}
	tpl_fail(cx, "unsupported operand type(s) for +: '%s' and '%s'", tv_type_name(a),
		 tv_type_name(b));
}

FN(f_sum)
{
	struct tv l = items_attr(cx, args[0], ARG(1, "attribute"));
	const struct tv *st = ARG(2, "start");
	struct tv acc = st ? *st : tv_int(0);
	for (size_t i = 0; i < l.l->n; i++) {
		tpl_tick(cx);
		acc = add(cx, acc, l.l->v[i]);
	}
	return acc;
}

FN(f_unique)
{
	struct tv l = tpl_iterate(cx, args[0]);
	bool cs = argbool(ARG(1, "case_sensitive"), false);
	const struct tv *attr = ARG(2, "attribute");
	const struct tv_str *a = attr && attr->t != TV_NONE ? as_str(cx, *attr) : NULL;
	struct tv r = tv_list_new(cx, l.l->n), seen = tv_list_new(cx, l.l->n);
	for (size_t i = 0; i < l.l->n; i++) {
		tpl_tick(cx);
		struct tv k = sort_key(cx, l.l->v[i], cs, a);
		bool dup = false;
		for (size_t j = 0; j < seen.l->n && !dup; j++)
			dup = tv_equal(cx, seen.l->v[j], k);
		if (!dup) {
			seen.l->v[seen.l->n++] = k;
			r.l->v[r.l->n++] = l.l->v[i];
		}
	}
	return r;
}

static const struct tpl_builtin *find_named(struct tpl_ctx *cx, struct tv name, enum tpl_kind kind)
{
	if (name.t != TV_STR)
		tpl_fail(cx, "expected a %s name", kind == TPL_TEST ? "test" : "filter");
	const struct tpl_builtin *b = tpl_builtin_find(name.s->s, name.s->len, kind);
	if (!b)
		tpl_fail(cx, "no %s named '%s'", kind == TPL_TEST ? "test" : "filter", name.s->s);
	return b;
}

FN(f_map)
{
	struct tv l = tpl_iterate(cx, args[0]);
	struct tv r = tv_list_new(cx, l.l->n);
	if (nargs < 2) {
		const struct tv *attr = ARG(99, "attribute"), *dflt = ARG(99, "default");
		if (!attr)
			tpl_fail(cx, "map requires a filter name or attribute=");
		const struct tv_str *a = as_str(cx, *attr);
		for (size_t i = 0; i < l.l->n; i++) {
			tpl_tick(cx);
			struct tv v = tpl_getattr_path(cx, l.l->v[i], a);
			r.l->v[r.l->n++] = v.t == TV_UNDEFINED && dflt ? *dflt : v;
		}
		return r;
	}
	const struct tpl_builtin *f = find_named(cx, args[1], TPL_FILTER);
	struct tv a[16];
	if (nargs - 1 > 16)
		tpl_fail(cx, "too many arguments");
	for (size_t i = 2; i < nargs; i++)
		a[i - 1] = args[i];
	for (size_t i = 0; i < l.l->n; i++) {
		tpl_tick(cx);
		a[0] = l.l->v[i];
		r.l->v[r.l->n++] = tpl_call_builtin(cx, f, a, nargs - 1, kw, nkw);
	}
	return r;
}

/* select/reject (attr: NULL) and selectattr/rejectattr. */
static struct tv filter_items(struct tpl_ctx *cx, const struct tv *args, size_t nargs,
			      const struct tpl_kwarg *kw, size_t nkw, bool keep, bool by_attr)
{
	struct tv l = tpl_iterate(cx, args[0]);
	struct tv r = tv_list_new(cx, l.l->n);
	size_t first = 1;
	const struct tv_str *attr = NULL;
	if (by_attr) {
		if (nargs < 2)
			tpl_fail(cx, "missing attribute name");
		attr = as_str(cx, args[1]);
		first = 2;
	}
	const struct tpl_builtin *test = nargs > first ? find_named(cx, args[first], TPL_TEST) : NULL;
	struct tv a[16];
	if (nargs - first > 16)
		tpl_fail(cx, "too many arguments");
	for (size_t i = first + 1; i < nargs; i++)
		a[i - first] = args[i];
	for (size_t i = 0; i < l.l->n; i++) {
		tpl_tick(cx);
		struct tv v = attr ? tpl_getattr_path(cx, l.l->v[i], attr) : l.l->v[i];
		bool ok;
		if (test) {
			a[0] = v;
			ok = tv_truthy(tpl_call_builtin(cx, test, a, nargs - first, kw, nkw));
		} else {
			ok = tv_truthy(v);
		}
		if (ok == keep)
			r.l->v[r.l->n++] = l.l->v[i];
	}
	return r;
}

FN(f_select) { return filter_items(cx, args, nargs, kw, nkw, true, false); }
FN(f_reject) { return filter_items(cx, args, nargs, kw, nkw, false, false); }
FN(f_selectattr) { return filter_items(cx, args, nargs, kw, nkw, true, true); }
FN(f_rejectattr) { return filter_items(cx, args, nargs, kw, nkw, false, true); }

/* Jinja's tojson: json.dumps(sort_keys=True, indent=indent) made safe to
 * embed in HTML (htmlsafe_json_dumps). */
FN(f_tojson)
{
	const struct tv *indent = ARG(1, "indent");
	struct tpl_json_style st = { .dumps = true, .ascii = true, .html_safe = true,
				     .sort_keys = true, .indent = -1 };
	if (indent && indent->t != TV_NONE) {
		if (indent->t != TV_INT || indent->i < 0 || indent->i > 64)
			tpl_fail(cx, "tojson: indent must be an integer from 0 to 64");
		st.indent = (int)indent->i;
	}
	struct tpl_buf b = { 0 };
	tpl_json_dump(cx, &b, args[0], &st);
	return tv_strv(tpl_buf_done(cx, &b));
}

FN(f_format)
{
	struct tv l = tv_list_new(cx, nargs);
	for (size_t i = 1; i < nargs; i++)
		l.l->v[l.l->n++] = args[i];
	if (nkw) {
		struct tv d = tv_dict_new(cx, nkw);
		for (size_t i = 0; i < nkw; i++)
			tv_dict_set(cx, &d, tv_cstr(cx, kw[i].name), kw[i].v);
		return tpl_percent_format(cx, tv_strv(as_str(cx, args[0])), d);
	}
	return tpl_percent_format(cx, tv_strv(as_str(cx, args[0])), l);
}

FN(f_reverse)
{
	struct tv v = args[0];
	if (v.t == TV_LIST)
		tpl_work(cx, v.l->n);
	if (v.t == TV_STR) {
		struct tv l = tpl_iterate(cx, v);
		struct tpl_buf b = { 0 };
		for (size_t i = l.l->n; i-- > 0;)
			tpl_buf_add(cx, &b, l.l->v[i].s->s, l.l->v[i].s->len);
		return tv_strv(tpl_buf_done(cx, &b));
	}
	struct tv l = tpl_iterate(cx, v);
	struct tv r = tv_list_new(cx, l.l->n);
	for (size_t i = l.l->n; i-- > 0;)
		r.l->v[r.l->n++] = l.l->v[i];
	return r;
}

static struct tv pairs(struct tpl_ctx *cx, struct tv d)
{
	tpl_work_n(cx, d.d->n, TPL_W_ITEM * 2);
	struct tv r = tv_list_new(cx, d.d->n);
	for (size_t i = 0; i < d.d->n; i++) {
		struct tv p = tv_make_tuple(tv_list_new(cx, 2));
		p.l->v[0] = d.d->k[i];
		p.l->v[1] = d.d->v[i];
		p.l->n = 2;
		r.l->v[r.l->n++] = p;
	}
	return r;
}

FN(f_items)
{
	if (args[0].t == TV_UNDEFINED)
		return tv_list_new(cx, 0);
	if (args[0].t != TV_DICT && args[0].t != TV_NAMESPACE)
		tpl_fail(cx, "can only get item pairs from a mapping");
	return pairs(cx, args[0]);
}

FN(f_dictsort)
{
	if (args[0].t != TV_DICT)
		tpl_fail(cx, "dictsort expects a mapping");
	const struct tv *by = ARG(2, "by");
	bool byval = by && by->t == TV_STR && strcmp(by->s->s, "value") == 0;
	struct tv idx = tv_cstr(cx, byval ? "1" : "0");
	return sorted(cx, pairs(cx, args[0]), argbool(ARG(3, "reverse"), false),
		      argbool(ARG(1, "case_sensitive"), false), &idx);
}

FN(f_batch)
{
	struct tv l = tpl_iterate(cx, args[0]);
	int64_t n = args[1].t == TV_INT ? args[1].i : 0;
	const struct tv *fill = ARG(2, "fill_with");
	if (n <= 0)
		tpl_fail(cx, "batch size must be positive");
	struct tv r = tv_list_new(cx, 0), cur = tv_list_new(cx, 0);
	for (size_t i = 0; i < l.l->n; i++) {
		tpl_tick(cx);
		tv_list_push(cx, &cur, l.l->v[i]);
		if ((int64_t)cur.l->n == n) {
			tv_list_push(cx, &r, cur);
			cur = tv_list_new(cx, 0);
		}
	}
	if (cur.l->n) {
		if (fill && fill->t != TV_NONE) {
			tpl_work_n(cx, (uint64_t)n - cur.l->n, TPL_W_ITEM);
			while ((int64_t)cur.l->n < n)
				tv_list_push(cx, &cur, *fill);
		}
		tv_list_push(cx, &r, cur);
	}
	return r;
}

FN(f_center)
{
	const struct tv_str *s = as_str(cx, args[0]);
	const struct tv *w = ARG(1, "width");
	int64_t width = w && w->t == TV_INT ? w->i : 80;
	int64_t len = (int64_t)tpl_utf8_len(s->s, s->len);
	if (width <= len)
		return tv_strv(s);
	if (width > (int64_t)cx->max_output)
		tpl_fail_code(cx, -E2BIG, "output too long");
	int64_t pad = width - len, left = pad / 2 + (pad & width & 1);
	struct tpl_buf b = { 0 };
	tpl_buf_fill(cx, &b, ' ', (size_t)left);
	tpl_buf_add(cx, &b, s->s, s->len);
	tpl_buf_fill(cx, &b, ' ', (size_t)(pad - left));
	return tv_strv(tpl_buf_done(cx, &b));
}

FN(f_wordcount)
{
	const struct tv_str *s = as_str(cx, args[0]);
	tpl_work(cx, TPL_W_SCAN(s->len));
	int64_t n = 0;
	bool in = false;
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->s[i];
		bool w = isalnum(c) || c == '_' || c >= 0x80;
		if (w && !in)
			n++;
		in = w;
	}
	return tv_int(n);
}

FN(f_truncate)
{
	const struct tv_str *s = as_str(cx, args[0]);
	const struct tv *lv = ARG(1, "length"), *kwv = ARG(2, "killwords"), *ev = ARG(3, "end"),
			*lw = ARG(4, "leeway");
	int64_t length = lv && lv->t == TV_INT ? lv->i : 255;
	bool killwords = argbool(kwv, false);
	const struct tv_str *end = ev ? as_str(cx, *ev) : tpl_str(cx, "...", 3);
	int64_t leeway = lw && lw->t == TV_INT ? lw->i : 5;
	int64_t endlen = (int64_t)tpl_utf8_len(end->s, end->len);
	if (length < endlen)
		tpl_fail(cx, "expected length >= %lld, got %lld", (long long)endlen, (long long)length);
	struct tv chars = tpl_iterate(cx, tv_strv(s));
	int64_t n = (int64_t)chars.l->n;
	if (n <= length + leeway)
		return tv_strv(s);
	int64_t keep = length - endlen;
	size_t bytes = 0;
	for (int64_t i = 0; i < keep; i++)
		bytes += chars.l->v[i].s->len;
	struct tpl_buf b = { 0 };
	if (!killwords) {
		size_t cut = bytes;
		while (cut > 0 && s->s[cut - 1] != ' ')
			cut--;
		if (cut > 0)
			bytes = cut - 1;
	}
	tpl_buf_add(cx, &b, s->s, bytes);
	tpl_buf_add(cx, &b, end->s, end->len);
	return tv_strv(tpl_buf_done(cx, &b));
}

/* ---- tests -------------------------------------------------------------- */

FN(t_defined) { return tv_bool(args[0].t != TV_UNDEFINED); }
FN(t_undefined) { return tv_bool(args[0].t == TV_UNDEFINED); }
FN(t_none) { return tv_bool(args[0].t == TV_NONE); }
FN(t_number) { return tv_bool(tv_is_number(args[0])); }
FN(t_string) { return tv_bool(args[0].t == TV_STR); }
FN(t_mapping) { return tv_bool(args[0].t == TV_DICT); }
FN(t_iterable)
{
	enum tv_type t = args[0].t;
	return tv_bool(t == TV_STR || t == TV_LIST || t == TV_DICT || t == TV_UNDEFINED ||
		       t == TV_BYTES || t == TV_CALLABLE || (t == TV_STATE && tpl_state_is_domain(args[0])));
}
/* len() and indexing: not a set */
FN(t_sequence)
{
	enum tv_type t = args[0].t;
	return tv_bool(t == TV_STR || (t == TV_LIST && !tv_is_set(args[0])) || t == TV_DICT ||
		       t == TV_UNDEFINED || t == TV_BYTES);
}
FN(t_integer) { return tv_bool(args[0].t == TV_INT); }
FN(t_float) { return tv_bool(args[0].t == TV_FLOAT); }
FN(t_boolean) { return tv_bool(args[0].t == TV_BOOL); }
FN(t_true) { return tv_bool(args[0].t == TV_BOOL && args[0].b); }
FN(t_false) { return tv_bool(args[0].t == TV_BOOL && !args[0].b); }
FN(t_eq) { return tv_bool(tv_equal(cx, args[0], args[1])); }
FN(t_ne) { return tv_bool(!tv_equal(cx, args[0], args[1])); }
FN(t_lt) { return tv_bool(tv_compare_op(cx, args[0], args[1], "<") < 0); }
FN(t_le) { return tv_bool(tv_compare_op(cx, args[0], args[1], "<=") <= 0); }
FN(t_gt) { return tv_bool(tv_compare_op(cx, args[0], args[1], ">") > 0); }
FN(t_ge) { return tv_bool(tv_compare_op(cx, args[0], args[1], ">=") >= 0); }
FN(t_in)
{
	struct tv h = args[1], n = args[0];
	if (h.t == TV_STR) {
		if (n.t != TV_STR)
			tpl_fail(cx, "'in <string>' requires string as left operand");
		tpl_work(cx, TPL_W_BYTES(h.s->len) + n.s->len);
		return tv_bool(memmem(h.s->s, h.s->len, n.s->s, n.s->len) != NULL || !n.s->len);
	}
	if (h.t == TV_DICT)
		return tv_bool(tv_dict_get(cx, &h, n) != NULL);
	struct tv l = tpl_iterate(cx, h);
	for (size_t i = 0; i < l.l->n; i++)
		if (tv_equal(cx, l.l->v[i], n))
			return tv_bool(true);
	return tv_bool(false);
}

static int64_t need_int(struct tpl_ctx *cx, struct tv v)
{
	if (v.t == TV_INT)
		return v.i;
	if (v.t == TV_BOOL)
		return v.b;
	tpl_check_defined(cx, v);
	tpl_fail(cx, "expected an integer, got '%s'", tv_type_name(v));
}

FN(t_even)
{
	if (args[0].t == TV_FLOAT)
		return tv_bool(fmod(args[0].f, 2) == 0);
	return tv_bool(need_int(cx, args[0]) % 2 == 0);
}
FN(t_odd)
{
	if (args[0].t == TV_FLOAT)
		return tv_bool(fabs(fmod(args[0].f, 2)) == 1);
	return tv_bool(need_int(cx, args[0]) % 2 != 0);
}
FN(t_divisibleby)
{
	int64_t d = need_int(cx, args[1]);
	if (d == 0)
		tpl_fail(cx, "integer division or modulo by zero");
	if (d == -1)
		return tv_bool(true);
	return tv_bool(need_int(cx, args[0]) % d == 0);
}
static struct tv case_test(struct tpl_ctx *cx, struct tv v, bool upper)
{
	if (v.t != TV_STR)
		return tv_bool(false);
	tpl_work(cx, TPL_W_SCAN(v.s->len));
	bool cased = false;
	for (size_t i = 0; i < v.s->len;) {
		uint32_t c;
		size_t len = utf8__decode((const unsigned char *)v.s->s + i, v.s->len - i, &c);
		if (!len) {  /* not UTF-8: uncased */
			i++;
			continue;
		}
		i += len;
		bool lo = cp_is_lower(c), up = cp_is_upper(c);
		/* str.isupper(): no lower nor titlecase letter, and some cased */
		if (cp_is_title(c) || (upper ? lo : up))
			return tv_bool(false);
		cased |= lo || up;
	}
	return tv_bool(cased);
}
FN(t_lower) { return case_test(cx, args[0], false); }
FN(t_upper) { return case_test(cx, args[0], true); }
FN(t_callable) { return tv_bool(tpl_is_callable(args[0])); }
FN(t_sameas)
{
	struct tv a = args[0], b = args[1];
	if (a.t != b.t)
		return tv_bool(false);
	if (a.t == TV_NONE || a.t == TV_UNDEFINED)
		return tv_bool(true);
	if (a.t == TV_BOOL)
		return tv_bool(a.b == b.b);
	return tv_bool(a.p == b.p);
}

/* ---- functions ---------------------------------------------------------- */

FN(fn_range)
{
	int64_t start = 0, stop, step = 1;
	if (nargs == 1) {
		stop = need_int(cx, args[0]);
	} else {
		start = need_int(cx, args[0]);
		stop = need_int(cx, args[1]);
		if (nargs > 2)
			step = need_int(cx, args[2]);
	}
	if (step == 0)
		tpl_fail(cx, "range() arg 3 must not be zero");
	struct tv l = tv_list_new(cx, 0);
	for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
		tpl_tick(cx);
		tv_list_push(cx, &l, tv_int(i));
		if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step))
			break;
	}
	return l;
}

FN(fn_dict)
{
	struct tv d = tv_dict_new(cx, nkw);
	if (nargs == 1) {
		if (args[0].t == TV_DICT) {
			for (size_t i = 0; i < args[0].d->n; i++)
				tv_dict_set(cx, &d, args[0].d->k[i], args[0].d->v[i]);
		} else {
			struct tv l = tpl_iterate(cx, args[0]);
			for (size_t i = 0; i < l.l->n; i++) {
				struct tv p = l.l->v[i];
				if (p.t != TV_LIST || p.l->n != 2)
					tpl_fail(cx, "dictionary update sequence element has wrong length");
				tv_dict_set(cx, &d, p.l->v[0], p.l->v[1]);
			}
		}
	}
	for (size_t i = 0; i < nkw; i++)
		tv_dict_set(cx, &d, tv_cstr(cx, kw[i].name), kw[i].v);
	return d;
}

FN(fn_namespace)
{
	struct tv d = fn_dict(cx, args, nargs, kw, nkw);
	d.t = TV_NAMESPACE;
	return d;
}

#define F(n, fn, lo, hi) { n, TPL_FILTER, fn, lo, hi, false }
#define T(n, fn, lo, hi) { n, TPL_TEST, fn, lo, hi, false }
const struct tpl_builtin tpl_jinja_builtins[] = {
	F("default", f_default, 1, 3), F("d", f_default, 1, 3),
	F("length", f_length, 1, 1), F("count", f_length, 1, 1),
	F("list", f_list, 1, 1), F("join", f_join, 1, 3),
	F("lower", f_lower, 1, 1), F("upper", f_upper, 1, 1), F("title", f_title, 1, 1),
	F("capitalize", f_capitalize, 1, 1), F("trim", f_trim, 1, 2),
	F("replace", f_replace, 3, 4), F("string", f_string, 1, 1),
	F("abs", f_abs, 1, 1), F("first", f_first, 1, 1), F("last", f_last, 1, 1),
	F("min", f_min, 1, 3), F("max", f_max, 1, 3), F("sum", f_sum, 1, 3),
	F("sort", f_sort, 1, 4), F("unique", f_unique, 1, 3),
	F("map", f_map, 1, 16), F("select", f_select, 1, 16), F("reject", f_reject, 1, 16),
	F("selectattr", f_selectattr, 2, 16), F("rejectattr", f_rejectattr, 2, 16),
	F("tojson", f_tojson, 1, 2), F("format", f_format, 1, 32),
	F("reverse", f_reverse, 1, 1), F("dictsort", f_dictsort, 1, 4),
	F("items", f_items, 1, 1), F("batch", f_batch, 2, 3), F("center", f_center, 1, 2),
	F("wordcount", f_wordcount, 1, 1), F("truncate", f_truncate, 1, 5),
	T("defined", t_defined, 1, 1), T("undefined", t_undefined, 1, 1),
	T("none", t_none, 1, 1), T("number", t_number, 1, 1), T("string", t_string, 1, 1),
	T("mapping", t_mapping, 1, 1), T("iterable", t_iterable, 1, 1),
	T("sequence", t_sequence, 1, 1), T("integer", t_integer, 1, 1),
	T("float", t_float, 1, 1), T("boolean", t_boolean, 1, 1), T("true", t_true, 1, 1),
	T("false", t_false, 1, 1),
	T("eq", t_eq, 2, 2), T("==", t_eq, 2, 2), T("equalto", t_eq, 2, 2),
	T("ne", t_ne, 2, 2), T("!=", t_ne, 2, 2),
	T("lt", t_lt, 2, 2), T("<", t_lt, 2, 2), T("lessthan", t_lt, 2, 2),
	T("le", t_le, 2, 2), T("<=", t_le, 2, 2),
	T("gt", t_gt, 2, 2), T(">", t_gt, 2, 2), T("greaterthan", t_gt, 2, 2),
	T("ge", t_ge, 2, 2), T(">=", t_ge, 2, 2),
	T("in", t_in, 2, 2), T("even", t_even, 1, 1), T("odd", t_odd, 1, 1),
	T("divisibleby", t_divisibleby, 2, 2), T("lower", t_lower, 1, 1),
	T("upper", t_upper, 1, 1), T("callable", t_callable, 1, 1), T("sameas", t_sameas, 2, 2),
	{ "range", TPL_FUNCTION, fn_range, 1, 3, false },
	{ "dict", TPL_FUNCTION, fn_dict, 0, 1, false },
	{ "namespace", TPL_FUNCTION, fn_namespace, 0, 1, false },
	{ NULL, 0, NULL, 0, 0, false },
};

/* The last occurrence of needle (m > 0 bytes) in hay[0..end), or -1. It
 * compares by hand from the end back, to charge each place with the bytes
 * it really compared: a backward memmem would be O(end * m) on "aaa...". */
static ssize_t last_index(struct tpl_ctx *cx, const char *hay, size_t end, const char *needle,
			  size_t m)
{
	if (m > end)
		return -1;
	for (size_t k = end - m + 1; k-- > 0;) {
		size_t j = 0;
		while (j < m && hay[k + j] == needle[j])
			j++;
		tpl_work(cx, 1 + TPL_W_SCAN(j));
		if (j == m)
			return (ssize_t)k;
	}
	return -1;
}

static struct tv split(struct tpl_ctx *cx, const struct tv_str *s, const struct tv *sepv,
		       int64_t maxsplit, bool right)
{
	struct tv l = tv_list_new(cx, 4);
	const char *p = s->s;
	size_t n = s->len;
	if (!sepv || sepv->t == TV_NONE) {
		/* runs of whitespace; leading/trailing ignored: at most a
		 * string for every other byte */
		tpl_work(cx, (uint64_t)n * 2 * TPL_W_CHAR);
		struct tv parts = tv_list_new(cx, 4);
		size_t i = 0;
		if (!right) {
			while (i < n) {
				while (i < n && isspace((unsigned char)p[i]))
					i++;
				if (i >= n)
					break;
				size_t st = i;
				if (maxsplit >= 0 && (int64_t)parts.l->n == maxsplit) {
					size_t e = n;
					while (e > st && isspace((unsigned char)p[e - 1]))
						e--;
					tv_list_push(cx, &parts, tv_string(cx, p + st, e - st));
					break;
				}
				while (i < n && !isspace((unsigned char)p[i]))
					i++;
				tv_list_push(cx, &parts, tv_string(cx, p + st, i - st));
			}
			return parts;
		}
		size_t e = n;
		while (e > 0) {
			while (e > 0 && isspace((unsigned char)p[e - 1]))
				e--;
			if (!e)
				break;
			size_t en = e;
			if (maxsplit >= 0 && (int64_t)parts.l->n == maxsplit) {
				size_t st = 0;
				while (st < en && isspace((unsigned char)p[st]))
					st++;
				tv_list_push(cx, &parts, tv_string(cx, p + st, en - st));
				break;
			}
			while (e > 0 && !isspace((unsigned char)p[e - 1]))
				e--;
			tv_list_push(cx, &parts, tv_string(cx, p + e, en - e));
		}
		for (size_t a = 0, z = parts.l->n; a < z / 2; a++) {
			struct tv t = parts.l->v[a];
			parts.l->v[a] = parts.l->v[z - 1 - a];
			parts.l->v[z - 1 - a] = t;
		}
		return parts;
	}
	const struct tv_str *sep = tv_to_str(cx, *sepv);
	if (!sep->len)
		tpl_fail(cx, "empty separator");
	if (!right) {
		size_t i = 0;
		int64_t done = 0;
		for (;;) {
			const char *f = (maxsplit < 0 || done < maxsplit)
				? memmem(p + i, n - i, sep->s, sep->len) : NULL;
			tpl_work(cx, TPL_W_BYTES((f ? (size_t)(f - p) : n) - i) + TPL_W_BYTES(sep->len));
			if (!f) {
				tv_list_push(cx, &l, tv_string(cx, p + i, n - i));
				return l;
			}
			tv_list_push(cx, &l, tv_string(cx, p + i, (size_t)(f - p) - i));
			i = (size_t)(f - p) + sep->len;
			done++;
		}
	}
	/* rsplit with a separator */
	size_t e = n;
	int64_t done = 0;
	struct tv rev = tv_list_new(cx, 4);
	for (;;) {
		ssize_t found = -1;
		if (maxsplit < 0 || done < maxsplit)
			found = last_index(cx, p, e, sep->s, sep->len);
		if (found < 0) {
			tv_list_push(cx, &rev, tv_string(cx, p, e));
			break;
		}
		tv_list_push(cx, &rev, tv_string(cx, p + found + sep->len, e - (size_t)found - sep->len));
		e = (size_t)found;
		done++;
	}
	for (size_t k = rev.l->n; k-- > 0;)
		tv_list_push(cx, &l, rev.l->v[k]);
	return l;
}

static bool affix(struct tpl_ctx *cx, const struct tv_str *s, struct tv a, bool end)
{
	if (a.t == TV_LIST) {
		for (size_t i = 0; i < a.l->n; i++)
			if (affix(cx, s, a.l->v[i], end))
				return true;
		return false;
	}
	if (a.t != TV_STR)
		tpl_fail(cx, "%swith first arg must be str or a tuple of str", end ? "ends" : "starts");
	if (a.s->len > s->len)
		return false;
	tpl_work(cx, 1 + TPL_W_BYTES(a.s->len));
	return memcmp(s->s + (end ? s->len - a.s->len : 0), a.s->s, a.s->len) == 0;
}

static struct tv classify(struct tpl_ctx *cx, const struct tv_str *s, int (*f)(int))
{
	if (!s->len)
		return tv_bool(false);
	tpl_work(cx, TPL_W_SCAN(s->len));
	for (size_t i = 0; i < s->len; i++)
		if (!f((unsigned char)s->s[i]))
			return tv_bool(false);
	return tv_bool(true);
}

bool tpl_str_has_method(const char *name, size_t len)
{
	static const char *const names[] = {
		"lower", "upper", "swapcase", "capitalize", "title", "strip", "lstrip", "rstrip",
		"split", "rsplit", "replace", "startswith", "endswith", "find", "rfind", "index",
		"count", "join", "format", "isdigit", "isnumeric", "isdecimal", "isalpha", "isalnum",
		"isspace", "islower", "isupper", "zfill",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (tpl_name_is(name, len, names[i]))
			return true;
	return false;
}

struct tv tpl_str_method(struct tpl_ctx *cx, struct tv sv, const char *m, const struct tv *args,
			 size_t nargs, const struct tpl_kwarg *kw, size_t nkw)
{
	const struct tv_str *s = sv.s;
	const struct tv *a0 = ARG(0, "x"), *a1 = ARG(1, "y");
	if (!strcmp(m, "lower"))
		return str_map(cx, sv, CASE_LOWER);
	if (!strcmp(m, "upper"))
		return str_map(cx, sv, CASE_UPPER);
	if (!strcmp(m, "swapcase"))
		return str_map(cx, sv, CASE_SWAP);
	if (!strcmp(m, "capitalize"))
		return str_map(cx, sv, CASE_CAPITALIZE);
	if (!strcmp(m, "title"))
		return str_map(cx, sv, CASE_PYTITLE);
	if (!strcmp(m, "strip") || !strcmp(m, "lstrip") || !strcmp(m, "rstrip"))
		return strip(cx, s, a0, m[0] != 'r', m[0] != 'l');
	if (!strcmp(m, "split") || !strcmp(m, "rsplit")) {
		const struct tv *sep = ARG(0, "sep"), *ms = ARG(1, "maxsplit");
		return split(cx, s, sep, ms && ms->t == TV_INT ? ms->i : -1, m[0] == 'r');
	}
	if (!strcmp(m, "replace") && nargs >= 2) {
		const struct tv *c = ARG(2, "count");
		return replace(cx, s, tv_to_str(cx, args[0]), tv_to_str(cx, args[1]),
			       c && c->t == TV_INT ? c->i : -1);
	}
	if ((!strcmp(m, "startswith") || !strcmp(m, "endswith")) && a0)
		return tv_bool(affix(cx, s, *a0, m[0] == 'e'));
	if ((!strcmp(m, "find") || !strcmp(m, "rfind") || !strcmp(m, "index")) && a0 &&
	    a0->t == TV_STR) {
		ssize_t pos = -1;
		if (m[0] == 'r') {
			pos = a0->s->len ? last_index(cx, s->s, s->len, a0->s->s, a0->s->len)
					 : (ssize_t)s->len;
		} else {
			tpl_work(cx, TPL_W_BYTES(s->len) + TPL_W_BYTES(a0->s->len));
			const char *f = memmem(s->s, s->len, a0->s->s, a0->s->len);
			pos = f ? f - s->s : (a0->s->len ? -1 : 0);
		}
		if (pos < 0 && m[0] == 'i')
			tpl_fail(cx, "substring not found");
		return tv_int(pos < 0 ? -1 : (int64_t)tpl_utf8_len(s->s, (size_t)pos));
	}
	if (!strcmp(m, "count") && a0 && a0->t == TV_STR) {
		if (!a0->s->len)
			return tv_int((int64_t)tpl_utf8_len(s->s, s->len) + 1);
		int64_t c = 0;
		const char *p = s->s, *e = s->s + s->len;
		tpl_work(cx, TPL_W_BYTES(s->len) + TPL_W_BYTES(a0->s->len));
		while ((p = memmem(p, (size_t)(e - p), a0->s->s, a0->s->len))) {
			tpl_work(cx, 4 + TPL_W_BYTES(a0->s->len));
			c++;
			p += a0->s->len;
		}
		return tv_int(c);
	}
	if (!strcmp(m, "join") && a0) {
		struct tv l = tpl_iterate(cx, *a0);
		struct tpl_buf b = { 0 };
		for (size_t i = 0; i < l.l->n; i++) {
			if (l.l->v[i].t != TV_STR)
				tpl_fail(cx, "sequence item %zu: expected str instance, %s found", i,
					 tv_type_name(l.l->v[i]));
			if (i)
				tpl_buf_add(cx, &b, s->s, s->len);
			tpl_buf_add(cx, &b, l.l->v[i].s->s, l.l->v[i].s->len);
		}
		return tv_strv(tpl_buf_done(cx, &b));
	}
	if (!strcmp(m, "format"))
		return tpl_str_format(cx, s, args, nargs, kw, nkw);
	if (!strcmp(m, "isdigit") || !strcmp(m, "isnumeric") || !strcmp(m, "isdecimal"))
		return classify(cx, s, isdigit);
	if (!strcmp(m, "isalpha"))
		return classify(cx, s, isalpha);
	if (!strcmp(m, "isalnum"))
		return classify(cx, s, isalnum);
	if (!strcmp(m, "isspace"))
		return classify(cx, s, isspace);
	if (!strcmp(m, "islower"))
		return case_test(cx, sv, false);
	if (!strcmp(m, "isupper"))
		return case_test(cx, sv, true);
	if (!strcmp(m, "zfill") && a0 && a0->t == TV_INT) {
		int64_t len = (int64_t)tpl_utf8_len(s->s, s->len);
		if (a0->i <= len)
			return sv;
		if (a0->i > (int64_t)cx->max_output)
			tpl_fail_code(cx, -E2BIG, "output too long");
		struct tpl_buf b = { 0 };
		size_t st = 0;
		if (s->len && (s->s[0] == '-' || s->s[0] == '+')) {
			tpl_buf_addc(cx, &b, s->s[0]);
			st = 1;
		}
		tpl_buf_fill(cx, &b, '0', (size_t)(a0->i - len));
		tpl_buf_add(cx, &b, s->s + st, s->len - st);
		return tv_strv(tpl_buf_done(cx, &b));
	}
	(void)a1;
	tpl_fail(cx, "'str' object has no attribute '%s'", m);
}
