/* SPDX-License-Identifier: MIT */
/* Python's two string formatting mini-languages as templates use them:
 * `'%.1f' % x` and the format filter (printf-style), and str.format's
 * replacement fields with their format spec. */
#include "lib/internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include "template/tpl.h"

#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* A width or precision: its digits from *s, saturating (the caller
 * refuses what exceeds the output bound before anything loops on it). */
static size_t read_count(const char **s, const char *e)
{
	size_t v = 0;
	for (; *s < e && isdigit((unsigned char)**s); (*s)++)
		v = v > SIZE_MAX / 20 ? SIZE_MAX / 2 : v * 10 + (size_t)(**s - '0');
	return v;
}

/* A width or precision fills that many bytes at least: past the output
 * bound it could only fail later (Python would build the whole string),
 * so it fails now. Below, it is work: snprintf pads a byte at a time
 * (twice: once to measure), and a float's digits cost more. */
static void check_count(struct tpl_ctx *cx, size_t n, unsigned weight)
{
	if (n > cx->max_output || n > INT_MAX)
		tpl_fail_code(cx, -E2BIG, "format width or precision %zu is longer than the output "
			      "bound", n);
	tpl_work_n(cx, n, weight);
}

#define W_PAD 3     /* a byte of width snprintf fills */
#define W_DIGIT 25  /* a digit of a float's precision (glibc: 20 ns at 2,000) */

/* snprintf(fmt, ...) appended to b, however long. */
__attribute__((format(printf, 3, 4)))
static void buf_printf(struct tpl_ctx *cx, struct tpl_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0) {
		char *tmp = tpl_alloc(cx, (size_t)n + 1);
		vsnprintf(tmp, (size_t)n + 1, fmt, ap2);
		tpl_buf_add(cx, b, tmp, (size_t)n);
	}
	va_end(ap2);
}


/* Python's %-formatting: %s %r %d %i %f %F %e %E %g %G %x %X %o %c %%, with
 * flags, width and precision; args a tuple (list), a dict for %(name)s, or
 * a single value. */
struct tv tpl_percent_format(struct tpl_ctx *cx, struct tv fmt, struct tv args)
{
	const char *s = fmt.s->s, *e = s + fmt.s->len;
	struct tpl_buf b = { 0 };
	size_t ai = 0;
	bool tuple = args.t == TV_LIST;
	while (s < e) {
		if (*s != '%') {
			tpl_buf_addc(cx, &b, *s++);
			continue;
		}
		s++;
		if (s < e && *s == '%') {
			tpl_buf_addc(cx, &b, '%');
			s++;
			continue;
		}
		struct tv v;
		bool have = false;
		if (s < e && *s == '(') {
			const char *k = ++s;
			while (s < e && *s != ')')
				s++;
			if (s >= e || args.t != TV_DICT)
				tpl_fail(cx, "format requires a mapping");
			const struct tv *x = tv_dict_get(cx, &args, tv_string(cx, k, (size_t)(s - k)));
			if (!x)
				tpl_fail(cx, "KeyError: '%.*s'", (int)(s - k), k);
			v = *x;
			have = true;
			s++;
		}
		/* flags, width and precision, rebuilt for snprintf with
		 * the width and precision known to be bounded */
		char spec[64] = "%";
		size_t sn = 1;
		bool left = false, have_width = false, have_prec = false;
		while (s < e && strchr("-+ #0", *s)) {
			left |= *s == '-';
			if (sn < 8)
				spec[sn++] = *s;
			s++;
		}
		size_t width = 0, prec = 0;
		if (s < e && isdigit((unsigned char)*s)) {
			have_width = true;
			width = read_count(&s, e);
			check_count(cx, width, W_PAD);
		}
		if (s < e && *s == '.') {
			s++;
			have_prec = true;
			prec = read_count(&s, e);
			check_count(cx, prec, W_DIGIT);
		}
		if (have_width)
			sn += (size_t)snprintf(spec + sn, sizeof spec - sn, "%zu", width);
		if (have_prec)
			sn += (size_t)snprintf(spec + sn, sizeof spec - sn, ".%zu", prec);
		if (s >= e)
			tpl_fail(cx, "incomplete format");
		char conv = *s++;
		if (!have) {
			if (tuple) {
				if (ai >= args.l->n)
					tpl_fail(cx, "not enough arguments for format string");
				v = args.l->v[ai++];
			} else {
				if (ai++)
					tpl_fail(cx, "not enough arguments for format string");
				v = args;
			}
		}
		switch (conv) {
		case 's': case 'r': {
			/* width and precision count code points: by hand */
			const struct tv_str *x = conv == 's' ? tv_to_str(cx, v) : tv_repr(cx, v);
			size_t len = x->len;
			if (have_prec && prec < len)
				len = prec;
			tpl_work(cx, TPL_W_SCAN(len));
			size_t cps = tpl_utf8_len(x->s, len);
			size_t pad = width > cps ? width - cps : 0;
			if (!left)
				tpl_buf_fill(cx, &b, ' ', pad);
			tpl_buf_add(cx, &b, x->s, len);
			if (left)
				tpl_buf_fill(cx, &b, ' ', pad);
			continue;
		}
		case 'd': case 'i': case 'x': case 'X': case 'o': case 'c': {
			if (!tv_is_number(v))
				tpl_fail(cx, "%%%c format: a number is required, not %s", conv,
					 tv_type_name(v));
			long long x = v.t == TV_FLOAT ? (long long)v.f : v.t == TV_INT ? v.i : v.b;
			spec[sn++] = 'l';
			spec[sn++] = 'l';
			spec[sn++] = conv == 'i' ? 'd' : conv == 'c' ? 'c' : conv;
			spec[sn] = 0;
			if (conv == 'c') {
				spec[sn - 3] = 'c';
				spec[sn - 2] = 0;
				buf_printf(cx, &b, spec, (int)x);
			} else {
				buf_printf(cx, &b, spec, x);
			}
			continue;
		}
		case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
			if (!tv_is_number(v))
				tpl_fail(cx, "must be real number, not %s", tv_type_name(v));
			spec[sn++] = conv;
			spec[sn] = 0;
			buf_printf(cx, &b, spec, tv_as_double(v));
			continue;
		}
		default:
			tpl_fail(cx, "unsupported format character '%c'", conv);
		}
	}
	if (tuple && ai < args.l->n)
		tpl_fail(cx, "not all arguments converted during string formatting");
	return tv_strv(tpl_buf_done(cx, &b));
}

/* str.format's spec: [[fill]align][sign][0][width][,][.prec][type]. */
static void format_spec(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v, const char *spec,
			size_t n)
{
	char fill = ' ', align = 0, sign = '-';
	size_t i = 0;
	if (n >= 2 && strchr("<>^=", spec[1])) {
		fill = spec[0];
		align = spec[1];
		i = 2;
	} else if (n >= 1 && strchr("<>^=", spec[0])) {
		align = spec[0];
		i = 1;
	}
	if (i < n && strchr("+- ", spec[i]))
		sign = spec[i++];
	if (i < n && spec[i] == '0') {
		if (!align) {
			fill = '0';
			align = '=';
		}
		i++;
	}
	const char *p = spec + i, *e = spec + n;
	size_t width = read_count(&p, e), prec = 0;
	check_count(cx, width, W_PAD);
	bool have_prec = false;
	if (p < e && *p == ',')   /* thousands separators: not written */
		p++;
	if (p < e && *p == '.') {
		p++;
		have_prec = true;
		prec = read_count(&p, e);
		check_count(cx, prec, W_DIGIT);
	}
	char type = p < e ? *p : 0;
	struct tpl_buf body = { 0 };
	if (type == 0 && v.t == TV_STR)
		type = 's';
	switch (type) {
	case 's': {
		const struct tv_str *s = tv_to_str(cx, v);
		tpl_buf_add(cx, &body, s->s, have_prec && prec < s->len ? prec : s->len);
		if (!align)
			align = '<';
		break;
	}
	case 'd': case 'x': case 'X': case 'o': case 'b':
		if (v.t != TV_INT && v.t != TV_BOOL)
			tpl_fail(cx, "Unknown format code '%c' for object of type '%s'", type,
				 tv_type_name(v));
		if (type == 'b') {
			int64_t i64 = v.t == TV_INT ? v.i : v.b;
			uint64_t x = i64 < 0 ? 0 - (uint64_t)i64 : (uint64_t)i64;
			char t[70];
			int k = 0;
			do {
				t[k++] = (char)('0' + (x & 1));
				x >>= 1;
			} while (x);
			if (i64 < 0)
				tpl_buf_addc(cx, &body, '-');
			while (k)
				tpl_buf_addc(cx, &body, t[--k]);
		} else {
			char f[8] = { '%', sign == '+' ? '+' : sign == ' ' ? ' ' : '%', 'l', 'l',
				      type, 0 };
			buf_printf(cx, &body, f[1] == '%' ? f + 1 : f,
				   (long long)(v.t == TV_INT ? v.i : v.b));
		}
		break;
	case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case '%': {
		if (!tv_is_number(v))
			tpl_fail(cx, "Unknown format code '%c' for object of type '%s'", type,
				 tv_type_name(v));
		double x = tv_as_double(v);
		char ff[8];
		snprintf(ff, sizeof ff, "%%%s.*%c", sign == '+' ? "+" : sign == ' ' ? " " : "",
			 type == '%' ? 'f' : type);
		if (type == '%')
			x *= 100;
		buf_printf(cx, &body, ff, have_prec ? (int)prec : 6, x);
		if (type == '%')
			tpl_buf_addc(cx, &body, '%');
		break;
	}
	case 0:
		if (have_prec && v.t == TV_FLOAT)
			buf_printf(cx, &body, "%.*g", (int)prec, v.f);
		else
			tpl_buf_str(cx, &body, v);
		if (!align)
			align = tv_is_number(v) ? '>' : '<';
		break;
	default:
		tpl_fail(cx, "Unknown format code '%c'", type);
	}
	const char *text = body.p ? body.p : "";
	size_t len = body.len;
	if (!align)
		align = '>';
	tpl_work(cx, TPL_W_SCAN(len));
	size_t cps = tpl_utf8_len(text, len);
	if (width <= cps) {
		tpl_buf_add(cx, b, text, len);
		return;
	}
	size_t pad = width - cps;
	size_t left = align == '>' ? pad : align == '^' ? pad / 2 : align == '=' ? pad : 0;
	size_t start = 0;
	if (align == '=' && len && (text[0] == '-' || text[0] == '+' || text[0] == ' ')) {
		tpl_buf_addc(cx, b, text[0]);
		start = 1;
	}
	tpl_buf_fill(cx, b, fill, left);
	tpl_buf_add(cx, b, text + start, len - start);
	tpl_buf_fill(cx, b, fill, pad - left);
}

struct tv tpl_str_format(struct tpl_ctx *cx, const struct tv_str *f, const struct tv *args,
			 size_t nargs, const struct tpl_kwarg *kw, size_t nkw)
{
	struct tpl_buf b = { 0 };
	size_t auto_i = 0;
	for (size_t i = 0; i < f->len; i++) {
		char c = f->s[i];
		if (c == '}' && i + 1 < f->len && f->s[i + 1] == '}') {
			tpl_buf_addc(cx, &b, '}');
			i++;
			continue;
		}
		if (c != '{') {
			tpl_buf_addc(cx, &b, c);
			continue;
		}
		if (i + 1 < f->len && f->s[i + 1] == '{') {
			tpl_buf_addc(cx, &b, '{');
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < f->len && f->s[j] != '}')
			j++;
		if (j >= f->len)
			tpl_fail(cx, "Single '{' encountered in format string");
		const char *fld = f->s + i + 1;
		size_t fl = j - i - 1;
		const char *colon = memchr(fld, ':', fl);
		size_t namelen = colon ? (size_t)(colon - fld) : fl;
		struct tv v;
		if (namelen == 0) {
			if (auto_i >= nargs)
				tpl_fail(cx, "Replacement index %zu out of range", auto_i);
			v = args[auto_i++];
		} else if (isdigit((unsigned char)fld[0])) {
			size_t k = (size_t)strtoul(fld, NULL, 10);
			if (k >= nargs)
				tpl_fail(cx, "Replacement index %zu out of range", k);
			v = args[k];
		} else {
			const struct tv *x = NULL;
			for (size_t k = 0; k < nkw; k++)
				if (strlen(kw[k].name) == namelen && memcmp(kw[k].name, fld, namelen) == 0)
					x = &kw[k].v;
			if (!x)
				tpl_fail(cx, "KeyError: '%.*s'", (int)namelen, fld);
			v = *x;
		}
		if (colon)
			format_spec(cx, &b, v, colon + 1, fl - namelen - 1);
		else
			tpl_buf_str(cx, &b, v);
		i = j;
	}
	return tv_strv(tpl_buf_done(cx, &b));
}
