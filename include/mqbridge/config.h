/* SPDX-License-Identifier: MIT */
/* Configuration: Home Assistant's YAML (tags !secret, !include,
 * !include_dir_*, !env_var; anchors, aliases, << merge keys), loaded by the
 * daemon into nodes that remember file:line:column, and validated against
 * declarative schema tables: the daemon's own and each integration's. Every
 * error is collected (one pass reports them all) as
 * "file:line:column: path: msg". */
#ifndef MQBRIDGE_CONFIG_H
#define MQBRIDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <jansson.h>

/* ---- nodes -------------------------------------------------------------- */

/* Where a node starts: 1-based line and column; file is owned by the
 * document (the path as given, or the included file's path). */
struct mqb_conf_mark {
	const char *file;
	unsigned line, column;
};

enum mqb_conf_kind { MQB_CONF_NULL, MQB_CONF_SCALAR, MQB_CONF_SEQ, MQB_CONF_MAP };

/* A node belongs to its document and lives as long as it. Aliases and merge
 * keys are resolved: a node may be shared by several parents. */
struct mqb_conf_node;
struct mqb_conf_doc;

enum mqb_conf_kind mqb_conf_kind(const struct mqb_conf_node *n);
struct mqb_conf_mark mqb_conf_mark(const struct mqb_conf_node *n);
/* Scalars: the text (NUL-terminated; len excludes the NUL), and whether it
 * was quoted ('1' stays a string where Home Assistant coerces a plain 1). */
const char *mqb_conf_scalar(const struct mqb_conf_node *n, size_t *len);
bool mqb_conf_quoted(const struct mqb_conf_node *n);
/* A scalar as Home Assistant's cv.string reads it: a plain scalar that
 * YAML 1.1 types as a boolean or a number is Python's str() of that
 * value (payload_on: true is "True", 010 is "8", 1.50 is "1.5"); any
 * other is its text. Where an option is a string, use this. */
const char *mqb_conf_string(const struct mqb_conf_node *n, size_t *len);
/* True for a value that came from !secret: never print it. */
bool mqb_conf_is_secret(const struct mqb_conf_node *n);
/* What an error message may show of a node: its text, "(secret)", or a
 * kind ("a mapping"), shortened to fit. Thread: any. */
const char *mqb_conf_display(const struct mqb_conf_node *n, char *buf, size_t buflen);
/* Sequences and mappings (in file order; merge keys already applied, later
 * keys winning over merged ones as in YAML 1.1). */
size_t mqb_conf_len(const struct mqb_conf_node *n);
const struct mqb_conf_node *mqb_conf_item(const struct mqb_conf_node *seq, size_t i);
const struct mqb_conf_node *mqb_conf_key(const struct mqb_conf_node *map, size_t i);
const struct mqb_conf_node *mqb_conf_value(const struct mqb_conf_node *map, size_t i);
/* The value of a scalar key in a mapping, or NULL. */
const struct mqb_conf_node *mqb_conf_get(const struct mqb_conf_node *map, const char *key);

/* Whether a and b say the same: the same kinds, the same text in every
 * scalar (quoted or not, secret or not, as it was), the same keys in the
 * same order. Where each came from (file, line) does not count; a null
 * is a null however written. Thread: any. */
bool mqb_conf_equal(const struct mqb_conf_node *a, const struct mqb_conf_node *b);

/* The node as JSON, each plain scalar typed as Home Assistant's YAML
 * loader (PyYAML's YAML 1.1 rules) types it: null and ~, the booleans
 * yes/no/true/false/on/off, integers (also 0x, 0o, 0b and 1:30 as 90),
 * floats with a '.'; quoted and !secret scalars stay strings, as do
 * .inf, .nan and integers beyond 64 bits. A new reference; NULL on
 * ENOMEM. Thread: any. */
json_t *mqb_conf_to_json(const struct mqb_conf_node *n);

/* ---- values as Home Assistant's config_validation takes them ------------ */

/* cv.time_period on a JSON value (a service call's data): a number of
 * seconds, text ("[+-]H:MM[:SS[.fff]]" or seconds), or an object of days,
 * hours, minutes, seconds, milliseconds. 0 with *seconds; -EINVAL with
 * Home Assistant's message in err (errlen bytes). Thread: any. */
int mqb_cv_time_period(const json_t *v, double *seconds, char *err, size_t errlen);

/* cv.time on text (dt_util.parse_time): "HH:MM" or "HH:MM:SS", as seconds
 * after midnight; false for anything else. Thread: any. */
bool mqb_cv_time(const char *s, size_t len, double *seconds);

/* ---- errors ------------------------------------------------------------- */

struct mqb_conf_error {
	struct mqb_conf_mark mark;
	char *path;     /* "mqtt.sensor[2].state_topic" */
	char *message;
};

struct mqb_conf_errors {
	struct mqb_conf_error *v;
	size_t n, cap;
};

void mqb_conf_errors_init(struct mqb_conf_errors *e);
void mqb_conf_errors_fini(struct mqb_conf_errors *e);
/* Add one error. mark may be NULL (no position known). */
void mqb_conf_error(struct mqb_conf_errors *e, const struct mqb_conf_mark *mark, const char *path,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Add one error at node's position (node NULL: none known). For checks
 * beyond what a schema table says. */
void mqb_conf_error_at(struct mqb_conf_errors *e, const struct mqb_conf_node *node,
		       const char *path, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void mqb_conf_verror_at(struct mqb_conf_errors *e, const struct mqb_conf_node *node,
			const char *path, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
/* One line per error, "file:line:column: path: message\n", in the order
 * found. */
void mqb_conf_errors_print(const struct mqb_conf_errors *e, FILE *to);

/* ---- documents ---------------------------------------------------------- */

/* A loaded file and what it includes (the daemon loads it): its root,
 * and freeing it with every node (accepts NULL). Thread: any. */
const struct mqb_conf_node *mqb_conf_root(const struct mqb_conf_doc *doc);
void mqb_conf_doc_free(struct mqb_conf_doc *doc);

/* ---- schemas ------------------------------------------------------------ */

enum mqb_schema_type {
	MQB_S_STRING,   /* any scalar, as text (Home Assistant's cv.string coerces 1 to "1") */
	MQB_S_INT,      /* integer, stored as int */
	MQB_S_UINT,     /* non-negative integer, stored as unsigned */
	MQB_S_SIZE,     /* non-negative integer, stored as size_t */
	MQB_S_FLOAT,    /* number, stored as double */
	MQB_S_BOOL,     /* true/false/yes/no/on/off (any case), stored as bool */
	MQB_S_ENUM,     /* one of choices, stored as const char * */
	MQB_S_DURATION, /* seconds, "HH:MM[:SS]", or {hours, minutes, seconds}: double seconds */
	MQB_S_TOPIC,    /* an MQTT topic name to publish to */
	MQB_S_FILTER,   /* an MQTT topic filter */
	MQB_S_MAP,      /* a mapping checked against sub */
	MQB_S_LIST,     /* a sequence of items checked against sub (one schema key: its type) */
	MQB_S_ANY,      /* anything; stored as const struct mqb_conf_node * */
	MQB_S_TEMPLATE, /* a template, compiled to check it (errors at their own
			 * line and column); stored as its const struct mqb_conf_node *
			 * for mqb_template_from_conf (platform.h) */
	MQB_S_DURATION_TEMPLATE, /* a duration as MQB_S_DURATION, or a template
				  * rendering one (cv.positive_time_period_template);
				  * stored as its const struct mqb_conf_node *: read a
				  * fixed one with mqb_conf_duration, a rendered one
				  * with mqb_duration_parse */
};

struct mqb_schema;

/* One option of a component or platform: data, not code (STYLE.md). */
struct mqb_schema_key {
	const char *key;
	enum mqb_schema_type type;
	bool required;
	const char *def;            /* default, written as in YAML; NULL: none */
	double min, max;            /* range for numbers when min < max */
	const char *const *choices; /* MQB_S_ENUM: NULL-terminated */
	const struct mqb_schema *sub; /* MQB_S_MAP / MQB_S_LIST */
	size_t offset;              /* where the value goes in the target struct */
	bool stored;                /* false: validated only, not stored */
	const char *doc;            /* one line for the man page */
	/* Room to grow without a new API version; zero (designated
	 * initialisers leave it so). Two, not four: a module has hundreds of
	 * keys, each paying for them. */
	void *reserved[2];
};

struct mqb_schema {
	const char *name;           /* "mqtt", "sensor.command_line" */
	const struct mqb_schema_key *keys;
	size_t nkeys;
};

/* The number of elements of an array; a pointer does not compile (GCC
 * and clang), so a table passed on as one cannot be miscounted. */
#ifdef __GNUC__
#define MQB_ARRAY_SIZE(a) \
	(sizeof(a) / sizeof((a)[0]) + \
	 0 * sizeof(struct { \
		 int mqb_not_an_array \
			 : __builtin_types_compatible_p(__typeof__(a), __typeof__(&(a)[0])) ? -1 : 1; \
	 }))
#else
#define MQB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* A checked MQB_S_DURATION_TEMPLATE (or MQB_S_DURATION) node that is no
 * template: its seconds in *out, true. False for a template or anything
 * else. Thread: any. */
bool mqb_conf_duration(const struct mqb_conf_node *n, double *out);
/* What a duration template rendered, as Home Assistant's
 * cv.positive_time_period reads it: seconds ("5", "2.5") or
 * "[-]HH:MM[:SS[.F]]" (white space around it ignored). True with *out
 * set. Thread: any. */
bool mqb_duration_parse(const char *s, size_t len, double *out);

/* A schema over a table of keys, counted by the compiler:
 *   static const struct mqb_schema s = MQB_SCHEMA("mqtt sensor", sensor_keys); */
#define MQB_SCHEMA(name_, keys_) \
	{ .name = (name_), .keys = (keys_), .nkeys = MQB_ARRAY_SIZE(keys_) }

/* Check node against schema, write what it finds (and the defaults) into
 * target, and add every problem to errs with path as the prefix: unknown
 * keys (with "did you mean" when a known key is close), wrong types naming
 * the expected one, values out of range, missing required keys. Duplicate
 * keys are the loader's. Strings stored point into the document; a LIST
 * key stores its node (the sequence, or a single item standing for one).
 * node NULL means the mapping is absent (only defaults are stored); target
 * NULL means validate only. Returns the number of problems found (also
 * those it ran out of memory recording). Thread: any. */
size_t mqb_schema_apply(const struct mqb_schema *s, const struct mqb_conf_node *node,
			const char *path, void *target, struct mqb_conf_errors *errs);

#endif
