/* SPDX-License-Identifier: MIT */
/* The public text helpers (mqbridge/text.h) against what python3 prints
 * for the same input: str.strip and bytes.strip, repr, round, Home
 * Assistant's `int(v) if v.is_integer() else v`, and isoformat. */
#include "config.h"

#include <float.h>
#include <math.h>
#include <time.h>

#include "testutil.h"
#include "mqbridge/text.h"

/* ---- UTF-8 -------------------------------------------------------------- */

static void utf8_is_rfc_3629_without_nul(void **state)
{
	(void)state;
	assert_true(mqb_utf8_valid("", 0));
	assert_true(mqb_utf8_valid("21.5 \xc2\xb0" "C", 8));
	assert_true(mqb_utf8_valid("K\xc3\xbc" "che \xf0\x9f\x8c\xa1", 11));
	assert_true(mqb_utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
	assert_false(mqb_utf8_valid("\xff", 1));
	assert_false(mqb_utf8_valid("\x80", 1));
	assert_false(mqb_utf8_valid("\xc0\xaf", 2));         /* overlong / */
	assert_false(mqb_utf8_valid("\xe0\x80\xaf", 3));     /* overlong / */
	assert_false(mqb_utf8_valid("\xed\xa0\x80", 3));     /* a surrogate */
	assert_false(mqb_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
	assert_false(mqb_utf8_valid("\xc3", 1));             /* cut short */
	assert_false(mqb_utf8_valid("a\0b", 3));
}

static void decode_gives_the_code_point_and_its_length(void **state)
{
	(void)state;
	uint32_t cp = 0;
	assert_int_equal(mqb_utf8_decode("A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(mqb_utf8_decode("\0", 1, &cp), 1);
	assert_int_equal(cp, 0);
	assert_int_equal(mqb_utf8_decode("\xc2\xa0x", 3, &cp), 2);
	assert_int_equal(cp, 0xa0);
	assert_int_equal(mqb_utf8_decode("\xe3\x80\x80", 3, &cp), 3);
	assert_int_equal(cp, 0x3000);
	assert_int_equal(mqb_utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1f600);
	assert_int_equal(mqb_utf8_decode("\xf0\x9f\x98\x80", 3, &cp), 0); /* cut */
	assert_int_equal(mqb_utf8_decode("", 0, &cp), 0);
	assert_int_equal(mqb_utf8_decode("\xc0\x80", 2, &cp), 0);
}

/* ---- white space -------------------------------------------------------- */

static void strip_n(const char *(*fn)(const char *, size_t *), const char *in, size_t len,
		    const char *want)
{
	size_t n = len;
	const char *s = fn(in, &n);
	assert_true(s >= in && s + n <= in + len);
	if (n != strlen(want) || memcmp(s, want, n) != 0)
		fail_msg("stripping '%s' gave '%.*s', want '%s'", in, (int)n, s, want);
}
#define strip(fn, lit, want) strip_n(fn, lit, sizeof lit - 1, want)

/* python3: ' \u3000a b\xa0\x1c'.strip() == 'a b' */
static void strip_removes_what_python_str_isspace_knows(void **state)
{
	(void)state;
	strip(mqb_strip, " \t\n\v\f\r21.5\r\n", "21.5");
	strip(mqb_strip, " \xe3\x80\x80" "a b\xc2\xa0\x1c", "a b");
	strip(mqb_strip, "\x1c\x1d\x1e\x1fon\xc2\x85", "on");
	strip(mqb_strip, "\xe2\x80\x80\xe2\x80\x8a" "x\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\x9f"
			 "\xe1\x9a\x80", "x");
	/* U+200B ZERO WIDTH SPACE is not white space to Python */
	strip(mqb_strip, "\xe2\x80\x8bx", "\xe2\x80\x8bx");
	strip(mqb_strip, "   ", "");
	strip(mqb_strip, "", "");
	/* a broken sequence at either end is text, not space */
	strip(mqb_strip, "\xa0 x \xc2", "\xa0 x \xc2");
	strip(mqb_strip, " x\x80 ", "x\x80");
	/* interior white space stays */
	strip(mqb_strip, "a \xc2\xa0 b", "a \xc2\xa0 b");
}

/* python3: b' \x1c\x0ba\xc2\x85'.strip() == b'\x1c\x0ba\xc2\x85' */
static void strip_bytes_removes_only_ascii_white_space(void **state)
{
	(void)state;
	strip(mqb_strip_bytes, " \t\n\v\f\r21.5\r\n", "21.5");
	strip(mqb_strip_bytes, " \x1c\va\xc2\x85", "\x1c\va\xc2\x85");
	strip(mqb_strip_bytes, "\xc2\xa0on\xc2\xa0", "\xc2\xa0on\xc2\xa0");
	strip(mqb_strip_bytes, "\n\n", "");
}

/* ---- numbers ------------------------------------------------------------ */

static void format_double_is_python_repr(void **state)
{
	(void)state;
	char b[MQB_FLOAT_REPR_MAX];
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{21.5, "21.5"}, {7.0, "7.0"}, {1e-05, "1e-05"}, {1e16, "1e+16"},
		{0.1 + 0.2, "0.30000000000000004"}, {-0.0, "-0.0"}, {5e-324, "5e-324"},
		{-2.2250738585072014e-308, "-2.2250738585072014e-308"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(mqb_format_double(cases[i].v, b), strlen(cases[i].want));
		assert_string_equal(b, cases[i].want);
	}
	mqb_format_double(INFINITY, b);
	assert_string_equal(b, "inf");
	mqb_format_double(NAN, b);
	assert_string_equal(b, "nan");
}

/* Home Assistant: `int(value) if value.is_integer() else value`, and
 * python3's str() of each. */
static void format_number_writes_integral_values_as_integers(void **state)
{
	(void)state;
	char b[MQB_NUMBER_MAX];
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{3.0, "3"}, {-2.5, "-2.5"}, {0.1, "0.1"}, {21.456, "21.456"}, {-0.0, "0"},
		{1e16, "10000000000000000"}, {1.0 / 3, "0.3333333333333333"}, {1e-05, "1e-05"},
		{1e22, "10000000000000000000000"}, {9007199254740992.0, "9007199254740992"},
		{123456789.125, "123456789.125"}, {-7.0, "-7"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(mqb_format_number(cases[i].v, b), strlen(cases[i].want));
		assert_string_equal(b, cases[i].want);
	}
	/* len(str(int(sys.float_info.max))) == 309 */
	assert_int_equal(mqb_format_number(DBL_MAX, b), 309);
	assert_memory_equal(b, "17976931348623157081", 20);
	assert_int_equal(mqb_format_number(-DBL_MAX, b), 310);
	mqb_format_number(INFINITY, b);
	assert_string_equal(b, "inf");
	mqb_format_number(NAN, b);
	assert_string_equal(b, "nan");
}

/* python3: round(2.675, 2) == 2.67, round(2.5) == 2, round(1234.5, -1)
 * == 1230.0 */
static void round_is_python_round_half_to_even(void **state)
{
	(void)state;
	assert_true(mqb_round(2.675, 2) == 2.67);
	assert_true(mqb_round(0.125, 2) == 0.12);
	assert_true(mqb_round(45.25, 1) == 45.2);
	assert_true(mqb_round(1234.5, -1) == 1230.0);
	assert_true(mqb_round(1e300, 2) == 1e300);
	assert_true(mqb_round(0.5, 0) == 0);
	assert_true(mqb_round(1.5, 0) == 2);
	assert_true(mqb_round(2.5, 0) == 2);
	assert_true(mqb_round(127.5, 0) == 128);
	assert_true(mqb_round(-0.5, 0) == 0);
	assert_true(mqb_round(-2.5, 0) == -2);
	assert_true(mqb_round(2.6, 0) == 3);
	char b[MQB_NUMBER_MAX];
	mqb_format_number(mqb_round(-0.4, 0), b);
	assert_string_equal(b, "0"); /* str(round(-0.4)) */
}

/* ---- time --------------------------------------------------------------- */

/* The hand-made calendar agrees with gmtime_r and strftime everywhere
 * from year 1 to 9999, fractions included. */
static void isoformat_matches_gmtime(void **state)
{
	(void)state;
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 1000000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double t = -62135596800.0 + (double)(x % 315537897600ull);
		if (i % 3 == 1)
			t += (double)(x % 1000000) / 1e6;
		if (i % 3 == 2)
			t = 1.7e9 + (double)(x % 100000000) / 1000.0;
		char got[48], want[64];
		assert_true(mqb_isoformat(t, got) > 0);
		time_t sec = (time_t)t;
		if ((double)sec > t)
			sec--;
		long usec = (long)((t - (double)sec) * 1e6 + 0.5);
		if (usec >= 1000000) {
			sec++;
			usec -= 1000000;
		}
		struct tm tm;
		assert_non_null(gmtime_r(&sec, &tm));
		int n = snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d",
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
				 tm.tm_sec);
		if (usec)
			snprintf(want + n, sizeof want - (size_t)n, ".%06ld+00:00", usec);
		else
			snprintf(want + n, sizeof want - (size_t)n, "+00:00");
		if (strcmp(got, want) != 0)
			fail_msg("%.6f: got %s, want %s", t, got, want);
	}
	char b[48];
	assert_int_equal(mqb_isoformat(253402300800.0, b), 0);
	assert_int_equal(mqb_isoformat(0, b), 25);
	assert_string_equal(b, "1970-01-01T00:00:00+00:00");
}

/* The longest text fits MQB_ISOFORMAT_MAX; what cannot be written is "". */
static void isoformat_fits_its_buffer_and_refuses_what_python_cannot_write(void **state)
{
	(void)state;
	char b[MQB_ISOFORMAT_MAX];
	assert_int_equal(mqb_isoformat(253402300799.5, b), MQB_ISOFORMAT_MAX - 1);
	assert_string_equal(b, "9999-12-31T23:59:59.500000+00:00");
	assert_int_equal(mqb_isoformat(1714564800.123456, b), 32);
	assert_string_equal(b, "2024-05-01T12:00:00.123456+00:00");
	assert_int_equal(mqb_isoformat(NAN, b), 0);
	assert_string_equal(b, "");
	assert_int_equal(mqb_isoformat(-62135596801.0, b), 0);
}

/* ---- reading times and durations ----------------------------------------- */

/* dt_util.parse_datetime("2024-05-01T12:00:00.5+02:00") and its naive,
 * date-only and Z forms; garbage is refused. */
static void parse_datetime_reads_what_home_assistant_writes(void **state)
{
	(void)state;
	double ts;
	int32_t off;
	bool aware;
	assert_true(mqb_parse_datetime("2024-05-01T12:00:00.5+02:00", &ts, &off, &aware));
	assert_true(aware);
	assert_int_equal(off, 7200);
	assert_true(fabs(ts - 1714557600.5) < 1e-6);
	assert_true(mqb_parse_datetime("2024-05-01 12:00:00Z", &ts, &off, &aware));
	assert_true(aware);
	assert_int_equal(off, 0);
	assert_true(ts == 1714564800.0);
	setenv("TZ", "UTC", 1);
	tzset();
	assert_true(mqb_parse_datetime("2024-05-01", &ts, &off, &aware));
	assert_false(aware);
	assert_true(ts == 1714521600.0);
	assert_true(mqb_parse_datetime("2024-05-01 12:34", &ts, &off, &aware));
	assert_true(ts == 1714566840.0);
	assert_false(mqb_parse_datetime("2024-13-01", &ts, &off, &aware));
	assert_false(mqb_parse_datetime("2024-05-01T12", &ts, &off, &aware));
	assert_false(mqb_parse_datetime("yesterday", &ts, &off, &aware));
	assert_false(mqb_parse_datetime("2024-05-01 12:00:00 +", &ts, &off, &aware));
}

/* cv.time_period_str: "H:MM", "H:MM:SS.fff", signs, hours past 23;
 * one part alone is not one (cv.time_period takes it as seconds). */
static void time_period_str_is_cv_time_period_str(void **state)
{
	(void)state;
	double v;
	assert_true(mqb_parse_time_period_str("0:10", 4, &v));
	assert_true(v == 600);
	assert_true(mqb_parse_time_period_str("01:02:03.5", 10, &v));
	assert_true(v == 3723.5);
	assert_true(mqb_parse_time_period_str("-0:00:30", 8, &v));
	assert_true(v == -30);
	assert_true(mqb_parse_time_period_str("48:00:00", 8, &v));
	assert_true(v == 172800);
	assert_false(mqb_parse_time_period_str("30", 2, &v));
	assert_false(mqb_parse_time_period_str("1:2:3:4", 7, &v));
	assert_false(mqb_parse_time_period_str("1:x", 3, &v));
	assert_false(mqb_parse_time_period_str("", 0, &v));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(utf8_is_rfc_3629_without_nul),
	cmocka_unit_test(decode_gives_the_code_point_and_its_length),
	cmocka_unit_test(strip_removes_what_python_str_isspace_knows),
	cmocka_unit_test(strip_bytes_removes_only_ascii_white_space),
	cmocka_unit_test(format_double_is_python_repr),
	cmocka_unit_test(format_number_writes_integral_values_as_integers),
	cmocka_unit_test(round_is_python_round_half_to_even),
	cmocka_unit_test(isoformat_matches_gmtime),
	cmocka_unit_test(isoformat_fits_its_buffer_and_refuses_what_python_cannot_write),
	cmocka_unit_test(parse_datetime_reads_what_home_assistant_writes),
	cmocka_unit_test(time_period_str_is_cv_time_period_str),
};

TU_MAIN(tests)
