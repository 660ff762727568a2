/* SPDX-License-Identifier: MIT */
/* The daemon in-process, for the helpers' tests: see t/inproc.h. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inproc.h"
#include "core/loop.h"
#include "daemon/daemon.h"
#include "daemon/options.h"
#include "mqbridge/bus.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/services.h"
#include "mqbridge/states.h"
#include "mqbridge/timer.h"

/* ---- the log ---------------------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *log_text;
static size_t log_len, log_cap;

static void sink(void *ud, enum mqb_log_level level, const char *sub, const char *line)
{
	(void)ud;
	size_t n = strlen(line);
	pthread_mutex_lock(&log_lock);
	if (log_len + n + 2 > log_cap) {
		size_t cap = (log_len + n + 2) * 2;
		char *t = realloc(log_text, cap);
		if (t) {
			log_text = t;
			log_cap = cap;
		}
	}
	if (log_len + n + 2 <= log_cap) {
		memcpy(log_text + log_len, line, n);
		log_len += n;
		log_text[log_len++] = '\n';
		log_text[log_len] = '\0';
	}
	pthread_mutex_unlock(&log_lock);
	if (level >= MQB_LOG_WARNING && strcmp(sub, "mqtt") != 0)
		fprintf(stderr, "  log: %s\n", line);
}

/* Whether the log from offset from holds needle. */
static bool logged_since(size_t from, const char *needle)
{
	pthread_mutex_lock(&log_lock);
	bool found = log_text && from <= log_len && strstr(log_text + from, needle);
	pthread_mutex_unlock(&log_lock);
	return found;
}

bool ip_logged(struct ip *ip, const char *needle)
{
	(void)ip;
	pthread_mutex_lock(&log_lock);
	bool found = log_text && strstr(log_text, needle);
	pthread_mutex_unlock(&log_lock);
	return found;
}

/* ---- starting and stopping ---------------------------------------------------- */

static char platform_dir[512], test_platform_dir[512];
static const char *dirs[2];

/* The modules, and the test-only ones (t/platforms: entities whose
 * commands set their state, as members to command). */
static void platforms(void)
{
	const char *b = getenv("abs_top_builddir");
	snprintf(platform_dir, sizeof platform_dir, "%s/platforms", b ? b : ".");
	snprintf(test_platform_dir, sizeof test_platform_dir, "%s/t/platforms", b ? b : ".");
	dirs[0] = platform_dir;
	dirs[1] = test_platform_dir;
	options__set_platform_dirs(dirs, 2);
}

void ip_write(struct ip *ip, const char *yaml)
{
	FILE *f = fopen(ip->config, "w");
	assert_non_null(f);
	if (!strstr(yaml, "mqbridge:"))
		fprintf(f, "mqbridge: {node_id: ip, state_dir: %s}\n", ip->dir);
	if (!strstr(yaml, "mqtt:"))
		fputs("mqtt: {broker: 127.0.0.1, port: 1, reconnect_min: 3600, reconnect_max: 3600}\n",
		      f);
	fputs(yaml, f);
	fclose(f);
}

struct started {
	struct tu_latch latch;
};

static int on_start(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	tu_latch_count_down(ud);
	return 0;
}

static int on_event(void *ud, void *arg, void **result)
{
	(void)result;
	struct ip *ip = ud;
	const struct mqb_event *ev = arg;
	const char *type = mqb_event_type(ev);
	if (strcmp(type, MQB_EVENT_STATE_CHANGED) == 0 ||
	    (!ip->calls && strcmp(type, MQB_EVENT_CALL_SERVICE) == 0))
		return 0;
	json_t *e = json_pack("{s:s, s:o}", "event_type", type, "data",
			      json_deep_copy(mqb_event_data(ev)));
	pthread_mutex_lock(ip->lock);
	json_array_append_new(ip->events, e);
	pthread_mutex_unlock(ip->lock);
	return 0;
}

static void run(struct ip *ip)
{
	struct daemon_options *o = calloc(1, sizeof *o);
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	platforms();
	int rc = options__load(ip->config, o, &errs);
	if (rc)
		mqb_conf_errors_print(&errs, stderr);
	mqb_conf_errors_fini(&errs);
	assert_int_equal(rc, 0);
	ip->opts = o;
	o->core.executor_threads = 2;
	struct mqb_core *core;
	assert_int_equal(mqb_core_new(&o->core, &core), 0);
	timer__shift_wall(core, ip->shift);
	struct tu_latch started;
	tu_latch_init(&started, 1);
	assert_int_equal(mqb_bus_async_listen_once(core, MQB_EVENT_START,
						   &MQB_CALLBACK(on_start, &started), NULL),
			 0);
	assert_int_equal(mqb_bus_async_listen(core, MQB_MATCH_ALL, &MQB_CALLBACK(on_event, ip),
					      NULL),
			 0);
	pthread_mutex_lock(&log_lock);
	ip->log_mark = log_len;
	pthread_mutex_unlock(&log_lock);
	enum daemon_step failed;
	assert_int_equal(daemon__async_start(core, o, ip->config, &failed), 0);
	tu_loop_adopt(&ip->t, core);
	ip->live = true;
	assert_true(tu_latch_wait(&started, TU_TIMEOUT));
	tu_latch_destroy(&started);
}

void ip_start(struct ip *ip, const char *yaml)
{
	ip_start_at(ip, yaml, 0);
}

void ip_start_at(struct ip *ip, const char *yaml, double when)
{
	memset(ip, 0, sizeof *ip);
	if (when > 0) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		ip->shift = when - ((double)now.tv_sec + now.tv_nsec / 1e9);
	}
	snprintf(ip->dir, sizeof ip->dir, "/tmp/mqb-ip-XXXXXX");
	assert_non_null(mkdtemp(ip->dir));
	snprintf(ip->config, sizeof ip->config, "%s/mqbridge.yaml", ip->dir);
	ip->events = json_array();
	pthread_mutex_t *m = malloc(sizeof *m);
	pthread_mutex_init(m, NULL);
	ip->lock = m;
	mqb_log_set_level(MQB_LOG_DEBUG);
	mqb_log_set_sink(sink, NULL);
	pthread_mutex_lock(&log_lock);
	log_len = 0;
	if (log_text)
		log_text[0] = '\0';
	pthread_mutex_unlock(&log_lock);
	ip_write(ip, yaml);
	run(ip);
}

void ip_stop(struct ip *ip)
{
	if (!ip->live)
		return;
	ip->live = false;
	/* The client's one attempt at the closed port has ended (the next is
	 * an hour away): a connect cut short by the stop would be left to
	 * its thread, and its memory with it. */
	for (double end = tu_now() + TU_TIMEOUT;
	     !logged_since(ip->log_mark, "cannot connect to") && tu_now() < end;)
		nanosleep(&(struct timespec){0, 2 * 1000 * 1000}, NULL);
	assert_int_equal(tu_loop_stop(&ip->t), 0);
	options__fini(ip->opts);
	free(ip->opts);
	ip->opts = NULL;
}

void ip_restart(struct ip *ip, const char *yaml)
{
	ip_stop(ip);
	if (yaml)
		ip_write(ip, yaml);
	ip_clear_events(ip);
	run(ip);
}

void ip_fini(struct ip *ip)
{
	ip_stop(ip);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", ip->dir);
	if (ip->dir[0] && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", ip->dir);
	json_decref(ip->events);
	ip->events = NULL;
	if (ip->lock) {
		pthread_mutex_destroy(ip->lock);
		free(ip->lock);
		ip->lock = NULL;
	}
	mqb_log_set_sink(NULL, NULL);
	mqb_log_set_level(MQB_LOG_INFO);
}

/* ---- talking to it ------------------------------------------------------------- */

int ip_call(struct ip *ip, const char *domain, const char *service, const char *data)
{
	json_error_t err;
	json_t *d = data ? json_loads(data, 0, &err) : NULL;
	if (data && !d)
		fail_msg("bad test data %s: %s", data, err.text);
	struct mqb_future *f = NULL;
	int rc = mqb_services_call(ip->t.core, domain, service, d, &f);
	if (rc)
		return rc;
	rc = mqb_future_result(f, TU_TIMEOUT, NULL);
	mqb_future_unref(f);
	assert_int_not_equal(rc, -ETIMEDOUT);
	return rc;
}

struct call_response {
	struct mqb_core *core;
	const char *domain, *service;
	json_t *data;
	struct mqb_future *f;
	int rc;
};

static void call_response_on_loop(void *arg)
{
	struct call_response *c = arg;
	struct mqb_service_call_options opt = {.return_response = true};
	c->rc = mqb_services_async_call_opt(c->core, c->domain, c->service, c->data, &opt, &c->f);
}

int ip_call_response(struct ip *ip, const char *domain, const char *service, const char *data,
		     char *buf, size_t len)
{
	json_error_t err;
	struct call_response c = {ip->t.core, domain, service, NULL, NULL, 0};
	if (data && !(c.data = json_loads(data, 0, &err)))
		fail_msg("bad test data %s: %s", data, err.text);
	tu_on_loop(&ip->t, call_response_on_loop, &c);
	if (len)
		buf[0] = '\0';
	if (c.rc)
		return c.rc;
	void *value = NULL;
	int rc = mqb_future_result(c.f, TU_TIMEOUT, &value);
	assert_int_not_equal(rc, -ETIMEDOUT);
	char *t = value ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (t && len)
		snprintf(buf, len, "%s", t);
	free(t);
	mqb_future_unref(c.f);
	return rc;
}

void ip_set(struct ip *ip, const char *entity_id, const char *state, const char *attributes)
{
	json_error_t err;
	json_t *a = attributes ? json_loads(attributes, 0, &err) : NULL;
	if (attributes && !a)
		fail_msg("bad test attributes %s: %s", attributes, err.text);
	int rc = state ? mqb_states_set(ip->t.core, entity_id, state, a, false)
		       : mqb_states_remove(ip->t.core, entity_id);
	if (!state)
		json_decref(a);
	assert_int_equal(rc, 0);
}

json_t *ip_state(struct ip *ip, const char *entity_id)
{
	struct mqb_state *s = NULL;
	assert_int_equal(mqb_states_get(ip->t.core, entity_id, &s), 0);
	json_t *j = mqb_state_to_json(s);
	mqb_state_unref(s);
	return j;
}

const char *ip_value(struct ip *ip, const char *entity_id, char *buf, size_t len)
{
	json_t *j = ip_state(ip, entity_id);
	snprintf(buf, len, "%s", j ? json_string_value(json_object_get(j, "state")) : "");
	json_decref(j);
	return buf;
}

const char *ip_attr(struct ip *ip, const char *entity_id, const char *name, char *buf,
		    size_t len)
{
	json_t *j = ip_state(ip, entity_id);
	json_t *v = json_object_get(json_object_get(j, "attributes"), name);
	char *t = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	snprintf(buf, len, "%s", t ? t : "");
	free(t);
	json_decref(j);
	return buf;
}

struct advance {
	struct mqb_core *core;
	double seconds;
};

static void advance_on_loop(void *arg)
{
	struct advance *a = arg;
	timer__advance(a->core, a->seconds);
}

void ip_advance(struct ip *ip, double seconds)
{
	struct advance a = {ip->t.core, seconds};
	tu_on_loop(&ip->t, advance_on_loop, &a);
	ip->shift += seconds;
	/* due timers fire in the next iteration; what they queue, after */
	tu_loop_flush(&ip->t);
	tu_loop_flush(&ip->t);
}

struct now {
	struct mqb_core *core;
	double t;
};

static void now_on_loop(void *arg)
{
	struct now *n = arg;
	n->t = mqb_async_now(n->core);
}

double ip_now(struct ip *ip)
{
	struct now n = {ip->t.core, 0};
	tu_on_loop(&ip->t, now_on_loop, &n);
	return n.t;
}

void ip_align(struct ip *ip)
{
	double now = ip_now(ip);
	ip_advance(ip, ceil(now) - now + 0.001);
}

size_t ip_events(struct ip *ip, const char *type, char *buf, size_t len)
{
	size_t count = 0, off = 0, i;
	json_t *e;
	if (len)
		buf[0] = '\0';
	pthread_mutex_lock(ip->lock);
	json_array_foreach(ip->events, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "event_type")), type) != 0)
			continue;
		count++;
		char *t = json_dumps(json_object_get(e, "data"), JSON_COMPACT | JSON_SORT_KEYS);
		if (t && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s\n", t);
		free(t);
	}
	pthread_mutex_unlock(ip->lock);
	return count;
}

void ip_clear_events(struct ip *ip)
{
	pthread_mutex_lock(ip->lock);
	json_array_clear(ip->events);
	pthread_mutex_unlock(ip->lock);
}

size_t ip_check(const char *yaml, char *out, size_t len)
{
	char dir[] = "/tmp/mqb-ipc-XXXXXX", path[128];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/mqbridge.yaml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(yaml, f);
	fclose(f);
	platforms();
	struct daemon_options o = {0};
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	int rc = options__load(path, &o, &errs);
	size_t off = 0;
	if (len)
		out[0] = '\0';
	for (size_t i = 0; i < errs.n && off < len; i++) {
		const struct mqb_conf_error *e = &errs.v[i];
		const char *file = e->mark.file ? strrchr(e->mark.file, '/') : NULL;
		off += (size_t)snprintf(out + off, len - off, "%s:%u:%u: %s: %s\n",
					file ? file + 1 : "?", e->mark.line, e->mark.column, e->path,
					e->message);
	}
	size_t n = errs.n;
	mqb_conf_errors_fini(&errs);
	if (rc == 0)
		options__fini(&o);
	unlink(path);
	rmdir(dir);
	return n;
}
