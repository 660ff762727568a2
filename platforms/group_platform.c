/* SPDX-License-Identifier: MIT */
/* group's `platform: group` entities of binary_sensor, switch, light and
 * cover (homeassistant/components/group/{binary_sensor,switch,light,
 * cover}.py), on the base they share with the sensor (entity.py's
 * GroupEntity): members followed, the state worked out at start and on
 * every change, and commands forwarded to the members. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/coro.h"
#include "mqbridge/entity.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/services.h"
#include "mqbridge/states.h"
#include "mqbridge/track.h"

#include "group.h"

/* ---- member lists ---------------------------------------------------------- */

/* s[0..len) stripped of spaces, lower case, in out (outlen bytes): "" when
 * it does not fit. */
static const char *id_text(const char *s, size_t len, char *out, size_t outlen)
{
	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= outlen)
		len = 0;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
	out[len] = '\0';
	return out;
}

/* Python's repr of the domain list, as cv.entities_domain's message. */
static void domains_text(const char *const *domains, char *out, size_t len)
{
	size_t n = 0;
	while (domains[n])
		n++;
	if (n == 1) {
		snprintf(out, len, "%s", domains[0]);
		return;
	}
	size_t off = (size_t)snprintf(out, len, "[");
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s'%s'", i ? ", " : "", domains[i]);
	if (off < len)
		snprintf(out + off, len - off, "]");
}

static size_t check_one(const char *s, size_t len, const struct mqb_conf_node *at, const char *path,
			const char *const *domains, struct mqb_conf_errors *errs)
{
	char id[MQB_MAX_ENTITY_ID_LEN + 2];
	id_text(s, len, id, sizeof id);
	if (!mqb_entity_id_valid(id)) {
		if (errs)
			mqb_conf_error_at(errs, at, path, "Entity ID %.*s is an invalid entity ID",
					  (int)len, s);
		return 1;
	}
	if (!domains)
		return 0;
	size_t dlen = (size_t)(strchr(id, '.') - id);
	for (const char *const *d = domains; *d; d++)
		if (strlen(*d) == dlen && strncmp(*d, id, dlen) == 0)
			return 0;
	if (errs) {
		char dt[128];
		domains_text(domains, dt, sizeof dt);
		mqb_conf_error_at(errs, at, path, "Entity ID '%s' does not belong to domain '%s'", id,
				  dt);
	}
	return 1;
}

size_t group_check_ids(const struct mqb_conf_node *n, const char *path,
		       const char *const *domains, struct mqb_conf_errors *errs)
{
	char buf[64];
	size_t found = 0;
	switch (mqb_conf_kind(n)) {
	case MQB_CONF_NULL:
		return 0;
	case MQB_CONF_SCALAR: {
		/* cv.ensure_list_csv */
		const char *s = mqb_conf_scalar(n, NULL);
		for (const char *p = s;; p++) {
			const char *end = strchr(p, ',');
			size_t len = end ? (size_t)(end - p) : strlen(p);
			found += check_one(p, len, n, path, domains, errs);
			if (!end)
				break;
			p = end;
		}
		return found;
	}
	case MQB_CONF_SEQ:
		for (size_t i = 0; i < mqb_conf_len(n); i++) {
			const struct mqb_conf_node *it = mqb_conf_item(n, i);
			size_t len;
			const char *s = mqb_conf_kind(it) == MQB_CONF_SCALAR ? mqb_conf_scalar(it, &len)
									     : NULL;
			if (!s) {
				if (errs)
					mqb_conf_error_at(errs, it, path, "expected an entity id, got %s",
							  mqb_conf_display(it, buf, sizeof buf));
				found++;
				continue;
			}
			found += check_one(s, len, it, path, domains, errs);
		}
		return found;
	case MQB_CONF_MAP:
		break;
	}
	if (errs)
		mqb_conf_error_at(errs, n, path, "expected a list of entity ids, got %s",
				  mqb_conf_display(n, buf, sizeof buf));
	return 1;
}

static int push_id(struct group_ids *out, const char *s, size_t len)
{
	char id[MQB_MAX_ENTITY_ID_LEN + 2];
	id_text(s, len, id, sizeof id);
	if (!mqb_entity_id_valid(id))
		return -EINVAL;
	char **v = realloc(out->v, (out->n + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	out->v = v;
	if (!(v[out->n] = strdup(id)))
		return -ENOMEM;
	out->n++;
	return 0;
}

static int ids_from_text(const char *s, struct group_ids *out)
{
	for (const char *p = s;; p++) {
		const char *end = strchr(p, ',');
		int rc = push_id(out, p, end ? (size_t)(end - p) : strlen(p));
		if (rc || !end)
			return rc;
		p = end;
	}
}

int group_ids_from_conf(const struct mqb_conf_node *n, struct group_ids *out)
{
	int rc = 0;
	memset(out, 0, sizeof *out);
	if (mqb_conf_kind(n) == MQB_CONF_SCALAR)
		rc = ids_from_text(mqb_conf_scalar(n, NULL), out);
	for (size_t i = 0; !rc && mqb_conf_kind(n) == MQB_CONF_SEQ && i < mqb_conf_len(n); i++) {
		size_t len;
		const char *s = mqb_conf_scalar(mqb_conf_item(n, i), &len);
		rc = s ? push_id(out, s, len) : -EINVAL;
	}
	if (rc)
		group_ids_fini(out);
	return rc;
}

int group_ids_from_json(const json_t *v, struct group_ids *out)
{
	int rc = 0;
	memset(out, 0, sizeof *out);
	if (json_is_string(v))
		rc = ids_from_text(json_string_value(v), out);
	else if (!json_is_array(v))
		rc = -EINVAL;
	for (size_t i = 0; !rc && json_is_array(v) && i < json_array_size(v); i++) {
		const char *s = json_string_value(json_array_get(v, i));
		rc = s ? push_id(out, s, strlen(s)) : -EINVAL;
	}
	if (rc)
		group_ids_fini(out);
	return rc;
}

void group_ids_fini(struct group_ids *ids)
{
	for (size_t i = 0; ids && i < ids->n; i++)
		free(ids->v[i]);
	if (ids)
		free(ids->v);
	if (ids)
		memset(ids, 0, sizeof *ids);
}

json_t *group_ids_json(const struct group_ids *ids)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < ids->n; i++)
		json_array_append_new(a, json_string(ids->v[i]));
	return a;
}

/* ---- the entity base ------------------------------------------------------- */

struct mqb_state **group_states(struct group_entity *g, size_t *n)
{
	struct mqb_state **v = calloc(g->ids.n ? g->ids.n : 1, sizeof *v);
	*n = 0;
	for (size_t i = 0; v && i < g->ids.n; i++)
		if ((v[*n] = mqb_states_async_get(g->core, g->ids.v[i])))
			(*n)++;
	return v;
}

void group_states_free(struct mqb_state **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		mqb_state_unref(v[i]);
	free(v);
}

static void refresh(struct group_entity *g)
{
	g->update(g);
	mqb_entity_async_write(g->e);
}

/* async_defer_or_update_ha_state: members are followed from the start,
 * the state only once the core runs. */
static void on_member(void *ud, const struct mqb_event *ev)
{
	struct group_entity *g = ud;
	if (g->member)
		g->member(g, ev);
	if (mqb_core_async_started(g->core))
		refresh(g);
}

static int at_start(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct group_entity *g = ud;
	g->at_start = NULL; /* a listen_once is gone once called */
	refresh(g);
	return 0;
}

int group_entity_added(struct mqb_entity *e, void *priv)
{
	struct group_entity *g = priv;
	g->e = e;
	g->core = mqb_entity_core(e);
	if (g->member)
		g->member(g, NULL); /* the members there already */
	int rc = 0;
	if (g->ids.n)
		rc = mqb_async_track_state_change(g->core, (const char *const *)g->ids.v, g->ids.n,
						  on_member, g, &g->track);
	if (rc)
		return rc;
	if (mqb_core_async_started(g->core)) {
		g->update(g);
		return 0;
	}
	return mqb_bus_async_listen_once(g->core, MQB_EVENT_START, &MQB_CALLBACK(at_start, g),
					 &g->at_start);
}

void group_entity_will_remove(struct mqb_entity *e, void *priv)
{
	(void)e;
	struct group_entity *g = priv;
	mqb_async_track_cancel(g->track);
	g->track = NULL;
	if (g->at_start)
		mqb_bus_async_unlisten(g->core, g->at_start);
	g->at_start = NULL;
}

void group_entity_free(void *priv)
{
	struct group_entity *g = priv;
	if (!g)
		return;
	if (g->fini)
		g->fini(g);
	group_ids_fini(&g->ids);
	free(g);
}

int group_forward(struct group_entity *g, const char *domain, const char *service,
		  const struct group_ids *ids, json_t *data)
{
	json_t *d = data ? data : json_object();
	if (!d || json_object_set_new(d, "entity_id", group_ids_json(ids))) {
		json_decref(d);
		return -ENOMEM;
	}
	MQB_LOG_DEBUG(GROUP_SUB, "%s: forwarded %s.%s", mqb_entity_id(g->e), domain, service);
	struct mqb_future *f = NULL;
	int rc = mqb_services_async_call(g->core, domain, service, d, &f);
	if (rc == 0)
		rc = mqb_await(f, NULL);
	mqb_future_unref(f);
	return rc;
}

int group_entity_add(struct mqb_platform *p, struct group_entity *g,
		     const struct group_common *c, struct mqb_entity_info *info,
		     const struct mqb_entity_ops *ops)
{
	int rc = group_ids_from_conf(c->entities, &g->ids);
	if (rc) {
		group_entity_free(g);
		return rc;
	}
	info->name = c->name;
	info->unique_id = c->unique_id;
	/* GroupEntity's _attr_available = False: unavailable until worked out */
	info->unavailable = true;
	return mqb_platform_async_add_entity(p, info, ops, g, NULL);
}

/* ---- on and off: binary_sensor, switch, light ------------------------------- */

/* The state rules the binary sensor, switch and light groups share:
 * unavailable when every member is (or none exists); with `all`, unknown
 * while any member is unknown or unavailable, else on when all are on;
 * without, unknown while none is known, else on when any is. */
static void on_off_state(struct group_entity *g, struct mqb_state **v, size_t n)
{
	bool available = false, valid = g->all, on = g->all;
	for (size_t i = 0; i < n; i++) {
		const char *s = mqb_state_value(v[i]);
		bool known = strcmp(s, "unknown") != 0 && strcmp(s, "unavailable") != 0;
		bool is_on = strcmp(s, "on") == 0;
		available |= strcmp(s, "unavailable") != 0;
		valid = g->all ? valid && known : valid || known;
		on = g->all ? on && is_on : on || is_on;
	}
	mqb_entity_async_set_available(g->e, available);
	mqb_entity_async_set_state(g->e, !valid ? NULL : on ? "on" : "off");
}

/* extra_state_attributes, which Home Assistant leaves out while the
 * entity is unavailable; extra (may be NULL) is merged into it. */
static void set_attrs(struct group_entity *g, json_t *extra)
{
	json_t *a = NULL;
	if (mqb_entity_async_available(g->e)) {
		a = extra ? extra : json_object();
		extra = NULL;
		json_object_set_new(a, "entity_id", group_ids_json(&g->ids));
	}
	json_decref(extra);
	mqb_entity_async_set_attributes(g->e, a);
}

static void update_on_off(struct group_entity *g)
{
	size_t n;
	struct mqb_state **v = group_states(g, &n);
	on_off_state(g, v, n);
	group_states_free(v, n);
	set_attrs(g, NULL);
}

/* switch.turn_on / turn_off to every member; toggle is the entity
 * registry's (the opposite of the group's state). */
static int switch_command(struct mqb_entity *e, void *priv, const char *service,
			  const json_t *data)
{
	(void)e;
	(void)data;
	struct group_entity *g = priv;
	if (strcmp(service, "turn_on") != 0 && strcmp(service, "turn_off") != 0)
		return -ENOTSUP;
	return group_forward(g, "switch", service, &g->ids, NULL);
}

/* ---- light ------------------------------------------------------------------- */

/* What light.turn_on passes on to the members (FORWARDED_ATTRIBUTES). */
static const char *const light_forwarded[] = {
	"brightness", "brightness_pct", "brightness_step", "brightness_step_pct", "color_name",
	"color_temp", "color_temp_kelvin", "effect", "flash", "hs_color", "kelvin", "profile",
	"rgb_color", "rgbw_color", "rgbww_color", "transition", "white", "xy_color",
};

static int light_command(struct mqb_entity *e, void *priv, const char *service,
			 const json_t *data)
{
	(void)e;
	struct group_entity *g = priv;
	json_t *d = json_object();
	if (!d)
		return -ENOMEM;
	if (strcmp(service, "turn_on") == 0) {
		for (size_t i = 0; i < MQB_ARRAY_SIZE(light_forwarded); i++) {
			json_t *v = json_object_get(data, light_forwarded[i]);
			if (v)
				json_object_set_new(d, light_forwarded[i], json_deep_copy(v));
		}
	} else if (strcmp(service, "turn_off") == 0) {
		json_t *v = json_object_get(data, "transition");
		if (v)
			json_object_set_new(d, "transition", json_deep_copy(v));
	} else {
		json_decref(d);
		return -ENOTSUP;
	}
	return group_forward(g, "light", service, &g->ids, d);
}

static bool has_mode(const json_t *modes, const char *m)
{
	size_t i;
	const json_t *v;
	json_array_foreach(modes, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), m) == 0)
			return true;
	return false;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* The union of the members' supported_color_modes, onoff and brightness
 * dropped beside richer ones (filter_supported_color_modes); sorted. */
static json_t *color_modes(struct mqb_state **v, size_t n)
{
	json_t *all = json_array();
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_object_get(mqb_state_attributes(v[i]), "supported_color_modes");
		size_t k;
		const json_t *x;
		json_array_foreach(m, k, x)
			if (json_is_string(x) && !has_mode(all, json_string_value(x)))
				json_array_append_new(all, json_string(json_string_value(x)));
	}
	if (json_array_size(all) == 0)
		json_array_append_new(all, json_string("onoff"));
	static const char *const plain[] = {"onoff", "brightness"};
	for (size_t p = 0; p < 2; p++)
		for (size_t k = 0; json_array_size(all) > 1 && k < json_array_size(all); k++)
			if (strcmp(json_string_value(json_array_get(all, k)), plain[p]) == 0)
				json_array_remove(all, k--);
	size_t cnt = json_array_size(all);
	json_t **items = malloc(cnt * sizeof *items);
	for (size_t k = 0; items && k < cnt; k++)
		items[k] = json_incref(json_array_get(all, k));
	if (items) {
		qsort(items, cnt, sizeof *items, str_cmp);
		json_array_clear(all);
		for (size_t k = 0; k < cnt; k++)
			json_array_append_new(all, items[k]);
	}
	free(items);
	return all;
}

/* The most common color mode of the members that are on, brightness and
 * onoff counting last; the first supported one when none says. */
static const char *color_mode(struct mqb_state **on, size_t non, const json_t *supported)
{
	const char *best = NULL;
	int best_n = -2;
	for (size_t i = 0; i < non; i++) {
		const char *m = json_string_value(
			json_object_get(mqb_state_attributes(on[i]), "color_mode"));
		if (!m)
			continue;
		int count = 0;
		if (strcmp(m, "onoff") == 0 || strcmp(m, "brightness") == 0) {
			if (!has_mode(supported, m))
				continue;
			count = strcmp(m, "onoff") == 0 ? -1 : 0;
		} else {
			for (size_t k = 0; k < non; k++) {
				const char *o = json_string_value(
					json_object_get(mqb_state_attributes(on[k]), "color_mode"));
				count += o && strcmp(o, m) == 0;
			}
		}
		if (count > best_n) {
			best = m;
			best_n = count;
		}
	}
	if (!best && non)
		best = json_string_value(json_array_get(supported, 0));
	return best;
}

static void update_light(struct group_entity *g)
{
	size_t n, non = 0;
	struct mqb_state **v = group_states(g, &n);
	struct mqb_state **on = calloc(n ? n : 1, sizeof *on);
	long long sum = 0;
	size_t nb = 0;
	for (size_t i = 0; on && i < n; i++) {
		if (strcmp(mqb_state_value(v[i]), "on") != 0)
			continue;
		on[non++] = v[i];
		const json_t *b = json_object_get(mqb_state_attributes(v[i]), "brightness");
		if (json_is_number(b)) {
			sum += (long long)json_number_value(b);
			nb++;
		}
	}
	on_off_state(g, v, n);
	json_t *a = json_object();
	json_t *modes = color_modes(v, n);
	bool is_on = strcmp(mqb_entity_async_state(g->e), "on") == 0;
	const char *mode = is_on ? color_mode(on, non, modes) : NULL;
	/* reduce_attribute's mean_int over the members that are on */
	json_object_set_new(a, "brightness",
			    is_on && nb ? json_integer((json_int_t)(sum / (long long)nb)) : json_null());
	json_object_set_new(a, "color_mode", mode ? json_string(mode) : json_null());
	json_object_set_new(a, "supported_color_modes", modes);
	json_object_set_new(a, "supported_features", json_integer(0));
	free(on);
	group_states_free(v, n);
	set_attrs(g, a);
}

/* ---- cover -------------------------------------------------------------------- */

/* Which members take which service, from their supported_features
 * (CoverEntityFeature: OPEN 1, CLOSE 2, SET_POSITION 4, STOP 8); a member
 * without the attribute, as mqbridge's own covers, is taken to open,
 * close and stop, and to take a position when it reports one. */
enum { F_OPEN = 1, F_CLOSE = 2, F_POSITION = 4, F_STOP = 8 };

struct cover {
	struct group_entity g;
	unsigned *features;  /* per member; 0 while it has no state */
};

static unsigned features_of(const struct mqb_state *s)
{
	if (!s)
		return 0;
	const json_t *a = mqb_state_attributes(s);
	const json_t *f = json_object_get(a, "supported_features");
	if (json_is_integer(f))
		return (unsigned)json_integer_value(f);
	return F_OPEN | F_CLOSE | F_STOP |
	       (json_is_number(json_object_get(a, "current_position")) ? F_POSITION : 0);
}

/* update_supported_features, for one member or (ev NULL) every one. */
static void cover_member(struct group_entity *g, const struct mqb_event *ev)
{
	struct cover *c = (struct cover *)(void *)g;  /* g is its first member */
	for (size_t i = 0; i < g->ids.n; i++) {
		if (ev && strcmp(g->ids.v[i], mqb_event_entity_id(ev)) != 0)
			continue;
		if (ev) {
			c->features[i] = features_of(mqb_event_new_state(ev));
			continue;
		}
		struct mqb_state *s = mqb_states_async_get(g->core, g->ids.v[i]);
		c->features[i] = features_of(s);
		mqb_state_unref(s);
	}
}

static int cover_members(struct cover *c, unsigned mask, struct group_ids *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < c->g.ids.n; i++) {
		if (!(c->features[i] & mask))
			continue;
		char **v = realloc(out->v, (out->n + 1) * sizeof *v);
		if (!v || !(v[out->n] = strdup(c->g.ids.v[i]))) {
			if (v)
				out->v = v;
			group_ids_fini(out);
			return -ENOMEM;
		}
		out->v = v;
		out->n++;
	}
	return 0;
}

static int cover_command(struct mqb_entity *e, void *priv, const char *service,
			 const json_t *data)
{
	(void)e;
	struct cover *c = priv;
	unsigned mask;
	json_t *d = NULL;
	if (strcmp(service, "open_cover") == 0 || strcmp(service, "close_cover") == 0)
		mask = F_OPEN | F_CLOSE;
	else if (strcmp(service, "stop_cover") == 0)
		mask = F_STOP;
	else if (strcmp(service, "set_cover_position") == 0)
		mask = F_POSITION;
	else
		return -ENOTSUP;
	if (mask == F_POSITION) {
		const json_t *pos = json_object_get(data, "position");
		if (!json_is_number(pos))
			return -EINVAL;
		d = json_pack("{sO}", "position", pos);
	}
	struct group_ids ids;
	int rc = cover_members(c, mask, &ids);
	if (rc == 0)
		rc = group_forward(&c->g, "cover", service, &ids, d);
	else
		json_decref(d);
	group_ids_fini(&ids);
	return rc;
}

/* CoverGroup.async_update_group_state: closed unless a member is open,
 * opening or closing over it; unknown while no member is known; the
 * position the members' mean. */
static void update_cover(struct group_entity *g)
{
	struct cover *c = (struct cover *)(void *)g;  /* g is its first member */
	bool available = false, valid = false, closed = true, opening = false, closing = false;
	long long sum = 0;
	size_t npos = 0;
	unsigned features = 0;
	for (size_t i = 0; i < g->ids.n; i++) {
		if (c->features[i] & (F_OPEN | F_CLOSE))
			features |= F_OPEN | F_CLOSE;
		features |= c->features[i] & (F_STOP | F_POSITION);
		struct mqb_state *st = mqb_states_async_get(g->core, g->ids.v[i]);
		if (!st)
			continue;
		const char *s = mqb_state_value(st);
		available |= strcmp(s, "unavailable") != 0;
		valid |= strcmp(s, "unknown") != 0 && strcmp(s, "unavailable") != 0;
		closed &= strcmp(s, "open") != 0;
		closing |= strcmp(s, "closing") == 0;
		opening |= strcmp(s, "opening") == 0;
		const json_t *p = json_object_get(mqb_state_attributes(st), "current_position");
		if ((c->features[i] & F_POSITION) && json_is_number(p)) {
			sum += (long long)json_number_value(p);
			npos++;
		}
		mqb_state_unref(st);
	}
	mqb_entity_async_set_available(g->e, available);
	mqb_entity_async_set_state(g->e, opening   ? "opening"
					 : closing ? "closing"
					 : !valid  ? NULL
					 : closed  ? "closed"
						   : "open");
	json_t *a = json_object();
	if (npos)
		json_object_set_new(a, "current_position",
				    json_integer((json_int_t)(sum / (long long)npos)));
	json_object_set_new(a, "supported_features", json_integer(features));
	set_attrs(g, a);
}

static void cover_fini(struct group_entity *g)
{
	free(((struct cover *)g)->features);
}

/* ---- configuration -------------------------------------------------------------- */

struct onoff_conf {
	struct group_common c;
	const char *device_class;
	bool all;
};

#define OC(f) .offset = offsetof(struct onoff_conf, f), .stored = true
#define COMMON_KEYS(def_name) \
	{.key = "entities", .type = MQB_S_ANY, .required = true, OC(c.entities), \
	 .doc = "the members' entity ids"}, \
	{.key = "name", .type = MQB_S_STRING, .def = def_name, OC(c.name), \
	 .doc = "the group's name (default " def_name ")"}, \
	{.key = "unique_id", .type = MQB_S_STRING, OC(c.unique_id), \
	 .doc = "unique id in discovery"}

static const char *const binary_classes[] = {
	"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
	"garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy",
	"opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound",
	"tamper", "update", "vibration", "window", NULL};

static const struct mqb_schema_key binary_keys[] = {
	COMMON_KEYS("Binary Sensor Group"),
	{.key = "device_class", .type = MQB_S_ENUM, .choices = binary_classes, OC(device_class),
	 .doc = "the binary sensor's device class"},
	{.key = "all", .type = MQB_S_BOOL, .def = "false", OC(all),
	 .doc = "on only when every member is on"},
};
static const struct mqb_schema binary_schema = MQB_SCHEMA("binary_sensor.group", binary_keys);

static const struct mqb_schema_key switch_keys[] = {
	COMMON_KEYS("Switch Group"),
	{.key = "all", .type = MQB_S_BOOL, .def = "false", OC(all),
	 .doc = "on only when every member is on"},
};
static const struct mqb_schema switch_schema = MQB_SCHEMA("switch.group", switch_keys);

static const struct mqb_schema_key light_keys[] = {
	COMMON_KEYS("Light Group"),
	{.key = "all", .type = MQB_S_BOOL, .def = "false", OC(all),
	 .doc = "on only when every member is on"},
};
static const struct mqb_schema light_schema = MQB_SCHEMA("light.group", light_keys);

static const struct mqb_schema_key cover_keys[] = {COMMON_KEYS("Cover Group")};
static const struct mqb_schema cover_schema = MQB_SCHEMA("cover.group", cover_keys);

static void check_members(const void *conf, const char *domain, const char *path,
			  struct mqb_conf_errors *errs)
{
	const struct group_common *c = conf;
	const char *const domains[] = {domain, NULL};
	char p[256];
	snprintf(p, sizeof p, "%s.entities", path);
	group_check_ids(c->entities, p, domains, errs);
}

#define CHECK(fn, domain) \
	static void fn(const void *conf, const struct mqb_conf_node *node, const char *path, \
		       struct mqb_conf_errors *errs) \
	{ \
		(void)node; \
		check_members(conf, domain, path, errs); \
	}
CHECK(check_binary, "binary_sensor")
CHECK(check_switch, "switch")
CHECK(check_light, "light")
CHECK(check_cover, "cover")

static const struct mqb_entity_ops binary_ops = {.async_added = group_entity_added,
						 .async_will_remove = group_entity_will_remove,
						 .free = group_entity_free};
static const struct mqb_entity_ops switch_ops = {.async_added = group_entity_added,
						 .async_will_remove = group_entity_will_remove,
						 .async_command = switch_command,
						 .free = group_entity_free};
static const struct mqb_entity_ops light_ops = {.async_added = group_entity_added,
						.async_will_remove = group_entity_will_remove,
						.async_command = light_command,
						.free = group_entity_free};
static const struct mqb_entity_ops cover_ops = {.async_added = group_entity_added,
						.async_will_remove = group_entity_will_remove,
						.async_command = cover_command,
						.free = group_entity_free};

static int setup_on_off(struct mqb_platform *p, const void *conf, bool light)
{
	const struct onoff_conf *c = conf;
	struct group_entity *g = calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	g->all = c->all;
	g->update = light ? update_light : update_on_off;
	struct mqb_entity_info info = {.device_class = c->device_class};
	json_t *disc = light ? json_pack("{sb}", "brightness", 1) : NULL;
	info.discovery = disc;
	const struct mqb_entity_ops *ops = light ? &light_ops
					   : strcmp(mqb_platform_domain(p), "switch") == 0 ? &switch_ops
											    : &binary_ops;
	int rc = group_entity_add(p, g, &c->c, &info, ops);
	json_decref(disc);
	return rc;
}

static int setup_binary(struct mqb_platform *p, const void *conf, const char *path)
{
	(void)path;
	return setup_on_off(p, conf, false);
}

static int setup_switch(struct mqb_platform *p, const void *conf, const char *path)
{
	(void)path;
	return setup_on_off(p, conf, false);
}

static int setup_light(struct mqb_platform *p, const void *conf, const char *path)
{
	(void)path;
	return setup_on_off(p, conf, true);
}

static int setup_cover(struct mqb_platform *p, const void *conf, const char *path)
{
	(void)path;
	const struct onoff_conf *c = conf;
	struct cover *x = calloc(1, sizeof *x);
	if (!x)
		return -ENOMEM;
	x->g.update = update_cover;
	x->g.member = cover_member;
	x->g.fini = cover_fini;
	struct group_ids ids;
	if (group_ids_from_conf(c->c.entities, &ids) ||
	    !(x->features = calloc(ids.n ? ids.n : 1, sizeof *x->features))) {
		group_ids_fini(&ids);
		free(x);
		return -ENOMEM;
	}
	group_ids_fini(&ids);
	json_t *disc = json_pack("{sisi}", "position_open", 100, "position_closed", 0);
	struct mqb_entity_info info = {.discovery = disc};
	int rc = group_entity_add(p, &x->g, &c->c, &info, &cover_ops);
	json_decref(disc);
	return rc;
}

const struct mqb_platform_domain group_domains[GROUP_NDOMAINS] = {
	{.domain = "sensor", .schema = &group_sensor_schema,
	 .conf_size = sizeof(struct group_sensor_conf),
	 .check = group_check_sensor, .async_setup_platform = group_setup_sensor},
	{.domain = "binary_sensor", .schema = &binary_schema, .conf_size = sizeof(struct onoff_conf),
	 .check = check_binary, .async_setup_platform = setup_binary},
	{.domain = "switch", .schema = &switch_schema, .conf_size = sizeof(struct onoff_conf),
	 .check = check_switch, .async_setup_platform = setup_switch},
	{.domain = "light", .schema = &light_schema, .conf_size = sizeof(struct onoff_conf),
	 .check = check_light, .async_setup_platform = setup_light},
	{.domain = "cover", .schema = &cover_schema, .conf_size = sizeof(struct onoff_conf),
	 .check = check_cover, .async_setup_platform = setup_cover},
	{.domain = "notify", .schema = &group_notify_schema,
	 .conf_size = sizeof(struct group_notify_conf), .check = group_notify_check,
	 .async_setup_platform = group_notify_setup},
};
