/* SPDX-License-Identifier: MIT */
/* The file integration: Home Assistant's `sensor: - platform: file`, whose
 * state is the last line of a file, read from the end in the pool and put
 * through value_template on the loop; and `notify: - platform: file`, a
 * notify service appending each message to a file as a line. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqbridge/config.h"
#include "mqbridge/core.h"
#include "mqbridge/coro.h"
#include "mqbridge/entity.h"
#include "mqbridge/future.h"
#include "mqbridge/job.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/services.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"
#include "mqbridge/template.h"

#include "sysmon_read.h"

#define LOG_TAG "file"
/* A longer last line is refused: a state is at most 255 bytes, and a
 * value_template may pick a part of a JSON line, which this leaves room for. */
#define MAX_LINE (64 * 1024)

/* One `sensor: - platform: file` item. */
struct file_conf {
	const char *file_path, *name, *unit_of_measurement, *unique_id;
	const struct mqb_conf_node *value_template;
	double scan_interval;
};

#define FC(f) .offset = offsetof(struct file_conf, f), .stored = true
static const struct mqb_schema_key file_keys[] = {
	{.key = "file_path", .type = MQB_S_STRING, .required = true, FC(file_path),
	 .doc = "the file whose last line is the state"},
	{.key = "name", .type = MQB_S_STRING, .def = "File", FC(name),
	 .doc = "the sensor's name (default File)"},
	{.key = "unit_of_measurement", .type = MQB_S_STRING, FC(unit_of_measurement),
	 .doc = "the unit of the state"},
	{.key = "value_template", .type = MQB_S_TEMPLATE, FC(value_template),
	 .doc = "template making the state from the line (value, value_json)"},
	{.key = "unique_id", .type = MQB_S_STRING, FC(unique_id),
	 .doc = "unique id in discovery (default <node_id>_<object_id>)"},
	/* the sensor entity component's default */
	{.key = "scan_interval", .type = MQB_S_DURATION, .def = "30", .min = 0.1, .max = 31536000,
	 FC(scan_interval), .doc = "seconds between reads"},
};
static const struct mqb_schema file_schema = MQB_SCHEMA("sensor.file", file_keys);

struct file_sensor {
	const char *path;          /* in the configuration document */
	struct mqb_template *tpl;  /* NULL: the line is the state */
	int last_err;              /* the read error last logged; 0 after a good read */
};

/* The pool's part: arg is a copy of the path the job owns, so a job still
 * running at shutdown touches nothing of the entity's. */
static int read_last_line(void *ud, void *arg, void **result)
{
	(void)ud;
	int fd = open(arg, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	char *line = NULL;
	size_t len;
	int rc = sysmon_last_line(fd, MAX_LINE, &line, &len);
	close(fd);
	if (rc == 0)
		*result = line;
	return rc;
}

static const char *read_error(int rc, char *buf, size_t n)
{
	switch (rc) {
	case -ENODATA: return "the file is empty";
	case -E2BIG: snprintf(buf, n, "its last line is longer than %d bytes", MAX_LINE); return buf;
	case -EILSEQ: return "its last line is not UTF-8 text";
	case -EINVAL: return "not a regular file";
	case -EFBIG: return "too large to read without a size";
	default: return strerror(-rc);
	}
}

static int file_async_update(struct mqb_entity *e, void *priv)
{
	struct file_sensor *s = priv;
	char *path = strdup(s->path);
	if (!path)
		return -ENOMEM;
	struct mqb_job job = {
		.kind = MQB_JOB_EXECUTOR,
		.fn = read_last_line,
		.name = "file: read the last line",
		.result_free = free,
	};
	struct mqb_future *f = NULL;
	int rc = mqb_async_run_job(mqb_entity_core(e), &job, path, free, &f);
	if (rc < 0) {
		free(path);
		return rc;
	}
	void *value = NULL;
	rc = mqb_await(f, &value);
	if (rc == -ECANCELED) {
		mqb_future_unref(f);
		return rc;
	}
	if (rc < 0) {
		/* Home Assistant keeps the old state and warns; once here, until
		 * the file reads again or fails another way */
		char buf[64];
		if (rc != s->last_err)
			MQB_LOG_WARNING(LOG_TAG, "%s: %s: %s; keeping the state %s",
					mqb_entity_id(e), s->path, read_error(rc, buf, sizeof buf),
					mqb_entity_async_state(e));
		s->last_err = rc;
		mqb_future_unref(f);
		return 0;
	}
	if (s->last_err)
		MQB_LOG_INFO(LOG_TAG, "%s: %s reads again", mqb_entity_id(e), s->path);
	s->last_err = 0;
	const char *line = value;
	if (s->tpl) {
		struct mqb_tpl_vars vars = {.value = line, .value_len = strlen(line)};
		char *out = NULL;
		size_t len;
		/* a render error is logged once by the core; the state stays */
		if (mqb_entity_async_render(e, "value_template", s->tpl, &vars, &out, &len) == 0)
			mqb_entity_async_set_state(e, out);
		free(out);
	} else {
		mqb_entity_async_set_state(e, line);
	}
	mqb_future_unref(f);
	return mqb_entity_async_write(e);
}

static void file_free(void *priv)
{
	struct file_sensor *s = priv;
	if (!s)
		return;
	mqb_template_free(s->tpl);
	free(s);
}

static const struct mqb_entity_ops file_ops = {
	.async_update = file_async_update,
	.free = file_free,
};

static int file_setup(struct mqb_platform *p, const void *conf_, const char *path)
{
	const struct file_conf *conf = conf_;
	struct file_sensor *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->path = conf->file_path;
	int rc = mqb_template_from_conf(conf->value_template, &s->tpl);
	if (rc < 0) {
		MQB_LOG_ERROR(LOG_TAG, "%s: value_template: %s", path, strerror(-rc));
		free(s);
		return rc;
	}
	struct mqb_entity_info info = {
		.name = conf->name,
		.unique_id = conf->unique_id,
		.icon = "mdi:file",
		.unit_of_measurement = conf->unit_of_measurement,
		.scan_interval = conf->scan_interval,
	};
	/* on failure the core frees s with file_free */
	rc = mqb_platform_async_add_entity(p, &info, &file_ops, s, NULL);
	if (rc < 0)
		MQB_LOG_ERROR(LOG_TAG, "%s: cannot add the sensor: %s", path, strerror(-rc));
	return rc;
}

/* ---- notify ------------------------------------------------------------ */

/* One `notify: - platform: file` item. */
struct notify_conf {
	const char *name, *file_path, *filename;
	bool timestamp;
};

#define NC(f) .offset = offsetof(struct notify_conf, f), .stored = true
static const struct mqb_schema_key notify_keys[] = {
	{.key = "name", .type = MQB_S_STRING, .def = "notify", NC(name),
	 .doc = "the service is notify.<name>"},
	{.key = "file_path", .type = MQB_S_STRING, NC(file_path),
	 .doc = "the file each message is appended to (relative: to the configuration's folder)"},
	{.key = "filename", .type = MQB_S_STRING, NC(filename),
	 .doc = "the older spelling of file_path"},
	{.key = "timestamp", .type = MQB_S_BOOL, .def = "false", NC(timestamp),
	 .doc = "put the time (UTC, ISO 8601) before each message"},
};
static const struct mqb_schema notify_schema = MQB_SCHEMA("notify.file", notify_keys);

static void notify_check(const void *conf, const struct mqb_conf_node *node, const char *path,
			 struct mqb_conf_errors *errs)
{
	const struct notify_conf *c = conf;
	if (!c->file_path == !c->filename)
		mqb_conf_error_at(errs, node, path, "give the file as file_path (or filename)");
}

/* A service: where, and whether with the time. */
struct file_notify {
	struct mqb_core *core;
	char *path;
	bool timestamp;
	struct file_notify *next;
};

/* printf into a new string; NULL on ENOMEM. */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, f);
	int n = vasprintf(&s, f, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* What one message appends, made on the loop (the time is the call's). */
struct append {
	char *path;
	char *text;
	char *header;                 /* written when the file is empty */
};

static void append_free(void *p)
{
	struct append *a = p;
	if (!a)
		return;
	free(a->path);
	free(a->text);
	free(a->header);
	free(a);
}

static int write_all(int fd, const char *s)
{
	for (size_t n = strlen(s); n;) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The pool's part: Home Assistant's FileNotificationService, a header when
 * the file is new, then the line. */
static int append_line(void *ud, void *arg, void **result)
{
	(void)ud, (void)result;
	struct append *a = arg;
	int fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	if (!rc && st.st_size == 0)
		rc = write_all(fd, a->header);
	if (!rc)
		rc = write_all(fd, a->text);
	if (close(fd) < 0 && !rc)
		rc = -errno;
	return rc;
}

static int notify_service(void *ud, void *arg, void **result)
{
	(void)result;
	struct file_notify *n = ud;
	const json_t *data = mqb_service_call_data(arg);
	const char *message = json_string_value(json_object_get(data, "message"));
	const char *title = json_string_value(json_object_get(data, "title"));
	if (!message) {
		MQB_LOG_WARNING(LOG_TAG, "%s: a notification needs a message", n->path);
		return -EINVAL;
	}
	char now[MQB_ISOFORMAT_MAX];
	mqb_isoformat(mqb_async_now(n->core), now);
	char dashes[81];
	memset(dashes, '-', 80);
	dashes[80] = '\0';
	struct append *a = calloc(1, sizeof *a);
	if (!a || !(a->path = strdup(n->path)) ||
	    !(a->header = fmt("%s notifications (Log started: %s)\n%s\n",
			      title ? title : "Home Assistant", now, dashes)) ||
	    !(a->text = n->timestamp ? fmt("%s %s\n", now, message) : fmt("%s\n", message))) {
		append_free(a);
		return -ENOMEM;
	}
	struct mqb_job job = {.kind = MQB_JOB_EXECUTOR, .fn = append_line,
			      .name = "file: append a notification"};
	struct mqb_future *f = NULL;
	int rc = mqb_async_run_job(n->core, &job, a, append_free, &f);
	if (rc < 0) {
		append_free(a);
		return rc;
	}
	rc = mqb_await(f, NULL);
	mqb_future_unref(f);
	if (rc && rc != -ECANCELED)
		MQB_LOG_ERROR(LOG_TAG, "%s: cannot append the notification: %s", n->path,
			      strerror(-rc));
	return rc;
}

/* One core's services, kept with the core (freed with it). */
struct notifiers {
	struct file_notify *first;
};

static void notifiers_free(void *p)
{
	struct notifiers *ns = p;
	for (struct file_notify *n = ns ? ns->first : NULL, *next; n; n = next) {
		next = n->next;
		free(n->path);
		free(n);
	}
	free(ns);
}

/* notify.<name>, its path from the configuration's folder when relative. */
static int notify_setup(struct mqb_platform *p, const void *conf_, const char *path)
{
	const struct notify_conf *c = conf_;
	struct mqb_core *core = mqb_platform_core(p);
	const char *file = c->file_path ? c->file_path : c->filename;
	char slug[128];
	mqb_slugify(c->name, slug, sizeof slug);
	struct notifiers *ns = mqb_core_async_data(core, "file.notify");
	if (!ns) {
		if (!(ns = calloc(1, sizeof *ns)))
			return -ENOMEM;
		if (mqb_core_async_set_data(core, "file.notify", ns, notifiers_free)) {
			free(ns);
			return -ENOMEM;
		}
	}
	struct file_notify *fn = calloc(1, sizeof *fn);
	if (!fn)
		return -ENOMEM;
	fn->next = ns->first;
	ns->first = fn;
	fn->core = core;
	fn->timestamp = c->timestamp;
	fn->path = file[0] == '/' ? strdup(file) : fmt("%s/%s", mqb_platform_config_dir(p), file);
	if (!fn->path)
		return -ENOMEM;
	int rc = mqb_services_async_register(core, "notify", slug,
					     &MQB_COROUTINE(notify_service, fn), NULL, NULL);
	if (rc)
		MQB_LOG_ERROR(LOG_TAG, "%s: notify.%s: %s", path, slug, strerror(-rc));
	return rc;
}

static const struct mqb_platform_domain file_domains[] = {
	{
		.domain = "sensor",
		.schema = &file_schema,
		.conf_size = sizeof(struct file_conf),
		.async_setup_platform = file_setup,
	},
	{
		.domain = "notify",
		.schema = &notify_schema,
		.conf_size = sizeof(struct notify_conf),
		.check = notify_check,
		.async_setup_platform = notify_setup,
	},
};

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = MQB_PLATFORM_API_VERSION,
	.name = "file",
	.domains = file_domains,
	.ndomains = MQB_ARRAY_SIZE(file_domains),
};
