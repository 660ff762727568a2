/* SPDX-License-Identifier: MIT */
/* Home Assistant's native template results: the rendered text read back
 * with Python's ast.literal_eval and kept only where Home Assistant keeps
 * it (Template._parse_result), so a script's data and variables get the
 * numbers, lists and mappings Home Assistant's get. */
#include "lib/internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/text.h"
#include "template/native.h"
#include "template/tpl.h"

#define MAX_DEPTH 64

struct lp {
	const char *s, *end;
	unsigned depth;
	bool nomem;
	bool hashable;  /* the value parse_value returned can be a set member or a key */
};

static void skip_ws(struct lp *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' ||
				 *p->s == '\r' || *p->s == '\f' || *p->s == '\v'))
		p->s++;
}

static bool is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || (unsigned char)c >= 0x80;
}

static bool take_word(struct lp *p, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(p->end - p->s) < n || memcmp(p->s, w, n) != 0)
		return false;
	if (p->s + n < p->end && is_ident(p->s[n]))
		return false;
	p->s += n;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string literal, with an r/u prefix (bytes are not str: refused), its
 * escapes decoded as the template engine decodes a Jinja literal's. */
static json_t *parse_string(struct lp *p)
{
	bool raw = false;
	if (*p->s == 'r' || *p->s == 'R') {
		raw = true;
		p->s++;
	} else if (*p->s == 'u' || *p->s == 'U') {
		p->s++;
	}
	if (p->s >= p->end || (*p->s != '\'' && *p->s != '"'))
		return NULL;
	char q = *p->s++;
	const char *b = p->s;
	while (p->s < p->end && *p->s != q) {
		if (*p->s == '\n')
			return NULL;
		if (*p->s == '\\' && p->s + 1 < p->end)
			p->s++;
		p->s++;
	}
	if (p->s >= p->end)
		return NULL;
	size_t n = (size_t)(p->s - b);
	p->s++;
	if (raw)
		return json_stringn(b, n);
	char *o = mqb__malloc(n + 1);
	if (!o) {
		p->nomem = true;
		return NULL;
	}
	/* json_stringn refuses what is not UTF-8 (an escaped surrogate):
	 * then the text stays text */
	json_t *j = json_stringn(o, tpl__unescape(b, n, o));
	mqb__free(o);
	return j;
}

/* A number as Python's tokenizer reads one (underscores, 0x/0o/0b,
 * exponents); complex numbers are refused. Big integers do not fit JSON's
 * and are refused too. */
static json_t *parse_number(struct lp *p, bool neg)
{
	const char *b = p->s;
	char buf[128];
	size_t n = 0;
	bool isfloat = false;
	int base = 10;
	if (p->end - b >= 2 && b[0] == '0' &&
	    (b[1] == 'x' || b[1] == 'X' || b[1] == 'o' || b[1] == 'O' || b[1] == 'b' || b[1] == 'B')) {
		base = b[1] == 'x' || b[1] == 'X' ? 16 : b[1] == 'o' || b[1] == 'O' ? 8 : 2;
		p->s += 2;
	}
	while (p->s < p->end && n < sizeof buf - 1) {
		char c = *p->s;
		if (c == '_') {
			p->s++;
			continue;
		}
		bool ok = base == 16 ? hexval(c) >= 0
			  : base == 10 ? (c >= '0' && c <= '9')
				       : (c >= '0' && c < '0' + base);
		if (!ok && base == 10) {
			if (c == '.' && !isfloat) {
				isfloat = true;
				ok = true;
			} else if ((c == 'e' || c == 'E') && n > 0) {
				isfloat = true;
				buf[n++] = c;
				p->s++;
				if (p->s < p->end && (*p->s == '+' || *p->s == '-'))
					buf[n++] = *p->s++;
				continue;
			}
		}
		if (!ok)
			break;
		buf[n++] = c;
		p->s++;
	}
	if (n == 0 || n == sizeof buf - 1 || (p->s < p->end && (is_ident(*p->s) || *p->s == '.')))
		return NULL; /* 1j, 1abc, overlong */
	buf[n] = '\0';
	if (isfloat) {
		char *e;
		double d = strtod(buf, &e);
		if (*e || (n == 1 && buf[0] == '.'))
			return NULL;
		json_t *j = json_real(neg ? -d : d);
		if (!j)
			p->nomem = true;
		return j;
	}
	if (base == 10 && n > 1 && buf[0] == '0') {
		for (size_t i = 0; i < n; i++)
			if (buf[i] != '0')
				return NULL; /* 007: a syntax error in Python 3 */
	}
	errno = 0;
	char *e;
	unsigned long long v = strtoull(buf, &e, base);
	if (*e || errno || v > (unsigned long long)INT64_MAX + (neg ? 1u : 0u))
		return NULL;
	json_t *j = json_integer(neg ? (json_int_t)(0 - v) : (json_int_t)v);
	if (!j)
		p->nomem = true;
	return j;
}

static json_t *parse_value(struct lp *p);

/* Python's str() of a dict key that is not a string. */
static char *key_text(const json_t *k, char buf[MQB_FLOAT_REPR_MAX + 24])
{
	switch (json_typeof(k)) {
	case JSON_STRING:
		return NULL;
	case JSON_INTEGER:
		snprintf(buf, MQB_FLOAT_REPR_MAX + 24, "%" JSON_INTEGER_FORMAT, json_integer_value(k));
		return buf;
	case JSON_REAL:
		mqb_format_double(json_real_value(k), buf);
		return buf;
	case JSON_TRUE: return strcpy(buf, "True");
	case JSON_FALSE: return strcpy(buf, "False");
	case JSON_NULL: return strcpy(buf, "None");
	default:
		return buf[0] = '\0', buf; /* a tuple key: refused by the caller */
	}
}

/* After an opening bracket: items up to close, as an array; or, for '{',
 * a dict (an object) or a set (an array). */
static json_t *parse_container(struct lp *p, char close)
{
	if (++p->depth > MAX_DEPTH)
		return NULL;
	json_t *arr = NULL, *obj = NULL;
	bool first = true, dict = false, any_comma = false, all_hashable = true;
	for (;;) {
		skip_ws(p);
		if (p->s < p->end && *p->s == close) {
			p->s++;
			break;
		}
		if (!first) {
			if (p->s >= p->end || *p->s != ',')
				goto bad;
			p->s++;
			any_comma = true;
			skip_ws(p);
			if (p->s < p->end && *p->s == close) {
				p->s++;
				break;
			}
		}
		json_t *v = parse_value(p);
		if (!v)
			goto bad;
		bool v_hashable = p->hashable;
		all_hashable = all_hashable && v_hashable;
		skip_ws(p);
		if (close == '}' && first && p->s < p->end && *p->s == ':')
			dict = true;
		if (close == '}' && !v_hashable) {
			/* a list or dict as a key or set member: Python's TypeError */
			json_decref(v);
			goto bad;
		}
		if (dict) {
			if (p->s >= p->end || *p->s != ':') {
				json_decref(v);
				goto bad;
			}
			p->s++;
			skip_ws(p);
			json_t *val = parse_value(p);
			char kb[MQB_FLOAT_REPR_MAX + 24];
			const char *kt = key_text(v, kb);
			if (!val || (kt && !kt[0])) {
				json_decref(v);
				json_decref(val);
				goto bad;
			}
			if (!obj && !(obj = json_object())) {
				p->nomem = true;
				json_decref(v);
				json_decref(val);
				goto bad;
			}
			int rc = kt ? json_object_set_new(obj, kt, val)
				    : json_object_setn_new(obj, json_string_value(v),
							   json_string_length(v), val);
			json_decref(v);
			if (rc) {
				p->nomem = true;
				goto bad;
			}
		} else {
			if (!arr && !(arr = json_array())) {
				p->nomem = true;
				json_decref(v);
				goto bad;
			}
			if (json_array_append_new(arr, v)) {
				p->nomem = true;
				goto bad;
			}
		}
		first = false;
	}
	(void)any_comma;
	p->depth--;
	/* only a tuple of hashable items is hashable */
	p->hashable = close == ')' && all_hashable;
	if (dict)
		return obj;
	if (close == '}' && first) {
		/* {} is an empty dict */
		json_t *o = json_object();
		if (!o)
			p->nomem = true;
		return o;
	}
	if (!arr && !(arr = json_array()))
		p->nomem = true;
	return arr;
bad:
	json_decref(arr);
	json_decref(obj);
	return NULL;
}

static json_t *parse_value(struct lp *p)
{
	p->hashable = true;
	skip_ws(p);
	if (p->s >= p->end)
		return NULL;
	char c = *p->s;
	switch (c) {
	case '[':
		p->s++;
		return parse_container(p, ']');
	case '(': {
		p->s++;
		/* (x) is x; (x,) and (x, y) are tuples */
		const char *save = p->s;
		skip_ws(p);
		if (p->s < p->end && *p->s == ')') {
			p->s++;
			json_t *a = json_array();
			if (!a)
				p->nomem = true;
			return a;
		}
		json_t *v = parse_value(p);
		skip_ws(p);
		if (v && p->s < p->end && *p->s == ')') {
			p->s++;
			return v;
		}
		json_decref(v);
		p->s = save;
		return parse_container(p, ')');
	}
	case '{':
		p->s++;
		return parse_container(p, '}');
	case '\'':
	case '"':
		return parse_string(p);
	case '-':
	case '+': {
		p->s++;
		skip_ws(p);
		if (p->s >= p->end || !((*p->s >= '0' && *p->s <= '9') || *p->s == '.'))
			return NULL;
		return parse_number(p, c == '-');
	}
	default:
		break;
	}
	if ((c >= '0' && c <= '9') || c == '.')
		return parse_number(p, false);
	if (take_word(p, "True"))
		return json_true();
	if (take_word(p, "False"))
		return json_false();
	if (take_word(p, "None"))
		return json_null();
	if (c == 'r' || c == 'R' || c == 'u' || c == 'U')
		return parse_string(p);
	return NULL;
}

/* Home Assistant's _IS_NUMERIC: ^[+-]?(?!0\d)\d*(?:\.\d*)?$ */
static bool is_numeric(const char *s, size_t len)
{
	size_t i = 0;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i + 1 < len && s[i] == '0' && s[i + 1] >= '0' && s[i + 1] <= '9')
		return false;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == len;
}

json_t *tpl__parse_result(const char *text, size_t len)
{
	struct lp p = { .s = text, .end = text + len };
	json_t *v = parse_value(&p);
	skip_ws(&p);
	if (v && p.s < p.end && *p.s == ',') {
		/* "1, 2": a tuple without its parentheses */
		json_decref(v);
		p.s = text;
		p.depth = 0;
		json_t *a = json_array();
		if (!a)
			return NULL;
		for (;;) {
			json_t *x = parse_value(&p);
			if (!x || json_array_append_new(a, x)) {
				json_decref(a);
				a = NULL;
				break;
			}
			skip_ws(&p);
			if (p.s < p.end && *p.s == ',') {
				p.s++;
				skip_ws(&p);
				if (p.s == p.end)
					break;
				continue;
			}
			break;
		}
		v = a;
		skip_ws(&p);
	}
	if (v && p.s == p.end) {
		/* A string literal gives the text as rendered; a number only
		 * when it is written as a plain decimal. */
		if (json_is_string(v) || (json_is_number(v) && !is_numeric(text, len))) {
			json_decref(v);
		} else {
			return v;
		}
	} else {
		json_decref(v);
	}
	if (p.nomem)
		return NULL;
	return json_stringn_nocheck(text, len);
}

int tpl__text_scalar(const char *text, size_t len, json_t **scalar)
{
	*scalar = NULL;
	struct lp p = { .s = text, .end = text + len };
	skip_ws(&p);
	/* a list, dict or set literal, or no literal at all: text either way */
	if (p.s < p.end && (*p.s == '[' || *p.s == '{'))
		return 0;
	json_t *v = tpl__parse_result(text, len);
	if (!v)
		return -ENOMEM;
	if (json_is_string(v) || json_is_array(v) || json_is_object(v))
		json_decref(v);
	else
		*scalar = v;
	return 0;
}

int tpl__render_json(const struct mqb_template *t, const struct mqb_tpl_vars *vars, bool parse,
		     json_t **out, struct mqb_tpl_error *err)
{
	char *text = NULL;
	size_t len = 0;
	*out = NULL;
	int rc = mqb_template_render(t, vars, NULL, &text, &len, err);
	if (rc)
		return rc;
	const char *s = mqb_strip(text, &len);
	*out = parse ? tpl__parse_result(s, len) : json_stringn_nocheck(s, len);
	mqb__free(text);
	return *out ? 0 : -ENOMEM;
}
