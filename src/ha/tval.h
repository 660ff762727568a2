/* SPDX-License-Identifier: MIT */
/* Configuration values with templates anywhere inside them (Home
 * Assistant's cv.template_complex: a service call's data, an event's data,
 * a variables block), compiled once and rendered to JSON per use, with
 * YAML 1.1's scalar types as PyYAML gives them to Home Assistant. */
#ifndef MQB_HA_TVAL_H
#define MQB_HA_TVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "mqbridge/config.h"
#include "mqbridge/template.h"

enum tval_kind {
	TVAL_STATIC,   /* value holds it */
	TVAL_TEMPLATE, /* a string with a template in it */
	TVAL_LIST,     /* n items */
	TVAL_MAP,      /* n pairs: items[2i] the key, items[2i + 1] the value */
};

struct tval {
	enum tval_kind kind;
	json_t *value;
	/* TVAL_STATIC: the text a string was read from where it read as a
	 * list or mapping (a JSON string), or for a mapping an object of its
	 * top-level keys' such texts; NULL when there are none */
	json_t *texts;
	struct mqb_template *tpl;
	size_t n;
	struct tval *items;
};

/* Compile node: scalars typed as YAML 1.1 reads a plain one (100 an int,
 * on a boolean, ~ null) and strings as Home Assistant renders a static
 * template ("5" is 5, "[1, 2]" a list); strings holding "{{", "{%" or "{#"
 * compiled as templates. Lists and mappings without templates become one
 * static value. Problems go to errs under path; returns how many (*tv is
 * then empty). Thread: any. */
size_t tval__compile(struct tval *tv, const struct mqb_conf_node *node, const char *path,
		     struct mqb_conf_errors *errs);
void tval__fini(struct tval *tv);

/* Render with vars (may be NULL): templates as native values (Home
 * Assistant's render_complex), keys as Python's str() of what they render.
 * 0 with *out a new value that shares nothing with tv (safe to hand to
 * another thread); a render's error with err filled in; -ENOMEM.
 * Thread: as mqb_template_render. */
int tval__render(const struct tval *tv, const struct mqb_tpl_vars *vars, json_t **out,
		 struct mqb_tpl_error *err);

/* tval__render for a service call's data: the top-level keys of a
 * mapping that are among text_keys (the service's cv.string fields,
 * NULL-terminated) render to what cv.string leaves of them, the text a
 * template rendered or a string was written as, unless that reads as a
 * number, True, False or None (tpl__text_scalar); natives: to the value
 * read back, as tval__render, with *texts (an object, or NULL) holding
 * the text of each that read as a list or mapping, which Home Assistant
 * still gives the handler as written. Thread: as mqb_template_render. */
int tval__render_call(const struct tval *tv, const struct mqb_tpl_vars *vars,
		      const char *const *text_keys, bool natives, json_t **out, json_t **texts,
		      struct mqb_tpl_error *err);

/* A node as static JSON (YAML 1.1 types; strings kept as written). NULL
 * on ENOMEM. Thread: any. */
json_t *tval__from_conf(const struct mqb_conf_node *node);

/* A plain (unquoted) scalar as YAML 1.1 types it: null, a boolean, an
 * integer (decimal, 0o, 0x, 0b, sexagesimal), a float, or NULL when it
 * is a string. Thread: any. */
json_t *tval__yaml11(const char *s, size_t len);

/* Python's str() of a value used as a key: text as itself, numbers as
 * Python prints them, True/False/None; into buf (at least 48 bytes) or a
 * new allocation *heap (free it). Thread: any. */
const char *tval__key_text(const json_t *k, char *buf, size_t buflen, char **heap);

/* Python's float() and int() of a value: numbers and booleans, and text
 * that reads as one (white space around it allowed; int() takes only
 * decimal digits, float() also inf and nan). Thread: any. */
bool tval__py_float(const json_t *v, double *out);
bool tval__py_int(const json_t *v, long long *out);

#endif
