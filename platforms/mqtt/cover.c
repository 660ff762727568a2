/* SPDX-License-Identifier: MIT */
/* The MQTT domains that open and close: cover (with position and tilt) and
 * valve, with Home Assistant's options, defaults and state rules
 * (components/mqtt/cover.py and valve.py). Positions are percentages in
 * the state machine and the device's own range on its topics. */
#include "mqtt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A device value between closed and open as a percentage, from a payload:
 * -1 when it is not a number. */
static int percent_of(const char *v, size_t len, int closed, int open)
{
	double d;
	if (!mqtt_parse_number(v, len, &d))
		return -1;
	return mqtt_position_percent(d, closed, open);
}

/* ---- cover --------------------------------------------------------------- */

#define T struct cover_conf
static const struct mqb_schema_key cover_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, false),
	MQTT_STATE_TOPIC(T, false),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_DEVICE_CLASS(T),
	{.key = "payload_open", .type = MQB_S_ANY, MQTT_AT(T, payload_open),
	 .doc = "command payload to open (default OPEN; null: none)"},
	{.key = "payload_close", .type = MQB_S_ANY, MQTT_AT(T, payload_close),
	 .doc = "command payload to close (default CLOSE; null: none)"},
	{.key = "payload_stop", .type = MQB_S_ANY, MQTT_AT(T, payload_stop),
	 .doc = "command payload to stop (default STOP; null: none)"},
	MQTT_STR(T, state_open, "open", "state payload meaning open"),
	MQTT_STR(T, state_opening, "opening", "state payload meaning opening"),
	MQTT_STR(T, state_closed, "closed", "state payload meaning closed"),
	MQTT_STR(T, state_closing, "closing", "state payload meaning closing"),
	MQTT_STR(T, state_stopped, "stopped", "state payload meaning stopped"),
	MQTT_SUB(T, position_topic, "topic the position is read from"),
	MQTT_TPL(T, position_template, "template extracting the position"),
	MQTT_PUB(T, set_position_topic, "topic position commands are published to"),
	MQTT_TPL(T, set_position_template, "template making the position payload"),
	{.key = "position_open", .type = MQB_S_INT, .def = "100", MQTT_AT(T, position_open),
	 .doc = "the device's position when open"},
	{.key = "position_closed", .type = MQB_S_INT, .def = "0", MQTT_AT(T, position_closed),
	 .doc = "the device's position when closed"},
	MQTT_PUB(T, tilt_command_topic, "topic tilt commands are published to"),
	MQTT_TPL(T, tilt_command_template, "template making the tilt payload"),
	MQTT_SUB(T, tilt_status_topic, "topic the tilt is read from"),
	MQTT_TPL(T, tilt_status_template, "template extracting the tilt"),
	{.key = "tilt_min", .type = MQB_S_INT, .def = "0", MQTT_AT(T, tilt_min),
	 .doc = "the device's tilt when closed"},
	{.key = "tilt_max", .type = MQB_S_INT, .def = "100", MQTT_AT(T, tilt_max),
	 .doc = "the device's tilt when open"},
	{.key = "tilt_closed_value", .type = MQB_S_INT, .def = "0", MQTT_AT(T, tilt_closed_value),
	 .doc = "the tilt sent to close the tilt"},
	{.key = "tilt_opened_value", .type = MQB_S_INT, .def = "100", MQTT_AT(T, tilt_opened_value),
	 .doc = "the tilt sent to open the tilt"},
	{.key = "tilt_optimistic", .type = MQB_S_BOOL, .def = "false", MQTT_AT(T, tilt_optimistic),
	 .doc = "take a tilt command as the tilt (always without a tilt status topic)"},
	MQTT_STR(T, payload_stop_tilt, "stop", "command payload stopping the tilt"),
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_cover_schema = MQB_SCHEMA("mqtt cover", cover_keys);

struct cover_priv {
	const char *payload_open, *payload_close, *payload_stop; /* NULL: none */
	struct mqb_template *set_pos_tpl, *tilt_tpl;
	int position, tilt;             /* 0..100; -1: unknown */
	bool tilt_optimistic;
};

static void cover_check(const void *conf, const struct mqb_conf_node *item, const char *path,
			struct mqb_conf_errors *errs)
{
	const T *c = conf;
	mqtt_check_nullable(c->payload_open, item, path, "payload_open", errs);
	mqtt_check_nullable(c->payload_close, item, path, "payload_close", errs);
	mqtt_check_nullable(c->payload_stop, item, path, "payload_stop", errs);
	if (c->tilt_min == c->tilt_max)
		mqtt_errat(errs, item, path, "tilt_max", "tilt_min and tilt_max must differ");
}

static bool cover_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	const T *c = x->conf;
	struct cover_priv *cp = x->priv;
	if (strcmp(v, c->state_opening) == 0)
		return mqtt_set_state(x, "opening");
	if (strcmp(v, c->state_closing) == 0)
		return mqtt_set_state(x, "closing");
	if (strcmp(v, c->state_open) == 0)
		return mqtt_set_state(x, "open");
	if (strcmp(v, c->state_closed) == 0)
		return mqtt_set_state(x, "closed");
	if (strcmp(v, c->state_stopped) == 0) {
		/* Home Assistant: stopped is closed or open, by the position if
		 * there is one, else by where it was heading */
		const char *now = mqtt_state(x);
		bool closed = c->position_topic
				      ? cp->position == 0
				      : strcmp(now, "closed") == 0 || strcmp(now, "closing") == 0;
		return mqtt_set_state(x, closed ? "closed" : "open");
	}
	if (mqtt_is_none(v))
		return mqtt_set_state(x, NULL);
	mqtt_ignored(x, topic, "a payload that is no cover state", v);
	return false;
}

/* A position, or Home Assistant's JSON {"position": p, "tilt_position": t}. */
static bool position_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	const T *c = x->conf;
	struct cover_priv *cp = x->priv;
	if (mqtt_is_none(v)) {
		cp->position = -1;
		return true;
	}
	int pct = percent_of(v, len, c->position_closed, c->position_open);
	json_t *j = pct < 0 && v[0] == '{' ? json_loadb(v, len, 0, NULL) : NULL;
	if (j) {
		const json_t *p = json_object_get(j, "position"), *t = json_object_get(j, "tilt_position");
		if (json_is_number(p))
			pct = mqtt_position_percent(json_number_value(p), c->position_closed,
						    c->position_open);
		if (json_is_number(t))
			cp->tilt = mqtt_position_percent(json_number_value(t), c->tilt_min,
							 c->tilt_max);
		json_decref(j);
		if (pct < 0 && json_is_number(t))
			return true;
	}
	if (pct < 0) {
		mqtt_ignored(x, topic, "a position that is not a number", v);
		return false;
	}
	cp->position = pct;
	if (!c->com.state_topic)
		mqtt_set_state(x, pct == 0 ? "closed" : "open");
	return true;
}

static bool tilt_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	const T *c = x->conf;
	struct cover_priv *cp = x->priv;
	if (mqtt_is_none(v)) {
		cp->tilt = -1;
		return true;
	}
	int pct = percent_of(v, len, c->tilt_min, c->tilt_max);
	if (pct < 0) {
		mqtt_ignored(x, topic, "a tilt that is not a number", v);
		return false;
	}
	cp->tilt = pct;
	return true;
}

static const struct mqtt_read cover_reads[] = {
	{.topic_key = "state_topic", .tpl_key = "value_template",
	 .topic_off = offsetof(T, com.state_topic), .tpl_off = offsetof(T, com.value_template),
	 .value = cover_value},
	{.topic_key = "position_topic", .tpl_key = "position_template",
	 .topic_off = offsetof(T, position_topic), .tpl_off = offsetof(T, position_template),
	 .value = position_value},
	{.topic_key = "tilt_status_topic", .tpl_key = "tilt_status_template",
	 .topic_off = offsetof(T, tilt_status_topic), .tpl_off = offsetof(T, tilt_status_template),
	 .value = tilt_value},
};

static int cover_init(struct ent *x)
{
	const T *c = x->conf;
	struct cover_priv *cp = x->priv;
	cp->position = cp->tilt = -1;
	cp->payload_open = mqtt_nullable(c->payload_open, "OPEN");
	cp->payload_close = mqtt_nullable(c->payload_close, "CLOSE");
	cp->payload_stop = mqtt_nullable(c->payload_stop, "STOP");
	/* Home Assistant: without a state topic a command's result is the
	 * state; a position topic counts as one */
	x->optimistic = c->com.optimistic || (!c->com.state_topic && !c->position_topic);
	cp->tilt_optimistic = c->tilt_optimistic || !c->tilt_status_topic;
	int rc;
	if ((rc = mqtt_compile(x, c->set_position_template, &cp->set_pos_tpl)) ||
	    (rc = mqtt_compile(x, c->tilt_command_template, &cp->tilt_tpl)))
		return rc;
	return 0;
}

static int cover_attributes(struct ent *x, json_t *a)
{
	struct cover_priv *cp = x->priv;
	int rc = 0;
	if (cp->position >= 0)
		rc |= json_object_set_new(a, "current_position", json_integer(cp->position));
	if (cp->tilt >= 0)
		rc |= json_object_set_new(a, "current_tilt_position", json_integer(cp->tilt));
	return rc;
}

static int cover_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	struct cover_priv *cp = x->priv;
	int rc = 0;
	if (c->set_position_topic || c->position_topic) {
		rc |= json_object_set_new(d, "position_open", json_integer(100));
		rc |= json_object_set_new(d, "position_closed", json_integer(0));
	}
	if (!cp->payload_open)
		rc |= json_object_set_new(d, "payload_open", json_null());
	if (!cp->payload_close)
		rc |= json_object_set_new(d, "payload_close", json_null());
	if (!cp->payload_stop)
		rc |= json_object_set_new(d, "payload_stop", json_null());
	if (c->tilt_command_topic || c->tilt_status_topic)
		rc |= mqtt_feature(d, "tilt", true);
	return rc;
}

static int cover_move(struct ent *x, const char *payload, const char *optimistic_state,
		      int optimistic_position)
{
	const T *c = x->conf;
	struct cover_priv *cp = x->priv;
	if (!payload || !c->com.command_topic)
		return -ENOTSUP;
	int rc = mqtt_send(x, c->com.command_topic, "command_topic", NULL, payload, NULL, NULL);
	if (rc == 0 && x->optimistic && optimistic_state) {
		mqtt_set_state(x, optimistic_state);
		if (optimistic_position >= 0 && (c->set_position_topic || c->position_topic))
			cp->position = optimistic_position;
		mqtt_commit(x);
	}
	return rc;
}

/* Variables of the position and tilt templates, as Home Assistant gives
 * them. NULL on ENOMEM. */
static json_t *cover_vars(struct ent *x, int position, int tilt)
{
	const T *c = x->conf;
	return json_pack("{s:o, s:o, s:i, s:i, s:i, s:i}", "position",
			 position >= 0 ? json_integer(position) : json_null(), "tilt_position",
			 tilt >= 0 ? json_integer(tilt) : json_null(), "position_open",
			 c->position_open, "position_closed", c->position_closed, "tilt_min",
			 c->tilt_min, "tilt_max", c->tilt_max);
}

static int cover_tilt(struct ent *x, int pct, int device)
{
	const T *c = x->conf;
	struct cover_priv *cp = x->priv;
	if (!c->tilt_command_topic)
		return -ENOTSUP;
	char buf[32];
	snprintf(buf, sizeof buf, "%d", device);
	json_t *vars = cover_vars(x, cp->position, pct);
	json_t *jv = json_integer(device);
	int rc = vars && jv ? mqtt_send(x, c->tilt_command_topic, "tilt_command_template",
					cp->tilt_tpl, buf, jv, vars)
			    : -ENOMEM;
	json_decref(vars);
	json_decref(jv);
	if (rc == 0 && cp->tilt_optimistic) {
		cp->tilt = pct;
		mqtt_commit(x);
	}
	return rc;
}

static int cover_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct cover_priv *cp = x->priv;
	double p;
	if (strcmp(service, "toggle") == 0) {
		const char *s = mqtt_state(x);
		bool closing = strcmp(s, "closed") == 0 || strcmp(s, "closing") == 0;
		/* Home Assistant: a moving cover is stopped, else moved the other way */
		if ((strcmp(s, "opening") == 0 || strcmp(s, "closing") == 0) && cp->payload_stop)
			return cover_move(x, cp->payload_stop, NULL, -1);
		service = closing ? "open_cover" : "close_cover";
	}
	if (strcmp(service, "toggle_cover_tilt") == 0)
		service = cp->tilt == 0 ? "open_cover_tilt" : "close_cover_tilt";
	if (strcmp(service, "open_cover") == 0)
		return cover_move(x, cp->payload_open, "open", 100);
	if (strcmp(service, "close_cover") == 0)
		return cover_move(x, cp->payload_close, "closed", 0);
	if (strcmp(service, "stop_cover") == 0)
		return cover_move(x, cp->payload_stop, NULL, -1);
	if (strcmp(service, "open_cover_tilt") == 0)
		return cover_tilt(x, mqtt_position_percent(c->tilt_opened_value, c->tilt_min,
							   c->tilt_max),
				  c->tilt_opened_value);
	if (strcmp(service, "close_cover_tilt") == 0)
		return cover_tilt(x, mqtt_position_percent(c->tilt_closed_value, c->tilt_min,
							   c->tilt_max),
				  c->tilt_closed_value);
	if (strcmp(service, "stop_cover_tilt") == 0)
		return c->tilt_command_topic ? mqtt_send(x, c->tilt_command_topic, "tilt_command_topic",
							 NULL, c->payload_stop_tilt, NULL, NULL)
					     : -ENOTSUP;
	if (strcmp(service, "set_cover_tilt_position") == 0) {
		if (!mqtt_data_number(data, "tilt_position", &p) || p < 0 || p > 100) {
			MQB_LOG_WARNING(SUB, "%s: set_cover_tilt_position needs a tilt_position "
					     "from 0 to 100", mqtt_eid(x));
			return -EINVAL;
		}
		int pct = (int)mqb_round(p, 0);
		return cover_tilt(x, pct, mqtt_position_device(pct, c->tilt_min, c->tilt_max));
	}
	if (strcmp(service, "set_cover_position") != 0 || !c->set_position_topic)
		return -ENOTSUP;
	if (!mqtt_data_number(data, "position", &p) || p < 0 || p > 100) {
		MQB_LOG_WARNING(SUB, "%s: set_cover_position needs a position from 0 to 100",
				mqtt_eid(x));
		return -EINVAL;
	}
	int pct = (int)mqb_round(p, 0);
	int device = mqtt_position_device(pct, c->position_closed, c->position_open);
	char buf[32];
	snprintf(buf, sizeof buf, "%d", device);
	json_t *vars = cover_vars(x, pct, cp->tilt);
	json_t *jv = json_integer(device);
	int rc = vars && jv ? mqtt_send(x, c->set_position_topic, "set_position_template",
					cp->set_pos_tpl, buf, jv, vars)
			    : -ENOMEM;
	json_decref(vars);
	json_decref(jv);
	if (rc == 0 && x->optimistic) {
		cp->position = pct;
		mqtt_set_state(x, pct == 0 ? "closed" : "open");
		mqtt_commit(x);
	}
	return rc;
}

/* Covers without a command topic take no commands: no /set topic. */
static bool cover_commands(const struct ent *x)
{
	const T *c = x->conf;
	return c->com.command_topic || c->set_position_topic || c->tilt_command_topic;
}

const struct mqtt_class mqtt_cover = {
	.domain = "cover",
	.default_name = "MQTT Cover",
	.check = cover_check,
	.reads = cover_reads,
	.nreads = MQB_ARRAY_SIZE(cover_reads),
	.priv_size = sizeof(struct cover_priv),
	.init = cover_init,
	.discovery = cover_discovery,
	.attributes = cover_attributes,
	.command = cover_command,
	.commands = cover_commands,
};
#undef T

/* ---- valve --------------------------------------------------------------- */

#define T struct valve_conf
static const struct mqb_schema_key valve_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, false),
	MQTT_COMMAND_TEMPLATE(T),
	MQTT_STATE_TOPIC(T, false),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_DEVICE_CLASS(T),
	{.key = "payload_open", .type = MQB_S_ANY, MQTT_AT(T, payload_open),
	 .doc = "command payload to open (default OPEN; null: none)"},
	{.key = "payload_close", .type = MQB_S_ANY, MQTT_AT(T, payload_close),
	 .doc = "command payload to close (default CLOSE; null: none)"},
	{.key = "payload_stop", .type = MQB_S_ANY, MQTT_AT(T, payload_stop),
	 .doc = "command payload to stop (default: none)"},
	MQTT_STR(T, state_open, "open", "state payload meaning open"),
	MQTT_STR(T, state_opening, "opening", "state payload meaning opening"),
	MQTT_STR(T, state_closed, "closed", "state payload meaning closed"),
	MQTT_STR(T, state_closing, "closing", "state payload meaning closing"),
	{.key = "reports_position", .type = MQB_S_BOOL, .def = "false",
	 MQTT_AT(T, reports_position), .doc = "the state topic carries a position"},
	{.key = "position_open", .type = MQB_S_INT, .def = "100", MQTT_AT(T, position_open),
	 .doc = "the device's position when open"},
	{.key = "position_closed", .type = MQB_S_INT, .def = "0", MQTT_AT(T, position_closed),
	 .doc = "the device's position when closed"},
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_valve_schema = MQB_SCHEMA("mqtt valve", valve_keys);

struct valve_priv {
	const char *payload_open, *payload_close, *payload_stop;
	struct mqb_template *tpl;
	int position;
};

static void valve_check(const void *conf, const struct mqb_conf_node *item, const char *path,
			struct mqb_conf_errors *errs)
{
	const T *c = conf;
	mqtt_check_nullable(c->payload_open, item, path, "payload_open", errs);
	mqtt_check_nullable(c->payload_close, item, path, "payload_close", errs);
	mqtt_check_nullable(c->payload_stop, item, path, "payload_stop", errs);
	if (c->reports_position && (mqb_conf_get(item, "payload_open") ||
				    mqb_conf_get(item, "payload_close")))
		mqtt_errat(errs, item, path, mqb_conf_get(item, "payload_open") ? "payload_open"
										: "payload_close",
			   "a valve that reports its position is sent positions, not payloads");
}

static bool valve_state_text(struct ent *x, const char *v)
{
	const T *c = x->conf;
	if (strcmp(v, c->state_opening) == 0)
		return mqtt_set_state(x, "opening");
	if (strcmp(v, c->state_closing) == 0)
		return mqtt_set_state(x, "closing");
	if (strcmp(v, c->state_open) == 0)
		return mqtt_set_state(x, "open");
	if (strcmp(v, c->state_closed) == 0)
		return mqtt_set_state(x, "closed");
	return false;
}

/* Home Assistant's MQTT valve: a state, a position when it reports one,
 * or JSON {"state": s, "position": p}. */
static bool valve_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	const T *c = x->conf;
	struct valve_priv *vp = x->priv;
	if (mqtt_is_none(v))
		return mqtt_set_state(x, NULL);
	json_t *j = v[0] == '{' ? json_loadb(v, len, 0, NULL) : NULL;
	const char *st = j ? json_string_value(json_object_get(j, "state")) : v;
	const json_t *pos = j ? json_object_get(j, "position") : NULL;
	int pct = -1;
	if (c->reports_position) {
		if (json_is_number(pos))
			pct = mqtt_position_percent(json_number_value(pos), c->position_closed,
						    c->position_open);
		else if (!j)
			pct = percent_of(v, len, c->position_closed, c->position_open);
	}
	bool took = st && valve_state_text(x, st);
	if (pct >= 0) {
		vp->position = pct;
		if (!took)
			mqtt_set_state(x, pct == 0 ? "closed" : "open");
		took = true;
	}
	json_decref(j);
	if (!took)
		mqtt_ignored(x, topic, "a payload that is no valve state", v);
	return took;
}

static const struct mqtt_read valve_reads[] = {
	{.topic_key = "state_topic", .tpl_key = "value_template",
	 .topic_off = offsetof(T, com.state_topic), .tpl_off = offsetof(T, com.value_template),
	 .value = valve_value},
};

static int valve_init(struct ent *x)
{
	const T *c = x->conf;
	struct valve_priv *vp = x->priv;
	vp->position = -1;
	vp->payload_open = mqtt_nullable(c->payload_open, "OPEN");
	vp->payload_close = mqtt_nullable(c->payload_close, "CLOSE");
	vp->payload_stop = mqtt_nullable(c->payload_stop, NULL);
	x->optimistic = c->com.optimistic || !c->com.state_topic;
	return mqtt_compile(x, c->com.command_template, &vp->tpl);
}

static int valve_attributes(struct ent *x, json_t *a)
{
	struct valve_priv *vp = x->priv;
	const T *c = x->conf;
	if (!c->reports_position || vp->position < 0)
		return 0;
	return json_object_set_new(a, "current_position", json_integer(vp->position));
}

static int valve_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	struct valve_priv *vp = x->priv;
	int rc = mqtt_feature(d, "position", c->reports_position);
	rc |= mqtt_feature(d, "stop", vp->payload_stop != NULL);
	return rc;
}

static int valve_send(struct ent *x, const char *text, json_t *value, const char *state,
		      int position)
{
	const T *c = x->conf;
	struct valve_priv *vp = x->priv;
	if (!c->com.command_topic)
		return -ENOTSUP;
	int rc = mqtt_send(x, c->com.command_topic, "command_template", vp->tpl, text, value, NULL);
	if (rc == 0 && x->optimistic && state) {
		mqtt_set_state(x, state);
		if (position >= 0)
			vp->position = position;
		mqtt_commit(x);
	}
	return rc;
}

static int valve_position(struct ent *x, int pct)
{
	const T *c = x->conf;
	int device = mqtt_position_device(pct, c->position_closed, c->position_open);
	char buf[32];
	snprintf(buf, sizeof buf, "%d", device);
	json_t *jv = json_integer(device);
	int rc = jv ? valve_send(x, buf, jv, pct == 0 ? "closed" : "open", pct) : -ENOMEM;
	json_decref(jv);
	return rc;
}

static int valve_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct valve_priv *vp = x->priv;
	if (strcmp(service, "toggle") == 0) {
		const char *s = mqtt_state(x);
		service = strcmp(s, "closed") == 0 || strcmp(s, "closing") == 0 ? "open_valve"
										 : "close_valve";
	}
	if (strcmp(service, "open_valve") == 0)
		return c->reports_position ? valve_position(x, 100)
					   : vp->payload_open
						     ? valve_send(x, vp->payload_open, NULL, "open", -1)
						     : -ENOTSUP;
	if (strcmp(service, "close_valve") == 0)
		return c->reports_position ? valve_position(x, 0)
					   : vp->payload_close
						     ? valve_send(x, vp->payload_close, NULL, "closed", -1)
						     : -ENOTSUP;
	if (strcmp(service, "stop_valve") == 0)
		return vp->payload_stop ? valve_send(x, vp->payload_stop, NULL, NULL, -1) : -ENOTSUP;
	if (strcmp(service, "set_valve_position") != 0 || !c->reports_position)
		return -ENOTSUP;
	double p;
	if (!mqtt_data_number(data, "position", &p) || p < 0 || p > 100) {
		MQB_LOG_WARNING(SUB, "%s: set_valve_position needs a position from 0 to 100",
				mqtt_eid(x));
		return -EINVAL;
	}
	return valve_position(x, (int)mqb_round(p, 0));
}

static bool valve_commands(const struct ent *x)
{
	const T *c = x->conf;
	return c->com.command_topic != NULL;
}

const struct mqtt_class mqtt_valve = {
	.domain = "valve",
	.default_name = "MQTT Valve",
	.check = valve_check,
	.reads = valve_reads,
	.nreads = 1,
	.priv_size = sizeof(struct valve_priv),
	.init = valve_init,
	.discovery = valve_discovery,
	.attributes = valve_attributes,
	.command = valve_command,
	.commands = valve_commands,
};
#undef T
