/* SPDX-License-Identifier: MIT */
/* The entity domains, one row each: Home Assistant's services of the
 * domain, the discovery component and keys the bridge announces it with
 * (DESIGN §8: a real Home Assistant shown only these must make working
 * entities), and the /set payloads it takes, as Home Assistant's MQTT
 * platform of the same component sends them. */
#include "lib/internal.h"

#include "mqbridge/config.h"

#include <math.h>
#include <stdio.h>
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

/* Whether the entity said it has feature f ("_features", which goes:
 * Home Assistant would not know it). */
static bool feature(json_t *d, const char *f)
{
	json_t *a = json_object_get(d, "_features");
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), f) == 0)
			return true;
	return false;
}

/* The template reading attribute key of the attributes topic: the value,
 * or what Home Assistant's platform takes for none there (its "None",
 * or an empty value that it ignores). */
static void attr_read(json_t *d, const struct domain_topics *t, const char *topic_key,
		      const char *tpl_key, const char *attr, const char *test, const char *none)
{
	char buf[320];
	snprintf(buf, sizeof buf, "{{ value_json.%s if value_json.%s is %s else '%s' }}", attr,
		 attr, test, none);
	set_str(d, topic_key, t->attributes);
	set_str(d, tpl_key, buf);
}

/* A setting commanded through /set as JSON of the service's data:
 * template is the JSON, {{ value }} where the value goes. */
static void attr_command(json_t *d, const struct domain_topics *t, const char *topic_key,
			 const char *tpl_key, const char *tpl)
{
	set_str(d, topic_key, t->set);
	set_str(d, tpl_key, tpl);
}

/* A list of numbers as Home Assistant's basic light reads one: "a,b,c". */
static void list_read(json_t *d, const struct domain_topics *t, const char *topic_key,
		      const char *tpl_key, const char *attr)
{
	char buf[200];
	snprintf(buf, sizeof buf, "{{ value_json.%s | join(',') if value_json.%s else '' }}", attr,
		 attr);
	set_str(d, topic_key, t->attributes);
	set_str(d, tpl_key, buf);
}

static bool has_mode(json_t *d, const char *mode)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(d, "supported_color_modes"), i, v)
		if (strcmp(json_string_value(v), mode) == 0)
			return true;
	return false;
}

/* Any light, in any schema, is announced in the basic one, a topic per
 * setting: each colour mode it has commands through /set with JSON of
 * light.turn_on's data and reads its attribute. */
static void light_after(json_t *d, const struct domain_topics *t)
{
	json_t *modes = json_object_get(d, "supported_color_modes");
	size_t nmodes = json_array_size(modes);
	/* the JSON schema's "brightness": true of an integration that says
	 * no more */
	bool dim = (nmodes && !has_mode(d, "onoff")) ||
		   (!nmodes && json_is_true(json_object_get(d, "brightness")));
	json_object_del(d, "brightness");
	if (dim) {
		attr_command(d, t, "brightness_command_topic", "brightness_command_template",
			     "{\"state\": \"ON\", \"brightness\": {{ value }}}");
		attr_read(d, t, "brightness_state_topic", "brightness_value_template", "brightness",
			  "number", "");
		json_object_set_new(d, "brightness_scale", json_integer(255));
	}
	if (nmodes > 1)
		attr_read(d, t, "color_mode_state_topic", "color_mode_value_template", "color_mode",
			  "string", "");
	if (has_mode(d, "color_temp")) {
		attr_command(d, t, "color_temp_command_topic", "color_temp_command_template",
			     "{\"state\": \"ON\", \"color_temp_kelvin\": {{ value }}}");
		attr_read(d, t, "color_temp_state_topic", "color_temp_value_template",
			  "color_temp_kelvin", "number", "");
		json_object_set_new(d, "color_temp_kelvin", json_true());
	} else {
		json_object_del(d, "min_kelvin");
		json_object_del(d, "max_kelvin");
	}
	if (has_mode(d, "hs")) {
		attr_command(d, t, "hs_command_topic", "hs_command_template",
			     "{\"state\": \"ON\", \"hs_color\": [{{ hue }}, {{ sat }}]}");
		list_read(d, t, "hs_state_topic", "hs_value_template", "hs_color");
	}
	if (has_mode(d, "xy")) {
		attr_command(d, t, "xy_command_topic", "xy_command_template",
			     "{\"state\": \"ON\", \"xy_color\": [{{ x }}, {{ y }}]}");
		list_read(d, t, "xy_state_topic", "xy_value_template", "xy_color");
	}
	if (has_mode(d, "rgb")) {
		attr_command(d, t, "rgb_command_topic", "rgb_command_template",
			     "{\"state\": \"ON\", \"rgb_color\": [{{ red }}, {{ green }}, {{ blue }}]}");
		list_read(d, t, "rgb_state_topic", "rgb_value_template", "rgb_color");
	}
	if (has_mode(d, "rgbw")) {
		attr_command(d, t, "rgbw_command_topic", "rgbw_command_template",
			     "{\"state\": \"ON\", \"rgbw_color\": [{{ red }}, {{ green }}, "
			     "{{ blue }}, {{ white }}]}");
		list_read(d, t, "rgbw_state_topic", "rgbw_value_template", "rgbw_color");
	}
	if (has_mode(d, "rgbww")) {
		attr_command(d, t, "rgbww_command_topic", "rgbww_command_template",
			     "{\"state\": \"ON\", \"rgbww_color\": [{{ red }}, {{ green }}, "
			     "{{ blue }}, {{ cold_white }}, {{ warm_white }}]}");
		list_read(d, t, "rgbww_state_topic", "rgbww_value_template", "rgbww_color");
	}
	if (has_mode(d, "white")) {
		/* the basic schema sends white as a bare number: /set takes it */
		set_str(d, "white_command_topic", t->set);
		json_object_set_new(d, "white_scale", json_integer(255));
	}
	if (json_object_get(d, "effect_list")) {
		attr_command(d, t, "effect_command_topic", "effect_command_template",
			     "{\"state\": \"ON\", \"effect\": {{ value | tojson }}}");
		attr_read(d, t, "effect_state_topic", "effect_value_template", "effect", "string", "");
	}
	json_object_del(d, "supported_color_modes");
}

/* Positions: 0-100 on /set, the current one in the attributes; the tilt
 * likewise, as JSON. */
static void cover_after(json_t *d, const struct domain_topics *t)
{
	if (json_object_get(d, "position_open")) {
		set_str(d, "set_position_topic", t->set);
		attr_read(d, t, "position_topic", "position_template", "current_position", "number",
			  "");
	}
	if (feature(d, "tilt")) {
		attr_command(d, t, "tilt_command_topic", "tilt_command_template",
			     "{\"tilt_position\": {{ value }}}");
		attr_read(d, t, "tilt_status_topic", "tilt_status_template", "current_tilt_position",
			  "number", "");
		json_object_set_new(d, "tilt_min", json_integer(0));
		json_object_set_new(d, "tilt_max", json_integer(100));
		json_object_set_new(d, "tilt_opened_value", json_integer(100));
		json_object_set_new(d, "tilt_closed_value", json_integer(0));
		set_str(d, "payload_stop_tilt", "STOP_TILT");
	}
	json_object_del(d, "_features");
}

/* A valve that reports its position is read and set by position alone. */
static void valve_after(json_t *d, const struct domain_topics *t)
{
	if (feature(d, "position")) {
		json_object_set_new(d, "reports_position", json_true());
		attr_read(d, t, "state_topic", "value_template", "current_position", "number",
			  "None");
		set_str(d, "command_template", "{\"position\": {{ value }}}");
		json_object_del(d, "payload_open");
		json_object_del(d, "payload_close");
	}
	if (!feature(d, "stop"))
		json_object_set_new(d, "payload_stop", json_null());
	json_object_del(d, "_features");
}

#define NUMBER_OR_NONE(attr) \
	"{{ value_json." attr " if value_json." attr " is number else 'None' }}"
#define STRING_OR_NONE(attr) \
	"{{ value_json." attr " if value_json." attr " is string else 'None' }}"

/* The climate's hvac mode is its state; every other setting an attribute
 * read from the attributes topic and set through /set as JSON. */
static void climate_after(json_t *d, const struct domain_topics *t)
{
	set_str(d, "mode_command_topic", t->set);
	set_str(d, "mode_command_template", "{\"hvac_mode\": {{ value | tojson }}}");
	if (feature(d, "temperature")) {
		attr_command(d, t, "temperature_command_topic", "temperature_command_template",
			     "{\"temperature\": {{ value }}}");
		set_str(d, "temperature_state_topic", t->attributes);
		set_str(d, "temperature_state_template", NUMBER_OR_NONE("temperature"));
	}
	if (feature(d, "temperature_range")) {
		attr_command(d, t, "temperature_low_command_topic", "temperature_low_command_template",
			     "{\"target_temp_low\": {{ value }}}");
		set_str(d, "temperature_low_state_topic", t->attributes);
		set_str(d, "temperature_low_state_template", NUMBER_OR_NONE("target_temp_low"));
		attr_command(d, t, "temperature_high_command_topic",
			     "temperature_high_command_template",
			     "{\"target_temp_high\": {{ value }}}");
		set_str(d, "temperature_high_state_topic", t->attributes);
		set_str(d, "temperature_high_state_template", NUMBER_OR_NONE("target_temp_high"));
	}
	if (feature(d, "current_temperature")) {
		set_str(d, "current_temperature_topic", t->attributes);
		set_str(d, "current_temperature_template", NUMBER_OR_NONE("current_temperature"));
	}
	if (feature(d, "current_humidity")) {
		set_str(d, "current_humidity_topic", t->attributes);
		set_str(d, "current_humidity_template", NUMBER_OR_NONE("current_humidity"));
	}
	if (feature(d, "target_humidity")) {
		attr_command(d, t, "target_humidity_command_topic", "target_humidity_command_template",
			     "{\"humidity\": {{ value }}}");
		set_str(d, "target_humidity_state_topic", t->attributes);
		set_str(d, "target_humidity_state_template", NUMBER_OR_NONE("humidity"));
	}
	if (feature(d, "fan_mode")) {
		attr_command(d, t, "fan_mode_command_topic", "fan_mode_command_template",
			     "{\"fan_mode\": {{ value | tojson }}}");
		set_str(d, "fan_mode_state_topic", t->attributes);
		set_str(d, "fan_mode_state_template", STRING_OR_NONE("fan_mode"));
	}
	if (feature(d, "swing_mode")) {
		attr_command(d, t, "swing_mode_command_topic", "swing_mode_command_template",
			     "{\"swing_mode\": {{ value | tojson }}}");
		set_str(d, "swing_mode_state_topic", t->attributes);
		set_str(d, "swing_mode_state_template", STRING_OR_NONE("swing_mode"));
	}
	if (feature(d, "preset_mode")) {
		attr_command(d, t, "preset_mode_command_topic", "preset_mode_command_template",
			     "{\"preset_mode\": {{ value | tojson }}}");
		set_str(d, "preset_mode_state_topic", t->attributes);
		set_str(d, "preset_mode_value_template", STRING_OR_NONE("preset_mode"));
	}
	if (feature(d, "action")) {
		set_str(d, "action_topic", t->attributes);
		set_str(d, "action_template", STRING_OR_NONE("hvac_action"));
	}
	if (feature(d, "power"))
		set_str(d, "power_command_topic", t->set);
	json_object_del(d, "_features");
}

/* The water heater's operation mode is its state. */
static void water_heater_after(json_t *d, const struct domain_topics *t)
{
	set_str(d, "mode_command_topic", t->set);
	set_str(d, "mode_command_template", "{\"operation_mode\": {{ value | tojson }}}");
	if (feature(d, "temperature")) {
		attr_command(d, t, "temperature_command_topic", "temperature_command_template",
			     "{\"temperature\": {{ value }}}");
		set_str(d, "temperature_state_topic", t->attributes);
		set_str(d, "temperature_state_template", NUMBER_OR_NONE("temperature"));
	}
	if (feature(d, "current_temperature")) {
		set_str(d, "current_temperature_topic", t->attributes);
		set_str(d, "current_temperature_template", NUMBER_OR_NONE("current_temperature"));
	}
	if (feature(d, "power"))
		set_str(d, "power_command_topic", t->set);
	json_object_del(d, "_features");
}

static void humidifier_after(json_t *d, const struct domain_topics *t)
{
	attr_command(d, t, "target_humidity_command_topic", "target_humidity_command_template",
		     "{\"humidity\": {{ value }}}");
	set_str(d, "target_humidity_state_topic", t->attributes);
	set_str(d, "target_humidity_state_template", NUMBER_OR_NONE("humidity"));
	if (feature(d, "mode")) {
		attr_command(d, t, "mode_command_topic", "mode_command_template",
			     "{\"mode\": {{ value | tojson }}}");
		set_str(d, "mode_state_topic", t->attributes);
		set_str(d, "mode_state_template", STRING_OR_NONE("mode"));
	}
	if (feature(d, "current_humidity")) {
		set_str(d, "current_humidity_topic", t->attributes);
		set_str(d, "current_humidity_template", NUMBER_OR_NONE("current_humidity"));
	}
	if (feature(d, "action")) {
		set_str(d, "action_topic", t->attributes);
		set_str(d, "action_template", STRING_OR_NONE("action"));
	}
	json_object_del(d, "_features");
}

static void fan_after(json_t *d, const struct domain_topics *t)
{
	if (feature(d, "percentage")) {
		attr_command(d, t, "percentage_command_topic", "percentage_command_template",
			     "{\"percentage\": {{ value }}}");
		set_str(d, "percentage_state_topic", t->attributes);
		set_str(d, "percentage_value_template", NUMBER_OR_NONE("percentage"));
		/* the percentage itself, whatever the device's steps */
		json_object_set_new(d, "speed_range_min", json_integer(1));
		json_object_set_new(d, "speed_range_max", json_integer(100));
	}
	if (feature(d, "preset_mode")) {
		attr_command(d, t, "preset_mode_command_topic", "preset_mode_command_template",
			     "{\"preset_mode\": {{ value | tojson }}}");
		set_str(d, "preset_mode_state_topic", t->attributes);
		set_str(d, "preset_mode_value_template", STRING_OR_NONE("preset_mode"));
	}
	if (feature(d, "oscillation")) {
		set_str(d, "oscillation_command_topic", t->set);
		set_str(d, "oscillation_state_topic", t->attributes);
		set_str(d, "oscillation_value_template",
			"{{ ('oscillate_on' if value_json.oscillating else 'oscillate_off') "
			"if value_json.oscillating is boolean else '' }}");
	}
	if (feature(d, "direction")) {
		attr_command(d, t, "direction_command_topic", "direction_command_template",
			     "{\"direction\": {{ value | tojson }}}");
		set_str(d, "direction_state_topic", t->attributes);
		set_str(d, "direction_value_template", STRING_OR_NONE("direction"));
	}
	json_object_del(d, "_features");
}

static void lock_after(json_t *d, const struct domain_topics *t)
{
	(void)t;
	if (feature(d, "open"))
		set_str(d, "payload_open", "OPEN");
	json_object_del(d, "_features");
	/* Home Assistant asks for a code when the lock has a code_format;
	 * the code goes to /set with the action */
	if (json_object_get(d, "code_format"))
		set_str(d, "command_template", "{\"action\": \"{{ value }}\", \"code\": \"{{ code }}\"}");
}

/* The code goes to /set with the action when the entity has one. */
static void alarm_after(json_t *d, const struct domain_topics *t)
{
	(void)t;
	if (json_object_get(d, "code"))
		set_str(d, "command_template", "{\"action\": \"{{ action }}\", \"code\": \"{{ code }}\"}");
}

/* Home Assistant's state schema reads the state and the battery level and
 * fan speed as one JSON object: the bridge's attributes carry the state
 * too (attributes_with_state). */
static void vacuum_after(json_t *d, const struct domain_topics *t)
{
	set_str(d, "state_topic", t->attributes);
	if (json_object_get(d, "fan_speed_list"))
		set_str(d, "set_fan_speed_topic", t->set);
	set_str(d, "send_command_topic", t->set);
}

static void lawn_mower_after(json_t *d, const struct domain_topics *t)
{
	json_object_del(d, "state_topic");
	set_str(d, "activity_state_topic", t->state);
	set_str(d, "activity_value_template",
		"{{ value if value in ('mowing', 'docked', 'paused', 'error', 'returning') "
		"else 'None' }}");
	static const char *const cmds[] = {"dock", "pause", "start_mowing"};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(cmds); i++) {
		if (!feature(d, cmds[i]))
			continue;
		char topic[40], tpl[40];
		snprintf(topic, sizeof topic, "%s_command_topic", cmds[i]);
		snprintf(tpl, sizeof tpl, "%s_command_template", cmds[i]);
		set_str(d, topic, t->set);
		set_str(d, tpl, cmds[i]);
	}
	json_object_del(d, "_features");
}

/* An event is its attributes, sent with each one: the event type and
 * its own keys, without what the entity's state adds. */
static void event_after(json_t *d, const struct domain_topics *t)
{
	set_str(d, "state_topic", t->attributes);
	set_str(d, "value_template",
		"{{ dict(value_json.items() | rejectattr(0, 'in', ['state', 'event_types', "
		"'friendly_name', 'icon', 'device_class', 'assumed_state']) | list) | tojson "
		"if value_json.event_type is string else '' }}");
}

/* The installed and latest versions and the rest, from the attributes. */
static void update_after(json_t *d, const struct domain_topics *t)
{
	set_str(d, "state_topic", t->attributes);
	set_str(d, "value_template",
		"{{ dict(value_json.items() | selectattr(0, 'in', ['installed_version', "
		"'latest_version', 'title', 'release_summary', 'release_url', 'entity_picture', "
		"'in_progress', 'update_percentage']) | list) | tojson }}");
	if (feature(d, "install"))
		set_str(d, "payload_install", "INSTALL");
	json_object_del(d, "_features");
}

/* Where the tracker is, and its coordinates among the attributes (Home
 * Assistant's MQTT device tracker reads latitude, longitude and
 * gps_accuracy from its JSON attributes). */
static void device_tracker_after(json_t *d, const struct domain_topics *t)
{
	(void)t;
	set_str(d, "value_template", "{{ value if value not in ('unknown', 'unavailable') "
				     "else 'None' }}");
}

/* ---- commands ----------------------------------------------------------- */

static bool is(const char *p, const char *word)
{
	return strcasecmp(p, word) == 0;
}

static const char *on_off(const char *p, json_t *data)
{
	(void)data;
	if (is(p, "ON"))
		return "turn_on";
	if (is(p, "OFF"))
		return "turn_off";
	if (is(p, "TOGGLE"))
		return "toggle";
	return NULL;
}

/* A JSON object from /set, or NULL. */
static json_t *object_of(const char *p)
{
	if (p[0] != '{')
		return NULL;
	json_t *j = json_loads(p, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static bool numbers(const json_t *v, size_t n)
{
	if (!json_is_array(v) || json_array_size(v) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!json_is_number(json_array_get(v, i)))
			return false;
	return true;
}

/* The keys of light.turn_on a command may carry, each checked as Home
 * Assistant's light service schema checks it. */
static bool light_data(const json_t *j, json_t *data)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)j, k, v) {
		if (strcmp(k, "state") == 0)
			continue;
		if (strcmp(k, "brightness") == 0 || strcmp(k, "white") == 0) {
			double b = json_number_value(v);
			if (!json_is_number(v) || b < 0 || b > 255)
				return false;
			json_object_set_new(data, k, json_integer((json_int_t)lround(b)));
		} else if (strcmp(k, "color_temp_kelvin") == 0 || strcmp(k, "transition") == 0 ||
			   strcmp(k, "brightness_pct") == 0) {
			if (!json_is_number(v) || json_number_value(v) < 0)
				return false;
			json_object_set(data, k, v);
		} else if (strcmp(k, "hs_color") == 0 || strcmp(k, "xy_color") == 0) {
			if (!numbers(v, 2))
				return false;
			json_object_set(data, k, v);
		} else if (strcmp(k, "rgb_color") == 0 || strcmp(k, "rgbw_color") == 0 ||
			   strcmp(k, "rgbww_color") == 0) {
			if (!numbers(v, k[3] == '_' ? 3 : k[4] == '_' ? 4 : 5))
				return false;
			json_object_set(data, k, v);
		} else if (strcmp(k, "effect") == 0 || strcmp(k, "flash") == 0) {
			if (!json_is_string(v))
				return false;
			json_object_set(data, k, v);
		}
	}
	return true;
}

/* ON/OFF/TOGGLE, JSON of light.turn_on's data with "state", or a bare
 * white level 0..255 (the basic schema's white_command_topic). */
static const char *light_command(const char *p, json_t *data)
{
	const char *service = on_off(p, data);
	json_t *j = service ? NULL : object_of(p);
	if (!service && !j) {
		char *end;
		long w = strtol(p, &end, 10);
		if (end == p || *end || w < 0 || w > 255)
			return NULL;
		json_object_set_new(data, "white", json_integer(w));
		return "turn_on";
	}
	if (!j)
		return service;
	const char *st = json_string_value(json_object_get(j, "state"));
	if (st && is(st, "OFF"))
		service = "turn_off";
	else if (!st || is(st, "ON"))
		service = light_data(j, data) ? "turn_on" : NULL;
	if (service && strcmp(service, "turn_on") == 0 && !st && json_object_size(data) == 0)
		service = NULL; /* neither a state nor a setting */
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
	if (is(p, "STOP_TILT"))
		return "stop_cover_tilt";
	json_t *j = object_of(p);
	if (j) {
		json_t *t = json_object_get(j, "tilt_position");
		double v = json_number_value(t);
		const char *service = NULL;
		if (json_is_number(t) && v >= 0 && v <= 100) {
			json_object_set_new(data, "tilt_position", json_integer((json_int_t)lround(v)));
			service = "set_cover_tilt_position";
		}
		json_decref(j);
		return service;
	}
	char *end;
	long v = strtol(p, &end, 10);
	if (end == p || *end || v < 0 || v > 100)
		return NULL;
	json_object_set_new(data, "position", json_integer(v));
	return "set_cover_position";
}

static const char *valve_command(const char *p, json_t *data)
{
	if (is(p, "OPEN"))
		return "open_valve";
	if (is(p, "CLOSE"))
		return "close_valve";
	if (is(p, "STOP"))
		return "stop_valve";
	json_t *j = object_of(p);
	json_t *pos = json_object_get(j, "position");
	double v = json_number_value(pos);
	const char *service = NULL;
	if (json_is_number(pos) && v >= 0 && v <= 100) {
		json_object_set_new(data, "position", json_integer((json_int_t)lround(v)));
		service = "set_valve_position";
	}
	json_decref(j);
	return service;
}

static const char *button_command(const char *p, json_t *data)
{
	(void)data;
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

/* text's and input_text's set_value: the text as it is (an empty one too). */
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

static const char *scene_command(const char *p, json_t *data)
{
	(void)data;
	return is(p, "ON") ? "turn_on" : NULL;
}

/* A notification: the text is the message. */
static const char *notify_command(const char *p, json_t *data)
{
	if (!*p)
		return NULL;
	json_object_set_new(data, "message", json_string(p));
	return "send_message";
}

static const char *update_command(const char *p, json_t *data)
{
	(void)data;
	return is(p, "INSTALL") ? "install" : NULL;
}

/* A JSON object naming one setting: key to service, the object its data
 * (keys listed with it, the rest of the object dropped). */
struct keyed {
	const char *key, *service;
	const char *const *with; /* other keys the service takes */
};

static const char *keyed_command(const char *p, json_t *data, const struct keyed *k, size_t n)
{
	json_t *j = object_of(p);
	const char *service = NULL;
	for (size_t i = 0; j && i < n && !service; i++) {
		json_t *v = json_object_get(j, k[i].key);
		if (!v || !(json_is_string(v) || json_is_number(v) || json_is_boolean(v)))
			continue;
		service = k[i].service;
		json_object_set(data, k[i].key, v);
		for (const char *const *w = k[i].with; w && *w; w++)
			if (json_object_get(j, *w))
				json_object_set(data, *w, json_object_get(j, *w));
	}
	json_decref(j);
	return service;
}

static const char *climate_command(const char *p, json_t *data)
{
	static const char *const range[] = {"target_temp_low", "target_temp_high", NULL};
	static const struct keyed k[] = {
		{.key = "hvac_mode", .service = "set_hvac_mode"},
		{.key = "temperature", .service = "set_temperature", .with = range},
		{.key = "target_temp_low", .service = "set_temperature", .with = range},
		{.key = "target_temp_high", .service = "set_temperature", .with = range},
		{.key = "fan_mode", .service = "set_fan_mode"},
		{.key = "swing_mode", .service = "set_swing_mode"},
		{.key = "preset_mode", .service = "set_preset_mode"},
		{.key = "humidity", .service = "set_humidity"},
	};
	const char *s = on_off(p, data);
	return s ? s : keyed_command(p, data, k, MQB_ARRAY_SIZE(k));
}

static const char *water_heater_command(const char *p, json_t *data)
{
	static const struct keyed k[] = {
		{.key = "operation_mode", .service = "set_operation_mode"},
		{.key = "temperature", .service = "set_temperature"},
	};
	const char *s = on_off(p, data);
	if (s && strcmp(s, "toggle") == 0)
		return NULL;
	return s ? s : keyed_command(p, data, k, MQB_ARRAY_SIZE(k));
}

static const char *humidifier_command(const char *p, json_t *data)
{
	static const struct keyed k[] = {
		{.key = "humidity", .service = "set_humidity"},
		{.key = "mode", .service = "set_mode"},
	};
	const char *s = on_off(p, data);
	return s ? s : keyed_command(p, data, k, MQB_ARRAY_SIZE(k));
}

static const char *fan_command(const char *p, json_t *data)
{
	static const struct keyed k[] = {
		{.key = "percentage", .service = "set_percentage"},
		{.key = "preset_mode", .service = "set_preset_mode"},
		{.key = "direction", .service = "set_direction"},
	};
	const char *s = on_off(p, data);
	if (s)
		return s;
	if (is(p, "oscillate_on") || is(p, "oscillate_off")) {
		json_object_set_new(data, "oscillating", json_boolean(is(p, "oscillate_on")));
		return "oscillate";
	}
	return keyed_command(p, data, k, MQB_ARRAY_SIZE(k));
}

/* LOCK, UNLOCK, OPEN, or {"action": "LOCK", "code": "1234"}. */
static const char *lock_command(const char *p, json_t *data)
{
	json_t *j = object_of(p);
	const char *action = j ? json_string_value(json_object_get(j, "action")) : p;
	const char *service = !action	       ? NULL
			      : is(action, "LOCK")   ? "lock"
			      : is(action, "UNLOCK") ? "unlock"
			      : is(action, "OPEN")   ? "open"
						     : NULL;
	const char *code = j ? json_string_value(json_object_get(j, "code")) : NULL;
	if (service && code && *code)
		json_object_set_new(data, "code", json_string(code));
	json_decref(j);
	return service;
}

static const char *siren_command(const char *p, json_t *data)
{
	const char *s = on_off(p, data);
	json_t *j = s ? NULL : object_of(p);
	if (!j)
		return s;
	const char *st = json_string_value(json_object_get(j, "state"));
	if (st && is(st, "OFF")) {
		s = "turn_off";
	} else if (!st || is(st, "ON")) {
		s = "turn_on";
		static const char *const keys[] = {"tone", "volume_level", "duration"};
		for (size_t i = 0; i < MQB_ARRAY_SIZE(keys); i++)
			if (json_object_get(j, keys[i]))
				json_object_set(data, keys[i], json_object_get(j, keys[i]));
	}
	json_decref(j);
	return s;
}

/* The alarm's payloads, or {"action": ..., "code": ...} when it has a
 * code (the bridge's command template). */
static const char *alarm_command(const char *p, json_t *data)
{
	static const char *const map[][2] = {
		{"ARM_HOME", "alarm_arm_home"},     {"ARM_AWAY", "alarm_arm_away"},
		{"ARM_NIGHT", "alarm_arm_night"},   {"ARM_VACATION", "alarm_arm_vacation"},
		{"ARM_CUSTOM_BYPASS", "alarm_arm_custom_bypass"},
		{"DISARM", "alarm_disarm"},         {"TRIGGER", "alarm_trigger"},
	};
	json_t *j = object_of(p);
	const char *action = j ? json_string_value(json_object_get(j, "action")) : p;
	const char *service = NULL;
	for (size_t i = 0; action && i < MQB_ARRAY_SIZE(map) && !service; i++)
		if (strcmp(action, map[i][0]) == 0)
			service = map[i][1];
	const char *code = j ? json_string_value(json_object_get(j, "code")) : NULL;
	if (service && code && *code)
		json_object_set_new(data, "code", json_string(code));
	json_decref(j);
	return service;
}

static const char *vacuum_command(const char *p, json_t *data)
{
	static const char *const plain[] = {"start", "pause", "stop", "clean_spot", "locate"};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(plain); i++)
		if (strcmp(p, plain[i]) == 0)
			return plain[i];
	if (strcmp(p, "return_to_base") == 0)
		return "return_to_base";
	if (!*p)
		return NULL;
	/* set_fan_speed_topic and send_command_topic are /set too: a fan
	 * speed, or a command (with params as JSON) */
	json_t *j = object_of(p);
	if (j) {
		json_t *cmd = json_object_get(j, "command");
		const char *service = NULL;
		if (json_is_string(cmd)) {
			json_object_set(data, "command", cmd);
			json_t *params = json_deep_copy(j);
			json_object_del(params, "command");
			json_object_set_new(data, "params", params);
			service = "send_command";
		}
		json_decref(j);
		return service;
	}
	json_object_set_new(data, "fan_speed", json_string(p));
	return "set_fan_speed";
}

static const char *lawn_mower_command(const char *p, json_t *data)
{
	(void)data;
	static const char *const cmds[] = {"start_mowing", "pause", "dock"};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(cmds); i++)
		if (strcmp(p, cmds[i]) == 0)
			return cmds[i];
	return NULL;
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
			size_t n = 0;
			while (device_classes[i].classes[n])
				n++;
			if (n > 12) /* too many to list: Home Assistant's page has them */
				snprintf(buf, buflen, "'%s' is not a %s device class", dc, domain);
			else
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

bool mqb_entity_info_check_unit_warns(const char *domain, const struct mqb_entity_info *info,
				      const struct mqb_conf_node *item, const char *path,
				      struct mqb_conf_errors *errs)
{
	char buf[1280];
	const char *key = NULL;
	const char *msg = mqb_entity_info_invalid(domain, info, &key, buf, sizeof buf);
	if (!msg || strcmp(key, "unit_of_measurement") != 0)
		return mqb_entity_info_check(domain, info, item, path, errs);
	struct mqb_conf_mark m = mqb_conf_mark(mqb_conf_get(item, key) ? mqb_conf_get(item, key)
								       : item);
	MQB_LOG_WARNING("entity", "%s:%u:%u: %s.%s: %s; Home Assistant warns of it too",
			m.file ? m.file : "", m.line, m.column, path, key, msg);
	struct mqb_entity_info rest = *info;
	rest.unit_of_measurement = NULL;
	return mqb_entity_info_check(domain, &rest, item, path, errs);
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
	 .discovery = LIST("schema", "basic", "payload_on", "ON", "payload_off", "OFF",
			   "state_value_template",
			   "{{ {'on': 'ON', 'off': 'OFF'}.get(value, 'None') }}"),
	 .discovery_after = light_after, .command = light_command},
	{.name = "cover",
	 .services = LIST("open_cover", "close_cover", "stop_cover", "toggle", "set_cover_position",
			  "open_cover_tilt", "close_cover_tilt", "stop_cover_tilt",
			  "set_cover_tilt_position", "toggle_cover_tilt"),
	 .discovery = LIST("payload_open", "OPEN", "payload_close", "CLOSE", "payload_stop", "STOP",
			   "state_open", "open", "state_opening", "opening", "state_closed",
			   "closed", "state_closing", "closing", "value_template",
			   NONE_IF_NOT_A_VALUE),
	 .discovery_after = cover_after, .command = cover_command},
	{.name = "valve",
	 .services = LIST("open_valve", "close_valve", "stop_valve", "toggle", "set_valve_position"),
	 .discovery = LIST("payload_open", "OPEN", "payload_close", "CLOSE", "payload_stop", "STOP",
			   "state_open", "open", "state_opening", "opening", "state_closed",
			   "closed", "state_closing", "closing", "value_template",
			   "{{ value if value in ('open', 'opening', 'closed', 'closing') else "
			   "'None' }}"),
	 .discovery_after = valve_after, .command = valve_command},
	{.name = "button", .services = LIST("press"), .stateless = true,
	 .discovery = LIST("payload_press", "PRESS"), .command = button_command},
	{.name = "number", .services = LIST("set_value"), .discovery = value_discovery,
	 .command = number_command},
	{.name = "select", .services = LIST("select_option"), .discovery = value_discovery,
	 .command = select_command},
	{.name = "text", .services = LIST("set_value"), .discovery = value_discovery,
	 .command = text_command},
	{.name = "scene", .services = LIST("turn_on"), .stateless = true,
	 .discovery = LIST("payload_on", "ON"), .command = scene_command},
	{.name = "notify", .services = LIST("send_message"), .stateless = true,
	 .discovery = LIST("command_template", "{{ value }}"), .command = notify_command},
	{.name = "event", .discovery_after = event_after, .attributes_follow_state = true},
	{.name = "update", .services = LIST("install"), .discovery_after = update_after,
	 .command = update_command},
	{.name = "device_tracker",
	 .discovery = LIST("payload_home", "home", "payload_not_home", "not_home"),
	 .discovery_after = device_tracker_after},
	{.name = "climate",
	 .services = LIST("set_hvac_mode", "set_temperature", "set_fan_mode", "set_swing_mode",
			  "set_preset_mode", "set_humidity", "turn_on", "turn_off", "toggle"),
	 .discovery = LIST("mode_state_template",
			   "{{ value if value not in ('unknown', 'unavailable') else 'None' }}",
			   "payload_on", "ON", "payload_off", "OFF"),
	 .state_key = "mode_state_topic", .no_command_topic = true,
	 .discovery_after = climate_after,
	 .command = climate_command},
	{.name = "water_heater",
	 .services = LIST("set_operation_mode", "set_temperature", "turn_on", "turn_off"),
	 .discovery = LIST("mode_state_template",
			   "{{ value if value not in ('unknown', 'unavailable') else 'None' }}",
			   "payload_on", "ON", "payload_off", "OFF"),
	 .state_key = "mode_state_topic", .no_command_topic = true,
	 .discovery_after = water_heater_after,
	 .command = water_heater_command},
	{.name = "humidifier",
	 .services = LIST("turn_on", "turn_off", "toggle", "set_humidity", "set_mode"),
	 .discovery = LIST("payload_on", "ON", "payload_off", "OFF", "state_value_template",
			   "{{ {'on': 'ON', 'off': 'OFF'}.get(value, 'None') }}"),
	 .discovery_after = humidifier_after, .command = humidifier_command},
	{.name = "fan",
	 .services = LIST("turn_on", "turn_off", "toggle", "set_percentage", "set_preset_mode",
			  "oscillate", "set_direction", "increase_speed", "decrease_speed"),
	 .discovery = LIST("payload_on", "ON", "payload_off", "OFF", "state_value_template",
			   "{{ {'on': 'ON', 'off': 'OFF'}.get(value, 'None') }}"),
	 .discovery_after = fan_after, .command = fan_command},
	{.name = "lock", .services = LIST("lock", "unlock", "open"),
	 .discovery = LIST("payload_lock", "LOCK", "payload_unlock", "UNLOCK", "state_locked",
			   "locked", "state_unlocked", "unlocked", "state_locking", "locking",
			   "state_unlocking", "unlocking", "state_jammed", "jammed", "state_open",
			   "open", "state_opening", "opening", "value_template",
			   NONE_IF_NOT_A_VALUE),
	 .discovery_after = lock_after, .command = lock_command},
	{.name = "siren", .services = on_off_services,
	 .discovery = LIST("payload_on", "ON", "payload_off", "OFF", "state_on", "on", "state_off",
			   "off", "state_value_template", ON_OFF_OR_NONE),
	 .command = siren_command},
	{.name = "alarm_control_panel",
	 .services = LIST("alarm_arm_home", "alarm_arm_away", "alarm_arm_night",
			  "alarm_arm_vacation", "alarm_arm_custom_bypass", "alarm_disarm",
			  "alarm_trigger"),
	 .discovery = value_discovery, .discovery_after = alarm_after, .command = alarm_command},
	{.name = "vacuum",
	 .services = LIST("start", "pause", "stop", "return_to_base", "clean_spot", "locate",
			  "set_fan_speed", "send_command"),
	 .attributes_with_state = true, .discovery_after = vacuum_after,
	 .command = vacuum_command},
	{.name = "lawn_mower", .services = LIST("start_mowing", "pause", "dock"),
	 .no_command_topic = true, .discovery_after = lawn_mower_after,
	 .command = lawn_mower_command},
	{.name = "device_automation", .trigger = true},
	/* Home Assistant has no MQTT weather: a template weather is shown as
	 * a sensor of its condition, the rest in its attributes. */
	{.name = "weather", .component = "sensor", .discovery = value_discovery,
	 .discovery_after = sensor_after},
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
