/* SPDX-License-Identifier: MIT */
/* The entity domains' table (src/ha/domains.c): each /set payload as Home
 * Assistant's MQTT platform of the component sends it, the services each
 * command names being the domain's own, and a domain announced as another
 * component (input_boolean as a switch, DESIGN §10). */
#include "config.h"

#include <string.h>
#include <jansson.h>

#include "testutil.h"
#include "ha/domains.h"
#include "mqbridge/entity.h"

/* The service payload p asks of domain, and its data as compact JSON in
 * data_out (NULL: none expected). */
static const char *command(const char *domain, const char *p, char *data_out, size_t len)
{
	const struct domain *d = domains__get(domain);
	assert_non_null(d->command);
	json_t *data = json_object();
	const char *service = d->command(p, data);
	char *s = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(data_out, len, "%s", s);
	free(s);
	json_decref(data);
	return service;
}

static void assert_command(const char *domain, const char *p, const char *service,
			   const char *data)
{
	char got[256];
	const char *s = command(domain, p, got, sizeof got);
	if (!service) {
		if (s)
			fail_msg("%s: '%s' gave %s", domain, p, s);
		return;
	}
	if (!s || strcmp(s, service) != 0)
		fail_msg("%s: '%s' gave %s, not %s", domain, p, s ? s : "nothing", service);
	assert_string_equal(got, data ? data : "{}");
}

static void switch_takes_on_off_and_toggle_in_any_case(void **state)
{
	assert_command("switch", "ON", "turn_on", NULL);
	assert_command("switch", "off", "turn_off", NULL);
	assert_command("switch", "Toggle", "toggle", NULL);
	assert_command("switch", "ON; touch /tmp/x", NULL, NULL);
	assert_command("switch", "", NULL, NULL);
}

/* The basic schema's brightness_command_template sends this JSON. */
static void light_takes_the_json_its_brightness_template_sends(void **state)
{
	assert_command("light", "ON", "turn_on", NULL);
	assert_command("light", "{\"state\": \"ON\", \"brightness\": 128}", "turn_on",
		       "{\"brightness\":128}");
	assert_command("light", "{\"brightness\": 12.6}", "turn_on", "{\"brightness\":13}");
	assert_command("light", "{\"state\": \"OFF\", \"brightness\": 9}", "turn_off", NULL);
	assert_command("light", "{\"state\": \"ON\", \"brightness\": 256}", NULL, NULL);
	assert_command("light", "{\"state\": \"dim\"}", NULL, NULL);
	assert_command("light", "{not json", NULL, NULL);
}

static void cover_takes_open_close_stop_and_a_position_from_0_to_100(void **state)
{
	assert_command("cover", "OPEN", "open_cover", NULL);
	assert_command("cover", "close", "close_cover", NULL);
	assert_command("cover", "STOP", "stop_cover", NULL);
	assert_command("cover", "0", "set_cover_position", "{\"position\":0}");
	assert_command("cover", "100", "set_cover_position", "{\"position\":100}");
	assert_command("cover", "101", NULL, NULL);
	assert_command("cover", "-1", NULL, NULL);
	assert_command("cover", "50%", NULL, NULL);
}

/* A lock with a code_format: Home Assistant asks for the code, and its
 * command template brings it to /set with the action. */
static void a_lock_takes_its_code_with_the_action(void **state)
{
	(void)state;
	assert_command("lock", "LOCK", "lock", NULL);
	assert_command("lock", "unlock", "unlock", NULL);
	assert_command("lock", "{\"action\": \"UNLOCK\", \"code\": \"1234\"}", "unlock",
		       "{\"code\":\"1234\"}");
	assert_command("lock", "{\"action\": \"OPEN\", \"code\": \"\"}", "open", NULL);
	assert_command("lock", "{\"action\": \"JAM\"}", NULL, NULL);
	json_t *d = json_pack("{s:s}", "code_format", "^\\d{4}$");
	domains__get("lock")->discovery_after(d, &(struct domain_topics){"x/set", "x/attributes",
									  "x/state"});
	assert_string_equal(json_string_value(json_object_get(d, "command_template")),
			    "{\"action\": \"{{ value }}\", \"code\": \"{{ code }}\"}");
	json_decref(d);
}

static void button_number_and_select_take_their_one_command(void **state)
{
	assert_command("button", "PRESS", "press", NULL);
	assert_command("button", "ON", NULL, NULL);
	assert_command("number", "22.5", "set_value", "{\"value\":22.5}");
	assert_command("number", "nan", NULL, NULL);
	assert_command("number", "12abc", NULL, NULL);
	assert_command("select", "mid", "select_option", "{\"option\":\"mid\"}");
	assert_command("select", "", NULL, NULL);
}

static bool has_service(const struct domain *d, const char *service)
{
	for (const char *const *s = d->services; s && *s; s++)
		if (strcmp(*s, service) == 0)
			return true;
	return false;
}

/* A command turns into a call of a service the registry registered for
 * the domain: a row that names one it lacks would be refused. */
static void every_command_calls_a_service_of_its_own_domain(void **state)
{
	static const struct {
		const char *domain, *payload;
	} cases[] = {
		{"switch", "ON"}, {"switch", "OFF"}, {"switch", "TOGGLE"},
		{"input_boolean", "ON"}, {"input_boolean", "TOGGLE"},
		{"light", "ON"}, {"light", "OFF"}, {"light", "{\"brightness\": 3}"},
		{"cover", "OPEN"}, {"cover", "CLOSE"}, {"cover", "STOP"}, {"cover", "40"},
		{"button", "PRESS"}, {"number", "1"}, {"select", "x"},
		{"input_number", "2.5"}, {"input_select", "x"}, {"input_text", "hi"},
		{"input_text", ""}, {"input_button", "PRESS"}, {"counter", "INCREMENT"},
		{"counter", "decrement"}, {"counter", "reset"}, {"counter", "-3"},
		{"timer", "START"}, {"timer", "pause"}, {"timer", "cancel"}, {"timer", "finish"},
		{"input_datetime", "07:30"}, {"input_datetime", "2024-05-01"},
		{"input_datetime", "2024-05-01 07:30:00"},
		{"automation", "ON"}, {"automation", "OFF"}, {"script", "PRESS"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char data[256];
		const char *s = command(cases[i].domain, cases[i].payload, data, sizeof data);
		assert_non_null(s);
		if (!has_service(domains__get(cases[i].domain), s))
			fail_msg("%s: %s is not one of its services", cases[i].domain, s);
	}
}

static void input_boolean_is_announced_as_a_switch_and_commanded_as_one(void **state)
{
	const struct domain *d = domains__get("input_boolean");
	assert_string_equal(d->name, "input_boolean");
	assert_string_equal(domain__component(d, "input_boolean"), "switch");
	assert_false(d->stateless);
	assert_true(has_service(d, "turn_on") && has_service(d, "turn_off") &&
		    has_service(d, "toggle"));
	assert_command("input_boolean", "OFF", "turn_off", NULL);
	/* the switch's payloads and states */
	bool state_on = false;
	for (const char *const *kv = d->discovery; *kv; kv += 2)
		state_on |= strcmp(kv[0], "state_on") == 0 && strcmp(kv[1], "on") == 0;
	assert_true(state_on);
	/* a native domain is announced as itself */
	assert_null(domains__get("switch")->component);
	assert_string_equal(domain__component(domains__get("switch"), "switch"), "switch");
}

/* The helpers are shown as the component that shows and commands each
 * (DESIGN §10), and /set takes what that component's Home Assistant
 * platform sends; the sensor-shown ones take their own words. */
static void each_helper_is_announced_as_its_component(void **state)
{
	static const struct {
		const char *domain, *component;
		bool stateless;
	} rows[] = {
		{"input_number", "number", false}, {"input_select", "select", false},
		{"input_text", "text", false},     {"input_button", "button", true},
		{"counter", "sensor", false},      {"timer", "sensor", false},
		{"input_datetime", "sensor", false},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct domain *d = domains__get(rows[i].domain);
		assert_string_equal(d->name, rows[i].domain);
		assert_string_equal(domain__component(d, rows[i].domain), rows[i].component);
		assert_true(d->stateless == rows[i].stateless);
	}
	assert_command("input_number", "22.5", "set_value", "{\"value\":22.5}");
	assert_command("input_select", "mid", "select_option", "{\"option\":\"mid\"}");
	assert_command("input_text", "a; b", "set_value", "{\"value\":\"a; b\"}");
	assert_command("input_text", "", "set_value", "{\"value\":\"\"}");
	assert_command("input_button", "PRESS", "press", NULL);
	assert_command("counter", "Increment", "increment", NULL);
	assert_command("counter", "12", "set_value", "{\"value\":12}");
	assert_command("counter", "1.5", NULL, NULL);
	assert_command("timer", "START", "start", NULL);
	assert_command("timer", "go", NULL, NULL);
	assert_command("input_datetime", "07:30", "set_datetime", "{\"time\":\"07:30\"}");
	assert_command("input_datetime", "2024-05-01", "set_datetime", "{\"date\":\"2024-05-01\"}");
	assert_command("input_datetime", "2024-05-01T07:30:00", "set_datetime",
		       "{\"datetime\":\"2024-05-01T07:30:00\"}");
	assert_command("input_datetime", "", NULL, NULL);
	/* Home Assistant's MQTT sensor has no command topic */
	json_t *d = json_pack("{s:s, s:s}", "command_topic", "x/set", "state_topic", "x/state");
	domains__get("timer")->discovery_after(d, &(struct domain_topics){"x/set", "x/attributes", "x/state"});
	assert_null(json_object_get(d, "command_topic"));
	assert_non_null(json_object_get(d, "state_topic"));
	json_decref(d);
}

/* DESIGN §10: an automation is a switch (ON/OFF enable it), a script a
 * button whose PRESS starts it without waiting (script.turn_on); both
 * announced under <domain>_<object_id>. */
static void automation_and_script_are_a_switch_and_a_button(void **state)
{
	const struct domain *a = domains__get("automation"), *s = domains__get("script");
	assert_string_equal(domain__component(a, "automation"), "switch");
	assert_string_equal(domain__component(s, "script"), "button");
	assert_false(a->stateless);
	assert_true(s->stateless);
	assert_command("automation", "ON", "turn_on", NULL);
	assert_command("automation", "off", "turn_off", NULL);
	assert_true(has_service(a, "trigger"));
	assert_command("script", "PRESS", "turn_on", NULL);
	assert_command("script", "ON", NULL, NULL);
}

/* Home Assistant has no MQTT weather: a template weather is a sensor. */
static void a_weather_is_announced_as_a_sensor(void **state)
{
	(void)state;
	const struct domain *d = domains__get("weather");
	assert_string_equal(domain__component(d, "weather"), "sensor");
	json_t *j = json_pack("{s:s}", "command_topic", "x/set");
	d->discovery_after(j, &(struct domain_topics){"x/set", "x/attributes", "x/state"});
	assert_null(json_object_get(j, "command_topic"));
	json_decref(j);
}

/* A domain without a row shows a value: never sent "unknown" as one, and
 * it takes no command. */
static void a_domain_without_a_row_shows_a_value_and_takes_no_command(void **state)
{
	const struct domain *d = domains__get("media_player");
	assert_null(d->name);
	assert_null(d->command);
	assert_null(d->services);
	assert_string_equal(domain__component(d, "media_player"), "media_player");
	assert_string_equal(d->discovery[0], "value_template");
	assert_non_null(strstr(d->discovery[1], "None"));
	assert_true(domains__get("button")->stateless);
	assert_false(domains__get("sensor")->stateless);
}

/* What Home Assistant refuses before adding an entity (sensor.py's
 * validate_sensor_state_and_device_class_config, cv.icon, the sensor's
 * entity category check), with the option it is about. */
static void invalid(const char *domain, const struct mqb_entity_info *info, const char *key,
		    const char *needle)
{
	char buf[256];
	const char *k = NULL;
	const char *msg = mqb_entity_info_invalid(domain, info, &k, buf, sizeof buf);
	if (!key) {
		if (msg)
			fail_msg("%s: unexpected '%s' (%s)", domain, msg, k);
		return;
	}
	if (!msg)
		fail_msg("%s: passed, expected an error about %s", domain, key);
	assert_string_equal(k, key);
	if (!strstr(msg, needle))
		fail_msg("'%s' not in '%s'", needle, msg);
}

static void descriptions_home_assistant_refuses_are_refused(void **state)
{
	invalid("sensor", &(struct mqb_entity_info){.device_class = "temperature",
						    .unit_of_measurement = "°C",
						    .state_class = "measurement"},
		NULL, NULL);
	invalid("sensor", &(struct mqb_entity_info){.device_class = "temperature"}, NULL, NULL);
	invalid("sensor", &(struct mqb_entity_info){.device_class = "pm25",
						    .unit_of_measurement = "µg/m³"},
		NULL, NULL);
	invalid("sensor", &(struct mqb_entity_info){.device_class = "temprature"}, "device_class",
		"'temprature' is not a sensor device class");
	invalid("sensor", &(struct mqb_entity_info){.device_class = "temperature",
						    .unit_of_measurement = "W"},
		"unit_of_measurement",
		"the unit of measurement 'W' is not valid together with device class "
		"'temperature' (one of °C, °F, K)");
	invalid("sensor", &(struct mqb_entity_info){.device_class = "aqi",
						    .unit_of_measurement = "ppm"},
		"unit_of_measurement", "(none)");
	invalid("sensor", &(struct mqb_entity_info){.state_class = "measurment"}, "state_class",
		"'measurment' is not a state class");
	invalid("sensor", &(struct mqb_entity_info){.device_class = "enum",
						    .state_class = "measurement"},
		"state_class", "enum has no state_class");
	invalid("number", &(struct mqb_entity_info){.device_class = "timestamp"}, "device_class",
		"not a number device class");
	invalid("number", &(struct mqb_entity_info){.state_class = "total"}, "state_class",
		"only sensors");
	invalid("binary_sensor", &(struct mqb_entity_info){.device_class = "door"}, NULL, NULL);
	invalid("binary_sensor", &(struct mqb_entity_info){.device_class = "temperature"},
		"device_class", "is not a binary_sensor device class");
	invalid("cover", &(struct mqb_entity_info){.device_class = "roller"}, "device_class",
		"(one of awning, blind, curtain, damper, door, garage, gate, shade, shutter, "
		"window)");
	invalid("binary_sensor", &(struct mqb_entity_info){.entity_category = "config"},
		"entity_category", "cannot have the entity category config");
	invalid("switch", &(struct mqb_entity_info){.entity_category = "config",
						    .device_class = "outlet"},
		NULL, NULL);
	invalid("switch", &(struct mqb_entity_info){.icon = "thermometer"}, "icon",
		"prefix:name");
	invalid("switch", &(struct mqb_entity_info){.icon = "mdi:thermometer"}, NULL, NULL);
	/* a domain Home Assistant gives no device classes takes any (its
	 * schema, not this, refuses the key) */
	invalid("counter", &(struct mqb_entity_info){.device_class = "x"}, NULL, NULL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(descriptions_home_assistant_refuses_are_refused),
	cmocka_unit_test(switch_takes_on_off_and_toggle_in_any_case),
	cmocka_unit_test(light_takes_the_json_its_brightness_template_sends),
	cmocka_unit_test(cover_takes_open_close_stop_and_a_position_from_0_to_100),
	cmocka_unit_test(a_lock_takes_its_code_with_the_action),
		cmocka_unit_test(button_number_and_select_take_their_one_command),
	cmocka_unit_test(every_command_calls_a_service_of_its_own_domain),
	cmocka_unit_test(input_boolean_is_announced_as_a_switch_and_commanded_as_one),
	cmocka_unit_test(each_helper_is_announced_as_its_component),
	cmocka_unit_test(automation_and_script_are_a_switch_and_a_button),
	cmocka_unit_test(a_weather_is_announced_as_a_sensor),
		cmocka_unit_test(a_domain_without_a_row_shows_a_value_and_takes_no_command),
};

TU_MAIN(tests)
