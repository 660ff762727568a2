/* SPDX-License-Identifier: MIT */
/* The JSON writer's pieces, shared by the writer of jansson values
 * (mqbridge/json.h, lib/json.c) and the template engine's tojson and
 * to_json (template/json.c), which walk different values but write
 * strings, numbers and the space between members the same way. */
#ifndef MQB_LIB_JSON_H
#define MQB_LIB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "mqbridge/json.h"

/* Where the text goes and how it is written. put appends n bytes; the
 * writer never reads back what it put. */
struct json_w {
	void (*put)(struct json_w *w, const char *s, size_t n);
	unsigned flags; /* MQB_JSON_* and JSON_W_* */
	int indent;     /* spaces a level, one member a line (then ", " is ","); -1: one line */
};
#define JSON_W_HTML_SAFE 0x100 /* < > & ' as \u00XX too (Jinja's tojson) */
#define JSON_W_NAN_NULL 0x200  /* NaN and the infinities as null (orjson); else NaN,
				* Infinity, -Infinity as json.dumps writes them */

/* s[0..n) as a JSON string: Python's escapes (\" \\ \n \r \t \b \f, the
 * other control characters as \u00XX, lower-case hex), and with
 * MQB_JSON_ENSURE_ASCII everything past '~' as \uXXXX (surrogate pairs
 * past U+FFFF; a byte that is not UTF-8 as U+FFFD). */
void json__string(struct json_w *w, const char *s, size_t n);
/* f as Python's json.dumps writes a float: repr. */
void json__float(struct json_w *w, double f);
void json__int(struct json_w *w, int64_t i);
/* Before member i (0-based) of a container whose members are at depth:
 * the separator after the one before, and with an indent the line break
 * and indentation. */
void json__member(struct json_w *w, size_t i, unsigned depth);
/* After a key. */
void json__colon(struct json_w *w);
/* After the n members of a container at depth, before its closing
 * bracket: with an indent and members, the line break and indentation. */
void json__end(struct json_w *w, size_t n, unsigned depth);

/* j as text into buf (len bytes) when it fits, else into a new
 * allocation: free with mqb__fmt_free(s, buf). buf may be NULL. *outlen,
 * when not NULL, gets the text's length. NULL on ENOMEM or nesting past
 * 256 levels. */
char *json__dump(const json_t *j, unsigned flags, char *buf, size_t len, size_t *outlen);

#endif
