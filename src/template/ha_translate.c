/* SPDX-License-Identifier: MIT */
/* Home Assistant's state_translated() and state_attr_translated(): a
 * state (or a state attribute) as the frontend shows it in English, from
 * the names Home Assistant's entity components give their states, by
 * device class when the state has one. mqbridge has no entity registry,
 * so the per-integration names (translation_key) are never used, and has
 * one language, English, as a configuration without a language has. */
#include "lib/internal.h"

#include <string.h>

#include "mqbridge/states.h"
#include "template/tpl.h"

#define FN(name) static struct tv name(struct tpl_ctx *cx, const struct tv *args, size_t nargs, \
				       const struct tpl_kwarg *kw, size_t nkw)

/* What the states of each domain are called: "domain/class" ("domain/_"
 * for any class), and "state=Name|state=Name". */
struct names { const char *key, *names; };

#define ON_OFF "on=On|off=Off"
static const struct names state_names[] = {
	{ "binary_sensor/_", ON_OFF },
	{ "binary_sensor/battery", "off=Normal|on=Low" },
	{ "binary_sensor/battery_charging", "off=Not charging|on=Charging" },
	{ "binary_sensor/carbon_monoxide", "off=Clear|on=Detected" },
	{ "binary_sensor/cold", "off=Normal|on=Cold" },
	{ "binary_sensor/connectivity", "off=Disconnected|on=Connected" },
	{ "binary_sensor/door", "off=Closed|on=Open" },
	{ "binary_sensor/garage_door", "off=Closed|on=Open" },
	{ "binary_sensor/gas", "off=Clear|on=Detected" },
	{ "binary_sensor/heat", "off=Normal|on=Hot" },
	{ "binary_sensor/light", "off=No light|on=Light detected" },
	{ "binary_sensor/lock", "off=Locked|on=Unlocked" },
	{ "binary_sensor/moisture", "off=Dry|on=Wet" },
	{ "binary_sensor/motion", "off=Clear|on=Detected" },
	{ "binary_sensor/moving", "off=Not moving|on=Moving" },
	{ "binary_sensor/occupancy", "off=Clear|on=Detected" },
	{ "binary_sensor/opening", "off=Closed|on=Open" },
	{ "binary_sensor/plug", "off=Unplugged|on=Plugged in" },
	{ "binary_sensor/presence", "off=Away|on=Home" },
	{ "binary_sensor/problem", "off=OK|on=Problem" },
	{ "binary_sensor/running", "off=Not running|on=Running" },
	{ "binary_sensor/safety", "off=Safe|on=Unsafe" },
	{ "binary_sensor/smoke", "off=Clear|on=Detected" },
	{ "binary_sensor/sound", "off=Clear|on=Detected" },
	{ "binary_sensor/tamper", "off=Clear|on=Tampering detected" },
	{ "binary_sensor/update", "off=Up-to-date|on=Update available" },
	{ "binary_sensor/vibration", "off=Clear|on=Detected" },
	{ "binary_sensor/window", "off=Closed|on=Open" },
	{ "alarm_control_panel/_", "armed_away=Armed away|armed_custom_bypass=Armed custom bypass|"
	  "armed_home=Armed home|armed_night=Armed night|armed_vacation=Armed vacation|"
	  "arming=Arming|disarmed=Disarmed|disarming=Disarming|pending=Pending|triggered=Triggered" },
	{ "automation/_", ON_OFF },
	{ "calendar/_", ON_OFF },
	{ "climate/_", "off=Off|auto=Auto|heat=Heat|cool=Cool|heat_cool=Heat/Cool|dry=Dry|"
	  "fan_only=Fan only" },
	{ "cover/_", "open=Open|opening=Opening|closed=Closed|closing=Closing|stopped=Stopped" },
	{ "device_tracker/_", "home=Home|not_home=Away" },
	{ "fan/_", ON_OFF },
	{ "group/_", "off=Off|on=On|home=Home|not_home=Away|open=Open|closed=Closed|locked=Locked|"
	  "unlocked=Unlocked|ok=OK|problem=Problem" },
	{ "humidifier/_", ON_OFF },
	{ "input_boolean/_", ON_OFF },
	{ "lawn_mower/_", "error=Error|paused=Paused|mowing=Mowing|docked=Docked|returning=Returning" },
	{ "light/_", ON_OFF },
	{ "lock/_", "jammed=Jammed|locked=Locked|locking=Locking|unlocked=Unlocked|"
	  "unlocking=Unlocking|open=Open|opening=Opening" },
	{ "media_player/_", "off=Off|on=On|idle=Idle|playing=Playing|paused=Paused|"
	  "standby=Standby|buffering=Buffering" },
	{ "person/_", "home=Home|not_home=Away" },
	{ "remote/_", ON_OFF },
	{ "schedule/_", ON_OFF },
	{ "script/_", ON_OFF },
	{ "siren/_", ON_OFF },
	{ "sun/_", "above_horizon=Above horizon|below_horizon=Below horizon" },
	{ "switch/_", ON_OFF },
	{ "timer/_", "active=Active|idle=Idle|paused=Paused" },
	{ "update/_", "off=Up-to-date|on=Update available" },
	{ "vacuum/_", "cleaning=Cleaning|docked=Docked|error=Error|idle=Idle|paused=Paused|"
	  "returning=Returning to dock|off=Off|on=On" },
	{ "valve/_", "open=Open|opening=Opening|closed=Closed|closing=Closing|stopped=Stopped" },
	{ "water_heater/_", "off=Off|eco=Eco|electric=Electric|gas=Gas|heat_pump=Heat pump|"
	  "high_demand=High demand|performance=Performance" },
	{ "weather/_", "clear-night=Clear, night|cloudy=Cloudy|exceptional=Exceptional|fog=Fog|"
	  "hail=Hail|lightning=Lightning|lightning-rainy=Lightning, rainy|"
	  "partlycloudy=Partly cloudy|pouring=Pouring|rainy=Rainy|snowy=Snowy|"
	  "snowy-rainy=Snowy, rainy|sunny=Sunny|windy=Windy|windy-variant=Windy, cloudy" },
	{ NULL, NULL },
};

/* Climate's attribute values: "domain/attribute". */
static const struct names attr_names[] = {
	{ "climate/hvac_action", "off=Off|preheating=Preheating|heating=Heating|cooling=Cooling|"
	  "drying=Drying|idle=Idle|fan=Fan|defrosting=Defrosting" },
	{ "climate/fan_mode", "off=Off|on=On|auto=Auto|low=Low|medium=Medium|high=High|top=Top|"
	  "middle=Middle|focus=Focus|diffuse=Diffuse" },
	{ "climate/preset_mode", "none=None|eco=Eco|away=Away|boost=Boost|comfort=Comfort|"
	  "home=Home|sleep=Sleep|activity=Activity" },
	{ "climate/swing_mode", "off=Off|on=On|both=Both|vertical=Vertical|horizontal=Horizontal" },
	{ "climate/hvac_mode", "off=Off|auto=Auto|heat=Heat|cool=Cool|heat_cool=Heat/Cool|dry=Dry|"
	  "fan_only=Fan only" },
	{ "fan/direction", "forward=Forward|reverse=Reverse" },
	{ "humidifier/action", "off=Off|idle=Idle|humidifying=Humidifying|drying=Drying" },
	{ NULL, NULL },
};

/* The name of value in table under "a/b", or NULL. */
static const char *lookup(const struct names *table, const char *a, size_t alen, const char *b,
			  const char *value, size_t *len)
{
	size_t vlen = strlen(value);
	for (const struct names *n = table; n->key; n++) {
		if (strncmp(n->key, a, alen) != 0 || n->key[alen] != '/' ||
		    strcmp(n->key + alen + 1, b) != 0)
			continue;
		for (const char *p = n->names; *p;) {
			const char *eq = strchr(p, '='), *end = strchr(p, '|');
			if (!end)
				end = p + strlen(p);
			if ((size_t)(eq - p) == vlen && memcmp(p, value, vlen) == 0) {
				*len = (size_t)(end - eq - 1);
				return eq + 1;
			}
			p = *end ? end + 1 : end;
		}
	}
	return NULL;
}

/* Home Assistant's _get_state_if_valid: the state, None when there is
 * none, an error when the id is not one. */
static struct tv state_if_valid(struct tpl_ctx *cx, struct tv id)
{
	tpl_check_defined(cx, id);
	if (id.t != TV_STR)
		tpl_fail(cx, "'%s' object has no attribute 'lower'", tv_type_name(id));
	struct tv st = tpl_ha_state_of(cx, id);
	if (st.t != TV_STATE && !mqb_entity_id_valid(id.s->s))
		tpl_fail(cx, "Invalid entity ID '%s'", id.s->s);
	return st;
}

static const char *device_class(struct tpl_ctx *cx, struct tv st)
{
	const struct tv *dc = tv_dict_get(cx, &st.st->attributes, tv_cstr(cx, "device_class"));
	return dc && dc->t == TV_STR ? dc->s->s : NULL;
}

FN(ha_state_translated)
{
	struct tv st = state_if_valid(cx, args[0]);
	if (st.t != TV_STATE)
		return tv_cstr(cx, "unknown");
	const char *state = st.st->state, *dc = device_class(cx, st), *name = NULL;
	size_t dl = st.st->domain_len, len = 0;
	if (strcmp(state, "unknown") == 0 || strcmp(state, "unavailable") == 0)
		return tv_cstr(cx, state);
	if (dc)
		name = lookup(state_names, st.st->entity_id, dl, dc, state, &len);
	if (!name)
		name = lookup(state_names, st.st->entity_id, dl, "_", state, &len);
	return name ? tv_string(cx, name, len) : tv_cstr(cx, state);
}

FN(ha_state_attr_translated)
{
	struct tv st = state_if_valid(cx, args[0]);
	if (st.t != TV_STATE)
		return tv_none();
	const struct tv *v = tv_dict_get(cx, &st.st->attributes, args[1]);
	if (!v)
		return tv_none();
	if (v->t != TV_STR || args[1].t != TV_STR)
		return *v;
	size_t len = 0;
	const char *name = lookup(attr_names, st.st->entity_id, st.st->domain_len, args[1].s->s,
				  v->s->s, &len);
	return name ? tv_string(cx, name, len) : *v;
}

#define F TPL_FILTER
#define U TPL_FUNCTION
const struct tpl_builtin tpl_ha_translate_builtins[] = {
	{ "state_translated", U | F, ha_state_translated, 1, 1, false },
	{ "state_attr_translated", U | F, ha_state_attr_translated, 2, 2, false },
	{ NULL, 0, NULL, 0, 0, false },
};
#undef F
#undef U
