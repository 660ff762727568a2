/* SPDX-License-Identifier: MIT */
/* The sun's position and its daily events (mqbridge/sun.h), written from
 * NOAA's solar calculator equations (gml.noaa.gov/grad/solcalc/
 * calcdetails.html, after Jean Meeus, "Astronomical Algorithms", 2nd ed.,
 * ch. 25 and 28), the same equations astral gives Home Assistant; and the
 * sun condition of Home Assistant's components/sun/condition.py. */
#include "config.h"

#include <math.h>
#include <time.h>

#include "mqbridge/location.h"
#include "mqbridge/sun.h"

#define RAD (M_PI / 180.0)
#define DAY 86400.0

/* Sunrise and sunset: the upper limb on the horizon, i.e. the centre
 * 50' below it (34' of refraction, 16' of the sun's radius), as NOAA's
 * calculator and the almanacs take it. */
#define RISE_SET_ALTITUDE (-0.833)
#define CIVIL_ALTITUDE (-6.0)
/* The radius astral takes for the dip of the horizon from a height. */
#define EARTH_RADIUS 6356900.0

/* Julian centuries since J2000.0 of Unix time t (UT, as NOAA: the
 * difference to TT, about a minute, moves the sun by 2.5" and is left
 * out). */
static double century(double t)
{
	return (t / DAY + 2440587.5 - 2451545.0) / 36525.0;
}

/* The sun's apparent declination (degrees) and the equation of time
 * (minutes) at Unix time t: Meeus ch. 25 (low accuracy, 0.01°) and
 * ch. 28 (Smart's formula), as NOAA's calculator has them. */
static void solar(double t, double *decl, double *eqtime)
{
	double T = century(t);
	double L0 = fmod(280.46646 + T * (36000.76983 + T * 0.0003032), 360.0);
	double M = 357.52911 + T * (35999.05029 - T * 0.0001537);
	double e = 0.016708634 - T * (0.000042037 + T * 0.0000001267);
	double C = sin(M * RAD) * (1.914602 - T * (0.004817 + T * 0.000014)) +
		   sin(2 * M * RAD) * (0.019993 - T * 0.000101) + sin(3 * M * RAD) * 0.000289;
	double omega = 125.04 - 1934.136 * T;
	double lambda = L0 + C - 0.00569 - 0.00478 * sin(omega * RAD);
	double eps0 = 23.0 + (26.0 + (21.448 - T * (46.815 + T * (0.00059 - T * 0.001813))) /
					60.0) / 60.0;
	double eps = eps0 + 0.00256 * cos(omega * RAD);
	*decl = asin(sin(eps * RAD) * sin(lambda * RAD)) / RAD;
	double y = tan(eps * RAD / 2);
	y *= y;
	double E = y * sin(2 * L0 * RAD) - 2 * e * sin(M * RAD) +
		   4 * e * y * sin(M * RAD) * cos(2 * L0 * RAD) - 0.5 * y * y * sin(4 * L0 * RAD) -
		   1.25 * e * e * sin(2 * M * RAD);
	*eqtime = 4 * E / RAD;
}

/* Atmospheric refraction (degrees) at a true elevation e, NOAA's
 * piecewise fit (after Bennett and Sæmundsson). */
static double refraction(double e)
{
	if (e > 85)
		return 0;
	double te = tan(e * RAD);
	double arcsec;
	if (e > 5)
		arcsec = 58.1 / te - 0.07 / (te * te * te) + 0.000086 / pow(te, 5);
	else if (e > -0.575)
		arcsec = 1735 + e * (-518.2 + e * (103.4 + e * (-12.79 + e * 0.711)));
	else
		arcsec = -20.772 / te;
	return arcsec / 3600;
}

/* Latitude as astral uses it: the hour angle has no meaning at a pole. */
static double latitude(const struct mqb_location *loc)
{
	return fmax(-89.8, fmin(89.8, loc->latitude));
}

void mqb_sun_position(const struct mqb_location *loc, double t, double *elevation,
		      double *azimuth)
{
	double decl, eqtime;
	solar(t, &decl, &eqtime);
	double minutes = (t - floor(t / DAY) * DAY) / 60;
	double ha = (minutes + eqtime + 4 * loc->longitude) / 4 - 180; /* hour angle, degrees */
	double lat = latitude(loc) * RAD, d = decl * RAD, h = ha * RAD;
	double cosz = sin(lat) * sin(d) + cos(lat) * cos(d) * cos(h);
	double e = 90 - acos(fmax(-1, fmin(1, cosz))) / RAD;
	if (elevation)
		*elevation = e + refraction(e);
	if (azimuth) {
		/* Meeus (13.5): from the south, westward; turned to north, eastward */
		double a = atan2(sin(h), cos(h) * sin(lat) - tan(d) * cos(lat)) / RAD + 180;
		*azimuth = fmod(a + 360, 360);
	}
}

/* ---- the day's events ---------------------------------------------------- */

/* The altitude of the centre (degrees) an event is taken at. */
static double altitude_of(const struct mqb_location *loc, enum mqb_sun_event ev)
{
	double dip = loc->elevation > 0
			     ? acos(EARTH_RADIUS / (EARTH_RADIUS + loc->elevation)) / RAD
			     : 0;
	return (ev == MQB_SUN_DAWN || ev == MQB_SUN_DUSK ? CIVIL_ALTITUDE : RISE_SET_ALTITUDE) - dip;
}

/* ev of the solar day whose noon falls (near) UTC day n (days since
 * 1970-01-01), its centre at altitude (degrees) for a rise or a set:
 * Unix time, or NAN when the sun does not reach the altitude that day.
 * Each is found by iterating NOAA's hour angle method with the
 * declination and the equation of time at the event itself; consecutive
 * n give consecutive events. */
static double crossing_of_day(const struct mqb_location *loc, enum mqb_sun_event ev,
			      double altitude, double n)
{
	double lon = loc->longitude, lat = latitude(loc) * RAD;
	double base = n * DAY;
	double t = base + (720 - 4 * lon) * 60;
	if (ev == MQB_SUN_MIDNIGHT)
		t = base - 4 * lon * 60;
	double h0 = altitude * RAD;
	for (int i = 0; i < 4; i++) {
		double decl, eqtime;
		solar(t, &decl, &eqtime);
		double H = 0; /* the event's hour angle, degrees west of the meridian */
		switch (ev) {
		case MQB_SUN_NOON:
			break;
		case MQB_SUN_MIDNIGHT:
			H = -720.0 / 4;
			break;
		default: {
			double d = decl * RAD;
			double c = (sin(h0) - sin(lat) * sin(d)) / (cos(lat) * cos(d));
			if (c < -1 || c > 1)
				return NAN;
			H = acos(c) / RAD;
			if (ev == MQB_SUN_RISING || ev == MQB_SUN_DAWN)
				H = -H;
		}
		}
		t = base + (720 - 4 * lon + 4 * H - eqtime) * 60;
	}
	return t;
}

static double event_of_day(const struct mqb_location *loc, enum mqb_sun_event ev, double n)
{
	return crossing_of_day(loc, ev, altitude_of(loc, ev), n);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the era
 * arithmetic of Howard Hinnant's days_from_civil). */
static long days_from_civil(long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

/* The first crossing strictly after t, within a year. */
static double next_crossing(const struct mqb_location *loc, enum mqb_sun_event ev,
			    double altitude, double t)
{
	double n0 = floor(t / DAY) - 2;
	for (double n = n0; n < n0 + 370; n++) {
		double e = crossing_of_day(loc, ev, altitude, n);
		if (e > t)
			return e;
	}
	return NAN;
}

double mqb_sun_next(const struct mqb_location *loc, enum mqb_sun_event ev, double t)
{
	return next_crossing(loc, ev, altitude_of(loc, ev), t);
}

double mqb_sun_next_altitude(const struct mqb_location *loc, double altitude, bool rising,
			     double t)
{
	/* the dip of the horizon from a height lowers every crossing alike */
	double dip = altitude_of(loc, MQB_SUN_RISING) - RISE_SET_ALTITUDE;
	return next_crossing(loc, rising ? MQB_SUN_RISING : MQB_SUN_SETTING, altitude + dip, t);
}

double mqb_sun_previous(const struct mqb_location *loc, enum mqb_sun_event ev, double t)
{
	double n0 = floor(t / DAY) + 2;
	for (double n = n0; n > n0 - 370; n--) {
		double e = event_of_day(loc, ev, n);
		if (e < t)
			return e;
	}
	return NAN;
}

/* astral's sunrise(date) in UTC: the event computed for the date, or,
 * when that falls on another date, the one of the neighbouring day in
 * its direction if that one falls on the date. */
static double event_on_day(const struct mqb_location *loc, enum mqb_sun_event ev, long day)
{
	double e = event_of_day(loc, ev, (double)day);
	if (isnan(e) || ev == MQB_SUN_NOON || ev == MQB_SUN_MIDNIGHT)
		return e;
	double on = floor(e / DAY);
	if (on == (double)day)
		return e;
	e = event_of_day(loc, ev, (double)day + (on < (double)day ? 1 : -1));
	return !isnan(e) && floor(e / DAY) == (double)day ? e : NAN;
}

double mqb_sun_event_on(const struct mqb_location *loc, enum mqb_sun_event ev, int year,
			int month, int day)
{
	return event_on_day(loc, ev, days_from_civil(year, (unsigned)month, (unsigned)day));
}

/* The local date of Unix time t, as days since 1970-01-01. */
static long local_day(double t)
{
	time_t s = (time_t)floor(t);
	struct tm tm;
	if (!localtime_r(&s, &tm))
		return (long)floor(t / DAY);
	return days_from_civil(tm.tm_year + 1900L, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
}

bool mqb_sun_condition_test(const struct mqb_location *loc, const struct mqb_sun_condition *c,
			    double now)
{
	long today = local_day(now);
	/* Home Assistant asks astral for the day by the local date's
	 * numbers (a UTC date), then moves to tomorrow's event when the one
	 * it got fell on an earlier local date. */
	double rise = event_on_day(loc, MQB_SUN_RISING, today);
	double set = event_on_day(loc, MQB_SUN_SETTING, today);
	bool has_rise = c->before == MQB_SUN_RISING || c->after == MQB_SUN_RISING;
	bool has_set = c->before == MQB_SUN_SETTING || c->after == MQB_SUN_SETTING;
	if (has_rise && !isnan(rise) && today > local_day(rise))
		rise = event_on_day(loc, MQB_SUN_RISING, today + 1);
	if (has_set && !isnan(set) && today > local_day(set))
		set = event_on_day(loc, MQB_SUN_SETTING, today + 1);

	/* after sunset, before sunrise: the night across midnight, an or */
	if (c->before == MQB_SUN_RISING && c->after == MQB_SUN_SETTING)
		return now < rise + c->before_offset || now > set + c->after_offset;
	if ((has_rise && isnan(rise)) || (has_set && isnan(set)))
		return false; /* no sunrise (sunset) today */
	if (c->before == MQB_SUN_RISING && now > rise + c->before_offset)
		return false;
	if (c->before == MQB_SUN_SETTING && now > set + c->before_offset)
		return false;
	if (c->after == MQB_SUN_RISING && now < rise + c->after_offset)
		return false;
	if (c->after == MQB_SUN_SETTING && now < set + c->after_offset)
		return false;
	return true;
}
