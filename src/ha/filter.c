/* SPDX-License-Identifier: MIT */
/* Home Assistant's include/exclude entity filter (helpers/entityfilter),
 * for whatever mirrors or exports entities: mqtt_statestream's include:
 * and exclude: blocks, prometheus's filter:. */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "mqbridge/config.h"
#include "mqbridge/entity.h"

/* Whether s (len bytes) is in the list at prefix+key of filter. */
static bool in_list(const struct mqb_conf_node *filter, const char *prefix, const char *key,
		    const char *s, size_t len, bool glob)
{
	char name[64];
	snprintf(name, sizeof name, "%s%s", prefix, key);
	const struct mqb_conf_node *l = filter ? mqb_conf_get(filter, name) : NULL;
	if (!l)
		return false;
	size_t n = mqb_conf_kind(l) == MQB_CONF_SEQ ? mqb_conf_len(l) : 1;
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *it = mqb_conf_kind(l) == MQB_CONF_SEQ ? mqb_conf_item(l, i)
										  : l;
		const char *v = mqb_conf_scalar(it, NULL);
		if (!v)
			continue;
		if (glob ? fnmatch(v, s, 0) == 0 : strlen(v) == len && strncmp(v, s, len) == 0)
			return true;
	}
	return false;
}

static bool has_lists(const struct mqb_conf_node *f, const char *prefix)
{
	static const char *const keys[] = {"domains", "entities", "entity_globs"};
	char name[64];
	for (size_t i = 0; f && i < 3; i++) {
		snprintf(name, sizeof name, "%s%s", prefix, keys[i]);
		if (mqb_conf_get(f, name))
			return true;
	}
	return false;
}

bool mqb_entity_filter_match(const struct mqb_conf_node *inc, const char *ip,
			     const struct mqb_conf_node *exc, const char *ep, const char *eid)
{
	size_t len = strlen(eid);
	const char *dot = strchr(eid, '.');
	size_t dl = dot ? (size_t)(dot - eid) : len;
	if (in_list(inc, ip, "entities", eid, len, false))
		return true;
	if (in_list(exc, ep, "entities", eid, len, false))
		return false;
	if (in_list(exc, ep, "domains", eid, dl, false) ||
	    in_list(exc, ep, "entity_globs", eid, len, true))
		return false;
	if (!has_lists(inc, ip))
		return true;
	return in_list(inc, ip, "domains", eid, dl, false) ||
	       in_list(inc, ip, "entity_globs", eid, len, true);
}
