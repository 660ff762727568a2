/* SPDX-License-Identifier: MIT */
/* Durations and times of day as Home Assistant reads them: cv.time_period
 * (seconds, "HH:MM[:SS[.F]]", a mapping of days to milliseconds) with
 * templates anywhere in it (cv.positive_time_period_template), and cv.time.
 * The messages are Home Assistant's, so a log line reads the same. */
#include "lib/internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/schema.h"
#include "ha/duration.h"
#include "mqbridge/json.h"
#include "mqbridge/text.h"
#include "template/native.h"

static const char *const unit_names[] = { "days", "hours", "minutes", "seconds", "milliseconds" };
static const double unit_seconds[] = { 86400, 3600, 60, 1, 0.001 };
#define NUNITS 5
#define UNITS_TEXT "days, hours, minutes, seconds, milliseconds"

/* One entry of a mapping that holds templates: a key and a value, each
 * fixed or a template. */
struct duration_part {
	int unit;                    /* index in unit_names, when key_tpl is NULL */
	struct mqb_template *key_tpl;
	double value;                /* when value_tpl is NULL */
	struct mqb_template *value_tpl;
};

bool duration__is_template_text(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (s[i] == '{' && (s[i + 1] == '{' || s[i + 1] == '%' || s[i + 1] == '#'))
			return true;
	return false;
}

static int unit_of(const char *s, size_t len)
{
	for (int i = 0; i < NUNITS; i++)
		if (strlen(unit_names[i]) == len && memcmp(unit_names[i], s, len) == 0)
			return i;
	return -1;
}

bool duration__fixed(const struct duration *d)
{
	return !d->tpl && d->nparts == 0;
}

void duration__fini(struct duration *d)
{
	if (!d)
		return;
	mqb_template_free(d->tpl);
	for (size_t i = 0; i < d->nparts; i++) {
		mqb_template_free(d->parts[i].key_tpl);
		mqb_template_free(d->parts[i].value_tpl);
	}
	mqb__free(d->parts);
	memset(d, 0, sizeof *d);
}

static const char *const FORMAT_MSG = "should be format 'HH:MM', 'HH:MM:SS' or 'HH:MM:SS.F'";

/* A template node of a duration: compiled, or an error added. */
static size_t compile_tpl(const struct mqb_conf_node *n, const char *path,
			  struct mqb_conf_errors *errs, struct mqb_template **out)
{
	return schema__compile_template(n, path, errs, out) < 0 ? 1 : 0;
}

static bool is_template_node(const struct mqb_conf_node *n)
{
	size_t len;
	const char *s = mqb_conf_kind(n) == MQB_CONF_SCALAR ? mqb_conf_scalar(n, &len) : NULL;
	return s && duration__is_template_text(s, len);
}

static size_t compile_map(struct duration *d, const struct mqb_conf_node *node, const char *path,
			  struct mqb_conf_errors *errs)
{
	size_t n = mqb_conf_len(node), found = 0;
	bool templated = false;
	for (size_t i = 0; i < n; i++)
		if (is_template_node(mqb_conf_key(node, i)) || is_template_node(mqb_conf_value(node, i)))
			templated = true;
	if (n == 0) {
		mqb_conf_error_at(errs, node, path, "must contain at least one of " UNITS_TEXT ".");
		return 1;
	}
	if (templated && !(d->parts = mqb__calloc(n, sizeof *d->parts))) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	double total = 0;
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *k = mqb_conf_key(node, i), *v = mqb_conf_value(node, i);
		struct duration_part *p = templated ? &d->parts[d->nparts++] : NULL;
		size_t klen, vlen;
		const char *kt = mqb_conf_scalar(k, &klen);
		const char *vt = mqb_conf_kind(v) == MQB_CONF_SCALAR ? mqb_conf_scalar(v, &vlen) : NULL;
		int unit = -1;
		if (p && is_template_node(k)) {
			found += compile_tpl(k, path, errs, &p->key_tpl);
		} else if (!kt || (unit = unit_of(kt, klen)) < 0) {
			char buf[64];
			mqb_conf_error_at(errs, k, path, "extra keys not allowed @ data[%s]: expected one of " UNITS_TEXT,
					  schema__describe(k, buf, sizeof buf));
			found++;
			continue;
		}
		if (p)
			p->unit = unit;
		double x = 0;
		if (p && is_template_node(v)) {
			found += compile_tpl(v, path, errs, &p->value_tpl);
		} else if (!vt || !schema__parse_float(vt, vlen, &x)) {
			mqb_conf_error_at(errs, v, path, "expected float for dictionary value @ data['%s']",
					  unit >= 0 ? unit_names[unit] : "?");
			found++;
		} else if (p) {
			p->value = x;
		} else {
			total += x * unit_seconds[unit];
		}
	}
	if (!templated)
		d->seconds = total;
	return found;
}

size_t duration__compile(struct duration *d, const struct mqb_conf_node *node, const char *path,
			 unsigned flags, struct mqb_conf_errors *errs)
{
	size_t found = 0;
	memset(d, 0, sizeof *d);
	d->positive = flags & DURATION_POSITIVE;
	size_t len;
	const char *text;
	switch (mqb_conf_kind(node)) {
	case MQB_CONF_SCALAR:
		text = mqb_conf_scalar(node, &len);
		if (duration__is_template_text(text, len)) {
			found = compile_tpl(node, path, errs, &d->tpl);
			break;
		}
		if (!schema__parse_duration(text, len, !mqb_conf_quoted(node), &d->seconds)) {
			char buf[64];
			mqb_conf_error_at(errs, node, path, "offset %s %s",
					  schema__describe(node, buf, sizeof buf), FORMAT_MSG);
			found = 1;
		}
		break;
	case MQB_CONF_MAP:
		found = compile_map(d, node, path, errs);
		break;
	default:
		mqb_conf_error_at(errs, node, path,
				  "expected a duration (seconds, HH:MM, HH:MM:SS[.F], a mapping of "
				  UNITS_TEXT ", or a template)");
		found = 1;
		break;
	}
	if (!found && duration__fixed(d) && d->positive && d->seconds < 0) {
		mqb_conf_error_at(errs, node, path, "Time period should be positive");
		found = 1;
	}
	if (found)
		duration__fini(d);
	return found;
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* cv.time_period_dict on a rendered mapping. */
static int from_object(const json_t *v, double *out, char *err, size_t errlen)
{
	const char *k;
	json_t *x;
	double total = 0;
	if (json_object_size(v) == 0)
		return fail(err, errlen, "must contain at least one of " UNITS_TEXT ".");
	json_object_foreach((json_t *)v, k, x) {
		int unit = unit_of(k, strlen(k));
		if (unit < 0)
			return fail(err, errlen, "extra keys not allowed @ data['%s']", k);
		double f;
		if (json_is_number(x)) {
			f = json_number_value(x);
		} else if (json_is_boolean(x)) {
			f = json_is_true(x);
		} else if (!json_is_string(x) ||
			   !schema__parse_float(json_string_value(x), json_string_length(x), &f)) {
			return fail(err, errlen, "expected float for dictionary value @ data['%s']", k);
		}
		total += f * unit_seconds[unit];
	}
	*out = total;
	return 0;
}

int duration__from_json(const json_t *v, bool positive, double *seconds, char *err, size_t errlen)
{
	double s = 0;
	int rc = 0;
	switch (json_typeof(v)) {
	case JSON_INTEGER:
	case JSON_REAL:
		s = json_number_value(v);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		s = json_is_true(v); /* Python's bool is an int */
		break;
	case JSON_STRING:
		if (!schema__parse_duration(json_string_value(v), json_string_length(v), false, &s))
			rc = fail(err, errlen, "offset %s %s", json_string_value(v), FORMAT_MSG);
		break;
	case JSON_OBJECT:
		rc = from_object(v, &s, err, errlen);
		break;
	default: {
		char *t = mqb_json_dumps(v, MQB_JSON_COMPACT);
		rc = fail(err, errlen, "offset %s %s", t ? t : "None", FORMAT_MSG);
		free(t);
		break;
	}
	}
	if (rc)
		return rc;
	if (!isfinite(s))
		return fail(err, errlen, "offset %g %s", s, FORMAT_MSG);
	if (positive && s < 0)
		return fail(err, errlen, "Time period should be positive");
	*seconds = s;
	return 0;
}

static int render(const struct mqb_template *t, const struct mqb_tpl_vars *vars, json_t **out,
		  char *err, size_t errlen)
{
	struct mqb_tpl_error e;
	int rc = tpl__render_json(t, vars, true, out, &e);
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		fail(err, errlen, "%s", e.message);
	return rc;
}

int duration__render(const struct duration *d, const struct mqb_tpl_vars *vars, double *seconds,
		     char *err, size_t errlen)
{
	if (duration__fixed(d)) {
		*seconds = d->seconds;
		return 0;
	}
	json_t *v = NULL;
	int rc;
	if (d->tpl) {
		if ((rc = render(d->tpl, vars, &v, err, errlen)))
			return rc;
	} else {
		if (!(v = json_object()))
			return -ENOMEM;
		for (size_t i = 0; i < d->nparts; i++) {
			const struct duration_part *p = &d->parts[i];
			json_t *k = NULL, *x = NULL;
			if (p->key_tpl && (rc = render(p->key_tpl, vars, &k, err, errlen)))
				goto out;
			if (p->value_tpl && (rc = render(p->value_tpl, vars, &x, err, errlen))) {
				json_decref(k);
				goto out;
			}
			if (!x && !(x = json_real(p->value))) {
				json_decref(k);
				rc = -ENOMEM;
				goto out;
			}
			const char *ks = k ? json_string_value(k) : unit_names[p->unit];
			char kb[32];
			if (k && !ks) { /* a key rendered as a number or the like */
				snprintf(kb, sizeof kb, "%s", json_is_integer(k) ? "(a number)" : "(not text)");
				ks = kb;
			}
			rc = json_object_set_new(v, ks, x) ? -ENOMEM : 0;
			json_decref(k);
			if (rc)
				goto out;
		}
	}
	rc = duration__from_json(v, d->positive, seconds, err, errlen);
out:
	json_decref(v);
	return rc;
}

bool duration__parse_time_of_day(const char *s, size_t len, double *seconds)
{
	unsigned part[3] = { 0, 0, 0 };
	int n = 0;
	size_t i = 0;
	for (;;) {
		size_t d = 0;
		unsigned v = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9' && d < 9) {
			v = v * 10 + (unsigned)(s[i++] - '0');
			d++;
		}
		if (d == 0 || n == 3)
			return false;
		part[n++] = v;
		if (i == len)
			break;
		if (s[i++] != ':')
			return false;
	}
	if (n < 2 || part[0] > 23 || part[1] > 59 || part[2] > 59)
		return false;
	*seconds = part[0] * 3600.0 + part[1] * 60.0 + part[2];
	return true;
}

const char *duration__format(double seconds, char buf[DURATION_TEXT_MAX])
{
	/* timedelta keeps whole microseconds, rounded half to even */
	double us_total = nearbyint(seconds * 1e6);
	if (!isfinite(us_total) || fabs(us_total) > 9e18) {
		snprintf(buf, DURATION_TEXT_MAX, "%g", seconds);
		return buf;
	}
	long long t = (long long)us_total;
	long long day_us = 86400LL * 1000000LL;
	long long days = t / day_us, rest = t % day_us;
	if (rest < 0) {
		rest += day_us;
		days--;
	}
	long long us = rest % 1000000, secs = rest / 1000000;
	int n = 0;
	if (days)
		n = snprintf(buf, DURATION_TEXT_MAX, "%lld day%s, ", days,
			     days == 1 || days == -1 ? "" : "s");
	n += snprintf(buf + n, DURATION_TEXT_MAX - (size_t)n, "%lld:%02lld:%02lld", secs / 3600,
		      secs / 60 % 60, secs % 60);
	if (us)
		snprintf(buf + n, DURATION_TEXT_MAX - (size_t)n, ".%06lld", us);
	return buf;
}

int mqb_cv_time_period(const json_t *v, double *seconds, char *err, size_t errlen)
{
	return duration__from_json(v, false, seconds, err, errlen);
}

bool mqb_cv_time(const char *s, size_t len, double *seconds)
{
	return duration__parse_time_of_day(s, len, seconds);
}
