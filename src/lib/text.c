/* SPDX-License-Identifier: MIT */
/* The public text helpers (mqbridge/text.h): thin faces on lib's UTF-8
 * decoder and Python-exact dtoa, plus str.strip, the ISO 8601 writer and
 * reader, and the durations Home Assistant reads, that states, templates,
 * the schema and modules share. */
#define _GNU_SOURCE /* timegm, tm_gmtoff */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mqbridge/text.h"

#include "lib/dtoa.h"
#include "lib/utf8.h"

_Static_assert(MQB_FLOAT_REPR_MAX >= DTOA_REPR_MAX, "repr needs DTOA_REPR_MAX bytes");

bool mqb_utf8_valid(const char *s, size_t len)
{
	return utf8__valid(s, len, false);
}

size_t mqb_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
	return utf8__decode((const unsigned char *)s, len, cp);
}

/* ---- white space -------------------------------------------------------- */

static bool ascii_space(unsigned c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* str.isspace(): bidirectional class WS, B or S, or category Zs (the list
 * printed by python3 over every code point). */
static bool py_space(uint32_t c)
{
	if (c < 0x80)
		return ascii_space(c) || (c >= 0x1c && c <= 0x1f);
	return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* The white space s[0..len) ends with: its length, or 0. The last code
 * point starts at most three continuation bytes back. */
static size_t space_at_end(const unsigned char *s, size_t len)
{
	size_t b = len;
	while (b > 0 && len - b < 4 && (s[b - 1] & 0xc0) == 0x80)
		b--;
	if (b == 0)
		return 0;
	b--;
	uint32_t cp;
	size_t n = utf8__decode(s + b, len - b, &cp);
	return n == len - b && py_space(cp) ? n : 0;
}

const char *mqb_strip(const char *str, size_t *len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = *len, k;
	uint32_t cp;
	while ((k = utf8__decode(s, n, &cp)) && py_space(cp)) {
		s += k;
		n -= k;
	}
	while ((k = space_at_end(s, n)))
		n -= k;
	*len = n;
	return (const char *)s;
}

const char *mqb_strip_bytes(const char *s, size_t *len)
{
	size_t n = *len;
	while (n && ascii_space((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && ascii_space((unsigned char)s[n - 1]))
		n--;
	*len = n;
	return s;
}

/* ---- numbers ------------------------------------------------------------ */

size_t mqb_format_double(double d, char buf[MQB_FLOAT_REPR_MAX])
{
	return dtoa__repr(d, buf);
}

size_t mqb_format_number(double v, char buf[MQB_NUMBER_MAX])
{
	if (isfinite(v) && v == floor(v)) {
		/* printf writes an integral double's exact digits; + 0.0 makes
		 * -0.0 the 0 that int() gives. */
		int n = snprintf(buf, MQB_NUMBER_MAX, "%.0f", v + 0.0);
		return n > 0 ? (size_t)n : 0;
	}
	return dtoa__repr(v, buf);
}

double mqb_round(double x, int ndigits)
{
	return dtoa__round(x, ndigits);
}

/* ---- time --------------------------------------------------------------- */

static char *digits(char *p, long v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

/* The calendar date comes from the day count by the proleptic Gregorian
 * rules (eras of 400 years), without gmtime_r and strftime, which cost
 * more than the rest of a state's JSON together. */
size_t mqb_isoformat(double t, char buf[MQB_ISOFORMAT_MAX])
{
	buf[0] = '\0';
	if (!(t > -62135596800.0 && t < 253402300800.0))
		return 0;
	long long sec = (long long)t;
	if ((double)sec > t)
		sec--;
	long usec = (long)((t - (double)sec) * 1e6 + 0.5);
	if (usec >= 1000000) {
		sec++;
		usec -= 1000000;
	}
	long long days = sec / 86400, rem = sec % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	long long doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	long d = (long)(doy - (153 * mp + 2) / 5 + 1);
	long m = (long)(mp < 10 ? mp + 3 : mp - 9);
	long y = (long)(yoe + era * 400 + (m <= 2));
	char *p = digits(buf, y, 4);
	*p++ = '-';
	p = digits(p, m, 2);
	*p++ = '-';
	p = digits(p, d, 2);
	*p++ = 'T';
	p = digits(p, (long)(rem / 3600), 2);
	*p++ = ':';
	p = digits(p, (long)(rem / 60 % 60), 2);
	*p++ = ':';
	p = digits(p, (long)(rem % 60), 2);
	if (usec) {
		*p++ = '.';
		p = digits(p, usec, 6);
	}
	memcpy(p, "+00:00", 7);
	return (size_t)(p + 6 - buf);
}

int32_t mqb_local_utcoffset(double t)
{
	time_t tt = (time_t)floor(t);
	struct tm tm;
	if (!localtime_r(&tt, &tm))
		return 0;
	return (int32_t)tm.tm_gmtoff;
}

bool mqb_parse_datetime(const char *s, double *ts, int32_t *utcoffset, bool *aware)
{
	int Y, M, D, h = 0, m = 0, sec = 0, n = 0;
	double frac = 0;
	while (isspace((unsigned char)*s))
		s++;
	if (sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &n) != 3 || n != 10)
		return false;
	s += n;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		if (!isdigit((unsigned char)s[1]) || sscanf(s + 1, "%2d:%2d%n", &h, &m, &n) != 2 ||
		    n != 5)
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
	*utcoffset = 0;
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
		*utcoffset = sign * (oh * 3600 + om * 60);
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 59)
		return false;
	struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
			.tm_hour = h, .tm_min = m, .tm_sec = sec, .tm_isdst = -1};
	if (*aware) {
		*ts = (double)timegm(&tm) - *utcoffset + frac;
	} else {
		*ts = (double)mktime(&tm) + frac; /* naive: local time */
		*utcoffset = mqb_local_utcoffset(*ts);
	}
	return true;
}

/* ---- durations ---------------------------------------------------------- */

static size_t span_digits(const char *s, size_t i, size_t len)
{
	size_t j = i;
	while (j < len && isdigit((unsigned char)s[j]))
		j++;
	return j - i;
}

bool mqb_parse_time_period_str(const char *s, size_t len, double *out)
{
	size_t i = 0;
	bool neg = false;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	double part[3] = {0, 0, 0};
	int nparts = 0;
	for (;;) {
		size_t n = span_digits(s, i, len);
		if (n == 0 || n > 9)
			return false;
		double v = 0;
		for (size_t k = 0; k < n; k++)
			v = v * 10 + (s[i + k] - '0');
		i += n;
		if (nparts == 2 && i < len && s[i] == '.') {
			size_t f = span_digits(s, i + 1, len);
			if (f == 0 || f > 9)
				return false;
			double scale = 0.1;
			for (size_t k = 0; k < f; k++, scale /= 10)
				v += (s[i + 1 + k] - '0') * scale;
			i += 1 + f;
		}
		part[nparts++] = v;
		if (i == len)
			break;
		if (s[i] != ':' || nparts == 3)
			return false;
		i++;
	}
	if (nparts < 2)
		return false;
	double v = part[0] * 3600 + part[1] * 60 + part[2];
	*out = neg ? -v : v;
	return true;
}
