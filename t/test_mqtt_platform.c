/* SPDX-License-Identifier: MIT */
/* The mqtt integration (platforms/mqtt/): its helpers alone, then every
 * domain end to end — the real daemon against a real mosquitto, fed the
 * payloads real devices send (Tasmota's tele/<dev>/SENSOR JSON and
 * stat/<dev>/POWER, plain numbers, payload_on: 1, Online/Offline LWT). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <mosquitto.h>

#include "daemon.h"
#include "testutil.h"
#include "../platforms/mqtt_util.h"
#include "mqbridge/text.h"

/* ---- the helpers ------------------------------------------------------- */

static void availability_follows_home_assistants_modes(void **state)
{
	(void)state;
	struct mqtt_avail a;
	assert_int_equal(mqtt_avail_init(&a, MQTT_AVAIL_LATEST, 0), 0);
	assert_true(mqtt_avail_ok(&a)); /* no topics: always available */
	mqtt_avail_fini(&a);

	assert_int_equal(mqtt_avail_init(&a, MQTT_AVAIL_LATEST, 2), 0);
	assert_false(mqtt_avail_ok(&a)); /* unavailable until told otherwise */
	mqtt_avail_set(&a, 0, true);
	assert_true(mqtt_avail_ok(&a));
	mqtt_avail_set(&a, 1, false);
	assert_false(mqtt_avail_ok(&a)); /* the latest message wins */
	mqtt_avail_set(&a, 1, true);
	assert_true(mqtt_avail_ok(&a));
	mqtt_avail_fini(&a);

	assert_int_equal(mqtt_avail_init(&a, MQTT_AVAIL_ALL, 2), 0);
	mqtt_avail_set(&a, 0, true);
	assert_false(mqtt_avail_ok(&a));
	mqtt_avail_set(&a, 1, true);
	assert_true(mqtt_avail_ok(&a));
	mqtt_avail_set(&a, 0, false);
	assert_false(mqtt_avail_ok(&a));
	mqtt_avail_fini(&a);

	assert_int_equal(mqtt_avail_init(&a, MQTT_AVAIL_ANY, 2), 0);
	assert_false(mqtt_avail_ok(&a));
	mqtt_avail_set(&a, 1, true);
	assert_true(mqtt_avail_ok(&a));
	mqtt_avail_set(&a, 0, false);
	assert_true(mqtt_avail_ok(&a));
	mqtt_avail_set(&a, 1, false);
	assert_false(mqtt_avail_ok(&a));
	mqtt_avail_set(&a, 7, true); /* out of range: ignored */
	assert_false(mqtt_avail_ok(&a));
	mqtt_avail_fini(&a);

	assert_int_equal(mqtt_avail_mode_parse("all"), MQTT_AVAIL_ALL);
	assert_int_equal(mqtt_avail_mode_parse("any"), MQTT_AVAIL_ANY);
	assert_int_equal(mqtt_avail_mode_parse("latest"), MQTT_AVAIL_LATEST);
	assert_int_equal(mqtt_avail_mode_parse(NULL), MQTT_AVAIL_LATEST);
}

/* The text.h helpers the module sends numbers with. */
static const char *number(double v)
{
	static char b[MQB_NUMBER_MAX];
	mqb_format_number(v, b);
	return b;
}

static void numbers_read_and_print_as_home_assistant_does(void **state)
{
	(void)state;
	assert_string_equal(number(3.0), "3");
	assert_string_equal(number(-2.5), "-2.5");
	assert_string_equal(number(0.1), "0.1");
	assert_string_equal(number(21.456), "21.456");
	assert_string_equal(number(1e16), "10000000000000000");
	assert_string_equal(number(1.0 / 3), "0.3333333333333333");
	double d;
	assert_true(mqtt_parse_number(" 42\n", 4, &d));
	assert_true(d == 42);
	assert_true(mqtt_parse_number("-1.5e2", 6, &d));
	assert_true(d == -150);
	assert_true(mqtt_parse_number(".5", 2, &d));
	assert_true(d == 0.5);
	assert_false(mqtt_parse_number("", 0, &d));
	assert_false(mqtt_parse_number("ON", 2, &d));
	assert_false(mqtt_parse_number("1e", 2, &d));
	assert_false(mqtt_parse_number("nan", 3, &d));
	assert_false(mqtt_parse_number("inf", 3, &d));
	assert_false(mqtt_parse_number("1e999", 5, &d));
	assert_false(mqtt_parse_number("1 2", 3, &d));
	assert_false(mqtt_parse_number("12\0", 3, &d));
	/* Python's round: half to even */
	assert_true(mqb_round(0.5, 0) == 0);
	assert_true(mqb_round(1.5, 0) == 2);
	assert_true(mqb_round(2.5, 0) == 2);
	assert_true(mqb_round(127.5, 0) == 128);
	assert_true(mqb_round(-0.5, 0) == 0);
	assert_true(mqb_round(2.6, 0) == 3);
}

static void brightness_scales_both_ways_and_never_rounds_to_zero(void **state)
{
	(void)state;
	assert_int_equal(mqtt_brightness_to_device(255, 100), 100);
	assert_int_equal(mqtt_brightness_to_device(128, 100), 50);
	assert_int_equal(mqtt_brightness_to_device(1, 100), 1);  /* 0.39 → 1, not 0 */
	assert_int_equal(mqtt_brightness_to_device(0, 100), 1);
	assert_int_equal(mqtt_brightness_to_device(255, 255), 255);
	assert_int_equal(mqtt_brightness_to_device(200, 1023), 802);
	assert_int_equal(mqtt_brightness_from_device(100, 100), 255);
	assert_int_equal(mqtt_brightness_from_device(50, 100), 128); /* 127.5 → 128 */
	assert_int_equal(mqtt_brightness_from_device(150, 100), 255); /* clamped */
	assert_int_equal(mqtt_brightness_from_device(0, 100), -1);    /* ignored */
	assert_int_equal(mqtt_brightness_from_device(-3, 100), -1);
}

static void positions_map_between_device_range_and_percent(void **state)
{
	(void)state;
	assert_int_equal(mqtt_position_percent(0, 0, 100), 0);
	assert_int_equal(mqtt_position_percent(55, 0, 100), 55);
	assert_int_equal(mqtt_position_percent(120, 0, 100), 100);
	assert_int_equal(mqtt_position_percent(-5, 0, 100), 0);
	assert_int_equal(mqtt_position_percent(128, 0, 255), 50);
	/* inverted: the device says 0 when open */
	assert_int_equal(mqtt_position_percent(0, 100, 0), 100);
	assert_int_equal(mqtt_position_percent(100, 100, 0), 0);
	assert_int_equal(mqtt_position_percent(25, 100, 0), 75);
	assert_int_equal(mqtt_position_device(50, 0, 255), 128);
	assert_int_equal(mqtt_position_device(75, 100, 0), 25);
	assert_int_equal(mqtt_position_device(100, 0, 100), 100);
}

static void json_attributes_must_be_an_object_without_blocked_keys(void **state)
{
	(void)state;
	json_t *a;
	char err[160];
	const char *p = "{\"Voltage\":231,\"friendly_name\":\"x\",\"icon\":\"mdi:x\",\"RSSI\":-60}";
	assert_int_equal(mqtt_json_attributes(p, strlen(p), &a, err, sizeof err), 0);
	assert_int_equal(json_object_size(a), 2);
	assert_non_null(json_object_get(a, "Voltage"));
	assert_null(json_object_get(a, "friendly_name"));
	json_decref(a);
	assert_int_equal(mqtt_json_attributes("[1,2]", 5, &a, err, sizeof err), -EINVAL);
	assert_null(a);
	assert_non_null(strstr(err, "not an object"));
	assert_int_equal(mqtt_json_attributes("{\"a\":", 5, &a, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "not JSON"));
	assert_int_equal(mqtt_json_attributes("{\"a\":\"\xff\"}", 8, &a, err, sizeof err),
			 -EINVAL);
}

/* Home Assistant's util/color.py, by its own test_color.py's cases. */
static void colours_convert_as_home_assistants_color_util_does(void **state)
{
	(void)state;
	double xy[2], hs[2], f[3];
	int rgb[3];
#define XY(r, g, b, x, y) \
	mqtt_rgb_to_xy(r, g, b, xy); \
	assert_true(xy[0] == x && xy[1] == y)
	XY(0, 0, 0, 0, 0);
	XY(255, 255, 255, 0.323, 0.329);
	XY(0, 0, 255, 0.136, 0.04);
	XY(0, 255, 0, 0.172, 0.747);
	XY(255, 0, 0, 0.701, 0.299);
	XY(128, 0, 0, 0.701, 0.299);
#undef XY
#define RGB(fn, a, b, r, g, bl) \
	fn(a, b, rgb); \
	assert_true(rgb[0] == r && rgb[1] == g && rgb[2] == bl)
	RGB(mqtt_xy_to_rgb, 0.35, 0.35, 255, 243, 222);
	RGB(mqtt_xy_to_rgb, 1, 0, 255, 0, 60);
	RGB(mqtt_xy_to_rgb, 0, 1, 0, 255, 0);
	RGB(mqtt_xy_to_rgb, 0, 0, 0, 63, 255);
	RGB(mqtt_hs_to_rgb, 240, 100, 0, 0, 255);
	RGB(mqtt_hs_to_rgb, 0, 0, 255, 255, 255);
	RGB(mqtt_hs_to_rgb, 120, 100, 0, 255, 0);
#undef RGB
	mqtt_rgb_to_hs(0, 0, 255, hs);
	assert_true(hs[0] == 240 && hs[1] == 100);
	/* color_xy_to_hs and color_hs_to_xy, through RGB */
	mqtt_xy_to_rgb(0.35, 0.35, rgb);
	mqtt_rgb_to_hs(rgb[0], rgb[1], rgb[2], hs);
	assert_true(hs[0] == 38.182 && hs[1] == 12.941);
	static const double hsxy[][4] = {{180, 100, 0.151, 0.343}, {350, 12.5, 0.356, 0.321},
					 {140, 50, 0.229, 0.474}, {0, 40, 0.474, 0.317},
					 {360, 0, 0.323, 0.329}};
	for (size_t i = 0; i < sizeof hsxy / sizeof hsxy[0]; i++) {
		mqtt_hs_to_rgb(hsxy[i][0], hsxy[i][1], rgb);
		mqtt_rgb_to_xy(rgb[0], rgb[1], rgb[2], xy);
		assert_true(xy[0] == hsxy[i][2] && xy[1] == hsxy[i][3]);
	}
	int w[4] = {255, 0, 0, 253};
	mqtt_rgbw_to_rgb(w, rgb);
	assert_true(rgb[0] == 255 && rgb[1] == 127 && rgb[2] == 127);
	int grey[4] = {0, 0, 0, 127};
	mqtt_rgbw_to_rgb(grey, rgb);
	assert_true(rgb[0] == 127 && rgb[1] == 127 && rgb[2] == 127);
	mqtt_kelvin_to_rgb(6600, f);
	assert_true(f[0] == 255 && f[1] == 255 && f[2] == 255);
	mqtt_kelvin_to_rgb(6700, f);
	assert_true(f[2] > f[1] && f[2] > f[0]);
	mqtt_kelvin_to_rgb(6500, f);
	assert_true(f[0] > f[1] && f[0] > f[2]);
	assert_int_equal(mqtt_kelvin_mired(25000), 40);
	assert_int_equal(mqtt_kelvin_mired(5000), 200);
	assert_int_equal(mqtt_kelvin_mired(370), 2702);
}

/* Commands in JSON are written as Home Assistant writes them. */
static void json_commands_print_floats_as_python_does(void **state)
{
	(void)state;
	json_t *j = json_pack("{s:s,s:{s:f,s:f},s:i,s:[f]}", "state", "ON", "color", "x", 0.3, "y",
			      0.4, "brightness", 128, "t", 0.1 + 0.2);
	char *s = mqtt_json_text(j);
	assert_string_equal(s, "{\"state\":\"ON\",\"color\":{\"x\":0.3,\"y\":0.4},"
			       "\"brightness\":128,\"t\":[0.30000000000000004]}");
	free(s);
	json_decref(j);
}

static void strip_and_payload_matching(void **state)
{
	(void)state;
	size_t n = 6;
	assert_memory_equal(mqb_strip("  ON \n", &n), "ON", 2);
	assert_int_equal(n, 2);
	n = 2;
	mqb_strip(" \t", &n);
	assert_int_equal(n, 0);
	assert_true(mqtt_payload_is("ON", "ON", 2));
	assert_false(mqtt_payload_is("ON", "ON\0x", 4));
	assert_false(mqtt_payload_is(NULL, "", 0));
	assert_true(mqtt_payload_has_nul("a\0b", 3));
	assert_false(mqtt_payload_has_nul("ab", 2));
	char when[MQB_ISOFORMAT_MAX];
	mqb_isoformat(1714564800.123456, when);
	assert_string_equal(when, "2024-05-01T12:00:00.123456+00:00");
}

/* ---- end to end -------------------------------------------------------- */

#define HEAD \
	"mqbridge: {node_id: tm, name: MQTT test}\n" \
	"mqtt:\n" \
	"  broker: 127.0.0.1\n" \
	"  port: %PORT%\n" \
	"  reconnect_min: 0.1\n" \
	"  reconnect_max: 0.5\n"

#define BASE "mqbridge/tm/"

/* The end-to-end case running: a failing one is stopped by teardown, so
 * no daemon or broker outlives its test. */
static struct td *live;

static void begin(struct td *t)
{
	td_init(t, NULL);
	live = t;
}

static void end(struct td *t)
{
	td_fini(t);
	live = NULL;
}

static int teardown(void **state)
{
	(void)state;
	if (live)
		end(live);
	return 0;
}

static void start(struct td *t, const char *yaml)
{
	begin(t);
	td_write_config(t, yaml);
	td_start(t, NULL);
	if (td_wait(t, BASE "status", "online", TU_TIMEOUT) < 0) {
		td_dump(t);
		fail_msg("the daemon never came online");
	}
}

static void stop(struct td *t)
{
	assert_int_equal(td_stop(t), 0);
	end(t);
}

/* Wait for the attributes on topic to hold key with the JSON text want. */
/* The first attributes on topic after message since in which every key
 * of kv (key, JSON value, ..., NULL) has its value: an entity whose
 * attributes come from two subscriptions of one message may publish
 * them in two steps. The caller frees it. */
static json_t *expect_attrs(struct td *t, long since, const char *topic, const char *const *kv)
{
	for (double end = tu_now() + TU_TIMEOUT; tu_now() < end;) {
		long i = td_wait_after(t, since, topic, NULL, end - tu_now());
		if (i < 0)
			break;
		json_t *a = json_loads(td_last(t, topic), 0, NULL);
		bool ok = true;
		for (size_t k = 0; ok && kv[k]; k += 2) {
			/* as values: 52.37 is written as Python's repr or with 17 digits */
			json_t *w = json_loads(kv[k + 1], JSON_DECODE_ANY, NULL);
			ok = w && json_equal(json_object_get(a, kv[k]), w);
			json_decref(w);
		}
		if (ok)
			return a;
		json_decref(a);
		since = i + 1;
	}
	td_dump(t);
	fail_msg("%s never had %s = %s%s (last: %s)", topic, kv[0], kv[1], kv[2] ? ", ..." : "",
		 td_last(t, topic));
	return NULL;
}

static json_t *expect_attr(struct td *t, long since, const char *topic, const char *key,
			   const char *want)
{
	const char *const kv[] = {key, want, NULL};
	return expect_attrs(t, since, topic, kv);
}

static json_t *discovery(struct td *t, const char *component, const char *object_id)
{
	char topic[256];
	snprintf(topic, sizeof topic, "homeassistant/%s/tm/%s/config", component, object_id);
	td_expect(t, topic, NULL);
	json_error_t e;
	json_t *j = json_loads(td_last(t, topic), 0, &e);
	if (!j)
		fail_msg("discovery on %s is not JSON: %s", topic, e.text);
	return j;
}

/* discovery() checked key by key against Home Assistant's schema of the
 * component (below, with the schemas). */
static json_t *ha_discovery(struct td *t, const char *component, const char *object_id);
static void assert_key_is(json_t *d, const char *key, const char *want);

static void tasmota_sensor_json_value_and_attributes(void **state)
{
	(void)state;
	static struct td t; /* static: teardown may stop it after a failure */
	start(&t, HEAD
	      "  sensor:\n"
	      "    - name: Plug power\n"
	      "      state_topic: tele/plug/SENSOR\n"
	      "      value_template: '{{ value_json.ENERGY.Power }}'\n"
	      "      unit_of_measurement: W\n"
	      "      device_class: power\n"
	      "      state_class: measurement\n"
	      "      json_attributes_topic: tele/plug/SENSOR\n"
	      "      json_attributes_template: >-\n"
	      "        {% set e = value_json.ENERGY %}{{ {'today': e.Today, 'voltage': e.Voltage,\n"
	      "        'friendly_name': 'not mine'} | to_json }}\n"
	      "    - name: Living temperature\n"
	      "      unique_id: living_temp_1\n"
	      "      state_topic: tele/living/SENSOR\n"
	      "      value_template: \"{{ value_json['AM2301']['Temperature'] }}\"\n"
	      "      unit_of_measurement: \"°C\"\n"
	      "      suggested_display_precision: 1\n"
	      "      icon: mdi:thermometer\n"
	      "sensor:\n"
	      "  - platform: mqtt\n"
	      "    name: Living humidity\n"
	      "    state_topic: tele/living/SENSOR\n"
	      "    value_template: \"{{ value_json.AM2301.Humidity }}\"\n"
	      "    json_attributes_topic: tele/living/SENSOR\n");
	td_expect(&t, BASE "sensor/plug_power/state", "unknown");
	json_t *d = discovery(&t, "sensor", "plug_power");
	assert_string_equal(json_string_value(json_object_get(d, "unit_of_measurement")), "W");
	assert_string_equal(json_string_value(json_object_get(d, "device_class")), "power");
	json_decref(d);
	d = discovery(&t, "sensor", "living_temperature");
	assert_string_equal(json_string_value(json_object_get(d, "unique_id")), "living_temp_1");
	assert_int_equal(json_integer_value(json_object_get(d, "suggested_display_precision")), 1);
	json_decref(d);

	long n = td_device(&t, "tele/plug/SENSOR",
			"{\"Time\":\"2024-05-01T12:00:00\",\"ENERGY\":{\"TotalStartTime\":"
			"\"2023-11-04T09:12:45\",\"Total\":123.456,\"Yesterday\":1.234,\"Today\":"
			"0.456,\"Period\":3,\"Power\":42,\"ApparentPower\":50,\"ReactivePower\":27,"
			"\"Factor\":0.84,\"Voltage\":231,\"Current\":0.217}}");
	td_expect_after(&t, n, BASE "sensor/plug_power/state", "42");
	json_t *a = expect_attr(&t, n, BASE "sensor/plug_power/attributes", "voltage", "231");
	assert_true(json_real_value(json_object_get(a, "today")) == 0.456);
	assert_int_equal(json_integer_value(json_object_get(a, "voltage")), 231);
	/* a device may not rename the entity */
	assert_null(json_object_get(a, "friendly_name"));
	json_decref(a);

	n = td_device(&t, "tele/living/SENSOR",
		   "{\"Time\":\"2024-05-01T12:00:10\",\"AM2301\":{\"Temperature\":21.3,"
		   "\"Humidity\":45.6,\"DewPoint\":9.1},\"TempUnit\":\"C\"}");
	td_expect_after(&t, n, BASE "sensor/living_temperature/state", "21.3");
	td_expect_after(&t, n, BASE "sensor/living_humidity/state", "45.6");
	a = expect_attr(&t, n, BASE "sensor/living_humidity/attributes", "TempUnit", "\"C\"");
	assert_true(json_is_object(json_object_get(a, "AM2301")));
	json_decref(a);
	stop(&t);
}

static void plain_numbers_round_as_jinja_does(void **state)
{
	(void)state;
	static struct td t; /* static: teardown may stop it after a failure */
	start(&t, HEAD
	      "  sensor:\n"
	      "    - name: Outside temperature\n"
	      "      state_topic: weewx/outTemp_C\n"
	      "      value_template: '{{ value | round(1) }}'\n"
	      "    - name: Rain\n"
	      "      state_topic: weewx/rain\n"
	      "    - name: Speed\n"
	      "      state_topic: tesla/speed\n"
	      "      value_template: '{{ ((value | float) / 1.609344) | round(0) }}'\n");
	long n = td_device(&t, "weewx/outTemp_C", "21.456");
	td_expect_after(&t, n, BASE "sensor/outside_temperature/state", "21.5");
	n = td_device(&t, "weewx/outTemp_C", "7");
	td_expect_after(&t, n, BASE "sensor/outside_temperature/state", "7.0");
	n = td_device(&t, "weewx/rain", "0.25");
	td_expect_after(&t, n, BASE "sensor/rain/state", "0.25");
	/* "None" makes it unknown; an empty payload changes nothing */
	n = td_device(&t, "weewx/rain", "None");
	td_expect_after(&t, n, BASE "sensor/rain/state", "unknown");
	n = td_device(&t, "tesla/speed", "100");
	/* Home Assistant's round gives an integer at precision 0 */
	td_expect_after(&t, n, BASE "sensor/speed/state", "62");
	stop(&t);
}

/* Home Assistant's MqttValueTemplate gives a template entity_id and name
 * besides value (mqtt/models.py); the daemon builds them only for the
 * templates that name them, and those still get them. */
static void value_templates_read_entity_id_and_name_when_they_name_them(void **state)
{
	(void)state;
	static struct td t; /* static: teardown may stop it after a failure */
	start(&t, HEAD
	      "  sensor:\n"
	      "    - name: Who\n"
	      "      state_topic: who/raw\n"
	      "      value_template: '{{ entity_id }}|{{ name }}|{{ value }}'\n"
	      "    - name: Plain\n"
	      "      state_topic: who/raw\n"
	      "      value_template: '{{ value | int + 1 }}'\n");
	long n = td_device(&t, "who/raw", "41");
	td_expect_after(&t, n, BASE "sensor/who/state", "sensor.who|Who|41");
	td_expect_after(&t, n, BASE "sensor/plain/state", "42");
	n = td_device(&t, "who/raw", "1");
	td_expect_after(&t, n, BASE "sensor/who/state", "sensor.who|Who|1");
	td_expect_after(&t, n, BASE "sensor/plain/state", "2");
	stop(&t);
}

static void tasmota_lwt_availability(void **state)
{
	(void)state;
	static struct td t; /* static: teardown may stop it after a failure */
	start(&t, HEAD
	      "  sensor:\n"
	      "    - name: Gate power\n"
	      "      state_topic: tele/gate/SENSOR\n"
	      "      value_template: '{{ value_json.ENERGY.Power }}'\n"
	      "      availability_topic: tele/gate/LWT\n"
	      "      payload_available: Online\n"
	      "      payload_not_available: Offline\n"
	      "    - name: Both\n"
	      "      state_topic: both/state\n"
	      "      availability_mode: all\n"
	      "      availability:\n"
	      "        - topic: both/a\n"
	      "        - topic: both/b\n"
	      "          payload_available: 1\n"
	      "          payload_not_available: 0\n"
	      "    - name: Either\n"
	      "      state_topic: either/state\n"
	      "      availability_mode: any\n"
	      "      availability:\n"
	      "        - {topic: either/a}\n"
	      "        - {topic: either/b, value_template: '{{ value_json.status }}'}\n"
	      "    - name: Templated\n"
	      "      state_topic: tpl/state\n"
	      "      availability_topic: tpl/avail\n"
	      "      availability_template: \"{{ 'online' if value_json.up else 'offline' }}\"\n");
	/* unavailable until the LWT says Online */
	td_expect(&t, BASE "sensor/gate_power/state", "unavailable");
	td_expect(&t, BASE "sensor/gate_power/availability", "offline");
	long n = td_device(&t, "tele/gate/LWT", "Online");
	td_expect_after(&t, n, BASE "sensor/gate_power/availability", "online");
	td_expect_after(&t, n, BASE "sensor/gate_power/state", "unknown");
	n = td_device(&t, "tele/gate/SENSOR", "{\"ENERGY\":{\"Power\":5}}");
	td_expect_after(&t, n, BASE "sensor/gate_power/state", "5");
	n = td_device(&t, "tele/gate/LWT", "Offline");
	td_expect_after(&t, n, BASE "sensor/gate_power/state", "unavailable");
	/* a value while offline is kept for when it comes back */
	td_device(&t, "tele/gate/SENSOR", "{\"ENERGY\":{\"Power\":6}}");
	n = td_device(&t, "tele/gate/LWT", "Online");
	td_expect_after(&t, n, BASE "sensor/gate_power/state", "6");
	/* anything else on the LWT topic changes nothing */
	td_device(&t, "tele/gate/LWT", "Rebooting");

	/* all: both topics must say so */
	td_device(&t, "both/a", "online");
	n = td_device(&t, "both/b", "1");
	td_expect_after(&t, n, BASE "sensor/both/availability", "online");
	n = td_device(&t, "both/a", "offline");
	td_expect_after(&t, n, BASE "sensor/both/availability", "offline");
	/* any: one is enough */
	n = td_device(&t, "either/b", "{\"status\":\"online\"}");
	td_expect_after(&t, n, BASE "sensor/either/availability", "online");
	td_device(&t, "either/a", "offline");
	n = td_device(&t, "either/b", "{\"status\":\"offline\"}");
	td_expect_after(&t, n, BASE "sensor/either/availability", "offline");
	/* availability_template */
	n = td_device(&t, "tpl/avail", "{\"up\":true}");
	td_expect_after(&t, n, BASE "sensor/templated/availability", "online");
	n = td_device(&t, "tpl/avail", "{\"up\":false}");
	td_expect_after(&t, n, BASE "sensor/templated/availability", "offline");
	assert_string_equal(td_last(&t, BASE "sensor/gate_power/state"), "6");
	stop(&t);
}

static void expire_after_makes_a_silent_sensor_unavailable(void **state)
{
	(void)state;
	static struct td t; /* static: teardown may stop it after a failure */
	start(&t, HEAD
	      "  sensor:\n"
	      "    - name: Weewx out\n"
	      "      state_topic: weewx/outTemp_C\n"
	      "      expire_after: 1\n"
	      "  binary_sensor:\n"
	      "    - name: Motion\n"
	      "      state_topic: motion/state\n"
	      "      expire_after: 1\n");
	/* unavailable until its first message */
	td_expect(&t, BASE "sensor/weewx_out/state", "unavailable");
	td_expect(&t, BASE "binary_sensor/motion/state", "unavailable");
	long n = td_device(&t, "weewx/outTemp_C", "12.5");
	td_expect_after(&t, n, BASE "sensor/weewx_out/state", "12.5");
	double t0 = tu_now();
	/* every message restarts the clock: keep it alive past the first second */
	for (int i = 0; i < 3; i++) {
		struct timespec ts = {0, 400 * 1000 * 1000};
		nanosleep(&ts, NULL);
		td_device(&t, "weewx/outTemp_C", "12.5");
	}
	assert_string_equal(td_last(&t, BASE "sensor/weewx_out/state"), "12.5");
	n = td_count(&t);
	td_expect_after(&t, n, BASE "sensor/weewx_out/state", "unavailable");
	double gone = tu_now() - t0;
	assert_true(gone > 1.1); /* the clock was restarted */
	/* and a message brings it back */
	n = td_device(&t, "weewx/outTemp_C", "13");
	td_expect_after(&t, n, BASE "sensor/weewx_out/state", "13");
	td_expect_after(&t, n, BASE "sensor/weewx_out/availability", "online");
	/* a payload matching nothing still shows the device is alive */
	n = td_device(&t, "motion/state", "garbage");
	td_expect_after(&t, n, BASE "binary_sensor/motion/state", "unknown");
	stop(&t);
}

static void binary_sensor_payload_on_1_and_off_delay(void **state)
{
	(void)state;
	static struct td t; /* static: teardown may stop it after a failure */
	start(&t, HEAD
	      "  binary_sensor:\n"
	      "    - name: Smoke\n"
	      "      state_topic: home/smoke\n"
	      "      payload_on: 1\n"
	      "      payload_off: 0\n"
	      "      device_class: smoke\n"
	      "    - name: Doorbell\n"
	      "      state_topic: rtl_433/doorbell/pressed\n"
	      "      payload_on: 'true'\n"
	      "      off_delay: 1\n"
	      "    - name: Vibration\n"
	      "      state_topic: washer/vibration\n"
	      "      force_update: true\n"
	      "binary_sensor:\n"
	      "  - platform: mqtt\n"
	      "    name: Garage door\n"
	      "    state_topic: garadget/status\n"
	      "    value_template: \"{% if value_json.status == 'closed' %}OFF{% else %}ON{% endif %}\"\n");
	json_t *d = ha_discovery(&t, "binary_sensor", "smoke");
	assert_string_equal(json_string_value(json_object_get(d, "payload_on")), "on");
	assert_string_equal(json_string_value(json_object_get(d, "device_class")), "smoke");
	json_decref(d);
	long n = td_device(&t, "home/smoke", "1");
	td_expect_after(&t, n, BASE "binary_sensor/smoke/state", "on");
	n = td_device(&t, "home/smoke", "0");
	td_expect_after(&t, n, BASE "binary_sensor/smoke/state", "off");
	/* neither payload: nothing changes, one warning */
	td_device(&t, "home/smoke", "2");
	td_device(&t, "home/smoke", "ON");
	td_expect_log(&t, "binary_sensor.smoke: a payload matching neither on nor off on home/smoke: '2'");
	n = td_device(&t, "home/smoke", "1");
	td_expect_after(&t, n, BASE "binary_sensor/smoke/state", "on");
	/* the first is a warning, the rest are counted quietly */
	assert_int_equal(td_log_count(&t, "matching neither on nor off"), 2);
	assert_int_equal(td_log_count(&t, "warning [mqtt] binary_sensor.smoke"), 1);

	n = td_device(&t, "rtl_433/doorbell/pressed", "true");
	long on = td_expect_after(&t, n, BASE "binary_sensor/doorbell/state", "on");
	td_expect_after(&t, on, BASE "binary_sensor/doorbell/state", "off");

	/* force_update: every reading is published, but what matches nothing
	 * still changes nothing */
	n = td_device(&t, "washer/vibration", "ON");
	long first = td_expect_after(&t, n, BASE "binary_sensor/vibration/state", "on");
	td_device(&t, "washer/vibration", "ON");
	long second = td_expect_after(&t, first + 1, BASE "binary_sensor/vibration/state", "on");
	td_device(&t, "washer/vibration", "shaking");
	n = td_device(&t, "washer/vibration", "OFF");
	long off = td_expect_after(&t, n, BASE "binary_sensor/vibration/state", "off");
	assert_int_equal(td_wait_after(&t, second + 1, BASE "binary_sensor/vibration/state", NULL,
				       0),
			 off);

	n = td_device(&t, "garadget/status", "{\"status\":\"closed\",\"time\":\"1m\"}");
	td_expect_after(&t, n, BASE "binary_sensor/garage_door/state", "off");
	n = td_device(&t, "garadget/status", "{\"status\":\"open\"}");
	td_expect_after(&t, n, BASE "binary_sensor/garage_door/state", "on");
	stop(&t);
}

static void switch_state_and_commands_reach_the_device(void **state)
{
	(void)state;
	static struct td t; /* static: teardown may stop it after a failure */
	start(&t, HEAD
	      "  switch:\n"
	      "    - name: Compressor valve\n"
	      "      state_topic: stat/i3/valve/POWER\n"
	      "      command_topic: cmnd/i3/valve/POWER\n"
	      "      availability_topic: tele/i3/valve/LWT\n"
	      "      payload_available: Online\n"
	      "      payload_not_available: Offline\n"
	      "    - name: Heater\n"
	      "      command_topic: heater/set\n"
	      "      payload_on: 1\n"
	      "      payload_off: 0\n"
	      "      retain: true\n"
	      "      qos: 1\n"
	      "    - name: Fan\n"
	      "      state_topic: fan/state\n"
	      "      command_topic: fan/cmd\n"
	      "      state_on: running\n"
	      "      state_off: stopped\n"
	      "      command_template: '{\"power\": \"{{ value }}\"}'\n"
	      "switch:\n"
	      "  - platform: mqtt\n"
	      "    name: Legacy pump\n"
	      "    state_topic: stat/pump/POWER\n"
	      "    command_topic: cmnd/pump/POWER\n"
	      "    payload_on: 'ON'\n");
	json_t *d = ha_discovery(&t, "switch", "compressor_valve");
	assert_string_equal(json_string_value(json_object_get(d, "command_topic")),
			    BASE "switch/compressor_valve/set");
	json_decref(d);
	td_device(&t, "tele/i3/valve/LWT", "Online");
	long n = td_device(&t, "stat/i3/valve/POWER", "ON");
	td_expect_after(&t, n, BASE "switch/compressor_valve/state", "on");
	n = td_device(&t, "stat/i3/valve/POWER", "OFF");
	td_expect_after(&t, n, BASE "switch/compressor_valve/state", "off");

	/* a command reaches the device, not retained; with a state topic the
	 * state waits for the device */
	n = td_count(&t);
	td_pub(&t, BASE "switch/compressor_valve/set", "ON", false);
	td_expect_after(&t, n, "cmnd/i3/valve/POWER", "ON");
	char buf[256];
	assert_null(td_retained(&t, "cmnd/i3/valve/POWER", buf, sizeof buf));
	assert_string_equal(td_last(&t, BASE "switch/compressor_valve/state"), "off");
	n = td_device(&t, "stat/i3/valve/POWER", "ON");
	td_expect_after(&t, n, BASE "switch/compressor_valve/state", "on");
	n = td_count(&t);
	td_pub(&t, BASE "switch/compressor_valve/set", "TOGGLE", false);
	td_expect_after(&t, n, "cmnd/i3/valve/POWER", "OFF");

	/* no state topic: optimistic; payload_on: 1; retain: true */
	td_expect(&t, BASE "switch/heater/state", "unknown");
	n = td_count(&t);
	td_pub(&t, BASE "switch/heater/set", "ON", false);
	td_expect_after(&t, n, "heater/set", "1");
	td_expect_after(&t, n, BASE "switch/heater/state", "on");
	assert_non_null(td_retained(&t, "heater/set", buf, sizeof buf));
	assert_string_equal(buf, "1");
	n = td_count(&t);
	td_pub(&t, BASE "switch/heater/set", "OFF", false);
	td_expect_after(&t, n, "heater/set", "0");
	td_expect_after(&t, n, BASE "switch/heater/state", "off");
	json_t *a = json_loads(td_last(&t, BASE "switch/heater/attributes"), 0, NULL);
	assert_true(json_is_true(json_object_get(a, "assumed_state")));
	json_decref(a);

	/* state_on/state_off and a command template */
	n = td_device(&t, "fan/state", "running");
	td_expect_after(&t, n, BASE "switch/fan/state", "on");
	n = td_device(&t, "fan/state", "ON"); /* payload_on is not a state */
	n = td_device(&t, "fan/state", "stopped");
	td_expect_after(&t, n, BASE "switch/fan/state", "off");
	n = td_count(&t);
	td_pub(&t, BASE "switch/fan/set", "ON", false);
	td_expect_after(&t, n, "fan/cmd", "{\"power\": \"ON\"}");

	n = td_device(&t, "stat/pump/POWER", "ON");
	td_expect_after(&t, n, BASE "switch/legacy_pump/state", "on");
	stop(&t);
}

static void light_brightness_scales_and_orders_commands(void **state)
{
	(void)state;
	static struct td t; /* static: teardown may stop it after a failure */
	start(&t, HEAD
	      "  light:\n"
	      "    - name: Desk lamp\n"
	      "      state_topic: stat/desk/POWER\n"
	      "      command_topic: cmnd/desk/POWER\n"
	      "      brightness_state_topic: stat/desk/RESULT\n"
	      "      brightness_value_template: '{{ value_json.Dimmer }}'\n"
	      "      brightness_command_topic: cmnd/desk/Dimmer\n"
	      "      brightness_scale: 100\n"
	      "      payload_on: 'ON'\n"
	      "      payload_off: 'OFF'\n"
	      "    - name: Strip\n"
	      "      command_topic: strip/set\n"
	      "      brightness_command_topic: strip/brightness\n"
	      "      on_command_type: brightness\n"
	      "    - name: Bulb\n"
	      "      command_topic: bulb/set\n");
	json_t *d = discovery(&t, "light", "desk_lamp");
	/* Home Assistant's basic schema dims through brightness topics: the
	 * bridge's own /set and /attributes */
	assert_string_equal(json_string_value(json_object_get(d, "brightness_command_topic")),
			    "mqbridge/tm/light/desk_lamp/set");
	assert_non_null(json_object_get(d, "brightness_state_topic"));
	assert_int_equal(json_integer_value(json_object_get(d, "brightness_scale")), 255);
	json_decref(d);
	d = discovery(&t, "light", "bulb");
	assert_null(json_object_get(d, "brightness_command_topic"));
	json_decref(d);

	long n = td_device(&t, "stat/desk/POWER", "ON");
	td_expect_after(&t, n, BASE "light/desk_lamp/state", "on");
	n = td_device(&t, "stat/desk/RESULT", "{\"POWER\":\"ON\",\"Dimmer\":50}");
	/* the attributes the ON above made may come after n: wait for the value */
	json_t *a;
	{
		const char *const kv[] = {
			"brightness", "128",
			"color_mode", "\"brightness\"",
			NULL};
		a = expect_attrs(&t, n, BASE "light/desk_lamp/attributes", kv);
	}
	json_decref(a);

	/* on_command_type last: brightness first, then ON */
	n = td_count(&t);
	td_pub(&t, BASE "light/desk_lamp/set", "{\"state\":\"ON\",\"brightness\":255}", false);
	long b = td_expect_after(&t, n, "cmnd/desk/Dimmer", "100");
	td_expect_after(&t, b, "cmnd/desk/POWER", "ON");
	n = td_count(&t);
	td_pub(&t, BASE "light/desk_lamp/set", "OFF", false);
	td_expect_after(&t, n, "cmnd/desk/POWER", "OFF");

	/* on_command_type brightness: only the brightness, 255 when unknown */
	n = td_count(&t);
	td_pub(&t, BASE "light/strip/set", "ON", false);
	td_expect_after(&t, n, "strip/brightness", "255");
	td_expect_after(&t, n, BASE "light/strip/state", "on");
	n = td_count(&t);
	td_pub(&t, BASE "light/strip/set", "{\"brightness\":64}", false);
	td_expect_after(&t, n, "strip/brightness", "64");
	td_expect_after(&t, n, BASE "light/strip/attributes", NULL);
	n = td_count(&t);
	td_pub(&t, BASE "light/strip/set", "OFF", false);
	td_expect_after(&t, n, "strip/set", "OFF");
	td_expect_after(&t, n, BASE "light/strip/state", "off");

	n = td_count(&t);
	td_pub(&t, BASE "light/bulb/set", "ON", false);
	td_expect_after(&t, n, "bulb/set", "ON");
	td_expect_after(&t, n, BASE "light/bulb/state", "on");
	stop(&t);
}

static void cover_states_positions_and_commands(void **state)
{
	(void)state;
	static struct td t; /* static: teardown may stop it after a failure */
	start(&t, HEAD
	      "  cover:\n"
	      "    - name: Front gate\n"
	      "      state_topic: stat/front-gate/POWER2\n"
	      "      command_topic: cmnd/front-gate/POWER1\n"
	      "      availability_topic: tele/front-gate/LWT\n"
	      "      payload_available: Online\n"
	      "      payload_not_available: Offline\n"
	      "      payload_open: 'ON'\n"
	      "      payload_close: 'ON'\n"
	      "      payload_stop:\n"
	      "      state_open: 'ON'\n"
	      "      state_closed: 'OFF'\n"
	      "    - name: Blind\n"
	      "      command_topic: blind/cmd\n"
	      "      position_topic: blind/position\n"
	      "      set_position_topic: blind/set_position\n"
	      "      position_open: 255\n"
	      "      position_closed: 0\n"
	      "      position_template: '{{ value_json.pos }}'\n"
	      "      set_position_template: '{\"pos\": {{ value }}}'\n");
	json_t *d = ha_discovery(&t, "cover", "front_gate");
	assert_true(json_is_null(json_object_get(d, "payload_stop")));
	json_decref(d);
	td_device(&t, "tele/front-gate/LWT", "Online");
	long n = td_device(&t, "stat/front-gate/POWER2", "ON");
	td_expect_after(&t, n, BASE "cover/front_gate/state", "open");
	n = td_device(&t, "stat/front-gate/POWER2", "OFF");
	td_expect_after(&t, n, BASE "cover/front_gate/state", "closed");
	n = td_count(&t);
	td_pub(&t, BASE "cover/front_gate/set", "OPEN", false);
	td_expect_after(&t, n, "cmnd/front-gate/POWER1", "ON");
	/* payload_stop: null — the cover has no stop */
	td_pub(&t, BASE "cover/front_gate/set", "STOP", false);
	td_expect_log(&t, "cover.stop_cover");

	n = td_device(&t, "blind/position", "{\"pos\":128}");
	td_expect_after(&t, n, BASE "cover/blind/state", "open");
	td_expect_after(&t, n, BASE "cover/blind/attributes", "{\"current_position\":50}");
	n = td_device(&t, "blind/position", "{\"pos\":0}");
	td_expect_after(&t, n, BASE "cover/blind/state", "closed");
	n = td_count(&t);
	td_pub(&t, BASE "cover/blind/set", "75", false);
	td_expect_after(&t, n, "blind/set_position", "{\"pos\": 191}");
	n = td_count(&t);
	td_pub(&t, BASE "cover/blind/set", "CLOSE", false);
	td_expect_after(&t, n, "blind/cmd", "CLOSE");
	stop(&t);
}

/* A venetian blind's tilt (Home Assistant's test_cover.py
 * ::test_tilt_via_topic_template, ::test_tilt_position,
 * ::test_tilt_via_topic_altered_range, ::test_tilt_position_altered_range,
 * ::test_tilt_position_templated): read on its own topic as a percentage
 * of tilt_min..tilt_max, set from Home Assistant's tilt_position through
 * the bridge, and stopped with payload_stop_tilt, as zigbee2mqtt's and
 * Tasmota's shutters take them. */
static void cover_tilt_reads_scales_and_commands(void **state)
{
	(void)state;
	static struct td t;
	start(&t, HEAD
	      "  cover:\n"
	      "    - name: Venetian\n"
	      "      command_topic: zigbee2mqtt/venetian/set\n"
	      "      state_topic: zigbee2mqtt/venetian\n"
	      "      value_template: '{{ value_json.state }}'\n"
	      "      state_open: OPEN\n"
	      "      state_closed: CLOSE\n"
	      "      tilt_command_topic: zigbee2mqtt/venetian/set\n"
	      "      tilt_command_template: '{\"tilt\": {{ tilt_position }}}'\n"
	      "      tilt_status_topic: zigbee2mqtt/venetian\n"
	      "      tilt_status_template: '{{ value_json.tilt }}'\n"
	      "    - name: Shutter\n"
	      "      command_topic: cmnd/shutter/Backlog\n"
	      "      tilt_command_topic: cmnd/shutter/ShutterTilt1\n"
	      "      tilt_status_topic: stat/shutter/tilt\n"
	      "      tilt_min: 0\n"
	      "      tilt_max: 50\n"
	      "      payload_stop_tilt: STOPTILT\n");
	json_t *d = ha_discovery(&t, "cover", "venetian");
	assert_key_is(d, "tilt_command_topic", BASE "cover/venetian/set");
	assert_key_is(d, "tilt_status_topic", BASE "cover/venetian/attributes");
	assert_key_is(d, "payload_stop_tilt", "STOP_TILT");
	json_decref(d);
	long n = td_device(&t, "zigbee2mqtt/venetian", "{\"state\":\"OPEN\",\"tilt\":30}");
	td_expect_after(&t, n, BASE "cover/venetian/state", "open");
	td_expect_after(&t, n, BASE "cover/venetian/attributes", "{\"current_tilt_position\":30}");
	n = td_count(&t);
	td_pub(&t, BASE "cover/venetian/set", "{\"tilt_position\": 80}", false);
	td_expect_after(&t, n, "zigbee2mqtt/venetian/set", "{\"tilt\": 80}");

	/* the device's 25 of 0..50 is half open; Home Assistant's 50 is 25 */
	d = ha_discovery(&t, "cover", "shutter");
	json_decref(d);
	td_device(&t, "stat/shutter/tilt", "25");
	td_expect_holds(&t, BASE "cover/shutter/attributes", "\"current_tilt_position\":50}");
	td_device(&t, "stat/shutter/tilt", "50");
	td_expect_holds(&t, BASE "cover/shutter/attributes", "\"current_tilt_position\":100}");
	n = td_count(&t);
	td_pub(&t, BASE "cover/shutter/set", "{\"tilt_position\": 50}", false);
	td_expect_after(&t, n, "cmnd/shutter/ShutterTilt1", "25");
	td_pub(&t, BASE "cover/shutter/set", "STOP_TILT", false);
	td_expect_after(&t, n, "cmnd/shutter/ShutterTilt1", "STOPTILT");
	stop(&t);
}

static void button_number_and_select(void **state)
{
	(void)state;
	static struct td t; /* static: teardown may stop it after a failure */
	start(&t, HEAD
	      "  button:\n"
	      "    - name: Restart plug\n"
	      "      command_topic: cmnd/plug/Restart\n"
	      "      payload_press: 1\n"
	      "      entity_category: config\n"
	      "  number:\n"
	      "    - name: Target temperature\n"
	      "      state_topic: thermostat/target\n"
	      "      command_topic: thermostat/target/set\n"
	      "      min: 5\n"
	      "      max: 30\n"
	      "      step: 0.5\n"
	      "      mode: box\n"
	      "      unit_of_measurement: \"°C\"\n"
	      "  select:\n"
	      "    - name: Vacuum preset\n"
	      "      state_topic: valetudo/robot/preset\n"
	      "      command_topic: valetudo/robot/preset/set\n"
	      "      options: [min, medium, max]\n"
	      "      command_template: \"{{ value | default('medium') }}\"\n"
	      "    - name: Mode\n"
	      "      command_topic: mode/set\n"
	      "      options: [eco, comfort]\n"
	      "mqtt_statestream: {base_topic: hs}\n");
	json_t *d = ha_discovery(&t, "number", "target_temperature");
	assert_true(json_number_value(json_object_get(d, "min")) == 5);
	assert_true(json_number_value(json_object_get(d, "max")) == 30);
	assert_true(json_number_value(json_object_get(d, "step")) == 0.5);
	assert_string_equal(json_string_value(json_object_get(d, "mode")), "box");
	json_decref(d);
	d = ha_discovery(&t, "select", "vacuum_preset");
	json_t *o = json_object_get(d, "options");
	assert_int_equal(json_array_size(o), 3);
	assert_string_equal(json_string_value(json_array_get(o, 2)), "max");
	json_decref(d);
	d = ha_discovery(&t, "button", "restart_plug");
	assert_string_equal(json_string_value(json_object_get(d, "entity_category")), "config");
	json_decref(d);

	long n = td_count(&t);
	td_pub(&t, BASE "button/restart_plug/set", "PRESS", false);
	td_expect_after(&t, n, "cmnd/plug/Restart", "1");
	/* a button's state is when it was last pressed (the bridge keeps it
	 * off MQTT; statestream shows it) */
	td_expect_after(&t, n, "hs/button/restart_plug/state", NULL);
	const char *when = td_last(&t, "hs/button/restart_plug/state");
	assert_int_equal(strlen(when), strlen("2024-05-01T12:00:00.123456+00:00"));

	n = td_device(&t, "thermostat/target", "21.5");
	td_expect_after(&t, n, BASE "number/target_temperature/state", "21.5");
	td_device(&t, "thermostat/target", "45");   /* out of range: kept */
	td_device(&t, "thermostat/target", "warm"); /* not a number: kept */
	n = td_count(&t);
	td_pub(&t, BASE "number/target_temperature/set", "22", false);
	td_expect_after(&t, n, "thermostat/target/set", "22");
	td_pub(&t, BASE "number/target_temperature/set", "31", false);
	td_expect_log(&t, "value 31 is outside the range 5 - 30");
	n = td_count(&t);
	td_pub(&t, BASE "number/target_temperature/set", "22.5", false);
	td_expect_after(&t, n, "thermostat/target/set", "22.5");
	assert_string_equal(td_last(&t, BASE "number/target_temperature/state"), "21.5");
	json_t *a = json_loads(td_last(&t, BASE "number/target_temperature/attributes"), 0, NULL);
	assert_true(json_number_value(json_object_get(a, "max")) == 30);
	json_decref(a);

	n = td_device(&t, "valetudo/robot/preset", "max");
	td_expect_after(&t, n, BASE "select/vacuum_preset/state", "max");
	td_device(&t, "valetudo/robot/preset", "turbo"); /* not an option: kept */
	n = td_count(&t);
	td_pub(&t, BASE "select/vacuum_preset/set", "min", false);
	td_expect_after(&t, n, "valetudo/robot/preset/set", "min");
	td_pub(&t, BASE "select/vacuum_preset/set", "turbo", false);
	td_expect_log(&t, "'turbo' is not one of the options");
	assert_string_equal(td_last(&t, BASE "select/vacuum_preset/state"), "max");
	/* optimistic without a state topic */
	n = td_count(&t);
	td_pub(&t, BASE "select/mode/set", "comfort", false);
	td_expect_after(&t, n, "mode/set", "comfort");
	td_expect_after(&t, n, BASE "select/mode/state", "comfort");
	stop(&t);
}

static void bad_payloads_and_template_output_keep_the_old_state(void **state)
{
	(void)state;
	static struct td t; /* static: teardown may stop it after a failure */
	start(&t, HEAD
	      "  sensor:\n"
	      "    - name: Power\n"
	      "      state_topic: tele/plug/SENSOR\n"
	      "      value_template: '{{ value_json.ENERGY.Power | float }}'\n"
	      "    - name: Raw\n"
	      "      state_topic: raw/state\n"
	      "      json_attributes_topic: raw/attrs\n"
	      "    - name: Long\n"
	      "      state_topic: long/state\n"
	      "      value_template: \"{{ value * 300 }}\"\n");
	long n = td_device(&t, "tele/plug/SENSOR", "{\"ENERGY\":{\"Power\":42}}");
	td_expect_after(&t, n, BASE "sensor/power/state", "42.0");
	/* a render error is logged once and the state stays */
	td_device(&t, "tele/plug/SENSOR", "{\"ENERGY\":{\"Power\":\"n/a\"}}");
	td_device(&t, "tele/plug/SENSOR", "{\"ENERGY\":{\"Power\":\"n/a\"}}");
	td_device(&t, "tele/plug/SENSOR", "not json at all");
	td_expect_log(&t, "sensor.power: value_template: error rendering the template");
	n = td_device(&t, "tele/plug/SENSOR", "{\"ENERGY\":{\"Power\":43}}");
	td_expect_after(&t, n, BASE "sensor/power/state", "43.0");
	td_expect_log(&t, "sensor.power: value_template renders again");
	assert_int_equal(td_log_count(&t, "sensor.power: value_template: error rendering"), 1);

	/* over 255 bytes, not UTF-8: dropped with a counted warning */
	n = td_device(&t, "raw/state", "ok");
	td_expect_after(&t, n, BASE "sensor/raw/state", "ok");
	char big[300];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	td_device(&t, "raw/state", big);
	td_device(&t, "raw/state", "caf\xc3");
	td_expect_log(&t, "sensor.raw: state dropped");
	/* a template output over 255 bytes too */
	td_device(&t, "long/state", "ab");
	td_expect_log(&t, "sensor.long: state dropped");
	/* attributes that are not a JSON object */
	td_device(&t, "raw/attrs", "[1, 2]");
	td_device(&t, "raw/attrs", "{\"broken\":");
	td_expect_log(&t, "sensor.raw: JSON attributes that are no object");
	n = td_device(&t, "raw/attrs", "{\"rssi\":-61}");
	td_expect_after(&t, n, BASE "sensor/raw/attributes", "{\"rssi\":-61}");
	n = td_device(&t, "raw/state", "fine");
	td_expect_after(&t, n, BASE "sensor/raw/state", "fine");
	/* nothing between "ok" and "fine" reached the state topic */
	long ok = td_wait(&t, BASE "sensor/raw/state", "ok", 0);
	long fine = td_wait(&t, BASE "sensor/raw/state", "fine", 0);
	assert_true(ok >= 0 && fine > ok);
	assert_int_equal(td_wait_after(&t, ok + 1, BASE "sensor/raw/state", NULL, 0), fine);
	stop(&t);
}

/* ---- Home Assistant's discovery schemas -------------------------------- */

/* The keys Home Assistant's MQTT discovery takes for each component
 * (components/mqtt/<component>.py, schemas.py, abbreviations.py): every
 * key the bridge announces must be one, after abbreviations are expanded
 * and "~" resolved, or Home Assistant drops it. */
static const char *const common_keys[] = {
	"availability", "availability_mode", "availability_template", "availability_topic",
	"device", "default_entity_id", "enabled_by_default", "encoding", "entity_category",
	"entity_picture", "icon", "json_attributes_template", "json_attributes_topic", "name",
	"object_id", "origin", "payload_available", "payload_not_available", "qos", "unique_id",
	"platform", NULL};

static const struct {
	const char *component;
	const char *const *keys;
} schema_keys[] = {
#define K(...) ((const char *const[]){__VA_ARGS__, NULL})
	{"sensor", K("state_topic", "value_template", "device_class", "expire_after", "force_update",
		     "last_reset_value_template", "options", "state_class",
		     "suggested_display_precision", "unit_of_measurement")},
	{"binary_sensor", K("state_topic", "value_template", "device_class", "expire_after",
			    "force_update", "off_delay", "payload_on", "payload_off")},
	{"switch", K("state_topic", "value_template", "command_topic", "command_template", "retain",
		     "device_class", "optimistic", "payload_on", "payload_off", "state_on",
		     "state_off")},
	{"light", K("schema", "state_topic", "state_value_template", "command_topic", "retain",
		    "optimistic", "payload_on", "payload_off", "on_command_type",
		    "brightness_command_topic", "brightness_command_template", "brightness_scale",
		    "brightness_state_topic", "brightness_value_template", "color_mode_state_topic",
		    "color_mode_value_template", "color_temp_command_template",
		    "color_temp_command_topic", "color_temp_kelvin", "color_temp_state_topic",
		    "color_temp_value_template", "effect_command_topic", "effect_command_template",
		    "effect_list", "effect_state_topic", "effect_value_template",
		    "hs_command_template", "hs_command_topic", "hs_state_topic", "hs_value_template",
		    "max_kelvin", "min_kelvin", "max_mireds", "min_mireds", "rgb_command_template",
		    "rgb_command_topic", "rgb_state_topic", "rgb_value_template",
		    "rgbw_command_template", "rgbw_command_topic", "rgbw_state_topic",
		    "rgbw_value_template", "rgbww_command_template", "rgbww_command_topic",
		    "rgbww_state_topic", "rgbww_value_template", "white_command_topic",
		    "white_scale", "xy_command_template", "xy_command_topic", "xy_state_topic",
		    "xy_value_template")},
	{"cover", K("command_topic", "device_class", "optimistic", "payload_close", "payload_open",
		    "payload_stop", "payload_stop_tilt", "position_closed", "position_open",
		    "position_template", "position_topic", "retain", "set_position_template",
		    "set_position_topic", "state_closed", "state_closing", "state_open",
		    "state_opening", "state_stopped", "state_topic", "tilt_closed_value",
		    "tilt_command_template", "tilt_command_topic", "tilt_max", "tilt_min",
		    "tilt_opened_value", "tilt_optimistic", "tilt_status_template",
		    "tilt_status_topic", "value_template")},
	{"valve", K("command_template", "command_topic", "device_class", "optimistic",
		    "payload_close", "payload_open", "payload_stop", "position_closed",
		    "position_open", "reports_position", "retain", "state_closed", "state_closing",
		    "state_open", "state_opening", "state_topic", "value_template")},
	{"button", K("command_template", "command_topic", "device_class", "payload_press", "retain")},
	{"number", K("command_template", "command_topic", "device_class", "max", "min", "mode",
		     "optimistic", "payload_reset", "retain", "state_topic", "step",
		     "unit_of_measurement", "value_template")},
	{"select", K("command_template", "command_topic", "optimistic", "options", "retain",
		     "state_topic", "value_template")},
	{"text", K("command_template", "command_topic", "max", "min", "mode", "pattern", "retain",
		   "state_topic", "value_template")},
	{"scene", K("command_topic", "payload_on", "retain")},
	{"notify", K("command_template", "command_topic", "retain")},
	{"event", K("device_class", "event_types", "state_topic", "value_template")},
	{"update", K("command_topic", "device_class", "display_precision",
		     "latest_version_template", "latest_version_topic", "payload_install",
		     "release_summary", "release_url", "retain", "state_topic", "title",
		     "value_template")},
	{"device_tracker", K("payload_home", "payload_not_home", "payload_reset", "source_type",
			     "state_topic", "value_template")},
	{"climate", K("action_template", "action_topic", "current_humidity_template",
		      "current_humidity_topic", "current_temperature_template",
		      "current_temperature_topic", "fan_mode_command_template",
		      "fan_mode_command_topic", "fan_mode_state_template", "fan_mode_state_topic",
		      "fan_modes", "initial", "max_humidity", "max_temp", "min_humidity", "min_temp",
		      "mode_command_template", "mode_command_topic", "mode_state_template",
		      "mode_state_topic", "modes", "optimistic", "payload_off", "payload_on",
		      "power_command_template", "power_command_topic", "precision",
		      "preset_mode_command_template", "preset_mode_command_topic",
		      "preset_mode_state_topic", "preset_mode_value_template", "preset_modes",
		      "retain", "swing_mode_command_template", "swing_mode_command_topic",
		      "swing_mode_state_template", "swing_mode_state_topic", "swing_modes",
		      "target_humidity_command_template", "target_humidity_command_topic",
		      "target_humidity_state_template", "target_humidity_state_topic", "temp_step",
		      "temperature_command_template", "temperature_command_topic",
		      "temperature_high_command_template", "temperature_high_command_topic",
		      "temperature_high_state_template", "temperature_high_state_topic",
		      "temperature_low_command_template", "temperature_low_command_topic",
		      "temperature_low_state_template", "temperature_low_state_topic",
		      "temperature_state_template", "temperature_state_topic", "temperature_unit",
		      "value_template")},
	{"water_heater", K("current_temperature_template", "current_temperature_topic", "initial",
			   "max_temp", "min_temp", "mode_command_template", "mode_command_topic",
			   "mode_state_template", "mode_state_topic", "modes", "optimistic",
			   "payload_off", "payload_on", "power_command_template",
			   "power_command_topic", "precision", "retain",
			   "temperature_command_template", "temperature_command_topic",
			   "temperature_state_template", "temperature_state_topic",
			   "temperature_unit", "value_template")},
	{"humidifier", K("action_template", "action_topic", "command_template", "command_topic",
			 "current_humidity_template", "current_humidity_topic", "device_class",
			 "max_humidity", "min_humidity", "mode_command_template",
			 "mode_command_topic", "mode_state_template", "mode_state_topic", "modes",
			 "optimistic", "payload_off", "payload_on", "payload_reset_humidity",
			 "payload_reset_mode", "retain", "state_topic", "state_value_template",
			 "target_humidity_command_template", "target_humidity_command_topic",
			 "target_humidity_state_template", "target_humidity_state_topic")},
	{"fan", K("command_template", "command_topic", "direction_command_template",
		  "direction_command_topic", "direction_state_topic", "direction_value_template",
		  "optimistic", "oscillation_command_template", "oscillation_command_topic",
		  "oscillation_state_topic", "oscillation_value_template", "payload_off",
		  "payload_on", "payload_oscillation_off", "payload_oscillation_on",
		  "payload_reset_percentage", "payload_reset_preset_mode",
		  "percentage_command_template", "percentage_command_topic",
		  "percentage_state_topic", "percentage_value_template",
		  "preset_mode_command_template", "preset_mode_command_topic",
		  "preset_mode_state_topic", "preset_mode_value_template", "preset_modes", "retain",
		  "speed_range_max", "speed_range_min", "state_topic", "state_value_template")},
	{"lock", K("code_format", "command_template", "command_topic", "optimistic", "payload_lock",
		   "payload_open", "payload_reset", "payload_unlock", "retain", "state_jammed",
		   "state_locked", "state_locking", "state_open", "state_opening", "state_topic",
		   "state_unlocked", "state_unlocking", "value_template")},
	{"siren", K("available_tones", "command_off_template", "command_template", "command_topic",
		    "optimistic", "payload_off", "payload_on", "retain", "state_off", "state_on",
		    "state_topic", "state_value_template", "support_duration",
		    "support_volume_set")},
	{"alarm_control_panel", K("code", "code_arm_required", "code_disarm_required",
				  "code_trigger_required", "command_template", "command_topic",
				  "payload_arm_away", "payload_arm_custom_bypass",
				  "payload_arm_home", "payload_arm_night", "payload_arm_vacation",
				  "payload_disarm", "payload_trigger", "retain", "state_topic",
				  "supported_features", "value_template")},
	{"vacuum", K("command_topic", "fan_speed_list", "payload_clean_spot", "payload_locate",
		     "payload_pause", "payload_return_to_base", "payload_start", "payload_stop",
		     "retain", "schema", "send_command_topic", "set_fan_speed_topic", "state_topic",
		     "supported_features")},
	{"lawn_mower", K("activity_state_topic", "activity_value_template",
			 "dock_command_template", "dock_command_topic", "optimistic",
			 "pause_command_template", "pause_command_topic", "retain",
			 "start_mowing_command_template", "start_mowing_command_topic")},
#undef K
};

/* The device trigger's own schema: nothing of an entity's. */
static const char *const trigger_keys[] = {"automation_type", "device", "payload", "qos",
					   "subtype", "topic", "type", "value_template",
					   "platform", NULL};

/* A few of abbreviations.py's, enough to read a payload written with them. */
static const char *const abbreviations[][2] = {
	{"avty", "availability"}, {"avty_t", "availability_topic"}, {"cmd_t", "command_topic"},
	{"cmd_tpl", "command_template"}, {"dev", "device"}, {"dev_cla", "device_class"},
	{"json_attr_t", "json_attributes_topic"}, {"stat_t", "state_topic"},
	{"val_tpl", "value_template"}, {"uniq_id", "unique_id"}, {"obj_id", "object_id"},
	{"pl_on", "payload_on"}, {"pl_off", "payload_off"}, {"unit_of_meas", "unit_of_measurement"},
	{"stat_cla", "state_class"}, {"ent_cat", "entity_category"}, {"atype", "automation_type"},
	{"stype", "subtype"},
};

static bool listed(const char *const *v, const char *k)
{
	for (; *v; v++)
		if (strcmp(*v, k) == 0)
			return true;
	return false;
}

/* Expand abbreviations and resolve "~" as Home Assistant's discovery
 * does, then check every key against the component's schema. */
static void assert_home_assistant_keys(json_t *d, const char *component)
{
	json_t *x = json_object();
	const char *base = json_string_value(json_object_get(d, "~"));
	const char *k;
	json_t *v;
	json_object_foreach(d, k, v) {
		const char *full = k;
		for (size_t i = 0; i < sizeof abbreviations / sizeof abbreviations[0]; i++)
			if (strcmp(k, abbreviations[i][0]) == 0)
				full = abbreviations[i][1];
		if (strcmp(k, "~") == 0)
			continue;
		const char *s = json_string_value(v);
		size_t n = s ? strlen(s) : 0;
		if (base && s && strstr(full, "topic") && (s[0] == '~' || (n && s[n - 1] == '~'))) {
			char buf[512];
			if (s[0] == '~')
				snprintf(buf, sizeof buf, "%s%s", base, s + 1);
			else
				snprintf(buf, sizeof buf, "%.*s%s", (int)n - 1, s, base);
			json_object_set_new(x, full, json_string(buf));
		} else {
			json_object_set(x, full, v);
		}
	}
	const char *const *keys = NULL;
	bool trigger = strcmp(component, "device_automation") == 0;
	for (size_t i = 0; i < sizeof schema_keys / sizeof schema_keys[0]; i++)
		if (strcmp(schema_keys[i].component, component) == 0)
			keys = schema_keys[i].keys;
	assert_true(keys || trigger);
	json_object_foreach(x, k, v) {
		bool ok = trigger ? listed(trigger_keys, k)
				  : listed(common_keys, k) || listed(keys, k);
		if (!ok) {
			char *all = json_dumps(x, JSON_COMPACT);
			fail_msg("%s discovery has '%s', which Home Assistant does not take: %s",
				 component, k, all);
		}
	}
	json_decref(x);
}

/* discovery() checked against the component's schema. */
static json_t *ha_discovery(struct td *t, const char *component, const char *object_id)
{
	json_t *d = discovery(t, component, object_id);
	assert_home_assistant_keys(d, component);
	return d;
}

static void assert_key_is(json_t *d, const char *key, const char *want)
{
	const char *got = json_string_value(json_object_get(d, key));
	if (!got || strcmp(got, want) != 0) {
		char *all = json_dumps(d, JSON_COMPACT);
		fail_msg("'%s' is '%s', not '%s', in %s", key, got ? got : "(none)", want, all);
	}
}

/* A command on the bridge's /set topic of entity reaches the device's
 * topic as want. */
static long command(struct td *t, const char *entity_set, const char *payload,
		    const char *device_topic, const char *want)
{
	long n = td_count(t);
	td_pub(t, entity_set, payload, false);
	return td_expect_after(t, n, device_topic, want);
}

/* ---- climate, water heater, humidifier, fan ------------------------------ */

/* A zigbee2mqtt thermostatic radiator valve and Home Assistant's docs'
 * optimistic air conditioner: states from the device's JSON, every
 * setting to its own topic. */
static void climate_from_a_zigbee_valve_and_an_optimistic_ac(void **state)
{
	(void)state;
	static struct td t;
	start(&t, HEAD
	      "  climate:\n"
	      "    - name: Radiator\n"
	      "      mode_state_topic: zigbee2mqtt/trv\n"
	      "      mode_state_template: '{{ value_json.system_mode }}'\n"
	      "      mode_command_topic: zigbee2mqtt/trv/set/system_mode\n"
	      "      modes: ['off', heat, auto]\n"
	      "      current_temperature_topic: zigbee2mqtt/trv\n"
	      "      current_temperature_template: '{{ value_json.local_temperature }}'\n"
	      "      temperature_state_topic: zigbee2mqtt/trv\n"
	      "      temperature_state_template: '{{ value_json.current_heating_setpoint }}'\n"
	      "      temperature_command_topic: zigbee2mqtt/trv/set/current_heating_setpoint\n"
	      "      action_topic: zigbee2mqtt/trv\n"
	      "      action_template: \"{{ 'heating' if value_json.running_state == 'heat' else 'idle' }}\"\n"
	      "      min_temp: 5\n"
	      "      max_temp: 30\n"
	      "      temp_step: 0.5\n"
	      "      precision: 0.5\n"
	      "    - name: Study\n"
	      "      modes: ['off', cool, fan_only]\n"
	      "      swing_modes: ['on', 'off']\n"
	      "      fan_modes: [high, medium, low]\n"
	      "      preset_modes: [eco, sleep, activity]\n"
	      "      power_command_topic: study/ac/power/set\n"
	      "      preset_mode_command_topic: study/ac/preset_mode/set\n"
	      "      mode_command_topic: study/ac/mode/set\n"
	      "      mode_command_template: \"{{ value if value == 'off' else 'on' }}\"\n"
	      "      temperature_command_topic: study/ac/temperature/set\n"
	      "      fan_mode_command_topic: study/ac/fan/set\n"
	      "      swing_mode_command_topic: study/ac/swing/set\n"
	      "      precision: 1.0\n");
	json_t *d = ha_discovery(&t, "climate", "radiator");
	assert_key_is(d, "mode_state_topic", BASE "climate/radiator/state");
	assert_key_is(d, "mode_command_topic", BASE "climate/radiator/set");
	assert_key_is(d, "temperature_command_topic", BASE "climate/radiator/set");
	assert_key_is(d, "current_temperature_topic", BASE "climate/radiator/attributes");
	assert_key_is(d, "temperature_unit", "C");
	assert_int_equal(json_array_size(json_object_get(d, "modes")), 3);
	assert_true(json_real_value(json_object_get(d, "temp_step")) == 0.5);
	assert_null(json_object_get(d, "fan_mode_command_topic"));
	json_decref(d);

	long n = td_device(&t, "zigbee2mqtt/trv",
			   "{\"battery\":97,\"current_heating_setpoint\":21,\"local_temperature\":"
			   "19.5,\"system_mode\":\"heat\",\"running_state\":\"heat\","
			   "\"linkquality\":120}");
	td_expect_after(&t, n, BASE "climate/radiator/state", "heat");
	json_t *a;
	{
		const char *const kv[] = {
			"current_temperature", "19.5",
			"hvac_action", "\"heating\"",
			NULL};
		a = expect_attrs(&t, n, BASE "climate/radiator/attributes", kv);
	}
	assert_true(json_real_value(json_object_get(a, "temperature")) == 21.0);
	assert_int_equal(json_array_size(json_object_get(a, "hvac_modes")), 3);
	json_decref(a);
	command(&t, BASE "climate/radiator/set", "{\"temperature\": 22.5}",
		"zigbee2mqtt/trv/set/current_heating_setpoint", "22.5");
	command(&t, BASE "climate/radiator/set", "{\"hvac_mode\": \"off\"}",
		"zigbee2mqtt/trv/set/system_mode", "off");
	/* the device says so: not optimistic */
	assert_string_equal(td_last(&t, BASE "climate/radiator/state"), "heat");

	/* the optimistic one: starts off, takes what it is told */
	td_expect(&t, BASE "climate/study/state", "off");
	d = ha_discovery(&t, "climate", "study");
	assert_key_is(d, "fan_mode_command_topic", BASE "climate/study/set");
	assert_key_is(d, "power_command_topic", BASE "climate/study/set");
	assert_int_equal(json_array_size(json_object_get(d, "preset_modes")), 3);
	json_decref(d);
	n = command(&t, BASE "climate/study/set", "{\"hvac_mode\": \"cool\"}", "study/ac/mode/set",
		    "on");
	td_expect_after(&t, n, BASE "climate/study/state", "cool");
	n = command(&t, BASE "climate/study/set", "{\"fan_mode\": \"high\"}", "study/ac/fan/set",
		    "high");
	a = expect_attr(&t, n, BASE "climate/study/attributes", "fan_mode", "\"high\"");
	json_decref(a);
	command(&t, BASE "climate/study/set", "{\"temperature\": 22}", "study/ac/temperature/set",
		"22.0");
	command(&t, BASE "climate/study/set", "{\"preset_mode\": \"eco\"}",
		"study/ac/preset_mode/set", "eco");
	command(&t, BASE "climate/study/set", "{\"swing_mode\": \"on\"}", "study/ac/swing/set",
		"on");
	command(&t, BASE "climate/study/set", "OFF", "study/ac/power/set", "OFF");
	/* a mode it does not have is refused and logged */
	td_pub(&t, BASE "climate/study/set", "{\"hvac_mode\": \"dry\"}", false);
	td_expect_log(&t, "'dry' is not one of its hvac modes");
	stop(&t);
}

static void water_heater_humidifier_and_fan_as_home_assistants_docs_write_them(void **state)
{
	(void)state;
	static struct td t;
	start(&t, HEAD
	      "  water_heater:\n"
	      "    - name: Boiler\n"
	      "      modes: ['off', eco, performance]\n"
	      "      mode_state_topic: basement/boiler/mode\n"
	      "      mode_command_topic: basement/boiler/mode/set\n"
	      "      mode_command_template: \"{{ value if value == 'off' else 'on' }}\"\n"
	      "      temperature_state_topic: basement/boiler/temperature\n"
	      "      temperature_command_topic: basement/boiler/temperature/set\n"
	      "      current_temperature_topic: basement/boiler/current_temperature\n"
	      "      precision: 1.0\n"
	      "  humidifier:\n"
	      "    - name: Bedroom humidifier\n"
	      "      device_class: humidifier\n"
	      "      state_topic: bedroom/humidifier/on/state\n"
	      "      action_topic: bedroom/humidifier/action\n"
	      "      command_topic: bedroom/humidifier/on/set\n"
	      "      current_humidity_topic: bedroom/humidifier/humidity/current\n"
	      "      target_humidity_command_topic: bedroom/humidifier/humidity/set\n"
	      "      target_humidity_state_topic: bedroom/humidifier/humidity/state\n"
	      "      mode_state_topic: bedroom/humidifier/mode/state\n"
	      "      mode_command_topic: bedroom/humidifier/preset/preset_mode\n"
	      "      modes: [normal, eco, away, boost, comfort, home, sleep, auto, baby]\n"
	      "      payload_on: 'true'\n"
	      "      payload_off: 'false'\n"
	      "      min_humidity: 30\n"
	      "      max_humidity: 80\n"
	      "  fan:\n"
	      "    - name: Bedroom fan\n"
	      "      state_topic: bedroom_fan/on/state\n"
	      "      command_topic: bedroom_fan/on/set\n"
	      "      direction_state_topic: bedroom_fan/direction/state\n"
	      "      direction_command_topic: bedroom_fan/direction/set\n"
	      "      oscillation_state_topic: bedroom_fan/oscillation/state\n"
	      "      oscillation_command_topic: bedroom_fan/oscillation/set\n"
	      "      percentage_state_topic: bedroom_fan/speed/percentage_state\n"
	      "      percentage_command_topic: bedroom_fan/speed/percentage\n"
	      "      preset_mode_state_topic: bedroom_fan/preset/preset_mode_state\n"
	      "      preset_mode_command_topic: bedroom_fan/preset/preset_mode\n"
	      "      preset_modes: [auto, smart, whoosh, eco, breeze]\n"
	      "      payload_on: 'true'\n"
	      "      payload_off: 'false'\n"
	      "      payload_oscillation_on: 'true'\n"
	      "      payload_oscillation_off: 'false'\n"
	      "      speed_range_min: 1\n"
	      "      speed_range_max: 3\n");
	json_t *d = ha_discovery(&t, "water_heater", "boiler");
	assert_key_is(d, "mode_state_topic", BASE "water_heater/boiler/state");
	json_decref(d);
	long n = td_device(&t, "basement/boiler/mode", "eco");
	td_expect_after(&t, n, BASE "water_heater/boiler/state", "eco");
	n = td_device(&t, "basement/boiler/current_temperature", "53.6");
	json_t *a;
	{
		const char *const kv[] = {
			"current_temperature", "54",
			"operation_mode", "\"eco\"",
			NULL};
		a = expect_attrs(&t, n, BASE "water_heater/boiler/attributes", kv);
	}
	json_decref(a);
	command(&t, BASE "water_heater/boiler/set", "{\"temperature\": 55}",
		"basement/boiler/temperature/set", "55.0");
	command(&t, BASE "water_heater/boiler/set", "{\"operation_mode\": \"performance\"}",
		"basement/boiler/mode/set", "on");

	d = ha_discovery(&t, "humidifier", "bedroom_humidifier");
	assert_key_is(d, "target_humidity_command_topic", BASE "humidifier/bedroom_humidifier/set");
	assert_key_is(d, "mode_command_topic", BASE "humidifier/bedroom_humidifier/set");
	assert_key_is(d, "device_class", "humidifier");
	json_decref(d);
	n = td_device(&t, "bedroom/humidifier/on/state", "true");
	td_expect_after(&t, n, BASE "humidifier/bedroom_humidifier/state", "on");
	td_device(&t, "bedroom/humidifier/humidity/state", "45");
	td_device(&t, "bedroom/humidifier/mode/state", "eco");
	n = td_device(&t, "bedroom/humidifier/action", "humidifying");
	{
		const char *const kv[] = {
			"action", "\"humidifying\"",
			"mode", "\"eco\"",
			NULL};
		a = expect_attrs(&t, n, BASE "humidifier/bedroom_humidifier/attributes", kv);
	}
	assert_true(json_number_value(json_object_get(a, "humidity")) == 45);
	json_decref(a);
	command(&t, BASE "humidifier/bedroom_humidifier/set", "OFF", "bedroom/humidifier/on/set",
		"false");
	command(&t, BASE "humidifier/bedroom_humidifier/set", "{\"humidity\": 60}",
		"bedroom/humidifier/humidity/set", "60");
	command(&t, BASE "humidifier/bedroom_humidifier/set", "{\"mode\": \"sleep\"}",
		"bedroom/humidifier/preset/preset_mode", "sleep");

	d = ha_discovery(&t, "fan", "bedroom_fan");
	assert_key_is(d, "percentage_command_topic", BASE "fan/bedroom_fan/set");
	assert_key_is(d, "oscillation_command_topic", BASE "fan/bedroom_fan/set");
	json_decref(d);
	n = td_device(&t, "bedroom_fan/on/state", "true");
	td_expect_after(&t, n, BASE "fan/bedroom_fan/state", "on");
	/* speed 2 of 1..3 is 66 % */
	td_device(&t, "bedroom_fan/oscillation/state", "true");
	n = td_device(&t, "bedroom_fan/speed/percentage_state", "2");
	a = expect_attr(&t, n, BASE "fan/bedroom_fan/attributes", "percentage", "66");
	assert_true(json_is_true(json_object_get(a, "oscillating")));
	json_decref(a);
	command(&t, BASE "fan/bedroom_fan/set", "{\"percentage\": 100}",
		"bedroom_fan/speed/percentage", "3");
	command(&t, BASE "fan/bedroom_fan/set", "{\"percentage\": 34}",
		"bedroom_fan/speed/percentage", "2");
	command(&t, BASE "fan/bedroom_fan/set", "oscillate_off", "bedroom_fan/oscillation/set",
		"false");
	command(&t, BASE "fan/bedroom_fan/set", "{\"preset_mode\": \"whoosh\"}",
		"bedroom_fan/preset/preset_mode", "whoosh");
	command(&t, BASE "fan/bedroom_fan/set", "{\"direction\": \"reverse\"}",
		"bedroom_fan/direction/set", "reverse");
	command(&t, BASE "fan/bedroom_fan/set", "OFF", "bedroom_fan/on/set", "false");
	stop(&t);
}

/* ---- lock, siren, alarm, valve, vacuum, lawn mower ------------------------- */

static void lock_siren_and_alarm_panel(void **state)
{
	(void)state;
	static struct td t;
	start(&t, HEAD
	      "  lock:\n"
	      "    - name: Frontdoor\n"
	      "      state_topic: home-assistant/frontdoor/state\n"
	      "      code_format: '^\\d{4}$'\n"
	      "      command_topic: home-assistant/frontdoor/set\n"
	      "      command_template: '{ \"action\": \"{{ value }}\", \"code\":\"{{ code }}\" }'\n"
	      "      payload_lock: LOCK\n"
	      "      payload_unlock: UNLOCK\n"
	      "      state_locked: LOCK\n"
	      "      state_unlocked: UNLOCK\n"
	      "      state_jammed: MOTOR_JAMMED\n"
	      "      qos: 1\n"
	      "  siren:\n"
	      "    - unique_id: custom_siren\n"
	      "      name: Intrusion siren\n"
	      "      command_topic: home/alarm/siren1/set\n"
	      "      available_tones: [ping, siren]\n"
	      "      command_template: '{{ value }}-{{ tone }}'\n"
	      "      command_off_template: '{{ value }}'\n"
	      "    - name: Plain siren\n"
	      "      command_topic: home/alarm/siren2/set\n"
	      "      state_topic: home/alarm/siren2/state\n"
	      "  alarm_control_panel:\n"
	      "    - name: Alarm panel\n"
	      "      supported_features: [arm_home, arm_away]\n"
	      "      state_topic: alarmdecoder/panel\n"
	      "      command_topic: alarmdecoder/panel/set\n"
	      "      code: '1234'\n"
	      "      command_template: \"{ action: '{{ action }}', code: '{{ code }}'}\"\n");
	json_t *d = ha_discovery(&t, "lock", "frontdoor");
	assert_key_is(d, "state_locked", "locked");
	assert_key_is(d, "code_format", "^\\d{4}$");
	assert_null(json_object_get(d, "payload_open"));
	json_decref(d);
	long n = td_device(&t, "home-assistant/frontdoor/state", "LOCK");
	td_expect_after(&t, n, BASE "lock/frontdoor/state", "locked");
	n = td_device(&t, "home-assistant/frontdoor/state", "MOTOR_JAMMED");
	td_expect_after(&t, n, BASE "lock/frontdoor/state", "jammed");
	command(&t, BASE "lock/frontdoor/set", "UNLOCK", "home-assistant/frontdoor/set",
		"{ \"action\": \"UNLOCK\", \"code\":\"None\" }");

	d = ha_discovery(&t, "siren", "intrusion_siren");
	assert_key_is(d, "unique_id", "custom_siren");
	assert_int_equal(json_array_size(json_object_get(d, "available_tones")), 2);
	json_decref(d);
	n = command(&t, BASE "siren/intrusion_siren/set", "{\"state\": \"ON\", \"tone\": \"ping\"}",
		    "home/alarm/siren1/set", "ON-ping");
	td_expect_after(&t, n, BASE "siren/intrusion_siren/state", "on");
	command(&t, BASE "siren/intrusion_siren/set", "OFF", "home/alarm/siren1/set", "OFF");
	/* without a template: JSON of the state and the settings */
	n = td_device(&t, "home/alarm/siren2/state", "ON");
	td_expect_after(&t, n, BASE "siren/plain_siren/state", "on");
	command(&t, BASE "siren/plain_siren/set", "{\"state\": \"ON\", \"volume_level\": 0.5}",
		"home/alarm/siren2/set", "{\"state\":\"ON\",\"volume_level\":0.5}");

	d = ha_discovery(&t, "alarm_control_panel", "alarm_panel");
	assert_key_is(d, "code", "REMOTE_CODE");
	assert_int_equal(json_array_size(json_object_get(d, "supported_features")), 2);
	json_decref(d);
	n = td_device(&t, "alarmdecoder/panel", "armed_away");
	td_expect_after(&t, n, BASE "alarm_control_panel/alarm_panel/state", "armed_away");
	/* the panel's own code is checked here, as Home Assistant checks it */
	command(&t, BASE "alarm_control_panel/alarm_panel/set",
		"{\"action\": \"DISARM\", \"code\": \"1234\"}", "alarmdecoder/panel/set",
		"{ action: 'DISARM', code: '1234'}");
	td_pub(&t, BASE "alarm_control_panel/alarm_panel/set",
	       "{\"action\": \"ARM_HOME\", \"code\": \"9999\"}", false);
	td_expect_log(&t, "alarm_arm_home: wrong code");
	/* a feature it lacks */
	td_pub(&t, BASE "alarm_control_panel/alarm_panel/set",
	       "{\"action\": \"ARM_NIGHT\", \"code\": \"1234\"}", false);
	td_expect_log(&t, "alarm_arm_night failed");
	assert_int_equal(td_count_topic(&t, 0, "alarmdecoder/panel/set", ""), 1);
	stop(&t);
}

static void valve_vacuum_and_lawn_mower(void **state)
{
	(void)state;
	static struct td t;
	start(&t, HEAD
	      "  valve:\n"
	      "    - name: MQTT valve\n"
	      "      command_topic: heater/valve/set\n"
	      "      state_topic: heater/valve/state\n"
	      "      availability:\n"
	      "        - topic: heater/valve/availability\n"
	      "      payload_stop: STOP\n"
	      "      value_template: '{{ value_json.x }}'\n"
	      "    - name: Radiator valve\n"
	      "      command_topic: radiator/valve/set\n"
	      "      state_topic: radiator/valve/state\n"
	      "      reports_position: true\n"
	      "      position_closed: 0\n"
	      "      position_open: 255\n"
	      "  vacuum:\n"
	      "    - name: MQTT vacuum\n"
	      "      supported_features: [start, pause, stop, return_home, battery, status, locate,\n"
	      "                           clean_spot, fan_speed, send_command]\n"
	      "      command_topic: vacuum/command\n"
	      "      set_fan_speed_topic: vacuum/set_fan_speed\n"
	      "      fan_speed_list: [min, medium, high, max]\n"
	      "      send_command_topic: vacuum/send_command\n"
	      "      state_topic: vacuum/state\n"
	      "  lawn_mower:\n"
	      "    - name: Lawn mower plus\n"
	      "      activity_state_topic: lawn_mower_plus/activity\n"
	      "      activity_value_template: '{{ value_json.activity }}'\n"
	      "      pause_command_topic: lawn_mower_plus/pause\n"
	      "      pause_command_template: '{\"activity\": \"{{ value }}\"}'\n"
	      "      dock_command_topic: lawn_mower_plus/dock\n"
	      "      dock_command_template: '{\"activity\": \"{{ value }}\"}'\n"
	      "      start_mowing_command_topic: lawn_mower_plus/start_mowing\n"
	      "      start_mowing_command_template: '{\"activity\": \"{{ value }}\"}'\n");
	json_t *d = ha_discovery(&t, "valve", "mqtt_valve");
	assert_key_is(d, "payload_stop", "STOP");
	json_decref(d);
	td_device(&t, "heater/valve/availability", "online");
	long n = td_device(&t, "heater/valve/state", "{\"x\": \"opening\"}");
	td_expect_after(&t, n, BASE "valve/mqtt_valve/state", "opening");
	command(&t, BASE "valve/mqtt_valve/set", "STOP", "heater/valve/set", "STOP");
	command(&t, BASE "valve/mqtt_valve/set", "CLOSE", "heater/valve/set", "CLOSE");

	d = ha_discovery(&t, "valve", "radiator_valve");
	assert_true(json_is_true(json_object_get(d, "reports_position")));
	assert_key_is(d, "state_topic", BASE "valve/radiator_valve/attributes");
	json_decref(d);
	n = td_device(&t, "radiator/valve/state", "128");
	td_expect_after(&t, n, BASE "valve/radiator_valve/state", "open");
	json_t *a = expect_attr(&t, n, BASE "valve/radiator_valve/attributes", "current_position",
				"50");
	json_decref(a);
	command(&t, BASE "valve/radiator_valve/set", "{\"position\": 100}", "radiator/valve/set",
		"255");
	command(&t, BASE "valve/radiator_valve/set", "CLOSE", "radiator/valve/set", "0");

	d = ha_discovery(&t, "vacuum", "mqtt_vacuum");
	assert_key_is(d, "state_topic", BASE "vacuum/mqtt_vacuum/attributes");
	assert_key_is(d, "set_fan_speed_topic", BASE "vacuum/mqtt_vacuum/set");
	json_decref(d);
	n = td_device(&t, "vacuum/state",
		      "{\"battery_level\": 61, \"state\": \"docked\", \"fan_speed\": \"min\"}");
	td_expect_after(&t, n, BASE "vacuum/mqtt_vacuum/state", "docked");
	/* Home Assistant's vacuum reads state and battery from one object */
	a = expect_attr(&t, n, BASE "vacuum/mqtt_vacuum/attributes", "state", "\"docked\"");
	assert_int_equal(json_integer_value(json_object_get(a, "battery_level")), 61);
	json_decref(a);
	command(&t, BASE "vacuum/mqtt_vacuum/set", "start", "vacuum/command", "start");
	command(&t, BASE "vacuum/mqtt_vacuum/set", "return_to_base", "vacuum/command",
		"return_to_base");
	command(&t, BASE "vacuum/mqtt_vacuum/set", "max", "vacuum/set_fan_speed", "max");
	command(&t, BASE "vacuum/mqtt_vacuum/set", "{\"command\": \"custom_command\", \"x\": 1}",
		"vacuum/send_command", "{\"x\":1,\"command\":\"custom_command\"}");

	d = ha_discovery(&t, "lawn_mower", "lawn_mower_plus");
	assert_key_is(d, "activity_state_topic", BASE "lawn_mower/lawn_mower_plus/state");
	json_decref(d);
	n = td_device(&t, "lawn_mower_plus/activity", "{\"activity\": \"mowing\"}");
	td_expect_after(&t, n, BASE "lawn_mower/lawn_mower_plus/state", "mowing");
	command(&t, BASE "lawn_mower/lawn_mower_plus/set", "dock", "lawn_mower_plus/dock",
		"{\"activity\": \"dock\"}");
	stop(&t);
}

/* ---- lights ---------------------------------------------------------------- */

/* A zigbee2mqtt bulb (the JSON schema, as zigbee2mqtt announces it), Home
 * Assistant's docs' template light, and a Tasmota RGB+CCT bulb in the
 * basic schema: each announced to Home Assistant in the basic schema, its
 * colour modes wired to the bridge's topics. */
static void lights_in_the_json_template_and_basic_schemas(void **state)
{
	(void)state;
	static struct td t;
	start(&t, HEAD
	      "  light:\n"
	      "    - schema: json\n"
	      "      name: Living bulb\n"
	      "      state_topic: zigbee2mqtt/living_bulb\n"
	      "      command_topic: zigbee2mqtt/living_bulb/set\n"
	      "      brightness: true\n"
	      "      supported_color_modes: [xy, color_temp]\n"
	      "      min_mireds: 153\n"
	      "      max_mireds: 500\n"
	      "      effect: true\n"
	      "      effect_list: [blink, breathe, okay]\n"
	      "    - schema: template\n"
	      "      name: Kitchen\n"
	      "      command_topic: home/rgb1/set\n"
	      "      state_topic: home/rgb1/status\n"
	      "      command_on_template: >\n"
	      "        {\"state\": \"on\"\n"
	      "        {%- if brightness is defined -%}\n"
	      "        , \"brightness\": {{ brightness }}\n"
	      "        {%- endif -%}\n"
	      "        {%- if red is defined and green is defined and blue is defined -%}\n"
	      "        , \"color\": [{{ red }}, {{ green }}, {{ blue }}]\n"
	      "        {%- endif -%}\n"
	      "        }\n"
	      "      command_off_template: '{\"state\": \"off\"}'\n"
	      "      state_template: '{{ value_json.state }}'\n"
	      "      brightness_template: '{{ value_json.brightness }}'\n"
	      "      red_template: '{{ value_json.color[0] }}'\n"
	      "      green_template: '{{ value_json.color[1] }}'\n"
	      "      blue_template: '{{ value_json.color[2] }}'\n"
	      "    - name: Tasmota bulb\n"
	      "      command_topic: cmnd/bulb/POWER\n"
	      "      state_topic: tele/bulb/STATE\n"
	      "      state_value_template: '{{ value_json.POWER }}'\n"
	      "      brightness_command_topic: cmnd/bulb/Dimmer\n"
	      "      brightness_state_topic: tele/bulb/STATE\n"
	      "      brightness_scale: 100\n"
	      "      brightness_value_template: '{{ value_json.Dimmer }}'\n"
	      "      rgb_command_topic: cmnd/bulb/Color2\n"
	      "      rgb_state_topic: tele/bulb/STATE\n"
	      "      rgb_value_template: \"{{ value_json.Color.split(',')[0:3] | join(',') }}\"\n"
	      "      color_temp_command_topic: cmnd/bulb/CT\n"
	      "      color_temp_state_topic: tele/bulb/STATE\n"
	      "      color_temp_value_template: '{{ value_json.CT }}'\n"
	      "      effect_command_topic: cmnd/bulb/Scheme\n"
	      "      effect_state_topic: tele/bulb/STATE\n"
	      "      effect_value_template: '{{ value_json.Scheme }}'\n"
	      "      effect_list: [0, 1, 2, 3, 4]\n");
	/* zigbee2mqtt's bulb */
	json_t *d = ha_discovery(&t, "light", "living_bulb");
	assert_key_is(d, "schema", "basic");
	assert_key_is(d, "xy_command_topic", BASE "light/living_bulb/set");
	assert_key_is(d, "color_temp_command_topic", BASE "light/living_bulb/set");
	assert_key_is(d, "color_mode_state_topic", BASE "light/living_bulb/attributes");
	assert_key_is(d, "brightness_command_topic", BASE "light/living_bulb/set");
	assert_true(json_is_true(json_object_get(d, "color_temp_kelvin")));
	assert_int_equal(json_integer_value(json_object_get(d, "min_kelvin")), 2000);
	assert_int_equal(json_integer_value(json_object_get(d, "max_kelvin")), 6535);
	assert_int_equal(json_array_size(json_object_get(d, "effect_list")), 3);
	assert_null(json_object_get(d, "rgb_command_topic"));
	json_decref(d);
	long n = td_device(&t, "zigbee2mqtt/living_bulb",
			   "{\"brightness\":254,\"color\":{\"x\":0.4599,\"y\":0.4106},"
			   "\"color_mode\":\"color_temp\",\"color_temp\":370,\"linkquality\":120,"
			   "\"state\":\"ON\",\"update\":{\"state\":\"idle\"}}");
	td_expect_after(&t, n, BASE "light/living_bulb/state", "on");
	json_t *a;
	{
		const char *const kv[] = {
			"color_temp_kelvin", "2702",
			"color_mode", "\"color_temp\"",
			NULL};
		a = expect_attrs(&t, n, BASE "light/living_bulb/attributes", kv);
	}
	assert_int_equal(json_integer_value(json_object_get(a, "brightness")), 254);
	json_decref(a);
	command(&t, BASE "light/living_bulb/set", "{\"state\": \"ON\", \"brightness\": 128}",
		"zigbee2mqtt/living_bulb/set", "{\"state\":\"ON\",\"brightness\":128}");
	command(&t, BASE "light/living_bulb/set", "{\"state\": \"ON\", \"color_temp_kelvin\": 2702}",
		"zigbee2mqtt/living_bulb/set", "{\"state\":\"ON\",\"color_temp\":370}");
	command(&t, BASE "light/living_bulb/set", "{\"state\": \"ON\", \"xy_color\": [0.3, 0.4]}",
		"zigbee2mqtt/living_bulb/set", "{\"state\":\"ON\",\"color\":{\"x\":0.3,\"y\":0.4}}");
	command(&t, BASE "light/living_bulb/set", "{\"state\": \"ON\", \"effect\": \"blink\"}",
		"zigbee2mqtt/living_bulb/set", "{\"state\":\"ON\",\"effect\":\"blink\"}");
	command(&t, BASE "light/living_bulb/set", "OFF", "zigbee2mqtt/living_bulb/set",
		"{\"state\":\"OFF\"}");

	/* Home Assistant's docs' template light: hue and saturation from red,
	 * green and blue */
	d = ha_discovery(&t, "light", "kitchen");
	assert_key_is(d, "hs_command_topic", BASE "light/kitchen/set");
	json_decref(d);
	n = td_device(&t, "home/rgb1/status",
		      "{\"state\": \"on\", \"brightness\": 100, \"color\": [255, 0, 0]}");
	td_expect_after(&t, n, BASE "light/kitchen/state", "on");
	{
		const char *const kv[] = {
			"hs_color", "[0.0,100.0]",
			"color_mode", "\"hs\"",
			NULL};
		a = expect_attrs(&t, n, BASE "light/kitchen/attributes", kv);
	}
	assert_int_equal(json_integer_value(json_object_get(a, "brightness")), 100);
	json_decref(a);
	command(&t, BASE "light/kitchen/set", "{\"state\": \"ON\", \"brightness\": 50}",
		"home/rgb1/set", "{\"state\": \"on\", \"brightness\": 50}");
	command(&t, BASE "light/kitchen/set", "{\"state\": \"ON\", \"hs_color\": [120, 100]}",
		"home/rgb1/set", "{\"state\": \"on\", \"color\": [0, 255, 0]}");
	command(&t, BASE "light/kitchen/set", "OFF", "home/rgb1/set", "{\"state\": \"off\"}");

	/* Tasmota's bulb: its own topic for each setting */
	d = ha_discovery(&t, "light", "tasmota_bulb");
	assert_key_is(d, "rgb_command_topic", BASE "light/tasmota_bulb/set");
	assert_key_is(d, "effect_command_topic", BASE "light/tasmota_bulb/set");
	json_decref(d);
	n = td_device(&t, "tele/bulb/STATE",
		      "{\"Time\":\"2024-05-01T12:00:00\",\"POWER\":\"ON\",\"Dimmer\":80,"
		      "\"Color\":\"255,128,0,0,0\",\"HSBColor\":\"30,100,80\",\"CT\":250,"
		      "\"Scheme\":0,\"Fade\":\"OFF\",\"Speed\":1}");
	td_expect_after(&t, n, BASE "light/tasmota_bulb/state", "on");
	{
		const char *const kv[] = {
			"rgb_color", "[255,128,0]",
			"effect", "\"0\"",
			NULL};
		a = expect_attrs(&t, n, BASE "light/tasmota_bulb/attributes", kv);
	}
	assert_int_equal(json_integer_value(json_object_get(a, "brightness")), 204);
	json_decref(a);
	n = command(&t, BASE "light/tasmota_bulb/set",
		    "{\"state\": \"ON\", \"rgb_color\": [0, 0, 255]}", "cmnd/bulb/Color2", "0,0,255");
	td_expect_after(&t, n, "cmnd/bulb/POWER", "ON");
	command(&t, BASE "light/tasmota_bulb/set", "{\"state\": \"ON\", \"color_temp_kelvin\": 4000}",
		"cmnd/bulb/CT", "250");
	command(&t, BASE "light/tasmota_bulb/set", "{\"state\": \"ON\", \"effect\": \"2\"}",
		"cmnd/bulb/Scheme", "2");
	command(&t, BASE "light/tasmota_bulb/set", "{\"state\": \"ON\", \"brightness\": 128}",
		"cmnd/bulb/Dimmer", "50");
	stop(&t);
}

/* ---- events, texts, scenes, notifications, updates, trackers, triggers --- */

static void event_text_scene_notify_and_update(void **state)
{
	(void)state;
	static struct td t;
	start(&t, HEAD
	      "  event:\n"
	      "    - name: Doorbell\n"
	      "      state_topic: home/doorbell/state\n"
	      "      event_types: [press, hold]\n"
	      "      device_class: doorbell\n"
	      "    - name: Hue dimmer\n"
	      "      state_topic: zigbee2mqtt/dimmer\n"
	      "      value_template: '{ \"event_type\": \"{{ value_json.action }}\" }'\n"
	      "      event_types: [on_press, off_press]\n"
	      "  text:\n"
	      "    - name: Remote LCD screen\n"
	      "      icon: mdi:ab-testing\n"
	      "      mode: text\n"
	      "      command_topic: txt/cmd\n"
	      "      state_topic: txt/state\n"
	      "      min: 2\n"
	      "      max: 20\n"
	      "  scene:\n"
	      "    - name: Living room reading\n"
	      "      command_topic: cmnd/living/Scene\n"
	      "      payload_on: 1\n"
	      "  notify:\n"
	      "    - name: Display\n"
	      "      command_topic: display/notify\n"
	      "      command_template: '{\"msg\": \"{{ value }}\"}'\n"
	      "  update:\n"
	      "    - name: Shelly Plug S firmware\n"
	      "      title: Shelly Plug S Firmware\n"
	      "      release_url: https://shelly-api-docs.shelly.cloud/rpc/firmware\n"
	      "      entity_picture: https://brands.home-assistant.io/_/shelly/icon.png\n"
	      "      state_topic: shellies/shellyplug-s-112233/info\n"
	      "      value_template: \"{{ value_json['update'].old_version }}\"\n"
	      "      latest_version_topic: shellies/shellyplug-s-112233/info\n"
	      "      latest_version_template: \"{{ value_json['update'].new_version }}\"\n"
	      "      command_topic: shellies/shellyplug-s-112233/command\n"
	      "      payload_install: update_fw\n");
	json_t *d = ha_discovery(&t, "event", "doorbell");
	assert_key_is(d, "state_topic", BASE "event/doorbell/attributes");
	assert_int_equal(json_array_size(json_object_get(d, "event_types")), 2);
	json_decref(d);
	long n = td_device(&t, "home/doorbell/state", "{\"event_type\": \"press\", \"duration\": 2}");
	json_t *a = expect_attr(&t, n, BASE "event/doorbell/attributes", "event_type", "\"press\"");
	assert_int_equal(json_integer_value(json_object_get(a, "duration")), 2);
	json_decref(a);
	/* the same event again is announced again */
	n = td_device(&t, "home/doorbell/state", "{\"event_type\": \"press\", \"duration\": 2}");
	td_expect_after(&t, n, BASE "event/doorbell/attributes", NULL);
	n = td_device(&t, "zigbee2mqtt/dimmer", "{\"action\": \"on_press\", \"battery\": 80}");
	a = expect_attr(&t, n, BASE "event/hue_dimmer/attributes", "event_type", "\"on_press\"");
	json_decref(a);
	td_device(&t, "zigbee2mqtt/dimmer", "{\"action\": \"brightness_move\"}");
	td_expect_log(&t, "an event type it does not have");

	d = ha_discovery(&t, "text", "remote_lcd_screen");
	assert_int_equal(json_integer_value(json_object_get(d, "max")), 20);
	json_decref(d);
	n = td_device(&t, "txt/state", "Hello");
	td_expect_after(&t, n, BASE "text/remote_lcd_screen/state", "Hello");
	command(&t, BASE "text/remote_lcd_screen/set", "World", "txt/cmd", "World");
	td_pub(&t, BASE "text/remote_lcd_screen/set", "x", false);
	td_expect_log(&t, "set_value needs a text of 2 to 20 characters");

	d = ha_discovery(&t, "scene", "living_room_reading");
	assert_null(json_object_get(d, "state_topic"));
	json_decref(d);
	command(&t, BASE "scene/living_room_reading/set", "ON", "cmnd/living/Scene", "1");

	d = ha_discovery(&t, "notify", "display");
	json_decref(d);
	command(&t, BASE "notify/display/set", "Dinner is ready", "display/notify",
		"{\"msg\": \"Dinner is ready\"}");

	d = ha_discovery(&t, "update", "shelly_plug_s_firmware");
	assert_key_is(d, "payload_install", "INSTALL");
	assert_key_is(d, "entity_picture", "https://brands.home-assistant.io/_/shelly/icon.png");
	json_decref(d);
	n = td_device(&t, "shellies/shellyplug-s-112233/info",
		      "{\"wifi_sta\":{\"connected\":true},\"update\":{\"status\":\"pending\","
		      "\"has_update\":true,\"new_version\":\"20230913-112234/v1.14.0-gcb84623\","
		      "\"old_version\":\"20230503-101129/v1.13.0-g9aed950\"}}");
	td_expect_after(&t, n, BASE "update/shelly_plug_s_firmware/state", "on");
	/* the versions come from two subscriptions of one message */
	static const char *const versions[] = {
		"latest_version", "\"20230913-112234/v1.14.0-gcb84623\"",
		"installed_version", "\"20230503-101129/v1.13.0-g9aed950\"",
		"title", "\"Shelly Plug S Firmware\"", NULL};
	a = expect_attrs(&t, n, BASE "update/shelly_plug_s_firmware/attributes", versions);
	json_decref(a);
	command(&t, BASE "update/shelly_plug_s_firmware/set", "INSTALL",
		"shellies/shellyplug-s-112233/command", "update_fw");
	stop(&t);
}

/* Presence from OpenMQTTGateway's BLE scanner and coordinates from a
 * phone; and a zigbee2mqtt remote's buttons as Home Assistant device
 * triggers, announced under the remote's device. */
static void device_trackers_and_device_triggers(void **state)
{
	(void)state;
	static struct td t;
	start(&t, HEAD
	      "  device_tracker:\n"
	      "    - name: Annetherese n4\n"
	      "      state_topic: location/annetherese\n"
	      "      payload_home: present\n"
	      "      payload_not_home: not present\n"
	      "      source_type: bluetooth\n"
	      "    - name: Tag\n"
	      "      state_topic: home/OMG_ESP32_BLE/BTtoMQTT/C7FAB8E3A1B2\n"
	      "      value_template: \"{{ 'home' if value_json.rssi > -90 else 'not_home' }}\"\n"
	      "      source_type: bluetooth_le\n"
	      "    - name: Phone\n"
	      "      json_attributes_topic: owntracks/phone\n"
	      "  device_automation:\n"
	      "    - automation_type: trigger\n"
	      "      topic: zigbee2mqtt/remote/action\n"
	      "      type: action\n"
	      "      subtype: single\n"
	      "      payload: single\n"
	      "      device:\n"
	      "        identifiers: [zigbee2mqtt_0x0017880104e45517]\n"
	      "        name: Hue remote\n"
	      "        manufacturer: Philips\n"
	      "        model: 324131092621\n");
	json_t *d = ha_discovery(&t, "device_tracker", "annetherese_n4");
	assert_key_is(d, "source_type", "bluetooth");
	json_decref(d);
	long n = td_device(&t, "location/annetherese", "present");
	td_expect_after(&t, n, BASE "device_tracker/annetherese_n4/state", "home");
	n = td_device(&t, "location/annetherese", "not present");
	td_expect_after(&t, n, BASE "device_tracker/annetherese_n4/state", "not_home");
	n = td_device(&t, "location/annetherese", "Work");
	td_expect_after(&t, n, BASE "device_tracker/annetherese_n4/state", "Work");
	n = td_device(&t, "home/OMG_ESP32_BLE/BTtoMQTT/C7FAB8E3A1B2",
		      "{\"id\":\"C7:FA:B8:E3:A1:B2\",\"rssi\":-71,\"brand\":\"GENERIC\"}");
	td_expect_after(&t, n, BASE "device_tracker/tag/state", "home");
	n = td_device(&t, "owntracks/phone",
		      "{\"_type\":\"location\",\"latitude\":52.37,\"longitude\":4.89,"
		      "\"gps_accuracy\":12,\"battery_level\":81}");
	td_expect_after(&t, n, BASE "device_tracker/phone/state", "not_home");
	json_t *a;
	{
		const char *const kv[] = {
			"latitude", "52.37",
			"source_type", "\"gps\"",
			NULL};
		a = expect_attrs(&t, n, BASE "device_tracker/phone/attributes", kv);
	}
	json_decref(a);

	/* the trigger: announced under its device, through the bridge */
	d = discovery(&t, "device_automation", "action_single");
	assert_home_assistant_keys(d, "device_automation");
	assert_key_is(d, "topic", BASE "device_automation/action_single/trigger");
	assert_key_is(d, "type", "action");
	assert_key_is(d, "subtype", "single");
	json_t *dev = json_object_get(d, "device");
	assert_string_equal(json_string_value(json_object_get(dev, "name")), "Hue remote");
	assert_string_equal(json_string_value(json_object_get(dev, "via_device")), "tm");
	assert_string_equal(json_string_value(json_array_get(json_object_get(dev, "identifiers"), 0)),
			    "zigbee2mqtt_0x0017880104e45517");
	json_decref(d);
	/* it fires each time, not retained; another payload does not */
	n = td_device(&t, "zigbee2mqtt/remote/action", "single");
	td_expect_after(&t, n, BASE "device_automation/action_single/trigger", "single");
	n = td_device(&t, "zigbee2mqtt/remote/action", "single");
	td_expect_after(&t, n, BASE "device_automation/action_single/trigger", "single");
	td_device(&t, "zigbee2mqtt/remote/action", "double");
	n = td_device(&t, "zigbee2mqtt/remote/action", "single");
	td_expect_after(&t, n, BASE "device_automation/action_single/trigger", "single");
	assert_int_equal(td_count_topic(&t, 0, BASE "device_automation/action_single/trigger", ""), 3);
	char buf[64];
	assert_null(td_retained(&t, BASE "device_automation/action_single/trigger", buf,
				     sizeof buf));
	assert_int_equal(td_count_topic(&t, 0, BASE "device_automation/action_single/state", ""), 0);
	stop(&t);
}

/* ---- devices and names ------------------------------------------------------ */

/* An entity of a device of its own is announced under it, reached through
 * the bridge, and named as Home Assistant's has_entity_name names it; one
 * of the bridge's loses the bridge's name from the front of its own, so
 * Home Assistant shows no name twice (and logs nothing of it). */
static void devices_and_names_follow_home_assistants_entity_naming(void **state)
{
	(void)state;
	static struct td t;
	start(&t, HEAD
	      "  sensor:\n"
	      "    - name: Temperature\n"
	      "      state_topic: zigbee2mqtt/weather\n"
	      "      value_template: '{{ value_json.temperature }}'\n"
	      "      unit_of_measurement: '°C'\n"
	      "      device_class: temperature\n"
	      "      unique_id: 0x00158d0001234567_temperature\n"
	      "      device: &aqara\n"
	      "        identifiers: [zigbee2mqtt_0x00158d0001234567]\n"
	      "        connections: [[zigbee, '0x00158d0001234567']]\n"
	      "        name: Balcony weather\n"
	      "        manufacturer: Aqara\n"
	      "        model: WSDCGQ11LM\n"
	      "        sw_version: '3000-0001'\n"
	      "        hw_version: 1\n"
	      "        suggested_area: Balcony\n"
	      "        configuration_url: http://z2m.local/#/device/0x00158d0001234567\n"
	      "    - name: null\n"
	      "      state_topic: zigbee2mqtt/weather\n"
	      "      value_template: '{{ value_json.pressure }}'\n"
	      "      device_class: atmospheric_pressure\n"
	      "      unit_of_measurement: hPa\n"
	      "      device: *aqara\n"
	      "    - device_class: humidity\n"
	      "      state_topic: zigbee2mqtt/weather\n"
	      "      value_template: '{{ value_json.humidity }}'\n"
	      "      unit_of_measurement: '%'\n"
	      "      device: *aqara\n"
	      "    - name: MQTT test uptime\n"
	      "      state_topic: tele/bridge/uptime\n"
	      "    - name: MQTT test\n"
	      "      state_topic: tele/bridge/name\n"
	      "  binary_sensor:\n"
	      "    - name: Occupancy\n"
	      "      state_topic: zigbee2mqtt/motion\n"
	      "      value_template: '{{ value_json.occupancy }}'\n"
	      "      payload_on: true\n"
	      "      payload_off: false\n"
	      "      device_class: occupancy\n");
	/* its own device, reached through the bridge */
	json_t *d = ha_discovery(&t, "sensor", "balcony_weather_temperature");
	assert_key_is(d, "name", "Temperature");
	json_t *dev = json_object_get(d, "device");
	assert_string_equal(json_string_value(json_array_get(json_object_get(dev, "identifiers"), 0)),
			    "zigbee2mqtt_0x00158d0001234567");
	json_t *cn = json_array_get(json_object_get(dev, "connections"), 0);
	assert_string_equal(json_string_value(json_array_get(cn, 0)), "zigbee");
	assert_string_equal(json_string_value(json_array_get(cn, 1)), "0x00158d0001234567");
	assert_key_is(dev, "name", "Balcony weather");
	assert_key_is(dev, "manufacturer", "Aqara");
	assert_key_is(dev, "model", "WSDCGQ11LM");
	assert_key_is(dev, "sw_version", "3000-0001");
	assert_key_is(dev, "hw_version", "1");
	assert_key_is(dev, "suggested_area", "Balcony");
	assert_key_is(dev, "configuration_url", "http://z2m.local/#/device/0x00158d0001234567");
	assert_key_is(dev, "via_device", "tm");
	json_decref(d);
	/* the friendly name Home Assistant shows: the device's, then its own */
	long n = td_device(&t, "zigbee2mqtt/weather",
			   "{\"battery\":91,\"humidity\":61.3,\"pressure\":1011.2,"
			   "\"temperature\":8.4,\"voltage\":2985,\"linkquality\":87}");
	td_expect_after(&t, n, BASE "sensor/balcony_weather_temperature/state", "8.4");
	/* name: null is the device's own name */
	d = ha_discovery(&t, "sensor", "balcony_weather");
	assert_true(json_is_null(json_object_get(d, "name")));
	json_decref(d);
	td_expect_after(&t, n, BASE "sensor/balcony_weather/state", "1011.2");
	/* no name: the device class's */
	d = ha_discovery(&t, "sensor", "balcony_weather_humidity");
	assert_key_is(d, "name", "Humidity");
	json_decref(d);
	td_expect_after(&t, n, BASE "sensor/balcony_weather_humidity/state", "61.3");

	/* the bridge's own: its name once */
	d = ha_discovery(&t, "sensor", "mqtt_test_uptime");
	assert_key_is(d, "name", "Uptime");
	json_decref(d);
	d = ha_discovery(&t, "sensor", "mqtt_test");
	assert_true(json_is_null(json_object_get(d, "name")));
	json_decref(d);
	d = ha_discovery(&t, "sensor", "tm_bridge");
	assert_key_is(d, "name", "Bridge");
	assert_key_is(d, "entity_category", "diagnostic");
	json_decref(d);

	/* payload_on: true is "True", as zigbee2mqtt's configurations use it
	 * with a template rendering Python's True */
	n = td_device(&t, "zigbee2mqtt/motion", "{\"occupancy\":true,\"illuminance\":12}");
	td_expect_after(&t, n, BASE "binary_sensor/occupancy/state", "on");
	n = td_device(&t, "zigbee2mqtt/motion", "{\"occupancy\":false,\"illuminance\":12}");
	td_expect_after(&t, n, BASE "binary_sensor/occupancy/state", "off");
	stop(&t);
}

/* What Home Assistant refuses of an MQTT entity is refused at load, where
 * it is written. */
static void what_home_assistant_refuses_is_an_error_at_its_place(void **state)
{
	(void)state;
	static struct td t;
	begin(&t);
	td_write_config(&t, HEAD
			"  sensor:\n"
			"    - name: Power\n"
			"      state_topic: tele/plug/SENSOR\n"
			"      device_class: power\n"
			"      unit_of_measurement: kWh\n"
			"    - name: Temp\n"
			"      state_topic: a/b\n"
			"      device_class: temprature\n"
			"      icon: thermometer\n"
			"      entity_category: config\n"
			"  climate:\n"
			"    - name: Hvac\n"
			"      modes: [off, heat]\n"
			"  light:\n"
			"    - name: L\n"
			"      command_topic: l/set\n"
			"      rgb_command_topic: l/rgb\n"
			"      command_on_template: x\n"
			"  sensor 2:\n"
			"    - name: D\n"
			"      state_topic: d\n"
			"      device: {name: No ids}\n"
			"  camera:\n"
			"    - name: Cam\n"
			"      topic: cam/x\n");
	char out[8192];
	int rc = td_run(&t, out, sizeof out, "-C", NULL);
	if (rc != 78)
		fail_msg("exit %d: %s", rc, out);
	static const char *const want[] = {
		"mqbridge.yaml:11:28: mqtt.sensor[0].unit_of_measurement: the unit of measurement "
		"'kWh' is not valid together with device class 'power'",
		"mqbridge.yaml:14:21: mqtt.sensor[1].device_class: 'temprature' is not a sensor "
		"device class",
		"mqtt.climate[0].modes: 'False' is not a mode Home Assistant knows (quote \"off\"",
		"mqtt.light[0].command_on_template: belongs to the template light schema, not basic",
		"mqtt.camera[0]: MQTT cameras and images carry pictures",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(out, want[i]))
			fail_msg("missing '%s' in:\n%s", want[i], out);
	end(&t);
	/* each separately: the first error of an entity hides no other one's */
	begin(&t);
	td_write_config(&t, HEAD
			"  sensor:\n"
			"    - {name: Temp, state_topic: a/b, icon: thermometer}\n"
			"    - {name: T2, state_topic: a/b, entity_category: config}\n"
			"    - {name: D, state_topic: d, device: {name: No ids}}\n");
	rc = td_run(&t, out, sizeof out, "-C", NULL);
	if (rc != 78)
		fail_msg("exit %d: %s", rc, out);
	static const char *const want2[] = {
		"mqtt.sensor[0].icon: icons are written prefix:name",
		"mqtt.sensor[1].entity_category: a sensor cannot have the entity category config",
		"mqtt.sensor[2].device: a device needs identifiers or connections",
	};
	for (size_t i = 0; i < sizeof want2 / sizeof want2[0]; i++)
		if (!strstr(out, want2[i]))
			fail_msg("missing '%s' in:\n%s", want2[i], out);
	end(&t);
}

/* ---- configuration errors ---------------------------------------------- */

static void configuration_errors_name_file_line_and_column(void **state)
{
	(void)state;
	static struct td t; /* static: teardown may stop it after a failure */
	begin(&t);
	td_write_config(&t, HEAD
			"  sensor:\n"
			"    - name: Bad qos\n"
			"      state_topic: a/b\n"
			"      qos: 3\n"
			"    - name: Bad topic\n"
			"      state_topic: a/#/b\n"
			"    - name: Bad template\n"
			"      state_topic: a/c\n"
			"      value_template: '{{ value_json.x | nosuchfilter }}'\n"
			"  switch:\n"
			"    - name: No command\n"
			"      state_topic: s/state\n"
			"    - name: Wildcard command\n"
			"      command_topic: s/+/set\n"
			"      availability_topic: s/lwt\n"
			"      availability: [{topic: s/lwt2}]\n"
			"  number:\n"
			"    - {name: N, command_topic: n/set, min: 10, max: 1}\n"
			"  light:\n"
			"    - {name: L, schema: json, command_topic: l/set, supported_color_modes: [onoff, rgb]}\n"
			"  cover:\n"
			"    - {name: C, payload_open: [1], availability_mode: most}\n"
			"  select:\n"
			"    - {name: S, command_topic: s/set}\n");
	char out[8192];
	int rc = td_run(&t, out, sizeof out, "-C", NULL);
	if (rc != 78)
		fail_msg("exit %d: %s", rc, out);
	static const char *const want[] = {
		"mqbridge.yaml:10:12: mqtt.sensor[0].qos: must be between 0 and 2, got 3",
		"mqbridge.yaml:12:20: mqtt.sensor[1].state_topic: expected an MQTT topic filter",
		"mqbridge.yaml:15:42: mqtt.sensor[2].value_template: invalid template:",
		"mqbridge.yaml:17:7: mqtt.switch[0]: required option 'command_topic' is missing",
		"mqbridge.yaml:20:22: mqtt.switch[1].command_topic: expected an MQTT topic name",
		"mqbridge.yaml:24:53: mqtt.number[0].max: max must be greater than min",
		("mqbridge.yaml:26:76: mqtt.light[0].supported_color_modes: onoff must be the only "
		 "colour mode"),
		"mqbridge.yaml:28:55: mqtt.cover[0].availability_mode: must be one of: latest,",
		"mqbridge.yaml:30:7: mqtt.select[0]: required option 'options' is missing",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(out, want[i]))
			fail_msg("missing '%s' in:\n%s", want[i], out);
	/* what the schema rejected is not checked further; fixed, it is */
	td_write_config(&t, HEAD
			"  switch:\n"
			"    - name: Both\n"
			"      command_topic: s/set\n"
			"      availability_topic: s/lwt\n"
			"      availability: [{topic: s/lwt2}]\n"
			"  cover:\n"
			"    - {name: C, payload_open: [1]}\n"
			"  sensor:\n"
			"    - {name: P, state_topic: p, suggested_display_precision: 16}\n");
	rc = td_run(&t, out, sizeof out, "-C", NULL);
	assert_int_equal(rc, 78);
	static const char *const want2[] = {
		"mqbridge.yaml:11:21: mqtt.switch[0].availability: use either availability_topic",
		"mqbridge.yaml:13:31: mqtt.cover[0].payload_open: expected a string or null",
		"mqbridge.yaml:15:62: mqtt.sensor[0].suggested_display_precision: expected an",
	};
	for (size_t i = 0; i < sizeof want2 / sizeof want2[0]; i++)
		if (!strstr(out, want2[i]))
			fail_msg("missing '%s' in:\n%s", want2[i], out);
	/* and a good file says so */
	td_write_config(&t, HEAD
			"  sensor:\n"
			"    - name: Fine\n"
			"      state_topic: tele/x/SENSOR\n"
			"      value_template: '{{ value_json.ENERGY.Power }}'\n"
			"      expire_after: 120\n"
			"      availability:\n"
			"        - topic: tele/x/LWT\n"
			"          payload_available: Online\n"
			"          payload_not_available: Offline\n"
			"      device: {identifiers: [x], name: X, manufacturer: Tasmota}\n");
	rc = td_run(&t, out, sizeof out, "-C", NULL);
	if (rc != 0)
		fail_msg("exit %d: %s", rc, out);
	end(&t);
}

/* ---- many entities ----------------------------------------------------- */

/* Read a /proc/<pid>/status field in kB. */
static long proc_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	long v = -1;
	size_t n = strlen(field);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* How many of s0..s<n-1> have a message on prefix<i>suffix, from index
 * since on, other than skip (NULL: any payload). */
static size_t distinct(struct td *t, long since, const char *prefix, const char *suffix,
		       const char *skip, size_t n)
{
	unsigned char *seen = calloc(n, 1);
	assert_non_null(seen);
	size_t lp = strlen(prefix), count = 0;
	pthread_mutex_lock(t->lock);
	for (size_t i = (size_t)since; i < t->nmsgs; i++) {
		const char *tp = t->msgs[i].topic;
		if (strncmp(tp, prefix, lp) != 0)
			continue;
		char *end;
		unsigned long k = strtoul(tp + lp, &end, 10);
		if (end == tp + lp || strcmp(end, suffix) != 0 || k >= n || seen[k])
			continue;
		if (skip && strcmp(t->msgs[i].payload, skip) == 0)
			continue;
		seen[k] = 1;
		count++;
	}
	pthread_mutex_unlock(t->lock);
	free(seen);
	return count;
}

/* Wait (bounded) until distinct(...) reaches n; returns what it reached. */
static size_t wait_distinct(struct td *t, long since, const char *prefix, const char *suffix,
			    const char *skip, size_t n)
{
	size_t got = 0;
	for (double end = tu_now() + 6 * TU_TIMEOUT;;) {
		got = distinct(t, since, prefix, suffix, skip, n);
		if (got >= n || tu_now() > end)
			return got;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* n sensors: all discovered, all with a state, then all fed a value. */
static void many(size_t n)
{
	static struct td t; /* static: teardown may stop it after a failure */
	size_t len = 512 + n * 96;
	char *yaml = malloc(len);
	assert_non_null(yaml);
	size_t off = (size_t)snprintf(yaml, len, "%s", HEAD "  sensor:\n");
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(yaml + off, len - off,
					"    - {name: s%zu, state_topic: tele/d%zu/S, "
					"value_template: '{{ value_json.v }}'}\n",
					i, i);
	begin(&t);
	td_write_config(&t, yaml);
	free(yaml);
	double t0 = tu_now();
	td_start(&t, NULL);
	char topic[128];
	snprintf(topic, sizeof topic, BASE "sensor/s%zu/state", n - 1);
	if (td_wait(&t, topic, "unknown", 12 * TU_TIMEOUT) < 0) {
		td_dump(&t);
		fail_msg("the last of %zu sensors never arrived", n);
	}
	double started = tu_now() - t0;
	/* every discovery config and every state topic */
	assert_int_equal(wait_distinct(&t, 0, "homeassistant/sensor/tm/s", "/config", NULL, n), n);
	assert_int_equal(wait_distinct(&t, 0, BASE "sensor/s", "/state", NULL, n), n);
	double all = tu_now() - t0;
	long rss = proc_kb(t.pid, "VmRSS"), hwm = proc_kb(t.pid, "VmHWM");
	/* and they all listen: a value to each */
	long mark = td_count(&t);
	for (size_t i = 0; i < n; i++) {
		char tp[64], p[64];
		snprintf(tp, sizeof tp, "tele/d%zu/S", i);
		snprintf(p, sizeof p, "{\"v\":%zu}", i + 1);
		td_pub(&t, tp, p, false);
	}
	double fed = tu_now();
	assert_int_equal(wait_distinct(&t, mark, BASE "sensor/s", "/state", "unknown", n), n);
	double fed_all = tu_now() - fed;
	long rss2 = proc_kb(t.pid, "VmRSS");
	fprintf(stderr,
		"# %zu mqtt sensors: last state out %.2f s and every discovery and state %.2f s "
		"after start; RSS %ld kB (peak %ld kB); a value to each handled in %.2f s, "
		"RSS then %ld kB\n",
		n, started, all, rss, hwm, fed_all, rss2);
	stop(&t);
}

static void a_thousand_sensors_are_all_discovered(void **state)
{
	(void)state;
	many(1000);
}

static void ten_thousand_sensors_load(void **state)
{
	(void)state;
	many(10000);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(availability_follows_home_assistants_modes),
		cmocka_unit_test(numbers_read_and_print_as_home_assistant_does),
		cmocka_unit_test(brightness_scales_both_ways_and_never_rounds_to_zero),
		cmocka_unit_test(positions_map_between_device_range_and_percent),
		cmocka_unit_test(json_attributes_must_be_an_object_without_blocked_keys),
		cmocka_unit_test(strip_and_payload_matching),
		cmocka_unit_test(colours_convert_as_home_assistants_color_util_does),
		cmocka_unit_test(json_commands_print_floats_as_python_does),
		cmocka_unit_test_teardown(tasmota_sensor_json_value_and_attributes, teardown),
		cmocka_unit_test_teardown(plain_numbers_round_as_jinja_does, teardown),
		cmocka_unit_test_teardown(value_templates_read_entity_id_and_name_when_they_name_them,
					  teardown),
		cmocka_unit_test_teardown(tasmota_lwt_availability, teardown),
		cmocka_unit_test_teardown(expire_after_makes_a_silent_sensor_unavailable, teardown),
		cmocka_unit_test_teardown(binary_sensor_payload_on_1_and_off_delay, teardown),
		cmocka_unit_test_teardown(switch_state_and_commands_reach_the_device, teardown),
		cmocka_unit_test_teardown(light_brightness_scales_and_orders_commands, teardown),
		cmocka_unit_test_teardown(cover_states_positions_and_commands, teardown),
		cmocka_unit_test_teardown(cover_tilt_reads_scales_and_commands, teardown),
		cmocka_unit_test_teardown(button_number_and_select, teardown),
		cmocka_unit_test_teardown(climate_from_a_zigbee_valve_and_an_optimistic_ac, teardown),
		cmocka_unit_test_teardown(
			water_heater_humidifier_and_fan_as_home_assistants_docs_write_them, teardown),
		cmocka_unit_test_teardown(lock_siren_and_alarm_panel, teardown),
		cmocka_unit_test_teardown(valve_vacuum_and_lawn_mower, teardown),
		cmocka_unit_test_teardown(lights_in_the_json_template_and_basic_schemas, teardown),
		cmocka_unit_test_teardown(event_text_scene_notify_and_update, teardown),
		cmocka_unit_test_teardown(device_trackers_and_device_triggers, teardown),
		cmocka_unit_test_teardown(devices_and_names_follow_home_assistants_entity_naming,
					  teardown),
		cmocka_unit_test_teardown(what_home_assistant_refuses_is_an_error_at_its_place,
					  teardown),
		cmocka_unit_test_teardown(bad_payloads_and_template_output_keep_the_old_state, teardown),
		cmocka_unit_test_teardown(configuration_errors_name_file_line_and_column, teardown),
		cmocka_unit_test_teardown(a_thousand_sensors_are_all_discovered, teardown),
		cmocka_unit_test_teardown(ten_thousand_sensors_load, teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
