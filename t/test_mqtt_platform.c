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

/* The message last seen on topic was sent with the retain flag: a fresh
 * client's subscription gets it back from the broker. The broker queues a
 * subscription's retained messages before it reads our next publish, so
 * the probe coming back means every retained message has arrived. */
struct retained {
	pthread_mutex_t m;
	const char *topic, *probe;
	char payload[256];
	bool got, probed;
	int subacks;
};

static void ret_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	(void)m;
	struct retained *r = ud;
	pthread_mutex_lock(&r->m);
	if (strcmp(msg->topic, r->probe) == 0) {
		r->probed = true;
	} else if (strcmp(msg->topic, r->topic) == 0 && msg->retain) {
		snprintf(r->payload, sizeof r->payload, "%.*s", msg->payloadlen,
			 (const char *)msg->payload);
		r->got = true;
	}
	pthread_mutex_unlock(&r->m);
}

static void ret_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *q)
{
	(void)m, (void)mid, (void)n, (void)q;
	struct retained *r = ud;
	pthread_mutex_lock(&r->m);
	r->subacks++;
	pthread_mutex_unlock(&r->m);
}

static bool ret_wait(struct retained *r, bool *flag, int subacks)
{
	for (double end = tu_now() + TU_TIMEOUT; tu_now() < end;) {
		pthread_mutex_lock(&r->m);
		bool ok = flag ? *flag : r->subacks >= subacks;
		pthread_mutex_unlock(&r->m);
		if (ok)
			return true;
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return false;
}

/* The retained payload on topic, or NULL when nothing is retained there. */
static const char *retained_payload(struct td *t, const char *topic, char *out, size_t outlen)
{
	struct retained r = {.topic = topic, .probe = "tm-test/probe"};
	pthread_mutex_init(&r.m, NULL);
	struct mosquitto *m = mosquitto_new(NULL, true, &r);
	assert_non_null(m);
	mosquitto_message_callback_set(m, ret_on_message);
	mosquitto_subscribe_callback_set(m, ret_on_subscribe);
	assert_int_equal(mosquitto_connect(m, "127.0.0.1", t->broker.port, 30), MOSQ_ERR_SUCCESS);
	assert_int_equal(mosquitto_loop_start(m), MOSQ_ERR_SUCCESS);
	assert_int_equal(mosquitto_subscribe(m, NULL, r.probe, 0), MOSQ_ERR_SUCCESS);
	assert_true(ret_wait(&r, NULL, 1));
	assert_int_equal(mosquitto_subscribe(m, NULL, topic, 0), MOSQ_ERR_SUCCESS);
	assert_true(ret_wait(&r, NULL, 2));
	assert_int_equal(mosquitto_publish(m, NULL, r.probe, 1, "p", 0, false), MOSQ_ERR_SUCCESS);
	assert_true(ret_wait(&r, &r.probed, 0));
	mosquitto_disconnect(m);
	mosquitto_loop_stop(m, false); /* not forced: a cancelled thread may hold locks */
	mosquitto_destroy(m);
	pthread_mutex_destroy(&r.m);
	if (!r.got)
		return NULL;
	snprintf(out, outlen, "%s", r.payload);
	return out;
}

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
	td_expect_after(&t, n, BASE "sensor/plug_power/attributes", NULL);
	json_t *a = json_loads(td_last(&t, BASE "sensor/plug_power/attributes"), 0, NULL);
	assert_non_null(a);
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
	td_expect_after(&t, n, BASE "sensor/living_humidity/attributes", NULL);
	a = json_loads(td_last(&t, BASE "sensor/living_humidity/attributes"), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(a, "TempUnit")), "C");
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
	json_t *d = discovery(&t, "binary_sensor", "smoke");
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
	json_t *d = discovery(&t, "switch", "compressor_valve");
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
	assert_null(retained_payload(&t, "cmnd/i3/valve/POWER", buf, sizeof buf));
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
	assert_non_null(retained_payload(&t, "heater/set", buf, sizeof buf));
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
	td_expect_after(&t, n, BASE "light/desk_lamp/attributes", NULL);
	json_t *a = json_loads(td_last(&t, BASE "light/desk_lamp/attributes"), 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(a, "brightness")), 128);
	assert_string_equal(json_string_value(json_object_get(a, "color_mode")), "brightness");
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
	json_t *d = discovery(&t, "cover", "front_gate");
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
	json_t *d = discovery(&t, "number", "target_temperature");
	assert_true(json_number_value(json_object_get(d, "min")) == 5);
	assert_true(json_number_value(json_object_get(d, "max")) == 30);
	assert_true(json_number_value(json_object_get(d, "step")) == 0.5);
	assert_string_equal(json_string_value(json_object_get(d, "mode")), "box");
	json_decref(d);
	d = discovery(&t, "select", "vacuum_preset");
	json_t *o = json_object_get(d, "options");
	assert_int_equal(json_array_size(o), 3);
	assert_string_equal(json_string_value(json_array_get(o, 2)), "max");
	json_decref(d);
	d = discovery(&t, "button", "restart_plug");
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
		"mqbridge.yaml:26:76: mqtt.light[0].supported_color_modes: onoff must be the only colour "
		"mode",
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
		cmocka_unit_test_teardown(tasmota_sensor_json_value_and_attributes, teardown),
		cmocka_unit_test_teardown(plain_numbers_round_as_jinja_does, teardown),
		cmocka_unit_test_teardown(tasmota_lwt_availability, teardown),
		cmocka_unit_test_teardown(expire_after_makes_a_silent_sensor_unavailable, teardown),
		cmocka_unit_test_teardown(binary_sensor_payload_on_1_and_off_delay, teardown),
		cmocka_unit_test_teardown(switch_state_and_commands_reach_the_device, teardown),
		cmocka_unit_test_teardown(light_brightness_scales_and_orders_commands, teardown),
		cmocka_unit_test_teardown(cover_states_positions_and_commands, teardown),
		cmocka_unit_test_teardown(button_number_and_select, teardown),
		cmocka_unit_test_teardown(bad_payloads_and_template_output_keep_the_old_state, teardown),
		cmocka_unit_test_teardown(configuration_errors_name_file_line_and_column, teardown),
		cmocka_unit_test_teardown(a_thousand_sensors_are_all_discovered, teardown),
		cmocka_unit_test_teardown(ten_thousand_sensors_load, teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
