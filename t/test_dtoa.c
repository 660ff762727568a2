/* SPDX-License-Identifier: MIT */
/* dtoa: repr, round and strtod against Python on tricky values (the tables
 * were printed by python3), and against libc's exact conversions (snprintf
 * and strtod) on a million random doubles: the output must read back, no
 * shorter decimal may, and among those as short it must be the closest,
 * written the way repr writes it. Random draws use a fixed seed. */
#include "config.h"

#include <inttypes.h>
#include <math.h>

#include "testutil.h"
#include "lib/dtoa.h"

static double from_bits(uint64_t b)
{
	double d;
	memcpy(&d, &b, sizeof d);
	return d;
}

/* splitmix64: a fixed sequence for every run */
static uint64_t rnd_state;

static uint64_t rnd(void)
{
	uint64_t z = (rnd_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

static const uint64_t p10[20] = {
	UINT64_C(1), UINT64_C(10), UINT64_C(100), UINT64_C(1000), UINT64_C(10000),
	UINT64_C(100000), UINT64_C(1000000), UINT64_C(10000000), UINT64_C(100000000),
	UINT64_C(1000000000), UINT64_C(10000000000), UINT64_C(100000000000),
	UINT64_C(1000000000000), UINT64_C(10000000000000), UINT64_C(100000000000000),
	UINT64_C(1000000000000000), UINT64_C(10000000000000000),
	UINT64_C(100000000000000000), UINT64_C(1000000000000000000),
	UINT64_C(10000000000000000000),
};

/* A short decimal: up to 17 significant digits, power of ten in [lo, hi]. */
static double rnd_decimal(int lo, int hi)
{
	char buf[64];
	uint64_t m = 1 + rnd_below(p10[1 + rnd_below(17)] - 1);
	int e = lo + (int)rnd_below((uint64_t)(hi - lo + 1));
	snprintf(buf, sizeof buf, "%s%" PRIu64 "e%d", rnd() & 1 ? "-" : "", m, e);
	return strtod(buf, NULL);
}

/* ---- repr -------------------------------------------------------------- */

static const struct {
	const char *what;
	uint64_t bits;
	const char *repr;
} repr_cases[] = {
	/* python3: repr(x), x given by its bits */
	{ "zero", UINT64_C(0x0000000000000000), "0.0" },
	{ "negative zero", UINT64_C(0x8000000000000000), "-0.0" },
	{ "inf", UINT64_C(0x7ff0000000000000), "inf" },
	{ "-inf", UINT64_C(0xfff0000000000000), "-inf" },
	{ "nan", UINT64_C(0x7ff8000000000000), "nan" },
	{ "the benchmark's output", UINT64_C(0x4035800000000000), "21.5" },
	{ "its input", UINT64_C(0x403574bc6a7ef9db), "21.456" },
	{ "1", UINT64_C(0x3ff0000000000000), "1.0" },
	{ "2.0 keeps .0", UINT64_C(0x4000000000000000), "2.0" },
	{ "-1.5", UINT64_C(0xbff8000000000000), "-1.5" },
	{ "0.1", UINT64_C(0x3fb999999999999a), "0.1" },
	{ "0.2", UINT64_C(0x3fc999999999999a), "0.2" },
	{ "0.3", UINT64_C(0x3fd3333333333333), "0.3" },
	{ "0.1 + 0.2", UINT64_C(0x3fd3333333333334), "0.30000000000000004" },
	{ "1/3", UINT64_C(0x3fd5555555555555), "0.3333333333333333" },
	{ "2/3", UINT64_C(0x3fe5555555555555), "0.6666666666666666" },
	{ "last positional small", UINT64_C(0x3f1a36e2eb1c432d), "0.0001" },
	{ "1e-4 with digits", UINT64_C(0x3f202e4b6ce5dc68), "0.00012345" },
	{ "first exponent small", UINT64_C(0x3ee4f8b588e368f1), "1e-05" },
	{ "just under 1e-4", UINT64_C(0x3f1a36e2eb1c432c), "9.999999999999999e-05" },
	{ "1e15", UINT64_C(0x430c6bf526340000), "1000000000000000.0" },
	{ "last positional big", UINT64_C(0x4341c37937e07fff), "9999999999999998.0" },
	{ "first exponent big", UINT64_C(0x4341c37937e08000), "1e+16" },
	{ "2^53", UINT64_C(0x4340000000000000), "9007199254740992.0" },
	{ "2^53 + 2", UINT64_C(0x4340000000000001), "9007199254740994.0" },
	{ "2^53 + 1 reads as 2^53", UINT64_C(0x4340000000000000), "9007199254740992.0" },
	{ "2^63", UINT64_C(0x43e0000000000000), "9.223372036854776e+18" },
	{ "17 digits", UINT64_C(0x437b69b4ba630f35), "1.2345678901234568e+17" },
	{ "16 digits with a fraction", UINT64_C(0x42dc12218377de66), "123456789012345.6" },
	{ "1e21", UINT64_C(0x444b1ae4d6e2ef50), "1e+21" },
	{ "1e22", UINT64_C(0x4480f0cf064dd592), "1e+22" },
	{ "1e23 (not exact)", UINT64_C(0x44b52d02c7e14af6), "1e+23" },
	{ "1e100", UINT64_C(0x54b249ad2594c37d), "1e+100" },
	{ "1e-100", UINT64_C(0x2b2bff2ee48e0530), "1e-100" },
	{ "1.5e300", UINT64_C(0x7e41eb2d66005835), "1.5e+300" },
	{ "max", UINT64_C(0x7fefffffffffffff), "1.7976931348623157e+308" },
	{ "min normal", UINT64_C(0x0010000000000000), "2.2250738585072014e-308" },
	{ "max subnormal", UINT64_C(0x000fffffffffffff), "2.225073858507201e-308" },
	{ "min subnormal", UINT64_C(0x0000000000000001), "5e-324" },
	{ "2 * min subnormal", UINT64_C(0x0000000000000002), "1e-323" },
	{ "20 * min subnormal", UINT64_C(0x0000000000000014), "1e-322" },
	{ "a subnormal", UINT64_C(0x00005c0ab9347ed7), "5e-310" },
	{ "2^-1017: the nearest 16 digits miss the narrow lower half", UINT64_C(0x0060000000000000), "7.120236347223045e-307" },
	{ "2^-1007, the same", UINT64_C(0x0100000000000000), "7.291122019556398e-304" },
	{ "2^-1022", UINT64_C(0x0010000000000000), "2.2250738585072014e-308" },
	{ "2^1023", UINT64_C(0x7fe0000000000000), "8.98846567431158e+307" },
	{ "s and t tie: even s", UINT64_C(0x4310000000000001), "1125899906842624.2" },
	{ "s and t tie: even t", UINT64_C(0x4310000000000003), "1125899906842624.8" },
	{ "2^51 + 0.5", UINT64_C(0x4320000000000001), "2251799813685248.5" },
	{ "4.35", UINT64_C(0x4011666666666666), "4.35" },
	{ "0.07", UINT64_C(0x3fb1eb851eb851ec), "0.07" },
	{ "pi", UINT64_C(0x400921fb54442d18), "3.141592653589793" },
	{ "c", UINT64_C(0x41b1de784a000000), "299792458.0" },
	{ "-273.15", UINT64_C(0xc071126666666666), "-273.15" },
	{ "1234567890123456.8", UINT64_C(0x43118b54f22aeb03), "1234567890123456.8" },
	{ "5e-05 from 0.00005", UINT64_C(0x3f0a36e2eb1c432d), "5e-05" },
	{ "123e-20", UINT64_C(0x3c36b082c2148b8e), "1.23e-18" },
	{ "9007199254740991", UINT64_C(0x433fffffffffffff), "9007199254740991.0" },
	{ "4503599627370495.5", UINT64_C(0x432fffffffffffff), "4503599627370495.5" },
};

static void repr_matches_python_on_tricky_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof repr_cases / sizeof repr_cases[0]; i++) {
		char buf[DTOA_REPR_MAX], slow[DTOA_REPR_MAX];
		double d = from_bits(repr_cases[i].bits);
		size_t n = dtoa__repr(d, buf);
		if (strcmp(buf, repr_cases[i].repr) != 0 || n != strlen(buf))
			fail_msg("%s: got %s, Python gives %s", repr_cases[i].what, buf,
				 repr_cases[i].repr);
		dtoa__repr_slow(d, slow);
		if (strcmp(slow, repr_cases[i].repr) != 0)
			fail_msg("%s: slow search gives %s, Python %s", repr_cases[i].what, slow,
				 repr_cases[i].repr);
	}
}

/* A decimal as significant digits (no leading or trailing zeros) and the
 * power of ten of the last: "-0.00125" -> "125", -5; "2.0e+16" -> "2", 16. */
struct dec {
	char dig[40];
	int e;
};

static void dec_of(const char *s, struct dec *d)
{
	size_t n = 0;
	int frac = 0;
	bool point = false;
	if (*s == '-')
		s++;
	for (; *s && *s != 'e'; s++) {
		if (*s == '.') {
			point = true;
			continue;
		}
		if (n || *s != '0')
			d->dig[n++] = *s;
		frac += point;
	}
	d->e = (*s == 'e' ? atoi(s + 1) : 0) - frac;
	while (n > 1 && d->dig[n - 1] == '0') {
		n--;
		d->e++;
	}
	if (!n)
		d->dig[n++] = '0';
	d->dig[n] = 0;
}

static bool reads_back(const char *s, double v)
{
	return strtod(s, NULL) == v;
}

/* The p-digit decimal nearest v > 0 if it reads back as v, else its
 * neighbour on v's other side if that does; false when neither does. */
static bool closest_of_length(double v, int p, struct dec *out)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%.*e", p - 1, v);
	if (reads_back(buf, v)) {
		dec_of(buf, out);
		return true;
	}
	uint64_t m = 0;
	const char *s = buf;
	for (; *s != 'e'; s++)
		if (*s != '.')
			m = m * 10 + (uint64_t)(*s - '0');
	int e = atoi(s + 1) - (p - 1);
	m = strtod(buf, NULL) < v ? m + 1 : m - 1;
	snprintf(buf, sizeof buf, "%" PRIu64 "e%d", m, e);
	if (!reads_back(buf, v))
		return false;
	dec_of(buf, out);
	return true;
}

/* repr's layout of the decimal, written independently of dtoa.c. */
static void py_layout(char *o, bool neg, const struct dec *d)
{
	int n = (int)strlen(d->dig), x = d->e + n - 1;
	if (neg)
		*o++ = '-';
	if (x < -4 || x >= 16) {
		sprintf(o, "%c%s%se%+03d", d->dig[0], n > 1 ? "." : "", d->dig + 1, x);
		return;
	}
	if (x < 0) {
		o += sprintf(o, "0.");
		for (int i = 0; i < -x - 1; i++)
			*o++ = '0';
		strcpy(o, d->dig);
		return;
	}
	for (int i = 0; i <= x; i++)
		*o++ = i < n ? d->dig[i] : '0';
	*o++ = '.';
	strcpy(o, n > x + 1 ? d->dig + x + 1 : "0");
}

/* v finite and nonzero: got is the shortest decimal that reads back, the
 * closest of its length, laid out as repr does. */
static void check_repr(double v, const char *got)
{
	double a = fabs(v);
	struct dec mine, want, shorter;
	char layout[64];
	if (!reads_back(got, v))
		fail_msg("%.17g: %s does not read back", v, got);
	dec_of(got, &mine);
	int n = (int)strlen(mine.dig);
	if (!closest_of_length(a, n, &want) || strcmp(want.dig, mine.dig) != 0 ||
	    want.e != mine.e)
		fail_msg("%.17g: %s is not the closest %d-digit decimal", v, got, n);
	if (n > 1 && closest_of_length(a, n - 1, &shorter))
		fail_msg("%.17g: %s, but %se%d is shorter and reads back", v, got, shorter.dig,
			 shorter.e);
	py_layout(layout, v < 0, &mine);
	if (strcmp(layout, got) != 0)
		fail_msg("%.17g: %s, repr writes %s", v, got, layout);
}

static void random_doubles_print_as_the_shortest_closest_round_trip(void **state)
{
	(void)state;
	char buf[DTOA_REPR_MAX];
	rnd_state = 20240611;
	for (long i = 0; i < 1000000; i++) {
		double v;
		switch (i % 8) {
		case 0: case 1: case 2: case 3: case 4:   /* any bit pattern */
			v = from_bits(rnd());
			break;
		case 5: case 6:                            /* what sensors send */
			v = rnd_decimal(-8, 6);
			break;
		default:                                   /* short, any size */
			v = rnd_decimal(-330, 310);
			break;
		}
		if (!isfinite(v) || v == 0)
			continue;
		dtoa__repr(v, buf);
		check_repr(v, buf);
	}
}

static void powers_of_two_and_subnormals_print_as_the_shortest(void **state)
{
	(void)state;
	char buf[DTOA_REPR_MAX];
	/* every binade's first, second and last double: the narrow lower half
	 * at powers of two, and every power of ten the search scales by */
	for (uint64_t be = 0; be < 0x7ff; be++) {
		const uint64_t m[] = { 0, 1, (UINT64_C(1) << 52) - 1 };
		for (int i = 0; i < 3; i++) {
			double v = from_bits(be << 52 | m[i]);
			if (v == 0)
				continue;
			dtoa__repr(v, buf);
			check_repr(v, buf);
			dtoa__repr(-v, buf);
			check_repr(-v, buf);
		}
	}
	for (uint64_t b = 1; b < 20000; b++) {   /* the smallest subnormals */
		dtoa__repr(from_bits(b), buf);
		check_repr(from_bits(b), buf);
	}
}

static void slow_search_agrees_with_the_fast_one(void **state)
{
	(void)state;
	char fast[DTOA_REPR_MAX], slow[DTOA_REPR_MAX];
	rnd_state = 7;
	for (int i = 0; i < 20000; i++) {
		double v = i % 2 ? from_bits(rnd()) : rnd_decimal(-20, 20);
		if (i < 2046)
			v = ldexp(1.0, i - 1074);
		dtoa__repr(v, fast);
		dtoa__repr_slow(v, slow);
		if (strcmp(fast, slow) != 0)
			fail_msg("%.17g: fast %s, slow %s", v, fast, slow);
	}
}

/* Readings with a few decimals take a shortcut (few_decimals): every
 * such value up to 15 digits, and its neighbours (which must not take
 * it), print as the exact search prints them. */
static void short_decimals_print_as_the_search_does(void **state)
{
	(void)state;
	char fast[DTOA_REPR_MAX], slow[DTOA_REPR_MAX];
	rnd_state = 11;
	for (int i = 0; i < 60000; i++) {
		int f = 1 + (int)rnd_below(9);
		uint64_t m = rnd_below(p10[1 + rnd_below(15)]);
		double v = (double)m / (double)p10[f];
		if (i % 3 == 1)
			v = nextafter(v, INFINITY);
		else if (i % 3 == 2)
			v = nextafter(v, 0);
		if (rnd() & 1)
			v = -v;
		dtoa__repr(v, fast);
		dtoa__repr_slow(v, slow);
		if (strcmp(fast, slow) != 0)
			fail_msg("%.17g: fast %s, slow %s", v, fast, slow);
	}
}

/* ---- round ------------------------------------------------------------- */

static const struct {
	uint64_t bits;
	int n;
	const char *repr;
} round_cases[] = {
	/* python3: repr(round(x, n)) */
	{ UINT64_C(0x403574bc6a7ef9db), 1, "21.5" }, /* round(21.456, 1) */
	{ UINT64_C(0x4005666666666666), 2, "2.67" }, /* round(2.675, 2) */
	{ UINT64_C(0x3fe0000000000000), 0, "0.0" }, /* round(0.5, 0) */
	{ UINT64_C(0x3ff8000000000000), 0, "2.0" }, /* round(1.5, 0) */
	{ UINT64_C(0x4004000000000000), 0, "2.0" }, /* round(2.5, 0) */
	{ UINT64_C(0xbfe0000000000000), 0, "-0.0" }, /* round(-0.5, 0) */
	{ UINT64_C(0xc004000000000000), 0, "-2.0" }, /* round(-2.5, 0) */
	{ UINT64_C(0x3fa999999999999a), 1, "0.1" }, /* round(0.05, 1) */
	{ UINT64_C(0xbfa999999999999a), 1, "-0.1" }, /* round(-0.05, 1) */
	{ UINT64_C(0x3fc3333333333333), 1, "0.1" }, /* round(0.15, 1) */
	{ UINT64_C(0x3fd0000000000000), 1, "0.2" }, /* round(0.25, 1) */
	{ UINT64_C(0x3fd6666666666666), 1, "0.3" }, /* round(0.35, 1) */
	{ UINT64_C(0x3fc0000000000000), 2, "0.12" }, /* round(0.125, 2) */
	{ UINT64_C(0x3fd8000000000000), 2, "0.38" }, /* round(0.375, 2) */
	{ UINT64_C(0xbf9eb851eb851eb8), 1, "-0.0" }, /* round(-0.03, 1) */
	{ UINT64_C(0x01a56e1fc2f8f359), 1, "0.0" }, /* round(1e-300, 1) */
	{ UINT64_C(0x3ff0000000000001), 15, "1.0" }, /* round(1.0000000000000002, 15) */
	{ UINT64_C(0x3ff0000000000001), 16, "1.0000000000000002" }, /* round(1.0000000000000002, 16) */
	{ UINT64_C(0x432fffffffffffff), 0, "4503599627370496.0" }, /* round(4503599627370495.5, 0) */
	{ UINT64_C(0x4330000000000001), 1, "4503599627370497.0" }, /* round(4503599627370497.0, 1) */
	{ UINT64_C(0x40fe240c9fbe76c9), 22, "123456.789" }, /* round(123456.789, 22) */
	{ UINT64_C(0x40fe240c9fbe76c9), 23, "123456.789" }, /* round(123456.789, 23) */
	{ UINT64_C(0x0000000000000001), 323, "0.0" }, /* round(5e-324, 323) */
	{ UINT64_C(0x0000000000000001), 324, "5e-324" }, /* round(5e-324, 324) */
	{ UINT64_C(0x00000000000007e8), 321, "1e-320" }, /* round(1e-320, 321) */
	{ UINT64_C(0x7fefffffffffffff), 5, "1.7976931348623157e+308" }, /* round(1.7976931348623157e+308, 5) */
	{ UINT64_C(0x402e000000000000), -1, "20.0" }, /* round(15.0, -1) */
	{ UINT64_C(0x4039000000000000), -1, "20.0" }, /* round(25.0, -1) */
	{ UINT64_C(0xc039000000000000), -1, "-20.0" }, /* round(-25.0, -1) */
	{ UINT64_C(0x406f49999999999a), -2, "300.0" }, /* round(250.3, -2) */
	{ UINT64_C(0x4014000000000000), -1, "0.0" }, /* round(5.0, -1) */
	{ UINT64_C(0x4016000000000000), -1, "10.0" }, /* round(5.5, -1) */
	{ UINT64_C(0x3fe6666666666666), -1, "0.0" }, /* round(0.7, -1) */
	{ UINT64_C(0xc008000000000000), -1, "-0.0" }, /* round(-3.0, -1) */
	{ UINT64_C(0x40934a456d5cfaad), -2, "1200.0" }, /* round(1234.5678, -2) */
	{ UINT64_C(0x40c387c000000000), -4, "10000.0" }, /* round(9999.5, -4) */
	{ UINT64_C(0x4057c00000000000), -1, "100.0" }, /* round(95.0, -1) */
	{ UINT64_C(0x4480f0cf064dd592), -22, "1e+22" }, /* round(1e+22, -22) */
	{ UINT64_C(0x448969368974c05b), -22, "2e+22" }, /* round(1.5e+22, -22) */
	{ UINT64_C(0x44952d02c7e14af6), -22, "2e+22" }, /* round(2.5e+22, -22) */
	{ UINT64_C(0x405ec00000000000), -308, "0.0" }, /* round(123.0, -308) */
	{ UINT64_C(0x405ec00000000000), -309, "0.0" }, /* round(123.0, -309) */
	{ UINT64_C(0x7e37e43c8800759c), -299, "1e+300" }, /* round(1e+300, -299) */
	{ UINT64_C(0x3fb999999999999a), 400, "0.1" }, /* round(0.1, 400) */
	{ UINT64_C(0xc01e000000000000), 0, "-8.0" }, /* round(-7.5, 0) */
	{ UINT64_C(0x3efa36e2eb1c432d), 5, "3e-05" }, /* round(2.5e-05, 5) */
	{ UINT64_C(0x3ff7333333333333), 1, "1.4" }, /* round(1.45, 1) */
	{ UINT64_C(0x3ff8cccccccccccd), 1, "1.6" }, /* round(1.55, 1) */
};

static void round_matches_python_on_tricky_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof round_cases / sizeof round_cases[0]; i++) {
		char buf[DTOA_REPR_MAX];
		double x = from_bits(round_cases[i].bits);
		dtoa__repr(dtoa__round(x, round_cases[i].n), buf);
		if (strcmp(buf, round_cases[i].repr) != 0)
			fail_msg("round(%.17g, %d): got %s, Python gives %s", x, round_cases[i].n, buf,
				 round_cases[i].repr);
	}
	assert_true(isnan(dtoa__round(NAN, 1)));
	assert_true(dtoa__round(INFINITY, 1) == INFINITY);
	assert_true(dtoa__round(-INFINITY, -3) == -INFINITY);
}

/* Python's round(x, n) for n >= 0 is the exact value rounded half to even at
 * n places, read back: what printf's %.*f and strtod do. */
static void round_agrees_with_printf_rounding_on_random_values(void **state)
{
	(void)state;
	char buf[720];
	rnd_state = 99;
	for (int i = 0; i < 300000; i++) {
		double x;
		int n = (int)rnd_below(23);
		switch (i % 4) {
		case 0:   /* sensor values, often at a tie in decimal */
			x = rnd_decimal(-8, 4);
			break;
		case 1:   /* exact binary ties at some place */
			x = (double)((int64_t)rnd_below(2000001) - 1000000) * 2 + 1;
			x = ldexp(x, -(int)rnd_below(14));
			n = (int)rnd_below(14);
			break;
		case 2:
			x = from_bits(rnd());
			break;
		default:  /* near 2^52 / 10^n, where the shortcut ends */
			x = ldexp((double)(rnd() >> 11), -(int)rnd_below(80));
			break;
		}
		if (!isfinite(x))
			continue;
		snprintf(buf, sizeof buf, "%.*f", n, x);
		double want = strtod(buf, NULL), got = dtoa__round(x, n);
		if (memcmp(&want, &got, sizeof got) != 0)
			fail_msg("round(%.17g, %d): got %.17g, want %.17g", x, n, got, want);
	}
}

/* ---- strtod ------------------------------------------------------------ */

static void check_strtod(const char *s)
{
	char *e1, *e2;
	double want = strtod(s, &e1), got = dtoa__strtod(s, &e2);
	if (memcmp(&want, &got, sizeof got) != 0 && !(isnan(want) && isnan(got)))
		fail_msg("\"%s\": got %.17g, strtod %.17g", s, got, want);
	if (e1 != e2)
		fail_msg("\"%s\": stops after %d characters, strtod after %d", s, (int)(e2 - s),
			 (int)(e1 - s));
}

static void strtod_agrees_with_libc_on_syntax_edges(void **state)
{
	(void)state;
	static const char *const cases[] = {
		"", "-", "+", ".", "-.", "1.", ".5", "-.5e1", "+7", "1e", "1e+", "1e-", "1e-5x",
		"1E5", "0x1p3", "0X10", "0x", " 1", "\t-2", "inf", "-Infinity", "nan", "1_000",
		"00012", "-0", "-0.0e5", "0e999", "1e400", "1e-400", "1e22", "1e23", "1e-22",
		"1e-23", "9007199254740992", "9007199254740993", "9007199254740993.0",
		"123456789012345678901234567890", "1234567890123456789", "12345678901234567890",
		"0.000000000000000000000000000001", "4.35", "21.456", "1,5", "2.5.1", "5e-324",
		"1.7976931348623157e308", "1.7976931348623159e308", "0.1e-22", "100e-24",
		"1e99999999999", "1e-99999999999",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_strtod(cases[i]);
	char *end;
	assert_true(dtoa__strtod("21.5", &end) == 21.5 && *end == 0);
	assert_true(dtoa__strtod("-3e2", NULL) == -300.0);
}

static void strtod_agrees_with_libc_on_random_decimals(void **state)
{
	(void)state;
	char buf[96];
	rnd_state = 4242;
	for (int i = 0; i < 300000; i++) {
		char *o = buf;
		if (rnd() & 1)
			*o++ = rnd() & 1 ? '-' : '+';
		int nint = (int)rnd_below(12), nfrac = (int)rnd_below(14);
		if (!(rnd() & 7))
			nint += 10;   /* past 19 digits: strtod's */
		for (int k = 0; k < nint; k++)
			*o++ = (char)('0' + rnd_below(10));
		if (nfrac || (rnd() & 1)) {
			*o++ = '.';
			for (int k = 0; k < nfrac; k++)
				*o++ = (char)('0' + (rnd() & 3 ? rnd_below(10) : 0));
		}
		if (rnd() & 1)
			o += sprintf(o, "e%d", (int)rnd_below(61) - 30);
		*o = 0;
		check_strtod(buf);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(repr_matches_python_on_tricky_values),
	cmocka_unit_test(random_doubles_print_as_the_shortest_closest_round_trip),
	cmocka_unit_test(powers_of_two_and_subnormals_print_as_the_shortest),
	cmocka_unit_test(slow_search_agrees_with_the_fast_one),
	cmocka_unit_test(short_decimals_print_as_the_search_does),
	cmocka_unit_test(round_matches_python_on_tricky_values),
	cmocka_unit_test(round_agrees_with_printf_rounding_on_random_values),
	cmocka_unit_test(strtod_agrees_with_libc_on_syntax_edges),
	cmocka_unit_test(strtod_agrees_with_libc_on_random_decimals),
};

TU_MAIN(tests)
