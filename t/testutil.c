/* SPDX-License-Identifier: MIT */
/* Shared test helpers; see testutil.h. Waits are on conditions with a
 * bound, never sleeps that hope the other thread was quick enough. */
#include "config.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <ev.h>

#include "testutil.h"
#include "core/loop.h"
#include "mqbridge/config.h"

double tu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void tu_latch_init(struct tu_latch *l, long count)
{
	pthread_mutex_init(&l->m, NULL);
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&l->c, &a);
	pthread_condattr_destroy(&a);
	l->count = count;
}

void tu_latch_destroy(struct tu_latch *l)
{
	pthread_cond_destroy(&l->c);
	pthread_mutex_destroy(&l->m);
}

void tu_latch_count_down(struct tu_latch *l)
{
	pthread_mutex_lock(&l->m);
	if (l->count > 0 && --l->count == 0)
		pthread_cond_broadcast(&l->c);
	pthread_mutex_unlock(&l->m);
}

bool tu_latch_wait(struct tu_latch *l, double timeout)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double end = ts.tv_sec + ts.tv_nsec / 1e9 + timeout;
	ts.tv_sec = (time_t)end;
	ts.tv_nsec = (long)((end - (double)ts.tv_sec) * 1e9);
	pthread_mutex_lock(&l->m);
	int rc = 0;
	while (l->count > 0 && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&l->c, &l->m, &ts);
	bool ok = l->count == 0;
	pthread_mutex_unlock(&l->m);
	return ok;
}

static void mark_started(void *arg)
{
	struct tu_loop *t = arg;
	t->loop_thread_id = pthread_self();
	tu_latch_count_down(&t->started);
}

static void *loop_main(void *arg)
{
	struct tu_loop *t = arg;
	t->exit_code = mqb_core_run(t->core);
	return NULL;
}

void tu_loop_start(struct tu_loop *t, const struct mqb_core_options *opt)
{
	struct mqb_core *core;
	assert_int_equal(mqb_core_new(opt, &core), 0);
	tu_loop_adopt(t, core);
}

void tu_loop_adopt(struct tu_loop *t, struct mqb_core *core)
{
	tu_latch_init(&t->started, 1);
	t->core = core;
	assert_int_equal(mqb_async_call_soon(t->core, mark_started, t), 0);
	assert_int_equal(pthread_create(&t->thread, NULL, loop_main, t), 0);
	assert_true(tu_latch_wait(&t->started, TU_TIMEOUT));
}

struct join_arg {
	struct tu_loop *t;
	struct tu_latch done;
};

static void *joiner(void *arg)
{
	struct join_arg *j = arg;
	pthread_join(j->t->thread, NULL);
	tu_latch_count_down(&j->done);
	return NULL;
}

int tu_loop_stop(struct tu_loop *t)
{
	struct join_arg j = { .t = t };
	tu_latch_init(&j.done, 1);
	mqb_core_stop(t->core, 0);
	pthread_t jt;
	assert_int_equal(pthread_create(&jt, NULL, joiner, &j), 0);
	/* A loop that does not stop in time fails the test rather than hanging it. */
	assert_true(tu_latch_wait(&j.done, TU_TIMEOUT));
	pthread_join(jt, NULL);
	tu_latch_destroy(&j.done);
	tu_latch_destroy(&t->started);
	/* mqb_core_free wants the loop thread; the loop has ended, so this
	 * thread takes the core over. */
	mqb_core_free(t->core);
	t->core = NULL;
	return t->exit_code;
}

struct on_loop {
	void (*fn)(void *);
	void *arg;
};

static int on_loop_tramp(void *ud, void *arg, void **result)
{
	struct on_loop *o = ud;
	o->fn(o->arg);
	return 0;
}

void tu_on_loop(struct tu_loop *t, void (*fn)(void *arg), void *arg)
{
	struct on_loop o = { fn, arg };
	struct mqb_future *f;
	assert_int_equal(mqb_run_callback_threadsafe(t->core, on_loop_tramp, &o, NULL, &f), 0);
	/* Bounded: a loop that never runs it fails the test instead of hanging. */
	int rc = mqb_future_result(f, TU_TIMEOUT, NULL);
	mqb_future_unref(f);
	assert_int_equal(rc, 0);
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mqb_core *core = w->data;
	print_error("watchdog: the loop was still running after its time limit\n");
	mqb_core_async_stop(core, 124);
}

int tu_run(struct mqb_core *core, double timeout)
{
	ev_timer wd;
	ev_timer_init(&wd, watchdog_cb, timeout, 0);
	wd.data = core;
	ev_timer_start(core__loop(core), &wd);
	ev_unref(core__loop(core));
	int rc = mqb_core_run(core);
	ev_ref(core__loop(core));
	ev_timer_stop(core__loop(core), &wd);
	return rc;
}

/* The ready queue is FIFO: a call queued behind everything runs after it. */
struct flush {
	struct mqb_core *core;
	struct tu_latch done;
	int rc;
};

static void flush_done(void *arg)
{
	tu_latch_count_down(arg);
}

static void flush_start(void *arg)
{
	struct flush *fl = arg;
	fl->rc = mqb_async_call_soon(fl->core, flush_done, &fl->done);
}

void tu_loop_flush(struct tu_loop *t)
{
	struct flush fl = { .core = t->core };
	tu_latch_init(&fl.done, 1);
	tu_on_loop(t, flush_start, &fl);
	assert_int_equal(fl.rc, 0);
	assert_true(tu_latch_wait(&fl.done, TU_TIMEOUT));
	tu_latch_destroy(&fl.done);
}

void tu_expect_conf_error(const struct mqb_conf_errors *errs, size_t n, const char *want,
			  unsigned line, unsigned column, const char *what)
{
	if (n == 0 || errs->n == 0)
		fail_msg("compiled:\n%s", what);
	const struct mqb_conf_error *e = &errs->v[0];
	if (!strstr(e->message, want))
		fail_msg("'%s' lacks '%s'", e->message, want);
	if (line && (e->mark.line != line || e->mark.column != column))
		fail_msg("'%s' at %u:%u, not %u:%u", e->message, e->mark.line, e->mark.column, line,
			 column);
}

const char **tu_wrap_argv(const char *const *argv, const char **out, size_t max)
{
	static char *words; /* the wrapper, split in place once; kept */
	static char self[4096];
	const char *w = getenv("MQB_TEST_WRAPPER");
	size_t n = 0;
	assert_true(max > 1);
	if (w && *w) {
		if (!words) {
			words = strdup(w);
			assert_non_null(words);
		}
		/* Split once: words holds NUL-separated words from then on. */
		for (char *p = words, *end = words + strlen(w); p < end && n < max - 1;) {
			while (p < end && (*p == ' ' || *p == '\0'))
				p++;
			if (p >= end)
				break;
			out[n++] = p;
			while (p < end && *p != ' ' && *p != '\0')
				p++;
			if (p < end)
				*p++ = '\0';
		}
	}
	for (size_t i = 0; argv[i] && n < max - 1; i++) {
		const char *a = argv[i];
		if (i == 0 && n > 0 && strcmp(a, "/proc/self/exe") == 0) {
			ssize_t len = readlink(a, self, sizeof self - 1);
			assert_true(len > 0);
			self[len] = '\0';
			a = self;
		}
		out[n++] = a;
	}
	out[n] = NULL;
	return out;
}
