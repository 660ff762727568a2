/* SPDX-License-Identifier: MIT */
/* Durations and times of day as Home Assistant's configuration writes them
 * (cv.time_period, cv.positive_time_period_template, cv.time), shared by
 * the script engine (delay, timeouts), conditions (state for:) and the
 * triggers (for:, offsets): compiled once at load, with templates rendered
 * each time the value is needed. */
#ifndef MQB_HA_DURATION_H
#define MQB_HA_DURATION_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "mqbridge/config.h"
#include "mqbridge/template.h"

/* How long: fixed, or templates to render. Zeroed is a fixed 0. */
struct duration {
	double seconds;              /* the value when fixed */
	struct mqb_template *tpl;    /* "{{ ... }}": the whole value rendered */
	struct duration_part *parts; /* a mapping with templates among its keys or values */
	size_t nparts;
	bool positive;               /* negative values are refused */
};

/* Flags for duration__compile. */
#define DURATION_POSITIVE 1u     /* cv.positive_time_period: "Time period should be positive" */

/* Compile node into *d: seconds (5, 0.001, "5"), "HH:MM", "[-+]HH:MM:SS[.F]"
 * (an unquoted 1:30 is YAML 1.1's sexagesimal 90 seconds, as PyYAML reads
 * it), a mapping of days, hours, minutes, seconds and milliseconds, a
 * template rendering any of those, or a mapping with templates in it.
 * Problems go to errs at their position under path; returns how many. On
 * error *d is left empty (duration__fini is still safe). Thread: any. */
size_t duration__compile(struct duration *d, const struct mqb_conf_node *node, const char *path,
			 unsigned flags, struct mqb_conf_errors *errs);
void duration__fini(struct duration *d);
/* True when no template is involved: d->seconds is the value. */
bool duration__fixed(const struct duration *d);

/* The value now: templates rendered with vars (may be NULL). 0 with
 * *seconds; -EINVAL with Home Assistant's message in err ("offset  should
 * be format 'HH:MM', 'HH:MM:SS' or 'HH:MM:SS.F'", "expected float for
 * dictionary value @ data['seconds']", a template's own error, ...);
 * -ENOMEM. Thread: any without a core in vars; the loop with one. */
int duration__render(const struct duration *d, const struct mqb_tpl_vars *vars, double *seconds,
		     char *err, size_t errlen);

/* A value (what a template rendered, read as Home Assistant reads it) as
 * cv.time_period takes it: a number of seconds, text, or a mapping.
 * 0 or -EINVAL with the message in err. Thread: any. */
int duration__from_json(const json_t *v, bool positive, double *seconds, char *err,
			size_t errlen);

/* Home Assistant's cv.time on text: "HH:MM" or "HH:MM:SS" (24 h), as
 * seconds after midnight. False for anything else. Thread: any. */
bool duration__parse_time_of_day(const char *s, size_t len, double *seconds);

/* seconds as Python's str(timedelta) prints it, as Home Assistant's logs
 * and `for` show it: "0:00:05", "0:00:00.500000", "1 day, 2:00:00",
 * "-1 day, 23:59:55". Returns buf. Thread: any. */
#define DURATION_TEXT_MAX 48
const char *duration__format(double seconds, char buf[DURATION_TEXT_MAX]);

/* Whether text holds a template (Home Assistant's is_template_string:
 * "{{", "{%" or "{#"). Thread: any. */
bool duration__is_template_text(const char *s, size_t len);

#endif
