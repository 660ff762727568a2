/* SPDX-License-Identifier: MIT */
/* The template engine: a lexer and recursive-descent parser for Home
 * Assistant's Jinja2 dialect into a tree compiled once, and an evaluator
 * that renders it into a per-render arena under bounds. */
#include "lib/internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "template/tpl.h"

/* ---- compiled form ------------------------------------------------------ */

enum nk {
	N_CONST, N_NAME, N_LIST, N_TUPLE, N_DICT, N_ATTR, N_ITEM, N_SLICE, N_CALL, N_METHOD,
	N_FILTER, N_TEST, N_NOT, N_NEG, N_POS, N_BIN, N_AND, N_OR, N_CMP, N_COND,
};

enum op {
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT,
	OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN,
};

struct node {
	unsigned char kind, op;
	bool neg;
	unsigned line, col;
	unsigned slot;
	struct node *a, *b, *c;
	struct node **args;          /* N_LIST/TUPLE/DICT (k,v pairs), calls, N_CMP operands */
	unsigned char *ops;          /* N_CMP */
	unsigned nargs, nkw;
	const struct tv_str **kwn;   /* keyword names (after the positional args) */
	const struct tpl_builtin *bi;
	const struct tv_str *name;
	struct tv k;
};

enum sk { S_TEXT, S_OUT, S_IF, S_FOR, S_SET, S_SETATTR, S_SETBLOCK, S_BREAK, S_CONTINUE };

struct stmt {
	unsigned char kind;
	bool has_set, uses_loop;
	unsigned line, col;
	struct stmt *next;
	const struct tv_str *text;
	struct node *e, *cond;
	struct stmt *body, *els;
	unsigned *targets;
	unsigned ntargets;
	unsigned loop_slot;
	const struct tv_str *attr;
};

struct cblk {
	struct cblk *next;
	max_align_t mem[];
};

struct mqb_template {
	struct cblk *blocks;
	struct stmt *body;
	const struct tv_str **names;  /* by slot */
	unsigned nslots;
	bool is_static, uses_now;
	const struct tv_str *static_text;
};

/* ---- lexer -------------------------------------------------------------- */

enum tk { T_DATA, T_VBEGIN, T_VEND, T_BBEGIN, T_BEND, T_NAME, T_STR, T_INT, T_FLOAT, T_OP, T_EOF };

struct tok {
	unsigned char kind;
	unsigned line, col;
	const char *s;
	size_t n;
	const struct tv_str *str;
	int64_t i;
	double f;
};

struct parser {
	const char *src;
	size_t len;
	struct tok *toks;
	size_t ntok, captok, pos;
	jmp_buf jb;
	int code;
	struct mqb_tpl_error *err;
	struct mqb_template *t;
	size_t namecap;
	unsigned depth;
	unsigned stmt_depth;
	unsigned loop_depth;   /* for bodies being parsed ({% break %} needs one) */
	bool in_loop_body_set; /* a set seen while parsing the current for body */
	unsigned loop_refs;
	/* position tracking */
	size_t lpos;
	unsigned lline, lcol;
};

static void *cmalloc(struct parser *p, size_t n);

_Noreturn static void perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
_Noreturn static void perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
{
	if (p->err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
		va_end(ap);
		p->err->line = line;
		p->err->column = col;
	}
	p->code = -EINVAL;
	longjmp(p->jb, 1);
}

_Noreturn static void pnomem(struct parser *p)
{
	if (p->err) {
		snprintf(p->err->message, sizeof p->err->message, "out of memory");
		p->err->line = p->err->column = 0;
	}
	p->code = -ENOMEM;
	longjmp(p->jb, 1);
}

static void *cmalloc(struct parser *p, size_t n)
{
	struct cblk *b = mqb__malloc(sizeof *b + n);
	if (!b)
		pnomem(p);
	b->next = p->t->blocks;
	p->t->blocks = b;
	memset(b->mem, 0, n);
	return b->mem;
}

static void where(struct parser *p, size_t off, unsigned *line, unsigned *col)
{
	if (off < p->lpos) {
		p->lpos = 0;
		p->lline = 1;
		p->lcol = 1;
	}
	for (; p->lpos < off; p->lpos++) {
		if (p->src[p->lpos] == '\n') {
			p->lline++;
			p->lcol = 1;
		} else {
			p->lcol++;
		}
	}
	*line = p->lline;
	*col = p->lcol;
}

static struct tok *emit(struct parser *p, enum tk kind, const char *s, size_t n)
{
	if (p->ntok == p->captok) {
		size_t cap = p->captok ? p->captok * 2 : 64;
		struct tok *nt = mqb__realloc(p->toks, cap * sizeof *nt);
		if (!nt)
			pnomem(p);
		p->toks = nt;
		p->captok = cap;
	}
	struct tok *t = &p->toks[p->ntok++];
	memset(t, 0, sizeof *t);
	t->kind = (unsigned char)kind;
	t->s = s;
	t->n = n;
	where(p, (size_t)(s - p->src), &t->line, &t->col);
	return t;
}

static const struct tv_str *cstr(struct parser *p, const char *s, size_t n)
{
	struct tv_str *r = cmalloc(p, sizeof *r + n + 1);
	r->len = n;
	if (n)
		memcpy(r->s, s, n);
	r->s[n] = 0;
	return r;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void emit_data(struct parser *p, const char *s, size_t n, bool lstrip, bool rstrip)
{
	if (lstrip)
		while (n && is_ws(*s)) {
			s++;
			n--;
		}
	if (rstrip)
		while (n && is_ws(s[n - 1]))
			n--;
	if (!n)
		return;
	struct tok *t = emit(p, T_DATA, s, n);
	if (memchr(s, '\r', n)) { /* Jinja writes newlines as \n */
		char *b = cmalloc(p, n + 1);
		size_t o = 0;
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '\r') {
				b[o++] = '\n';
				if (i + 1 < n && s[i + 1] == '\n')
					i++;
			} else {
				b[o++] = s[i];
			}
		}
		t->str = cstr(p, b, o);
	} else {
		t->str = cstr(p, s, n);
	}
}

static size_t unescape(const char *s, size_t n, char *o)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 == n) {
			o[k++] = s[i];
			continue;
		}
		char c = s[++i];
		unsigned long cp;
		int hex = 0;
		switch (c) {
		case 'n': o[k++] = '\n'; break;
		case 't': o[k++] = '\t'; break;
		case 'r': o[k++] = '\r'; break;
		case '0': o[k++] = '\0'; break;
		case 'a': o[k++] = '\a'; break;
		case 'b': o[k++] = '\b'; break;
		case 'f': o[k++] = '\f'; break;
		case 'v': o[k++] = '\v'; break;
		case '\\': case '\'': case '"': o[k++] = c; break;
		case '\n': break;
		case 'x': hex = 2; break;
		case 'u': hex = 4; break;
		case 'U': hex = 8; break;
		default: o[k++] = '\\'; o[k++] = c; break;
		}
		if (!hex)
			continue;
		cp = 0;
		int j;
		for (j = 0; j < hex && i + 1 < n; j++) {
			char h = s[i + 1];
			int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
				: h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
			if (d < 0)
				break;
			cp = cp * 16 + (unsigned long)d;
			i++;
		}
		if (cp < 0x80) {
			o[k++] = (char)cp;
		} else if (cp < 0x800) {
			o[k++] = (char)(0xc0 | (cp >> 6));
			o[k++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			o[k++] = (char)(0xe0 | (cp >> 12));
			o[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			o[k++] = (char)(0x80 | (cp & 0x3f));
		} else {
			o[k++] = (char)(0xf0 | ((cp >> 18) & 7));
			o[k++] = (char)(0x80 | ((cp >> 12) & 0x3f));
			o[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			o[k++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	return k;
}

static const char *const ops3[] = { NULL };
static const char *const ops2[] = { "//", "**", "==", "!=", "<=", ">=", NULL };

/* Tokens of one tag from i up to its end; returns the index after it and
 * whether the end had '-'. */
static size_t lex_tag(struct parser *p, size_t i, bool block, bool *strip_after)
{
	const char *s = p->src;
	size_t n = p->len;
	int braces = 0;
	(void)ops3;
	for (;;) {
		while (i < n && is_ws(s[i]))
			i++;
		if (i >= n) {
			unsigned l, c;
			where(p, n, &l, &c);
			perr(p, l, c, "unexpected end of template, expected '%s'", block ? "%}" : "}}");
		}
		char c = s[i];
		if (braces == 0) {
			const char *end = block ? "%}" : "}}";
			if (c == '-' && i + 2 < n + 0 && s[i + 1] == end[0] && s[i + 2] == end[1]) {
				emit(p, block ? T_BEND : T_VEND, s + i, 3);
				*strip_after = true;
				return i + 3;
			}
			if (c == end[0] && i + 1 < n && s[i + 1] == end[1]) {
				emit(p, block ? T_BEND : T_VEND, s + i, 2);
				*strip_after = false;
				return i + 2;
			}
		}
		if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			size_t j = i + 1;
			while (j < n && (s[j] == '_' || (s[j] >= 'a' && s[j] <= 'z') ||
					 (s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9')))
				j++;
			emit(p, T_NAME, s + i, j - i);
			i = j;
			continue;
		}
		if (c >= '0' && c <= '9') {
			size_t j = i;
			bool isf = false;
			char buf[128];
			size_t k = 0;
			while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == '_')) {
				if (s[j] != '_' && k < sizeof buf - 8)
					buf[k++] = s[j];
				j++;
			}
			if (j + 1 < n && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9' &&
			    !(p->ntok && p->toks[p->ntok - 1].kind == T_OP && p->toks[p->ntok - 1].s[0] == '.')) {
				isf = true;
				buf[k++] = s[j++];
				while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == '_')) {
					if (s[j] != '_' && k < sizeof buf - 8)
						buf[k++] = s[j];
					j++;
				}
			}
			if (j < n && (s[j] == 'e' || s[j] == 'E')) {
				size_t e = j + 1;
				if (e < n && (s[e] == '+' || s[e] == '-'))
					e++;
				if (e < n && s[e] >= '0' && s[e] <= '9') {
					isf = true;
					while (j < e)
						buf[k++] = s[j++];
					while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == '_')) {
						if (s[j] != '_' && k < sizeof buf - 1)
							buf[k++] = s[j];
						j++;
					}
				}
			}
			buf[k] = 0;
			struct tok *t = emit(p, isf ? T_FLOAT : T_INT, s + i, j - i);
			if (isf) {
				t->f = strtod(buf, NULL);
			} else {
				errno = 0;
				unsigned long long v = strtoull(buf, NULL, 10);
				if (errno || v > INT64_MAX)
					perr(p, t->line, t->col, "integer literal too large");
				t->i = (int64_t)v;
			}
			i = j;
			continue;
		}
		if (c == '\'' || c == '"') {
			size_t j = i + 1;
			while (j < n && s[j] != c) {
				if (s[j] == '\\')
					j++;
				j++;
			}
			if (j >= n) {
				unsigned l, cc;
				where(p, i, &l, &cc);
				perr(p, l, cc, "unexpected end of string");
			}
			struct tok *t = emit(p, T_STR, s + i, j + 1 - i);
			char *b = cmalloc(p, j - i + 4);
			size_t k = unescape(s + i + 1, j - i - 1, b);
			t->str = cstr(p, b, k);
			i = j + 1;
			continue;
		}
		size_t oplen = 0;
		for (int k = 0; ops2[k]; k++)
			if (i + 1 < n && s[i] == ops2[k][0] && s[i + 1] == ops2[k][1])
				oplen = 2;
		if (!oplen && strchr("+-*/%~<>()[]{},.:|=", c))
			oplen = 1;
		if (!oplen) {
			unsigned l, cc;
			where(p, i, &l, &cc);
			perr(p, l, cc, "unexpected char '%c'", c);
		}
		if (c == '{')
			braces++;
		if (c == '}') {
			if (braces == 0) {
				unsigned l, cc;
				where(p, i, &l, &cc);
				perr(p, l, cc, "unexpected '}'");
			}
			braces--;
		}
		emit(p, T_OP, s + i, oplen);
		i += oplen;
	}
}

static void lex(struct parser *p)
{
	const char *s = p->src;
	size_t n = p->len;
	size_t i = 0;
	bool lstrip = false;
	/* keep_trailing_newline=False */
	if (n && s[n - 1] == '\n')
		n--;
	if (n && s[n - 1] == '\r')
		n--;
	p->len = n;
	while (i < n) {
		size_t q = i;
		while (q + 1 < n && !(s[q] == '{' && (s[q + 1] == '{' || s[q + 1] == '%' || s[q + 1] == '#')))
			q++;
		if (q + 1 >= n) {
			emit_data(p, s + i, n - i, lstrip, false);
			break;
		}
		char c = s[q + 1];
		bool rstrip = q + 2 < n && s[q + 2] == '-';
		size_t body = q + 2 + (q + 2 < n && (s[q + 2] == '-' || s[q + 2] == '+'));
		if (c == '#') {
			size_t e = body;
			while (e + 1 < n && !(s[e] == '#' && s[e + 1] == '}'))
				e++;
			if (e + 1 >= n) {
				unsigned l, cc;
				where(p, q, &l, &cc);
				perr(p, l, cc, "missing end of comment tag");
			}
			emit_data(p, s + i, q - i, lstrip, rstrip);
			lstrip = e > body && s[e - 1] == '-';
			i = e + 2;
			continue;
		}
		emit_data(p, s + i, q - i, lstrip, rstrip);
		if (c == '%') {
			/* {% raw %} ... {% endraw %} */
			size_t j = body;
			while (j < n && is_ws(s[j]))
				j++;
			if (j + 3 <= n && memcmp(s + j, "raw", 3) == 0 &&
			    (j + 3 == n || !(s[j + 3] == '_' || (s[j + 3] >= 'a' && s[j + 3] <= 'z') ||
					     (s[j + 3] >= '0' && s[j + 3] <= '9')))) {
				j += 3;
				while (j < n && is_ws(s[j]))
					j++;
				bool ls = false;
				if (j < n && s[j] == '-') {
					ls = true;
					j++;
				}
				if (j + 1 >= n || s[j] != '%' || s[j + 1] != '}') {
					unsigned l, cc;
					where(p, j, &l, &cc);
					perr(p, l, cc, "expected '%%}' after 'raw'");
				}
				j += 2;
				/* find {%-? endraw -?%} */
				size_t k = j;
				for (;;) {
					if (k + 1 >= n) {
						unsigned l, cc;
						where(p, q, &l, &cc);
						perr(p, l, cc, "missing endraw for raw");
					}
					if (s[k] == '{' && s[k + 1] == '%') {
						size_t m = k + 2;
						bool rs = m < n && s[m] == '-';
						if (rs || (m < n && s[m] == '+'))
							m++;
						while (m < n && is_ws(s[m]))
							m++;
						if (m + 6 <= n && memcmp(s + m, "endraw", 6) == 0) {
							m += 6;
							while (m < n && is_ws(s[m]))
								m++;
							bool as = m < n && s[m] == '-';
							if (as)
								m++;
							if (m + 1 < n && s[m] == '%' && s[m + 1] == '}') {
								emit_data(p, s + j, k - j, ls, rs);
								lstrip = as;
								i = m + 2;
								break;
							}
						}
					}
					k++;
				}
				continue;
			}
		}
		emit(p, c == '{' ? T_VBEGIN : T_BBEGIN, s + q, body - q);
		i = lex_tag(p, body, c == '%', &lstrip);
	}
	emit(p, T_EOF, s + n, 0);
}

/* ---- parser ------------------------------------------------------------- */

static struct tok *cur(struct parser *p) { return &p->toks[p->pos]; }
static struct tok *peek(struct parser *p, size_t k)
{
	size_t i = p->pos + k;
	return &p->toks[i < p->ntok ? i : p->ntok - 1];
}

static bool tok_is(const struct tok *t, enum tk kind, const char *s)
{
	return t->kind == kind && strlen(s) == t->n && memcmp(t->s, s, t->n) == 0;
}
static bool is_op(struct parser *p, const char *s) { return tok_is(cur(p), T_OP, s); }
static bool is_name(struct parser *p, const char *s) { return tok_is(cur(p), T_NAME, s); }

static const char *tok_desc(const struct tok *t, char *buf, size_t n)
{
	switch (t->kind) {
	case T_EOF: return "end of template";
	case T_VEND: return "end of print statement";
	case T_BEND: return "end of statement block";
	case T_DATA: return "template data";
	default:
		snprintf(buf, n, "%.*s", (int)(t->n > 40 ? 40 : t->n), t->s);
		return buf;
	}
}

_Noreturn static void unexpected(struct parser *p)
{
	char b[64];
	struct tok *t = cur(p);
	perr(p, t->line, t->col, "unexpected '%s'", tok_desc(t, b, sizeof b));
}

static void expect_op(struct parser *p, const char *s)
{
	if (!is_op(p, s)) {
		char b[64];
		struct tok *t = cur(p);
		perr(p, t->line, t->col, "expected '%s', got '%s'", s, tok_desc(t, b, sizeof b));
	}
	p->pos++;
}

static struct node *mk(struct parser *p, enum nk kind, const struct tok *t)
{
	struct node *n = cmalloc(p, sizeof *n);
	n->kind = (unsigned char)kind;
	n->line = t->line;
	n->col = t->col;
	return n;
}

static unsigned slot_of(struct parser *p, const char *s, size_t n)
{
	struct mqb_template *t = p->t;
	for (unsigned i = 0; i < t->nslots; i++)
		if (t->names[i]->len == n && memcmp(t->names[i]->s, s, n) == 0)
			return i;
	if (t->nslots == p->namecap) {
		size_t cap = p->namecap ? p->namecap * 2 : 16;
		const struct tv_str **nn = cmalloc(p, cap * sizeof *nn);
		if (t->nslots)
			memcpy(nn, t->names, t->nslots * sizeof *nn);
		t->names = nn;
		p->namecap = cap;
	}
	t->names[t->nslots] = cstr(p, s, n);
	return t->nslots++;
}

static struct node *parse_expr(struct parser *p);
static struct node *parse_or(struct parser *p);
static struct node *parse_unary(struct parser *p, bool with_filter);
static struct node *parse_primary(struct parser *p);
static struct node *parse_postfix(struct parser *p, struct node *n);

static void enter(struct parser *p)
{
	if (++p->depth > 200) {
		struct tok *t = cur(p);
		perr(p, t->line, t->col, "expression nested too deeply");
	}
}

/* Arguments "(a, b, k=v)"; the opening paren is current. first: an
 * argument placed before them (a filter's value), or NULL. */
static void parse_args(struct parser *p, struct node *n, struct node *first)
{
	struct node *pos[64], *kwv[32];
	const struct tv_str *kwn[32];
	unsigned np = 0, nk = 0;
	if (first)
		pos[np++] = first;
	if (is_op(p, "(")) {
		p->pos++;
		bool any = false;
		while (!is_op(p, ")")) {
			if (any) {
				expect_op(p, ",");
				if (is_op(p, ")"))
					break;
			}
			any = true;
			struct tok *t = cur(p);
			if (t->kind == T_NAME && tok_is(peek(p, 1), T_OP, "=")) {
				if (nk == 32)
					perr(p, t->line, t->col, "too many arguments");
				kwn[nk] = cstr(p, t->s, t->n);
				p->pos += 2;
				kwv[nk++] = parse_expr(p);
			} else {
				if (nk)
					perr(p, t->line, t->col, "positional argument follows keyword argument");
				if (np == 64)
					perr(p, t->line, t->col, "too many arguments");
				pos[np++] = parse_expr(p);
			}
		}
		p->pos++;
	}
	n->nargs = np;
	n->nkw = nk;
	n->args = cmalloc(p, (np + nk + 1) * sizeof *n->args);
	memcpy(n->args, pos, np * sizeof *pos);
	memcpy(n->args + np, kwv, nk * sizeof *kwv);
	if (nk) {
		n->kwn = cmalloc(p, nk * sizeof *n->kwn);
		memcpy(n->kwn, kwn, nk * sizeof *kwn);
	}
}

static void check_arity(struct parser *p, struct node *n, const char *what)
{
	const struct tpl_builtin *b = n->bi;
	if (n->nargs > b->max_args)
		perr(p, n->line, n->col, "%s '%s' takes at most %u argument%s", what, b->name,
		     b->max_args - (n->kind != N_CALL), b->max_args - (n->kind != N_CALL) == 1 ? "" : "s");
	if (b->uses_now)
		p->t->uses_now = true;
}

static struct node *parse_filter(struct parser *p, struct node *val)
{
	struct tok *t = cur(p);
	if (t->kind != T_NAME)
		unexpected(p);
	struct node *n = mk(p, N_FILTER, t);
	n->bi = tpl_builtin_find(t->s, t->n, TPL_FILTER);
	if (!n->bi)
		perr(p, t->line, t->col, "no filter named '%.*s'", (int)t->n, t->s);
	p->pos++;
	parse_args(p, n, val);
	check_arity(p, n, "filter");
	return n;
}

static bool starts_primary(struct parser *p)
{
	struct tok *t = cur(p);
	if (t->kind == T_STR || t->kind == T_INT || t->kind == T_FLOAT)
		return true;
	if (t->kind == T_NAME)
		return !is_name(p, "else") && !is_name(p, "or") && !is_name(p, "and") &&
		       !is_name(p, "is") && !is_name(p, "in") && !is_name(p, "if") && !is_name(p, "not");
	return is_op(p, "(") || is_op(p, "[") || is_op(p, "{");
}

static struct node *parse_test(struct parser *p, struct node *val)
{
	bool neg = false;
	if (is_name(p, "not")) {
		neg = true;
		p->pos++;
	}
	struct tok *t = cur(p);
	const char *nm = t->s;
	size_t nl = t->n;
	if (t->kind == T_OP && (is_op(p, "==") || is_op(p, "!=") || is_op(p, "<") || is_op(p, ">") ||
				is_op(p, "<=") || is_op(p, ">=")))
		;
	else if (t->kind != T_NAME)
		unexpected(p);
	struct node *n = mk(p, N_TEST, t);
	n->neg = neg;
	n->bi = tpl_builtin_find(nm, nl, TPL_TEST);
	if (!n->bi)
		perr(p, t->line, t->col, "no test named '%.*s'", (int)nl, nm);
	p->pos++;
	if (is_op(p, "(")) {
		parse_args(p, n, val);
	} else if (starts_primary(p)) {
		struct node *arg = parse_postfix(p, parse_primary(p));
		n->args = cmalloc(p, 2 * sizeof *n->args);
		n->args[0] = val;
		n->args[1] = arg;
		n->nargs = 2;
	} else {
		n->args = cmalloc(p, sizeof *n->args);
		n->args[0] = val;
		n->nargs = 1;
	}
	if (n->nargs + n->nkw < n->bi->min_args)
		perr(p, n->line, n->col, "test '%s' needs an argument", n->bi->name);
	check_arity(p, n, "test");
	if (is_name(p, "is"))
		perr(p, cur(p)->line, cur(p)->col, "cannot chain multiple tests with is");
	return n;
}

static struct node *parse_filter_expr(struct parser *p, struct node *n)
{
	for (;;) {
		if (is_op(p, "|")) {
			p->pos++;
			n = parse_filter(p, n);
		} else if (is_name(p, "is")) {
			p->pos++;
			n = parse_test(p, n);
		} else {
			return n;
		}
	}
}

static struct node *parse_subscript(struct parser *p)
{
	struct tok *t = cur(p);
	struct node *a = NULL, *b = NULL, *c = NULL;
	if (!is_op(p, ":"))
		a = parse_expr(p);
	if (!is_op(p, ":"))
		return a;
	p->pos++;
	if (!is_op(p, "]") && !is_op(p, ":") && !is_op(p, ","))
		b = parse_expr(p);
	if (is_op(p, ":")) {
		p->pos++;
		if (!is_op(p, "]") && !is_op(p, ","))
			c = parse_expr(p);
	}
	struct node *s = mk(p, N_SLICE, t);
	s->a = a;
	s->b = b;
	s->c = c;
	return s;
}

static struct node *parse_postfix(struct parser *p, struct node *n)
{
	for (;;) {
		struct tok *t = cur(p);
		if (is_op(p, ".")) {
			p->pos++;
			struct tok *a = cur(p);
			if (a->kind == T_NAME) {
				struct node *x = mk(p, N_ATTR, a);
				x->a = n;
				x->name = cstr(p, a->s, a->n);
				n = x;
			} else if (a->kind == T_INT) {
				struct node *x = mk(p, N_ITEM, a), *k = mk(p, N_CONST, a);
				k->k = tv_int(a->i);
				x->a = n;
				x->b = k;
				n = x;
			} else {
				perr(p, a->line, a->col, "expected name or number");
			}
			p->pos++;
		} else if (is_op(p, "[")) {
			p->pos++;
			struct node *x = mk(p, N_ITEM, t);
			x->a = n;
			x->b = parse_subscript(p);
			if (is_op(p, ",")) {
				struct node *tu = mk(p, N_TUPLE, t);
				struct node *items[16];
				unsigned ni = 0;
				items[ni++] = x->b;
				while (is_op(p, ",")) {
					p->pos++;
					if (is_op(p, "]"))
						break;
					if (ni == 16)
						unexpected(p);
					items[ni++] = parse_subscript(p);
				}
				/* A slice is only a whole subscript (x[1:2]), never a
				 * tuple's element: x[1, :2] means nothing here. */
				for (unsigned k = 0; k < ni; k++)
					if (items[k]->kind == N_SLICE)
						perr(p, items[k]->line, items[k]->col,
						     "a slice cannot be part of a tuple subscript");
				tu->args = cmalloc(p, ni * sizeof *items);
				memcpy(tu->args, items, ni * sizeof *items);
				tu->nargs = ni;
				x->b = tu;
			}
			expect_op(p, "]");
			if (x->b->kind == N_SLICE) {
				x->b->kind = N_SLICE;
				struct node *sl = x->b;
				sl->line = x->line;
				sl->col = x->col;
				x->kind = N_SLICE;
				x->b = sl->a;
				x->c = sl->b;
				x->args = cmalloc(p, sizeof *x->args);
				x->args[0] = sl->c;
			}
			n = x;
		} else if (is_op(p, "(")) {
			struct node *x;
			if (n->kind == N_NAME) {
				const struct tv_str *nm = p->t->names[n->slot];
				x = mk(p, N_CALL, t);
				x->line = n->line;
				x->col = n->col;
				x->bi = tpl_builtin_find(nm->s, nm->len, TPL_FUNCTION);
				if (!x->bi)
					perr(p, n->line, n->col, "no function named '%s'", nm->s);
				parse_args(p, x, NULL);
				check_arity(p, x, "function");
				if (x->nargs + x->nkw < x->bi->min_args)
					perr(p, n->line, n->col, "function '%s' needs %u argument%s",
					     x->bi->name, x->bi->min_args, x->bi->min_args == 1 ? "" : "s");
			} else if (n->kind == N_ATTR) {
				x = mk(p, N_METHOD, t);
				x->line = n->line;
				x->col = n->col;
				x->a = n->a;
				x->name = n->name;
				parse_args(p, x, NULL);
			} else {
				perr(p, t->line, t->col, "this value cannot be called");
			}
			n = x;
		} else {
			return n;
		}
	}
}

static struct node *parse_seq(struct parser *p, enum nk kind, const char *close, struct node *first,
			      const struct tok *t)
{
	struct node *items[256];
	unsigned ni = 0;
	struct node *n = mk(p, kind, t);
	bool need_comma = false;
	if (first)
		items[ni++] = first;
	while (!is_op(p, close)) {
		if (need_comma)
			expect_op(p, ",");
		need_comma = true;
		if (is_op(p, close))
			break;
		if (ni >= 254)
			perr(p, cur(p)->line, cur(p)->col, "literal too long");
		items[ni++] = parse_expr(p);
		if (kind == N_DICT) {
			expect_op(p, ":");
			items[ni++] = parse_expr(p);
		}
	}
	p->pos++;
	n->args = cmalloc(p, (ni + 1) * sizeof *items);
	memcpy(n->args, items, ni * sizeof *items);
	n->nargs = ni;
	return n;
}

static struct node *parse_primary(struct parser *p)
{
	struct tok *t = cur(p);
	struct node *n;
	enter(p);
	switch (t->kind) {
	case T_NAME:
		p->pos++;
		n = mk(p, N_CONST, t);
		if (tok_is(t, T_NAME, "true") || tok_is(t, T_NAME, "True"))
			n->k = tv_bool(true);
		else if (tok_is(t, T_NAME, "false") || tok_is(t, T_NAME, "False"))
			n->k = tv_bool(false);
		else if (tok_is(t, T_NAME, "none") || tok_is(t, T_NAME, "None"))
			n->k = tv_none();
		else {
			n->kind = N_NAME;
			n->slot = slot_of(p, t->s, t->n);
		}
		break;
	case T_STR: {
		p->pos++;
		n = mk(p, N_CONST, t);
		const struct tv_str *s = t->str;
		while (cur(p)->kind == T_STR) { /* "a" "b" */
			const struct tv_str *s2 = cur(p)->str;
			char *b = cmalloc(p, s->len + s2->len + 1);
			memcpy(b, s->s, s->len);
			memcpy(b + s->len, s2->s, s2->len);
			s = cstr(p, b, s->len + s2->len);
			p->pos++;
		}
		n->k = tv_strv(s);
		break;
	}
	case T_INT:
		p->pos++;
		n = mk(p, N_CONST, t);
		n->k = tv_int(t->i);
		break;
	case T_FLOAT:
		p->pos++;
		n = mk(p, N_CONST, t);
		n->k = tv_float(t->f);
		break;
	case T_OP:
		if (is_op(p, "(")) {
			p->pos++;
			if (is_op(p, ")")) {
				p->pos++;
				n = mk(p, N_TUPLE, t);
				break;
			}
			struct node *e = parse_expr(p);
			if (is_op(p, ",")) {
				p->pos++;
				n = parse_seq(p, N_TUPLE, ")", e, t);
			} else {
				expect_op(p, ")");
				n = e;
			}
			break;
		}
		if (is_op(p, "[")) {
			p->pos++;
			n = parse_seq(p, N_LIST, "]", NULL, t);
			break;
		}
		if (is_op(p, "{")) {
			p->pos++;
			n = parse_seq(p, N_DICT, "}", NULL, t);
			break;
		}
		/* fallthrough */
	default:
		unexpected(p);
	}
	p->depth--;
	return n;
}

static struct node *parse_unary(struct parser *p, bool with_filter)
{
	struct tok *t = cur(p);
	struct node *n;
	enter(p);
	if (is_op(p, "-") || is_op(p, "+")) {
		p->pos++;
		n = mk(p, t->s[0] == '-' ? N_NEG : N_POS, t);
		n->a = parse_unary(p, false);
	} else {
		n = parse_primary(p);
	}
	n = parse_postfix(p, n);
	if (with_filter)
		n = parse_filter_expr(p, n);
	p->depth--;
	return n;
}

static struct node *bin(struct parser *p, struct tok *t, enum op op, struct node *a, struct node *b)
{
	struct node *n = mk(p, N_BIN, t);
	n->op = (unsigned char)op;
	n->a = a;
	n->b = b;
	return n;
}

static struct node *parse_pow(struct parser *p)
{
	struct node *n = parse_unary(p, true);
	while (is_op(p, "**")) {
		struct tok *t = cur(p);
		p->pos++;
		n = bin(p, t, OP_POW, n, parse_unary(p, true));
	}
	return n;
}

static struct node *parse_math2(struct parser *p)
{
	struct node *n = parse_pow(p);
	for (;;) {
		struct tok *t = cur(p);
		enum op op;
		if (is_op(p, "*")) op = OP_MUL;
		else if (is_op(p, "/")) op = OP_DIV;
		else if (is_op(p, "//")) op = OP_FLOORDIV;
		else if (is_op(p, "%")) op = OP_MOD;
		else return n;
		p->pos++;
		n = bin(p, t, op, n, parse_pow(p));
	}
}

static struct node *parse_concat(struct parser *p)
{
	struct node *n = parse_math2(p);
	while (is_op(p, "~")) {
		struct tok *t = cur(p);
		p->pos++;
		n = bin(p, t, OP_CONCAT, n, parse_math2(p));
	}
	return n;
}

static struct node *parse_math1(struct parser *p)
{
	struct node *n = parse_concat(p);
	for (;;) {
		struct tok *t = cur(p);
		enum op op;
		if (is_op(p, "+")) op = OP_ADD;
		else if (is_op(p, "-")) op = OP_SUB;
		else return n;
		p->pos++;
		n = bin(p, t, op, n, parse_concat(p));
	}
}

static struct node *parse_compare(struct parser *p)
{
	struct tok *t0 = cur(p);
	struct node *first = parse_math1(p);
	struct node *opnds[32];
	unsigned char ops[32];
	unsigned n = 0;
	opnds[0] = first;
	for (;;) {
		enum op op;
		if (is_op(p, "==")) op = OP_EQ;
		else if (is_op(p, "!=")) op = OP_NE;
		else if (is_op(p, "<")) op = OP_LT;
		else if (is_op(p, "<=")) op = OP_LE;
		else if (is_op(p, ">")) op = OP_GT;
		else if (is_op(p, ">=")) op = OP_GE;
		else if (is_name(p, "in")) op = OP_IN;
		else if (is_name(p, "not") && tok_is(peek(p, 1), T_NAME, "in")) {
			op = OP_NOTIN;
			p->pos++;
		} else break;
		p->pos++;
		if (n == 30)
			unexpected(p);
		ops[n] = (unsigned char)op;
		opnds[++n] = parse_math1(p);
	}
	if (!n)
		return first;
	struct node *c = mk(p, N_CMP, t0);
	c->nargs = n + 1;
	c->args = cmalloc(p, (n + 1) * sizeof *opnds);
	memcpy(c->args, opnds, (n + 1) * sizeof *opnds);
	c->ops = cmalloc(p, n);
	memcpy(c->ops, ops, n);
	return c;
}

static struct node *parse_not(struct parser *p)
{
	if (is_name(p, "not")) {
		struct tok *t = cur(p);
		p->pos++;
		enter(p);
		struct node *n = mk(p, N_NOT, t);
		n->a = parse_not(p);
		p->depth--;
		return n;
	}
	return parse_compare(p);
}

static struct node *parse_and(struct parser *p)
{
	struct node *n = parse_not(p);
	while (is_name(p, "and")) {
		struct tok *t = cur(p);
		p->pos++;
		struct node *x = mk(p, N_AND, t);
		x->a = n;
		x->b = parse_not(p);
		n = x;
	}
	return n;
}

static struct node *parse_or(struct parser *p)
{
	struct node *n = parse_and(p);
	while (is_name(p, "or")) {
		struct tok *t = cur(p);
		p->pos++;
		struct node *x = mk(p, N_OR, t);
		x->a = n;
		x->b = parse_and(p);
		n = x;
	}
	return n;
}

static struct node *parse_expr(struct parser *p)
{
	enter(p);
	struct node *n = parse_or(p);
	while (is_name(p, "if")) {
		struct tok *t = cur(p);
		p->pos++;
		struct node *x = mk(p, N_COND, t);
		x->b = n;
		x->a = parse_or(p);
		if (is_name(p, "else")) {
			p->pos++;
			x->c = parse_expr(p);
		}
		n = x;
	}
	p->depth--;
	return n;
}

/* An expression or an unparenthesised tuple ("a, b"). */
static struct node *parse_tuple(struct parser *p)
{
	struct tok *t = cur(p);
	struct node *n = parse_expr(p);
	if (!is_op(p, ","))
		return n;
	struct node *items[64];
	unsigned ni = 0;
	items[ni++] = n;
	while (is_op(p, ",")) {
		p->pos++;
		if (cur(p)->kind == T_VEND || cur(p)->kind == T_BEND)
			break;
		if (ni == 64)
			unexpected(p);
		items[ni++] = parse_expr(p);
	}
	struct node *tu = mk(p, N_TUPLE, t);
	tu->args = cmalloc(p, ni * sizeof *items);
	memcpy(tu->args, items, ni * sizeof *items);
	tu->nargs = ni;
	return tu;
}

static void expect_end(struct parser *p, enum tk kind)
{
	if (cur(p)->kind != kind)
		unexpected(p);
	p->pos++;
}

static struct stmt *mks(struct parser *p, enum sk kind, const struct tok *t)
{
	struct stmt *s = cmalloc(p, sizeof *s);
	s->kind = (unsigned char)kind;
	s->line = t->line;
	s->col = t->col;
	return s;
}

/* Parse statements until a block tag named in ends (NULL-terminated);
 * leaves pos at that tag's name. */
static struct stmt *parse_body(struct parser *p, const char *const *ends, const char *opener);

static unsigned parse_targets(struct parser *p, unsigned *targets)
{
	unsigned n = 0;
	bool paren = is_op(p, "(");
	if (paren)
		p->pos++;
	for (;;) {
		struct tok *t = cur(p);
		if (t->kind != T_NAME)
			unexpected(p);
		if (n == 8)
			perr(p, t->line, t->col, "too many targets");
		targets[n++] = slot_of(p, t->s, t->n);
		p->pos++;
		if (!is_op(p, ","))
			break;
		p->pos++;
	}
	if (paren)
		expect_op(p, ")");
	return n;
}

static struct stmt *parse_if(struct parser *p, struct tok *t)
{
	static const char *const ends[] = { "elif", "else", "endif", NULL };
	struct stmt *s = mks(p, S_IF, t);
	s->e = parse_tuple(p);
	expect_end(p, T_BEND);
	s->body = parse_body(p, ends, "if");
	struct tok *e = cur(p);
	p->pos++;
	if (tok_is(e, T_NAME, "elif")) {
		s->els = parse_if(p, e);
		return s;
	}
	if (tok_is(e, T_NAME, "else")) {
		static const char *const ends2[] = { "endif", NULL };
		expect_end(p, T_BEND);
		s->els = parse_body(p, ends2, "if");
		p->pos++;
	}
	expect_end(p, T_BEND);
	return s;
}

static bool body_uses(struct stmt *s, unsigned slot);

static bool node_uses(struct node *n, unsigned slot)
{
	if (!n)
		return false;
	if (n->kind == N_NAME && n->slot == slot)
		return true;
	if (node_uses(n->a, slot) || node_uses(n->b, slot) || node_uses(n->c, slot))
		return true;
	for (unsigned i = 0; i < n->nargs + n->nkw; i++)
		if (n->args && node_uses(n->args[i], slot))
			return true;
	return false;
}

static bool body_uses(struct stmt *s, unsigned slot)
{
	for (; s; s = s->next)
		if (node_uses(s->e, slot) || node_uses(s->cond, slot) || body_uses(s->body, slot) ||
		    body_uses(s->els, slot))
			return true;
	return false;
}

static bool body_sets(struct stmt *s)
{
	for (; s; s = s->next)
		if (s->kind == S_SET || s->kind == S_SETBLOCK || s->kind == S_FOR ||
		    body_sets(s->body) || body_sets(s->els))
			return true;
	return false;
}

static struct stmt *parse_for(struct parser *p, struct tok *t)
{
	static const char *const ends[] = { "else", "endfor", NULL };
	struct stmt *s = mks(p, S_FOR, t);
	unsigned tg[8];
	s->ntargets = parse_targets(p, tg);
	s->targets = cmalloc(p, s->ntargets * sizeof *tg);
	memcpy(s->targets, tg, s->ntargets * sizeof *tg);
	if (!is_name(p, "in"))
		perr(p, cur(p)->line, cur(p)->col, "expected 'in'");
	p->pos++;
	/* no inline if here: "if" filters the loop */
	{
		struct tok *t0 = cur(p);
		struct node *n = parse_or(p);
		if (is_op(p, ",")) {
			struct node *items[64];
			unsigned ni = 0;
			items[ni++] = n;
			while (is_op(p, ",")) {
				p->pos++;
				if (cur(p)->kind == T_BEND || is_name(p, "if"))
					break;
				if (ni == 64)
					unexpected(p);
				items[ni++] = parse_or(p);
			}
			struct node *tu = mk(p, N_TUPLE, t0);
			tu->args = cmalloc(p, ni * sizeof *items);
			memcpy(tu->args, items, ni * sizeof *items);
			tu->nargs = ni;
			n = tu;
		}
		s->e = n;
	}
	if (is_name(p, "if")) {
		p->pos++;
		s->cond = parse_expr(p);
	}
	if (is_name(p, "recursive"))
		perr(p, cur(p)->line, cur(p)->col, "recursive loops are not supported");
	expect_end(p, T_BEND);
	p->loop_depth++;
	s->body = parse_body(p, ends, "for");
	p->loop_depth--;
	struct tok *e = cur(p);
	p->pos++;
	if (tok_is(e, T_NAME, "else")) {
		static const char *const ends2[] = { "endfor", NULL };
		expect_end(p, T_BEND);
		s->els = parse_body(p, ends2, "for");
		p->pos++;
	}
	expect_end(p, T_BEND);
	s->loop_slot = slot_of(p, "loop", 4);
	s->uses_loop = body_uses(s->body, s->loop_slot);
	s->has_set = body_sets(s->body);
	return s;
}

static struct stmt *parse_set(struct parser *p, struct tok *t)
{
	struct stmt *s = mks(p, S_SET, t);
	unsigned tg[8];
	struct tok *nt = cur(p);
	if (nt->kind == T_NAME && tok_is(peek(p, 1), T_OP, ".")) {
		struct tok *at = peek(p, 2);
		if (at->kind != T_NAME)
			perr(p, at->line, at->col, "expected name");
		s->kind = S_SETATTR;
		tg[0] = slot_of(p, nt->s, nt->n);
		s->ntargets = 1;
		s->attr = cstr(p, at->s, at->n);
		p->pos += 3;
	} else {
		s->ntargets = parse_targets(p, tg);
	}
	s->targets = cmalloc(p, s->ntargets * sizeof *tg);
	memcpy(s->targets, tg, s->ntargets * sizeof *tg);
	if (cur(p)->kind == T_BEND && s->kind == S_SET && s->ntargets == 1) {
		static const char *const ends[] = { "endset", NULL };
		p->pos++;
		s->kind = S_SETBLOCK;
		s->body = parse_body(p, ends, "set");
		p->pos++;
		expect_end(p, T_BEND);
		return s;
	}
	expect_op(p, "=");
	s->e = parse_tuple(p);
	expect_end(p, T_BEND);
	return s;
}

static struct stmt *parse_body(struct parser *p, const char *const *ends, const char *opener)
{
	struct stmt *head = NULL, **tail = &head;
	if (++p->stmt_depth > 100)
		perr(p, cur(p)->line, cur(p)->col, "blocks nested too deeply");
	for (;;) {
		struct tok *t = cur(p);
		struct stmt *s = NULL;
		if (t->kind == T_EOF) {
			if (ends)
				perr(p, t->line, t->col, "unexpected end of template, expected 'end%s'",
				     opener);
			break;
		}
		if (t->kind == T_DATA) {
			s = mks(p, S_TEXT, t);
			s->text = t->str;
			p->pos++;
		} else if (t->kind == T_VBEGIN) {
			p->pos++;
			s = mks(p, S_OUT, cur(p));
			s->e = parse_tuple(p);
			expect_end(p, T_VEND);
		} else if (t->kind == T_BBEGIN) {
			p->pos++;
			struct tok *nm = cur(p);
			if (nm->kind != T_NAME)
				unexpected(p);
			if (ends)
				for (int i = 0; ends[i]; i++)
					if (tok_is(nm, T_NAME, ends[i])) {
						p->stmt_depth--;
						return head;
					}
			p->pos++;
			if (tok_is(nm, T_NAME, "if"))
				s = parse_if(p, nm);
			else if (tok_is(nm, T_NAME, "for"))
				s = parse_for(p, nm);
			else if (tok_is(nm, T_NAME, "set"))
				s = parse_set(p, nm);
			else if (tok_is(nm, T_NAME, "break") || tok_is(nm, T_NAME, "continue")) {
				/* Home Assistant enables Jinja's loopcontrols extension */
				if (!p->loop_depth)
					perr(p, nm->line, nm->col, "'%.*s' outside loop", (int)nm->n,
					     nm->s);
				s = mks(p, nm->s[0] == 'b' ? S_BREAK : S_CONTINUE, nm);
				expect_end(p, T_BEND);
			} else
				perr(p, nm->line, nm->col, "unknown tag '%.*s'", (int)nm->n, nm->s);
		} else {
			unexpected(p);
		}
		*tail = s;
		tail = &s->next;
	}
	p->stmt_depth--;
	return head;
}

static void template_free_blocks(struct mqb_template *t)
{
	struct cblk *b = t->blocks;
	while (b) {
		struct cblk *n = b->next;
		mqb__free(b);
		b = n;
	}
}

int mqb_template_compile(const char *text, size_t len, struct mqb_template **out,
			 struct mqb_tpl_error *err)
{
	struct parser p = { .src = text, .len = len, .err = err, .lline = 1, .lcol = 1 };
	struct mqb_template *t = mqb__calloc(1, sizeof *t);
	*out = NULL;
	if (!t) {
		if (err) {
			snprintf(err->message, sizeof err->message, "out of memory");
			err->line = err->column = 0;
		}
		return -ENOMEM;
	}
	p.t = t;
	if (setjmp(p.jb)) {
		mqb__free(p.toks);
		template_free_blocks(t);
		mqb__free(t);
		return p.code;
	}
	lex(&p);
	t->body = parse_body(&p, NULL, NULL);
	t->is_static = true;
	for (size_t i = 0; i < p.ntok; i++)
		if (p.toks[i].kind != T_DATA && p.toks[i].kind != T_EOF)
			t->is_static = false;
	if (t->is_static) {
		struct tpl_buf b = { 0 };
		size_t n = 0;
		for (struct stmt *s = t->body; s; s = s->next)
			n += s->text->len;
		char *c = cmalloc(&p, n + 1);
		(void)b;
		n = 0;
		for (struct stmt *s = t->body; s; s = s->next) {
			memcpy(c + n, s->text->s, s->text->len);
			n += s->text->len;
		}
		t->static_text = cstr(&p, c, n);
	}
	mqb__free(p.toks);
	*out = t;
	return 0;
}

void mqb_template_free(struct mqb_template *t)
{
	if (!t)
		return;
	template_free_blocks(t);
	mqb__free(t);
}

bool mqb_template_is_static(const struct mqb_template *t)
{
	return t->is_static;
}

bool mqb_template_uses_name(const struct mqb_template *t, const char *name)
{
	size_t len = strlen(name);
	for (unsigned i = 0; i < t->nslots; i++)
		if (t->names[i] && t->names[i]->len == len && memcmp(t->names[i]->s, name, len) == 0)
			return true;
	return false;
}

bool mqb_template_uses_now(const struct mqb_template *t)
{
	return t->uses_now;
}

/* ---- render context ----------------------------------------------------- */

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
	for (const struct tpl_seen *s = cx->seen; s; s = s->next)
		if (strcmp(s->id, entity_id) == 0)
			return;
	struct tpl_seen *s = tpl_alloc(cx, sizeof *s);
	s->id = tpl_str(cx, entity_id, strlen(entity_id))->s;
	s->next = cx->seen;
	cx->seen = s;
	cx->vars->on_entity(cx->vars->ud, entity_id);
}

void tpl_fail_undefined(struct tpl_ctx *cx, struct tv v)
{
	const struct tv_str *n = v.p;
	if (n)
		tpl_fail(cx, "'%s' is undefined", n->s);
	tpl_fail(cx, "value is undefined");
}

static void out_add(struct tpl_ctx *cx, const char *s, size_t n)
{
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

static struct tv resolve(struct tpl_ctx *cx, unsigned slot)
{
	const struct tv_str *nm = cx->t->names[slot];
	const struct mqb_tpl_vars *vars = cx->vars;
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
					/* Straight into the arena (src/tpl_json.c):
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
	struct tv u = tv_undef();
	u.p = nm;
	return u;
}

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
	case TV_NAMESPACE: {
		struct tv l = tv_list_new(cx, v.d->n);
		if (v.d->n)
			memcpy(l.l->v, v.d->k, v.d->n * sizeof *l.l->v);
		l.l->n = v.d->n;
		return l;
	}
	case TV_STR: {
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

struct tv tpl_getattr(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len)
{
	switch (obj.t) {
	case TV_UNDEFINED:
		tpl_check_defined(cx, obj);
		break;
	case TV_DICT:
	case TV_NAMESPACE: {
		const struct tv_dict *d = obj.d;
		for (size_t i = 0; i < d->n; i++)
			if (d->k[i].t == TV_STR && d->k[i].s->len == len &&
			    memcmp(d->k[i].s->s, name, len) == 0)
				return d->v[i];
		break;
	}
	case TV_DATETIME:
	case TV_TIMEDELTA:
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

static bool ascii_only(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* Byte offsets of each code point (n+1 entries) when s is not ASCII. */
static size_t *cp_offsets(struct tpl_ctx *cx, const char *s, size_t n, size_t *count)
{
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
		const struct tv *v = tv_dict_get(&obj, key);
		if (v)
			return *v;
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
			if (ascii_only(obj.s->s, obj.s->len)) {
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
	case TV_STATE:
	case TV_CALLABLE:
		if (key.t == TV_STR)
			return tpl_ha_getattr(cx, obj, key.s->s, key.s->len);
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
		if (ascii_only(obj.s->s, obj.s->len))
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
		return tv_string(cx, obj.s->s + bs, be - bs);
	}
	struct tpl_buf buf = { 0 };
	struct tv l = str ? tv_undef() : tv_list_new(cx, 0);
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

struct tv tpl_percent_format(struct tpl_ctx *cx, struct tv fmt, struct tv args);

static struct tv repeat(struct tpl_ctx *cx, struct tv s, int64_t n)
{
	if (n <= 0)
		return s.t == TV_STR ? tv_string(cx, "", 0) : tv_list_new(cx, 0);
	if (s.t == TV_STR) {
		if (s.s->len && (uint64_t)n > cx->max_output / s.s->len + 1)
			tpl_fail_code(cx, -E2BIG, "string repetition too long");
		char *b = tpl_alloc(cx, s.s->len * (size_t)n + 1);
		for (int64_t i = 0; i < n; i++)
			memcpy(b + s.s->len * (size_t)i, s.s->s, s.s->len);
		return tv_string(cx, b, s.s->len * (size_t)n);
	}
	struct tv l = tv_list_new(cx, 0);
	for (int64_t i = 0; i < n; i++) {
		tpl_tick(cx);
		for (size_t j = 0; j < s.l->n; j++)
			tv_list_push(cx, &l, s.l->v[j]);
	}
	return l;
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
			size_t n = a.s->len + b.s->len;
			struct tv_str *s = tpl_alloc(cx, sizeof *s + n + 1);
			s->len = n;
			memcpy(s->s, a.s->s, a.s->len);
			memcpy(s->s + a.s->len, b.s->s, b.s->len);
			s->s[n] = 0;
			return tv_strv(s);
		}
		if (a.t == TV_LIST && b.t == TV_LIST) {
			struct tv l = tv_list_new(cx, a.l->n + b.l->n);
			if (a.l->n)
				memcpy(l.l->v, a.l->v, a.l->n * sizeof *l.l->v);
			if (b.l->n)
				memcpy(l.l->v + a.l->n, b.l->v, b.l->n * sizeof *l.l->v);
			l.l->n = a.l->n + b.l->n;
			return l;
		}
		if (a.t == TV_DATETIME && b.t == TV_TIMEDELTA) {
			a.ts += b.td;
			return a;
		}
		if (a.t == TV_TIMEDELTA && b.t == TV_DATETIME) {
			b.ts += a.td;
			return b;
		}
		if (a.t == TV_TIMEDELTA && b.t == TV_TIMEDELTA) {
			a.td += b.td;
			return a;
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
		if (a.t == TV_DATETIME && b.t == TV_TIMEDELTA) {
			a.ts -= b.td;
			return a;
		}
		if (a.t == TV_DATETIME && b.t == TV_DATETIME) {
			struct tv d = { .t = TV_TIMEDELTA };
			d.td = a.ts - b.ts;
			return d;
		}
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
		return needle.s->len == 0 ||
		       memmem(hay.s->s, hay.s->len, needle.s->s, needle.s->len) != NULL;
	case TV_LIST:
		for (size_t i = 0; i < hay.l->n; i++)
			if (tv_equal(hay.l->v[i], needle))
				return true;
		return false;
	case TV_DICT:
	case TV_NAMESPACE:
		return tv_dict_get(&hay, needle) != NULL;
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
	case OP_EQ: return tv_equal(a, b);
	case OP_NE: return !tv_equal(a, b);
	case OP_LT: return tv_compare_op(cx, a, b, "<") < 0;
	case OP_LE: return tv_compare_op(cx, a, b, "<=") <= 0;
	case OP_GT: return tv_compare_op(cx, a, b, ">") > 0;
	case OP_GE: return tv_compare_op(cx, a, b, ">=") >= 0;
	case OP_IN: return contains(cx, a, b);
	case OP_NOTIN: return !contains(cx, a, b);
	default: abort();
	}
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
	if (++cx->depth > cx->max_depth)
		tpl_fail_code(cx, -ELOOP, "nested more than %u deep", cx->max_depth);
	struct tv r = b->fn(cx, args, nargs, kw, nkw);
	cx->depth--;
	return r;
}

/* A call, a filter or a test; for the last two the value filtered comes
 * as first (by value: copying it from memory just stored would stall). */
static struct tv call_node(struct tpl_ctx *cx, const struct node *n, bool has_first,
			   struct tv first)
{
	struct tv args[65];
	struct tpl_kwarg kw[32];
	unsigned i = 0;
	if (has_first) {
		args[0] = first;
		i = 1;
	}
	for (; i < n->nargs; i++)
		args[i] = eval(cx, n->args[i]);
	for (unsigned k = 0; k < n->nkw; k++) {
		kw[k].name = n->kwn[k]->s;
		kw[k].v = eval(cx, n->args[n->nargs + k]);
	}
	cx->line = n->line;
	cx->col = n->col;
	return tpl_call_builtin(cx, n->bi, args, n->nargs, kw, n->nkw);
}

struct tv tpl_str_method(struct tpl_ctx *cx, struct tv s, const char *name, const struct tv *args,
			 size_t nargs, const struct tpl_kwarg *kw, size_t nkw);

static struct tv method(struct tpl_ctx *cx, struct tv obj, const struct tv_str *name,
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
				if (tv_equal(obj.l->v[i], args[0]))
					return tv_int((int64_t)i);
			tpl_fail(cx, "value is not in list");
		}
		if (strcmp(m, "count") == 0 && nargs == 1) {
			int64_t c = 0;
			for (size_t i = 0; i < obj.l->n; i++)
				c += tv_equal(obj.l->v[i], args[0]);
			return tv_int(c);
		}
		if (strcmp(m, "append") == 0 && nargs == 1) {
			tv_list_push(cx, &obj, args[0]);
			return tv_none();
		}
		break;
	case TV_DICT:
	case TV_NAMESPACE: {
		const struct tv_dict *d = obj.d;
		bool items = strcmp(m, "items") == 0;
		if (items || strcmp(m, "keys") == 0 || strcmp(m, "values") == 0) {
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
		if (strcmp(m, "get") == 0 && nargs >= 1 && nargs <= 2) {
			const struct tv *v = tv_dict_get(&obj, args[0]);
			return v ? *v : nargs == 2 ? args[1] : tv_none();
		}
		if (strcmp(m, "cycle") == 0 && nargs >= 1) {
			/* loop.cycle(...) */
			struct tv i0 = tpl_getattr(cx, obj, "index0", 6);
			if (i0.t == TV_INT)
				return args[i0.i % (int64_t)nargs];
		}
		const struct tv *f = tv_dict_get(&obj, tv_strv(name));
		if (f)
			tpl_fail(cx, "'%s' is not callable", tv_type_name(*f));
		break;
	}
	case TV_DATETIME:
	case TV_TIMEDELTA:
	case TV_STATE:
	case TV_CALLABLE:
		return tpl_ha_call_method(cx, obj, m, name->len, args, nargs, kw, nkw);
	default:
		break;
	}
	tpl_fail(cx, "'%s' object has no attribute '%s'", tv_type_name(obj), m);
}

static struct tv eval(struct tpl_ctx *cx, const struct node *n)
{
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
	case N_ATTR: {
		struct tv o = eval(cx, n->a);
		if (o.t == TV_UNDEFINED) {
			cx->line = n->line;
			cx->col = n->col;
		}
		return tpl_getattr(cx, o, n->name->s, n->name->len);
	}
	case N_ITEM: {
		struct tv o = eval(cx, n->a), k = eval(cx, n->b);
		cx->line = n->line;
		cx->col = n->col;
		return tpl_getitem(cx, o, k);
	}
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
	case N_METHOD: {
		struct tv o = eval(cx, n->a);
		struct tv args[64];
		struct tpl_kwarg kw[32];
		for (unsigned i = 0; i < n->nargs; i++)
			args[i] = eval(cx, n->args[i]);
		for (unsigned k = 0; k < n->nkw; k++) {
			kw[k].name = n->kwn[k]->s;
			kw[k].v = eval(cx, n->args[n->nargs + k]);
		}
		cx->line = n->line;
		cx->col = n->col;
		return method(cx, o, n->name, args, n->nargs, kw, n->nkw);
	}
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
		k = (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)v.i);
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

static void exec_for(struct tpl_ctx *cx, const struct stmt *s)
{
	struct tv it = eval(cx, s->e);
	cx->line = s->line;
	cx->col = s->col;
	struct tv items = tpl_iterate(cx, it);
	unsigned ns = cx->t->nslots;
	struct tv *saved = tpl_alloc(cx, ns * sizeof *saved);
	memcpy(saved, cx->slots, ns * sizeof *saved);
	if (s->cond) {
		struct tv f = tv_list_new(cx, items.l->n);
		for (size_t i = 0; i < items.l->n; i++) {
			tpl_tick(cx);
			assign(cx, s->targets, s->ntargets, items.l->v[i]);
			if (tv_truthy(eval(cx, s->cond)))
				f.l->v[f.l->n++] = items.l->v[i];
		}
		items = f;
		memcpy(cx->slots, saved, ns * sizeof *saved);
	}
	size_t n = items.l->n;
	struct tv loop = { .t = TV_UNDEFINED };
	static const char *const keys[] = { "index", "index0", "revindex", "revindex0", "first",
					    "last", "length", "previtem", "nextitem" };
	if (s->uses_loop) {
		loop = tv_dict_new(cx, 9);
		for (int i = 0; i < 9; i++)
			loop.d->k[i] = tv_cstr(cx, keys[i]);
		loop.d->n = 9;
	}
	struct tv *snap = NULL;
	if (s->has_set) {
		snap = tpl_alloc(cx, ns * sizeof *snap);
	}
	bool first_iter = true, completed = false;
	for (size_t i = 0; i < items.l->n; i++) {
		tpl_tick(cx);
		if (snap) {
			if (first_iter)
				memcpy(snap, cx->slots, ns * sizeof *snap);
			else
				memcpy(cx->slots, snap, ns * sizeof *snap);
		}
		first_iter = false;
		if (s->uses_loop) {
			struct tv *v = loop.d->v;
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
	memcpy(cx->slots, saved, ns * sizeof *saved);
	/* Jinja runs else unless an iteration ran to the end of the body
	 * (so also after a break in the first one). */
	if (!completed && s->els)
		exec(cx, s->els);
}

static void exec(struct tpl_ctx *cx, const struct stmt *s)
{
	if (++cx->depth > cx->max_depth) {
		if (s) {
			cx->line = s->line;
			cx->col = s->col;
		}
		tpl_fail_code(cx, -ELOOP, "nested more than %u deep", cx->max_depth);
	}
	for (; s; s = s->next) {
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
			size_t mark = cx->outlen;
			exec(cx, s->body);
			struct tv v = tv_string(cx, cx->out + mark, cx->outlen - mark);
			cx->outlen = mark;
			cx->slots[s->targets[0]] = v;
			break;
		}
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
	static const struct mqb_tpl_limits dflt = { 100000, 64, 256 * 1024 };
	if (!lim)
		lim = &dflt;
	*out = NULL;
	if (len)
		*len = 0;
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
	memset(&cx, 0, offsetof(struct tpl_ctx, slots));
	cx.slots = NULL;
	cx.parsed = NULL;
	cx.value_json_done = false;
	cx.err = err;
	cx.vars = vars;
	cx.t = t;
	cx.max_iter = lim->max_iterations;
	cx.max_depth = lim->max_depth;
	cx.max_output = lim->max_output;
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
	return rc;
}
