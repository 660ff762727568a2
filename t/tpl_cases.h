/* SPDX-License-Identifier: MIT */
/* The cases of t/data/tpl/pathological.json, shared by the test that
 * counts their work (t/test_tpl.c) and the benchmark that times them
 * (bench/bench_template.c --worst). */
#ifndef MQB_TPL_CASES_H
#define MQB_TPL_CASES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "mqbridge/template.h"
#include "template/tpl.h"

/* A case's payload, malloc'd: "value", or "value_tpl" rendered with room
 * to spare (the large payloads would not fit the file); NULL when it has
 * neither, or value_tpl fails (err says why). */
static inline char *tpl_case_value(const json_t *c, struct mqb_tpl_error *err)
{
	const char *v = json_string_value(json_object_get(c, "value"));
	const char *vt = json_string_value(json_object_get(c, "value_tpl"));
	if (v || !vt)
		return v ? strdup(v) : NULL;
	struct mqb_template *t;
	struct mqb_tpl_limits big = { 10000000, 64, 64u << 20 };
	char *out = NULL;
	if (mqb_template_compile(vt, strlen(vt), &t, err) == 0) {
		tpl_render(t, NULL, &big, UINT64_MAX, &out, NULL, err, NULL);
		mqb_template_free(t);
	}
	return out;
}

#endif
