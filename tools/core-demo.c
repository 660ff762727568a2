/* SPDX-License-Identifier: MIT */
/* A small demonstration of the async core and the MQTT client, run by
 * `./quickstart run` until the bridge exists: a coroutine ticks, executor
 * jobs do blocking reads of /proc, a service toggles a switch, a listener
 * prints every change and, given a broker port, publishes it to MQTT, where
 * <base>/switch/demo/set turns into a service call. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ev.h>

#include "mqbridge/bus.h"
#include "core/loop.h"
#include "mqbridge/core.h"
#include "mqbridge/coro.h"
#include "mqbridge/log.h"
#include "mqbridge/mqtt.h"
#include "mqtt/client.h"
#include "mqbridge/services.h"
#include "mqbridge/states.h"

/* EXECUTOR: blocking file I/O belongs in the pool; the result goes back
 * through the thread-safe flavour of the state machine. */
static int read_loadavg(void *ud, void *arg, void **result)
{
	struct mqb_core *core = ud;
	char buf[128] = "";
	FILE *f = fopen("/proc/loadavg", "r");
	if (!f)
		return -errno;
	char *ok = fgets(buf, sizeof buf, f);
	fclose(f);
	if (!ok)
		return -EIO;
	buf[strcspn(buf, " ")] = 0;
	return mqb_states_set(core, "sensor.load_1m", buf, NULL, false);
}

/* CALLBACK: a service handler that runs on the loop. */
static int toggle(void *ud, void *arg, void **result)
{
	struct mqb_core *core = ud;
	struct mqb_state *s = mqb_states_async_get(core, "switch.demo");
	bool on = s && strcmp(mqb_state_value(s), "on") == 0;
	mqb_state_unref(s);
	return mqb_states_async_set(core, "switch.demo", on ? "off" : "on", NULL, false);
}

/* COROUTINE: sleeps without blocking the loop, awaits a service call and
 * an executor job. */
static int ticker(void *ud, void *arg, void **result)
{
	struct mqb_core *core = ud;
	struct mqb_job load = MQB_EXECUTOR(read_loadavg, core);
	for (unsigned long n = 1; mqb_async_sleep_await(core, 1.0) == 0; n++) {
		char up[32];
		snprintf(up, sizeof up, "%lu", n);
		mqb_states_async_set(core, "sensor.demo_uptime", up,
				     json_pack("{s:s}", "unit_of_measurement", "s"), false);
		struct mqb_future *f;
		if (n % 3 == 0 && mqb_services_async_call(core, "switch", "toggle", NULL, &f) == 0) {
			mqb_await(f, NULL);
			mqb_future_unref(f);
		}
		if (n % 2 == 0 && mqb_async_run_job(core, &load, NULL, NULL, &f) == 0) {
			int rc = mqb_await(f, NULL);
			if (rc && rc != -ECANCELED)
				MQB_LOG_WARNING("demo", "load: %s", strerror(-rc));
			mqb_future_unref(f);
		}
	}
	return 0;
}

#define BASE "mqbridge-demo"

/* CALLBACK listener: runs inside the state write that fired it. */
static int print_change(void *ud, void *arg, void **result)
{
	struct mqb_core *core = ud;
	const struct mqb_state *old = mqb_event_old_state(arg), *new = mqb_event_new_state(arg);
	printf("%-22s %8s -> %s\n", mqb_event_entity_id(arg), old ? mqb_state_value(old) : "(new)",
	       new ? mqb_state_value(new) : "(removed)");
	fflush(stdout);
	if (new) {
		/* <base>/<domain>/<object_id>/state, retained (DESIGN §8). */
		char topic[300];
		snprintf(topic, sizeof topic, BASE "/%.*s/%s/state", (int)mqb_state_domain_len(new),
			 mqb_state_domain(new), mqb_state_object_id(new));
		const char *v = mqb_state_value(new);
		mqb_mqtt_async_publish(core, topic, v, strlen(v), 1, true, NULL);
	}
	return 0;
}

/* CALLBACK subscription handler: a command topic becomes a service call. */
static int on_set(void *ud, void *arg, void **result)
{
	struct mqb_core *core = ud;
	const char *p = mqb_mqtt_message_payload(arg);
	const char *service = strcasecmp(p, "ON") == 0 ? "turn_on"
			      : strcasecmp(p, "OFF") == 0 ? "turn_off" : "toggle";
	return mqb_services_async_call(core, "switch", service, NULL, NULL);
}

static int turn(void *ud, void *arg, void **result)
{
	return mqb_states_async_set(ud, "switch.demo", strcmp(mqb_service_call_service(arg),
						       "turn_on") == 0 ? "on" : "off", NULL, false);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	mqb_core_async_stop(w->data, 0);
}

int main(int argc, char **argv)
{
	struct mqb_core *core;
	int rc = mqb_core_new(NULL, &core);
	if (rc) {
		fprintf(stderr, "core-demo: %s\n", strerror(-rc));
		return 1;
	}
	struct ev_loop *loop = core__loop(core);
	if (argc > 1) {
		struct mqtt_options o;
		mqtt__options_init(&o);
		o.host = "127.0.0.1";
		o.port = atoi(argv[1]);
		o.client_id = "mqbridge-demo";
		o.base_topic = BASE;
		o.reconnect_max = 5;
		if ((rc = mqtt__new(core, &o)) ||
		    (rc = mqb_mqtt_async_subscribe(core, BASE "/switch/demo/set", 1,
						   &MQB_CALLBACK(on_set, core), NULL))) {
			fprintf(stderr, "core-demo: mqtt: %s\n", strerror(-rc));
			return 1;
		}
	}
	mqb_bus_async_listen(core, MQB_EVENT_STATE_CHANGED, &MQB_CALLBACK(print_change, core), NULL);
	mqb_services_async_register(core, "switch", "toggle", &MQB_CALLBACK(toggle, core), NULL, NULL);
	mqb_services_async_register(core, "switch", "turn_on", &MQB_CALLBACK(turn, core), NULL, NULL);
	mqb_services_async_register(core, "switch", "turn_off", &MQB_CALLBACK(turn, core), NULL, NULL);
	mqb_states_async_set(core, "switch.demo", "off", NULL, false);
	mqb_async_add_job(core, &MQB_COROUTINE(ticker, core), NULL, NULL, NULL);

	ev_signal sigint, sigterm;
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	sigint.data = sigterm.data = core;
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);
	rc = mqb_core_run(core);

	struct mqb_core_stats st;
	mqb_core_async_stats(core, &st);
	printf("stopped: %llu calls run on the loop, %llu executor jobs, %llu coroutines\n",
	       st.ready_run + st.inbox_run, st.executor_completed, st.coro_spawned);
	ev_signal_stop(loop, &sigint);
	ev_signal_stop(loop, &sigterm);
	mqb_core_free(core);
	return rc;
}
