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

/* ---- what the parser shares ------------------------------------------------ */

_Noreturn void tpl_perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
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

_Noreturn void tpl_pnomem(struct parser *p)
{
	if (p->err) {
		snprintf(p->err->message, sizeof p->err->message, "out of memory");
		p->err->line = p->err->column = 0;
	}
	p->code = -ENOMEM;
	longjmp(p->jb, 1);
}

void *tpl_cmalloc(struct parser *p, size_t n)
{
	struct cblk *b = mqb__malloc(sizeof *b + n);
	if (!b)
		tpl_pnomem(p);
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
			tpl_pnomem(p);
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

const struct tv_str *tpl_cstr(struct parser *p, const char *s, size_t n)
{
	return tv_str_fill(tpl_cmalloc(p, sizeof(struct tv_str) + n + 1), s, n);
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
		char *b = tpl_cmalloc(p, n + 1);
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
		t->str = tpl_cstr(p, b, o);
	} else {
		t->str = tpl_cstr(p, s, n);
	}
}

size_t tpl__unescape(const char *s, size_t n, char *o)
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

/* Index of the first byte at or after i that is not white space. */
static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && is_ws(s[i]))
		i++;
	return i;
}

static bool is_name_start(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether s[i..n) starts with word and no name character follows it. */
static bool at_word(const char *s, size_t n, size_t i, const char *word)
{
	size_t len = strlen(word);
	return n - i >= len && memcmp(s + i, word, len) == 0 &&
	       (i + len == n || !(is_name_start(s[i + len]) || is_digit(s[i + len])));
}

_Noreturn static void lex_error_at(struct parser *p, size_t off, const char *msg)
{
	unsigned line, col;
	where(p, off, &line, &col);
	tpl_perr(p, line, col, "%s", msg);
}

/* ---- inside {{ }} and {% %} ----------------------------------------------- */

/* A number literal at i: an int, or a float when a fraction or an exponent
 * follows; underscores between digits are dropped, as in Python. Returns
 * the index after it. */
static size_t lex_number(struct parser *p, size_t i)
{
	const char *s = p->src;
	size_t n = p->len, end = i;
	bool isf = false;
	char digits[128];   /* the literal without underscores, for strtod */
	size_t nd = 0;
	/* room is kept for the '.', an exponent's 'e' and sign: a literal
	 * longer than the buffer keeps its first digits (and overflows) */
	while (end < n && (is_digit(s[end]) || s[end] == '_')) {
		if (s[end] != '_' && nd < sizeof digits - 8)
			digits[nd++] = s[end];
		end++;
	}
	/* a fraction, unless this number follows a '.' (x.0.1 is x[0][1]) */
	bool after_dot = p->ntok && p->toks[p->ntok - 1].kind == T_OP &&
			 p->toks[p->ntok - 1].s[0] == '.';
	if (end + 1 < n && s[end] == '.' && is_digit(s[end + 1]) && !after_dot) {
		isf = true;
		digits[nd++] = s[end++];
		while (end < n && (is_digit(s[end]) || s[end] == '_')) {
			if (s[end] != '_' && nd < sizeof digits - 8)
				digits[nd++] = s[end];
			end++;
		}
	}
	if (end < n && (s[end] == 'e' || s[end] == 'E')) {
		size_t exp = end + 1;
		if (exp < n && (s[exp] == '+' || s[exp] == '-'))
			exp++;
		if (exp < n && is_digit(s[exp])) {
			isf = true;
			while (end < exp)
				digits[nd++] = s[end++];
			while (end < n && (is_digit(s[end]) || s[end] == '_')) {
				if (s[end] != '_' && nd < sizeof digits - 1)
					digits[nd++] = s[end];
				end++;
			}
		}
	}
	digits[nd] = 0;
	struct tok *t = emit(p, isf ? T_FLOAT : T_INT, s + i, end - i);
	if (isf) {
		t->f = strtod(digits, NULL);
	} else {
		errno = 0;
		unsigned long long v = strtoull(digits, NULL, 10);
		if (errno || v > INT64_MAX)
			tpl_perr(p, t->line, t->col, "integer literal too large");
		t->i = (int64_t)v;
	}
	return end;
}

/* A string literal whose quote is at i; returns the index after its
 * closing quote. */
static size_t lex_string(struct parser *p, size_t i)
{
	const char *s = p->src;
	size_t n = p->len, close = i + 1;
	while (close < n && s[close] != s[i]) {
		if (s[close] == '\\')
			close++;
		close++;
	}
	if (close >= n)
		lex_error_at(p, i, "unexpected end of string");
	struct tok *t = emit(p, T_STR, s + i, close + 1 - i);
	/* unescaping never lengthens: \xNN is 2 bytes for 4, \U........ 4 for 10 */
	char *b = tpl_cmalloc(p, close - i + 4);
	size_t len = tpl__unescape(s + i + 1, close - i - 1, b);
	t->str = tpl_cstr(p, b, len);
	return close + 1;
}

/* The length of the operator at i, or 0. */
static size_t op_len(const char *s, size_t n, size_t i)
{
	static const char *const two[] = { "//", "**", "==", "!=", "<=", ">=" };
	if (i + 1 < n)
		for (size_t k = 0; k < sizeof two / sizeof two[0]; k++)
			if (s[i] == two[k][0] && s[i + 1] == two[k][1])
				return 2;
	return strchr("+-*/%~<>()[]{},.:|=", s[i]) ? 1 : 0;
}

/* The tokens of one tag whose body starts at i, up to and with its end
 * ("}}" or "%}", "-}}" or "-%}" when it strips the white space after it).
 * Returns the index after the end and whether it strips. */
static size_t lex_tag(struct parser *p, size_t i, bool block, bool *strip_after)
{
	const char *s = p->src;
	const char *end = block ? "%}" : "}}";
	size_t n = p->len;
	int braces = 0;   /* "}}" inside a dict literal {'a': {'b': 1}} is no end */
	for (;;) {
		i = skip_ws(s, n, i);
		if (i >= n) {
			unsigned l, c;
			where(p, n, &l, &c);
			tpl_perr(p, l, c, "unexpected end of template, expected '%s'", end);
		}
		char c = s[i];
		if (braces == 0) {
			if (c == '-' && i + 2 < n && s[i + 1] == end[0] && s[i + 2] == end[1]) {
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
		if (is_name_start(c)) {
			size_t e = i + 1;
			while (e < n && (is_name_start(s[e]) || is_digit(s[e])))
				e++;
			emit(p, T_NAME, s + i, e - i);
			i = e;
			continue;
		}
		if (is_digit(c)) {
			i = lex_number(p, i);
			continue;
		}
		if (c == '\'' || c == '"') {
			i = lex_string(p, i);
			continue;
		}
		size_t len = op_len(s, n, i);
		if (!len) {
			unsigned l, cc;
			where(p, i, &l, &cc);
			tpl_perr(p, l, cc, "unexpected char '%c'", c);
		}
		if (c == '{')
			braces++;
		if (c == '}') {
			if (braces == 0)
				lex_error_at(p, i, "unexpected '}'");
			braces--;
		}
		emit(p, T_OP, s + i, len);
		i += len;
	}
}

/* ---- between tags ---------------------------------------------------------- */

/* The index of the next tag opener ("{{", "{%" or "{#") at or after i, or
 * n when there is none. */
static size_t find_tag(const char *s, size_t n, size_t i)
{
	for (; i + 1 < n; i++)
		if (s[i] == '{' && (s[i + 1] == '{' || s[i + 1] == '%' || s[i + 1] == '#'))
			return i;
	return n;
}

/* A comment opened at open whose text starts at body: skipped up to its
 * "#}". Returns the index after it and whether it ends "-#}". */
static size_t lex_comment(struct parser *p, size_t open, size_t body, bool *strip_after)
{
	const char *s = p->src;
	size_t n = p->len, close = body;
	while (close + 1 < n && !(s[close] == '#' && s[close + 1] == '}'))
		close++;
	if (close + 1 >= n)
		lex_error_at(p, open, "missing end of comment tag");
	*strip_after = close > body && s[close - 1] == '-';
	return close + 2;
}

/* When the block tag opened at open with its body at body is {% raw %},
 * everything up to the next {% endraw %} is data: emitted as such, and
 * the index after endraw's "%}" returned with whether it strips after
 * ("-%}"). 0 when the tag is not raw. */
static size_t lex_raw(struct parser *p, size_t open, size_t body, bool *strip_after)
{
	const char *s = p->src;
	size_t n = p->len, i = skip_ws(s, n, body);
	if (!at_word(s, n, i, "raw"))
		return 0;
	i = skip_ws(s, n, i + 3);
	bool lstrip = i < n && s[i] == '-';    /* {% raw -%}: strip the text's start */
	i += lstrip;
	if (i + 1 >= n || s[i] != '%' || s[i + 1] != '}')
		lex_error_at(p, i, "expected '%}' after 'raw'");
	size_t text = i + 2;
	for (size_t at = text; at + 1 < n; at++) {
		if (s[at] != '{' || s[at + 1] != '%')
			continue;
		size_t k = at + 2;
		bool rstrip = k < n && s[k] == '-';     /* {%- endraw %}: strip its end */
		k += rstrip || (k < n && s[k] == '+');
		k = skip_ws(s, n, k);
		if (n - k < 6 || memcmp(s + k, "endraw", 6) != 0)
			continue;
		k = skip_ws(s, n, k + 6);
		bool after = k < n && s[k] == '-';
		k += after;
		if (k + 1 < n && s[k] == '%' && s[k + 1] == '}') {
			emit_data(p, s + text, at - text, lstrip, rstrip);
			*strip_after = after;
			return k + 2;
		}
	}
	lex_error_at(p, open, "missing endraw for raw");
}

void tpl_lex(struct parser *p)
{
	const char *s = p->src;
	size_t n = p->len, i = 0;
	bool lstrip = false;   /* the tag before ended with '-': strip the data's start */
	/* Jinja drops one trailing newline (keep_trailing_newline=False) */
	if (n && s[n - 1] == '\n')
		n--;
	if (n && s[n - 1] == '\r')
		n--;
	p->len = n;
	while (i < n) {
		size_t open = find_tag(s, n, i);
		if (open == n) {
			emit_data(p, s + i, n - i, lstrip, false);
			break;
		}
		char kind = s[open + 1];                        /* '{', '%' or '#' */
		bool rstrip = open + 2 < n && s[open + 2] == '-'; /* {{- {%- {#- */
		size_t body = open + 2 + (open + 2 < n && (s[open + 2] == '-' || s[open + 2] == '+'));
		emit_data(p, s + i, open - i, lstrip, rstrip);
		if (kind == '#') {
			i = lex_comment(p, open, body, &lstrip);
			continue;
		}
		if (kind == '%') {
			size_t after = lex_raw(p, open, body, &lstrip);
			if (after) {
				i = after;
				continue;
			}
		}
		emit(p, kind == '{' ? T_VBEGIN : T_BBEGIN, s + open, body - open);
		i = lex_tag(p, body, kind == '%', &lstrip);
	}
	emit(p, T_EOF, s + n, 0);
}
