/* SPDX-License-Identifier: MIT */
/* The sun seen from the core's location: its position, and when it rises,
 * sets, reaches civil dawn and dusk, noon and midnight, as Home
 * Assistant's sun integration reports them (astral, on NOAA's solar
 * equations), and the sun condition's decision. Pure functions of a place
 * and a time: Thread: any. */
#ifndef MQBRIDGE_SUN_H
#define MQBRIDGE_SUN_H

#include <stdbool.h>

struct mqb_location;

enum mqb_sun_event {
	MQB_SUN_NONE = -1,
	/* The upper limb on the horizon: the centre 0.833° below it
	 * (refraction and the sun's radius), and further below by the dip
	 * of the horizon seen from the location's elevation. */
	MQB_SUN_RISING,
	MQB_SUN_SETTING,
	MQB_SUN_DAWN,     /* civil: the centre 6° below the horizon, rising */
	MQB_SUN_DUSK,
	MQB_SUN_NOON,     /* solar noon, the upper transit */
	MQB_SUN_MIDNIGHT, /* solar midnight, the lower transit */
};

/* Where the sun is at Unix time t: elevation in degrees above the
 * horizon, atmospheric refraction included (Home Assistant's
 * `elevation`), and azimuth in degrees from north through east (its
 * `azimuth`). Either pointer may be NULL. Thread: any. */
void mqb_sun_position(const struct mqb_location *loc, double t, double *elevation,
		      double *azimuth);

/* The first ev strictly after Unix time t (Home Assistant's next_rising,
 * next_setting, next_dawn, next_dusk, next_noon, next_midnight); NAN
 * when it does not happen within a year (a pole's day or night).
 * Thread: any. */
double mqb_sun_next(const struct mqb_location *loc, enum mqb_sun_event ev, double t);
/* The first time strictly after t that the sun's centre reaches
 * altitude (degrees above the horizon, negative below it) rising, or
 * setting, the dip of the horizon from the location's elevation counted
 * as for the events: astral's dawn and dusk at any depression, on which
 * Home Assistant's sun entity times its updates (astronomical -18,
 * nautical -12, and +10). NAN as above. Thread: any. */
double mqb_sun_next_altitude(const struct mqb_location *loc, double altitude, bool rising,
			     double t);
/* The last ev strictly before t; NAN as above. Thread: any. */
double mqb_sun_previous(const struct mqb_location *loc, enum mqb_sun_event ev, double t);

/* The ev that falls on a day of the UTC calendar, the way Home
 * Assistant's get_astral_event_date asks astral for one; NAN when none
 * does (the sun does not rise that day, or a rise skips the date).
 * Thread: any. */
double mqb_sun_event_on(const struct mqb_location *loc, enum mqb_sun_event ev, int year,
			int month, int day);

/* Home Assistant's sun condition (components/sun/condition.py): before
 * and after are MQB_SUN_RISING, MQB_SUN_SETTING or MQB_SUN_NONE, the
 * offsets in seconds (negative: earlier). */
struct mqb_sun_condition {
	enum mqb_sun_event before, after;
	double before_offset, after_offset;
};

/* Whether c holds at Unix time now. "Today" is the local date of now (the
 * process's time zone, which the daemon sets from homeassistant:
 * time_zone): before sunrise is local midnight to today's sunrise, after
 * sunset is today's sunset to midnight, and both together (after sunset,
 * before sunrise) mean either; the other pairs mean both. An event that
 * does not happen today makes it false. Thread: any. */
bool mqb_sun_condition_test(const struct mqb_location *loc, const struct mqb_sun_condition *c,
			    double now);

#endif
