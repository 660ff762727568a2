/* SPDX-License-Identifier: MIT */
/* Home Assistant's blueprints (helpers/blueprint: models.py, schemas.py,
 * placeholder substitution): an automation or script with use_blueprint
 * is the blueprint's body, its !input tags replaced by the inputs given
 * or their defaults, with the item's own keys over it. */
#include "lib/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/blueprint.h"
#include "config/config_impl.h"
#include "config/load.h"

/* The inputs a blueprint declares: name and declaration (a mapping or
 * null), sections' inputs flattened (Home Assistant 2024.6: a section is
 * a declaration holding input:). */
struct decl {
	const struct mqb_conf_node *name, *decl;
};

struct decls {
	struct decl *v;
	size_t n, cap;
};

static int collect_decls(struct decls *d, const struct mqb_conf_node *inputs)
{
	for (size_t i = 0; mqb_conf_kind(inputs) == MQB_CONF_MAP && i < mqb_conf_len(inputs); i++) {
		const struct mqb_conf_node *v = mqb_conf_value(inputs, i);
		const struct mqb_conf_node *section = mqb_conf_get(v, "input");
		if (section && mqb_conf_kind(section) == MQB_CONF_MAP) {
			if (collect_decls(d, section))
				return -ENOMEM;
			continue;
		}
		if (d->n == d->cap) {
			size_t cap = d->cap ? 2 * d->cap : 8;
			struct decl *nv = mqb__realloc(d->v, cap * sizeof *nv);
			if (!nv)
				return -ENOMEM;
			d->v = nv;
			d->cap = cap;
		}
		d->v[d->n++] = (struct decl){mqb_conf_key(inputs, i), v};
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct subst {
	struct mqb_conf_doc *doc;        /* where new nodes go */
	const struct mqb_conf_doc *bdoc; /* the blueprint's: which nodes are !input */
	const struct decls *d;
	const struct mqb_conf_node *const *value; /* by declaration: what stands for it */
	const char *path;
	struct mqb_conf_errors *errs;
	size_t found;
	bool oom;
};

static const struct mqb_conf_node *subst(struct subst *s, const struct mqb_conf_node *n)
{
	if (conf__doc_is_input(s->bdoc, n)) {
		const char *name = mqb_conf_scalar(n, NULL);
		for (size_t i = 0; i < s->d->n; i++)
			if (strcmp(mqb_conf_scalar(s->d->v[i].name, NULL), name) == 0)
				return s->value[i];
		mqb_conf_error_at(s->errs, n, s->path, "No substitution found for input %s", name);
		s->found++;
		return n;
	}
	enum mqb_conf_kind kind = mqb_conf_kind(n);
	if (kind != MQB_CONF_MAP && kind != MQB_CONF_SEQ)
		return n;
	size_t len = mqb_conf_len(n), nv = kind == MQB_CONF_MAP ? 2 * len : len;
	const struct mqb_conf_node **v = mqb__malloc((nv ? nv : 1) * sizeof *v);
	if (!v) {
		s->oom = true;
		return n;
	}
	bool changed = false;
	for (size_t i = 0; i < len; i++) {
		if (kind == MQB_CONF_MAP) {
			v[2 * i] = mqb_conf_key(n, i);
			v[2 * i + 1] = subst(s, mqb_conf_value(n, i));
			changed |= v[2 * i + 1] != mqb_conf_value(n, i);
		} else {
			v[i] = subst(s, mqb_conf_item(n, i));
			changed |= v[i] != mqb_conf_item(n, i);
		}
	}
	const struct mqb_conf_node *out = n;
	if (changed) {
		struct mqb_conf_mark m = mqb_conf_mark(n);
		struct mqb_conf_node *c = conf__node_new(s->doc, kind, &m, NULL, 0, 0);
		if (!c || conf__node_set_children(s->doc, c, v, nv) < 0)
			s->oom = true;
		else
			out = c;
	}
	mqb__free(v);
	return out;
}

/* The blueprint's file under config_dir, relative path p: what Home
 * Assistant's blueprint folder holds (no way out of it). */
static char *blueprint_file(const char *config_dir, const char *domain, const char *p)
{
	if (!*p || p[0] == '/' || strstr(p, "..") || strlen(p) > 1024)
		return NULL;
	size_t n = strlen(config_dir) + strlen(domain) + strlen(p) + sizeof "/blueprints//";
	char *f = mqb__malloc(n);
	if (f)
		snprintf(f, n, "%s/blueprints/%s/%s", config_dir, domain, p);
	return f;
}

/* The item's use_blueprint, checked: its path, its inputs (a mapping or
 * NULL). Errors counted in *found. */
static const char *use_of(const struct mqb_conf_node *ub, const char *path,
			  struct mqb_conf_errors *errs, const struct mqb_conf_node **inputs,
			  size_t *found)
{
	*inputs = NULL;
	if (mqb_conf_kind(ub) != MQB_CONF_MAP) {
		mqb_conf_error_at(errs, ub, path, "expected a dictionary for dictionary value @ "
						  "data['use_blueprint']");
		++*found;
		return NULL;
	}
	for (size_t i = 0; i < mqb_conf_len(ub); i++) {
		const char *k = mqb_conf_scalar(mqb_conf_key(ub, i), NULL);
		if (!k || (strcmp(k, "path") != 0 && strcmp(k, "input") != 0)) {
			mqb_conf_error_at(errs, mqb_conf_key(ub, i), path,
					  "extra keys not allowed @ data['use_blueprint']['%s']",
					  k ? k : "?");
			++*found;
		}
	}
	const struct mqb_conf_node *pn = mqb_conf_get(ub, "path");
	const char *p = pn ? mqb_conf_scalar(pn, NULL) : NULL;
	if (!p) {
		mqb_conf_error_at(errs, pn ? pn : ub, path, "required key not provided @ "
							    "data['use_blueprint']['path']");
		++*found;
	}
	const struct mqb_conf_node *in = mqb_conf_get(ub, "input");
	if (in && mqb_conf_kind(in) != MQB_CONF_MAP && mqb_conf_kind(in) != MQB_CONF_NULL) {
		mqb_conf_error_at(errs, in, path, "expected a dictionary for dictionary value @ "
						  "data['use_blueprint']['input']");
		++*found;
	}
	*inputs = in && mqb_conf_kind(in) == MQB_CONF_MAP ? in : NULL;
	return *found ? NULL : p;
}

/* The item made of the blueprint body b (its processed copy) and the
 * item's own keys over it, use_blueprint and blueprint left out. */
static const struct mqb_conf_node *combine(struct mqb_conf_doc *doc,
					   const struct mqb_conf_node *item,
					   const struct mqb_conf_node *b)
{
	size_t nb = mqb_conf_len(b), ni = mqb_conf_len(item), k = 0;
	const struct mqb_conf_node **v = mqb__malloc((2 * (nb + ni) + 1) * sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i < nb; i++) {
		const char *key = mqb_conf_scalar(mqb_conf_key(b, i), NULL);
		if (!key || strcmp(key, "blueprint") == 0 || mqb_conf_get(item, key))
			continue;
		v[k++] = mqb_conf_key(b, i);
		v[k++] = mqb_conf_value(b, i);
	}
	for (size_t i = 0; i < ni; i++) {
		const char *key = mqb_conf_scalar(mqb_conf_key(item, i), NULL);
		if (key && strcmp(key, "use_blueprint") == 0)
			continue;
		v[k++] = mqb_conf_key(item, i);
		v[k++] = mqb_conf_value(item, i);
	}
	struct mqb_conf_mark m = mqb_conf_mark(item);
	struct mqb_conf_node *c = conf__node_new(doc, MQB_CONF_MAP, &m, NULL, 0, 0);
	if (c && conf__node_set_children(doc, c, v, k) < 0)
		c = NULL;
	mqb__free(v);
	return c;
}

const struct mqb_conf_node *conf__blueprint_apply(struct mqb_conf_doc *doc,
						  const char *config_dir, const char *domain,
						  const struct mqb_conf_node *item, const char *path,
						  struct mqb_conf_errors *errs)
{
	const struct mqb_conf_node *ub = mqb_conf_get(item, "use_blueprint");
	if (mqb_conf_kind(item) != MQB_CONF_MAP || !ub)
		return item;
	char up[512];
	snprintf(up, sizeof up, "%s.use_blueprint", path);
	size_t found = 0;
	const struct mqb_conf_node *given;
	const char *rel = use_of(ub, up, errs, &given, &found);
	if (!rel)
		return NULL;
	const struct mqb_conf_node *pn = mqb_conf_get(ub, "path");
	char *file = blueprint_file(config_dir, domain, rel);
	if (!file) {
		mqb_conf_error_at(errs, pn, up, "the blueprint's path %s is not one inside "
						"blueprints/%s", rel, domain);
		return NULL;
	}
	if (access(file, R_OK) != 0) {
		mqb_conf_error_at(errs, pn, up, "Unable to find blueprint at path %s (%s: %s)", rel,
				  file, mqb_strerror(-errno));
		mqb__free(file);
		return NULL;
	}
	struct mqb_conf_doc *bdoc = NULL;
	size_t before = errs->n;
	int rc = conf__load_blueprint(file, NULL, &bdoc, errs);
	mqb__free(file);
	if (rc) {
		if (errs->n == before)
			mqb_conf_error_at(errs, pn, up, "%s", mqb_strerror(rc));
		return NULL;
	}
	const struct mqb_conf_node *root = mqb_conf_root(bdoc), *out = NULL;
	const struct mqb_conf_node *bp = mqb_conf_get(root, "blueprint");
	const char *bdomain = mqb_conf_scalar(mqb_conf_get(bp, "domain"), NULL);
	struct decls d = { 0 };
	const struct mqb_conf_node **value = NULL;
	if (mqb_conf_kind(root) != MQB_CONF_MAP || mqb_conf_kind(bp) != MQB_CONF_MAP) {
		mqb_conf_error_at(errs, root ? root : pn, up,
				  "not a blueprint: it has no blueprint: block");
		goto out;
	}
	if (!bdomain || strcmp(bdomain, domain) != 0) {
		mqb_conf_error_at(errs, mqb_conf_get(bp, "domain") ? mqb_conf_get(bp, "domain") : bp,
				  up, "Found incorrect blueprint type %s, expected %s",
				  bdomain ? bdomain : "None", domain);
		goto out;
	}
	if (collect_decls(&d, mqb_conf_get(bp, "input")) ||
	    !(value = mqb__calloc(d.n ? d.n : 1, sizeof *value)))
		goto nomem;
	/* each declared input: given, else its default, else missing (named
	 * sorted, as MissingInput does) */
	const char **missing = mqb__calloc(d.n ? d.n : 1, sizeof *missing);
	size_t nmissing = 0;
	if (!missing)
		goto nomem;
	for (size_t i = 0; i < d.n; i++) {
		const char *name = mqb_conf_scalar(d.v[i].name, NULL);
		const struct mqb_conf_node *dflt = mqb_conf_kind(d.v[i].decl) == MQB_CONF_MAP
							   ? mqb_conf_get(d.v[i].decl, "default")
							   : NULL;
		if (name && given && mqb_conf_get(given, name))
			value[i] = mqb_conf_get(given, name);
		else if (dflt)
			value[i] = dflt;
		else
			missing[nmissing++] = name ? name : "?";
	}
	if (nmissing) {
		qsort(missing, nmissing, sizeof *missing, cmp_names);
		char list[512] = "";
		for (size_t i = 0, used = 0; i < nmissing && used < sizeof list; i++)
			used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
						 i ? ", " : "", missing[i]);
		mqb_conf_error_at(errs, ub, up, "Missing input %s", list);
	}
	mqb__free(missing);
	if (nmissing)
		goto out;
	struct subst s = { doc, bdoc, &d, value, up, errs, 0, false };
	const struct mqb_conf_node *body = subst(&s, root);
	if (s.oom)
		goto nomem;
	if (s.found)
		goto out;
	if (!(out = combine(doc, item, body)))
		goto nomem;
	if (conf__doc_hold(doc, bdoc) < 0) {
		out = NULL;
		goto nomem;
	}
	bdoc = NULL;
	goto out;
nomem:
	mqb_conf_error(errs, NULL, up, "out of memory");
out:
	mqb__free(d.v);
	mqb__free(value);
	mqb_conf_doc_free(bdoc);
	return out;
}
