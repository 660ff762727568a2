/* SPDX-License-Identifier: MIT */
/* The status line and the SIGUSR1 dump (status.h): read from the core's,
 * the MQTT client's and the entities' own figures on the loop, with the
 * process's (from /proc) read in the pool. Scripts and automations are
 * running when their state's `current` attribute says so, as Home
 * Assistant's entities show it. */
#include "lib/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/status.h"
#include "mqbridge/config.h"
#include "mqbridge/coro.h"
#include "mqbridge/entity.h"
#include "mqbridge/mqtt.h"
#include "mqbridge/states.h"
#include "mqtt/client.h"

#define SUB "status"
/* Entities named in one dump line at most; the rest are counted. */
#define NAMES_MAX 20

/* How many runs of e are going on now (scripts and automations only). */
static long long runs_of(struct mqb_core *core, struct mqb_entity *e)
{
	const char *d = mqb_entity_domain(e);
	if (strcmp(d, "script") != 0 && strcmp(d, "automation") != 0)
		return 0;
	struct mqb_state *s = mqb_states_async_get(core, mqb_entity_id(e));
	long long n = s ? json_integer_value(json_object_get(mqb_state_attributes(s), "current")) : 0;
	mqb_state_unref(s);
	return n;
}

struct counts {
	size_t entities, unavailable, running;
};

static struct counts count(struct mqb_core *core)
{
	struct counts c = {.entities = mqb_entities_async_count(core)};
	for (size_t i = 0; i < c.entities; i++) {
		struct mqb_entity *e = mqb_entities_async_get(core, i);
		c.unavailable += !mqb_entity_async_available(e);
		c.running += runs_of(core, e) > 0;
	}
	return c;
}

void status__async_line(struct mqb_core *core, char *buf, unsigned len)
{
	struct mqb_mqtt_stats st = {0};
	struct counts c = count(core);
	const char *uri = mqtt__async_uri(core), *err = mqtt__async_last_error(core);
	int n;
	if (mqb_mqtt_async_stats(core, &st) != 0)
		n = snprintf(buf, len, "no broker");
	else if (st.connected)
		n = snprintf(buf, len, "connected to %s", uri);
	else
		n = snprintf(buf, len, "connecting to %s%s%s", uri, err && *err ? ": " : "",
			     err ? err : "");
	if (n < 0 || (unsigned)n >= len)
		return;
	snprintf(buf + n, len - (unsigned)n, "; %zu entities%s; %zu script%s running; %llu messages "
		 "in, %llu out", c.entities, c.unavailable ? " (some unavailable)" : "", c.running,
		 c.running == 1 ? "" : "s", st.received, st.published);
}

/* ---- the dump ---------------------------------------------------------------- */

/* "sensor 30, switch 5" into out: each domain once, in the order met. */
static void domains(struct mqb_core *core, char *out, size_t len)
{
	struct {
		const char *name;
		size_t n;
	} d[64];
	size_t nd = 0, other = 0, n = mqb_entities_async_count(core), o = 0;
	for (size_t i = 0; i < n; i++) {
		const char *name = mqb_entity_domain(mqb_entities_async_get(core, i));
		size_t j = 0;
		while (j < nd && strcmp(d[j].name, name) != 0)
			j++;
		if (j == nd && nd == MQB_ARRAY_SIZE(d)) {
			other++;
			continue;
		}
		if (j == nd) {
			d[j].name = name;
			d[j].n = 0;
			nd++;
		}
		d[j].n++;
	}
	out[0] = '\0';
	for (size_t j = 0; j < nd && o + 1 < len; j++) {
		int w = snprintf(out + o, len - o, "%s%s %zu", j ? ", " : "", d[j].name, d[j].n);
		o = w < 0 ? len : o + (size_t)w;
	}
	if (other && o + 1 < len)
		snprintf(out + o, len - o, ", other %zu", other);
}

/* The running scripts and automations (scripts), or the unavailable
 * entities, named (at most NAMES_MAX). */
static void names(struct mqb_core *core, bool scripts, char *out, size_t len)
{
	size_t n = mqb_entities_async_count(core), o = 0, shown = 0, more = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		struct mqb_entity *e = mqb_entities_async_get(core, i);
		long long runs = scripts ? runs_of(core, e) : 0;
		if (scripts ? runs <= 0 : mqb_entity_async_available(e))
			continue;
		if (shown == NAMES_MAX || o + 1 >= len) {
			more++;
			continue;
		}
		int w = scripts ? snprintf(out + o, len - o, "%s%s (%lld run%s)", o ? ", " : "",
					   mqb_entity_id(e), runs, runs == 1 ? "" : "s")
				: snprintf(out + o, len - o, "%s%s", o ? ", " : "", mqb_entity_id(e));
		if (w < 0)
			break;
		o = (size_t)w + o < len ? o + (size_t)w : len - 1;
		shown++;
	}
	if (more && o + 1 < len)
		snprintf(out + o, len - o, " and %zu more", more);
	if (!shown)
		snprintf(out, len, "none");
}

/* A coroutine: the process's figures from the pool, then every line. */
static int dump(void *ud, void *arg, void **result)
{
	struct mqb_core *core = ud;
	struct mqb_process_stats ps;
	int rc = mqb_process_async_stats(core, &ps);
	if (rc == -ECANCELED)
		return rc; /* stopping: nobody reads it */
	if (rc == 0)
		mqb__log_always(SUB, "mqbridge %s, pid %ld: up %.0f s, CPU %.2f s, resident "
				"%.1f MiB, %u open descriptors", PACKAGE_VERSION, (long)getpid(),
				ps.uptime, ps.cpu_seconds, ps.rss_bytes / 1048576.0, ps.open_fds);
	else
		mqb__log_always(SUB, "mqbridge %s, pid %ld (process figures: %s)", PACKAGE_VERSION,
				(long)getpid(), mqb_strerror(rc));

	struct mqb_mqtt_stats st;
	if (mqb_mqtt_async_stats(core, &st) == 0) {
		const char *err = mqtt__async_last_error(core);
		mqb__log_always(SUB, "mqtt: %s %s%s%s; connects %llu, reconnects %llu, connect "
				"failures %llu", st.connected ? "connected to" : "not connected to",
				mqtt__async_uri(core), err && *err ? ", last error: " : "",
				err ? err : "", st.connects, st.reconnects, st.connect_failures);
		mqb__log_always(SUB, "mqtt: received %llu, dispatched %llu, published %llu, publish "
				"failures %llu; queued %u, in flight %u, subscriptions %u; dropped: "
				"%llu invalid topic, %llu too large, %llu handler busy, %llu queue "
				"overflows", st.received, st.dispatched, st.published,
				st.publish_failures, st.queued, st.inflight, st.subscriptions,
				st.dropped_invalid_topic, st.dropped_too_large, st.dropped_handler_busy,
				st.queue_overflows);
	} else {
		mqb__log_always(SUB, "mqtt: no broker configured");
	}
	char buf[1024];
	struct counts c = count(core);
	domains(core, buf, sizeof buf);
	mqb__log_always(SUB, "entities: %zu (%s)", c.entities, c.entities ? buf : "none");
	names(core, false, buf, sizeof buf);
	mqb__log_always(SUB, "unavailable: %s", buf);
	names(core, true, buf, sizeof buf);
	mqb__log_always(SUB, "running scripts and automations: %s", buf);
	struct mqb_core_stats cs;
	mqb_core_async_stats(core, &cs);
	mqb__log_always(SUB, "executor: %u running, %u queued; submitted %llu, completed %llu, "
			"rejected %llu (queue full), cancelled %llu, slow %llu; coroutines: %u live",
			cs.executor_running, cs.executor_queued, cs.executor_submitted,
			cs.executor_completed, cs.executor_rejected, cs.executor_cancelled,
			cs.executor_slow, cs.coro_live);
	mqb__log_always(SUB, "failures: %llu command%s, %llu command timeout%s, %llu template "
			"render error%s",
			mqb_core_counted(core, MQB_COUNT_COMMAND_FAILURES),
			mqb_core_counted(core, MQB_COUNT_COMMAND_FAILURES) == 1 ? "" : "s",
			mqb_core_counted(core, MQB_COUNT_COMMAND_TIMEOUTS),
			mqb_core_counted(core, MQB_COUNT_COMMAND_TIMEOUTS) == 1 ? "" : "s",
			mqb_core_counted(core, MQB_COUNT_RENDER_ERRORS),
			mqb_core_counted(core, MQB_COUNT_RENDER_ERRORS) == 1 ? "" : "s");
	return 0;
}

int status__async_dump(struct mqb_core *core)
{
	return mqb_async_add_job(core, &MQB_COROUTINE(dump, core), NULL, NULL, NULL);
}
