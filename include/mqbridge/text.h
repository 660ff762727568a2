/* SPDX-License-Identifier: MIT */
/* Text as Python and Home Assistant write it, one implementation for the
 * core and the modules alike: UTF-8 checks, str.strip, a float's repr and
 * round, Home Assistant's number text and ISO 8601 times. Every function
 * here is pure: Thread: any. */
#ifndef MQBRIDGE_TEXT_H
#define MQBRIDGE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- UTF-8 -------------------------------------------------------------- */

/* Whether s[0..len) is well-formed UTF-8 (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF) without a NUL byte: what a state, an
 * MQTT topic and Home Assistant's text must be. Thread: any. */
bool mqb_utf8_valid(const char *s, size_t len);

/* The code point s starts with (reading at most len bytes): its length in
 * bytes, 1 to 4, with *cp set; 0 when s does not start with a well-formed
 * sequence (or len is 0). A NUL byte decodes as U+0000. Thread: any. */
size_t mqb_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* ---- white space -------------------------------------------------------- */

/* Python's str.strip() on UTF-8 text: s[0..*len) without the white space
 * str.isspace() knows at either end (\t \n \v \f \r, \x1c-\x1f, space,
 * U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F,
 * U+3000). Home Assistant strips what a template renders and a file's
 * line so. Returns where the text starts and sets *len; writes nothing.
 * Thread: any. */
const char *mqb_strip(const char *s, size_t *len);

/* Python's bytes.strip(): only space, \t, \n, \v, \f and \r, as Home
 * Assistant strips a command's output before decoding it. Thread: any. */
const char *mqb_strip_bytes(const char *s, size_t *len);

/* ---- numbers ------------------------------------------------------------ */

/* Room for mqb_format_double's text with its NUL ("-2.2250738585072014e-308"). */
#define MQB_FLOAT_REPR_MAX 32
/* Room for mqb_format_number's text with its NUL, for any double (309
 * digits and a sign); 32 bytes hold every number below 1e30. */
#define MQB_NUMBER_MAX 312

/* Python's repr() of a float, which Jinja and Home Assistant print: the
 * shortest decimal that reads back as d, positional when its exponent is
 * in [-4, 16), else scientific ("21.5", "2.0", "1e-05", "1e+16", "-0.0",
 * "inf", "nan"). Returns its length. Thread: any. */
size_t mqb_format_double(double d, char buf[MQB_FLOAT_REPR_MAX]);

/* A number as Home Assistant writes one it holds as a float, `int(v) if
 * v.is_integer() else v`: an integral value as an integer, every digit of
 * it ("3" for 3.0, "0" for -0.0, "100000000000000000000" for 1e20), any
 * other as repr ("0.1"). Returns its length. Thread: any. */
size_t mqb_format_number(double v, char buf[MQB_NUMBER_MAX]);

/* Python's round(x, ndigits) for a float: the exact value of x rounded
 * half to even at ndigits decimals (ndigits < 0: to a multiple of
 * 10^-ndigits), read back correctly rounded: round(2.675, 2) is 2.67,
 * round(0.5, 0) is 0.0. Python's round(x) is mqb_round(x, 0) turned into
 * an integer (mqb_format_number writes it as one). Thread: any. */
double mqb_round(double x, int ndigits);

/* ---- time --------------------------------------------------------------- */

/* Room for mqb_isoformat's text with its NUL. */
#define MQB_ISOFORMAT_MAX 33

/* Unix time t as Python's datetime.isoformat() writes a UTC time, as Home
 * Assistant writes times in states and attributes:
 * "2024-05-01T12:00:00.123456+00:00", microseconds rounded to the nearest,
 * the fraction left out when it is zero. Returns its length, or 0 (and
 * buf "") for a time outside the years 1 to 9999. Thread: any. */
size_t mqb_isoformat(double t, char buf[MQB_ISOFORMAT_MAX]);

/* Home Assistant's dt_util.parse_datetime: "YYYY-MM-DD", then 'T', 't'
 * or ' ' and "HH:MM[:SS[.ffffff]]" (midnight without), then 'Z' or
 * "+HH[:MM]"/"-HH[:MM]", white space around. *ts gets the Unix time, a
 * time without an offset read as local time (the process's TZ, which is
 * homeassistant: time_zone); *aware whether an offset was given;
 * *utcoffset that offset in seconds, or the local one then. false for
 * anything else (nothing written then but *aware and *utcoffset).
 * Thread: any. */
bool mqb_parse_datetime(const char *s, double *ts, int32_t *utcoffset, bool *aware);

/* The local time's offset from UTC at Unix time t, in seconds (east
 * positive), as the process's TZ says. Thread: any. */
int32_t mqb_local_utcoffset(double t);

/* ---- durations ---------------------------------------------------------- */

/* Home Assistant's cv.time_period_str on s[0..len): "[+-]H:MM" or
 * "[+-]H:MM:SS[.fff]", hours and minutes any size ("1:90" is 2:30). The
 * seconds to *out; false (nothing written) for anything else. What else
 * cv.time_period takes (a number of seconds, a mapping) is the caller's.
 * Thread: any. */
bool mqb_parse_time_period_str(const char *s, size_t len, double *out);

#endif
