/* SPDX-License-Identifier: MIT */
/* libFuzzer target for templates: compile any bytes and render what
 * compiles, with small bounds and no core, under a work budget. The input
 * is the template, then optionally a NUL and the payload given as `value`
 * (and parsed for value_json). Nothing may crash, leak or hang. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/template.h"
#include "template/tpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	static const char def[] = "{\"temperature\": 21.456, \"list\": [1, 2.5, \"x\", null], "
				  "\"nested\": {\"a\": {\"b\": true}}}";
	const char *value = nul ? (const char *)nul + 1 : def;
	size_t vlen = nul ? size - tlen - 1 : sizeof def - 1;

	struct mqb_template *t = NULL;
	struct mqb_tpl_error err;
	if (mqb_template_compile(text, tlen, &t, &err) != 0)
		return 0;
	struct mqb_tpl_vars vars = { .value = value, .value_len = vlen, .now = 1714564800.5 };
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
