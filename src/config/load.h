/* SPDX-License-Identifier: MIT */
/* The YAML loader (load.c): Home Assistant's configuration file and what it
 * includes, as a document of nodes (mqbridge/config.h). The daemon loads
 * its file with it; modules only ever see nodes. */
#ifndef MQB_CONFIG_LOAD_H
#define MQB_CONFIG_LOAD_H

#include <stddef.h>

#include "mqbridge/config.h"

/* Bounds that make a hostile or broken file an error found fast, never a
 * hang or an exhausted machine (libyaml 0.2.5 has no nesting limit and
 * slows quadratically with depth). 0 means the default. */
struct conf_limits {
	size_t max_file_size;   /* bytes per file (64 MiB) */
	unsigned max_depth;     /* nesting of collections (64) */
	size_t max_nodes;       /* what aliases and repeated includes may add: this
				 * (100,000), or 8x the nodes the files hold if
				 * more; the files' own nodes: 64x this */
	unsigned max_includes;  /* include nesting (16); cycles are always errors */
};

/* Load path (and what it includes). On success 0 and *out; otherwise
 * -EINVAL with the reasons in errs (or -ENOMEM). Secrets come from
 * secrets.yaml beside the file that names them (then its parent
 * directories, never above the main file's directory), as Home Assistant
 * does. lim may be NULL. Thread: any. */
int conf__load(const char *path, const struct conf_limits *lim, struct mqb_conf_doc **out,
	       struct mqb_conf_errors *errs);
/* conf__load of a blueprint's file: its !input tags are scalars holding
 * the input's name, which conf__doc_is_input knows (anywhere else such a
 * tag is an error). Thread: any. */
int conf__load_blueprint(const char *path, const struct conf_limits *lim,
			 struct mqb_conf_doc **out, struct mqb_conf_errors *errs);
/* The same from memory; name is used in marks; includes and secrets are
 * looked up relative to dir (NULL: the current directory). */
int conf__load_string(const char *name, const char *dir, const char *text, size_t len,
		      const struct conf_limits *lim, struct mqb_conf_doc **out,
		      struct mqb_conf_errors *errs);

/* The i-th file a secret of doc was read from (its path as opened), or
 * NULL past the last. Thread: any. */
const char *conf__doc_secret_file(const struct mqb_conf_doc *doc, size_t i);
/* The i-th warning the loader left on doc ("file:line:column: text"), in
 * the order found, or NULL past the last. Thread: any. */
const char *conf__doc_note(const struct mqb_conf_doc *doc, size_t i);

#endif
