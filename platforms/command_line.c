/* SPDX-License-Identifier: MIT */
/* The command_line integration (Home Assistant's, both layouts): sensors,
 * binary sensors, switches and covers whose values come from commands run
 * in the executor pool by cmd_run.c, and notify services that hand a
 * message to a command on its standard input. A failing command keeps the
 * old state and is logged; no MQTT payload or template output ever reaches
 * a shell. */
#define _GNU_SOURCE

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "mqbridge/config.h"
#include "mqbridge/core.h"
#include "mqbridge/coro.h"
#include "mqbridge/entity.h"
#include "mqbridge/error.h"
#include "mqbridge/future.h"
#include "mqbridge/job.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/services.h"
#include "mqbridge/template.h"
#include "mqbridge/text.h"

#include "cmd_run.h"

#define SUB "command_line"

/* ---- configuration ------------------------------------------------------ */

/* What every domain's schema fills (each uses the keys it has). Strings
 * and nodes point into the configuration, which outlives us. */
struct cl_conf {
	const struct mqb_conf_node *command, *command_on, *command_off, *command_state,
		*command_open, *command_close, *command_stop;
	double command_timeout, scan_interval;
	const struct mqb_conf_node *value_template, *availability, *json_attributes, *switches;
	const char *json_attributes_path, *name, *friendly_name, *icon, *icon_template,
		*unique_id, *unit_of_measurement, *device_class, *state_class, *payload_on,
		*payload_off;
};

#define C(f) .offset = offsetof(struct cl_conf, f), .stored = true

static const struct mqb_schema_key string_item[] = {{.key = "item", .type = MQB_S_STRING}};
static const struct mqb_schema string_list = MQB_SCHEMA("command_line.json_attributes", string_item);

static const char *const state_classes[] = {"measurement", "total", "total_increasing", NULL};

#define COMMAND_DOC \
	"run through /bin/sh -c as written; with a template, split into arguments and run " \
	"without a shell"
#define TIMEOUT_KEY \
	{.key = "command_timeout", .type = MQB_S_DURATION, .def = "15", .min = 0.001, \
	 .max = 86400, C(command_timeout), \
	 .doc = "seconds before the command's whole process group is killed"}
#define SCAN_KEY(d) \
	{.key = "scan_interval", .type = MQB_S_DURATION, .def = d, .min = 0.1, .max = 31536000, \
	 C(scan_interval), .doc = "seconds between runs of the (state) command"}
#define COMMON_KEYS \
	{.key = "value_template", .type = MQB_S_TEMPLATE, C(value_template), \
	 .doc = "renders the state from the output (value, value_json)"}, \
	{.key = "availability", .type = MQB_S_TEMPLATE, C(availability), \
	 .doc = "template over the output; not true makes the entity unavailable"}, \
	{.key = "icon", .type = MQB_S_STRING, C(icon), .doc = "icon, e.g. mdi:thermometer"}, \
	{.key = "unique_id", .type = MQB_S_STRING, C(unique_id), \
	 .doc = "unique id for Home Assistant's discovery"}

static const struct mqb_schema_key sensor_keys[] = {
	{.key = "command", .type = MQB_S_ANY, .required = true, C(command), .doc = COMMAND_DOC},
	TIMEOUT_KEY,
	SCAN_KEY("60"),
	COMMON_KEYS,
	{.key = "name", .type = MQB_S_STRING, .def = "Command Sensor", C(name),
	 .doc = "friendly name (the entity id is its slug)"},
	{.key = "json_attributes", .type = MQB_S_LIST, .sub = &string_list, C(json_attributes),
	 .doc = "keys of the JSON output copied into attributes"},
	{.key = "json_attributes_path", .type = MQB_S_STRING, C(json_attributes_path),
	 .doc = "JSONPath to the object holding them"},
	{.key = "unit_of_measurement", .type = MQB_S_STRING, C(unit_of_measurement),
	 .doc = "unit of the state"},
	{.key = "device_class", .type = MQB_S_STRING, C(device_class),
	 .doc = "Home Assistant's sensor device class"},
	{.key = "state_class", .type = MQB_S_ENUM, .choices = state_classes, C(state_class),
	 .doc = "measurement, total or total_increasing"},
};

static const struct mqb_schema_key binary_keys[] = {
	{.key = "command", .type = MQB_S_ANY, .required = true, C(command), .doc = COMMAND_DOC},
	TIMEOUT_KEY,
	SCAN_KEY("60"),
	COMMON_KEYS,
	{.key = "name", .type = MQB_S_STRING, .def = "Binary Command Sensor", C(name),
	 .doc = "friendly name"},
	{.key = "payload_on", .type = MQB_S_STRING, .def = "ON", C(payload_on),
	 .doc = "output meaning on"},
	{.key = "payload_off", .type = MQB_S_STRING, .def = "OFF", C(payload_off),
	 .doc = "output meaning off"},
	{.key = "device_class", .type = MQB_S_STRING, C(device_class),
	 .doc = "Home Assistant's binary sensor device class"},
};

/* One switch, in the modern layout or as a value of the legacy switches:
 * mapping (whose key is its object id). */
#define SWITCH_KEYS \
	{.key = "command_on", .type = MQB_S_ANY, C(command_on), \
	 .doc = "turns it on (default: true, which does nothing)"}, \
	{.key = "command_off", .type = MQB_S_ANY, C(command_off), \
	 .doc = "turns it off (default: true)"}, \
	{.key = "command_state", .type = MQB_S_ANY, C(command_state), \
	 .doc = "exit status 0 means on (or see value_template); without it the switch is " \
		"optimistic"}, \
	TIMEOUT_KEY, \
	COMMON_KEYS, \
	{.key = "name", .type = MQB_S_STRING, C(name), .doc = "friendly name"}, \
	{.key = "friendly_name", .type = MQB_S_STRING, C(friendly_name), \
	 .doc = "legacy spelling of name"}, \
	{.key = "icon_template", .type = MQB_S_STRING, C(icon_template), \
	 .doc = "legacy spelling of icon"}

static const struct mqb_schema_key legacy_switch_keys[] = {SWITCH_KEYS};
static const struct mqb_schema legacy_switch_schema =
	MQB_SCHEMA("switch.command_line.switches", legacy_switch_keys);

static const struct mqb_schema_key switch_keys[] = {
	SWITCH_KEYS,
	SCAN_KEY("30"),
	{.key = "switches", .type = MQB_S_ANY, C(switches),
	 .doc = "legacy layout: a mapping of object ids to switches"},
};

static const struct mqb_schema_key cover_keys[] = {
	{.key = "command_open", .type = MQB_S_ANY, C(command_open),
	 .doc = "opens it (default: true)"},
	{.key = "command_close", .type = MQB_S_ANY, C(command_close),
	 .doc = "closes it (default: true)"},
	{.key = "command_stop", .type = MQB_S_ANY, C(command_stop),
	 .doc = "stops it (default: true)"},
	{.key = "command_state", .type = MQB_S_ANY, C(command_state),
	 .doc = "prints the position, 0 (closed) to 100"},
	TIMEOUT_KEY,
	SCAN_KEY("15"),
	COMMON_KEYS,
	{.key = "name", .type = MQB_S_STRING, .required = true, C(name), .doc = "friendly name"},
	{.key = "device_class", .type = MQB_S_STRING, C(device_class),
	 .doc = "Home Assistant's cover device class"},
};

/* Home Assistant's command_line notify: the message on the command's
 * standard input. */
static const struct mqb_schema_key notify_keys[] = {
	{.key = "command", .type = MQB_S_ANY, .required = true, C(command),
	 .doc = "run through /bin/sh -c, the message on its standard input"},
	TIMEOUT_KEY,
	{.key = "name", .type = MQB_S_STRING, .def = "notify", C(name),
	 .doc = "the service is notify.<name>"},
};

#define SCHEMA(n, keys) \
	static const struct mqb_schema n##_schema = MQB_SCHEMA("command_line." #n, keys)
SCHEMA(sensor, sensor_keys);
SCHEMA(binary_sensor, binary_keys);
SCHEMA(switch, switch_keys);
SCHEMA(cover, cover_keys);
SCHEMA(notify, notify_keys);

/* ---- checks the tables cannot make --------------------------------------- */

static void check_command(const struct mqb_conf_node *n, const char *path, const char *key,
			  struct mqb_conf_errors *errs)
{
	char p[256];
	if (!n)
		return;
	snprintf(p, sizeof p, "%s.%s", path, key);
	if (mqb_conf_kind(n) != MQB_CONF_SCALAR) {
		mqb_conf_error_at(errs, n, p, "expected a command (a string)");
		return;
	}
	size_t len;
	const char *text = mqb_conf_scalar(n, &len);
	if (strlen(text) != len) {
		mqb_conf_error_at(errs, n, p, "a command cannot hold a NUL character");
		return;
	}
	mqb_strip_bytes(text, &len);
	if (!len) {
		mqb_conf_error_at(errs, n, p, "the command is empty");
		return;
	}
	if (!cmd_has_template(text))
		return;
	struct cmd_line line;
	struct cmd_split_error e;
	int rc = cmd_line_parse(text, &line, &e);
	if (rc == 0) {
		cmd_line_fini(&line);
		return;
	}
	if (rc == -ENOMEM) {
		mqb_conf_error_at(errs, n, p, "out of memory checking the command");
		return;
	}
	mqb_conf_error_at(errs, n, p, "%s (at character %zu of the command)", e.message,
			  e.offset + 1);
}

static void check_icon(const char *icon, const struct mqb_conf_node *item, const char *path,
		       const char *key, struct mqb_conf_errors *errs)
{
	if (icon && cmd_has_template(icon)) {
		char p[256];
		snprintf(p, sizeof p, "%s.%s", path, key);
		mqb_conf_error_at(errs, mqb_conf_get(item, key), p,
				  "a templated icon is not supported; give a fixed icon such as "
				  "mdi:thermometer");
	}
}

static void check_common(const char *domain, const struct cl_conf *c,
			 const struct mqb_conf_node *node, const char *path,
			 struct mqb_conf_errors *errs)
{
	const char *icon = c->icon ? c->icon : c->icon_template;
	struct mqb_entity_info info = {
		.icon = icon && !cmd_has_template(icon) ? icon : NULL,
		.device_class = c->device_class,
		.state_class = c->state_class,
		.unit_of_measurement = c->unit_of_measurement,
	};
	mqb_entity_info_check_unit_warns(domain, &info, node, path, errs);
	check_command(c->command, path, "command", errs);
	check_command(c->command_on, path, "command_on", errs);
	check_command(c->command_off, path, "command_off", errs);
	check_command(c->command_state, path, "command_state", errs);
	check_command(c->command_open, path, "command_open", errs);
	check_command(c->command_close, path, "command_close", errs);
	check_command(c->command_stop, path, "command_stop", errs);
	check_icon(c->icon, node, path, "icon", errs);
	check_icon(c->icon_template, node, path, "icon_template", errs);
	if (c->json_attributes_path) {
		struct cmd_jpath *jp;
		char why[160], p[256];
		int rc = cmd_jpath_compile(c->json_attributes_path, &jp, why, sizeof why);
		cmd_jpath_free(jp);
		if (rc) {
			snprintf(p, sizeof p, "%s.json_attributes_path", path);
			mqb_conf_error_at(errs, mqb_conf_get(node, "json_attributes_path"), p,
					  "%s", why);
		}
	}
}

static void check_sensor(const void *conf, const struct mqb_conf_node *node, const char *path,
			 struct mqb_conf_errors *errs)
{
	check_common("sensor", conf, node, path, errs);
}

static void check_binary(const void *conf, const struct mqb_conf_node *node, const char *path,
			 struct mqb_conf_errors *errs)
{
	check_common("binary_sensor", conf, node, path, errs);
}

static void check_cover(const void *conf, const struct mqb_conf_node *node, const char *path,
			struct mqb_conf_errors *errs)
{
	check_common("cover", conf, node, path, errs);
}

static void check_switch(const void *conf, const struct mqb_conf_node *node, const char *path,
			 struct mqb_conf_errors *errs)
{
	const struct cl_conf *c = conf;
	check_common("switch", c, node, path, errs);
	if (!c->switches) {
		if (!c->name && !c->friendly_name)
			mqb_conf_error_at(errs, node, path, "a switch needs a name");
		return;
	}
	char p[256];
	snprintf(p, sizeof p, "%s.switches", path);
	if (mqb_conf_kind(c->switches) != MQB_CONF_MAP || !mqb_conf_len(c->switches)) {
		mqb_conf_error_at(errs, c->switches, p,
				  "expected a mapping of object ids to switches");
		return;
	}
	/* what belongs to one switch, where there are several */
	static const char *const modern_only[] = {
		"command_on", "command_off",  "command_state", "command_timeout", "name",
		"friendly_name", "value_template", "availability", "icon", "icon_template",
		"unique_id"};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(modern_only); i++) {
		const struct mqb_conf_node *k = mqb_conf_get(node, modern_only[i]);
		if (k) {
			char kp[256];
			snprintf(kp, sizeof kp, "%s.%s", path, modern_only[i]);
			mqb_conf_error_at(errs, k, kp,
					  "belongs inside one of the switches when switches is "
					  "given");
		}
	}
	for (size_t i = 0; i < mqb_conf_len(c->switches); i++) {
		const struct mqb_conf_node *k = mqb_conf_key(c->switches, i);
		const char *id = mqb_conf_scalar(k, NULL);
		char sp[320], slug[128];
		snprintf(sp, sizeof sp, "%.200s.%.100s", p, id ? id : "?");
		if (!id || !id[0] || strcmp(mqb_slugify(id, slug, sizeof slug), id) != 0) {
			mqb_conf_error_at(errs, k, sp,
					  "a switch's key is its object id: lower case a-z, 0-9 "
					  "and _ (did you mean '%s'?)",
					  id ? slug : "");
			continue;
		}
		struct cl_conf sc;
		memset(&sc, 0, sizeof sc);
		if (mqb_schema_apply(&legacy_switch_schema, mqb_conf_value(c->switches, i), sp, &sc,
				     errs) == 0)
			check_common("switch", &sc, mqb_conf_value(c->switches, i), sp, errs);
	}
}

/* ---- commands ------------------------------------------------------------ */

/* One configured command, prepared at setup. */
struct cl_cmd {
	const char *option; /* "command_on", for logs */
	const char *text;   /* as configured (NULL: none) */
	bool secret;        /* came from !secret: never logged */
	bool templated;
	struct cmd_line line;
	char *cwd;
};

/* Commands run in the configuration's directory, as Home Assistant's do;
 * "/" when it is not known. */
static char *dir_of(const char *config_dir)
{
	return strdup(config_dir && *config_dir ? config_dir : "/");
}

static int cmd_prepare(struct cl_cmd *c, const char *option, const struct mqb_conf_node *n,
		       const char *def, const char *path, const char *dir)
{
	memset(c, 0, sizeof *c);
	c->option = option;
	if (!n && !def)
		return 0;
	c->text = n ? mqb_conf_scalar(n, NULL) : def;
	c->secret = n && mqb_conf_is_secret(n);
	if (!(c->cwd = dir_of(dir)))
		return -ENOMEM;
	if (!cmd_has_template(c->text))
		return 0;
	struct cmd_split_error e;
	int rc = cmd_line_parse(c->text, &c->line, &e);
	if (rc) {
		MQB_LOG_ERROR(SUB, "%s.%s: %s", path, option, e.message);
		return rc;
	}
	c->templated = true;
	return 0;
}

static void cmd_fini(struct cl_cmd *c)
{
	cmd_line_fini(&c->line);
	free(c->cwd);
	c->cwd = NULL;
}

/* ---- entities ------------------------------------------------------------ */

enum cl_kind { CL_SENSOR, CL_BINARY, CL_SWITCH, CL_COVER, CL_NOTIFY };

struct cl_entity {
	enum cl_kind kind;
	struct mqb_core *core;
	struct mqb_entity *e;
	char *label;                    /* for logs before the entity exists */
	struct cl_cmd cmd, on, off, state, open, close, stop;
	double timeout;
	struct mqb_template *value_tpl, *avail_tpl;
	char **json_keys;               /* NULL-terminated; NULL: no json_attributes */
	struct cmd_jpath *jpath;
	const char *payload_on, *payload_off;
	bool optimistic;                /* a switch without command_state */
	bool neither_warned;            /* binary sensor output matched neither payload */
	struct mqb_future *cmd_tail;    /* the last command queued: commands run in order */
};

static const char *eid(const struct cl_entity *ce)
{
	return ce->e ? mqb_entity_id(ce->e) : ce->label;
}

static void cl_free(void *priv)
{
	struct cl_entity *ce = priv;
	if (!ce)
		return;
	struct cl_cmd *cmds[] = {&ce->cmd, &ce->on, &ce->off, &ce->state,
				 &ce->open, &ce->close, &ce->stop};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(cmds); i++)
		cmd_fini(cmds[i]);
	mqb_template_free(ce->value_tpl);
	mqb_template_free(ce->avail_tpl);
	if (ce->json_keys)
		for (char **k = ce->json_keys; *k; k++)
			free(*k);
	free(ce->json_keys);
	cmd_jpath_free(ce->jpath);
	mqb_future_unref(ce->cmd_tail);
	free(ce->label);
	free(ce);
}

struct render_ctx {
	struct cl_entity *ce;
	const struct cl_cmd *c;
};

static int render_word(void *ud, unsigned word, const struct mqb_template *t, char **out,
		       size_t *len)
{
	struct render_ctx *rc = ud;
	struct mqb_tpl_vars vars = {0};
	(void)word;
	return mqb_entity_async_render(rc->ce->e, rc->c->option, t, &vars, out, len);
}

static const char *shown_command(const struct cl_cmd *c, char *buf, size_t buflen)
{
	if (c->secret)
		return "(secret)";
	return cmd_printable(c->text, strlen(c->text), buf, buflen);
}

/* A secret command's own error may name pieces of it (the shell repeats
 * the word it could not run): each word of the command (3 bytes or more)
 * shows as "(secret)" there. The log masks the whole value anywhere. */
static void mask_words(char *text, size_t cap, const char *cmd)
{
	static const char seps[] = " \t\n;|&<>()'\"`$";
	char out[512];
	for (const char *w = cmd; *w;) {
		size_t wl = strcspn(w, seps);
		if (wl >= 3) {
			size_t o = 0;
			for (const char *t = text; *t && o + 1 < sizeof out;) {
				bool hit = strncmp(t, w, wl) == 0;
				const char *piece = hit ? "(secret)" : t;
				size_t pl = hit ? 8 : 1;
				if (o + pl >= sizeof out)
					break;
				memcpy(out + o, piece, pl);
				o += pl;
				t += hit ? wl : 1;
			}
			out[o] = '\0';
			snprintf(text, cap, "%s", out);
		}
		w += wl;
		w += strspn(w, seps);
	}
}

static void log_failure(const struct cl_entity *ce, const struct cl_cmd *c,
			const struct cmd_result *r, const char *keeping)
{
	char how[128], cmd[160], err[512];
	cmd_describe(r, ce->timeout, how, sizeof how);
	cmd_printable(r->err, r->err_len, err, sizeof err);
	if (c->secret)
		mask_words(err, sizeof err, c->text);
	MQB_LOG_ERROR(SUB, "%s: %s failed (%s)%s: %s%s%s", eid(ce), c->option, how, keeping,
		      shown_command(c, cmd, sizeof cmd), err[0] ? "; stderr: " : "", err);
}

/* Run c, input on its standard input (NULL: none), and wait for it,
 * inside a coroutine: 0 with *fut (the caller unrefs it) whose value *res
 * is the result; or a negative errno, already logged (-ECANCELED, at
 * shutdown, quietly). Thread: loop, COROUTINE. */
static int cl_exec(struct cl_entity *ce, const struct cl_cmd *c, const char *input,
		   struct mqb_future **fut, const struct cmd_result **res)
{
	char shown[160];
	struct cmd_job *j = calloc(1, sizeof *j);
	int rc;

	*fut = NULL;
	*res = NULL;
	if (j && input) {
		j->input_len = strlen(input);
		if (!(j->input = strdup(input))) {
			cmd_job_free(j);
			j = NULL;
		}
	}
	if (!j || !(j->cwd = strdup(c->cwd))) {
		cmd_job_free(j);
		MQB_LOG_ERROR(SUB, "%s: %s: out of memory", eid(ce), c->option);
		return -ENOMEM;
	}
	j->core = ce->core;
	j->timeout = ce->timeout;
	j->status_answers = c == &ce->state && ce->kind == CL_SWITCH && !ce->value_tpl;
	if (c->templated) {
		struct render_ctx ctx = {ce, c};
		unsigned bad = 0;
		rc = cmd_line_argv(&c->line, render_word, &ctx, &j->argv, &bad);
		if (rc == -EILSEQ)
			MQB_LOG_ERROR(SUB, "%s: %s: argument %u rendered a NUL character; not run",
				      eid(ce), c->option, bad - 1);
		else if (rc == -ENOMEM)
			MQB_LOG_ERROR(SUB, "%s: %s: out of memory", eid(ce), c->option);
		/* a render error was logged by mqb_entity_async_render */
		if (rc) {
			cmd_job_free(j);
			return rc;
		}
	} else if (!(j->shell = strdup(c->text))) {
		cmd_job_free(j);
		MQB_LOG_ERROR(SUB, "%s: %s: out of memory", eid(ce), c->option);
		return -ENOMEM;
	}
	MQB_LOG_DEBUG(SUB, "%s: running %s: %s", eid(ce), c->option,
		      shown_command(c, shown, sizeof shown));

	struct mqb_job job = MQB_EXECUTOR(cmd_job_run, NULL);
	job.name = "command_line command";
	job.result_free = cmd_job_result_free;
	struct mqb_future *f = NULL;
	rc = mqb_async_run_job(ce->core, &job, j, cmd_job_free, &f);
	if (rc) {
		cmd_job_free(j);
		if (rc != -ESHUTDOWN)
			MQB_LOG_WARNING(SUB, "%s: %s not run: %s", eid(ce), c->option,
					mqb_strerror(rc));
		return rc;
	}
	void *value = NULL;
	rc = mqb_await(f, &value);
	if (rc == 0 && !value)
		rc = -EIO;
	if (rc) {
		if (rc != -ECANCELED)
			MQB_LOG_ERROR(SUB, "%s: %s could not be run: %s", eid(ce), c->option,
				      mqb_strerror(rc));
		mqb_future_unref(f);
		return rc;
	}
	*fut = f;
	*res = value;
	return 0;
}

/* The output of a successful run, stripped, as a NUL-terminated copy: NULL
 * (logged) when it was too long or not text. */
static char *output_of(const struct cl_entity *ce, const struct cl_cmd *c,
		       const struct cmd_result *r, size_t *len)
{
	if (r->out_truncated) {
		MQB_LOG_ERROR(SUB, "%s: %s printed more than %d bytes; keeping the old state",
			      eid(ce), c->option, CMD_MAX_STDOUT);
		return NULL;
	}
	/* Home Assistant: stdout.strip().decode("utf-8") */
	size_t n = r->out_len;
	const char *s = mqb_strip_bytes(r->out, &n);
	if (!mqb_utf8_valid(s, n)) {
		MQB_LOG_WARNING(SUB, "%s: %s printed something that is not UTF-8 text; keeping "
				     "the old state",
				eid(ce), c->option);
		return NULL;
	}
	char *copy = strndup(s, n);
	if (!copy)
		MQB_LOG_ERROR(SUB, "%s: out of memory", eid(ce));
	*len = n;
	return copy;
}

/* The availability template over value: false when it says unavailable
 * (then written already). A render error keeps availability as it was. */
static bool available_after(struct cl_entity *ce, const struct mqb_tpl_vars *vars)
{
	if (!ce->avail_tpl)
		return true;
	char *o = NULL;
	size_t ol;
	if (mqb_entity_async_render(ce->e, "availability", ce->avail_tpl, vars, &o, &ol))
		return mqb_entity_async_available(ce->e);
	bool avail = cmd_truthy(o);
	free(o);
	mqb_entity_async_set_available(ce->e, avail);
	if (!avail)
		mqb_entity_async_write(ce->e);
	return avail;
}

/* value_template over value, or value itself: 0 with *out (malloc'd). */
static int rendered_value(struct cl_entity *ce, const struct mqb_tpl_vars *vars, char **out)
{
	size_t len;
	if (!ce->value_tpl)
		return (*out = strndup(vars->value, vars->value_len)) ? 0 : -ENOMEM;
	return mqb_entity_async_render(ce->e, "value_template", ce->value_tpl, vars, out, &len);
}

/* Home Assistant's json_attributes: {} unless the output is a JSON object
 * (or a list whose first item is), at json_attributes_path if given. */
static json_t *json_attributes(const struct cl_entity *ce, const char *v, size_t len)
{
	json_t *attrs = json_object();
	if (!attrs)
		return NULL;
	if (!len) {
		MQB_LOG_WARNING(SUB, "%s: empty output where JSON attributes were expected",
				eid(ce));
		return attrs;
	}
	json_error_t je;
	json_t *doc = json_loadb(v, len, JSON_DECODE_ANY, &je);
	if (!doc) {
		char shown[120];
		MQB_LOG_WARNING(SUB, "%s: output is not JSON (%s at line %d, column %d): %s",
				eid(ce), je.text, je.line, je.column,
				cmd_printable(v, len, shown, sizeof shown));
		return attrs;
	}
	json_t *node = ce->jpath ? cmd_jpath_first(ce->jpath, doc) : doc;
	if (json_is_array(node))
		node = json_array_get(node, 0);
	if (!json_is_object(node)) {
		MQB_LOG_WARNING(SUB, "%s: the JSON %s is not an object", eid(ce),
				ce->jpath ? "at json_attributes_path" : "output");
	} else {
		for (char **k = ce->json_keys; *k; k++) {
			json_t *val = json_object_get(node, *k);
			if (val)
				json_object_set(attrs, *k, val);
		}
	}
	json_decref(doc);
	return attrs;
}

static void sensor_apply(struct cl_entity *ce, const char *v, size_t len)
{
	struct mqb_tpl_vars vars = {.value = v, .value_len = len};
	if (!available_after(ce, &vars))
		return;
	if (ce->json_keys) {
		mqb_entity_async_set_attributes(ce->e, json_attributes(ce, v, len));
		/* as Home Assistant: the output is the attributes, not the state */
		if (!ce->value_tpl) {
			mqb_entity_async_set_state(ce->e, NULL);
			mqb_entity_async_write(ce->e);
			return;
		}
	}
	char *state = NULL;
	if (rendered_value(ce, &vars, &state) == 0)
		mqb_entity_async_set_state(ce->e, state);
	free(state);
	mqb_entity_async_write(ce->e);
}

static void binary_apply(struct cl_entity *ce, const char *v, size_t len)
{
	struct mqb_tpl_vars vars = {.value = v, .value_len = len};
	if (!available_after(ce, &vars))
		return;
	char *val = NULL;
	if (rendered_value(ce, &vars, &val) == 0) {
		if (strcmp(val, ce->payload_on) == 0 || strcmp(val, ce->payload_off) == 0) {
			mqb_entity_async_set_state(ce->e,
						   strcmp(val, ce->payload_on) == 0 ? "on" : "off");
			ce->neither_warned = false;
		} else if (!ce->neither_warned) {
			char shown[120];
			cmd_printable(val, strlen(val), shown, sizeof shown);
			MQB_LOG_WARNING(SUB,
					"%s: '%s' is neither payload_on ('%s') nor payload_off "
					"('%s'); keeping the old state",
					eid(ce), shown, ce->payload_on, ce->payload_off);
			ce->neither_warned = true;
		}
	}
	free(val);
	mqb_entity_async_write(ce->e);
}

static void switch_apply(struct cl_entity *ce, const char *v, size_t len, bool exit_ok)
{
	struct mqb_tpl_vars vars = {.value = v, .value_len = len};
	if (!available_after(ce, &vars))
		return;
	if (!ce->value_tpl) {
		mqb_entity_async_set_state(ce->e, exit_ok ? "on" : "off");
	} else {
		char *val = NULL;
		if (rendered_value(ce, &vars, &val) == 0)
			mqb_entity_async_set_state(ce->e, cmd_switch_on(val) ? "on" : "off");
		free(val);
	}
	mqb_entity_async_write(ce->e);
}

static void cover_apply(struct cl_entity *ce, const char *v, size_t len)
{
	struct mqb_tpl_vars vars = {.value = v, .value_len = len};
	if (!available_after(ce, &vars))
		return;
	char *val = NULL;
	if (rendered_value(ce, &vars, &val) == 0) {
		const char *state;
		int pos;
		if (cmd_cover_state(val, &state, &pos) == 0) {
			mqb_entity_async_set_state(ce->e, state);
			json_t *attrs = json_object();
			if (attrs && pos >= 0)
				json_object_set_new(attrs, "current_position", json_integer(pos));
			mqb_entity_async_set_attributes(ce->e, attrs);
		} else {
			char shown[120];
			cmd_printable(val, strlen(val), shown, sizeof shown);
			MQB_LOG_WARNING(SUB,
					"%s: '%s' is not a position (0 to 100) or open, closed, "
					"opening, closing; keeping the old state",
					eid(ce), shown);
		}
	}
	free(val);
	mqb_entity_async_write(ce->e);
}

/* Poll: run the (state) command and apply its output. Thread: loop,
 * COROUTINE. */
static int cl_async_update(struct mqb_entity *e, void *priv)
{
	struct cl_entity *ce = priv;
	ce->e = e;
	const struct cl_cmd *c = ce->kind == CL_SENSOR || ce->kind == CL_BINARY ? &ce->cmd
										  : &ce->state;
	if (!c->text)
		return 0;
	struct mqb_future *f;
	const struct cmd_result *r;
	if (cl_exec(ce, c, NULL, &f, &r))
		return 0;
	bool exit_ok = r->how == CMD_EXITED && r->status == 0;
	/* a state command without a template answers with its exit status:
	 * non-zero is off, unless it could not run at all */
	bool answered = exit_ok || (ce->kind == CL_SWITCH && !ce->value_tpl &&
				    r->how == CMD_EXITED && r->status != 126 &&
				    r->status != 127);
	if (!answered) {
		log_failure(ce, c, r, "; keeping the old state");
		goto out;
	}
	size_t len = 0;
	char *v = ce->kind == CL_SWITCH && !ce->value_tpl && !ce->avail_tpl
			  ? strdup("")
			  : output_of(ce, c, r, &len);
	if (!v)
		goto out;
	switch (ce->kind) {
	case CL_SENSOR: sensor_apply(ce, v, len); break;
	case CL_BINARY: binary_apply(ce, v, len); break;
	case CL_SWITCH: switch_apply(ce, v, len, exit_ok); break;
	case CL_COVER: cover_apply(ce, v, len); break;
	case CL_NOTIFY: break;
	}
	free(v);
out:
	mqb_future_unref(f);
	return 0;
}

/* (The core polls once as soon as polling starts, as Home Assistant runs
 * a command line sensor's command when it is added.) */
static int cl_async_added(struct mqb_entity *e, void *priv)
{
	struct cl_entity *ce = priv;
	ce->e = e;
	return 0;
}

/* A service call: the payload from <base>/<domain>/<id>/set only chose
 * which configured command runs; nothing of it reaches the command.
 * Commands of one entity run one after another, in the order called.
 * Thread: loop, COROUTINE. */
static int cl_async_command(struct mqb_entity *e, void *priv, const char *service,
			    const json_t *data)
{
	struct cl_entity *ce = priv;
	const struct cl_cmd *c = NULL;
	const char *optimistic_state = NULL;
	(void)data;
	ce->e = e;
	if (ce->kind == CL_SWITCH) {
		int on = mqb_entity_async_on_off(e, service);
		if (on < 0)
			return on;
		c = on ? &ce->on : &ce->off;
		optimistic_state = on ? "on" : "off";
	} else if (ce->kind == CL_COVER) {
		if (strcmp(service, "open_cover") == 0)
			c = &ce->open;
		else if (strcmp(service, "close_cover") == 0)
			c = &ce->close;
		else if (strcmp(service, "stop_cover") == 0)
			c = &ce->stop;
		else
			return -ENOTSUP;
	} else {
		return -ENOTSUP;
	}

	struct mqb_future *prev = ce->cmd_tail, *mine = mqb_future_new(ce->core);
	if (!mine) {
		MQB_LOG_ERROR(SUB, "%s: out of memory", eid(ce));
		return -ENOMEM;
	}
	ce->cmd_tail = mqb_future_ref(mine);
	int rc = prev ? mqb_await(prev, NULL) : 0;
	mqb_future_unref(prev);
	if (rc == -ECANCELED)
		goto out;

	struct mqb_future *f;
	const struct cmd_result *r;
	if ((rc = cl_exec(ce, c, NULL, &f, &r)))
		goto out;
	if (r->how == CMD_EXITED && r->status == 0) {
		MQB_LOG_INFO(SUB, "%s: %s done", eid(ce), c->option);
		if (ce->optimistic) {
			mqb_entity_async_set_state(e, optimistic_state);
			mqb_entity_async_write(e);
		}
	} else {
		log_failure(ce, c, r, "");
	}
	mqb_future_unref(f);
	/* the state right after the command, as Home Assistant asks for it;
	 * run here rather than scheduled, so a poll in progress does not make
	 * it a skipped update with a warning */
	if (ce->state.text)
		cl_async_update(e, ce);
out:
	mqb_future_resolve(mine, 0, NULL, NULL);
	if (ce->cmd_tail == mine) {
		mqb_future_unref(ce->cmd_tail);
		ce->cmd_tail = NULL;
	}
	mqb_future_unref(mine);
	/* a failed command was logged; the call itself succeeded, as in
	 * Home Assistant */
	return rc == -ECANCELED ? rc : 0;
}

static const struct mqb_entity_ops cl_ops = {
	.async_update = cl_async_update,
	.async_added = cl_async_added,
	.async_command = cl_async_command,
	.free = cl_free,
};

/* ---- setup ------------------------------------------------------------- */

static int compile_tpl(const struct mqb_conf_node *n, struct mqb_template **out, const char *path,
		       const char *option)
{
	int rc = mqb_template_from_conf(n, out);
	if (rc)
		MQB_LOG_ERROR(SUB, "%s.%s: %s", path, option, mqb_strerror(rc));
	return rc;
}

/* json_attributes: a list of keys, or Home Assistant's comma-separated
 * string (cv.ensure_list_csv). */
static int json_keys_of(const struct mqb_conf_node *n, char ***out)
{
	size_t cap = 8, k = 0;
	char **keys = calloc(cap + 1, sizeof *keys);
	if (!keys)
		return -ENOMEM;
	bool list = mqb_conf_kind(n) == MQB_CONF_SEQ;
	size_t items = list ? mqb_conf_len(n) : 1;
	for (size_t i = 0; i < items; i++) {
		const char *s = mqb_conf_scalar(list ? mqb_conf_item(n, i) : n, NULL);
		if (!s)
			continue;
		for (const char *p = s;;) {
			const char *comma = list ? NULL : strchr(p, ',');
			char *word = comma ? strndup(p, (size_t)(comma - p)) : strdup(p);
			if (!word)
				goto nomem;
			size_t wl = strlen(word);
			const char *w = mqb_strip_bytes(word, &wl);
			memmove(word, w, wl);
			word[wl] = '\0';
			if (wl) {
				if (k == cap) {
					char **nk = realloc(keys, (cap * 2 + 1) * sizeof *nk);
					if (!nk) {
						free(word);
						goto nomem;
					}
					keys = nk;
					cap *= 2;
				}
				keys[k++] = word;
				keys[k] = NULL;
			} else {
				free(word);
			}
			if (!comma)
				break;
			p = comma + 1;
		}
	}
	*out = keys;
	return 0;
nomem:
	for (size_t i = 0; i < k; i++)
		free(keys[i]);
	free(keys);
	return -ENOMEM;
}

/* Build and add one entity from c (object_id: the legacy switches: key,
 * else NULL). */
static int add_one(struct mqb_platform *p, enum cl_kind kind, const struct cl_conf *c,
		   double scan_interval, const char *object_id, const char *path)
{
	struct cl_entity *ce = calloc(1, sizeof *ce);
	int rc = -ENOMEM;
	if (!ce || !(ce->label = strdup(path)))
		goto fail;
	ce->kind = kind;
	ce->core = mqb_platform_core(p);
	const char *dir = mqb_platform_config_dir(p);
	ce->timeout = c->command_timeout;
	switch (kind) {
	case CL_SENSOR:
	case CL_BINARY:
		rc = cmd_prepare(&ce->cmd, "command", c->command, NULL, path, dir);
		break;
	case CL_SWITCH:
		if (!(rc = cmd_prepare(&ce->on, "command_on", c->command_on, "true", path, dir)) &&
		    !(rc = cmd_prepare(&ce->off, "command_off", c->command_off, "true", path, dir)))
			rc = cmd_prepare(&ce->state, "command_state", c->command_state, NULL, path, dir);
		ce->optimistic = !c->command_state;
		break;
	case CL_COVER:
		if (!(rc = cmd_prepare(&ce->open, "command_open", c->command_open, "true", path, dir)) &&
		    !(rc = cmd_prepare(&ce->close, "command_close", c->command_close, "true",
				       path, dir)) &&
		    !(rc = cmd_prepare(&ce->stop, "command_stop", c->command_stop, "true", path, dir)))
			rc = cmd_prepare(&ce->state, "command_state", c->command_state, NULL, path, dir);
		break;
	case CL_NOTIFY: /* a service, set up by setup_notify */
		break;
	}
	if (rc || (rc = compile_tpl(c->value_template, &ce->value_tpl, path, "value_template")) ||
	    (rc = compile_tpl(c->availability, &ce->avail_tpl, path, "availability")))
		goto fail;
	if (c->json_attributes && (rc = json_keys_of(c->json_attributes, &ce->json_keys)))
		goto fail;
	if (c->json_attributes_path) {
		char why[160];
		rc = cmd_jpath_compile(c->json_attributes_path, &ce->jpath, why, sizeof why);
		if (rc) {
			MQB_LOG_ERROR(SUB, "%s.json_attributes_path: %s", path, why);
			goto fail;
		}
	}
	ce->payload_on = c->payload_on ? c->payload_on : "ON";
	ce->payload_off = c->payload_off ? c->payload_off : "OFF";

	bool polled = kind == CL_SENSOR || kind == CL_BINARY || ce->state.text;
	struct mqb_entity_info info = {
		.name = c->name ? c->name : c->friendly_name ? c->friendly_name : object_id,
		.object_id = object_id,
		.unique_id = c->unique_id,
		.icon = c->icon ? c->icon : c->icon_template,
		.device_class = c->device_class,
		.state_class = c->state_class,
		.unit_of_measurement = c->unit_of_measurement,
		.scan_interval = polled ? scan_interval : 0,
		/* Home Assistant's command line switch starts off */
		.state = kind == CL_SWITCH && ce->optimistic ? "off" : NULL,
	};
	/* priv is the core's from here, freed on failure too */
	rc = mqb_platform_add_entity(p, &info, &cl_ops, ce, NULL);
	if (rc)
		MQB_LOG_ERROR(SUB, "%s: cannot add the entity: %s", path, mqb_strerror(rc));
	return rc;
fail:
	if (rc == -ENOMEM)
		MQB_LOG_ERROR(SUB, "%s: out of memory", path);
	cl_free(ce);
	return rc;
}

static int setup_sensor(struct mqb_platform *p, const void *conf, const char *path)
{
	const struct cl_conf *c = conf;
	return add_one(p, CL_SENSOR, c, c->scan_interval, NULL, path);
}

static int setup_binary(struct mqb_platform *p, const void *conf, const char *path)
{
	const struct cl_conf *c = conf;
	return add_one(p, CL_BINARY, c, c->scan_interval, NULL, path);
}

static int setup_cover(struct mqb_platform *p, const void *conf, const char *path)
{
	const struct cl_conf *c = conf;
	return add_one(p, CL_COVER, c, c->scan_interval, NULL, path);
}

static int setup_switch(struct mqb_platform *p, const void *conf, const char *path)
{
	const struct cl_conf *c = conf;
	if (!c->switches)
		return add_one(p, CL_SWITCH, c, c->scan_interval, NULL, path);
	/* legacy: switches: {object_id: {...}}, scan_interval shared */
	int first_rc = 0;
	for (size_t i = 0; i < mqb_conf_len(c->switches); i++) {
		const char *id = mqb_conf_scalar(mqb_conf_key(c->switches, i), NULL);
		char sp[256];
		snprintf(sp, sizeof sp, "%s.switches.%s", path, id);
		struct mqb_conf_errors errs;
		struct cl_conf sc;
		memset(&sc, 0, sizeof sc);
		mqb_conf_errors_init(&errs);
		/* checked when the configuration loaded; this fills sc */
		size_t bad = mqb_schema_apply(&legacy_switch_schema, mqb_conf_value(c->switches, i),
					      sp, &sc, &errs);
		mqb_conf_errors_fini(&errs);
		int rc = bad ? -EINVAL : add_one(p, CL_SWITCH, &sc, c->scan_interval, id, sp);
		if (rc && !first_rc)
			first_rc = rc;
	}
	return first_rc;
}

/* ---- notify ---------------------------------------------------------------- */

/* What one core's notify services hold: freed with the core. */
struct notifiers {
	struct cl_entity **v;
	size_t n;
};

static void notifiers_free(void *p)
{
	struct notifiers *ns = p;
	for (size_t i = 0; ns && i < ns->n; i++)
		cl_free(ns->v[i]);
	if (ns)
		free(ns->v);
	free(ns);
}

/* notify.<name>: the message on the command's standard input, as Home
 * Assistant's command_line notify does (a failing command is logged; the
 * call still succeeds, as there). A COROUTINE. */
static int notify_service(void *ud, void *arg, void **result)
{
	(void)result;
	struct cl_entity *ce = ud;
	const json_t *data = mqb_service_call_data(arg);
	const char *message = json_string_value(json_object_get(data, "message"));
	if (!message) {
		MQB_LOG_WARNING(SUB, "%s: a notification needs a message", ce->label);
		return -EINVAL;
	}
	struct mqb_future *f = NULL;
	const struct cmd_result *r = NULL;
	int rc = cl_exec(ce, &ce->cmd, message, &f, &r);
	if (rc)
		return rc;
	if (r->how != CMD_EXITED || r->status != 0)
		log_failure(ce, &ce->cmd, r, "");
	mqb_future_unref(f);
	return 0;
}

static int setup_notify(struct mqb_platform *p, const void *conf, const char *path)
{
	const struct cl_conf *c = conf;
	struct mqb_core *core = mqb_platform_core(p);
	char slug[128];
	mqb_slugify(c->name, slug, sizeof slug);
	struct notifiers *ns = mqb_core_async_data(core, "command_line.notify");
	if (!ns) {
		if (!(ns = calloc(1, sizeof *ns)))
			return -ENOMEM;
		if (mqb_core_async_set_data(core, "command_line.notify", ns, notifiers_free)) {
			free(ns);
			return -ENOMEM;
		}
	}
	struct cl_entity *ce = calloc(1, sizeof *ce);
	struct cl_entity **v = ce ? realloc(ns->v, (ns->n + 1) * sizeof *v) : NULL;
	if (!v) {
		free(ce);
		return -ENOMEM;
	}
	ns->v = v;
	ns->v[ns->n++] = ce;
	ce->kind = CL_NOTIFY;
	ce->core = core;
	ce->timeout = c->command_timeout;
	size_t len = strlen(slug) + sizeof "notify.";
	if (!(ce->label = malloc(len)))
		return -ENOMEM;
	snprintf(ce->label, len, "notify.%s", slug);
	/* Home Assistant runs it with a shell as written: no templates */
	ce->cmd = (struct cl_cmd){.option = "command", .text = mqb_conf_scalar(c->command, NULL),
				  .secret = mqb_conf_is_secret(c->command),
				  .cwd = dir_of(mqb_platform_config_dir(p))};
	if (!ce->cmd.cwd)
		return -ENOMEM;
	int rc = mqb_services_async_register(core, "notify", slug,
					     &MQB_COROUTINE(notify_service, ce), NULL, NULL);
	if (rc)
		MQB_LOG_ERROR(SUB, "%s: %s: %s", path, ce->label, mqb_strerror(rc));
	else
		MQB_LOG_DEBUG(SUB, "%s: %s registered", path, ce->label);
	return rc;
}

static void check_notify(const void *conf, const struct mqb_conf_node *node, const char *path,
			 struct mqb_conf_errors *errs)
{
	const struct cl_conf *c = conf;
	(void)node;
	check_command(c->command, path, "command", errs);
	char slug[128], p[256];
	if (!*mqb_slugify(c->name, slug, sizeof slug)) {
		snprintf(p, sizeof p, "%s.name", path);
		mqb_conf_error_at(errs, mqb_conf_get(node, "name"), p,
				  "'%s' makes no service name", c->name);
	}
}

static const struct mqb_platform_domain domains[] = {
	{.domain = "sensor", .schema = &sensor_schema, .conf_size = sizeof(struct cl_conf),
	 .check = check_sensor, .setup_platform = setup_sensor},
	{.domain = "binary_sensor", .schema = &binary_sensor_schema,
	 .conf_size = sizeof(struct cl_conf), .check = check_binary, .setup_platform = setup_binary},
	{.domain = "switch", .schema = &switch_schema, .conf_size = sizeof(struct cl_conf),
	 .check = check_switch, .setup_platform = setup_switch},
	{.domain = "cover", .schema = &cover_schema, .conf_size = sizeof(struct cl_conf),
	 .check = check_cover, .setup_platform = setup_cover},
	{.domain = "notify", .schema = &notify_schema, .conf_size = sizeof(struct cl_conf),
	 .check = check_notify, .async_setup_platform = setup_notify},
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = "command_line",
	.domains = domains,
	.ndomains = MQB_ARRAY_SIZE(domains),
};
