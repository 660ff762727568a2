/* SPDX-License-Identifier: MIT */
/* UTF-8 validation, decoding and encoding shared by states (Home Assistant
 * rejects non-UTF-8 states), MQTT topics (the spec requires well-formed
 * UTF-8), the text helpers modules use (lib/text.c) and the template
 * engine (Python's strings are code points). */
#ifndef MQB_UTF8_H
#define MQB_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
 * allow_nul: whether U+0000 may appear (MQTT forbids it in topics). */
bool utf8__valid(const char *s, size_t len, bool allow_nul);

/* The well-formed sequence s starts with (at most len bytes): its length,
 * 1 to 4, with *cp set; 0 if there is none. */
size_t utf8__decode(const unsigned char *s, size_t len, uint32_t *cp);
/* cp (at most U+10FFFF) in UTF-8 into out: the bytes written, 1 to 4. */
size_t utf8__encode(uint32_t cp, char out[4]);

#endif
