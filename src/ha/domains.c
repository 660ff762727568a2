/* SPDX-License-Identifier: MIT */
/* The entity domains, one row each: Home Assistant's services of the
 * domain, the discovery component and keys the bridge announces it with
 * (DESIGN §8: a real Home Assistant shown only these must make working
 * entities), and the /set payloads it takes, as Home Assistant's MQTT
 * platform of the same component sends them. */
#include "lib/internal.h"

#include "mqbridge/config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ha/domains.h"
#include "mqbridge/entity.h"

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- discovery ---------------------------------------------------------- */

/* A value Home Assistant can show: a numeric sensor must never be sent
 * "unknown" or "unavailable" as its value (the availability says so). */
#define NONE_IF_NOT_A_VALUE "{{ None if value in ('unknown', 'unavailable') else value }}"
#define ON_OFF_OR_NONE "{{ value if value in ('on', 'off') else 'None' }}"

static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, json_string(v));
}

/* The basic schema dims through its own topics, both of them ours: the
 * JSON schema's keys go. */
static void light_after(json_t *d, const struct domain_topics *t)
{
	bool dim = json_is_true(json_object_get(d, "brightness"));
	json_object_del(d, "brightness");
	json_object_del(d, "supported_color_modes");
	if (!dim)
		return;
	set_str(d, "brightness_command_topic", t->set);
	set_str(d, "brightness_command_template", "{\"state\": \"ON\", \"brightness\": {{ value }}}");
	set_str(d, "brightness_state_topic", t->attributes);
	set_str(d, "brightness_value_template",
		"{{ value_json.brightness if value_json.brightness is number else '' }}");
	json_object_set_new(d, "brightness_scale", json_integer(255));
}

/* Positions: 0-100 on /set, the current one in the attributes. */
static void cover_after(json_t *d, const struct domain_topics *t)
{
	if (!json_object_get(d, "position_open"))
		return;
	set_str(d, "set_position_topic", t->set);
	set_str(d, "position_topic", t->attributes);
	set_str(d, "position_template",
		"{{ value_json.current_position if value_json.current_position is number "
		"else '' }}");
}

/* ---- commands ----------------------------------------------------------- */

static bool is(const char *p, const char *word)
{
	return strcasecmp(p, word) == 0;
}

static const char *on_off(const char *p, json_t *data)
{
	if (is(p, "ON"))
		return "turn_on";
	if (is(p, "OFF"))
		return "turn_off";
	if (is(p, "TOGGLE"))
		return "toggle";
	return NULL;
}

/* ON/OFF/TOGGLE, or the JSON the basic schema's brightness template sends. */
static const char *light_command(const char *p, json_t *data)
{
	const char *service = on_off(p, data);
	if (service || p[0] != '{')
		return service;
	json_t *j = json_loads(p, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(j)) {
		const char *st = json_string_value(json_object_get(j, "state"));
		json_t *br = json_object_get(j, "brightness");
		if (st && is(st, "OFF"))
			service = "turn_off";
		else if ((st && is(st, "ON")) || (!st && json_is_number(br)))
			service = "turn_on";
		if (service && json_is_number(br) && strcmp(service, "turn_on") == 0) {
			double v = json_number_value(br);
			if (v >= 0 && v <= 255)
				json_object_set_new(data, "brightness",
						    json_integer((json_int_t)lround(v)));
			else
				service = NULL;
		}
	}
	json_decref(j);
	return service;
}

static const char *cover_command(const char *p, json_t *data)
{
	if (is(p, "OPEN"))
		return "open_cover";
	if (is(p, "CLOSE"))
		return "close_cover";
	if (is(p, "STOP"))
		return "stop_cover";
	char *end;
	long v = strtol(p, &end, 10);
	if (end == p || *end || v < 0 || v > 100)
		return NULL;
	json_object_set_new(data, "position", json_integer(v));
	return "set_cover_position";
}

static const char *button_command(const char *p, json_t *data)
{
	return is(p, "PRESS") ? "press" : NULL;
}

/* A script is pressed as a button, and runs without the caller waiting:
 * script.turn_on. */
static const char *script_command(const char *p, json_t *data)
{
	return is(p, "PRESS") ? "turn_on" : NULL;
}

static const char *number_command(const char *p, json_t *data)
{
	char *end;
	double v = strtod(p, &end);
	if (end == p || *end || !isfinite(v))
		return NULL;
	json_object_set_new(data, "value", json_real(v));
	return "set_value";
}

static const char *select_command(const char *p, json_t *data)
{
	if (!*p)
		return NULL;
	json_object_set_new(data, "option", json_string(p));
	return "select_option";
}

/* input_text's set_value: the text as it is (an empty one too). */
static const char *text_command(const char *p, json_t *data)
{
	json_object_set_new(data, "value", json_string(p));
	return "set_value";
}

/* counter: INCREMENT, DECREMENT, RESET, or the value to set. */
static const char *counter_command(const char *p, json_t *data)
{
	if (is(p, "INCREMENT"))
		return "increment";
	if (is(p, "DECREMENT"))
		return "decrement";
	if (is(p, "RESET"))
		return "reset";
	char *end;
	long long v = strtoll(p, &end, 10);
	if (end == p || *end)
		return NULL;
	json_object_set_new(data, "value", json_integer(v));
	return "set_value";
}

/* timer: START, PAUSE, CANCEL, FINISH. */
static const char *timer_command(const char *p, json_t *data)
{
	static const char *const words[] = {"start", "pause", "cancel", "finish"};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (is(p, words[i]))
			return words[i];
	return NULL;
}

/* input_datetime: what set_datetime takes, by its shape: a time of day
 * ("07:30"), a date ("2024-05-01") or a date and time. The entity checks
 * the value. */
static const char *datetime_command(const char *p, json_t *data)
{
	size_t len = strlen(p);
	if (!len)
		return NULL;
	const char *key = strchr(p, '-') == NULL ? "time" : len == 10 ? "date" : "datetime";
	json_object_set_new(data, key, json_string(p));
	return "set_datetime";
}

/* Home Assistant's MQTT sensor has no command topic (its discovery drops
 * the key): a helper shown as a sensor takes its /set all the same. */
static void sensor_after(json_t *d, const struct domain_topics *t)
{
	(void)t;
	json_object_del(d, "command_topic");
}

/* ---- what Home Assistant refuses --------------------------------------- */

/* Device classes, as sensor/const.py, binary_sensor/__init__.py, ... of
 * Home Assistant list them (with the newer ones, so a configuration
 * written for a recent Home Assistant loads). */
#define NUMERIC_CLASSES                                                                    \
	"absolute_humidity", "apparent_power", "aqi", "area", "atmospheric_pressure",      \
		"battery", "blood_glucose_concentration", "carbon_monoxide", "carbon_dioxide", \
		"conductivity", "current", "data_rate", "data_size", "distance", "duration",  \
		"energy", "energy_distance", "energy_storage", "frequency", "gas", "humidity", \
		"illuminance", "irradiance", "moisture", "monetary", "nitrogen_dioxide",       \
		"nitrogen_monoxide", "nitrous_oxide", "ozone", "ph", "pm1", "pm10", "pm25",    \
		"pm4", "power_factor", "power", "precipitation", "precipitation_intensity",    \
		"pressure", "reactive_energy", "reactive_power", "signal_strength",            \
		"sound_pressure", "speed", "sulphur_dioxide", "temperature",                   \
		"temperature_delta", "volatile_organic_compounds",                             \
		"volatile_organic_compounds_parts", "voltage", "volume", "volume_flow_rate",   \
		"volume_storage", "water", "weight", "wind_direction", "wind_speed"

static const char *const sensor_classes[] = {NUMERIC_CLASSES, "date", "enum", "timestamp", NULL};
static const char *const number_classes[] = {NUMERIC_CLASSES, NULL};
static const char *const binary_classes[] = {
	"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
	"garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
	"occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety",
	"smoke", "sound", "tamper", "update", "vibration", "window", NULL};

static const struct {
	const char *domain;
	const char *const *classes; /* NULL: the domain has no device_class */
} device_classes[] = {
	{"sensor", sensor_classes},
	{"number", number_classes},
	{"binary_sensor", binary_classes},
	{"switch", LIST("outlet", "switch")},
	{"button", LIST("identify", "restart", "update")},
	{"cover", LIST("awning", "blind", "curtain", "damper", "door", "garage", "gate", "shade",
		       "shutter", "window")},
	{"valve", LIST("water", "gas")},
	{"humidifier", LIST("humidifier", "dehumidifier")},
	{"event", LIST("doorbell", "button", "motion")},
	{"update", LIST("firmware")},
	{"media_player", LIST("tv", "speaker", "receiver")},
};

/* Units a device class allows (sensor/const.py DEVICE_CLASS_UNITS, the
 * union over recent versions); "" stands for no unit. A class not here
 * takes any unit. */
#define MICRO_G_M3 "μg/m³", "µg/m³" /* both mu signs */
#define PRESSURE "Pa", "hPa", "kPa", "mPa", "bar", "cbar", "mbar", "mmHg", "inHg", "inH₂O", "psi"
#define ENERGY "J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", \
	"Mcal", "Gcal"
#define VOLUME "ft³", "CCF", "MCF", "m³", "L", "mL", "gal", "fl. oz."
#define SPEED "Beaufort", "ft/s", "in/s", "m/s", "km/h", "kn", "mph", "mm/s"
#define FLUX "in/d", "in/h", "mm/d", "mm/h"
static const struct {
	const char *device_class;
	const char *const *units;
} class_units[] = {
	{"apparent_power", LIST("VA", "mVA", "kVA")},
	{"aqi", LIST("")},
	{"area", LIST("m²", "cm²", "km²", "mm²", "in²",
		      "ft²", "yd²", "mi²", "ac", "ha")},
	{"atmospheric_pressure", LIST(PRESSURE)},
	{"battery", LIST("%")},
	{"blood_glucose_concentration", LIST("mg/dL", "mmol/L")},
	{"carbon_monoxide", LIST("ppm", "ppb", "mg/m³", MICRO_G_M3)},
	{"carbon_dioxide", LIST("ppm")},
	{"conductivity", LIST("S/cm", "mS/cm", "µS/cm", "μS/cm")},
	{"current", LIST("A", "mA")},
	{"data_rate", LIST("bit/s", "kbit/s", "Mbit/s", "Gbit/s", "B/s", "kB/s", "MB/s", "GB/s",
			   "KiB/s", "MiB/s", "GiB/s")},
	{"data_size", LIST("bit", "kbit", "Mbit", "Gbit", "B", "kB", "MB", "GB", "TB", "PB", "EB",
			   "ZB", "YB", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")},
	{"distance", LIST("mm", "cm", "m", "km", "in", "ft", "yd", "mi", "nmi", "μm")},
	{"duration", LIST("d", "h", "min", "s", "ms", "μs")},
	{"energy", LIST(ENERGY)},
	{"energy_distance", LIST("kWh/100km", "Wh/km", "mi/kWh", "km/kWh")},
	{"energy_storage", LIST(ENERGY)},
	{"frequency", LIST("Hz", "kHz", "MHz", "GHz")},
	{"gas", LIST("CCF", "MCF", "ft³", "m³", "L")},
	{"humidity", LIST("%")},
	{"illuminance", LIST("lx")},
	{"irradiance", LIST("W/m²", "BTU/(h⋅ft²)")},
	{"moisture", LIST("%")},
	{"nitrogen_dioxide", LIST(MICRO_G_M3, "ppb")},
	{"nitrogen_monoxide", LIST(MICRO_G_M3, "ppb")},
	{"nitrous_oxide", LIST(MICRO_G_M3)},
	{"ozone", LIST(MICRO_G_M3, "ppb")},
	{"ph", LIST("")},
	{"pm1", LIST(MICRO_G_M3)},
	{"pm10", LIST(MICRO_G_M3)},
	{"pm25", LIST(MICRO_G_M3)},
	{"pm4", LIST(MICRO_G_M3)},
	{"power_factor", LIST("%", "")},
	{"power", LIST("mW", "W", "kW", "MW", "GW", "TW", "BTU/h")},
	{"precipitation", LIST("cm", "in", "mm")},
	{"precipitation_intensity", LIST(FLUX)},
	{"pressure", LIST(PRESSURE)},
	{"reactive_energy", LIST("varh", "kvarh")},
	{"reactive_power", LIST("var", "mvar", "kvar")},
	{"signal_strength", LIST("dB", "dBm")},
	{"sound_pressure", LIST("dB", "dBA")},
	{"speed", LIST(SPEED, FLUX)},
	{"sulphur_dioxide", LIST(MICRO_G_M3, "ppb")},
	{"temperature", LIST("°C", "°F", "K")},
	{"temperature_delta", LIST("°C", "°F", "K")},
	{"volatile_organic_compounds", LIST(MICRO_G_M3, "mg/m³")},
	{"volatile_organic_compounds_parts", LIST("ppm", "ppb")},
	{"voltage", LIST("V", "mV", "µV", "μV", "kV", "MV")},
	{"volume", LIST(VOLUME)},
	{"volume_flow_rate", LIST("m³/h", "m³/min", "m³/s", "ft³/min",
				  "L/h", "L/min", "L/s", "gal/h", "gal/min", "gal/d", "mL/s")},
	{"volume_storage", LIST(VOLUME)},
	{"water", LIST("CCF", "MCF", "ft³", "m³", "gal", "L")},
	{"weight", LIST("g", "kg", "mg", "µg", "μg", "oz", "lb", "st")},
	{"wind_direction", LIST("°")},
	{"wind_speed", LIST(SPEED)},
};

static const char *const state_classes[] = {"measurement", "measurement_angle", "total",
					    "total_increasing", NULL};

static bool listed(const char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

/* "a, b, c" of v into buf. */
static const char *joined(const char *const *v, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (; v && *v && o + 1 < len; v++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", *v);
	return buf;
}

const char *mqb_entity_info_invalid(const char *domain, const struct mqb_entity_info *info,
				    const char **key, char *buf, size_t buflen)
{
	char list[1024];
	const char *dc = info->device_class, *unit = info->unit_of_measurement;
	bool sensor = strcmp(domain, "sensor") == 0, number = strcmp(domain, "number") == 0;
	if (dc) {
		for (size_t i = 0; i < MQB_ARRAY_SIZE(device_classes); i++) {
			if (strcmp(device_classes[i].domain, domain) != 0 ||
			    listed(device_classes[i].classes, dc))
				continue;
			*key = "device_class";
			snprintf(buf, buflen, "'%s' is not a %s device class (one of %s)", dc,
				 domain, joined(device_classes[i].classes, list, sizeof list));
			return buf;
		}
	}
	if (info->state_class && (!sensor || !listed(state_classes, info->state_class))) {
		*key = "state_class";
		if (sensor)
			snprintf(buf, buflen, "'%s' is not a state class (one of %s)",
				 info->state_class, joined(state_classes, list, sizeof list));
		else
			snprintf(buf, buflen, "only sensors have a state class");
		return buf;
	}
	if (dc && sensor && strcmp(dc, "enum") == 0 && (unit || info->state_class)) {
		*key = unit ? "unit_of_measurement" : "state_class";
		snprintf(buf, buflen, "a sensor of device class enum has no %s", *key);
		return buf;
	}
	/* no unit passes, as Home Assistant's MQTT sensor and number let it */
	if (dc && unit && (sensor || number)) {
		for (size_t i = 0; i < MQB_ARRAY_SIZE(class_units); i++) {
			if (strcmp(class_units[i].device_class, dc) != 0)
				continue;
			if (listed(class_units[i].units, unit))
				break;
			*key = "unit_of_measurement";
			snprintf(buf, buflen,
				 "the unit of measurement '%s' is not valid together with device "
				 "class '%s' (%s%s)",
				 unit, dc,
				 class_units[i].units[0][0] ? "one of " : "none",
				 joined(class_units[i].units, list, sizeof list));
			return buf;
		}
	}
	if (info->entity_category) {
		const char *c = info->entity_category;
		if (strcmp(c, "config") != 0 && strcmp(c, "diagnostic") != 0) {
			*key = "entity_category";
			snprintf(buf, buflen, "'%s' is no entity category (config or diagnostic)", c);
			return buf;
		}
		if (strcmp(c, "config") == 0 && (sensor || strcmp(domain, "binary_sensor") == 0)) {
			*key = "entity_category";
			snprintf(buf, buflen,
				 "a %s cannot have the entity category config (diagnostic can)",
				 domain);
			return buf;
		}
	}
	if (info->icon && !strchr(info->icon, ':')) {
		*key = "icon";
		snprintf(buf, buflen, "icons are written prefix:name (mdi:thermometer), not '%s'",
			 info->icon);
		return buf;
	}
	return NULL;
}

bool mqb_entity_info_check(const char *domain, const struct mqb_entity_info *info,
			   const struct mqb_conf_node *item, const char *path,
			   struct mqb_conf_errors *errs)
{
	char buf[1280], p[512];
	const char *key = NULL;
	const char *msg = mqb_entity_info_invalid(domain, info, &key, buf, sizeof buf);
	if (!msg)
		return true;
	const struct mqb_conf_node *at = mqb_conf_get(item, key);
	snprintf(p, sizeof p, "%s.%s", path, key);
	mqb_conf_error_at(errs, at ? at : item, p, "%s", msg);
	return false;
}

/* ---- the rows ----------------------------------------------------------- */

static const char *const on_off_services[] = {"turn_on", "turn_off", "toggle", NULL};
/* A switch's states are on/off whatever its payloads: the discovery maps. */
static const char *const switch_discovery[] = {
	"state_on", "on", "state_off", "off", "payload_on", "ON", "payload_off", "OFF",
	"value_template", ON_OFF_OR_NONE, NULL};
static const char *const value_discovery[] = {"value_template", NONE_IF_NOT_A_VALUE, NULL};

static const struct domain domains[] = {
	{.name = "sensor", .discovery = value_discovery},
	{.name = "binary_sensor",
	 .discovery = LIST("payload_on", "on", "payload_off", "off", "value_template",
			   ON_OFF_OR_NONE)},
	{.name = "switch", .services = on_off_services, .discovery = switch_discovery,
	 .command = on_off},
	{.name = "light", .services = on_off_services,
	 .discovery = LIST("payload_on", "ON", "payload_off", "OFF", "state_value_template",
			   "{{ {'on': 'ON', 'off': 'OFF'}.get(value, 'None') }}"),
	 .discovery_after = light_after, .command = light_command},
	{.name = "cover",
	 .services = LIST("open_cover", "close_cover", "stop_cover", "set_cover_position"),
	 .discovery = LIST("payload_open", "OPEN", "payload_close", "CLOSE", "payload_stop", "STOP",
			   "state_open", "open", "state_opening", "opening", "state_closed",
			   "closed", "state_closing", "closing", "value_template",
			   NONE_IF_NOT_A_VALUE),
	 .discovery_after = cover_after, .command = cover_command},
	{.name = "button", .services = LIST("press"), .stateless = true,
	 .discovery = LIST("payload_press", "PRESS"), .command = button_command},
	{.name = "number", .services = LIST("set_value"), .discovery = value_discovery,
	 .command = number_command},
	{.name = "select", .services = LIST("select_option"), .discovery = value_discovery,
	 .command = select_command},
	/* Home Assistant has no MQTT helpers: it sees each as the component
	 * that shows and commands it (DESIGN §10); the helper's own keys
	 * (min, max, step, mode, options, pattern) come from the entity. */
	{.name = "input_boolean", .component = "switch", .services = on_off_services,
	 .discovery = switch_discovery, .command = on_off},
	{.name = "input_number", .component = "number",
	 .services = LIST("set_value", "increment", "decrement"), .discovery = value_discovery,
	 .command = number_command},
	{.name = "input_select", .component = "select",
	 .services = LIST("select_option", "select_next", "select_previous", "select_first",
			  "select_last", "set_options"),
	 .discovery = value_discovery, .command = select_command},
	{.name = "input_text", .component = "text", .services = LIST("set_value"),
	 .command = text_command},
	{.name = "input_button", .component = "button", .services = LIST("press"),
	 .stateless = true, .discovery = LIST("payload_press", "PRESS"), .command = button_command},
	{.name = "input_datetime", .component = "sensor", .services = LIST("set_datetime"),
	 .discovery = value_discovery, .discovery_after = sensor_after, .command = datetime_command},
	{.name = "counter", .component = "sensor",
	 .services = LIST("increment", "decrement", "reset", "set_value"),
	 .discovery = value_discovery, .discovery_after = sensor_after, .command = counter_command},
	{.name = "timer", .component = "sensor",
	 .services = LIST("start", "pause", "cancel", "finish", "change"),
	 .discovery = value_discovery, .discovery_after = sensor_after, .command = timer_command},
	/* Automations and scripts (DESIGN §10): enabled or not, as a switch;
	 * a script as a button that starts it. */
	{.name = "automation", .component = "switch",
	 .services = LIST("turn_on", "turn_off", "toggle", "trigger"),
	 .discovery = switch_discovery, .command = on_off},
	{.name = "script", .component = "button", .services = on_off_services, .stateless = true,
	 .discovery = LIST("payload_press", "PRESS"), .command = script_command},
	/* An old-style group's state is its members' on or off word (on,
	 * home, open, unlocked...) and sun.sun's above_horizon or
	 * below_horizon: text a sensor shows; neither takes a command. */
	{.name = "group", .component = "sensor", .discovery = value_discovery,
	 .discovery_after = sensor_after},
	{.name = "sun", .component = "sensor", .discovery = value_discovery,
	 .discovery_after = sensor_after},
};

/* Any other domain shows a value and takes no command. */
static const struct domain other = {.discovery = value_discovery};

const struct domain *domains__get(const char *name)
{
	for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++)
		if (strcmp(domains[i].name, name) == 0)
			return &domains[i];
	return &other;
}
