/* SPDX-License-Identifier: MIT */
/* Home Assistant's native template results (Template._parse_result): what a
 * template renders, read back as the Python literal it spells, so that
 * "{{ 5 }}" is the number 5 and "{{ {'seconds': 5} }}" a mapping, for the
 * script engine's data, variables and durations. */
#ifndef MQB_TEMPLATE_NATIVE_H
#define MQB_TEMPLATE_NATIVE_H

#include <stddef.h>
#include <jansson.h>

#include "mqbridge/template.h"

/* text[0..len) (already stripped) as Home Assistant's _parse_result reads
 * it: a list, tuple, set, dict, True, False or None literal becomes that
 * value (tuples and sets as arrays, keys as Python's str() of them); a
 * number only when the text is a plain decimal (no exponent, no leading
 * zero, no '_': "1e5" and "007" stay text); anything else, a quoted string
 * literal included, is the text itself. A new reference; NULL on ENOMEM.
 * Thread: any. */
json_t *tpl__parse_result(const char *text, size_t len);

/* What Home Assistant's cv.string leaves of tpl__parse_result's value
 * for text[0..len): the text itself where that value is text, a list, a
 * tuple, a set or a dict (its ResultWrapper gives back the text it was
 * read from): 0 with *scalar NULL; else the value, a number, True, False
 * or None (whose str() is the caller's): 0 with *scalar a new reference.
 * No parse at all when the text opens a list or dict. -ENOMEM.
 * Thread: any. */
int tpl__text_scalar(const char *text, size_t len, json_t **scalar);

/* Render t (mqb_template_render), strip the result as Home Assistant does
 * and read it with tpl__parse_result (parse true), or keep the stripped
 * text (parse false). 0 with *out a new reference; the render's errors.
 * Thread: as mqb_template_render. */
int tpl__render_json(const struct mqb_template *t, const struct mqb_tpl_vars *vars, bool parse,
		     json_t **out, struct mqb_tpl_error *err);

#endif
