/* SPDX-License-Identifier: MIT */
/* Home Assistant's template functions: forgiving float/int/round, the state
 * machine as states()/is_state()/state_attr()/expand() and state objects,
 * iif and to_json/from_json (datetimes are in ha_time.c, the regex_* family
 * in ha_regex.c). Home Assistant's documentation and observable behaviour
 * are the spec. */
#include "lib/internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "template/tpl.h"
#include "mqbridge/states.h"
#include "mqbridge/text.h"

bool tpl_state_is_domain(struct tv v)
{
	return v.st->domain != NULL;
}

/* ---- helpers the three files share -------------------------------------- */

void tpl_kw_check_names(struct tpl_ctx *cx, const char *fn, const struct tpl_kwarg *kw,
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

const char *tpl_str_of(struct tpl_ctx *cx, struct tv v)
{
	if (v.t == TV_STR)
		return v.s->s;
	return tv_to_str(cx, v)->s;
}

void tpl_no_default(struct tpl_ctx *cx, const char *fn, struct tv v)
{
	tpl_fail(cx, "%s got invalid input '%s' and no default was specified", fn, tpl_str_of(cx, v));
}

/* The white space Python's float() and int() skip around a number:
 * str.isspace() (mqb_strip), except \x1c to \x1f, which they refuse
 * (only non-ASCII white space is turned into a space before parsing).
 * False when the text has one of those at either end. */
static bool number_strip(const char **s, size_t *n)
{
	const char *start = *s, *end = *s + *n;
	*s = mqb_strip(*s, n);
	for (const char *p = start; p < *s; p++)
		if (*p >= 0x1c && *p <= 0x1f)
			return false;
	for (const char *p = *s + *n; p < end; p++)
		if (*p >= 0x1c && *p <= 0x1f)
			return false;
	return true;
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
bool tpl_py_float(struct tpl_ctx *cx, const char *s, size_t n, double *out)
{
	tpl_work(cx, TPL_W_SCAN(n));
	if (!number_strip(&s, &n) || !n)
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
static bool py_int(struct tpl_ctx *cx, const char *s, size_t n, int base, int64_t *out)
{
	tpl_work(cx, TPL_W_SCAN(n));
	if (!number_strip(&s, &n))
		return false;
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

/* ---- float, int, round, multiply, is_number ---------------------------- */

/* Python's float()/int() of a Jinja undefined raise UndefinedError, which
 * no default catches: these call tpl_check_defined first. */

static struct tv ha_float(struct tpl_ctx *cx, const struct tv *a, size_t na,
			  const struct tpl_kwarg *kw, size_t nkw)
{
	if (!nkw && (a[0].t == TV_FLOAT || a[0].t == TV_INT)) /* a number: no default needed */
		return tv_float(tv_as_double(a[0]));
	tpl_kw_check(cx, "float", kw, nkw, TPL_KW("default"));
	tpl_check_defined(cx, a[0]);
	const struct tv *def = tpl_arg(a, na, kw, nkw, 1, "default");
	double d;
	if (tpl_to_double(cx, a[0], &d))
		return tv_float(d);
	if (def)
		return *def;
	tpl_no_default(cx, "float", a[0]);
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
	tpl_kw_check(cx, "bool", kw, nkw, TPL_KW("default"));
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
	tpl_no_default(cx, "bool", v);
}

static struct tv ha_int(struct tpl_ctx *cx, const struct tv *a, size_t na,
			const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "int", kw, nkw, TPL_KW("default", "base"));
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
	if (v.t == TV_STR && py_int(cx, v.s->s, v.s->len, base, &i))
		return tv_int(i);
	/* Jinja's quirk, kept by Home Assistant: "42.23" | int is 42. */
	if (tpl_to_double(cx, v, &d) && dtoa__to_int(d, &i))
		return tv_int(i);
	if (def)
		return *def;
	tpl_no_default(cx, "int", v);
}

static __attribute__((noinline)) struct tv round_any(struct tpl_ctx *cx, const struct tv *a,
						     size_t na, const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "round", kw, nkw, TPL_KW("precision", "method", "default"));
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
	if (!tpl_to_double(cx, a[0], &x))
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
		if (!dtoa__to_int(x, &i))
			goto bad;
		return tv_int(i);
	}
	return tv_float(x);
bad:
	if (def)
		return *def;
	tpl_no_default(cx, "round", a[0]);
}

/* round(n) of a number, the usual call, as round_any does it but
 * without looking for the arguments it has not (nor its frame). */
static struct tv ha_round(struct tpl_ctx *cx, const struct tv *a, size_t na,
			  const struct tpl_kwarg *kw, size_t nkw)
{
	if (na == 2 && !nkw && a[1].t == TV_INT && a[1].i > 0 &&
	    (a[0].t == TV_FLOAT || a[0].t == TV_INT))
		return tv_float(dtoa__round(tv_as_double(a[0]), a[1].i));
	return round_any(cx, a, na, kw, nkw);
}

static struct tv arith_default(struct tpl_ctx *cx, const char *fn, char op, const struct tv *a,
			       size_t na, const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, fn, kw, nkw, TPL_KW("amount", "default"));
	const struct tv *amt = tpl_arg(a, na, kw, nkw, 1, "amount");
	const struct tv *def = tpl_arg(a, na, kw, nkw, 2, "default");
	double x;
	if (amt && tv_is_number(*amt) && tpl_to_double(cx, a[0], &x))
		return tv_float(op == '*' ? x * tv_as_double(*amt) : x + tv_as_double(*amt));
	if (def)
		return *def;
	tpl_no_default(cx, fn, a[0]);
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
	return tv_bool(tpl_to_double(cx, a[0], &d) && isfinite(d));
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
static void release_state(void *s)
{
	mqb_state_unref(s);
}

static struct tv get_state(struct tpl_ctx *cx, const char *id);

/* states['x.y'], states.x['y']: Home Assistant's _get_state_if_valid, an
 * error when there is no such state and the id is not valid. */
static struct tv get_state_checked(struct tpl_ctx *cx, const char *id)
{
	struct tv st = get_state(cx, id);
	if (st.t != TV_STATE && !mqb_entity_id_valid(id))
		tpl_fail(cx, "Invalid entity ID '%s'", id);
	return st;
}

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
	/* the state's reference is dropped when the render ends: making
	 * its value may end the render (work, memory) */
	struct tpl_cleanup *hold = tpl_alloc(cx, sizeof *hold);
	struct mqb_state *s = mqb_states_async_get(v->core, low);
	if (!s)
		return tv_none();
	tpl_on_end(cx, hold, release_state, s);
	return make_state(cx, s);
}

/* The entity argument: an id string or a state object. */
static struct tv entity_arg(struct tpl_ctx *cx, struct tv v)
{
	if (v.t == TV_STATE && !v.st->domain)
		return v;
	/* Home Assistant's lookup calls the id's lower(): an undefined fails */
	tpl_check_defined(cx, v);
	if (v.t != TV_STR)
		return tv_none();
	return get_state(cx, v.s->s);
}

static struct tv ha_states(struct tpl_ctx *cx, const struct tv *a, size_t na,
			   const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "states", kw, nkw, TPL_KW("rounded", "with_unit"));
	if (na < 1)
		tpl_fail(cx, "states() takes an entity id");
	struct tv st = entity_arg(cx, a[0]);
	if (st.t != TV_STATE)
		return tv_cstr(cx, "unknown");
	const struct tv *wu = tpl_arg(a, na, kw, nkw, 2, "with_unit");
	if (wu && tv_truthy(*wu)) {
		const struct tv *u = tv_dict_get(cx, &st.st->attributes, tv_cstr(cx, "unit_of_measurement"));
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
	if (tv_equal(cx, have, want))
		return tv_bool(true);
	if (want.t == TV_LIST)
		for (size_t i = 0; i < want.l->n; i++)
			if (tv_equal(cx, have, want.l->v[i]))
				return tv_bool(true);
	return tv_bool(false);
}

static struct tv attr_of(struct tpl_ctx *cx, struct tv entity, struct tv name)
{
	struct tv st = entity_arg(cx, entity);
	if (st.t != TV_STATE)
		return tv_none();
	const struct tv *v = tv_dict_get(cx, &st.st->attributes, name);
	return v ? *v : tv_none();
}

static struct tv ha_state_attr(struct tpl_ctx *cx, const struct tv *a, size_t na,
			       const struct tpl_kwarg *kw, size_t nkw)
{
	return attr_of(cx, a[0], a[1]);
}

/* True when the attribute is there (even as None) and equals value. */
static struct tv ha_is_state_attr(struct tpl_ctx *cx, const struct tv *a, size_t na,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	struct tv st = entity_arg(cx, a[0]);
	if (st.t != TV_STATE)
		return tv_bool(false);
	const struct tv *v = tv_dict_get(cx, &st.st->attributes, a[1]);
	return tv_bool(v && tv_equal(cx, *v, a[2]));
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
	if ((v.t == TV_STATE && v.st->domain) || v.t == TV_CALLABLE) {
		/* a domain's states, or `states` itself: every state */
		expand_one(e, tpl_ha_getattr(cx, v, "__iter__", 8), depth + 1);
		return;
	}
	if (v.t != TV_STR && v.t != TV_STATE)
		return;
	struct tv key = v.t == TV_STR ? v : tv_cstr(cx, v.st->entity_id);
	if (tv_dict_get(cx, &e->seen, key))
		return;
	tv_dict_set(cx, &e->seen, key, tv_bool(true));
	struct tv st = entity_arg(cx, v);
	if (st.t != TV_STATE)
		return;
	if (st.st->domain_len == 5 && memcmp(st.st->entity_id, "group", 5) == 0) {
		const struct tv *m = tv_dict_get(cx, &st.st->attributes, tv_cstr(cx, "entity_id"));
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
	if (e.found.l->n > 1) {
		size_t n = e.found.l->n, log2n = 1;
		while (n >> log2n)
			log2n++;
		tpl_work_n(cx, n * log2n, TPL_W_ITEM);
		qsort(e.found.l->v, n, sizeof(struct tv), state_cmp);
	}
	return e.found;
}

struct tv tpl_ha_state_of(struct tpl_ctx *cx, struct tv v)
{
	return entity_arg(cx, v);
}

struct tv tpl_ha_expand(struct tpl_ctx *cx, const struct tv *a, size_t na)
{
	return ha_expand(cx, a, na, NULL, 0);
}

/* The walk over the state machine never leaves its callback by a longjmp
 * (the walk's snapshot would leak): it counts, then notes the states, and
 * only then are they made into values, which may end the render. */
struct domain_walk {
	const char *domain;
	size_t len;
	struct mqb_state **v;   /* referenced until the render ends */
	size_t n, cap;
};

static int domain_note(void *ud, const struct mqb_state *s)
{
	struct domain_walk *w = ud;
	if (w->domain && (mqb_state_domain_len(s) != w->len ||
			  memcmp(mqb_state_domain(s), w->domain, w->len) != 0))
		return 0;
	if (w->v && w->n < w->cap)
		w->v[w->n] = mqb_state_ref((struct mqb_state *)s);
	w->n++;
	return 0;
}

static void release_states(void *p)
{
	struct domain_walk *w = p;
	for (size_t i = 0; i < w->n && i < w->cap; i++)
		mqb_state_unref(w->v[i]);
}

/* The states of a domain (all when name is NULL), sorted by entity id. */
static struct tv domain_states(struct tpl_ctx *cx, const char *name, size_t len)
{
	struct domain_walk *w = tpl_alloc(cx, sizeof *w);
	*w = (struct domain_walk){ name, len, NULL, 0, 0 };
	const struct mqb_tpl_vars *v = tpl_vars(cx);
	if (!v || !v->core)
		return tv_list_new(cx, 0);
	mqb_states_async_foreach(v->core, domain_note, w);
	tpl_work_n(cx, w->n, TPL_W_ITEM);
	w->cap = w->n;
	w->v = tpl_alloc(cx, (w->cap + 1) * sizeof *w->v);
	struct tpl_cleanup *hold = tpl_alloc(cx, sizeof *hold);
	w->n = 0;
	mqb_states_async_foreach(v->core, domain_note, w);
	tpl_on_end(cx, hold, release_states, w);
	struct tv list = tv_list_new(cx, w->n);
	for (size_t i = 0; i < w->n && i < w->cap; i++) {
		tpl_read_entity(cx, mqb_state_entity_id(w->v[i]));
		tv_list_push(cx, &list, make_state(cx, w->v[i]));
	}
	return list;
}

/* entity_name(id): the name of its state (friendly_name, else the object
 * id with spaces), None without one: Home Assistant's fallback when the
 * entity is not in its registry, which mqbridge has not. */
static struct tv ha_entity_name(struct tpl_ctx *cx, const struct tv *a, size_t na,
				const struct tpl_kwarg *kw, size_t nkw)
{
	struct tv st = entity_arg(cx, a[0]);
	if (st.t != TV_STATE)
		return tv_none();
	return tpl_ha_getattr(cx, st, "name", 4);
}

/* ---- iif, json ------------------------------------------------------------ */

static struct tv ha_iif(struct tpl_ctx *cx, const struct tv *a, size_t na,
			const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "iif", kw, nkw, TPL_KW("if_true", "if_false", "if_none"));
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
	tpl_kw_check(cx, "to_json", kw, nkw, TPL_KW("ensure_ascii", "pretty_print", "sort_keys"));
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
		.indent = pp && tv_truthy(*pp) ? 2 : -1,
	};
	struct tpl_buf b = { 0 };
	tpl_json_dump(cx, &b, a[0], &st);
	return tv_strv(tpl_buf_done(cx, &b));
}

static void release_json(void *j)
{
	json_decref(j);
}

static struct tv ha_from_json(struct tpl_ctx *cx, const struct tv *a, size_t na,
			      const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "from_json", kw, nkw, TPL_KW("default"));
	const struct tv *def = tpl_arg(a, na, kw, nkw, 1, "default");
	if (a[0].t == TV_STR) {
		json_error_t e;
		/* jansson parses at about 25 ns a byte, its tree built and freed */
		tpl_work_n(cx, a[0].s->len, 20);
		/* the tree is freed when the render ends: converting it may end
		 * the render (work, memory) */
		struct tpl_cleanup *hold = tpl_alloc(cx, sizeof *hold);
		json_t *j = json_loadb(a[0].s->s, a[0].s->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
		if (j) {
			tpl_on_end(cx, hold, release_json, j);
			return tv_from_json(cx, j);
		}
	}
	if (def)
		return *def;
	tpl_no_default(cx, "from_json", a[0]);
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
	{ "entity_name", U | F, ha_entity_name, 1, 1, false },
	{ "expand", U | F, ha_expand, 0, 1000, false },
	{ "float", U | F, ha_float, 1, 2, false },
	{ "int", U | F, ha_int, 1, 3, false },
	{ "bool", U | F, ha_bool, 1, 2, false },
	{ "round", U | F, ha_round, 1, 4, false },
	{ "multiply", U | F, ha_multiply, 1, 3, false },
	{ "add", U | F, ha_add, 1, 3, false },
	{ "is_number", U | F | T, ha_is_number, 1, 1, false },
	{ "iif", U | F, ha_iif, 1, 4, false },
	{ "to_json", F, ha_to_json, 1, 4, false },
	{ "from_json", F, ha_from_json, 1, 2, false },
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

/* A state's attribute it has not: Jinja2's undefined, printing as
 * nothing, whose further use fails naming what was missing (as Home
 * Assistant's test_states.py::test_state_attributes has it). */
static struct tv no_attribute(struct tpl_ctx *cx, const char *name, size_t len)
{
	char msg[160];
	int n = snprintf(msg, sizeof msg,
			 "'homeassistant.helpers.template.states.TemplateState object' has no attribute '%.*s'",
			 (int)(len > 48 ? 48 : len), name);
	struct tv u = tv_undef();
	u.utcoffset = TV_UNDEF_MESSAGE;
	u.p = tpl_str(cx, msg, (size_t)n);
	return u;
}

struct tv tpl_ha_getattr(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len)
{
	char id[MQB_MAX_ENTITY_ID_LEN + 1];
	if (tpl_name_is(name, len, "__str__")) {
		const struct tv_str *s = ha_to_str(cx, obj);
		return s ? (struct tv){ .t = TV_STR, .s = s } : tv_undef();
	}
	switch (obj.t) {
	case TV_CALLABLE:
		if (obj.p != &tpl_ha_builtins[0])
			return tv_undef();
		if (memchr(name, '.', len)) {       /* states['sensor.x'] */
			if (len > MQB_MAX_ENTITY_ID_LEN)
				tpl_fail(cx, "Invalid entity ID '%.*s'", 64, name);
			memcpy(id, name, len);
			id[len] = 0;
			return get_state_checked(cx, id);
		}
		if (tpl_name_is(name, len, "__iter__"))
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
			if (tpl_name_is(name, len, "__iter__"))
				return domain_states(cx, st->domain, st->domain_len);
			if (st->domain_len + 1 + len > MQB_MAX_ENTITY_ID_LEN)
				tpl_fail(cx, "Invalid entity ID '%s.%.*s'", st->domain, 64, name);
			memcpy(id, st->domain, st->domain_len);
			id[st->domain_len] = '.';
			memcpy(id + st->domain_len + 1, name, len);
			id[st->domain_len + 1 + len] = 0;
			/* None when missing, as Home Assistant; an error when invalid */
			return get_state_checked(cx, id);
		}
		if (tpl_name_is(name, len, "state"))
			return tv_cstr(cx, st->state);
		if (tpl_name_is(name, len, "entity_id"))
			return tv_cstr(cx, st->entity_id);
		if (tpl_name_is(name, len, "domain"))
			return tv_string(cx, st->entity_id, st->domain_len);
		if (tpl_name_is(name, len, "object_id"))
			return tv_cstr(cx, st->entity_id + st->domain_len + 1);
		if (tpl_name_is(name, len, "attributes"))
			return st->attributes;
		if (tpl_name_is(name, len, "last_changed"))
			return tv_dt(st->last_changed, 0);
		if (tpl_name_is(name, len, "last_updated") || tpl_name_is(name, len, "last_reported"))
			return tv_dt(st->last_updated, 0);
		if (tpl_name_is(name, len, "name")) {
			const struct tv *fn = tv_dict_get(cx, &st->attributes, tv_cstr(cx, "friendly_name"));
			if (fn && fn->t == TV_STR)
				return *fn;
			const char *o = st->entity_id + st->domain_len + 1;
			size_t n = strlen(o);
			char *b = tpl_alloc(cx, n + 1);
			for (size_t i = 0; i <= n; i++)
				b[i] = o[i] == '_' ? ' ' : o[i];
			return tv_string(cx, b, n);
		}
		if (tpl_name_is(name, len, "state_with_unit")) {
			struct tv a = tv_cstr(cx, st->entity_id);
			return ha_states(cx, &a, 1,
					 (const struct tpl_kwarg[]){ { "with_unit", tv_bool(true) } }, 1);
		}
		return no_attribute(cx, name, len);
	}
	case TV_DATETIME:
	case TV_TIMEDELTA:
	case TV_DATE:
		return tpl_ha_time_getattr(cx, obj, name, len);
	default:
		return tv_undef();
	}
}

struct tv tpl_ha_call_method(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len,
			     const struct tv *args, size_t nargs, const struct tpl_kwarg *kw,
			     size_t nkw)
{
	if (obj.t == TV_DATETIME || obj.t == TV_TIMEDELTA || obj.t == TV_DATE)
		return tpl_ha_time_call_method(cx, obj, name, len, args, nargs, kw, nkw);
	tpl_fail(cx, "'%s' has no method '%.*s'", tpl_str_of(cx, obj), (int)len, name);
}

/* str() of the values this file owns (the engine asks for "__str__"). */
static const struct tv_str *ha_to_str(struct tpl_ctx *cx, struct tv v)
{
	switch (v.t) {
	case TV_DATETIME:
		return tpl_dt_iso(cx, v, ' ');
	case TV_TIMEDELTA:
		return tpl_td_str(cx, v.td);
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
			tpl_buf_puts(cx, &b, tpl_str_of(cx, d->k[i]));
			tpl_buf_puts(cx, &b, "=");
			tpl_buf_puts(cx, &b, tpl_str_of(cx, d->v[i]));
		}
		tpl_buf_puts(cx, &b, " @ ");
		const struct tv_str *t = tpl_dt_iso(cx, tv_dt(v.st->last_changed, tpl_local_offset(v.st->last_changed)), 'T');
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
