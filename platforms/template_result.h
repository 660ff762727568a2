/* SPDX-License-Identifier: MIT */
/* What a template entity makes of a rendered string, by Home Assistant's
 * rules: the render is stripped and parsed as a Python literal where it
 * clearly is one (template/__init__.py _parse_result), then a sensor's
 * state, a binary sensor's on/off, a switch's state or an attribute's value
 * is taken from that. Pure functions: unit-tested in t/test_template_util.c. */
#ifndef MQB_PLATFORMS_TEMPLATE_RESULT_H
#define MQB_PLATFORMS_TEMPLATE_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

enum tres_kind {
	TRES_STRING, /* anything else: the stripped text itself */
	TRES_NONE,   /* "None" */
	TRES_BOOL,   /* "True", "False" */
	TRES_INT,    /* [+-]digits, no leading zero */
	TRES_FLOAT,  /* [+-]digits with a '.', no leading zero, no exponent */
};
/* The kind of a stripped render, as _parse_result would type it (list and
 * dict literals are TRES_STRING here: only attributes parse them). */
enum tres_kind tres_kind(const char *s, size_t len);

/* Home Assistant's result_as_boolean over the parsed result: 1 for True, a
 * non-zero number, or (any case) "1", "true", "yes", "on", "enable"; 0
 * otherwise. -1 for None when none_is_unknown (a binary sensor's state
 * then is unknown). */
int tres_bool(const char *s, size_t len, bool none_is_unknown);

/* A template switch's state: on for True, "true" or "on" in any case, else
 * off (switch.py _update_state). */
bool tres_switch_on(const char *s, size_t len);

/* A sensor's state: the stripped render, with numbers as Home Assistant
 * writes the parsed value (a float with 15 significant digits, "21.50" is
 * "21.5"; an int without its sign or zeros, "+3" is "3"). NULL (state
 * unknown) for None. Writes into buf (bufsize >= 64); returns buf, or s
 * itself (not NUL-terminated: *len says) when nothing changed. */
const char *tres_sensor_state(const char *s, size_t *len, char *buf, size_t bufsize);

/* An attribute's value: numbers, booleans, None and list/dict literals of
 * those and strings as JSON, else the stripped string. New reference, NULL
 * on ENOMEM. */
json_t *tres_json(const char *s, size_t len);

/* Home Assistant's rate limit of a template, in seconds, judged from its
 * text: 60 when it iterates `states` as a whole, 1 when it iterates one
 * domain (`states.sensor`), else 0. A template reaching an entity by name
 * (`states('x')`, `states.sensor.x`) is not limited. */
double tres_rate_limit(const char *text, size_t len);

#endif
