/* SPDX-License-Identifier: MIT */
/* Home Assistant's datetimes, dates and timedeltas: now(), parsing and
 * formatting (as_timestamp, as_datetime, strptime, timestamp_*,
 * as_timedelta), today_at, relative_time, time_since and time_until,
 * timedelta(), and the attributes and methods of the three types. A
 * datetime without an offset stays naive, as Python's: it compares only
 * with naive ones, and is read as local time where a moment is needed. */
#include "lib/internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "template/tpl.h"

/* The offset of local time at the local wall-clock time wall (seconds of
 * its fields as if UTC), as Python's zoneinfo reads a naive time (the
 * first of two in a repeated hour). */
static int32_t wall_offset(double wall)
{
	time_t w = (time_t)floor(wall);
	struct tm tm;
	gmtime_r(&w, &tm);
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	return t == (time_t)-1 ? 0 : (int32_t)(w - t);
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

static struct tv naive(double wall)
{
	return tv_dt(wall, TV_NAIVE);
}

/* The moment a datetime is (a naive one read as local time). */
static double moment(struct tv v)
{
	return tv_is_naive(v) ? v.ts - wall_offset(v.ts) : v.ts;
}

/* Its wall-clock time (seconds of its fields as if UTC). */
static double wall_of(struct tv v)
{
	return v.t == TV_DATE || tv_is_naive(v) ? v.ts : v.ts + v.utcoffset;
}

void tpl_dt_split(struct tv v, struct tm *tm, int *usec)
{
	double w = wall_of(v);
	double fl = floor(w);
	long long us = llround((w - fl) * 1e6);
	time_t t = (time_t)fl;
	if (us >= 1000000) {
		us -= 1000000;
		t++;
	}
	gmtime_r(&t, tm);
	tm->tm_gmtoff = 0;
	tm->tm_zone = "";
	if (v.t == TV_DATETIME && !tv_is_naive(v)) {
		time_t u = t - v.utcoffset;
		struct tm l;
		tm->tm_gmtoff = v.utcoffset;
		tm->tm_zone = v.utcoffset == 0 ? "UTC" : "";
		if (v.utcoffset != 0 && localtime_r(&u, &l) && l.tm_gmtoff == v.utcoffset)
			tm->tm_zone = l.tm_zone;
	}
	*usec = (int)us;
}

/* "+HH:MM" (":SS" when it has seconds), as Python writes an offset. */
static int offset_text(char *b, size_t n, int32_t off, const char *colon)
{
	int a = off < 0 ? -off : off;
	int k = snprintf(b, n, "%c%02d%s%02d", off < 0 ? '-' : '+', a / 3600, colon, a / 60 % 60);
	if (a % 60)
		k += snprintf(b + k, n - (size_t)k, "%s%02d", colon, a % 60);
	return k;
}

const struct tv_str *tpl_dt_iso(struct tpl_ctx *cx, struct tv v, char sep)
{
	struct tm tm;
	int us;
	tpl_dt_split(v, &tm, &us);
	char buf[80];
	int n = snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday);
	if (v.t == TV_DATETIME) {
		n += snprintf(buf + n, sizeof buf - (size_t)n, "%c%02d:%02d:%02d", sep, tm.tm_hour,
			      tm.tm_min, tm.tm_sec);
		if (us)
			n += snprintf(buf + n, sizeof buf - (size_t)n, ".%06d", us);
		if (!tv_is_naive(v))
			n += offset_text(buf + n, sizeof buf - (size_t)n, v.utcoffset, ":");
	}
	return tpl_str(cx, buf, (size_t)n);
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

/* Python's strftime: glibc's, with %f (microseconds) Python's own, and
 * %z, %Z empty for a naive datetime or a date. */
static struct tv dt_strftime(struct tpl_ctx *cx, struct tv v, const char *fmt)
{
	struct tm tm;
	int us;
	tpl_dt_split(v, &tm, &us);
	bool aware = v.t == TV_DATETIME && !tv_is_naive(v);
	size_t fl = strlen(fmt);
	tpl_work(cx, TPL_W_SCAN(fl));
	char *f = tpl_alloc(cx, fl * 3 + 1), *o = f;
	for (size_t i = 0; i < fl; i++) {
		if (fmt[i] == '%' && fmt[i + 1] == 'f') {
			o += sprintf(o, "%06d", us);
			i++;
		} else if (fmt[i] == '%' && (fmt[i + 1] == 'z' || fmt[i + 1] == 'Z') && !aware) {
			i++;
		} else if (fmt[i] == '%' && fmt[i + 1] == 'z') {
			o += offset_text(o, 16, v.utcoffset, "");
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

/* ---- parsing ------------------------------------------------------------------ */

/* n digits at *s (exactly), their value; false when they are not there. */
static bool digits(const char **s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return false;
		v = v * 10 + (*s)[i] - '0';
	}
	*s += n;
	*out = v;
	return true;
}

/* 1 to max digits at *s. */
static bool some_digits(const char **s, int max, int *out)
{
	int n = 0, v = 0;
	while (n < max && isdigit((unsigned char)(*s)[n]))
		v = v * 10 + (*s)[n++] - '0';
	*s += n;
	*out = v;
	return n > 0;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && leap(y) ? 29 : d[m - 1];
}

struct fields {
	int Y, M, D, h, m, s, us;
	bool aware;
	int32_t off;
};

/* Python's datetime(...) of the fields: false when one is out of range. */
static bool make_dt(const struct fields *f, struct tv *out)
{
	if (f->Y < 1 || f->Y > 9999 || f->M < 1 || f->M > 12 || f->D < 1 ||
	    f->D > month_days(f->Y, f->M) || f->h > 23 || f->m > 59 || f->s > 59 ||
	    f->off <= -86400 || f->off >= 86400)
		return false;
	struct tm tm = { .tm_year = f->Y - 1900, .tm_mon = f->M - 1, .tm_mday = f->D,
			 .tm_hour = f->h, .tm_min = f->m, .tm_sec = f->s };
	double wall = (double)timegm(&tm) + f->us / 1e6;
	*out = f->aware ? tv_dt(wall - f->off, f->off) : naive(wall);
	return true;
}

/* An offset "Z" or "+HH[[:]MM[[:]SS]]" at *s (sep: the separator the
 * form uses, or 0 for either). */
static bool parse_offset(const char **s, struct fields *f)
{
	if (**s == 'Z') {
		(*s)++;
		f->aware = true;
		f->off = 0;
		return true;
	}
	if (**s != '+' && **s != '-')
		return false;
	int sign = **s == '-' ? -1 : 1, h, m = 0, sec = 0;
	(*s)++;
	if (!digits(s, 2, &h))
		return false;
	bool colon = **s == ':';
	if (colon)
		(*s)++;
	if (isdigit((unsigned char)**s)) {
		if (!digits(s, 2, &m))
			return false;
		if ((colon && **s == ':') || (!colon && isdigit((unsigned char)**s))) {
			*s += colon;
			if (!digits(s, 2, &sec))
				return false;
		}
	} else if (colon) {
		return false;
	}
	if (h > 23 || m > 59 || sec > 59)
		return false;
	f->aware = true;
	f->off = sign * (h * 3600 + m * 60 + sec);
	return true;
}

/* Python 3.11's datetime.fromisoformat: YYYY-MM-DD or YYYYMMDD, then any
 * one character and HH[:MM[:SS[.f]]] or HHMM[SS], then an offset. */
static bool from_isoformat(const char *s, struct fields *f)
{
	memset(f, 0, sizeof *f);
	bool basic = !(s[0] && s[1] && s[2] && s[3] && s[4] == '-');
	if (!digits(&s, 4, &f->Y) || (!basic && *s++ != '-') || !digits(&s, 2, &f->M) ||
	    (!basic && *s++ != '-') || !digits(&s, 2, &f->D))
		return false;
	if (!*s)
		return true;
	s++;   /* any separator */
	if (!digits(&s, 2, &f->h))
		return false;
	bool colon = *s == ':';
	if (colon || isdigit((unsigned char)*s)) {
		s += colon;
		if (!digits(&s, 2, &f->m))
			return false;
		if ((colon && *s == ':') || (!colon && isdigit((unsigned char)*s))) {
			s += colon;
			if (!digits(&s, 2, &f->s))
				return false;
			if (*s == '.' || *s == ',') {
				s++;
				int n = 0;
				if (!isdigit((unsigned char)*s))
					return false;
				for (; isdigit((unsigned char)*s); s++, n++)
					if (n < 6)
						f->us = f->us * 10 + *s - '0';
				for (; n < 6; n++)
					f->us *= 10;
			}
		}
	}
	while (*s == ' ')
		s++;
	if (*s && !parse_offset(&s, f))
		return false;
	return !*s;
}

/* Home Assistant's fallback (its DATETIME_RE): YYYY-M-D[T ]H:M[:S[.f]]
 * and an offset Z, +HH or +HH[:]MM. */
static bool from_regex(const char *s, struct fields *f)
{
	memset(f, 0, sizeof *f);
	if (!digits(&s, 4, &f->Y) || *s++ != '-' || !some_digits(&s, 2, &f->M) || *s++ != '-' ||
	    !some_digits(&s, 2, &f->D) || (*s != 'T' && *s != ' '))
		return false;
	s++;
	if (!some_digits(&s, 2, &f->h) || *s++ != ':' || !some_digits(&s, 2, &f->m))
		return false;
	if (*s == ':') {
		s++;
		if (!some_digits(&s, 2, &f->s))
			return false;
		if (*s == '.') {
			const char *d = ++s;
			int n = 0;
			while (isdigit((unsigned char)*s) && n < 12) {
				if (n < 6)
					f->us = f->us * 10 + *s - '0';
				s++;
				n++;
			}
			if (s == d)
				return false;
			for (; n < 6; n++)
				f->us *= 10;
		}
	}
	if (*s == 'Z') {
		f->aware = true;
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1, h, m = 0;
		s++;
		if (!digits(&s, 2, &h))
			return false;
		if (*s == ':')
			s++;
		if (isdigit((unsigned char)*s) && !digits(&s, 2, &m))
			return false;
		f->aware = true;
		f->off = sign * (h * 3600 + m * 60);
	}
	return !*s;
}

/* Home Assistant's parse_datetime (its fromisoformat, then its regex): a
 * datetime, naive when s has no offset; false when s is not one. The
 * library's mqb_parse_datetime reads the common forms for the rest of
 * mqbridge, without naive datetimes. */
static bool parse_datetime(struct tpl_ctx *cx, const char *s, struct tv *out)
{
	struct fields f;
	tpl_work(cx, TPL_W_SCAN(strlen(s)));
	return (from_isoformat(s, &f) && make_dt(&f, out)) || (from_regex(s, &f) && make_dt(&f, out));
}


/* ---- functions ----------------------------------------------------------------- */

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
	struct tv d;
	if (a[0].t == TV_DATETIME)
		return tv_float(moment(a[0]));
	if (a[0].t != TV_DATE && parse_datetime(cx, tpl_str_of(cx, a[0]), &d))
		return tv_float(moment(d));
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
	struct tv d;
	if (a[0].t == TV_DATETIME)
		return a[0];
	if (a[0].t == TV_DATE)   /* its midnight, naive */
		return naive(a[0].ts);
	if (tpl_to_double(cx, a[0], &ts) && isfinite(ts) && fabs(ts) < 253402300800.0)
		return tv_dt(ts, 0);
	if (a[0].t == TV_STR && parse_datetime(cx, a[0].s->s, &d))
		return d;
	if (def)
		return *def;
	if (a[0].t == TV_STR)
		return tv_none();
	tpl_no_default(cx, "as_datetime", a[0]);
}

/* Home Assistant's as_local: a naive datetime is taken as local time. */
static struct tv as_local(struct tv v)
{
	double m = moment(v);
	return tv_dt(m, tpl_local_offset(m));
}

static struct tv ha_as_local(struct tpl_ctx *cx, const struct tv *a, size_t na,
			     const struct tpl_kwarg *kw, size_t nkw)
{
	if (a[0].t != TV_DATETIME)
		tpl_fail(cx, "as_local got invalid input '%s': not a datetime", tpl_str_of(cx, a[0]));
	return as_local(a[0]);
}

/* strptime with Python's %f: glibc's strptime up to each %f, then 1 to 6
 * digits by hand. NULL when s does not match. */
static const char *strptime_f(struct tpl_ctx *cx, const char *s, const char *fmt, struct tm *tm,
			      int *us)
{
	char *f = tpl_alloc(cx, strlen(fmt) + 1);
	strcpy(f, fmt);
	for (char *part = f;;) {
		char *pf = strstr(part, "%f");
		while (pf && pf > part && pf[-1] == '%') {   /* %%f is a literal */
			size_t k = 0;
			while (pf - k > part && pf[-1 - (ptrdiff_t)k] == '%')
				k++;
			if (k % 2 == 0)
				break;
			pf = strstr(pf + 2, "%f");
		}
		if (pf)
			*pf = 0;
		if (*part && !(s = strptime(s, part, tm)))
			return NULL;
		if (!pf)
			return s;
		int n = 0, v = 0;
		while (n < 6 && isdigit((unsigned char)s[n]))
			v = v * 10 + s[n++] - '0';
		if (!n)
			return NULL;
		for (int k = n; k < 6; k++)
			v *= 10;
		*us = v;
		s += n;
		part = pf + 2;
	}
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
		int us = 0;
		tpl_work(cx, TPL_W_SCAN(a[0].s->len + fv->s->len));
		const char *end = strptime_f(cx, a[0].s->s, fv->s->s, &tm, &us);
		if (end && !*end) {
			double wall = (double)timegm(&(struct tm){ .tm_year = tm.tm_year,
				.tm_mon = tm.tm_mon, .tm_mday = tm.tm_mday, .tm_hour = tm.tm_hour,
				.tm_min = tm.tm_min, .tm_sec = tm.tm_sec }) + us / 1e6;
			/* with %z it has an offset; else it is naive */
			if (strstr(fv->s->s, "%z")) {
				int32_t off = (int32_t)tm.tm_gmtoff;
				return tv_dt(wall - off, off);
			}
			return naive(wall);
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
	return tv_strv(tpl_dt_iso(cx, tv_dt(t.f, tpl_local_offset(t.f)), 'T'));
}

static struct tv ha_timestamp_utc(struct tpl_ctx *cx, const struct tv *a, size_t na,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	bool ok;
	struct tv t = ts_arg(cx, "timestamp_utc", a[0], tpl_arg(a, na, kw, nkw, 1, "default"), &ok);
	if (!ok)
		return t;
	return tv_strv(tpl_dt_iso(cx, tv_dt(t.f, 0), 'T'));
}

/* Python's int() of a part of a time string (white space around it). */
static bool time_part(const char *s, size_t n, int *out)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	size_t i = 0;
	bool neg = false;
	if (n && (s[0] == '+' || s[0] == '-'))
		neg = s[i++] == '-';
	if (i == n || n - i > 9)
		return false;
	int v = 0;
	for (; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + s[i] - '0';
	}
	*out = neg ? -v : v;
	return true;
}

static struct tv ha_today_at(struct tpl_ctx *cx, const struct tv *a, size_t na,
			     const struct tpl_kwarg *kw, size_t nkw)
{
	const char *s = na > 0 ? tpl_str_of(cx, a[0]) : "";
	int f[3] = { 0, 0, 0 };
	if (*s) {
		/* Home Assistant's parse_time: "H:M[:S]", each an int() */
		const char *p = s;
		size_t parts = 0;
		bool ok = true;
		tpl_work(cx, TPL_W_SCAN(strlen(s)));
		for (;;) {
			const char *c = strchr(p, ':');
			size_t n = c ? (size_t)(c - p) : strlen(p);
			if (parts < 3 && !time_part(p, n, &f[parts]))
				ok = false;
			parts++;
			if (!c)
				break;
			p = c + 1;
		}
		if (parts < 2 || !ok || f[0] < 0 || f[0] > 23 || f[1] < 0 || f[1] > 59 || f[2] < 0 ||
		    f[2] > 59)
			tpl_fail(cx, "could not convert str to datetime: '%s'", s);
	}
	double t = wall_now(cx);
	double day = floor((t + tpl_local_offset(t)) / 86400) * 86400;
	double wall = day + f[0] * 3600 + f[1] * 60 + f[2];
	int32_t off = wall_offset(wall);
	return tv_dt(wall - off, off);
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

/* ---- durations (Home Assistant's parse_duration, Django's three forms) ---- */

/* Digits at *s into *v (as a double); how many. */
static size_t num(const char **s, double *v)
{
	size_t n = 0;
	*v = 0;
	while (isdigit((unsigned char)(*s)[n])) {
		*v = *v * 10 + (*s)[n] - '0';
		n++;
	}
	*s += n;
	return n;
}

/* A fraction ".123" or ",123" of at most max digits (any more when max is
 * 0 and extra is unbounded), scaled as microseconds: Django's \d{1,6}\d{0,6}. */
static bool micro(const char **s, double *us)
{
	if (**s != '.' && **s != ',')
		return true;
	const char *p = *s + 1;
	int n = 0;
	double v = 0;
	while (isdigit((unsigned char)p[n]) && n < 12) {
		if (n < 6)
			v = v * 10 + p[n] - '0';
		n++;
	}
	if (!n || isdigit((unsigned char)p[n]))
		return false;
	for (int k = n; k < 6; k++)
		v *= 10;
	*us = v;
	*s = p + n;
	return true;
}

/* "[D day[s], ][-][[H:]M:]S[.f]", with_days telling whether to try the days. */
static bool duration_standard(const char *s, bool with_days, double *out)
{
	double days = 0, h = 0, m = 0, sec = 0, us = 0;
	if (with_days) {
		bool neg = *s == '-';
		const char *p = s + neg;
		if (!num(&p, &days) || *p != ' ')
			return false;
		p++;
		if (strncmp(p, "days, ", 6) == 0)
			p += 6;
		else if (strncmp(p, "day, ", 5) == 0)
			p += 5;
		days = neg ? -days : days;
		s = p;
	}
	int sign = 1;
	if (*s == '-') {
		sign = -1;
		s++;
	}
	/* up to three numbers joined by ':' */
	double v[3];
	int n = 0;
	for (;;) {
		if (!num(&s, &v[n]))
			return false;
		n++;
		if (*s != ':' || n == 3)
			break;
		s++;
	}
	if (n == 3) {
		h = v[0];
		m = v[1];
		sec = v[2];
	} else if (n == 2) {
		m = v[0];
		sec = v[1];
	} else {
		sec = v[0];
	}
	if (!micro(&s, &us) || *s)
		return false;
	*out = days * 86400 + sign * (h * 3600 + m * 60 + sec + us / 1e6);
	return true;
}

/* A decimal "12" or "1.5" (',' too) for ISO 8601. */
static bool decimal(const char **s, double *v)
{
	if (!num(s, v))
		return false;
	if (**s == '.' || **s == ',') {
		const char *p = *s + 1;
		double f = 0, scale = 1;
		size_t n = 0;
		while (isdigit((unsigned char)p[n])) {
			f = f * 10 + p[n] - '0';
			scale *= 10;
			n++;
		}
		if (!n)
			return true;   /* the regex backs off the separator: the unit must follow */
		*v += f / scale;
		*s = p + n;
	}
	return true;
}

/* "[-+]P[nD][T[nH][nM][nS]]". */
static bool duration_iso(const char *s, double *out)
{
	int sign = 1;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (*s++ != 'P')
		return false;
	double days = 0, h = 0, m = 0, sec = 0, v;
	const char *p = s;
	if (decimal(&p, &v) && *p == 'D') {
		days = v;
		s = p + 1;
	}
	if (*s == 'T') {
		s++;
		p = s;
		if (decimal(&p, &v) && *p == 'H') {
			h = v;
			s = p + 1;
		}
		p = s;
		if (decimal(&p, &v) && *p == 'M') {
			m = v;
			s = p + 1;
		}
		p = s;
		if (decimal(&p, &v) && *p == 'S') {
			sec = v;
			s = p + 1;
		}
	}
	if (*s)
		return false;
	*out = sign * (days * 86400 + h * 3600 + m * 60 + sec);
	return true;
}

/* "[D day[s] ][+|-]H:MM:SS[.f]" (PostgreSQL's), or "D days" alone. */
static bool duration_postgres(const char *s, double *out)
{
	double days = 0, h, m, sec, us = 0;
	const char *p = s;
	bool neg = *p == '-';
	p += neg;
	if (num(&p, &days) && *p == ' ') {
		p++;
		if (strncmp(p, "days", 4) == 0)
			p += 4;
		else if (strncmp(p, "day", 3) == 0)
			p += 3;
		else
			return false;
		if (*p == ' ')
			p++;
		s = p;
		days = neg ? -days : days;
	} else {
		days = 0;
	}
	if (!*s) {
		*out = days * 86400;
		return s != p || days != 0 ? true : false;
	}
	int sign = 1;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (!num(&s, &h) || *s++ != ':')
		return false;
	const char *mm = s;
	if (num(&s, &m) != 2 || s != mm + 2 || *s++ != ':')
		return false;
	const char *ss = s;
	if (num(&s, &sec) != 2 || s != ss + 2)
		return false;
	if (*s == '.' && !micro(&s, &us))
		return false;
	if (*s)
		return false;
	*out = days * 86400 + sign * (h * 3600 + m * 60 + sec + us / 1e6);
	return true;
}

static struct tv ha_as_timedelta(struct tpl_ctx *cx, const struct tv *a, size_t na,
				 const struct tpl_kwarg *kw, size_t nkw)
{
	if (a[0].t != TV_STR) {
		tpl_check_defined(cx, a[0]);
		tpl_fail(cx, "expected string or bytes-like object, got '%s'", tv_type_name(a[0]));
	}
	const char *s = a[0].s->s;
	double d;
	tpl_work(cx, 3 * TPL_W_SCAN(a[0].s->len));
	if (duration_standard(s, true, &d) || duration_standard(s, false, &d) ||
	    duration_iso(s, &d) || duration_postgres(s, &d))
		return tv_td(d);
	return tv_none();
}

/* ---- relative times ------------------------------------------------------------- */

/* Home Assistant's _get_timestring: the largest units of secs (a whole
 * number), precision of them (0: all), the last rounded. */
static struct tv timestring(struct tpl_ctx *cx, double secs, int64_t precision)
{
	static const char *const units[] = { "year", "month", "day", "hour", "minute", "second" };
	static const double factors[] = { 365 * 86400.0, 30 * 86400.0, 86400, 3600, 60, 1 };
	if (secs == 0)
		return tv_cstr(cx, "0 seconds");
	struct tpl_buf b = { 0 };
	int64_t cur = 0;
	char part[64];
	for (int i = 0; i < 6; i++) {
		if (secs < factors[i])
			continue;
		double amount;
		bool last = ++cur == precision;
		amount = last ? nearbyint(secs / factors[i]) : floor(secs / factors[i]);
		int n = snprintf(part, sizeof part, "%s%.0f %s%s", b.len ? " " : "", amount, units[i],
				 amount == 1 ? "" : "s");
		tpl_buf_add(cx, &b, part, (size_t)n);
		if (last)
			break;
		secs -= amount * factors[i];
	}
	return tv_strv(tpl_buf_done(cx, &b));
}

/* relative_time, time_since (since) and time_until: a datetime's distance
 * from now as text, or the value itself when it is not a datetime or on
 * the wrong side of now. */
static struct tv relative(struct tpl_ctx *cx, const struct tv *a, size_t na,
			  const struct tpl_kwarg *kw, size_t nkw, bool since, const char *fn)
{
	tpl_kw_check(cx, fn, kw, nkw, TPL_KW("precision"));
	const struct tv *pv = tpl_arg(a, na, kw, nkw, 1, "precision");
	int64_t precision = 1;
	if (pv) {
		if (pv->t != TV_INT && pv->t != TV_BOOL)
			tpl_fail(cx, "%s: precision must be an integer", fn);
		precision = pv->t == TV_INT ? pv->i : pv->b;
	}
	if (a[0].t != TV_DATETIME)
		return a[0];
	double now = wall_now(cx), m = moment(a[0]);
	if (since ? now < m : now > m)
		return a[0];
	return timestring(cx, nearbyint(since ? now - m : m - now), precision);
}

static struct tv ha_relative_time(struct tpl_ctx *cx, const struct tv *a, size_t na,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	if (na > 1 || nkw)
		tpl_fail(cx, "relative_time() takes 1 positional argument");
	return relative(cx, a, na, kw, nkw, true, "relative_time");
}

static struct tv ha_time_since(struct tpl_ctx *cx, const struct tv *a, size_t na,
			       const struct tpl_kwarg *kw, size_t nkw)
{
	return relative(cx, a, na, kw, nkw, true, "time_since");
}

static struct tv ha_time_until(struct tpl_ctx *cx, const struct tv *a, size_t na,
			       const struct tpl_kwarg *kw, size_t nkw)
{
	return relative(cx, a, na, kw, nkw, false, "time_until");
}

static struct tv t_datetime(struct tpl_ctx *cx, const struct tv *a, size_t na,
			    const struct tpl_kwarg *kw, size_t nkw)
{
	return tv_bool(a[0].t == TV_DATETIME);
}

/* ---- attributes and methods ------------------------------------------------------ */

struct tv tpl_ha_time_getattr(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len)
{
	switch (obj.t) {
	case TV_DATETIME:
	case TV_DATE: {
		struct tm tm;
		int us;
		tpl_dt_split(obj, &tm, &us);
		if (tpl_name_is(name, len, "year")) return tv_int(tm.tm_year + 1900);
		if (tpl_name_is(name, len, "month")) return tv_int(tm.tm_mon + 1);
		if (tpl_name_is(name, len, "day")) return tv_int(tm.tm_mday);
		if (obj.t == TV_DATE)
			return tv_undef();
		if (tpl_name_is(name, len, "hour")) return tv_int(tm.tm_hour);
		if (tpl_name_is(name, len, "minute")) return tv_int(tm.tm_min);
		if (tpl_name_is(name, len, "second")) return tv_int(tm.tm_sec);
		if (tpl_name_is(name, len, "microsecond")) return tv_int(us);
		if (tpl_name_is(name, len, "tzinfo") && tv_is_naive(obj)) return tv_none();
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
					     "microsecond", "tzinfo", NULL };
	tpl_kw_check(cx, "replace", kw, nkw, names);
	struct tm tm;
	int us;
	tpl_dt_split(v, &tm, &us);
	struct fields f = { tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			    tm.tm_sec, us, v.t == TV_DATETIME && !tv_is_naive(v), v.utcoffset };
	int *fp[] = { &f.Y, &f.M, &f.D, &f.h, &f.m, &f.s, &f.us };
	size_t nf = v.t == TV_DATE ? 3 : 7;
	for (size_t i = 0; i < nf; i++) {
		const struct tv *x = tpl_arg(a, na, kw, nkw, i, names[i]);
		if (!x)
			continue;
		if (x->t != TV_INT || x->i < 0 || x->i > 999999)
			tpl_fail(cx, "replace(): %s out of range", names[i]);
		*fp[i] = (int)x->i;
	}
	const struct tv *tz = v.t == TV_DATE ? NULL : tpl_arg(a, na, kw, nkw, 7, "tzinfo");
	if (tz) {
		if (tz->t != TV_NONE)
			tpl_fail(cx, "replace(): only tzinfo=None is supported");
		f.aware = false;
	}
	if (f.us > 999999)
		tpl_fail(cx, "microsecond must be in 0..999999");
	struct tv r;
	if (!make_dt(&f, &r))
		tpl_fail(cx, "replace(): day is out of range for month");
	if (v.t == TV_DATE)
		r = (struct tv){ .t = TV_DATE, .ts = r.ts };
	return r;
}

struct tv tpl_ha_time_call_method(struct tpl_ctx *cx, struct tv obj, const char *name,
				  size_t len, const struct tv *args, size_t nargs,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	if (obj.t == TV_DATETIME || obj.t == TV_DATE) {
		struct tm tm;
		int us;
		tpl_dt_split(obj, &tm, &us);
		if (tpl_name_is(name, len, "strftime")) {
			if (nargs != 1 || args[0].t != TV_STR)
				tpl_fail(cx, "strftime() takes a format string");
			return dt_strftime(cx, obj, args[0].s->s);
		}
		if (tpl_name_is(name, len, "isoformat")) {
			char sep = 'T';
			const struct tv *s = tpl_arg(args, nargs, kw, nkw, 0, "sep");
			if (s && s->t == TV_STR && s->s->len == 1)
				sep = s->s->s[0];
			return tv_strv(tpl_dt_iso(cx, obj, sep));
		}
		if (tpl_name_is(name, len, "weekday"))
			return tv_int((tm.tm_wday + 6) % 7);
		if (tpl_name_is(name, len, "isoweekday"))
			return tv_int(tm.tm_wday ? tm.tm_wday : 7);
		if (tpl_name_is(name, len, "replace"))
			return dt_replace(cx, obj, args, nargs, kw, nkw);
		if (obj.t == TV_DATETIME && tpl_name_is(name, len, "timestamp"))
			return tv_float(moment(obj));
		if (obj.t == TV_DATETIME && tpl_name_is(name, len, "date"))
			return (struct tv){ .t = TV_DATE, .ts = floor(wall_of(obj) / 86400) * 86400 };
		if (obj.t == TV_DATETIME && tpl_name_is(name, len, "astimezone") && nargs == 0)
			return as_local(obj);
	} else if (obj.t == TV_TIMEDELTA) {
		if (tpl_name_is(name, len, "total_seconds"))
			return tv_float(obj.td);
	}
	tpl_fail(cx, "'%s' has no method '%.*s'", tpl_str_of(cx, obj), (int)len, name);
}

/* Date and time arithmetic (binop's, for these types): true with *out
 * set when op applies to a and b. */
bool tpl_time_binop(struct tpl_ctx *cx, char op, struct tv a, struct tv b, struct tv *out)
{
	if (op == '+' && a.t == TV_TIMEDELTA && (b.t == TV_DATETIME || b.t == TV_DATE)) {
		struct tv t = a;
		a = b;
		b = t;
	}
	if ((op == '+' || op == '-') && a.t == TV_DATETIME && b.t == TV_TIMEDELTA) {
		a.ts += op == '+' ? b.td : -b.td;
		*out = a;
		return true;
	}
	if ((op == '+' || op == '-') && a.t == TV_DATE && b.t == TV_TIMEDELTA) {
		/* a date moves by whole days only */
		double days = floor(b.td / 86400);
		a.ts += (op == '+' ? days : -days) * 86400;
		*out = a;
		return true;
	}
	if (op == '-' && a.t == TV_DATETIME && b.t == TV_DATETIME) {
		if (tv_is_naive(a) != tv_is_naive(b))
			tpl_fail(cx, "can't subtract offset-naive and offset-aware datetimes");
		*out = tv_td(a.ts - b.ts);
		return true;
	}
	if (op == '-' && a.t == TV_DATE && b.t == TV_DATE) {
		*out = tv_td(a.ts - b.ts);
		return true;
	}
	return false;
}

#define F TPL_FILTER
#define U TPL_FUNCTION
#define T TPL_TEST
const struct tpl_builtin tpl_ha_time_builtins[] = {
	{ "now", U, ha_now, 0, 0, true },
	{ "utcnow", U, ha_utcnow, 0, 0, true },
	{ "today_at", U | F, ha_today_at, 0, 1, true },
	{ "as_timestamp", U | F, ha_as_timestamp, 1, 2, false },
	{ "as_datetime", U | F, ha_as_datetime, 1, 2, false },
	{ "as_local", U | F, ha_as_local, 1, 1, false },
	{ "as_timedelta", U | F, ha_as_timedelta, 1, 1, false },
	{ "strptime", U, ha_strptime, 2, 3, false },
	{ "timestamp_custom", F, ha_timestamp_custom, 1, 4, false },
	{ "timestamp_local", F, ha_timestamp_local, 1, 2, false },
	{ "timestamp_utc", F, ha_timestamp_utc, 1, 2, false },
	{ "timedelta", U, ha_timedelta, 0, 7, false },
	{ "relative_time", U | F, ha_relative_time, 1, 1, true },
	{ "time_since", U | F, ha_time_since, 1, 2, true },
	{ "time_until", U | F, ha_time_until, 1, 2, true },
	{ "datetime", T, t_datetime, 1, 1, false },
	{ NULL, 0, NULL, 0, 0, false },
};
#undef F
#undef U
#undef T
