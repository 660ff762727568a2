/* SPDX-License-Identifier: MIT */
/* Schema tables applied to configuration nodes: Home Assistant's scalar
 * coercion (cv.string, cv.boolean, cv.positive_int, cv.time_period, ...),
 * defaults, ranges, "did you mean" for unknown keys, and every problem
 * collected as file:line:column, path and message; and a template option
 * it checked, compiled for the module that uses it (mqb_template_from_conf). */
#include "lib/dtoa.h"
#include "lib/internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mqbridge/config.h"
#include "config/schema.h"
#include "mqbridge/mqtt.h"
#include "mqbridge/platform.h"
#include "mqbridge/template.h"
#include "mqbridge/text.h"
#include "config/config_impl.h"

/* ---- paths ---------------------------------------------------------------- */

/* The path of the node being checked, grown and cut as the walk goes down
 * and back up. Out of memory only truncates it. */
struct path {
	char *s;
	size_t len, cap;
};

static void path_init(struct path *p, const char *prefix)
{
	size_t n = prefix ? strlen(prefix) : 0;
	p->cap = n + 64;
	p->s = mqb__malloc(p->cap);
	p->len = 0;
	if (p->s) {
		memcpy(p->s, prefix ? prefix : "", n);
		p->s[n] = '\0';
		p->len = n;
	}
}

static const char *path_str(const struct path *p)
{
	return p->s ? p->s : "";
}

static size_t __attribute__((format(printf, 2, 3))) path_push(struct path *p, const char *fmt, ...)
{
	size_t old = p->len;
	if (!p->s)
		return old;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(p->s + p->len, p->cap - p->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		p->s[old] = '\0';
		return old;
	}
	if ((size_t)n >= p->cap - p->len) {
		size_t cap = p->len + (size_t)n + 64;
		char *s = mqb__realloc(p->s, cap);
		if (!s) {
			p->s[old] = '\0';
			return old;
		}
		p->s = s;
		p->cap = cap;
		va_start(ap, fmt);
		vsnprintf(p->s + p->len, p->cap - p->len, fmt, ap);
		va_end(ap);
	}
	p->len += (size_t)n;
	return old;
}

static size_t path_key(struct path *p, const char *key)
{
	return p->len ? path_push(p, ".%s", key) : path_push(p, "%s", key);
}

static void path_pop(struct path *p, size_t old)
{
	if (p->s) {
		p->len = old;
		p->s[old] = '\0';
	}
}

/* ---- messages ------------------------------------------------------------- */

/* What a message may say a node is: 'text' (secrets hidden by the loader's
 * display), "a mapping", "a sequence" or "null". */
const char *schema__describe(const struct mqb_conf_node *n, char *buf, size_t buflen)
{
	if (mqb_conf_is_secret(n))
		return "(secret)";
	switch (mqb_conf_kind(n)) {
	case MQB_CONF_NULL:
		return "null";
	case MQB_CONF_SEQ:
		return "a sequence";
	case MQB_CONF_MAP:
		return "a mapping";
	case MQB_CONF_SCALAR:
		break;
	}
	char text[72];
	snprintf(buf, buflen, "'%s'", mqb_conf_display(n, text, sizeof text));
	return buf;
}

/* The value alone, unquoted, for "got 70000". */
static const char *shown(const struct mqb_conf_node *n, char *buf, size_t buflen)
{
	if (mqb_conf_kind(n) != MQB_CONF_SCALAR)
		return schema__describe(n, buf, buflen);
	return mqb_conf_display(n, buf, buflen);
}

static const char *fmt_num(double v, char *buf, size_t len)
{
	if (v > -1e15 && v < 1e15 && v == (double)(long long)v)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%g", v);
	return buf;
}

/* ---- did you mean --------------------------------------------------------- */

/* Damerau-Levenshtein distance (optimal string alignment), on bytes; words
 * longer than the bound are never close. */
#define SUGGEST_MAX 64

static unsigned distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > SUGGEST_MAX || lb > SUGGEST_MAX)
		return UINT_MAX;
	unsigned rows[3][SUGGEST_MAX + 1];
	unsigned *pp = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1];
			unsigned d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (prev[j - 1] + cost < d)
				d = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			cur[j] = d;
		}
		unsigned *t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

/* How far a word may be from a suggestion: 2 edits, or a third of its
 * length for long words; 1 for words of three letters or fewer (else 'qos'
 * would suggest 'tls'). */
static unsigned suggest_limit(const char *word)
{
	size_t len = strlen(word);
	return len <= 3 ? 1 : len / 3 > 2 ? (unsigned)(len / 3) : 2;
}

/* Keep cand if it is closer than *best; ties go to the earlier one. */
static void consider(const char *word, const char *cand, const char **best, unsigned *bestd)
{
	unsigned d = cand ? distance(word, cand) : UINT_MAX;
	if (d <= suggest_limit(word) && d < *bestd) {
		*best = cand;
		*bestd = d;
	}
}

/* The closest of cands to word, or NULL when none is close. */
const char *schema__suggest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	unsigned bestd = UINT_MAX;
	for (size_t i = 0; i < n; i++)
		consider(word, cands[i], &best, &bestd);
	return best;
}

static const char *suggest_key(const struct mqb_schema *s, const char *word)
{
	const char *best = NULL;
	unsigned bestd = UINT_MAX;
	for (size_t i = 0; i < s->nkeys; i++)
		consider(word, s->keys[i].key, &best, &bestd);
	return best;
}

/* ---- scalar coercion ------------------------------------------------------ */

union value {
	const char *s;
	long long i;
	double d;
	bool b;
};

enum verdict {
	V_OK,
	V_TYPE,   /* not the kind of scalar wanted */
	V_RANGE,  /* a number outside the range */
	V_CHOICE, /* not one of the choices */
};

/* [+-]digits; saturates on overflow (the range check then says so). */
static bool parse_int(const char *s, size_t len, long long *out)
{
	size_t i = 0;
	bool neg = false;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == len)
		return false;
	unsigned long long v = 0;
	bool big = false;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (ULLONG_MAX - 9) / 10)
			big = true;
		else
			v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (neg)
		*out = big || v > (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN
								    : (long long)(0 - v);
	else
		*out = big || v > LLONG_MAX ? LLONG_MAX : (long long)v;
	return true;
}

/* A decimal number: [+-](digits[.digits]|.digits)([eE][+-]digits); no hex,
 * no inf or nan. */
bool schema__parse_float(const char *s, size_t len, double *out)
{
	size_t i = 0, digits = 0;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < len && isdigit((unsigned char)s[i]))
		i++, digits++;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && isdigit((unsigned char)s[i]))
			i++, digits++;
	}
	if (digits == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t e = i;
		while (i < len && isdigit((unsigned char)s[i]))
			i++;
		if (i == e)
			return false;
	}
	if (i != len || len >= 64)
		return false;
	char buf[64];
	memcpy(buf, s, len);
	buf[len] = '\0';
	double d = strtod(buf, NULL);
	if (!isfinite(d))
		return false;
	*out = d;
	return true;
}

bool schema__parse_bool(const char *s, size_t len, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1", "enable", NULL};
	static const char *const no[] = {"false", "no", "off", "0", "disable", NULL};
	for (int i = 0; yes[i]; i++)
		if (strlen(yes[i]) == len && strncasecmp(s, yes[i], len) == 0)
			return *out = true, true;
	for (int i = 0; no[i]; i++)
		if (strlen(no[i]) == len && strncasecmp(s, no[i], len) == 0)
			return *out = false, true;
	return false;
}

static size_t span_digits(const char *s, size_t i, size_t len)
{
	size_t j = i;
	while (j < len && isdigit((unsigned char)s[j]))
		j++;
	return j - i;
}

/* YAML 1.1's sexagesimal integer, which PyYAML (and so Home Assistant)
 * reads from a plain 1:30 as 90: [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+ */
bool schema__parse_sexagesimal(const char *s, size_t len, double *out)
{
	size_t i = 0;
	bool neg = false;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == len || s[i] < '1' || s[i] > '9')
		return false;
	double v = 0;
	while (i < len && (isdigit((unsigned char)s[i]) || s[i] == '_')) {
		if (s[i] != '_')
			v = v * 10 + (s[i] - '0');
		i++;
	}
	bool parts = false;
	while (i < len && s[i] == ':') {
		i++;
		size_t n = span_digits(s, i, len);
		if (n == 0 || n > 2 || (n == 2 && s[i] > '5'))
			return false;
		unsigned part = 0;
		for (size_t k = 0; k < n; k++)
			part = part * 10 + (unsigned)(s[i + k] - '0');
		v = v * 60 + part;
		i += n;
		parts = true;
	}
	if (i != len || !parts)
		return false;
	*out = neg ? -v : v;
	return true;
}

bool schema__parse_duration(const char *s, size_t len, bool plain, double *out)
{
	if (schema__parse_float(s, len, out))
		return true;
	if (plain && schema__parse_sexagesimal(s, len, out))
		return true;
	return mqb_parse_time_period_str(s, len, out);
}

static bool in_range(const struct mqb_schema_key *k, double v)
{
	return !(k->min < k->max) || (v >= k->min && v <= k->max);
}

/* Turn one scalar's text into k's type. */
static enum verdict coerce(const struct mqb_schema_key *k, const char *text, size_t len, bool plain,
			   union value *v)
{
	long long i;
	switch (k->type) {
	case MQB_S_STRING:
		v->s = text;
		return V_OK;
	case MQB_S_TOPIC:
		v->s = text;
		return mqb_mqtt_topic_valid(text, len) ? V_OK : V_TYPE;
	case MQB_S_FILTER:
		v->s = text;
		return strlen(text) == len && mqb_mqtt_filter_valid(text) ? V_OK : V_TYPE;
	case MQB_S_INT:
		if (!parse_int(text, len, &i))
			return V_TYPE;
		v->i = i;
		if (!in_range(k, (double)i))
			return V_RANGE;
		return i < INT_MIN || i > INT_MAX ? V_RANGE : V_OK;
	case MQB_S_UINT:
	case MQB_S_SIZE:
		if (!parse_int(text, len, &i))
			return V_TYPE;
		v->i = i;
		if (!in_range(k, (double)i))
			return V_RANGE;
		if (i < 0)
			return V_TYPE;
		return k->type == MQB_S_UINT && i > UINT_MAX ? V_RANGE : V_OK;
	case MQB_S_FLOAT:
		if (!schema__parse_float(text, len, &v->d))
			return V_TYPE;
		return in_range(k, v->d) ? V_OK : V_RANGE;
	case MQB_S_DURATION:
		if (!schema__parse_duration(text, len, plain, &v->d))
			return V_TYPE;
		return in_range(k, v->d) ? V_OK : V_RANGE;
	case MQB_S_BOOL:
		return schema__parse_bool(text, len, &v->b) ? V_OK : V_TYPE;
	case MQB_S_ENUM:
		for (size_t c = 0; k->choices && k->choices[c]; c++)
			if (strlen(k->choices[c]) == len &&
			    strncasecmp(text, k->choices[c], len) == 0) {
				v->s = k->choices[c]; /* the canonical spelling */
				return V_OK;
			}
		return V_CHOICE;
	case MQB_S_MAP:
	case MQB_S_LIST:
	case MQB_S_ANY:
	case MQB_S_TEMPLATE:
	case MQB_S_DURATION_TEMPLATE:
		break;
	}
	return V_TYPE;
}

static void store(const struct mqb_schema_key *k, void *field, const union value *v)
{
	if (!field)
		return;
	switch (k->type) {
	case MQB_S_STRING:
	case MQB_S_TOPIC:
	case MQB_S_FILTER:
	case MQB_S_ENUM:
		memcpy(field, &v->s, sizeof v->s);
		break;
	case MQB_S_INT: {
		int x = (int)v->i;
		memcpy(field, &x, sizeof x);
		break;
	}
	case MQB_S_UINT: {
		unsigned x = (unsigned)v->i;
		memcpy(field, &x, sizeof x);
		break;
	}
	case MQB_S_SIZE: {
		size_t x = (size_t)v->i;
		memcpy(field, &x, sizeof x);
		break;
	}
	case MQB_S_FLOAT:
	case MQB_S_DURATION:
		memcpy(field, &v->d, sizeof v->d);
		break;
	case MQB_S_BOOL:
		memcpy(field, &v->b, sizeof v->b);
		break;
	case MQB_S_MAP:
	case MQB_S_LIST:
	case MQB_S_ANY:
	case MQB_S_TEMPLATE:
	case MQB_S_DURATION_TEMPLATE:
		break;
	}
}

static const char *expected(const struct mqb_schema_key *k)
{
	switch (k->type) {
	case MQB_S_STRING: return "a string";
	case MQB_S_INT: return "an integer";
	case MQB_S_UINT:
	case MQB_S_SIZE: return "a non-negative integer";
	case MQB_S_FLOAT: return "a number";
	case MQB_S_BOOL: return "a boolean (true/false, yes/no, on/off, 1/0)";
	case MQB_S_ENUM: return "one of the choices";
	case MQB_S_DURATION:
		return "a duration (seconds, HH:MM, HH:MM:SS[.fff], or a mapping of days, hours, "
		       "minutes, seconds, milliseconds)";
	case MQB_S_TOPIC: return "an MQTT topic name (not empty, no '+' or '#')";
	case MQB_S_FILTER:
		return "an MQTT topic filter ('+' alone in a level, '#' alone at the end)";
	case MQB_S_MAP: return "a mapping";
	case MQB_S_LIST: return "a list";
	case MQB_S_ANY: return "anything";
	case MQB_S_TEMPLATE: return "a template (a string)";
	case MQB_S_DURATION_TEMPLATE:
		return "a duration or a template";
	}
	return "?";
}

/* ---- the walk ------------------------------------------------------------- */

struct walk {
	struct mqb_conf_errors *errs;
	struct path path;
	size_t found; /* problems found (one may fail to be recorded) */
};

static void __attribute__((format(printf, 3, 4)))
err(struct walk *w, const struct mqb_conf_node *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mqb_conf_verror_at(w->errs, at, path_str(&w->path), fmt, ap);
	va_end(ap);
	w->found++;
}

static void *field_of(const struct mqb_schema_key *k, void *target)
{
	return target && k->stored ? (char *)target + k->offset : NULL;
}

static void apply_map(struct walk *w, const struct mqb_schema *s, const struct mqb_conf_node *node,
		      void *target);

/* The default written in the table, parsed as a plain scalar would be. A
 * default that does not parse is a bug in the table. */
static void store_default(const struct mqb_schema *s, const struct mqb_schema_key *k, void *field)
{
	union value v;
	enum verdict r = coerce(k, k->def, strlen(k->def), true, &v);
	MQB_CHECK(r == V_OK, "schema '%s': the default of '%s' (%s) is not %s", s->name, k->key,
		  k->def, expected(k));
	store(k, field, &v);
}

/* { days, hours, minutes, seconds, milliseconds }, Home Assistant's
 * cv.time_period_dict. NaN marks a key not given. */
struct dhms {
	double days, hours, minutes, seconds, milliseconds;
};

#define DHMS(name) \
	{ .key = #name, .type = MQB_S_FLOAT, .offset = offsetof(struct dhms, name), .stored = true }
static const struct mqb_schema_key dhms_keys[] = {
	DHMS(days), DHMS(hours), DHMS(minutes), DHMS(seconds), DHMS(milliseconds),
};
static const struct mqb_schema dhms_schema = {"duration", dhms_keys, 5};

static bool apply_dhms(struct walk *w, const struct mqb_conf_node *node, double *out)
{
	struct dhms d = {NAN, NAN, NAN, NAN, NAN};
	size_t before = w->found;
	apply_map(w, &dhms_schema, node, &d);
	if (w->found > before)
		return false;
	if (isnan(d.days) && isnan(d.hours) && isnan(d.minutes) && isnan(d.seconds) &&
	    isnan(d.milliseconds)) {
		err(w, node,
		    "expected at least one of days, hours, minutes, seconds, milliseconds");
		return false;
	}
	double *v[] = {&d.days, &d.hours, &d.minutes, &d.seconds, &d.milliseconds};
	for (int i = 0; i < 5; i++)
		if (isnan(*v[i]))
			*v[i] = 0;
	*out = d.days * 86400 + d.hours * 3600 + d.minutes * 60 + d.seconds +
	       d.milliseconds / 1000;
	return true;
}

static void check_value(struct walk *w, const struct mqb_schema *s, const struct mqb_schema_key *k,
			const struct mqb_conf_node *node, void *field);

static void check_list(struct walk *w, const struct mqb_schema_key *k,
		       const struct mqb_conf_node *node, void *field)
{
	MQB_CHECK(k->sub && k->sub->nkeys >= 1, "list '%s' has no item schema", k->key);
	const struct mqb_schema_key *item = &k->sub->keys[0];
	enum mqb_conf_kind kind = mqb_conf_kind(node);
	if (kind == MQB_CONF_SEQ) {
		for (size_t i = 0; i < mqb_conf_len(node); i++) {
			size_t old = path_push(&w->path, "[%zu]", i);
			check_value(w, k->sub, item, mqb_conf_item(node, i), NULL);
			path_pop(&w->path, old);
		}
	} else if (kind != MQB_CONF_NULL) {
		/* cv.ensure_list: one item where a list is expected is a list of one */
		check_value(w, k->sub, item, node, NULL);
	}
	if (field) {
		const struct mqb_conf_node *n = kind == MQB_CONF_NULL ? NULL : node;
		memcpy(field, &n, sizeof n);
	}
}

static void choice_error(struct walk *w, const struct mqb_schema_key *k,
			 const struct mqb_conf_node *node)
{
	char list[1024] = "", buf[96];
	size_t off = 0;
	for (size_t c = 0; k->choices && k->choices[c] && off < sizeof list; c++)
		off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", c ? ", " : "",
					k->choices[c]);
	err(w, node, "must be one of: %s; got %s", list, schema__describe(node, buf, sizeof buf));
}

/* A byte offset in a block scalar's text, found in its source lines: a
 * literal block keeps each line break, a folded one turns a single break
 * into a space, and both drop the block's indentation; so each source line
 * contributes its text after the indentation plus one separator (blank
 * lines of a folded block aside, which Home Assistant's templates rarely
 * hold). The file is read again only for an error message. */
static bool block_position(const struct mqb_conf_mark *at, size_t offset,
			   struct mqb_conf_mark *out)
{
	FILE *f = at->file ? fopen(at->file, "r") : NULL;
	if (!f)
		return false;
	char line[4096];
	unsigned n = 0;
	size_t pos = 0, indent = SIZE_MAX;
	bool found = false;
	while (fgets(line, sizeof line, f)) {
		if (++n <= at->line)
			continue;
		size_t len = strcspn(line, "\r\n"), sp = strspn(line, " ");
		if (sp >= len) { /* a blank line: one line break of the text */
			pos++;
			continue;
		}
		if (indent == SIZE_MAX)
			indent = sp;
		if (sp < indent)
			break; /* the block ended */
		size_t text = len - indent;
		if (offset <= pos + text) {
			out->line = n;
			out->column = (unsigned)(indent + (offset - pos) + 1);
			found = true;
			break;
		}
		pos += text + 1;
	}
	fclose(f);
	return found;
}

/* Where line/column of a template's text are in the file: exact for plain
 * and quoted scalars on one line without escapes, and for block scalars
 * (found in the source). */
static struct mqb_conf_mark template_mark(const struct mqb_conf_node *node, unsigned line,
					  unsigned column)
{
	struct mqb_conf_mark m = mqb_conf_mark(node);
	unsigned flags = conf__node_flags(node);
	if (flags & CONF_BLOCK) {
		size_t len, offset = 0;
		const char *text = mqb_conf_scalar(node, &len);
		for (unsigned l = 1; l < line && text && offset < len; offset++)
			if (text[offset] == '\n')
				l++;
		offset += column ? column - 1 : 0;
		struct mqb_conf_mark b = m;
		if (block_position(&m, offset, &b))
			return b;
		m.line += line;
		m.column = column;
	} else if (line > 1) {
		m.line += line - 1;
		m.column = column;
	} else {
		m.column += column - 1 + ((flags & CONF_QUOTED) ? 1 : 0);
	}
	return m;
}

int schema__compile_template(const struct mqb_conf_node *node, const char *path,
			     struct mqb_conf_errors *errs, struct mqb_template **out)
{
	size_t len;
	const char *text = mqb_conf_scalar(node, &len);
	struct mqb_template *t = NULL;
	struct mqb_tpl_error e;
	*out = NULL;
	if (!text) {
		mqb_conf_error_at(errs, node, path, "expected a template (a string)");
		return -EINVAL;
	}
	int rc = mqb_template_compile(text, len, &t, &e);
	if (rc == 0) {
		*out = t;
		return 0;
	}
	if (rc == -ENOMEM) {
		mqb_conf_error(errs, NULL, path, "out of memory compiling the template");
		return rc;
	}
	struct mqb_conf_mark m = template_mark(node, e.line, e.column);
	mqb_conf_error(errs, &m, path, "invalid template: %s", e.message);
	return rc;
}

/* Home Assistant's is_template_string. */
static bool is_template_text(const char *s, size_t len)
{
	for (size_t i = 0; s && i + 1 < len; i++)
		if (s[i] == '{' && (s[i + 1] == '{' || s[i + 1] == '%' || s[i + 1] == '#'))
			return true;
	return false;
}

bool mqb_conf_duration(const struct mqb_conf_node *n, double *out)
{
	size_t len;
	const char *text = mqb_conf_scalar(n, &len);
	switch (mqb_conf_kind(n)) {
	case MQB_CONF_SCALAR:
		return !is_template_text(text, len) &&
		       schema__parse_duration(text, len, !mqb_conf_quoted(n), out);
	case MQB_CONF_MAP: {
		struct mqb_conf_errors errs;
		struct walk w = {.errs = &errs};
		mqb_conf_errors_init(&errs);
		path_init(&w.path, "");
		bool ok = apply_dhms(&w, n, out);
		mqb__free(w.path.s);
		mqb_conf_errors_fini(&errs);
		return ok;
	}
	default:
		return false;
	}
}

bool mqb_duration_parse(const char *s, size_t len, double *out)
{
	const char *t = mqb_strip(s, &len);
	return schema__parse_duration(t, len, false, out);
}

static void check_template(struct walk *w, const struct mqb_conf_node *node)
{
	struct mqb_template *t;
	if (schema__compile_template(node, path_str(&w->path), w->errs, &t) < 0)
		w->found++;
	mqb_template_free(t);
}

/* A template option the walk above checked, compiled again for the module
 * that uses it. */
int mqb_template_from_conf(const struct mqb_conf_node *node, struct mqb_template **out)
{
	*out = NULL;
	if (!node)
		return 0;
	size_t len;
	const char *text = mqb_conf_scalar(node, &len);
	if (!text)
		return -EINVAL;
	struct mqb_tpl_error e;
	int rc = mqb_template_compile(text, len, out, &e);
	if (rc == -EINVAL) {
		struct mqb_conf_mark m = template_mark(node, e.line, e.column);
		MQB_LOG_ERROR("conf", "%s:%u:%u: invalid template: %s", m.file ? m.file : "?", m.line,
			      m.column, e.message);
	}
	return rc;
}

/* Check one present value (node) against k; store it in field (may be
 * NULL: validate only). */
static void check_value(struct walk *w, const struct mqb_schema *s, const struct mqb_schema_key *k,
			const struct mqb_conf_node *node, void *field)
{
	char buf[96], nb1[32], nb2[32];
	enum mqb_conf_kind kind = mqb_conf_kind(node);
	switch (k->type) {
	case MQB_S_ANY:
		if (field)
			memcpy(field, &node, sizeof node);
		return;
	case MQB_S_MAP:
		apply_map(w, k->sub, node, field);
		return;
	case MQB_S_LIST:
		check_list(w, k, node, field);
		return;
	case MQB_S_TEMPLATE:
		if (kind == MQB_CONF_SCALAR) {
			check_template(w, node);
			if (field)
				memcpy(field, &node, sizeof node);
			return;
		}
		break;
	case MQB_S_DURATION_TEMPLATE: {
		size_t len;
		const char *text = mqb_conf_scalar(node, &len);
		if (kind == MQB_CONF_SCALAR && is_template_text(text, len)) {
			check_template(w, node);
		} else {
			/* checked as a plain duration, the node kept */
			struct mqb_schema_key d = *k;
			d.type = MQB_S_DURATION;
			size_t before = w->found;
			check_value(w, s, &d, node, NULL);
			if (w->found > before)
				return;
		}
		if (field)
			memcpy(field, &node, sizeof node);
		return;
	}
	case MQB_S_DURATION:
		if (kind == MQB_CONF_MAP) {
			double d;
			if (!apply_dhms(w, node, &d))
				return;
			if (!in_range(k, d)) {
				const char *got = mqb_conf_is_secret(node)
							  ? "(secret)"
							  : fmt_num(d, buf, sizeof buf);
				err(w, node, "must be between %s and %s, got %s",
				    fmt_num(k->min, nb1, sizeof nb1),
				    fmt_num(k->max, nb2, sizeof nb2), got);
				return;
			}
			union value v = {.d = d};
			store(k, field, &v);
			return;
		}
		break;
	default:
		break;
	}
	if (kind == MQB_CONF_NULL && k->def) {
		/* null where a default exists means the default */
		store_default(s, k, field);
		return;
	}
	if (kind != MQB_CONF_SCALAR) {
		if (k->type == MQB_S_ENUM)
			choice_error(w, k, node);
		else
			err(w, node, "expected %s, got %s", expected(k),
			    schema__describe(node, buf, sizeof buf));
		return;
	}
	size_t len;
	/* a string option takes what cv.string makes of a YAML boolean or
	 * number: payload_on: true is "True" */
	bool str = k->type == MQB_S_STRING || k->type == MQB_S_TOPIC || k->type == MQB_S_FILTER;
	const char *text = str ? mqb_conf_string(node, &len) : mqb_conf_scalar(node, &len);
	union value v;
	switch (coerce(k, text, len, !mqb_conf_quoted(node), &v)) {
	case V_OK:
		store(k, field, &v);
		return;
	case V_TYPE:
		err(w, node, "expected %s, got %s", expected(k),
		    schema__describe(node, buf, sizeof buf));
		return;
	case V_RANGE: {
		double lo = k->min, hi = k->max;
		if (!(k->min < k->max)) {
			/* the type's own limits */
			lo = k->type == MQB_S_INT ? INT_MIN : 0;
			hi = k->type == MQB_S_INT    ? INT_MAX
			     : k->type == MQB_S_UINT ? UINT_MAX
						     : (double)LLONG_MAX;
		}
		err(w, node, "must be between %s and %s, got %s", fmt_num(lo, nb1, sizeof nb1),
		    fmt_num(hi, nb2, sizeof nb2), shown(node, buf, sizeof buf));
		return;
	}
	case V_CHOICE:
		choice_error(w, k, node);
		return;
	}
}

static const struct mqb_schema_key *find_key(const struct mqb_schema *s, const char *key)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i].key, key) == 0)
			return &s->keys[i];
	return NULL;
}

/* Fill the defaults of an absent key (and of an absent mapping's keys). */
static void absent_key(struct walk *w, const struct mqb_schema *s, const struct mqb_schema_key *k,
		       void *field)
{
	/* defaults are parsed even when nothing is stored, so a bad one shows */
	if (k->type == MQB_S_MAP)
		apply_map(w, k->sub, NULL, field);
	else if (k->def && k->type != MQB_S_LIST && k->type != MQB_S_ANY &&
		 k->type != MQB_S_DURATION_TEMPLATE)
		store_default(s, k, field);
}

/* node: a mapping, null (an empty one), or NULL (absent: defaults only,
 * nothing is required). */
static void apply_map(struct walk *w, const struct mqb_schema *s, const struct mqb_conf_node *node,
		      void *target)
{
	char buf[96];
	MQB_CHECK(s, "a mapping key without a sub-schema");
	if (node && mqb_conf_kind(node) != MQB_CONF_MAP && mqb_conf_kind(node) != MQB_CONF_NULL) {
		err(w, node, "expected a mapping, got %s", schema__describe(node, buf, sizeof buf));
		return;
	}
	bool is_map = node && mqb_conf_kind(node) == MQB_CONF_MAP;
	size_t n = is_map ? mqb_conf_len(node) : 0;
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *kn = mqb_conf_key(node, i);
		const char *key =
			mqb_conf_kind(kn) == MQB_CONF_SCALAR ? mqb_conf_scalar(kn, NULL) : NULL;
		if (!key) {
			err(w, kn, "expected an option name, got %s",
			    schema__describe(kn, buf, sizeof buf));
			continue;
		}
		const struct mqb_schema_key *k = find_key(s, key);
		if (!k && mqb_conf_is_secret(kn)) {
			/* a key under a secret is as secret as its value */
			size_t old = path_key(&w->path, "(secret)");
			err(w, kn, "unknown option (secret)");
			path_pop(&w->path, old);
			continue;
		}
		size_t old = path_key(&w->path, k ? k->key : key);
		if (!k) {
			const char *near = suggest_key(s, key);
			if (near)
				err(w, kn, "unknown option '%s' (did you mean '%s'?)", key, near);
			else
				err(w, kn, "unknown option '%s'", key);
		} else {
			check_value(w, s, k, mqb_conf_value(node, i), field_of(k, target));
		}
		path_pop(&w->path, old);
	}
	for (size_t j = 0; j < s->nkeys; j++) {
		const struct mqb_schema_key *k = &s->keys[j];
		if (is_map && mqb_conf_get(node, k->key))
			continue;
		if (k->required && node && !k->def) {
			err(w, node, "required option '%s' is missing", k->key);
			continue;
		}
		size_t old = path_key(&w->path, k->key);
		absent_key(w, s, k, field_of(k, target));
		path_pop(&w->path, old);
	}
}

/* node NULL: the mapping is absent, store the defaults. target NULL:
 * validate only. A LIST key stores the node given (a sequence, or the
 * single item standing for one) or NULL; an ANY key the node as it is.
 * Returns the problems found, even one that memory ran out recording. */
size_t mqb_schema_apply(const struct mqb_schema *s, const struct mqb_conf_node *node,
			const char *path, void *target, struct mqb_conf_errors *errs)
{
	struct walk w = {.errs = errs};
	path_init(&w.path, path);
	apply_map(&w, s, node, target);
	mqb__free(w.path.s);
	return w.found;
}

/* ---- a node as JSON ---------------------------------------------------------- */

static bool any_of(const char *s, const char *const *v)
{
	for (; *v; v++)
		if (strcmp(s, *v) == 0)
			return true;
	return false;
}

/* PyYAML's implicit integer without the sexagesimal form: [-+]? then
 * 0b[01_]+, 0[0-7_]+, 0x[0-9a-fA-F_]+ or 0|[1-9][0-9_]*. */
static bool yaml_int(const char *s, size_t len, long long *out)
{
	size_t i = 0;
	bool neg = false;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == len)
		return false;
	unsigned base = 10;
	if (s[i] == '0' && i + 1 < len) {
		base = s[i + 1] == 'b' ? 2 : s[i + 1] == 'x' ? 16 : 8;
		i += base == 8 ? 1 : 2;
		if (i == len)
			return false;
	}
	unsigned long long v = 0;
	bool big = false, digit = false;
	for (; i < len; i++) {
		if (s[i] == '_')
			continue;
		int d = isdigit((unsigned char)s[i]) ? s[i] - '0'
			: isxdigit((unsigned char)s[i]) ? tolower((unsigned char)s[i]) - 'a' + 10 : 99;
		if ((unsigned)d >= base)
			return false;
		if (v > (ULLONG_MAX - (unsigned)d) / base)
			big = true;
		v = v * base + (unsigned)d;
		digit = true;
	}
	if (!digit || big || v > (unsigned long long)LLONG_MAX + neg)
		return false; /* beyond what JSON here holds: kept as text */
	*out = neg ? (long long)(0 - v) : (long long)v;
	return true;
}

/* PyYAML's implicit float, which needs a '.':
 * [-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)? */
static bool yaml_float(const char *s, size_t len, double *out)
{
	char buf[96];
	size_t i = 0, o = 0;
	if (len >= sizeof buf)
		return false;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		buf[o++] = s[i++];
	if (i < len && !isdigit((unsigned char)s[i]) && s[i] != '.')
		return false;
	while (i < len && (isdigit((unsigned char)s[i]) || s[i] == '_'))
		if (s[i++] != '_')
			buf[o++] = s[i - 1];
	if (i == len || s[i] != '.')
		return false;
	buf[o++] = s[i++];
	while (i < len && (isdigit((unsigned char)s[i]) || s[i] == '_'))
		if (s[i++] != '_')
			buf[o++] = s[i - 1];
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		buf[o++] = s[i++];
		if (i == len || (s[i] != '+' && s[i] != '-'))
			return false;
		buf[o++] = s[i++];
		if (i == len)
			return false;
		while (i < len && isdigit((unsigned char)s[i]))
			buf[o++] = s[i++];
	}
	if (i != len || (o == 1 && buf[0] == '.'))
		return false;
	buf[o] = '\0';
	*out = strtod(buf, NULL);
	return isfinite(*out);
}

/* A sexagesimal integer that fits in 64 bits exactly: a larger one (the
 * fuzzer's 777777777777777777:7) stays the text it was written as. */
static bool sexagesimal_int(double d, long long *out)
{
	int64_t v;
	if (!dtoa__to_int(d, &v) || (double)v != d)
		return false;
	*out = v;
	return true;
}

/* PyYAML's implicit null and booleans (YAML 1.1). */
static const char *const nulls[] = {"~", "null", "Null", "NULL", "", NULL};
static const char *const trues[] = {"yes", "Yes", "YES", "true", "True", "TRUE",
				    "on", "On", "ON", NULL};
static const char *const falses[] = {"no", "No", "NO", "false", "False", "FALSE",
				     "off", "Off", "OFF", NULL};

size_t schema__python_str(const char *s, size_t len, char *buf, size_t buflen)
{
	long long i;
	double d;
	int n;
	if (strlen(s) != len || buflen < MQB_FLOAT_REPR_MAX)
		return 0;
	if (any_of(s, trues))
		n = snprintf(buf, buflen, "True");
	else if (any_of(s, falses))
		n = snprintf(buf, buflen, "False");
	else if (yaml_int(s, len, &i))
		n = snprintf(buf, buflen, "%lld", i);
	else if (schema__parse_sexagesimal(s, len, &d) && sexagesimal_int(d, &i))
		n = snprintf(buf, buflen, "%lld", i);
	else if (yaml_float(s, len, &d))
		n = (int)mqb_format_double(d, buf);
	else
		return 0;
	if (n <= 0 || (size_t)n >= buflen || ((size_t)n == len && memcmp(buf, s, len) == 0))
		return 0;
	return (size_t)n;
}

json_t *mqb_conf_to_json(const struct mqb_conf_node *n)
{
	switch (n ? mqb_conf_kind(n) : MQB_CONF_NULL) {
	case MQB_CONF_NULL:
		return json_null();
	case MQB_CONF_SEQ: {
		json_t *a = json_array();
		for (size_t i = 0; a && i < mqb_conf_len(n); i++)
			if (json_array_append_new(a, mqb_conf_to_json(mqb_conf_item(n, i)))) {
				json_decref(a);
				return NULL;
			}
		return a;
	}
	case MQB_CONF_MAP: {
		json_t *o = json_object();
		for (size_t i = 0; o && i < mqb_conf_len(n); i++) {
			const char *k = mqb_conf_scalar(mqb_conf_key(n, i), NULL);
			json_t *v = mqb_conf_to_json(mqb_conf_value(n, i));
			if (!k || !v || json_object_set_new(o, k, v)) {
				json_decref(o);
				return NULL;
			}
		}
		return o;
	}
	case MQB_CONF_SCALAR:
		break;
	}
	size_t len;
	const char *s = mqb_conf_scalar(n, &len);
	if (!mqb_conf_quoted(n) && !mqb_conf_is_secret(n) && strlen(s) == len) {
		long long i;
		double d;
		if (any_of(s, nulls))
			return json_null();
		if (any_of(s, trues))
			return json_true();
		if (any_of(s, falses))
			return json_false();
		if (yaml_int(s, len, &i))
			return json_integer(i);
		if (schema__parse_sexagesimal(s, len, &d) && sexagesimal_int(d, &i))
			return json_integer(i);
		if (yaml_float(s, len, &d))
			return json_real(d);
	}
	return json_stringn(s, len);
}
