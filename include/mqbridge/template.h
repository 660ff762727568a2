/* SPDX-License-Identifier: MIT */
/* Templates: Home Assistant's whole Jinja2 dialect (statements, macros,
 * imports and includes from custom_templates/, every builtin filter and
 * test, Home Assistant's functions), compiled once (when the configuration loads:
 * every name a template calls is resolved then) and rendered without I/O
 * under bounds on loop iterations, depth, output, memory and work. A
 * render records the entities it read, so template entities know when to
 * render again. */
#ifndef MQBRIDGE_TEMPLATE_H
#define MQBRIDGE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct mqb_core;

/* A compiled template: immutable; may be rendered from several threads at
 * once when no core is involved (states() and friends need the loop). */
struct mqb_template;

/* Where and what went wrong; line and column are 1-based within the
 * template text (a configuration error adds the text's own position). */
struct mqb_tpl_error {
	unsigned line, column;
	char message[256];
};

/* Compile text. 0; -EINVAL for a syntax error, an unknown filter,
 * function, test or macro, or an import or include of a file
 * custom_templates/ does not have (or a name it does not define), with
 * err filled in; -ENOMEM.
 * Thread: any. */
int mqb_template_compile(const char *text, size_t len, struct mqb_template **out,
			 struct mqb_tpl_error *err);
void mqb_template_free(struct mqb_template *t); /* accepts NULL */
/* True when text has no {{ }} or {% %}: rendering is copying. */
bool mqb_template_is_static(const struct mqb_template *t);
/* True when it calls now() or utcnow(): template entities re-render it
 * once a minute. */
bool mqb_template_uses_now(const struct mqb_template *t);

/* True when the template names the variable name anywhere, or imports or
 * includes another template (which may read it through the context): a
 * caller can skip building what it does not read, such as `this`.
 * Thread: any. */
bool mqb_template_uses_name(const struct mqb_template *t, const char *name);

/* Home Assistant's custom_templates/: the files templates import
 * ({% from 'x.jinja' import m %}, {% import 'x.jinja' as x %}) and
 * include ({% include 'x.jinja' %}). */
typedef void (*mqb_tpl_include_error_fn)(void *ud, const char *file,
					 const struct mqb_tpl_error *err);
/* Load and compile every *.jinja file under dir (recursively; each named
 * by its path under dir, "sub/x.jinja"; files over 5 MiB skipped, as Home
 * Assistant does), replacing what was loaded before; templates compiled
 * before keep the files they imported. A missing dir loads nothing. 0;
 * -EINVAL when a file does not compile (on_error, when not NULL, is
 * called for each, with its name and its own line and column; the
 * others are loaded); -ENOMEM; -errno when dir cannot be read.
 * Thread: any, before the templates that import them are compiled. */
int mqb_template_load_includes(const char *dir, mqb_tpl_include_error_fn on_error, void *ud);
/* Add (or replace) one file by name and compile it: 0, or -EINVAL with
 * err filled in (it is kept, and an import of it fails); -ENOMEM. For
 * tests and embedders. Thread: any. */
int mqb_template_add_include(const char *name, const char *text, size_t len,
			     struct mqb_tpl_error *err);
/* Forget every file (templates that imported them keep theirs). Thread: any. */
void mqb_template_clear_includes(void);

struct mqb_tpl_vars {
	/* value: the raw payload (may hold NULs; NULL means undefined). */
	const char *value;
	size_t value_len;
	/* value_json: parsed from value on first use when NULL (a payload
	 * that is not JSON leaves it undefined, as in Home Assistant). */
	const json_t *value_json;
	const json_t *trigger;      /* NULL: undefined */
	const json_t *this_state;   /* `this`: the entity's own state object; NULL: undefined */
	const json_t *variables;    /* extra top-level names (an object); may be NULL */
	/* states(), is_state(), state_attr(), expand(), states.domain.x read
	 * the core's state machine: render on the loop thread. NULL: every
	 * entity is unknown. */
	struct mqb_core *core;
	double now;                 /* Unix time for now(); 0: the wall clock */
	/* Called once per entity id read (for dependency tracking). */
	void (*on_entity)(void *ud, const char *entity_id);
	void *ud;
	/* Room to grow without a new API version; zero (designated
	 * initialisers leave it so). */
	void *reserved[4];
};

struct mqb_tpl_limits {
	unsigned max_iterations;    /* loop iterations in one render (100,000) */
	unsigned max_depth;         /* nesting of calls and blocks (64) */
	size_t max_output;          /* bytes of output (256 KiB) */
};

/* Render t. 0 with *out (NUL-terminated, malloc'd, caller frees) and *len;
 * -EINVAL a render error (err: e.g. "float got invalid input 'abc'");
 * -E2BIG output (or memory) over the bound; -ELOOP iterations, depth or
 * work over the bound (the work bound is fixed: about 10 ms of CPU, for
 * any template and any input); -ENOMEM. lim may be NULL for the
 * defaults. Thread: any without a core; the loop thread with one. */
int mqb_template_render(const struct mqb_template *t, const struct mqb_tpl_vars *vars,
			const struct mqb_tpl_limits *lim, char **out, size_t *len,
			struct mqb_tpl_error *err);

#endif
