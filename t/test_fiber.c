/* SPDX-License-Identifier: MIT */
/* Tests for fibers: that a switch preserves everything the ABI says it must,
 * that stacks are recycled without system calls, and that an overflow hits
 * the guard page. Builds with -DFIBER_NO_CMOCKA for targets without cmocka. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#ifndef FIBER_NO_CMOCKA
#include <cmocka.h>
#endif

#include <errno.h>
#include <fenv.h>
#include <float.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fiber.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#ifdef FIBER_NO_CMOCKA
/* Just enough of cmocka for the same test bodies: the first failed assertion
 * ends the program. */
#define FIBER_FAIL(what) \
	do { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, what); exit(1); } while (0)
#define assert_true(c) do { if (!(c)) FIBER_FAIL("assert_true(" #c ")"); } while (0)
#define assert_false(c) do { if (c) FIBER_FAIL("assert_false(" #c ")"); } while (0)
#define assert_int_equal(a, b) \
	do { if ((uintmax_t)(a) != (uintmax_t)(b)) FIBER_FAIL(#a " != " #b); } while (0)
#define assert_ptr_equal(a, b) \
	do { if ((const void *)(a) != (const void *)(b)) FIBER_FAIL(#a " != " #b); } while (0)
#define assert_null(p) assert_true((p) == NULL)
#define assert_non_null(p) assert_true((p) != NULL)
#define skip() do { puts("[  SKIPPED ]"); return; } while (0)
struct CMUnitTest {
	const char *name;
	void (*test_func)(void **state);
};
#define cmocka_unit_test(f) { #f, f }
static const char *test_filter;
static void cmocka_set_test_filter(const char *pattern)
{
	test_filter = pattern;
}
static int run_tests(const struct CMUnitTest *t, size_t n)
{
	size_t ran = 0;

	for (size_t i = 0; i < n; i++) {
		if (test_filter && !strstr(t[i].name, test_filter))
			continue;
		printf("[ RUN      ] %s\n", t[i].name);
		fflush(stdout);
		t[i].test_func(NULL);
		printf("[       OK ] %s\n", t[i].name);
		ran++;
	}
	printf("[  PASSED  ] %zu test(s).\n", ran);
	return 0;
}
#define cmocka_run_group_tests(t, setup, teardown) run_tests(t, sizeof(t) / sizeof((t)[0]))
#endif

/* The guard-page test needs the kernel's SIGSEGV to kill the child. The
 * sanitizers install their own SIGSEGV handler, which would report and
 * exit(1) instead (ASan even runs it on an alternate stack, so the overflow
 * would look like an ordinary error). */
const char *__asan_default_options(void);
const char *__tsan_default_options(void);
const char *__ubsan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void) { return "handle_segv=0"; }
__attribute__((used)) const char *__tsan_default_options(void) { return "handle_segv=0"; }
__attribute__((used)) const char *__ubsan_default_options(void) { return "handle_segv=0"; }

#define KIB 1024

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static int on_stack_of(const struct mqb_fiber *f, const void *addr)
{
	const char *lo = f->stack_lo;

	return (const char *)addr >= lo && (const char *)addr < lo + f->stack_size;
}

/* ---- a fiber runs entry with its arg ---- */

struct once {
	struct mqb_fiber main, *f;
	void *arg_seen;
	void *frame;
	int runs;
};

/* The stack alignment each ABI promises a called function: 8 bytes for ARM
 * (AAPCS) and MIPS o32, 16 for the others (i386 as Linux compilers have it). */
#if defined(__arm__) || (defined(__mips__) && !defined(__mips64))
#define ABI_STACK_ALIGN 8
#else
#define ABI_STACK_ALIGN 16
#endif

static void once_entry(void *arg)
{
	struct once *o = arg;
	/* Compilers trust the ABI for a local aligned no more than it
	 * promises, and realign nothing: entered on a misaligned stack, the
	 * probe is misaligned too. */
	_Alignas(ABI_STACK_ALIGN) volatile char probe[ABI_STACK_ALIGN];

	probe[0] = 1;
	o->arg_seen = arg;
	o->frame = (void *)(uintptr_t)probe;
	o->runs++;
	fiber__switch_final(o->f, &o->main);
}

static void a_fiber_runs_entry_with_its_arg_and_comes_back(void **state)
{
	struct fiber_pool p;
	struct once o = { .runs = 0 };

	fiber__pool_init(&p, 64 * KIB, 4);
	fiber__init_thread(&o.main);
	o.f = fiber__get(&p, once_entry, &o);
	assert_non_null(o.f);
	assert_int_equal(o.runs, 0);
	fiber__switch(&o.main, o.f);
	assert_int_equal(o.runs, 1);
	assert_ptr_equal(o.arg_seen, &o);
	assert_true(on_stack_of(o.f, o.frame));
	fiber__put(&p, o.f);
	fiber__pool_destroy(&p);
	fiber__fini_thread(&o.main);
}

static void a_fresh_fiber_starts_on_an_abi_aligned_stack(void **state)
{
	struct fiber_pool p;
	struct once o = { .runs = 0 };

	fiber__pool_init(&p, 16 * KIB, 4);
	fiber__init_thread(&o.main);
	for (int i = 0; i < 3; i++) {
		o.f = fiber__get(&p, once_entry, &o);
		assert_non_null(o.f);
		fiber__switch(&o.main, o.f);
		assert_int_equal((uintptr_t)o.frame % ABI_STACK_ALIGN, 0);
		fiber__put(&p, o.f);
	}
	assert_int_equal(o.runs, 3);
	fiber__pool_destroy(&p);
}

/* x87 arithmetic (i386) carries more precision than a double until a value
 * is stored, and where it is stored depends on register allocation: two
 * computations of the same sum agree to rounding there, not bit for bit.
 * A switch that lost a value would be off by far more. */
#if FLT_EVAL_METHOD == 0
static int same_double(double a, double b)
{
	return a == b;
}
#else
static int same_double(double a, double b)
{
	double d = a > b ? a - b : b - a, m = a > 0 ? a : -a;

	return d <= m * 1e-12;
}
#endif

/* ---- round trips ---- */

struct ping {
	struct mqb_fiber main, *f;
	long in, out;
	long fiber_sum;
	double fiber_acc;
};

static void ping_entry(void *arg)
{
	struct ping *s = arg;
	/* Live across every switch, so the compiler keeps them in callee-saved
	 * registers (and d8-d15 on aarch64) or spills them to this stack. */
	long a = 1, b = 2, c = 3, d = 5, e = 7, g = 11;
	double x = 0.5, y = 1.25, z = -3.0, w = 0.0;

	for (long i = 0; i < 1000; i++) {
		assert_int_equal(s->in, i);
		s->out = s->in * 3 + 1;
		a += i; b ^= i; c += a; d = d * 3 % 1000003; e += b; g += c ^ e;
		x += 0.25; y *= 1.0001; z -= x; w += x * y;
		fiber__switch(s->f, &s->main);
	}
	s->fiber_sum = a + b + c + d + e + g;
	s->fiber_acc = x + y + z + w;
	fiber__switch_final(s->f, &s->main);
}

static void ping_reference(long *sum, double *acc)
{
	long a = 1, b = 2, c = 3, d = 5, e = 7, g = 11;
	double x = 0.5, y = 1.25, z = -3.0, w = 0.0;

	for (volatile long i = 0; i < 1000; i++) {
		a += i; b ^= i; c += a; d = d * 3 % 1000003; e += b; g += c ^ e;
		x += 0.25; y *= 1.0001; z -= x; w += x * y;
	}
	*sum = a + b + c + d + e + g;
	*acc = x + y + z + w;
}

static void switching_back_and_forth_preserves_locals(void **state)
{
	struct fiber_pool p;
	struct ping s = { .in = 0 };
	long m1 = 13, m2 = 17, m3 = 19, m4 = 23, m5 = 29, m6 = 31;
	double u = 2.0, v = 0.125, t = 0.0;
	long want_sum;
	double want_acc;

	fiber__pool_init(&p, 64 * KIB, 4);
	fiber__init_thread(&s.main);
	s.f = fiber__get(&p, ping_entry, &s);
	assert_non_null(s.f);
	for (long i = 0; i < 1000; i++) {
		s.in = i;
		fiber__switch(&s.main, s.f);
		assert_int_equal(s.out, i * 3 + 1);
		m1 += i; m2 += m1; m3 ^= m2; m4 += m3 & 0xff; m5 -= i; m6 += m5;
		u *= 1.001; v += u; t += v * 0.5;
	}
	fiber__switch(&s.main, s.f); /* the fiber's last lap ends it */
	ping_reference(&want_sum, &want_acc);
	assert_int_equal(s.fiber_sum, want_sum);
	assert_true(same_double(s.fiber_acc, want_acc));

	{
		long r1 = 13, r2 = 17, r3 = 19, r4 = 23, r5 = 29, r6 = 31;
		double ru = 2.0, rv = 0.125, rt = 0.0;

		for (volatile long i = 0; i < 1000; i++) {
			r1 += i; r2 += r1; r3 ^= r2; r4 += r3 & 0xff; r5 -= i; r6 += r5;
			ru *= 1.001; rv += ru; rt += rv * 0.5;
		}
		assert_int_equal(m1 + m2 + m3 + m4 + m5 + m6, r1 + r2 + r3 + r4 + r5 + r6);
		assert_true(same_double(u, ru) && same_double(v, rv) && same_double(t, rt));
	}
	fiber__put(&p, s.f);
	fiber__pool_destroy(&p);
}

/* ---- floating point ---- */

struct series {
	struct mqb_fiber main, *f;
	int terms;
	double result;
};

/* Partial sums of two series, one term per switch; the other context does
 * unrelated floating-point work in between. */
static void series_entry(void *arg)
{
	struct series *s = arg;
	double sum = 0.0, sign = 1.0;

	for (int k = 0; k < s->terms; k++) {
		sum += sign / (2.0 * k + 1.0);
		sign = -sign;
		fiber__switch(s->f, &s->main);
	}
	s->result = sum;
	fiber__switch_final(s->f, &s->main);
}

static void floating_point_values_survive_switches(void **state)
{
	struct fiber_pool p;
	struct series s = { .terms = 500 };
	double basel = 0.0, want_leibniz = 0.0, want_basel = 0.0, sign = 1.0;

	for (volatile int k = 0; k < 500; k++) {
		want_leibniz += sign / (2.0 * k + 1.0);
		sign = -sign;
		want_basel += 1.0 / ((k + 1.0) * (k + 1.0));
	}
	fiber__pool_init(&p, 64 * KIB, 4);
	fiber__init_thread(&s.main);
	s.f = fiber__get(&p, series_entry, &s);
	for (int k = 0; k <= s.terms; k++) {
		fiber__switch(&s.main, s.f);
		if (k < s.terms)
			basel += 1.0 / ((k + 1.0) * (k + 1.0));
	}
	assert_true(same_double(s.result, want_leibniz));
	assert_true(same_double(basel, want_basel));
	fiber__put(&p, s.f);
	fiber__pool_destroy(&p);
}

/* Rounding mode: on x86-64 and aarch64 set by hand, both units on x86-64. */
#if defined(__x86_64__)
#define HAVE_ROUNDING 1
static void round_upward(void)
{
	uint32_t mxcsr;
	uint16_t cw;

	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	mxcsr = (mxcsr & ~0x6000u) | 0x4000u;
	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	cw = (uint16_t)((cw & ~0x0c00u) | 0x0800u);
	__asm__ volatile("fldcw %0" : : "m"(cw));
}
#elif defined(__aarch64__)
#define HAVE_ROUNDING 1
static void round_upward(void)
{
	uint64_t fpcr;

	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	fpcr = (fpcr & ~(3ull << 22)) | (1ull << 22);
	__asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
}
#elif defined(FE_UPWARD)
/* The other machines through C's own interface (libm), which is what a
 * fiber there would use too. */
#define HAVE_ROUNDING 1
static void round_upward(void)
{
	fesetround(FE_UPWARD);
}
#else
#define HAVE_ROUNDING 0
#endif

/* 1/3 in double and 1/7 in x87 extended precision both round down to
 * nearest, so rounding upward gives a larger result. */
static volatile double one = 1.0, three = 3.0, seven = 7.0;

/* 1/3 in the current rounding mode, stored as a double (see same_double). */
static double third(void)
{
	volatile double q = one / three;

	return q;
}

/* On x86-64 long double is x87 arithmetic, with its own control word. */
struct rounding {
	struct mqb_fiber main, *f;
	double before, after;
	long double before_x87, after_x87;
};

static void rounding_entry(void *arg)
{
	struct rounding *r = arg;

#if HAVE_ROUNDING
	round_upward();
#endif
	r->before = one / three;
	r->before_x87 = (long double)one / seven;
	fiber__switch(r->f, &r->main);
	r->after = one / three;
	r->after_x87 = (long double)one / seven;
	fiber__switch_final(r->f, &r->main);
}

static void each_fiber_keeps_its_own_rounding_mode(void **state)
{
	struct fiber_pool p;
	struct rounding r;
	double nearest = third();
	long double nearest_x87 = (long double)one / seven;

	/* Valgrind computes SSE arithmetic in round-to-nearest whatever MXCSR
	 * says. */
	if (!HAVE_ROUNDING || RUNNING_ON_VALGRIND)
		skip();
	fiber__pool_init(&p, 64 * KIB, 4);
	fiber__init_thread(&r.main);
	r.f = fiber__get(&p, rounding_entry, &r);
	fiber__switch(&r.main, r.f);
	assert_true(r.before > nearest);        /* the fiber rounds up */
	assert_true(third() == nearest);        /* the switch restored ours */
	fiber__switch(&r.main, r.f);
	assert_true(r.after == r.before);       /* and back to the fiber's */
	assert_true(third() == nearest);
#if defined(__x86_64__)
	assert_true(r.before_x87 > nearest_x87);
	assert_true(r.after_x87 == r.before_x87);
	assert_true((long double)one / seven == nearest_x87);
#else
	(void)nearest_x87;
#endif
	fiber__put(&p, r.f);
	fiber__pool_destroy(&p);
}

/* ---- many fibers ---- */

#define NFIB 200
#define ROUNDS 10

struct ring {
	struct mqb_fiber main, *f[NFIB];
	int log[NFIB * ROUNDS];
	int nlog;
	int laps[NFIB];
};

struct ring_arg {
	struct ring *r;
	int id;
};

static void ring_entry(void *arg)
{
	struct ring_arg *a = arg;
	struct ring *r = a->r;
	int id = a->id, laps = 0;

	for (int round = 0; round < ROUNDS; round++) {
		r->log[r->nlog++] = id;
		laps++;
		if (round < ROUNDS - 1)
			fiber__switch(r->f[id], &r->main);
	}
	r->laps[id] = laps;
	fiber__switch_final(r->f[id], &r->main);
}

static void two_hundred_fibers_interleave_round_robin(void **state)
{
	static struct ring r;
	static struct ring_arg args[NFIB];
	struct fiber_pool p;

	memset(&r, 0, sizeof r);
	fiber__pool_init(&p, 16 * KIB, NFIB);
	fiber__init_thread(&r.main);
	for (int i = 0; i < NFIB; i++) {
		args[i] = (struct ring_arg){ &r, i };
		r.f[i] = fiber__get(&p, ring_entry, &args[i]);
		assert_non_null(r.f[i]);
	}
	for (int round = 0; round < ROUNDS; round++)
		for (int i = 0; i < NFIB; i++)
			fiber__switch(&r.main, r.f[i]);
	assert_int_equal(r.nlog, NFIB * ROUNDS);
	for (int k = 0; k < NFIB * ROUNDS; k++)
		assert_int_equal(r.log[k], k % NFIB);
	for (int i = 0; i < NFIB; i++) {
		assert_int_equal(r.laps[i], ROUNDS);
		fiber__put(&p, r.f[i]);
	}
	assert_int_equal(p.mmaps, NFIB);
	fiber__pool_destroy(&p);
}

/* ---- nesting ---- */

struct nest {
	struct mqb_fiber main, *outer, *inner;
	struct fiber_pool *pool;
	int trace[4];
	int n;
};

static void inner_entry(void *arg)
{
	struct nest *s = arg;

	s->trace[s->n++] = 2;
	fiber__switch_final(s->inner, s->outer);
}

static void outer_entry(void *arg)
{
	struct nest *s = arg;

	s->trace[s->n++] = 1;
	s->inner = fiber__get(s->pool, inner_entry, s);
	if (s->inner)
		fiber__switch(s->outer, s->inner);
	s->trace[s->n++] = 3;
	fiber__switch_final(s->outer, &s->main);
}

static void a_fiber_can_run_another_fiber_to_completion(void **state)
{
	struct fiber_pool p;
	struct nest s = { .n = 0, .pool = &p };

	fiber__pool_init(&p, 32 * KIB, 4);
	fiber__init_thread(&s.main);
	s.outer = fiber__get(&p, outer_entry, &s);
	fiber__switch(&s.main, s.outer);
	assert_non_null(s.inner);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.trace[0], 1);
	assert_int_equal(s.trace[1], 2);
	assert_int_equal(s.trace[2], 3);
	fiber__put(&p, s.inner);
	fiber__put(&p, s.outer);
	fiber__pool_destroy(&p);
}

/* ---- the pool ---- */

struct finisher {
	struct mqb_fiber *main, *f;
	int *done;
};

static void finisher_entry(void *arg)
{
	struct finisher *c = arg;

	(*c->done)++;
	fiber__switch_final(c->f, c->main);
}

/* Gets n fibers, runs each to its end, puts them back. */
static void run_batch(struct fiber_pool *p, struct mqb_fiber *main, int n, int *done)
{
	struct finisher c[8];

	for (int i = 0; i < n; i++) {
		c[i] = (struct finisher){ main, NULL, done };
		c[i].f = fiber__get(p, finisher_entry, &c[i]);
		assert_non_null(c[i].f);
	}
	for (int i = 0; i < n; i++)
		fiber__switch(main, c[i].f);
	for (int i = 0; i < n; i++)
		fiber__put(p, c[i].f);
}

static void recycled_fibers_make_no_new_mmaps(void **state)
{
	struct fiber_pool p;
	struct mqb_fiber main;
	int done = 0, want = 0;

	fiber__pool_init(&p, 16 * KIB, 8);
	fiber__init_thread(&main);
	for (int i = 0; i < 1000; i++) {
		run_batch(&p, &main, i % 3 + 1, &done);
		want += i % 3 + 1;
	}
	assert_int_equal(done, want);
	assert_int_equal(p.mmaps, 3); /* the most fibers alive at once */
	assert_int_equal(p.nfree, 3);
	fiber__pool_destroy(&p);
}

static void a_full_free_list_unmaps_what_it_cannot_keep(void **state)
{
	struct fiber_pool p;
	struct mqb_fiber main;
	int done = 0;

	fiber__pool_init(&p, 16 * KIB, 1);
	fiber__init_thread(&main);
	run_batch(&p, &main, 3, &done);
	assert_int_equal(p.nfree, 1);
	assert_int_equal(p.mmaps, 3);
	run_batch(&p, &main, 3, &done);
	assert_int_equal(p.mmaps, 5);
	assert_int_equal(done, 6);
	fiber__pool_destroy(&p);
}

/* fiber__put_later keeps every stack, past the bound; fiber__trim takes
 * the excess back a budget at a time, down to the bound and no further. */
static void put_later_keeps_stacks_until_trimmed_to_the_bound(void **state)
{
	struct fiber_pool p;
	struct mqb_fiber main;
	struct finisher c[6];
	int done = 0;

	fiber__pool_init(&p, 16 * KIB, 2);
	fiber__init_thread(&main);
	for (int i = 0; i < 6; i++) {
		c[i] = (struct finisher){ &main, NULL, &done };
		c[i].f = fiber__get(&p, finisher_entry, &c[i]);
		fiber__switch(&main, c[i].f);
	}
	for (int i = 0; i < 6; i++)
		fiber__put_later(&p, c[i].f);
	assert_int_equal(done, 6);
	assert_int_equal(p.nfree, 6);
	assert_int_equal(fiber__trim(&p, 3), 1);
	assert_int_equal(p.nfree, 3);
	assert_int_equal(fiber__trim(&p, 10), 0);
	assert_int_equal(p.nfree, 2);
	assert_int_equal(fiber__trim(&p, 10), 0);
	assert_int_equal(p.nfree, 2);
	fiber__pool_destroy(&p);
}

/* Whether nothing is mapped at addr: MAP_FIXED_NOREPLACE refuses to map over
 * an existing mapping. */
static int is_free_address(void *addr)
{
	void *m = mmap(addr, page(), PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (m == MAP_FAILED)
		return 0;
	munmap(m, page());
	return m == addr;
}

static void destroying_the_pool_unmaps_cached_stacks(void **state)
{
	struct fiber_pool p;
	struct mqb_fiber main;
	struct finisher c;
	int done = 0;
	void *map;

	fiber__pool_init(&p, 16 * KIB, 4);
	fiber__init_thread(&main);
	c = (struct finisher){ &main, NULL, &done };
	c.f = fiber__get(&p, finisher_entry, &c);
	map = c.f->stack_map;
	fiber__switch(&main, c.f);
	fiber__put(&p, c.f);
	assert_false(is_free_address(map));
	fiber__pool_destroy(&p);
	assert_int_equal(p.nfree, 0);
	assert_true(is_free_address(map));
}

static void stack_sizes_are_rounded_up_to_whole_pages(void **state)
{
	struct fiber_pool p;
	struct mqb_fiber *f;

	fiber__pool_init(&p, 1, 1);
	assert_int_equal(p.stack_size, page());
	fiber__pool_init(&p, page() + 1, 1);
	assert_int_equal(p.stack_size, 2 * page());
	f = fiber__get(&p, finisher_entry, NULL);
	assert_non_null(f);
	assert_true(f->stack_size >= 2 * page());
	assert_int_equal((uintptr_t)f->stack_map % page(), 0);
	assert_int_equal(f->stack_map_size % page(), 0);
	assert_ptr_equal(f->stack_lo, (char *)f->stack_map + page());
	fiber__put(&p, f); /* never run: put must still accept it */
	fiber__pool_destroy(&p);
}

/* /proc/self/maps shows the page below every stack as ---p. */
static void the_page_below_the_stack_is_inaccessible(void **state)
{
	struct fiber_pool p;
	struct mqb_fiber *f;
	FILE *maps;
	char line[512];
	int found = 0;

	fiber__pool_init(&p, 16 * KIB, 1);
	f = fiber__get(&p, finisher_entry, NULL);
	assert_non_null(f);
	maps = fopen("/proc/self/maps", "r");
	if (!maps)
		skip();
	while (fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		if (lo <= (uintptr_t)f->stack_map && (uintptr_t)f->stack_map < hi) {
			found = 1;
			assert_true(hi <= (uintptr_t)f->stack_lo);
			assert_true(strncmp(perms, "---", 3) == 0);
		}
		if (lo <= (uintptr_t)f->stack_lo && (uintptr_t)f->stack_lo < hi)
			assert_true(strncmp(perms, "rw", 2) == 0);
	}
	fclose(maps);
	assert_true(found);
	fiber__put(&p, f);
	fiber__pool_destroy(&p);
}

static void a_stack_too_large_to_map_gives_null(void **state)
{
	struct fiber_pool p;

	fiber__pool_init(&p, sizeof(size_t) > 4 ? (size_t)1 << 52 : (size_t)3 << 30, 1);
	errno = 0;
	assert_null(fiber__get(&p, finisher_entry, NULL));
	assert_true(errno == ENOMEM || errno == EINVAL); /* EINVAL: valgrind */
	assert_int_equal(p.mmaps, 0);
	fiber__pool_destroy(&p);
}

/* ---- stack size ---- */

struct bigframe {
	struct mqb_fiber main, *f;
	unsigned long sum;
};

static void bigframe_entry(void *arg)
{
	struct bigframe *b = arg;
	volatile unsigned char buf[12 * KIB];

	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)i;
	for (size_t i = 0; i < sizeof buf; i++)
		b->sum += buf[i];
	fiber__switch_final(b->f, &b->main);
}

static void a_16k_stack_holds_a_12k_local_buffer(void **state)
{
	struct fiber_pool p;
	struct bigframe b = { .sum = 0 };

	fiber__pool_init(&p, 16 * KIB, 1);
	fiber__init_thread(&b.main);
	b.f = fiber__get(&p, bigframe_entry, &b);
	assert_non_null(b.f);
	assert_true(b.f->stack_size >= 16 * KIB);
	fiber__switch(&b.main, b.f);
	assert_int_equal(b.sum, 48ul * 255 * 256 / 2); /* 48 runs of 0..255 */
	fiber__put(&p, b.f);
	fiber__pool_destroy(&p);
}

/* ---- guard page ---- */

/* Without a guard page the recursion would run on into the writable region
 * the child maps below the stack, and stop at this address. */
static uintptr_t overflow_limit;

static __attribute__((noinline)) unsigned long recurse(unsigned long depth)
{
	volatile unsigned char buf[512];

	for (size_t i = 0; i < sizeof buf; i += 64)
		buf[i] = (unsigned char)depth;
	if ((uintptr_t)__builtin_frame_address(0) < overflow_limit)
		return buf[0];
	return recurse(depth + 1) + buf[depth % sizeof buf];
}

static struct mqb_fiber overflow_main, *overflow_fiber;

static void overflow_entry(void *arg)
{
	*(volatile unsigned long *)arg = recurse(0);
	fiber__switch_final(overflow_fiber, &overflow_main);
}

/* Runs a fiber that recurses until the guard page stops it: the process
 * dies of SIGSEGV, or exits 3 if the recursion came back. */
static _Noreturn void overflow_child(void)
{
	struct rlimit nocore = { 0, 0 };
	struct fiber_pool p;
	static volatile unsigned long result;
	void *below;

	setrlimit(RLIMIT_CORE, &nocore);
	signal(SIGSEGV, SIG_DFL); /* cmocka catches it otherwise */
	fiber__pool_init(&p, 64 * KIB, 1);
	fiber__init_thread(&overflow_main);
	overflow_fiber = fiber__get(&p, overflow_entry, (void *)&result);
	if (!overflow_fiber)
		_exit(2);
	below = mmap((char *)overflow_fiber->stack_map - (1 << 20), 1 << 20,
		     PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (below != MAP_FAILED && below == (char *)overflow_fiber->stack_map - (1 << 20))
		overflow_limit = (uintptr_t)below + (1 << 19);
	fiber__switch(&overflow_main, overflow_fiber);
	_exit(3);
}

static void overflowing_the_stack_hits_the_guard_page(void **state)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		overflow_child();
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
}

/* ---- threads ---- */

static void *thread_round_trips(void *arg)
{
	switching_back_and_forth_preserves_locals(NULL);
	return arg;
}

static void fibers_on_two_threads_do_not_interfere(void **state)
{
	static int token;
	pthread_t t;
	void *ret = NULL;

	assert_int_equal(pthread_create(&t, NULL, thread_round_trips, &token), 0);
	switching_back_and_forth_preserves_locals(NULL);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_ptr_equal(ret, &token);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_fiber_runs_entry_with_its_arg_and_comes_back),
		cmocka_unit_test(a_fresh_fiber_starts_on_an_abi_aligned_stack),
		cmocka_unit_test(switching_back_and_forth_preserves_locals),
		cmocka_unit_test(floating_point_values_survive_switches),
		cmocka_unit_test(each_fiber_keeps_its_own_rounding_mode),
		cmocka_unit_test(two_hundred_fibers_interleave_round_robin),
		cmocka_unit_test(a_fiber_can_run_another_fiber_to_completion),
		cmocka_unit_test(recycled_fibers_make_no_new_mmaps),
		cmocka_unit_test(a_full_free_list_unmaps_what_it_cannot_keep),
	cmocka_unit_test(put_later_keeps_stacks_until_trimmed_to_the_bound),
		cmocka_unit_test(destroying_the_pool_unmaps_cached_stacks),
		cmocka_unit_test(stack_sizes_are_rounded_up_to_whole_pages),
		cmocka_unit_test(the_page_below_the_stack_is_inaccessible),
		cmocka_unit_test(a_stack_too_large_to_map_gives_null),
		cmocka_unit_test(a_16k_stack_holds_a_12k_local_buffer),
		cmocka_unit_test(overflowing_the_stack_hits_the_guard_page),
		cmocka_unit_test(fibers_on_two_threads_do_not_interfere),
	};

	/* For emulators that cannot fork: the guard-page child on its own. */
	if (argc > 1 && strcmp(argv[1], "--overflow-child") == 0)
		overflow_child();
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
