/* SPDX-License-Identifier: MIT */
/* Values with templates inside, as Home Assistant's cv.template_complex
 * keeps them and render_complex renders them: every string a template
 * (static ones read back as literals), lists and mappings walked, keys
 * rendered too. A value without templates is built once. */
#include "lib/dtoa.h"
#include "lib/internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/schema.h"
#include "ha/duration.h"
#include "ha/tval.h"
#include "mqbridge/json.h"
#include "mqbridge/text.h"
#include "template/native.h"

/* ---- YAML 1.1 scalars -------------------------------------------------------- */

static bool is_digit_us(char c, int base)
{
	if (c == '_')
		return true;
	if (base == 16)
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
	return c >= '0' && c < '0' + (base > 10 ? 10 : base);
}

/* digits of base (with '_') in s[i..len), at least one; their value. */
static bool int_digits(const char *s, size_t i, size_t len, int base, unsigned long long *v)
{
	unsigned long long x = 0;
	bool any = false;
	for (; i < len; i++) {
		char c = s[i];
		if (!is_digit_us(c, base))
			return false;
		if (c == '_')
			continue;
		int d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
		if (x > (~0ULL - (unsigned)d) / (unsigned)base)
			return false;
		x = x * (unsigned)base + (unsigned)d;
		any = true;
	}
	*v = x;
	return any;
}

static json_t *int_or_null(bool neg, unsigned long long v)
{
	if (v > (unsigned long long)INT64_MAX + (neg ? 1u : 0u))
		return NULL; /* beyond JSON's integers: stays text */
	return json_integer(neg ? (json_int_t)(0 - v) : (json_int_t)v);
}

/* YAML 1.1's sexagesimal number: an integer, or with a fraction after its
 * last part a float ([-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*). */
static bool sexagesimal(const char *s, size_t len, double *out, bool *isfloat)
{
	const char *dot = memchr(s, '.', len);
	size_t ilen = dot ? (size_t)(dot - s) : len;
	if (!memchr(s, ':', ilen) || !schema__parse_sexagesimal(s, ilen, out))
		return false;
	*isfloat = dot != NULL;
	if (!dot)
		return true;
	double frac = 0, scale = 0.1;
	for (size_t i = ilen + 1; i < len; i++) {
		if (s[i] == '_')
			continue;
		if (s[i] < '0' || s[i] > '9')
			return false;
		frac += (s[i] - '0') * scale;
		scale /= 10;
	}
	*out += *out < 0 || s[0] == '-' ? -frac : frac;
	return true;
}

/* PyYAML's float: [-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)? (one of
 * the digit runs not empty). */
static bool yaml_float(const char *s, size_t len, double *out)
{
	size_t i = 0;
	char buf[64];
	size_t n = 0;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		buf[n++] = s[i++];
	size_t digits = 0;
	for (; i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'); i++)
		if (s[i] != '_' && n < sizeof buf - 8)
			buf[n++] = s[i], digits++;
	if (i == len || s[i] != '.')
		return false;
	buf[n++] = s[i++];
	for (; i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'); i++)
		if (s[i] != '_' && n < sizeof buf - 8)
			buf[n++] = s[i], digits++;
	if (digits == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		buf[n++] = s[i++];
		if (i == len || (s[i] != '+' && s[i] != '-'))
			return false;
		buf[n++] = s[i++];
		size_t b = i;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			if (n < sizeof buf - 1)
				buf[n++] = s[i];
		if (i == b)
			return false;
	}
	if (i != len || n >= sizeof buf)
		return false;
	buf[n] = '\0';
	*out = strtod(buf, NULL);
	return true;
}

static bool word_in(const char *s, size_t len, const char *const *words)
{
	for (size_t i = 0; words[i]; i++)
		if (strlen(words[i]) == len && memcmp(words[i], s, len) == 0)
			return true;
	return false;
}

json_t *tval__yaml11(const char *s, size_t len)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const yes[] = { "yes", "Yes", "YES", "true", "True", "TRUE",
					   "on", "On", "ON", NULL };
	static const char *const no[] = { "no", "No", "NO", "false", "False", "FALSE",
					  "off", "Off", "OFF", NULL };
	if (word_in(s, len, nulls))
		return json_null();
	if (word_in(s, len, yes))
		return json_true();
	if (word_in(s, len, no))
		return json_false();
	size_t i = 0;
	bool neg = false;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	unsigned long long v;
	double d;
	bool isfloat;
	if (len - i == 1 && s[i] == '0')
		return json_integer(0);
	if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'b')) {
		if (int_digits(s, i + 2, len, s[i + 1] == 'x' ? 16 : 2, &v))
			return int_or_null(neg, v);
		return NULL;
	}
	if (len - i > 1 && s[i] == '0' && int_digits(s, i + 1, len, 8, &v))
		return int_or_null(neg, v);
	if (i < len && s[i] >= '1' && s[i] <= '9' && int_digits(s, i, len, 10, &v))
		return int_or_null(neg, v);
	if (sexagesimal(s, len, &d, &isfloat)) {
		if (isfloat)
			return json_real(d);
		return int_or_null(d < 0, (unsigned long long)fabs(d));
	}
	if (yaml_float(s, len, &d))
		return isfinite(d) ? json_real(d) : NULL;
	return NULL; /* .inf and .nan have no JSON: they stay text */
}

const char *tval__key_text(const json_t *k, char *buf, size_t buflen, char **heap)
{
	*heap = NULL;
	switch (json_typeof(k)) {
	case JSON_STRING:
		return json_string_value(k);
	case JSON_INTEGER:
		snprintf(buf, buflen, "%" JSON_INTEGER_FORMAT, json_integer_value(k));
		return buf;
	case JSON_REAL: {
		char r[MQB_FLOAT_REPR_MAX];
		mqb_format_double(json_real_value(k), r);
		snprintf(buf, buflen, "%s", r);
		return buf;
	}
	case JSON_TRUE: return "True";
	case JSON_FALSE: return "False";
	case JSON_NULL: return "None";
	default:
		return *heap = mqb_json_dumps(k, MQB_JSON_COMPACT);
	}
}

/* ---- compile ------------------------------------------------------------------ */

void tval__fini(struct tval *tv)
{
	if (!tv)
		return;
	json_decref(tv->value);
	json_decref(tv->texts);
	mqb_template_free(tv->tpl);
	size_t n = tv->kind == TVAL_MAP ? 2 * tv->n : tv->n;
	for (size_t i = 0; i < n; i++)
		tval__fini(&tv->items[i]);
	mqb__free(tv->items);
	memset(tv, 0, sizeof *tv);
}

/* Whether node holds a template anywhere. */
static bool has_template(const struct mqb_conf_node *node)
{
	size_t len;
	const char *s;
	switch (mqb_conf_kind(node)) {
	case MQB_CONF_SCALAR:
		s = mqb_conf_scalar(node, &len);
		return duration__is_template_text(s, len);
	case MQB_CONF_SEQ:
		for (size_t i = 0; i < mqb_conf_len(node); i++)
			if (has_template(mqb_conf_item(node, i)))
				return true;
		return false;
	case MQB_CONF_MAP:
		for (size_t i = 0; i < mqb_conf_len(node); i++)
			if (has_template(mqb_conf_key(node, i)) || has_template(mqb_conf_value(node, i)))
				return true;
		return false;
	default:
		return false;
	}
}

/* A node as JSON, strings read as literals (parse: as Home Assistant
 * renders a static template) or kept as written. */
static json_t *conf_json(const struct mqb_conf_node *node, bool parse)
{
	size_t len;
	const char *s;
	json_t *out;
	switch (mqb_conf_kind(node)) {
	case MQB_CONF_SCALAR:
		s = mqb_conf_scalar(node, &len);
		if (!mqb_conf_quoted(node) && (out = tval__yaml11(s, len)))
			return out;
		return parse ? tpl__parse_result(s, len) : json_stringn(s, len);
	case MQB_CONF_SEQ:
		if (!(out = json_array()))
			return NULL;
		for (size_t i = 0; i < mqb_conf_len(node); i++)
			if (json_array_append_new(out, conf_json(mqb_conf_item(node, i), parse)))
				goto fail;
		return out;
	case MQB_CONF_MAP:
		if (!(out = json_object()))
			return NULL;
		for (size_t i = 0; i < mqb_conf_len(node); i++) {
			json_t *k = conf_json(mqb_conf_key(node, i), parse);
			char buf[64], *heap = NULL;
			const char *kt = k ? tval__key_text(k, buf, sizeof buf, &heap) : NULL;
			int rc = kt ? json_object_set_new(out, kt, conf_json(mqb_conf_value(node, i), parse))
				    : -1;
			mqb__free(heap);
			json_decref(k);
			if (rc)
				goto fail;
		}
		return out;
	default:
		return json_null();
	}
fail:
	json_decref(out);
	return NULL;
}

/* The text of a scalar conf_json reads as a literal (a quoted string, or
 * a plain one YAML 1.1 leaves a string), when that literal is a list or
 * mapping: a new JSON string; else NULL (*nomem on ENOMEM). */
static json_t *container_text(const struct mqb_conf_node *node, const json_t *value, bool *nomem)
{
	size_t len;
	const char *s;
	json_t *typed = NULL;
	if (mqb_conf_kind(node) != MQB_CONF_SCALAR || !(json_is_array(value) || json_is_object(value)))
		return NULL;
	s = mqb_conf_scalar(node, &len);
	if (!mqb_conf_quoted(node) && (typed = tval__yaml11(s, len))) {
		json_decref(typed);
		return NULL;
	}
	json_t *t = json_stringn(s, len);
	*nomem = !t;
	return t;
}

/* tv->texts for a static tv made from node. 0 or -ENOMEM. */
static int static_texts(const struct mqb_conf_node *node, struct tval *tv)
{
	bool nomem = false;
	if (mqb_conf_kind(node) == MQB_CONF_SCALAR) {
		tv->texts = container_text(node, tv->value, &nomem);
		return nomem ? -ENOMEM : 0;
	}
	if (mqb_conf_kind(node) != MQB_CONF_MAP)
		return 0;
	for (size_t i = 0; i < mqb_conf_len(node); i++) {
		/* the key as conf_json made it */
		json_t *k = conf_json(mqb_conf_key(node, i), true);
		char buf[64], *heap = NULL;
		const char *kt = k ? tval__key_text(k, buf, sizeof buf, &heap) : NULL;
		json_t *t = kt ? container_text(mqb_conf_value(node, i), json_object_get(tv->value, kt),
						&nomem)
			       : NULL;
		if (t && !tv->texts && !(tv->texts = json_object()))
			nomem = true;
		if (t && !nomem && json_object_set(tv->texts, kt, t))
			nomem = true;
		json_decref(t);
		mqb__free(heap);
		json_decref(k);
		if (nomem || !kt)
			return -ENOMEM;
	}
	return 0;
}

json_t *tval__from_conf(const struct mqb_conf_node *node)
{
	return conf_json(node, false);
}

size_t tval__compile(struct tval *tv, const struct mqb_conf_node *node, const char *path,
		     struct mqb_conf_errors *errs)
{
	size_t found = 0;
	memset(tv, 0, sizeof *tv);
	if (!has_template(node)) {
		tv->kind = TVAL_STATIC;
		if (!(tv->value = conf_json(node, true)) || static_texts(node, tv) < 0) {
			tval__fini(tv);
			mqb_conf_error(errs, NULL, path, "out of memory");
			return 1;
		}
		return 0;
	}
	enum mqb_conf_kind kind = mqb_conf_kind(node);
	if (kind == MQB_CONF_SCALAR) {
		tv->kind = TVAL_TEMPLATE;
		if (schema__compile_template(node, path, errs, &tv->tpl) < 0)
			found++;
	} else {
		tv->kind = kind == MQB_CONF_SEQ ? TVAL_LIST : TVAL_MAP;
		tv->n = mqb_conf_len(node);
		size_t n = kind == MQB_CONF_SEQ ? tv->n : 2 * tv->n;
		if (!(tv->items = mqb__calloc(n ? n : 1, sizeof *tv->items))) {
			mqb_conf_error(errs, NULL, path, "out of memory");
			tv->n = 0;
			return 1;
		}
		for (size_t i = 0; i < tv->n; i++) {
			if (kind == MQB_CONF_SEQ) {
				found += tval__compile(&tv->items[i], mqb_conf_item(node, i), path, errs);
			} else {
				found += tval__compile(&tv->items[2 * i], mqb_conf_key(node, i), path, errs);
				found += tval__compile(&tv->items[2 * i + 1], mqb_conf_value(node, i), path,
						       errs);
			}
		}
	}
	if (found)
		tval__fini(tv);
	return found;
}

/* ---- render ------------------------------------------------------------------- */

int tval__render(const struct tval *tv, const struct mqb_tpl_vars *vars, json_t **out,
		 struct mqb_tpl_error *err)
{
	json_t *o = NULL;
	int rc = 0;
	*out = NULL;
	switch (tv->kind) {
	case TVAL_STATIC:
		o = json_deep_copy(tv->value);
		break;
	case TVAL_TEMPLATE:
		return tpl__render_json(tv->tpl, vars, true, out, err);
	case TVAL_LIST:
		if (!(o = json_array()))
			return -ENOMEM;
		for (size_t i = 0; i < tv->n; i++) {
			json_t *x;
			if ((rc = tval__render(&tv->items[i], vars, &x, err)))
				goto fail;
			if (json_array_append_new(o, x)) {
				rc = -ENOMEM;
				goto fail;
			}
		}
		break;
	case TVAL_MAP:
		if (!(o = json_object()))
			return -ENOMEM;
		for (size_t i = 0; i < tv->n; i++) {
			const struct tval *kt0 = &tv->items[2 * i];
			json_t *k = NULL, *v;
			if (kt0->kind == TVAL_STATIC && json_is_string(kt0->value)) {
				/* the common key: text, used as it is */
				if ((rc = tval__render(&tv->items[2 * i + 1], vars, &v, err)))
					goto fail;
				if (json_object_set_new(o, json_string_value(kt0->value), v)) {
					rc = -ENOMEM;
					goto fail;
				}
				continue;
			}
			if ((rc = tval__render(kt0, vars, &k, err)))
				goto fail;
			if ((rc = tval__render(&tv->items[2 * i + 1], vars, &v, err))) {
				json_decref(k);
				goto fail;
			}
			char buf[64], *heap = NULL;
			const char *kt = tval__key_text(k, buf, sizeof buf, &heap);
			rc = kt && json_object_set_new(o, kt, v) == 0 ? 0 : -ENOMEM;
			if (!kt)
				json_decref(v);
			mqb__free(heap);
			json_decref(k);
			if (rc)
				goto fail;
		}
		break;
	}
	if (!o)
		return -ENOMEM;
	*out = o;
	return 0;
fail:
	json_decref(o);
	return rc;
}

static bool among(const char *key, const char *const *keys)
{
	for (; *keys; keys++)
		if (strcmp(key, *keys) == 0)
			return true;
	return false;
}

/* texts[key] = text (a new reference taken), texts made on first use. */
static int keep_text(json_t **texts, const char *key, json_t *text)
{
	if (!*texts && !(*texts = json_object())) {
		json_decref(text);
		return -ENOMEM;
	}
	return json_object_set_new(*texts, key, text) ? -ENOMEM : 0;
}

/* A text field's template, rendered as tval__render_call says. */
static int render_text(const struct tval *tv, const struct mqb_tpl_vars *vars, bool natives,
		       const char *key, json_t **out, json_t **texts, struct mqb_tpl_error *err)
{
	json_t *text, *v;
	int rc = tpl__render_json(tv->tpl, vars, false, &text, err);
	if (rc)
		return rc;
	const char *s = json_string_value(text);
	size_t len = json_string_length(text);
	if (natives) {
		if (!(v = tpl__parse_result(s, len))) {
			rc = -ENOMEM;
		} else if (json_is_string(v)) { /* the text itself, kept once */
			json_decref(v);
			v = json_incref(text);
		} else if (json_is_array(v) || json_is_object(v)) {
			rc = keep_text(texts, key, json_incref(text));
		}
	} else if ((rc = tpl__text_scalar(s, len, &v)) == 0 && !v) {
		v = json_incref(text);
	}
	json_decref(text);
	if (rc) {
		json_decref(v);
		return rc;
	}
	*out = v;
	return 0;
}

int tval__render_call(const struct tval *tv, const struct mqb_tpl_vars *vars,
		      const char *const *text_keys, bool natives, json_t **out, json_t **texts,
		      struct mqb_tpl_error *err)
{
	*texts = NULL;
	if (!text_keys || (tv->kind != TVAL_MAP && tv->kind != TVAL_STATIC))
		return tval__render(tv, vars, out, err);
	int rc = 0;
	if (tv->kind == TVAL_STATIC) {
		const char *k;
		json_t *t;
		if ((rc = tval__render(tv, vars, out, err)))
			return rc;
		if (json_is_object(tv->texts))
			json_object_foreach(tv->texts, k, t)
				if (among(k, text_keys) &&
				    (rc = keep_text(texts, k, json_copy(t))))
					goto fail;
		return 0;
	}
	json_t *o = json_object();
	if (!(*out = o))
		return -ENOMEM;
	for (size_t i = 0; i < tv->n; i++) {
		const struct tval *kt = &tv->items[2 * i], *vt = &tv->items[2 * i + 1];
		const char *key = kt->kind == TVAL_STATIC ? json_string_value(kt->value) : NULL;
		if (!key || !among(key, text_keys) || (vt->kind != TVAL_TEMPLATE &&
						       vt->kind != TVAL_STATIC)) {
			/* as tval__render does it: one pair at a time */
			struct tval pair = { .kind = TVAL_MAP, .n = 1, .items = (struct tval *)kt };
			json_t *one;
			if ((rc = tval__render(&pair, vars, &one, err)))
				goto fail;
			rc = json_object_update(o, one) ? -ENOMEM : 0;
			json_decref(one);
			if (rc)
				goto fail;
			continue;
		}
		json_t *v;
		if (vt->kind == TVAL_TEMPLATE) {
			rc = render_text(vt, vars, natives, key, &v, texts, err);
		} else {
			rc = (v = json_deep_copy(vt->value)) ? 0 : -ENOMEM;
			if (!rc && vt->texts)
				rc = keep_text(texts, key, json_copy(vt->texts));
		}
		if (rc)
			goto fail;
		if (json_object_set_new(o, key, v)) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	return 0;
fail:
	json_decref(*out);
	json_decref(*texts);
	*out = *texts = NULL;
	return rc;
}

/* ---- Python's float() and int() -------------------------------------------------- */

/* A number or boolean's value; or a string's stripped text in buf. */
static int number_or_text(const json_t *v, double *num, char *buf, size_t len)
{
	if (json_is_number(v) || json_is_boolean(v)) {
		*num = json_is_boolean(v) ? json_is_true(v) : json_number_value(v);
		return 1;
	}
	if (!json_is_string(v))
		return -1;
	size_t n = json_string_length(v);
	const char *s = mqb_strip(json_string_value(v), &n);
	if (n == 0 || n >= len)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

bool tval__py_float(const json_t *v, double *out)
{
	char buf[64], *end;
	int k = number_or_text(v, out, buf, sizeof buf);
	if (k)
		return k > 0;
	if ((buf[0] == '0' || buf[0] == '-' || buf[0] == '+') && strpbrk(buf, "xX"))
		return false; /* strtod reads hex; float() does not */
	*out = strtod(buf, &end);
	return *end == '\0';
}

bool tval__py_int(const json_t *v, long long *out)
{
	char buf[32], *end;
	double d;
	int k = number_or_text(v, &d, buf, sizeof buf);
	if (k > 0) {
		int64_t n;
		if (!dtoa__to_int(d, &n)) /* int(3.7) is 3 */
			return false;
		*out = n;
		return true;
	}
	if (k < 0)
		return false;
	errno = 0;
	*out = strtoll(buf, &end, 10);
	return *end == '\0' && errno == 0;
}
