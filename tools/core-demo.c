/* A small demonstration of the async core, run by `./quickstart run` until
 * the bridge exists: a coroutine ticks, executor jobs do blocking reads of
 * /proc, a service toggles a switch, and a listener prints every change. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ev.h>

#include "mqbridge/bus.h"
#include "mqbridge/core.h"
#include "mqbridge/coro.h"
#include "mqbridge/log.h"
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

/* CALLBACK listener: runs inside the state write that fired it. */
static int print_change(void *ud, void *arg, void **result)
{
	const struct mqb_state *old = mqb_event_old_state(arg), *new = mqb_event_new_state(arg);
	printf("%-22s %8s -> %s\n", mqb_event_entity_id(arg), old ? mqb_state_value(old) : "(new)",
	       new ? mqb_state_value(new) : "(removed)");
	fflush(stdout);
	return 0;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	mqb_core_async_stop(w->data, 0);
}

int main(void)
{
	struct mqb_core *core;
	int rc = mqb_core_new(NULL, &core);
	if (rc) {
		fprintf(stderr, "core-demo: %s\n", strerror(-rc));
		return 1;
	}
	struct ev_loop *loop = mqb_core_async_loop(core);
	mqb_bus_async_listen(core, MQB_EVENT_STATE_CHANGED, &MQB_CALLBACK(print_change, NULL), NULL);
	mqb_services_async_register(core, "switch", "toggle", &MQB_CALLBACK(toggle, core), NULL, NULL);
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
