/* SPDX-License-Identifier: MIT */
/* MQTT domains of a state and a few commands: lock, siren,
 * alarm_control_panel, vacuum and lawn_mower; and device triggers
 * (device_automation), which are announced, not entities of their own
 * state. Home Assistant's components/mqtt/<domain>.py give their options,
 * defaults and state rules. */
#include "mqtt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Commands through the entity's command_template. */
struct cmd_priv {
	struct mqb_template *tpl;
};

static int cmd_optimistic_init(struct ent *x)
{
	struct cmd_priv *p = x->priv;
	x->optimistic = x->com->optimistic || !x->com->state_topic;
	return mqtt_compile(x, x->com->command_template, &p->tpl);
}

/* payload to the command topic; the state when optimistic. */
static int command(struct ent *x, const char *payload, const json_t *extra, const char *state)
{
	struct cmd_priv *p = x->priv;
	return mqtt_command(x, x->com->command_topic, "command_template", p->tpl, payload, NULL,
			    extra, state);
}

/* ---- lock ------------------------------------------------------------------ */

#define T struct lock_conf
static const struct mqb_schema_key lock_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, true),
	MQTT_COMMAND_TEMPLATE(T),
	MQTT_STATE_TOPIC(T, false),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_STR(T, payload_lock, "LOCK", "command payload locking it"),
	MQTT_STR(T, payload_unlock, "UNLOCK", "command payload unlocking it"),
	{.key = "payload_open", .type = MQB_S_ANY, MQTT_AT(T, payload_open),
	 .doc = "command payload opening it (none: it does not open)"},
	MQTT_STR(T, payload_reset, PAYLOAD_NONE, "state payload making the state unknown"),
	MQTT_STR(T, state_locked, "LOCKED", "state payload meaning locked"),
	MQTT_STR(T, state_unlocked, "UNLOCKED", "state payload meaning unlocked"),
	MQTT_STR(T, state_locking, "LOCKING", "state payload meaning locking"),
	MQTT_STR(T, state_unlocking, "UNLOCKING", "state payload meaning unlocking"),
	MQTT_STR(T, state_jammed, "JAMMED", "state payload meaning jammed"),
	MQTT_STR(T, state_open, "OPEN", "state payload meaning open"),
	MQTT_STR(T, state_opening, "OPENING", "state payload meaning opening"),
	MQTT_STR(T, code_format, NULL, "a regular expression a code must match"),
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_lock_schema = MQB_SCHEMA("mqtt lock", lock_keys);

static void lock_check(const void *conf, const struct mqb_conf_node *item, const char *path,
		       struct mqb_conf_errors *errs)
{
	const T *c = conf;
	mqtt_check_nullable(c->payload_open, item, path, "payload_open", errs);
}

static bool lock_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	const T *c = x->conf;
	const struct {
		const char *payload, *state;
	} states[] = {{c->state_locked, "locked"},   {c->state_unlocked, "unlocked"},
		      {c->state_locking, "locking"}, {c->state_unlocking, "unlocking"},
		      {c->state_jammed, "jammed"},   {c->state_open, "open"},
		      {c->state_opening, "opening"}};
	if (strcmp(v, c->payload_reset) == 0)
		return mqtt_set_state(x, NULL);
	for (size_t i = 0; i < MQB_ARRAY_SIZE(states); i++)
		if (strcmp(v, states[i].payload) == 0)
			return mqtt_set_state(x, states[i].state);
	mqtt_ignored(x, topic, "a payload that is no lock state", v);
	return false;
}

static const struct mqtt_read lock_reads[] = {
	{.topic_key = "state_topic", .tpl_key = "value_template",
	 .topic_off = offsetof(T, com.state_topic), .tpl_off = offsetof(T, com.value_template),
	 .value = lock_value},
};

static int lock_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	int rc = mqtt_feature(d, "open", mqtt_nullable(c->payload_open, NULL) != NULL);
	if (c->code_format)
		rc |= json_object_set_new(d, "code_format", json_string(c->code_format));
	return rc;
}

static int lock_attributes(struct ent *x, json_t *a)
{
	const T *c = x->conf;
	return c->code_format ? json_object_set_new(a, "code_format", json_string(c->code_format))
			      : 0;
}

static int lock_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	const char *code = mqtt_data_string(data, "code");
	json_t *extra = json_pack("{s:s?}", "code", code);
	int rc;
	if (!extra)
		return -ENOMEM;
	if (strcmp(service, "lock") == 0)
		rc = command(x, c->payload_lock, extra, "locked");
	else if (strcmp(service, "unlock") == 0)
		rc = command(x, c->payload_unlock, extra, "unlocked");
	else if (strcmp(service, "open") == 0 && mqtt_nullable(c->payload_open, NULL))
		/* Home Assistant: an optimistic lock that opens is unlocked */
		rc = command(x, mqtt_nullable(c->payload_open, NULL), extra, "open");
	else
		rc = -ENOTSUP;
	json_decref(extra);
	return rc;
}

const struct mqtt_class mqtt_lock = {
	.domain = "lock",
	.default_name = "MQTT Lock",
	.check = lock_check,
	.reads = lock_reads,
	.nreads = 1,
	.priv_size = sizeof(struct cmd_priv),
	.init = cmd_optimistic_init,
	.discovery = lock_discovery,
	.attributes = lock_attributes,
	.command = lock_command,
};
#undef T

/* ---- siren ------------------------------------------------------------------- */

#define T struct siren_conf
static const struct mqb_schema_key siren_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, false),
	MQTT_COMMAND_TEMPLATE(T),
	MQTT_TPL(T, command_off_template, "template making the turn_off payload"),
	MQTT_STATE_TOPIC(T, false),
	MQTT_TPL(T, state_value_template, "template extracting the state"),
	MQTT_STR(T, payload_on, "ON", "payload meaning on"),
	MQTT_STR(T, payload_off, "OFF", "payload meaning off"),
	MQTT_STR(T, state_on, NULL, "state payload meaning on (default: payload_on)"),
	MQTT_STR(T, state_off, NULL, "state payload meaning off (default: payload_off)"),
	MQTT_LIST(T, available_tones, "the tones it plays"),
	{.key = "support_duration", .type = MQB_S_BOOL, .def = "true",
	 MQTT_AT(T, support_duration), .doc = "turn_on takes a duration"},
	{.key = "support_volume_set", .type = MQB_S_BOOL, .def = "true",
	 MQTT_AT(T, support_volume_set), .doc = "turn_on takes a volume_level"},
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_siren_schema = MQB_SCHEMA("mqtt siren", siren_keys);

struct siren_priv {
	struct mqb_template *on_tpl, *off_tpl;
	const char **tones;
	size_t ntones;
};

/* on/off, or JSON {"state": "ON", "tone": ..., "volume_level": ...,
 * "duration": ...} whose settings become the attributes (siren.py). */
static bool siren_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	const T *c = x->conf;
	const char *on = c->state_on ? c->state_on : c->payload_on;
	const char *off = c->state_off ? c->state_off : c->payload_off;
	json_t *j = v[0] == '{' ? json_loadb(v, len, 0, NULL) : NULL;
	const char *st = j ? json_string_value(json_object_get(j, "state")) : v;
	bool took = false;
	if (j) {
		static const char *const keys[] = {"tone", "volume_level", "duration"};
		for (size_t i = 0; i < MQB_ARRAY_SIZE(keys); i++) {
			json_t *val = json_object_get(j, keys[i]);
			if (val) {
				mqtt_attr(x, keys[i], json_incref(val));
				took = true;
			}
		}
	}
	if (st && strcmp(st, on) == 0)
		took = mqtt_set_state(x, "on");
	else if (st && strcmp(st, off) == 0)
		took = mqtt_set_state(x, "off");
	else if (st && mqtt_is_none(st))
		took = mqtt_set_state(x, NULL);
	else if (!took)
		mqtt_ignored(x, topic, "a payload matching neither on nor off", v);
	json_decref(j);
	return took;
}

static const struct mqtt_read siren_reads[] = {
	{.topic_key = "state_topic", .tpl_key = "state_value_template",
	 .topic_off = offsetof(T, com.state_topic), .tpl_off = offsetof(T, state_value_template),
	 .value = siren_value},
};

static int siren_init(struct ent *x)
{
	const T *c = x->conf;
	struct siren_priv *s = x->priv;
	x->optimistic = c->com.optimistic || !c->com.state_topic;
	if (!(s->tones = mqtt_strings(c->available_tones, &s->ntones)))
		return -ENOMEM;
	int rc;
	if ((rc = mqtt_compile(x, c->com.command_template, &s->on_tpl)) ||
	    (rc = mqtt_compile(x, c->command_off_template, &s->off_tpl)))
		return rc;
	return 0;
}

static void siren_fini(struct ent *x)
{
	struct siren_priv *s = x->priv;
	free(s->tones);
	s->tones = NULL;
}

static int siren_attributes(struct ent *x, json_t *a)
{
	struct siren_priv *s = x->priv;
	return s->ntones ? json_object_set_new(a, "available_tones",
					       mqtt_json_strings(s->tones, s->ntones))
			 : 0;
}

static int siren_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	struct siren_priv *s = x->priv;
	int rc = json_object_set_new(d, "support_duration", json_boolean(c->support_duration));
	rc |= json_object_set_new(d, "support_volume_set", json_boolean(c->support_volume_set));
	if (s->ntones)
		rc |= json_object_set_new(d, "available_tones", mqtt_json_strings(s->tones, s->ntones));
	return rc;
}

/* Home Assistant: without a command template, turn_on sends JSON of the
 * state and the settings; with one, they are its variables. */
static int siren_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct siren_priv *s = x->priv;
	if (!c->com.command_topic)
		return -ENOTSUP;
	if (strcmp(service, "toggle") == 0)
		service = strcmp(mqtt_state(x), "on") == 0 ? "turn_off" : "turn_on";
	bool on;
	if (strcmp(service, "turn_on") == 0)
		on = true;
	else if (strcmp(service, "turn_off") == 0)
		on = false;
	else
		return -ENOTSUP;
	const char *payload = on ? c->payload_on : c->payload_off;
	json_t *vars = json_object();
	if (!vars)
		return -ENOMEM;
	const char *tone = on ? mqtt_data_string(data, "tone") : NULL;
	if (tone && !mqtt_in(s->tones, s->ntones, tone)) {
		MQB_LOG_WARNING(SUB, "%s: '%.32s' is not one of its tones", mqtt_eid(x), tone);
		json_decref(vars);
		return -EINVAL;
	}
	if (tone)
		json_object_set_new(vars, "tone", json_string(tone));
	const json_t *vol = on && c->support_volume_set ? json_object_get(data, "volume_level")
						       : NULL;
	const json_t *dur = on && c->support_duration ? json_object_get(data, "duration") : NULL;
	if (json_is_number(vol))
		json_object_set(vars, "volume_level", (json_t *)vol);
	if (json_is_number(dur))
		json_object_set(vars, "duration", (json_t *)dur);
	const struct mqb_template *tpl = on ? s->on_tpl : s->off_tpl;
	int rc;
	if (tpl) {
		rc = mqtt_send(x, c->com.command_topic, on ? "command_template" : "command_off_template",
			       tpl, payload, NULL, vars);
	} else {
		json_t *m = json_pack("{s:s}", "state", payload);
		char *j = m && !json_object_update(m, vars) ? mqtt_json_text(m) : NULL;
		json_decref(m);
		rc = j ? mqtt_send(x, c->com.command_topic, "command_topic", NULL, j, NULL, NULL)
		       : -ENOMEM;
		free(j);
	}
	if (rc == 0 && x->optimistic) {
		mqtt_set_state(x, on ? "on" : "off");
		if (tone)
			mqtt_attr(x, "tone", json_string(tone));
		mqtt_commit(x);
	}
	json_decref(vars);
	return rc;
}

static bool siren_commands(const struct ent *x)
{
	return x->com->command_topic != NULL;
}

const struct mqtt_class mqtt_siren = {
	.domain = "siren",
	.default_name = "MQTT Siren",
	.reads = siren_reads,
	.nreads = 1,
	.priv_size = sizeof(struct siren_priv),
	.init = siren_init,
	.fini = siren_fini,
	.discovery = siren_discovery,
	.attributes = siren_attributes,
	.command = siren_command,
	.commands = siren_commands,
};
#undef T

/* ---- alarm_control_panel -------------------------------------------------------- */

#define T struct alarm_conf
static const struct mqb_schema_key alarm_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_COMMAND_TOPIC(T, true),
	MQTT_COMMAND_TEMPLATE(T),
	MQTT_STATE_TOPIC(T, true),
	MQTT_VALUE_TEMPLATE(T),
	MQTT_STR(T, code, NULL, "the code, or REMOTE_CODE / REMOTE_CODE_TEXT to let the device "
				"check it"),
	{.key = "code_arm_required", .type = MQB_S_BOOL, .def = "true",
	 MQTT_AT(T, code_arm_required), .doc = "arming needs the code"},
	{.key = "code_disarm_required", .type = MQB_S_BOOL, .def = "true",
	 MQTT_AT(T, code_disarm_required), .doc = "disarming needs the code"},
	{.key = "code_trigger_required", .type = MQB_S_BOOL, .def = "true",
	 MQTT_AT(T, code_trigger_required), .doc = "triggering needs the code"},
	MQTT_STR(T, payload_arm_away, "ARM_AWAY", "command payload arming away"),
	MQTT_STR(T, payload_arm_home, "ARM_HOME", "command payload arming home"),
	MQTT_STR(T, payload_arm_night, "ARM_NIGHT", "command payload arming night"),
	MQTT_STR(T, payload_arm_vacation, "ARM_VACATION", "command payload arming vacation"),
	MQTT_STR(T, payload_arm_custom_bypass, "ARM_CUSTOM_BYPASS",
		 "command payload arming with a custom bypass"),
	MQTT_STR(T, payload_disarm, "DISARM", "command payload disarming"),
	MQTT_STR(T, payload_trigger, "TRIGGER", "command payload triggering the alarm"),
	MQTT_LIST(T, supported_features, "what it does: arm_home, arm_away, arm_night, "
					 "arm_vacation, arm_custom_bypass, trigger"),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_alarm_schema = MQB_SCHEMA("mqtt alarm_control_panel", alarm_keys);

static const char *const alarm_states[] = {"disarmed",     "armed_home",    "armed_away",
					   "armed_night",  "armed_vacation", "armed_custom_bypass",
					   "pending",      "triggered",     "arming",
					   "disarming"};
static const char *const alarm_features[] = {"arm_home",          "arm_away", "arm_night",
					     "arm_vacation",      "arm_custom_bypass",
					     "trigger"};

struct alarm_priv {
	struct mqb_template *tpl;
	const char **features;
	size_t nfeatures;
	bool all;
};

static void alarm_check(const void *conf, const struct mqb_conf_node *item, const char *path,
			struct mqb_conf_errors *errs)
{
	const T *c = conf;
	size_t n;
	const char **v = mqtt_strings(c->supported_features, &n);
	for (size_t i = 0; v && i < n; i++)
		if (!mqtt_in(alarm_features, MQB_ARRAY_SIZE(alarm_features), v[i]))
			mqtt_errat(errs, item, path, "supported_features",
				   "'%s' is not one of arm_home, arm_away, arm_night, arm_vacation, "
				   "arm_custom_bypass, trigger",
				   v[i]);
	free(v);
}

static bool alarm_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	if (mqtt_is_none(v))
		return mqtt_set_state(x, NULL);
	if (!mqtt_in(alarm_states, MQB_ARRAY_SIZE(alarm_states), v)) {
		mqtt_ignored(x, topic, "a payload that is no alarm state", v);
		return false;
	}
	return mqtt_set_state(x, v);
}

static const struct mqtt_read alarm_reads[] = {
	{.topic_key = "state_topic", .tpl_key = "value_template",
	 .topic_off = offsetof(T, com.state_topic), .tpl_off = offsetof(T, com.value_template),
	 .value = alarm_value},
};

static int alarm_init(struct ent *x)
{
	const T *c = x->conf;
	struct alarm_priv *a = x->priv;
	a->all = !c->supported_features;
	if (!(a->features = mqtt_strings(c->supported_features, &a->nfeatures)))
		return -ENOMEM;
	return mqtt_compile(x, c->com.command_template, &a->tpl);
}

static void alarm_fini(struct ent *x)
{
	struct alarm_priv *a = x->priv;
	free(a->features);
	a->features = NULL;
}

static bool alarm_has(const struct alarm_priv *a, const char *f)
{
	return a->all || mqtt_in(a->features, a->nfeatures, f);
}

/* Home Assistant's code_format: none without a code, number for digits,
 * else text; a remote code is the device's to check. */
static const char *code_format(const T *c)
{
	if (!c->code)
		return NULL;
	if (strcmp(c->code, "REMOTE_CODE") == 0)
		return "number";
	if (strcmp(c->code, "REMOTE_CODE_TEXT") == 0)
		return "text";
	return c->code[strspn(c->code, "0123456789")] == '\0' ? "number" : "text";
}

static int alarm_attributes(struct ent *x, json_t *a)
{
	const T *c = x->conf;
	const char *f = code_format(c);
	int rc = json_object_set_new(a, "code_format", f ? json_string(f) : json_null());
	rc |= json_object_set_new(a, "changed_by", json_null());
	rc |= json_object_set_new(a, "code_arm_required", json_boolean(c->code && c->code_arm_required));
	return rc;
}

/* The bridge's panel takes the code and hands it on: the check is here. */
static int alarm_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	struct alarm_priv *a = x->priv;
	json_t *feats = json_array();
	for (size_t i = 0; feats && i < MQB_ARRAY_SIZE(alarm_features); i++)
		if (alarm_has(a, alarm_features[i]))
			json_array_append_new(feats, json_string(alarm_features[i]));
	int rc = json_object_set_new(d, "supported_features", feats);
	const char *f = code_format(c);
	if (f)
		rc |= json_object_set_new(d, "code", json_string(strcmp(f, "number") == 0
								       ? "REMOTE_CODE"
								       : "REMOTE_CODE_TEXT"));
	rc |= json_object_set_new(d, "code_arm_required", json_boolean(c->code_arm_required));
	rc |= json_object_set_new(d, "code_disarm_required", json_boolean(c->code_disarm_required));
	rc |= json_object_set_new(d, "code_trigger_required",
				  json_boolean(c->code_trigger_required));
	return rc;
}

static int alarm_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct alarm_priv *a = x->priv;
	static const struct {
		const char *service, *feature;
		size_t payload;
		int need; /* 0 arm, 1 disarm, 2 trigger */
	} cmds[] = {
		{"alarm_arm_home", "arm_home", offsetof(T, payload_arm_home), 0},
		{"alarm_arm_away", "arm_away", offsetof(T, payload_arm_away), 0},
		{"alarm_arm_night", "arm_night", offsetof(T, payload_arm_night), 0},
		{"alarm_arm_vacation", "arm_vacation", offsetof(T, payload_arm_vacation), 0},
		{"alarm_arm_custom_bypass", "arm_custom_bypass",
		 offsetof(T, payload_arm_custom_bypass), 0},
		{"alarm_disarm", NULL, offsetof(T, payload_disarm), 1},
		{"alarm_trigger", "trigger", offsetof(T, payload_trigger), 2},
	};
	size_t i = 0;
	while (i < MQB_ARRAY_SIZE(cmds) && strcmp(cmds[i].service, service) != 0)
		i++;
	if (i == MQB_ARRAY_SIZE(cmds) || (cmds[i].feature && !alarm_has(a, cmds[i].feature)))
		return -ENOTSUP;
	const char *code = mqtt_data_string(data, "code");
	bool need = cmds[i].need == 0   ? c->code_arm_required
		    : cmds[i].need == 1 ? c->code_disarm_required
					: c->code_trigger_required;
	bool remote = c->code && strncmp(c->code, "REMOTE_CODE", 11) == 0;
	/* Home Assistant checks a configured code itself */
	if (c->code && need && !remote && (!code || strcmp(code, c->code) != 0)) {
		MQB_LOG_WARNING(SUB, "%s: %s: wrong code", mqtt_eid(x), service);
		return -EACCES;
	}
	const char *payload;
	memcpy(&payload, (const char *)c + cmds[i].payload, sizeof payload);
	json_t *vars = json_pack("{s:s,s:s?}", "action", payload, "code", code);
	int rc = vars ? mqtt_send(x, c->com.command_topic, "command_template", a->tpl, payload,
				  NULL, vars)
		      : -ENOMEM;
	json_decref(vars);
	return rc;
}

const struct mqtt_class mqtt_alarm = {
	.domain = "alarm_control_panel",
	.default_name = "MQTT Alarm",
	.check = alarm_check,
	.reads = alarm_reads,
	.nreads = 1,
	.priv_size = sizeof(struct alarm_priv),
	.init = alarm_init,
	.fini = alarm_fini,
	.discovery = alarm_discovery,
	.attributes = alarm_attributes,
	.command = alarm_command,
};
#undef T

/* ---- vacuum --------------------------------------------------------------------- */

#define T struct vacuum_conf
static const char *const vacuum_schemas[] = {"state", NULL};
static const struct mqb_schema_key vacuum_keys[] = {
	MQTT_COMMON_KEYS(T),
	{.key = "schema", .type = MQB_S_ENUM, .choices = vacuum_schemas, .def = "state",
	 MQTT_AT(T, schema), .doc = "state (Home Assistant's only one since 2024.2)"},
	MQTT_COMMAND_TOPIC(T, false),
	MQTT_STATE_TOPIC(T, false),
	MQTT_STR(T, payload_start, "start", "command payload starting it"),
	MQTT_STR(T, payload_pause, "pause", "command payload pausing it"),
	MQTT_STR(T, payload_stop, "stop", "command payload stopping it"),
	MQTT_STR(T, payload_return_to_base, "return_to_base", "command payload sending it home"),
	MQTT_STR(T, payload_clean_spot, "clean_spot", "command payload cleaning a spot"),
	MQTT_STR(T, payload_locate, "locate", "command payload locating it"),
	MQTT_PUB(T, set_fan_speed_topic, "topic fan speed commands are published to"),
	MQTT_LIST(T, fan_speed_list, "the fan speeds"),
	MQTT_PUB(T, send_command_topic, "topic send_command publishes to"),
	MQTT_LIST(T, supported_features, "what it does (default start, stop, return_home, "
					 "status, battery, clean_spot)"),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_vacuum_schema = MQB_SCHEMA("mqtt vacuum", vacuum_keys);

static const char *const vacuum_states[] = {"cleaning", "docked", "paused", "idle",
					    "returning", "error"};
static const char *const vacuum_features[] = {"start",       "stop",          "pause",
					      "return_home", "battery",       "status",
					      "locate",      "clean_spot",    "fan_speed",
					      "send_command"};

struct vacuum_priv {
	const char **features, **speeds;
	size_t nfeatures, nspeeds;
	bool all;
};

static void vacuum_check(const void *conf, const struct mqb_conf_node *item, const char *path,
			 struct mqb_conf_errors *errs)
{
	const T *c = conf;
	size_t n;
	const char **v = mqtt_strings(c->supported_features, &n);
	for (size_t i = 0; v && i < n; i++)
		if (!mqtt_in(vacuum_features, MQB_ARRAY_SIZE(vacuum_features), v[i]))
			mqtt_errat(errs, item, path, "supported_features",
				   "'%s' is not a vacuum feature", v[i]);
	free(v);
}

static bool vacuum_has(const struct vacuum_priv *v, const char *f)
{
	static const char *const defaults[] = {"start",  "stop",    "return_home",
					       "status", "battery", "clean_spot"};
	return v->all ? mqtt_in(defaults, MQB_ARRAY_SIZE(defaults), f)
		      : mqtt_in(v->features, v->nfeatures, f);
}

/* Home Assistant's state schema: JSON {"state": ..., "battery_level": ...,
 * "fan_speed": ...} on the state topic. */
static bool vacuum_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	json_t *j = json_loadb(v, len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		mqtt_ignored(x, topic, "a vacuum state that is no JSON object", v);
		return false;
	}
	const char *st = json_string_value(json_object_get(j, "state"));
	if (st && mqtt_in(vacuum_states, MQB_ARRAY_SIZE(vacuum_states), st))
		mqtt_set_state(x, st);
	else if (st)
		mqtt_ignored(x, topic, "a state that is no vacuum state", st);
	const json_t *b = json_object_get(j, "battery_level");
	if (json_is_number(b))
		mqtt_attr(x, "battery_level", json_integer((json_int_t)json_number_value(b)));
	const char *fs = json_string_value(json_object_get(j, "fan_speed"));
	if (fs)
		mqtt_attr(x, "fan_speed", json_string(fs));
	json_decref(j);
	return true;
}

static const struct mqtt_read vacuum_reads[] = {
	{.topic_key = "state_topic", .topic_off = offsetof(T, com.state_topic),
	 .value = vacuum_value},
};

static int vacuum_init(struct ent *x)
{
	const T *c = x->conf;
	struct vacuum_priv *v = x->priv;
	v->all = !c->supported_features;
	if (!(v->features = mqtt_strings(c->supported_features, &v->nfeatures)) ||
	    !(v->speeds = mqtt_strings(c->fan_speed_list, &v->nspeeds)))
		return -ENOMEM;
	return 0;
}

static void vacuum_fini(struct ent *x)
{
	struct vacuum_priv *v = x->priv;
	free(v->features);
	free(v->speeds);
	v->features = v->speeds = NULL;
}

static int vacuum_attributes(struct ent *x, json_t *a)
{
	struct vacuum_priv *v = x->priv;
	int rc = 0;
	if (vacuum_has(v, "fan_speed") && v->nspeeds)
		rc |= json_object_set_new(a, "fan_speed_list", mqtt_json_strings(v->speeds, v->nspeeds));
	return rc;
}

static int vacuum_discovery(struct ent *x, json_t *d)
{
	struct vacuum_priv *v = x->priv;
	json_t *f = json_array();
	for (size_t i = 0; f && i < MQB_ARRAY_SIZE(vacuum_features); i++)
		if (vacuum_has(v, vacuum_features[i]))
			json_array_append_new(f, json_string(vacuum_features[i]));
	int rc = json_object_set_new(d, "supported_features", f);
	if (v->nspeeds)
		rc |= json_object_set_new(d, "fan_speed_list", mqtt_json_strings(v->speeds, v->nspeeds));
	return rc;
}

static int vacuum_command(struct ent *x, const char *service, const json_t *data)
{
	const T *c = x->conf;
	struct vacuum_priv *v = x->priv;
	static const struct {
		const char *service, *feature;
		size_t payload;
	} cmds[] = {
		{"start", "start", offsetof(T, payload_start)},
		{"pause", "pause", offsetof(T, payload_pause)},
		{"stop", "stop", offsetof(T, payload_stop)},
		{"return_to_base", "return_home", offsetof(T, payload_return_to_base)},
		{"clean_spot", "clean_spot", offsetof(T, payload_clean_spot)},
		{"locate", "locate", offsetof(T, payload_locate)},
	};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(cmds); i++) {
		if (strcmp(cmds[i].service, service) != 0)
			continue;
		if (!vacuum_has(v, cmds[i].feature) || !c->com.command_topic)
			return -ENOTSUP;
		const char *payload;
		memcpy(&payload, (const char *)c + cmds[i].payload, sizeof payload);
		return mqtt_send(x, c->com.command_topic, "command_topic", NULL, payload, NULL, NULL);
	}
	if (strcmp(service, "set_fan_speed") == 0) {
		const char *fs = mqtt_data_string(data, "fan_speed");
		if (!vacuum_has(v, "fan_speed") || !c->set_fan_speed_topic)
			return -ENOTSUP;
		if (!mqtt_in(v->speeds, v->nspeeds, fs)) {
			MQB_LOG_WARNING(SUB, "%s: '%.32s' is not one of its fan speeds", mqtt_eid(x),
					fs ? fs : "(none)");
			return -EINVAL;
		}
		return mqtt_send(x, c->set_fan_speed_topic, "set_fan_speed_topic", NULL, fs, NULL, NULL);
	}
	if (strcmp(service, "send_command") == 0) {
		const char *cmd = mqtt_data_string(data, "command");
		const json_t *params = json_object_get(data, "params");
		if (!vacuum_has(v, "send_command") || !c->send_command_topic)
			return -ENOTSUP;
		if (!cmd)
			return -EINVAL;
		if (!json_is_object(params))
			return mqtt_send(x, c->send_command_topic, "send_command_topic", NULL, cmd,
					 NULL, NULL);
		/* with params: JSON of the command and them (vacuum.py) */
		json_t *m = json_deep_copy(params);
		json_object_set_new(m, "command", json_string(cmd));
		char *s = mqtt_json_text(m);
		json_decref(m);
		int rc = s ? mqtt_send(x, c->send_command_topic, "send_command_topic", NULL, s, NULL,
				       NULL)
			   : -ENOMEM;
		free(s);
		return rc;
	}
	return -ENOTSUP;
}

const struct mqtt_class mqtt_vacuum = {
	.domain = "vacuum",
	.default_name = "MQTT State Vacuum",
	.check = vacuum_check,
	.reads = vacuum_reads,
	.nreads = 1,
	.priv_size = sizeof(struct vacuum_priv),
	.init = vacuum_init,
	.fini = vacuum_fini,
	.discovery = vacuum_discovery,
	.attributes = vacuum_attributes,
	.command = vacuum_command,
};
#undef T

/* ---- lawn_mower ---------------------------------------------------------------- */

#define T struct lawn_mower_conf
static const struct mqb_schema_key mower_keys[] = {
	MQTT_COMMON_KEYS(T),
	MQTT_SUB(T, activity_state_topic, "topic the activity is read from"),
	MQTT_TPL(T, activity_value_template, "template extracting the activity"),
	MQTT_PUB(T, dock_command_topic, "topic dock commands are published to"),
	MQTT_TPL(T, dock_command_template, "template making the dock payload"),
	MQTT_PUB(T, pause_command_topic, "topic pause commands are published to"),
	MQTT_TPL(T, pause_command_template, "template making the pause payload"),
	MQTT_PUB(T, start_mowing_command_topic, "topic start commands are published to"),
	MQTT_TPL(T, start_mowing_command_template, "template making the start payload"),
	MQTT_OPTIMISTIC(T),
	MQTT_RETAIN(T),
};
const struct mqb_schema mqtt_lawn_mower_schema = MQB_SCHEMA("mqtt lawn_mower", mower_keys);

static const char *const mower_states[] = {"mowing", "docked", "paused", "error", "returning"};

struct mower_priv {
	struct mqb_template *dock, *pause, *start;
};

static bool mower_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	if (mqtt_is_none(v))
		return mqtt_set_state(x, NULL);
	if (!mqtt_in(mower_states, MQB_ARRAY_SIZE(mower_states), v)) {
		mqtt_ignored(x, topic, "a payload that is no lawn mower activity", v);
		return false;
	}
	return mqtt_set_state(x, v);
}

static const struct mqtt_read mower_reads[] = {
	{.topic_key = "activity_state_topic", .tpl_key = "activity_value_template",
	 .topic_off = offsetof(T, activity_state_topic),
	 .tpl_off = offsetof(T, activity_value_template), .value = mower_value,
	 .flags = MQTT_READ_STATE},
};

static int mower_init(struct ent *x)
{
	const T *c = x->conf;
	struct mower_priv *m = x->priv;
	x->optimistic = c->com.optimistic || !c->activity_state_topic;
	int rc;
	if ((rc = mqtt_compile(x, c->dock_command_template, &m->dock)) ||
	    (rc = mqtt_compile(x, c->pause_command_template, &m->pause)) ||
	    (rc = mqtt_compile(x, c->start_mowing_command_template, &m->start)))
		return rc;
	return 0;
}

static int mower_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	int rc = mqtt_feature(d, "dock", c->dock_command_topic != NULL);
	rc |= mqtt_feature(d, "pause", c->pause_command_topic != NULL);
	rc |= mqtt_feature(d, "start_mowing", c->start_mowing_command_topic != NULL);
	return rc;
}

static int mower_command(struct ent *x, const char *service, const json_t *data)
{
	(void)data;
	const T *c = x->conf;
	struct mower_priv *m = x->priv;
	const char *topic, *option, *state;
	const struct mqb_template *tpl;
	if (strcmp(service, "start_mowing") == 0)
		topic = c->start_mowing_command_topic, tpl = m->start,
		option = "start_mowing_command_template", state = "mowing";
	else if (strcmp(service, "pause") == 0)
		topic = c->pause_command_topic, tpl = m->pause, option = "pause_command_template",
		state = "paused";
	else if (strcmp(service, "dock") == 0)
		topic = c->dock_command_topic, tpl = m->dock, option = "dock_command_template",
		state = "docked";
	else
		return -ENOTSUP;
	if (!topic)
		return -ENOTSUP;
	/* Home Assistant sends the service's name as the value */
	return mqtt_command(x, topic, option, tpl, service, NULL, NULL, state);
}

const struct mqtt_class mqtt_lawn_mower = {
	.domain = "lawn_mower",
	.default_name = "MQTT Lawn Mower",
	.reads = mower_reads,
	.nreads = 1,
	.priv_size = sizeof(struct mower_priv),
	.init = mower_init,
	.discovery = mower_discovery,
	.command = mower_command,
};
#undef T

/* ---- device triggers -------------------------------------------------------------- */

/* Home Assistant's MQTT device trigger: a device's button or gesture, shown
 * on its device page for automations. mqbridge announces it under the
 * device and forwards what fires it to the bridge's own trigger topic
 * (ha/bridge.c), so a Home Assistant automation on it works unchanged.
 * It is kept as an entity of domain device_automation whose state is the
 * last payload, which nothing else announces. */
#define T struct device_automation_conf
static const char *const automation_types[] = {"trigger", NULL};
static const struct mqb_schema_key trigger_keys[] = {
	{.key = "automation_type", .type = MQB_S_ENUM, .choices = automation_types,
	 .def = "trigger", MQTT_AT(T, automation_type), .doc = "trigger"},
	{.key = "topic", .type = MQB_S_FILTER, .required = true, MQTT_AT(T, topic),
	 .doc = "the device's topic"},
	MQTT_STR(T, type, NULL, "the trigger's type, button_short_press or your own"),
	MQTT_STR(T, subtype, NULL, "the trigger's subtype, button_1 or your own"),
	MQTT_STR(T, payload, NULL, "the payload that fires it (default: any)"),
	MQTT_VALUE_TEMPLATE(T),
	{.key = "qos", .type = MQB_S_INT, .def = "0", .min = 0, .max = 2, MQTT_CM(T, qos),
	 .doc = "QoS of the subscription"},
	{.key = "device", .type = MQB_S_ANY, MQTT_CM(T, device),
	 .doc = "the device it belongs to (required)"},
	{.key = "name", .type = MQB_S_ANY, MQTT_CM(T, name), .doc = "a name for mqbridge's logs"},
	{.key = "unique_id", .type = MQB_S_STRING, MQTT_CM(T, unique_id),
	 .doc = "its id in discovery (default <node_id>_<object_id>)"},
	{.key = "object_id", .type = MQB_S_STRING, MQTT_CM(T, object_id),
	 .doc = "its object id (default: type and subtype)"},
};
const struct mqb_schema mqtt_device_automation_schema =
	MQB_SCHEMA("mqtt device_automation", trigger_keys);

static void trigger_check(const void *conf, const struct mqb_conf_node *item, const char *path,
			  struct mqb_conf_errors *errs)
{
	const T *c = conf;
	if (!c->type)
		mqtt_errat(errs, item, path, "type", "a device trigger needs a type");
	if (!c->subtype)
		mqtt_errat(errs, item, path, "subtype", "a device trigger needs a subtype");
	if (!c->com.device)
		mqtt_errat(errs, item, path, "device", "a device trigger needs its device");
}

/* A message that fires it: the state is its payload, which the bridge
 * forwards (every message, also an unchanged one); the attributes hold
 * what Home Assistant's mqtt trigger gives an automation of it (the
 * device trigger of ha/trigger_device.c): the topic and the payload as
 * it came. */
static bool trigger_value(struct ent *x, const char *topic, const char *v, size_t len)
{
	(void)len;
	const T *c = x->conf;
	if (c->payload && strcmp(v, c->payload) != 0)
		return false;
	size_t n;
	const char *raw = mqtt_read_payload(&n);
	mqtt_attr(x, "topic", json_string(topic));
	mqtt_attr(x, "payload", raw ? json_stringn(raw, n) : json_string(v));
	mqtt_attr(x, "qos", json_integer(c->com.qos));
	mqtt_set_state(x, v);
	return true;
}

static const struct mqtt_read trigger_reads[] = {
	{.topic_key = "topic", .tpl_key = "value_template", .topic_off = offsetof(T, topic),
	 .tpl_off = offsetof(T, com.value_template), .value = trigger_value,
	 .flags = MQTT_READ_EMPTY},
};

static int trigger_discovery(struct ent *x, json_t *d)
{
	const T *c = x->conf;
	int rc = json_object_set_new(d, "automation_type", json_string(c->automation_type));
	rc |= json_object_set_new(d, "type", json_string(c->type));
	rc |= json_object_set_new(d, "subtype", json_string(c->subtype));
	if (c->payload)
		rc |= json_object_set_new(d, "payload", json_string(c->payload));
	return rc;
}

/* <type>_<subtype>, as Home Assistant's discovery examples name them. */
static const char *trigger_object_id(const struct ent *x, char *buf, size_t len)
{
	const T *c = x->conf;
	if (mqb_conf_kind(c->com.name) == MQB_CONF_SCALAR)
		return NULL;
	snprintf(buf, len, "%s_%s", c->type ? c->type : "", c->subtype ? c->subtype : "");
	return buf;
}

const struct mqtt_class mqtt_device_automation = {
	.domain = "device_automation",
	.default_name = "MQTT device trigger",
	.check = trigger_check,
	.reads = trigger_reads,
	.nreads = 1,
	.discovery = trigger_discovery,
	.object_id = trigger_object_id,
	.force_update = true,
};
#undef T
