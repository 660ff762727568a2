/* SPDX-License-Identifier: MIT */
/* Callable values: macros (with their frames, parameters, varargs, kwargs
 * and caller), builtins and bound methods as values, as_function's
 * wrappers, joiner and cycler, and imported templates (modules), each run
 * once a render in a frame of its own. */
#include "lib/internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "template/tpl.h"

/* ---- frames ----------------------------------------------------------------- */

/* A frame's slots given back (nothing can reach them any more) wait here
 * for the next call needing as many: a loop calling a macro a hundred
 * thousand times must not take a hundred thousand frames of memory. */
struct spare {
	struct spare *next;
	unsigned ns;
};

static struct tv *slots_get(struct tpl_ctx *cx, unsigned ns)
{
	tpl_work(cx, ns);
	for (struct spare **p = &cx->spare; *p; p = &(*p)->next) {
		tpl_work(cx, TPL_W_ITEM);
		if ((*p)->ns == ns) {
			struct spare *s = *p;
			*p = s->next;
			return (struct tv *)(void *)s;
		}
	}
	return tpl_alloc(cx, (ns ? ns : 1) * sizeof(struct tv));
}

static void slots_put(struct tpl_ctx *cx, struct tv *slots, unsigned ns)
{
	struct spare *s = (struct spare *)(void *)slots;
	s->ns = ns;
	s->next = cx->spare;
	cx->spare = s;
}

struct frame_save {
	struct tv *slots;
	const struct mqb_template *t;
	bool context, captured;
	unsigned depth;
};

static void frame_enter(struct tpl_ctx *cx, struct frame_save *sv, struct tv *slots,
			const struct mqb_template *t, bool context)
{
	*sv = (struct frame_save){ cx->slots, cx->t, cx->context, cx->frame_captured,
				   cx->scope_depth };
	cx->slots = slots;
	cx->t = t;
	cx->context = context;
	cx->frame_captured = false;
	cx->scope_depth = 0;
}

static void frame_leave(struct tpl_ctx *cx, const struct frame_save *sv)
{
	cx->slots = sv->slots;
	cx->t = sv->t;
	cx->context = sv->context;
	cx->frame_captured = sv->captured;
	cx->scope_depth = sv->depth;
}

/* ---- macros ----------------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
_Noreturn static void macro_fail(struct tpl_ctx *cx, const struct macro_def *m, const char *fmt, ...)
{
	char buf[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	tpl_fail(cx, "macro '%s' %s", m->name->s, buf);
}

static struct tv call_macro(struct tpl_ctx *cx, const struct tpl_func *f, const struct tv *args,
			    size_t nargs, const struct tpl_kwarg *kw, size_t nkw)
{
	const struct macro_def *m = f->def->m;
	const struct mqb_template *t = f->t;
	unsigned ns = t->nslots;
	tpl_work(cx, TPL_W_NODE * (1 + (uint64_t)m->defaults_cost + nargs + nkw));
	if (nargs > m->nparams && m->varargs_slot == UINT_MAX)
		macro_fail(cx, m, "takes not more than %u argument(s)", m->nparams);
	/* its free names read the frame it was defined in, as that scope
	 * stands: from before a loop it is called in, when defined outside */
	const struct tv *view = f->frame;
	for (const struct tpl_scope *sc = cx->scopes; sc; sc = sc->up) {
		tpl_work(cx, 1);
		if (sc->frame == f->frame && sc->depth == f->depth + 1) {
			view = sc->saved;
			break;
		}
	}
	struct tv *slots = slots_get(cx, ns);
	memcpy(slots, view, ns * sizeof *slots);
	/* the arguments, bound before the frame is entered: they were
	 * evaluated by the caller already */
	bool *given = tpl_alloc(cx, m->nparams + 1);
	memset(given, 0, m->nparams + 1);
	for (size_t i = 0; i < nargs && i < m->nparams; i++) {
		slots[m->params[i]] = args[i];
		given[i] = true;
	}
	struct tv extra_kw = tv_undef();
	if (m->kwargs_slot != UINT_MAX)
		extra_kw = tv_dict_new(cx, nkw);
	struct tv caller = tv_undef();
	for (size_t k = 0; k < nkw; k++) {
		unsigned i = 0;
		while (i < m->nparams && strcmp(m->pnames[i]->s, kw[k].name) != 0)
			i++;
		tpl_work(cx, i + 1);
		if (i < m->nparams) {
			if (given[i])
				macro_fail(cx, m, "got multiple values for argument '%s'", kw[k].name);
			slots[m->params[i]] = kw[k].v;
			given[i] = true;
		} else if (m->caller_slot != UINT_MAX && strcmp(kw[k].name, "caller") == 0) {
			caller = kw[k].v;
		} else if (m->kwargs_slot != UINT_MAX) {
			tv_dict_set(cx, &extra_kw, tv_cstr(cx, kw[k].name), kw[k].v);
		} else {
			macro_fail(cx, m, "takes no keyword argument '%s'", kw[k].name);
		}
	}
	if (m->varargs_slot != UINT_MAX)
		slots[m->varargs_slot] = tv_make_tuple(nargs > m->nparams
			? tv_list_of(cx, args + m->nparams, nargs - m->nparams) : tv_list_new(cx, 0));
	if (m->kwargs_slot != UINT_MAX)
		slots[m->kwargs_slot] = extra_kw;
	if (m->caller_slot != UINT_MAX)
		slots[m->caller_slot] = caller;
	struct frame_save sv;
	frame_enter(cx, &sv, slots, t, f->context);
	/* defaults, in order, each seeing the parameters before it */
	for (unsigned i = 0; i < m->nparams; i++) {
		if (given[i])
			continue;
		struct tv d = tv_undef();
		d.p = m->pnames[i];
		if (m->defaults[i])
			d = tpl_eval(cx, m->defaults[i]);
		slots[m->params[i]] = d;
	}
	struct tv r = tpl_exec_capture(cx, f->def->body);
	bool captured = cx->frame_captured;
	frame_leave(cx, &sv);
	if (!captured)
		slots_put(cx, slots, ns);
	return r;
}

/* ---- callable values --------------------------------------------------------- */

static struct tpl_func *new_func(struct tpl_ctx *cx, enum tpl_func_kind kind)
{
	struct tpl_func *f = tpl_alloc(cx, sizeof *f);
	memset(f, 0, sizeof *f);
	f->kind = (unsigned char)kind;
	return f;
}

struct tv tpl_builtin_value(struct tpl_ctx *cx, const struct tpl_builtin *b)
{
	struct tpl_func *f = new_func(cx, FN_BUILTIN);
	f->bi = b;
	return tv_func(f);
}

bool tpl_is_callable(struct tv v)
{
	if (v.t == TV_CALLABLE)
		return true;
	if (v.t == TV_LOOP)
		return v.lp != NULL;
	return v.t == TV_FUNC && v.fn->kind != FN_CYCLER;
}

struct tv tpl_make_as_function(struct tpl_ctx *cx, struct tv macro)
{
	if (!tpl_is_callable(macro)) {
		tpl_check_defined(cx, macro);
		tpl_fail(cx, "as_function expects a macro, not %s", tv_type_name(macro));
	}
	struct tpl_func *f = new_func(cx, FN_AS_FUNCTION);
	f->self = macro;
	return tv_func(f);
}

struct tv tpl_make_joiner(struct tpl_ctx *cx, struct tv sep)
{
	struct tpl_func *f = new_func(cx, FN_JOINER);
	f->self = sep;
	f->cell = tpl_alloc(cx, sizeof *f->cell);
	*f->cell = tv_bool(false);
	return tv_func(f);
}

struct tv tpl_make_cycler(struct tpl_ctx *cx, const struct tv *items, size_t n)
{
	struct tpl_func *f = new_func(cx, FN_CYCLER);
	f->self = tv_list_of(cx, items, n);
	f->cell = tpl_alloc(cx, sizeof *f->cell);
	*f->cell = tv_int(0);
	return tv_func(f);
}

struct tv tpl_call_value(struct tpl_ctx *cx, struct tv v, const struct tv *args, size_t nargs,
			 const struct tpl_kwarg *kw, size_t nkw)
{
	if (v.t == TV_CALLABLE)  /* states('x') */
		return tpl_call_builtin(cx, v.p, args, nargs, kw, nkw);
	if (v.t == TV_LOOP)
		return tpl_loop_call(cx, v.lp, args, nargs);
	if (v.t != TV_FUNC) {
		tpl_check_defined(cx, v);
		tpl_fail(cx, "'%s' object is not callable", tv_type_name(v));
	}
	const struct tpl_func *f = v.fn;
	switch ((enum tpl_func_kind)f->kind) {
	case FN_BUILTIN:
		return tpl_call_builtin(cx, f->bi, args, nargs, kw, nkw);
	case FN_MACRO:
		return call_macro(cx, f, args, nargs, kw, nkw);
	case FN_METHOD:
		return tpl_call_method(cx, f->self, f->name, args, nargs, kw, nkw);
	case FN_RETURNS:
		if (nargs != 1 || nkw)
			tpl_fail(cx, "returns() takes one argument");
		*f->cell = args[0];
		return args[0];
	case FN_AS_FUNCTION: {
		/* the macro called with returns=, a function storing what it
		 * is given: that is the value */
		struct tpl_func *ret = new_func(cx, FN_RETURNS);
		ret->cell = tpl_alloc(cx, sizeof *ret->cell);
		*ret->cell = tv_none();
		tpl_work_n(cx, nkw + 1, TPL_W_ITEM);
		struct tpl_kwarg *k = tpl_alloc(cx, (nkw + 1) * sizeof *k);
		if (nkw)
			memcpy(k, kw, nkw * sizeof *k);
		k[nkw] = (struct tpl_kwarg){ "returns", tv_func(ret) };
		tpl_call_value(cx, f->self, args, nargs, k, nkw + 1);
		return *ret->cell;
	}
	case FN_JOINER:
		if (nargs || nkw)
			tpl_fail(cx, "joiner() takes no arguments");
		if (!f->cell->b) {
			*f->cell = tv_bool(true);
			return tv_string(cx, "", 0);
		}
		return f->self;
	case FN_CYCLER:
		break;
	}
	tpl_fail(cx, "'Cycler' object is not callable");
}

/* cycler.next(), cycler.reset(). */
struct tv tpl_func_method(struct tpl_ctx *cx, struct tv v, const char *m, const struct tv *args,
			  size_t nargs, const struct tpl_kwarg *kw, size_t nkw)
{
	const struct tpl_func *f = v.fn;
	if (f->kind == FN_CYCLER && strcmp(m, "next") == 0 && !nargs && !nkw) {
		const struct tv_list *l = f->self.l;
		struct tv r = l->v[f->cell->i];
		*f->cell = tv_int((f->cell->i + 1) % (int64_t)l->n);
		return r;
	}
	if (f->kind == FN_CYCLER && strcmp(m, "reset") == 0 && !nargs && !nkw) {
		*f->cell = tv_int(0);
		return tv_none();
	}
	tpl_fail(cx, "'%s' object has no attribute '%s'", tv_type_name(v), m);
}

/* A method's name, bound to its object: value_json.values, 'a'.upper. */
struct tv tpl_method_value(struct tpl_ctx *cx, struct tv v, const char *name, size_t len)
{
	struct tpl_func *f = new_func(cx, FN_METHOD);
	f->self = v;
	f->name = tpl_str(cx, name, len);
	return tv_func(f);
}

struct tv tpl_func_getattr(struct tpl_ctx *cx, struct tv v, const char *name, size_t len)
{
	const struct tpl_func *f = v.fn;
	if (f->kind == FN_MACRO && tpl_name_is(name, len, "name"))
		return tv_strv(f->def->m->name);
	if (f->kind == FN_CYCLER && tpl_name_is(name, len, "current"))
		return f->self.l->v[f->cell->i];
	if (f->kind == FN_CYCLER && (tpl_name_is(name, len, "next") || tpl_name_is(name, len, "reset")))
		return tpl_method_value(cx, v, name, len);
	return tv_undef();
}

/* str() of a callable, as near Python's as it can be without addresses. */
const struct tv_str *tpl_func_str(struct tpl_ctx *cx, struct tv v)
{
	struct tpl_buf b = { 0 };
	const struct tpl_func *f = v.fn;
	switch ((enum tpl_func_kind)f->kind) {
	case FN_MACRO:
		tpl_buf_puts(cx, &b, "<Macro '");
		tpl_buf_add(cx, &b, f->def->m->name->s, f->def->m->name->len);
		tpl_buf_puts(cx, &b, "'>");
		break;
	case FN_METHOD:
		tpl_buf_puts(cx, &b, "<built-in method ");
		tpl_buf_add(cx, &b, f->name->s, f->name->len);
		tpl_buf_puts(cx, &b, " of ");
		tpl_buf_puts(cx, &b, tv_type_name(f->self));
		tpl_buf_puts(cx, &b, " object>");
		break;
	case FN_CYCLER:
		tpl_buf_puts(cx, &b, "<jinja2.utils.Cycler object>");
		break;
	case FN_JOINER:
		tpl_buf_puts(cx, &b, "<jinja2.utils.Joiner object>");
		break;
	default:
		tpl_buf_puts(cx, &b, "<function ");
		tpl_buf_puts(cx, &b, f->kind == FN_BUILTIN ? f->bi->name
				 : f->kind == FN_AS_FUNCTION ? "wrapper" : "returns");
		tpl_buf_puts(cx, &b, ">");
		break;
	}
	return tpl_buf_done(cx, &b);
}

/* ---- modules ------------------------------------------------------------------ */

struct tpl_modinst {
	struct tpl_modinst *next;
	const struct mqb_template *t;
	bool context;
	struct tv *slots;
	struct tv output;            /* its top level's output: str(module) */
};

const struct tpl_modinst *tpl_module_instance(struct tpl_ctx *cx, const struct mqb_template *t,
					      bool context)
{
	for (const struct tpl_modinst *m = cx->modules; m; m = m->next) {
		tpl_work(cx, TPL_W_ITEM);
		if (m->t == t && m->context == context)
			return m;
	}
	struct tpl_modinst *m = tpl_alloc(cx, sizeof *m);
	m->t = t;
	m->context = context;
	tpl_work(cx, t->nslots);
	m->slots = tpl_alloc(cx, (t->nslots + 1) * sizeof *m->slots);
	for (unsigned i = 0; i < t->nslots; i++)
		m->slots[i].t = TV_UNRESOLVED;
	struct frame_save sv;
	/* its scopes are its own: a macro it defines is seen from its frame */
	struct tpl_scope *scopes = cx->scopes;
	cx->scopes = NULL;
	frame_enter(cx, &sv, m->slots, t, context);
	m->output = t->is_static ? tv_strv(t->static_text) : tpl_exec_capture(cx, t->body);
	frame_leave(cx, &sv);
	cx->scopes = scopes;
	m->next = cx->modules;
	cx->modules = m;
	return m;
}

struct tv tpl_include(struct tpl_ctx *cx, const struct mqb_template *t, bool context)
{
	if (t->is_static)
		return tv_strv(t->static_text);
	const struct mqb_template *from = cx->t;
	tpl_work(cx, t->nslots);
	struct tv *slots = tpl_alloc(cx, (t->nslots + 1) * sizeof *slots);
	for (unsigned i = 0; i < t->nslots; i++) {
		slots[i].t = TV_UNRESOLVED;
		if (!context)
			continue;
		/* Jinja hands an include the including frame's locals: each
		 * name the frame has (set, or looked up already) by name */
		const struct tv_str *nm = t->names[i];
		tpl_work(cx, from->nslots);
		for (unsigned j = 0; j < from->nslots; j++)
			if (from->names[j]->len == nm->len &&
			    memcmp(from->names[j]->s, nm->s, nm->len) == 0) {
				slots[i] = cx->slots[j];
				break;
			}
	}
	struct frame_save sv;
	struct tpl_scope *scopes = cx->scopes;
	cx->scopes = NULL;
	frame_enter(cx, &sv, slots, t, context);
	struct tv out = tpl_exec_capture(cx, t->body);
	frame_leave(cx, &sv);
	cx->scopes = scopes;
	return out;
}

struct tv tpl_module_get_attr(struct tpl_ctx *cx, const struct tpl_modinst *m, const char *name,
			      size_t len)
{
	unsigned slot = tpl_export_slot(m->t, name, len);
	tpl_work(cx, m->t->nexports);
	if (slot == UINT_MAX || m->slots[slot].t == TV_UNRESOLVED) {
		struct tv u = tv_undef();
		u.p = tpl_str(cx, name, len);
		return u;
	}
	return m->slots[slot];
}

struct tv tpl_module_output(const struct tpl_modinst *m)
{
	return m->output;
}
