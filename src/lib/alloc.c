/* SPDX-License-Identifier: MIT */
/* Allocation wrappers: every allocation of the core goes through here so a
 * test can make the Nth one fail and check the error path (curl's torture
 * idea, made small). */
#include "lib/internal.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

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
