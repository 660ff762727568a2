/* SPDX-License-Identifier: MIT */
/* Home Assistant's template functions: forgiving float/int/round, the state
 * machine as states()/is_state()/state_attr()/expand() and state objects,
 * datetimes and timedeltas, iif, to_json/from_json and the regex_* family.
 * Home Assistant's documentation and observable behaviour are the spec. */
#include "lib/internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "template/tpl.h"
#include "mqbridge/states.h"

/* A state object, or (domain != NULL) states.<domain>. */
struct tv_state {
	const char *domain;         /* NUL-terminated; NULL for a state */
	const char *entity_id;
	size_t domain_len;
	const char *state;
	struct tv attributes;       /* TV_DICT */
	double last_changed, last_updated;
};

#define NAIVE_LOCAL 1           /* naive datetimes are taken as local time */

/* ---- small helpers ------------------------------------------------------ */

static struct tv tv_dt(double ts, int32_t off)
{
	return (struct tv){ .t = TV_DATETIME, .utcoffset = off, .ts = ts };
}
static struct tv tv_td(double s) { return (struct tv){ .t = TV_TIMEDELTA, .td = s }; }

/* Fail on a keyword argument not in names (NULL-terminated). Most calls
 * have none, and the names array is not even built for them. */
#define kw_check(cx, fn, kw, nkw, names) \
	do { if (nkw) kw_check_names(cx, fn, kw, nkw, names); } while (0)
static void kw_check_names(struct tpl_ctx *cx, const char *fn, const struct tpl_kwarg *kw,
			   size_t nkw, const char *const *names)
{
	for (size_t k = 0; k < nkw; k++) {
		const char *const *n = names;
		while (*n && strcmp(*n, kw[k].name) != 0)
			n++;
		if (!*n)
			tpl_fail(cx, "%s() got an unexpected keyword argument '%s'", fn, kw[k].name);
	}
}
#define KW(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char *str_of(struct tpl_ctx *cx, struct tv v)
{
	if (v.t == TV_STR)
		return v.s->s;
	return tv_to_str(cx, v)->s;
}

_Noreturn static void no_default(struct tpl_ctx *cx, const char *fn, struct tv v)
{
	tpl_fail(cx, "%s got invalid input '%s' and no default was specified", fn, str_of(cx, v));
}

/* Python's str.strip() for float() and int(): white space is isspace()
 * and, in Python, the separators \x1c to \x1f too. */
static void py_strip(const char **s, size_t *n)
{
	const unsigned char *p = (const unsigned char *)*s;
	size_t len = *n;
	while (len && (isspace(*p) || (*p >= 0x1c && *p <= 0x1f)))
		p++, len--;
	while (len && (isspace(p[len - 1]) || (p[len - 1] >= 0x1c && p[len - 1] <= 0x1f)))
		len--;
	*s = (const char *)p;
	*n = len;
}

/* A run of digits with single underscores between them (PEP 515) from
 * s[*i..n), copied without the underscores to buf[*j..): how many digits.
 * An underscore that is not between two digits stops the run, and the
 * caller, finding it left over, refuses the text. */
static size_t digit_part(const char *s, size_t n, size_t *i, char *buf, size_t *j)
{
	size_t d = 0;
	while (*i < n) {
		if (isdigit((unsigned char)s[*i])) {
			buf[(*j)++] = s[(*i)++];
			d++;
		} else if (s[*i] == '_' && d && *i + 1 < n && isdigit((unsigned char)s[*i + 1])) {
			(*i)++;
		} else {
			break;
		}
	}
	return d;
}

/* Python's float(str): [sign] (digits [. [digits]] | . digits) [e [sign]
 * digits], or inf, infinity, nan in any case, surrounded by white space;
 * any length. What strtod takes beyond that ("nan(1)", "0x1p3") Python
 * refuses, and so does this. Overflow is inf, as in Python. */
static bool py_float(struct tpl_ctx *cx, const char *s, size_t n, double *out)
{
	py_strip(&s, &n);
	if (!n)
		return false;
	char stack[128];
	char *buf = n < sizeof stack ? stack : tpl_alloc(cx, n + 1);
	size_t i = 0, j = 0;
	bool neg = false;
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		buf[j++] = s[i++];
	}
	const char *w = s + i;
	size_t wn = n - i;
	if ((wn == 3 && strncasecmp(w, "inf", 3) == 0) ||
	    (wn == 8 && strncasecmp(w, "infinity", 8) == 0)) {
		*out = neg ? -INFINITY : INFINITY;
		return true;
	}
	if (wn == 3 && strncasecmp(w, "nan", 3) == 0) {
		*out = neg ? -NAN : NAN;
		return true;
	}
	size_t digits = digit_part(s, n, &i, buf, &j);
	if (i < n && s[i] == '.') {
		buf[j++] = s[i++];
		digits += digit_part(s, n, &i, buf, &j);
	}
	if (!digits)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		buf[j++] = s[i++];
		if (i < n && (s[i] == '+' || s[i] == '-'))
			buf[j++] = s[i++];
		if (!digit_part(s, n, &i, buf, &j))
			return false;
	}
	if (i != n)
		return false;
	buf[j] = 0;
	*out = dtoa__strtod(buf, NULL);
	return true;
}

static int digit_value(unsigned char c)
{
	return isdigit(c) ? c - '0' : isalpha(c) ? tolower(c) - 'a' + 10 : 99;
}

/* Python's int(str, base) for base 0 or 2..36: an optional 0x/0o/0b
 * prefix matching the base (any of them for base 0, which otherwise reads
 * decimal without leading zeros), digits of the base with single
 * underscores between them (also right after the prefix), surrounded by
 * white space. Python's ints are unbounded; past int64 is not a number
 * here. */
static bool py_int(const char *s, size_t n, int base, int64_t *out)
{
	py_strip(&s, &n);
	size_t i = 0;
	bool neg = false, prefixed = false;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (n - i >= 2 && s[i] == '0') {
		int c = tolower((unsigned char)s[i + 1]);
		int pb = c == 'x' ? 16 : c == 'o' ? 8 : c == 'b' ? 2 : 0;
		if (pb && (base == 0 || base == pb)) {
			base = pb;
			prefixed = true;
			i += 2;
			if (i + 1 < n && s[i] == '_' && digit_value((unsigned char)s[i + 1]) < base)
				i++;
		}
	}
	bool base0 = base == 0;
	if (base0)
		base = 10;
	uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
	size_t first = i, nd = 0;
	while (i < n) {
		int d = digit_value((unsigned char)s[i]);
		if (s[i] == '_' && nd && i + 1 < n && digit_value((unsigned char)s[i + 1]) < base) {
			i++;
			continue;
		}
		if (d >= base || v > (limit - (uint64_t)d) / (uint64_t)base)
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
		nd++;
		i++;
	}
	if (!nd || (base0 && !prefixed && s[first] == '0' && v != 0))
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* Python's float(v) for a number or a string. */
static bool to_double(struct tpl_ctx *cx, struct tv v, double *out)
{
	if (tv_is_number(v)) {
		*out = tv_as_double(v);
		return true;
	}
	return v.t == TV_STR && py_float(cx, v.s->s, v.s->len, out);
}

static bool dbl_to_int(double d, int64_t *out)
{
	if (!isfinite(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0)
		return false;
	*out = (int64_t)d;      /* truncates toward zero, as int() */
	return true;
}

/* ---- float, int, round, multiply, is_number ---------------------------- */

/* Python's float()/int() of a Jinja undefined raise UndefinedError, which
 * no default catches: these call tpl_check_defined first. */

static struct tv ha_float(struct tpl_ctx *cx, const struct tv *a, size_t na,
			  const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "float", kw, nkw, KW("default"));
	tpl_check_defined(cx, a[0]);
	const struct tv *def = tpl_arg(a, na, kw, nkw, 1, "default");
	double d;
	if (to_double(cx, a[0], &d))
		return tv_float(d);
	if (def)
		return *def;
	no_default(cx, "float", a[0]);
}

/* Home Assistant's bool: booleans as they are, numbers by != 0, and the
 * strings true/yes/on/enable/1 and false/no/off/disable/0 (any case,
 * surrounding white space ignored); anything else takes the default or
 * fails. */
static struct tv ha_bool(struct tpl_ctx *cx, const struct tv *a, size_t na,
			 const struct tpl_kwarg *kw, size_t nkw)
{
	static const char *const yes[] = { "1", "true", "yes", "on", "enable" };
	static const char *const no[] = { "0", "false", "no", "off", "disable" };
	kw_check(cx, "bool", kw, nkw, KW("default"));
	const struct tv *def = tpl_arg(a, na, kw, nkw, 1, "default");
	struct tv v = a[0];
	if (v.t == TV_BOOL)
		return v;
	if (v.t == TV_INT)
		return tv_bool(v.i != 0);
	if (v.t == TV_FLOAT)
		return tv_bool(v.f != 0);
	if (v.t == TV_STR) {
		const char *s = v.s->s, *e = s + v.s->len;
		while (s < e && (isspace((unsigned char)*s) || *s == '\x1c' || *s == '\x1d' ||
				 *s == '\x1e' || *s == '\x1f'))
			s++;
		while (e > s && (isspace((unsigned char)e[-1]) || e[-1] == '\x1c' ||
				 e[-1] == '\x1d' || e[-1] == '\x1e' || e[-1] == '\x1f'))
			e--;
		size_t n = (size_t)(e - s);
		for (size_t k = 0; k < sizeof yes / sizeof yes[0]; k++) {
			if (strlen(yes[k]) == n && strncasecmp(s, yes[k], n) == 0)
				return tv_bool(true);
			if (strlen(no[k]) == n && strncasecmp(s, no[k], n) == 0)
				return tv_bool(false);
		}
	}
	if (def)
		return *def;
	no_default(cx, "bool", v);
}

static struct tv ha_int(struct tpl_ctx *cx, const struct tv *a, size_t na,
			const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "int", kw, nkw, KW("default", "base"));
	tpl_check_defined(cx, a[0]);
	const struct tv *def = tpl_arg(a, na, kw, nkw, 1, "default");
	const struct tv *bv = tpl_arg(a, na, kw, nkw, 2, "base");
	int base = 10;
	if (bv) {
		if (bv->t != TV_INT || (bv->i != 0 && (bv->i < 2 || bv->i > 36)))
			tpl_fail(cx, "int() base must be >= 2 and <= 36, or 0");
		base = (int)bv->i;
	}
	struct tv v = a[0];
	int64_t i;
	double d;
	if (v.t == TV_INT)
		return v;
	if (v.t == TV_BOOL)
		return tv_int(v.b);
	if (v.t == TV_STR && py_int(v.s->s, v.s->len, base, &i))
		return tv_int(i);
	/* Jinja's quirk, kept by Home Assistant: "42.23" | int is 42. */
	if (to_double(cx, v, &d) && dbl_to_int(d, &i))
		return tv_int(i);
	if (def)
		return *def;
	no_default(cx, "int", v);
}

static struct tv ha_round(struct tpl_ctx *cx, const struct tv *a, size_t na,
			  const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "round", kw, nkw, KW("precision", "method", "default"));
	tpl_check_defined(cx, a[0]);
	const struct tv *pv = tpl_arg(a, na, kw, nkw, 1, "precision");
	const struct tv *mv = tpl_arg(a, na, kw, nkw, 2, "method");
	const struct tv *def = tpl_arg(a, na, kw, nkw, 3, "default");
	int64_t prec = 0;
	if (pv) {
		if (pv->t == TV_INT)
			prec = pv->i;
		else if (pv->t == TV_BOOL)
			prec = pv->b;
		else
			goto bad;
	}
	const char *method = mv && mv->t == TV_STR ? mv->s->s : "common";
	double x;
	if (!to_double(cx, a[0], &x))
		goto bad;
	if (!mv || strcmp(method, "common") == 0) {
		x = dtoa__round(x, prec);
	} else if (strcmp(method, "half") == 0) {
		x = nearbyint(x * 2) / 2;
	} else {
		double mul = pow(10, (double)prec);
		if (strcmp(method, "ceil") == 0)
			x = ceil(x * mul) / mul;
		else if (strcmp(method, "floor") == 0)
			x = floor(x * mul) / mul;
		else
			x = dtoa__round(x, prec);
	}
	if (prec == 0) {     /* Home Assistant returns an int at precision 0 */
		int64_t i;
		if (isinf(x))
			tpl_fail(cx, "cannot convert float infinity to integer");
		if (!dbl_to_int(x, &i))
			goto bad;
		return tv_int(i);
	}
	return tv_float(x);
bad:
	if (def)
		return *def;
	no_default(cx, "round", a[0]);
}

static struct tv arith_default(struct tpl_ctx *cx, const char *fn, char op, const struct tv *a,
			       size_t na, const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, fn, kw, nkw, KW("amount", "default"));
	const struct tv *amt = tpl_arg(a, na, kw, nkw, 1, "amount");
	const struct tv *def = tpl_arg(a, na, kw, nkw, 2, "default");
	double x;
	if (amt && tv_is_number(*amt) && to_double(cx, a[0], &x))
		return tv_float(op == '*' ? x * tv_as_double(*amt) : x + tv_as_double(*amt));
	if (def)
		return *def;
	no_default(cx, fn, a[0]);
}

static struct tv ha_multiply(struct tpl_ctx *cx, const struct tv *a, size_t na,
			     const struct tpl_kwarg *kw, size_t nkw)
{
	return arith_default(cx, "multiply", '*', a, na, kw, nkw);
}

static struct tv ha_add(struct tpl_ctx *cx, const struct tv *a, size_t na,
			const struct tpl_kwarg *kw, size_t nkw)
{
	return arith_default(cx, "add", '+', a, na, kw, nkw);
}

static struct tv ha_is_number(struct tpl_ctx *cx, const struct tv *a, size_t na,
			      const struct tpl_kwarg *kw, size_t nkw)
{
	double d;
	return tv_bool(to_double(cx, a[0], &d) && isfinite(d));
}

/* ---- states -------------------------------------------------------------- */

static struct tv make_state(struct tpl_ctx *cx, const struct mqb_state *s)
{
	struct tv_state *st = tpl_alloc(cx, sizeof *st);
	st->domain = NULL;
	st->entity_id = tpl_str(cx, mqb_state_entity_id(s), strlen(mqb_state_entity_id(s)))->s;
	st->domain_len = mqb_state_domain_len(s);
	st->state = tpl_str(cx, mqb_state_value(s), strlen(mqb_state_value(s)))->s;
	st->attributes = tv_from_json(cx, mqb_state_attributes(s));
	st->last_changed = mqb_state_last_changed(s);
	st->last_updated = mqb_state_last_updated(s);
	return (struct tv){ .t = TV_STATE, .st = st };
}

/* The state object of entity_id (reporting the read), or None. */
static struct tv get_state(struct tpl_ctx *cx, const char *id)
{
	char low[MQB_MAX_ENTITY_ID_LEN + 1];
	size_t n = strlen(id);
	if (n > MQB_MAX_ENTITY_ID_LEN)
		return tv_none();
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)id[i]);
	tpl_read_entity(cx, low);
	const struct mqb_tpl_vars *v = tpl_vars(cx);
	if (!v || !v->core || !mqb_entity_id_valid(low))
		return tv_none();
	struct mqb_state *s = mqb_states_async_get(v->core, low);
	if (!s)
		return tv_none();
	struct tv r = make_state(cx, s);
	mqb_state_unref(s);
	return r;
}

/* The entity argument: an id string or a state object. */
static struct tv entity_arg(struct tpl_ctx *cx, struct tv v)
{
	if (v.t == TV_STATE && !v.st->domain)
		return v;
	if (v.t != TV_STR)
		return tv_none();
	return get_state(cx, v.s->s);
}

static struct tv ha_states(struct tpl_ctx *cx, const struct tv *a, size_t na,
			   const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "states", kw, nkw, KW("rounded", "with_unit"));
	if (na < 1)
		tpl_fail(cx, "states() takes an entity id");
	struct tv st = entity_arg(cx, a[0]);
	if (st.t != TV_STATE)
		return tv_cstr(cx, "unknown");
	const struct tv *wu = tpl_arg(a, na, kw, nkw, 2, "with_unit");
	if (wu && tv_truthy(*wu)) {
		const struct tv *u = tv_dict_get(&st.st->attributes, tv_cstr(cx, "unit_of_measurement"));
		if (u && u->t == TV_STR) {
			size_t l1 = strlen(st.st->state), l2 = u->s->len;
			char *b = tpl_alloc(cx, l1 + l2 + 2);
			memcpy(b, st.st->state, l1);
			b[l1] = ' ';
			memcpy(b + l1 + 1, u->s->s, l2 + 1);
			return tv_string(cx, b, l1 + l2 + 1);
		}
	}
	return tv_cstr(cx, st.st->state);
}

static struct tv ha_is_state(struct tpl_ctx *cx, const struct tv *a, size_t na,
			     const struct tpl_kwarg *kw, size_t nkw)
{
	struct tv st = entity_arg(cx, a[0]);
	if (st.t != TV_STATE)
		return tv_bool(false);
	struct tv want = a[1], have = tv_cstr(cx, st.st->state);
	if (tv_equal(have, want))
		return tv_bool(true);
	if (want.t == TV_LIST)
		for (size_t i = 0; i < want.l->n; i++)
			if (tv_equal(have, want.l->v[i]))
				return tv_bool(true);
	return tv_bool(false);
}

static struct tv attr_of(struct tpl_ctx *cx, struct tv entity, struct tv name)
{
	struct tv st = entity_arg(cx, entity);
	if (st.t != TV_STATE)
		return tv_none();
	const struct tv *v = tv_dict_get(&st.st->attributes, name);
	return v ? *v : tv_none();
}

static struct tv ha_state_attr(struct tpl_ctx *cx, const struct tv *a, size_t na,
			       const struct tpl_kwarg *kw, size_t nkw)
{
	return attr_of(cx, a[0], a[1]);
}

static struct tv ha_is_state_attr(struct tpl_ctx *cx, const struct tv *a, size_t na,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	struct tv v = attr_of(cx, a[0], a[1]);
	return tv_bool(v.t != TV_NONE && tv_equal(v, a[2]));
}

static struct tv ha_has_value(struct tpl_ctx *cx, const struct tv *a, size_t na,
			      const struct tpl_kwarg *kw, size_t nkw)
{
	struct tv st = entity_arg(cx, a[0]);
	return tv_bool(st.t == TV_STATE && strcmp(st.st->state, "unknown") != 0 &&
		       strcmp(st.st->state, "unavailable") != 0);
}

struct expand {
	struct tpl_ctx *cx;
	struct tv found;       /* list of states, entity ids unique */
	struct tv seen;        /* dict: entity ids visited */
};

static void expand_one(struct expand *e, struct tv v, unsigned depth)
{
	struct tpl_ctx *cx = e->cx;
	tpl_tick(cx);
	if (depth > 64)
		tpl_fail(cx, "expand(): nesting too deep");
	if (v.t == TV_LIST) {
		for (size_t i = 0; i < v.l->n; i++)
			expand_one(e, v.l->v[i], depth + 1);
		return;
	}
	if (v.t == TV_STATE && v.st->domain) {
		expand_one(e, tpl_ha_getattr(cx, v, "__iter__", 8), depth + 1);
		return;
	}
	if (v.t != TV_STR && v.t != TV_STATE)
		return;
	struct tv key = v.t == TV_STR ? v : tv_cstr(cx, v.st->entity_id);
	if (tv_dict_get(&e->seen, key))
		return;
	tv_dict_set(cx, &e->seen, key, tv_bool(true));
	struct tv st = entity_arg(cx, v);
	if (st.t != TV_STATE)
		return;
	if (st.st->domain_len == 5 && memcmp(st.st->entity_id, "group", 5) == 0) {
		const struct tv *m = tv_dict_get(&st.st->attributes, tv_cstr(cx, "entity_id"));
		if (m && (m->t == TV_LIST || m->t == TV_STR))
			expand_one(e, *m, depth + 1);
		return;
	}
	tv_list_push(cx, &e->found, st);
}

static int state_cmp(const void *x, const void *y)
{
	const struct tv *a = x, *b = y;
	return strcmp(a->st->entity_id, b->st->entity_id);
}

static struct tv ha_expand(struct tpl_ctx *cx, const struct tv *a, size_t na,
			   const struct tpl_kwarg *kw, size_t nkw)
{
	struct expand e = { cx, tv_list_new(cx, 8), tv_dict_new(cx, 8) };
	for (size_t i = 0; i < na; i++)
		expand_one(&e, a[i], 0);
	if (e.found.l->n > 1)
		qsort(e.found.l->v, e.found.l->n, sizeof(struct tv), state_cmp);
	return e.found;
}

struct domain_walk {
	struct tpl_ctx *cx;
	const char *domain;
	size_t len;
	struct tv list;
};

static int domain_add(void *ud, const struct mqb_state *s)
{
	struct domain_walk *w = ud;
	if (!w->domain || (mqb_state_domain_len(s) == w->len &&
			   memcmp(mqb_state_domain(s), w->domain, w->len) == 0)) {
		tpl_read_entity(w->cx, mqb_state_entity_id(s));
		tv_list_push(w->cx, &w->list, make_state(w->cx, s));
	}
	return 0;
}

/* The states of a domain (all when name is NULL), sorted by entity id. */
static struct tv domain_states(struct tpl_ctx *cx, const char *name, size_t len)
{
	struct domain_walk w = { cx, name, len, tv_list_new(cx, 4) };
	const struct mqb_tpl_vars *v = tpl_vars(cx);
	if (v && v->core)
		mqb_states_async_foreach(v->core, domain_add, &w);
	return w.list;
}

/* ---- datetimes ----------------------------------------------------------- */

static int32_t local_offset(double ts)
{
	time_t t = (time_t)floor(ts);
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return 0;
	return (int32_t)tm.tm_gmtoff;
}

static double wall_now(struct tpl_ctx *cx)
{
	const struct mqb_tpl_vars *v = tpl_vars(cx);
	if (v && v->now != 0)
		return v->now;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Broken-down local fields of dt (in its own offset) and microseconds. */
static void dt_split(struct tv v, struct tm *tm, int *usec)
{
	double fl = floor(v.ts);
	long long us = llround((v.ts - fl) * 1e6);
	time_t t = (time_t)fl;
	if (us >= 1000000) {
		us -= 1000000;
		t++;
	}
	time_t lt = t + v.utcoffset;
	gmtime_r(&lt, tm);
	tm->tm_gmtoff = v.utcoffset;
	tm->tm_zone = "UTC";
	if (v.utcoffset != 0) {
		struct tm l;
		tm->tm_zone = "";
		if (localtime_r(&t, &l) && l.tm_gmtoff == v.utcoffset)
			tm->tm_zone = l.tm_zone;
	}
	*usec = (int)us;
}

static const struct tv_str *dt_iso(struct tpl_ctx *cx, struct tv v, char sep)
{
	struct tm tm;
	int us;
	dt_split(v, &tm, &us);
	char buf[64], frac[16] = "";
	if (us)
		snprintf(frac, sizeof frac, ".%06d", us);
	int off = v.utcoffset, a = off < 0 ? -off : off;
	snprintf(buf, sizeof buf, "%04d-%02d-%02d%c%02d:%02d:%02d%s%c%02d:%02d", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, sep, tm.tm_hour, tm.tm_min, tm.tm_sec, frac,
		 off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
	return tpl_str(cx, buf, strlen(buf));
}

static const struct tv_str *td_str(struct tpl_ctx *cx, double td)
{
	long long us = llround(td * 1e6), day = 86400000000LL;
	long long days = us / day, rem = us % day;
	if (rem < 0) {
		rem += day;
		days--;
	}
	char buf[96], head[48] = "", frac[16] = "";
	if (days)
		snprintf(head, sizeof head, "%lld day%s, ", days, days == 1 || days == -1 ? "" : "s");
	if (rem % 1000000)
		snprintf(frac, sizeof frac, ".%06lld", rem % 1000000);
	long long s = rem / 1000000;
	snprintf(buf, sizeof buf, "%s%lld:%02lld:%02lld%s", head, s / 3600, s / 60 % 60, s % 60, frac);
	return tpl_str(cx, buf, strlen(buf));
}

static struct tv dt_strftime(struct tpl_ctx *cx, struct tv v, const char *fmt)
{
	struct tm tm;
	int us;
	dt_split(v, &tm, &us);
	/* %f (microseconds) is Python's; glibc has none. */
	size_t fl = strlen(fmt);
	char *f = tpl_alloc(cx, fl * 3 + 1), *o = f;
	for (size_t i = 0; i < fl; i++) {
		if (fmt[i] == '%' && fmt[i + 1] == 'f') {
			o += sprintf(o, "%06d", us);
			i++;
		} else if (fmt[i] == '%' && fmt[i + 1]) {
			*o++ = fmt[i++];
			*o++ = fmt[i];
		} else {
			*o++ = fmt[i];
		}
	}
	*o = 0;
	if (!*f)
		return tv_cstr(cx, "");
	for (size_t cap = 256; cap <= 65536; cap *= 4) {
		char *buf = tpl_alloc(cx, cap);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		size_t n = strftime(buf, cap, f, &tm);
#pragma GCC diagnostic pop
		if (n)
			return tv_string(cx, buf, n);
	}
	return tv_cstr(cx, "");
}

/* ISO 8601 as Home Assistant's parse_datetime takes it. *aware false: no
 * offset given. */
static bool parse_iso(const char *s, double *ts, int32_t *off, bool *aware)
{
	int Y, M, D, h = 0, m = 0, sec = 0, n = 0;
	double frac = 0;
	while (isspace((unsigned char)*s))
		s++;
	if (sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &n) != 3 || n != 10)
		return false;
	s += n;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		if (!isdigit((unsigned char)s[1]) || sscanf(s + 1, "%2d:%2d%n", &h, &m, &n) != 2 || n != 5)
			return false;
		s += 1 + n;
		if (*s == ':') {
			if (!isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2]))
				return false;
			sec = (s[1] - '0') * 10 + s[2] - '0';
			s += 3;
			if (*s == '.' || *s == ',') {
				double p = 0.1;
				s++;
				if (!isdigit((unsigned char)*s))
					return false;
				while (isdigit((unsigned char)*s)) {
					frac += (*s++ - '0') * p;
					p /= 10;
				}
			}
		}
	}
	*aware = false;
	*off = 0;
	if (*s == 'Z' || *s == 'z') {
		*aware = true;
		s++;
	} else if (*s == '+' || *s == '-') {
		int oh, om = 0, k = 0;
		int sign = *s == '-' ? -1 : 1;
		s++;
		if (sscanf(s, "%2d%n", &oh, &k) != 1 || k != 2)
			return false;
		s += 2;
		if (*s == ':')
			s++;
		if (isdigit((unsigned char)*s)) {
			if (sscanf(s, "%2d%n", &om, &k) != 1 || k != 2)
				return false;
			s += 2;
		}
		*aware = true;
		*off = sign * (oh * 3600 + om * 60);
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 59)
		return false;
	struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
			 .tm_hour = h, .tm_min = m, .tm_sec = sec, .tm_isdst = -1 };
	if (*aware) {
		*ts = (double)timegm(&tm) - *off + frac;
	} else {
		*ts = (double)mktime(&tm) + frac;      /* naive: local time */
		*off = local_offset(*ts);
	}
	return true;
}

static struct tv ha_now(struct tpl_ctx *cx, const struct tv *a, size_t na,
			const struct tpl_kwarg *kw, size_t nkw)
{
	double t = wall_now(cx);
	return tv_dt(t, local_offset(t));
}

static struct tv ha_utcnow(struct tpl_ctx *cx, const struct tv *a, size_t na,
			   const struct tpl_kwarg *kw, size_t nkw)
{
	return tv_dt(wall_now(cx), 0);
}

static struct tv ha_as_timestamp(struct tpl_ctx *cx, const struct tv *a, size_t na,
				 const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "as_timestamp", kw, nkw, KW("default"));
	const struct tv *def = tpl_arg(a, na, kw, nkw, 1, "default");
	double ts;
	int32_t off;
	bool aware;
	if (a[0].t == TV_DATETIME)
		return tv_float(a[0].ts);
	if (parse_iso(str_of(cx, a[0]), &ts, &off, &aware))
		return tv_float(ts);
	if (def)
		return *def;
	no_default(cx, "as_timestamp", a[0]);
}

static struct tv ha_as_datetime(struct tpl_ctx *cx, const struct tv *a, size_t na,
				const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "as_datetime", kw, nkw, KW("default"));
	const struct tv *def = tpl_arg(a, na, kw, nkw, 1, "default");
	double ts;
	int32_t off;
	bool aware;
	if (a[0].t == TV_DATETIME)
		return a[0];
	if (to_double(cx, a[0], &ts) && isfinite(ts))
		return tv_dt(ts, 0);
	if (a[0].t == TV_STR && parse_iso(a[0].s->s, &ts, &off, &aware))
		return tv_dt(ts, off);
	if (def)
		return *def;
	if (a[0].t == TV_STR)
		return tv_none();
	no_default(cx, "as_datetime", a[0]);
}

static struct tv ha_as_local(struct tpl_ctx *cx, const struct tv *a, size_t na,
			     const struct tpl_kwarg *kw, size_t nkw)
{
	if (a[0].t != TV_DATETIME)
		tpl_fail(cx, "as_local got invalid input '%s': not a datetime", str_of(cx, a[0]));
	return tv_dt(a[0].ts, local_offset(a[0].ts));
}

static struct tv ha_strptime(struct tpl_ctx *cx, const struct tv *a, size_t na,
			     const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "strptime", kw, nkw, KW("format", "default"));
	const struct tv *fv = tpl_arg(a, na, kw, nkw, 1, "format");
	const struct tv *def = tpl_arg(a, na, kw, nkw, 2, "default");
	if (a[0].t == TV_STR && fv && fv->t == TV_STR) {
		struct tm tm;
		memset(&tm, 0, sizeof tm);
		tm.tm_mday = 1;
		tm.tm_year = 0;      /* Python's default date: 1900-01-01 */
		const char *end = strptime(a[0].s->s, fv->s->s, &tm);
		if (end && !*end) {
			if (strstr(fv->s->s, "%z")) {
				int32_t off = (int32_t)tm.tm_gmtoff;
				tm.tm_isdst = 0;
				return tv_dt((double)timegm(&tm) - off, off);
			}
			tm.tm_isdst = -1;
			double ts = (double)mktime(&tm);
			return tv_dt(ts, local_offset(ts));
		}
	}
	if (def)
		return *def;
	no_default(cx, "strptime", a[0]);
}

static struct tv ts_arg(struct tpl_ctx *cx, const char *fn, struct tv v, const struct tv *def,
			bool *ok)
{
	*ok = tv_is_number(v) && isfinite(tv_as_double(v)) && fabs(tv_as_double(v)) < 1e14;
	if (*ok)
		return tv_float(tv_as_double(v));
	if (def)
		return *def;
	no_default(cx, fn, v);
}

static struct tv ha_timestamp_custom(struct tpl_ctx *cx, const struct tv *a, size_t na,
				     const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "timestamp_custom", kw, nkw, KW("format_string", "local", "default"));
	const struct tv *fv = tpl_arg(a, na, kw, nkw, 1, "format_string");
	const struct tv *lv = tpl_arg(a, na, kw, nkw, 2, "local");
	const struct tv *def = tpl_arg(a, na, kw, nkw, 3, "default");
	bool ok;
	struct tv t = ts_arg(cx, "timestamp_custom", a[0], def, &ok);
	if (!ok)
		return t;
	const char *fmt = "%Y-%m-%d %H:%M:%S";
	if (fv) {
		if (fv->t != TV_STR)
			tpl_fail(cx, "timestamp_custom: the format must be a string");
		fmt = fv->s->s;
	}
	bool local = lv ? tv_truthy(*lv) : true;
	return dt_strftime(cx, tv_dt(t.f, local ? local_offset(t.f) : 0), fmt);
}

static struct tv ha_timestamp_local(struct tpl_ctx *cx, const struct tv *a, size_t na,
				    const struct tpl_kwarg *kw, size_t nkw)
{
	bool ok;
	struct tv t = ts_arg(cx, "timestamp_local", a[0], tpl_arg(a, na, kw, nkw, 1, "default"), &ok);
	if (!ok)
		return t;
	return (struct tv){ .t = TV_STR, .s = dt_iso(cx, tv_dt(t.f, local_offset(t.f)), 'T') };
}

static struct tv ha_timestamp_utc(struct tpl_ctx *cx, const struct tv *a, size_t na,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	bool ok;
	struct tv t = ts_arg(cx, "timestamp_utc", a[0], tpl_arg(a, na, kw, nkw, 1, "default"), &ok);
	if (!ok)
		return t;
	return (struct tv){ .t = TV_STR, .s = dt_iso(cx, tv_dt(t.f, 0), 'T') };
}

static struct tv ha_today_at(struct tpl_ctx *cx, const struct tv *a, size_t na,
			     const struct tpl_kwarg *kw, size_t nkw)
{
	const char *s = na > 0 ? str_of(cx, a[0]) : "";
	int h = 0, m = 0, sec = 0, n = 0;
	if (*s) {
		int k = sscanf(s, "%2d:%2d%n:%2d%n", &h, &m, &n, &sec, &n);
		if (k < 2 || s[n] || h > 23 || m > 59 || sec > 59 || h < 0 || m < 0 || sec < 0)
			tpl_fail(cx, "could not convert str to datetime: '%s'", s);
	}
	double t = wall_now(cx);
	time_t tt = (time_t)floor(t);
	struct tm tm;
	localtime_r(&tt, &tm);
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	double r = (double)mktime(&tm);
	return tv_dt(r, local_offset(r));
}

static struct tv ha_timedelta(struct tpl_ctx *cx, const struct tv *a, size_t na,
			      const struct tpl_kwarg *kw, size_t nkw)
{
	static const char *const names[] = { "days", "seconds", "microseconds", "milliseconds",
					     "minutes", "hours", "weeks", NULL };
	static const double unit[] = { 86400, 1, 1e-6, 1e-3, 60, 3600, 604800 };
	kw_check(cx, "timedelta", kw, nkw, names);
	double s = 0;
	for (size_t i = 0; names[i]; i++) {
		const struct tv *v = tpl_arg(a, na, kw, nkw, i, names[i]);
		if (!v)
			continue;
		if (!tv_is_number(*v))
			tpl_fail(cx, "unsupported type for timedelta %s component: %s", names[i],
				 str_of(cx, *v));
		s += tv_as_double(*v) * unit[i];
	}
	if (fabs(s) > 999999999.0 * 86400)
		tpl_fail(cx, "timedelta out of range");
	return tv_td(s);
}

/* ---- iif, json ------------------------------------------------------------ */

static struct tv ha_iif(struct tpl_ctx *cx, const struct tv *a, size_t na,
			const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "iif", kw, nkw, KW("if_true", "if_false", "if_none"));
	const struct tv *t = tpl_arg(a, na, kw, nkw, 1, "if_true");
	const struct tv *f = tpl_arg(a, na, kw, nkw, 2, "if_false");
	const struct tv *n = tpl_arg(a, na, kw, nkw, 3, "if_none");
	if (a[0].t == TV_NONE && n)
		return *n;
	if (tv_truthy(a[0]))
		return t ? *t : tv_bool(true);
	return f ? *f : tv_bool(false);
}

static struct tv ha_to_json(struct tpl_ctx *cx, const struct tv *a, size_t na,
			    const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "to_json", kw, nkw, KW("ensure_ascii", "pretty_print", "sort_keys"));
	const struct tv *ea = tpl_arg(a, na, kw, nkw, 1, "ensure_ascii");
	const struct tv *pp = tpl_arg(a, na, kw, nkw, 2, "pretty_print");
	const struct tv *sk = tpl_arg(a, na, kw, nkw, 3, "sort_keys");
	/* Home Assistant's to_json is orjson; ensure_ascii, which orjson
	 * lacks, falls back to json.dumps(ensure_ascii=True, indent=2 if
	 * pretty_print else None, sort_keys=sort_keys) (its
	 * test_to_json_ensure_ascii compares with json.dumps) */
	bool ascii = ea && tv_truthy(*ea);
	struct tpl_json_style st = {
		.dumps = ascii,
		.ascii = ascii,
		.sort_keys = sk && tv_truthy(*sk),
		.ha_types = true,
		.indent = pp && tv_truthy(*pp) ? 2 : -1,
	};
	struct tpl_buf b = { 0 };
	tpl_json_dump(cx, &b, a[0], &st);
	return tv_strv(tpl_buf_done(cx, &b));
}

static struct tv ha_from_json(struct tpl_ctx *cx, const struct tv *a, size_t na,
			      const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "from_json", kw, nkw, KW("default"));
	const struct tv *def = tpl_arg(a, na, kw, nkw, 1, "default");
	if (a[0].t == TV_STR) {
		json_error_t e;
		json_t *j = json_loadb(a[0].s->s, a[0].s->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
		if (j) {
			struct tv r = tv_from_json(cx, j);
			json_decref(j);
			return r;
		}
	}
	if (def)
		return *def;
	no_default(cx, "from_json", a[0]);
}

/* ---- regular expressions ------------------------------------------------- */

#define RX_MAXGROUPS 32

struct rx {
	regex_t re;
	size_t ngroups;                   /* Python's capturing groups */
	unsigned char pgroup[RX_MAXGROUPS]; /* Python group k -> POSIX group */
};

struct rx_cache_entry {
	char *pattern;
	int icase;
	struct rx *rx;
};

static pthread_mutex_t rx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rx_cache_entry rx_cache[256];
static size_t rx_cached;

/* Python's syntax to POSIX ERE (glibc's: \w \W \s \S \b \B are known). */
static const char *rx_translate(const char *p, char *out, size_t cap, struct rx *rx, int *icase)
{
	size_t o = 0, posix_groups = 0;
	bool in_br = false;
	rx->ngroups = 0;
#define PUT(s)                                                  \
	do {                                                    \
		const char *s_ = (s);                           \
		size_t l_ = strlen(s_);                         \
		if (o + l_ + 1 > cap)                           \
			return "pattern too long";              \
		memcpy(out + o, s_, l_);                        \
		o += l_;                                        \
	} while (0)
	if (strncmp(p, "(?i)", 4) == 0) {
		*icase = 1;
		p += 4;
	}
	for (; *p; p++) {
		char c[2] = { *p, 0 };
		if (in_br) {
			if (*p == '\\' && p[1]) {
				p++;
				switch (*p) {
				case 'd': PUT("0-9"); break;
				case 'w': PUT("[:alnum:]_"); break;
				case 's': PUT("[:space:]"); break;
				case 'n': PUT("\n"); break;
				case 't': PUT("\t"); break;
				case 'r': PUT("\r"); break;
				case '\\': PUT("\\"); break;
				case 'D': case 'W': case 'S': case ']': case '[': case '^': case '-':
					return "this escape inside [] is not supported";
				default: c[0] = *p; PUT(c); break;
				}
			} else {
				if (*p == ']')
					in_br = false;
				PUT(c);
			}
			continue;
		}
		if (*p == '[') {
			in_br = true;
			PUT("[");
			if (p[1] == '^') {
				PUT("^");
				p++;
			}
			if (p[1] == ']') {
				PUT("]");
				p++;
			}
			continue;
		}
		if (*p == '\\') {
			p++;
			switch (*p) {
			case 0: return "bad escape (end of pattern)";
			case 'd': PUT("[0-9]"); break;
			case 'D': PUT("[^0-9]"); break;
			case 'w': case 'W': case 's': case 'S': case 'b': case 'B':
				c[0] = *p;
				PUT("\\"); PUT(c); break;
			case 'n': PUT("\n"); break;
			case 't': PUT("\t"); break;
			case 'r': PUT("\r"); break;
			case 'A': PUT("^"); break;
			case 'Z': case 'z': PUT("$"); break;
			default:
				if (isalnum((unsigned char)*p))
					return "unsupported escape";
				c[0] = *p;
				PUT("\\"); PUT(c); break;
			}
			continue;
		}
		if (*p == '(') {
			if (posix_groups + 1 >= RX_MAXGROUPS)
				return "too many groups";
			posix_groups++;
			if (p[1] == '?') {
				if (p[2] == ':')
					p += 2;
				else if (p[2] == 'P' && p[3] == '<') {
					const char *e = strchr(p, '>');
					if (!e)
						return "bad group name";
					p = e;
					rx->pgroup[++rx->ngroups] = (unsigned char)posix_groups;
				} else
					return "lookaround and inline flags are not supported";
			} else {
				rx->pgroup[++rx->ngroups] = (unsigned char)posix_groups;
			}
			PUT("(");
			continue;
		}
		if ((*p == '*' || *p == '+' || *p == '?' || *p == '}') && p[1] == '?')
			return "non-greedy quantifiers are not supported";
		PUT(c);
	}
#undef PUT
	out[o] = 0;
	return NULL;
}

static struct rx *rx_get(struct tpl_ctx *cx, const char *pattern, bool icase_arg)
{
	int icase = icase_arg;
	pthread_mutex_lock(&rx_lock);
	for (size_t i = 0; i < rx_cached; i++)
		if (rx_cache[i].icase == icase && strcmp(rx_cache[i].pattern, pattern) == 0) {
			struct rx *r = rx_cache[i].rx;
			pthread_mutex_unlock(&rx_lock);
			return r;
		}
	pthread_mutex_unlock(&rx_lock);

	size_t cap = strlen(pattern) * 12 + 16;
	char *ere = tpl_alloc(cx, cap);
	struct rx tmp;
	int ic = icase;
	const char *err = rx_translate(pattern, ere, cap, &tmp, &ic);
	if (err)
		tpl_fail(cx, "regex '%s': %s", pattern, err);
	struct rx *r = malloc(sizeof *r);
	char *pcopy = strdup(pattern);
	if (!r || !pcopy) {
		free(r);
		free(pcopy);
		tpl_fail(cx, "out of memory compiling a regex");
	}
	*r = tmp;
	int rc = regcomp(&r->re, ere, REG_EXTENDED | (ic ? REG_ICASE : 0));
	if (rc) {
		char msg[128];
		regerror(rc, &r->re, msg, sizeof msg);
		free(r);
		free(pcopy);
		tpl_fail(cx, "regex '%s': %s", pattern, msg);
	}
	pthread_mutex_lock(&rx_lock);
	for (size_t i = 0; i < rx_cached; i++)   /* another thread won the race */
		if (rx_cache[i].icase == icase && strcmp(rx_cache[i].pattern, pattern) == 0) {
			struct rx *w = rx_cache[i].rx;
			pthread_mutex_unlock(&rx_lock);
			regfree(&r->re);
			free(r);
			free(pcopy);
			return w;
		}
	if (rx_cached < sizeof rx_cache / sizeof rx_cache[0]) {
		rx_cache[rx_cached++] = (struct rx_cache_entry){ pcopy, icase, r };
		pthread_mutex_unlock(&rx_lock);
		return r;
	}
	pthread_mutex_unlock(&rx_lock);
	/* The cache is full: this one is kept too (patterns come from
	 * templates, a bounded set in practice), but not looked up again. */
	free(pcopy);
	return r;
}

/* One search from start; m[0..RX_MAXGROUPS). */
static bool rx_exec(const struct rx *r, const struct tv_str *s, size_t start, regmatch_t *m)
{
	m[0].rm_so = (regoff_t)start;
	m[0].rm_eo = (regoff_t)s->len;
	return regexec(&r->re, s->s, RX_MAXGROUPS, m, REG_STARTEND | (start ? REG_NOTBOL : 0)) == 0;
}

struct rx_args {
	const struct tv_str *value;
	struct rx *rx;
};

static struct rx_args rx_args(struct tpl_ctx *cx, const char *fn, const struct tv *a, size_t na,
			      const struct tpl_kwarg *kw, size_t nkw, size_t icase_pos)
{
	const struct tv *fv = tpl_arg(a, na, kw, nkw, 1, "find");
	const struct tv *ic = tpl_arg(a, na, kw, nkw, icase_pos, "ignorecase");
	struct rx_args r;
	r.value = a[0].t == TV_STR ? a[0].s : tv_to_str(cx, a[0]);
	const char *find = fv ? str_of(cx, *fv) : "";
	r.rx = rx_get(cx, find, ic && tv_truthy(*ic));
	return r;
}

static struct tv ha_regex_match(struct tpl_ctx *cx, const struct tv *a, size_t na,
				const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "regex_match", kw, nkw, KW("find", "ignorecase"));
	struct rx_args r = rx_args(cx, "regex_match", a, na, kw, nkw, 2);
	regmatch_t m[RX_MAXGROUPS];
	return tv_bool(rx_exec(r.rx, r.value, 0, m) && m[0].rm_so == 0);
}

static struct tv ha_regex_search(struct tpl_ctx *cx, const struct tv *a, size_t na,
				 const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "regex_search", kw, nkw, KW("find", "ignorecase"));
	struct rx_args r = rx_args(cx, "regex_search", a, na, kw, nkw, 2);
	regmatch_t m[RX_MAXGROUPS];
	return tv_bool(rx_exec(r.rx, r.value, 0, m));
}

static struct tv rx_group(struct tpl_ctx *cx, const struct rx *r, const struct tv_str *s,
			  const regmatch_t *m, size_t k)
{
	size_t g = k ? r->pgroup[k] : 0;
	if (m[g].rm_so < 0)
		return tv_cstr(cx, "");
	return tv_string(cx, s->s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
}

static struct tv findall(struct tpl_ctx *cx, const struct tv *a, size_t na,
			 const struct tpl_kwarg *kw, size_t nkw, size_t icase_pos)
{
	struct rx_args r = rx_args(cx, "regex_findall", a, na, kw, nkw, icase_pos);
	struct tv out = tv_list_new(cx, 4);
	regmatch_t m[RX_MAXGROUPS];
	size_t pos = 0;
	while (pos <= r.value->len && rx_exec(r.rx, r.value, pos, m)) {
		tpl_tick(cx);
		struct tv item;
		if (r.rx->ngroups == 0) {
			item = rx_group(cx, r.rx, r.value, m, 0);
		} else if (r.rx->ngroups == 1) {
			item = rx_group(cx, r.rx, r.value, m, 1);
		} else {
			item = tv_list_new(cx, r.rx->ngroups);
			for (size_t k = 1; k <= r.rx->ngroups; k++)
				tv_list_push(cx, &item, rx_group(cx, r.rx, r.value, m, k));
		}
		tv_list_push(cx, &out, item);
		pos = m[0].rm_eo > m[0].rm_so ? (size_t)m[0].rm_eo : (size_t)m[0].rm_eo + 1;
	}
	return out;
}

static struct tv ha_regex_findall(struct tpl_ctx *cx, const struct tv *a, size_t na,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "regex_findall", kw, nkw, KW("find", "ignorecase"));
	return findall(cx, a, na, kw, nkw, 2);
}

static struct tv ha_regex_findall_index(struct tpl_ctx *cx, const struct tv *a, size_t na,
					const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "regex_findall_index", kw, nkw, KW("find", "index", "ignorecase"));
	const struct tv *iv = tpl_arg(a, na, kw, nkw, 2, "index");
	struct tv all = findall(cx, a, na, kw, nkw, 3);
	int64_t i = 0;
	if (iv) {
		if (iv->t != TV_INT)
			tpl_fail(cx, "regex_findall_index: index must be an integer");
		i = iv->i;
	}
	if (i < 0)
		i += (int64_t)all.l->n;
	if (i < 0 || (size_t)i >= all.l->n)
		tpl_fail(cx, "regex_findall_index: list index out of range");
	return all.l->v[i];
}

static struct tv ha_regex_replace(struct tpl_ctx *cx, const struct tv *a, size_t na,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	kw_check(cx, "regex_replace", kw, nkw, KW("find", "replace", "ignorecase"));
	struct rx_args r = rx_args(cx, "regex_replace", a, na, kw, nkw, 3);
	const struct tv *rv = tpl_arg(a, na, kw, nkw, 2, "replace");
	const char *rep = rv ? str_of(cx, *rv) : "";
	struct tpl_buf b = { 0 };
	regmatch_t m[RX_MAXGROUPS];
	size_t pos = 0, copied = 0;
	const struct tv_str *s = r.value;
	while (pos <= s->len && rx_exec(r.rx, s, pos, m)) {
		tpl_tick(cx);
		tpl_buf_add(cx, &b, s->s + copied, (size_t)m[0].rm_so - copied);
		for (const char *p = rep; *p; p++) {
			if (*p != '\\' || !p[1]) {
				tpl_buf_add(cx, &b, p, 1);
				continue;
			}
			p++;
			size_t k = 0;
			if (isdigit((unsigned char)*p)) {
				k = (size_t)(*p - '0');
				if (isdigit((unsigned char)p[1]))
					k = k * 10 + (size_t)(*++p - '0');
			} else if (*p == 'g' && p[1] == '<') {
				char *end;
				k = strtoul(p + 2, &end, 10);
				if (*end != '>' || end == p + 2)
					tpl_fail(cx, "regex_replace: bad group reference in '%s'", rep);
				p = end;
			} else {
				const char *e = *p == 'n' ? "\n" : *p == 't' ? "\t" : *p == '\\' ? "\\" : NULL;
				if (!e)
					tpl_fail(cx, "regex_replace: bad escape \\%c in '%s'", *p, rep);
				tpl_buf_puts(cx, &b, e);
				continue;
			}
			if (k > r.rx->ngroups)
				tpl_fail(cx, "regex_replace: invalid group reference %zu", k);
			struct tv g = rx_group(cx, r.rx, s, m, k);
			tpl_buf_add(cx, &b, g.s->s, g.s->len);
		}
		copied = (size_t)m[0].rm_eo;
		if (m[0].rm_eo > m[0].rm_so) {
			pos = (size_t)m[0].rm_eo;
		} else {
			if ((size_t)m[0].rm_eo < s->len)
				tpl_buf_add(cx, &b, s->s + m[0].rm_eo, 1);
			copied = (size_t)m[0].rm_eo + 1;
			pos = copied;
		}
	}
	if (copied < s->len)
		tpl_buf_add(cx, &b, s->s + copied, s->len - copied);
	return tv_strv(tpl_buf_done(cx, &b));
}

/* ---- the table ------------------------------------------------------------ */

#define F TPL_FILTER
#define U TPL_FUNCTION
#define T TPL_TEST
const struct tpl_builtin tpl_ha_builtins[] = {
	/* states first: tpl_ha_states_object points at it */
	{ "states", U | F, ha_states, 1, 3, false },
	{ "is_state", U | F | T, ha_is_state, 2, 2, false },
	{ "state_attr", U | F, ha_state_attr, 2, 2, false },
	{ "is_state_attr", U | F | T, ha_is_state_attr, 3, 3, false },
	{ "has_value", U | F | T, ha_has_value, 1, 1, false },
	{ "expand", U | F, ha_expand, 0, 1000, false },
	{ "float", U | F, ha_float, 1, 2, false },
	{ "int", U | F, ha_int, 1, 3, false },
	{ "bool", U | F, ha_bool, 1, 2, false },
	{ "round", U | F, ha_round, 1, 4, false },
	{ "multiply", U | F, ha_multiply, 1, 3, false },
	{ "add", U | F, ha_add, 1, 3, false },
	{ "is_number", U | F | T, ha_is_number, 1, 1, false },
	{ "now", U, ha_now, 0, 0, true },
	{ "utcnow", U, ha_utcnow, 0, 0, true },
	{ "today_at", U | F, ha_today_at, 0, 1, true },
	{ "as_timestamp", U | F, ha_as_timestamp, 1, 2, false },
	{ "as_datetime", U | F, ha_as_datetime, 1, 2, false },
	{ "as_local", U | F, ha_as_local, 1, 1, false },
	{ "strptime", U | F, ha_strptime, 1, 3, false },
	{ "timestamp_custom", U | F, ha_timestamp_custom, 1, 4, false },
	{ "timestamp_local", U | F, ha_timestamp_local, 1, 2, false },
	{ "timestamp_utc", U | F, ha_timestamp_utc, 1, 2, false },
	{ "timedelta", U, ha_timedelta, 0, 7, false },
	{ "iif", U | F, ha_iif, 1, 4, false },
	{ "to_json", F, ha_to_json, 1, 4, false },
	{ "from_json", F, ha_from_json, 1, 2, false },
	{ "regex_match", F, ha_regex_match, 1, 3, false },
	{ "regex_search", F, ha_regex_search, 1, 3, false },
	{ "match", T, ha_regex_match, 1, 3, false },
	{ "search", T, ha_regex_search, 1, 3, false },
	{ "regex_replace", F, ha_regex_replace, 1, 4, false },
	{ "regex_findall", F, ha_regex_findall, 1, 3, false },
	{ "regex_findall_index", F, ha_regex_findall_index, 1, 4, false },
	{ NULL, 0, NULL, 0, 0, false },
};
#undef F
#undef U
#undef T

/* ---- the engine's hooks --------------------------------------------------- */

struct tv tpl_ha_states_object(struct tpl_ctx *cx)
{
	return (struct tv){ .t = TV_CALLABLE, .p = &tpl_ha_builtins[0] };
}

struct tv tpl_ha_plain(struct tpl_ctx *cx, struct tv v)
{
	switch (v.t) {
	case TV_UNDEFINED:
		return tv_none();
	case TV_NAMESPACE:
		v.t = TV_DICT;
		return v;
	case TV_DATETIME:
		return tv_strv(dt_iso(cx, v, 'T'));
	case TV_STATE: {
		const struct tv_state *st = v.st;
		if (st->domain)
			tpl_fail(cx, "Object of type DomainStates is not JSON serializable");
		struct tv d = tv_dict_new(cx, 5);
		tv_dict_set(cx, &d, tv_cstr(cx, "entity_id"), tv_cstr(cx, st->entity_id));
		tv_dict_set(cx, &d, tv_cstr(cx, "state"), tv_cstr(cx, st->state));
		tv_dict_set(cx, &d, tv_cstr(cx, "attributes"), st->attributes);
		tv_dict_set(cx, &d, tv_cstr(cx, "last_changed"), tv_dt(st->last_changed, 0));
		tv_dict_set(cx, &d, tv_cstr(cx, "last_updated"), tv_dt(st->last_updated, 0));
		return d;
	}
	default:
		return v;
	}
}

static bool name_is(const char *name, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(name, lit, len) == 0;
}

static bool valid_domain(const char *s, size_t len)
{
	if (len == 0 || len > MQB_MAX_DOMAIN_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static const struct tv_str *ha_to_str(struct tpl_ctx *cx, struct tv v);

struct tv tpl_ha_getattr(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len)
{
	char id[MQB_MAX_ENTITY_ID_LEN + 1];
	if (name_is(name, len, "__str__")) {
		const struct tv_str *s = ha_to_str(cx, obj);
		return s ? (struct tv){ .t = TV_STR, .s = s } : tv_undef();
	}
	switch (obj.t) {
	case TV_CALLABLE:
		if (obj.p != &tpl_ha_builtins[0])
			return tv_undef();
		if (memchr(name, '.', len)) {       /* states['sensor.x'] */
			if (len > MQB_MAX_ENTITY_ID_LEN)
				return tv_none();
			memcpy(id, name, len);
			id[len] = 0;
			return get_state(cx, id);
		}
		if (name_is(name, len, "__iter__"))
			return domain_states(cx, NULL, 0);
		if (!valid_domain(name, len))
			tpl_fail(cx, "Invalid domain name '%.*s'", (int)len, name);
		{
			struct tv_state *d = tpl_alloc(cx, sizeof *d);
			memset(d, 0, sizeof *d);
			d->domain = tpl_str(cx, name, len)->s;
			d->domain_len = len;
			return (struct tv){ .t = TV_STATE, .st = d };
		}
	case TV_STATE: {
		const struct tv_state *st = obj.st;
		if (st->domain) {                 /* states.sensor.x, states.sensor['x'] */
			if (name_is(name, len, "__iter__"))
				return domain_states(cx, st->domain, st->domain_len);
			if (st->domain_len + 1 + len > MQB_MAX_ENTITY_ID_LEN)
				return tv_none();
			memcpy(id, st->domain, st->domain_len);
			id[st->domain_len] = '.';
			memcpy(id + st->domain_len + 1, name, len);
			id[st->domain_len + 1 + len] = 0;
			return get_state(cx, id);   /* None when missing, as Home Assistant */
		}
		if (name_is(name, len, "state"))
			return tv_cstr(cx, st->state);
		if (name_is(name, len, "entity_id"))
			return tv_cstr(cx, st->entity_id);
		if (name_is(name, len, "domain"))
			return tv_string(cx, st->entity_id, st->domain_len);
		if (name_is(name, len, "object_id"))
			return tv_cstr(cx, st->entity_id + st->domain_len + 1);
		if (name_is(name, len, "attributes"))
			return st->attributes;
		if (name_is(name, len, "last_changed"))
			return tv_dt(st->last_changed, 0);
		if (name_is(name, len, "last_updated") || name_is(name, len, "last_reported"))
			return tv_dt(st->last_updated, 0);
		if (name_is(name, len, "name")) {
			const struct tv *fn = tv_dict_get(&st->attributes, tv_cstr(cx, "friendly_name"));
			if (fn && fn->t == TV_STR)
				return *fn;
			const char *o = st->entity_id + st->domain_len + 1;
			size_t n = strlen(o);
			char *b = tpl_alloc(cx, n + 1);
			for (size_t i = 0; i <= n; i++)
				b[i] = o[i] == '_' ? ' ' : o[i];
			return tv_string(cx, b, n);
		}
		if (name_is(name, len, "state_with_unit")) {
			struct tv a = tv_cstr(cx, st->entity_id);
			return ha_states(cx, &a, 1,
					 (const struct tpl_kwarg[]){ { "with_unit", tv_bool(true) } }, 1);
		}
		return tv_undef();
	}
	case TV_DATETIME: {
		struct tm tm;
		int us;
		dt_split(obj, &tm, &us);
		if (name_is(name, len, "year")) return tv_int(tm.tm_year + 1900);
		if (name_is(name, len, "month")) return tv_int(tm.tm_mon + 1);
		if (name_is(name, len, "day")) return tv_int(tm.tm_mday);
		if (name_is(name, len, "hour")) return tv_int(tm.tm_hour);
		if (name_is(name, len, "minute")) return tv_int(tm.tm_min);
		if (name_is(name, len, "second")) return tv_int(tm.tm_sec);
		if (name_is(name, len, "microsecond")) return tv_int(us);
		return tv_undef();
	}
	case TV_TIMEDELTA: {
		long long usec = llround(obj.td * 1e6), day = 86400000000LL;
		long long d = usec / day, rem = usec % day;
		if (rem < 0) {
			rem += day;
			d--;
		}
		if (name_is(name, len, "days")) return tv_int(d);
		if (name_is(name, len, "seconds")) return tv_int(rem / 1000000);
		if (name_is(name, len, "microseconds")) return tv_int(rem % 1000000);
		return tv_undef();
	}
	default:
		return tv_undef();
	}
}

static struct tv dt_replace(struct tpl_ctx *cx, struct tv v, const struct tv *a, size_t na,
			    const struct tpl_kwarg *kw, size_t nkw)
{
	static const char *const names[] = { "year", "month", "day", "hour", "minute", "second",
					     "microsecond", NULL };
	kw_check(cx, "replace", kw, nkw, names);
	struct tm tm;
	int us;
	dt_split(v, &tm, &us);
	int *fields[] = { &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us };
	static const int lo[] = { 1, 1, 1, 0, 0, 0, 0 }, hi[] = { 9999, 12, 31, 23, 59, 59, 999999 };
	for (size_t i = 0; names[i]; i++) {
		const struct tv *x = tpl_arg(a, na, kw, nkw, i, names[i]);
		if (!x)
			continue;
		if (x->t != TV_INT || x->i < lo[i] || x->i > hi[i])
			tpl_fail(cx, "replace(): %s out of range", names[i]);
		*fields[i] = (int)x->i - (i == 0 ? 1900 : i == 1 ? 1 : 0);
	}
	int mday = tm.tm_mday, mon = tm.tm_mon;
	time_t t = timegm(&tm);
	if (tm.tm_mday != mday || tm.tm_mon != mon)
		tpl_fail(cx, "replace(): day is out of range for month");
	return tv_dt((double)t - v.utcoffset + us / 1e6, v.utcoffset);
}

struct tv tpl_ha_call_method(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len,
			     const struct tv *args, size_t nargs, const struct tpl_kwarg *kw,
			     size_t nkw)
{
	if (obj.t == TV_DATETIME) {
		struct tm tm;
		int us;
		dt_split(obj, &tm, &us);
		if (name_is(name, len, "strftime")) {
			if (nargs != 1 || args[0].t != TV_STR)
				tpl_fail(cx, "strftime() takes a format string");
			return dt_strftime(cx, obj, args[0].s->s);
		}
		if (name_is(name, len, "timestamp"))
			return tv_float(obj.ts);
		if (name_is(name, len, "isoformat")) {
			char sep = 'T';
			const struct tv *s = tpl_arg(args, nargs, kw, nkw, 0, "sep");
			if (s && s->t == TV_STR && s->s->len == 1)
				sep = s->s->s[0];
			return (struct tv){ .t = TV_STR, .s = dt_iso(cx, obj, sep) };
		}
		if (name_is(name, len, "weekday"))
			return tv_int((tm.tm_wday + 6) % 7);
		if (name_is(name, len, "isoweekday"))
			return tv_int(tm.tm_wday ? tm.tm_wday : 7);
		if (name_is(name, len, "replace"))
			return dt_replace(cx, obj, args, nargs, kw, nkw);
		if (name_is(name, len, "astimezone") && nargs == 0)
			return tv_dt(obj.ts, local_offset(obj.ts));
	} else if (obj.t == TV_TIMEDELTA) {
		if (name_is(name, len, "total_seconds"))
			return tv_float(obj.td);
	}
	tpl_fail(cx, "'%s' has no method '%.*s'", str_of(cx, obj), (int)len, name);
}

/* str() of the values this file owns (the engine asks for "__str__"). */
static const struct tv_str *ha_to_str(struct tpl_ctx *cx, struct tv v)
{
	switch (v.t) {
	case TV_DATETIME:
		return dt_iso(cx, v, ' ');
	case TV_TIMEDELTA:
		return td_str(cx, v.td);
	case TV_STATE: {
		struct tpl_buf b = { 0 };
		if (v.st->domain) {
			tpl_buf_puts(cx, &b, "<template DomainStates('");
			tpl_buf_puts(cx, &b, v.st->domain);
			tpl_buf_puts(cx, &b, "')>");
			return tpl_buf_done(cx, &b);
		}
		const struct tv_dict *d = v.st->attributes.d;
		tpl_buf_puts(cx, &b, "<template TemplateState(<state ");
		tpl_buf_puts(cx, &b, v.st->entity_id);
		tpl_buf_puts(cx, &b, "=");
		tpl_buf_puts(cx, &b, v.st->state);
		tpl_buf_puts(cx, &b, "; ");
		for (size_t i = 0; d && i < d->n; i++) {
			if (i)
				tpl_buf_puts(cx, &b, ", ");
			tpl_buf_puts(cx, &b, str_of(cx, d->k[i]));
			tpl_buf_puts(cx, &b, "=");
			tpl_buf_puts(cx, &b, str_of(cx, d->v[i]));
		}
		tpl_buf_puts(cx, &b, " @ ");
		const struct tv_str *t = dt_iso(cx, tv_dt(v.st->last_changed, local_offset(v.st->last_changed)), 'T');
		tpl_buf_add(cx, &b, t->s, t->len);
		tpl_buf_puts(cx, &b, ">)>");
		return tpl_buf_done(cx, &b);
	}
	case TV_CALLABLE:
		if (v.p == &tpl_ha_builtins[0])
			return tpl_str(cx, "<template AllStates>", 20);
		return NULL;
	default:
		return NULL;
	}
}
