/* SPDX-License-Identifier: MIT */
/* JSON text as Python's json.dumps writes it, which is what Home Assistant
 * sends: floats as repr, the shortest text that reads back as the same
 * double (45.12, 0.1, 1e-05; jansson's dumps writes 17 significant
 * digits, 45.119999999999997), and json.dumps' own spacing unless asked
 * for the compact one. The one JSON writer of the tree: the bridge, the
 * state file, statestream and eventstream, and the templates' to_json,
 * write with it. */
#ifndef MQBRIDGE_JSON_H
#define MQBRIDGE_JSON_H

#include <stddef.h>
#include <jansson.h>

/* Flags of mqb_json_dumps. None: json.dumps(v, ensure_ascii=False), one
 * line, ", " between members and ": " after keys, in insertion order. */
#define MQB_JSON_COMPACT 0x1      /* "," and ":", json.dumps(separators=(",", ":")) */
#define MQB_JSON_SORT_KEYS 0x2    /* keys in code point order, sort_keys=True */
#define MQB_JSON_ENSURE_ASCII 0x4 /* \uXXXX for all but printable ASCII: json.dumps'
				   * default (ensure_ascii=True) */

/* j (any JSON value) as JSON text, NUL-terminated, in a new allocation
 * (free() it); NULL on ENOMEM or when j nests deeper than 256 levels.
 * Thread: any (j must not change meanwhile). */
char *mqb_json_dumps(const json_t *j, unsigned flags);

#endif
