/* SPDX-License-Identifier: MIT */
/* Services Home Assistant always has that write for a person to read:
 * system_log.write, logbook.log and persistent_notification's create,
 * dismiss and dismiss_all. A daemon without a page to show them on writes
 * them to its log, where whoever reads it looks, and keeps the
 * notifications so that a dismiss finds its own. */
#include "lib/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mqbridge/bus.h"
#include "mqbridge/config.h"
#include "mqbridge/core.h"
#include "mqbridge/services.h"
#include "daemon/notices.h"

#define SUB "notice"

/* ---- system_log.write ------------------------------------------------------ */

/* SERVICE_WRITE_SCHEMA: message required; level one of Python's, error
 * by default; logger any name. */
static const char *const levels[] = {"debug", "info", "warning", "error", "critical"};

static int level_of(const json_t *v, enum mqb_log_level *out)
{
	static const enum mqb_log_level map[] = {MQB_LOG_DEBUG, MQB_LOG_INFO, MQB_LOG_WARNING,
						 MQB_LOG_ERROR, MQB_LOG_ERROR};
	const char *s = v ? json_string_value(v) : "error";
	for (size_t i = 0; s && i < MQB_ARRAY_SIZE(levels); i++)
		if (strcmp(s, levels[i]) == 0) {
			*out = map[i];
			return 0;
		}
	return -EINVAL;
}

/* Its message: a string, or what Home Assistant's cv.string makes of a
 * number; NULL for anything else. */
static const char *text_of(const json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, len, "%.17g", json_real_value(v));
		return buf;
	}
	return NULL;
}

static int require(const json_t *data, const char *key, char *msg, size_t len)
{
	char buf[32];
	if (text_of(json_object_get(data, key), buf, sizeof buf))
		return 0;
	snprintf(msg, len, json_object_get(data, key) ? "expected str for dictionary value @ "
							"data['%s']"
						      : "required key not provided @ data['%s']",
		 key);
	return -EINVAL;
}

static int validate_write(void *ud, const json_t *data, char *msg, size_t len)
{
	(void)ud;
	enum mqb_log_level l;
	if (require(data, "message", msg, len))
		return -EINVAL;
	if (level_of(json_object_get(data, "level"), &l)) {
		snprintf(msg, len, "value must be one of ['critical', 'debug', 'error', 'info', "
				   "'warning'] for dictionary value @ data['level']");
		return -EINVAL;
	}
	const json_t *lg = json_object_get(data, "logger");
	if (lg && !json_is_string(lg)) {
		snprintf(msg, len, "expected str for dictionary value @ data['logger']");
		return -EINVAL;
	}
	return 0;
}

static int write_log(void *ud, void *arg, void **result)
{
	(void)ud, (void)result;
	const json_t *data = mqb_service_call_data(arg);
	enum mqb_log_level l = MQB_LOG_ERROR;
	char buf[32];
	level_of(json_object_get(data, "level"), &l);
	const char *logger = json_string_value(json_object_get(data, "logger"));
	mqb_log(l, logger ? logger : "homeassistant.components.system_log.external", "%s",
		text_of(json_object_get(data, "message"), buf, sizeof buf));
	return 0;
}

/* ---- logbook.log ----------------------------------------------------------- */

/* LOG_MESSAGE_SCHEMA: name and message required, entity_id and domain
 * optional; the entry is the logbook_entry event, as Home Assistant fires
 * it, and a line of the log. */
static int validate_logbook(void *ud, const json_t *data, char *msg, size_t len)
{
	(void)ud;
	if (require(data, "name", msg, len) || require(data, "message", msg, len))
		return -EINVAL;
	return 0;
}

static int logbook_log(void *ud, void *arg, void **result)
{
	(void)result;
	struct mqb_core *core = ud;
	const json_t *data = mqb_service_call_data(arg);
	char nb[32], mb[32];
	const char *name = text_of(json_object_get(data, "name"), nb, sizeof nb);
	const char *message = text_of(json_object_get(data, "message"), mb, sizeof mb);
	const char *entity = json_string_value(json_object_get(data, "entity_id"));
	const char *domain = json_string_value(json_object_get(data, "domain"));
	json_t *ev = json_pack("{s:s,s:s}", "name", name, "message", message);
	if (ev && entity)
		json_object_set_new(ev, "entity_id", json_string(entity));
	if (ev && domain)
		json_object_set_new(ev, "domain", json_string(domain));
	MQB_LOG_INFO("logbook", "%s %s%s%s%s", name, message, entity ? " (" : "",
		     entity ? entity : "", entity ? ")" : "");
	return ev ? mqb_bus_async_fire(core, "logbook_entry", ev) : -ENOMEM; /* takes ev */
}

/* ---- persistent_notification ----------------------------------------------- */

/* What create left and dismiss has not taken back, by notification_id
 * (Home Assistant's generated one a count here). Kept with the core. */
struct notes {
	json_t *by_id; /* id -> {title, message} */
	unsigned long next;
};

static void notes_free(void *p)
{
	struct notes *n = p;
	if (n)
		json_decref(n->by_id);
	mqb__free(n);
}

static int validate_create(void *ud, const json_t *data, char *msg, size_t len)
{
	(void)ud;
	if (require(data, "message", msg, len))
		return -EINVAL;
	static const char *const opt[] = {"title", "notification_id"};
	char buf[32];
	for (size_t i = 0; i < MQB_ARRAY_SIZE(opt); i++) {
		const json_t *v = json_object_get(data, opt[i]);
		if (v && !json_is_null(v) && !text_of(v, buf, sizeof buf)) {
			snprintf(msg, len, "expected str for dictionary value @ data['%s']", opt[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static int validate_dismiss(void *ud, const json_t *data, char *msg, size_t len)
{
	(void)ud;
	return require(data, "notification_id", msg, len);
}

static int create(void *ud, void *arg, void **result)
{
	(void)result;
	struct notes *n = ud;
	const json_t *data = mqb_service_call_data(arg);
	char mb[32], tb[32], ib[32];
	const char *message = text_of(json_object_get(data, "message"), mb, sizeof mb);
	const char *title = text_of(json_object_get(data, "title"), tb, sizeof tb);
	const char *id = text_of(json_object_get(data, "notification_id"), ib, sizeof ib);
	if (!id) {
		snprintf(ib, sizeof ib, "%lu", ++n->next);
		id = ib;
	}
	json_t *note = json_pack("{s:s,s:s?}", "message", message, "title", title);
	if (!note || json_object_set_new(n->by_id, id, note))
		return -ENOMEM;
	MQB_LOG_INFO("persistent_notification", "%s: %s%s%s", id, title ? title : "",
		     title ? ": " : "", message);
	return 0;
}

static int dismiss(void *ud, void *arg, void **result)
{
	(void)result;
	struct notes *n = ud;
	char ib[32];
	const char *id =
		text_of(json_object_get(mqb_service_call_data(arg), "notification_id"), ib, sizeof ib);
	if (json_object_del(n->by_id, id) == 0)
		MQB_LOG_DEBUG("persistent_notification", "%s dismissed", id);
	return 0;
}

static int dismiss_all(void *ud, void *arg, void **result)
{
	(void)arg, (void)result;
	struct notes *n = ud;
	MQB_LOG_DEBUG("persistent_notification", "%zu dismissed", json_object_size(n->by_id));
	json_object_clear(n->by_id);
	return 0;
}

/* ---- registration ------------------------------------------------------------ */

int notices__async_register(struct mqb_core *core)
{
	struct notes *n = mqb__calloc(1, sizeof *n);
	if (!n || !(n->by_id = json_object())) {
		notes_free(n);
		return -ENOMEM;
	}
	int rc = mqb_core_async_set_data(core, "persistent_notification", n, notes_free);
	if (rc) {
		notes_free(n);
		return rc;
	}
	const struct {
		const char *domain, *service;
		struct mqb_job job;
		mqb_service_validate_fn validate;
	} v[] = {
		{"system_log", "write", MQB_CALLBACK(write_log, core), validate_write},
		{"logbook", "log", MQB_CALLBACK(logbook_log, core), validate_logbook},
		{"persistent_notification", "create", MQB_CALLBACK(create, n), validate_create},
		{"persistent_notification", "dismiss", MQB_CALLBACK(dismiss, n), validate_dismiss},
		{"persistent_notification", "dismiss_all", MQB_CALLBACK(dismiss_all, n), NULL},
	};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(v) && !rc; i++)
		rc = mqb_services_async_register(core, v[i].domain, v[i].service, &v[i].job,
						 v[i].validate, NULL);
	return rc;
}
