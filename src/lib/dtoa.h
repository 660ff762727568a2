/* SPDX-License-Identifier: MIT */
/* Doubles to and from decimal text as Python does it: repr's shortest
 * round trip, round(x, n), and strtod with a fast exact path. */
#ifndef MQB_DTOA_H
#define MQB_DTOA_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for any dtoa__repr output with its NUL ("-2.2250738585072014e-308"). */
#define DTOA_REPR_MAX 32

/* Python's repr(d): the shortest decimal that reads back as d (the closest
 * such, ties to an even last digit), positional when the decimal exponent
 * is in [-4, 16), else scientific ("21.5", "2.0", "1e-05", "1e+16",
 * "-0.0", "inf", "nan"). Writes it NUL-terminated to buf (DTOA_REPR_MAX
 * bytes) and returns its length. */
size_t dtoa__repr(double d, char *buf);

/* The same by the slow exact search dtoa__repr falls back on when its fast
 * one cannot decide (snprintf and strtod): for tests. */
size_t dtoa__repr_slow(double d, char *buf);

/* Python's round(x, n) for a float: x rounded to n decimal places (n < 0:
 * to a multiple of 10^-n), the exact value rounded half to even, then read
 * back correctly rounded. */
double dtoa__round(double x, int64_t n);

/* strtod(s, end), C locale: plain decimals short enough to be exact
 * ([+-]digits[.digits][e[+-]digits], at most 19 significant digits, the
 * value's power of ten within 10^22) by one correctly rounded operation,
 * everything else by strtod itself. */
double dtoa__strtod(const char *s, char **end);

/* Python's int(d) where it fits in 64 bits: d truncated toward zero.
 * False for inf, nan and anything from 2^63 up or below -2^63, where C's
 * conversion is undefined (Python's int would grow instead). */
static inline bool dtoa__to_int(double d, int64_t *out)
{
	if (!isfinite(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0)
		return false;
	*out = (int64_t)d;
	return true;
}

#endif
