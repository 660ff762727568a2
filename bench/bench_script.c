/* SPDX-License-Identifier: MIT */
/* bench_script: what the script engine costs. (1) N runs suspended in a
 * delay at once: resident memory per suspended run (RSS grown, stacks and
 * heap together) and how late they resume after their deadline, on the
 * real clock; (2) a short run (variables, a template condition, a service
 * call) over and over: CPU, allocations, and under callgrind instructions
 * per run. bench/run-script.sh prints the report. */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/load.h"
#include "mqbridge/bus.h"
#include "mqbridge/core.h"
#include "mqbridge/coro.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/script.h"
#include "mqbridge/services.h"
#include "mqbridge/timer.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define HAVE_CALLGRIND 0
#endif

static bool opt_callgrind;

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_script: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

#define CHECK(expr)                               \
	do {                                      \
		int rc_ = (expr);                 \
		if (rc_ < 0)                      \
			die(#expr, rc_);          \
	} while (0)

/* Every allocation of the process, counted on its way to glibc's malloc:
 * the short run's figure is what one run asks of the allocator. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
static atomic_long allocs;
void *malloc(size_t n)
{
	atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
	return __libc_malloc(n);
}
void *calloc(size_t n, size_t m)
{
	atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
	return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n)
{
	atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
	return __libc_realloc(p, n);
}

static double mono(void)
{
	return mqb_time_monotonic();
}

static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Resident and virtual bytes of the process (/proc/self/statm). */
static void mem(long *rss, long *vsz)
{
	long pages = sysconf(_SC_PAGESIZE), v = 0, r = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld %ld", &v, &r) != 2)
		die("/proc/self/statm", EIO);
	fclose(f);
	*rss = r * pages;
	*vsz = v * pages;
}

static struct mqb_script *compile(const char *yaml, const struct mqb_script_options *opt,
				  struct mqb_conf_doc **doc)
{
	struct mqb_conf_errors errs;
	struct mqb_script *s = NULL;
	mqb_conf_errors_init(&errs);
	if (conf__load_string("bench.yaml", NULL, yaml, strlen(yaml), NULL, doc, &errs) ||
	    mqb_script_compile(mqb_conf_get(mqb_conf_root(*doc), "sequence"), "script.b.sequence", opt,
			       &errs, &s)) {
		mqb_conf_errors_print(&errs, stderr);
		exit(1);
	}
	mqb_conf_errors_fini(&errs);
	return s;
}

/* ---- 1. suspended runs ------------------------------------------------------------ */

struct susp {
	struct mqb_core *core;
	struct mqb_script *s;
	int n, woken;
	double delay, t0;    /* t0: before the first run started (a lower bound
			      * of every deadline minus the delay) */
	double *late;        /* each resume's lateness, seconds */
	long rss0, vsz0, rss1, vsz1;
	unsigned live;       /* coroutines alive while suspended */
};

static int woke(void *ud, void *arg, void **result)
{
	struct susp *b = ud;
	(void)arg;
	(void)result;
	if (b->woken < b->n)
		b->late[b->woken] = mono() - (b->t0 + b->delay);
	if (++b->woken == b->n)
		mqb_core_async_stop(b->core, 0);
	return 0;
}

static void measure_suspended(struct mqb_timer *t, void *ud)
{
	struct susp *b = ud;
	(void)t;
	mem(&b->rss1, &b->vsz1);
	struct mqb_core_stats st;
	mqb_core_async_stats(b->core, &st);
	b->live = st.coro_live;
}

static void start_suspended(void *ud)
{
	struct susp *b = ud;
	mem(&b->rss0, &b->vsz0);
	b->t0 = mono();
	for (int i = 0; i < b->n; i++)
		CHECK(mqb_script_async_run(b->core, b->s, NULL, NULL));
	/* all of them are in their delay well before half of it has passed */
	CHECK(mqb_async_call_later(b->core, b->delay / 2, measure_suspended, b, NULL));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void suspended(int n, double delay)
{
	struct susp b = { .n = n, .delay = delay };
	struct mqb_conf_doc *doc = NULL;
	char yaml[256];
	snprintf(yaml, sizeof yaml, "sequence:\n  - delay: %g\n  - event: bench_done\n", delay);
	struct mqb_script_options opt = { .name = "script.bench", .mode = MQB_SCRIPT_PARALLEL,
					  .max = (unsigned)n };
	b.late = calloc((size_t)n, sizeof *b.late);
	struct mqb_core_options co;
	mqb_core_options_init(&co);
	if (getenv("BENCH_STACK_CACHE"))
		co.coro_stack_cache = (unsigned)atoi(getenv("BENCH_STACK_CACHE"));
	CHECK(mqb_core_new(&co, &b.core));
	b.s = compile(yaml, &opt, &doc);
	struct mqb_job job = MQB_CALLBACK(woke, &b);
	CHECK(mqb_bus_async_listen(b.core, "bench_done", &job, NULL));
	CHECK(mqb_async_call_soon(b.core, start_suspended, &b));
	CHECK(mqb_core_run(b.core));
	if (b.woken != n)
		die("not every run resumed", EIO);
	qsort(b.late, (size_t)n, sizeof *b.late, cmp_double);
	printf("suspended_runs %d\n", n);
	printf("suspended_live_coroutines %u\n", b.live);
	printf("resident_bytes_per_run %.0f\n", (double)(b.rss1 - b.rss0) / n);
	printf("virtual_bytes_per_run %.0f\n", (double)(b.vsz1 - b.vsz0) / n);
	printf("late_ms_min %.2f\n", b.late[0] * 1e3);
	printf("late_ms_p50 %.2f\n", b.late[n / 2] * 1e3);
	printf("late_ms_p99 %.2f\n", b.late[n * 99 / 100] * 1e3);
	printf("late_ms_max %.2f\n", b.late[n - 1] * 1e3);
	mqb_core_free(b.core);
	mqb_script_free(b.s);
	mqb_conf_doc_free(doc);
	free(b.late);
}

/* ---- 2. a short run ------------------------------------------------------------------- */

static const char SHORT[] =
	"sequence:\n"
	"  - variables: {level: \"{{ value | float(0) }}\"}\n"
	"  - condition: \"{{ level > 20 }}\"\n"
	"  - action: bench.noop\n"
	"    data: {entity_id: light.porch, brightness: \"{{ (level * 10) | int }}\"}\n";

struct shortb {
	struct mqb_core *core;
	struct mqb_script *s;
	long n, warm, calls;
	double cpu0, cpu;
	long allocs0, allocs;
};

static int noop(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	(*(long *)ud)++;
	return 0;
}

static void one_run(struct shortb *b)
{
	struct mqb_future *f;
	CHECK(mqb_script_async_run(b->core, b->s, json_pack("{s:s}", "value", "21.5"), &f));
	CHECK(mqb_await(f, NULL));
	mqb_future_unref(f);
}

static int drive_short(void *ud, void *arg, void **result)
{
	struct shortb *b = ud;
	(void)arg;
	(void)result;
	for (long i = 0; i < b->warm; i++)
		one_run(b);
#if HAVE_CALLGRIND
	if (opt_callgrind)
		CALLGRIND_START_INSTRUMENTATION;
#endif
	b->allocs0 = atomic_load(&allocs);
	b->cpu0 = cpu_ns();
	for (long i = 0; i < b->n; i++)
		one_run(b);
	b->cpu = cpu_ns() - b->cpu0;
	b->allocs = atomic_load(&allocs) - b->allocs0;
#if HAVE_CALLGRIND
	if (opt_callgrind)
		CALLGRIND_STOP_INSTRUMENTATION;
#endif
	mqb_core_async_stop(b->core, 0);
	return 0;
}

static void short_runs(long n)
{
	struct shortb b = { .n = n, .warm = n / 10 > 1000 ? 1000 : n / 10 };
	struct mqb_conf_doc *doc = NULL;
	struct mqb_script_options opt = { .name = "script.short", .mode = MQB_SCRIPT_PARALLEL };
	CHECK(mqb_core_new(NULL, &b.core));
	b.s = compile(SHORT, &opt, &doc);
	struct mqb_job h = MQB_CALLBACK(noop, &b.calls);
	CHECK(mqb_services_async_register(b.core, "bench", "noop", &h, NULL, NULL));
	struct mqb_job job = MQB_COROUTINE(drive_short, &b);
	CHECK(mqb_async_add_job(b.core, &job, NULL, NULL, NULL));
	CHECK(mqb_core_run(b.core));
	if (b.calls != b.n + b.warm)
		die("the service was not called once a run", EIO);
	if (!opt_callgrind) {
		printf("short_runs %ld\n", n);
		printf("short_cpu_ns_per_run %.0f\n", b.cpu / (double)n);
		printf("short_allocs_per_run %.1f\n", (double)b.allocs / (double)n);
	}
	mqb_core_free(b.core);
	mqb_script_free(b.s);
	mqb_conf_doc_free(doc);
}

int main(int argc, char **argv)
{
	long n_short = 100000;
	int n_susp = 10000;
	double delay = 2.0;
	const char *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--callgrind") == 0)
			opt_callgrind = true;
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			n_short = atol(argv[++i]);
		else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			n_susp = atoi(argv[++i]);
		else if (strcmp(argv[i], "--delay") == 0 && i + 1 < argc)
			delay = atof(argv[++i]);
		else {
			fputs("usage: bench_script [--only short|suspended] [-n SHORT_RUNS] "
			      "[--runs SUSPENDED] [--delay SECONDS] [--callgrind]\n",
			      stderr);
			return 2;
		}
	}
	mqb_log_set_level(MQB_LOG_WARNING);
	if (!only || strcmp(only, "suspended") == 0)
		suspended(n_susp, delay);
	if (!only || strcmp(only, "short") == 0)
		short_runs(n_short);
	return 0;
}
