/* SPDX-License-Identifier: MIT */
/* Home Assistant's math and statistics: the constants e, pi and tau,
 * log and the trigonometric functions (each with a default), average,
 * median and statistical_mode, the bitwise operations, and clamp, wrap
 * and remap, with the semantics of its MathExtension. */
#include "lib/internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "template/tpl.h"

#define ARG(i, name) tpl_arg(args, nargs, kw, nkw, i, name)
#define FN(name) static struct tv name(struct tpl_ctx *cx, const struct tv *args, size_t nargs, \
				       const struct tpl_kwarg *kw, size_t nkw)

bool tpl_global_constant(const char *name, size_t len, struct tv *out)
{
	if (tpl_name_is(name, len, "e"))
		*out = tv_float(2.718281828459045);
	else if (tpl_name_is(name, len, "pi"))
		*out = tv_float(3.141592653589793);
	else if (tpl_name_is(name, len, "tau"))
		*out = tv_float(6.283185307179586);
	else
		return false;
	return true;
}

/* Python's float(v) as the math functions take it: an undefined fails
 * whatever the default (float() of it is an UndefinedError). */
static bool num(struct tpl_ctx *cx, struct tv v, double *out)
{
	tpl_check_defined(cx, v);
	return tpl_to_double(cx, v, out);
}

/* One of sin, cos ...: f of the value, or the default when it is not a
 * number or outside f's domain (Python's ValueError). */
static struct tv unary(struct tpl_ctx *cx, const char *fn, double (*f)(double),
		       const struct tv *args, size_t nargs, const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, fn, kw, nkw, TPL_KW("default"));
	const struct tv *def = ARG(1, "default");
	double x, r;
	if (num(cx, args[0], &x)) {
		r = f(x);
		if (!isnan(r) || isnan(x))
			return tv_float(r);
	}
	if (def)
		return *def;
	tpl_no_default(cx, fn, args[0]);
}

FN(ha_sin) { return unary(cx, "sin", sin, args, nargs, kw, nkw); }
FN(ha_cos) { return unary(cx, "cos", cos, args, nargs, kw, nkw); }
FN(ha_tan) { return unary(cx, "tan", tan, args, nargs, kw, nkw); }
FN(ha_asin) { return unary(cx, "asin", asin, args, nargs, kw, nkw); }
FN(ha_acos) { return unary(cx, "acos", acos, args, nargs, kw, nkw); }
FN(ha_atan) { return unary(cx, "atan", atan, args, nargs, kw, nkw); }
FN(ha_sqrt) { return unary(cx, "sqrt", sqrt, args, nargs, kw, nkw); }

/* log(value, base=e, default): Python's math.log(value, base), which is
 * log(value) / log(base) (a base of 1 divides by zero: no default helps). */
FN(ha_log)
{
	tpl_kw_check(cx, "log", kw, nkw, TPL_KW("base", "default"));
	const struct tv *bv = ARG(1, "base"), *def = ARG(2, "default");
	double x, b = 2.718281828459045;
	if (bv && !num(cx, *bv, &b)) {
		if (def)
			return *def;
		tpl_no_default(cx, "log", *bv);
	}
	if (num(cx, args[0], &x) && x > 0 && b > 0) {
		double lb = log(b);
		if (lb == 0)
			tpl_fail(cx, "float division by zero");
		return tv_float(log(x) / lb);
	}
	if (def)
		return *def;
	tpl_no_default(cx, "log", args[0]);
}

FN(ha_atan2)
{
	tpl_kw_check(cx, "atan2", kw, nkw, TPL_KW("default"));
	const struct tv *def = ARG(99, "default");
	const struct tv *a = args;
	size_t n = nargs;
	if (n >= 1 && n <= 2 && a[0].t == TV_LIST && !tv_is_set(a[0])) {
		if (n == 2 && !def)
			def = &a[1];
		n = a[0].l->n;
		a = a[0].l->v;
	} else if (n == 3 && !def) {
		def = &a[2];
	}
	if (n < 2)
		tpl_fail(cx, "tuple index out of range");
	double y, x;
	if (num(cx, a[0], &y) && num(cx, a[1], &x))
		return tv_float(atan2(y, x));
	if (def)
		return *def;
	tpl_no_default(cx, "atan2", tv_make_tuple(tv_list_of(cx, a, n)));
}

/* ---- statistics ---- */

/* The values average, median and statistical_mode work on: args[0] when
 * it is iterable (and args[1], unless default= is given, the default),
 * else the arguments. */
static struct tv stats_values(struct tpl_ctx *cx, const char *fn, const struct tv *args,
			      size_t nargs, const struct tv **def, bool mode)
{
	if (!nargs)
		tpl_fail(cx, "%s expected at least 1 argument, got 0", fn);
	enum tv_type t = args[0].t;
	bool iterable = t == TV_LIST || t == TV_DICT || t == TV_STR || t == TV_BYTES ||
			t == TV_UNDEFINED;
	if (mode && nargs > 1 && !(t == TV_LIST && !tv_is_set(args[0])))
		iterable = false;
	if (iterable) {
		if (nargs > 1 && !*def)
			*def = &args[1];
		return tpl_iterate(cx, args[0]);
	}
	if (nargs == 1)
		tpl_fail(cx, "'%s' object is not iterable", tpl_typeof(args[0]));
	return tv_list_of(cx, args, nargs);
}

_Noreturn static void stats_fail(struct tpl_ctx *cx, const char *fn, const struct tv *args,
				 size_t nargs)
{
	tpl_no_default(cx, fn, tv_make_tuple(tv_list_of(cx, args, nargs)));
}

/* math.fsum: the correctly rounded sum (Shewchuk's partials). */
static double fsum(struct tpl_ctx *cx, const double *v, size_t n)
{
	double *p = tpl_alloc(cx, (n + 1) * sizeof *p);
	size_t np = 0;
	for (size_t i = 0; i < n; i++) {
		double x = v[i];
		size_t k = 0;
		for (size_t j = 0; j < np; j++) {
			double y = p[j];
			if (fabs(x) < fabs(y)) {
				double t = x;
				x = y;
				y = t;
			}
			double hi = x + y, lo = y - (hi - x);
			if (lo != 0)
				p[k++] = lo;
			x = hi;
		}
		p[k++] = x;
		np = k;
		tpl_work(cx, np);
	}
	double s = 0;
	for (size_t j = 0; j < np; j++)
		s += p[j];
	return s;
}

FN(ha_average)
{
	tpl_kw_check(cx, "average", kw, nkw, TPL_KW("default"));
	const struct tv *def = ARG(99, "default");
	struct tv l = stats_values(cx, "average", args, nargs, &def, false);
	double *v = tpl_alloc(cx, (l.l->n + 1) * sizeof *v);
	bool ok = l.l->n > 0;
	for (size_t i = 0; ok && i < l.l->n; i++) {
		ok = tv_is_number(l.l->v[i]);
		v[i] = tv_as_double(l.l->v[i]);
	}
	if (ok)
		return tv_float(fsum(cx, v, l.l->n) / (double)l.l->n);
	if (def)
		return *def;
	stats_fail(cx, "average", args, nargs);
}

FN(ha_median)
{
	tpl_kw_check(cx, "median", kw, nkw, TPL_KW("default"));
	const struct tv *def = ARG(99, "default");
	struct tv l = stats_values(cx, "median", args, nargs, &def, false);
	size_t n = l.l->n;
	if (n) {
		for (size_t i = 0; i < n; i++)
			tpl_tick(cx);
		size_t *o = tpl_sort_index(cx, l.l->v, n, false);
		if (n % 2)
			return l.l->v[o[n / 2]];
		struct tv a = l.l->v[o[n / 2 - 1]], b = l.l->v[o[n / 2]];
		if (tv_is_number(a) && tv_is_number(b)) {
			if (a.t != TV_FLOAT && b.t != TV_FLOAT)
				return tv_float(((double)(a.t == TV_INT ? a.i : a.b) +
						 (double)(b.t == TV_INT ? b.i : b.b)) / 2);
			return tv_float((tv_as_double(a) + tv_as_double(b)) / 2);
		}
	}
	if (def)
		return *def;
	stats_fail(cx, "median", args, nargs);
}

FN(ha_statistical_mode)
{
	tpl_kw_check(cx, "statistical_mode", kw, nkw, TPL_KW("default"));
	const struct tv *def = ARG(99, "default");
	struct tv l = stats_values(cx, "statistical_mode", args, nargs, &def, true);
	size_t n = l.l->n, best = 0, best_count = 0;
	tpl_work_n(cx, (uint64_t)n * n, TPL_W_ITEM);
	for (size_t i = 0; i < n; i++) {
		struct tv x = l.l->v[i];
		if ((x.t == TV_LIST && !tv_is_tuple(x)) || x.t == TV_DICT)
			tpl_fail(cx, "unhashable type: '%s'", tpl_typeof(x));
		size_t first = 0;
		while (!tv_equal(cx, l.l->v[first], x))
			first++;
		if (first < i)
			continue;   /* counted at its first place */
		size_t c = 0;
		for (size_t j = i; j < n; j++)
			c += tv_equal(cx, l.l->v[j], x);
		if (c > best_count) {
			best = i;
			best_count = c;
		}
	}
	if (n)
		return l.l->v[best];
	if (def)
		return *def;
	stats_fail(cx, "statistical_mode", args, nargs);
}

/* ---- bitwise ---- */

static struct tv bitwise(struct tpl_ctx *cx, const struct tv *args, char op)
{
	struct tv a = args[0], b = args[1];
	if ((a.t != TV_INT && a.t != TV_BOOL) || (b.t != TV_INT && b.t != TV_BOOL)) {
		tpl_check_defined(cx, a);
		tpl_check_defined(cx, b);
		tpl_fail(cx, "unsupported operand type(s) for %c: '%s' and '%s'", op, tpl_typeof(a),
			 tpl_typeof(b));
	}
	int64_t x = a.t == TV_INT ? a.i : a.b, y = b.t == TV_INT ? b.i : b.b;
	int64_t r = op == '&' ? x & y : op == '|' ? x | y : x ^ y;
	if (a.t == TV_BOOL && b.t == TV_BOOL)
		return tv_bool(r != 0);
	return tv_int(r);
}

FN(ha_bitwise_and) { return bitwise(cx, args, '&'); }
FN(ha_bitwise_or) { return bitwise(cx, args, '|'); }
FN(ha_bitwise_xor) { return bitwise(cx, args, '^'); }

/* ---- clamp, wrap, remap ---- */

static void numbers(struct tpl_ctx *cx, const struct tv *args, size_t n, double *out)
{
	for (size_t i = 0; i < n; i++)
		if (!num(cx, args[i], &out[i])) {
			struct tpl_buf b = { 0 };
			for (size_t k = 0; k < n; k++) {
				if (k)
					tpl_buf_puts(cx, &b, ", ");
				tpl_buf_str(cx, &b, tv_strv(tv_repr(cx, args[k])));
			}
			tpl_fail(cx, "function requires numeric arguments, got %s",
				 tpl_buf_done(cx, &b)->s);
		}
}

/* Python's float modulo: the sign of the divisor. */
static double pymod(double x, double y)
{
	double m = fmod(x, y);
	if (m != 0 && ((m < 0) != (y < 0)))
		m += y;
	else if (m == 0)
		m = copysign(0.0, y);
	return m;
}

FN(ha_clamp)
{
	double v[3];
	numbers(cx, args, 3, v);
	return tv_float(fmax(v[1], fmin(v[2], v[0])));
}

FN(ha_wrap)
{
	double v[3];
	numbers(cx, args, 3, v);
	double range = v[2] - v[1];
	if (range == 0)
		return tv_float(v[1]);
	return tv_float(pymod(v[0] - v[1], range) + v[1]);
}

FN(ha_remap)
{
	tpl_kw_check(cx, "remap", kw, nkw, TPL_KW("steps", "edges"));
	if (nargs != 5)
		tpl_fail(cx, "remap() takes 5 positional arguments but %zu were given", nargs);
	const struct tv *sv = ARG(99, "steps"), *ev = ARG(99, "edges");
	double v[5];
	numbers(cx, args, 5, v);
	double x = v[0], in_min = v[1], in_max = v[2], out_min = v[3], out_max = v[4];
	const char *edges = ev && ev->t == TV_STR ? ev->s->s : "none";
	if (strcmp(edges, "clamp") == 0) {
		x = fmax(in_min, fmin(in_max, x));
	} else if (strcmp(edges, "wrap") == 0 || strcmp(edges, "mirror") == 0) {
		if (in_min == in_max)
			tpl_fail(cx, "in_min=%s must not equal in_max=%s", tpl_str_of(cx, args[1]),
				 tpl_str_of(cx, args[2]));
		double range = in_max - in_min;
		if (edges[0] == 'w') {
			x = pymod(x - in_min, range) + in_min;
		} else {
			double off = x - in_min, period = floor(off / range);
			double pos = off - period * range;
			if (period < 0 || pymod(period, 2) != 0)
				pos = range - pos;
			x = in_min + pos;
		}
	}
	int64_t steps = 0;
	if (sv) {
		if (sv->t != TV_INT && sv->t != TV_BOOL)
			tpl_fail(cx, "remap: steps must be an integer");
		steps = sv->t == TV_INT ? sv->i : sv->b;
	}
	if (steps < 0)
		steps = 0;
	if (!steps && in_min == out_min && in_max == out_max)
		return tv_float(x);
	if (in_max == in_min)
		tpl_fail(cx, "float division by zero");
	double norm = (x - in_min) / (in_max - in_min);
	if (steps)
		norm = nearbyint(norm * (double)steps) / (double)steps;
	return tv_float(out_min + norm * (out_max - out_min));
}

#define F TPL_FILTER
#define U TPL_FUNCTION
const struct tpl_builtin tpl_ha_math_builtins[] = {
	{ "sin", U | F, ha_sin, 1, 2, false },
	{ "cos", U | F, ha_cos, 1, 2, false },
	{ "tan", U | F, ha_tan, 1, 2, false },
	{ "asin", U | F, ha_asin, 1, 2, false },
	{ "acos", U | F, ha_acos, 1, 2, false },
	{ "atan", U | F, ha_atan, 1, 2, false },
	{ "atan2", U | F, ha_atan2, 1, 3, false },
	{ "sqrt", U | F, ha_sqrt, 1, 2, false },
	{ "log", U | F, ha_log, 1, 3, false },
	{ "average", U | F, ha_average, 0, 1000, false },
	{ "median", U | F, ha_median, 0, 1000, false },
	{ "statistical_mode", U | F, ha_statistical_mode, 0, 1000, false },
	{ "bitwise_and", U | F, ha_bitwise_and, 2, 2, false },
	{ "bitwise_or", U | F, ha_bitwise_or, 2, 2, false },
	{ "bitwise_xor", U | F, ha_bitwise_xor, 2, 2, false },
	{ "clamp", U | F, ha_clamp, 3, 3, false },
	{ "wrap", U | F, ha_wrap, 3, 3, false },
	{ "remap", U | F, ha_remap, 5, 5, false },
	{ NULL, 0, NULL, 0, 0, false },
};
#undef F
#undef U
