/* SPDX-License-Identifier: MIT */
/* Home Assistant's reading of a rendered template (template_result.h): the
 * literal parsing of _parse_result and the result_as_boolean,
 * switch and sensor rules on top of it. */
#include "template_result.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mqbridge/text.h"

/* White space between a literal's tokens. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static bool ieq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

/* _IS_NUMERIC, r"^[+-]?(?!0\d)\d*(?:\.\d*)?$", and at least one digit (the
 * literal must also parse: "", "+" and "." do not). */
static enum tres_kind number_kind(const char *s, size_t len)
{
	size_t i = 0, digits = 0;
	bool dot = false;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i + 1 < len && s[i] == '0' && isdigit((unsigned char)s[i + 1]))
		return TRES_STRING;
	for (; i < len && isdigit((unsigned char)s[i]); i++)
		digits++;
	if (i < len && s[i] == '.') {
		dot = true;
		for (i++; i < len && isdigit((unsigned char)s[i]); i++)
			digits++;
	}
	if (i != len || digits == 0)
		return TRES_STRING;
	return dot ? TRES_FLOAT : TRES_INT;
}

enum tres_kind tres_kind(const char *s, size_t len)
{
	if (eq(s, len, "None"))
		return TRES_NONE;
	if (eq(s, len, "True") || eq(s, len, "False"))
		return TRES_BOOL;
	return number_kind(s, len);
}

/* The value of a TRES_FLOAT or TRES_INT text (an int too long for a double
 * is still right about being zero or not). */
static double number_value(const char *s, size_t len)
{
	char buf[512];
	if (len >= sizeof buf) {
		for (size_t i = 0; i < len; i++)
			if (s[i] >= '1' && s[i] <= '9')
				return 1;
		return 0;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	return strtod(buf, NULL);
}

int tres_bool(const char *s, size_t len, bool none_is_unknown)
{
	s = mqb_strip(s, &len);
	switch (tres_kind(s, len)) {
	case TRES_NONE:
		return none_is_unknown ? -1 : 0;
	case TRES_BOOL:
		return s[0] == 'T';
	case TRES_INT:
	case TRES_FLOAT:
		return number_value(s, len) != 0;
	case TRES_STRING:
		break;
	}
	/* cv.boolean on a string: lower().strip(), then the words. */
	static const char *const yes[] = {"1", "true", "yes", "on", "enable"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (ieq(s, len, yes[i]))
			return 1;
	return 0;
}

bool tres_switch_on(const char *s, size_t len)
{
	s = mqb_strip(s, &len);
	return eq(s, len, "True") || ieq(s, len, "true") || ieq(s, len, "on");
}

/* Python's format(x, ".15"): %g's rules with 15 digits, except that it
 * turns to an exponent from 1e14 on (exp >= p - 1) and a fixed-point
 * result keeps a digit after the point ("7.0"). */
static void format_float(double x, char *buf, size_t bufsize)
{
	char e[40];
	snprintf(e, sizeof e, "%.14e", x); /* the exponent after rounding */
	const char *ep = strchr(e, 'e');
	int exp = ep ? atoi(ep + 1) : 0;
	if (ep && (exp < -4 || exp >= 14)) {
		size_t m = (size_t)(ep - e);
		while (m > 0 && e[m - 1] == '0')
			m--;
		if (m > 0 && e[m - 1] == '.')
			m--;
		snprintf(buf, bufsize, "%.*s%s", (int)m, e, ep);
		return;
	}
	snprintf(buf, bufsize, "%.15g", x);
	if (!strpbrk(buf, ".eninf"))
		strncat(buf, ".0", bufsize - strlen(buf) - 1);
}

const char *tres_sensor_state(const char *s, size_t *len, char *buf, size_t bufsize)
{
	size_t n = *len;
	s = mqb_strip(s, &n);
	*len = n;
	switch (tres_kind(s, n)) {
	case TRES_NONE:
		return NULL;
	case TRES_FLOAT:
		if (n < 400) {
			format_float(number_value(s, n), buf, bufsize);
			*len = strlen(buf);
			return buf;
		}
		return s;
	case TRES_INT: {
		/* str(int(x)): no '+', no "-0". */
		size_t i = s[0] == '+' || s[0] == '-' ? 1 : 0;
		bool zero = n - i == 1 && s[i] == '0';
		if (s[0] == '+' || (s[0] == '-' && zero)) {
			*len = n - i;
			return s + i;
		}
		return s;
	}
	case TRES_BOOL:
	case TRES_STRING:
		break;
	}
	return s;
}

/* ---- Python literals as JSON --------------------------------------------- */

struct lit {
	const char *p, *end;
	unsigned depth;
};

static void lit_ws(struct lit *l)
{
	while (l->p < l->end && is_space(*l->p))
		l->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static size_t utf8_put(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A quoted Python string: the escapes Python's repr writes. */
static json_t *lit_string(struct lit *l)
{
	char q = *l->p++;
	size_t cap = (size_t)(l->end - l->p) * 4 + 1;
	char *out = malloc(cap), *o = out;
	if (!out)
		return NULL;
	while (l->p < l->end && *l->p != q) {
		char c = *l->p++;
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		if (l->p >= l->end)
			goto fail;
		c = *l->p++;
		int digits = 0;
		switch (c) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case '\\': case '\'': case '"': *o++ = c; break;
		case 'x': digits = 2; break;
		case 'u': digits = 4; break;
		case 'U': digits = 8; break;
		default: goto fail;
		}
		if (digits) {
			uint32_t cp = 0;
			for (int i = 0; i < digits; i++) {
				int h = l->p < l->end ? hexval(*l->p++) : -1;
				if (h < 0)
					goto fail;
				cp = cp << 4 | (uint32_t)h;
			}
			if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
				goto fail;
			o += utf8_put(cp, o);
		}
	}
	if (l->p >= l->end)
		goto fail;
	l->p++;
	json_t *j = json_stringn(out, (size_t)(o - out)); /* NULL for bad UTF-8 */
	free(out);
	return j;
fail:
	free(out);
	return NULL;
}

static json_t *lit_value(struct lit *l);

/* [a, b], (a, b) or {k: v, ...}; close is the closing bracket. */
static json_t *lit_container(struct lit *l, char close, bool dict)
{
	l->p++;
	json_t *c = dict ? json_object() : json_array();
	if (!c)
		return NULL;
	for (;;) {
		lit_ws(l);
		if (l->p < l->end && *l->p == close) {
			l->p++;
			return c;
		}
		json_t *k = lit_value(l);
		if (!k)
			goto fail;
		if (dict) {
			lit_ws(l);
			if (l->p >= l->end || *l->p != ':' || !json_is_string(k)) {
				json_decref(k);
				goto fail;
			}
			l->p++;
			json_t *v = lit_value(l);
			if (!v || json_object_set_new(c, json_string_value(k), v)) {
				json_decref(k);
				goto fail;
			}
			json_decref(k);
		} else if (json_array_append_new(c, k)) {
			goto fail;
		}
		lit_ws(l);
		if (l->p < l->end && *l->p == ',')
			l->p++;
		else if (l->p >= l->end || *l->p != close)
			goto fail;
	}
fail:
	json_decref(c);
	return NULL;
}

static json_t *lit_value(struct lit *l)
{
	lit_ws(l);
	if (l->p >= l->end || ++l->depth > 32)
		return NULL;
	json_t *v = NULL;
	char c = *l->p;
	if (c == '\'' || c == '"') {
		v = lit_string(l);
	} else if (c == '[') {
		v = lit_container(l, ']', false);
	} else if (c == '(') {
		v = lit_container(l, ')', false);
	} else if (c == '{') {
		v = lit_container(l, '}', true);
	} else {
		const char *start = l->p;
		while (l->p < l->end && (isalnum((unsigned char)*l->p) || *l->p == '.' ||
					 *l->p == '+' || *l->p == '-' || *l->p == '_'))
			l->p++;
		size_t n = (size_t)(l->p - start);
		if (eq(start, n, "None")) {
			v = json_null();
		} else if (eq(start, n, "True") || eq(start, n, "False")) {
			v = json_boolean(start[0] == 'T');
		} else if (n > 0 && n < 64) {
			char buf[64], *end;
			memcpy(buf, start, n);
			buf[n] = '\0';
			enum tres_kind k = number_kind(start, n);
			if (k == TRES_INT) {
				errno = 0;
				long long i = strtoll(buf, &end, 10);
				if (!errno && *end == '\0')
					v = json_integer(i);
			} else if (isdigit((unsigned char)buf[0]) || buf[0] == '-' || buf[0] == '+' ||
				   buf[0] == '.') {
				double d = strtod(buf, &end);
				if (*end == '\0' && isfinite(d) && !strpbrk(buf, "xXnN"))
					v = json_real(d);
			}
		}
	}
	l->depth--;
	return v;
}

json_t *tres_json(const char *s, size_t len)
{
	s = mqb_strip(s, &len);
	switch (tres_kind(s, len)) {
	case TRES_NONE:
		return json_null();
	case TRES_BOOL:
		return json_boolean(s[0] == 'T');
	case TRES_INT:
	case TRES_FLOAT: {
		struct lit l = {s, s + len, 0};
		json_t *v = len < 64 ? lit_value(&l) : NULL;
		if (v)
			return v;
		break; /* too long for a double or a long long: keep the text */
	}
	case TRES_STRING:
		if (len && (s[0] == '[' || s[0] == '(' || s[0] == '{')) {
			struct lit l = {s, s + len, 0};
			json_t *v = lit_value(&l);
			lit_ws(&l);
			if (v && l.p == l.end)
				return v;
			json_decref(v);
		}
		break;
	}
	return json_stringn_nocheck(s, len);
}

/* ---- rate limits --------------------------------------------------------- */

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* After `states` at p: what the template does with it. */
static double states_use(const char *p, const char *end)
{
	while (p < end && is_space(*p))
		p++;
	if (p < end && *p == '(')
		return 0; /* states('sensor.x') */
	if (p < end && *p == '[') {
		/* states['sensor'] is a domain, states['sensor.x'] an entity */
		const char *q = p + 1;
		while (q < end && *q != ']' && *q != '.')
			q++;
		return q < end && *q == '.' ? 0 : 1;
	}
	if (p < end && *p == '.') {
		for (p++; p < end && ident_char(*p); p++)
			;
		while (p < end && is_space(*p))
			p++;
		return p < end && (*p == '.' || *p == '[') ? 0 : 1;
	}
	return 60;
}

double tres_rate_limit(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	double rate = 0;
	bool code = false;
	while (p < end) {
		if (!code) {
			if (p + 1 < end && *p == '{' && (p[1] == '{' || p[1] == '%')) {
				code = true;
				p += 2;
			} else {
				p++;
			}
			continue;
		}
		if (p + 1 < end && (*p == '}' || *p == '%') && p[1] == '}') {
			code = false;
			p += 2;
			continue;
		}
		if (*p == '\'' || *p == '"') {
			char q = *p++;
			while (p < end && *p != q)
				p += *p == '\\' && p + 1 < end ? 2 : 1;
			p++;
			continue;
		}
		if (ident_char(*p)) {
			const char *start = p;
			while (p < end && ident_char(*p))
				p++;
			bool attr = start > text && start[-1] == '.';
			if (!attr && p - start == 6 && memcmp(start, "states", 6) == 0) {
				double r = states_use(p, end);
				if (r > rate)
					rate = r;
			}
			continue;
		}
		p++;
	}
	return rate;
}
