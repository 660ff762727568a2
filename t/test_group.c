/* SPDX-License-Identifier: MIT */
/* group (platforms/group*.c), in-process, after Home Assistant's
 * tests/components/group/: test_init.py (old-style groups: the state
 * rules per member domain, `all`, expansion, group.set and group.remove,
 * reload, order), test_binary_sensor.py, test_switch.py, test_light.py,
 * test_cover.py and test_sensor.py (the `platform: group` entities).
 * Each test names the ones it follows. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "inproc.h"
#include "mqbridge/config.h"

static struct ip IP;

static int teardown(void **state)
{
	(void)state;
	ip_fini(&IP);
	return 0;
}

#define V(id) ip_value(&IP, id, buf, sizeof buf)
#define A(id, name) ip_attr(&IP, id, name, buf, sizeof buf)
#define SET(id, s) ip_set(&IP, id, s, NULL)
#define SETA(id, s, a) ip_set(&IP, id, s, a)
#define EXPECT(id, s) assert_string_equal(V(id), s)

/* ---- old-style groups: test_init.py ---------------------------------------- */

/* test_setup_group_with_mixed_groupable_states,
 * test_setup_group_with_a_non_existing_state,
 * test_setup_group_with_non_groupable_states, test_setup_empty_group,
 * test_setup (a string of ids, order, no auto, icon, friendly_name). */
static void a_group_takes_its_state_from_its_members(void **state)
{
	(void)state;
	char buf[256];
	ip_start(&IP, "group:\n"
		      "  person_and_light: {entities: [light.Bowl, device_tracker.Paulus]}\n"
		      "  light_and_nothing: {entities: [light.bowl, non.existing]}\n"
		      "  chromecasts: [cast.living_room, cast.bedroom]\n"
		      "  nothing:\n"
		      "  test_group: hello.world,sensor.happy\n"
		      "  second_group: {entities: light.Bowl, icon: mdi:work, name: Second}\n");
	EXPECT("group.person_and_light", "unknown");
	SET("light.bowl", "on");
	SET("device_tracker.paulus", "home");
	SET("cast.living_room", "Plex");
	SET("cast.bedroom", "Netflix");
	EXPECT("group.person_and_light", "on");
	EXPECT("group.light_and_nothing", "on");
	EXPECT("group.chromecasts", "unknown");
	EXPECT("group.nothing", "unknown");
	EXPECT("group.test_group", "unknown");
	assert_string_equal(A("group.test_group", "entity_id"), "[\"hello.world\",\"sensor.happy\"]");
	assert_string_equal(A("group.person_and_light", "entity_id"),
			    "[\"light.bowl\",\"device_tracker.paulus\"]");
	assert_string_equal(A("group.person_and_light", "order"), "0");
	assert_string_equal(A("group.second_group", "order"), "5");
	assert_string_equal(A("group.second_group", "auto"), "");
	assert_string_equal(A("group.second_group", "icon"), "\"mdi:work\"");
	assert_string_equal(A("group.second_group", "friendly_name"), "\"Second\"");
	assert_string_equal(A("group.nothing", "friendly_name"), "\"nothing\"");
	EXPECT("group.second_group", "on");
}

/* test_group_turns_off_if_all_off,
 * test_group_turns_on_if_all_are_off_and_one_turns_on,
 * test_allgroup_stays_off_if_all_are_off_and_one_turns_on,
 * test_allgroup_turn_on_if_last_turns_on, test_is_on,
 * test_group_being_init_before_first_tracked_state_is_set_to_on/_off. */
static void any_member_or_with_all_every_member(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "group:\n"
		      "  any: [light.bowl, light.ceiling]\n"
		      "  every: {entities: [light.bowl, light.ceiling], all: true}\n"
		      "  later: [light.not_there_1]\n");
	SET("light.bowl", "off");
	SET("light.ceiling", "off");
	EXPECT("group.any", "off");
	EXPECT("group.every", "off");
	SET("light.ceiling", "on");
	EXPECT("group.any", "on");
	EXPECT("group.every", "off");
	SET("light.bowl", "on");
	EXPECT("group.every", "on");
	EXPECT("group.later", "unknown");
	SET("light.not_there_1", "on");
	EXPECT("group.later", "on");
	SET("light.not_there_1", "off");
	EXPECT("group.later", "off");
}

/* test_is_on_and_state_mixed_domains (its table), test_group_locks,
 * test_group_mixed_domains_on/_off, test_group_climate_mixed,
 * test_group_climate_all_cool/_all_off, test_group_alarm(_disarmed),
 * test_group_vacuum_on/_off, test_group_persons(_and_device_trackers),
 * test_group_sensors, test_device_tracker_or_person_not_home. */
static void each_domain_has_its_on_and_off_states(void **state)
{
	(void)state;
	char buf[64];
	static const struct {
		const char *members, *old_states, *new_states, *old_group, *new_group;
	} table[] = {
		{"light.t0,light.t1", "on,off", "off,off", "on", "off"},
		{"cover.t0,cover.t1", "open,closed", "closed,closed", "open", "closed"},
		{"lock.t0,lock.t1", "unlocked,locked", "locked,locked", "unlocked", "locked"},
		{"cover.t0,lock.t1", "open,locked", "closed,locked", "on", "off"},
		{"cover.t0,lock.t1", "open,unlocked", "closed,locked", "on", "off"},
		{"cover.t0,lock.t1,light.t2", "open,locked,on", "closed,locked,off", "on", "off"},
		{"lock.t0,lock.t1", "open,locked", "locked,locked", "unlocked", "locked"},
		{"lock.t0,lock.t1", "opening,locked", "locked,locked", "unlocked", "locked"},
		{"lock.t0,lock.t1", "unlocking,locked", "locked,locked", "unlocked", "locked"},
		{"lock.t0,lock.t1", "locking,locked", "locked,locked", "unlocked", "locked"},
		{"lock.t0,lock.t1", "jammed,locked", "locked,locked", "locked", "locked"},
		{"cover.t0,lock.t1", "open,open", "closed,locked", "on", "off"},
		{"lock.a,lock.b,lock.c", "locked,locked,unlocked", "locked,locked,locked", "unlocked",
		 "locked"},
		{"lock.a,lock.b,lock.c", "locked,locked,open", "locked,unlocked,open", "unlocked",
		 "unlocked"},
		{"climate.a,climate.b,climate.c", "off,cool,heat", "cool,cool,cool", "on", "on"},
		{"climate.a,climate.b,climate.c", "off,off,off", "off,off,off", "off", "off"},
		{"alarm_control_panel.a,alarm_control_panel.b", "armed_away,armed_home",
		 "disarmed,disarmed", "on", "off"},
		{"vacuum.a,vacuum.b,vacuum.c", "docked,off,off", "cleaning,off,off", "off", "on"},
		{"person.a,person.b,person.c", "Work,Work,home", "Work,Work,Work", "home", "not_home"},
		{"device_tracker.a,person.b", "home,Work", "not_home,Work", "home", "not_home"},
		{"device_tracker.a,device_tracker.b,device_tracker.c", "home,elsewhere,not_home",
		 "not_home,elsewhere,not_home", "home", "not_home"},
		{"sensor.a,sensor.b,sensor.c", "locked,on,closed", "on,on,on", "unknown", "unknown"},
		{"plant.a,plant.b", "ok,ok", "problem,problem", "ok", "problem"},
		{"plant.a,plant.b,binary_sensor.p", "ok,ok,off", "problem,problem,on", "off", "on"},
	};
	char yaml[4096] = "group:\n";
	for (size_t i = 0; i < MQB_ARRAY_SIZE(table); i++)
		snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "  g%zu: %s\n", i,
			 table[i].members);
	ip_start(&IP, yaml);
	for (size_t i = 0; i < MQB_ARRAY_SIZE(table); i++) {
		for (int pass = 0; pass < 2; pass++) {
			char ids[256], states[256], *si, *ss;
			snprintf(ids, sizeof ids, "%s", table[i].members);
			snprintf(states, sizeof states, "%s",
				 pass ? table[i].new_states : table[i].old_states);
			char *id = strtok_r(ids, ",", &si), *st = strtok_r(states, ",", &ss);
			for (; id && st; id = strtok_r(NULL, ",", &si), st = strtok_r(NULL, ",", &ss))
				SET(id, st);
			char gid[32];
			snprintf(gid, sizeof gid, "group.g%zu", i);
			const char *want = pass ? table[i].new_group : table[i].old_group;
			if (strcmp(V(gid), want) != 0)
				fail_msg("row %zu (%s) pass %d: %s, not %s", i, table[i].members, pass,
					 buf, want);
		}
	}
}

/* test_group_mixed_domains_on/_off: all: "true" across lock,
 * binary_sensor and cover; test_group_updated_after_device_tracker_zone_change. */
static void all_across_domains_and_a_zone_change(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "group:\n"
		      "  zero:\n"
		      "    all: 'true'\n"
		      "    entities: lock.exit_door, binary_sensor.side_door, cover.garage\n"
		      "  peeps: [device_tracker.adam, device_tracker.eve]\n");
	SET("lock.exit_door", "unlocked");
	SET("binary_sensor.side_door", "on");
	SET("cover.garage", "open");
	EXPECT("group.zero", "on");
	SET("lock.exit_door", "locked");
	SET("binary_sensor.side_door", "off");
	SET("cover.garage", "closed");
	EXPECT("group.zero", "off");
	SET("device_tracker.adam", "home");
	SET("device_tracker.eve", "not_home");
	EXPECT("group.peeps", "home");
	SET("device_tracker.adam", "cool_state_not_home");
	EXPECT("group.peeps", "not_home");
}

/* test_light_removed, test_lights_added_after_group,
 * test_set_assumed_state_based_on_tracked. */
static void a_removed_member_counts_no_more(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "group:\n"
		      "  zero: light.one, light.two, light.three\n"
		      "  assumed: [light.bowl, light.ceiling, sensor.no_exist]\n");
	EXPECT("group.zero", "unknown");
	SET("light.one", "off");
	SET("light.two", "off");
	SET("light.three", "on");
	EXPECT("group.zero", "on");
	SET("light.three", NULL);
	EXPECT("group.zero", "off");
	SET("light.bowl", "on");
	SET("light.ceiling", "off");
	assert_string_equal(A("group.assumed", "assumed_state"), "");
	SETA("light.bowl", "on", "{\"assumed_state\": true}");
	assert_string_equal(A("group.assumed", "assumed_state"), "true");
	SET("light.bowl", "on");
	assert_string_equal(A("group.assumed", "assumed_state"), "");
}

/* test_group_that_references_a_group_of_lights, ..._of_covers,
 * ..._two_groups_of_covers, ..._two_types_of_groups: a group of groups
 * takes the one on/off pair its groups share. */
static void groups_of_groups(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "group:\n"
		      "  downlights: [light.front, light.back]\n"
		      "  grouped_lights: [group.downlights, light.front, light.back]\n"
		      "  downcover: [cover.front, cover.back]\n"
		      "  grouped_cover: [group.living_room_downlights, cover.front, cover.back]\n"
		      "  upcover: [cover.front, cover.back]\n"
		      "  two_covers: [group.living_room_downlights, group.upcover]\n"
		      "  trackers: [device_tracker.front, device_tracker.back]\n"
		      "  two_types: [group.downcover, group.trackers]\n");
	SET("light.front", "off");
	SET("light.back", "off");
	SET("cover.front", "closed");
	SET("cover.back", "closed");
	SET("device_tracker.front", "home");
	SET("device_tracker.back", "home");
	EXPECT("group.downlights", "off");
	EXPECT("group.grouped_lights", "off");
	EXPECT("group.downcover", "closed");
	EXPECT("group.grouped_cover", "closed");
	EXPECT("group.upcover", "closed");
	EXPECT("group.two_covers", "closed");
	EXPECT("group.trackers", "home");
	EXPECT("group.two_types", "on");
}

/* test_expand_entity_ids, test_expand_entity_ids_does_not_return_duplicates,
 * test_expand_entity_ids_recursive,
 * test_expand_entity_ids_expands_nested_groups: a service call to a
 * group reaches its members (of the call's domain), once each; and
 * expand() in a template sees through the group. */
static void a_service_call_and_expand_see_through_groups(void **state)
{
	(void)state;
	char buf[256];
	ip_start(&IP, "switch:\n"
		      "  - {platform: testing, name: Test 1, state: 'off'}\n"
		      "  - {platform: testing, name: Test 2, state: 'off'}\n"
		      "light:\n"
		      "  - {platform: testing, name: Test 1, state: 'off'}\n"
		      "group:\n"
		      "  lights: [light.test_1, group.lights]\n"
		      "  switches: [switch.test_1, switch.test_2]\n"
		      "  everything: [group.lights, group.switches, switch.test_2]\n"
		      "template:\n"
		      "  - sensor:\n"
		      "      - name: Members\n"
		      "        state: >-\n"
		      "          {{ expand('group.everything') | map(attribute='entity_id')\n"
		      "             | join(',') }}\n");
	EXPECT("sensor.members", "light.test_1,switch.test_1,switch.test_2");
	assert_int_equal(ip_call(&IP, "switch", "turn_on", "{\"entity_id\": \"group.everything\"}"),
			 0);
	EXPECT("switch.test_1", "on");
	EXPECT("switch.test_2", "on");
	EXPECT("light.test_1", "off");
	EXPECT("group.switches", "on");
	assert_int_equal(ip_call(&IP, "light", "turn_on",
				 "{\"target\": {\"entity_id\": [\"group.everything\"]}}"),
			 0);
	EXPECT("light.test_1", "on");
	EXPECT("group.everything", "on");
}

/* test_reloading_groups, test_group_order (a reload keeps the order of
 * groups that stay; a group made by group.set stays). */
static void reload_replaces_the_block(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "group:\n"
		      "  second_group: {entities: light.Bowl, icon: mdi:work}\n"
		      "  test_group: hello.world,sensor.happy\n"
		      "  empty_group: {name: Empty Group, entities: null}\n");
	assert_int_equal(ip_call(&IP, "group", "set",
				 "{\"object_id\": \"all_tests\", \"entities\": [\"test.one\"]}"),
			 0);
	EXPECT("group.empty_group", "unknown");
	ip_write(&IP, "group:\n  hello: {entities: light.Bowl, icon: mdi:work}\n");
	assert_int_equal(ip_call(&IP, "group", "reload", NULL), 0);
	EXPECT("group.second_group", "");
	EXPECT("group.test_group", "");
	EXPECT("group.empty_group", "");
	EXPECT("group.all_tests", "unknown");
	SET("light.bowl", "on");
	EXPECT("group.hello", "on");
	assert_string_equal(A("group.hello", "order"), "4");
}

/* test_service_group_services, test_service_group_set_group_remove_group,
 * test_service_group_services_add_remove_entities, test_modify_group,
 * test_group_order_with_dynamic_creation. */
static void set_and_remove_make_and_change_groups(void **state)
{
	(void)state;
	char buf[256];
	ip_start(&IP, "group:\n"
		      "  group_zero: {entities: light.Bowl, icon: mdi:work}\n"
		      "  modify_group: {name: friendly_name, icon: mdi:work, entities: null}\n");
	SET("person.one", "Work");
	SET("person.two", "Work");
	SET("person.three", "home");
	assert_int_equal(ip_call(&IP, "group", "set",
				 "{\"object_id\": \"new_group\", \"name\": \"New Group\", "
				 "\"entities\": [\"person.one\", \"person.two\"]}"),
			 0);
	EXPECT("group.new_group", "not_home");
	assert_string_equal(A("group.new_group", "friendly_name"), "\"New Group\"");
	assert_string_equal(A("group.new_group", "auto"), "true");
	assert_string_equal(A("group.new_group", "order"), "2");
	assert_int_equal(ip_call(&IP, "group", "set",
				 "{\"object_id\": \"new_group\", \"add_entities\": \"person.three\"}"),
			 0);
	EXPECT("group.new_group", "home");
	assert_int_equal(ip_call(&IP, "group", "set",
				 "{\"object_id\": \"new_group\", \"remove_entities\": \"person.one\"}"),
			 0);
	assert_string_equal(A("group.new_group", "entity_id"), "[\"person.two\",\"person.three\"]");
	assert_int_equal(ip_call(&IP, "group", "set",
				 "{\"object_id\": \"new_group\", \"icon\": \"mdi:camera\", "
				 "\"name\": \"Test2\"}"),
			 0);
	assert_string_equal(A("group.new_group", "friendly_name"), "\"Test2\"");
	assert_string_equal(A("group.new_group", "icon"), "\"mdi:camera\"");
	EXPECT("group.new_group", "home");
	/* test_modify_group: group.set on one of the block */
	assert_int_equal(ip_call(&IP, "group", "set",
				 "{\"object_id\": \"modify_group\", \"icon\": \"mdi:play\"}"),
			 0);
	assert_string_equal(A("group.modify_group", "icon"), "\"mdi:play\"");
	assert_string_equal(A("group.modify_group", "friendly_name"), "\"friendly_name\"");
	assert_int_equal(ip_call(&IP, "group", "remove", "{\"object_id\": \"new_group\"}"), 0);
	EXPECT("group.new_group", "");
	assert_int_equal(ip_call(&IP, "group", "set",
				 "{\"object_id\": \"new_group2\", \"entities\": \"light.bowl\"}"),
			 0);
	assert_string_equal(A("group.new_group2", "order"), "3");
	assert_int_equal(ip_call(&IP, "group", "set",
				 "{\"object_id\": \"Not A Slug\", \"entities\": \"light.bowl\"}"),
			 -EINVAL);
	assert_int_equal(ip_call(&IP, "group", "set",
				 "{\"object_id\": \"x\", \"entities\": \"light.a\", "
				 "\"add_entities\": \"light.b\"}"),
			 -EINVAL);
}

/* cv.entity_ids and the schema: errors at their place. */
static void bad_members_are_errors(void **state)
{
	(void)state;
	char errs[1024];
	size_t n = ip_check("group:\n"
			    "  a: [light.ok, not an id]\n"
			    "  b: {entities: light.x, icon: nocolon}\n"
			    "sensor:\n"
			    "  - {platform: group, type: mean, entities: [light.kitchen]}\n"
			    "  - {platform: group, type: average, entities: [sensor.a]}\n"
			    "binary_sensor:\n"
			    "  - {platform: group, entities: [sensor.a]}\n",
			    errs, sizeof errs);
	ip_expect_error(errs, "mqbridge.yaml:2:17: group.a: Entity ID not an id is an invalid "
			      "entity ID");
	ip_expect_error(errs, "group.b.icon: Icons should be specified");
	ip_expect_error(errs, "sensor[0].entities: Entity ID 'light.kitchen' does not belong to "
			      "domain '['sensor', 'number', 'input_number']'");
	ip_expect_error(errs, "sensor[1].type:");
	ip_expect_error(errs, "binary_sensor[0].entities: Entity ID 'sensor.a' does not belong "
			      "to domain 'binary_sensor'");
	assert_int_equal(n, 5);
}

/* ---- binary_sensor, switch and light groups ------------------------------ */

/* test_binary_sensor.py: test_state_reporting_all, test_state_reporting_any;
 * test_switch.py and test_light.py have the same tables. */
static void on_off_groups_report_as_home_assistant_does(void **state)
{
	(void)state;
	char buf[64];
	ip_start(&IP, "binary_sensor:\n"
		      "  - platform: group\n"
		      "    name: All\n"
		      "    all: 'true'\n"
		      "    device_class: presence\n"
		      "    entities: [binary_sensor.test1, binary_sensor.test2]\n"
		      "  - {platform: group, name: Any, entities: [binary_sensor.test1, "
		      "binary_sensor.test2]}\n"
		      "switch:\n"
		      "  - {platform: group, entities: [switch.test1, switch.test2]}\n"
		      "light:\n"
		      "  - {platform: group, all: true, entities: [light.test1, light.test2]}\n");
	static const struct {
		const char *s1, *s2, *all, *any;
	} table[] = {
		{"unavailable", "unavailable", "unavailable", "unavailable"},
		{"on", "unavailable", "unknown", "on"},
		{"on", "unknown", "unknown", "on"},
		{"unknown", "unknown", "unknown", "unknown"},
		{"off", "unavailable", "unknown", "off"},
		{"off", "unknown", "unknown", "off"},
		{"unknown", "unavailable", "unknown", "unknown"},
		{"on", "off", "off", "on"},
		{"off", "off", "off", "off"},
		{"on", "on", "on", "on"},
	};
	EXPECT("binary_sensor.all", "unavailable");
	EXPECT("binary_sensor.any", "unavailable");
	EXPECT("switch.switch_group", "unavailable");
	EXPECT("light.light_group", "unavailable");
	for (size_t i = 0; i < MQB_ARRAY_SIZE(table); i++) {
		static const char *const kinds[] = {"binary_sensor", "switch", "light"};
		for (size_t k = 0; k < 3; k++) {
			char id[64];
			snprintf(id, sizeof id, "%s.test1", kinds[k]);
			SET(id, table[i].s1);
			snprintf(id, sizeof id, "%s.test2", kinds[k]);
			SET(id, table[i].s2);
		}
		if (strcmp(V("binary_sensor.all"), table[i].all) != 0 ||
		    strcmp(V("light.light_group"), table[i].all) != 0)
			fail_msg("row %zu all: %s", i, buf);
		if (strcmp(V("binary_sensor.any"), table[i].any) != 0 ||
		    strcmp(V("switch.switch_group"), table[i].any) != 0)
			fail_msg("row %zu any: %s", i, buf);
	}
	assert_string_equal(A("binary_sensor.all", "device_class"), "\"presence\"");
	assert_string_equal(A("binary_sensor.all", "entity_id"),
			    "[\"binary_sensor.test1\",\"binary_sensor.test2\"]");
	SET("binary_sensor.test1", NULL);
	SET("binary_sensor.test2", NULL);
	EXPECT("binary_sensor.all", "unavailable");
	EXPECT("binary_sensor.any", "unavailable");
	assert_string_equal(A("binary_sensor.any", "entity_id"), "");
}

/* test_switch.py: test_service_calls; test_light.py: test_service_calls
 * (turn_on with brightness forwarded, toggle), test_brightness (the mean
 * of the members that are on). */
static void switch_and_light_groups_forward_their_services(void **state)
{
	(void)state;
	char buf[128];
	ip_start(&IP, "switch:\n"
		      "  - {platform: testing, name: Decorative lights, state: 'on'}\n"
		      "  - {platform: testing, name: AC, state: 'off'}\n"
		      "  - {platform: group, entities: [switch.decorative_lights, switch.ac]}\n"
		      "light:\n"
		      "  - {platform: testing, name: Bed light, state: 'off'}\n"
		      "  - {platform: testing, name: Ceiling, state: 'off'}\n"
		      "  - {platform: group, name: Lights, entities: [light.bed_light, "
		      "light.ceiling]}\n");
	EXPECT("switch.switch_group", "on");
	assert_int_equal(ip_call(&IP, "switch", "toggle", "{\"entity_id\": \"switch.switch_group\"}"),
			 0);
	EXPECT("switch.decorative_lights", "off");
	EXPECT("switch.ac", "off");
	EXPECT("switch.switch_group", "off");
	assert_int_equal(ip_call(&IP, "switch", "turn_on", "{\"entity_id\": \"switch.switch_group\"}"),
			 0);
	EXPECT("switch.ac", "on");
	EXPECT("switch.switch_group", "on");
	EXPECT("light.lights", "off");
	assert_string_equal(A("light.lights", "brightness"), "null");
	assert_int_equal(ip_call(&IP, "light", "turn_on",
				 "{\"entity_id\": \"light.lights\", \"brightness\": 128}"),
			 0);
	EXPECT("light.bed_light", "on");
	assert_string_equal(A("light.ceiling", "brightness"), "128");
	EXPECT("light.lights", "on");
	assert_string_equal(A("light.lights", "brightness"), "128");
	SETA("light.ceiling", "on", "{\"brightness\": 255, \"color_mode\": \"brightness\", "
				   "\"supported_color_modes\": [\"brightness\"]}");
	SETA("light.bed_light", "on", "{\"brightness\": 100, \"color_mode\": \"brightness\", "
				     "\"supported_color_modes\": [\"onoff\", \"brightness\"]}");
	assert_string_equal(A("light.lights", "brightness"), "177");
	assert_string_equal(A("light.lights", "color_mode"), "\"brightness\"");
	assert_string_equal(A("light.lights", "supported_color_modes"), "[\"brightness\"]");
	SETA("light.bed_light", "off", "{\"brightness\": null}");
	assert_string_equal(A("light.lights", "brightness"), "255");
	assert_int_equal(ip_call(&IP, "light", "toggle", "{\"entity_id\": \"light.lights\"}"), 0);
	EXPECT("light.lights", "off");
	EXPECT("light.ceiling", "off");
}

/* test_cover.py: test_state (open, opening, closing, closed, unknown,
 * unavailable), test_service_calls (open, close, stop forwarded),
 * test_attributes (the mean position). */
static void a_cover_group(void **state)
{
	(void)state;
	char buf[128];
	ip_start(&IP, "cover:\n"
		      "  - {platform: testing, name: Kitchen window, state: closed}\n"
		      "  - {platform: testing, name: Hall window, state: closed}\n"
		      "  - {platform: group, name: Windows, entities: [cover.kitchen_window, "
		      "cover.hall_window]}\n"
		      "  - {platform: group, name: Test, entities: [cover.a, cover.b]}\n");
	EXPECT("cover.windows", "closed");
	EXPECT("cover.test", "unavailable");
	static const struct {
		const char *a, *b, *want;
	} table[] = {
		{"unavailable", "unavailable", "unavailable"},
		{"unknown", "unavailable", "unknown"},
		{"unknown", "unknown", "unknown"},
		{"open", "closed", "open"},
		{"closed", "closed", "closed"},
		{"opening", "closed", "opening"},
		{"closing", "open", "closing"},
		{"closed", "unknown", "closed"},
		{"open", "unavailable", "open"},
	};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(table); i++) {
		SET("cover.a", table[i].a);
		SET("cover.b", table[i].b);
		if (strcmp(V("cover.test"), table[i].want) != 0)
			fail_msg("row %zu: %s, not %s", i, buf, table[i].want);
	}
	SETA("cover.a", "open", "{\"current_position\": 70}");
	SETA("cover.b", "open", "{\"current_position\": 40}");
	assert_string_equal(A("cover.test", "current_position"), "55");
	assert_int_equal(ip_call(&IP, "cover", "open_cover", "{\"entity_id\": \"cover.windows\"}"), 0);
	EXPECT("cover.kitchen_window", "open");
	EXPECT("cover.hall_window", "open");
	EXPECT("cover.windows", "open");
	assert_int_equal(ip_call(&IP, "cover", "close_cover", "{\"entity_id\": \"cover.windows\"}"),
			 0);
	EXPECT("cover.windows", "closed");
}

/* ---- sensor groups: test_sensor.py ---------------------------------------- */

#define MEMBERS(attrs) \
	"sensor:\n" \
	"  - {platform: testing, name: Test 1, state: '17'" attrs "}\n" \
	"  - {platform: testing, name: Test 2, state: '20'" attrs "}\n" \
	"  - {platform: testing, name: Test 3, state: '15.3'" attrs "}\n"

/* test_sensors2 (every type, with VALUES [17, 20, 15.3] in litres);
 * the values are Python's (statistics.mean, median, stdev, math.prod). */
static void every_type_of_sensor_group(void **state)
{
	(void)state;
	char buf[128];
	static const struct {
		const char *type, *value, *attr, *attr_value;
	} table[] = {
		{"min", "15.3", "min_entity_id", "\"sensor.test_3\""},
		{"max", "20.0", "max_entity_id", "\"sensor.test_2\""},
		{"mean", "17.433333333333334", NULL, NULL},
		{"median", "17.0", NULL, NULL},
		{"last", "15.3", "last_entity_id", "\"sensor.test_3\""},
		{"range", "4.699999999999999", NULL, NULL},
		{"stdev", "2.3797758998135374", NULL, NULL},
		{"sum", "52.3", NULL, NULL},
		{"product", "5202.0", NULL, NULL},
	};
	char yaml[4096] = MEMBERS(", device_class: volume, state_class: total, "
				  "unit_of_measurement: L");
	for (size_t i = 0; i < MQB_ARRAY_SIZE(table); i++)
		snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml),
			 "  - {platform: group, name: Sensor Group, type: %s, unique_id: u%zu, "
			 "entities: [sensor.test_1, sensor.test_2, sensor.test_3]}\n",
			 table[i].type, i);
	ip_start(&IP, yaml);
	for (size_t i = 0; i < MQB_ARRAY_SIZE(table); i++) {
		char id[64];
		snprintf(id, sizeof id, "sensor.sensor_group_%s", table[i].type);
		if (strcmp(V(id), table[i].value) != 0)
			fail_msg("%s: %s, not %s", table[i].type, buf, table[i].value);
		if (table[i].attr)
			assert_string_equal(A(id, table[i].attr), table[i].attr_value);
		assert_string_equal(A(id, "device_class"), "\"volume\"");
		assert_string_equal(A(id, "state_class"), "\"total\"");
		assert_string_equal(A(id, "unit_of_measurement"), "\"L\"");
		assert_string_equal(A(id, "icon"), "");
		assert_string_equal(A(id, "entity_id"),
				    "[\"sensor.test_1\",\"sensor.test_2\",\"sensor.test_3\"]");
	}
	/* test_last_sensor: the member written last */
	SETA("sensor.test_1", "4", "{\"device_class\": \"volume\", \"state_class\": \"total\", "
				   "\"unit_of_measurement\": \"L\"}");
	EXPECT("sensor.sensor_group_last", "4.0");
	assert_string_equal(A("sensor.sensor_group_last", "last_entity_id"), "\"sensor.test_1\"");
}

/* test_sensors_attributes_defined (litres summed in m³),
 * test_sensor_calculated_properties (Wh converted to kWh, and again when
 * the member's unit changes). */
static void members_in_other_units_are_converted(void **state)
{
	(void)state;
	char buf[128];
	ip_start(&IP, MEMBERS(", device_class: volume, state_class: measurement, "
			      "unit_of_measurement: L")
		 "  - platform: group\n"
		 "    name: Water\n"
		 "    type: sum\n"
		 "    entities: [sensor.test_1, sensor.test_2, sensor.test_3]\n"
		 "    device_class: water\n"
		 "    state_class: total_increasing\n"
		 "    unit_of_measurement: m³\n"
		 "  - {platform: group, name: Energy, type: sum, entities: [sensor.e1, sensor.e2, "
		 "sensor.e3]}\n");
	assert_true(fabs(strtod(V("sensor.water"), NULL) - 0.0523) < 1e-12);
	assert_string_equal(A("sensor.water", "device_class"), "\"water\"");
	assert_string_equal(A("sensor.water", "state_class"), "\"total_increasing\"");
	assert_string_equal(A("sensor.water", "unit_of_measurement"), "\"m³\"");
	SETA("sensor.e1", "17", "{\"device_class\": \"energy\", \"state_class\": \"total\", "
				"\"unit_of_measurement\": \"kWh\"}");
	SETA("sensor.e2", "20", "{\"device_class\": \"energy\", \"state_class\": \"total\", "
				"\"unit_of_measurement\": \"kWh\"}");
	SETA("sensor.e3", "15.3", "{\"device_class\": \"energy\", \"state_class\": \"total\", "
				  "\"unit_of_measurement\": \"Wh\"}");
	EXPECT("sensor.energy", "37.0153");
	assert_string_equal(A("sensor.energy", "device_class"), "\"energy\"");
	assert_string_equal(A("sensor.energy", "state_class"), "\"total\"");
	assert_string_equal(A("sensor.energy", "unit_of_measurement"), "\"kWh\"");
	SETA("sensor.e3", "15.3", "{\"device_class\": \"energy\", \"state_class\": \"total\", "
				  "\"unit_of_measurement\": \"kWh\"}");
	EXPECT("sensor.energy", "52.3");
	/* test_sensor_calculated_result_fails_on_uom: a member loses its unit */
	SETA("sensor.e3", "12", "{\"device_class\": \"energy\", \"state_class\": \"total\"}");
	EXPECT("sensor.energy", "unavailable");
	assert_string_equal(A("sensor.energy", "device_class"), "\"energy\"");
	assert_string_equal(A("sensor.energy", "unit_of_measurement"), "");
}

/* test_not_enough_sensor_value, test_sensor_incorrect_state_with_ignore_non_numeric,
 * test_sensor_incorrect_state_with_not_ignore_non_numeric,
 * test_sensor_require_all_states, test_sensors_attributes_added_when_entity_info_available. */
static void non_numeric_members(void **state)
{
	(void)state;
	char buf[128];
	ip_start(&IP, "sensor:\n"
		      "  - {platform: group, name: test_max, type: max, ignore_non_numeric: true,\n"
		      "     entities: [sensor.test_1, sensor.test_2, sensor.test_3]}\n"
		      "  - {platform: group, name: test_failure, type: max,\n"
		      "     entities: [sensor.test_1, sensor.test_2, sensor.test_3]}\n"
		      "  - {platform: group, name: test_sum, type: sum,\n"
		      "     entities: [sensor.test_1, sensor.test_2, sensor.test_3]}\n");
	EXPECT("sensor.test_max", "unavailable");
	assert_string_equal(A("sensor.test_sum", "entity_id"), "");
	assert_string_equal(A("sensor.test_sum", "icon"), "\"mdi:calculator\"");
	SET("sensor.test_1", "unknown");
	EXPECT("sensor.test_max", "unavailable");
	assert_string_equal(A("sensor.test_max", "max_entity_id"), "");
	SET("sensor.test_2", "20");
	EXPECT("sensor.test_max", "20.0");
	assert_string_equal(A("sensor.test_max", "max_entity_id"), "\"sensor.test_2\"");
	SET("sensor.test_3", "unknown");
	EXPECT("sensor.test_max", "20.0");
	SET("sensor.test_2", "unavailable");
	EXPECT("sensor.test_max", "unavailable");
	assert_string_equal(A("sensor.test_max", "max_entity_id"), "");
	SET("sensor.test_1", "17");
	SET("sensor.test_2", "string");
	SET("sensor.test_3", "15.3");
	EXPECT("sensor.test_max", "17.0");
	EXPECT("sensor.test_failure", "unknown");
	EXPECT("sensor.test_sum", "unknown");
	/* warned once a member, when it first failed (while unavailable) */
	assert_true(ip_logged(&IP, "Unable to use state. Only numerical states are supported, "
				   "entity sensor.test_2 with value unavailable excluded from "
				   "calculation in sensor.test_failure"));
	assert_false(ip_logged(&IP, "excluded from calculation in sensor.test_max"));
	SET("sensor.test_2", "20");
	EXPECT("sensor.test_max", "20.0");
	EXPECT("sensor.test_failure", "20.0");
	EXPECT("sensor.test_sum", "52.3");
}

/* test_sensor_with_uoms_but_no_device_class,
 * test_sensor_calculated_properties_not_same,
 * test_sensor_calculated_properties_not_convertible_device_class,
 * test_sensor_state_class_no_uom_not_available. */
static void units_the_members_do_not_agree_on(void **state)
{
	(void)state;
	char buf[128];
	ip_start(&IP, "sensor:\n"
		      "  - {platform: group, name: W, type: sum, entities: [sensor.w1, sensor.w2, "
		      "sensor.w3]}\n"
		      "  - {platform: group, name: Mixed, type: sum, entities: [sensor.m1, "
		      "sensor.m2, sensor.m3]}\n"
		      "  - {platform: group, name: Humid, type: sum, entities: [sensor.h1, "
		      "sensor.h2, sensor.h3]}\n");
	const char *power = "{\"device_class\": \"power\", \"state_class\": \"measurement\", "
			    "\"unit_of_measurement\": \"W\"}";
	SETA("sensor.w1", "17", power);
	SETA("sensor.w2", "20", power);
	SETA("sensor.w3", "15.3", "{\"unit_of_measurement\": \"W\"}");
	EXPECT("sensor.w", "52.3");
	assert_string_equal(A("sensor.w", "device_class"), "");
	assert_string_equal(A("sensor.w", "state_class"), "");
	assert_string_equal(A("sensor.w", "unit_of_measurement"), "\"W\"");
	SETA("sensor.w1", "17", "{\"device_class\": \"power\", \"unit_of_measurement\": \"kW\"}");
	EXPECT("sensor.w", "unknown");
	assert_string_equal(A("sensor.w", "unit_of_measurement"), "");
	assert_true(ip_logged(&IP, "Unable to use state. Only entities with correct unit of "
				   "measurement is supported, entity sensor.w1, value 17 with device "
				   "class None and unit of measurement kW excluded from calculation "
				   "in sensor.w"));
	SETA("sensor.w1", "17", power);
	EXPECT("sensor.w", "52.3");
	assert_string_equal(A("sensor.w", "unit_of_measurement"), "\"W\"");

	SETA("sensor.m1", "17", "{\"device_class\": \"energy\", \"state_class\": \"total\", "
				"\"unit_of_measurement\": \"kWh\"}");
	SETA("sensor.m2", "20", "{\"device_class\": \"energy\", \"state_class\": \"total\", "
				"\"unit_of_measurement\": \"kWh\"}");
	SETA("sensor.m3", "15.3", "{\"device_class\": \"current\", \"state_class\": "
				  "\"measurement\", \"unit_of_measurement\": \"A\"}");
	EXPECT("sensor.mixed", "52.3");
	assert_string_equal(A("sensor.mixed", "device_class"), "");
	assert_string_equal(A("sensor.mixed", "state_class"), "");
	assert_string_equal(A("sensor.mixed", "unit_of_measurement"), "");

	const char *humid = "{\"device_class\": \"humidity\", \"state_class\": \"measurement\", "
			    "\"unit_of_measurement\": \"%\"}";
	SETA("sensor.h1", "17", humid);
	SETA("sensor.h2", "20", humid);
	SETA("sensor.h3", "15.3", humid);
	EXPECT("sensor.humid", "52.3");
	assert_string_equal(A("sensor.humid", "device_class"), "\"humidity\"");
	assert_string_equal(A("sensor.humid", "unit_of_measurement"), "\"%\"");
	SETA("sensor.h3", "15.3", "{\"device_class\": \"humidity\", \"state_class\": "
				  "\"measurement\"}");
	EXPECT("sensor.humid", "unknown");
	assert_string_equal(A("sensor.humid", "device_class"), "\"humidity\"");
	assert_string_equal(A("sensor.humid", "unit_of_measurement"), "");
	assert_true(ip_logged(&IP, "entity sensor.h3, value 15.3 with device class humidity and "
				   "unit of measurement None excluded from calculation in "
				   "sensor.humid"));
}

/* tests/components/group/test_notify.py: test_send_message_with_data,
 * test_send_message_with_default_notify_data and
 * test_invalid_configuration. notify.<slug of name> calls each service of
 * the group (action, or its old name service) with the message and what
 * the call gave; a service's data fills in only what the call did not
 * give, mappings within mappings. */
static void a_notify_group_sends_to_each_service_with_its_defaults(void **state)
{
	(void)state;
	char buf[4096], path[256];
	ip_start(&IP, "notify:\n"
		      "  - {platform: file, name: service1, file_path: one.log}\n"
		      "  - {platform: file, name: service2, file_path: two.log}\n"
		      "  - platform: group\n"
		      "    name: My notification group\n"
		      "    services:\n"
		      "      - service: service1\n"
		      "      - action: service2\n"
		      "        data:\n"
		      "          target: unnamed device\n"
		      "          data: {test: message, default: default}\n"
		      "  - platform: group\n"
		      "    name: defaults\n"
		      "    services: {action: service1, data: {push: {sound: default}}}\n");
	IP.calls = true;
	assert_int_equal(ip_call(&IP, "notify", "my_notification_group",
				 "{\"message\": \"Hello\", \"title\": \"Test notification\", "
				 "\"data\": {\"hello\": \"world\"}}"),
			 0);
	assert_int_equal(ip_events(&IP, "call_service", buf, sizeof buf), 3);
	ip_expect_error(buf, "{\"domain\":\"notify\",\"service\":\"service1\",\"service_data\":"
			     "{\"data\":{\"hello\":\"world\"},\"message\":\"Hello\",\"title\":"
			     "\"Test notification\"}}");
	ip_expect_error(buf, "{\"domain\":\"notify\",\"service\":\"service2\",\"service_data\":"
			     "{\"data\":{\"default\":\"default\",\"hello\":\"world\",\"test\":"
			     "\"message\"},\"message\":\"Hello\",\"target\":\"unnamed device\","
			     "\"title\":\"Test notification\"}}");
	/* the call's value wins over a default */
	ip_clear_events(&IP);
	assert_int_equal(ip_call(&IP, "notify", "my_notification_group",
				 "{\"message\": \"Hello\", \"data\": {\"default\": \"override\"}}"),
			 0);
	ip_events(&IP, "call_service", buf, sizeof buf);
	ip_expect_error(buf, "\"service\":\"service2\",\"service_data\":{\"data\":{\"default\":"
			     "\"override\",\"test\":\"message\"},\"message\":\"Hello\",\"target\":"
			     "\"unnamed device\"}}");
	/* one entry, not a list; a mapping of defaults under a given one */
	ip_clear_events(&IP);
	assert_int_equal(ip_call(&IP, "notify", "defaults",
				 "{\"message\": \"Hi\", \"data\": {\"push\": {\"badge\": 1}}}"),
			 0);
	ip_events(&IP, "call_service", buf, sizeof buf);
	ip_expect_error(buf, "\"service\":\"service1\",\"service_data\":{\"data\":{\"push\":"
			     "{\"badge\":1}},\"message\":\"Hi\",\"push\":{\"sound\":\"default\"}}}");
	/* and each service did its work before the group's call returned */
	snprintf(path, sizeof path, "%s/one.log", IP.dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t got = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[got] = '\0';
	assert_non_null(strstr(buf, "\nHello\nHello\nHi\n"));

	char errs[2048];
	ip_check("notify:\n"
		 "  - platform: group\n"
		 "    name: bad\n"
		 "    services:\n"
		 "      - {service: test_service1, action: test_service2}\n"
		 "      - {action: Not A Slug}\n"
		 "      - {data: {a: 1}}\n"
		 "      - {action: x, data: [1]}\n"
		 "  - platform: group\n"
		 "    name: none\n",
		 errs, sizeof errs);
	ip_expect_error(errs, "mqbridge.yaml:5:19: notify[0].services[0]: Cannot specify both "
			      "'service' and 'action'. Please use 'action' only.");
	ip_expect_error(errs, "mqbridge.yaml:6:18: notify[0].services[1]: invalid slug Not A Slug "
			      "(try not_a_slug)");
	ip_expect_error(errs, "notify[0].services[2]: required key not provided @ data['action']");
	ip_expect_error(errs, "notify[0].services[3]: expected a dictionary");
	ip_expect_error(errs, "mqbridge.yaml:9:5: notify[1]: required option 'services' is missing");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(a_group_takes_its_state_from_its_members, teardown),
	cmocka_unit_test_teardown(any_member_or_with_all_every_member, teardown),
	cmocka_unit_test_teardown(each_domain_has_its_on_and_off_states, teardown),
	cmocka_unit_test_teardown(all_across_domains_and_a_zone_change, teardown),
	cmocka_unit_test_teardown(a_removed_member_counts_no_more, teardown),
	cmocka_unit_test_teardown(groups_of_groups, teardown),
	cmocka_unit_test_teardown(a_service_call_and_expand_see_through_groups, teardown),
	cmocka_unit_test_teardown(reload_replaces_the_block, teardown),
	cmocka_unit_test_teardown(set_and_remove_make_and_change_groups, teardown),
	cmocka_unit_test(bad_members_are_errors),
	cmocka_unit_test_teardown(on_off_groups_report_as_home_assistant_does, teardown),
	cmocka_unit_test_teardown(switch_and_light_groups_forward_their_services, teardown),
	cmocka_unit_test_teardown(a_cover_group, teardown),
	cmocka_unit_test_teardown(every_type_of_sensor_group, teardown),
	cmocka_unit_test_teardown(members_in_other_units_are_converted, teardown),
	cmocka_unit_test_teardown(non_numeric_members, teardown),
	cmocka_unit_test_teardown(units_the_members_do_not_agree_on, teardown),
	cmocka_unit_test_teardown(a_notify_group_sends_to_each_service_with_its_defaults, teardown),
};

TU_MAIN(tests)
