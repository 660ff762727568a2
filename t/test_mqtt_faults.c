/* SPDX-License-Identifier: MIT */
/* MQTT under faults: a broker killed and restarted under a connected
 * client, a broker that stops reading, a persistent session across a
 * restart of the client, refused credentials, TLS verification, TLS and
 * plain clients side by side (each on its own Paho library, OpenSSL only
 * with TLS), a missing Paho library, the will when the client's process is
 * killed, and a broker that sends topic names no broker should.
 *
 * A real mosquitto everywhere (t/broker.c) except for that last case, which
 * needs t/fakebroker.py. Ports are always picked free; every broker, child
 * process and client a test starts is stopped in the teardown, even when the
 * test fails, and then the broker logs, the fake broker's report and the
 * daemon's own log lines are printed. Waits are on conditions, bounded. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "broker.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/mqtt.h"
#include "mqtt/client.h"
#include "mqtt/paho.h"
#include "lib/internal.h"

static void nap(void)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

/* Poll cond until it holds; after timeout seconds fail the test, naming it. */
#define WAIT_FOR(cond, timeout)                                                              \
	do {                                                                                 \
		double wf_end_ = tu_now() + (timeout);                                       \
		while (!(cond)) {                                                            \
			if (tu_now() > wf_end_)                                              \
				fail_msg("timed out after %.1f s waiting for %s",            \
					 (double)(timeout), #cond);                          \
			nap();                                                               \
		}                                                                            \
	} while (0)

/* ---- the daemon's log lines, captured ---------------------------------- */

#define LOG_KEEP 1024

static struct {
	pthread_mutex_t m;
	int n; /* lines seen, including any not kept */
	char *line[LOG_KEEP];
} logcap = { .m = PTHREAD_MUTEX_INITIALIZER };

static void capture_log(void *ud, enum mqb_log_level level, const char *subsystem,
			const char *line)
{
	static const char *const names[] = { "debug", "info", "warning", "error" };
	pthread_mutex_lock(&logcap.m);
	if (logcap.n < LOG_KEEP) {
		char *s = NULL;
		if (asprintf(&s, "%s [%s] %s", names[level], subsystem ? subsystem : "-",
			     line) >= 0)
			logcap.line[logcap.n] = s;
	}
	logcap.n++;
	pthread_mutex_unlock(&logcap.m);
}

/* Lines that contain a and (if not NULL) b, ignoring case. */
static int log_count(const char *a, const char *b)
{
	int n = 0;
	pthread_mutex_lock(&logcap.m);
	for (int i = 0; i < logcap.n && i < LOG_KEEP; i++) {
		const char *l = logcap.line[i];
		n += l && strcasestr(l, a) && (!b || strcasestr(l, b));
	}
	pthread_mutex_unlock(&logcap.m);
	return n;
}

static void log_dump(void)
{
	pthread_mutex_lock(&logcap.m);
	fprintf(stderr, "---- mqbridge log (%d lines) ----\n", logcap.n);
	for (int i = 0; i < logcap.n && i < LOG_KEEP; i++)
		if (logcap.line[i])
			fprintf(stderr, "%s\n", logcap.line[i]);
	fprintf(stderr, "---- end of mqbridge log ----\n");
	pthread_mutex_unlock(&logcap.m);
}

static void log_clear(void)
{
	pthread_mutex_lock(&logcap.m);
	for (int i = 0; i < LOG_KEEP; i++) {
		free(logcap.line[i]);
		logcap.line[i] = NULL;
	}
	logcap.n = 0;
	pthread_mutex_unlock(&logcap.m);
}

/* ---- child processes ---------------------------------------------------- */

struct output {
	char out[8192];
	char err[2048];
};

static void slurp(int *fd, char *buf, size_t cap, size_t *len)
{
	char tmp[1024];
	ssize_t r = read(*fd, tmp, sizeof tmp);
	if (r <= 0) {
		if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
			close(*fd);
			*fd = -1;
		}
		return;
	}
	size_t take = (size_t)r < cap - 1 - *len ? (size_t)r : cap - 1 - *len;
	memcpy(buf + *len, tmp, take);
	*len += take;
	buf[*len] = 0;
}

/* Spawn argv (argv[0] looked up in PATH) with stdin on /dev/null, default
 * signal dispositions (Paho ignores SIGPIPE for the whole process) and no
 * descriptors but 0, 1 and 2. out_fd and err_fd become its 1 and 2. */
static pid_t spawn_env(const char *const argv[], int out_fd, int err_fd, char *const envp[])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	/* Keep our MQTT sockets out of children: a child holding one open
	 * would hide a closed connection from the broker. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t pid = -1;
	int rc = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0)
		fail_msg("cannot run %s: %s", argv[0], strerror(rc));
	return pid;
}

static pid_t spawn(const char *const argv[], int out_fd, int err_fd)
{
	return spawn_env(argv, out_fd, err_fd, environ);
}

/* Run argv to completion with its output captured, with envp for its
 * environment (NULL: ours); a child still running after timeout seconds is
 * killed. Its exit status, or -1 if killed. */
static int run_env(const char *const argv[], char *const envp[], double timeout,
		   struct output *o)
{
	int po[2], pe[2];
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	pid_t pid = spawn_env(argv, po[1], pe[1], envp ? envp : environ);
	close(po[1]);
	close(pe[1]);
	size_t no = 0, ne = 0;
	o->out[0] = o->err[0] = 0;
	double end = tu_now() + timeout;
	while ((po[0] >= 0 || pe[0] >= 0) && tu_now() < end) {
		struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
		if (poll(p, 2, 50) <= 0)
			continue;
		if (p[0].revents)
			slurp(&po[0], o->out, sizeof o->out, &no);
		if (p[1].revents)
			slurp(&pe[0], o->err, sizeof o->err, &ne);
	}
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	int status;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (tu_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		nap();
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run(const char *const argv[], double timeout, struct output *o)
{
	return run_env(argv, NULL, timeout, o);
}

static void run_ok(const char *const argv[])
{
	struct output o;
	int st = run(argv, TU_TIMEOUT, &o);
	if (st != 0)
		fail_msg("%s exited with %d: %s%s", argv[0], st, o.out, o.err);
}

/* ---- what each test started, for the teardown ------------------------- */

#define INBOX_MAX 16

struct client {
	struct tu_loop t;
	bool running;
	struct mqtt_options opt;
	char id[64], base[64];
	int new_rc, on_connect_rc, sub_rc;
	const char *filter; /* subscribed before the first connect, if set */
	int qos;
	struct mqb_mqtt_sub *sub;
	atomic_int connects;         /* on_connect jobs run */
	struct tu_latch connected;   /* the first */
	struct tu_latch reconnected; /* the second */
	/* messages the handler saw, written on the loop thread */
	pthread_mutex_t m;
	int n;
	char topic[INBOX_MAX][128];
	char payload[INBOX_MAX][64];
};

struct fake {
	pid_t pid;
	int port;
	int out; /* its standard output and error */
	size_t len;
	char log[8192];
};

static struct {
	bool passed;
	struct client *clients[6];
	int nclients;
	struct tu_broker *brokers[2];
	int nbrokers;
	struct fake *fake;
	pid_t child;
	char tmp[64];
} fx;

static void passed(void)
{
	fx.passed = true;
}

/* ---- brokers, temporary files ----------------------------------------- */

static struct tu_broker *broker_new(const char *extra)
{
	assert_true(fx.nbrokers < 2);
	struct tu_broker *b = calloc(1, sizeof *b);
	assert_non_null(b);
	fx.brokers[fx.nbrokers++] = b;
	tu_broker_start(b, extra);
	return b;
}

/* Files a broker needs before it starts (its own directory is made by
 * tu_broker_start) go into a directory of the test's. */
static const char *tmp_dir(void)
{
	if (!fx.tmp[0]) {
		snprintf(fx.tmp, sizeof fx.tmp, "/tmp/mqb-faults-XXXXXX");
		assert_non_null(mkdtemp(fx.tmp));
	}
	return fx.tmp;
}

static void tmp_path(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", tmp_dir(), name);
}

/* ---- outside clients ---------------------------------------------------- */

static void outside_publish(int port, const char *topic, const char *payload, int qos)
{
	char p[16], q[4];
	snprintf(p, sizeof p, "%d", port);
	snprintf(q, sizeof q, "%d", qos);
	const char *argv[] = { "mosquitto_pub", "-h", "127.0.0.1", "-p", p, "-q", q,
			       "-t", topic, "-m", payload, NULL };
	run_ok(argv);
}

/* What is retained under filter now, one "topic payload" line each, as an
 * outside subscriber sees it within a second. */
static void retained_now(int port, const char *filter, bool first_only, struct output *o)
{
	char p[16];
	snprintf(p, sizeof p, "%d", port);
	const char *argv[] = { "mosquitto_sub", "-h", "127.0.0.1", "-p", p, "-t", filter, "-v",
			       "--retained-only", "-W", "1", first_only ? "-C" : NULL, "1", NULL };
	run(argv, TU_TIMEOUT, o);
}

/* Wait until the payload retained on topic is want; fails the test with the
 * last value seen. */
static void wait_retained(int port, const char *topic, const char *want)
{
	char line[256];
	snprintf(line, sizeof line, "%s %s\n", topic, want);
	struct output o;
	double end = tu_now() + TU_TIMEOUT;
	for (;;) {
		retained_now(port, topic, true, &o);
		if (strcmp(o.out, line) == 0)
			return;
		if (tu_now() > end)
			fail_msg("retained on %s: want \"%s\", have \"%s\"", topic, want, o.out);
		nap();
	}
}

/* ---- the client under test ---------------------------------------------- */

static int count_connect(void *ud, void *arg, void **result)
{
	struct client *c = ud;
	atomic_fetch_add(&c->connects, 1);
	tu_latch_count_down(&c->connected);
	tu_latch_count_down(&c->reconnected);
	return 0;
}

static int record_message(void *ud, void *arg, void **result)
{
	struct client *c = ud;
	const struct mqb_mqtt_message *msg = arg;
	pthread_mutex_lock(&c->m);
	if (c->n < INBOX_MAX) {
		snprintf(c->topic[c->n], sizeof c->topic[0], "%s", mqb_mqtt_message_topic(msg));
		size_t len = mqb_mqtt_message_len(msg);
		if (len > sizeof c->payload[0] - 1)
			len = sizeof c->payload[0] - 1;
		memcpy(c->payload[c->n], mqb_mqtt_message_payload(msg), len);
		c->payload[c->n][len] = 0;
	}
	c->n++;
	pthread_mutex_unlock(&c->m);
	return 0;
}

static int received(struct client *c)
{
	pthread_mutex_lock(&c->m);
	int n = c->n;
	pthread_mutex_unlock(&c->m);
	return n;
}

/* A client named name (id "mqbtest-<name>-<pid>", base "mqbtest/<name>":
 * the same name gives the same id) with fast reconnects; the test may
 * change c->opt and c->filter before client_start. */
static struct client *client_new(const char *name, int port)
{
	assert_true(fx.nclients < 6);
	struct client *c = calloc(1, sizeof *c);
	assert_non_null(c);
	fx.clients[fx.nclients++] = c;
	pthread_mutex_init(&c->m, NULL);
	tu_latch_init(&c->connected, 1);
	tu_latch_init(&c->reconnected, 2);
	snprintf(c->id, sizeof c->id, "mqbtest-%s-%ld", name, (long)getpid());
	snprintf(c->base, sizeof c->base, "mqbtest/%s", name);
	mqtt__options_init(&c->opt);
	c->opt.host = "127.0.0.1";
	c->opt.port = port;
	c->opt.client_id = c->id;
	c->opt.base_topic = c->base;
	c->opt.reconnect_min = 0.05;
	c->opt.reconnect_max = 0.5;
	c->opt.connect_timeout = 3;
	c->qos = 1;
	return c;
}

static void attach(void *arg)
{
	struct client *c = arg;
	struct mqb_core *core = c->t.core;
	c->new_rc = mqtt__new(core, &c->opt);
	if (c->new_rc != 0)
		return;
	c->on_connect_rc = mqb_mqtt_async_on_connect(core, &MQB_CALLBACK(count_connect, c));
	if (c->filter)
		c->sub_rc = mqb_mqtt_async_subscribe(core, c->filter, c->qos,
						     &MQB_CALLBACK(record_message, c), &c->sub);
}

static void client_start(struct client *c)
{
	struct mqb_core_options copt;
	mqb_core_options_init(&copt);
	copt.executor_threads = 2;
	copt.shutdown_timeout = 3;
	tu_loop_start(&c->t, &copt);
	c->running = true;
	tu_on_loop(&c->t, attach, c);
	assert_int_equal(c->new_rc, 0);
	assert_int_equal(c->on_connect_rc, 0);
	assert_int_equal(c->sub_rc, 0);
}

static void client_stop(struct client *c)
{
	c->running = false;
	assert_int_equal(tu_loop_stop(&c->t), 0);
}

static void wait_connected(struct client *c)
{
	if (!tu_latch_wait(&c->connected, TU_TIMEOUT))
		fail_msg("%s never connected", c->id);
}

struct stats_call {
	struct mqb_core *core;
	struct mqb_mqtt_stats st;
	int rc;
};

static void read_stats(void *arg)
{
	struct stats_call *s = arg;
	s->rc = mqb_mqtt_async_stats(s->core, &s->st);
}

static struct mqb_mqtt_stats stats_of(struct client *c)
{
	struct stats_call s = { .core = c->t.core };
	tu_on_loop(&c->t, read_stats, &s);
	assert_int_equal(s.rc, 0);
	return s.st;
}

struct pub {
	struct client *c;
	const char *topic, *payload;
	int rc;
	struct mqb_future *f;
};

static void publish_on_loop(void *arg)
{
	struct pub *p = arg;
	p->rc = mqb_mqtt_async_publish(p->c->t.core, p->topic, p->payload, strlen(p->payload), 1,
				       false, &p->f);
}

/* Publish at QoS 1 from the client and wait for the broker's PUBACK. */
static void publish_acked(struct client *c, const char *topic, const char *payload)
{
	struct pub p = { c, topic, payload, 0, NULL };
	tu_on_loop(&c->t, publish_on_loop, &p);
	assert_int_equal(p.rc, 0);
	assert_non_null(p.f);
	int rc = mqb_future_result(p.f, TU_TIMEOUT, NULL);
	mqb_future_unref(p.f);
	assert_int_equal(rc, 0);
}

/* ---- the fake broker ---------------------------------------------------- */

static void fake_drain(struct fake *f)
{
	while (f->out >= 0) {
		struct pollfd p = { f->out, POLLIN, 0 };
		if (poll(&p, 1, 0) <= 0)
			return;
		slurp(&f->out, f->log, sizeof f->log, &f->len);
	}
}

/* t/fakebroker.py from the source tree: $srcdir under `make check`, else
 * beside this file. */
static void fake_script(char *out, size_t len)
{
	const char *srcdir = getenv("srcdir");
	if (srcdir) {
		snprintf(out, len, "%s/t/fakebroker.py", srcdir);
		if (access(out, R_OK) == 0)
			return;
	}
	snprintf(out, len, "%s", __FILE__);
	char *slash = strrchr(out, '/');
	snprintf(slash ? slash + 1 : out, len - (size_t)(slash ? slash + 1 - out : 0),
		 "fakebroker.py");
	if (access(out, R_OK) != 0)
		fail_msg("t/fakebroker.py not found (srcdir=%s, tried %s)", srcdir ? srcdir : "",
			 out);
}

static struct fake *fake_start(void)
{
	struct fake *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->out = -1;
	fx.fake = f;
	char script[512];
	fake_script(script, sizeof script);
	int po[2];
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	const char *argv[] = { "/usr/bin/python3", script, "--lifetime", "20", NULL };
	f->pid = spawn(argv, po[1], po[1]);
	close(po[1]);
	f->out = po[0];
	/* Its first line is the port it bound. */
	double end = tu_now() + TU_TIMEOUT;
	while (!strchr(f->log, '\n')) {
		if (f->out < 0 || tu_now() > end)
			fail_msg("the fake broker printed no port: \"%s\"", f->log);
		struct pollfd p = { f->out, POLLIN, 0 };
		if (poll(&p, 1, 50) > 0)
			slurp(&f->out, f->log, sizeof f->log, &f->len);
	}
	f->port = atoi(f->log);
	assert_true(f->port > 0 && f->port < 65536);
	return f;
}

static bool fake_said(struct fake *f, const char *line)
{
	fake_drain(f);
	char want[128];
	snprintf(want, sizeof want, "\n%s\n", line);
	return strstr(f->log, want) != NULL;
}

/* ---- fixture ------------------------------------------------------------ */

static int setup(void **state)
{
	memset(&fx, 0, sizeof fx);
	fx.child = -1;
	log_clear();
	mqb_log_set_sink(capture_log, NULL);
	return 0;
}

static int teardown(void **state)
{
	if (!fx.passed) {
		for (int i = 0; i < fx.nbrokers; i++)
			tu_broker_dump_log(fx.brokers[i]);
		if (fx.fake) {
			fake_drain(fx.fake);
			fprintf(stderr, "---- fake broker ----\n%s---- end of fake broker ----\n",
				fx.fake->log);
		}
		log_dump();
	}
	/* Nothing here may fail before the processes are gone. */
	if (fx.child > 0) {
		kill(fx.child, SIGKILL);
		waitpid(fx.child, NULL, 0);
	}
	if (fx.fake) {
		kill(fx.fake->pid, SIGKILL);
		waitpid(fx.fake->pid, NULL, 0);
		if (fx.fake->out >= 0)
			close(fx.fake->out);
		free(fx.fake);
	}
	mqb__paho_set_soname(false, NULL);
	mqb__paho_set_soname(true, NULL);
	for (int i = 0; i < fx.nbrokers; i++) {
		kill(fx.brokers[i]->pid, SIGCONT); /* in case a test stopped it */
		tu_broker_stop(fx.brokers[i]);
		free(fx.brokers[i]);
	}
	if (fx.tmp[0]) {
		const char *argv[] = { "rm", "-rf", fx.tmp, NULL };
		struct output o;
		run(argv, TU_TIMEOUT, &o);
	}
	for (int i = fx.nclients - 1; i >= 0; i--) {
		struct client *c = fx.clients[i];
		if (c->running)
			client_stop(c);
		tu_latch_destroy(&c->connected);
		tu_latch_destroy(&c->reconnected);
		pthread_mutex_destroy(&c->m);
		free(c);
	}
	mqb_log_set_sink(NULL, NULL);
	log_clear();
	return 0;
}

/* ---- broker killed and restarted ---------------------------------------- */

static void a_restarted_broker_gets_the_subscriptions_and_the_birth_again(void **s)
{
	struct tu_broker *b = broker_new(NULL);
	struct client *c = client_new("restart", b->port);
	char cmd[96], status[96];
	snprintf(cmd, sizeof cmd, "%s/cmd", c->base);
	snprintf(status, sizeof status, "%s/status", c->base);
	c->filter = cmd;
	c->opt.keepalive = 2;
	client_start(c);
	wait_connected(c);
	outside_publish(b->port, cmd, "before", 1);
	WAIT_FOR(received(c) == 1, TU_TIMEOUT);
	wait_retained(b->port, status, "online");

	tu_broker_kill(b);
	WAIT_FOR(!stats_of(c).connected, TU_TIMEOUT);
	/* persistence false: the retained birth died with the broker. */
	tu_broker_restart(b);
	if (!tu_latch_wait(&c->reconnected, TU_TIMEOUT))
		fail_msg("no second on_connect after the broker came back");

	/* The handler registered before the kill gets messages again... */
	outside_publish(b->port, cmd, "after", 1);
	WAIT_FOR(received(c) == 2, TU_TIMEOUT);
	assert_string_equal(c->topic[1], cmd);
	assert_string_equal(c->payload[1], "after");
	/* ...and only the client's re-announce can have restored this. */
	wait_retained(b->port, status, "online");
	struct mqb_mqtt_stats st = stats_of(c);
	assert_true(st.connected);
	assert_int_equal(atomic_load(&c->connects), 2);
	assert_true(st.reconnects >= 1);
	passed();
}

#define BURST 8
#define QUEUE_MAX 5

struct burst {
	struct client *c;
	int rc[BURST];
	struct mqb_future *f[BURST];
	int status[BURST]; /* right after the call */
};

static void publish_burst(void *arg)
{
	struct burst *b = arg;
	for (int i = 0; i < BURST; i++) {
		char topic[96], payload[8];
		snprintf(topic, sizeof topic, "%s/q/%d", b->c->base, i);
		int n = snprintf(payload, sizeof payload, "m%d", i);
		b->rc[i] = mqb_mqtt_async_publish(b->c->t.core, topic, payload, (size_t)n, 1, true,
						  &b->f[i]);
		b->status[i] = b->rc[i] == 0 && b->f[i] ? mqb_future_status(b->f[i]) : b->rc[i];
	}
}

static void qos1_publishes_while_the_broker_is_down_wait_for_it_up_to_the_queue_limit(void **s)
{
	struct tu_broker *b = broker_new(NULL);
	struct client *c = client_new("queue", b->port);
	c->opt.outbound_queue_max = QUEUE_MAX;
	c->opt.keepalive = 2;
	client_start(c);
	wait_connected(c);
	tu_broker_kill(b);
	WAIT_FOR(!stats_of(c).connected, TU_TIMEOUT);

	struct burst bu = { .c = c };
	tu_on_loop(&c->t, publish_burst, &bu);
	for (int i = 0; i < QUEUE_MAX; i++) {
		assert_int_equal(bu.rc[i], 0);
		assert_non_null(bu.f[i]);
		assert_int_equal(bu.status[i], -EINPROGRESS); /* queued, not sent */
	}
	for (int i = QUEUE_MAX; i < BURST; i++) {
		/* Refused at once: either the call fails, or its future already has. */
		assert_int_equal(bu.status[i], -ENOBUFS);
		if (bu.rc[i] == 0)
			assert_non_null(bu.f[i]);
	}
	struct mqb_mqtt_stats st = stats_of(c);
	assert_int_equal(st.queue_overflows, BURST - QUEUE_MAX);
	assert_int_equal(st.queued, QUEUE_MAX);

	tu_broker_restart(b);
	if (!tu_latch_wait(&c->reconnected, TU_TIMEOUT))
		fail_msg("no second on_connect after the broker came back");
	for (int i = 0; i < QUEUE_MAX; i++)
		assert_int_equal(mqb_future_result(bu.f[i], TU_TIMEOUT, NULL), 0);

	/* The broker lost everything with the kill, so what it retains now
	 * is what was queued: the first five, and none of the others. */
	char filter[96], line[128];
	snprintf(filter, sizeof filter, "%s/q/#", c->base);
	struct output o;
	retained_now(b->port, filter, false, &o);
	int lines = 0;
	for (const char *p = o.out; (p = strchr(p, '\n')); p++)
		lines++;
	for (int i = 0; i < QUEUE_MAX; i++) {
		snprintf(line, sizeof line, "%s/q/%d m%d\n", c->base, i, i);
		if (!strstr(o.out, line))
			fail_msg("an outside subscriber did not get \"%s\": it got\n%s", line, o.out);
	}
	assert_int_equal(lines, QUEUE_MAX);
	st = stats_of(c);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.queue_overflows, BURST - QUEUE_MAX);
	for (int i = 0; i < BURST; i++)
		mqb_future_unref(bu.f[i]);
	passed();
}

/* ---- a broker that stops reading ------------------------------------------- */

#define STALL_PAYLOAD 4096
#define STALL_BURST 32
#define STALL_MAX 4096 /* 16 MiB: far more than the loopback buffers take */

struct stall {
	struct client *c;
	char topic[96];
	char payload[STALL_PAYLOAD];
	int n; /* published so far */
	int rc;
	struct mqb_future *f[STALL_MAX];
	struct mqb_mqtt_stats st; /* after the last burst */
};

static void stall_burst(void *arg)
{
	struct stall *s = arg;
	for (int i = 0; i < STALL_BURST && s->n < STALL_MAX; i++) {
		s->rc = mqb_mqtt_async_publish(s->c->t.core, s->topic, s->payload, sizeof s->payload,
					       1, false, &s->f[s->n]);
		if (s->rc)
			return;
		s->n++;
	}
	s->rc = mqb_mqtt_async_stats(s->c->t.core, &s->st);
}

/* Paho writes synchronously: a publish into a full socket would block the
 * loop until the connection dies. The client must hold messages back
 * instead, and send them once the broker reads again. */
static void a_broker_that_stops_reading_gets_publishes_held_back_and_the_loop_keeps_running(
	void **s)
{
	struct tu_broker *b = broker_new(NULL);
	struct client *c = client_new("stall", b->port);
	c->opt.keepalive = 60;        /* the stall must not end the connection */
	c->opt.max_inflight = 65535;  /* held back for the socket, not for acks */
	c->opt.outbound_queue_max = STALL_MAX;
	client_start(c);
	wait_connected(c);
	struct stall *st = calloc(1, sizeof *st);
	assert_non_null(st);
	st->c = c;
	snprintf(st->topic, sizeof st->topic, "%s/stall", c->base);
	memset(st->payload, 'p', sizeof st->payload);

	assert_int_equal(kill(b->pid, SIGSTOP), 0);
	do {
		double t0 = tu_now();
		tu_on_loop(&c->t, stall_burst, st); /* fails the test if the loop hangs */
		assert_int_equal(st->rc, 0);
		if (tu_now() - t0 > 2.0)
			fail_msg("%d publishes held the loop for %.1f s", STALL_BURST, tu_now() - t0);
	} while (st->st.queued == 0 && st->n < STALL_MAX);
	if (st->st.queued == 0)
		fail_msg("%d publishes of %d bytes to a stopped broker, none held back", st->n,
			 STALL_PAYLOAD);
	unsigned held = st->st.queued;
	assert_true(stats_of(c).connected); /* the loop still answers */

	assert_int_equal(kill(b->pid, SIGCONT), 0);
	/* Each one is acknowledged by the broker, held back or not. */
	for (int i = 0; i < st->n; i++) {
		assert_int_equal(mqb_future_result(st->f[i], TU_TIMEOUT, NULL), 0);
		mqb_future_unref(st->f[i]);
	}
	struct mqb_mqtt_stats after = stats_of(c);
	assert_int_equal(after.queued, 0);
	assert_int_equal(after.publish_failures, 0);
	assert_true(after.connected);
	assert_int_equal(after.reconnects, 0);
	print_message("%d publishes of %d bytes to a stopped broker, %u held back\n", st->n,
		      STALL_PAYLOAD, held);
	free(st);
	passed();
}

/* A publish larger than the socket's buffer makes Paho wait inside, in
 * 100 ms turns of its own cycle, which reads what has arrived once the write
 * is done: a message read then is in Paho, and the socket no longer shows it. */
#define BIG_PAYLOAD (8 << 20)

struct big {
	struct client *c;
	int port;
	char echo[96], topic[96];
	char *payload;
	int rc_small, rc_big;
	int want, waiting; /* bytes the PUBACK and the echo take; in the socket before the big one */
	double took;
	struct mqb_future *f;
};

/* The client's socket to the broker on port (it has no other connection). */
static int socket_to(int port)
{
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_in a;
		socklen_t len = sizeof a;
		if (getpeername(fd, (struct sockaddr *)&a, &len) == 0 && a.sin_family == AF_INET &&
		    ntohs(a.sin_port) == port)
			return fd;
	}
	return -1;
}

static void publish_small_then_big(void *arg)
{
	struct big *b = arg;
	b->rc_small = mqb_mqtt_async_publish(b->c->t.core, b->echo, "e", 1, 1, false, NULL);
	/* On the loop, so that the loop does not read them: wait until the
	 * broker's PUBACK and the echo are both in the socket. */
	int fd = socket_to(b->port);
	b->want = 4 + 2 + 2 + (int)strlen(b->echo) + 2 + 1;
	double end = tu_now() + TU_TIMEOUT;
	while (fd >= 0 && ioctl(fd, FIONREAD, &b->waiting) == 0 && b->waiting < b->want &&
	       tu_now() < end)
		nap();
	if (b->waiting < b->want)
		return;
	double t0 = tu_now();
	b->rc_big = mqb_mqtt_async_publish(b->c->t.core, b->topic, b->payload, BIG_PAYLOAD, 0,
					   false, &b->f);
	b->took = tu_now() - t0;
}

static void a_message_read_while_a_large_publish_waited_inside_paho_is_not_held_up(void **s)
{
	struct tu_broker *b = broker_new(NULL);
	struct client *c = client_new("big", b->port);
	struct big *big = calloc(1, sizeof *big);
	assert_non_null(big);
	big->c = c;
	big->port = b->port;
	snprintf(big->echo, sizeof big->echo, "%s/echo", c->base);
	snprintf(big->topic, sizeof big->topic, "%s/big", c->base);
	assert_non_null(big->payload = malloc(BIG_PAYLOAD));
	memset(big->payload, 'b', BIG_PAYLOAD);
	c->filter = big->echo;
	c->opt.max_payload = 2 * BIG_PAYLOAD;
	c->opt.keepalive = 60; /* the keepalive tick, 15 s away, must not be what reads it */
	client_start(c);
	wait_connected(c);

	/* The echo of the small one comes back while the big one is written. */
	tu_on_loop(&c->t, publish_small_then_big, big);
	assert_int_equal(big->rc_small, 0);
	if (big->waiting < big->want)
		fail_msg("the PUBACK and the echo never reached the socket (%d of %d bytes)",
			 big->waiting, big->want);
	assert_int_equal(big->rc_big, 0);
	double t0 = tu_now();
	WAIT_FOR(received(c) == 1, 2.0);
	print_message("the big publish took %.3f s, the echo came %.3f s after it\n", big->took,
		      tu_now() - t0);
	if (big->took < 0.1)
		fail_msg("the big publish did not wait inside Paho (%.3f s): nothing was tested",
			 big->took);
	assert_string_equal(c->payload[0], "e");
	assert_int_equal(mqb_future_result(big->f, TU_TIMEOUT, NULL), 0);
	mqb_future_unref(big->f);
	free(big->payload);
	free(big);
	passed();
}

/* ---- persistent session --------------------------------------------------- */

static void a_persistent_session_keeps_the_messages_sent_while_the_client_was_away(void **s)
{
	struct tu_broker *b = broker_new(NULL);
	struct client *c = client_new("keep", b->port);
	c->opt.clean_session = false;
	c->filter = "t/keep";
	client_start(c);
	wait_connected(c);
	client_stop(c);

	outside_publish(b->port, "t/keep", "k1", 1);
	outside_publish(b->port, "t/keep", "k2", 1);
	outside_publish(b->port, "t/keep", "k3", 1);

	struct client *again = client_new("keep", b->port); /* the same client id */
	assert_string_equal(again->id, c->id);
	again->opt.clean_session = false;
	again->filter = "t/keep";
	client_start(again);
	wait_connected(again);
	WAIT_FOR(received(again) >= 3, TU_TIMEOUT);
	for (int i = 0; i < 3; i++) {
		char want[4];
		snprintf(want, sizeof want, "k%d", i + 1);
		assert_string_equal(again->topic[i], "t/keep");
		assert_string_equal(again->payload[i], want);
	}
	passed();
}

/* ---- authentication ------------------------------------------------------ */

#define WRONG_PASSWORD "not-the-secret-5e1f"

static void wrong_credentials_are_refused_logged_and_retried_with_back_off(void **s)
{
	char passwd[128], extra[256];
	tmp_path("passwd", passwd, sizeof passwd);
	const char *mkpw[] = { "mosquitto_passwd", "-b", "-c", passwd, "user", "secret", NULL };
	run_ok(mkpw);
	assert_int_equal(chmod(passwd, 0600), 0);
	snprintf(extra, sizeof extra, "allow_anonymous false\npassword_file %s\n", passwd);
	struct tu_broker *b = broker_new(extra);

	/* The harness's readiness probe, which mosquitto may log late. */
	assert_true(tu_broker_log_wait(b, "New connection from", 1, TU_TIMEOUT));
	int probes = tu_broker_log_count(b, "New connection from");
	struct client *c = client_new("auth", b->port);
	c->opt.username = "user";
	c->opt.password = WRONG_PASSWORD;
	c->opt.reconnect_min = 0.2;
	c->opt.reconnect_max = 0.8;
	client_start(c);
	WAIT_FOR(stats_of(c).connect_failures >= 1, TU_TIMEOUT);
	/* From the first refusal on, watch 1.5 s of retries. */
	double t0 = tu_now();
	int conns0 = tu_broker_log_count(b, "New connection from");
	while (tu_now() < t0 + 1.5) {
		assert_false(stats_of(c).connected);
		nap();
	}
	int conns = tu_broker_log_count(b, "New connection from");
	struct mqb_mqtt_stats st = stats_of(c);
	int attempts = conns - conns0 + 1;
	print_message("%d connection attempts in 1.5 s; %d connections and %llu failures "
		      "counted in all\n", attempts, conns - probes, st.connect_failures);
	/* One connection per attempt (one more may be under way): no hidden
	 * second try, such as Paho's fallback to MQTT 3.1 when the connect
	 * options leave MQTTVersion at its default. */
	if ((unsigned long long)(conns - probes) > st.connect_failures + 1)
		fail_msg("%d connections to the broker for %llu failed attempts", conns - probes,
			 st.connect_failures);
	assert_true(st.connect_failures >= 2); /* it keeps trying... */
	assert_true(attempts <= 6);             /* ...but backs off */
	assert_false(st.connected);
	assert_int_equal(atomic_load(&c->connects), 0);
	/* The log says why, in words, and never shows the password. */
	if (log_count("authori", NULL) == 0)
		fail_msg("no log line says the broker refused the client as not authorised");
	if (log_count("the broker refused the connection: not authorized", "CONNACK code 5") == 0)
		fail_msg("the refusal is not given with its CONNACK code");
	assert_int_equal(log_count(WRONG_PASSWORD, NULL), 0);
	client_stop(c);

	struct client *right = client_new("auth-ok", b->port);
	right->opt.username = "user";
	right->opt.password = "secret";
	client_start(right);
	wait_connected(right);
	assert_true(stats_of(right).connected);
	passed();
}

/* ---- TLS ------------------------------------------------------------------ */

/* name.key and name.crt in the test's directory: a CA of its own when ca is
 * NULL, else a server certificate signed by ca with subjectAltName san. */
static void make_cert(const char *name, const char *ca, const char *san)
{
	char key[128], crt[128], subj[64], cacrt[128], cakey[128], ext[160];
	snprintf(key, sizeof key, "%s/%s.key", tmp_dir(), name);
	snprintf(crt, sizeof crt, "%s/%s.crt", tmp_dir(), name);
	if (ca)
		snprintf(subj, sizeof subj, "/CN=localhost");
	else
		snprintf(subj, sizeof subj, "/CN=mqbtest %s", name);
	const char *argv[32] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
				 "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
				 "-keyout", key, "-out", crt, "-subj", subj };
	int n = 16;
	if (ca) {
		snprintf(cacrt, sizeof cacrt, "%s/%s.crt", tmp_dir(), ca);
		snprintf(cakey, sizeof cakey, "%s/%s.key", tmp_dir(), ca);
		snprintf(ext, sizeof ext, "subjectAltName=%s", san);
		argv[n++] = "-CA";
		argv[n++] = cacrt;
		argv[n++] = "-CAkey";
		argv[n++] = cakey;
		argv[n++] = "-addext";
		argv[n++] = ext;
		argv[n++] = "-addext";
		argv[n++] = "basicConstraints=critical,CA:FALSE";
	}
	argv[n] = NULL;
	run_ok(argv);
}

/* A broker whose listener speaks TLS with server certificate cert. */
static struct tu_broker *tls_broker(const char *cert)
{
	char extra[512];
	snprintf(extra, sizeof extra, "cafile %s/ca.crt\ncertfile %s/%s.crt\nkeyfile %s/%s.key\n",
		 tmp_dir(), tmp_dir(), cert, tmp_dir(), cert);
	return broker_new(extra);
}

static struct client *tls_client(const char *name, int port, const char *ca, char *ca_path,
				 size_t ca_len)
{
	struct client *c = client_new(name, port);
	snprintf(ca_path, ca_len, "%s/%s.crt", tmp_dir(), ca);
	c->opt.tls = true;
	c->opt.ca_file = ca_path;
	return c;
}


static void tls_connects_when_the_server_certificate_checks_out_against_the_ca(void **s)
{
	make_cert("ca", NULL, NULL);
	make_cert("server", "ca", "DNS:localhost,IP:127.0.0.1");
	struct tu_broker *b = tls_broker("server");
	char ca[128], echo[96];
	struct client *c = tls_client("tls", b->port, "ca", ca, sizeof ca);
	snprintf(echo, sizeof echo, "%s/echo", c->base);
	c->filter = echo;
	client_start(c);
	wait_connected(c);
	assert_true(stats_of(c).connected);
	/* Messages flow both ways through TLS, including records OpenSSL
	 * read ahead of what the socket shows (doc/mqtt-hosting.md). */
	publish_acked(c, echo, "e1");
	publish_acked(c, echo, "e2");
	publish_acked(c, echo, "e3");
	WAIT_FOR(received(c) == 3, TU_TIMEOUT);
	assert_string_equal(c->payload[2], "e3");
	passed();
}

static void tls_refuses_a_server_whose_certificate_an_unrelated_ca_signed(void **s)
{
	make_cert("ca", NULL, NULL);
	make_cert("other", NULL, NULL);
	make_cert("server", "ca", "DNS:localhost,IP:127.0.0.1");
	struct tu_broker *b = tls_broker("server");
	char ca[128];
	struct client *c = tls_client("tls-wrong-ca", b->port, "other", ca, sizeof ca);
	client_start(c);
	WAIT_FOR(stats_of(c).connect_failures >= 2, TU_TIMEOUT);
	assert_false(stats_of(c).connected);
	assert_int_equal(atomic_load(&c->connects), 0);
	if (log_count("certificate", "verif") == 0)
		fail_msg("no log line says the certificate failed verification");
	/* and why, in OpenSSL's words (the broker sends its CA along) */
	if (log_count("TLS: the broker's certificate did not verify: self-signed certificate in "
		      "certificate chain", NULL) == 0) {
		log_dump();
		fail_msg("the log does not say why the certificate failed");
	}
	passed();
}

/* ---- why a connect failed ---------------------------------------------------- */

static void expect_logged(const char *a, const char *b)
{
	for (double end = tu_now() + TU_TIMEOUT; tu_now() < end && !log_count(a, b);)
		nap();
	if (!log_count(a, b)) {
		log_dump();
		fail_msg("no log line says '%s'%s%s", a, b ? " with " : "", b ? b : "");
	}
}

static void a_refused_connection_is_logged_as_refused_with_the_broker_uri(void **s)
{
	int port = tu_free_port();
	struct client *c = client_new("refused", port);
	client_start(c);
	char want[96];
	snprintf(want, sizeof want, "cannot connect to tcp://127.0.0.1:%d: Connection refused", port);
	expect_logged(want, NULL);
	passed();
}

/* RFC 2606: .invalid never resolves. */
static void an_unknown_host_is_logged_as_unknown(void **s)
{
	struct client *c = client_new("unknown", 1883);
	c->opt.host = "mqbridge-test.invalid";
	client_start(c);
	expect_logged("unknown host: cannot resolve 'mqbridge-test.invalid'", NULL);
	passed();
}

/* A listener that takes connections and never answers: the CONNACK's
 * wait is what runs out. */
static void a_broker_that_never_answers_connect_is_logged_as_a_handshake_not_completed(void **s)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(l, 16), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &al), 0);
	struct client *c = client_new("mute", ntohs(a.sin_port));
	c->opt.connect_timeout = 1;
	client_start(c);
	expect_logged("it accepts TCP, but the MQTT handshake did not complete", NULL);
	client_stop(c);
	close(l);
	passed();
}

static void a_self_signed_server_certificate_is_logged_as_such(void **s)
{
	make_cert("ca", NULL, NULL);
	make_cert("self", NULL, NULL); /* its own CA: signed by nobody we trust */
	char extra[512];
	snprintf(extra, sizeof extra, "certfile %s/self.crt\nkeyfile %s/self.key\n", tmp_dir(),
		 tmp_dir());
	struct tu_broker *b = broker_new(extra);
	char ca[128];
	struct client *c = tls_client("tls-self", b->port, "ca", ca, sizeof ca);
	client_start(c);
	expect_logged("TLS: the broker's certificate did not verify: self-signed certificate", NULL);
	passed();
}

static void tls_checks_the_host_name_unless_tls_insecure_is_set(void **s)
{
	make_cert("ca", NULL, NULL);
	make_cert("named", "ca", "DNS:localhost"); /* no IP address */
	struct tu_broker *b = tls_broker("named");
	char ca[128];

	struct client *by_ip = tls_client("tls-ip", b->port, "ca", ca, sizeof ca);
	client_start(by_ip);
	WAIT_FOR(stats_of(by_ip).connect_failures >= 2, TU_TIMEOUT);
	assert_false(stats_of(by_ip).connected);
	assert_int_equal(atomic_load(&by_ip->connects), 0);
	expect_logged("TLS: the broker's certificate did not verify: IP address mismatch", NULL);
	client_stop(by_ip);

	/* The certificate is good for the name it carries... */
	struct client *by_name = tls_client("tls-name", b->port, "ca", ca, sizeof ca);
	by_name->opt.host = "localhost";
	client_start(by_name);
	wait_connected(by_name);
	client_stop(by_name);

	/* ...and tls_insecure turns the checks off. */
	struct client *insecure = tls_client("tls-insecure", b->port, "ca", ca, sizeof ca);
	insecure->opt.tls_insecure = true;
	client_start(insecure);
	wait_connected(insecure);
	assert_true(stats_of(insecure).connected);
	passed();
}

/* ---- TLS and plain clients: a Paho library each ------------------------------ */

static bool mapped(const char *needle)
{
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static void a_tls_client_and_a_plain_client_work_side_by_side_on_their_own_libraries(void **s)
{
	make_cert("ca", NULL, NULL);
	make_cert("server", "ca", "DNS:localhost,IP:127.0.0.1");
	struct tu_broker *tb = tls_broker("server");
	struct tu_broker *pb = broker_new(NULL);
	char ca[128], techo[96], pecho[96];
	struct client *t = tls_client("side-tls", tb->port, "ca", ca, sizeof ca);
	struct client *p = client_new("side-plain", pb->port);
	snprintf(techo, sizeof techo, "%s/echo", t->base);
	snprintf(pecho, sizeof pecho, "%s/echo", p->base);
	t->filter = techo;
	p->filter = pecho;
	client_start(t);
	client_start(p);
	wait_connected(t);
	wait_connected(p);
	/* Interleaved, so that each library's state is used while the other's
	 * client is busy too. */
	const char *const words[] = { "one", "two", "three" };
	for (int i = 0; i < 3; i++) {
		publish_acked(t, techo, words[i]);
		publish_acked(p, pecho, words[i]);
	}
	WAIT_FOR(received(t) == 3 && received(p) == 3, TU_TIMEOUT);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(t->payload[i], words[i]);
		assert_string_equal(p->payload[i], words[i]);
	}
	assert_true(stats_of(t).connected && stats_of(p).connected);
	/* "libpaho-mqtt3c.so" is no part of "libpaho-mqtt3cs.so": both are here. */
	assert_true(mapped("libpaho-mqtt3c.so"));
	assert_true(mapped("libpaho-mqtt3cs.so"));
	client_stop(t);
	/* The plain one goes on alone. */
	publish_acked(p, pecho, "four");
	WAIT_FOR(received(p) == 4, TU_TIMEOUT);
	passed();
}

/* A copy of this program started with this variable set to a broker's port
 * runs plain_child() instead of the tests: a plain client, alone in a fresh
 * process, reports what it has mapped once connected. */
#define PLAIN_CHILD_ENV "MQB_TEST_PLAIN_CHILD_PORT"
#define PLAIN_CHILD_OK 100

static int plain_child_check(void *ud, void *arg, void **result)
{
	static const char *const unwanted[] = { "libpaho-mqtt3cs.so", "libssl.so", "libcrypto.so" };
	int code = PLAIN_CHILD_OK;
	bool plain = false;
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		plain |= strstr(line, "libpaho-mqtt3c.so") != NULL;
		for (int i = 0; i < 3; i++) {
			if (strstr(line, unwanted[i])) {
				fprintf(stderr, "mapped: %s", line);
				code = PLAIN_CHILD_OK + 1 + i;
			}
		}
	}
	if (f)
		fclose(f);
	if (!plain) {
		fprintf(stderr, "libpaho-mqtt3c is not mapped\n");
		code = PLAIN_CHILD_OK + 10;
	}
	mqb_core_async_stop(ud, code);
	return 0;
}

/* Nothing of cmocka's here: this runs before main, in the child only. */
__attribute__((constructor)) static void plain_child(void)
{
	const char *port = getenv(PLAIN_CHILD_ENV);
	if (!port)
		return;
	alarm(30); /* never outlive the test */
	mqb_log_set_level(MQB_LOG_WARNING);
	struct mqb_core *core;
	if (mqb_core_new(NULL, &core) != 0)
		_exit(10);
	char id[64];
	snprintf(id, sizeof id, "mqbtest-plain-%ld", (long)getpid());
	struct mqtt_options opt;
	mqtt__options_init(&opt);
	opt.host = "127.0.0.1";
	opt.port = atoi(port);
	opt.client_id = id;
	opt.reconnect_min = 0.05;
	opt.reconnect_max = 0.5;
	if (mqtt__new(core, &opt) != 0)
		_exit(11);
	if (mqb_mqtt_async_on_connect(core, &MQB_CALLBACK(plain_child_check, core)) != 0)
		_exit(12);
	_exit(mqb_core_run(core));
}

static void a_process_with_only_plain_clients_loads_neither_openssl_nor_the_tls_library(void **s)
{
	struct tu_broker *b = broker_new(NULL);
	char var[64];
	snprintf(var, sizeof var, "%s=%d", PLAIN_CHILD_ENV, b->port);
	size_t n = 0;
	while (environ[n])
		n++;
	char **envp = calloc(n + 2, sizeof *envp);
	assert_non_null(envp);
	memcpy(envp, environ, n * sizeof *envp);
	envp[n] = var;
	const char *argv[] = { "/proc/self/exe", NULL }, *run[16];
	struct output o;
	int st = run_env(tu_wrap_argv(argv, run, 16), envp, TU_TIMEOUT, &o);
	free(envp);
	if (st != PLAIN_CHILD_OK)
		fail_msg("the child exited with %d (%d: connected, nothing unwanted mapped): %s%s", st,
			 PLAIN_CHILD_OK, o.out, o.err);
	passed();
}

static void a_missing_paho_library_fails_mqtt_new_with_the_reason_in_words(void **s)
{
	struct client *c = client_new("nolib", tu_free_port());
	c->opt.tls = true;
	struct mqb_core_options copt;
	mqb_core_options_init(&copt);
	tu_loop_start(&c->t, &copt);
	c->running = true;

	mqb__paho_set_soname(true, "libmqbtest-no-such-paho.so.1");
	tu_on_loop(&c->t, attach, c);
	assert_int_equal(c->new_rc, -ELIBACC);
	if (log_count("cannot load libmqbtest-no-such-paho.so.1: ", "Debian: libpaho-mqtt1.3") != 1)
		fail_msg("no log line names the library, why it failed and the package");

	/* A library that is there but is not Paho. */
	mqb__paho_set_soname(true, "libc.so.6");
	tu_on_loop(&c->t, attach, c);
	assert_int_equal(c->new_rc, -ELIBACC);
	if (log_count("cannot load libc.so.6: it has no MQTTClient_", "libpaho-mqtt1.3") != 1)
		fail_msg("no log line says libc.so.6 lacks Paho's functions");

	/* Failures are not remembered: the right library loads again. */
	mqb__paho_set_soname(true, NULL);
	char err[256] = "";
	const struct mqb_paho *p = mqb__paho_get(true, err, sizeof err);
	if (!p)
		fail_msg("%s", err);
	assert_string_equal(p->soname, "libpaho-mqtt3cs.so.1");
	assert_ptr_equal(mqb__paho_get(true, err, sizeof err), p); /* loaded once */
	passed();
}

/* ---- the will --------------------------------------------------------------- */

static int tell_parent(void *ud, void *arg, void **result)
{
	ssize_t w = write(*(int *)ud, "c", 1);
	(void)w; /* the parent sees a missing byte as a failure */
	return 0;
}

/* In a forked child: nothing of cmocka's here (a failed assertion would
 * unwind into the parent's copy of the test run), only exit codes. */
static void __attribute__((noreturn)) will_child(int port, int fd)
{
	alarm(60); /* never outlive the test, whatever happens to it */
	mqb_log_set_sink(NULL, NULL);
	mqb_log_set_level(MQB_LOG_WARNING);
	struct mqb_core *core;
	if (mqb_core_new(NULL, &core) != 0)
		_exit(10);
	char id[64];
	snprintf(id, sizeof id, "mqbtest-will-%ld", (long)getpid());
	struct mqtt_options opt;
	mqtt__options_init(&opt);
	opt.host = "127.0.0.1";
	opt.port = port;
	opt.client_id = id;
	opt.base_topic = "mqbtest/will";
	opt.keepalive = 2;
	opt.reconnect_min = 0.05;
	opt.reconnect_max = 0.5;
	/* Before mqb_core_run this thread is the loop thread. */
	if (mqtt__new(core, &opt) != 0)
		_exit(11);
	if (mqb_mqtt_async_on_connect(core, &MQB_CALLBACK(tell_parent, &fd)) != 0)
		_exit(12);
	mqb_core_run(core);
	_exit(13);
}

static void a_killed_process_leaves_its_will_offline_retained_on_the_status_topic(void **s)
{
	struct tu_broker *b = broker_new(NULL);
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		will_child(b->port, p[1]);
	}
	fx.child = pid;
	close(p[1]);
	struct pollfd pf = { p[0], POLLIN, 0 };
	char byte = 0;
	bool told = poll(&pf, 1, (int)(TU_TIMEOUT * 1000)) == 1 && read(p[0], &byte, 1) == 1;
	close(p[0]);
	if (!told) {
		int status = 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fx.child = -1;
			fail_msg("the child exited (status %#x) before it connected", status);
		}
		fail_msg("the child did not connect");
	}
	wait_retained(b->port, "mqbtest/will/status", "online");

	kill(pid, SIGKILL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	fx.child = -1;
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* The broker sees the socket close (or, at worst, keepalive 2 run
	 * out) and publishes the will. */
	wait_retained(b->port, "mqbtest/will/status", "offline");
	passed();
}

/* ---- a broker sending what no broker should -------------------------------- */

#define BAD_TOPICS 7 /* t/fakebroker.py BAD_TOPICS */

static void invalid_topic_names_from_the_broker_are_dropped_counted_and_survived(void **s)
{
	struct fake *f = fake_start();
	struct client *c = client_new("hostile", f->port);
	c->filter = "#";
	client_start(c);
	wait_connected(c);
	/* The fake broker sends the bad ones first, then "good/topic". */
	WAIT_FOR(received(c) >= 1, TU_TIMEOUT);
	/* Still connected, and the QoS 1 ones, bad or not, were acknowledged. */
	publish_acked(c, "mqbtest/hostile/after", "x");
	WAIT_FOR(fake_said(f, "puback 4"), TU_TIMEOUT);
	assert_false(fake_said(f, "closed"));
	struct mqb_mqtt_stats st = stats_of(c);
	assert_int_equal(received(c), 1);
	assert_string_equal(c->topic[0], "good/topic");
	assert_string_equal(c->payload[0], "good");
	assert_int_equal(st.dropped_invalid_topic, BAD_TOPICS);
	assert_true(st.connected);
	assert_int_equal(atomic_load(&c->connects), 1);
	passed();
}

/* ---- failover: a list of brokers ----------------------------------------- */

/* "127.0.0.1:<port>" in buf. */
static const char *hostport(char *buf, size_t len, int port)
{
	snprintf(buf, len, "127.0.0.1:%d", port);
	return buf;
}

static void the_first_broker_of_the_list_that_answers_takes_the_connection_and_why_the_others_failed_is_logged(
	void **s)
{
	struct tu_broker *b = broker_new(NULL);
	struct client *c = client_new("failover-first", b->port);
	int dead = tu_free_port(); /* nothing listens there */
	char a1[32], a2[32], want[128];
	const char *list[] = { hostport(a1, sizeof a1, dead), hostport(a2, sizeof a2, b->port) };
	c->opt.brokers = list;
	c->opt.nbrokers = 2;
	client_start(c);
	wait_connected(c);
	snprintf(want, sizeof want, "cannot connect to tcp://127.0.0.1:%d: Connection refused", dead);
	WAIT_FOR(log_count(want, NULL) == 1, TU_TIMEOUT);
	snprintf(want, sizeof want, "connected to tcp://127.0.0.1:%d as %s (broker 2 of 2)", b->port,
		 c->id);
	assert_int_equal(log_count(want, NULL), 1);
	passed();
}

static void a_client_whose_broker_dies_moves_to_the_next_one_announces_there_and_comes_back(
	void **s)
{
	struct tu_broker *first = broker_new(NULL), *second = broker_new(NULL);
	struct client *c = client_new("failover-move", first->port);
	char a1[32], a2[32], cmd[96], status[96];
	const char *list[] = { hostport(a1, sizeof a1, first->port),
			       hostport(a2, sizeof a2, second->port) };
	c->opt.brokers = list;
	c->opt.nbrokers = 2;
	c->opt.keepalive = 2;
	snprintf(cmd, sizeof cmd, "%s/cmd", c->base);
	snprintf(status, sizeof status, "%s/status", c->base);
	c->filter = cmd;
	client_start(c);
	wait_connected(c);
	wait_retained(first->port, status, "online");
	outside_publish(first->port, cmd, "on the first", 1);
	WAIT_FOR(received(c) == 1, TU_TIMEOUT);

	/* The first one dies: the next connect finds the second. */
	tu_broker_kill(first);
	if (!tu_latch_wait(&c->reconnected, TU_TIMEOUT))
		fail_msg("no second on_connect after the first broker died");
	wait_retained(second->port, status, "online"); /* announced there */
	outside_publish(second->port, cmd, "on the second", 1);
	WAIT_FOR(received(c) == 2, TU_TIMEOUT);
	assert_string_equal(c->payload[1], "on the second");

	/* Each reconnect tries the list from its head: with the first back
	 * and the second gone, the client is on the first again. */
	tu_broker_restart(first);
	tu_broker_kill(second);
	WAIT_FOR(atomic_load(&c->connects) == 3, TU_TIMEOUT);
	wait_retained(first->port, status, "online");
	outside_publish(first->port, cmd, "back on the first", 1);
	WAIT_FOR(received(c) == 3, TU_TIMEOUT);
	assert_true(stats_of(c).connected);
	passed();
}

static void a_broker_entry_is_a_host_a_host_and_port_or_a_uri_whose_scheme_agrees_with_tls(
	void **s)
{
	static const struct {
		const char *entry;
		bool tls;
		const char *uri; /* NULL: refused */
	} cases[] = {
		{"broker.lan", false, "tcp://broker.lan:1883"},
		{"broker.lan:1884", false, "tcp://broker.lan:1884"},
		{"broker.lan", true, "ssl://broker.lan:8883"},
		{"::1", false, "tcp://[::1]:1883"},
		{"[::1]:1884", false, "tcp://[::1]:1884"},
		{"mqtt://b:1", false, "tcp://b:1"},
		{"tcp://b", false, "tcp://b:1883"},
		{"mqtts://b", true, "ssl://b:8883"},
		{"ssl://b:8884", true, "ssl://b:8884"},
		{"mqtts://b", false, NULL},
		{"mqtt://b", true, NULL},
		{"ws://b", false, NULL},
		{"b:0", false, NULL},
		{"b:65536", false, NULL},
		{"b:x", false, NULL},
		{"", false, NULL},
		{"tcp://", false, NULL},
		{"[::1", false, NULL},
		{"b/c", false, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *uri = NULL, *host = NULL;
		int port = 0;
		const char *why = NULL;
		int rc = mqtt__broker_uri(cases[i].entry, cases[i].tls,
					  cases[i].tls ? 8883 : 1883, &uri, &host, &port, &why);
		if (cases[i].uri) {
			if (rc != 0)
				fail_msg("%s refused: %s", cases[i].entry, why);
			assert_string_equal(uri, cases[i].uri);
		} else {
			if (rc != -EINVAL)
				fail_msg("%s taken as %s", cases[i].entry, uri);
			assert_non_null(why);
		}
		mqb__free(uri);
		mqb__free(host);
	}
	passed();
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static const struct CMUnitTest tests[] = {
	TEST(a_restarted_broker_gets_the_subscriptions_and_the_birth_again),
	TEST(qos1_publishes_while_the_broker_is_down_wait_for_it_up_to_the_queue_limit),
	TEST(a_broker_that_stops_reading_gets_publishes_held_back_and_the_loop_keeps_running),
	TEST(a_message_read_while_a_large_publish_waited_inside_paho_is_not_held_up),
	TEST(a_persistent_session_keeps_the_messages_sent_while_the_client_was_away),
	TEST(wrong_credentials_are_refused_logged_and_retried_with_back_off),
	TEST(tls_connects_when_the_server_certificate_checks_out_against_the_ca),
	TEST(tls_refuses_a_server_whose_certificate_an_unrelated_ca_signed),
	TEST(tls_checks_the_host_name_unless_tls_insecure_is_set),
	TEST(a_refused_connection_is_logged_as_refused_with_the_broker_uri),
	TEST(an_unknown_host_is_logged_as_unknown),
	TEST(a_broker_that_never_answers_connect_is_logged_as_a_handshake_not_completed),
	TEST(a_self_signed_server_certificate_is_logged_as_such),
	TEST(a_tls_client_and_a_plain_client_work_side_by_side_on_their_own_libraries),
	TEST(a_process_with_only_plain_clients_loads_neither_openssl_nor_the_tls_library),
	TEST(a_missing_paho_library_fails_mqtt_new_with_the_reason_in_words),
	TEST(a_killed_process_leaves_its_will_offline_retained_on_the_status_topic),
	TEST(invalid_topic_names_from_the_broker_are_dropped_counted_and_survived),
	TEST(the_first_broker_of_the_list_that_answers_takes_the_connection_and_why_the_others_failed_is_logged),
	TEST(a_client_whose_broker_dies_moves_to_the_next_one_announces_there_and_comes_back),
	TEST(a_broker_entry_is_a_host_a_host_and_port_or_a_uri_whose_scheme_agrees_with_tls),
};

TU_MAIN(tests)
