/* SPDX-License-Identifier: MIT */
/* Allocation wrappers: every allocation of the core goes through here so a
 * test can make the Nth one fail and check the error path (curl's torture
 * idea, made small). */
#include "lib/internal.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 0: never fail; otherwise allocations left before failures start. */
static atomic_ulong fail_countdown;

void mqb__alloc_fail_after(unsigned long n)
{
	atomic_store(&fail_countdown, n);
}

/* The daemon's test switch (mqb__alloc_test): counting allocations and
 * where each call site first allocates, or failing at random. Off, it
 * costs one relaxed load per allocation. */
enum test_mode { TEST_OFF, TEST_SITES, TEST_RANDOM };
static atomic_int test_mode;
static pthread_mutex_t test_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long test_count;        /* allocations so far */
static unsigned long test_after;        /* TEST_RANDOM: none fail before this many */
static unsigned test_one_in;            /* TEST_RANDOM: one in this many fails */
static unsigned long long test_rng;
#define SITES_MAX 8192
static const void *site_addr[SITES_MAX];
static unsigned long site_first[SITES_MAX]; /* 1-based allocation number */
static size_t nsites;

static bool test_fail(const void *site)
{
	bool fail = false;
	pthread_mutex_lock(&test_lock);
	unsigned long k = ++test_count;
	if (atomic_load_explicit(&test_mode, memory_order_relaxed) == TEST_SITES) {
		size_t i = 0;
		while (i < nsites && site_addr[i] != site)
			i++;
		if (i == nsites && nsites < SITES_MAX) {
			site_addr[nsites] = site;
			site_first[nsites++] = k;
		}
	} else if (k > test_after) {
		fail = (unsigned long long)(mqb__random_unit(&test_rng) * test_one_in) == 0;
	}
	pthread_mutex_unlock(&test_lock);
	return fail;
}

static bool should_fail(const void *site)
{
	if (atomic_load_explicit(&test_mode, memory_order_relaxed) != TEST_OFF && test_fail(site))
		return true;
	unsigned long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
	if (n == 0)
		return false;
	if (n == 1)
		return true; /* stays 1: every later allocation fails too */
	atomic_fetch_sub(&fail_countdown, 1);
	return false;
}

int mqb__alloc_test(const char *spec)
{
	unsigned long n, after;
	unsigned one_in;
	unsigned long long seed;
	char tail;
	if (strcmp(spec, "sites") == 0) {
		atomic_store(&test_mode, TEST_SITES);
	} else if (sscanf(spec, "random:%u:%lu:%llu%c", &one_in, &after, &seed, &tail) == 3 &&
		   one_in > 0) {
		test_one_in = one_in;
		test_after = after;
		test_rng = seed ? seed : 1;
		atomic_store(&test_mode, TEST_RANDOM);
	} else if (sscanf(spec, "%lu%c", &n, &tail) == 1 && n > 0) {
		mqb__alloc_fail_after(n);
	} else {
		return -EINVAL;
	}
	return 0;
}

void mqb__alloc_test_report(FILE *to)
{
	pthread_mutex_lock(&test_lock);
	fprintf(to, "alloc-test: %lu allocations, %zu sites, first at:", test_count, nsites);
	for (size_t i = 0; i < nsites; i++)
		fprintf(to, " %lu", site_first[i]);
	fputc('\n', to);
	pthread_mutex_unlock(&test_lock);
}

#define SITE __builtin_return_address(0)

void *mqb__malloc(size_t n)
{
	return should_fail(SITE) ? NULL : malloc(n);
}

void *mqb__calloc(size_t nmemb, size_t n)
{
	return should_fail(SITE) ? NULL : calloc(nmemb, n);
}

void *mqb__realloc(void *p, size_t n)
{
	return should_fail(SITE) ? NULL : realloc(p, n);
}

char *mqb__strdup(const char *s)
{
	return should_fail(SITE) ? NULL : strdup(s);
}

char *mqb__strndup(const char *s, size_t n)
{
	return should_fail(SITE) ? NULL : strndup(s, n);
}

char *mqb__vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(buf, buf ? len : 0, fmt, ap);
	char *s = NULL;
	if (n >= 0 && buf && (size_t)n < len)
		s = buf;
	else if (n >= 0 && (s = mqb__malloc((size_t)n + 1)))
		vsnprintf(s, (size_t)n + 1, fmt, again);
	va_end(again);
	return s;
}

char *mqb__fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = mqb__vfmt(buf, len, fmt, ap);
	va_end(ap);
	return s;
}

void mqb__trim(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

void mqb__alloc_init(void)
{
#ifdef __GLIBC__
	mallopt(M_ARENA_MAX, 1);
#endif
}

unsigned long long mqb__random_seed(void)
{
	static atomic_ullong calls;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long long s = (unsigned long long)ts.tv_nsec * 1000003u ^
			       (unsigned long long)getpid() << 32 ^
			       atomic_fetch_add(&calls, 1) * 0x9E3779B97F4A7C15ull;
	return s ? s : 1;
}

double mqb__time_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double mqb__time_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
