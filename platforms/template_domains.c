/* SPDX-License-Identifier: MIT */
/* The template integration's domains beyond sensor, binary_sensor and
 * switch, as Home Assistant's template/<domain>.py has them: button,
 * number, select, light, cover, fan, lock, alarm_control_panel, vacuum,
 * update and weather. Each is templates beside the state (rendered by
 * template.c into the entity's slots) and actions its services run as
 * scripts, with the variables Home Assistant passes them; what is not
 * templated follows the commands (optimistic). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mqbridge/log.h"
#include "mqbridge/states.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"

#include "template_impl.h"
#include "template_result.h"

#define SUB "template"

/* ---- options ----------------------------------------------------------- */

#define X(i) IC(k.x[i])
#define LX(i) LC(k.x[i])
#define TPL(k_, i, what) {.key = k_, .type = MQB_S_TEMPLATE, X(i), .doc = what}
#define ACT(k_, i, what) {.key = k_, .type = MQB_S_ANY, X(i), .doc = what}
#define LTPL(k_, i, what) {.key = k_, .type = MQB_S_TEMPLATE, LX(i), .doc = what}
#define LACT(k_, i, what) {.key = k_, .type = MQB_S_ANY, LX(i), .doc = what}
#define STATE(what) {.key = "state", .type = MQB_S_TEMPLATE, IC(state), .doc = what}
#define LSTATE(what) {.key = "value_template", .type = MQB_S_TEMPLATE, LC(value_template), \
		      .doc = what}
#define OPTIMISTIC                                                                         \
	{.key = "optimistic", .type = MQB_S_BOOL, .def = "false", IC(k.b[0]),             \
	 .doc = "take the state from commands even with templates of it"}
#define DEVICE_CLASS {.key = "device_class", .type = MQB_S_STRING, IC(device_class),       \
		      .doc = "Home Assistant's device class"}
#define LEGACY(k_, what) {.key = k_, .type = MQB_S_ANY, IC(legacy), .doc = what}

/* Every kind's description; the slots' names are the modern layout's. */
static const struct tpl_kind button, number, select_, light, cover, fan, lock, alarm, vacuum,
	update, weather;

/* ---- helpers ----------------------------------------------------------- */

static json_t *args(const char *key, json_t *v)
{
	return json_pack("{s:o}", key, v ? v : json_null());
}

/* A rendered number in [lo, hi], or NAN (logged) when it is not one. */
static double number_in(struct tent *t, int slot, double lo, double hi)
{
	size_t n;
	const char *v = tpl_val(t, slot, &n);
	if (!v || !n || (n == 4 && strncmp(v, "None", 4) == 0))
		return NAN;
	char buf[64], *end;
	snprintf(buf, sizeof buf, "%.*s", (int)(n < 63 ? n : 63), v);
	double d = strtod(buf, &end);
	if (end == buf || *end || !isfinite(d) || d < lo || d > hi) {
		char why[96];
		snprintf(why, sizeof why, "is no number from %g to %g", lo, hi);
		tpl_bad_value(t, slot, why, v, n);
		return NAN;
	}
	return d;
}

/* A rendered string (stripped, malloc'd), or NULL for none or "None". */
static char *string_of(struct tent *t, int slot)
{
	size_t n;
	const char *v = tpl_val(t, slot, &n);
	if (!v || !n || (n == 4 && strncmp(v, "None", 4) == 0))
		return NULL;
	return strndup(v, n);
}

/* A rendered list ("['a', 'b']", "(1, 2)", "[1, 2]"): a JSON array, or
 * NULL. */
static json_t *list_of(struct tent *t, int slot)
{
	size_t n;
	const char *v = tpl_val(t, slot, &n);
	if (!v || !n)
		return NULL;
	if (v[0] == '(' && v[n - 1] == ')') {
		/* a tuple: read as a list */
		char *copy = strndup(v, n);
		if (!copy)
			return NULL;
		copy[0] = '[';
		copy[n - 1] = ']';
		json_t *j = tres_json(copy, n);
		free(copy);
		v = NULL;
		if (json_is_array(j))
			return j;
		json_decref(j);
		return NULL;
	}
	json_t *j = tres_json(v, n);
	if (json_is_array(j))
		return j;
	json_decref(j);
	return NULL;
}

/* A list of numbers of length n (each in [lo, hi]) into out; false (logged)
 * when the render is not one. */
static bool numbers_of(struct tent *t, int slot, size_t n, double lo, double hi, double *out)
{
	json_t *j = list_of(t, slot);
	bool ok = json_array_size(j) == n;
	for (size_t i = 0; ok && i < n; i++) {
		json_t *v = json_array_get(j, i);
		out[i] = json_number_value(v);
		ok = json_is_number(v) && out[i] >= lo && out[i] <= hi;
	}
	json_decref(j);
	if (!ok && tpl_has(t, slot)) {
		size_t len;
		const char *v = tpl_val(t, slot, &len);
		if (v && !(len == 4 && strncmp(v, "None", 4) == 0))
			tpl_bad_value(t, slot, "is not a list of the numbers it takes", v, len);
	}
	return ok;
}

static void set_num(json_t *o, const char *k, double v)
{
	if (isnan(v))
		json_object_set_new(o, k, json_null());
	else if (v == floor(v) && fabs(v) < 1e15)
		json_object_set_new(o, k, json_integer((json_int_t)v));
	else
		json_object_set_new(o, k, json_real(v));
}

static void set_real(json_t *o, const char *k, double v)
{
	json_object_set_new(o, k, isnan(v) ? json_null() : json_real(v));
}

static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static bool in_list(const json_t *list, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* A state the template must render one of (any case); NULL (logged) for
 * anything else. */
static const char *one_of(struct tent *t, const char *s, size_t len, const char *const *valid)
{
	for (size_t i = 0; valid[i]; i++)
		if (strlen(valid[i]) == len && strncasecmp(s, valid[i], len) == 0)
			return valid[i];
	if (!(len == 4 && strncmp(s, "None", 4) == 0))
		tpl_bad_value(t, -1, "is not a state it takes", s, len);
	return NULL;
}

static void check_one_of_two(const struct tpl_conf *c, int a, int b, const char *an,
			     const char *bn, const struct mqb_conf_node *node, const char *path,
			     struct mqb_conf_errors *errs)
{
	if (!c->x[a] && !c->x[b])
		mqb_conf_error_at(errs, node, path, "give %s or %s", an, bn);
}

static void check_required(const struct tpl_conf *c, int slot, const char *name,
			   const struct mqb_conf_node *node, const char *path,
			   struct mqb_conf_errors *errs)
{
	if (!c->x[slot])
		mqb_conf_error_at(errs, node, path, "required option '%s' is missing", name);
}

/* A static template's text as a number (a default for discovery). */
static double static_number(const struct tent *t, int slot, double def)
{
	const struct mqb_conf_node *n = t->conf.x[slot];
	const char *s = n ? mqb_conf_scalar(n, NULL) : NULL;
	char *end;
	double d = s ? strtod(s, &end) : NAN;
	return s && end != s && !*end && isfinite(d) ? d : def;
}

/* ---- button (template/button.py) ----------------------------------------- */

enum { B_PRESS };
static const enum tpl_slot button_slots[TPL_SLOTS] = {[B_PRESS] = TS_ACTION};
static const char *const button_names[TPL_SLOTS] = {[B_PRESS] = "press"};

static const struct mqb_schema_key button_keys[] = {
	COMMON_KEYS, DEVICE_CLASS,
	ACT("press", B_PRESS, "the actions button.press runs (required)"),
};

static void button_check(const struct tpl_conf *c, const struct mqb_conf_node *node,
			 const char *path, struct mqb_conf_errors *errs)
{
	check_required(c, B_PRESS, "press", node, path, errs);
}

static void button_render(struct tent *t, const char *s, size_t len)
{
	(void)t, (void)s, (void)len;
}

/* A button's state is when it was last pressed, as Home Assistant's. */
static int button_command(struct tent *t, const char *service, const json_t *data)
{
	(void)data;
	if (strcmp(service, "press") != 0)
		return -ENOTSUP;
	int rc = tpl_run(t, B_PRESS, NULL);
	char iso[MQB_ISOFORMAT_MAX];
	mqb_isoformat(mqb_async_now(t->hub->core), iso);
	tpl_set_state(t, iso);
	tpl_publish(t);
	return rc;
}

static const struct tpl_kind button = {
	.domain = "button", .default_name = "Template Button", .schema = &tpl_kind_schemas[K_BUTTON],
	.slots = button_slots, .names = button_names, .check = button_check,
	.render = button_render, .command = button_command,
};

/* ---- number (template/number.py) ----------------------------------------- */

enum { N_MIN, N_MAX, N_STEP, N_SET };
static const enum tpl_slot number_slots[TPL_SLOTS] = {
	[N_MIN] = TS_TEMPLATE, [N_MAX] = TS_TEMPLATE, [N_STEP] = TS_TEMPLATE, [N_SET] = TS_ACTION};
static const char *const number_names[TPL_SLOTS] = {
	[N_MIN] = "min", [N_MAX] = "max", [N_STEP] = "step", [N_SET] = "set_value"};

static const struct mqb_schema_key number_keys[] = {
	COMMON_KEYS, OPTIMISTIC, DEVICE_CLASS,
	STATE("template of the value (required)"),
	TPL("min", N_MIN, "template of the least value (default 0)"),
	TPL("max", N_MAX, "template of the greatest value (default 100)"),
	TPL("step", N_STEP, "template of the step (required)"),
	ACT("set_value", N_SET, "the actions number.set_value runs, with `value` (required)"),
	{.key = "unit_of_measurement", .type = MQB_S_STRING, IC(unit), .doc = "unit of the value"},
};

struct number_priv {
	double value, min, max, step;
};

static void number_check(const struct tpl_conf *c, const struct mqb_conf_node *node,
			 const char *path, struct mqb_conf_errors *errs)
{
	check_required(c, N_STEP, "step", node, path, errs);
	check_required(c, N_SET, "set_value", node, path, errs);
}

static int number_init(struct tent *t, struct mqb_entity_info *info)
{
	(void)info;
	struct number_priv *n = calloc(1, sizeof *n);
	if (!n)
		return -ENOMEM;
	n->value = NAN;
	n->min = static_number(t, N_MIN, 0);
	n->max = static_number(t, N_MAX, 100);
	n->step = static_number(t, N_STEP, 1);
	t->priv = n;
	return 0;
}

static void number_state(struct tent *t, double v)
{
	struct number_priv *n = t->priv;
	n->value = v;
	char buf[MQB_FLOAT_REPR_MAX];
	if (isnan(v)) {
		tpl_set_state(t, NULL);
		return;
	}
	mqb_format_double(v, buf);
	tpl_set_state(t, buf);
}

static void number_render(struct tent *t, const char *s, size_t len)
{
	struct number_priv *n = t->priv;
	double d;
	if (tpl_has(t, N_MIN) && !isnan(d = number_in(t, N_MIN, -1e300, 1e300)))
		n->min = d;
	if (tpl_has(t, N_MAX) && !isnan(d = number_in(t, N_MAX, -1e300, 1e300)))
		n->max = d;
	if (tpl_has(t, N_STEP) && !isnan(d = number_in(t, N_STEP, 0, 1e300)))
		n->step = d;
	if (!s)
		return;
	size_t k = len;
	const char *v = mqb_strip(s, &k);
	char buf[64], *end;
	snprintf(buf, sizeof buf, "%.*s", (int)(k < 63 ? k : 63), v);
	d = strtod(buf, &end);
	if (end == buf || *end || !isfinite(d)) {
		if (!(k == 4 && strncmp(v, "None", 4) == 0))
			tpl_bad_value(t, -1, "is no number", v, k);
		d = NAN;
	}
	number_state(t, d);
}

static void number_attributes(struct tent *t, json_t *a)
{
	struct number_priv *n = t->priv;
	set_real(a, "min", n->min);
	set_real(a, "max", n->max);
	set_real(a, "step", n->step);
	set_str(a, "mode", "auto");
}

static int number_discovery(struct tent *t, json_t *d)
{
	struct number_priv *n = t->priv;
	int rc = json_object_set_new(d, "min", json_real(n->min));
	rc |= json_object_set_new(d, "max", json_real(n->max));
	rc |= json_object_set_new(d, "step", json_real(n->step));
	return rc;
}

static int number_command(struct tent *t, const char *service, const json_t *data)
{
	if (strcmp(service, "set_value") != 0)
		return -ENOTSUP;
	json_t *v = json_object_get(data, "value");
	if (!json_is_number(v))
		return -EINVAL;
	int rc = tpl_run(t, N_SET, args("value", json_real(json_number_value(v))));
	if (rc == 0 && (t->conf.b[0] || !tpl_has_state(t))) {
		number_state(t, json_number_value(v));
		tpl_publish(t);
	}
	return rc;
}

static void priv_free(struct tent *t)
{
	free(t->priv);
	t->priv = NULL;
}

static const struct tpl_kind number = {
	.domain = "number", .default_name = "Template Number",
	.schema = &tpl_kind_schemas[K_NUMBER], .state_key = "state", .state_required = true,
	.slots = number_slots, .names = number_names, .check = number_check,
	.init = number_init, .render = number_render, .attributes = number_attributes,
	.discovery = number_discovery, .command = number_command, .free = priv_free,
};

/* ---- select (template/select.py) ----------------------------------------- */

enum { S_OPTIONS, S_SELECT };
static const enum tpl_slot select_slots[TPL_SLOTS] = {[S_OPTIONS] = TS_TEMPLATE,
						       [S_SELECT] = TS_ACTION};
static const char *const select_names[TPL_SLOTS] = {[S_OPTIONS] = "options",
						    [S_SELECT] = "select_option"};

static const struct mqb_schema_key select_keys[] = {
	COMMON_KEYS, OPTIMISTIC,
	STATE("template of the option selected (required)"),
	TPL("options", S_OPTIONS, "template of the list of options (required)"),
	ACT("select_option", S_SELECT,
	    "the actions select.select_option runs, with `option` (required)"),
};

struct select_priv {
	json_t *options;
	char *option;
};

static void select_check(const struct tpl_conf *c, const struct mqb_conf_node *node,
			 const char *path, struct mqb_conf_errors *errs)
{
	check_required(c, S_OPTIONS, "options", node, path, errs);
	check_required(c, S_SELECT, "select_option", node, path, errs);
}

/* The options as a static template gives them (discovery needs some). */
static json_t *static_list(const struct tent *t, int slot)
{
	const struct mqb_conf_node *n = t->conf.x[slot];
	struct mqb_template *tp = NULL;
	char *out = NULL;
	size_t len = 0;
	struct mqb_tpl_error e;
	json_t *j = NULL;
	if (n && mqb_template_from_conf(n, &tp) == 0 && tp &&
	    mqb_template_render(tp, &(struct mqb_tpl_vars){.core = t->hub->core}, NULL, &out, &len,
				&e) == 0) {
		size_t k = len;
		const char *v = mqb_strip(out, &k);
		j = tres_json(v, k);
		if (!json_is_array(j)) {
			json_decref(j);
			j = NULL;
		}
	}
	free(out);
	mqb_template_free(tp);
	return j;
}

static int select_init(struct tent *t, struct mqb_entity_info *info)
{
	(void)info;
	struct select_priv *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	t->priv = s;
	s->options = static_list(t, S_OPTIONS);
	if (!s->options && !(s->options = json_array()))
		return -ENOMEM;
	return 0;
}

static void select_set(struct tent *t, const char *option)
{
	struct select_priv *s = t->priv;
	free(s->option);
	s->option = option ? strdup(option) : NULL;
	tpl_set_state(t, s->option);
}

static void select_render(struct tent *t, const char *v, size_t len)
{
	struct select_priv *s = t->priv;
	json_t *o = list_of(t, S_OPTIONS);
	if (o) {
		json_decref(s->options);
		s->options = o;
	}
	if (!v)
		return;
	size_t k = len;
	const char *r = mqb_strip(v, &k);
	char *opt = strndup(r, k);
	if (opt && !in_list(s->options, opt)) {
		if (strcmp(opt, "None") != 0)
			tpl_bad_value(t, -1, "is not one of the options", r, k);
		free(opt);
		opt = NULL;
	}
	select_set(t, opt);
	free(opt);
}

static void select_attributes(struct tent *t, json_t *a)
{
	struct select_priv *s = t->priv;
	json_object_set(a, "options", s->options);
}

static int select_discovery(struct tent *t, json_t *d)
{
	struct select_priv *s = t->priv;
	return json_object_set(d, "options", s->options);
}

static int select_command(struct tent *t, const char *service, const json_t *data)
{
	struct select_priv *s = t->priv;
	const char *opt = json_string_value(json_object_get(data, "option"));
	if (strcmp(service, "select_option") != 0)
		return -ENOTSUP;
	if (!opt || !in_list(s->options, opt)) {
		MQB_LOG_WARNING(SUB, "%s: '%s' is not one of its options", mqb_entity_id(t->e),
				opt ? opt : "");
		return -EINVAL;
	}
	int rc = tpl_run(t, S_SELECT, args("option", json_string(opt)));
	if (rc == 0 && (t->conf.b[0] || !tpl_has_state(t))) {
		select_set(t, opt);
		tpl_publish(t);
	}
	return rc;
}

static void select_free(struct tent *t)
{
	struct select_priv *s = t->priv;
	if (s) {
		json_decref(s->options);
		free(s->option);
	}
	priv_free(t);
}

static const struct tpl_kind select_ = {
	.domain = "select", .default_name = "Template Select",
	.schema = &tpl_kind_schemas[K_SELECT], .state_key = "state", .state_required = true,
	.slots = select_slots, .names = select_names, .check = select_check,
	.init = select_init, .render = select_render, .attributes = select_attributes,
	.discovery = select_discovery, .command = select_command, .free = select_free,
};

/* ---- light (template/light.py) ------------------------------------------- */

enum {
	L_LEVEL, L_TEMP, L_HS, L_RGB, L_RGBW, L_RGBWW, L_EFFECT_LIST, L_EFFECT, L_MIN_MIREDS,
	L_MAX_MIREDS, L_TRANSITION, L_ON, L_OFF, L_SET_LEVEL, L_SET_TEMP, L_SET_HS, L_SET_RGB,
	L_SET_RGBW, L_SET_RGBWW, L_SET_EFFECT,
};
static const enum tpl_slot light_slots[TPL_SLOTS] = {
	[L_LEVEL] = TS_TEMPLATE,     [L_TEMP] = TS_TEMPLATE,       [L_HS] = TS_TEMPLATE,
	[L_RGB] = TS_TEMPLATE,       [L_RGBW] = TS_TEMPLATE,       [L_RGBWW] = TS_TEMPLATE,
	[L_EFFECT_LIST] = TS_TEMPLATE, [L_EFFECT] = TS_TEMPLATE,   [L_MIN_MIREDS] = TS_TEMPLATE,
	[L_MAX_MIREDS] = TS_TEMPLATE, [L_TRANSITION] = TS_TEMPLATE, [L_ON] = TS_ACTION,
	[L_OFF] = TS_ACTION,         [L_SET_LEVEL] = TS_ACTION,    [L_SET_TEMP] = TS_ACTION,
	[L_SET_HS] = TS_ACTION,      [L_SET_RGB] = TS_ACTION,      [L_SET_RGBW] = TS_ACTION,
	[L_SET_RGBWW] = TS_ACTION,   [L_SET_EFFECT] = TS_ACTION,
};
static const char *const light_names[TPL_SLOTS] = {
	[L_LEVEL] = "level", [L_TEMP] = "temperature", [L_HS] = "hs", [L_RGB] = "rgb",
	[L_RGBW] = "rgbw", [L_RGBWW] = "rgbww", [L_EFFECT_LIST] = "effect_list",
	[L_EFFECT] = "effect", [L_MIN_MIREDS] = "min_mireds", [L_MAX_MIREDS] = "max_mireds",
	[L_TRANSITION] = "supports_transition", [L_ON] = "turn_on", [L_OFF] = "turn_off",
	[L_SET_LEVEL] = "set_level", [L_SET_TEMP] = "set_temperature", [L_SET_HS] = "set_hs",
	[L_SET_RGB] = "set_rgb", [L_SET_RGBW] = "set_rgbw", [L_SET_RGBWW] = "set_rgbww",
	[L_SET_EFFECT] = "set_effect",
};

#define LIGHT_KEYS(T, A, S)                                                                \
	T("level", L_LEVEL, "template of the brightness, 0 to 255"),                       \
	T("temperature", L_TEMP, "template of the colour temperature in mireds"),          \
	T("hs", L_HS, "template of the hue and saturation, (h, s)"),                       \
	T("rgb", L_RGB, "template of the colour, (r, g, b)"),                              \
	T("rgbw", L_RGBW, "template of the colour, (r, g, b, w)"),                         \
	T("rgbww", L_RGBWW, "template of the colour, (r, g, b, cw, ww)"),                  \
	T("effect_list", L_EFFECT_LIST, "template of the effects' list"),                  \
	T("effect", L_EFFECT, "template of the effect"),                                   \
	T("min_mireds", L_MIN_MIREDS, "template of the least temperature (default 153)"),  \
	T("max_mireds", L_MAX_MIREDS, "template of the greatest temperature (default 500)"), \
	T("supports_transition", L_TRANSITION, "template: whether transitions are taken"), \
	A("turn_on", L_ON, "the actions light.turn_on runs (required)"),                   \
	A("turn_off", L_OFF, "the actions light.turn_off runs (required)"),                \
	A("set_level", L_SET_LEVEL, "actions setting the brightness, with `brightness`"),  \
	A("set_temperature", L_SET_TEMP,                                                   \
	  "actions setting the temperature, with `color_temp` (mireds) and "               \
	  "`color_temp_kelvin`"),                                                          \
	A("set_hs", L_SET_HS, "actions setting the colour, with `hs`, `h` and `s`"),       \
	A("set_rgb", L_SET_RGB, "actions setting the colour, with `rgb`, `r`, `g`, `b`"),  \
	A("set_rgbw", L_SET_RGBW, "the same with `rgbw` and `w`"),                         \
	A("set_rgbww", L_SET_RGBWW, "the same with `rgbww`, `cw` and `ww`"),               \
	A("set_effect", L_SET_EFFECT, "actions setting the effect, with `effect`")

static const struct mqb_schema_key light_keys[] = {
	COMMON_KEYS, OPTIMISTIC,
	STATE("template: on when it renders on or true"),
	LIGHT_KEYS(TPL, ACT, 0),
	LEGACY("lights", "legacy layout: mapping of object ids to lights"),
};
#define LIGHT_LEGACY_TPL(k_, i, what) LTPL(k_ "_template", i, what)
static const struct mqb_schema_key light_legacy_keys[] = {
	LEGACY_COMMON,
	LSTATE("template: on when it renders on or true"),
	LIGHT_KEYS(LIGHT_LEGACY_TPL, LACT, 0),
	LTPL("color_template", L_HS, "template of the hue and saturation (older spelling)"),
	LACT("set_color", L_SET_HS, "actions setting hue and saturation (older spelling)"),
};

enum { M_ONOFF, M_BRIGHTNESS, M_COLOR_TEMP, M_HS, M_RGB, M_RGBW, M_RGBWW, M_UNKNOWN };
static const char *const mode_names[] = {"onoff", "brightness", "color_temp", "hs",
					 "rgb",   "rgbw",       "rgbww",      "unknown"};

struct light_priv {
	int on;                  /* -1 unknown */
	double brightness;       /* NAN: none */
	double mireds;
	double hs[2], rgb[5];
	int mode;
	unsigned modes;          /* supported, bit per M_ */
	char *effect;
	json_t *effects;
	double min_mireds, max_mireds;
	bool transition;
};

static void light_check(const struct tpl_conf *c, const struct mqb_conf_node *node,
			const char *path, struct mqb_conf_errors *errs)
{
	check_required(c, L_ON, "turn_on", node, path, errs);
	check_required(c, L_OFF, "turn_off", node, path, errs);
	if (c->x[L_EFFECT] || c->x[L_EFFECT_LIST] || c->x[L_SET_EFFECT])
		if (!c->x[L_EFFECT] || !c->x[L_EFFECT_LIST] || !c->x[L_SET_EFFECT])
			mqb_conf_error_at(errs, node, path,
					  "effect, effect_list and set_effect go together");
}

/* Home Assistant's colour modes from the actions there are
 * (filter_supported_color_modes: onoff alone, brightness without
 * colour). */
static int light_init(struct tent *t, struct mqb_entity_info *info)
{
	(void)info;
	struct light_priv *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	t->priv = l;
	l->on = tpl_has_state(t) ? -1 : 0;
	l->brightness = l->mireds = l->hs[0] = l->hs[1] = NAN;
	for (int i = 0; i < 5; i++)
		l->rgb[i] = NAN;
	l->min_mireds = 153;
	l->max_mireds = 500;
	static const struct {
		int slot, mode;
	} by[] = {{L_SET_TEMP, M_COLOR_TEMP}, {L_SET_HS, M_HS},     {L_SET_RGB, M_RGB},
		  {L_SET_RGBW, M_RGBW},      {L_SET_RGBWW, M_RGBWW}};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(by); i++)
		if (t->conf.x[by[i].slot])
			l->modes |= 1u << by[i].mode;
	if (!l->modes && t->conf.x[L_SET_LEVEL])
		l->modes = 1u << M_BRIGHTNESS;
	if (!l->modes)
		l->modes = 1u << M_ONOFF;
	l->mode = M_UNKNOWN;
	for (int m = 0; m < M_UNKNOWN; m++)
		if (l->modes == 1u << m)
			l->mode = m;
	if (!tpl_has_state(t))
		info->state = "off";
	return 0;
}

static void light_set_mode(struct light_priv *l, int m)
{
	if (l->modes & (1u << m))
		l->mode = m;
}

static void light_render(struct tent *t, const char *s, size_t len)
{
	struct light_priv *l = t->priv;
	if (s) {
		static const char *const valid[] = {"on", "true", "off", "false", NULL};
		size_t k = len;
		const char *v = mqb_strip(s, &k);
		const char *st = one_of(t, v, k, valid);
		l->on = !st ? -1 : strcmp(st, "on") == 0 || strcmp(st, "true") == 0;
		tpl_set_state(t, l->on < 0 ? NULL : l->on ? "on" : "off");
	}
	double d;
	if (tpl_has(t, L_MIN_MIREDS) && !isnan(d = number_in(t, L_MIN_MIREDS, 1, 1e6)))
		l->min_mireds = d;
	if (tpl_has(t, L_MAX_MIREDS) && !isnan(d = number_in(t, L_MAX_MIREDS, 1, 1e6)))
		l->max_mireds = d;
	if (tpl_has(t, L_LEVEL))
		l->brightness = number_in(t, L_LEVEL, 0, 255);
	if (tpl_has(t, L_TEMP) && !isnan(l->mireds = number_in(t, L_TEMP, l->min_mireds,
								   l->max_mireds)))
		light_set_mode(l, M_COLOR_TEMP);
	if (tpl_has(t, L_HS) && numbers_of(t, L_HS, 2, 0, 360, l->hs))
		light_set_mode(l, M_HS);
	static const struct {
		int slot, n, mode;
	} colours[] = {{L_RGB, 3, M_RGB}, {L_RGBW, 4, M_RGBW}, {L_RGBWW, 5, M_RGBWW}};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(colours); i++)
		if (tpl_has(t, colours[i].slot) &&
		    numbers_of(t, colours[i].slot, (size_t)colours[i].n, 0, 255, l->rgb))
			light_set_mode(l, colours[i].mode);
	if (tpl_has(t, L_EFFECT_LIST)) {
		json_decref(l->effects);
		l->effects = list_of(t, L_EFFECT_LIST);
	}
	if (tpl_has(t, L_EFFECT)) {
		free(l->effect);
		l->effect = string_of(t, L_EFFECT);
		if (l->effect && !in_list(l->effects, l->effect)) {
			tpl_bad_value(t, L_EFFECT, "is not in the effect list", l->effect,
				      strlen(l->effect));
			free(l->effect);
			l->effect = NULL;
		}
	}
	if (tpl_has(t, L_TRANSITION)) {
		size_t n;
		const char *v = tpl_val(t, L_TRANSITION, &n);
		l->transition = v && tres_bool(v, n, false) == 1;
	}
}

static json_t *reals(const double *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, v[i] == floor(v[i]) ? json_integer((json_int_t)v[i])
							     : json_real(v[i]));
	return a;
}

static void light_attributes(struct tent *t, json_t *a)
{
	struct light_priv *l = t->priv;
	json_t *modes = json_array();
	for (int m = 0; modes && m < M_UNKNOWN; m++)
		if (l->modes & (1u << m))
			json_array_append_new(modes, json_string(mode_names[m]));
	json_object_set_new(a, "supported_color_modes", modes);
	if (l->effects)
		json_object_set(a, "effect_list", l->effects);
	if (l->modes & (1u << M_COLOR_TEMP)) {
		set_num(a, "min_color_temp_kelvin", floor(1e6 / l->max_mireds));
		set_num(a, "max_color_temp_kelvin", floor(1e6 / l->min_mireds));
	}
	bool on = l->on == 1;
	/* Home Assistant states these while the light is on */
	set_num(a, "brightness", on && !(l->modes & (1u << M_ONOFF)) ? round(l->brightness) : NAN);
	set_str(a, "color_mode", on ? mode_names[l->mode] : NULL);
	set_num(a, "color_temp_kelvin",
		on && l->mode == M_COLOR_TEMP && !isnan(l->mireds) ? floor(1e6 / l->mireds) : NAN);
	json_object_set_new(a, "hs_color",
			    on && l->mode == M_HS && !isnan(l->hs[0]) ? reals(l->hs, 2) : json_null());
	size_t n = l->mode == M_RGB ? 3 : l->mode == M_RGBW ? 4 : l->mode == M_RGBWW ? 5 : 0;
	const char *key = n == 3 ? "rgb_color" : n == 4 ? "rgbw_color" : "rgbww_color";
	json_object_del(a, "rgb_color");
	json_object_del(a, "rgbw_color");
	json_object_del(a, "rgbww_color");
	if (on && n && !isnan(l->rgb[0]))
		json_object_set_new(a, key, reals(l->rgb, n));
	set_str(a, "effect", on ? l->effect : NULL);
}

static int light_discovery(struct tent *t, json_t *d)
{
	struct light_priv *l = t->priv;
	json_t *modes = json_array();
	for (int m = 0; modes && m < M_UNKNOWN; m++)
		if (l->modes & (1u << m))
			json_array_append_new(modes, json_string(mode_names[m]));
	int rc = json_object_set_new(d, "supported_color_modes", modes);
	if (l->modes & (1u << M_COLOR_TEMP)) {
		rc |= json_object_set_new(d, "min_kelvin", json_integer(1000000 / 500));
		rc |= json_object_set_new(d, "max_kelvin", json_integer(1000000 / 153));
	}
	json_t *effects = static_list(t, L_EFFECT_LIST);
	if (effects)
		rc |= json_object_set_new(d, "effect_list", effects);
	return rc;
}

/* Home Assistant's get_registered_script: the first of temperature,
 * effect, hs, rgbww, rgbw, rgb and level that the call sets and an action
 * is there for, with what it sets; else turn_on. The brightness and the
 * transition go along with any. */
static int light_command(struct tent *t, const char *service, const json_t *data)
{
	struct light_priv *l = t->priv;
	bool on = strcmp(service, "turn_on") == 0;
	if (!on && strcmp(service, "turn_off") != 0)
		return -ENOTSUP;
	json_t *common = json_object();
	if (!common)
		return -ENOMEM;
	json_t *tr = json_object_get(data, "transition");
	if (tr && l->transition)
		json_object_set(common, "transition", tr);
	if (!on) {
		int rc = tpl_run(t, L_OFF, common);
		if (rc == 0 && (!tpl_has_state(t) || t->conf.b[0])) {
			l->on = 0;
			tpl_set_state(t, "off");
			tpl_publish(t);
		}
		return rc;
	}
	json_t *bri = json_object_get(data, "brightness");
	json_t *kelvin = json_object_get(data, "color_temp_kelvin");
	json_t *effect = json_object_get(data, "effect");
	json_t *hs = json_object_get(data, "hs_color");
	json_t *rgbww = json_object_get(data, "rgbww_color");
	json_t *rgbw = json_object_get(data, "rgbw_color");
	json_t *rgb = json_object_get(data, "rgb_color");
	if (json_is_number(bri))
		json_object_set(common, "brightness", bri);
	int slot = L_ON;
	json_t *v = json_copy(common);
	if (!v) {
		json_decref(common);
		return -ENOMEM;
	}
	bool optimistic = !tpl_has_state(t) || t->conf.b[0];
	if (json_is_number(kelvin) && t->scripts[L_SET_TEMP]) {
		double k = json_number_value(kelvin);
		slot = L_SET_TEMP;
		json_object_set_new(v, "color_temp_kelvin", json_integer((json_int_t)k));
		json_object_set_new(v, "color_temp", json_integer((json_int_t)(1e6 / k)));
		if (!tpl_has(t, L_TEMP) || t->conf.b[0]) {
			l->mireds = floor(1e6 / k);
			light_set_mode(l, M_COLOR_TEMP);
		}
	} else if (json_is_string(effect) && t->scripts[L_SET_EFFECT]) {
		if (!in_list(l->effects, json_string_value(effect))) {
			MQB_LOG_WARNING(SUB, "%s: effect '%s' is not in its list", mqb_entity_id(t->e),
					json_string_value(effect));
			json_decref(v);
			json_decref(common);
			return -EINVAL;
		}
		slot = L_SET_EFFECT;
		json_object_set(v, "effect", effect);
		if (!tpl_has(t, L_EFFECT) || t->conf.b[0]) {
			free(l->effect);
			l->effect = strdup(json_string_value(effect));
		}
	} else if (json_array_size(hs) == 2 && t->scripts[L_SET_HS]) {
		slot = L_SET_HS;
		json_object_set(v, "hs", hs);
		json_object_set(v, "h", json_array_get(hs, 0));
		json_object_set(v, "s", json_array_get(hs, 1));
		if (!tpl_has(t, L_HS) || t->conf.b[0]) {
			l->hs[0] = json_number_value(json_array_get(hs, 0));
			l->hs[1] = json_number_value(json_array_get(hs, 1));
			light_set_mode(l, M_HS);
		}
	} else {
		static const struct {
			int slot, tslot, n, mode;
			const char *key;
			const char *const names[5];
		} colours[] = {
			{L_SET_RGBWW, L_RGBWW, 5, M_RGBWW, "rgbww", {"r", "g", "b", "cw", "ww"}},
			{L_SET_RGBW, L_RGBW, 4, M_RGBW, "rgbw", {"r", "g", "b", "w"}},
			{L_SET_RGB, L_RGB, 3, M_RGB, "rgb", {"r", "g", "b"}},
		};
		json_t *given[] = {rgbww, rgbw, rgb};
		for (size_t i = 0; i < MQB_ARRAY_SIZE(colours) && slot == L_ON; i++) {
			json_t *c = given[i];
			if (json_array_size(c) != (size_t)colours[i].n || !t->scripts[colours[i].slot])
				continue;
			slot = colours[i].slot;
			json_object_set(v, colours[i].key, c);
			json_t *three = json_array();
			for (int k = 0; k < colours[i].n; k++) {
				json_object_set(v, colours[i].names[k], json_array_get(c, (size_t)k));
				if (k < 3)
					json_array_append(three, json_array_get(c, (size_t)k));
			}
			if (colours[i].n > 3)
				json_object_set_new(v, "rgb", three);
			else
				json_decref(three);
			if (!tpl_has(t, colours[i].tslot) || t->conf.b[0]) {
				for (int k = 0; k < colours[i].n; k++)
					l->rgb[k] = json_number_value(json_array_get(c, (size_t)k));
				light_set_mode(l, colours[i].mode);
			}
		}
		if (slot == L_ON && json_is_number(bri) && t->scripts[L_SET_LEVEL])
			slot = L_SET_LEVEL;
	}
	if (json_is_number(bri) && (!tpl_has(t, L_LEVEL) || t->conf.b[0]))
		l->brightness = json_number_value(bri);
	json_decref(common);
	int rc = tpl_run(t, slot, v);
	if (rc == 0) {
		if (optimistic) {
			l->on = 1;
			tpl_set_state(t, "on");
		}
		tpl_publish(t);
	}
	return rc;
}

static void light_free(struct tent *t)
{
	struct light_priv *l = t->priv;
	if (l) {
		free(l->effect);
		json_decref(l->effects);
	}
	priv_free(t);
}

static const struct tpl_kind light = {
	.domain = "light", .default_name = "Template Light", .schema = &tpl_kind_schemas[K_LIGHT],
	.legacy = &(const struct mqb_schema)MQB_SCHEMA("light.template.lights", light_legacy_keys),
	.legacy_key = "lights", .state_key = "state", .legacy_state_key = "value_template",
	.slots = light_slots, .names = light_names, .check = light_check, .init = light_init,
	.render = light_render, .attributes = light_attributes, .discovery = light_discovery,
	.command = light_command, .free = light_free,
};

/* ---- cover (template/cover.py) ------------------------------------------- */

enum { C_POS, C_TILT, C_OPEN, C_CLOSE, C_STOP, C_SET_POS, C_SET_TILT };
static const enum tpl_slot cover_slots[TPL_SLOTS] = {
	[C_POS] = TS_TEMPLATE, [C_TILT] = TS_TEMPLATE, [C_OPEN] = TS_ACTION,
	[C_CLOSE] = TS_ACTION, [C_STOP] = TS_ACTION,   [C_SET_POS] = TS_ACTION,
	[C_SET_TILT] = TS_ACTION};
static const char *const cover_names[TPL_SLOTS] = {
	[C_POS] = "position", [C_TILT] = "tilt", [C_OPEN] = "open_cover",
	[C_CLOSE] = "close_cover", [C_STOP] = "stop_cover", [C_SET_POS] = "set_cover_position",
	[C_SET_TILT] = "set_cover_tilt_position"};

#define COVER_KEYS(T, A)                                                                   \
	T("position", C_POS, "template of the position, 0 (closed) to 100 (open)"),       \
	T("tilt", C_TILT, "template of the tilt, 0 to 100"),                              \
	A("open_cover", C_OPEN, "the actions cover.open_cover runs"),                     \
	A("close_cover", C_CLOSE, "the actions cover.close_cover runs"),                  \
	A("stop_cover", C_STOP, "the actions cover.stop_cover runs"),                     \
	A("set_cover_position", C_SET_POS, "actions setting the position, with `position`"), \
	A("set_cover_tilt_position", C_SET_TILT, "actions setting the tilt, with `tilt`")

static const struct mqb_schema_key cover_keys[] = {
	COMMON_KEYS, OPTIMISTIC, DEVICE_CLASS,
	{.key = "tilt_optimistic", .type = MQB_S_BOOL, .def = "false", IC(k.b[1]),
	 .doc = "take the tilt from commands even with a tilt template"},
	STATE("template: open, opening, closed, closing, true or false"),
	COVER_KEYS(TPL, ACT),
	LEGACY("covers", "legacy layout: mapping of object ids to covers"),
};
#define COVER_LEGACY_TPL(k_, i, what) LTPL(k_ "_template", i, what)
static const struct mqb_schema_key cover_legacy_keys[] = {
	LEGACY_COMMON,
	LSTATE("template: open, opening, closed, closing, true or false"),
	{.key = "device_class", .type = MQB_S_STRING, LC(device_class), .doc = "device class"},
	{.key = "optimistic", .type = MQB_S_BOOL, .def = "false", LC(k.b[0]),
	 .doc = "take the state from commands"},
	{.key = "tilt_optimistic", .type = MQB_S_BOOL, .def = "false", LC(k.b[1]),
	 .doc = "take the tilt from commands"},
	COVER_KEYS(COVER_LEGACY_TPL, LACT),
};

struct cover_priv {
	double position, tilt;   /* NAN: unknown */
	int moving;              /* 0, 1 opening, -1 closing */
	bool optimistic, tilt_optimistic;
};

static void cover_check(const struct tpl_conf *c, const struct mqb_conf_node *node,
			const char *path, struct mqb_conf_errors *errs)
{
	/* Home Assistant: open and close together, and one of open or a
	 * position to set */
	if (!c->x[C_OPEN] != !c->x[C_CLOSE])
		mqb_conf_error_at(errs, node, path, "open_cover and close_cover go together");
	check_one_of_two(c, C_OPEN, C_SET_POS, "open_cover", "set_cover_position", node, path,
			 errs);
}

static int cover_init(struct tent *t, struct mqb_entity_info *info)
{
	(void)info;
	struct cover_priv *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	t->priv = c;
	c->position = c->tilt = NAN;
	c->optimistic = t->conf.b[0] || (!tpl_has_state(t) && !t->conf.x[C_POS]);
	c->tilt_optimistic = t->conf.b[1] || !t->conf.x[C_TILT];
	return 0;
}

static void cover_state(struct tent *t)
{
	struct cover_priv *c = t->priv;
	tpl_set_state(t, c->moving > 0 ? "opening" : c->moving < 0 ? "closing"
		      : isnan(c->position) ? NULL : c->position == 0 ? "closed" : "open");
}

static void cover_render(struct tent *t, const char *s, size_t len)
{
	struct cover_priv *c = t->priv;
	if (s) {
		static const char *const valid[] = {"open", "opening", "closed", "closing", "true",
						    "false", NULL};
		size_t k = len;
		const char *v = mqb_strip(s, &k);
		const char *st = one_of(t, v, k, valid);
		c->moving = st && strcmp(st, "opening") == 0 ? 1 : st && strcmp(st, "closing") == 0 ? -1
											       : 0;
		if (!tpl_has(t, C_POS))
			c->position = !st ? NAN
				      : strcmp(st, "open") == 0 || strcmp(st, "true") == 0 ? 100
				      : strcmp(st, "closed") == 0 || strcmp(st, "false") == 0 ? 0
				      : c->position;
	}
	if (tpl_has(t, C_POS))
		c->position = number_in(t, C_POS, 0, 100);
	if (tpl_has(t, C_TILT))
		c->tilt = number_in(t, C_TILT, 0, 100);
	cover_state(t);
}

static void cover_attributes(struct tent *t, json_t *a)
{
	struct cover_priv *c = t->priv;
	if (t->scripts[C_SET_POS] || tpl_has(t, C_POS))
		set_num(a, "current_position", round(c->position));
	if (t->scripts[C_SET_TILT] || tpl_has(t, C_TILT))
		set_num(a, "current_tilt_position", round(c->tilt));
}

static int cover_discovery(struct tent *t, json_t *d)
{
	int rc = 0;
	if (t->conf.x[C_SET_POS] || t->conf.x[C_POS]) {
		rc |= json_object_set_new(d, "position_open", json_integer(100));
		rc |= json_object_set_new(d, "position_closed", json_integer(0));
	}
	if (!t->conf.x[C_STOP])
		rc |= json_object_set_new(d, "payload_stop", json_null());
	if (t->conf.x[C_SET_TILT]) {
		json_t *f = json_array();
		json_array_append_new(f, json_string("tilt"));
		rc |= json_object_set_new(d, "_features", f);
	}
	return rc;
}

/* Move to position (open: 100, close: 0) with the action of that command
 * or, without one, set_cover_position's. */
static int cover_move(struct tent *t, int slot, double position)
{
	struct cover_priv *c = t->priv;
	int rc = t->scripts[slot] && slot != C_SET_POS
			 ? tpl_run(t, slot, NULL)
			 : tpl_run(t, C_SET_POS, args("position", json_integer((int)position)));
	if (rc == 0 && c->optimistic) {
		c->position = position;
		c->moving = 0;
		cover_state(t);
		tpl_publish(t);
	}
	return rc;
}

static int cover_tilt(struct tent *t, double tilt)
{
	struct cover_priv *c = t->priv;
	int rc = tpl_run(t, C_SET_TILT, args("tilt", json_integer((int)tilt)));
	if (rc == 0 && c->tilt_optimistic) {
		c->tilt = tilt;
		tpl_publish(t);
	}
	return rc;
}

static int cover_command(struct tent *t, const char *service, const json_t *data)
{
	if (strcmp(service, "open_cover") == 0)
		return cover_move(t, C_OPEN, 100);
	if (strcmp(service, "close_cover") == 0)
		return cover_move(t, C_CLOSE, 0);
	if (strcmp(service, "stop_cover") == 0)
		return tpl_run(t, C_STOP, NULL);
	if (strcmp(service, "set_cover_position") == 0) {
		json_t *p = json_object_get(data, "position");
		return json_is_number(p) ? cover_move(t, C_SET_POS, json_number_value(p)) : -EINVAL;
	}
	if (strcmp(service, "set_cover_tilt_position") == 0) {
		json_t *p = json_object_get(data, "tilt_position");
		return json_is_number(p) ? cover_tilt(t, json_number_value(p)) : -EINVAL;
	}
	if (strcmp(service, "open_cover_tilt") == 0)
		return cover_tilt(t, 100);
	if (strcmp(service, "close_cover_tilt") == 0)
		return cover_tilt(t, 0);
	if (strcmp(service, "toggle") == 0) {
		struct cover_priv *c = t->priv;
		return c->position > 0 ? cover_move(t, C_CLOSE, 0) : cover_move(t, C_OPEN, 100);
	}
	return -ENOTSUP;
}

static const struct tpl_kind cover = {
	.domain = "cover", .default_name = "Template Cover", .schema = &tpl_kind_schemas[K_COVER],
	.legacy = &(const struct mqb_schema)MQB_SCHEMA("cover.template.covers", cover_legacy_keys),
	.legacy_key = "covers", .state_key = "state", .legacy_state_key = "value_template",
	.slots = cover_slots, .names = cover_names, .check = cover_check, .init = cover_init,
	.render = cover_render, .attributes = cover_attributes, .discovery = cover_discovery,
	.command = cover_command, .free = priv_free,
};

/* ---- fan (template/fan.py) ----------------------------------------------- */

enum { F_PCT, F_PRESET, F_OSC, F_DIR, F_ON, F_OFF, F_SET_PCT, F_SET_PRESET, F_SET_OSC, F_SET_DIR,
       F_PRESETS };
static const enum tpl_slot fan_slots[TPL_SLOTS] = {
	[F_PCT] = TS_TEMPLATE,  [F_PRESET] = TS_TEMPLATE,    [F_OSC] = TS_TEMPLATE,
	[F_DIR] = TS_TEMPLATE,  [F_ON] = TS_ACTION,          [F_OFF] = TS_ACTION,
	[F_SET_PCT] = TS_ACTION, [F_SET_PRESET] = TS_ACTION, [F_SET_OSC] = TS_ACTION,
	[F_SET_DIR] = TS_ACTION, [F_PRESETS] = TS_LIST};
static const char *const fan_names[TPL_SLOTS] = {
	[F_PCT] = "percentage", [F_PRESET] = "preset_mode", [F_OSC] = "oscillating",
	[F_DIR] = "direction", [F_ON] = "turn_on", [F_OFF] = "turn_off",
	[F_SET_PCT] = "set_percentage", [F_SET_PRESET] = "set_preset_mode",
	[F_SET_OSC] = "set_oscillating", [F_SET_DIR] = "set_direction",
	[F_PRESETS] = "preset_modes"};

#define FAN_KEYS(T, A, L, N)                                                               \
	T("percentage", F_PCT, "template of the speed, 0 to 100"),                         \
	T("preset_mode", F_PRESET, "template of the preset mode"),                         \
	T("oscillating", F_OSC, "template: whether it oscillates"),                        \
	T("direction", F_DIR, "template of the direction, forward or reverse"),           \
	A("turn_on", F_ON, "the actions fan.turn_on runs, with `percentage` and "          \
	  "`preset_mode` (required)"),                                                     \
	A("turn_off", F_OFF, "the actions fan.turn_off runs (required)"),                  \
	A("set_percentage", F_SET_PCT, "actions setting the speed, with `percentage`"),    \
	A("set_preset_mode", F_SET_PRESET, "actions setting the preset, with `preset_mode`"), \
	A("set_oscillating", F_SET_OSC, "actions setting oscillation, with `oscillating`"), \
	A("set_direction", F_SET_DIR, "actions setting the direction, with `direction`"),  \
	{.key = "preset_modes", .type = MQB_S_ANY, L(k.x[F_PRESETS]),                      \
	 .doc = "the preset modes (a list)"},                                              \
	{.key = "speed_count", .type = MQB_S_FLOAT, .def = "100", .min = 1, .max = 100,     \
	 N(k.n[0]), .doc = "how many speeds: the percentage's step is 100 / speed_count"}

static const struct mqb_schema_key fan_keys[] = {
	COMMON_KEYS, OPTIMISTIC,
	STATE("template: on or off"),
	FAN_KEYS(TPL, ACT, IC, IC),
	LEGACY("fans", "legacy layout: mapping of object ids to fans"),
};
#define FAN_LEGACY_TPL(k_, i, what) LTPL(k_ "_template", i, what)
static const struct mqb_schema_key fan_legacy_keys[] = {
	LEGACY_COMMON,
	LSTATE("template: on or off"),
	FAN_KEYS(FAN_LEGACY_TPL, LACT, LC, LC),
};

struct fan_priv {
	int on;
	double percentage;
	char *preset, *direction;
	int oscillating;         /* -1 unknown */
	unsigned speeds;
};

static void fan_check(const struct tpl_conf *c, const struct mqb_conf_node *node,
		      const char *path, struct mqb_conf_errors *errs)
{
	check_required(c, F_ON, "turn_on", node, path, errs);
	check_required(c, F_OFF, "turn_off", node, path, errs);
	const struct mqb_conf_node *p = c->x[F_PRESETS];
	if (p && mqb_conf_kind(p) != MQB_CONF_SEQ)
		mqb_conf_error_at(errs, p, path, "preset_modes: expected a list of strings");
}

static int fan_init(struct tent *t, struct mqb_entity_info *info)
{
	struct fan_priv *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	t->priv = f;
	f->on = -1;
	f->percentage = NAN;
	f->oscillating = -1;
	f->speeds = t->conf.n[0] > 0 ? (unsigned)t->conf.n[0] : 100;
	if (!tpl_has_state(t)) {
		f->on = 0;
		info->state = "off";
	}
	return 0;
}

static void fan_render(struct tent *t, const char *s, size_t len)
{
	struct fan_priv *f = t->priv;
	if (s) {
		static const char *const valid[] = {"on", "off", "true", "false", NULL};
		size_t k = len;
		const char *v = mqb_strip(s, &k);
		const char *st = one_of(t, v, k, valid);
		f->on = !st ? -1 : strcmp(st, "on") == 0 || strcmp(st, "true") == 0;
		tpl_set_state(t, f->on < 0 ? NULL : f->on ? "on" : "off");
	}
	if (tpl_has(t, F_PCT))
		f->percentage = number_in(t, F_PCT, 0, 100);
	if (tpl_has(t, F_PRESET)) {
		free(f->preset);
		f->preset = string_of(t, F_PRESET);
		if (f->preset && !in_list(t->lists[F_PRESETS], f->preset)) {
			tpl_bad_value(t, F_PRESET, "is not one of the preset modes", f->preset,
				      strlen(f->preset));
			free(f->preset);
			f->preset = NULL;
		}
	}
	if (tpl_has(t, F_OSC)) {
		size_t n;
		const char *v = tpl_val(t, F_OSC, &n);
		f->oscillating = v ? tres_bool(v, n, true) : -1;
	}
	if (tpl_has(t, F_DIR)) {
		free(f->direction);
		f->direction = string_of(t, F_DIR);
		if (f->direction && strcmp(f->direction, "forward") && strcmp(f->direction, "reverse")) {
			tpl_bad_value(t, F_DIR, "is neither forward nor reverse", f->direction,
				      strlen(f->direction));
			free(f->direction);
			f->direction = NULL;
		}
	}
}

static void fan_attributes(struct tent *t, json_t *a)
{
	struct fan_priv *f = t->priv;
	if (t->scripts[F_SET_PCT] || tpl_has(t, F_PCT)) {
		set_num(a, "percentage", f->on == 0 ? 0 : round(f->percentage));
		set_real(a, "percentage_step", 100.0 / f->speeds);
	}
	if (t->lists[F_PRESETS]) {
		json_object_set(a, "preset_modes", t->lists[F_PRESETS]);
		set_str(a, "preset_mode", f->preset);
	}
	if (t->scripts[F_SET_OSC] || tpl_has(t, F_OSC))
		json_object_set_new(a, "oscillating", f->oscillating < 0 ? json_null()
						      : json_boolean(f->oscillating));
	if (t->scripts[F_SET_DIR] || tpl_has(t, F_DIR))
		set_str(a, "direction", f->direction);
}

static int fan_discovery(struct tent *t, json_t *d)
{
	json_t *feats = json_array();
	if (t->conf.x[F_SET_PCT])
		json_array_append_new(feats, json_string("percentage"));
	if (t->conf.x[F_SET_PRESET] && t->lists[F_PRESETS]) {
		json_array_append_new(feats, json_string("preset_mode"));
		json_object_set(d, "preset_modes", t->lists[F_PRESETS]);
	}
	if (t->conf.x[F_SET_OSC])
		json_array_append_new(feats, json_string("oscillation"));
	if (t->conf.x[F_SET_DIR])
		json_array_append_new(feats, json_string("direction"));
	return json_object_set_new(d, "_features", feats);
}

static void fan_on_state(struct tent *t, int on)
{
	struct fan_priv *f = t->priv;
	if (!tpl_has_state(t) || t->conf.b[0]) {
		f->on = on;
		tpl_set_state(t, on ? "on" : "off");
	}
}

static int fan_set_percentage(struct tent *t, double pct)
{
	struct fan_priv *f = t->priv;
	f->percentage = pct;
	free(f->preset);
	f->preset = NULL;
	int rc = tpl_run(t, F_SET_PCT, args("percentage", json_integer((json_int_t)pct)));
	fan_on_state(t, pct != 0);
	tpl_publish(t);
	return rc;
}

static int fan_set_preset(struct tent *t, const char *mode)
{
	struct fan_priv *f = t->priv;
	if (!in_list(t->lists[F_PRESETS], mode)) {
		MQB_LOG_WARNING(SUB, "%s: '%s' is not one of its preset modes", mqb_entity_id(t->e),
				mode);
		return -EINVAL;
	}
	free(f->preset);
	f->preset = strdup(mode);
	f->percentage = NAN;
	int rc = tpl_run(t, F_SET_PRESET, args("preset_mode", json_string(mode)));
	fan_on_state(t, 1);
	tpl_publish(t);
	return rc;
}

static int fan_command(struct tent *t, const char *service, const json_t *data)
{
	struct fan_priv *f = t->priv;
	json_t *pct = json_object_get(data, "percentage");
	json_t *preset = json_object_get(data, "preset_mode");
	if (strcmp(service, "turn_on") == 0) {
		json_t *v = json_pack("{s:O?,s:O?}", "percentage", pct, "preset_mode", preset);
		int rc = tpl_run(t, F_ON, v);
		if (rc == 0 && json_is_string(preset))
			rc = fan_set_preset(t, json_string_value(preset));
		else if (rc == 0 && json_is_number(pct))
			rc = fan_set_percentage(t, json_number_value(pct));
		if (rc == 0) {
			fan_on_state(t, 1);
			tpl_publish(t);
		}
		return rc;
	}
	if (strcmp(service, "turn_off") == 0) {
		int rc = tpl_run(t, F_OFF, NULL);
		if (rc == 0) {
			fan_on_state(t, 0);
			tpl_publish(t);
		}
		return rc;
	}
	if (strcmp(service, "set_percentage") == 0)
		return json_is_number(pct) ? fan_set_percentage(t, json_number_value(pct)) : -EINVAL;
	if (strcmp(service, "increase_speed") == 0 || strcmp(service, "decrease_speed") == 0) {
		json_t *st = json_object_get(data, "percentage_step");
		double step = json_is_number(st) ? json_number_value(st) : 100.0 / f->speeds;
		double now = isnan(f->percentage) ? 0 : f->percentage;
		double to = service[0] == 'i' ? fmin(100, now + step) : fmax(0, now - step);
		return fan_set_percentage(t, round(to));
	}
	if (strcmp(service, "set_preset_mode") == 0)
		return json_is_string(preset) ? fan_set_preset(t, json_string_value(preset)) : -EINVAL;
	if (strcmp(service, "oscillate") == 0) {
		json_t *o = json_object_get(data, "oscillating");
		if (!json_is_boolean(o))
			return -EINVAL;
		int rc = tpl_run(t, F_SET_OSC, args("oscillating", json_boolean(json_is_true(o))));
		if (rc == 0 && (!tpl_has(t, F_OSC) || t->conf.b[0])) {
			f->oscillating = json_is_true(o);
			tpl_publish(t);
		}
		return rc;
	}
	if (strcmp(service, "set_direction") == 0) {
		const char *d = json_string_value(json_object_get(data, "direction"));
		if (!d || (strcmp(d, "forward") && strcmp(d, "reverse")))
			return -EINVAL;
		int rc = tpl_run(t, F_SET_DIR, args("direction", json_string(d)));
		if (rc == 0 && (!tpl_has(t, F_DIR) || t->conf.b[0])) {
			free(f->direction);
			f->direction = strdup(d);
			tpl_publish(t);
		}
		return rc;
	}
	return -ENOTSUP;
}

static void fan_free(struct tent *t)
{
	struct fan_priv *f = t->priv;
	if (f) {
		free(f->preset);
		free(f->direction);
	}
	priv_free(t);
}

static const struct tpl_kind fan = {
	.domain = "fan", .default_name = "Template Fan", .schema = &tpl_kind_schemas[K_FAN],
	.legacy = &(const struct mqb_schema)MQB_SCHEMA("fan.template.fans", fan_legacy_keys),
	.legacy_key = "fans", .state_key = "state", .legacy_state_key = "value_template",
	.slots = fan_slots, .names = fan_names, .check = fan_check, .init = fan_init,
	.render = fan_render, .attributes = fan_attributes, .discovery = fan_discovery,
	.command = fan_command, .free = fan_free,
};

/* ---- lock (template/lock.py) --------------------------------------------- */

/* The legacy layout's lock is the item itself (lock: - platform:
 * template), with the older names beside the modern ones. */
enum { LK_CODE, LK_LOCK, LK_UNLOCK, LK_OPEN };
static const enum tpl_slot lock_slots[TPL_SLOTS] = {
	[LK_CODE] = TS_TEMPLATE, [LK_LOCK] = TS_ACTION, [LK_UNLOCK] = TS_ACTION,
	[LK_OPEN] = TS_ACTION};
static const char *const lock_names[TPL_SLOTS] = {
	[LK_CODE] = "code_format", [LK_LOCK] = "lock", [LK_UNLOCK] = "unlock",
	[LK_OPEN] = "open"};

static const struct mqb_schema_key lock_keys[] = {
	COMMON_KEYS, OPTIMISTIC,
	STATE("template: locked, unlocked, locking, unlocking, jammed, open, opening, true or "
	      "false"),
	{.key = "value_template", .type = MQB_S_TEMPLATE, IC(state),
	 .doc = "the state's template (legacy layout)"},
	TPL("code_format", LK_CODE, "template of the regular expression a code must match"),
	TPL("code_format_template", LK_CODE, "the same (legacy layout)"),
	ACT("lock", LK_LOCK, "the actions lock.lock runs, with `code` (required)"),
	ACT("unlock", LK_UNLOCK, "the actions lock.unlock runs, with `code` (required)"),
	ACT("open", LK_OPEN, "the actions lock.open runs, with `code`"),
	{.key = "availability_template", .type = MQB_S_TEMPLATE, IC(availability),
	 .doc = "availability's template (legacy layout)"},
};

struct lock_priv {
	char *code_format;
};

static void lock_check(const struct tpl_conf *c, const struct mqb_conf_node *node,
		       const char *path, struct mqb_conf_errors *errs)
{
	check_required(c, LK_LOCK, "lock", node, path, errs);
	check_required(c, LK_UNLOCK, "unlock", node, path, errs);
}

static int lock_init(struct tent *t, struct mqb_entity_info *info)
{
	struct lock_priv *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	t->priv = l;
	if (!tpl_has_state(t))
		info->state = "unlocked";
	return 0;
}

static void lock_render(struct tent *t, const char *s, size_t len)
{
	struct lock_priv *l = t->priv;
	if (tpl_has(t, LK_CODE)) {
		free(l->code_format);
		l->code_format = string_of(t, LK_CODE);
	}
	if (!s)
		return;
	static const char *const valid[] = {"locked", "unlocked", "locking", "unlocking", "jammed",
					    "open", "opening", "true", "on", "false", "off", NULL};
	size_t k = len;
	const char *v = mqb_strip(s, &k);
	const char *st = one_of(t, v, k, valid);
	if (st && (strcmp(st, "true") == 0 || strcmp(st, "on") == 0))
		st = "locked";
	else if (st && (strcmp(st, "false") == 0 || strcmp(st, "off") == 0))
		st = "unlocked";
	tpl_set_state(t, st);
}

static void lock_attributes(struct tent *t, json_t *a)
{
	struct lock_priv *l = t->priv;
	set_str(a, "code_format", l->code_format);
}

static int lock_discovery(struct tent *t, json_t *d)
{
	int rc = 0;
	if (t->conf.x[LK_OPEN]) {
		json_t *f = json_array();
		json_array_append_new(f, json_string("open"));
		rc |= json_object_set_new(d, "_features", f);
	}
	const struct mqb_conf_node *cf = t->conf.x[LK_CODE];
	const char *s = cf ? mqb_conf_scalar(cf, NULL) : NULL;
	if (s && !strstr(s, "{{") && !strstr(s, "{%"))
		rc |= json_object_set_new(d, "code_format", json_string(s));
	else if (s)
		rc |= json_object_set_new(d, "code_format", json_string(".+"));
	return rc;
}

/* Home Assistant's LockEntity: a code must match the code format
 * (re.match) when there is one. */
static bool code_ok(struct tent *t, const char *code)
{
	struct lock_priv *l = t->priv;
	if (!l->code_format)
		return true;
	if (!code)
		return false;
	static const char text[] = "{{ code is match(fmt) }}";
	struct mqb_template *tp = NULL;
	struct mqb_tpl_error e;
	char *out = NULL;
	size_t len = 0;
	json_t *vars = json_pack("{s:s,s:s}", "code", code, "fmt", l->code_format);
	bool ok = vars && mqb_template_compile(text, sizeof text - 1, &tp, &e) == 0 &&
		  mqb_template_render(tp, &(struct mqb_tpl_vars){.variables = vars,
								 .core = t->hub->core},
				      NULL, &out, &len, &e) == 0 &&
		  len == 4 && memcmp(out, "True", 4) == 0;
	free(out);
	mqb_template_free(tp);
	json_decref(vars);
	return ok;
}

static int lock_command(struct tent *t, const char *service, const json_t *data)
{
	static const struct {
		const char *service, *state;
		int slot;
	} cmds[] = {{"lock", "locked", LK_LOCK},
		    {"unlock", "unlocked", LK_UNLOCK},
		    {"open", "open", LK_OPEN}};
	const char *code = json_string_value(json_object_get(data, "code"));
	for (size_t i = 0; i < MQB_ARRAY_SIZE(cmds); i++) {
		if (strcmp(service, cmds[i].service) != 0)
			continue;
		if (!t->scripts[cmds[i].slot])
			return -ENOTSUP;
		if (!code_ok(t, code)) {
			MQB_LOG_WARNING(SUB, "%s: %s: the code does not match its code format",
					mqb_entity_id(t->e), service);
			return -EINVAL;
		}
		int rc = tpl_run(t, cmds[i].slot, args("code", code ? json_string(code) : NULL));
		if (rc == 0 && (!tpl_has_state(t) || t->conf.b[0])) {
			tpl_set_state(t, cmds[i].state);
			tpl_publish(t);
		}
		return rc;
	}
	return -ENOTSUP;
}

static void lock_free(struct tent *t)
{
	struct lock_priv *l = t->priv;
	if (l)
		free(l->code_format);
	priv_free(t);
}

static const struct tpl_kind lock = {
	.domain = "lock", .default_name = "Template Lock", .schema = &tpl_kind_schemas[K_LOCK],
	.state_key = "state", .slots = lock_slots, .names = lock_names, .check = lock_check,
	.init = lock_init, .render = lock_render, .attributes = lock_attributes,
	.discovery = lock_discovery, .command = lock_command, .free = lock_free,
};

/* ---- alarm_control_panel (template/alarm_control_panel.py) --------------- */

enum { A_AWAY, A_HOME, A_NIGHT, A_VACATION, A_BYPASS, A_DISARM, A_TRIGGER };
static const enum tpl_slot alarm_slots[TPL_SLOTS] = {
	[A_AWAY] = TS_ACTION,   [A_HOME] = TS_ACTION,   [A_NIGHT] = TS_ACTION,
	[A_VACATION] = TS_ACTION, [A_BYPASS] = TS_ACTION, [A_DISARM] = TS_ACTION,
	[A_TRIGGER] = TS_ACTION};
static const char *const alarm_names[TPL_SLOTS] = {
	[A_AWAY] = "arm_away", [A_HOME] = "arm_home", [A_NIGHT] = "arm_night",
	[A_VACATION] = "arm_vacation", [A_BYPASS] = "arm_custom_bypass", [A_DISARM] = "disarm",
	[A_TRIGGER] = "trigger"};
static const char *const code_formats[] = {"number", "text", "no_code", NULL};

#define ALARM_KEYS(A, L)                                                                   \
	A("arm_away", A_AWAY, "the actions alarm_arm_away runs, with `code`"),            \
	A("arm_home", A_HOME, "the actions alarm_arm_home runs, with `code`"),            \
	A("arm_night", A_NIGHT, "the actions alarm_arm_night runs, with `code`"),         \
	A("arm_vacation", A_VACATION, "the actions alarm_arm_vacation runs, with `code`"), \
	A("arm_custom_bypass", A_BYPASS,                                                   \
	  "the actions alarm_arm_custom_bypass runs, with `code`"),                        \
	A("disarm", A_DISARM, "the actions alarm_disarm runs, with `code`"),              \
	A("trigger", A_TRIGGER, "the actions alarm_trigger runs, with `code`"),           \
	{.key = "code_arm_required", .type = MQB_S_BOOL, .def = "true", L(k.b[1]),         \
	 .doc = "whether arming takes a code"},                                            \
	{.key = "code_format", .type = MQB_S_ENUM, .choices = code_formats, .def = "number", \
	 L(k.s[0]), .doc = "number, text or no_code"}

static const struct mqb_schema_key alarm_keys[] = {
	COMMON_KEYS,
	STATE("template of the state: disarmed, armed_home, armed_away, ..., triggered"),
	ALARM_KEYS(ACT, IC),
	LEGACY("panels", "legacy layout: mapping of object ids to panels"),
};
static const struct mqb_schema_key alarm_legacy_keys[] = {
	LEGACY_COMMON,
	{.key = "name", .type = MQB_S_STRING, LC(friendly_name), .doc = "name shown"},
	LSTATE("template of the state"),
	ALARM_KEYS(LACT, LC),
};

static const char *const alarm_states[] = {"disarmed", "armed_home", "armed_away", "armed_night",
					   "armed_vacation", "armed_custom_bypass", "pending",
					   "arming", "disarming", "triggered", NULL};

static int alarm_init(struct tent *t, struct mqb_entity_info *info)
{
	(void)t;
	(void)info;
	return 0;
}

static void alarm_render(struct tent *t, const char *s, size_t len)
{
	if (!s)
		return;
	size_t k = len;
	const char *v = mqb_strip(s, &k);
	tpl_set_state(t, one_of(t, v, k, alarm_states));
}

static const char *alarm_code_format(const struct tent *t)
{
	const char *f = t->conf.s[0] ? t->conf.s[0] : "number";
	return strcmp(f, "no_code") == 0 ? NULL : f;
}

static void alarm_attributes(struct tent *t, json_t *a)
{
	set_str(a, "code_format", alarm_code_format(t));
	json_object_set_new(a, "code_arm_required", json_boolean(t->conf.b[1]));
}

static int alarm_discovery(struct tent *t, json_t *d)
{
	static const struct {
		int slot;
		const char *feature;
	} feats[] = {{A_HOME, "arm_home"},         {A_AWAY, "arm_away"},
		     {A_NIGHT, "arm_night"},       {A_VACATION, "arm_vacation"},
		     {A_BYPASS, "arm_custom_bypass"}, {A_TRIGGER, "trigger"}};
	json_t *f = json_array();
	for (size_t i = 0; f && i < MQB_ARRAY_SIZE(feats); i++)
		if (t->conf.x[feats[i].slot])
			json_array_append_new(f, json_string(feats[i].feature));
	int rc = json_object_set_new(d, "supported_features", f);
	const char *cf = alarm_code_format(t);
	if (cf)
		rc |= json_object_set_new(d, "code", json_string(strcmp(cf, "number") == 0
									? "REMOTE_CODE"
									: "REMOTE_CODE_TEXT"));
	rc |= json_object_set_new(d, "code_arm_required", json_boolean(t->conf.b[1]));
	rc |= json_object_set_new(d, "code_disarm_required", json_boolean(cf != NULL));
	return rc;
}

static int alarm_command(struct tent *t, const char *service, const json_t *data)
{
	static const struct {
		const char *service, *state;
		int slot;
		bool arm;
	} cmds[] = {
		{"alarm_arm_away", "armed_away", A_AWAY, true},
		{"alarm_arm_home", "armed_home", A_HOME, true},
		{"alarm_arm_night", "armed_night", A_NIGHT, true},
		{"alarm_arm_vacation", "armed_vacation", A_VACATION, true},
		{"alarm_arm_custom_bypass", "armed_custom_bypass", A_BYPASS, true},
		{"alarm_disarm", "disarmed", A_DISARM, false},
		{"alarm_trigger", "triggered", A_TRIGGER, false},
	};
	const char *code = json_string_value(json_object_get(data, "code"));
	for (size_t i = 0; i < MQB_ARRAY_SIZE(cmds); i++) {
		if (strcmp(service, cmds[i].service) != 0)
			continue;
		/* Home Assistant: arming without a code where one is required */
		if (cmds[i].arm && t->conf.b[1] && alarm_code_format(t) && (!code || !*code)) {
			MQB_LOG_WARNING(SUB, "%s: %s needs a code", mqb_entity_id(t->e), service);
			return -EINVAL;
		}
		int rc = tpl_run(t, cmds[i].slot, args("code", code ? json_string(code) : NULL));
		if (rc == 0 && !tpl_has_state(t)) {
			tpl_set_state(t, cmds[i].state);
			tpl_publish(t);
		}
		return rc;
	}
	return -ENOTSUP;
}

static const struct tpl_kind alarm = {
	.domain = "alarm_control_panel", .default_name = "Template Alarm Control Panel",
	.schema = &tpl_kind_schemas[K_ALARM],
	.legacy = &(const struct mqb_schema)MQB_SCHEMA("alarm_control_panel.template.panels",
							 alarm_legacy_keys),
	.legacy_key = "panels", .state_key = "state", .legacy_state_key = "value_template",
	.slots = alarm_slots, .names = alarm_names, .init = alarm_init, .render = alarm_render,
	.attributes = alarm_attributes, .discovery = alarm_discovery, .command = alarm_command,
};

/* ---- vacuum (template/vacuum.py) ----------------------------------------- */

enum { V_BATTERY, V_FAN, V_START, V_PAUSE, V_STOP, V_RETURN, V_SPOT, V_LOCATE, V_SET_FAN,
       V_SPEEDS };
static const enum tpl_slot vacuum_slots[TPL_SLOTS] = {
	[V_BATTERY] = TS_TEMPLATE, [V_FAN] = TS_TEMPLATE,  [V_START] = TS_ACTION,
	[V_PAUSE] = TS_ACTION,     [V_STOP] = TS_ACTION,   [V_RETURN] = TS_ACTION,
	[V_SPOT] = TS_ACTION,      [V_LOCATE] = TS_ACTION, [V_SET_FAN] = TS_ACTION,
	[V_SPEEDS] = TS_LIST};
static const char *const vacuum_names[TPL_SLOTS] = {
	[V_BATTERY] = "battery_level", [V_FAN] = "fan_speed", [V_START] = "start",
	[V_PAUSE] = "pause", [V_STOP] = "stop", [V_RETURN] = "return_to_base",
	[V_SPOT] = "clean_spot", [V_LOCATE] = "locate", [V_SET_FAN] = "set_fan_speed",
	[V_SPEEDS] = "fan_speeds"};

#define VACUUM_KEYS(T, A, L)                                                               \
	T("battery_level", V_BATTERY, "template of the battery level, 0 to 100"),        \
	T("fan_speed", V_FAN, "template of the fan speed"),                                \
	A("start", V_START, "the actions vacuum.start runs (required)"),                  \
	A("pause", V_PAUSE, "the actions vacuum.pause runs"),                             \
	A("stop", V_STOP, "the actions vacuum.stop runs"),                                \
	A("return_to_base", V_RETURN, "the actions vacuum.return_to_base runs"),          \
	A("clean_spot", V_SPOT, "the actions vacuum.clean_spot runs"),                    \
	A("locate", V_LOCATE, "the actions vacuum.locate runs"),                          \
	A("set_fan_speed", V_SET_FAN, "actions setting the fan speed, with `fan_speed`"),  \
	{.key = "fan_speeds", .type = MQB_S_ANY, L(k.x[V_SPEEDS]),                        \
	 .doc = "the fan speeds (a list)"}

static const struct mqb_schema_key vacuum_keys[] = {
	COMMON_KEYS,
	STATE("template: cleaning, docked, paused, idle, returning or error"),
	VACUUM_KEYS(TPL, ACT, IC),
	LEGACY("vacuums", "legacy layout: mapping of object ids to vacuums"),
};
#define VACUUM_LEGACY_TPL(k_, i, what) LTPL(k_ "_template", i, what)
static const struct mqb_schema_key vacuum_legacy_keys[] = {
	LEGACY_COMMON,
	LSTATE("template of the state"),
	VACUUM_KEYS(VACUUM_LEGACY_TPL, LACT, LC),
};

struct vacuum_priv {
	double battery;
	char *fan_speed;
};

static void vacuum_check(const struct tpl_conf *c, const struct mqb_conf_node *node,
			 const char *path, struct mqb_conf_errors *errs)
{
	check_required(c, V_START, "start", node, path, errs);
	const struct mqb_conf_node *p = c->x[V_SPEEDS];
	if (p && mqb_conf_kind(p) != MQB_CONF_SEQ)
		mqb_conf_error_at(errs, p, path, "fan_speeds: expected a list of strings");
}

static int vacuum_init(struct tent *t, struct mqb_entity_info *info)
{
	(void)info;
	struct vacuum_priv *v = calloc(1, sizeof *v);
	if (!v)
		return -ENOMEM;
	v->battery = NAN;
	t->priv = v;
	return 0;
}

static void vacuum_render(struct tent *t, const char *s, size_t len)
{
	struct vacuum_priv *v = t->priv;
	if (s) {
		static const char *const valid[] = {"cleaning", "docked", "paused", "idle",
						    "returning", "error", NULL};
		size_t k = len;
		const char *r = mqb_strip(s, &k);
		tpl_set_state(t, one_of(t, r, k, valid));
	}
	if (tpl_has(t, V_BATTERY))
		v->battery = number_in(t, V_BATTERY, 0, 100);
	if (tpl_has(t, V_FAN)) {
		free(v->fan_speed);
		v->fan_speed = string_of(t, V_FAN);
		if (v->fan_speed && !in_list(t->lists[V_SPEEDS], v->fan_speed)) {
			tpl_bad_value(t, V_FAN, "is not one of the fan speeds", v->fan_speed,
				      strlen(v->fan_speed));
			free(v->fan_speed);
			v->fan_speed = NULL;
		}
	}
}

static void vacuum_attributes(struct tent *t, json_t *a)
{
	struct vacuum_priv *v = t->priv;
	if (tpl_has(t, V_BATTERY))
		set_num(a, "battery_level", round(v->battery));
	if (t->lists[V_SPEEDS]) {
		json_object_set(a, "fan_speed_list", t->lists[V_SPEEDS]);
		set_str(a, "fan_speed", v->fan_speed);
	}
}

static int vacuum_discovery(struct tent *t, json_t *d)
{
	static const struct {
		int slot;
		const char *feature;
	} feats[] = {{V_START, "start"},     {V_PAUSE, "pause"},      {V_STOP, "stop"},
		     {V_RETURN, "return_home"}, {V_SPOT, "clean_spot"}, {V_LOCATE, "locate"},
		     {V_SET_FAN, "fan_speed"}, {V_BATTERY, "battery"}};
	json_t *f = json_array();
	for (size_t i = 0; f && i < MQB_ARRAY_SIZE(feats); i++)
		if (t->conf.x[feats[i].slot])
			json_array_append_new(f, json_string(feats[i].feature));
	json_array_append_new(f, json_string("status"));
	int rc = json_object_set_new(d, "supported_features", f);
	if (t->lists[V_SPEEDS])
		rc |= json_object_set(d, "fan_speed_list", t->lists[V_SPEEDS]);
	return rc;
}

static int vacuum_command(struct tent *t, const char *service, const json_t *data)
{
	static const struct {
		const char *service, *state;
		int slot;
	} cmds[] = {{"start", "cleaning", V_START},     {"pause", "paused", V_PAUSE},
		    {"stop", "idle", V_STOP},            {"return_to_base", "returning", V_RETURN},
		    {"clean_spot", "cleaning", V_SPOT},  {"locate", NULL, V_LOCATE}};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(cmds); i++) {
		if (strcmp(service, cmds[i].service) != 0)
			continue;
		if (!t->scripts[cmds[i].slot])
			return -ENOTSUP;
		int rc = tpl_run(t, cmds[i].slot, NULL);
		if (rc == 0 && cmds[i].state && !tpl_has_state(t)) {
			tpl_set_state(t, cmds[i].state);
			tpl_publish(t);
		}
		return rc;
	}
	if (strcmp(service, "set_fan_speed") == 0) {
		struct vacuum_priv *v = t->priv;
		const char *s = json_string_value(json_object_get(data, "fan_speed"));
		if (!s || !in_list(t->lists[V_SPEEDS], s) || !t->scripts[V_SET_FAN])
			return -EINVAL;
		int rc = tpl_run(t, V_SET_FAN, args("fan_speed", json_string(s)));
		if (rc == 0 && !tpl_has(t, V_FAN)) {
			free(v->fan_speed);
			v->fan_speed = strdup(s);
			tpl_publish(t);
		}
		return rc;
	}
	return -ENOTSUP;
}

static void vacuum_free(struct tent *t)
{
	struct vacuum_priv *v = t->priv;
	if (v)
		free(v->fan_speed);
	priv_free(t);
}

static const struct tpl_kind vacuum = {
	.domain = "vacuum", .default_name = "Template Vacuum", .schema = &tpl_kind_schemas[K_VACUUM],
	.legacy = &(const struct mqb_schema)MQB_SCHEMA("vacuum.template.vacuums",
							 vacuum_legacy_keys),
	.legacy_key = "vacuums", .state_key = "state", .legacy_state_key = "value_template",
	.slots = vacuum_slots, .names = vacuum_names, .check = vacuum_check, .init = vacuum_init,
	.render = vacuum_render, .attributes = vacuum_attributes, .discovery = vacuum_discovery,
	.command = vacuum_command, .free = vacuum_free,
};

/* ---- update (template/update.py) ----------------------------------------- */

enum { U_INSTALLED, U_LATEST, U_PROGRESS, U_SUMMARY, U_URL, U_TITLE, U_PERCENT, U_INSTALL };
static const enum tpl_slot update_slots[TPL_SLOTS] = {
	[U_INSTALLED] = TS_TEMPLATE, [U_LATEST] = TS_TEMPLATE, [U_PROGRESS] = TS_TEMPLATE,
	[U_SUMMARY] = TS_TEMPLATE,   [U_URL] = TS_TEMPLATE,    [U_TITLE] = TS_TEMPLATE,
	[U_PERCENT] = TS_TEMPLATE,   [U_INSTALL] = TS_ACTION};
static const char *const update_names[TPL_SLOTS] = {
	[U_INSTALLED] = "installed_version", [U_LATEST] = "latest_version",
	[U_PROGRESS] = "in_progress", [U_SUMMARY] = "release_summary", [U_URL] = "release_url",
	[U_TITLE] = "title", [U_PERCENT] = "update_percentage", [U_INSTALL] = "install"};

static const struct mqb_schema_key update_keys[] = {
	COMMON_KEYS, DEVICE_CLASS,
	TPL("installed_version", U_INSTALLED, "template of the version installed (required)"),
	TPL("latest_version", U_LATEST, "template of the latest version (required)"),
	TPL("in_progress", U_PROGRESS, "template: whether it is installing"),
	TPL("release_summary", U_SUMMARY, "template of the release's summary"),
	TPL("release_url", U_URL, "template of the release's address"),
	TPL("title", U_TITLE, "template of the software's title"),
	TPL("update_percentage", U_PERCENT, "template of the installation's progress"),
	ACT("install", U_INSTALL, "the actions update.install runs, with `specific_version` and "
				  "`backup`"),
	{.key = "backup", .type = MQB_S_BOOL, .def = "false", IC(k.b[0]),
	 .doc = "whether install takes a backup"},
	{.key = "specific_version", .type = MQB_S_BOOL, .def = "false", IC(k.b[1]),
	 .doc = "whether install takes a version"},
};

static void update_check(const struct tpl_conf *c, const struct mqb_conf_node *node,
			 const char *path, struct mqb_conf_errors *errs)
{
	check_required(c, U_INSTALLED, "installed_version", node, path, errs);
	check_required(c, U_LATEST, "latest_version", node, path, errs);
}

/* Whether version a is newer than b: their dotted numbers compared in
 * turn (AwesomeVersion's usual case), else their text differing. */
static bool newer(const char *a, const char *b)
{
	const char *p = a, *q = b;
	while (*p || *q) {
		char *pe, *qe;
		unsigned long x = strtoul(p, &pe, 10), y = strtoul(q, &qe, 10);
		if (pe == p || qe == q)
			return strcmp(a, b) != 0;
		if (x != y)
			return x > y;
		p = *pe == '.' ? pe + 1 : pe;
		q = *qe == '.' ? qe + 1 : qe;
		if ((*pe && *pe != '.') || (*qe && *qe != '.'))
			return strcmp(p, q) > 0;
	}
	return false;
}

static void update_render(struct tent *t, const char *s, size_t len)
{
	(void)s, (void)len;
	char *inst = string_of(t, U_INSTALLED), *latest = string_of(t, U_LATEST);
	tpl_set_state(t, !inst || !latest ? NULL : newer(latest, inst) ? "on" : "off");
	free(inst);
	free(latest);
}

static void update_attributes(struct tent *t, json_t *a)
{
	static const int strings[] = {U_INSTALLED, U_LATEST, U_SUMMARY, U_URL, U_TITLE};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(strings); i++) {
		char *v = string_of(t, strings[i]);
		set_str(a, update_names[strings[i]], v);
		free(v);
	}
	size_t n;
	const char *p = tpl_val(t, U_PROGRESS, &n);
	json_object_set_new(a, "in_progress", json_boolean(p && tres_bool(p, n, false) == 1));
	set_num(a, "update_percentage",
		tpl_has(t, U_PERCENT) ? number_in(t, U_PERCENT, 0, 100) : NAN);
	json_object_set_new(a, "skipped_version", json_null());
	json_object_set_new(a, "auto_update", json_false());
	json_object_set_new(a, "display_precision", json_integer(0));
}

static int update_discovery(struct tent *t, json_t *d)
{
	if (!t->conf.x[U_INSTALL])
		return 0;
	json_t *f = json_array();
	json_array_append_new(f, json_string("install"));
	return json_object_set_new(d, "_features", f);
}

static int update_command(struct tent *t, const char *service, const json_t *data)
{
	if (strcmp(service, "install") != 0 || !t->scripts[U_INSTALL])
		return -ENOTSUP;
	json_t *v = json_pack("{s:O?,s:b}", "specific_version", json_object_get(data, "version"),
			      "backup", json_is_true(json_object_get(data, "backup")));
	return tpl_run(t, U_INSTALL, v);
}

static const struct tpl_kind update = {
	.domain = "update", .default_name = "Template Update", .schema = &tpl_kind_schemas[K_UPDATE],
	.slots = update_slots, .names = update_names, .check = update_check,
	.render = update_render, .attributes = update_attributes, .discovery = update_discovery,
	.command = update_command,
};

/* ---- weather (template/weather.py) --------------------------------------- */

/* The legacy layout's weather is the item itself (weather: - platform:
 * template), each template's name ending in _template. */
enum { W_TEMP, W_HUMIDITY, W_PRESSURE, W_WIND, W_BEARING, W_OZONE, W_VISIBILITY, W_DEW,
       W_APPARENT, W_CLOUD, W_GUST, W_UV, W_ATTRIBUTION, W_DAILY, W_HOURLY, W_TWICE };
static const enum tpl_slot weather_slots[TPL_SLOTS] = {
	[W_TEMP] = TS_TEMPLATE,    [W_HUMIDITY] = TS_TEMPLATE, [W_PRESSURE] = TS_TEMPLATE,
	[W_WIND] = TS_TEMPLATE,    [W_BEARING] = TS_TEMPLATE,  [W_OZONE] = TS_TEMPLATE,
	[W_VISIBILITY] = TS_TEMPLATE, [W_DEW] = TS_TEMPLATE,   [W_APPARENT] = TS_TEMPLATE,
	[W_CLOUD] = TS_TEMPLATE,   [W_GUST] = TS_TEMPLATE,     [W_UV] = TS_TEMPLATE,
	[W_ATTRIBUTION] = TS_TEMPLATE, [W_DAILY] = TS_TEMPLATE, [W_HOURLY] = TS_TEMPLATE,
	[W_TWICE] = TS_TEMPLATE};
static const char *const weather_names[TPL_SLOTS] = {
	[W_TEMP] = "temperature", [W_HUMIDITY] = "humidity", [W_PRESSURE] = "pressure",
	[W_WIND] = "wind_speed", [W_BEARING] = "wind_bearing", [W_OZONE] = "ozone",
	[W_VISIBILITY] = "visibility", [W_DEW] = "dew_point",
	[W_APPARENT] = "apparent_temperature", [W_CLOUD] = "cloud_coverage",
	[W_GUST] = "wind_gust_speed", [W_UV] = "uv_index", [W_ATTRIBUTION] = "attribution",
	[W_DAILY] = "forecast_daily", [W_HOURLY] = "forecast_hourly",
	[W_TWICE] = "forecast_twice_daily"};

#define WEATHER_TPL(k_, i, what)                                                           \
	TPL(k_, i, what), TPL(k_ "_template", i, "the same (legacy layout)")
#define UNIT(k_, i, what) {.key = k_, .type = MQB_S_STRING, IC(k.s[i]), .doc = what}

static const struct mqb_schema_key weather_keys[] = {
	COMMON_KEYS,
	{.key = "condition", .type = MQB_S_TEMPLATE, IC(state),
	 .doc = "template of the condition (required)"},
	{.key = "condition_template", .type = MQB_S_TEMPLATE, IC(state),
	 .doc = "the same (legacy layout)"},
	WEATHER_TPL("temperature", W_TEMP, "template of the temperature"),
	WEATHER_TPL("humidity", W_HUMIDITY, "template of the humidity"),
	WEATHER_TPL("pressure", W_PRESSURE, "template of the air pressure"),
	WEATHER_TPL("wind_speed", W_WIND, "template of the wind speed"),
	WEATHER_TPL("wind_bearing", W_BEARING, "template of the wind's bearing"),
	WEATHER_TPL("ozone", W_OZONE, "template of the ozone level"),
	WEATHER_TPL("visibility", W_VISIBILITY, "template of the visibility"),
	WEATHER_TPL("dew_point", W_DEW, "template of the dew point"),
	WEATHER_TPL("apparent_temperature", W_APPARENT, "template of the felt temperature"),
	WEATHER_TPL("cloud_coverage", W_CLOUD, "template of the cloud coverage"),
	WEATHER_TPL("wind_gust_speed", W_GUST, "template of the gusts' speed"),
	WEATHER_TPL("uv_index", W_UV, "template of the UV index"),
	WEATHER_TPL("attribution", W_ATTRIBUTION, "template of the data's attribution"),
	WEATHER_TPL("forecast_daily", W_DAILY, "accepted; forecasts are not shown"),
	WEATHER_TPL("forecast_hourly", W_HOURLY, "accepted; forecasts are not shown"),
	WEATHER_TPL("forecast_twice_daily", W_TWICE, "accepted; forecasts are not shown"),
	UNIT("temperature_unit", 0, "the temperatures' unit (default °C)"),
	UNIT("pressure_unit", 1, "the pressure's unit (default hPa)"),
	UNIT("wind_speed_unit", 2, "the wind speed's unit (default km/h)"),
	UNIT("visibility_unit", 3, "the visibility's unit (default km)"),
	UNIT("precipitation_unit", 4, "the precipitation's unit (default mm)"),
	{.key = "availability_template", .type = MQB_S_TEMPLATE, IC(availability),
	 .doc = "availability's template (legacy layout)"},
};

static void weather_check(const struct tpl_conf *c, const struct mqb_conf_node *node,
			  const char *path, struct mqb_conf_errors *errs)
{
	(void)c, (void)node, (void)path, (void)errs;
}

static void weather_render(struct tent *t, const char *s, size_t len)
{
	if (!s)
		return;
	size_t k = len;
	const char *v = mqb_strip(s, &k);
	char *c = k && !(k == 4 && strncmp(v, "None", 4) == 0) ? strndup(v, k) : NULL;
	tpl_set_state(t, c);
	free(c);
}

static void weather_attributes(struct tent *t, json_t *a)
{
	static const struct {
		int slot;
		double lo, hi;
	} nums[] = {{W_TEMP, -1e9, 1e9},   {W_HUMIDITY, 0, 100}, {W_PRESSURE, 0, 1e9},
		    {W_WIND, 0, 1e9},       {W_BEARING, -1e9, 1e9}, {W_OZONE, 0, 1e9},
		    {W_VISIBILITY, 0, 1e9}, {W_DEW, -1e9, 1e9},     {W_APPARENT, -1e9, 1e9},
		    {W_CLOUD, 0, 100},      {W_GUST, 0, 1e9},       {W_UV, 0, 1e9}};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(nums); i++)
		if (tpl_has(t, nums[i].slot))
			set_num(a, weather_names[nums[i].slot],
				number_in(t, nums[i].slot, nums[i].lo, nums[i].hi));
	if (tpl_has(t, W_ATTRIBUTION)) {
		char *v = string_of(t, W_ATTRIBUTION);
		set_str(a, "attribution", v);
		free(v);
	}
	static const char *const units[] = {"temperature_unit", "pressure_unit", "wind_speed_unit",
					    "visibility_unit", "precipitation_unit"};
	static const char *const defaults[] = {"°C", "hPa", "km/h", "km", "mm"};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(units); i++)
		set_str(a, units[i], t->conf.s[i] ? t->conf.s[i] : defaults[i]);
}

static const struct tpl_kind weather = {
	.domain = "weather", .default_name = "Template Weather",
	.schema = &tpl_kind_schemas[K_WEATHER], .state_key = "condition", .state_required = true,
	.slots = weather_slots, .names = weather_names, .check = weather_check,
	.render = weather_render, .attributes = weather_attributes,
};

/* ---- the table ----------------------------------------------------------- */

const struct mqb_schema tpl_kind_schemas[TPL_KINDS] = {
	[K_BUTTON] = MQB_SCHEMA("button.template", button_keys),
	[K_NUMBER] = MQB_SCHEMA("number.template", number_keys),
	[K_SELECT] = MQB_SCHEMA("select.template", select_keys),
	[K_LIGHT] = MQB_SCHEMA("light.template", light_keys),
	[K_COVER] = MQB_SCHEMA("cover.template", cover_keys),
	[K_FAN] = MQB_SCHEMA("fan.template", fan_keys),
	[K_LOCK] = MQB_SCHEMA("lock.template", lock_keys),
	[K_ALARM] = MQB_SCHEMA("alarm_control_panel.template", alarm_keys),
	[K_VACUUM] = MQB_SCHEMA("vacuum.template", vacuum_keys),
	[K_UPDATE] = MQB_SCHEMA("update.template", update_keys),
	[K_WEATHER] = MQB_SCHEMA("weather.template", weather_keys),
};

const struct tpl_kind *const tpl_kinds[TPL_KINDS] = {
	[K_BUTTON] = &button, [K_NUMBER] = &number,  [K_SELECT] = &select_,
	[K_LIGHT] = &light,   [K_COVER] = &cover,    [K_FAN] = &fan,
	[K_LOCK] = &lock,     [K_ALARM] = &alarm,    [K_VACUUM] = &vacuum,
	[K_UPDATE] = &update, [K_WEATHER] = &weather,
};
