/* SPDX-License-Identifier: MIT */
/* JSON both ways: tojson and to_json write values as JSON text (at the
 * end), and value_json is parsed without jansson: a JSON text (RFC 8259)
 * parsed straight into the render's arena values, with the results Python's json.loads gives
 * (objects become insertion-ordered dicts whose duplicate keys keep their
 * first position and their last value; integers ints, reals floats).
 *
 * One pass, recursive descent bounded at JSON_MAX_DEPTH. The members of
 * the containers being parsed wait on a scratch stack (on the C stack, then
 * the arena) so each list or dict is allocated once, at its exact size; the
 * stack's abandoned copies stay in the arena until the render ends, so a
 * huge flat array takes up to three times its list's size. Strings are
 * scanned for their end 8 bytes at a time while plain ASCII (UTF-8 and
 * control characters checked on the way) and copied; only those holding
 * escapes take a second, decoding pass. Numbers are read into a 64-bit
 * mantissa: integers that fit int64 and reals Clinger's fast path covers
 * need no strtod. The work is linear in len (dicts with many keys find
 * duplicates by hashing), and nothing is read at or past text + len. */
#include "lib/internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "lib/json.h"
#include "lib/utf8.h"
#include "template/tpl.h"

/* tpl_json_parse (declared in tpl.h) parses text[0..len) as one JSON
 * value (RFC 8259, whitespace around it allowed) into arena values. Memory
 * is tpl_alloc's: running out ends the render as it does (-ENOMEM, or
 * -E2BIG past the render's bound). */

#define JSON_MAX_DEPTH 64   /* nested arrays and objects; deeper is rejected */
#define JSON_STACK0 32      /* scratch entries on the C stack before the arena */
#define JSON_DEDUP_SCAN 16  /* dicts up to this many members find duplicates by scanning */

typedef const unsigned char *cur;  /* where parsing is; NULL: not JSON */

struct jp {
	struct tpl_ctx *cx;
	cur end;
	struct tv *stk;     /* members of the open containers (dicts: key, value, ...) */
	size_t sp, cap;
	unsigned depth;
	bool skip;    /* checked only, no values made (tpl_json_member) */
	bool escaped; /* a string with escapes was seen (string_slow) */
};

/* Bytes inside a string: 0 plain ASCII, 1 '"', 2 '\\', 3 a control
 * character, 4 the lead of a UTF-8 sequence (or an invalid byte). */
#define C3 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3
#define C0 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define C4 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4
static const unsigned char str_class[256] = {
	C3, C3,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x20: '"' at 0x22 */
	C0, C0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,  /* 0x50: '\\' at 0x5c */
	C0, C0,
	C4, C4, C4, C4, C4, C4, C4, C4,
};
#undef C0
#undef C3
#undef C4

static inline bool is_ws(unsigned c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline cur skip_ws(cur p, cur end)
{
	if (p < end && *p <= ' ') { /* most tokens follow no whitespace ... */
		if (*p == ' ' && end - p > 1 && p[1] > ' ')
			return p + 1; /* ... or one space */
		while (p < end && is_ws(*p))
			p++;
	}
	return p;
}

/* A value's type, with the word it shares (utcoffset) zeroed in the same
 * store: copies load values a word at a time, and a load that needs two
 * stores waits for them to land. Its payload is stored on its own. */
static inline void set_type(struct tv *out, enum tv_type t)
{
	out->t = t;
	out->utcoffset = 0;
}

/* tpl_alloc's fast path inline (a payload's values are many small
 * allocations); the slow path and its failure are tpl_alloc's. */
static inline void *arena_alloc(struct tpl_ctx *cx, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if ((size_t)(cx->end - cx->cur) >= n) {
		void *r = cx->cur;
		cx->cur += n;
		return r;
	}
	return tpl_alloc(cx, n);
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* Nonzero when one of the 8 bytes in v needs a look in a string: below
 * 0x20, '"', '\\' or non-ASCII, the lowest set bit marking the first.
 * A byte below 0x80 gets its high bit from x - ONES * n only when it is
 * below n, and then borrows from the bytes above it only; bytes from 0x80
 * up are marked by v itself and borrow nothing. */
static inline uint64_t str_special(uint64_t v)
{
	uint64_t q = v ^ (ONES * '"'), b = v ^ (ONES * '\\');
	return (v | (v - ONES * 0x20) | (q - ONES) | (b - ONES)) & HIGHS;
}

static void stack_grow(struct jp *j)
{
	size_t cap = j->cap * 2;
	struct tv *s = tpl_alloc(j->cx, cap * sizeof *s);
	memcpy(s, j->stk, j->sp * sizeof *s);
	j->stk = s;
	j->cap = cap;
}

/* Room for n more entries on the scratch stack; their index. */
static inline size_t reserve(struct jp *j, size_t n)
{
	while (j->cap - j->sp < n)
		stack_grow(j);
	size_t i = j->sp;
	j->sp += n;
	return i;
}

static int hex4(const unsigned char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = p[i];
		int d;
		if (c >= '0' && c <= '9')
			d = (int)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (int)((c | 0x20) - 'a' + 10);
		else
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* Decode s[0..n) (the body of a string holding escapes, its UTF-8 already
 * checked) into o; the length written, or (size_t)-1 for a bad escape. The
 * result is never longer than n. */
static size_t unescape(const unsigned char *s, size_t n, char *o)
{
	const unsigned char *end = s + n;
	char *o0 = o;
	while (s < end) {
		if (*s != '\\') {
			*o++ = (char)*s++;
			continue;
		}
		/* the scan guaranteed a byte after each backslash */
		unsigned c = s[1];
		s += 2;
		switch (c) {
		case '"': *o++ = '"'; continue;
		case '\\': *o++ = '\\'; continue;
		case '/': *o++ = '/'; continue;
		case 'b': *o++ = '\b'; continue;
		case 'f': *o++ = '\f'; continue;
		case 'n': *o++ = '\n'; continue;
		case 'r': *o++ = '\r'; continue;
		case 't': *o++ = '\t'; continue;
		case 'u': break;
		default: return (size_t)-1;
		}
		if (end - s < 4)
			return (size_t)-1;
		int h = hex4(s);
		if (h < 0)
			return (size_t)-1;
		s += 4;
		uint32_t cp = (uint32_t)h;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return (size_t)-1; /* a lone low surrogate */
		if (cp >= 0xd800 && cp <= 0xdbff) {
			/* a high surrogate needs \uDC00..\uDFFF right after it
			 * (Python would keep a lone one; jansson rejects it) */
			if (end - s < 6 || s[0] != '\\' || s[1] != 'u')
				return (size_t)-1;
			int l = hex4(s + 2);
			if (l < 0xdc00 || l > 0xdfff)
				return (size_t)-1;
			s += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)l - 0xdc00);
		}
		/* \u0000 is kept: a string is a length and bytes (JSON_ALLOW_NUL) */
		o += utf8__encode(cp, o);
	}
	return (size_t)(o - o0);
}

/* The rest of a string from p, the first byte past s (its body's start)
 * that is not plain ASCII: escapes, UTF-8 and control characters. */
static cur string_slow(struct jp *j, cur s, cur p, struct tv *out)
{
	cur end = j->end;
	bool escapes = false;
	for (;;) {
		while (p < end && !str_class[*p])
			p++;
		if (p >= end)
			return NULL; /* unterminated */
		switch (str_class[*p]) {
		case 1:
			goto closed;
		case 2:
			if (end - p < 2)
				return NULL;
			escapes = true;
			p += 2; /* the escape itself is checked when decoding */
			continue;
		case 3:
			return NULL; /* a raw control character */
		default: {
			uint32_t cp;
			size_t n = utf8__decode(p, (size_t)(end - p), &cp);
			if (!n)
				return NULL;
			p += n;
		}
		}
	}
closed:;
	j->escaped |= escapes;
	if (j->skip && !escapes)
		return p + 1;
	size_t n = (size_t)(p - s);
	struct tv_str *r = arena_alloc(j->cx, sizeof *r + n + 1);
	if (escapes) {
		n = unescape(s, n, r->s);
		if (n == (size_t)-1)
			return NULL;
	} else {
		memcpy(r->s, s, n);
	}
	r->len = n;
	r->s[n] = 0;
	set_type(out, TV_STR);
	out->s = r;
	return p + 1;
}

/* The first byte from p on that a string must look at (below 0x20, '"',
 * '\\' or from 0x80 up), or end: plain ASCII 16 bytes at a time (SSE2:
 * one signed comparison finds both the control characters and the bytes
 * from 0x80 up), else 8, then byte by byte. */
static inline __attribute__((always_inline)) cur str_scan(cur p, cur end)
{
#ifdef __SSE2__
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i m = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
					 _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
						      _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);
		if (bits)
			return p + __builtin_ctz(bits);
		p += 16;
	}
#endif
	for (;;) {
		if (end - p < 8) {
			while (p < end && !str_class[*p])
				p++;
			return p;
		}
		uint64_t m = str_special(load64(p));
		if (m) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return p + (__builtin_ctzll(m) >> 3);
#else
			while (!str_class[*p])
				p++;
			return p;
#endif
		}
		p += 8;
	}
}

/* p at the opening quote; past the closing one, or NULL. */
static inline __attribute__((always_inline)) cur parse_string(struct jp *j, cur p, struct tv *out)
{
	cur s = ++p, end = j->end;
	p = str_scan(p, end);
	if (p >= end || *p != '"')
		return string_slow(j, s, p, out);
	if (j->skip)
		return p + 1;
	size_t n = (size_t)(p - s);
	struct tv_str *r;
	if (n < 16 && end - s >= 16) {
		/* most keys and short values: 16 bytes in one copy */
		r = arena_alloc(j->cx, sizeof *r + 16);
		memcpy(r->s, s, 16);
	} else {
		size_t room = (n + 8) & ~(size_t)7; /* n + 1 up to 8s */
		r = arena_alloc(j->cx, sizeof *r + room);
		/* short strings by words: room >= n rounded up to 8 */
		if (n <= 32 && (size_t)(end - s) >= room) {
			for (size_t i = 0; i < n; i += 8)
				memcpy(r->s + i, s + i, 8);
		} else {
			memcpy(r->s, s, n);
		}
	}
	r->len = n;
	r->s[n] = 0;
	set_type(out, TV_STR);
	out->s = r;
	return p + 1;
}

static inline bool is_digit(cur p, cur end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* Numbers go straight into their slot, a word at a time (see set_type):
 * a value built on the stack and then copied made the copy wait. */
static inline void set_int(struct tv *out, int64_t i)
{
	set_type(out, TV_INT);
	out->i = i;
}

static inline void set_float(struct tv *out, double f)
{
	set_type(out, TV_FLOAT);
	out->f = f;
}

#if FLT_EVAL_METHOD == 0
/* Powers of ten a double holds exactly (5^22 < 2^53), for the fast paths,
 * which x87's excess precision (i386) rules out. */
static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};
#endif

/* Numbers as Python's json.loads reads them: without a fraction or an
 * exponent an int, else a float correctly rounded (1e999 is inf, as in
 * Python). Python's ints are unbounded; an integer outside int64 becomes
 * the nearest double here (Python keeps it exact; jansson refused the whole
 * payload). Python also refuses integers of more than 4300 digits, which
 * become inf here. NaN and Infinity, which json.loads accepts, are not JSON
 * and are rejected, as jansson did. */
static __attribute__((noinline)) cur number_slow(struct jp *j, cur p, struct tv *out)
{
	cur start = p, end = j->end;
	bool neg = false, isint = true, exact = true;
	uint64_t m = 0;  /* the significant digits, up to 19 */
	int nd = 0;      /* how many are in m (leading zeros do not count) */
	int e10 = 0;     /* value = m * 10^e10 while exact */
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!is_digit(p, end))
		return NULL;
	if (*p == '0') {
		p++;
	} else {
		do {
			if (nd < 19) {
				m = m * 10 + (unsigned)(*p - '0');
				nd++;
			} else {
				exact = false;
			}
			p++;
		} while (is_digit(p, end));
	}
	if (p < end && *p == '.') {
		isint = false;
		p++;
		if (!is_digit(p, end))
			return NULL;
		do {
			/* leading zeros do not fill m; past 19 digits (or 1000
			 * leading zeros) only zeros keep the value exact */
			if (nd < 19 && e10 > -1000) {
				m = m * 10 + (unsigned)(*p - '0');
				nd += m != 0;
				e10--;
			} else if (*p != '0') {
				exact = false;
			}
			p++;
		} while (is_digit(p, end));
	}
	if (p < end && (*p | 0x20) == 'e') {
		isint = false;
		p++;
		bool eneg = false;
		if (p < end && (*p == '+' || *p == '-')) {
			eneg = *p == '-';
			p++;
		}
		if (!is_digit(p, end))
			return NULL;
		int ev = 0;
		do {
			if (ev < 100000)
				ev = ev * 10 + (*p - '0');
			p++;
		} while (is_digit(p, end));
		e10 += eneg ? -ev : ev;
	}
	if (isint && exact) {
		if (!neg && m <= (uint64_t)INT64_MAX) {
			set_int(out, (int64_t)m);
			return p;
		}
		if (neg && m <= (uint64_t)INT64_MAX + 1) {
			set_int(out, m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m);
			return p;
		}
	}
#if FLT_EVAL_METHOD == 0
	/* Clinger's fast path: m and 10^|e10| are exact doubles, so one
	 * correctly rounded multiplication or division is what strtod gives. */
	if (exact && m <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
		double d = (double)m;
		if (m)
			d = e10 < 0 ? d / pow10_exact[-e10] : d * pow10_exact[e10];
		set_float(out, neg ? -d : d);
		return p;
	}
#endif
	/* strtod on a copy: the text need not be NUL-terminated. (It reads the
	 * locale's decimal point, as the engine's other strtod calls do; the
	 * daemon stays in the C locale.) */
	size_t n = (size_t)(p - start);
	char buf[64];
	char *b = n < sizeof buf ? buf : tpl_alloc(j->cx, n + 1);
	memcpy(b, start, n);
	b[n] = 0;
	set_float(out, strtod(b, NULL));
	return p;
}

/* The common short numbers (up to 18 integer digits, 19 digits in all,
 * no exponent) in one pass; anything else from the start by number_slow. */
static inline __attribute__((always_inline)) cur parse_number(struct jp *j, cur p, struct tv *out)
{
	cur s = p, end = j->end;
	bool neg = *p == '-';
	p += neg;
	if (p >= end || (unsigned)(*p - '0') > 9)
		return NULL;
	uint64_t m = (unsigned)(*p++ - '0');
	unsigned d;
	if (m) /* after a leading 0 a digit is trailing garbage */
		while (p < end && (d = (unsigned)(*p - '0')) <= 9) {
			m = m * 10 + d;
			p++;
		}
	size_t nint = (size_t)(p - s) - neg;
	if (nint > 18)
		return number_slow(j, s, out);
	if (p < end && *p == '.') {
		cur f = ++p;
		while (p < end && (d = (unsigned)(*p - '0')) <= 9) {
			m = m * 10 + d;
			p++;
		}
		size_t nfrac = (size_t)(p - f);
		if (!nfrac)
			return NULL;
#if FLT_EVAL_METHOD == 0
		/* Clinger's fast path, as in number_slow */
		if (nint + nfrac <= 19 && nfrac <= 22 && m <= (UINT64_C(1) << 53) &&
		    !(p < end && (*p | 0x20) == 'e')) {
			double v = (double)m / pow10_exact[nfrac];
			set_float(out, neg ? -v : v);
			return p;
		}
#endif
		return number_slow(j, s, out);
	}
	if (p < end && (*p | 0x20) == 'e')
		return number_slow(j, s, out);
	set_int(out, neg ? -(int64_t)m : (int64_t)m);
	return p;
}

static inline cur skip_digits(cur p, cur end)
{
	while (p < end && (unsigned)(*p - '0') <= 9)
		p++;
	return p;
}

/* A number's grammar checked (RFC 8259), its value not made: past its
 * end, or NULL. */
static inline cur skip_number(cur p, cur end)
{
	p += *p == '-';
	if (p >= end || (unsigned)(*p - '0') > 9)
		return NULL;
	p = *p == '0' ? p + 1 : skip_digits(p + 1, end);
	if (p < end && *p == '.') {
		cur f = ++p;
		if ((p = skip_digits(p, end)) == f)
			return NULL;
	}
	if (p < end && (*p | 0x20) == 'e') {
		p++;
		p += p < end && (*p == '+' || *p == '-');
		cur x = p;
		if ((p = skip_digits(p, end)) == x)
			return NULL;
	}
	return p;
}

static void finish_list(struct jp *j, size_t base, struct tv *out)
{
	if (j->skip) {
		j->sp = base;
		*out = tv_none();
		return;
	}
	size_t n = j->sp - base;
	/* a list is a tv_list_x (tv_list_new), its items right after it */
	struct tv_list_x *x = arena_alloc(j->cx, sizeof *x + n * sizeof(struct tv));
	struct tv_list *l = &x->l;
	x->kind = LK_LIST;
	l->n = l->cap = n;
	l->v = n ? (struct tv *)(void *)(x + 1) : NULL;
	if (n)
		memcpy(l->v, j->stk + base, n * sizeof *l->v);
	j->sp = base;
	set_type(out, TV_LIST);
	out->l = l;
}

static size_t key_hash(const struct tv_str *k)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < k->len; i++)
		h = (h ^ (unsigned char)k->s[i]) * UINT64_C(0x100000001b3);
	return (size_t)(h ^ h >> 29);
}

static inline bool key_eq(const struct tv_str *a, const struct tv_str *b)
{
	return a->len == b->len && a->s[0] == b->s[0] && memcmp(a->s, b->s, a->len) == 0;
}

_Static_assert(sizeof(int64_t) >= sizeof(void *) && sizeof(int64_t) >= sizeof(double),
	       "a value's payload is copied as its int64_t");
_Static_assert(sizeof(struct tv_dict) % _Alignof(struct tv) == 0,
	       "a dict's values must start aligned right after its header");

/* The pairs on the stack from base become a dict; a repeated key keeps its
 * first position and takes the last value (Python's dict). */
static void finish_dict(struct jp *j, size_t base, struct tv *out)
{
	if (j->skip) {
		j->sp = base;
		*out = tv_none();
		return;
	}
	size_t n = (j->sp - base) / 2;
	struct tv_dict *d = arena_alloc(j->cx, sizeof *d + 2 * n * sizeof(struct tv));
	const struct tv *src = j->stk + base;
	d->cap = n;
	/* The pairs follow the header, which keeps them aligned (below). */
	d->k = n ? (struct tv *)(void *)(d + 1) : NULL;
	d->v = n ? d->k + n : NULL;
	size_t c = 0;
	if (n <= JSON_DEDUP_SCAN) {
		/* a 64-bit filter on length and first byte: a key whose bit
		 * is clear is new without a scan */
		uint64_t seen = 0;
		for (size_t i = 0; i < n; i++) {
			const struct tv_str *k = src[2 * i].s;
			size_t f = 0;
			unsigned bit = (unsigned)(k->len * 4 + (unsigned char)k->s[0]) & 63;
			if (seen >> bit & 1) {
				while (f < c && !key_eq(d->k[f].s, k))
					f++;
			} else {
				seen |= UINT64_C(1) << bit;
				f = c;
			}
			if (f == c) {
				d->k[c] = src[2 * i];
				c++;
			}
			d->v[f] = src[2 * i + 1];
		}
	} else {
		size_t size = 64;
		while (size < 2 * n)
			size *= 2;
		size_t *slot = tpl_alloc(j->cx, size * sizeof *slot); /* index + 1; 0 empty */
		memset(slot, 0, size * sizeof *slot);
		for (size_t i = 0; i < n; i++) {
			const struct tv_str *k = src[2 * i].s;
			size_t h = key_hash(k) & (size - 1);
			while (slot[h] && !key_eq(d->k[slot[h] - 1].s, k))
				h = (h + 1) & (size - 1);
			if (!slot[h]) {
				d->k[c] = src[2 * i];
				slot[h] = ++c;
			}
			d->v[slot[h] - 1] = src[2 * i + 1];
		}
	}
	d->n = c;
	j->sp = base;
	set_type(out, TV_DICT);
	out->d = d;
}

static cur parse_value(struct jp *j, cur p, struct tv *out);

/* After an element of an array or object: a ',' and white space (*closed
 * false), or the closing bracket (*closed true). NULL for anything else. */
static cur after_element(cur p, cur end, char close, bool *closed)
{
	p = skip_ws(p, end);
	if (p >= end)
		return NULL;
	*closed = *p == close;
	if (*closed)
		return p + 1;
	return *p == ',' ? skip_ws(p + 1, end) : NULL;
}

/* after_element for an object's member, the usual ", " in one comparison. */
static inline cur after_member(cur p, cur end, bool *closed)
{
	*closed = false;
	if (end - p >= 2 && memcmp(p, ", ", 2) == 0) {
		p += 2;
		return p < end && *p <= ' ' ? skip_ws(p, end) : p;
	}
	if (p < end && *p == ',')
		return skip_ws(p + 1, end);
	return after_element(p, end, '}', closed);
}

/* After an object's key: past the ':' and the white space around it, at
 * the value's first byte; NULL for anything else or the end. */
static inline cur past_colon(cur p, cur end)
{
	if (end - p >= 2 && memcmp(p, ": ", 2) == 0) {
		p += 2; /* the usual spacing, in one comparison */
		if (p < end && *p <= ' ')
			p = skip_ws(p, end);
	} else {
		p = skip_ws(p, end);
		if (p >= end || *p != ':')
			return NULL;
		p = skip_ws(p + 1, end);
	}
	return p < end ? p : NULL;
}

/* p just past '['. */
static __attribute__((noinline)) cur parse_array(struct jp *j, cur p, struct tv *out)
{
	cur end = j->end;
	size_t base = j->sp;
	p = skip_ws(p, end);
	if (p < end && *p == ']') {
		p++;
	} else {
		for (;;) {
			struct tv v;
			p = parse_value(j, p, &v);
			if (!p)
				return NULL;
			size_t i = reserve(j, 1); /* before reading j->stk: it may move */
			j->stk[i] = v;
			bool closed;
			if (!(p = after_element(p, end, ']', &closed)))
				return NULL;
			if (closed)
				break;
		}
	}
	finish_list(j, base, out);
	return p;
}

/* p just past '{'. */
static __attribute__((noinline)) cur parse_object(struct jp *j, cur p, struct tv *out)
{
	cur end = j->end;
	size_t base = j->sp;
	p = skip_ws(p, end);
	if (p < end && *p == '}') {
		p++;
	} else {
		for (;;) {
			/* the key straight onto the stack; the value after it, as
			 * a nested container may move the stack */
			size_t i = reserve(j, 2);
			if (p >= end || *p != '"' || !(p = parse_string(j, p, &j->stk[i])))
				return NULL;
			if (!(p = past_colon(p, end)))
				return NULL;
			/* strings and numbers without parse_value's dispatch,
			 * straight into their slot (they cannot move the stack) */
			if (*p == '"') {
				p = parse_string(j, p, &j->stk[i + 1]);
			} else if ((unsigned)(*p - '0') <= 9 || *p == '-') {
				p = parse_number(j, p, &j->stk[i + 1]);
			} else {
				struct tv v;
				if ((p = parse_value(j, p, &v)))
					j->stk[i + 1] = v;
			}
			if (!p)
				return NULL;
			bool closed;
			if (!(p = after_member(p, end, &closed)))
				return NULL;
			if (closed)
				break;
		}
	}
	finish_dict(j, base, out);
	return p;
}

/* p at the value's first byte (whitespace skipped); past its end, or NULL. */
static cur parse_value(struct jp *j, cur p, struct tv *out)
{
	cur end = j->end;
	if (p >= end)
		return NULL;
	switch (*p) {
	case '"':
		return parse_string(j, p, out);
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return parse_number(j, p, out);
	case 't':
		if (end - p < 4 || memcmp(p, "true", 4) != 0)
			return NULL;
		*out = tv_bool(true);
		return p + 4;
	case 'f':
		if (end - p < 5 || memcmp(p, "false", 5) != 0)
			return NULL;
		*out = tv_bool(false);
		return p + 5;
	case 'n':
		if (end - p < 4 || memcmp(p, "null", 4) != 0)
			return NULL;
		*out = tv_none();
		return p + 4;
	case '[':
	case '{':
		if (j->depth == JSON_MAX_DEPTH)
			return NULL;
		j->depth++;
		p = *p == '[' ? parse_array(j, p + 1, out) : parse_object(j, p + 1, out);
		j->depth--;
		return p;
	default:
		return NULL;
	}
}

/* A parsed value to the caller by members, as it was built (a wider load
 * would wait on them); the payload through its widest member, which a
 * pointer is not on 32-bit machines. */
static inline void put_value(struct tv *out, const struct tv *v)
{
	out->t = v->t;
	out->utcoffset = v->utcoffset;
	out->i = v->i;
}

/* A parser of text[0..len), its scratch stack starting in stack0. */
static inline struct jp jp_init(struct tpl_ctx *cx, const char *text, size_t len,
				struct tv stack0[JSON_STACK0])
{
	return (struct jp){
		.cx = cx,
		.end = (cur)text + len,
		.stk = stack0,
		.cap = JSON_STACK0,
	};
}

bool tpl_json_parse(struct tpl_ctx *cx, const char *text, size_t len, struct tv *out)
{
	if (!text || !len)
		return false;
	/* linear in len: charged up front (numbers cost about a unit a byte) */
	tpl_work(cx, len);
	struct tv stack0[JSON_STACK0];
	struct jp j = jp_init(cx, text, len, stack0);
	struct tv v;
	cur p = parse_value(&j, skip_ws((cur)text, j.end), &v);
	if (!p || skip_ws(p, j.end) != j.end)
		return false;
	put_value(out, &v);
	return true;
}

int tpl_json_member(struct tpl_ctx *cx, const char *text, size_t len, const char *key,
		    size_t klen, struct tv *out)
{
	if (!text || !len)
		return 0;
	tpl_work(cx, len); /* as tpl_json_parse */
	struct tv stack0[JSON_STACK0];
	struct jp j = jp_init(cx, text, len, stack0);
	j.depth = 1; /* inside the object, as parse_value counts it */
	j.skip = true;
	cur end = j.end, p = skip_ws((cur)text, end);
	int found = 0;
	if (p >= end || *p != '{')
		return 0;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}') {
		p++;
	} else {
		for (;;) {
			struct tv v;
			if (p >= end || *p != '"')
				return 0;
			cur k = p + 1;
			/* the key: plain ASCII to its quote, else the checks of a
			 * string (an escaped key may spell key: the full parse
			 * decides) */
			p = str_scan(k, end);
			if (p < end && *p == '"') {
				p++;
			} else {
				j.escaped = false;
				j.skip = true;
				if (!(p = string_slow(&j, k, p, &v)) || j.escaped)
					return 0;
			}
			size_t kn = (size_t)(p - 1 - k);
			/* the length and first byte tell most keys apart */
			bool match = kn == klen && (!kn || (k[0] == (unsigned char)key[0] &&
							    memcmp(k, key, kn) == 0));
			if (!(p = past_colon(p, end)))
				return 0;
			/* strings and numbers without parse_value's dispatch, as
			 * parse_object does */
			if (*p == '"') {
				j.skip = !match;
				p = parse_string(&j, p, &v);
			} else if ((unsigned)(*p - '0') <= 9 || *p == '-') {
				p = match ? parse_number(&j, p, &v) : skip_number(p, end);
			} else {
				j.skip = !match;
				p = parse_value(&j, p, &v);
			}
			if (!p)
				return 0;
			if (match) { /* the last of repeated keys wins, as in json.loads */
				put_value(out, &v);
				found = 1;
			}
			bool closed;
			if (!(p = after_member(p, end, &closed)))
				return 0;
			if (closed)
				break;
		}
	}
	return skip_ws(p, end) == end ? found : 0;
}

/* ---- encoding --------------------------------------------------------------
 * One encoder for Jinja's tojson and Home Assistant's to_json. Home
 * Assistant's to_json is orjson, unless ensure_ascii asks for Python's
 * json.dumps; tojson is json.dumps too. The two differ in their
 * separators, in NaN (json.dumps writes NaN, orjson null) and in how they
 * sort keys (json.dumps the keys themselves, orjson their text). */

/* The template's side of the writer: the shared pieces (lib/json.h)
 * write into a render buffer, which charges the render for it. */
struct tpl_w {
	struct json_w w;
	struct tpl_ctx *cx;
	struct tpl_buf *b;
	bool sort_keys;
};

static void tpl_put(struct json_w *w, const char *s, size_t n)
{
	struct tpl_w *t = (struct tpl_w *)w;
	tpl_buf_add(t->cx, t->b, s, n);
}

static void dump_string(struct tpl_w *t, const char *s, size_t n)
{
	tpl_work(t->cx, 2 * TPL_W_SCAN(n));
	json__string(&t->w, s, n);
}

/* A dict key as JSON writes it: Python's json.dumps and orjson (with
 * OPT_NON_STR_KEYS, as Home Assistant asks) both take str, int, float,
 * bool and None. */
static struct tv dump_key(struct tpl_w *t, struct tv k)
{
	struct tpl_ctx *cx = t->cx;
	struct tpl_buf b = { 0 };
	switch (k.t) {
	case TV_STR:
		return k;
	case TV_NONE:
		return tv_cstr(cx, "null");
	case TV_BOOL:
		return tv_cstr(cx, k.b ? "true" : "false");
	case TV_INT:
		return tv_strv(tv_to_str(cx, k));
	case TV_FLOAT: {
		struct tpl_w kt = *t;
		kt.b = &b;
		json__float(&kt.w, k.f);
		return tv_strv(tpl_buf_done(cx, &b));
	}
	default:
		tpl_fail(cx, "keys must be str, int, float, bool or None, not %s", tv_type_name(k));
	}
}

static void dump_value(struct tpl_w *t, struct tv v, unsigned depth);

/* json.dumps sorts the keys themselves, orjson their text (JSON_W_NAN_NULL
 * is orjson's). */
static void dump_dict(struct tpl_w *t, const struct tv_dict *d, bool sort_keys, unsigned depth)
{
	struct tpl_ctx *cx = t->cx;
	size_t n = d->n;
	struct tv *keys = tpl_alloc(cx, (n + 1) * sizeof *keys);
	for (size_t i = 0; i < n; i++)
		keys[i] = dump_key(t, d->k[i]);
	size_t *order = NULL;
	if (sort_keys && n > 1)
		order = tpl_sort_index(cx, t->w.flags & JSON_W_NAN_NULL ? keys : d->k, n, false);
	tpl_buf_addc(cx, t->b, '{');
	for (size_t i = 0; i < n; i++) {
		size_t k = order ? order[i] : i;
		tpl_work(cx, 2 * TPL_W_ITEM);
		json__member(&t->w, i, depth + 1);
		dump_string(t, keys[k].s->s, keys[k].s->len);
		json__colon(&t->w);
		dump_value(t, d->v[k], depth + 1);
	}
	json__end(&t->w, n, depth);
	tpl_buf_addc(cx, t->b, '}');
}

static void dump_value(struct tpl_w *t, struct tv v, unsigned depth)
{
	struct tpl_ctx *cx = t->cx;
	if (depth > TV_MAX_NEST)
		tpl_fail_code(cx, -ELOOP, "value nested too deeply");
	switch (v.t) {
	case TV_NONE:
		tpl_buf_add(cx, t->b, "null", 4);
		return;
	case TV_BOOL:
		if (v.b)
			tpl_buf_add(cx, t->b, "true", 4);
		else
			tpl_buf_add(cx, t->b, "false", 5);
		return;
	case TV_INT:
		json__int(&t->w, v.i);
		return;
	case TV_FLOAT:
		json__float(&t->w, v.f);
		return;
	case TV_STR:
		dump_string(t, v.s->s, v.s->len);
		return;
	case TV_LIST:
		if (tv_is_set(v))
			goto refuse;
		tpl_buf_addc(cx, t->b, '[');
		for (size_t i = 0; i < v.l->n; i++) {
			json__member(&t->w, i, depth + 1);
			dump_value(t, v.l->v[i], depth + 1);
		}
		json__end(&t->w, v.l->n, depth);
		tpl_buf_addc(cx, t->b, ']');
		return;
	case TV_DICT:
		dump_dict(t, v.d, t->sort_keys, depth);
		return;
	case TV_STATE: {
		/* A State serialises as its dict (Home Assistant's json_fragment,
		 * State.as_dict), with its times in ISO form. */
		if (tpl_state_is_domain(v))
			goto refuse;
		const struct tv_state *st = v.st;
		struct tv d = tv_dict_new(cx, 5);
		char lc[MQB_ISOFORMAT_MAX], lu[MQB_ISOFORMAT_MAX];
		size_t nlc = mqb_isoformat(st->last_changed, lc), nlu = mqb_isoformat(st->last_updated, lu);
		tv_dict_set(cx, &d, tv_cstr(cx, "entity_id"), tv_cstr(cx, st->entity_id));
		tv_dict_set(cx, &d, tv_cstr(cx, "state"), tv_cstr(cx, st->state));
		tv_dict_set(cx, &d, tv_cstr(cx, "attributes"), st->attributes);
		tv_dict_set(cx, &d, tv_cstr(cx, "last_changed"), tv_string(cx, tpl_str(cx, lc, nlc)->s, nlc));
		tv_dict_set(cx, &d, tv_cstr(cx, "last_updated"), tv_string(cx, tpl_str(cx, lu, nlu)->s, nlu));
		dump_dict(t, d.d, t->sort_keys, depth);
		return;
	}
	default:
	refuse:
		/* datetimes, states, namespaces ... json.dumps and orjson (as
		 * Home Assistant's to_json calls it) refuse them alike */
		tpl_check_defined(cx, v);
		tpl_fail(cx, "Object of type %s is not JSON serializable", tpl_typeof(v));
	}
}

void tpl_json_dump(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v,
		   const struct tpl_json_style *st)
{
	struct tpl_w t = {
		.w = {
			.put = tpl_put,
			.flags = (st->dumps ? 0 : MQB_JSON_COMPACT | JSON_W_NAN_NULL) |
				 (st->ascii ? MQB_JSON_ENSURE_ASCII : 0) |
				 (st->html_safe ? JSON_W_HTML_SAFE : 0),
			.indent = st->indent,
		},
		.cx = cx,
		.b = b,
		.sort_keys = st->sort_keys,
	};
	dump_value(&t, v, 0);
}
