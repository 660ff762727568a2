/* SPDX-License-Identifier: MIT */
/* The broker under faults, as an unlucky operator meets them: killed and
 * restarted empty; stopped (SIGSTOP) for three keepalives, then continued;
 * cut off by a silent partition (a veth pair in a network namespace taken
 * down, no FIN, no RST; root only); restarted with persistence. Each case
 * measures when the daemon notices, that it reconnects and re-announces,
 * and, with clean_session: false, that no QoS 1 message is lost. The real
 * daemon against a real mosquitto; figures against their limits. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "faults.h"
#include "testutil.h"

#define T FA
#define KEEPALIVE 2
#define BASE "mqbridge/bf/"

#define HEAD \
	"mqbridge: {node_id: bf}\n" \
	"mqtt:\n" \
	"  broker: %s\n" \
	"  port: %%PORT%%\n" \
	"  keepalive: %d\n" \
	"  reconnect_min: 0.2\n" \
	"  reconnect_max: 1\n" \
	"  clean_session: %s\n" \
	"  sensor:\n" \
	"    - {name: Seq, state_topic: dev/seq, qos: 1}\n" \
	"automation:\n" \
	"  - alias: Echo\n" \
	"    mode: queued\n" \
	"    max: 10000\n" \
	"    triggers: {trigger: mqtt, topic: dev/seq, qos: 1}\n" \
	"    actions:\n" \
	"      - action: mqtt.publish\n" \
	"        data: {topic: out/seq, payload: \"{{ trigger.payload }}\", qos: 1}\n"

static void config(const char *host, bool clean)
{
	char yaml[1024];
	snprintf(yaml, sizeof yaml, HEAD, host, KEEPALIVE, clean ? "true" : "false");
	td_write_config(&T, yaml);
}

/* Test-clock time at which the daemon's log first has needle after it had
 * `before` such lines; fails after timeout. */
static double log_line_at(const char *needle, int before, double timeout)
{
	for (double end = tu_now() + timeout;;) {
		if (td_log_count(&T, needle) > before)
			return tu_now();
		if (tu_now() > end) {
			td_dump(&T);
			fail_msg("the log never said '%s' (again)", needle);
		}
		usleep(5 * 1000);
	}
}

static void a_stopped_broker_is_noticed_within_2_75_keepalives_and_rejoined(void **s)
{
	(void)s;
	fa_begin(NULL, NULL);
	config("127.0.0.1", true);
	td_start(&T, NULL);
	td_expect(&T, "homeassistant/sensor/bf/seq/config", NULL);
	int lost = td_log_count(&T, "lost:"), conn = td_log_count(&T, "connected to");
	/* Traffic the moment before: the last word from the broker is fresh. */
	td_device(&T, "dev/seq", "1");
	td_expect(&T, BASE "sensor/seq/state", "1");
	double t0 = tu_now();
	kill(T.broker.pid, SIGSTOP);
	double noticed = log_line_at("lost:", lost, 4 * KEEPALIVE * FA_SLOW);
	/* 2.75 at most, and a loaded machine's scheduling */
	fa_figure_max("stopped_broker_detection_keepalives", (noticed - t0) / KEEPALIVE,
		      2.75 + 0.5 * FA_SLOW, "x keepalive");
	if (td_log_count(&T, "the broker closed the connection") > 0) {
		td_dump(&T);
		fail_msg("a keepalive timeout was logged as the broker closing the connection");
	}
	double left = t0 + 3 * KEEPALIVE - tu_now();
	if (left > 0)
		usleep((useconds_t)(left * 1e6));
	long since = td_count(&T);
	double t1 = tu_now();
	kill(T.broker.pid, SIGCONT);
	log_line_at("connected to", conn, 15 * FA_SLOW);
	fa_figure_max("continued_broker_reconnect_s", tu_now() - t1, 12.0 * FA_SLOW, "s");
	td_pub(&T, "dev/seq", "2", false);
	td_expect_after(&T, since, BASE "sensor/seq/state", "2");
	td_stop_clean(&T);
}

/* A broker killed (its sockets close at once) and restarted empty: the
 * loss is noticed at once, the reconnect follows within the back-off, and
 * everything retained comes back. */
static void a_killed_broker_restarted_empty_gets_everything_announced_again(void **s)
{
	(void)s;
	fa_begin(NULL, NULL);
	config("127.0.0.1", true);
	td_start(&T, NULL);
	td_expect(&T, "homeassistant/sensor/bf/seq/config", NULL);
	td_device(&T, "dev/seq", "5");
	td_expect(&T, BASE "sensor/seq/state", "5");
	int lost = td_log_count(&T, "lost:"), conn = td_log_count(&T, "connected to");
	double t0 = tu_now();
	tu_broker_kill(&T.broker);
	double noticed = log_line_at("lost:", lost, 5 * FA_SLOW);
	fa_figure_max("killed_broker_detection_s", noticed - t0, 0.5 * FA_SLOW, "s");
	long since = td_count(&T);
	tu_broker_restart(&T.broker);
	double t1 = tu_now();
	log_line_at("connected to", conn, 10 * FA_SLOW);
	/* reconnect_max is 1 s: the back-off, a connect and some slack */
	fa_figure_max("restarted_broker_reconnect_s", tu_now() - t1, 1.5 * FA_SLOW, "s");
	/* The broker lost every retained message: all of it comes again. The
	 * watcher reconnects by itself and is given the retained ones. */
	td_expect_after(&T, since, "homeassistant/sensor/bf/seq/config", NULL);
	td_expect_after(&T, since, BASE "sensor/seq/state", "5");
	td_expect_after(&T, since, BASE "status", "online");
	fa_figure_max("reannounce_after_empty_restart_s", tu_now() - t1, 3.0 * FA_SLOW, "s");
	td_stop_clean(&T);
}

/* ---- QoS 1 with clean_session: false ------------------------------------ */

#define SEQ_N 600
#define SEQ_EVERY 0.02 /* s between two numbers */

static struct fa_seq *seq;
static char ns[32], veth[16], peer[16], net[32];
static bool ns_made;

static int seq_teardown(void **state)
{
	fa_seq_stop(seq);
	seq = NULL;
	fa_teardown(state);
	if (ns_made) {
		fa_sh("ip link del %s 2>/dev/null", veth);
		fa_sh("ip netns del %s 2>/dev/null", ns);
		ns_made = false;
	}
	return 0;
}

/* The numbers are watched where the automation echoes them at QoS 1: the
 * sensor's state goes out at QoS 0, and one published as the broker
 * stops is lost by design; a
 * redelivered duplicate then leaves the state unchanged, so nothing says
 * it again. What must not be lost is a QoS 1 message, in and out. */
#define SEQ_TOPIC "out/seq"

/* Publish the numbers 0..SEQ_N-1 (QoS 1) as a device would, one every
 * SEQ_EVERY, calling step(k) before each; then wait, bounded, until the
 * checker has them all. */
static void run_sequence(void (*step)(int k))
{
	double t0 = tu_now();
	for (int k = 0; k < SEQ_N; k++) {
		step(k);
		char v[16];
		snprintf(v, sizeof v, "%d", k);
		fa_pub(&T, "dev/seq", v, 1, false);
		double due = t0 + SEQ_EVERY * (k + 1), now = tu_now();
		if (due > now)
			usleep((useconds_t)((due - now) * 1e6));
	}
	for (double end = tu_now() + 20 * FA_SLOW;
	     fa_seq_missing(seq, SEQ_N) > 0 && tu_now() < end;)
		usleep(20 * 1000);
}

/* The partition: the daemon in a network namespace, the broker in ours,
 * a veth pair between them; the link taken down for four keepalives
 * without a FIN or RST to either side. */
static int conn_before, lost_before;
static double down_at, noticed_at, up_at, back_at;

static void partition_step(int k)
{
	double at = k * SEQ_EVERY;
	if (!down_at && at >= 1.0) {
		lost_before = td_log_count(&T, "lost:");
		conn_before = td_log_count(&T, "connected to");
		assert_int_equal(fa_sh("ip link set %s down", veth), 0);
		down_at = tu_now();
	}
	if (down_at && !noticed_at && td_log_count(&T, "lost:") > lost_before)
		noticed_at = tu_now();
	if (down_at && !up_at && at >= 1.0 + 4 * KEEPALIVE) {
		assert_int_equal(fa_sh("ip link set %s up", veth), 0);
		up_at = tu_now();
	}
	if (up_at && !back_at && td_log_count(&T, "connected to") > conn_before)
		back_at = tu_now();
}

static void a_silent_partition_loses_no_qos1_message_with_a_persistent_session(void **s)
{
	(void)s;
	if (!fa_root()) {
		print_message("SKIP: the partition needs root (ip netns, veth)\n");
		skip();
	}
	long pid = (long)getpid();
	snprintf(ns, sizeof ns, "mqbf%ld", pid);
	snprintf(veth, sizeof veth, "mqf%lda", pid % 100000);
	snprintf(peer, sizeof peer, "mqf%ldb", pid % 100000);
	/* 198.18.0.0/15 is for benchmarks; a /30 per process. */
	snprintf(net, sizeof net, "198.18.%ld.%ld", (pid / 64) % 256, (pid % 64) * 4);
	char here[32], there[32];
	int last = atoi(strrchr(net, '.') + 1);
	snprintf(here, sizeof here, "%.*s.%d", (int)(strrchr(net, '.') - net), net, last + 1);
	snprintf(there, sizeof there, "%.*s.%d", (int)(strrchr(net, '.') - net), net, last + 2);
	if (fa_sh("ip netns add %s", ns) != 0) {
		print_message("SKIP: cannot make a network namespace\n");
		skip();
	}
	ns_made = true;
	assert_int_equal(fa_sh("ip link add %s type veth peer name %s && ip link set %s netns %s && "
			       "ip addr add %s/30 dev %s && ip link set %s up && "
			       "ip netns exec %s sh -c 'ip addr add %s/30 dev %s && ip link set %s up "
			       "&& ip link set lo up'",
			       veth, peer, peer, ns, here, veth, veth, ns, there, peer, peer), 0);
	char extra[256];
	snprintf(extra, sizeof extra, "listener %%PORT%% %s\nqueue_qos0_messages true\n", here);
	fa_begin(extra, NULL);
	static const char *wrap[5] = {"ip", "netns", "exec"};
	wrap[3] = ns;
	T.wrap = wrap;
	config(here, false);
	seq = fa_seq_start(T.broker.port, SEQ_TOPIC, SEQ_N);
	td_start(&T, NULL);
	td_expect(&T, "homeassistant/sensor/bf/seq/config", NULL);
	down_at = noticed_at = up_at = back_at = 0;
	long since = td_count(&T);
	run_sequence(partition_step);
	if (!noticed_at || !back_at) {
		td_dump(&T);
		fail_msg("the partition was %s", noticed_at ? "never recovered from" : "not noticed");
	}
	fa_figure_max("partition_detection_keepalives", (noticed_at - down_at) / KEEPALIVE,
		      2.75 + 0.5 * FA_SLOW, "x keepalive");
	/* A connect attempt may be waiting out its SYN's retries (Paho's
	 * connect timeout is 10 s) when the link comes back. */
	fa_figure_max("partition_reconnect_s", back_at - up_at, 12.0 * FA_SLOW, "s");
	if (td_wait_after(&T, since, "homeassistant/sensor/bf/seq/config", NULL, 5) < 0) {
		td_dump(&T);
		fail_msg("nothing announced again after the partition");
	}
	int missing = fa_seq_missing(seq, SEQ_N);
	if (missing)
		print_message("first missing: %d\n", fa_seq_first_missing(seq, SEQ_N));
	fa_figure_max("qos1_lost_across_partition", missing, 0, "msgs");
	td_stop_clean(&T);
}

/* The broker stopped cleanly (it saves its database) and started again:
 * the persistent session, its subscription and its queue survive. */
static char persist_dir[64];
static double term_at;

static void restart_step(int k)
{
	if (!term_at && k * SEQ_EVERY >= 2.0) {
		tu_broker_term(&T.broker);
		term_at = tu_now();
		usleep(500 * 1000);
		tu_broker_restart(&T.broker);
	}
}

static int persist_teardown(void **state)
{
	seq_teardown(state);
	if (persist_dir[0])
		fa_sh("rm -rf '%s'", persist_dir);
	persist_dir[0] = 0;
	return 0;
}

static void a_broker_restart_with_persistence_loses_no_qos1_message(void **s)
{
	(void)s;
	snprintf(persist_dir, sizeof persist_dir, "/tmp/mqb-fa-persist.XXXXXX");
	assert_non_null(mkdtemp(persist_dir));
	char extra[256];
	snprintf(extra, sizeof extra, "persistence true\npersistence_location %s/\n"
		 "queue_qos0_messages true\n", persist_dir);
	fa_begin(extra, NULL);
	config("127.0.0.1", false);
	seq = fa_seq_start(T.broker.port, SEQ_TOPIC, SEQ_N);
	td_start(&T, NULL);
	td_expect(&T, "homeassistant/sensor/bf/seq/config", NULL);
	term_at = 0;
	run_sequence(restart_step);
	int missing = fa_seq_missing(seq, SEQ_N);
	if (missing)
		print_message("first missing: %d\n", fa_seq_first_missing(seq, SEQ_N));
	fa_figure_max("qos1_lost_across_broker_restart", missing, 0, "msgs");
	td_stop_clean(&T);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(
		a_killed_broker_restarted_empty_gets_everything_announced_again, fa_teardown),
	cmocka_unit_test_teardown(
		a_stopped_broker_is_noticed_within_2_75_keepalives_and_rejoined, fa_teardown),
	cmocka_unit_test_teardown(
		a_silent_partition_loses_no_qos1_message_with_a_persistent_session, seq_teardown),
	cmocka_unit_test_teardown(a_broker_restart_with_persistence_loses_no_qos1_message,
				  persist_teardown),
};

TU_MAIN(tests)
