/* SPDX-License-Identifier: MIT */
/* sun: Home Assistant's sun.sun (homeassistant/components/sun/entity.py)
 * at the homeassistant: location: above_horizon or below_horizon, the
 * next dawn, dusk, midnight, noon, rising and setting, the elevation and
 * azimuth and whether it is rising; positions refreshed on Home
 * Assistant's schedule (more often in twilight than at night), events
 * when the next one is reached. Enabled by sun: or default_config:. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/config.h"
#include "mqbridge/entity.h"
#include "mqbridge/location.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/sun.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"

#define SUB "sun"

/* The phases of the day that set how often the position is refreshed
 * (_PHASE_UPDATES: 4 minutes is a degree of the sun's arc). */
enum phase { NIGHT, ASTRONOMICAL, NAUTICAL, TWILIGHT, SMALL_DAY, DAY, NO_PHASE };
static const double phase_update[] = {
	[NIGHT] = 20 * 60,   [ASTRONOMICAL] = 8 * 60, [NAUTICAL] = 8 * 60,
	[TWILIGHT] = 4 * 60, [SMALL_DAY] = 2 * 60,    [DAY] = 4 * 60,
};

struct sun {
	struct mqb_entity *e;
	struct mqb_core *core;
	struct mqb_location loc;
	double next_dawn, next_dusk, next_midnight, next_noon, next_rising, next_setting;
	double next_change;
	enum phase phase;
	bool rising;
	struct mqb_timer *events, *position;
};

static void on_events(struct mqb_timer *t, void *ud);
static void on_position(struct mqb_timer *t, void *ud);

/* _check_event: the event, and the phase before it if it is the next
 * change so far. NAN (it does not happen within a year) is never. */
static double check(struct sun *s, double when, enum phase before)
{
	if (when < s->next_change) {
		s->next_change = when;
		s->phase = before;
	}
	return when;
}

static json_t *iso(double t)
{
	char buf[MQB_ISOFORMAT_MAX];
	return isfinite(t) && mqb_isoformat(t, buf) ? json_string(buf) : json_null();
}

/* update_sun_position: the elevation and azimuth rounded to hundredths,
 * written; the next refresh after the phase's interval, unless the next
 * event comes before a quarter more than that. */
static void update_position(struct sun *s)
{
	double now = mqb_async_now(s->core), el, az;
	mqb_sun_position(&s->loc, now, &el, &az);
	el = mqb_round(el, 2);
	az = mqb_round(az, 2);
	/* 0.833: astral's refraction and radius, the state's edge */
	mqb_entity_async_set_state(s->e, el > -0.833 ? "above_horizon" : "below_horizon");
	json_t *a = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:f, s:f, s:b}", "next_dawn",
			      iso(s->next_dawn), "next_dusk", iso(s->next_dusk), "next_midnight",
			      iso(s->next_midnight), "next_noon", iso(s->next_noon), "next_rising",
			      iso(s->next_rising), "next_setting", iso(s->next_setting), "elevation",
			      el, "azimuth", az, "rising", s->rising);
	mqb_entity_async_set_attributes(s->e, a);
	mqb_entity_async_write(s->e);
	mqb_async_timer_cancel(s->position);
	s->position = NULL;
	double delta = phase_update[s->phase];
	if (now + delta * 1.25 > s->next_change)
		return;
	if (mqb_async_call_at(s->core, now + delta, on_position, s, &s->position))
		MQB_LOG_ERROR(SUB, "cannot schedule the next position");
}

/* update_events: the next of each event around the solar cycle, the
 * phase before the nearest, and a timer for it. */
static void update_events(struct sun *s)
{
	const struct mqb_location *l = &s->loc;
	double now = mqb_async_now(s->core);
	s->next_change = now + 400 * 86400.0;
	s->phase = NO_PHASE;
	check(s, mqb_sun_next_altitude(l, -18, true, now), NIGHT);
	check(s, mqb_sun_next_altitude(l, -12, true, now), ASTRONOMICAL);
	s->next_dawn = check(s, mqb_sun_next(l, MQB_SUN_DAWN, now), NAUTICAL);
	s->next_rising = check(s, mqb_sun_next(l, MQB_SUN_RISING, now), TWILIGHT);
	check(s, mqb_sun_next_altitude(l, 10, true, now), SMALL_DAY);
	s->next_noon = check(s, mqb_sun_next(l, MQB_SUN_NOON, now), NO_PHASE);
	check(s, mqb_sun_next_altitude(l, 10, false, now), DAY);
	s->next_setting = check(s, mqb_sun_next(l, MQB_SUN_SETTING, now), SMALL_DAY);
	s->next_dusk = check(s, mqb_sun_next(l, MQB_SUN_DUSK, now), TWILIGHT);
	check(s, mqb_sun_next_altitude(l, -12, false, now), NAUTICAL);
	check(s, mqb_sun_next_altitude(l, -18, false, now), ASTRONOMICAL);
	s->next_midnight = check(s, mqb_sun_next(l, MQB_SUN_MIDNIGHT, now), NO_PHASE);
	if (s->phase == NO_PHASE) {
		/* next is noon or midnight: the phase from the elevation then */
		double el;
		mqb_sun_position(l, s->next_change, &el, NULL);
		s->phase = el >= 10 ? DAY : el >= 0 ? SMALL_DAY : el >= -6 ? TWILIGHT
			   : el >= -12 ? NAUTICAL : el >= -18 ? ASTRONOMICAL : NIGHT;
	}
	s->rising = s->next_noon < s->next_midnight;
	MQB_LOG_DEBUG(SUB, "phase %d until %.0f", (int)s->phase, s->next_change);
	update_position(s);
	mqb_async_timer_cancel(s->events);
	s->events = NULL;
	if (mqb_async_call_at(s->core, s->next_change, on_events, s, &s->events))
		MQB_LOG_ERROR(SUB, "cannot schedule the next event");
}

static void on_events(struct mqb_timer *t, void *ud)
{
	(void)t;
	update_events(ud);
}

static void on_position(struct mqb_timer *t, void *ud)
{
	(void)t;
	update_position(ud);
}

static int added(struct mqb_entity *e, void *priv)
{
	struct sun *s = priv;
	s->e = e;
	s->core = mqb_entity_core(e);
	update_events(s);
	return 0;
}

static void will_remove(struct mqb_entity *e, void *priv)
{
	(void)e;
	struct sun *s = priv;
	mqb_async_timer_cancel(s->events);
	mqb_async_timer_cancel(s->position);
	s->events = s->position = NULL;
}

static const struct mqb_entity_ops ops = {.async_added = added,
					  .async_will_remove = will_remove,
					  .free = free};

/* ---- the component --------------------------------------------------------- */

/* Home Assistant's sun takes no options (cv.empty_config_schema): it logs
 * any given and goes on. */
static int setup(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (mqb_conf_kind(entries[i].node) == MQB_CONF_MAP && mqb_conf_len(entries[i].node))
			MQB_LOG_ERROR(SUB,
				      "%s: the sun integration does not support any configuration "
				      "parameters; they are ignored",
				      entries[i].path);
	struct mqb_core *core = mqb_integration_core(in);
	const struct mqb_location *loc = mqb_core_location(core);
	if (!loc->set)
		MQB_LOG_WARNING(SUB, "homeassistant: has no latitude and longitude: the sun is "
				     "reckoned at 0, 0");
	struct sun *s = calloc(1, sizeof *s);
	struct mqb_platform *p = mqb_integration_async_platform(in, SUB);
	if (!s || !p) {
		free(s);
		return -ENOMEM;
	}
	s->loc = *loc;
	struct mqb_entity_info info = {.name = "Sun", .object_id = "sun"};
	return mqb_platform_async_add_entity(p, &info, &ops, s, NULL);
}

static const struct mqb_component component = {
	.shape = MQB_COMPONENT_BLOCK,
	.async_setup = setup,
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = SUB,
	.component = &component,
};
