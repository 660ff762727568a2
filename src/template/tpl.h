/* SPDX-License-Identifier: MIT */
/* The template engine's insides shared by its files: the value model
 * (Jinja's types, allocated in a per-render arena), the render context, and
 * the registry of filters, functions and tests. tpl.c parses and
 * evaluates; tpl_value.c implements values; tpl_builtins.c holds Jinja's
 * own filters and tests; tpl_ha.c Home Assistant's. */
#ifndef MQB_TPL_H
#define MQB_TPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "mqbridge/template.h"

enum tv_type {
	TV_UNDEFINED,   /* a missing name or key: renders as "", is falsy, fails most operations */
	TV_NONE,
	TV_BOOL,
	TV_INT,         /* int64 (Python ints are unbounded; overflow is a render error) */
	TV_FLOAT,
	TV_STR,
	TV_LIST,        /* also tuples */
	TV_DICT,        /* insertion-ordered */
	TV_DATETIME,    /* aware datetime: Unix seconds + UTC offset in seconds */
	TV_TIMEDELTA,   /* seconds */
	TV_NAMESPACE,   /* namespace(): a dict whose attributes are assignable */
	TV_STATE,       /* a Home Assistant state object (states.x.y, expand()) */
	TV_CALLABLE,    /* a bound builtin used as a value (states.sensor, loop.cycle) */
};

struct tv_str { size_t len; char s[]; };       /* NUL-terminated */
struct tv_list { size_t n, cap; struct tv *v; };
struct tv_dict { size_t n, cap; struct tv *k, *v; };
struct tv_state;                                 /* tpl_ha.c */

/* A value is small and copied freely; what it points to lives in the
 * render's arena (or in the compiled template, for literals). Sixteen
 * bytes, so it is passed and returned in two registers: a datetime's UTC
 * offset sits beside the type, its seconds in the union. */
struct tv {
	enum tv_type t;
	int32_t utcoffset;                  /* TV_DATETIME: seconds east of UTC */
	union {
		bool b;
		int64_t i;
		double f;
		const struct tv_str *s;
		struct tv_list *l;
		struct tv_dict *d;          /* TV_DICT, TV_NAMESPACE */
		double ts;                  /* TV_DATETIME: Unix seconds */
		double td;
		const struct tv_state *st;
		const void *p;
	};
};

struct tpl_ctx;   /* one render: arena, vars, limits, error */

/* Arena: freed in one go when the render ends. Never NULL: out of memory
 * ends the render with -ENOMEM (the helpers longjmp out). */
void *tpl_alloc(struct tpl_ctx *cx, size_t n);
const struct tv_str *tpl_str(struct tpl_ctx *cx, const char *s, size_t len);
struct tv tv_string(struct tpl_ctx *cx, const char *s, size_t len);
struct tv tv_list_new(struct tpl_ctx *cx, size_t cap);
void tv_list_push(struct tpl_ctx *cx, struct tv *list, struct tv v);
struct tv tv_dict_new(struct tpl_ctx *cx, size_t cap);
void tv_dict_set(struct tpl_ctx *cx, struct tv *dict, struct tv key, struct tv v);
/* The value stored under key, or NULL. */
const struct tv *tv_dict_get(const struct tv *dict, struct tv key);
/* json -> value (objects become dicts, arrays lists); value -> json (new reference). */
struct tv tv_from_json(struct tpl_ctx *cx, const json_t *j);
json_t *tv_to_json(struct tpl_ctx *cx, struct tv v);

/* Jinja's semantics. */
bool tv_truthy(struct tv v);
bool tv_equal(struct tv a, struct tv b);
/* <0, 0, >0; a render error (tpl_fail) for types Python cannot order. */
int tv_compare(struct tpl_ctx *cx, struct tv a, struct tv b);
/* str(v) as Python prints it: floats as repr (21.5, 1e-05, 2.0, inf),
 * True/False, None, lists and dicts in Python's repr. */
const struct tv_str *tv_to_str(struct tpl_ctx *cx, struct tv v);

/* End the render with an error (printf-style message): never returns. */
_Noreturn void tpl_fail(struct tpl_ctx *cx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* tpl_fail ("'x' is undefined") when v is undefined: for builtins that,
 * like Python, refuse an undefined value even when given a default. */
_Noreturn void tpl_fail_undefined(struct tpl_ctx *cx, struct tv v);
static inline void tpl_check_defined(struct tpl_ctx *cx, struct tv v)
{
	if (v.t == TV_UNDEFINED)
		tpl_fail_undefined(cx, v);
}
/* Count one loop iteration against the bound (tpl_fail when over). */
void tpl_tick(struct tpl_ctx *cx);
/* The render's variables (for Home Assistant's functions). */
const struct mqb_tpl_vars *tpl_vars(struct tpl_ctx *cx);
/* Report an entity id read (dependency tracking). */
void tpl_read_entity(struct tpl_ctx *cx, const char *entity_id);

/* ---- builtins ---------------------------------------------------------- */

enum tpl_kind { TPL_FILTER = 1, TPL_FUNCTION = 2, TPL_TEST = 4 };

struct tpl_kwarg {
	const char *name;
	struct tv v;
};

/* args[0] is the filtered or tested value for filters and tests. A test's
 * result is a TV_BOOL. */
typedef struct tv (*tpl_builtin_fn)(struct tpl_ctx *cx, const struct tv *args, size_t nargs,
				    const struct tpl_kwarg *kw, size_t nkw);

struct tpl_builtin {
	const char *name;
	unsigned kinds;          /* TPL_FILTER | TPL_FUNCTION | TPL_TEST */
	tpl_builtin_fn fn;
	unsigned min_args, max_args; /* counting args[0] for filters and tests */
	bool uses_now;
};

/* Home Assistant's entries win over Jinja's of the same name and kind
 * (its float/int/round take defaults and fail on bad input). */
const struct tpl_builtin *tpl_builtin_find(const char *name, size_t len, enum tpl_kind kind);
/* Each file's table, NULL-terminated by name. */
extern const struct tpl_builtin tpl_jinja_builtins[];
extern const struct tpl_builtin tpl_ha_builtins[];

/* Attribute access on values the engine does not own (states.sensor.x,
 * a state's .state/.attributes/.last_changed, datetime .hour ...):
 * tpl_ha.c answers; undefined when it does not know the name. */
struct tv tpl_ha_getattr(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len);
/* Method calls on those values (now().strftime('%H'), x.timestamp(),
 * timedelta.total_seconds()); tpl_fail when there is no such method. The
 * engine handles str, list and dict methods itself. */
struct tv tpl_ha_call_method(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len,
			     const struct tv *args, size_t nargs, const struct tpl_kwarg *kw,
			     size_t nkw);
/* ISO 8601 as Home Assistant's dt_util.parse_datetime takes it
 * ("2021-06-03 13:00:00+00:00", "...T...Z", a date alone): *ts Unix time,
 * *off the offset it gave (seconds east), *aware false when it gave none
 * (then it is a local time). Shared with the script engine's time
 * conditions. */
bool tpl__parse_iso(const char *s, double *ts, int32_t *off, bool *aware);
/* The value of the name `states` (callable and subscriptable). */
struct tv tpl_ha_states_object(struct tpl_ctx *cx);

#endif
