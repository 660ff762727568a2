/* SPDX-License-Identifier: MIT */
/* The daemon assembled in-process (src/daemon/daemon.c): options loaded
 * from a file, a core, daemon__async_start, and the loop run on the test's
 * thread against a real mosquitto, watched through the core's own MQTT
 * client; and each step's failure named. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "broker.h"
#include "daemon/daemon.h"
#include "daemon/options.h"
#include "mqbridge/entity.h"
#include "mqbridge/mqtt.h"

static char platform_dir[512];
static const char *dirs[1];

static int setup(void **state)
{
	const char *b = getenv("abs_top_builddir");
	snprintf(platform_dir, sizeof platform_dir, "%s/t/platforms", b ? b : ".");
	dirs[0] = platform_dir;
	options__set_platform_dirs(dirs, 1);
	return 0;
}

static int teardown(void **state)
{
	options__set_platform_dirs(NULL, 0);
	return 0;
}

/* Write yaml to a file of its own; its path to path. */
static void write_config(char *path, size_t len, const char *yaml)
{
	char dir[] = "/tmp/mqb-daemon-XXXXXX";
	assert_non_null(mkdtemp(dir));
	snprintf(path, len, "%s/mqbridge.yaml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(yaml, f);
	fclose(f);
}

static void remove_config(const char *path)
{
	unlink(path);
	char dir[512];
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

static void load(const char *path, struct daemon_options *o)
{
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	int rc = options__load(path, o, &errs);
	if (rc)
		mqb_conf_errors_print(&errs, stderr);
	mqb_conf_errors_fini(&errs);
	assert_int_equal(rc, 0);
}

/* A core for the options of yaml, written to path. */
static struct mqb_core *core_for(const char *yaml, char *path, size_t len,
				 struct daemon_options *o)
{
	write_config(path, len, yaml);
	load(path, o);
	struct mqb_core *core;
	assert_int_equal(mqb_core_new(&o->core, &core), 0);
	return core;
}

static void finish(struct mqb_core *core, struct daemon_options *o, const char *path)
{
	mqb_core_free(core);
	options__fini(o);
	remove_config(path);
}

/* The core stops once the entity's state has come back from the broker. */
static int on_state(void *ud, void *arg, void **result)
{
	if (strcmp(mqb_mqtt_message_payload(arg), "7") == 0)
		mqb_core_async_stop(ud, 0);
	return 0;
}

static void the_daemon_started_in_process_publishes_its_entities(void **state)
{
	struct tu_broker br;
	tu_broker_start(&br, NULL);
	char yaml[512], path[512];
	snprintf(yaml, sizeof yaml,
		 "mqbridge: {node_id: tdm}\n"
		 "mqtt: {broker: 127.0.0.1, port: %d}\n"
		 "sensor: [{platform: testing, name: Level, state: '7'}]\n",
		 br.port);
	struct daemon_options o;
	struct mqb_core *core = core_for(yaml, path, sizeof path, &o);
	enum daemon_step failed = DAEMON_PLATFORMS;
	assert_int_equal(daemon__async_start(core, &o, path, &failed), 0);
	assert_int_equal(mqb_mqtt_async_subscribe(core, "mqbridge/tdm/sensor/level/state", 0,
						  &MQB_CALLBACK(on_state, core), NULL),
			 0);
	int rc = tu_run(core, TU_TIMEOUT);
	if (rc)
		tu_broker_dump_log(&br);
	assert_int_equal(rc, 0);
	/* the testing sensor and the bridge's own */
	assert_int_equal(mqb_entities_async_count(core), 2);
	assert_non_null(mqb_entities_async_find(core, "sensor.level"));
	assert_non_null(mqb_entities_async_find(core, "sensor.tdm_bridge"));
	finish(core, &o, path);
	tu_broker_stop(&br);
}

/* Without an mqtt: block or an entity there is nothing to bridge: no
 * client, no bridge, an empty registry. */
static void without_mqtt_or_entities_no_client_is_made(void **state)
{
	char path[512];
	struct daemon_options o;
	struct mqb_core *core = core_for("mqbridge: {node_id: tdm}\n", path, sizeof path, &o);
	assert_int_equal(daemon__async_start(core, &o, path, NULL), 0);
	struct mqb_mqtt_stats st;
	assert_int_equal(mqb_mqtt_async_stats(core, &st), -ENOTCONN);
	assert_int_equal(mqb_entities_async_count(core), 0);
	finish(core, &o, path);
}

/* A step that fails is named, for main's "cannot <step>: <reason>". */
static void a_failing_step_is_named(void **state)
{
	char path[512];
	struct daemon_options o;
	struct mqb_core *core = core_for("mqtt: {broker: 127.0.0.1, port: 1}\n", path, sizeof path,
					 &o);
	assert_int_equal(daemon__async_start(core, &o, path, NULL), 0);
	/* a core holds one daemon: the second has no room for its client */
	enum daemon_step failed = DAEMON_PLATFORMS;
	assert_int_equal(daemon__async_start(core, &o, path, &failed), -EEXIST);
	assert_int_equal(failed, DAEMON_MQTT);
	assert_string_equal(daemon__step_name(failed), "start the MQTT client");
	finish(core, &o, path);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(the_daemon_started_in_process_publishes_its_entities, setup,
					teardown),
	cmocka_unit_test_setup_teardown(without_mqtt_or_entities_no_client_is_made, setup, teardown),
	cmocka_unit_test_setup_teardown(a_failing_step_is_named, setup, teardown),
};

TU_MAIN(tests)
