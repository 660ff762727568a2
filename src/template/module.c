/* SPDX-License-Identifier: MIT */
/* Home Assistant's custom_templates/: the *.jinja files beside the main
 * configuration that {% import %} and {% from ... import %} name, loaded
 * and compiled once (each with its errors at its own line and column),
 * and found by name when a template that imports them compiles. */
#include "lib/internal.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "template/tpl.h"

/* Home Assistant skips larger files (MAX_CUSTOM_TEMPLATE_SIZE). */
#define MAX_INCLUDE_SIZE (5u << 20)

enum mod_state { MOD_NEW, MOD_COMPILING, MOD_DONE, MOD_FAILED };

struct mod {
	char *name;                  /* its path under the folder: "sub/x.jinja" */
	char *text;
	size_t len;
	enum mod_state state;
	struct mqb_template *t;      /* MOD_DONE: the registry's reference */
	struct mqb_tpl_error err;    /* MOD_FAILED */
};

/* Compiling a file compiles those it imports, on the same thread, under
 * the lock: it is recursive. */
static pthread_mutex_t lock;
static pthread_once_t lock_once = PTHREAD_ONCE_INIT;
static struct mod *mods;
static size_t nmods;
/* The file whose text is being compiled now (the innermost of a chain of
 * imports): one that imports itself names it. */
static struct mod *innermost;

static void lock_init(void)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&lock, &a);
	pthread_mutexattr_destroy(&a);
}

static void take(void)
{
	pthread_once(&lock_once, lock_init);
	pthread_mutex_lock(&lock);
}

static void give(void)
{
	pthread_mutex_unlock(&lock);
}

static void mods_free(struct mod *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		mqb__free(v[i].name);
		mqb__free(v[i].text);
		mqb_template_free(v[i].t);
	}
	mqb__free(v);
}

static struct mod *find_locked(const char *name, size_t len)
{
	for (size_t i = 0; i < nmods; i++)
		if (strlen(mods[i].name) == len && memcmp(mods[i].name, name, len) == 0)
			return &mods[i];
	return NULL;
}

static void compile_locked(struct mod *m)
{
	m->state = MOD_COMPILING;
	memset(&m->err, 0, sizeof m->err);
	struct mod *outer = innermost;
	innermost = m;
	int rc = mqb_template_compile(m->text, m->len, &m->t, &m->err);
	innermost = outer;
	if (rc == -ENOMEM && !m->err.message[0])
		snprintf(m->err.message, sizeof m->err.message, "out of memory");
	m->state = rc ? MOD_FAILED : MOD_DONE;
}

struct mqb_template *tpl_module_get(const char *name, size_t len, char *err, size_t errlen,
				   bool *self)
{
	struct mqb_template *t = NULL;
	*self = false;
	take();
	struct mod *m = find_locked(name, len);
	if (m && m->state == MOD_NEW)
		compile_locked(m);
	if (!m)
		snprintf(err, errlen, "no template named '%.*s' in custom_templates/", (int)len, name);
	else if (m->state == MOD_COMPILING && (*self = m == innermost))
		snprintf(err, errlen, "'%s' imports itself", m->name);
	else if (m->state == MOD_COMPILING)
		snprintf(err, errlen, "'%s' imports a file that imports it", m->name);
	else if (m->state == MOD_FAILED)
		snprintf(err, errlen, "'%s' does not compile: %u:%u: %s", m->name, m->err.line,
			 m->err.column, m->err.message);
	else
		tpl_template_ref(t = m->t);
	give();
	return t;
}

/* Compile every file not compiled yet, reporting each one that fails. */
static int compile_all_locked(mqb_tpl_include_error_fn on_error, void *ud)
{
	int rc = 0;
	for (size_t i = 0; i < nmods; i++) {
		if (mods[i].state == MOD_NEW)
			compile_locked(&mods[i]);
		if (mods[i].state == MOD_FAILED) {
			rc = -EINVAL;
			if (on_error)
				on_error(ud, mods[i].name, &mods[i].err);
		}
	}
	return rc;
}

int mqb_template_add_include(const char *name, const char *text, size_t len,
			     struct mqb_tpl_error *err)
{
	char *n = mqb__strdup(name), *t = mqb__malloc(len + 1);
	if (!n || !t) {
		mqb__free(n);
		mqb__free(t);
		return -ENOMEM;
	}
	memcpy(t, text, len);
	t[len] = 0;
	take();
	struct mod *m = find_locked(name, strlen(name));
	if (!m) {
		struct mod *v = mqb__realloc(mods, (nmods + 1) * sizeof *v);
		if (!v) {
			give();
			mqb__free(n);
			mqb__free(t);
			return -ENOMEM;
		}
		mods = v;
		m = &mods[nmods++];
		memset(m, 0, sizeof *m);
	} else {
		mqb__free(m->name);
		mqb__free(m->text);
		mqb_template_free(m->t);
	}
	*m = (struct mod){ .name = n, .text = t, .len = len, .state = MOD_NEW };
	compile_locked(m);
	int rc = m->state == MOD_DONE ? 0 : -EINVAL;
	if (rc && err)
		*err = m->err;
	give();
	return rc;
}

void mqb_template_clear_includes(void)
{
	take();
	struct mod *v = mods;
	size_t n = nmods;
	mods = NULL;
	nmods = 0;
	give();
	mods_free(v, n);
}

struct walk {
	struct mod *v;
	size_t n;
	int rc;
};

static int read_file(const char *path, size_t size, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	char *b = mqb__malloc(size + 1);
	if (!b) {
		fclose(f);
		return -ENOMEM;
	}
	size_t n = fread(b, 1, size, f);
	int rc = ferror(f) ? -EIO : 0;
	fclose(f);
	if (rc) {
		mqb__free(b);
		return rc;
	}
	b[n] = 0;
	*out = b;
	*len = n;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(((const struct mod *)a)->name, ((const struct mod *)b)->name);
}

/* Every *.jinja under dir/rel, recursively, named by its path under the
 * top folder (as Home Assistant names them). */
static void walk_dir(struct walk *w, const char *top, const char *rel, unsigned depth)
{
	char path[4096];
	int pk = snprintf(path, sizeof path, "%s%s%s", top, *rel ? "/" : "", rel);
	if (pk < 0 || (size_t)pk >= sizeof path)
		return;
	DIR *d = opendir(path);
	if (!d) {
		if (depth == 0 && errno != ENOENT)
			w->rc = -errno;
		return;
	}
	struct dirent *e;
	while (!w->rc && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char sub[2048], full[4096];
		int k = snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		if (k < 0 || (size_t)k >= sizeof sub)
			continue;
		k = snprintf(full, sizeof full, "%s/%s", top, sub);
		if (k < 0 || (size_t)k >= sizeof full)
			continue;
		struct stat st;
		if (stat(full, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth < 16)
				walk_dir(w, top, sub, depth + 1);
			continue;
		}
		size_t nl = strlen(e->d_name);
		if (!S_ISREG(st.st_mode) || nl < 6 || strcmp(e->d_name + nl - 6, ".jinja") != 0 ||
		    (uint64_t)st.st_size > MAX_INCLUDE_SIZE)
			continue;
		struct mod *v = mqb__realloc(w->v, (w->n + 1) * sizeof *v);
		if (!v) {
			w->rc = -ENOMEM;
			break;
		}
		w->v = v;
		struct mod *m = &w->v[w->n];
		memset(m, 0, sizeof *m);
		if (!(m->name = mqb__strdup(sub))) {
			w->rc = -ENOMEM;
			break;
		}
		w->n++;
		int rc = read_file(full, (size_t)st.st_size, &m->text, &m->len);
		if (rc)
			w->rc = rc;
	}
	closedir(d);
}

int mqb_template_load_includes(const char *dir, mqb_tpl_include_error_fn on_error, void *ud)
{
	struct walk w = { NULL, 0, 0 };
	walk_dir(&w, dir, "", 0);
	if (w.rc) {
		mods_free(w.v, w.n);
		return w.rc;
	}
	if (w.n)
		qsort(w.v, w.n, sizeof *w.v, cmp_names);
	take();
	struct mod *old = mods;
	size_t nold = nmods;
	mods = w.v;
	nmods = w.n;
	int rc = compile_all_locked(on_error, ud);
	give();
	/* templates compiled against the old files hold their own references */
	mods_free(old, nold);
	return rc;
}
