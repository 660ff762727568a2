/* SPDX-License-Identifier: MIT */
/* Shared test helpers: a core whose loop runs on its own thread, a loop run
 * on the test's thread under a watchdog, and latches for bounded waits. */
#ifndef MQB_TESTUTIL_H
#define MQB_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mqbridge/core.h"

/* Bounded waits everywhere: a test that hangs is a failing test. */
#define TU_TIMEOUT 10.0

/* A count-down latch: wait for n events from any threads, bounded. */
struct tu_latch {
	pthread_mutex_t m;
	pthread_cond_t c;
	long count;
};
void tu_latch_init(struct tu_latch *l, long count);
void tu_latch_destroy(struct tu_latch *l);
void tu_latch_count_down(struct tu_latch *l);
/* True when the count reached zero within timeout seconds. */
bool tu_latch_wait(struct tu_latch *l, double timeout);

/* A core whose loop runs on a thread of its own. */
struct tu_loop {
	struct mqb_core *core;
	pthread_t thread;
	pthread_t loop_thread_id;
	int exit_code;
	struct tu_latch started;
};
/* opt may be NULL. Fails the test on error. */
void tu_loop_start(struct tu_loop *t, const struct mqb_core_options *opt);
/* Run core (made on this thread, not run yet) on a thread of its own, as
 * tu_loop_start does with the core it makes. */
void tu_loop_adopt(struct tu_loop *t, struct mqb_core *core);
/* Stop, join (bounded) and free; returns the loop's exit code. */
int tu_loop_stop(struct tu_loop *t);
/* Wait until everything queued on the loop before this call has run. */
void tu_loop_flush(struct tu_loop *t);
/* Run fn(arg) on the loop thread and wait for it. */
void tu_on_loop(struct tu_loop *t, void (*fn)(void *arg), void *arg);

/* Run core's loop on this thread until it stops; a watchdog stops it with
 * exit code 124 after timeout seconds. Returns the exit code. */
int tu_run(struct mqb_core *core, double timeout);

double tu_now(void); /* monotonic seconds */

struct mqb_conf_errors;
/* A configuration that must not compile: errs holds at least one error
 * (n is how many the compiler found), the first one's message holds want,
 * and it sits at line:column unless line is 0. Fails the test otherwise;
 * what names the input in the failure. */
void tu_expect_conf_error(const struct mqb_conf_errors *errs, size_t n, const char *want,
			  unsigned line, unsigned column, const char *what);

/* The argv that runs one of the build's own programs (the daemon, a test
 * driver again): argv itself, or behind MQB_TEST_WRAPPER when that is set,
 * the command (words split at spaces) that runs a foreign build's programs
 * on this machine; tools/cross-check.sh sets "qemu-ARCH -L SYSROOT". Under
 * a wrapper "/proc/self/exe" becomes the program's path, which the wrapper
 * needs to be given. Fills out (max entries, NULL-terminated); the result
 * is for execvp/posix_spawnp. */
const char **tu_wrap_argv(const char *const *argv, const char **out, size_t max);

/* main() helper: argv[1], if given, selects tests by name (cmocka filter). */
#define TU_MAIN(tests) \
	int main(int argc, char **argv) { \
		if (argc > 1) cmocka_set_test_filter(argv[1]); \
		return cmocka_run_group_tests(tests, NULL, NULL); \
	}

#endif
