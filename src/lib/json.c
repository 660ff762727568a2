/* SPDX-License-Identifier: MIT */
/* JSON text as Python's json.dumps writes it (mqbridge/json.h): the
 * pieces every writer of the tree shares (lib/json.h), and the walk over
 * jansson values. Floats are repr's shortest round trip, where jansson
 * writes 17 significant digits. */
#include "lib/internal.h"

#include <math.h>
#include <string.h>

#include "lib/dtoa.h"
#include "lib/json.h"
#include "lib/utf8.h"

/* Deeper is refused: the walk recurses, and a coroutine's stack is small. */
#define JSON_MAX_NEST 256

/* One code point as \uXXXX (two, a surrogate pair, past U+FFFF), in lower
 * case hex as Python writes it. */
static void u_escape(struct json_w *w, uint32_t cp)
{
	static const char hex[] = "0123456789abcdef";
	char e[12];
	size_t n = 0;
	uint32_t units[2] = {cp, 0};
	size_t nu = 1;
	if (cp >= 0x10000) {
		cp -= 0x10000;
		units[0] = 0xd800 + (cp >> 10);
		units[1] = 0xdc00 + (cp & 0x3ff);
		nu = 2;
	}
	for (size_t u = 0; u < nu; u++) {
		e[n++] = '\\';
		e[n++] = 'u';
		for (int sh = 12; sh >= 0; sh -= 4)
			e[n++] = hex[units[u] >> sh & 0xf];
	}
	w->put(w, e, n);
}

/* Bytes a string needs nothing done to: 0; else 1 (an escape of its own,
 * or \u00XX), 2 (< > & ': html_safe), 3 (DEL and past it: ensure_ascii). */
static const unsigned char esc_class[256] = {
	[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1,
	['<'] = 2, ['>'] = 2, ['&'] = 2, ['\''] = 2,
	[0x7f ... 0xff] = 3,
};

void json__string(struct json_w *w, const char *s, size_t n)
{
	bool html = w->flags & JSON_W_HTML_SAFE, ascii = w->flags & MQB_JSON_ENSURE_ASCII;
	w->put(w, "\"", 1);
	size_t run = 0; /* bytes from s + i - run that need no escape */
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		unsigned k = esc_class[c];
		if (k == 0 || (k == 2 && !html) || (k == 3 && !ascii)) {
			i++;
			run++;
			continue;
		}
		w->put(w, s + i - run, run);
		run = 0;
		const char *esc = NULL;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default: break;
		}
		if (esc) {
			w->put(w, esc, 2);
			i++;
			continue;
		}
		uint32_t cp = c;
		size_t len = 1;
		if (c >= 0x80) {
			len = utf8__decode((const unsigned char *)s + i, n - i, &cp);
			if (!len) {
				len = 1;
				cp = 0xfffd;
			}
		}
		u_escape(w, cp);
		i += len;
	}
	w->put(w, s + n - run, run);
	w->put(w, "\"", 1);
}

void json__float(struct json_w *w, double f)
{
	char tmp[DTOA_REPR_MAX + 1];
	if (isfinite(f))
		w->put(w, tmp, dtoa__repr(f, tmp));
	else if (w->flags & JSON_W_NAN_NULL)
		w->put(w, "null", 4);
	else if (isnan(f))
		w->put(w, "NaN", 3);
	else
		w->put(w, f < 0 ? "-Infinity" : "Infinity", f < 0 ? 9 : 8);
}

void json__int(struct json_w *w, int64_t i)
{
	char buf[24], *e = buf + sizeof buf, *p = e;
	uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (i < 0)
		*--p = '-';
	w->put(w, p, (size_t)(e - p));
}

static void newline(struct json_w *w, unsigned depth)
{
	static const char spaces[] = "                                ";
	w->put(w, "\n", 1);
	for (size_t left = depth * (size_t)w->indent; left;) {
		size_t k = left < sizeof spaces - 1 ? left : sizeof spaces - 1;
		w->put(w, spaces, k);
		left -= k;
	}
}

void json__member(struct json_w *w, size_t i, unsigned depth)
{
	if (i)
		w->put(w, ", ", (w->flags & MQB_JSON_COMPACT) || w->indent >= 0 ? 1 : 2);
	if (w->indent >= 0)
		newline(w, depth);
}

void json__colon(struct json_w *w)
{
	if ((w->flags & MQB_JSON_COMPACT) && w->indent < 0)
		w->put(w, ":", 1);
	else
		w->put(w, ": ", 2);
}

void json__end(struct json_w *w, size_t n, unsigned depth)
{
	if (n && w->indent >= 0)
		newline(w, depth);
}

/* ---- jansson values ------------------------------------------------------- */

struct buf_w {
	struct json_w w;
	char *p, *given;
	size_t len, cap;
	bool failed;
};

static void buf_put(struct json_w *w, const char *s, size_t n)
{
	struct buf_w *b = (struct buf_w *)w;
	if (b->failed || !n)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 128;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = b->p == b->given ? mqb__malloc(cap) : mqb__realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		if (b->p == b->given && b->len)
			memcpy(p, b->p, b->len);
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool dump_value(struct buf_w *b, const json_t *j, unsigned depth);

static bool dump_object(struct buf_w *b, const json_t *j, unsigned depth)
{
	struct json_w *w = &b->w;
	size_t n = json_object_size(j);
	const char *small[16], **keys = NULL;
	if ((w->flags & MQB_JSON_SORT_KEYS) && n > 1) {
		keys = n <= 16 ? small : mqb__malloc(n * sizeof *keys);
		if (!keys)
			return false;
		size_t i = 0;
		const char *k;
		const json_t *v;
		/* json_object_foreach takes a non-const object; it changes nothing */
		json_object_foreach((json_t *)j, k, v)
			keys[i++] = k;
		qsort(keys, n, sizeof *keys, cmp_key);
	}
	bool ok = true;
	w->put(w, "{", 1);
	size_t i = 0;
	const char *k;
	json_t *v;
	if (keys) {
		for (; ok && i < n; i++) {
			json__member(w, i, depth + 1);
			json__string(w, keys[i], strlen(keys[i]));
			json__colon(w);
			ok = dump_value(b, json_object_get(j, keys[i]), depth + 1);
		}
	} else {
		json_object_foreach((json_t *)j, k, v) {
			json__member(w, i++, depth + 1);
			json__string(w, k, strlen(k));
			json__colon(w);
			if (!(ok = dump_value(b, v, depth + 1)))
				break;
		}
	}
	json__end(w, n, depth);
	w->put(w, "}", 1);
	if (keys != small)
		mqb__free(keys);
	return ok;
}

static bool dump_value(struct buf_w *b, const json_t *j, unsigned depth)
{
	struct json_w *w = &b->w;
	if (depth > JSON_MAX_NEST)
		return false;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return dump_object(b, j, depth);
	case JSON_ARRAY: {
		size_t n = json_array_size(j);
		w->put(w, "[", 1);
		for (size_t i = 0; i < n; i++) {
			json__member(w, i, depth + 1);
			if (!dump_value(b, json_array_get(j, i), depth + 1))
				return false;
		}
		json__end(w, n, depth);
		w->put(w, "]", 1);
		return true;
	}
	case JSON_STRING:
		json__string(w, json_string_value(j), json_string_length(j));
		return true;
	case JSON_INTEGER:
		json__int(w, json_integer_value(j));
		return true;
	case JSON_REAL:
		json__float(w, json_real_value(j));
		return true;
	case JSON_TRUE:
		w->put(w, "true", 4);
		return true;
	case JSON_FALSE:
		w->put(w, "false", 5);
		return true;
	case JSON_NULL:
	default:
		w->put(w, "null", 4);
		return true;
	}
}

char *json__dump(const json_t *j, unsigned flags, char *buf, size_t len, size_t *outlen)
{
	struct buf_w b = {
		.w = {.put = buf_put, .flags = flags, .indent = -1},
		.p = buf,
		.given = buf,
		.cap = buf ? len : 0,
	};
	if (!j || !dump_value(&b, j, 0) || b.failed) {
		if (b.p != b.given)
			mqb__free(b.p);
		return NULL;
	}
	if (!b.p) { /* nothing was written: cannot happen for a value */
		if (!(b.p = mqb__malloc(1)))
			return NULL;
	}
	b.p[b.len] = '\0';
	if (outlen)
		*outlen = b.len;
	return b.p;
}

char *mqb_json_dumps(const json_t *j, unsigned flags)
{
	return json__dump(j, flags & (MQB_JSON_COMPACT | MQB_JSON_SORT_KEYS | MQB_JSON_ENSURE_ASCII),
			  NULL, 0, NULL);
}
