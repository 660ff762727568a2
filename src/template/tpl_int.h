/* SPDX-License-Identifier: MIT */
/* The template engine's private insides shared by tpl.c, tpl_value.c and
 * tpl_builtins.c (not by tpl_ha.c, which sees only tpl.h). */
#ifndef MQB_TPL_INT_H
#define MQB_TPL_INT_H

#include <setjmp.h>

#include "lib/dtoa.h"
#include "template/tpl.h"

/* A slot not yet looked up (never visible outside the evaluator). */
#define TV_UNRESOLVED ((enum tv_type)0x7f)

/* Every list is allocated as this (tv_list_new): Python's tuples are lists
 * with the flag set, and differ only in repr, type name and equality. */
struct tv_list_x {
	struct tv_list l;
	bool tuple;
};
static inline bool tv_is_tuple(struct tv v)
{
	return v.t == TV_LIST && ((const struct tv_list_x *)(const void *)v.l)->tuple;
}
/* Mark a fresh list as a tuple (returns it). */
static inline struct tv tv_make_tuple(struct tv v)
{
	((struct tv_list_x *)(void *)v.l)->tuple = true;
	return v;
}

struct tpl_blk {
	struct tpl_blk *next;
	size_t cap;
	max_align_t mem[];
};

struct tpl_seen {
	struct tpl_seen *next;
	const char *id;
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
	size_t max_output;
	unsigned line, col;              /* where evaluation is, for errors */
	char *cur, *end;                 /* arena bump pointer */
	struct tpl_blk *blocks;          /* malloc'd blocks, freed at the end */
	char *out;
	size_t outlen, outcap;
	bool out_heap;
	struct tpl_seen *seen;           /* entity ids reported (once each) */
	size_t heap_used, max_heap;      /* arena blocks taken, and the bound */
	enum loop_ctl loop_ctl;          /* zeroed with the fields above */
	struct tv *slots;
	json_t *parsed;                  /* value parsed by us: decref at the end */
	bool value_json_done;
	struct tv value_json;
	jmp_buf jb;                      /* last: the render's memset stops before */
};

/* Parse JSON text straight into arena values (src/tpl_json.c), as Python's
 * json.loads would; false (and *out untouched) when it is not JSON. */
bool tpl_json_parse(struct tpl_ctx *cx, const char *text, size_t len, struct tv *out);

_Noreturn void tpl_fail_code(struct tpl_ctx *cx, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Python's repr() of v (strings quoted). */
const struct tv_str *tv_repr(struct tpl_ctx *cx, struct tv v);
/* Python's type name, for messages. */
const char *tv_type_name(struct tv v);
/* Compare with the operator named in the error. */
int tv_compare_op(struct tpl_ctx *cx, struct tv a, struct tv b, const char *op);
/* Numbers: true for bool/int/float; as double. */
bool tv_is_number(struct tv v);
double tv_as_double(struct tv v);

/* Growable byte buffer in the arena. */
struct tpl_buf {
	char *p;
	size_t len, cap;
};
void tpl_buf_add(struct tpl_ctx *cx, struct tpl_buf *b, const char *s, size_t n);
void tpl_buf_addc(struct tpl_ctx *cx, struct tpl_buf *b, char c);
void tpl_buf_str(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v); /* str(v) */
const struct tv_str *tpl_buf_done(struct tpl_ctx *cx, struct tpl_buf *b);

static inline struct tv tv_int(int64_t i) { struct tv v = { .t = TV_INT }; v.i = i; return v; }
static inline struct tv tv_float(double f) { struct tv v = { .t = TV_FLOAT }; v.f = f; return v; }
static inline struct tv tv_bool(bool b) { struct tv v = { .t = TV_BOOL }; v.b = b; return v; }
static inline struct tv tv_none(void) { struct tv v = { .t = TV_NONE }; return v; }
static inline struct tv tv_undef(void) { struct tv v = { .t = TV_UNDEFINED }; v.p = NULL; return v; }
static inline struct tv tv_strv(const struct tv_str *s) { struct tv v = { .t = TV_STR }; v.s = s; return v; }
struct tv tv_cstr(struct tpl_ctx *cx, const char *s);

/* Items of an iterable as a list (str: characters, dict: keys,
 * undefined: empty); a render error for what cannot be iterated. */
struct tv tpl_iterate(struct tpl_ctx *cx, struct tv v);
/* Jinja's getattr-then-getitem (x.name), and getitem-then-getattr (x[k]). */
struct tv tpl_getattr(struct tpl_ctx *cx, struct tv obj, const char *name, size_t len);
struct tv tpl_getitem(struct tpl_ctx *cx, struct tv obj, struct tv key);
/* A dotted attribute path ("a.b.0") as selectattr/map/sort take it. */
struct tv tpl_getattr_path(struct tpl_ctx *cx, struct tv obj, const struct tv_str *path);
/* Call a builtin with argument-count checks. */
struct tv tpl_call_builtin(struct tpl_ctx *cx, const struct tpl_builtin *b, const struct tv *args,
			   size_t nargs, const struct tpl_kwarg *kw, size_t nkw);
/* A string literal's text between its quotes, s[0..n), with Python's
 * backslash escapes decoded into o (at least n bytes: never longer).
 * Returns the length written. */
size_t tpl__unescape(const char *s, size_t n, char *o);
/* UTF-8 code points in s. */
size_t tpl_utf8_len(const char *s, size_t n);

#endif
