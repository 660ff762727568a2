/* SPDX-License-Identifier: MIT */
/* libFuzzer target for templates: compile any bytes and render what
 * compiles, with small bounds, under a work budget, against a small state
 * machine (located entities, zones, a group, translated domains) and a few
 * custom_templates/ files to include and import. The input is the
 * template, then optionally a NUL and the payload given as `value` (and
 * parsed for value_json). Nothing may crash, leak or hang. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hass.h"
#include "mqbridge/core.h"
#include "mqbridge/location.h"
#include "mqbridge/states.h"
#include "mqbridge/template.h"
#include "template/tpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Made once and kept (reachable, so no leak is reported): what distance(),
 * closest(), expand(), state_translated() and {% include %} reach. */
static struct mqb_core *fuzz_core(void)
{
	static struct mqb_core *core;
	if (core || mqb_core_new(NULL, &core) != 0)
		return core;
	struct mqb_location loc = { .latitude = 32.87336, .longitude = -117.22743, .set = true };
	hass__set_location(core, &loc);
	static const struct { const char *id, *state, *attrs; } st[] = {
		{ "zone.home", "zoning", "{\"latitude\": 32.87336, \"longitude\": -117.22743}" },
		{ "test.object", "happy", "{\"latitude\": 32.87, \"longitude\": -117.2, \"mode\": \"on\"}" },
		{ "test.bad", "1", "{\"latitude\": \"x\", \"longitude\": null}" },
		{ "sensor.t", "21.5", "{\"unit_of_measurement\": \"°C\", \"device_class\": \"temperature\"}" },
		{ "binary_sensor.m", "on", "{\"device_class\": \"motion\"}" },
		{ "climate.c", "heat", "{\"fan_mode\": \"auto\", \"hvac_action\": \"heating\"}" },
		{ "group.g", "on", "{\"entity_id\": [\"test.object\", \"group.g\", \"sensor.t\"]}" },
	};
	for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
		mqb_states_async_set(core, st[i].id, st[i].state,
				     json_loads(st[i].attrs, 0, NULL), false);
	static const char *const inc[][2] = {
		{ "x.jinja", "{% macro m(a, b=1) %}{{ a }}{{ b }}{% endmacro %}{% set v = 'x' %}x" },
		{ "y.jinja", "{{ v | default('-') }}{% include 'x.jinja' %}" },
		{ "loop.jinja", "{% include 'loop.jinja' %}" },
	};
	struct mqb_tpl_error err;
	for (size_t i = 0; i < sizeof inc / sizeof inc[0]; i++)
		mqb_template_add_include(inc[i][0], inc[i][1], strlen(inc[i][1]), &err);
	return core;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	static const char def[] = "{\"temperature\": 21.456, \"list\": [1, 2.5, \"x\", null], "
				  "\"nested\": {\"a\": {\"b\": true}}}";
	const char *value = nul ? (const char *)nul + 1 : def;
	size_t vlen = nul ? size - tlen - 1 : sizeof def - 1;

	struct mqb_core *core = fuzz_core();
	struct mqb_template *t = NULL;
	struct mqb_tpl_error err;
	if (mqb_template_compile(text, tlen, &t, &err) != 0)
		return 0;
	struct mqb_tpl_vars vars = { .value = value, .value_len = vlen, .now = 1714564800.5,
				     .core = core };
	struct mqb_tpl_limits lim = { .max_iterations = 20000, .max_depth = 32,
				      .max_output = 64 * 1024 };
	char *out = NULL;
	size_t len = 0;
	/* A twentieth of the daemon's budget (about 10 ms there): under ASan
	 * and UBSan a unit costs ten to fifty times as much, and the whole
	 * budget would take a second. Run with -timeout=1, an input slower
	 * than that is a loop the budget does not count. */
	const uint64_t budget = TPL_MAX_WORK / 20;
	uint64_t work;
	int rc = tpl_render(t, &vars, &lim, budget, &out, &len, &err, &work);
	if (work > budget)
		abort();
	if (rc == 0) {
		/* The contract: NUL-terminated, len bytes, within the bound. */
		if (out[len] != 0 || len > lim.max_output)
			abort();
		free(out);
	}
	mqb_template_free(t);
	return 0;
}
