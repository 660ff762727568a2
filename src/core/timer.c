/* SPDX-License-Identifier: MIT */
/* Timers on the loop (mqbridge/timer.h): one libev watcher each, an
 * ev_timer on the monotonic clock or an ev_periodic on the wall clock,
 * kept on a list so shutdown can disarm them and the core free them. */
#include "core/core_impl.h"

#include <errno.h>
#include <math.h>

#include "mqbridge/timer.h"

enum timer_kind {
	T_ONCE,     /* ev_timer, no repeat: call_later, timer_new, rearm */
	T_EVERY,    /* ev_timer repeating every interval */
	T_AT,       /* ev_periodic at an absolute wall time */
	T_WALL,     /* ev_periodic at offset + k * period of the wall clock */
};

struct mqb_timer {
	union {
		ev_timer mono;
		ev_periodic wall;
	} w;
	struct mqb_core *core;
	mqb_timer_fn fn;
	void *ud;
	double interval;        /* T_EVERY, T_WALL */
	double at;              /* T_AT: when; T_WALL: offset (on the shifted clock) */
	struct mqb_timer *prev, *next;
	unsigned char kind;
	bool owned;             /* the caller holds the handle */
	bool firing;            /* fn is running */
	bool cancelled;         /* given back inside fn: freed when fn returns */
	bool passed;            /* timer__advance went past its next boundary */
};

static bool is_mono(const struct mqb_timer *t)
{
	return t->kind == T_ONCE || t->kind == T_EVERY;
}

static void disarm(struct mqb_timer *t)
{
	if (is_mono(t))
		ev_timer_stop(t->core->loop, &t->w.mono);
	else
		ev_periodic_stop(t->core->loop, &t->w.wall);
}

static void unlink_free(struct mqb_timer *t)
{
	struct mqb_core *core = t->core;
	disarm(t);
	if (t->prev)
		t->prev->next = t->next;
	else
		core->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	mqb__free(t);
}

/* Done with t: now, or when its fn returns if it is running. */
static void release(struct mqb_timer *t)
{
	if (t->firing) {
		disarm(t);
		t->cancelled = true;
	} else {
		unlink_free(t);
	}
}

static void fire(struct mqb_timer *t)
{
	t->firing = true;
	t->fn(t, t->ud);
	t->firing = false;
	if (t->cancelled || (!t->owned && !mqb_async_timer_active(t)))
		unlink_free(t);
}

static void mono_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mqb_timer *t = w->data;
	if (t->kind == T_ONCE)
		ev_timer_stop(loop, w); /* a rearm may have left a repeat set */
	fire(t);
}

static void wall_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	fire(w->data); /* libev stops an absolute periodic itself */
}

/* ev_periodic counts on libev's wall clock; the timers' clock is that
 * plus core->wall_shift, which only tests move. libev wants an interval
 * timer's offset within [0, interval). */
static void arm_wall(struct mqb_timer *t)
{
	double at = t->at - t->core->wall_shift;
	if (t->kind == T_AT) {
		ev_periodic_set(&t->w.wall, at, 0, 0);
	} else {
		double off = fmod(at, t->interval);
		ev_periodic_set(&t->w.wall, off < 0 ? off + t->interval : off, t->interval, 0);
	}
	ev_periodic_start(t->core->loop, &t->w.wall);
}

static int timer_make(struct mqb_core *core, enum timer_kind kind, mqb_timer_fn fn, void *ud,
		      struct mqb_timer **out, struct mqb_timer **made)
{
	MQB_ASSERT_LOOP(core);
	if (!fn)
		return -EINVAL;
	if (core->timers_closed)
		return -ESHUTDOWN;
	struct mqb_timer *t = mqb__calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->core = core;
	t->kind = (unsigned char)kind;
	t->fn = fn;
	t->ud = ud;
	t->owned = out != NULL;
	if (is_mono(t)) {
		ev_init(&t->w.mono, mono_cb);
		t->w.mono.data = t;
	} else {
		ev_init(&t->w.wall, wall_cb);
		t->w.wall.data = t;
	}
	t->next = core->timers;
	if (t->next)
		t->next->prev = t;
	core->timers = t;
	if (out)
		*out = t;
	*made = t;
	return 0;
}

int mqb_async_timer_new(struct mqb_core *core, mqb_timer_fn fn, void *ud,
			struct mqb_timer **out)
{
	struct mqb_timer *t;
	return timer_make(core, T_ONCE, fn, ud, out, &t);
}

int mqb_async_call_later(struct mqb_core *core, double delay, mqb_timer_fn fn, void *ud,
			 struct mqb_timer **out)
{
	if (isnan(delay))
		return -EINVAL;
	struct mqb_timer *t;
	int rc = timer_make(core, T_ONCE, fn, ud, out, &t);
	if (rc == 0)
		mqb_async_timer_rearm(t, delay);
	return rc;
}

int mqb_async_track_time_interval(struct mqb_core *core, double interval, mqb_timer_fn fn,
				  void *ud, struct mqb_timer **out)
{
	if (!(interval > 0) || !isfinite(interval))
		return -EINVAL;
	struct mqb_timer *t;
	int rc = timer_make(core, T_EVERY, fn, ud, out, &t);
	if (rc == 0) {
		t->interval = interval;
		mqb_async_timer_rearm(t, interval);
	}
	return rc;
}

int mqb_async_call_at(struct mqb_core *core, double when, mqb_timer_fn fn, void *ud,
		      struct mqb_timer **out)
{
	if (!isfinite(when))
		return -EINVAL;
	struct mqb_timer *t;
	int rc = timer_make(core, T_AT, fn, ud, out, &t);
	if (rc == 0) {
		t->at = when;
		arm_wall(t);
	}
	return rc;
}

int mqb_async_track_wall_interval(struct mqb_core *core, double period, double offset,
				  mqb_timer_fn fn, void *ud, struct mqb_timer **out)
{
	if (!(period > 0) || !isfinite(period) || !isfinite(offset))
		return -EINVAL;
	struct mqb_timer *t;
	int rc = timer_make(core, T_WALL, fn, ud, out, &t);
	if (rc == 0) {
		t->interval = period;
		t->at = offset;
		arm_wall(t);
	}
	return rc;
}

int mqb_async_timer_rearm(struct mqb_timer *t, double delay)
{
	MQB_ASSERT_LOOP(t->core);
	if (t->kind == T_WALL || isnan(delay))
		return -EINVAL;
	if (t->core->timers_closed)
		return -ESHUTDOWN;
	if (delay < 0)
		delay = 0;
	struct ev_loop *loop = t->core->loop;
	if (t->kind == T_AT) {
		ev_periodic_stop(loop, &t->w.wall);
		t->kind = T_ONCE;
		ev_init(&t->w.mono, mono_cb);
		t->w.mono.data = t;
	}
	if (t->kind == T_ONCE) {
		/* ev_timer_again moves an armed timer within the heap instead
		 * of taking it out and putting it back; mono_cb stops it after
		 * its one shot. */
		t->w.mono.repeat = delay > 0 ? delay : 1e-9;
		ev_timer_again(loop, &t->w.mono);
	} else {
		ev_timer_stop(loop, &t->w.mono);
		ev_timer_set(&t->w.mono, delay, t->interval);
		ev_timer_start(loop, &t->w.mono);
	}
	return 0;
}

void mqb_async_timer_stop(struct mqb_timer *t)
{
	if (!t)
		return;
	MQB_ASSERT_LOOP(t->core);
	disarm(t);
}

void mqb_async_timer_cancel(struct mqb_timer *t)
{
	if (!t)
		return;
	MQB_ASSERT_LOOP(t->core);
	release(t);
}

bool mqb_async_timer_active(const struct mqb_timer *t)
{
	return is_mono(t) ? ev_is_active(&t->w.mono) : ev_is_active(&t->w.wall);
}

double mqb_async_now(struct mqb_core *core)
{
	MQB_ASSERT_LOOP(core);
	return ev_now(core->loop) + core->wall_shift;
}

double mqb_time_monotonic(void)
{
	return mqb__time_mono();
}

/* ---- the core's side ---------------------------------------------------- */

void timer__close(struct mqb_core *core)
{
	core->timers_closed = true;
	for (struct mqb_timer *t = core->timers, *next; t; t = next) {
		next = t->next;
		if (t->owned)
			disarm(t);
		else
			release(t);
	}
}

void timer__fini(struct mqb_core *core)
{
	while (core->timers)
		unlink_free(core->timers);
}

void timer__shift_wall(struct mqb_core *core, double seconds)
{
	MQB_ASSERT_LOOP(core);
	core->wall_shift += seconds;
	for (struct mqb_timer *t = core->timers; t; t = t->next)
		if (!is_mono(t) && ev_is_active(&t->w.wall)) {
			ev_periodic_stop(core->loop, &t->w.wall);
			arm_wall(t);
		}
}

void timer__advance(struct mqb_core *core, double seconds)
{
	MQB_ASSERT_LOOP(core);
	/* Monotonic timers keep what remains minus seconds (due ones fire in
	 * the next iteration); the wall clock moves with them. */
	for (struct mqb_timer *t = core->timers; t; t = t->next)
		if (is_mono(t) && ev_is_active(&t->w.mono)) {
			double left = ev_timer_remaining(core->loop, &t->w.mono) - seconds;
			ev_timer_stop(core->loop, &t->w.mono);
			ev_timer_set(&t->w.mono, left > 0 ? left : 0, t->interval);
			ev_timer_start(core->loop, &t->w.mono);
		}
	/* A boundary of a wall interval that the time passed over fires once,
	 * as it would have had the time passed; a stepped clock
	 * (timer__shift_wall) skips it, as libev does after a jump. */
	double until = ev_now(core->loop) + seconds;
	for (struct mqb_timer *t = core->timers; t; t = t->next)
		t->passed = t->kind == T_WALL && ev_is_active(&t->w.wall) && seconds > 0 &&
			    ev_periodic_at(&t->w.wall) <= until;
	timer__shift_wall(core, seconds);
	for (struct mqb_timer *t = core->timers; t; t = t->next)
		if (t->passed) {
			t->passed = false;
			ev_feed_event(core->loop, &t->w.wall, EV_PERIODIC);
		}
}
