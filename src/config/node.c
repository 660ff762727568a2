/* SPDX-License-Identifier: MIT */
/* Configuration nodes and the error list: the data the loader (load.c)
 * builds and the schema code reads. Nodes live in one arena per document,
 * so a document is freed in a few calls however many nodes it holds. */
#include "lib/internal.h"

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqbridge/config.h"

#include "config/config_impl.h"
#include "config/load.h"
#include "config/schema.h"
#include "lib/hashmap.h"
#include "mqbridge/text.h"

/* ---- nodes -------------------------------------------------------------- */

/* 32 bytes: a configuration of 100,000 entities holds millions. The
 * sizes fit: a file is at most 64 MiB, nesting 64 deep; a column past
 * 65535 and a weight past 4 billion are kept at the largest value. */
struct mqb_conf_node {
	const char *file;  /* the mark's */
	union {
		const char *text;                   /* scalars and nulls, NUL-terminated */
		const struct mqb_conf_node **items; /* maps: key, value, key, value, ... */
	} u;
	uint32_t line;
	uint32_t weight;   /* this node and all below it, shared nodes counted each time */
	uint32_t len;      /* scalar bytes; sequence items; mapping pairs */
	uint16_t column;
	uint8_t kind : 3;  /* enum mqb_conf_kind */
	uint8_t flags : 5; /* CONF_* */
	uint8_t height;    /* collections: 1 + the deepest child; 0 for the rest */
};

_Static_assert(sizeof(struct mqb_conf_node) <= 32, "a node stays small");

static void set_mark(struct mqb_conf_node *n, const struct mqb_conf_mark *m)
{
	n->file = m->file;
	n->line = m->line;
	n->column = m->column > UINT16_MAX ? UINT16_MAX : (uint16_t)m->column;
}

static uint32_t sat32(size_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* The arena: blocks of growing size, bump allocation, freed all at once. */
struct arena_block {
	struct arena_block *next;
	size_t used, size;
	alignas(max_align_t) unsigned char data[];
};

#define ARENA_FIRST 4096u
#define ARENA_MAX (256u * 1024u)
/* Nodes, pointer arrays and the loader's structs need no more (pointers,
 * size_t, double); text needs none. */
#define ARENA_ALIGN (alignof(void *) > alignof(double) ? alignof(void *) : alignof(double))

struct secret_file {
	const char *path;
	struct secret_file *next;
};

struct note {
	const char *text;
	struct note *next;
};

/* A secret's value this document registered with the log (lib/log.c):
 * dropped again when the document goes. */
struct registered {
	const char *text;
	size_t len;
	struct registered *next;
};

/* A document another holds: a blueprint whose nodes an automation of the
 * holder is made of. */
struct held_doc {
	struct mqb_conf_doc *doc;
	struct held_doc *next;
};

/* A blueprint's !input tag, by its node. */
struct input_node {
	const struct mqb_conf_node *node;
	struct input_node *next;
};

struct mqb_conf_doc {
	struct arena_block *blocks; /* the first is the one being filled */
	size_t next_size;
	const struct mqb_conf_node *root;
	struct secret_file *secret_files; /* most recent first */
	struct note *notes, **notes_end;  /* in the order found */
	struct registered *registered;
	struct held_doc *held;
	struct input_node *inputs;
};

struct mqb_conf_doc *conf__doc_new(void)
{
	struct mqb_conf_doc *doc = mqb__calloc(1, sizeof *doc);
	if (doc) {
		doc->next_size = ARENA_FIRST;
		doc->notes_end = &doc->notes;
	}
	return doc;
}

void mqb_conf_doc_free(struct mqb_conf_doc *doc)
{
	if (!doc)
		return;
	for (struct registered *r = doc->registered; r; r = r->next)
		mqb__secret_drop(r->text, r->len);
	for (struct held_doc *h = doc->held; h; h = h->next)
		mqb_conf_doc_free(h->doc);
	for (struct arena_block *b = doc->blocks, *next; b; b = next) {
		next = b->next;
		mqb__free(b);
	}
	mqb__free(doc);
}

static void *arena_alloc(struct mqb_conf_doc *doc, size_t n, size_t align)
{
	if (n > SIZE_MAX / 2)
		return NULL;
	if (n == 0)
		n = 1;
	struct arena_block *b = doc->blocks;
	if (b) {
		size_t at = (b->used + align - 1) & ~(align - 1);
		if (at <= b->size && b->size - at >= n) {
			b->used = at + n;
			return b->data + at;
		}
	}
	/* A large request gets a block of its own behind the current one, so
	 * the space left in the current block is not lost. */
	bool own = n > doc->next_size / 4;
	size_t size = own ? n : doc->next_size;
	struct arena_block *nb = mqb__malloc(sizeof *nb + size);
	if (!nb)
		return NULL;
	nb->size = size;
	nb->used = n;
	if (own && b) {
		nb->next = b->next;
		b->next = nb;
	} else {
		nb->next = b;
		doc->blocks = nb;
		if (!own && doc->next_size < ARENA_MAX)
			doc->next_size *= 2;
	}
	return nb->data;
}

void *conf__doc_alloc(struct mqb_conf_doc *doc, size_t n)
{
	return arena_alloc(doc, n, ARENA_ALIGN);
}

char *conf__doc_strndup(struct mqb_conf_doc *doc, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	char *p = arena_alloc(doc, n + 1, 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void conf__doc_set_root(struct mqb_conf_doc *doc, const struct mqb_conf_node *root)
{
	doc->root = root;
}

int conf__doc_add_secret_file(struct mqb_conf_doc *doc, const char *path)
{
	struct secret_file *f = conf__doc_alloc(doc, sizeof *f);
	if (!f || !(f->path = conf__doc_strndup(doc, path, strlen(path))))
		return -ENOMEM;
	f->next = doc->secret_files;
	doc->secret_files = f;
	return 0;
}

const char *conf__doc_secret_file(const struct mqb_conf_doc *doc, size_t i)
{
	const struct secret_file *f = doc ? doc->secret_files : NULL;
	while (f && i--)
		f = f->next;
	return f ? f->path : NULL;
}

int conf__doc_hold(struct mqb_conf_doc *doc, struct mqb_conf_doc *other)
{
	struct held_doc *h = conf__doc_alloc(doc, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->doc = other;
	h->next = doc->held;
	doc->held = h;
	return 0;
}

int conf__doc_add_input(struct mqb_conf_doc *doc, const struct mqb_conf_node *node)
{
	struct input_node *i = conf__doc_alloc(doc, sizeof *i);
	if (!i)
		return -ENOMEM;
	i->node = node;
	i->next = doc->inputs;
	doc->inputs = i;
	return 0;
}

bool conf__doc_is_input(const struct mqb_conf_doc *doc, const struct mqb_conf_node *node)
{
	for (const struct input_node *i = doc->inputs; i; i = i->next)
		if (i->node == node)
			return true;
	return false;
}

int conf__doc_add_note(struct mqb_conf_doc *doc, const char *text)
{
	struct note *n = conf__doc_alloc(doc, sizeof *n);
	if (!n || !(n->text = conf__doc_strndup(doc, text, strlen(text))))
		return -ENOMEM;
	n->next = NULL;
	*doc->notes_end = n;
	doc->notes_end = &n->next;
	return 0;
}

const char *conf__doc_note(const struct mqb_conf_doc *doc, size_t i)
{
	const struct note *n = doc ? doc->notes : NULL;
	while (n && i--)
		n = n->next;
	return n ? n->text : NULL;
}

const struct mqb_conf_node *mqb_conf_root(const struct mqb_conf_doc *doc)
{
	return doc ? doc->root : NULL;
}

struct mqb_conf_node *conf__node_new(struct mqb_conf_doc *doc, enum mqb_conf_kind kind,
				     const struct mqb_conf_mark *mark, const char *text, size_t len,
				     unsigned flags)
{
	struct mqb_conf_node *n = conf__doc_alloc(doc, sizeof *n);
	if (!n)
		return NULL;
	memset(n, 0, sizeof *n);
	set_mark(n, mark);
	n->kind = kind & 7;
	n->flags = flags & 31;
	n->weight = 1;
	if (kind == MQB_CONF_SCALAR || kind == MQB_CONF_NULL) {
		if (text && len > UINT32_MAX)
			return NULL;
		/* A plain scalar YAML 1.1 reads as a boolean or a number whose
		 * str() differs from its text ("True" for true, "8" for 010)
		 * keeps that after its text's NUL (CONF_PYSTR). */
		char buf[MQB_FLOAT_REPR_MAX + 8];
		size_t tl = text ? len : 0;
		size_t sl = kind == MQB_CONF_SCALAR && text && !(flags & (CONF_QUOTED | CONF_SECRET))
				    ? schema__python_str(text, tl, buf, sizeof buf)
				    : 0;
		char *t = arena_alloc(doc, tl + 1 + (sl ? sl + 1 : 0), 1);
		if (!t)
			return NULL;
		memcpy(t, text ? text : "", tl);
		t[tl] = '\0';
		if (sl) {
			memcpy(t + tl + 1, buf, sl + 1);
			n->flags |= CONF_PYSTR;
		}
		n->u.text = t;
		n->len = (uint32_t)tl;
	} else {
		n->height = 1;
	}
	return n;
}

static size_t add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

int conf__node_set_children(struct mqb_conf_doc *doc, struct mqb_conf_node *n,
			    const struct mqb_conf_node *const *v, size_t nv)
{
	const struct mqb_conf_node **items = NULL;
	if (nv) {
		if (nv > SIZE_MAX / sizeof *items)
			return -ENOMEM;
		items = conf__doc_alloc(doc, nv * sizeof *items);
		if (!items)
			return -ENOMEM;
		memcpy(items, v, nv * sizeof *items);
	}
	size_t weight = 1;
	unsigned height = 0;
	for (size_t i = 0; i < nv; i++) {
		weight = add_sat(weight, v[i]->weight);
		if (v[i]->height > height)
			height = v[i]->height;
	}
	if (nv > UINT32_MAX || height >= UINT8_MAX)
		return -ENOMEM; /* past the loader's bounds: never so */
	n->u.items = items;
	n->len = (uint32_t)(n->kind == MQB_CONF_MAP ? nv / 2 : nv);
	n->weight = sat32(weight);
	n->height = (uint8_t)(height + 1);
	return 0;
}

struct mqb_conf_node *conf__node_copy(struct mqb_conf_doc *doc, const struct mqb_conf_node *n,
				      const struct mqb_conf_mark *mark, unsigned add_flags)
{
	struct mqb_conf_node *c = conf__doc_alloc(doc, sizeof *c);
	if (!c)
		return NULL;
	*c = *n;
	set_mark(c, mark);
	c->flags = (c->flags | add_flags) & 31;
	return c;
}

struct mqb_conf_node *conf__node_same_text(struct mqb_conf_doc *doc,
					   const struct mqb_conf_node *n,
					   const struct mqb_conf_mark *mark)
{
	struct mqb_conf_node *c = conf__node_copy(doc, n, mark, 0);
	if (c) /* n's text and the Python str after it; n's own marks stay its */
		c->flags &= CONF_PYSTR;
	return c;
}

/* Everything below a secret is secret. A node already marked has had its
 * children marked, so shared nodes are visited once. */
void conf__node_mark_secret(const struct mqb_conf_node *cn)
{
	struct mqb_conf_node *n = (struct mqb_conf_node *)cn;
	if (n->flags & CONF_SECRET)
		return;
	n->flags |= CONF_SECRET;
	if (n->kind == MQB_CONF_SEQ || n->kind == MQB_CONF_MAP) {
		size_t nv = n->kind == MQB_CONF_MAP ? 2 * n->len : n->len;
		for (size_t i = 0; i < nv; i++)
			conf__node_mark_secret(n->u.items[i]);
	}
}

int conf__node_register_secret(struct mqb_conf_doc *doc, const struct mqb_conf_node *n)
{
	if (n->kind == MQB_CONF_SCALAR) {
		if (n->len == 0)
			return 0;
		struct registered *r = conf__doc_alloc(doc, sizeof *r);
		if (!r || mqb__secret_add(n->u.text, n->len))
			return -ENOMEM;
		*r = (struct registered){n->u.text, n->len, doc->registered};
		doc->registered = r;
		return 0;
	}
	if (n->kind != MQB_CONF_SEQ && n->kind != MQB_CONF_MAP)
		return 0;
	/* A mapping's values, not its keys: they name options ("port"), and
	 * masking a word of every line would hide more than the secret. */
	bool map = n->kind == MQB_CONF_MAP;
	int rc = 0;
	for (size_t i = 0; i < n->len && rc == 0; i++)
		rc = conf__node_register_secret(doc, n->u.items[map ? 2 * i + 1 : i]);
	return rc;
}

size_t conf__node_weight(const struct mqb_conf_node *n)
{
	return n->weight;
}

unsigned conf__node_height(const struct mqb_conf_node *n)
{
	return n->height;
}

bool conf__node_broken(const struct mqb_conf_node *n)
{
	return n->flags & CONF_BROKEN;
}

enum mqb_conf_kind mqb_conf_kind(const struct mqb_conf_node *n)
{
	return n ? n->kind : MQB_CONF_NULL;
}

struct mqb_conf_mark mqb_conf_mark(const struct mqb_conf_node *n)
{
	struct mqb_conf_mark m = { NULL, 0, 0 };
	if (n)
		m = (struct mqb_conf_mark){ n->file, n->line, n->column };
	return m;
}

const char *mqb_conf_scalar(const struct mqb_conf_node *n, size_t *len)
{
	if (!n || (n->kind != MQB_CONF_SCALAR && n->kind != MQB_CONF_NULL)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = n->len;
	return n->u.text;
}

const char *mqb_conf_string(const struct mqb_conf_node *n, size_t *len)
{
	if (n && n->kind == MQB_CONF_SCALAR && (n->flags & CONF_PYSTR)) {
		const char *s = n->u.text + n->len + 1;
		if (len)
			*len = strlen(s);
		return s;
	}
	return mqb_conf_scalar(n, len);
}

bool mqb_conf_quoted(const struct mqb_conf_node *n)
{
	return n && (n->flags & CONF_QUOTED);
}

unsigned conf__node_flags(const struct mqb_conf_node *n)
{
	return n ? n->flags : 0;
}

bool mqb_conf_is_secret(const struct mqb_conf_node *n)
{
	return n && (n->flags & CONF_SECRET);
}

size_t mqb_conf_len(const struct mqb_conf_node *n)
{
	return n && (n->kind == MQB_CONF_SEQ || n->kind == MQB_CONF_MAP) ? n->len : 0;
}

const struct mqb_conf_node *mqb_conf_item(const struct mqb_conf_node *seq, size_t i)
{
	return seq && seq->kind == MQB_CONF_SEQ && i < seq->len ? seq->u.items[i] : NULL;
}

const struct mqb_conf_node *mqb_conf_key(const struct mqb_conf_node *map, size_t i)
{
	return map && map->kind == MQB_CONF_MAP && i < map->len ? map->u.items[2 * i] : NULL;
}

const struct mqb_conf_node *mqb_conf_value(const struct mqb_conf_node *map, size_t i)
{
	return map && map->kind == MQB_CONF_MAP && i < map->len ? map->u.items[2 * i + 1] : NULL;
}

const struct mqb_conf_node *mqb_conf_get(const struct mqb_conf_node *map, const char *key)
{
	if (!map || map->kind != MQB_CONF_MAP || !key)
		return NULL;
	size_t klen = strlen(key);
	for (size_t i = 0; i < map->len; i++) {
		const struct mqb_conf_node *k = map->u.items[2 * i];
		if (k->kind == MQB_CONF_SCALAR && k->len == klen && memcmp(k->u.text, key, klen) == 0)
			return map->u.items[2 * i + 1];
	}
	return NULL;
}

/* What of a node's flags its meaning depends on: '1' is not 1, and a
 * secret stays one. A block scalar's text is the text. */
#define SAME_FLAGS (CONF_QUOTED | CONF_SECRET)

bool mqb_conf_equal(const struct mqb_conf_node *a, const struct mqb_conf_node *b)
{
	if (a == b)
		return true;
	if (!a || !b || a->kind != b->kind || (a->flags & SAME_FLAGS) != (b->flags & SAME_FLAGS))
		return false;
	switch ((enum mqb_conf_kind)a->kind) {
	case MQB_CONF_NULL:
		return true; /* null, ~ and nothing are the same null */
	case MQB_CONF_SCALAR:
		return a->len == b->len && memcmp(a->u.text, b->u.text, a->len) == 0;
	case MQB_CONF_SEQ:
	case MQB_CONF_MAP:
		break;
	}
	if (a->len != b->len || a->weight != b->weight)
		return false;
	size_t n = a->kind == MQB_CONF_MAP ? 2 * (size_t)a->len : a->len;
	for (size_t i = 0; i < n; i++)
		if (!mqb_conf_equal(a->u.items[i], b->u.items[i]))
			return false;
	return true;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	return h ^ (v + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2));
}

uint64_t conf__node_hash(const struct mqb_conf_node *n)
{
	if (!n)
		return 0;
	uint64_t h = mix(n->kind, n->kind == MQB_CONF_NULL ? 0 : n->flags & SAME_FLAGS);
	switch ((enum mqb_conf_kind)n->kind) {
	case MQB_CONF_NULL:
		return h;
	case MQB_CONF_SCALAR:
		return mix(h, hashmap__hash(n->u.text, n->len));
	case MQB_CONF_SEQ:
	case MQB_CONF_MAP:
		break;
	}
	size_t len = n->kind == MQB_CONF_MAP ? 2 * (size_t)n->len : n->len;
	for (size_t i = 0; i < len; i++)
		h = mix(h, conf__node_hash(n->u.items[i]));
	return h;
}

/* One character of s at i as shown on one line: control characters become
 * escapes or '?', a UTF-8 sequence stays whole. Returns the bytes of s used;
 * *out and *outlen are what to show. */
static size_t display_piece(const char *s, size_t len, size_t i, const char **out, size_t *outlen)
{
	unsigned char c = (unsigned char)s[i];
	size_t n = 1;
	switch (c) {
	case '\n': *out = "\\n"; *outlen = 2; return 1;
	case '\t': *out = "\\t"; *outlen = 2; return 1;
	case '\r': *out = "\\r"; *outlen = 2; return 1;
	}
	if (c < 0x20 || c == 0x7f) {
		*out = "?";
		*outlen = 1;
		return 1;
	}
	if (c >= 0x80)
		while (i + n < len && n < 4 && ((unsigned char)s[i + n] & 0xc0) == 0x80)
			n++;
	*out = s + i;
	*outlen = n;
	return n;
}

/* Copy s into buf (buflen > 0) on one line; text that does not fit is cut
 * at a character boundary and ends in "…". */
static void display_text(const char *s, size_t len, char *buf, size_t buflen)
{
	static const char ellipsis[] = "\xe2\x80\xa6";
	const size_t elen = sizeof ellipsis - 1;
	size_t room = buflen - 1, total = 0, o = 0;
	const char *p;
	size_t plen;
	for (size_t i = 0; i < len && total <= room;) {
		i += display_piece(s, len, i, &p, &plen);
		total += plen;
	}
	bool cut = total > room;
	size_t limit = cut && room >= elen ? room - elen : room;
	for (size_t i = 0; i < len;) {
		size_t used = display_piece(s, len, i, &p, &plen);
		if (o + plen > limit)
			break;
		memcpy(buf + o, p, plen);
		o += plen;
		i += used;
	}
	if (cut && room >= elen) {
		memcpy(buf + o, ellipsis, elen);
		o += elen;
	}
	buf[o] = '\0';
}

const char *mqb_conf_display(const struct mqb_conf_node *n, char *buf, size_t buflen)
{
	if (!buf || buflen == 0)
		return "";
	const char *what = NULL;
	if (n && (n->flags & CONF_SECRET))
		what = "(secret)";
	else if (!n || n->kind == MQB_CONF_NULL)
		what = "null";
	else if (n->kind == MQB_CONF_MAP)
		what = "a mapping";
	else if (n->kind == MQB_CONF_SEQ)
		what = "a sequence";
	if (what)
		display_text(what, strlen(what), buf, buflen);
	else
		display_text(n->u.text, n->len, buf, buflen);
	return buf;
}

/* ---- errors ------------------------------------------------------------- */

void mqb_conf_errors_init(struct mqb_conf_errors *e)
{
	e->v = NULL;
	e->n = e->cap = 0;
}

void mqb_conf_errors_fini(struct mqb_conf_errors *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++) {
		mqb__free((char *)e->v[i].mark.file);
		mqb__free(e->v[i].path);
		mqb__free(e->v[i].message);
	}
	mqb__free(e->v);
	mqb_conf_errors_init(e);
}

static char *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *vformat(const char *fmt, va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return NULL;
	char *s = mqb__malloc((size_t)n + 1);
	if (s)
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

/* Errors own copies of the path, the message and the mark's file name: the
 * document the mark pointed into is usually freed before they are printed. */
int conf__errorv(struct mqb_conf_errors *e, const struct mqb_conf_mark *mark, const char *path,
		 const char *fmt, va_list ap)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 8;
		if (cap > SIZE_MAX / sizeof *e->v)
			return -ENOMEM;
		struct mqb_conf_error *v = mqb__realloc(e->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		e->v = v;
		e->cap = cap;
	}
	struct mqb_conf_error err = { { NULL, 0, 0 }, NULL, NULL };
	if (mark) {
		err.mark = *mark;
		err.mark.file = NULL;
		if (mark->file && !(err.mark.file = mqb__strdup(mark->file)))
			goto nomem;
	}
	if (!(err.path = mqb__strdup(path ? path : "")))
		goto nomem;
	if (!(err.message = vformat(fmt, ap)))
		goto nomem;
	/* Made while the configuration's secrets are known, and so kept
	 * without them whenever it is printed. */
	char *shown;
	if (mqb__secret_redact_dup(err.message, &shown)) {
		mqb__free(err.message);
		goto nomem;
	}
	if (shown) {
		mqb__free(err.message);
		err.message = shown;
	}
	e->v[e->n++] = err;
	return 0;
nomem:
	mqb__free((char *)err.mark.file);
	mqb__free(err.path);
	return -ENOMEM;
}

void mqb_conf_error(struct mqb_conf_errors *e, const struct mqb_conf_mark *mark, const char *path,
		    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (conf__errorv(e, mark, path, fmt, ap) < 0)
		MQB_LOG_ERROR("conf", "out of memory recording a configuration error");
	va_end(ap);
}

void mqb_conf_errors_print(const struct mqb_conf_errors *e, FILE *to)
{
	for (size_t i = 0; i < e->n; i++) {
		const struct mqb_conf_error *err = &e->v[i];
		if (err->mark.file && err->mark.line)
			fprintf(to, "%s:%u:%u: ", err->mark.file, err->mark.line, err->mark.column);
		else if (err->mark.file)
			fprintf(to, "%s: ", err->mark.file);
		char path[512], msg[1024];
		/* Whatever a secret's value ended up in, it is not shown. */
		if (err->path && err->path[0])
			fprintf(to, "%s: ", mqb__secret_redact(err->path, path, sizeof path));
		fprintf(to, "%s\n", mqb__secret_redact(err->message, msg, sizeof msg));
	}
}

void mqb_conf_verror_at(struct mqb_conf_errors *e, const struct mqb_conf_node *node,
			const char *path, const char *fmt, va_list ap)
{
	struct mqb_conf_mark m;
	if (node)
		m = mqb_conf_mark(node);
	conf__errorv(e, node ? &m : NULL, path, fmt, ap);
}

void mqb_conf_error_at(struct mqb_conf_errors *e, const struct mqb_conf_node *node,
		       const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mqb_conf_verror_at(e, node, path, fmt, ap);
	va_end(ap);
}
