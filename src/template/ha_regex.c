/* SPDX-License-Identifier: MIT */
/* Home Assistant's regex_match, regex_search, regex_findall(_index) and
 * regex_replace, and the match/search tests, on Python's re syntax
 * (regex.c), with the compiled patterns kept in a cache shared by all
 * renders. */
#include "lib/internal.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "template/tpl.h"

/* A compiled pattern, shared by the renders of every thread. refs counts
 * the cache's reference and each render's that uses it (under rx_lock):
 * the cache may evict a pattern a render on another thread still holds,
 * and the last one to let go frees it. */
struct rx {
	struct rx_prog *prog;
	char *pattern;
	bool icase;
	unsigned refs;
	uint64_t used;                    /* rx_clock at the last lookup */
};

/* Templates name few patterns, but one taken from a state
 * (regex_match(states('input_text.x'))) can bring a new one each render:
 * the cache keeps the RX_CACHE most recently used and frees the rest. */
#define RX_CACHE 256

static pthread_mutex_t rx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rx *rx_cache[RX_CACHE];
static size_t rx_cached;
static uint64_t rx_clock;
static size_t rx_live;                    /* compiled and not yet freed */

size_t tpl_regex_live(void)
{
	pthread_mutex_lock(&rx_lock);
	size_t n = rx_live;
	pthread_mutex_unlock(&rx_lock);
	return n;
}

static void rx_unref_locked(struct rx *r)
{
	if (--r->refs)
		return;
	tpl_rx_free(r->prog);
	mqb__free(r->pattern);
	mqb__free(r);
	rx_live--;
}

/* The render's reference, dropped when it ends (tpl_on_end). */
static void rx_release(void *p)
{
	pthread_mutex_lock(&rx_lock);
	rx_unref_locked(p);
	pthread_mutex_unlock(&rx_lock);
}

static struct rx *rx_cache_find_locked(const char *pattern, bool icase)
{
	for (size_t i = 0; i < rx_cached; i++)
		if (rx_cache[i]->icase == icase && strcmp(rx_cache[i]->pattern, pattern) == 0)
			return rx_cache[i];
	return NULL;
}

/* Add r, evicting the least recently used pattern when the cache is full. */
static void rx_cache_add_locked(struct rx *r)
{
	size_t slot = rx_cached;
	if (rx_cached == RX_CACHE) {
		slot = 0;
		for (size_t i = 1; i < RX_CACHE; i++)
			if (rx_cache[i]->used < rx_cache[slot]->used)
				slot = i;
		rx_unref_locked(rx_cache[slot]);
	} else {
		rx_cached++;
	}
	r->refs++;
	rx_cache[slot] = r;
}

/* Compile pattern (nothing stays allocated when this fails). */
static struct rx *rx_compile(struct tpl_ctx *cx, const char *pattern, bool icase)
{
	const char *err;
	struct rx_prog *prog = tpl_rx_compile(cx, pattern, strlen(pattern), icase, &err);
	if (!prog)
		tpl_fail(cx, "regex '%s': %s", pattern, err);
	struct rx *r = mqb__malloc(sizeof *r);
	char *pcopy = mqb__strdup(pattern);
	if (!r || !pcopy) {
		tpl_rx_free(prog);
		mqb__free(r);
		mqb__free(pcopy);
		tpl_fail_code(cx, -ENOMEM, "out of memory compiling a regex");
	}
	*r = (struct rx){ .prog = prog, .pattern = pcopy, .icase = icase };
	return r;
}

/* The compiled pattern, held until the render ends. */
static struct rx *rx_get(struct tpl_ctx *cx, const char *pattern, bool icase)
{
	/* one the render holds already: no lock, no new reference */
	for (const struct tpl_cleanup *c = cx->cleanups; c; c = c->next)
		if (c->fn == rx_release) {
			struct rx *r = c->p;
			if (r->icase == icase && strcmp(r->pattern, pattern) == 0)
				return r;
		}
	/* allocated first: running out of memory must not strand a reference */
	struct tpl_cleanup *hold = tpl_alloc(cx, sizeof *hold);
	pthread_mutex_lock(&rx_lock);
	struct rx *r = rx_cache_find_locked(pattern, icase);
	if (r) {
		r->refs++;
		r->used = ++rx_clock;
	}
	pthread_mutex_unlock(&rx_lock);
	if (!r) {
		/* Compiling takes scratch from the arena, and only a render that
		 * misses the cache compiles: the scratch is given back (the
		 * program is copied out of it), and what it counted with it, so
		 * that a render's work and memory do not depend on other renders
		 * (the cost is charged below, the same either way). A block it
		 * took stays on the render's list until the end. */
		char *cur = cx->cur, *end = cx->end;
		size_t heap = cx->heap_used;
		uint64_t work = cx->work;
		struct rx *fresh = rx_compile(cx, pattern, icase);
		cx->cur = cur;
		cx->end = end;
		cx->heap_used = heap;
		cx->work = work;
		pthread_mutex_lock(&rx_lock);
		r = rx_cache_find_locked(pattern, icase); /* another thread won the race */
		if (r) {
			r->refs++;
		} else {
			r = fresh;
			fresh = NULL;
			r->refs = 1;
			rx_live++;
			rx_cache_add_locked(r);
		}
		r->used = ++rx_clock;
		pthread_mutex_unlock(&rx_lock);
		if (fresh) {
			tpl_rx_free(fresh->prog);
			mqb__free(fresh->pattern);
			mqb__free(fresh);
		}
	}
	tpl_on_end(cx, hold, rx_release, r);
	/* what compiling costs, whether this render compiled it or found
	 * it cached: a render's work must not depend on other renders */
	tpl_work(cx, 2 * (strlen(pattern) + tpl_rx_size(r->prog)));
	return r;
}

struct rx_args {
	const struct tv_str *value;
	struct rx *rx;
	struct rx_vm *vm;
	size_t ngroups;
};

static struct rx_args rx_args(struct tpl_ctx *cx, const char *fn, const struct tv *a, size_t na,
			      const struct tpl_kwarg *kw, size_t nkw, size_t icase_pos)
{
	const struct tv *fv = tpl_arg(a, na, kw, nkw, 1, "find");
	const struct tv *ic = tpl_arg(a, na, kw, nkw, icase_pos, "ignorecase");
	struct rx_args r;
	r.value = a[0].t == TV_STR ? a[0].s : tv_to_str(cx, a[0]);
	const char *find = fv ? tpl_str_of(cx, *fv) : "";
	r.rx = rx_get(cx, find, ic && tv_truthy(*ic));
	r.vm = tpl_rx_vm(cx, r.rx->prog);
	r.ngroups = tpl_rx_groups(r.rx->prog);
	return r;
}

static bool rx_search(struct tpl_ctx *cx, const struct rx_args *r, size_t start, bool anchored,
		      const int32_t **caps)
{
	return tpl_rx_search(cx, r->vm, r->value->s, r->value->len, start, anchored, false, caps);
}

/* The next match of findall and sub after the one at m (m NULL: the
 * first): from m's end, and after an empty match (Python 3.7) one that is
 * not empty there, else any further on. */
static bool rx_next(struct tpl_ctx *cx, const struct rx_args *r, const int32_t **m)
{
	size_t pos = *m ? (size_t)(*m)[1] : 0;
	bool advance = *m && (*m)[0] == (*m)[1];
	if (pos > r->value->len)
		return false;
	return tpl_rx_search(cx, r->vm, r->value->s, r->value->len, pos, false, advance, m);
}

/* regex_match (anchored: Python's re.match) and regex_search. */
static struct tv rx_found(struct tpl_ctx *cx, const char *fn, bool anchored, const struct tv *a,
			  size_t na, const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, fn, kw, nkw, TPL_KW("find", "ignorecase"));
	struct rx_args r = rx_args(cx, fn, a, na, kw, nkw, 2);
	const int32_t *m;
	return tv_bool(rx_search(cx, &r, 0, anchored, &m));
}

bool tpl_regex_match(struct tpl_ctx *cx, const char *pattern, bool icase, const char *s, size_t n,
		     const int32_t **caps)
{
	struct rx *r = rx_get(cx, pattern, icase);
	struct rx_vm *vm = tpl_rx_vm(cx, r->prog);
	/* the patterns callers pass end with $: the first match is the whole */
	return tpl_rx_search(cx, vm, s, n, 0, true, false, caps) && (size_t)(*caps)[1] == n;
}

static struct tv ha_regex_match(struct tpl_ctx *cx, const struct tv *a, size_t na,
				const struct tpl_kwarg *kw, size_t nkw)
{
	return rx_found(cx, "regex_match", true, a, na, kw, nkw);
}

static struct tv ha_regex_search(struct tpl_ctx *cx, const struct tv *a, size_t na,
				 const struct tpl_kwarg *kw, size_t nkw)
{
	return rx_found(cx, "regex_search", false, a, na, kw, nkw);
}

/* Group k of the match m ("" when it took no part, as findall gives it). */
static struct tv rx_group(struct tpl_ctx *cx, const struct tv_str *s, const int32_t *m, size_t k)
{
	if (m[2 * k] < 0)
		return tv_cstr(cx, "");
	return tv_string(cx, s->s + m[2 * k], (size_t)(m[2 * k + 1] - m[2 * k]));
}

static struct tv findall(struct tpl_ctx *cx, const struct tv *a, size_t na,
			 const struct tpl_kwarg *kw, size_t nkw, size_t icase_pos)
{
	struct rx_args r = rx_args(cx, "regex_findall", a, na, kw, nkw, icase_pos);
	struct tv out = tv_list_new(cx, 4);
	const int32_t *m = NULL;
	while (rx_next(cx, &r, &m)) {
		tpl_tick(cx);
		struct tv item;
		if (r.ngroups <= 1) {
			item = rx_group(cx, r.value, m, r.ngroups);
		} else {
			/* re.findall gives a tuple of the groups */
			item = tv_make_tuple(tv_list_new(cx, r.ngroups));
			for (size_t k = 1; k <= r.ngroups; k++)
				tv_list_push(cx, &item, rx_group(cx, r.value, m, k));
		}
		tv_list_push(cx, &out, item);
	}
	return out;
}

static struct tv ha_regex_findall(struct tpl_ctx *cx, const struct tv *a, size_t na,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "regex_findall", kw, nkw, TPL_KW("find", "ignorecase"));
	return findall(cx, a, na, kw, nkw, 2);
}

static struct tv ha_regex_findall_index(struct tpl_ctx *cx, const struct tv *a, size_t na,
					const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "regex_findall_index", kw, nkw, TPL_KW("find", "index", "ignorecase"));
	const struct tv *iv = tpl_arg(a, na, kw, nkw, 2, "index");
	struct tv all = findall(cx, a, na, kw, nkw, 3);
	int64_t i = 0;
	if (iv) {
		if (iv->t != TV_INT)
			tpl_fail(cx, "regex_findall_index: index must be an integer");
		i = iv->i;
	}
	if (i < 0)
		i += (int64_t)all.l->n;
	if (i < 0 || (size_t)i >= all.l->n)
		tpl_fail(cx, "regex_findall_index: list index out of range");
	return all.l->v[i];
}

/* The replacement for match m: rep with \1, \g<1> and \n \t \\. */
static void rx_expand(struct tpl_ctx *cx, struct tpl_buf *b, const char *rep, const struct rx_args *r,
		      const int32_t *m)
{
	for (const char *p = rep; *p; p++) {
		/* the text up to the next escape in one piece */
		const char *esc = strchr(p, '\\');
		if (!esc || !esc[1]) {
			tpl_buf_puts(cx, b, p);
			return;
		}
		tpl_buf_add(cx, b, p, (size_t)(esc - p));
		p = esc + 1;
		size_t k = 0;
		if (isdigit((unsigned char)*p)) {
			k = (size_t)(*p - '0');
			if (isdigit((unsigned char)p[1]))
				k = k * 10 + (size_t)(*++p - '0');
		} else if (*p == 'g' && p[1] == '<') {
			char *end;
			k = strtoul(p + 2, &end, 10);
			if (*end != '>' || end == p + 2)
				tpl_fail(cx, "regex_replace: bad group reference in '%s'", rep);
			p = end;
		} else {
			const char *e = *p == 'n' ? "\n" : *p == 't' ? "\t" : *p == '\\' ? "\\" : NULL;
			if (!e)
				tpl_fail(cx, "regex_replace: bad escape \\%c in '%s'", *p, rep);
			tpl_buf_puts(cx, b, e);
			continue;
		}
		if (k > r->ngroups)
			tpl_fail(cx, "regex_replace: invalid group reference %zu", k);
		struct tv g = rx_group(cx, r->value, m, k);
		tpl_buf_add(cx, b, g.s->s, g.s->len);
	}
}

static struct tv ha_regex_replace(struct tpl_ctx *cx, const struct tv *a, size_t na,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "regex_replace", kw, nkw, TPL_KW("find", "replace", "ignorecase"));
	struct rx_args r = rx_args(cx, "regex_replace", a, na, kw, nkw, 3);
	const struct tv *rv = tpl_arg(a, na, kw, nkw, 2, "replace");
	const char *rep = rv ? tpl_str_of(cx, *rv) : "";
	struct tpl_buf b = { 0 };
	const int32_t *m = NULL;
	size_t copied = 0;
	const struct tv_str *s = r.value;
	while (rx_next(cx, &r, &m)) {
		tpl_tick(cx);
		tpl_buf_add(cx, &b, s->s + copied, (size_t)m[0] - copied);
		rx_expand(cx, &b, rep, &r, m);
		copied = (size_t)m[1];
	}
	if (copied < s->len)
		tpl_buf_add(cx, &b, s->s + copied, s->len - copied);
	return tv_strv(tpl_buf_done(cx, &b));
}

#define F TPL_FILTER
#define T TPL_TEST
const struct tpl_builtin tpl_ha_regex_builtins[] = {
	{ "regex_match", F, ha_regex_match, 1, 3, false },
	{ "regex_search", F, ha_regex_search, 1, 3, false },
	{ "match", T, ha_regex_match, 1, 3, false },
	{ "search", T, ha_regex_search, 1, 3, false },
	{ "regex_replace", F, ha_regex_replace, 1, 4, false },
	{ "regex_findall", F, ha_regex_findall, 1, 3, false },
	{ "regex_findall_index", F, ha_regex_findall_index, 1, 4, false },
	{ NULL, 0, NULL, 0, 0, false },
};
#undef F
#undef T
