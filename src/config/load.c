/* SPDX-License-Identifier: MIT */
/* The configuration loader: libyaml's event stream turned into nodes, with
 * Home Assistant's tags (!secret, !include, !include_dir_*, !env_var),
 * anchors and << merge keys. Every bound is checked as the events arrive,
 * so a hostile file (deep nesting, alias bombs, include cycles) costs
 * bounded work and ends in an error, never a hang. */
#include "lib/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "lib/hashmap.h"
#include "mqbridge/config.h"

#include "config/config_impl.h"
#include "config/load.h"

#define DEFAULT_FILE_SIZE ((size_t)64 << 20)
#define DEFAULT_DEPTH 64u
#define DEFAULT_NODES ((size_t)100000)
/* What aliases and repeated includes may add (an expansion of nodes
 * already counted): max_nodes, or this many times the nodes the files
 * themselves hold, whichever is more. The files' own nodes are bounded by
 * their sizes, and by this many times max_nodes. */
#define EXPANSION_RATIO 8u
#define PARSED_PER_MAX 64u
#define DEFAULT_INCLUDES 16u
/* Past this many errors a broken file has said all it usefully can. */
#define MAX_ERRORS 100
#define SECRETS_YAML "secrets.yaml"
#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

struct vec {
	const struct mqb_conf_node **v;
	size_t n, cap;
};

/* An anchor of the file being parsed; open while its collection is. */
struct anchor {
	struct anchor *next;
	char *name;
	const struct mqb_conf_node *node;
	unsigned line;
	bool open;
};

/* A file read once per load: included again, its root is shared. */
struct cached_file {
	char *real;
	const struct mqb_conf_node *root;
	bool failed;
};

/* secrets.yaml of one directory (root NULL: none there). */
struct cached_secrets {
	char *dir;
	const struct mqb_conf_node *root;
	bool failed;
};

struct loader {
	struct mqb_conf_doc *doc;
	struct mqb_conf_errors *errs;
	struct conf_limits lim;
	size_t nodes;       /* so far, aliases counted as expanded */
	size_t parsed;      /* so far, each once: what the files hold */
	size_t dir_entries; /* directory entries looked at by !include_dir_* */
	size_t nerrors;
	bool fatal;         /* a bound was breached: stop everything */
	int rc;             /* -ENOMEM once an allocation failed */
	const char *main_dir;  /* the main file's directory as given: "" or ending in '/' */
	char *main_real_dir;   /* the same, resolved; secrets are never looked for above it */
	struct hashmap files;  /* real path -> struct cached_file */
	struct hashmap secrets; /* real directory -> struct cached_secrets */
	struct hashmap keys;   /* keys of the mapping being finished */
	/* A plain key's text -> the first node of that text: the keys after
	 * it share its text (every MQTT sensor repeats "unit_of_measurement",
	 * "state_topic": some 40 bytes of each item's). Gone with the loader. */
	struct hashmap key_text;
	struct vec scratch;    /* pairs of the mapping being finished */
	bool blueprint;        /* !input tags allowed: a blueprint's file */
};

struct frame {
	struct mqb_conf_node *node;
	size_t start; /* its first child in pending */
	struct anchor *anchor;
};

/* One file being parsed; files being included form a chain to the main one. */
struct file {
	struct loader *L;
	struct file *parent;
	const char *path; /* as shown in marks (the document owns it) */
	const char *dir;  /* for relative includes: "" or ending in '/' */
	char *real;       /* resolved path (NULL for a string) */
	char *real_dir;   /* resolved directory, for secrets */
	unsigned level;   /* includes between this file and the main one */
	unsigned base_depth; /* collections around the place this file's root goes */
	bool in_secrets;  /* secrets.yaml or a file it includes: no !secret */
	bool failed;      /* a syntax error: the root is not to be used */
	const struct mqb_conf_node *root;
	struct frame *frames;
	size_t nframes, fcap;
	struct vec pending;
	struct hashmap anchors;
	struct anchor *anchor_list;
};

static bool stopped(const struct loader *L)
{
	return L->fatal || L->rc;
}

static void lerrv_at(struct loader *L, const struct mqb_conf_mark *m, const char *path,
		     const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static void lerrv_at(struct loader *L, const struct mqb_conf_mark *m, const char *path,
		     const char *fmt, va_list ap)
{
	if (stopped(L))
		return;
	if (++L->nerrors > MAX_ERRORS) {
		mqb_conf_error(L->errs, m, "", "too many errors; stopping here");
		L->fatal = true;
		return;
	}
	if (conf__errorv(L->errs, m, path, fmt, ap) < 0)
		L->rc = -ENOMEM;
}

static void lerr(struct loader *L, const struct mqb_conf_mark *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void lerr(struct loader *L, const struct mqb_conf_mark *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lerrv_at(L, m, "", fmt, ap);
	va_end(ap);
}

/* An error about the value at path (schema paths: "mqtt.sensor[2].name"). */
static void lerr_at(struct loader *L, const struct mqb_conf_mark *m, const char *path,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void lerr_at(struct loader *L, const struct mqb_conf_mark *m, const char *path,
		    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lerrv_at(L, m, path ? path : "", fmt, ap);
	va_end(ap);
}

/* A bound breached: the error, and nothing more is done. */
static void lfatal(struct loader *L, const struct mqb_conf_mark *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void lfatal(struct loader *L, const struct mqb_conf_mark *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lerrv_at(L, m, "", fmt, ap);
	va_end(ap);
	L->fatal = true;
}

static void *nomem(struct loader *L)
{
	L->rc = -ENOMEM;
	return NULL;
}

/* Something accepted, as Home Assistant accepts it, that the user should
 * hear of: a warning at m, kept on the document for the daemon to log. */
static void lnote(struct loader *L, const struct mqb_conf_mark *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void lnote(struct loader *L, const struct mqb_conf_mark *m, const char *fmt, ...)
{
	char text[512];
	int n = snprintf(text, sizeof text, "%s:%u:%u: ", m->file, m->line, m->column);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof text)
		vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);
	va_end(ap);
	if (conf__doc_add_note(L->doc, text) < 0)
		nomem(L);
}

static int vec_reserve(struct vec *v, size_t extra)
{
	if (v->cap - v->n >= extra)
		return 0;
	size_t cap = v->cap ? v->cap : 16;
	while (cap - v->n < extra) {
		if (cap > SIZE_MAX / 2 / sizeof *v->v)
			return -ENOMEM;
		cap *= 2;
	}
	const struct mqb_conf_node **nv = mqb__realloc(v->v, cap * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	v->v = nv;
	v->cap = cap;
	return 0;
}

static bool vec_push(struct loader *L, struct vec *v, const struct mqb_conf_node *n)
{
	if (vec_reserve(v, 1) < 0)
		return nomem(L), false;
	v->v[v->n++] = n;
	return true;
}

/* ---- small helpers ------------------------------------------------------ */

static struct mqb_conf_mark mark_of(const struct file *f, yaml_mark_t m)
{
	struct mqb_conf_mark r = { f->path, (unsigned)m.line + 1, (unsigned)m.column + 1 };
	return r;
}

static unsigned depth_of(const struct file *f)
{
	return f->base_depth + (unsigned)f->nframes;
}

static const struct mqb_conf_node *node_new(struct loader *L, enum mqb_conf_kind kind,
					    const struct mqb_conf_mark *m, const char *text,
					    size_t len, unsigned flags)
{
	struct mqb_conf_node *n = conf__node_new(L->doc, kind, m, text, len, flags);
	return n ? n : nomem(L);
}

/* A null standing where an error was, so the parent stays well formed and
 * nothing complains about it a second time. */
static const struct mqb_conf_node *broken(struct loader *L, const struct mqb_conf_mark *m)
{
	return node_new(L, MQB_CONF_NULL, m, "", 0, CONF_BROKEN);
}

static size_t add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

enum counted { PARSED, ALIAS, SHARED };

/* Count n more nodes: PARSED, a node the file holds; ALIAS, an alias's
 * expansion; SHARED, another placement of an included file or a secret.
 * A config as large as its author writes it loads; what aliases multiply
 * is bounded by a ratio to that (billion laughs in a small file stops at
 * max_nodes, as before). */
static bool count(struct loader *L, const struct mqb_conf_mark *m, size_t n, enum counted how)
{
	L->nodes = add_sat(L->nodes, n);
	if (how == PARSED) {
		L->parsed = add_sat(L->parsed, n);
		size_t max = L->lim.max_nodes > SIZE_MAX / PARSED_PER_MAX
				     ? SIZE_MAX : L->lim.max_nodes * PARSED_PER_MAX;
		if (L->parsed <= max)
			return true;
		lfatal(L, m, "more than %zu nodes", max);
		return false;
	}
	size_t ratio = L->parsed > SIZE_MAX / EXPANSION_RATIO ? SIZE_MAX
							       : L->parsed * EXPANSION_RATIO;
	size_t max = ratio > L->lim.max_nodes ? ratio : L->lim.max_nodes;
	if (L->nodes <= max)
		return true;
	if (how == ALIAS)
		lfatal(L, m, "alias expansion exceeds %zu nodes", max);
	else
		lfatal(L, m, "more than %zu nodes", max);
	return false;
}

/* A node built elsewhere (an alias, a shared include, a secret) placed
 * here: counted in full and checked for depth. */
static bool place_shared(struct file *f, const struct mqb_conf_mark *m,
			 const struct mqb_conf_node *n, bool alias)
{
	if (!count(f->L, m, conf__node_weight(n), alias ? ALIAS : SHARED))
		return false;
	if (depth_of(f) + conf__node_height(n) > f->L->lim.max_depth) {
		lfatal(f->L, m, "nesting deeper than %u", f->L->lim.max_depth);
		return false;
	}
	return true;
}

static const char *kind_name(const struct mqb_conf_node *n)
{
	switch (mqb_conf_kind(n)) {
	case MQB_CONF_MAP: return "a mapping";
	case MQB_CONF_SEQ: return "a sequence";
	case MQB_CONF_SCALAR: return "a scalar";
	default: return "null";
	}
}

/* "" or the directory part of path, with its '/'. */
static const char *dir_part(struct loader *L, const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *d = conf__doc_strndup(L->doc, path, slash ? (size_t)(slash - path) + 1 : 0);
	return d ? d : nomem(L);
}

/* dir ("" or ending in '/' or not) joined with name; absolute names stay. */
static const char *join(struct loader *L, const char *dir, const char *name)
{
	if (name[0] == '/' || !dir[0]) {
		const char *p = conf__doc_strndup(L->doc, name, strlen(name));
		return p ? p : nomem(L);
	}
	size_t dl = strlen(dir), nl = strlen(name);
	bool slash = dir[dl - 1] != '/';
	char *p = conf__doc_alloc(L->doc, dl + slash + nl + 1);
	if (!p)
		return nomem(L);
	memcpy(p, dir, dl);
	if (slash)
		p[dl] = '/';
	memcpy(p + dl + slash, name, nl + 1);
	return p;
}

/* realpath into our own allocation; NULL with errno set. */
static char *resolve(struct loader *L, const char *path)
{
	char *buf = mqb__malloc(PATH_MAX);
	if (!buf) {
		nomem(L);
		errno = ENOMEM;
		return NULL;
	}
	if (!realpath(path[0] ? path : ".", buf)) {
		int e = errno;
		mqb__free(buf);
		errno = e;
		return NULL;
	}
	return buf;
}

static bool within(const char *dir, const char *top)
{
	size_t n = strlen(top);
	if (n == 1 && top[0] == '/')
		return dir[0] == '/';
	return strncmp(dir, top, n) == 0 && (dir[n] == '\0' || dir[n] == '/');
}

/* Read a whole file, refusing anything but a regular file of at most the
 * size limit (checked before reading, and again while reading). */
static int read_file(struct loader *L, const struct mqb_conf_mark *at, const char *path,
		     unsigned char **out, size_t *outlen)
{
	size_t max = L->lim.max_file_size, len = 0, cap;
	unsigned char *buf = NULL;
	int rc = -1;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		lerr(L, at, "cannot read %s: %s", path, mqb_strerror(-errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		lerr(L, at, "cannot read %s: %s", path, mqb_strerror(-errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		lerr(L, at, "cannot read %s: %s", path, mqb_strerror(-EISDIR));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		lerr(L, at, "cannot read %s: not a regular file", path);
		goto out;
	}
	if ((uintmax_t)st.st_size > max) {
		lerr(L, at, "%s is larger than %zu bytes (%jd bytes)", path, max, (intmax_t)st.st_size);
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	if (!(buf = mqb__malloc(cap))) {
		nomem(L);
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				lerr(L, at, "%s is larger than %zu bytes", path, max);
				goto out;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			unsigned char *nb = mqb__realloc(buf, ncap);
			if (!nb) {
				nomem(L);
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			lerr(L, at, "cannot read %s: %s", path, mqb_strerror(-errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > max) {
		lerr(L, at, "%s is larger than %zu bytes", path, max);
		goto out;
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = 0;
out:
	mqb__free(buf);
	close(fd);
	return rc;
}

/* ---- mappings: duplicates and merge keys -------------------------------- */

/* The key already in the mapping being finished that equals k, or NULL.
 * Nulls (`~:`, `null:`) are one key; broken keys are no key at all. */
static const struct mqb_conf_node *key_find(struct loader *L, const struct mqb_conf_node *k,
					    const struct mqb_conf_node *null_key)
{
	if (conf__node_broken(k))
		return NULL;
	if (mqb_conf_kind(k) == MQB_CONF_NULL)
		return null_key;
	size_t len;
	const char *s = mqb_conf_scalar(k, &len);
	return hashmap__get(&L->keys, s, len);
}

static bool key_add(struct loader *L, const struct mqb_conf_node *k,
		    const struct mqb_conf_node **null_key)
{
	if (conf__node_broken(k))
		return true;
	if (mqb_conf_kind(k) == MQB_CONF_NULL) {
		*null_key = k;
		return true;
	}
	size_t len;
	const char *s = mqb_conf_scalar(k, &len);
	if (len > UINT32_MAX || hashmap__put(&L->keys, s, len, (void *)k, NULL) < 0)
		return nomem(L), false;
	return true;
}

static void duplicate_key(struct loader *L, const struct mqb_conf_node *k,
			  const struct mqb_conf_node *first)
{
	char buf[80];
	struct mqb_conf_mark m = mqb_conf_mark(k), fm = mqb_conf_mark(first);
	mqb_conf_display(k, buf, sizeof buf);
	if (fm.file && m.file && strcmp(fm.file, m.file) != 0)
		lerr(L, &m, "duplicate key '%s' (first at %s:%u)", buf, fm.file, fm.line);
	else
		lerr(L, &m, "duplicate key '%s' (first at line %u)", buf, fm.line);
}

static bool is_merge_key(const struct mqb_conf_node *k)
{
	size_t len;
	const char *s = mqb_conf_scalar(k, &len);
	return mqb_conf_kind(k) == MQB_CONF_SCALAR && !mqb_conf_quoted(k) && len == 2 &&
	       memcmp(s, "<<", 2) == 0;
}

/* Merge the mappings named by a << value into out at position at: keys
 * already there win, and earlier mappings win over later ones (YAML 1.1). */
static void merge_into(struct loader *L, struct vec *out, size_t at,
		       const struct mqb_conf_node *val, const struct mqb_conf_node **null_key)
{
	struct vec merged = { NULL, 0, 0 };
	size_t nsrc = mqb_conf_kind(val) == MQB_CONF_SEQ ? mqb_conf_len(val) : 1;
	if (mqb_conf_kind(val) != MQB_CONF_SEQ && mqb_conf_kind(val) != MQB_CONF_MAP) {
		if (!conf__node_broken(val)) {
			struct mqb_conf_mark m = mqb_conf_mark(val);
			lerr(L, &m, "<< merges a mapping or a list of mappings, not %s", kind_name(val));
		}
		return;
	}
	for (size_t s = 0; s < nsrc && !stopped(L); s++) {
		const struct mqb_conf_node *src =
			mqb_conf_kind(val) == MQB_CONF_SEQ ? mqb_conf_item(val, s) : val;
		if (mqb_conf_kind(src) != MQB_CONF_MAP) {
			if (!conf__node_broken(src)) {
				struct mqb_conf_mark m = mqb_conf_mark(src);
				lerr(L, &m, "<< merges a mapping or a list of mappings, not a list holding %s",
				     kind_name(src));
			}
			continue;
		}
		for (size_t j = 0; j < mqb_conf_len(src); j++) {
			const struct mqb_conf_node *k = mqb_conf_key(src, j);
			if (key_find(L, k, *null_key))
				continue;
			if (!key_add(L, k, null_key) || !vec_push(L, &merged, k) ||
			    !vec_push(L, &merged, mqb_conf_value(src, j)))
				goto out;
		}
	}
	if (merged.n && vec_reserve(out, merged.n) == 0) {
		memmove(out->v + at + merged.n, out->v + at, (out->n - at) * sizeof *out->v);
		memcpy(out->v + at, merged.v, merged.n * sizeof *out->v);
		out->n += merged.n;
	} else if (merged.n) {
		nomem(L);
	}
out:
	mqb__free(merged.v);
}

/* Give map its pairs kv[0..n) (key, value, ...): keys must be scalars and
 * unique; with merges, each << key merges mappings in. PyYAML takes
 * several << keys in one mapping, a later one winning over an earlier, and
 * the mapping's own keys over them all: so they merge last first, each
 * adding only keys not yet there, at the place of the first. */
static void finish_map(struct loader *L, struct mqb_conf_node *map,
		       const struct mqb_conf_node *const *kv, size_t n, bool merges)
{
	struct vec *out = &L->scratch;
	const struct mqb_conf_node *null_key = NULL;
	struct vec merge_vals = { NULL, 0, 0 };
	size_t merge_at = 0;
	out->n = 0;
	for (size_t i = 0; i + 1 < n && !stopped(L); i += 2) {
		const struct mqb_conf_node *k = kv[i], *v = kv[i + 1], *first;
		enum mqb_conf_kind kk = mqb_conf_kind(k);
		if (kk == MQB_CONF_SEQ || kk == MQB_CONF_MAP) {
			struct mqb_conf_mark m = mqb_conf_mark(k);
			lerr(L, &m, "a mapping key must be a scalar, not %s", kind_name(k));
			continue;
		}
		if (merges && is_merge_key(k)) {
			if (!merge_vals.n)
				merge_at = out->n;
			if (!vec_push(L, &merge_vals, v))
				break;
			continue;
		}
		if ((first = key_find(L, k, null_key))) {
			duplicate_key(L, k, first);
			continue;
		}
		if (!key_add(L, k, &null_key) || !vec_push(L, out, k) || !vec_push(L, out, v))
			break;
	}
	for (size_t i = merge_vals.n; i-- > 0 && !stopped(L);)
		merge_into(L, out, merge_at, merge_vals.v[i], &null_key);
	mqb__free(merge_vals.v);
	if (!stopped(L) && conf__node_set_children(L->doc, map, out->v, out->n) < 0)
		nomem(L);
	/* Leave the key set empty for the next mapping. */
	for (size_t i = 0; i < out->n; i += 2) {
		size_t len;
		const char *s = mqb_conf_scalar(out->v[i], &len);
		if (s && mqb_conf_kind(out->v[i]) == MQB_CONF_SCALAR)
			hashmap__remove(&L->keys, s, len);
	}
	if (hashmap__count(&L->keys)) { /* only after a failure part way */
		hashmap__fini(&L->keys);
		hashmap__init(&L->keys);
	}
	out->n = 0;
}

/* ---- files -------------------------------------------------------------- */

static void parse(struct file *f, const unsigned char *buf, size_t len);

static void file_init(struct file *f, struct loader *L, struct file *parent, const char *path,
		      char *real, unsigned base_depth, bool in_secrets)
{
	memset(f, 0, sizeof *f);
	f->L = L;
	f->parent = parent;
	f->path = path;
	f->real = real;
	f->level = parent ? parent->level + 1 : 0;
	f->base_depth = base_depth;
	f->in_secrets = in_secrets;
	hashmap__init(&f->anchors);
	f->dir = dir_part(L, path);
	if (f->dir) /* NULL when the directory is gone: then no secrets */
		f->real_dir = resolve(L, f->dir);
}

static void file_fini(struct file *f)
{
	for (struct anchor *a = f->anchor_list, *next; a; a = next) {
		next = a->next;
		mqb__free(a->name);
		mqb__free(a);
	}
	hashmap__fini(&f->anchors);
	mqb__free(f->frames);
	mqb__free(f->pending.v);
	mqb__free(f->real);
	mqb__free(f->real_dir);
}

/* "include cycle: a.yaml -> b.yaml -> a.yaml", from the file that is
 * included again down to f, which includes it once more. */
static void cycle_error(struct loader *L, const struct mqb_conf_mark *at, const struct file *f,
			const struct file *again, const char *path)
{
	size_t len = strlen(path) + 1;
	for (const struct file *g = f;; g = g->parent) {
		len += strlen(g->path) + 4;
		if (g == again)
			break;
	}
	char *s = mqb__malloc(len);
	if (!s) {
		nomem(L);
		return;
	}
	/* Written back to front: the chain links go from f up to again. */
	size_t o = len - 1, pl = strlen(path);
	s[o] = '\0';
	o -= pl;
	memcpy(s + o, path, pl);
	for (const struct file *g = f;; g = g->parent) {
		size_t gl = strlen(g->path);
		o -= 4;
		memcpy(s + o, " -> ", 4);
		o -= gl;
		memcpy(s + o, g->path, gl);
		if (g == again)
			break;
	}
	lerr(L, at, "include cycle: %s", s + o);
	mqb__free(s);
}

/* Parse the file at open_path (shown as path) into nodes placed at f's
 * current depth (plus extra_depth). *ok tells whether it worked; the root
 * is NULL for an empty file. A file read before is not read again: its
 * root is shared. */
static const struct mqb_conf_node *include_file(struct file *f, const struct mqb_conf_mark *at,
						const char *open_path, const char *path,
						unsigned extra_depth, bool in_secrets, bool *ok)
{
	struct loader *L = f->L;
	const struct mqb_conf_node *root = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	*ok = false;
	if (f->level + 1 > L->lim.max_includes) {
		lerr(L, at, "includes nested deeper than %u (including %s)", L->lim.max_includes, path);
		return NULL;
	}
	char *real = resolve(L, open_path);
	if (!real) {
		if (!stopped(L))
			lerr(L, at, "cannot read %s: %s", path, mqb_strerror(-errno));
		return NULL;
	}
	for (const struct file *g = f; g; g = g->parent) {
		if (g->real && strcmp(g->real, real) == 0) {
			cycle_error(L, at, f, g, path);
			mqb__free(real);
			return NULL;
		}
	}
	struct cached_file *c = hashmap__get(&L->files, real, strlen(real));
	if (c) {
		mqb__free(real);
		if (c->failed || (c->root && !place_shared(f, at, c->root, false)))
			return NULL;
		*ok = true;
		return c->root;
	}
	if (!(c = mqb__calloc(1, sizeof *c))) {
		mqb__free(real);
		return nomem(L);
	}
	c->real = real;
	c->failed = true;
	if (hashmap__put(&L->files, c->real, strlen(c->real), c, NULL) < 0) {
		mqb__free(c->real);
		mqb__free(c);
		return nomem(L);
	}
	if (read_file(L, at, open_path, &buf, &len) < 0)
		return NULL;
	char *sub_real = mqb__strdup(real);
	if (!sub_real) {
		mqb__free(buf);
		return nomem(L);
	}
	MQB_LOG_DEBUG("conf", "including %s", path);
	struct file sub;
	file_init(&sub, L, f, path, sub_real, depth_of(f) + extra_depth, in_secrets);
	if (!stopped(L))
		parse(&sub, buf, len);
	if (!sub.failed && !stopped(L)) {
		c->failed = false;
		c->root = root = sub.root;
		*ok = true;
	}
	file_fini(&sub);
	mqb__free(buf);
	return root;
}

/* Home Assistant's container keeps the configuration at /config, and
 * configurations name files there by absolute path: one that is not
 * there is read from the main file's directory instead, with a warning. */
static const char *include_path(struct file *f, const struct mqb_conf_mark *m, const char *name)
{
	struct loader *L = f->L;
	static const char prefix[] = "/config/";
	if (strncmp(name, prefix, sizeof prefix - 1) != 0 || access(name, F_OK) == 0)
		return join(L, f->dir, name);
	const char *alt = join(L, L->main_dir[0] ? L->main_dir : ".", name + sizeof prefix - 1);
	if (!alt || access(alt, F_OK) != 0)
		return join(L, f->dir, name);
	lnote(L, m, "%s is read from %s: /config is where Home Assistant's container keeps the "
		    "configuration, and there is none here", name, alt);
	return alt;
}

static const struct mqb_conf_node *do_include(struct file *f, const struct mqb_conf_mark *m,
					      const char *name)
{
	struct loader *L = f->L;
	const char *path = include_path(f, m, name);
	if (!path)
		return NULL;
	bool ok;
	const struct mqb_conf_node *root = include_file(f, m, path, path, 0, f->in_secrets, &ok);
	if (stopped(L))
		return NULL;
	if (!ok)
		return broken(L, m);
	return root ? root : node_new(L, MQB_CONF_NULL, m, "", 0, 0);
}

/* ---- !include_dir_* ----------------------------------------------------- */

enum dir_kind { DIR_LIST, DIR_NAMED, DIR_MERGE_LIST, DIR_MERGE_NAMED };

struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *n)
{
	for (size_t i = 0; i < n->n; i++)
		mqb__free(n->v[i]);
	mqb__free(n->v);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static char *path_cat(const char *a, const char *b)
{
	size_t al = strlen(a), bl = strlen(b);
	bool slash = al && a[al - 1] != '/';
	char *p = mqb__malloc(al + slash + bl + 1);
	if (p) {
		memcpy(p, a, al);
		if (slash)
			p[al] = '/';
		memcpy(p + al + slash, b, bl + 1);
	}
	return p;
}

/* Collect the *.yaml files under top/rel (relative to top), as Home
 * Assistant does: into subdirectories, past nothing hidden, never
 * following a link to a directory, leaving secrets.yaml out. */
static int walk(struct loader *L, const struct mqb_conf_mark *at, const char *top, const char *rel,
		unsigned depth, struct names *out)
{
	char *path = rel ? path_cat(top, rel) : mqb__strdup(top);
	if (!path)
		return nomem(L), -1;
	DIR *d = opendir(path);
	if (!d && !rel && errno == ENOENT) {
		/* Home Assistant walks a missing directory as an empty one (git
		 * keeps no empty directory, so a cloned configuration often
		 * lacks one): so do we, but say so */
		lnote(L, at, "%s does not exist: taken as an empty directory, as Home Assistant "
			     "takes it", path);
		mqb__free(path);
		return 0;
	}
	if (!d) {
		lerr(L, at, "cannot read %s: %s", path, mqb_strerror(-errno));
		mqb__free(path);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (++L->dir_entries > L->lim.max_nodes) {
			lfatal(L, at, "more than %zu directory entries under %s", L->lim.max_nodes, top);
			rc = -1;
			break;
		}
		char *child = rel ? path_cat(rel, e->d_name) : mqb__strdup(e->d_name);
		if (!child) {
			nomem(L);
			rc = -1;
			break;
		}
		unsigned char type = e->d_type;
		if (type == DT_UNKNOWN) {
			struct stat st;
			char *full = path_cat(top, child);
			if (full && lstat(full, &st) == 0)
				type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG :
				       S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
			mqb__free(full);
		}
		if (type == DT_DIR) {
			if (depth + 1 > L->lim.max_includes)
				lerr(L, at, "directories nested deeper than %u under %s",
				     L->lim.max_includes, top);
			else
				rc = walk(L, at, top, child, depth + 1, out);
		} else if ((type == DT_REG || type == DT_LNK) && ends_with(e->d_name, ".yaml") &&
			   strcmp(e->d_name, SECRETS_YAML) != 0) {
			if (out->n == out->cap) {
				size_t cap = out->cap ? 2 * out->cap : 16;
				char **nv = mqb__realloc(out->v, cap * sizeof *nv);
				if (!nv) {
					mqb__free(child);
					nomem(L);
					rc = -1;
					break;
				}
				out->v = nv;
				out->cap = cap;
			}
			out->v[out->n++] = child;
			child = NULL;
		}
		mqb__free(child);
	}
	closedir(d);
	mqb__free(path);
	return stopped(L) ? -1 : rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const struct mqb_conf_node *do_include_dir(struct file *f, const struct mqb_conf_mark *m,
						  enum dir_kind kind, const char *name)
{
	static const char *const tags[] = { "!include_dir_list", "!include_dir_named",
					    "!include_dir_merge_list", "!include_dir_merge_named" };
	struct loader *L = f->L;
	struct names files = { NULL, 0, 0 };
	struct vec items = { NULL, 0, 0 };
	const struct mqb_conf_node *result = NULL;
	bool map = kind == DIR_NAMED || kind == DIR_MERGE_NAMED, failed = false;
	const char *dir = include_path(f, m, name);
	if (!dir)
		return NULL;
	if (depth_of(f) + 1 > L->lim.max_depth) {
		lfatal(L, m, "nesting deeper than %u", L->lim.max_depth);
		return NULL;
	}
	if (!count(L, m, 1, PARSED))
		return NULL;
	if (walk(L, m, dir, NULL, 0, &files) < 0) {
		result = stopped(L) ? NULL : broken(L, m);
		goto out;
	}
	if (files.n)
		qsort(files.v, files.n, sizeof *files.v, cmp_names);
	for (size_t i = 0; i < files.n && !stopped(L); i++) {
		const char *path = join(L, dir, files.v[i]);
		if (!path)
			break;
		struct mqb_conf_mark fm = { path, 1, 1 };
		bool ok;
		const struct mqb_conf_node *root =
			include_file(f, m, path, path, 1, f->in_secrets, &ok);
		if (!ok) {
			failed = true;
			continue;
		}
		if (kind == DIR_MERGE_LIST || kind == DIR_MERGE_NAMED) {
			enum mqb_conf_kind want = kind == DIR_MERGE_LIST ? MQB_CONF_SEQ : MQB_CONF_MAP;
			if (!root)
				continue;
			/* Home Assistant's loader passes over such a file without a
			 * word (util/yaml/loader.py, _include_dir_merge_list_yaml and
			 * _include_dir_merge_named_yaml): so do we, but say so, as
			 * what the file holds is then configured nowhere. */
			if (mqb_conf_kind(root) != want) {
				struct mqb_conf_mark rm = mqb_conf_mark(root);
				lnote(L, &rm, "ignored: %s takes %s from each file, and this one holds %s "
					      "(Home Assistant ignores it too)", tags[kind],
				      want == MQB_CONF_SEQ ? "a sequence" : "a mapping",
				      kind_name(root));
				continue;
			}
			size_t n = mqb_conf_len(root);
			for (size_t j = 0; j < n; j++) {
				if (want == MQB_CONF_SEQ) {
					vec_push(L, &items, mqb_conf_item(root, j));
				} else {
					vec_push(L, &items, mqb_conf_key(root, j));
					vec_push(L, &items, mqb_conf_value(root, j));
				}
			}
			continue;
		}
		if (!root && !(root = node_new(L, MQB_CONF_NULL, &fm, "", 0, 0)))
			break;
		if (kind == DIR_NAMED) {
			const char *base = strrchr(path, '/');
			base = base ? base + 1 : path;
			if (!count(L, &fm, 1, PARSED))
				break;
			const struct mqb_conf_node *key =
				node_new(L, MQB_CONF_SCALAR, &fm, base, strlen(base) - 5, 0);
			if (!key)
				break;
			vec_push(L, &items, key);
		}
		vec_push(L, &items, root);
	}
	if (stopped(L))
		goto out;
	if (failed) {
		result = broken(L, m);
		goto out;
	}
	struct mqb_conf_node *n = conf__node_new(L->doc, map ? MQB_CONF_MAP : MQB_CONF_SEQ, m, NULL, 0, 0);
	if (!n) {
		nomem(L);
		goto out;
	}
	if (map)
		finish_map(L, n, items.v, items.n, false);
	else if (conf__node_set_children(L->doc, n, items.v, items.n) < 0)
		nomem(L);
	if (!stopped(L) && depth_of(f) + conf__node_height(n) > L->lim.max_depth)
		lfatal(L, m, "nesting deeper than %u", L->lim.max_depth);
	result = n;
out:
	names_free(&files);
	mqb__free(items.v);
	return stopped(L) ? NULL : result;
}

/* ---- !secret and !env_var ----------------------------------------------- */

/* secrets.yaml in the resolved directory dir, read once per load. */
static struct cached_secrets *secrets_in(struct file *f, const struct mqb_conf_mark *at,
					 const char *dir)
{
	struct loader *L = f->L;
	struct cached_secrets *s = hashmap__get(&L->secrets, dir, strlen(dir));
	if (s)
		return s;
	if (!(s = mqb__calloc(1, sizeof *s)) || !(s->dir = mqb__strdup(dir))) {
		if (s)
			mqb__free(s);
		return nomem(L);
	}
	if (hashmap__put(&L->secrets, s->dir, strlen(s->dir), s, NULL) < 0) {
		mqb__free(s->dir);
		mqb__free(s);
		return nomem(L);
	}
	/* Shown relative to the main file's directory, as the user wrote it. */
	const char *rel = dir + strlen(L->main_real_dir);
	while (*rel == '/')
		rel++;
	char *open_path = path_cat(dir, SECRETS_YAML), *shown = NULL;
	char *reldir = rel[0] ? path_cat(L->main_dir, rel) : mqb__strdup(L->main_dir);
	if (reldir)
		shown = reldir[0] ? path_cat(reldir, SECRETS_YAML) : mqb__strdup(SECRETS_YAML);
	const char *path = shown ? conf__doc_strndup(L->doc, shown, strlen(shown)) : NULL;
	struct stat st;
	if (!open_path || !path) {
		nomem(L);
	} else if (stat(open_path, &st) < 0 && (errno == ENOENT || errno == ENOTDIR)) {
		/* none here */
	} else {
		bool ok;
		const struct mqb_conf_node *root = include_file(f, at, open_path, path, 0, true, &ok);
		s->failed = !ok;
		if (ok && root && mqb_conf_kind(root) != MQB_CONF_MAP) {
			struct mqb_conf_mark rm = mqb_conf_mark(root);
			lerr(L, &rm, "%s must be a mapping of names to values, not %s", path,
			     kind_name(root));
			s->failed = true;
		} else if (ok && root) {
			for (size_t i = 0; i < mqb_conf_len(root); i++)
				conf__node_mark_secret(mqb_conf_value(root, i));
			s->root = root;
			if (conf__doc_add_secret_file(L->doc, open_path))
				nomem(L);
		}
	}
	mqb__free(open_path);
	mqb__free(reldir);
	mqb__free(shown);
	return stopped(L) ? NULL : s;
}

/* path with a key (key NULL: the index) after it; path is freed. NULL on
 * ENOMEM. */
static char *path_add(char *path, const char *key, size_t index)
{
	char *p = NULL;
	if (path && key)
		p = mqb__fmt(NULL, 0, "%s%s%s", path, *path ? "." : "", key);
	else if (path)
		p = mqb__fmt(NULL, 0, "%s[%zu]", path, index);
	mqb__free(path);
	return p;
}

/* Where the parse of f is, as the path from the main file's root that the
 * schema's errors give ("mqtt.sensor[2].name"), through the files that
 * include f. NULL on ENOMEM. */
static char *position_path(const struct file *f)
{
	char *path = f->parent ? position_path(f->parent) : mqb__strdup("");
	for (size_t i = 0; path && i < f->nframes; i++) {
		/* A frame's children so far are pending up to the next frame's. */
		const struct frame *fr = &f->frames[i];
		size_t end = i + 1 < f->nframes ? f->frames[i + 1].start : f->pending.n;
		size_t n = end - fr->start;
		char buf[80];
		if (mqb_conf_kind(fr->node) == MQB_CONF_SEQ)
			path = path_add(path, NULL, n);
		else if (n % 2) /* a key waiting for its value */
			path = path_add(path, mqb_conf_display(f->pending.v[end - 1], buf, sizeof buf), 0);
	}
	return path;
}

/* The value of secret name from secrets.yaml beside the file asking, else
 * in the directories above it up to the main file's, never above. */
static const struct mqb_conf_node *do_secret(struct file *f, const struct mqb_conf_mark *m,
					     const char *name, size_t len)
{
	struct loader *L = f->L;
	const struct mqb_conf_node *v = NULL;
	bool failed = false;
	if (f->in_secrets) {
		lerr(L, m, "!secret cannot be used in %s or a file it includes", SECRETS_YAML);
		return broken(L, m);
	}
	char *d = f->real_dir && L->main_real_dir ? mqb__strdup(f->real_dir) : NULL;
	if (f->real_dir && L->main_real_dir && !d)
		return nomem(L);
	if (d && within(d, L->main_real_dir)) {
		for (;;) {
			struct cached_secrets *s = secrets_in(f, m, d);
			if (!s)
				break;
			failed |= s->failed;
			const struct mqb_conf_node *k;
			for (size_t i = 0; s->root && i < mqb_conf_len(s->root) && !v; i++) {
				size_t kl;
				const char *ks = mqb_conf_scalar(k = mqb_conf_key(s->root, i), &kl);
				if (mqb_conf_kind(k) == MQB_CONF_SCALAR && kl == len &&
				    memcmp(ks, name, len) == 0)
					v = mqb_conf_value(s->root, i);
			}
			if (v || strcmp(d, L->main_real_dir) == 0)
				break;
			char *slash = strrchr(d, '/');
			if (!slash)
				break;
			slash[slash == d] = '\0'; /* "/a" goes up to "/", "/a/b" to "/a" */
		}
	}
	mqb__free(d);
	if (stopped(L))
		return NULL;
	if (!v) {
		char *path = failed ? NULL : position_path(f);
		if (!failed)
			lerr_at(L, m, path, "secret '%s' is not defined in any %s (asked for by %s)",
				name, SECRETS_YAML, f->path);
		mqb__free(path);
		return broken(L, m);
	}
	if (!place_shared(f, m, v, false))
		return NULL;
	/* In use: from now on no log line or error shows it. */
	if (conf__node_register_secret(L->doc, v))
		return nomem(L);
	struct mqb_conf_node *c = conf__node_copy(L->doc, v, m, CONF_SECRET);
	return c ? c : nomem(L);
}

/* `!env_var NAME [default]`: the variable's value, else the default (the
 * rest of the words, joined by single spaces). */
static const struct mqb_conf_node *do_env(struct file *f, const struct mqb_conf_mark *m,
					  const char *text, size_t len)
{
	struct loader *L = f->L;
	char *copy = mqb__strndup(text, len), *save = NULL;
	if (!copy)
		return nomem(L);
	const struct mqb_conf_node *n = NULL;
	char *name = strtok_r(copy, " \t\r\n", &save), *word, *def = NULL;
	size_t dl = 0;
	if (!name) {
		lerr(L, m, "!env_var needs a variable name");
		n = broken(L, m);
		goto out;
	}
	/* Join the default's words into the space after the name. */
	while ((word = strtok_r(NULL, " \t\r\n", &save))) {
		if (!def)
			def = word;
		else {
			size_t wl = strlen(word);
			def[dl++] = ' ';
			memmove(def + dl, word, wl + 1);
		}
		dl = strlen(def);
	}
	const char *value = getenv(name);
	if (!value)
		value = def;
	if (!value) {
		lerr(L, m, "environment variable %s is not set and !env_var gives no default", name);
		n = broken(L, m);
		goto out;
	}
	n = node_new(L, MQB_CONF_SCALAR, m, value, strlen(value), CONF_QUOTED);
out:
	mqb__free(copy);
	return n;
}

/* ---- events ------------------------------------------------------------- */

static bool tag_is(const char *tag, const char *name)
{
	return strcmp(tag, name) == 0;
}

/* A scalar with a tag: ours, YAML's own, or an error. */
static const struct mqb_conf_node *tagged_scalar(struct file *f, const struct mqb_conf_mark *m,
						 const char *tag, const char *text, size_t len,
						 bool plain)
{
	struct loader *L = f->L;
	static const char *const dir_tags[] = { "!include_dir_list", "!include_dir_named",
						"!include_dir_merge_list", "!include_dir_merge_named" };
	if (tag_is(tag, "!"))
		return node_new(L, MQB_CONF_SCALAR, m, text, len, CONF_QUOTED);
	if (strncmp(tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)) == 0) {
		const char *t = tag + strlen(YAML_TAG_PREFIX);
		if (tag_is(t, "null"))
			return node_new(L, MQB_CONF_NULL, m, text, len, 0);
		return node_new(L, MQB_CONF_SCALAR, m, text, len,
				tag_is(t, "str") || !plain ? CONF_QUOTED : 0);
	}
	bool secret = tag_is(tag, "!secret"), include = tag_is(tag, "!include");
	bool env = tag_is(tag, "!env_var");
	if (tag_is(tag, "!input")) {
		if (!L->blueprint) {
			lerr(L, m, "!input is only valid in a blueprint (blueprints/automation/ or "
				   "blueprints/script/ beside the configuration)");
			return broken(L, m);
		}
		if (len == 0 || memchr(text, '\0', len)) {
			lerr(L, m, "!input needs an input's name");
			return broken(L, m);
		}
		const struct mqb_conf_node *n = node_new(L, MQB_CONF_SCALAR, m, text, len, CONF_QUOTED);
		if (n && conf__doc_add_input(L->doc, n) < 0)
			return nomem(L);
		return n;
	}
	int dir = -1;
	for (int i = 0; i < 4; i++)
		if (tag_is(tag, dir_tags[i]))
			dir = i;
	if (!secret && !include && !env && dir < 0) {
		lerr(L, m, "unknown tag %.80s", tag);
		return broken(L, m);
	}
	if (memchr(text, '\0', len)) {
		lerr(L, m, "%s: the argument holds a NUL byte", tag);
		return broken(L, m);
	}
	if (env)
		return do_env(f, m, text, len);
	if (len == 0) {
		lerr(L, m, "%s needs %s", tag,
		     secret ? "a secret's name" : include ? "a file name" : "a directory name");
		return broken(L, m);
	}
	if (secret)
		return do_secret(f, m, text, len);
	if (include)
		return do_include(f, m, text);
	return do_include_dir(f, m, (enum dir_kind)dir, text);
}

static bool is_null(const char *s, size_t len)
{
	return len == 0 || (len == 1 && s[0] == '~') ||
	       (len == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 ||
			     memcmp(s, "NULL", 4) == 0));
}

static void emit(struct file *f, const struct mqb_conf_node *n)
{
	if (f->nframes)
		vec_push(f->L, &f->pending, n);
	else
		f->root = n;
}

static struct anchor *add_anchor(struct file *f, const struct mqb_conf_mark *m, const char *name,
				 const struct mqb_conf_node *node, bool open)
{
	struct loader *L = f->L;
	struct anchor *old = hashmap__get(&f->anchors, name, strlen(name));
	if (old)
		lerr(L, m, "anchor &%.80s defined twice (first at line %u)", name, old->line);
	struct anchor *a = mqb__calloc(1, sizeof *a);
	if (!a || !(a->name = mqb__strdup(name))) {
		mqb__free(a);
		return nomem(L);
	}
	a->node = node;
	a->line = m->line;
	a->open = open;
	a->next = f->anchor_list;
	f->anchor_list = a;
	if (hashmap__put(&f->anchors, a->name, strlen(a->name), a, NULL) < 0)
		return nomem(L);
	return a;
}

static void on_alias(struct file *f, const yaml_event_t *ev)
{
	struct loader *L = f->L;
	struct mqb_conf_mark m = mark_of(f, ev->start_mark);
	const char *name = (const char *)ev->data.alias.anchor;
	struct anchor *a = hashmap__get(&f->anchors, name, strlen(name));
	const struct mqb_conf_node *n;
	if (!a) {
		lerr(L, &m, "unknown alias *%.80s", name);
		n = broken(L, &m);
	} else if (a->open) {
		lerr(L, &m, "alias *%.80s is inside the node it names (a cycle)", name);
		n = broken(L, &m);
	} else if (!place_shared(f, &m, a->node, true)) {
		return;
	} else {
		n = a->node;
	}
	if (n)
		emit(f, n);
}

/* Whether the next node f emits is a mapping's key. */
static bool at_key(const struct file *f)
{
	if (!f->nframes)
		return false;
	const struct frame *fr = &f->frames[f->nframes - 1];
	return mqb_conf_kind(fr->node) == MQB_CONF_MAP && (f->pending.n - fr->start) % 2 == 0;
}

/* A plain key, its text shared with the keys of the same text before it. */
static const struct mqb_conf_node *key_new(struct loader *L, const struct mqb_conf_mark *m,
					   const char *text, size_t len)
{
	const struct mqb_conf_node *first = hashmap__get(&L->key_text, text, len);
	if (first) {
		const struct mqb_conf_node *n = conf__node_same_text(L->doc, first, m);
		return n ? n : nomem(L);
	}
	const struct mqb_conf_node *n = node_new(L, MQB_CONF_SCALAR, m, text, len, 0);
	if (n && hashmap__put(&L->key_text, mqb_conf_scalar(n, NULL), len, (void *)n, NULL) < 0)
		return nomem(L);
	return n;
}

static void on_scalar(struct file *f, const yaml_event_t *ev)
{
	struct loader *L = f->L;
	struct mqb_conf_mark m = mark_of(f, ev->start_mark);
	const char *text = (const char *)ev->data.scalar.value, *tag = (const char *)ev->data.scalar.tag;
	size_t len = ev->data.scalar.length;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	const struct mqb_conf_node *n;
	if (!count(L, &m, 1, PARSED))
		return;
	if (tag)
		n = tagged_scalar(f, &m, tag, text, len, plain);
	else if (plain && is_null(text, len))
		n = node_new(L, MQB_CONF_NULL, &m, text, len, 0);
	else if (plain && at_key(f))
		n = key_new(L, &m, text, len);
	else
		n = node_new(L, MQB_CONF_SCALAR, &m, text, len,
			     plain ? 0
			     : ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
					     ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE
				     ? CONF_QUOTED | CONF_BLOCK
				     : CONF_QUOTED);
	if (!n || stopped(L))
		return;
	if (ev->data.scalar.anchor)
		add_anchor(f, &m, (const char *)ev->data.scalar.anchor, n, false);
	emit(f, n);
}

static void on_start(struct file *f, const yaml_event_t *ev, enum mqb_conf_kind kind)
{
	struct loader *L = f->L;
	struct mqb_conf_mark m = mark_of(f, ev->start_mark);
	const char *tag, *anchor;
	if (kind == MQB_CONF_SEQ) {
		tag = (const char *)ev->data.sequence_start.tag;
		anchor = (const char *)ev->data.sequence_start.anchor;
	} else {
		tag = (const char *)ev->data.mapping_start.tag;
		anchor = (const char *)ev->data.mapping_start.anchor;
	}
	if (depth_of(f) + 1 > L->lim.max_depth) {
		lfatal(L, &m, "nesting deeper than %u", L->lim.max_depth);
		return;
	}
	if (!count(L, &m, 1, PARSED))
		return;
	if (tag && !tag_is(tag, "!") && !tag_is(tag, YAML_TAG_PREFIX "seq") &&
	    !tag_is(tag, YAML_TAG_PREFIX "map")) {
		if (tag[0] == '!' && strncmp(tag, "!include", 8) == 0)
			lerr(L, &m, "%.80s needs a name, not %s", tag,
			     kind == MQB_CONF_SEQ ? "a sequence" : "a mapping");
		else
			lerr(L, &m, "unknown tag %.80s", tag);
	}
	struct mqb_conf_node *n = conf__node_new(L->doc, kind, &m, NULL, 0, 0);
	if (!n) {
		nomem(L);
		return;
	}
	if (f->nframes == f->fcap) {
		size_t cap = f->fcap ? 2 * f->fcap : 16;
		struct frame *nf = mqb__realloc(f->frames, cap * sizeof *nf);
		if (!nf) {
			nomem(L);
			return;
		}
		f->frames = nf;
		f->fcap = cap;
	}
	struct frame *fr = &f->frames[f->nframes++];
	fr->node = n;
	fr->start = f->pending.n;
	fr->anchor = anchor ? add_anchor(f, &m, anchor, n, true) : NULL;
}

static void on_end(struct file *f)
{
	struct loader *L = f->L;
	if (!f->nframes)
		return;
	struct frame fr = f->frames[--f->nframes];
	size_t n = f->pending.n - fr.start;
	const struct mqb_conf_node *const *kids = n ? f->pending.v + fr.start : NULL;
	if (mqb_conf_kind(fr.node) == MQB_CONF_MAP)
		finish_map(L, fr.node, kids, n, true);
	else if (conf__node_set_children(L->doc, fr.node, kids, n) < 0)
		nomem(L);
	f->pending.n = fr.start;
	if (fr.anchor)
		fr.anchor->open = false;
	if (!stopped(L))
		emit(f, fr.node);
}

/* libyaml's complaint at its own mark (0-based there, 1-based here). */
static void parse_error(struct file *f, const yaml_parser_t *p, const unsigned char *buf,
			size_t len)
{
	struct loader *L = f->L;
	const char *problem = p->problem ? p->problem : "syntax error";
	struct mqb_conf_mark m;
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		nomem(L);
		return;
	case YAML_READER_ERROR:
		/* No mark from the reader, only an offset: count to it. */
		m.file = f->path;
		m.line = m.column = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (buf[i] == '\n') {
				m.line++;
				m.column = 1;
			} else if ((buf[i] & 0xc0) != 0x80) {
				m.column++;
			}
		}
		if (p->problem_value >= 0)
			lerr(L, &m, "%s (byte 0x%02x)", problem, (unsigned)p->problem_value & 0xff);
		else
			lerr(L, &m, "%s", problem);
		return;
	default:
		m = mark_of(f, p->problem_mark);
		if (p->context)
			lerr(L, &m, "%s (%s at line %zu, column %zu)", problem, p->context,
			     p->context_mark.line + 1, p->context_mark.column + 1);
		else
			lerr(L, &m, "%s", problem);
	}
}

static void parse(struct file *f, const unsigned char *buf, size_t len)
{
	struct loader *L = f->L;
	static const unsigned char empty[1];
	yaml_parser_t p;
	unsigned docs = 0;
	if (!yaml_parser_initialize(&p)) {
		nomem(L);
		return;
	}
	yaml_parser_set_input_string(&p, buf ? buf : empty, buf ? len : 0);
	for (bool done = false; !done && !stopped(L);) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			parse_error(f, &p, buf, len);
			f->failed = true;
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				struct mqb_conf_mark m = mark_of(f, ev.start_mark);
				lerr(L, &m, "a second document in one file (one is allowed)");
				f->failed = true;
				done = true;
			}
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_ALIAS_EVENT:
			on_alias(f, &ev);
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(f, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			on_start(f, &ev, MQB_CONF_SEQ);
			break;
		case YAML_MAPPING_START_EVENT:
			on_start(f, &ev, MQB_CONF_MAP);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			on_end(f);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
}

/* ---- entry points ------------------------------------------------------- */

static int loader_init(struct loader *L, const struct conf_limits *lim,
		       struct mqb_conf_errors *errs)
{
	memset(L, 0, sizeof *L);
	L->errs = errs;
	L->lim.max_file_size = lim && lim->max_file_size ? lim->max_file_size : DEFAULT_FILE_SIZE;
	L->lim.max_depth = lim && lim->max_depth ? lim->max_depth : DEFAULT_DEPTH;
	L->lim.max_nodes = lim && lim->max_nodes ? lim->max_nodes : DEFAULT_NODES;
	L->lim.max_includes = lim && lim->max_includes ? lim->max_includes : DEFAULT_INCLUDES;
	hashmap__init(&L->files);
	hashmap__init(&L->secrets);
	hashmap__init(&L->keys);
	hashmap__init(&L->key_text);
	L->doc = conf__doc_new();
	return L->doc ? 0 : -ENOMEM;
}

/* Free all but the document; the result of the load. */
static int loader_fini(struct loader *L, struct mqb_conf_doc **out)
{
	struct hashmap_entry *e;
	size_t it = 0;
	while ((e = hashmap__next(&L->files, &it))) {
		struct cached_file *c = e->value;
		mqb__free(c->real);
		mqb__free(c);
	}
	it = 0;
	while ((e = hashmap__next(&L->secrets, &it))) {
		struct cached_secrets *s = e->value;
		mqb__free(s->dir);
		mqb__free(s);
	}
	hashmap__fini(&L->files);
	hashmap__fini(&L->secrets);
	hashmap__fini(&L->keys);
	hashmap__fini(&L->key_text);
	mqb__free(L->scratch.v);
	mqb__free(L->main_real_dir);
	int rc = L->rc ? L->rc : L->nerrors || L->fatal ? -EINVAL : 0;
	if (rc == 0)
		*out = L->doc;
	else
		mqb_conf_doc_free(L->doc);
	return rc;
}

/* Parse the main file's text; f's path and real are set. */
static void load_main(struct loader *L, struct file *f, const unsigned char *text, size_t len)
{
	if (len > L->lim.max_file_size) {
		lerr(L, NULL, "%s is larger than %zu bytes", f->path, L->lim.max_file_size);
		return;
	}
	parse(f, text, len);
	if (!f->failed && !stopped(L))
		conf__doc_set_root(L->doc, f->root);
}

static int load_path(const char *path, const struct conf_limits *lim, bool blueprint,
		     struct mqb_conf_doc **out, struct mqb_conf_errors *errs)
{
	MQB_CHECK(path && out && errs, "path, out and errs are required");
	struct loader L;
	*out = NULL;
	if (loader_init(&L, lim, errs) < 0)
		return nomem(&L), loader_fini(&L, out);
	L.blueprint = blueprint;
	const char *shown = conf__doc_strndup(L.doc, path, strlen(path));
	if (!shown || !(L.main_dir = dir_part(&L, shown)))
		return nomem(&L), loader_fini(&L, out);
	L.main_real_dir = resolve(&L, L.main_dir);
	char *real = resolve(&L, path);
	unsigned char *buf = NULL;
	size_t len = 0;
	if (!real) {
		if (!stopped(&L))
			lerr(&L, NULL, "cannot read %s: %s", path, mqb_strerror(-errno));
	} else if (read_file(&L, NULL, path, &buf, &len) == 0) {
		struct file f;
		file_init(&f, &L, NULL, shown, real, 0, false);
		real = NULL;
		load_main(&L, &f, buf, len);
		file_fini(&f);
	}
	mqb__free(real);
	mqb__free(buf);
	return loader_fini(&L, out);
}

int conf__load(const char *path, const struct conf_limits *lim, struct mqb_conf_doc **out,
		  struct mqb_conf_errors *errs)
{
	return load_path(path, lim, false, out, errs);
}

int conf__load_blueprint(const char *path, const struct conf_limits *lim,
			 struct mqb_conf_doc **out, struct mqb_conf_errors *errs)
{
	return load_path(path, lim, true, out, errs);
}

int conf__load_string(const char *name, const char *dir, const char *text, size_t len,
			 const struct conf_limits *lim, struct mqb_conf_doc **out,
			 struct mqb_conf_errors *errs)
{
	MQB_CHECK(out && errs && (text || len == 0), "out, errs and text are required");
	struct loader L;
	*out = NULL;
	if (loader_init(&L, lim, errs) < 0)
		return nomem(&L), loader_fini(&L, out);
	const char *shown = name ? name : "<string>";
	/* The text stands for a file in dir: includes and secrets start there. */
	const char *d = dir && dir[0] ? join(&L, dir, "") : "";
	struct file f;
	if (!(shown = conf__doc_strndup(L.doc, shown, strlen(shown))) || !d)
		return nomem(&L), loader_fini(&L, out);
	L.main_dir = d;
	L.main_real_dir = resolve(&L, d);
	file_init(&f, &L, NULL, shown, NULL, 0, false);
	/* The name is only a label: the directory is dir's, not the name's. */
	f.dir = d;
	mqb__free(f.real_dir);
	f.real_dir = L.main_real_dir ? mqb__strdup(L.main_real_dir) : NULL;
	if (L.main_real_dir && !f.real_dir)
		nomem(&L);
	if (!stopped(&L))
		load_main(&L, &f, (const unsigned char *)text, len);
	file_fini(&f);
	return loader_fini(&L, out);
}
