/* SPDX-License-Identifier: MIT */
/* Allocation wrappers: every allocation of the core goes through here so a
 * test can make the Nth one fail and check the error path (curl's torture
 * idea, made small). */
#include "lib/internal.h"

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

static bool should_fail(void)
{
	unsigned long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
	if (n == 0)
		return false;
	if (n == 1)
		return true; /* stays 1: every later allocation fails too */
	atomic_fetch_sub(&fail_countdown, 1);
	return false;
}

void *mqb__malloc(size_t n)
{
	return should_fail() ? NULL : malloc(n);
}

void *mqb__calloc(size_t nmemb, size_t n)
{
	return should_fail() ? NULL : calloc(nmemb, n);
}

void *mqb__realloc(void *p, size_t n)
{
	return should_fail() ? NULL : realloc(p, n);
}

char *mqb__strdup(const char *s)
{
	return should_fail() ? NULL : strdup(s);
}

char *mqb__strndup(const char *s, size_t n)
{
	return should_fail() ? NULL : strndup(s, n);
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
