/* SPDX-License-Identifier: MIT */
/* The end-to-end group against brokers other than mosquitto that users run
 * (issue 19; what differs is written in doc/brokers.md): aedes from npm, and
 * RabbitMQ's MQTT plugin from Debian as a two-node cluster on loopback.
 * Each test is skipped, with the reason, where its broker is not installed;
 * RabbitMQ's take a minute (two Erlang nodes): they run only when
 * MQB_TEST_RABBITMQ is set (./quickstart brokers), not in CI. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "daemon.h"
#include "testutil.h"

#define RABBITMQ "/usr/lib/rabbitmq/bin/rabbitmq-server"

static char tdir[512], srcdir[512];
static struct td T;
static bool T_live;

/* The other broker: aedes (a node process) or RabbitMQ nodes. */
static struct {
	pid_t aedes;
	char dir[64];
	char log[128];
	int mqtt[2], amqp[2], dist[2];
	int nodes;
	bool epmd;
} B;

static int teardown(void **state);

static bool accepts(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

static void make_dir(void)
{
	if (B.dir[0])
		return;
	snprintf(B.dir, sizeof B.dir, "/tmp/mqb-other-XXXXXX");
	assert_non_null(mkdtemp(B.dir));
}

/* aedes's module, where the global npm root has it (or $AEDES); "" if not. */
static const char *aedes_module(void)
{
	static char path[512];
	const char *env = getenv("AEDES");
	if (env)
		return access(env, R_OK) == 0 ? env : "";
	FILE *p = popen("npm root -g 2>/dev/null", "r");
	char root[400] = "";
	if (p) {
		if (!fgets(root, sizeof root, p))
			root[0] = '\0';
		pclose(p);
	}
	root[strcspn(root, "\n")] = '\0';
	snprintf(path, sizeof path, "%s/aedes/aedes.js", root);
	return root[0] && access(path, R_OK) == 0 ? path : "";
}

/* Skips the test (with why) where node or aedes is missing. */
static void start_aedes(void)
{
	if (system("node --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "skipped: no node (apt-get install nodejs npm)\n");
		skip();
	}
	const char *mod = aedes_module();
	if (!*mod) {
		fprintf(stderr, "skipped: aedes is not installed (npm install -g aedes)\n");
		skip();
	}
	make_dir();
	snprintf(B.log, sizeof B.log, "%s/aedes.log", B.dir);
	B.mqtt[0] = tu_free_port();
	char script[600], port[16];
	snprintf(script, sizeof script, "%s/t/aedes-broker.mjs", srcdir);
	snprintf(port, sizeof port, "%d", B.mqtt[0]);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(B.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("AEDES", mod, 1);
		execlp("node", "node", script, port, (char *)NULL);
		_exit(127);
	}
	B.aedes = pid;
	for (double end = tu_now() + TU_TIMEOUT; !accepts(B.mqtt[0]); usleep(20000))
		if (tu_now() > end)
			fail_msg("aedes did not start on port %d", B.mqtt[0]);
}

__attribute__((format(printf, 1, 2))) static int rabbit(const char *fmt, ...)
{
	char args[512], cmd[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "%s/t/rabbitmq.sh %s", srcdir, args);
	return system(cmd);
}

/* RabbitMQ nodes mqb0 (and mqb1, joined to its cluster): skipped (with
 * why) where rabbitmq-server is not installed. */
static void start_rabbitmq(int nodes)
{
	if (access(RABBITMQ, X_OK) != 0) {
		fprintf(stderr, "skipped: no %s (apt-get install rabbitmq-server)\n", RABBITMQ);
		skip();
	}
	if (!getenv("MQB_TEST_RABBITMQ")) {
		fprintf(stderr, "skipped: RabbitMQ's tests take a minute; ./quickstart brokers "
				"(or MQB_TEST_RABBITMQ=1) runs them\n");
		skip();
	}
	make_dir();
	char epmd[16];
	snprintf(epmd, sizeof epmd, "%d", tu_free_port());
	setenv("ERL_EPMD_PORT", epmd, 1);
	B.epmd = true;
	for (int i = 0; i < nodes; i++) {
		B.mqtt[i] = tu_free_port();
		B.amqp[i] = tu_free_port();
		B.dist[i] = tu_free_port();
		if (rabbit("start %s mqb%d %d %d %d", B.dir, i, B.mqtt[i], B.amqp[i], B.dist[i]))
			fail_msg("RabbitMQ node mqb%d did not start", i);
		B.nodes = i + 1;
	}
	if (nodes > 1 && rabbit("join %s mqb1 mqb0", B.dir))
		fail_msg("mqb1 did not join mqb0's cluster");
}

static void stop_node(int i)
{
	rabbit("stop %s mqb%d", B.dir, i);
}

static void stop_broker(void)
{
	if (B.aedes > 0) {
		kill(B.aedes, SIGTERM);
		int st;
		double end = tu_now() + TU_TIMEOUT;
		while (waitpid(B.aedes, &st, WNOHANG) == 0)
			if (tu_now() > end) {
				kill(B.aedes, SIGKILL);
				waitpid(B.aedes, &st, 0);
			} else {
				usleep(20000);
			}
	}
	for (int i = 0; i < B.nodes; i++)
		stop_node(i);
	if (B.epmd)
		rabbit("kill-epmd");
	if (strncmp(B.dir, "/tmp/mqb-other-", 15) == 0) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", B.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", B.dir);
	}
	memset(&B, 0, sizeof B);
}

static int teardown(void **state)
{
	(void)state;
	if (T_live)
		td_fini(&T);
	T_live = false;
	stop_broker();
	return 0;
}

static void dump(void)
{
	td_dump(&T);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "tail -40 %s/*.log %s/mqb*/log/*.log 1>&2 2>/dev/null", B.dir,
		 B.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "(no broker log)\n");
}

static void start_daemon(int port, const char *yaml)
{
	td_init_on(&T, port, NULL);
	T_live = true;
	td_write_config(&T, yaml);
	td_start(&T, "-P", tdir, NULL);
}

#define HEAD_WITH(more)                                                                 \
	"mqbridge: {node_id: ob, name: Other broker}\n"                                 \
	"mqtt: {broker: 127.0.0.1, port: %PORT%, reconnect_min: 0.1, reconnect_max: 0.5" \
	more "}\n"
#define ENTITIES                                                                        \
	"switch: [{platform: testing, name: Pump, state: 'off'}]\n"                      \
	"sensor:\n"                                                                     \
	"  - {platform: testing, name: Alpha, state: '1'}\n"

/* Discovery and state retained, a command in on /set, Home Assistant's
 * online answered, and at the next start a removed entity's retained
 * messages cleared: the sweep reads what the broker keeps, through
 * wildcard filters. A broker that sends retained messages only to exact
 * filters (wildcard_retained false) leaves them: a ghost, told apart by
 * a subscriber of the exact topic. */
static void announce_command_and_no_ghost(int port, bool wildcard_retained)
{
	start_daemon(port, HEAD_WITH("") ENTITIES "  - {platform: testing, name: Gamma, state: '3'}\n");
	td_expect(&T, "mqbridge/ob/switch/pump/state", "off");
	td_expect(&T, "mqbridge/ob/sensor/gamma/state", "3");
	td_wait(&T, "homeassistant/switch/ob/pump/config", NULL, TU_TIMEOUT);
	long n = td_count(&T);
	td_pub(&T, "mqbridge/ob/switch/pump/set", "ON", false);
	td_expect_after(&T, n, "mqbridge/ob/switch/pump/state", "on");
	n = td_count(&T);
	td_pub(&T, "homeassistant/status", "online", false);
	td_expect_after(&T, n, "mqbridge/ob/sensor/alpha/state", "1");
	td_stop_clean(&T);

	n = td_count(&T);
	td_write_config(&T, HEAD_WITH("") ENTITIES);
	td_start(&T, "-P", tdir, NULL);
	if (wildcard_retained) {
		td_expect_after(&T, n, "homeassistant/sensor/ob/gamma/config", "");
		td_expect_after(&T, n, "mqbridge/ob/sensor/gamma/state", "");
	} else {
		td_expect_after(&T, n, "mqbridge/ob/sensor/alpha/state", "1");
		td_expect_log(&T, "swept: 0 retained topic(s) read");
		char buf[256];
		assert_non_null(td_retained(&T, "homeassistant/sensor/ob/gamma/config", buf,
					    sizeof buf));
	}
	td_stop_clean(&T);
}

/* What MQTT 5 gets: (refused: the client logs why and keeps trying). */
static bool mqtt5_connects(int port)
{
	start_daemon(port, HEAD_WITH(", protocol: 5") ENTITIES);
	for (double end = tu_now() + TU_TIMEOUT;
	     !td_log_count(&T, "[mqtt] connected to") && !td_log_count(&T, "cannot connect to");
	     usleep(20000))
		if (tu_now() > end) {
			dump();
			fail_msg("neither connected nor refused");
		}
	bool ok = td_log_count(&T, "[mqtt] connected to") > 0;
	if (ok)
		td_expect(&T, "mqbridge/ob/switch/pump/state", "off");
	td_stop_clean(&T);
	td_fini(&T);
	T_live = false;
	return ok;
}

/* An automation on $share/g/in/x and one on in/marker: after "x" then
 * "m" are published, whether the shared one ran (a broker without
 * shared subscriptions takes the filter as a topic of that name, which
 * nobody publishes to). Ordered: both go through one connection. */
static bool share_delivered(int port)
{
	start_daemon(port, HEAD_WITH("")
		     "automation:\n"
		     "  - mode: queued\n    trigger: {platform: mqtt, topic: '$share/g/in/x'}\n"
		     "    action: {service: mqtt.publish, data: {topic: out/x, payload: ran}}\n"
		     "  - trigger: {platform: mqtt, topic: in/marker}\n"
		     "    action: {service: mqtt.publish, data: {topic: out/marker, payload: ran}}\n");
	td_log_wait(&T, "[mqtt] connected to", TU_TIMEOUT);
	/* both subscribed: the marker's automation answers */
	for (double end = tu_now() + TU_TIMEOUT; !td_last(&T, "out/marker"); usleep(100000)) {
		td_pub(&T, "in/marker", "m", false);
		if (tu_now() > end) {
			dump();
			fail_msg("the marker's automation never ran");
		}
	}
	long n = td_count(&T);
	td_pub(&T, "in/x", "x", false);
	td_pub(&T, "in/marker", "m", false);
	td_expect_after(&T, n, "out/marker", "ran");
	/* the shared copy may come a moment after the marker's (another
	 * subscription): a little longer, bounded */
	long got = td_wait_after(&T, n, "out/x", "ran", 1.0);
	td_stop_clean(&T);
	td_fini(&T);
	T_live = false;
	return got >= 0;
}

/* aedes (1.x, from npm): MQTT 3.1.1 only; no $share/; the retained
 * messages of a SUBSCRIBE come after messages published later (the
 * bridge's sweep waits for them to stop). */
static void aedes_runs_the_end_to_end_group(void **state)
{
	(void)state;
	start_aedes();
	announce_command_and_no_ghost(B.mqtt[0], true);
	td_fini(&T);
	T_live = false;
	/* aedes 1.x speaks MQTT 3.1.1 only, and has no shared subscriptions */
	assert_false(mqtt5_connects(B.mqtt[0]));
	assert_false(share_delivered(B.mqtt[0]));
}

/* RabbitMQ's MQTT plugin (3.10 in Debian 12): 3.1.1 only; $share/ is a
 * plain topic name to it; a retained message goes only to a subscriber
 * of its exact topic, not through wildcards, so the sweep for ghosts
 * finds nothing (nor does Home Assistant's discovery, through
 * <prefix>/+/+/config, find what is retained: the bridge's answer to
 * its birth is what announces it). */
static void rabbitmq_runs_the_end_to_end_group(void **state)
{
	(void)state;
	start_rabbitmq(1);
	announce_command_and_no_ghost(B.mqtt[0], false);
	td_fini(&T);
	T_live = false;
	assert_false(mqtt5_connects(B.mqtt[0]));
	assert_false(share_delivered(B.mqtt[0]));
}

/* mosquitto, the reference: MQTT triggers on $share/g/in/x and on in/x
 * in one bridge under MQTT 5. The broker sends each message twice (once
 * for the plain filter, once for the group, whose only member is this
 * client); each trigger runs once a message, not twice. */
static void on_mosquitto_a_shared_and_a_plain_trigger_each_run_once_a_message(void **state)
{
	(void)state;
	start_daemon(0, "mqbridge: {node_id: ob, name: Other broker}\n"
			"mqtt: {broker: 127.0.0.1, port: %PORT%, protocol: 5}\n"
			"automation:\n"
			"  - mode: queued\n    trigger: {platform: mqtt, topic: '$share/g/in/x'}\n"
			"    action: {service: mqtt.publish,\n"
			"             data: {topic: out/shared, payload: '{{ trigger.payload }}'}}\n"
			"  - mode: queued\n    trigger: {platform: mqtt, topic: in/x}\n"
			"    action: {service: mqtt.publish,\n"
			"             data: {topic: out/plain, payload: '{{ trigger.payload }}'}}\n");
	for (double end = tu_now() + TU_TIMEOUT;
	     !td_last(&T, "out/shared") || !td_last(&T, "out/plain"); usleep(100000)) {
		td_pub(&T, "in/x", "0", false);
		if (tu_now() > end) {
			dump();
			fail_msg("the triggers never ran");
		}
	}
	usleep(200000);
	long n = td_count(&T);
	td_pub(&T, "in/x", "1", false);
	td_pub(&T, "in/x", "2", false);
	td_pub(&T, "in/x", "last", false);
	td_expect_after(&T, n, "out/shared", "last");
	td_expect_after(&T, n, "out/plain", "last");
	usleep(200000); /* a second copy would come right behind */
	char shared[256], plain[256];
	td_join(&T, n, "out/shared", shared, sizeof shared);
	td_join(&T, n, "out/plain", plain, sizeof plain);
	assert_string_equal(shared, "1,2,last");
	assert_string_equal(plain, "1,2,last");
	td_stop_clean(&T);
}

/* The payloads on topic from since as integers: how many of first..last
 * are missing; first and last out. */
static int missing(long since, const char *topic, long *first, long *last)
{
	char *all = malloc(1 << 20);
	assert_non_null(all);
	size_t n = td_join(&T, since, topic, all, 1 << 20);
	static char seen[100000];
	memset(seen, 0, sizeof seen);
	*first = *last = -1;
	for (char *p = all, *q; n && *p; p = q) {
		long v = strtol(p, &q, 10);
		if (q == p)
			break;
		if (*q == ',')
			q++;
		if (v >= 0 && v < (long)sizeof seen) {
			seen[v] = 1;
			if (*first < 0 || v < *first)
				*first = v;
			if (v > *last)
				*last = v;
		}
	}
	free(all);
	int gaps = 0;
	for (long v = *first; v >= 0 && v <= *last; v++)
		gaps += !seen[v];
	return gaps;
}

/* A two-node cluster; the bridge on node 0 (first of its broker list),
 * counting (a polled sensor) and publishing every count at QoS 1 with
 * clean_session: false; node 0 is stopped while the counts flow. The
 * bridge moves to node 1, announces everything there (node 1 has none of
 * node 0's retained messages), and the watcher, on node 1, misses no
 * count between the first and the last it saw. */
static void on_a_rabbitmq_cluster_the_bridge_fails_over_and_loses_nothing(void **state)
{
	(void)state;
	start_rabbitmq(2);
	char yaml[2048];
	snprintf(yaml, sizeof yaml,
		 "mqbridge: {node_id: ob, name: Other broker}\n"
		 "mqtt: {broker: ['127.0.0.1:%d', '127.0.0.1:%d'], clean_session: false,\n"
		 "       client_id: mqb-ob, reconnect_min: 0.1, reconnect_max: 0.5}\n"
		 "sensor:\n"
		 "  - {platform: testing, name: Count, state: '0', scan_interval: 0.05}\n"
		 "automation:\n"
		 "  - trigger: {platform: state, entity_id: sensor.count}\n"
		 "    action: {service: mqtt.publish, data: {topic: out/count, qos: 1,\n"
		 "             payload: '{{ trigger.to_state.state }}'}}\n",
		 B.mqtt[0], B.mqtt[1]);
	start_daemon(B.mqtt[1], yaml);
	long n0 = td_count(&T);
	char port0[32];
	snprintf(port0, sizeof port0, "connected to tcp://127.0.0.1:%d", B.mqtt[0]);
	if (!td_log_wait(&T, port0, 60)) {
		dump();
		fail_msg("never connected to node 0");
	}
	td_wait_after(&T, n0, "out/count", NULL, TU_TIMEOUT);
	usleep(500000);
	stop_node(0);
	char port1[32];
	snprintf(port1, sizeof port1, "connected to tcp://127.0.0.1:%d", B.mqtt[1]);
	if (!td_log_wait(&T, port1, 60)) {
		dump();
		fail_msg("never failed over to node 1");
	}
	long after = td_count(&T);
	td_expect_after(&T, after, "mqbridge/ob/sensor/count/availability", "online");
	td_wait_after(&T, after, "homeassistant/sensor/ob/count/config", NULL, TU_TIMEOUT);
	usleep(1000000);
	long first, last;
	int gaps = missing(n0, "out/count", &first, &last);
	td_stop_clean(&T);
	fprintf(stderr, "counts %ld..%ld, %d missing\n", first, last, gaps);
	assert_true(last > first);
	assert_int_equal(gaps, 0);
}

int main(int argc, char **argv)
{
	const char *b = getenv("abs_top_builddir");
	snprintf(tdir, sizeof tdir, "%s/t/platforms", b ? b : ".");
	const char *s = getenv("srcdir");
	if (s) {
		snprintf(srcdir, sizeof srcdir, "%s", s);
	} else { /* ".../t/test_brokers.c" */
		const char *me = __FILE__, *slash = strrchr(me, '/');
		snprintf(srcdir, sizeof srcdir, "%.*s/..", slash ? (int)(slash - me) : 1,
			 slash ? me : ".");
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(on_mosquitto_a_shared_and_a_plain_trigger_each_run_once_a_message,
					  teardown),
		cmocka_unit_test_teardown(aedes_runs_the_end_to_end_group, teardown),
		cmocka_unit_test_teardown(rabbitmq_runs_the_end_to_end_group, teardown),
		cmocka_unit_test_teardown(on_a_rabbitmq_cluster_the_bridge_fails_over_and_loses_nothing,
					  teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
