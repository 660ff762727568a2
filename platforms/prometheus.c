/* SPDX-License-Identifier: MIT */
/* prometheus: Home Assistant's Prometheus exporter
 * (homeassistant/components/prometheus): every entity's state, with its
 * metric names and labels, and the daemon's own counters, in Prometheus'
 * text format over HTTP (libmicrohttpd, in a thread of its own), plus a
 * health check for containers. The text is written on the loop, where
 * the states are, at each scrape; nothing is kept between scrapes but
 * each entity's count of state changes. */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fnmatch.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "mqbridge/bus.h"
#include "mqbridge/config.h"
#include "mqbridge/core.h"
#include "mqbridge/entity.h"
#include "mqbridge/error.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/mqtt.h"
#include "mqbridge/platform.h"
#include "mqbridge/states.h"
#include "mqbridge/timer.h"

#define SUB "prometheus"
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* A health check the loop does not answer within this is a failure. */
#define HEALTH_TIMEOUT 5.0

struct conf {
	const char *ns, *host, *default_metric, *override_metric;
	unsigned port;
	bool requires_auth;
	const struct mqb_conf_node *filter, *cc, *cc_domain, *cc_glob;
};

#define C(f) .offset = offsetof(struct conf, f), .stored = true
static const struct mqb_schema_key filter_keys[] = {
	{.key = "include_domains", .type = MQB_S_ANY, .doc = "domains exported (a list, or one)"},
	{.key = "include_entities", .type = MQB_S_ANY, .doc = "entities exported"},
	{.key = "include_entity_globs", .type = MQB_S_ANY, .doc = "entity id patterns exported"},
	{.key = "exclude_domains", .type = MQB_S_ANY, .doc = "domains left out"},
	{.key = "exclude_entities", .type = MQB_S_ANY, .doc = "entities left out"},
	{.key = "exclude_entity_globs", .type = MQB_S_ANY, .doc = "entity id patterns left out"},
};
static const struct mqb_schema filter_schema = MQB_SCHEMA("filter", filter_keys);
static const struct mqb_schema_key keys[] = {
	{.key = "namespace", .type = MQB_S_STRING, .def = "homeassistant", C(ns),
	 .doc = "the metric names' prefix (an empty string: none)"},
	{.key = "filter", .type = MQB_S_MAP, .sub = &filter_schema,
	 .doc = "the entities exported, as Home Assistant's entity filter"},
	{.key = "requires_auth", .type = MQB_S_BOOL, .def = "true", C(requires_auth),
	 .doc = "accepted for Home Assistant's sake: the endpoint has no users"},
	{.key = "default_metric", .type = MQB_S_STRING, C(default_metric),
	 .doc = "the metric of sensors without a device class"},
	{.key = "override_metric", .type = MQB_S_STRING, C(override_metric),
	 .doc = "the metric of every sensor"},
	{.key = "component_config", .type = MQB_S_ANY, C(cc),
	 .doc = "per entity id: {override_metric}"},
	{.key = "component_config_domain", .type = MQB_S_ANY, C(cc_domain),
	 .doc = "per domain: {override_metric}"},
	{.key = "component_config_glob", .type = MQB_S_ANY, C(cc_glob),
	 .doc = "per entity id pattern: {override_metric}"},
	{.key = "server_host", .type = MQB_S_STRING, .def = "127.0.0.1", C(host),
	 .doc = "the address the endpoint listens on (numeric)"},
	{.key = "server_port", .type = MQB_S_UINT, .def = "9586", .min = 1, .max = 65535,
	 C(port), .doc = "its TCP port"},
};
static const struct mqb_schema schema = MQB_SCHEMA("prometheus", keys);

struct exporter {
	struct mqb_core *core;
	struct conf c;
	char *ns;                   /* "homeassistant_", or "" */
	/* Per entity id, what HA's counters hold: state changes seen, when
	 * its counter was made (Unix time), and for automations the
	 * automation_triggered_count (states other than unavailable and
	 * unknown). */
	json_t *changes, *created, *triggered;
	struct mqb_listener *listener, *on_stop;
	struct MHD_Daemon *http;
};

/* ---- the text --------------------------------------------------------------- */

/* The families of one scrape, each with its samples, written out in the
 * order first met (Prometheus wants each family's samples together). */
struct family {
	char name[160];
	char help[128];             /* copied: a caller's may be on its stack */
	const char *type;
	char *body;
	size_t len;
	FILE *f;
};
struct scrape {
	struct exporter *x;
	struct family *fam;
	size_t n, cap;
	bool oom;
};

/* HA's _sanitize_metric_name: anything but [A-Za-z0-9_:] becomes u0x<hex
 * of the code point>. */
static void sanitize(const char *in, char *out, size_t len)
{
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)in;
	while (*p && o + 12 < len) {
		unsigned c = *p;
		int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
		if (extra) {
			c &= 0x3fu >> extra;
			for (int i = 0; i < extra && (p[1] & 0xc0) == 0x80; i++)
				c = (c << 6) | (*++p & 0x3fu);
		}
		p++;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == ':')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, len - o, "u0x%x", c);
	}
	out[o] = '\0';
}

static FILE *family(struct scrape *s, const char *metric, const char *type, const char *help)
{
	char full[160], name[160];
	snprintf(full, sizeof full, "%s%s", s->x->ns, metric);
	sanitize(full, name, sizeof name);
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->fam[i].name, name) == 0)
			return s->fam[i].f;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 32;
		struct family *nf = realloc(s->fam, cap * sizeof *nf);
		if (!nf) {
			s->oom = true;
			return NULL;
		}
		s->fam = nf;
		s->cap = cap;
	}
	struct family *f = &s->fam[s->n];
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s", name);
	snprintf(f->help, sizeof f->help, "%s", help);
	f->type = type;
	if (!(f->f = open_memstream(&f->body, &f->len))) {
		s->oom = true;
		return NULL;
	}
	s->n++;
	return f->f;
}

/* A label value as the text format quotes it. */
static void label(FILE *f, const char *v)
{
	fputc('"', f);
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f), fputc(*v, f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

static void number(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else
		fprintf(f, "%.17g", v);
}

/* One sample of an entity's metric, with HA's labels (entity,
 * friendly_name, domain) and one more when extra_key is given. */
static void sample(struct scrape *s, const struct mqb_state *st, const char *metric,
		   const char *type, const char *help, const char *extra_key,
		   const char *extra_value, double v)
{
	FILE *f = family(s, metric, type, help);
	if (!f)
		return;
	char dom[64];
	snprintf(dom, sizeof dom, "%.*s", (int)mqb_state_domain_len(st), mqb_state_domain(st));
	const char *fn = json_string_value(json_object_get(mqb_state_attributes(st), "friendly_name"));
	/* the family's name goes in front when the page is put together */
	fputs("{entity=", f);
	label(f, mqb_state_entity_id(st));
	fputs(",friendly_name=", f);
	label(f, fn ? fn : "None");
	fputs(",domain=", f);
	label(f, dom);
	if (extra_key) {
		fprintf(f, ",%s=", extra_key);
		label(f, extra_value);
	}
	fputs("} ", f);
	number(f, v);
	fputc('\n', f);
}

/* helpers/state.state_as_number: on, open, home, locked, above_horizon
 * are 1; off, closed, not_home, unlocked, below_horizon, unknown are 0;
 * else the number, or false. */
static bool as_number(const char *s, double *out)
{
	static const char *const one[] = {"on", "open", "home", "locked", "above_horizon"};
	static const char *const zero[] = {"off", "closed", "not_home", "unlocked",
					   "below_horizon", "unknown"};
	for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
		if (strcmp(s, one[i]) == 0)
			return *out = 1, true;
	for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
		if (strcmp(s, zero[i]) == 0)
			return *out = 0, true;
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !*s)
		return false;
	*out = v;
	return true;
}

/* HA's state_as_number wrapper in the exporter: 0 when not a number. */
static double value_of(const struct mqb_state *st)
{
	double v = 0;
	return as_number(mqb_state_value(st), &v) ? v : 0;
}

/* _unit_string: °C and °F are celsius, % percent, "/" becomes "_per_". */
static const char *unit_string(const char *unit, char *buf, size_t len)
{
	if (!unit)
		return NULL;
	if (strcmp(unit, "°C") == 0 || strcmp(unit, "°F") == 0)
		return "celsius";
	if (strcmp(unit, "%") == 0)
		return "percent";
	size_t o = 0;
	for (const char *p = unit; *p && o + 6 < len; p++) {
		if (*p == '/') {
			memcpy(buf + o, "_per_", 5);
			o += 5;
		} else {
			buf[o++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
		}
	}
	buf[o] = '\0';
	return buf;
}

static double fahrenheit_to_c(const json_t *a, double v)
{
	const char *u = json_string_value(json_object_get(a, "unit_of_measurement"));
	return u && strcmp(u, "°F") == 0 ? (v - 32) * 5 / 9 : v;
}

/* override_metric of component_config(_domain, _glob), entity first. */
static const char *component_override(struct exporter *x, const char *eid, const char *dom)
{
	const struct mqb_conf_node *n = x->c.cc ? mqb_conf_get(x->c.cc, eid) : NULL;
	if (!n && x->c.cc_domain)
		n = mqb_conf_get(x->c.cc_domain, dom);
	for (size_t i = 0; !n && mqb_conf_kind(x->c.cc_glob) == MQB_CONF_MAP &&
			   i < mqb_conf_len(x->c.cc_glob); i++) {
		const char *g = mqb_conf_scalar(mqb_conf_key(x->c.cc_glob, i), NULL);
		if (g && fnmatch(g, eid, 0) == 0)
			n = mqb_conf_value(x->c.cc_glob, i);
	}
	return n ? mqb_conf_scalar(mqb_conf_get(n, "override_metric"), NULL) : NULL;
}

static void battery(struct scrape *s, const struct mqb_state *st)
{
	const json_t *b = json_object_get(mqb_state_attributes(st), "battery_level");
	double v;
	if (json_is_number(b) || (json_is_string(b) && as_number(json_string_value(b), &v)))
		sample(s, st, "battery_level_percent", "gauge",
		       "Battery level as a percentage of its capacity", NULL, NULL,
		       json_is_number(b) ? json_number_value(b) : v);
}

static void sensor(struct scrape *s, const struct mqb_state *st, const char *dom)
{
	const json_t *a = mqb_state_attributes(st);
	const char *u = json_string_value(json_object_get(a, "unit_of_measurement"));
	const char *dc = json_string_value(json_object_get(a, "device_class"));
	char ubuf[64], metric[160];
	const char *unit = unit_string(u, ubuf, sizeof ubuf);
	const char *m = component_override(s->x, mqb_state_entity_id(st), dom);
	double v;
	if (!m)
		m = s->x->c.override_metric;
	if (!m && dc && strcmp(dc, "timestamp") == 0)
		m = "sensor_timestamp_seconds";
	if (!m && dc) {
		snprintf(metric, sizeof metric, "sensor_%s_%s", dc, unit ? unit : "None");
		m = metric;
	}
	if (!m)
		m = s->x->c.default_metric;
	if (!m && (!unit || !*unit))
		m = as_number(mqb_state_value(st), &v) ? "sensor_state" : NULL;
	else if (!m) {
		snprintf(metric, sizeof metric, "sensor_unit_%s", unit);
		m = metric;
	}
	if (m) {
		sample(s, st, m, "gauge", unit ? "Sensor data measured in its unit"
					       : "State of the sensor", NULL, NULL,
		       fahrenheit_to_c(a, value_of(st)));
	}
	battery(s, st);
}

static void numeric(struct scrape *s, const struct mqb_state *st, const char *dom,
		    const char *title)
{
	const json_t *a = mqb_state_attributes(st);
	char ubuf[64], metric[160];
	const char *unit = unit_string(json_string_value(json_object_get(a, "unit_of_measurement")),
				       ubuf, sizeof ubuf);
	if (unit)
		snprintf(metric, sizeof metric, "%s_state_%s", dom, unit);
	else
		snprintf(metric, sizeof metric, "%s_state", dom);
	sample(s, st, metric, "gauge", title, NULL, NULL, fahrenheit_to_c(a, value_of(st)));
}

static void attribute_gauge(struct scrape *s, const struct mqb_state *st, const char *attr,
			    const char *metric, const char *help, double scale)
{
	const json_t *v = json_object_get(mqb_state_attributes(st), attr);
	if (json_is_number(v))
		sample(s, st, metric, "gauge", help, NULL, NULL, json_number_value(v) * scale);
}

/* The value of Python's float(v) for a JSON value: numbers, booleans
 * (1/0) and strings that are a number (blanks around it allowed); false
 * for anything else. */
static bool py_float(const json_t *v, double *out)
{
	if (json_is_number(v))
		return *out = json_number_value(v), true;
	if (json_is_boolean(v))
		return *out = json_is_true(v), true;
	const char *t = json_string_value(v);
	if (!t)
		return false;
	char *end;
	while (*t == ' ' || *t == '\t' || *t == '\n')
		t++;
	*out = strtod(t, &end);
	if (end == t)
		return false;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	return *end == '\0';
}

/* HA's _handle_attributes (switches): every attribute float() takes, as
 * <domain>_attr_<key in lower case>. */
static void attributes(struct scrape *s, const struct mqb_state *st, const char *dom)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)mqb_state_attributes(st), key, v) {
		char metric[160], help[160];
		double d;
		if (!py_float(v, &d))
			continue;
		int n = snprintf(metric, sizeof metric, "%s_attr_", dom);
		for (size_t i = 0; key[i] && n + 1 < (int)sizeof metric; i++)
			metric[n++] = (key[i] >= 'A' && key[i] <= 'Z') ? (char)(key[i] - 'A' + 'a')
								      : key[i];
		metric[n] = '\0';
		snprintf(help, sizeof help, "%s attribute of %s entity", key, dom);
		sample(s, st, metric, "gauge", help, NULL, NULL, d);
	}
}

/* A label per value of a list attribute (modes), 1 for the current one:
 * HA's climate_mode, climate_preset_mode, climate_fan_mode. */
static void enum_gauge(struct scrape *s, const struct mqb_state *st, const char *current,
		       const json_t *values, const char *metric, const char *help)
{
	size_t i;
	const json_t *v;
	if (!current || !*current || !json_array_size(values))
		return;
	json_array_foreach(values, i, v) {
		const char *mode = json_string_value(v);
		if (mode)
			sample(s, st, metric, "gauge", help, "mode", mode,
			       strcmp(mode, current) == 0);
	}
}

/* HA's _handle_climate: the temperatures, the HVAC action (every one
 * of HVACAction, 1 for the current), the mode among hvac_modes (the
 * state), the preset and fan modes among theirs. */
static void climate(struct scrape *s, const struct mqb_state *st)
{
	/* homeassistant/components/climate/const.py, HVACAction */
	static const char *const actions[] = {"cooling", "defrosting", "drying", "fan",
					      "heating", "idle",       "off",    "preheating"};
	const json_t *a = mqb_state_attributes(st);
	attribute_gauge(s, st, "temperature", "climate_target_temperature_celsius",
			"Target temperature in degrees Celsius", 1);
	attribute_gauge(s, st, "target_temp_high", "climate_target_temperature_high_celsius",
			"Target high temperature in degrees Celsius", 1);
	attribute_gauge(s, st, "target_temp_low", "climate_target_temperature_low_celsius",
			"Target low temperature in degrees Celsius", 1);
	attribute_gauge(s, st, "current_temperature", "climate_current_temperature_celsius",
			"Current temperature in degrees Celsius", 1);
	const char *action = json_string_value(json_object_get(a, "hvac_action"));
	for (size_t i = 0; action && *action && i < sizeof actions / sizeof actions[0]; i++)
		sample(s, st, "climate_action", "gauge", "HVAC action", "action", actions[i],
		       strcmp(action, actions[i]) == 0);
	enum_gauge(s, st, mqb_state_value(st), json_object_get(a, "hvac_modes"), "climate_mode",
		   "HVAC mode");
	enum_gauge(s, st, json_string_value(json_object_get(a, "preset_mode")),
		   json_object_get(a, "preset_modes"), "climate_preset_mode", "Preset mode enum");
	enum_gauge(s, st, json_string_value(json_object_get(a, "fan_mode")),
		   json_object_get(a, "fan_modes"), "climate_fan_mode", "Fan mode enum");
}

/* A counter's <name>_created, as prometheus_client writes it in the text
 * format: a gauge of its own, the time the entity's counter was made. */
static void created(struct scrape *s, const struct mqb_state *st, const char *metric,
		    const char *help)
{
	const json_t *t = json_object_get(s->x->created, mqb_state_entity_id(st));
	sample(s, st, metric, "gauge", help, NULL, NULL,
	       t ? json_number_value(t) : mqb_state_last_updated(st));
}

/* The domain's own metrics, as HA's _handle_<domain>. */
static void by_domain(struct scrape *s, const struct mqb_state *st, const char *dom)
{
	const char *state = mqb_state_value(st);
	if (strcmp(dom, "sensor") == 0) {
		sensor(s, st, dom);
	} else if (strcmp(dom, "binary_sensor") == 0 || strcmp(dom, "input_boolean") == 0 ||
		   strcmp(dom, "switch") == 0 || strcmp(dom, "lock") == 0 ||
		   strcmp(dom, "fan") == 0 || strcmp(dom, "update") == 0 ||
		   strcmp(dom, "device_tracker") == 0 || strcmp(dom, "humidifier") == 0) {
		char metric[96], help[112];
		snprintf(metric, sizeof metric, "%s_state", dom);
		snprintf(help, sizeof help, "State of the %s (0/1)", dom);
		sample(s, st, metric, "gauge", help, NULL, NULL, value_of(st));
		if (strcmp(dom, "fan") == 0)
			attribute_gauge(s, st, "percentage", "fan_speed_percent",
					"Fan speed percent (0-100)", 1);
	} else if (strcmp(dom, "input_number") == 0 || strcmp(dom, "number") == 0) {
		numeric(s, st, dom, strcmp(dom, "number") == 0 ? "State of the number"
							       : "State of the input number");
	} else if (strcmp(dom, "automation") == 0) {
		json_int_t n = json_integer_value(json_object_get(s->x->triggered,
								  mqb_state_entity_id(st)));
		sample(s, st, "automation_triggered_count_total", "counter",
		       "Count of times an automation has been triggered", NULL, NULL,
		       (double)(n ? n : 1));
		created(s, st, "automation_triggered_count_created",
			"Count of times an automation has been triggered");
	} else if (strcmp(dom, "counter") == 0) {
		sample(s, st, "counter_value", "gauge", "Value of counter entities", NULL, NULL,
		       value_of(st));
	} else if (strcmp(dom, "light") == 0) {
		const json_t *b = json_object_get(mqb_state_attributes(st), "brightness");
		double v = strcmp(state, "on") == 0 && json_is_number(b)
				   ? json_number_value(b) / 255.0
				   : value_of(st);
		sample(s, st, "light_brightness_percent", "gauge",
		       "Light brightness percentage (0..100)", NULL, NULL, v * 100);
	} else if (strcmp(dom, "cover") == 0) {
		static const char *const states[] = {"closed", "closing", "open", "opening"};
		for (size_t i = 0; i < 4; i++)
			sample(s, st, "cover_state", "gauge", "State of the cover (0/1)", "state",
			       states[i], strcmp(state, states[i]) == 0);
		attribute_gauge(s, st, "current_position", "cover_position",
				"Position of the cover (0-100)", 1);
		attribute_gauge(s, st, "current_tilt_position", "cover_tilt_position",
				"Tilt Position of the cover (0-100)", 1);
	} else if (strcmp(dom, "climate") == 0) {
		climate(s, st);
	}
	if (strcmp(dom, "switch") == 0)
		attributes(s, st, dom);
}

static int one_state(void *ud, const struct mqb_state *st)
{
	struct scrape *s = ud;
	const char *eid = mqb_state_entity_id(st);
	if (!mqb_entity_filter_match(s->x->c.filter, "include_", s->x->c.filter, "exclude_", eid))
		return 0;
	char dom[64];
	snprintf(dom, sizeof dom, "%.*s", (int)mqb_state_domain_len(st), mqb_state_domain(st));
	const char *v = mqb_state_value(st);
	bool available = strcmp(v, "unavailable") != 0 && strcmp(v, "unknown") != 0;
	if (available)
		by_domain(s, st, dom);
	json_int_t n = json_integer_value(json_object_get(s->x->changes, eid));
	sample(s, st, "state_change_total", "counter", "The number of state changes", NULL, NULL,
	       (double)(n ? n : 1));
	created(s, st, "state_change_created", "The number of state changes");
	sample(s, st, "entity_available", "gauge",
	       "Entity is available (not in the unavailable or unknown state)", NULL, NULL,
	       available);
	sample(s, st, "last_updated_time_seconds", "gauge", "The last_updated timestamp", NULL,
	       NULL, mqb_state_last_updated(st));
	return s->oom ? -ENOMEM : 0;
}

/* The daemon's own figures, without the namespace (they are not Home
 * Assistant's): mqbridge_*, as node_exporter's are node_*. */
static void daemon_figures(FILE *o, struct mqb_core *core)
{
	struct mqb_mqtt_stats m;
	struct mqb_core_stats c;
	mqb_core_async_stats(core, &c);
	bool have_mqtt = mqb_mqtt_async_stats(core, &m) == 0;
	size_t running = 0;
	for (size_t i = 0, n = mqb_entities_async_count(core); i < n; i++) {
		struct mqb_entity *e = mqb_entities_async_get(core, i);
		const char *d = mqb_entity_domain(e);
		if (strcmp(d, "script") == 0 || strcmp(d, "automation") == 0)
			running += (size_t)json_integer_value(
				json_object_get(mqb_entity_async_attributes(e), "current"));
	}
	const struct {
		const char *name, *type, *help;
		double v;
	} figs[] = {
		{"mqbridge_entities", "gauge", "Entities set up", (double)mqb_entities_async_count(core)},
		{"mqbridge_scripts_running", "gauge", "Runs of scripts and automations going on",
		 (double)running},
		{"mqbridge_executor_queued_jobs", "gauge", "Executor jobs waiting for a thread",
		 c.executor_queued},
		{"mqbridge_executor_running_jobs", "gauge", "Executor jobs on a thread",
		 c.executor_running},
		{"mqbridge_executor_rejected_total", "counter", "Executor jobs refused, queue full",
		 (double)c.executor_rejected},
		{"mqbridge_command_failures_total", "counter",
		 "Commands that exited non-zero, were killed or did not start",
		 (double)mqb_core_counted(core, MQB_COUNT_COMMAND_FAILURES)},
		{"mqbridge_command_timeouts_total", "counter", "Commands killed at their timeout",
		 (double)mqb_core_counted(core, MQB_COUNT_COMMAND_TIMEOUTS)},
		{"mqbridge_template_render_errors_total", "counter", "Template renders that failed",
		 (double)mqb_core_counted(core, MQB_COUNT_RENDER_ERRORS)},
	};
	for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++) {
		fprintf(o, "# HELP %s %s\n# TYPE %s %s\n%s ", figs[i].name, figs[i].help,
			figs[i].name, figs[i].type, figs[i].name);
		number(o, figs[i].v);
		fputc('\n', o);
	}
	if (!have_mqtt)
		return;
	const struct {
		const char *name, *type, *help;
		double v;
	} mq[] = {
		{"mqbridge_mqtt_connected", "gauge", "Connected to the broker (0/1)", m.connected},
		{"mqbridge_mqtt_connects_total", "counter", "Connections made", (double)m.connects},
		{"mqbridge_mqtt_connect_failures_total", "counter", "Connections that failed",
		 (double)m.connect_failures},
		{"mqbridge_mqtt_messages_received_total", "counter", "Messages read from the broker",
		 (double)m.received},
		{"mqbridge_mqtt_messages_published_total", "counter",
		 "Messages handed to the broker", (double)m.published},
		{"mqbridge_mqtt_messages_dropped_total", "counter",
		 "Messages dropped: invalid topic, too large, handler busy",
		 (double)(m.dropped_invalid_topic + m.dropped_too_large + m.dropped_handler_busy)},
		{"mqbridge_mqtt_publish_failures_total", "counter", "Publishes that failed",
		 (double)m.publish_failures},
		{"mqbridge_mqtt_queued_messages", "gauge", "Publishes waiting for a connection",
		 m.queued},
		{"mqbridge_mqtt_subscriptions", "gauge", "Distinct topic filters subscribed",
		 m.subscriptions},
	};
	for (size_t i = 0; i < sizeof mq / sizeof mq[0]; i++) {
		fprintf(o, "# HELP %s %s\n# TYPE %s %s\n%s ", mq[i].name, mq[i].help, mq[i].name,
			mq[i].type, mq[i].name);
		number(o, mq[i].v);
		fputc('\n', o);
	}
}

struct text {
	char *buf;
	size_t len;
};

/* On the loop: the whole page but the process's figures. */
static int render(void *ud, void *arg, void **result)
{
	(void)result;
	struct exporter *x = ud;
	struct text *t = arg;
	struct scrape s = {.x = x};
	FILE *o = open_memstream(&t->buf, &t->len);
	if (!o)
		return -ENOMEM;
	int rc = mqb_states_async_foreach(x->core, one_state, &s);
	for (size_t i = 0; i < s.n; i++) {
		fclose(s.fam[i].f);
		if (rc == 0)
			fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", s.fam[i].name, s.fam[i].help,
				s.fam[i].name, s.fam[i].type);
		/* each sample line began with the family's name left out */
		for (char *line = s.fam[i].body; rc == 0 && line && *line;) {
			char *nl = strchr(line, '\n');
			fprintf(o, "%s%.*s\n", s.fam[i].name, (int)(nl ? nl - line : (long)strlen(line)),
				line);
			line = nl ? nl + 1 : NULL;
		}
		free(s.fam[i].body);
	}
	free(s.fam);
	if (rc == 0)
		daemon_figures(o, x->core);
	if (fclose(o) != 0 && rc == 0)
		rc = -ENOMEM;
	return rc;
}

/* On the HTTP thread: Prometheus' process collector's names. */
static void process_figures(FILE *o)
{
	struct mqb_process_stats p;
	if (mqb_process_stats(&p))
		return;
	fprintf(o, "# HELP process_cpu_seconds_total Total user and system CPU time spent in "
		   "seconds.\n# TYPE process_cpu_seconds_total counter\n"
		   "process_cpu_seconds_total %.2f\n", p.cpu_seconds);
	fprintf(o, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
		   "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n",
		p.rss_bytes);
	fprintf(o, "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
		   "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n",
		p.virtual_bytes);
	fprintf(o, "# HELP process_start_time_seconds Start time of the process since unix "
		   "epoch in seconds.\n# TYPE process_start_time_seconds gauge\n"
		   "process_start_time_seconds %.2f\n", p.start_time);
	fprintf(o, "# HELP process_open_fds Number of open file descriptors.\n"
		   "# TYPE process_open_fds gauge\nprocess_open_fds %u\n", p.open_fds);
	fprintf(o, "# HELP process_max_fds Maximum number of open file descriptors.\n"
		   "# TYPE process_max_fds gauge\nprocess_max_fds %u\n", p.max_fds);
}

static int health(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct exporter *x = ud;
	struct mqb_mqtt_stats m;
	if (mqb_mqtt_async_stats(x->core, &m) == 0 && !m.connected)
		return -ENOTCONN;
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
			     const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result text_reply(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char *b = strdup(msg);
	return b ? reply(c, status, b, strlen(b), "text/plain; charset=utf-8") : MHD_NO;
}

/* libmicrohttpd's thread: every request. */
static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url,
			     const char *method, const char *version, const char *upload,
			     size_t *upload_len, void **con)
{
	struct exporter *x = cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return text_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
	if (strcmp(url, "/healthz") == 0) {
		struct mqb_future *f = NULL;
		int rc = mqb_run_callback_threadsafe(x->core, health, x, NULL, &f);
		if (rc == 0)
			rc = mqb_future_result(f, HEALTH_TIMEOUT, NULL);
		mqb_future_unref(f);
		char msg[128];
		snprintf(msg, sizeof msg, "%s\n",
			 rc == 0 ? "ok"
			 : rc == -ENOTCONN ? "not connected to the broker"
			 : rc == -ETIMEDOUT ? "the event loop does not answer"
					    : mqb_strerror(rc));
		return text_reply(c, rc == 0 ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, msg);
	}
	if (strcmp(url, "/metrics") != 0 && strcmp(url, "/api/prometheus") != 0)
		return text_reply(c, MHD_HTTP_NOT_FOUND, "/metrics, /api/prometheus or /healthz\n");
	struct text t = {0};
	int rc = mqb_call_threadsafe(x->core, render, x, &t);
	if (rc) {
		free(t.buf);
		return text_reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, mqb_strerror(rc));
	}
	/* the process's figures read here, off the loop, and appended */
	char *pf = NULL, *all;
	size_t pl = 0;
	FILE *o = open_memstream(&pf, &pl);
	if (o) {
		process_figures(o);
		fclose(o);
	}
	if (pf && (all = realloc(t.buf, t.len + pl + 1))) {
		memcpy(all + t.len, pf, pl + 1);
		t.buf = all;
		t.len += pl;
	}
	free(pf);
	return reply(c, MHD_HTTP_OK, t.buf, t.len, CONTENT_TYPE);
}

/* ---- set-up ----------------------------------------------------------------- */

static void bump(json_t *counts, const char *eid)
{
	json_t *n = json_object_get(counts, eid);
	json_object_set_new(counts, eid, json_integer(n ? json_integer_value(n) + 1 : 1));
}

/* HA's handle_state: one more state change (its counter made at the
 * first), and for an automation in a state other than unavailable or
 * unknown one more automation_triggered_count. */
static void count(struct exporter *x, const struct mqb_state *st, double now)
{
	const char *eid = mqb_state_entity_id(st), *v = mqb_state_value(st);
	bump(x->changes, eid);
	if (!json_object_get(x->created, eid))
		json_object_set_new(x->created, eid, json_real(now));
	if (mqb_state_domain_len(st) == strlen("automation") &&
	    strncmp(mqb_state_domain(st), "automation", strlen("automation")) == 0 &&
	    strcmp(v, "unavailable") != 0 && strcmp(v, "unknown") != 0)
		bump(x->triggered, eid);
}

static int count_change(void *ud, void *arg, void **result)
{
	(void)result;
	struct exporter *x = ud;
	const char *eid = mqb_event_entity_id(arg);
	if (!eid || !mqb_event_new_state(arg))
		return 0;
	count(x, mqb_event_new_state(arg), mqb_async_now(x->core));
	return 0;
}

/* The setup found it: HA counts the state it finds then as the first. */
static int count_existing(void *ud, const struct mqb_state *st)
{
	struct exporter *x = ud;
	count(x, st, mqb_async_now(x->core));
	return 0;
}

/* At the stop the endpoint takes no more requests; one in flight gets
 * -ECANCELED from the loop and its answer. */
static int stopping(void *ud, void *arg, void **result)
{
	struct exporter *x = ud;
	if (x->http)
		MHD_quiesce_daemon(x->http);
	return 0;
}

static void exporter_free(void *p)
{
	struct exporter *x = p;
	if (!x)
		return;
	if (x->http)
		MHD_stop_daemon(x->http);
	json_decref(x->changes);
	json_decref(x->created);
	json_decref(x->triggered);
	free(x->ns);
	free(x);
}

static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	for (size_t i = 0; i < n; i++) {
		struct conf c = {0};
		mqb_schema_apply(&schema, entries[i].node, entries[i].path, &c, errs);
		struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE}, *ai = NULL;
		if (c.host && getaddrinfo(c.host, NULL, &hints, &ai) != 0)
			mqb_conf_error_at(errs, mqb_conf_get(entries[i].node, "server_host"),
					  entries[i].path,
					  "server_host: expected a numeric address, got '%s'", c.host);
		if (ai)
			freeaddrinfo(ai);
	}
}

/* The endpoint: 0, or -EADDRNOTAVAIL (logged). */
static int listen_http(struct exporter *x)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE,
				 .ai_socktype = SOCK_STREAM}, *ai = NULL;
	char port[8];
	snprintf(port, sizeof port, "%u", x->c.port);
	if (getaddrinfo(x->c.host, port, &hints, &ai) != 0)
		return -EINVAL;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			 (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	x->http = MHD_start_daemon(flags, (uint16_t)x->c.port, NULL, NULL, serve, x,
				   MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				   MHD_OPTION_CONNECTION_LIMIT, 16u,
				   MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!x->http) {
		MQB_LOG_ERROR(SUB, "cannot listen on %s port %u (in use, or not an address of "
			      "this machine?)", x->c.host, x->c.port);
		return -EADDRNOTAVAIL;
	}
	MQB_LOG_INFO(SUB, "metrics on http://%s%s%s:%u/metrics, health on /healthz",
		     strchr(x->c.host, ':') ? "[" : "", x->c.host,
		     strchr(x->c.host, ':') ? "]" : "", x->c.port);
	return 0;
}

static int on_start(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	listen_http(ud); /* a failure is logged; the rest runs on without it */
	return 0;
}

static int setup(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	struct mqb_core *core = mqb_integration_core(in);
	struct exporter *x = calloc(1, sizeof *x);
	if (!x)
		return -ENOMEM;
	x->core = core;
	int rc = -ENOMEM;
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	/* the filter and component_config are read at every scrape, from
	 * the configuration, which outlives the core */
	if (n == 0)
		goto fail;
	mqb_schema_apply(&schema, entries[0].node, entries[0].path, &x->c, &errs);
	x->c.filter = mqb_conf_get(entries[0].node, "filter");
	if (n > 1)
		MQB_LOG_WARNING(SUB, "only the first prometheus: block is used");
	size_t nl = strlen(x->c.ns);
	if (!(x->ns = malloc(nl + 2)) || !(x->changes = json_object()) ||
	    !(x->created = json_object()) || !(x->triggered = json_object()))
		goto fail;
	snprintf(x->ns, nl + 2, "%s%s", x->c.ns, nl ? "_" : "");
	if ((rc = mqb_core_async_set_data(core, SUB, x, exporter_free))) {
		exporter_free(x);
		mqb_conf_errors_fini(&errs);
		return rc;
	}
	if ((rc = mqb_states_async_foreach(core, count_existing, x)) ||
	    (rc = mqb_bus_async_listen(core, MQB_EVENT_STATE_CHANGED,
				       &MQB_CALLBACK(count_change, x), &x->listener)) ||
	    (rc = mqb_bus_async_listen(core, MQB_EVENT_STOP, &MQB_CALLBACK(stopping, x),
				       &x->on_stop)))
		goto out;
	/* Listening waits for the start, as Home Assistant's HTTP server
	 * does: a configuration set up and never started (mqbridge -C -v,
	 * --test, beside a running daemon) takes no port. */
	if (mqb_core_async_started(core))
		rc = listen_http(x);
	else
		rc = mqb_bus_async_listen_once(core, MQB_EVENT_START,
					       &MQB_CALLBACK(on_start, x), NULL);
out:
	mqb_conf_errors_fini(&errs);
	return rc;
fail:
	mqb_conf_errors_fini(&errs);
	exporter_free(x);
	return rc;
}

static const struct mqb_component component = {
	.shape = MQB_COMPONENT_BLOCK,
	.check = check,
	.async_setup = setup,
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = SUB,
	.component = &component,
};
