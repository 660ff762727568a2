/* SPDX-License-Identifier: MIT */
/* The template parser: tokens into the compiled tree (expressions by
 * recursive descent, one function per precedence level; statements by
 * block), and the compiled template's lifetime. */
#include "lib/internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "template/tpl.h"

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
	tpl_perr(p, t->line, t->col, "unexpected '%s'", tok_desc(t, b, sizeof b));
}

static void expect_op(struct parser *p, const char *s)
{
	if (!is_op(p, s)) {
		char b[64];
		struct tok *t = cur(p);
		tpl_perr(p, t->line, t->col, "expected '%s', got '%s'", s, tok_desc(t, b, sizeof b));
	}
	p->pos++;
}

static struct node *mk(struct parser *p, enum nk kind, const struct tok *t)
{
	struct node *n = tpl_cmalloc(p, sizeof *n);
	n->kind = (unsigned char)kind;
	n->line = t->line;
	n->col = t->col;
	return n;
}

static size_t name_hash(const char *s, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * UINT64_C(0x100000001b3);
	return (size_t)(h ^ h >> 29);
}

/* Index slot in the parser's hash of names (capacity a power of two). */
static void index_slot(struct parser *p, unsigned slot)
{
	const struct tv_str *nm = p->t->names[slot];
	size_t mask = p->index_cap - 1, h = name_hash(nm->s, nm->len) & mask;
	while (p->index[h])
		h = (h + 1) & mask;
	p->index[h] = slot + 1;
}

/* The slot of a name: every use of one name shares it (see mqb_template).
 * Names are found by hashing: a template may hold many thousands. */
static unsigned slot_of(struct parser *p, const char *s, size_t n)
{
	struct mqb_template *t = p->t;
	if (p->index_cap) {
		size_t mask = p->index_cap - 1;
		for (size_t h = name_hash(s, n) & mask; p->index[h]; h = (h + 1) & mask) {
			const struct tv_str *nm = t->names[p->index[h] - 1];
			if (nm->len == n && memcmp(nm->s, s, n) == 0)
				return p->index[h] - 1;
		}
	}
	if (t->nslots == p->namecap) {
		size_t cap = p->namecap ? p->namecap * 2 : 16;
		const struct tv_str **nn = tpl_cmalloc(p, cap * sizeof *nn);
		if (t->nslots)
			memcpy(nn, t->names, t->nslots * sizeof *nn);
		t->names = nn;
		unsigned char *flags = mqb__realloc(p->slot_flags, cap);
		if (!flags)
			tpl_pnomem(p);
		memset(flags + p->namecap, 0, cap - p->namecap);
		p->slot_flags = flags;
		p->namecap = cap;
		/* the index stays at most half full */
		unsigned *index = mqb__calloc(2 * cap, sizeof *index);
		if (!index)
			tpl_pnomem(p);
		mqb__free(p->index);
		p->index = index;
		p->index_cap = 2 * cap;
		for (unsigned i = 0; i < t->nslots; i++)
			index_slot(p, i);
	}
	t->names[t->nslots] = tpl_cstr(p, s, n);
	index_slot(p, t->nslots);
	return t->nslots++;
}

/* The template assigns the name of slot somewhere (set, for, macro, import
 * ...): a call of that name calls whatever it holds. */
#define SLOT_ASSIGNED 1u

static unsigned assign_slot(struct parser *p, unsigned slot)
{
	p->slot_flags[slot] |= SLOT_ASSIGNED;
	return slot;
}

static void push_call(struct parser *p, struct node *n)
{
	if (p->ncalls == p->capcalls) {
		size_t cap = p->capcalls ? 2 * p->capcalls : 16;
		struct node **v = mqb__realloc(p->calls, cap * sizeof *v);
		if (!v)
			tpl_pnomem(p);
		p->calls = v;
		p->capcalls = cap;
	}
	p->calls[p->ncalls++] = n;
}

/* The module a name was imported as, or NULL. */
static struct mqb_template *alias_of(struct parser *p, unsigned slot)
{
	for (size_t i = p->naliases; i-- > 0;)
		if (p->aliases[i].slot == slot)
			return p->aliases[i].mod;
	return NULL;
}

/* Expressions by recursive descent, one function per precedence level of
 * Jinja's, loosest first: parse_expr (x if c else y) > parse_or > parse_and
 * > parse_not > parse_compare (== != < <= > >= in, not in; chained) >
 * parse_math1 (+ -) > parse_concat (~) > parse_math2 (* / // %) >
 * parse_pow (**) > parse_unary (- +, then filters and tests, which bind
 * tighter than any operator) > parse_postfix (.x [k] (args)) >
 * parse_primary. enter() bounds the recursion so that a deeply nested
 * text is an error, not a stack overflow. */
static struct node *parse_expr(struct parser *p);
static struct node *parse_or(struct parser *p);
static struct node *parse_unary(struct parser *p, bool with_filter);
static struct node *parse_primary(struct parser *p);
static struct node *parse_postfix(struct parser *p, struct node *n);

static void enter(struct parser *p)
{
	if (++p->depth > 200) {
		struct tok *t = cur(p);
		tpl_perr(p, t->line, t->col, "expression nested too deeply");
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
			if (is_op(p, "**") || is_op(p, "*")) {   /* f(*args, **kwargs) */
				bool two = t->n == 2;
				p->pos++;
				if (two ? n->c != NULL : (n->b != NULL || n->c != NULL))
					unexpected(p);
				*(two ? &n->c : &n->b) = parse_expr(p);
				n->star = true;
				continue;
			}
			if (n->c)
				tpl_perr(p, t->line, t->col, "an argument after **kwargs");
			if (t->kind == T_NAME && tok_is(peek(p, 1), T_OP, "=")) {
				if (nk == 32)
					tpl_perr(p, t->line, t->col, "too many arguments");
				kwn[nk] = tpl_cstr(p, t->s, t->n);
				p->pos += 2;
				kwv[nk++] = parse_expr(p);
			} else {
				if (nk)
					tpl_perr(p, t->line, t->col, "positional argument follows keyword argument");
				if (np == 64)
					tpl_perr(p, t->line, t->col, "too many arguments");
				pos[np++] = parse_expr(p);
			}
		}
		p->pos++;
	}
	n->nargs = np;
	n->nkw = nk;
	n->args = tpl_cmalloc(p, (np + nk + 1) * sizeof *n->args);
	memcpy(n->args, pos, np * sizeof *pos);
	memcpy(n->args + np, kwv, nk * sizeof *kwv);
	if (nk) {
		n->kwn = tpl_cmalloc(p, nk * sizeof *n->kwn);
		memcpy(n->kwn, kwn, nk * sizeof *kwn);
	}
}

/* A builtin call found: whether the template reads the clock. Its
 * arguments are counted when it is called (tpl_call_builtin), as Jinja
 * counts them: a template that calls one wrongly on a branch it never
 * takes compiles, as it does in Home Assistant. */
static void note_builtin(struct parser *p, const struct node *n)
{
	if (n->bi->uses_now)
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
		tpl_perr(p, t->line, t->col, "no filter named '%.*s'", (int)t->n, t->s);
	p->pos++;
	parse_args(p, n, val);
	note_builtin(p, n);
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
		tpl_perr(p, t->line, t->col, "no test named '%.*s'", (int)nl, nm);
	p->pos++;
	if (is_op(p, "(")) {
		parse_args(p, n, val);
	} else if (starts_primary(p)) {
		struct node *arg = parse_postfix(p, parse_primary(p));
		n->args = tpl_cmalloc(p, 2 * sizeof *n->args);
		n->args[0] = val;
		n->args[1] = arg;
		n->nargs = 2;
	} else {
		n->args = tpl_cmalloc(p, sizeof *n->args);
		n->args[0] = val;
		n->nargs = 1;
	}
	note_builtin(p, n);
	if (is_name(p, "is"))
		tpl_perr(p, cur(p)->line, cur(p)->col, "cannot chain multiple tests with is");
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

/* "f(args) | g ..." applied to the text a block captured. */
static struct node *parse_filter_chain(struct parser *p, struct tok *t)
{
	struct node *n = parse_filter(p, mk(p, N_CAPTURED, t));
	while (is_op(p, "|")) {
		p->pos++;
		n = parse_filter(p, n);
	}
	return n;
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
				x->name = tpl_cstr(p, a->s, a->n);
				struct mqb_template *mod;
				if (n->kind == N_NAME && (mod = alias_of(p, n->slot)) &&
				    tpl_export_slot(mod, a->s, a->n) == UINT_MAX &&
				    !tok_is(peek(p, 1), T_OP, "("))
					tpl_perr(p, a->line, a->col, "the imported template has no "
						 "macro or variable named '%.*s'", (int)a->n, a->s);
				n = x;
			} else if (a->kind == T_INT) {
				struct node *x = mk(p, N_ITEM, a), *k = mk(p, N_CONST, a);
				k->k = tv_int(a->i);
				x->a = n;
				x->b = k;
				n = x;
			} else {
				tpl_perr(p, a->line, a->col, "expected name or number");
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
						tpl_perr(p, items[k]->line, items[k]->col,
						     "a slice cannot be part of a tuple subscript");
				tu->args = tpl_cmalloc(p, ni * sizeof *items);
				memcpy(tu->args, items, ni * sizeof *items);
				tu->nargs = ni;
				x->b = tu;
			}
			expect_op(p, "]");
			if (x->b->kind == N_SLICE) {
				/* a[lo:hi:step] becomes one N_SLICE node on a, its
				 * bounds in b, c and args[0] (see enum nk) */
				struct node *sl = x->b;
				x->kind = N_SLICE;
				x->b = sl->a;
				x->c = sl->b;
				x->args = tpl_cmalloc(p, sizeof *x->args);
				x->args[0] = sl->c;
			}
			n = x;
		} else if (is_op(p, "(")) {
			struct node *x;
			if (n->kind == N_NAME) {
				/* a builtin, or a macro or variable: decided
				 * once the whole text is read (resolve_calls) */
				const struct tv_str *nm = p->t->names[n->slot];
				x = mk(p, N_CALL, t);
				x->line = n->line;
				x->col = n->col;
				x->slot = n->slot;
				x->bi = tpl_builtin_find(nm->s, nm->len, TPL_FUNCTION);
				parse_args(p, x, NULL);
				push_call(p, x);
			} else if (n->kind == N_ATTR) {
				x = mk(p, N_METHOD, t);
				x->line = n->line;
				x->col = n->col;
				x->a = n->a;
				x->name = n->name;
				struct mqb_template *mod;
				if (n->a->kind == N_NAME && (mod = alias_of(p, n->a->slot)) &&
				    tpl_export_slot(mod, n->name->s, n->name->len) == UINT_MAX)
					tpl_perr(p, n->line, n->col, "the imported template has no "
						 "macro or variable named '%s'", n->name->s);
				parse_args(p, x, NULL);
			} else {
				x = mk(p, N_DYNCALL, t);
				x->a = n;
				parse_args(p, x, NULL);
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
			tpl_perr(p, cur(p)->line, cur(p)->col, "literal too long");
		items[ni++] = parse_expr(p);
		if (kind == N_DICT) {
			expect_op(p, ":");
			items[ni++] = parse_expr(p);
		}
	}
	p->pos++;
	n->args = tpl_cmalloc(p, (ni + 1) * sizeof *items);
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
			if (tok_is(t, T_NAME, "value_json"))
				p->t->value_json_refs += p->loop_depth || p->macro_depth ? 2 : 1;
		}
		break;
	case T_STR: {
		p->pos++;
		n = mk(p, N_CONST, t);
		const struct tv_str *s = t->str;
		while (cur(p)->kind == T_STR) { /* "a" "b" */
			const struct tv_str *s2 = cur(p)->str;
			char *b = tpl_cmalloc(p, s->len + s2->len + 1);
			memcpy(b, s->s, s->len);
			memcpy(b + s->len, s2->s, s2->len);
			s = tpl_cstr(p, b, s->len + s2->len);
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
	c->args = tpl_cmalloc(p, (n + 1) * sizeof *opnds);
	memcpy(c->args, opnds, (n + 1) * sizeof *opnds);
	c->ops = tpl_cmalloc(p, n);
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
	tu->args = tpl_cmalloc(p, ni * sizeof *items);
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
	struct stmt *s = tpl_cmalloc(p, sizeof *s);
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
			tpl_perr(p, t->line, t->col, "too many targets");
		targets[n++] = assign_slot(p, slot_of(p, t->s, t->n));
		p->pos++;
		if (!is_op(p, ","))
			break;
		p->pos++;
	}
	if (paren)
		expect_op(p, ")");
	return n;
}

/* The nodes of an expression: its evaluation's work (see struct stmt). */
static unsigned expr_cost(const struct node *n)
{
	if (!n)
		return 0;
	uint64_t c = 1 + (uint64_t)expr_cost(n->a) + expr_cost(n->b) + expr_cost(n->c);
	for (unsigned i = 0; n->args && i < n->nargs + n->nkw; i++)
		c += expr_cost(n->args[i]);
	return c > UINT_MAX ? UINT_MAX : (unsigned)c;
}

static struct stmt *parse_if(struct parser *p, struct tok *t)
{
	static const char *const ends[] = { "elif", "else", "endif", NULL };
	struct stmt *s = mks(p, S_IF, t);
	s->e = parse_tuple(p);
	s->cost = expr_cost(s->e);
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
	/* a call of a name is still N_CALL with its slot while the text is read */
	if ((n->kind == N_NAME || n->kind == N_CALL) && n->slot == slot)
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
	for (; s; s = s->next) {
		if (node_uses(s->e, slot) || node_uses(s->cond, slot) || body_uses(s->body, slot) ||
		    body_uses(s->els, slot))
			return true;
		for (unsigned i = 0; s->exprs && i < s->ntargets; i++)
			if (node_uses(s->exprs[i], slot))
				return true;
		for (unsigned i = 0; s->m && i < s->m->nparams; i++)
			if (node_uses(s->m->defaults[i], slot))
				return true;
	}
	return false;
}

/* Whether the statements assign slots of their frame (a for loop's body
 * then needs its slots put back at each iteration). */
static bool body_sets(struct stmt *s)
{
	for (; s; s = s->next)
		if (s->kind == S_SET || s->kind == S_SETBLOCK || s->kind == S_FOR ||
		    s->kind == S_MACRO || s->kind == S_IMPORT || body_sets(s->els) ||
		    (s->kind != S_CALLBLOCK && body_sets(s->body)))
			return true;
	return false;
}

static struct stmt *parse_for(struct parser *p, struct tok *t)
{
	static const char *const ends[] = { "else", "endfor", NULL };
	struct stmt *s = mks(p, S_FOR, t);
	unsigned tg[8];
	s->ntargets = parse_targets(p, tg);
	s->targets = tpl_cmalloc(p, s->ntargets * sizeof *tg);
	memcpy(s->targets, tg, s->ntargets * sizeof *tg);
	if (!is_name(p, "in"))
		tpl_perr(p, cur(p)->line, cur(p)->col, "expected 'in'");
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
			tu->args = tpl_cmalloc(p, ni * sizeof *items);
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
	s->cost = expr_cost(s->e);
	s->cond_cost = expr_cost(s->cond);
	if (is_name(p, "recursive")) {
		s->recursive = true;
		p->pos++;
	}
	expect_end(p, T_BEND);
	s->loop_slot = assign_slot(p, slot_of(p, "loop", 4));
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
	s->uses_loop = s->recursive || body_uses(s->body, s->loop_slot);
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
			tpl_perr(p, at->line, at->col, "expected name");
		s->kind = S_SETATTR;
		tg[0] = slot_of(p, nt->s, nt->n);
		s->ntargets = 1;
		s->attr = tpl_cstr(p, at->s, at->n);
		p->pos += 3;
	} else {
		s->ntargets = parse_targets(p, tg);
	}
	s->targets = tpl_cmalloc(p, s->ntargets * sizeof *tg);
	memcpy(s->targets, tg, s->ntargets * sizeof *tg);
	if (s->kind == S_SET && s->ntargets == 1 && is_op(p, "|")) {
		/* {% set x | f %}...{% endset %}: the block through filters */
		p->pos++;
		s->e = parse_filter_chain(p, cur(p));
		s->cost = expr_cost(s->e);
		if (cur(p)->kind != T_BEND)
			unexpected(p);
	}
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
	s->cost = expr_cost(s->e);
	expect_end(p, T_BEND);
	return s;
}

/* The body of a block statement up to its end tag (end): the statements,
 * with pos after the end tag. */
static struct stmt *parse_block(struct parser *p, const char *end, const char *opener)
{
	const char *const ends[] = { end, NULL };
	struct stmt *body = parse_body(p, ends, opener);
	p->pos++;
	expect_end(p, T_BEND);
	return body;
}

/* A macro's parameters "(a, b=1)": the current token is the "(". */
static struct macro_def *parse_params(struct parser *p, const char *name, size_t len)
{
	struct macro_def *m = tpl_cmalloc(p, sizeof *m);
	unsigned slots[64];
	const struct tv_str *names[64];
	struct node *defs[64];
	unsigned n = 0;
	m->name = tpl_cstr(p, name, len);
	m->varargs_slot = m->kwargs_slot = m->caller_slot = UINT_MAX;
	if (is_op(p, "(")) {
		p->pos++;
		while (!is_op(p, ")")) {
			if (n) {
				expect_op(p, ",");
				if (is_op(p, ")"))
					break;
			}
			struct tok *t = cur(p);
			if (t->kind != T_NAME)
				unexpected(p);
			if (n == 64)
				tpl_perr(p, t->line, t->col, "too many parameters");
			names[n] = tpl_cstr(p, t->s, t->n);
			slots[n] = assign_slot(p, slot_of(p, t->s, t->n));
			for (unsigned i = 0; i < n; i++)
				if (slots[i] == slots[n])
					tpl_perr(p, t->line, t->col, "duplicate argument '%.*s'", (int)t->n,
						 t->s);
			p->pos++;
			defs[n] = NULL;
			if (is_op(p, "=")) {
				p->pos++;
				defs[n] = parse_expr(p);
				m->defaults_cost += expr_cost(defs[n]);
			} else if (n && defs[n - 1]) {
				tpl_perr(p, t->line, t->col, "non-default argument follows default argument");
			}
			n++;
		}
		p->pos++;
	}
	m->nparams = n;
	m->params = tpl_cmalloc(p, (n + 1) * sizeof *m->params);
	m->pnames = tpl_cmalloc(p, (n + 1) * sizeof *m->pnames);
	m->defaults = tpl_cmalloc(p, (n + 1) * sizeof *m->defaults);
	if (n) {
		memcpy(m->params, slots, n * sizeof *slots);
		memcpy(m->pnames, names, n * sizeof *names);
		memcpy(m->defaults, defs, n * sizeof *defs);
	}
	return m;
}

/* A macro's (or a call block's) body, up to end: it has its own frame,
 * no enclosing loop, and takes varargs, kwargs and caller when it names
 * them, as Jinja's macros do. */
static struct stmt *parse_macro_body(struct parser *p, struct macro_def *m, const char *end,
				     const char *opener)
{
	static const char *const magic[] = { "varargs", "kwargs", "caller" };
	unsigned slots[3];
	for (int i = 0; i < 3; i++)
		slots[i] = assign_slot(p, slot_of(p, magic[i], strlen(magic[i])));
	unsigned loops = p->loop_depth;
	p->loop_depth = 0;
	p->macro_depth++;
	struct stmt *body = parse_block(p, end, opener);
	p->macro_depth--;
	p->loop_depth = loops;
	if (body_uses(body, slots[0]))
		m->varargs_slot = slots[0];
	if (body_uses(body, slots[1]))
		m->kwargs_slot = slots[1];
	if (body_uses(body, slots[2]))
		m->caller_slot = slots[2];
	return body;
}

/* One name assigned (a macro's, an import's): s's only target. */
static struct tok *single_target(struct parser *p, struct stmt *s)
{
	struct tok *nt = cur(p);
	if (nt->kind != T_NAME)
		unexpected(p);
	p->pos++;
	s->ntargets = 1;
	s->targets = tpl_cmalloc(p, sizeof *s->targets);
	s->targets[0] = assign_slot(p, slot_of(p, nt->s, nt->n));
	return nt;
}

static struct stmt *parse_macro(struct parser *p, struct tok *t)
{
	struct stmt *s = mks(p, S_MACRO, t);
	struct tok *nt = single_target(p, s);
	if (!is_op(p, "("))
		expect_op(p, "(");
	s->m = parse_params(p, nt->s, nt->n);
	expect_end(p, T_BEND);
	s->body = parse_macro_body(p, s->m, "endmacro", "macro");
	return s;
}

/* {% call(params) m(args) %}body{% endcall %}: m called with caller= a
 * macro of params whose body is body. */
static struct stmt *parse_callblock(struct parser *p, struct tok *t)
{
	struct stmt *s = mks(p, S_CALLBLOCK, t);
	s->m = parse_params(p, "caller", 6);   /* {% call m() %} has none */
	struct tok *ct = cur(p);
	s->e = parse_expr(p);
	if (s->e->kind != N_CALL && s->e->kind != N_DYNCALL && s->e->kind != N_METHOD)
		tpl_perr(p, ct->line, ct->col, "expected a call after 'call'");
	s->cost = expr_cost(s->e);
	expect_end(p, T_BEND);
	s->body = parse_macro_body(p, s->m, "endcall", "call");
	return s;
}

static struct stmt *parse_with(struct parser *p, struct tok *t)
{
	struct stmt *s = mks(p, S_WITH, t);
	unsigned tg[64];
	struct node *ex[64];
	unsigned n = 0;
	while (cur(p)->kind != T_BEND) {
		if (n)
			expect_op(p, ",");
		struct tok *nt = cur(p);
		if (nt->kind != T_NAME)
			unexpected(p);
		if (n == 64)
			tpl_perr(p, nt->line, nt->col, "too many targets");
		tg[n] = assign_slot(p, slot_of(p, nt->s, nt->n));
		p->pos++;
		expect_op(p, "=");
		ex[n] = parse_expr(p);
		s->cost += expr_cost(ex[n]);
		n++;
	}
	p->pos++;
	s->ntargets = n;
	s->targets = tpl_cmalloc(p, (n + 1) * sizeof *tg);
	s->exprs = tpl_cmalloc(p, (n + 1) * sizeof *ex);
	if (n) {
		memcpy(s->targets, tg, n * sizeof *tg);
		memcpy(s->exprs, ex, n * sizeof *ex);
	}
	s->body = parse_block(p, "endwith", "with");
	return s;
}

static void hold_module(struct parser *p, struct mqb_template *mod);

/* The template a string literal names, from custom_templates/, held by
 * the template being compiled. A macro may import the file it is in (its
 * own template, not held): Jinja imports when the macro runs, by then the
 * file's macros are all defined; at the top level that would recurse
 * without end, and is an error. */
static struct mqb_template *parse_import_name(struct parser *p)
{
	struct tok *t = cur(p);
	if (t->kind != T_STR)
		tpl_perr(p, t->line, t->col, "expected a template name (a string)");
	p->pos++;
	char err[200];
	bool self;
	struct mqb_template *mod = tpl_module_get(t->str->s, t->str->len, err, sizeof err, &self);
	if (!mod && self && p->macro_depth)
		return p->t;
	if (!mod)
		tpl_perr(p, t->line, t->col, "%s", err);
	hold_module(p, mod);
	return mod;
}

/* The template being compiled keeps mod (a reference tpl_module_get
 * took) as long as it lives. */
static void hold_module(struct parser *p, struct mqb_template *mod)
{
	struct mqb_template *tt = p->t;
	struct mqb_template **v = tpl_cmalloc(p, (tt->nimports + 1) * sizeof *v);
	if (tt->nimports)
		memcpy(v, tt->imports, tt->nimports * sizeof *v);
	v[tt->nimports++] = mod;
	tt->imports = v;
	tt->uses_now |= mod->uses_now;
}

/* "with context" / "without context" (without is the default). */
static bool parse_context(struct parser *p)
{
	if ((is_name(p, "with") || is_name(p, "without")) && tok_is(peek(p, 1), T_NAME, "context")) {
		bool with = is_name(p, "with");
		p->pos += 2;
		return with;
	}
	return false;
}

static struct stmt *parse_import(struct parser *p, struct tok *t)
{
	struct stmt *s = mks(p, S_IMPORT, t);
	s->mod = parse_import_name(p);
	if (!is_name(p, "as"))
		tpl_perr(p, cur(p)->line, cur(p)->col, "expected 'as'");
	p->pos++;
	single_target(p, s);
	/* the file itself: its exports are not known yet, the render finds them */
	if (s->mod == p->t) {
		s->context = parse_context(p);
		expect_end(p, T_BEND);
		return s;
	}
	void *v = mqb__realloc(p->aliases, (p->naliases + 1) * sizeof *p->aliases);
	if (!v)
		tpl_pnomem(p);
	p->aliases = v;
	p->aliases[p->naliases].slot = s->targets[0];
	p->aliases[p->naliases++].mod = s->mod;
	s->context = parse_context(p);
	expect_end(p, T_BEND);
	return s;
}

/* The names an include's expression gives: a string, or a list or tuple
 * of strings (the first that exists is included), known when it compiles. */
static size_t include_names(struct node *e, const struct tv_str **names, size_t max)
{
	size_t n = 0;
	if (e->kind == N_CONST && e->k.t == TV_STR) {
		names[n++] = e->k.s;
	} else if (e->kind == N_CONST && e->k.t == TV_LIST) {
		for (size_t i = 0; i < e->k.l->n; i++) {
			if (e->k.l->v[i].t != TV_STR || n == max)
				return 0;
			names[n++] = e->k.l->v[i].s;
		}
	} else if (e->kind == N_LIST || e->kind == N_TUPLE) {
		for (unsigned i = 0; i < e->nargs; i++) {
			struct node *a = e->args[i];
			if (a->kind != N_CONST || a->k.t != TV_STR || n == max)
				return 0;
			names[n++] = a->k.s;
		}
	}
	return n;
}

/* {% include 'x' [ignore missing] [with context | without context] %}:
 * x from custom_templates/, found when the template compiles, as its
 * imports are; with context unless told otherwise, as in Jinja. */
static struct stmt *parse_include(struct parser *p, struct tok *t)
{
	struct stmt *s = mks(p, S_INCLUDE, t);
	struct tok *at = cur(p);
	const struct tv_str *names[16];
	size_t n = include_names(parse_expr(p), names, 16);
	if (!n)
		tpl_perr(p, at->line, at->col, "include takes a template's name, or a list of "
			 "names, known when it compiles");
	bool ignore = false;
	if (is_name(p, "ignore") && tok_is(peek(p, 1), T_NAME, "missing")) {
		p->pos += 2;
		ignore = true;
	}
	s->context = !is_name(p, "without");
	parse_context(p);
	expect_end(p, T_BEND);
	char err[200] = "";
	bool self;
	for (size_t i = 0; i < n && !s->mod; i++)
		s->mod = tpl_module_get(names[i]->s, names[i]->len, err, sizeof err, &self);
	if (s->mod)
		hold_module(p, s->mod);
	else if (!ignore)
		tpl_perr(p, at->line, at->col, "%s", err);
	return s;
}

/* {% from 'x' import a, b as c %}: each name must be one x exports. */
static struct stmt *parse_from(struct parser *p, struct tok *t)
{
	struct stmt *s = mks(p, S_IMPORT, t);
	unsigned tg[64];
	const struct tv_str *names[64];
	unsigned n = 0;
	s->mod = parse_import_name(p);
	if (!is_name(p, "import"))
		tpl_perr(p, cur(p)->line, cur(p)->col, "expected 'import'");
	p->pos++;
	for (;;) {
		struct tok *nt = cur(p);
		if (nt->kind != T_NAME)
			unexpected(p);
		if (n == 64)
			tpl_perr(p, nt->line, nt->col, "too many names");
		if (nt->s[0] == '_')
			tpl_perr(p, nt->line, nt->col,
				 "names starting with an underline can not be imported");
		names[n] = tpl_cstr(p, nt->s, nt->n);
		if (s->mod == p->t) {
			/* the file itself: its exports are known at its end */
			void *v = mqb__realloc(p->self_names,
					       (p->nself_names + 1) * sizeof *p->self_names);
			if (!v)
				tpl_pnomem(p);
			p->self_names = v;
			p->self_names[p->nself_names].name = names[n];
			p->self_names[p->nself_names].line = nt->line;
			p->self_names[p->nself_names++].col = nt->col;
		} else if (tpl_export_slot(s->mod, nt->s, nt->n) == UINT_MAX) {
			tpl_perr(p, nt->line, nt->col, "the imported template has no macro or "
				 "variable named '%.*s'", (int)nt->n, nt->s);
		}
		p->pos++;
		if (is_name(p, "as")) {
			p->pos++;
			nt = cur(p);
			if (nt->kind != T_NAME)
				unexpected(p);
			p->pos++;
		}
		tg[n++] = assign_slot(p, slot_of(p, nt->s, nt->n));
		if (!is_op(p, ","))
			break;
		p->pos++;
		if (cur(p)->kind == T_BEND || is_name(p, "with") || is_name(p, "without"))
			break;
	}
	s->context = parse_context(p);
	expect_end(p, T_BEND);
	s->ntargets = n;
	s->targets = tpl_cmalloc(p, n * sizeof *tg);
	s->names = tpl_cmalloc(p, n * sizeof *names);
	memcpy(s->targets, tg, n * sizeof *tg);
	memcpy(s->names, names, n * sizeof *names);
	return s;
}

/* {% do e %} (Home Assistant enables Jinja's do extension). */
static struct stmt *parse_do(struct parser *p, struct tok *t)
{
	struct stmt *s = mks(p, S_DO, t);
	s->e = parse_tuple(p);
	s->cost = expr_cost(s->e);
	expect_end(p, T_BEND);
	return s;
}

static struct stmt *parse_filterblock(struct parser *p, struct tok *t)
{
	struct stmt *s = mks(p, S_FILTERBLOCK, t);
	s->e = parse_filter_chain(p, cur(p));
	s->cost = expr_cost(s->e);
	expect_end(p, T_BEND);
	s->body = parse_block(p, "endfilter", "filter");
	return s;
}

/* {% break %} and {% continue %} (and Jinja's loopcontrols extension). */
static struct stmt *parse_loopctl(struct parser *p, struct tok *t)
{
	if (!p->loop_depth)
		tpl_perr(p, t->line, t->col, "'%.*s' outside loop", (int)t->n, t->s);
	struct stmt *s = mks(p, t->s[0] == 'b' ? S_BREAK : S_CONTINUE, t);
	expect_end(p, T_BEND);
	return s;
}

static const struct {
	const char *name;
	struct stmt *(*parse)(struct parser *p, struct tok *t);
} tags[] = {
	{ "if", parse_if }, { "for", parse_for }, { "set", parse_set }, { "macro", parse_macro },
	{ "call", parse_callblock }, { "with", parse_with }, { "import", parse_import },
	{ "from", parse_from }, { "include", parse_include }, { "do", parse_do },
	{ "filter", parse_filterblock },
	{ "break", parse_loopctl }, { "continue", parse_loopctl },
};

static struct stmt *parse_body(struct parser *p, const char *const *ends, const char *opener)
{
	struct stmt *head = NULL, **tail = &head;
	if (++p->stmt_depth > 100)
		tpl_perr(p, cur(p)->line, cur(p)->col, "blocks nested too deeply");
	for (;;) {
		struct tok *t = cur(p);
		struct stmt *s = NULL;
		if (t->kind == T_EOF) {
			if (ends)
				tpl_perr(p, t->line, t->col, "unexpected end of template, expected 'end%s'",
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
			s->cost = expr_cost(s->e);
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
			size_t k = 0;
			while (k < sizeof tags / sizeof tags[0] && !tok_is(nm, T_NAME, tags[k].name))
				k++;
			if (k == sizeof tags / sizeof tags[0])
				tpl_perr(p, nm->line, nm->col, "unknown tag '%.*s'", (int)nm->n, nm->s);
			s = tags[k].parse(p, nm);
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
	for (unsigned i = 0; i < t->nimports; i++)
		mqb_template_free(t->imports[i]);
	struct cblk *b = t->blocks;
	while (b) {
		struct cblk *n = b->next;
		mqb__free(b);
		b = n;
	}
}

/* Calls of a name, now that every assignment is known: a name assigned
 * anywhere is called as a value (a macro, an import, a parameter), and
 * so is one that is neither that nor a builtin function, which Jinja
 * looks up when the call runs: undefined then, unless a variable gives
 * it (a macro library may call what it never defines on a branch no one
 * takes, and Home Assistant loads it). */
static void resolve_calls(struct parser *p)
{
	for (size_t i = 0; i < p->ncalls; i++) {
		struct node *x = p->calls[i];
		if ((p->slot_flags[x->slot] & SLOT_ASSIGNED) || !x->bi) {
			struct node *callee = tpl_cmalloc(p, sizeof *callee);
			callee->kind = N_NAME;
			callee->line = x->line;
			callee->col = x->col;
			callee->slot = x->slot;
			x->kind = N_DYNCALL;
			x->a = callee;
			if (x->bi && x->bi->uses_now)
				p->t->uses_now = true;
			continue;
		}
		note_builtin(p, x);
	}
}

/* A template's exports: what its top level assigns (macros, variables,
 * imports; in if blocks too, not in loops), as Jinja's modules export. */
static void collect_exports(struct parser *p, const struct stmt *s, unsigned *v, unsigned *n)
{
	for (; s; s = s->next) {
		if (s->kind == S_IF) {
			collect_exports(p, s->body, v, n);
			collect_exports(p, s->els, v, n);
			continue;
		}
		if (s->kind != S_SET && s->kind != S_SETBLOCK && s->kind != S_MACRO &&
		    s->kind != S_IMPORT)
			continue;
		for (unsigned i = 0; i < s->ntargets; i++) {
			unsigned slot = s->targets[i], k = 0;
			if (p->t->names[slot]->s[0] == '_')
				continue;
			while (k < *n && v[k] != slot)
				k++;
			if (k == *n)
				v[(*n)++] = slot;
		}
	}
}

unsigned tpl_export_slot(const struct mqb_template *t, const char *name, size_t len)
{
	for (unsigned i = 0; i < t->nexports; i++) {
		const struct tv_str *nm = t->names[t->exports[i]];
		if (nm->len == len && memcmp(nm->s, name, len) == 0)
			return t->exports[i];
	}
	return UINT_MAX;
}

void tpl_template_ref(struct mqb_template *t)
{
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
}

static void parser_free(struct parser *p)
{
	mqb__free(p->toks);
	mqb__free(p->index);
	mqb__free(p->slot_flags);
	mqb__free(p->calls);
	mqb__free(p->aliases);
	mqb__free(p->self_names);
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
	t->refs = 1;
	if (setjmp(p.jb)) {
		parser_free(&p);
		template_free_blocks(t);
		mqb__free(t);
		return p.code;
	}
	tpl_lex(&p);
	t->body = parse_body(&p, NULL, NULL);
	resolve_calls(&p);
	t->value_json_once = t->value_json_refs == 1;
	{
		unsigned *v = tpl_cmalloc(&p, (t->nslots + 1) * sizeof *v), n = 0;
		collect_exports(&p, t->body, v, &n);
		t->exports = v;
		t->nexports = n;
		for (size_t i = 0; i < p.nself_names; i++) {
			const struct tv_str *nm = p.self_names[i].name;
			if (tpl_export_slot(t, nm->s, nm->len) == UINT_MAX)
				tpl_perr(&p, p.self_names[i].line, p.self_names[i].col,
					 "the imported template has no macro or variable named '%s'",
					 nm->s);
		}
		t->globals = tpl_cmalloc(&p, (t->nslots + 1) * sizeof *t->globals);
		for (unsigned i = 0; i < t->nslots; i++)
			t->globals[i] = tpl_builtin_find(t->names[i]->s, t->names[i]->len,
							 TPL_FUNCTION);
	}
	t->is_static = true;
	for (size_t i = 0; i < p.ntok; i++)
		if (p.toks[i].kind != T_DATA && p.toks[i].kind != T_EOF)
			t->is_static = false;
	if (t->is_static) {
		struct tpl_buf b = { 0 };
		size_t n = 0;
		for (struct stmt *s = t->body; s; s = s->next)
			n += s->text->len;
		char *c = tpl_cmalloc(&p, n + 1);
		(void)b;
		n = 0;
		for (struct stmt *s = t->body; s; s = s->next) {
			memcpy(c + n, s->text->s, s->text->len);
			n += s->text->len;
		}
		t->static_text = tpl_cstr(&p, c, n);
	}
	parser_free(&p);
	*out = t;
	return 0;
}

void mqb_template_free(struct mqb_template *t)
{
	if (!t || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0)
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
	/* what an imported or included template reads is not in t's names,
	 * and with context it reads the render's variables */
	if (t->nimports)
		return true;
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
