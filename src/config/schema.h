/* SPDX-License-Identifier: MIT */
/* What the schema validator shares with the code that reads the daemon's
 * options and with the script engine's own checks: "did you mean", how a
 * node is described in a message, and Home Assistant's scalar coercions. */
#ifndef MQB_SCHEMA_H
#define MQB_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "mqbridge/config.h"

/* The candidate closest to word, if close enough to suggest; else NULL. */
const char *schema__suggest(const char *word, const char *const *cands, size_t n);
/* "an integer", "'abc'", "(secret)", ... for messages. */
const char *schema__describe(const struct mqb_conf_node *n, char *buf, size_t buflen);
/* A decimal number: [+-](digits[.digits]|.digits)([eE][+-]digits), finite;
 * no hex, inf or nan. */
bool schema__parse_float(const char *s, size_t len, double *out);
/* Home Assistant's cv.boolean on text: true/yes/on/1/enable,
 * false/no/off/0/disable, any case. */
bool schema__parse_bool(const char *s, size_t len, bool *out);
/* YAML 1.1's sexagesimal integer, [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+, as
 * PyYAML reads a plain 1:30 (90). */
bool schema__parse_sexagesimal(const char *s, size_t len, double *out);
/* A duration written as text, Home Assistant's cv.time_period_str or
 * seconds: "90", "1.5", "HH:MM", "[-+]HH:MM:SS[.fff]"; plain (an unquoted
 * scalar) also reads YAML 1.1's sexagesimal 1:30 as 90 seconds, as PyYAML
 * does. */
bool schema__parse_duration(const char *s, size_t len, bool plain, double *out);

/* What Home Assistant's cv.string makes of a plain scalar s[0..len) that
 * YAML 1.1 reads as a boolean or a number: str(True) is "True", str(010)
 * is "8", str(1.50) is "1.5". Its length, written to buf (NUL-terminated),
 * or 0 when the text is already that (or no boolean or number). */
size_t schema__python_str(const char *s, size_t len, char *buf, size_t buflen);

struct mqb_template;
/* Compile a scalar node as a template: 0 with *out; otherwise *out NULL, a
 * negative errno, and the error added to errs at the template's own line
 * and column within the file. Thread: any. */
int schema__compile_template(const struct mqb_conf_node *node, const char *path,
			     struct mqb_conf_errors *errs, struct mqb_template **out);

#endif
