/* SPDX-License-Identifier: MIT */
/* What every layer of the daemon shares and platforms never see: the
 * thread checks, allocation wrappers and clocks. */
#ifndef MQB_INTERNAL_H
#define MQB_INTERNAL_H

#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "mqbridge/core.h"
#include "mqbridge/error.h"
#include "mqbridge/log.h"

/* Programmer errors are assertions with a message (libev's habit). The
 * thread check costs a pthread_self per call, so it is on in debug builds. */
#define MQB_ABORT(...) \
	do { fprintf(stderr, "mqbridge: %s: ", __func__); fprintf(stderr, __VA_ARGS__); \
	     fputc('\n', stderr); abort(); } while (0)
#define MQB_CHECK(cond, ...) do { if (!(cond)) MQB_ABORT(__VA_ARGS__); } while (0)
#ifdef MQB_DEBUG
#define MQB_ASSERT_LOOP(core) \
	MQB_CHECK(mqb_core_in_loop_thread(core), "loop-only function called from another thread")
#else
#define MQB_ASSERT_LOOP(core) ((void)(core))
#endif

/* Allocation goes through these so tests can fail the Nth one (alloc.c). */
void *mqb__malloc(size_t n);
void *mqb__calloc(size_t nmemb, size_t n);
void *mqb__realloc(void *p, size_t n);
char *mqb__strdup(const char *s);
char *mqb__strndup(const char *s, size_t n);
#define mqb__free free
/* printf into buf when the text fits in len bytes (nothing allocated),
 * else into a new allocation; buf may be NULL to always allocate. NULL on
 * ENOMEM. Free what it returns with mqb__fmt_free(s, buf). */
char *mqb__fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
char *mqb__vfmt(char *buf, size_t len, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static inline void mqb__fmt_free(char *s, const char *buf)
{
	if (s != buf)
		mqb__free(s);
}
/* Tests: make allocation number n (1-based, counted from now) and every later
 * one fail; 0 turns failures off. */
void mqb__alloc_fail_after(unsigned long n);
/* The daemon's test switch (debug builds, MQB_TEST_ALLOC_FAIL): "N" fails
 * allocation N and every later one; "sites" counts allocations and notes
 * the first of each call site, for mqb__alloc_test_report; "random:K:A:S"
 * fails one allocation in K at random (seed S) after the first A. 0 or
 * -EINVAL. Thread: the main thread, before any other. */
int mqb__alloc_test(const char *spec);
/* "alloc-test: N allocations, M sites, first at: i1 i2 ...". Thread: any. */
void mqb__alloc_test_report(FILE *to);

/* Secrets (log.c): value (len bytes, from !secret) never reaches a log
 * line or an error: wherever it occurs it shows as "(secret)". A value
 * longer than a line, or of several lines, is registered line by line too.
 * Registrations are counted. 0 or -ENOMEM. Thread: any. */
int mqb__secret_add(const char *value, size_t len);
/* Undo one mqb__secret_add of value: it is shown again once no
 * registration is left (the configuration holding it is gone). */
void mqb__secret_drop(const char *value, size_t len);
/* text with every registered secret masked, into out (outlen bytes, cut
 * if need be); returns out. For error text that does not go through the
 * log. Thread: any. */
char *mqb__secret_redact(const char *text, char *out, size_t outlen);
/* *out: a copy of text with every secret masked, whole, or NULL when text
 * shows none. 0 or -ENOMEM. Thread: any. */
int mqb__secret_redact_dup(const char *text, char **out);
/* Forget them all (tests). Thread: any. */
void mqb__secrets_clear(void);
/* A line at level info whatever the level is: what was asked for (the
 * SIGUSR1 status dump) is written even at level warning. Thread: any. */
void mqb__log_always(const char *subsystem, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A number in [0, 1) from xorshift64 state *s (never 0): enough to spread
 * clients' retries and re-announcements apart, nothing more. */
static inline double mqb__random_unit(unsigned long long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (double)(*s >> 11) / (double)(1ULL << 53);
}
/* A seed for it that differs between processes and between calls. */
unsigned long long mqb__random_seed(void);

/* Give the allocator's free memory back to the system (glibc's
 * malloc_trim, every arena): after a burst that left much of it, such as
 * setting up 100,000 entities or subscribing to their topics. Thread: any. */
void mqb__trim(void);
/* One allocator arena for every thread of the process, set before any
 * thread starts. glibc gives each thread that allocates its own arena,
 * and malloc_trim cannot shrink the top of any but the first: what Paho
 * read on the MQTT job thread (38 MB with 10,000 entities, mqtt/client_impl.h
 * TRIM_AFTER) stayed resident for good. The threads other than the loop's
 * allocate little and seldom; glibc's per-thread cache serves them
 * without the lock. Thread: main, first thing. */
void mqb__alloc_init(void);

/* Seconds: the wall clock (Unix time) and a monotonic clock. */
double mqb__time_wall(void);
double mqb__time_mono(void);

#endif
