/* SPDX-License-Identifier: MIT */
/* group's sensor (homeassistant/components/group/sensor.py): one
 * statistic of numeric members (min, max, mean, median, last, range,
 * stdev, sum, product), with Home Assistant's rules for members that are
 * not numbers (ignore_non_numeric), for the device class, state class
 * and unit it takes from them, and for members in other units of the
 * same quantity, which are converted as its unit converters do. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mqbridge/entity.h"
#include "mqbridge/log.h"
#include "mqbridge/states.h"
#include "mqbridge/text.h"

#include "group.h"

/* ---- units --------------------------------------------------------------- */

/* A unit as Home Assistant's converters (util/unit_conversion.py) hold
 * it: how many of it make the converter's base unit; a value goes from
 * one to another as (v / from) * to, in that order, so the results are
 * Home Assistant's to the last bit. */
struct unit {
	const char *name;
	double ratio;
};

struct converter {
	const char *const *classes;
	const struct unit *units;
	size_t n;
	bool temperature; /* not a ratio: TemperatureConverter's formulas */
};

#define INCH_M 0.0254
#define FOOT_M (12 * INCH_M)
#define WH_TO_J 3600.0
#define WH_TO_CAL (WH_TO_J / 4.184)
#define L_M3 0.001
#define GAL_M3 (231 * INCH_M * INCH_M * INCH_M)
#define POUND_G 453.59237

static const struct unit energy[] = {
	{"Wh", 1000}, {"kWh", 1}, {"MWh", 1 / 1000.0}, {"GWh", 1 / 1e6}, {"TWh", 1 / 1e9},
	{"mWh", 1e6}, {"J", WH_TO_J * 1000}, {"kJ", WH_TO_J}, {"MJ", WH_TO_J / 1000},
	{"GJ", WH_TO_J / 1e6}, {"cal", WH_TO_CAL * 1000}, {"kcal", WH_TO_CAL},
	{"Mcal", WH_TO_CAL / 1000}, {"Gcal", WH_TO_CAL / 1e6},
};
static const struct unit power[] = {
	{"mW", 1000}, {"W", 1}, {"kW", 1 / 1000.0}, {"MW", 1 / 1e6}, {"GW", 1 / 1e9},
	{"TW", 1 / 1e12}, {"BTU/h", 1 / 0.29307107},
};
static const struct unit volume[] = {
	{"L", 1 / L_M3}, {"mL", 1 / (L_M3 * 0.001)}, {"m³", 1},
	{"ft³", 1 / (FOOT_M * FOOT_M * FOOT_M)}, {"CCF", 1 / (100 * FOOT_M * FOOT_M * FOOT_M)},
	{"gal", 1 / GAL_M3}, {"fl. oz.", 1 / (GAL_M3 / 128)},
};
static const struct unit distance[] = {
	{"km", 1 / 1000.0}, {"m", 1}, {"cm", 100}, {"mm", 1000}, {"in", 1 / INCH_M},
	{"ft", 1 / FOOT_M}, {"yd", 1 / (3 * FOOT_M)}, {"mi", 1 / (1760 * 3 * FOOT_M)},
};
static const struct unit current[] = {{"A", 1}, {"mA", 1000}};
static const struct unit voltage[] = {
	{"V", 1}, {"mV", 1000}, {"µV", 1e6}, {"kV", 1 / 1000.0}, {"MV", 1 / 1e6},
};
static const struct unit pressure[] = {
	{"Pa", 1}, {"hPa", 1 / 100.0}, {"kPa", 1 / 1000.0}, {"bar", 1 / 100000.0},
	{"cbar", 1 / 1000.0}, {"mbar", 1 / 100.0}, {"MPa", 1 / 1e6}, {"inHg", 1 / 3386.389},
	{"psi", 1 / 6894.757}, {"mmHg", 1 / 133.322},
};
static const struct unit mass[] = {
	{"g", 1}, {"kg", 1 / 1000.0}, {"mg", 1000}, {"µg", 1e6}, {"oz", 1 / (POUND_G / 16)},
	{"lb", 1 / POUND_G}, {"st", 1 / (POUND_G * 14)},
};
static const struct unit temperature[] = {{"°C", 0}, {"°F", 0}, {"K", 0}};

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define CONV(cls, u) {cls, u, MQB_ARRAY_SIZE(u), false}
static const struct converter converters[] = {
	CONV(LIST("energy", "energy_storage"), energy),
	CONV(LIST("power"), power),
	CONV(LIST("volume", "volume_storage", "water", "gas"), volume),
	CONV(LIST("distance", "precipitation"), distance),
	CONV(LIST("current"), current),
	CONV(LIST("voltage"), voltage),
	CONV(LIST("pressure", "atmospheric_pressure"), pressure),
	CONV(LIST("weight"), mass),
	{LIST("temperature"), temperature, MQB_ARRAY_SIZE(temperature), true},
};

static const struct converter *converter_of(const char *device_class)
{
	for (size_t i = 0; device_class && i < MQB_ARRAY_SIZE(converters); i++)
		for (const char *const *c = converters[i].classes; *c; c++)
			if (strcmp(*c, device_class) == 0)
				return &converters[i];
	return NULL;
}

static const struct unit *unit_of(const struct converter *cv, const char *name)
{
	for (size_t i = 0; name && i < cv->n; i++)
		if (strcmp(cv->units[i].name, name) == 0)
			return &cv->units[i];
	return NULL;
}

/* TemperatureConverter's formulas, as written there. */
static double convert_temperature(double v, const char *from, const char *to)
{
	if (strcmp(from, to) == 0)
		return v;
	if (strcmp(from, "°C") == 0)
		return strcmp(to, "°F") == 0 ? v * 1.8 + 32 : v + 273.15;
	if (strcmp(from, "°F") == 0)
		return strcmp(to, "°C") == 0 ? (v - 32) / 1.8 : (v - 32) / 1.8 + 273.15;
	return strcmp(to, "°C") == 0 ? v - 273.15 : (v - 273.15) * 1.8 + 32;
}

/* v from unit from to unit to of cv: false when either is not one of its
 * units (Home Assistant's KeyError). */
static bool convert(const struct converter *cv, double v, const char *from, const char *to,
		    double *out)
{
	const struct unit *f = unit_of(cv, from), *t = unit_of(cv, to);
	if (!f || !t)
		return false;
	if (cv->temperature)
		*out = convert_temperature(v, from, to);
	else
		*out = f == t ? v : v / f->ratio * t->ratio;
	return true;
}

/* ---- the sensor -------------------------------------------------------- */

enum stat { S_MIN, S_MAX, S_MEAN, S_MEDIAN, S_LAST, S_RANGE, S_STDEV, S_SUM, S_PRODUCT };
static const char *const stat_names[] = {"min",   "max",   "mean", "median",  "last",
					 "range", "stdev", "sum",  "product", NULL};

struct gsensor {
	struct group_entity g;
	enum stat stat;
	bool ignore_non_numeric;
	const char *conf_unit, *conf_dc, *conf_sc;
	char *unit, *dc, *sc;            /* the effective ones (configured or found) */
	/* _valid_units: a converter's units, one unit, or none */
	const struct converter *valid_conv;
	char *valid_unit;
	bool have_valid_units, can_convert;
	bool *incorrect;                 /* per member: warned already */
	json_t *extra;                   /* _extra_state_attribute, kept */
	double value;
	bool has_value;
};

/* Python's float() of a state: blanks around, decimal or inf/nan. */
static bool py_float(const char *s, double *out)
{
	size_t len = strlen(s);
	const char *p = mqb_strip(s, &len);
	char buf[128];
	if (!len || len >= sizeof buf)
		return false;
	memcpy(buf, p, len);
	buf[len] = '\0';
	const char *w = buf + (buf[0] == '+' || buf[0] == '-');
	bool word = strcasecmp(w, "inf") == 0 || strcasecmp(w, "infinity") == 0 ||
		    strcasecmp(w, "nan") == 0;
	if (!word && strspn(buf, "0123456789+-.eE") != len)
		return false;
	char *end;
	*out = strtod(buf, &end);
	return end != buf && !*end;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct member {
	const char *id;
	double v;
	double updated;
};

/* The statistic of v[0..n) (n >= 1; stdev needs 2): CALC_TYPES. */
static bool calc(struct gsensor *x, const struct member *v, size_t n, double *out)
{
	json_decref(x->extra);
	x->extra = json_object();
	size_t best = 0;
	switch (x->stat) {
	case S_MIN:
	case S_MAX:
		for (size_t i = 1; i < n; i++)
			if (x->stat == S_MIN ? v[best].v > v[i].v : v[best].v < v[i].v)
				best = i;
		json_object_set_new(x->extra, x->stat == S_MIN ? "min_entity_id" : "max_entity_id",
				    json_string(v[best].id));
		*out = v[best].v;
		return true;
	case S_LAST:
		for (size_t i = 1; i < n; i++)
			if (v[i].updated > v[best].updated)
				best = i;
		json_object_set_new(x->extra, "last_entity_id", json_string(v[best].id));
		*out = v[best].v;
		return true;
	case S_MEAN:
	case S_STDEV: {
		/* statistics.mean and stdev sum exactly; long double holds the
		 * sums of values of like size without loss */
		long double sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += v[i].v;
		long double mean = sum / (long double)n;
		if (x->stat == S_MEAN) {
			*out = (double)mean;
			return true;
		}
		if (n < 2) {
			MQB_LOG_WARNING(GROUP_SUB, "%s: stdev needs at least two values",
					mqb_entity_id(x->g.e));
			return false;
		}
		long double ss = 0;
		for (size_t i = 0; i < n; i++)
			ss += (v[i].v - mean) * (v[i].v - mean);
		*out = (double)sqrtl(ss / (long double)(n - 1));
		return true;
	}
	case S_MEDIAN: {
		double *s = malloc(n * sizeof *s);
		if (!s)
			return false;
		for (size_t i = 0; i < n; i++)
			s[i] = v[i].v;
		qsort(s, n, sizeof *s, cmp_double);
		*out = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
		free(s);
		return true;
	}
	case S_RANGE: {
		double lo = v[0].v, hi = v[0].v;
		for (size_t i = 1; i < n; i++) {
			lo = fmin(lo, v[i].v);
			hi = fmax(hi, v[i].v);
		}
		*out = hi - lo;
		return true;
	}
	case S_SUM:
	case S_PRODUCT: {
		double r = x->stat == S_SUM ? 0.0 : 1.0;
		for (size_t i = 0; i < n; i++)
			r = x->stat == S_SUM ? r + v[i].v : r * v[i].v;
		*out = r;
		return true;
	}
	}
	return false;
}

static const char *attr_str(const struct mqb_state *s, const char *key)
{
	return json_string_value(json_object_get(mqb_state_attributes(s), key));
}

static void set_owned(char **slot, const char *v)
{
	free(*slot);
	*slot = v ? strdup(v) : NULL;
}

/* _calculate_state_class / _calculate_device_class: the configured one,
 * else the members' when every member is numeric (or ignore_non_numeric)
 * and all have the same. */
static const char *common_attr(struct gsensor *x, struct mqb_state **valid, size_t nvalid,
			       const char *key)
{
	if (!nvalid || (!x->ignore_non_numeric && nvalid < x->g.ids.n))
		return NULL;
	const char *first = attr_str(valid[0], key);
	for (size_t i = 0; first && i < nvalid; i++) {
		const char *v = attr_str(valid[i], key);
		if (!v || strcmp(v, first) != 0)
			return NULL;
	}
	return first;
}

/* _calculate_unit_of_measurement: the configured one, else the members'
 * when they agree (or, with a convertible device class, are all units of
 * its quantity: the first member's is taken). */
static const char *common_unit(struct gsensor *x, struct mqb_state **valid, size_t nvalid)
{
	if (x->conf_unit)
		return x->conf_unit;
	if (!nvalid || (!x->ignore_non_numeric && nvalid < x->g.ids.n))
		return NULL;
	const struct converter *cv = converter_of(x->dc);
	const char *first = attr_str(valid[0], "unit_of_measurement");
	for (size_t i = 0; first && i < nvalid; i++) {
		const char *u = attr_str(valid[i], "unit_of_measurement");
		if (!u || (cv ? !unit_of(cv, u) : strcmp(u, first) != 0))
			return NULL;
	}
	return first;
}

/* _get_valid_units: once found they stay, unless ignore_non_numeric. A
 * device class without a converter takes its one unit (mqbridge has no
 * table of each class's units: Home Assistant's have one for most). */
static void valid_units(struct gsensor *x)
{
	if (x->have_valid_units && !x->ignore_non_numeric)
		return;
	const struct converter *cv = converter_of(x->dc);
	x->valid_conv = NULL;
	set_owned(&x->valid_unit, NULL);
	x->have_valid_units = x->unit != NULL;
	if (cv && x->unit) {
		x->can_convert = true;
		x->valid_conv = cv;
	} else if (x->unit) {
		set_owned(&x->valid_unit, x->unit);
	}
}

static bool unit_valid(const struct gsensor *x, const char *u)
{
	if (x->valid_conv)
		return unit_of(x->valid_conv, u) != NULL;
	return u && x->valid_unit && strcmp(u, x->valid_unit) == 0;
}

/* SensorGroup.async_update_group_state. */
static void update_sensor(struct group_entity *g)
{
	struct gsensor *x = (struct gsensor *)(void *)g;  /* g is its first member */
	const char *eid = mqb_entity_id(g->e);
	size_t n = g->ids.n, nvalid = 0, nvals = 0;
	struct mqb_state **st = calloc(n ? n : 1, sizeof *st);
	struct mqb_state **valid = calloc(n ? n : 1, sizeof *valid);
	struct member *vals = calloc(n ? n : 1, sizeof *vals);
	bool any_num = false, all_num = true, any_known = false, all_known = true;
	bool available = false;
	if (!st || !valid || !vals)
		goto out;
	double d;
	for (size_t i = 0; i < n; i++) {
		st[i] = mqb_states_async_get(g->core, g->ids.v[i]);
		if (st[i] && py_float(mqb_state_value(st[i]), &d))
			valid[nvalid++] = st[i];
	}
	/* calculate_state_attributes */
	set_owned(&x->sc, x->conf_sc ? x->conf_sc : common_attr(x, valid, nvalid, "state_class"));
	set_owned(&x->dc, x->conf_dc ? x->conf_dc : common_attr(x, valid, nvalid, "device_class"));
	set_owned(&x->unit, common_unit(x, valid, nvalid));
	valid_units(x);
	for (size_t i = 0; i < n; i++) {
		if (!st[i])
			continue;
		const char *s = mqb_state_value(st[i]);
		bool known = strcmp(s, "unknown") != 0 && strcmp(s, "unavailable") != 0;
		any_known |= known;
		all_known &= known;
		bool ok = py_float(s, &d);
		if (!ok) {
			if (!x->ignore_non_numeric && !x->incorrect[i]) {
				x->incorrect[i] = true;
				MQB_LOG_WARNING(GROUP_SUB,
						"Unable to use state. Only numerical states are "
						"supported, entity %s with value %s excluded from "
						"calculation in %s",
						g->ids.v[i], s, eid);
			}
		} else {
			const char *u = attr_str(st[i], "unit_of_measurement");
			if (x->have_valid_units && unit_valid(x, u) && x->can_convert)
				ok = convert(x->valid_conv, d, u, x->unit, &d);
			if (ok && x->have_valid_units && !unit_valid(x, u))
				ok = false;
			if (!ok && !x->incorrect[i]) {
				x->incorrect[i] = true;
				MQB_LOG_WARNING(GROUP_SUB,
						"Unable to use state. Only entities with correct unit "
						"of measurement is supported, entity %s, value %s with "
						"device class %s and unit of measurement %s excluded "
						"from calculation in %s",
						g->ids.v[i], s, x->dc ? x->dc : "None", u ? u : "None",
						eid);
			}
			if (ok) {
				x->incorrect[i] = false;
				vals[nvals++] = (struct member){g->ids.v[i], d,
								mqb_state_last_updated(st[i])};
			}
		}
		any_num |= ok;
		all_num &= ok;
	}
	/* Home Assistant: unavailable while no member is numeric; unknown
	 * while not all (any, with ignore_non_numeric) are known numbers */
	available = any_num;
	bool valid_state = x->ignore_non_numeric ? any_known : all_known;
	bool valid_numeric = x->ignore_non_numeric ? any_num : all_num;
	x->has_value = available && valid_state && valid_numeric && nvals &&
		       calc(x, vals, nvals, &x->value);
out:
	for (size_t i = 0; st && i < n; i++)
		mqb_state_unref(st[i]);
	free(st);
	free(valid);
	free(vals);
	mqb_entity_async_set_available(g->e, available);
	char buf[MQB_FLOAT_REPR_MAX];
	if (x->has_value)
		mqb_format_double(x->value, buf);
	mqb_entity_async_set_state(g->e, x->has_value ? buf : NULL);
	json_t *a = json_object();
	if (available) {
		json_object_set_new(a, "entity_id", group_ids_json(&g->ids));
		json_object_update(a, x->extra);
	}
	/* what the entity found itself; the configured ones are its own */
	if (!x->conf_sc && x->sc)
		json_object_set_new(a, "state_class", json_string(x->sc));
	if (!x->conf_dc && x->dc)
		json_object_set_new(a, "device_class", json_string(x->dc));
	if (!x->conf_unit && x->unit)
		json_object_set_new(a, "unit_of_measurement", json_string(x->unit));
	if (!x->dc)
		json_object_set_new(a, "icon", json_string("mdi:calculator"));
	mqb_entity_async_set_attributes(g->e, a);
}

static void sensor_fini(struct group_entity *g)
{
	struct gsensor *x = (struct gsensor *)(void *)g;  /* g is its first member */
	free(x->unit);
	free(x->dc);
	free(x->sc);
	free(x->valid_unit);
	free(x->incorrect);
	json_decref(x->extra);
}

static const struct mqb_entity_ops sensor_ops = {.async_added = group_entity_added,
						 .async_will_remove = group_entity_will_remove,
						 .free = group_entity_free};

/* ---- configuration ------------------------------------------------------- */

#define DEFAULT_NAME "Sensor Group"
#define SC(f) .offset = offsetof(struct group_sensor_conf, f), .stored = true
static const char *const state_classes[] = {"measurement", "total", "total_increasing", NULL};
static const struct mqb_schema_key sensor_keys[] = {
	{.key = "entities", .type = MQB_S_ANY, .required = true, SC(c.entities),
	 .doc = "the members: sensor, number or input_number entity ids"},
	{.key = "type", .type = MQB_S_ENUM, .required = true, .choices = stat_names, SC(type),
	 .doc = "min, max, mean, median, last, range, stdev, sum or product"},
	{.key = "name", .type = MQB_S_STRING, .def = DEFAULT_NAME, SC(c.name),
	 .doc = "the sensor's name (default Sensor Group, then the type)"},
	{.key = "unique_id", .type = MQB_S_STRING, SC(c.unique_id), .doc = "unique id in discovery"},
	{.key = "ignore_non_numeric", .type = MQB_S_BOOL, .def = "false", SC(ignore_non_numeric),
	 .doc = "work with the numeric members alone"},
	{.key = "unit_of_measurement", .type = MQB_S_STRING, SC(unit),
	 .doc = "the unit (default: the members')"},
	{.key = "device_class", .type = MQB_S_STRING, SC(device_class),
	 .doc = "the device class (default: the members')"},
	{.key = "state_class", .type = MQB_S_ENUM, .choices = state_classes, SC(state_class),
	 .doc = "the state class (default: the members')"},
};
const struct mqb_schema group_sensor_schema = MQB_SCHEMA("sensor.group", sensor_keys);

void group_check_sensor(const void *conf, const struct mqb_conf_node *node, const char *path,
			struct mqb_conf_errors *errs)
{
	(void)node;
	const struct group_sensor_conf *c = conf;
	static const char *const domains[] = {"sensor", "number", "input_number", NULL};
	char p[256];
	snprintf(p, sizeof p, "%s.entities", path);
	group_check_ids(c->c.entities, p, domains, errs);
}

int group_setup_sensor(struct mqb_platform *p, const void *conf, const char *path)
{
	(void)path;
	const struct group_sensor_conf *c = conf;
	struct gsensor *x = calloc(1, sizeof *x);
	if (!x)
		return -ENOMEM;
	x->g.update = update_sensor;
	x->g.fini = sensor_fini;
	for (int i = 0; stat_names[i]; i++)
		if (strcmp(stat_names[i], c->type) == 0)
			x->stat = (enum stat)i;
	x->ignore_non_numeric = c->ignore_non_numeric;
	x->g.all = !c->ignore_non_numeric;
	x->conf_unit = c->unit;
	x->conf_dc = c->device_class;
	x->conf_sc = c->state_class;
	struct group_common common = c->c;
	char name[64];
	if (strcmp(c->c.name, DEFAULT_NAME) == 0) {
		/* f"{DEFAULT_NAME} {sensor_type}".capitalize() */
		snprintf(name, sizeof name, "Sensor group %s", c->type);
		common.name = name;
	}
	size_t n = 0;
	struct group_ids ids;
	if (group_ids_from_conf(c->c.entities, &ids) == 0)
		n = ids.n;
	group_ids_fini(&ids);
	if (!(x->incorrect = calloc(n ? n : 1, sizeof *x->incorrect))) {
		free(x);
		return -ENOMEM;
	}
	struct mqb_entity_info info = {.unit_of_measurement = c->unit,
				       .device_class = c->device_class,
				       .state_class = c->state_class};
	return group_entity_add(p, &x->g, &common, &info, &sensor_ops);
}
