/* SPDX-License-Identifier: MIT */
/* The MQTT client against a real mosquitto: handlers of each job kind,
 * shared broker subscriptions, wildcard dispatch, birth and clean stop,
 * publishes with futures, refusals, stats and payload edge cases.
 *
 * The outside world is mosquitto_pub / mosquitto_sub run as child
 * processes, waited on with bounds. Every wait is on a condition: a handler
 * count, a future, a child's exit or a line in the broker's log (after the
 * broker logs "<client> <qos> <filter>" the subscription is in place, so a
 * publish made after that line is routed to it). Handlers never assert (they
 * may run on other threads); they record, and the test thread checks. */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "testutil.h"
#include "core/hass.h"
#include "core/loop.h"
#include "broker.h"
#include "mqbridge/coro.h"
#include "mqbridge/future.h"
#include "mqbridge/job.h"
#include "mqbridge/log.h"
#include "mqbridge/mqtt.h"
#include "mqtt/client.h"

extern char **environ;

/* ---- the fixture ------------------------------------------------------ */

#define MAXMSG 32
#define MAXCOPY 1100
#define MAXREC 6
#define MAXCHILD 16

/* What a handler saw of one message. */
struct got {
	char topic[128];
	unsigned char payload[MAXCOPY];
	size_t len;
	int qos;
	bool retained;
	bool nul_after;   /* payload[len] == 0 */
	bool payload_null;
	bool on_loop;     /* ran on the loop thread */
	bool in_coro;
	int status;       /* what a handler's own call returned (await, publish) */
};

struct fx;

/* One handler's record; guarded by fx->m. */
struct rec {
	struct fx *fx;
	struct got msgs[MAXMSG];
	int n;
	struct mqb_mqtt_message *kept; /* an EXECUTOR handler's own reference */
};

struct fx {
	struct tu_broker b;
	struct tu_loop t;
	bool loop_running;
	bool passed;
	char cid[64], base[64];
	struct mqtt_options opt;
	pthread_mutex_t m;
	pthread_cond_t c;
	int connects; /* on_connect jobs run */
	struct rec rec[MAXREC];
	pid_t children[MAXCHILD];
	int nclients;
};

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	assert_non_null(fx);
	pthread_mutex_init(&fx->m, NULL);
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&fx->c, &a);
	pthread_condattr_destroy(&a);
	for (int i = 0; i < MAXREC; i++)
		fx->rec[i].fx = fx;
	*state = fx;
	tu_broker_start(&fx->b, NULL);
	return 0;
}

static void reap_children(struct fx *fx)
{
	for (int i = 0; i < MAXCHILD; i++) {
		if (fx->children[i] > 0) {
			int status;
			kill(fx->children[i], SIGKILL);
			waitpid(fx->children[i], &status, 0);
			fx->children[i] = 0;
		}
	}
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;
	if (!fx)
		return 0;
	reap_children(fx);
	if (!fx->passed) {
		tu_broker_dump_log(&fx->b);
		/* The broker first: a client that misbehaves cannot hold it up. */
		tu_broker_stop(&fx->b);
	}
	if (fx->loop_running) {
		tu_loop_stop(&fx->t);
		fx->loop_running = false;
	}
	if (fx->passed)
		tu_broker_stop(&fx->b);
	for (int i = 0; i < MAXREC; i++)
		mqb_mqtt_message_unref(fx->rec[i].kept);
	pthread_cond_destroy(&fx->c);
	pthread_mutex_destroy(&fx->m);
	free(fx);
	return 0;
}

/* Wait until *counter (guarded by fx->m) reaches want. */
static bool wait_count(struct fx *fx, const int *counter, int want, double timeout)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double end = ts.tv_sec + ts.tv_nsec / 1e9 + timeout;
	ts.tv_sec = (time_t)end;
	ts.tv_nsec = (long)((end - (double)ts.tv_sec) * 1e9);
	pthread_mutex_lock(&fx->m);
	int rc = 0;
	while (*counter < want && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&fx->c, &fx->m, &ts);
	bool ok = *counter >= want;
	pthread_mutex_unlock(&fx->m);
	return ok;
}

static int count_of(struct fx *fx, const int *counter)
{
	pthread_mutex_lock(&fx->m);
	int n = *counter;
	pthread_mutex_unlock(&fx->m);
	return n;
}

/* ---- handlers --------------------------------------------------------- */

static void record(struct rec *r, struct mqb_mqtt_message *m, int status)
{
	struct fx *fx = r->fx;
	pthread_mutex_lock(&fx->m);
	if (r->n < MAXMSG) {
		struct got *g = &r->msgs[r->n];
		const char *topic = mqb_mqtt_message_topic(m);
		const unsigned char *p = mqb_mqtt_message_payload(m);
		snprintf(g->topic, sizeof g->topic, "%s", topic ? topic : "(null)");
		g->len = mqb_mqtt_message_len(m);
		g->payload_null = p == NULL;
		if (p) {
			memcpy(g->payload, p, g->len < MAXCOPY ? g->len : MAXCOPY);
			g->nul_after = p[g->len] == 0;
		}
		g->qos = mqb_mqtt_message_qos(m);
		g->retained = mqb_mqtt_message_retained(m);
		g->on_loop = pthread_equal(pthread_self(), fx->t.loop_thread_id);
		g->in_coro = g->on_loop && mqb_in_coroutine();
		g->status = status;
		r->n++;
	}
	pthread_cond_broadcast(&fx->c);
	pthread_mutex_unlock(&fx->m);
}

static int on_message(void *ud, void *arg, void **result)
{
	record(ud, arg, 0);
	return 0;
}

/* EXECUTOR: keeps the first message it sees past its return. */
static int keep_message(void *ud, void *arg, void **result)
{
	struct rec *r = ud;
	pthread_mutex_lock(&r->fx->m);
	if (!r->kept)
		r->kept = mqb_mqtt_message_ref(arg);
	pthread_mutex_unlock(&r->fx->m);
	record(r, arg, 0);
	return 0;
}

/* COROUTINE: echoes the payload to co/out at QoS 1 and awaits the PUBACK,
 * then records the message (still alive across the await). */
static int echo_and_await(void *ud, void *arg, void **result)
{
	struct rec *r = ud;
	struct mqb_mqtt_message *m = arg;
	char buf[256];
	int n = snprintf(buf, sizeof buf, "echo:%.*s", (int)mqb_mqtt_message_len(m),
			 (const char *)mqb_mqtt_message_payload(m));
	struct mqb_future *f = NULL;
	int rc = mqb_mqtt_async_publish(r->fx->t.core, "co/out", buf, (size_t)n, 1, false, &f);
	if (rc == 0)
		rc = f ? mqb_await(f, NULL) : -EFAULT;
	mqb_future_unref(f);
	record(r, m, rc);
	return 0;
}

/* EXECUTOR: the thread-safe publish from a pool thread, blocking on it. */
static int publish_from_pool(void *ud, void *arg, void **result)
{
	struct rec *r = ud;
	struct mqb_future *f = NULL;
	int rc = mqb_mqtt_publish(r->fx->t.core, "ts/out", "from-pool", 9, 1, false, &f);
	if (rc == 0)
		rc = f ? mqb_future_result(f, TU_TIMEOUT, NULL) : -EFAULT;
	mqb_future_unref(f);
	record(r, arg, rc);
	return 0;
}

static int on_connected(void *ud, void *arg, void **result)
{
	struct fx *fx = ud;
	pthread_mutex_lock(&fx->m);
	fx->connects++;
	pthread_cond_broadcast(&fx->c);
	pthread_mutex_unlock(&fx->m);
	return 0;
}

/* ---- the client, driven from the test thread -------------------------- */

static void fx_options(struct fx *fx, const char *name)
{
	snprintf(fx->cid, sizeof fx->cid, "mqbt-%s", name);
	snprintf(fx->base, sizeof fx->base, "mqbtest/%s", name);
	mqtt__options_init(&fx->opt);
	fx->opt.host = "127.0.0.1";
	fx->opt.port = fx->b.port;
	fx->opt.client_id = fx->cid;
	fx->opt.base_topic = fx->base;
	fx->opt.reconnect_min = 0.05;
	fx->opt.reconnect_max = 0.5;
}

struct new_call {
	struct fx *fx;
	const struct mqtt_options *opt;
	int rc, on_connect_rc;
};

static void do_new(void *arg)
{
	struct new_call *c = arg;
	c->rc = mqtt__new(c->fx->t.core, c->opt);
	if (c->rc == 0)
		c->on_connect_rc = mqb_mqtt_async_on_connect(
			c->fx->t.core, &MQB_CALLBACK(on_connected, c->fx));
}

/* Start the loop, attach a client with fx->opt and wait for its connect. */
static void fx_start(struct fx *fx)
{
	tu_loop_start(&fx->t, NULL);
	fx->loop_running = true;
	struct new_call c = { .fx = fx, .opt = &fx->opt };
	tu_on_loop(&fx->t, do_new, &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.on_connect_rc, 0);
	if (!wait_count(fx, &fx->connects, 1, TU_TIMEOUT))
		fail_msg("the client did not connect to 127.0.0.1:%d", fx->b.port);
}

struct sub_call {
	struct fx *fx;
	const char *filter;
	int qos;
	struct mqb_job job;
	struct mqb_mqtt_sub *sub;
	int rc;
};

static void do_subscribe(void *arg)
{
	struct sub_call *c = arg;
	c->rc = mqb_mqtt_async_subscribe(c->fx->t.core, c->filter, c->qos, &c->job, &c->sub);
}

static int try_subscribe(struct fx *fx, const char *filter, int qos, struct mqb_job job,
			 struct mqb_mqtt_sub **out)
{
	struct sub_call c = { .fx = fx, .filter = filter, .qos = qos, .job = job };
	tu_on_loop(&fx->t, do_subscribe, &c);
	if (out)
		*out = c.sub;
	return c.rc;
}

static struct mqb_mqtt_sub *subscribe(struct fx *fx, const char *filter, int qos,
				      struct mqb_job job)
{
	struct mqb_mqtt_sub *sub = NULL;
	assert_int_equal(try_subscribe(fx, filter, qos, job, &sub), 0);
	assert_non_null(sub);
	return sub;
}

struct unsub_call {
	struct fx *fx;
	struct mqb_mqtt_sub *sub;
};

static void do_unsubscribe(void *arg)
{
	struct unsub_call *c = arg;
	mqb_mqtt_async_unsubscribe(c->fx->t.core, c->sub);
}

static void unsubscribe(struct fx *fx, struct mqb_mqtt_sub *sub)
{
	struct unsub_call c = { fx, sub };
	tu_on_loop(&fx->t, do_unsubscribe, &c);
}

struct pub_call {
	struct fx *fx;
	const char *topic;
	const void *payload;
	size_t len;
	int qos;
	bool retain;
	bool want_future;
	struct mqb_future *f;
	int rc;
};

static void do_publish(void *arg)
{
	struct pub_call *c = arg;
	c->rc = mqb_mqtt_async_publish(c->fx->t.core, c->topic, c->payload, c->len, c->qos,
				       c->retain, c->want_future ? &c->f : NULL);
}

/* mqb_mqtt_async_publish on the loop; *f (if asked) gets the future. */
static int client_publish(struct fx *fx, const char *topic, const void *payload, size_t len,
			  int qos, bool retain, struct mqb_future **f)
{
	struct pub_call c = { .fx = fx, .topic = topic, .payload = payload, .len = len,
			      .qos = qos, .retain = retain, .want_future = f != NULL };
	tu_on_loop(&fx->t, do_publish, &c);
	if (f)
		*f = c.f;
	else
		mqb_future_unref(c.f);
	return c.rc;
}

struct stats_call {
	struct fx *fx;
	struct mqb_mqtt_stats st;
	int rc;
};

static void do_stats(void *arg)
{
	struct stats_call *c = arg;
	c->rc = mqb_mqtt_async_stats(c->fx->t.core, &c->st);
}

static struct mqb_mqtt_stats get_stats(struct fx *fx)
{
	struct stats_call c = { .fx = fx };
	tu_on_loop(&fx->t, do_stats, &c);
	assert_int_equal(c.rc, 0);
	return c.st;
}

/* ---- the broker's log ------------------------------------------------- */

/* Lines are "<time>: <client> <qos> <filter>" once a subscription is added
 * and "<time>: <client> <filter>" once removed; the newline makes the
 * filter match whole. */
static int subscribe_lines(struct fx *fx, const char *filter, int qos)
{
	char needle[256];
	snprintf(needle, sizeof needle, ": %s %d %s\n", fx->cid, qos, filter);
	return tu_broker_log_count(&fx->b, needle);
}

static void wait_subscribed(struct fx *fx, const char *cid, const char *filter, int qos)
{
	char needle[256];
	snprintf(needle, sizeof needle, ": %s %d %s\n", cid, qos, filter);
	if (!tu_broker_log_wait(&fx->b, needle, 1, TU_TIMEOUT))
		fail_msg("the broker never subscribed %s to %s at QoS %d", cid, filter, qos);
}

static int unsubscribe_packets(struct fx *fx)
{
	char needle[128];
	snprintf(needle, sizeof needle, "Received UNSUBSCRIBE from %s\n", fx->cid);
	return tu_broker_log_count(&fx->b, needle);
}

/* Lines holding both a and b. */
static int log_count2(struct fx *fx, const char *a, const char *b)
{
	FILE *f = fopen(fx->b.log, "r");
	if (!f)
		return 0;
	int n = 0;
	char line[1024];
	while (fgets(line, sizeof line, f))
		n += strstr(line, a) && strstr(line, b);
	fclose(f);
	return n;
}

static bool log_wait2(struct fx *fx, const char *a, const char *b, int count, double timeout)
{
	double end = tu_now() + timeout;
	for (;;) {
		if (log_count2(fx, a, b) >= count)
			return true;
		if (tu_now() > end)
			return false;
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* ---- the outside world: mosquitto_pub and mosquitto_sub --------------- */

static void track_child(struct fx *fx, pid_t pid)
{
	for (int i = 0; i < MAXCHILD; i++) {
		if (fx->children[i] == 0) {
			fx->children[i] = pid;
			return;
		}
	}
	fail_msg("too many child processes");
}

static void untrack_child(struct fx *fx, pid_t pid)
{
	for (int i = 0; i < MAXCHILD; i++)
		if (fx->children[i] == pid)
			fx->children[i] = 0;
}

/* Children get default signal dispositions (Paho ignores SIGPIPE for the
 * whole process) and an empty signal mask. */
static pid_t spawn(struct fx *fx, char *const argv[], const char *in_path, const char *out_path)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t def, empty;
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigemptyset(&empty);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, in_path ? in_path : "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &empty);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	pid_t pid = 0;
	int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		fail_msg("cannot run %s: %s", argv[0], strerror(rc));
	track_child(fx, pid);
	return pid;
}

/* The child's exit code; -1 if it was still running after timeout seconds
 * (it is killed), -2 if a signal ended it. */
static int wait_exit(struct fx *fx, pid_t pid, double timeout)
{
	double end = tu_now() + timeout;
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (tu_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			untrack_child(fx, pid);
			return -1;
		}
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	untrack_child(fx, pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
}

static void next_client_id(struct fx *fx, const char *kind, char *id, size_t idlen)
{
	snprintf(id, idlen, "mqbt-%s-%d", kind, ++fx->nclients);
}

/* Publish one message from outside (QoS > 0: acknowledged when this
 * returns, since mosquitto_pub waits for it before it exits). */
static void outside_publish(struct fx *fx, const char *topic, const void *payload, size_t len,
			    int qos, bool retain)
{
	char id[64], port[16], q[8], file[160];
	next_client_id(fx, "pub", id, sizeof id);
	snprintf(port, sizeof port, "%d", fx->b.port);
	snprintf(q, sizeof q, "%d", qos);
	tu_broker_path(&fx->b, "payload.bin", file, sizeof file);
	char *argv[20];
	int a = 0;
	argv[a++] = "mosquitto_pub";
	argv[a++] = "-h";
	argv[a++] = "127.0.0.1";
	argv[a++] = "-p";
	argv[a++] = port;
	argv[a++] = "-i";
	argv[a++] = id;
	argv[a++] = "-q";
	argv[a++] = q;
	argv[a++] = "-t";
	argv[a++] = (char *)topic;
	if (retain)
		argv[a++] = "-r";
	if (len == 0) {
		argv[a++] = "-n";
	} else {
		FILE *f = fopen(file, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(payload, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
		argv[a++] = "-f";
		argv[a++] = file;
	}
	argv[a] = NULL;
	pid_t pid = spawn(fx, argv, NULL, NULL);
	int rc = wait_exit(fx, pid, TU_TIMEOUT);
	if (rc != 0)
		fail_msg("mosquitto_pub -t %s exited with %d", topic, rc);
}

static void outside_publish_str(struct fx *fx, const char *topic, const char *s, int qos,
				bool retain)
{
	outside_publish(fx, topic, s, strlen(s), qos, retain);
}

/* Publish n messages "m0".."m<n-1>" from one mosquitto_pub (-l: one
 * message per line of its standard input). */
static void outside_publish_n(struct fx *fx, const char *topic, int n, int qos)
{
	char id[64], port[16], q[8], file[160];
	next_client_id(fx, "pubn", id, sizeof id);
	snprintf(port, sizeof port, "%d", fx->b.port);
	snprintf(q, sizeof q, "%d", qos);
	tu_broker_path(&fx->b, "lines.txt", file, sizeof file);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	for (int i = 0; i < n; i++)
		fprintf(f, "m%d\n", i);
	assert_int_equal(fclose(f), 0);
	char *argv[] = { "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-i", id, "-q", q,
			 "-t", (char *)topic, "-l", NULL };
	pid_t pid = spawn(fx, argv, file, NULL);
	int rc = wait_exit(fx, pid, TU_TIMEOUT);
	if (rc != 0)
		fail_msg("mosquitto_pub -l -t %s exited with %d", topic, rc);
}

struct outside_sub {
	pid_t pid;
	char id[64];
	char out[160];
};

/* What an outside subscriber received. */
struct omsg {
	char topic[128];
	int qos, retained;
	size_t len;
	unsigned char payload[MAXCOPY];
};

/* Start mosquitto_sub on filter; it exits after count messages (count > 0)
 * or, with retained_only, at the first message without the retain flag.
 * Returns once the broker has the subscription in place. */
static void outside_subscribe(struct fx *fx, struct outside_sub *s, const char *filter, int qos,
			      int count, bool retained_only)
{
	char port[16], q[8], c[16], w[16], name[80];
	next_client_id(fx, "sub", s->id, sizeof s->id);
	snprintf(name, sizeof name, "%s.out", s->id);
	tu_broker_path(&fx->b, name, s->out, sizeof s->out);
	snprintf(port, sizeof port, "%d", fx->b.port);
	snprintf(q, sizeof q, "%d", qos);
	snprintf(c, sizeof c, "%d", count);
	snprintf(w, sizeof w, "%d", (int)TU_TIMEOUT);
	char *argv[24];
	int a = 0;
	argv[a++] = "mosquitto_sub";
	argv[a++] = "-h";
	argv[a++] = "127.0.0.1";
	argv[a++] = "-p";
	argv[a++] = port;
	argv[a++] = "-i";
	argv[a++] = s->id;
	argv[a++] = "-q";
	argv[a++] = q;
	argv[a++] = "-t";
	argv[a++] = (char *)filter;
	argv[a++] = "-W";
	argv[a++] = w;
	argv[a++] = "-F";
	argv[a++] = "%t %q %r %l %x";
	if (count > 0) {
		argv[a++] = "-C";
		argv[a++] = c;
	}
	if (retained_only)
		argv[a++] = "--retained-only";
	argv[a] = NULL;
	s->pid = spawn(fx, argv, NULL, s->out);
	wait_subscribed(fx, s->id, filter, qos);
}

static int hexval(int ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Wait for the subscriber to exit (bounded) and parse what it printed. */
static int outside_collect(struct fx *fx, struct outside_sub *s, struct omsg *out, int max)
{
	int rc = wait_exit(fx, s->pid, TU_TIMEOUT + 5);
	if (rc != 0)
		fail_msg("mosquitto_sub %s exited with %d (too few messages?)", s->id, rc);
	FILE *f = fopen(s->out, "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0;
	int n = 0;
	while (getline(&line, &cap, f) > 0) {
		assert_true(n < max);
		struct omsg *m = &out[n];
		memset(m, 0, sizeof *m);
		int used = 0;
		int k = sscanf(line, "%127s %d %d %zu%n", m->topic, &m->qos, &m->retained, &m->len,
			       &used);
		if (k < 4)
			fail_msg("mosquitto_sub printed \"%s\"", line);
		/* Then " <hex payload>\n" (the hex is empty for an empty payload). */
		const char *hex = line + used + (line[used] == ' ');
		for (size_t i = 0; hexval(hex[i]) >= 0 && hexval(hex[i + 1]) >= 0 &&
				   i / 2 < MAXCOPY; i += 2)
			m->payload[i / 2] =
				(unsigned char)(hexval(hex[i]) * 16 + hexval(hex[i + 1]));
		n++;
	}
	free(line);
	fclose(f);
	return n;
}

static const struct omsg *find_omsg(const struct omsg *m, int n, const char *topic)
{
	for (int i = 0; i < n; i++)
		if (strcmp(m[i].topic, topic) == 0)
			return &m[i];
	fail_msg("no message on %s reached the outside subscriber", topic);
	static const struct omsg none;
	return &none;
}

#define assert_payload(g, s) \
	do { \
		assert_int_equal((g)->len, strlen(s)); \
		assert_memory_equal((g)->payload, (s), strlen(s)); \
	} while (0)

/* ---- handlers of each job kind ---------------------------------------- */

static void a_callback_handler_runs_on_the_loop_thread_and_sees_topic_payload_qos_and_retain(
	void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "callback");
	fx_start(fx);
	/* Retained before anyone subscribes: it arrives on subscribe, flagged. */
	outside_publish_str(fx, "cb/kept", "hello retained", 1, true);
	struct rec *r = &fx->rec[0];
	subscribe(fx, "cb/#", 1, MQB_CALLBACK(on_message, r));
	wait_subscribed(fx, fx->cid, "cb/#", 1);
	assert_true(wait_count(fx, &r->n, 1, TU_TIMEOUT));
	outside_publish_str(fx, "cb/live", "hi", 0, false);
	assert_true(wait_count(fx, &r->n, 2, TU_TIMEOUT));

	const struct got *g = &r->msgs[0];
	assert_string_equal(g->topic, "cb/kept");
	assert_payload(g, "hello retained");
	assert_true(g->nul_after);
	assert_int_equal(g->qos, 1);
	assert_true(g->retained);
	assert_true(g->on_loop);
	assert_false(g->in_coro);
	g = &r->msgs[1];
	assert_string_equal(g->topic, "cb/live");
	assert_payload(g, "hi");
	assert_int_equal(g->qos, 0);
	assert_false(g->retained);
	assert_true(g->on_loop);
	assert_int_equal(count_of(fx, &r->n), 2);
	fx->passed = true;
}

static void a_coroutine_handler_awaits_its_own_qos1_publish_and_sees_status_0(void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "coro");
	fx_start(fx);
	struct outside_sub os;
	outside_subscribe(fx, &os, "co/out", 1, 1, false);
	struct rec *r = &fx->rec[0];
	subscribe(fx, "co/in", 1, MQB_COROUTINE(echo_and_await, r));
	wait_subscribed(fx, fx->cid, "co/in", 1);
	outside_publish_str(fx, "co/in", "ping", 1, false);
	assert_true(wait_count(fx, &r->n, 1, TU_TIMEOUT));

	const struct got *g = &r->msgs[0];
	assert_int_equal(g->status, 0); /* the await of the PUBACK */
	assert_true(g->on_loop);
	assert_true(g->in_coro);
	assert_string_equal(g->topic, "co/in");
	assert_payload(g, "ping");
	assert_int_equal(g->qos, 1);
	assert_false(g->retained);
	struct omsg got[4];
	assert_int_equal(outside_collect(fx, &os, got, 4), 1);
	assert_string_equal(got[0].topic, "co/out");
	assert_int_equal(got[0].qos, 1);
	assert_int_equal(got[0].len, 9);
	assert_memory_equal(got[0].payload, "echo:ping", 9);
	fx->passed = true;
}

static void an_executor_handler_runs_in_the_pool_and_may_keep_the_message_after_returning(
	void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "executor");
	fx_start(fx);
	struct rec *r = &fx->rec[0];
	subscribe(fx, "ex/#", 2, MQB_EXECUTOR(keep_message, r));
	wait_subscribed(fx, fx->cid, "ex/#", 2);
	outside_publish_str(fx, "ex/keep", "kept payload", 2, false);
	assert_true(wait_count(fx, &r->n, 1, TU_TIMEOUT));
	/* A second message through the whole path, and the loop drained: the
	 * first job is long done and the core has let go of its message. */
	outside_publish_str(fx, "ex/second", "second", 2, false);
	assert_true(wait_count(fx, &r->n, 2, TU_TIMEOUT));
	tu_loop_flush(&fx->t);

	const struct got *g = &r->msgs[0];
	assert_false(g->on_loop);
	assert_false(g->in_coro);
	assert_int_equal(g->qos, 2);
	assert_false(g->retained);
	pthread_mutex_lock(&fx->m);
	struct mqb_mqtt_message *kept = r->kept;
	r->kept = NULL;
	pthread_mutex_unlock(&fx->m);
	assert_non_null(kept);
	/* Read on this thread, after the handler returned. */
	assert_string_equal(mqb_mqtt_message_topic(kept), "ex/keep");
	assert_int_equal(mqb_mqtt_message_len(kept), 12);
	assert_memory_equal(mqb_mqtt_message_payload(kept), "kept payload", 12);
	assert_string_equal(mqb_mqtt_message_payload(kept), "kept payload"); /* NUL after */
	assert_int_equal(mqb_mqtt_message_qos(kept), 2);
	assert_false(mqb_mqtt_message_retained(kept));
	mqb_mqtt_message_unref(kept);
	assert_string_equal(r->msgs[1].topic, "ex/second");
	assert_false(r->msgs[1].on_loop);
	fx->passed = true;
}

/* ---- shared subscriptions --------------------------------------------- */

static void two_handlers_on_one_filter_share_one_subscribe_and_the_last_removal_unsubscribes(
	void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "shared");
	fx_start(fx);
	struct rec *r1 = &fx->rec[0], *r2 = &fx->rec[1], *mark = &fx->rec[2];
	/* Each change is followed by a message through a filter it touched:
	 * once that arrives, the client has finished sending the change (it
	 * pauses reading while it does), so what the broker logged is final. */
	struct mqb_mqtt_sub *s1 = subscribe(fx, "shared/t", 1, MQB_CALLBACK(on_message, r1));
	wait_subscribed(fx, fx->cid, "shared/t", 1);
	outside_publish_str(fx, "shared/t", "zero", 1, false);
	assert_true(wait_count(fx, &r1->n, 1, TU_TIMEOUT));

	struct mqb_mqtt_sub *s2 = subscribe(fx, "shared/t", 1, MQB_CALLBACK(on_message, r2));
	subscribe(fx, "mark", 1, MQB_CALLBACK(on_message, mark));
	wait_subscribed(fx, fx->cid, "mark", 1);
	outside_publish_str(fx, "mark", "m0", 1, false);
	assert_true(wait_count(fx, &mark->n, 1, TU_TIMEOUT));
	outside_publish_str(fx, "shared/t", "one", 1, false);
	assert_true(wait_count(fx, &r1->n, 2, TU_TIMEOUT));
	assert_true(wait_count(fx, &r2->n, 1, TU_TIMEOUT));
	assert_int_equal(subscribe_lines(fx, "shared/t", 1), 1);
	assert_int_equal(get_stats(fx).subscriptions, 2);

	/* One handler gone: the subscription stays. */
	unsubscribe(fx, s1);
	subscribe(fx, "mark2", 1, MQB_CALLBACK(on_message, mark));
	wait_subscribed(fx, fx->cid, "mark2", 1);
	outside_publish_str(fx, "mark2", "m1", 1, false);
	assert_true(wait_count(fx, &mark->n, 2, TU_TIMEOUT));
	assert_int_equal(unsubscribe_packets(fx), 0);
	outside_publish_str(fx, "shared/t", "two", 1, false);
	assert_true(wait_count(fx, &r2->n, 2, TU_TIMEOUT));
	outside_publish_str(fx, "mark", "m2", 1, false);
	assert_true(wait_count(fx, &mark->n, 3, TU_TIMEOUT));
	assert_int_equal(count_of(fx, &r1->n), 2);
	assert_int_equal(subscribe_lines(fx, "shared/t", 1), 1);
	assert_int_equal(get_stats(fx).subscriptions, 3);

	/* Both gone: UNSUBSCRIBE, and nothing more arrives for the filter. */
	unsubscribe(fx, s2);
	char needle[128];
	snprintf(needle, sizeof needle, "Received UNSUBSCRIBE from %s\n", fx->cid);
	assert_true(tu_broker_log_wait(&fx->b, needle, 1, TU_TIMEOUT));
	snprintf(needle, sizeof needle, ": %s shared/t\n", fx->cid);
	assert_true(tu_broker_log_wait(&fx->b, needle, 1, TU_TIMEOUT));
	outside_publish_str(fx, "shared/t", "three", 1, false);
	outside_publish_str(fx, "mark", "m3", 1, false);
	assert_true(wait_count(fx, &mark->n, 4, TU_TIMEOUT));
	assert_int_equal(count_of(fx, &r1->n), 2);
	assert_int_equal(count_of(fx, &r2->n), 2);
	assert_int_equal(count_of(fx, &mark->n), 4);
	assert_payload(&r1->msgs[1], "one");
	assert_payload(&r2->msgs[0], "one");
	assert_payload(&r2->msgs[1], "two");
	assert_payload(&mark->msgs[3], "m3");
	assert_int_equal(get_stats(fx).subscriptions, 2);
	assert_int_equal(unsubscribe_packets(fx), 1);
	fx->passed = true;
}

/* Handlers of one filter record the order they ran in (fx->rec[0]'s
 * count, order[] under fx->m); one may unsubscribe handles as it runs. */
struct ordered {
	struct fx *fx;
	int id;
	struct mqb_mqtt_sub **drop[2]; /* unsubscribed when it runs; NULL: none */
};
static int order[MAXMSG];

static int ordered_handler(void *ud, void *arg, void **result)
{
	struct ordered *o = ud;
	for (int i = 0; i < 2; i++)
		if (o->drop[i] && *o->drop[i]) {
			mqb_mqtt_async_unsubscribe(o->fx->t.core, *o->drop[i]);
			*o->drop[i] = NULL;
		}
	pthread_mutex_lock(&o->fx->m);
	if (o->fx->rec[0].n < MAXMSG)
		order[o->fx->rec[0].n] = o->id;
	pthread_mutex_unlock(&o->fx->m);
	record(&o->fx->rec[0], arg, 0);
	return 0;
}

static void handlers_of_one_filter_run_in_subscription_order_and_may_unsubscribe_others(
	void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "order");
	fx_start(fx);
	struct mqb_mqtt_sub *s[5] = { NULL };
	struct ordered o[5];
	for (int i = 1; i <= 4; i++)
		o[i] = (struct ordered){ .fx = fx, .id = i };
	/* The second removes itself and the third while the message is being
	 * dispatched: the third no longer runs, nothing is freed under it. */
	o[2].drop[0] = &s[2];
	o[2].drop[1] = &s[3];
	for (int i = 1; i <= 4; i++)
		s[i] = subscribe(fx, "ord/t", 1, MQB_CALLBACK(ordered_handler, &o[i]));
	wait_subscribed(fx, fx->cid, "ord/t", 1);
	outside_publish_str(fx, "ord/t", "one", 1, false);
	assert_true(wait_count(fx, &fx->rec[0].n, 3, TU_TIMEOUT));
	outside_publish_str(fx, "ord/t", "two", 1, false);
	assert_true(wait_count(fx, &fx->rec[0].n, 5, TU_TIMEOUT));
	pthread_mutex_lock(&fx->m);
	int got[5];
	memcpy(got, order, sizeof got);
	pthread_mutex_unlock(&fx->m);
	int want[5] = { 1, 2, 4, 1, 4 };
	assert_memory_equal(got, want, sizeof want);
	assert_payload(&fx->rec[0].msgs[2], "one");
	assert_payload(&fx->rec[0].msgs[4], "two");
	assert_null(s[2]);
	assert_null(s[3]);
	assert_int_equal(get_stats(fx).subscriptions, 1);
	unsubscribe(fx, s[1]);
	unsubscribe(fx, s[4]);
	char needle[128];
	snprintf(needle, sizeof needle, "Received UNSUBSCRIBE from %s\n", fx->cid);
	assert_true(tu_broker_log_wait(&fx->b, needle, 1, TU_TIMEOUT));
	assert_int_equal(count_of(fx, &fx->rec[0].n), 5);
	fx->passed = true;
}

/* ---- wildcard dispatch ------------------------------------------------ */

/* Under MQTT 5 mosquitto sends a message once for each overlapping
 * filter, each copy naming its subscription: still once per handler. */
static void topic_reaches_exactly_the_matching_handlers(struct fx *fx, int protocol)
{
	fx_options(fx, protocol == 5 ? "wild5" : "wild");
	fx->opt.protocol = protocol;
	fx->opt.base_topic = NULL; /* no retained birth to land on "#" */
	fx_start(fx);
	static const char *filters[] = { "a/+", "a/#", "#", "$app/#", "+/+/c" };
	enum { NF = 5 };
	for (int i = 0; i < NF; i++)
		subscribe(fx, filters[i], 1, MQB_CALLBACK(on_message, &fx->rec[i]));
	for (int i = 0; i < NF; i++)
		wait_subscribed(fx, fx->cid, filters[i], 1);
	static const char *topics[] = { "a/b", "a", "a/b/c", "x/y/c", "$app/x", "$app/a/c", "end" };
	for (size_t i = 0; i < sizeof topics / sizeof *topics; i++)
		outside_publish_str(fx, topics[i], topics[i], 1, false);
	/* "end" reaches only "#"; handlers run in arrival order, so once it is
	 * there every earlier message has been dispatched. */
	assert_true(wait_count(fx, &fx->rec[2].n, 5, TU_TIMEOUT));

	static const char *expect[NF][6] = {
		{ "a/b" },
		{ "a/b", "a", "a/b/c" },
		{ "a/b", "a", "a/b/c", "x/y/c", "end" },
		{ "$app/x", "$app/a/c" },
		{ "a/b/c", "x/y/c" },
	};
	for (int i = 0; i < NF; i++) {
		struct rec *r = &fx->rec[i];
		int want = 0;
		while (want < 6 && expect[i][want])
			want++;
		int n = count_of(fx, &r->n);
		if (n != want) {
			for (int k = 0; k < n; k++)
				print_error("handler on %s got %s\n", filters[i], r->msgs[k].topic);
			fail_msg("the handler on %s got %d messages, not %d", filters[i], n, want);
		}
		for (int k = 0; k < want; k++) {
			assert_string_equal(r->msgs[k].topic, expect[i][k]);
			assert_payload(&r->msgs[k], expect[i][k]);
		}
	}
	fx->passed = true;
}

static void one_topic_reaches_exactly_the_handlers_whose_filters_match(void **state)
{
	topic_reaches_exactly_the_matching_handlers(*state, 4);
}

static void under_mqtt5_one_topic_reaches_exactly_the_handlers_whose_filters_match(void **state)
{
	topic_reaches_exactly_the_matching_handlers(*state, 5);
}

/* ---- birth and clean stop --------------------------------------------- */

static void the_birth_message_is_retained_online_and_a_clean_stop_makes_it_offline(void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "birth");
	fx_start(fx);
	char status[96], pubfrom[96], quoted[100];
	snprintf(status, sizeof status, "%s/status", fx->base);
	snprintf(pubfrom, sizeof pubfrom, "Received PUBLISH from %s ", fx->cid);
	snprintf(quoted, sizeof quoted, "'%s'", status);
	assert_true(log_wait2(fx, pubfrom, quoted, 1, TU_TIMEOUT));

	struct outside_sub os;
	struct omsg got[2];
	outside_subscribe(fx, &os, status, 1, 1, false);
	assert_int_equal(outside_collect(fx, &os, got, 2), 1);
	assert_string_equal(got[0].topic, status);
	assert_int_equal(got[0].retained, 1);
	assert_int_equal(got[0].len, 6);
	assert_memory_equal(got[0].payload, "online", 6);

	/* A clean stop: "offline" published by the client itself, then a
	 * DISCONNECT (so it is not the will speaking). */
	assert_int_equal(tu_loop_stop(&fx->t), 0);
	fx->loop_running = false;
	char needle[128];
	snprintf(needle, sizeof needle, "Received DISCONNECT from %s\n", fx->cid);
	assert_true(tu_broker_log_wait(&fx->b, needle, 1, TU_TIMEOUT));
	assert_true(log_count2(fx, pubfrom, quoted) >= 2);
	outside_subscribe(fx, &os, status, 1, 1, false);
	assert_int_equal(outside_collect(fx, &os, got, 2), 1);
	assert_int_equal(got[0].retained, 1);
	assert_int_equal(got[0].len, 7);
	assert_memory_equal(got[0].payload, "offline", 7);
	fx->passed = true;
}

static void do_fire_start(void *arg)
{
	hass__async_fire_start(arg);
}

/* "online" means ready for commands: it waits until the core has started
 * (every integration set up) and the subscriptions made by then are
 * acknowledged, so a client that publishes a command when it sees
 * "online" is heard. */
static void online_waits_for_the_start_and_the_subscriptions_made_by_then(void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "late");
	struct mqb_core *core;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	hass__defer_start(core);
	tu_loop_adopt(&fx->t, core);
	fx->loop_running = true;
	struct new_call c = { .fx = fx, .opt = &fx->opt };
	tu_on_loop(&fx->t, do_new, &c);
	assert_int_equal(c.rc, 0);
	assert_true(wait_count(fx, &fx->connects, 1, TU_TIMEOUT));
	char filter[96], pubfrom[96], quoted[100];
	snprintf(filter, sizeof filter, "%s/cmd", fx->base);
	subscribe(fx, filter, 1, MQB_CALLBACK(on_message, &fx->rec[0]));
	wait_subscribed(fx, fx->cid, filter, 1);
	snprintf(pubfrom, sizeof pubfrom, "Received PUBLISH from %s ", fx->cid);
	snprintf(quoted, sizeof quoted, "'%s/status'", fx->base);
	assert_int_equal(log_count2(fx, pubfrom, quoted), 0);
	tu_on_loop(&fx->t, do_fire_start, core);
	assert_true(log_wait2(fx, pubfrom, quoted, 1, TU_TIMEOUT));
	fx->passed = true;
}

/* ---- publishing ------------------------------------------------------- */

static void publishes_at_qos_0_1_and_2_settle_with_0_and_reach_a_subscriber_with_their_retain_flag(
	void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "pub");
	fx_start(fx);
	struct mqb_mqtt_stats before = get_stats(fx);
	struct outside_sub live;
	outside_subscribe(fx, &live, "pubtest/#", 2, 3, false);
	struct mqb_future *f[3] = { NULL, NULL, NULL };
	assert_int_equal(client_publish(fx, "pubtest/q0", "zero", 4, 0, false, &f[0]), 0);
	assert_int_equal(client_publish(fx, "pubtest/q1", "one", 3, 1, true, &f[1]), 0);
	assert_int_equal(client_publish(fx, "pubtest/q2", "two", 3, 2, false, &f[2]), 0);
	for (int i = 0; i < 3; i++) {
		assert_non_null(f[i]);
		int rc = mqb_future_result(f[i], TU_TIMEOUT, NULL);
		mqb_future_unref(f[i]);
		assert_int_equal(rc, 0);
	}
	struct omsg got[4];
	assert_int_equal(outside_collect(fx, &live, got, 4), 3);
	const struct omsg *m = find_omsg(got, 3, "pubtest/q0");
	assert_int_equal(m->qos, 0);
	assert_int_equal(m->retained, 0);
	assert_int_equal(m->len, 4);
	assert_memory_equal(m->payload, "zero", 4);
	m = find_omsg(got, 3, "pubtest/q1");
	assert_int_equal(m->qos, 1);
	assert_int_equal(m->retained, 0); /* live delivery: MQTT 3.1.1 clears it */
	assert_memory_equal(m->payload, "one", 3);
	m = find_omsg(got, 3, "pubtest/q2");
	assert_int_equal(m->qos, 2);
	assert_memory_equal(m->payload, "two", 3);

	/* A late subscriber sees only what was retained: q1. It exits at the
	 * first message without the flag, the marker published below. */
	struct outside_sub late;
	outside_subscribe(fx, &late, "pubtest/#", 2, 0, true);
	outside_publish_str(fx, "pubtest/zz-marker", "x", 1, false);
	int n = outside_collect(fx, &late, got, 4);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].topic, "pubtest/q1");
	assert_int_equal(got[0].retained, 1);
	assert_int_equal(got[0].len, 3);
	assert_memory_equal(got[0].payload, "one", 3);

	struct mqb_mqtt_stats after = get_stats(fx);
	assert_int_equal(after.published - before.published, 3);
	assert_int_equal(after.publish_failures, before.publish_failures);
	assert_int_equal(after.inflight, 0);
	fx->passed = true;
}

static void a_bad_topic_or_qos_is_refused_at_once_with_einval(void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "badpub");
	fx_start(fx);
	struct mqb_future *f = NULL;
	assert_int_equal(client_publish(fx, "a/+", "x", 1, 1, false, &f), -EINVAL);
	mqb_future_unref(f);
	f = NULL;
	assert_int_equal(client_publish(fx, "a/#", "x", 1, 1, false, &f), -EINVAL);
	mqb_future_unref(f);
	f = NULL;
	assert_int_equal(client_publish(fx, "", "x", 1, 1, false, &f), -EINVAL);
	mqb_future_unref(f);
	f = NULL;
	assert_int_equal(client_publish(fx, "ok/topic", "x", 1, 3, false, &f), -EINVAL);
	mqb_future_unref(f);
	f = NULL;
	assert_int_equal(client_publish(fx, "ok/topic", "x", 1, -1, false, &f), -EINVAL);
	mqb_future_unref(f);
	/* The thread-safe flavour checks the same, at once. */
	assert_int_equal(mqb_mqtt_publish(fx->t.core, "a/+", "x", 1, 0, false, NULL), -EINVAL);
	assert_int_equal(mqb_mqtt_publish(fx->t.core, "ok", "x", 1, 3, false, NULL), -EINVAL);
	/* Nothing refused reached the broker. A good publish marks the end. */
	struct mqb_future *good = NULL;
	assert_int_equal(client_publish(fx, "ok/after", "y", 1, 1, false, &good), 0);
	assert_non_null(good);
	assert_int_equal(mqb_future_result(good, TU_TIMEOUT, NULL), 0);
	mqb_future_unref(good);
	char from[96];
	snprintf(from, sizeof from, "Received PUBLISH from %s ", fx->cid);
	assert_int_equal(log_count2(fx, from, "'ok/topic'"), 0);
	assert_int_equal(log_count2(fx, from, "'ok/after'"), 1);
	fx->passed = true;
}

/* ---- subscribing: refusals -------------------------------------------- */

static void a_bad_filter_or_qos_is_refused_with_einval_and_sends_no_subscribe(void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "badsub");
	fx_start(fx);
	struct rec *r = &fx->rec[0];
	struct mqb_job j = MQB_CALLBACK(on_message, r);
	assert_int_equal(try_subscribe(fx, "a/#/b", 0, j, NULL), -EINVAL);
	assert_int_equal(try_subscribe(fx, "a/b#", 0, j, NULL), -EINVAL);
	assert_int_equal(try_subscribe(fx, "a/+b", 0, j, NULL), -EINVAL);
	assert_int_equal(try_subscribe(fx, "", 0, j, NULL), -EINVAL);
	assert_int_equal(try_subscribe(fx, "ok/f", 3, j, NULL), -EINVAL);
	assert_int_equal(try_subscribe(fx, "ok/f", -1, j, NULL), -EINVAL);
	assert_int_equal(get_stats(fx).subscriptions, 0);
	/* A good one afterwards is the only SUBSCRIBE the broker sees. */
	subscribe(fx, "ok/g", 0, j);
	wait_subscribed(fx, fx->cid, "ok/g", 0);
	char needle[96];
	snprintf(needle, sizeof needle, "Received SUBSCRIBE from %s\n", fx->cid);
	assert_int_equal(tu_broker_log_count(&fx->b, needle), 1);
	assert_int_equal(get_stats(fx).subscriptions, 1);
	fx->passed = true;
}

struct noclient {
	struct mqb_core *core;
	int new_rc, sub_rc, stats_rc, sub_rc_after;
	struct mqb_mqtt_sub *sub;
};

static void noclient_calls(void *arg)
{
	struct noclient *c = arg;
	struct mqb_mqtt_stats st;
	c->sub_rc = mqb_mqtt_async_subscribe(c->core, "a/b", 0,
					     &MQB_CALLBACK(on_message, NULL), &c->sub);
	c->stats_rc = mqb_mqtt_async_stats(c->core, &st);
	/* Bad options attach nothing. */
	struct mqtt_options opt;
	mqtt__options_init(&opt);
	opt.host = "127.0.0.1";
	opt.client_id = NULL;
	c->new_rc = mqtt__new(c->core, &opt);
	c->sub_rc_after = mqb_mqtt_async_subscribe(c->core, "a/b", 0,
						   &MQB_CALLBACK(on_message, NULL), &c->sub);
}

static void a_core_without_a_client_refuses_subscribe_and_stats_with_enotconn(void **state)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct noclient c = { .core = t.core };
	tu_on_loop(&t, noclient_calls, &c);
	assert_int_equal(tu_loop_stop(&t), 0);
	assert_int_equal(c.sub_rc, -ENOTCONN);
	assert_int_equal(c.stats_rc, -ENOTCONN);
	assert_int_equal(c.new_rc, -EINVAL); /* no client_id */
	assert_int_equal(c.sub_rc_after, -ENOTCONN);
	assert_null(c.sub);
}

static void a_core_takes_only_one_client(void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "one");
	fx_start(fx);
	struct mqtt_options second = fx->opt;
	second.client_id = "mqbt-one-second";
	struct new_call c = { .fx = fx, .opt = &second };
	tu_on_loop(&fx->t, do_new, &c);
	assert_int_equal(c.rc, -EEXIST);
	assert_true(get_stats(fx).connected);
	fx->passed = true;
}

/* ---- the thread-safe flavours ----------------------------------------- */

struct deadlk {
	struct fx *fx;
	int rc;
	struct mqb_mqtt_sub *sub;
	unsigned subs;
};

static void subscribe_blocking_on_loop(void *arg)
{
	struct deadlk *d = arg;
	d->rc = mqb_mqtt_subscribe(d->fx->t.core, "dl/x", 0,
				   &MQB_CALLBACK(on_message, &d->fx->rec[2]), &d->sub);
	struct mqb_mqtt_stats st;
	d->subs = mqb_mqtt_async_stats(d->fx->t.core, &st) == 0 ? st.subscriptions : 999;
}

static void the_thread_safe_publish_works_off_the_loop_and_subscribe_on_the_loop_is_edeadlk(
	void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "tsafe");
	fx_start(fx);
	struct outside_sub os;
	outside_subscribe(fx, &os, "ts/out", 1, 2, false);

	/* Subscribe from this thread (not the loop), with an EXECUTOR handler
	 * that publishes with the thread-safe call from a pool thread. */
	struct rec *r = &fx->rec[0];
	struct mqb_mqtt_sub *sub = NULL;
	assert_int_equal(mqb_mqtt_subscribe(fx->t.core, "ts/in", 1,
					    &MQB_EXECUTOR(publish_from_pool, r), &sub), 0);
	assert_non_null(sub);
	wait_subscribed(fx, fx->cid, "ts/in", 1);

	struct mqb_future *f = NULL;
	assert_int_equal(mqb_mqtt_publish(fx->t.core, "ts/out", "from-test", 9, 1, false, &f), 0);
	assert_non_null(f);
	int rc = mqb_future_result(f, TU_TIMEOUT, NULL);
	mqb_future_unref(f);
	assert_int_equal(rc, 0);

	outside_publish_str(fx, "ts/in", "go", 1, false);
	assert_true(wait_count(fx, &r->n, 1, TU_TIMEOUT));
	assert_false(r->msgs[0].on_loop);
	assert_int_equal(r->msgs[0].status, 0);

	struct omsg got[4];
	assert_int_equal(outside_collect(fx, &os, got, 4), 2);
	bool test = false, pool = false;
	for (int i = 0; i < 2; i++) {
		assert_string_equal(got[i].topic, "ts/out");
		test |= got[i].len == 9 && memcmp(got[i].payload, "from-test", 9) == 0;
		pool |= got[i].len == 9 && memcmp(got[i].payload, "from-pool", 9) == 0;
	}
	assert_true(test);
	assert_true(pool);

	/* The blocking subscribe on the loop thread would wait for itself. */
	struct deadlk d = { .fx = fx };
	tu_on_loop(&fx->t, subscribe_blocking_on_loop, &d);
	assert_int_equal(d.rc, -EDEADLK);
	assert_int_equal(d.subs, 1);

	/* Unsubscribe from this thread too. */
	assert_int_equal(mqb_mqtt_unsubscribe(fx->t.core, sub), 0);
	char needle[96];
	snprintf(needle, sizeof needle, "Received UNSUBSCRIBE from %s\n", fx->cid);
	assert_true(tu_broker_log_wait(&fx->b, needle, 1, TU_TIMEOUT));
	/* the filter goes when the UNSUBACK is back on the loop */
	double end = tu_now() + TU_TIMEOUT;
	while (get_stats(fx).subscriptions != 0 && tu_now() < end)
		usleep(5 * 1000);
	assert_int_equal(get_stats(fx).subscriptions, 0);
	fx->passed = true;
}

/* ---- stats ------------------------------------------------------------ */

static void stats_count_received_dispatched_and_published_messages(void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "stats");
	fx_start(fx);
	struct rec *r = &fx->rec[0];
	subscribe(fx, "st/#", 1, MQB_CALLBACK(on_message, r));
	wait_subscribed(fx, fx->cid, "st/#", 1);
	struct mqb_mqtt_stats s0 = get_stats(fx);
	assert_true(s0.connected);
	assert_int_equal(s0.subscriptions, 1);

	outside_publish_n(fx, "st/a", 5, 1);
	assert_true(wait_count(fx, &r->n, 5, TU_TIMEOUT));
	for (int i = 0; i < 5; i++) {
		char want[8];
		snprintf(want, sizeof want, "m%d", i);
		assert_payload(&r->msgs[i], want);
	}
	for (int i = 0; i < 4; i++) {
		struct mqb_future *f = NULL;
		assert_int_equal(client_publish(fx, "out/st", "p", 1, 1, false, &f), 0);
		int rc = mqb_future_result(f, TU_TIMEOUT, NULL);
		mqb_future_unref(f);
		assert_int_equal(rc, 0);
	}
	struct mqb_mqtt_stats s1 = get_stats(fx);
	assert_int_equal(s1.received - s0.received, 5);
	assert_int_equal(s1.dispatched - s0.dispatched, 5);
	assert_int_equal(s1.published - s0.published, 4);
	assert_int_equal(s1.publish_failures, 0);
	assert_int_equal(s1.dropped_invalid_topic + s1.dropped_too_large + s1.dropped_handler_busy, 0);
	assert_int_equal(s1.reconnects, 0);
	assert_int_equal(s1.inflight, 0);
	assert_int_equal(s1.queued, 0);
	assert_true(s1.connected);
	assert_int_equal(count_of(fx, &fx->connects), 1);
	fx->passed = true;
}

/* ---- fairness --------------------------------------------------------- */

/* Loop-owned counters: one batch of messages per loop iteration at most. */
struct fair {
	ev_prepare prep;
	int this_iter, max_iter, total, iterations;
	struct tu_latch done;
	int want;
};

static void fair_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct fair *f = w->data;
	f->this_iter = 0;
	f->iterations++;
}

static int fair_handler(void *ud, void *arg, void **result)
{
	struct fair *f = ud;
	if (++f->this_iter > f->max_iter)
		f->max_iter = f->this_iter;
	if (++f->total == f->want)
		tu_latch_count_down(&f->done);
	return 0;
}

struct fair_call {
	struct fx *fx;
	struct fair *f;
	bool stop;
};

static void fair_watch(void *arg)
{
	struct fair_call *c = arg;
	struct ev_loop *loop = core__loop(c->fx->t.core);
	if (c->stop) {
		ev_prepare_stop(loop, &c->f->prep);
		return;
	}
	ev_prepare_init(&c->f->prep, fair_prepare);
	c->f->prep.data = c->f;
	ev_prepare_start(loop, &c->f->prep);
}

static void a_flood_is_read_one_batch_per_loop_iteration(void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "fair");
	fx->opt.inbound_batch = 8;
	fx_start(fx);
	static struct fair f;
	memset(&f, 0, sizeof f);
	f.want = 2000;
	tu_latch_init(&f.done, 1);
	struct fair_call c = { fx, &f, false };
	tu_on_loop(&fx->t, fair_watch, &c);
	subscribe(fx, "flood/#", 1, MQB_CALLBACK(fair_handler, &f));
	wait_subscribed(fx, fx->cid, "flood/#", 1);
	outside_publish_n(fx, "flood/a", f.want, 1);
	assert_true(tu_latch_wait(&f.done, TU_TIMEOUT));
	c.stop = true;
	tu_on_loop(&fx->t, fair_watch, &c); /* also orders the reads below */
	assert_int_equal(f.total, f.want);
	/* Timers and other I/O get a turn between batches: never more than
	 * inbound_batch handler runs in one iteration. */
	assert_true(f.max_iter >= 1);
	assert_true(f.max_iter <= 8);
	assert_true(f.iterations >= f.want / 8);
	tu_latch_destroy(&f.done);
	fx->passed = true;
}

/* ---- payloads --------------------------------------------------------- */

static void an_empty_payload_arrives_with_length_0_and_a_nul_after_it(void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "empty");
	fx_start(fx);
	struct rec *r = &fx->rec[0];
	subscribe(fx, "pl/#", 1, MQB_CALLBACK(on_message, r));
	wait_subscribed(fx, fx->cid, "pl/#", 1);
	outside_publish(fx, "pl/empty", NULL, 0, 1, false);
	assert_true(wait_count(fx, &r->n, 1, TU_TIMEOUT));
	const struct got *g = &r->msgs[0];
	assert_string_equal(g->topic, "pl/empty");
	assert_int_equal(g->len, 0);
	assert_false(g->payload_null);
	assert_true(g->nul_after);
	assert_int_equal(g->qos, 1);
	fx->passed = true;
}

static void a_payload_with_embedded_nuls_arrives_intact(void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "nuls");
	fx_start(fx);
	struct rec *r = &fx->rec[0];
	subscribe(fx, "pl/#", 1, MQB_CALLBACK(on_message, r));
	wait_subscribed(fx, fx->cid, "pl/#", 1);
	unsigned char p[5 + 256];
	memcpy(p, "\0a\0\0b", 5);
	for (int i = 0; i < 256; i++)
		p[5 + i] = (unsigned char)i;
	outside_publish(fx, "pl/bin", p, sizeof p, 1, false);
	assert_true(wait_count(fx, &r->n, 1, TU_TIMEOUT));
	const struct got *g = &r->msgs[0];
	assert_int_equal(g->len, sizeof p);
	assert_memory_equal(g->payload, p, sizeof p);
	assert_true(g->nul_after);
	fx->passed = true;
}

static void a_payload_over_max_payload_is_dropped_and_counted_and_the_client_stays_connected(
	void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "big");
	fx->opt.max_payload = 1000;
	fx_start(fx);
	struct rec *r = &fx->rec[0];
	subscribe(fx, "big/#", 1, MQB_CALLBACK(on_message, r));
	wait_subscribed(fx, fx->cid, "big/#", 1);
	static unsigned char p[2000];
	for (size_t i = 0; i < sizeof p; i++)
		p[i] = (unsigned char)('A' + i % 26);
	outside_publish(fx, "big/huge", p, 2000, 1, false);
	outside_publish(fx, "big/limit", p, 1000, 1, false); /* not larger: kept */
	outside_publish_str(fx, "big/small", "ok", 1, false);
	assert_true(wait_count(fx, &r->n, 2, TU_TIMEOUT));
	assert_int_equal(count_of(fx, &r->n), 2);
	assert_string_equal(r->msgs[0].topic, "big/limit");
	assert_int_equal(r->msgs[0].len, 1000);
	assert_memory_equal(r->msgs[0].payload, p, 1000);
	assert_string_equal(r->msgs[1].topic, "big/small");
	assert_payload(&r->msgs[1], "ok");
	struct mqb_mqtt_stats st = get_stats(fx);
	assert_int_equal(st.dropped_too_large, 1);
	assert_true(st.connected);
	assert_int_equal(st.reconnects, 0);
	assert_int_equal(count_of(fx, &fx->connects), 1);
	fx->passed = true;
}

/* ---- shared subscriptions ---------------------------------------------- */

static atomic_int share_warnings;

static void count_share_warnings(void *ud, enum mqb_log_level level, const char *subsystem,
				 const char *line)
{
	if (strstr(line, "cannot be told apart"))
		atomic_fetch_add(&share_warnings, 1);
}

/* $share/g/sh/x, sh/x and sh/# on one client; "m1" to "m3", then "last",
 * published to sh/x. The broker sends each message once for the plain
 * subscriptions and once more for the group (this client is its only
 * member). Copies of a message come before the next message's. */
static void share_and_plain(struct fx *fx, int protocol)
{
	fx->opt.protocol = protocol;
	fx->opt.base_topic = NULL;
	fx_start(fx);
	static const char *filters[] = { "$share/g/sh/x", "sh/x", "sh/#" };
	for (int i = 0; i < 3; i++)
		subscribe(fx, filters[i], 1, MQB_CALLBACK(on_message, &fx->rec[i]));
	for (int i = 0; i < 3; i++)
		wait_subscribed(fx, fx->cid, filters[i], 1);
	static const char *payloads[] = { "m1", "m2", "m3", "last" };
	for (int i = 0; i < 4; i++)
		outside_publish_str(fx, "sh/x", payloads[i], 1, false);
}

static bool saw_last(struct fx *fx, struct rec *r)
{
	pthread_mutex_lock(&fx->m);
	bool seen = false;
	for (int i = 0; i < r->n && !seen; i++)
		seen = r->msgs[i].len == 4 && memcmp(r->msgs[i].payload, "last", 4) == 0;
	pthread_mutex_unlock(&fx->m);
	return seen;
}

/* Until each of the three handlers has "last", and what came before it. */
static void wait_last_everywhere(struct fx *fx)
{
	double end = tu_now() + TU_TIMEOUT;
	while (!saw_last(fx, &fx->rec[0]) || !saw_last(fx, &fx->rec[1]) ||
	       !saw_last(fx, &fx->rec[2])) {
		if (tu_now() > end)
			fail_msg("\"last\" did not reach every handler");
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	tu_loop_flush(&fx->t);
}

static void under_mqtt5_a_client_holding_share_and_plain_filters_hands_each_handler_each_message_once(
	void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "share5");
	share_and_plain(fx, 5);
	wait_last_everywhere(fx);
	static const char *want[] = { "m1", "m2", "m3", "last" };
	for (int h = 0; h < 3; h++) {
		struct rec *r = &fx->rec[h];
		int n = count_of(fx, &r->n);
		for (int k = 0; n != 4 && k < n; k++)
			print_error("handler %d got %.*s\n", h, (int)r->msgs[k].len,
				    (const char *)r->msgs[k].payload);
		assert_int_equal(n, 4);
		for (int k = 0; k < 4; k++)
			assert_payload(&r->msgs[k], want[k]);
	}
	fx->passed = true;
}

/* Under 3.1.1 mosquitto sends this client one copy of each message (it
 * leaves out the copies for its other subscriptions); a broker may send
 * one per subscription. Either way the handler of the shared filter gets
 * every message, also those the group gave another client. */
static void under_mqtt_3_1_1_every_handler_gets_the_message_and_the_log_says_once_why(void **state)
{
	struct fx *fx = *state;
	atomic_store(&share_warnings, 0);
	mqb_log_set_sink(count_share_warnings, NULL);
	fx_options(fx, "share4");
	share_and_plain(fx, 4);
	wait_last_everywhere(fx);
	mqb_log_set_sink(NULL, NULL);
	for (int h = 0; h < 3; h++)
		assert_true(count_of(fx, &fx->rec[h].n) >= 4);
	assert_int_equal(atomic_load(&share_warnings), 1);
	fx->passed = true;
}

/* Two clients in one group: the broker hands each message to one of them. */
static void two_clients_in_one_share_group_split_a_stream_each_message_handled_once(void **state)
{
	struct fx *fx = *state;
	fx_options(fx, "group-a");
	fx->opt.protocol = 5;
	fx->opt.base_topic = NULL;
	fx_start(fx);
	subscribe(fx, "$share/workers/jobs/+", 1, MQB_CALLBACK(on_message, &fx->rec[0]));
	wait_subscribed(fx, fx->cid, "$share/workers/jobs/+", 1);
	/* The other member: mosquitto_sub, which prints what it gets. */
	struct outside_sub other;
	outside_subscribe(fx, &other, "$share/workers/jobs/+", 1, 0, false);
	enum { N = 20 };
	char lines[N][8];
	for (int i = 0; i < N; i++) {
		snprintf(lines[i], sizeof lines[i], "j%d", i);
		outside_publish_str(fx, "jobs/a", lines[i], 1, false);
	}
	/* Everything the other member got is in its file once this client
	 * and it together have N. */
	int mine = 0, theirs = 0;
	for (double end = tu_now() + TU_TIMEOUT;;) {
		mine = count_of(fx, &fx->rec[0].n);
		FILE *f = fopen(other.out, "r");
		theirs = 0;
		for (int c; f && (c = fgetc(f)) != EOF;)
			theirs += c == '\n';
		if (f)
			fclose(f);
		if (mine + theirs >= N || tu_now() > end)
			break;
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(other.pid, SIGTERM);
	wait_exit(fx, other.pid, TU_TIMEOUT);
	assert_int_equal(mine + theirs, N);
	assert_true(mine > 0 && theirs > 0); /* mosquitto takes turns */
	fx->passed = true;
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

static const struct CMUnitTest tests[] = {
	T(a_callback_handler_runs_on_the_loop_thread_and_sees_topic_payload_qos_and_retain),
	T(a_coroutine_handler_awaits_its_own_qos1_publish_and_sees_status_0),
	T(an_executor_handler_runs_in_the_pool_and_may_keep_the_message_after_returning),
	T(two_handlers_on_one_filter_share_one_subscribe_and_the_last_removal_unsubscribes),
	T(handlers_of_one_filter_run_in_subscription_order_and_may_unsubscribe_others),
	T(one_topic_reaches_exactly_the_handlers_whose_filters_match),
	T(under_mqtt5_one_topic_reaches_exactly_the_handlers_whose_filters_match),
	T(the_birth_message_is_retained_online_and_a_clean_stop_makes_it_offline),
	T(online_waits_for_the_start_and_the_subscriptions_made_by_then),
	T(publishes_at_qos_0_1_and_2_settle_with_0_and_reach_a_subscriber_with_their_retain_flag),
	T(a_bad_topic_or_qos_is_refused_at_once_with_einval),
	T(a_bad_filter_or_qos_is_refused_with_einval_and_sends_no_subscribe),
	cmocka_unit_test(a_core_without_a_client_refuses_subscribe_and_stats_with_enotconn),
	T(a_core_takes_only_one_client),
	T(the_thread_safe_publish_works_off_the_loop_and_subscribe_on_the_loop_is_edeadlk),
	T(stats_count_received_dispatched_and_published_messages),
	T(a_flood_is_read_one_batch_per_loop_iteration),
	T(an_empty_payload_arrives_with_length_0_and_a_nul_after_it),
	T(a_payload_with_embedded_nuls_arrives_intact),
	T(a_payload_over_max_payload_is_dropped_and_counted_and_the_client_stays_connected),
	T(under_mqtt5_a_client_holding_share_and_plain_filters_hands_each_handler_each_message_once),
	T(under_mqtt_3_1_1_every_handler_gets_the_message_and_the_log_says_once_why),
	T(two_clients_in_one_share_group_split_a_stream_each_message_handled_once),
};

TU_MAIN(tests)
