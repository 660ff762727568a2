/* SPDX-License-Identifier: MIT */
/* The time trigger (Home Assistant's triggers/time.py: at a local time of
 * day, an input_datetime's time or a timestamp sensor's, with an offset)
 * and the time_pattern trigger (hours, minutes, seconds as "*", N or
 * "/N"), both on the local wall clock with Home Assistant's rules at a
 * change of daylight saving time: a time the clock skips does not fire
 * that day, one it repeats fires twice. */
#include "lib/internal.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "mqbridge/bus.h"
#include "mqbridge/states.h"
#include "mqbridge/timer.h"
#include "mqbridge/track.h"

#include "config/schema.h"
#include "ha/cv.h"
#include "ha/duration.h"
#include "ha/trigger_impl.h"
#include "ha/tval.h"
#include "template/tpl.h"

#define SUB "trigger"

/* ---- the wall clock ------------------------------------------------------------ */

/* The local times of day that match: one bit each hour, minute, second. */
struct wall {
	uint32_t hours;
	uint64_t minutes, seconds;
};

/* The first matching second of the day at or after sod; -1: none. */
static long next_of_day(const struct wall *w, long sod)
{
	int h = (int)(sod / 3600), m = (int)(sod / 60 % 60), s = (int)(sod % 60);
	for (; h < 24; h++, m = 0, s = 0) {
		if (!(w->hours >> h & 1))
			continue;
		for (; m < 60; m++, s = 0) {
			if (!(w->minutes >> m & 1))
				continue;
			for (; s < 60; s++)
				if (w->seconds >> s & 1)
					return h * 3600L + m * 60L + s;
		}
	}
	return -1;
}

/* The first instant at or after x (whole seconds) whose local time
 * matches w (Home Assistant's find_next_time_expression_time): walk the
 * wall clock forward, and where its offset changes on the way, restart
 * from the change, so a skipped time is missed until the next day and a
 * repeated one matches in both folds. NAN when none is found. */
static double wall_next(const struct wall *w, time_t x)
{
	for (int guard = 0; guard < 64; guard++) {
		struct tm now, then;
		if (!localtime_r(&x, &now))
			return NAN;
		long sod = now.tm_hour * 3600L + now.tm_min * 60L + (now.tm_sec > 59 ? 59 : now.tm_sec);
		long want = next_of_day(w, sod);
		if (want == sod)
			return (double)x;
		long first = next_of_day(w, 0);
		if (first < 0)
			return NAN;
		time_t y = x + (want > sod ? want - sod : 86400 - sod + first);
		if (!localtime_r(&y, &then))
			return NAN;
		if (then.tm_gmtoff != now.tm_gmtoff) {
			/* the first instant with the new offset */
			time_t lo = x, hi = y;
			while (hi - lo > 1) {
				time_t mid = lo + (hi - lo) / 2;
				struct tm t;
				localtime_r(&mid, &t);
				if (t.tm_gmtoff == now.tm_gmtoff)
					lo = mid;
				else
					hi = mid;
			}
			y = hi;
		}
		x = y;
	}
	return NAN;
}

static void wall_at(struct wall *w, long sod)
{
	w->hours = 1u << (sod / 3600);
	w->minutes = 1ull << (sod / 60 % 60);
	w->seconds = 1ull << (sod % 60);
}

/* ---- time ----------------------------------------------------------------------- */

struct at {
	long sod;               /* a fixed time of day; -1: */
	char *entity;           /* an input_datetime or a sensor's */
	double offset;          /* seconds, a sensor's */
};

struct conf {
	size_t n;
	struct at *at;
};

static const char *const time_keys[] = {"at", NULL};

static void time_conf_free(void *p)
{
	struct conf *c = p;
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		mqb__free(c->at[i].entity);
	mqb__free(c->at);
	mqb__free(c);
}

#define AT_EXPECTED \
	"Expected HH:MM, HH:MM:SS, an Entity ID with domain 'input_datetime' or 'sensor', or a " \
	"combination of a timestamp sensor entity and an offset."

static bool domain_is(const char *id, const char *domain)
{
	size_t n = strlen(domain);
	return strncmp(id, domain, n) == 0 && id[n] == '.';
}

static size_t compile_at(const struct mqb_conf_node *n, const char *path,
			 struct mqb_conf_errors *errs, struct at *at)
{
	at->sod = -1;
	if (mqb_conf_kind(n) == MQB_CONF_MAP) {
		static const char *const keys[] = {"entity_id", "offset", NULL};
		size_t found = cv__check_keys(n, path, keys, errs);
		const char *id = cv__text(mqb_conf_get(n, "entity_id"));
		const struct mqb_conf_node *off = mqb_conf_get(n, "offset");
		if (found || !id || !mqb_entity_id_valid(id) || !domain_is(id, "sensor")) {
			mqb_conf_error_at(errs, n, path, AT_EXPECTED);
			return 1;
		}
		if (off) {
			struct duration d;
			char p[CV_PATH_MAX];
			if (duration__compile(&d, off, cv__path(p, path, ".offset"), 0, errs))
				return 1;
			bool fixed = duration__fixed(&d);
			at->offset = d.seconds;
			duration__fini(&d);
			if (!fixed) {
				mqb_conf_error_at(errs, off, p, "expected a duration, not a template");
				return 1;
			}
		}
		return !(at->entity = mqb__strdup(id));
	}
	const char *s = cv__text(n);
	double sod;
	json_t *typed = s && !mqb_conf_quoted(n) ? tval__yaml11(s, strlen(s)) : NULL;
	bool number = typed != NULL; /* YAML 1.1 read 1:00:05 as 3605 */
	json_decref(typed);
	if (s && !number && duration__parse_time_of_day(s, strlen(s), &sod)) {
		at->sod = (long)sod;
		return 0;
	}
	if (s && mqb_entity_id_valid(s) && (domain_is(s, "input_datetime") || domain_is(s, "sensor")))
		return !(at->entity = mqb__strdup(s));
	mqb_conf_error_at(errs, n, path, AT_EXPECTED);
	return 1;
}

static size_t time_compile(const struct mqb_conf_node *node, const char *path,
			   struct mqb_conf_errors *errs, void **priv)
{
	size_t found = 0;
	char p[CV_PATH_MAX];
	const struct mqb_conf_node *at = cv__required(node, "at", path, errs, &found);
	if (!at)
		return found;
	struct conf *c = mqb__calloc(1, sizeof *c);
	size_t n = mqb_conf_kind(at) == MQB_CONF_SEQ ? mqb_conf_len(at) : 1;
	if (!c || !(c->at = mqb__calloc(n ? n : 1, sizeof *c->at))) {
		mqb__free(c);
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	c->n = n;
	for (size_t i = 0; i < n; i++) {
		if (mqb_conf_kind(at) == MQB_CONF_SEQ)
			found += compile_at(mqb_conf_item(at, i), cv__path(p, path, ".at[%zu]", i),
					    errs, &c->at[i]);
		else
			found += compile_at(at, cv__path(p, path, ".at"), errs, &c->at[i]);
	}
	if (found)
		time_conf_free(c);
	else
		*priv = c;
	return found;
}

struct one {
	struct trig_run *r;
	const struct at *at;
	struct mqb_timer *timer;
	struct mqb_track *track;
	bool daily;             /* a time of day (fixed, or an input_datetime's) */
	struct wall wall;
	double when;            /* a one-shot's instant */
};

struct time_run {
	size_t n;
	struct one ones[];
};

static void schedule(struct one *o, double after);

static void time_fire(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct one *o = ud;
	struct trig_run *r = o->r;
	double now = mqb_async_now(r->a->core);
	char desc[MQB_MAX_ENTITY_ID_LEN + 16] = "time";
	const char *id = o->at->entity;
	if (id)
		snprintf(desc, sizeof desc, "time set in %s", id);
	/* trigger.now: the clock when a time of day comes; a one-shot's own
	 * instant (async_track_point_in_time) */
	json_t *data = json_pack("{s:o,s:s,s:o}", "now",
				 trigger__local_time(o->daily ? now : o->when), "description", desc,
				 "entity_id", id ? json_string(id) : json_null());
	trigger__enter(r);
	if (o->daily) {
		schedule(o, fmax(now, o->when) + 1);
	} else {
		mqb_async_timer_cancel(o->timer); /* a one-shot's handle, given back */
		o->timer = NULL;
	}
	trigger__fire(r, data);
	trigger__leave(r);
}

/* Arm o's next firing at or after after (a time of day), or at o->when:
 * on the wall clock, which it follows if it is stepped. */
static void schedule(struct one *o, double after)
{
	double at = o->daily ? wall_next(&o->wall, (time_t)ceil(after)) : o->when;
	if (o->daily)
		o->when = at;
	mqb_async_timer_cancel(o->timer);
	o->timer = NULL;
	if (!isnan(at) && mqb_async_call_at(o->r->a->core, at, time_fire, o, &o->timer))
		MQB_LOG_ERROR(SUB, "%s: cannot arm the time trigger", trigger__name(o->r));
}

/* An entity's time, from its state now: Home Assistant re-reads it at
 * every change. */
static void follow(struct one *o, const struct mqb_state *s)
{
	struct mqb_core *core = o->r->a->core;
	mqb_async_timer_cancel(o->timer);
	o->timer = NULL;
	o->daily = false;
	if (!s)
		return;
	double now = mqb_async_now(core);
	const json_t *attrs = mqb_state_attributes(s);
	if (domain_is(o->at->entity, "input_datetime")) {
		bool has_date = json_is_true(json_object_get(attrs, "has_date"));
		bool has_time = json_is_true(json_object_get(attrs, "has_time"));
		long h = (long)json_integer_value(json_object_get(attrs, "hour"));
		long m = (long)json_integer_value(json_object_get(attrs, "minute"));
		long sec = (long)json_integer_value(json_object_get(attrs, "second"));
		if (!has_date && !has_time)
			return;
		if (!has_date) {
			if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59)
				return;
			o->daily = true;
			wall_at(&o->wall, h * 3600 + m * 60 + sec);
			schedule(o, now);
			return;
		}
		struct tm tm = {
			.tm_year = (int)json_integer_value(json_object_get(attrs, "year")) - 1900,
			.tm_mon = (int)json_integer_value(json_object_get(attrs, "month")) - 1,
			.tm_mday = (int)json_integer_value(json_object_get(attrs, "day")),
			.tm_hour = has_time ? (int)h : 0,
			.tm_min = has_time ? (int)m : 0,
			.tm_sec = has_time ? (int)sec : 0,
			.tm_isdst = -1,
		};
		time_t t = mktime(&tm);
		if (t == (time_t)-1 || (double)t < now)
			return; /* a date past is never reached */
		o->when = (double)t;
		schedule(o, now);
		return;
	}
	/* a sensor: a timestamp, in the future */
	const char *dc = json_string_value(json_object_get(attrs, "device_class"));
	double ts;
	int32_t off;
	bool aware;
	if (!dc || strcmp(dc, "timestamp") || !tpl__parse_iso(mqb_state_value(s), &ts, &off, &aware))
		return;
	if (!aware) {
		/* a naive time is local */
		time_t t = (time_t)floor(ts);
		struct tm tm;
		gmtime_r(&t, &tm);
		tm.tm_isdst = -1;
		ts = (double)mktime(&tm) + (ts - floor(ts));
	}
	ts += o->at->offset;
	if (ts <= now)
		return;
	o->when = ts;
	schedule(o, now);
}

static void entity_changed(void *ud, const struct mqb_event *ev)
{
	struct one *o = ud;
	trigger__enter(o->r);
	follow(o, mqb_event_new_state(ev));
	trigger__leave(o->r);
}

static void time_detach(struct trig_run *r)
{
	struct time_run *run = r->state;
	if (!run)
		return;
	for (size_t i = 0; i < run->n; i++) {
		mqb_async_timer_cancel(run->ones[i].timer);
		mqb_async_track_cancel(run->ones[i].track);
	}
	mqb__free(run);
	r->state = NULL;
}

static int time_attach(struct trig_run *r)
{
	const struct conf *c = r->t->priv;
	struct time_run *run = mqb__calloc(1, sizeof *run + c->n * sizeof run->ones[0]);
	if (!run)
		return -ENOMEM;
	r->state = run;
	run->n = c->n;
	double now = mqb_async_now(r->a->core);
	for (size_t i = 0; i < c->n; i++) {
		struct one *o = &run->ones[i];
		o->r = r;
		o->at = &c->at[i];
		if (!o->at->entity) {
			o->daily = true;
			wall_at(&o->wall, o->at->sod);
			schedule(o, now);
			continue;
		}
		const char *id = o->at->entity;
		if (mqb_async_track_state_change(r->a->core, &id, 1, entity_changed, o, &o->track))
			goto nomem;
		struct mqb_state *s = mqb_states_async_get(r->a->core, id);
		follow(o, s);
		mqb_state_unref(s);
	}
	return 0;
nomem:
	time_detach(r);
	return -ENOMEM;
}

const struct trig_ops trigger__time = {
	.name = "time",
	.keys = time_keys,
	.compile = time_compile,
	.free = time_conf_free,
	.attach = time_attach,
	.detach = time_detach,
};

/* ---- time_pattern --------------------------------------------------------------- */

static const char *const pattern_keys[] = {"hours", "minutes", "seconds", NULL};

/* "*", N or "/N" within 0..max, as the bits of what matches. */
static size_t compile_unit(const struct mqb_conf_node *n, int max, const char *path,
			   struct mqb_conf_errors *errs, uint64_t *bits)
{
	const char *s = cv__text(n);
	if (!s) {
		mqb_conf_error_at(errs, n, path, "invalid time_pattern value");
		return 1;
	}
	if (strcmp(s, "*") == 0) {
		*bits = max == 63 ? ~0ull : (1ull << (max + 1)) - 1;
		return 0;
	}
	bool every = s[0] == '/';
	const char *d = s + every;
	char *end;
	long v = *d >= '0' && *d <= '9' ? strtol(d, &end, 10) : -1;
	if (v < 0 || *end || (every && v == 0)) {
		mqb_conf_error_at(errs, n, path, "invalid time_pattern value");
		return 1;
	}
	if (v > max) {
		mqb_conf_error_at(errs, n, path, "must be a value between 0 and %d", max);
		return 1;
	}
	*bits = 0;
	for (long x = 0; x <= max; x++)
		if (every ? x % v == 0 : x == v)
			*bits |= 1ull << x;
	return 0;
}

static size_t pattern_compile(const struct mqb_conf_node *node, const char *path,
			      struct mqb_conf_errors *errs, void **priv)
{
	const struct mqb_conf_node *hn = mqb_conf_get(node, "hours"),
				   *mn = mqb_conf_get(node, "minutes"),
				   *sn = mqb_conf_get(node, "seconds");
	if (!hn && !mn && !sn) {
		mqb_conf_error_at(errs, node, path,
				  "must contain at least one of hours, minutes, seconds.");
		return 1;
	}
	struct wall *w = mqb__calloc(1, sizeof *w);
	if (!w) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	char p[CV_PATH_MAX];
	uint64_t h = (1ull << 24) - 1, m = (1ull << 60) - 1, s = (1ull << 60) - 1;
	size_t found = 0;
	/* what is left out defaults downwards only: hours alone mean minute
	 * 0, second 0; larger units left out mean every */
	if (hn)
		found += compile_unit(hn, 23, cv__path(p, path, ".hours"), errs, &h);
	if (mn)
		found += compile_unit(mn, 59, cv__path(p, path, ".minutes"), errs, &m);
	else if (hn)
		m = 1;
	if (sn)
		found += compile_unit(sn, 59, cv__path(p, path, ".seconds"), errs, &s);
	else if (hn || mn)
		s = 1;
	w->hours = (uint32_t)h;
	w->minutes = m;
	w->seconds = s;
	if (found)
		mqb__free(w);
	else
		*priv = w;
	return found;
}

struct pattern_run {
	struct trig_run *r;
	struct mqb_timer *timer;
	double when;
};

static void pattern_fire(struct mqb_timer *t, void *ud);

static void pattern_schedule(struct pattern_run *run, double after)
{
	run->when = wall_next(run->r->t->priv, (time_t)ceil(after));
	mqb_async_timer_cancel(run->timer);
	run->timer = NULL;
	if (!isnan(run->when) &&
	    mqb_async_call_at(run->r->a->core, run->when, pattern_fire, run, &run->timer))
		MQB_LOG_ERROR(SUB, "%s: cannot arm the time_pattern trigger", trigger__name(run->r));
}

static void pattern_fire(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct pattern_run *run = ud;
	struct trig_run *r = run->r;
	double now = mqb_async_now(r->a->core);
	trigger__enter(r);
	pattern_schedule(run, fmax(now, run->when) + 1);
	trigger__fire(r, json_pack("{s:o,s:s}", "now", trigger__local_time(now), "description",
				   "time pattern"));
	trigger__leave(r);
}

static void pattern_detach(struct trig_run *r)
{
	struct pattern_run *run = r->state;
	if (!run)
		return;
	mqb_async_timer_cancel(run->timer);
	mqb__free(run);
	r->state = NULL;
}

static int pattern_attach(struct trig_run *r)
{
	struct pattern_run *run = mqb__calloc(1, sizeof *run);
	if (!run)
		return -ENOMEM;
	r->state = run;
	run->r = r;
	pattern_schedule(run, mqb_async_now(r->a->core));
	if (!run->timer) {
		pattern_detach(r);
		return -ENOMEM;
	}
	return 0;
}

const struct trig_ops trigger__time_pattern = {
	.name = "time_pattern",
	.keys = pattern_keys,
	.compile = pattern_compile,
	.free = free,
	.attach = pattern_attach,
	.detach = pattern_detach,
};
