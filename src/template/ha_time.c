/* SPDX-License-Identifier: MIT */
/* Home Assistant's datetimes and timedeltas: now(), parsing and formatting
 * (as_timestamp, as_datetime, strptime, timestamp_*), today_at,
 * timedelta(), and the attributes and methods of both types. Naive times
 * are local time, as in Home Assistant. */
#include "lib/internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "template/tpl.h"

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

const struct tv_str *tpl_dt_iso(struct tpl_ctx *cx, struct tv v, char sep)
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

const struct tv_str *tpl_td_str(struct tpl_ctx *cx, double td)
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
	tpl_work(cx, TPL_W_SCAN(fl));
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
		tpl_work(cx, TPL_W_SCAN(fl) + TPL_W_BYTES(cap));
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

/* ISO 8601 as Home Assistant's parse_datetime takes it, the scan charged
 * to the render's work. *aware false: no offset given. */
static bool parse_iso(struct tpl_ctx *cx, const char *s, double *ts, int32_t *off, bool *aware)
{
	tpl_work(cx, TPL_W_SCAN(strlen(s)));
	return tpl__parse_iso(s, ts, off, aware);
}

static struct tv ha_now(struct tpl_ctx *cx, const struct tv *a, size_t na,
			const struct tpl_kwarg *kw, size_t nkw)
{
	double t = wall_now(cx);
	return tv_dt(t, tpl_local_offset(t));
}

static struct tv ha_utcnow(struct tpl_ctx *cx, const struct tv *a, size_t na,
			   const struct tpl_kwarg *kw, size_t nkw)
{
	return tv_dt(wall_now(cx), 0);
}

static struct tv ha_as_timestamp(struct tpl_ctx *cx, const struct tv *a, size_t na,
				 const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "as_timestamp", kw, nkw, TPL_KW("default"));
	const struct tv *def = tpl_arg(a, na, kw, nkw, 1, "default");
	double ts;
	int32_t off;
	bool aware;
	if (a[0].t == TV_DATETIME)
		return tv_float(a[0].ts);
	if (parse_iso(cx, tpl_str_of(cx, a[0]), &ts, &off, &aware))
		return tv_float(ts);
	if (def)
		return *def;
	tpl_no_default(cx, "as_timestamp", a[0]);
}

static struct tv ha_as_datetime(struct tpl_ctx *cx, const struct tv *a, size_t na,
				const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "as_datetime", kw, nkw, TPL_KW("default"));
	const struct tv *def = tpl_arg(a, na, kw, nkw, 1, "default");
	double ts;
	int32_t off;
	bool aware;
	if (a[0].t == TV_DATETIME)
		return a[0];
	if (tpl_to_double(cx, a[0], &ts) && isfinite(ts))
		return tv_dt(ts, 0);
	if (a[0].t == TV_STR && parse_iso(cx, a[0].s->s, &ts, &off, &aware))
		return tv_dt(ts, off);
	if (def)
		return *def;
	if (a[0].t == TV_STR)
		return tv_none();
	tpl_no_default(cx, "as_datetime", a[0]);
}

static struct tv ha_as_local(struct tpl_ctx *cx, const struct tv *a, size_t na,
			     const struct tpl_kwarg *kw, size_t nkw)
{
	if (a[0].t != TV_DATETIME)
		tpl_fail(cx, "as_local got invalid input '%s': not a datetime", tpl_str_of(cx, a[0]));
	return tv_dt(a[0].ts, tpl_local_offset(a[0].ts));
}

static struct tv ha_strptime(struct tpl_ctx *cx, const struct tv *a, size_t na,
			     const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "strptime", kw, nkw, TPL_KW("format", "default"));
	const struct tv *fv = tpl_arg(a, na, kw, nkw, 1, "format");
	const struct tv *def = tpl_arg(a, na, kw, nkw, 2, "default");
	if (a[0].t == TV_STR && fv && fv->t == TV_STR) {
		struct tm tm;
		memset(&tm, 0, sizeof tm);
		tm.tm_mday = 1;
		tm.tm_year = 0;      /* Python's default date: 1900-01-01 */
		tpl_work(cx, TPL_W_SCAN(a[0].s->len + fv->s->len));
		const char *end = strptime(a[0].s->s, fv->s->s, &tm);
		if (end && !*end) {
			if (strstr(fv->s->s, "%z")) {
				int32_t off = (int32_t)tm.tm_gmtoff;
				tm.tm_isdst = 0;
				return tv_dt((double)timegm(&tm) - off, off);
			}
			tm.tm_isdst = -1;
			double ts = (double)mktime(&tm);
			return tv_dt(ts, tpl_local_offset(ts));
		}
	}
	if (def)
		return *def;
	tpl_no_default(cx, "strptime", a[0]);
}

static struct tv ts_arg(struct tpl_ctx *cx, const char *fn, struct tv v, const struct tv *def,
			bool *ok)
{
	*ok = tv_is_number(v) && isfinite(tv_as_double(v)) && fabs(tv_as_double(v)) < 1e14;
	if (*ok)
		return tv_float(tv_as_double(v));
	if (def)
		return *def;
	tpl_no_default(cx, fn, v);
}

static struct tv ha_timestamp_custom(struct tpl_ctx *cx, const struct tv *a, size_t na,
				     const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "timestamp_custom", kw, nkw, TPL_KW("format_string", "local", "default"));
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
	return dt_strftime(cx, tv_dt(t.f, local ? tpl_local_offset(t.f) : 0), fmt);
}

static struct tv ha_timestamp_local(struct tpl_ctx *cx, const struct tv *a, size_t na,
				    const struct tpl_kwarg *kw, size_t nkw)
{
	bool ok;
	struct tv t = ts_arg(cx, "timestamp_local", a[0], tpl_arg(a, na, kw, nkw, 1, "default"), &ok);
	if (!ok)
		return t;
	return (struct tv){ .t = TV_STR, .s = tpl_dt_iso(cx, tv_dt(t.f, tpl_local_offset(t.f)), 'T') };
}

static struct tv ha_timestamp_utc(struct tpl_ctx *cx, const struct tv *a, size_t na,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	bool ok;
	struct tv t = ts_arg(cx, "timestamp_utc", a[0], tpl_arg(a, na, kw, nkw, 1, "default"), &ok);
	if (!ok)
		return t;
	return (struct tv){ .t = TV_STR, .s = tpl_dt_iso(cx, tv_dt(t.f, 0), 'T') };
}

static struct tv ha_today_at(struct tpl_ctx *cx, const struct tv *a, size_t na,
			     const struct tpl_kwarg *kw, size_t nkw)
{
	const char *s = na > 0 ? tpl_str_of(cx, a[0]) : "";
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
	return tv_dt(r, tpl_local_offset(r));
}

static struct tv ha_timedelta(struct tpl_ctx *cx, const struct tv *a, size_t na,
			      const struct tpl_kwarg *kw, size_t nkw)
{
	static const char *const names[] = { "days", "seconds", "microseconds", "milliseconds",
					     "minutes", "hours", "weeks", NULL };
	static const double unit[] = { 86400, 1, 1e-6, 1e-3, 60, 3600, 604800 };
	tpl_kw_check(cx, "timedelta", kw, nkw, names);
	double s = 0;
	for (size_t i = 0; names[i]; i++) {
		const struct tv *v = tpl_arg(a, na, kw, nkw, i, names[i]);
		if (!v)
			continue;
		if (!tv_is_number(*v))
			tpl_fail(cx, "unsupported type for timedelta %s component: %s", names[i],
				 tpl_str_of(cx, *v));
		s += tv_as_double(*v) * unit[i];
	}
	if (fabs(s) > 999999999.0 * 86400)
		tpl_fail(cx, "timedelta out of range");
	return tv_td(s);
}

struct tv tpl_ha_time_getattr(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len)
{
	switch (obj.t) {
	case TV_DATETIME: {
		struct tm tm;
		int us;
		dt_split(obj, &tm, &us);
		if (tpl_name_is(name, len, "year")) return tv_int(tm.tm_year + 1900);
		if (tpl_name_is(name, len, "month")) return tv_int(tm.tm_mon + 1);
		if (tpl_name_is(name, len, "day")) return tv_int(tm.tm_mday);
		if (tpl_name_is(name, len, "hour")) return tv_int(tm.tm_hour);
		if (tpl_name_is(name, len, "minute")) return tv_int(tm.tm_min);
		if (tpl_name_is(name, len, "second")) return tv_int(tm.tm_sec);
		if (tpl_name_is(name, len, "microsecond")) return tv_int(us);
		return tv_undef();
	}
	case TV_TIMEDELTA: {
		long long usec = llround(obj.td * 1e6), day = 86400000000LL;
		long long d = usec / day, rem = usec % day;
		if (rem < 0) {
			rem += day;
			d--;
		}
		if (tpl_name_is(name, len, "days")) return tv_int(d);
		if (tpl_name_is(name, len, "seconds")) return tv_int(rem / 1000000);
		if (tpl_name_is(name, len, "microseconds")) return tv_int(rem % 1000000);
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
	tpl_kw_check(cx, "replace", kw, nkw, names);
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

struct tv tpl_ha_time_call_method(struct tpl_ctx *cx, struct tv obj, const char *name,
				  size_t len, const struct tv *args, size_t nargs,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	if (obj.t == TV_DATETIME) {
		struct tm tm;
		int us;
		dt_split(obj, &tm, &us);
		if (tpl_name_is(name, len, "strftime")) {
			if (nargs != 1 || args[0].t != TV_STR)
				tpl_fail(cx, "strftime() takes a format string");
			return dt_strftime(cx, obj, args[0].s->s);
		}
		if (tpl_name_is(name, len, "timestamp"))
			return tv_float(obj.ts);
		if (tpl_name_is(name, len, "isoformat")) {
			char sep = 'T';
			const struct tv *s = tpl_arg(args, nargs, kw, nkw, 0, "sep");
			if (s && s->t == TV_STR && s->s->len == 1)
				sep = s->s->s[0];
			return (struct tv){ .t = TV_STR, .s = tpl_dt_iso(cx, obj, sep) };
		}
		if (tpl_name_is(name, len, "weekday"))
			return tv_int((tm.tm_wday + 6) % 7);
		if (tpl_name_is(name, len, "isoweekday"))
			return tv_int(tm.tm_wday ? tm.tm_wday : 7);
		if (tpl_name_is(name, len, "replace"))
			return dt_replace(cx, obj, args, nargs, kw, nkw);
		if (tpl_name_is(name, len, "astimezone") && nargs == 0)
			return tv_dt(obj.ts, tpl_local_offset(obj.ts));
	} else if (obj.t == TV_TIMEDELTA) {
		if (tpl_name_is(name, len, "total_seconds"))
			return tv_float(obj.td);
	}
	tpl_fail(cx, "'%s' has no method '%.*s'", tpl_str_of(cx, obj), (int)len, name);
}

#define F TPL_FILTER
#define U TPL_FUNCTION
const struct tpl_builtin tpl_ha_time_builtins[] = {
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
	{ NULL, 0, NULL, 0, 0, false },
};
#undef F
#undef U
