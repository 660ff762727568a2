/* SPDX-License-Identifier: MIT */
/* shell_command: Home Assistant's commands as services
 * (homeassistant/components/shell_command): each key of shell_command:
 * a service shell_command.<key> running its command in the pool with
 * command_line's runner (cmd_run.c), killed with its process group after
 * 60 seconds; its stdout, stderr and returncode the call's response.
 * Under DESIGN §5 a command with templates is split into words first and
 * each rendered template is exactly one argument, with no shell. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/config.h"
#include "mqbridge/core.h"
#include "mqbridge/coro.h"
#include "mqbridge/error.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/services.h"
#include "mqbridge/template.h"
#include "mqbridge/text.h"

#include "cmd_run.h"

#define SUB "shell_command"
/* COMMAND_TIMEOUT */
#define TIMEOUT 60.0
/* What a response may hold of each stream (Home Assistant keeps all). */
#define MAX_OUTPUT (1024 * 1024)

/* One service: its command, split at setup when it holds templates. */
struct command {
	char *name;
	const char *text;
	bool secret;
	bool templated;
	struct cmd_line line;
	struct mqb_core *core;
	const char *cwd;
};

struct commands {
	struct command *v;
	size_t n;
	char *cwd;
};

static void commands_free(void *p)
{
	struct commands *c = p;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].name);
		cmd_line_fini(&c->v[i].line);
	}
	free(c->v);
	free(c->cwd);
	free(c);
}

/* cv.schema_with_slug_keys(cv.string): slug keys, scalar commands, and
 * templates that split into words (DESIGN §5). */
static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	char buf[64], slug[256];
	for (size_t i = 0; i < n; i++) {
		const struct mqb_component_entry *en = &entries[i];
		if (!en->key || strlen(en->key) >= sizeof slug ||
		    strcmp(mqb_slugify(en->key, slug, sizeof slug), en->key) != 0)
			mqb_conf_error_at(errs, en->key_node, en->path, "invalid slug %s (try %s)",
					  en->key ? en->key : "(none)", slug);
		const char *text = mqb_conf_kind(en->node) == MQB_CONF_SCALAR
					   ? mqb_conf_scalar(en->node, NULL)
					   : NULL;
		if (!text) {
			mqb_conf_error_at(errs, en->node, en->path, "expected a command, got %s",
					  mqb_conf_display(en->node, buf, sizeof buf));
			continue;
		}
		if (!cmd_has_template(text))
			continue;
		struct cmd_line line;
		struct cmd_split_error e;
		if (cmd_line_parse(text, &line, &e))
			mqb_conf_error_at(errs, en->node, en->path, "%s", e.message);
		cmd_line_fini(&line);
	}
}

/* ---- running ---------------------------------------------------------------- */

struct render {
	const struct command *c;
	const json_t *data;
};

/* A templated word, with the call's data as its variables. */
static int render_word(void *ud, unsigned word, const struct mqb_template *t, char **out,
		       size_t *len)
{
	struct render *r = ud;
	struct mqb_tpl_vars vars = {.variables = r->data, .core = r->c->core};
	struct mqb_tpl_error err;
	int rc = mqb_template_render(t, &vars, NULL, out, len, &err);
	if (rc)
		MQB_LOG_ERROR(SUB, "%s: Error rendering command template (argument %u): %s",
			      r->c->name, word, rc == -ENOMEM ? "out of memory" : err.message);
	return rc;
}

static const char *shown(const struct command *c, char *buf, size_t len)
{
	return c->secret ? "(secret)" : cmd_printable(c->text, strlen(c->text), buf, len);
}

/* stdout or stderr for the response: str.strip() of its UTF-8 text. */
static json_t *text_of(const char *s, size_t len)
{
	const char *p = mqb_strip(s, &len);
	return len && !mqb_utf8_valid(p, len) ? NULL : json_stringn(p, len);
}

/* The service: render, run in the pool, answer. A COROUTINE. */
static int service(void *ud, void *arg, void **result)
{
	const struct command *c = ud;
	const struct mqb_service_call *call = arg;
	char cmd[160], how[128];
	struct cmd_job *j = calloc(1, sizeof *j);
	if (!j || !(j->cwd = strdup(c->cwd))) {
		free(j);
		return -ENOMEM;
	}
	j->core = c->core;
	j->timeout = TIMEOUT;
	j->max_stdout = j->max_stderr = MAX_OUTPUT;
	int rc = 0;
	if (c->templated) {
		struct render r = {c, mqb_service_call_data(call)};
		unsigned bad = 0;
		rc = cmd_line_argv(&c->line, render_word, &r, &j->argv, &bad);
		if (rc == -EILSEQ)
			MQB_LOG_ERROR(SUB, "%s: argument %u rendered a NUL character; not run",
				      c->name, bad - 1);
	} else if (!(j->shell = strdup(c->text))) {
		rc = -ENOMEM;
	}
	if (rc) {
		cmd_job_free(j);
		return rc;
	}
	struct mqb_job job = MQB_EXECUTOR(cmd_job_run, NULL);
	job.name = "shell_command";
	job.result_free = cmd_job_result_free;
	struct mqb_future *f = NULL;
	if ((rc = mqb_async_run_job(c->core, &job, j, cmd_job_free, &f))) {
		cmd_job_free(j);
		return rc;
	}
	const struct cmd_result *res = NULL;
	rc = mqb_await(f, (void **)&res);
	if (rc == 0 && !res)
		rc = -EIO;
	if (rc)
		goto out;
	int returncode = res->how == CMD_EXITED ? res->status : -res->status;
	switch (res->how) {
	case CMD_TIMEOUT:
		MQB_LOG_ERROR(SUB, "Timed out running command: `%s`, after: %.0fs",
			      shown(c, cmd, sizeof cmd), TIMEOUT);
		rc = -ETIMEDOUT;
		goto out;
	case CMD_CANCELLED:
		rc = -ECANCELED;
		goto out;
	case CMD_NOT_RUN:
		MQB_LOG_ERROR(SUB, "Error running command: `%s`: %s", shown(c, cmd, sizeof cmd),
			      cmd_describe(res, TIMEOUT, how, sizeof how));
		rc = -res->status;
		goto out;
	case CMD_EXITED:
	case CMD_SIGNALED:
		break;
	}
	if (res->out_len)
		MQB_LOG_DEBUG(SUB, "Stdout of command: `%s`, return code: %d:\n%.*s",
			      shown(c, cmd, sizeof cmd), returncode, (int)res->out_len, res->out);
	if (res->err_len)
		MQB_LOG_DEBUG(SUB, "Stderr of command: `%s`, return code: %d:\n%.*s",
			      shown(c, cmd, sizeof cmd), returncode, (int)res->err_len, res->err);
	if (returncode != 0)
		MQB_LOG_ERROR(SUB, "Error running command: `%s`, return code: %d",
			      shown(c, cmd, sizeof cmd), returncode);
	if (!mqb_service_call_return_response(call))
		goto out;
	json_t *out = text_of(res->out, res->out_len), *err = text_of(res->err, res->err_len);
	if (!out || !err) {
		MQB_LOG_ERROR(SUB, "Unable to handle non-utf8 output of command: `%s`",
			      shown(c, cmd, sizeof cmd));
		json_decref(out);
		json_decref(err);
		rc = -EILSEQ;
		goto out;
	}
	*result = json_pack("{s:o, s:o, s:i}", "stdout", out, "stderr", err, "returncode",
			    returncode);
	if (!*result)
		rc = -ENOMEM;
out:
	mqb_future_unref(f);
	return rc;
}

/* ---- the component -------------------------------------------------------- */

static int setup(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	struct mqb_core *core = mqb_integration_core(in);
	struct commands *cs = calloc(1, sizeof *cs);
	const char *dir = mqb_integration_config_dir(in);
	if (!cs || !(cs->v = calloc(n ? n : 1, sizeof *cs->v)) ||
	    !(cs->cwd = strdup(dir && *dir ? dir : "/"))) {
		if (cs)
			free(cs->v);
		free(cs);
		return -ENOMEM;
	}
	int rc = mqb_core_async_set_data(core, SUB, cs, commands_free);
	if (rc) {
		commands_free(cs);
		return rc;
	}
	int first = 0;
	for (size_t i = 0; i < n; i++) {
		struct command *c = &cs->v[cs->n];
		c->core = core;
		c->cwd = cs->cwd;
		c->text = mqb_conf_scalar(entries[i].node, NULL);
		c->secret = mqb_conf_is_secret(entries[i].node);
		if (!(c->name = strdup(entries[i].key))) {
			first = first ? first : -ENOMEM;
			continue;
		}
		struct cmd_split_error e;
		if (cmd_has_template(c->text)) {
			if ((rc = cmd_line_parse(c->text, &c->line, &e))) {
				MQB_LOG_ERROR(SUB, "%s: %s", entries[i].path, e.message);
				free(c->name);
				first = first ? first : rc;
				continue;
			}
			c->templated = true;
		}
		cs->n++;
		struct mqb_job job = MQB_COROUTINE(service, c);
		job.name = "shell_command service";
		rc = mqb_services_async_register_response(core, SUB, c->name, &job, NULL, NULL,
							  MQB_SERVICE_RESPONSE_OPTIONAL);
		if (rc)
			MQB_LOG_ERROR(SUB, "%s: cannot register the service: %s", entries[i].path,
				      mqb_strerror(rc));
		first = first ? first : rc;
	}
	return first;
}

static const struct mqb_component component = {
	.shape = MQB_COMPONENT_MAPPING,
	.check = check,
	.async_setup = setup,
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = SUB,
	.component = &component,
};
