/* SPDX-License-Identifier: MIT */
/* Timers on the loop (mqbridge/timer.h): one-shot, interval, wall-clock
 * time and wall-clock boundaries; handles that outlive a shot, cancel
 * from inside a callback, shutdown, and ten thousand live timers. Each
 * test runs the loop on its own thread under a watchdog and waits on what
 * the timers did; the wall clock is stepped through the test hook. */
#include "config.h"

#include <errno.h>
#include <math.h>

#include "testutil.h"
#include "core/loop.h"
#include "lib/internal.h"
#include "mqbridge/timer.h"

struct fx {
	struct mqb_core *core;
	int fired;
	double first, last;        /* tu_now() at the first and the last shot */
	double wall;               /* mqb_async_now() at the last shot */
	struct mqb_timer *t;
	int stop_after;            /* stop the core at that many shots; 0: never */
	int rearms;                /* shots that re-arm themselves */
};

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	assert_int_equal(mqb_core_new(NULL, &f->core), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	mqb_core_free(f->core);
	free(f);
}

static void count(struct mqb_timer *t, void *ud)
{
	struct fx *f = ud;
	double now = tu_now();
	if (f->fired++ == 0)
		f->first = now;
	f->last = now;
	f->wall = mqb_async_now(f->core);
	if (f->rearms > 0) {
		f->rearms--;
		assert_int_equal(mqb_async_timer_rearm(t, 0.01), 0);
	}
	if (f->fired == f->stop_after)
		mqb_core_async_stop(f->core, 0);
}

static void stop_core(struct mqb_timer *t, void *ud)
{
	mqb_core_async_stop(ud, 0);
}

/* ---- one shot ------------------------------------------------------------ */

/* A delay counts from the loop's "now", when its iteration began (here:
 * when the core was made), so the clock is read before that. */
static void a_call_later_fires_once_after_its_delay(void **state)
{
	double t0 = tu_now();
	struct fx *f = fx_new();
	f->stop_after = 1;
	assert_int_equal(mqb_async_call_later(f->core, 0.03, count, f, NULL), 0);
	assert_int_equal(tu_run(f->core, TU_TIMEOUT), 0);
	assert_int_equal(f->fired, 1);
	assert_true(f->first - t0 >= 0.03 - 1e-6);
	assert_true(f->first - t0 < TU_TIMEOUT / 2);
	fx_free(f);
}

/* A handle survives its shot: re-armed from its own callback, then given
 * back from there. */
static void a_handle_outlives_its_shot_and_can_be_rearmed(void **state)
{
	struct fx *f = fx_new();
	f->rearms = 2;
	f->stop_after = 3;
	assert_int_equal(mqb_async_call_later(f->core, 0.01, count, f, &f->t), 0);
	assert_int_equal(tu_run(f->core, TU_TIMEOUT), 0);
	assert_int_equal(f->fired, 3);
	assert_false(mqb_async_timer_active(f->t));
	mqb_async_timer_cancel(f->t); /* after it fired, and after shutdown */
	fx_free(f);
}

static void cancel_self(struct mqb_timer *t, void *ud)
{
	struct fx *f = ud;
	if (++f->fired == 3)
		mqb_async_timer_cancel(t);
}

/* Cancelled inside its own callback (the core's timer and one with a
 * handle): it does not fire again, and nothing is used after it is freed
 * (the sanitizer build checks that). */
static void cancel_inside_its_own_callback_ends_it(void **state)
{
	struct fx *f = fx_new(), g = {.core = f->core};
	assert_int_equal(mqb_async_track_time_interval(f->core, 0.002, cancel_self, f, NULL), 0);
	assert_int_equal(mqb_async_track_time_interval(f->core, 0.002, cancel_self, &g, &g.t), 0);
	assert_int_equal(mqb_async_call_later(f->core, 0.1, stop_core, f->core, NULL), 0);
	assert_int_equal(tu_run(f->core, TU_TIMEOUT), 0);
	assert_int_equal(f->fired, 3);
	assert_int_equal(g.fired, 3);
	fx_free(f);
}

static void must_not_fire(struct mqb_timer *t, void *ud)
{
	fail_msg("a cancelled or stopped timer fired");
}

static void cancelled_and_stopped_timers_never_fire(void **state)
{
	struct fx *f = fx_new();
	struct mqb_timer *a, *b, *c;
	assert_int_equal(mqb_async_call_later(f->core, 0.005, must_not_fire, NULL, &a), 0);
	assert_int_equal(mqb_async_call_at(f->core, mqb_async_now(f->core), must_not_fire, NULL, &b),
			 0);
	assert_int_equal(mqb_async_track_time_interval(f->core, 0.005, must_not_fire, NULL, &c), 0);
	assert_true(mqb_async_timer_active(a) && mqb_async_timer_active(b));
	mqb_async_timer_cancel(a);
	mqb_async_timer_cancel(b);
	mqb_async_timer_stop(c);
	assert_false(mqb_async_timer_active(c));
	mqb_async_timer_cancel(NULL);
	mqb_async_timer_stop(NULL);
	assert_int_equal(mqb_async_call_later(f->core, 0.05, stop_core, f->core, NULL), 0);
	assert_int_equal(tu_run(f->core, TU_TIMEOUT), 0);
	mqb_async_timer_cancel(c);
	fx_free(f);
}

/* mqb_async_timer_new: not armed until re-armed; stop keeps the handle. */
static void a_new_timer_waits_for_rearm_and_stop_keeps_it(void **state)
{
	struct fx *f = fx_new();
	f->stop_after = 1;
	assert_int_equal(mqb_async_timer_new(f->core, count, f, &f->t), 0);
	assert_false(mqb_async_timer_active(f->t));
	assert_int_equal(mqb_async_timer_rearm(f->t, 10), 0);
	assert_true(mqb_async_timer_active(f->t));
	mqb_async_timer_stop(f->t);
	assert_false(mqb_async_timer_active(f->t));
	assert_int_equal(mqb_async_timer_rearm(f->t, 0), 0);
	assert_int_equal(tu_run(f->core, TU_TIMEOUT), 0);
	assert_int_equal(f->fired, 1);
	mqb_async_timer_cancel(f->t);
	fx_free(f);
}

/* ---- intervals ----------------------------------------------------------- */

static void an_interval_timer_fires_every_interval(void **state)
{
	double t0 = tu_now();
	struct fx *f = fx_new();
	f->stop_after = 5;
	assert_int_equal(mqb_async_track_time_interval(f->core, 0.01, count, f, &f->t), 0);
	assert_int_equal(tu_run(f->core, TU_TIMEOUT), 0);
	assert_int_equal(f->fired, 5);
	/* libev schedules each shot from the last one's due time: no drift */
	assert_true(f->last - t0 >= 0.05 - 1e-6);
	/* shutdown disarmed it; the handle is still the caller's */
	assert_false(mqb_async_timer_active(f->t));
	mqb_async_timer_cancel(f->t);
	fx_free(f);
}

/* ---- the wall clock ------------------------------------------------------ */

static void call_at_fires_when_the_wall_clock_reaches_it(void **state)
{
	struct fx *f = fx_new();
	f->stop_after = 1;
	double when = mqb_async_now(f->core) + 0.03;
	assert_int_equal(mqb_async_call_at(f->core, when, count, f, NULL), 0);
	assert_int_equal(tu_run(f->core, TU_TIMEOUT), 0);
	assert_int_equal(f->fired, 1);
	assert_true(f->wall >= when);
	fx_free(f);
}

static void call_at_in_the_past_fires_at_once(void **state)
{
	struct fx *f = fx_new();
	f->stop_after = 1;
	assert_int_equal(mqb_async_call_at(f->core, 1e9, count, f, NULL), 0);
	assert_int_equal(tu_run(f->core, TU_TIMEOUT), 0);
	assert_int_equal(f->fired, 1);
	fx_free(f);
}

struct step {
	struct fx *at, *later;
	double by;
};

static void step_clock(struct mqb_timer *t, void *ud)
{
	struct step *s = ud;
	timer__shift_wall(s->at->core, s->by);
}

/* The wall clock jumps an hour ahead: what waits for a wall-clock time
 * fires now, what waits an hour on the monotonic clock still waits (Home
 * Assistant's point-in-time versus call_later). */
static void a_clock_stepped_forward_fires_call_at_but_not_call_later(void **state)
{
	struct fx *at = fx_new(), later = {.core = at->core};
	at->stop_after = 1;
	double t0 = tu_now();
	double when = mqb_async_now(at->core) + 3600;
	assert_int_equal(mqb_async_call_at(at->core, when, count, at, NULL), 0);
	assert_int_equal(mqb_async_call_later(at->core, 3600, count, &later, NULL), 0);
	struct step s = {at, &later, 3600 - 0.01};
	assert_int_equal(mqb_async_call_later(at->core, 0.01, step_clock, &s, NULL), 0);
	assert_int_equal(tu_run(at->core, TU_TIMEOUT), 0);
	assert_int_equal(at->fired, 1);
	assert_int_equal(later.fired, 0);
	assert_true(at->wall >= when);
	assert_true(tu_now() - t0 < TU_TIMEOUT / 2);
	fx_free(at);
}

/* Stepped back an hour, a wall-clock time a moment away is an hour away
 * again; it fires once the clock catches up (stepped forward again). */
static void a_clock_stepped_back_holds_call_at(void **state)
{
	double t0 = tu_now();
	struct fx *f = fx_new();
	f->stop_after = 1;
	double when = mqb_async_now(f->core) + 0.02;
	assert_int_equal(mqb_async_call_at(f->core, when, count, f, &f->t), 0);
	timer__shift_wall(f->core, -3600);
	struct step back = {f, NULL, 3600};
	/* forward again only after the first shot would have come */
	assert_int_equal(mqb_async_call_later(f->core, 0.1, step_clock, &back, NULL), 0);
	assert_int_equal(tu_run(f->core, TU_TIMEOUT), 0);
	assert_int_equal(f->fired, 1);
	assert_true(f->first - t0 >= 0.1 - 1e-6);
	mqb_async_timer_cancel(f->t);
	fx_free(f);
}

/* On the boundaries of the wall clock: each hour at half past here, the
 * clock stepped to just before one. */
static void a_wall_interval_fires_on_the_clocks_boundaries(void **state)
{
	struct fx *f = fx_new();
	f->stop_after = 1;
	double now = mqb_async_now(f->core);
	double boundary = floor(now / 3600) * 3600 + 1800;
	if (boundary <= now)
		boundary += 3600;
	timer__shift_wall(f->core, boundary - now - 0.02);
	assert_int_equal(mqb_async_track_wall_interval(f->core, 3600, 1800, count, f, &f->t), 0);
	assert_int_equal(tu_run(f->core, TU_TIMEOUT), 0);
	assert_int_equal(f->fired, 1);
	assert_true(f->wall >= boundary);
	assert_true(f->wall < boundary + TU_TIMEOUT);
	assert_int_equal(mqb_async_timer_rearm(f->t, 1), -EINVAL);
	mqb_async_timer_cancel(f->t);
	fx_free(f);
}

/* ---- many, shutdown, errors ---------------------------------------------- */

#define MANY 10000

struct many {
	struct mqb_core *core;
	int fired, out_of_order, last;
};

static struct many M;

static void many_cb(struct mqb_timer *t, void *ud)
{
	int i = (int)(intptr_t)ud;
	if (i < M.last)
		M.out_of_order++;
	M.last = i;
	if (++M.fired == MANY / 2)
		mqb_core_async_stop(M.core, 0);
}

/* Ten thousand live timers, every other one cancelled before its time:
 * the rest fire, in the order of their delays. */
static void ten_thousand_timers_fire_in_order_and_half_cancel(void **state)
{
	memset(&M, 0, sizeof M);
	assert_int_equal(mqb_core_new(NULL, &M.core), 0);
	static struct mqb_timer *h[MANY];
	for (int i = 0; i < MANY; i++)
		assert_int_equal(mqb_async_call_later(M.core, 0.01 + i * 1e-5, many_cb,
						      (void *)(intptr_t)i, &h[i]),
				 0);
	for (int i = 0; i < MANY; i += 2)
		mqb_async_timer_cancel(h[i]);
	assert_int_equal(tu_run(M.core, TU_TIMEOUT), 0);
	assert_int_equal(M.fired, MANY / 2);
	assert_int_equal(M.out_of_order, 0);
	/* the other half is left for the core to free with itself */
	mqb_core_free(M.core);
}

/* Shutdown disarms every timer and refuses new ones; handles stay the
 * caller's until cancelled or the core is freed. */
static void shutdown_disarms_timers_and_refuses_new_ones(void **state)
{
	struct fx *f = fx_new();
	struct mqb_timer *kept;
	assert_int_equal(mqb_async_track_time_interval(f->core, 3600, must_not_fire, NULL, &kept),
			 0);
	assert_int_equal(mqb_async_track_wall_interval(f->core, 3600, 0, must_not_fire, NULL, NULL),
			 0);
	assert_int_equal(mqb_async_call_later(f->core, 0.01, stop_core, f->core, NULL), 0);
	assert_int_equal(tu_run(f->core, TU_TIMEOUT), 0);
	assert_false(mqb_async_timer_active(kept));
	assert_int_equal(mqb_async_timer_rearm(kept, 1), -ESHUTDOWN);
	assert_int_equal(mqb_async_call_later(f->core, 1, must_not_fire, NULL, NULL), -ESHUTDOWN);
	assert_int_equal(mqb_async_timer_new(f->core, must_not_fire, NULL, &f->t), -ESHUTDOWN);
	fx_free(f); /* frees kept */
}

static void bad_arguments_and_no_memory_change_nothing(void **state)
{
	struct fx *f = fx_new();
	struct mqb_timer *t = NULL;
	assert_int_equal(mqb_async_call_later(f->core, NAN, count, f, &t), -EINVAL);
	assert_int_equal(mqb_async_call_later(f->core, 1, NULL, f, &t), -EINVAL);
	assert_int_equal(mqb_async_call_at(f->core, INFINITY, count, f, &t), -EINVAL);
	assert_int_equal(mqb_async_track_time_interval(f->core, 0, count, f, &t), -EINVAL);
	assert_int_equal(mqb_async_track_wall_interval(f->core, -1, 0, count, f, &t), -EINVAL);
	assert_int_equal(mqb_async_track_wall_interval(f->core, 60, NAN, count, f, &t), -EINVAL);
	assert_null(t);
	mqb__alloc_fail_after(1);
	assert_int_equal(mqb_async_call_later(f->core, 1, count, f, &t), -ENOMEM);
	mqb__alloc_fail_after(0);
	assert_null(t);
	assert_int_equal(mqb_async_timer_new(f->core, count, f, &t), 0);
	assert_int_equal(mqb_async_timer_rearm(t, NAN), -EINVAL);
	assert_false(mqb_async_timer_active(t));
	mqb_async_timer_cancel(t);
	fx_free(f);
}

/* ---- the fake clock ------------------------------------------------------ */

static void advance_an_hour(struct mqb_timer *t, void *ud)
{
	struct fx *f = ud;
	timer__advance(f->core, 3600);
}

/* Tests of what waits for minutes (a delay, a state held `for:`) move a
 * fake clock instead of sleeping: an hour passes at once, the timers due
 * within it fire, later ones wait, and the wall clock has moved too. */
static void advancing_the_fake_clock_fires_what_is_due(void **state)
{
	struct fx *f = fx_new();
	f->stop_after = 2;
	double before = 0;
	assert_int_equal(mqb_async_call_later(f->core, 1800, count, f, NULL), 0);
	assert_int_equal(mqb_async_track_time_interval(f->core, 3000, count, f, NULL), 0);
	assert_int_equal(mqb_async_call_later(f->core, 7200, count, f, NULL), 0);
	before = mqb_async_now(f->core);
	assert_int_equal(mqb_async_call_later(f->core, 0, advance_an_hour, f, NULL), 0);
	assert_int_equal(tu_run(f->core, TU_TIMEOUT), 0);
	assert_int_equal(f->fired, 2);
	assert_true(f->wall - before >= 3600);
	assert_true(f->wall - before < 3600 + TU_TIMEOUT);
	fx_free(f);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(a_call_later_fires_once_after_its_delay),
	cmocka_unit_test(a_handle_outlives_its_shot_and_can_be_rearmed),
	cmocka_unit_test(cancel_inside_its_own_callback_ends_it),
	cmocka_unit_test(cancelled_and_stopped_timers_never_fire),
	cmocka_unit_test(a_new_timer_waits_for_rearm_and_stop_keeps_it),
	cmocka_unit_test(an_interval_timer_fires_every_interval),
	cmocka_unit_test(call_at_fires_when_the_wall_clock_reaches_it),
	cmocka_unit_test(call_at_in_the_past_fires_at_once),
	cmocka_unit_test(a_clock_stepped_forward_fires_call_at_but_not_call_later),
	cmocka_unit_test(a_clock_stepped_back_holds_call_at),
	cmocka_unit_test(a_wall_interval_fires_on_the_clocks_boundaries),
	cmocka_unit_test(ten_thousand_timers_fire_in_order_and_half_cancel),
	cmocka_unit_test(shutdown_disarms_timers_and_refuses_new_ones),
	cmocka_unit_test(bad_arguments_and_no_memory_change_nothing),
	cmocka_unit_test(advancing_the_fake_clock_fires_what_is_due),
};

TU_MAIN(tests)
