/* SPDX-License-Identifier: MIT */
/* The helpers end to end: the real daemon with every helper, against a
 * real mosquitto. Each is announced to Home Assistant's MQTT discovery as
 * its component (checked key by key against what Home Assistant's MQTT
 * platform of that component takes) and commanded through its /set topic;
 * a restart brings the values back; a SIGKILL brings back what was last
 * written, not what came after; a cut or corrupt state file never keeps
 * the daemon from starting. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "daemon.h"
#include "testutil.h"

#define HEAD \
	"mqbridge: {node_id: th, state_dir: %DIR%/state}\n" \
	"mqtt: {broker: 127.0.0.1, port: %PORT%, reconnect_min: 0.1, reconnect_max: 0.5}\n" \
	"mqtt_statestream: {base_topic: hs}\n"
#define BASE "mqbridge/th/"

#define HELPERS \
	"input_boolean:\n" \
	"  porch: {name: Porch}\n" \
	"input_number:\n" \
	"  level: {name: Level, min: 0, max: 50, step: 0.5, mode: box, " \
	"unit_of_measurement: cm}\n" \
	"input_select:\n" \
	"  mode: {name: Mode, options: [home, away, night]}\n" \
	"input_text:\n" \
	"  note: {name: Note, max: 20, pattern: '[a-z ]*'}\n" \
	"input_button:\n" \
	"  bell: {name: Bell}\n" \
	"counter:\n" \
	"  visits: {name: Visits, step: 2}\n" \
	"timer:\n" \
	"  egg: {name: Egg, duration: 1}\n" \
	"input_datetime:\n" \
	"  alarm: {name: Alarm, has_time: true}\n"

static struct td T;
static bool T_live;

static int teardown(void **state)
{
	(void)state;
	if (T_live)
		td_fini(&T);
	T_live = false;
	return 0;
}

static void start(const char *yaml)
{
	if (!T_live)
		td_init(&T, NULL);
	T_live = true;
	td_write_config(&T, yaml);
	td_start(&T, NULL);
}

static json_t *discovery(const char *component, const char *object_id)
{
	char topic[256];
	snprintf(topic, sizeof topic, "homeassistant/%s/th/%s/config", component, object_id);
	td_expect(&T, topic, NULL);
	json_error_t e;
	json_t *j = json_loads(td_last(&T, topic), 0, &e);
	if (!j)
		fail_msg("%s: %s", topic, e.text);
	return j;
}

/* key's value as compact JSON ("" when absent). */
static void assert_key(const json_t *d, const char *key, const char *want)
{
	json_t *v = json_object_get(d, key);
	char *got = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	if (strcmp(got ? got : "", want) != 0)
		fail_msg("discovery key %s: want %s, got %s", key, want, got ? got : "(absent)");
	free(got);
}

/* What the bridge adds to every helper: shown as component, named by its
 * domain and object id. */
static void assert_common(const json_t *d, const char *domain, const char *id, const char *name,
			  bool commanded, bool stateless)
{
	char buf[256];
	snprintf(buf, sizeof buf, "\"%s\"", name);
	assert_key(d, "name", buf);
	snprintf(buf, sizeof buf, "\"th_%s_%s\"", domain, id);
	assert_key(d, "unique_id", buf);
	snprintf(buf, sizeof buf, "\"%s_%s\"", domain, id);
	assert_key(d, "object_id", buf);
	snprintf(buf, sizeof buf, "\"" BASE "%s/%s/state\"", domain, id);
	assert_key(d, "state_topic", stateless ? "" : buf);
	snprintf(buf, sizeof buf, "\"" BASE "%s/%s/set\"", domain, id);
	assert_key(d, "command_topic", commanded ? buf : "");
	snprintf(buf, sizeof buf, "\"" BASE "%s/%s/attributes\"", domain, id);
	assert_key(d, "json_attributes_topic", buf);
	assert_key(d, "availability_mode", "\"all\"");
}

/* The set topic is in the broker's subscriptions (a /set before would be
 * lost). */
static void wait_subscribed(const char *domain, const char *id)
{
	char needle[256];
	snprintf(needle, sizeof needle, "mqbridge-th 0 " BASE "%s/%s/set", domain, id);
	if (!tu_broker_log_wait(&T.broker, needle, 1, TU_TIMEOUT)) {
		td_dump(&T);
		fail_msg("never subscribed: %s", needle);
	}
}

static void set(const char *domain, const char *id, const char *payload)
{
	char topic[256];
	wait_subscribed(domain, id);
	snprintf(topic, sizeof topic, BASE "%s/%s/set", domain, id);
	td_pub(&T, topic, payload, false);
}

static long expect_state(const char *domain, const char *id, const char *state)
{
	char topic[256];
	snprintf(topic, sizeof topic, BASE "%s/%s/state", domain, id);
	return td_expect(&T, topic, state);
}

/* DESIGN §10: each helper as the component Home Assistant has, its keys
 * as Home Assistant's MQTT switch, number, select, text, button and
 * sensor take them, and /set turned into the helper's service. */
static void each_helper_is_discovered_as_its_component_and_set_over_mqtt(void **state)
{
	(void)state;
	start(HEAD HELPERS);

	json_t *d = discovery("switch", "input_boolean_porch");
	assert_common(d, "input_boolean", "porch", "Porch", true, false);
	assert_key(d, "state_on", "\"on\"");
	assert_key(d, "state_off", "\"off\"");
	assert_key(d, "payload_on", "\"ON\"");
	assert_key(d, "payload_off", "\"OFF\"");
	json_decref(d);
	expect_state("input_boolean", "porch", "off");
	set("input_boolean", "porch", "ON");
	expect_state("input_boolean", "porch", "on");

	d = discovery("number", "input_number_level");
	assert_common(d, "input_number", "level", "Level", true, false);
	assert_key(d, "min", "0.0");
	assert_key(d, "max", "50.0");
	assert_key(d, "step", "0.5");
	assert_key(d, "mode", "\"box\"");
	assert_key(d, "unit_of_measurement", "\"cm\"");
	json_decref(d);
	expect_state("input_number", "level", "0.0");
	set("input_number", "level", "12.5");
	expect_state("input_number", "level", "12.5");
	set("input_number", "level", "99");
	td_expect_log(&T, "Invalid value for input_number.level: 99.0 (range 0.0 - 50.0)");

	d = discovery("select", "input_select_mode");
	assert_common(d, "input_select", "mode", "Mode", true, false);
	assert_key(d, "options", "[\"home\",\"away\",\"night\"]");
	json_decref(d);
	expect_state("input_select", "mode", "home");
	set("input_select", "mode", "night");
	expect_state("input_select", "mode", "night");

	d = discovery("text", "input_text_note");
	assert_common(d, "input_text", "note", "Note", true, false);
	assert_key(d, "min", "0");
	assert_key(d, "max", "20");
	assert_key(d, "mode", "\"text\"");
	assert_key(d, "pattern", "\"[a-z ]*\"");
	json_decref(d);
	expect_state("input_text", "note", "unknown");
	set("input_text", "note", "milk and eggs");
	expect_state("input_text", "note", "milk and eggs");

	d = discovery("button", "input_button_bell");
	assert_common(d, "input_button", "bell", "Bell", true, true);
	assert_key(d, "payload_press", "\"PRESS\"");
	json_decref(d);
	long before = td_count(&T);
	set("input_button", "bell", "PRESS");
	/* a button has no state topic: its state shows in the statestream */
	td_expect_after(&T, before, "hs/input_button/bell/state", NULL);

	d = discovery("sensor", "counter_visits");
	assert_common(d, "counter", "visits", "Visits", false, false);
	json_decref(d);
	expect_state("counter", "visits", "0");
	set("counter", "visits", "INCREMENT");
	expect_state("counter", "visits", "2");

	d = discovery("sensor", "input_datetime_alarm");
	assert_common(d, "input_datetime", "alarm", "Alarm", false, false);
	json_decref(d);
	set("input_datetime", "alarm", "07:30");
	expect_state("input_datetime", "alarm", "07:30:00");

	d = discovery("sensor", "timer_egg");
	assert_common(d, "timer", "egg", "Egg", false, false);
	json_decref(d);
	expect_state("timer", "egg", "idle");
	before = td_count(&T);
	set("timer", "egg", "START");
	td_expect_after(&T, before, BASE "timer/egg/state", "active");
	/* a one-second timer on the wall clock: idle again, within bounds */
	td_expect_after(&T, before, BASE "timer/egg/state", "idle");
	td_stop_clean(&T);
}

/* The values come back after a restart (the write at stop). */
static void a_restart_restores_every_helper(void **state)
{
	(void)state;
	start(HEAD HELPERS);
	set("input_boolean", "porch", "ON");
	set("input_number", "level", "7");
	set("input_select", "mode", "away");
	set("input_text", "note", "hello");
	set("counter", "visits", "INCREMENT");
	set("input_datetime", "alarm", "06:45:10");
	expect_state("input_boolean", "porch", "on");
	expect_state("input_number", "level", "7.0");
	expect_state("input_select", "mode", "away");
	expect_state("input_text", "note", "hello");
	expect_state("counter", "visits", "2");
	expect_state("input_datetime", "alarm", "06:45:10");
	td_stop_clean(&T);
	long before = td_count(&T);
	td_start(&T, NULL);
	td_expect_after(&T, before, BASE "input_boolean/porch/state", "on");
	td_expect_after(&T, before, BASE "input_number/level/state", "7.0");
	td_expect_after(&T, before, BASE "input_select/mode/state", "away");
	td_expect_after(&T, before, BASE "input_text/note/state", "hello");
	td_expect_after(&T, before, BASE "counter/visits/state", "2");
	td_expect_after(&T, before, BASE "input_datetime/alarm/state", "06:45:10");
	td_stop_clean(&T);
}

/* SIGKILL between writes: the next start has what the last write held
 * (the one when the daemon had started), not what came after it. */
static void after_sigkill_what_was_last_written_comes_back(void **state)
{
	(void)state;
	const char *yaml = HEAD "input_number:\n  level: {min: 0, max: 50}\n";
	start(yaml);
	set("input_number", "level", "10");
	expect_state("input_number", "level", "10.0");
	td_stop_clean(&T);

	int writes = td_log_count(&T, "restore_state.json written");
	long before = td_count(&T);
	td_start(&T, NULL);
	td_expect_after(&T, before, BASE "input_number/level/state", "10.0");
	/* the write the daemon makes once it has started */
	for (double end = tu_now() + TU_TIMEOUT;
	     td_log_count(&T, "restore_state.json written") == writes && tu_now() < end;)
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	assert_true(td_log_count(&T, "restore_state.json written") > writes);
	set("input_number", "level", "20");
	expect_state("input_number", "level", "20.0");
	td_kill(&T);

	before = td_count(&T);
	td_start(&T, NULL);
	td_expect_after(&T, before, BASE "input_number/level/state", "10.0");
	td_stop_clean(&T);
}

/* The state file cut short (at its start, in its middle, one byte before
 * its end) or corrupt: the daemon starts all the same, with the helper's
 * default, and logs why. (t/test_restore cuts it at every byte.) */
static void a_cut_or_corrupt_state_file_never_stops_the_start(void **state)
{
	(void)state;
	const char *yaml = HEAD "input_select:\n  mode: {options: [home, away, night]}\n";
	start(yaml);
	set("input_select", "mode", "night");
	expect_state("input_select", "mode", "night");
	td_stop_clean(&T);
	char path[256];
	snprintf(path, sizeof path, "%s/state/restore_state.json", T.dir);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char whole[8192];
	size_t len = fread(whole, 1, sizeof whole, f);
	fclose(f);
	assert_true(len > 100 && len < sizeof whole);
	size_t cuts[] = {0, len / 2, len - 1, len};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(whole, 1, cuts[i], f), cuts[i]);
		fclose(f);
		long before = td_count(&T);
		td_start(&T, NULL);
		td_expect_after(&T, before, BASE "input_select/mode/state",
				cuts[i] == len ? "night" : "home");
		td_stop_clean(&T);
	}
	f = fopen(path, "wb");
	fputs("\x89PNG\r\n\x1a\n", f);
	fclose(f);
	long before = td_count(&T);
	td_start(&T, NULL);
	td_expect_after(&T, before, BASE "input_select/mode/state", "home");
	td_expect_log(&T, "is corrupt");
	td_stop_clean(&T);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(each_helper_is_discovered_as_its_component_and_set_over_mqtt,
				  teardown),
	cmocka_unit_test_teardown(a_restart_restores_every_helper, teardown),
	cmocka_unit_test_teardown(after_sigkill_what_was_last_written_comes_back, teardown),
	cmocka_unit_test_teardown(a_cut_or_corrupt_state_file_never_stops_the_start, teardown),
};

TU_MAIN(tests)
