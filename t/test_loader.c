/* SPDX-License-Identifier: MIT */
/* The integration loader's components end to end: a module's own
 * top-level block (t/platforms/testcomp.c, built as `testcomp`, a mapping
 * of ids, and `testlist`, a list) gathered from the main file, labelled
 * keys and packages, checked with errors at file:line:column, set up
 * before mqbridge_start fires, its entities seen over MQTT; and what
 * homeassistant: gives the core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "testutil.h"

#define HEAD \
	"mqbridge: {node_id: tl, name: Test loader}\n" \
	"mqtt: {broker: 127.0.0.1, port: %PORT%, reconnect_min: 0.1, reconnect_max: 0.5}\n"
#define BASE "mqbridge/tl/"

static char tdir[512];
static struct td T;
static int teardown(void **state)
{
	(void)state;
	td_fini(&T);
	return 0;
}

/* Home Assistant sets every integration up, then fires
 * homeassistant_start (bootstrap.py): each entry of both blocks is an
 * entity before mqbridge_start, and each saw it fire. Labelled keys
 * ("testcomp extra:") and packages add their entries, in file order. */
static void component_blocks_are_gathered_and_set_up_before_the_start(void **state)
{
	(void)state;
	td_init(&T, NULL);
	td_write_config(&T, "mqbridge:\n"
			    "  node_id: tl\n"
			    "  packages:\n"
			    "    garage:\n"
			    "      testcomp: {c: {state: packaged}}\n"
			    "      testlist: [{state: third}]\n"
			    "mqtt: {broker: 127.0.0.1, port: %PORT%, reconnect_min: 0.1, reconnect_max: 0.5}\n"
			    "testcomp:\n"
			    "  a: {state: first}\n"
			    "testcomp extra:\n"
			    "  b: {state: second}\n"
			    "testlist:\n"
			    "  - state: one\n"
			    "testlist more:\n"
			    "  state: two\n");
	td_start(&T, "-P", tdir, NULL);
	td_expect(&T, BASE "sensor/testcomp_a/state", "first+started");
	td_expect(&T, BASE "sensor/testcomp_b/state", "second+started");
	td_expect(&T, BASE "sensor/testcomp_c/state", "packaged+started");
	/* a list's entries have no ids: the slug of "testlist item" clashes */
	td_expect(&T, BASE "sensor/testlist_item/state", "one+started");
	td_expect(&T, BASE "sensor/testlist_item_2/state", "two+started");
	td_expect(&T, BASE "sensor/testlist_item_3/state", "third+started");
	td_stop_clean(&T);
	td_fini(&T);
}

/* What the module's check() finds is an error at its place, with the
 * path of the block it was found in; a key no module claims is an
 * unknown integration. */
static void component_errors_point_at_their_place(void **state)
{
	(void)state;
	td_init(&T, NULL);
	td_write_config(&T, HEAD
			"testcomp:\n"
			"  a: {stat: typo}\n"
			"testcomp more:\n"
			"  - 1\n"
			"testlist:\n"
			"  - state: fine\n"
			"  - {}\n"
			"nosuchthing:\n"
			"  x: 1\n");
	char err[4096];
	int rc = td_run(&T, err, sizeof err, "-C", "-P", tdir, NULL);
	fprintf(stderr, "%s", err);
	assert_int_equal(rc, 78);
	assert_non_null(strstr(err, "mqbridge.yaml:4:6: testcomp.a: required key 'state' not "
				    "provided"));
	assert_non_null(strstr(err, "mqbridge.yaml:6:3: testcomp more: expected a mapping, got a "
				    "sequence"));
	assert_non_null(strstr(err, "mqbridge.yaml:9:5: testlist[1]: required key 'state' not "
				    "provided"));
	assert_non_null(strstr(err, "mqbridge.yaml:10:1: nosuchthing: unknown integration "
				    "'nosuchthing'"));
	td_fini(&T);
}

/* homeassistant: gives the core its location and time zone, and its
 * customize, customize_domain and customize_glob override what entities
 * write, the domain's first, then each matching pattern's, then the
 * entity's own (Home Assistant's EntityValues). */
static void homeassistant_block_locates_and_customizes(void **state)
{
	(void)state;
	td_init(&T, NULL);
	td_write_config(&T, HEAD
			"homeassistant:\n"
			"  latitude: 52.5\n"
			"  longitude: 13.4\n"
			"  time_zone: Europe/Berlin\n"
			"  customize:\n"
			"    sensor.testcomp_a: {friendly_name: Renamed, who: entity}\n"
			"  customize_domain:\n"
			"    sensor: {who: domain, domain_only: 1}\n"
			"  customize_glob:\n"
			"    \"sensor.testcomp_*\": {who: glob, glob_only: true}\n"
			"    \"light.*\": {nope: 1}\n"
			"mqtt_statestream: {base_topic: ss, publish_attributes: true}\n"
			"testcomp:\n"
			"  a: {state: first}\n"
			"  b: {state: second}\n");
	td_start(&T, "-P", tdir, NULL);
	/* the state's attributes, as mqtt_statestream mirrors them */
	td_expect(&T, "ss/sensor/testcomp_a/friendly_name", "\"Renamed\"");
	td_expect(&T, "ss/sensor/testcomp_a/who", "\"entity\"");
	td_expect(&T, "ss/sensor/testcomp_b/who", "\"glob\"");
	td_expect(&T, "ss/sensor/testcomp_b/friendly_name", "\"testcomp b\"");
	td_expect(&T, "ss/sensor/testcomp_b/domain_only", "1");
	td_expect(&T, "ss/sensor/testcomp_b/glob_only", "true");
	td_expect(&T, "ss/sensor/testcomp_b/state", "second+started");
	assert_null(td_last(&T, "ss/sensor/testcomp_b/nope"));
	/* and the core's location and time zone, as the module sees them */
	td_expect(&T, "ss/sensor/testcomp_a/located", "true");
	td_expect(&T, "ss/sensor/testcomp_a/latitude", "52.5");
	td_expect(&T, "ss/sensor/testcomp_a/tz", "\"Europe/Berlin\"");
	td_stop_clean(&T);
	td_fini(&T);
}

/* Home Assistant's <domain>.reload: the file is read again and the
 * component gets its block as it is now. Entries gone lose their entity
 * and everything retained of it (no ghost in Home Assistant), new and
 * changed ones are set up, an unchanged one is left alone; a file with
 * problems changes nothing and says where they are. */
static void a_reload_replaces_what_changed_and_clears_what_went(void **state)
{
	(void)state;
	td_init(&T, NULL);
	td_write_config(&T, HEAD
			"testcomp:\n"
			"  a: {state: first}\n"
			"  b: {state: second}\n"
			"  c: {state: third}\n");
	td_start(&T, "-P", tdir, NULL);
	td_expect(&T, BASE "sensor/testcomp_a/state", "first+started");
	td_expect(&T, BASE "sensor/testcomp_b/state", "second+started");
	td_expect(&T, BASE "sensor/testcomp_c/state", "third+started");
	td_expect(&T, "homeassistant/sensor/tl/testcomp_b/config", NULL);
	td_write_config(&T, HEAD
			"testcomp:\n"
			"  a: {state: first}\n"
			"  c: {state: changed}\n"
			"  d: {state: fourth}\n");
	long since = td_count(&T);
	td_pub(&T, "testcomp/reload", "go", false);
	td_expect_after(&T, since, "testcomp/reloaded", "0");
	td_expect_after(&T, since, BASE "sensor/testcomp_b/state", "");
	td_expect_after(&T, since, BASE "sensor/testcomp_b/availability", "");
	td_expect_after(&T, since, "homeassistant/sensor/tl/testcomp_b/config", "");
	td_expect_after(&T, since, BASE "sensor/testcomp_c/state", "changed");
	td_expect_after(&T, since, BASE "sensor/testcomp_d/state", "fourth");
	td_expect_log(&T, "testcomp reloaded: 3 entries");
	/* a was not touched: nothing of it went out again */
	assert_int_equal(td_count_topic(&T, since, BASE "sensor/testcomp_a/", ""), 0);

	td_write_config(&T, HEAD
			"testcomp:\n"
			"  a: {state: first}\n"
			"  e: {stat: typo}\n");
	since = td_count(&T);
	td_pub(&T, "testcomp/reload", "go", false);
	td_expect_after(&T, since, "testcomp/reloaded", "-22");
	td_expect_log(&T, "mqbridge.yaml:5:6: testcomp.e: required key 'state' not provided");
	td_expect_log(&T, "testcomp.reload: the configuration has problems; the running one stays");
	assert_int_equal(td_count_topic(&T, since, BASE "sensor/", ""), 0);
	td_stop_clean(&T);
	td_fini(&T);
}

int main(int argc, char **argv)
{
	const char *b = getenv("abs_top_builddir");
	snprintf(tdir, sizeof tdir, "%s/t/platforms", b ? b : ".");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(component_blocks_are_gathered_and_set_up_before_the_start,
					  teardown),
		cmocka_unit_test_teardown(component_errors_point_at_their_place, teardown),
		cmocka_unit_test_teardown(homeassistant_block_locates_and_customizes, teardown),
		cmocka_unit_test_teardown(a_reload_replaces_what_changed_and_clears_what_went,
					  teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
