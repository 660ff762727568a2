/* SPDX-License-Identifier: MIT */
/* Home Assistant's registry template functions (its tests/helpers/template/
 * extensions/test_areas.py, test_devices.py, test_floors.py, test_labels.py,
 * test_aliases.py, test_config_entries.py, test_issues.py, test_entities.py)
 * against entities with `device:` blocks: their devices, and the areas
 * their suggested_area names; no floors, labels, aliases or config
 * entries, which answer as Home Assistant's empty registries. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "testutil.h"
#include "tpl_ha.h"
#include "ha/entity_impl.h"
#include "mqbridge/states.h"

static const struct mqb_platform_domain sensor_dom = {.domain = "sensor"};
static const struct mqb_platform_domain light_dom = {.domain = "light"};
static const struct mqb_platform_domain switch_dom = {.domain = "switch"};
static const struct mqb_platform_desc mqtt_desc = {.api_version = MQB_PLATFORM_API_VERSION,
						   .name = "mqtt"};
static const struct mqb_platform_desc tpl_desc = {.api_version = MQB_PLATFORM_API_VERSION,
						  .name = "template"};
static const struct mqb_entity_ops ops = {0};

static void add(struct mqb_core *core, const struct mqb_platform_desc *desc,
		const struct mqb_platform_domain *dom, const char *object_id, json_t *device)
{
	json_t *disc = device ? json_pack("{s:o}", "device", device) : NULL;
	struct mqb_entity_info info = {.object_id = object_id, .discovery = disc};
	struct mqb_platform *p = entities__platform(core, desc, dom);
	assert_non_null(p);
	assert_int_equal(mqb_platform_async_add_entity(p, &info, &ops, NULL, NULL), 0);
	json_decref(disc);
}

/* Two entities of one device (the second block shares its identifier and
 * names no more), a light whose device is known by a connection and
 * whose area's name looks like an entity id (as Home Assistant's tests'
 * "sensor.fake" area), a switch of no device, a template sensor. */
static struct mqb_core *core_with_devices(void)
{
	struct mqb_core *core = NULL;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	assert_int_equal(entities__init(core, "tr"), 0);
	add(core, &mqtt_desc, &sensor_dom, "kitchen_temp",
	    json_pack("{s:[s], s:s, s:s, s:s, s:s}", "identifiers", "kitchen-th", "name",
		      "Kitchen sensor", "model", "TH1", "manufacturer", "Acme", "suggested_area",
		      "Kitchen"));
	add(core, &mqtt_desc, &sensor_dom, "kitchen_hum",
	    json_pack("{s:[s,s]}", "identifiers", "other-id", "kitchen-th"));
	add(core, &mqtt_desc, &light_dom, "hue_5678",
	    json_pack("{s:[[s,s]], s:s, s:s}", "connections", "mac", "12:34:56:AB:CD:EF", "name",
		      "Hue Light", "suggested_area", "sensor.fake"));
	add(core, &mqtt_desc, &switch_dom, "plain", NULL);
	add(core, &tpl_desc, &sensor_dom, "computed", NULL);
	return core;
}

static void areas_are_those_devices_suggest(void **state)
{
	static const struct tcase c[] = {
		/* test_areas.py::test_areas */
		{ "{{ areas() }}", "['kitchen', 'sensor_fake']", NULL },
		/* test_areas.py::test_area_id: nothing found, a wrong type; a
		 * device's id (as a filter), an entity's, an area's name, one
		 * that looks like an entity id */
		{ "{{ area_id('sensor.nothing') }} {{ area_id('123abc') }} {{ area_id(56) }} "
		  "{{ area_id('switch.plain') }}", "None None None None", NULL },
		{ "{{ '12:34:56:AB:CD:EF' | area_id }} {{ area_id('light.hue_5678') }} "
		  "{{ area_id('sensor.fake') }} {{ area_id('Kitchen') }} {{ area_id('sensor.kitchen_hum') }}",
		  "sensor_fake sensor_fake sensor_fake kitchen kitchen", NULL },
		/* test_area_id: area names compare normalised */
		{ "{{ area_id('KITCHEN') }} {{ area_id('kit chen') }}", "kitchen kitchen", NULL },
		/* test_areas.py::test_area_name */
		{ "{{ area_name('sensor.fake') }} {{ area_name('1234567890') }} {{ area_name(56) }} "
		  "{{ area_name('switch.plain') }}", "None None None None", NULL },
		{ "{{ 'kitchen-th' | area_name }} {{ area_name('sensor.kitchen_temp') }} "
		  "{{ area_name('sensor_fake') }} {{ area_name('light.hue_5678') }}",
		  "Kitchen Kitchen sensor.fake sensor.fake", NULL },
		/* test_areas.py::test_area_entities: entities inherit their
		 * device's area */
		{ "{{ area_entities('deadbeef') }} {{ area_entities(56) }}", "[] []", NULL },
		{ "{{ area_entities('kitchen') }} {{ 'sensor.fake' | area_entities }}",
		  "['sensor.kitchen_temp', 'sensor.kitchen_hum'] ['light.hue_5678']", NULL },
		/* test_areas.py::test_area_devices */
		{ "{{ area_devices('deadbeef') }} {{ area_devices(56) }}", "[] []", NULL },
		{ "{{ area_devices('sensor_fake') }} {{ 'Kitchen' | area_devices }}",
		  "['12:34:56:AB:CD:EF'] ['kitchen-th']", NULL },
		/* test_areas.py::test_area_temperature_sensor and
		 * test_area_humidity_sensor: no area has one set */
		{ "{{ area_temperature_sensor('') }} {{ area_temperature_sensor('Kitchen') }} "
		  "{{ 'kitchen' | area_temperature_sensor }}", "None None None", NULL },
		{ "{{ area_humidity_sensor('') }} {{ area_humidity_sensor('Kitchen') }} "
		  "{{ 'kitchen' | area_humidity_sensor }}", "None None None", NULL },
	};
	struct mqb_core *core = core_with_devices();
	RUN(core, c);
	mqb_core_free(core);
}

static void devices_are_those_of_device_blocks(void **state)
{
	static const struct tcase c[] = {
		/* test_devices.py::test_device_entities */
		{ "{{ device_entities('abc123') }} {{ device_entities(56) }}", "[] []", NULL },
		{ "{{ device_entities('kitchen-th') }} {{ device_entities('other-id') }}",
		  "['sensor.kitchen_temp', 'sensor.kitchen_hum'] "
		  "['sensor.kitchen_temp', 'sensor.kitchen_hum']", NULL },
		{ "{{ device_entities('kitchen-th') | expand | sort(attribute='entity_id') "
		  "| map(attribute='entity_id') | join(', ') }}",
		  "sensor.kitchen_hum, sensor.kitchen_temp", NULL },
		/* test_devices.py::test_device_id: by entity, by device name */
		{ "{{ 'sensor.fail' | device_id }} {{ 56 | device_id }} "
		  "{{ 'not_a_real_entity_id' | device_id }} {{ device_id('switch.plain') }}",
		  "None None None None", NULL },
		{ "{{ device_id('sensor.kitchen_hum') }} {{ device_id('Hue Light') }} "
		  "{{ device_id('Kitchen sensor') }}", "kitchen-th 12:34:56:AB:CD:EF kitchen-th", NULL },
		/* test_devices.py::test_device_name */
		{ "{{ device_name('sensor.fake') }} {{ device_name('1234567890') }} "
		  "{{ device_name(56) }}", "None None None", NULL },
		{ "{{ device_name('kitchen-th') }} {{ device_name('sensor.kitchen_hum') }} "
		  "{{ device_name('12:34:56:AB:CD:EF') }}", "Kitchen sensor Kitchen sensor Hue Light",
		  NULL },
		/* test_devices.py::test_device_attr */
		{ "{{ device_attr('abc123', 'id') }} {{ is_device_attr('abc123', 'id', 'test') }} "
		  "{{ device_attr('entity.test', 'id') }} {{ is_device_attr('entity.test', 'id', 'test') }}",
		  "None False None False", NULL },
		{ "{{ device_attr(56, 'id') }}", NULL, "Must provide a device or entity ID" },
		{ "{{ is_device_attr(56, 'id', 'test') }}", NULL, "Must provide a device or entity ID" },
		{ "{{ device_attr('kitchen-th', 'invalid_attr') }} "
		  "{{ is_device_attr('kitchen-th', 'invalid_attr', 'test') }}", "None False", NULL },
		{ "{{ device_attr('12:34:56:AB:CD:EF', 'manufacturer') }} "
		  "{{ is_device_attr('12:34:56:AB:CD:EF', 'manufacturer', 'test') }} "
		  "{{ is_device_attr('12:34:56:AB:CD:EF', 'manufacturer', None) }}", "None False True",
		  NULL },
		{ "{{ device_attr('kitchen-th', 'model') }} {{ device_attr('sensor.kitchen_hum', 'model') }} "
		  "{{ is_device_attr('kitchen-th', 'model', 'fail') }} "
		  "{{ is_device_attr('kitchen-th', 'model', 'TH1') }}", "TH1 TH1 False True", NULL },
		{ "{{ 'sensor.kitchen_hum' | device_attr('model') }} "
		  "{{ ['kitchen-th'] | select('is_device_attr', 'model', 'TH1') | list }}",
		  "TH1 ['kitchen-th']", NULL },
		/* DeviceEntry's other attributes */
		{ "{{ device_attr('kitchen-th', 'id') }} {{ device_attr('kitchen-th', 'area_id') }} "
		  "{{ device_attr('light.hue_5678', 'connections') }} "
		  "{{ device_attr('12:34:56:AB:CD:EF', 'identifiers') }} "
		  "{{ device_attr('kitchen-th', 'labels') }} {{ device_attr('kitchen-th', 'name_by_user') }}",
		  "kitchen-th kitchen {('mac', '12:34:56:AB:CD:EF')} set() set() None", NULL },
		{ "{{ device_attr('other-id', 'identifiers') | sort }}",
		  "[('mqtt', 'kitchen-th'), ('mqtt', 'other-id')]", NULL },
		/* test_entities.py::test_is_hidden_entity: nothing is hidden */
		{ "{{ is_hidden_entity('sensor.kitchen_temp') }} "
		  "{{ ['sensor.kitchen_temp'] | select('is_hidden_entity') | first }}", "False ", NULL },
	};
	struct mqb_core *core = core_with_devices();
	RUN(core, c);
	mqb_core_free(core);
}

static void integrations_name_their_entities(void **state)
{
	static const struct tcase c[] = {
		/* test_config_entries.py::test_integration_entities: no config
		 * entry titles; the entities of an integration (its
		 * "entryless_integration" case) */
		{ "{{ integration_entities('') }} {{ integration_entities('abc123') }}", "[] []", NULL },
		{ "{{ integration_entities('mqtt') }} {{ 'template' | integration_entities }}",
		  "['sensor.kitchen_temp', 'sensor.kitchen_hum', 'light.hue_5678', 'switch.plain'] "
		  "['sensor.computed']", NULL },
		/* test_config_entries.py::test_config_entry_id, _attr: none */
		{ "{{ 'sensor.fail' | config_entry_id }} {{ 56 | config_entry_id }} "
		  "{{ config_entry_id('sensor.kitchen_temp') }} {{ config_entry_attr('invalid_id', 'domain') }}",
		  "None None None None", NULL },
		{ "{{ config_entry_attr('x', 'invalid_key') }}", NULL, "Invalid config entry attribute" },
		{ "{{ config_entry_attr(56, 'domain') }}", NULL, "Must provide a config entry ID" },
		/* test_issues.py::test_issues, test_issue: no issue registry */
		{ "{{ issues() }} {{ issue('non_existent', 'issue') }}", "{} None", NULL },
	};
	struct mqb_core *core = core_with_devices();
	RUN(core, c);
	mqb_core_free(core);
}

static void floors_labels_and_aliases_are_empty_registries(void **state)
{
	static const struct tcase c[] = {
		/* test_floors.py::test_floors, test_floor_id, test_floor_name:
		 * no floor, and no area, device or entity on one */
		{ "{{ floors() }}", "[]", NULL },
		{ "{{ floor_id('Third floor') }} {{ 'Third floor' | floor_id }} {{ floor_id(42) }} "
		  "{{ 42 | floor_id }} {{ floor_id('kitchen') }} {{ floor_id('kitchen-th') }} "
		  "{{ floor_id('sensor.kitchen_temp') }}", "None None None None None None None", NULL },
		{ "{{ floor_name('Third floor') }} {{ 'Third floor' | floor_name }} {{ floor_name(42) }} "
		  "{{ 42 | floor_name }} {{ floor_name('kitchen') }} {{ floor_name('kitchen-th') }} "
		  "{{ floor_name('sensor.kitchen_temp') }}", "None None None None None None None", NULL },
		/* test_floors.py::test_floor_areas, test_floor_entities */
		{ "{{ floor_areas('skyring') }} {{ 'skyring' | floor_areas }} {{ floor_areas(42) }} "
		  "{{ 42 | floor_areas }}", "[] [] [] []", NULL },
		{ "{{ floor_entities('skyring') }} {{ 'skyring' | floor_entities }} "
		  "{{ floor_entities(42) }} {{ 42 | floor_entities }}", "[] [] [] []", NULL },
		/* test_labels.py::test_labels (both copies): entities, devices
		 * and areas that have none */
		{ "{{ labels() }} {{ labels('sensor.fake') }} {{ 'sensor.fake' | labels }} "
		  "{{ labels('123abc') }} {{ '123abc' | labels }} {{ labels('sensor.kitchen_temp') }} "
		  "{{ 'kitchen-th' | labels }} {{ labels('kitchen') }}", "[] [] [] [] [] [] [] []", NULL },
		/* test_label_id, test_label_name, test_label_description */
		{ "{{ label_id('non-existing label') }} {{ 'non-existing label' | label_id }} "
		  "{{ label_id(42) }} {{ 42 | label_id }}", "None None None None", NULL },
		{ "{{ label_name('1234567890') }} {{ '1234567890' | label_name }} {{ label_name(42) }} "
		  "{{ 42 | label_name }}", "None None None None", NULL },
		{ "{{ label_description('1234567890') }} {{ '1234567890' | label_description }} "
		  "{{ label_description(42) }} {{ 42 | label_description }}", "None None None None", NULL },
		/* test_label_entities, test_label_devices, test_label_areas */
		{ "{{ label_entities('deadbeef') }} {{ 'deadbeef' | label_entities }} "
		  "{{ label_entities(42) }} {{ 42 | label_entities }}", "[] [] [] []", NULL },
		{ "{{ label_devices('deadbeef') }} {{ 'deadbeef' | label_devices }} "
		  "{{ label_devices(42) }} {{ 42 | label_devices }}", "[] [] [] []", NULL },
		{ "{{ label_areas('deadbeef') }} {{ 'deadbeef' | label_areas }} "
		  "{{ label_areas(42) }} {{ 42 | label_areas }}", "[] [] [] []", NULL },
		/* test_aliases.py::test_aliases_unknown */
		{ "{{ aliases('sensor.fake') }} {{ 'sensor.fake' | aliases }} {{ aliases('unknown_slug') }} "
		  "{{ 'unknown_slug' | aliases }} {{ aliases(42) }} {{ 42 | aliases }}",
		  "[] [] [] [] [] []", NULL },
		/* test_aliases_entity, _area, _floor, _type_restricts_registry,
		 * _type_reaches_colliding_floor: nothing has aliases here */
		{ "{{ aliases('sensor.kitchen_temp') }} {{ aliases('SENSOR.KITCHEN_TEMP') }} "
		  "{{ aliases('kitchen') }} {{ aliases('kitchen', 'area') }} {{ aliases('kitchen', 'entity') }} "
		  "{{ 'kitchen' | aliases('floor') }} {{ aliases('kitchen', none) }}",
		  "[] [] [] [] [] [] []", NULL },
		/* test_aliases.py::test_aliases_invalid_type */
		{ "{{ aliases('sensor.fake', 'device') }}", NULL, "Invalid alias_type" },
		{ "{{ 'sensor.fake' | aliases('') }}", NULL, "Invalid alias_type" },
		/* test_exposed_entities.py: nothing exposed */
		{ "{{ assist_exposed_entities() }}", "[]", NULL },
	};
	struct mqb_core *core = core_with_devices();
	RUN(core, c);
	mqb_core_free(core);
}

/* Without a core (a template rendered alone) every lookup finds nothing. */
static void without_a_core_nothing_is_found(void **state)
{
	static const struct tcase c[] = {
		{ "{{ areas() }} {{ area_id('Kitchen') }} {{ device_id('sensor.x') }} "
		  "{{ device_attr('x', 'name') }} {{ device_entities('x') }} {{ integration_entities('mqtt') }}",
		  "[] None None None [] []", NULL },
	};
	RUN(NULL, c);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(areas_are_those_devices_suggest),
	cmocka_unit_test(devices_are_those_of_device_blocks),
	cmocka_unit_test(integrations_name_their_entities),
	cmocka_unit_test(floors_labels_and_aliases_are_empty_registries),
	cmocka_unit_test(without_a_core_nothing_is_found),
};

TU_MAIN(tests)
