/* SPDX-License-Identifier: MIT */
/* The sun (mqbridge/sun.h): its events against published almanac figures
 * (each with its source), its position against Meeus's worked examples,
 * and Home Assistant's sun condition as tests/components/sun/
 * test_condition.py exercises it. */
#include "config.h"

#include <math.h>
#include <time.h>

#include "testutil.h"
#include "mqbridge/location.h"
#include "mqbridge/sun.h"

static double utc(int y, int mo, int d, int h, int mi, double s)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			.tm_hour = h, .tm_min = mi};
	return (double)timegm(&tm) + s;
}

/* A published time given to the minute (hh:mm, in a zone utc_offset
 * hours from UTC) against ours: within a minute of that minute. */
static void near_minute(double ours, int y, int mo, int d, int h, int mi, double utc_offset)
{
	double published = utc(y, mo, d, h, mi, 30) - utc_offset * 3600;
	if (fabs(ours - published) > 90)
		fail_msg("%04d-%02d-%02d %02d:%02d (UTC%+g): ours is %.0f s off", y, mo, d, h, mi,
			 utc_offset, ours - published + 30);
}

/* ---- almanac figures ----------------------------------------------------- */

/* New York City (timeanddate.com's 40.7128 N, 74.0060 W), the winter
 * solstice of 2023, as CBS New York published timeanddate.com's figures
 * (cbsnews.com/newyork/news/winter-solstice-2023-sunrise-and-sunset-
 * times-for-nyc-as-days-start-to-get-longer): sunrise 7:16 a.m. Thursday
 * and Friday, sunset 4:31 p.m. Thursday and 4:32 p.m. Friday (EST), a day
 * of 9 h 15 min 17 s. */
static void new_york_at_the_winter_solstice(void **state)
{
	struct mqb_location nyc = {.latitude = 40.7128, .longitude = -74.0060, .set = true};
	double rise = mqb_sun_event_on(&nyc, MQB_SUN_RISING, 2023, 12, 21);
	double set = mqb_sun_event_on(&nyc, MQB_SUN_SETTING, 2023, 12, 21);
	near_minute(rise, 2023, 12, 21, 7, 16, -5);
	near_minute(set, 2023, 12, 21, 16, 31, -5);
	near_minute(mqb_sun_event_on(&nyc, MQB_SUN_RISING, 2023, 12, 22), 2023, 12, 22, 7, 16, -5);
	near_minute(mqb_sun_event_on(&nyc, MQB_SUN_SETTING, 2023, 12, 22), 2023, 12, 22, 16, 32,
		    -5);
	assert_true(fabs(set - rise - (9 * 3600 + 15 * 60 + 17)) < 30);
}

/* Sunrise on 2002-01-01 at longitude 0 (so in UTC) from latitude 60 S to
 * 50 N: Louis Strous, Astronomy Answers, "The Position of the Sun:
 * Tables", table 1 (aa.quae.nl/en/antwoorden/zonpositie-tabel.html). */
static void sunrise_across_latitudes_on_new_years_day_2002(void **state)
{
	static const struct {
		double lat;
		int h, mi;
	} rows[] = {
		{-60, 2, 43}, {-40, 4, 35}, {-20, 5, 24}, {0, 6, 0},
		{20, 6, 35},  {40, 7, 22},  {50, 7, 59},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct mqb_location at = {.latitude = rows[i].lat, .set = true};
		near_minute(mqb_sun_event_on(&at, MQB_SUN_RISING, 2002, 1, 1), 2002, 1, 1, rows[i].h,
			    rows[i].mi, 0);
	}
}

/* San Jose, California (37.35 N, 121.95 W) on 2024-01-28, from NOAA's
 * ESRL solar calculator (gml.noaa.gov/grad/solcalc) as recorded in
 * Aldaviva/SolCalc's Tests/SunlightCalculatorTest.cs: civil dawn 6:46,
 * sunrise 7:14, sunset 17:27, civil dusk 17:55 PST. */
static void san_jose_dawn_to_dusk(void **state)
{
	struct mqb_location sj = {.latitude = 37.35, .longitude = -121.95, .set = true};
	/* the evening events fall on the next UTC date */
	near_minute(mqb_sun_event_on(&sj, MQB_SUN_DAWN, 2024, 1, 28), 2024, 1, 28, 6, 46, -8);
	near_minute(mqb_sun_event_on(&sj, MQB_SUN_RISING, 2024, 1, 28), 2024, 1, 28, 7, 14, -8);
	near_minute(mqb_sun_event_on(&sj, MQB_SUN_SETTING, 2024, 1, 29), 2024, 1, 28, 17, 27, -8);
	near_minute(mqb_sun_event_on(&sj, MQB_SUN_DUSK, 2024, 1, 29), 2024, 1, 28, 17, 55, -8);
}

/* What Home Assistant's own tests take from astral for their location
 * (32.87336 N, 117.22743 W): tests/components/sun/test_condition.py has
 * sunrise on 2015-09-16 at 13:33:18.342542 UTC and sunset at 2015-09-17
 * 01:53:44.723614 UTC. astral takes the horizon 0.044° higher than NOAA
 * does (its refraction), so its days are some 25 s shorter. */
static void home_assistants_test_location_agrees_with_astral(void **state)
{
	struct mqb_location ha = {.latitude = 32.87336, .longitude = -117.22743, .set = true};
	double rise = mqb_sun_event_on(&ha, MQB_SUN_RISING, 2015, 9, 16);
	double set = mqb_sun_event_on(&ha, MQB_SUN_SETTING, 2015, 9, 17);
	assert_true(fabs(rise - utc(2015, 9, 16, 13, 33, 18.342542)) < 30);
	assert_true(fabs(set - utc(2015, 9, 17, 1, 53, 44.723614)) < 30);
}

/* Meeus, "Astronomical Algorithms" 2nd ed., example 28.b: the equation of
 * time on 1992 October 13.0 TD is 13 min 42.7 s, growing about 11 s a day;
 * so the sun crosses the meridian of Greenwich that day at 11:46:12 UT,
 * give or take a few seconds. Example 25.a: its apparent declination then
 * is -7.78507°, so seen from the equator it culminates 82.22° high. */
static void noon_and_declination_follow_meeus(void **state)
{
	struct mqb_location greenwich = {.set = true};
	double noon = mqb_sun_event_on(&greenwich, MQB_SUN_NOON, 1992, 10, 13);
	assert_true(fabs(noon - utc(1992, 10, 13, 11, 46, 12)) < 5);
	/* on the date line noon falls at the example's instant */
	struct mqb_location dateline = {.longitude = 180, .set = true};
	double el, az;
	mqb_sun_position(&dateline, mqb_sun_event_on(&dateline, MQB_SUN_NOON, 1992, 10, 13), &el,
			 &az);
	assert_true(fabs(el - (90 - 7.78507)) < 0.02);
	assert_true(fabs(az - 180) < 0.01);
}

static void position_rises_in_the_east_and_sets_in_the_west(void **state)
{
	struct mqb_location nyc = {.latitude = 40.7128, .longitude = -74.0060, .set = true};
	double rise = mqb_sun_event_on(&nyc, MQB_SUN_RISING, 2024, 3, 20);
	double set = mqb_sun_event_on(&nyc, MQB_SUN_SETTING, 2024, 3, 20);
	double el, az;
	/* at the equinox: due east and west, the centre 0.833° low and
	 * lifted by NOAA's refraction (0.40° there) */
	mqb_sun_position(&nyc, rise, &el, &az);
	assert_true(fabs(el - (-0.833 + 0.397)) < 0.01);
	assert_true(fabs(az - 90) < 1.5);
	mqb_sun_position(&nyc, set, &el, &az);
	assert_true(fabs(az - 270) < 1.5);
	mqb_sun_position(&nyc, (rise + set) / 2, &el, NULL);
	assert_true(fabs(el - (90 - 40.7128)) < 0.5);
}

/* ---- next, previous, the poles ------------------------------------------- */

static void next_and_previous_bracket_a_time(void **state)
{
	struct mqb_location nyc = {.latitude = 40.7128, .longitude = -74.0060, .set = true};
	double t = utc(2023, 12, 21, 12, 0, 0); /* 7 a.m. EST, before sunrise */
	double rise = mqb_sun_event_on(&nyc, MQB_SUN_RISING, 2023, 12, 21);
	assert_true(mqb_sun_next(&nyc, MQB_SUN_RISING, t) == rise);
	assert_true(mqb_sun_next(&nyc, MQB_SUN_RISING, rise) > rise + 86000);
	assert_true(mqb_sun_previous(&nyc, MQB_SUN_RISING, rise + 1) == rise);
	double dawn = mqb_sun_next(&nyc, MQB_SUN_DAWN, t - 3600);
	double noon = mqb_sun_next(&nyc, MQB_SUN_NOON, t);
	double dusk = mqb_sun_next(&nyc, MQB_SUN_DUSK, t);
	double set = mqb_sun_next(&nyc, MQB_SUN_SETTING, t);
	double midnight = mqb_sun_next(&nyc, MQB_SUN_MIDNIGHT, t);
	assert_true(dawn < rise && rise < noon && noon < set && set < dusk && dusk < midnight);
	assert_true(fabs(noon - (rise + set) / 2) < 60);
	assert_true(fabs(midnight - noon - 43200) < 60);
	/* Home Assistant's `rising`: next noon before next midnight */
	assert_true(mqb_sun_next(&nyc, MQB_SUN_NOON, rise) < mqb_sun_next(&nyc, MQB_SUN_MIDNIGHT, rise));
	assert_false(mqb_sun_next(&nyc, MQB_SUN_NOON, set) < mqb_sun_next(&nyc, MQB_SUN_MIDNIGHT, set));
}

/* Longyearbyen (78.22 N) has no sunset in June and no sunrise in
 * December; the next one comes with the season. */
static void polar_days_have_no_sunset(void **state)
{
	struct mqb_location lyr = {.latitude = 78.22, .longitude = 15.65, .set = true};
	assert_true(isnan(mqb_sun_event_on(&lyr, MQB_SUN_SETTING, 2024, 6, 21)));
	assert_true(isnan(mqb_sun_event_on(&lyr, MQB_SUN_RISING, 2024, 12, 21)));
	double next = mqb_sun_next(&lyr, MQB_SUN_SETTING, utc(2024, 6, 21, 0, 0, 0));
	assert_true(next > utc(2024, 8, 20, 0, 0, 0) && next < utc(2024, 8, 30, 0, 0, 0));
	assert_false(isnan(mqb_sun_event_on(&lyr, MQB_SUN_NOON, 2024, 6, 21)));
	/* the pole itself: within a year, one rise and one set */
	struct mqb_location pole = {.latitude = 90, .set = true};
	assert_false(isnan(mqb_sun_next(&pole, MQB_SUN_RISING, utc(2024, 1, 1, 0, 0, 0))));
}

static void elevation_lowers_the_horizon(void **state)
{
	struct mqb_location sea = {.latitude = 46.5, .longitude = 8, .set = true};
	struct mqb_location alp = sea;
	alp.elevation = 3000;
	double r0 = mqb_sun_event_on(&sea, MQB_SUN_RISING, 2024, 6, 1);
	double r1 = mqb_sun_event_on(&alp, MQB_SUN_RISING, 2024, 6, 1);
	/* the dip from 3000 m is 1.76°: some ten minutes at this latitude */
	assert_true(r0 - r1 > 8 * 60 && r0 - r1 < 14 * 60);
	/* noon and midnight do not depend on it, as in astral */
	assert_true(mqb_sun_event_on(&sea, MQB_SUN_NOON, 2024, 6, 1) ==
		    mqb_sun_event_on(&alp, MQB_SUN_NOON, 2024, 6, 1));
}

/* ---- the sun condition --------------------------------------------------- */

/* tests/components/sun/test_condition.py runs in US/Pacific at Home
 * Assistant's test location; the boundaries are taken from our own
 * sunrise and sunset of 2015-09-16, each within 30 s of astral's. */
static const struct mqb_location HA_TEST = {.latitude = 32.87336, .longitude = -117.22743,
					    .set = true};

static int pacific_setup(void **state)
{
	setenv("TZ", "America/Los_Angeles", 1);
	tzset();
	return 0;
}

static int pacific_teardown(void **state)
{
	unsetenv("TZ");
	tzset();
	return 0;
}

static bool check(enum mqb_sun_event before, double bo, enum mqb_sun_event after, double ao,
		  double now)
{
	struct mqb_sun_condition c = {before, after, bo, ao};
	return mqb_sun_condition_test(&HA_TEST, &c, now);
}

#define SUNRISE mqb_sun_event_on(&HA_TEST, MQB_SUN_RISING, 2015, 9, 16)
#define SUNSET mqb_sun_event_on(&HA_TEST, MQB_SUN_SETTING, 2015, 9, 17)
#define LOCAL_MIDNIGHT utc(2015, 9, 16, 7, 0, 0)
#define LOCAL_END utc(2015, 9, 17, 6, 59, 59)
#define NONE MQB_SUN_NONE
#define RISE MQB_SUN_RISING
#define SET MQB_SUN_SETTING

/* ::test_if_action_before_sunrise_no_offset and
 * ::test_if_action_after_sunrise_no_offset: before sunrise is local
 * midnight to today's sunrise, not until the next one. */
static void before_and_after_sunrise(void **state)
{
	assert_false(check(RISE, 0, NONE, 0, SUNRISE + 1));
	assert_true(check(RISE, 0, NONE, 0, SUNRISE));
	assert_true(check(RISE, 0, NONE, 0, LOCAL_MIDNIGHT));
	assert_false(check(RISE, 0, NONE, 0, LOCAL_END));
	assert_false(check(NONE, 0, RISE, 0, SUNRISE - 1));
	assert_true(check(NONE, 0, RISE, 0, SUNRISE + 1));
	assert_false(check(NONE, 0, RISE, 0, LOCAL_MIDNIGHT));
	assert_true(check(NONE, 0, RISE, 0, LOCAL_END));
}

/* ::test_if_action_before_sunrise_with_offset and
 * ::test_if_action_after_sunrise_with_offset. */
static void sunrise_with_an_hour_of_offset(void **state)
{
	assert_false(check(RISE, 3600, NONE, 0, SUNRISE + 3601));
	assert_true(check(RISE, 3600, NONE, 0, SUNRISE + 3600));
	assert_false(check(RISE, 3600, NONE, 0, utc(2015, 9, 16, 0, 0, 0))); /* UTC midnight */
	assert_true(check(RISE, 3600, NONE, 0, LOCAL_MIDNIGHT));
	assert_false(check(RISE, 3600, NONE, 0, LOCAL_END));
	assert_false(check(RISE, 3600, NONE, 0, SUNSET));
	assert_false(check(NONE, 0, RISE, 3600, SUNRISE + 3599));
	assert_true(check(NONE, 0, RISE, 3600, SUNRISE + 3600));
	assert_false(check(NONE, 0, RISE, 3600, utc(2015, 9, 16, 12, 0, 0))); /* UTC noon */
	assert_true(check(NONE, 0, RISE, 3600, utc(2015, 9, 16, 19, 0, 0)));  /* local noon */
	assert_true(check(NONE, 0, RISE, 3600, SUNSET));
	assert_true(check(NONE, 0, RISE, 3600, LOCAL_END));
	assert_false(check(NONE, 0, RISE, 3600, LOCAL_MIDNIGHT));
}

/* ::test_if_action_before_sunset_with_offset and
 * ::test_if_action_after_sunset_with_offset: today's sunset, found on the
 * next UTC date. */
static void sunset_with_an_hour_of_offset(void **state)
{
	assert_true(check(SET, 3600, NONE, 0, LOCAL_MIDNIGHT));
	assert_false(check(SET, 3600, NONE, 0, SUNSET + 3601));
	assert_true(check(SET, 3600, NONE, 0, SUNSET + 3600));
	assert_true(check(SET, 3600, NONE, 0, utc(2015, 9, 17, 0, 0, 0))); /* UTC midnight */
	assert_true(check(SET, 3600, NONE, 0, SUNRISE));
	assert_false(check(SET, 3600, NONE, 0, LOCAL_END));
	assert_false(check(NONE, 0, SET, 3600, SUNSET + 3599));
	assert_true(check(NONE, 0, SET, 3600, SUNSET + 3600));
	/* the evening before, with that day's sunset */
	assert_true(check(NONE, 0, SET, 3600, utc(2015, 9, 16, 6, 59, 59)));
	assert_false(check(NONE, 0, SET, 3600, LOCAL_MIDNIGHT));
}

/* ::test_if_action_after_and_before_during (an and) and
 * ::test_if_action_before_or_after_during (after sunset, before sunrise:
 * an or, the night across midnight). */
static void day_is_an_and_and_night_an_or(void **state)
{
	assert_false(check(SET, 0, RISE, 0, SUNRISE - 1));
	assert_false(check(SET, 0, RISE, 0, SUNSET + 1));
	assert_true(check(SET, 0, RISE, 0, SUNRISE + 1));
	assert_true(check(SET, 0, RISE, 0, SUNSET - 1));
	assert_true(check(SET, 0, RISE, 0, utc(2015, 9, 16, 16, 0, 0))); /* 09:00 local */
	assert_true(check(RISE, 0, SET, 0, SUNRISE - 1));
	assert_true(check(RISE, 0, SET, 0, SUNSET + 1));
	assert_false(check(RISE, 0, SET, 0, SUNRISE + 1));
	assert_false(check(RISE, 0, SET, 0, SUNSET - 1));
	assert_true(check(RISE, 0, SET, 0, LOCAL_MIDNIGHT + 1));
	assert_true(check(RISE, 0, SET, 0, LOCAL_END));
}

static void no_sunrise_today_is_false(void **state)
{
	struct mqb_location lyr = {.latitude = 78.22, .longitude = 15.65, .set = true};
	struct mqb_sun_condition c = {RISE, NONE, 0, 0};
	assert_false(mqb_sun_condition_test(&lyr, &c, utc(2024, 12, 21, 10, 0, 0)));
	c = (struct mqb_sun_condition){NONE, SET, 0, 0};
	assert_false(mqb_sun_condition_test(&lyr, &c, utc(2024, 6, 21, 23, 0, 0)));
}

/* Any altitude, as the sun entity's schedule asks (astral's dawn and
 * dusk at a depression): the civil one is the dawn and dusk, the -0.833
 * one the rising, the dip of a height applies alike, and at +10 the sun
 * stands (apparent, refraction of 5' added) ten degrees up. */
static void crossings_at_any_altitude(void **state)
{
	struct mqb_location loc = {.latitude = 52.37, .longitude = 4.89, .elevation = 300,
				   .set = true};
	double t = utc(2024, 3, 20, 0, 0, 0);
	assert_true(fabs(mqb_sun_next_altitude(&loc, -6, true, t) -
			 mqb_sun_next(&loc, MQB_SUN_DAWN, t)) < 1);
	assert_true(fabs(mqb_sun_next_altitude(&loc, -6, false, t) -
			 mqb_sun_next(&loc, MQB_SUN_DUSK, t)) < 1);
	assert_true(fabs(mqb_sun_next_altitude(&loc, -0.833, true, t) -
			 mqb_sun_next(&loc, MQB_SUN_RISING, t)) < 1);
	loc.elevation = 0;
	double up = mqb_sun_next_altitude(&loc, 10, true, t), el;
	mqb_sun_position(&loc, up, &el, NULL);
	assert_true(fabs(el - 10.09) < 0.02);
	double down = mqb_sun_next_altitude(&loc, -18, false, t);
	assert_true(down > mqb_sun_next(&loc, MQB_SUN_DUSK, t) && down < t + 86400);
	/* 78 N: no astronomical night from spring to the autumn */
	struct mqb_location svalbard = {.latitude = 78.2, .longitude = 15.6, .set = true};
	assert_true(mqb_sun_next_altitude(&svalbard, -18, true, utc(2024, 6, 1, 0, 0, 0)) >
		    utc(2024, 9, 20, 0, 0, 0));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(crossings_at_any_altitude),
	cmocka_unit_test(new_york_at_the_winter_solstice),
	cmocka_unit_test(sunrise_across_latitudes_on_new_years_day_2002),
	cmocka_unit_test(san_jose_dawn_to_dusk),
	cmocka_unit_test(home_assistants_test_location_agrees_with_astral),
	cmocka_unit_test(noon_and_declination_follow_meeus),
	cmocka_unit_test(position_rises_in_the_east_and_sets_in_the_west),
	cmocka_unit_test(next_and_previous_bracket_a_time),
	cmocka_unit_test(polar_days_have_no_sunset),
	cmocka_unit_test(elevation_lowers_the_horizon),
	cmocka_unit_test_setup_teardown(before_and_after_sunrise, pacific_setup, pacific_teardown),
	cmocka_unit_test_setup_teardown(sunrise_with_an_hour_of_offset, pacific_setup,
					pacific_teardown),
	cmocka_unit_test_setup_teardown(sunset_with_an_hour_of_offset, pacific_setup,
					pacific_teardown),
	cmocka_unit_test_setup_teardown(day_is_an_and_and_night_an_or, pacific_setup,
					pacific_teardown),
	cmocka_unit_test(no_sunrise_today_is_false),
};

TU_MAIN(tests)
