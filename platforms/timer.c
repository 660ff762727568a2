/* SPDX-License-Identifier: MIT */
/* timer: Home Assistant's countdown helper (homeassistant/components/timer):
 * idle, active or paused; start (with a duration), pause, cancel, finish
 * and change; the events timer.started, restarted, paused, cancelled,
 * finished and changed; the attributes duration, remaining, finishes_at,
 * last_transition and restore. It ends on the wall clock, as Home
 * Assistant's does. With restore, an active timer comes back after a
 * restart with what remained, or finishes at once if its end passed
 * meanwhile. Shown to Home Assistant as an MQTT sensor. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/collection.h"
#include "mqbridge/entity.h"
#include "mqbridge/error.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/restore.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"

#define SUB "timer"

struct conf {
	const char *name, *icon;
	double duration;
	bool restore;
};

#define K(k, t, f, ...) \
	{.key = k, .type = t, .offset = offsetof(struct conf, f), .stored = true, __VA_ARGS__}
static const struct mqb_schema_key keys[] = {
	K("name", MQB_S_STRING, name, .doc = "the friendly name"),
	K("icon", MQB_S_STRING, icon, .doc = "an icon, mdi:name"),
	K("duration", MQB_S_DURATION, duration, .def = "0",
	  .doc = "how long it runs when started without one"),
	K("restore", MQB_S_BOOL, restore, .def = "false",
	  .doc = "an active or paused timer comes back after a restart"),
};
static const struct mqb_schema schema = MQB_SCHEMA("timer", keys);

enum status { IDLE, ACTIVE, PAUSED };
static const char *const status_names[] = {"idle", "active", "paused"};

struct timer {
	struct mqb_entity *e;
	enum status status;
	double configured, running; /* durations, seconds */
	double remaining, end;      /* NAN: None */
	bool restore;
	char last_transition[16];   /* "": None */
	struct mqb_timer *listener; /* armed while active */
	bool carried;
};

static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	for (size_t i = 0; i < n; i++)
		mqb_collection_check(&entries[i], &schema, NULL, errs);
}

/* ---- time as the timer writes it ------------------------------------------ */

/* _format_timedelta: "H:MM:SS", each part cut to a whole number. */
static const char *hms(double s, char buf[48])
{
	double h = floor(s / 3600), rest = s - h * 3600, m = floor(rest / 60), sec = rest - m * 60;
	snprintf(buf, 48, "%d:%02d:%02d", (int)h, (int)m, (int)sec);
	return buf;
}

/* cv.time_period of what _format_timedelta wrote. */
static bool read_hms(const char *s, double *out)
{
	return s && mqb_parse_time_period_str(s, strlen(s), out);
}

/* dt_util.utcnow().replace(microsecond=0). */
static double now_s(struct timer *x)
{
	return floor(mqb_async_now(mqb_entity_core(x->e)));
}

/* ---- state and events ---------------------------------------------------------- */

static void show(struct timer *x)
{
	char b[48];
	mqb_entity_async_set_state(x->e, status_names[x->status]);
	json_t *a = json_pack("{s:s, s:b}", "duration", hms(x->running, b), "editable", 0);
	if (!a)
		return;
	json_object_set_new(a, "last_transition", x->last_transition[0]
							  ? json_string(x->last_transition)
							  : json_null());
	if (!isnan(x->end)) {
		char iso[MQB_ISOFORMAT_MAX];
		mqb_isoformat(x->end, iso);
		json_object_set_new(a, "finishes_at", json_string(iso));
	}
	if (!isnan(x->remaining))
		json_object_set_new(a, "remaining", json_string(hms(x->remaining, b)));
	if (x->restore)
		json_object_set_new(a, "restore", json_true());
	mqb_entity_async_set_attributes(x->e, a);
}

/* _fire_event_and_write_state: the transition noted, the state written,
 * then timer.<event> fired with the entity id (and finished_at). */
static int transition(struct timer *x, const char *event, double finished_at)
{
	snprintf(x->last_transition, sizeof x->last_transition, "%s", event);
	show(x);
	int rc = mqb_entity_async_write(x->e);
	char type[32], iso[MQB_ISOFORMAT_MAX];
	snprintf(type, sizeof type, "timer.%s", event);
	json_t *data = json_pack("{s:s}", "entity_id", mqb_entity_id(x->e));
	if (data && !isnan(finished_at)) {
		mqb_isoformat(finished_at, iso);
		json_object_set_new(data, "finished_at", json_string(iso));
	}
	int frc = mqb_bus_async_fire(mqb_entity_core(x->e), type, data);
	return rc ? rc : frc;
}

static void disarm(struct timer *x)
{
	mqb_async_timer_cancel(x->listener);
	x->listener = NULL;
}

static void ended(struct mqb_timer *t, void *ud);

static int arm(struct timer *x)
{
	disarm(x);
	return mqb_async_call_at(mqb_entity_core(x->e), x->end, ended, x, &x->listener);
}

/* idle again, finished: from the listener, finish, or a restore whose
 * end has passed. */
static int finish_at(struct timer *x, double end)
{
	disarm(x);
	x->status = IDLE;
	x->end = x->remaining = NAN;
	x->running = x->configured;
	return transition(x, "finished", end);
}

/* _async_finished: the end came. */
static void ended(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct timer *x = ud;
	if (x->status != ACTIVE || isnan(x->end))
		return;
	finish_at(x, x->end);
}

/* async_start: a duration given starts it over with it; else a paused
 * one resumes with what remained, an idle one runs its duration. */
static int start(struct timer *x, double duration)
{
	const char *event = x->status == IDLE ? "started" : "restarted";
	x->status = ACTIVE;
	double begin = now_s(x);
	if (duration != 0)
		x->remaining = x->running = duration;
	else if (isnan(x->remaining) || x->remaining == 0)
		x->remaining = x->running;
	x->end = begin + x->remaining;
	int rc = arm(x);
	if (rc)
		MQB_LOG_WARNING(SUB, "%s: cannot wait for the end: %s", mqb_entity_id(x->e),
				mqb_strerror(rc));
	return transition(x, event, NAN);
}

/* async_change: more (or, negative, less) time for an active timer,
 * never beyond its duration nor below nothing. */
static int change(struct timer *x, double by)
{
	const char *id = mqb_entity_id(x->e);
	if (!x->listener || isnan(x->end)) {
		MQB_LOG_WARNING(SUB, "Timer %s is not running, only active timers can be changed", id);
		return -EINVAL;
	}
	double left = x->end + by - now_s(x);
	bool some = !isnan(x->remaining) && x->remaining != 0;
	if (some && left > x->running) {
		MQB_LOG_WARNING(SUB, "Not possible to change timer %s beyond duration", id);
		return -EINVAL;
	}
	if (some && x->remaining + by < 0) {
		MQB_LOG_WARNING(SUB, "Not possible to change timer %s to negative time remaining", id);
		return -EINVAL;
	}
	x->end += by;
	x->remaining = left;
	int rc = arm(x);
	/* the state, then the event; last_transition stays */
	show(x);
	int wrc = mqb_entity_async_write(x->e);
	json_t *data = json_pack("{s:s}", "entity_id", id);
	int frc = mqb_bus_async_fire(mqb_entity_core(x->e), "timer.changed", data);
	return rc ? rc : wrc ? wrc : frc;
}

/* The duration of start and change: cv.time_period, 0 when absent. */
static int duration_of(struct timer *x, const json_t *data, double *out)
{
	const json_t *d = json_object_get(data, "duration");
	char err[160];
	*out = 0;
	if (!d)
		return 0;
	if (mqb_cv_time_period(d, out, err, sizeof err)) {
		MQB_LOG_WARNING(SUB, "%s: %s for dictionary value @ data['duration']",
				mqb_entity_id(x->e), err);
		return -EINVAL;
	}
	return 0;
}

static int command(struct mqb_entity *e, void *priv, const char *service, const json_t *data)
{
	(void)e;
	struct timer *x = priv;
	double d;
	int rc;
	if (strcmp(service, "start") == 0)
		return (rc = duration_of(x, data, &d)) ? rc : start(x, d);
	if (strcmp(service, "change") == 0)
		return (rc = duration_of(x, data, &d)) ? rc : change(x, d);
	if (strcmp(service, "pause") == 0) {
		if (!x->listener || isnan(x->end))
			return 0;
		disarm(x);
		x->remaining = x->end - now_s(x);
		x->status = PAUSED;
		x->end = NAN;
		return transition(x, "paused", NAN);
	}
	if (strcmp(service, "cancel") == 0) {
		if (x->status == IDLE)
			return 0;
		disarm(x);
		x->status = IDLE;
		x->end = x->remaining = NAN;
		x->running = x->configured;
		return transition(x, "cancelled", NAN);
	}
	if (strcmp(service, "finish") == 0) {
		if (x->status == IDLE)
			return 0;
		return finish_at(x, isnan(x->end) ? now_s(x) : x->end);
	}
	return -ENOTSUP;
}

/* ---- restoring ------------------------------------------------------------------ */

/* async_added_to_hass: with restore, the last state; an active timer
 * resumes with what remained (timer.restarted), or finishes at once with
 * the end it missed (timer.finished). */
static int restore(struct timer *x, const json_t *last)
{
	const char *s = json_string_value(json_object_get(last, "state"));
	const json_t *attrs = json_object_get(last, "attributes");
	const char *lt = json_string_value(json_object_get(attrs, "last_transition"));
	snprintf(x->last_transition, sizeof x->last_transition, "%s", lt ? lt : "");
	double running, left, end;
	int32_t off;
	bool aware;
	if (!s || strcmp(s, "idle") == 0)
		return 0;
	if (!read_hms(json_string_value(json_object_get(attrs, "duration")), &running))
		goto bad;
	x->running = running;
	if (strcmp(s, "paused") == 0) {
		if (!read_hms(json_string_value(json_object_get(attrs, "remaining")), &left))
			goto bad;
		x->status = PAUSED;
		x->remaining = left;
		return 0;
	}
	const char *fa = json_string_value(json_object_get(attrs, "finishes_at"));
	if (strcmp(s, "active") != 0 || !fa || !mqb_parse_datetime(fa, &end, &off, &aware))
		goto bad;
	x->status = PAUSED;
	if (end - now_s(x) > 0) {
		x->remaining = end - now_s(x);
		return start(x, 0);
	}
	x->end = end;
	return finish_at(x, end);
bad:
	MQB_LOG_WARNING(SUB, "%s: cannot restore from its last state '%s': idle",
			mqb_entity_id(x->e), s);
	x->status = IDLE;
	x->running = x->configured;
	return 0;
}

static int added(struct mqb_entity *e, void *priv)
{
	struct timer *x = priv;
	x->e = e;
	const json_t *last = mqb_restore_async_last_state(e);
	int rc = 0;
	if (!x->carried && x->restore && last)
		rc = restore(x, last);
	show(x);
	int rrc = mqb_restore_async_register(e, NULL, NULL);
	return rc ? rc : rrc;
}

static const struct mqb_entity_ops ops = {.async_added = added, .async_command = command};

/* ---- the collection ---------------------------------------------------------------- */

/* Home Assistant formats the configured duration and reads it again:
 * whole seconds. */
static double configured_of(double d)
{
	return d > 0 ? floor(d) : d;
}

/* The entity of en's options. Carried (async_update_config): the new
 * duration and restore; a running timer runs on (its listener is the
 * item's, not the entity's), an idle one takes the new duration. */
static int add(struct mqb_integration *in, void *item, const struct mqb_component_entry *en,
	       bool carried, struct mqb_entity **e)
{
	struct timer *x = item;
	struct conf c = {0};
	mqb_collection_conf(en, &schema, &c);
	if (!carried)
		x->remaining = x->end = NAN;
	x->configured = configured_of(c.duration);
	x->restore = c.restore;
	x->carried = carried;
	if (!carried || x->status == IDLE)
		x->running = x->configured;
	struct mqb_entity_info info = {.name = c.name, .icon = c.icon,
				       .force_update = true};
	return mqb_collection_add_entity(in, en, &info, &ops, x, e);
}

static void timer_fini(void *item)
{
	disarm(item);
}

static const struct mqb_collection_ops collection = {
	.item_size = sizeof(struct timer), .async_add = add, .fini = timer_fini};

MQB_COLLECTION_MODULE("timer", collection, check);
