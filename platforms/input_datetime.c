/* SPDX-License-Identifier: MIT */
/* input_datetime: Home Assistant's helper that holds a date, a time of
 * day or both, in local time (homeassistant/components/input_datetime):
 * set_datetime with date, time, datetime or timestamp; the state and its
 * year ... second and timestamp attributes; the value restored when
 * initial is not given, else today at midnight; shown to Home Assistant
 * as an MQTT sensor. */
#define _GNU_SOURCE /* timegm */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqbridge/collection.h"
#include "mqbridge/entity.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/restore.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"

#define SUB "input_datetime"

struct conf {
	const char *name, *icon, *initial;
	bool has_date, has_time;
};

#define K(k, t, f, ...) \
	{.key = k, .type = t, .offset = offsetof(struct conf, f), .stored = true, __VA_ARGS__}
static const struct mqb_schema_key keys[] = {
	K("name", MQB_S_STRING, name, .doc = "the friendly name"),
	K("has_date", MQB_S_BOOL, has_date, .def = "false", .doc = "it holds a date"),
	K("has_time", MQB_S_BOOL, has_time, .def = "false", .doc = "it holds a time of day"),
	K("icon", MQB_S_STRING, icon, .doc = "an icon, mdi:name"),
	K("initial", MQB_S_STRING, initial, .doc = "the value at start, over the restored one"),
};
static const struct mqb_schema schema = MQB_SCHEMA("input_datetime", keys);

/* A local date and time, as Python's naive fields. */
struct dt {
	int year, month, day, hour, minute, second;
};

struct datetime {
	struct mqb_entity *e;
	bool has_date, has_time;
	bool has_value;
	struct dt v;
	bool carried;
};

/* ---- reading dates and times ------------------------------------------------ */

static bool valid_date(int y, int m, int d)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= days[m - 1] + (m == 2 && leap);
}

/* dt_util.parse_date: strptime "%Y-%m-%d". */
static bool parse_date(const char *s, struct dt *out)
{
	int y, m, d, n = -1;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n < 0 || s[n] || !valid_date(y, m, d))
		return false;
	out->year = y;
	out->month = m;
	out->day = d;
	return true;
}

/* dt_util.parse_time: "HH:MM[:SS]". */
static bool parse_time(const char *s, struct dt *out)
{
	double sec;
	if (!mqb_cv_time(s, strlen(s), &sec))
		return false;
	long t = (long)sec;
	out->hour = (int)(t / 3600);
	out->minute = (int)(t / 60 % 60);
	out->second = (int)(t % 60);
	return true;
}

static void fields_of(double ts, int32_t offset, struct dt *out)
{
	time_t t = (time_t)floor(ts) + offset;
	struct tm tm;
	gmtime_r(&t, &tm);
	*out = (struct dt){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			   tm.tm_sec};
}

/* The local fields of Unix time ts (dt_util.as_local). */
static void local_of(double ts, struct dt *out)
{
	fields_of(ts, mqb_local_utcoffset(ts), out);
}

/* dt_util.parse_datetime, and the wall time it says: its own for one with
 * an offset (aware), as written for one without. */
static bool parse_datetime(const char *s, struct dt *out, double *ts, bool *aware)
{
	int32_t off;
	if (!mqb_parse_datetime(s, ts, &off, aware))
		return false;
	fields_of(*ts, off, out);
	return true;
}

/* The Unix time of local fields. */
static double timestamp_of(const struct dt *v)
{
	struct tm tm = {.tm_year = v->year - 1900, .tm_mon = v->month - 1, .tm_mday = v->day,
			.tm_hour = v->hour, .tm_min = v->minute, .tm_sec = v->second,
			.tm_isdst = -1};
	return (double)mktime(&tm);
}

/* Today at midnight, local time: the value when none is known. */
static void today(struct datetime *x, struct dt *out)
{
	local_of(mqb_async_now(mqb_entity_core(x->e)), out);
	out->hour = out->minute = out->second = 0;
}

/* parse_initial_datetime: as a datetime, a date or a time, per what the
 * entity holds; an aware datetime converted to local time. */
static bool parse_initial(const char *s, bool has_date, bool has_time, struct dt *out,
			  const char **what)
{
	*out = (struct dt){1970, 1, 1, 0, 0, 0};
	if (has_date && has_time) {
		*what = "a datetime";
		double ts;
		bool aware;
		if (!parse_datetime(s, out, &ts, &aware))
			return false;
		if (aware)
			local_of(ts, out);
		return true;
	}
	if (has_date) {
		*what = "a date";
		return parse_date(s, out);
	}
	*what = "a time";
	return parse_time(s, out);
}

/* ---- the configuration ------------------------------------------------------- */

/* has_date_or_time, valid_initial. */
static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	for (size_t i = 0; i < n; i++) {
		const struct mqb_component_entry *en = &entries[i];
		struct conf c = {0};
		if (mqb_collection_check(en, &schema, &c, errs))
			continue;
		struct dt v;
		const char *what;
		if (!c.has_date && !c.has_time)
			mqb_collection_error(errs, en, NULL, "Entity needs at least a date or a time");
		else if (c.initial && *c.initial &&
			 !parse_initial(c.initial, c.has_date, c.has_time, &v, &what))
			mqb_collection_error(errs, en, "initial",
					     "Initial value '%s' can't be parsed as %s", c.initial,
					     what);
	}
}

/* ---- the entity ------------------------------------------------------------ */

static void show(struct datetime *x)
{
	const struct dt *v = &x->v;
	char state[32] = "";
	if (x->has_date && x->has_time)
		snprintf(state, sizeof state, "%04d-%02d-%02d %02d:%02d:%02d", v->year, v->month,
			 v->day, v->hour, v->minute, v->second);
	else if (x->has_date)
		snprintf(state, sizeof state, "%04d-%02d-%02d", v->year, v->month, v->day);
	else
		snprintf(state, sizeof state, "%02d:%02d:%02d", v->hour, v->minute, v->second);
	mqb_entity_async_set_state(x->e, x->has_value ? state : NULL);
	json_t *a = json_pack("{s:b, s:b, s:b}", "has_date", x->has_date, "has_time", x->has_time,
			      "editable", 0);
	if (x->has_value && a) {
		if (x->has_date) {
			json_object_set_new(a, "year", json_integer(v->year));
			json_object_set_new(a, "month", json_integer(v->month));
			json_object_set_new(a, "day", json_integer(v->day));
		}
		if (x->has_time) {
			json_object_set_new(a, "hour", json_integer(v->hour));
			json_object_set_new(a, "minute", json_integer(v->minute));
			json_object_set_new(a, "second", json_integer(v->second));
		}
		if (!x->has_date) {
			json_object_set_new(a, "timestamp",
					    json_integer(v->hour * 3600 + v->minute * 60 + v->second));
		} else {
			struct dt midnight = {v->year, v->month, v->day, 0, 0, 0};
			json_object_set_new(a, "timestamp",
					    json_real(timestamp_of(x->has_time ? v : &midnight)));
		}
	}
	mqb_entity_async_set_attributes(x->e, a);
}

/* async_added_to_hass: initial, else the last value read as what the
 * entity holds (a time on today's date), else today at midnight. */
static int added(struct mqb_entity *e, void *priv)
{
	struct datetime *x = priv;
	x->e = e;
	if (!x->has_value) {
		const char *s = mqb_restore_async_last_value(e);
		struct dt def, v;
		today(x, &def);
		v = def;
		double ts;
		bool aware, ok = false;
		if (s && x->has_date && x->has_time)
			ok = parse_datetime(s, &v, &ts, &aware);
		else if (s && x->has_date)
			ok = parse_date(s, &v);
		else if (s)
			ok = parse_time(s, &v);
		x->v = ok ? v : def;
		x->has_value = true;
	}
	show(x);
	return mqb_restore_async_register(e, NULL, NULL);
}

/* async_set_datetime: date and time, or a datetime, or a timestamp. */
static int set_datetime(struct datetime *x, const json_t *data)
{
	const char *id = mqb_entity_id(x->e);
	const json_t *jd = json_object_get(data, "date"), *jt = json_object_get(data, "time"),
		     *jdt = json_object_get(data, "datetime"), *jts = json_object_get(data, "timestamp");
	if (!jd && !jt && !jdt && !jts) {
		MQB_LOG_WARNING(SUB, "%s: must contain at least one of date, time, datetime, "
				"timestamp", id);
		return -EINVAL;
	}
	if ((jd || jt) + !!jdt + !!jts > 1) {
		MQB_LOG_WARNING(SUB, "%s: Cannot use together: date or time, datetime, timestamp",
				id);
		return -EINVAL;
	}
	struct dt date = x->v, time = x->v, parsed;
	bool have_date = false, have_time = false;
	if (jd && !(json_is_string(jd) && parse_date(json_string_value(jd), &date))) {
		MQB_LOG_WARNING(SUB, "%s: Invalid date specified for dictionary value @ data['date']",
				id);
		return -EINVAL;
	}
	if (jt && !(json_is_string(jt) && parse_time(json_string_value(jt), &time))) {
		MQB_LOG_WARNING(SUB, "%s: Invalid time specified for dictionary value @ data['time']",
				id);
		return -EINVAL;
	}
	have_date = jd != NULL;
	have_time = jt != NULL;
	double ts = 0;
	bool aware;
	if (jts) {
		const char *t = json_string_value(jts);
		char *end = NULL;
		if (json_is_number(jts))
			ts = json_number_value(jts);
		else if (!t || (ts = strtod(t, &end), end == t || *end)) {
			MQB_LOG_WARNING(SUB, "%s: expected float for dictionary value @ "
					"data['timestamp']", id);
			return -EINVAL;
		}
	}
	if (jdt && !(json_is_string(jdt) &&
		     parse_datetime(json_string_value(jdt), &parsed, &ts, &aware))) {
		MQB_LOG_WARNING(SUB, "%s: Invalid datetime specified for dictionary value @ "
				"data['datetime']", id);
		return -EINVAL;
	}
	/* a timestamp of 0 is Python's False: it sets nothing */
	if (jts && ts != 0) {
		local_of(ts, &parsed);
		jdt = jts;
	}
	if (jdt) {
		date = time = parsed;
		have_date = have_time = true;
	}
	have_date &= x->has_date;
	have_time &= x->has_time;
	if (!have_date && !have_time) {
		MQB_LOG_WARNING(SUB, "%s: Nothing to set", id);
		return -EINVAL;
	}
	if (have_date) {
		x->v.year = date.year;
		x->v.month = date.month;
		x->v.day = date.day;
	}
	if (have_time) {
		x->v.hour = time.hour;
		x->v.minute = time.minute;
		x->v.second = time.second;
	}
	show(x);
	return mqb_entity_async_write(x->e);
}

static int command(struct mqb_entity *e, void *priv, const char *service, const json_t *data)
{
	(void)e;
	if (strcmp(service, "set_datetime") != 0)
		return -ENOTSUP;
	return set_datetime(priv, data);
}

static const struct mqb_entity_ops ops = {.async_added = added, .async_command = command};

/* The entity of en's options; carried: the value as it is. */
static int add(struct mqb_integration *in, void *item, const struct mqb_component_entry *en,
	       bool carried, struct mqb_entity **e)
{
	struct datetime *x = item;
	struct conf c = {0};
	mqb_collection_conf(en, &schema, &c);
	x->has_date = c.has_date;
	x->has_time = c.has_time;
	x->carried = carried;
	if (!carried && c.initial && *c.initial) {
		const char *what;
		x->has_value = parse_initial(c.initial, c.has_date, c.has_time, &x->v, &what);
		if (!c.has_date) {
			/* a time alone is on today's date */
			struct dt now;
			local_of(mqb_async_now(mqb_integration_core(in)), &now);
			x->v.year = now.year;
			x->v.month = now.month;
			x->v.day = now.day;
		}
	}
	struct mqb_entity_info info = {.name = c.name, .icon = c.icon};
	return mqb_collection_add_entity(in, en, &info, &ops, x, e);
}

static const struct mqb_collection_ops collection = {.item_size = sizeof(struct datetime),
						      .async_add = add};

MQB_COLLECTION_MODULE("input_datetime", collection, check);
