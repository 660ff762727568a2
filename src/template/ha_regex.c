/* SPDX-License-Identifier: MIT */
/* Home Assistant's regex_match, regex_search, regex_findall(_index) and
 * regex_replace, and the match/search tests: Python's re syntax translated
 * to POSIX extended regular expressions, compiled once into a cache. */
#include "lib/internal.h"

#include <ctype.h>
#include <pthread.h>
#include <regex.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "template/tpl.h"

#define RX_MAXGROUPS 32

/* A compiled pattern, shared by the renders of every thread. refs counts
 * the cache's reference and each render's that uses it (under rx_lock):
 * the cache may evict a pattern a render on another thread still holds,
 * and the last one to let go frees it. */
struct rx {
	regex_t re;
	size_t ngroups;                   /* Python's capturing groups */
	unsigned char pgroup[RX_MAXGROUPS]; /* Python group k -> POSIX group */
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
	regfree(&r->re);
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

/* Python's syntax to POSIX ERE (glibc's: \w \W \s \S \b \B are known). */
static const char *rx_translate(const char *p, char *out, size_t cap, struct rx *rx, int *icase)
{
	size_t o = 0, posix_groups = 0;
	bool in_br = false;
	rx->ngroups = 0;
#define PUT(s)                                                  \
	do {                                                    \
		const char *s_ = (s);                           \
		size_t l_ = strlen(s_);                         \
		if (o + l_ + 1 > cap)                           \
			return "pattern too long";              \
		memcpy(out + o, s_, l_);                        \
		o += l_;                                        \
	} while (0)
	if (strncmp(p, "(?i)", 4) == 0) {
		*icase = 1;
		p += 4;
	}
	for (; *p; p++) {
		char c[2] = { *p, 0 };
		if (in_br) {
			if (*p == '\\' && p[1]) {
				p++;
				switch (*p) {
				case 'd': PUT("0-9"); break;
				case 'w': PUT("[:alnum:]_"); break;
				case 's': PUT("[:space:]"); break;
				case 'n': PUT("\n"); break;
				case 't': PUT("\t"); break;
				case 'r': PUT("\r"); break;
				case '\\': PUT("\\"); break;
				case 'D': case 'W': case 'S': case ']': case '[': case '^': case '-':
					return "this escape inside [] is not supported";
				default: c[0] = *p; PUT(c); break;
				}
			} else {
				if (*p == ']')
					in_br = false;
				PUT(c);
			}
			continue;
		}
		if (*p == '[') {
			in_br = true;
			PUT("[");
			if (p[1] == '^') {
				PUT("^");
				p++;
			}
			if (p[1] == ']') {
				PUT("]");
				p++;
			}
			continue;
		}
		if (*p == '\\') {
			p++;
			switch (*p) {
			case 0: return "bad escape (end of pattern)";
			case 'd': PUT("[0-9]"); break;
			case 'D': PUT("[^0-9]"); break;
			case 'w': case 'W': case 's': case 'S': case 'b': case 'B':
				c[0] = *p;
				PUT("\\"); PUT(c); break;
			case 'n': PUT("\n"); break;
			case 't': PUT("\t"); break;
			case 'r': PUT("\r"); break;
			case 'A': PUT("^"); break;
			case 'Z': case 'z': PUT("$"); break;
			default:
				if (isalnum((unsigned char)*p))
					return "unsupported escape";
				c[0] = *p;
				PUT("\\"); PUT(c); break;
			}
			continue;
		}
		if (*p == '(') {
			if (posix_groups + 1 >= RX_MAXGROUPS)
				return "too many groups";
			posix_groups++;
			if (p[1] == '?') {
				if (p[2] == ':')
					p += 2;
				else if (p[2] == 'P' && p[3] == '<') {
					const char *e = strchr(p, '>');
					if (!e)
						return "bad group name";
					p = e;
					rx->pgroup[++rx->ngroups] = (unsigned char)posix_groups;
				} else
					return "lookaround and inline flags are not supported";
			} else {
				rx->pgroup[++rx->ngroups] = (unsigned char)posix_groups;
			}
			PUT("(");
			continue;
		}
		if ((*p == '*' || *p == '+' || *p == '?' || *p == '}') && p[1] == '?')
			return "non-greedy quantifiers are not supported";
		PUT(c);
	}
#undef PUT
	out[o] = 0;
	return NULL;
}

/* Compile pattern (nothing is allocated when this fails). */
static struct rx *rx_compile(struct tpl_ctx *cx, const char *pattern, bool icase)
{
	size_t cap = strlen(pattern) * 12 + 16;
	char *ere = tpl_alloc(cx, cap);
	struct rx tmp;
	int ic = icase;
	const char *err = rx_translate(pattern, ere, cap, &tmp, &ic);
	if (err)
		tpl_fail(cx, "regex '%s': %s", pattern, err);
	struct rx *r = mqb__malloc(sizeof *r);
	char *pcopy = mqb__strdup(pattern);
	if (!r || !pcopy) {
		mqb__free(r);
		mqb__free(pcopy);
		tpl_fail_code(cx, -ENOMEM, "out of memory compiling a regex");
	}
	*r = tmp;
	int rc = regcomp(&r->re, ere, REG_EXTENDED | (ic ? REG_ICASE : 0));
	if (rc) {
		char msg[128];
		regerror(rc, &r->re, msg, sizeof msg);
		mqb__free(r);
		mqb__free(pcopy);
		tpl_fail(cx, "regex '%s': %s", pattern, msg);
	}
	r->pattern = pcopy;
	r->icase = icase;
	r->refs = 0;
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
		struct rx *fresh = rx_compile(cx, pattern, icase);
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
			regfree(&fresh->re);
			mqb__free(fresh->pattern);
			mqb__free(fresh);
		}
	}
	tpl_on_end(cx, hold, rx_release, r);
	return r;
}

/* One search from start; m[0..RX_MAXGROUPS). */
static bool rx_exec(const struct rx *r, const struct tv_str *s, size_t start, regmatch_t *m)
{
	m[0].rm_so = (regoff_t)start;
	m[0].rm_eo = (regoff_t)s->len;
	return regexec(&r->re, s->s, RX_MAXGROUPS, m, REG_STARTEND | (start ? REG_NOTBOL : 0)) == 0;
}

struct rx_args {
	const struct tv_str *value;
	struct rx *rx;
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
	return r;
}

static struct tv ha_regex_match(struct tpl_ctx *cx, const struct tv *a, size_t na,
				const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "regex_match", kw, nkw, TPL_KW("find", "ignorecase"));
	struct rx_args r = rx_args(cx, "regex_match", a, na, kw, nkw, 2);
	regmatch_t m[RX_MAXGROUPS];
	return tv_bool(rx_exec(r.rx, r.value, 0, m) && m[0].rm_so == 0);
}

static struct tv ha_regex_search(struct tpl_ctx *cx, const struct tv *a, size_t na,
				 const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "regex_search", kw, nkw, TPL_KW("find", "ignorecase"));
	struct rx_args r = rx_args(cx, "regex_search", a, na, kw, nkw, 2);
	regmatch_t m[RX_MAXGROUPS];
	return tv_bool(rx_exec(r.rx, r.value, 0, m));
}

static struct tv rx_group(struct tpl_ctx *cx, const struct rx *r, const struct tv_str *s,
			  const regmatch_t *m, size_t k)
{
	size_t g = k ? r->pgroup[k] : 0;
	if (m[g].rm_so < 0)
		return tv_cstr(cx, "");
	return tv_string(cx, s->s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
}

static struct tv findall(struct tpl_ctx *cx, const struct tv *a, size_t na,
			 const struct tpl_kwarg *kw, size_t nkw, size_t icase_pos)
{
	struct rx_args r = rx_args(cx, "regex_findall", a, na, kw, nkw, icase_pos);
	struct tv out = tv_list_new(cx, 4);
	regmatch_t m[RX_MAXGROUPS];
	size_t pos = 0;
	while (pos <= r.value->len && rx_exec(r.rx, r.value, pos, m)) {
		tpl_tick(cx);
		struct tv item;
		if (r.rx->ngroups == 0) {
			item = rx_group(cx, r.rx, r.value, m, 0);
		} else if (r.rx->ngroups == 1) {
			item = rx_group(cx, r.rx, r.value, m, 1);
		} else {
			item = tv_list_new(cx, r.rx->ngroups);
			for (size_t k = 1; k <= r.rx->ngroups; k++)
				tv_list_push(cx, &item, rx_group(cx, r.rx, r.value, m, k));
		}
		tv_list_push(cx, &out, item);
		pos = m[0].rm_eo > m[0].rm_so ? (size_t)m[0].rm_eo : (size_t)m[0].rm_eo + 1;
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

static struct tv ha_regex_replace(struct tpl_ctx *cx, const struct tv *a, size_t na,
				  const struct tpl_kwarg *kw, size_t nkw)
{
	tpl_kw_check(cx, "regex_replace", kw, nkw, TPL_KW("find", "replace", "ignorecase"));
	struct rx_args r = rx_args(cx, "regex_replace", a, na, kw, nkw, 3);
	const struct tv *rv = tpl_arg(a, na, kw, nkw, 2, "replace");
	const char *rep = rv ? tpl_str_of(cx, *rv) : "";
	struct tpl_buf b = { 0 };
	regmatch_t m[RX_MAXGROUPS];
	size_t pos = 0, copied = 0;
	const struct tv_str *s = r.value;
	while (pos <= s->len && rx_exec(r.rx, s, pos, m)) {
		tpl_tick(cx);
		tpl_buf_add(cx, &b, s->s + copied, (size_t)m[0].rm_so - copied);
		for (const char *p = rep; *p; p++) {
			if (*p != '\\' || !p[1]) {
				tpl_buf_add(cx, &b, p, 1);
				continue;
			}
			p++;
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
				tpl_buf_puts(cx, &b, e);
				continue;
			}
			if (k > r.rx->ngroups)
				tpl_fail(cx, "regex_replace: invalid group reference %zu", k);
			struct tv g = rx_group(cx, r.rx, s, m, k);
			tpl_buf_add(cx, &b, g.s->s, g.s->len);
		}
		copied = (size_t)m[0].rm_eo;
		if (m[0].rm_eo > m[0].rm_so) {
			pos = (size_t)m[0].rm_eo;
		} else {
			if ((size_t)m[0].rm_eo < s->len)
				tpl_buf_add(cx, &b, s->s + m[0].rm_eo, 1);
			copied = (size_t)m[0].rm_eo + 1;
			pos = copied;
		}
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
