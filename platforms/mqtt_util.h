/* SPDX-License-Identifier: MIT */
/* The mqtt integration's pure helpers: availability bookkeeping, payload
 * matching, reading numbers, brightness and position scaling, and JSON
 * attributes (the text helpers it shares are mqbridge/text.h). Nothing
 * here touches the core, so t/test_mqtt_platform.c checks it directly. */
#ifndef MQB_PLATFORMS_MQTT_UTIL_H
#define MQB_PLATFORMS_MQTT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* ---- availability ------------------------------------------------------ */

enum mqtt_avail_mode { MQTT_AVAIL_LATEST, MQTT_AVAIL_ALL, MQTT_AVAIL_ANY };

/* Home Assistant's MqttAvailabilityMixin: every topic starts "not
 * available" until its first matching payload. */
struct mqtt_avail {
	enum mqtt_avail_mode mode;
	size_t n;          /* topics; 0: always available */
	bool *up;          /* per topic */
	bool latest;       /* what the latest matching payload said */
};

/* 0 or -ENOMEM. */
int mqtt_avail_init(struct mqtt_avail *a, enum mqtt_avail_mode mode, size_t n);
void mqtt_avail_fini(struct mqtt_avail *a);
void mqtt_avail_set(struct mqtt_avail *a, size_t i, bool up);
bool mqtt_avail_ok(const struct mqtt_avail *a);
/* "all", "any", "latest" (anything else: latest). */
enum mqtt_avail_mode mqtt_avail_mode_parse(const char *s);

/* ---- payloads ---------------------------------------------------------- */

/* Whether payload (len bytes, may hold NULs) is exactly want. */
bool mqtt_payload_is(const char *want, const char *payload, size_t len);
/* Whether the bytes hold a NUL: such a payload is never a state. */
bool mqtt_payload_has_nul(const char *payload, size_t len);
/* Python's float() on a payload, without inf, nan or '_': optional white
 * space, sign, digits with an optional fraction and exponent. */
bool mqtt_parse_number(const char *s, size_t len, double *out);

/* ---- scaling ----------------------------------------------------------- */

/* A device's brightness (0..scale) as Home Assistant's 0..255, or -1 when
 * it is not a positive number (Home Assistant ignores 0 there). */
int mqtt_brightness_from_device(double v, int scale);
/* Home Assistant's 0..255 as the device's 1..scale (never rounded to 0). */
int mqtt_brightness_to_device(int b255, int scale);
/* A device position between position_closed and position_open as a
 * percentage 0..100 (Home Assistant's ranged_value_to_percentage, clamped);
 * either end may be the larger. */
int mqtt_position_percent(double v, int closed, int open);
/* A percentage 0..100 as the device's position. */
int mqtt_position_device(int percent, int closed, int open);

/* ---- colours (Home Assistant's util/color.py) ---------------------------- */

/* Hue 0..360 and saturation 0..100 as RGB at full value (color_hs_to_RGB). */
void mqtt_hs_to_rgb(double h, double s, int rgb[3]);
/* RGB as hue and saturation, rounded to 3 decimals (color_RGB_to_hs). */
void mqtt_rgb_to_hs(double r, double g, double b, double hs[2]);
/* RGB as CIE xy, rounded to 3 decimals; black is 0,0 (color_RGB_to_xy). */
void mqtt_rgb_to_xy(int r, int g, int b, double xy[2]);
/* RGBW as the RGB it shows (color_rgbw_to_rgb): the white added to each
 * channel, scaled back to the largest channel given. */
void mqtt_rgbw_to_rgb(const int rgbw[4], int rgb[3]);
/* CIE xy as RGB at full brightness (color_xy_to_RGB). */
void mqtt_xy_to_rgb(double x, double y, int rgb[3]);
/* A colour temperature as RGB (color_temperature_to_rgb), 1000 to 40000 K. */
void mqtt_kelvin_to_rgb(double kelvin, double rgb[3]);
/* Mireds and kelvin, as Home Assistant converts them (floor division). */
int mqtt_kelvin_mired(double v);

/* ---- JSON out --------------------------------------------------------- */

/* j as compact JSON the way Home Assistant's json_dumps writes it: keys in
 * order, floats as Python's repr (0.3, not jansson's 0.29999999999999999).
 * malloc'd; NULL on ENOMEM. */
char *mqtt_json_text(const json_t *j);

/* ---- attributes -------------------------------------------------------- */

/* Parse a JSON attributes payload: an object, without the keys Home
 * Assistant refuses to take from a device (friendly_name, icon,
 * unit_of_measurement, ...). 0 with a new reference in *out; -EINVAL with
 * why in err (not JSON, not an object); -ENOMEM. */
int mqtt_json_attributes(const char *payload, size_t len, json_t **out, char *err,
			 size_t errlen);

#endif
