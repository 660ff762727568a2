/* SPDX-License-Identifier: MIT */
/* libFuzzer target for templates: compile any bytes and render what
 * compiles, with small bounds and no core. The input is the template, then
 * optionally a NUL and the payload given as `value` (and parsed for
 * value_json). Nothing may crash, leak or hang. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/template.h"

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
	if (mqb_template_render(t, &vars, &lim, &out, &len, &err) == 0) {
		/* The contract: NUL-terminated, len bytes, within the bound. */
		if (out[len] != 0 || len > lim.max_output)
			abort();
		free(out);
	}
	mqb_template_free(t);
	return 0;
}
