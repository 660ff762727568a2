/* SPDX-License-Identifier: MIT */
/* The template lexer: template text into tokens (data, tag delimiters,
 * names, literals, operators) with their line and column, and the
 * compile-time allocation and errors the parser shares with it. */
#include "lib/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "lib/utf8.h"
#include "template/tpl.h"

/* ---- lexer -------------------------------------------------------------- */

_Noreturn void perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
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

void *cmalloc(struct parser *p, size_t n)
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

const struct tv_str *cstr(struct parser *p, const char *s, size_t n)
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
		k += utf8__encode((uint32_t)cp, o + k);
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

void lex(struct parser *p)
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
