/* SPDX-License-Identifier: MIT */
/* The template engine's one internal header, shared by all its files: the
 * value model (Jinja's types, allocated in a per-render arena), the render
 * context, the registry of filters, functions and tests, and the compiled
 * form. lex.c and parse.c compile; eval.c renders; value.c implements
 * values; json.c parses value_json; builtins.c holds Jinja's own filters
 * and tests; ha.c Home Assistant's. */
#ifndef MQB_TPL_H
#define MQB_TPL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <jansson.h>

#include "lib/dtoa.h"
#include "mqbridge/template.h"
#include "mqbridge/text.h"

/* ---- values ------------------------------------------------------------- */

enum tv_type {
	TV_UNDEFINED,   /* a missing name or key: renders as "", is falsy, fails most operations */
	TV_NONE,
	TV_BOOL,
	TV_INT,         /* int64 (Python ints are unbounded; overflow is a render error) */
	TV_FLOAT,
	TV_STR,
	TV_LIST,        /* also tuples */
	TV_DICT,        /* insertion-ordered */
	TV_DATETIME,    /* datetime: Unix seconds + UTC offset in seconds, or naive
			 * (TV_NAIVE: its wall-clock fields as if in UTC) */
	TV_TIMEDELTA,   /* seconds */
	TV_NAMESPACE,   /* namespace(): a dict whose attributes are assignable */
	TV_STATE,       /* a Home Assistant state object (states.x.y, expand()) */
	TV_CALLABLE,    /* the `states` object: callable, subscriptable, iterable */
	TV_BYTES,       /* Python's bytes (s): from_hex, pack, base64_decode */
	TV_DATE,        /* datetime.date (ts: its midnight, as a naive datetime's) */
	TV_FUNC,        /* a callable value (f): a macro, a builtin, a bound method */
	TV_LOOP,        /* a for loop's `loop` (lp) */
	TV_MODULE,      /* an imported template (mod) */
};
/* A slot not yet looked up (never visible outside the evaluator). */
#define TV_UNRESOLVED ((enum tv_type)0x7f)

struct tv_str { size_t len; char s[]; };       /* NUL-terminated */
struct tv_list { size_t n, cap; struct tv *v; };
struct tv_dict { size_t n, cap; struct tv *k, *v; };
struct tv_state;                                 /* ha.c */
struct tpl_func;                                 /* below */
struct tpl_loop;                                 /* eval.c */
struct tpl_modinst;                              /* eval.c */

/* A datetime's utcoffset when it has none (Python's naive datetime). */
#define TV_NAIVE INT32_MIN
/* An undefined's utcoffset when p is the whole message its use fails with
 * (else p, when set, is its name). */
#define TV_UNDEF_MESSAGE 1

/* A value is small and copied freely; what it points to lives in the
 * render's arena (or in the compiled template, for literals). Sixteen
 * bytes, so it is passed and returned in two registers: a datetime's UTC
 * offset sits beside the type, its seconds in the union. */
struct tv {
	enum tv_type t;
	int32_t utcoffset;                  /* TV_DATETIME: seconds east of UTC, or
					     * TV_NAIVE; TV_STR: 1 for markupsafe's
					     * Markup (escaped, or marked safe) */
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
		const struct tpl_func *fn;
		struct tpl_loop *lp;
		const struct tpl_modinst *mod;
		const void *p;
	};
};

/* Every list is allocated as this (tv_list_new): Python's tuples and sets
 * are lists of another kind, and differ in repr, type name and equality
 * (a set's items are unique: tv_make_set). */
enum { LK_LIST, LK_TUPLE, LK_SET, LK_GROUP /* groupby's (grouper, list) tuples */ };
struct tv_list_x {
	struct tv_list l;
	unsigned char kind;
};
static inline unsigned tv_list_kind(struct tv v)
{
	return v.t == TV_LIST ? ((const struct tv_list_x *)(const void *)v.l)->kind : LK_LIST;
}
static inline bool tv_is_tuple(struct tv v)
{
	return tv_list_kind(v) == LK_TUPLE || tv_list_kind(v) == LK_GROUP;
}
static inline bool tv_is_set(struct tv v) { return tv_list_kind(v) == LK_SET; }
/* Mark a fresh list as a tuple (returns it). */
static inline struct tv tv_make_tuple(struct tv v)
{
	((struct tv_list_x *)(void *)v.l)->kind = LK_TUPLE;
	return v;
}
/* Markup (markupsafe): a str that escape() leaves alone. */
static inline bool tv_is_markup(struct tv v) { return v.t == TV_STR && v.utcoffset == 1; }
static inline struct tv tv_markup(struct tv v) { v.utcoffset = 1; return v; }
static inline bool tv_is_naive(struct tv v) { return v.t == TV_DATETIME && v.utcoffset == TV_NAIVE; }
/* Home Assistant's version(): a str that compares as a version. */
static inline bool tv_is_version(struct tv v) { return v.t == TV_STR && v.utcoffset == 2; }
/* Two versions' order, AwesomeVersion's way (text.c). */
int tpl_version_cmp(const struct tv_str *a, const struct tv_str *b);

static inline struct tv tv_int(int64_t i) { struct tv v = { .t = TV_INT }; v.i = i; return v; }
static inline struct tv tv_float(double f) { struct tv v = { .t = TV_FLOAT }; v.f = f; return v; }
static inline struct tv tv_bool(bool b) { struct tv v = { .t = TV_BOOL }; v.b = b; return v; }
static inline struct tv tv_none(void) { struct tv v = { .t = TV_NONE }; return v; }
static inline struct tv tv_undef(void) { struct tv v = { .t = TV_UNDEFINED }; v.p = NULL; return v; }
static inline struct tv tv_strv(const struct tv_str *s) { struct tv v = { .t = TV_STR }; v.s = s; return v; }
static inline struct tv tv_dt(double ts, int32_t off)
{
	return (struct tv){ .t = TV_DATETIME, .utcoffset = off, .ts = ts };
}
static inline struct tv tv_td(double s) { return (struct tv){ .t = TV_TIMEDELTA, .td = s }; }

/* Fill r, allocated with room for n + 1 bytes, with s[0..n) and a NUL. */
static inline const struct tv_str *tv_str_fill(struct tv_str *r, const char *s, size_t n)
{
	r->len = n;
	if (n)
		memcpy(r->s, s, n);
	r->s[n] = 0;
	return r;
}

struct tpl_ctx;   /* one render: arena, vars, limits, error (below) */

/* Arena: freed in one go when the render ends. Never NULL: out of memory
 * ends the render with -ENOMEM (the helpers longjmp out). */
void *tpl_alloc(struct tpl_ctx *cx, size_t n);
const struct tv_str *tpl_str(struct tpl_ctx *cx, const char *s, size_t len);
struct tv tv_string(struct tpl_ctx *cx, const char *s, size_t len);
struct tv tv_cstr(struct tpl_ctx *cx, const char *s);
struct tv tv_list_new(struct tpl_ctx *cx, size_t cap);
void tv_list_push(struct tpl_ctx *cx, struct tv *list, struct tv v);
/* A new list of a copy of v[0..n). */
struct tv tv_list_of(struct tpl_ctx *cx, const struct tv *v, size_t n);
struct tv tv_dict_new(struct tpl_ctx *cx, size_t cap);
void tv_dict_set(struct tpl_ctx *cx, struct tv *dict, struct tv key, struct tv v);
/* The value stored under key, or NULL. */
const struct tv *tv_dict_get(struct tpl_ctx *cx, const struct tv *dict, struct tv key);
/* json -> value (objects become dicts, arrays lists). */
struct tv tv_from_json(struct tpl_ctx *cx, const json_t *j);
/* Whether j is a State's dict (entity_id, state, attributes, last_changed,
 * last_updated): tv_from_json makes it a state object. */
bool tpl_json_is_state(const json_t *j);
/* Parse JSON text straight into arena values (json.c), as Python's
 * json.loads would; false (and *out untouched) when it is not JSON. */
bool tpl_json_parse(struct tpl_ctx *cx, const char *text, size_t len, struct tv *out);
/* The member key[0..klen) of the JSON object text[0..len) as
 * tpl_json_parse would give it in the dict it makes, without making the
 * dict: the rest of the text is only checked. 1 with *out; 0 when the
 * text is not a JSON object, has no such member, or has a key written
 * with escapes (then the full parse answers). */
int tpl_json_member(struct tpl_ctx *cx, const char *text, size_t len, const char *key,
		    size_t klen, struct tv *out);

/* Jinja's semantics. */
bool tv_truthy(struct tv v);
bool tv_equal(struct tpl_ctx *cx, struct tv a, struct tv b);
/* <0, 0, >0; a render error (tpl_fail) for types Python cannot order. */
int tv_compare(struct tpl_ctx *cx, struct tv a, struct tv b);
/* The same, with the operator named in the error. */
int tv_compare_op(struct tpl_ctx *cx, struct tv a, struct tv b, const char *op);
/* Numbers: true for bool/int/float; as double. */
static inline bool tv_is_number(struct tv v)
{
	return v.t == TV_INT || v.t == TV_FLOAT || v.t == TV_BOOL;
}
static inline double tv_as_double(struct tv v)
{
	return v.t == TV_FLOAT ? v.f : v.t == TV_INT ? (double)v.i : v.t == TV_BOOL ? (double)v.b : 0.0;
}
/* str(v) as Python prints it: floats as repr (21.5, 1e-05, 2.0, inf),
 * True/False, None, lists and dicts in Python's repr. */
const struct tv_str *tv_to_str(struct tpl_ctx *cx, struct tv v);
/* Python's repr() of v (strings quoted). */
const struct tv_str *tv_repr(struct tpl_ctx *cx, struct tv v);
/* Python's type name, for messages ("datetime.datetime"). */
const char *tv_type_name(struct tv v);
/* type(v).__name__ ("datetime"): Home Assistant's typeof. */
const char *tpl_typeof(struct tv v);
/* UTF-8 code points in s. */
size_t tpl_utf8_len(const char *s, size_t n);
/* i in decimal into buf (at least 21 bytes, no NUL); its length. */
size_t tpl_int_text(int64_t i, char *buf);

/* How deep lists and dicts may nest where a value is walked (str(),
 * JSON, comparisons): deeper is a render error (-ELOOP). */
#define TV_MAX_NEST 64

/* Growable byte buffer in the arena. */
struct tpl_buf {
	char *p;
	size_t len, cap;
};
void tpl_buf_add(struct tpl_ctx *cx, struct tpl_buf *b, const char *s, size_t n);
void tpl_buf_addc(struct tpl_ctx *cx, struct tpl_buf *b, char c);
void tpl_buf_puts(struct tpl_ctx *cx, struct tpl_buf *b, const char *s);
void tpl_buf_fill(struct tpl_ctx *cx, struct tpl_buf *b, char c, size_t n); /* n times c */
void tpl_buf_str(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v); /* str(v) */
const struct tv_str *tpl_buf_done(struct tpl_ctx *cx, struct tpl_buf *b);

/* How JSON text is written (json.c): Jinja's tojson is Python's
 * json.dumps, Home Assistant's to_json orjson unless ensure_ascii. */
struct tpl_json_style {
	bool dumps;      /* Python's json.dumps: ", " and ": " on one line, NaN;
			  * else orjson: "," and ":", NaN as null */
	bool ascii;      /* ensure_ascii: \uXXXX for all but printable ASCII */
	bool html_safe;  /* tojson: < > & ' as \uXXXX too */
	bool sort_keys;  /* json.dumps sorts the keys, orjson their text */
	int indent;      /* spaces per level, one member a line; -1: one line */
};
void tpl_json_dump(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v,
		   const struct tpl_json_style *st);

/* ---- the render --------------------------------------------------------- */

struct tpl_blk {
	struct tpl_blk *next;
	size_t cap;
	max_align_t mem[];
};

struct tpl_seen {
	struct tpl_seen *next;
	const char *id;
};

/* A scope entered in a frame (a for loop, a with block): the frame's slots
 * as they were before, which is what a macro defined outside it sees. */
struct tpl_scope {
	struct tpl_scope *up;
	struct tv *frame, *saved;
	unsigned depth;
};

/* Something the render holds outside its arena, released when it ends. */
struct tpl_cleanup {
	struct tpl_cleanup *next;
	void (*fn)(void *p);
	void *p;
};

/* {% break %} / {% continue %} unwinding to the innermost for loop. */
enum loop_ctl { LOOP_NEXT, LOOP_BREAK, LOOP_CONTINUE };

struct tpl_ctx {
	int code;                        /* -EINVAL, -ELOOP, -E2BIG, -ENOMEM */
	struct mqb_tpl_error *err;
	const struct mqb_tpl_vars *vars;
	const struct mqb_template *t;
	unsigned long iter, max_iter;
	unsigned depth, max_depth;
	/* In a coroutine, the lowest frame address a render may reach and
	 * still leave room for a builtin below it; NULL on a thread's stack. */
	const char *stack_floor;
	size_t max_output;
	unsigned line, col;              /* where evaluation is, for errors */
	char *cur, *end;                 /* arena bump pointer */
	struct tpl_blk *blocks;          /* malloc'd blocks, freed at the end */
	char *out;
	size_t outlen, outcap;
	bool out_heap;
	struct tpl_seen *seen;           /* entity ids reported (once each) */
	struct tpl_cleanup *cleanups;    /* run when the render ends, newest first */
	size_t heap_used, max_heap;      /* arena blocks taken, and the bound */
	uint64_t work, max_work;         /* work done, and the budget */
	enum loop_ctl loop_ctl;          /* zeroed with the fields above */
	/* the frame being run: its slots, its template, whether its
	 * template sees the render's variables (an import without context
	 * does not), and its scope depth (for loops, with, filter blocks) */
	bool context;
	unsigned scope_depth;
	struct tpl_scope *scopes;        /* innermost first */
	struct tpl_modinst *modules;     /* templates imported this render */
	struct tv captured;              /* N_CAPTURED */
	bool frame_captured;             /* a macro closes over the current frame */
	struct spare *spare;             /* frames' slots to reuse (call.c) */
	struct tv *slots;
	json_t *parsed;                  /* value parsed by us: decref at the end */
	bool value_json_done;
	struct tv value_json;
	jmp_buf jb;                      /* last: the render's memset stops before */
};

/* ---- work ------------------------------------------------------------------
 * Every render is bounded in work, not only in iterations, depth, output
 * and memory: "" * 31655867268351 grows no output and iterates nothing,
 * yet it would spin for hours. Every loop whose trip count the data
 * decides charges its steps with tpl_work, before it takes them where it
 * can; past the budget the render fails with -ELOOP, as past the
 * iteration bound. A unit is about a nanosecond of CPU on the slowest
 * path (bench_template --worst measures each pathological case), so the
 * budget is roughly 10 ms for any template and any input. It is a count,
 * not a clock: the same render succeeds or fails on any machine, loaded
 * or not. */
#define TPL_MAX_WORK UINT64_C(10000000)
#define TPL_W_NODE 8            /* evaluating an expression node or a statement */
#define TPL_W_ITEM 2            /* visiting a value: copying, comparing, pushing it */
#define TPL_W_CHAR 3            /* a character decoded, mapped and written again */
#define TPL_W_SCAN(n) ((uint64_t)(n))       /* bytes a plain loop looks at */
#define TPL_W_BYTES(n) ((uint64_t)(n) / 8)  /* bytes memcpy, memchr and such run over */
#define TPL_W_MEMORY(n) ((uint64_t)(n) / 8) /* bytes of a new arena block (first touch) */

_Noreturn void tpl_work_exhausted(struct tpl_ctx *cx);
/* Charge n units; the render fails when they exceed its budget. */
static inline void tpl_work(struct tpl_ctx *cx, uint64_t n)
{
	/* work <= max_work always holds, so this cannot overflow */
	if (n > cx->max_work - cx->work)
		tpl_work_exhausted(cx);
	cx->work += n;
}
/* Charge count steps of weight units each (count may be any size). */
static inline void tpl_work_n(struct tpl_ctx *cx, uint64_t count, unsigned weight)
{
	if (count > cx->max_work / weight)
		tpl_work_exhausted(cx);
	tpl_work(cx, count * weight);
}

/* End the render with an error (printf-style message): never returns.
 * tpl_fail's code is -EINVAL. */
_Noreturn void tpl_fail(struct tpl_ctx *cx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
_Noreturn void tpl_fail_code(struct tpl_ctx *cx, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* tpl_fail ("'x' is undefined") when v is undefined: for builtins that,
 * like Python, refuse an undefined value even when given a default. */
_Noreturn void tpl_fail_undefined(struct tpl_ctx *cx, struct tv v);
static inline void tpl_check_defined(struct tpl_ctx *cx, struct tv v)
{
	if (v.t == TV_UNDEFINED)
		tpl_fail_undefined(cx, v);
}
/* Count one loop iteration against the bound (tpl_fail when over); it is
 * TPL_W_ITEM of work too. */
void tpl_tick(struct tpl_ctx *cx);

/* Call fn(p) when the render ends, however it ends. Allocate the node
 * (tpl_alloc) before taking what it releases, then link it in: running
 * out of memory in between would strand the reference. */
static inline void tpl_on_end(struct tpl_ctx *cx, struct tpl_cleanup *c, void (*fn)(void *),
			      void *p)
{
	c->fn = fn;
	c->p = p;
	c->next = cx->cleanups;
	cx->cleanups = c;
}
/* The render's variables (for Home Assistant's functions). */
const struct mqb_tpl_vars *tpl_vars(struct tpl_ctx *cx);
/* Report an entity id read (dependency tracking). */
void tpl_read_entity(struct tpl_ctx *cx, const char *entity_id);

/* Items of an iterable as a list (str: characters, dict: keys,
 * undefined: empty); a render error for what cannot be iterated. */
struct tv tpl_iterate(struct tpl_ctx *cx, struct tv v);
/* Jinja's getattr-then-getitem (x.name), and getitem-then-getattr (x[k]). */
struct tv tpl_getattr(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len);
struct tv tpl_getitem(struct tpl_ctx *cx, struct tv obj, struct tv key);
/* A dotted attribute path ("a.b.0") as selectattr/map/sort take it. */
struct tv tpl_getattr_path(struct tpl_ctx *cx, struct tv obj, const struct tv_str *path);

/* mqb_template_render with a work budget of max_work (mqb_template_render
 * gives TPL_MAX_WORK); *work, when not NULL, is set to the work the render
 * did, whether it succeeded or not. For tests, benchmarks and fuzzing. */
int tpl_render(const struct mqb_template *t, const struct mqb_tpl_vars *vars,
	       const struct mqb_tpl_limits *lim, uint64_t max_work, char **out, size_t *len,
	       struct mqb_tpl_error *err, uint64_t *work);

/* ---- builtins ----------------------------------------------------------- */

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

/* Positional argument i, else the keyword argument name, else NULL. */
static inline const struct tv *tpl_arg(const struct tv *args, size_t nargs,
				       const struct tpl_kwarg *kw, size_t nkw, size_t i,
				       const char *name)
{
	if (i < nargs)
		return &args[i];
	for (size_t k = 0; k < nkw; k++)
		if (strcmp(kw[k].name, name) == 0)
			return &kw[k].v;
	return NULL;
}

/* The builtin of that name and kind. Home Assistant's table is searched
 * before Jinja's, but none has an entry the other has too: one would
 * never be reached. */
const struct tpl_builtin *tpl_builtin_find(const char *name, size_t len, enum tpl_kind kind);
/* Each file's table, NULL-terminated by name. */
extern const struct tpl_builtin tpl_jinja_builtins[];
extern const struct tpl_builtin tpl_text_builtins[];
extern const struct tpl_builtin tpl_collection_builtins[];
extern const struct tpl_builtin tpl_ha_builtins[];
extern const struct tpl_builtin tpl_ha_time_builtins[];
extern const struct tpl_builtin tpl_ha_regex_builtins[];
extern const struct tpl_builtin tpl_ha_math_builtins[];
extern const struct tpl_builtin tpl_ha_registry_builtins[];
extern const struct tpl_builtin tpl_ha_location_builtins[];
extern const struct tpl_builtin tpl_ha_translate_builtins[];
/* Every table, NULL-terminated, in the order they are searched. */
extern const struct tpl_builtin *const tpl_builtin_tables[];
/* Call a builtin with argument-count checks. */
struct tv tpl_call_builtin(struct tpl_ctx *cx, const struct tpl_builtin *b, const struct tv *args,
			   size_t nargs, const struct tpl_kwarg *kw, size_t nkw);

/* ---- callable values ----------------------------------------------------- */

enum tpl_func_kind {
	FN_BUILTIN,     /* bi as a value: float, or a filter map('f') names */
	FN_MACRO,       /* a macro, or a call block's caller */
	FN_METHOD,      /* self.name, a method not yet called (d.items) */
	FN_RETURNS,     /* as_function's `returns`: stores its argument in *cell */
	FN_AS_FUNCTION, /* as_function(self): self called with returns=, its value */
	FN_JOINER,      /* joiner(self): "" the first time, then self */
	FN_CYCLER,      /* cycler(*self): .next(), .current, .reset() */
};

struct tpl_func {
	unsigned char kind;          /* enum tpl_func_kind */
	bool context;                /* FN_MACRO: its template sees the render's variables */
	const struct tpl_builtin *bi; /* FN_BUILTIN */
	const struct stmt *def;      /* FN_MACRO: the S_MACRO or S_CALLBLOCK */
	const struct mqb_template *t; /* FN_MACRO: the template it is in */
	/* FN_MACRO: the frame it was defined in and the scope there (its
	 * free names are read there when it is called, as a Python
	 * closure reads them) */
	struct tv *frame;
	unsigned depth;
	struct tv self;              /* FN_METHOD, FN_AS_FUNCTION, FN_JOINER, FN_CYCLER */
	const struct tv_str *name;   /* FN_METHOD */
	struct tv *cell;             /* FN_RETURNS; FN_JOINER, FN_CYCLER: their state */
};
static inline struct tv tv_func(const struct tpl_func *f)
{
	return (struct tv){ .t = TV_FUNC, .fn = f };
}
/* A builtin as a value. */
struct tv tpl_builtin_value(struct tpl_ctx *cx, const struct tpl_builtin *b);
/* Call a value (eval.c): a render error when it is not callable. */
struct tv tpl_call_value(struct tpl_ctx *cx, struct tv f, const struct tv *args, size_t nargs,
			 const struct tpl_kwarg *kw, size_t nkw);
/* Whether v can be called (Jinja's callable test). */
bool tpl_is_callable(struct tv v);
/* A method of v by name, as a value (Jinja's getattr finds the method
 * before the item: value_json.values is dict.values). Undefined when v
 * has no such method. */
struct tv tpl_method_value(struct tpl_ctx *cx, struct tv v, const char *name, size_t len);
/* Call v.name(args) (eval.c). */
struct tv tpl_call_method(struct tpl_ctx *cx, struct tv obj, const struct tv_str *name,
			  const struct tv *args, size_t nargs, const struct tpl_kwarg *kw, size_t nkw);

struct node;
struct stmt;
/* Run statements in the current frame (eval.c); the same, the output they
 * write taken back out and returned as a string; evaluate an expression. */
void tpl_exec(struct tpl_ctx *cx, const struct stmt *s);
struct tv tpl_exec_capture(struct tpl_ctx *cx, const struct stmt *body);
struct tv tpl_eval(struct tpl_ctx *cx, const struct node *n);
/* A for loop's `loop`: its attributes, and loop(x) in a recursive loop. */
struct tv tpl_loop_getattr(struct tpl_ctx *cx, struct tv loop, const char *name, size_t len);
struct tv tpl_loop_call(struct tpl_ctx *cx, struct tpl_loop *lp, const struct tv *args,
			size_t nargs);
const struct tv_str *tpl_loop_str(struct tpl_ctx *cx, struct tv loop);
/* Whether a TV_STATE is states.<domain> rather than one state (ha.c). */
bool tpl_state_is_domain(struct tv v);
/* call.c: cycler's methods, a callable's attributes and str(). */
struct tv tpl_func_method(struct tpl_ctx *cx, struct tv f, const char *name, const struct tv *args,
			  size_t nargs, const struct tpl_kwarg *kw, size_t nkw);
struct tv tpl_func_getattr(struct tpl_ctx *cx, struct tv f, const char *name, size_t len);
const struct tv_str *tpl_func_str(struct tpl_ctx *cx, struct tv f);
/* as_function(macro), joiner(sep), cycler(*items). */
struct tv tpl_make_as_function(struct tpl_ctx *cx, struct tv macro);
struct tv tpl_make_joiner(struct tpl_ctx *cx, struct tv sep);
struct tv tpl_make_cycler(struct tpl_ctx *cx, const struct tv *items, size_t n);
/* An imported template, run once a render (with the render's variables
 * when context), its exported names, and its output. */
const struct tpl_modinst *tpl_module_instance(struct tpl_ctx *cx, const struct mqb_template *t,
					      bool context);
struct tv tpl_module_get_attr(struct tpl_ctx *cx, const struct tpl_modinst *m, const char *name,
			      size_t len);
struct tv tpl_module_output(const struct tpl_modinst *m);
/* {% include %}: t rendered now, seeing (with context) the render's
 * variables and the names the including frame has set; its output. */
struct tv tpl_include(struct tpl_ctx *cx, const struct mqb_template *t, bool context);
/* A set's union(), intersection() ... methods (collection.c). */
struct tv tpl_set_method(struct tpl_ctx *cx, struct tv set, const char *name, const struct tv *args,
			 size_t nargs);

/* str methods ('a,b'.split(','), s.startswith(...)): builtins.c. */
struct tv tpl_str_method(struct tpl_ctx *cx, struct tv s, const char *name, const struct tv *args,
			 size_t nargs, const struct tpl_kwarg *kw, size_t nkw);
/* Whether str has a method of that name (builtins.c). */
bool tpl_str_has_method(const char *name, size_t len);
/* Python's `fmt % args` (args a tuple, a dict for %(name)s, or one value)
 * and fmt.format(*args, **kw): format.c. */
struct tv tpl_percent_format(struct tpl_ctx *cx, struct tv fmt, struct tv args);
struct tv tpl_str_format(struct tpl_ctx *cx, const struct tv_str *fmt, const struct tv *args,
			 size_t nargs, const struct tpl_kwarg *kw, size_t nkw);

/* Attribute access on values the engine does not own (states.sensor.x,
 * a state's .state/.attributes/.last_changed, datetime .hour ...):
 * ha.c answers; undefined when it does not know the name. */
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
 * conditions; text.h's, which modules use too. */
static inline bool tpl__parse_iso(const char *s, double *ts, int32_t *off, bool *aware)
{
	return mqb_parse_datetime(s, ts, off, aware);
}
/* A string literal's text between its quotes, s[0..n), with Python's
 * backslash escapes decoded into o (at least n bytes: never longer).
 * Returns the length written. Shared with native results (native.c). */
size_t tpl__unescape(const char *s, size_t n, char *o);
/* A global name's constant value (Home Assistant's e, pi, tau). */
bool tpl_global_constant(const char *name, size_t len, struct tv *out);
/* The value of the name `states` (callable and subscriptable). */
struct tv tpl_ha_states_object(struct tpl_ctx *cx);
/* A state object (ha.c makes them), or (domain != NULL) states.<domain>. */
struct tv_state {
	const char *domain;         /* NUL-terminated; NULL for a state */
	const char *entity_id;
	size_t domain_len;
	const char *state;
	struct tv attributes;       /* TV_DICT */
	double last_changed, last_updated;
};

/* The state an argument names: a state object as it is, an entity id's
 * state (the read reported), else None (ha.c). */
struct tv tpl_ha_state_of(struct tpl_ctx *cx, struct tv v);
/* expand(a...): the states, groups expanded, sorted, each once (ha.c). */
struct tv tpl_ha_expand(struct tpl_ctx *cx, const struct tv *a, size_t na);
/* The order of keys[0..n) (stable, by tv_compare): indices, in the arena. */
size_t *tpl_sort_index(struct tpl_ctx *cx, const struct tv *keys, size_t n, bool reverse);

/* ---- what Home Assistant's files share (ha.c, ha_time.c, ha_regex.c) ---- */

/* Fail on a keyword argument not in names (NULL-terminated). Most calls
 * have none, and the names array is not even built for them. */
#define tpl_kw_check(cx, fn, kw, nkw, names) \
	do { if (nkw) tpl_kw_check_names(cx, fn, kw, nkw, names); } while (0)
#define TPL_KW(...) ((const char *const[]){ __VA_ARGS__, NULL })
void tpl_kw_check_names(struct tpl_ctx *cx, const char *fn, const struct tpl_kwarg *kw,
			size_t nkw, const char *const *names);
/* str(v) as a C string. */
const char *tpl_str_of(struct tpl_ctx *cx, struct tv v);
/* "fn got invalid input 'v' and no default was specified" */
_Noreturn void tpl_no_default(struct tpl_ctx *cx, const char *fn, struct tv v);
/* Python's float(str), any length (ha.c). */
bool tpl_py_float(struct tpl_ctx *cx, const char *s, size_t n, double *out);
/* Python's float(v) for a number or a string. */
static inline bool tpl_to_double(struct tpl_ctx *cx, struct tv v, double *out)
{
	if (tv_is_number(v)) {
		*out = tv_as_double(v);
		return true;
	}
	return v.t == TV_STR && tpl_py_float(cx, v.s->s, v.s->len, out);
}
static inline bool tpl_name_is(const char *name, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(name, lit, len) == 0;
}
/* Seconds east of UTC of local time at ts. */
static inline int32_t tpl_local_offset(double ts)
{
	return mqb_local_utcoffset(ts);
}
/* A datetime's (or date's) fields in its own offset, and microseconds. */
struct tm;
void tpl_dt_split(struct tv v, struct tm *tm, int *usec);
/* dt.isoformat(sep) and str(timedelta); a date's isoformat. */
const struct tv_str *tpl_dt_iso(struct tpl_ctx *cx, struct tv v, char sep);
const struct tv_str *tpl_td_str(struct tpl_ctx *cx, double td);
/* Whether pattern (Python's re syntax, cached) matches s[0..n) from its
 * start to its end (re.fullmatch); *caps as tpl_rx_search sets it. */
bool tpl_regex_match(struct tpl_ctx *cx, const char *pattern, bool icase, const char *s, size_t n,
		     const int32_t **caps);
/* Python's set of v[0..n) (collection.c). */
struct tv tpl_make_set(struct tpl_ctx *cx, const struct tv *v, size_t n);
/* The digests of hash.c: out gets 16, 20, 32 or 64 bytes; their number. */
enum tpl_hash { TPL_MD5, TPL_SHA1, TPL_SHA256, TPL_SHA512 };
size_t tpl_hash(enum tpl_hash h, const char *s, size_t n, unsigned char *out);
/* Compiled regexes alive now: those cached and those renders hold
 * (ha_regex.c). For tests: the cache must free what it evicts. */
size_t tpl_regex_live(void);

/* regex.c: Python's re syntax compiled for a Pike VM. tpl_rx_compile
 * returns NULL with *err set when the pattern is refused; the program is
 * mqb__malloc'd (free it with tpl_rx_free) and immutable, so renders on
 * several threads may share it. Compiling charges no work: a pattern is at
 * most 16 KiB and its program 4,096 instructions, and the caller charges
 * for each use alike, cached or not. */
struct rx_prog;
struct rx_vm;
struct rx_prog *tpl_rx_compile(struct tpl_ctx *cx, const char *pattern, size_t len, bool icase,
			       const char **err);
void tpl_rx_free(struct rx_prog *prog);
size_t tpl_rx_groups(const struct rx_prog *prog);
size_t tpl_rx_size(const struct rx_prog *prog);   /* instructions */
/* A matcher's memory for prog, in the render's arena, reused by searches. */
struct rx_vm *tpl_rx_vm(struct tpl_ctx *cx, const struct rx_prog *prog);
/* Search s[0..len) from start for the leftmost match (anchored: one that
 * begins at start), as Python's re.search (re.match); advance refuses an
 * empty match at start, as findall and sub do after an empty match there.
 * *caps then holds 2 * (groups + 1) byte offsets, group k at [2k, 2k + 1],
 * -1 for a group that took no part; valid until the next search. */
bool tpl_rx_search(struct tpl_ctx *cx, struct rx_vm *vm, const char *s, size_t len, size_t start,
		   bool anchored, bool advance, const int32_t **caps);
/* Date and time arithmetic: true with *out set when op ('+' or '-')
 * applies to a and b (ha_time.c). */
bool tpl_time_binop(struct tpl_ctx *cx, char op, struct tv a, struct tv b, struct tv *out);
/* markupsafe's escape(): Markup's text as it is, anything else str()
 * escaped; the caller marks the result Markup (tv_markup). */
struct tv tpl_escape(struct tpl_ctx *cx, struct tv v);
/* A datetime's or timedelta's attributes and methods (ha_time.c). */
struct tv tpl_ha_time_getattr(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len);
struct tv tpl_ha_time_call_method(struct tpl_ctx *cx, struct tv obj, const char *name,
				  size_t len, const struct tv *args, size_t nargs,
				  const struct tpl_kwarg *kw, size_t nkw);

/* ---- the compiled form (lex.c, parse.c, eval.c) ------------------------- */

/* Expression nodes ("node kinds"). What a, b, c and args hold: */
enum nk {
	N_CONST,   /* k */
	N_NAME,    /* slot: the name's index in mqb_template.names */
	N_LIST, N_TUPLE,   /* args[nargs] */
	N_DICT,    /* args: key, value, key, value ... */
	N_ATTR,    /* a.name */
	N_ITEM,    /* a[b] */
	N_SLICE,   /* a[b:c:args[0]], any of the three may be NULL */
	N_CALL,    /* bi(args); nkw keyword args after the nargs positional ones, named kwn */
	N_METHOD,  /* a.name(args) */
	N_FILTER,  /* bi(args[0], ...): args[0] is the value filtered */
	N_TEST,    /* bi(args[0], ...), negated when neg ("is not") */
	N_NOT, N_NEG, N_POS,  /* a */
	N_BIN,     /* a op b */
	N_AND, N_OR,          /* a, b: b is evaluated only when needed */
	N_CMP,     /* args[0] ops[0] args[1] ops[1] ... (Python's chained 1 < x < 3) */
	N_COND,    /* b if a else c (c NULL: undefined) */
	N_DYNCALL, /* a(args): a call of a value (a macro, a variable holding a
		    * function); bi, when set, is the builtin of a's name, called
		    * when the name holds nothing */
	N_CAPTURED, /* the text a {% filter %} block or {% set x | f %} captured */
};
/* Calls (N_CALL, N_DYNCALL, N_METHOD, N_FILTER, N_TEST) keep *args in b and
 * **kwargs in c: f(*a, **k). */

enum op {
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT,
	OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN,
};

struct node {
	unsigned char kind, op;      /* enum nk; enum op for N_BIN */
	bool star;                   /* a call with *args or **kwargs (b, c) */
	bool neg;                    /* N_TEST: "is not" */
	unsigned line, col;          /* for render errors */
	unsigned slot;               /* N_NAME */
	struct node *a, *b, *c;
	struct node **args;          /* N_LIST/TUPLE/DICT (k,v pairs), calls, N_CMP operands */
	unsigned char *ops;          /* N_CMP */
	unsigned nargs, nkw;
	const struct tv_str **kwn;   /* keyword names (after the positional args) */
	const struct tpl_builtin *bi; /* N_CALL, N_FILTER, N_TEST: found at compile time */
	const struct tv_str *name;   /* N_ATTR, N_METHOD */
	struct tv k;                 /* N_CONST: a value in the compiled template */
};

/* Statements ("statement kinds"); a body is a list linked by next. */
enum sk {
	S_TEXT,      /* text */
	S_OUT,       /* {{ e }} */
	S_IF,        /* if e: body, else els (elif is an S_IF in els) */
	S_FOR,       /* for targets in e [if cond]: body, else els */
	S_SET,       /* set targets = e */
	S_SETATTR,   /* set targets[0].attr = e (a namespace) */
	S_SETBLOCK,  /* set targets[0]: body's output, through the filters e when set */
	S_BREAK, S_CONTINUE,
	S_MACRO,     /* macro m: targets[0] = a function of m's params running body */
	S_CALLBLOCK, /* call(m's params) e: e, a call, given caller = body as macro m */
	S_DO,        /* do e */
	S_WITH,      /* with targets = exprs: body (its own scope) */
	S_FILTERBLOCK, /* filter: body's output through e (on N_CAPTURED) */
	S_IMPORT,    /* import mod as targets[0], or from mod import names as targets */
	S_INCLUDE,   /* include mod (NULL: none found, ignore missing): its output */
};

/* A macro's (or a call block's caller's) signature. */
struct macro_def {
	const struct tv_str *name;   /* "caller" for a call block */
	unsigned nparams;
	unsigned *params;            /* slots */
	const struct tv_str **pnames;
	struct node **defaults;      /* by param; NULL: none */
	unsigned defaults_cost;      /* nodes of the defaults (work) */
	/* UINT_MAX unless the body names them (Jinja's macros take extra
	 * arguments only then) */
	unsigned varargs_slot, kwargs_slot, caller_slot;
};

struct stmt {
	unsigned char kind;          /* enum sk */
	/* S_FOR: whether the body assigns (its assignments are undone at
	 * each iteration, Jinja's scoping) and reads loop (the loop object
	 * is built only then): both decided at compile time to keep simple
	 * loops cheap */
	bool has_set, uses_loop;
	bool recursive;              /* S_FOR: for ... recursive (loop(x) runs it on x) */
	unsigned line, col;
	struct stmt *next;
	const struct tv_str *text;   /* S_TEXT */
	struct node *e, *cond;
	struct stmt *body, *els;
	unsigned *targets;           /* slots assigned: S_FOR, S_SET ("a, b = ...") */
	unsigned ntargets;
	unsigned loop_slot;          /* S_FOR: the slot of the name "loop" */
	/* the nodes of e and of cond: what evaluating them costs, charged
	 * as work once per statement (per item for cond) rather than per node */
	unsigned cost, cond_cost;
	const struct tv_str *attr;   /* S_SETATTR */
	struct macro_def *m;         /* S_MACRO, S_CALLBLOCK */
	struct node **exprs;         /* S_WITH: by target */
	struct mqb_template *mod;    /* S_IMPORT, S_INCLUDE: the template imported */
	const struct tv_str **names; /* S_IMPORT (from): names imported, by target */
	bool context;                /* S_IMPORT, S_INCLUDE: with context */
};

/* The compiled template's memory: blocks freed together. */
struct cblk {
	struct cblk *next;
	max_align_t mem[];
};

/* Every name the template uses has a slot: a render resolves it on first
 * use (value, value_json, states ...) and assignments overwrite it, so a
 * variable is an array index, not a lookup by name. */
struct mqb_template {
	struct cblk *blocks;
	struct stmt *body;
	const struct tv_str **names;  /* by slot */
	const struct tpl_builtin **globals; /* by slot: the function of that name, or NULL */
	unsigned nslots;
	bool is_static, uses_now;
	/* value_json is read once, outside loops and macros: a member read
	 * from the payload's text (tpl_json_member) instead of the whole
	 * payload made into a dict */
	bool value_json_once;
	unsigned value_json_refs; /* while parsing: its uses, 2 in a loop or macro */
	const struct tv_str *static_text; /* is_static: the whole output */
	unsigned refs;                /* mqb_template_free drops one (atomic) */
	/* what an import of this template finds: its top-level macros and
	 * variables (names without a leading underscore), by slot */
	unsigned *exports;
	unsigned nexports;
	/* the templates this one imports, held until it is freed */
	struct mqb_template **imports;
	unsigned nimports;
};
/* The slot a template exports under name, or UINT_MAX. */
unsigned tpl_export_slot(const struct mqb_template *t, const char *name, size_t len);
/* custom_templates/ (module.c): the compiled template imported as name,
 * with a reference the caller releases (mqb_template_free); NULL with
 * err set (its message) when there is none or it does not compile, and
 * *self true when name is the file being compiled now (which cannot
 * hold itself). */
struct mqb_template *tpl_module_get(const char *name, size_t len, char *err, size_t errlen,
				   bool *self);
/* A reference more (mqb_template_free releases it). */
void tpl_template_ref(struct mqb_template *t);

/* Tokens: text between tags, tag delimiters, and what is inside tags. */
enum tk { T_DATA, T_VBEGIN, T_VEND, T_BBEGIN, T_BEND, T_NAME, T_STR, T_INT, T_FLOAT, T_OP, T_EOF };

struct tok {
	unsigned char kind;          /* enum tk */
	unsigned line, col;
	const char *s;               /* the source text */
	size_t n;
	const struct tv_str *str;    /* T_STR unescaped, T_DATA with \r\n as \n */
	int64_t i;                   /* T_INT */
	double f;                    /* T_FLOAT */
};

/* Compilation: the lexer fills toks, the parser walks them from pos.
 * Errors longjmp to jb with code and err set. */
struct parser {
	const char *src;
	size_t len;
	struct tok *toks;
	size_t ntok, captok, pos;
	jmp_buf jb;
	int code;
	struct mqb_tpl_error *err;
	struct mqb_template *t;
	size_t namecap;        /* room in t->names */
	unsigned *index;       /* t->names by hash: slot + 1, 0 empty */
	size_t index_cap;
	unsigned depth;        /* expression nesting, bounded (no stack overflow) */
	unsigned stmt_depth;   /* block nesting, bounded */
	unsigned loop_depth;   /* for bodies being parsed ({% break %} needs one) */
	unsigned macro_depth;  /* macro bodies being parsed (their own set scope) */
	unsigned char *slot_flags; /* by slot: SLOT_* (namecap entries) */
	/* calls of a name (N_CALL), resolved when the whole text is read: a
	 * name the template assigns anywhere is called as a value */
	struct node **calls;
	size_t ncalls, capcalls;
	/* names a macro imports from the template itself ({% from 'me.jinja'
	 * import m %} in me.jinja), checked once its exports are known */
	struct { const struct tv_str *name; unsigned line, col; } *self_names;
	size_t nself_names;
	/* modules imported as a name ({% import 'x' as y %}), by slot */
	struct { unsigned slot; struct mqb_template *mod; } *aliases;
	size_t naliases;
	/* where() counts lines from the last position asked, not from the
	 * start: tokens come in order, so the whole text is read once */
	size_t lpos;
	unsigned lline, lcol;
};

/* lex.c: the lexer, and the compile-time allocation and errors the parser
 * shares with it. */
void *tpl_cmalloc(struct parser *p, size_t n);
_Noreturn void tpl_perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
_Noreturn void tpl_pnomem(struct parser *p);
const struct tv_str *tpl_cstr(struct parser *p, const char *s, size_t n);
/* The whole text into p->toks, ending with T_EOF. */
void tpl_lex(struct parser *p);

#endif
