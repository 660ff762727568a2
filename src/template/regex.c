/* SPDX-License-Identifier: MIT */
/* Regular expressions in Python's syntax for Home Assistant's regex_*
 * filters: a pattern is parsed into a small program that a Pike VM runs
 * (Thompson's simulation, with submatches), in time linear in the subject
 * whatever the pattern, every step charged to the render's work. Giving
 * the threads priorities, as a backtracking matcher tries its choices,
 * yields Python's leftmost-first matches with greedy quantifiers.
 * Backreferences, lookaround, lazy and possessive quantifiers need
 * backtracking and are refused. The subject is matched by code point. */
#include "lib/internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "lib/utf8.h"
#include "template/tpl.h"

#define RX_MAX_INSTS 4096   /* a longer program is refused: it bounds the VM's memory */
#define RX_MAX_GROUPS 32    /* capturing groups */
#define RX_MAX_NEST 32      /* groups inside groups */
#define RX_INF UINT32_MAX   /* an unbounded repeat's max */
#define RX_BAD_BYTE 0x110000u
#define W_STEP 4            /* work for a thread's step or an epsilon move *//* + the byte: a subject byte that is not UTF-8 */

/* ---- the program ----------------------------------------------------------- */

enum rx_op {
	RX_CHAR,    /* x: a code point (folded when the pattern ignores case) */
	RX_ANY,     /* any code point */
	RX_ANYNL,   /* any but \n (Python's . without DOTALL) */
	RX_CLASS,   /* x: a class */
	RX_ASSERT,  /* x: enum rx_assert, consumes nothing */
	RX_SAVE,    /* x: a capture slot := the position */
	RX_SPLIT,   /* go on at x, and with lower priority at y */
	RX_JMP,     /* go on at x */
	RX_MATCH,
};

enum rx_assert { RXA_BOL, RXA_MBOL, RXA_EOL, RXA_MEOL, RXA_START, RXA_END, RXA_WORDB, RXA_NWORDB };

struct rx_inst {
	uint8_t op;
	uint32_t x, y;
};

/* \d \w \s and their negations, inside a class or standing for one. */
enum { RXS_D = 1, RXS_ND = 2, RXS_W = 4, RXS_NW = 8, RXS_S = 16, RXS_NS = 32 };

struct rx_class {
	uint32_t first, n;  /* its ranges in rng */
	uint8_t sets;
	bool negate;
};

struct rx_range {
	uint32_t lo, hi;
};

struct rx_prog {
	uint32_t ninst, ngroups;
	bool icase;
	struct rx_inst *inst;
	struct rx_class *cls;
	struct rx_range *rng;
	/* one allocation: the arrays follow */
};

/* ---- characters ------------------------------------------------------------ */

/* The other case of c, or c: ASCII, Latin-1, basic Greek and Cyrillic.
 * (Python folds all of Unicode; templates match ASCII mostly.) */
static uint32_t other_case(uint32_t c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 0xc0 && c <= 0xde && c != 0xd7) ||
	    (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) || (c >= 0x410 && c <= 0x42f))
		return c + 0x20;
	if ((c >= 'a' && c <= 'z') || (c >= 0xe0 && c <= 0xfe && c != 0xf7) ||
	    (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) || (c >= 0x430 && c <= 0x44f))
		return c - 0x20;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (c >= 0x450 && c <= 0x45f)
		return c - 0x50;
	return c;
}

static uint32_t fold(uint32_t c)
{
	uint32_t o = other_case(c);
	return o > c ? o : c;   /* lower case has the higher code point in these blocks */
}

static bool is_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

/* Python's str.isspace(), which its \s follows. */
static bool is_space(uint32_t c)
{
	return (c >= '\t' && c <= '\r') || c == ' ' || (c >= 0x1c && c <= 0x1f) || c == 0x85 ||
	       c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
	       c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Python's \w: letters, digits and _. Past Latin-1 this takes every code
 * point for a letter but the blocks of punctuation, symbols, private use
 * and emoji, which is near enough without Unicode's tables. */
static bool is_word(uint32_t c)
{
	if (c < 0x80)
		return c == '_' || is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
	if (c < 0x100)
		return c == 0xaa || c == 0xb5 || c == 0xba || (c >= 0xc0 && c != 0xd7 && c != 0xf7);
	return !(c >= 0x2000 && c <= 0x2bff) && !(c >= 0x3000 && c <= 0x303f) &&
	       !(c >= 0xe000 && c <= 0xf8ff) && !(c >= 0xfe00 && c <= 0xfe4f) &&
	       !(c >= 0xff00 && c <= 0xff0f) && c < 0x1f000 && c < RX_BAD_BYTE;
}

static bool in_sets(uint8_t sets, uint32_t c)
{
	return ((sets & RXS_D) && is_digit(c)) || ((sets & RXS_ND) && !is_digit(c)) ||
	       ((sets & RXS_W) && is_word(c)) || ((sets & RXS_NW) && !is_word(c)) ||
	       ((sets & RXS_S) && is_space(c)) || ((sets & RXS_NS) && !is_space(c));
}

static bool class_has(const struct rx_prog *p, const struct rx_class *k, uint32_t c)
{
	if (in_sets(k->sets, c))
		return true;
	for (uint32_t i = 0; i < k->n; i++)
		if (c >= p->rng[k->first + i].lo && c <= p->rng[k->first + i].hi)
			return true;
	return false;
}

static bool class_match(const struct rx_prog *p, const struct rx_class *k, uint32_t c)
{
	bool in = class_has(p, k, c) || (p->icase && class_has(p, k, other_case(c)));
	return in != k->negate;
}

/* The code point at s[pos] (pos < len) and its length. */
static uint32_t decode_at(const char *s, size_t len, size_t pos, size_t *n)
{
	uint32_t c;
	*n = utf8__decode((const unsigned char *)s + pos, len - pos, &c);
	if (*n)
		return c;
	*n = 1;
	return RX_BAD_BYTE + (unsigned char)s[pos];
}

/* The code point that ends at s[pos] (pos > 0). */
static uint32_t decode_before(const char *s, size_t len, size_t pos)
{
	size_t at = pos - 1, n;
	while (at > 0 && pos - at < 4 && ((unsigned char)s[at] & 0xc0) == 0x80)
		at--;
	uint32_t c = decode_at(s, len, at, &n);
	return at + n == pos ? c : RX_BAD_BYTE + (unsigned char)s[pos - 1];
}

/* ---- parsing: pattern to tree ------------------------------------------------- */

enum rxn_kind { RXN_EMPTY, RXN_CHAR, RXN_ANY, RXN_CLASS, RXN_ASSERT, RXN_GROUP, RXN_CAT, RXN_ALT,
		RXN_REPEAT };

struct rxn {
	uint8_t kind;
	uint32_t x;            /* CHAR: code point; ANY: 1 with DOTALL; CLASS: class; ASSERT: kind;
				* GROUP: its capture (0: none) */
	uint32_t min, max;     /* REPEAT */
	struct rxn **kids;     /* CAT, ALT: nkids of them; GROUP, REPEAT: one */
	uint32_t nkids;
};

struct rxp {
	struct tpl_ctx *cx;
	const char *p, *start, *end;
	const char *err;       /* the first error, which stops the parse */
	uint32_t ngroups;
	unsigned depth;
	bool icase, dotall, multiline;
	struct rx_class *cls;
	uint32_t ncls, capcls;
	struct rx_range *rng;
	uint32_t nrng, caprng;
};

#define FAIL(P, msg) do { (P)->err = (msg); return NULL; } while (0)

static struct rxn *node(struct rxp *P, enum rxn_kind kind, uint32_t x)
{
	struct rxn *n = tpl_alloc(P->cx, sizeof *n);
	memset(n, 0, sizeof *n);
	n->kind = (uint8_t)kind;
	n->x = x;
	return n;
}

/* Grow an arena array of n elements of size sz to hold one more. */
static void *grow(struct tpl_ctx *cx, void *a, uint32_t n, uint32_t *cap, size_t sz)
{
	if (n < *cap)
		return a;
	uint32_t c = *cap ? *cap * 2 : 8;
	void *b = tpl_alloc(cx, c * sz);
	if (n)
		memcpy(b, a, n * sz);
	*cap = c;
	return b;
}

static struct rxn *parse_alt(struct rxp *P);

/* A code point of the pattern itself (it is template text: UTF-8). */
static uint32_t pattern_char(struct rxp *P)
{
	size_t n;
	uint32_t c = decode_at(P->p, (size_t)(P->end - P->p), 0, &n);
	P->p += n;
	return c;
}

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f'
		? (c | 0x20) - 'a' + 10 : -1;
}

/* After a backslash: the escape's code point (a plain one, or \n \t \x41
 * \u00e9 ...) in *c, or its set (\d \W ...) in *sets. -1 when it is an
 * error (P->err set), 1 for an assertion outside a class (\b \A ...) with
 * the assertion in *c, else 0. */
static int parse_escape(struct rxp *P, bool in_class, uint32_t *c, uint8_t *sets)
{
	*sets = 0;
	if (P->p >= P->end) {
		P->err = "bad escape (end of pattern)";
		return -1;
	}
	char e = *P->p;
	int hex = 0;
	switch (e) {
	case 'd': *sets = RXS_D; break;
	case 'D': *sets = RXS_ND; break;
	case 'w': *sets = RXS_W; break;
	case 'W': *sets = RXS_NW; break;
	case 's': *sets = RXS_S; break;
	case 'S': *sets = RXS_NS; break;
	case 'n': *c = '\n'; break;
	case 't': *c = '\t'; break;
	case 'r': *c = '\r'; break;
	case 'f': *c = '\f'; break;
	case 'v': *c = '\v'; break;
	case 'a': *c = '\a'; break;
	case '0': *c = 0; break;
	case 'x': hex = 2; break;
	case 'u': hex = 4; break;
	case 'U': hex = 8; break;
	case 'b':
		if (in_class) {
			*c = '\b';
			break;
		}
		/* fallthrough */
	case 'B': case 'A': case 'Z': case 'z':
		if (in_class) {
			P->err = "this escape is not allowed in a character set";
			return -1;
		}
		P->p++;
		*c = e == 'b' ? RXA_WORDB : e == 'B' ? RXA_NWORDB : e == 'A' ? RXA_START : RXA_END;
		return 1;
	default:
		if (e >= '1' && e <= '9') {
			P->err = "backreferences are not supported";
			return -1;
		}
		if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
			P->err = "unsupported escape";
			return -1;
		}
		*c = pattern_char(P);
		return 0;
	}
	P->p++;
	if (hex) {
		uint32_t v = 0;
		for (int i = 0; i < hex; i++, P->p++) {
			int d = P->p < P->end ? hex_value(*P->p) : -1;
			if (d < 0) {
				P->err = "incomplete escape";
				return -1;
			}
			v = v << 4 | (uint32_t)d;
		}
		if (v > 0x10ffff) {
			P->err = "bad escape: code point out of range";
			return -1;
		}
		*c = v;
	}
	return 0;
}

static bool add_range(struct rxp *P, uint32_t lo, uint32_t hi)
{
	P->rng = grow(P->cx, P->rng, P->nrng, &P->caprng, sizeof *P->rng);
	P->rng[P->nrng++] = (struct rx_range){ lo, hi };
	return true;
}

static struct rxn *new_class(struct rxp *P, uint8_t sets, bool negate)
{
	P->cls = grow(P->cx, P->cls, P->ncls, &P->capcls, sizeof *P->cls);
	P->cls[P->ncls] = (struct rx_class){ P->nrng, 0, sets, negate };
	return node(P, RXN_CLASS, P->ncls++);
}

/* [...], from just after the '['. */
static struct rxn *parse_class(struct rxp *P)
{
	bool negate = P->p < P->end && *P->p == '^';
	P->p += negate;
	struct rxn *n = new_class(P, 0, negate);
	struct rx_class *k = &P->cls[n->x];
	bool first = true;
	for (;;) {
		if (P->p >= P->end)
			FAIL(P, "unterminated character set");
		if (*P->p == ']' && !first)
			break;
		first = false;
		uint32_t lo, hi;
		uint8_t sets = 0;
		if (*P->p == '\\') {
			P->p++;
			if (parse_escape(P, true, &lo, &sets) < 0)
				return NULL;
		} else {
			lo = pattern_char(P);
		}
		k = &P->cls[n->x];
		if (sets) {
			k->sets |= sets;
			continue;
		}
		hi = lo;
		if (P->end - P->p >= 2 && P->p[0] == '-' && P->p[1] != ']') {
			P->p++;
			if (*P->p == '\\') {
				P->p++;
				if (parse_escape(P, true, &hi, &sets) < 0)
					return NULL;
				if (sets)
					FAIL(P, "bad character range");
			} else {
				hi = pattern_char(P);
			}
			if (hi < lo)
				FAIL(P, "bad character range");
		}
		add_range(P, lo, hi);
		P->cls[n->x].n++;
	}
	P->p++;
	return n;
}

/* (...), from just after the '('. */
static struct rxn *parse_group(struct rxp *P)
{
	uint32_t cap = 0;
	if (P->end - P->p >= 2 && P->p[0] == '?') {
		const char *q = P->p + 1;
		if (*q == ':') {
			P->p += 2;
		} else if (*q == 'P' && q + 1 < P->end && q[1] == '<') {
			const char *name = q + 2, *e = name;
			while (e < P->end && (*e == '_' || (*e >= 'a' && *e <= 'z') ||
					      (*e >= 'A' && *e <= 'Z') || (e > name && *e >= '0' && *e <= '9')))
				e++;
			if (e == name || e >= P->end || *e != '>')
				FAIL(P, "bad group name");
			P->p = e + 1;
			cap = ++P->ngroups;
		} else if (*q == '#') {
			const char *e = memchr(q, ')', (size_t)(P->end - q));
			if (!e)
				FAIL(P, "missing ), unterminated comment");
			P->p = e + 1;
			return node(P, RXN_EMPTY, 0);
		} else if (*q == 'P' && q + 1 < P->end && q[1] == '=') {
			FAIL(P, "backreferences are not supported");
		} else {
			FAIL(P, "lookaround and inline flags are not supported");
		}
	} else {
		cap = ++P->ngroups;
	}
	if (P->ngroups > RX_MAX_GROUPS)
		FAIL(P, "too many groups");
	if (++P->depth > RX_MAX_NEST)
		FAIL(P, "groups nested too deeply");
	struct rxn *in = parse_alt(P);
	if (!in)
		return NULL;
	P->depth--;
	if (P->p >= P->end || *P->p != ')')
		FAIL(P, "missing ), unterminated subpattern");
	P->p++;
	struct rxn *g = node(P, RXN_GROUP, cap);
	g->kids = tpl_alloc(P->cx, sizeof *g->kids);
	g->kids[0] = in;
	g->nkids = 1;
	return g;
}

static struct rxn *parse_atom(struct rxp *P)
{
	char c = *P->p;
	switch (c) {
	case '(':
		P->p++;
		return parse_group(P);
	case '[':
		P->p++;
		return parse_class(P);
	case '.':
		P->p++;
		return node(P, RXN_ANY, P->dotall);
	case '^':
		P->p++;
		return node(P, RXN_ASSERT, P->multiline ? RXA_MBOL : RXA_BOL);
	case '$':
		P->p++;
		return node(P, RXN_ASSERT, P->multiline ? RXA_MEOL : RXA_EOL);
	case '*': case '+': case '?':
		FAIL(P, "nothing to repeat");
	case '\\': {
		P->p++;
		uint32_t cp;
		uint8_t sets;
		int r = parse_escape(P, false, &cp, &sets);
		if (r < 0)
			return NULL;
		if (r > 0)
			return node(P, RXN_ASSERT, cp);
		if (sets)
			return new_class(P, sets, false);
		return node(P, RXN_CHAR, cp);
	}
	default:
		return node(P, RXN_CHAR, pattern_char(P));
	}
}

/* A count in {m,n}: its digits, saturating below RX_INF. */
static uint32_t parse_count(const char **q, const char *end)
{
	uint64_t v = 0;
	for (; *q < end && **q >= '0' && **q <= '9'; (*q)++)
		v = v >= RX_INF ? RX_INF - 1 : v * 10 + (uint64_t)(**q - '0');
	return v >= RX_INF ? RX_INF - 1 : (uint32_t)v;
}

/* A quantifier at P->p: true with min and max set (P->p past it). A '{'
 * that does not form one is no quantifier: Python takes it literally. */
static bool parse_quantifier(struct rxp *P, uint32_t *min, uint32_t *max)
{
	const char *q = P->p;
	switch (*q) {
	case '*': *min = 0, *max = RX_INF; P->p++; return true;
	case '+': *min = 1, *max = RX_INF; P->p++; return true;
	case '?': *min = 0, *max = 1; P->p++; return true;
	case '{': {
		q++;
		if (q < P->end && *q == '}')
			return false;
		const char *lo = q;
		*min = parse_count(&q, P->end);
		bool had_lo = q > lo;
		*max = *min;
		if (q < P->end && *q == ',') {
			q++;
			const char *hi = q;
			uint32_t m = parse_count(&q, P->end);
			*max = q > hi ? m : RX_INF;
		}
		if (q >= P->end || *q != '}')
			return false;
		if (!had_lo)
			*min = 0;
		P->p = q + 1;
		return true;
	}
	default:
		return false;
	}
}

static struct rxn *parse_repeat(struct rxp *P)
{
	struct rxn *a = parse_atom(P);
	if (!a)
		return NULL;
	uint32_t min, max;
	if (!parse_quantifier(P, &min, &max))
		return a;
	if (a->kind == RXN_ASSERT || a->kind == RXN_EMPTY)
		FAIL(P, "nothing to repeat");
	if (max < min)
		FAIL(P, "min repeat greater than max repeat");
	if (P->p < P->end && *P->p == '?')
		FAIL(P, "non-greedy quantifiers are not supported");
	if (P->p < P->end && *P->p == '+')
		FAIL(P, "possessive quantifiers are not supported");
	uint32_t m2, x2;
	if (parse_quantifier(P, &m2, &x2))
		FAIL(P, "multiple repeat");
	struct rxn *r = node(P, RXN_REPEAT, 0);
	r->min = min;
	r->max = max;
	r->kids = tpl_alloc(P->cx, sizeof *r->kids);
	r->kids[0] = a;
	r->nkids = 1;
	return r;
}

/* Items up to '|', ')' or the end, as one node. */
static struct rxn *parse_cat(struct rxp *P)
{
	struct rxn **kids = NULL;
	uint32_t n = 0, cap = 0;
	while (P->p < P->end && *P->p != '|' && *P->p != ')') {
		struct rxn *k = parse_repeat(P);
		if (!k)
			return NULL;
		kids = grow(P->cx, kids, n, &cap, sizeof *kids);
		kids[n++] = k;
	}
	if (n == 1)
		return kids[0];
	struct rxn *c = node(P, n ? RXN_CAT : RXN_EMPTY, 0);
	c->kids = kids;
	c->nkids = n;
	return c;
}

static struct rxn *parse_alt(struct rxp *P)
{
	struct rxn **kids = NULL;
	uint32_t n = 0, cap = 0;
	for (;;) {
		struct rxn *k = parse_cat(P);
		if (!k)
			return NULL;
		kids = grow(P->cx, kids, n, &cap, sizeof *kids);
		kids[n++] = k;
		if (P->p >= P->end || *P->p != '|')
			break;
		P->p++;
	}
	if (n == 1)
		return kids[0];
	struct rxn *a = node(P, RXN_ALT, 0);
	a->kids = kids;
	a->nkids = n;
	return a;
}

/* Flags at the very start, as Python wants them: (?i) (?s) (?m) or any
 * mix. Others ((?x), (?a), (?L), (?u)) are refused. */
static bool parse_flags(struct rxp *P)
{
	if (P->end - P->p < 3 || P->p[0] != '(' || P->p[1] != '?')
		return true;
	const char *q = P->p + 2;
	const char *e = q;
	while (e < P->end && (*e == 'i' || *e == 's' || *e == 'm'))
		e++;
	if (e == q || e >= P->end || *e != ')')
		return true;   /* not flags: parse_group says what it is */
	for (; q < e; q++) {
		P->icase |= *q == 'i';
		P->dotall |= *q == 's';
		P->multiline |= *q == 'm';
	}
	P->p = e + 1;
	return true;
}

/* ---- code generation ---------------------------------------------------------- */

/* Instructions n compiles to; saturates past RX_MAX_INSTS. */
static uint64_t code_size(const struct rxn *n)
{
	uint64_t s = 0, cap = RX_MAX_INSTS + 1;
	switch (n->kind) {
	case RXN_EMPTY:
		return 0;
	case RXN_CHAR: case RXN_ANY: case RXN_CLASS: case RXN_ASSERT:
		return 1;
	case RXN_GROUP:
		return code_size(n->kids[0]) + (n->x ? 2 : 0);
	case RXN_CAT: case RXN_ALT:
		for (uint32_t i = 0; i < n->nkids && s < cap; i++)
			s += code_size(n->kids[i]) + (n->kind == RXN_ALT && i + 1 < n->nkids ? 2 : 0);
		return s;
	case RXN_REPEAT: {
		uint64_t e = code_size(n->kids[0]);
		if (e > cap)
			return cap;
		if (n->max == RX_INF)
			s = n->min ? e * n->min + 1 : e + 2;
		else
			s = e * n->min + (e + 1) * (n->max - n->min);
		return s > cap ? cap : s;
	}
	default:
		return cap;
	}
}

struct rxe {
	struct rx_prog *prog;
	uint32_t pc;
	struct tpl_ctx *cx;
};

static uint32_t emit(struct rxe *E, enum rx_op op, uint32_t x, uint32_t y)
{
	E->prog->inst[E->pc] = (struct rx_inst){ (uint8_t)op, x, y };
	return E->pc++;
}

static void gen(struct rxe *E, const struct rxn *n)
{
	switch (n->kind) {
	case RXN_EMPTY:
		break;
	case RXN_CHAR:
		emit(E, RX_CHAR, E->prog->icase ? fold(n->x) : n->x, 0);
		break;
	case RXN_ANY:
		emit(E, n->x ? RX_ANY : RX_ANYNL, 0, 0);
		break;
	case RXN_CLASS:
		emit(E, RX_CLASS, n->x, 0);
		break;
	case RXN_ASSERT:
		emit(E, RX_ASSERT, n->x, 0);
		break;
	case RXN_GROUP:
		if (n->x)
			emit(E, RX_SAVE, 2 * n->x, 0);
		gen(E, n->kids[0]);
		if (n->x)
			emit(E, RX_SAVE, 2 * n->x + 1, 0);
		break;
	case RXN_CAT:
		for (uint32_t i = 0; i < n->nkids; i++)
			gen(E, n->kids[i]);
		break;
	case RXN_ALT: {
		/* a|b|c: split(a, split(b, c)), each ending with a jump out */
		uint32_t *out = tpl_alloc(E->cx, n->nkids * sizeof *out);
		for (uint32_t i = 0; i + 1 < n->nkids; i++) {
			uint32_t sp = emit(E, RX_SPLIT, E->pc + 1, 0);
			gen(E, n->kids[i]);
			out[i] = emit(E, RX_JMP, 0, 0);
			E->prog->inst[sp].y = E->pc;
		}
		gen(E, n->kids[n->nkids - 1]);
		for (uint32_t i = 0; i + 1 < n->nkids; i++)
			E->prog->inst[out[i]].x = E->pc;
		break;
	}
	case RXN_REPEAT: {
		const struct rxn *e = n->kids[0];
		if (n->max == RX_INF) {
			if (n->min == 0) {
				/* e*: L: split(body, out); body: e; jmp L */
				uint32_t l = emit(E, RX_SPLIT, E->pc + 1, 0);
				gen(E, e);
				emit(E, RX_JMP, l, 0);
				E->prog->inst[l].y = E->pc;
			} else {
				/* e{m,}: e m-1 times, then L: e; split(L, out) */
				for (uint32_t i = 0; i + 1 < n->min; i++)
					gen(E, e);
				uint32_t l = E->pc;
				gen(E, e);
				emit(E, RX_SPLIT, l, E->pc + 1);
			}
			break;
		}
		for (uint32_t i = 0; i < n->min; i++)
			gen(E, e);
		/* e{m,n}: then n - m times split(e, out), nested: e(e(e)?)? */
		uint32_t opt = n->max - n->min;
		uint32_t *sp = opt ? tpl_alloc(E->cx, opt * sizeof *sp) : NULL;
		for (uint32_t i = 0; i < opt; i++) {
			sp[i] = emit(E, RX_SPLIT, E->pc + 1, 0);
			gen(E, e);
		}
		for (uint32_t i = 0; i < opt; i++)
			E->prog->inst[sp[i]].y = E->pc;
		break;
	}
	}
}

struct rx_prog *tpl_rx_compile(struct tpl_ctx *cx, const char *pattern, size_t len, bool icase,
			       const char **err)
{
	*err = NULL;
	if (len > RX_MAX_INSTS * 4) {
		*err = "pattern too long";
		return NULL;
	}
	struct rxp P = { .cx = cx, .p = pattern, .start = pattern, .end = pattern + len,
			 .icase = icase };
	parse_flags(&P);
	struct rxn *tree = parse_alt(&P);
	if (tree && P.p < P.end)
		P.err = "unbalanced parenthesis";
	if (!tree || P.err) {
		*err = P.err;
		return NULL;
	}
	uint64_t size = code_size(tree) + 3;   /* SAVE 0, the tree, SAVE 1, MATCH */
	if (size > RX_MAX_INSTS) {
		*err = "pattern too large (its repeats expand too far)";
		return NULL;
	}
	/* the code is generated in the arena (which may end the render),
	 * then copied into the one allocation the caller owns */
	struct rx_prog draft = { (uint32_t)size, P.ngroups, P.icase,
				 tpl_alloc(cx, size * sizeof(struct rx_inst)), NULL, NULL };
	struct rxe E = { &draft, 0, cx };
	emit(&E, RX_SAVE, 0, 0);
	gen(&E, tree);
	emit(&E, RX_SAVE, 1, 0);
	emit(&E, RX_MATCH, 0, 0);
	size_t bytes = sizeof(struct rx_prog) + size * sizeof(struct rx_inst) +
		       P.ncls * sizeof(struct rx_class) + P.nrng * sizeof(struct rx_range);
	struct rx_prog *prog = mqb__malloc(bytes);
	if (!prog)
		tpl_fail_code(cx, -ENOMEM, "out of memory compiling a regex");
	*prog = draft;
	prog->inst = (struct rx_inst *)(prog + 1);
	prog->cls = (struct rx_class *)(prog->inst + size);
	prog->rng = (struct rx_range *)(prog->cls + P.ncls);
	memcpy(prog->inst, draft.inst, size * sizeof *draft.inst);
	if (P.ncls)
		memcpy(prog->cls, P.cls, P.ncls * sizeof *P.cls);
	if (P.nrng)
		memcpy(prog->rng, P.rng, P.nrng * sizeof *P.rng);
	return prog;
}

void tpl_rx_free(struct rx_prog *prog)
{
	mqb__free(prog);
}

size_t tpl_rx_groups(const struct rx_prog *prog)
{
	return prog->ngroups;
}

size_t tpl_rx_size(const struct rx_prog *prog)
{
	return prog->ninst;
}

/* ---- the Pike VM ----------------------------------------------------------------
 * One pass over the subject. At each position the threads alive, in
 * priority order, each at an instruction that consumes a character; those
 * the character fits move to the next position's list. A thread's
 * epsilon moves (jumps, splits, saves, assertions) are followed when it is
 * added, and an instruction already in the list is not added again: the
 * thread that got there first has the higher priority. The list for a
 * position never holds an instruction twice, so a step costs at most the
 * program's length, and the whole search its length times the subject's. */

struct rx_list {
	uint32_t n;
	uint32_t *pc;
	int32_t *caps;        /* n rows of ncap */
};

struct rx_entry {             /* the closure's stack: an instruction, or a save to undo */
	uint32_t pc, slot;    /* slot UINT32_MAX: pc to visit */
	int32_t old;
};

struct rx_vm {
	const struct rx_prog *prog;
	uint32_t ncap;
	uint32_t gen, *mark;  /* mark[pc] == gen: pc is in the list being built */
	struct rx_list list[2];
	struct rx_entry *stack;
	int32_t *scratch, *match;
};

struct rx_vm *tpl_rx_vm(struct tpl_ctx *cx, const struct rx_prog *prog)
{
	uint32_t n = prog->ninst, ncap = 2 * (prog->ngroups + 1);
	tpl_work(cx, TPL_W_BYTES((size_t)n * ncap * 2 * sizeof(int32_t)) + n);
	struct rx_vm *vm = tpl_alloc(cx, sizeof *vm);
	vm->prog = prog;
	vm->ncap = ncap;
	vm->gen = 0;
	vm->mark = tpl_alloc(cx, n * sizeof *vm->mark);
	memset(vm->mark, 0, n * sizeof *vm->mark);
	for (int i = 0; i < 2; i++) {
		vm->list[i].pc = tpl_alloc(cx, n * sizeof *vm->list[i].pc);
		vm->list[i].caps = tpl_alloc(cx, (size_t)n * ncap * sizeof *vm->list[i].caps);
	}
	vm->stack = tpl_alloc(cx, (3 * (size_t)n + 2) * sizeof *vm->stack);
	vm->scratch = tpl_alloc(cx, ncap * sizeof *vm->scratch);
	vm->match = tpl_alloc(cx, ncap * sizeof *vm->match);
	return vm;
}

static bool assertion(enum rx_assert a, const char *s, size_t len, size_t pos)
{
	switch (a) {
	case RXA_START: return pos == 0;
	case RXA_END: return pos == len;
	case RXA_BOL: return pos == 0;
	case RXA_MBOL: return pos == 0 || s[pos - 1] == '\n';
	case RXA_EOL: return pos == len || (pos + 1 == len && s[pos] == '\n');
	case RXA_MEOL: return pos == len || s[pos] == '\n';
	case RXA_WORDB:
	case RXA_NWORDB: {
		size_t n;
		bool before = pos > 0 && is_word(decode_before(s, len, pos));
		bool after = pos < len && is_word(decode_at(s, len, pos, &n));
		return (before != after) == (a == RXA_WORDB);
	}
	}
	return false;
}

/* Add the thread at pc0 with captures caps (changed, then put back) to
 * list l, following its epsilon moves at position pos. */
static void add_thread(struct tpl_ctx *cx, struct rx_vm *vm, struct rx_list *l, uint32_t pc0,
		       size_t pos, int32_t *caps, const char *s, size_t len)
{
	const struct rx_prog *prog = vm->prog;
	struct rx_entry *stack = vm->stack;
	size_t sp = 0;
	uint64_t steps = 0;
	stack[sp++] = (struct rx_entry){ pc0, UINT32_MAX, 0 };
	while (sp) {
		struct rx_entry e = stack[--sp];
		if (e.slot != UINT32_MAX) {
			caps[e.slot] = e.old;
			continue;
		}
		uint32_t pc = e.pc;
		if (vm->mark[pc] == vm->gen)
			continue;
		vm->mark[pc] = vm->gen;
		steps++;
		const struct rx_inst *in = &prog->inst[pc];
		switch (in->op) {
		case RX_JMP:
			stack[sp++] = (struct rx_entry){ in->x, UINT32_MAX, 0 };
			break;
		case RX_SPLIT:   /* x is tried first: pushed last */
			stack[sp++] = (struct rx_entry){ in->y, UINT32_MAX, 0 };
			stack[sp++] = (struct rx_entry){ in->x, UINT32_MAX, 0 };
			break;
		case RX_SAVE:
			stack[sp++] = (struct rx_entry){ 0, in->x, caps[in->x] };
			caps[in->x] = (int32_t)pos;
			stack[sp++] = (struct rx_entry){ pc + 1, UINT32_MAX, 0 };
			break;
		case RX_ASSERT:
			if (assertion((enum rx_assert)in->x, s, len, pos))
				stack[sp++] = (struct rx_entry){ pc + 1, UINT32_MAX, 0 };
			break;
		default:
			l->pc[l->n] = pc;
			memcpy(&l->caps[(size_t)l->n * vm->ncap], caps, vm->ncap * sizeof *caps);
			l->n++;
			steps += vm->ncap / 8;
		}
	}
	tpl_work(cx, steps * W_STEP);
}

static bool consumes(const struct rx_prog *prog, const struct rx_inst *in, uint32_t c)
{
	switch (in->op) {
	case RX_CHAR: return (prog->icase ? fold(c) : c) == in->x;
	case RX_ANY: return true;
	case RX_ANYNL: return c != '\n';
	case RX_CLASS: return class_match(prog, &prog->cls[in->x], c);
	default: return false;
	}
}

bool tpl_rx_search(struct tpl_ctx *cx, struct rx_vm *vm, const char *s, size_t len, size_t start,
		   bool anchored, bool advance, const int32_t **caps)
{
	if (len > INT32_MAX)
		tpl_fail_code(cx, -E2BIG, "regex subject longer than %d bytes", INT32_MAX);
	const struct rx_prog *prog = vm->prog;
	struct rx_list *cl = &vm->list[0], *nl = &vm->list[1];
	bool matched = false;
	tpl_work(cx, 4 * W_STEP + vm->ncap);
	size_t pos = start;
	cl->n = 0;
	vm->gen++;
	for (;;) {
		/* a new thread starting here has the lowest priority; none
		 * once a match is found: a later start cannot be leftmost */
		if (!matched && (!anchored || pos == start)) {
			for (uint32_t i = 0; i < vm->ncap; i++)
				vm->scratch[i] = -1;
			add_thread(cx, vm, cl, 0, pos, vm->scratch, s, len);
		}
		/* no thread left: done, unless a later start may still match */
		if (!cl->n && (matched || anchored || pos >= len))
			break;
		size_t clen = 0;
		uint32_t c = pos < len ? decode_at(s, len, pos, &clen) : 0;
		nl->n = 0;
		vm->gen++;
		/* the position itself (decoding, a start thread) and each thread */
		tpl_work(cx, ((uint64_t)cl->n + 2) * W_STEP);
		for (uint32_t i = 0; i < cl->n; i++) {
			const struct rx_inst *in = &prog->inst[cl->pc[i]];
			int32_t *tc = &cl->caps[(size_t)i * vm->ncap];
			if (in->op == RX_MATCH) {
				/* an empty match where the last one was: refused,
				 * as a backtracking matcher would try the next choice */
				if (advance && tc[0] == (int32_t)start && tc[1] == (int32_t)start)
					continue;
				memcpy(vm->match, tc, vm->ncap * sizeof *tc);
				matched = true;
				break;   /* the threads after this one rank lower */
			}
			if (pos < len && consumes(prog, in, c))
				add_thread(cx, vm, nl, cl->pc[i] + 1, pos + clen, tc, s, len);
		}
		if (pos >= len)
			break;
		struct rx_list *t = cl;
		cl = nl;
		nl = t;
		pos += clen;
	}
	*caps = vm->match;
	return matched;
}
