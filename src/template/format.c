/* SPDX-License-Identifier: MIT */
/* Python's two string formatting mini-languages as templates use them:
 * `'%.1f' % x` and the format filter (printf-style), and str.format's
 * replacement fields with their format spec. */
#include "lib/internal.h"

#include <ctype.h>
#include <string.h>

#include "template/tpl.h"

#pragma GCC diagnostic ignored "-Wformat-nonliteral"

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
			const struct tv *x = tv_dict_get(&args, tv_string(cx, k, (size_t)(s - k)));
			if (!x)
				tpl_fail(cx, "KeyError: '%.*s'", (int)(s - k), k);
			v = *x;
			have = true;
			s++;
		}
		char spec[32] = "%";
		size_t sn = 1;
		while (s < e && strchr("-+ #0", *s) && sn < 8)
			spec[sn++] = *s++;
		while (s < e && isdigit((unsigned char)*s) && sn < 16)
			spec[sn++] = *s++;
		if (s < e && *s == '.') {
			spec[sn++] = *s++;
			while (s < e && isdigit((unsigned char)*s) && sn < 24)
				spec[sn++] = *s++;
		}
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
		char out[512];
		int n;
		switch (conv) {
		case 's': case 'r': {
			const struct tv_str *x = conv == 's' ? tv_to_str(cx, v) : tv_repr(cx, v);
			spec[sn++] = '*';
			spec[sn++] = 's';
			spec[sn] = 0;
			(void)spec;
			/* width/precision on %s: apply by hand */
			int width = 0, prec = -1;
			bool left = false;
			const char *q = spec + 1;
			while (*q && strchr("-+ #0", *q)) {
				if (*q == '-')
					left = true;
				q++;
			}
			width = atoi(q);
			const char *dot = strchr(spec, '.');
			if (dot)
				prec = atoi(dot + 1);
			size_t len = x->len;
			if (prec >= 0 && (size_t)prec < len)
				len = (size_t)prec;
			size_t cps = tpl_utf8_len(x->s, len);
			if (!left)
				for (size_t i = cps; (int)i < width; i++)
					tpl_buf_addc(cx, &b, ' ');
			tpl_buf_add(cx, &b, x->s, len);
			if (left)
				for (size_t i = cps; (int)i < width; i++)
					tpl_buf_addc(cx, &b, ' ');
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
				n = snprintf(out, sizeof out, spec, (int)x);
			} else {
				n = snprintf(out, sizeof out, spec, x);
			}
			break;
		}
		case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
			if (!tv_is_number(v))
				tpl_fail(cx, "must be real number, not %s", tv_type_name(v));
			spec[sn++] = conv;
			spec[sn] = 0;
			n = snprintf(out, sizeof out, spec, tv_as_double(v));
			break;
		}
		default:
			tpl_fail(cx, "unsupported format character '%c'", conv);
		}
		if (n < 0)
			n = 0;
		if ((size_t)n >= sizeof out)
			n = sizeof out - 1;
		tpl_buf_add(cx, &b, out, (size_t)n);
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
	int width = 0, prec = -1;
	while (i < n && isdigit((unsigned char)spec[i]))
		width = width * 10 + (spec[i++] - '0');
	bool comma = false;
	if (i < n && spec[i] == ',') {
		comma = true;
		i++;
	}
	if (i < n && spec[i] == '.') {
		prec = 0;
		i++;
		while (i < n && isdigit((unsigned char)spec[i]))
			prec = prec * 10 + (spec[i++] - '0');
	}
	char type = i < n ? spec[i] : 0;
	char body[512];
	int len;
	(void)comma;
	if (type == 0 && v.t == TV_STR)
		type = 's';
	switch (type) {
	case 's': {
		const struct tv_str *s = tv_to_str(cx, v);
		len = snprintf(body, sizeof body, "%.*s", prec >= 0 ? prec : (int)s->len, s->s);
		if (!align)
			align = '<';
		break;
	}
	case 'd': case 'x': case 'X': case 'o': case 'b':
		if (v.t != TV_INT && v.t != TV_BOOL)
			tpl_fail(cx, "Unknown format code '%c' for object of type '%s'", type,
				 tv_type_name(v));
		if (type == 'b') {
			uint64_t x = (uint64_t)(v.t == TV_INT ? (v.i < 0 ? -v.i : v.i) : v.b);
			char t[70];
			int k = 0;
			do {
				t[k++] = (char)('0' + (x & 1));
				x >>= 1;
			} while (x);
			len = 0;
			if (v.t == TV_INT && v.i < 0)
				body[len++] = '-';
			while (k)
				body[len++] = t[--k];
			body[len] = 0;
		} else {
			char f[8] = { '%', sign == '+' ? '+' : sign == ' ' ? ' ' : '%', 'l', 'l',
				      type, 0 };
			len = snprintf(body, sizeof body, f[1] == '%' ? f + 1 : f,
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
		len = snprintf(body, sizeof body, ff, prec >= 0 ? prec : 6, x);
		if (type == '%' && len + 1 < (int)sizeof body) {
			body[len++] = '%';
			body[len] = 0;
		}
		break;
	}
	case 0: {
		const struct tv_str *s = tv_to_str(cx, v);
		if (prec >= 0 && v.t == TV_FLOAT) {
			len = snprintf(body, sizeof body, "%.*g", prec, v.f);
		} else {
			len = snprintf(body, sizeof body, "%s", s->s);
		}
		if (!align)
			align = tv_is_number(v) ? '>' : '<';
		break;
	}
	default:
		tpl_fail(cx, "Unknown format code '%c'", type);
	}
	if (len < 0)
		len = 0;
	if (len >= (int)sizeof body)
		len = sizeof body - 1;
	if (!align)
		align = '>';
	int pad = width - (int)tpl_utf8_len(body, (size_t)len);
	if (pad <= 0) {
		tpl_buf_add(cx, b, body, (size_t)len);
		return;
	}
	int left = align == '>' ? pad : align == '^' ? pad / 2 : align == '=' ? pad : 0;
	int start = 0;
	if (align == '=' && len && (body[0] == '-' || body[0] == '+' || body[0] == ' ')) {
		tpl_buf_addc(cx, b, body[0]);
		start = 1;
	}
	for (int k = 0; k < left; k++)
		tpl_buf_addc(cx, b, fill);
	tpl_buf_add(cx, b, body + start, (size_t)(len - start));
	for (int k = 0; k < pad - left; k++)
		tpl_buf_addc(cx, b, fill);
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
