/* SPDX-License-Identifier: MIT */
/* UTF-8 validation shared by states (Home Assistant rejects non-UTF-8
 * states) and MQTT topics (the spec requires well-formed UTF-8). */
#ifndef MQB_UTF8_H
#define MQB_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
 * allow_nul: whether U+0000 may appear (MQTT forbids it in topics). */
bool utf8__valid(const char *s, size_t len, bool allow_nul);

#endif
