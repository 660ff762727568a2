/* SPDX-License-Identifier: MIT */
/* How the loader builds documents (load.c) out of node.c's nodes: an
 * arena per document, nodes with flags, and the sizes the bounds need. */
#ifndef MQB_CONF_IMPL_H
#define MQB_CONF_IMPL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqbridge/config.h"

enum { CONF_QUOTED = 1, CONF_SECRET = 2, CONF_BROKEN = 4, CONF_BLOCK = 8, CONF_PYSTR = 16 };
/* CONF_* of a node (CONF_BLOCK: a literal or folded scalar, whose text starts
 * on the line after its mark; CONF_PYSTR: a plain scalar whose cv.string
 * text follows its own, mqb_conf_string). */
unsigned conf__node_flags(const struct mqb_conf_node *n);
struct mqb_conf_doc *conf__doc_new(void);
void *conf__doc_alloc(struct mqb_conf_doc *doc, size_t n);
char *conf__doc_strndup(struct mqb_conf_doc *doc, const char *s, size_t n);
void conf__doc_set_root(struct mqb_conf_doc *doc, const struct mqb_conf_node *root);
/* The files secrets were read from (secrets.yaml), for the daemon's check
 * that no other user may read them: noted by the loader, copied. */
int conf__doc_add_secret_file(struct mqb_conf_doc *doc, const char *path);
/* What the loader accepted as Home Assistant does but a user should hear
 * of ("file:line:column: text"), copied: the daemon logs each as a
 * warning. */
int conf__doc_add_note(struct mqb_conf_doc *doc, const char *text);
/* doc holds other (a blueprint its nodes are made of) and frees it with
 * itself. 0 or -ENOMEM (other is then the caller's still). */
int conf__doc_hold(struct mqb_conf_doc *doc, struct mqb_conf_doc *other);
/* A blueprint's !input tags: the loader notes each node (a scalar whose
 * text is the input's name); substitution asks. */
int conf__doc_add_input(struct mqb_conf_doc *doc, const struct mqb_conf_node *node);
bool conf__doc_is_input(const struct mqb_conf_doc *doc, const struct mqb_conf_node *node);
struct mqb_conf_node *conf__node_new(struct mqb_conf_doc *doc, enum mqb_conf_kind kind,
				     const struct mqb_conf_mark *mark, const char *text, size_t len,
				     unsigned flags);
int conf__node_set_children(struct mqb_conf_doc *doc, struct mqb_conf_node *n,
			    const struct mqb_conf_node *const *v, size_t nv);
struct mqb_conf_node *conf__node_copy(struct mqb_conf_doc *doc, const struct mqb_conf_node *n,
				      const struct mqb_conf_mark *mark, unsigned add_flags);
/* A plain scalar at mark with the text of n, a plain scalar of the same
 * document, shared rather than copied. NULL on ENOMEM. */
struct mqb_conf_node *conf__node_same_text(struct mqb_conf_doc *doc,
					   const struct mqb_conf_node *n,
					   const struct mqb_conf_mark *mark);
void conf__node_mark_secret(const struct mqb_conf_node *n);
/* Every scalar of n (a secret's value in use) to the log's list of texts
 * never to show (lib/log.c), for as long as doc lives. 0 or -ENOMEM. */
int conf__node_register_secret(struct mqb_conf_doc *doc, const struct mqb_conf_node *n);
size_t conf__node_weight(const struct mqb_conf_node *n);
unsigned conf__node_height(const struct mqb_conf_node *n);
bool conf__node_broken(const struct mqb_conf_node *n);
/* A hash of what mqb_conf_equal compares: equal nodes hash the same
 * (to match one file's items against another's without comparing each
 * with each). Thread: any. */
uint64_t conf__node_hash(const struct mqb_conf_node *n);
int conf__errorv(struct mqb_conf_errors *e, const struct mqb_conf_mark *mark, const char *path,
		 const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

#endif
