/* SPDX-License-Identifier: MIT */
/* Home Assistant's config_validation as the script engine needs it on bare
 * nodes: allowed keys with "did you mean", cv.boolean, cv.string,
 * cv.entity_ids and `enabled:`. Messages name the option and sit at the
 * node's own position. */
#include "lib/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "config/schema.h"
#include "ha/cv.h"
#include "mqbridge/states.h"
#include "mqbridge/template.h"
#include "mqbridge/text.h"
#include "template/native.h"

const char *cv__path(char buf[CV_PATH_MAX], const char *base, const char *fmt, ...)
{
	int n = snprintf(buf, CV_PATH_MAX, "%s", base ? base : "");
	if (n < 0 || n >= CV_PATH_MAX)
		return buf;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, CV_PATH_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return buf;
}

const char *cv__text(const struct mqb_conf_node *n)
{
	size_t len;
	return n && mqb_conf_kind(n) == MQB_CONF_SCALAR ? mqb_conf_scalar(n, &len) : NULL;
}

const struct mqb_conf_node *cv__required(const struct mqb_conf_node *map, const char *key,
					 const char *path, struct mqb_conf_errors *errs,
					 size_t *found)
{
	const struct mqb_conf_node *n = mqb_conf_get(map, key);
	if (!n) {
		mqb_conf_error_at(errs, map, path, "required key not provided @ data['%s']", key);
		(*found)++;
	}
	return n;
}

size_t cv__check_keys(const struct mqb_conf_node *map, const char *path,
		      const char *const *allowed, struct mqb_conf_errors *errs)
{
	size_t found = 0, nallowed = 0;
	while (allowed[nallowed])
		nallowed++;
	for (size_t i = 0; i < mqb_conf_len(map); i++) {
		const struct mqb_conf_node *k = mqb_conf_key(map, i);
		const char *key = cv__text(k);
		bool ok = false;
		for (size_t j = 0; key && j < nallowed; j++)
			if (strcmp(key, allowed[j]) == 0)
				ok = true;
		if (ok)
			continue;
		char kp[CV_PATH_MAX], shown[80];
		const char *ks = key ? mqb_conf_display(k, shown, sizeof shown) : "?";
		cv__path(kp, path, ".%s", ks);
		const char *near = key && !mqb_conf_is_secret(k) ? schema__suggest(key, allowed, nallowed)
								 : NULL;
		if (near)
			mqb_conf_error_at(errs, k, kp,
					  "extra keys not allowed: unknown option '%s' (did you mean '%s'?)",
					  ks, near);
		else
			mqb_conf_error_at(errs, k, kp, "extra keys not allowed: unknown option '%s'", ks);
		found++;
	}
	return found;
}

size_t cv__boolean(const struct mqb_conf_node *n, const char *path, struct mqb_conf_errors *errs,
		   bool *out)
{
	size_t len;
	const char *s = mqb_conf_kind(n) == MQB_CONF_SCALAR ? mqb_conf_scalar(n, &len) : NULL;
	double d;
	if (s && schema__parse_bool(s, len, out))
		return 0;
	if (s && schema__parse_float(s, len, &d)) { /* cv.boolean: a number is its truth */
		*out = d != 0;
		return 0;
	}
	char buf[80];
	mqb_conf_error_at(errs, n, path, "invalid boolean value %s",
			  schema__describe(n, buf, sizeof buf));
	return 1;
}

size_t cv__string(const struct mqb_conf_node *n, const char *path, struct mqb_conf_errors *errs,
		  const char **out)
{
	if ((*out = cv__text(n)))
		return 0;
	char buf[80];
	mqb_conf_error_at(errs, n, path, "expected a string, got %s",
			  schema__describe(n, buf, sizeof buf));
	return 1;
}

size_t cv__strdup(const struct mqb_conf_node *n, const char *path, struct mqb_conf_errors *errs,
		  char **out)
{
	const char *s;
	*out = NULL;
	if (!n)
		return 0;
	if (cv__string(n, path, errs, &s))
		return 1;
	if (!(*out = mqb__strdup(s))) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	return 0;
}

void cv__free_ids(char **ids, size_t n)
{
	for (size_t i = 0; ids && i < n; i++)
		mqb__free(ids[i]);
	mqb__free(ids);
}

/* One id (s[0..len), stripped) lowercased and checked, appended. */
static size_t add_id(const struct mqb_conf_node *at, const char *path, bool allow_all,
		     struct mqb_conf_errors *errs, const char *s, size_t len, char ***ids,
		     size_t *nids)
{
	s = mqb_strip(s, &len);
	char *id = mqb__strndup(s, len);
	char **v = id ? mqb__realloc(*ids, (*nids + 1) * sizeof *v) : NULL;
	if (!v) {
		mqb__free(id);
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	*ids = v;
	for (char *p = id; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	bool special = allow_all && (strcmp(id, "all") == 0 || strcmp(id, "none") == 0);
	if (!special && !mqb_entity_id_valid(id)) {
		mqb_conf_error_at(errs, at, path, "Entity ID %s is an invalid entity ID",
				  mqb_conf_is_secret(at) ? "(secret)" : id);
		mqb__free(id);
		return 1;
	}
	v[(*nids)++] = id;
	return 0;
}

size_t cv__entity_ids(const struct mqb_conf_node *n, const char *path, bool allow_all,
		      struct mqb_conf_errors *errs, char ***ids, size_t *nids)
{
	size_t found = 0, len;
	*ids = NULL;
	*nids = 0;
	if (mqb_conf_kind(n) == MQB_CONF_SCALAR) {
		const char *s = mqb_conf_scalar(n, &len);
		for (size_t b = 0, i = 0; i <= len; i++) {
			if (i < len && s[i] != ',')
				continue;
			found += add_id(n, path, allow_all, errs, s + b, i - b, ids, nids);
			b = i + 1;
		}
	} else if (mqb_conf_kind(n) == MQB_CONF_SEQ) {
		for (size_t i = 0; i < mqb_conf_len(n); i++) {
			const struct mqb_conf_node *it = mqb_conf_item(n, i);
			const char *s = cv__text(it);
			char ip[CV_PATH_MAX];
			cv__path(ip, path, "[%zu]", i);
			if (!s) {
				mqb_conf_error_at(errs, it, ip, "expected an entity ID");
				found++;
				continue;
			}
			found += add_id(it, ip, false, errs, s, strlen(s), ids, nids);
		}
	} else {
		mqb_conf_error_at(errs, n, path, "Entity IDs cannot be None: expected an entity ID "
						 "or a list of them");
		found++;
	}
	if (!found && *nids == 0) {
		mqb_conf_error_at(errs, n, path, "expected at least one entity ID");
		found++;
	}
	if (found) {
		cv__free_ids(*ids, *nids);
		*ids = NULL;
		*nids = 0;
	}
	return found;
}

size_t cv__enabled(const struct mqb_conf_node *map, const char *path,
		   struct mqb_conf_errors *errs, bool *out)
{
	const struct mqb_conf_node *n = mqb_conf_get(map, "enabled");
	char p[CV_PATH_MAX];
	*out = true;
	if (!n)
		return 0;
	cv__path(p, path, ".enabled");
	const char *s = cv__text(n);
	if (s && strstr(s, "{")) {
		/* A template: Home Assistant renders it once, limited (no
		 * states, no variables), and takes its truth as cv.boolean. */
		struct mqb_template *t;
		if (schema__compile_template(n, p, errs, &t) < 0)
			return 1;
		struct mqb_tpl_error e;
		char *text = NULL;
		size_t len = 0;
		int rc = mqb_template_render(t, NULL, NULL, &text, &len, &e);
		mqb_template_free(t);
		if (rc) {
			mqb_conf_error_at(errs, n, p, "Error rendering enabled template: %s",
					  mqb_conf_is_secret(n) ? "(secret)" : e.message);
			mqb__free(text);
			return 1;
		}
		const char *v = mqb_strip(text, &len);
		double d;
		bool ok = schema__parse_bool(v, len, out);
		if (!ok && schema__parse_float(v, len, &d)) {
			*out = d != 0;
			ok = true;
		}
		mqb__free(text);
		if (!ok) {
			mqb_conf_error_at(errs, n, p, "invalid boolean value rendered by the enabled "
						      "template");
			return 1;
		}
		return 0;
	}
	return cv__boolean(n, p, errs, out);
}

bool cv__result_as_boolean(const char *text)
{
	size_t len = strlen(text);
	const char *s = mqb_strip(text, &len);
	json_t *v = tpl__parse_result(s, len);
	bool b = false;
	if (json_is_boolean(v))
		b = json_is_true(v);
	else if (json_is_number(v))
		b = json_number_value(v) != 0;
	else if (json_is_string(v) &&
		 !schema__parse_bool(json_string_value(v), json_string_length(v), &b))
		b = false;
	json_decref(v);
	return b;
}
