/* SPDX-License-Identifier: MIT */
/* Timers on the loop, shaped as Home Assistant's event helpers: call later
 * (monotonic), call at a wall-clock time, every interval, and on the wall
 * clock's boundaries (each minute on the minute). Modules use these and
 * never the loop itself. Arming, re-arming and cancelling cost O(log n) in
 * the live timers and re-arming allocates nothing, so thousands may run. */
#ifndef MQBRIDGE_TIMER_H
#define MQBRIDGE_TIMER_H

#include <stdbool.h>

struct mqb_core;

/* A timer. A handle the caller asked for (out not NULL) stays valid until
 * mqb_async_timer_cancel, also after a one-shot timer fired or shutdown
 * disarmed it: cancel every handle you take (the core frees what is left
 * when it is freed, after which no handle is valid). A timer created
 * without a handle is the core's: freed once it has fired for the last
 * time, or at shutdown. */
struct mqb_timer;

/* Runs on the loop thread when t fires, like a CALLBACK job: it must not
 * block (to run a coroutine or a pool job, hand one to mqb_async_add_job).
 * It may cancel, stop or re-arm t, and make other timers. */
typedef void (*mqb_timer_fn)(struct mqb_timer *t, void *ud);

/* Call fn(t, ud) once, delay seconds from now on the monotonic clock (a
 * clock step changes nothing): Home Assistant's async_call_later. "Now" is
 * when this loop iteration began; delay < 0 is 0. *out (may be NULL) gets
 * the handle. 0; -EINVAL (delay NaN, fn NULL), -ENOMEM, or -ESHUTDOWN once
 * shutdown has disarmed the timers. Thread: loop. */
int mqb_async_call_later(struct mqb_core *core, double delay, mqb_timer_fn fn, void *ud,
			 struct mqb_timer **out);

/* Call fn(t, ud) once when the wall clock reads when (Unix time, seconds),
 * following the clock if it is stepped meanwhile (libev notices a step
 * within a minute at worst): Home Assistant's
 * async_track_point_in_utc_time. A time already past fires at once.
 * Errors as mqb_async_call_later (-EINVAL: when not finite).
 * Thread: loop. */
int mqb_async_call_at(struct mqb_core *core, double when, mqb_timer_fn fn, void *ud,
		      struct mqb_timer **out);

/* Call fn(t, ud) every interval seconds on the monotonic clock, the first
 * time interval seconds from now: Home Assistant's
 * async_track_time_interval. Errors as mqb_async_call_later (-EINVAL:
 * interval not > 0). Thread: loop. */
int mqb_async_track_time_interval(struct mqb_core *core, double interval, mqb_timer_fn fn,
				  void *ud, struct mqb_timer **out);

/* Call fn(t, ud) whenever the wall clock reaches offset + k * period (Unix
 * time, any integer k), following clock steps: (60, 0) is each minute on
 * the minute, Home Assistant's async_track_utc_time_change(second=0);
 * (3600, 1800) each hour at half past. Errors as mqb_async_call_later
 * (-EINVAL: period not > 0, offset not finite). Thread: loop. */
int mqb_async_track_wall_interval(struct mqb_core *core, double period, double offset,
				  mqb_timer_fn fn, void *ud, struct mqb_timer **out);

/* A one-shot timer that is not armed yet, for an owner that arms the same
 * timer again and again (a sensor's expire_after, a delay): arm it with
 * mqb_async_timer_rearm. Errors as mqb_async_call_later. Thread: loop. */
int mqb_async_timer_new(struct mqb_core *core, mqb_timer_fn fn, void *ud,
			struct mqb_timer **out);

/* Arm t to fire delay seconds from now, as mqb_async_call_later would,
 * whether it is armed, has fired or was stopped: a one-shot timer (also
 * one from mqb_async_call_at) fires once then; an interval timer fires
 * then and every interval after. 0; -EINVAL for a wall-clock interval
 * timer or a NaN delay; -ESHUTDOWN once shutdown has disarmed the timers.
 * Thread: loop. */
int mqb_async_timer_rearm(struct mqb_timer *t, double delay);

/* Disarm t and keep the handle, to re-arm later. Accepts NULL.
 * Thread: loop. */
void mqb_async_timer_stop(struct mqb_timer *t);

/* Disarm t for good and give its handle back: fn is not called again and
 * t is invalid from here. Safe inside t's own fn (t is freed when fn
 * returns), after it fired and after a stop. Accepts NULL. Thread: loop. */
void mqb_async_timer_cancel(struct mqb_timer *t);

/* Whether t will fire (armed, not stopped, not past its one shot).
 * Thread: loop. */
bool mqb_async_timer_active(const struct mqb_timer *t);

/* The wall clock the timers follow, Unix time in seconds, as it read when
 * this loop iteration began: Home Assistant's dt_util.utcnow() for code on
 * the loop. Thread: loop. */
double mqb_async_now(struct mqb_core *core);

/* A monotonic clock in seconds, for measuring intervals. Thread: any. */
double mqb_time_monotonic(void);

#endif
